//! The weekly roll-up of level-proposal dossiers, as the provincial department reports it to
//! the People's Committee every week ("đã tiếp nhận ... hồ sơ của ... đơn vị; trong đó ... đã
//! được phê duyệt, ... đang chờ phê duyệt, ... cần bổ sung"), with the change since the week
//! before, and the Vietnamese paragraph to paste into the weekly letter.
//!
//! What each figure counts, for the state of every dossier at the end of `week_end` (taken
//! from the audit trail: the `to` of its last event on or before that day, so figures for a
//! past week do not move when dossiers move on):
//!
//! - `dossiers`: dossiers received, i.e. submitted at least once and neither withdrawn nor
//!   still a draft. It is `approved + awaiting_approval + needs_supplement + rejected`.
//! - `units`: distinct operating units (`System::operating_unit`) of those dossiers.
//! - `approved`: in state approved.
//! - `awaiting_approval`: with the authority and undecided: submitted, under appraisal,
//!   resubmitted or appraised.
//! - `needs_supplement`: returned to the agency, waiting for its supplement.
//! - `overdue`: among `awaiting_approval`, those past their appraisal or approval deadline on
//!   `week_end` (`crate::workflow::overdue_at`; a paused clock is never overdue).
//! - `rejected`: in state rejected (not in the seed's letter, but part of the total).
//! - `needs_supplement_by_agency`: `needs_supplement` grouped by the unit just below the root
//!   of the agency tree (department, board, district committee), as the letter names them,
//!   with how many come from that unit's sub-agencies (e.g. communes of a district).
//!
//! A dossier without any audit event (imported from before canhgac) counts in its current
//! state from the day of its last change (`updated_at`, Vietnam time).
//!
//! Two ways to the same figures: [`weekly_figures`] from every dossier and every event (the
//! command line on a stopped store), and [`weekly_figures_current`] from the dossiers as the
//! read index holds them plus the trails of only those changed since the week before (the
//! API and the dashboard, in milliseconds at province scale).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use canhgac_policies::calendar::{CalendarRules, add_working_days};

use crate::index::{self, IndexData};
use crate::model::{
    Agency, AgencyId, AgencyTree, Deadline, Dossier, DossierId, DossierState, System, SystemId,
    format_date_vi,
};
use crate::workflow::{AuditEvent, state_on};

/// Dossiers awaiting supplementation from one unit and its sub-agencies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgencyCount {
    /// The unit (`None` when the system's agency is unknown).
    pub agency_id: Option<AgencyId>,
    /// Its name.
    pub agency: String,
    /// How many dossiers.
    pub count: u32,
    /// How many of them are of its sub-agencies rather than its own.
    pub from_sub_units: u32,
}

/// The change of each figure since the week before (this week minus last week).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyChange {
    /// The end of the week compared with.
    pub since: Date,
    /// Change of `units`.
    pub units: i64,
    /// Change of `dossiers`.
    pub dossiers: i64,
    /// Change of `approved`.
    pub approved: i64,
    /// Change of `awaiting_approval`.
    pub awaiting_approval: i64,
    /// Change of `needs_supplement`.
    pub needs_supplement: i64,
    /// Change of `overdue`.
    pub overdue: i64,
    /// Change of `rejected`.
    pub rejected: i64,
}

/// The figures of one week (see the module documentation for what each counts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyFigures {
    /// The last day of the week, inclusive.
    pub week_end: Date,
    /// Operating units with a received dossier.
    pub units: u32,
    /// Dossiers received and not withdrawn.
    pub dossiers: u32,
    /// Approved.
    pub approved: u32,
    /// With the authority, undecided.
    pub awaiting_approval: u32,
    /// Waiting for the agency's supplement.
    pub needs_supplement: u32,
    /// Awaiting approval and past the deadline.
    pub overdue: u32,
    /// Rejected.
    pub rejected: u32,
    /// `needs_supplement` by unit, largest first.
    pub needs_supplement_by_agency: Vec<AgencyCount>,
    /// Against the week before; `None` when nothing had been received by then.
    pub change: Option<WeeklyChange>,
}

/// The figures at the end of `week_end`, and their change since seven days before.
pub fn weekly_figures(
    dossiers: &[Dossier],
    events: &[AuditEvent],
    systems: &[System],
    agencies: &[Agency],
    week_end: Date,
    calendar: &CalendarRules,
) -> WeeklyFigures {
    let input = Input::new(dossiers, events, systems, agencies, calendar);
    let since = week_end.saturating_sub(7.days());
    compared(input.figures(week_end), &input.figures(since))
}

/// `figures` with their change since `before` (none when nothing had been received then).
fn compared(mut figures: WeeklyFigures, before: &WeeklyFigures) -> WeeklyFigures {
    if before.dossiers > 0 {
        let delta = |now: u32, then: u32| i64::from(now) - i64::from(then);
        figures.change = Some(WeeklyChange {
            since: before.week_end,
            units: delta(figures.units, before.units),
            dossiers: delta(figures.dossiers, before.dossiers),
            approved: delta(figures.approved, before.approved),
            awaiting_approval: delta(figures.awaiting_approval, before.awaiting_approval),
            needs_supplement: delta(figures.needs_supplement, before.needs_supplement),
            overdue: delta(figures.overdue, before.overdue),
            rejected: delta(figures.rejected, before.rejected),
        });
    }
    figures
}

