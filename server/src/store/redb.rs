//! [`RedbStore`]: the embedded default, one [redb](https://docs.rs/redb) file.
//!
//! - One redb table per [`Table`], named [`Table::name`], keys and values `&[u8]`; all of them
//!   are created when the store opens.
//! - Each [`Store::apply`] is one write transaction with [`Durability::Immediate`]: conditions
//!   are read inside it, so they and the ops are atomic; the commit's fsync has happened when
//!   `apply` returns. redb serialises write transactions; reads run beside them on snapshots.
//! - After a crash (kill -9, power loss) redb finds the last committed transaction by its
//!   checksums and repairs the file on the next open: nothing to do here but open.
//! - [`Store::backup`] streams one read transaction (a snapshot) into a fresh redb file while
//!   writes go on, then fsyncs and renames it into place.
//! - Errors: another process holding the file is [`StoreError::Locked`]; a full disk, a file
//!   size limit or a quota is [`StoreError::Full`]; a damaged file is [`StoreError::Corrupt`].
//!   After an I/O error redb refuses every further operation until the file is reopened, so the
//!   store reopens it on its next call (which also runs the repair).

use std::collections::BTreeMap;
use std::fs;
use std::ops::Bound;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use ::redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    TableError,
};

use super::util::{
    check_condition, condition_target, finish_backup, io_error, op_table, panic_message, poisoned,
    prepare_backup, scan_start,
};
use super::{Batch, Op, Store, StoreError, StoreStats, Table};

type Def = TableDefinition<'static, &'static [u8], &'static [u8]>;

fn def(table: Table) -> Def {
    TableDefinition::new(table.name())
}

/// Bytes copied into a backup per write transaction of the copy.
const BACKUP_CHUNK_BYTES: usize = 64 << 20;

/// How a [`RedbStore`] opens its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedbOptions {
    /// Verify every page's checksum when opening (reads the whole file once). Without it redb
    /// trusts a file that was closed cleanly and would serve a page damaged on disk since
    /// then as data; with it such a file fails to open with [`StoreError::Corrupt`]. After a
    /// crash redb verifies the file anyway (its repair). Default: on.
    pub verify_on_open: bool,
}

impl Default for RedbOptions {
    fn default() -> RedbOptions {
        RedbOptions {
            verify_on_open: true,
        }
    }
}

/// The redb store. Share it as `Arc<dyn Store>`; every method takes `&self`.
pub struct RedbStore {
    path: PathBuf,
    options: RedbOptions,
    /// `None` only between a failed reopen and the next attempt.
    db: RwLock<Option<Database>>,
    /// Set by an I/O error: redb then fails every operation until the file is reopened.
    failed: AtomicBool,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .field("failed", &self.failed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl RedbStore {
    /// Opens the database file at `path` with the default [`RedbOptions`], creating it (and
    /// its parent directories) if absent, repairing it if the last process using it crashed.
    pub fn open(path: &Path) -> Result<RedbStore, StoreError> {
        RedbStore::open_with(path, RedbOptions::default())
    }

    /// Opens the database file at `path` with `options`.
    pub fn open_with(path: &Path, options: RedbOptions) -> Result<RedbStore, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent)
                .map_err(|e| io_error(&format!("creating {}", parent.display()), &e))?;
        }
        let db = open_database(path, &options)?;
        let store = RedbStore {
            path: path.to_path_buf(),
            options,
            db: RwLock::new(Some(db)),
            failed: AtomicBool::new(false),
        };
        store.with_db(|db| create_tables(db).map_err(|e| store.error(e)))?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Verifies every page's checksum and the allocator state, repairing what it can (slow:
    /// reads the whole file; waits for other calls to finish). `Ok(true)`: intact;
    /// `Ok(false)`: damaged and repaired; [`StoreError::Corrupt`]: beyond repair.
    pub fn check_integrity(&self) -> Result<bool, StoreError> {
        let mut guard = self.db.write().map_err(poisoned)?;
        let db = self.reopened(&mut guard)?;
        db.check_integrity().map_err(|e| self.error(e))
    }

