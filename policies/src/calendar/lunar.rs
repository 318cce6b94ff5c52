//! Conversion between Gregorian dates and the Vietnamese lunisolar calendar (âm lịch).
//!
//! The rules, applied at UTC+7 (meridian 105°E): a month starts on the local day that contains
//! the true new moon; the month containing the winter solstice is month 11; when there are 13
//! months from one month 11 to the next, the first month after month 11 without a major solar
//! term (the sun's longitude crossing a multiple of 30°) is a leap month and repeats the number
//! of the month before it. The moments come from [`super::astro`]. Because the time zone is
//! Vietnam's, some years differ from Chinese (UTC+8) tables, e.g. Tết 1985 and 2007.
//!
//! Each lunar year is computed once, then cached for 1899-2101; other years are recomputed on
//! each call (correct in form, but ΔT and the ephemeris are only accurate for 1900-2100).

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::astro::{
    NEW_MOON_EPOCH, SYNODIC_MONTH, new_moon_jde, sun_apparent_longitude, tt_to_ut, ut_to_tt,
};
use super::error::CalendarError;

/// Vietnam's offset from universal time, in days (UTC+7).
const UTC_OFFSET_DAYS: f64 = 7.0 / 24.0;

/// The lunar years kept in the cache.
const CACHED_YEARS: std::ops::RangeInclusive<i32> = 1899..=2101;

/// A date in the Vietnamese lunar calendar.
///
/// `year` is the Gregorian year in which the lunar year begins (its Tết), so 1/1 of lunar year
/// 2026 is 17/02/2026. `leap` marks the leap month (tháng nhuận), which repeats the number of
/// the month before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LunarDate {
    /// The lunar year, numbered by the Gregorian year of its first day.
    pub year: i32,
    /// The month, 1 to 12.
    pub month: u8,
    /// The day, 1 to 30.
    pub day: u8,
    /// Whether the month is the year's leap month.
    pub leap: bool,
}

impl LunarDate {
    /// The can-chi name of the date's lunar year, e.g. "Bính Ngọ" for 2026.
    pub fn year_name(&self) -> String {
        can_chi(self.year)
    }
}

impl fmt::Display for LunarDate {
    /// Writes `day/month/year` as Vietnamese do, with " nhuận" after a leap month:
    /// `10/3/2026`, `1/3 nhuận/2031`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let leap = if self.leap { " nhuận" } else { "" };
        write!(f, "{}/{}{leap}/{}", self.day, self.month, self.year)
    }
}

/// The ten heavenly stems (can), in Vietnamese.
const STEMS: [&str; 10] = [
    "Giáp", "Ất", "Bính", "Đinh", "Mậu", "Kỷ", "Canh", "Tân", "Nhâm", "Quý",
];

/// The twelve earthly branches (chi), in Vietnamese (the fourth is the cat, Mão).
const BRANCHES: [&str; 12] = [
    "Tý", "Sửu", "Dần", "Mão", "Thìn", "Tỵ", "Ngọ", "Mùi", "Thân", "Dậu", "Tuất", "Hợi",
];

/// The can-chi (sexagenary) name of a lunar year in Vietnamese: 2024 is "Giáp Thìn", 2025
/// "Ất Tỵ", 2026 "Bính Ngọ". Year 4 (and so 1984, 2044) starts the cycle with "Giáp Tý".
pub fn can_chi(lunar_year: i32) -> String {
    let cycle = i64::from(lunar_year) - 4;
    let stem = STEMS[cycle.rem_euclid(10) as usize];
    let branch = BRANCHES[cycle.rem_euclid(12) as usize];
    format!("{stem} {branch}")
}

/// Converts a Gregorian date to the Vietnamese lunar calendar. Accurate for 1900-2100; other
/// dates get an answer of the same form from the same (less accurate) formulas.
pub fn to_lunar(date: Date) -> LunarDate {
    let day = day_number(date);
    let mut year = i32::from(date.year());
    let mut table = year_table(year);
    if day < table.months[0].start {
        year -= 1;
        table = year_table(year);
    }
    // Tết is never before 20 January, so a date of Gregorian year y is before Tết of y + 1.
    let month = table
        .months
        .iter()
        .rev()
        .find(|month| month.start <= day)
        .unwrap_or(&table.months[0]);
    LunarDate {
        year,
        month: month.number,
        day: (day - month.start + 1) as u8,
        leap: month.leap,
    }
}

