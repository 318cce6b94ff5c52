//! The plain records of a host: addresses, alias, the zone's name servers and CAA.
//!
//! Each function looks at one thing and returns what it saw together with the lookups that
//! failed, keyed by record type, so that `mod.rs` can assemble the report without hiding a
//! failure as an empty list. Lists are capped: a name with a thousand addresses keeps the
//! first [`MAX_ADDRESSES`] and says so.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use canhgac_policies::report::{NameServer, ProbeError};
use futures::future::join_all;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};

use super::resolver::{Outcome, Resolvers, show};
use super::wire::{self, Flags};
use crate::net;

/// Addresses kept per name.
pub const MAX_ADDRESSES: usize = 50;
/// Name servers examined.
pub const MAX_NAME_SERVERS: usize = 13;
/// CAA records kept.
pub const MAX_CAA: usize = 50;
/// Longest CAA value shown, in bytes.
const MAX_CAA_VALUE: usize = 512;
/// Deadline of the direct SOA query to each name server.
const NS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
/// Names climbed when looking for the zone or for CAA (a DNS name has at most 127 labels).
const MAX_CLIMB: usize = 127;

/// Failures by key, as they go into the report.
pub type Errors = BTreeMap<String, ProbeError>;

/// The addresses of one type for a name, capped, with the note when records were dropped.
pub fn addresses(outcome: &Outcome, rtype: RecordType, errors: &mut Errors) -> Vec<IpAddr> {
    let all: Vec<IpAddr> = outcome
        .records()
        .iter()
        .filter_map(|r| match (&r.data, rtype) {
            (RData::A(a), RecordType::A) => Some(IpAddr::V4(a.0)),
            (RData::AAAA(a), RecordType::AAAA) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect();
    let mut unique: Vec<IpAddr> = Vec::new();
    for ip in &all {
        if !unique.contains(ip) {
            unique.push(*ip);
        }
        if unique.len() == MAX_ADDRESSES {
            break;
        }
    }
    if all.len() > MAX_ADDRESSES {
        errors.insert(
            rtype.to_string(),
            ProbeError::new(
                "too_large",
                format!(
                    "the answer has {} {rtype} records; the first {MAX_ADDRESSES} are kept",
                    all.len()
                ),
            ),
        );
    }
    unique
}

/// The CNAME target of `name`, if it is an alias.
pub fn cname_target(outcome: &Outcome, name: &Name) -> Option<Name> {
    outcome.records().iter().find_map(|r| match &r.data {
        RData::CNAME(c) if r.name.eq_ignore_root(name) => Some(c.0.clone()),
        _ => None,
    })
}

/// Whether an alias target resolves: `Some(true)` when it has neither A nor AAAA records
/// (no such name, or no data), `None` when that could not be told.
pub async fn dangling(dns: &Resolvers, target: &Name) -> (Option<bool>, Option<ProbeError>) {
    let (a, aaaa) = tokio::join!(
        dns.query(target, RecordType::A),
        dns.query(target, RecordType::AAAA)
    );
    let has = |o: &Outcome, t: RecordType| o.records().iter().any(|r| r.record_type() == t);
    match (a, aaaa) {
        (Ok(a), Ok(aaaa)) => (
            Some(!has(&a, RecordType::A) && !has(&aaaa, RecordType::AAAA)),
            None,
        ),
        (Ok(a), Err(_)) if has(&a, RecordType::A) => (Some(false), None),
        (Err(_), Ok(aaaa)) if has(&aaaa, RecordType::AAAA) => (Some(false), None),
        (Err(e), _) | (_, Err(e)) => (None, Some(e)),
    }
}

/// The closest enclosing name of `host` that has NS records (the zone apex), with them.
pub async fn zone_of(
    dns: &Resolvers,
    host: &Name,
) -> Result<Option<(Name, Vec<Name>)>, ProbeError> {
    let mut name = host.clone();
    for _ in 0..MAX_CLIMB {
        if name.is_root() {
            return Ok(None);
        }
        match dns.query(&name, RecordType::NS).await? {
            Outcome::Records(records) => {
                let servers: Vec<Name> = records
                    .iter()
                    .filter(|r| r.name.eq_ignore_root(&name))
                    .filter_map(|r| match &r.data {
                        RData::NS(ns) => Some(ns.0.clone()),
                        _ => None,
                    })
                    .collect();
                if !servers.is_empty() {
                    return Ok(Some((name, servers)));
                }
            }
            Outcome::NoData | Outcome::NxDomain => {}
        }
        name = name.base_name();
    }
    Ok(None)
}

/// Each name server of `zone`: its addresses and whether it answers for the zone with
/// authority. Errors go into `errors` under `NS <name>`.
pub async fn name_servers(
    dns: &Resolvers,
    zone: &Name,
    servers: &[Name],
    errors: &mut Errors,
) -> Vec<NameServer> {
    let mut servers: Vec<Name> = servers.to_vec();
    servers.sort_by_key(show);
    servers.dedup_by(|a, b| a.eq_ignore_root(b));
    servers.truncate(MAX_NAME_SERVERS);
    let checks = join_all(servers.iter().map(|ns| name_server(dns, zone, ns))).await;
    let mut out = Vec::new();
    for (ns, error) in checks {
        if let Some(e) = error {
            errors.insert(format!("NS {}", ns.name), e);
        }
        out.push(ns);
    }
    out
}

async fn name_server(dns: &Resolvers, zone: &Name, ns: &Name) -> (NameServer, Option<ProbeError>) {
    let mut report = NameServer {
        name: show(ns),
        addresses: Vec::new(),
        answers: None,
    };
    let mut scratch = Errors::new();
    let (a, aaaa) = tokio::join!(
        dns.query(ns, RecordType::A),
        dns.query(ns, RecordType::AAAA)
    );
    let mut ips: Vec<IpAddr> = Vec::new();
    let mut lookup_error = None;
    match a {
        Ok(o) => ips.extend(addresses(&o, RecordType::A, &mut scratch)),
        Err(e) => lookup_error = Some(e),
    }
    match aaaa {
        Ok(o) => ips.extend(addresses(&o, RecordType::AAAA, &mut scratch)),
        Err(e) => lookup_error = lookup_error.or(Some(e)),
    }
    ips.truncate(MAX_ADDRESSES);
    report.addresses = ips.iter().map(IpAddr::to_string).collect();
    if ips.is_empty() {
        let e = lookup_error.unwrap_or_else(|| {
            ProbeError::new(
                "no_address",
                format!("name server {} has no address", report.name),
            )
        });
        return (report, Some(e));
    }
    // IPv4 first (the agent may have no IPv6 route); two addresses at most.
    ips.sort_by_key(|ip| ip.is_ipv6());
    let mut last_error: Option<ProbeError> = None;
    let mut reached = false;
    for ip in ips.iter().take(2) {
        let server = SocketAddr::new(*ip, dns.ns_port);
        match authoritative_soa(server, zone, dns.timeout.min(NS_TIMEOUT)).await {
            Ok(()) => {
                report.answers = Some(true);
                return (report, None);
            }
            Err(e) => {
                // No route from here (an IPv6-only server seen from an IPv4-only agent) says
                // nothing about the server.
                reached |= e.code != "unreachable";
                last_error = Some(e);
            }
        }
    }
    report.answers = reached.then_some(false);
    (report, last_error)
}

/// Asks `server` for the zone's SOA without recursion; Ok when it answers with authority.
async fn authoritative_soa(
    server: SocketAddr,
    zone: &Name,
    timeout: std::time::Duration,
) -> Result<(), ProbeError> {
    let flags = Flags::default();
    let answer = wire::query(server, zone, RecordType::SOA, flags, timeout).await?;
    let code = answer.metadata.response_code;
    let has_soa = answer
        .answers
        .iter()
        .any(|r| r.record_type() == RecordType::SOA && r.name.eq_ignore_root(zone));
    if code == ResponseCode::NoError && answer.metadata.authoritative && has_soa {
        Ok(())
    } else if code == ResponseCode::Refused {
        Err(ProbeError::new(
            "refused",
            format!("{server} refuses queries for {}", show(zone)),
        ))
    } else if code == ResponseCode::ServFail {
        Err(ProbeError::new(
            "servfail",
            format!("{server} answers SERVFAIL for {} SOA", show(zone)),
        ))
    } else {
        Err(ProbeError::new(
            "not_authoritative",
            format!(
                "{server} answered {code} for {} SOA without authority (lame delegation)",
                show(zone)
            ),
        ))
    }
}

/// Whether HTTPS answers on one of the IPv6 addresses: TCP to `port` within the deadline.
pub async fn https_on_ipv6(
    aaaa: &[IpAddr],
    port: u16,
    timeout: std::time::Duration,
) -> (bool, Option<ProbeError>) {
    let mut last = None;
    for ip in aaaa.iter().take(3) {
        match net::connect(SocketAddr::new(*ip, port), timeout).await {
            Ok(_stream) => return (true, None),
            Err(e) => last = Some(e),
        }
    }
    (false, last)
}

/// The CAA set that applies to `host` (RFC 8659 section 3): the first name with CAA records
/// climbing from the host towards the root (the root excluded). Returns the owner and the
/// records formatted as in zone files.
pub async fn caa(dns: &Resolvers, host: &Name) -> Result<Option<(Name, Vec<String>)>, ProbeError> {
    let mut name = host.clone();
    for _ in 0..MAX_CLIMB {
        if name.is_root() {
            return Ok(None);
        }
        if let Outcome::Records(records) = dns.query(&name, RecordType::CAA).await? {
            let set: Vec<String> = records
                .iter()
                .filter_map(|r| match &r.data {
                    RData::CAA(c) => Some(format_caa(c.flags(), &c.tag, &c.value)),
                    _ => None,
                })
                .take(MAX_CAA)
                .collect();
            if !set.is_empty() {
                return Ok(Some((name, set)));
            }
        }
        name = name.base_name();
    }
    Ok(None)
}

/// Formats a CAA record like a zone file: `0 issue "letsencrypt.org"`. Quotes, backslashes
/// and unprintable bytes of the value are escaped (`\"`, `\\`, `\DDD`); the value is cut at
/// 512 bytes.
pub fn format_caa(flags: u8, tag: &str, value: &[u8]) -> String {
    let tag: String = tag
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(255)
        .collect();
    let mut out = format!("{flags} {tag} \"");
    for &b in value.iter().take(MAX_CAA_VALUE) {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    if value.len() > MAX_CAA_VALUE {
        out.push_str("...");
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn caa_is_formatted_like_a_zone_file() {
        assert_eq!(
            format_caa(0, "issue", b"letsencrypt.org"),
            "0 issue \"letsencrypt.org\""
        );
        assert_eq!(
            format_caa(128, "iodef", b"mailto:security@example.gov.vn"),
            "128 iodef \"mailto:security@example.gov.vn\""
        );
        assert_eq!(format_caa(0, "issuewild", b";"), "0 issuewild \";\"");
        assert_eq!(
            format_caa(0, "issue", b"ca.example; account=\"x\"\\\n"),
            "0 issue \"ca.example; account=\\\"x\\\"\\\\\\010\""
        );
    }

    #[test]
    fn long_caa_values_are_cut() {
        let s = format_caa(0, "issue", &[b'a'; 2000]);
        assert!(s.len() < 600);
        assert!(s.ends_with("...\""));
    }

    proptest! {
        #[test]
        fn caa_formatting_never_panics(flags: u8, tag in ".{0,300}", value in proptest::collection::vec(any::<u8>(), 0..1000)) {
            let s = format_caa(flags, &tag, &value);
            prop_assert!(s.is_ascii());
            prop_assert!(s.len() <= 4 + 255 + 4 * 512 + 10);
        }
    }
}
