//! When each target is due: last scan + interval + jitter, inside an optional nightly window
//! (Vietnam time, possibly wrapping midnight), with the server's "scan now" requests first.
//!
//! Pure functions: the time is always passed in.

use std::collections::{BTreeMap, HashSet};

use jiff::{SignedDuration, Timestamp, civil::Time, tz};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Vietnam's offset (Asia/Ho_Chi_Minh has been UTC+7 without DST since 1975).
pub const VIETNAM: tz::Offset = tz::offset(7);

/// A daily window, `HH:MM` local time; `end` before `start` wraps past midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Start, e.g. `"22:00"`.
    pub start: String,
    /// End (exclusive), e.g. `"05:00"`.
    pub end: String,
}

/// The scan schedule the server gives an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Schedule {
    /// Seconds between two scans of one target.
    pub interval_seconds: u64,
    /// At most this many seconds added at random to each interval.
    pub jitter_seconds: u64,
    /// Scans only inside this window (scan-now requests excepted).
    pub window: Option<Window>,
    /// Seconds between two check-ins.
    pub checkin_seconds: u64,
    /// Targets scanned at the same time.
    pub concurrency: usize,
    /// Connections open at the same time to one host.
    pub per_host: usize,
    /// Pause between connection starts to one host, in milliseconds.
    pub delay_ms: u64,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            interval_seconds: 21_600,
            jitter_seconds: 600,
            window: None,
            checkin_seconds: 60,
            concurrency: 8,
            per_host: 2,
            delay_ms: 0,
        }
    }
}

/// Parses `HH:MM`.
pub fn parse_hhmm(text: &str) -> Option<Time> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (i8, i8) = (h.parse().ok()?, m.parse().ok()?);
    Time::new(h, m, 0, 0).ok()
}

/// Whether `now` falls inside `window` (Vietnam time). A window that cannot be parsed, or
/// whose start equals its end, is open all day.
pub fn in_window(window: Option<&Window>, now: Timestamp) -> bool {
    let Some(w) = window else { return true };
    let (Some(start), Some(end)) = (parse_hhmm(&w.start), parse_hhmm(&w.end)) else {
        return true;
    };
    let t = VIETNAM.to_datetime(now).time();
    match start.cmp(&end) {
        std::cmp::Ordering::Equal => true,
        std::cmp::Ordering::Less => start <= t && t < end,
        std::cmp::Ordering::Greater => t >= start || t < end,
    }
}

/// A random jitter in `[0, jitter_seconds]`.
pub fn jitter(rng: &mut impl Rng, jitter_seconds: u64) -> SignedDuration {
    if jitter_seconds == 0 {
        return SignedDuration::ZERO;
    }
    let ms = rng.random_range(0..=jitter_seconds.saturating_mul(1000));
    SignedDuration::from_millis(ms as i64)
}

/// When a target scanned at `last` is next due (`None` never scanned: due at once).
pub fn next_due(
    last: Option<Timestamp>,
    interval_seconds: u64,
    jitter: SignedDuration,
) -> Option<Timestamp> {
    let last = last?;
    let interval = SignedDuration::from_secs(interval_seconds.min(i64::MAX as u64 / 2) as i64);
    Some(
        last.saturating_add(interval + jitter)
            .unwrap_or(Timestamp::MAX),
    )
}