/// Converts a lunar date to its Gregorian date.
///
/// Fails for a month outside 1-12, a leap month the year does not have, a day outside the
/// month (day 30 of a 29-day month), or a year outside jiff's range.
pub fn from_lunar(year: i32, month: u8, day: u8, leap: bool) -> Result<Date, CalendarError> {
    let length = month_length(year, month, leap)?;
    if day == 0 || day > length {
        return Err(CalendarError::NoSuchLunarDay {
            year,
            month,
            leap,
            day,
            length,
        });
    }
    let table = year_table(year);
    let start = table
        .find(month, leap)
        .map(|i| table.months[i].start)
        .unwrap_or_default();
    date_from_day_number(start + i64::from(day) - 1).ok_or(CalendarError::OutOfRange { year })
}

/// The leap month of a lunar year, if it has 13 months: `Some(4)` for 2020 (a leap 4th month
/// follows the 4th), `None` for 2026.
pub fn leap_month(lunar_year: i32) -> Option<u8> {
    if !(-9999..=9999).contains(&lunar_year) {
        return None;
    }
    year_table(lunar_year)
        .months
        .iter()
        .find(|month| month.leap)
        .map(|month| month.number)
}

/// The number of days, 29 or 30, of a lunar month.
///
/// Fails for a month outside 1-12, a leap month the year does not have, or a year outside
/// jiff's range.
pub fn month_length(lunar_year: i32, month: u8, leap: bool) -> Result<u8, CalendarError> {
    if !(1..=12).contains(&month) {
        return Err(CalendarError::InvalidLunarMonth { month });
    }
    if !(-9999..=9999).contains(&lunar_year) {
        return Err(CalendarError::OutOfRange { year: lunar_year });
    }
    let table = year_table(lunar_year);
    let Some(i) = table.find(month, leap) else {
        return Err(CalendarError::NoLeapMonth {
            year: lunar_year,
            month,
            actual: leap_month(lunar_year),
        });
    };
    let next = table.months.get(i + 1).map_or(table.end, |m| m.start);
    Ok((next - table.months[i].start) as u8)
}

/// One month of a lunar year: the day number of its first day and its label.
#[derive(Debug, Clone, Copy)]
struct Month {
    start: i64,
    number: u8,
    leap: bool,
}

/// The months of one lunar year, from month 1 (Tết) to month 12 or its leap month.
#[derive(Debug, Clone)]
struct LunarYear {
    months: Vec<Month>,
    /// The day number of the next year's Tết.
    end: i64,
}

impl LunarYear {
    /// The index of a month in `months`.
    fn find(&self, number: u8, leap: bool) -> Option<usize> {
        self.months
            .iter()
            .position(|m| m.number == number && m.leap == leap)
    }
}

/// The months of a lunar year, from the cache when the year is in it.
fn year_table(year: i32) -> Cow<'static, LunarYear> {
    static CACHE: OnceLock<Vec<LunarYear>> = OnceLock::new();
    if CACHED_YEARS.contains(&year) {
        let cache = CACHE.get_or_init(|| CACHED_YEARS.map(compute_year).collect());
        Cow::Borrowed(&cache[(year - CACHED_YEARS.start()) as usize])
    } else {
        Cow::Owned(compute_year(year))
    }
}

/// Computes the months of lunar year `year`: the end of the 11th-to-11th span that starts in
/// December of `year - 1`, and the beginning of the next one.
fn compute_year(year: i32) -> LunarYear {
    let eleven_before = month_eleven(year - 1);
    let eleven = month_eleven(year);
    let eleven_after = month_eleven(year + 1);
    let first = label_span(eleven_before, eleven);
    let second = label_span(eleven, eleven_after);
    let is_tet = |m: &Month| m.number == 1 && !m.leap;
    let tet = first.iter().position(is_tet).unwrap_or(first.len());
    let next_tet = second.iter().position(is_tet).unwrap_or(second.len());
    let end = second
        .get(next_tet)
        .map_or_else(|| new_moon_day(eleven_after), |m| m.start);
    let mut months = first[tet..].to_vec();
    months.extend_from_slice(&second[..next_tet]);
    LunarYear { months, end }
}

