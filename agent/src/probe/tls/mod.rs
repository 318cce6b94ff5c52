//! The TLS probe: protocols, cipher suites, certificate chain and its validation for one
//! endpoint.
//!
//! The plan, chosen to send as few handshakes as the classification needs:
//! 1. one modern handshake (rustls) for what a browser negotiates and for the chain;
//! 2. raw ClientHellos for TLS 1.2 and 1.3; if neither gets a TLS answer the server is not
//!    speaking TLS and the older versions are not tried (they are `null`, with the reason);
//! 3. raw ClientHellos for SSL 3.0, TLS 1.0 and 1.1;
//! 4. for every accepted version, suites are enumerated by elimination (offer all, remove the
//!    one chosen, repeat until refused: accepted + 1 hellos), then one more hello with the
//!    accepted suites reversed tells whether the server enforces its own order.
//!
//! Every connection goes through the host gate (politeness) and has a deadline; the number of
//! connections per endpoint is capped, and a cap reached leaves lists marked incomplete.

mod cert;
mod handshake;
pub mod hello;
mod suites;
mod trust;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use canhgac_policies::report::{
    ChainFacts, Ciphers, ProbeError, ProtocolCiphers, Protocols, TlsReport, Validation,
};
use futures::future::join_all;
use jiff::Timestamp;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use trust::{TrustStore, TrustStoreError};

use crate::net;
use crate::polite::HostGate;
use hello::{Answer, AnswerReader, HelloSpec, Progress, ReadError, Version};

/// Settings of the TLS probe.
#[derive(Debug, Clone)]
pub struct TlsProbeConfig {
    /// Deadline for each connection (connect, hello, answer).
    pub timeout: Duration,
    /// Roots to validate against.
    pub trust: TrustStore,
    /// The most connections one endpoint may receive from one probe run.
    pub max_connections: u32,
}

impl Default for TlsProbeConfig {
    fn default() -> Self {
        TlsProbeConfig {
            timeout: Duration::from_secs(10),
            trust: TrustStore::mozilla(),
            max_connections: 120,
        }
    }
}

/// Where to connect and which name to present and check.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Host name (or IP literal) for SNI and the certificate name check.
    pub host: String,
    /// The address to connect to.
    pub addr: SocketAddr,
}

/// Bytes accepted while waiting for a ServerHello, and while collecting a certificate chain.
const HELLO_BUDGET: usize = 64 * 1024;
const CERTIFICATE_BUDGET: usize = 256 * 1024;

struct Ctx<'a> {
    endpoint: &'a Endpoint,
    config: &'a TlsProbeConfig,
    gate: &'a HostGate,
    gate_key: String,
    connections: AtomicU32,
}

/// The outcome of offering one version.
#[derive(Debug)]
enum Offer {
    Accepted(hello::ServerHello),
    Refused(String),
    Unknown(ProbeError),
}

