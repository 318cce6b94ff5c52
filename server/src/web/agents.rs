//! The agents page (`GET /agents`): every scanning agent the caller may see, with its network
//! and agency, version, last contact, spool depth, number of targets and schedule, the silent
//! ones in red. The list is `GET /api/v1/agents`'s (`crate::api::agents::listed`): staff see
//! every agent, an agency officer those of their agency's subtree.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::chrome::{Chrome, Lang, Viewer};
use super::error::{WebError, render};
use super::format;
use crate::api::AppState;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route("/agents", get(page))
}

/// An agent's row.
struct AgentRow {
    id: String,
    name: String,
    hostname: String,
    network: String,
    agency: String,
    version: String,
    last_seen: String,
    spool: String,
    targets: String,
    interval: String,
    checkin: String,
    /// `silent`, `revoked` or `ok`.
    status: &'static str,
    status_label: &'static str,
}

#[derive(Template)]
#[template(path = "agents.html")]
struct AgentsPage {
    c: Chrome,
    agents: Vec<AgentRow>,
    silent: usize,
}

/// A duration in seconds, in the largest whole unit: "6 giờ", "90 giây".
fn duration(seconds: u64, lang: Lang) -> String {
    let (n, vi, en) = match seconds {
        0 => (0, "giây", "s"),
        s if s % 86_400 == 0 => (s / 86_400, "ngày", "d"),
        s if s % 3_600 == 0 => (s / 3_600, "giờ", "h"),
        s if s % 60 == 0 => (s / 60, "phút", "min"),
        s => (s, "giây", "s"),
    };
    format!("{} {}", format::count(n, lang), lang.t(vi, en))
}

/// `GET /agents`.
async fn page(State(state): State<AppState>, viewer: Viewer) -> Result<Response, WebError> {
    let lang = viewer.lang();
    let listed = crate::api::agents::listed(&state, &viewer.principal, true)
        .await
        .map_err(|e| WebError::api(e, lang))?;
    let agents: Vec<AgentRow> = listed
        .iter()
        .map(|l| {
            let a = &l.agent;
            let (status, status_label) = if a.revoked_at.is_some() {
                ("revoked", lang.t("Đã thu hồi", "Revoked"))
            } else if l.silent {
                ("silent", lang.t("Mất liên lạc", "Not reporting"))
            } else {
                ("ok", lang.t("Đang hoạt động", "Reporting"))
            };
            AgentRow {
                id: a.id.to_string(),
                name: a.name.clone(),
                hostname: a.hostname.clone(),
                network: a.network.clone(),
                agency: l
                    .agency_name
                    .clone()
                    .unwrap_or_else(|| a.agency.to_string()),
                version: a
                    .health
                    .as_ref()
                    .map_or_else(|| "—".to_string(), |h| h.version.clone()),
                last_seen: a.last_seen.map_or_else(
                    || lang.t("chưa từng liên lạc", "never").to_string(),
                    |t| format::datetime(t, lang),
                ),
                spool: a
                    .health
                    .as_ref()
                    .map_or_else(|| "—".to_string(), |h| format::count(h.spool_depth, lang)),
                targets: l
                    .targets
                    .map_or_else(|| "—".to_string(), |n| format::count(n as u64, lang)),
                interval: duration(a.schedule.interval_seconds, lang),
                checkin: duration(a.schedule.checkin_seconds, lang),
                status,
                status_label,
            }
        })
        .collect();
    let page = AgentsPage {
        c: viewer.chrome.section("agents"),
        silent: agents.iter().filter(|a| a.status == "silent").count(),
        agents,
    };
    Ok(render(&page, lang)?.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_their_largest_whole_unit() {
        assert_eq!(duration(21_600, Lang::Vi), "6 giờ");
        assert_eq!(duration(86_400 * 2, Lang::Vi), "2 ngày");
        assert_eq!(duration(300, Lang::En), "5 min");
        assert_eq!(duration(90, Lang::Vi), "90 giây");
        assert_eq!(duration(0, Lang::Vi), "0 giây");
    }
}
