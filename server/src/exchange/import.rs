//! Importing the inventory from the spreadsheet officers keep (seed 001's "Danh mục hệ thống
//! thông tin": STT, tên hệ thống, đơn vị vận hành, cấp độ đề xuất, văn bản gửi hồ sơ, plus URL,
//! nơi đặt máy chủ and optionally the owner agency).
//!
//! The import is all or nothing: every row is checked first and every error collected (row,
//! column, value, code, message in Vietnamese); if any row is wrong nothing is written, unless
//! the caller asks to skip bad rows, in which case the good rows are written and the bad ones
//! reported. What is written goes in one atomic [`Batch`], each write guarded by what was read,
//! so a concurrent change makes the whole import fail with a conflict rather than half-apply.
//!
//! Re-importing a file never duplicates a system: a row is the system of the same owner agency
//! whose name has the same key ([`super::text::key`]: case, diacritics, punctuation and spacing
//! ignored). Such a row updates the system from the columns present in the file (an empty cell
//! clears the field; an absent column leaves it) and is reported `updated`, or `unchanged` when
//! nothing differs. The name itself is the key and is never rewritten by an import.
//!
//! A "văn bản gửi hồ sơ" says the level-proposal dossier was sent with that letter: unless the
//! system already has a dossier with that letter, the import records one in state `submitted`
//! (created and last changed on the letter's date, Vietnam time, which is when the weekly
//! figures start counting it), proposing the row's level, with the appraisal deadline of the
//! policy pack counted from the letter's date, no documents (they can be attached later) and
//! no audit event (it predates canhgac; `crate::weekly` reads such dossiers from their
//! `updated_at`). A system whose dossier is still being handled under another letter is
//! reported as an error rather than given a second dossier.

use std::collections::{BTreeMap, BTreeSet};

use canhgac_policies::calendar::{CalendarRules, add_working_days};
use canhgac_policies::pack::Pack;
use canhgac_policies::pack::workflow::{DayCount, Limit};
use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use super::Scope;
use super::table::{self, FileFormat, Row, TableError};
use super::text::{Column, key, parse_level, squash};
use crate::changes::InventoryEvent;
use crate::model::{
    Agency, AgencyId, AgencyTree, Deadline, DeadlineStage, Dossier, DossierId, DossierState,
    EventId, LetterRef, Level, Role, System, SystemId, SystemStatus, UserId,
};
use crate::repo;
use crate::store::{Batch, Store, StoreError, Table};
use crate::workflow::{ActionKind, AuditEvent};

/// What the caller asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// The owner agency of rows that do not name one in an owner column.
    pub owner: Option<AgencyId>,
    /// Import the good rows and report the bad ones, instead of importing nothing.
    pub skip_bad_rows: bool,
    /// Check and count everything, write nothing.
    pub dry_run: bool,
    /// Who imports (the audit events name them); `None` on the command line, recorded as an
    /// administrator [`Actor::command_line`].
    pub actor: Option<Actor>,
}

/// Who imports, as the audit trails record it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The account's id (dossier events).
    pub id: UserId,
    /// The account's login (inventory events).
    pub login: String,
    /// Its role.
    pub role: Role,
}

impl Actor {
    /// The command line on the server's machine: an administrator with a fixed id derived from
    /// "canhgac-server cli" and the login "canhgac-server".
    pub fn command_line() -> Actor {
        Actor {
            id: UserId::derived(Timestamp::UNIX_EPOCH, b"canhgac-server cli"),
            login: "canhgac-server".to_owned(),
            role: Role::Administrator,
        }
    }
}

/// An error in one cell (or row) of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    /// The row number as the spreadsheet program shows it (CSV line, worksheet row).
    pub row: u32,
    /// The column's header as written in the file.
    pub column: String,
    /// The cell as written.
    pub value: String,
    /// A stable code (`docs/import-export.md`).
    pub code: String,
    /// What is wrong, in Vietnamese (then English).
    pub message: String,
}

/// What happened to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new system.
    Created,
    /// A known system, changed (fields, or a new dossier).
    Updated,
    /// A known system, nothing to change.
    Unchanged,
    /// Not imported (an error in this row, or in another when bad rows are not skipped).
    Skipped,
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowOutcome {
    /// The row number.
    pub row: u32,
    /// The system's name as written.
    pub name: String,
    /// What happened.
    pub outcome: Outcome,
    /// The system (new or matched), when the row was valid.
    pub system: Option<SystemId>,
    /// Whether a submitted dossier is recorded for the row's letter.
    pub dossier_created: bool,
}

/// The result of an import (also the JSON answer of `POST /api/v1/import/inventory`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Systems created.
    pub created: u32,
    /// Systems updated.
    pub updated: u32,
    /// Systems already as in the file.
    pub unchanged: u32,
    /// Rows not imported.
    pub skipped: u32,
    /// Submitted dossiers recorded from letters.
    pub dossiers_created: u32,
    /// Nothing was written because this was a dry run.
    pub dry_run: bool,
    /// Nothing was imported because of errors (answered 422 by the API).
    pub rejected: bool,
    /// Every error, in row order.
    pub errors: Vec<RowError>,
    /// Every data row.
    pub rows: Vec<RowOutcome>,
    /// Headers of columns that were not read (unknown, or a second column of a kind).
    pub ignored_columns: Vec<String>,
}

