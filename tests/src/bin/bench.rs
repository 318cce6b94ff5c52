//! `canhgac-bench`: speed and memory of the agent against local fixture endpoints, with a peer
//! tool (testssl.sh) measured in the same run, reported as ratios.
//!
//! Everything runs on loopback: each fixture site listens on its own 127.0.0.x address, so the
//! agent's per-host politeness limit applies per site as it would per agency server.

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use canhgac_testkit::{TestPki, TlsSite, TlsSiteBuilder};
use clap::{Parser, Subcommand};
use serde_json::json;

#[path = "bench/fleet.rs"]
mod fleet;
#[path = "bench/province.rs"]
mod province;

#[derive(Parser)]
#[command(name = "canhgac-bench", about = "canhgac benchmarks (loopback only)")]
struct Cli {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// The server at province scale (agencies, systems, dossiers, stored reports) under `wrk`,
    /// against nginx serving a static file of the same size.
    Province {
        /// Agencies.
        #[arg(long, default_value_t = 5_000)]
        agencies: usize,
        /// Information systems.
        #[arg(long, default_value_t = 20_000)]
        systems: usize,
        /// Dossiers.
        #[arg(long, default_value_t = 50_000)]
        dossiers: usize,
        /// Stored scan reports.
        #[arg(long, default_value_t = 1_000_000)]
        reports: usize,
        /// Where the dataset is kept (reused by the next run with the same sizes).
        #[arg(long, default_value = "target/bench-province")]
        data: PathBuf,
        /// Seconds per wrk run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Connections wrk keeps open.
        #[arg(long, default_value_t = 16)]
        connections: usize,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Full TLS scans (protocols, suites, certificate) of local endpoints, against testssl.sh.
    Tls {
        /// Fixture endpoints to scan.
        #[arg(long, default_value_t = 200)]
        endpoints: usize,
        /// Targets the agent scans at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Endpoints scanned by testssl.sh for the comparison (0 to skip).
        #[arg(long, default_value_t = 4)]
        testssl_sample: usize,
        /// The agent binary (default: next to this one).
        #[arg(long)]
        agent: Option<PathBuf>,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The agent fleet end to end: 1,000 targets on 50 hosts, `canhgac-agent run --once`
    /// (scan, spool, upload) against `canhgac-server` (evaluate, store), with the per-host
    /// limit counted at the fixtures, against `canhgac-agent scan` alone.
    Fleet {
        /// Targets in all.
        #[arg(long, default_value_t = 1_000)]
        targets: usize,
        /// Hosts they are spread over (127.0.1.1 onwards, at most 250).
        #[arg(long, default_value_t = 50)]
        hosts: usize,
        /// Targets the agent scans at once (the schedule's concurrency).
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Connections at once to one host (the schedule's per_host).
        #[arg(long, default_value_t = 2)]
        per_host: usize,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Loading the policy packs and evaluating scan reports against a level.
    Policy {
        /// Reports to evaluate.
        #[arg(long, default_value_t = 10_000)]
        reports: usize,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Full scans (TLS + HTTP + content + DNS + domain) of local sites with a local DNS server
    /// and RDAP registry.
    Full {
        /// Sites to start and scan.
        #[arg(long, default_value_t = 200)]
        sites: usize,
        /// Targets the agent scans at once.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// The agent binary (default: next to this one).
        #[arg(long)]
        agent: Option<PathBuf>,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// One measured run of a child process.
struct Measured {
    elapsed: Duration,
    peak_rss_kib: u64,
    stdout: String,
    status: i32,
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Runs a command, polling its peak resident set size (VmHWM) until it exits.
fn measure(cmd: &mut Command) -> Result<Measured> {
    let out = tempfile::NamedTempFile::new()?;
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::from(out.reopen()?))
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    let pid = child.id();
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ok(Measured {
        elapsed: started.elapsed(),
        peak_rss_kib: peak,
        stdout: std::fs::read_to_string(out.path())?,
        status: status.code().unwrap_or(-1),
    })
}

fn sibling(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe.with_file_name(name);
    if !path.exists() {
        bail!(
            "{} not found: build it first (cargo build --release -p canhgac-agent)",
            path.display()
        );
    }
    Ok(path)
}

fn find_testssl() -> Option<PathBuf> {
    ["testssl", "testssl.sh"].iter().find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
    })
}

/// Starts `n` sites, each on its own loopback address, cycling through four configurations.
fn start_sites(n: usize) -> Result<Vec<TlsSite>> {
    let pki = TestPki::shared();
    let variants: Vec<TlsSiteBuilder> = vec![
        TlsSite::builder(&pki.localhost()),
        TlsSite::builder(
            &pki.issue(
                &canhgac_testkit::LeafSpec::new(canhgac_testkit::pki::LOCALHOST_NAMES)
                    .key(canhgac_testkit::KeyKind::Rsa2048),
            ),
        ),
        TlsSite::builder(&pki.localhost()).tls12_only(),
        TlsSite::builder(&pki.expired(canhgac_testkit::pki::LOCALHOST_NAMES)).tls13_only(),
    ];
    (0..n)
        .map(|i| {
            let ip = Ipv4Addr::new(127, 0, ((i + 1) / 250) as u8, ((i + 1) % 250 + 1) as u8);
            variants[i % variants.len()].clone().bind_ip(ip).start()
        })
        .collect()
}

fn tls_bench(
    endpoints: usize,
    concurrency: usize,
    sample: usize,
    agent: Option<PathBuf>,
    as_json: bool,
) -> Result<()> {
    canhgac_testkit::init_crypto();
    let agent = match agent {
        Some(p) => p,
        None => sibling("canhgac-agent")?,
    };
    eprintln!("starting {endpoints} fixture endpoints on 127.0.0.x ...");
    let sites = start_sites(endpoints)?;
    let dir = tempfile::tempdir()?;
    let ca = TestPki::shared().write_ca_file(dir.path());
    let targets = dir.path().join("targets.txt");
    let mut f = std::fs::File::create(&targets)?;
    for s in &sites {
        writeln!(f, "{}", s.addr())?;
    }
    drop(f);

    // Warm-up (page cache, binary) and single-endpoint latency: 5 runs against one endpoint.
    let one = sites[0].addr().to_string();
    let mut singles = Vec::new();
    let mut probe_ms = Vec::new();
    for _ in 0..5 {
        let m = measure(
            Command::new(&agent)
                .args(["scan", "--json", &one, "--ca-file"])
                .arg(&ca),
        )?;
        let report: serde_json::Value = serde_json::from_str(m.stdout.trim())?;
        probe_ms.push(report["duration_ms"].as_u64().unwrap_or(0));
        singles.push(m.elapsed);
    }
    singles.sort();
    probe_ms.sort();
    let single = singles[singles.len() / 2];

    eprintln!("canhgac-agent: scanning {endpoints} endpoints, {concurrency} at a time ...");
    let m = measure(
        Command::new(&agent)
            .args(["scan", "--json", "--targets"])
            .arg(&targets)
            .args(["--concurrency", &concurrency.to_string(), "--ca-file"])
            .arg(&ca),
    )?;
    let lines = m.stdout.lines().count();
    if lines != endpoints || m.status != 0 {
        bail!(
            "the agent returned {lines} reports for {endpoints} endpoints (exit {})",
            m.status
        );
    }
    let mut connections = 0u64;
    let mut complete = 0usize;
    for line in m.stdout.lines() {
        let r: serde_json::Value = serde_json::from_str(line)?;
        connections += r["tls"]["connections"].as_u64().unwrap_or(0);
        if r["tls"]["protocols"]["tls1.2"].is_boolean() && r["tls"]["certificate"].is_object() {
            complete += 1;
        }
    }
    let agent_rate = endpoints as f64 / m.elapsed.as_secs_f64();

    let mut testssl = serde_json::Value::Null;
    let mut ratio_text = "testssl.sh not installed (scripts/bench installs it)".to_string();
    if sample > 0
        && let Some(bin) = find_testssl()
    {
        eprintln!("testssl.sh: scanning {sample} endpoints, 2 at a time (2 cores) ...");
        let started = Instant::now();
        let mut peak = 0u64;
        for pair in sites[..sample.min(sites.len())].chunks(2) {
            let handles: Vec<_> = pair
                .iter()
                .map(|s| {
                    let bin = bin.clone();
                    let addr = s.addr().to_string();
                    std::thread::spawn(move || run_testssl(&bin, &addr))
                })
                .collect();
            for h in handles {
                let m = h.join().expect("thread")?;
                peak = peak.max(m.peak_rss_kib);
            }
        }
        let elapsed = started.elapsed();
        let rate = sample as f64 / elapsed.as_secs_f64();
        ratio_text = format!("{:.0}x testssl.sh's throughput", agent_rate / rate);
        testssl = json!({
            "endpoints": sample,
            "seconds": elapsed.as_secs_f64(),
            "endpoints_per_second": rate,
            "seconds_per_endpoint_per_process": elapsed.as_secs_f64() * 2.0 / sample as f64,
            "peak_rss_mib_per_process": peak as f64 / 1024.0,
            "throughput_ratio": agent_rate / rate,
            "options": TESTSSL_ARGS.join(" "),
        });
    }
    let figures = json!({
        "benchmark": "tls",
        "endpoints": endpoints,
        "concurrency": concurrency,
        "canhgac": {
            "seconds": m.elapsed.as_secs_f64(),
            "endpoints_per_second": agent_rate,
            "peak_rss_mib": m.peak_rss_kib as f64 / 1024.0,
            "complete_reports": complete,
            "connections_per_endpoint": connections as f64 / endpoints as f64,
            "single_endpoint_process_ms": single.as_secs_f64() * 1000.0,
            "single_endpoint_probe_ms": probe_ms[probe_ms.len() / 2],
        },
        "testssl": testssl,
    });
    if as_json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
    } else {
        println!(
            "canhgac-agent: {endpoints} endpoints in {:.2} s = {:.1} endpoints/s, peak RSS {:.1} MiB, {:.1} connections/endpoint",
            m.elapsed.as_secs_f64(),
            agent_rate,
            m.peak_rss_kib as f64 / 1024.0,
            connections as f64 / endpoints as f64
        );
        println!(
            "one endpoint: {} ms probe, {:.0} ms including process start (median of 5)",
            probe_ms[probe_ms.len() / 2],
            single.as_secs_f64() * 1000.0
        );
        if !testssl.is_null() {
            println!(
                "testssl.sh ({}): {} endpoints in {:.1} s = {:.3} endpoints/s, {:.1} s per endpoint per process",
                TESTSSL_ARGS.join(" "),
                sample,
                testssl["seconds"].as_f64().unwrap_or(0.0),
                testssl["endpoints_per_second"].as_f64().unwrap_or(0.0),
                testssl["seconds_per_endpoint_per_process"]
                    .as_f64()
                    .unwrap_or(0.0)
            );
        }
        println!("ratio: canhgac-agent = {ratio_text}");
    }
    drop(sites);
    Ok(())
}

/// testssl.sh checks comparable to the agent's: protocols, every suite per protocol, server
/// defaults (certificate), server preference; no DNS (loopback only), no phoning out.
const TESTSSL_ARGS: [&str; 11] = [
    "--quiet",
    "--color",
    "0",
    "--warnings",
    "off",
    "--nodns",
    "none",
    "-p",
    "-E",
    "-S",
    "-P",
];

fn run_testssl(bin: &Path, addr: &str) -> Result<Measured> {
    let m = measure(Command::new(bin).args(TESTSSL_ARGS).arg(addr))?;
    if !m.stdout.contains("Testing protocols") {
        bail!(
            "testssl.sh did not scan {addr} (exit {}): {}",
            m.status,
            m.stdout.lines().take(5).collect::<Vec<_>>().join(" | ")
        );
    }
    Ok(m)
}

const BENCH_PAGE: &str = "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>Sở Công Thương</title></head><body><h1>Trang thông tin điện tử</h1><p>Thông báo lịch tiếp công dân, kế hoạch kiểm tra, tin hoạt động của các phòng chuyên môn.</p><a href=\"/lien-he\">Liên hệ</a></body></html>";

fn loopback(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 1 + (i / 250) as u8, 0, (i % 250 + 1) as u8)
}

/// A port free on every loopback address used (tried on the first and last).
fn common_port(n: usize) -> Result<u16> {
    for _ in 0..50 {
        let probe = std::net::TcpListener::bind((loopback(0), 0))?;
        let port = probe.local_addr()?.port();
        drop(probe);
        if (0..n).all(|i| std::net::TcpListener::bind((loopback(i), port)).is_ok()) {
            return Ok(port);
        }
    }
    bail!("no port free on all {n} loopback addresses")
}

fn full_bench(
    sites: usize,
    concurrency: usize,
    agent: Option<PathBuf>,
    as_json: bool,
) -> Result<()> {
    use canhgac_testkit::registry::{RdapServer, Record};
    use canhgac_testkit::{DnsServer, Reply, Scheme, TestZone, WebSite};
    canhgac_testkit::init_crypto();
    let agent = match agent {
        Some(p) => p,
        None => sibling("canhgac-agent")?,
    };
    eprintln!("starting {sites} sites (HTTP + HTTPS each), a DNS server and an RDAP registry ...");
    let leaf = TestPki::shared().leaf(&["*.bench.gov.vn", "bench.gov.vn"]);
    let http_port = common_port(sites)?;
    let https_port = common_port(sites)?;
    let mut running = Vec::with_capacity(sites);
    let mut zone = String::from(
        "$TTL 300\n@ IN SOA ns1.bench.gov.vn. hostmaster.bench.gov.vn. 2026010101 3600 600 86400 300\n\
         @ IN NS ns1.bench.gov.vn.\n@ IN NS ns2.bench.gov.vn.\nns1 IN A 127.0.0.1\nns2 IN A 127.0.0.1\n\
         @ IN TXT \"v=spf1 -all\"\n_dmarc IN TXT \"v=DMARC1; p=reject\"\n@ IN CAA 0 issue \"letsencrypt.org\"\n",
    );
    for i in 0..sites {
        let site = WebSite::start_on_ports(&leaf, loopback(i), http_port, https_port)?;
        site.route(
            Scheme::Http,
            "/",
            Reply::redirect(301, &format!("https://site-{i}.bench.gov.vn:{https_port}/")),
        );
        site.route(
            Scheme::Https,
            "/",
            Reply::html(BENCH_PAGE).with_header("Strict-Transport-Security", "max-age=31536000"),
        );
        zone.push_str(&format!("site-{i} IN A {}\n", loopback(i)));
        running.push(site);
    }
    let dns = DnsServer::try_start(vec![TestZone::parse("bench.gov.vn", zone)])?;
    let rdap = RdapServer::start()?;
    rdap.add_record("bench.gov.vn", &Record::expiring_in_days(400));
    let dir = tempfile::tempdir()?;
    let ca = TestPki::shared().write_ca_file(dir.path());
    let targets = dir.path().join("targets.txt");
    let mut f = std::fs::File::create(&targets)?;
    for i in 0..sites {
        writeln!(f, "https://site-{i}.bench.gov.vn:{https_port}/")?;
    }
    drop(f);
    eprintln!("canhgac-agent: full scans of {sites} sites, {concurrency} at a time ...");
    let m = measure(
        Command::new(&agent)
            .args(["scan", "--json", "--targets"])
            .arg(&targets)
            .args(["--concurrency", &concurrency.to_string(), "--ca-file"])
            .arg(&ca)
            .args(["--resolver", &dns.addr().to_string()])
            .args(["--rdap-bootstrap", &rdap.bootstrap_url()])
            .args(["--http-port", &http_port.to_string(), "--timeout", "5"]),
    )?;
    let mut complete = 0;
    let mut lines = 0;
    for line in m.stdout.lines() {
        lines += 1;
        let r: serde_json::Value = serde_json::from_str(line)?;
        let ok = r["tls"]["validation"]["trusted"] == true
            && r["http"]["redirects_to_https"] == true
            && r["dns"]["a"].as_array().is_some_and(|a| !a.is_empty())
            && r["domain"]["expires_in_days"].is_number()
            && r["content"]["gambling_spam"] == false;
        if ok {
            complete += 1;
        }
    }
    if lines != sites {
        bail!(
            "the agent returned {lines} reports for {sites} sites (exit {})",
            m.status
        );
    }
    let rate = sites as f64 / m.elapsed.as_secs_f64();
    let figures = json!({
        "benchmark": "full",
        "sites": sites,
        "concurrency": concurrency,
        "seconds": m.elapsed.as_secs_f64(),
        "sites_per_second": rate,
        "peak_rss_mib": m.peak_rss_kib as f64 / 1024.0,
        "complete_reports": complete,
        "exit_status": m.status,
    });
    if as_json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
    } else {
        println!(
            "canhgac-agent full scans: {sites} sites in {:.2} s = {rate:.1} sites/s, peak RSS {:.1} MiB, {complete} complete reports (TLS trusted, HTTP->HTTPS, DNS, domain, content)",
            m.elapsed.as_secs_f64(),
            m.peak_rss_kib as f64 / 1024.0
        );
    }
    drop(running);
    Ok(())
}

/// A report with every probe's section, varied by `i` (good and bad values alternate).
fn sample_report(i: usize) -> serde_json::Value {
    let b = |k: usize| (i >> k) & 1 == 1;
    json!({
        "schema_version": 1, "id": format!("r{i}"),
        "agent": {"name": "bench", "version": "0"}, "started_at": "2026-11-23T00:00:00Z", "duration_ms": 20,
        "target": {"input": "x", "host": if b(0) { "a.example.gov.vn" } else { "a.example.com" }, "port": 443, "address": "127.0.0.1"},
        "tls": {
            "reachable": true, "negotiated": {"protocol": "tls1.3"},
            "protocols": {"ssl3": false, "tls1.0": b(1), "tls1.1": false, "tls1.2": true, "tls1.3": true},
            "validation": {"trusted": b(2), "hostname_match": true},
            "certificate": {"days_left": (i % 120) as i64 - 10, "key_bits": if b(3) { 2048 } else { 1024 }, "key_type": "RSA"},
            "ciphers": {"weaknesses": {"null": false, "anonymous": false, "export": false, "rc4": b(4), "des": false, "forward_secrecy_only": b(5)}}
        },
        "http": {
            "redirects_to_https": b(6), "downgrades": false,
            "headers": {"hsts": {"present": b(7), "max_age": if b(7) { json!(31536000) } else { json!(null) }},
                        "csp": {"present": b(8), "frame_ancestors": null}, "x_frame_options": "DENY",
                        "x_content_type_options": "nosniff", "referrer_policy": null},
            "cookies": [{"name": "sid", "set_by": "https://a/", "secure": b(9)}],
            "disclosures": [{"source": "Server", "value": "nginx/1.22.1", "version": if b(10) { json!("1.22.1") } else { json!(null) }}],
            "exposures": [{"path": "/.git/HEAD", "exposed": b(11)}]
        },
        "content": {"gambling_spam": b(12), "defacement": false},
        "dns": {"a": ["127.0.0.1"], "aaaa": [], "ipv6": b(13), "dnssec": if b(14) { "valid" } else { "unsigned" },
                "caa": [], "spf": {"all": "-all"}, "dmarc": {"policy": "reject"}},
        "domain": {"expires_in_days": (i % 400) as i64, "gov_vn": b(0)}
    })
}

fn policy_bench(reports: usize, as_json: bool) -> Result<()> {
    use canhgac_policies::content::KeywordLists;
    use canhgac_policies::pack::{Pack, evaluate_value};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/packs/decree85");
    let keywords_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/packs/content/keywords.toml");
    let started = Instant::now();
    let pack = Pack::load(&dir)?;
    let keywords =
        KeywordLists::from_toml_str(&std::fs::read_to_string(&keywords_path)?, "keywords.toml")?;
    let load = started.elapsed();
    let texts: Vec<String> = (0..reports).map(|i| sample_report(i).to_string()).collect();
    // The yardstick measured in the same run: parsing the same reports from JSON.
    let started = Instant::now();
    let values: Vec<serde_json::Value> = texts
        .iter()
        .map(|t| serde_json::from_str(t))
        .collect::<Result<_, _>>()?;
    let parse = started.elapsed();
    let started = Instant::now();
    let mut fails = 0u64;
    for (i, v) in values.iter().enumerate() {
        let e = evaluate_value(&pack, v, (i % 5 + 1) as u8);
        fails += u64::from(e.counts.fail);
    }
    let eval = started.elapsed();
    let figures = json!({
        "benchmark": "policy",
        "reports": reports,
        "rules": pack.rules.len(),
        "keyword_categories": keywords.categories.len(),
        "load_ms": load.as_secs_f64() * 1000.0,
        "evaluate_ms": eval.as_secs_f64() * 1000.0,
        "parse_json_ms": parse.as_secs_f64() * 1000.0,
        "evaluate_over_parse": eval.as_secs_f64() / parse.as_secs_f64(),
        "failures_found": fails,
    });
    if as_json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
    } else {
        println!(
            "policy: loading the decree85 pack ({} rules, workflow, calendar) and the keyword lists: {:.1} ms; evaluating {reports} reports: {:.1} ms ({:.1} us each); parsing the same reports from JSON: {:.1} ms (evaluation = {:.2}x parsing); {fails} failures found",
            pack.rules.len(),
            load.as_secs_f64() * 1000.0,
            eval.as_secs_f64() * 1000.0,
            eval.as_secs_f64() * 1e6 / reports as f64,
            parse.as_secs_f64() * 1000.0,
            eval.as_secs_f64() / parse.as_secs_f64()
        );
    }
    Ok(())
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Bench::Province {
            agencies,
            systems,
            dossiers,
            reports,
            data,
            seconds,
            connections,
            json,
        } => province::run(province::Options {
            sizes: province::Sizes {
                agencies,
                systems,
                dossiers,
                reports,
            },
            data,
            seconds,
            connections,
            json,
        }),
        Bench::Policy { reports, json } => policy_bench(reports, json),
        Bench::Fleet {
            targets,
            hosts,
            concurrency,
            per_host,
            json,
        } => fleet::run(fleet::Options {
            targets,
            hosts: hosts.clamp(1, 250),
            concurrency,
            per_host,
            json,
        }),
        Bench::Full {
            sites,
            concurrency,
            agent,
            json,
        } => full_bench(sites, concurrency, agent, json),
        Bench::Tls {
            endpoints,
            concurrency,
            testssl_sample,
            agent,
            json,
        } => tls_bench(endpoints, concurrency, testssl_sample, agent, json),
    }
}
