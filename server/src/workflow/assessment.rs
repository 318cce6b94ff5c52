//! The periodic duty after approval: Directive 14/CT-TTg (2019) asks for systems of level 3
//! and 4 to be assessed every year, reported before 14 December, and level 5 systems every 6
//! months. The interval (`assessment_every_months`) and the yearly report day
//! (`yearly_report_before`) both come from the pack's `workflow.toml`.

use jiff::ToSpan;
use jiff::civil::Date;

use canhgac_policies::pack::Pack;

use crate::model::{System, SystemStatus};

/// The day the next periodic assessment of `system` is due, given the day of the last one.
///
/// - `None` for a retired system, one without an approved level, or a level the pack gives no
///   interval for (levels 1-2 in Decree 85).
/// - Whole years (12, 24... months) when the pack names a yearly report day (Decree 85: 14/12):
///   the report is due before that day and the day returned is it (late from that day on).
///   After an assessment in year Y it is that day of Y + the interval; never assessed, the
///   first such day after the approval decision.
/// - Other intervals (6 months for level 5), or a pack without a yearly report day: the last
///   assessment plus the interval, or the decision date plus the interval if never assessed.
pub fn next_assessment_due(
    system: &System,
    last_assessment: Option<Date>,
    pack: &Pack,
) -> Option<Date> {
    if system.status == SystemStatus::Retired {
        return None;
    }
    let approval = system.approved.as_ref()?;
    let months = pack
        .workflow
        .for_level(approval.level.get())?
        .assessment_every_months
        .filter(|m| *m > 0)?;
    let months = i64::from(months);
    if months % 12 == 0
        && let Some(yearly) = pack.workflow.yearly_report_before
    {
        let years = months / 12;
        let report_day = |year: i64| yearly.in_year(i16::try_from(year).ok()?);
        match last_assessment {
            Some(last) => report_day(i64::from(last.year()) + years),
            None => {
                let decided = approval.decision_date;
                let this_year = report_day(i64::from(decided.year()))?;
                if decided < this_year {
                    Some(this_year)
                } else {
                    report_day(i64::from(decided.year()) + 1)
                }
            }
        }
    } else {
        let from = last_assessment.unwrap_or(approval.decision_date);
        from.checked_add(months.months()).ok()
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;
    use crate::model::fixtures::{agency, system};
    use crate::model::{Approval, Level};

    fn approved(level: u8, decided: Date) -> System {
        let a = agency(1, "UBND tỉnh", None);
        system(1, a.id, a.id, level).record_approval(&Approval {
            level: Level::new(level).unwrap(),
            decision_number: "15/QĐ-UBND".to_owned(),
            decision_date: decided,
        })
    }

    #[test]
    fn levels_3_and_4_yearly_before_14_december() {
        let pack = Pack::decree85();
        for level in [3, 4] {
            let s = approved(level, date(2025, 6, 10));
            assert_eq!(
                next_assessment_due(&s, None, &pack),
                Some(date(2025, 12, 14))
            );
            assert_eq!(
                next_assessment_due(&s, Some(date(2025, 11, 20)), &pack),
                Some(date(2026, 12, 14))
            );
        }
        let late = approved(3, date(2025, 12, 20));
        assert_eq!(
            next_assessment_due(&late, None, &pack),
            Some(date(2026, 12, 14))
        );
    }

    #[test]
    fn level_5_every_six_months() {
        let pack = Pack::decree85();
        let s = approved(5, date(2025, 8, 31));
        assert_eq!(
            next_assessment_due(&s, None, &pack),
            Some(date(2026, 2, 28))
        );
        assert_eq!(
            next_assessment_due(&s, Some(date(2026, 1, 15)), &pack),
            Some(date(2026, 7, 15))
        );
    }

    #[test]
    fn the_yearly_day_is_the_packs() {
        let mut pack = Pack::decree85();
        pack.workflow.yearly_report_before =
            Some(canhgac_policies::pack::MonthDay { month: 6, day: 30 });
        let s = approved(3, date(2025, 3, 10));
        assert_eq!(
            next_assessment_due(&s, None, &pack),
            Some(date(2025, 6, 30))
        );
        pack.workflow.yearly_report_before = None;
        assert_eq!(
            next_assessment_due(&s, Some(date(2025, 11, 20)), &pack),
            Some(date(2026, 11, 20)),
            "without a yearly day: one interval after the last assessment"
        );
    }

    #[test]
    fn no_duty_for_levels_1_2_unapproved_or_retired_systems() {
        let pack = Pack::decree85();
        assert_eq!(
            next_assessment_due(&approved(2, date(2025, 1, 1)), None, &pack),
            None
        );
        let mut s = approved(3, date(2025, 1, 1));
        s.status = SystemStatus::Retired;
        assert_eq!(next_assessment_due(&s, None, &pack), None);
        let a = agency(1, "UBND tỉnh", None);
        assert_eq!(
            next_assessment_due(&system(2, a.id, a.id, 3), None, &pack),
            None
        );
    }
}
