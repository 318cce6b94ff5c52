//! The Decree 85 rules against real peers: every rule passes on a well-run site and fails (or
//! warns, where the level only warns) on a badly run one, through `canhgac-agent scan --level`.

use std::collections::{BTreeMap, HashSet};
use std::net::{Ipv6Addr, TcpListener};

use canhgac_testkit::registry::{RdapServer, Record};
use canhgac_testkit::{
    DnsServer, Dnssec, OpensslBuilder, OpensslCert, Reply, Scheme, TestPki, TestZone, TlsSite,
    WebSite, closed_port,
};
use serde_json::Value;

use crate::agent::{ca_file, scan_raw};

const GOOD_ZONE: &str = "$TTL 300
@      IN SOA ns1.tot.gov.vn. hostmaster.tot.gov.vn. 2026010101 3600 600 86400 300
@      IN NS  ns1.tot.gov.vn.
@      IN NS  ns2.tot.gov.vn.
ns1    IN A   127.0.0.1
ns2    IN A   127.0.0.1
cong   IN A   127.0.0.1
cong   IN AAAA ::1
@      IN CAA 0 issue \"letsencrypt.org\"
@      IN TXT \"v=spf1 -all\"
_dmarc IN TXT \"v=DMARC1; p=reject; rua=mailto:dmarc@tot.gov.vn\"
";

const BAD_ZONE: &str = "$TTL 300
@      IN SOA ns1.example.com. hostmaster.example.com. 2026010101 3600 600 86400 300
@      IN NS  ns1.example.com.
ns1    IN A   127.0.0.1
web    IN A   127.0.0.1
@      IN TXT \"v=spf1 +all\"
_dmarc IN TXT \"v=DMARC1; p=none\"
";

const GOOD_PAGE: &str = "<!doctype html><html lang=\"vi\"><head><title>Cổng thông tin</title></head><body><p>Thông báo lịch tiếp công dân.</p></body></html>";

const BAD_PAGE: &str = r#"<html><head><meta name="generator" content="Joomla! 3.4.1"></head><body>
<h1>Hacked by someone</h1><div style="display:none"><a href="https://x.example/">nhà cái uy tín</a></div></body></html>"#;

struct Peers {
    dns: DnsServer,
    rdap: RdapServer,
}

fn peers() -> Peers {
    let dns = DnsServer::start(vec![
        TestZone::parse("tot.gov.vn", GOOD_ZONE).dnssec(Dnssec::Signed),
        TestZone::parse("example.com", BAD_ZONE).dnssec(Dnssec::Unsigned),
    ]);
    let rdap = RdapServer::new();
    rdap.set_bootstrap_tlds(&["vn", "com"]);
    rdap.add_record("tot.gov.vn", &Record::expiring_in_days(400));
    rdap.add_record("example.com", &Record::expiring_in_days(5));
    Peers { dns, rdap }
}

