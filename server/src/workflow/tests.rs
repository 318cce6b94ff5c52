//! Tests of the whole workflow through `apply`: every action in every state by every kind of
//! actor, deadlines across Tết 2026 and 30/4-1/5, supplementation rounds, refused payloads, and
//! a property test over random sequences of actions.

use std::cell::Cell;

use jiff::Timestamp;
use jiff::civil::{Date, date};
use proptest::prelude::*;

use canhgac_policies::pack::Pack;

use super::*;
use crate::model::fixtures::{agency, system};
use crate::model::{
    Agency, AgencyTree, DocumentId, DocumentRef, Dossier, DossierId, DossierState, LetterRef,
    Level, Role, System, SystemStatus, User, UserId,
};

/// 09:00 in Vietnam (UTC+7) on `day`, plus `seconds`.
fn at(day: Date, seconds: i64) -> Timestamp {
    let base = jiff::tz::offset(7)
        .to_timestamp(day.at(9, 0, 0, 0))
        .unwrap();
    base.checked_add(jiff::SignedDuration::from_secs(seconds))
        .unwrap()
}

thread_local! {
    static NEXT_DOCUMENT: Cell<u32> = const { Cell::new(0) };
}

/// A valid document with a fresh id.
fn doc(kind: &str) -> DocumentRef {
    let n = NEXT_DOCUMENT.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    let uploaded_at = at(date(2026, 1, 5), 0);
    DocumentRef {
        id: DocumentId::derived(uploaded_at, &n.to_be_bytes()),
        kind: kind.to_owned(),
        file_name: format!("{kind}-{n}.pdf"),
        size: 40_960,
        sha256: format!("{:064x}", u64::from(n)),
        uploaded_at,
    }
}

fn letter(number: u32, day: Date) -> LetterRef {
    LetterRef::new(number, "SCT-VP", day).unwrap()
}

fn user(n: u8, role: Role, agency: Option<&Agency>) -> User {
    User {
        id: UserId::derived(at(date(2024, 1, 1), 0), &[b'u', n]),
        login: format!("user{n}"),
        display_name: format!("Người dùng {n}"),
        role,
        agency: agency.map(|a| a.id),
    }
}

/// An agency tree, a system run by a centre under a department, and one user of each kind.
struct World {
    pack: Pack,
    system: System,
    scope: AgencyScope,
    /// An officer of the operating unit.
    officer: User,
    /// An officer of the department above it.
    parent_officer: User,
    /// An officer of another department.
    outsider: User,
    /// An agency officer account with no agency.
    homeless: User,
    appraiser: User,
    approver: User,
    admin: User,
    viewer: User,
    agent: User,
}

impl World {
    fn new() -> World {
        let province = agency(1, "UBND tỉnh Đồng Nai", None);
        let department = agency(2, "Sở Công Thương", Some(province.id));
        let centre = agency(3, "Trung tâm Xúc tiến thương mại", Some(department.id));
        let other = agency(4, "Sở Tư pháp", Some(province.id));
        let security = agency(5, "Sở Khoa học và Công nghệ", Some(province.id));
        let tree = AgencyTree::new(&[
            province.clone(),
            department.clone(),
            centre.clone(),
            other.clone(),
            security.clone(),
        ]);
        let system = system(1, province.id, centre.id, 3);
        let scope = AgencyScope::for_system(&system, &tree);
        World {
            pack: Pack::decree85(),
            officer: user(1, Role::AgencyOfficer, Some(&centre)),
            parent_officer: user(2, Role::AgencyOfficer, Some(&department)),
            outsider: user(3, Role::AgencyOfficer, Some(&other)),
            homeless: user(4, Role::AgencyOfficer, None),
            appraiser: user(5, Role::Appraiser, Some(&security)),
            approver: user(6, Role::Approver, Some(&security)),
            admin: user(7, Role::Administrator, None),
            viewer: user(8, Role::Viewer, None),
            agent: user(9, Role::Agent, Some(&centre)),
            system,
            scope,
        }
    }

    fn actors(&self) -> [&User; 9] {
        [
            &self.officer,
            &self.parent_officer,
            &self.outsider,
            &self.homeless,
            &self.appraiser,
            &self.approver,
            &self.admin,
            &self.viewer,
            &self.agent,
        ]
    }

    fn apply(
        &self,
        dossier: &Dossier,
        action: Action,
        actor: &User,
        today: Date,
    ) -> Result<(Dossier, AuditEvent), WorkflowError> {
        apply(
            dossier,
            action,
            actor,
            &self.scope,
            &self.pack,
            today,
            at(today, 0).max(dossier.updated_at + jiff::SignedDuration::from_secs(1)),
        )
    }

    /// A draft at `level` with every required document.
    fn complete_draft(&self, level: u8, today: Date) -> Dossier {
        let level = Level::new(level).unwrap();
        let id = DossierId::derived(at(today, 0), &[level.get()]);
        let (mut dossier, _) = create_draft(
            id,
            &self.system,
            level,
            &self.officer,
            &self.scope,
            today,
            at(today, 0),
        )
        .unwrap();
        for required in self.pack.workflow.documents_for(level.get()) {
            let (next, _) = self
                .apply(
                    &dossier,
                    Action::AddDocument {
                        document: doc(&required.id),
                    },
                    &self.officer,
                    today,
                )
                .unwrap();
            dossier = next;
        }
        dossier
    }