/// Why a file cannot be imported at all (row errors are in the [`ImportReport`] instead).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be read as a table.
    #[error(transparent)]
    Table(#[from] TableError),
    /// No row looks like the header.
    #[error(
        "không tìm thấy dòng tiêu đề có cột \"Tên hệ thống\" (cùng các cột như STT, Đơn vị vận hành, Cấp độ đề xuất) trong 30 dòng đầu (no header row with a system name column)"
    )]
    NoHeader,
    /// A header and no data row.
    #[error("tệp không có dòng dữ liệu nào sau dòng tiêu đề (no data rows after the header)")]
    NoRows,
    /// The store failed (or changed under the import: a conflict).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ImportError {
    /// A stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::Table(TableError::Empty) => "file_empty",
            ImportError::Table(TableError::NotUtf8 { .. }) => "file_not_utf8",
            ImportError::Table(TableError::TooManyRows) => "file_too_large",
            ImportError::Table(_) => "file_unreadable",
            ImportError::NoHeader => "header_missing",
            ImportError::NoRows => "no_rows",
            ImportError::Store(StoreError::Conflict(_)) => "conflict",
            ImportError::Store(_) => "storage",
        }
    }
}

/// The header row among the first rows: its index and the column of each cell. A header has
/// a name column and at least one other known column (so a title such as "Danh mục hệ thống
/// thông tin" is not taken for it), or is a lone "Tên ..." cell.
pub fn header_row(rows: &[Row]) -> Option<(usize, Vec<Option<Column>>)> {
    rows.iter().take(30).enumerate().find_map(|(i, row)| {
        let columns: Vec<Option<Column>> =
            row.cells.iter().map(|c| Column::from_header(c)).collect();
        let known = columns
            .iter()
            .flatten()
            .filter(|c| **c != Column::ExportOnly)
            .count();
        let filled = row.cells.iter().filter(|c| !c.trim().is_empty()).count();
        let has_name = columns.contains(&Some(Column::Name));
        // A lone name column must say "Tên ..." (a title such as "Danh mục hệ thống" does not).
        let lone_name = filled == 1
            && row
                .cells
                .iter()
                .any(|c| key(c) == "ten" || key(c).starts_with("ten "));
        (has_name && (known >= 2 || lone_name)).then_some((i, columns))
    })
}

/// How an agency named in a cell (or given by the caller) resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgencyMatch {
    /// Exactly one.
    One(AgencyId),
    /// None by that id, code or name.
    Unknown,
    /// Several (their names).
    Ambiguous(Vec<String>),
}

/// The agency `text` names: an id, a short code (any case) or a name (case, diacritics and
/// spacing ignored). Among several, those within `prefer` (when given) win, then those not
/// retired.
pub fn find_agency(
    tree: &AgencyTree,
    agencies: &[Agency],
    text: &str,
    prefer: Option<AgencyId>,
) -> AgencyMatch {
    let text = squash(text);
    if let Ok(id) = text.parse::<AgencyId>() {
        return if tree.get(id).is_some() {
            AgencyMatch::One(id)
        } else {
            AgencyMatch::Unknown
        };
    }
    let k = key(&text);
    if k.is_empty() {
        return AgencyMatch::Unknown;
    }
    let mut found: Vec<&Agency> = agencies
        .iter()
        .filter(|a| a.short_code.trim().eq_ignore_ascii_case(&text) || key(&a.name) == k)
        .collect();
    if found.len() > 1
        && let Some(root) = prefer
    {
        let within: Vec<&Agency> = found
            .iter()
            .copied()
            .filter(|a| tree.is_within(a.id, root))
            .collect();
        if !within.is_empty() {
            found = within;
        }
    }
    if found.len() > 1 {
        let active: Vec<&Agency> = found.iter().copied().filter(|a| !a.retired).collect();
        if !active.is_empty() {
            found = active;
        }
    }
    match found.as_slice() {
        [] => AgencyMatch::Unknown,
        [one] => AgencyMatch::One(one.id),
        many => AgencyMatch::Ambiguous(many.iter().map(|a| a.name.clone()).collect()),
    }
}

/// The agency `text` names (id, short code or name), read from the store.
pub fn agency_named(store: &dyn Store, text: &str) -> Result<AgencyMatch, StoreError> {
    let agencies: Vec<Agency> = repo::list(store, Table::Agencies, "", usize::MAX)?;
    let tree = AgencyTree::new(&agencies);
    Ok(find_agency(&tree, &agencies, text, None))
}

/// The appraisal deadline of a dossier received on `start` (the day itself not counted), as
/// `crate::workflow` computes it on submission.
fn appraisal_deadline(calendar: &CalendarRules, limit: Limit, start: Date) -> Deadline {
    let due = match limit.count {
        DayCount::WorkingDays => add_working_days(calendar, start, limit.days),
        DayCount::CalendarDays => {
            let end = start.saturating_add(i64::from(limit.days).days());
            // A limit ending on a day off moves to the next working day.
            add_working_days(calendar, end.saturating_sub(1.day()), 1)
        }
    };
    Deadline {
        stage: DeadlineStage::Appraisal,
        count: limit.count,
        due,
        paused_since: None,
        days_left: None,
    }
}

/// A name written with its address and hosting in parentheses, as in seed 001: "Trang thông
/// tin điện tử của Sở (http://sct.dongnai.gov.vn/ Server tại Data Center của tỉnh)" -> the
/// name, the URL and the hosting.
fn split_name(name: &str) -> (String, Option<String>, Option<String>) {
    let trimmed = name.trim();
    if let Some(open) = trimmed.rfind('(')
        && trimmed.ends_with(')')
    {
        let inner = trimmed[open + 1..trimmed.len() - 1].trim();
        let lower = inner.to_ascii_lowercase();
        if lower.starts_with("http://")
            || lower.starts_with("https://")
            || lower.starts_with("www.")
        {
            let (url, rest) = inner.split_once(char::is_whitespace).unwrap_or((inner, ""));
            let rest = squash(rest);
            return (
                squash(&trimmed[..open]),
                Some(url.to_owned()),
                (!rest.is_empty()).then_some(rest),
            );
        }
    }
    (squash(trimmed), None, None)
}

