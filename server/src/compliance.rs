//! Evidence meets level: a report that arrives is evaluated, with the policy pack, against the
//! level of every system whose addresses name its target (the approved level, else the
//! proposed one), and the result becomes that system's current compliance summary, which the
//! UI and the alerts read. A report older than the summary already held does not replace it.
//! Retired systems are not evaluated (their last summary is kept for history).
//!
//! What is stored is the evaluation at ingestion; what is shown ([`view`]) is decided when it
//! is read: the waivers valid today turn their failures into `waived`, and a report older than
//! the level's freshness window (`evidence_fresh_days` in the pack's `workflow.toml`) makes the
//! summary `stale`: it no longer counts as passing, whatever its grade.

use canhgac_policies::pack::{Evaluation, Pack, Status, apply_waivers, evaluate};
use canhgac_policies::report::ScanReport;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::model::{System, SystemStatus};
use crate::repo;
use crate::store::{Batch, Store, StoreError, Table};
use crate::waivers::{Waiver, valid_by_rule};

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
pub fn serves(system: &System, host: &str, port: u16) -> bool {
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
    record_for(store, pack, report, now, &systems)
}

/// [`record`] among `systems`: any set that includes every system whose addresses name the
/// report's target (the server passes the read index's systems for the host,
/// `crate::index::IndexData::systems_for_host`, so that ingestion reads no other system).
/// One batch, guarded against a concurrent writer of the same summaries.
pub fn record_for(
    store: &dyn Store,
    pack: &Pack,
    report: &ScanReport,
    now: Timestamp,
    systems: &[System],
) -> Result<Vec<String>, StoreError> {
    let mut last = None;
    for _ in 0..8 {
        let plan = plan_for(store, pack, report, now, systems)?;
        if plan.is_empty() {
            return Ok(Vec::new());
        }
        let done = plan.iter().map(|p| p.key.clone()).collect();
        match store.apply(plan.into_iter().fold(Batch::new(), |b, p| p.add_to(b))) {
            Ok(()) => return Ok(done),
            Err(StoreError::Conflict(c)) => last = Some(c),
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict(last.unwrap_or_default()))
}

/// One system's new summary, with the stored value it replaces (the write's guard).
#[derive(Debug, Clone)]
pub struct Planned {
    /// The system id (the `Compliance` key).
    pub key: String,
    /// The summary stored now, if any: the batch requires it unchanged.
    pub previous: Option<Vec<u8>>,
    /// The new summary, as stored.
    pub value: Vec<u8>,
}

impl Planned {
    /// Adds the guard and the write to `batch`.
    pub fn add_to(self, batch: Batch) -> Batch {
        let batch = match self.previous {
            Some(p) => batch.if_equals(Table::Compliance, self.key.as_bytes(), p),
            None => batch.if_absent(Table::Compliance, self.key.as_bytes()),
        };
        batch.put(Table::Compliance, self.key, self.value)
    }
}

/// The summaries `report` would write (see [`record_for`]), without writing them, so that the
/// caller can commit them in the same batch as the report itself.
pub fn plan_for(
    store: &dyn Store,
    pack: &Pack,
    report: &ScanReport,
    now: Timestamp,
    systems: &[System],
) -> Result<Vec<Planned>, StoreError> {
    let mut out = Vec::new();
    for system in systems.iter().filter(|s| {
        s.status != SystemStatus::Retired && serves(s, &report.target.host, report.target.port)
    }) {
        let Some(level) = system
            .approved
            .as_ref()
            .map(|a| a.level)
            .or(system.proposed_level)
        else {
            continue;
        };
        let key = system.id.to_string();
        let raw = store.get(Table::Compliance, key.as_bytes())?;
        let previous: Option<Compliance> = match &raw {
            Some(bytes) => serde_json::from_slice(bytes).ok(),
            None => None,
        };
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
        out.push(Planned {
            key,
            previous: raw,
            value: repo::json(&summary),
        });
    }
    Ok(out)
}

/// Splits a target key `host:port` (`[v6]:port` too); the port defaults to 443.
pub fn split_target(target: &str) -> (&str, u16) {
    match target.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') => match port.parse::<u16>() {
            Ok(port) => (host.trim_start_matches('[').trim_end_matches(']'), port),
            Err(_) => (target, 443),
        },
        _ => (target, 443),
    }
}

/// The systems whose addresses name `target` (`host:port`), retired ones included.
pub fn systems_of_target<'a>(systems: &'a [System], target: &str) -> Vec<&'a System> {
    let (host, port) = split_target(target);
    systems.iter().filter(|s| serves(s, host, port)).collect()
}

