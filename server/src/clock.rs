//! The server's "now", with a test override.
//!
//! Everything that depends on the date at read time (waiver expiry, evidence freshness, report
//! retention) reads [`now`]. In debug builds only, the environment variable
//! `CANHGAC_FAKE_NOW` (an RFC 3339 instant, e.g. `2027-01-15T03:00:00Z`) moves the clock of the
//! whole process to that instant at start, from where it runs on at the real pace, so end-to-end
//! tests can start the real binary "later" and see waivers expire, evidence go stale and alert
//! retries come due. Release builds ignore the variable entirely.

use std::sync::OnceLock;

use jiff::Timestamp;

/// The environment variable read by debug builds.
pub const FAKE_NOW_VAR: &str = "CANHGAC_FAKE_NOW";

fn fake() -> Option<Timestamp> {
    static FAKE: OnceLock<Option<(Timestamp, std::time::Instant)>> = OnceLock::new();
    let (start, since) = (*FAKE.get_or_init(|| {
        if !cfg!(debug_assertions) {
            return None;
        }
        let text = std::env::var(FAKE_NOW_VAR).ok()?;
        match text.parse::<Timestamp>() {
            Ok(at) => {
                tracing::warn!(now = %at, "{FAKE_NOW_VAR} is set: this debug build's clock starts there");
                Some((at, std::time::Instant::now()))
            }
            Err(e) => {
                tracing::warn!(value = %text, error = %e, "{FAKE_NOW_VAR} is not an RFC 3339 instant; ignored");
                None
            }
        }
    }))?;
    let elapsed = jiff::SignedDuration::try_from(since.elapsed()).unwrap_or_default();
    Some(start.saturating_add(elapsed).unwrap_or(start))
}

/// The current instant (from `CANHGAC_FAKE_NOW` on, in a debug build that sets it).
pub fn now() -> Timestamp {
    fake().unwrap_or_else(Timestamp::now)
}

/// Today in Vietnam (UTC+7), the day waivers and deadlines are counted in.
pub fn today_vn(at: Timestamp) -> jiff::civil::Date {
    at.to_zoned_datetime(jiff::tz::TimeZone::fixed(jiff::tz::offset(7)))
        .date()
}
