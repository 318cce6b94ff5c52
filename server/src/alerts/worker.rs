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
use crate::store::{Store, StoreError};

/// Messages delivered per tick at most (the rest wait for the next tick).
const DELIVER_PER_TICK: usize = 200;

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

/// Queues everything due at `now`: holiday letters, events, dossier notifications, the weekly
/// report. Returns how many messages were newly queued.
pub fn plan(
    store: &dyn Store,
    index: &Index,
    pack: &canhgac_policies::pack::Pack,
    settings: &AlertSettings,
    now: Timestamp,
) -> Result<usize, StoreError> {
    let waivers = facts::waivers_by_system(store)?;
    let agents = crate::agents::list_agents(store)?;
    let mut drafts = Vec::new();
    {
        let data = index.read(store)?;
        let evidence = Evidence {
            data: &data,
            waivers: &waivers,
            agents: &agents,
            pack,
        };
        for reminder in holiday::due_at(&pack.calendar, now, settings) {
            let batch = super::holiday_batch(store, &evidence, settings, &reminder, None, now)?;
            drafts.extend(batch.drafts);
        }
        let found = events::detect(store, &data, pack, &agents, settings, now)?;
        if settings.digest {
            drafts.extend(events::digest(store, &found, &data, settings, now)?);
        } else {
            drafts.extend(events::drafts(&found, &data, settings, now));
        }
        drafts.extend(dossier::drafts(store, &data, settings, now)?);
    }
    if let Some(week_end) = weekly::due(settings, now) {
        // Built only once per week: the key of the first recipient tells whether it is done.
        let done = settings.leadership.first().is_none_or(|to| {
            outbox::get(store, &format!("weekly/{week_end}/{to}"))
                .ok()
                .flatten()
                .is_some()
        });
        if !done {
            drafts.extend(weekly::drafts(store, index, pack, settings, week_end)?);
        }
    }
    let queued = outbox::enqueue(store, drafts, now)?;
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

    /// One pass: plan, then deliver what is due.
    pub async fn once(&self, owner: &str) -> Result<(), StoreError> {
        let now = crate::clock::now();
        let (store, index, pack, settings) = (
            self.store.clone(),
            self.index.clone(),
            self.pack.get(),
            self.settings.clone(),
        );
        let queued = tokio::task::spawn_blocking(move || {
            plan(store.as_ref(), &index, &pack, &settings, now)
        })
        .await
        .map_err(|e| StoreError::Io(format!("alerts planning task: {e}")))??;
        if queued > 0 {
            self.stats
                .queued
                .fetch_add(queued as u64, Ordering::Relaxed);
            tracing::info!(queued, "alerts: messages queued");
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
        for key in keys {
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