/// What a summary says about a system now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SummaryStatus {
    /// Current evidence, no open failure (waived ones aside).
    Passing,
    /// Current evidence with at least one failure no valid waiver covers.
    Failing,
    /// The latest report is older than the level's freshness window: it proves nothing now.
    Stale,
    /// The system is retired: kept for history, out of the counts.
    Retired,
}

/// A rule shown as waived, with the waiver that covers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaivedRule {
    /// The rule.
    pub rule: String,
    /// The waiver.
    pub waiver: String,
    /// Its last day.
    pub expires_on: jiff::civil::Date,
    /// Its reason.
    pub reason: String,
}

/// A system's compliance as read now: the stored summary with today's waivers and freshness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComplianceView {
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
    /// The verdict now.
    pub status: SummaryStatus,
    /// Whether the report is within the freshness window.
    pub current: bool,
    /// The end of the freshness window (`None`: the level's evidence never goes stale).
    pub fresh_until: Option<Timestamp>,
    /// Whether this counts as a passing system in figures (`status` is `passing`).
    pub counts_as_passing: bool,
    /// The failures no valid waiver covers.
    pub failing: Vec<String>,
    /// The failures (or warnings) covered by a valid waiver.
    pub waived: Vec<WaivedRule>,
    /// The grade before waivers, as evaluated at ingestion.
    pub grade_without_waivers: String,
    /// The evaluation with today's waivers applied (waived results have status `waived`; the
    /// grade and score are computed again).
    pub evaluation: Evaluation,
}

/// The freshness window of `level`, from the pack.
pub fn fresh_until(pack: &Pack, level: u8, scanned_at: Timestamp) -> Option<Timestamp> {
    let days = pack.workflow.evidence_fresh_days(level)?;
    scanned_at
        .checked_add(SignedDuration::from_hours(i64::from(days) * 24))
        .ok()
}

/// The summary as it reads at `now` for `system`, with its `waivers` (any, valid or not).
pub fn view(
    pack: &Pack,
    system: &System,
    summary: &Compliance,
    waivers: &[Waiver],
    now: Timestamp,
) -> ComplianceView {
    let today = crate::clock::today_vn(now);
    let valid = valid_by_rule(waivers, today);
    let evaluation = apply_waivers(&summary.evaluation, &|rule| valid.contains_key(rule));
    let waived: Vec<WaivedRule> = evaluation
        .results
        .iter()
        .filter(|r| r.status == Status::Waived)
        .filter_map(|r| {
            let w = valid.get(r.rule.as_str())?;
            Some(WaivedRule {
                rule: r.rule.clone(),
                waiver: w.id.clone(),
                expires_on: w.expires_on,
                reason: w.reason.clone(),
            })
        })
        .collect();
    let failing: Vec<String> = evaluation
        .results
        .iter()
        .filter(|r| r.status == Status::Fail)
        .map(|r| r.rule.clone())
        .collect();
    let fresh_until = fresh_until(pack, summary.evaluation.level, summary.scanned_at);
    let current = fresh_until.is_none_or(|until| now <= until);
    let status = if system.status == SystemStatus::Retired {
        SummaryStatus::Retired
    } else if !current {
        SummaryStatus::Stale
    } else if failing.is_empty() {
        SummaryStatus::Passing
    } else {
        SummaryStatus::Failing
    };
    ComplianceView {
        system: summary.system.clone(),
        report: summary.report.clone(),
        target: summary.target.clone(),
        scanned_at: summary.scanned_at,
        evaluated_at: summary.evaluated_at,
        status,
        current,
        fresh_until,
        counts_as_passing: status == SummaryStatus::Passing,
        failing,
        waived,
        grade_without_waivers: summary.evaluation.grade.clone(),
        evaluation,
    }
}

#[cfg(test)]
mod tests {
    use canhgac_policies::pack::evaluate_value;
    use jiff::civil::date;
    use serde_json::json;

    use super::*;
    use crate::model::fixtures::{agency, system};
    use crate::waivers::Revocation;

    fn summary(pack: &Pack, scanned_at: &str) -> (System, Compliance) {
        let a = agency(1, "Sở Công Thương", None);
        let s = system(1, a.id, a.id, 3);
        let report = json!({
            "target": {"host": "ht1.example.gov.vn", "port": 443},
            "tls": {
                "reachable": true, "negotiated": {"protocol": "tls1.3"},
                "protocols": {"ssl3": false, "tls1.0": false, "tls1.1": false, "tls1.2": true, "tls1.3": true},
                "validation": {"trusted": true, "hostname_match": true},
                "certificate": {"days_left": 3, "key_bits": 2048, "key_type": "RSA"},
                "ciphers": {"weaknesses": {"null": false, "anonymous": false, "export": false, "rc4": false, "des": false, "forward_secrecy_only": true}}
            },
            "http": null, "dns": null, "domain": {"name": "example.gov.vn"}, "content": null
        });
        let c = Compliance {
            system: s.id.to_string(),
            report: "0193aaaa-5b7a-7cc0-9a8e-3a5c1f1d2e3f".into(),
            target: "ht1.example.gov.vn:443".into(),
            scanned_at: scanned_at.parse().unwrap(),
            evaluated_at: scanned_at.parse().unwrap(),
            evaluation: evaluate_value(pack, &report, 3),
        };
        (s, c)
    }

