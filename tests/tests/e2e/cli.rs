//! The command line: targets files, JSON Lines, exit statuses, usage errors.

use std::collections::HashSet;
use std::process::Command;

use canhgac_testkit::{TestPki, TlsSite};

use crate::agent::{agent_bin, ca_file, scan};

#[test]
fn a_targets_file_gives_one_json_line_per_target() {
    let leaf = TestPki::shared().localhost();
    let sites: Vec<TlsSite> = (0..3).map(|_| TlsSite::start(&leaf).unwrap()).collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.txt");
    let mut text = String::from("# agency sites\n\n");
    for s in &sites {
        text.push_str(&format!("https://127.0.0.1:{}/  # comment\n", s.port()));
    }
    std::fs::write(&file, text).unwrap();
    let run = scan(&[
        "--targets",
        file.to_str().unwrap(),
        "--ca-file",
        ca_file().to_str().unwrap(),
        "--concurrency",
        "3",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.reports.len(), 3);
    let ports: HashSet<u64> = run
        .reports
        .iter()
        .map(|r| r["target"]["port"].as_u64().unwrap())
        .collect();
    let expected: HashSet<u64> = sites.iter().map(|s| s.port() as u64).collect();
    assert_eq!(ports, expected);
    let ids: HashSet<&str> = run
        .reports
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "report ids are unique");
    for r in &run.reports {
        assert_eq!(r["schema_version"], 1);
        assert_eq!(r["id"].as_str().unwrap().as_bytes()[14], b'7', "UUIDv7");
        assert_eq!(r["tls"]["validation"]["trusted"], true);
    }
}

#[test]
fn the_table_output_names_the_verdict() {
    let s = TlsSite::start(&TestPki::shared().expired(&["localhost"])).unwrap();
    let out = Command::new(agent_bin())
        .args([
            "scan",
            "--probes",
            "tls",
            &format!("localhost:{}", s.port()),
        ])
        .args(["--resolve", &format!("localhost:{}:127.0.0.1", s.port())])
        .args(["--ca-file", ca_file().to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success());
    assert!(text.contains("UNTRUSTED - expired"), "{text}");
    assert!(text.contains("+tls1.2"), "{text}");
}

#[test]
fn usage_errors_are_clear_and_exit_1() {
    let cases: [(&[&str], &str); 4] = [
        (&["scan"], "no targets"),
        (&["scan", "ftp://x.example"], "unsupported scheme"),
        (
            &["scan", "a.example", "--ca-file", "/nonexistent/ca.pem"],
            "cannot read CA file",
        ),
        (
            &["scan", "a.example", "--resolve", "nonsense"],
            "invalid --resolve entry",
        ),
    ];
    for (args, message) in cases {
        let out = Command::new(agent_bin()).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}
