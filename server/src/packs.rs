//! The policy pack the server runs with, swappable while it serves.
//!
//! The pack is data (rules, workflow, calendar); an administrator's official holiday schedules
//! ([`crate::calendar`]) change its calendar while the server runs. A [`PackCell`] keeps the
//! pack as shipped (the base, which official schedules are applied over) and the effective one.
//! Handlers take the effective pack with [`PackCell::get`] once per request and use that
//! snapshot throughout, so a request never mixes two calendars; [`PackCell::set`] replaces it
//! for the requests that follow.

use std::sync::{Arc, RwLock};

use canhgac_policies::pack::Pack;

/// A shared, replaceable [`Pack`], with the base it was derived from.
#[derive(Debug)]
pub struct PackCell {
    base: Arc<Pack>,
    current: RwLock<Arc<Pack>>,
}

impl PackCell {
    /// A cell whose base and current pack are both `pack`.
    pub fn new(pack: Pack) -> PackCell {
        let pack = Arc::new(pack);
        PackCell {
            base: pack.clone(),
            current: RwLock::new(pack),
        }
    }

    /// A cell with its base pack and the effective pack derived from it.
    pub fn with_current(base: Pack, current: Pack) -> PackCell {
        PackCell {
            base: Arc::new(base),
            current: RwLock::new(Arc::new(current)),
        }
    }

    /// The current pack (a snapshot: later [`PackCell::set`]s do not change it).
    pub fn get(&self) -> Arc<Pack> {
        // A writer only swaps an Arc: a poisoned lock still holds a whole pack.
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The pack as shipped, before any official schedule.
    pub fn base(&self) -> Arc<Pack> {
        self.base.clone()
    }

    /// Replaces the current pack for every later [`PackCell::get`].
    pub fn set(&self, pack: Pack) {
        let pack = Arc::new(pack);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = pack;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_survives_a_swap_and_the_base_stays() {
        let cell = PackCell::new(Pack::decree85());
        let before = cell.get();
        let mut changed = Pack::decree85();
        changed.version = "changed".into();
        cell.set(changed);
        assert_ne!(before.version, "changed");
        assert_eq!(cell.get().version, "changed");
        assert_ne!(cell.base().version, "changed");
        assert!(!Arc::ptr_eq(&before, &cell.get()));
    }
}
