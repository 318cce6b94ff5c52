//! The in-memory read index behind the list routes (`GET /api/v1/systems`, `/dossiers`): every
//! agency, system and dossier in a compact form, with the lookups the filters need (agency
//! subtrees as pre-order intervals, letters by number and symbol, systems by host, dossiers by
//! system), so that a list request filters a few tens of thousands of entries in memory
//! instead of decoding them from the store.
//!
//! It is built from the store at start-up ([`Index::build`]) and kept up to date by
//! [`IndexedStore`], a [`Store`] that forwards every call to the real store and, after each
//! successful [`Batch`], re-reads the indexed records the batch touched (tables `agencies`,
//! `systems`, `dossiers`, `compliance`). Every write path that goes through the server's store
//! is therefore covered without calling anything. The re-read happens under the index's write
//! lock, so two concurrent writers of one record always leave the index with the value that was
//! committed last. If a re-read fails, the index marks itself stale and rebuilds from the store
//! at the next read.
//!
//! Writes made by another process (the CLI on a stopped store) are seen at the next start.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use canhgac_policies::content::normalise;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::model::{
    Agency, AgencyId, AgencyTree, Approval, Deadline, Dossier, DossierId, DossierState, LetterRef,
    Level, System, SystemId, SystemStatus, UserId,
};
use crate::store::{Batch, Op, Store, StoreError, StoreStats, Table};

/// Records read per scan while building.
const CHUNK: usize = 4096;

/// The latest evaluation of a system, as far as lists and the dashboard need it. Only the
/// first four fields are serialized (the `compliance` of `GET /api/v1/systems` items); the
/// others serve the dashboard's figures (`crate::web`), so that it never decodes summaries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeSummary {
    /// `A` to `F`.
    pub grade: String,
    /// 0 to 100.
    pub score: u32,
    /// The report evaluated.
    pub report: String,
    /// When that scan started.
    pub scanned_at: Timestamp,
    /// The level evaluated against (for the freshness window).
    #[serde(skip)]
    pub level: u8,
    /// The rules that failed, as evaluated at ingestion (before waivers).
    #[serde(skip)]
    pub failing: Vec<String>,
    /// The certificate's whole days left at the scan, from the evidence of `tls.cert_expiry`.
    #[serde(skip)]
    pub cert_days_left: Option<i64>,
    /// The domain registration's whole days left at the scan, from that of `domain.expiry`.
    #[serde(skip)]
    pub domain_days_left: Option<i64>,
}

#[derive(Deserialize)]
struct RawCompliance {
    report: String,
    scanned_at: Timestamp,
    evaluation: RawEvaluation,
}

#[derive(Deserialize)]
struct RawEvaluation {
    grade: String,
    score: u32,
    #[serde(default)]
    level: u8,
    #[serde(default)]
    results: Vec<RawResult>,
}

/// A rule's result, as far as [`GradeSummary`] keeps it.
#[derive(Deserialize)]
struct RawResult {
    rule: String,
    status: canhgac_policies::pack::Status,
    #[serde(default)]
    evidence: String,
}

impl RawResult {
    /// The number an `at_least` rule observed: its evidence reads `/path = 12 (minimum 30)`.
    fn observed(&self) -> Option<i64> {
        use canhgac_policies::pack::Status;
        if !matches!(self.status, Status::Pass | Status::Fail | Status::Warn) {
            return None;
        }
        let (_, value) = self.evidence.split_once(" = ")?;
        let n: f64 = value.split_whitespace().next()?.parse().ok()?;
        // Whole days, as the report counts them.
        n.is_finite().then(|| n.floor() as i64)
    }
}

/// A pre-order interval: `a` is within `b` when `b.0 <= a.0 && a.1 <= b.1`.
pub type Span = (u32, u32);

/// One system as indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemEntry {
    /// The record.
    pub system: System,
    /// `normalise` of its name, for sorting.
    pub name_key: String,
    /// `normalise` of its name, URLs and approval decision, fields separated by `\n`.
    pub search: String,
    /// The owner's interval (`None`: unknown agency).
    pub owner_span: Option<Span>,
    /// The operating unit's interval.
    pub unit_span: Option<Span>,
    /// The first letter of its latest grade (`b'A'` to `b'F'`), if evaluated.
    pub grade: Option<u8>,
    /// Its latest dossier (the one created last) and that dossier's state.
    pub latest: Option<(DossierId, DossierState)>,
}

impl SystemEntry {
    /// Its level: the approved one, else the proposed one.
    pub fn level(&self) -> Option<Level> {
        self.system
            .approved
            .as_ref()
            .map(|a| a.level)
            .or(self.system.proposed_level)
    }
}

