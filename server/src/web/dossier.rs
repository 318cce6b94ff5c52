//! The dossier page: where an agency's officer follows a level-proposal dossier and where the
//! appraisers and approvers work on it. It shows the state, the running time limit (working
//! days left, overdue in red, paused while the agency supplements), the audit trail, the
//! supplementation rounds, the documents (upload and download) and one small form per action
//! the viewer's role allows now.
//!
//! Everything goes through the JSON API's code (`crate::api::dossiers`,
//! `crate::api::documents`): the page reads with `dossiers::view`/`trail`, acts with
//! `dossiers::act` and uploads with `documents::upload_target`/`store_upload`, so the role,
//! the agency scope (404 for another agency's dossier) and the workflow's rules are checked in
//! one place. The deadline is told with the workflow's own `days_left`/`overdue_at`.
//!
//! - `GET /dossiers/{id}`: the page.
//! - `POST /dossiers/{id}/act` (csrf_token, action, the action's fields): a workflow action;
//!   303 back to the page, or the page again (422) with the message next to that action's form.
//! - `POST /dossiers/{id}/upload` (`multipart/form-data`: csrf_token first, then kind, file).
//! - `POST /systems/{id}/dossiers` (csrf_token, level): a new draft; 303 to it.

use std::collections::HashMap;

use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::FormRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use jiff::civil::Date;
use serde_json::{Value, json};

use canhgac_policies::calendar::CalendarRules;
use canhgac_policies::pack::workflow::DayCount;

use super::chrome::{Chrome, Lang, Viewer, role_label};
use super::error::{WebError, render};
use super::format;
use crate::api::dossiers::{self, DossierView, NewDossier};
use crate::api::{ApiError, AppState, documents};
use crate::model::{
    DeadlineStage, DocumentRef, Dossier, DossierState, LetterRef, Level, Role, User, UserId,
};
use crate::workflow::{self, ActionKind, AuditEvent};

/// The routes of this module (`state` for the upload size limit).
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/dossiers/{id}", get(page))
        .route("/dossiers/{id}/act", post(act))
        .route(
            "/dossiers/{id}/upload",
            post(upload).layer(DefaultBodyLimit::max(crate::documents::upload_body_limit(
                state.max_document_bytes,
            ))),
        )
        .route("/systems/{id}/dossiers", post(create))
}

/// Kinds an appraiser may give a file attached to a supplementation request (any snake_case
/// kind is accepted by the API; these are the ones the form offers).
const REQUEST_KINDS: [(&str, &str, &str); 3] = [
    (
        "request_letter",
        "Văn bản yêu cầu bổ sung (bản ký)",
        "Signed supplementation request letter",
    ),
    (
        "annotated_document",
        "Tài liệu có ghi chú của người thẩm định",
        "Document annotated by the appraiser",
    ),
    ("other", "Tài liệu khác", "Other document"),
];

/// One entry of the timeline.
struct EventView {
    action_id: &'static str,
    when: String,
    who: String,
    role: String,
    label: String,
    from: String,
    to: String,
    moved: bool,
    note: Option<String>,
    letter: Option<String>,
    on_behalf_of: Option<String>,
    round: Option<u32>,
    items: Vec<String>,
    documents: Vec<(String, String)>,
    assignee: Option<String>,
}

/// One supplementation round.
struct RoundView {
    number: u32,
    requested_at: String,
    letter: Option<String>,
    items: Vec<String>,
    answered_at: Option<String>,
    answer_letter: Option<String>,
    documents: Vec<(String, String)>,
}

/// One row of the documents table.
struct DocumentView {
    id: String,
    name: String,
    kind: String,
    place: String,
    size: String,
    sha_short: String,
    sha256: String,
    uploaded_by: String,
    uploaded_at: String,
    url: String,
}

/// One document the pack requires at the proposed level.
struct RequiredView {
    name: String,
    present: bool,
}

/// One action form.
struct ActionView {
    id: &'static str,
    title: String,
    danger: bool,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "dossier.html")]
struct DossierPage {
    c: Chrome,
    id: String,
    system_id: String,
    system_name: String,
    operating_unit: Option<String>,
    state_id: &'static str,
    state: String,
    letter: Option<String>,
    proposed_level: u8,
    approved_level: Option<u8>,
    decision: Option<String>,
    assignee: Option<String>,
    deadline: String,
    deadline_class: &'static str,
    deadline_detail: Option<String>,
    created_at: String,
    updated_at: String,
    events: Vec<EventView>,
    rounds: Vec<RoundView>,
    documents: Vec<DocumentView>,
    required: Vec<RequiredView>,
    missing: Vec<String>,
    /// The upload form's kinds (id, label) when the viewer may upload now.
    upload_kinds: Vec<(String, String)>,
    upload_default: String,
    upload_for_request: bool,
    upload_limit: String,
    upload_error: Option<String>,
    actions: Vec<ActionView>,
    /// The error of an action that has no form on the page (not available now).
    orphan_error: Option<String>,
    appraisers: Vec<(String, String)>,
    current_assignee: String,
    levels: Vec<u8>,
    /// The action whose form was sent back, and the values typed in it.
    typed_action: String,
    typed: HashMap<String, String>,
}

