//! Official yearly schedules applied over a pack's calendar.
//!
//! Each year the government announces the civil servants' holiday schedule (days swapped with
//! weekends, make-up working Saturdays). An administrator enters it on the server as a TOML
//! file holding only `[[schedule]]` entries, written exactly as in `calendar.toml`:
//!
//! ```toml
//! [[schedule]]
//! year = 2027
//! holiday = "tet"
//! off = [{ from = 2027-02-05, to = 2027-02-11 }]
//! working = []
//! note = "Công văn của Văn phòng Chính phủ"
//! ```
//!
//! [`CalendarRules::with_official`] checks such a file against the rules (same validation and
//! `file:line:column` errors as `calendar.toml`; a holiday the rules do not define is refused)
//! and, for every year the file names, replaces the rules' schedules of that year by the file's:
//! an official schedule of a year is the whole announcement for that year. Days off that come
//! from an official schedule are recognised by [`CalendarRules::is_official`].

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::error::{CalendarError, Location};
use super::holidays::DayOff;
use super::rules::{CalendarRules, RawSchedule, Validator};

/// An official schedule file as written: nothing but `[[schedule]]` entries.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOfficial {
    #[serde(default)]
    schedule: Vec<RawSchedule>,
}

/// An official schedule file checked against a set of rules: the years it covers and the rules
/// with it applied ([`CalendarRules::parse_official`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficialSchedules {
    rules: CalendarRules,
    years: Vec<i16>,
}

impl OfficialSchedules {
    /// The years the file gives schedules for, in order.
    pub fn years(&self) -> &[i16] {
        &self.years
    }

    /// The rules with the file applied.
    pub fn rules(&self) -> &CalendarRules {
        &self.rules
    }

    /// The rules with the file applied.
    pub fn into_rules(self) -> CalendarRules {
        self.rules
    }

    /// The file's schedules of `year` alone, as a canonical official schedule file (which
    /// [`CalendarRules::with_official`] reads back to the same schedules). Empty when the file
    /// has none for `year`.
    pub fn toml_for_year(&self, year: i16) -> String {
        self.rules.official_toml(year).unwrap_or_default()
    }
}

/// A make-up working day: a weekly rest day that agencies work, from a yearly schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MakeUpDay {
    /// The day.
    pub date: Date,
    /// The holiday whose schedule moves it, e.g. `"tet"`.
    pub holiday_id: String,
    /// That holiday's Vietnamese name.
    pub name_vi: String,
    /// That holiday's English name.
    pub name_en: String,
    /// Whether the schedule is an official one applied over the pack's data.
    pub official: bool,
}

/// A holiday the rules define: what a schedule's `holiday` names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolidayName {
    /// The stable id, e.g. `"tet"`.
    pub id: String,
    /// The Vietnamese name.
    pub name_vi: String,
    /// The English name.
    pub name_en: String,
    /// Whether the rules give it days off by themselves (a disabled holiday has days off only
    /// through a schedule).
    pub enabled: bool,
}

impl CalendarRules {
    /// The holidays a schedule may name, in the rules' order.
    pub fn holiday_names(&self) -> Vec<HolidayName> {
        self.holidays
            .iter()
            .map(|h| HolidayName {
                id: h.id.clone(),
                name_vi: h.name_vi.clone(),
                name_en: h.name_en.clone(),
                enabled: h.enabled,
            })
            .collect()
    }