/// Scans one target with every probe pointed at the loopback peers, evaluated at level 5
/// (where every rule is on), and returns rule -> status.
fn evaluate(
    peers: &Peers,
    target: &str,
    http_port: u16,
    extra: &[&str],
) -> BTreeMap<String, String> {
    let dns = peers.dns.addr().to_string();
    let anchor = peers.dns.trust_anchor_file().to_str().unwrap().to_string();
    let bootstrap = peers.rdap.bootstrap_url();
    let http = http_port.to_string();
    let mut args = vec![
        "--level",
        "5",
        "--timeout",
        "3",
        "--resolver",
        dns.as_str(),
        "--dns-trust-anchor",
        anchor.as_str(),
        "--rdap-bootstrap",
        bootstrap.as_str(),
        "--ca-file",
        ca_file().to_str().unwrap(),
        "--http-port",
        http.as_str(),
    ];
    args.extend_from_slice(extra);
    args.push(target);
    let run = scan_raw(&args);
    assert_eq!(run.reports.len(), 1, "{}", run.stderr);
    let r: &Value = &run.reports[0];
    let e = &r["evaluation"];
    assert_eq!(e["level"], 5);
    e["results"]
        .as_array()
        .expect("evaluation.results")
        .iter()
        .map(|x| {
            assert!(
                x["severity"].is_string() && x["evidence"].is_string(),
                "{x}"
            );
            (
                x["rule"].as_str().unwrap().to_string(),
                x["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn every_rule_passes_on_a_good_site_and_fails_on_a_bad_one() {
    let peers = peers();
    let pki = TestPki::shared();

    // A well-run site: signed zone, IPv6, mail records, good TLS and headers, clean page.
    let good = WebSite::start(&pki.leaf(&["cong.tot.gov.vn"])).unwrap();
    let https = format!("https://cong.tot.gov.vn:{}", good.https_port());
    good.route(
        Scheme::Http,
        "/",
        Reply::redirect(301, &format!("{https}/")),
    );
    good.route(
        Scheme::Https,
        "/",
        Reply::html(GOOD_PAGE)
            .with_header(
                "Strict-Transport-Security",
                "max-age=31536000; includeSubDomains",
            )
            .with_header(
                "Content-Security-Policy",
                "default-src 'self'; frame-ancestors 'self'",
            )
            .with_header("X-Frame-Options", "SAMEORIGIN")
            .with_header("X-Content-Type-Options", "nosniff")
            .with_header("Referrer-Policy", "strict-origin-when-cross-origin")
            .with_header(
                "Set-Cookie",
                "sid=1; Path=/; Secure; HttpOnly; SameSite=Lax",
            ),
    );
    let _v6 = TcpListener::bind((Ipv6Addr::LOCALHOST, good.https_port())).expect("[::1] port");
    let target = format!("cong.tot.gov.vn:{}", good.https_port());
    let good_results = evaluate(&peers, &target, good.http_port(), &[]);
    let not_passing: Vec<_> = good_results.iter().filter(|(_, s)| *s != "pass").collect();
    assert!(
        not_passing.is_empty(),
        "the good site should pass everything: {not_passing:?}"
    );
    assert_eq!(good_results.len(), 27, "{good_results:?}");

    // Badly run sites, each breaking a family of rules.
    let mut failed: HashSet<String> = HashSet::new();
    let mut record = |results: BTreeMap<String, String>| {
        for (rule, status) in results {
            if status == "fail" || status == "warn" {
                failed.insert(rule);
            }
        }
    };

    // Web, DNS and domain: a .com name, unsigned zone without AAAA or CAA, SPF +all, DMARC none,
    // domain expiring in 5 days, no redirect, no headers, a version, an insecure cookie, an
    // exposed .git, gambling links and a defacement.
    let bad = WebSite::start(&pki.leaf(&["web.example.com"])).unwrap();
    bad.route(Scheme::Http, "/", Reply::html("<html>plain</html>"));
    bad.route(
        Scheme::Https,
        "/",
        Reply::html(BAD_PAGE)
            .with_header("Server", "Apache/2.4.41 (Ubuntu)")
            .with_header("Set-Cookie", "PHPSESSID=1; Path=/"),
    );
    bad.route(
        Scheme::Https,
        "/.git/HEAD",
        Reply::text("text/plain", b"ref: refs/heads/master\n"),
    );
    record(evaluate(
        &peers,
        &format!("web.example.com:{}", bad.https_port()),
        bad.http_port(),
        &[],
    ));

    // A name that does not resolve.
    record(evaluate(
        &peers,
        "khong-co.example.com:443",
        80,
        &["--probes", "dns"],
    ));

    // TLS: TLS 1.0 and NULL/static-RSA suites, an RSA 1024 self-signed certificate for another
    // name (openssl s_server).
    let legacy = OpensslBuilder::new()
        .protocols(&["-no_tls1_3"])
        .arg("-min_protocol")
        .arg("TLSv1")
        .cipher("NULL-SHA:AES128-SHA")
        .cert(OpensslCert::Rsa1024Sha256)
        .self_signed(true)
        .names(&["other.example.org"])
        .start()
        .unwrap();
    let t = format!("tls.example.com:{}", legacy.port());
    let pin = format!("tls.example.com:{}:127.0.0.1", legacy.port());
    record(evaluate(
        &peers,
        &t,
        80,
        &["--probes", "tls", "--resolve", &pin],
    ));

    // TLS: an expired certificate.
    let expired = TlsSite::start(&pki.expired(&["old.example.com"])).unwrap();
    let t = format!("old.example.com:{}", expired.port());
    let pin = format!("old.example.com:{}:127.0.0.1", expired.port());
    record(evaluate(
        &peers,
        &t,
        80,
        &["--probes", "tls", "--resolve", &pin],
    ));

    // TLS: nothing listening at all.
    let port = closed_port();
    let t = format!("down.example.com:{port}");
    let pin = format!("down.example.com:{port}:127.0.0.1");
    record(evaluate(
        &peers,
        &t,
        80,
        &["--probes", "tls", "--resolve", &pin],
    ));

    let never_failed: Vec<&String> = good_results
        .keys()
        .filter(|r| !failed.contains(*r))
        .collect();
    assert!(
        never_failed.is_empty(),
        "rules no bad site made fail: {never_failed:?}"
    );
}

#[test]
fn the_table_lists_failures_first_with_remediation() {
    let site = TlsSite::start(&TestPki::shared().expired(&["localhost"])).unwrap();
    let target = format!("localhost:{}", site.port());
    let pin = format!("localhost:{}:127.0.0.1", site.port());
    let out = std::process::Command::new(crate::agent::agent_bin())
        .args([
            "scan",
            "--probes",
            "tls",
            "--level",
            "3",
            &target,
            "--resolve",
            &pin,
        ])
        .args(["--ca-file", ca_file().to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let fail = text.find("FAIL high").expect("a failure row");
    let pass = text.find("pass / n/a").expect("the passes row");
    assert!(fail < pass, "{text}");
    assert!(text.contains("tls.cert_trusted"), "{text}");
    assert!(text.contains("Khắc phục:"), "{text}");
    assert!(
        text.contains("grade D (50 / 100)"),
        "two high failures and one medium: {text}"
    );
}

#[test]
fn policy_check_accepts_the_shipped_pack_and_pinpoints_a_broken_one() {
    let shipped =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/packs/decree85");
    let ok = std::process::Command::new(crate::agent::agent_bin())
        .args(["policy", "check"])
        .arg(&shipped)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("27 rules"));

    let dir = tempfile::tempdir().unwrap();
    for f in ["pack.toml", "rules.toml", "workflow.toml", "calendar.toml"] {
        std::fs::copy(shipped.join(f), dir.path().join(f)).unwrap();
    }
    let rules = std::fs::read_to_string(dir.path().join("rules.toml")).unwrap();
    let broken = rules.replacen("kind = \"at_least\"", "kind = \"at_most\"", 1);
    let line = broken.lines().position(|l| l.contains("at_most")).unwrap() + 1;
    std::fs::write(dir.path().join("rules.toml"), broken).unwrap();
    let out = std::process::Command::new(crate::agent::agent_bin())
        .args(["policy", "check"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("rules.toml:{line}:")),
        "line {line}: {stderr}"
    );
    assert!(stderr.contains("unknown variant `at_most`"), "{stderr}");

    let show = std::process::Command::new(crate::agent::agent_bin())
        .args(["policy", "show", "--level", "3", "--json"])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(doc["level"], 3);
    assert_eq!(doc["rules"].as_array().unwrap().len(), 27);
}
