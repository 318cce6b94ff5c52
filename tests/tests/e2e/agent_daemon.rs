//! The agent daemon (`canhgac-agent enroll`, `run`, `status`) against the real
//! `canhgac-server` and real fixture sites on 127.0.0.1: enrollment, scans and their
//! evaluation on the server, outages, `kill -9` in a loop, a bounded spool, revoked and
//! expired credentials, a server answering garbage or 500s, and damaged spool files.

use std::collections::{BTreeSet, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use canhgac_testkit::web::{Reply, Scheme, WebSite};
use canhgac_testkit::{TestPki, TlsSite};
use serde_json::{Value, json};

use crate::agent::{agent_bin, ca_file, workspace_bin};
use crate::serverkit::{Running, add_user, call, client, token_for};

/// `canhgac-server serve` on 127.0.0.1:`port` (0: any), so a restart keeps the agent's URL.
fn serve_on(data: &Path, port: u16, env: &[(&str, &str)], args: &[&str]) -> Running {
    let mut child = Command::new(workspace_bin("canhgac-server"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data)
        .args(args)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    let base = 'found: loop {
        assert!(Instant::now() < deadline, "the server did not start");
        let line = lines.next().expect("server output").unwrap();
        for scheme in ["http", "https"] {
            if let Some(rest) = line.split(&format!("serving {scheme}://")).nth(1) {
                break 'found format!("{scheme}://{}", rest.split('/').next().unwrap());
            }
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Running { child, base }
}

/// A server with an administrator and one agency (Sở Công Thương).
struct Env {
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    data: PathBuf,
    admin: String,
    port: u16,
    server: Option<Running>,
    agency: String,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let d = data.to_str().unwrap();
        let (code, err) = add_user(d, "admin", "administrator", None, Some("mật-khẩu-quản-trị"));
        assert_eq!(code, 0, "{err}");
        let admin = token_for(d, "admin");
        let running = serve_on(&data, 0, &[], &[]);
        let port: u16 = running.base.rsplit(':').next().unwrap().parse().unwrap();
        let mut env = Env {
            rt: tokio::runtime::Runtime::new().unwrap(),
            dir,
            data,
            admin,
            port,
            server: Some(running),
            agency: String::new(),
        };
        let (s, v) = env.api(
            "POST",
            "agencies",
            Some(json!({"name": "Sở Công Thương", "short_code": "SCT"})),
        );
        assert_eq!(s, 201, "{v}");
        env.agency = v["id"].as_str().unwrap().to_string();
        env
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/api/v1/{path}", self.url());
        self.rt
            .block_on(async { call(&client(), method, url, &self.admin, body).await })
    }

    fn stop(&mut self) {
        self.server = None;
    }

    fn start_env(&mut self, env: &[(&str, &str)]) {
        self.server = None;
        self.server = Some(serve_on(&self.data, self.port, env, &[]));
    }

    /// Restarts the server on HTTPS (same port) with `leaf`'s certificate.
    fn start_tls(&mut self, leaf: &canhgac_testkit::Leaf) -> String {
        self.server = None;
        let (cert, key) = leaf.write_pem_files(self.dir.path()).unwrap();
        let running = serve_on(
            &self.data,
            self.port,
            &[],
            &[
                "--tls-cert",
                cert.to_str().unwrap(),
                "--tls-key",
                key.to_str().unwrap(),
            ],
        );
        let base = running.base.clone();
        self.server = Some(running);
        base
    }

    fn start(&mut self) {
        self.start_env(&[]);
    }

    /// A level-3 system of the agency at `urls`: its id.
    fn system(&self, name: &str, urls: &[String]) -> String {
        let (s, v) = self.api(
            "POST",
            "systems",
            Some(json!({
                "name": name, "owner_agency": self.agency, "operating_unit": self.agency,
                "urls": urls, "proposed_level": 3
            })),
        );
        assert_eq!(s, 201, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    /// A one-time enrollment token for the agency's network.
    fn enrollment(&self, schedule: Value) -> String {
        let (s, v) = self.api(
            "POST",
            "enrollments",
            Some(json!({
                "agency": self.agency, "network": "LAN Sở Công Thương",
                "expires_in_hours": 1, "schedule": schedule
            })),
        );
        assert_eq!(s, 201, "{v}");
        v["token"].as_str().unwrap().to_string()
    }

    /// Report ids on the server for `target`, newest first.
    fn history(&self, target: &str) -> Vec<String> {
        let (s, v) = self.api("GET", &format!("targets/{target}/history?limit=500"), None);
        if s == 404 {
            return Vec::new(); // no report yet
        }
        assert_eq!(s, 200, "{v}");
        v["reports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    }

    fn state(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Enrolls an agent into state dir `name`; returns its id.
    fn enroll(&self, name: &str, token: &str) -> String {
        let st = self.state(name);
        let out = agent(&[
            "enroll",
            "--server",
            &self.url(),
            "--token",
            token,
            "--name",
            name,
            "--state-dir",
            st.to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(out.0, 0, "{}", out.2);
        let v: Value = serde_json::from_str(out.1.trim()).unwrap();
        v["agent_id"].as_str().unwrap().to_string()
    }
}

/// Runs `canhgac-agent ARGS`: (exit status, stdout, stderr).
fn agent(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(agent_bin())
        .args(args)
        .env("CANHGAC_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The scan flags every run uses: TLS only, the test CA trusted for the scanned sites.
fn scan_flags() -> Vec<String> {
    vec![
        "--probes".into(),
        "tls".into(),
        "--timeout".into(),
        "3".into(),
        "--scan-ca-file".into(),
        ca_file().to_str().unwrap().into(),
    ]
}

fn run_once(state: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args: Vec<String> = vec![
        "run".into(),
        "--once".into(),
        "--state-dir".into(),
        state.to_str().unwrap().into(),
    ];
    args.extend(scan_flags());
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    agent(&refs)
}

fn status(state: &Path) -> Value {
    let (code, out, err) = agent(&["status", "--json", "--state-dir", state.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// A running `canhgac-agent run`, its stderr collected.
struct Daemon {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Daemon {
    fn start(state: &Path, extra: &[&str]) -> Daemon {
        let mut child = Command::new(agent_bin())
            .args(["run", "--state-dir", state.to_str().unwrap()])
            .args(scan_flags())
            .args(extra)
            .env("CANHGAC_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = l.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        Daemon { child, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn wait_log(&self, what: &str, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.log().contains(what) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// SIGTERM, then the exit status (within `timeout`).
    fn term(mut self, timeout: Duration) -> (i32, String) {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(ok.success());
        let end = Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                return (s.code().unwrap_or(-1), self.log());
            }
            assert!(
                Instant::now() < end,
                "no exit after SIGTERM: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, then what it logged.
    fn kill9(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(50));
        self.log()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Report ids the agent logged as durably spooled.
fn spooled_ids(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("report spooled"))
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("report="))
                .map(str::to_string)
        })
        .collect()
}

fn wait_until(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn spool_files(state: &Path, sub: &str) -> Vec<PathBuf> {
    let dir = state.join("spool").join(sub);
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// `count` good TLS sites on 127.0.0.1, their targets and URLs.
fn sites(count: usize) -> (Vec<TlsSite>, Vec<String>) {
    let leaf = TestPki::shared().localhost();
    let sites: Vec<TlsSite> = (0..count).map(|_| TlsSite::start(&leaf).unwrap()).collect();
    let targets = sites
        .iter()
        .map(|s| format!("127.0.0.1:{}", s.port()))
        .collect();
    (sites, targets)
}

fn https(target: &str) -> String {
    format!("https://{target}/")
}

/// A fast schedule (the server's minimum interval is 5 minutes; runs that need more scans
/// pass `--scan-interval`).
fn fast() -> Value {
    json!({"interval_seconds": 300, "jitter_seconds": 0, "checkin_seconds": 10})
}

#[test]
fn agent_daemon_enrolls_scans_and_its_reports_are_evaluated_on_the_server() {
    let env = Env::new();
    let pki = TestPki::shared();
    // A good site under a name pinned with --resolve, and one with an expired certificate.
    let name = "cong.sct.test";
    let good = TlsSite::start(&pki.leaf(&[name])).unwrap();
    let expired = TlsSite::start(&pki.expired(&["127.0.0.1"])).unwrap();
    let good_target = format!("{name}:{}", good.port());
    let bad_target = format!("127.0.0.1:{}", expired.port());
    let good_sys = env.system(
        "Cổng thông tin điện tử Sở Công Thương",
        &[https(&good_target)],
    );
    let bad_sys = env.system("Hệ thống một cửa điện tử", &[https(&bad_target)]);
    let token = env.enrollment(json!({}));

    // Local checks before the token is spent.
    let st = env.state("sct-01");
    let s = st.to_str().unwrap();
    let (code, _, err) = agent(&[
        "enroll",
        "--server",
        &env.url(),
        "--token",
        "cge_short",
        "--state-dir",
        s,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("invalid enrollment token"), "{err}");
    let (code, _, err) = agent(&[
        "enroll",
        "--server",
        "http://canhgac.example.gov.vn/",
        "--token",
        &token,
        "--state-dir",
        s,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("loopback"), "{err}");

    let id = env.enroll("sct-01", &token);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(st.join("credential"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let toml = std::fs::read_to_string(st.join("agent.toml")).unwrap();
    assert!(toml.contains(&id) && !toml.contains("cgk_"), "{toml}");
    // The token is single use.
    let (code, _, err) = agent(&[
        "enroll",
        "--server",
        &env.url(),
        "--token",
        &token,
        "--state-dir",
        env.state("again").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("enrollment token refused (401 enrollment_invalid)"),
        "{err}"
    );
    // Enrolling over an existing agent needs --force.
    let (code, _, err) = agent(&[
        "enroll",
        "--server",
        &env.url(),
        "--token",
        &token,
        "--state-dir",
        s,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("already enrolled"), "{err}");

    let resolve = format!("{name}:{}:127.0.0.1", good.port());
    let (code, out, err) = run_once(&st, &["--resolve", &resolve, "--json"]);
    assert_eq!(code, 0, "{err}");
    let summary: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (
            &summary["targets"],
            &summary["scanned"],
            &summary["stored"],
            &summary["spooled"]
        ),
        (&json!(2), &json!(2), &json!(2), &json!(0)),
        "{summary}"
    );

    // Both reports are stored and evaluated at the systems' level.
    let (s, c) = env.api("GET", &format!("systems/{good_sys}/compliance"), None);
    assert_eq!(s, 200, "{c}");
    let c = if c.is_array() { c[0].clone() } else { c };
    assert_eq!(c["target"], good_target.as_str(), "{c}");
    assert_eq!(c["evaluation"]["level"], 3);
    assert!(
        !strings(&c["failing"]).contains(&"tls.cert_trusted".to_string()),
        "{c}"
    );
    assert!(
        !strings(&c["failing"]).contains(&"tls.cert_expiry".to_string()),
        "{c}"
    );
    let (_, c) = env.api("GET", &format!("systems/{bad_sys}/compliance"), None);
    let c = if c.is_array() { c[0].clone() } else { c };
    assert!(
        strings(&c["failing"]).contains(&"tls.cert_expiry".to_string()),
        "{c}"
    );
    assert_eq!(env.history(&good_target).len(), 1);
    assert_eq!(env.history(&bad_target).len(), 1);

    // Status, locally and on the server.
    let st_json = status(&st);
    assert_eq!(st_json["agent_id"], id.as_str());
    assert!(
        st_json["last_contact"].is_string() && st_json["last_scan"].is_string(),
        "{st_json}"
    );
    assert_eq!(
        (&st_json["spool"]["depth"], &st_json["targets"]),
        (&json!(0), &json!(2))
    );
    let (code, text, _) = agent(&["status", "--state-dir", st.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        text.contains("last contact:") && text.contains("spool:"),
        "{text}"
    );
    let (s, a) = env.api("GET", &format!("agents/{id}"), None);
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["health"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(a["last_seen"].is_string());

    // Nothing is due again before the interval; a "scan now" is served at once.
    let (code, out, err) = run_once(&st, &["--resolve", &resolve, "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(out.trim()).unwrap()["scanned"],
        0,
        "{out}"
    );
    let (s, v) = env.api("POST", &format!("systems/{good_sys}/scan"), None);
    assert_eq!(s, 202, "{v}");
    let (code, out, err) = run_once(&st, &["--resolve", &resolve, "--json"]);
    assert_eq!(code, 0, "{err}");
    let summary: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (&summary["scanned"], &summary["stored"]),
        (&json!(1), &json!(1)),
        "{summary}"
    );
    assert_eq!(env.history(&good_target).len(), 2);
    assert_eq!(env.history(&bad_target).len(), 1);
}

#[test]
fn agent_daemon_outage_every_report_arrives_exactly_once() {
    let mut env = Env::new();
    let (_sites, targets) = sites(2);
    env.system(
        "Cổng dịch vụ công",
        &[https(&targets[0]), https(&targets[1])],
    );
    let token = env.enrollment(fast());
    env.enroll("outage", &token);
    let st = env.state("outage");

    let daemon = Daemon::start(&st, &["--scan-interval", "1"]);
    wait_until(Duration::from_secs(20), "first uploads", || {
        targets.iter().map(|t| env.history(t).len()).sum::<usize>() >= 2
    });
    env.stop();
    // The agent keeps scanning into its spool while the server is away.
    wait_until(
        Duration::from_secs(20),
        "reports spooled during the outage",
        || status(&st)["spool"]["depth"].as_u64().unwrap() >= 4,
    );
    assert!(daemon.log().contains("will retry") || daemon.log().contains("check-in failed"));
    env.start();
    wait_until(Duration::from_secs(30), "the spool drained", || {
        status(&st)["spool"]["depth"].as_u64().unwrap() == 0
            && targets.iter().map(|t| env.history(t).len()).sum::<usize>() >= 6
    });
    let (code, log) = daemon.term(Duration::from_secs(35));
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("SIGTERM received"), "{log}");
    // What was spooled at shutdown goes up with the next run (nothing is due: no new scans).
    let (code, out, err) = run_once(&st, &["--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(out.trim()).unwrap()["scanned"],
        0
    );

    let spooled = spooled_ids(&log);
    let on_server: Vec<String> = targets.iter().flat_map(|t| env.history(t)).collect();
    let unique: HashSet<&String> = on_server.iter().collect();
    assert_eq!(unique.len(), on_server.len(), "a report stored twice");
    let spooled_set: BTreeSet<&String> = spooled.iter().collect();
    let server_set: BTreeSet<&String> = on_server.iter().collect();
    assert_eq!(
        spooled_set, server_set,
        "every spooled report arrives, exactly once"
    );
    assert!(spooled.len() >= 6, "{}", spooled.len());
    assert_eq!(status(&st)["spool"]["depth"], 0);
}

#[test]
fn agent_daemon_survives_kill_9_in_a_loop_without_loss_or_duplicates() {
    let env = Env::new();
    let (_sites, targets) = sites(3);
    env.system(
        "Hệ thống quản lý văn bản",
        &targets.iter().map(|t| https(t)).collect::<Vec<_>>(),
    );
    let token = env.enrollment(fast());
    env.enroll("kill9", &token);
    let st = env.state("kill9");

    let mut logs = String::new();
    for i in 0..20u64 {
        let daemon = Daemon::start(&st, &["--scan-interval", "1"]);
        // Killed at varied moments: starting, scanning, writing, uploading.
        std::thread::sleep(Duration::from_millis(150 + (i * 97) % 600));
        logs.push_str(&daemon.kill9());
        // The spool always opens: `status` reads it, and nothing is ever damaged.
        let s = status(&st);
        assert_eq!(s["spool"]["corrupt"], 0, "{s}");
    }
    // A last, clean run uploads what is left.
    let (code, _, err) = run_once(&st, &[]);
    assert_eq!(code, 0, "{err}");
    let leftovers: Vec<_> = std::fs::read_dir(st.join("spool"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    let spooled: BTreeSet<String> = spooled_ids(&logs).into_iter().collect();
    let on_server: Vec<String> = targets.iter().flat_map(|t| env.history(t)).collect();
    let server_set: BTreeSet<String> = on_server.iter().cloned().collect();
    assert_eq!(server_set.len(), on_server.len(), "a report stored twice");
    let lost: Vec<&String> = spooled.difference(&server_set).collect();
    assert!(lost.is_empty(), "spooled reports never stored: {lost:?}");
    // A kill between the rename and the log line may leave a stored report unlogged: at
    // most one per kill.
    assert!(server_set.len() <= spooled.len() + 20);
    assert!(spooled.len() >= 10, "the loop did scan: {}", spooled.len());
    let s = status(&st);
    assert_eq!(
        (&s["spool"]["depth"], &s["spool"]["corrupt"]),
        (&json!(0), &json!(0)),
        "{s}"
    );
}

#[test]
fn agent_daemon_spool_cap_gives_a_clear_error_and_damaged_files_are_quarantined() {
    let mut env = Env::new();
    let (_sites, targets) = sites(2);
    env.system("Cổng thông tin", &[https(&targets[0]), https(&targets[1])]);
    let token = env.enrollment(fast());
    env.enroll("cap", &token);
    let st = env.state("cap");
    let (code, _, err) = run_once(&st, &[]);
    assert_eq!(code, 0, "{err}");

    // The size of one report as spooled: a scan of the same site, plus the header line.
    let (code, out, _) = agent(&[
        "scan",
        "--json",
        "--probes",
        "tls",
        "--ca-file",
        ca_file().to_str().unwrap(),
        &targets[0],
    ]);
    assert_eq!(code, 0);
    let one = out.trim().len() as u64 + 100;
    let cap = one * 3 + one / 2;

    env.stop();
    let mut daemon = Daemon::start(
        &st,
        &[
            "--scan-interval",
            "1",
            "--spool-max-bytes",
            &cap.to_string(),
        ],
    );
    assert!(
        daemon.wait_log("spool full", Duration::from_secs(30)),
        "{}",
        daemon.log()
    );
    std::thread::sleep(Duration::from_secs(1));
    assert!(daemon.alive(), "the agent exited: {}", daemon.log());
    let s = status(&st);
    assert!(
        s["spool_error"]
            .as_str()
            .unwrap_or("")
            .contains("spool full"),
        "{s}"
    );
    let (_, text, _) = agent(&["status", "--state-dir", st.to_str().unwrap()]);
    assert!(text.contains("SPOOL ERROR:   spool full"), "{text}");
    let bytes = s["spool"]["bytes"].as_u64().unwrap();
    assert!(
        bytes <= cap && s["spool"]["depth"].as_u64().unwrap() >= 2,
        "{s}"
    );
    let (code, log) = daemon.term(Duration::from_secs(35));
    assert_eq!(code, 0, "{log}");
    // Warned at 80 % before it was full; the error said what to do.
    let warned = log.find("spool is filling up").expect("an 80 % warning");
    assert!(warned < log.find("spool full").unwrap(), "{log}");
    assert!(
        log.contains("scans are paused") || log.contains("scheduled scans skipped"),
        "{log}"
    );

    // Every spooled file is whole; now damage two of them.
    let files = spool_files(&st, "");
    assert!(files.len() >= 2);
    let mut altered = std::fs::read(&files[0]).unwrap();
    let n = altered.len();
    altered[n - 5] ^= 0x20;
    std::fs::write(&files[0], altered).unwrap();
    let whole = std::fs::read(&files[1]).unwrap();
    std::fs::write(&files[1], &whole[..whole.len() / 2]).unwrap();

    env.start();
    let before: usize = targets.iter().map(|t| env.history(t).len()).sum();
    let (code, out, err) = run_once(&st, &["--json", "--spool-max-bytes", &cap.to_string()]);
    assert_eq!(code, 0, "{err}");
    let summary: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(summary["corrupt"], 2, "{summary}");
    assert_eq!(
        summary["stored"].as_u64().unwrap() as usize,
        files.len() - 2,
        "{summary}"
    );
    let after: usize = targets.iter().map(|t| env.history(t).len()).sum();
    assert_eq!(after, before + files.len() - 2);
    assert!(
        err.contains("damaged spool file moved to corrupt/"),
        "{err}"
    );
    let s = status(&st);
    assert_eq!(
        (&s["spool"]["depth"], &s["spool"]["corrupt"]),
        (&json!(0), &json!(2)),
        "{s}"
    );
    assert_eq!(spool_files(&st, "corrupt").len(), 2);
    assert!(st.join("spool/corrupt").read_dir().unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".reason")
    }));
}

#[test]
fn agent_daemon_revoked_credential_and_expired_token_give_clear_errors() {
    let mut env = Env::new();
    let (_sites, targets) = sites(1);
    env.system("Cổng thông tin", &[https(&targets[0])]);
    let used = env.enrollment(fast());
    let unused = env.enrollment(fast());
    let id = env.enroll("revoked", &used);
    let st = env.state("revoked");
    let (code, _, err) = run_once(&st, &[]);
    assert_eq!(code, 0, "{err}");

    let (s, v) = env.api("DELETE", &format!("agents/{id}"), None);
    assert_eq!(s, 204, "{v}");
    let (code, _, err) = run_once(&st, &[]);
    assert_eq!(code, 1);
    assert!(err.contains("credential revoked or invalid (401)"), "{err}");

    // The daemon stays up (no crash loop), says so once, and keeps its spool.
    let mut daemon = Daemon::start(&st, &["--scan-interval", "1"]);
    assert!(daemon.wait_log("credential revoked or invalid", Duration::from_secs(15)));
    std::thread::sleep(Duration::from_secs(2));
    assert!(daemon.alive());
    let log = daemon.log();
    assert_eq!(
        log.matches("credential revoked or invalid (401)").count(),
        1,
        "{log}"
    );
    // No scan while the credential is refused.
    assert!(!log.contains("report spooled"), "{log}");
    let s = status(&st);
    assert!(s["last_error"].as_str().unwrap().contains("revoked"), "{s}");
    let (code, _) = daemon.term(Duration::from_secs(10));
    assert_eq!(code, 0);

    // A wrong credential is the same 401; one readable by others is refused locally.
    std::fs::write(
        st.join("credential"),
        "cgk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            st.join("credential"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let (code, _, err) = run_once(&st, &[]);
        assert_eq!(code, 1);
        assert!(err.contains("permissions too open"), "{err}");
        std::fs::set_permissions(
            st.join("credential"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    let (code, _, err) = run_once(&st, &[]);
    assert_eq!(code, 1);
    assert!(err.contains("credential revoked or invalid (401)"), "{err}");

    // Two hours later the unused token has expired.
    let later = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(2)).to_string();
    env.start_env(&[("CANHGAC_FAKE_NOW", later.as_str())]);
    let (code, _, err) = agent(&[
        "enroll",
        "--server",
        &env.url(),
        "--token",
        &unused,
        "--state-dir",
        env.state("late").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("enrollment token refused (401 enrollment_invalid)"),
        "{err}"
    );
    assert!(!env.state("late").join("credential").exists());
}

#[test]
fn agent_daemon_backs_off_from_a_server_answering_500s_or_garbage_and_keeps_its_spool() {
    let (_sites, targets) = sites(1);
    let fake = WebSite::start(&TestPki::shared().localhost()).unwrap();
    fake.fallback(
        Scheme::Http,
        Reply::Fixed {
            status: 500,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: b"<html>Internal Server Error</html>".to_vec(),
        },
    );
    // An agent enrolled with that "server" earlier: its targets are known from the last
    // check-in.
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("state");
    std::fs::create_dir_all(&st).unwrap();
    std::fs::write(
        st.join("agent.toml"),
        format!(
            "server = \"http://127.0.0.1:{}/\"\nagent_id = \"0193aaaa-0000-7000-8000-000000000001\"\nname = \"fake\"\n",
            fake.http_port()
        ),
    )
    .unwrap();
    std::fs::write(
        st.join("credential"),
        "cgk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            st.join("credential"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    std::fs::write(
        st.join("state.json"),
        json!({"targets": [targets[0]], "schedule": {"interval_seconds": 3600, "jitter_seconds": 0,
            "window": null, "checkin_seconds": 10, "concurrency": 4, "per_host": 2, "delay_ms": 0}})
        .to_string(),
    )
    .unwrap();

    let mut daemon = Daemon::start(&st, &[]);
    assert!(
        daemon.wait_log("server error 500", Duration::from_secs(15)),
        "{}",
        daemon.log()
    );
    std::thread::sleep(Duration::from_secs(6));
    assert!(daemon.alive(), "{}", daemon.log());
    let uploads = fake
        .requests()
        .iter()
        .filter(|(_, p)| p == "/api/v1/reports")
        .count();
    let checkins = fake
        .requests()
        .iter()
        .filter(|(_, p)| p == "/api/v1/agent/checkin")
        .count();
    // Backoff 1 s, 2 s, 4 s... with full jitter: a handful of tries in ~7 s, not a flood.
    assert!(
        (1..=8).contains(&uploads),
        "{uploads} uploads: {}",
        daemon.log()
    );
    assert!((1..=16).contains(&checkins), "{checkins} check-ins");
    let s = status(&st);
    assert_eq!(s["spool"]["depth"], 1, "{s}");
    assert!(s["last_error"].as_str().unwrap().contains("500"), "{s}");

    // Garbage with a 200: never taken for an acknowledgement.
    fake.fallback(
        Scheme::Http,
        Reply::Fixed {
            status: 200,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: b"<html>not the API</html>".to_vec(),
        },
    );
    assert!(
        daemon.wait_log("unexpected answer from the server", Duration::from_secs(25)),
        "{}",
        daemon.log()
    );
    assert!(daemon.alive());
    assert_eq!(status(&st)["spool"]["depth"], 1);
    let (code, log) = daemon.term(Duration::from_secs(10));
    assert_eq!(code, 0, "{log}");
    assert_eq!(spool_files(&st, "").len(), 1);
    assert!(spool_files(&st, "rejected").is_empty());
}

#[test]
fn agent_daemon_talks_tls_to_the_server_trusting_only_the_pinned_ca() {
    let mut env = Env::new();
    let (_sites, targets) = sites(1);
    env.system("Cổng thông tin", &[https(&targets[0])]);
    let token = env.enrollment(fast());
    let base = env.start_tls(&TestPki::shared().localhost());
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let st = env.state("tls");
    let s = st.to_str().unwrap();

    // Without the pin the system's roots do not know the test CA: a TLS error, token unspent.
    let (code, _, err) = agent(&[
        "enroll",
        "--server",
        &base,
        "--token",
        &token,
        "--state-dir",
        s,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("TLS with the server failed"), "{err}");
    let ca = ca_file().to_str().unwrap();
    let (code, _, err) = agent(&[
        "enroll",
        "--server",
        &base,
        "--token",
        &token,
        "--ca-file",
        ca,
        "--state-dir",
        s,
    ]);
    assert_eq!(code, 0, "{err}");
    let toml = std::fs::read_to_string(st.join("agent.toml")).unwrap();
    assert!(toml.contains("ca_file") && toml.contains(&base), "{toml}");
    let (code, out, err) = run_once(&st, &["--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(out.trim()).unwrap()["stored"],
        1,
        "{out}"
    );

    // Pinned to another CA, the same server is refused.
    let other = TestPki::new();
    std::fs::create_dir_all(env.dir.path().join("other")).unwrap();
    let other_ca = other.write_ca_file(env.dir.path().join("other"));
    let toml = toml.replace(ca, other_ca.to_str().unwrap());
    std::fs::write(st.join("agent.toml"), toml).unwrap();
    let (code, _, err) = run_once(&st, &[]);
    assert_eq!(code, 1);
    assert!(err.contains("TLS with the server failed"), "{err}");
}
