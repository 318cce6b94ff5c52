//! Applying an action to a dossier: check who acts, check the state allows it, check what the
//! action carries, then build the next dossier and its audit event. Nothing is mutated in
//! place; a refused action leaves no trace.

use jiff::Timestamp;
use jiff::civil::Date;

use canhgac_policies::pack::Pack;
use canhgac_policies::pack::workflow::LevelWorkflow;

use crate::model::{
    Approval, DeadlineStage, DocumentRef, Dossier, DossierId, DossierState, LetterRef, Level,
    SupplementRound, System, SystemStatus, User, format_date_vi,
};

use super::action::{Action, ActionKind};
use super::audit::{AuditEvent, Change, Details, event};
use super::deadline;
use super::error::{MissingDocument, WorkflowError};
use super::permission::{self, Authority};
use super::scope::AgencyScope;
use super::transition::next_state;

/// Applies `action` by `actor` to `dossier`, on `today` (the agencies' calendar day, for
/// deadlines) at `now` (for timestamps). `scope` must be the scope of the dossier's system.
/// Returns the changed dossier and the event to append to the audit trail.
pub fn apply(
    dossier: &Dossier,
    action: Action,
    actor: &User,
    scope: &AgencyScope,
    pack: &Pack,
    today: Date,
    now: Timestamp,
) -> Result<(Dossier, AuditEvent), WorkflowError> {
    let kind = action.kind();
    if scope.system() != dossier.system {
        return Err(WorkflowError::WrongSystem {
            system: dossier.system,
            scope: scope.system(),
        });
    }
    permission::check(actor, kind, scope)?;
    let to = next_state(dossier.state, kind).ok_or(WorkflowError::IllegalTransition {
        state: dossier.state,
        action: kind,
    })?;
    let level = dossier.proposed_level;
    let flow = pack
        .workflow
        .for_level(level.get())
        .ok_or(WorkflowError::LevelNotInPack(level))?;
    let payload = serde_json::to_vec(&action).unwrap_or_default();
    let mut next = dossier.clone();
    let details = change(&mut next, action, actor, pack, flow, today, now)?;
    next.state = to;
    next.updated_at = now;
    if to.is_final() {
        next.deadline = None;
    }
    let event = event(
        Change {
            before: dossier,
            after: &next,
            action: kind,
            payload: &payload,
            actor: actor.id,
            role: actor.role,
            on: today,
            at: now,
        },
        details,
    );
    Ok((next, event))
}

/// Creates a draft dossier proposing `level` for `system`, by an agency officer whose agency
/// covers it. (Whether the pack knows the level is checked on submission.)
pub fn create_draft(
    id: DossierId,
    system: &System,
    level: Level,
    actor: &User,
    scope: &AgencyScope,
    today: Date,
    now: Timestamp,
) -> Result<(Dossier, AuditEvent), WorkflowError> {
    if scope.system() != system.id {
        return Err(WorkflowError::WrongSystem {
            system: system.id,
            scope: scope.system(),
        });
    }
    permission::check(actor, ActionKind::Create, scope)?;
    if system.status == SystemStatus::Retired {
        return Err(WorkflowError::SystemRetired);
    }
    let draft = Dossier::new_draft(id, system.id, level, now);
    let event = event(
        Change {
            before: &draft,
            after: &draft,
            action: ActionKind::Create,
            payload: id.to_string().as_bytes(),
            actor: actor.id,
            role: actor.role,
            on: today,
            at: now,
        },
        Details {
            note: Some(format!("Đề xuất {}", level.label_vi())),
            ..Details::default()
        },
    );
    Ok((draft, event))
}

fn non_empty(
    text: &str,
    field_vi: &'static str,
    field_en: &'static str,
) -> Result<String, WorkflowError> {
    let text = text.trim();
    if text.is_empty() {
        Err(WorkflowError::EmptyText { field_vi, field_en })
    } else {
        Ok(text.to_owned())
    }
}

