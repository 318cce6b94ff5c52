//! Dossier notifications: each transition of a level-proposal dossier tells the agency that
//! owns the system (its contact addresses: the submitter's side) and the next actor's mailbox
//! (`appraisal_staff` when the dedicated unit must act, `approvers` when the decision is due).
//! A request for supplementation carries the appraiser's note: the list of what is missing.
//!
//! The audit trail is the source: the loop reads the events of the dossiers changed since its
//! last pass (with a ten-minute overlap, so a transition committed while it read is not
//! missed); each message's key is the event id and the recipient, so the overlap never sends
//! twice. On the first pass after an upgrade it starts from now: history is not re-announced.

use jiff::{SignedDuration, Timestamp};

use super::compose::{Body, dmy};
use super::facts::vietnam_day;
use super::outbox::{Category, Draft};
use super::settings::AlertSettings;
use crate::index::IndexData;
use crate::model::{Dossier, DossierState, Email};
use crate::repo;
use crate::store::{Batch, Store, StoreError, Table};
use crate::workflow::AuditEvent;

const CURSOR_KEY: &str = "cursor/dossier";
const OVERLAP: SignedDuration = SignedDuration::from_mins(10);

fn cursor(store: &dyn Store) -> Result<Option<Timestamp>, StoreError> {
    repo::get(store, Table::Alerts, CURSOR_KEY)
}

/// Who hears of a transition to `to`: (agency contacts?, appraisal staff?, approvers?).
fn audience(to: DossierState) -> (bool, bool, bool) {
    match to {
        DossierState::Draft => (false, false, false),
        DossierState::Submitted | DossierState::Resubmitted => (true, true, false),
        DossierState::UnderAppraisal | DossierState::NeedsSupplement => (true, false, false),
        DossierState::Appraised => (true, false, true),
        DossierState::Approved | DossierState::Rejected => (true, true, false),
        DossierState::Withdrawn => (true, true, false),
    }
}

/// What the next actor must do, in Vietnamese.
fn next_step(to: DossierState) -> &'static str {
    match to {
        DossierState::Draft => "Đơn vị hoàn thiện hồ sơ.",
        DossierState::Submitted | DossierState::Resubmitted => {
            "Đơn vị chuyên trách tiếp nhận và thẩm định hồ sơ."
        }
        DossierState::UnderAppraisal => "Đơn vị chuyên trách đang thẩm định hồ sơ.",
        DossierState::NeedsSupplement => {
            "Đề nghị đơn vị bổ sung hồ sơ theo các nội dung dưới đây và nộp lại."
        }
        DossierState::Appraised => "Hồ sơ đã thẩm định, chờ cấp có thẩm quyền phê duyệt.",
        DossierState::Approved => "Cấp độ đã được phê duyệt.",
        DossierState::Rejected => "Hồ sơ không được phê duyệt.",
        DossierState::Withdrawn => "Hồ sơ đã được rút.",
    }
}

