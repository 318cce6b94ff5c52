//! The weekly report page: the paragraph and the table the department pastes into its weekly
//! letter to the People's Committee (seed 002: "BÁO CÁO TUẦN 5 THÁNG 8 NĂM 2024 ... từ ngày
//! 24/8/2024 đến ngày 30/8/2024"), for a chosen week, printable, with the XLSX workbook.
//!
//! - `GET /weekly?week=DAY` (any day of the week, `yyyy-mm-dd` or `dd/mm/yyyy`; this week
//!   without one): the figures at the end of the week's Friday, or at the end of today while
//!   the week runs, from `GET /api/v1/reports/weekly`'s code (`crate::api::exchange`), in the
//!   caller's scope. A week runs from Saturday to Friday, as in the letters.
//! - `GET /weekly.xlsx?week=DAY`: the API's workbook for the same day.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::ToSpan;
use jiff::civil::{Date, Weekday};
use serde::Deserialize;

use super::chrome::{Chrome, Lang, Viewer};
use super::error::{WebError, render};
use super::format;
use crate::api::ApiError;
use crate::api::AppState;
use crate::exchange::parse_date;
use crate::model::format_date_vi;
use crate::weekly::WeeklyFigures;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/weekly", get(page))
        .route("/weekly.xlsx", get(workbook))
}

/// `?week=`.
#[derive(Debug, Deserialize)]
pub struct WeekQuery {
    week: Option<String>,
}

/// A reporting week: Saturday to Friday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Week {
    /// Its Saturday.
    start: Date,
    /// Its Friday.
    end: Date,
    /// The day the figures are taken at: the Friday, or today while the week runs.
    as_of: Date,
}

impl Week {
    /// The week of `day`, as seen on `today`.
    fn of(day: Date, today: Date) -> Week {
        let to_friday = (i64::from(Weekday::Friday.to_monday_one_offset())
            - i64::from(day.weekday().to_monday_one_offset()))
        .rem_euclid(7);
        let end = day.saturating_add(to_friday.days());
        Week {
            start: end.saturating_sub(6.days()),
            end,
            as_of: end.min(today),
        }
    }

    /// "BÁO CÁO TUẦN 5 THÁNG 8 NĂM 2024": the week is named after its Friday's rank in the
    /// Friday's month.
    fn title(&self) -> String {
        format!(
            "BÁO CÁO TUẦN {} THÁNG {} NĂM {}",
            (self.end.day() - 1) / 7 + 1,
            self.end.month(),
            self.end.year()
        )
    }
}

/// The week asked for (`Err`: a message for the field, in `lang`).
fn chosen(text: Option<&str>, today: Date, lang: Lang) -> Result<Week, String> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(Week::of(today, today));
    };
    let day = parse_date(text).ok_or_else(|| {
        lang.t(
            "Ngày không hợp lệ: ghi theo dạng dd/mm/yyyy hoặc yyyy-mm-dd.",
            "Not a date: write dd/mm/yyyy or yyyy-mm-dd.",
        )
        .to_string()
    })?;
    let week = Week::of(day, today);
    if week.start > today {
        return Err(lang
            .t("Tuần này chưa bắt đầu.", "That week has not started yet.")
            .to_string());
    }
    Ok(week)
}

/// A row of the figures table.
struct FigureRow {
    label: &'static str,
    now: String,
    before: String,
    change: String,
}

/// A row of the table of dossiers to supplement.
struct SupplementRow {
    agency: String,
    count: String,
    from_sub_units: String,
}

#[derive(Template)]
#[template(path = "weekly.html")]
struct WeeklyPage {
    c: Chrome,
    /// The picker's value (what was typed, when it is wrong).
    week_value: String,
    error: Option<String>,
    title: String,
    range: String,
    as_of: String,
    running: bool,
    scope_name: String,
    text: String,
    rows: Vec<FigureRow>,
    supplement: Vec<SupplementRow>,
    supplement_total: String,
    xlsx_href: String,
    prev_href: String,
    next_href: Option<String>,
}

/// A figure as letters write it: thousands with dots.
fn n(v: u32) -> String {
    format::count(u64::from(v), Lang::Vi)
}

/// The figures table, in Vietnamese (the rows of the API's workbook).
fn figure_rows(f: &WeeklyFigures) -> Vec<FigureRow> {
    crate::exchange::weekly::figure_rows(f)
        .into_iter()
        .map(|(label, now, change)| FigureRow {
            label,
            now: n(now),
            before: change.map_or_else(
                || "—".to_string(),
                |d| format::count((i64::from(now) - d).max(0).unsigned_abs(), Lang::Vi),
            ),
            change: match change {
                None => "—".to_string(),
                Some(0) => "0".to_string(),
                Some(d) if d > 0 => format!("+{}", format::count(d.unsigned_abs(), Lang::Vi)),
                Some(d) => format!("−{}", format::count(d.unsigned_abs(), Lang::Vi)),
            },
        })
        .collect()
}

