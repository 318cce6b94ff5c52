//! Agents on agency networks: one-time enrollment tokens, the agent records, their schedules
//! and health, the targets assigned to them, "silent" agents and "scan now" requests.
//!
//! An administrator creates an [`Enrollment`] for an agency's network (`cge_` + 256 random
//! bits, stored only as its SHA-256, single use, expiring). Enrolling exchanges it, in one
//! atomic batch, for an agent account (role agent, login `agent-` + the last 8 hex digits of
//! the agent id), an ordinary API token of that account and an [`Agent`] record, and marks the
//! enrollment used. Agents are keyed by their login (the key every authenticated request
//! carries).
//!
//! An agent scans the in-use systems of its agency and its sub-agencies
//! ([`assigned_targets`]); an agent account without an agent record (made with
//! `canhgac-server user add --role agent --agency ID`) has the same scope, from its account's
//! agency. See `docs/agents.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::{SignedDuration, Timestamp};
use rand::Rng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::auth::{self, Account, TokenRecord};
use crate::index::{IndexData, Span, host_key, within};
use crate::model::{AgencyId, Role, SystemId, SystemStatus, UserId};
use crate::repo;
use crate::store::{Batch, Store, StoreError, Table};

/// An agent's id: a UUID of version 7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AgentId(Uuid);

impl AgentId {
    /// A new id created at `now` with fresh random bits.
    pub fn new(now: Timestamp) -> AgentId {
        let random: [u8; 10] = rand::random();
        let millis = u64::try_from(now.as_millisecond()).unwrap_or(0);
        AgentId(uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid())
    }

    /// The login of the agent's account: `agent-` and the last 8 hex digits of the id (its
    /// random bits; the first ones are the creation time, shared by agents enrolled within
    /// the same minute).
    pub fn login(&self) -> String {
        let hex = self.0.simple().to_string();
        format!("agent-{}", &hex[hex.len() - 8..])
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl FromStr for AgentId {
    type Err = AgentError;

    fn from_str(text: &str) -> Result<AgentId, AgentError> {
        match Uuid::try_parse(text) {
            Ok(u) if text.len() == 36 && u.get_version_num() == 7 => Ok(AgentId(u)),
            _ => Err(AgentError::Invalid(format!(
                "{text:?} is not an agent id (UUID v7)"
            ))),
        }
    }
}

impl Serialize for AgentId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AgentId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Why an agent operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Input refused.
    #[error("{0}")]
    Invalid(String),
    /// The enrollment token is unknown, used or expired (one answer for all three).
    #[error("the enrollment token is unknown, already used or expired")]
    EnrollmentInvalid,
    /// No such agent.
    #[error("no such agent")]
    NotFound,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A nightly window scans are kept within (Asia/Ho_Chi_Minh, `HH:MM`; may wrap midnight).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanWindow {
    /// Start, `HH:MM`.
    pub start: String,
    /// End, `HH:MM` (before `start`: the window wraps midnight).
    pub end: String,
}

fn hh_mm(text: &str) -> Option<(u8, u8)> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u8, u8) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

/// When and how hard an agent scans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Seconds between two scans of a target (default 6 h).
    pub interval_seconds: u64,
    /// Random delay added to each scan, up to this many seconds (default 600).
    pub jitter_seconds: u64,
    /// Scans only within this window, if any.
    pub window: Option<ScanWindow>,
    /// Seconds between two check-ins (default 60).
    pub checkin_seconds: u64,
    /// Scans at once, at most (default 8).
    pub concurrency: u32,
    /// Scans of one host at once, at most (default 2).
    pub per_host: u32,
    /// Pause between two connections to one host, in milliseconds (default 0).
    pub delay_ms: u64,
}