    /// A level 3 dossier brought to `state` the usual way, on 02/02/2026.
    fn dossier_in(&self, state: DossierState) -> Dossier {
        let today = date(2026, 2, 2);
        let step = |d: &Dossier, action: Action, actor: &User| {
            self.apply(d, action, actor, today).unwrap().0
        };
        let draft = self.complete_draft(3, today);
        if state == DossierState::Draft {
            return draft;
        }
        let submitted = step(
            &draft,
            Action::Submit {
                letter: letter(2559, today),
            },
            &self.officer,
        );
        let under = step(&submitted, Action::StartAppraisal, &self.appraiser);
        let needs = step(
            &under,
            Action::RequestSupplement {
                letter: None,
                missing_items: vec!["Bổ sung sơ đồ mạng".to_owned()],
            },
            &self.appraiser,
        );
        let appraised = step(
            &under,
            Action::MarkAppraised {
                note: "Đạt yêu cầu".to_owned(),
                letter: None,
            },
            &self.appraiser,
        );
        let decided = |action| step(&appraised, action, &self.approver);
        match state {
            DossierState::Draft => unreachable!(),
            DossierState::Submitted => submitted,
            DossierState::UnderAppraisal => under,
            DossierState::NeedsSupplement => needs,
            DossierState::Resubmitted => {
                let answered = step(
                    &needs,
                    Action::AddDocument {
                        document: doc("network_diagram"),
                    },
                    &self.officer,
                );
                step(
                    &answered,
                    Action::Resubmit {
                        letter: Some(letter(2600, today)),
                    },
                    &self.officer,
                )
            }
            DossierState::Appraised => appraised,
            DossierState::Approved => decided(Action::Approve {
                level: Level::new(3).unwrap(),
                decision_number: "150/QĐ-UBND".to_owned(),
                decision_date: today,
            }),
            DossierState::Rejected => decided(Action::Reject {
                reason: "Không đủ căn cứ".to_owned(),
            }),
            DossierState::Withdrawn => step(
                &submitted,
                Action::Withdraw {
                    reason: "Nộp nhầm".to_owned(),
                },
                &self.officer,
            ),
        }
    }
}

/// A valid payload of `kind`, dated `today`.
fn valid_action(kind: ActionKind, today: Date, assignee: UserId) -> Action {
    match kind {
        ActionKind::Create => unreachable!("not an Action"),
        ActionKind::Submit => Action::Submit {
            letter: letter(2559, today),
        },
        ActionKind::StartAppraisal => Action::StartAppraisal,
        ActionKind::RequestSupplement => Action::RequestSupplement {
            letter: Some(letter(310, today)),
            missing_items: vec!["Bổ sung phương án bảo đảm an toàn thông tin".to_owned()],
        },
        ActionKind::Resubmit => Action::Resubmit {
            letter: Some(letter(2601, today)),
        },
        ActionKind::MarkAppraised => Action::MarkAppraised {
            note: "Đạt yêu cầu, đề nghị phê duyệt".to_owned(),
            letter: Some(letter(320, today)),
        },
        ActionKind::Approve => Action::Approve {
            level: Level::new(3).unwrap(),
            decision_number: "150/QĐ-UBND".to_owned(),
            decision_date: today,
        },
        ActionKind::Reject => Action::Reject {
            reason: "Không phù hợp tiêu chí cấp độ".to_owned(),
        },
        ActionKind::Withdraw => Action::Withdraw {
            reason: "Hệ thống thay đổi phạm vi".to_owned(),
        },
        ActionKind::AddDocument => Action::AddDocument {
            document: doc("other_attachment"),
        },
        ActionKind::AddRequestDocument => Action::AddRequestDocument {
            document: doc("supplement_request"),
        },
        ActionKind::Assign => Action::Assign {
            assignee: Some(assignee),
        },
        ActionKind::Comment => Action::Comment {
            text: "Đề nghị làm rõ phương án sao lưu dữ liệu".to_owned(),
        },
    }
}

/// The specification, written out independently of the implementation's tables.
fn allowed_states(kind: ActionKind) -> &'static [DossierState] {
    use DossierState as S;
    match kind {
        ActionKind::Create => &[],
        ActionKind::Submit => &[S::Draft],
        ActionKind::StartAppraisal => &[S::Submitted, S::Resubmitted],
        ActionKind::RequestSupplement | ActionKind::MarkAppraised => &[S::UnderAppraisal],
        ActionKind::Resubmit => &[S::NeedsSupplement],
        ActionKind::Approve | ActionKind::Reject => &[S::Appraised],
        ActionKind::Withdraw => &[
            S::Draft,
            S::Submitted,
            S::UnderAppraisal,
            S::NeedsSupplement,
            S::Resubmitted,
            S::Appraised,
        ],
        ActionKind::AddDocument => &[S::Draft, S::NeedsSupplement],
        ActionKind::AddRequestDocument => &[S::NeedsSupplement],
        ActionKind::Assign => &[
            S::Submitted,
            S::UnderAppraisal,
            S::NeedsSupplement,
            S::Resubmitted,
            S::Appraised,
        ],
        ActionKind::Comment => &[
            S::Draft,
            S::Submitted,
            S::UnderAppraisal,
            S::NeedsSupplement,
            S::Resubmitted,
            S::Appraised,
        ],
    }
}

fn allowed_roles(kind: ActionKind) -> &'static [Role] {
    match kind {
        ActionKind::Create
        | ActionKind::Submit
        | ActionKind::Resubmit
        | ActionKind::AddDocument => &[Role::AgencyOfficer],
        ActionKind::Withdraw => &[Role::AgencyOfficer, Role::Administrator],
        ActionKind::StartAppraisal
        | ActionKind::RequestSupplement
        | ActionKind::MarkAppraised
        | ActionKind::AddRequestDocument => &[Role::Appraiser],
        ActionKind::Approve | ActionKind::Reject => &[Role::Approver, Role::Administrator],
        ActionKind::Assign => &[Role::Appraiser, Role::Approver, Role::Administrator],
        ActionKind::Comment => &[
            Role::AgencyOfficer,
            Role::Appraiser,
            Role::Approver,
            Role::Administrator,
        ],
    }
}

