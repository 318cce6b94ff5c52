//! When holiday alerts go out: before each holiday block (a run of consecutive days off, as
//! the calendar computes it with the official schedules applied), on each configured reminder
//! day: N calendar days before the block's first day (`d14`, moved back to a working day when
//! it falls on a day off) and N working days before it (`w3`).
//!
//! A reminder is due from its day until the block starts. When a server was down on a
//! reminder's day and a later reminder of the same block is due too, only the later one goes
//! out (nobody needs the 14-day letter and the 3-day letter on the same morning).

use canhgac_policies::calendar::{CalendarRules, HolidayBlock};
use jiff::ToSpan;
use jiff::civil::Date;
use serde::Serialize;

use super::settings::AlertSettings;

/// One reminder of one holiday block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reminder {
    /// The block.
    pub block: HolidayBlock,
    /// `d14` (calendar days before) or `w3` (working days before).
    pub id: String,
    /// The day it goes out.
    pub send_on: Date,
}

/// The day `n` working days before `start` (the working day counted `n`th going back).
pub fn working_days_before(rules: &CalendarRules, start: Date, n: u32) -> Date {
    let mut day = start;
    let mut left = n;
    while left > 0 {
        day = day.yesterday().unwrap_or(day);
        if rules.is_working_day(day) {
            left -= 1;
        }
    }
    day
}

/// `day` if it is a working day, else the working day before it (letters go out when someone
/// is at the desk to act on them).
pub fn on_working_day(rules: &CalendarRules, day: Date) -> Date {
    let mut d = day;
    for _ in 0..30 {
        if rules.is_working_day(d) {
            return d;
        }
        d = d.yesterday().unwrap_or(d);
    }
    day
}

/// Every reminder of the blocks of `year` long enough to be alerted, in date order.
pub fn reminders(rules: &CalendarRules, year: i16, settings: &AlertSettings) -> Vec<Reminder> {
    let mut out = Vec::new();
    for block in rules.blocks(year) {
        if block.days < settings.holiday_min_block_days {
            continue;
        }
        for &n in &settings.holiday_days_before {
            out.push(Reminder {
                block: block.clone(),
                id: format!("d{n}"),
                send_on: on_working_day(
                    rules,
                    block
                        .start
                        .checked_sub(i64::from(n).days())
                        .unwrap_or(block.start),
                ),
            });
        }
        for &n in &settings.holiday_working_days_before {
            out.push(Reminder {
                block: block.clone(),
                id: format!("w{n}"),
                send_on: working_days_before(rules, block.start, n),
            });
        }
    }
    out.sort_by_key(|a| (a.send_on, a.block.start));
    out
}

/// The reminders due at `now` (Vietnam time): for each block not yet started, the latest
/// reminder whose day has come (on its day, from `holiday_hour`).
pub fn due_at(
    rules: &CalendarRules,
    now: jiff::Timestamp,
    settings: &AlertSettings,
) -> Vec<Reminder> {
    let local = jiff::tz::offset(7).to_datetime(now);
    let today = local.date();
    let before_hour = local.hour() < i8::try_from(settings.holiday_hour).unwrap_or(8);
    // Before the hour, as if it were still yesterday (yesterday's latest reminder, if it was
    // missed, not today's early).
    let day = if before_hour {
        today.yesterday().unwrap_or(today)
    } else {
        today
    };
    due(rules, day, settings)
        .into_iter()
        .filter(|r| r.block.start > today)
        .collect()
}

/// The reminders due on `today`: for each block not yet started, the latest reminder whose
/// day has come.
pub fn due(rules: &CalendarRules, today: Date, settings: &AlertSettings) -> Vec<Reminder> {
    let mut out: Vec<Reminder> = Vec::new();
    for year in [today.year(), today.year().saturating_add(1)] {
        for r in reminders(rules, year, settings) {
            if r.send_on > today || r.block.start <= today {
                continue;
            }
            match out.iter_mut().find(|o| o.block.start == r.block.start) {
                Some(o) if o.send_on < r.send_on => *o = r,
                Some(_) => {}
                None => out.push(r),
            }
        }
    }
    out
}

/// The block a preview asks for: the one containing `day`, else the first starting after it
/// (within a year).
pub fn block_at(rules: &CalendarRules, day: Date) -> Option<HolidayBlock> {
    [day.year(), day.year().saturating_add(1)]
        .into_iter()
        .flat_map(|y| rules.blocks(y))
        .find(|b| b.end >= day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn reminders_fall_on_calendar_and_working_days_before_each_block() {
        let rules = CalendarRules::decree85_default();
        let s = AlertSettings::default();
        let all = reminders(&rules, 2026, &s);
        let national: Vec<&Reminder> = all
            .iter()
            .filter(|r| r.block.holidays.iter().any(|h| h == "national-day"))
            .collect();
        assert_eq!(national.len(), 2, "{national:?}");
        let start = national[0].block.start;
        let d14 = national.iter().find(|r| r.id == "d14").unwrap();
        assert_eq!(d14.send_on, start.checked_sub(14.days()).unwrap());
        // 14 days before Victory Day 2027 is Hùng Kings' day (16/04, a day off): the day before.
        let victory = reminders(&rules, 2027, &s)
            .into_iter()
            .find(|r| r.id == "d14" && r.block.holidays.iter().any(|h| h == "victory-day"))
            .unwrap();
        assert_eq!(victory.send_on, date(2027, 4, 15));
        let w3 = national.iter().find(|r| r.id == "w3").unwrap();
        // Three working days back, each one a working day, none skipped.
        assert!(rules.is_working_day(w3.send_on));
        let mut d = w3.send_on;
        let mut working = 0;
        while d < start {
            if rules.is_working_day(d) {
                working += 1;
            }
            d = d.tomorrow().unwrap();
        }
        assert_eq!(working, 3);
    }

    #[test]
    fn only_the_latest_reminder_of_a_block_is_due_and_none_once_it_started() {
        let rules = CalendarRules::decree85_default();
        let s = AlertSettings::default();
        let all = reminders(&rules, 2026, &s);
        let w3 = all
            .iter()
            .find(|r| r.id == "w3" && r.block.holidays.iter().any(|h| h == "national-day"))
            .unwrap();
        let due_then = due(&rules, w3.send_on, &s);
        let mine: Vec<_> = due_then
            .iter()
            .filter(|r| r.block.start == w3.block.start)
            .collect();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].id, "w3");
        assert!(
            due(&rules, w3.block.start, &s)
                .iter()
                .all(|r| r.block.start != w3.block.start)
        );
        // The day before the 14-day reminder, nothing for that block.
        let d14 = all
            .iter()
            .find(|r| r.id == "d14" && r.block.start == w3.block.start)
            .unwrap();
        assert!(
            due(&rules, d14.send_on.yesterday().unwrap(), &s)
                .iter()
                .all(|r| r.block.start != w3.block.start)
        );
        // On the day, from 08:00 Vietnam time (01:00 UTC).
        let at = |h: i8| {
            jiff::tz::offset(7)
                .to_timestamp(w3.send_on.at(h, 0, 0, 0))
                .unwrap()
        };
        let mine = |now| {
            due_at(&rules, now, &s)
                .into_iter()
                .filter(|r| r.block.start == w3.block.start)
                .map(|r| r.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(mine(at(8)), vec!["w3".to_string()]);
        assert_eq!(
            mine(at(7)),
            vec!["d14".to_string()],
            "before the hour, yesterday's"
        );
        assert_eq!(
            block_at(&rules, date(2026, 9, 2)).unwrap().start,
            w3.block.start
        );
    }
}
