//! Politeness: a limit on simultaneous connections per host and an optional pause between them.
//!
//! Agency firewalls drop scanners that open bursts of handshakes (the chief complaint against
//! sslyze and Pulse), so every connection any probe opens goes through one [`HostGate`]. Speed
//! comes from scanning many hosts at once, never from hammering one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Limits connections per host key (the IP address connected to).
#[derive(Debug)]
pub struct HostGate {
    per_host: usize,
    delay: Duration,
    hosts: Mutex<HashMap<String, Arc<HostSlot>>>,
}

#[derive(Debug)]
struct HostSlot {
    semaphore: Arc<Semaphore>,
    next_start: tokio::sync::Mutex<Instant>,
}

/// Held while a connection is open; dropping it lets the next connection to the host start.
#[derive(Debug)]
pub struct HostPermit {
    _permit: OwnedSemaphorePermit,
}

impl HostGate {
    /// A gate allowing `per_host` simultaneous connections per host (at least 1), starting
    /// connections to the same host at least `delay` apart.
    pub fn new(per_host: usize, delay: Duration) -> Self {
        HostGate {
            per_host: per_host.max(1),
            delay,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// The configured connections per host.
    pub fn per_host(&self) -> usize {
        self.per_host
    }

    /// Waits until a connection to `host` may start.
    pub async fn enter(&self, host: &str) -> HostPermit {
        let slot = {
            let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
            hosts
                .entry(host.to_string())
                .or_insert_with(|| {
                    Arc::new(HostSlot {
                        semaphore: Arc::new(Semaphore::new(self.per_host)),
                        next_start: tokio::sync::Mutex::new(Instant::now()),
                    })
                })
                .clone()
        };
        let permit = slot
            .semaphore
            .clone()
            .acquire_owned()
            .await
            .expect("host semaphores are never closed");
        if !self.delay.is_zero() {
            let mut next = slot.next_start.lock().await;
            let now = Instant::now();
            if *next > now {
                tokio::time::sleep_until(*next).await;
            }
            *next = Instant::now() + self.delay;
        }
        HostPermit { _permit: permit }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn never_more_than_the_limit_at_once() {
        let gate = Arc::new(HostGate::new(2, Duration::ZERO));
        let active = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let (gate, active, peak) = (gate.clone(), active.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                let _p = gate.enter("10.0.0.1").await;
                let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
                active.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn delay_spaces_out_connection_starts() {
        let gate = HostGate::new(4, Duration::from_millis(100));
        let start = Instant::now();
        for _ in 0..4 {
            let _p = gate.enter("h").await;
        }
        assert!(start.elapsed() >= Duration::from_millis(300));
        // Another host is not slowed by the first.
        let other = Instant::now();
        let _p = gate.enter("other").await;
        assert!(other.elapsed() < Duration::from_millis(50));
    }
}