/// Labels the months from month 11 (new moon number `from`) up to, not including, the next
/// month 11 (new moon number `to`), placing the leap month if there are 13.
fn label_span(from: i64, to: i64) -> Vec<Month> {
    let starts: Vec<i64> = (from..=to).map(new_moon_day).collect();
    let leap_index = if to - from >= 13 {
        // The first month after month 11 whose start and end lie in the same 30° sector of
        // the sun's longitude contains no major solar term.
        let sector = |day: i64| (longitude_at_day_start(day) / 30.0).floor() as i64;
        let sectors: Vec<i64> = starts.iter().map(|&day| sector(day)).collect();
        let found = (1..sectors.len() - 1).find(|&i| sectors[i] == sectors[i + 1]);
        // Astronomy guarantees one; should rounding hide it, the last month is the leap one.
        Some(found.unwrap_or(sectors.len() - 2))
    } else {
        None
    };
    let mut months = Vec::with_capacity(starts.len() - 1);
    let mut number = 11u8;
    for (i, &start) in starts[..starts.len() - 1].iter().enumerate() {
        let leap = leap_index == Some(i);
        if i > 0 && !leap {
            number = number % 12 + 1;
        }
        months.push(Month {
            start,
            number,
            leap,
        });
    }
    months
}

/// The new moon number (see [`new_moon_jde`]) that starts month 11 of the lunar year ending in
/// Gregorian `year`: the month containing the December solstice (sun's longitude 270°).
fn month_eleven(year: i32) -> i64 {
    let december_31 = gregorian_day_number(i64::from(year), 12, 31);
    // The month containing 31 December.
    let jd = december_31 as f64;
    let mut k = ((jd - NEW_MOON_EPOCH) / SYNODIC_MONTH).floor() as i64;
    while new_moon_day(k + 1) <= december_31 {
        k += 1;
    }
    while new_moon_day(k) > december_31 {
        k -= 1;
    }
    // The solstice (21-22 December) falls in it unless the sun has passed 270° when it starts;
    // then it falls in the month before.
    if longitude_at_day_start(new_moon_day(k)) >= 270.0 {
        k - 1
    } else {
        k
    }
}

/// The day number (Julian day number) of the local day, at UTC+7, containing new moon `k`.
fn new_moon_day(k: i64) -> i64 {
    let jd_ut = tt_to_ut(new_moon_jde(k));
    (jd_ut + 0.5 + UTC_OFFSET_DAYS).floor() as i64
}

/// The sun's apparent longitude at the start (local midnight, UTC+7) of day number `day`.
fn longitude_at_day_start(day: i64) -> f64 {
    let jd_ut = day as f64 - 0.5 - UTC_OFFSET_DAYS;
    sun_apparent_longitude(ut_to_tt(jd_ut))
}

/// The Julian day number of a Gregorian date (proleptic; any year).
fn gregorian_day_number(year: i64, month: i64, day: i64) -> i64 {
    let a = (14 - month).div_euclid(12);
    let y = year + 4800 - a;
    let m = month + 12 * a - 3;
    day + (153 * m + 2).div_euclid(5) + 365 * y + y.div_euclid(4) - y.div_euclid(100)
        + y.div_euclid(400)
        - 32045
}

/// The Julian day number of a civil date.
pub(crate) fn day_number(date: Date) -> i64 {
    gregorian_day_number(
        i64::from(date.year()),
        i64::from(date.month()),
        i64::from(date.day()),
    )
}

