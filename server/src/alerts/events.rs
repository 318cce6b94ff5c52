//! Event alerts: a certificate or domain registration nearing expiry, a site unreachable for
//! longer than `unreachable_after`, a new critical failure, spam or defacement found by the
//! content probe, an agent silent past its schedule.
//!
//! [`detect`] lists the events true now, each under a deterministic key, so that the outbox
//! (which never sends a key twice) turns a condition that lasts for days into one e-mail:
//!
//! | event | key |
//! |---|---|
//! | certificate expiry | `cert/{system}/{expiry day}/{threshold days}` |
//! | domain expiry | `domain/{system}/{expiry day}/{threshold days}` |
//! | unreachable site | `unreachable/{system}/{since}` |
//! | new critical failure | `critical/{system}/{rule}/{since}` |
//! | spam or defacement | `content/{system}/{rule}/{since}` |
//! | silent agent | `silent/{agent}/{last seen or "never"}` |
//!
//! Instants in keys are UTC, `YYYYMMDDTHHMMSSZ`. Only the tightest expiry threshold crossed
//! alerts (30 days a warning, then 7 days an alarm: two e-mails in all); a renewed certificate
//! has another expiry day, so it alerts again when it nears. A failure alerts again only after
//! the rule passed in between (its `since` is then another scan). Waived rules (waivers valid
//! today) and retired systems never alert.
//!
//! What the keys need is kept in table `alerts`, under `event/`:
//! - `event/critical/{system}/{rule}`, `event/content/{system}/{rule}`: the scan in which a
//!   failure was first seen; deleted once the rule passes again (a rule that cannot be
//!   decided, e.g. while the site is down, keeps it);
//! - `event/expiry/{cert|domain}/{system}`: the expiry day first computed. The index keeps
//!   only the whole days left at a scan, so the day computed from two scans may differ by
//!   one; a day within one of the kept one is the kept one (a renewal moves it by months);
//! - `event/reach/{target}`: the latest report read for a target and, while its scans fail to
//!   connect, when that started (the first failed scan after the last successful one).
//!   Only new reports are read at each pass.
//!
//! While a system's latest evaluation comes from a scan that could not connect, its failures
//! (HTTPS unavailable, the name not resolving...) raise no critical alert: the unreachable
//! alert covers them once `unreachable_after` has passed, so a short outage sends nothing.
//!
//! Delivery: [`drafts`] writes one e-mail per event and recipient (immediate mode); in digest
//! mode, [`digest`] gathers them into one e-mail per recipient a day, sent at `digest_hour`
//! (Vietnam time). The digest of day D lists the events that appeared from D-1 at that hour
//! to D at that hour; records under `digest/{D}/{recipient}/{event key}` (and
//! `digest/seen/{event key}`, which makes an event go into exactly one digest) are pruned
//! after [`DIGEST_KEEP_DAYS`] days.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use canhgac_policies::pack::{Pack, Severity, Status};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use super::compose::{Body, dmy};
use super::facts::{vietnam_day, waivers_by_system};
use super::outbox::{self, Category, Draft};
use super::settings::{AlertSettings, AlertSeverity};
use crate::agents::Agent;
use crate::index::{GradeSummary, IndexData};
use crate::model::{AgencyId, Email, System, SystemId, SystemStatus};
use crate::repo;
use crate::store::{Batch, Store, StoreError, Table};
use crate::waivers::valid_by_rule;

/// Digest records (and the marks of events already in a digest) are kept this many days.
pub const DIGEST_KEEP_DAYS: i64 = 14;

/// Reports read at most when looking back for the start of an outage (first pass only).
const LOOK_BACK: usize = 500;

/// Reports read per scan of a target's new reports.
const CHUNK: usize = 64;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// A TLS certificate expires within a threshold.
    CertExpiry,
    /// A domain registration expires within a threshold.
    DomainExpiry,
    /// Scans could not connect to a site for longer than `unreachable_after`.
    Unreachable,
    /// A critical rule started failing.
    NewCritical,
    /// The content probe found spam or a defacement (a failing `content.` rule).
    Content,
    /// An agent stopped reporting.
    SilentAgent,
}

impl EventKind {
    /// Vietnamese label.
    pub fn label_vi(self) -> &'static str {
        match self {
            EventKind::CertExpiry => "Chứng thư số sắp hết hạn",
            EventKind::DomainExpiry => "Tên miền sắp hết hạn",
            EventKind::Unreachable => "Không truy cập được trang",
            EventKind::NewCritical => "Lỗi nghiêm trọng mới",
            EventKind::Content => "Nội dung lạ (cờ bạc, thay đổi giao diện)",
            EventKind::SilentAgent => "Máy giám sát không gửi báo cáo",
        }
    }
}

/// One event, true now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Stable key (see the module documentation): the same condition has the same key at
    /// every pass.
    pub key: String,
    /// What happened.
    pub kind: EventKind,
    /// How urgent.
    pub severity: AlertSeverity,
    /// The system concerned (none for an agent).
    pub system: Option<SystemId>,
    /// Whose contacts hear of it: the system's owner and operating unit, or the agent's agency.
    pub agencies: Vec<AgencyId>,
    /// What happened, one line in Vietnamese starting in lower case (the subject follows the
    /// severity label with it), e.g. "chứng thư số của Cổng X hết hạn sau 7 ngày".
    pub title_vi: String,
    /// Details, Vietnamese: the system, the facts, what to do.
    pub lines: Vec<String>,
}

/// The first character in upper case.
fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// An instant in keys: UTC, `YYYYMMDDTHHMMSSZ`.
fn compact(at: Timestamp) -> String {
    at.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// An instant for people: `HH:MM dd/mm/yyyy`, Vietnam time.
fn hm_dmy(at: Timestamp) -> String {
    let dt = jiff::tz::offset(7).to_datetime(at);
    format!("{:02}:{:02} {}", dt.hour(), dt.minute(), dmy(dt.date()))
}

/// Whole hours from `from` to `to`.
fn hours(from: Timestamp, to: Timestamp) -> i64 {
    to.duration_since(from).as_hours()
}

/// Whole days from `from` to `to`.
fn days_between(from: Date, to: Date) -> i64 {
    from.duration_until(to).as_hours() / 24
}

fn corrupt(key: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("alerts {key}: {e}"))
}

/// Every entry of table `alerts` under `prefix`, keys as text.
fn scan_state(store: &dyn Store, prefix: &str) -> Result<BTreeMap<String, Vec<u8>>, StoreError> {
    Ok(store
        .scan(Table::Alerts, prefix.as_bytes(), None, usize::MAX)?
        .into_iter()
        .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v))
        .collect())
}

/// Writes `value` under `key` unless a value is there; returns the value that holds (another
/// process may have written first).
fn put_once(store: &dyn Store, key: &str, value: Vec<u8>) -> Result<Vec<u8>, StoreError> {
    let batch = Batch::new()
        .if_absent(Table::Alerts, key)
        .put(Table::Alerts, key, value.clone());
    match store.apply(batch) {
        Ok(()) => Ok(value),
        Err(StoreError::Conflict(_)) => {
            Ok(store.get(Table::Alerts, key.as_bytes())?.unwrap_or(value))
        }
        Err(e) => Err(e),
    }
}

/// Replaces `old` by `value` under `key`; returns the value that holds.
fn replace(
    store: &dyn Store,
    key: &str,
    old: &[u8],
    value: Vec<u8>,
) -> Result<Vec<u8>, StoreError> {
    let batch = Batch::new()
        .if_equals(Table::Alerts, key, old.to_vec())
        .put(Table::Alerts, key, value.clone());
    match store.apply(batch) {
        Ok(()) => Ok(value),
        Err(StoreError::Conflict(_)) => {
            Ok(store.get(Table::Alerts, key.as_bytes())?.unwrap_or(value))
        }
        Err(e) => Err(e),
    }
}

