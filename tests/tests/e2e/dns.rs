//! The DNS probe end to end: the real agent asks a real DNS server on 127.0.0.1 (the test
//! kit's, authoritative for every fixture zone and for a signed test root whose key is the
//! trust anchor), checks STARTTLS on a real SMTP server on 127.0.0.1 and HTTPS over IPv6 on
//! [::1]. The target name is pinned to 127.0.0.1 with `--resolve`, so nothing is ever asked of
//! the system resolver; see `canhgac_testkit::dns_server::standard_zones` for the zones.

use std::net::{Ipv6Addr, TcpListener};
use std::sync::OnceLock;
use std::time::Duration;

use canhgac_testkit::dns_server::BIG_ANSWER;
use canhgac_testkit::{DnsServer, SmtpServer, TestPki, closed_port};
use serde_json::Value;

use crate::agent::{ca_file, scan_raw};

fn server() -> &'static DnsServer {
    static SERVER: OnceLock<DnsServer> = OnceLock::new();
    SERVER.get_or_init(DnsServer::standard)
}

/// Scans `host:port` with only the DNS probe; returns the `dns` object and the run time.
fn dns_scan_port(host: &str, port: u16, smtp_port: u16) -> (Value, Duration) {
    let dns = server();
    let resolver = dns.addr().to_string();
    let anchor = dns.trust_anchor_file().to_str().unwrap().to_string();
    let smtp = smtp_port.to_string();
    let target = format!("{host}:{port}");
    let pin = format!("{host}:{port}:127.0.0.1");
    let run = scan_raw(&[
        "--probes",
        "dns",
        "--resolver",
        &resolver,
        "--dns-trust-anchor",
        &anchor,
        "--smtp-port",
        &smtp,
        "--ca-file",
        ca_file().to_str().unwrap(),
        "--resolve",
        &pin,
        "--timeout",
        "3",
        &target,
    ]);
    assert_eq!(run.reports.len(), 1, "stderr: {}", run.stderr);
    let report = run.reports.into_iter().next().unwrap();
    assert!(report["tls"].is_null(), "only the DNS probe runs");
    let dns = report["dns"].clone();
    assert!(dns.is_object(), "no dns report: {report}");
    (dns, run.elapsed)
}

/// Scans `host` (port 443, SMTP checks against a closed port).
fn dns_scan(host: &str) -> Value {
    dns_scan_port(host, 443, closed_port()).0
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn addresses_and_https_over_ipv6() {
    // Something listening on [::1]: the AAAA record leads to a working HTTPS port.
    let listener = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).expect("[::1] is available");
    let port = listener.local_addr().unwrap().port();
    let (dns, _) = dns_scan_port("host.example.gov.vn", port, closed_port());
    assert_eq!(strings(&dns["a"]), ["127.0.0.1"], "{dns}");
    assert_eq!(strings(&dns["aaaa"]), ["::1"]);
    assert_eq!(dns["ipv6"], true, "{dns}");
    assert!(dns["cname"].is_null());
    assert!(dns["cname_dangling"].is_null());
    assert_eq!(dns["resolver"], server().addr().to_string());
    assert!(dns["errors"].get("IPv6").is_none(), "{}", dns["errors"]);
}

#[test]
fn ipv6_is_false_without_aaaa_or_without_a_listener() {
    let dns = dns_scan("v4only.example.gov.vn");
    assert_eq!(strings(&dns["a"]), ["127.0.0.1"]);
    assert!(strings(&dns["aaaa"]).is_empty());
    assert_eq!(dns["ipv6"], false, "{dns}");

    // AAAA ::1 but nothing listens on the port there.
    let free = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let (dns, _) = dns_scan_port("host.example.gov.vn", port, closed_port());
    assert_eq!(dns["ipv6"], false, "{dns}");
    assert_eq!(dns["errors"]["IPv6"]["code"], "connection_refused", "{dns}");
}

#[test]
fn aliases_and_dangling_aliases() {
    let dns = dns_scan("www.example.gov.vn");
    assert_eq!(dns["cname"], "host.example.gov.vn", "{dns}");
    assert_eq!(dns["cname_dangling"], false);
    assert_eq!(
        strings(&dns["a"]),
        ["127.0.0.1"],
        "the alias resolves through"
    );

    let dns = dns_scan("old.example.gov.vn");
    assert_eq!(dns["cname"], "gone.example.gov.vn", "{dns}");
    assert_eq!(dns["cname_dangling"], true, "{dns}");
    assert!(strings(&dns["a"]).is_empty());
}

