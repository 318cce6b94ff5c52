//! The list routes, `GET /api/v1/systems` and `GET /api/v1/dossiers`: filters, sorting and
//! pagination over the in-memory read index (`crate::index`), at province scale (thousands of
//! agencies, tens of thousands of systems and dossiers) in a few milliseconds.
//!
//! Both answer `{"items": [...], "total": N, "offset": O, "limit": L, "next_offset": O2|null}`
//! where `total` counts every match. Agency officers see only what belongs to their agency and
//! its sub-agencies (a system is theirs when its owner or its operating unit is); staff see
//! everything; agents are refused. Unknown parameters and malformed values are 400.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use serde_json::json;

use canhgac_policies::content::normalise;

use super::{ApiError, AppState, PEOPLE, Principal};
use crate::index::{
    DossierEntry, DossierRow, GradeSummary, IndexData, Span, SystemEntry, SystemRow, letter_key,
    within,
};
use crate::model::{
    AgencyId, DossierState, LetterRef, Level, Role, System, SystemId, SystemStatus,
};
use crate::workflow::overdue_at;

/// Items per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest `limit` accepted.
pub const MAX_LIMIT: usize = 500;

fn today(now: Timestamp) -> jiff::civil::Date {
    now.to_zoned_datetime(TimeZone::fixed(jiff::tz::offset(7)))
        .date()
}

/// The query string as pairs, with every key checked against `known`.
fn pairs(raw: Option<&str>, known: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if !known.contains(&k.as_ref()) {
            return Err(ApiError::invalid(format!(
                "unknown parameter {k:?} (known: {})",
                known.join(", ")
            )));
        }
        if out.iter().any(|(seen, _)| *seen == k) {
            return Err(ApiError::invalid(format!("parameter {k:?} given twice")));
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(out)
}

/// A comma-separated list, each item parsed by `f`.
fn list_of<T>(name: &str, value: &str, f: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, ApiError> {
    let items: Option<Vec<T>> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(&f)
        .collect();
    match items {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(ApiError::invalid(format!("invalid {name}: {value:?}"))),
    }
}

fn levels(name: &str, value: &str) -> Result<Vec<Level>, ApiError> {
    list_of(name, value, |s| {
        s.parse::<u8>().ok().and_then(|n| Level::new(n).ok())
    })
}

fn state_of(text: &str) -> Option<DossierState> {
    DossierState::ALL.into_iter().find(|s| s.id() == text)
}

fn boolean(name: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ApiError::invalid(format!(
            "{name} must be true or false, not {value:?}"
        ))),
    }
}

/// Pagination, common to both lists.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Page {
    limit: usize,
    offset: usize,
}

