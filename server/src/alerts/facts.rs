//! What a holiday letter says about one agency, read from live evidence: the read index
//! (systems, their latest evaluation, dossiers), the waivers and the agents. Nothing here
//! sends or formats; [`super::compose`] writes the letters.
//!
//! A system belongs in the letter of its owner (cơ quan chủ quản) and, when different, of its
//! operating unit (đơn vị vận hành): both must act before the holiday.

use std::collections::{BTreeMap, HashMap};

use canhgac_policies::pack::{Pack, Severity};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::agents::Agent;
use crate::index::IndexData;
use crate::model::{AgencyId, DossierState, Email, SystemId};
use crate::waivers::{Waiver, valid_by_rule};

/// A failing rule of a system, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailingRule {
    /// Rule id, e.g. `tls.legacy_protocols`.
    pub rule: String,
    /// Vietnamese title.
    pub title_vi: String,
    /// Severity as written in the pack: `critical`, `high`...
    pub severity: String,
    /// Whether it is critical.
    pub critical: bool,
    /// What to do (Vietnamese).
    pub remediation_vi: String,
}

/// A system that fails its level now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailingSystem {
    /// Id.
    pub system: SystemId,
    /// Name.
    pub name: String,
    /// Its first URL.
    pub url: String,
    /// Level in force.
    pub level: u8,
    /// Grade of the latest scan.
    pub grade: String,
    /// When that scan ran.
    pub scanned_at: Timestamp,
    /// The evidence is older than the level allows.
    pub stale: bool,
    /// Failing rules not covered by a valid waiver, critical first.
    pub rules: Vec<FailingRule>,
}

impl FailingSystem {
    /// Whether one of its failures is critical.
    pub fn critical(&self) -> bool {
        self.rules.iter().any(|r| r.critical)
    }
}

/// A certificate or domain registration that expires before the holiday ends (plus margin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expiring {
    /// The system.
    pub system: SystemId,
    /// Its name.
    pub name: String,
    /// `certificate` or `domain`.
    pub what: &'static str,
    /// The day it expires (within a day).
    pub on: Date,
    /// Days from today (negative: already expired).
    pub days: i64,
}

/// A site where the content probe found spam or a defacement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContentFinding {
    /// The system.
    pub system: SystemId,
    /// Its name.
    pub name: String,
    /// The failing content rules' titles.
    pub findings: Vec<String>,
}

/// A dossier the agency must act on (supplementation) or that is late with the authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DossierLine {
    /// The system.
    pub system: SystemId,
    /// Its name.
    pub name: String,
    /// State label (Vietnamese).
    pub state: &'static str,
    /// Working days overdue, when it is.
    pub overdue_days: Option<i64>,
    /// Needs supplementation by the agency.
    pub needs_supplement: bool,
}

/// An agent that stopped reporting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SilentAgent {
    /// Its name.
    pub name: String,
    /// The network it watches.
    pub network: String,
    /// When it was last seen.
    pub last_seen: Option<Timestamp>,
}

/// Everything one agency's holiday letter lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgencyFacts {
    /// The agency.
    pub agency: AgencyId,
    /// Its name.
    pub name: String,
    /// Where its letters go.
    pub contacts: Vec<Email>,
    /// Systems in use it owns or operates.
    pub systems: usize,
    /// Their ids (the province summary counts each system once).
    pub system_ids: Vec<SystemId>,
    /// Systems failing their level, critical first.
    pub failing: Vec<FailingSystem>,
    /// Expiries before the horizon, soonest first.
    pub expiring: Vec<Expiring>,
    /// Spam or defacement findings.
    pub content: Vec<ContentFinding>,
    /// Dossiers needing supplementation or overdue.
    pub dossiers: Vec<DossierLine>,
    /// Its agents that stopped reporting.
    pub silent_agents: Vec<SilentAgent>,
}

impl AgencyFacts {
    /// Whether there is nothing to report (the letter then only carries the recommendations).
    pub fn all_clear(&self) -> bool {
        self.failing.is_empty()
            && self.expiring.is_empty()
            && self.content.is_empty()
            && self.dossiers.is_empty()
            && self.silent_agents.is_empty()
    }
}

/// The day of an instant in Vietnam.
pub fn vietnam_day(at: Timestamp) -> Date {
    jiff::tz::offset(7).to_datetime(at).date()
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

/// The facts of agency `id` in `out`, created empty on first use (`None`: unknown or retired).
fn facts_of<'a>(
    out: &'a mut BTreeMap<AgencyId, AgencyFacts>,
    data: &IndexData,
    id: AgencyId,
) -> Option<&'a mut AgencyFacts> {
    let agency = data.agencies.get(id)?;
    if agency.retired {
        return None;
    }
    Some(out.entry(id).or_insert_with(|| AgencyFacts {
        agency: id,
        name: agency.name.clone(),
        contacts: agency.contacts.clone(),
        systems: 0,
        system_ids: Vec::new(),
        failing: Vec::new(),
        expiring: Vec::new(),
        content: Vec::new(),
        dossiers: Vec::new(),
        silent_agents: Vec::new(),
    }))
}

