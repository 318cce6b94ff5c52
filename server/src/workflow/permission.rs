//! Who may do what to a dossier, and on whose behalf.
//!
//! Roles, not levels, decide who may press which button:
//!
//! | action | roles |
//! |---|---|
//! | create, submit, resubmit, add_document | agency officer (system within their agency's scope) |
//! | withdraw | agency officer (within scope), administrator |
//! | start_appraisal, request_supplement, mark_appraised, add_request_document | appraiser |
//! | approve, reject | approver, administrator |
//! | assign | appraiser, approver, administrator |
//!
//! Viewers and agents take no part. The pack's per-level `appraised_by`/`approved_by` say whose
//! decision is being recorded ([`Authority`]): for levels 4-5 the appraisal is done by a
//! central authority and the appraiser records its result (with the result's letter); for
//! level 3 the approver records the system owner's decision, for level 5 the Prime
//! Minister's. The server never pretends those bodies are its users.

use crate::model::{Role, User};

use super::action::ActionKind;
use super::error::WorkflowError;
use super::scope::AgencyScope;

/// Whose appraisal or approval a step records, from the pack's `appraised_by`/`approved_by`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authority {
    /// The owner's dedicated information-security unit (pack: `appraiser`, `approver`).
    DedicatedUnit,
    /// A central authority (pack: `central_authority`).
    CentralAuthority,
    /// The system owner (pack: `system_owner`).
    SystemOwner,
    /// The Prime Minister (pack: `prime_minister`).
    PrimeMinister,
    /// A name this version does not know (a successor decree's pack); recorded as is.
    Other(String),
}

impl Authority {
    /// Reads a pack's `appraised_by`/`approved_by` value.
    pub fn from_pack(value: &str) -> Authority {
        match value {
            "appraiser" | "approver" => Authority::DedicatedUnit,
            "central_authority" => Authority::CentralAuthority,
            "system_owner" => Authority::SystemOwner,
            "prime_minister" => Authority::PrimeMinister,
            other => Authority::Other(other.to_owned()),
        }
    }

    /// The Vietnamese name.
    pub fn label_vi(&self) -> String {
        match self {
            Authority::DedicatedUnit => "đơn vị chuyên trách về an toàn thông tin".to_owned(),
            Authority::CentralAuthority => "cơ quan có thẩm quyền ở trung ương".to_owned(),
            Authority::SystemOwner => "chủ quản hệ thống thông tin".to_owned(),
            Authority::PrimeMinister => "Thủ tướng Chính phủ".to_owned(),
            Authority::Other(name) => name.clone(),
        }
    }

    /// Whether the decision is taken outside the dedicated unit, so the server only records it.
    pub fn is_outside(&self) -> bool {
        !matches!(self, Authority::DedicatedUnit)
    }
}

/// The roles that may perform `action` (agency officers also need the system in scope).
pub fn roles_for(action: ActionKind) -> &'static [Role] {
    use ActionKind as A;
    match action {
        A::Create | A::Submit | A::Resubmit | A::AddDocument => &[Role::AgencyOfficer],
        A::Withdraw => &[Role::AgencyOfficer, Role::Administrator],
        A::StartAppraisal | A::RequestSupplement | A::MarkAppraised | A::AddRequestDocument => {
            &[Role::Appraiser]
        }
        A::Approve | A::Reject => &[Role::Approver, Role::Administrator],
        A::Assign => &[Role::Appraiser, Role::Approver, Role::Administrator],
        A::Comment => &[
            Role::AgencyOfficer,
            Role::Appraiser,
            Role::Approver,
            Role::Administrator,
        ],
    }
}

/// Whether `actor` may perform `action` on the system of `scope`.
pub fn check(actor: &User, action: ActionKind, scope: &AgencyScope) -> Result<(), WorkflowError> {
    if !roles_for(action).contains(&actor.role) {
        return Err(WorkflowError::Forbidden {
            role: actor.role,
            action,
        });
    }
    if actor.role == Role::AgencyOfficer {
        let agency = actor.agency.ok_or(WorkflowError::NoAgency { action })?;
        if !scope.covers(agency) {
            return Err(WorkflowError::OutOfScope { action });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_names() {
        assert_eq!(Authority::from_pack("appraiser"), Authority::DedicatedUnit);
        assert_eq!(
            Authority::from_pack("central_authority"),
            Authority::CentralAuthority
        );
        assert!(Authority::from_pack("system_owner").is_outside());
        assert_eq!(Authority::from_pack("bo_cong_an").label_vi(), "bo_cong_an");
        assert_eq!(Authority::PrimeMinister.label_vi(), "Thủ tướng Chính phủ");
    }

    #[test]
    fn viewers_and_agents_do_nothing() {
        for action in ActionKind::ALL {
            let roles = roles_for(action);
            assert!(!roles.contains(&Role::Viewer) && !roles.contains(&Role::Agent));
        }
    }
}
