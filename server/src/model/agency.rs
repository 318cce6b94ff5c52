//! Agencies (cơ quan, đơn vị) and the tree they form: province, then departments, boards and
//! district or commune committees, then their units, to any depth.
//!
//! The tree decides whose officers may act on a system (an agency covers its sub-agencies) and
//! how the weekly figures are grouped. Units merged away are kept with `retired: true` and
//! `merged_into` naming the agency that took their systems, so the history still names them. [`AgencyTree`] never fails and never loops: a missing parent or a
//! cycle ends a walk up the tree, and [`AgencyTree::validate`] reports them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::id::AgencyId;

/// An e-mail address, checked for the obvious mistakes (one `@`, a dotted domain, no spaces).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

/// Why a text is not an e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" không phải địa chỉ thư điện tử hợp lệ (not a valid e-mail address)")]
pub struct EmailError(pub String);

impl Email {
    /// The address, trimmed, if it looks like one.
    pub fn new(text: &str) -> Result<Email, EmailError> {
        let text = text.trim();
        let bad = || EmailError(text.to_owned());
        let (local, domain) = text.split_once('@').ok_or_else(bad)?;
        let valid = !local.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !text.chars().any(|c| c.is_whitespace() || c.is_control());
        if valid {
            Ok(Email(text.to_owned()))
        } else {
            Err(bad())
        }
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;

    fn try_from(text: String) -> Result<Email, EmailError> {
        Email::new(&text)
    }
}

impl From<Email> for String {
    fn from(email: Email) -> String {
        email.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agency {
    /// Id.
    pub id: AgencyId,
    /// Full name, e.g. "Sở Công Thương".
    pub name: String,
    /// Short code, as in letter symbols, e.g. "SCT".
    pub short_code: String,
    /// The agency it belongs to; `None` for a root (the province, a ministry).
    pub parent: Option<AgencyId>,
    /// Where alerts and reminders go.
    pub contacts: Vec<Email>,
    /// A unit merged away or dissolved, kept for history.
    pub retired: bool,
    /// The agency this one was merged into (then `retired` is set too).
    #[serde(default)]
    pub merged_into: Option<AgencyId>,
}

/// What is wrong with a set of agencies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgencyError {
    /// Two agencies with one id.
    #[error("mã đơn vị {0} bị trùng (agency id {0} is used twice)")]
    DuplicateId(AgencyId),
    /// A parent that is not in the set.
    #[error(
        "đơn vị \"{name}\" trực thuộc một đơn vị không tồn tại ({parent}) (the parent of {name:?} does not exist)"
    )]
    UnknownParent {
        /// The agency's name.
        name: String,
        /// The missing parent.
        parent: AgencyId,
    },
    /// An agency that is, through its parents, its own ancestor.
    #[error("đơn vị \"{0}\" nằm trong một vòng trực thuộc (the agency {0:?} is its own ancestor)")]
    Cycle(String),
    /// An empty name.
    #[error("đơn vị {0} chưa có tên (agency {0} has no name)")]
    EmptyName(AgencyId),
}

/// The agencies indexed as a tree.
#[derive(Debug, Clone, Default)]
pub struct AgencyTree {
    by_id: BTreeMap<AgencyId, Agency>,
    children: BTreeMap<AgencyId, Vec<AgencyId>>,
    duplicates: Vec<AgencyId>,
}

impl AgencyTree {
    /// Indexes `agencies` (the first of duplicate ids wins; see [`AgencyTree::validate`]).
    pub fn new(agencies: &[Agency]) -> AgencyTree {
        let mut tree = AgencyTree::default();
        for agency in agencies {
            if tree.by_id.contains_key(&agency.id) {
                tree.duplicates.push(agency.id);
                continue;
            }
            tree.by_id.insert(agency.id, agency.clone());
        }
        for agency in tree.by_id.values() {
            if let Some(parent) = agency.parent {
                tree.children.entry(parent).or_default().push(agency.id);
            }
        }
        tree
    }

    /// Checks ids are unique, names non-empty, parents exist and there is no cycle.
    pub fn validate(&self) -> Result<(), AgencyError> {
        if let Some(&id) = self.duplicates.first() {
            return Err(AgencyError::DuplicateId(id));
        }
        for agency in self.by_id.values() {
            if agency.name.trim().is_empty() {
                return Err(AgencyError::EmptyName(agency.id));
            }
            if let Some(parent) = agency.parent
                && !self.by_id.contains_key(&parent)
            {
                return Err(AgencyError::UnknownParent {
                    name: agency.name.clone(),
                    parent,
                });
            }
            let mut seen = BTreeSet::from([agency.id]);
            let mut at = agency.parent;
            while let Some(id) = at {
                if !seen.insert(id) {
                    return Err(AgencyError::Cycle(agency.name.clone()));
                }
                at = self.by_id.get(&id).and_then(|a| a.parent);
            }
        }
        Ok(())
    }

    /// The agency with `id`.
    pub fn get(&self, id: AgencyId) -> Option<&Agency> {
        self.by_id.get(&id)
    }