/// `GET /weekly`.
async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<WeekQuery>,
) -> Result<Response, WebError> {
    let lang = viewer.lang();
    let today = format::today(crate::clock::now());
    let (week, error) = match chosen(q.week.as_deref(), today, lang) {
        Ok(w) => (w, None),
        Err(message) => (Week::of(today, today), Some(message)),
    };
    let answer = crate::api::exchange::weekly_report(&state, &viewer.principal, week.as_of)
        .await
        .map_err(|e| WebError::api(e, lang))?;
    let f = &answer.figures;
    let next = week.end.saturating_add(1.days());
    let page = WeeklyPage {
        c: viewer.chrome.section("weekly"),
        week_value: match &error {
            Some(_) => q.week.clone().unwrap_or_default(),
            None => week.as_of.to_string(),
        },
        error: error.clone(),
        title: week.title(),
        range: format!(
            "từ ngày {} đến ngày {}",
            format_date_vi(week.start),
            format_date_vi(week.end)
        ),
        as_of: format_date_vi(week.as_of),
        running: week.as_of < week.end,
        scope_name: answer.scope_name.clone(),
        text: answer.text.clone(),
        rows: figure_rows(f),
        supplement: f
            .needs_supplement_by_agency
            .iter()
            .map(|g| SupplementRow {
                agency: g.agency.clone(),
                count: n(g.count),
                from_sub_units: n(g.from_sub_units),
            })
            .collect(),
        supplement_total: n(f.needs_supplement),
        xlsx_href: format!("/weekly.xlsx?week={}", week.as_of),
        prev_href: format!("/weekly?week={}", week.start.saturating_sub(1.days())),
        next_href: (next <= today).then(|| format!("/weekly?week={next}")),
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((status, render(&page, lang)?).into_response())
}

/// `GET /weekly.xlsx`: the workbook of `GET /api/v1/reports/weekly?format=xlsx`.
async fn workbook(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<WeekQuery>,
) -> Result<Response, WebError> {
    let lang = viewer.lang();
    let today = format::today(crate::clock::now());
    let week = chosen(q.week.as_deref(), today, lang)
        .map_err(|m| WebError::api(ApiError::invalid(m), lang))?;
    let params = HashMap::from([
        ("week_end".to_string(), week.as_of.to_string()),
        ("format".to_string(), "xlsx".to_string()),
    ]);
    crate::api::exchange::weekly(State(state), viewer.principal, Query(params))
        .await
        .map_err(|e| WebError::api(e, lang))
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;
    use crate::weekly::WeeklyChange;

    #[test]
    fn weeks_run_from_saturday_to_friday() {
        let today = date(2024, 9, 10);
        // Seed 002: the week of 24/8/2024 to 30/8/2024, the fifth of August.
        for day in 24..=30 {
            let w = Week::of(date(2024, 8, day), today);
            assert_eq!(
                (w.start, w.end, w.as_of),
                (date(2024, 8, 24), date(2024, 8, 30), date(2024, 8, 30))
            );
            assert_eq!(w.title(), "BÁO CÁO TUẦN 5 THÁNG 8 NĂM 2024");
        }
        assert_eq!(Week::of(date(2024, 8, 31), today).end, date(2024, 9, 6));
        assert_eq!(
            Week::of(date(2024, 9, 6), today).title(),
            "BÁO CÁO TUẦN 1 THÁNG 9 NĂM 2024"
        );
        // The running week is taken at today.
        let running = Week::of(today, today);
        assert_eq!((running.end, running.as_of), (date(2024, 9, 13), today));
    }

    #[test]
    fn the_week_asked_for() {
        let today = date(2024, 9, 10);
        assert_eq!(chosen(None, today, Lang::Vi), Ok(Week::of(today, today)));
        assert_eq!(
            chosen(Some(" "), today, Lang::Vi),
            Ok(Week::of(today, today))
        );
        for text in ["2024-08-27", "27/8/2024", "27/08/2024"] {
            assert_eq!(
                chosen(Some(text), today, Lang::Vi).unwrap().end,
                date(2024, 8, 30),
                "{text}"
            );
        }
        assert!(
            chosen(Some("31/2/2024"), today, Lang::Vi)
                .unwrap_err()
                .contains("dd/mm/yyyy")
        );
        assert_eq!(
            chosen(Some("2024-09-20"), today, Lang::En).unwrap_err(),
            "That week has not started yet."
        );
        // A later day of the running week is fine: figures as of today.
        assert_eq!(
            chosen(Some("2024-09-12"), today, Lang::Vi).unwrap().as_of,
            today
        );
    }

    #[test]
    fn the_table_as_the_letter_writes_it() {
        let mut f = WeeklyFigures {
            week_end: date(2024, 8, 30),
            units: 246,
            dossiers: 1257,
            approved: 118,
            awaiting_approval: 112,
            needs_supplement: 27,
            overdue: 0,
            rejected: 0,
            needs_supplement_by_agency: Vec::new(),
            change: None,
        };
        let rows = figure_rows(&f);
        assert_eq!(rows.len(), 7);
        assert_eq!(
            (rows[1].label, rows[1].now.as_str(), rows[1].change.as_str()),
            ("Số hồ sơ đã tiếp nhận", "1.257", "—")
        );
        f.change = Some(WeeklyChange {
            since: date(2024, 8, 23),
            units: 2,
            dossiers: 5,
            approved: 10,
            awaiting_approval: -7,
            needs_supplement: 0,
            overdue: 0,
            rejected: 0,
        });
        let rows = figure_rows(&f);
        assert_eq!(
            (rows[1].before.as_str(), rows[1].change.as_str()),
            ("1.252", "+5")
        );
        assert_eq!(
            (rows[3].before.as_str(), rows[3].change.as_str()),
            ("119", "−7")
        );
        assert_eq!(rows[5].change, "0");
    }
}
