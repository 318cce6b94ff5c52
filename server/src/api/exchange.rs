//! Import, export and the weekly report over HTTP (`crate::exchange` does the work; the
//! command line calls the same functions):
//!
//! - `POST /api/v1/import/inventory?agency=&skip_bad_rows=&dry_run=`: a CSV (`text/csv`) or
//!   XLSX body; administrators and appraisers anywhere, agency officers into their own agency
//!   and its sub-agencies. 200 with the report, or 422 with the same report when errors made
//!   it import nothing.
//! - `GET /api/v1/export/systems?format=csv|xlsx&...`: the systems the caller may see, with
//!   the filters of `GET /api/v1/systems` (`crate::exchange::SystemFilter`), as a file.
//! - `GET /api/v1/reports/weekly?week_end=&format=json|text|xlsx`: the weekly figures; staff
//!   get the province's, an agency officer those of their agency and its sub-agencies.

use std::collections::{BTreeSet, HashMap};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use canhgac_policies::pack::Pack;
use jiff::civil::Date;
use serde::Serialize;

use super::inventory::tree;
use super::{ApiError, AppState, PEOPLE, Principal, blocking};
use crate::exchange::export::{FILTER_PARAMS, XLSX_TYPE};
use crate::exchange::import::{AgencyMatch, find_agency};
use crate::exchange::{
    Actor, ExportFormat, ImportError, ImportOptions, Scope, SystemFilter, export_rows,
    import_inventory, parse_date, systems_csv, systems_xlsx, today_vn, weekly_xlsx,
};
use crate::index::Index;
use crate::model::{Agency, AgencyId, DossierId, Role};
use crate::repo;
use crate::store::{Store, StoreError, Table};
use crate::weekly::{self, WeeklyFigures, weekly_text_vi};
use crate::workflow::AuditEvent;

/// The caller's scope: staff everything, an agency officer their agency's subtree.
fn scope_of(principal: &Principal) -> Result<Scope, ApiError> {
    match principal.account.role {
        Role::AgencyOfficer => principal
            .account
            .user()
            .agency
            .map(Scope::Within)
            .ok_or_else(ApiError::forbidden),
        Role::Agent => Err(ApiError::forbidden()),
        _ => Ok(Scope::All),
    }
}

/// Refuses query parameters other than `known` (a misspelt filter is an error, not ignored).
fn only(params: &HashMap<String, String>, known: &[&str]) -> Result<(), ApiError> {
    match params.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(ApiError::invalid(format!(
            "tham số \"{k}\" không được hỗ trợ; dùng: {} (unknown query parameter {k:?})",
            known.join(", ")
        ))),
        None => Ok(()),
    }
}

/// A yes/no parameter: absent or `false`/`0`/`no` is no; present empty, `true`/`1`/`yes` is yes.
fn flag(params: &HashMap<String, String>, name: &str) -> Result<bool, ApiError> {
    match params.get(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) => match v.as_str() {
            "" | "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(ApiError::invalid(format!(
                "{name} phải là true hoặc false ({name} must be true or false)"
            ))),
        },
    }
}

/// The agency a parameter names (id, short code or name), which must be in `scope`.
async fn agency_param(state: &AppState, scope: Scope, text: &str) -> Result<AgencyId, ApiError> {
    let store = state.store.clone();
    let text = text.to_owned();
    let (found, covered) = blocking(move || {
        let agencies: Vec<Agency> = repo::list(store.as_ref(), Table::Agencies, "", usize::MAX)?;
        let tree = tree(store.as_ref())?;
        let found = find_agency(&tree, &agencies, &text, None);
        let covered = match &found {
            AgencyMatch::One(id) => scope.covers(&tree, *id),
            _ => false,
        };
        Ok::<_, StoreError>((found, covered))
    })
    .await?;
    match found {
        AgencyMatch::One(id) if covered => Ok(id),
        AgencyMatch::One(_) => Err(ApiError::forbidden()),
        AgencyMatch::Unknown => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "agency_unknown",
            "không có cơ quan nào có mã, tên hoặc id này (no agency with this id, code or name)",
        )),
        AgencyMatch::Ambiguous(names) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "agency_ambiguous",
            format!(
                "nhiều cơ quan cùng tên: {}; hãy dùng id hoặc mã (several agencies match)",
                names.join(", ")
            ),
        )),
    }
}

