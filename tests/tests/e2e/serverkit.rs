//! Shared helpers for the server's end-to-end tests: run `canhgac-server` subcommands, start
//! `serve` on a loopback port, and call its API.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::agent::workspace_bin;

pub(crate) fn server(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
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

/// `canhgac-server user add` on a stopped store; the password (if any) on standard input.
pub(crate) fn add_user(
    data: &str,
    login: &str,
    role: &str,
    agency: Option<&str>,
    password: Option<&str>,
) -> (i32, String) {
    let mut args = vec![
        "user", "add", "--data", data, "--login", login, "--role", role,
    ];
    if let Some(a) = agency {
        args.extend(["--agency", a]);
    }
    let (code, _, err) = server(&args, password);
    (code, err)
}

/// `canhgac-server token add` on a stopped store: the new token.
pub(crate) fn token_for(data: &str, login: &str) -> String {
    let (code, out, err) = server(&["token", "add", "--data", data, "--login", login], None);
    assert_eq!(code, 0, "{err}");
    out.trim().to_string()
}

/// A running server; killed with SIGKILL on drop.
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn serve(data: &Path) -> Running {
    serve_env(data, &[])
}

/// [`serve`] with extra environment variables (e.g. `CANHGAC_MAX_DOCUMENT_BYTES`).
pub(crate) fn serve_env(data: &Path, env: &[(&str, &str)]) -> Running {
    let mut child = Command::new(workspace_bin("canhgac-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
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

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

pub(crate) async fn call(
    c: &reqwest::Client,
    method: &str,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = c
        .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url)
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let v = r.json::<Value>().await.unwrap_or(Value::Null);
    (status, v)
}
