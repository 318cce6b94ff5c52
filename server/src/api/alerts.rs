//! Alerts (`crate::alerts`) over HTTP: the preview of a holiday's letters, the outbox with its
//! failed sends, sending a failed message again, and the recommendations template.
//!
//! The department's staff (administrators, appraisers, approvers, viewers) read; only
//! administrators change anything. Agency officers see none of it: a letter names other
//! agencies' weaknesses in the summary.

use axum::Json;
use axum::extract::{Query, State};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState, Principal, blocking};
use crate::alerts::outbox::{self, Counts, Record};
use crate::alerts::{self, Evidence, HolidayBatch, compose, facts, holiday};
use crate::model::{AgencyId, Role};

/// The department's staff.
pub(crate) const STAFF: &[Role] = &[
    Role::Administrator,
    Role::Appraiser,
    Role::Approver,
    Role::Viewer,
];

/// `?holiday=YYYY-MM-DD&agency=ID`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewQuery {
    /// A day of the holiday block, or a day before it.
    pub holiday: Date,
    /// Only this agency's letter (no summary).
    pub agency: Option<String>,
    /// Which reminder: `w3`, `d14`... (default: the last one configured, the working-day one).
    pub reminder: Option<String>,
}

/// What to preview.
#[derive(Debug, Clone)]
pub struct PreviewRequest {
    /// A day of the block, or a day before it.
    pub day: Date,
    /// Only this agency's letter.
    pub agency: Option<AgencyId>,
    /// Which reminder (`None`: the last one before the block).
    pub reminder: Option<String>,
}

/// Renders what a holiday reminder would send, without sending or queuing anything.
pub fn preview(
    store: &dyn crate::store::Store,
    index: &crate::index::Index,
    pack: &canhgac_policies::pack::Pack,
    settings: &crate::alerts::settings::AlertSettings,
    request: &PreviewRequest,
    now: jiff::Timestamp,
) -> Result<Option<HolidayBatch>, crate::store::StoreError> {
    let (day, agency, reminder) = (request.day, request.agency, request.reminder.as_deref());
    let Some(block) = holiday::block_at(&pack.calendar, day) else {
        return Ok(None);
    };
    let all: Vec<holiday::Reminder> = [block.start.year(), block.start.year().saturating_sub(1)]
        .into_iter()
        .flat_map(|y| holiday::reminders(&pack.calendar, y, settings))
        .filter(|r| r.block.start == block.start)
        .collect();
    let chosen = match reminder {
        Some(id) => all.iter().find(|r| r.id == id).cloned(),
        None => all.iter().max_by_key(|r| r.send_on).cloned(),
    };
    let reminder = chosen.unwrap_or(holiday::Reminder {
        id: "preview".into(),
        send_on: facts::vietnam_day(now),
        block,
    });
    let waivers = facts::waivers_by_system(store)?;
    let agents = crate::agents::list_agents(store)?;
    let data = index.read(store)?;
    let evidence = Evidence {
        data: &data,
        waivers: &waivers,
        agents: &agents,
        pack,
    };
    alerts::holiday_batch(store, &evidence, settings, &reminder, agency, now).map(Some)
}

/// `GET /api/v1/alerts/preview` (staff).
pub async fn preview_route(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<PreviewQuery>,
) -> Result<Json<HolidayBatch>, ApiError> {
    principal.require(STAFF)?;
    let agency = match &q.agency {
        Some(text) => Some(
            text.parse::<AgencyId>()
                .map_err(|e| ApiError::invalid(format!("agency: {e}")))?,
        ),
        None => None,
    };
    let (store, index, pack, settings) = (
        state.store.clone(),
        state.index.clone(),
        state.pack(),
        state.alerts.clone(),
    );
    let now = crate::clock::now();
    let batch = blocking(move || {
        let request = PreviewRequest {
            day: q.holiday,
            agency,
            reminder: q.reminder,
        };
        preview(store.as_ref(), &index, &pack, &settings, &request, now)
    })
    .await?;
    batch
        .map(Json)
        .ok_or_else(|| ApiError::not_found("holiday block"))
}

/// A message as listed (without its bodies).
#[derive(Debug, Serialize)]
pub struct OutboxItem {
    /// Idempotency key.
    pub key: String,
    /// Kind.
    pub category: outbox::Category,
    /// Recipient.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// `pending`, `sending`, `sent`, `failed`.
    pub state: &'static str,
    /// Queued.
    pub queued_at: jiff::Timestamp,
    /// Attempts.
    pub attempts: u32,
    /// Next attempt (waiting messages).
    pub next_attempt_at: jiff::Timestamp,
    /// Last failure.
    pub last_error: Option<String>,
    /// When it was sent or given up.
    pub done_at: Option<jiff::Timestamp>,
}

