//! Storage benchmark: the same workload on every engine, through the `Store` trait.
//!
//! ```text
//! cargo run --release -p canhgac-server --example storage_bench --features sled
//! cargo run --release -p canhgac-server --example storage_bench --features sled -- \
//!     --n 20000 --engines redb,sled --dir /var/tmp
//! ```
//!
//! Per engine, on a fresh store in a temporary directory (under `--dir`, default the system
//! temp dir): `n` report-sized values (about 2 KiB of JSON) written one per batch (one durable
//! commit each), `n` more in batches of 100, a full scan paged by 1,000, prefix scans of 100
//! entries, `n` random point reads, the file size, a backup, and a reopen. Prints one table,
//! then the redb/sled ratios used in `docs/storage.md`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use canhgac_server::store::redb::RedbOptions;
use canhgac_server::store::{self, Batch, RedbStore, Table};

struct Options {
    n: usize,
    engines: Vec<String>,
    dir: Option<PathBuf>,
}

fn options() -> Options {
    let mut o = Options {
        n: 100_000,
        engines: store::ENGINES.iter().map(|e| e.to_string()).collect(),
        dir: None,
    };
    // redb, sled, memory: the default first, the reference last.
    o.engines.sort_by_key(|e| match e.as_str() {
        "redb" => 0,
        "sled" => 1,
        _ => 2,
    });
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--n" => o.n = value().parse().expect("--n takes a number"),
            "--engines" => o.engines = value().split(',').map(str::to_string).collect(),
            "--dir" => o.dir = Some(PathBuf::from(value())),
            "--help" | "-h" => {
                println!("storage_bench [--n N] [--engines redb,sled,memory] [--dir DIR]");
                std::process::exit(0);
            }
            other => panic!("unknown argument {other}"),
        }
    }
    o
}

/// A report-sized value: JSON of about 2 KiB, varying with `i`.
fn report(i: usize) -> Vec<u8> {
    let mut s = format!(
        r#"{{"id":"0190b4c2-{i:08x}-7000-8000-{:012x}","target":"https://so{}.gov.vn","agent":"canhgac-agent 0.1.0","started":"2025-06-01T08:{:02}:{:02}+07:00","checks":["#,
        i.wrapping_mul(2_654_435_761),
        i % 500,
        (i / 60) % 60,
        i % 60
    );
    let mut c = 0;
    while s.len() < 1900 {
        let status = ["pass", "fail", "warn", "error"][(i + c) % 4];
        s.push_str(&format!(
            r#"{{"id":"nd85.tls.{c:02}","status":"{status}","detail":"protocol TLSv1.{} cipher {:04x} expires in {} days"}},"#,
            2 + (i + c) % 2,
            (i * 31 + c * 7) % 65_536,
            (i + c * 13) % 400
        ));
        c += 1;
    }
    s.pop();
    s.push_str("]}");
    s.into_bytes()
}

/// Keys group by target (500 targets), like `Reports` keys (`target / report id`).
fn key(i: usize) -> Vec<u8> {
    format!("so{:03}.gov.vn/{i:010}", i % 500).into_bytes()
}

#[derive(Default, Clone)]
struct Row {
    engine: String,
    write_1: f64,
    write_100: f64,
    scan: f64,
    prefix_scans: f64,
    reads: f64,
    size_mib: f64,
    backup_s: f64,
    backup_mib: f64,
    reopen_s: f64,
    reopen_unverified_s: Option<f64>,
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn bench(engine: &str, n: usize, dir: &Path) -> Row {
    let path = dir.join(format!("store.{engine}"));
    let store = store::open(&path, engine).expect("open");
    let mut row = Row {
        engine: engine.to_string(),
        ..Row::default()
    };
    eprintln!("{engine}: writing {n} values, one batch each");
    let t = Instant::now();
    for i in 0..n {
        store
            .apply(Batch::new().put(Table::Reports, key(i), report(i)))
            .unwrap();
    }
    row.write_1 = rate(n, t.elapsed());

    eprintln!("{engine}: writing {n} values in batches of 100");
    let t = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let mut b = Batch::new();
        for &i in chunk {
            b = b.put(Table::Events, key(i), report(i));
        }
        store.apply(b).unwrap();
    }
    row.write_100 = rate(n, t.elapsed());

