//! The durable spool: every finished report is written here before any upload, and removed
//! only after the server acknowledged it.
//!
//! One file per report, `<report-id>.json`, written to a temporary file, fsynced, renamed and
//! the directory fsynced, so a crash leaves either the whole file or none. Each file starts with
//! a header line holding the SHA-256 and length of the report that follows: a tampered or
//! truncated file is detected and moved to `corrupt/`, never uploaded and never fatal. Reports
//! the server refuses for good go to `rejected/` with a `.reason` file. Report ids are UUIDv7,
//! so name order is time order.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::config::sync_dir;

/// The default bound on the spool: 512 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 512 * 1024 * 1024;

/// The fill ratio at which a warning is logged.
pub const WARN_RATIO: f64 = 0.8;

const MAGIC: &str = "canhgac-spool 1";

/// Spool errors.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Writing this report would exceed the bound.
    #[error(
        "spool full: {used} of {capacity} bytes used, a report of {needed} bytes does not fit; \
         scans are paused until uploads free space (check the server connection)"
    )]
    Full {
        /// Bytes in the spool.
        used: u64,
        /// The bound.
        capacity: u64,
        /// Size of the report that did not fit.
        needed: u64,
    },
    /// The report id cannot name a file.
    #[error("invalid report id {0:?}")]
    BadId(String),
    /// A file system operation failed (disk full, permissions...).
    #[error("spool {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One spooled report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The report id (file stem).
    pub id: String,
    /// The file.
    pub path: PathBuf,
    /// Its size on disk.
    pub bytes: u64,
}

/// What an entry holds.
#[derive(Debug)]
pub enum Loaded {
    /// The report's JSON, intact.
    Report(Vec<u8>),
    /// The file was damaged and has been moved to `corrupt/` (the reason).
    Quarantined(String),
}

/// Spool figures for health and `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Reports waiting for upload.
    pub depth: u64,
    /// Their bytes.
    pub bytes: u64,
    /// The bound.
    pub capacity: u64,
    /// When the oldest waiting report was taken (from its UUIDv7 id).
    pub oldest: Option<Timestamp>,
    /// Reports the server refused for good (in `rejected/`).
    pub rejected: u64,
    /// Damaged files moved to `corrupt/`.
    pub corrupt: u64,
}

/// A spool directory.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    bytes: u64,
    depth: u64,
}

fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Encodes a report as a spool file: header line, then the report.
pub fn encode(report: &[u8]) -> Vec<u8> {
    let sum = hex::encode(Sha256::digest(report));
    let mut out = format!("{MAGIC} {sum} {}\n", report.len()).into_bytes();
    out.extend_from_slice(report);
    out
}

/// Decodes a spool file, checking its header (`Err`: why it is damaged).
pub fn decode(file: &[u8]) -> Result<&[u8], String> {
    let nl = file
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("no header line")?;
    let header = std::str::from_utf8(&file[..nl]).map_err(|_| "header is not text")?;
    let body = &file[nl + 1..];
    let mut parts = header.rsplitn(3, ' ');
    let (len, sum, magic) = (parts.next(), parts.next(), parts.next());
    if magic != Some(MAGIC) {
        return Err("not a canhgac spool file".into());
    }
    let len: usize = len
        .and_then(|l| l.parse().ok())
        .ok_or("bad length in header")?;
    if body.len() != len {
        return Err(format!(
            "truncated or extended: {} bytes instead of {len}",
            body.len()
        ));
    }
    if Some(hex::encode(Sha256::digest(body)).as_str()) != sum {
        return Err("checksum mismatch (file altered)".into());
    }
    Ok(body)
}

/// The time encoded in a UUIDv7 id.
fn id_time(id: &str) -> Option<Timestamp> {
    let uuid = uuid::Uuid::parse_str(id).ok()?;
    let (secs, nanos) = uuid.get_timestamp()?.to_unix();
    Timestamp::new(secs as i64, nanos as i32).ok()
}

