//! A year's calendar as people read it, and the official holiday schedules an administrator
//! enters on the server.
//!
//! `canhgac-server calendar YEAR` lists every day off with its date (dd/mm/yyyy), its name and,
//! for lunar holidays, its lunar date ("17/02/2026 Mùng 1 Tết Bính Ngọ (1/1 âm lịch)"); then the
//! holiday blocks (the runs of days agencies are closed, weekends included: when the holiday
//! alerts are due), the make-up working days and the year's working-day count. The dates come
//! from the policy pack's calendar (`canhgac_policies::calendar`: lunar dates are computed,
//! statutory and announced days from the pack's data); this module names and formats them, as
//! text and as JSON.
//!
//! Each year the government announces the civil servants' schedule. An administrator enters it
//! ([`import`], through `PUT /api/v1/calendar/official`, the `/lich` page or `canhgac-server
//! calendar import FILE`) as a TOML file of `[[schedule]]` entries (the syntax of the pack's
//! `calendar.toml`). It is stored per year in [`Table::Calendars`] and takes precedence over the
//! pack's data for that year: [`effective_pack`] is the pack the server runs with (deadlines,
//! weekly figures, the calendar command, alerts).

use std::collections::BTreeSet;

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use serde::{Deserialize, Serialize};

use canhgac_policies::calendar::{
    CalendarError, CalendarRules, DayOff, DayOffKind, HolidayBlock, MakeUpDay,
};
use canhgac_policies::pack::Pack;

use crate::repo;
use crate::store::{Batch, Store, StoreError, Table};

/// One year's calendar.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct YearCalendar {
    /// The Gregorian year.
    pub year: i16,
    /// Every day off, in date order.
    pub days_off: Vec<NamedDayOff>,
    /// The holiday blocks that start in the year, in date order.
    pub blocks: Vec<HolidayBlock>,
    /// Weekly rest days that agencies work (yearly schedules' make-up days), in date order.
    pub make_up_days: Vec<MakeUpDay>,
    /// Working days in the year (weekdays that are not days off, plus make-up working days).
    pub working_days: u32,
    /// The official schedule an administrator stored for the year, if any.
    pub official: Option<OfficialRecord>,
}

/// A day off with the label a person reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NamedDayOff {
    /// The day off as the calendar gives it.
    #[serde(flatten)]
    pub day: DayOff,
    /// "Mùng 1 Tết Bính Ngọ (1/1 âm lịch)", "Quốc khánh (nghỉ bù)".
    pub label_vi: String,
    /// Whether the day comes from an official schedule entered on the server.
    pub official: bool,
}

