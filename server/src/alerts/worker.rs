//! The alert loop: every `tick`, plan (queue what is due) then deliver (send what waits).
//!
//! Planning reads the read index, waivers, agents and the current pack in a blocking task and
//! queues drafts through the outbox, whose keys make every plan idempotent: a restart, a second
//! process or the next tick queue nothing twice. Delivery claims each due message (one process
//! wins the compare-and-set), sends it, and records the outcome.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::mailer::Mailer;
use super::outbox::{self, State};
use super::settings::{AlertSettings, MailSettings};
use super::{Evidence, dossier, events, facts, holiday, weekly};
use crate::index::Index;
use crate::packs::PackCell;
use crate::repo;
use crate::store::{Store, StoreError};

/// Messages delivered per tick at most (the rest wait for the next tick).
const DELIVER_PER_TICK: usize = 200;
/// Transient failures in a row that end a delivery pass.
const TRANSIENT_BREAK: u32 = 3;

/// Counters, for logs and metrics.
#[derive(Debug, Default)]
pub struct AlertStats {
    /// Messages queued.
    pub queued: AtomicU64,
    /// Messages the relay accepted.
    pub sent: AtomicU64,
    /// Attempts that failed and will be retried.
    pub retried: AtomicU64,
    /// Messages failed for good.
    pub failed: AtomicU64,
}

/// What the loop needs.
#[derive(Clone)]
pub struct AlertLoop {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The read index.
    pub index: Arc<Index>,
    /// The policy pack in force.
    pub pack: Arc<PackCell>,
    /// What to send when.
    pub settings: Arc<AlertSettings>,
    /// The relay.
    pub mailer: Mailer,
    /// The lease of one send.
    pub lease: Duration,
    /// Counters.
    pub stats: Arc<AlertStats>,
}

/// The process's name in send leases: host and pid.
fn owner() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".into());
    format!("{host}:{}", std::process::id())
}

/// Where the first pass of event detection is recorded (table `alerts`).
const EVENTS_STARTED_KEY: &str = "event-baseline/started";

/// The marker of a holiday reminder whose letters were queued.
fn planned_key(reminder: &holiday::Reminder) -> String {
    format!("planned/holiday/{}/{}", reminder.block.start, reminder.id)
}

/// Runs one planning step; its failure is logged and does not stop the others (a broken weekly
/// workbook must not hold back the holiday letters).
fn step<T>(name: &str, result: Result<T, StoreError>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(step = name, error = %e, "alerts: planning step failed");
            None
        }
    }
}

