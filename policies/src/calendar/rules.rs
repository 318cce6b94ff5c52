//! The holiday rules file (`calendar.toml` in a policy pack): its format, and its validation.
//!
//! Holidays change by law and each year's schedule is announced by the government, so they are
//! data an administrator edits, never tables in code. This module turns that TOML into
//! [`CalendarRules`], refusing anything doubtful (an unknown key or holiday kind, 31/2, a
//! duplicate id, a schedule for an unknown holiday) with the file, line and column of the
//! problem. What the rules mean for a given year is computed in [`super::holidays`].
//!
//! The format, in short (the bundled `packs/decree85/calendar.toml` is the full example):
//!
//! ```toml
//! [calendar]
//! weekly_rest_days = ["saturday", "sunday"]
//!
//! [[holiday]]
//! id = "tet"                 # stable id: lowercase letters, digits and '-'
//! kind = "lunar"             # "solar" (Gregorian month/day) or "lunar"
//! name_vi = "Tết Nguyên Đán"
//! name_en = "Lunar New Year"
//! month = 1
//! day = 1
//! start_offset = -1          # first day off relative to month/day (default 0)
//! days = 5                   # consecutive days off (default 1)
//! compensatory = true        # a day on a weekly rest day moves to the next working day
//!
//! [[schedule]]               # an announced schedule: it takes precedence for that year
//! year = 2026
//! holiday = "tet"
//! off = [{ from = 2026-02-14, to = 2026-02-22 }]
//! working = []               # make-up working days (weekly rest days that are worked)
//! ```

use std::collections::HashMap;
use std::ops::Range;

use jiff::civil::{Date, Weekday};
use serde::Deserialize;
use toml::Spanned;
use toml::value::Datetime;

use super::error::{CalendarError, Location};

/// Validated holiday rules: the weekly rest days, the statutory holidays and the announced
/// yearly schedules.
///
/// Load them with [`CalendarRules::from_toml_str`] or [`CalendarRules::decree85_default`];
/// ask them which days are off with [`CalendarRules::days_off`], [`CalendarRules::blocks`],
/// [`CalendarRules::is_working_day`] and the working-day arithmetic of this module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarRules {
    pub(super) rest_days: Vec<Weekday>,
    pub(super) holidays: Vec<Holiday>,
    pub(super) schedules: Vec<Schedule>,
}

/// How a holiday's date is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum HolidayKind {
    /// A Gregorian day and month.
    Solar,
    /// A lunar day and month (never a leap month).
    Lunar,
}

/// One validated holiday rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Holiday {
    pub(super) id: String,
    pub(super) kind: HolidayKind,
    pub(super) name_vi: String,
    pub(super) name_en: String,
    pub(super) month: u8,
    pub(super) day: u8,
    pub(super) start_offset: i32,
    pub(super) days: u8,
    /// One more day next to the holiday: before it when the holiday falls on one of these
    /// weekdays, otherwise after it.
    pub(super) adjacent_before_on: Option<Vec<Weekday>>,
    pub(super) compensatory: bool,
    pub(super) enabled: bool,
}

/// One validated yearly schedule: what was announced for one holiday in one year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Schedule {
    pub(super) year: i16,
    /// Index into [`CalendarRules::holidays`].
    pub(super) holiday: usize,
    /// The announced days off, replacing the computed ones (and their compensatory days).
    pub(super) off: Option<Vec<Date>>,
    /// Make-up working days: weekly rest days that are worked.
    pub(super) working: Vec<Date>,
    /// The administrator's note, as written.
    pub(super) note: Option<String>,
    /// Whether it comes from an official schedule applied over the pack's data
    /// ([`CalendarRules::with_official`]), not from the pack's own file.
    pub(super) official: bool,
}

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    calendar: RawCalendar,
    #[serde(default)]
    holiday: Vec<RawHoliday>,
    #[serde(default)]
    schedule: Vec<RawSchedule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    weekly_rest_days: Spanned<Vec<RawWeekday>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHoliday {
    id: Spanned<String>,
    kind: HolidayKind,
    name_vi: Spanned<String>,
    name_en: Spanned<String>,
    month: Spanned<i64>,
    day: Spanned<i64>,
    start_offset: Option<Spanned<i64>>,
    days: Option<Spanned<i64>>,
    adjacent_day: Option<RawAdjacentDay>,
    compensatory: Option<bool>,
    enabled: Option<bool>,
    #[allow(
        dead_code,
        reason = "free text for administrators, checked to be a string"
    )]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdjacentDay {
    before_on: Vec<RawWeekday>,
}