impl DossierPage {
    /// The value typed in `field` of the form of `action` (empty for a fresh form).
    fn val(&self, action: &str, field: &str) -> &str {
        if self.typed_action == action {
            self.typed.get(field).map(String::as_str).unwrap_or("")
        } else {
            ""
        }
    }

    /// Whether `value` is the selected option of `field` of the form of `action`: the one
    /// typed, or `default` in a fresh form.
    fn selected(&self, action: &str, field: &str, value: &str, default: &str) -> bool {
        if self.typed_action == action {
            self.typed.get(field).map(String::as_str) == Some(value)
        } else {
            value == default
        }
    }

    /// The approved level offered first: the proposed one.
    fn proposed(&self) -> String {
        self.proposed_level.to_string()
    }
}

/// An action's form that failed, to show again with its message.
struct Problem {
    action: String,
    message: String,
    typed: HashMap<String, String>,
}

/// A state's label in `lang`, capitalised for a heading.
fn state_label(state: DossierState, lang: Lang) -> String {
    let text = match lang {
        Lang::Vi => state.label_vi(),
        Lang::En => state.label_en().trim_start_matches("a "),
    };
    capitalised(text)
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What happened, for the timeline.
fn event_label(kind: ActionKind, lang: Lang) -> String {
    match lang {
        Lang::Vi => kind.label_vi().to_string(),
        Lang::En => match kind {
            ActionKind::Create => "Created",
            ActionKind::Submit => "Submitted",
            ActionKind::StartAppraisal => "Appraisal started",
            ActionKind::RequestSupplement => "Supplementation requested",
            ActionKind::Resubmit => "Resubmitted",
            ActionKind::MarkAppraised => "Appraisal recorded",
            ActionKind::Approve => "Approved",
            ActionKind::Reject => "Rejected",
            ActionKind::Withdraw => "Withdrawn",
            ActionKind::AddDocument => "Document added",
            ActionKind::Assign => "Assigned",
            ActionKind::AddRequestDocument => "File attached to the request",
            ActionKind::Comment => "Comment",
        }
        .to_string(),
    }
}

/// The title of an action's form.
fn action_title(kind: ActionKind, lang: Lang) -> String {
    match lang {
        Lang::Vi => match kind {
            ActionKind::Comment => "Ghi ý kiến".to_string(),
            other => other.label_vi().to_string(),
        },
        Lang::En => match kind {
            ActionKind::Create => "Create",
            ActionKind::Submit => "Submit",
            ActionKind::StartAppraisal => "Start the appraisal",
            ActionKind::RequestSupplement => "Request supplementation",
            ActionKind::Resubmit => "Resubmit",
            ActionKind::MarkAppraised => "Record the appraisal",
            ActionKind::Approve => "Approve",
            ActionKind::Reject => "Reject",
            ActionKind::Withdraw => "Withdraw",
            ActionKind::AddDocument => "Add a document",
            ActionKind::Assign => "Assign an appraiser",
            ActionKind::AddRequestDocument => "Attach a file to the request",
            ActionKind::Comment => "Comment",
        }
        .to_string(),
    }
}

/// A letter as written in practice: "VB số 2559/SCT-VP ngày 25/5/2021".
fn letter_text(letter: &LetterRef, lang: Lang) -> String {
    match lang {
        Lang::Vi => format!("VB số {letter}"),
        Lang::En => format!(
            "Letter No. {}/{} of {}",
            letter.number,
            letter.symbol,
            format::date(letter.date, Lang::En)
        ),
    }
}

/// A file size: bytes, KB or MB (decimal comma in Vietnamese).
fn size_text(bytes: u64, lang: Lang) -> String {
    let decimal = |n: u64, unit: u64, name: &str| {
        let tenths = (n * 10 + unit / 2) / unit;
        let sep = lang.t(",", ".");
        format!(
            "{}{sep}{} {name}",
            format::count(tenths / 10, lang),
            tenths % 10
        )
    };
    if bytes < 1024 {
        format!("{bytes} byte")
    } else if bytes < 1024 * 1024 {
        decimal(bytes, 1024, "KB")
    } else {
        decimal(bytes, 1024 * 1024, "MB")
    }
}

/// The unit of a deadline's days.
fn unit(count: DayCount, lang: Lang) -> &'static str {
    match count {
        DayCount::WorkingDays => lang.t("ngày làm việc", "working days"),
        DayCount::CalendarDays => lang.t("ngày", "days"),
    }
}

fn stage_label(stage: DeadlineStage, lang: Lang) -> String {
    match lang {
        Lang::Vi => capitalised(stage.label_vi()),
        Lang::En => match stage {
            DeadlineStage::Appraisal => "Appraisal deadline".to_string(),
            DeadlineStage::Approval => "Approval deadline".to_string(),
        },
    }
}

