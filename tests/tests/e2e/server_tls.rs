//! The real `canhgac-server`'s transport: built-in HTTPS with the test PKI, certificate reload
//! without restart (and refusal of bad pairs), start-up errors, plain HTTP off loopback refused,
//! trusted reverse proxies and request ids, asserted on the JSON log lines.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use canhgac_testkit::{Leaf, TestPki, init_crypto};
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::Value;

use crate::agent::{scan_name, workspace_bin};

/// A `canhgac-server serve` whose standard error is kept, line by line.
struct Served {
    child: Child,
    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    base: String,
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// The JSON log lines so far.
    fn json_lines(&self) -> Vec<Value> {
        self.json_lines_after(0)
    }

    /// The JSON log lines after the first `mark` lines of standard error.
    fn json_lines_after(&self, mark: usize) -> Vec<Value> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .skip(mark)
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// How many lines the server has written so far.
    fn mark(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// Waits (up to 20 s) for a JSON log line that `pred` accepts.
    fn wait_for_line(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_for_line_after(0, what, pred)
    }

    /// Waits (up to 20 s) for a JSON log line after `mark` that `pred` accepts.
    fn wait_for_line_after(&self, mark: usize, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(v) = self.json_lines_after(mark).into_iter().find(|v| pred(v)) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "no log line {what}; the log:\n{}",
                self.log.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The access-log line of the request with id `id`.
    fn access_line(&self, id: &str) -> Value {
        self.wait_for_line(&format!("for request {id}"), |v| {
            v["target"] == "canhgac::access" && v["request_id"] == id
        })
    }
}

/// Starts `serve --listen 127.0.0.1:0 --data DATA ARGS` with JSON logs at info level; the
/// server's standard error when it exits before serving.
fn start(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<Served, String> {
    let mut child = Command::new(workspace_bin("canhgac-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(args)
        .env("RUST_LOG", "info")
        .env("CANHGAC_LOG_FORMAT", "json")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let kept = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            for scheme in ["http", "https"] {
                if let Some(rest) = line.split(&format!("serving {scheme}://")).nth(1) {
                    let _ = tx.send(format!("{scheme}://{}", rest.split('/').next().unwrap()));
                }
            }
            kept.lock().unwrap().push(line);
        }
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(base) => {
            let port = base.rsplit(':').next().unwrap().parse().unwrap();
            Ok(Served {
                child,
                base,
                port,
                log,
            })
        }
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            // The reader thread ends with the process: give it a moment to keep the last lines.
            std::thread::sleep(Duration::from_millis(200));
            Err(log.lock().unwrap().join("\n"))
        }
    }
}

/// Writes a leaf's chain and key as `cert.pem` and `key.pem` in `dir`, each atomically (a
/// temporary file renamed into place, as deployment tools do).
fn install(dir: &Path, chain_pem: &str, key_pem: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    for (path, text) in [(&cert, chain_pem), (&key, key_pem)] {
        let temp = path.with_extension("tmp");
        std::fs::write(&temp, text).unwrap();
        std::fs::rename(&temp, path).unwrap();
    }
    (cert, key)
}

fn https_client() -> reqwest::Client {
    let mut config = (*TestPki::shared().client_config()).clone();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .no_proxy()
        .tls_backend_preconfigured(config)
        .build()
        .unwrap()
}

/// Handshakes with the server as "localhost" (trusting only the test root) and returns the leaf
/// it presented and the negotiated ALPN protocol.
async fn served_leaf(port: u16) -> (CertificateDer<'static>, Option<Vec<u8>>) {
    let mut config = (*TestPki::shared().client_config()).clone();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (_, conn) = tls.get_ref();
    let leaf = conn.peer_certificates().unwrap()[0].clone().into_owned();
    (leaf, conn.alpn_protocol().map(<[u8]>::to_vec))
}

/// Polls the served leaf until it is `want` (the reload interval is one second).
async fn wait_for_leaf(port: u16, want: &CertificateDer<'static>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while served_leaf(port).await.0 != *want {
        assert!(
            Instant::now() < deadline,
            "the new certificate was not served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn server_tls_serves_https_and_reloads_certificates_without_restart() {
    init_crypto();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tls_dir = dir.path().join("tls");
    std::fs::create_dir(&tls_dir).unwrap();
    let pki = TestPki::shared();
    let first: Leaf = pki.localhost();
    let (cert, key) = install(&tls_dir, &first.chain_pem, &first.key_pem);
    let server = start(
        &dir.path().join("data"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[("CANHGAC_TLS_RELOAD_INTERVAL", "1")],
    )
    .unwrap();
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );
    let c = https_client();

    rt.block_on(async {
        // HTTPS with the test CA, over HTTP/2 (ALPN), the first certificate served.
        let r = c
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.version(), reqwest::Version::HTTP_2);
        let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["status"], "ok");
        let line = server.access_line(&id);
        assert_eq!(line["https"], true, "{line}");
        assert_eq!(line["status"], 200, "{line}");
        assert_eq!(line["path"], "/healthz", "{line}");
        let (leaf, alpn) = served_leaf(server.port).await;
        assert_eq!(leaf, *first.leaf_der());
        assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));

        // The agent's own TLS probe on the server: TLS 1.2 and 1.3 only, strong suites,
        // HTTP/2 offered, a chain trusted through the test root.
        let report = scan_name("localhost", server.port, &[]);
        let p = &report["tls"]["protocols"];
        assert_eq!(
            [
                &p["ssl3"],
                &p["tls1.0"],
                &p["tls1.1"],
                &p["tls1.2"],
                &p["tls1.3"]
            ],
            [false, false, false, true, true],
            "{p}"
        );
        assert_eq!(report["tls"]["negotiated"]["alpn"], "h2");
        assert_eq!(report["tls"]["validation"]["trusted"], true);
        let weak = &report["tls"]["ciphers"]["weaknesses"];
        for class in [
            "null",
            "anonymous",
            "export",
            "rc4",
            "des",
            "cbc_only",
            "no_forward_secrecy",
        ] {
            assert_eq!(weak[class], false, "{class}: {weak}");
        }

        // Plain HTTP on the TLS port gets no answer.
        let plain = reqwest::Client::builder().no_proxy().build().unwrap();
        let port = server.port;
        assert!(
            plain
                .get(format!("http://127.0.0.1:{port}/healthz"))
                .send()
                .await
                .is_err()
        );

        // A renewed certificate (another key, another name) is served without a restart.
        let renewed = pki.leaf(&["localhost", "127.0.0.1", "renewed.canhgac.test"]);
        install(&tls_dir, &renewed.chain_pem, &renewed.key_pem);
        wait_for_leaf(server.port, renewed.leaf_der()).await;
        server.wait_for_line("about the reload", |v| {
            v["message"] == "TLS certificate reloaded" && v["level"] == "INFO"
        });
        let r = c
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);