/// One dossier as indexed: the dossier without its documents and rounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DossierEntry {
    /// Id.
    pub id: DossierId,
    /// Its system.
    pub system: SystemId,
    /// Where it stands.
    pub state: DossierState,
    /// The level proposed.
    pub proposed_level: Level,
    /// The covering letter.
    pub submitted_letter: Option<LetterRef>,
    /// The appraiser in charge.
    pub assignee: Option<UserId>,
    /// The running or paused time limit.
    pub deadline: Option<Deadline>,
    /// The approval decision.
    pub decision: Option<Approval>,
    /// Supplementation rounds so far.
    pub rounds: usize,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Every letter it mentions, as `(number, normalised symbol)` and date.
    #[serde(skip)]
    pub letters: Vec<((u32, String), Option<jiff::civil::Date>)>,
    /// `normalise` of its letters, fields separated by `\n`.
    #[serde(skip)]
    pub search: String,
    /// Its system's owner's interval (copied from the system's entry).
    #[serde(skip)]
    pub owner_span: Option<Span>,
    /// Its system's operating unit's interval.
    #[serde(skip)]
    pub unit_span: Option<Span>,
    /// Whether its system is in the index (dossiers of unknown systems are never listed).
    #[serde(skip)]
    pub system_known: bool,
}

/// The key of a letter: its number and `normalise` of its symbol, so "QĐ-UBND", "qd-ubnd" and
/// "QD UBND" are one symbol.
pub fn letter_key(number: u32, symbol: &str) -> (u32, String) {
    (number, normalise(symbol))
}

/// "2168/QĐ-UBND" as a letter key, if it has that form.
fn decision_key(text: &str) -> Option<(u32, String)> {
    let (number, symbol) = text.trim().split_once('/')?;
    let number: u32 = number.trim().parse().ok()?;
    let symbol = symbol.split_whitespace().next()?;
    (number > 0).then(|| letter_key(number, symbol))
}

impl DossierEntry {
    fn new(d: &Dossier) -> DossierEntry {
        let mut letters: Vec<((u32, String), Option<jiff::civil::Date>)> = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        let refs = d
            .submitted_letter
            .iter()
            .chain(d.rounds.iter().flat_map(|r| r.letter.iter()))
            .chain(d.rounds.iter().flat_map(|r| r.answer_letter.iter()));
        for l in refs {
            letters.push((letter_key(l.number, &l.symbol), Some(l.date)));
            texts.push(normalise(&format!("{}/{}", l.number, l.symbol)));
        }
        if let Some(decision) = &d.decision {
            if let Some(k) = decision_key(&decision.decision_number) {
                letters.push((k, Some(decision.decision_date)));
            }
            texts.push(normalise(&decision.decision_number));
        }
        letters.sort();
        letters.dedup();
        DossierEntry {
            id: d.id,
            system: d.system,
            state: d.state,
            proposed_level: d.proposed_level,
            submitted_letter: d.submitted_letter.clone(),
            assignee: d.assignee,
            deadline: d.deadline.clone(),
            decision: d.decision.clone(),
            rounds: d.rounds.len(),
            created_at: d.created_at,
            updated_at: d.updated_at,
            letters,
            search: texts.join("\n"),
            owner_span: None,
            unit_span: None,
            system_known: false,
        }
    }
}

/// The agencies, with pre-order intervals for "is within" checks in constant time.
#[derive(Debug, Default, Clone)]
pub struct Agencies {
    by_id: BTreeMap<AgencyId, Agency>,
    spans: HashMap<AgencyId, Span>,
    tree: Arc<AgencyTree>,
}

impl PartialEq for Agencies {
    fn eq(&self, other: &Agencies) -> bool {
        // The tree is made from `by_id`.
        self.by_id == other.by_id && self.spans == other.spans
    }
}

impl Eq for Agencies {}

impl Agencies {
    /// Recomputes the intervals: a depth-first walk from every root (an agency without a parent
    /// or whose parent is unknown), children in id order. Agencies on a parent cycle (which the
    /// API cannot create) are walked from the smallest id of the cycle.
    fn recompute(&mut self) {
        let mut children: BTreeMap<AgencyId, Vec<AgencyId>> = BTreeMap::new();
        for a in self.by_id.values() {
            if let Some(p) = a.parent
                && self.by_id.contains_key(&p)
            {
                children.entry(p).or_default().push(a.id);
            }
        }
        let mut spans: HashMap<AgencyId, Span> = HashMap::with_capacity(self.by_id.len());
        let mut clock = 0u32;
        let roots: Vec<AgencyId> = self
            .by_id
            .values()
            .filter(|a| a.parent.is_none_or(|p| !self.by_id.contains_key(&p)))
            .map(|a| a.id)
            .collect();
        let leftovers: Vec<AgencyId> = self.by_id.keys().copied().collect();
        for start in roots.into_iter().chain(leftovers) {
            if spans.contains_key(&start) {
                continue;
            }
            // Iterative DFS: (agency, next child index).
            let mut stack: Vec<(AgencyId, usize)> = vec![(start, 0)];
            spans.insert(start, (clock, 0));
            clock += 1;
            while let Some((id, next)) = stack.last_mut() {
                let kids = children.get(id).map(Vec::as_slice).unwrap_or(&[]);
                if let Some(&child) = kids.get(*next) {
                    *next += 1;
                    if let std::collections::hash_map::Entry::Vacant(e) = spans.entry(child) {
                        e.insert((clock, 0));
                        clock += 1;
                        stack.push((child, 0));
                    }
                } else {
                    let id = *id;
                    if let Some(s) = spans.get_mut(&id) {
                        s.1 = clock;
                    }
                    stack.pop();
                }
            }
        }
        self.spans = spans;
        let all: Vec<Agency> = self.by_id.values().cloned().collect();
        self.tree = Arc::new(AgencyTree::new(&all));
    }