#[test]
fn name_servers_of_the_zone_answer_with_authority() {
    let dns = dns_scan("host.example.gov.vn");
    let ns = dns["ns"].as_array().expect("ns list");
    let names: Vec<&str> = ns.iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ns1.example.gov.vn", "ns2.example.gov.vn"], "{dns}");
    for n in ns {
        assert_eq!(strings(&n["addresses"]), ["127.0.0.1"], "{n}");
        assert_eq!(n["answers"], true, "{n}");
    }
}

#[test]
fn a_lame_name_server_does_not_answer() {
    let dns = dns_scan("www.lame.gov.vn");
    let ns = &dns["ns"][0];
    assert_eq!(ns["name"], "ns.lame.gov.vn", "{dns}");
    assert_eq!(strings(&ns["addresses"]), ["127.0.0.2"]);
    assert_eq!(ns["answers"], false, "{dns}");
    assert!(
        dns["errors"]["NS ns.lame.gov.vn"]["code"].is_string(),
        "{}",
        dns["errors"]
    );
}

#[test]
fn caa_comes_from_the_closest_name_that_has_it() {
    let dns = dns_scan("host.example.gov.vn");
    let caa = strings(&dns["caa"]);
    assert!(
        caa.contains(&"0 issue \"letsencrypt.org\"".to_string()),
        "{caa:?}"
    );
    assert!(
        caa.contains(&"0 iodef \"mailto:security@example.gov.vn\"".to_string()),
        "{caa:?}"
    );
    let dns = dns_scan("www.signed.gov.vn");
    assert!(strings(&dns["caa"]).is_empty(), "{dns}");
}

#[test]
fn starttls_with_a_valid_certificate() {
    let pki = TestPki::shared();
    let smtp = SmtpServer::with_starttls(pki.leaf(&["mx.example.gov.vn"]));
    let (dns, _) = dns_scan_port("host.example.gov.vn", 443, smtp.port());
    let mx = &dns["mx"][0];
    assert_eq!(mx["exchange"], "mx.example.gov.vn", "{dns}");
    assert_eq!(mx["preference"], 10);
    assert_eq!(mx["starttls"], true, "{mx}");
    assert_eq!(mx["certificate_valid"], true, "{mx}");
    assert!(mx["error"].is_null(), "{mx}");
    assert_eq!(smtp.stats().tls_handshakes(), 1);
    assert_eq!(smtp.stats().quits(), 1, "the probe says QUIT");
}

#[test]
fn starttls_with_a_certificate_for_another_name() {
    let smtp = SmtpServer::with_starttls(TestPki::shared().wrong_host());
    let (dns, _) = dns_scan_port("host.example.gov.vn", 443, smtp.port());
    let mx = &dns["mx"][0];
    assert_eq!(mx["starttls"], true, "{mx}");
    assert_eq!(mx["certificate_valid"], false, "{mx}");
    assert_eq!(mx["error"]["code"], "hostname_mismatch", "{mx}");
    assert_eq!(
        smtp.stats().quits(),
        1,
        "the handshake completes and the probe says QUIT"
    );
}

#[test]
fn no_starttls_and_no_smtp_server() {
    let smtp = SmtpServer::plain();
    let (dns, _) = dns_scan_port("host.example.gov.vn", 443, smtp.port());
    let mx = &dns["mx"][0];
    assert_eq!(mx["starttls"], false, "{mx}");
    assert!(mx["certificate_valid"].is_null());
    assert_eq!(smtp.stats().ehlo(), 1);
    drop(smtp);

    let dns = dns_scan("host.example.gov.vn");
    let mx = &dns["mx"][0];
    assert!(mx["starttls"].is_null(), "could not connect: {mx}");
    assert_eq!(mx["error"]["code"], "connection_refused", "{mx}");
}

