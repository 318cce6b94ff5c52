//! The states of a level-proposal dossier, with their stable ids and Vietnamese labels. Which
//! state follows which is the workflow's business (`crate::workflow`); this is only the
//! vocabulary, shared by the model, the audit trail and the weekly figures.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a dossier stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DossierState {
    /// Being prepared by the agency (bản nháp).
    Draft,
    /// Sent to the dedicated unit, not yet picked up (đã nộp).
    Submitted,
    /// Being appraised (đang thẩm định).
    UnderAppraisal,
    /// Returned to the agency for supplementation; the clock is paused (cần bổ sung).
    NeedsSupplement,
    /// Supplemented by the agency, waiting for the appraiser (đã nộp bổ sung).
    Resubmitted,
    /// Appraised, waiting for the decision (đã thẩm định).
    Appraised,
    /// Level approved (đã phê duyệt). Final.
    Approved,
    /// Not approved (từ chối). Final.
    Rejected,
    /// Withdrawn by the agency or an administrator (đã rút). Final.
    Withdrawn,
}

impl DossierState {
    /// Every state, in workflow order.
    pub const ALL: [DossierState; 9] = [
        DossierState::Draft,
        DossierState::Submitted,
        DossierState::UnderAppraisal,
        DossierState::NeedsSupplement,
        DossierState::Resubmitted,
        DossierState::Appraised,
        DossierState::Approved,
        DossierState::Rejected,
        DossierState::Withdrawn,
    ];

    /// The stable snake_case id, as in JSON.
    pub fn id(self) -> &'static str {
        match self {
            DossierState::Draft => "draft",
            DossierState::Submitted => "submitted",
            DossierState::UnderAppraisal => "under_appraisal",
            DossierState::NeedsSupplement => "needs_supplement",
            DossierState::Resubmitted => "resubmitted",
            DossierState::Appraised => "appraised",
            DossierState::Approved => "approved",
            DossierState::Rejected => "rejected",
            DossierState::Withdrawn => "withdrawn",
        }
    }

    /// The Vietnamese label shown to users.
    pub fn label_vi(self) -> &'static str {
        match self {
            DossierState::Draft => "bản nháp",
            DossierState::Submitted => "đã nộp",
            DossierState::UnderAppraisal => "đang thẩm định",
            DossierState::NeedsSupplement => "cần bổ sung",
            DossierState::Resubmitted => "đã nộp bổ sung",
            DossierState::Appraised => "đã thẩm định",
            DossierState::Approved => "đã phê duyệt",
            DossierState::Rejected => "từ chối",
            DossierState::Withdrawn => "đã rút",
        }
    }

    /// The English description, for log messages ("the dossier is under appraisal").
    pub fn label_en(self) -> &'static str {
        match self {
            DossierState::Draft => "a draft",
            DossierState::Submitted => "submitted",
            DossierState::UnderAppraisal => "under appraisal",
            DossierState::NeedsSupplement => "awaiting supplementation",
            DossierState::Resubmitted => "resubmitted",
            DossierState::Appraised => "appraised",
            DossierState::Approved => "approved",
            DossierState::Rejected => "rejected",
            DossierState::Withdrawn => "withdrawn",
        }
    }

    /// Approved, rejected or withdrawn: nothing more can happen.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            DossierState::Approved | DossierState::Rejected | DossierState::Withdrawn
        )
    }

    /// Received by the dedicated unit and waiting on it (submitted, under appraisal,
    /// resubmitted, appraised): the states in which an appraisal or approval clock runs.
    pub fn is_with_authority(self) -> bool {
        matches!(
            self,
            DossierState::Submitted
                | DossierState::UnderAppraisal
                | DossierState::Resubmitted
                | DossierState::Appraised
        )
    }
}

impl fmt::Display for DossierState {
    /// The Vietnamese label.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label_vi())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_json_names() {
        for state in DossierState::ALL {
            assert_eq!(
                serde_json::to_string(&state).unwrap(),
                format!("\"{}\"", state.id())
            );
        }
        assert_eq!(DossierState::NeedsSupplement.to_string(), "cần bổ sung");
    }
}
