//! The one error type of the calendar, so callers match on what went wrong, not on strings.
//!
//! Lunar conversions fail only for dates that do not exist (a leap month the year lacks, day 30
//! of a 29-day month); loading calendar rules fails with the file, line and column of the
//! offending TOML and a message that says what to change.

pub use crate::source::Location;

/// What went wrong in a calendar computation or while loading calendar rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CalendarError {
    /// A lunar month number outside 1-12.
    #[error("lunar month {month} does not exist: months are numbered 1 to 12")]
    InvalidLunarMonth {
        /// The month asked for.
        month: u8,
    },
    /// A leap month that the lunar year does not have.
    #[error("lunar year {year} has no leap month {month}{}", leap_hint(*.actual))]
    NoLeapMonth {
        /// The lunar year.
        year: i32,
        /// The month asked for.
        month: u8,
        /// The year's actual leap month, if it has one.
        actual: Option<u8>,
    },
    /// A day outside the lunar month (day 0, or day 30 of a 29-day month).
    #[error("lunar month {month}{} of {year} has {length} days: day {day} does not exist", if *.leap { " (leap)" } else { "" })]
    NoSuchLunarDay {
        /// The lunar year.
        year: i32,
        /// The month.
        month: u8,
        /// Whether the month is the leap month.
        leap: bool,
        /// The day asked for.
        day: u8,
        /// The month's length, 29 or 30.
        length: u8,
    },
    /// A date outside the range of `jiff::civil::Date` (years -9999 to 9999).
    #[error("lunar year {year} falls outside the representable dates (years -9999 to 9999)")]
    OutOfRange {
        /// The lunar year.
        year: i32,
    },
    /// A calendar rules file that does not parse or does not validate.
    #[error("{location}: {message}")]
    Rules {
        /// Where the problem is.
        location: Location,
        /// What is wrong and, where possible, what to write instead.
        message: String,
    },
}

/// The end of a [`CalendarError::NoLeapMonth`] message.
fn leap_hint(actual: Option<u8>) -> String {
    match actual {
        Some(month) => format!(" (its leap month is {month})"),
        None => " (it has no leap month)".to_owned(),
    }
}
