//! Exporting the systems a caller may see, in the layout of the officers' spreadsheet (that of
//! seed 001) followed by what canhgac knows besides: the owner agency, the approved level and
//! its decision, the state of the latest dossier, the compliance grade and the last scan. An
//! exported file imports back unchanged ([`super::import`] ignores the extra columns and reads
//! the owner agency column).

use std::collections::BTreeMap;

use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook};
use serde::Serialize;

use super::text::key;
use super::{Scope, XlsxError};
use crate::compliance::Compliance;
use crate::model::{
    Agency, AgencyId, AgencyTree, Dossier, DossierState, Level, System, SystemId, SystemStatus,
    format_date_vi,
};
use crate::repo;
use crate::store::{Store, StoreError, Table};

/// The headers, in order.
pub const HEADERS: [&str; 13] = [
    "STT",
    "Tên hệ thống",
    "Đơn vị vận hành",
    "Cấp độ đề xuất",
    "Văn bản gửi hồ sơ",
    "URL",
    "Nơi đặt máy chủ",
    "Cơ quan chủ quản",
    "Cấp độ phê duyệt",
    "Quyết định phê duyệt",
    "Trạng thái hồ sơ",
    "Xếp loại tuân thủ",
    "Lần quét gần nhất",
];

/// A file format of the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// CSV, UTF-8 with a byte order mark (so Excel shows the diacritics), comma-separated.
    Csv,
    /// An XLSX workbook.
    Xlsx,
}

impl ExportFormat {
    /// `csv` or `xlsx` (any case).
    pub fn parse(text: &str) -> Option<ExportFormat> {
        match text.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(ExportFormat::Csv),
            "xlsx" | "excel" => Some(ExportFormat::Xlsx),
            _ => None,
        }
    }

    /// The media type.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Xlsx => XLSX_TYPE,
        }
    }

    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        }
    }
}

/// The media type of XLSX workbooks.
pub const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Which systems to export: the filters of the list route `GET /api/v1/systems` (without
/// sorting and pages), every one optional, all given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemFilter {
    /// Systems owned or operated by this agency or one of its sub-agencies.
    pub agency: Option<AgencyId>,
    /// The level in force (approved, else proposed) is one of these.
    pub level: Option<Vec<Level>>,
    /// The proposed level is one of these.
    pub proposed_level: Option<Vec<Level>>,
    /// The approved level is one of these.
    pub approved_level: Option<Vec<Level>>,
    /// The latest dossier's state is one of these (`None`: no dossier).
    pub dossier_state: Option<Vec<Option<DossierState>>>,
    /// The compliance grade is one of these (`None`: never evaluated).
    pub grade: Option<Vec<Option<String>>>,
    /// In use or retired.
    pub status: Option<SystemStatus>,
    /// Whether a new level determination is needed.
    pub needs_redetermination: Option<bool>,
    /// Whose name contains these words (case and diacritics ignored).
    pub q: Option<String>,
}

/// The filter parameters [`SystemFilter::set`] reads (`agency` is resolved by the caller).
pub const FILTER_PARAMS: &[&str] = &[
    "agency",
    "level",
    "proposed_level",
    "approved_level",
    "dossier_state",
    "grade",
    "status",
    "needs_redetermination",
    "q",
];

fn list_of<T>(name: &str, value: &str, f: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
    let items: Option<Vec<T>> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(&f)
        .collect();
    match items {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(format!("{name} không hợp lệ: {value:?} (invalid {name})")),
    }
}

