//! Ordered upload of the spool, with exponential backoff and full jitter.

use std::time::Duration;

use rand::Rng;

use super::client::{ClientError, ServerClient, Uploaded};
use super::spool::{Loaded, Spool, SpoolError};

/// The first retry delay bound.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// The longest retry delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Exponential backoff with full jitter: after the n-th consecutive failure, wait a random time
/// in `[0, min(max, base * 2^(n-1))]`.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(BACKOFF_BASE, BACKOFF_MAX)
    }
}

impl Backoff {
    /// A backoff between `base` and `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max,
            failures: 0,
        }
    }

    /// The upper bound of the next delay.
    pub fn ceiling(&self) -> Duration {
        let shift = self.failures.saturating_sub(1).min(30);
        self.base.saturating_mul(1u32 << shift).min(self.max)
    }

    /// Records a failure and returns how long to wait.
    pub fn fail(&mut self, rng: &mut impl Rng) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let ceiling = self.ceiling();
        let ms = rng.random_range(0..=ceiling.as_millis() as u64);
        Duration::from_millis(ms)
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Records a success.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// How an upload pass ended.
#[derive(Debug)]
pub enum Pass {
    /// The spool is empty.
    Drained,
    /// The server refused the credential (401): keep the spool, stop uploading.
    Revoked(ClientError),
    /// A transient failure (network, TLS, 5xx, garbage): retry after a backoff.
    Retry(ClientError),
}

/// Figures of one pass.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassCounts {
    /// Stored by the server (201).
    pub stored: u64,
    /// Already there (200 duplicate).
    pub duplicate: u64,
    /// Refused for good (moved to `rejected/`).
    pub rejected: u64,
    /// Damaged files moved to `corrupt/`.
    pub corrupt: u64,
}

/// Uploads the spool in id order until it is empty or a failure stops the pass. A report is
/// deleted only after 201 or 200 duplicate.
pub async fn upload_pass(
    spool: &std::sync::Mutex<Spool>,
    client: &ServerClient,
    counts: &mut PassCounts,
) -> Result<Pass, SpoolError> {
    let list = spool.lock().unwrap_or_else(|p| p.into_inner()).list()?;
    for entry in list {
        let loaded = {
            let mut s = spool.lock().unwrap_or_else(|p| p.into_inner());
            if !entry.path.exists() {
                continue;
            }
            s.load(&entry)?
        };
        let body = match loaded {
            Loaded::Report(body) => body,
            Loaded::Quarantined(why) => {
                tracing::warn!(report = %entry.id, reason = %why, "damaged spool file moved to corrupt/");
                counts.corrupt += 1;
                continue;
            }
        };
        match client.upload(body).await {
            Ok(outcome) => {
                spool
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .ack(&entry)?;
                match outcome {
                    Uploaded::Stored => counts.stored += 1,
                    Uploaded::Duplicate => counts.duplicate += 1,
                }
                tracing::debug!(report = %entry.id, ?outcome, "report acknowledged");
            }
            Err(e) if e.is_permanent_refusal() => {
                tracing::error!(report = %entry.id, error = %e, "server refused the report for good; moved to rejected/");
                spool
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .reject(&entry, &e.to_string())?;
                counts.rejected += 1;
            }
            Err(e @ ClientError::Revoked) => return Ok(Pass::Revoked(e)),
            Err(e) => return Ok(Pass::Retry(e)),
        }
    }
    Ok(Pass::Drained)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_backoff_bounds() {
        let mut rng = rand::rng();
        let mut b = Backoff::default();
        let mut ceilings = Vec::new();
        for _ in 0..15 {
            let d = b.fail(&mut rng);
            assert!(d <= b.ceiling(), "{d:?} > {:?}", b.ceiling());
            ceilings.push(b.ceiling().as_secs());
        }
        assert_eq!(&ceilings[..10], &[1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
        assert!(ceilings[10..].iter().all(|&c| c == 300));
        // Full jitter: delays spread over [0, ceiling], not pinned at the ceiling.
        let delays: Vec<Duration> = (0..200).map(|_| b.fail(&mut rng)).collect();
        assert!(delays.iter().all(|d| *d <= BACKOFF_MAX));
        assert!(delays.iter().any(|d| *d < Duration::from_secs(150)));
        assert!(delays.iter().any(|d| *d > Duration::from_secs(150)));
        b.reset();
        assert_eq!(b.failures(), 0);
        assert!(b.fail(&mut rng) <= Duration::from_secs(1));
    }
}