    /// Every agency as an [`AgencyTree`] (shared: cloning the `Arc` is free), for handlers
    /// that would otherwise read all agencies from the store on each request.
    pub fn tree(&self) -> Arc<AgencyTree> {
        self.tree.clone()
    }

    /// The interval of an agency.
    pub fn span(&self, id: AgencyId) -> Option<Span> {
        self.spans.get(&id).copied()
    }

    /// The agency.
    pub fn get(&self, id: AgencyId) -> Option<&Agency> {
        self.by_id.get(&id)
    }

    /// Every agency, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Agency> {
        self.by_id.values()
    }

    /// How many agencies.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// Whether `inner` lies within `outer`.
pub fn within(inner: Option<Span>, outer: Span) -> bool {
    inner.is_some_and(|s| outer.0 <= s.0 && s.1 <= outer.1)
}

/// A system as the list filters read it: small and contiguous, kept in name order in
/// [`IndexData::system_rows`] so that a filter over every system streams through memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemRow {
    /// `normalise` of the name (the order; not read by filters).
    pub name_key: String,
    /// Id.
    pub id: SystemId,
    /// Owner's interval.
    pub owner_span: Option<Span>,
    /// Operating unit's interval.
    pub unit_span: Option<Span>,
    /// Level in force (approved, else proposed); 0 for none.
    pub level: u8,
    /// Proposed level; 0 for none.
    pub proposed: u8,
    /// Approved level; 0 for none.
    pub approved: u8,
    /// First letter of the latest grade; 0 for none.
    pub grade: u8,
    /// State of the latest dossier.
    pub latest: Option<DossierState>,
    /// Retired.
    pub retired: bool,
    /// Needs a new level determination.
    pub needs_redetermination: bool,
}

impl SystemRow {
    fn new(e: &SystemEntry) -> SystemRow {
        SystemRow {
            name_key: e.name_key.clone(),
            id: e.system.id,
            owner_span: e.owner_span,
            unit_span: e.unit_span,
            level: e.level().map_or(0, |l| l.get()),
            proposed: e.system.proposed_level.map_or(0, |l| l.get()),
            approved: e.system.approved.as_ref().map_or(0, |a| a.level.get()),
            grade: e.grade.unwrap_or(0),
            latest: e.latest.map(|(_, s)| s),
            retired: e.system.status == SystemStatus::Retired,
            needs_redetermination: e.system.needs_redetermination,
        }
    }
}

/// A dossier as the list filters read it, kept in id (creation) order in
/// [`IndexData::dossier_rows`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DossierRow {
    /// Id.
    pub id: DossierId,
    /// Its system.
    pub system: SystemId,
    /// Whether the system is in the index.
    pub system_known: bool,
    /// The system's owner's interval.
    pub owner_span: Option<Span>,
    /// The system's operating unit's interval.
    pub unit_span: Option<Span>,
    /// State.
    pub state: DossierState,
    /// Proposed level.
    pub level: u8,
    /// The deadline's last day.
    pub due: Option<jiff::civil::Date>,
    /// Whether the deadline is paused.
    pub paused: bool,
    /// Last changed.
    pub updated_at: Timestamp,
}

impl DossierRow {
    fn new(d: &DossierEntry) -> DossierRow {
        DossierRow {
            id: d.id,
            system: d.system,
            system_known: d.system_known,
            owner_span: d.owner_span,
            unit_span: d.unit_span,
            state: d.state,
            level: d.proposed_level.get(),
            due: d.deadline.as_ref().map(|dl| dl.due),
            paused: d
                .deadline
                .as_ref()
                .is_some_and(|dl| dl.paused_since.is_some()),
            updated_at: d.updated_at,
        }
    }
}

/// The indexed data. Read it through [`Index::read`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IndexData {
    /// Agencies.
    pub agencies: Agencies,
    /// Systems by id.
    pub systems: HashMap<SystemId, SystemEntry>,
    /// Systems in name order.
    pub systems_by_name: BTreeSet<(String, SystemId)>,
    /// Systems in id (creation) order.
    pub system_ids: BTreeSet<SystemId>,
    /// Dossiers in id (creation) order.
    pub dossiers: BTreeMap<DossierId, DossierEntry>,
    /// Dossiers of each system.
    pub dossiers_of: HashMap<SystemId, BTreeSet<DossierId>>,
    /// Dossiers by letter key.
    pub letters: HashMap<(u32, String), BTreeSet<DossierId>>,
    /// Systems by host (lower-case, without a leading `www.`), from their URLs.
    pub hosts: HashMap<String, BTreeSet<SystemId>>,
    /// The latest evaluation of each system that has one.
    pub grades: HashMap<SystemId, GradeSummary>,
    /// Every system's row, in name order.
    pub system_rows: Vec<SystemRow>,
    /// Every dossier's row, in id order.
    pub dossier_rows: Vec<DossierRow>,
    /// While loading, rows are made once at the end.
    rows_suspended: bool,
}

