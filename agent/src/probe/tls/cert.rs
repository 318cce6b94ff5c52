//! Reading served certificates into the report: identity, validity, key, signature, chain shape.
//!
//! Parsing only (x509-parser, no crypto): trust decisions are made in `trust.rs`. A certificate
//! that does not parse becomes a summary with `parse_error` set, never a panic or a dropped
//! chain entry.

use canhgac_policies::report::{Certificate, CertificateSummary, ChainFacts};
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{self, Oid};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

/// A served certificate, parsed once, with what the chain checks need.
pub struct Parsed {
    /// The DER bytes as served.
    pub der: Vec<u8>,
    /// The summary for the report.
    pub summary: CertificateSummary,
    /// Details, when it parsed.
    pub detail: Option<Detail>,
}

/// Details kept for the leaf and for chain checks.
pub struct Detail {
    /// Raw DER of the subject name.
    pub subject_raw: Vec<u8>,
    /// Raw DER of the issuer name.
    pub issuer_raw: Vec<u8>,
    /// The full report entry (used for the leaf).
    pub certificate: Certificate,
}

fn sha256_hex(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

fn oid_name(oid: &Oid<'_>) -> String {
    x509_parser::objects::oid2sn(oid, x509_parser::objects::oid_registry())
        .map(str::to_string)
        .unwrap_or_else(|_| oid.to_id_string())
}

fn curve_name(oid: &str) -> &str {
    match oid {
        "1.2.840.10045.3.1.7" => "P-256",
        "1.3.132.0.34" => "P-384",
        "1.3.132.0.35" => "P-521",
        "1.3.132.0.10" => "secp256k1",
        "1.3.36.3.3.2.8.1.1.7" => "brainpoolP256r1",
        "1.3.36.3.3.2.8.1.1.11" => "brainpoolP384r1",
        "1.3.36.3.3.2.8.1.1.13" => "brainpoolP512r1",
        other => other,
    }
}

/// Parses one DER certificate as served, at time `now` (for `days_left`).
pub fn parse(der: &[u8], now: Timestamp) -> Parsed {
    let sha256 = sha256_hex(der);
    match X509Certificate::from_der(der) {
        Ok((_, x)) => {
            let detail = detail(&x, sha256.clone(), now);
            let c = &detail.certificate;
            let summary = CertificateSummary {
                subject: c.subject.clone(),
                issuer: c.issuer.clone(),
                serial: c.serial.clone(),
                not_after: c.not_after,
                key: format!("{} {}", c.key_type, c.key_bits),
                signature_algorithm: c.signature_algorithm.clone(),
                self_signed: c.self_signed,
                is_ca: x.is_ca(),
                sha256,
                parse_error: None,
            };
            Parsed {
                der: der.to_vec(),
                summary,
                detail: Some(detail),
            }
        }
        Err(e) => Parsed {
            der: der.to_vec(),
            summary: CertificateSummary {
                subject: String::new(),
                issuer: String::new(),
                serial: String::new(),
                not_after: Timestamp::UNIX_EPOCH,
                key: String::new(),
                signature_algorithm: String::new(),
                self_signed: false,
                is_ca: false,
                sha256,
                parse_error: Some(format!("{e}")),
            },
            detail: None,
        },
    }
}

fn timestamp(t: i64) -> Timestamp {
    Timestamp::from_second(t).unwrap_or(if t < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

fn detail(x: &X509Certificate<'_>, sha256: String, now: Timestamp) -> Detail {
    let mut san_dns = Vec::new();
    let mut san_ip = Vec::new();
    let mut ocsp_urls = Vec::new();
    let mut ski: Option<Vec<u8>> = None;
    let mut aki: Option<Vec<u8>> = None;
    for ext in x.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(d) => san_dns.push(d.to_string()),
                        GeneralName::IPAddress(ip) => san_ip.push(ip_string(ip)),
                        _ => {}
                    }
                }
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for desc in &aia.accessdescs {
                    if desc.access_method == oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_OCSP
                        && let GeneralName::URI(uri) = desc.access_location
                    {
                        ocsp_urls.push(uri.to_string());
                    }
                }
            }
            ParsedExtension::SubjectKeyIdentifier(k) => ski = Some(k.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                aki = a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => {}
        }
    }
    let spki = x.public_key();
    let (key_type, key_bits, curve) = match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => ("RSA".to_string(), rsa.key_size() as u32, None),
        Ok(PublicKey::EC(ec)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| curve_name(&oid.to_id_string()).to_string());
            ("EC".to_string(), ec.key_size() as u32, curve)
        }
        Ok(PublicKey::DSA(y)) => ("DSA".to_string(), (y.len() * 8) as u32, None),
        _ => match spki.algorithm.algorithm.to_id_string().as_str() {
            "1.3.101.112" => ("Ed25519".to_string(), 256, None),
            "1.3.101.113" => ("Ed448".to_string(), 456, None),
            other => (other.to_string(), 0, None),
        },
    };
    let not_before = timestamp(x.validity().not_before.timestamp());
    let not_after = timestamp(x.validity().not_after.timestamp());
    let days_left = (not_after.as_second() - now.as_second()).div_euclid(86_400);
    let same_name = x.subject().as_raw() == x.issuer().as_raw();
    let self_signed = same_name
        && match (&aki, &ski) {
            (Some(a), Some(s)) => a == s,
            _ => true,
        };
    Detail {
        subject_raw: x.subject().as_raw().to_vec(),
        issuer_raw: x.issuer().as_raw().to_vec(),
        certificate: Certificate {
            subject: x.subject().to_string(),
            common_name: x
                .subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map(str::to_string),
            san_dns,
            san_ip,
            issuer: x.issuer().to_string(),
            serial: hex::encode(x.raw_serial()),
            not_before,
            not_after,
            days_left,
            key_type,
            key_bits,
            curve,
            signature_algorithm: oid_name(&x.signature_algorithm.algorithm),
            self_signed,
            sha256,
            ocsp_urls,
        },
    }
}