/// The deadline line: text, CSS class and detail, from the workflow's deadline code.
fn deadline_view(
    dossier: &Dossier,
    today: Date,
    calendar: &CalendarRules,
    lang: Lang,
) -> (String, &'static str, Option<String>) {
    let Some(deadline) = &dossier.deadline else {
        let text = if dossier.state == DossierState::Draft {
            lang.t(
                "Chưa nộp: thời hạn tính từ khi nộp hồ sơ",
                "Not submitted: the time limit starts on submission",
            )
        } else {
            lang.t(
                "Không còn thời hạn: hồ sơ đã kết thúc",
                "No time limit: the dossier is closed",
            )
        };
        return (text.to_string(), "muted", None);
    };
    let stage = stage_label(deadline.stage, lang);
    let left = workflow::days_left(deadline, today, calendar);
    let days = unit(deadline.count, lang);
    if let Some(since) = deadline.paused_since {
        let detail = if left >= 0 {
            match lang {
                Lang::Vi => format!(
                    "{stage}: tạm dừng từ {}, còn {left} {days} khi đơn vị nộp bổ sung",
                    format::date(since, lang)
                ),
                Lang::En => format!(
                    "{stage}: paused since {}, {left} {days} left when the agency resubmits",
                    format::date(since, lang)
                ),
            }
        } else {
            match lang {
                Lang::Vi => format!(
                    "{stage}: tạm dừng từ {}, khi đó đã quá {} {days}",
                    format::date(since, lang),
                    -left
                ),
                Lang::En => format!(
                    "{stage}: paused since {}, then already {} {days} late",
                    format::date(since, lang),
                    -left
                ),
            }
        };
        return (
            lang.t(
                "Tạm dừng: chờ đơn vị bổ sung",
                "Paused: awaiting the agency's supplementation",
            )
            .to_string(),
            "warn",
            Some(detail),
        );
    }
    let due = format::date(deadline.due, lang);
    let detail = Some(match lang {
        Lang::Vi => format!("{stage}: đến hết ngày {due}"),
        Lang::En => format!("{stage}: until the end of {due}"),
    });
    if let Some(late) = workflow::overdue_at(dossier.state, Some(deadline), today, calendar) {
        let text = match lang {
            Lang::Vi => format!("Quá hạn {late} ngày làm việc"),
            Lang::En => format!("Overdue by {late} working days"),
        };
        return (text, "overdue", detail);
    }
    let text = match lang {
        Lang::Vi => format!("Còn {} {days}", left.max(0)),
        Lang::En => format!("{} {days} left", left.max(0)),
    };
    (text, "ok", detail)
}

/// A person's name for the page.
fn person(people: &HashMap<UserId, User>, id: UserId, lang: Lang) -> (String, Option<Role>) {
    match people.get(&id) {
        Some(u) if !u.display_name.trim().is_empty() => (u.display_name.clone(), Some(u.role)),
        Some(u) => (u.login.clone(), Some(u.role)),
        None => (
            lang.t("(tài khoản không còn)", "(account gone)")
                .to_string(),
            None,
        ),
    }
}

/// The name of a document kind: the pack's, the appraiser's kinds, or the kind itself.
fn kind_label(state: &AppState, kind: &str, lang: Lang) -> String {
    let pack = state.pack();
    if let Some(d) = pack.workflow.document.iter().find(|d| d.id == kind) {
        return lang.t(&d.name_vi, &d.name_en).to_string();
    }
    if let Some((_, vi, en)) = REQUEST_KINDS.iter().find(|(id, _, _)| *id == kind) {
        return lang.t(vi, en).to_string();
    }
    kind.to_string()
}

