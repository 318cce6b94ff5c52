//! The audit trail: every change to a dossier yields one [`AuditEvent`], which storage appends
//! and never rewrites. The trail is what the weekly figures are computed from (a dossier's
//! state on any past day is the `to` of its last event up to that day) and what an inspector
//! reads to see who did what, when, on which letter.
//!
//! Event ids are UUIDv7 at the event's time whose random part is derived from the dossier
//! before the change, the action and the actor: pure, and the same replayed request gives the
//! same id, so storage can refuse a duplicate.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::model::{
    Approval, Deadline, DocumentId, Dossier, DossierId, DossierState, EventId, LetterRef, Role,
    SystemId, UserId,
};

use super::action::ActionKind;

/// One change to a dossier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Id (UUIDv7 at `at`).
    pub id: EventId,
    /// The dossier.
    pub dossier: DossierId,
    /// Its system.
    pub system: SystemId,
    /// When it happened.
    pub at: Timestamp,
    /// The day it counted as in the agencies' calendar (the `today` deadlines used).
    pub on: Date,
    /// Who did it.
    pub actor: UserId,
    /// The actor's role at the time.
    pub role: Role,
    /// The state before.
    pub from: DossierState,
    /// The state after.
    pub to: DossierState,
    /// What was done.
    pub action: ActionKind,
    /// The reason, conclusion, missing items (joined by "; ") or decision, in words.
    pub note: Option<String>,
    /// Whose decision was recorded when it is not the dedicated unit's (e.g. "cơ quan có thẩm
    /// quyền ở trung ương" for a level 4 appraisal, "chủ quản hệ thống thông tin" for a level 3
    /// approval).
    pub on_behalf_of: Option<String>,
    /// The letter involved: covering letter, request, answer or appraisal result.
    pub letter: Option<LetterRef>,
    /// The documents involved.
    pub documents: Vec<DocumentId>,
    /// The supplementation round involved.
    pub round: Option<u32>,
    /// The decision, for an approval.
    pub decision: Option<Approval>,
    /// The appraiser in charge after the change.
    pub assignee: Option<UserId>,
    /// The deadline after the change.
    pub deadline: Option<Deadline>,
}

/// What an action adds to its event beyond the before and after.
#[derive(Debug, Default)]
pub(crate) struct Details {
    pub(crate) note: Option<String>,
    pub(crate) on_behalf_of: Option<String>,
    pub(crate) letter: Option<LetterRef>,
    pub(crate) documents: Vec<DocumentId>,
    pub(crate) round: Option<u32>,
}

/// What happened, as the inputs of an event.
pub(crate) struct Change<'a> {
    pub(crate) before: &'a Dossier,
    pub(crate) after: &'a Dossier,
    pub(crate) action: ActionKind,
    /// The action's JSON, for the id.
    pub(crate) payload: &'a [u8],
    pub(crate) actor: UserId,
    pub(crate) role: Role,
    pub(crate) on: Date,
    pub(crate) at: Timestamp,
}

/// The event of `change`.
pub(crate) fn event(change: Change<'_>, details: Details) -> AuditEvent {
    let mut seed = serde_json::to_vec(change.before).unwrap_or_default();
    seed.extend_from_slice(change.action.id().as_bytes());
    seed.extend_from_slice(change.payload);
    seed.extend_from_slice(change.actor.to_string().as_bytes());
    seed.extend_from_slice(change.at.to_string().as_bytes());
    AuditEvent {
        id: EventId::derived(change.at, &seed),
        dossier: change.after.id,
        system: change.after.system,
        at: change.at,
        on: change.on,
        actor: change.actor,
        role: change.role,
        from: change.before.state,
        to: change.after.state,
        action: change.action,
        note: details.note,
        on_behalf_of: details.on_behalf_of,
        letter: details.letter,
        documents: details.documents,
        round: details.round,
        decision: change
            .after
            .decision
            .clone()
            .filter(|_| change.action == ActionKind::Approve),
        assignee: change.after.assignee,
        deadline: change.after.deadline.clone(),
    }
}

/// The state of a dossier at the end of `day`, from its events (in any order): the `to` of the
/// last event on or before `day`, with the deadline it left. `None` if it had no event yet.
pub fn state_on<'a>(
    events: impl IntoIterator<Item = &'a AuditEvent>,
    day: Date,
) -> Option<(DossierState, Option<&'a Deadline>)> {
    events
        .into_iter()
        .filter(|e| e.on <= day)
        .max_by(|a, b| (a.on, a.at, a.id).cmp(&(b.on, b.at, b.id)))
        .map(|e| (e.to, e.deadline.as_ref()))
}
