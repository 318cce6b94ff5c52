//! Reports read from the store: the weekly roll-up over every agency, system, dossier and
//! audit event (the figures themselves are computed in `weekly.rs`).

use canhgac_policies::pack::Pack;
use jiff::civil::Date;

use crate::model::{Agency, Dossier, System};
use crate::repo;
use crate::store::{Store, StoreError, Table};
use crate::weekly::{WeeklyFigures, weekly_figures};
use crate::workflow::AuditEvent;

/// The weekly figures as of `week_end`, from everything in the store.
pub fn weekly(store: &dyn Store, pack: &Pack, week_end: Date) -> Result<WeeklyFigures, StoreError> {
    let agencies: Vec<Agency> = repo::list(store, Table::Agencies, "", usize::MAX)?;
    let systems: Vec<System> = repo::list(store, Table::Systems, "", usize::MAX)?;
    let dossiers: Vec<Dossier> = repo::list(store, Table::Dossiers, "", usize::MAX)?;
    let events: Vec<AuditEvent> = repo::list(store, Table::Events, "", usize::MAX)?;
    Ok(weekly_figures(
        &dossiers,
        &events,
        &systems,
        &agencies,
        week_end,
        &pack.calendar,
    ))
}
