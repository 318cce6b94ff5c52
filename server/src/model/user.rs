//! Users and their roles: who may do what in the dossier workflow is decided by the role
//! (see `workflow::permission`) and, for agency officers, by the agency they belong to.
//! Passwords and sessions belong to the authentication layer, not here.

use serde::{Deserialize, Serialize};

use super::id::{AgencyId, UserId};

/// What a user does in canhgac.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages agencies, systems and users; may also approve, reject, assign and withdraw.
    Administrator,
    /// An officer of the dedicated information-security unit who appraises dossiers (and, for
    /// levels appraised by a central authority, records that authority's result).
    Appraiser,
    /// Records approval decisions (phê duyệt), whoever issues them for the level.
    Approver,
    /// An officer of an agency that operates systems: prepares and submits dossiers.
    AgencyOfficer,
    /// Reads everything, changes nothing.
    Viewer,
    /// A scanning agent's machine account: uploads scan reports, takes no part in dossiers.
    Agent,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 6] = [
        Role::Administrator,
        Role::Appraiser,
        Role::Approver,
        Role::AgencyOfficer,
        Role::Viewer,
        Role::Agent,
    ];

    /// The stable id, as in JSON.
    pub fn id(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Appraiser => "appraiser",
            Role::Approver => "approver",
            Role::AgencyOfficer => "agency_officer",
            Role::Viewer => "viewer",
            Role::Agent => "agent",
        }
    }

    /// The Vietnamese name shown to users.
    pub fn label_vi(self) -> &'static str {
        match self {
            Role::Administrator => "quản trị viên",
            Role::Appraiser => "cán bộ thẩm định",
            Role::Approver => "người phê duyệt",
            Role::AgencyOfficer => "cán bộ đơn vị",
            Role::Viewer => "người xem",
            Role::Agent => "tác tử quét",
        }
    }
}

/// A user account, without credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Login name.
    pub login: String,
    /// Name shown in the interface and the audit trail.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// The agency the user works for (required for agency officers).
    pub agency: Option<AgencyId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_have_stable_ids() {
        for role in Role::ALL {
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.id()));
            assert!(!role.label_vi().is_empty());
        }
    }

    #[test]
    fn users_refuse_unknown_fields() {
        let json = r#"{"id":"0190f6c4-8f4e-7a3b-9c1d-2e5f6a7b8c9d","login":"an","display_name":"Nguyễn Văn An","role":"appraiser","agency":null,"password":"x"}"#;
        let err = serde_json::from_str::<User>(json).unwrap_err().to_string();
        assert!(err.contains("unknown field `password`"), "{err}");
    }
}
