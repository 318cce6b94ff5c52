//! Information systems (hệ thống thông tin) in the inventory: who owns and runs them, where
//! they are hosted, the level proposed and the level approved.
//!
//! Decree 85 art. 18 asks for a new level determination when an approved system changes in a
//! way that bears on its level; [`System::revise`] raises `needs_redetermination` for those
//! changes so the officer is told, and [`System::record_approval`] lowers it once a new
//! decision is recorded.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::id::{AgencyId, SystemId};
use super::level::Level;

/// An approval decision (quyết định phê duyệt cấp độ, Mẫu 06).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The approved level.
    pub level: Level,
    /// The decision's number and symbol, e.g. "2168/QĐ-UBND".
    pub decision_number: String,
    /// The decision's date.
    pub decision_date: Date,
}

/// Whether a system is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemStatus {
    /// In operation (đang sử dụng).
    InUse,
    /// Taken out of operation (ngừng sử dụng), kept for history.
    Retired,
}

impl SystemStatus {
    /// The Vietnamese label.
    pub fn label_vi(self) -> &'static str {
        match self {
            SystemStatus::InUse => "đang sử dụng",
            SystemStatus::Retired => "ngừng sử dụng",
        }
    }
}

/// An information system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct System {
    /// Id.
    pub id: SystemId,
    /// Name, e.g. "Trang thông tin điện tử của Sở Công Thương".
    pub name: String,
    /// The system owner (chủ quản hệ thống thông tin), e.g. the provincial People's Committee.
    pub owner_agency: AgencyId,
    /// The operating unit (đơn vị vận hành).
    pub operating_unit: AgencyId,
    /// Its addresses, e.g. `http://sct.dongnai.gov.vn/`.
    pub urls: Vec<String>,
    /// Where it is hosted, in the owner's words, e.g. "Trung tâm dữ liệu tỉnh",
    /// "Máy chủ doanh nghiệp bên ngoài".
    pub hosting: String,
    /// Its category under Decree 85 art. 6, free text.
    pub category: String,
    /// The level its owner proposes.
    pub proposed_level: Option<Level>,
    /// The approval in force.
    pub approved: Option<Approval>,
    /// In use or retired.
    pub status: SystemStatus,
    /// Set when the level, hosting or scope changed after approval (Decree 85 art. 18): the
    /// level must be determined again.
    pub needs_redetermination: bool,
}

impl System {
    /// `revised` (an edit of this system), with `needs_redetermination` raised if this system
    /// has an approval and the edit changes what its level rests on: the hosting, the URLs
    /// (its scope), the category, or a proposed level different from the approved one. The
    /// flag is never lowered here (only [`System::record_approval`] does), and `approved` is
    /// kept from `self`: an edit cannot forge an approval.
    pub fn revise(&self, revised: System) -> System {
        let mut next = revised;
        next.id = self.id;
        next.approved = self.approved.clone();
        next.needs_redetermination = self.needs_redetermination;
        if let Some(approval) = &self.approved {
            let mut before: Vec<&str> = self.urls.iter().map(|u| normal_url(u)).collect();
            let mut after: Vec<&str> = next.urls.iter().map(|u| normal_url(u)).collect();
            before.sort_unstable();
            before.dedup();
            after.sort_unstable();
            after.dedup();
            let level_changed = next.proposed_level.is_some_and(|l| l != approval.level)
                && next.proposed_level != self.proposed_level;
            if before != after
                || next.hosting.trim() != self.hosting.trim()
                || next.category.trim() != self.category.trim()
                || level_changed
            {
                next.needs_redetermination = true;
            }
        }
        next
    }

    /// This system with `approval` in force: the proposed level becomes the approved one and
    /// `needs_redetermination` is cleared.
    pub fn record_approval(&self, approval: &Approval) -> System {
        System {
            approved: Some(approval.clone()),
            proposed_level: Some(approval.level),
            needs_redetermination: false,
            ..self.clone()
        }
    }
}

/// A URL without the trailing slash, for comparing scopes.
fn normal_url(url: &str) -> &str {
    url.trim().trim_end_matches('/')
}

#[cfg(test)]
pub(crate) mod tests {
    use jiff::civil::date;

    use super::*;

    pub(crate) fn system(n: u8, owner: AgencyId, unit: AgencyId, level: u8) -> System {
        let at: jiff::Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        System {
            id: SystemId::derived(at, &[n]),
            name: format!("Hệ thống thông tin số {n}"),
            owner_agency: owner,
            operating_unit: unit,
            urls: vec![format!("https://ht{n}.example.gov.vn/")],
            hosting: "Trung tâm dữ liệu tỉnh".to_owned(),
            category: "Hệ thống cung cấp dịch vụ trực tuyến".to_owned(),
            proposed_level: Some(Level::new(level).unwrap()),
            approved: None,
            status: SystemStatus::InUse,
            needs_redetermination: false,
        }
    }

    fn approved() -> System {
        let at: jiff::Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        let agency = AgencyId::derived(at, b"a");
        system(1, agency, agency, 2).record_approval(&Approval {
            level: Level::new(2).unwrap(),
            decision_number: "2168/QĐ-UBND".to_owned(),
            decision_date: date(2024, 8, 27),
        })
    }

    #[test]
    fn changes_after_approval_ask_for_a_new_determination() {
        let s = approved();
        let moved = System {
            hosting: "Máy chủ doanh nghiệp bên ngoài".to_owned(),
            ..s.clone()
        };
        assert!(s.revise(moved).needs_redetermination);
        let wider = System {
            urls: vec![
                s.urls[0].clone(),
                "https://dichvucong.example.gov.vn".to_owned(),
            ],
            ..s.clone()
        };
        assert!(s.revise(wider).needs_redetermination);
        let higher = System {
            proposed_level: Some(Level::new(3).unwrap()),
            ..s.clone()
        };
        assert!(s.revise(higher).needs_redetermination);
        let renamed = System {
            name: "Cổng thông tin điện tử".to_owned(),
            urls: vec![s.urls[0].trim_end_matches('/').to_owned()],
            ..s.clone()
        };
        assert!(!s.revise(renamed).needs_redetermination);
        let forged = System {
            approved: None,
            needs_redetermination: false,
            hosting: "Máy chủ khác".to_owned(),
            ..s.clone()
        };
        let revised = s.revise(forged);
        assert_eq!(revised.approved, s.approved);
        assert!(revised.needs_redetermination);
        let again = revised.record_approval(s.approved.as_ref().unwrap());
        assert!(!again.needs_redetermination);
    }

    #[test]
    fn unapproved_systems_change_freely() {
        let at: jiff::Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        let agency = AgencyId::derived(at, b"a");
        let s = system(1, agency, agency, 2);
        let moved = System {
            hosting: "Máy chủ doanh nghiệp bên ngoài".to_owned(),
            ..s.clone()
        };
        assert!(!s.revise(moved).needs_redetermination);
    }

    #[test]
    fn json_is_stable() {
        let text = serde_json::to_string(&approved()).unwrap();
        let keys = [
            "id",
            "name",
            "owner_agency",
            "operating_unit",
            "urls",
            "hosting",
            "category",
            "proposed_level",
            "approved",
            "status",
            "needs_redetermination",
        ];
        let positions: Vec<usize> = keys
            .iter()
            .map(|k| text.find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["status"], "in_use");
        assert_eq!(json["approved"]["decision_date"], "2024-08-27");
        let back: System = serde_json::from_value(json).unwrap();
        assert_eq!(back, approved());
    }
}
