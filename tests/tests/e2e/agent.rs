//! Running the real agent binary and reading its output.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use canhgac_testkit::TestPki;
use serde_json::Value;

/// The built `canhgac-agent` binary (built by `scripts/test` with the rest of the workspace).
pub fn agent_bin() -> PathBuf {
    workspace_bin("canhgac-agent")
}

/// A binary of the workspace: test binaries live in `target/<profile>/deps/`, binaries one
/// level up.
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps layout");
    let path = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
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
    /// Peak resident set size of the agent process (VmHWM, polled every 10 ms), in KiB.
    pub peak_rss_kib: u64,
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Runs `canhgac-agent scan --json --probes tls ARGS...` (TLS only: the names used by the
/// TLS tests are pinned to 127.0.0.1 with --resolve, and must not reach any real resolver).
pub fn scan(args: &[&str]) -> Run {
    let mut all = vec!["--probes", "tls"];
    all.extend_from_slice(args);
    scan_raw(&all)
}

/// Runs `canhgac-agent scan --json ARGS...`.
pub fn scan_raw(args: &[&str]) -> Run {
    let started = Instant::now();
    let child = Command::new(agent_bin())
        .arg("scan")
        .arg("--json")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("agent runs");
    let pid = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let poller = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(Ordering::Relaxed) {
                if let Some(k) = vm_hwm_kib(pid) {
                    peak = peak.max(k);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            peak
        })
    };
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("agent output");
    done.store(true, Ordering::Relaxed);
    let peak_rss_kib = poller.join().unwrap_or(0);
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
        peak_rss_kib,
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