impl Page {
    fn set(&mut self, key: &str, value: &str) -> Result<bool, ApiError> {
        match key {
            "limit" => {
                self.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        ApiError::invalid(format!("limit must be 1 to {MAX_LIMIT}, not {value:?}"))
                    })?;
            }
            "offset" => {
                self.offset = value.parse().map_err(|_| {
                    ApiError::invalid(format!("offset must be a number, not {value:?}"))
                })?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn answer<T: Serialize>(&self, total: usize, items: Vec<T>) -> Response {
        let next =
            (self.offset.saturating_add(items.len()) < total).then(|| self.offset + items.len());
        let body = serde_json::to_vec(&json!({
            "items": items,
            "total": total,
            "offset": self.offset,
            "limit": self.limit,
            "next_offset": next,
        }))
        .expect("list items serialise");
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

impl Default for Page {
    fn default() -> Page {
        Page {
            limit: DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

/// What the caller may see: `None` for everything, else one agency subtree (an officer without
/// a known agency sees nothing).
enum Scope {
    All,
    Subtree(Option<Span>),
}

impl Scope {
    fn of(principal: &Principal, data: &IndexData) -> Scope {
        match principal.account.role {
            Role::AgencyOfficer => Scope::Subtree(
                principal
                    .account
                    .user()
                    .agency
                    .and_then(|a| data.agencies.span(a)),
            ),
            Role::Agent => Scope::Subtree(None),
            _ => Scope::All,
        }
    }

    /// Whether the caller sees a system with these owner and operating unit intervals.
    fn sees_units(&self, owner: Option<Span>, unit: Option<Span>) -> bool {
        match self {
            Scope::All => true,
            Scope::Subtree(None) => false,
            Scope::Subtree(Some(span)) => within(owner, *span) || within(unit, *span),
        }
    }
}

/// An agency filter: the subtree of an agency (unknown agencies match nothing).
fn agency_filter(data: &IndexData, agency: Option<AgencyId>) -> Option<Option<Span>> {
    agency.map(|a| data.agencies.span(a))
}

fn agency_param(value: &str) -> Result<AgencyId, ApiError> {
    value
        .parse()
        .map_err(|_| ApiError::invalid(format!("agency must be an agency id, not {value:?}")))
}

// ---------------------------------------------------------------------------------------------
// Systems

/// The order of the systems list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SystemSort {
    /// By name (the default).
    Name,
    /// By creation.
    Created,
    /// By level in force.
    Level,
    /// By compliance grade.
    Grade,
}

/// The query of `GET /api/v1/systems`, parsed (see [`list_systems`]).
#[derive(Debug, Default)]
pub(crate) struct SystemQuery {
    agency: Option<AgencyId>,
    level: Option<Vec<Level>>,
    proposed_level: Option<Vec<Level>>,
    approved_level: Option<Vec<Level>>,
    /// `None` inside: systems without a dossier.
    dossier_state: Option<Vec<Option<DossierState>>>,
    /// `None` inside: systems without an evaluation.
    grade: Option<Vec<Option<String>>>,
    status: Option<SystemStatus>,
    needs_redetermination: Option<bool>,
    q: Option<String>,
    sort: Option<(SystemSort, bool)>,
    page: Page,
}

const SYSTEM_PARAMS: &[&str] = &[
    "agency",
    "level",
    "proposed_level",
    "approved_level",
    "dossier_state",
    "grade",
    "status",
    "needs_redetermination",
    "q",
    "sort",
    "limit",
    "offset",
];

impl SystemQuery {
    /// Parses a query string as `GET /api/v1/systems` takes it (400 for anything unknown or
    /// malformed).
    pub(crate) fn parse(raw: Option<&str>) -> Result<SystemQuery, ApiError> {
        let mut q = SystemQuery::default();
        for (key, value) in pairs(raw, SYSTEM_PARAMS)? {
            if q.page.set(&key, &value)? {
                continue;
            }
            match key.as_str() {
                "agency" => q.agency = Some(agency_param(&value)?),
                "level" => q.level = Some(levels("level", &value)?),
                "proposed_level" => q.proposed_level = Some(levels("proposed_level", &value)?),
                "approved_level" => q.approved_level = Some(levels("approved_level", &value)?),
                "dossier_state" => {
                    q.dossier_state = Some(list_of("dossier_state", &value, |s| match s {
                        "none" => Some(None),
                        other => state_of(other).map(Some),
                    })?)
                }
                "grade" => {
                    q.grade = Some(list_of("grade", &value, |s| match s {
                        "none" => Some(None),
                        g if g.len() == 1 && "ABCDEFabcdef".contains(g) => {
                            Some(Some(g.to_ascii_uppercase()))
                        }
                        _ => None,
                    })?)
                }
                "status" => {
                    q.status = Some(match value.as_str() {
                        "in_use" => SystemStatus::InUse,
                        "retired" => SystemStatus::Retired,
                        other => {
                            return Err(ApiError::invalid(format!(
                                "status must be in_use or retired, not {other:?}"
                            )));
                        }
                    })
                }
                "needs_redetermination" => {
                    q.needs_redetermination = Some(boolean("needs_redetermination", &value)?)
                }
                "q" => {
                    let n = normalise(&value);
                    if !n.is_empty() {
                        q.q = Some(n);
                    }
                }
                "sort" => {
                    let (desc, field) = match value.strip_prefix('-') {
                        Some(f) => (true, f),
                        None => (false, value.as_str()),
                    };
                    let field = match field {
                        "name" => SystemSort::Name,
                        "created" => SystemSort::Created,
                        "level" => SystemSort::Level,
                        "grade" => SystemSort::Grade,
                        other => {
                            return Err(ApiError::invalid(format!(
                                "sort must be name, created, level or grade (with - for descending), not {other:?}"
                            )));
                        }
                    };
                    q.sort = Some((field, desc));
                }
                _ => unreachable!("checked by pairs"),
            }
        }
        Ok(q)
    }

    /// Whether a system matches (`q` aside: see [`SystemQuery::matches_text`]).
    fn matches(&self, agency: Option<Option<Span>>, r: &SystemRow) -> bool {
        if let Some(filter) = agency {
            match filter {
                Some(span) if within(r.owner_span, span) || within(r.unit_span, span) => {}
                _ => return false,
            }
        }
        if let Some(status) = self.status
            && r.retired != (status == SystemStatus::Retired)
        {
            return false;
        }
        if let Some(flag) = self.needs_redetermination
            && r.needs_redetermination != flag
        {
            return false;
        }
        let level_in = |ls: &Option<Vec<Level>>, l: u8| {
            ls.as_ref()
                .is_none_or(|ls| l != 0 && ls.iter().any(|x| x.get() == l))
        };
        if !level_in(&self.level, r.level)
            || !level_in(&self.proposed_level, r.proposed)
            || !level_in(&self.approved_level, r.approved)
        {
            return false;
        }
        if let Some(gs) = &self.grade
            && !gs
                .iter()
                .any(|want| want.as_ref().map_or(0, |w| w.as_bytes()[0]) == r.grade)
        {
            return false;
        }
        if let Some(ss) = &self.dossier_state
            && !ss.contains(&r.latest)
        {
            return false;
        }
        true
    }

    /// Whether the system's name, URLs or decision hold `q`.
    fn matches_text(&self, e: Option<&SystemEntry>) -> bool {
        match &self.q {
            None => true,
            Some(q) => e.is_some_and(|e| e.search.contains(q.as_str())),
        }
    }

    /// The page asked for.
    pub(crate) fn page(&self) -> Page {
        self.page
    }
}

impl Page {
    /// Items skipped.
    pub(crate) fn offset(&self) -> usize {
        self.offset
    }

    /// Items per page.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }
}

/// The latest dossier of a system, in list items.
#[derive(Serialize)]
struct DossierBrief {
    id: String,
    state: DossierState,
    state_vi: &'static str,
}

/// A system in the list: the record, its level in force, its latest evaluation and dossier.
#[derive(Serialize)]
struct SystemItem<'a> {
    #[serde(flatten)]
    system: &'a System,
    level: Option<Level>,
    compliance: Option<&'a GradeSummary>,
    dossier: Option<DossierBrief>,
}

/// Every system the caller sees that matches `query` (all pages), in the query's order.
fn matching_systems<'a>(
    data: &'a IndexData,
    scope: &Scope,
    query: &SystemQuery,
) -> Vec<&'a SystemRow> {
    let agency = agency_filter(data, query.agency);
    let (sort, desc) = query.sort.unwrap_or((SystemSort::Name, false));
    let keep = |r: &&SystemRow| {
        scope.sees_units(r.owner_span, r.unit_span)
            && query.matches(agency, r)
            && query.matches_text(data.systems.get(&r.id))
    };
    let mut found: Vec<&SystemRow> = if desc && sort == SystemSort::Name {
        data.system_rows.iter().rev().filter(keep).collect()
    } else {
        data.system_rows.iter().filter(keep).collect()
    };
    // Stable sorts over name order: ties stay alphabetical. Missing levels and grades last.
    match sort {
        SystemSort::Name => {}
        SystemSort::Created if desc => found.sort_by_key(|r| std::cmp::Reverse(r.id)),
        SystemSort::Created => found.sort_by_key(|r| r.id),
        SystemSort::Level if desc => found.sort_by_key(|r| std::cmp::Reverse(r.level)),
        SystemSort::Level => found.sort_by_key(|r| (r.level == 0, r.level)),
        SystemSort::Grade if desc => {
            found.sort_by_key(|r| (r.grade == 0, std::cmp::Reverse(r.grade)))
        }
        SystemSort::Grade => found.sort_by_key(|r| (r.grade == 0, r.grade)),
    }
    found
}

/// Runs `f`, off the async threads, over the systems `principal` may see that match `query`
/// (every page, in the query's order): the role check, the agency scope and the filters of
/// `GET /api/v1/systems`, for the API and the web pages alike.
pub(crate) async fn with_systems<T: Send + 'static>(
    state: &AppState,
    principal: Principal,
    query: SystemQuery,
    f: impl FnOnce(&IndexData, &SystemQuery, Vec<&SystemRow>) -> T + Send + 'static,
) -> Result<T, ApiError> {
    principal.require(PEOPLE)?;
    let st = state.clone();
    tokio::task::spawn_blocking(move || {
        let data = st.index.read(st.store.as_ref())?;
        let scope = Scope::of(&principal, &data);
        let found = matching_systems(&data, &scope, &query);
        Ok(f(&data, &query, found))
    })
    .await
    .map_err(|_| ApiError::invalid("a list task failed"))?
}

fn systems_page(
    data: &IndexData,
    query: &SystemQuery,
    found: Vec<&SystemRow>,
) -> (usize, Vec<serde_json::Value>) {
    let total = found.len();
    let items = found
        .into_iter()
        .skip(query.page.offset)
        .take(query.page.limit)
        .filter_map(|r| data.systems.get(&r.id))
        .map(|e| {
            let item = SystemItem {
                system: &e.system,
                level: e.level(),
                compliance: data.grades.get(&e.system.id),
                dossier: e.latest.map(|(id, state)| DossierBrief {
                    id: id.to_string(),
                    state,
                    state_vi: state.label_vi(),
                }),
            };
            serde_json::to_value(item).expect("systems serialise")
        })
        .collect();
    (total, items)
}

/// `GET /api/v1/systems` (people, within scope). Filters: `agency` (an agency and its
/// sub-agencies, as owner or operating unit), `level` (in force: approved, else proposed),
/// `proposed_level`, `approved_level` (each a comma list of 1-5), `dossier_state` (state of the
/// latest dossier, comma list, `none` for no dossier), `grade` (A-F, `none`), `status`
/// (`in_use`, `retired`), `needs_redetermination`, `q` (in the name, URLs and approval
/// decision, without regard to case or diacritics); `sort` = `name` (default), `created`,
/// `level`, `grade`, `-` for descending; `limit` (1-500, default 50), `offset`.
pub async fn list_systems(
    State(state): State<AppState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    principal.require(PEOPLE)?;
    let query = SystemQuery::parse(raw.as_deref())?;
    let page = query.page;
    let (total, items) = with_systems(&state, principal, query, systems_page).await?;
    Ok(page.answer(total, items))
}

// ---------------------------------------------------------------------------------------------
// Dossiers

/// The order of the dossiers list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DossierSort {
    /// By creation (the default, newest first).
    Created,
    /// By last change.
    Updated,
    /// By deadline.
    Due,
}