/// The host part of a system URL as [`IndexData::hosts`] keys it.
pub fn host_key(host: &str) -> String {
    host.trim_start_matches("www.").to_ascii_lowercase()
}

fn url_host(u: &str) -> Option<String> {
    let u = if u.contains("://") {
        u.to_string()
    } else {
        format!("https://{u}")
    };
    url::Url::parse(&u)
        .ok()?
        .host_str()
        .map(|h| host_key(h.trim_start_matches('[').trim_end_matches(']')))
}

fn decode<T: serde::de::DeserializeOwned>(
    table: Table,
    key: &[u8],
    raw: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(raw).map_err(|e| {
        StoreError::Corrupt(format!(
            "{} {}: {e}",
            table.name(),
            String::from_utf8_lossy(key)
        ))
    })
}

fn parse_key<T: std::str::FromStr>(table: Table, key: &[u8]) -> Result<T, StoreError> {
    std::str::from_utf8(key)
        .ok()
        .and_then(|k| k.parse().ok())
        .ok_or_else(|| {
            StoreError::Corrupt(format!(
                "{}: bad key {}",
                table.name(),
                String::from_utf8_lossy(key)
            ))
        })
}

fn scan_all(
    store: &dyn Store,
    table: Table,
    mut each: impl FnMut(&[u8], &[u8]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut after: Option<Vec<u8>> = None;
    loop {
        let rows = store.scan(table, b"", after.as_deref(), CHUNK)?;
        for (k, v) in &rows {
            each(k, v)?;
        }
        if rows.len() < CHUNK {
            return Ok(());
        }
        after = rows.last().map(|(k, _)| k.clone());
    }
}

impl IndexData {
    /// Everything, from the store.
    pub fn load(store: &dyn Store) -> Result<IndexData, StoreError> {
        let mut data = IndexData {
            rows_suspended: true,
            ..IndexData::default()
        };
        scan_all(store, Table::Agencies, |k, v| {
            let a: Agency = decode(Table::Agencies, k, v)?;
            data.agencies.by_id.insert(a.id, a);
            Ok(())
        })?;
        data.agencies.recompute();
        scan_all(store, Table::Compliance, |k, v| {
            let id: SystemId = parse_key(Table::Compliance, k)?;
            let raw: RawCompliance = decode(Table::Compliance, k, v)?;
            data.grades.insert(id, grade_of(raw));
            Ok(())
        })?;
        scan_all(store, Table::Systems, |k, v| {
            let s: System = decode(Table::Systems, k, v)?;
            data.put_system(s);
            Ok(())
        })?;
        scan_all(store, Table::Dossiers, |k, v| {
            let d: Dossier = decode(Table::Dossiers, k, v)?;
            data.put_dossier(&d);
            Ok(())
        })?;
        data.rows_suspended = false;
        data.rebuild_rows();
        Ok(data)
    }

    fn entry(&self, system: System) -> SystemEntry {
        let mut texts = vec![normalise(&system.name)];
        texts.extend(system.urls.iter().map(|u| normalise(u)));
        if let Some(a) = &system.approved {
            texts.push(normalise(&a.decision_number));
        }
        SystemEntry {
            name_key: normalise(&system.name),
            search: texts.join("\n"),
            owner_span: self.agencies.span(system.owner_agency),
            unit_span: self.agencies.span(system.operating_unit),
            grade: None,
            latest: None,
            system,
        }
    }

    fn remove_system(&mut self, id: SystemId) {
        if let Some(old) = self.systems.remove(&id) {
            self.systems_by_name.remove(&(old.name_key.clone(), id));
            if let Ok(pos) = self.system_row(&old.name_key, id)
                && !self.rows_suspended
            {
                self.system_rows.remove(pos);
            }
            self.system_ids.remove(&id);
            for u in &old.system.urls {
                if let Some(h) = url_host(u)
                    && let Some(set) = self.hosts.get_mut(&h)
                {
                    set.remove(&id);
                    if set.is_empty() {
                        self.hosts.remove(&h);
                    }
                }
            }
            self.sync_system(id);
        }
    }

    fn put_system(&mut self, system: System) {
        let id = system.id;
        self.remove_system(id);
        let entry = self.entry(system);
        self.systems_by_name.insert((entry.name_key.clone(), id));
        self.system_ids.insert(id);
        for u in &entry.system.urls {
            if let Some(h) = url_host(u) {
                self.hosts.entry(h).or_default().insert(id);
            }
        }
        self.systems.insert(id, entry);
        self.sync_system(id);
    }

    /// Copies what depends on both a system and its other records: the system's grade and
    /// latest dossier into its entry, its intervals into its dossiers' entries.
    fn sync_system(&mut self, id: SystemId) {
        let latest = self
            .dossiers_of
            .get(&id)
            .and_then(|set| set.last())
            .and_then(|d| self.dossiers.get(d))
            .map(|d| (d.id, d.state));
        let grade = self.grades.get(&id).and_then(|g| g.grade.bytes().next());
        let (owner_span, unit_span, known) = match self.systems.get_mut(&id) {
            Some(e) => {
                e.latest = latest;
                e.grade = grade;
                (e.owner_span, e.unit_span, true)
            }
            None => (None, None, false),
        };
        if let Some(e) = self.systems.get(&id)
            && !self.rows_suspended
        {
            let row = SystemRow::new(e);
            match self.system_row(&e.name_key, id) {
                Ok(pos) => self.system_rows[pos] = row,
                Err(pos) => self.system_rows.insert(pos, row),
            }
        }
        if let Some(set) = self.dossiers_of.get(&id) {
            for d in set {
                if let Some(entry) = self.dossiers.get_mut(d) {
                    entry.owner_span = owner_span;
                    entry.unit_span = unit_span;
                    entry.system_known = known;
                    if self.rows_suspended {
                        continue;
                    }
                    let row = DossierRow::new(entry);
                    match self.dossier_rows.binary_search_by(|r| r.id.cmp(d)) {
                        Ok(pos) => self.dossier_rows[pos] = row,
                        Err(pos) => self.dossier_rows.insert(pos, row),
                    }
                }
            }
        }
    }

    /// Where the row of a system is (or would go) in [`IndexData::system_rows`].
    fn system_row(&self, name_key: &str, id: SystemId) -> Result<usize, usize> {
        self.system_rows
            .binary_search_by(|r| (r.name_key.as_str(), r.id).cmp(&(name_key, id)))
    }

    fn remove_dossier(&mut self, id: DossierId) {
        if let Some(old) = self.dossiers.remove(&id) {
            if let Ok(pos) = self.dossier_rows.binary_search_by(|r| r.id.cmp(&id))
                && !self.rows_suspended
            {
                self.dossier_rows.remove(pos);
            }
            if let Some(set) = self.dossiers_of.get_mut(&old.system) {
                set.remove(&id);
                if set.is_empty() {
                    self.dossiers_of.remove(&old.system);
                }
            }
            for (k, _) in &old.letters {
                if let Some(set) = self.letters.get_mut(k) {
                    set.remove(&id);
                    if set.is_empty() {
                        self.letters.remove(k);
                    }
                }
            }
            self.sync_system(old.system);
        }
    }

    fn put_dossier(&mut self, d: &Dossier) {
        self.remove_dossier(d.id);
        let entry = DossierEntry::new(d);
        self.dossiers_of.entry(d.system).or_default().insert(d.id);
        for (k, _) in &entry.letters {
            self.letters.entry(k.clone()).or_default().insert(d.id);
        }
        self.dossiers.insert(d.id, entry);
        self.sync_system(d.system);
    }

    fn agencies_changed(&mut self) {
        self.agencies.recompute();
        let agencies = &self.agencies;
        for e in self.systems.values_mut() {
            e.owner_span = agencies.span(e.system.owner_agency);
            e.unit_span = agencies.span(e.system.operating_unit);
        }
        let systems = &self.systems;
        for d in self.dossiers.values_mut() {
            if let Some(e) = systems.get(&d.system) {
                d.owner_span = e.owner_span;
                d.unit_span = e.unit_span;
            }
        }
        self.rebuild_rows();
    }

    /// Makes every row again from the entries.
    fn rebuild_rows(&mut self) {
        self.system_rows = self
            .systems_by_name
            .iter()
            .filter_map(|(_, id)| self.systems.get(id))
            .map(SystemRow::new)
            .collect();
        self.dossier_rows = self.dossiers.values().map(DossierRow::new).collect();
    }

    /// The latest dossier of a system (the one created last).
    pub fn latest_dossier(&self, system: SystemId) -> Option<&DossierEntry> {
        self.dossiers_of
            .get(&system)
            .and_then(|set| set.last())
            .and_then(|id| self.dossiers.get(id))
    }

    /// The systems whose URLs name `host` (compare ports and schemes yourself).
    pub fn systems_for_host(&self, host: &str) -> Vec<System> {
        self.hosts
            .get(&host_key(host))
            .into_iter()
            .flatten()
            .filter_map(|id| self.systems.get(id))
            .map(|e| e.system.clone())
            .collect()
    }

    fn refresh(&mut self, store: &dyn Store, table: Table, key: &[u8]) -> Result<(), StoreError> {
        let value = store.get(table, key)?;
        match table {
            Table::Agencies => {
                let id: AgencyId = parse_key(table, key)?;
                match value {
                    Some(v) => {
                        let a: Agency = decode(table, key, &v)?;
                        self.agencies.by_id.insert(id, a);
                    }
                    None => {
                        self.agencies.by_id.remove(&id);
                    }
                }
                self.agencies_changed();
            }
            Table::Systems => {
                let id: SystemId = parse_key(table, key)?;
                match value {
                    Some(v) => self.put_system(decode(table, key, &v)?),
                    None => self.remove_system(id),
                }
            }
            Table::Dossiers => {
                let id: DossierId = parse_key(table, key)?;
                match value {
                    Some(v) => self.put_dossier(&decode(table, key, &v)?),
                    None => self.remove_dossier(id),
                }
            }
            Table::Compliance => {
                let id: SystemId = parse_key(table, key)?;
                match value {
                    Some(v) => {
                        let raw: RawCompliance = decode(table, key, &v)?;
                        self.grades.insert(id, grade_of(raw));
                    }
                    None => {
                        self.grades.remove(&id);
                    }
                }
                self.sync_system(id);
            }
            _ => {}
        }
        Ok(())
    }
}

fn grade_of(raw: RawCompliance) -> GradeSummary {
    let observed = |rule: &str| {
        raw.evaluation
            .results
            .iter()
            .find(|r| r.rule == rule)
            .and_then(RawResult::observed)
    };
    let cert_days_left = observed("tls.cert_expiry");
    let domain_days_left = observed("domain.expiry");
    let failing = raw
        .evaluation
        .results
        .iter()
        .filter(|r| r.status == canhgac_policies::pack::Status::Fail)
        .map(|r| r.rule.clone())
        .collect();
    GradeSummary {
        grade: raw.evaluation.grade,
        score: raw.evaluation.score,
        report: raw.report,
        scanned_at: raw.scanned_at,
        level: raw.evaluation.level,
        failing,
        cert_days_left,
        domain_days_left,
    }
}

/// Whether the index keeps records of this table.
pub fn indexed(table: Table) -> bool {
    matches!(
        table,
        Table::Agencies | Table::Systems | Table::Dossiers | Table::Compliance
    )
}

/// The read index (see the module documentation).
#[derive(Debug, Default)]
pub struct Index {
    data: RwLock<IndexData>,
    stale: AtomicBool,
}

impl Index {
    /// Builds the index from everything in the store.
    pub fn build(store: &dyn Store) -> Result<Index, StoreError> {
        Ok(Index {
            data: RwLock::new(IndexData::load(store)?),
            stale: AtomicBool::new(false),
        })
    }

    /// Reads the index (rebuilding it first if a refresh failed earlier). Hold the guard
    /// briefly: writers wait for it. Never write through the [`IndexedStore`] while holding
    /// it: the write's refresh would wait for the guard forever.
    pub fn read(&self, store: &dyn Store) -> Result<RwLockReadGuard<'_, IndexData>, StoreError> {
        if self.stale.load(Ordering::Acquire) {
            self.rebuild(store)?;
        }
        Ok(self.data.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Rebuilds everything from the store.
    pub fn rebuild(&self, store: &dyn Store) -> Result<(), StoreError> {
        let mut guard = self.data.write().unwrap_or_else(|e| e.into_inner());
        // Cleared before loading: a write landing meanwhile waits for the lock and refreshes
        // its record on top of the new data.
        self.stale.store(false, Ordering::Release);
        match IndexData::load(store) {
            Ok(data) => {
                *guard = data;
                Ok(())
            }
            Err(e) => {
                self.stale.store(true, Ordering::Release);
                Err(e)
            }
        }
    }

    /// Re-reads the records at `keys` (pairs of table and key; tables the index does not keep
    /// are skipped) from the store. Call it after a successful write that did not go through
    /// an [`IndexedStore`]; on failure the index rebuilds at the next read.
    pub fn refresh(&self, store: &dyn Store, keys: &[(Table, Vec<u8>)]) {
        if keys.iter().all(|(t, _)| !indexed(*t)) {
            return;
        }
        let mut guard = self.data.write().unwrap_or_else(|e| e.into_inner());
        for (table, key) in keys {
            if let Err(e) = guard.refresh(store, *table, key) {
                tracing::error!("read index: cannot refresh {} entry: {e}", table.name());
                self.stale.store(true, Ordering::Release);
                return;
            }
        }
    }

    /// Re-reads one system (and its compliance summary).
    pub fn refresh_system(&self, store: &dyn Store, id: SystemId) {
        let key = id.to_string().into_bytes();
        self.refresh(
            store,
            &[(Table::Systems, key.clone()), (Table::Compliance, key)],
        );
    }

    /// Re-reads one dossier.
    pub fn refresh_dossier(&self, store: &dyn Store, id: DossierId) {
        self.refresh(store, &[(Table::Dossiers, id.to_string().into_bytes())]);
    }

    /// Re-reads one agency.
    pub fn refresh_agency(&self, store: &dyn Store, id: AgencyId) {
        self.refresh(store, &[(Table::Agencies, id.to_string().into_bytes())]);
    }

    /// A copy of the data, for comparisons in tests.
    pub fn snapshot(&self) -> IndexData {
        self.data.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A store that keeps an [`Index`] up to date: every successful batch is followed by a refresh
/// of the indexed records it wrote or deleted.
pub struct IndexedStore {
    inner: Arc<dyn Store>,
    index: Arc<Index>,
}

impl IndexedStore {
    /// Wraps `inner`; `index` must have been built from it.
    pub fn new(inner: Arc<dyn Store>, index: Arc<Index>) -> IndexedStore {
        IndexedStore { inner, index }
    }
}

impl Store for IndexedStore {
    fn engine(&self) -> &'static str {
        self.inner.engine()
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(table, key)
    }

    #[allow(clippy::type_complexity)]
    fn scan(
        &self,
        table: Table,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        self.inner.scan(table, prefix, after, limit)
    }

    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        let touched: Vec<(Table, Vec<u8>)> = batch
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::Put { table, key, .. } | Op::Delete { table, key } if indexed(*table) => {
                    Some((*table, key.clone()))
                }
                _ => None,
            })
            .collect();
        self.inner.apply(batch)?;
        if !touched.is_empty() {
            self.index.refresh(self.inner.as_ref(), &touched);
        }
        Ok(())
    }

    fn backup(&self, dest: &std::path::Path) -> Result<(), StoreError> {
        self.inner.backup(dest)
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        self.inner.stats()
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;
    use crate::model::fixtures::{agency, system};
    use crate::model::{DeadlineStage, SupplementRound};
    use crate::repo::json;
    use crate::store::MemoryStore;

    fn put<T: Serialize>(store: &dyn Store, table: Table, key: String, value: &T) {
        store
            .apply(Batch::new().put(table, key, json(value)))
            .unwrap();
    }

    fn letter(n: u32, symbol: &str) -> LetterRef {
        LetterRef::new(n, symbol, date(2021, 5, 25)).unwrap()
    }

    #[test]
    fn the_index_equals_a_rebuild_after_a_mix_of_writes() {
        let raw: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let index = Arc::new(Index::build(raw.as_ref()).unwrap());
        let store = IndexedStore::new(raw.clone(), index.clone());
        let province = agency(1, "UBND tỉnh", None);
        let sct = agency(2, "Sở Công Thương", Some(province.id));
        let office = agency(3, "Văn phòng Sở", Some(sct.id));
        let other = agency(4, "Sở Tư pháp", Some(province.id));
        for a in [&province, &sct, &office, &other] {
            put(&store, Table::Agencies, a.id.to_string(), a);
        }
        let mut systems: Vec<System> = (0..6u8)
            .map(|n| {
                let unit = [&sct, &office, &other][usize::from(n % 3)];
                system(n, province.id, unit.id, 1 + n % 4)
            })
            .collect();
        for s in &systems {
            put(&store, Table::Systems, s.id.to_string(), s);
        }
        let at: Timestamp = "2026-01-05T03:00:00Z".parse().unwrap();
        let mut dossiers = Vec::new();
        for (n, s) in systems.iter().enumerate() {
            let mut d = Dossier::new_draft(
                DossierId::derived(at, &[n as u8]),
                s.id,
                s.proposed_level.unwrap(),
                at,
            );
            if n % 2 == 0 {
                d.state = DossierState::Submitted;
                d.submitted_letter = Some(letter(2559 + n as u32, "SCT-VP"));
                d.deadline = Some(Deadline {
                    stage: DeadlineStage::Appraisal,
                    count: canhgac_policies::pack::workflow::DayCount::WorkingDays,
                    due: date(2026, 2, 1),
                    paused_since: None,
                    days_left: None,
                });
            }
            put(&store, Table::Dossiers, d.id.to_string(), &d);
            dossiers.push(d);
        }
        // Updates: a rename, new URLs, a round with a letter, an approval, a move of an agency,
        // a deletion of each kind, and a compliance summary.
        systems[1].name = "Cổng dịch vụ công".into();
        systems[1].urls = vec!["https://www.dichvucong.example.gov.vn/".into()];
        put(
            &store,
            Table::Systems,
            systems[1].id.to_string(),
            &systems[1],
        );
        dossiers[0].state = DossierState::NeedsSupplement;
        dossiers[0].rounds.push(SupplementRound {
            number: 1,
            requested_at: at,
            letter: Some(letter(77, "STTTT-BCVT")),
            missing_items: vec!["Thuyết minh".into()],
            answered_at: None,
            answer_letter: None,
            documents: Vec::new(),
            request_documents: Vec::new(),
        });
        put(
            &store,
            Table::Dossiers,
            dossiers[0].id.to_string(),
            &dossiers[0],
        );
        dossiers[2].state = DossierState::Approved;
        dossiers[2].decision = Some(Approval {
            level: Level::new(2).unwrap(),
            decision_number: "2168/QĐ-UBND".into(),
            decision_date: date(2026, 3, 1),
        });
        put(
            &store,
            Table::Dossiers,
            dossiers[2].id.to_string(),
            &dossiers[2],
        );
        let moved = Agency {
            parent: Some(other.id),
            ..office.clone()
        };
        put(&store, Table::Agencies, moved.id.to_string(), &moved);
        store
            .apply(
                Batch::new()
                    .delete(Table::Systems, systems[5].id.to_string())
                    .delete(Table::Dossiers, dossiers[5].id.to_string()),
            )
            .unwrap();
        // A system handed to another unit; a system deleted while its dossier stays.
        systems[3].operating_unit = sct.id;
        put(
            &store,
            Table::Systems,
            systems[3].id.to_string(),
            &systems[3],
        );
        store
            .apply(Batch::new().delete(Table::Systems, systems[4].id.to_string()))
            .unwrap();
        let compliance = serde_json::json!({"system": systems[0].id, "report": "r1", "target": "ht0.example.gov.vn:443",
            "scanned_at": "2026-01-05T03:00:00Z", "evaluated_at": "2026-01-05T03:00:01Z",
            "evaluation": {"pack": "decree85", "pack_version": "1", "level": 1, "grade": "B", "score": 85, "counts": {}, "results": []}});
        put(
            &store,
            Table::Compliance,
            systems[0].id.to_string(),
            &compliance,
        );
        // A batch refused by its condition changes nothing.
        let refused = Batch::new()
            .if_absent(Table::Systems, systems[0].id.to_string())
            .put(Table::Systems, systems[0].id.to_string(), b"{}".to_vec());
        assert!(store.apply(refused).is_err());

        let fresh = Index::build(raw.as_ref()).unwrap().snapshot();
        let live = index.snapshot();
        assert_eq!(live, fresh);
        // And the lookups say what was written.
        assert_eq!(live.systems.len(), 4);
        assert_eq!(live.dossiers.len(), 5);
        assert!(!live.dossiers[&dossiers[4].id].system_known);
        assert_eq!(
            live.dossiers[&dossiers[3].id].unit_span,
            live.agencies.span(sct.id)
        );
        assert_eq!(
            live.systems[&systems[0].id].latest,
            Some((dossiers[0].id, DossierState::NeedsSupplement))
        );
        assert_eq!(live.systems[&systems[0].id].grade, Some(b'B'));
        assert_eq!(live.grades[&systems[0].id].grade, "B");
        assert!(live.letters.contains_key(&letter_key(77, "STTTT-BCVT")));
        assert!(live.letters.contains_key(&letter_key(2168, "qd ubnd")));
        assert!(!live.letters.contains_key(&letter_key(2564, "SCT-VP")));
        assert_eq!(
            live.systems_for_host("dichvucong.example.gov.vn")[0].id,
            systems[1].id
        );
        assert!(live.systems_for_host("ht1.example.gov.vn").is_empty());
        let office_span = live.agencies.span(office.id);
        assert!(within(office_span, live.agencies.span(other.id).unwrap()));
        assert!(!within(office_span, live.agencies.span(sct.id).unwrap()));
        assert!(within(
            office_span,
            live.agencies.span(province.id).unwrap()
        ));
        assert_eq!(
            live.systems[&systems[1].id].unit_span,
            live.agencies.span(office.id)
        );
    }

    #[test]
    fn grade_summaries_keep_failures_and_days_left() {
        use canhgac_policies::pack::{Pack, evaluate_value};
        let pack = Pack::decree85();
        let summary = |report: serde_json::Value| {
            let stored = serde_json::json!({"system": "s", "report": "r1", "target": "a.gov.vn:443",
                "scanned_at": "2026-11-20T02:00:00Z", "evaluated_at": "2026-11-20T02:00:01Z",
                "evaluation": evaluate_value(&pack, &report, 3)});
            grade_of(serde_json::from_value(stored).unwrap())
        };
        let g = summary(serde_json::json!({
            "target": {"host": "a.gov.vn", "port": 443},
            "tls": {"reachable": true, "certificate": {"days_left": 12, "key_bits": 2048, "key_type": "RSA"}},
            "domain": {"name": "a.gov.vn", "gov_vn": true, "expires_in_days": -3},
            "content": {"gambling_spam": false, "defacement": true}
        }));
        assert_eq!(g.level, 3);
        assert_eq!((g.cert_days_left, g.domain_days_left), (Some(12), Some(-3)));
        for rule in ["tls.cert_expiry", "domain.expiry", "content.defacement"] {
            assert!(
                g.failing.iter().any(|r| r == rule),
                "{rule}: {:?}",
                g.failing
            );
        }
        assert!(!g.failing.iter().any(|r| r == "content.gambling_spam"));
        // Nothing observed, no number; the lists' JSON keeps its four fields.
        let blind =
            summary(serde_json::json!({"target": {"host": "a.gov.vn", "port": 443}, "tls": null}));
        assert_eq!((blind.cert_days_left, blind.domain_days_left), (None, None));
        let listed = serde_json::to_value(&g).unwrap();
        let mut keys: Vec<&String> = listed.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["grade", "report", "scanned_at", "score"]);
    }

    #[test]
    fn intervals_agree_with_the_tree() {
        let root = agency(1, "UBND", None);
        let mut all = vec![root.clone()];
        for n in 2..40u8 {
            let parent = all[usize::from(n) / 3].id;
            all.push(agency(n, &format!("Đơn vị {n}"), Some(parent)));
        }
        let tree = crate::model::AgencyTree::new(&all);
        let mut agencies = Agencies::default();
        for a in &all {
            agencies.by_id.insert(a.id, a.clone());
        }
        agencies.recompute();
        for a in &all {
            for b in &all {
                assert_eq!(
                    within(agencies.span(a.id), agencies.span(b.id).unwrap()),
                    tree.is_within(a.id, b.id),
                    "{} in {}",
                    a.name,
                    b.name
                );
            }
        }
    }
}
