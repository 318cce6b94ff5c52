//! The crash suite: real processes killed with SIGKILL in the middle of writing, then the
//! store reopened and checked. Also: a second process is locked out, and a full disk (a
//! file-size limit on the writing process) is an error that damages nothing.
//!
//! Each child is this test binary run again with `--exact child_process` and the role in
//! `CANHGAC_STORE_CRASH_CHILD`; the child reports on stdout, one line per event:
//! `ready`, `attempt n` (before applying batch n), `ack n` (after `apply` returned `Ok`).
//!
//! Batch n writes, atomically: `Reports[n]` (a value of 0.1 to 60 KiB that encodes n),
//! `ReportIds[n]`, and `Meta["last"] = n` guarded by `Meta["last"] == n - 1`. After every
//! kill the store must open cleanly and hold exactly batches `0..count` with
//! `last ack < count <= last attempt + 1`, both tables agreeing (no half batch).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use canhgac_server::store::conformance::{entries, noise};
use canhgac_server::store::{self, Batch, Store, StoreError, Table};
use rand::Rng;

const ROLE: &str = "CANHGAC_STORE_CRASH_CHILD";
const ENGINE: &str = "CANHGAC_STORE_CRASH_ENGINE";
const PATH: &str = "CANHGAC_STORE_CRASH_PATH";
const START: &str = "CANHGAC_STORE_CRASH_START";

// ---------------------------------------------------------------------------------------------
// The child side

/// The entry point of every child process; does nothing in a normal test run.
#[test]
fn child_process() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let engine = std::env::var(ENGINE).unwrap();
    let path = PathBuf::from(std::env::var(PATH).unwrap());
    let start: u64 = std::env::var(START)
        .map(|s| s.parse().unwrap())
        .unwrap_or(0);
    match role.as_str() {
        "writer" => writer(&engine, &path, start),
        "locker" => locker(&engine, &path),
        "filler" => filler(&engine, &path, start),
        other => panic!("unknown role {other}"),
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
}

fn key(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

fn report(n: u64) -> Vec<u8> {
    let mut v = n.to_be_bytes().to_vec();
    v.extend(noise(n, 100 + (n as usize * 7919) % 60_000));
    v
}

fn report_id(n: u64) -> Vec<u8> {
    format!("report-{n}").into_bytes()
}

fn batch(n: u64) -> Batch {
    let guarded = if n == 0 {
        Batch::new().if_absent(Table::Meta, "last")
    } else {
        Batch::new().if_equals(Table::Meta, "last", key(n - 1))
    };
    guarded
        .if_absent(Table::ReportIds, key(n))
        .put(Table::Reports, key(n), report(n))
        .put(Table::ReportIds, key(n), report_id(n))
        .put(Table::Meta, "last", key(n))
}

fn writer(engine: &str, path: &Path, start: u64) {
    // A killed predecessor's file lock can outlive its SIGKILL for a moment (the kernel is
    // still tearing the process down): retry "in use" for a few seconds, nothing else.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let opened = loop {
        match store::open(path, engine) {
            Err(e) if e.to_string().contains("in use") && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => break other,
        }
    };
    let store = match opened {
        Ok(s) => s,
        Err(e) => {
            say(&format!("open-error {e}"));
            std::process::exit(3);
        }
    };
    say("ready");
    for n in start.. {
        say(&format!("attempt {n}"));
        store.apply(batch(n)).unwrap();
        say(&format!("ack {n}"));
    }
}

fn locker(engine: &str, path: &Path) {
    match store::open(path, engine) {
        Ok(_) => say("opened"),
        Err(StoreError::Locked { .. }) => say("locked"),
        Err(e) => say(&format!("error {e:?}")),
    }
}