/// The query of `GET /api/v1/dossiers`, parsed (see [`list_dossiers`]).
#[derive(Debug, Default)]
pub(crate) struct DossierQuery {
    state: Option<Vec<DossierState>>,
    agency: Option<AgencyId>,
    system: Option<SystemId>,
    level: Option<Vec<Level>>,
    overdue: Option<bool>,
    /// Number, normalised symbol, and the date if one was given.
    letter: Option<(u32, String, Option<jiff::civil::Date>)>,
    q: Option<String>,
    sort: Option<(DossierSort, bool)>,
    page: Page,
}

const DOSSIER_PARAMS: &[&str] = &[
    "state", "agency", "system", "level", "overdue", "letter", "q", "sort", "limit", "offset",
];

/// A letter as typed in a search box: "2559/SCT-VP", "VB số 2559/SCT-VP ngày 25/5/2021".
fn letter_param(value: &str) -> Result<(u32, String, Option<jiff::civil::Date>), ApiError> {
    if let Ok(l) = LetterRef::parse(value) {
        let (n, s) = letter_key(l.number, &l.symbol);
        return Ok((n, s, Some(l.date)));
    }
    let bad = || {
        ApiError::invalid(format!(
            "letter must be a number and symbol such as 2559/SCT-VP, not {value:?}"
        ))
    };
    let text = value.trim();
    let text = text
        .split_whitespace()
        .find(|w| w.contains('/'))
        .ok_or_else(bad)?;
    let (number, symbol) = text.split_once('/').ok_or_else(bad)?;
    let number: u32 = number.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?;
    let (n, s) = letter_key(number, symbol.trim_end_matches(','));
    if s.is_empty() {
        return Err(bad());
    }
    Ok((n, s, None))
}