fn not_in_future(letter: &LetterRef, today: Date) -> Result<(), WorkflowError> {
    if letter.date > today {
        Err(WorkflowError::LetterInFuture {
            letter: letter.clone(),
            today,
        })
    } else {
        Ok(())
    }
}

/// Checks a new document and that its id is not in the dossier yet.
fn check_new_document(dossier: &Dossier, document: &DocumentRef) -> Result<(), WorkflowError> {
    document.validate()?;
    if dossier.all_documents().any(|d| d.id == document.id) {
        return Err(WorkflowError::DuplicateDocument(document.id));
    }
    Ok(())
}

/// The documents the pack requires at `level` that `dossier` lacks.
pub fn missing_documents(dossier: &Dossier, pack: &Pack, level: Level) -> Vec<MissingDocument> {
    pack.workflow
        .documents_for(level.get())
        .into_iter()
        .filter(|required| !dossier.agency_documents().any(|d| d.kind == required.id))
        .map(|required| MissingDocument {
            id: required.id.clone(),
            name_vi: required.name_vi.clone(),
        })
        .collect()
}

/// The part of each action that is not the state change: validation, then the new fields.
fn change(
    next: &mut Dossier,
    action: Action,
    actor: &User,
    pack: &Pack,
    flow: &LevelWorkflow,
    today: Date,
    now: Timestamp,
) -> Result<Details, WorkflowError> {
    let calendar = &pack.calendar;
    let mut details = Details::default();
    match action {
        Action::Submit { letter } => {
            not_in_future(&letter, today)?;
            let missing = missing_documents(next, pack, next.proposed_level);
            if !missing.is_empty() {
                return Err(WorkflowError::MissingDocuments {
                    level: next.proposed_level,
                    missing,
                });
            }
            next.submitted_letter = Some(letter.clone());
            next.deadline = Some(deadline::start(
                calendar,
                DeadlineStage::Appraisal,
                flow.appraisal,
                today,
            ));
            details.note = Some(format!("Đề xuất {}", next.proposed_level.label_vi()));
            details.letter = Some(letter);
            details.documents = next.documents.iter().map(|d| d.id).collect();
        }
        Action::StartAppraisal => {
            if next.assignee.is_none() {
                next.assignee = Some(actor.id);
            }
            let authority = Authority::from_pack(&flow.appraised_by);
            if authority.is_outside() {
                details.on_behalf_of = Some(authority.label_vi());
            }
        }
        Action::RequestSupplement {
            letter,
            missing_items,
        } => {
            let items: Vec<String> = missing_items
                .iter()
                .map(|item| item.trim().to_owned())
                .filter(|item| !item.is_empty())
                .collect();
            if items.is_empty() {
                return Err(WorkflowError::NoMissingItems);
            }
            if let Some(letter) = &letter {
                not_in_future(letter, today)?;
            }
            let number = next.rounds.last().map_or(1, |r| r.number + 1);
            details.note = Some(items.join("; "));
            details.letter = letter.clone();
            details.round = Some(number);
            next.rounds.push(SupplementRound {
                number,
                requested_at: now,
                letter,
                missing_items: items,
                answered_at: None,
                answer_letter: None,
                documents: Vec::new(),
                request_documents: Vec::new(),
            });
            next.deadline = next
                .deadline
                .as_ref()
                .map(|d| deadline::pause(calendar, d, today));
        }
        Action::Resubmit { letter } => {
            if let Some(letter) = &letter {
                not_in_future(letter, today)?;
            }
            let Some(round) = next.rounds.last_mut().filter(|r| r.answered_at.is_none()) else {
                // needs_supplement always has an open round; a dossier edited outside the
                // workflow might not.
                return Err(WorkflowError::IllegalTransition {
                    state: next.state,
                    action: ActionKind::Resubmit,
                });
            };
            if letter.is_none() && round.documents.is_empty() {
                return Err(WorkflowError::NothingToResubmit);
            }
            round.answered_at = Some(now);
            round.answer_letter = letter.clone();
            details.round = Some(round.number);
            details.letter = letter;
            details.documents = round.documents.iter().map(|d| d.id).collect();
            next.deadline = match &next.deadline {
                Some(d) => Some(deadline::resume(calendar, d, today)),
                None => Some(deadline::start(
                    calendar,
                    DeadlineStage::Appraisal,
                    flow.appraisal,
                    today,
                )),
            };
        }
        Action::MarkAppraised { note, letter } => {
            let note = non_empty(&note, "kết luận thẩm định", "appraisal conclusion")?;
            let authority = Authority::from_pack(&flow.appraised_by);
            if let Some(letter) = &letter {
                not_in_future(letter, today)?;
            } else if authority.is_outside() {
                return Err(WorkflowError::ResultLetterRequired {
                    level: next.proposed_level,
                    authority: authority.label_vi(),
                });
            }
            if authority.is_outside() {
                details.on_behalf_of = Some(authority.label_vi());
            }
            details.note = Some(note);
            details.letter = letter;
            next.deadline = Some(deadline::start(
                calendar,
                DeadlineStage::Approval,
                flow.approval,
                today,
            ));
        }
        Action::Approve {
            level,
            decision_number,
            decision_date,
        } => {
            let number = non_empty(
                &decision_number,
                "số quyết định phê duyệt",
                "decision number",
            )?;
            if decision_date > today {
                return Err(WorkflowError::DecisionInFuture {
                    date: decision_date,
                    today,
                });
            }
            let authority = Authority::from_pack(&flow.approved_by);
            if authority.is_outside() {
                details.on_behalf_of = Some(authority.label_vi());
            }
            let mut note = format!(
                "Phê duyệt {} theo Quyết định số {} ngày {}",
                level.label_vi(),
                number,
                format_date_vi(decision_date)
            );
            if level != next.proposed_level {
                note.push_str(&format!(" (đề xuất {})", next.proposed_level.label_vi()));
            }
            details.note = Some(note);
            next.decision = Some(Approval {
                level,
                decision_number: number,
                decision_date,
            });
        }
        Action::Reject { reason } => {
            details.note = Some(non_empty(&reason, "lý do từ chối", "reason for rejection")?);
        }
        Action::Withdraw { reason } => {
            details.note = Some(non_empty(
                &reason,
                "lý do rút hồ sơ",
                "reason for withdrawal",
            )?);
        }
        Action::AddDocument { document } => {
            check_new_document(next, &document)?;
            details.documents = vec![document.id];
            details.note = Some(format!(
                "{} ({}, {} byte, SHA-256 {})",
                document.file_name, document.kind, document.size, document.sha256
            ));
            if next.state == DossierState::NeedsSupplement {
                let Some(round) = next.rounds.last_mut().filter(|r| r.answered_at.is_none()) else {
                    return Err(WorkflowError::IllegalTransition {
                        state: next.state,
                        action: ActionKind::AddDocument,
                    });
                };
                details.round = Some(round.number);
                round.documents.push(document);
            } else {
                next.documents.push(document);
            }
        }
        Action::AddRequestDocument { document } => {
            check_new_document(next, &document)?;
            let Some(round) = next.rounds.last_mut().filter(|r| r.answered_at.is_none()) else {
                return Err(WorkflowError::IllegalTransition {
                    state: next.state,
                    action: ActionKind::AddRequestDocument,
                });
            };
            details.documents = vec![document.id];
            details.round = Some(round.number);
            details.note = Some(format!(
                "{} ({}, {} byte, SHA-256 {})",
                document.file_name, document.kind, document.size, document.sha256
            ));
            round.request_documents.push(document);
        }
        Action::Assign { assignee } => {
            next.assignee = assignee;
        }
        Action::Comment { text } => {
            let text = non_empty(&text, "nội dung ý kiến", "comment text")?;
            if text.chars().count() > 4000 {
                return Err(WorkflowError::TooLong {
                    field_vi: "nội dung ý kiến",
                    field_en: "comment text",
                    max: 4000,
                });
            }
            details.note = Some(text);
        }
    }
    Ok(details)
}
