//! Trust verdicts, names, keys and chains, against in-process rustls sites serving test-PKI
//! certificates.

use canhgac_testkit::{TestPki, TlsSite};
use serde_json::Value;

use crate::agent::{scan, scan_name};

const NAME: &str = "sct.example.gov.vn";

fn site(leaf: &canhgac_testkit::Leaf) -> TlsSite {
    TlsSite::start(leaf).expect("site starts")
}

fn validation(report: &Value) -> &Value {
    &report["tls"]["validation"]
}

#[test]
fn a_valid_chain_from_a_trusted_ca_is_trusted() {
    let pki = TestPki::shared();
    let s = site(&pki.leaf(&[NAME]));
    let r = scan_name(NAME, s.port(), &[]);
    let v = validation(&r);
    assert_eq!(v["status"], "trusted", "{v}");
    assert_eq!(v["trusted"], true);
    assert!(v["error"].is_null());
    assert_eq!(v["hostname_match"], true);
    let c = &r["tls"]["certificate"];
    assert_eq!(c["key_type"], "EC");
    assert_eq!(c["key_bits"], 256);
    assert_eq!(c["curve"], "P-256");
    assert_eq!(c["san_dns"][0], NAME);
    assert_eq!(
        c["signature_algorithm"], "sha256WithRSAEncryption",
        "the test intermediate is RSA"
    );
    let days = c["days_left"].as_i64().unwrap();
    assert!((88..=90).contains(&days), "days_left {days}");
    let facts = &r["tls"]["chain_facts"];
    assert_eq!(facts["served"], 2);
    assert_eq!(facts["in_order"], true);
    assert_eq!(facts["includes_root"], false);
    assert_eq!(facts["missing_intermediate"], false);
    assert_eq!(r["tls"]["chain"][1]["is_ca"], true);
    assert_eq!(r["target"]["host"], NAME);
    assert_eq!(r["target"]["port"], s.port());
    assert_eq!(r["target"]["address"], "127.0.0.1");
}

#[test]
fn without_the_agency_ca_the_same_chain_has_an_unknown_issuer() {
    let pki = TestPki::shared();
    let s = site(&pki.leaf(&[NAME]));
    let target = format!("{NAME}:{}", s.port());
    let resolve = format!("{NAME}:{}:127.0.0.1", s.port());
    let run = scan(&[&target, "--resolve", &resolve]);
    let v = validation(&run.reports[0]);
    assert_eq!(v["trusted"], false);
    assert_eq!(v["error"], "unknown_issuer", "{v}");
    assert_eq!(v["trust_store"], "webpki-roots");
    assert_eq!(v["hostname_match"], true, "the name still matches");
}

#[test]
fn an_expired_certificate_says_expired_with_negative_days() {
    let s = site(&TestPki::shared().expired(&[NAME]));
    let r = scan_name(NAME, s.port(), &[]);
    assert_eq!(validation(&r)["error"], "expired", "{}", validation(&r));
    assert_eq!(validation(&r)["hostname_match"], true);
    let days = r["tls"]["certificate"]["days_left"].as_i64().unwrap();
    assert!((-11..=-10).contains(&days), "days_left {days}");
}

#[test]
fn a_certificate_not_yet_valid_says_so() {
    let s = site(&TestPki::shared().not_yet_valid(&[NAME]));
    let r = scan_name(NAME, s.port(), &[]);
    assert_eq!(
        validation(&r)["error"],
        "not_yet_valid",
        "{}",
        validation(&r)
    );
}

#[test]
fn a_certificate_for_another_host_is_a_hostname_mismatch() {
    let s = site(&TestPki::shared().wrong_host());
    let r = scan_name(NAME, s.port(), &[]);
    let v = validation(&r);
    assert_eq!(v["error"], "hostname_mismatch", "{v}");
    assert_eq!(v["hostname_match"], false);
    assert_eq!(v["trusted"], false);
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("wrong-host.example.org")
    );
}

#[test]
fn a_self_signed_certificate_is_reported_as_such() {
    let s = site(&TestPki::shared().self_signed(&[NAME]));
    let r = scan_name(NAME, s.port(), &[]);
    assert_eq!(validation(&r)["error"], "self_signed", "{}", validation(&r));
    assert_eq!(r["tls"]["certificate"]["self_signed"], true);
}