/// The civil date of a Julian day number, if jiff can represent it.
pub(crate) fn date_from_day_number(jdn: i64) -> Option<Date> {
    let a = jdn + 32044;
    let b = (4 * a + 3).div_euclid(146_097);
    let c = a - (146_097 * b).div_euclid(4);
    let d = (4 * c + 3).div_euclid(1461);
    let e = c - (1461 * d).div_euclid(4);
    let m = (5 * e + 2).div_euclid(153);
    let day = e - (153 * m + 2).div_euclid(5) + 1;
    let month = m + 3 - 12 * m.div_euclid(10);
    let year = 100 * b + d - 4800 + m.div_euclid(10);
    Date::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;
    use proptest::prelude::*;

    use super::*;

    fn lunar(year: i32, month: u8, day: u8, leap: bool) -> LunarDate {
        LunarDate {
            year,
            month,
            day,
            leap,
        }
    }

    /// The vectors of docs/domain.md: Tết, Giỗ Tổ (10/3) and the leap month, 2020-2035.
    #[test]
    fn domain_vectors_2020_to_2035() {
        let vectors: [(i32, Date, Date, Option<u8>); 16] = [
            (2020, date(2020, 1, 25), date(2020, 4, 2), Some(4)),
            (2021, date(2021, 2, 12), date(2021, 4, 21), None),
            (2022, date(2022, 2, 1), date(2022, 4, 10), None),
            (2023, date(2023, 1, 22), date(2023, 4, 29), Some(2)),
            (2024, date(2024, 2, 10), date(2024, 4, 18), None),
            (2025, date(2025, 1, 29), date(2025, 4, 7), Some(6)),
            (2026, date(2026, 2, 17), date(2026, 4, 26), None),
            (2027, date(2027, 2, 6), date(2027, 4, 16), None),
            (2028, date(2028, 1, 26), date(2028, 4, 4), Some(5)),
            (2029, date(2029, 2, 13), date(2029, 4, 23), None),
            (2030, date(2030, 2, 2), date(2030, 4, 12), None),
            (2031, date(2031, 1, 23), date(2031, 4, 1), Some(3)),
            (2032, date(2032, 2, 11), date(2032, 4, 19), None),
            (2033, date(2033, 1, 31), date(2033, 4, 9), Some(11)),
            (2034, date(2034, 2, 19), date(2034, 4, 28), None),
            (2035, date(2035, 2, 8), date(2035, 4, 17), None),
        ];
        for (year, tet, gio_to, leap) in vectors {
            assert_eq!(from_lunar(year, 1, 1, false), Ok(tet), "Tết {year}");
            assert_eq!(to_lunar(tet), lunar(year, 1, 1, false));
            assert_eq!(from_lunar(year, 3, 10, false), Ok(gio_to), "Giỗ Tổ {year}");
            assert_eq!(to_lunar(gio_to), lunar(year, 3, 10, false));
            assert_eq!(leap_month(year), leap, "leap month of {year}");
        }
    }

    /// Years where Vietnam (UTC+7) and China (UTC+8) differ.
    #[test]
    fn vietnam_differs_from_china() {
        assert_eq!(from_lunar(1985, 1, 1, false), Ok(date(1985, 1, 21)));
        assert_eq!(from_lunar(2007, 1, 1, false), Ok(date(2007, 2, 17)));
        assert_eq!(from_lunar(2030, 1, 1, false), Ok(date(2030, 2, 2)));
        // 1/1 lunar 1968 (North Vietnam's first Tết at UTC+7) was 29/01/1968.
        assert_eq!(from_lunar(1968, 1, 1, false), Ok(date(1968, 1, 29)));
    }

    /// The leap 3rd month of 2031 starts with a new moon at about 23:57 local time on
    /// 21/04/2031, a few minutes before midnight: that day is 1/3 nhuận, the day before is the
    /// 29th and last day of the ordinary 3rd month.
    #[test]
    fn new_moon_just_before_midnight_2031() {
        assert_eq!(to_lunar(date(2031, 4, 21)), lunar(2031, 3, 1, true));
        assert_eq!(to_lunar(date(2031, 4, 20)), lunar(2031, 3, 29, false));
        assert_eq!(from_lunar(2031, 3, 1, true), Ok(date(2031, 4, 21)));
        assert_eq!(month_length(2031, 3, false), Ok(29));
        assert_eq!(leap_month(2031), Some(3));
    }

    /// Close calls checked against the JPL DE421 ephemeris: a new moon 2 s before local
    /// midnight (7/7/1967), and an equinox 1 minute before a month starts (24/9/1938), which
    /// makes 1938's leap month the 8th at UTC+7 (the 7th in China).
    #[test]
    fn close_calls_match_a_precise_ephemeris() {
        assert_eq!(to_lunar(date(1967, 7, 7)), lunar(1967, 6, 1, false));
        assert_eq!(leap_month(1938), Some(8));
        assert_eq!(from_lunar(1938, 8, 1, true), Ok(date(1938, 9, 24)));
    }

    #[test]
    fn leap_eleventh_month_of_2033_belongs_to_2033() {
        assert_eq!(from_lunar(2033, 11, 1, true), Ok(date(2033, 12, 22)));
        assert_eq!(to_lunar(date(2034, 1, 19)), lunar(2033, 11, 29, true));
        assert_eq!(to_lunar(date(2034, 1, 20)), lunar(2033, 12, 1, false));
    }

    #[test]
    fn impossible_dates_are_errors() {
        assert_eq!(
            from_lunar(2026, 5, 1, true),
            Err(CalendarError::NoLeapMonth {
                year: 2026,
                month: 5,
                actual: None
            })
        );
        assert_eq!(
            from_lunar(2025, 5, 1, true),
            Err(CalendarError::NoLeapMonth {
                year: 2025,
                month: 5,
                actual: Some(6)
            })
        );
        assert_eq!(month_length(2031, 3, false), Ok(29));
        assert_eq!(
            from_lunar(2031, 3, 30, false),
            Err(CalendarError::NoSuchLunarDay {
                year: 2031,
                month: 3,
                leap: false,
                day: 30,
                length: 29
            })
        );
        assert!(from_lunar(2026, 1, 0, false).is_err());
        assert_eq!(
            from_lunar(2026, 13, 1, false),
            Err(CalendarError::InvalidLunarMonth { month: 13 })
        );
        assert_eq!(
            from_lunar(20_000, 1, 1, false),
            Err(CalendarError::OutOfRange { year: 20_000 })
        );
        let message = from_lunar(2025, 5, 1, true).unwrap_err().to_string();
        assert_eq!(
            message,
            "lunar year 2025 has no leap month 5 (its leap month is 6)"
        );
    }

    #[test]
    fn can_chi_names() {
        assert_eq!(can_chi(2024), "Giáp Thìn");
        assert_eq!(can_chi(2025), "Ất Tỵ");
        assert_eq!(can_chi(2026), "Bính Ngọ");
        assert_eq!(can_chi(1984), "Giáp Tý");
        assert_eq!(can_chi(1900), "Canh Tý");
        assert_eq!(can_chi(2100), "Canh Thân");
        assert_eq!(to_lunar(date(2026, 2, 16)).year_name(), "Ất Tỵ");
        assert_eq!(lunar(2031, 3, 1, true).to_string(), "1/3 nhuận/2031");
    }

    /// Every lunar year 1900-2100 has 12 or 13 months of 29 or 30 days, numbered 1 to 12 in
    /// order, with at most one leap month that repeats the month before it.
    #[test]
    fn every_year_is_well_formed() {
        for year in 1900..=2100 {
            let table = year_table(year);
            let count = table.months.len();
            assert!(count == 12 || count == 13, "{year}: {count} months");
            assert_eq!(count == 13, leap_month(year).is_some(), "{year}");
            let mut expected = 1;
            for (i, month) in table.months.iter().enumerate() {
                let next = table.months.get(i + 1).map_or(table.end, |m| m.start);
                assert!((29..=30).contains(&(next - month.start)), "{year}/{i}");
                if month.leap {
                    assert_eq!(month.number, expected - 1, "{year}");
                } else {
                    assert_eq!(month.number, expected, "{year}");
                    expected += 1;
                }
            }
            assert_eq!(table.end, year_table(year + 1).months[0].start);
        }
    }

    /// Every day of 1900-01-31 (Tết 1900) to 2100-12-31 converts to a lunar date and back.
    #[test]
    fn round_trip_every_day_1900_to_2100() {
        let first = day_number(date(1900, 1, 31));
        let last = day_number(date(2100, 12, 31));
        let mut previous = to_lunar(date(1900, 1, 30));
        for day in first..=last {
            let gregorian = date_from_day_number(day).unwrap();
            let l = to_lunar(gregorian);
            assert_eq!(
                from_lunar(l.year, l.month, l.day, l.leap),
                Ok(gregorian),
                "{gregorian} -> {l}"
            );
            // Consecutive days are consecutive lunar days.
            if l.day != 1 {
                assert_eq!(
                    (l.year, l.month, l.leap, l.day - 1),
                    (previous.year, previous.month, previous.leap, previous.day)
                );
            }
            previous = l;
        }
    }

    #[test]
    fn day_numbers_match_jiff() {
        assert_eq!(day_number(date(2000, 1, 1)), 2_451_545);
        for (y, m, d) in [
            (-9999, 1, 1),
            (1582, 10, 15),
            (1900, 2, 28),
            (2000, 2, 29),
            (9999, 12, 31),
        ] {
            let original = date(y, m, d);
            assert_eq!(date_from_day_number(day_number(original)), Some(original));
            assert_eq!(
                day_number(original.tomorrow().unwrap_or(original)) - day_number(original),
                i64::from(original != date(9999, 12, 31))
            );
        }
        assert_eq!(date_from_day_number(i64::MAX / 1000), None);
    }

    proptest! {
        #[test]
        fn converts_and_round_trips_in_range(offset in 0i64..73_414) {
            let gregorian = date_from_day_number(day_number(date(1900, 1, 1)) + offset).unwrap();
            let l = to_lunar(gregorian);
            prop_assert!((1..=12).contains(&l.month) && (1..=30).contains(&l.day));
            prop_assert_eq!(from_lunar(l.year, l.month, l.day, l.leap), Ok(gregorian));
        }

        #[test]
        fn never_panics(year in -9999i16..=9999, month in 1i8..=12, day in 1i8..=28,
                        l_year in any::<i32>(), l_month in any::<u8>(), l_day in any::<u8>(), leap in any::<bool>()) {
            let l = to_lunar(date(year, month, day));
            prop_assert!((1..=12).contains(&l.month) && (1..=30).contains(&l.day));
            let _ = from_lunar(l_year, l_month, l_day, leap);
            let _ = leap_month(l_year);
            let _ = can_chi(l_year);
        }
    }
}