/// The state writes of one detection pass, applied together at its end: one durable commit,
/// not one per target (a first pass over a province's 20,000 targets would otherwise wait for
/// 20,000 fsyncs). Each write keeps its condition; when another process wrote first, the batch
/// conflicts and the writes are applied one by one, each keeping the value that holds.
#[derive(Default)]
struct Pending {
    ops: Vec<(String, Option<Vec<u8>>, Vec<u8>)>,
}

impl Pending {
    /// [`put_once`], deferred; this pass goes on with `value`.
    fn put_once(&mut self, key: &str, value: Vec<u8>) -> Vec<u8> {
        self.ops.push((key.to_owned(), None, value.clone()));
        value
    }

    /// [`replace`], deferred; this pass goes on with `value`.
    fn replace(&mut self, key: &str, old: &[u8], value: Vec<u8>) -> Vec<u8> {
        self.ops
            .push((key.to_owned(), Some(old.to_vec()), value.clone()));
        value
    }

    /// Applies the writes.
    fn flush(self, store: &dyn Store) -> Result<(), StoreError> {
        if self.ops.is_empty() {
            return Ok(());
        }
        let mut batch = Batch::new();
        for (key, old, new) in &self.ops {
            batch = match old {
                None => batch.if_absent(Table::Alerts, key.as_str()),
                Some(old) => batch.if_equals(Table::Alerts, key.as_str(), old.clone()),
            }
            .put(Table::Alerts, key.as_str(), new.clone());
        }
        match store.apply(batch) {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(_)) => {
                for (key, old, new) in self.ops {
                    match old {
                        None => put_once(store, &key, new)?,
                        Some(old) => replace(store, &key, &old, new)?,
                    };
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reachability

/// What `event/reach/{target}` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Reach {
    /// The latest report read.
    report: String,
    /// The first failed scan of the current outage; `None` while the target answers.
    since: Option<Timestamp>,
}

/// The parts of a stored report that tell whether the target answered.
#[derive(Debug, Deserialize)]
struct ReachView {
    started_at: Timestamp,
    #[serde(default)]
    tls: Option<TlsView>,
    #[serde(default)]
    http: Option<HttpView>,
}

#[derive(Debug, Deserialize)]
struct TlsView {
    #[serde(default)]
    reachable: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct HttpView {
    #[serde(default)]
    endpoints: Vec<EndpointView>,
}

#[derive(Debug, Deserialize)]
struct EndpointView {
    #[serde(default)]
    reachable: bool,
}

impl ReachView {
    /// `Some(true)`: the TLS probe connected or some HTTP endpoint answered; `Some(false)`:
    /// the probes that ran could not connect; `None`: no probe says (neither ran).
    fn reached(&self) -> Option<bool> {
        let tls = self.tls.as_ref().and_then(|t| t.reachable);
        let endpoints = self
            .http
            .as_ref()
            .map_or(&[][..], |h| h.endpoints.as_slice());
        if tls == Some(true) || endpoints.iter().any(|e| e.reachable) {
            Some(true)
        } else if tls == Some(false) || !endpoints.is_empty() {
            Some(false)
        } else {
            None
        }
    }

    /// The outage start after this report, given the one before.
    fn step(&self, since: Option<Timestamp>) -> Option<Timestamp> {
        match self.reached() {
            Some(true) => None,
            Some(false) => since.or(Some(self.started_at)),
            None => since,
        }
    }
}

fn reach_view(raw: &[u8]) -> Option<ReachView> {
    // A report this module cannot read says nothing about reachability.
    serde_json::from_slice(raw).ok()
}

/// The reports of `target` after `after` (an id), oldest first, folded into the outage start.
fn read_forward(
    store: &dyn Store,
    target: &str,
    after: &str,
    mut since: Option<Timestamp>,
) -> Result<Option<Timestamp>, StoreError> {
    let prefix = format!("{target}/");
    let mut cursor = format!("{target}/{after}").into_bytes();
    loop {
        let chunk = store.scan(Table::Reports, prefix.as_bytes(), Some(&cursor), CHUNK)?;
        for (_, raw) in &chunk {
            if let Some(v) = reach_view(raw) {
                since = v.step(since);
            }
        }
        match chunk.last() {
            Some((k, _)) if chunk.len() == CHUNK => cursor = k.clone(),
            _ => return Ok(since),
        }
    }
}

/// The outage start of `target` read backwards from its latest report `latest` (first pass,
/// nothing kept yet): the reports are walked newest first until one connected.
fn read_backward(
    store: &dyn Store,
    target: &str,
    latest: &str,
) -> Result<Option<Timestamp>, StoreError> {
    let prefix = format!("{target}/");
    let mut ids: BTreeSet<String> = store
        .scan(Table::ReportOutcomes, prefix.as_bytes(), None, usize::MAX)?
        .into_iter()
        .map(|(k, _)| String::from_utf8_lossy(&k[prefix.len()..]).into_owned())
        .collect();
    ids.insert(latest.to_owned());
    let mut since = None;
    for id in ids
        .iter()
        .rev()
        .filter(|id| id.as_str() <= latest)
        .take(LOOK_BACK)
    {
        let Some(raw) = store.get(Table::Reports, format!("{target}/{id}").as_bytes())? else {
            continue;
        };
        let Some(v) = reach_view(&raw) else { continue };
        match v.reached() {
            Some(true) => break,
            Some(false) => since = Some(v.started_at),
            None => {}
        }
    }
    Ok(since)
}

/// Every target's reachability (from `Table::Latest` and the reports), keeping
/// `event/reach/{target}` up to date.
fn reachability(
    store: &dyn Store,
    pending: &mut Pending,
) -> Result<BTreeMap<String, Reach>, StoreError> {
    const PREFIX: &str = "event/reach/";
    let mut kept: HashMap<String, (Vec<u8>, Reach)> = HashMap::new();
    for (k, v) in scan_state(store, PREFIX)? {
        let reach: Reach = serde_json::from_slice(&v).map_err(|e| corrupt(&k, e))?;
        kept.insert(k[PREFIX.len()..].to_owned(), (v, reach));
    }
    let mut out = BTreeMap::new();
    let mut batch = Batch::new();
    for (k, v) in store.scan(Table::Latest, b"", None, usize::MAX)? {
        let target = String::from_utf8_lossy(&k).into_owned();
        let latest = String::from_utf8_lossy(&v).into_owned();
        let reach = match kept.remove(&target) {
            Some((_, old)) if old.report == latest => old,
            Some((raw, old)) => {
                let since = read_forward(store, &target, &old.report, old.since)?;
                let new = Reach {
                    report: latest,
                    since,
                };
                // Compare-and-set: two processes reading the same reports agree anyway.
                pending.replace(&format!("{PREFIX}{target}"), &raw, repo::json(&new));
                new
            }
            None => {
                let since = read_backward(store, &target, &latest)?;
                let new = Reach {
                    report: latest,
                    since,
                };
                pending.put_once(&format!("{PREFIX}{target}"), repo::json(&new));
                new
            }
        };
        out.insert(target, reach);
    }
    // Targets gone from `latest`.
    for target in kept.keys() {
        batch = batch.delete(Table::Alerts, format!("{PREFIX}{target}"));
    }
    if !batch.ops.is_empty() {
        store.apply(batch)?;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Detection

/// A system down, with its targets down and since when.
type DownSystem<'a> = (System, Vec<(&'a str, Timestamp)>);

/// What `event/critical/...` and `event/content/...` hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FirstSeen {
    /// When the scan that first showed the failure started.
    since: Timestamp,
    /// That report.
    report: String,
}

/// A compliance summary, as far as clearing a failure needs it.
#[derive(Deserialize)]
struct StoredSummary {
    evaluation: StoredEvaluation,
}

#[derive(Deserialize)]
struct StoredEvaluation {
    #[serde(default)]
    results: Vec<StoredResult>,
}

#[derive(Deserialize)]
struct StoredResult {
    rule: String,
    status: Status,
}

/// Facts about a system shared by its events.
struct SystemFacts<'a> {
    system: &'a System,
    agencies: Vec<AgencyId>,
    lines: Vec<String>,
}

fn system_facts<'a>(data: &IndexData, system: &'a System) -> SystemFacts<'a> {
    let name_of = |id: AgencyId| {
        data.agencies
            .get(id)
            .map_or_else(|| id.to_string(), |a| a.name.clone())
    };
    let mut agencies = vec![system.owner_agency];
    let mut lines = vec![format!("Hệ thống: {}", system.name)];
    if !system.urls.is_empty() {
        lines.push(format!("Địa chỉ: {}", system.urls.join(", ")));
    }
    lines.push(format!(
        "Cơ quan chủ quản: {}",
        name_of(system.owner_agency)
    ));
    if system.operating_unit != system.owner_agency {
        agencies.push(system.operating_unit);
        lines.push(format!(
            "Đơn vị vận hành: {}",
            name_of(system.operating_unit)
        ));
    }
    SystemFacts {
        system,
        agencies,
        lines,
    }
}