#[test]
fn every_action_in_every_state_by_every_actor() {
    let w = World::new();
    let today = date(2026, 2, 2);
    let mut allowed = 0;
    for state in DossierState::ALL {
        let dossier = w.dossier_in(state);
        assert_eq!(dossier.state, state);
        for kind in ActionKind::ALL
            .into_iter()
            .filter(|k| *k != ActionKind::Create)
        {
            for actor in w.actors() {
                let result = w.apply(
                    &dossier,
                    valid_action(kind, today, w.appraiser.id),
                    actor,
                    today,
                );
                let who = format!("{state:?} {kind:?} by {} {:?}", actor.login, actor.role);
                if !allowed_roles(kind).contains(&actor.role) {
                    assert!(
                        matches!(result, Err(WorkflowError::Forbidden { role, action }) if role == actor.role && action == kind),
                        "{who}: {result:?}"
                    );
                } else if actor.role == Role::AgencyOfficer && actor.agency.is_none() {
                    assert!(
                        matches!(result, Err(WorkflowError::NoAgency { .. })),
                        "{who}: {result:?}"
                    );
                } else if actor.id == w.outsider.id {
                    assert!(
                        matches!(result, Err(WorkflowError::OutOfScope { .. })),
                        "{who}: {result:?}"
                    );
                } else if !allowed_states(kind).contains(&state) {
                    assert!(
                        matches!(result, Err(WorkflowError::IllegalTransition { state: s, action }) if s == state && action == kind),
                        "{who}: {result:?}"
                    );
                } else {
                    let (next, event) = result.unwrap_or_else(|e| panic!("{who}: {e}"));
                    allowed += 1;
                    assert_eq!(event.from, state, "{who}");
                    assert_eq!(event.to, next.state, "{who}");
                    assert_eq!(event.action, kind, "{who}");
                    assert_eq!(event.actor, actor.id, "{who}");
                    assert_eq!(event.role, actor.role, "{who}");
                    assert_eq!(Some(next.state), next_state(state, kind), "{who}");
                    // The interface offers exactly what apply accepts.
                    assert!(
                        available_actions(&dossier, actor, &w.scope).contains(&kind),
                        "{who}"
                    );
                }
            }
        }
    }
    // Submit 2, start 2x1, request 1, resubmit 2, mark 1, approve/reject 2x2, withdraw 6x3,
    // add document 2x2, assign 5x3, add request document 1, comment 6x5.
    assert_eq!(allowed, 2 + 2 + 1 + 2 + 1 + 4 + 18 + 4 + 15 + 1 + 30);
}

#[test]
fn interface_actions_per_role() {
    let w = World::new();
    let submitted = w.dossier_in(DossierState::Submitted);
    assert_eq!(
        available_actions(&submitted, &w.officer, &w.scope),
        [ActionKind::Withdraw, ActionKind::Comment]
    );
    assert_eq!(
        available_actions(&submitted, &w.appraiser, &w.scope),
        [
            ActionKind::StartAppraisal,
            ActionKind::Assign,
            ActionKind::Comment
        ]
    );
    assert!(available_actions(&submitted, &w.outsider, &w.scope).is_empty());
    assert!(available_actions(&submitted, &w.viewer, &w.scope).is_empty());
    let approved = w.dossier_in(DossierState::Approved);
    for actor in w.actors() {
        assert!(available_actions(&approved, actor, &w.scope).is_empty());
    }
}

#[test]
fn an_approved_dossier_cannot_be_withdrawn_and_says_so() {
    let w = World::new();
    let approved = w.dossier_in(DossierState::Approved);
    let err = w
        .apply(
            &approved,
            Action::Withdraw {
                reason: "Không cần nữa".to_owned(),
            },
            &w.officer,
            date(2026, 2, 3),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Hồ sơ đang ở trạng thái 'đã phê duyệt', không thể rút (the dossier is approved: cannot withdraw it)"
    );
}