    /// Checks an official schedule file (only `[[schedule]]` entries, one or more years) against
    /// these rules and applies it: for every year the file names, the rules' schedules of that
    /// year are replaced by the file's. `file_label` names the file in errors, which give the
    /// line and column of the problem like [`CalendarRules::from_toml_str`]'s.
    pub fn parse_official(
        &self,
        text: &str,
        file_label: &str,
    ) -> Result<OfficialSchedules, CalendarError> {
        let raw: RawOfficial = toml::from_str(text).map_err(|error| CalendarError::Rules {
            location: Location::at(file_label, text, error.span().map(|span| span.start)),
            message: error.message().trim_end().to_owned(),
        })?;
        let validator = Validator { file_label, text };
        if raw.schedule.is_empty() {
            return Err(CalendarError::Rules {
                location: Location::at(file_label, text, Some(0)),
                message: "the file holds no [[schedule]] entry: write one per holiday and year \
                          (year, holiday, off, working)"
                    .to_owned(),
            });
        }
        let ids: HashMap<&str, usize> = self
            .holidays
            .iter()
            .enumerate()
            .map(|(index, h)| (h.id.as_str(), index))
            .collect();
        let (mut schedules, working_spans) =
            validator.schedules(&raw.schedule, &ids, &self.rest_days)?;
        for schedule in &mut schedules {
            schedule.official = true;
        }
        let years: BTreeSet<i16> = schedules.iter().map(|s| s.year).collect();
        let mut rules = self.clone();
        rules.schedules.retain(|s| !years.contains(&s.year));
        rules.schedules.extend(schedules);
        validator.check_working_days(&rules, working_spans)?;
        Ok(OfficialSchedules {
            rules,
            years: years.into_iter().collect(),
        })
    }

    /// These rules with an official schedule file applied ([`CalendarRules::parse_official`]).
    pub fn with_official(
        &self,
        text: &str,
        file_label: &str,
    ) -> Result<CalendarRules, CalendarError> {
        self.parse_official(text, file_label)
            .map(OfficialSchedules::into_rules)
    }

    /// The years that have an official schedule applied, in order.
    pub fn official_years(&self) -> Vec<i16> {
        let years: BTreeSet<i16> = self
            .schedules
            .iter()
            .filter(|s| s.official)
            .map(|s| s.year)
            .collect();
        years.into_iter().collect()
    }

    /// Whether `day` (one of [`CalendarRules::days_off`]) is given by an official schedule's
    /// list of days off.
    pub fn is_official(&self, day: &DayOff) -> bool {
        self.schedules.iter().any(|s| {
            s.official
                && self.holidays[s.holiday].id == day.holiday_id
                && s.off.as_ref().is_some_and(|off| off.contains(&day.date))
        })
    }

    /// The make-up working days dated in Gregorian `year`, in date order.
    pub fn make_up_days(&self, year: i16) -> Vec<MakeUpDay> {
        let mut days: Vec<MakeUpDay> = self
            .schedules
            .iter()
            .flat_map(|s| {
                let holiday = &self.holidays[s.holiday];
                s.working
                    .iter()
                    .filter(|date| date.year() == year)
                    .map(move |&date| MakeUpDay {
                        date,
                        holiday_id: holiday.id.clone(),
                        name_vi: holiday.name_vi.clone(),
                        name_en: holiday.name_en.clone(),
                        official: s.official,
                    })
            })
            .collect();
        days.sort_by(|a, b| (a.date, &a.holiday_id).cmp(&(b.date, &b.holiday_id)));
        days
    }