/// Writes 256 KiB documents until the file-size limit stops it, then checks the store still
/// reads and reports what a further write does.
fn filler(engine: &str, path: &Path, start: u64) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    if let Some(line) = limits.lines().find(|l| l.starts_with("Max file size")) {
        say(&format!(
            "limit {}",
            line.split_whitespace().nth(3).unwrap_or("?")
        ));
    }
    let store = match store::open(path, engine) {
        Ok(s) => s,
        Err(e) => {
            say(&format!("open-error {e:?}"));
            return;
        }
    };
    say("ready");
    let mut n = start;
    loop {
        say(&format!("attempt {n}"));
        let b = Batch::new()
            .put(Table::Documents, key(n), noise(n, 256 << 10))
            .put(Table::Reports, key(n), report(n));
        match store.apply(b) {
            Ok(()) => say(&format!("ack {n}")),
            Err(StoreError::Full(msg)) => {
                say(&format!("error full {msg}"));
                break;
            }
            Err(e) => {
                say(&format!("error other {e:?}"));
                break;
            }
        }
        n += 1;
        if n > start + 10_000 {
            say("error none: the limit never hit");
            return;
        }
    }
    match store.get(Table::Reports, &key(start)) {
        Ok(Some(v)) if v == report(start) => say("read ok"),
        other => say(&format!("read failed {other:?}")),
    }
    match store.apply(Batch::new().put(Table::Meta, "small", "x")) {
        Ok(()) => say("small-write ok"),
        Err(StoreError::Full(_)) => say("small-write full"),
        Err(e) => say(&format!("small-write other {e:?}")),
    }
}

// ---------------------------------------------------------------------------------------------
// The parent side

struct Spawned {
    child: Child,
    lines: mpsc::Receiver<String>,
    reader: std::thread::JoinHandle<()>,
}

/// Runs this test binary as a child in `role`; with `file_limit_blocks`, under `ulimit -f`
/// (SIGXFSZ ignored, so writes past the limit fail with EFBIG instead of killing it).
fn spawn(
    role: &str,
    engine: &str,
    path: &Path,
    start: u64,
    file_limit_blocks: Option<u64>,
) -> Spawned {
    let exe = std::env::current_exe().unwrap();
    let test_args = [
        "--exact",
        "child_process",
        "--nocapture",
        "--test-threads=1",
        "-q",
    ];
    let mut command = match file_limit_blocks {
        None => {
            let mut c = Command::new(&exe);
            c.args(test_args);
            c
        }
        Some(blocks) => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c")
                .arg(r#"trap '' XFSZ && ulimit -f "$1" && shift && exec "$@""#)
                .arg("sh")
                .arg(blocks.to_string())
                .arg(&exe)
                .args(test_args);
            c
        }
    };
    let mut child = command
        .env(ROLE, role)
        .env(ENGINE, engine)
        .env(PATH, path)
        .env(START, start.to_string())
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Spawned {
        child,
        lines,
        reader,
    }
}

impl Spawned {
    /// Waits for a line starting with `prefix`, returning every line seen (up to it).
    fn wait_for(&self, prefix: &str, timeout: Duration, seen: &mut Vec<String>) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = line.starts_with(prefix);
                    seen.push(line);
                    if hit {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
    }

    /// Waits for the child to exit by itself; returns its status and every remaining line.
    fn finish(mut self, mut seen: Vec<String>) -> (std::process::ExitStatus, Vec<String>) {
        let status = self.child.wait().unwrap();
        self.reader.join().unwrap();
        seen.extend(self.lines.try_iter());
        (status, seen)
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then every remaining line.
    fn kill(mut self, seen: Vec<String>) -> Vec<String> {
        self.child.kill().unwrap();
        self.finish(seen).1
    }
}

fn numbers(lines: &[String], word: &str) -> Vec<u64> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(word)?.strip_prefix(' ')?.parse().ok())
        .collect()
}

/// What the store holds after a kill: the number of whole batches, checked in detail.
fn committed_batches(store: &dyn Store, round: usize) -> u64 {
    let reports = entries(store, Table::Reports);
    let ids = entries(store, Table::ReportIds);
    let count = reports.len() as u64;
    assert_eq!(
        ids.len() as u64,
        count,
        "round {round}: a half batch (Reports vs ReportIds)"
    );
    for (n, ((rk, rv), (ik, iv))) in (0u64..).zip(reports.iter().zip(&ids)) {
        assert_eq!(
            rk.as_slice(),
            key(n),
            "round {round}: batches are not contiguous at {n}"
        );
        assert_eq!(
            ik.as_slice(),
            key(n),
            "round {round}: ReportIds not contiguous at {n}"
        );
        assert!(rv == &report(n), "round {round}: damaged report {n}");
        assert_eq!(iv, &report_id(n), "round {round}: damaged report id {n}");
    }
    let last = store.get(Table::Meta, b"last").unwrap();
    match count {
        0 => assert_eq!(last, None, "round {round}: Meta.last without a batch"),
        _ => assert_eq!(
            last,
            Some(key(count - 1).to_vec()),
            "round {round}: Meta.last disagrees"
        ),
    }
    count
}