impl Default for Schedule {
    fn default() -> Schedule {
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

impl Schedule {
    /// Checks the bounds: interval 5 min to 30 days, jitter at most the interval, check-in
    /// 10 s to 1 h, concurrency 1-256, per host 1-16 and at most the concurrency, delay at
    /// most 60 s, a window of two different `HH:MM` times.
    pub fn validate(&self) -> Result<(), AgentError> {
        let bad = |m: &str| Err(AgentError::Invalid(format!("schedule: {m}")));
        if !(300..=30 * 86_400).contains(&self.interval_seconds) {
            return bad("interval_seconds must be between 300 and 2592000");
        }
        if self.jitter_seconds > self.interval_seconds {
            return bad("jitter_seconds must not exceed interval_seconds");
        }
        if !(10..=3600).contains(&self.checkin_seconds) {
            return bad("checkin_seconds must be between 10 and 3600");
        }
        if !(1..=256).contains(&self.concurrency) {
            return bad("concurrency must be between 1 and 256");
        }
        if !(1..=16).contains(&self.per_host) || self.per_host > self.concurrency {
            return bad("per_host must be between 1 and 16 and at most concurrency");
        }
        if self.delay_ms > 60_000 {
            return bad("delay_ms must be at most 60000");
        }
        if let Some(w) = &self.window {
            match (hh_mm(&w.start), hh_mm(&w.end)) {
                (Some(a), Some(b)) if a != b => {}
                _ => return bad("window start and end must be two different HH:MM times"),
            }
        }
        Ok(())
    }

    /// The silence threshold: `max(3 * checkin_seconds, 5 min)`.
    pub fn silence_after(&self) -> SignedDuration {
        SignedDuration::from_secs(
            i64::try_from(self.checkin_seconds.saturating_mul(3))
                .unwrap_or(i64::MAX)
                .max(300),
        )
    }
}

/// Changes to a [`Schedule`]: every field optional (`window: null` removes the window).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleChange {
    /// See [`Schedule::interval_seconds`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<u64>,
    /// See [`Schedule::jitter_seconds`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_seconds: Option<u64>,
    /// See [`Schedule::window`]; `null` removes it.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub window: Option<Option<ScanWindow>>,
    /// See [`Schedule::checkin_seconds`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkin_seconds: Option<u64>,
    /// See [`Schedule::concurrency`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// See [`Schedule::per_host`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_host: Option<u32>,
    /// See [`Schedule::delay_ms`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

fn double_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<ScanWindow>>, D::Error> {
    Option::<ScanWindow>::deserialize(d).map(Some)
}

impl ScheduleChange {
    /// `base` with these changes, validated.
    pub fn apply(&self, base: &Schedule) -> Result<Schedule, AgentError> {
        let s = Schedule {
            interval_seconds: self.interval_seconds.unwrap_or(base.interval_seconds),
            jitter_seconds: self.jitter_seconds.unwrap_or(base.jitter_seconds),
            window: self.window.clone().unwrap_or_else(|| base.window.clone()),
            checkin_seconds: self.checkin_seconds.unwrap_or(base.checkin_seconds),
            concurrency: self.concurrency.unwrap_or(base.concurrency),
            per_host: self.per_host.unwrap_or(base.per_host),
            delay_ms: self.delay_ms.unwrap_or(base.delay_ms),
        };
        s.validate()?;
        Ok(s)
    }
}

/// What an agent says about itself on each check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// The agent's version.
    pub version: String,
    /// When it last finished a scan.
    pub last_scan_at: Option<Timestamp>,
    /// Reports waiting in its spool.
    pub spool_depth: u64,
    /// Their size.
    pub spool_bytes: u64,
    /// The spool's bound.
    pub spool_capacity_bytes: u64,
    /// The oldest spooled report's time.
    pub oldest_spooled_at: Option<Timestamp>,
    /// Reports the server refused for good.
    pub rejected: u64,
}

/// The use of an enrollment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollmentUse {
    /// The agent it enrolled.
    pub agent: AgentId,
    /// When.
    pub at: Timestamp,
}

/// A one-time enrollment token, as stored under the SHA-256 of its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    /// Id (UUID v7).
    pub id: String,
    /// The SHA-256 (hex) of the secret: the key.
    pub token_key: String,
    /// The agency whose network the agent will sit on.
    pub agency: AgencyId,
    /// The network's label, e.g. "LAN Sở Công Thương".
    pub network: String,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// Its use, once used.
    pub used: Option<EnrollmentUse>,
    /// The schedule the agent starts with.
    #[serde(default)]
    pub schedule: Schedule,
}

impl Enrollment {
    /// Whether it can still be used at `now`.
    pub fn usable(&self, now: Timestamp) -> bool {
        self.used.is_none() && now < self.expires_at
    }
}

/// A pending "scan now" request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanNow {
    /// The target, `host:port`.
    pub target: String,
    /// When it was asked.
    pub requested_at: Timestamp,
    /// By whom (login).
    pub requested_by: String,
}

/// An enrolled agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// Id.
    pub id: AgentId,
    /// Its name, e.g. "agent-sct-01".
    pub name: String,
    /// The host it runs on, as it said.
    pub hostname: String,
    /// Its agency: it scans the systems of this agency and its sub-agencies.
    pub agency: AgencyId,
    /// The network's label.
    pub network: String,
    /// Its account's login.
    pub login: String,
    /// When it enrolled.
    pub enrolled_at: Timestamp,
    /// Its schedule.
    pub schedule: Schedule,
    /// Its last check-in or upload.
    pub last_seen: Option<Timestamp>,
    /// What it said at its last check-in.
    pub health: Option<Health>,
    /// Pending "scan now" requests.
    pub scan_now: Vec<ScanNow>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
}

impl Agent {
    /// Whether it has not been heard from for longer than its schedule allows
    /// (`now - last_seen > max(3 * checkin_seconds, 5 min)`, or never seen). Revoked agents are
    /// not silent: they are gone.
    pub fn silent(&self, now: Timestamp) -> bool {
        if self.revoked_at.is_some() {
            return false;
        }
        match self.last_seen {
            None => true,
            Some(seen) => now.duration_since(seen) > self.schedule.silence_after(),
        }
    }
}

