//! The domain probe against loopback registries: RDAP first, WHOIS as fallback, expiry in whole
//! days, statuses as the registry gives them, and clear errors (exit status 3) when neither
//! registry gives usable data. Every run passes `--rdap-bootstrap` and `--whois-server`
//! pointing at fixtures on 127.0.0.1, and pins the target's name with `--resolve`, so nothing
//! leaves the machine.

use std::time::Duration;

use canhgac_testkit::registry::{
    MALFORMED_WHOIS, icann_whois_text, vnnic_whois_text, whois_not_found_text,
};
use canhgac_testkit::{RdapMode, RdapServer, Record, WhoisAnswer, WhoisServer, closed_port};
use serde_json::Value;

use crate::agent::{Run, scan_raw};

const HOST: &str = "sct.example.gov.vn";
const NAME: &str = "example.gov.vn";

/// Runs a domain-only scan of `host:443` against the given registries; returns the run and
/// its report's `domain` object.
fn scan_domain(host: &str, bootstrap: &str, whois: &str, timeout: &str) -> (Run, Value) {
    let target = format!("{host}:443");
    let resolve = format!("{host}:443:127.0.0.1");
    let run = scan_raw(&[
        "--probes",
        "domain",
        "--rdap-bootstrap",
        bootstrap,
        "--whois-server",
        whois,
        "--timeout",
        timeout,
        "--resolve",
        &resolve,
        &target,
    ]);
    assert_eq!(run.reports.len(), 1, "stderr: {}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "stderr: {}", run.stderr);
    let domain = run.reports[0]["domain"].clone();
    assert!(domain.is_object(), "no domain section: {}", run.reports[0]);
    (run, domain)
}

fn scan_registries(host: &str, rdap: &RdapServer, whois: &WhoisServer) -> (Run, Value) {
    scan_domain(host, &rdap.bootstrap_url(), &whois.server_arg(), "3")
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn error_code(domain: &Value) -> &str {
    domain["error"]["code"].as_str().unwrap_or("<none>")
}

#[test]
fn rdap_is_preferred_and_gives_the_expiry() {
    let rdap = RdapServer::new();
    let whois = WhoisServer::new();
    let record = Record::expiring_in_days(200);
    rdap.add_record(NAME, &record);
    whois.add_text(NAME, &vnnic_whois_text(NAME, &Record::expiring_in_days(30)));

    let (run, d) = scan_registries(HOST, &rdap, &whois);
    assert_eq!(run.status, 0, "stderr: {}\n{d}", run.stderr);
    assert_eq!(d["name"], NAME);
    assert_eq!(d["gov_vn"], true);
    assert_eq!(d["source"], "rdap");
    assert_eq!(d["expires_in_days"], 200);
    assert_eq!(d["expires"], record.expires.to_string());
    assert_eq!(d["created"], "2004-03-15T02:00:00Z");
    assert_eq!(d["registrar"], "Trung tâm Internet Việt Nam (VNNIC)");
    assert_eq!(strings(&d["statuses"]), ["clientTransferProhibited"]);
    assert_eq!(
        strings(&d["nameservers"]),
        ["ns1.example.gov.vn", "ns2.example.gov.vn"]
    );
    assert!(d["error"].is_null(), "{d}");
    assert_eq!(
        rdap.requests(),
        ["/bootstrap/dns.json", "/domain/example.gov.vn"]
    );
    assert!(
        whois.queries().is_empty(),
        "WHOIS must not be asked when RDAP answers"
    );
}

#[test]
fn client_hold_is_reported_as_the_registry_gives_it() {
    let rdap = RdapServer::new();
    let whois = WhoisServer::new();
    rdap.add_record(
        NAME,
        &Record::expiring_in_days(100).with_statuses(&["clientHold", "serverTransferProhibited"]),
    );
    let (run, d) = scan_registries(HOST, &rdap, &whois);
    assert_eq!(run.status, 0, "{d}");
    assert_eq!(d["source"], "rdap");
    assert_eq!(
        strings(&d["statuses"]),
        ["clientHold", "serverTransferProhibited"]
    );

    // The same status through an ICANN-style WHOIS record.
    let whois = WhoisServer::new();
    whois.add_text(
        "example.com",
        &icann_whois_text(
            "example.com",
            &Record::expiring_in_days(100).with_statuses(&["clientHold"]),
        ),
    );
    let (_, d) = scan_registries("www.example.com", &RdapServer::new(), &whois);
    assert_eq!(d["source"], "whois");
    assert_eq!(strings(&d["statuses"]), ["clientHold"]);
}

#[test]
fn whois_is_asked_when_rdap_has_no_such_domain() {
    let rdap = RdapServer::new();
    let whois = WhoisServer::new();
    whois.add_text(NAME, &vnnic_whois_text(NAME, &Record::expiring_in_days(45)));

    let (run, d) = scan_registries(HOST, &rdap, &whois);
    assert_eq!(run.status, 0, "stderr: {}\n{d}", run.stderr);
    assert_eq!(d["source"], "whois");
    assert_eq!(d["gov_vn"], true);
    // VNNIC gives dates without a time: midnight UTC of the expiry day, so 44 or 45 whole days.
    let days = d["expires_in_days"].as_i64().unwrap();
    assert!((44..=45).contains(&days), "{d}");
    assert_eq!(d["created"], "2004-03-15T00:00:00Z");
    assert_eq!(d["registrar"], "Trung tâm Internet Việt Nam (VNNIC)");
    assert_eq!(strings(&d["statuses"]), ["clientTransferProhibited"]);
    assert_eq!(
        strings(&d["nameservers"]),
        ["ns1.example.gov.vn", "ns2.example.gov.vn"]
    );
    assert_eq!(rdap.domain_requests(), 1);
    assert_eq!(whois.queries(), [NAME]);
}

#[test]
fn whois_is_asked_when_rdap_times_out() {
    let rdap = RdapServer::new();
    rdap.add_record(NAME, &Record::expiring_in_days(300));
    rdap.set_mode(RdapMode::Slow(Duration::from_secs(30)));
    let whois = WhoisServer::new();
    whois.add_text(NAME, &vnnic_whois_text(NAME, &Record::expiring_in_days(60)));

    let (run, d) = scan_domain(HOST, &rdap.bootstrap_url(), &whois.server_arg(), "1");
    assert_eq!(run.status, 0, "{d}");
    assert_eq!(d["source"], "whois");
    let days = d["expires_in_days"].as_i64().unwrap();
    assert!((59..=60).contains(&days), "{d}");
    assert!(
        run.elapsed < Duration::from_secs(10),
        "took {:?}",
        run.elapsed
    );
}

#[test]
fn whois_is_asked_when_the_bootstrap_lists_no_rdap_service() {
    let rdap = RdapServer::new();
    rdap.set_bootstrap_tlds(&["com", "net"]);
    rdap.add_record(NAME, &Record::expiring_in_days(300));
    let whois = WhoisServer::new();
    whois.add_text(NAME, &vnnic_whois_text(NAME, &Record::expiring_in_days(20)));

    let (run, d) = scan_registries(HOST, &rdap, &whois);
    assert_eq!(run.status, 0, "{d}");
    assert_eq!(d["source"], "whois");
    assert_eq!(
        rdap.domain_requests(),
        0,
        "no RDAP service for .vn: nothing to ask"
    );
}

#[test]
fn icann_whois_record_of_a_non_government_name() {
    let whois = WhoisServer::new();
    let mut record = Record::expiring_in_days(365).with_registrar("Example Registrar, Inc.");
    record.nameservers = vec!["a.iana-servers.net".into(), "b.iana-servers.net".into()];
    whois.add_text("example.com", &icann_whois_text("example.com", &record));

    let (run, d) = scan_registries("www.example.com", &RdapServer::new(), &whois);
    assert_eq!(run.status, 0, "{d}");
    assert_eq!(d["name"], "example.com");
    assert_eq!(d["gov_vn"], false);
    assert_eq!(d["source"], "whois");
    assert_eq!(d["expires_in_days"], 365);
    assert_eq!(d["expires"], record.expires.to_string());
    assert_eq!(d["registrar"], "Example Registrar, Inc.");
    assert_eq!(
        strings(&d["nameservers"]),
        ["a.iana-servers.net", "b.iana-servers.net"]
    );
}

#[test]
fn an_expired_domain_has_negative_days() {
    let rdap = RdapServer::new();
    rdap.add_record(NAME, &Record::expiring_in_days(-10));
    let (run, d) = scan_registries(HOST, &rdap, &WhoisServer::new());
    assert_eq!(run.status, 0, "{d}");
    assert_eq!(d["expires_in_days"], -10);
}

#[test]
fn malformed_answers_give_a_clear_error() {
    let rdap = RdapServer::new();
    rdap.add_record(NAME, &Record::expiring_in_days(100));
    rdap.set_mode(RdapMode::Malformed);
    let whois = WhoisServer::new();
    whois.add(NAME, WhoisAnswer::Close(MALFORMED_WHOIS.to_vec()));

    let (run, d) = scan_registries(HOST, &rdap, &whois);
    assert_eq!(
        run.status, 3,
        "a failed lookup makes the scan incomplete: {d}"
    );
    assert!(
        run.stderr.contains("could not be scanned completely"),
        "{}",
        run.stderr
    );
    assert!(d["source"].is_null(), "{d}");
    assert!(d["expires_in_days"].is_null());
    assert_eq!(error_code(&d), "unparseable", "{d}");
    let message = d["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("RDAP: ") && message.contains("not JSON") && message.contains("WHOIS: "),
        "{message}"
    );
}

#[test]
fn malformed_rdap_falls_back_to_whois() {
    let rdap = RdapServer::new();
    rdap.add_record(NAME, &Record::expiring_in_days(100));
    rdap.set_mode(RdapMode::Malformed);
    let whois = WhoisServer::new();
    whois.add_text(NAME, &vnnic_whois_text(NAME, &Record::expiring_in_days(80)));
    let (run, d) = scan_registries(HOST, &rdap, &whois);
    assert_eq!(run.status, 0, "{d}");
    assert_eq!(d["source"], "whois");
}

#[test]
fn a_date_that_is_not_understood_is_an_error_not_a_guess() {
    let whois = WhoisServer::new();
    whois.add_text(
        NAME,
        "Domain Name: example.gov.vn\nRegistrar Name: VNNIC\nExpired Date: 31/31/2030\nStatus: ok\n",
    );
    let (run, d) = scan_registries(HOST, &RdapServer::new(), &whois);
    assert_eq!(run.status, 3, "{d}");
    assert_eq!(d["source"], "whois");
    assert!(
        d["expires"].is_null() && d["expires_in_days"].is_null(),
        "{d}"
    );
    assert_eq!(error_code(&d), "unparseable");
    assert!(
        d["error"]["message"]
            .as_str()
            .unwrap()
            .contains("31/31/2030"),
        "{d}"
    );
    assert_eq!(strings(&d["statuses"]), ["ok"]);
}

#[test]
fn a_whois_server_that_never_closes_gives_a_bounded_timeout() {
    let rdap = RdapServer::new();
    let whois = WhoisServer::new();
    // A record that drips in a byte every 300 ms: only its first bytes arrive in time.
    whois.add(
        NAME,
        WhoisAnswer::Drip {
            bytes: vnnic_whois_text(NAME, &Record::expiring_in_days(30)).into_bytes(),
            interval: Duration::from_millis(300),
        },
    );
    let (run, d) = scan_domain(HOST, &rdap.bootstrap_url(), &whois.server_arg(), "2");
    assert_eq!(run.status, 3, "{d}");
    assert!(d["source"].is_null(), "{d}");
    assert_eq!(error_code(&d), "timeout", "{d}");
    assert!(
        d["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not close"),
        "{d}"
    );
    assert!(
        run.elapsed < Duration::from_secs(8),
        "took {:?}",
        run.elapsed
    );

    // The whole record, then silence: its fields are reported, with the timeout beside them.
    let whois = WhoisServer::new();
    whois.add(
        NAME,
        WhoisAnswer::NeverClose(vnnic_whois_text(NAME, &Record::expiring_in_days(30)).into_bytes()),
    );
    let (run, d) = scan_domain(HOST, &rdap.bootstrap_url(), &whois.server_arg(), "2");
    assert_eq!(run.status, 3, "{d}");
    assert_eq!(d["source"], "whois");
    assert!(d["expires_in_days"].is_i64(), "{d}");
    assert_eq!(error_code(&d), "timeout", "{d}");
    assert!(
        run.elapsed < Duration::from_secs(8),
        "took {:?}",
        run.elapsed
    );
}

#[test]
fn nothing_answering_is_unavailability_not_a_pass() {
    let bootstrap = format!("http://127.0.0.1:{}/bootstrap/dns.json", closed_port());
    let whois = format!("127.0.0.1:{}", closed_port());
    let (run, d) = scan_domain(HOST, &bootstrap, &whois, "2");
    assert_eq!(run.status, 3, "{d}");
    assert!(d["source"].is_null(), "{d}");
    assert_eq!(error_code(&d), "connection_refused", "{d}");
    assert_eq!(d["gov_vn"], true);
    assert_eq!(d["name"], NAME);
}

#[test]
fn an_unregistered_name_is_not_found() {
    let whois = WhoisServer::new();
    whois.add_text(NAME, &whois_not_found_text(NAME));
    let (run, d) = scan_registries(HOST, &RdapServer::new(), &whois);
    assert_eq!(run.status, 3, "{d}");
    assert!(d["source"].is_null(), "{d}");
    assert_eq!(error_code(&d), "not_found", "{d}");
}

#[test]
fn ip_targets_have_no_domain_lookup() {
    let rdap = RdapServer::new();
    let whois = WhoisServer::new();
    let run = scan_raw(&[
        "--probes",
        "domain",
        "--rdap-bootstrap",
        &rdap.bootstrap_url(),
        "--whois-server",
        &whois.server_arg(),
        "127.0.0.1:443",
    ]);
    assert_eq!(run.reports.len(), 1, "stderr: {}", run.stderr);
    assert!(run.reports[0]["domain"].is_null());
    assert_eq!(run.status, 0);
    assert!(rdap.requests().is_empty() && whois.queries().is_empty());
}
