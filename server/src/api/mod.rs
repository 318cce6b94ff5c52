//! The HTTP API under `/api/v1/`, plus `/healthz` and `/metrics`.
//!
//! Every route states the roles it admits and checks them on the server; errors are JSON
//! (`{"error": {"code", "message"}}`) with 4xx for every client mistake.

pub(crate) mod agents;
pub(crate) mod alerts;
pub use self::alerts::{
    PreviewRequest as AlertsPreview, outbox_answer as alerts_outbox, preview as alerts_preview,
};
pub(crate) mod calendar;
pub(crate) mod documents;
pub(crate) mod dossiers;
mod error;
pub(crate) mod exchange;
pub(crate) mod inventory;
pub(crate) mod listing;
mod openapi;
pub(crate) mod reports;
pub(crate) mod session;
pub(crate) mod tokens;
pub(crate) mod waivers;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::json;

pub use error::ApiError;
pub use session::FormSession;

use crate::auth::Account;
use crate::model::Role;
use crate::store::Store;

/// Everyone who reads the inventory: staff and agency officers (agents and machines excluded).
pub(crate) const PEOPLE: &[Role] = &[
    Role::Administrator,
    Role::Appraiser,
    Role::Approver,
    Role::Viewer,
    Role::AgencyOfficer,
];

/// Counters exported at `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests answered.
    pub requests: AtomicU64,
    /// Reports stored (duplicates excluded).
    pub reports_ingested: AtomicU64,
    /// Duplicate uploads recognised.
    pub reports_duplicate: AtomicU64,
    /// The alert loop's counters (queued, sent, retried, failed since start).
    pub alerts: Arc<crate::alerts::worker::AlertStats>,
    /// When each agent account last uploaded a report (since this process started).
    pub agents_seen: std::sync::Mutex<std::collections::HashMap<String, jiff::Timestamp>>,
}

impl Metrics {
    /// Notes an upload by `agent` at `now`.
    pub fn agent_seen(&self, agent: &str, now: jiff::Timestamp) {
        if let Ok(mut seen) = self.agents_seen.lock() {
            seen.insert(agent.to_string(), now);
        }
    }

    /// Agents that uploaded within `window` before `now`.
    pub fn agents_seen_within(&self, now: jiff::Timestamp, window: jiff::SignedDuration) -> usize {
        self.agents_seen
            .lock()
            .map(|seen| {
                seen.values()
                    .filter(|t| now.duration_since(**t) <= window)
                    .count()
            })
            .unwrap_or(0)
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The policy pack (workflow, calendar, rules), with the administrator's official holiday
    /// schedules applied (`crate::calendar::effective_pack`); replaced when they change. Read
    /// it with [`AppState::pack`].
    pub pack: Arc<crate::packs::PackCell>,
    /// Largest dossier document an upload may carry, in bytes.
    pub max_document_bytes: usize,
    /// Session settings and sign-in throttling.
    pub access: Arc<crate::sessions::Access>,
    /// The in-memory read index of agencies, systems and dossiers (`crate::index`), kept up to
    /// date by `store` (an `IndexedStore` around the real store).
    pub index: Arc<crate::index::Index>,
    /// Days an unchanged report is kept (`crate::retention`; 0: keep all).
    pub report_retention_days: u32,
    /// Alert schedules and recipients (`crate::alerts`), for previews.
    pub alerts: Arc<crate::alerts::settings::AlertSettings>,
    /// Whether a mail relay is configured (alerts are sent).
    pub mail_configured: bool,
}

impl AppState {
    /// The current policy pack: one snapshot, to use for the whole request.
    pub fn pack(&self) -> Arc<canhgac_policies::pack::Pack> {
        self.pack.get()
    }
}

/// Runs blocking storage work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError::invalid("a storage task failed"))?
        .map_err(ApiError::from)
}

/// The caller: an account authenticated by a bearer token or a browser session (see
/// `docs/access.md`). Cookie-authenticated writes (any method but GET, HEAD, OPTIONS) must
/// carry the session's CSRF token in `X-CSRF-Token` and, when they have an `Origin` or
/// `Referer`, come from the server's own origin; HTML forms use [`FormSession`] instead.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The account.
    pub account: Account,
    /// How it authenticated.
    pub via: Via,
}

/// How a [`Principal`] authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// An API token (`Authorization: Bearer cgk_...`).
    Token {
        /// The token's id.
        id: String,
    },
    /// A browser session (the `canhgac_session` cookie).
    Session {
        /// The session's key (the SHA-256 of its id).
        key: String,
        /// The session's CSRF token.
        csrf_token: String,
        /// The session's absolute end.
        expires_at: jiff::Timestamp,
    },
    /// The local-administration token of the control listener.
    Local,
}

impl Principal {
    /// Refuses unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.account.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }

