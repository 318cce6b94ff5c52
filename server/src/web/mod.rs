//! The officers' web UI: server-rendered HTML pages for the department's staff and the
//! agencies' officers, Vietnamese first (English switchable), with no JavaScript required.
//!
//! The pages are a presenter over the JSON API: every read and every change goes through the
//! same handler functions as `/api/v1/` (role and agency scope checked there, once), called
//! with the browser session's [`crate::api::Principal`]. Templates are askama files under
//! `server/templates/`, compiled with the binary and escaped automatically; forms carry the
//! session's CSRF token and are checked by [`Viewer::check_csrf`] before anything is done.
//!
//! Each page module owns its routes ([`routes`] merges them): `signin` (sign-in, sign-out,
//! password), `dashboard`, `systems` (list, new system, export), `system` (one system),
//! `dossiers` (list, letter lookup), `dossier` (one dossier: timeline, actions, documents),
//! `weekly`, `agents`, `calendar` (the holiday calendar, `/lich`).

mod agents;
mod alerts;
mod calendar;
mod chart;
mod chrome;
mod dashboard;
mod dossier;
mod dossiers;
mod error;
mod format;
mod signin;
mod system;
mod systems;
mod weekly;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;

pub use chrome::{Chrome, Lang, Viewer};
pub use error::WebError;

use crate::api::AppState;

/// Every page's route (`state` for settings such as the document size limit).
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/static/app.css", get(stylesheet))
        .route("/lang/{lang}", get(chrome::switch_lang))
        .merge(signin::routes())
        .merge(dashboard::routes())
        .merge(systems::routes())
        .merge(system::routes())
        .merge(dossiers::routes())
        .merge(dossier::routes(state))
        .merge(weekly::routes())
        .merge(agents::routes())
        .merge(calendar::routes())
        .merge(alerts::routes())
}

/// The one stylesheet (screen, phone width and print), compiled into the binary.
async fn stylesheet() -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        include_str!("../../static/app.css"),
    )
}
