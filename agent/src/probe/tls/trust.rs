//! Chain validation against Mozilla's roots plus an agency's own CAs, with the host name check.
//!
//! rustls-webpki decides; this module turns its answer into the report's short codes and says
//! why in words. The chain and the name are judged separately, so a report says both "the
//! chain is fine" and "the name does not match" when that is the case.

use std::path::Path;

use canhgac_policies::report::Validation;
use jiff::Timestamp;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, Error as WebpkiError, KeyUsage};

use super::cert::Parsed;

/// Why a trust store could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TrustStoreError {
    /// The CA file could not be read or holds no certificate.
    #[error("cannot read CA file {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A certificate in the CA file is not usable as a trust anchor.
    #[error("certificate #{index} in {path} is not a usable CA certificate: {reason}")]
    Anchor {
        /// The file.
        path: String,
        /// 1-based position in the file.
        index: usize,
        /// What webpki said.
        reason: String,
    },
}

/// The roots a chain is validated against.
#[derive(Debug, Clone)]
pub struct TrustStore {
    anchors: Vec<TrustAnchor<'static>>,
    label: String,
}

impl TrustStore {
    /// Mozilla's roots as shipped in webpki-roots.
    pub fn mozilla() -> Self {
        TrustStore {
            anchors: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            label: "webpki-roots".into(),
        }
    }

    /// Mozilla's roots plus every certificate of a PEM file.
    pub fn with_ca_file(path: &Path) -> Result<Self, TrustStoreError> {
        let mut store = Self::mozilla();
        let shown = path.display().to_string();
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| TrustStoreError::Read {
                path: shown.clone(),
                reason: e.to_string(),
            })?
            .collect::<Result<_, _>>()
            .map_err(|e| TrustStoreError::Read {
                path: shown.clone(),
                reason: e.to_string(),
            })?;
        if certs.is_empty() {
            return Err(TrustStoreError::Read {
                path: shown,
                reason: "no PEM certificate in it".into(),
            });
        }
        for (i, der) in certs.iter().enumerate() {
            let anchor =
                webpki::anchor_from_trusted_cert(der).map_err(|e| TrustStoreError::Anchor {
                    path: shown.clone(),
                    index: i + 1,
                    reason: format!("{e:?}"),
                })?;
            store.anchors.push(anchor.to_owned());
        }
        store.label = format!("webpki-roots + {} from {}", certs.len(), shown);
        Ok(store)
    }

    /// A short description for reports.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The same roots as a rustls store, for clients that validate during the handshake (the
    /// DNS probe's SMTP STARTTLS check).
    pub fn root_cert_store(&self) -> rustls::RootCertStore {
        rustls::RootCertStore {
            roots: self.anchors.clone(),
        }
    }

    fn has_subject(&self, name_value: &[u8]) -> bool {
        self.anchors
            .iter()
            .any(|a| a.subject.as_ref() == name_value)
    }
}

/// Strips the outer tag and length of a DER value (a Name's SEQUENCE), as trust anchors store
/// subjects without them.
fn der_contents(raw: &[u8]) -> &[u8] {
    if raw.len() < 2 {
        return raw;
    }
    let first = raw[1];
    let header = if first & 0x80 == 0 {
        2
    } else {
        2 + (first & 0x7f) as usize
    };
    raw.get(header..).unwrap_or(raw)
}

/// Whether an intermediate is missing from the served chain: `true` when the server sent no CA
/// certificate after the leaf and the leaf's issuer is not a root of the store; `false` when
/// the chain ends at a self-signed certificate or at one issued by a root of the store; `null`
/// when it ends at a CA of unknown issuer (an unknown root and a missing intermediate look the
/// same from outside).
pub fn missing_intermediate(chain: &[Parsed], store: &TrustStore) -> Option<bool> {
    let last = chain.last()?.detail.as_ref()?;
    if last.certificate.self_signed || store.has_subject(der_contents(&last.issuer_raw)) {
        return Some(false);
    }
    let served_ca = chain.iter().skip(1).any(|p| p.summary.is_ca);
    if served_ca { None } else { Some(true) }
}

