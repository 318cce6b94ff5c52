//! Deadline arithmetic in working days, the unit of Decree 85's time limits.
//!
//! "Approval within 7 working days" of a complete dossier means: count the working days after
//! the day it was received. Both functions here count that way, the start day excluded, using
//! the weekly rest days, holidays and announced schedules of a [`CalendarRules`].

use jiff::ToSpan;
use jiff::civil::Date;

use super::holidays::Plan;
use super::rules::CalendarRules;

/// Answers "is this a working day?" for consecutive dates, computing each year's plan once.
struct Cursor<'a> {
    rules: &'a CalendarRules,
    year: Option<i16>,
    plan: Option<Plan>,
}

impl<'a> Cursor<'a> {
    fn new(rules: &'a CalendarRules) -> Cursor<'a> {
        Cursor {
            rules,
            year: None,
            plan: None,
        }
    }

    fn is_working_day(&mut self, date: Date) -> bool {
        if self.year != Some(date.year()) {
            self.year = Some(date.year());
            self.plan = Some(self.rules.plan_for(date.year()));
        }
        self.plan
            .as_ref()
            .is_some_and(|plan| plan.is_working_day(self.rules, date))
    }
}

/// The date `n` working days after `start`: the `n`-th working day counted from the day after
/// `start` (`start` itself is never counted, working day or not). `n = 0` gives `start`.
///
/// ```
/// use canhgac_policies::calendar::{CalendarRules, add_working_days};
/// use jiff::civil::date;
///
/// let rules = CalendarRules::decree85_default();
/// // Tết closes agencies from 14/02 to 22/02/2026: 7 working days after Friday 13/02 is
/// // Tuesday 03/03.
/// assert_eq!(add_working_days(&rules, date(2026, 2, 13), 7), date(2026, 3, 3));
/// ```
///
/// # Panics
///
/// If the answer would lie after 9999-12-31, the last date jiff represents.
pub fn add_working_days(rules: &CalendarRules, start: Date, n: u32) -> Date {
    let mut cursor = Cursor::new(rules);
    let mut date = start;
    let mut remaining = n;
    while remaining > 0 {
        date = date
            .checked_add(1.day())
            .expect("a working-day deadline within jiff's date range");
        if cursor.is_working_day(date) {
            remaining -= 1;
        }
    }
    date
}

/// The number of working days in `(a, b]`: after `a`, up to and including `b`. It is the `n`
/// for which [`add_working_days`]`(rules, a, n)` is `b` when `b` is a working day. When `b` is
/// before `a` the count of `(b, a]` is returned negated; `a == b` gives 0.
pub fn working_days_between(rules: &CalendarRules, a: Date, b: Date) -> i64 {
    if b < a {
        return -working_days_between(rules, b, a);
    }
    let mut cursor = Cursor::new(rules);
    a.series(1.day())
        .skip(1)
        .take_while(|date| *date <= b)
        .filter(|&date| cursor.is_working_day(date))
        .count() as i64
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn rules() -> CalendarRules {
        CalendarRules::decree85_default()
    }

    #[test]
    fn across_tet_2026() {
        let r = rules();
        // Friday 13/02: the next working day is Monday 23/02, after the 9 days of Tết.
        assert_eq!(
            add_working_days(&r, date(2026, 2, 13), 1),
            date(2026, 2, 23)
        );
        assert_eq!(add_working_days(&r, date(2026, 2, 13), 7), date(2026, 3, 3));
        // From inside the block: the start is not counted whatever it is.
        assert_eq!(
            add_working_days(&r, date(2026, 2, 17), 1),
            date(2026, 2, 23)
        );
        assert_eq!(
            add_working_days(&r, date(2026, 2, 17), 0),
            date(2026, 2, 17)
        );
        assert_eq!(
            working_days_between(&r, date(2026, 2, 13), date(2026, 2, 23)),
            1
        );
        assert_eq!(
            working_days_between(&r, date(2026, 2, 12), date(2026, 2, 22)),
            1
        );
        assert_eq!(
            working_days_between(&r, date(2026, 2, 23), date(2026, 2, 13)),
            -1
        );
        assert_eq!(
            working_days_between(&r, date(2026, 2, 13), date(2026, 2, 13)),
            0
        );
    }

    #[test]
    fn across_30_april_and_1_may_2026() {
        let r = rules();
        // Wednesday 29/04: Thursday 30/04 and Friday 01/05 are off, then the weekend.
        assert_eq!(add_working_days(&r, date(2026, 4, 29), 1), date(2026, 5, 4));
        // Friday 24/04: Giỗ Tổ (Sunday 26/04) gives Monday 27/04 back.
        assert_eq!(
            add_working_days(&r, date(2026, 4, 24), 1),
            date(2026, 4, 28)
        );
        assert_eq!(add_working_days(&r, date(2026, 4, 24), 3), date(2026, 5, 4));
        assert_eq!(
            working_days_between(&r, date(2026, 4, 24), date(2026, 5, 4)),
            3
        );
        assert_eq!(
            working_days_between(&r, date(2026, 5, 4), date(2026, 4, 24)),
            -3
        );
    }

    #[test]
    fn a_make_up_saturday_counts() {
        let text = format!(
            "{}\n{}",
            include_str!("../../packs/decree85/calendar.toml"),
            "[[schedule]]\nyear = 2026\nholiday = \"labour-day\"\n\
             off = [{ from = 2026-05-01, to = 2026-05-01 }, { from = 2026-05-04 }]\n\
             working = [2026-05-09]\n"
        );
        let r = CalendarRules::from_toml_str(&text, "swap.toml").unwrap();
        // Monday 04/05 is now off, Saturday 09/05 worked.
        assert_eq!(add_working_days(&r, date(2026, 4, 29), 1), date(2026, 5, 5));
        assert_eq!(add_working_days(&r, date(2026, 5, 8), 1), date(2026, 5, 9));
        assert_eq!(add_working_days(&r, date(2026, 5, 9), 1), date(2026, 5, 11));
        assert_eq!(
            working_days_between(&r, date(2026, 4, 29), date(2026, 5, 11)),
            6
        );
        assert_eq!(
            working_days_between(&r, date(2026, 4, 29), date(2026, 5, 11)),
            working_days_between(&rules(), date(2026, 4, 29), date(2026, 5, 11))
        );
    }

    #[test]
    fn across_a_year_end_and_inverse_of_each_other() {
        let r = rules();
        let start = date(2025, 12, 30);
        for n in 0..300 {
            let end = add_working_days(&r, start, n);
            assert_eq!(working_days_between(&r, start, end), i64::from(n));
            assert!(n == 0 || r.is_working_day(end));
        }
        let whole_year = working_days_between(&r, date(2025, 12, 31), date(2026, 12, 31));
        assert_eq!(whole_year, i64::from(r.working_days_in_year(2026)));
    }
}