/// The calendar of `year` under `rules` (with no stored record: see [`year_in_store`]).
pub fn year(rules: &CalendarRules, year: i16) -> YearCalendar {
    let days_off = rules
        .days_off(year)
        .into_iter()
        .map(|day| NamedDayOff {
            label_vi: label_vi(&day),
            official: rules.is_official(&day),
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
        make_up_days: rules.make_up_days(year),
        working_days: rules.working_days_in_year(year),
        official: None,
    }
}

/// The calendar of `year` under `rules` (the effective ones), with the year's stored official
/// record.
pub fn year_in_store(
    store: &dyn Store,
    rules: &CalendarRules,
    year_number: i16,
) -> Result<YearCalendar, StoreError> {
    let mut c = year(rules, year_number);
    c.official = repo::get(store, Table::Calendars, &key(year_number))?;
    Ok(c)
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

/// `dd/mm/yyyy`.
pub fn dmy(d: Date) -> String {
    format!("{:02}/{:02}/{:04}", d.day(), d.month(), d.year())
}

/// The Vietnamese name of a weekday ("Thứ Bảy", "Chủ nhật").
pub fn weekday_vi(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "Thứ Hai",
        Weekday::Tuesday => "Thứ Ba",
        Weekday::Wednesday => "Thứ Tư",
        Weekday::Thursday => "Thứ Năm",
        Weekday::Friday => "Thứ Sáu",
        Weekday::Saturday => "Thứ Bảy",
        Weekday::Sunday => "Chủ nhật",
    }
}

/// What marks a day from an official schedule in the text.
pub const OFFICIAL_MARK: &str = "[lịch chính thức]";

/// The text of `canhgac-server calendar YEAR`: one day off a line (those of an official
/// schedule marked [`OFFICIAL_MARK`]), then the blocks, the make-up working days, the official
/// record, and last the working-day count.
pub fn text_vi(c: &YearCalendar) -> String {
    let mark = |official: bool| {
        if official {
            format!(" {OFFICIAL_MARK}")
        } else {
            String::new()
        }
    };
    let mut out = String::new();
    out.push_str(&format!("Ngày nghỉ năm {}:\n", c.year));
    for d in &c.days_off {
        out.push_str(&format!(
            "{} {}{}\n",
            dmy(d.day.date),
            d.label_vi,
            mark(d.official)
        ));
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
    if !c.make_up_days.is_empty() {
        out.push_str(&format!("\nNgày làm bù năm {}:\n", c.year));
        for m in &c.make_up_days {
            out.push_str(&format!(
                "{} {}, làm bù cho {}{}\n",
                dmy(m.date),
                weekday_vi(m.date.weekday()),
                m.name_vi,
                mark(m.official)
            ));
        }
    }
    if let Some(r) = &c.official {
        out.push_str(&format!(
            "\nLịch chính thức năm {} do {} nhập lúc {} (ưu tiên hơn dữ liệu của bộ chính sách).\n",
            c.year, r.imported_by, r.imported_at
        ));
    }
    out.push_str(&format!(
        "\nSố ngày làm việc năm {}: {}\n",
        c.year, c.working_days
    ));
    out
}

/// The official schedule of one year, as stored ([`Table::Calendars`], keyed by the year).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficialRecord {
    /// The Gregorian year.
    pub year: i16,
    /// The year's `[[schedule]]` entries, as an official schedule file (canonical form:
    /// `CalendarRules::with_official` reads it).
    pub toml: String,
    /// The administrator's login (`cli` from the command line).
    pub imported_by: String,
    /// When it was stored.
    pub imported_at: Timestamp,
}

/// Why an official schedule was not stored, removed or applied.
#[derive(Debug, thiserror::Error)]
pub enum OfficialError {
    /// The file does not parse or does not validate against the pack (file, line, column).
    #[error(transparent)]
    Invalid(CalendarError),
    /// No official schedule is stored for the year.
    #[error("no official schedule is stored for {0}")]
    NotFound(i16),
    /// A stored schedule no longer applies to the pack (a holiday it names was removed, say).
    #[error(
        "the official schedule stored for {year} no longer applies to the policy pack: {source}; remove it (canhgac-server calendar remove {year}) and import it again"
    )]
    Stale {
        /// The year.
        year: i16,
        /// What is wrong.
        source: CalendarError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl OfficialError {
    /// The line and column of an [`OfficialError::Invalid`] file's problem.
    pub fn position(&self) -> Option<(Option<usize>, Option<usize>)> {
        match self {
            OfficialError::Invalid(CalendarError::Rules { location, .. }) => {
                Some((location.line, location.column))
            }
            _ => None,
        }
    }
}

/// What an import or a removal changed in one year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearChange {
    /// The Gregorian year.
    pub year: i16,
    /// Whether an official schedule was stored for the year before.
    pub had_official: bool,
    /// Whether one is stored after.
    pub has_official: bool,
    /// The days off before (dates, in order).
    pub days_off_before: Vec<Date>,
    /// The days off after.
    pub days_off_after: Vec<Date>,
    /// Days off after that were not before.
    pub added: Vec<Date>,
    /// Days off before that are not after.
    pub removed: Vec<Date>,
    /// Make-up working days after that were not before.
    pub make_up_added: Vec<Date>,
    /// Make-up working days before that are not after.
    pub make_up_removed: Vec<Date>,
    /// Working days in the year before.
    pub working_days_before: u32,
    /// Working days in the year after.
    pub working_days_after: u32,
}

impl YearChange {
    fn between(
        year: i16,
        before: &CalendarRules,
        after: &CalendarRules,
        had_official: bool,
        has_official: bool,
    ) -> YearChange {
        let days = |r: &CalendarRules| -> BTreeSet<Date> {
            r.days_off(year).into_iter().map(|d| d.date).collect()
        };
        let make_up = |r: &CalendarRules| -> BTreeSet<Date> {
            r.make_up_days(year).into_iter().map(|d| d.date).collect()
        };
        let (b, a) = (days(before), days(after));
        let (mb, ma) = (make_up(before), make_up(after));
        YearChange {
            year,
            had_official,
            has_official,
            added: a.difference(&b).copied().collect(),
            removed: b.difference(&a).copied().collect(),
            make_up_added: ma.difference(&mb).copied().collect(),
            make_up_removed: mb.difference(&ma).copied().collect(),
            days_off_before: b.into_iter().collect(),
            days_off_after: a.into_iter().collect(),
            working_days_before: before.working_days_in_year(year),
            working_days_after: after.working_days_in_year(year),
        }
    }