/// The events of the first pass ever are the state of things when mail was switched on: they
/// are recorded, not sent (the holiday letters and the dashboard cover what already is), so
/// that switching mail on does not flood every mailbox. Later passes send what is new.
fn first_pass_baseline(
    store: &dyn Store,
    found: Vec<events::Event>,
) -> Result<Vec<events::Event>, StoreError> {
    use crate::store::{Batch, Table};
    let started = store
        .get(Table::Alerts, EVENTS_STARTED_KEY.as_bytes())?
        .is_some();
    if !started {
        let mut batch = Batch::new().put(Table::Alerts, EVENTS_STARTED_KEY, b"1".to_vec());
        for e in &found {
            batch = batch.put(
                Table::Alerts,
                format!("event-baseline/{}", e.key),
                b"1".to_vec(),
            );
        }
        store.apply(batch)?;
        if !found.is_empty() {
            tracing::info!(
                events = found.len(),
                "alerts: first pass: the events already present are recorded, not sent"
            );
        }
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(found.len());
    for e in found {
        let key = format!("event-baseline/{}", e.key);
        if store.get(Table::Alerts, key.as_bytes())?.is_none() {
            out.push(e);
        }
    }
    Ok(out)
}

/// Queues everything due at `now`: holiday letters, events, dossier notifications, the weekly
/// report. Each step stands alone: one failing is logged and the others go on. Returns how
/// many messages were newly queued.
pub fn plan(
    store: &dyn Store,
    index: &Index,
    pack: &canhgac_policies::pack::Pack,
    settings: &AlertSettings,
    now: Timestamp,
) -> Result<usize, StoreError> {
    use crate::store::{Batch, Table};
    let waivers = facts::waivers_by_system(store)?;
    let agents = crate::agents::list_agents(store)?;
    let mut queued = 0;
    let mut holiday_batches = Vec::new();
    let mut other = Vec::new();
    {
        let data = index.read(store)?;
        let evidence = Evidence {
            data: &data,
            waivers: &waivers,
            agents: &agents,
            pack,
        };
        for reminder in holiday::due_at(&pack.calendar, now, settings) {
            // A reminder's letters are written once; later ticks of the day skip it.
            if store
                .get(Table::Alerts, planned_key(&reminder).as_bytes())?
                .is_some()
            {
                continue;
            }
            if let Some(batch) = step(
                "holiday letters",
                super::holiday_batch(store, &evidence, settings, &reminder, None, now),
            ) {
                holiday_batches.push((reminder, batch.drafts));
            }
        }
        let found = step(
            "event detection",
            events::detect(store, &data, pack, &agents, settings, now)
                .and_then(|found| first_pass_baseline(store, found)),
        );
        if let Some(found) = found {
            if settings.digest {
                other.extend(
                    step(
                        "event digest",
                        events::digest(store, &found, &data, settings, now),
                    )
                    .unwrap_or_default(),
                );
            } else {
                other.extend(events::drafts(&found, &data, settings, now));
            }
        }
        other.extend(
            step(
                "dossier notices",
                dossier::drafts(store, &data, settings, now),
            )
            .unwrap_or_default(),
        );
    }
    for (reminder, drafts) in holiday_batches {
        if let Some(n) = step("queue holiday letters", outbox::enqueue(store, drafts, now)) {
            queued += n;
            step(
                "mark holiday letters",
                store.apply(Batch::new().put(
                    Table::Alerts,
                    planned_key(&reminder),
                    repo::json(&now),
                )),
            );
        }
    }
    if let Some(week_end) = weekly::due(settings, now) {
        // Built while any leader's message of the week is missing (the outbox keeps the
        // others from going twice).
        let missing = settings.leadership.iter().any(|to| {
            outbox::get(store, &format!("weekly/{week_end}/{to}"))
                .ok()
                .flatten()
                .is_none()
        });
        if missing {
            other.extend(
                step(
                    "weekly report",
                    weekly::drafts(store, index, pack, settings, week_end),
                )
                .unwrap_or_default(),
            );
        }
    }
    queued += outbox::enqueue(store, other, now)?;
    dossier::advance(store, now)?;
    Ok(queued)
}

impl AlertLoop {
    /// Runs until the task is aborted.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let owner = owner();
            tracing::info!(owner = %owner, tick_s = self.settings.tick.as_secs(), "alerts: loop started");
            loop {
                if let Err(e) = self.once(&owner).await {
                    tracing::warn!(error = %e, "alerts: pass failed");
                }
                tokio::time::sleep(self.settings.tick).await;
            }
        })
    }

    /// One pass: plan, then deliver what is due (delivery runs even when planning failed:
    /// messages already queued still go).
    pub async fn once(&self, owner: &str) -> Result<(), StoreError> {
        let now = crate::clock::now();
        let (store, index, pack, settings) = (
            self.store.clone(),
            self.index.clone(),
            self.pack.get(),
            self.settings.clone(),
        );
        let planned = tokio::task::spawn_blocking(move || {
            plan(store.as_ref(), &index, &pack, &settings, now)
        })
        .await
        .map_err(|e| StoreError::Io(format!("alerts planning task: {e}")))
        .and_then(|r| r);
        match planned {
            Ok(0) => {}
            Ok(queued) => {
                self.stats
                    .queued
                    .fetch_add(queued as u64, Ordering::Relaxed);
                tracing::info!(queued, "alerts: messages queued");
            }
            Err(e) => tracing::warn!(error = %e, "alerts: planning failed"),
        }
        self.deliver(owner).await
    }

    /// Sends the due messages, one at a time (the relay's pool keeps the connection).
    pub async fn deliver(&self, owner: &str) -> Result<(), StoreError> {
        let lease = SignedDuration::try_from(self.lease).unwrap_or(SignedDuration::from_mins(5));
        let first_delay =
            SignedDuration::try_from(self.settings.retry_after).unwrap_or(SignedDuration::MIN);
        let keys = {
            let store = self.store.clone();
            let now = crate::clock::now();
            tokio::task::spawn_blocking(move || outbox::due(store.as_ref(), now, DELIVER_PER_TICK))
                .await
                .map_err(|e| StoreError::Io(e.to_string()))??
        };
        // After a few transient failures in a row the relay is down or refusing: the rest wait
        // for the next pass instead of spending their attempts now.
        let mut transient_in_a_row = 0;
        for key in keys {
            if transient_in_a_row >= TRANSIENT_BREAK {
                tracing::warn!(
                    failures = transient_in_a_row,
                    "alerts: the relay keeps refusing; the rest wait for the next pass"
                );
                break;
            }
            let store = self.store.clone();
            let owner_name = owner.to_owned();
            let now = crate::clock::now();
            let claimed = tokio::task::spawn_blocking(move || {
                outbox::claim(store.as_ref(), &key, &owner_name, lease, now)
            })
            .await
            .map_err(|e| StoreError::Io(e.to_string()))??;
            let Some(record) = claimed else { continue };
            let outcome = self.mailer.send(&record).await;
            if matches!(outcome, outbox::Outcome::Transient(_)) {
                transient_in_a_row += 1;
            } else {
                transient_in_a_row = 0;
            }
            let store = self.store.clone();
            let max = self.settings.max_attempts;
            let now = crate::clock::now();
            let finished = tokio::task::spawn_blocking(move || {
                outbox::finish(store.as_ref(), &record, outcome, max, first_delay, now)
            })
            .await
            .map_err(|e| StoreError::Io(e.to_string()))??;
            match &finished.state {
                State::Sent { .. } => {
                    self.stats.sent.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(key = %finished.draft.key, to = %finished.draft.to, "alerts: sent");
                }
                State::Failed { .. } => {
                    self.stats.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(key = %finished.draft.key, to = %finished.draft.to, error = ?finished.last_error, "alerts: failed for good");
                }
                _ => {
                    self.stats.retried.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(key = %finished.draft.key, attempts = finished.attempts, next = %finished.next_attempt_at, error = ?finished.last_error, "alerts: will retry");
                }
            }
        }
        Ok(())
    }
}

/// Builds the loop from the settings, or `None` when no `[mail]` section is configured.
pub fn from_settings(
    mail: Option<&MailSettings>,
    alerts: &AlertSettings,
    store: Arc<dyn Store>,
    index: Arc<Index>,
    pack: Arc<PackCell>,
    stats: Arc<AlertStats>,
) -> Result<Option<AlertLoop>, super::mailer::MailerError> {
    let Some(mail) = mail else {
        return Ok(None);
    };
    Ok(Some(AlertLoop {
        store,
        index,
        pack,
        settings: Arc::new(alerts.clone()),
        mailer: Mailer::new(mail)?,
        lease: super::mailer::lease(mail),
        stats,
    }))
}
