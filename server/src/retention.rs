//! Report retention: what history of a target is kept.
//!
//! Beside every stored report (`Table::Reports`, `target / report id`) the server keeps a small
//! [`ReportOutcome`] (`Table::ReportOutcomes`, same key): the grade and failing rules at each
//! level 1-5. Two reports have the same *outcome* when every level gives the same grade and the
//! same set of failing rules. Pruning keeps, per target:
//!
//! - the first report, and every report whose outcome differs from the previous kept one (so
//!   every change of outcome survives: see [`keep`] and its property test);
//! - every report younger than the retention window (`report_retention_days`, default 90;
//!   0 keeps everything);
//! - the latest report;
//!
//! and deletes the others (report and outcome; the id stays in `Table::ReportIds`, so a pruned
//! report uploaded again is still recognised as a duplicate). Pruning runs after each
//! ingestion for that target, and in a background pass ([`spawn`]) that also writes the
//! outcomes of reports stored before outcomes existed.

use std::sync::Arc;
use std::time::Duration;

use canhgac_policies::pack::{Pack, Status, evaluate_value};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::repo;
use crate::store::{Batch, Store, StoreError, Table};

/// The default retention window, in days.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;

/// What makes two outcomes the same: per level, the grade and the failing rules.
pub type Signature<'a> = Vec<(u8, &'a str, &'a [String])>;

/// One level's verdict on a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelOutcome {
    /// The level (1-5).
    pub level: u8,
    /// The grade, `A` to `F`.
    pub grade: String,
    /// The score behind it.
    pub score: u32,
    /// The failing rules, sorted.
    pub failing: Vec<String>,
}

/// The outcome of one stored report, at every level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportOutcome {
    /// The report id (UUIDv7).
    pub id: String,
    /// The target, `host:port`.
    pub target: String,
    /// When the scan started.
    pub started_at: Timestamp,
    /// Levels 1 to 5, in order.
    pub levels: Vec<LevelOutcome>,
}

impl ReportOutcome {
    /// Evaluates a report's JSON form at every level.
    pub fn of(pack: &Pack, report: &Value, id: &str, target: &str) -> ReportOutcome {
        let started_at = report
            .get("started_at")
            .and_then(Value::as_str)
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| id_time(id).unwrap_or(Timestamp::UNIX_EPOCH));
        let levels = (1..=5)
            .map(|level| {
                let e = evaluate_value(pack, report, level);
                let mut failing: Vec<String> = e
                    .results
                    .iter()
                    .filter(|r| r.status == Status::Fail)
                    .map(|r| r.rule.clone())
                    .collect();
                failing.sort();
                LevelOutcome {
                    level,
                    grade: e.grade,
                    score: e.score,
                    failing,
                }
            })
            .collect();
        ReportOutcome {
            id: id.to_string(),
            target: target.to_string(),
            started_at,
            levels,
        }
    }

    /// What makes two outcomes the same: the grade and failing rules at every level.
    pub fn signature(&self) -> Signature<'_> {
        self.levels
            .iter()
            .map(|l| (l.level, l.grade.as_str(), l.failing.as_slice()))
            .collect()
    }

    /// The verdict at `level`.
    pub fn at_level(&self, level: u8) -> Option<&LevelOutcome> {
        self.levels.iter().find(|l| l.level == level)
    }

    /// The storage key.
    pub fn key(&self) -> String {
        format!("{}/{}", self.target, self.id)
    }
}

/// The creation time of a UUIDv7 id.
fn id_time(id: &str) -> Option<Timestamp> {
    let (secs, nanos) = uuid::Uuid::parse_str(id).ok()?.get_timestamp()?.to_unix();
    Timestamp::new(i64::try_from(secs).ok()?, i32::try_from(nanos).ok()?).ok()
}

/// Which of a target's reports to keep. `entries` are `(scan time, outcome)` oldest first (key
/// order); a report is kept when it is the first or the last, when it is not older than
/// `cutoff`, or when its outcome differs from the last kept one. Every report whose outcome
/// differs from the report just before it is therefore kept.
pub fn keep<K: PartialEq>(entries: &[(Timestamp, K)], cutoff: Timestamp) -> Vec<bool> {
    let mut flags = Vec::with_capacity(entries.len());
    let mut last_kept: Option<&K> = None;
    for (i, (at, outcome)) in entries.iter().enumerate() {
        let kept = i == 0
            || i + 1 == entries.len()
            || *at >= cutoff
            || last_kept.is_none_or(|k| k != outcome);
        if kept {
            last_kept = Some(outcome);
        }
        flags.push(kept);
    }
    flags
}