/// The targets to scan at `now`, scan-now requests first (whatever the window), then every
/// other target whose due time has come, if `now` is in the window; earliest due first.
/// `due` holds each target's due time (`None` or missing: never scanned, due now).
pub fn due_targets(
    targets: &[String],
    due: &BTreeMap<String, Option<Timestamp>>,
    scan_now: &[String],
    window: Option<&Window>,
    now: Timestamp,
) -> Vec<String> {
    let assigned: HashSet<&str> = targets.iter().map(String::as_str).collect();
    let mut out: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for t in scan_now {
        if assigned.contains(t.as_str()) && seen.insert(t.clone()) {
            out.push(t.clone());
        }
    }
    if !in_window(window, now) {
        return out;
    }
    let mut rest: Vec<(Option<Timestamp>, &String)> = targets
        .iter()
        .filter(|t| !seen.contains(*t))
        .map(|t| (due.get(t).copied().flatten(), t))
        .filter(|(d, _)| d.is_none_or(|d| d <= now))
        .collect();
    rest.sort();
    for (_, t) in rest {
        if seen.insert(t.clone()) {
            out.push(t.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn window(s: &str, e: &str) -> Window {
        Window {
            start: s.into(),
            end: e.into(),
        }
    }

    #[test]
    fn daemon_schedule_jitter_stays_in_range() {
        let mut rng = rand::rng();
        let mut min = SignedDuration::MAX;
        let mut max = SignedDuration::ZERO;
        for _ in 0..2000 {
            let j = jitter(&mut rng, 600);
            assert!(j >= SignedDuration::ZERO && j <= SignedDuration::from_secs(600));
            min = min.min(j);
            max = max.max(j);
        }
        // Spread over the range, not a constant.
        assert!(min < SignedDuration::from_secs(60) && max > SignedDuration::from_secs(540));
        assert_eq!(jitter(&mut rng, 0), SignedDuration::ZERO);
        let last = at("2026-11-23T00:00:00Z");
        let due = next_due(Some(last), 3600, SignedDuration::from_secs(30)).unwrap();
        assert_eq!(due, at("2026-11-23T01:00:30Z"));
        assert_eq!(next_due(None, 3600, SignedDuration::ZERO), None);
    }

    #[test]
    fn daemon_schedule_windows_in_vietnam_time_including_wrap() {
        // 15:30Z is 22:30 in Hà Nội.
        let night = window("22:00", "05:00");
        assert!(in_window(Some(&night), at("2026-11-23T15:30:00Z")));
        assert!(in_window(Some(&night), at("2026-11-23T21:59:00Z"))); // 04:59
        assert!(!in_window(Some(&night), at("2026-11-23T22:00:00Z"))); // 05:00
        assert!(!in_window(Some(&night), at("2026-11-23T05:00:00Z"))); // 12:00
        assert!(in_window(Some(&night), at("2026-11-23T15:00:00Z"))); // 22:00
        assert!(!in_window(Some(&night), at("2026-11-23T14:59:00Z"))); // 21:59
        let day = window("08:00", "17:00");
        assert!(in_window(Some(&day), at("2026-11-23T01:00:00Z"))); // 08:00
        assert!(!in_window(Some(&day), at("2026-11-23T10:00:00Z"))); // 17:00
        assert!(!in_window(Some(&day), at("2026-11-23T00:59:00Z"))); // 07:59
        assert!(in_window(None, at("2026-11-23T05:00:00Z")));
        assert!(in_window(
            Some(&window("00:00", "00:00")),
            at("2026-11-23T05:00:00Z")
        ));
        assert!(in_window(
            Some(&window("x", "05:00")),
            at("2026-11-23T05:00:00Z")
        ));
    }

    #[test]
    fn daemon_schedule_due_targets_scan_now_first() {
        let targets: Vec<String> = ["a:443", "b:443", "c:443", "d:443"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let now = at("2026-11-23T05:00:00Z"); // 12:00 in Hà Nội
        let mut due = BTreeMap::new();
        due.insert("a:443".to_string(), Some(at("2026-11-23T06:00:00Z"))); // later
        due.insert("b:443".to_string(), Some(at("2026-11-23T04:00:00Z"))); // overdue
        due.insert("c:443".to_string(), Some(at("2026-11-23T03:00:00Z"))); // more overdue
        // d never scanned: due now, first of the rest.
        let got = due_targets(
            &targets,
            &due,
            &["a:443".into(), "zz:443".into()],
            None,
            now,
        );
        assert_eq!(got, vec!["a:443", "d:443", "c:443", "b:443"]);
        // Outside the window only scan-now requests run; unassigned ones never.
        let night = window("22:00", "05:00");
        let got = due_targets(
            &targets,
            &due,
            &["b:443".into(), "zz:443".into()],
            Some(&night),
            now,
        );
        assert_eq!(got, vec!["b:443"]);
        // Nothing due, nothing asked.
        let mut all_later = BTreeMap::new();
        for t in &targets {
            all_later.insert(t.clone(), Some(at("2026-11-24T00:00:00Z")));
        }
        assert!(due_targets(&targets, &all_later, &[], None, now).is_empty());
    }
}
