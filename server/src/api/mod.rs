//! The HTTP API under `/api/v1/`, plus `/healthz` and `/metrics`.
//!
//! Every route states the roles it admits and checks them on the server; errors are JSON
//! (`{"error": {"code", "message"}}`) with 4xx for every client mistake.

mod dossiers;
mod error;
mod inventory;
mod reports;

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

use crate::auth::{self, Account};
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
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The policy pack (workflow, calendar, rules).
    pub pack: Arc<canhgac_policies::pack::Pack>,
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

/// The caller: an account authenticated by a bearer token.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The account.
    pub account: Account,
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
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers).ok_or_else(ApiError::unauthenticated)?;
        let store = state.store.clone();
        let account =
            tokio::task::spawn_blocking(move || auth::account_for_token(store.as_ref(), &token))
                .await
                .map_err(|_| ApiError::unauthenticated())??
                .ok_or_else(ApiError::unauthenticated)?;
        Ok(Principal { account })
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ")?.trim();
    (!token.is_empty() && token.len() < 200).then(|| token.to_string())
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
        .route("/api/v1/reports", post(reports::ingest))
        .route("/api/v1/targets/{target}/latest", get(reports::latest))
        .route(
            "/api/v1/agencies",
            post(inventory::create_agency).get(inventory::list_agencies),
        )
        .route("/api/v1/users", post(inventory::create_user))
        .route(
            "/api/v1/systems",
            post(inventory::create_system).get(inventory::list_systems),
        )
        .route("/api/v1/systems/{id}", get(inventory::get_system))
        .route(
            "/api/v1/systems/{id}/compliance",
            get(inventory::get_compliance),
        )
        .route("/api/v1/systems/{id}/dossiers", post(dossiers::create))
        .route("/api/v1/dossiers/{id}", get(dossiers::get))
        .route("/api/v1/dossiers/{id}/events", get(dossiers::events))
        .route("/api/v1/dossiers/{id}/actions", post(dossiers::act))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), count))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}