/// Reads everything the page shows, through the API's code.
async fn build(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    problem: Option<Problem>,
    upload_error: Option<String>,
) -> Result<DossierPage, WebError> {
    let lang = viewer.lang();
    let DossierView {
        dossier,
        system,
        tree,
        actions,
    } = dossiers::view(state, &viewer.principal, id)
        .await
        .map_err(|e| WebError::api(e, lang))?;
    let events = dossiers::trail(state, dossier.id)
        .await
        .map_err(|e| WebError::api(e, lang))?;
    let accounts = dossiers::people(state)
        .await
        .map_err(|e| WebError::api(e, lang))?;
    let mut appraisers: Vec<(String, String)> = accounts
        .iter()
        .filter(|(u, disabled)| u.role == Role::Appraiser && !disabled)
        .map(|(u, _)| {
            let name = if u.display_name.trim().is_empty() {
                u.login.clone()
            } else {
                format!("{} ({})", u.display_name, u.login)
            };
            (u.id.to_string(), name)
        })
        .collect();
    appraisers.sort_by(|a, b| a.1.cmp(&b.1));
    let people: HashMap<UserId, User> = accounts.into_iter().map(|(u, _)| (u.id, u)).collect();
    let pack = state.pack();
    let today = format::today(crate::clock::now());
    let (deadline, deadline_class, deadline_detail) =
        deadline_view(&dossier, today, &pack.calendar, lang);

    // Who uploaded each document: the actor of the event that added it.
    let mut uploaders: HashMap<crate::model::DocumentId, String> = HashMap::new();
    for e in &events {
        if matches!(
            e.action,
            ActionKind::AddDocument | ActionKind::AddRequestDocument
        ) {
            for d in &e.documents {
                uploaders.insert(*d, person(&people, e.actor, lang).0);
            }
        }
    }
    let url = |d: &DocumentRef| format!("/api/v1/dossiers/{}/documents/{}", dossier.id, d.id);
    let document_view = |d: &DocumentRef, place: String| DocumentView {
        id: d.id.to_string(),
        name: d.file_name.clone(),
        kind: kind_label(state, &d.kind, lang),
        place,
        size: size_text(d.size, lang),
        sha_short: d.sha256.chars().take(12).collect(),
        sha256: d.sha256.clone(),
        uploaded_by: uploaders.get(&d.id).cloned().unwrap_or_default(),
        uploaded_at: format::datetime(d.uploaded_at, lang),
        url: url(d),
    };
    let mut documents: Vec<DocumentView> = dossier
        .documents
        .iter()
        .map(|d| document_view(d, lang.t("Hồ sơ", "Dossier").to_string()))
        .collect();
    for r in &dossier.rounds {
        for d in &r.documents {
            let place = match lang {
                Lang::Vi => format!("Bổ sung lần {}", r.number),
                Lang::En => format!("Supplement {}", r.number),
            };
            documents.push(document_view(d, place));
        }
        for d in &r.request_documents {
            let place = match lang {
                Lang::Vi => format!("Kèm yêu cầu bổ sung lần {}", r.number),
                Lang::En => format!("With request {}", r.number),
            };
            documents.push(document_view(d, place));
        }
    }
    let doc_link = |doc: crate::model::DocumentId| {
        dossier
            .all_documents()
            .find(|d| d.id == doc)
            .map(|d| (d.file_name.clone(), url(d)))
    };

    let timeline: Vec<EventView> = events
        .iter()
        .map(|e: &AuditEvent| {
            let (who, role) = person(&people, e.actor, lang);
            let round = e
                .round
                .and_then(|n| dossier.rounds.iter().find(|r| r.number == n));
            let items = match (e.action, round) {
                (ActionKind::RequestSupplement, Some(r)) => r.missing_items.clone(),
                _ => Vec::new(),
            };
            // The note repeats what the page shows better: the items, the documents.
            let note = match e.action {
                ActionKind::AddDocument | ActionKind::AddRequestDocument => None,
                ActionKind::RequestSupplement if !items.is_empty() => None,
                _ => e.note.clone(),
            };
            EventView {
                action_id: e.action.id(),
                when: format::datetime(e.at, lang),
                who,
                role: role_label(role.unwrap_or(e.role), lang),
                label: event_label(e.action, lang),
                from: state_label(e.from, lang),
                to: state_label(e.to, lang),
                moved: e.from != e.to,
                note,
                letter: e.letter.as_ref().map(|l| letter_text(l, lang)),
                on_behalf_of: e.on_behalf_of.clone(),
                round: e.round,
                items,
                documents: e.documents.iter().filter_map(|d| doc_link(*d)).collect(),
                assignee: (e.action == ActionKind::Assign).then(|| match e.assignee {
                    Some(a) => person(&people, a, lang).0,
                    None => lang.t("(bỏ phân công)", "(unassigned)").to_string(),
                }),
            }
        })
        .collect();

    let rounds: Vec<RoundView> = dossier
        .rounds
        .iter()
        .map(|r| RoundView {
            number: r.number,
            requested_at: format::datetime(r.requested_at, lang),
            letter: r.letter.as_ref().map(|l| letter_text(l, lang)),
            items: r.missing_items.clone(),
            answered_at: r.answered_at.map(|t| format::datetime(t, lang)),
            answer_letter: r.answer_letter.as_ref().map(|l| letter_text(l, lang)),
            documents: r
                .documents
                .iter()
                .map(|d| (d.file_name.clone(), url(d)))
                .collect(),
        })
        .collect();

    let level = dossier.proposed_level;
    let missing = workflow::missing_documents(&dossier, &pack, level);
    let required: Vec<RequiredView> = pack
        .workflow
        .documents_for(level.get())
        .into_iter()
        .map(|d| RequiredView {
            name: lang.t(&d.name_vi, &d.name_en).to_string(),
            present: !missing.iter().any(|m| m.id == d.id),
        })
        .collect();
    let missing_names: Vec<String> = missing
        .iter()
        .map(|m| {
            pack.workflow
                .document
                .iter()
                .find(|d| d.id == m.id)
                .map(|d| lang.t(&d.name_vi, &d.name_en).to_string())
                .unwrap_or_else(|| m.name_vi.clone())
        })
        .collect();

    let (upload_kinds, upload_default, upload_for_request) =
        if actions.contains(&ActionKind::AddDocument) {
            let mut kinds: Vec<(String, String)> = pack
                .workflow
                .documents_for(level.get())
                .into_iter()
                .map(|d| (d.id.clone(), lang.t(&d.name_vi, &d.name_en).to_string()))
                .collect();
            kinds.push((
                "other".to_string(),
                lang.t("Tài liệu khác", "Other document").to_string(),
            ));
            let default = missing
                .first()
                .map(|m| m.id.clone())
                .unwrap_or_else(|| "other".to_string());
            (kinds, default, false)
        } else if actions.contains(&ActionKind::AddRequestDocument) {
            let kinds = REQUEST_KINDS
                .iter()
                .map(|(id, vi, en)| (id.to_string(), lang.t(vi, en).to_string()))
                .collect();
            (kinds, REQUEST_KINDS[0].0.to_string(), true)
        } else {
            (Vec::new(), String::new(), false)
        };

    let (typed_action, typed, problem_message) = match problem {
        Some(p) => (p.action, p.typed, Some(p.message)),
        None => (String::new(), HashMap::new(), None),
    };
    let forms: Vec<ActionView> = actions
        .iter()
        .filter(|k| {
            !matches!(
                k,
                ActionKind::Create | ActionKind::AddDocument | ActionKind::AddRequestDocument
            )
        })
        .map(|&k| ActionView {
            id: k.id(),
            title: action_title(k, lang),
            danger: matches!(k, ActionKind::Reject | ActionKind::Withdraw),
            error: problem_message.clone().filter(|_| typed_action == k.id()),
        })
        .collect();
    let orphan_error = problem_message.filter(|_| !forms.iter().any(|f| f.id == typed_action));

    let operating_unit = tree.get(system.operating_unit).map(|a| a.name.clone());
    Ok(DossierPage {
        c: viewer.chrome.clone().section("dossiers"),
        id: dossier.id.to_string(),
        system_id: system.id.to_string(),
        system_name: system.name.clone(),
        operating_unit,
        state_id: dossier.state.id(),
        state: state_label(dossier.state, lang),
        letter: dossier
            .submitted_letter
            .as_ref()
            .map(|l| letter_text(l, lang)),
        proposed_level: level.get(),
        approved_level: dossier.decision.as_ref().map(|d| d.level.get()),
        decision: dossier.decision.as_ref().map(|d| match lang {
            Lang::Vi => format!(
                "Quyết định số {} ngày {}",
                d.decision_number,
                crate::model::format_date_vi(d.decision_date)
            ),
            Lang::En => format!(
                "Decision No. {} of {}",
                d.decision_number,
                format::date(d.decision_date, lang)
            ),
        }),
        assignee: dossier.assignee.map(|a| person(&people, a, lang).0),
        deadline,
        deadline_class,
        deadline_detail,
        created_at: format::datetime(dossier.created_at, lang),
        updated_at: format::datetime(dossier.updated_at, lang),
        events: timeline,
        rounds,
        documents,
        required,
        missing: missing_names,
        upload_kinds,
        upload_default,
        upload_for_request,
        upload_limit: size_text(state.max_document_bytes as u64, lang),
        upload_error,
        actions: forms,
        orphan_error,
        appraisers,
        current_assignee: dossier.assignee.map(|a| a.to_string()).unwrap_or_default(),
        levels: Level::ALL.iter().map(|l| l.get()).collect(),
        typed_action,
        typed,
    })
}

