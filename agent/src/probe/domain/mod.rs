//! The domain probe: who the registrable domain of a host is registered with, when it was
//! registered, when it expires, and its registry statuses (a `clientHold` domain is off the
//! air whatever its servers do), from RDAP first and WHOIS as fallback.
//!
//! The plan:
//! 1. the registrable domain ([`suffix`]): `sct.dongnai.gov.vn` -> `dongnai.gov.vn`; a host
//!    with none (an IP literal, a public suffix itself) gets `not_registrable` and no traffic;
//! 2. RDAP ([`rdap`]): the bootstrap registry names the registry's service; its domain object
//!    gives the data. Any failure (no service for the TLD, 404, timeout, malformed answer)
//!    moves on to
//! 3. WHOIS ([`whois`]): one query on port 43, read until the server closes, parsed by
//!    [`parse::whois_text`].
//!
//! The report says where the data came from (`source`: `rdap` or `whois`) and, when it could
//! not be had or is partial, why (`error`). Unavailability is recorded, never read as a pass.
//! Error codes: `not_registrable`, `unavailable` (no RDAP service and no WHOIS server known),
//! `not_found` (the registry has no such domain), `timeout`, `connection_refused`,
//! `connection_reset`, `resolve_failed`, `io`, `too_large`, `http_status` (RDAP answered
//! neither 200 nor 404), `unparseable` (an answer, or a date in it, was not understood),
//! `invalid_server` (a malformed `--whois-server`). When both RDAP and WHOIS fail, the
//! message gives both reasons and the code is that of the last registry actually asked:
//! WHOIS's, or RDAP's when no WHOIS server was known (so an RDAP 404 followed by a WHOIS
//! timeout is a `timeout`: nobody finished saying the domain does not exist).

pub mod parse;
pub mod rdap;
pub mod suffix;
pub mod whois;

use std::time::Duration;

use canhgac_policies::report::{DomainReport, ProbeError};
use jiff::Timestamp;

use parse::{Registration, WhoisText};

/// Settings of the domain probe.
#[derive(Debug, Clone)]
pub struct DomainProbeConfig {
    /// The RDAP bootstrap registry: an `http(s)://` URL or a local file (IANA's `dns.json`
    /// format); `None`: the built-in copy.
    pub rdap_bootstrap: Option<String>,
    /// A WHOIS server (`host:port`) to use instead of the registry's.
    pub whois_server: Option<String>,
    /// Deadline for each request.
    pub timeout: Duration,
}

/// Looks up the registration of the domain `host` belongs to, judged at `now`.
pub async fn probe(host: &str, config: &DomainProbeConfig, now: Timestamp) -> DomainReport {
    let gov_vn = suffix::is_gov_vn(host);
    let Some(name) = suffix::registrable_domain(host) else {
        let shown = suffix::normalize(host).unwrap_or_else(|| host.to_string());
        return DomainReport {
            name: shown.clone(),
            gov_vn,
            error: Some(ProbeError::new(
                "not_registrable",
                format!(
                    "{shown} has no registrable domain (an address, a single label or a public suffix)"
                ),
            )),
            ..DomainReport::default()
        };
    };
    let mut report = DomainReport {
        name: name.clone(),
        gov_vn,
        ..DomainReport::default()
    };

    let rdap_error = match rdap::lookup(&name, config).await {
        Ok(reg) => {
            let problems = fill(&mut report, reg, "rdap", now);
            report.error = problems;
            return report;
        }
        Err(e) => e,
    };

    match whois::query(&name, config).await {
        Ok(answer) => match parse::whois_text(&answer.text) {
            WhoisText::Record(reg) => {
                let problems = fill(&mut report, reg, "whois", now);
                report.error = answer.cut_short.or(problems);
            }
            WhoisText::NotFound => {
                let whois = ProbeError::new(
                    "not_found",
                    format!("WHOIS {}: no record of {name}", answer.server),
                );
                report.error = Some(combine(&rdap_error, &whois));
            }
            WhoisText::Unrecognised => {
                let whois = answer.cut_short.unwrap_or_else(|| {
                    ProbeError::new(
                        "unparseable",
                        format!(
                            "WHOIS {}: the answer ({} bytes) has no registration field this \
                             probe knows; it begins {:?}",
                            answer.server,
                            answer.text.len(),
                            answer.text.chars().take(80).collect::<String>()
                        ),
                    )
                });
                report.error = Some(combine(&rdap_error, &whois));
            }
        },
        Err(whois) => report.error = Some(combine(&rdap_error, &whois)),
    }
    report
}

