//! `canhgac-bench fleet`: the agent fleet path end to end with the real binaries.
//!
//! 1,000 targets (20 HTTPS ports on each of 50 hosts, 127.0.1.1-50, named
//! `host-NN.fleet.dongnai.gov.vn` and pinned with `--resolve`), registered as 1,000 systems in a
//! real `canhgac-server`; a real `canhgac-agent` enrolled for their agency runs `run --once`:
//! check-in, scan every assigned target (TLS, HTTP, content), spool each report durably,
//! upload, the server evaluates and stores each one. Measured: wall time, the agent process's
//! peak RSS, and at the fixtures the most simultaneous connections any one host saw, against the
//! schedule's `per_host`. The peer in the same run: `canhgac-agent scan` of the same targets
//! with the same limits and no server, so the ratio is the cost of spool + upload + evaluation.

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use canhgac_testkit::TestPki;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{measure, sibling};

/// Options of the fleet benchmark.
pub struct Options {
    /// Targets in all.
    pub targets: usize,
    /// Hosts they are spread over.
    pub hosts: usize,
    /// The schedule's concurrency (targets at once).
    pub concurrency: usize,
    /// The schedule's per-host limit.
    pub per_host: usize,
    /// Print JSON.
    pub json: bool,
}

/// Simultaneous connections seen by one fixture host.
#[derive(Default)]
struct HostCount {
    now: AtomicUsize,
    max: AtomicUsize,
    total: AtomicUsize,
}

impl HostCount {
    fn enter(self: &Arc<Self>) -> Guard {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
        self.total.fetch_add(1, Ordering::Relaxed);
        Guard(self.clone())
    }
    fn reset(&self) {
        self.max
            .store(self.now.load(Ordering::SeqCst), Ordering::SeqCst);
        self.total.store(0, Ordering::Relaxed);
    }
}

struct Guard(Arc<HostCount>);
impl Drop for Guard {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

const PAGE: &str = "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>Cổng thông tin điện tử</title></head><body><h1>Trang thông tin điện tử</h1><p>Thông báo lịch tiếp công dân, kế hoạch kiểm tra, tin hoạt động của các phòng chuyên môn.</p><a href=\"/lien-he\">Liên hệ</a></body></html>";

/// Answers one HTTP/1.1 request per connection: the page on `/`, 404 elsewhere.
async fn answer<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut s: S, secure: bool) {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.len() > 16 * 1024 {
            break;
        }
    }
    let root = buf.starts_with(b"GET / ") || buf.starts_with(b"HEAD / ");
    let (status, body) = if root {
        ("200 OK", PAGE)
    } else {
        ("404 Not Found", "")
    };
    let hsts = if secure {
        "Strict-Transport-Security: max-age=31536000\r\nX-Content-Type-Options: nosniff\r\nContent-Security-Policy: default-src 'self'\r\n"
    } else {
        ""
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n{hsts}Connection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes()).await;
    let _ = s.write_all(body.as_bytes()).await;
    let _ = s.shutdown().await;
}

/// The targets (URL, or empty for a plain-HTTP port; `--resolve` entry) and each host's counter.
type Fixtures = (Vec<(String, String)>, Vec<Arc<HostCount>>);

