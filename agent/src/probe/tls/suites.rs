//! The cipher suite catalogue: which suites a ClientHello offers, and how each is described.
//!
//! Descriptions come from the IANA registry as compiled into tls-parser; this module only
//! decides which suites are worth offering (suites that need a pre-shared key, SRP, Kerberos
//! or GOST can never be picked by an ordinary web server, so offering them only lengthens the
//! hello) and turns a suite into the report's [`CipherSuite`] with its weakness flags.

use std::sync::OnceLock;

use canhgac_policies::report::{CipherSuite, CipherWeaknesses, ProtocolCiphers};
use tls_parser::{
    CIPHERS, TlsCipherAu, TlsCipherEnc, TlsCipherEncMode, TlsCipherKx, TlsCipherSuite,
};

use super::hello::Version;

/// TLS 1.3 suites (RFC 8446 and RFC 9150 integrity-only ones are left out).
pub const TLS13_SUITES: [u16; 5] = [0x1301, 0x1302, 0x1303, 0x1304, 0x1305];

/// The signalling value for secure renegotiation, appended to SSL 3.0 hellos.
pub const RENEGOTIATION_SCSV: u16 = 0x00ff;

fn offerable(s: &TlsCipherSuite) -> bool {
    !matches!(
        s.kx,
        TlsCipherKx::Psk | TlsCipherKx::Krb5 | TlsCipherKx::Srp | TlsCipherKx::Eccpwd
    ) && !matches!(
        s.au,
        TlsCipherAu::Psk
            | TlsCipherAu::Krb5
            | TlsCipherAu::Srp
            | TlsCipherAu::Srp_Dss
            | TlsCipherAu::Srp_Rsa
            | TlsCipherAu::Eccpwd
    ) && s.kx != TlsCipherKx::Tls13
        && s.id.0 != 0x0000
        && !s.name.contains("GOST")
        && !s.name.contains("SCSV")
}

fn strength_rank(s: &TlsCipherSuite) -> u8 {
    // Offer strong suites first so that a server honouring client order still picks a
    // realistic one; weak classes go last.
    let export = s.name.contains("EXPORT");
    match (s.enc, s.enc_mode, s.kx) {
        _ if export => 9,
        (TlsCipherEnc::Null, ..) => 8,
        (TlsCipherEnc::Rc4 | TlsCipherEnc::Des | TlsCipherEnc::Rc2, ..) => 7,
        (TlsCipherEnc::TripleDes, ..) => 6,
        (_, TlsCipherEncMode::Gcm | TlsCipherEncMode::Ccm, TlsCipherKx::Ecdhe)
        | (TlsCipherEnc::Chacha20_Poly1305, _, TlsCipherKx::Ecdhe) => 0,
        (_, TlsCipherEncMode::Gcm | TlsCipherEncMode::Ccm, TlsCipherKx::Dhe)
        | (TlsCipherEnc::Chacha20_Poly1305, ..) => 1,
        (_, _, TlsCipherKx::Ecdhe | TlsCipherKx::Dhe) => 2,
        _ => 3,
    }
}

/// The suites offered for TLS 1.0 to 1.2 (SSL 3.0 takes the subset below 0x0100), strongest
/// first.
pub fn legacy_suites() -> &'static [u16] {
    static SUITES: OnceLock<Vec<u16>> = OnceLock::new();
    SUITES.get_or_init(|| {
        let mut all: Vec<&TlsCipherSuite> = CIPHERS.values().filter(|s| offerable(s)).collect();
        all.sort_by_key(|s| (strength_rank(s), s.id.0));
        all.into_iter().map(|s| s.id.0).collect()
    })
}

/// The suites to offer in a first hello for the version.
pub fn offer_for(version: Version) -> Vec<u16> {
    match version {
        Version::Tls13 => TLS13_SUITES.to_vec(),
        Version::Ssl3 => {
            let mut v: Vec<u16> = legacy_suites()
                .iter()
                .copied()
                .filter(|id| *id < 0x0100)
                .collect();
            v.push(RENEGOTIATION_SCSV);
            v
        }
        // AEAD suites exist from TLS 1.2 on; older servers may choke on unknown ids, so offer
        // them only there.
        Version::Tls10 | Version::Tls11 => legacy_suites()
            .iter()
            .copied()
            .filter(|id| {
                TlsCipherSuite::from_id(*id)
                    .map(|s| {
                        !matches!(s.enc_mode, TlsCipherEncMode::Gcm | TlsCipherEncMode::Ccm)
                            && s.enc != TlsCipherEnc::Chacha20_Poly1305
                            && !s.name.ends_with("SHA256")
                            && !s.name.ends_with("SHA384")
                    })
                    .unwrap_or(false)
            })
            .collect(),
        Version::Tls12 => legacy_suites().to_vec(),
    }
}

