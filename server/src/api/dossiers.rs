//! Dossiers over HTTP: create a draft for a system, read it and its audit trail, and apply
//! workflow actions. The state machine is `crate::workflow`; each accepted action stores the
//! new dossier and its audit event in one batch guarded by the dossier as it was read, so two
//! concurrent actions cannot both apply.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Deserialize;
use serde_json::{Value, json};

use super::inventory::{sees_system, visible_system};
use super::{ApiError, AppState, PEOPLE, Principal, blocking};
use crate::model::{Dossier, DossierId, Level, System, User};
use crate::repo;
use crate::store::{Batch, Table};
use crate::workflow::{self, Action, ActionKind, AgencyScope, AuditEvent, WorkflowError};

/// Today in Vietnam (UTC+7 all year: no daylight saving time).
pub(super) fn today(now: Timestamp) -> jiff::civil::Date {
    now.to_zoned_datetime(TimeZone::fixed(jiff::tz::offset(7)))
        .date()
}

fn workflow_error(e: WorkflowError) -> ApiError {
    match e {
        WorkflowError::Forbidden { .. } | WorkflowError::OutOfScope { .. } => ApiError::forbidden(),
        other => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "workflow",
            other.to_string(),
        ),
    }
}

pub(super) fn event_key(e: &AuditEvent) -> String {
    format!("{}/{}", e.dossier, e.id)
}

/// New dossier.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDossier {
    /// The proposed level.
    pub(crate) level: Level,
}

/// `POST /api/v1/systems/{id}/dossiers` (agency officer in scope, administrator).
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Path(system_id): Path<String>,
    body: Result<Json<NewDossier>, JsonRejection>,
) -> Result<(StatusCode, Json<Dossier>), ApiError> {
    principal.require(PEOPLE)?;
    let Json(new) = body?;
    let (system, tree) = visible_system(&state, &principal, &system_id).await?;
    let now = crate::clock::now();
    let scope = AgencyScope::for_system(&system, &tree);
    let id = DossierId::derived(now, &rand::random::<[u8; 16]>());
    let (dossier, event) = workflow::create_draft(
        id,
        &system,
        new.level,
        &principal.account.user(),
        &scope,
        today(now),
        now,
    )
    .map_err(workflow_error)?;
    let store = state.store.clone();
    let saved = dossier.clone();
    blocking(move || {
        store.apply(
            Batch::new()
                .if_absent(Table::Dossiers, saved.id.to_string())
                .put(Table::Dossiers, saved.id.to_string(), repo::json(&saved))
                .put(Table::Events, event_key(&event), repo::json(&event)),
        )
    })
    .await?;
    Ok((StatusCode::CREATED, Json(dossier)))
}