    /// Rewrites the file to release free space (redb files never shrink on their own; waits
    /// for other calls to finish). Returns whether anything was released.
    pub fn compact(&self) -> Result<bool, StoreError> {
        let mut guard = self.db.write().map_err(poisoned)?;
        let db = self.reopened(&mut guard)?;
        db.compact().map_err(|e| self.error(e))
    }

    /// Maps a redb error, noting errors after which redb wants the file reopened.
    fn error(&self, err: impl Into<::redb::Error>) -> StoreError {
        let (mapped, reopen) = map_error(&self.path, err.into());
        if reopen {
            self.failed.store(true, Ordering::Release);
        }
        mapped
    }

    /// Runs `f` on the open database, reopening it first if an I/O error poisoned it.
    fn with_db<T>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.failed.load(Ordering::Acquire) {
            let mut guard = self.db.write().map_err(poisoned)?;
            self.reopened(&mut guard)?;
        }
        let guard = self.db.read().map_err(poisoned)?;
        match guard.as_ref() {
            Some(db) => f(db),
            None => Err(StoreError::Io(format!(
                "{} is closed after an earlier error and could not be reopened",
                self.path.display()
            ))),
        }
    }

    /// The database, reopened if it failed (holding the write lock: no transaction is alive).
    fn reopened<'a>(
        &self,
        guard: &'a mut Option<Database>,
    ) -> Result<&'a mut Database, StoreError> {
        if self.failed.load(Ordering::Acquire) || guard.is_none() {
            // redb allows one handle per file: the old one must be gone before the new opens.
            drop(guard.take());
            let db = open_database(&self.path, &self.options)?;
            create_tables(&db).map_err(|e| self.error(e))?;
            *guard = Some(db);
            self.failed.store(false, Ordering::Release);
        }
        guard
            .as_mut()
            .ok_or_else(|| StoreError::Io("the database is not open".into()))
    }
}

/// Opens or creates the file. redb may panic on a file damaged outside redb (its documented
/// behaviour without an integrity check on open): that is corruption too.
fn open_database(path: &Path, options: &RedbOptions) -> Result<Database, StoreError> {
    let mut builder = Database::builder();
    builder.set_check_integrity_on_open(options.verify_on_open);
    if !options.verify_on_open {
        // Without verification on open, redb calls this only to repair after a crash.
        let shown = path.display().to_string();
        let warned = AtomicBool::new(false);
        builder.set_repair_callback(move |_session| {
            if !warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(path = %shown, "the store was not closed cleanly: repairing it");
            }
        });
    }
    match catch_unwind(AssertUnwindSafe(|| builder.create(path))) {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(e)) => Err(map_error(path, e.into()).0),
        Err(panic) => Err(StoreError::Corrupt(format!(
            "{}: redb failed to open the file: {}",
            path.display(),
            panic_message(&*panic)
        ))),
    }
}

fn create_tables(db: &Database) -> Result<(), ::redb::Error> {
    let txn = db.begin_read()?;
    let mut missing = Vec::new();
    for table in Table::ALL {
        match txn.open_table(def(table)) {
            Ok(_) => {}
            Err(TableError::TableDoesNotExist(_)) => missing.push(table),
            Err(e) => return Err(e.into()),
        }
    }
    drop(txn);
    if missing.is_empty() {
        return Ok(());
    }
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate)?;
    for table in missing {
        txn.open_table(def(table))?;
    }
    txn.commit()?;
    Ok(())
}