impl From<&Record> for OutboxItem {
    fn from(r: &Record) -> OutboxItem {
        OutboxItem {
            key: r.draft.key.clone(),
            category: r.draft.category,
            to: r.draft.to.to_string(),
            subject: r.draft.subject.clone(),
            state: r.state.name(),
            queued_at: r.queued_at,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            last_error: r.last_error.clone(),
            done_at: match r.state {
                outbox::State::Sent { at } | outbox::State::Failed { at } => Some(at),
                _ => None,
            },
        }
    }
}

/// `?state=failed&limit=100`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    /// Only messages in this state.
    pub state: Option<String>,
    /// At most this many (default 200).
    pub limit: Option<usize>,
}

/// The outbox as answered.
#[derive(Debug, Serialize)]
pub struct OutboxAnswer {
    /// Messages by state (all of them).
    pub counts: Counts,
    /// The messages asked for, newest first.
    pub items: Vec<OutboxItem>,
}

/// The outbox's counts and the messages in `state` (all when `None`), newest first.
pub fn outbox_answer(
    store: &dyn crate::store::Store,
    state: Option<&str>,
    limit: usize,
) -> Result<OutboxAnswer, crate::store::StoreError> {
    let all = outbox::list(store, "")?;
    Ok(OutboxAnswer {
        counts: outbox::counts(&all),
        items: all
            .iter()
            .filter(|r| state.is_none_or(|s| r.state.name() == s))
            .take(limit)
            .map(OutboxItem::from)
            .collect(),
    })
}

/// `GET /api/v1/alerts/outbox` (staff).
pub async fn outbox_route(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<OutboxQuery>,
) -> Result<Json<OutboxAnswer>, ApiError> {
    principal.require(STAFF)?;
    if let Some(s) = &q.state
        && !["pending", "sending", "sent", "failed"].contains(&s.as_str())
    {
        return Err(ApiError::invalid(
            "state: one of pending, sending, sent, failed",
        ));
    }
    let store = state.store.clone();
    let limit = q.limit.unwrap_or(200).min(10_000);
    Ok(Json(
        blocking(move || outbox_answer(store.as_ref(), q.state.as_deref(), limit)).await?,
    ))
}

/// `{"key": "..."}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryBody {
    /// The message's key.
    pub key: String,
}

/// `POST /api/v1/alerts/outbox/retry` (administrator): a failed message goes back in the
/// queue.
pub async fn retry_route(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<RetryBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(&[Role::Administrator])?;
    let store = state.store.clone();
    let key = body.key.clone();
    let now = crate::clock::now();
    let done = blocking(move || outbox::retry(store.as_ref(), &key, now)).await?;
    if !done {
        return Err(ApiError::conflict(
            "no failed message with this key (only failed messages are sent again)",
        ));
    }
    tracing::info!(key = %body.key, by = %principal.account.login, "alerts: failed message queued again");
    Ok(Json(
        serde_json::json!({"key": body.key, "state": "pending"}),
    ))
}

/// `POST /api/v1/alerts/outbox/retry-failed` (administrator): every failed message goes back
/// in the queue (after a relay outage).
pub async fn retry_failed_route(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(&[Role::Administrator])?;
    let store = state.store.clone();
    let now = crate::clock::now();
    let n = blocking(move || outbox::retry_failed(store.as_ref(), now)).await?;
    tracing::info!(messages = n, by = %principal.account.login, "alerts: failed messages queued again");
    Ok(Json(serde_json::json!({"queued": n})))
}

/// The recommendations template.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recommendations {
    /// The text, with `{ky_nghi}`, `{tu_ngay}`, `{den_ngay}`, `{co_quan}` placeholders.
    pub text: String,
}

/// `GET /api/v1/alerts/recommendations` (staff).
pub async fn recommendations_get(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Recommendations>, ApiError> {
    principal.require(STAFF)?;
    let store = state.store.clone();
    let text = blocking(move || compose::recommendations(store.as_ref())).await?;
    Ok(Json(Recommendations { text }))
}

/// `PUT /api/v1/alerts/recommendations` (administrator; empty text: the default again).
pub async fn recommendations_put(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<Recommendations>,
) -> Result<Json<Recommendations>, ApiError> {
    principal.require(&[Role::Administrator])?;
    if body.text.len() > 20_000 {
        return Err(ApiError::invalid("text: at most 20,000 bytes"));
    }
    let store = state.store.clone();
    let text = body.text.clone();
    let stored = blocking(move || {
        compose::set_recommendations(store.as_ref(), &text)?;
        compose::recommendations(store.as_ref())
    })
    .await?;
    tracing::info!(by = %principal.account.login, "alerts: recommendations template changed");
    Ok(Json(Recommendations { text: stored }))
}
