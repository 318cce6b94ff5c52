//! Scan report ingestion (agents) and reading (staff). Ingestion is idempotent: a report id
//! already stored is acknowledged again and stored once.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use canhgac_policies::report::{SCHEMA_VERSION, ScanReport};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::{ApiError, AppState, Principal};
use crate::model::Role;
use crate::store::{Batch, StoreError, Table};

/// The key of a target: `host:port`.
pub fn target_key(report: &ScanReport) -> String {
    format!("{}:{}", report.target.host, report.target.port)
}

/// `POST /api/v1/reports` (agent, administrator): stores a report once.
pub async fn ingest(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Json<ScanReport>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    principal.require(&[Role::Agent, Role::Administrator])?;
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
    let target = target_key(&report);
    let id = report.id.clone();
    let pack = state.pack.clone();
    let to_evaluate = report.clone();
    let raw = serde_json::to_vec(&report).map_err(|e| ApiError::invalid(e.to_string()))?;
    let store = state.store.clone();
    let stored = tokio::task::spawn_blocking(move || -> Result<bool, StoreError> {
        let report_key = format!("{target}/{id}");
        // The latest report per target moves only forward (UUIDv7 ids sort by time).
        for _ in 0..8 {
            let current = store.get(Table::Latest, target.as_bytes())?;
            let newer = current.as_deref().is_none_or(|c| c < id.as_bytes());
            let mut batch = Batch::new()
                .if_absent(Table::ReportIds, id.as_bytes())
                .put(Table::ReportIds, id.as_bytes(), target.as_bytes())
                .put(Table::Reports, report_key.as_bytes(), raw.clone());
            if newer {
                batch = match &current {
                    Some(c) => batch.if_equals(Table::Latest, target.as_bytes(), c.clone()),
                    None => batch.if_absent(Table::Latest, target.as_bytes()),
                };
                batch = batch.put(Table::Latest, target.as_bytes(), id.as_bytes());
            }
            match store.apply(batch) {
                Ok(()) => return Ok(true),
                Err(StoreError::Conflict(_)) => {
                    if store.get(Table::ReportIds, id.as_bytes())?.is_some() {
                        return Ok(false);
                    }
                    // The latest pointer moved under us: read it again.
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
    if stored {
        state
            .metrics
            .reports_ingested
            .fetch_add(1, Ordering::Relaxed);
        let store = state.store.clone();
        let evaluated = tokio::task::spawn_blocking(move || {
            crate::compliance::record(store.as_ref(), &pack, &to_evaluate, Timestamp::now())
        })
        .await
        .map_err(|_| ApiError::invalid("evaluation task failed"))??;
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

/// `GET /api/v1/targets/{host:port}/latest` (staff roles): the latest report of a target.
pub async fn latest(
    State(state): State<AppState>,
    principal: Principal,
    Path(target): Path<String>,
) -> Result<Json<Value>, ApiError> {
    principal.require(&[
        Role::Administrator,
        Role::Appraiser,
        Role::Approver,
        Role::Viewer,
    ])?;
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || -> Result<Option<Vec<u8>>, StoreError> {
        let Some(id) = store.get(Table::Latest, target.as_bytes())? else {
            return Ok(None);
        };
        let mut key = target.into_bytes();
        key.push(b'/');
        key.extend_from_slice(&id);
        store.get(Table::Reports, &key)
    })
    .await
    .map_err(|_| ApiError::invalid("read task failed"))??;
    let raw = found.ok_or_else(|| ApiError::not_found("report"))?;
    let value: Value =
        serde_json::from_slice(&raw).map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok(Json(value))
}