/// The store's error for a redb error, and whether redb now wants the file reopened.
fn map_error(path: &Path, err: ::redb::Error) -> (StoreError, bool) {
    use ::redb::Error as E;
    let at = path.display();
    match err {
        E::DatabaseAlreadyOpen | E::LockProtocolMismatch => (
            StoreError::Locked {
                path: path.display().to_string(),
            },
            false,
        ),
        E::Corrupted(msg) => (StoreError::Corrupt(format!("{at}: {msg}")), false),
        E::RepairAborted => (
            StoreError::Corrupt(format!("{at}: the repair was aborted")),
            false,
        ),
        // redb reports a file that is not a redb database as InvalidData.
        E::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            (StoreError::Corrupt(format!("{at}: {e}")), false)
        }
        E::Io(e) => (io_error(&at.to_string(), &e), true),
        E::PreviousIo | E::DatabaseClosed | E::LockPoisoned(_) => {
            (StoreError::Io(format!("{at}: {err}")), true)
        }
        E::UpgradeRequired(version) => (
            StoreError::Io(format!(
                "{at}: file format version {version} needs a manual upgrade with an older redb"
            )),
            false,
        ),
        other => (StoreError::Io(format!("{at}: {other}")), false),
    }
}

impl Store for RedbStore {
    fn engine(&self) -> &'static str {
        "redb"
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_db(|db| {
            let txn = db.begin_read().map_err(|e| self.error(e))?;
            let t = match txn.open_table(def(table)) {
                Ok(t) => t,
                Err(TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(self.error(e)),
            };
            let value = t.get(key).map_err(|e| self.error(e))?;
            Ok(value.map(|v| v.value().to_vec()))
        })
    }

