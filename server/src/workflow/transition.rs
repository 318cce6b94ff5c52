//! The state machine itself: which action leads from which state to which, and nothing else
//! (who may act is `permission`, what an action needs is `apply`).
//!
//! ```text
//! draft ──submit──▶ submitted ──start_appraisal──▶ under_appraisal ──mark_appraised──▶ appraised
//!                                                   │          ▲                        │
//!                                  request_supplement          start_appraisal          ├─approve─▶ approved
//!                                                   ▼          │                        └─reject──▶ rejected
//!                                         needs_supplement ──resubmit──▶ resubmitted
//!
//! draft, submitted, under_appraisal, needs_supplement, resubmitted, appraised ──withdraw──▶ withdrawn
//! add_document (stays): draft, needs_supplement
//! add_request_document (stays): needs_supplement
//! assign (stays): submitted, under_appraisal, needs_supplement, resubmitted, appraised
//! approved, rejected, withdrawn: final, no action applies.
//! ```

use crate::model::DossierState;

use super::action::ActionKind;

/// The state after `action` in `from`, or `None` if the action does not apply there.
pub fn next_state(from: DossierState, action: ActionKind) -> Option<DossierState> {
    use ActionKind as A;
    use DossierState as S;
    match (from, action) {
        (S::Draft, A::Submit) => Some(S::Submitted),
        (S::Submitted | S::Resubmitted, A::StartAppraisal) => Some(S::UnderAppraisal),
        (S::UnderAppraisal, A::RequestSupplement) => Some(S::NeedsSupplement),
        (S::NeedsSupplement, A::Resubmit) => Some(S::Resubmitted),
        (S::UnderAppraisal, A::MarkAppraised) => Some(S::Appraised),
        (S::Appraised, A::Approve) => Some(S::Approved),
        (S::Appraised, A::Reject) => Some(S::Rejected),
        (state, A::Withdraw) if !state.is_final() => Some(S::Withdrawn),
        (S::Draft | S::NeedsSupplement, A::AddDocument) => Some(from),
        (S::NeedsSupplement, A::AddRequestDocument) => Some(from),
        (state, A::Assign) if !state.is_final() && state != S::Draft => Some(from),
        (state, A::Comment) if !state.is_final() => Some(from),
        _ => None,
    }
}

/// The actions that apply in `state`, in [`ActionKind::ALL`] order.
pub fn actions_in(state: DossierState) -> Vec<ActionKind> {
    ActionKind::ALL
        .into_iter()
        .filter(|&action| next_state(state, action).is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_states_accept_nothing() {
        for state in DossierState::ALL.into_iter().filter(|s| s.is_final()) {
            assert!(actions_in(state).is_empty(), "{state:?}");
        }
    }

    #[test]
    fn every_state_is_reachable_from_draft() {
        let mut reached = vec![DossierState::Draft];
        let mut i = 0;
        while i < reached.len() {
            for action in actions_in(reached[i]) {
                let next = next_state(reached[i], action).unwrap();
                if !reached.contains(&next) {
                    reached.push(next);
                }
            }
            i += 1;
        }
        assert_eq!(reached.len(), DossierState::ALL.len());
        assert!(next_state(DossierState::Draft, ActionKind::Create).is_none());
    }
}