impl DossierQuery {
    /// Parses a query string as `GET /api/v1/dossiers` takes it (400 for anything unknown or
    /// malformed).
    pub(crate) fn parse(raw: Option<&str>) -> Result<DossierQuery, ApiError> {
        let mut q = DossierQuery::default();
        for (key, value) in pairs(raw, DOSSIER_PARAMS)? {
            if q.page.set(&key, &value)? {
                continue;
            }
            match key.as_str() {
                "state" => q.state = Some(list_of("state", &value, state_of)?),
                "agency" => q.agency = Some(agency_param(&value)?),
                "system" => {
                    q.system = Some(value.parse().map_err(|_| {
                        ApiError::invalid(format!("system must be a system id, not {value:?}"))
                    })?)
                }
                "level" => q.level = Some(levels("level", &value)?),
                "overdue" => q.overdue = Some(boolean("overdue", &value)?),
                "letter" => q.letter = Some(letter_param(&value)?),
                "q" => {
                    let n = normalise(&value);
                    if !n.is_empty() {
                        q.q = Some(n);
                    }
                }
                "sort" => {
                    let (desc, field) = match value.strip_prefix('-') {
                        Some(f) => (true, f),
                        None => (false, value.as_str()),
                    };
                    let field = match field {
                        "created" => DossierSort::Created,
                        "updated" => DossierSort::Updated,
                        "due" => DossierSort::Due,
                        other => {
                            return Err(ApiError::invalid(format!(
                                "sort must be created, updated or due (with - for descending), not {other:?}"
                            )));
                        }
                    };
                    q.sort = Some((field, desc));
                }
                _ => unreachable!("checked by pairs"),
            }
        }
        Ok(q)
    }
}