impl SystemFilter {
    /// Sets the filter `name` from its text as in the list route's query string (levels as
    /// comma lists of 1-5, `dossier_state` as state ids or `none`, `grade` as A-F or `none`,
    /// `status` as `in_use` or `retired`, booleans as true/false). `Ok(false)` for a name
    /// that is not a filter here (including `agency`, which needs the store to resolve).
    pub fn set(&mut self, name: &str, value: &str) -> Result<bool, String> {
        let levels = |name: &str| {
            list_of(name, value, |s| {
                s.parse::<u8>().ok().and_then(|n| Level::new(n).ok())
            })
        };
        match name {
            "level" => self.level = Some(levels(name)?),
            "proposed_level" => self.proposed_level = Some(levels(name)?),
            "approved_level" => self.approved_level = Some(levels(name)?),
            "dossier_state" => {
                self.dossier_state = Some(list_of(name, value, |s| match s {
                    "none" => Some(None),
                    other => DossierState::ALL
                        .into_iter()
                        .find(|st| st.id() == other)
                        .map(Some),
                })?);
            }
            "grade" => {
                self.grade = Some(list_of(name, value, |s| match s {
                    "none" => Some(None),
                    g if g.len() == 1 && "ABCDEFabcdef".contains(g) => {
                        Some(Some(g.to_ascii_uppercase()))
                    }
                    _ => None,
                })?);
            }
            "status" => {
                self.status =
                    Some(match value.trim() {
                        "in_use" => SystemStatus::InUse,
                        "retired" => SystemStatus::Retired,
                        _ => return Err(
                            "status phải là in_use hoặc retired (status must be in_use or retired)"
                                .to_owned(),
                        ),
                    });
            }
            "needs_redetermination" => {
                self.needs_redetermination =
                    Some(match value.trim() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(
                            "needs_redetermination phải là true hoặc false (must be true or false)"
                                .to_owned(),
                        ),
                    });
            }
            "q" => self.q = Some(value.to_owned()).filter(|q| !key(q).is_empty()),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Whether `system` passes, given its latest dossier's state and its grade.
    pub fn matches(
        &self,
        tree: &AgencyTree,
        system: &System,
        dossier_state: Option<DossierState>,
        grade: Option<&str>,
    ) -> bool {
        let agency_ok = self.agency.is_none_or(|a| {
            tree.is_within(system.owner_agency, a) || tree.is_within(system.operating_unit, a)
        });
        let approved = system.approved.as_ref().map(|a| a.level);
        let in_force = approved.or(system.proposed_level);
        let among = |levels: &Option<Vec<Level>>, level: Option<Level>| {
            levels
                .as_ref()
                .is_none_or(|ls| level.is_some_and(|l| ls.contains(&l)))
        };
        let state_ok = self
            .dossier_state
            .as_ref()
            .is_none_or(|ss| ss.contains(&dossier_state));
        let grade_ok = self
            .grade
            .as_ref()
            .is_none_or(|gs| gs.contains(&grade.map(str::to_owned)));
        let status_ok = self.status.is_none_or(|s| system.status == s);
        let redetermination_ok = self
            .needs_redetermination
            .is_none_or(|want| system.needs_redetermination == want);
        let q_ok = self.q.as_deref().map(key).is_none_or(|q| {
            key(&system.name).contains(&q)
                || system.urls.iter().any(|u| u.to_lowercase().contains(&q))
        });
        agency_ok
            && among(&self.level, in_force)
            && among(&self.proposed_level, system.proposed_level)
            && among(&self.approved_level, approved)
            && state_ok
            && grade_ok
            && status_ok
            && redetermination_ok
            && q_ok
    }
}

/// One exported system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportRow {
    /// STT, from 1.
    pub number: u32,
    /// The system's id (not exported; for callers).
    pub system: SystemId,
    /// Tên hệ thống.
    pub name: String,
    /// Đơn vị vận hành (name).
    pub unit: String,
    /// Cấp độ đề xuất.
    pub proposed_level: Option<u8>,
    /// Văn bản gửi hồ sơ of the latest dossier sent, "2559/SCT-VP ngày 25/5/2021".
    pub letter: String,
    /// URLs, separated by ", ".
    pub urls: String,
    /// Nơi đặt máy chủ.
    pub hosting: String,
    /// Cơ quan chủ quản (name).
    pub owner: String,
    /// Cấp độ phê duyệt.
    pub approved_level: Option<u8>,
    /// The decision, "2168/QĐ-UBND ngày 27/8/2024".
    pub decision: String,
    /// The latest dossier's state, in Vietnamese ("" without a dossier).
    pub dossier_state: String,
    /// The compliance grade, A to F ("" before any scan).
    pub grade: String,
    /// The start of the last scan, "dd/mm/yyyy hh:mm" Vietnam time ("" before any scan).
    pub last_scan: String,
}

impl ExportRow {
    /// The cells as text, in [`HEADERS`] order.
    pub fn cells(&self) -> [String; 13] {
        let n = |v: Option<u8>| v.map(|v| v.to_string()).unwrap_or_default();
        [
            self.number.to_string(),
            self.name.clone(),
            self.unit.clone(),
            n(self.proposed_level),
            self.letter.clone(),
            self.urls.clone(),
            self.hosting.clone(),
            self.owner.clone(),
            n(self.approved_level),
            self.decision.clone(),
            self.dossier_state.clone(),
            self.grade.clone(),
            self.last_scan.clone(),
        ]
    }
}