/// Kills a writer `rounds` times at random moments, checking the store after each.
fn crash_rounds(engine: &str, rounds: usize, file: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    let mut rng = rand::rng();
    let mut count = 0u64;
    let mut in_flight_committed = 0;
    let mut in_flight_lost = 0;
    let mut killed_opening = 0;
    let started = Instant::now();
    for round in 0..rounds {
        let child = spawn("writer", engine, &path, count, None);
        let mut seen = Vec::new();
        if round % 5 == 4 {
            // Now and then, kill while the child starts: during the open and its repair of
            // the previous kill.
            std::thread::sleep(Duration::from_micros(rng.random_range(0..20_000)));
        } else {
            assert!(
                child.wait_for("ready", Duration::from_secs(60), &mut seen),
                "round {round}: the child never became ready: {seen:?}"
            );
            // Kill after a random number of acks and a random extra delay, so the kill
            // lands anywhere in a commit.
            let acks = rng.random_range(0..40);
            for _ in 0..acks {
                if !child.wait_for("ack", Duration::from_secs(30), &mut seen) {
                    break;
                }
            }
            std::thread::sleep(Duration::from_micros(rng.random_range(0..2000)));
        }
        let seen = child.kill(seen);
        let acked = numbers(&seen, "ack");
        let attempted = numbers(&seen, "attempt");

        let store = store::open(&path, engine).unwrap_or_else(|e| {
            panic!("round {round}: the store does not open after SIGKILL: {e}")
        });
        let now = committed_batches(&*store, round);
        drop(store);
        assert!(
            now >= count,
            "round {round}: committed batches were lost ({now} < {count})"
        );
        if !seen.iter().any(|l| l == "ready") {
            killed_opening += 1;
        }
        if let Some(&last_ack) = acked.last() {
            assert!(
                now > last_ack,
                "round {round}: acknowledged batch {last_ack} is missing (have {now})"
            );
        }
        match attempted.last() {
            Some(&last_attempt) => {
                assert!(
                    now <= last_attempt + 1,
                    "round {round}: batch {now} exists but was never attempted"
                );
                if acked.last() != Some(&last_attempt) {
                    if now == last_attempt + 1 {
                        in_flight_committed += 1;
                    } else {
                        in_flight_lost += 1;
                    }
                }
            }
            None => assert_eq!(
                now, count,
                "round {round}: a batch appeared with no attempt"
            ),
        }
        count = now;
    }
    eprintln!(
        "{engine}: {rounds} kills in {:.1} s, {count} batches committed; kills while opening: \
         {killed_opening}; kills during a batch: {in_flight_committed} committed (not yet \
         acknowledged), {in_flight_lost} rolled back",
        started.elapsed().as_secs_f64()
    );
    assert!(count > 0, "no batch was ever committed");
}

