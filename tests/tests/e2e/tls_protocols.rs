//! Protocol versions, cipher suites and server order, against rustls sites and Debian's
//! `openssl s_server`.

use canhgac_testkit::{OpensslBuilder, OpensslCert, OpensslServer, TestPki, TlsSite};
use serde_json::Value;

use crate::agent::{scan_name, suites};

fn protocols(r: &Value) -> [Value; 5] {
    let p = &r["tls"]["protocols"];
    [
        p["ssl3"].clone(),
        p["tls1.0"].clone(),
        p["tls1.1"].clone(),
        p["tls1.2"].clone(),
        p["tls1.3"].clone(),
    ]
}

fn b(v: bool) -> Value {
    Value::Bool(v)
}

fn weak(r: &Value, class: &str) -> Value {
    r["tls"]["ciphers"]["weaknesses"][class].clone()
}

#[test]
fn a_modern_site_accepts_only_tls12_and_tls13_with_strong_suites() {
    let s = TlsSite::builder(&TestPki::shared().localhost())
        .alpn(&["h2", "http/1.1"])
        .start()
        .unwrap();
    let r = scan_name("localhost", s.port(), &[]);
    assert_eq!(
        protocols(&r),
        [b(false), b(false), b(false), b(true), b(true)]
    );
    let n = &r["tls"]["negotiated"];
    assert_eq!(n["protocol"], "tls1.3");
    assert_eq!(n["alpn"], "h2", "{n}");
    assert!(n["key_exchange_group"].is_string());
    let mut tls13 = suites(&r, "tls1.3");
    tls13.sort();
    assert_eq!(
        tls13,
        [
            "TLS_AES_128_GCM_SHA256",
            "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256"
        ]
    );
    let mut tls12 = suites(&r, "tls1.2");
    tls12.sort();
    assert_eq!(
        tls12,
        [
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
        ]
    );
    for class in [
        "null",
        "anonymous",
        "export",
        "rc4",
        "des",
        "cbc_only",
        "no_forward_secrecy",
    ] {
        assert_eq!(weak(&r, class), b(false), "{class}");
    }
    assert_eq!(weak(&r, "forward_secrecy_only"), b(true));
    let by = &r["tls"]["ciphers"]["by_protocol"];
    assert_eq!(by["tls1.2"]["complete"], true);
    assert_eq!(
        by["tls1.2"]["server_order"],
        b(false),
        "rustls follows the client's order by default"
    );
    assert!(r["tls"]["protocol_evidence"]["tls1.0"].is_string());
    // One modern handshake, five version hellos, then elimination and order checks.
    let connections = r["tls"]["connections"].as_u64().unwrap();
    assert!(
        (10..=20).contains(&connections),
        "{connections} connections"
    );
}

#[test]
fn tls12_only_and_tls13_only_sites() {
    let leaf = TestPki::shared().localhost();
    let s12 = TlsSite::builder(&leaf).tls12_only().start().unwrap();
    let r = scan_name("localhost", s12.port(), &[]);
    assert_eq!(
        protocols(&r),
        [b(false), b(false), b(false), b(true), b(false)]
    );
    assert_eq!(r["tls"]["negotiated"]["protocol"], "tls1.2");

    let s13 = TlsSite::builder(&leaf).tls13_only().start().unwrap();
    let r = scan_name("localhost", s13.port(), &[]);
    assert_eq!(
        protocols(&r),
        [b(false), b(false), b(false), b(false), b(true)]
    );
    assert!(r["tls"]["ciphers"]["by_protocol"].get("tls1.2").is_none());
    assert_eq!(
        r["tls"]["validation"]["trusted"], true,
        "chain read through TLS 1.3"
    );
}

fn openssl(builder: OpensslBuilder) -> OpensslServer {
    builder.start().expect("openssl s_server starts")
}

#[test]
fn a_tls10_only_server_is_seen_through_raw_hellos() {
    let s = openssl(OpensslBuilder::tls10_only());
    let r = scan_name("localhost", s.port(), &[]);
    assert_eq!(
        protocols(&r),
        [b(false), b(true), b(false), b(false), b(false)]
    );
    assert!(
        r["tls"]["negotiated"].is_null(),
        "rustls cannot speak TLS 1.0"
    );
    assert!(r["tls"]["negotiation_error"]["message"].is_string());
    // The certificate still comes from the plaintext Certificate message of the raw hello.
    assert_eq!(r["tls"]["certificate"]["key_type"], "RSA");
    assert_eq!(
        r["tls"]["validation"]["trusted"], true,
        "{}",
        r["tls"]["validation"]
    );
    assert!(!suites(&r, "tls1.0").is_empty());
    assert_eq!(weak(&r, "cbc_only"), b(true));
    assert!(
        r["tls"]["protocol_evidence"]["tls1.0"]
            .as_str()
            .unwrap()
            .starts_with("ServerHello tls1.0")
    );
}

#[test]
fn a_tls11_only_server() {
    let s = openssl(OpensslBuilder::tls11_only());
    let r = scan_name("localhost", s.port(), &[]);
    assert_eq!(
        protocols(&r),
        [b(false), b(false), b(true), b(false), b(false)]
    );
}