    fn waiver(system: &System, rule: &str, expires_on: jiff::civil::Date) -> Waiver {
        let at: Timestamp = "2026-11-20T00:00:00Z".parse().unwrap();
        Waiver {
            id: crate::changes::new_id(at),
            system: system.id,
            rule: rule.into(),
            reason: "Đang gia hạn chứng thư".into(),
            expires_on,
            created_by: "thamdinh".into(),
            created_at: at,
            revoked: None,
        }
    }

    #[test]
    fn waivers_count_while_valid_and_stop_after_expiry() {
        let pack = Pack::decree85();
        let (s, c) = summary(&pack, "2026-11-20T02:00:00Z");
        let open: Vec<String> = c.failing().map(str::to_string).collect();
        assert!(open.contains(&"tls.cert_expiry".to_string()), "{open:?}");
        let now: Timestamp = "2026-11-21T02:00:00Z".parse().unwrap();
        let plain = view(&pack, &s, &c, &[], now);
        assert_eq!(plain.status, SummaryStatus::Failing);
        assert_eq!(plain.failing, open);

        let waivers: Vec<Waiver> = open
            .iter()
            .map(|r| waiver(&s, r, date(2026, 11, 25)))
            .collect();
        let covered = view(&pack, &s, &c, &waivers, now);
        assert_eq!(covered.status, SummaryStatus::Passing, "{covered:?}");
        assert!(covered.counts_as_passing);
        assert!(covered.failing.is_empty());
        assert_eq!(covered.waived.len(), open.len());
        assert_eq!(covered.grade_without_waivers, c.evaluation.grade);
        assert!(covered.evaluation.score >= c.evaluation.score);

        // 26/11 in Vietnam: the waivers expired the day before.
        let later: Timestamp = "2026-11-25T17:30:00Z".parse().unwrap();
        let expired = view(&pack, &s, &c, &waivers, later);
        assert_eq!(expired.status, SummaryStatus::Failing);
        assert!(expired.waived.is_empty());

        let mut revoked = waivers.clone();
        revoked[0].revoked = Some(Revocation {
            by: "admin".into(),
            at: now,
        });
        let partly = view(&pack, &s, &c, &revoked, now);
        assert_eq!(partly.failing, vec![open[0].clone()]);
    }

    #[test]
    fn old_evidence_is_stale_and_never_passing() {
        let pack = Pack::decree85();
        let (s, c) = summary(&pack, "2026-11-01T02:00:00Z");
        let days = pack.workflow.evidence_fresh_days(3).unwrap();
        let waivers: Vec<Waiver> = c
            .failing()
            .map(|r| waiver(&s, r, date(2027, 6, 1)))
            .collect();
        let edge = c.scanned_at + SignedDuration::from_hours(i64::from(days) * 24);
        let fresh = view(&pack, &s, &c, &waivers, edge);
        assert!(fresh.current);
        assert_eq!(fresh.status, SummaryStatus::Passing);
        let stale = view(&pack, &s, &c, &waivers, edge + SignedDuration::from_secs(1));
        assert!(!stale.current);
        assert_eq!(stale.status, SummaryStatus::Stale);
        assert!(!stale.counts_as_passing);
        assert_eq!(stale.fresh_until, Some(edge));

        let retired = System {
            status: SystemStatus::Retired,
            ..s.clone()
        };
        assert_eq!(
            view(&pack, &retired, &c, &waivers, edge).status,
            SummaryStatus::Retired
        );
    }

    #[test]
    fn targets_split_and_match_systems() {
        assert_eq!(split_target("a.gov.vn:8443"), ("a.gov.vn", 8443));
        assert_eq!(split_target("[::1]:443"), ("::1", 443));
        assert_eq!(split_target("a.gov.vn"), ("a.gov.vn", 443));
        let a = agency(1, "Sở Công Thương", None);
        let systems = vec![system(1, a.id, a.id, 3), system(2, a.id, a.id, 2)];
        let found = systems_of_target(&systems, "ht2.example.gov.vn:443");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, systems[1].id);
        assert!(systems_of_target(&systems, "ht2.example.gov.vn:8443").is_empty());
    }
}