/// The rule's title as "what was found": "Không bị chèn nội dung cờ bạc" becomes
/// "bị chèn nội dung cờ bạc".
fn finding(title: &str) -> String {
    match title.strip_prefix("Không ") {
        Some(rest) => rest.to_owned(),
        None => format!("vi phạm \"{title}\""),
    }
}

/// The events true at `now` (see the module documentation), sorted by key. Reads the
/// waivers, the reports' reachability and the event state in table `alerts`, and updates
/// that state (never an indexed table: safe under the read index's guard).
pub fn detect(
    store: &dyn Store,
    data: &IndexData,
    pack: &Pack,
    agents: &[Agent],
    settings: &AlertSettings,
    now: Timestamp,
) -> Result<Vec<Event>, StoreError> {
    let today = vietnam_day(now);
    let waivers = waivers_by_system(store)?;
    let rules: HashMap<&str, &canhgac_policies::pack::Rule> =
        pack.rules.iter().map(|r| (r.spec.id.as_str(), r)).collect();
    let mut events = Vec::new();

    // Unreachable sites.
    let mut pending = Pending::default();
    let reach = reachability(store, &mut pending)?;
    let after = SignedDuration::try_from(settings.unreachable_after).unwrap_or(SignedDuration::MAX);
    let mut down: BTreeMap<SystemId, DownSystem<'_>> = BTreeMap::new();
    // Systems with a target down now, however briefly: their failures cannot be told apart
    // from the outage, so they neither alert nor clear.
    let mut undecided: HashSet<SystemId> = HashSet::new();
    for (target, r) in &reach {
        let Some(since) = r.since else { continue };
        let long = now.duration_since(since) >= after;
        let (host, port) = crate::compliance::split_target(target);
        for s in data.systems_for_host(host) {
            if s.status == SystemStatus::InUse && crate::compliance::serves(&s, host, port) {
                undecided.insert(s.id);
                if long {
                    down.entry(s.id)
                        .or_insert_with(|| (s.clone(), Vec::new()))
                        .1
                        .push((target.as_str(), since));
                }
            }
        }
    }
    for (id, (system, targets)) in &down {
        let Some(first) = targets.iter().map(|(_, s)| *s).min() else {
            continue;
        };
        let facts = system_facts(data, system);
        let mut lines = facts.lines.clone();
        for (target, since) in targets {
            lines.push(format!(
                "{target}: các lần quét không kết nối được từ {} ({} giờ)",
                hm_dmy(*since),
                hours(*since, now)
            ));
        }
        lines.push(
            "Khắc phục: kiểm tra máy chủ, dịch vụ web, đường truyền, tường lửa và bản ghi DNS của trang; nếu trang bị tấn công, báo ngay cho Sở Thông tin và Truyền thông.".to_owned(),
        );
        events.push(Event {
            key: format!("unreachable/{id}/{}", compact(first)),
            kind: EventKind::Unreachable,
            severity: AlertSeverity::Alarm,
            system: Some(*id),
            agencies: facts.agencies,
            title_vi: format!("không truy cập được {} từ {}", system.name, hm_dmy(first)),
            lines,
        });
    }

    // Expiries, new critical failures, content findings.
    const EXPIRY: &str = "event/expiry/";
    let expiry_state = scan_state(store, EXPIRY)?;
    let mut expiry_live: HashSet<String> = HashSet::new();
    let mut failure_state = scan_state(store, "event/critical/")?;
    failure_state.extend(scan_state(store, "event/content/")?);
    // Failure states to keep: failing now, waived, or not decidable now.
    let mut failure_keep: HashSet<String> = HashSet::new();
    for row in data.system_rows.iter().filter(|r| !r.retired) {
        let Some(entry) = data.systems.get(&row.id) else {
            continue;
        };
        let Some(g) = data.grades.get(&row.id) else {
            continue;
        };
        let system = &entry.system;
        let facts = system_facts(data, system);
        let valid = waivers
            .get(&row.id)
            .map(|w| valid_by_rule(w, today))
            .unwrap_or_default();
        for (kind, rule, left) in [
            (EventKind::CertExpiry, "tls.cert_expiry", g.cert_days_left),
            (EventKind::DomainExpiry, "domain.expiry", g.domain_days_left),
        ] {
            let Some(left) = left else { continue };
            if valid.contains_key(rule) {
                continue;
            }
            if let Some(e) = expiry_event(
                &mut pending,
                &expiry_state,
                &mut expiry_live,
                &facts,
                g,
                kind,
                left,
                settings,
                today,
            )? {
                events.push(e);
            }
        }
        if undecided.contains(&row.id) {
            continue;
        }
        for rule_id in &g.failing {
            let content = rule_id.starts_with("content.");
            let rule = rules.get(rule_id.as_str());
            let critical = rule.is_some_and(|r| r.spec.severity == Severity::Critical);
            if !content && !critical {
                continue;
            }
            let (kind, tag) = if content {
                (EventKind::Content, "content")
            } else {
                (EventKind::NewCritical, "critical")
            };
            let state_key = format!("event/{tag}/{}/{rule_id}", row.id);
            failure_keep.insert(state_key.clone());
            if valid.contains_key(rule_id.as_str()) {
                continue;
            }
            let raw = match failure_state.get(&state_key) {
                Some(raw) => raw.clone(),
                None => pending.put_once(
                    &state_key,
                    repo::json(&FirstSeen {
                        since: g.scanned_at,
                        report: g.report.clone(),
                    }),
                ),
            };
            let seen: FirstSeen =
                serde_json::from_slice(&raw).map_err(|e| corrupt(&state_key, e))?;
            let title = rule.map_or_else(|| rule_id.clone(), |r| r.texts.title_vi.to_string());
            let mut lines = facts.lines.clone();
            lines.push(format!(
                "Quy tắc: {rule_id} — {title} (mức độ: {})",
                rule.map_or("critical", |r| severity_name(r.spec.severity))
            ));
            lines.push(format!(
                "Phát hiện lần đầu trong lần quét lúc {}; lần quét gần nhất lúc {}",
                hm_dmy(seen.since),
                hm_dmy(g.scanned_at)
            ));
            if let Some(r) = rule
                && !r.texts.remediation_vi.is_empty()
            {
                lines.push(format!("Khắc phục: {}", r.texts.remediation_vi));
            }
            let title_vi = if content {
                format!("{} có dấu hiệu {}", system.name, finding(&title))
            } else {
                format!("{} không đạt yêu cầu nghiêm trọng: {title}", system.name)
            };
            events.push(Event {
                key: format!("{tag}/{}/{rule_id}/{}", row.id, compact(seen.since)),
                kind,
                severity: AlertSeverity::Alarm,
                system: Some(row.id),
                agencies: facts.agencies.clone(),
                title_vi,
                lines,
            });
        }
    }

    // The pass's new state, in one commit.
    pending.flush(store)?;

    // Clear what no longer holds.
    let mut batch = Batch::new();
    for key in expiry_state.keys().filter(|k| !expiry_live.contains(*k)) {
        batch = batch.delete(Table::Alerts, key.as_str());
    }
    for key in failure_state.keys().filter(|k| !failure_keep.contains(*k)) {
        if failure_cleared(store, data, key, &undecided)? {
            batch = batch.delete(Table::Alerts, key.as_str());
        }
    }
    if !batch.ops.is_empty() {
        store.apply(batch)?;
    }

    // Silent agents.
    for agent in agents {
        if agent.revoked_at.is_none() && agent.silent(now) {
            // A new agent has its schedule's grace before it counts as silent.
            if agent.last_seen.is_none()
                && now.duration_since(agent.enrolled_at) <= agent.schedule.silence_after()
            {
                continue;
            }
            events.push(silent_event(data, agent, now));
        }
    }
    events.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(events)
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// Whether the failure kept under `key` (`event/{critical|content}/{system}/{rule}`) is over:
/// the system is gone or retired, or its current summary says the rule passes (or is not
/// required at its level); a rule that cannot be decided now keeps it.
fn failure_cleared(
    store: &dyn Store,
    data: &IndexData,
    key: &str,
    undecided: &HashSet<SystemId>,
) -> Result<bool, StoreError> {
    let mut parts = key.splitn(4, '/');
    let (Some(_), Some(_), Some(system), Some(rule)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(true);
    };
    let Ok(id) = system.parse::<SystemId>() else {
        return Ok(true);
    };
    match data.systems.get(&id) {
        Some(e) if e.system.status == SystemStatus::InUse => {}
        _ => return Ok(true),
    }
    if undecided.contains(&id) {
        return Ok(false);
    }
    let Some(raw) = store.get(Table::Compliance, system.as_bytes())? else {
        return Ok(true);
    };
    let summary: StoredSummary =
        serde_json::from_slice(&raw).map_err(|e| corrupt(&format!("compliance {system}"), e))?;
    let status = summary
        .evaluation
        .results
        .iter()
        .find(|r| r.rule == rule)
        .map(|r| r.status);
    Ok(!matches!(status, Some(Status::Unknown | Status::Fail)))
}

/// The expiry event of one certificate or domain, if a threshold is crossed.
#[allow(clippy::too_many_arguments)]
fn expiry_event(
    pending: &mut Pending,
    state: &BTreeMap<String, Vec<u8>>,
    live: &mut HashSet<String>,
    facts: &SystemFacts<'_>,
    g: &GradeSummary,
    kind: EventKind,
    left: i64,
    settings: &AlertSettings,
    today: Date,
) -> Result<Option<Event>, StoreError> {
    let Some(at) = left
        .checked_mul(24)
        .and_then(|h| g.scanned_at.checked_add(SignedDuration::from_hours(h)).ok())
    else {
        return Ok(None);
    };
    let computed = vietnam_day(at);
    let (tag, what) = match kind {
        EventKind::CertExpiry => ("cert", "chứng thư số"),
        _ => ("domain", "tên miền"),
    };
    let id = facts.system.id;
    let state_key = format!("event/expiry/{tag}/{id}");
    let kept = state.get(&state_key);
    let kept_day = kept
        .and_then(|raw| std::str::from_utf8(raw).ok())
        .and_then(|t| t.parse::<Date>().ok());
    let on = match kept_day {
        Some(d) if days_between(d, computed).abs() <= 1 => d,
        _ => computed,
    };
    let days = days_between(today, on);
    let Some(threshold) = settings
        .expiry_thresholds
        .iter()
        .filter(|t| days <= t.days)
        .min_by_key(|t| t.days)
    else {
        return Ok(None);
    };
    live.insert(state_key.clone());
    if kept_day != Some(on) {
        let value = on.to_string().into_bytes();
        let held = match kept {
            Some(old) => pending.replace(&state_key, old, value),
            None => pending.put_once(&state_key, value),
        };
        if held != on.to_string().into_bytes() {
            // Another process kept another day: use its.
            return Ok(None);
        }
    }
    let when = match days {
        d if d > 0 => format!("hết hạn sau {d} ngày"),
        0 => "hết hạn hôm nay".to_owned(),
        d => format!("đã hết hạn {} ngày", -d),
    };
    let mut lines = facts.lines.clone();
    lines.push(format!(
        "{} hết hạn ngày {} (ngưỡng {}: {} ngày)",
        capitalize(what),
        dmy(on),
        threshold.severity.label_vi().to_lowercase(),
        threshold.days
    ));
    lines.push(format!("Theo lần quét lúc {}", hm_dmy(g.scanned_at)));
    lines.push(match kind {
        EventKind::CertExpiry => {
            "Khắc phục: gia hạn hoặc thay chứng thư số và cài đặt lên máy chủ trước ngày hết hạn (gửi đủ chuỗi chứng thư).".to_owned()
        }
        _ => "Khắc phục: gia hạn tên miền với nhà đăng ký trước ngày hết hạn.".to_owned(),
    });
    Ok(Some(Event {
        key: format!("{tag}/{id}/{on}/{}", threshold.days),
        kind,
        severity: threshold.severity,
        system: Some(id),
        agencies: facts.agencies.clone(),
        title_vi: format!("{what} của {} {when}", facts.system.name),
        lines,
    }))
}

fn silent_event(data: &IndexData, agent: &Agent, now: Timestamp) -> Event {
    let agency = data
        .agencies
        .get(agent.agency)
        .map_or_else(|| agent.agency.to_string(), |a| a.name.clone());
    let (seen_key, title, seen_line) = match agent.last_seen {
        Some(t) => (
            compact(t),
            format!(
                "máy giám sát {} ({}) không gửi báo cáo từ {}",
                agent.name,
                agent.network,
                hm_dmy(t)
            ),
            format!(
                "Lần báo cáo cuối: {} ({} giờ trước)",
                hm_dmy(t),
                hours(t, now)
            ),
        ),
        None => (
            "never".to_owned(),
            format!(
                "máy giám sát {} ({}) chưa từng gửi báo cáo",
                agent.name, agent.network
            ),
            format!(
                "Chưa từng báo cáo kể từ khi đăng ký lúc {}",
                hm_dmy(agent.enrolled_at)
            ),
        ),
    };
    Event {
        key: format!("silent/{}/{seen_key}", agent.id),
        kind: EventKind::SilentAgent,
        severity: AlertSeverity::Warning,
        system: None,
        agencies: vec![agent.agency],
        title_vi: title,
        lines: vec![
            format!("Máy giám sát (agent): {} trên máy {}", agent.name, agent.hostname),
            format!("Mạng: {}", agent.network),
            format!("Đơn vị: {agency}"),
            seen_line,
            format!(
                "Chu kỳ báo cáo: {} giây; coi là mất liên lạc sau {} phút không báo cáo",
                agent.schedule.checkin_seconds,
                agent.schedule.silence_after().as_mins()
            ),
            "Khắc phục: kiểm tra máy chạy agent, dịch vụ canhgac-agent và kết nối tới máy chủ canhgac; trong thời gian này các trang của đơn vị không được quét.".to_owned(),
        ],
    }
}

// ---------------------------------------------------------------------------------------------
// Messages

/// Who hears of an event: the contacts of its agencies (retired ones excepted) and the
/// security staff, each address once (compared without case), in that order.
pub fn recipients(event: &Event, data: &IndexData, settings: &AlertSettings) -> Vec<Email> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let contacts = event
        .agencies
        .iter()
        .filter_map(|id| data.agencies.get(*id))
        .filter(|a| !a.retired)
        .flat_map(|a| a.contacts.iter());
    for to in contacts.chain(settings.security_staff.iter()) {
        if seen.insert(to.as_str().to_lowercase()) {
            out.push(to.clone());
        }
    }
    out
}

