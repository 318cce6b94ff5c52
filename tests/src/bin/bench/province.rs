//! `canhgac-bench province`: the server at the scale of a province (5,000 agencies, 20,000
//! systems, 50,000 dossiers, 1,000,000 stored reports), loaded over HTTP by `wrk` on loopback,
//! against nginx serving a static JSON file of the same size with the same load.
//!
//! The dataset is written straight into a redb store with the server library (batched writes),
//! then the release `canhgac-server serve` runs on it; accounts and tokens are made with the
//! real CLI on the stopped store.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use canhgac_policies::pack::{Pack, evaluate_value};
use canhgac_policies::report::ScanReport;
use canhgac_server::compliance::Compliance;
use canhgac_server::model::{
    Agency, AgencyId, Approval, Deadline, DeadlineStage, Dossier, DossierId, DossierState,
    LetterRef, Level, System, SystemId, SystemStatus,
};
use canhgac_server::repo::json as to_json;
use canhgac_server::store::{self, Batch, Store, Table};
use jiff::{Timestamp, ToSpan};
use serde_json::{Value, json};

/// The sizes of the dataset.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Agencies (a province, 100 departments and districts, the rest below them).
    pub agencies: usize,
    /// Information systems.
    pub systems: usize,
    /// Dossiers.
    pub dossiers: usize,
    /// Stored scan reports.
    pub reports: usize,
}

/// Options of a run.
pub struct Options {
    /// Sizes.
    pub sizes: Sizes,
    /// Where the store goes (kept, and reused when it holds this dataset already).
    pub data: PathBuf,
    /// Seconds per load run.
    pub seconds: u64,
    /// Connections kept open by wrk.
    pub connections: usize,
    /// Print JSON.
    pub json: bool,
}

const TOP: usize = 100;
const NAMES: &[&str] = &[
    "Cổng thông tin điện tử",
    "Hệ thống quản lý văn bản và điều hành",
    "Cổng dịch vụ công",
    "Cơ sở dữ liệu hộ tịch",
    "Hệ thống thư điện tử công vụ",
    "Phần mềm một cửa điện tử",
    "Hệ thống camera giám sát",
    "Cơ sở dữ liệu đất đai",
];

fn agency_id(i: usize) -> AgencyId {
    AgencyId::derived(base_time(), format!("agency-{i}").as_bytes())
}

fn system_id(i: usize) -> SystemId {
    SystemId::derived(
        base_time() + (i as i64).seconds(),
        format!("system-{i}").as_bytes(),
    )
}

fn base_time() -> Timestamp {
    "2025-01-01T00:00:00Z".parse().expect("a timestamp")
}

fn host(i: usize) -> String {
    format!("ht{i}.tinh.example.gov.vn")
}

/// The top unit (department or district) of system `i`, and its operating unit below it.
fn units_of(i: usize, sizes: &Sizes) -> (usize, usize) {
    let top = 1 + i % TOP;
    let below = sizes.agencies.saturating_sub(1 + TOP);
    if below == 0 {
        return (top, top);
    }
    let per_top = below.div_ceil(TOP);
    let mut unit = 1 + TOP + (i % TOP) + TOP * ((i / TOP) % per_top);
    if unit >= sizes.agencies {
        unit = top;
    }
    (top, unit)
}

fn agencies(sizes: &Sizes) -> Vec<Agency> {
    let agency = |i: usize, name: String, code: String, parent: Option<usize>| Agency {
        id: agency_id(i),
        name,
        short_code: code,
        parent: parent.map(agency_id),
        contacts: Vec::new(),
        retired: false,
        merged_into: None,
    };
    let mut out = vec![agency(
        0,
        "UBND tỉnh Thử Nghiệm".into(),
        "UBND".into(),
        None,
    )];
    for i in 1..sizes.agencies {
        if i <= TOP {
            let name = if i.is_multiple_of(2) {
                format!("Sở chuyên ngành số {i}")
            } else {
                format!("UBND huyện số {i}")
            };
            out.push(agency(i, name, format!("S{i}"), Some(0)));
        } else {
            let parent = 1 + (i - 1 - TOP) % TOP;
            out.push(agency(
                i,
                format!("Phòng số {i} thuộc đơn vị {parent}"),
                format!("P{i}"),
                Some(parent),
            ));
        }
    }
    out
}

