//! The holiday calendar page ("Lịch nghỉ lễ"): a year's days off, holiday blocks, make-up
//! working days and working-day count, as the server counts deadlines with them; each day off
//! says whether it comes from an official schedule entered on the server or is computed from the
//! policy pack. Administrators enter the government's official schedule here.
//!
//! - `GET /lich?year=YYYY` (this year without one): `GET /api/v1/calendar/{year}`'s data.
//! - `POST /lich` (administrators; fields `csrf_token`, `toml`, `year`): `PUT
//!   /api/v1/calendar/official`'s code; a file that does not parse or validate is shown again
//!   with the error (and its line and column) in place, 422.
//! - `POST /lich/xoa` (administrators; fields `csrf_token`, `year`): `DELETE
//!   /api/v1/calendar/official/{year}`'s code.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::chrome::{Chrome, Lang, Viewer};
use super::error::{WebError, render};
use super::format;
use crate::api::calendar::{Refusal, YEARS, remove_official, store_official, year_view};
use crate::api::{ApiError, AppState};
use crate::calendar::{YearCalendar, weekday_vi};
use crate::model::Role;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/lich", get(page).post(import))
        .route("/lich/xoa", post(remove))
}

/// `?year=` (and `done=saved|removed` after a change).
#[derive(Debug, Deserialize)]
pub struct YearQuery {
    year: Option<String>,
    done: Option<String>,
}

/// The import form.
#[derive(Debug, Deserialize)]
pub struct ImportForm {
    csrf_token: String,
    toml: String,
    #[serde(default)]
    year: String,
}

/// The removal form.
#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    csrf_token: String,
    year: String,
}

/// A row of the days-off table.
struct DayRow {
    date: String,
    weekday: String,
    name: String,
    lunar: String,
    official: bool,
}

/// A row of the blocks table.
struct BlockRow {
    from: String,
    to: String,
    days: u32,
    names: String,
}

/// A make-up working day.
struct MakeUpRow {
    date: String,
    weekday: String,
    name: String,
    official: bool,
}

/// A holiday id an official schedule may name.
struct HolidayRow {
    id: String,
    name: String,
}

/// The administrator's form: the text and, after a refused import, the error.
struct FormView {
    toml: String,
    error: Option<String>,
    line: Option<usize>,
    column: Option<usize>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "calendar.html")]
struct CalendarPage {
    c: Chrome,
    year: i16,
    year_error: Option<String>,
    prev_href: String,
    next_href: String,
    days: Vec<DayRow>,
    blocks: Vec<BlockRow>,
    make_up: Vec<MakeUpRow>,
    working_days: String,
    /// "Nhập bởi admin lúc 02/11/2026 10:00" when the year has a stored official schedule.
    official: Option<String>,
    holidays: Vec<HolidayRow>,
    /// Administrators only.
    form: Option<FormView>,
}

/// The weekday of a date, in `lang`.
fn weekday(d: jiff::civil::Date, lang: Lang) -> String {
    match lang {
        Lang::Vi => weekday_vi(d.weekday()).to_string(),
        Lang::En => format!("{:?}", d.weekday()),
    }
}

/// The year asked for (`Err`: a message in `lang`).
fn chosen(text: Option<&str>, this_year: i16, lang: Lang) -> Result<i16, String> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(this_year);
    };
    text.parse::<i16>()
        .ok()
        .filter(|y| YEARS.contains(y))
        .ok_or_else(|| {
            format!(
                "{} {}-{}.",
                lang.t(
                    "Năm không hợp lệ: chọn một năm từ",
                    "Not a year: choose one from"
                ),
                YEARS.start(),
                YEARS.end()
            )
        })
}

/// The page of `c` for `viewer`, with the administrator's form as given.
fn build(
    viewer: &Viewer,
    c: &YearCalendar,
    holidays: Vec<HolidayRow>,
    year_error: Option<String>,
    form: Option<FormView>,
) -> CalendarPage {
    let lang = viewer.lang();
    let days = c
        .days_off
        .iter()
        .map(|d| DayRow {
            date: format::date(d.day.date, lang),
            weekday: weekday(d.day.date, lang),
            name: match lang {
                Lang::Vi => d.label_vi.clone(),
                Lang::En => d.day.name_en.clone(),
            },
            lunar: d
                .day
                .lunar
                .as_ref()
                .map(|l| {
                    let leap = if l.leap {
                        lang.t(" nhuận", " leap")
                    } else {
                        ""
                    };
                    format!("{}/{}{leap}", l.day, l.month)
                })
                .unwrap_or_default(),
            official: d.official,
        })
        .collect();
    let blocks = c
        .blocks
        .iter()
        .map(|b| BlockRow {
            from: format::date(b.start, lang),
            to: format::date(b.end, lang),
            days: b.days,
            names: lang.t(&b.name_vi, &b.name_en).to_string(),
        })
        .collect();
    let make_up = c
        .make_up_days
        .iter()
        .map(|m| MakeUpRow {
            date: format::date(m.date, lang),
            weekday: weekday(m.date, lang),
            name: lang.t(&m.name_vi, &m.name_en).to_string(),
            official: m.official,
        })
        .collect();
    let official = c.official.as_ref().map(|r| {
        format!(
            "{} {} {} {}",
            lang.t("Nhập bởi", "Entered by"),
            r.imported_by,
            lang.t("lúc", "at"),
            format::datetime(r.imported_at, lang)
        )
    });
    CalendarPage {
        c: viewer.chrome.clone().section("calendar"),
        year: c.year,
        year_error,
        prev_href: format!("/lich?year={}", c.year.saturating_sub(1)),
        next_href: format!("/lich?year={}", c.year.saturating_add(1)),
        days,
        blocks,
        make_up,
        working_days: format::count(u64::from(c.working_days), lang),
        official,
        holidays,
        form,
    }
}

