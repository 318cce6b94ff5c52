//! A year's calendar as people read it (`canhgac-server calendar YEAR`): every day off with its
//! date (dd/mm/yyyy), its name and, for lunar holidays, its lunar date ("17/02/2026 Mùng 1 Tết
//! Bính Ngọ (1/1 âm lịch)"); then the holiday blocks (the runs of days agencies are closed,
//! weekends included: when the holiday alerts are due) and the year's working-day count. The
//! dates come from the policy pack's calendar (`canhgac_policies::calendar`: lunar dates are
//! computed, statutory and announced days from the pack's data); this module only names and
//! formats them, as text and as JSON.

use jiff::civil::Date;
use serde::Serialize;

use canhgac_policies::calendar::{CalendarRules, DayOff, DayOffKind, HolidayBlock};

/// One year's calendar.
#[derive(Debug, Clone, Serialize)]
pub struct YearCalendar {
    /// The Gregorian year.
    pub year: i16,
    /// Every day off, in date order.
    pub days_off: Vec<NamedDayOff>,
    /// The holiday blocks that start in the year, in date order.
    pub blocks: Vec<HolidayBlock>,
    /// Working days in the year (weekdays that are not days off, plus make-up working days).
    pub working_days: u32,
}

/// A day off with the label a person reads.
#[derive(Debug, Clone, Serialize)]
pub struct NamedDayOff {
    /// The day off as the calendar gives it.
    #[serde(flatten)]
    pub day: DayOff,
    /// "Mùng 1 Tết Bính Ngọ (1/1 âm lịch)", "Quốc khánh (nghỉ bù)".
    pub label_vi: String,
}

/// The calendar of `year` under `rules`.
pub fn year(rules: &CalendarRules, year: i16) -> YearCalendar {
    let days_off = rules
        .days_off(year)
        .into_iter()
        .map(|day| NamedDayOff {
            label_vi: label_vi(&day),
            day,
        })
        .collect();
    let blocks = rules
        .blocks(year)
        .into_iter()
        .filter(|b| b.start.year() == year)
        .collect();
    YearCalendar {
        year,
        days_off,
        blocks,
        working_days: rules.working_days_in_year(year),
    }
}

/// The Vietnamese label of a day off.
pub fn label_vi(day: &DayOff) -> String {
    let mut label = match &day.lunar {
        Some(l) if day.holiday_id == "tet" && l.month == 1 && !l.leap && l.day <= 10 => {
            format!("Mùng {} Tết {}", l.day, l.year_name())
        }
        Some(l) if day.holiday_id == "tet" && l.month == 12 => {
            format!("{} (ngày {} tháng Chạp)", day.name_vi, l.day)
        }
        _ => day.name_vi.clone(),
    };
    if let Some(l) = &day.lunar {
        let leap = if l.leap { " nhuận" } else { "" };
        label.push_str(&format!(" ({}/{}{leap} âm lịch)", l.day, l.month));
    }
    match day.kind {
        DayOffKind::Statutory => {}
        DayOffKind::Compensatory => label.push_str(", nghỉ bù"),
        DayOffKind::Scheduled => label.push_str(", nghỉ theo lịch công bố"),
    }
    label
}

fn dmy(d: Date) -> String {
    format!("{:02}/{:02}/{:04}", d.day(), d.month(), d.year())
}

/// The text of `canhgac-server calendar YEAR`: one day off a line, then the blocks, then the
/// working-day count.
pub fn text_vi(c: &YearCalendar) -> String {
    let mut out = String::new();
    out.push_str(&format!("Ngày nghỉ năm {}:\n", c.year));
    for d in &c.days_off {
        out.push_str(&format!("{} {}\n", dmy(d.day.date), d.label_vi));
    }
    out.push_str(&format!("\nCác kỳ nghỉ năm {}:\n", c.year));
    for b in &c.blocks {
        out.push_str(&format!(
            "{} – {} ({} ngày): {}\n",
            dmy(b.start),
            dmy(b.end),
            b.days,
            b.name_vi
        ));
    }
    out.push_str(&format!(
        "\nSố ngày làm việc năm {}: {}\n",
        c.year, c.working_days
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tet_2026_reads_as_people_write_it() {
        let rules = CalendarRules::decree85_default();
        let c = year(&rules, 2026);
        let text = text_vi(&c);
        // 17/02/2026 is the first day of the lunar year Bính Ngọ.
        assert!(
            text.contains("17/02/2026 Mùng 1 Tết Bính Ngọ (1/1 âm lịch)"),
            "{text}"
        );
        assert!(text.contains("02/09/2026 Quốc khánh"), "{text}");
        // Every day off is on its own line, in date order, and inside the year.
        let dates: Vec<Date> = c.days_off.iter().map(|d| d.day.date).collect();
        assert!(dates.windows(2).all(|w| w[0] <= w[1]));
        assert!(dates.iter().all(|d| d.year() == 2026));
        // Tết is a block of several days containing 17/02.
        let tet = c
            .blocks
            .iter()
            .find(|b| b.holidays.iter().any(|h| h == "tet"))
            .expect("a Tết block");
        assert!(tet.start <= jiff::civil::date(2026, 2, 17));
        assert!(tet.end >= jiff::civil::date(2026, 2, 17));
        assert!(tet.days >= 5, "{tet:?}");
        // A year has about 250 working days.
        assert!((240..260).contains(&c.working_days), "{}", c.working_days);
        assert!(text.ends_with(&format!("Số ngày làm việc năm 2026: {}\n", c.working_days)));
    }

    #[test]
    fn the_hung_kings_day_carries_its_lunar_date() {
        let rules = CalendarRules::decree85_default();
        let c = year(&rules, 2027);
        let hung = c
            .days_off
            .iter()
            .find(|d| d.day.holiday_id == "hung-kings" && d.day.kind == DayOffKind::Statutory)
            .expect("Giỗ Tổ Hùng Vương");
        assert!(
            hung.label_vi.contains("(10/3 âm lịch)"),
            "{}",
            hung.label_vi
        );
        let json = serde_json::to_value(&c).unwrap();
        assert!(json["days_off"][0]["date"].is_string());
        assert!(json["days_off"][0]["label_vi"].is_string());
        assert!(json["working_days"].is_u64());
    }
}
