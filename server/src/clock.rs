//! The server's "now", with a test override.
//!
//! Everything that depends on the date at read time (waiver expiry, evidence freshness, report
//! retention) reads [`now`]. In debug builds only, the environment variable
//! `CANHGAC_FAKE_NOW` (an RFC 3339 instant, e.g. `2027-01-15T03:00:00Z`) replaces the real
//! clock for the whole process, so end-to-end tests can start the real binary "later" and see
//! waivers expire and evidence go stale. Release builds ignore the variable entirely.

use std::sync::OnceLock;

use jiff::Timestamp;

/// The environment variable read by debug builds.
pub const FAKE_NOW_VAR: &str = "CANHGAC_FAKE_NOW";

fn fake() -> Option<Timestamp> {
    static FAKE: OnceLock<Option<Timestamp>> = OnceLock::new();
    *FAKE.get_or_init(|| {
        if !cfg!(debug_assertions) {
            return None;
        }
        let text = std::env::var(FAKE_NOW_VAR).ok()?;
        match text.parse::<Timestamp>() {
            Ok(at) => {
                tracing::warn!(now = %at, "{FAKE_NOW_VAR} is set: this debug build's clock is fixed");
                Some(at)
            }
            Err(e) => {
                tracing::warn!(value = %text, error = %e, "{FAKE_NOW_VAR} is not an RFC 3339 instant; ignored");
                None
            }
        }
    })
}

/// The current instant (the fixed `CANHGAC_FAKE_NOW` in a debug build that sets it).
pub fn now() -> Timestamp {
    fake().unwrap_or_else(Timestamp::now)
}

/// Today in Vietnam (UTC+7), the day waivers and deadlines are counted in.
pub fn today_vn(at: Timestamp) -> jiff::civil::Date {
    at.to_zoned_datetime(jiff::tz::TimeZone::fixed(jiff::tz::offset(7)))
        .date()
}