#[test]
fn a_leaf_served_without_its_intermediate_is_an_incomplete_chain() {
    let s = site(&TestPki::shared().missing_intermediate(&[NAME]));
    let r = scan_name(NAME, s.port(), &[]);
    assert_eq!(
        validation(&r)["error"],
        "incomplete_chain",
        "{}",
        validation(&r)
    );
    assert_eq!(r["tls"]["chain_facts"]["served"], 1);
    assert_eq!(r["tls"]["chain_facts"]["missing_intermediate"], true);
}

#[test]
fn rsa_keys_are_measured() {
    let s = site(&TestPki::shared().leaf_rsa(&[NAME]));
    let r = scan_name(NAME, s.port(), &[]);
    assert_eq!(r["tls"]["certificate"]["key_type"], "RSA");
    assert_eq!(r["tls"]["certificate"]["key_bits"], 2048);
    assert_eq!(validation(&r)["trusted"], true, "{}", validation(&r));
    let tls12 = crate::agent::suites(&r, "tls1.2");
    assert!(
        tls12.iter().all(|s| s.starts_with("TLS_ECDHE_RSA_")),
        "{tls12:?}"
    );
}

#[test]
fn wildcards_match_one_label_only() {
    let s = site(&TestPki::shared().wildcard());
    let wildcard = canhgac_testkit::pki::WILDCARD_NAME;
    let base = wildcard.trim_start_matches("*.");
    let one_label = format!("portal.{base}");
    let r = scan_name(&one_label, s.port(), &[]);
    assert_eq!(validation(&r)["trusted"], true, "{}", validation(&r));
    assert_eq!(validation(&r)["hostname_match"], true);
    for name in [format!("a.b.{base}"), base.to_string()] {
        let r = scan_name(&name, s.port(), &[]);
        assert_eq!(validation(&r)["hostname_match"], false, "{name}");
        assert_eq!(validation(&r)["error"], "hostname_mismatch", "{name}");
    }
}

#[test]
fn ip_address_targets_match_ip_sans() {
    let s = site(&TestPki::shared().localhost());
    let target = format!("127.0.0.1:{}", s.port());
    let run = scan(&[
        &target,
        "--ca-file",
        crate::agent::ca_file().to_str().unwrap(),
    ]);
    let r = &run.reports[0];
    assert_eq!(validation(r)["trusted"], true, "{}", validation(r));
    assert_eq!(r["tls"]["certificate"]["san_ip"][0], "127.0.0.1");
}

#[test]
fn a_chain_served_out_of_order_with_its_root_is_described_as_served() {
    let pki = TestPki::shared();
    let leaf = pki.leaf(&[NAME]);
    let chain = vec![
        leaf.chain_der[0].clone(),
        pki.root_der().clone(),
        pki.intermediate_der().clone(),
    ];
    let s = canhgac_testkit::TlsSiteBuilder::new(chain, leaf.key_der.clone_key())
        .start()
        .unwrap();
    let r = scan_name(NAME, s.port(), &[]);
    let facts = &r["tls"]["chain_facts"];
    assert_eq!(facts["served"], 3);
    assert_eq!(facts["in_order"], false, "{facts}");
    assert_eq!(facts["includes_root"], true);
    assert_eq!(r["tls"]["chain"][1]["self_signed"], true);
    assert_eq!(
        validation(&r)["trusted"],
        true,
        "clients still build the path"
    );
}

#[test]
fn an_ocsp_staple_is_noticed() {
    let s = TlsSite::builder(&TestPki::shared().leaf(&[NAME]))
        .ocsp_staple(vec![0x30, 0x03, 0x0a, 0x01, 0x00])
        .start()
        .unwrap();
    let r = scan_name(NAME, s.port(), &[]);
    assert_eq!(r["tls"]["negotiated"]["ocsp_stapled"], true);
    let plain = site(&TestPki::shared().leaf(&[NAME]));
    let r = scan_name(NAME, plain.port(), &[]);
    assert_eq!(r["tls"]["negotiated"]["ocsp_stapled"], false);
}