/// A target assigned to an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignedTarget {
    /// `host:port`, as `api::reports::target_key` writes it.
    pub target: String,
    /// The URL to scan.
    pub url: String,
    /// The systems it belongs to.
    pub systems: Vec<SystemId>,
}

/// The target of a system URL: `(host, port, url to scan)`; port 443 by default for https
/// (and URLs without a scheme), 80 for http. The host is lower case, IPv6 without brackets.
pub fn url_target(text: &str) -> Option<(String, u16, String)> {
    let text = text.trim();
    let with_scheme = if text.contains("://") {
        text.to_string()
    } else {
        format!("https://{text}")
    };
    let url = url::Url::parse(&with_scheme).ok()?;
    if !matches!(url.scheme(), "https" | "http") {
        return None;
    }
    let host = url.host_str()?.to_string();
    let port = url.port_or_known_default()?;
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Some((bare, port, format!("{}://{host}:{port}/", url.scheme())))
}

/// The subtree interval of an agency, following merges (an agency merged away hands its
/// systems to the one it merged into).
fn agency_span(data: &IndexData, agency: AgencyId) -> Option<Span> {
    let mut id = agency;
    for _ in 0..16 {
        match data.agencies.get(id)?.merged_into {
            Some(next) => id = next,
            None => return data.agencies.span(id),
        }
    }
    None
}

fn in_scope(data: &IndexData, span: Span, system: SystemId) -> bool {
    data.systems.get(&system).is_some_and(|e| {
        e.system.status == SystemStatus::InUse
            && (within(e.owner_span, span) || within(e.unit_span, span))
    })
}

/// The targets of the in-use systems whose owner or operating unit is `agency` or one of its
/// sub-agencies, in target order.
pub fn assigned_targets(data: &IndexData, agency: AgencyId) -> Vec<AssignedTarget> {
    let Some(span) = agency_span(data, agency) else {
        return Vec::new();
    };
    let mut out: BTreeMap<String, AssignedTarget> = BTreeMap::new();
    for (id, entry) in &data.systems {
        if !in_scope(data, span, *id) {
            continue;
        }
        for u in &entry.system.urls {
            let Some((host, port, url)) = url_target(u) else {
                continue;
            };
            let target = format!("{host}:{port}");
            let t = out.entry(target.clone()).or_insert(AssignedTarget {
                target,
                url,
                systems: Vec::new(),
            });
            if !t.systems.contains(id) {
                t.systems.push(*id);
            }
        }
    }
    let mut list: Vec<AssignedTarget> = out.into_values().collect();
    for t in &mut list {
        t.systems.sort();
    }
    list
}

/// The in-use systems of `agency`'s subtree that name `host:port` (empty: not assigned).
/// Host names compare like the read index does (case, a leading `www.`).
pub fn systems_assigned(
    data: &IndexData,
    agency: AgencyId,
    host: &str,
    port: u16,
) -> Vec<SystemId> {
    let Some(span) = agency_span(data, agency) else {
        return Vec::new();
    };
    let host = host_key(host.trim_start_matches('[').trim_end_matches(']'));
    let mut out: Vec<SystemId> = data
        .systems_for_host(&host)
        .iter()
        .filter(|s| in_scope(data, span, s.id))
        .filter(|s| {
            s.urls
                .iter()
                .filter_map(|u| url_target(u))
                .any(|(h, p, _)| host_key(&h) == host && p == port)
        })
        .map(|s| s.id)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The agency whose systems an agent account may report on: its agent record's, else (an
/// account made by hand) its account's.
pub fn scope_of(agent: Option<&Agent>, account: &Account) -> Option<AgencyId> {
    match agent {
        Some(a) => Some(a.agency),
        None => account.user().agency,
    }
}

/// A new enrollment secret: `cge_` and 43 URL-safe characters (256 bits).
pub fn new_enrollment_secret() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rng();
    let body: String = (0..43)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("cge_{body}")
}

/// The longest enrollment lifetime, in hours (a week).
pub const MAX_ENROLLMENT_HOURS: u32 = 168;