impl Ctx<'_> {
    fn sni(&self) -> Option<&str> {
        if self.endpoint.host.parse::<std::net::IpAddr>().is_ok() {
            None
        } else {
            Some(self.endpoint.host.as_str())
        }
    }

    fn budget_left(&self) -> bool {
        self.connections.load(Ordering::Relaxed) < self.config.max_connections
    }

    async fn exchange(
        &self,
        version: Version,
        suites: &[u16],
        want_certificate: bool,
    ) -> Result<Answer, ProbeError> {
        if self.connections.fetch_add(1, Ordering::Relaxed) >= self.config.max_connections {
            self.connections.fetch_sub(1, Ordering::Relaxed);
            return Err(ProbeError::new(
                "budget",
                format!(
                    "connection budget of {} for this endpoint spent",
                    self.config.max_connections
                ),
            ));
        }
        let _permit = self.gate.enter(&self.gate_key).await;
        let timeout = self.config.timeout;
        let spec = HelloSpec {
            version,
            suites,
            sni: self.sni(),
            status_request: true,
            random: rand::random(),
        };
        let work = async {
            let mut stream = net::connect(self.endpoint.addr, timeout).await?;
            stream
                .write_all(&hello::client_hello(&spec))
                .await
                .map_err(|e| net::io_error(&e, "sending ClientHello"))?;
            let limit = if want_certificate {
                CERTIFICATE_BUDGET
            } else {
                HELLO_BUDGET
            };
            let mut reader = AnswerReader::new(want_certificate, limit);
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = match stream.read(&mut buf).await {
                    Ok(n) => n,
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::ConnectionReset
                                | std::io::ErrorKind::ConnectionAborted
                        ) =>
                    {
                        0
                    }
                    Err(e) => return Err(net::io_error(&e, "reading the ServerHello")),
                };
                let progress = if n == 0 {
                    reader.closed().map(Progress::Done)
                } else {
                    reader.feed(&buf[..n])
                };
                match progress {
                    Ok(Progress::NeedMore) => {}
                    Ok(Progress::Done(answer)) => return Ok(answer),
                    Err(ReadError::TooLarge(limit)) => {
                        return Err(ProbeError::new(
                            "too_large",
                            format!("the server sent more than {limit} bytes in its first flight"),
                        ));
                    }
                    Err(e @ ReadError::NotTls(_)) => {
                        return Err(ProbeError::new("protocol_violation", e.to_string()));
                    }
                }
            }
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(net::timeout_error(
                &format!("{} ClientHello", version.key()),
                timeout,
            )),
        }
    }

    async fn offer(&self, version: Version, suites: &[u16], want_certificate: bool) -> Offer {
        match self.exchange(version, suites, want_certificate).await {
            Ok(Answer::Hello(h)) => {
                if h.version == version.wire() {
                    Offer::Accepted(h)
                } else {
                    Offer::Refused(format!(
                        "the server answered with version 0x{:04x}",
                        h.version
                    ))
                }
            }
            Ok(Answer::Alert { description, .. }) => Offer::Refused(format!(
                "alert {} ({description})",
                hello::alert_name(description)
            )),
            Ok(Answer::Closed) => Offer::Refused("the server closed the connection".into()),
            Err(e) => Offer::Unknown(e),
        }
    }

    /// Enumerates the suites of an accepted version by elimination, then checks the order.
    async fn enumerate(&self, version: Version, first: u16) -> ProtocolCiphers {
        let mut accepted = vec![first];
        let mut remaining: Vec<u16> = suites::offer_for(version)
            .into_iter()
            .filter(|s| *s != first)
            .collect();
        let mut complete = false;
        while !remaining.is_empty() && self.budget_left() {
            match self.offer(version, &remaining, false).await {
                Offer::Accepted(h) if remaining.contains(&h.cipher) => {
                    accepted.push(h.cipher);
                    remaining.retain(|s| *s != h.cipher);
                }
                Offer::Accepted(_) | Offer::Unknown(_) => break,
                Offer::Refused(_) => {
                    complete = true;
                    break;
                }
            }
        }
        if remaining.is_empty() {
            complete = true;
        }
        let server_order = if accepted.len() >= 2 && self.budget_left() {
            let reversed: Vec<u16> = accepted.iter().rev().copied().collect();
            match self.offer(version, &reversed, false).await {
                Offer::Accepted(h) if h.cipher == accepted[0] => Some(true),
                Offer::Accepted(h) if h.cipher == reversed[0] => Some(false),
                _ => None,
            }
        } else {
            None
        };
        ProtocolCiphers {
            suites: accepted.into_iter().map(suites::describe).collect(),
            server_order,
            complete,
        }
    }
}

/// The report for an endpoint that could not be reached at all.
pub fn unreachable(error: ProbeError, trust_store: &str, connections: u32) -> TlsReport {
    TlsReport {
        reachable: false,
        error: Some(error.clone()),
        negotiated: None,
        negotiation_error: None,
        protocols: Protocols::default(),
        protocol_errors: Version::ALL
            .iter()
            .map(|v| (v.key().to_string(), error.clone()))
            .collect(),
        protocol_evidence: BTreeMap::new(),
        ciphers: Ciphers::default(),
        certificate: None,
        chain: Vec::new(),
        chain_facts: ChainFacts::default(),
        validation: Validation::unknown("no_certificate", error.message, trust_store),
        connections,
    }
}