fn system(i: usize, sizes: &Sizes) -> System {
    let (top, unit) = units_of(i, sizes);
    let level = Level::new((1 + i % 5) as u8).expect("1 to 5");
    System {
        id: system_id(i),
        name: format!("{} {} số {i}", NAMES[i % NAMES.len()], unit),
        owner_agency: agency_id(top),
        operating_unit: agency_id(unit),
        urls: vec![format!("https://{}/", host(i))],
        hosting: "Trung tâm dữ liệu tỉnh".into(),
        category: "Hệ thống cung cấp dịch vụ trực tuyến".into(),
        proposed_level: Some(level),
        approved: i.is_multiple_of(3).then(|| Approval {
            level,
            decision_number: format!("{}/QĐ-UBND", 100 + i),
            decision_date: jiff::civil::date(2025, 6, 1),
        }),
        status: if i % 50 == 49 {
            SystemStatus::Retired
        } else {
            SystemStatus::InUse
        },
        needs_redetermination: false,
    }
}

/// The letter number of dossier `k`'s covering letter.
fn letter_number(k: usize) -> u32 {
    1000 + k as u32
}

fn dossier(k: usize, sizes: &Sizes) -> Dossier {
    let s = k % sizes.systems;
    let (top, _) = units_of(s, sizes);
    let created = base_time() + (k as i64 * 60).seconds();
    let level = Level::new((1 + s % 5) as u8).expect("1 to 5");
    let mut d = Dossier::new_draft(
        DossierId::derived(created, format!("dossier-{k}").as_bytes()),
        system_id(s),
        level,
        created,
    );
    d.state = DossierState::ALL[k % DossierState::ALL.len()];
    if d.state != DossierState::Draft {
        let date = jiff::civil::date(2026, 1, 1) + ((k % 300) as i64).days();
        d.submitted_letter =
            Some(LetterRef::new(letter_number(k), &format!("S{top}-VP"), date).expect("a letter"));
    }
    if d.state.is_with_authority() {
        d.deadline = Some(Deadline {
            stage: DeadlineStage::Appraisal,
            count: canhgac_policies::pack::workflow::DayCount::WorkingDays,
            due: jiff::civil::date(2026, 3, 1) + ((k % 400) as i64).days(),
            paused_since: None,
            days_left: None,
        });
    }
    d.updated_at = created + 3600.seconds();
    d
}

/// A report id, time-ordered like UUIDv7.
fn report_id(r: usize) -> String {
    let ms = base_time().as_millisecond() as u64 + r as u64;
    format!(
        "{:08x}-{:04x}-7{:03x}-8{:03x}-{:012x}",
        ms >> 16,
        ms & 0xffff,
        r & 0xfff,
        (r >> 12) & 0xfff,
        r
    )
}

/// A real report: the release agent's scan of a local TLS site (every section it fills).
fn real_report() -> Result<Value> {
    canhgac_testkit::init_crypto();
    let agent = super::sibling("canhgac-agent")?;
    let sites = super::start_sites(1)?;
    let dir = tempfile::tempdir()?;
    let ca = canhgac_testkit::TestPki::shared().write_ca_file(dir.path());
    let out = Command::new(&agent)
        .args(["scan", "--json", "--ca-file"])
        .arg(&ca)
        .arg(sites[0].addr().to_string())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", agent.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next().context("the agent printed no report")?;
    let v: Value = serde_json::from_str(line)?;
    serde_json::from_value::<ScanReport>(v.clone()).context("the agent's report")?;
    Ok(v)
}

fn report_value(template: &Value, r: usize, target: usize) -> Value {
    let mut v = template.clone();
    v["id"] = json!(report_id(r));
    v["target"]["host"] = json!(host(target));
    v["target"]["input"] = json!(format!("https://{}/", host(target)));
    v["target"]["port"] = json!(443);
    v
}

fn progress(what: &str, done: usize, total: usize, started: Instant) {
    let s = started.elapsed().as_secs_f64();
    eprint!(
        "\r  {what}: {done}/{total} ({:.0}/s, {s:.0} s)      ",
        done as f64 / s.max(1e-9)
    );
    if done == total {
        eprintln!();
    }
}