fn ip_string(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(bytes);
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => hex::encode(bytes),
    }
}

/// Whether the certificates are in issuing order, whether a root was sent, and how many.
pub fn chain_facts(chain: &[Parsed]) -> ChainFacts {
    let details: Vec<Option<&Detail>> = chain.iter().map(|p| p.detail.as_ref()).collect();
    let in_order = if chain.is_empty() || details.iter().any(Option::is_none) {
        None
    } else {
        Some(details.windows(2).all(|w| match (w[0], w[1]) {
            (Some(a), Some(b)) => a.issuer_raw == b.subject_raw,
            _ => false,
        }))
    };
    ChainFacts {
        served: chain.len() as u32,
        in_order,
        includes_root: chain.iter().skip(1).any(|p| p.summary.self_signed),
        missing_intermediate: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn make(params: rcgen::CertificateParams) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn reads_names_key_and_days_left() {
        let mut p = rcgen::CertificateParams::new(vec![
            "sct.example.gov.vn".to_string(),
            "127.0.0.1".to_string(),
        ])
        .unwrap();
        p.not_before = rcgen::date_time_ymd(2026, 1, 1);
        p.not_after = rcgen::date_time_ymd(2026, 12, 31);
        let der = make(p);
        let now: Timestamp = "2026-11-23T08:00:00Z".parse().unwrap();
        let parsed = parse(&der, now);
        let c = parsed.detail.unwrap().certificate;
        assert_eq!(c.san_dns, ["sct.example.gov.vn"]);
        assert_eq!(c.san_ip, ["127.0.0.1"]);
        assert_eq!(c.key_type, "EC");
        assert_eq!(c.key_bits, 256);
        assert_eq!(c.curve.as_deref(), Some("P-256"));
        assert_eq!(c.days_left, 37);
        assert_eq!(c.signature_algorithm, "ecdsa-with-SHA256");
        assert!(c.self_signed);
        assert_eq!(parsed.summary.key, "EC 256");
    }

    #[test]
    fn expired_certificates_have_negative_days() {
        let mut p = rcgen::CertificateParams::new(vec!["a.example".to_string()]).unwrap();
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2021, 1, 1);
        let parsed = parse(&make(p), "2021-01-11T00:00:00Z".parse().unwrap());
        assert_eq!(parsed.detail.unwrap().certificate.days_left, -10);
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let p = parse(&bytes, Timestamp::UNIX_EPOCH);
            prop_assert!(p.detail.is_some() || p.summary.parse_error.is_some());
        }

        #[test]
        fn mutated_certificates_never_panic(pos in 0usize..2000, byte in any::<u8>(), cut in 0usize..600) {
            static DER: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
            let der = DER.get_or_init(|| make(rcgen::CertificateParams::new(vec!["x.example".to_string()]).unwrap()));
            let mut d = der.clone();
            let pos = pos % d.len();
            d[pos] = byte;
            d.truncate(d.len() - cut.min(d.len()));
            let _ = parse(&d, Timestamp::UNIX_EPOCH);
        }
    }
}
