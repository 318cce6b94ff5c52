//! Time limits: when the appraisal or approval is due, the pause while the agency supplements
//! its dossier, and how late a dossier is.
//!
//! Counting follows the calendar crate: the start day is never counted, so "15 working days
//! from a dossier received on Monday 02/02/2026" ends on the 15th working day after it. A limit
//! in calendar days that ends on a day off moves to the next working day (Civil Code 2015,
//! art. 148). When supplementation is requested the clock stops: the working (or calendar)
//! days left after that day are kept, and on resubmission the clock restarts with them, the
//! resubmission day again not counted. Lateness is always told in working days.

use jiff::ToSpan;
use jiff::civil::Date;

use canhgac_policies::calendar::{CalendarRules, add_working_days, working_days_between};
use canhgac_policies::pack::workflow::{DayCount, Limit};

use crate::model::{Deadline, DeadlineStage, Dossier, DossierState};

/// The first working day on or after `date`.
fn on_or_after_working_day(calendar: &CalendarRules, date: Date) -> Date {
    add_working_days(calendar, date.saturating_sub(1.day()), 1)
}

/// `date` moved by `n` days of `count`: forward for positive `n`, backward for negative `n`
/// (for working days: the latest working day with `-n` working days in `(result, date]`).
fn shift(calendar: &CalendarRules, count: DayCount, date: Date, n: i64) -> Date {
    match count {
        DayCount::CalendarDays => {
            let moved = date.saturating_add(n.clamp(-100_000, 100_000).days());
            if n > 0 {
                on_or_after_working_day(calendar, moved)
            } else {
                moved
            }
        }
        DayCount::WorkingDays if n >= 0 => {
            add_working_days(calendar, date, u32::try_from(n).unwrap_or(u32::MAX))
        }
        DayCount::WorkingDays => {
            let mut left = n.unsigned_abs().min(100_000);
            let mut day = date;
            while left > 0 {
                if calendar.is_working_day(day) {
                    left -= 1;
                }
                day = day.saturating_sub(1.day());
            }
            while !calendar.is_working_day(day) {
                day = day.saturating_sub(1.day());
            }
            day
        }
    }
}

/// Days of `count` in `(from, to]` (negative when `to` is before `from`).
fn days_between(calendar: &CalendarRules, count: DayCount, from: Date, to: Date) -> i64 {
    match count {
        DayCount::WorkingDays => working_days_between(calendar, from, to),
        DayCount::CalendarDays => from
            .until(to)
            .map(|span| i64::from(span.get_days()))
            .unwrap_or(0),
    }
}

/// A new deadline of `limit`, counted from `start` (not counted itself).
pub fn start(
    calendar: &CalendarRules,
    stage: DeadlineStage,
    limit: Limit,
    start: Date,
) -> Deadline {
    Deadline {
        stage,
        count: limit.count,
        due: shift(calendar, limit.count, start, i64::from(limit.days)),
        paused_since: None,
        days_left: None,
    }
}

/// `deadline` stopped on `today`: the days left after today are kept. Pausing a paused
/// deadline changes nothing.
pub fn pause(calendar: &CalendarRules, deadline: &Deadline, today: Date) -> Deadline {
    if deadline.paused_since.is_some() {
        return deadline.clone();
    }
    Deadline {
        paused_since: Some(today),
        days_left: Some(days_between(calendar, deadline.count, today, deadline.due)),
        ..deadline.clone()
    }
}

/// `deadline` restarted on `today` with the days it had left. Resuming a running deadline
/// changes nothing.
pub fn resume(calendar: &CalendarRules, deadline: &Deadline, today: Date) -> Deadline {
    let (Some(_), Some(left)) = (deadline.paused_since, deadline.days_left) else {
        return Deadline {
            paused_since: None,
            days_left: None,
            ..deadline.clone()
        };
    };
    Deadline {
        due: shift(calendar, deadline.count, today, left),
        paused_since: None,
        days_left: None,
        ..deadline.clone()
    }
}

/// Working days by which `deadline` is exceeded on `today`, for a dossier in `state`: `None`
/// unless the dossier waits on the authority (submitted, under appraisal, resubmitted,
/// appraised), its clock runs, and `today` is after the due day.
pub fn overdue_at(
    state: DossierState,
    deadline: Option<&Deadline>,
    today: Date,
    calendar: &CalendarRules,
) -> Option<i64> {
    if !state.is_with_authority() {
        return None;
    }
    let deadline = deadline?;
    if deadline.paused_since.is_some() {
        return None;
    }
    let late = working_days_between(calendar, deadline.due, today);
    (late > 0).then_some(late)
}

/// Working days by which `dossier` is overdue on `today` (see [`overdue_at`]).
pub fn overdue(dossier: &Dossier, today: Date, calendar: &CalendarRules) -> Option<i64> {
    overdue_at(dossier.state, dossier.deadline.as_ref(), today, calendar)
}