    eprintln!("{engine}: scanning");
    let t = Instant::now();
    let mut seen = 0;
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = store
            .scan(Table::Reports, b"", after.as_deref(), 1000)
            .unwrap();
        if page.is_empty() {
            break;
        }
        seen += page.len();
        after = page.last().map(|(k, _)| k.clone());
    }
    assert_eq!(seen, n);
    row.scan = rate(seen, t.elapsed());

    let t = Instant::now();
    let scans = 2000;
    for s in 0..scans {
        let prefix = format!("so{:03}.gov.vn/", (s * 7) % 500);
        let page = store
            .scan(Table::Reports, prefix.as_bytes(), None, 100)
            .unwrap();
        assert_eq!(page.len(), 100.min(n / 500));
    }
    row.prefix_scans = rate(scans, t.elapsed());

    eprintln!("{engine}: reading");
    let t = Instant::now();
    let mut x: usize = 12345;
    for _ in 0..n {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let i = (x >> 20) % n;
        let v = store
            .get(Table::Reports, &key(i))
            .unwrap()
            .expect("present");
        assert_eq!(v.len(), report(i).len());
    }
    row.reads = rate(n, t.elapsed());

    let stats = store.stats().unwrap();
    row.size_mib = stats.size_bytes as f64 / (1 << 20) as f64;

    eprintln!("{engine}: backing up");
    let backup = dir.join(format!("backup.{engine}"));
    let t = Instant::now();
    store.backup(&backup).unwrap();
    row.backup_s = t.elapsed().as_secs_f64();
    row.backup_mib = size(&backup) as f64 / (1 << 20) as f64;

    if engine != "memory" {
        drop(store);
        let t = Instant::now();
        let store = store::open(&path, engine).expect("reopen");
        row.reopen_s = t.elapsed().as_secs_f64();
        assert_eq!(
            store
                .get(Table::Reports, &key(n - 1))
                .unwrap()
                .map(|v| v.len()),
            Some(report(n - 1).len())
        );
        if engine == "redb" {
            // The same reopen without verifying every page (RedbOptions::verify_on_open).
            drop(store);
            let t = Instant::now();
            let options = RedbOptions {
                verify_on_open: false,
            };
            let store = RedbStore::open_with(&path, options).expect("reopen");
            row.reopen_unverified_s = Some(t.elapsed().as_secs_f64());
            drop(store);
        }
    }
    row
}

fn size(path: &Path) -> u64 {
    let meta = std::fs::metadata(path).unwrap();
    if meta.is_dir() {
        std::fs::read_dir(path)
            .unwrap()
            .map(|e| size(&e.unwrap().path()))
            .sum()
    } else {
        meta.len()
    }
}

fn machine(dir: &Path) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().next().map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap_or(0)
            })
        })
        .map(|kib| format!("{:.0} GiB", kib as f64 / (1 << 20) as f64))
        .unwrap_or_else(|| "?".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    // The filesystem holding `dir`: the longest mount point that prefixes it.
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let fs = std::fs::read_to_string("/proc/mounts")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 2 && dir.starts_with(f[1]))
                .then(|| (f[1].len(), format!("{} on {}", f[2], f[1])))
        })
        .max()
        .map(|(_, s)| s)
        .unwrap_or_else(|| "?".into());
    format!(
        "{cpu}, {cores} cores, {mem} RAM, Linux {}, {fs}",
        kernel.trim()
    )
}

fn main() {
    let o = options();
    let base = o.dir.clone().unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(&base).expect("a temporary directory");
    println!("machine: {}", machine(dir.path()));
    println!(
        "values: {} x {} bytes (report-like JSON), keys like {:?}",
        o.n,
        report(0).len(),
        String::from_utf8_lossy(&key(0))
    );
    let mut rows = Vec::new();
    for engine in &o.engines {
        let engine_dir = dir.path().join(engine);
        std::fs::create_dir_all(&engine_dir).unwrap();
        rows.push(bench(engine, o.n, &engine_dir));
        std::fs::remove_dir_all(&engine_dir).ok();
    }

    println!();
    println!(
        "| engine | write, 1/batch (ops/s) | write, 100/batch (ops/s) | full scan (entries/s) | prefix scans of 100 (scans/s) | point reads (ops/s) | size (MiB) | backup (s) | backup size (MiB) | reopen (s) | reopen, unverified (s) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} | {:.0} | {:.2} | {} |",
            r.engine,
            r.write_1,
            r.write_100,
            r.scan,
            r.prefix_scans,
            r.reads,
            r.size_mib,
            r.backup_s,
            r.backup_mib,
            r.reopen_s,
            r.reopen_unverified_s
                .map_or("-".to_string(), |s| format!("{s:.2}"))
        );
    }
    if let (Some(redb), Some(sled)) = (
        rows.iter().find(|r| r.engine == "redb"),
        rows.iter().find(|r| r.engine == "sled"),
    ) {
        println!();
        println!("redb/sled (above 1: redb higher):");
        println!(
            "  write 1/batch {:.2}, write 100/batch {:.2}, full scan {:.2}, prefix scans {:.2}, point reads {:.2}",
            redb.write_1 / sled.write_1,
            redb.write_100 / sled.write_100,
            redb.scan / sled.scan,
            redb.prefix_scans / sled.prefix_scans,
            redb.reads / sled.reads
        );
        println!(
            "  size {:.2}, backup time {:.2}, reopen time {:.2}",
            redb.size_mib / sled.size_mib,
            redb.backup_s / sled.backup_s,
            redb.reopen_s / sled.reopen_s
        );
    }
}
