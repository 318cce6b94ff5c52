//! The Vietnamese calendar: lunar dates, statutory holidays and working days.
//!
//! Deadlines in Decree 85 are counted in working days, and pre-holiday security letters are
//! timed before holiday blocks, so the policies need to know which days Vietnamese agencies
//! work. Everything here is pure: dates are passed in, the clock is never read, and the
//! holiday rules are data ([`CalendarRules`]), loaded from the policy pack.
//!
//! - [`to_lunar`], [`from_lunar`], [`leap_month`], [`month_length`], [`can_chi`]: the lunar
//!   calendar, computed astronomically for UTC+7.
//! - [`CalendarRules`]: holidays and yearly official schedules, and the days off they give;
//!   [`CalendarRules::with_official`] applies an administrator's official schedule file.
//! - [`add_working_days`], [`working_days_between`]: deadline arithmetic.

mod astro;
mod error;
mod holidays;
mod lunar;
mod official;
mod rules;
mod workdays;

pub use error::{CalendarError, Location};
pub use holidays::{DayOff, DayOffKind, HolidayBlock};
pub use lunar::{LunarDate, can_chi, from_lunar, leap_month, month_length, to_lunar};
pub use official::{HolidayName, MakeUpDay, OfficialSchedules};
pub use rules::CalendarRules;
pub use workdays::{add_working_days, working_days_between};