fn import_error(e: ImportError) -> ApiError {
    match e {
        ImportError::Store(s) => ApiError::from(s),
        other => ApiError::new(StatusCode::BAD_REQUEST, other.code(), other.to_string()),
    }
}

/// `POST /api/v1/import/inventory` (administrator, appraiser; agency officers within their
/// agency): imports a CSV or XLSX inventory.
pub async fn import(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    principal.require(&[Role::Administrator, Role::Appraiser, Role::AgencyOfficer])?;
    let scope = scope_of(&principal)?;
    only(&params, &["agency", "skip_bad_rows", "dry_run"])?;
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    let accepted = [
        "text/csv",
        "application/csv",
        "text/plain",
        "application/vnd.ms-excel",
        XLSX_TYPE,
        "application/octet-stream",
    ];
    if let Some(m) = &media
        && !accepted.contains(&m.as_str())
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "gửi tệp CSV (text/csv) hoặc XLSX ({XLSX_TYPE}) trong thân yêu cầu, không phải {m} (send a CSV or XLSX body)"
            ),
        ));
    }
    let owner = match params
        .get("agency")
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
    {
        Some(text) => Some(agency_param(&state, scope, text).await?),
        None => match scope {
            Scope::Within(own) => Some(own),
            Scope::All => None,
        },
    };
    let options = ImportOptions {
        owner,
        skip_bad_rows: flag(&params, "skip_bad_rows")?,
        dry_run: flag(&params, "dry_run")?,
        actor: Some(Actor {
            id: principal.account.id,
            login: principal.account.login.clone(),
            role: principal.account.role,
        }),
    };
    let store = state.store.clone();
    let pack = state.pack();
    let report = tokio::task::spawn_blocking(move || {
        import_inventory(
            store.as_ref(),
            &pack,
            &body,
            &options,
            scope,
            crate::clock::now(),
        )
    })
    .await
    .map_err(|_| ApiError::invalid("the import task failed"))?
    .map_err(import_error)?;
    let status = if report.rejected {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, Json(report)).into_response())
}

/// A file to download.
fn download(content_type: &str, file_name: &str, body: Vec<u8>) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// `GET /api/v1/export/systems` (people, within scope): the systems as CSV or XLSX.
pub async fn export(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    principal.require(PEOPLE)?;
    let scope = scope_of(&principal)?;
    let mut known = vec!["format"];
    known.extend_from_slice(FILTER_PARAMS);
    only(&params, &known)?;
    let format = match params.get("format").map(String::as_str) {
        None | Some("") => ExportFormat::Csv,
        Some(text) => ExportFormat::parse(text).ok_or_else(|| {
            ApiError::invalid("format phải là csv hoặc xlsx (format must be csv or xlsx)")
        })?,
    };
    let mut filter = SystemFilter::default();
    for (name, value) in &params {
        if name == "format" || name == "agency" {
            continue;
        }
        filter.set(name, value).map_err(ApiError::invalid)?;
    }
    if let Some(text) = params
        .get("agency")
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
    {
        filter.agency = Some(agency_param(&state, scope, text).await?);
    }
    let store = state.store.clone();
    let rows = blocking(move || export_rows(store.as_ref(), scope, &filter)).await?;
    let body = match format {
        ExportFormat::Csv => systems_csv(&rows),
        ExportFormat::Xlsx => systems_xlsx(&rows).map_err(|e| {
            tracing::error!(error = %e, "export workbook");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "xlsx",
                "cannot build the workbook",
            )
        })?,
    };
    let day = today_vn(crate::clock::now());
    let name = format!("he-thong-thong-tin-{day}.{}", format.extension());
    Ok(download(format.content_type(), &name, body))
}

/// The weekly figures as JSON: the figures, whose they are, and the letter's paragraph.
#[derive(Debug, Serialize)]
pub struct WeeklyAnswer {
    /// The figures (`crate::weekly`).
    #[serde(flatten)]
    pub figures: WeeklyFigures,
    /// `province`, or the id of the officer's agency.
    pub scope: String,
    /// "toàn tỉnh", or the agency's name.
    pub scope_name: String,
    /// The Vietnamese paragraph for the weekly letter.
    pub text: String,
}