/// `GET /dossiers/{id}`.
async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let lang = viewer.lang();
    let page = build(&state, &viewer, &id, None, None).await?;
    Ok(render(&page, lang)?.into_response())
}

/// A date as officers type it: `25/5/2021` (also `25-5-2021`, `25.5.2021`) or `2021-05-25`.
fn parse_date(text: &str) -> Option<Date> {
    let text = text.trim();
    if let Ok(d) = text.parse::<Date>() {
        return Some(d);
    }
    let separator = text.chars().find(|c| matches!(c, '/' | '-' | '.'))?;
    let parts: Vec<&str> = text.split(separator).map(str::trim).collect();
    let [d, m, y] = parts[..] else {
        return None;
    };
    if y.len() != 4 {
        return None;
    }
    Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?).ok()
}

/// A form's field, trimmed (empty when absent).
fn field<'a>(fields: &'a HashMap<String, String>, name: &str) -> &'a str {
    fields.get(name).map(|s| s.trim()).unwrap_or("")
}

/// The letter of a form (`letter_number`, `letter_symbol`, `letter_date`) as the API's JSON:
/// `None` when the three are empty and the letter is optional.
fn letter_json(
    fields: &HashMap<String, String>,
    required: bool,
    lang: Lang,
) -> Result<Option<Value>, String> {
    let (number, symbol, date) = (
        field(fields, "letter_number"),
        field(fields, "letter_symbol"),
        field(fields, "letter_date"),
    );
    if number.is_empty() && symbol.is_empty() && date.is_empty() {
        return if required {
            Err(lang
                .t(
                    "Chưa nhập số, ký hiệu và ngày của văn bản.",
                    "Enter the letter's number, symbol and date.",
                )
                .to_string())
        } else {
            Ok(None)
        };
    }
    let number: u32 = number.parse().map_err(|_| {
        lang.t(
            "Số văn bản phải là một số, ví dụ 2559.",
            "The letter number must be a number, e.g. 2559.",
        )
        .to_string()
    })?;
    let date = parse_date(date).ok_or_else(|| {
        lang.t(
            "Ngày văn bản cần dạng ngày/tháng/năm, ví dụ 25/5/2021.",
            "The letter date must be day/month/year, e.g. 25/5/2021.",
        )
        .to_string()
    })?;
    let letter = LetterRef::new(number, symbol, date).map_err(|e| e.to_string())?;
    Ok(Some(json!(letter)))
}