/// The IANA name of a suite, or its code point when unknown.
pub fn name(id: u16) -> String {
    TlsCipherSuite::from_id(id)
        .map(|s| s.name.to_string())
        .unwrap_or_else(|| format!("0x{id:04X}"))
}

/// Describes a suite for the report.
pub fn describe(id: u16) -> CipherSuite {
    let Some(s) = TlsCipherSuite::from_id(id) else {
        return CipherSuite {
            id: format!("0x{id:04X}"),
            name: format!("0x{id:04X}"),
            key_exchange: "unknown".into(),
            authentication: "unknown".into(),
            encryption: "unknown".into(),
            mode: "unknown".into(),
            bits: 0,
            forward_secrecy: false,
            flags: vec!["unknown".into()],
        };
    };
    let key_exchange = match s.kx {
        TlsCipherKx::Null => "NULL",
        TlsCipherKx::Psk => "PSK",
        TlsCipherKx::Krb5 => "KRB5",
        TlsCipherKx::Srp => "SRP",
        TlsCipherKx::Rsa => "RSA",
        TlsCipherKx::Dh => "DH",
        TlsCipherKx::Dhe => "DHE",
        TlsCipherKx::Ecdh => "ECDH",
        TlsCipherKx::Ecdhe => "ECDHE",
        TlsCipherKx::Aecdh => "ECDHE",
        TlsCipherKx::Eccpwd => "ECCPWD",
        TlsCipherKx::Tls13 => "TLS1.3",
    };
    let anonymous = s.au == TlsCipherAu::Null || s.name.contains("_anon_");
    let authentication = if anonymous {
        "anon"
    } else {
        match s.au {
            TlsCipherAu::Rsa => "RSA",
            TlsCipherAu::Dss => "DSS",
            TlsCipherAu::Ecdsa => "ECDSA",
            TlsCipherAu::Dhe => "DH",
            TlsCipherAu::Tls13 => "TLS1.3",
            _ => "other",
        }
    };
    let encryption = match s.enc {
        TlsCipherEnc::Null => "NULL",
        TlsCipherEnc::Des => "DES",
        TlsCipherEnc::TripleDes => "3DES",
        TlsCipherEnc::Rc2 => "RC2",
        TlsCipherEnc::Rc4 => "RC4",
        TlsCipherEnc::Aria => "ARIA",
        TlsCipherEnc::Idea => "IDEA",
        TlsCipherEnc::Seed => "SEED",
        TlsCipherEnc::Aes => "AES",
        TlsCipherEnc::Camellia => "CAMELLIA",
        TlsCipherEnc::Chacha20_Poly1305 => "CHACHA20_POLY1305",
        TlsCipherEnc::Sm4 => "SM4",
        TlsCipherEnc::Aegis => "AEGIS",
    };
    let aead = matches!(s.enc_mode, TlsCipherEncMode::Gcm | TlsCipherEncMode::Ccm)
        || s.enc == TlsCipherEnc::Chacha20_Poly1305;
    let mode = if aead {
        match s.enc_mode {
            TlsCipherEncMode::Ccm => "CCM",
            TlsCipherEncMode::Gcm => "GCM",
            _ => "AEAD",
        }
    } else {
        match (s.enc, s.enc_mode) {
            (TlsCipherEnc::Null, _) => "none",
            (TlsCipherEnc::Rc4, _) => "stream",
            (_, TlsCipherEncMode::Cbc) => "CBC",
            _ => "other",
        }
    };
    let forward_secrecy = matches!(
        s.kx,
        TlsCipherKx::Dhe | TlsCipherKx::Ecdhe | TlsCipherKx::Aecdh | TlsCipherKx::Tls13
    ) || (anonymous && s.kx == TlsCipherKx::Dh);
    let mut flags = Vec::new();
    if s.enc == TlsCipherEnc::Null {
        flags.push("null");
    }
    if anonymous {
        flags.push("anonymous");
    }
    if s.name.contains("EXPORT") {
        flags.push("export");
    }
    if s.enc == TlsCipherEnc::Rc4 {
        flags.push("rc4");
    }
    if matches!(s.enc, TlsCipherEnc::Des | TlsCipherEnc::TripleDes) {
        flags.push("des");
    }
    if mode == "CBC" {
        flags.push("cbc");
    }
    if !forward_secrecy {
        flags.push("no_forward_secrecy");
    }
    CipherSuite {
        id: format!("0x{id:04X}"),
        name: s.name.to_string(),
        key_exchange: key_exchange.into(),
        authentication: authentication.into(),
        encryption: encryption.into(),
        mode: mode.into(),
        bits: s.enc_size,
        forward_secrecy,
        flags: flags.into_iter().map(String::from).collect(),
    }
}