/// A dossier of a list page, with its working days late today.
pub(crate) struct DossierHit<'a> {
    /// The dossier as indexed.
    pub(crate) entry: &'a DossierEntry,
    /// Working days past the deadline today (`None` when not overdue).
    pub(crate) overdue_days: Option<i64>,
}

/// A dossier in the list.
#[derive(Serialize)]
struct DossierItem<'a> {
    #[serde(flatten)]
    dossier: &'a DossierEntry,
    state_vi: &'static str,
    system_name: &'a str,
    /// Working days past the deadline today (null when not overdue).
    overdue_days: Option<i64>,
}

/// The dossiers the caller sees that match `query`: how many, and those of the query's page,
/// in the query's order.
fn matching_dossiers<'a>(
    data: &'a IndexData,
    scope: &Scope,
    query: &DossierQuery,
    pack: &Arc<canhgac_policies::pack::Pack>,
    today: jiff::civil::Date,
) -> (usize, Vec<DossierHit<'a>>) {
    let agency = agency_filter(data, query.agency);
    // Working days late, by due date: for a running deadline of a dossier with the authority
    // it depends on the due date alone (and today), and dossiers share a few hundred due
    // dates: computed once per due date and day, kept for the next requests.
    let late_by_due = RefCell::new(LateCache::take(pack, today));
    let overdue = |r: &DossierRow| -> Option<i64> {
        let due = r.due?;
        if !r.state.is_with_authority() || r.paused || due >= today {
            return None;
        }
        late_by_due.borrow_mut().get(due, || {
            let deadline = crate::model::Deadline {
                stage: crate::model::DeadlineStage::Appraisal,
                count: canhgac_policies::pack::workflow::DayCount::WorkingDays,
                due,
                paused_since: None,
                days_left: None,
            };
            overdue_at(r.state, Some(&deadline), today, &pack.calendar)
        })
    };
    // Filters that need the whole entry: a letter with its date, text.
    let needs_entry = query.q.is_some() || matches!(query.letter, Some((_, _, Some(_))));
    let keep = |r: &&DossierRow| -> bool {
        if !r.system_known || !scope.sees_units(r.owner_span, r.unit_span) {
            return false;
        }
        if let Some(filter) = agency {
            match filter {
                Some(span) if within(r.owner_span, span) || within(r.unit_span, span) => {}
                _ => return false,
            }
        }
        if let Some(s) = query.system
            && r.system != s
        {
            return false;
        }
        if let Some(states) = &query.state
            && !states.contains(&r.state)
        {
            return false;
        }
        if let Some(ls) = &query.level
            && !ls.iter().any(|l| l.get() == r.level)
        {
            return false;
        }
        if let Some(want) = query.overdue
            && overdue(r).is_some() != want
        {
            return false;
        }
        if needs_entry {
            let Some(d) = data.dossiers.get(&r.id) else {
                return false;
            };
            if let Some((n, sym, Some(date))) = &query.letter
                && !d
                    .letters
                    .iter()
                    .any(|(k, on)| k.0 == *n && k.1 == *sym && *on == Some(*date))
            {
                return false;
            }
            if let Some(q) = &query.q
                && !d.search.contains(q.as_str())
                && !data
                    .systems
                    .get(&d.system)
                    .is_some_and(|s| s.search.contains(q.as_str()))
            {
                return false;
            }
        }
        true
    };
    let (sort, desc) = query.sort.unwrap_or((DossierSort::Created, true));
    let mut found: Vec<&DossierRow> = match &query.letter {
        // The few dossiers that mention the letter, in id order.
        Some((n, s, _)) => data
            .letters
            .get(&(*n, s.clone()))
            .into_iter()
            .flatten()
            .filter_map(|id| {
                data.dossier_rows
                    .binary_search_by(|r| r.id.cmp(id))
                    .ok()
                    .map(|pos| &data.dossier_rows[pos])
            })
            .filter(keep)
            .collect(),
        None => data.dossier_rows.iter().filter(keep).collect(),
    };
    match sort {
        DossierSort::Created if desc => found.reverse(),
        DossierSort::Created => {}
        DossierSort::Updated if desc => found.sort_by_key(|r| std::cmp::Reverse(r.updated_at)),
        DossierSort::Updated => found.sort_by_key(|r| r.updated_at),
        // Dossiers without a deadline last either way.
        DossierSort::Due if desc => {
            found.sort_by_key(|r| (r.due.is_none(), std::cmp::Reverse(r.due)))
        }
        DossierSort::Due => found.sort_by_key(|r| (r.due.is_none(), r.due)),
    }
    let total = found.len();
    let hits = found
        .into_iter()
        .skip(query.page.offset)
        .take(query.page.limit)
        .filter_map(|r| data.dossiers.get(&r.id).map(|d| (r, d)))
        .map(|(r, d)| DossierHit {
            entry: d,
            overdue_days: overdue(r),
        })
        .collect();
    late_by_due.into_inner().give_back();
    (total, hits)
}