/// Kills per engine: 20, or `CANHGAC_CRASH_ROUNDS` for a longer soak.
fn rounds() -> usize {
    std::env::var("CANHGAC_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20)
}

#[test]
fn redb_survives_sigkill() {
    crash_rounds("redb", rounds(), "store.redb");
}

#[cfg(feature = "sled")]
#[test]
fn sled_survives_sigkill() {
    crash_rounds("sled", rounds(), "store.sled");
}

fn second_process_is_locked_out(engine: &str, file: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    let store = store::open(&path, engine).unwrap();
    store
        .apply(Batch::new().put(Table::Meta, "k", "v"))
        .unwrap();
    let child = spawn("locker", engine, &path, 0, None);
    let (status, lines) = child.finish(Vec::new());
    assert!(status.success(), "{lines:?}");
    assert!(
        lines.iter().any(|l| l == "locked"),
        "expected the second process to be locked out: {lines:?}"
    );
    drop(store);
    let child = spawn("locker", engine, &path, 0, None);
    let (status, lines) = child.finish(Vec::new());
    assert!(status.success(), "{lines:?}");
    assert!(
        lines.iter().any(|l| l == "opened"),
        "expected the store to open once released: {lines:?}"
    );
}

#[test]
fn redb_second_process_is_locked_out() {
    second_process_is_locked_out("redb", "store.redb");
}

#[cfg(feature = "sled")]
#[test]
fn sled_second_process_is_locked_out() {
    second_process_is_locked_out("sled", "store.sled");
}

/// A full disk, simulated by a file-size limit on the writing process (`ulimit -f`: no root,
/// no loop device; the kernel fails writes past the limit with EFBIG as it fails them with
/// ENOSPC on a full filesystem). Returns the child's report.
fn full_disk(engine: &str, file: &str) -> (PathBuf, tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    {
        let store = store::open(&path, engine).unwrap();
        for n in 0..3 {
            store
                .apply(
                    Batch::new()
                        .put(Table::Documents, key(n), noise(n, 256 << 10))
                        .put(Table::Reports, key(n), report(n)),
                )
                .unwrap();
        }
    }
    let size = |p: &Path| -> u64 {
        if p.is_dir() {
            std::fs::read_dir(p)
                .unwrap()
                .map(|e| e.unwrap().metadata().unwrap().len())
                .sum()
        } else {
            std::fs::metadata(p).unwrap().len()
        }
    };
    // Room for a few more MiB (blocks are 512 bytes in dash, 1 KiB in bash).
    let blocks = (size(&path) + (8 << 20)) / 512;
    let child = spawn("filler", engine, &path, 3, Some(blocks));
    let (status, lines) = child.finish(Vec::new());
    eprintln!(
        "{engine} under a file-size limit: {status}; {:?}",
        summary(&lines)
    );
    assert!(
        status.success(),
        "the child died (a panic or SIGXFSZ) instead of reporting the full disk: {status}, {lines:?}"
    );
    (path, dir, lines)
}

fn summary(lines: &[String]) -> Vec<&String> {
    lines
        .iter()
        .filter(|l| !l.starts_with("attempt") && !l.starts_with("ack") && !l.is_empty())
        .collect()
}

#[test]
fn redb_full_disk_is_an_error_not_damage() {
    let (path, _dir, lines) = full_disk("redb", "store.redb");
    assert!(
        lines.iter().any(|l| l.starts_with("error full")),
        "expected StoreError::Full: {:?}",
        summary(&lines)
    );
    assert!(
        lines.iter().any(|l| l == "read ok"),
        "reads fail after Full: {:?}",
        summary(&lines)
    );
    let acked = numbers(&lines, "ack");
    assert!(!acked.is_empty(), "nothing was written before the limit");

    // Without the limit: everything acknowledged is there, both tables agree, the file
    // verifies, and writing works again.
    let store = canhgac_server::store::RedbStore::open(&path).expect("reopen after Full");
    assert!(store.check_integrity().unwrap(), "the file needed repair");
    let documents: BTreeMap<Vec<u8>, Vec<u8>> =
        entries(&store, Table::Documents).into_iter().collect();
    let reports: BTreeMap<Vec<u8>, Vec<u8>> = entries(&store, Table::Reports).into_iter().collect();
    assert_eq!(
        documents.keys().collect::<Vec<_>>(),
        reports.keys().collect::<Vec<_>>(),
        "a half batch"
    );
    for n in (0..3).chain(acked.iter().copied()) {
        assert_eq!(
            documents.get(key(n).as_slice()),
            Some(&noise(n, 256 << 10)),
            "document {n}"
        );
        assert_eq!(
            reports.get(key(n).as_slice()),
            Some(&report(n)),
            "report {n}"
        );
    }
    store
        .apply(Batch::new().put(Table::Meta, "after", "full"))
        .unwrap();
}

#[cfg(feature = "sled")]
#[test]
fn sled_full_disk_is_an_error_not_damage() {
    let (path, _dir, lines) = full_disk("sled", "store.sled");
    assert!(
        lines.iter().any(|l| l.starts_with("error ")),
        "expected an error from the full disk: {:?}",
        summary(&lines)
    );
    let acked = numbers(&lines, "ack");
    let store = store::open(&path, "sled").expect("reopen after Full");
    let documents = entries(&*store, Table::Documents);
    let reports = entries(&*store, Table::Reports);
    assert_eq!(documents.len(), reports.len(), "a half batch");
    for n in (0..3).chain(acked.iter().copied()) {
        assert_eq!(
            store.get(Table::Reports, &key(n)).unwrap(),
            Some(report(n)),
            "report {n}"
        );
    }
}
