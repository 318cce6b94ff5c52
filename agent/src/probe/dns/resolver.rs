//! The resolvers the DNS probe asks, and the translation of their failures into report errors.
//!
//! Two hickory resolvers share one configuration (the `--resolver` address over UDP and TCP, or
//! the system's): a plain one for the records, and a validating one that only the DNSSEC verdict
//! uses, so that a bogus zone still has its records reported. Every lookup runs under the
//! probe's per-query deadline, on top of hickory's own, and answers are reduced to what the
//! probe needs: the records, "no data", or "no such name", everything else being an error with
//! a short code (`timeout`, `servfail`, `refused`, `nxdomain`, `bogus`...).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use canhgac_policies::report::ProbeError;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::dnssec::TrustAnchors;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, Record, RecordType};
use hickory_resolver::{ResolverBuilder, TokioResolver};

/// How a query ended, when it did not fail.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The answer section (CNAMEs followed are included).
    Records(Vec<Record>),
    /// The name exists without records of this type.
    NoData,
    /// The name does not exist.
    NxDomain,
}

impl Outcome {
    /// The records, or none.
    pub fn records(&self) -> &[Record] {
        match self {
            Outcome::Records(r) => r,
            _ => &[],
        }
    }
}

/// Where queries go and how long they may take.
pub struct Resolvers {
    /// Plain (non-validating) lookups.
    pub plain: TokioResolver,
    /// The server(s) raw queries go to (the same as the resolvers').
    pub servers: Vec<SocketAddr>,
    /// `system` or the address given.
    pub label: String,
    /// Deadline of one query.
    pub timeout: Duration,
    /// The port a zone's name servers are asked on (53, or the override's port for tests).
    pub ns_port: u16,
    config: ResolverConfig,
    options: ResolverOpts,
}

impl Resolvers {
    /// Builds the resolvers for an override address or the system configuration.
    pub fn new(over: Option<SocketAddr>, timeout: Duration) -> Result<Resolvers, ProbeError> {
        let (config, base, label, ns_port) = match over {
            Some(addr) => {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut ns.connections {
                    c.port = addr.port();
                }
                (
                    ResolverConfig::from_name_servers(vec![ns]),
                    ResolverOpts::default(),
                    addr.to_string(),
                    addr.port(),
                )
            }
            None => {
                let (config, options) =
                    hickory_resolver::system_conf::read_system_conf().map_err(|e| {
                        ProbeError::new(
                            "resolver",
                            format!("cannot read the system resolver configuration: {e}"),
                        )
                    })?;
                (config, options, "system".to_string(), 53)
            }
        };
        let servers: Vec<SocketAddr> = config
            .name_servers
            .iter()
            .map(|ns| {
                let port = ns
                    .connections
                    .first()
                    .map(|c: &ConnectionConfig| c.port)
                    .unwrap_or(53);
                SocketAddr::new(ns.ip, port)
            })
            .collect();
        if servers.is_empty() {
            return Err(ProbeError::new(
                "resolver",
                "no name server is configured for the system resolver",
            ));
        }
        let options = options_for(base, timeout);
        let plain = build(config.clone(), options.clone(), None)?;
        Ok(Resolvers {
            plain,
            servers,
            label,
            timeout,
            ns_port,
            config,
            options,
        })
    }

    /// A validating resolver over the same servers, trusting `anchors`.
    pub fn validating(&self, anchors: Arc<TrustAnchors>) -> Result<TokioResolver, ProbeError> {
        let mut options = self.options.clone();
        options.validate = true;
        build(self.config.clone(), options, Some(anchors))
    }

    /// Queries `name` for `rtype` with the plain resolver.
    pub async fn query(&self, name: &Name, rtype: RecordType) -> Result<Outcome, ProbeError> {
        query_with(&self.plain, name, rtype, self.timeout).await
    }
}

fn options_for(mut options: ResolverOpts, timeout: Duration) -> ResolverOpts {
    // One try per server, within the probe's deadline: the probe reports slow servers rather
    // than hiding them behind retries.
    options.timeout = timeout;
    options.attempts = 1;
    options.ndots = 0;
    options.use_hosts_file = ResolveHosts::Never;
    options.preserve_intermediates = true;
    options.try_tcp_on_error = true;
    options.edns0 = true;
    options.validate = false;
    options.cache_size = 256;
    options
}

fn build(
    config: ResolverConfig,
    options: ResolverOpts,
    anchors: Option<Arc<TrustAnchors>>,
) -> Result<TokioResolver, ProbeError> {
    let mut builder: ResolverBuilder<TokioRuntimeProvider> =
        TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(options);
    if let Some(a) = anchors {
        builder = builder.with_trust_anchor(a);
    }
    builder
        .build()
        .map_err(|e| ProbeError::new("resolver", format!("cannot build the resolver: {e}")))
}

/// Queries with a given resolver under the deadline.
pub async fn query_with(
    resolver: &TokioResolver,
    name: &Name,
    rtype: RecordType,
    timeout: Duration,
) -> Result<Outcome, ProbeError> {
    // Generous outer bound: hickory may try UDP then TCP, each within `timeout`.
    let outer = timeout.saturating_mul(2);
    match tokio::time::timeout(outer, resolver.lookup(name.clone(), rtype)).await {
        Err(_) => Err(ProbeError::new(
            "timeout",
            format!("{rtype} {name}: no answer within {outer:?}"),
        )),
        Ok(Ok(lookup)) => Ok(Outcome::Records(lookup.answers().to_vec())),
        Ok(Err(e)) => classify(&e, name, rtype),
    }
}

/// Maps a hickory failure to an outcome or a report error.
pub fn classify(e: &NetError, name: &Name, rtype: RecordType) -> Result<Outcome, ProbeError> {
    if e.is_nx_domain() {
        return Ok(Outcome::NxDomain);
    }
    if e.is_no_records_found() {
        return Ok(Outcome::NoData);
    }
    Err(to_probe_error(e, name, rtype))
}

/// A report error for a hickory failure.
pub fn to_probe_error(e: &NetError, name: &Name, rtype: RecordType) -> ProbeError {
    let code = match e {
        NetError::Timeout => "timeout",
        NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail)) => "servfail",
        NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)) => "refused",
        NetError::Dns(DnsError::ResponseCode(ResponseCode::NXDomain)) => "nxdomain",
        NetError::Dns(DnsError::ResponseCode(_)) => "rcode",
        NetError::Dns(DnsError::DnssecBogus) => "bogus",
        NetError::Dns(_) => "dns",
        NetError::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection_refused",
            std::io::ErrorKind::TimedOut => "timeout",
            _ => "io",
        },
        NetError::NoConnections => "unreachable",
        NetError::Proto(_) => "protocol_violation",
        NetError::Truncated => "truncated",
        _ => "resolve_failed",
    };
    ProbeError::new(code, format!("{rtype} {name}: {e}"))
}

/// The fully qualified name for a host as typed (lower-case, trailing dot).
pub fn fqdn(host: &str) -> Result<Name, ProbeError> {
    let trimmed = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let mut name = Name::from_ascii(&trimmed)
        .map_err(|e| ProbeError::new("invalid_name", format!("{host:?} is not a DNS name: {e}")))?;
    name.set_fqdn(true);
    Ok(name)
}

/// A name as shown in reports: lower-case, without the trailing dot.
pub fn show(name: &Name) -> String {
    let s = name.to_ascii().to_ascii_lowercase();
    match s.strip_suffix('.') {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => s,
    }
}