/// Runs `f`, off the async threads, over the dossiers `principal` may see that match `query`:
/// how many, and those of the query's page with their days late on `today`. The role check,
/// the agency scope and the filters of `GET /api/v1/dossiers`, for the API and the web pages.
pub(crate) async fn with_dossiers<T: Send + 'static>(
    state: &AppState,
    principal: Principal,
    query: DossierQuery,
    today: jiff::civil::Date,
    f: impl FnOnce(&IndexData, usize, Vec<DossierHit<'_>>) -> T + Send + 'static,
) -> Result<T, ApiError> {
    principal.require(PEOPLE)?;
    let st = state.clone();
    tokio::task::spawn_blocking(move || {
        let data = st.index.read(st.store.as_ref())?;
        let scope = Scope::of(&principal, &data);
        let (total, hits) = matching_dossiers(&data, &scope, &query, &st.pack(), today);
        Ok(f(&data, total, hits))
    })
    .await
    .map_err(|_| ApiError::invalid("a list task failed"))?
}

fn dossiers_page(
    data: &IndexData,
    total: usize,
    hits: Vec<DossierHit<'_>>,
) -> (usize, Vec<serde_json::Value>) {
    let items = hits
        .into_iter()
        .map(|hit| {
            let d = hit.entry;
            let item = DossierItem {
                dossier: d,
                state_vi: d.state.label_vi(),
                system_name: data
                    .systems
                    .get(&d.system)
                    .map_or("", |s| s.system.name.as_str()),
                overdue_days: hit.overdue_days,
            };
            serde_json::to_value(item).expect("dossiers serialise")
        })
        .collect();
    (total, items)
}

/// Working days late per due date, for one day and one pack (see `dossiers_page`): shared by
/// every request of the day, so each due date is computed once. The pack is kept (not its
/// address alone): a pack replaced by an official holiday schedule (`crate::packs`) cannot be
/// mistaken for a new one allocated at the same address.
struct LateCache {
    pack: Arc<canhgac_policies::pack::Pack>,
    today: jiff::civil::Date,
    /// What earlier requests computed.
    shared: Arc<HashMap<jiff::civil::Date, Option<i64>>>,
    /// What this request computed.
    days: HashMap<jiff::civil::Date, Option<i64>>,
}

type SharedLate = (
    Arc<canhgac_policies::pack::Pack>,
    jiff::civil::Date,
    Arc<HashMap<jiff::civil::Date, Option<i64>>>,
);

