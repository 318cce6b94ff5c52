//! The DNS probe: addresses, aliases, name servers, CAA, mail records and DNSSEC of a host.
//!
//! It asks the configured resolver (`--resolver`, else the system's) what the rest of the
//! internet sees, and reports observations only: the records, whether they work (HTTPS over
//! IPv6, name servers answering with authority, STARTTLS on the mail exchangers), and the
//! DNSSEC status with its reason. Every failed lookup is recorded in `errors` under its record
//! type, never turned into an empty pass; lists are capped; every query and connection has the
//! configured deadline.
//!
//! The order: the host's A, AAAA, CNAME, CAA and zone (the closest name with NS records) in
//! parallel; then the mail domain; then, in parallel, the name servers' authority check, the
//! mail checks (MX and STARTTLS, SPF with its includes, DMARC, MTA-STS, TLS-RPT) and DNSSEC.
//! A resolver that answers none of the first queries in time is not asked the rest.
//!
//! The mail domain is the host itself when it has MX records; otherwise its ancestors up to
//! the zone apex are tried, and the first with MX records is used (`www.example.gov.vn` has
//! the mail of `example.gov.vn`); failing that, the first with an SPF record; failing that,
//! the host. The zone apex stands in for the registrable domain, so the probe never climbs
//! into a public suffix such as `gov.vn`. DMARC is read at `_dmarc.<mail domain>`, falling
//! back to `_dmarc.<zone apex>` (the organizational domain of RFC 7489 section 6.6.3).

mod dmarc;
mod dnssec;
mod mx;
mod records;
mod resolver;
mod spf;
mod wire;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use canhgac_policies::report::{DnsReport, ProbeError};
use hickory_resolver::proto::rr::{Name, RData, RecordType};

use crate::probe::tls::TrustStore;
use records::Errors;
use resolver::{Outcome, Resolvers, fqdn, show};

/// Settings of the DNS probe.
#[derive(Debug, Clone)]
pub struct DnsProbeConfig {
    /// The resolver to ask (`None`: the system's, from /etc/resolv.conf).
    pub resolver: Option<SocketAddr>,
    /// Deadline for each query and connection.
    pub timeout: Duration,
    /// DNSSEC trust anchors (a file of DNSKEY/DS records); `None`: the IANA root anchors.
    pub trust_anchor: Option<PathBuf>,
    /// The port on which HTTPS is tried over IPv6 (the target's port).
    pub https_port: u16,
    /// The SMTP port tried on each mail exchanger (25; tests use another).
    pub smtp_port: u16,
    /// Roots for validating mail exchangers' certificates.
    pub trust: TrustStore,
}

/// Longest TXT value kept for MTA-STS and TLS-RPT, in bytes.
const MAX_TXT: usize = 1024;
/// TXT strings of one name looked at.
const MAX_TXTS: usize = 50;

