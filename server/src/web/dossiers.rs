//! The dossiers list of the web UI: every level-proposal dossier the viewer may see, with the
//! letter it was sent with ("VB số 2559/SCT-VP ngày 25/5/2021"), its system and agency, the
//! proposed level, where it stands, its deadline (working days left, or overdue in red) and
//! the appraiser in charge; and the lookup by letter reference that officers use when a
//! letter lands on their desk ("2559/SCT-VP"), which opens the dossier at once when exactly
//! one matches.
//!
//! A presenter over `GET /api/v1/dossiers`: the page's filters become that route's query
//! string and go through the same code (`crate::api::listing`: role check, agency scope,
//! filters, order, days late), so an agency officer sees only their agency's dossiers, here
//! as in the API.
//!
//! - `GET /dossiers?state=&agency=&overdue=true&letter=&q=&sort=&page=`: 50 rows a page.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use canhgac_policies::pack::workflow::DayCount;

use super::chrome::{Chrome, Lang, Viewer};
use super::error::{WebError, render};
use super::format;
use super::systems::{
    AgencyOption, Choice, Column, PER_PAGE, Pager, agency_options, page_number, page_query,
    plain_column, query_string, query_values, sort_column, state_choices, state_label, with_query,
};
use crate::api::AppState;
use crate::api::listing::{DossierQuery, with_dossiers};
use crate::index::{DossierEntry, IndexData};
use crate::model::{DossierState, UserId};
use crate::repo;
use crate::store::Table;

/// More agencies than this in the filter's list are cut to the upper levels of the tree.
const MAX_FILTER_AGENCIES: usize = 400;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new().route("/dossiers", get(list))
}

/// The filters of the page as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Filters {
    state: String,
    agency: String,
    overdue: String,
    letter: String,
    q: String,
    sort: String,
    page: usize,
}

const FILTER_KEYS: &[&str] = &["state", "agency", "overdue", "letter", "q", "sort", "page"];

impl Filters {
    fn from_query(raw: Option<&str>) -> Filters {
        let mut v = query_values(raw, FILTER_KEYS);
        let mut take = |k: &str| v.remove(k).unwrap_or_default();
        Filters {
            state: take("state"),
            agency: take("agency"),
            overdue: take("overdue"),
            letter: take("letter"),
            q: take("q"),
            sort: take("sort"),
            page: page_number(Some(&take("page"))),
        }
    }