static LATE: std::sync::Mutex<Option<SharedLate>> = std::sync::Mutex::new(None);

impl LateCache {
    /// The days computed so far for this pack and day.
    fn take(pack: &Arc<canhgac_policies::pack::Pack>, today: jiff::civil::Date) -> LateCache {
        let kept = LATE.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let shared = match kept {
            Some((p, t, map)) if Arc::ptr_eq(&p, pack) && t == today => map,
            _ => Arc::new(HashMap::new()),
        };
        LateCache {
            pack: pack.clone(),
            today,
            shared,
            days: HashMap::new(),
        }
    }

    /// Days late for `due`, computing it with `f` the first time.
    fn get(&mut self, due: jiff::civil::Date, f: impl FnOnce() -> Option<i64>) -> Option<i64> {
        if let Some(v) = self.shared.get(&due) {
            return *v;
        }
        *self.days.entry(due).or_insert_with(f)
    }

    /// Shares what this request computed with the next ones.
    fn give_back(self) {
        if self.days.is_empty() {
            return;
        }
        let mut guard = LATE.lock().unwrap_or_else(|e| e.into_inner());
        let mut merged: HashMap<jiff::civil::Date, Option<i64>> = match guard.as_ref() {
            Some((p, t, map)) if Arc::ptr_eq(p, &self.pack) && *t == self.today => (**map).clone(),
            _ => HashMap::new(),
        };
        merged.extend(self.days);
        *guard = Some((self.pack, self.today, Arc::new(merged)));
    }
}

/// `GET /api/v1/dossiers` (people, within scope). Filters: `state` (comma list of state ids),
/// `agency` (an agency and its sub-agencies, through the dossier's system), `system`, `level`
/// (the proposed level, comma list), `overdue` (`true`/`false`: past a running deadline today),
/// `letter` (a letter's number and symbol, e.g. `2559/SCT-VP`, or a full reference with its
/// date: the covering letter, supplementation letters and answers, and the approval decision),
/// `q` (the system's name and the letters, without regard to case or diacritics); `sort` =
/// `created` (default `-created`: newest first), `updated`, `due`; `limit` (1-500, default
/// 50), `offset`.
pub async fn list_dossiers(
    State(state): State<AppState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    principal.require(PEOPLE)?;
    let query = DossierQuery::parse(raw.as_deref())?;
    let page = query.page;
    let today = today(Timestamp::now());
    let (total, items) = with_dossiers(&state, principal, query, today, dossiers_page).await?;
    Ok(page.answer(total, items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_are_read_as_typed() {
        let (n, s, d) = letter_param("2559/SCT-VP").unwrap();
        assert_eq!((n, s.as_str(), d), (2559, "sct vp", None));
        let (n, s, d) = letter_param("VB số 2559/SCT-VP ngày 25/5/2021").unwrap();
        assert_eq!((n, s.as_str()), (2559, "sct vp"));
        assert_eq!(d, Some(jiff::civil::date(2021, 5, 25)));
        assert_eq!(letter_param("2168/QĐ-UBND").unwrap().1, "qd ubnd");
        for bad in ["", "SCT-VP", "0/SCT", "abc/def", "12/"] {
            assert!(letter_param(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_parameters_are_refused() {
        for raw in [
            "limit=0",
            "limit=501",
            "offset=-1",
            "level=6",
            "grade=G",
            "status=old",
            "sort=size",
            "agency=x",
            "colour=red",
            "limit=1&limit=2",
            "dossier_state=lost",
        ] {
            assert!(SystemQuery::parse(Some(raw)).is_err(), "{raw}");
        }
        let q = SystemQuery::parse(Some(
            "level=2,3&grade=a,none&q=S%E1%BB%9F+C%C3%B4ng&sort=-name&limit=10&offset=20",
        ))
        .unwrap();
        assert_eq!(q.level.unwrap().len(), 2);
        assert_eq!(q.grade.unwrap(), vec![Some("A".to_string()), None]);
        assert_eq!(q.q.as_deref(), Some("so cong"));
        assert_eq!(q.sort, Some((SystemSort::Name, true)));
        assert_eq!((q.page.limit, q.page.offset), (10, 20));
        for raw in [
            "state=lost",
            "overdue=maybe",
            "letter=x",
            "system=1",
            "sort=name",
        ] {
            assert!(DossierQuery::parse(Some(raw)).is_err(), "{raw}");
        }
    }
}