/// Creates an enrollment for `agency`'s network; answers the secret (shown once) and the record.
pub fn create_enrollment(
    store: &dyn Store,
    agency: AgencyId,
    network: &str,
    created_by: &str,
    expires_in_hours: u32,
    schedule: Schedule,
    now: Timestamp,
) -> Result<(String, Enrollment), AgentError> {
    let network = network.trim();
    if network.is_empty() || network.chars().count() > 200 {
        return Err(AgentError::Invalid(
            "network must be a label of 1 to 200 characters".into(),
        ));
    }
    if !(1..=MAX_ENROLLMENT_HOURS).contains(&expires_in_hours) {
        return Err(AgentError::Invalid(format!(
            "expires_in_hours must be between 1 and {MAX_ENROLLMENT_HOURS}"
        )));
    }
    schedule.validate()?;
    match repo::get::<crate::model::Agency>(store, Table::Agencies, &agency.to_string())? {
        None => {
            return Err(AgentError::Invalid(format!(
                "agency {agency} does not exist"
            )));
        }
        Some(a) if a.merged_into.is_some() => {
            return Err(AgentError::Invalid(format!(
                "agency {agency} was merged away"
            )));
        }
        Some(_) => {}
    }
    let secret = new_enrollment_secret();
    let key = auth::token_key(&secret);
    let enrollment = Enrollment {
        id: AgentId::new(now).to_string(),
        token_key: key.clone(),
        agency,
        network: network.to_string(),
        created_by: created_by.to_string(),
        created_at: now,
        expires_at: now
            .checked_add(SignedDuration::from_hours(i64::from(expires_in_hours)))
            .map_err(|e| AgentError::Invalid(e.to_string()))?,
        used: None,
        schedule,
    };
    store.apply(
        Batch::new()
            .if_absent(Table::Enrollments, key.as_bytes())
            .put(Table::Enrollments, key.as_bytes(), repo::json(&enrollment)),
    )?;
    Ok((secret, enrollment))
}

/// Every enrollment, oldest first.
pub fn list_enrollments(store: &dyn Store) -> Result<Vec<Enrollment>, StoreError> {
    let mut all: Vec<Enrollment> = repo::list(store, Table::Enrollments, "", usize::MAX)?;
    all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(all)
}

/// What enrolling gives the agent.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// The new agent.
    pub agent: Agent,
    /// Its bearer token (`cgk_...`), shown once.
    pub credential: String,
}

fn label(text: &str, what: &str) -> Result<String, AgentError> {
    let t = text.trim();
    if t.is_empty() || t.chars().count() > 100 || t.chars().any(char::is_control) {
        return Err(AgentError::Invalid(format!(
            "{what} must have 1 to 100 characters"
        )));
    }
    Ok(t.to_string())
}

/// Exchanges an enrollment secret for an agent: in one atomic batch, the enrollment is marked
/// used and the account, its token and the agent record are created. An unknown, used or
/// expired secret is [`AgentError::EnrollmentInvalid`].
pub fn enroll(
    store: &dyn Store,
    secret: &str,
    name: &str,
    hostname: &str,
    version: &str,
    now: Timestamp,
) -> Result<Enrolled, AgentError> {
    if !secret.starts_with("cge_") || secret.len() > 100 {
        return Err(AgentError::EnrollmentInvalid);
    }
    let key = auth::token_key(secret);
    let Some(raw) = store.get(Table::Enrollments, key.as_bytes())? else {
        return Err(AgentError::EnrollmentInvalid);
    };
    let mut enrollment: Enrollment = serde_json::from_slice(&raw).map_err(|e| {
        StoreError::Corrupt(format!("enrollment {}: {e}", &key[..16.min(key.len())]))
    })?;
    if !enrollment.usable(now) {
        return Err(AgentError::EnrollmentInvalid);
    }
    let name = label(name, "name")?;
    let hostname = label(hostname, "hostname")?;
    let _ = label(version, "version")?;
    let id = AgentId::new(now);
    let login = id.login();
    let account = Account {
        id: UserId::derived(now, login.as_bytes()),
        login: login.clone(),
        display_name: name.clone(),
        role: Role::Agent,
        agency: Some(enrollment.agency.to_string()),
        password_hash: String::new(),
        created_at: now,
        disabled: false,
    };
    let credential = auth::new_token();
    let token_key = auth::token_key(&credential);
    let token = TokenRecord {
        login: login.clone(),
        name: format!("agent {name} ({})", enrollment.network),
        created_at: now,
        revoked: false,
        expires_at: None,
        last_used_at: None,
        revoked_at: None,
    };
    let agent = Agent {
        id,
        name,
        hostname,
        agency: enrollment.agency,
        network: enrollment.network.clone(),
        login: login.clone(),
        enrolled_at: now,
        schedule: enrollment.schedule.clone(),
        last_seen: Some(now),
        health: None,
        scan_now: Vec::new(),
        revoked_at: None,
    };
    enrollment.used = Some(EnrollmentUse { agent: id, at: now });
    let batch = Batch::new()
        .if_equals(Table::Enrollments, key.as_bytes(), raw)
        .if_absent(Table::Users, login.as_bytes())
        .if_absent(Table::Tokens, token_key.as_bytes())
        .if_absent(Table::Agents, login.as_bytes())
        .put(Table::Enrollments, key.as_bytes(), repo::json(&enrollment))
        .put(Table::Users, login.as_bytes(), repo::json(&account))
        .put(Table::Tokens, token_key.as_bytes(), repo::json(&token))
        .put(Table::Agents, login.as_bytes(), repo::json(&agent));
    match store.apply(batch) {
        Ok(()) => Ok(Enrolled { agent, credential }),
        // Used meanwhile (or, with odds of 2^-32, a login taken): the same answer.
        Err(StoreError::Conflict(_)) => Err(AgentError::EnrollmentInvalid),
        Err(e) => Err(e.into()),
    }
}