/// The subject of one event's e-mail: `[canhgac] Khẩn cấp: chứng thư số của X hết hạn sau 7
/// ngày`.
pub fn subject(event: &Event) -> String {
    format!(
        "[canhgac] {}: {}",
        event.severity.label_vi(),
        event.title_vi
    )
}

/// Immediate mode: one e-mail per event and recipient, key `event/{event key}/{recipient}`
/// (the address in lower case).
pub fn drafts(
    events: &[Event],
    data: &IndexData,
    settings: &AlertSettings,
    now: Timestamp,
) -> Vec<Draft> {
    let mut out = Vec::new();
    for event in events {
        let to = recipients(event, data, settings);
        if to.is_empty() {
            continue;
        }
        let mut b = Body::default();
        b.para(&format!(
            "{}: {}.",
            event.severity.label_vi(),
            capitalize(&event.title_vi)
        ));
        b.section(
            event.kind.label_vi(),
            &event
                .lines
                .iter()
                .map(|l| (l.clone(), Vec::new()))
                .collect::<Vec<_>>(),
        );
        b.para(&format!(
            "Ghi nhận lúc {}. Thư này chỉ gửi một lần cho sự kiện này; đề nghị đơn vị kiểm tra và khắc phục.",
            hm_dmy(now)
        ));
        let composed = b.finish(subject(event));
        for recipient in to {
            out.push(Draft {
                key: format!("event/{}/{}", event.key, recipient.as_str().to_lowercase()),
                category: Category::Event,
                to: recipient,
                subject: composed.subject.clone(),
                text: composed.text.clone(),
                html: composed.html.clone(),
                attachments: Vec::new(),
            });
        }
    }
    out
}

