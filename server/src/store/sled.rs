//! [`SledStore`]: the [sled](https://docs.rs/sled/0.34) backend, behind the `sled` cargo
//! feature, kept for comparison (see `docs/storage.md` for why it is not the default: its
//! stable line has had no release since 2021 and its README calls it beta).
//!
//! - One sled `Tree` per [`Table`], named [`Table::name`], in one sled directory.
//! - Each [`Store::apply`] is one sled transaction over the trees the batch touches
//!   (conditions read inside it), flushed before `apply` returns. On Linux sled's flush ends
//!   in `sync_file_range`, which neither flushes the drive's write cache nor the file's
//!   metadata (sled fsyncs only from a background thread, every 500 ms), so the store then
//!   calls `fdatasync` on sled's log file itself: `Ok` means durable, as the trait promises.
//! - [`Store::backup`] copies every tree into a fresh sled directory. sled has no snapshot
//!   that spans trees, so the backup holds off writes made through this store while it
//!   copies (reads go on).

use std::ops::Bound;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use ::sled::Transactional;
use ::sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};

use super::util::{
    check_condition, condition_target, disk_size, finish_backup, io_error, op_table, panic_message,
    poisoned, prepare_backup, scan_start,
};
use super::{Batch, Op, Store, StoreError, StoreStats, Table};

/// The sled store.
pub struct SledStore {
    path: PathBuf,
    db: ::sled::Db,
    /// Indexed by `Table as usize`.
    trees: Vec<::sled::Tree>,
    /// Batches hold it shared, a backup exclusively (sled has no cross-tree snapshot).
    writes: RwLock<()>,
    /// sled's log file (`<path>/db`), fdatasync'ed after each batch.
    log: std::fs::File,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SledStore {
    /// Opens (or creates) the sled directory at `path`.
    pub fn open(path: &Path) -> Result<SledStore, StoreError> {
        let db = open_db(path)?;
        let trees = Table::ALL
            .into_iter()
            .map(|t| db.open_tree(t.name()).map_err(|e| map_error(path, e)))
            .collect::<Result<Vec<_>, _>>()?;
        let log_path = path.join("db");
        let log = std::fs::File::open(&log_path)
            .map_err(|e| io_error(&format!("opening {}", log_path.display()), &e))?;
        Ok(SledStore {
            path: path.to_path_buf(),
            db,
            trees,
            writes: RwLock::new(()),
            log,
        })
    }

    /// The sled directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether opening found existing data (as opposed to creating a new store).
    pub fn was_recovered(&self) -> bool {
        self.db.was_recovered()
    }

    fn tree(&self, table: Table) -> &::sled::Tree {
        &self.trees[table as usize]
    }

    fn error(&self, err: ::sled::Error) -> StoreError {
        map_error(&self.path, err)
    }
}

/// sled panics on some damaged files rather than returning an error: that is corruption too.
fn open_db(path: &Path) -> Result<::sled::Db, StoreError> {
    let config = ::sled::Config::new().path(path);
    match catch_unwind(AssertUnwindSafe(|| config.open())) {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(e)) => Err(map_error(path, e)),
        Err(panic) => Err(StoreError::Corrupt(format!(
            "{}: sled failed to open the store: {}",
            path.display(),
            panic_message(&*panic)
        ))),
    }
}

fn map_error(path: &Path, err: ::sled::Error) -> StoreError {
    let at = path.display();
    match err {
        ::sled::Error::Io(e) => {
            // sled reports its lock file being held as an I/O error "could not acquire lock".
            let message = e.to_string();
            if message.contains("could not acquire lock")
                || e.kind() == std::io::ErrorKind::WouldBlock
            {
                StoreError::Locked {
                    path: at.to_string(),
                }
            } else {
                io_error(&at.to_string(), &e)
            }
        }
        ::sled::Error::Corruption { at: pointer, .. } => {
            StoreError::Corrupt(format!("{at}: sled found corruption at {pointer:?}"))
        }
        other => StoreError::Io(format!("{at}: {other}")),
    }
}