    /// `id`'s agency and its ancestors, nearest first, up to a root (or a missing parent, or
    /// the start of a cycle).
    pub fn lineage(&self, id: AgencyId) -> Vec<&Agency> {
        let mut out: Vec<&Agency> = Vec::new();
        let mut at = Some(id);
        while let Some(current) = at {
            let Some(agency) = self.by_id.get(&current) else {
                break;
            };
            if out.iter().any(|a| a.id == current) {
                break;
            }
            out.push(agency);
            at = agency.parent;
        }
        out
    }

    /// Whether giving `id` the parent `parent` would make a cycle: `parent` is `id` itself or
    /// one of its descendants.
    pub fn would_cycle(&self, id: AgencyId, parent: AgencyId) -> bool {
        self.is_within(parent, id)
    }

    /// Whether `ancestor` is `id` or one of its ancestors.
    pub fn is_within(&self, id: AgencyId, ancestor: AgencyId) -> bool {
        self.lineage(id).iter().any(|a| a.id == ancestor)
    }

    /// The direct sub-agencies of `id`.
    pub fn children(&self, id: AgencyId) -> Vec<&Agency> {
        self.children
            .get(&id)
            .into_iter()
            .flatten()
            .filter_map(|child| self.by_id.get(child))
            .collect()
    }

    /// The unit `id` rolls up to in provincial reports: its ancestor just below the root (a
    /// department, board or district committee), or the root itself when `id` is a root.
    /// `None` when `id` is unknown.
    pub fn top_unit(&self, id: AgencyId) -> Option<&Agency> {
        let lineage = self.lineage(id);
        match lineage.len() {
            0 => None,
            1 => lineage.first().copied(),
            n => lineage.get(n - 2).copied(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn agency(n: u8, name: &str, parent: Option<AgencyId>) -> Agency {
        let at: jiff::Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        Agency {
            id: AgencyId::derived(at, &[n]),
            name: name.to_owned(),
            short_code: name.chars().filter(|c| c.is_uppercase()).collect(),
            parent,
            contacts: vec![Email::new("vanthu@example.gov.vn").unwrap()],
            retired: false,
            merged_into: None,
        }
    }

    #[test]
    fn a_tree_of_any_depth() {
        let province = agency(1, "UBND tỉnh", None);
        let district = agency(2, "UBND huyện Kim Thành", Some(province.id));
        let commune = agency(3, "UBND xã Kim Xuyên", Some(district.id));
        let hamlet = agency(4, "Bộ phận một cửa xã Kim Xuyên", Some(commune.id));
        let tree = AgencyTree::new(&[
            province.clone(),
            district.clone(),
            commune.clone(),
            hamlet.clone(),
        ]);
        tree.validate().unwrap();
        assert!(tree.is_within(hamlet.id, district.id));
        assert!(tree.is_within(hamlet.id, hamlet.id));
        assert!(!tree.is_within(district.id, hamlet.id));
        assert_eq!(tree.top_unit(hamlet.id).unwrap().id, district.id);
        assert_eq!(tree.top_unit(district.id).unwrap().id, district.id);
        assert_eq!(tree.top_unit(province.id).unwrap().id, province.id);
        assert_eq!(tree.children(district.id).len(), 1);
        assert_eq!(tree.lineage(hamlet.id).len(), 4);
        assert!(
            tree.would_cycle(district.id, hamlet.id),
            "under its own unit"
        );
        assert!(tree.would_cycle(district.id, district.id), "its own parent");
        assert!(!tree.would_cycle(hamlet.id, province.id));
        assert!(!tree.would_cycle(commune.id, district.id));
    }

    #[test]
    fn broken_trees_are_reported_and_walks_end() {
        let mut a = agency(1, "A", None);
        let b = agency(2, "B", Some(a.id));
        a.parent = Some(b.id);
        let tree = AgencyTree::new(&[a.clone(), b.clone()]);
        assert!(matches!(tree.validate(), Err(AgencyError::Cycle(_))));
        assert_eq!(tree.lineage(a.id).len(), 2);
        let orphan = agency(3, "C", Some(agency(9, "gone", None).id));
        let err = AgencyTree::new(&[orphan]).validate().unwrap_err();
        assert!(err.to_string().contains("không tồn tại"), "{err}");
        let dup = AgencyTree::new(&[b.clone(), b]).validate().unwrap_err();
        assert!(matches!(dup, AgencyError::DuplicateId(_)));
    }

    #[test]
    fn emails_are_checked() {
        assert_eq!(
            Email::new(" vp@sct.dongnai.gov.vn ").unwrap().as_str(),
            "vp@sct.dongnai.gov.vn"
        );
        for bad in [
            "",
            "vp",
            "vp@",
            "@sct.gov.vn",
            "vp@gov",
            "v p@sct.gov.vn",
            "a@b@c.vn",
            "a@b..vn",
        ] {
            assert!(Email::new(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<Email>("\"x@y\"").is_err());
    }
}
