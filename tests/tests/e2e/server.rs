//! The real `canhgac-server` binary: accounts and tokens from the CLI, ingestion over HTTP
//! (idempotent), roles, JSON errors, metrics, and durability across `kill -9`.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use canhgac_testkit::{TestPki, TlsSite};
use serde_json::Value;

use crate::agent::{ca_file, scan, workspace_bin};

fn server(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(workspace_bin("canhgac-server"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A running server; killed with SIGKILL on drop.
struct Running {
    child: Child,
    base: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path) -> Running {
    let mut child = Command::new(workspace_bin("canhgac-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    let base = loop {
        assert!(Instant::now() < deadline, "the server did not start");
        let line = lines.next().expect("server output").unwrap();
        if let Some(rest) = line.split("serving http://").nth(1) {
            break format!("http://{}", rest.split('/').next().unwrap());
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Running { child, base }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

#[test]
fn accounts_tokens_ingestion_roles_and_durability() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();

    // Accounts: the first must be an administrator; passwords come from standard input.
    let (code, _, err) = server(
        &[
            "user", "add", "--data", d, "--login", "viewer", "--role", "viewer",
        ],
        Some("0123456789ab"),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("administrator"), "{err}");
    let (code, _, err) = server(
        &[
            "user",
            "add",
            "--data",
            d,
            "--login",
            "admin",
            "--role",
            "administrator",
        ],
        Some("mật-khẩu-quản-trị"),
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = server(
        &[
            "user", "add", "--data", d, "--login", "agent1", "--role", "agent", "--agency", "sct",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let (_, agent_token, _) = server(&["token", "add", "--data", d, "--login", "agent1"], None);
    let (_, admin_token, _) = server(&["token", "add", "--data", d, "--login", "admin"], None);
    let (agent_token, admin_token) = (
        agent_token.trim().to_string(),
        admin_token.trim().to_string(),
    );
    assert!(agent_token.starts_with("cgk_"));

    // A real report from the real agent.
    let site = TlsSite::start(&TestPki::shared().localhost()).unwrap();
    let run = scan(&[
        &format!("127.0.0.1:{}", site.port()),
        "--ca-file",
        ca_file().to_str().unwrap(),
    ]);
    let report = run.reports[0].clone();
    let id = report["id"].as_str().unwrap().to_string();
    let target = format!("127.0.0.1:{}", site.port());

    let running = serve(&data);
    let base = running.base.clone();
    rt.block_on(async {
        let c = client();
        let post = |token: Option<&str>, body: String| {
            let mut req = c
                .post(format!("{base}/api/v1/reports"))
                .header("content-type", "application/json")
                .body(body);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.send()
        };
        let r = post(Some(&agent_token), report.to_string()).await.unwrap();
        assert_eq!(r.status(), 201);
        let r = post(Some(&agent_token), report.to_string()).await.unwrap();
        assert_eq!(r.status(), 200, "a resent report is acknowledged again");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["status"], "duplicate");
        let r = post(None, report.to_string()).await.unwrap();
        assert_eq!(r.status(), 401);
        let r = post(Some("cgk_not_a_token"), report.to_string())
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let r = post(Some(&agent_token), "{not json".into()).await.unwrap();
        assert_eq!(r.status(), 400);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "bad_json");
        let mut bad = report.clone();
        bad["schema_version"] = 99.into();
        assert_eq!(
            post(Some(&agent_token), bad.to_string())
                .await
                .unwrap()
                .status(),
            400
        );

        let latest = format!("{base}/api/v1/targets/{target}/latest");
        let r = c
            .get(&latest)
            .bearer_auth(&agent_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "agents upload; they do not read");
        let r = c
            .get(&latest)
            .bearer_auth(&admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["id"], id.as_str());
        let r = c.get(format!("{base}/nowhere")).send().await.unwrap();
        assert_eq!(r.status(), 404);
        let metrics = c
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("canhgac_reports_ingested_total 1"),
            "{metrics}"
        );
        assert!(
            metrics.contains("canhgac_reports_duplicate_total 1"),
            "{metrics}"
        );
        let health: Value = c
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["engine"], "redb");
    });

    // While it serves, the embedded store is locked: the CLI says so instead of corrupting it.
    let (code, _, err) = server(&["token", "add", "--data", d, "--login", "admin"], None);
    assert_eq!(code, 1);
    assert!(err.contains("in use"), "{err}");

    // kill -9, restart: what was acknowledged is there.
    drop(running);
    let running = serve(&data);
    let base = running.base.clone();
    rt.block_on(async {
        let r = client()
            .get(format!("{base}/api/v1/targets/{target}/latest"))
            .bearer_auth(&admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["id"], id.as_str());
    });
}