    /// The CSRF token to put in HTML forms (`csrf_token` field), for session callers.
    pub fn csrf_token(&self) -> Option<&str> {
        match &self.via {
            Via::Session { csrf_token, .. } => Some(csrf_token),
            _ => None,
        }
    }

    /// Checks a submitted CSRF token (a form's `csrf_token` field) the way the API checks
    /// `X-CSRF-Token`: session callers must echo their session's token; token callers need
    /// none (a browser never attaches a bearer token by itself).
    pub fn check_csrf(&self, submitted: Option<&str>) -> Result<(), ApiError> {
        match &self.via {
            Via::Session { csrf_token, .. } => match submitted {
                Some(s) if crate::sessions::same_secret(s, csrf_token) => Ok(()),
                _ => Err(ApiError::csrf()),
            },
            _ => Ok(()),
        }
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        session::authenticate(parts, state, true).await
    }
}

/// The bearer token of a request: `Ok(None)` without `Authorization`, `Err` when the header
/// is there but is not a plausible bearer token.
fn bearer(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ApiError::unauthenticated())?;
    let token = value
        .strip_prefix("Bearer ")
        .ok_or_else(ApiError::unauthenticated)?
        .trim();
    if token.is_empty() || token.len() >= 200 {
        return Err(ApiError::unauthenticated());
    }
    Ok(Some(token.to_string()))
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    axum::Json(
        json!({"status": "ok", "engine": state.store.engine(), "version": env!("CARGO_PKG_VERSION")}),
    )
}

async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let store = state.store.clone();
    let stats = tokio::task::spawn_blocking(move || store.stats())
        .await
        .map_err(|_| ApiError::invalid("stats task failed"))??;
    let m = &state.metrics;
    let mut out = String::new();
    out.push_str("# HELP canhgac_requests_total HTTP requests answered.\n# TYPE canhgac_requests_total counter\n");
    out.push_str(&format!(
        "canhgac_requests_total {}\n",
        m.requests.load(Ordering::Relaxed)
    ));
    out.push_str("# HELP canhgac_reports_ingested_total Scan reports stored.\n# TYPE canhgac_reports_ingested_total counter\n");
    out.push_str(&format!(
        "canhgac_reports_ingested_total {}\n",
        m.reports_ingested.load(Ordering::Relaxed)
    ));
    out.push_str("# HELP canhgac_reports_duplicate_total Uploads of reports already stored.\n# TYPE canhgac_reports_duplicate_total counter\n");
    out.push_str(&format!(
        "canhgac_reports_duplicate_total {}\n",
        m.reports_duplicate.load(Ordering::Relaxed)
    ));
    let now = crate::clock::now();
    out.push_str("# HELP canhgac_agents_seen Agent accounts that uploaded a report (since start; window: 1 hour, 1 day).\n# TYPE canhgac_agents_seen gauge\n");
    for (window, hours) in [("1h", 1), ("24h", 24)] {
        out.push_str(&format!(
            "canhgac_agents_seen{{window=\"{window}\"}} {}\n",
            m.agents_seen_within(now, jiff::SignedDuration::from_hours(hours))
        ));
    }
    let store = state.store.clone();
    let index = state.index.clone();
    let by_state = tokio::task::spawn_blocking(move || {
        let data = index.read(store.as_ref())?;
        let mut counts = [0u64; crate::model::DossierState::ALL.len()];
        for d in data.dossiers.values() {
            if let Some(i) = crate::model::DossierState::ALL
                .iter()
                .position(|s| *s == d.state)
            {
                counts[i] += 1;
            }
        }
        Ok::<_, crate::store::StoreError>(counts)
    })
    .await
    .map_err(|_| ApiError::invalid("metrics task failed"))??;
    out.push_str(
        "# HELP canhgac_dossiers Dossiers by workflow state.\n# TYPE canhgac_dossiers gauge\n",
    );
    for (st, n) in crate::model::DossierState::ALL.iter().zip(by_state) {
        out.push_str(&format!("canhgac_dossiers{{state=\"{}\"}} {n}\n", st.id()));
    }
    let a = &m.alerts;
    out.push_str("# HELP canhgac_alerts_total Alert e-mails by outcome since start (queued, sent, retried attempts, failed for good).\n# TYPE canhgac_alerts_total counter\n");
    for (what, n) in [
        ("queued", &a.queued),
        ("sent", &a.sent),
        ("retried", &a.retried),
        ("failed", &a.failed),
    ] {
        out.push_str(&format!(
            "canhgac_alerts_total{{outcome=\"{what}\"}} {}\n",
            n.load(Ordering::Relaxed)
        ));
    }
    let store = state.store.clone();
    let waiting =
        tokio::task::spawn_blocking(move || crate::alerts::outbox::waiting(store.as_ref()))
            .await
            .map_err(|_| ApiError::invalid("metrics task failed"))??;
    out.push_str("# HELP canhgac_alerts_waiting Alert e-mails waiting in the outbox (pending or being sent).\n# TYPE canhgac_alerts_waiting gauge\n");
    out.push_str(&format!("canhgac_alerts_waiting {waiting}\n"));
    out.push_str("# HELP canhgac_store_size_bytes Size of the store on disk.\n# TYPE canhgac_store_size_bytes gauge\n");
    out.push_str(&format!("canhgac_store_size_bytes {}\n", stats.size_bytes));
    out.push_str(
        "# HELP canhgac_store_entries Entries per table.\n# TYPE canhgac_store_entries gauge\n",
    );
    for (table, n) in stats.entries {
        out.push_str(&format!(
            "canhgac_store_entries{{table=\"{}\"}} {n}\n",
            table.name()
        ));
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}