/// A dossier as the figures of one day see it: its state and the due day of its deadline at
/// the end of that day (with whether the clock was paused), and the operating unit of its
/// system (`None`: the system is unknown).
struct Seen {
    state: DossierState,
    due: Option<Date>,
    paused: bool,
    unit: Option<AgencyId>,
}

impl Seen {
    fn new(state: DossierState, deadline: Option<&Deadline>, unit: Option<AgencyId>) -> Seen {
        Seen {
            state,
            due: deadline.map(|d| d.due),
            paused: deadline.is_some_and(|d| d.paused_since.is_some()),
            unit,
        }
    }
}

/// The figures of `day` over the dossiers as they stood then (see the module documentation).
fn tally(
    day: Date,
    dossiers: impl Iterator<Item = Seen>,
    tree: &AgencyTree,
    calendar: &CalendarRules,
) -> WeeklyFigures {
    let mut figures = WeeklyFigures {
        week_end: day,
        units: 0,
        dossiers: 0,
        approved: 0,
        awaiting_approval: 0,
        needs_supplement: 0,
        overdue: 0,
        rejected: 0,
        needs_supplement_by_agency: Vec::new(),
        change: None,
    };
    let mut units: HashSet<AgencyId> = HashSet::new();
    let mut groups: BTreeMap<Option<AgencyId>, AgencyCount> = BTreeMap::new();
    let mut late_by_due: HashMap<Date, bool> = HashMap::new();
    let mut top_of: HashMap<AgencyId, Option<&Agency>> = HashMap::new();
    for Seen {
        state,
        due,
        paused,
        unit,
    } in dossiers
    {
        if matches!(state, DossierState::Draft | DossierState::Withdrawn) {
            continue;
        }
        figures.dossiers += 1;
        units.extend(unit);
        match state {
            DossierState::Approved => figures.approved += 1,
            DossierState::Rejected => figures.rejected += 1,
            DossierState::NeedsSupplement => {
                figures.needs_supplement += 1;
                let top = unit.and_then(|u| *top_of.entry(u).or_insert_with(|| tree.top_unit(u)));
                let group = groups
                    .entry(top.map(|a| a.id))
                    .or_insert_with(|| AgencyCount {
                        agency_id: top.map(|a| a.id),
                        agency: top.map_or_else(
                            || "(đơn vị không xác định)".to_owned(),
                            |a| a.name.clone(),
                        ),
                        count: 0,
                        from_sub_units: 0,
                    });
                group.count += 1;
                if top.is_some_and(|t| Some(t.id) != unit) {
                    group.from_sub_units += 1;
                }
            }
            _ => {
                figures.awaiting_approval += 1;
                // `overdue_at`: only a running clock with the authority is late, and its
                // lateness depends on its due day alone, which many dossiers share: decided
                // once per due day, without counting every working day.
                let late = match due {
                    Some(due) if state.is_with_authority() && !paused => *late_by_due
                        .entry(due)
                        .or_insert_with(|| running_late(due, day, calendar)),
                    _ => false,
                };
                if late {
                    figures.overdue += 1;
                }
            }
        }
    }
    figures.units = u32::try_from(units.len()).unwrap_or(u32::MAX);
    let mut groups: Vec<AgencyCount> = groups.into_values().collect();
    groups.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.agency.cmp(&b.agency)));
    figures.needs_supplement_by_agency = groups;
    figures
}

/// Whether a running deadline due on `due` is overdue at the end of `day`: what
/// `overdue_at(..).is_some()` says (some working day after `due` has come by `day`), found
/// from the first working day after `due` rather than by counting all of them, which over a
/// long-overdue dossier means walking hundreds of days of the holiday calendar.
fn running_late(due: Date, day: Date, calendar: &CalendarRules) -> bool {
    day > due && add_working_days(calendar, due, 1) <= day
}

/// The day of a moment in Vietnam (UTC+7), the day dossiers change on.
fn vietnam_day(at: Timestamp) -> Date {
    jiff::tz::offset(7).to_datetime(at).date()
}

/// The first moment after `day` in Vietnam: a change before it happened on or before `day`.
fn end_of(day: Date) -> Timestamp {
    day.tomorrow()
        .ok()
        .and_then(|next| jiff::tz::offset(7).to_timestamp(next.at(0, 0, 0, 0)).ok())
        .unwrap_or(Timestamp::MAX)
}

/// The inputs, indexed.
struct Input<'a> {
    dossiers: &'a [Dossier],
    events: BTreeMap<DossierId, Vec<&'a AuditEvent>>,
    systems: BTreeMap<SystemId, &'a System>,
    tree: AgencyTree,
    calendar: &'a CalendarRules,
}