/// The agent of an account, by login.
pub fn agent_of(store: &dyn Store, login: &str) -> Result<Option<Agent>, StoreError> {
    repo::get(store, Table::Agents, login)
}

/// Every agent, in id (enrollment time) order.
pub fn list_agents(store: &dyn Store) -> Result<Vec<Agent>, StoreError> {
    let mut all: Vec<Agent> = repo::list(store, Table::Agents, "", usize::MAX)?;
    all.sort_by_key(|a| a.id);
    Ok(all)
}

/// The agent with this id.
pub fn get_agent(store: &dyn Store, id: AgentId) -> Result<Option<Agent>, StoreError> {
    repo::get(store, Table::Agents, &id.login()).map(|a: Option<Agent>| a.filter(|a| a.id == id))
}

/// Changes an agent with optimistic concurrency; `change` answers `false` to write nothing.
/// `Ok(None)` when there is no such agent.
pub fn update_agent(
    store: &dyn Store,
    login: &str,
    mut change: impl FnMut(&mut Agent) -> Result<bool, AgentError>,
) -> Result<Option<Agent>, AgentError> {
    for _ in 0..8 {
        let Some(raw) = store.get(Table::Agents, login.as_bytes())? else {
            return Ok(None);
        };
        let mut agent: Agent = serde_json::from_slice(&raw)
            .map_err(|e| StoreError::Corrupt(format!("agents {login}: {e}")))?;
        if !change(&mut agent)? {
            return Ok(Some(agent));
        }
        match store.apply(
            Batch::new()
                .if_equals(Table::Agents, login.as_bytes(), raw)
                .put(Table::Agents, login.as_bytes(), repo::json(&agent)),
        ) {
            Ok(()) => return Ok(Some(agent)),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Conflict("the agent keeps changing; try again".into()).into())
}

/// Revokes an agent: marks it revoked, disables its account and revokes its tokens, in one
/// batch. Idempotent; `Ok(None)` when there is no such agent.
pub fn revoke(store: &dyn Store, id: AgentId, now: Timestamp) -> Result<Option<Agent>, AgentError> {
    for _ in 0..8 {
        let login = id.login();
        let Some(raw) = store.get(Table::Agents, login.as_bytes())? else {
            return Ok(None);
        };
        let mut agent: Agent = serde_json::from_slice(&raw)
            .map_err(|e| StoreError::Corrupt(format!("agents {login}: {e}")))?;
        if agent.id != id {
            return Ok(None);
        }
        let mut batch = Batch::new().if_equals(Table::Agents, login.as_bytes(), raw);
        if agent.revoked_at.is_none() {
            agent.revoked_at = Some(now);
            agent.scan_now.clear();
        }
        batch = batch.put(Table::Agents, login.as_bytes(), repo::json(&agent));
        if let Some(raw_account) = store.get(Table::Users, login.as_bytes())? {
            let mut account: Account = serde_json::from_slice(&raw_account)
                .map_err(|e| StoreError::Corrupt(format!("users {login}: {e}")))?;
            if !account.disabled {
                account.disabled = true;
                batch = batch
                    .if_equals(Table::Users, login.as_bytes(), raw_account)
                    .put(Table::Users, login.as_bytes(), repo::json(&account));
            }
        }
        for (k, v) in store.scan(Table::Tokens, b"", None, usize::MAX)? {
            let Ok(mut record) = serde_json::from_slice::<TokenRecord>(&v) else {
                continue;
            };
            if record.login == login && !record.revoked {
                record.revoked = true;
                record.revoked_at = Some(now);
                batch = batch.if_equals(Table::Tokens, k.clone(), v).put(
                    Table::Tokens,
                    k,
                    repo::json(&record),
                );
            }
        }
        match store.apply(batch) {
            Ok(()) => return Ok(Some(agent)),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Conflict("the agent keeps changing; try again".into()).into())
}

/// Adds "scan now" requests for the targets of `system` to every non-revoked agent assigned to
/// them (an agent with the target already pending keeps its earlier request). Answers the
/// agents and the targets.
pub fn request_scan(
    store: &dyn Store,
    data: &IndexData,
    system: SystemId,
    by: &str,
    now: Timestamp,
) -> Result<(Vec<AgentId>, Vec<String>), AgentError> {
    let Some(entry) = data.systems.get(&system) else {
        return Err(AgentError::NotFound);
    };
    let targets: Vec<String> = {
        let mut t: Vec<String> = entry
            .system
            .urls
            .iter()
            .filter_map(|u| url_target(u))
            .map(|(h, p, _)| format!("{h}:{p}"))
            .collect();
        t.sort();
        t.dedup();
        t
    };
    let mut agents = Vec::new();
    if entry.system.status != SystemStatus::InUse || targets.is_empty() {
        return Ok((agents, targets));
    }
    for agent in list_agents(store)? {
        if agent.revoked_at.is_some() {
            continue;
        }
        let Some(span) = agency_span(data, agent.agency) else {
            continue;
        };
        if !in_scope(data, span, system) {
            continue;
        }
        let targets = targets.clone();
        let updated = update_agent(store, &agent.login, |a| {
            let mut changed = false;
            for t in &targets {
                if !a.scan_now.iter().any(|s| &s.target == t) {
                    a.scan_now.push(ScanNow {
                        target: t.clone(),
                        requested_at: now,
                        requested_by: by.to_string(),
                    });
                    changed = true;
                }
            }
            Ok(changed && a.revoked_at.is_none())
        })?;
        if updated.is_some_and(|a| a.revoked_at.is_none()) {
            agents.push(agent.id);
        }
    }
    Ok((agents, targets))
}

/// How often an upload records `last_seen` at most (each record is a durable write).
pub const LAST_SEEN_GRANULARITY: SignedDuration = SignedDuration::from_secs(30);

/// Notes an upload by an agent: `last_seen`, and the "scan now" requests of `target` asked at
/// or before `started_at` are done. Writes only when something changes.
pub fn note_upload(
    store: &dyn Store,
    login: &str,
    target: &str,
    started_at: Timestamp,
    now: Timestamp,
) -> Result<(), AgentError> {
    update_agent(store, login, |a| {
        let before = a.scan_now.len();
        a.scan_now
            .retain(|s| !(s.target == target && s.requested_at <= started_at));
        let cleared = a.scan_now.len() != before;
        let stale = a
            .last_seen
            .is_none_or(|t| now.duration_since(t) >= LAST_SEEN_GRANULARITY);
        if stale || cleared {
            a.last_seen = Some(a.last_seen.map_or(now, |t| t.max(now)));
        }
        Ok(stale || cleared)
    })?;
    Ok(())
}

/// An agent as the API and `canhgac-server agent list --json` show it (`target_list` too
/// when `with_targets`).
pub fn view(
    agent: &Agent,
    data: &IndexData,
    now: Timestamp,
    with_targets: bool,
) -> serde_json::Value {
    let targets = assigned_targets(data, agent.agency);
    let mut v = serde_json::json!({
        "id": agent.id,
        "name": agent.name,
        "hostname": agent.hostname,
        "agency": agent.agency,
        "network": agent.network,
        "login": agent.login,
        "enrolled_at": agent.enrolled_at,
        "last_seen": agent.last_seen,
        "silent": agent.silent(now),
        "expected_interval_seconds": agent.schedule.interval_seconds,
        "health": agent.health,
        "targets": targets.len(),
        "schedule": agent.schedule,
        "scan_now": agent.scan_now,
        "revoked": agent.revoked_at.is_some(),
        "revoked_at": agent.revoked_at,
    });
    if with_targets {
        v["target_list"] = serde_json::json!(targets);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Agency, System};
    use crate::store::MemoryStore;

    fn now() -> Timestamp {
        "2026-11-23T03:00:00Z".parse().unwrap()
    }

    fn agency(store: &MemoryStore, name: &str, parent: Option<AgencyId>) -> AgencyId {
        let a = Agency {
            id: AgencyId::derived(now(), name.as_bytes()),
            name: name.into(),
            short_code: name.to_uppercase(),
            parent,
            contacts: vec![],
            retired: false,
            merged_into: None,
        };
        store
            .apply(Batch::new().put(Table::Agencies, a.id.to_string(), repo::json(&a)))
            .unwrap();
        a.id
    }

    fn system(
        store: &MemoryStore,
        name: &str,
        owner: AgencyId,
        urls: &[&str],
        retired: bool,
    ) -> SystemId {
        let s = System {
            id: SystemId::derived(now(), name.as_bytes()),
            name: name.into(),
            owner_agency: owner,
            operating_unit: owner,
            urls: urls.iter().map(|u| u.to_string()).collect(),
            hosting: String::new(),
            category: String::new(),
            proposed_level: None,
            approved: None,
            status: if retired {
                SystemStatus::Retired
            } else {
                SystemStatus::InUse
            },
            needs_redetermination: false,
        };
        store
            .apply(Batch::new().put(Table::Systems, s.id.to_string(), repo::json(&s)))
            .unwrap();
        s.id
    }

    fn admin(store: &MemoryStore) {
        auth::add_account(
            store,
            "admin",
            "A",
            Role::Administrator,
            None,
            Some("mật khẩu thử nghiệm"),
            now(),
        )
        .unwrap();
    }

    #[test]
    fn targets_come_from_the_agency_subtree_without_retired_systems() {
        let store = MemoryStore::new();
        let province = agency(&store, "ubnd", None);
        let sct = agency(&store, "sct", Some(province));
        let ttcntt = agency(&store, "ttcntt", Some(sct));
        let stp = agency(&store, "stp", Some(province));
        let a = system(
            &store,
            "a",
            sct,
            &["https://sct.example.gov.vn/", "http://sct.example.gov.vn"],
            false,
        );
        let b = system(
            &store,
            "b",
            ttcntt,
            &["dvc.example.gov.vn:8443", "https://SCT.example.gov.vn/x"],
            false,
        );
        system(&store, "old", sct, &["https://old.example.gov.vn/"], true);
        system(
            &store,
            "other",
            stp,
            &["https://stp.example.gov.vn/"],
            false,
        );
        let data = IndexData::load(&store).unwrap();
        let targets = assigned_targets(&data, sct);
        let keys: Vec<&str> = targets.iter().map(|t| t.target.as_str()).collect();
        assert_eq!(
            keys,
            [
                "dvc.example.gov.vn:8443",
                "sct.example.gov.vn:443",
                "sct.example.gov.vn:80"
            ]
        );
        let shared = &targets[1];
        assert_eq!(shared.url, "https://sct.example.gov.vn:443/");
        let mut both = vec![a, b];
        both.sort();
        assert_eq!(shared.systems, both);
        assert_eq!(targets[2].url, "http://sct.example.gov.vn:80/");
        // The sub-agency sees only its own; the province everything in use.
        assert_eq!(assigned_targets(&data, ttcntt).len(), 2);
        assert_eq!(assigned_targets(&data, province).len(), 4);
        // Ingestion's check agrees, retired systems and other agencies excluded.
        assert_eq!(
            systems_assigned(&data, sct, "www.sct.example.gov.vn", 443),
            both
        );
        assert!(systems_assigned(&data, sct, "sct.example.gov.vn", 8443).is_empty());
        assert!(systems_assigned(&data, sct, "old.example.gov.vn", 443).is_empty());
        assert!(systems_assigned(&data, sct, "stp.example.gov.vn", 443).is_empty());
        assert!(
            systems_assigned(
                &data,
                AgencyId::derived(now(), b"x"),
                "sct.example.gov.vn",
                443
            )
            .is_empty()
        );
    }

    #[test]
    fn silence_follows_the_checkin_interval() {
        let mut agent = Agent {
            id: AgentId::new(now()),
            name: "a".into(),
            hostname: "h".into(),
            agency: AgencyId::derived(now(), b"a"),
            network: "LAN".into(),
            login: "agent-x".into(),
            enrolled_at: now(),
            schedule: Schedule::default(),
            last_seen: None,
            health: None,
            scan_now: vec![],
            revoked_at: None,
        };
        assert!(agent.silent(now()), "never seen");
        agent.last_seen = Some(now());
        let at = |s: i64| now().checked_add(SignedDuration::from_secs(s)).unwrap();
        assert!(!agent.silent(at(300)), "5 minutes is the floor");
        assert!(agent.silent(at(301)));
        agent.schedule.checkin_seconds = 600;
        assert!(!agent.silent(at(1800)));
        assert!(agent.silent(at(1801)));
        agent.revoked_at = Some(now());
        assert!(!agent.silent(at(100_000)));
    }

    #[test]
    fn schedules_are_validated_and_changed_field_by_field() {
        assert!(Schedule::default().validate().is_ok());
        let change: ScheduleChange = serde_json::from_str(
            r#"{"interval_seconds": 3600, "window": {"start": "22:00", "end": "05:00"}}"#,
        )
        .unwrap();
        let s = change.apply(&Schedule::default()).unwrap();
        assert_eq!((s.interval_seconds, s.jitter_seconds), (3600, 600));
        assert_eq!(s.window.as_ref().unwrap().start, "22:00");
        let clear: ScheduleChange = serde_json::from_str(r#"{"window": null}"#).unwrap();
        assert_eq!(clear.apply(&s).unwrap().window, None);
        let keep: ScheduleChange = serde_json::from_str("{}").unwrap();
        assert_eq!(keep.apply(&s).unwrap(), s);
        for bad in [
            r#"{"interval_seconds": 10}"#,
            r#"{"jitter_seconds": 99999}"#,
            r#"{"checkin_seconds": 1}"#,
            r#"{"concurrency": 0}"#,
            r#"{"per_host": 9, "concurrency": 4}"#,
            r#"{"delay_ms": 600000}"#,
            r#"{"window": {"start": "25:00", "end": "05:00"}}"#,
            r#"{"window": {"start": "05:00", "end": "05:00"}}"#,
            r#"{"window": {"start": "5:00", "end": "06:00"}}"#,
        ] {
            let c: ScheduleChange = serde_json::from_str(bad).unwrap();
            assert!(c.apply(&Schedule::default()).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<ScheduleChange>(r#"{"speed": 1}"#).is_err());
    }

    #[test]
    fn enrollments_expire_and_are_used_once() {
        let store = MemoryStore::new();
        admin(&store);
        let sct = agency(&store, "sct", None);
        let s = system(&store, "a", sct, &["https://sct.example.gov.vn/"], false);
        assert!(
            create_enrollment(
                &store,
                AgencyId::derived(now(), b"none"),
                "LAN",
                "admin",
                24,
                Schedule::default(),
                now()
            )
            .is_err(),
            "unknown agency"
        );
        assert!(
            create_enrollment(&store, sct, "LAN", "admin", 0, Schedule::default(), now()).is_err()
        );
        assert!(
            create_enrollment(&store, sct, "LAN", "admin", 169, Schedule::default(), now())
                .is_err()
        );
        assert!(
            create_enrollment(&store, sct, " ", "admin", 1, Schedule::default(), now()).is_err()
        );
        let (secret, e) = create_enrollment(
            &store,
            sct,
            "LAN Sở Công Thương",
            "admin",
            1,
            Schedule::default(),
            now(),
        )
        .unwrap();
        assert!(secret.starts_with("cge_") && secret.len() == 47);
        assert!(
            store
                .get(Table::Enrollments, secret.as_bytes())
                .unwrap()
                .is_none(),
            "stored hashed"
        );
        let later = |s: i64| now().checked_add(SignedDuration::from_secs(s)).unwrap();
        // Expired at expires_at.
        assert!(matches!(
            enroll(&store, &secret, "a", "h", "0.1.0", later(3600)),
            Err(AgentError::EnrollmentInvalid)
        ));
        assert!(matches!(
            enroll(&store, "cge_unknown", "a", "h", "0.1.0", now()),
            Err(AgentError::EnrollmentInvalid)
        ));
        assert!(matches!(
            enroll(&store, &secret, " ", "h", "0.1.0", now()),
            Err(AgentError::Invalid(_))
        ));
        let done = enroll(
            &store,
            &secret,
            "agent-sct-01",
            "may-quet",
            "0.1.0",
            later(10),
        )
        .unwrap();
        assert_eq!(done.agent.agency, sct);
        assert!(done.agent.login.starts_with("agent-") && done.agent.login.len() == 14);
        let (account, _) = auth::authenticate_token(&store, &done.credential, later(11))
            .unwrap()
            .unwrap();
        assert_eq!(
            (account.role, account.login.as_str()),
            (Role::Agent, done.agent.login.as_str())
        );
        assert!(
            matches!(
                enroll(&store, &secret, "b", "h", "0.1.0", later(20)),
                Err(AgentError::EnrollmentInvalid)
            ),
            "single use"
        );
        let listed = list_enrollments(&store).unwrap();
        assert_eq!(listed[0].id, e.id);
        assert_eq!(listed[0].used.as_ref().unwrap().agent, done.agent.id);
        assert_eq!(
            get_agent(&store, done.agent.id).unwrap().unwrap().name,
            "agent-sct-01"
        );

        // Scan now: asked, kept once, cleared by a report started after the request.
        let data = IndexData::load(&store).unwrap();
        let (agents, targets) = request_scan(&store, &data, s, "admin", later(100)).unwrap();
        assert_eq!(
            (agents, targets.clone()),
            (
                vec![done.agent.id],
                vec!["sct.example.gov.vn:443".to_string()]
            )
        );
        request_scan(&store, &data, s, "admin", later(200)).unwrap();
        let a = agent_of(&store, &done.agent.login).unwrap().unwrap();
        assert_eq!(a.scan_now.len(), 1);
        assert_eq!(a.scan_now[0].requested_at, later(100));
        note_upload(&store, &a.login, &targets[0], later(50), later(300)).unwrap();
        assert_eq!(
            agent_of(&store, &a.login).unwrap().unwrap().scan_now.len(),
            1,
            "an older scan does not count"
        );
        note_upload(&store, &a.login, &targets[0], later(150), later(300)).unwrap();
        let a = agent_of(&store, &a.login).unwrap().unwrap();
        assert!(a.scan_now.is_empty());
        assert_eq!(a.last_seen, Some(later(300)));

        // Revoked: the token stops working, the account is disabled.
        revoke(&store, a.id, later(400)).unwrap().unwrap();
        assert!(
            auth::authenticate_token(&store, &done.credential, later(401))
                .unwrap()
                .is_none()
        );
        assert!(
            get_agent(&store, a.id)
                .unwrap()
                .unwrap()
                .revoked_at
                .is_some()
        );
        let (agents, _) = request_scan(&store, &data, s, "admin", later(500)).unwrap();
        assert!(agents.is_empty(), "revoked agents get no requests");
    }
}