impl Spool {
    /// Opens (creating if needed) the spool in `dir`, bounded to `max_bytes`. Leftover
    /// temporary files of an interrupted write are removed.
    pub fn open(dir: impl Into<PathBuf>, max_bytes: u64) -> Result<Spool, SpoolError> {
        let dir = dir.into();
        for d in [dir.clone(), dir.join("rejected"), dir.join("corrupt")] {
            fs::create_dir_all(&d).map_err(io(&d))?;
        }
        let mut spool = Spool {
            dir,
            max_bytes,
            bytes: 0,
            depth: 0,
        };
        for entry in fs::read_dir(&spool.dir).map_err(io(&spool.dir))? {
            let entry = entry.map_err(io(&spool.dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
        let list = spool.list()?;
        spool.depth = list.len() as u64;
        spool.bytes = list.iter().map(|e| e.bytes).sum();
        Ok(spool)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The bound in bytes.
    pub fn capacity(&self) -> u64 {
        self.max_bytes
    }

    /// Bytes used by waiting reports.
    pub fn used(&self) -> u64 {
        self.bytes
    }

    /// Used bytes over capacity.
    pub fn fill_ratio(&self) -> f64 {
        if self.max_bytes == 0 {
            return 1.0;
        }
        self.bytes as f64 / self.max_bytes as f64
    }

    fn path_of(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Writes a report durably. Returns once the file and its directory entry are on disk.
    /// Writing the same id twice keeps the first file.
    pub fn put(&mut self, id: &str, report: &[u8]) -> Result<(), SpoolError> {
        if !is_valid_id(id) {
            return Err(SpoolError::BadId(id.to_string()));
        }
        let path = self.path_of(id);
        if path.exists() {
            return Ok(());
        }
        let file = encode(report);
        let needed = file.len() as u64;
        if self.bytes + needed > self.max_bytes {
            return Err(SpoolError::Full {
                used: self.bytes,
                capacity: self.max_bytes,
                needed,
            });
        }
        let tmp = self.dir.join(format!(".{id}.tmp"));
        let result = (|| {
            let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(&file).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
            drop(f);
            fs::rename(&tmp, &path).map_err(io(&path))?;
            sync_dir(&self.dir).map_err(io(&self.dir))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
            return result;
        }
        self.bytes += needed;
        self.depth += 1;
        Ok(())
    }

    /// Waiting reports in id (time) order.
    pub fn list(&self) -> Result<Vec<Entry>, SpoolError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let entry = entry.map_err(io(&self.dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".json") else {
                continue;
            };
            if !is_valid_id(id) {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            out.push(Entry {
                id: id.to_string(),
                path: entry.path(),
                bytes: meta.len(),
            });
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Reads an entry; a damaged one is moved to `corrupt/` and reported as such.
    pub fn load(&mut self, entry: &Entry) -> Result<Loaded, SpoolError> {
        let bytes = fs::read(&entry.path).map_err(io(&entry.path))?;
        let problem = match decode(&bytes) {
            Ok(body) => match serde_json::from_slice::<serde_json::Value>(body) {
                Ok(v) if v.get("id").and_then(|i| i.as_str()) == Some(entry.id.as_str()) => {
                    return Ok(Loaded::Report(body.to_vec()));
                }
                Ok(_) => "the report id does not match the file name".to_string(),
                Err(e) => format!("not JSON: {e}"),
            },
            Err(why) => why,
        };
        self.move_to(entry, "corrupt", &problem)?;
        Ok(Loaded::Quarantined(problem))
    }

    /// Removes an acknowledged report.
    pub fn ack(&mut self, entry: &Entry) -> Result<(), SpoolError> {
        match fs::remove_file(&entry.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(&entry.path)(e)),
        }
        sync_dir(&self.dir).map_err(io(&self.dir))?;
        self.forget(entry);
        Ok(())
    }

    /// Moves a report the server refused for good to `rejected/`, with the reason beside it.
    pub fn reject(&mut self, entry: &Entry, reason: &str) -> Result<(), SpoolError> {
        self.move_to(entry, "rejected", reason)
    }

    fn forget(&mut self, entry: &Entry) {
        self.bytes = self.bytes.saturating_sub(entry.bytes);
        self.depth = self.depth.saturating_sub(1);
    }

    fn move_to(&mut self, entry: &Entry, sub: &str, reason: &str) -> Result<(), SpoolError> {
        let dir = self.dir.join(sub);
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let reason_path = dir.join(format!("{}.reason", entry.id));
        fs::write(&reason_path, format!("{reason}\n")).map_err(io(&reason_path))?;
        let target = dir.join(format!("{}.json", entry.id));
        fs::rename(&entry.path, &target).map_err(io(&target))?;
        sync_dir(&dir).map_err(io(&dir))?;
        sync_dir(&self.dir).map_err(io(&self.dir))?;
        self.forget(entry);
        Ok(())
    }

    /// Figures for health and `status`.
    pub fn totals(&self) -> Totals {
        totals_of(&self.dir, self.max_bytes)
    }
}

fn count(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .count() as u64
        })
        .unwrap_or(0)
}

/// Spool figures read from `dir` without creating or changing anything (for `status`).
pub fn totals_of(dir: &Path, capacity: u64) -> Totals {
    let spool = Spool {
        dir: dir.to_path_buf(),
        max_bytes: capacity,
        bytes: 0,
        depth: 0,
    };
    let list = spool.list().unwrap_or_default();
    Totals {
        depth: list.len() as u64,
        bytes: list.iter().map(|e| e.bytes).sum(),
        capacity,
        oldest: list.first().and_then(|e| id_time(&e.id)),
        rejected: count(&dir.join("rejected")),
        corrupt: count(&dir.join("corrupt")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(id: &str) -> Vec<u8> {
        serde_json::json!({"id": id, "target": {"host": "a.test", "port": 443}})
            .to_string()
            .into_bytes()
    }

    fn id() -> String {
        uuid::Uuid::now_v7().to_string()
    }

    #[test]
    fn daemon_spool_write_is_atomic_and_complete() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        let a = id();
        spool.put(&a, &report(&a)).unwrap();
        // No temporary file is left behind, and the file decodes to the report.
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !matches!(n.as_str(), "rejected" | "corrupt"))
            .collect();
        assert_eq!(names, vec![format!("{a}.json")]);
        let entry = &spool.list().unwrap()[0];
        match spool.load(entry).unwrap() {
            Loaded::Report(body) => assert_eq!(body, report(&a)),
            Loaded::Quarantined(why) => panic!("quarantined: {why}"),
        }
        // A leftover temporary file of an interrupted write is cleaned up on open.
        fs::write(dir.path().join(".x.tmp"), b"half").unwrap();
        let spool = Spool::open(dir.path(), 1 << 20).unwrap();
        assert!(!dir.path().join(".x.tmp").exists());
        assert_eq!(spool.totals().depth, 1);
    }

    #[test]
    fn daemon_spool_lists_in_id_order_and_ack_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        let ids: Vec<String> = (0..5).map(|_| id()).collect();
        // Written out of order: listed in id (time) order.
        for i in [3, 0, 4, 1, 2] {
            spool.put(&ids[i], &report(&ids[i])).unwrap();
        }
        let listed: Vec<String> = spool.list().unwrap().into_iter().map(|e| e.id).collect();
        assert_eq!(listed, ids);
        let first = spool.list().unwrap().remove(0);
        let before = spool.used();
        spool.ack(&first).unwrap();
        assert!(!first.path.exists());
        assert_eq!(spool.used(), before - first.bytes);
        assert_eq!(spool.totals().depth, 4);
        // Writing an id again is harmless.
        spool.put(&ids[1], &report(&ids[1])).unwrap();
        assert_eq!(spool.totals().depth, 4);
        let t = spool.totals();
        assert_eq!(t.oldest, id_time(&ids[1]));
        // Reopening counts what is on disk.
        let again = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(again.used(), spool.used());
    }

    #[test]
    fn daemon_spool_quarantines_garbage_truncated_and_tampered_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        let (a, b, c, d) = (id(), id(), id(), id());
        for x in [&a, &b, &c, &d] {
            spool.put(x, &report(x)).unwrap();
        }
        // Garbage, truncated, one byte altered; d stays intact.
        fs::write(spool.path_of(&a), b"\x00\xffgarbage").unwrap();
        let full = fs::read(spool.path_of(&b)).unwrap();
        fs::write(spool.path_of(&b), &full[..full.len() - 7]).unwrap();
        let mut bytes = fs::read(spool.path_of(&c)).unwrap();
        let n = bytes.len();
        bytes[n - 3] ^= 0x01;
        fs::write(spool.path_of(&c), &bytes).unwrap();
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        for entry in spool.list().unwrap() {
            match spool.load(&entry).unwrap() {
                Loaded::Report(_) => ok.push(entry.id),
                Loaded::Quarantined(why) => bad.push((entry.id, why)),
            }
        }
        assert_eq!(ok, vec![d.clone()]);
        assert_eq!(bad.len(), 3);
        assert!(bad[1].1.contains("truncated"), "{bad:?}");
        assert!(bad[2].1.contains("checksum"), "{bad:?}");
        let t = spool.totals();
        assert_eq!((t.depth, t.corrupt, t.rejected), (1, 3, 0));
        assert!(
            dir.path()
                .join("corrupt")
                .join(format!("{a}.reason"))
                .exists()
        );
        assert_eq!(spool.used(), spool.list().unwrap()[0].bytes);
    }

    #[test]
    fn daemon_spool_reject_moves_with_reason() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        let a = id();
        spool.put(&a, &report(&a)).unwrap();
        let entry = spool.list().unwrap().remove(0);
        spool.reject(&entry, "403 not_assigned").unwrap();
        let reason = fs::read_to_string(dir.path().join("rejected").join(format!("{a}.reason")));
        assert_eq!(reason.unwrap().trim(), "403 not_assigned");
        let t = spool.totals();
        assert_eq!((t.depth, t.bytes, t.rejected), (0, 0, 1));
    }

    #[test]
    fn daemon_spool_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let one = encode(&report(&id())).len() as u64;
        let mut spool = Spool::open(dir.path(), one * 3 + one / 2).unwrap();
        let ids: Vec<String> = (0..4).map(|_| id()).collect();
        for x in &ids[..3] {
            spool.put(x, &report(x)).unwrap();
        }
        assert!(spool.fill_ratio() > WARN_RATIO);
        let err = spool.put(&ids[3], &report(&ids[3])).unwrap_err();
        assert!(matches!(err, SpoolError::Full { .. }));
        assert!(err.to_string().contains("spool full"), "{err}");
        // Nothing partial was written; what is there is intact.
        assert_eq!(spool.list().unwrap().len(), 3);
        for entry in spool.list().unwrap() {
            assert!(matches!(spool.load(&entry).unwrap(), Loaded::Report(_)));
        }
        // Acknowledging frees room.
        let first = spool.list().unwrap().remove(0);
        spool.ack(&first).unwrap();
        spool.put(&ids[3], &report(&ids[3])).unwrap();
    }

    #[test]
    fn daemon_spool_refuses_path_like_ids() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        assert!(matches!(
            spool.put("../x", b"{}"),
            Err(SpoolError::BadId(_))
        ));
    }
}
