//! Storage: the server's own small trait over ordered key-value tables, so that callers never
//! know which engine holds the data.
//!
//! Every write is a [`Batch`] applied atomically and durably (the call returns only once the
//! batch survives a crash), optionally guarded by [`Condition`]s checked in the same
//! transaction (idempotent inserts, optimistic concurrency on workflow transitions). Reads are
//! point lookups and ordered prefix scans. That is enough for the typed repositories above
//! it, and maps directly onto redb (the embedded default), sled (a cargo feature, for
//! comparison) and a later PostgreSQL backend (one table with `(table, key)` as primary key).
//! Every backend passes the same conformance suite and crash suite (`conformance.rs`).

// `Store::scan`'s return type trips clippy's type_complexity; the trait stays as designed.
#![allow(clippy::type_complexity)]

use std::path::Path;

pub mod conformance;
pub mod group;
pub mod memory;
pub mod redb;
#[cfg(feature = "sled")]
pub mod sled;
mod util;

pub use self::memory::MemoryStore;
pub use self::redb::RedbStore;
#[cfg(feature = "sled")]
pub use self::sled::SledStore;
pub use self::util::ENGINES;

/// Opens the store of an engine: `redb` (the default; `path` is the database file, created
/// with its parent directories if absent), `sled` (with the `sled` cargo feature; `path` is a
/// directory) or `memory` (`path` is ignored; nothing survives the process).
pub fn open(path: &Path, engine: &str) -> Result<Box<dyn Store>, StoreError> {
    match engine {
        "redb" | "" => Ok(Box::new(RedbStore::open(path)?)),
        "memory" => Ok(Box::new(MemoryStore::new())),
        #[cfg(feature = "sled")]
        "sled" => Ok(Box::new(SledStore::open(path)?)),
        #[cfg(not(feature = "sled"))]
        "sled" => Err(StoreError::Io(
            "the sled engine is not compiled in (cargo feature `sled`)".into(),
        )),
        other => Err(StoreError::Io(format!(
            "unknown storage engine {other:?} (known: {})",
            ENGINES.join(", ")
        ))),
    }
}

/// The tables. Keys are ordered byte strings; values are opaque bytes (JSON above this layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Server metadata (schema version, counters).
    Meta,
    /// Agencies by id.
    Agencies,
    /// Information systems by id.
    Systems,
    /// Dossiers by id.
    Dossiers,
    /// Audit events by `dossier id / event id` (UUIDv7: time-ordered).
    Events,
    /// Scan reports by `target / report id`.
    Reports,
    /// Report ids already ingested (idempotency), by report id.
    ReportIds,
    /// The latest report per target, by target.
    Latest,
    /// Users by login.
    Users,
    /// API tokens by the SHA-256 of the token.
    Tokens,
    /// Browser sessions by the SHA-256 of the session id.
    Sessions,
    /// Uploaded documents by SHA-256.
    Documents,
    /// The latest evaluation of each system against its level, by system id.
    Compliance,
    /// Waivers of failing rules, by `system id / waiver id`.
    Waivers,
    /// Outcome summaries of stored reports (grade and failing rules per level), by
    /// `target / report id`, beside `Reports` (history and retention read these).
    ReportOutcomes,
    /// Inventory audit records (merges, edits, waivers), by `subject / event id`.
    InventoryEvents,
    /// Enrolled agents (`crate::agents`), by their account's login.
    Agents,
    /// One-time agent enrollment tokens, by the SHA-256 of the secret.
    Enrollments,
    /// Official holiday schedules entered by an administrator, by year (`crate::calendar`).
    Calendars,
    /// Outgoing e-mail, one record per message by its idempotency key (`crate::alerts::outbox`).
    Outbox,
    /// Alert state: events already raised and reminders already queued, by key
    /// (`crate::alerts`).
    Alerts,
}

impl Table {
    /// Every table.
    pub const ALL: [Table; 21] = [
        Table::Meta,
        Table::Agencies,
        Table::Systems,
        Table::Dossiers,
        Table::Events,
        Table::Reports,
        Table::ReportIds,
        Table::Latest,
        Table::Users,
        Table::Tokens,
        Table::Sessions,
        Table::Documents,
        Table::Compliance,
        Table::Waivers,
        Table::ReportOutcomes,
        Table::InventoryEvents,
        Table::Agents,
        Table::Enrollments,
        Table::Calendars,
        Table::Outbox,
        Table::Alerts,
    ];