#[test]
fn spf_dmarc_mta_sts_and_tls_rpt_of_the_mail_domain() {
    // host.example.gov.vn has no MX: the mail domain is example.gov.vn.
    let dns = dns_scan("host.example.gov.vn");
    let spf = &dns["spf"];
    assert_eq!(spf["all"], "~all", "{dns}");
    assert_eq!(spf["lookups"], 3, "mx, a and one include: {spf}");
    assert!(strings(&spf["problems"]).is_empty(), "{spf}");
    assert!(spf["raw"].as_str().unwrap().starts_with("v=spf1 mx"));
    let dmarc = &dns["dmarc"];
    assert_eq!(dmarc["policy"], "quarantine", "{dmarc}");
    assert_eq!(dmarc["subdomain_policy"], "reject");
    assert_eq!(dmarc["pct"], 100);
    assert_eq!(strings(&dmarc["rua"]), ["mailto:dmarc@example.gov.vn"]);
    assert!(strings(&dmarc["problems"]).is_empty(), "{dmarc}");
    assert_eq!(dns["mta_sts"], "v=STSv1; id=20260101T000000");
    assert_eq!(
        dns["tls_rpt"],
        "v=TLSRPTv1; rua=mailto:tlsrpt@example.gov.vn"
    );
}

#[test]
fn spf_over_the_lookup_limit_with_plus_all() {
    let dns = dns_scan("bulk.example.gov.vn");
    let spf = &dns["spf"];
    assert_eq!(spf["all"], "+all", "{spf}");
    // 2 includes + a + mx, then 4 in each include, then 0 in the nested _spf.
    assert_eq!(spf["lookups"], 12, "{spf}");
    let problems = strings(&spf["problems"]);
    assert!(
        problems.iter().any(|p| p.starts_with("+all")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("over the RFC 7208 limit of 10")),
        "{problems:?}"
    );
    // DMARC falls back to the zone apex (the organizational domain).
    assert_eq!(dns["dmarc"]["policy"], "quarantine");
}

#[test]
fn dnssec_valid() {
    let dns = dns_scan("www.signed.gov.vn");
    assert_eq!(dns["dnssec"], "valid", "{dns}");
    assert!(dns["dnssec_detail"].is_null());
    assert_eq!(strings(&dns["a"]), ["127.0.0.1"]);
}

#[test]
fn dnssec_unsigned_zone_and_missing_ds() {
    let dns = dns_scan("host.example.gov.vn");
    assert_eq!(dns["dnssec"], "unsigned", "{dns}");
    let detail = dns["dnssec_detail"].as_str().unwrap();
    assert!(detail.starts_with("not signed"), "{detail}");

    let dns = dns_scan("www.island.gov.vn");
    assert_eq!(dns["dnssec"], "unsigned", "{dns}");
    let detail = dns["dnssec_detail"].as_str().unwrap();
    assert!(detail.starts_with("missing DS"), "{detail}");
}

#[test]
fn dnssec_bogus_says_why() {
    for (host, cause) in [
        ("www.bogus.gov.vn", "bad signature"),
        ("www.expired.gov.vn", "expired signature"),
        ("www.mismatch.gov.vn", "DS mismatch"),
    ] {
        let dns = dns_scan(host);
        assert_eq!(dns["dnssec"], "bogus", "{host}: {dns}");
        let detail = dns["dnssec_detail"].as_str().unwrap();
        assert!(detail.starts_with(cause), "{host}: {detail}");
        // The records are still reported: validation is judged separately.
        assert_eq!(strings(&dns["a"]), ["127.0.0.1"], "{host}");
    }
}

#[test]
fn a_thousand_records_stay_bounded_and_fast() {
    let (dns, elapsed) = dns_scan_port("big.example.gov.vn", 443, closed_port());
    let a = strings(&dns["a"]);
    assert_eq!(a.len(), 50, "{dns}");
    assert!(a.iter().all(|ip| ip.starts_with("127.1.")));
    let note = &dns["errors"]["A"];
    assert_eq!(note["code"], "too_large", "{note}");
    assert!(
        note["message"]
            .as_str()
            .unwrap()
            .contains(&BIG_ANSWER.to_string())
    );
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

#[test]
fn a_name_that_does_not_exist() {
    let dns = dns_scan("nothing-here.example.gov.vn");
    assert!(strings(&dns["a"]).is_empty());
    assert_eq!(dns["errors"]["A"]["code"], "nxdomain", "{dns}");
    assert!(dns["ipv6"] == false, "no AAAA: {dns}");
    // The zone is still found above the missing name.
    assert_eq!(dns["ns"].as_array().map(Vec::len), Some(2), "{dns}");
}