/// The messages for the transitions recorded since the last pass; moves the cursor.
pub fn drafts(
    store: &dyn Store,
    data: &IndexData,
    settings: &AlertSettings,
    now: Timestamp,
) -> Result<Vec<Draft>, StoreError> {
    let Some(since) = cursor(store)? else {
        store.apply(Batch::new().put(Table::Alerts, CURSOR_KEY, repo::json(&now)))?;
        return Ok(Vec::new());
    };
    let from = since.saturating_sub(OVERLAP).unwrap_or(since);
    let mut out = Vec::new();
    for d in data.dossiers.values().filter(|d| d.updated_at > from) {
        let events: Vec<AuditEvent> =
            repo::list(store, Table::Events, &format!("{}/", d.id), usize::MAX)?;
        for e in events.iter().filter(|e| e.at > from && e.from != e.to) {
            let (agency, appraisal, approvers) = audience(e.to);
            let system = data.systems.get(&e.system).map(|s| &s.system);
            let name = system.map_or_else(|| e.system.to_string(), |s| s.name.clone());
            let mut to: Vec<Email> = Vec::new();
            if agency && let Some(s) = system {
                for id in [s.owner_agency, s.operating_unit] {
                    if let Some(a) = data.agencies.get(id).filter(|a| !a.retired) {
                        to.extend(a.contacts.iter().cloned());
                    }
                }
            }
            if appraisal {
                to.extend(settings.appraisal_staff.iter().cloned());
            }
            if approvers {
                to.extend(settings.approvers.iter().cloned());
            }
            to.sort_by_key(|e| e.as_str().to_lowercase());
            to.dedup_by_key(|e| e.as_str().to_lowercase());
            if to.is_empty() {
                continue;
            }
            let subject = format!(
                "[canhgac] Hồ sơ đề xuất cấp độ của {name}: {}",
                e.to.label_vi()
            );
            let mut b = Body::default();
            b.para(&format!(
                "Hồ sơ đề xuất cấp độ {} của hệ thống \"{name}\" chuyển từ \"{}\" sang \"{}\" ngày {} ({}).",
                d.proposed_level.get(),
                e.from.label_vi(),
                e.to.label_vi(),
                dmy(vietnam_day(e.at)),
                e.action.label_vi()
            ));
            let mut lines = Vec::new();
            if let Some(letter) = &e.letter {
                lines.push((format!("Văn bản: {letter}"), Vec::new()));
            }
            if let Some(deadline) = &e.deadline {
                lines.push((format!("Thời hạn xử lý: {}", dmy(deadline.due)), Vec::new()));
            }
            if let Some(decision) = &e.decision {
                lines.push((
                    format!(
                        "Quyết định phê duyệt số {} ngày {}: cấp độ {}",
                        decision.decision_number,
                        dmy(decision.decision_date),
                        decision.level.get()
                    ),
                    Vec::new(),
                ));
            }
            if !lines.is_empty() {
                b.section("Thông tin", &lines);
            }
            b.para(next_step(e.to));
            // The missing items of the round, as the appraiser listed them.
            let missing: Option<Vec<String>> = match (e.to, e.round) {
                (DossierState::NeedsSupplement, Some(n)) => {
                    repo::get::<Dossier>(store, Table::Dossiers, &e.dossier.to_string())?
                        .and_then(|d| d.rounds.into_iter().find(|r| r.number == n))
                        .map(|r| r.missing_items)
                }
                _ => None,
            };
            let lines: Option<Vec<String>> = missing.or_else(|| {
                e.note
                    .as_deref()
                    .filter(|n| !n.trim().is_empty())
                    .map(|note| {
                        note.split(['\n', ';'])
                            .map(|l| {
                                l.trim()
                                    .trim_start_matches(['-', '*', '•'])
                                    .trim()
                                    .to_owned()
                            })
                            .filter(|l| !l.is_empty())
                            .collect()
                    })
            });
            if let Some(lines) = lines {
                let items: Vec<(String, Vec<String>)> =
                    lines.into_iter().map(|l| (l, Vec::new())).collect();
                let heading = if e.to == DossierState::NeedsSupplement {
                    "Nội dung cần bổ sung"
                } else {
                    "Ghi chú"
                };
                b.section(heading, &items);
            }
            let composed = b.finish(subject);
            for r in to {
                out.push(Draft {
                    key: format!("dossier/{}/{}", e.id, r.as_str().to_lowercase()),
                    category: Category::Dossier,
                    to: r,
                    subject: composed.subject.clone(),
                    text: composed.text.clone(),
                    html: composed.html.clone(),
                    attachments: Vec::new(),
                });
            }
        }
    }
    Ok(out)
}

/// Moves the cursor to `now` once the drafts of a pass are queued.
pub fn advance(store: &dyn Store, now: Timestamp) -> Result<(), StoreError> {
    store.apply(Batch::new().put(Table::Alerts, CURSOR_KEY, repo::json(&now)))
}