impl Store for SledStore {
    fn engine(&self) -> &'static str {
        "sled"
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let value = self.tree(table).get(key).map_err(|e| self.error(e))?;
        Ok(value.map(|v| v.to_vec()))
    }

    fn scan(
        &self,
        table: Table,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let range = (scan_start(prefix, after), Bound::<&[u8]>::Unbounded);
        for item in self.tree(table).range::<&[u8], _>(range) {
            let (k, v) = item.map_err(|e| self.error(e))?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k.to_vec(), v.to_vec()));
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }

    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        if batch.ops.is_empty() && batch.conditions.is_empty() {
            return Ok(());
        }
        let _writing = self.writes.read().map_err(poisoned)?;
        // The trees the batch touches, each once; `slot[table]` is its index in the transaction.
        let mut touched: Vec<Table> = batch
            .conditions
            .iter()
            .map(|c| condition_target(c).0)
            .chain(batch.ops.iter().map(op_table))
            .collect();
        touched.sort();
        touched.dedup();
        let mut slot = [usize::MAX; Table::ALL.len()];
        for (i, t) in touched.iter().enumerate() {
            slot[*t as usize] = i;
        }
        let trees: Vec<::sled::Tree> = touched.iter().map(|t| self.tree(*t).clone()).collect();
        // sled may run the closure more than once (on internal conflicts): it only reads `batch`.
        let result = trees
            .as_slice()
            .transaction(|views: &Vec<TransactionalTree>| {
                for condition in &batch.conditions {
                    let (t, key) = condition_target(condition);
                    let current = views[slot[t as usize]].get(key)?;
                    if let Err(e) = check_condition(condition, current.as_deref()) {
                        return Err(ConflictableTransactionError::Abort(e));
                    }
                }
                for op in &batch.ops {
                    match op {
                        Op::Put { table, key, value } => {
                            views[slot[*table as usize]]
                                .insert(key.as_slice(), value.as_slice())?;
                        }
                        Op::Delete { table, key } => {
                            views[slot[*table as usize]].remove(key.as_slice())?;
                        }
                    }
                }
                // Flush (fsync sled's log) after the commit, before `transaction` returns.
                views[0].flush();
                Ok(())
            });
        match result {
            Ok(()) => self
                .log
                .sync_data()
                .map_err(|e| io_error(&format!("syncing {}/db", self.path.display()), &e)),
            Err(TransactionError::Abort(conflict)) => Err(conflict),
            Err(TransactionError::Storage(e)) => Err(self.error(e)),
        }
    }

    fn backup(&self, dest: &Path) -> Result<(), StoreError> {
        let partial = prepare_backup(dest)?;
        let result = (|| {
            let _no_writes = self.writes.write().map_err(poisoned)?;
            let copy = open_db(&partial)?;
            let copy_error = |e: ::sled::Error| map_error(&partial, e);
            for table in Table::ALL {
                let target = copy.open_tree(table.name()).map_err(copy_error)?;
                let mut batch = ::sled::Batch::default();
                let mut bytes = 0;
                for item in self.tree(table).iter() {
                    let (k, v) = item.map_err(|e| self.error(e))?;
                    bytes += k.len() + v.len();
                    batch.insert(k, v);
                    if bytes >= 16 << 20 {
                        target
                            .apply_batch(std::mem::take(&mut batch))
                            .map_err(copy_error)?;
                        bytes = 0;
                    }
                }
                target.apply_batch(batch).map_err(copy_error)?;
            }
            copy.flush().map_err(copy_error)?;
            drop(copy);
            Ok(())
        })();
        match result {
            Ok(()) => finish_backup(&partial, dest),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&partial);
                Err(e)
            }
        }
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        Ok(StoreStats {
            size_bytes: disk_size(&self.path)?,
            entries: Table::ALL
                .into_iter()
                .map(|t| (t, self.tree(t).len() as u64))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance;

    fn fresh() -> (Box<dyn Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(&dir.path().join("store.sled")).unwrap();
        (Box::new(store), dir)
    }

    conformance::conformance_tests!(fresh, |path: &Path| SledStore::open(path)
        .map(|s| Box::new(s) as Box<dyn Store>));

    #[test]
    fn data_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sled");
        let store = SledStore::open(&path).unwrap();
        store
            .apply(Batch::new().put(Table::Users, "admin", "x"))
            .unwrap();
        drop(store);
        let store = SledStore::open(&path).unwrap();
        assert_eq!(
            store.get(Table::Users, b"admin").unwrap(),
            Some(b"x".to_vec())
        );
    }

    #[test]
    fn open_dispatches_to_sled() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            crate::store::open(&dir.path().join("s"), "sled")
                .unwrap()
                .engine(),
            "sled"
        );
    }
}