/// Probes the DNS of `host`.
pub async fn probe(host: &str, config: &DnsProbeConfig) -> DnsReport {
    let mut report = DnsReport {
        resolver: config
            .resolver
            .map(|a| a.to_string())
            .unwrap_or_else(|| "system".into()),
        dnssec: "unknown".into(),
        ..DnsReport::default()
    };
    let name = match fqdn(host) {
        Ok(n) => n,
        Err(e) => {
            report.dnssec_detail = Some(e.message.clone());
            report.errors.insert("name".into(), e);
            return report;
        }
    };
    let dns = match Resolvers::new(config.resolver, config.timeout) {
        Ok(d) => d,
        Err(e) => {
            report.dnssec_detail = Some(e.message.clone());
            report.errors.insert("resolver".into(), e);
            return report;
        }
    };
    report.resolver = dns.label.clone();
    let mut errors = Errors::new();

    // 1. The host's own records and its zone.
    let (a, aaaa, cname, zone, caa) = tokio::join!(
        dns.query(&name, RecordType::A),
        dns.query(&name, RecordType::AAAA),
        dns.query(&name, RecordType::CNAME),
        records::zone_of(&dns, &name),
        records::caa(&dns, &name),
    );
    match a {
        Ok(o) => {
            note_nxdomain(&o, &name, RecordType::A, &mut errors);
            report.a = records::addresses(&o, RecordType::A, &mut errors)
                .iter()
                .map(IpAddr::to_string)
                .collect();
        }
        Err(e) => {
            errors.insert("A".into(), e);
        }
    }
    let aaaa: Option<Vec<IpAddr>> = match aaaa {
        Ok(o) => {
            note_nxdomain(&o, &name, RecordType::AAAA, &mut errors);
            Some(records::addresses(&o, RecordType::AAAA, &mut errors))
        }
        Err(e) => {
            errors.insert("AAAA".into(), e);
            None
        }
    };
    if let Some(v6) = &aaaa {
        report.aaaa = v6.iter().map(IpAddr::to_string).collect();
    }
    let cname_target = match cname {
        Ok(o) => records::cname_target(&o, &name),
        Err(e) => {
            errors.insert("CNAME".into(), e);
            None
        }
    };
    let zone = match zone {
        Ok(z) => z,
        Err(e) => {
            errors.insert("NS".into(), e);
            None
        }
    };
    match caa {
        Ok(Some((_, set))) => report.caa = set,
        Ok(None) => {}
        Err(e) => {
            errors.insert("CAA".into(), e);
        }
    }
    if zone.is_none() && !errors.contains_key("NS") {
        errors.insert(
            "NS".into(),
            ProbeError::new(
                "no_zone",
                format!("no name above {} has NS records", show(&name)),
            ),
        );
    }
    let apex = zone.as_ref().map(|(z, _)| z.clone());

    // A resolver that answered none of the first queries in time is not asked the dozens more.
    let silent = ["A", "AAAA", "NS"]
        .iter()
        .all(|k| errors.get(*k).is_some_and(|e| e.code == "timeout"));
    if silent {
        report.dnssec_detail = Some(format!(
            "timeout: the resolver {} answered none of the queries for {}",
            dns.label,
            show(&name)
        ));
        report.errors = errors;
        return report;
    }

    // 2. The mail domain.
    let mail = mail_domain(&dns, &name, apex.as_ref(), &mut errors).await;

    // 3. Everything that builds on those, in parallel.
    let ipv6 = async {
        match &aaaa {
            None => (None, None),
            Some(v6) if v6.is_empty() => (Some(false), None),
            Some(v6) => {
                let (ok, e) = records::https_on_ipv6(v6, config.https_port, config.timeout).await;
                // No IPv6 route from the agent itself decides nothing about the site.
                let undecided = !ok && e.as_ref().is_some_and(|e| e.code == "unreachable");
                ((!undecided).then_some(ok), e)
            }
        }
    };
    let dangling = async {
        match &cname_target {
            Some(t) => records::dangling(&dns, t).await,
            None => (None, None),
        }
    };
    let name_servers = async {
        let mut errs = Errors::new();
        let list = match &zone {
            Some((z, servers)) => records::name_servers(&dns, z, servers, &mut errs).await,
            None => Vec::new(),
        };
        (list, errs)
    };
    let mail_checks = mail_records(&dns, &mail, apex.as_ref(), config);
    let dnssec = dnssec::check(&dns, config.trust_anchor.as_deref(), &name, apex.as_ref());
    let ((ipv6, ipv6_error), (dangling, dangling_error), (ns, ns_errors), mail_report, verdict) =
        tokio::join!(ipv6, dangling, name_servers, mail_checks, dnssec);

    report.ipv6 = ipv6;
    if let Some(e) = ipv6_error {
        errors.insert("IPv6".into(), e);
    }
    report.cname = cname_target.as_ref().map(show);
    report.cname_dangling = dangling;
    if let Some(e) = dangling_error {
        errors.insert("CNAME target".into(), e);
    }
    report.ns = ns;
    errors.extend(ns_errors);
    report.mx = mail_report.mx;
    report.spf = mail_report.spf;
    report.dmarc = mail_report.dmarc;
    report.mta_sts = mail_report.mta_sts;
    report.tls_rpt = mail_report.tls_rpt;
    errors.extend(mail_report.errors);
    report.dnssec = verdict.status.into();
    report.dnssec_detail = verdict.detail;
    report.errors = errors;
    report
}