/// The API's JSON for the form of `action`; a message when a field cannot be read.
fn action_json(
    action: ActionKind,
    fields: &HashMap<String, String>,
    lang: Lang,
) -> Result<Value, String> {
    let mut value = json!({"action": action.id()});
    let text = |name: &str| Value::String(field(fields, name).to_string());
    match action {
        ActionKind::Submit => {
            value["letter"] = letter_json(fields, true, lang)?.unwrap_or(Value::Null);
        }
        ActionKind::StartAppraisal => {}
        ActionKind::RequestSupplement => {
            let items: Vec<&str> = field(fields, "missing_items")
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            value["missing_items"] = json!(items);
            if let Some(letter) = letter_json(fields, false, lang)? {
                value["letter"] = letter;
            }
        }
        ActionKind::Resubmit => {
            if let Some(letter) = letter_json(fields, false, lang)? {
                value["letter"] = letter;
            }
        }
        ActionKind::MarkAppraised => {
            value["note"] = text("note");
            if let Some(letter) = letter_json(fields, false, lang)? {
                value["letter"] = letter;
            }
        }
        ActionKind::Approve => {
            let level = field(fields, "level")
                .parse::<u8>()
                .ok()
                .and_then(|n| Level::new(n).ok())
                .ok_or_else(|| {
                    lang.t(
                        "Chọn cấp độ được phê duyệt (1 đến 5).",
                        "Choose the approved level (1 to 5).",
                    )
                    .to_string()
                })?;
            let date = parse_date(field(fields, "decision_date")).ok_or_else(|| {
                lang.t(
                    "Ngày quyết định cần dạng ngày/tháng/năm, ví dụ 10/6/2021.",
                    "The decision date must be day/month/year, e.g. 10/6/2021.",
                )
                .to_string()
            })?;
            value["level"] = json!(level);
            value["decision_number"] = text("decision_number");
            value["decision_date"] = json!(date);
        }
        ActionKind::Reject | ActionKind::Withdraw => {
            value["reason"] = text("reason");
        }
        ActionKind::Assign => {
            let chosen = field(fields, "assignee");
            value["assignee"] = if chosen.is_empty() {
                Value::Null
            } else {
                let id: UserId = chosen.parse().map_err(|_| {
                    lang.t("Chọn người thẩm định.", "Choose an appraiser.")
                        .to_string()
                })?;
                json!(id)
            };
        }
        ActionKind::Comment => {
            value["text"] = text("text");
        }
        ActionKind::Create | ActionKind::AddDocument | ActionKind::AddRequestDocument => {
            return Err(lang
                .t(
                    "Thao tác này không thực hiện qua biểu mẫu này: hãy dùng biểu mẫu tải tài liệu lên.",
                    "This is not done with this form: use the upload form.",
                )
                .to_string());
        }
    }
    Ok(value)
}

/// The page again, with `message` next to the form of `action` and the values typed.
async fn problem_page(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    status: StatusCode,
    problem: Problem,
) -> Result<Response, WebError> {
    let lang = viewer.lang();
    let page = build(state, viewer, id, Some(problem), None).await?;
    Ok((status, render(&page, lang)?).into_response())
}

/// `POST /dossiers/{id}/act`: one workflow action from its form.
async fn act(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, WebError> {
    let fields = form.map(|Form(f)| f).unwrap_or_default();
    viewer.check_csrf(fields.get("csrf_token").map_or("", String::as_str))?;
    let lang = viewer.lang();
    let action_id = field(&fields, "action").to_string();
    let kind = ActionKind::ALL.into_iter().find(|k| k.id() == action_id);
    let value = match kind {
        Some(kind) => action_json(kind, &fields, lang),
        None => Err(lang
            .t("Thao tác không hợp lệ.", "Unknown action.")
            .to_string()),
    };
    let mut typed = fields;
    typed.remove("csrf_token");
    let value = match value {
        Ok(v) => v,
        Err(message) => {
            let problem = Problem {
                action: action_id,
                message,
                typed,
            };
            return problem_page(
                &state,
                &viewer,
                &id,
                StatusCode::UNPROCESSABLE_ENTITY,
                problem,
            )
            .await;
        }
    };
    let result = dossiers::act(
        State(state.clone()),
        viewer.principal.clone(),
        Path(id.clone()),
        Ok(Json(value)),
    )
    .await;
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/dossiers/{id}")).into_response()),
        Err(e)
            if matches!(
                e.status(),
                StatusCode::BAD_REQUEST | StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY
            ) =>
        {
            let problem = Problem {
                action: action_id,
                message: e.message().to_string(),
                typed,
            };
            problem_page(&state, &viewer, &id, e.status(), problem).await
        }
        Err(e) => Err(WebError::api(e, lang)),
    }
}

/// Reads the rest of a multipart body and drops it, so the browser reads the answer rather
/// than a reset connection (the route's body limit bounds it).
async fn drain(mut multipart: Multipart) {
    while let Ok(Some(mut f)) = multipart.next_field().await {
        while let Ok(Some(_)) = f.chunk().await {}
    }
}

/// Longest CSRF field read, in bytes.
const MAX_TOKEN_BYTES: usize = 200;