/// The instant before which unchanged reports are pruned (`None`: keep everything).
pub fn cutoff(now: Timestamp, days: u32) -> Option<Timestamp> {
    if days == 0 {
        return None;
    }
    now.checked_sub(SignedDuration::from_hours(i64::from(days) * 24))
        .ok()
}

/// Prunes one target's history; returns how many reports were deleted.
pub fn prune_target(
    store: &dyn Store,
    target: &str,
    now: Timestamp,
    days: u32,
) -> Result<usize, StoreError> {
    let Some(cutoff) = cutoff(now, days) else {
        return Ok(0);
    };
    let prefix = format!("{target}/");
    // The reports older than the cutoff, plus the first younger one (kept anyway, it stands
    // for "a later report exists"): the young part of the history is never read.
    let mut old: Vec<ReportOutcome> = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    'scan: loop {
        let chunk = store.scan(
            Table::ReportOutcomes,
            prefix.as_bytes(),
            after.as_deref(),
            256,
        )?;
        let Some((last, _)) = chunk.last() else {
            break;
        };
        after = Some(last.clone());
        let full = chunk.len() == 256;
        for (key, value) in chunk {
            let outcome: ReportOutcome = serde_json::from_slice(&value).map_err(|e| {
                StoreError::Corrupt(format!(
                    "report_outcomes {}: {e}",
                    String::from_utf8_lossy(&key)
                ))
            })?;
            let young = outcome.started_at >= cutoff;
            old.push(outcome);
            if young {
                break 'scan;
            }
        }
        if !full {
            break;
        }
    }
    let latest = store.get(Table::Latest, target.as_bytes())?;
    let entries: Vec<(Timestamp, Signature<'_>)> =
        old.iter().map(|o| (o.started_at, o.signature())).collect();
    let flags = keep(&entries, cutoff);
    let doomed: Vec<&ReportOutcome> = old
        .iter()
        .zip(flags)
        .filter(|(o, kept)| !kept && latest.as_deref() != Some(o.id.as_bytes()))
        .map(|(o, _)| o)
        .collect();
    for chunk in doomed.chunks(200) {
        let mut batch = Batch::new();
        for o in chunk {
            let key = o.key();
            batch = batch
                .delete(Table::Reports, key.as_bytes())
                .delete(Table::ReportOutcomes, key.as_bytes());
        }
        store.apply(batch)?;
    }
    Ok(doomed.len())
}

/// What a background pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassStats {
    /// Outcomes written for reports that had none.
    pub backfilled: usize,
    /// Targets looked at.
    pub targets: usize,
    /// Reports deleted.
    pub pruned: usize,
}

/// The `Meta` key set once every report has its outcome record (reports stored since get
/// theirs at ingestion, so the backfill runs once per store).
pub const BACKFILLED: &str = "report_outcomes_backfilled";

/// Writes missing outcomes (once per store), then prunes every target, logging progress.
pub fn pass(
    store: &dyn Store,
    pack: &Pack,
    now: Timestamp,
    days: u32,
) -> Result<PassStats, StoreError> {
    let mut stats = PassStats::default();
    if store.get(Table::Meta, BACKFILLED.as_bytes())?.is_none() {
        stats.backfilled = backfill(store, pack)?;
        store.apply(Batch::new().put(Table::Meta, BACKFILLED, now.to_string()))?;
    }
    let targets: Vec<String> = store
        .scan(Table::Latest, b"", None, usize::MAX)?
        .into_iter()
        .map(|(k, _)| String::from_utf8_lossy(&k).into_owned())
        .collect();
    let total = targets.len();
    for (i, target) in targets.iter().enumerate() {
        stats.pruned += prune_target(store, target, now, days)?;
        stats.targets += 1;
        if (i + 1) % 100 == 0 {
            tracing::info!(
                done = i + 1,
                total,
                pruned = stats.pruned,
                "retention: pruning report history"
            );
        }
    }
    Ok(stats)
}