#[test]
fn the_whole_path_with_two_rounds_and_its_audit_trail() {
    let w = World::new();
    let mut today = date(2026, 3, 2);
    let mut events = Vec::new();
    let mut dossier = w.complete_draft(3, today);
    let mut step = |d: &Dossier, action: Action, actor: &User, day: Date| {
        let (next, event) = w.apply(d, action, actor, day).unwrap();
        events.push(event);
        next
    };
    dossier = step(
        &dossier,
        Action::Submit {
            letter: letter(2559, today),
        },
        &w.officer,
        today,
    );
    assert_eq!(dossier.submitted_letter, Some(letter(2559, today)));
    dossier = step(&dossier, Action::StartAppraisal, &w.appraiser, today);
    assert_eq!(
        dossier.assignee,
        Some(w.appraiser.id),
        "the first appraiser takes it"
    );
    for round in 1..=2u32 {
        today = today.checked_add(jiff::Span::new().days(2)).unwrap();
        dossier = step(
            &dossier,
            Action::RequestSupplement {
                letter: Some(letter(400 + round, today)),
                missing_items: vec![format!("Nội dung bổ sung lần {round}"), "   ".to_owned()],
            },
            &w.appraiser,
            today,
        );
        let open = dossier.open_round().unwrap();
        assert_eq!(open.number, round);
        assert_eq!(
            open.missing_items,
            [format!("Nội dung bổ sung lần {round}")]
        );
        dossier = step(
            &dossier,
            Action::AddDocument {
                document: doc("network_diagram"),
            },
            &w.parent_officer,
            today,
        );
        dossier = step(
            &dossier,
            Action::Resubmit {
                letter: Some(letter(2700 + round, today)),
            },
            &w.officer,
            today,
        );
        assert!(dossier.open_round().is_none());
        dossier = step(&dossier, Action::StartAppraisal, &w.appraiser, today);
    }
    assert_eq!(
        dossier.rounds.iter().map(|r| r.number).collect::<Vec<_>>(),
        [1, 2]
    );
    assert!(
        dossier
            .rounds
            .iter()
            .all(|r| r.answered_at.is_some() && r.documents.len() == 1)
    );
    assert_eq!(dossier.rounds[1].answer_letter, Some(letter(2702, today)));
    dossier = step(
        &dossier,
        Action::MarkAppraised {
            note: "Đạt yêu cầu, đề nghị phê duyệt cấp độ 3".to_owned(),
            letter: None,
        },
        &w.appraiser,
        today,
    );
    assert_eq!(
        dossier.deadline.as_ref().unwrap().stage,
        crate::model::DeadlineStage::Approval
    );
    dossier = step(
        &dossier,
        Action::Approve {
            level: Level::new(3).unwrap(),
            decision_number: "2168/QĐ-UBND".to_owned(),
            decision_date: today,
        },
        &w.admin,
        today,
    );
    assert_eq!(dossier.state, DossierState::Approved);
    assert_eq!(dossier.deadline, None);
    assert_eq!(
        dossier.decision.as_ref().unwrap().decision_number,
        "2168/QĐ-UBND"
    );

    // The trail is a chain, with the rounds and letters recorded.
    for pair in events.windows(2) {
        assert_eq!(pair[0].to, pair[1].from);
        assert!(pair[0].at <= pair[1].at);
    }
    let mut ids: Vec<_> = events.iter().map(|e| e.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), events.len(), "event ids are unique");
    let requests: Vec<_> = events
        .iter()
        .filter(|e| e.action == ActionKind::RequestSupplement)
        .collect();
    assert_eq!(
        requests.iter().map(|e| e.round).collect::<Vec<_>>(),
        [Some(1), Some(2)]
    );
    assert_eq!(requests[0].note.as_deref(), Some("Nội dung bổ sung lần 1"));
    let approval = events.last().unwrap();
    assert_eq!(
        approval.on_behalf_of.as_deref(),
        Some("chủ quản hệ thống thông tin")
    );
    assert_eq!(
        approval.note.as_deref(),
        Some(
            format!(
                "Phê duyệt cấp độ 3 theo Quyết định số 2168/QĐ-UBND ngày {}",
                crate::model::format_date_vi(today)
            )
            .as_str()
        )
    );
    assert!(approval.decision.is_some());
    assert_eq!(
        state_on(&events, today).map(|s| s.0),
        Some(DossierState::Approved)
    );
    assert_eq!(state_on(&events, date(2026, 3, 1)), None);
    let json = serde_json::to_value(approval).unwrap();
    assert_eq!(json["action"], "approve");
    assert_eq!(json["from"], "appraised");
    assert_eq!(json["to"], "approved");
}

#[test]
fn replaying_the_same_request_gives_the_same_event_id() {
    let w = World::new();
    let draft = w.complete_draft(3, date(2026, 2, 2));
    let submit = || Action::Submit {
        letter: letter(2559, date(2026, 2, 2)),
    };
    let now = at(date(2026, 2, 2), 60);
    let run = |action| {
        apply(
            &draft,
            action,
            &w.officer,
            &w.scope,
            &w.pack,
            date(2026, 2, 2),
            now,
        )
    };
    let (_, a) = run(submit()).unwrap();
    let (_, b) = run(submit()).unwrap();
    assert_eq!(a.id, b.id);
    let (_, c) = run(Action::Submit {
        letter: letter(2560, date(2026, 2, 2)),
    })
    .unwrap();
    assert_ne!(a.id, c.id);
    assert_eq!(a.id.as_uuid().get_version_num(), 7);
}

#[test]
fn the_appraisal_clock_pauses_across_tet_2026() {
    let w = World::new();
    // Level 3: 15 working days. Submitted Monday 02/02/2026: due 02/03 (Tết 14-22/02 skipped).
    let draft = w.complete_draft(3, date(2026, 2, 2));
    let (d, _) = w
        .apply(
            &draft,
            Action::Submit {
                letter: letter(2559, date(2026, 1, 30)),
            },
            &w.officer,
            date(2026, 2, 2),
        )
        .unwrap();
    assert_eq!(d.deadline.as_ref().unwrap().due, date(2026, 3, 2));
    let (d, _) = w
        .apply(&d, Action::StartAppraisal, &w.appraiser, date(2026, 2, 3))
        .unwrap();
    // Returned on Wednesday 11/02 with 8 working days left (12-13/02, 23/02-02/03).
    let (d, event) = w
        .apply(
            &d,
            Action::RequestSupplement {
                letter: None,
                missing_items: vec!["Bổ sung thuyết minh đề xuất cấp độ".to_owned()],
            },
            &w.appraiser,
            date(2026, 2, 11),
        )
        .unwrap();
    let paused = d.deadline.clone().unwrap();
    assert_eq!(paused.paused_since, Some(date(2026, 2, 11)));
    assert_eq!(paused.days_left, Some(8));
    assert_eq!(event.deadline, Some(paused));
    // Nobody is late while the agency holds it, even well past the old due day.
    assert_eq!(overdue(&d, date(2026, 3, 20), &w.pack.calendar), None);
    // Answered on Monday 23/02, the first working day after Tết: 8 more working days.
    let (d, _) = w
        .apply(
            &d,
            Action::AddDocument {
                document: doc("level_justification"),
            },
            &w.officer,
            date(2026, 2, 23),
        )
        .unwrap();
    let (d, _) = w
        .apply(
            &d,
            Action::Resubmit {
                letter: Some(letter(2600, date(2026, 2, 23))),
            },
            &w.officer,
            date(2026, 2, 23),
        )
        .unwrap();
    let running = d.deadline.clone().unwrap();
    assert_eq!(
        (running.due, running.paused_since, running.days_left),
        (date(2026, 3, 5), None, None)
    );
    assert_eq!(overdue(&d, date(2026, 3, 5), &w.pack.calendar), None);
    assert_eq!(overdue(&d, date(2026, 3, 9), &w.pack.calendar), Some(2));
    let (d, _) = w
        .apply(&d, Action::StartAppraisal, &w.appraiser, date(2026, 3, 4))
        .unwrap();
    let (d, _) = w
        .apply(
            &d,
            Action::MarkAppraised {
                note: "Đạt yêu cầu".to_owned(),
                letter: None,
            },
            &w.appraiser,
            date(2026, 3, 4),
        )
        .unwrap();
    // Approval: 7 working days after Wednesday 04/03: 13/03.
    let approval = d.deadline.clone().unwrap();
    assert_eq!(approval.stage, crate::model::DeadlineStage::Approval);
    assert_eq!(approval.due, date(2026, 3, 13));
    assert_eq!(overdue(&d, date(2026, 3, 16), &w.pack.calendar), Some(1));
}

