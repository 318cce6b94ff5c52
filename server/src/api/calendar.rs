//! The holiday calendar (`crate::calendar`): any signed-in account reads a year; administrators
//! store and remove the government's official schedules, which take precedence over the policy
//! pack's data from the next request on (the server's pack is replaced, `crate::packs`).
//!
//! - `GET /api/v1/calendar/{year}`: the year's days off (each marked `official` or not), blocks,
//!   make-up working days, working-day count and the stored official record.
//! - `GET /api/v1/calendar/official`: every stored official schedule.
//! - `PUT /api/v1/calendar/official` (administrator): the body is a TOML file of `[[schedule]]`
//!   entries (one or more years); 422 `invalid_calendar` with `line` and `column` when it does
//!   not parse or validate.
//! - `DELETE /api/v1/calendar/official/{year}` (administrator).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{ApiError, AppState, Principal, blocking};
use crate::calendar::{self, OfficialError, OfficialRecord, YearCalendar, YearChange};
use crate::model::Role;

/// Who stores and removes official schedules.
const ADMINISTRATORS: &[Role] = &[Role::Administrator];

/// The years a calendar can be asked for (as `canhgac-server calendar YEAR`).
pub(crate) const YEARS: std::ops::RangeInclusive<i16> = 1900..=2199;

/// Serialises changes of the official schedules within this process: store, then the pack.
static WRITES: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Why an official schedule was not stored or removed.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The file does not parse or validate: the message (`file:line:column: ...`), line and
    /// column (422).
    Invalid {
        /// The whole message.
        message: String,
        /// 1-based line.
        line: Option<usize>,
        /// 1-based column.
        column: Option<usize>,
    },
    /// Anything else (role, storage, a year with nothing stored).
    Api(ApiError),
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Refusal {
        Refusal::Api(e)
    }
}

impl From<OfficialError> for Refusal {
    fn from(e: OfficialError) -> Refusal {
        match e {
            OfficialError::Invalid(_) => {
                let (line, column) = e.position().unwrap_or((None, None));
                Refusal::Invalid {
                    message: e.to_string(),
                    line,
                    column,
                }
            }
            OfficialError::NotFound(year) => {
                Refusal::Api(ApiError::not_found(&format!("official schedule of {year}")))
            }
            OfficialError::Stale { .. } => Refusal::Api(ApiError::conflict(e.to_string())),
            OfficialError::Store(e) => Refusal::Api(ApiError::from(e)),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Invalid {
                message,
                line,
                column,
            } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(
                    json!({"error": {"code": "invalid_calendar", "message": message,
                    "line": line, "column": column}}),
                ),
            )
                .into_response(),
            Refusal::Api(e) => e.into_response(),
        }
    }
}

/// A year of a path, or 400.
fn year_of(text: &str) -> Result<i16, ApiError> {
    text.trim()
        .parse::<i16>()
        .ok()
        .filter(|y| YEARS.contains(y))
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "năm không hợp lệ / not a year from {} to {}: {text:?}",
                YEARS.start(),
                YEARS.end()
            ))
        })
}

/// The calendar of `year` under the server's current pack, with its stored record.
pub(crate) async fn year_view(state: &AppState, year: i16) -> Result<YearCalendar, ApiError> {
    let pack = state.pack();
    let store = state.store.clone();
    blocking(move || calendar::year_in_store(store.as_ref(), &pack.calendar, year)).await
}

/// `GET /api/v1/calendar/{year}` (any signed-in account).
pub async fn get_year(
    State(state): State<AppState>,
    _principal: Principal,
    Path(year): Path<String>,
) -> Result<Json<YearCalendar>, ApiError> {
    let year = year_of(&year)?;
    Ok(Json(year_view(&state, year).await?))
}

/// `GET /api/v1/calendar/official` (any signed-in account): every stored official schedule,
/// by year.
pub async fn list(
    State(state): State<AppState>,
    _principal: Principal,
) -> Result<Json<Vec<OfficialRecord>>, ApiError> {
    let store = state.store.clone();
    Ok(Json(
        blocking(move || calendar::list(store.as_ref())).await?,
    ))
}

/// Stores an official schedule file (administrator) as `PUT /api/v1/calendar/official` does,
/// then replaces the server's pack; `label` names the file in error messages.
pub(crate) async fn store_official(
    state: &AppState,
    principal: &Principal,
    text: String,
    label: &str,
) -> Result<Vec<YearChange>, Refusal> {
    principal.require(ADMINISTRATORS)?;
    let st = state.clone();
    let by = principal.account.login.clone();
    let label = label.to_string();
    let changes = tokio::task::spawn_blocking(move || -> Result<_, OfficialError> {
        let _one_at_a_time = WRITES.lock().unwrap_or_else(|e| e.into_inner());
        let base = st.pack.base();
        let changes = calendar::import(
            st.store.as_ref(),
            &base,
            &text,
            &label,
            &by,
            crate::clock::now(),
        )?;
        st.pack
            .set(calendar::effective_pack(st.store.as_ref(), &base)?);
        Ok(changes)
    })
    .await
    .map_err(|_| ApiError::invalid("a calendar task failed"))??;
    for c in &changes {
        tracing::info!(target: "canhgac::audit", by = %principal.account.login, year = c.year,
            replaced = c.had_official, days_off_before = c.days_off_before.len(),
            days_off_after = c.days_off_after.len(), "official holiday schedule stored");
    }
    Ok(changes)
}

/// `PUT /api/v1/calendar/official` (administrator): the body is the TOML text.
pub async fn put_official(
    State(state): State<AppState>,
    principal: Principal,
    body: Bytes,
) -> Result<Json<serde_json::Value>, Refusal> {
    principal.require(ADMINISTRATORS)?;
    let text = String::from_utf8(body.to_vec()).map_err(|_| {
        ApiError::invalid(
            "the body must be the TOML text, in UTF-8 / nội dung phải là văn bản TOML UTF-8",
        )
    })?;
    let changes = store_official(&state, &principal, text, "official.toml").await?;
    Ok(Json(json!({ "years": changes })))
}

/// Removes a year's official schedule (administrator) as `DELETE
/// /api/v1/calendar/official/{year}` does, then replaces the server's pack.
pub(crate) async fn remove_official(
    state: &AppState,
    principal: &Principal,
    year: i16,
) -> Result<YearChange, Refusal> {
    principal.require(ADMINISTRATORS)?;
    let st = state.clone();
    let change = tokio::task::spawn_blocking(move || -> Result<_, OfficialError> {
        let _one_at_a_time = WRITES.lock().unwrap_or_else(|e| e.into_inner());
        let base = st.pack.base();
        let change = calendar::remove(st.store.as_ref(), &base, year)?;
        st.pack
            .set(calendar::effective_pack(st.store.as_ref(), &base)?);
        Ok(change)
    })
    .await
    .map_err(|_| ApiError::invalid("a calendar task failed"))??;
    tracing::info!(target: "canhgac::audit", by = %principal.account.login, year,
        days_off_before = change.days_off_before.len(), days_off_after = change.days_off_after.len(),
        "official holiday schedule removed");
    Ok(change)
}

/// `DELETE /api/v1/calendar/official/{year}` (administrator).
pub async fn delete_official(
    State(state): State<AppState>,
    principal: Principal,
    Path(year): Path<String>,
) -> Result<Json<YearChange>, Refusal> {
    principal.require(ADMINISTRATORS)?;
    let year = year_of(&year)?;
    Ok(Json(remove_official(&state, &principal, year).await?))
}