/// Probes one endpoint. `now` is the time certificates are judged at.
pub async fn probe(
    endpoint: &Endpoint,
    config: &TlsProbeConfig,
    gate: &HostGate,
    now: Timestamp,
) -> TlsReport {
    let ctx = Ctx {
        endpoint,
        config,
        gate,
        gate_key: endpoint.addr.ip().to_string(),
        connections: AtomicU32::new(0),
    };
    let mut report = TlsReport {
        reachable: false,
        error: None,
        negotiated: None,
        negotiation_error: None,
        protocols: Protocols::default(),
        protocol_errors: BTreeMap::new(),
        protocol_evidence: BTreeMap::new(),
        ciphers: Ciphers::default(),
        certificate: None,
        chain: Vec::new(),
        chain_facts: ChainFacts::default(),
        validation: Validation::unknown("no_certificate", "not probed", config.trust.label()),
        connections: 0,
    };

    // 1. The modern handshake, which also tells whether the port answers at all.
    ctx.connections.fetch_add(1, Ordering::Relaxed);
    let observed = {
        let _permit = gate.enter(&ctx.gate_key).await;
        let name = ServerName::try_from(endpoint.host.clone())
            .unwrap_or_else(|_| ServerName::IpAddress(endpoint.addr.ip().into()));
        handshake::observe(endpoint.addr, name, config.timeout).await
    };
    let mut chain_der: Vec<Vec<u8>> = Vec::new();
    match observed {
        Ok(o) => {
            report.reachable = true;
            report.negotiated = Some(o.negotiated);
            chain_der = o.chain;
        }
        Err(e) => {
            let unreachable = matches!(
                e.code.as_str(),
                "connection_refused" | "unreachable" | "resolve_failed"
            ) || (e.code == "timeout" && e.message.contains("no TCP connection"));
            if unreachable {
                return self::unreachable(
                    e,
                    config.trust.label(),
                    ctx.connections.load(Ordering::Relaxed),
                );
            }
            report.reachable = true;
            report.negotiation_error = Some(e);
        }
    }

    // 2. Modern versions first; without a TLS answer to either, stop.
    let need_cert = chain_der.is_empty();
    let ctx = &ctx;
    let (offer12, offer13) = (
        suites::offer_for(Version::Tls12),
        suites::offer_for(Version::Tls13),
    );
    let (tls12, tls13) = tokio::join!(
        ctx.offer(Version::Tls12, &offer12, need_cert),
        ctx.offer(Version::Tls13, &offer13, false),
    );
    let mut offers: BTreeMap<Version, Offer> = BTreeMap::new();
    let speaks_tls = !matches!((&tls12, &tls13), (Offer::Unknown(_), Offer::Unknown(_)));
    offers.insert(Version::Tls12, tls12);
    offers.insert(Version::Tls13, tls13);
    if speaks_tls {
        // 3. The legacy versions.
        let legacy = [Version::Ssl3, Version::Tls10, Version::Tls11];
        let results = join_all(legacy.iter().map(|v| {
            let want = need_cert;
            let suites = suites::offer_for(*v);
            async move { (*v, ctx.offer(*v, &suites, want).await) }
        }))
        .await;
        offers.extend(results);
    } else {
        let why = match offers.get(&Version::Tls12) {
            Some(Offer::Unknown(e)) => e.clone(),
            _ => ProbeError::new("protocol_violation", "no TLS answer"),
        };
        report.error = Some(ProbeError::new(
            why.code.clone(),
            format!(
                "the server gave no TLS answer to TLS 1.2 or 1.3 hellos; older versions not tried ({})",
                why.message
            ),
        ));
        for v in [Version::Ssl3, Version::Tls10, Version::Tls11] {
            report.protocol_errors.insert(
                v.key().into(),
                ProbeError::new("skipped", "not tried: the server does not answer TLS"),
            );
        }
    }

    // The chain from a raw hello, when the modern handshake could not get it.
    if chain_der.is_empty() {
        for v in [
            Version::Tls12,
            Version::Tls11,
            Version::Tls10,
            Version::Ssl3,
        ] {
            if let Some(Offer::Accepted(h)) = offers.get(&v)
                && !h.certificates.is_empty()
            {
                chain_der = h.certificates.clone();
                if let Some(n) = report.negotiated.as_mut() {
                    n.ocsp_stapled |= h.ocsp_stapled;
                }
                break;
            }
        }
    }

    // 4. Suites per accepted version.
    let mut firsts = Vec::new();
    for (v, offer) in &offers {
        match offer {
            Offer::Accepted(h) => {
                report.protocols.set(v.key(), Some(true));
                let kind = if h.hello_retry {
                    "HelloRetryRequest"
                } else {
                    "ServerHello"
                };
                report.protocol_evidence.insert(
                    v.key().into(),
                    format!("{kind} {}, {}", v.key(), suites::name(h.cipher)),
                );
                firsts.push((*v, h.cipher));
            }
            Offer::Refused(why) => {
                report.protocols.set(v.key(), Some(false));
                report.protocol_evidence.insert(v.key().into(), why.clone());
            }
            Offer::Unknown(e) => {
                report.protocols.set(v.key(), None);
                report.protocol_errors.insert(v.key().into(), e.clone());
            }
        }
    }
    let lists =
        join_all(firsts.iter().map(|(v, first)| async move {
            (v.key().to_string(), ctx.enumerate(*v, *first).await)
        }))
        .await;
    report.ciphers.by_protocol = lists.into_iter().collect();
    report.ciphers.weaknesses = suites::weaknesses(report.ciphers.by_protocol.values());

    // Certificates and their validation.
    let parsed: Vec<cert::Parsed> = chain_der.iter().map(|d| cert::parse(d, now)).collect();
    report.chain = parsed.iter().map(|p| p.summary.clone()).collect();
    report.certificate = parsed
        .first()
        .and_then(|p| p.detail.as_ref())
        .map(|d| d.certificate.clone());
    report.chain_facts = cert::chain_facts(&parsed);
    report.chain_facts.missing_intermediate = trust::missing_intermediate(&parsed, &config.trust);
    report.validation = if parsed.is_empty() {
        let why = report
            .negotiation_error
            .as_ref()
            .map(|e| e.message.clone())
            .unwrap_or_else(|| "the server sent no certificate".into());
        Validation::unknown("no_certificate", why, config.trust.label())
    } else {
        trust::validate(&parsed, &endpoint.host, &config.trust, now)
    };
    report.connections = ctx.connections.load(Ordering::Relaxed);
    report
}