/// The systems within `scope` that pass `filter`, ordered by owner agency then name.
pub fn export_rows(
    store: &dyn Store,
    scope: Scope,
    filter: &SystemFilter,
) -> Result<Vec<ExportRow>, StoreError> {
    let agencies: Vec<Agency> = repo::list(store, Table::Agencies, "", usize::MAX)?;
    let tree = AgencyTree::new(&agencies);
    let name_of = |id: AgencyId| {
        tree.get(id)
            .map_or_else(|| id.to_string(), |a| a.name.clone())
    };
    // The latest dossier of each system (ids are time-ordered), and the latest one sent with a
    // letter and not withdrawn (whose letter is exported).
    let mut latest: BTreeMap<SystemId, Dossier> = BTreeMap::new();
    let mut sent: BTreeMap<SystemId, Dossier> = BTreeMap::new();
    for d in repo::list::<Dossier>(store, Table::Dossiers, "", usize::MAX)? {
        if d.state != DossierState::Withdrawn && d.submitted_letter.is_some() {
            match sent.get(&d.system) {
                Some(held) if held.id >= d.id => {}
                _ => {
                    sent.insert(d.system, d.clone());
                }
            }
        }
        match latest.get(&d.system) {
            Some(held) if held.id >= d.id => {}
            _ => {
                latest.insert(d.system, d);
            }
        }
    }
    let mut systems: Vec<(System, Option<Compliance>)> = Vec::new();
    for s in repo::list::<System>(store, Table::Systems, "", usize::MAX)? {
        if !scope.covers_system(&tree, &s) {
            continue;
        }
        let compliance: Option<Compliance> =
            repo::get(store, Table::Compliance, &s.id.to_string())?;
        let state = latest.get(&s.id).map(|d| d.state);
        let grade = compliance.as_ref().map(|c| c.evaluation.grade.as_str());
        if filter.matches(&tree, &s, state, grade) {
            systems.push((s, compliance));
        }
    }
    systems.sort_by_cached_key(|(s, _)| (key(&name_of(s.owner_agency)), key(&s.name), s.id));
    let vn = jiff::tz::TimeZone::fixed(jiff::tz::offset(7));
    let mut rows = Vec::with_capacity(systems.len());
    for (i, (s, compliance)) in systems.into_iter().enumerate() {
        let dossier = sent.get(&s.id);
        rows.push(ExportRow {
            number: u32::try_from(i + 1).unwrap_or(u32::MAX),
            system: s.id,
            name: s.name.clone(),
            unit: name_of(s.operating_unit),
            proposed_level: s.proposed_level.map(Level::get),
            letter: dossier
                .and_then(|d| d.submitted_letter.as_ref())
                .map(ToString::to_string)
                .unwrap_or_default(),
            urls: s.urls.join(", "),
            hosting: s.hosting.clone(),
            owner: name_of(s.owner_agency),
            approved_level: s.approved.as_ref().map(|a| a.level.get()),
            decision: s
                .approved
                .as_ref()
                .map(|a| {
                    format!(
                        "{} ngày {}",
                        a.decision_number,
                        format_date_vi(a.decision_date)
                    )
                })
                .unwrap_or_default(),
            dossier_state: dossier
                .map(|d| d.state.label_vi().to_owned())
                .unwrap_or_default(),
            grade: compliance
                .as_ref()
                .map(|c| c.evaluation.grade.clone())
                .unwrap_or_default(),
            last_scan: compliance
                .as_ref()
                .map(|c| {
                    c.scanned_at
                        .to_zoned_datetime(vn.clone())
                        .strftime("%d/%m/%Y %H:%M")
                        .to_string()
                })
                .unwrap_or_default(),
        });
    }
    Ok(rows)
}

/// The rows as CSV: UTF-8 with a byte order mark, comma-separated, CRLF line ends.
pub fn systems_csv(rows: &[ExportRow]) -> Vec<u8> {
    table_csv(&HEADERS, rows.iter().map(ExportRow::cells))
}

/// A table as CSV: UTF-8 with a byte order mark (so Excel shows the diacritics),
/// comma-separated, CRLF line ends; `headers` first, then each row's cells.
pub(crate) fn table_csv<R, C>(headers: &[&str], rows: impl IntoIterator<Item = R>) -> Vec<u8>
where
    R: IntoIterator<Item = C>,
    C: AsRef<[u8]>,
{
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        // Writing to memory cannot fail.
        let _ = writer.write_record(headers);
        for row in rows {
            let _ = writer.write_record(row);
        }
        let _ = writer.flush();
    }
    out
}

