//! Group commit: concurrent writers share one durable commit.
//!
//! An embedded engine syncs the disk on every commit (`fdatasync`), so a server answering many
//! small writes at once (agents uploading reports) is bound by the disk's sync latency, not by
//! the CPU. [`GroupCommit`] wraps a store: a writer that finds no commit in progress becomes the
//! leader and commits its batch at once (no added latency when writes are rare); writers that
//! arrive meanwhile queue their batches, and the next leader hands them all to
//! [`Store::apply_many`], which applies them in arrival order as if one after the other — each
//! checks its conditions against the state the earlier ones left and is written entirely or
//! not at all — and commits them with one sync. Each writer gets its own batch's result, and
//! returns only once its batch is durable, exactly as with [`Store::apply`].

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

use super::{Batch, Store, StoreError, StoreStats, Table};

/// Batches committed together at most.
const MAX_GROUP: usize = 256;

#[derive(Default)]
struct Queue {
    waiting: Vec<(u64, Batch)>,
    done: HashMap<u64, Result<(), StoreError>>,
    next_ticket: u64,
    committing: bool,
}

/// A store whose concurrent writes are committed in groups (see the module documentation).
pub struct GroupCommit {
    inner: Arc<dyn Store>,
    queue: Mutex<Queue>,
    turn: Condvar,
}

impl GroupCommit {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Store>) -> GroupCommit {
        GroupCommit {
            inner,
            queue: Mutex::new(Queue::default()),
            turn: Condvar::new(),
        }
    }
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Io("the group-commit queue lock is poisoned".into())
}