    fn pairs(&self) -> [(&'static str, &str); 5] {
        [
            ("state", &self.state),
            ("agency", &self.agency),
            ("overdue", &self.overdue),
            ("letter", &self.letter),
            ("q", &self.q),
        ]
    }

    /// This page's query with another sort and page (page 1 is left out).
    fn query(&self, sort: &str, page: usize) -> String {
        page_query(&self.pairs(), sort, page)
    }

    /// The query of the API's list route for this page.
    fn api_query(&self) -> String {
        let offset = (self.page - 1).saturating_mul(PER_PAGE).to_string();
        let limit = PER_PAGE.to_string();
        let mut pairs = self.pairs().to_vec();
        pairs.push(("sort", &self.sort));
        pairs.push(("limit", &limit));
        pairs.push(("offset", &offset));
        query_string(&pairs)
    }
}

/// One row of the table.
#[derive(Debug, Clone)]
struct Line {
    id: String,
    letter: Option<String>,
    created: String,
    system_id: String,
    system: String,
    agency: String,
    level: u8,
    state: String,
    deadline: String,
    due: String,
    overdue: bool,
    assignee: String,
    assignee_id: Option<UserId>,
    updated: String,
}

/// The deadline as a person reads it, and whether it is overdue: "Còn 5 ngày làm việc",
/// "Quá hạn 3 ngày làm việc", "Tạm dừng, còn 4 ngày làm việc".
fn deadline_text(
    e: &DossierEntry,
    overdue: Option<i64>,
    today: jiff::civil::Date,
    pack: &canhgac_policies::pack::Pack,
    lang: Lang,
) -> (String, bool) {
    if let Some(days) = overdue {
        return (
            match lang {
                Lang::Vi => format!("Quá hạn {days} ngày làm việc"),
                Lang::En => format!("Overdue by {days} working days"),
            },
            true,
        );
    }
    let Some(dl) = &e.deadline else {
        return (String::new(), false);
    };
    let paused = dl.paused_since.is_some();
    if !(e.state.is_with_authority() || paused && e.state == DossierState::NeedsSupplement) {
        return (String::new(), false);
    }
    let left = crate::workflow::days_left(dl, today, &pack.calendar);
    let unit = match (dl.count, lang) {
        (DayCount::WorkingDays, Lang::Vi) => "ngày làm việc",
        (DayCount::CalendarDays, Lang::Vi) => "ngày",
        (DayCount::WorkingDays, Lang::En) => "working days",
        (DayCount::CalendarDays, Lang::En) => "days",
    };
    let text = match (paused, left, lang) {
        (true, n, Lang::Vi) => format!("Tạm dừng, còn {n} {unit}"),
        (true, n, Lang::En) => format!("Paused, {n} {unit} left"),
        (false, 0, Lang::Vi) => "Hết hạn hôm nay".to_string(),
        (false, 0, Lang::En) => "Due today".to_string(),
        (false, n, Lang::Vi) if n > 0 => format!("Còn {n} {unit}"),
        (false, n, Lang::En) if n > 0 => format!("{n} {unit} left"),
        // Past a calendar-day limit that ended on a day off: not late in working days yet.
        (false, _, _) => String::new(),
    };
    (text, false)
}

impl Line {
    fn of(
        data: &IndexData,
        e: &DossierEntry,
        overdue: Option<i64>,
        today: jiff::civil::Date,
        pack: &canhgac_policies::pack::Pack,
        lang: Lang,
    ) -> Line {
        let system = data.systems.get(&e.system);
        let (deadline, overdue) = deadline_text(e, overdue, today, pack, lang);
        let due = match &e.deadline {
            Some(dl) if !deadline.is_empty() => match lang {
                Lang::Vi => format!("hạn {}", format::date(dl.due, lang)),
                Lang::En => format!("due {}", format::date(dl.due, lang)),
            },
            _ => String::new(),
        };
        Line {
            id: e.id.to_string(),
            letter: e.submitted_letter.as_ref().map(|l| format!("VB số {l}")),
            created: format::date(format::today(e.created_at), lang),
            system_id: e.system.to_string(),
            system: system.map(|s| s.system.name.clone()).unwrap_or_default(),
            agency: system
                .and_then(|s| data.agencies.get(s.system.operating_unit))
                .map(|a| a.name.clone())
                .unwrap_or_default(),
            level: e.proposed_level.get(),
            state: state_label(e.state, lang),
            deadline,
            due,
            overdue,
            assignee: String::new(),
            assignee_id: e.assignee,
            updated: format::datetime(e.updated_at, lang),
        }
    }
}

/// An account as far as this page needs it.
#[derive(Deserialize)]
struct Person {
    id: UserId,
    login: String,
    #[serde(default)]
    display_name: String,
}

/// The names of the appraisers in charge of `lines`.
async fn name_assignees(state: &AppState, lines: &mut [Line], lang: Lang) -> Result<(), WebError> {
    if lines.iter().all(|l| l.assignee_id.is_none()) {
        return Ok(());
    }
    let store = state.store.clone();
    let people: Vec<Person> =
        crate::api::blocking(move || repo::list(store.as_ref(), Table::Users, "", usize::MAX))
            .await
            .map_err(|e| WebError::api(e, lang))?;
    let names: HashMap<UserId, String> = people
        .into_iter()
        .map(|p| {
            let name = if p.display_name.trim().is_empty() {
                p.login
            } else {
                p.display_name
            };
            (p.id, name)
        })
        .collect();
    for l in lines {
        if let Some(id) = l.assignee_id {
            l.assignee = names.get(&id).cloned().unwrap_or_default();
        }
    }
    Ok(())
}

#[derive(Template)]
#[template(path = "dossiers.html")]
struct ListPage {
    c: Chrome,
    f: Filters,
    agencies: Vec<AgencyOption>,
    states: Vec<Choice>,
    columns: Vec<Column>,
    lines: Vec<Line>,
    pager: Pager,
    letter_error: Option<String>,
}

/// `GET /dossiers`.
async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let lang = viewer.lang();
    let f = Filters::from_query(raw.as_deref());
    let today = format::today(crate::clock::now());
    let agencies = agency_options(&state, &viewer, &f.agency, Some(MAX_FILTER_AGENCIES)).await?;
    let mut letter_error = None;
    let (total, mut lines) = match DossierQuery::parse(Some(&f.api_query())) {
        Ok(query) => {
            let pack = state.pack();
            with_dossiers(
                &state,
                viewer.principal.clone(),
                query,
                today,
                move |data, total, hits| {
                    let lines: Vec<Line> = hits
                        .iter()
                        .map(|h| Line::of(data, h.entry, h.overdue_days, today, &pack, lang))
                        .collect();
                    (total, lines)
                },
            )
            .await
            .map_err(|e| WebError::api(e, lang))?
        }
        // A letter that is not a reference: said next to the lookup box.
        Err(_)
            if !f.letter.is_empty()
                && DossierQuery::parse(Some(&query_string(&[("letter", &f.letter)]))).is_err() =>
        {
            letter_error = Some(
                lang.t(
                    "Không đọc được số văn bản: hãy nhập số và ký hiệu, ví dụ 2559/SCT-VP.",
                    "Cannot read the letter reference: type its number and symbol, e.g. 2559/SCT-VP.",
                )
                .to_string(),
            );
            (0, Vec::new())
        }
        Err(e) => return Err(WebError::api(e, lang)),
    };
    // A lookup that finds one dossier opens it.
    if !f.letter.is_empty() && total == 1 && lines.len() == 1 {
        return Ok(Redirect::to(&format!("/dossiers/{}", lines[0].id)).into_response());
    }
    name_assignees(&state, &mut lines, lang).await?;
    let t = |vi, en| lang.t(vi, en);
    let sort_href = |sort: &str| with_query("/dossiers", &f.query(sort, 1));
    let columns = vec![
        sort_column(
            t("Văn bản gửi hồ sơ", "Covering letter"),
            "created",
            &f.sort,
            "-created",
            sort_href,
            "",
        ),
        plain_column(t("Hệ thống", "System"), ""),
        plain_column(t("Cơ quan, đơn vị", "Agency"), "hide-narrow"),
        plain_column(t("Cấp độ đề xuất", "Proposed level"), "num"),
        plain_column(t("Trạng thái", "State"), ""),
        sort_column(
            t("Hạn xử lý", "Deadline"),
            "due",
            &f.sort,
            "-created",
            sort_href,
            "",
        ),
        plain_column(t("Người thẩm định", "Appraiser"), "hide-narrow"),
        sort_column(
            t("Cập nhật", "Updated"),
            "updated",
            &f.sort,
            "-created",
            sort_href,
            "hide-narrow",
        ),
    ];
    let pager = Pager::new(f.page, lines.len(), total, lang, |n| {
        with_query("/dossiers", &f.query(&f.sort, n))
    });
    let status = if letter_error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = ListPage {
        c: viewer.chrome.clone().section("dossiers"),
        agencies,
        states: state_choices(&f.state, false, lang),
        columns,
        lines,
        pager,
        letter_error,
        f,
    };
    Ok((status, render(&page, lang)?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Deadline, DeadlineStage, DossierId, Level, SystemId};

    fn entry(state: DossierState, deadline: Option<Deadline>) -> DossierEntry {
        let at: jiff::Timestamp = "2026-01-05T02:00:00Z".parse().unwrap();
        DossierEntry {
            id: DossierId::derived(at, b"d"),
            system: SystemId::derived(at, b"s"),
            state,
            proposed_level: Level::new(3).unwrap(),
            submitted_letter: None,
            assignee: None,
            deadline,
            decision: None,
            rounds: 0,
            created_at: at,
            updated_at: at,
            letters: Vec::new(),
            search: String::new(),
            owner_span: None,
            unit_span: None,
            system_known: true,
        }
    }

    fn due(d: jiff::civil::Date, paused: bool) -> Deadline {
        Deadline {
            stage: DeadlineStage::Appraisal,
            count: DayCount::WorkingDays,
            due: d,
            paused_since: paused.then_some(jiff::civil::date(2026, 1, 6)),
            days_left: paused.then_some(4),
        }
    }

    #[test]
    fn deadlines_read_in_working_days() {
        let pack = canhgac_policies::pack::Pack::decree85();
        // Monday 12/01/2026, due Friday 16/01/2026: four working days left.
        let today = jiff::civil::date(2026, 1, 12);
        let e = entry(
            DossierState::UnderAppraisal,
            Some(due(jiff::civil::date(2026, 1, 16), false)),
        );
        assert_eq!(
            deadline_text(&e, None, today, &pack, Lang::Vi),
            ("Còn 4 ngày làm việc".to_string(), false)
        );
        assert_eq!(
            deadline_text(&e, Some(3), today, &pack, Lang::Vi),
            ("Quá hạn 3 ngày làm việc".to_string(), true)
        );
        let paused = entry(
            DossierState::NeedsSupplement,
            Some(due(jiff::civil::date(2026, 1, 16), true)),
        );
        assert_eq!(
            deadline_text(&paused, None, today, &pack, Lang::Vi).0,
            "Tạm dừng, còn 4 ngày làm việc"
        );
        let done = entry(DossierState::Approved, None);
        assert_eq!(deadline_text(&done, None, today, &pack, Lang::Vi).0, "");
    }

    /// Render time at province scale (see `systems::tests::province`).
    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "province-scale timing; run with --release --ignored"]
    async fn province_scale_list_renders_quickly() {
        use crate::model::Role;
        use crate::web::systems::tests::{best_of, province};
        for role in [Role::Viewer, Role::AgencyOfficer] {
            let (state, viewer) = province(role);
            for query in [
                None,
                Some("state=submitted&overdue=true&sort=due&page=3"),
                Some("letter=1234%2FSCT-VP"),
            ] {
                let (took, r) = best_of(|| {
                    list(
                        State(state.clone()),
                        viewer.clone(),
                        RawQuery(query.map(str::to_string)),
                    )
                })
                .await;
                assert!(r.status().is_success() || r.status().is_redirection());
                println!("{role:?} /dossiers?{}: {took:?}", query.unwrap_or(""));
                assert!(
                    took < std::time::Duration::from_millis(100),
                    "{role:?} {query:?}: {took:?}"
                );
            }
        }
    }

    #[test]
    fn page_filters_become_the_api_query() {
        let f = Filters::from_query(Some(
            "state=submitted&agency=&overdue=true&letter=2559%2FSCT-VP&sort=due&page=2&other=1",
        ));
        assert_eq!(
            f.api_query(),
            "state=submitted&overdue=true&letter=2559%2FSCT-VP&sort=due&limit=50&offset=50"
        );
        assert!(DossierQuery::parse(Some(&f.api_query())).is_ok());
        assert_eq!(
            f.query("-due", 1),
            "state=submitted&overdue=true&letter=2559%2FSCT-VP&sort=-due"
        );
    }
}