    /// The official schedules of `year` as a canonical official schedule file, `None` when the
    /// year has none.
    pub fn official_toml(&self, year: i16) -> Option<String> {
        let mut out = String::new();
        for s in self
            .schedules
            .iter()
            .filter(|s| s.official && s.year == year)
        {
            if !out.is_empty() {
                out.push('\n');
            }
            let _ = writeln!(out, "[[schedule]]");
            let _ = writeln!(out, "year = {}", s.year);
            let _ = writeln!(out, "holiday = {}", quoted(&self.holidays[s.holiday].id));
            if let Some(off) = &s.off {
                let ranges: Vec<String> = runs(off)
                    .into_iter()
                    .map(|(from, to)| format!("{{ from = {from}, to = {to} }}"))
                    .collect();
                let _ = writeln!(out, "off = [{}]", ranges.join(", "));
            }
            let working: Vec<String> = s.working.iter().map(Date::to_string).collect();
            let _ = writeln!(out, "working = [{}]", working.join(", "));
            if let Some(note) = s.note.as_deref().filter(|n| !n.is_empty()) {
                let _ = writeln!(out, "note = {}", quoted(note));
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

/// A TOML basic string.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// Sorted days as runs of consecutive days.
fn runs(days: &[Date]) -> Vec<(Date, Date)> {
    let mut out: Vec<(Date, Date)> = Vec::new();
    for &day in days {
        match out.last_mut() {
            Some((_, to)) if to.tomorrow().ok() == Some(day) => *to = day,
            _ => out.push((day, day)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;
    use crate::calendar::{DayOffKind, add_working_days};

    fn rules() -> CalendarRules {
        CalendarRules::decree85_default()
    }

    /// The message of applying `text` (which must fail) as `official.toml`.
    fn error(text: &str) -> String {
        rules()
            .with_official(text, "official.toml")
            .unwrap_err()
            .to_string()
    }

    const TET_2027: &str = r#"# Tết Đinh Mùi 2027, as announced
[[schedule]]
year = 2027
holiday = "tet"
off = [{ from = 2027-02-05, to = 2027-02-14 }]
working = [2027-02-20]
note = "Nghỉ 10 ngày; làm bù thứ Bảy 20/02"
"#;

    #[test]
    fn an_official_schedule_replaces_the_computed_days() {
        let base = rules();
        let official = base.with_official(TET_2027, "official.toml").unwrap();
        let tet = |r: &CalendarRules| -> Vec<Date> {
            r.days_off(2027)
                .into_iter()
                .filter(|d| d.holiday_id == "tet")
                .map(|d| d.date)
                .collect()
        };
        // Computed: 05/02 to 09/02 and two compensatory days, 10/02 and 11/02.
        assert_eq!(tet(&base).len(), 7);
        let announced: Vec<Date> = (5..=14).map(|d| date(2027, 2, d)).collect();
        assert_eq!(tet(&official), announced);
        let days = official.days_off(2027);
        let day = |d: Date| days.iter().find(|x| x.date == d).unwrap();
        assert!(official.is_official(day(date(2027, 2, 12))));
        assert_eq!(day(date(2027, 2, 12)).kind, DayOffKind::Scheduled);
        assert_eq!(day(date(2027, 2, 6)).kind, DayOffKind::Statutory);
        assert!(official.is_official(day(date(2027, 2, 6))));
        assert!(!official.is_official(day(date(2027, 1, 1))));
        assert!(!base.is_official(&base.days_off(2027)[0]));
        // Friday 12/02 is now off and Saturday 20/02 worked.
        assert!(base.is_working_day(date(2027, 2, 12)));
        assert!(!official.is_working_day(date(2027, 2, 12)));
        assert!(official.is_working_day(date(2027, 2, 20)));
        assert_eq!(
            add_working_days(&base, date(2027, 2, 4), 1),
            date(2027, 2, 12)
        );
        assert_eq!(
            add_working_days(&official, date(2027, 2, 4), 1),
            date(2027, 2, 15)
        );
        assert_eq!(official.official_years(), [2027]);
        assert!(base.official_years().is_empty());
        let make_up = official.make_up_days(2027);
        assert_eq!(make_up.len(), 1);
        assert_eq!(
            (
                make_up[0].date,
                make_up[0].holiday_id.as_str(),
                make_up[0].official
            ),
            (date(2027, 2, 20), "tet", true)
        );
        // Other years keep the pack's data.
        assert_eq!(official.days_off(2026), base.days_off(2026));
    }

    #[test]
    fn a_year_in_the_file_replaces_every_pack_schedule_of_that_year() {
        // The pack announces Tết 2026 (14/02 to 22/02); an official 2026 file without Tết
        // leaves Tết computed (16/02 to 20/02, the five statutory days).
        let text = "[[schedule]]\nyear = 2026\nholiday = \"labour-day\"\n\
                    off = [{ from = 2026-05-01 }]\n";
        let official = rules().with_official(text, "official.toml").unwrap();
        let tet: Vec<Date> = official
            .days_off(2026)
            .into_iter()
            .filter(|d| d.holiday_id == "tet")
            .map(|d| d.date)
            .collect();
        assert_eq!(tet, (16..=20).map(|d| date(2026, 2, d)).collect::<Vec<_>>());
        assert_eq!(official.official_years(), [2026]);
    }

    #[test]
    fn several_years_in_one_file() {
        let text = format!(
            "{TET_2027}\n[[schedule]]\nyear = 2028\nholiday = \"national-day\"\n\
             off = [{{ from = 2028-09-01, to = 2028-09-04 }}]\n"
        );
        let parsed = rules().parse_official(&text, "official.toml").unwrap();
        assert_eq!(parsed.years(), [2027, 2028]);
        let r = parsed.rules();
        assert!(r.is_day_off(date(2028, 9, 4)));
        assert!(r.is_day_off(date(2027, 2, 14)));
        // Each year's part reads back to the same schedules.
        let mut again = rules();
        for year in parsed.years() {
            let part = parsed.toml_for_year(*year);
            assert!(part.contains(&format!("year = {year}")), "{part}");
            again = again.with_official(&part, "part.toml").unwrap();
        }
        assert_eq!(&again, r);
        assert!(parsed.toml_for_year(2029).is_empty());
    }

    #[test]
    fn the_canonical_text_keeps_runs_and_the_note() {
        let text = "[[schedule]]\nyear = 2027\nholiday = \"labour-day\"\n\
                    off = [{ from = 2027-05-03 }, { from = 2027-04-29, to = 2027-05-01 }]\n\
                    note = 'Văn bản \"số 1\"'\n";
        let parsed = rules().parse_official(text, "official.toml").unwrap();
        let part = parsed.toml_for_year(2027);
        assert!(
            part.contains("off = [{ from = 2027-04-29, to = 2027-05-01 }, { from = 2027-05-03, to = 2027-05-03 }]"),
            "{part}"
        );
        // The note is kept (quoted as TOML needs); reading the part back gives it again.
        assert!(part.contains(r#"Văn bản "số 1""#), "{part}");
        assert_eq!(
            rules().with_official(&part, "part.toml").unwrap(),
            *parsed.rules()
        );
    }

    #[test]
    fn the_holidays_a_schedule_may_name() {
        let names = rules().holiday_names();
        assert_eq!(names.len(), 7);
        assert_eq!(names[1].id, "tet");
        assert_eq!(names[1].name_vi, "Tết Nguyên Đán");
        let culture = names.iter().find(|h| h.id == "culture-day").unwrap();
        assert!(!culture.enabled);
        // A disabled holiday gets days off through an official schedule.
        let text =
            "[[schedule]]\nyear = 2027\nholiday = \"culture-day\"\noff = [{ from = 2027-11-24 }]\n";
        let r = rules().with_official(text, "official.toml").unwrap();
        assert!(r.is_day_off(date(2027, 11, 24)));
        assert!(!rules().is_day_off(date(2027, 11, 24)));
    }

    #[test]
    fn mistakes_are_located() {
        assert_eq!(
            error("[[schedule]]\nyear = 2027\nholiday = \"tết\"\noff = []\n"),
            "official.toml:3:11: schedule refers to unknown holiday \"tết\"; known holidays: \
             culture-day, hung-kings, labour-day, national-day, new-year, tet, victory-day"
        );
        let message =
            error("[[schedule]]\nyear = 2027\nholiday = \"tet\"\noff = [{ from = 2027-02-30 }]\n");
        assert!(
            message.starts_with("official.toml:4:17: ") && message.contains("invalid date"),
            "{message}"
        );
        assert!(
            error("[calendar]\nweekly_rest_days = []\n")
                .starts_with("official.toml:1:2: unknown field `calendar`, expected `schedule`")
        );
        assert!(error("# nothing\n").starts_with("official.toml:1:1: the file holds no"));
        let twice = format!("{TET_2027}{TET_2027}");
        assert!(
            error(&twice).contains("a second schedule for \"tet\" in 2027"),
            "{}",
            error(&twice)
        );
        assert_eq!(
            error("[[schedule]]\nyear = 2027\nholiday = \"tet\"\nworking = [2027-02-06]\n"),
            "official.toml:4:12: make-up working day 2027-02-06 is a day off of \"tet\": \
             remove it from that holiday's days first"
        );
        assert!(
            error("[[schedule]]\nyear = 2027\nholiday = \"tet\"\nworking = [2027-02-08]\n")
                .contains("is a Monday, already a working day")
        );
    }
}