/// Figures of the generation.
struct Generated {
    seconds_by_part: Vec<(&'static str, f64)>,
}

fn generate(store: &dyn Store, sizes: &Sizes, template: &Value) -> Result<Generated> {
    let mut parts = Vec::new();
    let started = Instant::now();
    let mut batch = Batch::new();
    for a in agencies(sizes) {
        batch = batch.put(Table::Agencies, a.id.to_string(), to_json(&a));
    }
    store.apply(batch)?;
    parts.push(("agencies", started.elapsed().as_secs_f64()));

    let pack = Pack::decree85();
    let started = Instant::now();
    for chunk in (0..sizes.systems).collect::<Vec<_>>().chunks(2000) {
        let mut batch = Batch::new();
        for &i in chunk {
            let s = system(i, sizes);
            // Half the systems have an evaluation already.
            if i.is_multiple_of(2) {
                let report: ScanReport = serde_json::from_value(report_value(template, i, i))?;
                let level = s.proposed_level.map_or(1, |l| l.get());
                // Varied evaluations (grades A to F) from the varied sample reports.
                let evaluation = evaluate_value(&pack, &super::sample_report(i), level);
                let c = Compliance {
                    system: s.id.to_string(),
                    report: report.id.clone(),
                    target: format!("{}:443", host(i)),
                    scanned_at: report.started_at,
                    evaluated_at: report.started_at,
                    evaluation,
                };
                batch = batch.put(Table::Compliance, s.id.to_string(), to_json(&c));
            }
            batch = batch.put(Table::Systems, s.id.to_string(), to_json(&s));
        }
        store.apply(batch)?;
        progress(
            "systems",
            chunk[chunk.len() - 1] + 1,
            sizes.systems,
            started,
        );
    }
    parts.push(("systems", started.elapsed().as_secs_f64()));

    let started = Instant::now();
    for chunk in (0..sizes.dossiers).collect::<Vec<_>>().chunks(5000) {
        let mut batch = Batch::new();
        for &k in chunk {
            let d = dossier(k, sizes);
            batch = batch.put(Table::Dossiers, d.id.to_string(), to_json(&d));
        }
        store.apply(batch)?;
        progress(
            "dossiers",
            chunk[chunk.len() - 1] + 1,
            sizes.dossiers,
            started,
        );
    }
    parts.push(("dossiers", started.elapsed().as_secs_f64()));

    // Reports: targets in turn, so each target's latest is among the last `systems` reports.
    let started = Instant::now();
    let per_batch = 10_000;
    let mut r = 0;
    while r < sizes.reports {
        let end = (r + per_batch).min(sizes.reports);
        let mut batch = Batch::new();
        for i in r..end {
            let target = i % sizes.systems;
            let id = report_id(i);
            let t = format!("{}:443", host(target));
            let raw = serde_json::to_vec(&report_value(template, i, target))?;
            batch = batch.put(Table::Reports, format!("{t}/{id}"), raw).put(
                Table::ReportIds,
                id.clone(),
                t.clone(),
            );
            if i + sizes.systems >= sizes.reports {
                batch = batch.put(Table::Latest, t, id);
            }
        }
        store.apply(batch)?;
        r = end;
        progress("reports", r, sizes.reports, started);
    }
    parts.push(("reports", started.elapsed().as_secs_f64()));
    Ok(Generated {
        seconds_by_part: parts,
    })
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    super::vm_hwm_kib(pid)
}

/// The running server; killed on drop.
struct Server {
    child: Child,
    base: String,
    started_in: Duration,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(bin: &Path, data: &Path) -> Result<Server> {
    let started = Instant::now();
    let mut child = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let stderr = child.stderr.take().context("stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let base = loop {
        let Some(line) = lines.next() else {
            bail!("the server exited before serving");
        };
        let line = line?;
        if let Some(rest) = line.split("serving http://").nth(1) {
            break format!("http://{}", rest.split('/').next().unwrap_or_default());
        }
    };
    let started_in = started.elapsed();
    std::thread::spawn(move || for _ in lines {});
    Ok(Server {
        child,
        base,
        started_in,
    })
}

fn cli(bin: &Path, args: &[&str], stdin: Option<&str>) -> Result<String> {
    use std::io::Write;
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .context("stdin")?
            .write_all(text.as_bytes())?;
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "canhgac-server {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// One wrk run.
#[derive(Debug, Clone)]
struct Load {
    p50_ms: f64,
    p99_ms: f64,
    rps: f64,
    requests: u64,
    errors: u64,
}

fn millis(text: &str) -> Option<f64> {
    let (num, unit) = text
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| text.split_at(i))?;
    let n: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => return None,
    })
}