/// One `[[schedule]]` as written (also read by [`super::official`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    year: Spanned<i64>,
    pub(super) holiday: Spanned<String>,
    off: Option<Vec<RawRange>>,
    #[serde(default)]
    working: Vec<Spanned<Datetime>>,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRange {
    from: Spanned<Datetime>,
    to: Option<Spanned<Datetime>>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum RawWeekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl From<RawWeekday> for Weekday {
    fn from(day: RawWeekday) -> Weekday {
        match day {
            RawWeekday::Monday => Weekday::Monday,
            RawWeekday::Tuesday => Weekday::Tuesday,
            RawWeekday::Wednesday => Weekday::Wednesday,
            RawWeekday::Thursday => Weekday::Thursday,
            RawWeekday::Friday => Weekday::Friday,
            RawWeekday::Saturday => Weekday::Saturday,
            RawWeekday::Sunday => Weekday::Sunday,
        }
    }
}

/// Make-up working days with where the file names them, checked once the rules are whole.
pub(super) type WorkingSpans = Vec<(Date, Range<usize>)>;

/// The years a schedule may be given for: those the lunar calendar is accurate for.
const SCHEDULE_YEARS: std::ops::RangeInclusive<i64> = 1900..=2100;

/// The rules file bundled with the Decree 85 policy pack.
const DECREE85_TOML: &str = include_str!("../../packs/decree85/calendar.toml");

impl CalendarRules {
    /// Parses and validates a calendar rules file. `file_label` (usually its path) names the
    /// file in error messages, which also give the line and column of the problem.
    pub fn from_toml_str(text: &str, file_label: &str) -> Result<CalendarRules, CalendarError> {
        let raw: RawFile = toml::from_str(text).map_err(|error| CalendarError::Rules {
            location: Location::at(file_label, text, error.span().map(|span| span.start)),
            message: error.message().trim_end().to_owned(),
        })?;
        Validator { file_label, text }.rules(raw)
    }

    /// The rules bundled with the Decree 85 pack (`packs/decree85/calendar.toml`): the
    /// holidays of the Labor Code 2019 and the schedules announced so far.
    pub fn decree85_default() -> CalendarRules {
        static RULES: std::sync::OnceLock<CalendarRules> = std::sync::OnceLock::new();
        RULES
            .get_or_init(|| {
                CalendarRules::from_toml_str(DECREE85_TOML, "packs/decree85/calendar.toml")
                    .expect("the bundled calendar.toml is checked by the tests")
            })
            .clone()
    }

    /// Whether `weekday` is a weekly rest day (Saturday and Sunday in the bundled rules).
    pub fn is_weekly_rest_day(&self, weekday: Weekday) -> bool {
        self.rest_days.contains(&weekday)
    }
}

/// Checks a parsed file and builds the rules, locating each problem in the text.
pub(super) struct Validator<'a> {
    pub(super) file_label: &'a str,
    pub(super) text: &'a str,
}

