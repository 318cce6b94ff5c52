//! The weekly report for a caller's scope, and as an XLSX workbook: a sheet of figures (this
//! week, the week before, the change) with the paragraph for the weekly letter, and a sheet of
//! the dossiers to be supplemented by unit.
//!
//! Staff get the province's figures. An agency officer gets the figures of their agency and
//! its sub-agencies only: the same counts over the dossiers of the systems they may see (the
//! province-wide figures are for staff).

use canhgac_policies::pack::Pack;
use jiff::ToSpan;
use jiff::civil::Date;
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook};

use super::{Scope, XlsxError};
use crate::model::{Agency, AgencyTree, Dossier, System, format_date_vi};
use crate::repo;
use crate::store::{Store, StoreError, Table};
use crate::weekly::{WeeklyFigures, weekly_figures, weekly_text_vi};
use crate::workflow::AuditEvent;

/// The weekly figures as of `week_end` over the systems within `scope` (for [`Scope::All`],
/// the same as `crate::report::weekly`).
pub fn weekly_scoped(
    store: &dyn Store,
    pack: &Pack,
    week_end: Date,
    scope: Scope,
) -> Result<WeeklyFigures, StoreError> {
    if scope == Scope::All {
        return crate::report::weekly(store, pack, week_end);
    }
    let agencies: Vec<Agency> = repo::list(store, Table::Agencies, "", usize::MAX)?;
    let tree = AgencyTree::new(&agencies);
    let systems: Vec<System> = repo::list::<System>(store, Table::Systems, "", usize::MAX)?
        .into_iter()
        .filter(|s| scope.covers_system(&tree, s))
        .collect();
    let ids: std::collections::BTreeSet<_> = systems.iter().map(|s| s.id).collect();
    let dossiers: Vec<Dossier> = repo::list::<Dossier>(store, Table::Dossiers, "", usize::MAX)?
        .into_iter()
        .filter(|d| ids.contains(&d.system))
        .collect();
    let events: Vec<AuditEvent> = repo::list::<AuditEvent>(store, Table::Events, "", usize::MAX)?
        .into_iter()
        .filter(|e| ids.contains(&e.system))
        .collect();
    Ok(weekly_figures(
        &dossiers,
        &events,
        &systems,
        &agencies,
        week_end,
        &pack.calendar,
    ))
}

/// The figures' rows: label, this week, change (`None` when there is no week before); the
/// workbook's table and the web page's.
pub(crate) fn figure_rows(f: &WeeklyFigures) -> Vec<(&'static str, u32, Option<i64>)> {
    let c = f.change.as_ref();
    vec![
        ("Số đơn vị đã gửi hồ sơ", f.units, c.map(|c| c.units)),
        ("Số hồ sơ đã tiếp nhận", f.dossiers, c.map(|c| c.dossiers)),
        ("Đã phê duyệt", f.approved, c.map(|c| c.approved)),
        (
            "Đang thẩm định, chờ phê duyệt",
            f.awaiting_approval,
            c.map(|c| c.awaiting_approval),
        ),
        (
            "Trong đó quá thời hạn xử lý",
            f.overdue,
            c.map(|c| c.overdue),
        ),
        (
            "Cần bổ sung, hoàn thiện",
            f.needs_supplement,
            c.map(|c| c.needs_supplement),
        ),
        ("Không được phê duyệt", f.rejected, c.map(|c| c.rejected)),
    ]
}