/// A digest record: `digest/{day}/{recipient}/{event key}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DigestEntry {
    to: Email,
    event: Event,
}

const SEEN: &str = "digest/seen/";

/// Digest mode: records the events not yet in any digest under the digest day they belong
/// to (today before `digest_hour`, Vietnam time; tomorrow from that hour on), prunes records
/// older than [`DIGEST_KEEP_DAYS`], and returns one e-mail per recipient for each day whose
/// hour has come and whose digest is not in the outbox yet (today's from `digest_hour` on;
/// earlier days' at once, should a digest have been missed while the server was down). Key
/// `digest/{yyyy-mm-dd}/{recipient}`, category [`Category::Digest`], alarms listed first.
pub fn digest(
    store: &dyn Store,
    events: &[Event],
    data: &IndexData,
    settings: &AlertSettings,
    now: Timestamp,
) -> Result<Vec<Draft>, StoreError> {
    let local = jiff::tz::offset(7).to_datetime(now);
    let today = local.date();
    let hour_passed = local.hour() >= i8::try_from(settings.digest_hour).unwrap_or(i8::MAX);
    let day = if hour_passed {
        today.tomorrow().unwrap_or(today)
    } else {
        today
    };

    // Record the new events.
    for event in events {
        let mark = format!("{SEEN}{}", event.key);
        if store.get(Table::Alerts, mark.as_bytes())?.is_some() {
            continue;
        }
        let mut batch = Batch::new().if_absent(Table::Alerts, mark.as_str()).put(
            Table::Alerts,
            mark.as_str(),
            day.to_string().into_bytes(),
        );
        for to in recipients(event, data, settings) {
            let key = format!("digest/{day}/{}/{}", to.as_str().to_lowercase(), event.key);
            batch = batch.put(
                Table::Alerts,
                key,
                repo::json(&DigestEntry {
                    to,
                    event: event.clone(),
                }),
            );
        }
        match store.apply(batch) {
            // Another process recorded it first.
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }

    // Prune.
    let cutoff = today.checked_sub(DIGEST_KEEP_DAYS.days()).unwrap_or(today);
    let current: HashSet<&str> = events.iter().map(|e| e.key.as_str()).collect();
    let mut batch = Batch::new();
    for (k, _) in store.scan(Table::Alerts, b"digest/", None, usize::MAX)? {
        let key = String::from_utf8_lossy(&k);
        let Some(rest) = key.strip_prefix("digest/") else {
            continue;
        };
        let Some((first, _)) = rest.split_once('/') else {
            continue;
        };
        match first.parse::<Date>() {
            Ok(d) if d < cutoff => batch = batch.delete(Table::Alerts, k.clone()),
            Ok(_) => {}
            // Past the dated records (digits sort first): the marks come next.
            Err(_) => break,
        }
    }
    for (k, v) in scan_state(store, SEEN)? {
        let old = std::str::from_utf8(&v)
            .ok()
            .and_then(|t| t.parse::<Date>().ok())
            .is_none_or(|d| d < cutoff);
        if old && !current.contains(&k[SEEN.len()..]) {
            batch = batch.delete(Table::Alerts, k);
        }
    }
    if !batch.ops.is_empty() {
        store.apply(batch)?;
    }

    // The digests due.
    let last = if hour_passed {
        Some(today)
    } else {
        today.yesterday().ok()
    };
    let mut out = Vec::new();
    let Some(last) = last else {
        return Ok(out);
    };
    let mut d = cutoff;
    while d <= last {
        let prefix = format!("digest/{d}/");
        let mut by_recipient: BTreeMap<String, (Email, Vec<Event>)> = BTreeMap::new();
        for (k, v) in store.scan(Table::Alerts, prefix.as_bytes(), None, usize::MAX)? {
            let entry: DigestEntry =
                serde_json::from_slice(&v).map_err(|e| corrupt(&String::from_utf8_lossy(&k), e))?;
            by_recipient
                .entry(entry.to.as_str().to_lowercase())
                .or_insert_with(|| (entry.to.clone(), Vec::new()))
                .1
                .push(entry.event);
        }
        for (lower, (to, list)) in by_recipient {
            let key = format!("digest/{d}/{lower}");
            if outbox::get(store, &key)?.is_some() {
                continue;
            }
            let composed = digest_message(d, list);
            out.push(Draft {
                key,
                category: Category::Digest,
                to,
                subject: composed.subject,
                text: composed.text,
                html: composed.html,
                attachments: Vec::new(),
            });
        }
        match d.tomorrow() {
            Ok(next) => d = next,
            Err(_) => break,
        }
    }
    Ok(out)
}

/// One recipient's digest of `day`: alarms first, then warnings, each by kind and key.
fn digest_message(day: Date, mut list: Vec<Event>) -> super::compose::Composed {
    list.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.kind.cmp(&b.kind))
            .then(a.key.cmp(&b.key))
    });
    let alarms = list
        .iter()
        .filter(|e| e.severity == AlertSeverity::Alarm)
        .count();
    let subject = format!(
        "[canhgac] Bản tin cảnh báo ngày {}: {} sự kiện ({} khẩn cấp)",
        dmy(day),
        list.len(),
        alarms
    );
    let mut b = Body::default();
    b.para(&format!(
        "Bản tin tổng hợp các cảnh báo sự kiện ghi nhận trong ngày {}: {} sự kiện, trong đó {} khẩn cấp. Mỗi sự kiện chỉ có trong một bản tin.",
        dmy(day),
        list.len(),
        alarms
    ));
    for severity in [AlertSeverity::Alarm, AlertSeverity::Warning] {
        let items: Vec<(String, Vec<String>)> = list
            .iter()
            .filter(|e| e.severity == severity)
            .map(|e| {
                (
                    format!("[{}] {}", e.kind.label_vi(), capitalize(&e.title_vi)),
                    e.lines.clone(),
                )
            })
            .collect();
        if !items.is_empty() {
            b.section(
                &format!("{} ({})", severity.label_vi(), items.len()),
                &items,
            );
        }
    }
    b.finish(subject)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::agents::{AgentId, Schedule};
    use crate::alerts::settings::Threshold;
    use crate::model::Agency;
    use crate::model::fixtures::{agency, system};
    use crate::store::MemoryStore;
    use crate::waivers::Waiver;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn put<T: Serialize>(store: &dyn Store, table: Table, key: String, value: &T) {
        store
            .apply(Batch::new().put(table, key, repo::json(value)))
            .unwrap();
    }

    struct World {
        store: MemoryStore,
        pack: Pack,
        province: Agency,
        sct: Agency,
        /// Owned by the province, run by the department.
        portal: System,
        /// Retired.
        old: System,
    }

    fn world() -> World {
        let store = MemoryStore::new();
        let province = agency(1, "UBND tỉnh", None);
        let mut sct = agency(2, "Sở Công Thương", Some(province.id));
        sct.contacts = vec![
            Email::new("vanthu@sct.example.gov.vn").unwrap(),
            Email::new("SOC@stttt.example.gov.vn").unwrap(),
        ];
        let portal = system(1, province.id, sct.id, 2);
        let mut old = system(2, sct.id, sct.id, 2);
        old.status = SystemStatus::Retired;
        for a in [&province, &sct] {
            put(&store, Table::Agencies, a.id.to_string(), a);
        }
        for s in [&portal, &old] {
            put(&store, Table::Systems, s.id.to_string(), s);
        }
        World {
            store,
            pack: Pack::decree85(),
            province,
            sct,
            portal,
            old,
        }
    }

    /// Stores `system`'s summary of report `report` scanned at `scanned`, with these results
    /// (`rule`, `status`, `evidence`).
    fn summary(
        store: &dyn Store,
        system: &System,
        report: &str,
        scanned: &str,
        results: &[(&str, &str, &str)],
    ) {
        let results: Vec<serde_json::Value> = results
            .iter()
            .map(|(rule, status, evidence)| {
                serde_json::json!({"rule": rule, "status": status, "severity": "critical",
                    "title_vi": rule, "title_en": rule, "evidence": evidence})
            })
            .collect();
        let value = serde_json::json!({"system": system.id, "report": report,
            "target": "ht1.example.gov.vn:443", "scanned_at": scanned, "evaluated_at": scanned,
            "evaluation": {"pack": "decree85", "pack_version": "1", "level": 2, "grade": "C",
                "score": 60, "counts": {}, "results": results}});
        put(store, Table::Compliance, system.id.to_string(), &value);
    }

    fn settings() -> AlertSettings {
        AlertSettings {
            security_staff: vec![
                Email::new("soc@stttt.example.gov.vn").unwrap(),
                Email::new("attt@stttt.example.gov.vn").unwrap(),
            ],
            ..AlertSettings::default()
        }
    }

    fn detect_at(w: &World, s: &AlertSettings, agents: &[Agent], now: &str) -> Vec<Event> {
        let data = IndexData::load(&w.store).unwrap();
        detect(&w.store, &data, &w.pack, agents, s, at(now)).unwrap()
    }

    fn cert(days: i64) -> (&'static str, &'static str, String) {
        let status = if days < 30 { "fail" } else { "pass" };
        (
            "tls.cert_expiry",
            status,
            format!("/tls/certificate/days_left = {days} (minimum 30)"),
        )
    }

    fn with_cert(w: &World, system: &System, report: &str, scanned: &str, days: i64) {
        let (rule, status, evidence) = cert(days);
        summary(
            &w.store,
            system,
            report,
            scanned,
            &[(rule, status, &evidence)],
        );
    }

    #[test]
    fn expiry_alerts_at_the_tightest_threshold_only_and_keeps_its_key() {
        let w = world();
        let s = AlertSettings {
            expiry_thresholds: vec![
                Threshold {
                    days: 7,
                    severity: AlertSeverity::Alarm,
                },
                Threshold {
                    days: 30,
                    severity: AlertSeverity::Warning,
                },
            ],
            ..settings()
        };
        // 40 days left: nothing.
        with_cert(&w, &w.portal, "r1", "2026-08-01T01:00:00Z", 40);
        assert!(detect_at(&w, &s, &[], "2026-08-01T02:00:00Z").is_empty());
        // 25 days left (expires 26/08): a warning at the 30-day threshold.
        with_cert(&w, &w.portal, "r2", "2026-08-01T03:00:00Z", 25);
        let first = detect_at(&w, &s, &[], "2026-08-01T04:00:00Z");
        assert_eq!(first.len(), 1, "{first:?}");
        let e = &first[0];
        assert_eq!(e.kind, EventKind::CertExpiry);
        assert_eq!(e.severity, AlertSeverity::Warning);
        assert_eq!(e.key, format!("cert/{}/2026-08-26/30", w.portal.id));
        assert_eq!(e.agencies, vec![w.province.id, w.sct.id]);
        assert!(e.title_vi.contains("hết hạn sau 25 ngày"), "{}", e.title_vi);
        // Next tick, and a rescan at another hour whose whole days land on the day before
        // (the certificate ends 26/08 03:00 UTC; scanned 02/08 10:00 UTC: 23 days and 17 hours
        // left, counted 23, which points at 25/08): the same key.
        assert_eq!(detect_at(&w, &s, &[], "2026-08-01T05:00:00Z")[0].key, e.key);
        with_cert(&w, &w.portal, "r3", "2026-08-02T10:00:00Z", 23);
        let again = detect_at(&w, &s, &[], "2026-08-02T11:00:00Z");
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].key, e.key, "the expiry day is kept within one day");
        // 6 days left: only the 7-day alarm, not the 30-day warning too.
        with_cert(&w, &w.portal, "r4", "2026-08-20T01:00:00Z", 6);
        let near = detect_at(&w, &s, &[], "2026-08-20T02:00:00Z");
        assert_eq!(near.len(), 1, "{near:?}");
        assert_eq!(near[0].severity, AlertSeverity::Alarm);
        assert_eq!(near[0].key, format!("cert/{}/2026-08-26/7", w.portal.id));
        assert_eq!(
            subject(&near[0]),
            "[canhgac] Khẩn cấp: chứng thư số của Hệ thống thông tin số 1 hết hạn sau 6 ngày"
        );
        // Renewed: nothing, and the kept day goes.
        with_cert(&w, &w.portal, "r5", "2026-08-21T01:00:00Z", 365);
        assert!(detect_at(&w, &s, &[], "2026-08-21T02:00:00Z").is_empty());
        assert!(scan_state(&w.store, "event/expiry/").unwrap().is_empty());
        // A year later the new certificate nears: a new key.
        with_cert(&w, &w.portal, "r6", "2027-07-25T01:00:00Z", 26);
        let next = detect_at(&w, &s, &[], "2027-07-25T02:00:00Z");
        assert_eq!(next[0].key, format!("cert/{}/2027-08-20/30", w.portal.id));
        // The retired system never alerts, whatever its summary says.
        with_cert(&w, &w.old, "r7", "2027-07-25T01:00:00Z", 2);
        let keys: Vec<String> = detect_at(&w, &s, &[], "2027-07-25T02:00:00Z")
            .into_iter()
            .map(|e| e.key)
            .collect();
        assert!(
            keys.iter().all(|k| !k.contains(&w.old.id.to_string())),
            "{keys:?}"
        );
    }

    fn waiver(system: &System, rule: &str, expires_on: Date) -> Waiver {
        let t = at("2026-08-01T00:00:00Z");
        Waiver {
            id: crate::changes::new_id(t),
            system: system.id,
            rule: rule.into(),
            reason: "Đang xử lý".into(),
            expires_on,
            created_by: "thamdinh".into(),
            created_at: t,
            revoked: None,
        }
    }

    #[test]
    fn waived_rules_do_not_alert_until_the_waiver_ends() {
        let w = world();
        let s = settings();
        summary(
            &w.store,
            &w.portal,
            "r1",
            "2026-08-02T01:00:00Z",
            &[
                ("http.exposed_files", "fail", "/.env exposed"),
                (
                    "tls.cert_expiry",
                    "fail",
                    "/tls/certificate/days_left = 3 (minimum 30)",
                ),
            ],
        );
        for rule in ["http.exposed_files", "tls.cert_expiry"] {
            let wv = waiver(&w.portal, rule, jiff::civil::date(2026, 8, 10));
            put(&w.store, Table::Waivers, wv.key(), &wv);
        }
        assert!(detect_at(&w, &s, &[], "2026-08-02T02:00:00Z").is_empty());
        // The day after the waivers' last day both alert.
        let after = detect_at(&w, &s, &[], "2026-08-11T02:00:00Z");
        let kinds: Vec<EventKind> = after.iter().map(|e| e.kind).collect();
        assert_eq!(kinds.len(), 2, "{after:?}");
        assert!(kinds.contains(&EventKind::NewCritical));
        assert!(kinds.contains(&EventKind::CertExpiry));
    }

    #[test]
    fn a_critical_failure_alerts_again_only_after_passing_in_between() {
        let w = world();
        let s = settings();
        let fail = |report: &str, scanned: &str| {
            summary(
                &w.store,
                &w.portal,
                report,
                scanned,
                &[
                    ("http.exposed_files", "fail", "/.git exposed"),
                    (
                        "content.gambling_spam",
                        "fail",
                        "/content/gambling_spam = true",
                    ),
                    ("tls.hsts", "fail", "not critical"),
                ],
            )
        };
        fail("r1", "2026-08-01T01:00:00Z");
        let first = detect_at(&w, &s, &[], "2026-08-01T02:00:00Z");
        let keys: Vec<&str> = first.iter().map(|e| e.key.as_str()).collect();
        let id = w.portal.id;
        assert_eq!(
            keys,
            [
                format!("content/{id}/content.gambling_spam/20260801T010000Z"),
                format!("critical/{id}/http.exposed_files/20260801T010000Z"),
            ]
        );
        assert_eq!(first[0].kind, EventKind::Content);
        assert!(
            first[0]
                .title_vi
                .contains("có dấu hiệu bị chèn nội dung cờ bạc")
        );
        assert!(first[1].lines.iter().any(|l| l.starts_with("Khắc phục: ")));
        // Still failing in a later scan: the same keys.
        fail("r2", "2026-08-02T01:00:00Z");
        let same: Vec<String> = detect_at(&w, &s, &[], "2026-08-02T02:00:00Z")
            .into_iter()
            .map(|e| e.key)
            .collect();
        assert_eq!(same, keys);
        // Undecided (the probe did not say): kept, no alert.
        summary(
            &w.store,
            &w.portal,
            "r3",
            "2026-08-03T01:00:00Z",
            &[
                ("http.exposed_files", "unknown", ""),
                ("content.gambling_spam", "pass", ""),
            ],
        );
        assert!(detect_at(&w, &s, &[], "2026-08-03T02:00:00Z").is_empty());
        let kept = scan_state(&w.store, "event/").unwrap();
        assert!(kept.contains_key(&format!("event/critical/{id}/http.exposed_files")));
        assert!(!kept.contains_key(&format!("event/content/{id}/content.gambling_spam")));
        // Passing, then failing again: a new key for the exposed files.
        summary(
            &w.store,
            &w.portal,
            "r4",
            "2026-08-04T01:00:00Z",
            &[("http.exposed_files", "pass", "")],
        );
        assert!(detect_at(&w, &s, &[], "2026-08-04T02:00:00Z").is_empty());
        assert!(scan_state(&w.store, "event/critical/").unwrap().is_empty());
        fail("r5", "2026-08-05T01:00:00Z");
        let again: Vec<String> = detect_at(&w, &s, &[], "2026-08-05T02:00:00Z")
            .into_iter()
            .map(|e| e.key)
            .collect();
        assert!(again.contains(&format!(
            "critical/{id}/http.exposed_files/20260805T010000Z"
        )));
        assert!(!again.contains(&keys[1].to_string()));
    }

    fn report(store: &dyn Store, target: &str, id: &str, started: &str, reachable: bool) {
        let value = serde_json::json!({"id": id, "started_at": started,
            "target": {"host": "ht1.example.gov.vn", "port": 443},
            "tls": {"reachable": reachable}, "http": null});
        put(store, Table::Reports, format!("{target}/{id}"), &value);
        put(
            store,
            Table::ReportOutcomes,
            format!("{target}/{id}"),
            &serde_json::json!({}),
        );
        store
            .apply(Batch::new().put(Table::Latest, target, id.as_bytes().to_vec()))
            .unwrap();
    }

    #[test]
    fn a_site_is_unreachable_once_its_scans_fail_for_the_configured_time() {
        let w = world();
        let s = AlertSettings {
            unreachable_after: Duration::from_secs(6 * 3600),
            ..settings()
        };
        let target = "ht1.example.gov.vn:443";
        let id = w.portal.id;
        report(&w.store, target, "01", "2026-08-01T00:00:00Z", true);
        report(&w.store, target, "02", "2026-08-01T02:00:00Z", false);
        report(&w.store, target, "03", "2026-08-01T04:00:00Z", false);
        // The evaluation of the failed scan says HTTPS is missing: no critical alert for that.
        summary(
            &w.store,
            &w.portal,
            "03",
            "2026-08-01T04:00:00Z",
            &[("tls.https_available", "fail", "none present")],
        );
        // First pass (reads back through the history): down since 02:00, for 3 hours.
        assert!(detect_at(&w, &s, &[], "2026-08-01T05:00:00Z").is_empty());
        // Later scans fail too (read forward); past six hours: one event, since the first.
        report(&w.store, target, "04", "2026-08-01T06:00:00Z", false);
        summary(
            &w.store,
            &w.portal,
            "04",
            "2026-08-01T06:00:00Z",
            &[("tls.https_available", "fail", "")],
        );
        let down = detect_at(&w, &s, &[], "2026-08-01T08:30:00Z");
        assert_eq!(down.len(), 1, "{down:?}");
        assert_eq!(down[0].kind, EventKind::Unreachable);
        assert_eq!(down[0].key, format!("unreachable/{id}/20260801T020000Z"));
        assert!(
            down[0].title_vi.contains("từ 09:00 01/08/2026"),
            "{}",
            down[0].title_vi
        );
        report(&w.store, target, "05", "2026-08-01T08:00:00Z", false);
        assert_eq!(
            detect_at(&w, &s, &[], "2026-08-01T09:00:00Z")[0].key,
            down[0].key
        );
        // Back: nothing; down again later: another key.
        report(&w.store, target, "06", "2026-08-01T10:00:00Z", true);
        summary(
            &w.store,
            &w.portal,
            "06",
            "2026-08-01T10:00:00Z",
            &[("tls.https_available", "pass", "")],
        );
        assert!(detect_at(&w, &s, &[], "2026-08-01T10:30:00Z").is_empty());
        report(&w.store, target, "07", "2026-08-02T00:00:00Z", false);
        let later = detect_at(&w, &s, &[], "2026-08-02T07:00:00Z");
        assert_eq!(later[0].key, format!("unreachable/{id}/20260802T000000Z"));
    }

    fn agent(n: u8, agency: AgencyId, last_seen: Option<&str>, enrolled: &str) -> Agent {
        let t = at(enrolled);
        Agent {
            id: AgentId::new(t),
            name: format!("agent-{n}"),
            hostname: format!("may{n}"),
            agency,
            network: "LAN Sở".into(),
            login: format!("agent-{n}"),
            enrolled_at: t,
            schedule: Schedule::default(),
            last_seen: last_seen.map(at),
            health: None,
            scan_now: Vec::new(),
            revoked_at: None,
        }
    }

    #[test]
    fn silent_agents_alert_once_per_silence() {
        let w = world();
        let s = settings();
        let quiet = agent(
            1,
            w.sct.id,
            Some("2026-08-01T00:00:00Z"),
            "2026-07-01T00:00:00Z",
        );
        let busy = agent(
            2,
            w.sct.id,
            Some("2026-08-01T00:59:00Z"),
            "2026-07-01T00:00:00Z",
        );
        let never = agent(3, w.sct.id, None, "2026-07-01T00:00:00Z");
        let fresh = agent(4, w.sct.id, None, "2026-08-01T00:58:00Z");
        let mut revoked = agent(5, w.sct.id, None, "2026-07-01T00:00:00Z");
        revoked.revoked_at = Some(at("2026-07-02T00:00:00Z"));
        let all = [quiet.clone(), busy, never.clone(), fresh, revoked];
        let events = detect_at(&w, &s, &all, "2026-08-01T01:00:00Z");
        let mut keys: Vec<String> = events.iter().map(|e| e.key.clone()).collect();
        keys.sort();
        let mut want = vec![
            format!("silent/{}/20260801T000000Z", quiet.id),
            format!("silent/{}/never", never.id),
        ];
        want.sort();
        assert_eq!(keys, want);
        assert!(events.iter().all(|e| e.agencies == vec![w.sct.id]
            && e.severity == AlertSeverity::Warning
            && e.system.is_none()));
        // Heard from again, then silent again: another key.
        let back = Agent {
            last_seen: Some(at("2026-08-02T00:00:00Z")),
            ..quiet
        };
        let later = detect_at(&w, &s, std::slice::from_ref(&back), "2026-08-02T03:00:00Z");
        assert_eq!(later[0].key, format!("silent/{}/20260802T000000Z", back.id));
    }

    #[test]
    fn drafts_go_once_to_each_contact_and_the_staff() {
        let w = world();
        let s = settings();
        with_cert(&w, &w.portal, "r1", "2026-08-01T01:00:00Z", 5);
        let data = IndexData::load(&w.store).unwrap();
        let events = detect(
            &w.store,
            &data,
            &w.pack,
            &[],
            &s,
            at("2026-08-01T02:00:00Z"),
        )
        .unwrap();
        let drafts = drafts(&events, &data, &s, at("2026-08-01T02:00:00Z"));
        let to: Vec<&str> = drafts.iter().map(|d| d.to.as_str()).collect();
        // The province's fixture contact, the department's two (one is also staff, in another
        // case), then the other staff address.
        assert_eq!(
            to,
            [
                "vanthu@example.gov.vn",
                "vanthu@sct.example.gov.vn",
                "SOC@stttt.example.gov.vn",
                "attt@stttt.example.gov.vn"
            ]
        );
        let d = &drafts[2];
        assert_eq!(
            d.key,
            format!("event/{}/soc@stttt.example.gov.vn", events[0].key)
        );
        assert_eq!(d.category, Category::Event);
        assert!(
            d.subject
                .starts_with("[canhgac] Khẩn cấp: chứng thư số của ")
        );
        assert!(
            d.text.contains("Chứng thư số hết hạn ngày 06/08/2026"),
            "{}",
            d.text
        );
        assert!(
            d.html
                .contains("<li>Khắc phục: gia hạn hoặc thay chứng thư số")
        );
        // Queued once across ticks.
        assert_eq!(
            outbox::enqueue(&w.store, drafts.clone(), at("2026-08-01T02:00:00Z")).unwrap(),
            4
        );
        let events = detect(
            &w.store,
            &data,
            &w.pack,
            &[],
            &s,
            at("2026-08-01T03:00:00Z"),
        )
        .unwrap();
        let again = super::drafts(&events, &data, &s, at("2026-08-01T03:00:00Z"));
        assert_eq!(
            outbox::enqueue(&w.store, again, at("2026-08-01T03:00:00Z")).unwrap(),
            0
        );
    }

    #[test]
    fn the_digest_gathers_a_days_events_per_recipient_at_its_hour() {
        let w = world();
        let s = AlertSettings {
            digest: true,
            digest_hour: 7,
            security_staff: vec![Email::new("soc@stttt.example.gov.vn").unwrap()],
            ..settings()
        };
        let data = IndexData::load(&w.store).unwrap();
        let event = |key: &str, severity| Event {
            key: key.into(),
            kind: EventKind::Unreachable,
            severity,
            system: Some(w.portal.id),
            agencies: vec![w.sct.id],
            title_vi: format!("sự kiện {key}"),
            lines: vec![format!("chi tiết {key}")],
        };
        let run = |events: &[Event], now: &str| {
            let drafts = digest(&w.store, events, &data, &s, at(now)).unwrap();
            outbox::enqueue(&w.store, drafts.clone(), at(now)).unwrap();
            drafts
        };
        let a = event("a", AlertSeverity::Warning);
        let b = event("b", AlertSeverity::Alarm);
        // 05:00 and 06:30 in Vietnam on 01/08: recorded, nothing sent.
        assert!(run(std::slice::from_ref(&a), "2026-07-31T22:00:00Z").is_empty());
        assert!(run(&[a.clone(), b.clone()], "2026-07-31T23:30:00Z").is_empty());
        // 07:10: one digest per recipient (the department's two contacts; the staff address
        // once), the alarm first.
        let sent = run(&[a.clone(), b.clone()], "2026-08-01T00:10:00Z");
        let keys: Vec<&str> = sent.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "digest/2026-08-01/soc@stttt.example.gov.vn",
                "digest/2026-08-01/vanthu@sct.example.gov.vn"
            ]
        );
        let text = &sent[0].text;
        assert_eq!(sent[0].category, Category::Digest);
        assert!(
            sent[0]
                .subject
                .contains("01/08/2026: 2 sự kiện (1 khẩn cấp)"),
            "{}",
            sent[0].subject
        );
        let (ia, ib) = (
            text.find("Sự kiện a").unwrap(),
            text.find("Sự kiện b").unwrap(),
        );
        assert!(ib < ia, "alarms first:\n{text}");
        // 08:00: a new event goes to tomorrow's digest; today's is not sent again.
        let c = event("c", AlertSeverity::Warning);
        assert!(run(&[a.clone(), b.clone(), c.clone()], "2026-08-01T01:00:00Z").is_empty());
        // Before 07:00 the next day: nothing; at 07:00: c alone (a and b still true).
        assert!(run(&[a.clone(), b.clone(), c.clone()], "2026-08-01T23:59:00Z").is_empty());
        let next = run(&[a.clone(), b.clone(), c.clone()], "2026-08-02T00:00:00Z");
        assert_eq!(next.len(), 2);
        assert!(next[0].key.starts_with("digest/2026-08-02/"));
        assert!(next[0].text.contains("Sự kiện c"));
        assert!(!next[0].text.contains("Sự kiện a") && !next[0].text.contains("Sự kiện b"));
        // Weeks later the day records are gone; marks of events still true stay.
        assert!(run(std::slice::from_ref(&a), "2026-08-20T00:00:00Z").is_empty());
        let left: Vec<String> = scan_state(&w.store, "digest/")
            .unwrap()
            .into_keys()
            .collect();
        assert_eq!(left, ["digest/seen/a"]);
    }
}
