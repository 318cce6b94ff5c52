//! Whose officers may act on a system: an agency covers its own systems and those of its
//! sub-agencies, to any depth.
//!
//! The workflow does not walk the agency tree itself; the caller builds an [`AgencyScope`] for
//! the dossier's system, from the tree ([`AgencyScope::for_system`]) or from a set of agency
//! ids it computed in storage ([`AgencyScope::from_agencies`]).

use std::collections::BTreeSet;

use crate::model::{AgencyId, AgencyTree, System, SystemId};

/// The agencies whose officers may act on one system's dossiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgencyScope {
    system: SystemId,
    covering: BTreeSet<AgencyId>,
}

impl AgencyScope {
    /// The scope of `system`: its operating unit and its owner, and every agency above either
    /// in the tree. Retired agencies are left out: their officers have moved to the agency
    /// that took over, and a retired unit's parent still covers its systems.
    pub fn for_system(system: &System, tree: &AgencyTree) -> AgencyScope {
        let covering = [system.operating_unit, system.owner_agency]
            .into_iter()
            .flat_map(|start| tree.lineage(start))
            .filter(|agency| !agency.retired)
            .map(|agency| agency.id)
            .collect();
        AgencyScope {
            system: system.id,
            covering,
        }
    }

    /// A scope given as the set of covering agencies.
    pub fn from_agencies(
        system: SystemId,
        covering: impl IntoIterator<Item = AgencyId>,
    ) -> AgencyScope {
        AgencyScope {
            system,
            covering: covering.into_iter().collect(),
        }
    }

    /// The system it is for.
    pub fn system(&self) -> SystemId {
        self.system
    }

    /// Whether officers of `agency` may act on the system.
    pub fn covers(&self, agency: AgencyId) -> bool {
        self.covering.contains(&agency)
    }

    /// The covering agencies.
    pub fn agencies(&self) -> impl Iterator<Item = AgencyId> + '_ {
        self.covering.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::{agency, system};

    #[test]
    fn parents_cover_their_units_systems_not_the_reverse() {
        let province = agency(1, "UBND tỉnh", None);
        let department = agency(2, "Sở Công Thương", Some(province.id));
        let centre = agency(3, "Trung tâm Xúc tiến thương mại", Some(department.id));
        let sibling = agency(4, "Sở Tư pháp", Some(province.id));
        let mut retired = agency(5, "Trung tâm cũ", Some(department.id));
        retired.retired = true;
        let tree = AgencyTree::new(&[
            province.clone(),
            department.clone(),
            centre.clone(),
            sibling.clone(),
            retired.clone(),
        ]);
        let site = system(1, province.id, centre.id, 2);
        let scope = AgencyScope::for_system(&site, &tree);
        assert!(scope.covers(centre.id));
        assert!(scope.covers(department.id));
        assert!(scope.covers(province.id));
        assert!(!scope.covers(sibling.id));
        let department_site = system(2, province.id, department.id, 2);
        assert!(!AgencyScope::for_system(&department_site, &tree).covers(centre.id));
        let old_site = system(3, province.id, retired.id, 2);
        let old = AgencyScope::for_system(&old_site, &tree);
        assert!(!old.covers(retired.id));
        assert!(old.covers(department.id));
        assert_eq!(old.system(), old_site.id);
        let given = AgencyScope::from_agencies(site.id, [centre.id]);
        assert!(given.covers(centre.id) && !given.covers(department.id));
    }
}