impl<'a> Input<'a> {
    fn new(
        dossiers: &'a [Dossier],
        events: &'a [AuditEvent],
        systems: &'a [System],
        agencies: &[Agency],
        calendar: &'a CalendarRules,
    ) -> Input<'a> {
        Input {
            dossiers,
            events: by_dossier(events),
            systems: systems.iter().map(|s| (s.id, s)).collect(),
            tree: AgencyTree::new(agencies),
            calendar,
        }
    }

    /// The state and deadline of `dossier` at the end of `day`, if it existed.
    fn state_on(
        &self,
        dossier: &'a Dossier,
        day: Date,
    ) -> Option<(DossierState, Option<&'a Deadline>)> {
        match self.events.get(&dossier.id) {
            Some(events) => state_on(events.iter().copied(), day),
            None => (vietnam_day(dossier.updated_at) <= day)
                .then_some((dossier.state, dossier.deadline.as_ref())),
        }
    }

    fn figures(&self, day: Date) -> WeeklyFigures {
        let seen = self.dossiers.iter().filter_map(|dossier| {
            let (state, deadline) = self.state_on(dossier, day)?;
            let unit = self.systems.get(&dossier.system).map(|s| s.operating_unit);
            Some(Seen::new(state, deadline, unit))
        });
        tally(day, seen, &self.tree, self.calendar)
    }
}

fn by_dossier(events: &[AuditEvent]) -> BTreeMap<DossierId, Vec<&AuditEvent>> {
    let mut by_dossier: BTreeMap<DossierId, Vec<&AuditEvent>> = BTreeMap::new();
    for event in events {
        by_dossier.entry(event.dossier).or_default().push(event);
    }
    by_dossier
}

/// A dossier as it stands now, as the read index holds it (`crate::index`): the input of
/// [`weekly_figures_current`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentDossier {
    /// Id.
    pub id: DossierId,
    /// Its state now.
    pub state: DossierState,
    /// The last day of its deadline now.
    pub due: Option<Date>,
    /// Whether that deadline's clock is paused.
    pub paused: bool,
    /// The operating unit of its system (`None`: the system is unknown).
    pub unit: Option<AgencyId>,
    /// When it last changed.
    pub changed_at: Timestamp,
}

/// The dossiers of the read index, those of the systems within `within` (an agency and its
/// sub-agencies, as owner or operating unit) or, for `None`, every dossier (those of unknown
/// systems included, as [`weekly_figures`] counts them).
pub fn current_dossiers(data: &IndexData, within: Option<AgencyId>) -> Vec<CurrentDossier> {
    let span = within.map(|a| data.agencies.span(a));
    data.dossier_rows
        .iter()
        .filter(|row| match span {
            None => true,
            Some(None) => false,
            Some(Some(span)) => {
                row.system_known
                    && (index::within(row.owner_span, span) || index::within(row.unit_span, span))
            }
        })
        .map(|row| CurrentDossier {
            id: row.id,
            state: row.state,
            due: row.due,
            paused: row.paused,
            unit: data
                .systems
                .get(&row.system)
                .map(|e| e.system.operating_unit),
            changed_at: row.updated_at,
        })
        .collect()
}

/// The dossiers whose audit trail [`weekly_figures_current`] needs for `week_end`: those that
/// changed after the end of the week before (usually few: the others stand as they stood).
pub fn trails_needed(dossiers: &[CurrentDossier], week_end: Date) -> BTreeSet<DossierId> {
    let after = end_of(week_end.saturating_sub(7.days()));
    dossiers
        .iter()
        .filter(|d| d.changed_at >= after)
        .map(|d| d.id)
        .collect()
}

/// The figures of [`weekly_figures`] from the dossiers as they stand now and the audit trails
/// of those named by [`trails_needed`] (`trails` may hold more events; they are ignored).
///
/// The same figures, without reading every trail: a dossier and the event of each of its
/// changes are written in one batch, the event dated the day of the change. So a dossier that
/// did not change after `day` stands at the end of `day` as it stands now (its last event's
/// state and deadline are its own), and one without a trail counts from the day it last
/// changed in both. Only a dossier that changed after `day` is read from its trail.
pub fn weekly_figures_current(
    dossiers: &[CurrentDossier],
    trails: &[AuditEvent],
    tree: &AgencyTree,
    week_end: Date,
    calendar: &CalendarRules,
) -> WeeklyFigures {
    let trails = by_dossier(trails);
    let figures = |day: Date| {
        let end = end_of(day);
        let seen = dossiers.iter().filter_map(|d| {
            if d.changed_at < end {
                return Some(Seen {
                    state: d.state,
                    due: d.due,
                    paused: d.paused,
                    unit: d.unit,
                });
            }
            let (state, deadline) = state_on(trails.get(&d.id)?.iter().copied(), day)?;
            Some(Seen::new(state, deadline, d.unit))
        });
        tally(day, seen, tree, calendar)
    };
    let since = week_end.saturating_sub(7.days());
    compared(figures(week_end), &figures(since))
}