    /// A few lines for people: the counts before and after, and the days that changed.
    pub fn text_vi(&self) -> String {
        let list = |days: &[Date]| days.iter().map(|d| dmy(*d)).collect::<Vec<_>>().join(", ");
        let mut out = format!(
            "Năm {}: {} ngày nghỉ trước, {} ngày nghỉ sau; {} ngày làm việc trước, {} sau / {} days off before, {} after; {} working days before, {} after\n",
            self.year,
            self.days_off_before.len(),
            self.days_off_after.len(),
            self.working_days_before,
            self.working_days_after,
            self.days_off_before.len(),
            self.days_off_after.len(),
            self.working_days_before,
            self.working_days_after,
        );
        for (label, days) in [
            ("  thêm ngày nghỉ / days off added", &self.added),
            ("  bỏ ngày nghỉ / days off removed", &self.removed),
            (
                "  thêm ngày làm bù / make-up days added",
                &self.make_up_added,
            ),
            (
                "  bỏ ngày làm bù / make-up days removed",
                &self.make_up_removed,
            ),
        ] {
            if !days.is_empty() {
                out.push_str(&format!("{label}: {}\n", list(days)));
            }
        }
        out
    }
}

/// The store key of a year.
fn key(year: i16) -> String {
    format!("{year:04}")
}

/// Every stored official schedule, by year.
pub fn list(store: &dyn Store) -> Result<Vec<OfficialRecord>, StoreError> {
    repo::list(store, Table::Calendars, "", usize::MAX)
}

/// `rules` with `records` applied, in year order.
fn apply_records(
    rules: &CalendarRules,
    records: &[OfficialRecord],
) -> Result<CalendarRules, OfficialError> {
    let mut rules = rules.clone();
    for r in records {
        let label = format!("official schedule {} (stored)", r.year);
        let parsed =
            rules
                .parse_official(&r.toml, &label)
                .map_err(|source| OfficialError::Stale {
                    year: r.year,
                    source,
                })?;
        if parsed.years() != [r.year] {
            return Err(OfficialError::Store(StoreError::Corrupt(format!(
                "calendars {}: the stored schedule is for {:?}",
                r.year,
                parsed.years()
            ))));
        }
        rules = parsed.into_rules();
    }
    Ok(rules)
}

/// `rules` with those of `records` that apply (a removal must work even when a stored
/// schedule no longer does).
fn apply_what_applies(rules: &CalendarRules, records: &[OfficialRecord]) -> CalendarRules {
    let mut rules = rules.clone();
    for r in records {
        if let Ok(next) = apply_records(&rules, std::slice::from_ref(r)) {
            rules = next;
        }
    }
    rules
}

/// The pack the server runs with: `base` with every stored official schedule applied (a
/// stored year replaces the base pack's schedules of that year).
pub fn effective_pack(store: &dyn Store, base: &Pack) -> Result<Pack, OfficialError> {
    let records = list(store)?;
    let mut pack = base.clone();
    pack.calendar = apply_records(&base.calendar, &records)?;
    Ok(pack)
}

/// Checks an official schedule file (`label` names it in errors) against `base` and the other
/// stored years, and stores each year it gives (replacing what was stored for those years), in
/// one batch. Returns what changed in each year, in year order.
pub fn import(
    store: &dyn Store,
    base: &Pack,
    text: &str,
    label: &str,
    by: &str,
    now: Timestamp,
) -> Result<Vec<YearChange>, OfficialError> {
    // Catch what makes no sense as an official schedule before touching the store.
    let years = base
        .calendar
        .parse_official(text, label)
        .map_err(OfficialError::Invalid)?
        .years()
        .to_vec();
    let records = list(store)?;
    let before = apply_records(&base.calendar, &records)?;
    let others: Vec<OfficialRecord> = records
        .iter()
        .filter(|r| !years.contains(&r.year))
        .cloned()
        .collect();
    let parsed = apply_records(&base.calendar, &others)?
        .parse_official(text, label)
        .map_err(OfficialError::Invalid)?;
    let mut batch = Batch::new();
    let mut changes = Vec::new();
    for &year in parsed.years() {
        let stored = records.iter().find(|r| r.year == year);
        let record = OfficialRecord {
            year,
            toml: parsed.toml_for_year(year),
            imported_by: by.to_string(),
            imported_at: now,
        };
        // Nobody changed the year in between (else: a conflict, nothing written).
        batch = match stored {
            Some(s) => batch.if_equals(Table::Calendars, key(year), repo::json(s)),
            None => batch.if_absent(Table::Calendars, key(year)),
        };
        batch = batch.put(Table::Calendars, key(year), repo::json(&record));
        changes.push(YearChange::between(
            year,
            &before,
            parsed.rules(),
            stored.is_some(),
            true,
        ));
    }
    store.apply(batch)?;
    Ok(changes)
}

