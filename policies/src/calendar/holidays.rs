//! Which days are off in a year, from the holiday rules: statutory holidays, compensatory days
//! and the government's announced schedules.
//!
//! Security deadlines are counted in working days and pre-holiday letters are timed before
//! holiday blocks, so the policies ask these questions of [`CalendarRules`] (loaded in
//! [`super::rules`]). The order of precedence, for one holiday in one year:
//!
//! 1. an announced schedule's `off` list, if there is one, is exactly that holiday's days off
//!    (each day is [`DayOffKind::Statutory`] if the rules would have given it, otherwise
//!    [`DayOffKind::Scheduled`]), with no compensatory days on top;
//! 2. otherwise its statutory days are computed from the rules, and each one that falls on a
//!    weekly rest day gives a [`DayOffKind::Compensatory`] day on the next working day (Labor
//!    Code 2019 art. 111) when the holiday's `compensatory` flag is on.
//!
//! A schedule's make-up working days turn weekly rest days into working days. Holidays with
//! several days in one year keep one entry per holiday and date, sorted by date.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use jiff::ToSpan;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::lunar::{LunarDate, day_number, from_lunar, to_lunar};
use super::rules::{CalendarRules, Holiday, HolidayKind};

/// Why a day is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayOffKind {
    /// A day the law gives for the holiday.
    Statutory,
    /// A day given back because a statutory day fell on a weekly rest day.
    Compensatory,
    /// A day off only because the year's announced schedule says so (including weekly rest
    /// days the announcement counts in the holiday).
    Scheduled,
}

/// One day off of one holiday.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayOff {
    /// The day.
    pub date: Date,
    /// The stable id of the holiday, e.g. `"tet"`.
    pub holiday_id: String,
    /// The holiday's Vietnamese name, e.g. "Tết Nguyên Đán".
    pub name_vi: String,
    /// The holiday's English name, e.g. "Lunar New Year".
    pub name_en: String,
    /// The day's lunar date, for holidays defined in the lunar calendar.
    pub lunar: Option<LunarDate>,
    /// Why the day is off.
    pub kind: DayOffKind,
}

/// A run of consecutive non-working days (weekly rest days included) that contains at least
/// one holiday's day off: the period during which agencies are closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolidayBlock {
    /// The first non-working day.
    pub start: Date,
    /// The last non-working day (inclusive).
    pub end: Date,
    /// The number of days from `start` to `end` inclusive.
    pub days: u32,
    /// The ids of the holidays with days off in the block, in date order.
    pub holidays: Vec<String>,
    /// The Vietnamese names of those holidays, joined with ", ".
    pub name_vi: String,
    /// The English names of those holidays, joined with ", ".
    pub name_en: String,
}

/// The days off and make-up working days known around a span of years.
pub(super) struct Plan {
    /// Sorted by date, then holiday id.
    days_off: Vec<DayOff>,
    off: BTreeSet<Date>,
    working: BTreeSet<Date>,
}

impl Plan {
    /// Whether `date` is a working day, for dates inside the years the plan is complete for.
    pub(super) fn is_working_day(&self, rules: &CalendarRules, date: Date) -> bool {
        if self.off.contains(&date) {
            return false;
        }
        self.working.contains(&date) || !rules.is_weekly_rest_day(date.weekday())
    }
}

impl CalendarRules {
    /// All days off of Gregorian `year`, sorted by date (then holiday id): statutory days,
    /// compensatory days and days from the year's announced schedules.
    pub fn days_off(&self, year: i16) -> Vec<DayOff> {
        self.plan_for(year)
            .days_off
            .into_iter()
            .filter(|day| day.date.year() == year)
            .collect()
    }

    /// Whether `date` is one of the days off listed by [`CalendarRules::days_off`] (of any
    /// kind). An ordinary weekend day is not.
    pub fn is_day_off(&self, date: Date) -> bool {
        self.plan_for(date.year()).off.contains(&date)
    }

    /// Whether agencies work on `date`: not a holiday's day off, and either not a weekly rest
    /// day or a make-up working day of an announced schedule.
    pub fn is_working_day(&self, date: Date) -> bool {
        self.plan_for(date.year()).is_working_day(self, date)
    }

    /// The number of working days in Gregorian `year`.
    pub fn working_days_in_year(&self, year: i16) -> u32 {
        let plan = self.plan_for(year);
        let Ok(first) = Date::new(year, 1, 1) else {
            return 0;
        };
        first
            .series(1.day())
            .take_while(|date| date.year() == year)
            .filter(|&date| plan.is_working_day(self, date))
            .count() as u32
    }