/// Days left on `today` before `deadline`, in its own unit (negative when late); while paused,
/// the days that were left when it stopped.
pub fn days_left(deadline: &Deadline, today: Date, calendar: &CalendarRules) -> i64 {
    match deadline.days_left {
        Some(left) if deadline.paused_since.is_some() => left,
        _ => days_between(calendar, deadline.count, today, deadline.due),
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn cal() -> CalendarRules {
        CalendarRules::decree85_default()
    }

    const WORKING_15: Limit = Limit {
        days: 15,
        count: DayCount::WorkingDays,
    };
    const CALENDAR_30: Limit = Limit {
        days: 30,
        count: DayCount::CalendarDays,
    };

    #[test]
    fn fifteen_working_days_across_tet_2026() {
        // Monday 02/02: 3-6/2 (4), 9-13/2 (9), Tết 14-22/2 off, 23-27/2 (14), 2/3 (15).
        let d = start(
            &cal(),
            DeadlineStage::Appraisal,
            WORKING_15,
            date(2026, 2, 2),
        );
        assert_eq!(d.due, date(2026, 3, 2));
        // Paused on Wednesday 11/02: 12, 13/2 and 23/2-2/3 are left: 8.
        let p = pause(&cal(), &d, date(2026, 2, 11));
        assert_eq!(p.days_left, Some(8));
        assert_eq!(p.paused_since, Some(date(2026, 2, 11)));
        assert_eq!(pause(&cal(), &p, date(2026, 2, 12)), p);
        // Resumed on Monday 23/02, the first day back: 24-27/2 (4), 2-5/3 (8).
        let r = resume(&cal(), &p, date(2026, 2, 23));
        assert_eq!(r.due, date(2026, 3, 5));
        assert_eq!((r.paused_since, r.days_left), (None, None));
        assert_eq!(resume(&cal(), &r, date(2026, 3, 1)), r);
    }

    #[test]
    fn thirty_calendar_days_ending_in_tet_move_to_the_next_working_day() {
        let d = start(
            &cal(),
            DeadlineStage::Appraisal,
            CALENDAR_30,
            date(2026, 1, 16),
        );
        // 15/02 is inside Tết; the first working day after is Monday 23/02.
        assert_eq!(d.due, date(2026, 2, 23));
        let plain = start(
            &cal(),
            DeadlineStage::Appraisal,
            CALENDAR_30,
            date(2026, 2, 10),
        );
        assert_eq!(plain.due, date(2026, 3, 12));
        let p = pause(&cal(), &plain, date(2026, 3, 2));
        assert_eq!(p.days_left, Some(10));
        assert_eq!(resume(&cal(), &p, date(2026, 3, 9)).due, date(2026, 3, 19));
    }

    #[test]
    fn a_late_pause_stays_late_after_resuming() {
        let d = start(
            &cal(),
            DeadlineStage::Appraisal,
            WORKING_15,
            date(2026, 2, 2),
        );
        // Paused 3 working days after 02/03.
        let p = pause(&cal(), &d, date(2026, 3, 5));
        assert_eq!(p.days_left, Some(-3));
        // Resumed on Monday 16/03: still 3 working days late.
        let r = resume(&cal(), &p, date(2026, 3, 16));
        assert_eq!(r.due, date(2026, 3, 11));
        assert_eq!(
            overdue_at(
                DossierState::Resubmitted,
                Some(&r),
                date(2026, 3, 16),
                &cal()
            ),
            Some(3)
        );
        let c = pause(
            &cal(),
            &start(
                &cal(),
                DeadlineStage::Appraisal,
                CALENDAR_30,
                date(2026, 2, 10),
            ),
            date(2026, 3, 14),
        );
        assert_eq!(c.days_left, Some(-2));
        assert_eq!(resume(&cal(), &c, date(2026, 3, 20)).due, date(2026, 3, 18));
    }

    #[test]
    fn overdue_counts_working_days_and_only_while_the_authority_holds_it() {
        let d = start(
            &cal(),
            DeadlineStage::Appraisal,
            WORKING_15,
            date(2026, 2, 2),
        );
        let state = DossierState::UnderAppraisal;
        assert_eq!(overdue_at(state, Some(&d), date(2026, 3, 2), &cal()), None);
        assert_eq!(
            overdue_at(state, Some(&d), date(2026, 3, 5), &cal()),
            Some(3)
        );
        // Saturday and Sunday add nothing.
        assert_eq!(
            overdue_at(state, Some(&d), date(2026, 3, 8), &cal()),
            Some(4)
        );
        assert_eq!(days_left(&d, date(2026, 3, 5), &cal()), -3);
        assert_eq!(days_left(&d, date(2026, 2, 27), &cal()), 1);
        let paused = pause(&cal(), &d, date(2026, 3, 5));
        assert_eq!(
            overdue_at(
                DossierState::NeedsSupplement,
                Some(&paused),
                date(2026, 4, 1),
                &cal()
            ),
            None
        );
        assert_eq!(days_left(&paused, date(2026, 4, 1), &cal()), -3);
        for state in [
            DossierState::Draft,
            DossierState::Approved,
            DossierState::Withdrawn,
        ] {
            assert_eq!(overdue_at(state, Some(&d), date(2026, 4, 1), &cal()), None);
        }
    }

    #[test]
    fn across_30_april_and_1_may_2026() {
        // Monday 20/04: 21-24/4 (4), Monday 27/04 is Giỗ Tổ's compensatory day, 28-29/4 (6),
        // 30/4 and 1/5 off, 4-8/5 (11), 11-14/5 (15).
        let d = start(
            &cal(),
            DeadlineStage::Appraisal,
            WORKING_15,
            date(2026, 4, 20),
        );
        assert_eq!(d.due, date(2026, 5, 14));
        // Paused on Tuesday 28/04 with 29/4, 4-8/5 and 11-14/5 left: 10.
        let p = pause(&cal(), &d, date(2026, 4, 28));
        assert_eq!(p.days_left, Some(10));
        // Resumed on Wednesday 29/04: 4-8/5 (5), 11-15/5 (10).
        assert_eq!(resume(&cal(), &p, date(2026, 4, 29)).due, date(2026, 5, 15));
        let approval = start(
            &cal(),
            DeadlineStage::Approval,
            Limit {
                days: 7,
                count: DayCount::WorkingDays,
            },
            date(2026, 4, 29),
        );
        // 4-8/5 (5), 11-12/5 (7).
        assert_eq!(approval.due, date(2026, 5, 12));
    }
}
