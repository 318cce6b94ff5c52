//! Waivers of failing rules (`crate::waivers`): appraisers and administrators grant and revoke
//! them; everyone who may see the system reads them (agency officers within their scope).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::inventory::visible_system;
use super::{ApiError, AppState, PEOPLE, Principal, blocking};
use crate::changes::InventoryEvent;
use crate::model::Role;
use crate::repo;
use crate::store::{Batch, StoreError, Table};
use crate::waivers::{self, Revocation, Waiver};

/// Who grants and revokes waivers.
const GRANTORS: &[Role] = &[Role::Appraiser, Role::Administrator];

/// A waiver request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWaiver {
    pub(crate) rule: String,
    pub(crate) reason: String,
    pub(crate) expires_on: Date,
}

/// A waiver as answered: the record and whether it counts today.
#[derive(Debug, Serialize)]
pub struct WaiverView {
    /// The record.
    #[serde(flatten)]
    pub waiver: Waiver,
    /// Whether it counts today.
    pub valid: bool,
}

fn view(waiver: Waiver, today: Date) -> WaiverView {
    WaiverView {
        valid: waiver.is_valid(today),
        waiver,
    }
}

/// Why a waiver was not granted: the request itself (which field: see
/// [`waivers::WaiverError`]) or anything else (role, scope, a valid waiver of the rule
/// already there: 409, storage).
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The rule, reason or expiry is refused (400).
    Invalid(waivers::WaiverError),
    /// Anything else.
    Api(ApiError),
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Refusal {
        Refusal::Api(e)
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        match r {
            Refusal::Invalid(e) => ApiError::invalid(e.to_string()),
            Refusal::Api(e) => e,
        }
    }
}

/// `POST /api/v1/systems/{id}/waivers` (appraiser, administrator).
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Result<Json<NewWaiver>, JsonRejection>,
) -> Result<(StatusCode, Json<WaiverView>), ApiError> {
    let body = body.map(|Json(b)| b).map_err(ApiError::from);
    let waiver = grant(&state, &principal, &id, body).await?;
    Ok((StatusCode::CREATED, Json(waiver)))
}

/// Grants a waiver of system `id` (appraiser, administrator; the system within the caller's
/// sight), as `POST .../waivers` does: the role is checked first, then the system, then the
/// request (`body`, already decoded or refused) against the pack and today.
pub(crate) async fn grant(
    state: &AppState,
    principal: &Principal,
    id: &str,
    body: Result<NewWaiver, ApiError>,
) -> Result<WaiverView, Refusal> {
    principal.require(GRANTORS)?;
    let (system, _) = visible_system(state, principal, id).await?;
    let new = body?;
    let now = crate::clock::now();
    let today = crate::clock::today_vn(now);
    let rule = new.rule.trim().to_string();
    waivers::validate(&state.pack(), &rule, &new.reason, new.expires_on, today)
        .map_err(Refusal::Invalid)?;
    let waiver = Waiver {
        id: crate::changes::new_id(now),
        system: system.id,
        rule,
        reason: new.reason.trim().to_string(),
        expires_on: new.expires_on,
        created_by: principal.account.login.clone(),
        created_at: now,
        revoked: None,
    };
    let store = state.store.clone();
    let saved = waiver.clone();
    let account = principal.account.clone();
    blocking(move || {
        let existing = waivers::of_system(store.as_ref(), &saved.system.to_string())?;
        if let Some(open) = waivers::valid_by_rule(&existing, today).get(saved.rule.as_str()) {
            return Ok(Err(ApiError::conflict(format!(
                "quy tắc {} đã được chấp nhận đến hết {} (waiver {}); thu hồi trước khi cấp mới / a valid waiver of this rule exists: revoke it first",
                saved.rule, open.expires_on, open.id
            ))));
        }
        let event = InventoryEvent::new(
            format!("system:{}", saved.system),
            now,
            &account,
            "waiver_granted",
            json!({"waiver": saved}),
        );
        let key = saved.key();
        let batch = Batch::new()
            .if_absent(Table::Waivers, key.as_bytes())
            .put(Table::Waivers, key, repo::json(&saved));
        store.apply(event.append_to(batch))?;
        Ok(Ok(()))
    })
    .await??;
    Ok(view(waiver, today))
}

/// `GET /api/v1/systems/{id}/waivers` (people, within scope): every waiver of the system,
/// oldest first, with whether it counts today.
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Vec<WaiverView>>, ApiError> {
    principal.require(PEOPLE)?;
    let (system, _) = visible_system(&state, &principal, &id).await?;
    let store = state.store.clone();
    let all = blocking(move || waivers::of_system(store.as_ref(), &system.id.to_string())).await?;
    let today = crate::clock::today_vn(crate::clock::now());
    Ok(Json(all.into_iter().map(|w| view(w, today)).collect()))
}

/// `DELETE /api/v1/systems/{id}/waivers/{waiver_id}` (appraiser, administrator): revokes a
/// waiver; the record is kept with who revoked it and when.
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, waiver_id)): Path<(String, String)>,
) -> Result<Json<WaiverView>, ApiError> {
    principal.require(GRANTORS)?;
    let (system, _) = visible_system(&state, &principal, &id).await?;
    let now = crate::clock::now();
    let store = state.store.clone();
    let account = principal.account.clone();
    let key = format!("{}/{}", system.id, waiver_id);
    if waiver_id.contains('/') {
        return Err(ApiError::not_found("waiver"));
    }
    let revoked = blocking(move || -> Result<Result<Waiver, ApiError>, StoreError> {
        let Some(raw) = store.get(Table::Waivers, key.as_bytes())? else {
            return Ok(Err(ApiError::not_found("waiver")));
        };
        let waiver: Waiver = serde_json::from_slice(&raw)
            .map_err(|e| StoreError::Corrupt(format!("waivers {key}: {e}")))?;
        if let Some(r) = &waiver.revoked {
            return Ok(Err(ApiError::conflict(format!(
                "waiver {} was revoked by {} at {}",
                waiver.id, r.by, r.at
            ))));
        }
        let revoked = Waiver {
            revoked: Some(Revocation {
                by: account.login.clone(),
                at: now,
            }),
            ..waiver
        };
        let event = InventoryEvent::new(
            format!("system:{}", revoked.system),
            now,
            &account,
            "waiver_revoked",
            json!({"waiver": revoked.id, "rule": revoked.rule}),
        );
        let batch = Batch::new()
            .if_equals(Table::Waivers, key.as_bytes(), raw)
            .put(Table::Waivers, key.as_bytes(), repo::json(&revoked));
        store.apply(event.append_to(batch))?;
        Ok(Ok(revoked))
    })
    .await??;
    Ok(Json(view(revoked, crate::clock::today_vn(now))))
}
