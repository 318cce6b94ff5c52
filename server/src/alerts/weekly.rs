//! The weekly report by e-mail: on the configured weekday and hour (Vietnam time), the
//! leadership receive the week's figures with their change since the week before, in the
//! words of the weekly letter, with the XLSX workbook attached (the same figures and workbook
//! as `GET /api/v1/reports/weekly` and its export). The figures run to the end of the day
//! before the send day. One message per week and recipient (key `weekly/WEEK-END/RECIPIENT`).

use canhgac_policies::pack::Pack;
use jiff::Timestamp;
use jiff::civil::Date;

use super::compose::{Body, dmy};
use super::facts::vietnam_day;
use super::outbox::{Attachment, Category, Draft};
use super::settings::AlertSettings;
use crate::exchange::Scope;
use crate::index::Index;
use crate::store::{Store, StoreError};

/// The week's last day when the weekly e-mail is due at `now`: the latest configured weekday
/// and hour that has passed (so a server down that morning sends it when it is back, within
/// the next six days), the figures running to the day before it. `None` when it is off or
/// when the last one is a week old.
pub fn due(settings: &AlertSettings, now: Timestamp) -> Option<Date> {
    let (weekday, hour) = settings.weekly?;
    let local = jiff::tz::offset(7).to_datetime(now);
    let today = local.date();
    let mut day = today;
    for _ in 0..7 {
        if day.weekday() == weekday
            && (day < today || local.hour() >= i8::try_from(hour).unwrap_or(7))
        {
            return day.yesterday().ok();
        }
        day = day.yesterday().ok()?;
    }
    None
}

/// The weekly messages for the week ending `week_end`.
pub fn drafts(
    store: &dyn Store,
    index: &Index,
    pack: &Pack,
    settings: &AlertSettings,
    week_end: Date,
) -> Result<Vec<Draft>, StoreError> {
    if settings.leadership.is_empty() {
        return Ok(Vec::new());
    }
    let (figures, _) =
        crate::api::exchange::weekly_indexed(store, index, pack, week_end, Scope::All)?;
    let text = crate::weekly::weekly_text_vi(&figures);
    let xlsx = crate::exchange::weekly::weekly_xlsx(&figures, "toàn tỉnh")
        .map_err(|e| StoreError::Io(format!("weekly workbook: {e}")))?;
    let subject = format!(
        "[canhgac] Báo cáo tuần: hồ sơ đề xuất cấp độ đến ngày {}",
        dmy(week_end)
    );
    let mut b = Body::default();
    b.para(&text);
    let mut lines = vec![
        (format!("Số đơn vị gửi hồ sơ: {}", figures.units), vec![]),
        (format!("Số hồ sơ: {}", figures.dossiers), vec![]),
        (format!("Đã phê duyệt: {}", figures.approved), vec![]),
        (
            format!(
                "Đang thẩm định, chờ phê duyệt: {}",
                figures.awaiting_approval
            ),
            vec![],
        ),
        (format!("Cần bổ sung: {}", figures.needs_supplement), vec![]),
        (format!("Quá hạn: {}", figures.overdue), vec![]),
    ];
    if figures.rejected > 0 {
        lines.push((format!("Không phê duyệt: {}", figures.rejected), vec![]));
    }
    b.section("Số liệu", &lines);
    b.para("Bảng số liệu chi tiết (XLSX) gửi kèm thư này.");
    let composed = b.finish(subject);
    let filename = format!("bao-cao-tuan-{}.xlsx", week_end);
    Ok(settings
        .leadership
        .iter()
        .map(|to| Draft {
            key: format!("weekly/{week_end}/{to}"),
            category: Category::Weekly,
            to: to.clone(),
            subject: composed.subject.clone(),
            text: composed.text.clone(),
            html: composed.html.clone(),
            attachments: vec![Attachment {
                filename: filename.clone(),
                content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                    .into(),
                bytes: xlsx.clone(),
            }],
        })
        .collect())
}

/// Today in Vietnam (for callers that want the send day).
pub fn today(now: Timestamp) -> Date {
    vietnam_day(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weekly_report_is_due_from_its_hour_and_caught_up_within_the_week() {
        let s = AlertSettings::default(); // Monday 07:00
        let at = |d: &str, h: i8| {
            jiff::tz::offset(7)
                .to_timestamp(d.parse::<Date>().unwrap().at(h, 0, 0, 0))
                .unwrap()
        };
        // Monday 30/08/2027 at 06:00: not yet (last week's is a week old: not caught up).
        assert_eq!(due(&s, at("2027-08-30", 6)), None);
        assert_eq!(
            due(&s, at("2027-08-30", 7)),
            Some(jiff::civil::date(2027, 8, 29))
        );
        // Back on Wednesday after two days down: this week's is due.
        assert_eq!(
            due(&s, at("2027-09-01", 9)),
            Some(jiff::civil::date(2027, 8, 29))
        );
        let off = AlertSettings {
            weekly: None,
            ..AlertSettings::default()
        };
        assert_eq!(due(&off, at("2027-08-30", 9)), None);
    }
}