/// Copies a registration into the report; returns an `unparseable` error for its problems.
fn fill(
    report: &mut DomainReport,
    reg: Registration,
    source: &str,
    now: Timestamp,
) -> Option<ProbeError> {
    report.source = Some(source.to_string());
    report.registrar = reg.registrar;
    report.created = reg.created;
    report.expires = reg.expires;
    report.expires_in_days = reg.expires.map(|e| days_between(now, e));
    report.statuses = reg.statuses;
    report.nameservers = reg.nameservers;
    (!reg.problems.is_empty()).then(|| {
        ProbeError::new(
            "unparseable",
            format!("{}: {}", source.to_uppercase(), reg.problems.join("; ")),
        )
    })
}

/// Whole days from `now` to `then`, rounded down (negative once `then` has passed).
pub fn days_between(now: Timestamp, then: Timestamp) -> i64 {
    (then.as_second() - now.as_second()).div_euclid(86_400)
}

/// One error for "neither RDAP nor WHOIS answered" (see the module documentation).
fn combine(rdap: &ProbeError, whois: &ProbeError) -> ProbeError {
    let code = if whois.code == "unavailable" {
        &rdap.code
    } else {
        &whois.code
    };
    ProbeError::new(
        code,
        format!("RDAP: {}; WHOIS: {}", rdap.message, whois.message),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> DomainProbeConfig {
        DomainProbeConfig {
            rdap_bootstrap: None,
            whois_server: None,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn whole_days() {
        let now: Timestamp = "2026-11-02T12:00:00Z".parse().unwrap();
        let day = |s: &str| days_between(now, s.parse().unwrap());
        assert_eq!(day("2026-11-02T12:00:00Z"), 0);
        assert_eq!(day("2026-11-03T11:59:59Z"), 0);
        assert_eq!(day("2026-11-03T12:00:00Z"), 1);
        assert_eq!(day("2026-11-02T11:59:59Z"), -1);
        assert_eq!(day("2026-10-02T12:00:00Z"), -31);
    }

    #[test]
    fn combined_errors() {
        let e = |c: &str| ProbeError::new(c, c.to_uppercase());
        assert_eq!(combine(&e("not_found"), &e("timeout")).code, "timeout");
        assert_eq!(combine(&e("timeout"), &e("not_found")).code, "not_found");
        assert_eq!(
            combine(&e("not_found"), &e("unavailable")).code,
            "not_found"
        );
        assert_eq!(combine(&e("timeout"), &e("unavailable")).code, "timeout");
        assert_eq!(
            combine(&e("unavailable"), &e("unparseable")).code,
            "unparseable"
        );
        assert_eq!(
            combine(&e("unavailable"), &e("unavailable")).message,
            "RDAP: UNAVAILABLE; WHOIS: UNAVAILABLE"
        );
    }

    /// With the built-in data, a `.vn` name has neither RDAP nor WHOIS: the probe says so,
    /// without sending anything.
    #[tokio::test]
    async fn vn_without_servers_is_unavailable() {
        let r = probe("sct.dongnai.gov.vn", &config(), Timestamp::now()).await;
        assert_eq!(r.name, "dongnai.gov.vn");
        assert!(r.gov_vn);
        assert_eq!(r.source, None);
        assert_eq!(r.expires_in_days, None);
        let e = r.error.unwrap();
        assert_eq!(e.code, "unavailable");
        assert!(
            e.message.contains("RDAP: ") && e.message.contains("WHOIS: "),
            "{}",
            e.message
        );
    }

    #[tokio::test]
    async fn no_registrable_domain() {
        for host in ["gov.vn", "localhost", "192.0.2.1"] {
            let r = probe(host, &config(), Timestamp::now()).await;
            assert_eq!(r.error.unwrap().code, "not_registrable", "{host}");
            assert_eq!(r.source, None);
        }
        assert!(probe("gov.vn", &config(), Timestamp::now()).await.gov_vn);
    }
}
