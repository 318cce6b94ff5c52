//! The outbox: every e-mail the server sends is first written here, under its idempotency key,
//! and only then sent. That record is what makes each alert go out once.
//!
//! - [`enqueue`] writes a message only if no message with its key exists (a store condition, so
//!   two server processes racing to queue the same holiday alert write it once); queuing again
//!   is a no-op, whether the first copy is waiting, sent or failed.
//! - A waiting message also has a small entry in the `alerts` table under `queue/KEY`, so that
//!   the sender reads only what waits, never the whole history.
//! - [`claim`] moves a due message to `sending` with a lease, by a compare-and-set on its
//!   record: only one process sends it. Then [`finish`] records the outcome: `sent`, or back to
//!   `pending` with a doubled delay after a transient failure (the relay said 4xx, or could not
//!   be reached), or `failed` for good after a permanent refusal (5xx) or too many attempts.
//! - A process killed during a send leaves the message `sending`; once the lease has passed it
//!   is due again. The relay either never answered (the message was not accepted: sending again
//!   is right) or accepted it in the instant before the kill (then it arrives twice, with the
//!   same `Message-ID`, which mail clients use to fold duplicates). That window is one SMTP
//!   transaction; docs/alerts.md says so.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::model::Email;
use crate::repo;
use crate::store::{Batch, Store, StoreError, Table};

/// What kind of message (for the outbox page, metrics and filters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// An agency's letter before a holiday.
    Holiday,
    /// The province-wide summary before a holiday, to the security staff.
    HolidaySummary,
    /// One event (expiry, unreachable site, new critical failure, content finding, silent agent).
    Event,
    /// A day's events gathered for one recipient.
    Digest,
    /// A dossier changed state.
    Dossier,
    /// The weekly report.
    Weekly,
    /// A test message sent by an administrator.
    Test,
}

impl Category {
    /// Vietnamese label.
    pub fn label_vi(self) -> &'static str {
        match self {
            Category::Holiday => "Cảnh báo trước kỳ nghỉ",
            Category::HolidaySummary => "Tổng hợp trước kỳ nghỉ",
            Category::Event => "Cảnh báo sự kiện",
            Category::Digest => "Bản tin tổng hợp ngày",
            Category::Dossier => "Hồ sơ chuyển bước",
            Category::Weekly => "Báo cáo tuần",
            Category::Test => "Thư thử",
        }
    }
}

/// A file attached to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// File name as the recipient sees it.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// The bytes (hex in the store).
    #[serde(with = "hex_bytes")]
    pub bytes: Vec<u8>,
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

/// A message to send: one recipient, so that "once per recipient" is one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    /// The idempotency key, e.g. `holiday/2026-09-02/w3/AGENCY/RECIPIENT`.
    pub key: String,
    /// Kind.
    pub category: Category,
    /// The recipient.
    pub to: Email,
    /// Subject (UTF-8; encoded on the wire).
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
    /// Attachments.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

/// Where a message stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum State {
    /// Waiting for its next attempt.
    Pending,
    /// Being sent by a process until the lease ends.
    Sending {
        /// The process (host and pid).
        owner: String,
        /// When the lease ends.
        until: Timestamp,
    },
    /// The relay accepted it.
    Sent {
        /// When.
        at: Timestamp,
    },
    /// Given up: refused for good or too many attempts.
    Failed {
        /// When.
        at: Timestamp,
    },
}

impl State {
    /// Short name: `pending`, `sending`, `sent`, `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Sending { .. } => "sending",
            State::Sent { .. } => "sent",
            State::Failed { .. } => "failed",
        }
    }
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The message.
    pub draft: Draft,
    /// Where it stands.
    #[serde(flatten)]
    pub state: State,
    /// When it was queued.
    pub queued_at: Timestamp,
    /// Attempts so far.
    pub attempts: u32,
    /// When the next attempt may start.
    pub next_attempt_at: Timestamp,
    /// The last failure, as the relay or the network said it.
    pub last_error: Option<String>,
    /// The `Message-ID` it is sent with (stable across attempts).
    pub message_id: String,
}

