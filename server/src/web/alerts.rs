//! The alerts page (`GET /alerts`, staff only): the outbox's counts, the messages that failed
//! for good first (with the relay's last answer and, for administrators, a "send again"
//! button), then those waiting and the latest sent; and the recommendations template every
//! holiday letter ends with, which administrators edit here.
//!
//! - `GET /alerts/preview?holiday=YYYY-MM-DD[&agency=ID]`: what a holiday's reminder would
//!   send (each letter's recipient, subject and text), without sending.
//! - `POST /alerts/retry` (csrf_token, key): a failed message back in the queue.
//! - `POST /alerts/retry-failed` (csrf_token): every failed message back in the queue.
//! - `POST /alerts/recommendations` (csrf_token, text): the template (empty: the default).

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::chrome::{Chrome, Viewer};
use super::error::{WebError, render};
use super::format;
use crate::api::alerts::{OutboxItem, STAFF};
use crate::api::{AppState, blocking};
use crate::model::Role;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/alerts", get(page))
        .route("/alerts/preview", get(preview))
        .route("/alerts/retry", post(retry))
        .route("/alerts/retry-failed", post(retry_failed))
        .route("/alerts/recommendations", post(recommendations))
}

/// One message's row.
struct Row {
    key: String,
    category: &'static str,
    to: String,
    subject: String,
    state: &'static str,
    when: String,
    attempts: u32,
    error: String,
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    c: Chrome,
    admin: bool,
    pending: usize,
    sent: usize,
    failed: usize,
    rows: Vec<Row>,
    recommendations: String,
    notice: String,
    mail_configured: bool,
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    notice: Option<String>,
}

/// `GET /alerts`.
async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    let lang = viewer.lang();
    viewer
        .principal
        .require(STAFF)
        .map_err(|e| WebError::api(e, lang))?;
    let store = state.store.clone();
    let (answer, recommendations) = blocking(move || {
        Ok((
            crate::api::alerts::outbox_answer(store.as_ref(), None, 10_000)?,
            crate::alerts::compose::recommendations(store.as_ref())?,
        ))
    })
    .await
    .map_err(|e| WebError::api(e, lang))?;
    let rank = |i: &OutboxItem| match i.state {
        "failed" => 0,
        "sending" => 1,
        "pending" => 2,
        _ => 3,
    };
    let mut items: Vec<&OutboxItem> = answer.items.iter().collect();
    items.sort_by_key(|i| rank(i));
    let mut sent_shown = 0;
    let rows = items
        .into_iter()
        .filter(|i| {
            if i.state == "sent" {
                sent_shown += 1;
                sent_shown <= 100
            } else {
                true
            }
        })
        .map(|i| Row {
            key: i.key.clone(),
            category: i.category.label_vi(),
            to: i.to.clone(),
            subject: i.subject.clone(),
            state: i.state,
            when: format::datetime(i.done_at.unwrap_or(i.next_attempt_at), lang),
            attempts: i.attempts,
            error: i.last_error.clone().unwrap_or_default(),
        })
        .collect();
    let page = AlertsPage {
        admin: viewer.principal.account.role == Role::Administrator,
        c: viewer.chrome.section("alerts"),
        pending: answer.counts.pending + answer.counts.sending,
        sent: answer.counts.sent,
        failed: answer.counts.failed,
        rows,
        recommendations,
        notice: q.notice.unwrap_or_default(),
        mail_configured: state.mail_configured,
    };
    Ok(render(&page, lang)?.into_response())
}

/// One previewed message.
struct PreviewMessage {
    to: String,
    subject: String,
    text: String,
}

#[derive(Template)]
#[template(path = "alerts_preview.html")]
struct PreviewPage {
    c: Chrome,
    holiday: String,
    block: String,
    reminder: String,
    agencies: usize,
    messages: Vec<PreviewMessage>,
}

#[derive(Debug, Deserialize)]
struct PreviewQuery {
    holiday: Option<String>,
    agency: Option<String>,
}