/// The facts of every agency that owns or operates a system in use or runs an agent, by
/// agency id. `horizon` is the last day an expiry is listed for (the block's end plus the
/// margin).
pub fn gather(
    data: &IndexData,
    waivers: &HashMap<SystemId, Vec<Waiver>>,
    agents: &[Agent],
    pack: &Pack,
    now: Timestamp,
    horizon: Date,
) -> BTreeMap<AgencyId, AgencyFacts> {
    let today = vietnam_day(now);
    let mut out: BTreeMap<AgencyId, AgencyFacts> = BTreeMap::new();
    let rules: HashMap<&str, &canhgac_policies::pack::Rule> =
        pack.rules.iter().map(|r| (r.spec.id.as_str(), r)).collect();
    for row in &data.system_rows {
        if row.retired {
            continue;
        }
        let Some(entry) = data.systems.get(&row.id) else {
            continue;
        };
        let s = &entry.system;
        let url = s.urls.first().cloned().unwrap_or_default();
        let mut failing = None;
        let mut expiring = Vec::new();
        let mut content = None;
        if let Some(g) = data.grades.get(&row.id) {
            let stale = crate::compliance::fresh_until(pack, g.level, g.scanned_at)
                .is_some_and(|until| now > until);
            let valid = waivers
                .get(&row.id)
                .map(|w| valid_by_rule(w, today))
                .unwrap_or_default();
            let mut failing_rules: Vec<FailingRule> = g
                .failing
                .iter()
                .filter(|r| !valid.contains_key(r.as_str()))
                .map(|id| {
                    let rule = rules.get(id.as_str());
                    let severity = rule.map_or(Severity::Medium, |r| r.spec.severity);
                    FailingRule {
                        rule: id.clone(),
                        title_vi: rule.map_or_else(|| id.clone(), |r| r.texts.title_vi.to_string()),
                        severity: severity_name(severity).to_owned(),
                        critical: severity == Severity::Critical,
                        remediation_vi: rule
                            .map(|r| r.texts.remediation_vi.to_string())
                            .unwrap_or_default(),
                    }
                })
                .collect();
            failing_rules.sort_by(|a, b| b.critical.cmp(&a.critical).then(a.rule.cmp(&b.rule)));
            let findings: Vec<String> = failing_rules
                .iter()
                .filter(|r| r.rule.starts_with("content."))
                .map(|r| r.title_vi.clone())
                .collect();
            if !findings.is_empty() {
                content = Some(ContentFinding {
                    system: s.id,
                    name: s.name.clone(),
                    findings,
                });
            }
            if stale || !failing_rules.is_empty() {
                failing = Some(FailingSystem {
                    system: s.id,
                    name: s.name.clone(),
                    url: url.clone(),
                    level: g.level,
                    grade: g.grade.clone(),
                    scanned_at: g.scanned_at,
                    stale,
                    rules: failing_rules,
                });
            }
            for (what, left) in [
                ("certificate", g.cert_days_left),
                ("domain", g.domain_days_left),
            ] {
                let Some(left) = left else { continue };
                let Some(at) = left
                    .checked_mul(24)
                    .and_then(|h| g.scanned_at.checked_add(SignedDuration::from_hours(h)).ok())
                else {
                    continue;
                };
                let on = vietnam_day(at);
                if on <= horizon {
                    expiring.push(Expiring {
                        system: s.id,
                        name: s.name.clone(),
                        what,
                        on,
                        days: today.duration_until(on).as_hours() / 24,
                    });
                }
            }
        }
        let mut dossiers = Vec::new();
        if let Some(ids) = data.dossiers_of.get(&row.id) {
            for d in ids.iter().filter_map(|id| data.dossiers.get(id)) {
                let overdue = crate::workflow::overdue_at(
                    d.state,
                    d.deadline.as_ref(),
                    today,
                    &pack.calendar,
                );
                let needs_supplement = d.state == DossierState::NeedsSupplement;
                if needs_supplement || overdue.is_some() {
                    dossiers.push(DossierLine {
                        system: s.id,
                        name: s.name.clone(),
                        state: d.state.label_vi(),
                        overdue_days: overdue,
                        needs_supplement,
                    });
                }
            }
        }
        let mut owners = vec![s.owner_agency];
        if s.operating_unit != s.owner_agency {
            owners.push(s.operating_unit);
        }
        for id in owners {
            let Some(f) = facts_of(&mut out, data, id) else {
                continue;
            };
            f.systems += 1;
            f.system_ids.push(s.id);
            f.failing.extend(failing.clone());
            f.expiring.extend(expiring.iter().cloned());
            f.content.extend(content.clone());
            f.dossiers.extend(dossiers.iter().cloned());
        }
    }
    for agent in agents {
        if agent.revoked_at.is_some() || !agent.silent(now) {
            continue;
        }
        if let Some(f) = facts_of(&mut out, data, agent.agency) {
            f.silent_agents.push(SilentAgent {
                name: agent.name.clone(),
                network: agent.network.clone(),
                last_seen: agent.last_seen,
            });
        }
    }
    for f in out.values_mut() {
        f.failing.sort_by(|a, b| {
            b.critical()
                .cmp(&a.critical())
                .then(b.rules.len().cmp(&a.rules.len()))
                .then(a.name.cmp(&b.name))
        });
        f.expiring
            .sort_by(|a, b| (a.on, a.what, &a.name).cmp(&(b.on, b.what, &b.name)));
        f.content.sort_by(|a, b| a.name.cmp(&b.name));
        f.dossiers.sort_by(|a, b| a.name.cmp(&b.name));
        f.silent_agents.sort_by(|a, b| a.name.cmp(&b.name));
    }
    out
}

/// The waivers by system (all of them; [`gather`] keeps those valid today).
pub fn waivers_by_system(
    store: &dyn crate::store::Store,
) -> Result<HashMap<SystemId, Vec<Waiver>>, crate::store::StoreError> {
    let mut out: HashMap<SystemId, Vec<Waiver>> = HashMap::new();
    for w in crate::repo::list::<Waiver>(store, crate::store::Table::Waivers, "", usize::MAX)? {
        out.entry(w.system).or_default().push(w);
    }
    Ok(out)
}