/// Writes the outcome of every report that has none; returns how many.
fn backfill(store: &dyn Store, pack: &Pack) -> Result<usize, StoreError> {
    let mut backfilled = 0;
    let mut after: Option<Vec<u8>> = None;
    loop {
        let chunk = store.scan(Table::Reports, b"", after.as_deref(), 100)?;
        let Some((last, _)) = chunk.last() else {
            break;
        };
        after = Some(last.clone());
        let n = chunk.len();
        for (key, raw) in chunk {
            if store.get(Table::ReportOutcomes, &key)?.is_some() {
                continue;
            }
            let text = String::from_utf8_lossy(&key).into_owned();
            let Some((target, id)) = text.rsplit_once('/') else {
                continue;
            };
            let Ok(value) = serde_json::from_slice::<Value>(&raw) else {
                tracing::warn!(report = %text, "retention: unreadable report left alone");
                continue;
            };
            let outcome = ReportOutcome::of(pack, &value, id, target);
            store.apply(Batch::new().put(Table::ReportOutcomes, key, repo::json(&outcome)))?;
            backfilled += 1;
            if backfilled % 500 == 0 {
                tracing::info!(backfilled, "retention: writing outcomes of older reports");
            }
        }
        if n < 100 {
            break;
        }
    }
    Ok(backfilled)
}

