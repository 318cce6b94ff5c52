//! Helpers shared by the backends: scan bounds, condition checks, error mapping, and the
//! write-then-rename dance of backups.

use std::fs;
use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use super::{Condition, Op, StoreError, Table};

/// The engines [`open`](super::open) knows, the default first.
pub const ENGINES: &[&str] = &[
    "redb",
    "memory",
    #[cfg(feature = "sled")]
    "sled",
];

/// Where a prefix scan starts: strictly after `after` when it sorts at or past the prefix,
/// else at the prefix itself.
pub(crate) fn scan_start<'a>(prefix: &'a [u8], after: Option<&'a [u8]>) -> Bound<&'a [u8]> {
    match after {
        Some(after) if after >= prefix => Bound::Excluded(after),
        _ => Bound::Included(prefix),
    }
}

/// The table and key a condition guards.
pub(crate) fn condition_target(condition: &Condition) -> (Table, &[u8]) {
    match condition {
        Condition::Absent { table, key } | Condition::Equals { table, key, .. } => (*table, key),
    }
}

/// The table an op writes.
pub(crate) fn op_table(op: &Op) -> Table {
    match op {
        Op::Put { table, .. } | Op::Delete { table, .. } => *table,
    }
}

/// Checks a condition against the key's current value; the error is [`StoreError::Conflict`].
pub(crate) fn check_condition(
    condition: &Condition,
    current: Option<&[u8]>,
) -> Result<(), StoreError> {
    match (condition, current) {
        (Condition::Absent { .. }, None) => Ok(()),
        (Condition::Absent { table, key }, Some(_)) => Err(StoreError::Conflict(format!(
            "{}/{} already exists",
            table.name(),
            show_key(key)
        ))),
        (Condition::Equals { value, .. }, Some(current)) if current == value.as_slice() => Ok(()),
        (Condition::Equals { table, key, .. }, Some(_)) => Err(StoreError::Conflict(format!(
            "{}/{} holds another value",
            table.name(),
            show_key(key)
        ))),
        (Condition::Equals { table, key, .. }, None) => Err(StoreError::Conflict(format!(
            "{}/{} does not exist",
            table.name(),
            show_key(key)
        ))),
    }
}

/// A key for messages: text when printable, else hex; long keys are cut.
pub(crate) fn show_key(key: &[u8]) -> String {
    const MAX: usize = 64;
    let cut = &key[..key.len().min(MAX)];
    let more = if key.len() > MAX { "…" } else { "" };
    if cut.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("{}{more}", String::from_utf8_lossy(cut))
    } else {
        format!("0x{}{more}", hex::encode(cut))
    }
}

/// Whether an I/O error means the disk (or the file's allowed size, or a quota) is exhausted.
pub(crate) fn is_full(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::FileTooLarge | io::ErrorKind::QuotaExceeded
    ) || matches!(err.raw_os_error(), Some(28 | 27 | 122)) // ENOSPC, EFBIG, EDQUOT on Linux
}

/// Maps an I/O error: exhausted space is [`StoreError::Full`], the rest [`StoreError::Io`].
pub(crate) fn io_error(context: &str, err: &io::Error) -> StoreError {
    if is_full(err) {
        StoreError::Full(format!("{context}: {err}"))
    } else {
        StoreError::Io(format!("{context}: {err}"))
    }
}

/// A poisoned lock (a thread panicked while holding it).
pub(crate) fn poisoned<T>(_: T) -> StoreError {
    StoreError::Io("an internal lock is poisoned (a thread panicked while holding it)".into())
}

/// Refuses an existing backup destination and returns the path the backup is written to
/// first (`<dest>.partial`, removed if a failed attempt left it), so that a backup that did
/// not finish is never mistaken for one that did.
pub(crate) fn prepare_backup(dest: &Path) -> Result<PathBuf, StoreError> {
    if fs::symlink_metadata(dest).is_ok() {
        return Err(StoreError::Io(format!(
            "backup destination {} already exists",
            dest.display()
        )));
    }
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .map_err(|e| io_error(&format!("creating {}", parent.display()), &e))?;
    }
    let mut partial = dest.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    match fs::symlink_metadata(&partial) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(&partial),
        Ok(_) => fs::remove_file(&partial),
        Err(_) => Ok(()),
    }
    .map_err(|e| io_error(&format!("removing {}", partial.display()), &e))?;
    Ok(partial)
}

/// Makes a finished backup durable and visible: fsyncs `partial` (a file, or a directory and
/// the files in it), renames it to `dest` and fsyncs the parent directory.
pub(crate) fn finish_backup(partial: &Path, dest: &Path) -> Result<(), StoreError> {
    sync_tree(partial)?;
    fs::rename(partial, dest).map_err(|e| {
        io_error(
            &format!("renaming {} to {}", partial.display(), dest.display()),
            &e,
        )
    })?;
    sync_parent(dest)
}

/// fsyncs a file, or a directory and everything below it.
pub(crate) fn sync_tree(path: &Path) -> Result<(), StoreError> {
    let meta =
        fs::metadata(path).map_err(|e| io_error(&format!("reading {}", path.display()), &e))?;
    if meta.is_dir() {
        let entries =
            fs::read_dir(path).map_err(|e| io_error(&format!("listing {}", path.display()), &e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_error(&format!("listing {}", path.display()), &e))?;
            sync_tree(&entry.path())?;
        }
    }
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error(&format!("syncing {}", path.display()), &e))
}

/// fsyncs the directory holding `path`, so that a create or rename in it survives a crash.
pub(crate) fn sync_parent(path: &Path) -> Result<(), StoreError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::File::open(parent)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error(&format!("syncing {}", parent.display()), &e))
}

/// Total size of a file, or of the files below a directory.
#[cfg(feature = "sled")]
pub(crate) fn disk_size(path: &Path) -> Result<u64, StoreError> {
    let meta =
        fs::metadata(path).map_err(|e| io_error(&format!("reading {}", path.display()), &e))?;
    if !meta.is_dir() {
        return Ok(meta.len());
    }
    let mut total = 0;
    let entries =
        fs::read_dir(path).map_err(|e| io_error(&format!("listing {}", path.display()), &e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_error(&format!("listing {}", path.display()), &e))?;
        total += disk_size(&entry.path())?;
    }
    Ok(total)
}

/// The message of a caught panic.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_start_picks_the_later_bound() {
        assert_eq!(scan_start(b"b", None), Bound::Included(&b"b"[..]));
        assert_eq!(scan_start(b"b", Some(b"a")), Bound::Included(&b"b"[..]));
        assert_eq!(scan_start(b"b", Some(b"b")), Bound::Excluded(&b"b"[..]));
        assert_eq!(scan_start(b"b", Some(b"bz")), Bound::Excluded(&b"bz"[..]));
    }

    #[test]
    fn full_errors_are_recognised() {
        assert!(is_full(&io::Error::from_raw_os_error(28)));
        assert!(is_full(&io::Error::from_raw_os_error(27)));
        assert!(!is_full(&io::Error::from_raw_os_error(5)));
        assert!(matches!(
            io_error("x", &io::Error::from(io::ErrorKind::StorageFull)),
            StoreError::Full(_)
        ));
    }

    #[test]
    fn keys_are_shown_readably() {
        assert_eq!(show_key(b"agency-1"), "agency-1");
        assert_eq!(show_key(&[0, 255]), "0x00ff");
        assert!(show_key(&[b'a'; 100]).ends_with('…'));
    }
}