/// The URLs of a cell: separated by spaces, line breaks, commas or semicolons; each must be an
/// address with a host (a scheme is optional).
fn parse_urls(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for token in text
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .map(|t| t.trim_matches(|c: char| matches!(c, '<' | '>' | '(' | ')' | '"')))
        .filter(|t| !t.is_empty())
    {
        let full = if token.contains("://") {
            token.to_owned()
        } else {
            format!("http://{token}")
        };
        let ok = url::Url::parse(&full).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host_str()
                    .is_some_and(|h| h.contains('.') || h == "localhost")
        });
        if !ok {
            return Err(token.to_owned());
        }
        if !out.iter().any(|u: &String| u == token) {
            out.push(token.to_owned());
        }
    }
    Ok(out)
}

/// A row, read and checked.
struct Checked {
    name: String,
    owner: AgencyId,
    unit: Option<AgencyId>,
    level: Option<Option<Level>>,
    letter: Option<LetterRef>,
    urls: Option<Vec<String>>,
    hosting: Option<String>,
}

/// The cells of a row by column, with the header each came from.
struct Cells<'a> {
    row: &'a Row,
    by_column: &'a BTreeMap<Column, (usize, String)>,
}

impl Cells<'_> {
    /// `Some(text)` when the file has the column (empty text for an empty cell).
    fn get(&self, column: Column) -> Option<String> {
        self.by_column.get(&column).map(|(i, _)| {
            self.row
                .cells
                .get(*i)
                .map(|c| c.trim().to_owned())
                .unwrap_or_default()
        })
    }

    fn header(&self, column: Column) -> String {
        self.by_column
            .get(&column)
            .map_or_else(|| column.header_vi().to_owned(), |(_, h)| squash(h))
    }
}

/// Everything the import reads from the store.
struct Known {
    agencies: Vec<Agency>,
    tree: AgencyTree,
    /// Systems by (owner, name key), with their stored bytes; the first by id wins.
    systems: BTreeMap<(AgencyId, String), (System, Vec<u8>)>,
    dossiers: BTreeMap<SystemId, Vec<Dossier>>,
}

impl Known {
    fn load(store: &dyn Store) -> Result<Known, StoreError> {
        let agencies: Vec<Agency> = repo::list(store, Table::Agencies, "", usize::MAX)?;
        let tree = AgencyTree::new(&agencies);
        let mut systems = BTreeMap::new();
        for (k, raw) in store.scan(Table::Systems, b"", None, usize::MAX)? {
            let system: System = serde_json::from_slice(&raw).map_err(|e| {
                StoreError::Corrupt(format!("systems {}: {e}", String::from_utf8_lossy(&k)))
            })?;
            systems
                .entry((system.owner_agency, key(&system.name)))
                .or_insert((system, raw));
        }
        let mut dossiers: BTreeMap<SystemId, Vec<Dossier>> = BTreeMap::new();
        for d in repo::list::<Dossier>(store, Table::Dossiers, "", usize::MAX)? {
            dossiers.entry(d.system).or_default().push(d);
        }
        Ok(Known {
            agencies,
            tree,
            systems,
            dossiers,
        })
    }
}