/// Runs [`pass`] shortly after start and then every `every`, off the async threads.
pub fn spawn(
    store: Arc<dyn Store>,
    pack: Arc<Pack>,
    days: u32,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        loop {
            let (store, pack) = (store.clone(), pack.clone());
            let result = tokio::task::spawn_blocking(move || {
                pass(store.as_ref(), &pack, crate::clock::now(), days)
            })
            .await;
            match result {
                Ok(Ok(stats)) => tracing::info!(
                    backfilled = stats.backfilled,
                    targets = stats.targets,
                    pruned = stats.pruned,
                    retention_days = days,
                    "retention: pass finished"
                ),
                Ok(Err(e)) => tracing::warn!(error = %e, "retention: pass failed"),
                Err(e) => tracing::warn!(error = %e, "retention: pass panicked"),
            }
            tokio::time::sleep(every).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::store::MemoryStore;

    fn t(day: i64) -> Timestamp {
        Timestamp::from_second(1_780_000_000 + day * 86_400).unwrap()
    }

    #[test]
    fn unchanged_old_reports_go_and_changes_stay() {
        // Days 0..10 with outcomes A A A B B A A, then young ones.
        let outcomes = ['A', 'A', 'A', 'B', 'B', 'A', 'A', 'A', 'A'];
        let entries: Vec<(Timestamp, char)> = outcomes
            .iter()
            .enumerate()
            .map(|(i, o)| (t(i as i64), *o))
            .collect();
        let flags = keep(&entries, t(7));
        assert_eq!(
            flags,
            [true, false, false, true, false, true, false, true, true]
        );
        assert!(keep::<char>(&[], t(0)).is_empty());
        assert_eq!(keep(&[(t(0), 'A')], t(9)), [true]);
    }

    proptest! {
        #[test]
        fn every_change_of_outcome_survives(
            outcomes in proptest::collection::vec(0u8..3, 0..60),
            cutoff_day in 0i64..70,
        ) {
            let entries: Vec<(Timestamp, u8)> =
                outcomes.iter().enumerate().map(|(i, o)| (t(i as i64), *o)).collect();
            let flags = keep(&entries, t(cutoff_day));
            for i in 0..entries.len() {
                if i == 0 || entries[i].1 != entries[i - 1].1 {
                    prop_assert!(flags[i], "change at {} pruned: {:?}", i, outcomes);
                }
                if entries[i].0 >= t(cutoff_day) || i + 1 == entries.len() {
                    prop_assert!(flags[i]);
                }
            }
            // The kept history tells the same story: consecutive kept old reports differ.
            let kept: Vec<&(Timestamp, u8)> =
                entries.iter().zip(&flags).filter(|(_, k)| **k).map(|(e, _)| e).collect();
            let mut changes_all: Vec<u8> = Vec::new();
            for e in &entries {
                if changes_all.last() != Some(&e.1) { changes_all.push(e.1); }
            }
            let mut changes_kept: Vec<u8> = Vec::new();
            for e in &kept {
                if changes_kept.last() != Some(&e.1) { changes_kept.push(e.1); }
            }
            prop_assert_eq!(changes_all, changes_kept);
            // Pruning again changes nothing.
            let again: Vec<(Timestamp, u8)> = kept.iter().map(|e| **e).collect();
            prop_assert!(keep(&again, t(cutoff_day)).iter().all(|k| *k));
        }
    }

    fn report(n: u32, day: i64, expired: bool) -> (String, Value) {
        let id = format!("0193{n:04x}-5b7a-7cc0-9a8e-3a5c1f1d2e3f");
        let v = serde_json::json!({
            "id": id, "started_at": t(day).to_string(),
            "target": {"host": "h.example.gov.vn", "port": 443},
            "tls": {"reachable": true, "validation": {"trusted": true, "hostname_match": true},
                    "certificate": {"days_left": if expired { -1 } else { 200 }, "key_bits": 2048}},
        });
        (id, v)
    }

    #[test]
    fn pruning_a_target_in_the_store() {
        let pack = Pack::decree85();
        let store = MemoryStore::new();
        let target = "h.example.gov.vn:443";
        let pattern = [false, false, true, true, false, false, false];
        let mut ids = Vec::new();
        for (i, expired) in pattern.iter().enumerate() {
            let (id, v) = report(i as u32, i as i64, *expired);
            let outcome = ReportOutcome::of(&pack, &v, &id, target);
            store
                .apply(
                    Batch::new()
                        .put(Table::Reports, outcome.key(), repo::json(&v))
                        .put(Table::ReportOutcomes, outcome.key(), repo::json(&outcome))
                        .put(Table::Latest, target, id.as_bytes()),
                )
                .unwrap();
            ids.push(id);
        }
        // Another target sharing a prefix is not touched.
        let (id, v) = report(99, 0, false);
        let other = ReportOutcome::of(&pack, &v, &id, "h.example.gov.vn:4430");
        store
            .apply(Batch::new().put(Table::ReportOutcomes, other.key(), repo::json(&other)))
            .unwrap();
        assert_eq!(
            prune_target(&store, target, t(6), 0).unwrap(),
            0,
            "0 days: keep all"
        );
        // Now is day 8 and the window 3 days: days 0..4 are old.
        let pruned = prune_target(&store, target, t(8), 3).unwrap();
        assert_eq!(pruned, 2, "day 1 (same as 0) and day 3 (same as 2)");
        let left: Vec<String> = repo::list::<ReportOutcome>(
            &store,
            Table::ReportOutcomes,
            &format!("{target}/"),
            usize::MAX,
        )
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .collect();
        assert_eq!(
            left,
            [&ids[0], &ids[2], &ids[4], &ids[5], &ids[6]].map(|s| s.clone())
        );
        assert!(
            store
                .get(Table::Reports, format!("{target}/{}", ids[1]).as_bytes())
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .get(Table::ReportOutcomes, other.key().as_bytes())
                .unwrap()
                .is_some()
        );
        // Everything old: still the latest is kept.
        let pruned = prune_target(&store, target, t(100), 3).unwrap();
        assert_eq!(pruned, 1, "day 5 (same as 4); day 6 is the latest");
        // A pass writes outcomes for reports that lack them.
        let (id, v) = report(50, 1, true);
        store
            .apply(Batch::new().put(Table::Reports, format!("x.gov.vn:443/{id}"), repo::json(&v)))
            .unwrap();
        let stats = pass(&store, &pack, t(100), 3).unwrap();
        assert_eq!(stats.backfilled, 1);
        assert_eq!(stats.targets, 1);
        assert!(
            store
                .get(
                    Table::ReportOutcomes,
                    format!("x.gov.vn:443/{id}").as_bytes()
                )
                .unwrap()
                .is_some()
        );
        // The backfill runs once per store: later reports get their outcome at ingestion.
        let (late, v) = report(51, 2, true);
        store
            .apply(Batch::new().put(
                Table::Reports,
                format!("x.gov.vn:443/{late}"),
                repo::json(&v),
            ))
            .unwrap();
        assert_eq!(
            pass(&store, &pack, t(100), 3).unwrap().backfilled,
            0,
            "once per store"
        );
    }
}
