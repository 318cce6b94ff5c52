//! Exchanging data with the spreadsheets officers already keep: the inventory of information
//! systems imported from CSV or XLSX, the systems exported in the same layout, and the weekly
//! report as a workbook.
//!
//! Everything here is a plain function over a [`Store`](crate::store::Store): the HTTP API
//! (`crate::api`) and the command line call the same functions with the same inputs, and get
//! the same outputs ([`ImportReport`], the bytes of a file). `docs/import-export.md` describes
//! the formats, the columns and the error codes.
//!
//! - [`import`]: read a file ([`table`]), check every row, match the systems already known
//!   (owner agency + normalised name), and write everything in one atomic batch, or nothing.
//! - [`export`]: the systems a caller may see, filtered, as CSV (UTF-8 with a BOM) or XLSX.
//! - [`weekly`]: the weekly figures, scoped to the caller, as an XLSX workbook.

pub mod export;
pub mod import;
pub mod table;
pub mod text;
pub mod weekly;

pub use export::{ExportFormat, ExportRow, SystemFilter, export_rows, systems_csv, systems_xlsx};
pub use import::{
    Actor, ImportError, ImportOptions, ImportReport, RowError, RowOutcome, import_inventory,
};
pub use weekly::{weekly_scoped, weekly_xlsx};

use crate::model::{AgencyId, AgencyTree, System};

/// Whose data a caller may read or write: staff see every agency, an agency officer only
/// their agency and its sub-agencies (the same rule as `crate::api::inventory::sees`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every agency (administrators, appraisers, approvers, viewers, the command line).
    All,
    /// One agency and its sub-agencies.
    Within(AgencyId),
}

impl Scope {
    /// Whether `agency` is in scope.
    pub fn covers(&self, tree: &AgencyTree, agency: AgencyId) -> bool {
        match self {
            Scope::All => true,
            Scope::Within(root) => tree.is_within(agency, *root),
        }
    }

    /// Whether a system is in scope: its operating unit or its owner is.
    pub fn covers_system(&self, tree: &AgencyTree, system: &System) -> bool {
        self.covers(tree, system.operating_unit) || self.covers(tree, system.owner_agency)
    }
}

/// Failure to build a workbook (never expected with the data we write).
#[derive(Debug, thiserror::Error)]
#[error("không tạo được tệp XLSX (cannot build the XLSX workbook): {0}")]
pub struct XlsxError(#[from] pub rust_xlsxwriter::XlsxError);

/// A date as officers and ISO write it: `2024-08-30`, `30/8/2024`, `30/08/2024`, `30-8-2024`
/// or `30.8.2024`.
pub fn parse_date(text: &str) -> Option<jiff::civil::Date> {
    let text = text.trim();
    if let Ok(d) = text.parse::<jiff::civil::Date>() {
        return Some(d);
    }
    let parts: Vec<&str> = text.split(['/', '-', '.']).map(str::trim).collect();
    if let [d, m, y] = parts[..]
        && y.len() == 4
        && let (Ok(d), Ok(m), Ok(y)) = (d.parse::<i8>(), m.parse::<i8>(), y.parse::<i16>())
    {
        return jiff::civil::Date::new(y, m, d).ok();
    }
    None
}

/// Today in Vietnam (UTC+7 all year).
pub fn today_vn(now: jiff::Timestamp) -> jiff::civil::Date {
    now.to_zoned_datetime(jiff::tz::TimeZone::fixed(jiff::tz::offset(7)))
        .date()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_both_forms() {
        let d = jiff::civil::date(2024, 8, 30);
        for text in [
            "2024-08-30",
            "30/8/2024",
            "30/08/2024",
            " 30-8-2024 ",
            "30.8.2024",
        ] {
            assert_eq!(parse_date(text), Some(d), "{text}");
        }
        for text in ["", "30/8/24", "31/2/2024", "tuần này", "2024/08/30"] {
            assert_eq!(parse_date(text), None, "{text}");
        }
    }
}