async fn count(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    state.metrics.requests.fetch_add(1, Ordering::Relaxed);
    next.run(request).await
}

async fn not_found() -> ApiError {
    ApiError::not_found("route")
}

/// The router.
pub fn router(state: AppState, max_body: usize) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route("/api/v1/reports", post(reports::ingest))
        .route("/api/v1/targets/{target}/latest", get(reports::latest))
        .route("/api/v1/targets/{target}/history", get(reports::history))
        .route(
            "/api/v1/agencies",
            post(inventory::create_agency).get(inventory::list_agencies),
        )
        .route(
            "/api/v1/agencies/{id}",
            axum::routing::patch(inventory::patch_agency),
        )
        .route("/api/v1/agencies/{id}/merge", post(inventory::merge_agency))
        .route("/api/v1/users", post(inventory::create_user))
        .route(
            "/api/v1/users/{login}",
            axum::routing::patch(session::update_user),
        )
        .route(
            "/api/v1/session",
            post(session::sign_in)
                .get(session::whoami)
                .delete(session::sign_out),
        )
        .route("/api/v1/me/password", post(session::change_password))
        .route("/api/v1/tokens", post(tokens::create).get(tokens::list))
        .route("/api/v1/tokens/{id}", axum::routing::delete(tokens::revoke))
        .route("/api/v1/admin/backup", post(crate::control::backup))
        .route(
            "/api/v1/systems",
            post(inventory::create_system).get(listing::list_systems),
        )
        .route(
            "/api/v1/systems/{id}",
            get(inventory::get_system).patch(inventory::patch_system),
        )
        .route(
            "/api/v1/systems/{id}/waivers",
            post(waivers::create).get(waivers::list),
        )
        .route(
            "/api/v1/systems/{id}/waivers/{waiver_id}",
            axum::routing::delete(waivers::revoke),
        )
        .route(
            "/api/v1/systems/{id}/compliance",
            get(inventory::get_compliance),
        )
        .route("/api/v1/systems/{id}/dossiers", post(dossiers::create))
        .route("/api/v1/systems/{id}/scan", post(agents::scan_now))
        .route(
            "/api/v1/enrollments",
            post(agents::create_enrollment).get(agents::list_enrollments),
        )
        .route("/api/v1/agents/enroll", post(agents::enroll))
        .route("/api/v1/agent/checkin", post(agents::checkin))
        .route("/api/v1/agents", get(agents::list))
        .route(
            "/api/v1/agents/{id}",
            get(agents::get).patch(agents::patch).delete(agents::revoke),
        )
        .route("/api/v1/import/inventory", post(exchange::import))
        .route("/api/v1/export/systems", get(exchange::export))
        .route("/api/v1/reports/weekly", get(exchange::weekly))
        .route(
            "/api/v1/calendar/official",
            get(calendar::list).put(calendar::put_official),
        )
        .route(
            "/api/v1/calendar/official/{year}",
            axum::routing::delete(calendar::delete_official),
        )
        .route("/api/v1/calendar/{year}", get(calendar::get_year))
        .route("/api/v1/alerts/preview", get(alerts::preview_route))
        .route("/api/v1/alerts/outbox", get(alerts::outbox_route))
        .route("/api/v1/alerts/outbox/retry", post(alerts::retry_route))
        .route(
            "/api/v1/alerts/outbox/retry-failed",
            post(alerts::retry_failed_route),
        )
        .route(
            "/api/v1/alerts/recommendations",
            get(alerts::recommendations_get).put(alerts::recommendations_put),
        )
        .route("/api/v1/dossiers", get(listing::list_dossiers))
        .route("/api/v1/dossiers/{id}", get(dossiers::get))
        .route("/api/v1/dossiers/{id}/events", get(dossiers::events))
        .route("/api/v1/dossiers/{id}/actions", post(dossiers::act))
        .route(
            "/api/v1/dossiers/{id}/documents",
            post(documents::upload).layer(DefaultBodyLimit::max(
                crate::documents::upload_body_limit(state.max_document_bytes),
            )),
        )
        .route(
            "/api/v1/dossiers/{id}/documents/{document_id}",
            get(documents::download),
        )
        // The web UI's pages (crate::web), over the same handlers.
        .merge(crate::web::routes(&state))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), count))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}
