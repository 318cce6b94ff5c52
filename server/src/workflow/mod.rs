//! The dossier workflow: the life of a level-proposal dossier from draft to decision, driven
//! by the policy pack's per-level data (who appraises and approves, time limits in working or
//! calendar days, required documents) and recorded in an append-only audit trail.
//!
//! [`apply()`] is the one way a dossier changes. It is pure: storage loads the dossier, the actor
//! and the scope, calls it with today's date and the current time, and saves the result and
//! the event together, or shows the [`WorkflowError`] (Vietnamese, then English) to the user.
//!
//! - `transition`: the state machine ([`next_state`], [`actions_in`]).
//! - `permission`: roles per action, agency scope ([`AgencyScope`]), and whose decision a step
//!   records ([`Authority`]).
//! - `deadline`: appraisal and approval limits, the pause during supplementation, [`overdue`].
//! - `audit`: [`AuditEvent`] and the state of a dossier on a past day ([`state_on`]).
//! - `assessment`: the periodic assessment duty of Directive 14 ([`next_assessment_due`]).

mod action;
mod apply;
mod assessment;
mod audit;
mod deadline;
mod error;
mod permission;
mod scope;
mod transition;

#[cfg(test)]
mod tests;

pub use action::{Action, ActionKind};
pub use apply::{apply, create_draft, missing_documents};
pub use assessment::next_assessment_due;
pub use audit::{AuditEvent, state_on};
pub use deadline::{days_left, overdue, overdue_at};
pub use error::{MissingDocument, WorkflowError};
pub use permission::{Authority, roles_for};
pub use scope::AgencyScope;
pub use transition::{actions_in, next_state};

use crate::model::{Dossier, User};

/// The actions `actor` may take on `dossier` now (for the buttons of the interface): those
/// the state allows and the role permits, with the agency scope for officers. Payload checks
/// (documents, letters, reasons) still happen in [`apply()`].
pub fn available_actions(dossier: &Dossier, actor: &User, scope: &AgencyScope) -> Vec<ActionKind> {
    if scope.system() != dossier.system {
        return Vec::new();
    }
    actions_in(dossier.state)
        .into_iter()
        .filter(|&action| permission::check(actor, action, scope).is_ok())
        .collect()
}