#[test]
fn the_clock_pauses_across_30_april_and_1_may_2026() {
    let w = World::new();
    // Level 2, submitted Monday 20/04: due 14/05 (27/04 compensates Giỗ Tổ; 30/04, 01/05 off).
    let draft = w.complete_draft(2, date(2026, 4, 20));
    let (d, _) = w
        .apply(
            &draft,
            Action::Submit {
                letter: letter(77, date(2026, 4, 20)),
            },
            &w.officer,
            date(2026, 4, 20),
        )
        .unwrap();
    assert_eq!(d.deadline.as_ref().unwrap().due, date(2026, 5, 14));
    let (d, _) = w
        .apply(&d, Action::StartAppraisal, &w.appraiser, date(2026, 4, 21))
        .unwrap();
    let (d, _) = w
        .apply(
            &d,
            Action::RequestSupplement {
                letter: Some(letter(12, date(2026, 4, 28))),
                missing_items: vec!["Sơ đồ kết nối".to_owned()],
            },
            &w.appraiser,
            date(2026, 4, 28),
        )
        .unwrap();
    assert_eq!(d.deadline.as_ref().unwrap().days_left, Some(10));
    let (d, _) = w
        .apply(
            &d,
            Action::Resubmit {
                letter: Some(letter(80, date(2026, 5, 4))),
            },
            &w.officer,
            date(2026, 5, 4),
        )
        .unwrap();
    // Monday 04/05 + 10 working days: 18/05.
    assert_eq!(d.deadline.as_ref().unwrap().due, date(2026, 5, 18));
}

