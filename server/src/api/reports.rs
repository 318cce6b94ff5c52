//! Scan report ingestion (agents) and reading (people). Ingestion is idempotent: a report id
//! already stored is acknowledged again and stored once; each stored report gets its outcome
//! summary (`crate::retention::ReportOutcome`) in the same batch, and the target's history is
//! pruned afterwards. Staff read every target; an agency officer reads only the targets of the
//! systems of their agency subtree (404 for any other, as if absent); agents read nothing.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use canhgac_policies::report::{SCHEMA_VERSION, ScanReport};
use jiff::Timestamp;
use serde_json::{Value, json};

use serde::{Deserialize, Serialize};

use super::{ApiError, AppState, PEOPLE, Principal, blocking};
use crate::model::{Role, System};
use crate::repo;
use crate::retention::ReportOutcome;
use crate::store::{Batch, Store, StoreError, Table};

/// The key of a target: `host:port`.
pub fn target_key(report: &ScanReport) -> String {
    format!("{}:{}", report.target.host, report.target.port)
}

/// `POST /api/v1/reports` (agent, administrator): stores a report once. An agent may upload
/// only reports for its assigned targets (403 `not_assigned`, `api::agents::check_upload`).
pub async fn ingest(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Json<ScanReport>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    principal.require(&[Role::Agent, Role::Administrator])?;
    if principal.account.role == Role::Agent {
        state
            .metrics
            .agent_seen(&principal.account.login, crate::clock::now());
    }
    let Json(report) = body?;
    if report.schema_version != SCHEMA_VERSION {
        return Err(ApiError::invalid(format!(
            "schema_version {} is not supported (this server reads {SCHEMA_VERSION})",
            report.schema_version
        )));
    }
    if uuid::Uuid::parse_str(&report.id).is_err() {
        return Err(ApiError::invalid("id must be a UUID"));
    }
    // Agents upload only for their assigned targets (docs/agents.md).
    let enrolled = if principal.account.role == Role::Agent {
        super::agents::check_upload(&state, &principal, &report.target.host, report.target.port)
            .await?
    } else {
        false
    };
    let started_at = report.started_at;
    let target = target_key(&report);
    let id = report.id.clone();
    let to_evaluate = report.clone();
    let raw = serde_json::to_vec(&report).map_err(|e| ApiError::invalid(e.to_string()))?;
    let store = state.store.clone();
    let outcome_pack = state.pack();
    let outcome_target = target.clone();
    let noted_target = target.clone();
    let index = state.index.clone();
    let eval_pack = state.pack();
    let stored = tokio::task::spawn_blocking(move || -> Result<Option<Vec<String>>, StoreError> {
        let report_key = format!("{target}/{id}");
        // The systems of this host (read index; the guard is dropped at once), evaluated in the
        // report's own batch: one durable commit per upload.
        let candidates = index
            .read(store.as_ref())?
            .systems_for_host(&to_evaluate.target.host);
        let now = crate::clock::now();
        let value = serde_json::from_slice::<Value>(&raw).unwrap_or(Value::Null);
        let outcome = repo::json(&ReportOutcome::of(&outcome_pack, &value, &id, &target));
        // The latest report per target moves only forward (UUIDv7 ids sort by time).
        for _ in 0..8 {
            let current = store.get(Table::Latest, target.as_bytes())?;
            let newer = current.as_deref().is_none_or(|c| c < id.as_bytes());
            let mut batch = Batch::new()
                .if_absent(Table::ReportIds, id.as_bytes())
                .put(Table::ReportIds, id.as_bytes(), target.as_bytes())
                .put(Table::Reports, report_key.as_bytes(), raw.clone())
                .put(
                    Table::ReportOutcomes,
                    report_key.as_bytes(),
                    outcome.clone(),
                );
            let plan = crate::compliance::plan_for(
                store.as_ref(),
                &eval_pack,
                &to_evaluate,
                now,
                &candidates,
            )?;
            let evaluated: Vec<String> = plan.iter().map(|p| p.key.clone()).collect();
            batch = plan.into_iter().fold(batch, |b, p| p.add_to(b));
            if newer {
                batch = match &current {
                    Some(c) => batch.if_equals(Table::Latest, target.as_bytes(), c.clone()),
                    None => batch.if_absent(Table::Latest, target.as_bytes()),
                };
                batch = batch.put(Table::Latest, target.as_bytes(), id.as_bytes());
            }
            match store.apply(batch) {
                Ok(()) => return Ok(Some(evaluated)),
                Err(StoreError::Conflict(_)) => {
                    if store.get(Table::ReportIds, id.as_bytes())?.is_some() {
                        return Ok(None);
                    }
                    // The latest pointer or a summary moved under us: read them again.
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict(
            "the target's latest report keeps changing".into(),
        ))
    })
    .await
    .map_err(|_| ApiError::invalid("ingestion task failed"))??;
    if enrolled {
        super::agents::note_upload(&state, &principal.account.login, noted_target, started_at)
            .await;
    }
    if let Some(evaluated) = stored {
        state
            .metrics
            .reports_ingested
            .fetch_add(1, Ordering::Relaxed);
        // Retention: the report is stored whatever happens here; a failure is logged and the
        // background pass tries again.
        let store = state.store.clone();
        let days = state.report_retention_days;
        let pruned = tokio::task::spawn_blocking(move || {
            crate::retention::prune_target(
                store.as_ref(),
                &outcome_target,
                crate::clock::now(),
                days,
            )
        })
        .await;
        match pruned {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::debug!(pruned = n, "retention: unchanged old reports pruned"),
            Ok(Err(e)) => tracing::warn!(error = %e, "retention: pruning after ingestion failed"),
            Err(e) => tracing::warn!(error = %e, "retention: pruning task failed"),
        }
        Ok((
            StatusCode::CREATED,
            Json(json!({"status": "stored", "id": report.id, "evaluated_for": evaluated})),
        ))
    } else {
        state
            .metrics
            .reports_duplicate
            .fetch_add(1, Ordering::Relaxed);
        Ok((
            StatusCode::OK,
            Json(json!({"status": "duplicate", "id": report.id})),
        ))
    }
}

/// The systems naming `target`, and whether the caller may read it: staff always, agency
/// officers when one of those systems is within their agency subtree.
fn may_read_target(
    store: &dyn Store,
    index: &crate::index::Index,
    principal: &Principal,
    target: &str,
) -> Result<(bool, Vec<System>), StoreError> {
    let (host, _) = crate::compliance::split_target(target);
    let candidates = index.read(store)?.systems_for_host(host);
    let systems: Vec<System> = crate::compliance::systems_of_target(&candidates, target)
        .into_iter()
        .cloned()
        .collect();
    let allowed = match principal.account.role {
        Role::AgencyOfficer => {
            let tree = super::inventory::indexed_tree(store, index)?;
            systems
                .iter()
                .any(|s| super::inventory::sees_system(principal, &tree, s))
        }
        Role::Agent => false,
        _ => true,
    };
    Ok((allowed, systems))
}

/// `GET /api/v1/targets/{host:port}/latest` (people; officers within scope): the latest report
/// of a target.
pub async fn latest(
    State(state): State<AppState>,
    principal: Principal,
    Path(target): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let raw = latest_report(&state, principal, target)
        .await?
        .ok_or_else(|| ApiError::not_found("report"))?;
    let value: Value =
        serde_json::from_slice(&raw).map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok(Json(value))
}

/// The latest report of `target` as stored (JSON bytes), for people allowed to read it
/// (staff; officers when one of its systems is within their scope); `None` for a target
/// unknown or out of scope, as if absent.
pub(crate) async fn latest_report(
    state: &AppState,
    principal: Principal,
    target: String,
) -> Result<Option<Vec<u8>>, ApiError> {
    principal.require(PEOPLE)?;
    let store = state.store.clone();
    let index = state.index.clone();
    blocking(move || -> Result<Option<Vec<u8>>, StoreError> {
        if !may_read_target(store.as_ref(), &index, &principal, &target)?.0 {
            return Ok(None);
        }
        let Some(id) = store.get(Table::Latest, target.as_bytes())? else {
            return Ok(None);
        };
        let mut key = target.into_bytes();
        key.push(b'/');
        key.extend_from_slice(&id);
        store.get(Table::Reports, &key)
    })
    .await
}

/// Query of the history route.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// At most this many entries (1-500, default 50).
    pub(crate) limit: Option<usize>,
    /// Only reports with an id before this one (the `id` of the last entry of a page).
    pub(crate) before: Option<String>,
    /// The level to show grades at (default: the highest level of the target's systems in
    /// use, else 3).
    pub(crate) level: Option<u8>,
}

/// One kept report of a target's history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    /// The report id.
    pub id: String,
    /// When the scan started.
    pub started_at: Timestamp,
    /// The level of the grade.
    pub level: u8,
    /// The grade at that level.
    pub grade: String,
    /// The score behind it.
    pub score: u32,
    /// The failing rules at that level.
    pub failing: Vec<String>,
}