/// Summarises weak classes over every protocol's accepted suites.
///
/// A class found anywhere is `true`; it is `false` only when every list is complete, and
/// `null` otherwise (an incomplete enumeration proves presence, never absence).
pub fn weaknesses<'a>(
    lists: impl IntoIterator<Item = &'a ProtocolCiphers> + Clone,
) -> CipherWeaknesses {
    let complete = lists.clone().into_iter().all(|l| l.complete);
    let any_list = lists.clone().into_iter().next().is_some();
    let has = |flag: &str| -> Option<bool> {
        let found = lists
            .clone()
            .into_iter()
            .flat_map(|l| &l.suites)
            .any(|s| s.flags.iter().any(|f| f == flag));
        if found {
            Some(true)
        } else if complete && any_list {
            Some(false)
        } else {
            None
        }
    };
    let any_aead = lists
        .clone()
        .into_iter()
        .flat_map(|l| &l.suites)
        .any(|s| matches!(s.mode.as_str(), "GCM" | "CCM" | "AEAD"));
    let total = lists
        .clone()
        .into_iter()
        .map(|l| l.suites.len())
        .sum::<usize>();
    let no_fs = has("no_forward_secrecy");
    CipherWeaknesses {
        null: has("null"),
        anonymous: has("anonymous"),
        export: has("export"),
        rc4: has("rc4"),
        des: has("des"),
        cbc_only: if any_aead {
            Some(false)
        } else if total > 0 {
            Some(true)
        } else {
            None
        },
        no_forward_secrecy: no_fs,
        forward_secrecy_only: no_fs.map(|b| !b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_strong_first_and_has_the_weak_classes() {
        let suites = legacy_suites();
        assert!(suites.len() > 100, "{} suites", suites.len());
        let first = describe(suites[0]);
        assert!(first.forward_secrecy && first.mode != "CBC", "{first:?}");
        for id in [0x0005u16, 0x000a, 0x0002, 0x0003, 0x0018] {
            assert!(suites.contains(&id), "0x{id:04x} missing");
        }
        assert!(!suites.contains(&0x008c), "PSK suites are not offered");
    }

    #[test]
    fn flags_classify_known_suites() {
        assert_eq!(describe(0x0005).flags, ["rc4", "no_forward_secrecy"]);
        assert_eq!(describe(0x000a).flags, ["des", "cbc", "no_forward_secrecy"]);
        assert!(describe(0x0002).flags.contains(&"null".to_string()));
        assert!(describe(0x0018).flags.contains(&"anonymous".to_string()));
        assert!(describe(0x0003).flags.contains(&"export".to_string()));
        assert!(describe(0xc02f).flags.is_empty());
        assert_eq!(describe(0x1301).key_exchange, "TLS1.3");
        assert!(describe(0x1301).forward_secrecy);
    }

    #[test]
    fn weaknesses_prove_presence_not_absence() {
        let incomplete = ProtocolCiphers {
            suites: vec![describe(0xc02f)],
            server_order: None,
            complete: false,
        };
        let w = weaknesses([&incomplete]);
        assert_eq!(w.rc4, None);
        assert_eq!(w.cbc_only, Some(false));
        let rc4 = ProtocolCiphers {
            suites: vec![describe(0x0005)],
            server_order: None,
            complete: true,
        };
        let w = weaknesses([&incomplete, &rc4]);
        assert_eq!(w.rc4, Some(true));
        let w = weaknesses([&rc4]);
        assert_eq!(w.null, Some(false));
        assert_eq!(w.cbc_only, Some(true));
        assert_eq!(w.forward_secrecy_only, Some(false));
    }
}