/// The fixture hosts: their listeners run on `rt`; returns the targets (URL, resolve entry)
/// and each host's counter.
fn start_hosts(rt: &tokio::runtime::Runtime, o: &Options, http_port: u16) -> Result<Fixtures> {
    let leaf = TestPki::shared().leaf(&["*.fleet.dongnai.gov.vn"]);
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(leaf.chain_der.clone(), leaf.key_der.clone_key())?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let per = o.targets.div_ceil(o.hosts);
    let mut targets = Vec::with_capacity(o.targets + o.hosts);
    let mut https = 0;
    let mut counts = Vec::with_capacity(o.hosts);
    for h in 0..o.hosts {
        let ip = host_ip(h);
        let name = format!("host-{:02}.fleet.dongnai.gov.vn", h + 1);
        let count = Arc::new(HostCount::default());
        counts.push(count.clone());
        let mut listeners = Vec::new();
        let http = std::net::TcpListener::bind((ip, http_port))?;
        listeners.push((http, false));
        for _ in 0..per.min(o.targets - https) {
            https += 1;
            let l = std::net::TcpListener::bind((ip, 0))?;
            let port = l.local_addr()?.port();
            targets.push((
                format!("https://{name}:{port}/"),
                format!("{name}:{port}:{ip}"),
            ));
            listeners.push((l, true));
        }
        targets.push((String::new(), format!("{name}:{http_port}:{ip}")));
        for (l, secure) in listeners {
            l.set_nonblocking(true)?;
            let count = count.clone();
            let acceptor = acceptor.clone();
            rt.spawn(async move {
                let l = tokio::net::TcpListener::from_std(l).expect("listener");
                loop {
                    let Ok((stream, _)) = l.accept().await else {
                        continue;
                    };
                    let guard = count.enter();
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        let _guard = guard;
                        if secure {
                            if let Ok(Ok(tls)) = tokio::time::timeout(
                                Duration::from_secs(10),
                                acceptor.accept(stream),
                            )
                            .await
                            {
                                answer(tls, true).await;
                            }
                        } else {
                            answer(stream, false).await;
                        }
                    });
                }
            });
        }
    }
    Ok((targets, counts))
}

fn host_ip(h: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 1, (h + 1) as u8)
}

/// The largest number of simultaneous connections any host saw, and all connections made.
fn politeness(counts: &[Arc<HostCount>]) -> (usize, usize) {
    let max = counts
        .iter()
        .map(|c| c.max.load(Ordering::SeqCst))
        .max()
        .unwrap_or(0);
    let total = counts.iter().map(|c| c.total.load(Ordering::Relaxed)).sum();
    (max, total)
}