/// Imports an inventory file (CSV or XLSX, told apart by content) into `store`, for a caller
/// who may write within `scope`, on `now`. Row errors are in the report; `Err` only when the
/// file cannot be read at all or the store fails.
pub fn import_inventory(
    store: &dyn Store,
    pack: &Pack,
    bytes: &[u8],
    options: &ImportOptions,
    scope: Scope,
    now: Timestamp,
) -> Result<ImportReport, ImportError> {
    let rows = table::read(bytes, FileFormat::sniff(bytes))?;
    let (header_index, columns) = header_row(&rows).ok_or(ImportError::NoHeader)?;
    let header = &rows[header_index];
    let mut by_column: BTreeMap<Column, (usize, String)> = BTreeMap::new();
    let mut report = ImportReport {
        dry_run: options.dry_run,
        ..ImportReport::default()
    };
    for (i, column) in columns.iter().enumerate() {
        let text = header.cells.get(i).cloned().unwrap_or_default();
        match column {
            Some(Column::ExportOnly) => {}
            Some(c) if !by_column.contains_key(c) => {
                by_column.insert(*c, (i, text));
            }
            _ if text.trim().is_empty() => {}
            _ => report.ignored_columns.push(squash(&text)),
        }
    }
    let data: Vec<&Row> = rows[header_index + 1..]
        .iter()
        .filter(|r| {
            r.cells
                .iter()
                .enumerate()
                .any(|(i, c)| !c.trim().is_empty() && columns.get(i) != Some(&Some(Column::Number)))
        })
        .collect();
    if data.is_empty() {
        return Err(ImportError::NoRows);
    }
    let known = Known::load(store)?;
    let today = super::today_vn(now);
    let mut seen: BTreeSet<(AgencyId, String)> = BTreeSet::new();
    let mut batch = Batch::new();
    let mut planned: Vec<(RowOutcome, Vec<RowError>, Batch)> = Vec::new();
    for row in data {
        let cells = Cells {
            row,
            by_column: &by_column,
        };
        let mut errors = Vec::new();
        let mut err = |column: Column, value: &str, code: &str, message: String| {
            errors.push(RowError {
                row: row.number,
                column: cells.header(column),
                value: value.to_owned(),
                code: code.to_owned(),
                message,
            });
        };
        let written = cells.get(Column::Name).unwrap_or_default();
        let checked = check_row(&cells, &known, options, scope, today, &mut err);
        let mut outcome = RowOutcome {
            row: row.number,
            name: squash(&written),
            outcome: Outcome::Skipped,
            system: None,
            dossier_created: false,
        };
        let mut row_batch = Batch::new();
        if let Some(checked) = checked {
            outcome.name = checked.name.clone();
            let id = (checked.owner, key(&checked.name));
            if !seen.insert(id) {
                err(
                    Column::Name,
                    &written,
                    "name_duplicate",
                    "hệ thống này đã có ở một dòng trước trong tệp (cùng cơ quan chủ quản, cùng tên) (the system appears twice in the file)".to_owned(),
                );
            } else {
                let env = Env {
                    known: &known,
                    pack,
                    now,
                    actor: options.actor.clone().unwrap_or_else(Actor::command_line),
                };
                plan(&checked, &env, &mut outcome, &mut row_batch, &mut err);
            }
        }
        planned.push((outcome, errors, row_batch));
    }
    let any_error = planned.iter().any(|(_, e, _)| !e.is_empty());
    let write = !any_error || options.skip_bad_rows;
    for (mut outcome, errors, row_batch) in planned {
        if errors.is_empty() && write {
            match outcome.outcome {
                Outcome::Created => report.created += 1,
                Outcome::Updated => report.updated += 1,
                Outcome::Unchanged => report.unchanged += 1,
                Outcome::Skipped => {}
            }
            if outcome.dossier_created {
                report.dossiers_created += 1;
            }
            batch.conditions.extend(row_batch.conditions);
            batch.ops.extend(row_batch.ops);
        } else {
            outcome.outcome = Outcome::Skipped;
            outcome.dossier_created = false;
            report.skipped += 1;
        }
        report.errors.extend(errors);
        report.rows.push(outcome);
    }
    report.rejected = any_error && report.created + report.updated + report.unchanged == 0;
    if !options.dry_run && !batch.ops.is_empty() {
        store.apply(batch)?;
    }
    Ok(report)
}

/// Reads and checks one row; `None` when it has errors (all reported through `err`).
fn check_row(
    cells: &Cells<'_>,
    known: &Known,
    options: &ImportOptions,
    scope: Scope,
    today: Date,
    err: &mut impl FnMut(Column, &str, &str, String),
) -> Option<Checked> {
    let before = std::cell::Cell::new(0u32);
    let mut fail = |column: Column, value: &str, code: &str, message: String| {
        before.set(before.get() + 1);
        err(column, value, code, message);
    };
    let tree = &known.tree;
    let written = cells.get(Column::Name).unwrap_or_default();
    let (name, url_in_name, hosting_in_name) = split_name(&written);
    if name.is_empty() {
        fail(
            Column::Name,
            &written,
            "name_missing",
            "thiếu tên hệ thống (the system name is empty)".to_owned(),
        );
    }
    // The owner: the owner column, else the caller's agency.
    let owner = match cells.get(Column::Owner).filter(|t| !t.is_empty()) {
        Some(text) => match find_agency(tree, &known.agencies, &text, options.owner) {
            AgencyMatch::One(id) if scope.covers(tree, id) => Some(id),
            AgencyMatch::One(_) => {
                fail(
                    Column::Owner,
                    &text,
                    "out_of_scope",
                    "cơ quan chủ quản nằm ngoài phạm vi đơn vị của bạn (the owner agency is outside your agency)".to_owned(),
                );
                None
            }
            AgencyMatch::Unknown => {
                fail(
                    Column::Owner,
                    &text,
                    "owner_unknown",
                    format!(
                        "không có cơ quan nào có mã hoặc tên \"{}\" (no agency with this code or name)",
                        squash(&text)
                    ),
                );
                None
            }
            AgencyMatch::Ambiguous(names) => {
                fail(
                    Column::Owner,
                    &text,
                    "owner_ambiguous",
                    format!(
                        "nhiều cơ quan cùng tên: {}; hãy ghi mã cơ quan (several agencies match; write the code)",
                        names.join(", ")
                    ),
                );
                None
            }
        },
        None => match options.owner {
            Some(id) => Some(id),
            None => {
                fail(
                    Column::Owner,
                    "",
                    "owner_missing",
                    "chưa rõ cơ quan chủ quản: thêm cột \"Cơ quan chủ quản\" hoặc chọn cơ quan khi nhập (no owner agency: add the column or choose one)".to_owned(),
                );
                None
            }
        },
    };
    // The operating unit: by code or name, preferring the owner's sub-agencies; empty = owner.
    let unit = match cells.get(Column::Unit) {
        Some(text) if !text.is_empty() => {
            let prefer = owner.or(options.owner);
            match find_agency(tree, &known.agencies, &text, prefer) {
                AgencyMatch::One(id) if scope.covers(tree, id) => Some(Some(id)),
                AgencyMatch::One(_) => {
                    fail(
                        Column::Unit,
                        &text,
                        "out_of_scope",
                        "đơn vị vận hành nằm ngoài phạm vi đơn vị của bạn (the operating unit is outside your agency)".to_owned(),
                    );
                    None
                }
                AgencyMatch::Unknown => {
                    fail(
                        Column::Unit,
                        &text,
                        "unit_unknown",
                        format!(
                            "không có đơn vị nào có mã hoặc tên \"{}\"; hãy thêm đơn vị trước hoặc ghi đúng tên (no agency with this code or name)",
                            squash(&text)
                        ),
                    );
                    None
                }
                AgencyMatch::Ambiguous(names) => {
                    fail(
                        Column::Unit,
                        &text,
                        "unit_ambiguous",
                        format!(
                            "nhiều đơn vị cùng tên: {}; hãy ghi mã đơn vị (several agencies match; write the code)",
                            names.join(", ")
                        ),
                    );
                    None
                }
            }
        }
        // Empty or absent: the owner for a new system, unchanged for a known one.
        _ => Some(None),
    };
    let level = match cells.get(Column::Level) {
        Some(text) => match parse_level(&text) {
            Ok(level) => Some(level),
            Err(e) => {
                fail(Column::Level, &text, "level_invalid", e.to_string());
                None
            }
        },
        None => None,
    };
    let letter = match cells.get(Column::Letter).filter(|t| !t.is_empty()) {
        Some(text) => match LetterRef::parse(&squash(&text)) {
            Ok(letter) if letter.date > today => {
                fail(
                    Column::Letter,
                    &text,
                    "letter_in_future",
                    format!(
                        "ngày của văn bản ({}) sau ngày hôm nay (the letter is dated in the future)",
                        crate::model::format_date_vi(letter.date)
                    ),
                );
                None
            }
            Ok(letter) => Some(letter),
            Err(e) => {
                fail(Column::Letter, &text, "letter_invalid", e.to_string());
                None
            }
        },
        None => None,
    };
    let urls = match cells.get(Column::Url).filter(|t| !t.is_empty()) {
        Some(text) => match parse_urls(&text) {
            Ok(urls) => Some(urls),
            Err(bad) => {
                fail(
                    Column::Url,
                    &text,
                    "url_invalid",
                    format!(
                        "\"{bad}\" không phải địa chỉ web hợp lệ, ví dụ https://sct.dongnai.gov.vn (not a web address)"
                    ),
                );
                None
            }
        },
        None => match url_in_name {
            Some(url) => parse_urls(&url).ok(),
            None => cells.get(Column::Url).map(|_| Vec::new()),
        },
    };
    let hosting = match cells.get(Column::Hosting).filter(|t| !t.is_empty()) {
        Some(text) => Some(squash(&text)),
        None => hosting_in_name.or_else(|| cells.get(Column::Hosting)),
    };
    if before.get() > 0 {
        return None;
    }
    Some(Checked {
        name,
        owner: owner?,
        unit: unit?,
        level: if cells.get(Column::Level).is_some() {
            Some(level?)
        } else {
            None
        },
        letter,
        urls,
        hosting,
    })
}

