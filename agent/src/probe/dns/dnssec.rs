//! DNSSEC: whether the host's answer validates, and if not, why.
//!
//! The verdict comes from hickory's validating resolver (trust anchors: IANA's root keys, or a
//! file of DNSKEY records for tests and private roots): the host's A record (else AAAA, else
//! the zone's SOA) is looked up, and the proof attached to it gives `valid` (secure),
//! `unsigned` (provably insecure: no DS at some delegation), `bogus`, or `unknown` (no answer,
//! SERVFAIL, an indeterminate proof).
//!
//! hickory keeps the reason of a bogus proof to itself, and "bogus" alone is a known complaint
//! against other scanners, so the probe then looks for the reason with raw queries (DO and CD
//! bits set, so that a validating upstream resolver hands the data over instead of SERVFAIL):
//! it checks the answer's RRSIGs (present, within their validity period, verifying with the
//! zone's keys), then each zone up the chain (DNSKEY present, DS at the parent matching one of
//! them, the DNSKEY set's own signature), up to the root or a trust anchor. The first findings
//! make `dnssec_detail`, beginning with a short phrase: `bad signature`, `expired signature`,
//! `signature not yet valid`, `missing signature`, `DS mismatch`, `missing DNSKEY`,
//! `missing DS`, `not signed`, `SERVFAIL`, `timeout`... The same checks let a SERVFAIL from a
//! validating upstream resolver be reported as `bogus` with its cause when one is found.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use canhgac_policies::report::ProbeError;
use hickory_resolver::proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS, RRSIG};
use hickory_resolver::proto::dnssec::{Proof, TrustAnchors, Verifier};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};
use jiff::Timestamp;

use super::resolver::{Outcome, Resolvers, query_with, show};
use super::wire::{self, Flags};

/// Zones examined at most when looking for the cause.
const MAX_CHAIN: usize = 12;
/// Findings kept in the detail.
const MAX_FINDINGS: usize = 3;
/// Records and signatures looked at per RRset.
const MAX_RECORDS: usize = 64;
const MAX_SIGS: usize = 8;

/// The verdict and its explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `valid`, `unsigned`, `bogus` or `unknown`.
    pub status: &'static str,
    /// Why, when not `valid`.
    pub detail: Option<String>,
}

impl Verdict {
    fn new(status: &'static str, detail: impl Into<String>) -> Self {
        Verdict {
            status,
            detail: Some(detail.into()),
        }
    }
}

/// What kind of finding: whether it explains a bogus answer or an insecure one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bogus,
    Insecure,
}

#[derive(Debug, Clone)]
struct Finding {
    kind: Kind,
    text: String,
}

fn bogus(text: String) -> Finding {
    Finding {
        kind: Kind::Bogus,
        text,
    }
}

/// Loads the trust anchors: the file's DNSKEY records, or IANA's root keys.
pub fn anchors(path: Option<&Path>) -> Result<TrustAnchors, String> {
    match path {
        None => Ok(TrustAnchors::default()),
        Some(p) => {
            let a = TrustAnchors::from_file(p)
                .map_err(|e| format!("cannot read the trust anchor file {}: {e}", p.display()))?;
            Ok(a)
        }
    }
}