/// One page of a target's history, newest first.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    /// The target, `host:port`.
    pub target: String,
    /// The level the grades are given at.
    pub level: u8,
    /// The kept reports, newest first.
    pub reports: Vec<HistoryEntry>,
    /// The `before` of the next page, when there may be one.
    pub next_before: Option<String>,
}

/// `GET /api/v1/targets/{host:port}/history?limit=&before=&level=` (people; officers within
/// scope): the kept reports of a target, newest first.
pub async fn history(
    State(state): State<AppState>,
    principal: Principal,
    Path(target): Path<String>,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    principal.require(PEOPLE)?;
    let Query(query) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let page = history_of(&state, principal, target, query)
        .await?
        .ok_or_else(|| ApiError::not_found("target"))?;
    Ok(Json(json!({
        "target": page.target,
        "level": page.level,
        "reports": page.reports,
        "next_before": page.next_before,
    })))
}

/// A page of `target`'s history (see [`history`]) for people allowed to read it; `None` for a
/// target unknown or out of scope, as if absent; 400 for a query out of bounds.
pub(crate) async fn history_of(
    state: &AppState,
    principal: Principal,
    target: String,
    query: HistoryQuery,
) -> Result<Option<HistoryPage>, ApiError> {
    principal.require(PEOPLE)?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit must be between 1 and 500"));
    }
    if let Some(level) = query.level
        && !(1..=5).contains(&level)
    {
        return Err(ApiError::invalid("level must be between 1 and 5"));
    }
    if let Some(before) = &query.before
        && uuid::Uuid::parse_str(before).is_err()
    {
        return Err(ApiError::invalid("before must be a report id (UUID)"));
    }
    let store = state.store.clone();
    let index = state.index.clone();
    blocking(move || -> Result<Option<HistoryPage>, StoreError> {
        let (allowed, systems) = may_read_target(store.as_ref(), &index, &principal, &target)?;
        if !allowed {
            return Ok(None);
        }
        let outcomes: Vec<ReportOutcome> = repo::list(
            store.as_ref(),
            Table::ReportOutcomes,
            &format!("{target}/"),
            usize::MAX,
        )?;
        if outcomes.is_empty() && store.get(Table::Latest, target.as_bytes())?.is_none() {
            return Ok(None);
        }
        let level = query.level.unwrap_or_else(|| {
            systems
                .iter()
                .filter(|s| s.status == crate::model::SystemStatus::InUse)
                .filter_map(|s| s.approved.as_ref().map(|a| a.level).or(s.proposed_level))
                .map(|l| l.get())
                .max()
                .unwrap_or(3)
        });
        let before = query.before.as_deref().map(str::to_ascii_lowercase);
        let entries: Vec<HistoryEntry> = outcomes
            .iter()
            .rev()
            .filter(|o| before.as_deref().is_none_or(|b| o.id.as_str() < b))
            .take(limit)
            .filter_map(|o| {
                let at = o.at_level(level)?;
                Some(HistoryEntry {
                    id: o.id.clone(),
                    started_at: o.started_at,
                    level,
                    grade: at.grade.clone(),
                    score: at.score,
                    failing: at.failing.clone(),
                })
            })
            .collect();
        let next = (entries.len() == limit)
            .then(|| entries.last().map(|e| e.id.clone()))
            .flatten();
        Ok(Some(HistoryPage {
            target,
            level,
            reports: entries,
            next_before: next,
        }))
    })
    .await
}