pub(super) async fn visible_dossier(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<(Dossier, System, std::sync::Arc<crate::model::AgencyTree>), ApiError> {
    let store = state.store.clone();
    let key = id.to_string();
    let found = blocking(move || {
        let Some(d) = repo::get::<Dossier>(store.as_ref(), Table::Dossiers, &key)? else {
            return Ok(None);
        };
        let s = repo::get::<System>(store.as_ref(), Table::Systems, &d.system.to_string())?;
        Ok(s.map(|s| (d, s)))
    })
    .await?;
    let Some((dossier, system)) = found else {
        return Err(ApiError::not_found("dossier"));
    };
    let (store, index) = (state.store.clone(), state.index.clone());
    let tree = blocking(move || super::inventory::indexed_tree(store.as_ref(), &index)).await?;
    if !sees_system(principal, &tree, &system) {
        return Err(ApiError::not_found("dossier"));
    }
    Ok((dossier, system, tree))
}

/// A dossier as its reader may see it: the dossier, its system and agency tree, and the
/// actions the reader may take now (shared by the API's `GET` and the web page).
pub(crate) struct DossierView {
    /// The dossier.
    pub(crate) dossier: Dossier,
    /// Its system.
    pub(crate) system: System,
    /// The agency tree the scope was computed from.
    pub(crate) tree: std::sync::Arc<crate::model::AgencyTree>,
    /// What the reader may do now (`workflow::available_actions`).
    pub(crate) actions: Vec<ActionKind>,
}

/// The dossier `id` for `principal` (people, within scope; 404 outside it).
pub(crate) async fn view(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<DossierView, ApiError> {
    principal.require(PEOPLE)?;
    let (dossier, system, tree) = visible_dossier(state, principal, id).await?;
    let scope = AgencyScope::for_system(&system, &tree);
    let actions = workflow::available_actions(&dossier, &principal.account.user(), &scope);
    Ok(DossierView {
        dossier,
        system,
        tree,
        actions,
    })
}

/// `GET /api/v1/dossiers/{id}` (people, within scope): the dossier and the actions the caller
/// may take now.
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let DossierView {
        dossier,
        system,
        actions,
        ..
    } = view(&state, &principal, &id).await?;
    Ok(Json(json!({
        "dossier": dossier,
        "state_vi": dossier.state.label_vi(),
        "system": {"id": system.id, "name": system.name},
        "available_actions": actions,
    })))
}

/// The audit trail of a dossier already checked visible, oldest first.
pub(crate) async fn trail(
    state: &AppState,
    dossier: DossierId,
) -> Result<Vec<AuditEvent>, ApiError> {
    let store = state.store.clone();
    let prefix = format!("{dossier}/");
    blocking(move || repo::list::<AuditEvent>(store.as_ref(), Table::Events, &prefix, 10_000)).await
}

/// `GET /api/v1/dossiers/{id}/events` (people, within scope): the audit trail, oldest first.
pub async fn events(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Vec<AuditEvent>>, ApiError> {
    principal.require(PEOPLE)?;
    let (dossier, _, _) = visible_dossier(&state, &principal, &id).await?;
    Ok(Json(trail(&state, dossier.id).await?))
}

/// The people an audit trail names, by user id, and the appraisers one may assign: every
/// account as the workflow sees it (no password hash), with whether it is disabled. A
/// province has hundreds of accounts, not millions: one scan of the users table.
pub(crate) async fn people(state: &AppState) -> Result<Vec<(User, bool)>, ApiError> {
    let store = state.store.clone();
    blocking(move || {
        let accounts =
            repo::list::<crate::auth::Account>(store.as_ref(), Table::Users, "", usize::MAX)?;
        Ok(accounts
            .into_iter()
            .map(|a| (a.user(), a.disabled))
            .collect())
    })
    .await
}

/// Reads an action from a client's JSON. Document records are refused with a pointer to the
/// upload route: the server computes them from the file itself.
fn client_action(value: Value, dossier_id: &str) -> Result<Action, ApiError> {
    let invents_documents = match value.get("action").and_then(Value::as_str) {
        Some("add_document" | "add_request_document") => true,
        Some("resubmit") => value.get("documents").is_some(),
        _ => false,
    };
    if invents_documents {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "upload_required",
            format!(
                "Tài liệu phải được tải lên dưới dạng tệp qua POST /api/v1/dossiers/{dossier_id}/documents; khi nộp bổ sung, các tệp đã tải lên cho lần bổ sung đang mở được gửi kèm (documents are uploaded as files, not described in JSON; a resubmission sends the files uploaded to the open round)"
            ),
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_json", e.to_string()))
}

/// An assignee must be an appraiser whose account is in use (the workflow leaves it to the
/// caller: it knows users by id only).
async fn check_assignee(state: &AppState, user: crate::model::UserId) -> Result<(), ApiError> {
    let store = state.store.clone();
    let found = blocking(move || {
        Ok(
            repo::list::<crate::auth::Account>(store.as_ref(), Table::Users, "", 100_000)?
                .into_iter()
                .any(|a| a.id == user && a.role == crate::model::Role::Appraiser && !a.disabled),
        )
    })
    .await?;
    if found {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "workflow",
            "Người được phân công phải là cán bộ thẩm định đang hoạt động / the assignee must be an active appraiser",
        ))
    }
}

/// `POST /api/v1/dossiers/{id}/actions` (by role): applies one workflow action, e.g.
/// `{"action": "submit", "letter": {...}}`. Documents are not actions here: they are uploaded
/// (`crate::api::documents`).
pub async fn act(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    principal.require(PEOPLE)?;
    let Json(value) = body?;
    let action = client_action(value, &id)?;
    let (dossier, system, tree) = visible_dossier(&state, &principal, &id).await?;
    if let Action::Assign {
        assignee: Some(user),
    } = &action
    {
        check_assignee(&state, *user).await?;
    }
    let scope = AgencyScope::for_system(&system, &tree);
    let now = crate::clock::now();
    let (next, event) = workflow::apply(
        &dossier,
        action,
        &principal.account.user(),
        &scope,
        &state.pack(),
        today(now),
        now,
    )
    .map_err(workflow_error)?;
    let store = state.store.clone();
    let before = repo::json(&dossier);
    let saved = next.clone();
    let ev = event.clone();
    // An approval becomes the system's approved level (and lowers needs_redetermination), in
    // the same batch as the dossier's transition.
    let approved_system = (next.state == crate::model::DossierState::Approved
        && dossier.state != crate::model::DossierState::Approved)
        .then(|| next.decision.as_ref().map(|d| system.record_approval(d)))
        .flatten();
    blocking(move || {
        let mut batch = Batch::new()
            .if_equals(Table::Dossiers, saved.id.to_string(), before)
            .put(Table::Dossiers, saved.id.to_string(), repo::json(&saved))
            .if_absent(Table::Events, event_key(&ev))
            .put(Table::Events, event_key(&ev), repo::json(&ev));
        if let Some(s) = approved_system {
            batch = batch.put(Table::Systems, s.id.to_string(), repo::json(&s));
        }
        store.apply(batch)
    })
    .await
    .map_err(|e| match e {
        e if e.code() == "conflict" => {
            ApiError::conflict("the dossier changed meanwhile: read it again")
        }
        other => other,
    })?;
    Ok(Json(
        json!({"dossier": next, "state_vi": next.state.label_vi(), "event": event}),
    ))
}