/// The smallest leaf keys accepted (CA/Browser Forum Baseline Requirements, 6.1.5).
const MIN_RSA_BITS: u32 = 2048;
const MIN_EC_BITS: u32 = 256;

/// Validates the served chain for `host` at `now`: the chain to a root of the store, the
/// leaf's key size, then the name.
pub fn validate(chain: &[Parsed], host: &str, store: &TrustStore, now: Timestamp) -> Validation {
    let label = store.label().to_string();
    let Some(leaf) = chain.first() else {
        return Validation::unknown(
            "no_certificate",
            "no certificate was obtained from the server",
            label,
        );
    };
    let leaf_der = CertificateDer::from(leaf.der.as_slice());
    let ee = match EndEntityCert::try_from(&leaf_der) {
        Ok(ee) => ee,
        Err(e) => {
            return Validation {
                status: "untrusted".into(),
                trusted: false,
                error: Some("bad_certificate".into()),
                detail: Some(format!("the leaf certificate cannot be decoded: {e:?}")),
                hostname_match: None,
                trust_store: label,
            };
        }
    };
    let hostname_match = match ServerName::try_from(host) {
        Ok(name) => Some(ee.verify_is_valid_for_subject_name(&name).is_ok()),
        Err(_) => None,
    };
    let intermediates: Vec<CertificateDer<'_>> = chain[1..]
        .iter()
        .map(|p| CertificateDer::from(p.der.as_slice()))
        .collect();
    let time =
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(now.as_second().max(0) as u64));
    let chain_result = ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &store.anchors,
        &intermediates,
        time,
        KeyUsage::server_auth(),
        None,
        None,
    );
    let weak_key = leaf.detail.as_ref().and_then(|d| {
        let c = &d.certificate;
        let weak = (c.key_type == "RSA" && c.key_bits < MIN_RSA_BITS)
            || (c.key_type == "EC" && c.key_bits < MIN_EC_BITS);
        weak.then(|| format!("{} {}", c.key_type, c.key_bits))
    });
    match chain_result {
        Ok(_) if weak_key.is_some() => Validation {
            status: "untrusted".into(),
            trusted: false,
            error: Some("weak_key".into()),
            detail: Some(format!(
                "the certificate's key ({}) is below the minimum of RSA {MIN_RSA_BITS} / EC {MIN_EC_BITS} bits that CAs may issue and browsers accept",
                weak_key.unwrap_or_default()
            )),
            hostname_match,
            trust_store: label,
        },
        Ok(_) if hostname_match == Some(true) => Validation {
            status: "trusted".into(),
            trusted: true,
            error: None,
            detail: None,
            hostname_match,
            trust_store: label,
        },
        Ok(_) => Validation {
            status: "untrusted".into(),
            trusted: false,
            error: Some("hostname_mismatch".into()),
            detail: Some(format!(
                "the chain is valid but the certificate does not cover {host} (names: {})",
                names(leaf)
            )),
            hostname_match,
            trust_store: label,
        },
        Err(_)
            if leaf
                .detail
                .as_ref()
                .is_some_and(|d| d.certificate.self_signed) =>
        {
            Validation {
                status: "untrusted".into(),
                trusted: false,
                error: Some("self_signed".into()),
                detail: Some("the certificate is self-signed and not in the trust store".into()),
                hostname_match,
                trust_store: label,
            }
        }
        Err(e) => {
            let (code, detail) = explain(&e, leaf, chain, store);
            Validation {
                status: "untrusted".into(),
                trusted: false,
                error: Some(code.into()),
                detail: Some(detail),
                hostname_match,
                trust_store: label,
            }
        }
    }
}