/// The weekly report of `GET /api/v1/reports/weekly` as of the end of `week_end` (people:
/// staff get the province's, an agency officer that of their agency and its sub-agencies),
/// for the API and the web pages alike.
pub(crate) async fn weekly_report(
    state: &AppState,
    principal: &Principal,
    week_end: Date,
) -> Result<WeeklyAnswer, ApiError> {
    principal.require(PEOPLE)?;
    let scope = scope_of(principal)?;
    let store = state.store.clone();
    let index = state.index.clone();
    let pack = state.pack();
    let (figures, scope_name) =
        blocking(move || weekly_indexed(store.as_ref(), &index, &pack, week_end, scope)).await?;
    let text = weekly_text_vi(&figures);
    Ok(WeeklyAnswer {
        figures,
        scope: match scope {
            Scope::All => "province".to_owned(),
            Scope::Within(id) => id.to_string(),
        },
        scope_name,
        text,
    })
}

/// The weekly figures over `scope` and the scope's name, from the read index: only the audit
/// trails of the dossiers changed since the week before are read
/// (`crate::weekly::weekly_figures_current`, the same figures as
/// `crate::exchange::weekly_scoped` gives from every record).
pub(crate) fn weekly_indexed(
    store: &dyn Store,
    index: &Index,
    pack: &Pack,
    week_end: Date,
    scope: Scope,
) -> Result<(WeeklyFigures, String), StoreError> {
    let within = match scope {
        Scope::All => None,
        Scope::Within(id) => Some(id),
    };
    let (current, tree, name) = {
        let data = index.read(store)?;
        let name = match within {
            None => "toàn tỉnh".to_owned(),
            Some(id) => data
                .agencies
                .get(id)
                .map_or_else(|| id.to_string(), |a| a.name.clone()),
        };
        (
            weekly::current_dossiers(&data, within),
            data.agencies.tree(),
            name,
        )
    };
    let trails = trails_of(store, &weekly::trails_needed(&current, week_end))?;
    let figures =
        weekly::weekly_figures_current(&current, &trails, &tree, week_end, &pack.calendar);
    Ok((figures, name))
}

/// The audit events of `dossiers`: one read of each trail, or one pass over every event when
/// they are many (a week after a large import).
fn trails_of(
    store: &dyn Store,
    dossiers: &BTreeSet<DossierId>,
) -> Result<Vec<AuditEvent>, StoreError> {
    const ONE_BY_ONE: usize = 2_000;
    if dossiers.len() <= ONE_BY_ONE {
        let mut out = Vec::new();
        for id in dossiers {
            out.extend(repo::list::<AuditEvent>(
                store,
                Table::Events,
                &format!("{id}/"),
                usize::MAX,
            )?);
        }
        return Ok(out);
    }
    Ok(
        repo::list::<AuditEvent>(store, Table::Events, "", usize::MAX)?
            .into_iter()
            .filter(|e| dossiers.contains(&e.dossier))
            .collect(),
    )
}

/// `GET /api/v1/reports/weekly` (people): the weekly report as JSON, text or XLSX.
pub async fn weekly(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    principal.require(PEOPLE)?;
    scope_of(&principal)?;
    only(&params, &["week_end", "format"])?;
    let week_end = match params
        .get("week_end")
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
    {
        Some(text) => parse_date(text).ok_or_else(|| {
            ApiError::invalid(format!(
                "week_end \"{text}\" không phải ngày: ghi dd/mm/yyyy hoặc yyyy-mm-dd (not a date)"
            ))
        })?,
        None => today_vn(crate::clock::now()),
    };
    let format = params
        .get("format")
        .map(|f| f.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "json".to_owned());
    if !["json", "text", "xlsx"].contains(&format.as_str()) {
        return Err(ApiError::invalid(
            "format phải là json, text hoặc xlsx (format must be json, text or xlsx)",
        ));
    }
    let answer = weekly_report(&state, &principal, week_end).await?;
    match format.as_str() {
        "text" => Ok((
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{}\n", answer.text),
        )
            .into_response()),
        "xlsx" => {
            let body = weekly_xlsx(&answer.figures, &answer.scope_name).map_err(|e| {
                tracing::error!(error = %e, "weekly workbook");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "xlsx",
                    "cannot build the workbook",
                )
            })?;
            Ok(download(
                XLSX_TYPE,
                &format!("bao-cao-tuan-{week_end}.xlsx"),
                body,
            ))
        }
        _ => Ok(Json(answer).into_response()),
    }
}