#[test]
fn levels_4_and_5_are_appraised_centrally_in_calendar_days() {
    let w = World::new();
    let today = date(2026, 1, 16);
    let draft = w.complete_draft(4, today);
    assert!(
        draft
            .documents
            .iter()
            .any(|d| d.kind == "specialised_opinion")
    );
    let (d, _) = w
        .apply(
            &draft,
            Action::Submit {
                letter: letter(5, today),
            },
            &w.officer,
            today,
        )
        .unwrap();
    // 30 calendar days end on Sunday 15/02, inside Tết: due Monday 23/02.
    let deadline = d.deadline.clone().unwrap();
    assert_eq!(
        deadline.count,
        canhgac_policies::pack::workflow::DayCount::CalendarDays
    );
    assert_eq!(deadline.due, date(2026, 2, 23));
    let (d, start) = w
        .apply(&d, Action::StartAppraisal, &w.appraiser, today)
        .unwrap();
    assert_eq!(
        start.on_behalf_of.as_deref(),
        Some("cơ quan có thẩm quyền ở trung ương")
    );
    let err = w
        .apply(
            &d,
            Action::MarkAppraised {
                note: "Đạt".to_owned(),
                letter: None,
            },
            &w.appraiser,
            date(2026, 2, 10),
        )
        .unwrap_err();
    assert!(
        matches!(err, WorkflowError::ResultLetterRequired { .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("cơ quan có thẩm quyền ở trung ương"),
        "{err}"
    );
    let result = LetterRef::new(88, "A05-P2", date(2026, 2, 9)).unwrap();
    let (d, event) = w
        .apply(
            &d,
            Action::MarkAppraised {
                note: "Cục A05 thẩm định đạt yêu cầu".to_owned(),
                letter: Some(result.clone()),
            },
            &w.appraiser,
            date(2026, 2, 10),
        )
        .unwrap();
    assert_eq!(event.letter, Some(result));
    assert_eq!(event.role, Role::Appraiser);
    assert_eq!(
        event.on_behalf_of.as_deref(),
        Some("cơ quan có thẩm quyền ở trung ương")
    );
    // Approval of level 4: 7 working days.
    assert_eq!(d.deadline.unwrap().due, date(2026, 2, 26));
}

#[test]
fn submission_needs_the_documents_of_the_level() {
    let w = World::new();
    let today = date(2026, 2, 2);
    let (mut draft, _) = create_draft(
        DossierId::derived(at(today, 0), b"partial"),
        &w.system,
        Level::new(4).unwrap(),
        &w.officer,
        &w.scope,
        today,
        at(today, 0),
    )
    .unwrap();
    draft.documents.push(doc("overview_report"));
    draft.documents.push(doc("security_plan"));
    let err = w
        .apply(
            &draft,
            Action::Submit {
                letter: letter(1, today),
            },
            &w.officer,
            today,
        )
        .unwrap_err();
    let WorkflowError::MissingDocuments { level, missing } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(level.get(), 4);
    assert_eq!(
        missing.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        [
            "design_document",
            "level_justification",
            "specialised_opinion"
        ]
    );
    assert_eq!(
        err.to_string(),
        "Hồ sơ đề xuất cấp độ 4 còn thiếu: Hồ sơ thiết kế hệ thống (thiết kế sơ bộ hoặc thiết kế đã phê duyệt); Thuyết minh đề xuất cấp độ; Ý kiến chuyên môn của đơn vị chuyên trách về an toàn thông tin (missing documents: design_document, level_justification, specialised_opinion)"
    );
    // Level 3 does not need the specialised opinion.
    assert_eq!(
        missing_documents(&draft, &w.pack, Level::new(3).unwrap())
            .iter()
            .map(|m| m.id.as_str())
            .collect::<Vec<_>>(),
        ["design_document", "level_justification"]
    );
}

#[test]
fn payloads_are_checked() {
    let w = World::new();
    let today = date(2026, 2, 2);
    let draft = w.dossier_in(DossierState::Draft);
    let future = Action::Submit {
        letter: letter(1, date(2026, 2, 3)),
    };
    assert!(matches!(
        w.apply(&draft, future, &w.officer, today),
        Err(WorkflowError::LetterInFuture { .. })
    ));
    let known = draft.documents[0].clone();
    assert_eq!(
        w.apply(
            &draft,
            Action::AddDocument {
                document: known.clone()
            },
            &w.officer,
            today
        )
        .unwrap_err(),
        WorkflowError::DuplicateDocument(known.id)
    );
    let broken = DocumentRef {
        sha256: "xyz".to_owned(),
        ..doc("overview_report")
    };
    assert!(matches!(
        w.apply(
            &draft,
            Action::AddDocument { document: broken },
            &w.officer,
            today
        ),
        Err(WorkflowError::InvalidDocument(_))
    ));

    let under = w.dossier_in(DossierState::UnderAppraisal);
    let empty = Action::RequestSupplement {
        letter: None,
        missing_items: vec![" ".to_owned()],
    };
    assert_eq!(
        w.apply(&under, empty, &w.appraiser, today).unwrap_err(),
        WorkflowError::NoMissingItems
    );
    let no_note = Action::MarkAppraised {
        note: "  ".to_owned(),
        letter: None,
    };
    let err = w.apply(&under, no_note, &w.appraiser, today).unwrap_err();
    assert!(matches!(err, WorkflowError::EmptyText { .. }));
    assert!(
        err.to_string().starts_with("Chưa nhập kết luận thẩm định"),
        "{err}"
    );

    let needs = w.dossier_in(DossierState::NeedsSupplement);
    let nothing = Action::Resubmit { letter: None };
    assert_eq!(
        w.apply(&needs, nothing.clone(), &w.officer, today)
            .unwrap_err(),
        WorkflowError::NothingToResubmit
    );
    // The documents uploaded to the open round are the answer.
    let answer = doc("security_plan");
    let (answered, event) = w
        .apply(
            &needs,
            Action::AddDocument {
                document: answer.clone(),
            },
            &w.officer,
            today,
        )
        .unwrap();
    assert_eq!(
        (event.round, event.documents.clone()),
        (Some(1), vec![answer.id])
    );
    assert!(event.note.unwrap().contains(&answer.sha256));
    let (resubmitted, event) = w.apply(&answered, nothing, &w.officer, today).unwrap();
    assert_eq!(
        resubmitted.rounds[0].documents,
        std::slice::from_ref(&answer)
    );
    assert_eq!(event.documents, [answer.id]);
    assert!(resubmitted.documents.iter().all(|d| d.id != answer.id));
    // The appraiser's own files go with the request and never stand in for the agency's.
    let letter_scan = doc("security_plan");
    let (attached, event) = w
        .apply(
            &needs,
            Action::AddRequestDocument {
                document: letter_scan.clone(),
            },
            &w.appraiser,
            today,
        )
        .unwrap();
    assert_eq!(
        (event.action, event.round, event.role),
        (ActionKind::AddRequestDocument, Some(1), Role::Appraiser)
    );
    assert_eq!(attached.state, DossierState::NeedsSupplement);
    assert_eq!(
        attached.rounds[0].request_documents,
        std::slice::from_ref(&letter_scan)
    );
    assert!(attached.agency_documents().all(|d| d.id != letter_scan.id));
    assert!(attached.all_documents().any(|d| d.id == letter_scan.id));
    assert_eq!(
        w.apply(
            &attached,
            Action::Resubmit { letter: None },
            &w.officer,
            today
        )
        .unwrap_err(),
        WorkflowError::NothingToResubmit,
        "the appraiser's file is not an answer"
    );
    assert!(matches!(
        w.apply(
            &needs,
            Action::AddRequestDocument { document: doc("x") },
            &w.officer,
            today
        ),
        Err(WorkflowError::Forbidden { .. })
    ));

    let appraised = w.dossier_in(DossierState::Appraised);
    let late = Action::Approve {
        level: Level::new(3).unwrap(),
        decision_number: "1/QĐ-UBND".to_owned(),
        decision_date: date(2026, 2, 5),
    };
    assert!(matches!(
        w.apply(&appraised, late, &w.approver, today),
        Err(WorkflowError::DecisionInFuture { .. })
    ));
    let unnumbered = Action::Approve {
        level: Level::new(3).unwrap(),
        decision_number: String::new(),
        decision_date: today,
    };
    assert!(matches!(
        w.apply(&appraised, unnumbered, &w.approver, today),
        Err(WorkflowError::EmptyText { .. })
    ));
    let silent = Action::Reject {
        reason: String::new(),
    };
    assert!(matches!(
        w.apply(&appraised, silent, &w.approver, today),
        Err(WorkflowError::EmptyText { .. })
    ));
    let other_level = Action::Approve {
        level: Level::new(2).unwrap(),
        decision_number: "9/QĐ-UBND".to_owned(),
        decision_date: today,
    };
    let (approved, event) = w
        .apply(&appraised, other_level, &w.approver, today)
        .unwrap();
    assert_eq!(approved.decision.unwrap().level.get(), 2);
    assert!(event.note.unwrap().ends_with("(đề xuất cấp độ 3)"));
}

#[test]
fn withdrawing_during_supplementation_ends_the_clock_and_keeps_the_request() {
    let w = World::new();
    let needs = w.dossier_in(DossierState::NeedsSupplement);
    let (withdrawn, event) = w
        .apply(
            &needs,
            Action::Withdraw {
                reason: "Đơn vị xây dựng lại hệ thống".to_owned(),
            },
            &w.admin,
            date(2026, 2, 9),
        )
        .unwrap();
    assert_eq!(withdrawn.state, DossierState::Withdrawn);
    assert_eq!(withdrawn.deadline, None);
    assert_eq!(event.deadline, None);
    // The unanswered request stays on record as it was.
    assert_eq!(withdrawn.open_round().map(|r| r.number), Some(1));
    assert_eq!(event.note.as_deref(), Some("Đơn vị xây dựng lại hệ thống"));
}

#[test]
fn the_scope_must_be_the_dossiers_system() {
    let w = World::new();
    let draft = w.dossier_in(DossierState::Draft);
    let elsewhere = AgencyScope::from_agencies(
        crate::model::SystemId::derived(at(date(2026, 1, 1), 0), b"other"),
        [w.officer.agency.unwrap()],
    );
    let err = apply(
        &draft,
        Action::Withdraw {
            reason: "x".to_owned(),
        },
        &w.officer,
        &elsewhere,
        &w.pack,
        date(2026, 2, 2),
        at(date(2026, 2, 2), 0),
    )
    .unwrap_err();
    assert!(matches!(err, WorkflowError::WrongSystem { .. }));
    assert!(available_actions(&draft, &w.officer, &elsewhere).is_empty());
}

#[test]
fn drafts_are_created_by_officers_of_the_system_only() {
    let w = World::new();
    let today = date(2026, 2, 2);
    let create = |actor: &User, system: &System| {
        create_draft(
            DossierId::derived(at(today, 0), b"new"),
            system,
            Level::new(2).unwrap(),
            actor,
            &AgencyScope::from_agencies(system.id, w.scope.agencies()),
            today,
            at(today, 0),
        )
    };
    let (draft, event) = create(&w.parent_officer, &w.system).unwrap();
    assert_eq!(
        (draft.state, event.from, event.to),
        (
            DossierState::Draft,
            DossierState::Draft,
            DossierState::Draft
        )
    );
    assert_eq!(event.action, ActionKind::Create);
    assert!(matches!(
        create(&w.outsider, &w.system),
        Err(WorkflowError::OutOfScope { .. })
    ));
    assert!(matches!(
        create(&w.appraiser, &w.system),
        Err(WorkflowError::Forbidden { .. })
    ));
    let retired = System {
        status: SystemStatus::Retired,
        ..w.system.clone()
    };
    assert_eq!(
        create(&w.officer, &retired).unwrap_err(),
        WorkflowError::SystemRetired
    );
}

/// Checks what must hold of any dossier the workflow produced.
fn check_invariants(d: &Dossier) -> Result<(), TestCaseError> {
    let paused = d
        .deadline
        .as_ref()
        .is_some_and(|x| x.paused_since.is_some());
    prop_assert_eq!(paused, d.state == DossierState::NeedsSupplement);
    // A round stays open only while waiting for the answer, or if the dossier was withdrawn then.
    if d.state == DossierState::NeedsSupplement {
        prop_assert!(d.open_round().is_some());
    }
    if d.open_round().is_some() {
        prop_assert!(matches!(
            d.state,
            DossierState::NeedsSupplement | DossierState::Withdrawn
        ));
    }
    prop_assert_eq!(
        d.deadline.is_none(),
        d.state.is_final() || d.state == DossierState::Draft
    );
    prop_assert_eq!(d.decision.is_some(), d.state == DossierState::Approved);
    for (i, round) in d.rounds.iter().enumerate() {
        prop_assert_eq!(round.number as usize, i + 1);
        prop_assert!(!round.missing_items.is_empty());
    }
    if !matches!(d.state, DossierState::Draft | DossierState::Withdrawn) {
        prop_assert!(d.submitted_letter.is_some());
    }
    Ok(())
}

/// An action of `kind`, valid or not depending on `variant`.
fn random_action(kind: usize, variant: u8, today: Date, assignee: UserId) -> Action {
    let kinds = [
        ActionKind::Submit,
        ActionKind::StartAppraisal,
        ActionKind::RequestSupplement,
        ActionKind::Resubmit,
        ActionKind::MarkAppraised,
        ActionKind::Approve,
        ActionKind::Reject,
        ActionKind::Withdraw,
        ActionKind::AddDocument,
        ActionKind::Assign,
        ActionKind::AddRequestDocument,
    ];
    let kind = kinds[kind % kinds.len()];
    let tomorrow = today.tomorrow().unwrap();
    match (kind, variant % 4) {
        (ActionKind::Submit, 1) => Action::Submit {
            letter: letter(1, tomorrow),
        },
        (ActionKind::RequestSupplement, 1) => Action::RequestSupplement {
            letter: None,
            missing_items: vec![],
        },
        (ActionKind::Resubmit, 1) => Action::Resubmit { letter: None },
        (ActionKind::MarkAppraised, 1) => Action::MarkAppraised {
            note: String::new(),
            letter: None,
        },
        (ActionKind::MarkAppraised, 2) => Action::MarkAppraised {
            note: "Đạt".to_owned(),
            letter: None,
        },
        (ActionKind::Approve, 1) => Action::Approve {
            level: Level::new(5).unwrap(),
            decision_number: "1/QĐ-TTg".to_owned(),
            decision_date: tomorrow,
        },
        (ActionKind::Reject | ActionKind::Withdraw, 1) => Action::Withdraw {
            reason: " ".to_owned(),
        },
        (ActionKind::AddDocument, 1) => Action::AddDocument {
            document: DocumentRef {
                size: 0,
                ..doc("overview_report")
            },
        },
        (ActionKind::AddDocument, 2) => Action::AddDocument {
            document: doc("security_plan"),
        },
        (ActionKind::Assign, 1) => Action::Assign { assignee: None },
        _ => valid_action(kind, today, assignee),
    }
}

/// One step of a random run: who acts, what, how the payload is spoiled, how many days pass.
/// A guided step picks an action the state allows and an actor whose role may take it, so
/// runs get past the first states often; an unguided one picks anything.
#[derive(Debug, Clone, Copy)]
struct Step {
    guided: bool,
    actor: usize,
    kind: usize,
    variant: u8,
    advance: u8,
}

/// Runs `steps` on a fresh dossier at `level` (with every required document when `complete`,
/// else with those of `documents`), checking the invariants after each accepted action.
/// Returns the states visited.
fn drive(
    level: u8,
    complete: bool,
    documents: &[usize],
    steps: &[Step],
) -> Result<Vec<DossierState>, TestCaseError> {
    let w = World::new();
    let kinds = [
        "overview_report",
        "design_document",
        "level_justification",
        "security_plan",
        "specialised_opinion",
    ];
    let mut today = date(2026, 1, 5);
    let mut dossier = if complete {
        w.complete_draft(level, today)
    } else {
        let (mut d, _) = create_draft(
            DossierId::derived(at(today, 0), &[level]),
            &w.system,
            Level::new(level).unwrap(),
            &w.officer,
            &w.scope,
            today,
            at(today, 0),
        )
        .unwrap();
        for &k in documents {
            d.documents.push(doc(kinds[k % kinds.len()]));
        }
        d
    };
    let mut visited = vec![dossier.state];
    let mut seconds = 0;
    let mut was_approved = false;
    let mut previous: Option<AuditEvent> = None;
    for step in steps {
        today = today
            .checked_add(jiff::Span::new().days(i64::from(step.advance % 6)))
            .unwrap();
        seconds += 1;
        let (actor, action) = if step.guided && !dossier.state.is_final() {
            let possible = actions_in(dossier.state);
            let kind = possible[step.kind % possible.len()];
            let allowed: Vec<&User> = w
                .actors()
                .into_iter()
                .filter(|u| permission::check(u, kind, &w.scope).is_ok())
                .collect();
            let actor = allowed[step.actor % allowed.len()];
            let variant = if step.variant % 3 == 0 {
                step.variant
            } else {
                0
            };
            (
                actor,
                random_action(kind_index(kind), variant, today, w.appraiser.id),
            )
        } else {
            let actor = w.actors()[step.actor % 9];
            (
                actor,
                random_action(step.kind, step.variant, today, w.appraiser.id),
            )
        };
        let before = dossier.clone();
        match apply(
            &dossier,
            action,
            actor,
            &w.scope,
            &w.pack,
            today,
            at(today, seconds),
        ) {
            Ok((next, event)) => {
                prop_assert!(!was_approved, "an approved dossier changed: {:?}", event);
                prop_assert_eq!(event.from, before.state);
                prop_assert_eq!(event.to, next.state);
                prop_assert_eq!(Some(next.state), next_state(before.state, event.action));
                if let Some(previous) = &previous {
                    prop_assert!(previous.id != event.id);
                    prop_assert!(previous.at < event.at);
                }
                check_invariants(&next)?;
                let _ = overdue(&next, today, &w.pack.calendar);
                previous = Some(event);
                dossier = next;
                visited.push(dossier.state);
            }
            Err(err) => {
                prop_assert!(!err.to_string().is_empty());
                prop_assert_eq!(&dossier, &before);
            }
        }
        was_approved |= dossier.state == DossierState::Approved;
    }
    Ok(visited)
}

/// The index of `kind` for [`random_action`].
fn kind_index(kind: ActionKind) -> usize {
    [
        ActionKind::Submit,
        ActionKind::StartAppraisal,
        ActionKind::RequestSupplement,
        ActionKind::Resubmit,
        ActionKind::MarkAppraised,
        ActionKind::Approve,
        ActionKind::Reject,
        ActionKind::Withdraw,
        ActionKind::AddDocument,
        ActionKind::Assign,
        ActionKind::AddRequestDocument,
    ]
    .iter()
    .position(|k| *k == kind)
    .unwrap_or(0)
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        (any::<bool>(), 0usize..9, 0usize..11, any::<u8>(), 0u8..6).prop_map(
            |(guided, actor, kind, variant, advance)| Step {
                guided,
                actor,
                kind,
                variant,
                advance,
            },
        ),
        1..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_actions_never_panic_and_never_undo_an_approval(
        level in 1u8..=5,
        complete in proptest::bool::weighted(0.8),
        documents in proptest::collection::vec(0usize..5, 0..6),
        steps in steps(),
    ) {
        drive(level, complete, &documents, &steps)?;
    }
}

#[test]
fn random_runs_reach_every_state() {
    // A small deterministic generator, so this test shows the property test is not vacuous.
    let mut seed: u64 = 0x2026_0214;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize
    };
    let mut reached = std::collections::BTreeSet::new();
    for run in 0..60 {
        let steps: Vec<Step> = (0..30)
            .map(|_| Step {
                guided: next() % 4 != 0,
                actor: next(),
                kind: next(),
                variant: (next() % 256) as u8,
                advance: (next() % 6) as u8,
            })
            .collect();
        let level = (run % 5) as u8 + 1;
        reached.extend(drive(level, true, &[], &steps).unwrap());
    }
    assert_eq!(reached.len(), DossierState::ALL.len(), "{reached:?}");
}