/// `POST /dossiers/{id}/upload`: the upload form. The CSRF token must be the first field
/// (browsers send fields in the form's order), so nothing is read or stored before it is
/// checked; then the API's checks and storage, as `POST /api/v1/dossiers/{id}/documents`.
async fn upload(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, WebError> {
    let lang = viewer.lang();
    let Ok(mut multipart) = multipart else {
        return Err(WebError::api(ApiError::csrf(), lang));
    };
    let mut token = Vec::new();
    if let Ok(Some(mut f)) = multipart.next_field().await
        && f.name() == Some("csrf_token")
    {
        while let Ok(Some(chunk)) = f.chunk().await {
            token.extend_from_slice(&chunk);
            if token.len() > MAX_TOKEN_BYTES {
                break;
            }
        }
    }
    viewer.check_csrf(std::str::from_utf8(&token).unwrap_or(""))?;
    let refused = |e: ApiError| -> Result<String, WebError> {
        match e.status() {
            StatusCode::NOT_FOUND | StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => {
                Err(WebError::api(e, lang))
            }
            _ => Ok(e.message().to_string()),
        }
    };
    let outcome = match documents::upload_target(&state, &viewer.principal, &id).await {
        Err(e) => {
            drain(multipart).await;
            Err(e)
        }
        Ok(target) => match documents::read_upload(multipart, state.max_document_bytes).await {
            Err(e) => Err(e),
            Ok(file) => documents::store_upload(&state, &viewer.principal, &id, target, file)
                .await
                .map(|_| ()),
        },
    };
    match outcome {
        Ok(()) => Ok(Redirect::to(&format!("/dossiers/{id}")).into_response()),
        Err(e) => {
            let status = e.status();
            let message = refused(e)?;
            let page = build(&state, &viewer, &id, None, Some(message)).await?;
            Ok((status, render(&page, lang)?).into_response())
        }
    }
}

/// `POST /systems/{id}/dossiers` (csrf_token, level): a new draft proposing `level`, then
/// its page. The form is on the system page.
async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(system_id): Path<String>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, WebError> {
    let fields = form.map(|Form(f)| f).unwrap_or_default();
    viewer.check_csrf(fields.get("csrf_token").map_or("", String::as_str))?;
    let lang = viewer.lang();
    let level = field(&fields, "level")
        .parse::<u8>()
        .ok()
        .and_then(|n| Level::new(n).ok())
        .ok_or_else(|| {
            WebError::api(
                ApiError::invalid(lang.t(
                    "Chọn cấp độ đề xuất (1 đến 5).",
                    "Choose the proposed level (1 to 5).",
                )),
                lang,
            )
        })?;
    let (_, Json(dossier)) = dossiers::create(
        State(state),
        viewer.principal,
        Path(system_id),
        Ok(Json(NewDossier { level })),
    )
    .await
    .map_err(|e| WebError::api(e, lang))?;
    Ok(Redirect::to(&format!("/dossiers/{}", dossier.id)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn dates_as_officers_type_them() {
        let d = jiff::civil::date(2021, 5, 25);
        for text in [
            "25/5/2021",
            "25/05/2021",
            " 25-5-2021 ",
            "25.5.2021",
            "2021-05-25",
        ] {
            assert_eq!(parse_date(text), Some(d), "{text}");
        }
        for text in ["", "31/2/2021", "25/5/21", "5/2021", "hôm qua"] {
            assert_eq!(parse_date(text), None, "{text}");
        }
    }

    #[test]
    fn forms_become_the_apis_actions() {
        let submit = action_json(
            ActionKind::Submit,
            &form(&[
                ("letter_number", "2559"),
                ("letter_symbol", " SCT-VP "),
                ("letter_date", "25/5/2021"),
            ]),
            Lang::Vi,
        )
        .unwrap();
        assert_eq!(
            submit,
            json!({"action": "submit", "letter": {"number": 2559, "symbol": "SCT-VP", "date": "2021-05-25"}})
        );
        let parsed: workflow::Action = serde_json::from_value(submit).unwrap();
        assert_eq!(parsed.kind(), ActionKind::Submit);

        let request = action_json(
            ActionKind::RequestSupplement,
            &form(&[("missing_items", "Sơ đồ mạng\r\n\r\n  Phương án sao lưu \n")]),
            Lang::Vi,
        )
        .unwrap();
        assert_eq!(
            request,
            json!({"action": "request_supplement", "missing_items": ["Sơ đồ mạng", "Phương án sao lưu"]})
        );
        serde_json::from_value::<workflow::Action>(request).unwrap();

        let approve = action_json(
            ActionKind::Approve,
            &form(&[
                ("level", "3"),
                ("decision_number", "2168/QĐ-UBND"),
                ("decision_date", "10/6/2021"),
            ]),
            Lang::Vi,
        )
        .unwrap();
        serde_json::from_value::<workflow::Action>(approve.clone()).unwrap();
        assert_eq!(approve["decision_date"], "2021-06-10");

        let unassign =
            action_json(ActionKind::Assign, &form(&[("assignee", "")]), Lang::Vi).unwrap();
        assert_eq!(unassign, json!({"action": "assign", "assignee": null}));
        for (kind, fields) in [
            (ActionKind::StartAppraisal, form(&[])),
            (ActionKind::Resubmit, form(&[])),
            (ActionKind::MarkAppraised, form(&[("note", "Đạt yêu cầu")])),
            (ActionKind::Reject, form(&[("reason", "Thiếu phương án")])),
            (ActionKind::Withdraw, form(&[("reason", "Hệ thống dừng")])),
            (ActionKind::Comment, form(&[("text", "Đã nhận")])),
        ] {
            let value = action_json(kind, &fields, Lang::Vi).unwrap();
            let action: workflow::Action = serde_json::from_value(value).unwrap();
            assert_eq!(action.kind(), kind);
        }
    }

    #[test]
    fn unreadable_fields_are_told_in_the_pages_language() {
        let missing = action_json(ActionKind::Submit, &form(&[]), Lang::Vi).unwrap_err();
        assert!(missing.contains("Chưa nhập số"), "{missing}");
        let half = action_json(
            ActionKind::Resubmit,
            &form(&[("letter_number", "12"), ("letter_symbol", "SCT-VP")]),
            Lang::En,
        )
        .unwrap_err();
        assert!(half.contains("day/month/year"), "{half}");
        let symbol = action_json(
            ActionKind::Submit,
            &form(&[
                ("letter_number", "12"),
                ("letter_symbol", "<b>"),
                ("letter_date", "1/1/2021"),
            ]),
            Lang::Vi,
        )
        .unwrap_err();
        assert!(symbol.contains("ký hiệu"), "{symbol}");
        let level = action_json(
            ActionKind::Approve,
            &form(&[("level", "6"), ("decision_date", "1/1/2021")]),
            Lang::Vi,
        )
        .unwrap_err();
        assert!(level.contains("cấp độ"), "{level}");
    }

    #[test]
    fn the_deadline_line_follows_the_workflows_counting() {
        use crate::model::{Deadline, DossierId, SystemId};
        let cal = CalendarRules::decree85_default();
        let at: jiff::Timestamp = "2026-02-02T02:00:00Z".parse().unwrap();
        let mut d = Dossier::new_draft(
            DossierId::derived(at, b"d"),
            SystemId::derived(at, b"s"),
            Level::new(2).unwrap(),
            at,
        );
        let (text, class, _) = deadline_view(&d, jiff::civil::date(2026, 2, 2), &cal, Lang::Vi);
        assert_eq!(
            (text.as_str(), class),
            ("Chưa nộp: thời hạn tính từ khi nộp hồ sơ", "muted")
        );
        // 15 working days from Monday 02/02/2026 end on 02/03 (Tết 14-22/02 skipped).
        d.state = DossierState::UnderAppraisal;
        d.deadline = Some(Deadline {
            stage: DeadlineStage::Appraisal,
            count: DayCount::WorkingDays,
            due: jiff::civil::date(2026, 3, 2),
            paused_since: None,
            days_left: None,
        });
        let (text, class, detail) =
            deadline_view(&d, jiff::civil::date(2026, 2, 27), &cal, Lang::Vi);
        assert_eq!((text.as_str(), class), ("Còn 1 ngày làm việc", "ok"));
        assert_eq!(
            detail.unwrap(),
            "Thời hạn thẩm định: đến hết ngày 02/03/2026"
        );
        // Thursday 05/03 is 3 working days late; the weekend adds nothing.
        let (text, class, _) = deadline_view(&d, jiff::civil::date(2026, 3, 8), &cal, Lang::Vi);
        assert_eq!(
            (text.as_str(), class),
            ("Quá hạn 4 ngày làm việc", "overdue")
        );
        let (text, _, _) = deadline_view(&d, jiff::civil::date(2026, 3, 5), &cal, Lang::En);
        assert_eq!(text, "Overdue by 3 working days");
        // Paused on 11/02 with 8 working days left: no lateness while the agency holds it.
        d.state = DossierState::NeedsSupplement;
        d.deadline = d.deadline.take().map(|dl| Deadline {
            paused_since: Some(jiff::civil::date(2026, 2, 11)),
            days_left: Some(8),
            ..dl
        });
        let (text, class, detail) =
            deadline_view(&d, jiff::civil::date(2026, 4, 1), &cal, Lang::Vi);
        assert_eq!(
            (text.as_str(), class),
            ("Tạm dừng: chờ đơn vị bổ sung", "warn")
        );
        assert!(detail.unwrap().contains("còn 8 ngày làm việc"));
    }

    #[test]
    fn letters_and_sizes_read_the_vietnamese_way() {
        let l = LetterRef::new(2559, "SCT-VP", jiff::civil::date(2021, 5, 25)).unwrap();
        assert_eq!(
            letter_text(&l, Lang::Vi),
            "VB số 2559/SCT-VP ngày 25/5/2021"
        );
        assert_eq!(size_text(900, Lang::Vi), "900 byte");
        assert_eq!(size_text(1536, Lang::Vi), "1,5 KB");
        assert_eq!(size_text(20 * 1024 * 1024, Lang::En), "20.0 MB");
        assert_eq!(
            state_label(DossierState::NeedsSupplement, Lang::Vi),
            "Cần bổ sung"
        );
        assert_eq!(state_label(DossierState::Draft, Lang::En), "Draft");
    }
}
