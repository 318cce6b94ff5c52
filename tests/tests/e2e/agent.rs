//! Running the real agent binary and reading its output.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use canhgac_testkit::TestPki;
use serde_json::Value;

/// The built `canhgac-agent` binary (built by `scripts/test` with the rest of the workspace):
/// test binaries live in `target/<profile>/deps/`, binaries one level up.
pub fn agent_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps layout");
    let path = profile_dir.join(format!("canhgac-agent{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (scripts/test does)",
        path.display()
    );
    path
}

/// A CA file holding the test root, shared by all tests of this process.
pub fn ca_file() -> &'static PathBuf {
    static FILE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = FILE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = TestPki::shared().write_ca_file(dir.path());
        (dir, path)
    });
    path
}

/// The outcome of one agent run.
pub struct Run {
    pub reports: Vec<Value>,
    pub status: i32,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Runs `canhgac-agent scan --json ARGS...`.
pub fn scan(args: &[&str]) -> Run {
    let started = Instant::now();
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(agent_bin())
        .arg("scan")
        .arg("--json")
        .args(args)
        .output()
        .expect("agent runs");
    let stdout = String::from_utf8(stdout).expect("UTF-8 output");
    let reports = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect();
    Run {
        reports,
        status: status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// Scans one name served at 127.0.0.1:`port`, trusting the test root, and returns its report.
pub fn scan_name(name: &str, port: u16, extra: &[&str]) -> Value {
    let target = format!("{name}:{port}");
    let resolve = format!("{name}:{port}:127.0.0.1");
    let mut args = vec![
        target.as_str(),
        "--resolve",
        resolve.as_str(),
        "--ca-file",
        ca_file().to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let run = scan(&args);
    assert_eq!(run.reports.len(), 1, "stderr: {}", run.stderr);
    run.reports.into_iter().next().unwrap()
}

/// The accepted suite names of one protocol.
pub fn suites(report: &Value, protocol: &str) -> Vec<String> {
    report["tls"]["ciphers"]["by_protocol"][protocol]["suites"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| s["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}