/// `GET /alerts/preview`.
async fn preview(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<PreviewQuery>,
) -> Result<Response, WebError> {
    let lang = viewer.lang();
    viewer
        .principal
        .require(STAFF)
        .map_err(|e| WebError::api(e, lang))?;
    let now = crate::clock::now();
    let day = match q.holiday.as_deref().filter(|h| !h.is_empty()) {
        Some(text) => text.parse::<jiff::civil::Date>().map_err(|_| {
            WebError::api(
                crate::api::ApiError::invalid("holiday: a date yyyy-mm-dd"),
                lang,
            )
        })?,
        None => format::today(now),
    };
    let agency = match q.agency.as_deref().filter(|a| !a.is_empty()) {
        Some(text) => Some(text.parse::<crate::model::AgencyId>().map_err(|e| {
            WebError::api(crate::api::ApiError::invalid(format!("agency: {e}")), lang)
        })?),
        None => None,
    };
    let (store, index, pack, settings) = (
        state.store.clone(),
        state.index.clone(),
        state.pack(),
        state.alerts.clone(),
    );
    let request = crate::api::AlertsPreview {
        day,
        agency,
        reminder: None,
    };
    let batch = blocking(move || {
        crate::api::alerts_preview(store.as_ref(), &index, &pack, &settings, &request, now)
    })
    .await
    .map_err(|e| WebError::api(e, lang))?
    .ok_or_else(|| WebError::api(crate::api::ApiError::not_found("holiday block"), lang))?;
    let b = &batch.reminder.block;
    let page = PreviewPage {
        c: viewer.chrome.section("alerts"),
        holiday: day.to_string(),
        block: format!(
            "{} ({} – {}, {} {})",
            b.name_vi,
            format::date(b.start, lang),
            format::date(b.end, lang),
            b.days,
            lang.t("ngày", "days")
        ),
        reminder: format!(
            "{} — {}",
            batch.reminder.id,
            format::date(batch.reminder.send_on, lang)
        ),
        agencies: batch.agencies.len(),
        messages: batch
            .drafts
            .iter()
            .map(|d| PreviewMessage {
                to: d.to.to_string(),
                subject: d.subject.clone(),
                text: d.text.clone(),
            })
            .collect(),
    };
    Ok(render(&page, lang)?.into_response())
}

#[derive(Debug, Deserialize)]
struct RetryForm {
    #[serde(default)]
    csrf_token: String,
    key: String,
}

/// `POST /alerts/retry`.
async fn retry(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(f): Form<RetryForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&f.csrf_token)?;
    let lang = viewer.lang();
    let _queued = crate::api::alerts::retry_route(
        State(state),
        viewer.principal,
        axum::Json(crate::api::alerts::RetryBody { key: f.key }),
    )
    .await
    .map_err(|e| WebError::api(e, lang))?;
    Ok(Redirect::to("/alerts?notice=retry").into_response())
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

/// `POST /alerts/retry-failed`.
async fn retry_failed(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&f.csrf_token)?;
    let lang = viewer.lang();
    let _queued = crate::api::alerts::retry_failed_route(State(state), viewer.principal)
        .await
        .map_err(|e| WebError::api(e, lang))?;
    Ok(Redirect::to("/alerts?notice=retry").into_response())
}

#[derive(Debug, Deserialize)]
struct RecommendationsForm {
    #[serde(default)]
    csrf_token: String,
    text: String,
}

/// `POST /alerts/recommendations`.
async fn recommendations(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(f): Form<RecommendationsForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&f.csrf_token)?;
    let lang = viewer.lang();
    let _stored = crate::api::alerts::recommendations_put(
        State(state),
        viewer.principal,
        axum::Json(crate::api::alerts::Recommendations { text: f.text }),
    )
    .await
    .map_err(|e| WebError::api(e, lang))?;
    Ok(Redirect::to("/alerts?notice=saved").into_response())
}