impl Store for GroupCommit {
    fn engine(&self) -> &'static str {
        self.inner.engine()
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(table, key)
    }

    fn scan(
        &self,
        table: Table,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        self.inner.scan(table, prefix, start_after, limit)
    }

    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        let mut q = self.queue.lock().map_err(poisoned)?;
        let ticket = q.next_ticket;
        q.next_ticket += 1;
        q.waiting.push((ticket, batch));
        loop {
            if let Some(result) = q.done.remove(&ticket) {
                return result;
            }
            if !q.committing {
                // Lead: commit what is waiting (this writer's batch is among it, or was
                // committed by the previous leader and its result is in `done`).
                q.committing = true;
                let take = q.waiting.len().min(MAX_GROUP);
                let group: Vec<(u64, Batch)> = q.waiting.drain(..take).collect();
                drop(q);
                let (tickets, batches): (Vec<u64>, Vec<Batch>) = group.into_iter().unzip();
                let results = if batches.len() == 1 {
                    vec![
                        self.inner
                            .apply(batches.into_iter().next().expect("one batch")),
                    ]
                } else {
                    self.inner.apply_many(batches)
                };
                q = self.queue.lock().map_err(poisoned)?;
                q.done.extend(tickets.into_iter().zip(results));
                q.committing = false;
                self.turn.notify_all();
                continue;
            }
            q = self.turn.wait(q).map_err(poisoned)?;
        }
    }

    fn apply_many(&self, batches: Vec<Batch>) -> Vec<Result<(), StoreError>> {
        self.inner.apply_many(batches)
    }

    fn backup(&self, dest: &Path) -> Result<(), StoreError> {
        self.inner.backup(dest)
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        self.inner.stats()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::store::conformance;
    use crate::store::{MemoryStore, RedbStore};

    fn fresh_redb() -> (Box<dyn Store>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn Store> = Arc::new(RedbStore::open(&dir.path().join("s.redb")).unwrap());
        (Box::new(GroupCommit::new(inner)), dir)
    }

    mod over_redb {
        use super::*;
        conformance::conformance_tests!(fresh_redb, |path: &Path| RedbStore::open(path)
            .map(|s| Box::new(GroupCommit::new(Arc::new(s))) as Box<dyn Store>));
    }

    fn fresh_memory() -> (Box<dyn Store>, tempfile::TempDir) {
        let inner: Arc<dyn Store> = Arc::new(MemoryStore::new());
        (
            Box::new(GroupCommit::new(inner)),
            tempfile::tempdir().unwrap(),
        )
    }

    mod over_memory {
        use super::*;
        conformance::conformance_tests!(fresh_memory, |path: &Path| MemoryStore::load(path)
            .map(|s| Box::new(GroupCommit::new(Arc::new(s))) as Box<dyn Store>));
    }

    /// Many threads increment one counter with compare-and-set and retry on conflict, while
    /// others insert unique keys: the counter equals the number of successful increments (no
    /// lost update inside a group), and every acknowledged insert is there.
    #[test]
    fn concurrent_writers_keep_serial_semantics_in_groups() {
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn Store> = Arc::new(RedbStore::open(&dir.path().join("s.redb")).unwrap());
        let store = Arc::new(GroupCommit::new(inner.clone()));
        let threads: Vec<_> = (0..16u64)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    let mut increments = 0u64;
                    for i in 0..40u64 {
                        loop {
                            let current = store.get(Table::Meta, b"counter").unwrap();
                            let n = current
                                .as_deref()
                                .map(|v| std::str::from_utf8(v).unwrap().parse::<u64>().unwrap())
                                .unwrap_or(0);
                            let guard = match &current {
                                Some(c) => Batch::new().if_equals(
                                    Table::Meta,
                                    b"counter".to_vec(),
                                    c.clone(),
                                ),
                                None => Batch::new().if_absent(Table::Meta, b"counter".to_vec()),
                            };
                            match store.apply(guard.put(
                                Table::Meta,
                                b"counter".to_vec(),
                                (n + 1).to_string(),
                            )) {
                                Ok(()) => {
                                    increments += 1;
                                    break;
                                }
                                Err(StoreError::Conflict(_)) => continue,
                                Err(e) => panic!("{e}"),
                            }
                        }
                        let key = format!("{t:02}/{i:03}");
                        store
                            .apply(Batch::new().if_absent(Table::Reports, key.clone()).put(
                                Table::Reports,
                                key,
                                vec![t as u8; 100],
                            ))
                            .unwrap();
                    }
                    increments
                })
            })
            .collect();
        let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(total, 16 * 40);
        let counter = inner.get(Table::Meta, b"counter").unwrap().unwrap();
        assert_eq!(String::from_utf8(counter).unwrap(), total.to_string());
        assert_eq!(
            inner
                .scan(Table::Reports, b"", None, usize::MAX)
                .unwrap()
                .len(),
            16 * 40
        );
    }

    /// Inside one group, a later batch sees the earlier ones: the second of two inserts of one
    /// key fails alone, and a batch guarded on the first one's value succeeds.
    #[test]
    fn a_group_is_applied_as_if_one_batch_after_the_other() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
        let results = store.apply_many(vec![
            Batch::new().if_absent(Table::Meta, b"k".to_vec()).put(
                Table::Meta,
                b"k".to_vec(),
                b"1".to_vec(),
            ),
            Batch::new()
                .if_absent(Table::Meta, b"k".to_vec())
                .put(Table::Meta, b"k".to_vec(), b"2".to_vec())
                .put(Table::Meta, b"other".to_vec(), b"x".to_vec()),
            Batch::new()
                .if_equals(Table::Meta, b"k".to_vec(), b"1".to_vec())
                .put(Table::Meta, b"k".to_vec(), b"3".to_vec()),
        ]);
        assert!(results[0].is_ok());
        assert!(matches!(results[1], Err(StoreError::Conflict(_))));
        assert!(results[2].is_ok());
        assert_eq!(store.get(Table::Meta, b"k").unwrap().unwrap(), b"3");
        assert_eq!(
            store.get(Table::Meta, b"other").unwrap(),
            None,
            "a failed batch writes nothing"
        );
    }
}