/// The writes of one valid row: the system created or updated, and its dossier.
/// What planning a row needs besides the row.
struct Env<'a> {
    known: &'a Known,
    pack: &'a Pack,
    now: Timestamp,
    actor: Actor,
}

fn plan(
    row: &Checked,
    env: &Env<'_>,
    outcome: &mut RowOutcome,
    batch: &mut Batch,
    err: &mut impl FnMut(Column, &str, &str, String),
) {
    let Env {
        known,
        pack,
        now,
        ref actor,
    } = *env;
    let existing = known.systems.get(&(row.owner, key(&row.name)));
    let base = match existing {
        Some((system, _)) => system.clone(),
        None => System {
            id: SystemId::derived(now, &rand::random::<[u8; 16]>()),
            name: row.name.clone(),
            owner_agency: row.owner,
            operating_unit: row.owner,
            urls: Vec::new(),
            hosting: String::new(),
            category: String::new(),
            proposed_level: None,
            approved: None,
            status: SystemStatus::InUse,
            needs_redetermination: false,
        },
    };
    let mut next = base.clone();
    if existing.is_none() || row.unit.is_some() {
        next.operating_unit = row.unit.unwrap_or(row.owner);
    }
    if let Some(urls) = &row.urls {
        next.urls = urls.clone();
    }
    if let Some(hosting) = &row.hosting {
        next.hosting = hosting.clone();
    }
    if let Some(level) = row.level {
        next.proposed_level = level;
    }
    let next = base.revise(next);
    // The dossier of the row's letter.
    let mut dossier = None;
    if let Some(letter) = &row.letter {
        let letter_text = letter.to_string();
        let theirs = known
            .dossiers
            .get(&next.id)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let same = theirs
            .iter()
            .any(|d| d.submitted_letter.as_ref() == Some(letter));
        let open = theirs
            .iter()
            .find(|d| d.state.is_with_authority() || d.state == DossierState::NeedsSupplement);
        if same {
            // Recorded already (by an earlier import or through the workflow).
        } else if let Some(open) = open {
            err(
                Column::Letter,
                &letter_text,
                "dossier_open",
                format!(
                    "hệ thống đã có hồ sơ đang xử lý ({}, gửi kèm văn bản {}); không tạo thêm hồ sơ (the system has a dossier in progress under another letter)",
                    open.state.label_vi(),
                    open.submitted_letter
                        .as_ref()
                        .map_or_else(|| "không rõ".to_owned(), ToString::to_string)
                ),
            );
            return;
        } else if next.status == SystemStatus::Retired {
            err(
                Column::Letter,
                &letter_text,
                "system_retired",
                "hệ thống đã ngừng sử dụng, không ghi nhận hồ sơ mới (the system is retired)"
                    .to_owned(),
            );
            return;
        } else {
            let Some(level) = next.proposed_level else {
                err(
                    Column::Level,
                    "",
                    "letter_needs_level",
                    "có văn bản gửi hồ sơ nhưng chưa có cấp độ đề xuất (a letter without a proposed level)".to_owned(),
                );
                return;
            };
            let Some(flow) = pack.workflow.for_level(level.get()) else {
                err(
                    Column::Level,
                    &level.to_string(),
                    "level_invalid",
                    format!(
                        "bộ quy tắc không có quy trình cho {} (the policy pack has no workflow for this level)",
                        level.label_vi()
                    ),
                );
                return;
            };
            let at = letter
                .date
                .to_zoned_datetime(jiff::tz::TimeZone::fixed(jiff::tz::offset(7)))
                .map_or(now, |z| z.timestamp());
            let mut d = Dossier::new_draft(
                DossierId::derived(now, &rand::random::<[u8; 16]>()),
                next.id,
                level,
                at,
            );
            d.state = DossierState::Submitted;
            d.submitted_letter = Some(letter.clone());
            d.deadline = Some(appraisal_deadline(
                &pack.calendar,
                flow.appraisal,
                letter.date,
            ));
            let event = AuditEvent {
                id: EventId::derived(at, d.id.to_string().as_bytes()),
                dossier: d.id,
                system: d.system,
                at,
                on: letter.date,
                actor: actor.id,
                role: actor.role,
                from: DossierState::Draft,
                to: DossierState::Submitted,
                action: ActionKind::Submit,
                note: Some(format!(
                    "Đề xuất {}; ghi nhận khi nhập danh mục hệ thống thông tin",
                    level.label_vi()
                )),
                on_behalf_of: None,
                letter: Some(letter.clone()),
                documents: Vec::new(),
                round: None,
                decision: None,
                assignee: None,
                deadline: d.deadline.clone(),
            };
            dossier = Some((d, event));
        }
    }
    let key_bytes = next.id.to_string();
    match existing {
        None => {
            outcome.outcome = Outcome::Created;
            *batch = std::mem::take(batch)
                .if_absent(Table::Systems, key_bytes.clone())
                .put(Table::Systems, key_bytes, repo::json(&next));
        }
        Some((system, raw)) if *system != next => {
            outcome.outcome = Outcome::Updated;
            let event = InventoryEvent {
                id: crate::changes::new_id(now),
                subject: format!("system:{}", system.id),
                at: now,
                actor: actor.login.clone(),
                role: actor.role,
                action: "system_edited".to_owned(),
                details: serde_json::json!({"before": system, "after": next, "via": "import"}),
            };
            *batch = event.append_to(
                std::mem::take(batch)
                    .if_equals(Table::Systems, key_bytes.clone(), raw.clone())
                    .put(Table::Systems, key_bytes, repo::json(&next)),
            );
        }
        Some((_, raw)) => {
            outcome.outcome = if dossier.is_some() {
                Outcome::Updated
            } else {
                Outcome::Unchanged
            };
            // Still guard: the dossier is decided on the system as read.
            if dossier.is_some() {
                *batch = std::mem::take(batch).if_equals(Table::Systems, key_bytes, raw.clone());
            }
        }
    }
    if let Some((d, event)) = dossier {
        let k = d.id.to_string();
        *batch = std::mem::take(batch)
            .if_absent(Table::Dossiers, k.clone())
            .put(Table::Dossiers, k, repo::json(&d))
            .put(
                Table::Events,
                format!("{}/{}", d.id, event.id),
                repo::json(&event),
            );
        outcome.dossier_created = true;
    }
    outcome.system = Some(next.id);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures;
    use crate::store::MemoryStore;

    struct World {
        store: MemoryStore,
        pack: Pack,
        province: Agency,
        sct: Agency,
        xttm: Agency,
        stp: Agency,
    }

    fn world() -> World {
        let store = MemoryStore::new();
        let province = fixtures::agency(1, "UBND tỉnh Đồng Nai", None);
        let mut sct = fixtures::agency(2, "Sở Công Thương", Some(province.id));
        sct.short_code = "SCT".to_owned();
        let mut xttm = fixtures::agency(3, "Trung tâm XTTM", Some(sct.id));
        xttm.short_code = "XTTM".to_owned();
        let mut stp = fixtures::agency(4, "Sở Tư pháp", Some(province.id));
        stp.short_code = "STP".to_owned();
        let mut batch = Batch::new();
        for a in [&province, &sct, &xttm, &stp] {
            batch = batch.put(Table::Agencies, a.id.to_string(), repo::json(a));
        }
        store.apply(batch).unwrap();
        World {
            store,
            pack: Pack::decree85(),
            province,
            sct,
            xttm,
            stp,
        }
    }

    fn now() -> Timestamp {
        "2026-11-23T03:00:00Z".parse().unwrap()
    }

    const SEED: &str = "STT;Tên hệ thống thông tin;Đơn vị vận hành;Cấp độ đề xuất;Hồ sơ và thời gian gửi HSDXCĐ\n\
1;Trang thông tin điện tử của Sở Công Thương (http://sct.dongnai.gov.vn/ Server tại Data Center của tỉnh);Sở Công Thương;2;VB số 2559/SCT-VP ngày 25/5/2021\n\
2;Hệ thống cơ sở dữ liệu ngành Công Thương;Sở Công Thương;Cấp độ 3;VB số 2561/SCT-VP ngày 25/5/2021\n\
3;\"Trang thông tin điện tử của\nTrung tâm XTTM\";Trung tâm XTTM;cấp 2;\n";

    fn run(w: &World, text: &str, options: &ImportOptions) -> ImportReport {
        import_inventory(
            &w.store,
            &w.pack,
            text.as_bytes(),
            options,
            Scope::All,
            now(),
        )
        .unwrap()
    }

    fn systems(w: &World) -> Vec<System> {
        repo::list(&w.store, Table::Systems, "", usize::MAX).unwrap()
    }

    fn dossiers(w: &World) -> Vec<Dossier> {
        repo::list(&w.store, Table::Dossiers, "", usize::MAX).unwrap()
    }

    fn owner(w: &World) -> ImportOptions {
        ImportOptions {
            owner: Some(w.sct.id),
            ..ImportOptions::default()
        }
    }

    #[test]
    fn the_seed_spreadsheet_imports_and_reimports_unchanged() {
        let w = world();
        let report = run(&w, SEED, &owner(&w));
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert_eq!(
            (
                report.created,
                report.updated,
                report.unchanged,
                report.skipped
            ),
            (3, 0, 0, 0)
        );
        assert_eq!(report.dossiers_created, 2);
        let all = systems(&w);
        let portal = all
            .iter()
            .find(|s| s.name == "Trang thông tin điện tử của Sở Công Thương")
            .unwrap();
        assert_eq!(portal.urls, ["http://sct.dongnai.gov.vn/"]);
        assert_eq!(portal.hosting, "Server tại Data Center của tỉnh");
        assert_eq!(portal.proposed_level, Some(Level::new(2).unwrap()));
        assert_eq!(portal.owner_agency, w.sct.id);
        let xttm = all.iter().find(|s| s.name.contains("XTTM")).unwrap();
        assert_eq!(xttm.name, "Trang thông tin điện tử của Trung tâm XTTM");
        assert_eq!(xttm.operating_unit, w.xttm.id);
        let ds = dossiers(&w);
        assert_eq!(ds.len(), 2);
        let d = ds.iter().find(|d| d.system == portal.id).unwrap();
        assert_eq!(d.state, DossierState::Submitted);
        assert_eq!(
            d.submitted_letter.as_ref().unwrap().to_string(),
            "2559/SCT-VP ngày 25/5/2021"
        );
        assert_eq!(d.proposed_level.get(), 2);
        assert!(d.deadline.as_ref().unwrap().due > jiff::civil::date(2021, 5, 25));
        assert_eq!(
            super::super::today_vn(d.updated_at),
            jiff::civil::date(2021, 5, 25)
        );
        // Each recorded dossier has its submission in the audit trail, on the letter's date,
        // so the weekly figures count it from then on.
        let events: Vec<AuditEvent> = repo::list(&w.store, Table::Events, "", usize::MAX).unwrap();
        assert_eq!(events.len(), 2);
        assert!(events.iter().all(|e| e.on == jiff::civil::date(2021, 5, 25)
            && e.to == DossierState::Submitted
            && e.letter.is_some()));
        let figures =
            crate::report::weekly(&w.store, &w.pack, jiff::civil::date(2021, 5, 28)).unwrap();
        assert_eq!(
            (figures.dossiers, figures.units, figures.awaiting_approval),
            (2, 1, 2)
        );
        let before =
            crate::report::weekly(&w.store, &w.pack, jiff::civil::date(2021, 5, 24)).unwrap();
        assert_eq!(before.dossiers, 0);
        let now_figures =
            crate::report::weekly(&w.store, &w.pack, jiff::civil::date(2026, 11, 23)).unwrap();
        assert_eq!(
            now_figures.overdue, 2,
            "appraisal limits of 2021 have long passed"
        );
        // Again: nothing new, nothing duplicated.
        let again = run(&w, SEED, &owner(&w));
        assert_eq!(
            (again.created, again.updated, again.unchanged),
            (0, 0, 3),
            "{again:?}"
        );
        assert_eq!(systems(&w).len(), 3);
        assert_eq!(dossiers(&w).len(), 2);
        // The same file without diacritics, commas, a changed level: matched, updated.
        let plain =
            "stt,ten he thong,cap do de xuat\n1,HE THONG CO SO DU LIEU NGANH CONG THUONG,4\n";
        let changed = run(&w, plain, &owner(&w));
        assert_eq!(
            (changed.created, changed.updated, changed.unchanged),
            (0, 1, 0),
            "{changed:?}"
        );
        let db = systems(&w)
            .into_iter()
            .find(|s| s.name.starts_with("Hệ thống cơ sở"))
            .unwrap();
        assert_eq!(db.proposed_level, Some(Level::new(4).unwrap()));
        assert_eq!(db.name, "Hệ thống cơ sở dữ liệu ngành Công Thương");
    }

    #[test]
    fn any_bad_row_imports_nothing_unless_skipped() {
        let w = world();
        let text = "STT,Tên hệ thống,Đơn vị vận hành,Cấp độ đề xuất,Văn bản gửi hồ sơ,URL\n\
1,Cổng A,SCT,2,VB số 1/SCT-VP ngày 2/3/2024,https://a.dongnai.gov.vn\n\
2,Cổng B,Sở Không Có,7,2559 ngày 25/5/2021,không phải url\n\
3,,SCT,2,,\n\
4,Cổng A,SCT,2,,\n\
5,Cổng C,XTTM,,VB số 5/SCT-VP ngày 1/1/2030,\n\
6,Cổng D,STP,2,,\n";
        let report = run(&w, text, &owner(&w));
        assert!(report.rejected);
        assert_eq!((report.created, report.skipped), (0, 6));
        let codes: Vec<(u32, &str)> = report
            .errors
            .iter()
            .map(|e| (e.row, e.code.as_str()))
            .collect();
        assert_eq!(
            codes,
            [
                (3, "unit_unknown"),
                (3, "level_invalid"),
                (3, "letter_invalid"),
                (3, "url_invalid"),
                (4, "name_missing"),
                (5, "name_duplicate"),
                (6, "letter_in_future"),
            ]
        );
        let e = &report.errors[1];
        assert_eq!(
            (e.column.as_str(), e.value.as_str()),
            ("Cấp độ đề xuất", "7")
        );
        assert!(
            e.message.contains("cấp độ 7 không tồn tại"),
            "{}",
            e.message
        );
        assert!(systems(&w).is_empty());
        // Row 7 is outside nobody's scope for staff; for an officer of the department, the
        // Sở Tư pháp unit is out of scope.
        let officer = import_inventory(
            &w.store,
            &w.pack,
            text.as_bytes(),
            &owner(&w),
            Scope::Within(w.sct.id),
            now(),
        )
        .unwrap();
        assert!(
            officer
                .errors
                .iter()
                .any(|e| e.row == 7 && e.code == "out_of_scope"),
            "{:?}",
            officer.errors
        );
        // Skipping bad rows: rows 2 and 7 are imported.
        let skip = ImportOptions {
            skip_bad_rows: true,
            ..owner(&w)
        };
        let report = run(&w, text, &skip);
        assert!(!report.rejected);
        assert_eq!(
            (report.created, report.skipped, report.dossiers_created),
            (2, 4, 1)
        );
        assert_eq!(systems(&w).len(), 2);
        assert_eq!(dossiers(&w).len(), 1);
    }

    #[test]
    fn dry_run_writes_nothing_and_owner_column_wins() {
        let w = world();
        let text = "Tên hệ thống;Cơ quan chủ quản;Đơn vị vận hành\nCổng tư pháp;STP;Sở Tư pháp\nCổng thương mại;Sở Công Thương;\n";
        let dry = ImportOptions {
            dry_run: true,
            ..ImportOptions::default()
        };
        let report = run(&w, text, &dry);
        assert_eq!((report.created, report.dry_run), (2, true), "{report:?}");
        assert!(systems(&w).is_empty());
        let report = run(&w, text, &ImportOptions::default());
        assert_eq!(report.created, 2);
        let all = systems(&w);
        let tp = all.iter().find(|s| s.name == "Cổng tư pháp").unwrap();
        assert_eq!((tp.owner_agency, tp.operating_unit), (w.stp.id, w.stp.id));
        let tm = all.iter().find(|s| s.name == "Cổng thương mại").unwrap();
        assert_eq!((tm.owner_agency, tm.operating_unit), (w.sct.id, w.sct.id));
        // Without an owner column or a caller's agency: an error per row.
        let report = run(
            &w,
            "Tên hệ thống,Cấp độ\nCổng X,2\n",
            &ImportOptions::default(),
        );
        assert_eq!(report.errors[0].code, "owner_missing");
        let _ = w.province;
    }

    #[test]
    fn headers_are_found_below_a_title_and_unknown_columns_reported() {
        let w = world();
        let text = "Danh mục hệ thống thông tin thuộc phạm vi quản lý,,\n,,\nSTT,Tên hệ thống thông tin,Ghi chú\n1,Cổng Z,xem sau\n";
        let report = run(&w, text, &owner(&w));
        assert_eq!(report.created, 1, "{report:?}");
        assert_eq!(report.rows[0].row, 4);
        assert_eq!(report.ignored_columns, ["Ghi chú"]);
        let e = import_inventory(
            &w.store,
            &w.pack,
            b"a,b\n1,2\n",
            &owner(&w),
            Scope::All,
            now(),
        )
        .unwrap_err();
        assert_eq!(e.code(), "header_missing");
        let e = import_inventory(
            &w.store,
            &w.pack,
            "STT,Tên hệ thống\n".as_bytes(),
            &owner(&w),
            Scope::All,
            now(),
        )
        .unwrap_err();
        assert_eq!(e.code(), "no_rows");
    }

    #[test]
    fn an_open_dossier_under_another_letter_is_an_error() {
        let w = world();
        run(&w, SEED, &owner(&w));
        let text = "Tên hệ thống;Cấp độ đề xuất;Văn bản gửi hồ sơ\nHệ thống cơ sở dữ liệu ngành Công Thương;3;VB số 9999/SCT-VP ngày 1/6/2021\n";
        let report = run(&w, text, &owner(&w));
        assert_eq!(report.errors[0].code, "dossier_open", "{report:?}");
        assert_eq!(dossiers(&w).len(), 2);
    }

    #[test]
    fn names_with_addresses_and_urls() {
        assert_eq!(
            split_name("Cổng (http://a.gov.vn/ Server của Doanh nghiệp bên ngoài)"),
            (
                "Cổng".to_owned(),
                Some("http://a.gov.vn/".to_owned()),
                Some("Server của Doanh nghiệp bên ngoài".to_owned())
            )
        );
        assert_eq!(
            split_name("Cổng (bản cũ)"),
            ("Cổng (bản cũ)".to_owned(), None, None)
        );
        assert_eq!(
            parse_urls("https://a.gov.vn, b.gov.vn;\n<http://c.gov.vn:9020>").unwrap(),
            ["https://a.gov.vn", "b.gov.vn", "http://c.gov.vn:9020"]
        );
        assert_eq!(
            parse_urls("ftp://a.gov.vn"),
            Err("ftp://a.gov.vn".to_owned())
        );
        assert_eq!(parse_urls("khong"), Err("khong".to_owned()));
    }
}