fn names(leaf: &Parsed) -> String {
    match &leaf.detail {
        Some(d) => {
            let c = &d.certificate;
            let mut all: Vec<&str> = c.san_dns.iter().map(String::as_str).collect();
            all.extend(c.san_ip.iter().map(String::as_str));
            if all.is_empty() {
                c.common_name.clone().unwrap_or_default()
            } else {
                all.join(", ")
            }
        }
        None => String::new(),
    }
}

fn explain(
    e: &WebpkiError,
    leaf: &Parsed,
    chain: &[Parsed],
    store: &TrustStore,
) -> (&'static str, String) {
    let leaf_detail = leaf.detail.as_ref().map(|d| &d.certificate);
    match e {
        WebpkiError::CertExpired { .. } => (
            "expired",
            format!(
                "a certificate of the chain has expired (leaf valid until {})",
                leaf.summary.not_after
            ),
        ),
        WebpkiError::CertNotValidYet { .. } => (
            "not_yet_valid",
            format!(
                "a certificate of the chain is not valid yet (leaf valid from {})",
                leaf_detail
                    .map(|c| c.not_before.to_string())
                    .unwrap_or_default()
            ),
        ),
        WebpkiError::UnknownIssuer => {
            if leaf_detail.is_some_and(|c| c.self_signed) {
                (
                    "self_signed",
                    "the certificate is self-signed and not in the trust store".into(),
                )
            } else if missing_intermediate(chain, store) == Some(true) {
                (
                    "incomplete_chain",
                    format!(
                        "the server sent {} certificate(s) ending with one issued by \"{}\", which is not a trusted root: an intermediate certificate is probably missing",
                        chain.len(),
                        chain
                            .last()
                            .map(|p| p.summary.issuer.as_str())
                            .unwrap_or("")
                    ),
                )
            } else {
                (
                    "unknown_issuer",
                    format!(
                        "the chain ends at \"{}\", which is not in the trust store",
                        chain
                            .last()
                            .map(|p| p.summary.issuer.as_str())
                            .unwrap_or("")
                    ),
                )
            }
        }
        WebpkiError::UnsupportedSignatureAlgorithmContext(_) => (
            "weak_signature",
            format!(
                "a certificate is signed with an algorithm no longer accepted ({})",
                leaf.summary.signature_algorithm
            ),
        ),
        WebpkiError::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
        | WebpkiError::InvalidSignatureForPublicKey => {
            let weak_key = leaf_detail.is_some_and(|c| c.key_type == "RSA" && c.key_bits < 2048);
            if weak_key {
                (
                    "weak_key",
                    format!("the key is too small to be accepted ({})", leaf.summary.key),
                )
            } else {
                (
                    "bad_signature",
                    "a signature in the chain does not verify".into(),
                )
            }
        }
        WebpkiError::CertRevoked => ("revoked", "the certificate is revoked".into()),
        WebpkiError::CaUsedAsEndEntity => (
            "bad_certificate",
            "the server presents a CA certificate as its own".into(),
        ),
        WebpkiError::RequiredEkuNotFoundContext(_) => (
            "bad_certificate",
            "the certificate is not issued for TLS servers (extended key usage)".into(),
        ),
        other => (
            "bad_certificate",
            format!("the chain is invalid: {other:?}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_contents_strips_short_and_long_headers() {
        assert_eq!(der_contents(&[0x30, 2, 1, 2]), &[1, 2]);
        let mut long = vec![0x30, 0x81, 200];
        long.extend(std::iter::repeat_n(7u8, 200));
        assert_eq!(der_contents(&long).len(), 200);
        assert_eq!(der_contents(&[0x30]), &[0x30]);
    }

    #[test]
    fn no_chain_is_unknown_not_a_pass() {
        let v = validate(
            &[],
            "a.example",
            &TrustStore::mozilla(),
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(v.status, "unknown");
        assert!(!v.trusted);
        assert_eq!(v.error.as_deref(), Some("no_certificate"));
    }
}
