//! The inventory's audit trail: every waiver granted or revoked, every edit of a system or an
//! agency and every merge of agencies leaves one [`InventoryEvent`], appended to
//! `Table::InventoryEvents` under `subject / event id` in the same batch as the change itself
//! and never rewritten (the dossier workflow has its own trail, `workflow::AuditEvent`).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::Role;
use crate::store::{Batch, Table};

/// One change to the inventory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventoryEvent {
    /// Id (UUIDv7 at `at`).
    pub id: String,
    /// What changed: `system:<id>` or `agency:<id>`.
    pub subject: String,
    /// When.
    pub at: Timestamp,
    /// Who (login).
    pub actor: String,
    /// Their role at the time.
    pub role: Role,
    /// What was done: `waiver_granted`, `waiver_revoked`, `system_edited`, `system_retired`,
    /// `agency_edited`, `agency_merged`.
    pub action: String,
    /// The details (fields before and after, the waiver, what moved).
    pub details: Value,
}

impl InventoryEvent {
    /// A new event with a fresh time-ordered id.
    pub fn new(
        subject: String,
        at: Timestamp,
        actor: &crate::auth::Account,
        action: &str,
        details: Value,
    ) -> InventoryEvent {
        InventoryEvent {
            id: new_id(at),
            subject,
            at,
            actor: actor.login.clone(),
            role: actor.role,
            action: action.to_string(),
            details,
        }
    }

    /// `batch` with this event appended (refused if its key exists).
    pub fn append_to(&self, batch: Batch) -> Batch {
        let key = format!("{}/{}", self.subject, self.id);
        batch.if_absent(Table::InventoryEvents, key.as_bytes()).put(
            Table::InventoryEvents,
            key,
            crate::repo::json(self),
        )
    }
}

/// A UUIDv7 for `at` with random bits.
pub fn new_id(at: Timestamp) -> String {
    let millis = u64::try_from(at.as_millisecond()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &rand::random::<[u8; 10]>())
        .into_uuid()
        .hyphenated()
        .to_string()
}