/// The holidays of the server's pack, for the form's help.
fn holiday_rows(state: &AppState, lang: Lang) -> Vec<HolidayRow> {
    state
        .pack()
        .calendar
        .holiday_names()
        .into_iter()
        .map(|h| HolidayRow {
            name: lang.t(&h.name_vi, &h.name_en).to_string(),
            id: h.id,
        })
        .collect()
}

/// The form of an administrator with nothing submitted: the year's stored text, if any.
fn fresh_form(viewer: &Viewer, c: &YearCalendar, notice: Option<String>) -> Option<FormView> {
    (viewer.principal.account.role == Role::Administrator).then(|| FormView {
        toml: c
            .official
            .as_ref()
            .map(|r| r.toml.clone())
            .unwrap_or_default(),
        error: None,
        line: None,
        column: None,
        notice,
    })
}

/// `GET /lich`.
async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<YearQuery>,
) -> Result<Response, WebError> {
    let lang = viewer.lang();
    let this_year = format::today(crate::clock::now()).year();
    let (year, year_error) = match chosen(q.year.as_deref(), this_year, lang) {
        Ok(y) => (y, None),
        Err(message) => (this_year, Some(message)),
    };
    let c = year_view(&state, year)
        .await
        .map_err(|e| WebError::api(e, lang))?;
    let notice = match q.done.as_deref() {
        Some("saved") => Some(lang.t(
            "Đã lưu lịch nghỉ chính thức: từ nay thời hạn được tính theo lịch này.",
            "The official schedule is stored: deadlines are counted with it from now on.",
        )),
        Some("removed") => Some(lang.t(
            "Đã xoá lịch nghỉ chính thức của năm: dữ liệu của bộ chính sách được áp dụng lại.",
            "The year's official schedule is removed: the policy pack's data applies again.",
        )),
        _ => None,
    };
    let page = build(
        &viewer,
        &c,
        holiday_rows(&state, lang),
        year_error.clone(),
        fresh_form(&viewer, &c, notice.map(str::to_string)),
    );
    let status = if year_error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((status, render(&page, lang)?).into_response())
}

/// `POST /lich`: stores the official schedule, then shows its (first) year.
async fn import(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(f): Form<ImportForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&f.csrf_token)?;
    let lang = viewer.lang();
    match store_official(&state, &viewer.principal, f.toml.clone(), "TOML").await {
        Ok(changes) => {
            let year = changes.first().map_or(0, |c| c.year);
            Ok(Redirect::to(&format!("/lich?year={year}&done=saved")).into_response())
        }
        Err(Refusal::Invalid {
            message,
            line,
            column,
        }) => {
            let this_year = format::today(crate::clock::now()).year();
            let year = chosen(Some(&f.year), this_year, lang).unwrap_or(this_year);
            let c = year_view(&state, year)
                .await
                .map_err(|e| WebError::api(e, lang))?;
            let form = FormView {
                toml: f.toml,
                error: Some(message),
                line,
                column,
                notice: None,
            };
            let page = build(&viewer, &c, holiday_rows(&state, lang), None, Some(form));
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page, lang)?).into_response())
        }
        Err(Refusal::Api(e)) => Err(WebError::api(e, lang)),
    }
}

/// `POST /lich/xoa`: removes the year's official schedule.
async fn remove(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(f): Form<RemoveForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&f.csrf_token)?;
    let lang = viewer.lang();
    let this_year = format::today(crate::clock::now()).year();
    let year = chosen(Some(&f.year), this_year, lang)
        .map_err(|m| WebError::api(ApiError::invalid(m), lang))?;
    match remove_official(&state, &viewer.principal, year).await {
        Ok(_) => Ok(Redirect::to(&format!("/lich?year={year}&done=removed")).into_response()),
        Err(Refusal::Invalid { message, .. }) => {
            Err(WebError::api(ApiError::invalid(message), lang))
        }
        Err(Refusal::Api(e)) => Err(WebError::api(e, lang)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_year_asked_for() {
        assert_eq!(chosen(None, 2026, Lang::Vi), Ok(2026));
        assert_eq!(chosen(Some(" 2027 "), 2026, Lang::Vi), Ok(2027));
        assert!(
            chosen(Some("1800"), 2026, Lang::Vi)
                .unwrap_err()
                .starts_with("Năm không hợp lệ")
        );
        assert!(
            chosen(Some("năm ngoái"), 2026, Lang::En)
                .unwrap_err()
                .starts_with("Not a year")
        );
    }
}