/// A running `canhgac-server serve`; killed on drop.
struct Server {
    child: std::process::Child,
    root: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(bin: &Path, data: &Path) -> Result<(Server, String)> {
    let mut add = Command::new(bin)
        .args([
            "user",
            "add",
            "--login",
            "admin",
            "--role",
            "administrator",
            "--data",
        ])
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    add.stdin
        .take()
        .context("stdin")?
        .write_all(b"fleet-bench-password-2026")?;
    let out = add.wait_with_output()?;
    if !out.status.success() {
        bail!("user add: {}", String::from_utf8_lossy(&out.stderr));
    }
    let out = Command::new(bin)
        .args(["token", "add", "--login", "admin", "--data"])
        .arg(data)
        .output()?;
    if !out.status.success() {
        bail!("token add: {}", String::from_utf8_lossy(&out.stderr));
    }
    let token = String::from_utf8(out.stdout)?.trim().to_string();
    let mut child = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().context("stderr")?;
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let root = loop {
        let line = lines
            .next()
            .context("the server stopped before serving")??;
        if let Some(rest) = line.split("serving http://").nth(1) {
            break format!("http://{}", rest.split('/').next().unwrap_or(""));
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok((Server { child, root }, token))
}

async fn call(
    c: &reqwest::Client,
    method: &str,
    url: &str,
    token: &str,
    body: Value,
) -> Result<Value> {
    let r = c
        .request(reqwest::Method::from_bytes(method.as_bytes())?, url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{method} {url}: {status}: {v}");
    }
    Ok(v)
}

/// Runs the benchmark.
pub fn run(o: Options) -> Result<()> {
    canhgac_testkit::init_crypto();
    let agent = sibling("canhgac-agent")?;
    let server_bin = sibling("canhgac-server")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let ips: Vec<Ipv4Addr> = (0..o.hosts).map(host_ip).collect();
    let http_port = canhgac_testkit::demo::sites::common_port(&ips)?;
    eprintln!(
        "starting {} fixture hosts ({} HTTPS targets, HTTP on port {http_port}) ...",
        o.hosts, o.targets
    );
    let (entries, counts) = start_hosts(&rt, &o, http_port)?;
    let urls: Vec<&str> = entries
        .iter()
        .map(|(u, _)| u.as_str())
        .filter(|u| !u.is_empty())
        .collect();
    let dir = tempfile::tempdir()?;
    let ca = TestPki::shared().write_ca_file(dir.path());
    let data = dir.path().join("server");
    std::fs::create_dir_all(&data)?;
    let (server, admin) = start_server(&server_bin, &data)?;
    eprintln!("registering {} systems on {} ...", urls.len(), server.root);
    let base = format!("{}/api/v1", server.root);
    let enrollment = rt.block_on(async {
        let c = reqwest::Client::builder().no_proxy().build()?;
        let agency = call(&c, "POST", &format!("{base}/agencies"), &admin, json!({"name": "Sở Thông tin và Truyền thông (fleet)", "short_code": "FLEET"})).await?;
        let agency = agency["id"].clone();
        let mut pending = futures::stream::iter(urls.iter().enumerate().map(|(i, u)| {
            let c = c.clone();
            let body = json!({"name": format!("Hệ thống {i:04}"), "owner_agency": agency, "operating_unit": agency, "urls": [u], "proposed_level": 2});
            let url = format!("{base}/systems");
            let admin = admin.clone();
            async move { call(&c, "POST", &url, &admin, body).await }
        }))
        .buffer_unordered(8);
        use futures::StreamExt;
        while let Some(r) = pending.next().await {
            r?;
        }
        let e = call(&c, "POST", &format!("{base}/enrollments"), &admin, json!({
            "agency": agency, "network": "fleet", "expires_in_hours": 1,
            "schedule": {"concurrency": o.concurrency, "per_host": o.per_host, "jitter_seconds": 0}
        })).await?;
        anyhow::Ok(e["token"].as_str().context("token")?.to_string())
    })?;
    let state = dir.path().join("agent");
    let out = Command::new(&agent)
        .args([
            "enroll",
            "--server",
            &server.root,
            "--token",
            &enrollment,
            "--name",
            "fleet-bench",
            "--state-dir",
        ])
        .arg(&state)
        .output()?;
    if !out.status.success() {
        bail!("enroll: {}", String::from_utf8_lossy(&out.stderr));
    }
    let resolve: Vec<String> = entries
        .iter()
        .flat_map(|(_, r)| ["--resolve".to_string(), r.clone()])
        .collect();
    let common = |cmd: &mut Command| {
        cmd.args(&resolve)
            .args(["--probes", "tls,http,content", "--timeout", "5"])
            .args(["--http-port", &http_port.to_string()]);
    };

    eprintln!(
        "canhgac-agent run --once: {} targets, concurrency {}, per host {} ...",
        urls.len(),
        o.concurrency,
        o.per_host
    );
    counts.iter().for_each(|c| c.reset());
    let mut fleet_cmd = Command::new(&agent);
    fleet_cmd
        .args(["run", "--once", "--json", "--state-dir"])
        .arg(&state)
        .arg("--scan-ca-file")
        .arg(&ca);
    common(&mut fleet_cmd);
    let fleet = measure(&mut fleet_cmd)?;
    let (fleet_max, fleet_conns) = politeness(&counts);
    let summary: Value = serde_json::from_str(fleet.stdout.trim()).with_context(|| {
        format!(
            "run --once printed no summary (exit {}): {}",
            fleet.status, fleet.stdout
        )
    })?;
    // What the server holds: every system graded from a stored report.
    let ungraded = rt.block_on(async {
        let c = reqwest::Client::builder().no_proxy().build()?;
        let r: Value = c
            .get(format!("{base}/systems?grade=none&limit=1"))
            .bearer_auth(&admin)
            .send()
            .await?
            .json()
            .await?;
        anyhow::Ok(r["total"].as_u64().unwrap_or(u64::MAX))
    })?;

    eprintln!("peer: canhgac-agent scan of the same targets, no server ...");
    counts.iter().for_each(|c| c.reset());
    let targets_file = dir.path().join("targets.txt");
    std::fs::write(&targets_file, urls.join("\n") + "\n")?;
    let mut scan_cmd = Command::new(&agent);
    scan_cmd
        .args(["scan", "--json", "--targets"])
        .arg(&targets_file)
        .arg("--ca-file")
        .arg(&ca)
        .args(["--concurrency", &o.concurrency.to_string()])
        .args(["--per-host", &o.per_host.to_string()]);
    common(&mut scan_cmd);
    let scan = measure(&mut scan_cmd)?;
    let (scan_max, scan_conns) = politeness(&counts);
    let scan_reports = scan.stdout.lines().filter(|l| !l.is_empty()).count();

    // The TLS probe alone: the probe whose connections go through the agent's host gate.
    eprintln!("canhgac-agent scan --probes tls: the host gate alone ...");
    counts.iter().for_each(|c| c.reset());
    let mut tls_cmd = Command::new(&agent);
    tls_cmd
        .args(["scan", "--json", "--targets"])
        .arg(&targets_file)
        .arg("--ca-file")
        .arg(&ca)
        .args(["--concurrency", &o.concurrency.to_string()])
        .args(["--per-host", &o.per_host.to_string()])
        .args(&resolve)
        .args(["--probes", "tls", "--timeout", "5"]);
    let tls_only = measure(&mut tls_cmd)?;
    let (tls_max, tls_conns) = politeness(&counts);
    drop(server);

    let n = urls.len() as f64;
    let fleet_rate = n / fleet.elapsed.as_secs_f64();
    let scan_rate = scan_reports as f64 / scan.elapsed.as_secs_f64();
    let stored =
        summary["stored"].as_u64().unwrap_or(0) + summary["duplicate"].as_u64().unwrap_or(0);
    let figures = json!({
        "benchmark": "fleet",
        "targets": urls.len(),
        "hosts": o.hosts,
        "concurrency": o.concurrency,
        "per_host": o.per_host,
        "probes": "tls,http,content",
        "fleet": {
            "seconds": fleet.elapsed.as_secs_f64(),
            "scans_per_second": fleet_rate,
            "agent_peak_rss_mib": fleet.peak_rss_kib as f64 / 1024.0,
            "summary": summary,
            "systems_without_grade": ungraded,
            "max_simultaneous_per_host": fleet_max,
            "connections": fleet_conns,
            "exit_status": fleet.status,
        },
        "peer_scan_only": {
            "seconds": scan.elapsed.as_secs_f64(),
            "scans_per_second": scan_rate,
            "peak_rss_mib": scan.peak_rss_kib as f64 / 1024.0,
            "reports": scan_reports,
            "max_simultaneous_per_host": scan_max,
            "connections": scan_conns,
        },
        "tls_probe_only": {
            "seconds": tls_only.elapsed.as_secs_f64(),
            "scans_per_second": n / tls_only.elapsed.as_secs_f64(),
            "max_simultaneous_per_host": tls_max,
            "connections": tls_conns,
        },
        "ratio_end_to_end_vs_scan_only": fleet_rate / scan_rate,
        "goals": {
            "scans_per_second_at_least_30": fleet_rate >= 30.0,
            "agent_memory_under_100_mb": (fleet.peak_rss_kib as f64 * 1024.0) < 100e6,
            "per_host_respected": fleet_max <= o.per_host && scan_max <= o.per_host,
            "per_host_respected_by_the_tls_probe": tls_max <= o.per_host,
            "every_report_stored": stored == urls.len() as u64 && ungraded == 0,
        },
    });
    if o.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
    } else {
        println!(
            "fleet end to end (agent run --once -> spool -> upload -> server evaluates and stores): {} targets on {} hosts in {:.2} s = {fleet_rate:.1} scans/s, agent peak RSS {:.1} MiB, {stored} reports stored, {ungraded} systems without a grade; at most {fleet_max} simultaneous connections per host (per_host {})",
            urls.len(),
            o.hosts,
            fleet.elapsed.as_secs_f64(),
            fleet.peak_rss_kib as f64 / 1024.0,
            o.per_host
        );
        println!(
            "peer, canhgac-agent scan (no server): {scan_reports} reports in {:.2} s = {scan_rate:.1} scans/s, peak RSS {:.1} MiB, at most {scan_max} per host; ratio end to end / scan only = {:.2}",
            scan.elapsed.as_secs_f64(),
            scan.peak_rss_kib as f64 / 1024.0,
            fleet_rate / scan_rate
        );
        println!(
            "TLS probe alone (the connections under the host gate): {tls_conns} connections in {:.2} s, at most {tls_max} simultaneous per host (per_host {})",
            tls_only.elapsed.as_secs_f64(),
            o.per_host
        );
    }
    if stored != urls.len() as u64 {
        bail!("{stored} of {} reports stored: {summary}", urls.len());
    }
    Ok(())
}