/// A count as administrative letters write it: "05" below ten, "1.234" with dots for thousands.
fn count(n: u32) -> String {
    if (1..10).contains(&n) {
        return format!("0{n}");
    }
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out
}

/// "tăng 05", "giảm 02".
fn change_phrase(what: &str, delta: i64) -> Option<String> {
    let size = count(u32::try_from(delta.unsigned_abs()).unwrap_or(u32::MAX));
    match delta {
        0 => None,
        d if d > 0 => Some(format!("{what} tăng {size}")),
        _ => Some(format!("{what} giảm {size}")),
    }
}

/// The paragraph for the weekly letter, in Vietnamese.
pub fn weekly_text_vi(figures: &WeeklyFigures) -> String {
    let day = format_date_vi(figures.week_end);
    let mut text = if figures.dossiers == 0 {
        format!(
            "Đến hết ngày {day}, chưa có đơn vị nào gửi hồ sơ đề xuất cấp độ an toàn hệ thống thông tin."
        )
    } else {
        let mut parts = Vec::new();
        parts.push(if figures.approved == 0 {
            "chưa có hồ sơ nào được phê duyệt".to_owned()
        } else {
            format!(
                "{} hồ sơ đã có quyết định phê duyệt cấp độ",
                count(figures.approved)
            )
        });
        parts.push(if figures.awaiting_approval == 0 {
            "không còn hồ sơ nào đang thẩm định, chờ phê duyệt".to_owned()
        } else if figures.overdue == 0 {
            format!(
                "{} hồ sơ đang thẩm định, chờ phê duyệt, chưa có hồ sơ nào quá thời hạn xử lý",
                count(figures.awaiting_approval)
            )
        } else {
            format!(
                "{} hồ sơ đang thẩm định, chờ phê duyệt (trong đó {} hồ sơ đã quá thời hạn xử lý)",
                count(figures.awaiting_approval),
                count(figures.overdue)
            )
        });
        if figures.needs_supplement == 0 {
            parts.push("không có hồ sơ nào phải bổ sung".to_owned());
        } else {
            let groups: Vec<String> = figures
                .needs_supplement_by_agency
                .iter()
                .map(|g| {
                    let n = count(g.count);
                    if g.from_sub_units == 0 {
                        format!("{}: {n} hồ sơ", g.agency)
                    } else if g.from_sub_units == g.count {
                        format!("{}: {n} hồ sơ của đơn vị trực thuộc", g.agency)
                    } else {
                        format!(
                            "{}: {n} hồ sơ, trong đó {} hồ sơ của đơn vị trực thuộc",
                            g.agency,
                            count(g.from_sub_units)
                        )
                    }
                })
                .collect();
            parts.push(format!(
                "{} hồ sơ phải bổ sung, hoàn thiện ({})",
                count(figures.needs_supplement),
                groups.join("; ")
            ));
        }
        if figures.rejected > 0 {
            parts.push(format!(
                "{} hồ sơ không được phê duyệt",
                count(figures.rejected)
            ));
        }
        format!(
            "Đến hết ngày {day}, {} đơn vị đã gửi {} hồ sơ đề xuất cấp độ an toàn hệ thống thông tin. Kết quả xử lý: {}.",
            count(figures.units),
            count(figures.dossiers),
            parts.join("; ")
        )
    };
    if let Some(change) = &figures.change {
        let phrases: Vec<String> = [
            ("số đơn vị có hồ sơ", change.units),
            ("số hồ sơ tiếp nhận", change.dossiers),
            ("số hồ sơ được phê duyệt", change.approved),
            ("số hồ sơ chờ phê duyệt", change.awaiting_approval),
            ("số hồ sơ phải bổ sung", change.needs_supplement),
            ("số hồ sơ quá hạn", change.overdue),
            ("số hồ sơ không được phê duyệt", change.rejected),
        ]
        .into_iter()
        .filter_map(|(what, delta)| change_phrase(what, delta))
        .collect();
        let since = format_date_vi(change.since);
        if phrases.is_empty() {
            text.push_str(&format!(
                " Các số liệu không thay đổi so với tuần trước (đến hết ngày {since})."
            ));
        } else {
            text.push_str(&format!(
                " So với tuần trước (đến hết ngày {since}): {}.",
                phrases.join(", ")
            ));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use jiff::civil::date;

    use canhgac_policies::pack::Pack;

    use super::*;
    use crate::model::fixtures::{agency, system};
    use crate::model::{
        DocumentId, DocumentRef, DossierId, LetterRef, Level, Role, SystemStatus, User, UserId,
    };
    use crate::workflow::{Action, AgencyScope, apply, create_draft};

    fn at(day: Date, seconds: i64) -> Timestamp {
        jiff::tz::offset(7)
            .to_timestamp(day.at(8, 0, 0, 0))
            .unwrap()
            .checked_add(jiff::SignedDuration::from_secs(seconds))
            .unwrap()
    }

    fn user(n: u8, role: Role, agency: Option<AgencyId>) -> User {
        User {
            id: UserId::derived(at(date(2024, 1, 1), 0), &[b'w', n]),
            login: format!("u{n}"),
            display_name: format!("Cán bộ {n}"),
            role,
            agency,
        }
    }

    /// A province with departments, a district and its communes; systems; dossiers driven
    /// through the workflow; the events they left.
    struct Dataset {
        agencies: Vec<Agency>,
        systems: Vec<System>,
        dossiers: Vec<Dossier>,
        events: Vec<AuditEvent>,
    }

    fn dataset() -> Dataset {
        let pack = Pack::decree85();
        let province = agency(1, "UBND tỉnh Hải Dương", None);
        let justice = agency(2, "Sở Tư pháp", Some(province.id));
        let centre = agency(3, "Trung tâm Trợ giúp pháp lý", Some(justice.id));
        let science = agency(4, "Sở Khoa học và Công nghệ", Some(province.id));
        let district = agency(5, "UBND huyện Kim Thành", Some(province.id));
        let commune_a = agency(6, "UBND xã Kim Xuyên", Some(district.id));
        let commune_b = agency(7, "UBND xã Kim Lương", Some(district.id));
        let agencies = vec![
            province.clone(),
            justice.clone(),
            centre.clone(),
            science.clone(),
            district.clone(),
            commune_a.clone(),
            commune_b.clone(),
        ];
        let tree = AgencyTree::new(&agencies);
        let unit_of = [
            justice.id,   // S1
            centre.id,    // S2
            commune_a.id, // S3
            commune_b.id, // S4
            science.id,   // S5
            district.id,  // S6
            science.id,   // S7
            justice.id,   // S8
            commune_a.id, // S9
        ];
        let systems: Vec<System> = unit_of
            .iter()
            .enumerate()
            .map(|(i, unit)| system(i as u8 + 1, province.id, *unit, 3))
            .collect();
        let officer = user(1, Role::AgencyOfficer, Some(province.id));
        let appraiser = user(2, Role::Appraiser, Some(science.id));
        let approver = user(3, Role::Approver, Some(science.id));

        let mut events = Vec::new();
        let mut dossiers = Vec::new();
        let mut seconds = 0;
        let mut document = 0u8;
        // Runs `steps` on a new complete level 3 dossier of system `s` created on `created`.
        let mut run = |s: usize, created: Date, steps: Vec<(Date, Action, &User)>| {
            let sys = &systems[s];
            let scope = AgencyScope::for_system(sys, &tree);
            seconds += 1;
            let (mut d, event) = create_draft(
                DossierId::derived(at(created, seconds), &[s as u8]),
                sys,
                Level::new(3).unwrap(),
                &officer,
                &scope,
                created,
                at(created, seconds),
            )
            .unwrap();
            events.push(event);
            for kind in [
                "overview_report",
                "design_document",
                "level_justification",
                "security_plan",
            ] {
                document += 1;
                d.documents.push(DocumentRef {
                    id: DocumentId::derived(at(created, 0), &[document]),
                    kind: kind.to_owned(),
                    file_name: format!("{kind}.pdf"),
                    size: 1,
                    sha256: "0".repeat(64),
                    uploaded_at: at(created, 0),
                });
            }
            for (day, action, actor) in steps {
                seconds += 1;
                let (next, event) = apply(&d, action, actor, &scope, &pack, day, at(day, seconds))
                    .unwrap_or_else(|e| panic!("system {s}: {e}"));
                events.push(event);
                d = next;
            }
            dossiers.push(d);
        };
        let submit = |day: Date| Action::Submit {
            letter: LetterRef::new(100, "UBND-VP", day).unwrap(),
        };
        let request = || Action::RequestSupplement {
            letter: None,
            missing_items: vec!["Bổ sung sơ đồ logic".to_owned()],
        };
        let mark = || Action::MarkAppraised {
            note: "Đạt yêu cầu".to_owned(),
            letter: None,
        };
        let approve = |day: Date| Action::Approve {
            level: Level::new(3).unwrap(),
            decision_number: "12/QĐ-UBND".to_owned(),
            decision_date: day,
        };
        let d = date;
        // D1: approved in February.
        run(
            0,
            d(2026, 1, 30),
            vec![
                (d(2026, 2, 2), submit(d(2026, 2, 2)), &officer),
                (d(2026, 2, 3), Action::StartAppraisal, &appraiser),
                (d(2026, 2, 5), mark(), &appraiser),
                (d(2026, 2, 10), approve(d(2026, 2, 10)), &approver),
            ],
        );
        // D2: a centre of the justice department, returned on 04/03.
        run(
            1,
            d(2026, 3, 2),
            vec![
                (d(2026, 3, 2), submit(d(2026, 3, 2)), &officer),
                (d(2026, 3, 3), Action::StartAppraisal, &appraiser),
                (d(2026, 3, 4), request(), &appraiser),
            ],
        );
        // D3: a commune, submitted on 09/03 and returned on 11/03.
        run(
            2,
            d(2026, 3, 9),
            vec![
                (d(2026, 3, 9), submit(d(2026, 3, 9)), &officer),
                (d(2026, 3, 10), Action::StartAppraisal, &appraiser),
                (d(2026, 3, 11), request(), &appraiser),
            ],
        );
        // D4: another commune, under appraisal since February, due 02/03: overdue.
        run(
            3,
            d(2026, 2, 2),
            vec![
                (d(2026, 2, 2), submit(d(2026, 2, 2)), &officer),
                (d(2026, 2, 3), Action::StartAppraisal, &appraiser),
            ],
        );
        // D5: under appraisal on 06/03, approved on 12/03.
        run(
            4,
            d(2026, 3, 5),
            vec![
                (d(2026, 3, 5), submit(d(2026, 3, 5)), &officer),
                (d(2026, 3, 6), Action::StartAppraisal, &appraiser),
                (d(2026, 3, 9), mark(), &appraiser),
                (d(2026, 3, 12), approve(d(2026, 3, 12)), &approver),
            ],
        );
        // D6: the district's own, submitted then withdrawn on 10/03.
        run(
            5,
            d(2026, 3, 2),
            vec![
                (d(2026, 3, 2), submit(d(2026, 3, 2)), &officer),
                (
                    d(2026, 3, 10),
                    Action::Withdraw {
                        reason: "Hệ thống sáp nhập".to_owned(),
                    },
                    &officer,
                ),
            ],
        );
        // D7: a draft, never sent.
        run(6, d(2026, 3, 1), vec![]);
        // D8: appraised on 04/03, rejected on 11/03.
        run(
            7,
            d(2026, 3, 2),
            vec![
                (d(2026, 3, 2), submit(d(2026, 3, 2)), &officer),
                (d(2026, 3, 3), Action::StartAppraisal, &appraiser),
                (d(2026, 3, 4), mark(), &appraiser),
                (
                    d(2026, 3, 11),
                    Action::Reject {
                        reason: "Đề xuất cấp độ chưa phù hợp".to_owned(),
                    },
                    &approver,
                ),
            ],
        );
        // D9: approved in 2025, imported without a trail.
        let imported_at = at(d(2025, 12, 1), 0);
        let mut imported = Dossier::new_draft(
            DossierId::derived(imported_at, b"imported"),
            systems[8].id,
            Level::new(2).unwrap(),
            imported_at,
        );
        imported.state = DossierState::Approved;
        dossiers.push(imported);
        Dataset {
            agencies,
            systems,
            dossiers,
            events,
        }
    }

    fn figures_on(data: &Dataset, day: Date) -> WeeklyFigures {
        weekly_figures(
            &data.dossiers,
            &data.events,
            &data.systems,
            &data.agencies,
            day,
            &CalendarRules::decree85_default(),
        )
    }

    #[test]
    fn the_figures_of_a_week_and_the_week_before() {
        let data = dataset();
        let week = figures_on(&data, date(2026, 3, 13));
        assert_eq!(
            (
                week.dossiers,
                week.units,
                week.approved,
                week.awaiting_approval,
                week.needs_supplement,
                week.overdue,
                week.rejected
            ),
            (7, 5, 3, 1, 2, 1, 1)
        );
        assert_eq!(
            week.dossiers,
            week.approved + week.awaiting_approval + week.needs_supplement + week.rejected
        );
        let groups: Vec<(&str, u32, u32)> = week
            .needs_supplement_by_agency
            .iter()
            .map(|g| (g.agency.as_str(), g.count, g.from_sub_units))
            .collect();
        assert_eq!(
            groups,
            [("Sở Tư pháp", 1, 1), ("UBND huyện Kim Thành", 1, 1)]
        );
        let change = week.change.unwrap();
        assert_eq!(change.since, date(2026, 3, 6));
        assert_eq!(
            (
                change.units,
                change.dossiers,
                change.approved,
                change.awaiting_approval,
                change.needs_supplement,
                change.overdue,
                change.rejected
            ),
            (-1, 0, 1, -3, 1, 0, 1)
        );
        let before = figures_on(&data, date(2026, 3, 6));
        assert_eq!(
            (
                before.dossiers,
                before.units,
                before.approved,
                before.awaiting_approval,
                before.needs_supplement,
                before.overdue,
                before.rejected
            ),
            (7, 6, 2, 4, 1, 1, 0)
        );
        // The imported dossier counts from its last change; before it, nothing to compare with.
        let january = figures_on(&data, date(2026, 1, 31));
        assert_eq!((january.dossiers, january.approved), (1, 1));
        let empty = figures_on(&data, date(2025, 11, 28));
        assert_eq!((empty.dossiers, empty.change), (0, None));
        assert_eq!(figures_on(&data, date(2025, 12, 5)).change, None);
        let first_week = figures_on(&data, date(2026, 2, 6));
        assert_eq!(
            (first_week.dossiers, first_week.change.unwrap().dossiers),
            (3, 2)
        );
        let second_week = figures_on(&data, date(2026, 2, 13)).change.unwrap();
        assert_eq!(
            (second_week.approved, second_week.awaiting_approval),
            (1, -1)
        );
    }

    /// Puts the records of `data` in a store and loads its read index, leaving out `skip`.
    fn indexed(data: &Dataset, skip: Option<SystemId>) -> IndexData {
        use crate::repo::json;
        use crate::store::{Batch, MemoryStore, Store, Table};
        let store = MemoryStore::new();
        let mut batch = Batch::new();
        for a in &data.agencies {
            batch = batch.put(Table::Agencies, a.id.to_string(), json(a));
        }
        for s in data.systems.iter().filter(|s| Some(s.id) != skip) {
            batch = batch.put(Table::Systems, s.id.to_string(), json(s));
        }
        for d in &data.dossiers {
            batch = batch.put(Table::Dossiers, d.id.to_string(), json(d));
        }
        store.apply(batch).unwrap();
        IndexData::load(&store).unwrap()
    }

    #[test]
    fn the_figures_from_the_read_index_equal_those_from_every_trail() {
        let data = dataset();
        let calendar = CalendarRules::decree85_default();
        let tree = AgencyTree::new(&data.agencies);
        let named = |name: &str| data.agencies.iter().find(|a| a.name == name).unwrap().id;
        let scopes = [
            None,
            Some(named("UBND tỉnh Hải Dương")),
            Some(named("UBND huyện Kim Thành")),
            Some(named("Sở Tư pháp")),
            Some(named("Sở Khoa học và Công nghệ")),
        ];
        // Every system known, then one system missing (its dossier counts without a unit).
        for skip in [None, Some(data.dossiers[1].system)] {
            let index = indexed(&data, skip);
            let known: Vec<System> = data
                .systems
                .iter()
                .filter(|s| Some(s.id) != skip)
                .cloned()
                .collect();
            let mut day = date(2025, 11, 20);
            while day <= date(2026, 4, 3) {
                for within in scopes {
                    let current = current_dossiers(&index, within);
                    let needed = trails_needed(&current, day);
                    let trails: Vec<AuditEvent> = data
                        .events
                        .iter()
                        .filter(|e| needed.contains(&e.dossier))
                        .cloned()
                        .collect();
                    let fast = weekly_figures_current(&current, &trails, &tree, day, &calendar);
                    // The reference: every record and every trail, as `report weekly` reads
                    // them, restricted to the systems in scope.
                    let systems: Vec<System> = known
                        .iter()
                        .filter(|s| {
                            within.is_none_or(|a| {
                                tree.is_within(s.operating_unit, a)
                                    || tree.is_within(s.owner_agency, a)
                            })
                        })
                        .cloned()
                        .collect();
                    let ids: BTreeSet<SystemId> = systems.iter().map(|s| s.id).collect();
                    let dossiers: Vec<Dossier> = data
                        .dossiers
                        .iter()
                        .filter(|d| within.is_none() || ids.contains(&d.system))
                        .cloned()
                        .collect();
                    let full = weekly_figures(
                        &dossiers,
                        &data.events,
                        &systems,
                        &data.agencies,
                        day,
                        &calendar,
                    );
                    assert_eq!(fast, full, "{day}, scope {within:?}, without {skip:?}");
                }
                day = day.tomorrow().unwrap();
            }
        }
        // Only what changed in the last week needs its trail; a quiet week needs none.
        let current = current_dossiers(&indexed(&data, None), None);
        assert_eq!(current.len(), data.dossiers.len());
        assert_eq!(trails_needed(&current, date(2026, 3, 13)).len(), 4);
        assert!(trails_needed(&current, date(2026, 3, 27)).is_empty());
        // An agency unknown to the index sees nothing.
        let stranger = agency(99, "Sở không có", None).id;
        assert!(current_dossiers(&indexed(&data, None), Some(stranger)).is_empty());
    }

    #[test]
    fn lateness_by_the_first_working_day_is_the_workflows() {
        use canhgac_policies::pack::workflow::DayCount;

        use crate::model::DeadlineStage;
        use crate::workflow::overdue_at;
        let calendar = CalendarRules::decree85_default();
        // Due days around Tết 2026, weekends and National Day, each checked against the days
        // that follow it.
        let mut due = date(2026, 1, 20);
        while due <= date(2026, 9, 10) {
            let deadline = Deadline {
                stage: DeadlineStage::Appraisal,
                count: DayCount::WorkingDays,
                due,
                paused_since: None,
                days_left: None,
            };
            for ahead in -3..40 {
                let day = due.saturating_add(ahead.days());
                assert_eq!(
                    running_late(due, day, &calendar),
                    overdue_at(
                        DossierState::UnderAppraisal,
                        Some(&deadline),
                        day,
                        &calendar
                    )
                    .is_some(),
                    "due {due}, day {day}"
                );
            }
            due = due.saturating_add(3.days());
        }
        // The day after Friday 13/02/2026 is Tết: not late until Monday 23/02.
        assert!(!running_late(
            date(2026, 2, 13),
            date(2026, 2, 22),
            &calendar
        ));
        assert!(running_late(
            date(2026, 2, 13),
            date(2026, 2, 23),
            &calendar
        ));
    }

    #[test]
    fn json_field_names() {
        let week = figures_on(&dataset(), date(2026, 3, 13));
        let json = serde_json::to_value(&week).unwrap();
        for (field, value) in [
            ("units", 5),
            ("dossiers", 7),
            ("approved", 3),
            ("awaiting_approval", 1),
            ("needs_supplement", 2),
            ("overdue", 1),
        ] {
            assert_eq!(json[field], value, "{field}");
        }
        assert_eq!(json["week_end"], "2026-03-13");
        assert_eq!(
            json["needs_supplement_by_agency"][0]["agency"],
            "Sở Tư pháp"
        );
        assert_eq!(json["change"]["approved"], 1);
        let back: WeeklyFigures = serde_json::from_value(json).unwrap();
        assert_eq!(back, week);
    }

    #[test]
    fn the_paragraph_for_the_weekly_letter() {
        let week = figures_on(&dataset(), date(2026, 3, 13));
        assert_eq!(
            weekly_text_vi(&week),
            "Đến hết ngày 13/3/2026, 05 đơn vị đã gửi 07 hồ sơ đề xuất cấp độ an toàn hệ thống thông tin. \
             Kết quả xử lý: 03 hồ sơ đã có quyết định phê duyệt cấp độ; 01 hồ sơ đang thẩm định, chờ phê duyệt \
             (trong đó 01 hồ sơ đã quá thời hạn xử lý); 02 hồ sơ phải bổ sung, hoàn thiện (Sở Tư pháp: 01 hồ sơ \
             của đơn vị trực thuộc; UBND huyện Kim Thành: 01 hồ sơ của đơn vị trực thuộc); 01 hồ sơ không được \
             phê duyệt. So với tuần trước (đến hết ngày 6/3/2026): số đơn vị có hồ sơ giảm 01, số hồ sơ được \
             phê duyệt tăng 01, số hồ sơ chờ phê duyệt giảm 03, số hồ sơ phải bổ sung tăng 01, số hồ sơ không \
             được phê duyệt tăng 01."
        );
        let empty = figures_on(&dataset(), date(2025, 11, 28));
        assert_eq!(
            weekly_text_vi(&empty),
            "Đến hết ngày 28/11/2025, chưa có đơn vị nào gửi hồ sơ đề xuất cấp độ an toàn hệ thống thông tin."
        );
    }

    #[test]
    fn a_letter_at_provincial_scale() {
        let figures = WeeklyFigures {
            week_end: date(2024, 8, 30),
            units: 1246,
            dossiers: 1257,
            approved: 1118,
            awaiting_approval: 112,
            needs_supplement: 27,
            overdue: 0,
            rejected: 0,
            needs_supplement_by_agency: vec![
                AgencyCount {
                    agency_id: None,
                    agency: "UBND huyện Ninh Giang".to_owned(),
                    count: 20,
                    from_sub_units: 18,
                },
                AgencyCount {
                    agency_id: None,
                    agency: "Sở Tư pháp".to_owned(),
                    count: 7,
                    from_sub_units: 0,
                },
            ],
            change: Some(WeeklyChange {
                since: date(2024, 8, 23),
                units: 0,
                dossiers: 0,
                approved: 0,
                awaiting_approval: 0,
                needs_supplement: 0,
                overdue: 0,
                rejected: 0,
            }),
        };
        let text = weekly_text_vi(&figures);
        assert!(
            text.starts_with("Đến hết ngày 30/8/2024, 1.246 đơn vị đã gửi 1.257 hồ sơ"),
            "{text}"
        );
        assert!(
            text.contains(
                "112 hồ sơ đang thẩm định, chờ phê duyệt, chưa có hồ sơ nào quá thời hạn xử lý"
            ),
            "{text}"
        );
        assert!(text.contains("(UBND huyện Ninh Giang: 20 hồ sơ, trong đó 18 hồ sơ của đơn vị trực thuộc; Sở Tư pháp: 07 hồ sơ)"), "{text}");
        assert!(
            text.ends_with(
                "Các số liệu không thay đổi so với tuần trước (đến hết ngày 23/8/2024)."
            ),
            "{text}"
        );
    }

    #[test]
    fn counts_as_letters_write_them() {
        assert_eq!(count(0), "0");
        assert_eq!(count(5), "05");
        assert_eq!(count(10), "10");
        assert_eq!(count(257), "257");
        assert_eq!(count(1234), "1.234");
        assert_eq!(count(1_234_567), "1.234.567");
    }

    #[test]
    fn unknown_systems_and_retired_units_do_not_break_the_figures() {
        let mut data = dataset();
        data.systems
            .retain(|s| s.status == SystemStatus::InUse && s.id != data.dossiers[1].system);
        data.agencies
            .retain(|a| a.name != "Sở Khoa học và Công nghệ");
        let week = figures_on(&data, date(2026, 3, 13));
        assert_eq!(week.dossiers, 7);
        assert_eq!(week.units, 4);
        assert!(
            week.needs_supplement_by_agency
                .iter()
                .any(|g| g.agency_id.is_none())
        );
    }
}