/// The queue entry beside a waiting message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Queued {
    next_attempt_at: Timestamp,
}

fn queue_key(key: &str) -> String {
    format!("queue/{key}")
}

/// A `Message-ID` derived from the key, so every attempt carries the same one.
pub fn message_id(key: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(key.as_bytes());
    format!("<{}@canhgac>", hex::encode(&digest[..16]))
}

/// Queues messages whose key is new; returns how many were queued (the others existed).
///
/// The new ones are written in one batch (one durable commit for a province's letters), each
/// guarded by "this key is absent"; if another process queued one of them meanwhile, the batch
/// conflicts and they are written one by one.
pub fn enqueue(store: &dyn Store, drafts: Vec<Draft>, now: Timestamp) -> Result<usize, StoreError> {
    let mut fresh: Vec<Record> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for draft in drafts {
        if !seen.insert(draft.key.clone())
            || store.get(Table::Outbox, draft.key.as_bytes())?.is_some()
        {
            continue;
        }
        fresh.push(Record {
            message_id: message_id(&draft.key),
            draft,
            state: State::Pending,
            queued_at: now,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
        });
    }
    let add = |batch: Batch, record: &Record| {
        let key = record.draft.key.as_bytes();
        batch
            .if_absent(Table::Outbox, key)
            .put(Table::Outbox, key, repo::json(record))
            .put(
                Table::Alerts,
                queue_key(&record.draft.key),
                repo::json(&Queued {
                    next_attempt_at: record.next_attempt_at,
                }),
            )
    };
    if fresh.is_empty() {
        return Ok(0);
    }
    let all = fresh.iter().fold(Batch::new(), add);
    match store.apply(all) {
        Ok(()) => return Ok(fresh.len()),
        Err(StoreError::Conflict(_)) => {}
        Err(e) => return Err(e),
    }
    let mut queued = 0;
    for record in &fresh {
        match store.apply(add(Batch::new(), record)) {
            Ok(()) => queued += 1,
            // Another process queued it between the read and the write: once is enough.
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(queued)
}

/// The order in which due messages go: holiday letters and their summary first (they have a
/// day), then dossier notices, events and digests, the weekly report, tests.
fn rank(key: &str) -> u8 {
    match key.split('/').next().unwrap_or_default() {
        "holiday" | "holiday-summary" => 0,
        "dossier" => 1,
        "event" | "digest" => 2,
        "weekly" => 3,
        _ => 4,
    }
}

/// The keys of waiting messages whose next attempt is due at `now` (at most `limit`), the most
/// urgent kind first, then the longest waiting.
pub fn due(store: &dyn Store, now: Timestamp, limit: usize) -> Result<Vec<String>, StoreError> {
    let mut due = Vec::new();
    for (k, v) in store.scan(Table::Alerts, b"queue/", None, usize::MAX)? {
        let q: Queued = serde_json::from_slice(&v)
            .map_err(|e| StoreError::Corrupt(format!("alerts queue entry: {e}")))?;
        if q.next_attempt_at <= now {
            let key = String::from_utf8_lossy(&k["queue/".len()..]).into_owned();
            due.push((rank(&key), q.next_attempt_at, key));
        }
    }
    due.sort();
    Ok(due.into_iter().take(limit).map(|(_, _, k)| k).collect())
}

/// How many messages wait (pending or being sent).
pub fn waiting(store: &dyn Store) -> Result<usize, StoreError> {
    Ok(store
        .scan(Table::Alerts, b"queue/", None, usize::MAX)?
        .len())
}

/// Takes a due message for sending (a compare-and-set on its record, so only one process gets
/// it); `None` when it is not due, already taken or gone.
pub fn claim(
    store: &dyn Store,
    key: &str,
    owner: &str,
    lease: SignedDuration,
    now: Timestamp,
) -> Result<Option<Record>, StoreError> {
    let Some(raw) = store.get(Table::Outbox, key.as_bytes())? else {
        return Ok(None);
    };
    let mut record: Record = serde_json::from_slice(&raw)
        .map_err(|e| StoreError::Corrupt(format!("outbox {key}: {e}")))?;
    let takeable = match &record.state {
        State::Pending => record.next_attempt_at <= now,
        // Its sender died mid-send (the lease passed without an outcome).
        State::Sending { until, .. } => *until <= now,
        State::Sent { .. } | State::Failed { .. } => false,
    };
    if !takeable {
        return Ok(None);
    }
    record.state = State::Sending {
        owner: owner.to_owned(),
        until: now.saturating_add(lease).unwrap_or(now),
    };
    record.attempts += 1;
    let batch = Batch::new()
        .if_equals(Table::Outbox, key.as_bytes(), raw)
        .put(Table::Outbox, key.as_bytes(), repo::json(&record))
        .put(
            Table::Alerts,
            queue_key(key),
            repo::json(&Queued {
                next_attempt_at: now.saturating_add(lease).unwrap_or(now),
            }),
        );
    match store.apply(batch) {
        Ok(()) => Ok(Some(record)),
        Err(StoreError::Conflict(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The relay accepted the message.
    Sent,
    /// Try again later (4xx, connection refused, timeout).
    Transient(String),
    /// Do not try again (5xx: unknown recipient, refused sender).
    Permanent(String),
}

/// Records the outcome of the attempt `claimed` (as [`claim`] returned it).
pub fn finish(
    store: &dyn Store,
    claimed: &Record,
    outcome: Outcome,
    max_attempts: u32,
    first_delay: SignedDuration,
    now: Timestamp,
) -> Result<Record, StoreError> {
    let key = claimed.draft.key.clone();
    let mut record = claimed.clone();
    let mut batch = Batch::new().if_equals(Table::Outbox, key.as_bytes(), repo::json(claimed));
    match outcome {
        Outcome::Sent => {
            record.state = State::Sent { at: now };
            record.last_error = None;
            batch = batch.delete(Table::Alerts, queue_key(&key));
        }
        Outcome::Permanent(error) => {
            record.state = State::Failed { at: now };
            record.last_error = Some(error);
            batch = batch.delete(Table::Alerts, queue_key(&key));
        }
        Outcome::Transient(error) if record.attempts >= max_attempts => {
            record.state = State::Failed { at: now };
            record.last_error = Some(format!("{error} (after {} attempts)", record.attempts));
            batch = batch.delete(Table::Alerts, queue_key(&key));
        }
        Outcome::Transient(error) => {
            record.state = State::Pending;
            record.last_error = Some(error);
            record.next_attempt_at = now
                .saturating_add(backoff(first_delay, record.attempts))
                .unwrap_or(now);
            batch = batch.put(
                Table::Alerts,
                queue_key(&key),
                repo::json(&Queued {
                    next_attempt_at: record.next_attempt_at,
                }),
            );
        }
    }
    store.apply(batch.put(Table::Outbox, key.as_bytes(), repo::json(&record)))?;
    Ok(record)
}

/// The delay after `attempts` failed attempts: `first`, doubled each time, at most six hours.
pub fn backoff(first: SignedDuration, attempts: u32) -> SignedDuration {
    let cap = SignedDuration::from_hours(6);
    let factor = 1i32 << attempts.saturating_sub(1).min(20);
    first.checked_mul(factor).unwrap_or(cap).min(cap)
}

/// Puts a failed message back in the queue, due now, with its attempts reset (an
/// administrator's "send again"). `false` when it is not failed.
pub fn retry(store: &dyn Store, key: &str, now: Timestamp) -> Result<bool, StoreError> {
    let Some(raw) = store.get(Table::Outbox, key.as_bytes())? else {
        return Ok(false);
    };
    let mut record: Record = serde_json::from_slice(&raw)
        .map_err(|e| StoreError::Corrupt(format!("outbox {key}: {e}")))?;
    if !matches!(record.state, State::Failed { .. }) {
        return Ok(false);
    }
    record.state = State::Pending;
    record.attempts = 0;
    record.next_attempt_at = now;
    store.apply(
        Batch::new()
            .if_equals(Table::Outbox, key.as_bytes(), raw)
            .put(Table::Outbox, key.as_bytes(), repo::json(&record))
            .put(
                Table::Alerts,
                queue_key(key),
                repo::json(&Queued {
                    next_attempt_at: now,
                }),
            ),
    )?;
    Ok(true)
}

/// Puts every failed message back in the queue (an administrator's "send all again");
/// returns how many.
pub fn retry_failed(store: &dyn Store, now: Timestamp) -> Result<usize, StoreError> {
    let failed: Vec<String> = list(store, "")?
        .into_iter()
        .filter(|r| matches!(r.state, State::Failed { .. }))
        .map(|r| r.draft.key)
        .collect();
    let mut n = 0;
    for key in failed {
        if retry(store, &key, now)? {
            n += 1;
        }
    }
    Ok(n)
}

/// One message, by key.
pub fn get(store: &dyn Store, key: &str) -> Result<Option<Record>, StoreError> {
    repo::get(store, Table::Outbox, key)
}

/// Every message whose key starts with `prefix`, newest first.
pub fn list(store: &dyn Store, prefix: &str) -> Result<Vec<Record>, StoreError> {
    let mut all: Vec<Record> = repo::list(store, Table::Outbox, prefix, usize::MAX)?;
    all.sort_by(|a, b| {
        b.queued_at
            .cmp(&a.queued_at)
            .then(a.draft.key.cmp(&b.draft.key))
    });
    Ok(all)
}

/// Messages by state, for the outbox page and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Waiting.
    pub pending: usize,
    /// Being sent.
    pub sending: usize,
    /// Sent.
    pub sent: usize,
    /// Failed for good.
    pub failed: usize,
}

/// Counts the messages by state.
pub fn counts(records: &[Record]) -> Counts {
    let mut c = Counts::default();
    for r in records {
        match r.state {
            State::Pending => c.pending += 1,
            State::Sending { .. } => c.sending += 1,
            State::Sent { .. } => c.sent += 1,
            State::Failed { .. } => c.failed += 1,
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_790_000_000 + s).unwrap()
    }

    fn draft(key: &str) -> Draft {
        Draft {
            key: key.into(),
            category: Category::Holiday,
            to: Email::new("vanthu@example.gov.vn").unwrap(),
            subject: "Cảnh báo".into(),
            text: "x".into(),
            html: "<p>x</p>".into(),
            attachments: vec![Attachment {
                filename: "a.xlsx".into(),
                content_type: "application/octet-stream".into(),
                bytes: vec![0, 1, 255],
            }],
        }
    }

    #[test]
    fn a_key_is_queued_once_and_claimed_by_one_sender() {
        let store = MemoryStore::new();
        assert_eq!(
            enqueue(&store, vec![draft("a"), draft("b")], t(0)).unwrap(),
            2
        );
        assert_eq!(enqueue(&store, vec![draft("a")], t(5)).unwrap(), 0);
        // A key twice in one call is queued once, with the new ones in the same commit.
        assert_eq!(
            enqueue(&store, vec![draft("c"), draft("c"), draft("a")], t(5)).unwrap(),
            1
        );
        assert!(retry(&store, "c", t(5)).is_ok());
        let c = claim(&store, "c", "p0", SignedDuration::from_secs(60), t(5))
            .unwrap()
            .unwrap();
        finish(
            &store,
            &c,
            Outcome::Sent,
            3,
            SignedDuration::from_secs(60),
            t(5),
        )
        .unwrap();
        assert_eq!(due(&store, t(0), 10).unwrap(), vec!["a", "b"]);
        // Holiday letters go before events whatever their keys' order.
        enqueue(&store, vec![draft("event/x"), draft("holiday/y")], t(0)).unwrap();
        assert_eq!(due(&store, t(0), 1).unwrap(), vec!["holiday/y"]);
        let lease = SignedDuration::from_secs(60);
        let first = claim(&store, "a", "p1", lease, t(1)).unwrap().unwrap();
        assert_eq!(first.attempts, 1);
        assert_eq!(first.draft.attachments[0].bytes, vec![0, 1, 255]);
        // A second process does not get it while the lease runs, and it is not due.
        assert!(claim(&store, "a", "p2", lease, t(2)).unwrap().is_none());
        assert_eq!(
            due(&store, t(2), 10).unwrap(),
            vec!["holiday/y", "event/x", "b"]
        );
        let sent = finish(&store, &first, Outcome::Sent, 3, lease, t(3)).unwrap();
        assert!(matches!(sent.state, State::Sent { .. }));
        assert!(claim(&store, "a", "p2", lease, t(500)).unwrap().is_none());
        assert_eq!(
            due(&store, t(500), 10).unwrap(),
            vec!["holiday/y", "event/x", "b"]
        );
        // Sent stays sent: queuing the key again does nothing.
        assert_eq!(enqueue(&store, vec![draft("a")], t(600)).unwrap(), 0);
    }

    #[test]
    fn transient_failures_back_off_then_fail_and_a_dead_sender_lease_expires() {
        let store = MemoryStore::new();
        let d = SignedDuration::from_secs(60);
        enqueue(&store, vec![draft("k")], t(0)).unwrap();
        let c = claim(&store, "k", "p1", d, t(0)).unwrap().unwrap();
        let r = finish(&store, &c, Outcome::Transient("451".into()), 3, d, t(1)).unwrap();
        assert_eq!(r.next_attempt_at, t(61));
        assert!(claim(&store, "k", "p1", d, t(30)).unwrap().is_none());
        let c = claim(&store, "k", "p1", d, t(61)).unwrap().unwrap();
        let r = finish(&store, &c, Outcome::Transient("451".into()), 3, d, t(62)).unwrap();
        assert_eq!(r.next_attempt_at, t(182));
        // The sender dies holding it: after the lease, another process takes it.
        let c = claim(&store, "k", "p1", d, t(182)).unwrap().unwrap();
        assert!(claim(&store, "k", "p2", d, t(200)).unwrap().is_none());
        let c2 = claim(&store, "k", "p2", d, t(243)).unwrap().unwrap();
        assert_eq!(c2.attempts, 4);
        // The dead sender's late outcome loses the compare-and-set.
        assert!(finish(&store, &c, Outcome::Sent, 3, d, t(244)).is_err());
        let r = finish(&store, &c2, Outcome::Transient("451".into()), 3, d, t(245)).unwrap();
        assert!(matches!(r.state, State::Failed { .. }));
        assert!(r.last_error.unwrap().contains("after 4 attempts"));
        assert!(due(&store, t(10_000), 10).unwrap().is_empty());
        // An administrator sends it again.
        assert!(retry(&store, "k", t(300)).unwrap());
        assert_eq!(due(&store, t(300), 10).unwrap(), vec!["k"]);
        let c = claim(&store, "k", "p1", d, t(300)).unwrap().unwrap();
        let r = finish(
            &store,
            &c,
            Outcome::Permanent("550 no such user".into()),
            3,
            d,
            t(301),
        )
        .unwrap();
        assert!(matches!(r.state, State::Failed { .. }));
        assert_eq!(counts(&list(&store, "").unwrap()).failed, 1);
        assert_eq!(retry_failed(&store, t(400)).unwrap(), 1);
        assert_eq!(counts(&list(&store, "").unwrap()).pending, 1);
        assert_eq!(retry_failed(&store, t(401)).unwrap(), 0);
    }

    #[test]
    fn backoff_doubles_up_to_six_hours() {
        let m = SignedDuration::from_secs(60);
        assert_eq!(backoff(m, 1), m);
        assert_eq!(backoff(m, 2), SignedDuration::from_secs(120));
        assert_eq!(backoff(m, 4), SignedDuration::from_secs(480));
        assert_eq!(backoff(m, 30), SignedDuration::from_hours(6));
        assert_eq!(message_id("a"), message_id("a"));
        assert_ne!(message_id("a"), message_id("b"));
    }
}