fn parse_wrk(out: &str) -> Result<Load> {
    let mut p50 = None;
    let mut p99 = None;
    let mut rps = None;
    let mut requests = None;
    let mut errors = 0;
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", v] => p50 = millis(v),
            ["99%", v] => p99 = millis(v),
            ["Requests/sec:", v] => rps = v.parse().ok(),
            [n, "requests", "in", ..] => requests = n.parse().ok(),
            ["Non-2xx", "or", "3xx", "responses:", n] => errors += n.parse::<u64>().unwrap_or(0),
            ["Socket", "errors:", rest @ ..] => {
                errors += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>()
            }
            _ => {}
        }
    }
    Ok(Load {
        p50_ms: p50.context("no 50% line in wrk's output")?,
        p99_ms: p99.context("no 99% line in wrk's output")?,
        rps: rps.context("no Requests/sec in wrk's output")?,
        requests: requests.context("no request count in wrk's output")?,
        errors,
    })
}

fn wrk(url: &str, token: Option<&str>, script: Option<&Path>, opts: &Options) -> Result<Load> {
    wrk_with(url, token, script, opts, opts.connections)
}

/// [`wrk`] with `connections` open (one thread for one connection).
fn wrk_with(
    url: &str,
    token: Option<&str>,
    script: Option<&Path>,
    opts: &Options,
    connections: usize,
) -> Result<Load> {
    let threads = connections.clamp(1, 2);
    let mut cmd = Command::new("wrk");
    cmd.args(["-t", &threads.to_string(), "-c", &connections.to_string()])
        .args(["-d", &format!("{}s", opts.seconds), "--latency"]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    cmd.arg(url);
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_wrk(&text).with_context(|| format!("wrk {url}: {text}"))
}

/// The wrk script posting reports with unique ids, to hosts of the systems in turn.
fn ingest_script(dir: &Path, template: &str, systems: usize, nonce: u32) -> Result<PathBuf> {
    let body = dir.join("report.json");
    std::fs::write(&body, template)?;
    let script = dir.join("ingest.lua");
    let lua = format!(
        r#"
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  local f = assert(io.open("{body}", "r"))
  template = f:read("*a")
  f:close()
  counter = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  counter = counter + 1
  local id = string.format("{nonce:08x}-%04x-7000-8000-%012x", tid, counter)
  local n = (counter * 2 + tid) % {systems}
  if n % 50 == 49 then n = n - 1 end -- retired systems (1 in 50) are scanned by no agent
  local h = string.format("ht%d.tinh.example.gov.vn", n)
  local body = template:gsub("@ID@", id):gsub("@HOST@", h)
  return wrk.format(nil, nil, nil, body)
end
"#,
        body = body.display()
    );
    std::fs::write(&script, lua)?;
    Ok(script)
}

fn metric(base: &str, name: &str) -> Result<f64> {
    let out = Command::new("curl")
        .args(["-s", "--noproxy", "*", &format!("{base}/metrics")])
        .output()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no {name} in /metrics"))
}

fn get_body(url: &str, token: &str) -> Result<Vec<u8>> {
    let out = Command::new("curl")
        .args(["-s", "--noproxy", "*", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(url)
        .output()?;
    Ok(out.stdout)
}

fn dir_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::metadata(path) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|rd| rd.flatten().map(|e| dir_size(&e.path())).sum())
        .unwrap_or(0)
}

/// Runs the benchmark.
pub fn run(opts: Options) -> Result<()> {
    let sizes = opts.sizes;
    let server_bin = super::sibling("canhgac-server")?;
    let data = opts.data.clone();
    let marker = data.join("bench-dataset.txt");
    let wanted = format!(
        "agencies={} systems={} dossiers={} reports={}\n",
        sizes.agencies, sizes.systems, sizes.dossiers, sizes.reports
    );
    let mut generation = Vec::new();
    let template = real_report()?;
    eprintln!(
        "province: report template from the agent, {} bytes",
        serde_json::to_vec(&template)?.len()
    );
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str()) {
        eprintln!("province: reusing the dataset in {}", data.display());
    } else {
        if data.exists() {
            std::fs::remove_dir_all(&data)?;
        }
        std::fs::create_dir_all(&data)?;
        eprintln!(
            "province: generating {} agencies, {} systems, {} dossiers, {} reports in {}",
            sizes.agencies,
            sizes.systems,
            sizes.dossiers,
            sizes.reports,
            data.display()
        );
        let started = Instant::now();
        {
            let store = store::open(&data.join("canhgac.redb"), "redb")?;
            let g = generate(store.as_ref(), &sizes, &template)?;
            generation = g.seconds_by_part;
        }
        generation.push(("total", started.elapsed().as_secs_f64()));
        let d = data.to_str().context("a UTF-8 path")?;
        cli(
            &server_bin,
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
            Some("mật-khẩu-quản-trị-đo-tải"),
        )?;
        cli(
            &server_bin,
            &[
                "user",
                "add",
                "--data",
                d,
                "--login",
                "officer",
                "--role",
                "agency_officer",
                "--agency",
                &agency_id(1).to_string(),
            ],
            Some("mật-khẩu-cán-bộ-đo-tải"),
        )?;
        cli(
            &server_bin,
            &[
                "user",
                "add",
                "--data",
                d,
                "--login",
                "agent",
                "--role",
                "agent",
                "--agency",
                &agency_id(0).to_string(),
            ],
            None,
        )?;
        for login in ["admin", "officer", "agent"] {
            let token = cli(
                &server_bin,
                &["token", "add", "--data", d, "--login", login],
                None,
            )?;
            std::fs::write(data.join(format!("{login}.token")), token)?;
        }
        std::fs::write(&marker, &wanted)?;
    }
    let token = |login: &str| -> Result<String> {
        Ok(
            std::fs::read_to_string(data.join(format!("{login}.token")))?
                .trim()
                .to_string(),
        )
    };
    // The uploading agent belongs to the province's root agency, so every in-use system's
    // host is assigned to it (datasets made before uploads were scoped have an agent without
    // that agency: add one).
    if !data.join("agent-province.token").exists() {
        let d = data.to_str().context("a UTF-8 path")?;
        cli(
            &server_bin,
            &[
                "user",
                "add",
                "--data",
                d,
                "--login",
                "agent-province",
                "--role",
                "agent",
                "--agency",
                &agency_id(0).to_string(),
            ],
            None,
        )?;
        let t = cli(
            &server_bin,
            &["token", "add", "--data", d, "--login", "agent-province"],
            None,
        )?;
        std::fs::write(data.join("agent-province.token"), t)?;
    }
    let (admin, officer, agent) = (token("admin")?, token("officer")?, token("agent-province")?);
    let store_bytes_before = dir_size(&data);
    // The read index alone: built from the store as the server does at start-up (the store
    // opened without its whole-file checksum pass, which `serve` also runs and times apart).
    let (index_seconds, index_rss_kib, letters, letters_seconds, passes) = {
        let rss = |field: &str| -> u64 {
            std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix(field).map(|v| v.trim().to_string()))
                })
                .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
                .unwrap_or(0)
        };
        let store = canhgac_server::store::RedbStore::open_with(
            &data.join("canhgac.redb"),
            canhgac_server::store::redb::RedbOptions {
                verify_on_open: false,
            },
        )?;
        let before = rss("VmRSS:");
        let started = Instant::now();
        let index = canhgac_server::index::Index::build(&store)?;
        let seconds = started.elapsed().as_secs_f64();
        let grown = rss("VmRSS:").saturating_sub(before);
        // The holiday letters of the whole province (every agency's, the summary), rendered
        // from the same index as the alert loop does on a reminder day, without sending.
        let pack = canhgac_policies::pack::Pack::decree85();
        let started = Instant::now();
        let batch = canhgac_server::api::alerts_preview(
            &store,
            &index,
            &pack,
            &canhgac_server::alerts::settings::AlertSettings::default(),
            &canhgac_server::api::AlertsPreview {
                day: jiff::civil::date(2027, 9, 2),
                agency: None,
                reminder: None,
            },
            base_time(),
        )?;
        let letters_seconds = started.elapsed().as_secs_f64();
        let letters = batch.map_or(0, |b| b.agencies.len());
        // The alert loop's event detection, as on every tick: the first pass (no state yet:
        // each target's history is read) and the next one (incremental).
        let settings = canhgac_server::alerts::settings::AlertSettings::default();
        let agents = canhgac_server::agents::list_agents(&store)?;
        let now = base_time()
            .checked_add(jiff::SignedDuration::from_hours(24 * 30))
            .expect("a time");
        let mut passes = Vec::new();
        {
            let data = index.read(&store)?;
            for _ in 0..2 {
                let started = Instant::now();
                let found = canhgac_server::alerts::events::detect(
                    &store, &data, &pack, &agents, &settings, now,
                )?;
                passes.push((started.elapsed().as_secs_f64(), found.len()));
            }
        }
        drop(index);
        (seconds, grown, letters, letters_seconds, passes)
    };
    for (i, (secs, found)) in passes.iter().enumerate() {
        eprintln!(
            "province: event detection pass {} in {secs:.2} s ({found} events; {:.2}x the index build)",
            i + 1,
            secs / index_seconds
        );
    }
    eprintln!(
        "province: holiday letters of {letters} agencies rendered in {letters_seconds:.2} s ({:.2}x the index build)",
        letters_seconds / index_seconds
    );
    eprintln!(
        "province: read index built in {index_seconds:.2} s (process RSS grew {:.0} MiB, the store's page cache included)",
        index_rss_kib as f64 / 1024.0
    );

    let server = serve(&server_bin, &data)?;
    let pid = server.child.id();
    let started_in = server.started_in;
    let rss_after_start = vm_hwm_kib(pid).unwrap_or(0);
    eprintln!(
        "province: server up in {:.2} s (read index built), peak RSS {:.0} MiB",
        server.started_in.as_secs_f64(),
        rss_after_start as f64 / 1024.0
    );
    let api = format!("{}/api/v1", server.base);
    let sys = system_id(12_345 % sizes.systems);
    let top = agency_id(7);
    let letter_k = 10_001 % sizes.dossiers;
    let letter = dossier(letter_k, &sizes)
        .submitted_letter
        .map(|l| format!("{}/{}", l.number, l.symbol))
        .unwrap_or_else(|| "1/S1-VP".into());
    let reads: Vec<(&str, String, &str)> = vec![
        (
            "list systems (first page of 50)",
            format!("{api}/systems"),
            admin.as_str(),
        ),
        (
            "list systems, filtered (agency subtree + level + q)",
            format!("{api}/systems?agency={top}&level=2&q=dich%20vu%20cong"),
            admin.as_str(),
        ),
        (
            "list systems, grade + dossier state, sorted by grade",
            format!(
                "{api}/systems?grade=A,B,C&dossier_state=submitted,under_appraisal&sort=-grade&limit=100"
            ),
            admin.as_str(),
        ),
        (
            "list systems as an agency officer (own subtree)",
            format!("{api}/systems"),
            officer.as_str(),
        ),
        (
            "list dossiers (newest first)",
            format!("{api}/dossiers"),
            admin.as_str(),
        ),
        (
            "list dossiers, state + overdue, by due date",
            format!("{api}/dossiers?state=submitted,under_appraisal&overdue=true&sort=due"),
            admin.as_str(),
        ),
        (
            "list dossiers, letter lookup",
            format!("{api}/dossiers?letter={}", letter.replace('/', "%2F")),
            admin.as_str(),
        ),
        (
            "get one system",
            format!("{api}/systems/{sys}"),
            admin.as_str(),
        ),
    ];
    // Sanity: each answers 200 with what it should.
    for (what, url, tok) in &reads {
        let body = get_body(url, tok)?;
        let v: Value = serde_json::from_slice(&body)
            .with_context(|| format!("{what}: {}", String::from_utf8_lossy(&body)))?;
        if v.get("error").is_some() {
            bail!("{what}: {v}");
        }
        if let Some(t) = v.get("total") {
            eprintln!("  {what}: total {t}, {} bytes", body.len());
        }
    }
    let page = get_body(&format!("{api}/systems"), &admin)?;

    let mut results: Vec<(String, Load, usize)> = Vec::new();
    for (what, url, tok) in &reads {
        eprintln!("province: wrk {what} ...");
        let size = get_body(url, tok)?.len();
        let load = wrk(url, Some(tok), None, &opts)?;
        results.push((what.to_string(), load, size));
    }

    // The web UI's pages (server-rendered HTML; a bearer token authenticates them as a
    // session would): once with one connection (the time to render a page) and once under
    // the same load as the API.
    let web = &server.base;
    let one_dossier = dossier(letter_k, &sizes).id;
    let pages: Vec<(&str, String, &str)> = vec![
        (
            "page: dashboard (province)",
            format!("{web}/"),
            admin.as_str(),
        ),
        (
            "page: dashboard (agency officer)",
            format!("{web}/"),
            officer.as_str(),
        ),
        (
            "page: systems, first page",
            format!("{web}/systems"),
            admin.as_str(),
        ),
        (
            "page: systems, filtered",
            format!("{web}/systems?agency={top}&level=2&q=dich%20vu%20cong"),
            admin.as_str(),
        ),
        (
            "page: one system",
            format!("{web}/systems/{sys}"),
            admin.as_str(),
        ),
        (
            "page: dossiers, first page",
            format!("{web}/dossiers"),
            admin.as_str(),
        ),
        (
            "page: one dossier",
            format!("{web}/dossiers/{one_dossier}"),
            admin.as_str(),
        ),
        (
            "page: weekly report",
            format!("{web}/weekly"),
            admin.as_str(),
        ),
    ];
    for (what, url, tok) in &pages {
        let body = get_body(url, tok)?;
        let text = String::from_utf8_lossy(&body);
        if !text.starts_with("<!doctype html>") || text.contains("id=\"error-message\"") {
            bail!(
                "{what}: not a page: {}",
                text.chars().take(300).collect::<String>()
            );
        }
        eprintln!(
            "province: wrk {what} (1 and {} connections) ...",
            opts.connections
        );
        let one = wrk_with(url, Some(tok), None, &opts, 1)?;
        results.push((format!("{what}, 1 connection"), one, body.len()));
        let load = wrk(url, Some(tok), None, &opts)?;
        results.push((what.to_string(), load, body.len()));
    }

    // Ingestion: unique ids, every report evaluated for its system.
    let scratch = tempfile::tempdir()?;
    let mut template = report_value(&template, 0, 0);
    template["id"] = json!("@ID@");
    template["target"]["host"] = json!("@HOST@");
    template["target"]["input"] = json!("https://@HOST@/");
    let template = serde_json::to_string(&template)?;
    let nonce = (Timestamp::now().as_second() as u32) | 0x0100_0000;
    let script = ingest_script(scratch.path(), &template, sizes.systems, nonce)?;
    let before = metric(&server.base, "canhgac_reports_ingested_total")?;
    eprintln!("province: wrk report ingestion ...");
    let started = Instant::now();
    let ingest = wrk(
        &format!("{api}/reports"),
        Some(&agent),
        Some(&script),
        &opts,
    )?;
    let elapsed = started.elapsed().as_secs_f64();
    let after = metric(&server.base, "canhgac_reports_ingested_total")?;
    let stored = after - before;
    let peak_rss = vm_hwm_kib(pid).unwrap_or(0);
    drop(server);
    let store_bytes_after = dir_size(&data);

    // The peer: nginx serving the first systems page as a static file, same load.
    let static_dir = tempfile::tempdir()?;
    std::fs::write(static_dir.path().join("systems.json"), &page)?;
    let blocks = format!(
        "server {{ listen 127.0.0.1:{{HTTP_PORT}}; listen 127.0.0.1:{{HTTPS_PORT}} ssl; \
         ssl_certificate {{CERT}}; ssl_certificate_key {{KEY}}; \
         location / {{ root {}; default_type application/json; }} }}",
        static_dir.path().display()
    );
    let nginx =
        canhgac_testkit::Nginx::start(&canhgac_testkit::TestPki::shared().localhost(), &blocks)?;
    eprintln!("province: wrk nginx static file ({} bytes) ...", page.len());
    let peer = wrk(
        &format!("http://127.0.0.1:{}/systems.json", nginx.http_port()),
        None,
        None,
        &opts,
    )?;
    drop(nginx);

    let figures = json!({
        "benchmark": "province",
        "agencies": sizes.agencies, "systems": sizes.systems, "dossiers": sizes.dossiers, "reports": sizes.reports,
        "generation_seconds": generation.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "store_bytes": store_bytes_before, "store_bytes_after_ingestion": store_bytes_after,
        "server_start_seconds": started_in.as_secs_f64(),
        "index_build_seconds": index_seconds,
        "index_build_rss_growth_mib": index_rss_kib as f64 / 1024.0,
        "holiday_letters": {"agencies": letters, "seconds": letters_seconds, "over_index_build": letters_seconds / index_seconds},
        "event_detection_passes": passes.iter().map(|(secs, found)| json!({"seconds": secs, "events": found, "over_index_build": secs / index_seconds})).collect::<Vec<_>>(),
        "server_peak_rss_mib": peak_rss as f64 / 1024.0,
        "server_rss_after_start_mib": rss_after_start as f64 / 1024.0,
        "wrk": {"threads": 2, "connections": opts.connections, "seconds": opts.seconds},
        "reads": results.iter().map(|(what, l, size)| json!({
            "what": what, "bytes": size, "p50_ms": l.p50_ms, "p99_ms": l.p99_ms, "requests_per_second": l.rps,
            "requests": l.requests, "errors": l.errors,
            "p99_over_nginx": l.p99_ms / peer.p99_ms, "rps_over_nginx": l.rps / peer.rps,
        })).collect::<Vec<_>>(),
        "ingestion": {"p50_ms": ingest.p50_ms, "p99_ms": ingest.p99_ms, "requests": ingest.requests,
            "errors": ingest.errors, "stored": stored, "reports_per_second": stored / elapsed,
            "wrk_requests_per_second": ingest.rps},
        "nginx_static": {"bytes": page.len(), "p50_ms": peer.p50_ms, "p99_ms": peer.p99_ms, "requests_per_second": peer.rps, "errors": peer.errors},
    });
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
        return Ok(());
    }
    let mut out = String::new();
    writeln!(
        out,
        "province: {} agencies, {} systems, {} dossiers, {} reports; store {:.1} MiB; server start {:.2} s; peak RSS {:.0} MiB",
        sizes.agencies,
        sizes.systems,
        sizes.dossiers,
        sizes.reports,
        store_bytes_before as f64 / (1024.0 * 1024.0),
        started_in.as_secs_f64(),
        peak_rss as f64 / 1024.0
    )?;
    writeln!(
        out,
        "  read index built in {index_seconds:.2} s (RSS +{:.0} MiB, page cache included)",
        index_rss_kib as f64 / 1024.0
    )?;
    writeln!(
        out,
        "  holiday letters of {letters} agencies rendered in {letters_seconds:.2} s ({:.2}x the index build)",
        letters_seconds / index_seconds
    )?;
    for (k, v) in &generation {
        writeln!(out, "  generated {k}: {v:.1} s")?;
    }
    writeln!(
        out,
        "  wrk -t2 -c{} -d{}s --latency; nginx static {} bytes: p50 {:.2} ms, p99 {:.2} ms, {:.0} req/s",
        opts.connections,
        opts.seconds,
        page.len(),
        peer.p50_ms,
        peer.p99_ms,
        peer.rps
    )?;
    for (what, l, size) in &results {
        writeln!(
            out,
            "  {what}: {size} bytes, p50 {:.2} ms, p99 {:.2} ms, {:.0} req/s ({:.1}x nginx's p99, {:.2}x its req/s), errors {}",
            l.p50_ms,
            l.p99_ms,
            l.rps,
            l.p99_ms / peer.p99_ms,
            l.rps / peer.rps,
            l.errors
        )?;
    }
    writeln!(
        out,
        "  ingestion: {stored:.0} reports stored in {elapsed:.1} s = {:.0} reports/s (p50 {:.2} ms, p99 {:.2} ms, errors {})",
        stored / elapsed,
        ingest.p50_ms,
        ingest.p99_ms,
        ingest.errors
    )?;
    print!("{out}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_output_is_read() {
        let out = "Running 1s test @ http://127.0.0.1:1/\n  2 threads and 8 connections\n  Latency Distribution\n     50%    1.20ms\n     75%    2.00ms\n     90%    3.00ms\n     99%   10.50ms\n  1000 requests in 1.00s, 1.00MB read\n  Non-2xx or 3xx responses: 3\nRequests/sec:   1000.50\n";
        let l = parse_wrk(out).unwrap();
        assert_eq!(
            (l.p50_ms, l.p99_ms, l.requests, l.errors),
            (1.2, 10.5, 1000, 3)
        );
        assert_eq!(millis("850.00us"), Some(0.85));
        assert_eq!(millis("1.50s"), Some(1500.0));
    }
}