/// Decides the DNSSEC status of `host`, whose zone apex is `zone` when known.
pub async fn check(
    dns: &Resolvers,
    anchor_file: Option<&Path>,
    host: &Name,
    zone: Option<&Name>,
) -> Verdict {
    let anchors = match anchors(anchor_file) {
        Ok(a) => Arc::new(a),
        Err(e) => return Verdict::new("unknown", e),
    };
    let validating = match dns.validating(anchors.clone()) {
        Ok(r) => r,
        Err(e) => return Verdict::new("unknown", e.message),
    };
    // Validation chases DS and DNSKEY records up to the anchor: allow several round trips.
    let timeout = dns.timeout.saturating_mul(3);
    let mut targets = vec![
        (host.clone(), RecordType::A),
        (host.clone(), RecordType::AAAA),
    ];
    if let Some(z) = zone {
        targets.push((z.clone(), RecordType::SOA));
    }
    let mut failure: Option<ProbeError> = None;
    let mut answered: Option<(Name, RecordType, Vec<Record>)> = None;
    for (name, rtype) in &targets {
        match query_with(&validating, name, *rtype, timeout).await {
            Ok(Outcome::Records(records)) if !records.is_empty() => {
                answered = Some((name.clone(), *rtype, records));
                break;
            }
            Ok(_) => continue,
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let chain = Chain {
        servers: &dns.servers,
        timeout: dns.timeout,
        now: now(),
        anchors: &anchors,
    };
    let probe_zone = zone.cloned().unwrap_or_else(|| host.base_name());
    if let Some((name, rtype, records)) = answered {
        let proofs: Vec<Proof> = records
            .iter()
            .filter(|r| r.record_type() != RecordType::RRSIG)
            .map(|r| r.proof)
            .collect();
        if proofs.iter().all(|p| *p == Proof::Secure) {
            return Verdict {
                status: "valid",
                detail: None,
            };
        }
        if proofs.contains(&Proof::Bogus) {
            let findings = chain.diagnose(&name, rtype, &probe_zone).await;
            return Verdict::new("bogus", explain_bogus(&findings, None));
        }
        if proofs.contains(&Proof::Insecure) {
            let findings = chain.diagnose(&name, rtype, &probe_zone).await;
            return Verdict::new("unsigned", explain_insecure(&findings, &probe_zone));
        }
        return Verdict::new(
            "unknown",
            "indeterminate: the validator could not build or refute a chain of trust",
        );
    }
    let Some(error) = failure else {
        return Verdict::new(
            "unknown",
            format!(
                "no answer to validate: {} has no A or AAAA records and its zone is unknown",
                show(host)
            ),
        );
    };
    let (name, rtype) = targets[0].clone();
    let findings = chain.diagnose(&name, rtype, &probe_zone).await;
    match error.code.as_str() {
        "bogus" => Verdict::new("bogus", explain_bogus(&findings, None)),
        "servfail" if findings.iter().any(|f| f.kind == Kind::Bogus) => Verdict::new(
            "bogus",
            explain_bogus(&findings, Some("SERVFAIL from the resolver")),
        ),
        "servfail" => Verdict::new(
            "unknown",
            format!(
                "SERVFAIL: the resolver could not answer, and no DNSSEC error was found with checking disabled ({})",
                error.message
            ),
        ),
        "timeout" => Verdict::new("unknown", format!("timeout: {}", error.message)),
        _ => Verdict::new("unknown", format!("{}: {}", error.code, error.message)),
    }
}

fn explain_bogus(findings: &[Finding], prefix: Option<&str>) -> String {
    let texts: Vec<&str> = findings
        .iter()
        .filter(|f| f.kind == Kind::Bogus)
        .map(|f| f.text.as_str())
        .take(MAX_FINDINGS)
        .collect();
    let body = if texts.is_empty() {
        "the answer fails validation, and the cause was not found by the probe's own checks"
            .to_string()
    } else {
        texts.join("; ")
    };
    match prefix {
        Some(p) => format!("{body} ({p}; found with checking disabled)"),
        None => body,
    }
}

fn explain_insecure(findings: &[Finding], zone: &Name) -> String {
    findings
        .iter()
        .find(|f| f.kind == Kind::Insecure)
        .map(|f| f.text.clone())
        .unwrap_or_else(|| {
            format!(
                "not signed: no chain of trust reaches {} (an ancestor zone is unsigned)",
                show(zone)
            )
        })
}

fn now() -> u32 {
    // RRSIG times are 32-bit serial numbers of seconds (RFC 4034 3.1.5).
    Timestamp::now().as_second() as u32
}

/// `a` is later than `b` in serial number arithmetic.
fn later(a: u32, b: u32) -> bool {
    a != b && (a.wrapping_sub(b) as i32) > 0
}

fn when(t: u32) -> String {
    Timestamp::from_second(i64::from(t))
        .map(|t| t.to_string())
        .unwrap_or_else(|_| t.to_string())
}

/// One RRset as served, with its signatures.
#[derive(Debug, Default)]
struct Rrset {
    records: Vec<Record>,
    sigs: Vec<RRSIG>,
    code: Option<ResponseCode>,
}

struct Chain<'a> {
    servers: &'a [SocketAddr],
    timeout: Duration,
    now: u32,
    anchors: &'a TrustAnchors,
}

impl Chain<'_> {
    async fn fetch(&self, name: &Name, rtype: RecordType) -> Result<Rrset, ProbeError> {
        let flags = Flags {
            recursion: true,
            dnssec_ok: true,
            checking_disabled: true,
        };
        let mut last = None;
        for server in self.servers.iter().take(2) {
            match wire::query(*server, name, rtype, flags, self.timeout).await {
                Ok(m) => {
                    let mut out = Rrset {
                        code: Some(m.metadata.response_code),
                        ..Rrset::default()
                    };
                    for r in m.answers.iter() {
                        if !r.name.eq_ignore_root(name) {
                            continue;
                        }
                        match &r.data {
                            RData::DNSSEC(DNSSECRData::RRSIG(sig))
                                if sig.input().type_covered == rtype
                                    && out.sigs.len() < MAX_SIGS =>
                            {
                                out.sigs.push(sig.clone());
                            }
                            _ if r.record_type() == rtype && out.records.len() < MAX_RECORDS => {
                                out.records.push(r.clone());
                            }
                            _ => {}
                        }
                    }
                    return Ok(out);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| ProbeError::new("resolver", "no resolver to ask")))
    }

    /// Checks the signatures of an RRset against `keys`; the reason when none verifies.
    fn verify(
        &self,
        name: &Name,
        rtype: RecordType,
        set: &Rrset,
        keys: &[DNSKEY],
    ) -> Result<(), String> {
        let what = format!("{} {rtype}", show(name));
        if set.sigs.is_empty() {
            return Err(format!("missing signature: no RRSIG over {what}"));
        }
        let mut reasons = Vec::new();
        for sig in &set.sigs {
            let input = sig.input();
            let tag = input.key_tag;
            let candidates: Vec<&DNSKEY> = keys
                .iter()
                .filter(|k| k.algorithm() == input.algorithm)
                .filter(|k| k.calculate_key_tag().is_ok_and(|t| t == tag))
                .take(4)
                .collect();
            if candidates.is_empty() {
                reasons.push(format!(
                    "missing DNSKEY: the RRSIG over {what} is made with key tag {tag} ({}), which {} does not publish",
                    input.algorithm,
                    show(&input.signer_name)
                ));
                continue;
            }
            let expiration = input.sig_expiration.get();
            let inception = input.sig_inception.get();
            if later(self.now, expiration) {
                reasons.push(format!(
                    "expired signature: the RRSIG over {what} (key tag {tag}) expired at {}",
                    when(expiration)
                ));
                continue;
            }
            if later(inception, self.now) {
                reasons.push(format!(
                    "signature not yet valid: the RRSIG over {what} (key tag {tag}) is valid from {}",
                    when(inception)
                ));
                continue;
            }
            let verified = candidates.iter().any(|k| {
                k.verify_rrsig(name, DNSClass::IN, sig, set.records.iter())
                    .is_ok()
            });
            if verified {
                return Ok(());
            }
            reasons.push(format!(
                "bad signature: the RRSIG over {what} (key tag {tag}) does not verify with the key it names"
            ));
        }
        // The most telling reason: a bad or expired signature before a missing key.
        reasons.sort_by_key(|r| r.starts_with("missing DNSKEY"));
        Err(reasons.into_iter().next().unwrap_or_default())
    }

    fn keys_of(set: &Rrset) -> Vec<DNSKEY> {
        set.records
            .iter()
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(k.clone()),
                _ => None,
            })
            .collect()
    }

    fn ds_of(set: &Rrset) -> Vec<DS> {
        set.records
            .iter()
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::DS(d)) => Some(d.clone()),
                _ => None,
            })
            .collect()
    }

    fn anchored(&self, zone: &Name, keys: &[DNSKEY]) -> bool {
        let lower = LowerName::from(zone);
        keys.iter()
            .any(|k| self.anchors.contains_with_name(k.public_key(), &lower))
    }

    /// Looks for what breaks the chain of trust of `name`/`rtype`, from the answer up.
    async fn diagnose(&self, name: &Name, rtype: RecordType, zone: &Name) -> Vec<Finding> {
        let mut findings = Vec::new();
        let answer = match self.fetch(name, rtype).await {
            Ok(a) => a,
            Err(e) => {
                findings.push(bogus(format!("{}: {}", e.code, e.message)));
                return findings;
            }
        };
        if answer.code == Some(ResponseCode::ServFail) {
            findings.push(bogus(format!(
                "SERVFAIL: the resolver fails {} {rtype} even with checking disabled",
                show(name)
            )));
            return findings;
        }
        // The zone that signs the answer, else the zone found by the NS walk.
        let mut current = answer
            .sigs
            .first()
            .map(|s| s.input().signer_name.clone())
            .filter(|s| s.zone_of(name))
            .unwrap_or_else(|| zone.clone());
        // (name, type, rrset) whose signature the current zone's keys must verify.
        let mut pending: Option<(Name, RecordType, Rrset)> = if answer.records.is_empty() {
            None
        } else {
            Some((name.clone(), rtype, answer))
        };
        for _ in 0..MAX_CHAIN {
            let keys_set = match self.fetch(&current, RecordType::DNSKEY).await {
                Ok(k) => k,
                Err(e) => {
                    findings.push(bogus(format!("{}: {}", e.code, e.message)));
                    break;
                }
            };
            let keys = Self::keys_of(&keys_set);
            let zone_name = show(&current);
            if keys.is_empty() {
                // Unsigned zone: fine if the parent says so (no DS), bogus if it has a DS.
                let ds = if current.is_root() {
                    Vec::new()
                } else {
                    self.fetch(&current, RecordType::DS)
                        .await
                        .map(|s| Self::ds_of(&s))
                        .unwrap_or_default()
                };
                if ds.is_empty() {
                    findings.push(Finding {
                        kind: Kind::Insecure,
                        text: format!(
                            "not signed: {zone_name} has no DNSKEY and its parent publishes no DS record for it"
                        ),
                    });
                } else {
                    findings.push(bogus(format!(
                        "missing DNSKEY: the parent publishes a DS record for {zone_name} but the zone serves no DNSKEY"
                    )));
                }
                break;
            }
            if let Some((n, t, set)) = &pending
                && let Err(reason) = self.verify(n, *t, set, &keys)
            {
                findings.push(bogus(reason));
            }
            if let Err(reason) = self.verify(&current, RecordType::DNSKEY, &keys_set, &keys) {
                findings.push(bogus(reason));
            }
            if self.anchored(&current, &keys) {
                break;
            }
            if current.is_root() {
                findings.push(bogus(
                    "trust anchor mismatch: none of the root DNSKEYs is a configured trust anchor"
                        .to_string(),
                ));
                break;
            }
            let ds_set = match self.fetch(&current, RecordType::DS).await {
                Ok(s) => s,
                Err(e) => {
                    findings.push(bogus(format!("{}: {}", e.code, e.message)));
                    break;
                }
            };
            let ds = Self::ds_of(&ds_set);
            if ds.is_empty() {
                findings.push(Finding {
                    kind: Kind::Insecure,
                    text: format!(
                        "missing DS: {zone_name} is signed (it publishes DNSKEY records) but its parent publishes no DS record for it, so no chain of trust reaches it"
                    ),
                });
                break;
            }
            let matched = ds
                .iter()
                .any(|d| keys.iter().any(|k| d.covers(&current, k).unwrap_or(false)));
            if !matched {
                let ds_tags: Vec<String> = ds
                    .iter()
                    .take(4)
                    .map(|d| format!("{} ({})", d.key_tag(), d.algorithm()))
                    .collect();
                let key_tags: Vec<String> = keys
                    .iter()
                    .take(4)
                    .filter_map(|k| k.calculate_key_tag().ok())
                    .map(|t| t.to_string())
                    .collect();
                findings.push(bogus(format!(
                    "DS mismatch: the DS records of {zone_name} at its parent (key tags {}) match none of its DNSKEYs (key tags {})",
                    ds_tags.join(", "),
                    key_tags.join(", ")
                )));
            }
            // Up to the zone that signs the DS records.
            let parent = ds_set
                .sigs
                .first()
                .map(|s| s.input().signer_name.clone())
                .filter(|p| p.zone_of(&current) && *p != current)
                .unwrap_or_else(|| current.base_name());
            pending = Some((current.clone(), RecordType::DS, ds_set));
            current = parent;
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_arithmetic() {
        assert!(later(10, 5));
        assert!(!later(5, 10));
        assert!(!later(5, 5));
        assert!(later(3, u32::MAX - 3));
    }

    #[test]
    fn unreadable_anchor_file_is_an_error() {
        let Err(e) = anchors(Some(Path::new("/nonexistent/anchors"))) else {
            panic!("a missing file must be an error");
        };
        assert!(e.contains("/nonexistent/anchors"));
        assert!(anchors(None).is_ok());
    }

    #[test]
    fn explanations() {
        let f = vec![
            Finding {
                kind: Kind::Insecure,
                text: "missing DS: x".into(),
            },
            bogus("bad signature: y".into()),
        ];
        assert_eq!(explain_bogus(&f, None), "bad signature: y");
        assert!(explain_bogus(&f, Some("SERVFAIL")).contains("checking disabled"));
        assert_eq!(
            explain_insecure(&f, &Name::from_ascii("x.").unwrap()),
            "missing DS: x"
        );
        assert!(explain_bogus(&[], None).contains("not found"));
    }
}