    fn scan(
        &self,
        table: Table,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.with_db(|db| {
            let txn = db.begin_read().map_err(|e| self.error(e))?;
            let t = match txn.open_table(def(table)) {
                Ok(t) => t,
                Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(e) => return Err(self.error(e)),
            };
            let range = t
                .range::<&[u8]>((scan_start(prefix, after), Bound::Unbounded))
                .map_err(|e| self.error(e))?;
            let mut out = Vec::new();
            for item in range {
                let (k, v) = item.map_err(|e| self.error(e))?;
                let k = k.value();
                if !k.starts_with(prefix) {
                    break;
                }
                out.push((k.to_vec(), v.value().to_vec()));
                if out.len() == limit {
                    break;
                }
            }
            Ok(out)
        })
    }

    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        if batch.ops.is_empty() && batch.conditions.is_empty() {
            return Ok(());
        }
        self.with_db(|db| {
            let mut txn = db.begin_write().map_err(|e| self.error(e))?;
            txn.set_durability(Durability::Immediate)
                .map_err(|e| self.error(e))?;
            {
                // redb allows one open handle per table per transaction: open each once.
                let mut tables = BTreeMap::new();
                let touched = batch
                    .conditions
                    .iter()
                    .map(|c| condition_target(c).0)
                    .chain(batch.ops.iter().map(op_table));
                for t in touched {
                    if let std::collections::btree_map::Entry::Vacant(slot) = tables.entry(t) {
                        slot.insert(txn.open_table(def(t)).map_err(|e| self.error(e))?);
                    }
                }
                for condition in &batch.conditions {
                    let (t, key) = condition_target(condition);
                    let current = tables
                        .get_mut(&t)
                        .expect("opened above")
                        .get(key)
                        .map_err(|e| self.error(e))?;
                    // Returning drops `txn` uncommitted, which aborts it: nothing is written.
                    check_condition(condition, current.as_ref().map(|v| v.value()))?;
                }
                for op in &batch.ops {
                    match op {
                        Op::Put {
                            table: t,
                            key,
                            value,
                        } => {
                            tables
                                .get_mut(t)
                                .expect("opened above")
                                .insert(key.as_slice(), value.as_slice())
                                .map_err(|e| self.error(e))?;
                        }
                        Op::Delete { table: t, key } => {
                            tables
                                .get_mut(t)
                                .expect("opened above")
                                .remove(key.as_slice())
                                .map_err(|e| self.error(e))?;
                        }
                    }
                }
            }
            txn.commit().map_err(|e| self.error(e))
        })
    }

    fn apply_many(&self, batches: Vec<Batch>) -> Vec<Result<(), StoreError>> {
        if batches.len() < 2 {
            return batches.into_iter().map(|b| self.apply(b)).collect();
        }
        let n = batches.len();
        let outcome = self.with_db(|db| {
            let mut txn = db.begin_write().map_err(|e| self.error(e))?;
            txn.set_durability(Durability::Immediate)
                .map_err(|e| self.error(e))?;
            let mut results: Vec<Result<(), StoreError>> = Vec::with_capacity(n);
            {
                let mut tables = BTreeMap::new();
                for batch in &batches {
                    let touched = batch
                        .conditions
                        .iter()
                        .map(|c| condition_target(c).0)
                        .chain(batch.ops.iter().map(op_table));
                    for t in touched {
                        if let std::collections::btree_map::Entry::Vacant(slot) = tables.entry(t) {
                            slot.insert(txn.open_table(def(t)).map_err(|e| self.error(e))?);
                        }
                    }
                }
                'batches: for batch in &batches {
                    // Conditions read the transaction's own writes: the earlier batches count.
                    for condition in &batch.conditions {
                        let (t, key) = condition_target(condition);
                        let current = tables
                            .get_mut(&t)
                            .expect("opened above")
                            .get(key)
                            .map_err(|e| self.error(e))?;
                        if let Err(e) =
                            check_condition(condition, current.as_ref().map(|v| v.value()))
                        {
                            results.push(Err(e));
                            continue 'batches;
                        }
                    }
                    for op in &batch.ops {
                        match op {
                            Op::Put {
                                table: t,
                                key,
                                value,
                            } => {
                                tables
                                    .get_mut(t)
                                    .expect("opened above")
                                    .insert(key.as_slice(), value.as_slice())
                                    .map_err(|e| self.error(e))?;
                            }
                            Op::Delete { table: t, key } => {
                                tables
                                    .get_mut(t)
                                    .expect("opened above")
                                    .remove(key.as_slice())
                                    .map_err(|e| self.error(e))?;
                            }
                        }
                    }
                    results.push(Ok(()));
                }
            }
            txn.commit().map_err(|e| self.error(e))?;
            Ok(results)
        });
        match outcome {
            Ok(results) => results,
            // The transaction was not committed: no batch was written.
            Err(e) => (0..n).map(|_| Err(e.clone())).collect(),
        }
    }

    fn backup(&self, dest: &Path) -> Result<(), StoreError> {
        let partial = prepare_backup(dest)?;
        let result = self.with_db(|db| {
            // One read transaction: a snapshot of the last commit, while writers go on.
            let snapshot = db.begin_read().map_err(|e| self.error(e))?;
            let copy = Database::builder()
                .create(&partial)
                .map_err(|e| map_error(&partial, e.into()).0)?;
            let copy_error = |e: ::redb::Error| map_error(&partial, e).0;
            for table in Table::ALL {
                let source = match snapshot.open_table(def(table)) {
                    Ok(t) => Some(t),
                    Err(TableError::TableDoesNotExist(_)) => None,
                    Err(e) => return Err(self.error(e)),
                };
                let mut entries = match &source {
                    Some(t) => Some(t.iter().map_err(|e| self.error(e))?),
                    None => None,
                };
                // Copy in transactions of about BACKUP_CHUNK_BYTES; the last one per table
                // commits even when empty, so every table exists in the copy.
                loop {
                    let mut txn = copy.begin_write().map_err(|e| copy_error(e.into()))?;
                    txn.set_durability(Durability::None)
                        .map_err(|e| copy_error(e.into()))?;
                    let mut done = true;
                    {
                        let mut target = txn
                            .open_table(def(table))
                            .map_err(|e| copy_error(e.into()))?;
                        let mut bytes = 0;
                        if let Some(entries) = entries.as_mut() {
                            for item in entries.by_ref() {
                                let (k, v) = item.map_err(|e| self.error(e))?;
                                target
                                    .insert(k.value(), v.value())
                                    .map_err(|e| copy_error(e.into()))?;
                                bytes += k.value().len() + v.value().len();
                                if bytes >= BACKUP_CHUNK_BYTES {
                                    done = false;
                                    break;
                                }
                            }
                        }
                    }
                    txn.commit().map_err(|e| copy_error(e.into()))?;
                    if done {
                        break;
                    }
                }
            }
            // A last durable commit makes every earlier one durable.
            let mut txn = copy.begin_write().map_err(|e| copy_error(e.into()))?;
            txn.set_durability(Durability::Immediate)
                .map_err(|e| copy_error(e.into()))?;
            txn.commit().map_err(|e| copy_error(e.into()))?;
            copy.close().map_err(|e| copy_error(e.into()))?;
            Ok(())
        });
        match result {
            Ok(()) => finish_backup(&partial, dest),
            Err(e) => {
                let _ = fs::remove_file(&partial);
                Err(e)
            }
        }
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        self.with_db(|db| {
            let txn = db.begin_read().map_err(|e| self.error(e))?;
            let mut entries = Vec::with_capacity(Table::ALL.len());
            for table in Table::ALL {
                let n = match txn.open_table(def(table)) {
                    Ok(t) => t.len().map_err(|e| self.error(e))?,
                    Err(TableError::TableDoesNotExist(_)) => 0,
                    Err(e) => return Err(self.error(e)),
                };
                entries.push((table, n));
            }
            let size_bytes = fs::metadata(&self.path)
                .map_err(|e| io_error(&format!("reading {}", self.path.display()), &e))?
                .len();
            Ok(StoreStats {
                size_bytes,
                entries,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use crate::store::conformance;
    use proptest::prelude::*;

    fn fresh() -> (Box<dyn Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("store.redb")).unwrap();
        (Box::new(store), dir)
    }

    conformance::conformance_tests!(fresh, |path: &Path| RedbStore::open(path)
        .map(|s| Box::new(s) as Box<dyn Store>));

    #[test]
    fn data_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/store.redb");
        let store = RedbStore::open(&path).unwrap();
        store
            .apply(Batch::new().put(Table::Users, "admin", "x"))
            .unwrap();
        drop(store);
        let store = RedbStore::open(&path).unwrap();
        assert_eq!(
            store.get(Table::Users, b"admin").unwrap(),
            Some(b"x".to_vec())
        );
        assert!(store.check_integrity().unwrap());
    }

    #[test]
    fn a_second_open_in_the_same_process_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        let store = RedbStore::open(&path).unwrap();
        match RedbStore::open(&path) {
            Err(StoreError::Locked { path: p }) => assert!(p.ends_with("store.redb")),
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(store);
        RedbStore::open(&path).unwrap();
    }

    #[test]
    fn a_file_that_is_not_redb_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        fs::write(&path, conformance::noise(1, 100_000)).unwrap();
        match RedbStore::open(&path) {
            Err(StoreError::Corrupt(_)) => {}
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    /// Damage in the file is an error on open (verification on), never wrong data.
    #[test]
    fn damaged_pages_are_reported_not_served() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        let value = |i: u32| conformance::noise(u64::from(i), 20_000);
        let store = RedbStore::open(&path).unwrap();
        for i in 0..50u32 {
            store
                .apply(Batch::new().put(Table::Reports, i.to_be_bytes(), value(i)))
                .unwrap();
        }
        drop(store);
        let pristine = fs::read(&path).unwrap();
        let mut detected = 0;
        for eighth in 1..8 {
            // Flip a page's worth of bytes at several places past the header.
            let mut bytes = pristine.clone();
            let at = bytes.len() * eighth / 8;
            for b in &mut bytes[at..at + 4096] {
                *b ^= 0x5a;
            }
            fs::write(&path, &bytes).unwrap();
            match RedbStore::open(&path) {
                Err(StoreError::Corrupt(msg)) => {
                    eprintln!("damage at {eighth}/8: {msg}");
                    detected += 1;
                }
                Err(e) => panic!("damage at {eighth}/8: expected Corrupt, got {e:?}"),
                Ok(store) => {
                    eprintln!("damage at {eighth}/8: opened");
                    for i in 0..50u32 {
                        match store.get(Table::Reports, &i.to_be_bytes()) {
                            Ok(Some(v)) => assert!(
                                v == value(i),
                                "damage at {eighth}/8: wrong data served for {i}"
                            ),
                            other => eprintln!("damage at {eighth}/8: key {i}: {other:?}"),
                        }
                    }
                }
            }
        }
        assert!(detected > 0, "no damage was detected");
    }

    #[test]
    fn open_dispatches_on_the_engine() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            crate::store::open(&dir.path().join("a.redb"), "redb")
                .unwrap()
                .engine(),
            "redb"
        );
        assert_eq!(
            crate::store::open(&dir.path().join("b.redb"), "")
                .unwrap()
                .engine(),
            "redb"
        );
        assert_eq!(
            crate::store::open(dir.path(), "memory").unwrap().engine(),
            "memory"
        );
        assert!(matches!(
            crate::store::open(dir.path(), "rocksdb"),
            Err(StoreError::Io(_))
        ));
        #[cfg(not(feature = "sled"))]
        assert!(crate::store::open(&dir.path().join("s"), "sled").is_err());
    }

    // Model-based test: random operations on redb and on MemoryStore give the same results.

    #[derive(Debug, Clone)]
    enum Action {
        Apply(Batch),
        Get(Table, Vec<u8>),
        Scan(Table, Vec<u8>, Option<Vec<u8>>, usize),
        Reopen,
    }

    const TABLES: [Table; 3] = [Table::Dossiers, Table::Events, Table::Reports];

    fn table() -> impl Strategy<Value = Table> {
        prop::sample::select(TABLES.to_vec())
    }

    fn key() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(vec![0u8, 1, b'a', b'b', 0xff]), 0..4)
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..3),
            (any::<u64>(), 0usize..5000).prop_map(|(seed, len)| conformance::noise(seed, len)),
        ]
    }

    fn batch() -> impl Strategy<Value = Batch> {
        let condition = prop_oneof![
            (table(), key())
                .prop_map(|(t, k)| crate::store::Condition::Absent { table: t, key: k }),
            (table(), key(), value()).prop_map(|(t, k, v)| crate::store::Condition::Equals {
                table: t,
                key: k,
                value: v
            }),
        ];
        let op = prop_oneof![
            3 => (table(), key(), value()).prop_map(|(t, k, v)| Op::Put { table: t, key: k, value: v }),
            1 => (table(), key()).prop_map(|(t, k)| Op::Delete { table: t, key: k }),
        ];
        (
            prop::collection::vec(condition, 0..3),
            prop::collection::vec(op, 0..6),
        )
            .prop_map(|(conditions, ops)| Batch { conditions, ops })
    }

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            6 => batch().prop_map(Action::Apply),
            2 => (table(), key()).prop_map(|(t, k)| Action::Get(t, k)),
            2 => (table(), key(), prop::option::of(key()), 0usize..6)
                .prop_map(|(t, p, a, l)| Action::Scan(t, p, a, l)),
            1 => Just(Action::Reopen),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        #[test]
        fn redb_behaves_like_memory(actions in prop::collection::vec(action(), 1..40)) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("model.redb");
            let mut redb = RedbStore::open(&path).unwrap();
            let model = MemoryStore::new();
            for action in actions {
                match action {
                    Action::Apply(batch) => {
                        let a = redb.apply(batch.clone());
                        let b = model.apply(batch);
                        prop_assert_eq!(
                            a.is_ok(), b.is_ok(), "apply: redb {:?}, memory {:?}", a, b
                        );
                        if let Err(e) = a {
                            prop_assert!(matches!(e, StoreError::Conflict(_)), "{:?}", e);
                        }
                    }
                    Action::Get(t, k) => {
                        prop_assert_eq!(redb.get(t, &k).unwrap(), model.get(t, &k).unwrap());
                    }
                    Action::Scan(t, p, a, l) => {
                        prop_assert_eq!(
                            redb.scan(t, &p, a.as_deref(), l).unwrap(),
                            model.scan(t, &p, a.as_deref(), l).unwrap()
                        );
                    }
                    Action::Reopen => {
                        drop(redb);
                        redb = RedbStore::open(&path).unwrap();
                    }
                }
            }
            prop_assert_eq!(conformance::dump(&redb), conformance::dump(&model));
            prop_assert_eq!(redb.stats().unwrap().entries, model.stats().unwrap().entries);
        }
    }
}