        // Garbage: refused, logged with the reason and the file, the renewed one still served.
        let mark = server.mark();
        std::fs::write(
            &cert,
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let error = server.wait_for_line_after(mark, "about the garbage", |v| {
            v["level"] == "ERROR"
                && v["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("TLS certificate not reloaded"))
        });
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains(&format!(
                "the TLS certificate file {} is not usable",
                cert.display()
            )),
            "{message}"
        );
        assert!(
            message.contains("the previous one is still served"),
            "{message}"
        );
        assert_eq!(served_leaf(server.port).await.0, *renewed.leaf_der());
        let r = c
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);

        // A certificate with a key that is not its own: refused too.
        let third = pki.localhost();
        let mark = server.mark();
        install(&tls_dir, &third.chain_pem, &renewed.key_pem);
        server.wait_for_line_after(mark, "about the mismatched key", |v| {
            v["level"] == "ERROR"
                && v["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("does not hold the private key"))
        });
        assert_eq!(served_leaf(server.port).await.0, *renewed.leaf_der());

        // Its own key arrives: served.
        install(&tls_dir, &third.chain_pem, &third.key_pem);
        wait_for_leaf(server.port, third.leaf_der()).await;
    });
}

#[test]
fn server_tls_start_up_refuses_bad_pairs_and_plain_http_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let leaf = TestPki::shared().localhost();
    let (cert, key) = leaf.write_pem_files(dir.path()).unwrap();
    let missing = dir.path().join("missing-key.pem");
    let cert_arg = cert.to_str().unwrap();

    // A missing key file: a clear message naming it, and no server.
    let err = start(
        &data,
        &[
            "--tls-cert",
            cert_arg,
            "--tls-key",
            missing.to_str().unwrap(),
        ],
        &[],
    )
    .err()
    .expect("the server started without its key");
    assert!(
        err.contains("cannot read the TLS key file") && err.contains("missing-key.pem"),
        "{err}"
    );

    // Garbage in the certificate file, named.
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "hello").unwrap();
    let err = start(
        &data,
        &[
            "--tls-cert",
            garbage.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
    )
    .err()
    .expect("the server started with garbage");
    assert!(
        err.contains("the TLS certificate file") && err.contains("garbage.pem"),
        "{err}"
    );

    // The key of another certificate.
    let other = TestPki::shared().localhost();
    let other_key = dir.path().join("other-key.pem");
    std::fs::write(&other_key, &other.key_pem).unwrap();
    let err = start(
        &data,
        &[
            "--tls-cert",
            cert_arg,
            "--tls-key",
            other_key.to_str().unwrap(),
        ],
        &[],
    )
    .err()
    .expect("the server started with a mismatched key");
    assert!(err.contains("does not hold the private key"), "{err}");

    // Half a pair, from the environment.
    let err = start(&data, &[], &[("CANHGAC_TLS_CERT", cert_arg)])
        .err()
        .expect("the server started with a certificate and no key");
    assert!(err.contains("tls_key is not"), "{err}");

    // Plain HTTP off loopback: refused before binding anything.
    let out = Command::new(workspace_bin("canhgac-server"))
        .args(["serve", "--listen", "0.0.0.0:0", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing plain HTTP on 0.0.0.0:0") && err.contains("--tls-cert"),
        "{err}"
    );
}

#[test]
fn server_tls_trusted_proxies_and_request_ids() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let c = reqwest::Client::builder().no_proxy().build().unwrap();
    let forwarded = |req: reqwest::RequestBuilder, id: &str| {
        req.header("x-forwarded-for", "192.0.2.77, 198.51.100.7")
            .header("x-forwarded-proto", "https")
            .header("x-request-id", id)
    };

    // 127.0.0.1 trusted: the right-most forwarded address and the proxy's request id are used.
    let behind = start(
        &dir.path().join("behind"),
        &[],
        &[("CANHGAC_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")],
    )
    .unwrap();
    assert!(behind.base.starts_with("http://127.0.0.1:"));
    rt.block_on(async {
        let r = forwarded(c.get(format!("{}/healthz", behind.base)), "edge-0001")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-request-id"], "edge-0001");
        let line = behind.access_line("edge-0001");
        assert_eq!(line["client"], "198.51.100.7", "{line}");
        assert_eq!(line["https"], true, "{line}");
        assert_eq!(line["method"], "GET", "{line}");
        assert!(line["latency_ms"].as_f64().is_some(), "{line}");

        // The Forwarded header (RFC 7239) when there is no X-Forwarded-For.
        let r = c
            .get(format!("{}/api/v1/nowhere", behind.base))
            .header("forwarded", "for=\"[2001:db8::17]:4711\";proto=http")
            .header("x-request-id", "edge-0002")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let line = behind.access_line("edge-0002");
        assert_eq!(line["client"], "2001:db8::17", "{line}");
        assert_eq!(line["https"], false, "{line}");
        assert_eq!(line["status"], 404, "{line}");

        // An insane request id is replaced by a fresh one.
        let r = c
            .get(format!("{}/healthz", behind.base))
            .header("x-request-id", "has spaces; and=more")
            .send()
            .await
            .unwrap();
        let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_ne!(id, "has spaces; and=more");
        assert_eq!(behind.access_line(&id)["client"], "127.0.0.1");
    });

    // 127.0.0.1 not trusted: the forwarded headers and request id are ignored.
    let direct = start(
        &dir.path().join("direct"),
        &[],
        &[("CANHGAC_TRUSTED_PROXIES", "10.0.0.0/8")],
    )
    .unwrap();
    rt.block_on(async {
        let r = forwarded(c.get(format!("{}/healthz", direct.base)), "edge-0003")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_ne!(id, "edge-0003");
        assert_eq!(id.len(), 36, "a UUID: {id}");
        let line = direct.access_line(&id);
        assert_eq!(line["client"], "127.0.0.1", "{line}");
        assert_eq!(line["https"], false, "{line}");
        assert!(
            direct
                .json_lines()
                .iter()
                .all(|v| v["request_id"] != "edge-0003" && v["client"] != "198.51.100.7"),
            "the forged values reached the log"
        );
    });
}