fn note_nxdomain(o: &Outcome, name: &Name, rtype: RecordType, errors: &mut Errors) {
    if matches!(o, Outcome::NxDomain) {
        errors.insert(
            rtype.to_string(),
            ProbeError::new("nxdomain", format!("{}: no such name", show(name))),
        );
    }
}

/// The name whose mail records apply, with its MX records and TXT strings already fetched.
struct MailDomain {
    name: Name,
    mx: Vec<(u16, Name)>,
    txts: Vec<String>,
}

fn txt_strings(o: &Outcome) -> Vec<String> {
    o.records()
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(t) => Some(
                t.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<String>(),
            ),
            _ => None,
        })
        .take(MAX_TXTS)
        .collect()
}

async fn mail_domain(
    dns: &Resolvers,
    host: &Name,
    apex: Option<&Name>,
    errors: &mut Errors,
) -> MailDomain {
    let mut candidates = vec![host.clone()];
    if let Some(apex) = apex
        && apex.zone_of(host)
    {
        let mut n = host.clone();
        while n.num_labels() > apex.num_labels() {
            n = n.base_name();
            candidates.push(n.clone());
        }
    }
    let mut first_spf: Option<MailDomain> = None;
    let mut host_domain: Option<MailDomain> = None;
    for (i, candidate) in candidates.iter().enumerate() {
        let (mx, txt) = tokio::join!(
            dns.query(candidate, RecordType::MX),
            dns.query(candidate, RecordType::TXT)
        );
        let mx = match mx {
            Ok(o) => mx::exchangers(o.records()),
            Err(e) => {
                if i == 0 {
                    errors.insert("MX".into(), e);
                }
                Vec::new()
            }
        };
        let txts = match txt {
            Ok(o) => txt_strings(&o),
            Err(e) => {
                if i == 0 {
                    errors.insert("TXT".into(), e);
                }
                Vec::new()
            }
        };
        let has_spf = txts.iter().any(|t| spf::is_spf(t));
        let domain = MailDomain {
            name: candidate.clone(),
            mx,
            txts,
        };
        if !domain.mx.is_empty() {
            if i > 0 {
                // The host's own MX/TXT failures do not matter once a parent has the mail.
                errors.remove("MX");
                errors.remove("TXT");
            }
            return domain;
        }
        if i == 0 {
            if has_spf {
                first_spf = Some(domain);
            } else {
                host_domain = Some(domain);
            }
        } else if has_spf && first_spf.is_none() {
            first_spf = Some(domain);
        }
    }
    first_spf.or(host_domain).unwrap_or(MailDomain {
        name: host.clone(),
        mx: Vec::new(),
        txts: Vec::new(),
    })
}

/// The mail part of the report.
#[derive(Default)]
struct MailReport {
    mx: Vec<canhgac_policies::report::MailExchanger>,
    spf: Option<canhgac_policies::report::Spf>,
    dmarc: Option<canhgac_policies::report::Dmarc>,
    mta_sts: Option<String>,
    tls_rpt: Option<String>,
    errors: Errors,
}

async fn mail_records(
    dns: &Resolvers,
    mail: &MailDomain,
    apex: Option<&Name>,
    config: &DnsProbeConfig,
) -> MailReport {
    let mut out = MailReport::default();
    let prefixed = |label: &str| -> Option<Name> {
        Name::from_ascii(label).ok()?.append_domain(&mail.name).ok()
    };
    let spf_deadline = Instant::now() + config.timeout.saturating_mul(4);
    let fetch_txt = |domain: String| async move {
        let n = fqdn(&domain)?;
        dns.query(&n, RecordType::TXT)
            .await
            .map(|o| txt_strings(&o))
    };
    let txt_at = |name: Option<Name>| async move {
        match name {
            Some(n) => dns
                .query(&n, RecordType::TXT)
                .await
                .map(|o| txt_strings(&o)),
            None => Ok(Vec::new()),
        }
    };
    let (mx, spf, dmarc, sts, rpt) = tokio::join!(
        mx::check_all(dns, &mail.mx, config.smtp_port, &config.trust),
        spf::evaluate(&mail.txts, fetch_txt, spf_deadline),
        txt_at(prefixed("_dmarc")),
        txt_at(prefixed("_mta-sts")),
        txt_at(prefixed("_smtp._tls")),
    );
    out.mx = mx;
    out.spf = spf;
    match dmarc {
        Ok(txts) => out.dmarc = dmarc::from_txts(&txts),
        Err(e) => {
            out.errors.insert("DMARC".into(), e);
        }
    }
    if out.dmarc.is_none()
        && !out.errors.contains_key("DMARC")
        && let Some(apex) = apex
        && *apex != mail.name
    {
        let org = Name::from_ascii("_dmarc")
            .ok()
            .and_then(|l| l.append_domain(apex).ok());
        match txt_at(org).await {
            Ok(txts) => out.dmarc = dmarc::from_txts(&txts),
            Err(e) => {
                out.errors.insert("DMARC".into(), e);
            }
        }
    }
    match sts {
        Ok(txts) => out.mta_sts = pick(&txts, "v=STSv1"),
        Err(e) => {
            out.errors.insert("MTA-STS".into(), e);
        }
    }
    match rpt {
        Ok(txts) => out.tls_rpt = pick(&txts, "v=TLSRPTv1"),
        Err(e) => {
            out.errors.insert("TLS-RPT".into(), e);
        }
    }
    out
}

