//! Peers that stall, babble, oversize or truncate: the agent reports a clear error in bounded
//! time and never panics.

use std::time::Duration;

use canhgac_testkit::{HostilePeer, closed_port};
use serde_json::Value;

use crate::agent::{Run, scan};

fn run_against(port: u16, timeout: &str) -> Run {
    let target = format!("127.0.0.1:{port}");
    scan(&[&target, "--timeout", timeout])
}

fn error_codes(r: &Value) -> Vec<String> {
    let tls = &r["tls"];
    let mut codes: Vec<String> = tls["protocol_errors"]
        .as_object()
        .map(|m| {
            m.values()
                .map(|e| e["code"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    for key in ["error", "negotiation_error"] {
        if let Some(c) = tls[key]["code"].as_str() {
            codes.push(c.to_string());
        }
    }
    codes
}

#[test]
fn a_closed_port_is_unreachable() {
    let run = run_against(closed_port(), "2");
    assert_eq!(run.status, 3, "incomplete scans give exit status 3");
    let r = &run.reports[0];
    assert_eq!(r["tls"]["reachable"], false);
    assert_eq!(r["tls"]["error"]["code"], "connection_refused");
    assert_eq!(r["tls"]["validation"]["status"], "unknown");
    assert!(r["tls"]["protocols"]["tls1.2"].is_null());
    assert!(run.stderr.contains("1 of 1 target(s) could not be scanned"));
}

#[test]
fn a_silent_server_times_out_without_hanging() {
    let peer = HostilePeer::silent();
    let run = run_against(peer.port(), "1");
    assert!(
        run.elapsed < Duration::from_secs(10),
        "took {:?}",
        run.elapsed
    );
    assert_eq!(run.status, 3);
    let r = &run.reports[0];
    assert_eq!(r["tls"]["reachable"], true);
    assert_eq!(r["tls"]["error"]["code"], "timeout", "{}", r["tls"]);
    assert!(r["tls"]["protocols"]["tls1.2"].is_null());
    assert_eq!(r["tls"]["protocol_errors"]["tls1.0"]["code"], "skipped");
    assert_eq!(r["tls"]["validation"]["status"], "unknown");
}

#[test]
fn garbage_is_a_protocol_violation() {
    let peer = HostilePeer::garbage();
    let run = run_against(peer.port(), "2");
    let r = &run.reports[0];
    assert_eq!(
        r["tls"]["error"]["code"], "protocol_violation",
        "{}",
        r["tls"]
    );
    assert!(r["tls"]["protocols"]["tls1.2"].is_null());
    assert_eq!(run.status, 3);
}

#[test]
fn a_16_mb_certificate_is_refused_within_the_byte_budget() {
    let peer = HostilePeer::huge_certificate();
    let run = run_against(peer.port(), "5");
    assert!(
        run.elapsed < Duration::from_secs(20),
        "took {:?}",
        run.elapsed
    );
    let codes = error_codes(&run.reports[0]);
    assert!(codes.iter().any(|c| c == "too_large"), "{codes:?}");
}

#[test]
fn closing_mid_handshake_is_a_clear_error() {
    let peer = HostilePeer::close_mid_handshake();
    let run = run_against(peer.port(), "2");
    let r = &run.reports[0];
    assert!(r["tls"]["protocols"]["tls1.2"].is_null(), "{}", r["tls"]);
    let codes = error_codes(r);
    assert!(codes.iter().any(|c| c == "protocol_violation"), "{codes:?}");
}

#[test]
fn a_dripping_server_hits_the_deadline() {
    let peer = HostilePeer::drip();
    let run = run_against(peer.port(), "2");
    assert!(
        run.elapsed < Duration::from_secs(15),
        "took {:?}",
        run.elapsed
    );
    let r = &run.reports[0];
    assert_eq!(r["tls"]["error"]["code"], "timeout", "{}", r["tls"]);
}

#[test]
fn a_malformed_server_hello_is_a_protocol_violation() {
    let peer = HostilePeer::malformed_server_hello();
    let run = run_against(peer.port(), "2");
    let codes = error_codes(&run.reports[0]);
    assert!(codes.iter().any(|c| c == "protocol_violation"), "{codes:?}");
}