    /// The holiday blocks that contain a day off dated in `year`, in date order. A block may
    /// reach into the neighbouring year (a New Year block starting on 30 December), and then
    /// appears for both years only if both have days off in it.
    pub fn blocks(&self, year: i16) -> Vec<HolidayBlock> {
        let plan = self.plan(year.saturating_sub(2)..=year.saturating_add(2));
        let mut blocks: Vec<HolidayBlock> = Vec::new();
        for day in plan.days_off.iter().filter(|day| day.date.year() == year) {
            if blocks.last().is_some_and(|block| day.date <= block.end) {
                continue;
            }
            let non_working = |date: &Date| !plan.is_working_day(self, *date);
            let start = day
                .date
                .series((-1).day())
                .skip(1)
                .take_while(non_working)
                .last()
                .unwrap_or(day.date);
            let end = day
                .date
                .series(1.day())
                .skip(1)
                .take_while(non_working)
                .last()
                .unwrap_or(day.date);
            let mut holidays: Vec<&DayOff> = Vec::new();
            for inside in plan
                .days_off
                .iter()
                .filter(|d| (start..=end).contains(&d.date))
            {
                if !holidays.iter().any(|h| h.holiday_id == inside.holiday_id) {
                    holidays.push(inside);
                }
            }
            let join = |name: fn(&DayOff) -> &str| {
                holidays
                    .iter()
                    .map(|h| name(h))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            blocks.push(HolidayBlock {
                start,
                end,
                days: (day_number(end) - day_number(start) + 1) as u32,
                holidays: holidays.iter().map(|h| h.holiday_id.clone()).collect(),
                name_vi: join(|h| &h.name_vi),
                name_en: join(|h| &h.name_en),
            });
        }
        blocks
    }

    /// A plan complete for every date of `year`.
    pub(super) fn plan_for(&self, year: i16) -> Plan {
        self.plan(year.saturating_sub(1)..=year.saturating_add(1))
    }

    /// The days off of the holiday occurrences of `years` (complete for the dates of every
    /// year but the first and last, whose neighbours may add compensatory or scheduled days).
    fn plan(&self, years: RangeInclusive<i16>) -> Plan {
        let mut days_off: Vec<DayOff> = Vec::new();
        let mut working = BTreeSet::new();
        // Statutory days on weekly rest days that earn a compensatory day.
        let mut owed: Vec<(Date, usize)> = Vec::new();
        for year in years {
            for (index, holiday) in self.holidays.iter().enumerate() {
                let schedule = self
                    .schedules
                    .iter()
                    .find(|s| s.year == year && s.holiday == index);
                if let Some(schedule) = schedule {
                    working.extend(schedule.working.iter().copied());
                }
                let statutory = if holiday.enabled {
                    statutory_days(holiday, year)
                } else {
                    Vec::new()
                };
                if let Some(announced) = schedule.and_then(|s| s.off.as_ref()) {
                    for &date in announced {
                        let kind = if statutory.contains(&date) {
                            DayOffKind::Statutory
                        } else {
                            DayOffKind::Scheduled
                        };
                        days_off.push(day_off(holiday, date, kind));
                    }
                    continue;
                }
                for &date in &statutory {
                    days_off.push(day_off(holiday, date, DayOffKind::Statutory));
                    if holiday.compensatory && self.is_weekly_rest_day(date.weekday()) {
                        owed.push((date, index));
                    }
                }
            }
        }
        let mut off: BTreeSet<Date> = days_off.iter().map(|day| day.date).collect();
        owed.sort();
        for (date, index) in owed {
            let next = date.series(1.day()).skip(1).find(|candidate| {
                !off.contains(candidate)
                    && (working.contains(candidate)
                        || !self.is_weekly_rest_day(candidate.weekday()))
            });
            if let Some(next) = next {
                off.insert(next);
                days_off.push(day_off(
                    &self.holidays[index],
                    next,
                    DayOffKind::Compensatory,
                ));
            }
        }
        days_off.sort_by(|a, b| (a.date, &a.holiday_id).cmp(&(b.date, &b.holiday_id)));
        Plan {
            days_off,
            off,
            working,
        }
    }
}

/// The days the rules give `holiday` in Gregorian `year` (a lunar holiday whose date falls in
/// January in one lunar year and December in the next can occur twice, or not at all).
fn statutory_days(holiday: &Holiday, year: i16) -> Vec<Date> {
    let anchors: Vec<Date> = match holiday.kind {
        HolidayKind::Solar => Date::new(year, holiday.month as i8, holiday.day as i8)
            .into_iter()
            .collect(),
        HolidayKind::Lunar => [i32::from(year) - 1, i32::from(year)]
            .into_iter()
            .filter_map(|lunar_year| from_lunar(lunar_year, holiday.month, holiday.day, false).ok())
            .filter(|date| date.year() == year)
            .collect(),
    };
    let mut days = Vec::new();
    for anchor in anchors {
        let Ok(start) = anchor.checked_add(holiday.start_offset.days()) else {
            continue;
        };
        let run: Vec<Date> = start
            .series(1.day())
            .take(usize::from(holiday.days))
            .collect();
        let adjacent = holiday.adjacent_before_on.as_ref().and_then(|before_on| {
            if before_on.contains(&anchor.weekday()) {
                run.first()?.yesterday().ok()
            } else {
                run.last()?.tomorrow().ok()
            }
        });
        days.extend(run);
        days.extend(adjacent);
    }
    days.sort();
    days
}

/// The day-off entry of `holiday` on `date`.
fn day_off(holiday: &Holiday, date: Date, kind: DayOffKind) -> DayOff {
    DayOff {
        date,
        holiday_id: holiday.id.clone(),
        name_vi: holiday.name_vi.clone(),
        name_en: holiday.name_en.clone(),
        lunar: (holiday.kind == HolidayKind::Lunar).then(|| to_lunar(date)),
        kind,
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn rules() -> CalendarRules {
        CalendarRules::decree85_default()
    }

    fn find(days: &[DayOff], date: Date) -> Vec<(&str, DayOffKind)> {
        days.iter()
            .filter(|day| day.date == date)
            .map(|day| (day.holiday_id.as_str(), day.kind))
            .collect()
    }

    #[test]
    fn days_off_2026_follow_the_rules_and_the_tet_schedule() {
        let days = rules().days_off(2026);
        let statutory = DayOffKind::Statutory;
        assert_eq!(find(&days, date(2026, 1, 1)), [("new-year", statutory)]);
        // Tết: 9 days from the announced schedule; the five statutory days are 29/12 to 4/1.
        for day in 14..=22 {
            let expected = if (16..=20).contains(&day) {
                statutory
            } else {
                DayOffKind::Scheduled
            };
            assert_eq!(
                find(&days, date(2026, 2, day)),
                [("tet", expected)],
                "{day}/02"
            );
        }
        assert!(find(&days, date(2026, 2, 13)).is_empty());
        assert!(find(&days, date(2026, 2, 23)).is_empty());
        let tet = days.iter().find(|d| d.date == date(2026, 2, 17)).unwrap();
        assert_eq!(
            (tet.name_vi.as_str(), tet.name_en.as_str()),
            ("Tết Nguyên Đán", "Lunar New Year")
        );
        assert_eq!(
            tet.lunar.map(|l| (l.year, l.month, l.day)),
            Some((2026, 1, 1))
        );
        // Giỗ Tổ on Sunday 26/04: compensatory day Monday 27/04.
        assert_eq!(find(&days, date(2026, 4, 26)), [("hung-kings", statutory)]);
        assert_eq!(
            find(&days, date(2026, 4, 27)),
            [("hung-kings", DayOffKind::Compensatory)]
        );
        assert_eq!(find(&days, date(2026, 4, 30)), [("victory-day", statutory)]);
        assert_eq!(find(&days, date(2026, 5, 1)), [("labour-day", statutory)]);
        // 2/9 is a Wednesday: the adjacent day is 3/9.
        assert_eq!(find(&days, date(2026, 9, 2)), [("national-day", statutory)]);
        assert_eq!(find(&days, date(2026, 9, 3)), [("national-day", statutory)]);
        assert!(find(&days, date(2026, 9, 1)).is_empty());
        // The disabled Culture Day is not off.
        assert!(find(&days, date(2026, 11, 24)).is_empty());
        assert_eq!(days.len(), 16);
        assert!(days.windows(2).all(|w| w[0].date <= w[1].date));
        assert!(days.iter().all(|d| d.date.year() == 2026));
    }

    #[test]
    fn tet_2027_is_computed_without_a_schedule() {
        let days = rules().days_off(2027);
        let tet: Vec<(Date, DayOffKind)> = days
            .iter()
            .filter(|d| d.holiday_id == "tet")
            .map(|d| (d.date, d.kind))
            .collect();
        // 05/02/2027 is the last day of month 12 (computed: it is 29/12 this year).
        let eve = days.iter().find(|d| d.date == date(2027, 2, 5)).unwrap();
        assert_eq!(eve.lunar, Some(to_lunar(date(2027, 2, 5))));
        assert_eq!(eve.lunar.map(|l| (l.month, l.leap)), Some((12, false)));
        assert_eq!(to_lunar(date(2027, 2, 6)).day, 1);
        let s = DayOffKind::Statutory;
        let c = DayOffKind::Compensatory;
        assert_eq!(
            tet,
            [
                (date(2027, 2, 5), s),
                (date(2027, 2, 6), s),
                (date(2027, 2, 7), s),
                (date(2027, 2, 8), s),
                (date(2027, 2, 9), s),
                // 6/2 and 7/2 are Saturday and Sunday: two days given back.
                (date(2027, 2, 10), c),
                (date(2027, 2, 11), c),
            ]
        );
    }

    #[test]
    fn national_day_takes_1_september_when_2_september_is_a_tuesday() {
        let days = rules().days_off(2025);
        assert_eq!(
            find(&days, date(2025, 9, 1)),
            [("national-day", DayOffKind::Statutory)]
        );
        assert!(find(&days, date(2025, 9, 3)).is_empty());
    }

    #[test]
    fn working_days_and_days_off_2026() {
        let r = rules();
        assert!(r.is_day_off(date(2026, 2, 14)));
        assert!(!r.is_working_day(date(2026, 2, 14)));
        assert!(r.is_working_day(date(2026, 2, 13)));
        assert!(r.is_working_day(date(2026, 2, 23)));
        assert!(
            !r.is_day_off(date(2026, 3, 7)),
            "an ordinary Saturday is no holiday"
        );
        assert!(!r.is_working_day(date(2026, 3, 7)));
        assert!(r.is_working_day(date(2026, 4, 28)));
        // 261 weekdays in 2026, less the 11 holiday days off that fall on weekdays.
        assert_eq!(r.working_days_in_year(2026), 250);
    }

    #[test]
    fn blocks_2026() {
        let blocks = rules().blocks(2026);
        let summary: Vec<(Date, Date, u32, Vec<&str>)> = blocks
            .iter()
            .map(|b| {
                let ids = b.holidays.iter().map(String::as_str).collect();
                (b.start, b.end, b.days, ids)
            })
            .collect();
        assert_eq!(
            summary,
            [
                (date(2026, 1, 1), date(2026, 1, 1), 1, vec!["new-year"]),
                (date(2026, 2, 14), date(2026, 2, 22), 9, vec!["tet"]),
                (date(2026, 4, 25), date(2026, 4, 27), 3, vec!["hung-kings"]),
                (
                    date(2026, 4, 30),
                    date(2026, 5, 3),
                    4,
                    vec!["victory-day", "labour-day"]
                ),
                (date(2026, 9, 2), date(2026, 9, 3), 2, vec!["national-day"]),
            ]
        );
        assert_eq!(blocks[3].name_vi, "Ngày Chiến thắng, Ngày Quốc tế Lao động");
    }

    #[test]
    fn a_block_can_start_in_the_previous_year() {
        // 1/1/2023 was a Sunday: the block is Saturday 31/12/2022 to Monday 2/1/2023.
        let blocks = rules().blocks(2023);
        assert_eq!(
            (blocks[0].start, blocks[0].end),
            (date(2022, 12, 31), date(2023, 1, 2))
        );
        // It has no day off dated 2022, so it is not one of 2022's blocks.
        assert!(rules().blocks(2022).iter().all(|b| b.end.year() == 2022));
    }

    #[test]
    fn a_schedule_can_swap_days_and_add_make_up_working_days() {
        let text = format!(
            "{}\n{}",
            include_str!("../../packs/decree85/calendar.toml"),
            r#"
[[schedule]]
year = 2027
holiday = "victory-day"
# Off Thursday 29/04 to Monday 03/05; Saturday 08/05 worked instead.
off = [{ from = 2027-04-29, to = 2027-04-30 }]
working = [2027-05-08]

[[schedule]]
year = 2027
holiday = "labour-day"
off = [{ from = 2027-05-01, to = 2027-05-03 }]
"#
        );
        let r = CalendarRules::from_toml_str(&text, "test.toml").unwrap();
        let days = r.days_off(2027);
        assert_eq!(
            find(&days, date(2027, 4, 29)),
            [("victory-day", DayOffKind::Scheduled)]
        );
        assert_eq!(
            find(&days, date(2027, 5, 3)),
            [("labour-day", DayOffKind::Scheduled)]
        );
        assert!(r.is_working_day(date(2027, 5, 8)));
        assert!(!r.is_working_day(date(2027, 5, 9)));
        assert_eq!(
            r.working_days_in_year(2027),
            rules().working_days_in_year(2027)
        );
    }

    #[test]
    fn extreme_years_do_not_panic() {
        let r = rules();
        for year in [i16::MIN, -9999, 0, 1, 9999, i16::MAX] {
            let _ = r.days_off(year);
            let _ = r.blocks(year);
            let _ = r.working_days_in_year(year);
        }
        assert!(r.is_working_day(date(9999, 12, 31)));
        assert!(!r.is_working_day(date(-9999, 1, 1)));
    }

    #[test]
    fn every_year_has_a_plausible_number_of_working_days() {
        let r = rules();
        for year in 1901..=2099 {
            let count = r.working_days_in_year(year);
            assert!((240..=254).contains(&count), "{year}: {count}");
            let days = r.days_off(year);
            assert!(
                days.iter()
                    .filter(|d| d.kind == DayOffKind::Statutory)
                    .count()
                    >= 11,
                "{year}"
            );
        }
    }
}
