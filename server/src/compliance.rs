//! Evidence meets level: a report that arrives is evaluated, with the policy pack, against the
//! level of every system whose addresses name its target (the approved level, else the
//! proposed one), and the result becomes that system's current compliance summary, which the
//! UI and the alerts read. A report older than the summary already held does not replace it.

use canhgac_policies::pack::{Evaluation, Pack, Status, evaluate};
use canhgac_policies::report::ScanReport;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::model::System;
use crate::repo;
use crate::store::{Batch, Store, StoreError, Table};

/// A system's current compliance, from its latest report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compliance {
    /// The system.
    pub system: String,
    /// The report evaluated (UUIDv7).
    pub report: String,
    /// Its target, `host:port`.
    pub target: String,
    /// When the scan started.
    pub scanned_at: Timestamp,
    /// When it was evaluated.
    pub evaluated_at: Timestamp,
    /// The evaluation against the system's level.
    pub evaluation: Evaluation,
}

impl Compliance {
    /// The rules that failed, most severe first.
    pub fn failing(&self) -> impl Iterator<Item = &str> {
        self.evaluation
            .results
            .iter()
            .filter(|r| r.status == Status::Fail)
            .map(|r| r.rule.as_str())
    }
}

/// Whether a system's addresses name this host and port.
fn serves(system: &System, host: &str, port: u16) -> bool {
    system.urls.iter().any(|u| {
        let u = if u.contains("://") {
            u.clone()
        } else {
            format!("https://{u}")
        };
        Url::parse(&u).is_ok_and(|url| {
            url.host_str().is_some_and(|h| {
                h.trim_start_matches("www.")
                    .eq_ignore_ascii_case(host.trim_start_matches("www."))
            }) && (port == 443 || url.port() == Some(port))
        })
    })
}

/// Evaluates `report` for every system it concerns and stores the summaries; returns the ids of
/// the systems evaluated.
pub fn record(
    store: &dyn Store,
    pack: &Pack,
    report: &ScanReport,
    now: Timestamp,
) -> Result<Vec<String>, StoreError> {
    let systems: Vec<System> = repo::list(store, Table::Systems, "", usize::MAX)?;
    let mut done = Vec::new();
    for system in systems
        .iter()
        .filter(|s| serves(s, &report.target.host, report.target.port))
    {
        let Some(level) = system
            .approved
            .as_ref()
            .map(|a| a.level)
            .or(system.proposed_level)
        else {
            continue;
        };
        let key = system.id.to_string();
        let previous: Option<Compliance> = repo::get(store, Table::Compliance, &key)?;
        if previous
            .as_ref()
            .is_some_and(|p| p.report.as_str() > report.id.as_str())
        {
            continue;
        }
        let summary = Compliance {
            system: key.clone(),
            report: report.id.clone(),
            target: format!("{}:{}", report.target.host, report.target.port),
            scanned_at: report.started_at,
            evaluated_at: now,
            evaluation: evaluate(pack, report, level.get()),
        };
        store.apply(Batch::new().put(Table::Compliance, key.clone(), repo::json(&summary)))?;
        done.push(key);
    }
    Ok(done)
}