    /// The table's stable name (used as the table name in every backend).
    pub fn name(self) -> &'static str {
        match self {
            Table::Meta => "meta",
            Table::Agencies => "agencies",
            Table::Systems => "systems",
            Table::Dossiers => "dossiers",
            Table::Events => "events",
            Table::Reports => "reports",
            Table::ReportIds => "report_ids",
            Table::Latest => "latest",
            Table::Users => "users",
            Table::Tokens => "tokens",
            Table::Sessions => "sessions",
            Table::Documents => "documents",
            Table::Compliance => "compliance",
            Table::Waivers => "waivers",
            Table::ReportOutcomes => "report_outcomes",
            Table::InventoryEvents => "inventory_events",
            Table::Agents => "agents",
            Table::Enrollments => "enrollments",
            Table::Calendars => "calendars",
            Table::Outbox => "outbox",
            Table::Alerts => "alerts",
        }
    }
}

/// One change of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Insert or replace.
    Put {
        /// Table.
        table: Table,
        /// Key.
        key: Vec<u8>,
        /// Value.
        value: Vec<u8>,
    },
    /// Delete (absent keys are fine).
    Delete {
        /// Table.
        table: Table,
        /// Key.
        key: Vec<u8>,
    },
}

/// A guard checked in the same transaction as the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The key must not exist.
    Absent {
        /// Table.
        table: Table,
        /// Key.
        key: Vec<u8>,
    },
    /// The key must hold exactly this value.
    Equals {
        /// Table.
        table: Table,
        /// Key.
        key: Vec<u8>,
        /// The expected value.
        value: Vec<u8>,
    },
}

/// Changes applied together, all or nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// Guards; if any fails, nothing is written and [`StoreError::Conflict`] is returned.
    pub conditions: Vec<Condition>,
    /// The changes, in order.
    pub ops: Vec<Op>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Adds a put.
    pub fn put(
        mut self,
        table: Table,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
    ) -> Batch {
        self.ops.push(Op::Put {
            table,
            key: key.into(),
            value: value.into(),
        });
        self
    }

    /// Adds a delete.
    pub fn delete(mut self, table: Table, key: impl Into<Vec<u8>>) -> Batch {
        self.ops.push(Op::Delete {
            table,
            key: key.into(),
        });
        self
    }

    /// Requires a key to be absent.
    pub fn if_absent(mut self, table: Table, key: impl Into<Vec<u8>>) -> Batch {
        self.conditions.push(Condition::Absent {
            table,
            key: key.into(),
        });
        self
    }

    /// Requires a key to hold a value.
    pub fn if_equals(
        mut self,
        table: Table,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
    ) -> Batch {
        self.conditions.push(Condition::Equals {
            table,
            key: key.into(),
            value: value.into(),
        });
        self
    }
}

/// Why a storage operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A condition of the batch did not hold; nothing was written.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The store is in use by another process (embedded engines admit one).
    #[error("the store at {path} is in use by another process")]
    Locked {
        /// The store's path.
        path: String,
    },
    /// The disk is full or the file cannot grow.
    #[error("no space left for the store: {0}")]
    Full(String),
    /// The store's files are damaged.
    #[error("the store is corrupt: {0}")]
    Corrupt(String),
    /// Any other engine or I/O error.
    #[error("storage error: {0}")]
    Io(String),
}

/// Size and counts, for metrics and `docs/storage.md`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Bytes on disk (0 for memory).
    pub size_bytes: u64,
    /// Entries per table.
    pub entries: Vec<(Table, u64)>,
}

/// An ordered key-value store with atomic, durable, conditional batches.
pub trait Store: Send + Sync + 'static {
    /// The engine's name (`redb`, `sled`, `memory`).
    fn engine(&self) -> &'static str;

    /// The value of a key.
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Entries whose key starts with `prefix`, in key order, strictly after `after` when given,
    /// at most `limit`.
    fn scan(
        &self,
        table: Table,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError>;

    /// Applies a batch atomically; durable when it returns `Ok`.
    fn apply(&self, batch: Batch) -> Result<(), StoreError>;

    /// Applies several batches as if one after the other (each checks its conditions against
    /// the state the earlier ones left, and is written entirely or not at all), answering one
    /// result per batch. An engine may commit them together, with one durable sync for all
    /// ([`group::GroupCommit`] feeds concurrent writers through this); the default applies
    /// them one by one.
    fn apply_many(&self, batches: Vec<Batch>) -> Vec<Result<(), StoreError>> {
        batches.into_iter().map(|b| self.apply(b)).collect()
    }

    /// Writes a consistent copy of the whole store to `dest` (a new file or directory) while
    /// the store keeps serving.
    fn backup(&self, dest: &Path) -> Result<(), StoreError>;

    /// Size and entry counts.
    fn stats(&self) -> Result<StoreStats, StoreError>;
}