#[test]
fn null_suites_are_found() {
    let s = openssl(OpensslBuilder::null_cipher());
    let r = scan_name("localhost", s.port(), &[]);
    assert_eq!(weak(&r, "null"), b(true));
    let tls12 = suites(&r, "tls1.2");
    assert!(
        tls12.contains(&"TLS_RSA_WITH_NULL_SHA256".to_string()),
        "{tls12:?}"
    );
    assert!(
        tls12.contains(&"TLS_RSA_WITH_NULL_SHA".to_string()),
        "{tls12:?}"
    );
}

#[test]
fn a_server_enforcing_its_order_is_recognised_and_listed_in_its_order() {
    let s = openssl(
        OpensslBuilder::new()
            .protocols(&["-tls1_2"])
            .cipher("AES128-SHA:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256")
            .arg("-serverpref"),
    );
    let r = scan_name("localhost", s.port(), &[]);
    let list = &r["tls"]["ciphers"]["by_protocol"]["tls1.2"];
    assert_eq!(list["server_order"], b(true), "{list}");
    assert_eq!(
        suites(&r, "tls1.2"),
        [
            "TLS_RSA_WITH_AES_128_CBC_SHA",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        ]
    );
    assert_eq!(weak(&r, "no_forward_secrecy"), b(true));
}

#[test]
fn an_rsa_1024_key_is_measured() {
    let s = openssl(OpensslBuilder::new().cert(OpensslCert::Rsa1024Sha256));
    let r = scan_name("localhost", s.port(), &[]);
    assert_eq!(r["tls"]["certificate"]["key_bits"], 1024);
    assert_eq!(r["tls"]["validation"]["trusted"], false);
    assert_eq!(
        r["tls"]["validation"]["error"], "weak_key",
        "{}",
        r["tls"]["validation"]
    );
}

#[test]
fn a_sha1_signature_is_reported() {
    let s = openssl(OpensslBuilder::new().cert(OpensslCert::Rsa2048Sha1));
    let r = scan_name("localhost", s.port(), &[]);
    assert_eq!(
        r["tls"]["certificate"]["signature_algorithm"],
        "sha1WithRSAEncryption"
    );
    assert_eq!(r["tls"]["validation"]["trusted"], false);
    assert_eq!(
        r["tls"]["validation"]["error"], "weak_signature",
        "{}",
        r["tls"]["validation"]
    );
}

// Debian's OpenSSL 3.0 has no RC4, 3DES, EXPORT or SSL 3.0 left to serve; these peers answer the
// hello stage on the wire as such servers do (see canhgac_testkit::legacy_hello).
use canhgac_testkit::LegacyHelloPeer;

#[test]
fn rc4_suites_are_found_in_the_servers_order() {
    let peer = LegacyHelloPeer::rc4();
    let r = scan_name("localhost", peer.port(), &[]);
    assert_eq!(protocols(&r)[3], b(true));
    assert_eq!(weak(&r, "rc4"), b(true));
    assert_eq!(
        suites(&r, "tls1.2"),
        ["TLS_RSA_WITH_RC4_128_SHA", "TLS_RSA_WITH_RC4_128_MD5"]
    );
    assert_eq!(
        r["tls"]["ciphers"]["by_protocol"]["tls1.2"]["server_order"],
        b(true)
    );
    assert!(r["tls"]["negotiated"].is_null(), "rustls refuses RC4");
    assert_eq!(
        r["tls"]["certificate"]["key_type"], "RSA",
        "chain from the raw hello"
    );
}

#[test]
fn triple_des_is_found() {
    let peer = LegacyHelloPeer::triple_des();
    let r = scan_name("localhost", peer.port(), &[]);
    assert_eq!(weak(&r, "des"), b(true));
    assert_eq!(weak(&r, "rc4"), b(false));
    assert_eq!(suites(&r, "tls1.2"), ["TLS_RSA_WITH_3DES_EDE_CBC_SHA"]);
}

#[test]
fn an_ssl3_only_server_is_seen() {
    let peer = LegacyHelloPeer::ssl3();
    let r = scan_name("localhost", peer.port(), &[]);
    assert_eq!(
        protocols(&r),
        [b(true), b(false), b(false), b(false), b(false)]
    );
    assert_eq!(suites(&r, "ssl3").len(), 3);
    assert_eq!(
        r["tls"]["validation"]["trusted"], true,
        "{}",
        r["tls"]["validation"]
    );
}

#[test]
fn export_and_anonymous_suites_are_found() {
    let chain = TestPki::shared().leaf_rsa(&["localhost"]).chain_der;
    // TLS_RSA_EXPORT_WITH_RC4_40_MD5 and TLS_DH_anon_WITH_AES_128_CBC_SHA.
    let peer = LegacyHelloPeer::start(0x0301, &[0x0003, 0x0034], chain).unwrap();
    let r = scan_name("localhost", peer.port(), &[]);
    assert_eq!(protocols(&r)[1], b(true));
    assert_eq!(weak(&r, "export"), b(true));
    assert_eq!(weak(&r, "anonymous"), b(true));
    assert_eq!(weak(&r, "null"), b(false));
}