/// The rows as an XLSX workbook (one sheet, "Hệ thống thông tin"): numbers as numbers, the
/// header frozen and filterable.
pub fn systems_xlsx(rows: &[ExportRow]) -> Result<Vec<u8>, XlsxError> {
    let widths = [
        6.0, 45.0, 28.0, 10.0, 30.0, 32.0, 28.0, 28.0, 10.0, 28.0, 16.0, 10.0, 17.0,
    ];
    table_xlsx(
        "Hệ thống thông tin",
        &HEADERS,
        &widths,
        &[0, 3, 8],
        rows.iter().map(ExportRow::cells),
    )
}

/// A table as an XLSX workbook of one sheet named `sheet`: a bold, wrapped header row (frozen,
/// with an autofilter), the columns `widths` wide, and the cells of the columns in `numeric`
/// written as numbers when they read as whole numbers (text otherwise).
pub(crate) fn table_xlsx<R, C>(
    sheet_name: &str,
    headers: &[&str],
    widths: &[f64],
    numeric: &[u16],
    rows: impl IntoIterator<Item = R>,
) -> Result<Vec<u8>, XlsxError>
where
    R: IntoIterator<Item = C>,
    C: AsRef<str>,
{
    let mut book = Workbook::new();
    let head = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
        .set_border(FormatBorder::Thin)
        .set_background_color(0xDDEBF7);
    let cell = Format::new()
        .set_text_wrap()
        .set_align(FormatAlign::Top)
        .set_border(FormatBorder::Thin);
    let number = cell.clone().set_align(FormatAlign::Center);
    let sheet = book.add_worksheet();
    sheet.set_name(sheet_name)?;
    for (c, header) in headers.iter().enumerate() {
        let c = u16::try_from(c).unwrap_or(u16::MAX);
        if let Some(width) = widths.get(usize::from(c)) {
            sheet.set_column_width(c, *width)?;
        }
        sheet.write_string_with_format(0, c, *header, &head)?;
    }
    let mut last_row = 0u32;
    for (r, row) in rows.into_iter().enumerate() {
        let r = u32::try_from(r + 1).unwrap_or(u32::MAX);
        last_row = r;
        for (c, text) in row.into_iter().enumerate() {
            let c = u16::try_from(c).unwrap_or(u16::MAX);
            let text = text.as_ref();
            match text.parse::<u32>() {
                Ok(n) if numeric.contains(&c) => {
                    sheet.write_number_with_format(r, c, n, &number)?;
                }
                _ => {
                    sheet.write_string_with_format(r, c, text, &cell)?;
                }
            }
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofilter(
        0,
        0,
        last_row,
        u16::try_from(headers.len().saturating_sub(1)).unwrap_or(0),
    )?;
    Ok(book.save_to_buffer()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::table::{self, FileFormat};
    use crate::exchange::text::Column;

    fn row() -> ExportRow {
        let at: jiff::Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        ExportRow {
            number: 1,
            system: SystemId::derived(at, b"s"),
            name: "Trang thông tin điện tử, \"Sở\" Công Thương".to_owned(),
            unit: "Sở Công Thương".to_owned(),
            proposed_level: Some(2),
            letter: "2559/SCT-VP ngày 25/5/2021".to_owned(),
            urls: "http://sct.dongnai.gov.vn/".to_owned(),
            hosting: "Trung tâm dữ liệu tỉnh".to_owned(),
            owner: "Sở Công Thương".to_owned(),
            approved_level: None,
            decision: String::new(),
            dossier_state: "đã nộp".to_owned(),
            grade: "B".to_owned(),
            last_scan: "23/11/2026 10:00".to_owned(),
        }
    }

    #[test]
    fn csv_and_xlsx_read_back_as_written() {
        let rows = vec![row()];
        let csv = systems_csv(&rows);
        assert!(csv.starts_with(b"\xEF\xBB\xBFSTT,T\xC3\xAAn h"));
        let xlsx = systems_xlsx(&rows).unwrap();
        for (bytes, format) in [(csv, FileFormat::Csv), (xlsx, FileFormat::Xlsx)] {
            let back = table::read(&bytes, format).unwrap();
            assert_eq!(back[0].cells, HEADERS);
            assert_eq!(back[1].cells, row().cells());
        }
        // Every header reads back as the column it is.
        let columns: Vec<Option<Column>> = HEADERS.iter().map(|h| Column::from_header(h)).collect();
        assert_eq!(columns[7], Some(Column::Owner));
        assert!(columns[8..].iter().all(|c| *c == Some(Column::ExportOnly)));
    }
}