/// Removes the official schedule stored for `year`: the base pack's data applies again (also
/// when the stored schedule no longer applies to the pack). Returns what changed in the year.
pub fn remove(store: &dyn Store, base: &Pack, year: i16) -> Result<YearChange, OfficialError> {
    let records = list(store)?;
    let Some(stored) = records.iter().find(|r| r.year == year) else {
        return Err(OfficialError::NotFound(year));
    };
    let before = apply_what_applies(&base.calendar, &records);
    let others: Vec<OfficialRecord> = records.iter().filter(|r| r.year != year).cloned().collect();
    let after = apply_what_applies(&base.calendar, &others);
    store.apply(
        Batch::new()
            .if_equals(Table::Calendars, key(year), repo::json(stored))
            .delete(Table::Calendars, key(year)),
    )?;
    Ok(YearChange::between(year, &before, &after, true, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

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
        // Nothing is official without a stored schedule.
        assert!(!text.contains(OFFICIAL_MARK), "{text}");
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
        assert_eq!(json["days_off"][0]["official"], false);
        assert!(json["working_days"].is_u64());
        assert!(json["official"].is_null());
    }

    /// Tết 2027 announced as ten days (05/02 to 14/02) with Saturday 20/02 worked.
    const TET_2027: &str = "[[schedule]]\nyear = 2027\nholiday = \"tet\"\n\
        off = [{ from = 2027-02-05, to = 2027-02-14 }]\nworking = [2027-02-20]\n\
        note = \"Công văn VPCP\"\n";

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn an_import_is_stored_per_year_and_takes_precedence() {
        let store = MemoryStore::new();
        let base = Pack::decree85();
        let text = format!(
            "{TET_2027}\n[[schedule]]\nyear = 2028\nholiday = \"labour-day\"\n\
             off = [{{ from = 2028-04-29, to = 2028-05-02 }}]\n"
        );
        let changes = import(
            &store,
            &base,
            &text,
            "tet.toml",
            "admin",
            at("2026-11-02T03:00:00Z"),
        )
        .unwrap();
        assert_eq!(changes.len(), 2);
        let c2027 = &changes[0];
        assert_eq!((c2027.year, c2027.had_official), (2027, false));
        assert_eq!(
            c2027.added,
            [
                jiff::civil::date(2027, 2, 12),
                jiff::civil::date(2027, 2, 13),
                jiff::civil::date(2027, 2, 14)
            ]
        );
        assert_eq!(c2027.make_up_added, [jiff::civil::date(2027, 2, 20)]);
        // Friday 12/02 off, Saturday 20/02 worked: the same number of working days.
        assert_eq!(c2027.working_days_after, c2027.working_days_before);
        assert!(
            c2027
                .text_vi()
                .contains("12/02/2027, 13/02/2027, 14/02/2027")
        );

        let stored = list(&store).unwrap();
        assert_eq!(
            stored.iter().map(|r| r.year).collect::<Vec<_>>(),
            [2027, 2028]
        );
        assert!(!stored[0].toml.contains("2028"), "{}", stored[0].toml);
        assert!(stored[0].toml.contains("Công văn VPCP"));
        assert_eq!(stored[0].imported_by, "admin");

        let pack = effective_pack(&store, &base).unwrap();
        assert!(pack.calendar.is_day_off(jiff::civil::date(2027, 2, 12)));
        assert!(pack.calendar.is_working_day(jiff::civil::date(2027, 2, 20)));
        assert!(pack.calendar.is_day_off(jiff::civil::date(2028, 5, 2)));
        // The pack's own Tết 2026 schedule is untouched.
        assert_eq!(pack.calendar.days_off(2026), base.calendar.days_off(2026));

        let c = year_in_store(&store, &pack.calendar, 2027).unwrap();
        let friday = c
            .days_off
            .iter()
            .find(|d| d.day.date == jiff::civil::date(2027, 2, 12))
            .unwrap();
        assert!(friday.official);
        assert!(!c.days_off[0].official, "1/1 stays the pack's");
        assert_eq!(c.official.as_ref().map(|r| r.year), Some(2027));
        let text = text_vi(&c);
        assert!(
            text.contains(&format!(
                "12/02/2027 Mùng 7 Tết Đinh Mùi (7/1 âm lịch), nghỉ theo lịch công bố {OFFICIAL_MARK}"
            )),
            "{text}"
        );
        assert!(
            text.contains("20/02/2027 Thứ Bảy, làm bù cho Tết Nguyên Đán [lịch chính thức]"),
            "{text}"
        );
        assert!(
            text.contains("Lịch chính thức năm 2027 do admin nhập lúc"),
            "{text}"
        );
        assert!(text.ends_with(&format!("Số ngày làm việc năm 2027: {}\n", c.working_days)));
    }

    #[test]
    fn a_new_import_of_a_year_replaces_it_and_a_removal_restores_the_pack() {
        let store = MemoryStore::new();
        let base = Pack::decree85();
        import(
            &store,
            &base,
            TET_2027,
            "a.toml",
            "admin",
            at("2026-11-02T03:00:00Z"),
        )
        .unwrap();
        let shorter = TET_2027
            .replace("2027-02-14", "2027-02-12")
            .replace("working = [2027-02-20]", "working = []");
        let changes = import(
            &store,
            &base,
            &shorter,
            "b.toml",
            "admin2",
            at("2026-11-03T03:00:00Z"),
        )
        .unwrap();
        assert!(changes[0].had_official);
        assert_eq!(
            changes[0].removed,
            [
                jiff::civil::date(2027, 2, 13),
                jiff::civil::date(2027, 2, 14)
            ]
        );
        assert_eq!(changes[0].make_up_removed, [jiff::civil::date(2027, 2, 20)]);
        let stored = list(&store).unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].imported_by, "admin2");

        let change = remove(&store, &base, 2027).unwrap();
        assert!(change.had_official && !change.has_official);
        // Computed again: 05/02 to 11/02 (two compensatory days), so Friday 12/02 is worked.
        assert_eq!(change.removed, [jiff::civil::date(2027, 2, 12)]);
        assert!(change.added.is_empty());
        assert!(list(&store).unwrap().is_empty());
        assert_eq!(
            effective_pack(&store, &base).unwrap().calendar,
            base.calendar
        );
        assert!(matches!(
            remove(&store, &base, 2027),
            Err(OfficialError::NotFound(2027))
        ));
    }

    #[test]
    fn a_bad_file_stores_nothing_and_says_where() {
        let store = MemoryStore::new();
        let base = Pack::decree85();
        let bad = format!(
            "{TET_2027}\n[[schedule]]\nyear = 2028\nholiday = \"tet\"\noff = [{{ from = 2028-01-25, to = 2028-01-21 }}]\n"
        );
        let e = import(
            &store,
            &base,
            &bad,
            "bad.toml",
            "admin",
            at("2026-11-02T03:00:00Z"),
        )
        .unwrap_err();
        assert_eq!(e.position(), Some((Some(11), Some(34))), "{e}");
        assert!(e.to_string().starts_with("bad.toml:11:34: "), "{e}");
        assert!(list(&store).unwrap().is_empty());
        let e = import(
            &store,
            &base,
            "[[schedule]]\nyear = 2027\nholiday = \"x\"\n",
            "x.toml",
            "a",
            at("2026-11-02T03:00:00Z"),
        )
        .unwrap_err();
        assert!(matches!(e, OfficialError::Invalid(_)), "{e}");
        assert!(e.to_string().contains("unknown holiday \"x\""), "{e}");
    }

    #[test]
    fn a_stored_schedule_the_pack_no_longer_accepts_is_reported() {
        let store = MemoryStore::new();
        let record = OfficialRecord {
            year: 2027,
            toml: "[[schedule]]\nyear = 2027\nholiday = \"retired-day\"\noff = []\n".into(),
            imported_by: "admin".into(),
            imported_at: at("2026-11-02T03:00:00Z"),
        };
        store
            .apply(Batch::new().put(Table::Calendars, key(2027), repo::json(&record)))
            .unwrap();
        let e = effective_pack(&store, &Pack::decree85()).unwrap_err();
        assert!(matches!(e, OfficialError::Stale { year: 2027, .. }), "{e}");
        assert!(e.to_string().contains("calendar remove 2027"), "{e}");
        // The way out works.
        let change = remove(&store, &Pack::decree85(), 2027).unwrap();
        assert!(change.added.is_empty() && change.removed.is_empty());
        assert!(effective_pack(&store, &Pack::decree85()).is_ok());
    }
}