/// The workbook of the weekly report. `scope_name` names whose figures they are (the
/// province, or the officer's agency).
pub fn weekly_xlsx(figures: &WeeklyFigures, scope_name: &str) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let title = Format::new().set_bold().set_font_size(14);
    let bold = Format::new().set_bold();
    let head = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_align(FormatAlign::Center)
        .set_border(FormatBorder::Thin)
        .set_background_color(0xDDEBF7);
    let cell = Format::new().set_border(FormatBorder::Thin).set_text_wrap();
    let number = Format::new()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center);
    let change_format = number.clone().set_num_format("+0;-0;0");
    let wrap = Format::new().set_text_wrap().set_align(FormatAlign::Top);

    let week_start = figures.week_end.saturating_sub(6.days());
    let sheet = book.add_worksheet();
    sheet.set_name("Báo cáo tuần")?;
    sheet.set_column_width(0, 6)?;
    sheet.set_column_width(1, 38)?;
    sheet.set_column_width(2, 12)?;
    sheet.set_column_width(3, 12)?;
    sheet.set_column_width(4, 12)?;
    sheet.write_string_with_format(
        0,
        0,
        "BÁO CÁO TUẦN: HỒ SƠ ĐỀ XUẤT CẤP ĐỘ AN TOÀN HỆ THỐNG THÔNG TIN",
        &title,
    )?;
    sheet.write_string(
        1,
        0,
        format!(
            "Từ ngày {} đến ngày {}",
            format_date_vi(week_start),
            format_date_vi(figures.week_end)
        ),
    )?;
    sheet.write_string(2, 0, format!("Phạm vi: {scope_name}"))?;
    let headers = ["STT", "Chỉ tiêu", "Tuần này", "Tuần trước", "Tăng/giảm"];
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string_with_format(4, u16::try_from(c).unwrap_or(0), *h, &head)?;
    }
    let rows = figure_rows(figures);
    for (i, (label, now, change)) in rows.iter().enumerate() {
        let r = 5 + u32::try_from(i).unwrap_or(0);
        sheet.write_number_with_format(r, 0, u32::try_from(i + 1).unwrap_or(0), &number)?;
        sheet.write_string_with_format(r, 1, *label, &cell)?;
        sheet.write_number_with_format(r, 2, *now, &number)?;
        match change {
            Some(delta) => {
                let before = i64::from(*now) - delta;
                sheet.write_number_with_format(r, 3, before as f64, &number)?;
                sheet.write_number_with_format(r, 4, *delta as f64, &change_format)?;
            }
            None => {
                sheet.write_string_with_format(r, 3, "", &number)?;
                sheet.write_string_with_format(r, 4, "", &number)?;
            }
        }
    }
    let after = 5 + u32::try_from(rows.len()).unwrap_or(0) + 1;
    sheet.write_string_with_format(after, 0, "Nội dung báo cáo:", &bold)?;
    sheet.merge_range(after + 1, 0, after + 8, 4, &weekly_text_vi(figures), &wrap)?;

    let sheet = book.add_worksheet();
    sheet.set_name("Cần bổ sung")?;
    sheet.set_column_width(0, 6)?;
    sheet.set_column_width(1, 45)?;
    sheet.set_column_width(2, 12)?;
    sheet.set_column_width(3, 22)?;
    sheet.write_string_with_format(
        0,
        0,
        format!(
            "Hồ sơ cần bổ sung, hoàn thiện theo đơn vị (đến hết ngày {})",
            format_date_vi(figures.week_end)
        ),
        &title,
    )?;
    let headers = [
        "STT",
        "Đơn vị",
        "Số hồ sơ",
        "Trong đó của đơn vị trực thuộc",
    ];
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string_with_format(2, u16::try_from(c).unwrap_or(0), *h, &head)?;
    }
    for (i, group) in figures.needs_supplement_by_agency.iter().enumerate() {
        let r = 3 + u32::try_from(i).unwrap_or(0);
        sheet.write_number_with_format(r, 0, u32::try_from(i + 1).unwrap_or(0), &number)?;
        sheet.write_string_with_format(r, 1, &group.agency, &cell)?;
        sheet.write_number_with_format(r, 2, group.count, &number)?;
        sheet.write_number_with_format(r, 3, group.from_sub_units, &number)?;
    }
    let total = 3 + u32::try_from(figures.needs_supplement_by_agency.len()).unwrap_or(0);
    sheet.write_string_with_format(total, 1, "Tổng cộng", &head)?;
    sheet.write_number_with_format(total, 2, figures.needs_supplement, &number)?;
    Ok(book.save_to_buffer()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::table::{self, FileFormat};
    use crate::weekly::{AgencyCount, WeeklyChange};

    #[test]
    fn the_workbook_shows_the_figures() {
        let week_end = jiff::civil::date(2024, 8, 30);
        let figures = WeeklyFigures {
            week_end,
            units: 246,
            dossiers: 257,
            approved: 118,
            awaiting_approval: 112,
            needs_supplement: 27,
            overdue: 3,
            rejected: 0,
            needs_supplement_by_agency: vec![AgencyCount {
                agency_id: None,
                agency: "UBND huyện Ninh Giang".to_owned(),
                count: 18,
                from_sub_units: 18,
            }],
            change: Some(WeeklyChange {
                since: jiff::civil::date(2024, 8, 23),
                units: 2,
                dossiers: 5,
                approved: 10,
                awaiting_approval: -7,
                needs_supplement: 2,
                overdue: 0,
                rejected: 0,
            }),
        };
        let bytes = weekly_xlsx(&figures, "toàn tỉnh").unwrap();
        let rows = table::read(&bytes, FileFormat::Xlsx).unwrap();
        let find = |label: &str| {
            rows.iter()
                .find(|r| r.cells.get(1).is_some_and(|c| c == label))
                .unwrap_or_else(|| panic!("{label}"))
                .cells
                .clone()
        };
        assert_eq!(find("Số hồ sơ đã tiếp nhận")[2..5], ["257", "252", "5"]);
        assert_eq!(
            find("Đang thẩm định, chờ phê duyệt")[2..5],
            ["112", "119", "-7"]
        );
        assert_eq!(find("Cần bổ sung, hoàn thiện")[2], "27");
        assert!(rows.iter().any(|r| r.cells[0].contains("từ ngày 24/8/2024")
            || r.cells[0].contains("Từ ngày 24/8/2024 đến ngày 30/8/2024")));
        assert!(
            rows.iter()
                .any(|r| r.cells[0].starts_with("Đến hết ngày 30/8/2024, 246 đơn vị"))
        );
    }
}