impl Validator<'_> {
    pub(super) fn error(&self, span: Range<usize>, message: impl Into<String>) -> CalendarError {
        CalendarError::Rules {
            location: Location::at(self.file_label, self.text, Some(span.start)),
            message: message.into(),
        }
    }

    pub(super) fn line_of(&self, span: &Range<usize>) -> String {
        Location::at(self.file_label, self.text, Some(span.start))
            .line
            .map_or_else(String::new, |line| format!(" (line {line})"))
    }

    fn rules(&self, raw: RawFile) -> Result<CalendarRules, CalendarError> {
        let rest = &raw.calendar.weekly_rest_days;
        let mut rest_days: Vec<Weekday> = Vec::new();
        for &day in rest.get_ref() {
            let day = Weekday::from(day);
            if rest_days.contains(&day) {
                return Err(self.error(rest.span(), format!("{day:?} is listed twice")));
            }
            rest_days.push(day);
        }
        if rest_days.len() > 2 {
            return Err(self.error(
                rest.span(),
                "at most two weekly rest days: working days must remain",
            ));
        }

        let mut holidays = Vec::new();
        let mut ids: HashMap<String, (usize, Range<usize>)> = HashMap::new();
        for raw_holiday in raw.holiday {
            let holiday = self.holiday(&raw_holiday)?;
            let span = raw_holiday.id.span();
            if let Some((_, first)) = ids.get(&holiday.id) {
                return Err(self.error(
                    span,
                    format!(
                        "duplicate holiday id \"{}\": it is already used{}; ids must be unique",
                        holiday.id,
                        self.line_of(first)
                    ),
                ));
            }
            ids.insert(holiday.id.clone(), (holidays.len(), span));
            holidays.push(holiday);
        }

        let index_of: HashMap<&str, usize> = ids
            .iter()
            .map(|(id, (index, _))| (id.as_str(), *index))
            .collect();
        let (schedules, working_spans) = self.schedules(&raw.schedule, &index_of, &rest_days)?;
        let rules = CalendarRules {
            rest_days,
            holidays,
            schedules,
        };
        self.check_working_days(&rules, working_spans)?;
        Ok(rules)
    }

    fn holiday(&self, raw: &RawHoliday) -> Result<Holiday, CalendarError> {
        let id = raw.id.get_ref();
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(self.error(
                raw.id.span(),
                format!("holiday id \"{id}\" must be lowercase ASCII letters, digits and '-'"),
            ));
        }
        for name in [&raw.name_vi, &raw.name_en] {
            if name.get_ref().trim().is_empty() {
                return Err(self.error(name.span(), "holiday names must not be empty"));
            }
        }
        let month = *raw.month.get_ref();
        if !(1..=12).contains(&month) {
            return Err(self.error(
                raw.month.span(),
                format!("month {month} does not exist: months are 1 to 12"),
            ));
        }
        let day = *raw.day.get_ref();
        match raw.kind {
            HolidayKind::Solar => {
                // 2001 is not a leap year: a fixed holiday must exist every year.
                let length = Date::new(2001, month as i8, 1).map_or(31, |d| d.days_in_month());
                if !(1..=i64::from(length)).contains(&day) {
                    let february = if month == 2 && day == 29 {
                        " (29 February exists only in leap years, so it cannot be a yearly holiday)"
                    } else {
                        ""
                    };
                    return Err(self.error(
                        raw.day.span(),
                        format!(
                            "{day}/{month} is not a date: month {month} has {length} days{february}"
                        ),
                    ));
                }
            }
            HolidayKind::Lunar => {
                if day == 30 {
                    return Err(self.error(
                        raw.day.span(),
                        "lunar day 30 does not exist in 29-day months: use day = 1 of the next \
                         month with start_offset = -1 for \"the last day of the month\"",
                    ));
                }
                if !(1..=29).contains(&day) {
                    return Err(self.error(
                        raw.day.span(),
                        format!("lunar day {day} does not exist: lunar days are 1 to 29 (or 30)"),
                    ));
                }
            }
        }
        let days = raw.days.as_ref().map_or(Ok(1), |days| {
            let value = *days.get_ref();
            if (1..=30).contains(&value) {
                Ok(value as u8)
            } else {
                Err(self.error(days.span(), format!("days = {value}: must be 1 to 30")))
            }
        })?;
        let start_offset = raw.start_offset.as_ref().map_or(Ok(0), |offset| {
            let value = *offset.get_ref();
            if (-30..=30).contains(&value) {
                Ok(value as i32)
            } else {
                Err(self.error(
                    offset.span(),
                    format!("start_offset = {value}: must be -30 to 30 days"),
                ))
            }
        })?;
        Ok(Holiday {
            id: id.clone(),
            kind: raw.kind,
            name_vi: raw.name_vi.get_ref().trim().to_owned(),
            name_en: raw.name_en.get_ref().trim().to_owned(),
            month: month as u8,
            day: day as u8,
            start_offset,
            days,
            adjacent_before_on: raw
                .adjacent_day
                .as_ref()
                .map(|adjacent| adjacent.before_on.iter().map(|&d| d.into()).collect()),
            compensatory: raw.compensatory.unwrap_or(true),
            enabled: raw.enabled.unwrap_or(true),
        })
    }

    /// Validates `[[schedule]]` entries against the holidays `ids` (id to index): a schedule of
    /// an unknown holiday, or a second one of a holiday in one year, is refused. Returns the
    /// schedules and their make-up working days with their spans, for
    /// [`Validator::check_working_days`] once the rules are whole.
    pub(super) fn schedules(
        &self,
        raws: &[RawSchedule],
        ids: &HashMap<&str, usize>,
        rest_days: &[Weekday],
    ) -> Result<(Vec<Schedule>, WorkingSpans), CalendarError> {
        let mut schedules: Vec<Schedule> = Vec::new();
        let mut working_spans = Vec::new();
        let mut seen: HashMap<(i16, usize), Range<usize>> = HashMap::new();
        for raw_schedule in raws {
            let name = raw_schedule.holiday.get_ref();
            let Some(&index) = ids.get(name.as_str()) else {
                let mut known: Vec<&str> = ids.keys().copied().collect();
                known.sort_unstable();
                return Err(self.error(
                    raw_schedule.holiday.span(),
                    format!(
                        "schedule refers to unknown holiday \"{name}\"; known holidays: {}",
                        known.join(", ")
                    ),
                ));
            };
            let schedule = self.schedule(raw_schedule, index, rest_days, &mut working_spans)?;
            let key = (schedule.year, index);
            if let Some(first) = seen.get(&key) {
                return Err(self.error(
                    raw_schedule.holiday.span(),
                    format!(
                        "a second schedule for \"{name}\" in {}: merge it with the first{}",
                        schedule.year,
                        self.line_of(first)
                    ),
                ));
            }
            seen.insert(key, raw_schedule.holiday.span());
            schedules.push(schedule);
        }
        Ok((schedules, working_spans))
    }

    /// Refuses a make-up working day that is a day off of the finished `rules`.
    pub(super) fn check_working_days(
        &self,
        rules: &CalendarRules,
        working_spans: WorkingSpans,
    ) -> Result<(), CalendarError> {
        for (date, span) in working_spans {
            if let Some(day) = rules.days_off(date.year()).iter().find(|d| d.date == date) {
                return Err(self.error(
                    span,
                    format!(
                        "make-up working day {date} is a day off of \"{}\": remove it from \
                         that holiday's days first",
                        day.holiday_id
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Validates one schedule; the spans of its make-up working days are added to
    /// `working_spans` for the check against the computed days off.
    pub(super) fn schedule(
        &self,
        raw: &RawSchedule,
        holiday: usize,
        rest_days: &[Weekday],
        working_spans: &mut Vec<(Date, Range<usize>)>,
    ) -> Result<Schedule, CalendarError> {
        let year = *raw.year.get_ref();
        if !SCHEDULE_YEARS.contains(&year) {
            return Err(self.error(
                raw.year.span(),
                format!(
                    "year {year} is outside {}-{}",
                    SCHEDULE_YEARS.start(),
                    SCHEDULE_YEARS.end()
                ),
            ));
        }
        let year = year as i16;
        let near = |date: &Spanned<Datetime>| -> Result<Date, CalendarError> {
            let value = self.date(date)?;
            if (value.year() - year).abs() > 1 {
                return Err(self.error(
                    date.span(),
                    format!("{value} is too far from the schedule's year {year}"),
                ));
            }
            Ok(value)
        };
        let off = match &raw.off {
            None => None,
            Some(ranges) => {
                let mut days = Vec::new();
                for range in ranges {
                    let from = near(&range.from)?;
                    let to = range.to.as_ref().map_or(Ok(from), near)?;
                    if to < from {
                        let span = range.to.as_ref().map_or(range.from.span(), Spanned::span);
                        return Err(self.error(
                            span,
                            format!("the range ends ({to}) before it starts ({from})"),
                        ));
                    }
                    days.extend(
                        from.series(jiff::Span::new().days(1))
                            .take_while(|d| *d <= to),
                    );
                }
                days.sort();
                days.dedup();
                Some(days)
            }
        };
        let mut working = Vec::new();
        for date in &raw.working {
            let value = near(date)?;
            if !rest_days.contains(&value.weekday()) {
                return Err(self.error(
                    date.span(),
                    format!(
                        "make-up working day {value} is a {:?}, already a working day: list \
                         only weekly rest days that are worked",
                        value.weekday()
                    ),
                ));
            }
            if off.as_ref().is_some_and(|off| off.contains(&value)) {
                return Err(self.error(
                    date.span(),
                    format!("{value} is both a day off and a make-up working day"),
                ));
            }
            working.push(value);
            working_spans.push((value, date.span()));
        }
        Ok(Schedule {
            year,
            holiday,
            off,
            working,
            note: raw.note.as_ref().map(|n| n.trim().to_owned()),
            official: false,
        })
    }

    /// A TOML date without time or offset, as a civil date.
    fn date(&self, value: &Spanned<Datetime>) -> Result<Date, CalendarError> {
        let datetime = value.get_ref();
        match (datetime.date, datetime.time, datetime.offset) {
            (Some(date), None, None) => {
                Date::new(date.year as i16, date.month as i8, date.day as i8)
                    .map_err(|e| self.error(value.span(), format!("invalid date {datetime}: {e}")))
            }
            _ => Err(self.error(
                value.span(),
                format!("{datetime} is not a plain date: write it like 2026-02-14"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "[calendar]\nweekly_rest_days = [\"saturday\", \"sunday\"]\n";

    const HOLIDAY: &str = r#"
[[holiday]]
id = "new-year"
kind = "solar"
name_vi = "Tết Dương lịch"
name_en = "New Year's Day"
month = 1
day = 1
"#;

    /// The message of loading `text` (which must fail) as `broken.toml`.
    fn error(text: &str) -> String {
        CalendarRules::from_toml_str(text, "broken.toml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn the_bundled_rules_load() {
        let rules = CalendarRules::from_toml_str(DECREE85_TOML, "calendar.toml").unwrap();
        assert_eq!(rules.holidays.len(), 7);
        assert_eq!(rules.rest_days, [Weekday::Saturday, Weekday::Sunday]);
        let culture = rules
            .holidays
            .iter()
            .find(|h| h.id == "culture-day")
            .unwrap();
        assert!(
            !culture.enabled,
            "Culture Day's day-off status is unverified"
        );
        assert_eq!(CalendarRules::decree85_default(), rules);
    }

    #[test]
    fn a_minimal_file_loads() {
        let rules = CalendarRules::from_toml_str(&format!("{HEADER}{HOLIDAY}"), "ok.toml");
        assert_eq!(rules.map(|r| r.holidays.len()), Ok(1));
    }

    #[test]
    fn a_typo_in_a_key_names_file_line_and_key() {
        let text = format!("{HEADER}{}", HOLIDAY.replace("name_en", "name_eng"));
        let message = error(&text);
        assert!(
            message.starts_with("broken.toml:8:1: unknown field `name_eng`"),
            "{message}"
        );
    }

    #[test]
    fn an_impossible_solar_date_is_refused() {
        let text = format!(
            "{HEADER}{}",
            HOLIDAY.replace("month = 1\nday = 1", "month = 2\nday = 31")
        );
        assert_eq!(
            error(&text),
            "broken.toml:10:7: 31/2 is not a date: month 2 has 28 days"
        );
        let text = format!(
            "{HEADER}{}",
            HOLIDAY.replace("month = 1\nday = 1", "month = 2\nday = 29")
        );
        assert!(error(&text).ends_with(
            "(29 February exists only in leap years, so it cannot be a yearly holiday)"
        ));
        let text = format!("{HEADER}{}", HOLIDAY.replace("month = 1", "month = 13"));
        assert_eq!(
            error(&text),
            "broken.toml:9:9: month 13 does not exist: months are 1 to 12"
        );
    }

    #[test]
    fn an_impossible_schedule_date_is_refused_by_the_parser() {
        let text = format!(
            "{HEADER}{HOLIDAY}\n[[schedule]]\nyear = 2026\nholiday = \"new-year\"\noff = [{{ from = 2026-02-31 }}]\n"
        );
        let message = error(&text);
        assert!(message.starts_with("broken.toml:15:17: "), "{message}");
        assert!(message.contains("invalid date"), "{message}");
    }

    #[test]
    fn an_unknown_holiday_kind_is_refused() {
        let text = format!("{HEADER}{}", HOLIDAY.replace("\"solar\"", "\"lunisolar\""));
        assert_eq!(
            error(&text),
            "broken.toml:6:8: unknown variant `lunisolar`, expected `solar` or `lunar`"
        );
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let text = format!("{HEADER}{HOLIDAY}{HOLIDAY}");
        assert_eq!(
            error(&text),
            "broken.toml:13:6: duplicate holiday id \"new-year\": it is already used (line 5); \
             ids must be unique"
        );
    }

    #[test]
    fn a_schedule_for_an_unknown_holiday_is_refused() {
        let text =
            format!("{HEADER}{HOLIDAY}\n[[schedule]]\nyear = 2026\nholiday = \"tet\"\noff = []\n");
        assert_eq!(
            error(&text),
            "broken.toml:14:11: schedule refers to unknown holiday \"tet\"; known holidays: new-year"
        );
    }

    #[test]
    fn other_mistakes_are_explained() {
        let lunar30 = HOLIDAY
            .replace("\"solar\"", "\"lunar\"")
            .replace("day = 1\n", "day = 30\n");
        assert!(error(&format!("{HEADER}{lunar30}")).contains("lunar day 30 does not exist"));
        let schedule = |body: &str| {
            format!(
                "{HEADER}{HOLIDAY}\n[[schedule]]\nyear = 2026\nholiday = \"new-year\"\n{body}\n"
            )
        };
        assert_eq!(
            error(&schedule("working = [2026-01-02]")),
            "broken.toml:15:12: make-up working day 2026-01-02 is a Friday, already a working \
             day: list only weekly rest days that are worked"
        );
        assert!(
            error(&schedule("off = [{ from = 2026-01-02, to = 2026-01-01 }]"))
                .contains("ends (2026-01-01) before it starts")
        );
        assert!(
            error(&schedule("off = [{ from = 2026-01-01T08:00:00 }]")).contains("not a plain date")
        );
        assert!(error(&schedule("off = [{ from = 2029-01-01 }]")).contains("too far"));
        let twice = format!(
            "{}\n[[schedule]]\nyear = 2026\nholiday = \"new-year\"\n",
            schedule("")
        );
        assert!(error(&twice).contains("a second schedule for \"new-year\" in 2026"));
        assert!(
            error("[calendar]\nweekly_rest_days = [\"caturday\"]\n")
                .starts_with("broken.toml:2:21: unknown variant `caturday`")
        );
        assert!(error(HOLIDAY).contains("missing field `calendar`"));
    }
}