/// The TXT string with the version tag (else the first one), cut to a bounded length.
fn pick(txts: &[String], version: &str) -> Option<String> {
    let chosen = txts
        .iter()
        .find(|t| t.trim_start().starts_with(version))
        .or_else(|| txts.first())?;
    let mut s = chosen.clone();
    if s.len() > MAX_TXT {
        let mut cut = MAX_TXT;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    Some(s)
}

/// Resolves `host` to its addresses through the configured resolver (used by the scanner when
/// `--resolver` is given, so that no lookup goes anywhere else).
pub async fn lookup_addresses(
    resolver: SocketAddr,
    host: &str,
    timeout: Duration,
) -> Result<Vec<IpAddr>, ProbeError> {
    let resolvers = Resolvers::new(Some(resolver), timeout)?;
    let name = fqdn(host)?;
    let mut addrs = Vec::new();
    for rtype in [RecordType::A, RecordType::AAAA] {
        if let Ok(outcome) = resolvers.query(&name, rtype).await {
            addrs.extend(outcome.records().iter().filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            }));
        }
    }
    if addrs.is_empty() {
        return Err(ProbeError::new(
            "resolve_failed",
            format!("{host} has no address at {resolver}"),
        ));
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pick_prefers_the_versioned_record() {
        let txts = vec!["junk".to_string(), "v=STSv1; id=2026".to_string()];
        assert_eq!(pick(&txts, "v=STSv1").as_deref(), Some("v=STSv1; id=2026"));
        assert_eq!(pick(&txts[..1], "v=STSv1").as_deref(), Some("junk"));
        assert_eq!(pick(&[], "v=STSv1"), None);
        let long = "é".repeat(2000);
        assert!(pick(&[long], "v=").unwrap().len() <= MAX_TXT);
    }

    #[tokio::test]
    async fn an_invalid_name_is_reported_not_panicked() {
        let config = DnsProbeConfig {
            resolver: Some("127.0.0.1:9".parse().unwrap()),
            timeout: Duration::from_millis(200),
            trust_anchor: None,
            https_port: 443,
            smtp_port: 25,
            trust: TrustStore::mozilla(),
        };
        let report = probe("bad name with spaces..", &config).await;
        assert!(report.errors.contains_key("name"));
        assert_eq!(report.dnssec, "unknown");
    }

    #[tokio::test]
    async fn a_silent_resolver_gives_errors_not_a_pass() {
        // A loopback UDP socket that never answers: every query times out.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let config = DnsProbeConfig {
            resolver: Some(silent.local_addr().unwrap()),
            timeout: Duration::from_millis(300),
            trust_anchor: None,
            https_port: 443,
            smtp_port: 25,
            trust: TrustStore::mozilla(),
        };
        let started = Instant::now();
        let report = probe("www.example.gov.vn", &config).await;
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{:?}",
            started.elapsed()
        );
        assert!(report.a.is_empty());
        assert!(report.errors.contains_key("A"), "{:?}", report.errors);
        assert_eq!(report.ipv6, None);
        assert_eq!(report.dnssec, "unknown");
        assert!(report.dnssec_detail.is_some());
        assert!(report.spf.is_none());
    }
}
