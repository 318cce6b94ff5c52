//! The system page (`GET /systems/{id}`): everything the department and the agency know about
//! one information system on one screen: its identity and levels, its dossiers, the latest
//! evaluation against its level (failures first, with the evidence the agent saw, how to fix
//! them and the rule's references), the certificate served, the scan history as a timeline of
//! changes, and the waivers. Staff ask for a scan from here; appraisers grant waivers here.
//!
//! Every read goes through the API's code (`api::inventory::system_compliance`, which checks
//! the role and the agency scope: another agency's officer gets the 404 page;
//! `api::reports::latest_report` and `history_of`), and the read index for names and
//! dossiers; the two forms call the API's `waivers::grant` and `agents::scan_now`.
//!
//! - `GET /systems/{id}?notice=scan|scan-none|waiver`
//! - `POST /systems/{id}/waivers` (csrf_token, rule, reason, expires_on): field errors next to
//!   the fields (400, 409 for a rule already waived), else 303 back to the page;
//! - `POST /systems/{id}/scan` (csrf_token): 303 back with a notice.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use canhgac_policies::pack::{RuleResult, Severity, Status};
use canhgac_policies::report::{Protocols, ScanReport};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Deserialize;

use super::chrome::{Chrome, Lang, Viewer};
use super::error::{WebError, render};
use super::format;
use crate::api::inventory::{self, RedeterminationCause};
use crate::api::reports::{self, HistoryEntry, HistoryQuery};
use crate::api::waivers::{self as waiver_api, NewWaiver, Refusal};
use crate::api::{ApiError, AppState, Principal, blocking};
use crate::compliance::{ComplianceView, SummaryStatus};
use crate::index::DossierEntry;
use crate::model::{Role, System, SystemStatus};
use crate::waivers::{Waiver, WaiverError};
use crate::workflow::{ActionKind, roles_for};

/// The timeline shows at most this many changes.
const HISTORY_CHANGES: usize = 50;

/// History entries read per target (the API's largest page).
const HISTORY_READ: usize = 500;

/// Certificates with fewer days left than this are shown in red.
const CERT_WARN_DAYS: i64 = 30;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/systems/{id}", get(page))
        .route("/systems/{id}/waivers", post(add_waiver))
        .route("/systems/{id}/scan", post(scan_now))
}

// ---------------------------------------------------------------------------------------------
// What the page reads.

/// Everything the page shows, read through the API's code.
struct Loaded {
    system: System,
    view: Option<ComplianceView>,
    waivers: Vec<Waiver>,
    owner: String,
    unit: String,
    dossiers: Vec<DossierEntry>,
    cause: Option<RedeterminationCause>,
    report: Option<ScanReport>,
    /// Per target: its history, newest first, and whether it goes back to the first report.
    history: Vec<(String, Vec<HistoryEntry>, bool)>,
}

/// The targets (`host:port`) of a system: those of its URLs, and the one its summary names.
fn targets_of(system: &System, view: Option<&ComplianceView>) -> Vec<String> {
    let mut out: BTreeSet<String> = system
        .urls
        .iter()
        .filter_map(|u| crate::agents::url_target(u))
        .map(|(host, port, _)| format!("{host}:{port}"))
        .collect();
    if let Some(v) = view {
        out.insert(v.target.clone());
    }
    out.into_iter().collect()
}

async fn load(state: &AppState, principal: &Principal, id: &str) -> Result<Loaded, ApiError> {
    let (system, view, waivers) = inventory::system_compliance(state, principal, id).await?;
    let (store, index, sys) = (state.store.clone(), state.index.clone(), system.clone());
    let (owner, unit, dossiers, cause) = blocking(move || {
        let cause = inventory::redetermination_cause(store.as_ref(), &sys)?;
        let data = index.read(store.as_ref())?;
        let name = |a| {
            data.agencies
                .get(a)
                .map_or_else(|| a.to_string(), |a| a.name.clone())
        };
        let dossiers: Vec<DossierEntry> = data
            .dossiers_of
            .get(&sys.id)
            .into_iter()
            .flatten()
            .rev()
            .filter_map(|d| data.dossiers.get(d).cloned())
            .collect();
        Ok((
            name(sys.owner_agency),
            name(sys.operating_unit),
            dossiers,
            cause,
        ))
    })
    .await?;
    let report = match &view {
        Some(v) => reports::latest_report(state, principal.clone(), v.target.clone())
            .await?
            .and_then(|raw| serde_json::from_slice::<ScanReport>(&raw).ok()),
        None => None,
    };
    let level = system
        .approved
        .as_ref()
        .map(|a| a.level)
        .or(system.proposed_level)
        .map(|l| l.get());
    let mut history = Vec::new();
    for target in targets_of(&system, view.as_ref()) {
        let query = HistoryQuery {
            limit: Some(HISTORY_READ),
            before: None,
            level,
        };
        if let Some(page) = reports::history_of(state, principal.clone(), target, query).await? {
            let complete = page.next_before.is_none();
            history.push((page.target, page.reports, complete));
        }
    }
    Ok(Loaded {
        system,
        view,
        waivers,
        owner,
        unit,
        dossiers,
        cause,
        report,
        history,
    })
}

// ---------------------------------------------------------------------------------------------
// What the template reads: text ready to print, in the page's language.

/// A URL of the system (a link only for http and https).
struct UrlLine {
    text: String,
    link: bool,
}

/// The approval in force.
struct ApprovalLine {
    level: u8,
    decision: String,
    date: String,
}

/// A dossier of the system.
struct DossierLine {
    id: String,
    letter: String,
    level: u8,
    state_id: &'static str,
    state: String,
    created: String,
    updated: String,
    decision: Option<String>,
}

/// One rule's result.
struct RuleLine {
    id: String,
    title: String,
    severity: &'static str,
    severity_label: &'static str,
    evidence: String,
    remediation: Option<String>,
    references: Vec<UrlLine>,
    /// For waived rules: the waiver's reason and last day.
    waiver: Option<(String, String)>,
}

/// The latest evaluation.
struct EvaluationView {
    grade: String,
    score: u32,
    level: u8,
    status: String,
    status_class: &'static str,
    stale: bool,
    fresh_until: Option<String>,
    scanned_at: String,
    target: String,
    report: String,
    grade_without_waivers: Option<String>,
    failures: Vec<RuleLine>,
    warnings: Vec<RuleLine>,
    unknown: Vec<RuleLine>,
    waived: Vec<RuleLine>,
    passes: Vec<RuleLine>,
}

/// The certificate served.
struct CertificateView {
    subject: String,
    issuer: String,
    san: Vec<String>,
    not_before: String,
    not_after: String,
    days_left: i64,
    days_text: String,
    days_bad: bool,
    key: String,
    signature_algorithm: String,
    chain_ok: bool,
    chain_verdict: String,
    chain_detail: Option<String>,
    chain_facts: String,
    sha256: String,
}

/// One TLS version and whether the server accepts it.
struct ProtocolLine {
    name: &'static str,
    answer: String,
    class: &'static str,
}

/// One change of outcome in the scan history.
struct HistoryLine {
    when: String,
    target: Option<String>,
    grade: String,
    previous_grade: Option<String>,
    score: u32,
    first: bool,
    newly_failing: Vec<String>,
    fixed: Vec<String>,
}

/// One waiver.
struct WaiverLine {
    rule: String,
    rule_title: String,
    reason: String,
    by: String,
    created: String,
    expires: String,
    valid: bool,
    state: String,
}

/// The waiver form: choices, values typed and errors.
struct WaiverFormView {
    rules: Vec<(String, String)>,
    rule: String,
    reason: String,
    expires_on: String,
    min: String,
    max: String,
    error_rule: Option<String>,
    error_reason: Option<String>,
    error_expires: Option<String>,
}

#[derive(Template)]
#[template(path = "system.html")]
struct SystemPage {
    c: Chrome,
    id: String,
    name: String,
    owner: String,
    unit: String,
    urls: Vec<UrlLine>,
    hosting: String,
    category: String,
    status: String,
    retired: bool,
    proposed: Option<u8>,
    approved: Option<ApprovalLine>,
    redetermination: Option<String>,
    dossiers: Vec<DossierLine>,
    can_create_dossier: bool,
    levels: Vec<(u8, bool)>,
    evaluation: Option<EvaluationView>,
    certificate: Option<CertificateView>,
    protocols: Vec<ProtocolLine>,
    negotiated: Option<String>,
    history: Vec<HistoryLine>,
    last_scan: Option<String>,
    waivers: Vec<WaiverLine>,
    waiver_form: Option<WaiverFormView>,
    can_scan: bool,
    notice: Option<String>,
}

fn severity_label(s: Severity, lang: Lang) -> &'static str {
    match s {
        Severity::Critical => lang.t("Nghiêm trọng", "Critical"),
        Severity::High => lang.t("Cao", "High"),
        Severity::Medium => lang.t("Trung bình", "Medium"),
        Severity::Low => lang.t("Thấp", "Low"),
        Severity::Info => lang.t("Thông tin", "Info"),
    }
}

fn url_line(text: &str) -> UrlLine {
    let lower = text.trim().to_ascii_lowercase();
    UrlLine {
        text: text.trim().to_string(),
        link: lower.starts_with("https://") || lower.starts_with("http://"),
    }
}

fn rule_line(r: &RuleResult, lang: Lang, waivers: &BTreeMap<&str, (String, String)>) -> RuleLine {
    let remediation = match lang {
        Lang::Vi => r.remediation_vi.as_deref(),
        Lang::En => r.remediation_en.as_deref(),
    };
    RuleLine {
        id: r.rule.clone(),
        title: lang.t(&r.title_vi, &r.title_en).to_string(),
        severity: r.severity.name(),
        severity_label: severity_label(r.severity, lang),
        evidence: r.evidence.clone(),
        remediation: remediation
            .filter(|t| !t.trim().is_empty())
            .map(str::to_string),
        references: r.references.iter().map(|s| url_line(s)).collect(),
        waiver: waivers.get(r.rule.as_str()).cloned(),
    }
}

fn evaluation_view(v: &ComplianceView, lang: Lang) -> EvaluationView {
    let waivers: BTreeMap<&str, (String, String)> = v
        .waived
        .iter()
        .map(|w| {
            (
                w.rule.as_str(),
                (w.reason.clone(), format::date(w.expires_on, lang)),
            )
        })
        .collect();
    let of = |status: Status| -> Vec<RuleLine> {
        let mut lines: Vec<&RuleResult> = v
            .evaluation
            .results
            .iter()
            .filter(|r| r.status == status)
            .collect();
        // Most severe first (the evaluation's order already; kept stable).
        lines.sort_by_key(|r| std::cmp::Reverse(r.severity));
        lines
            .into_iter()
            .map(|r| rule_line(r, lang, &waivers))
            .collect()
    };
    let mut passes = of(Status::Pass);
    passes.extend(of(Status::Na));
    let (status, status_class) = match v.status {
        SummaryStatus::Passing => (lang.t("Đạt", "Passing"), "ok"),
        SummaryStatus::Failing => (lang.t("Không đạt", "Failing"), "bad"),
        SummaryStatus::Stale => (lang.t("Bằng chứng đã cũ", "Stale evidence"), "warn"),
        SummaryStatus::Retired => (lang.t("Ngừng sử dụng", "Retired"), "warn"),
    };
    EvaluationView {
        grade: v.evaluation.grade.clone(),
        score: v.evaluation.score,
        level: v.evaluation.level,
        status: status.to_string(),
        status_class,
        stale: !v.current,
        fresh_until: v.fresh_until.map(|t| format::datetime(t, lang)),
        scanned_at: format::datetime(v.scanned_at, lang),
        target: v.target.clone(),
        report: v.report.clone(),
        grade_without_waivers: (v.grade_without_waivers != v.evaluation.grade)
            .then(|| v.grade_without_waivers.clone()),
        failures: of(Status::Fail),
        warnings: of(Status::Warn),
        unknown: of(Status::Unknown),
        waived: of(Status::Waived),
        passes,
    }
}

/// Whole days from `now` to `until` (negative once past), rounded down.
fn days_between(now: Timestamp, until: Timestamp) -> i64 {
    until
        .as_second()
        .saturating_sub(now.as_second())
        .div_euclid(86_400)
}

fn chain_verdict(code: Option<&str>, trusted: bool, lang: Lang) -> String {
    if trusted {
        return lang.t("Hợp lệ, được tin cậy", "Valid, trusted").to_string();
    }
    let text = match code.unwrap_or("") {
        "expired" => lang.t("Chứng thư đã hết hạn", "The certificate has expired"),
        "not_yet_valid" => lang.t(
            "Chứng thư chưa đến ngày hiệu lực",
            "The certificate is not valid yet",
        ),
        "unknown_issuer" => lang.t(
            "Tổ chức cấp không được tin cậy",
            "The issuer is not trusted",
        ),
        "self_signed" => lang.t("Chứng thư tự ký", "Self-signed certificate"),
        "incomplete_chain" => lang.t(
            "Thiếu chứng thư trung gian",
            "An intermediate certificate is missing",
        ),
        "hostname_mismatch" => lang.t(
            "Chứng thư không khớp tên miền",
            "The certificate does not match the host name",
        ),
        "weak_signature" => lang.t("Thuật toán chữ ký yếu", "Weak signature algorithm"),
        "weak_key" => lang.t("Khóa quá yếu", "Weak key"),
        "bad_certificate" => lang.t("Chứng thư bị lỗi", "Malformed certificate"),
        "no_certificate" => lang.t("Không nhận được chứng thư", "No certificate served"),
        "" => lang.t("Không xác định được", "Could not be decided"),
        other => return format!("{} ({other})", lang.t("Không hợp lệ", "Not valid")),
    };
    text.to_string()
}

fn certificate_view(report: &ScanReport, now: Timestamp, lang: Lang) -> Option<CertificateView> {
    let tls = report.tls.as_ref()?;
    let cert = tls.certificate.as_ref()?;
    let days_left = days_between(now, cert.not_after);
    let days_text = if days_left >= 0 {
        match lang {
            Lang::Vi => format!("còn {days_left} ngày"),
            Lang::En => format!("{days_left} days left"),
        }
    } else {
        match lang {
            Lang::Vi => format!("đã hết hạn {} ngày", -days_left),
            Lang::En => format!("expired {} days ago", -days_left),
        }
    };
    let mut san = cert.san_dns.clone();
    san.extend(cert.san_ip.iter().cloned());
    let key = match &cert.curve {
        Some(curve) => format!("{} {} ({curve})", cert.key_type, cert.key_bits),
        None => format!("{} {}", cert.key_type, cert.key_bits),
    };
    let facts = &tls.chain_facts;
    let mut chain_facts = match lang {
        Lang::Vi => format!("{} chứng thư được gửi", facts.served),
        Lang::En => format!("{} certificates served", facts.served),
    };
    if facts.in_order == Some(false) {
        chain_facts.push_str(lang.t(", sai thứ tự", ", out of order"));
    }
    if facts.missing_intermediate == Some(true) {
        chain_facts.push_str(lang.t(
            ", có thể thiếu chứng thư trung gian",
            ", an intermediate is probably missing",
        ));
    }
    Some(CertificateView {
        subject: cert.subject.clone(),
        issuer: cert.issuer.clone(),
        san,
        not_before: format::datetime(cert.not_before, lang),
        not_after: format::datetime(cert.not_after, lang),
        days_left,
        days_text,
        days_bad: days_left < CERT_WARN_DAYS,
        key,
        signature_algorithm: cert.signature_algorithm.clone(),
        chain_ok: tls.validation.trusted,
        chain_verdict: chain_verdict(
            tls.validation.error.as_deref(),
            tls.validation.trusted,
            lang,
        ),
        chain_detail: tls
            .validation
            .detail
            .clone()
            .filter(|d| !d.trim().is_empty()),
        chain_facts,
        sha256: cert.sha256.clone(),
    })
}

fn protocol_lines(protocols: &Protocols, lang: Lang) -> Vec<ProtocolLine> {
    Protocols::KEYS
        .iter()
        .map(|key| {
            let name = match *key {
                "ssl3" => "SSL 3.0",
                "tls1.0" => "TLS 1.0",
                "tls1.1" => "TLS 1.1",
                "tls1.2" => "TLS 1.2",
                _ => "TLS 1.3",
            };
            let modern = matches!(*key, "tls1.2" | "tls1.3");
            let (answer, class) = match protocols.get(key).flatten() {
                Some(true) => (
                    lang.t("chấp nhận", "accepted"),
                    if modern { "ok" } else { "bad" },
                ),
                Some(false) => (lang.t("không chấp nhận", "refused"), "muted"),
                None => (lang.t("không xác định", "unknown"), "muted"),
            };
            ProtocolLine {
                name,
                answer: answer.to_string(),
                class,
            }
        })
        .collect()
}

/// A change of outcome: `entries` of one target, newest first, turned into the changes,
/// newest first. The oldest entry is a change (the first scan) only when `complete` (the
/// history goes back to the first report); otherwise it is the baseline of the next.
fn changes_of(
    entries: &[HistoryEntry],
    complete: bool,
) -> Vec<(&HistoryEntry, Option<&HistoryEntry>)> {
    let oldest_first: Vec<&HistoryEntry> = entries.iter().rev().collect();
    let mut out = Vec::new();
    for (i, e) in oldest_first.iter().enumerate() {
        match i.checked_sub(1).map(|p| oldest_first[p]) {
            None if complete => out.push((*e, None)),
            None => {}
            Some(prev) if prev.grade != e.grade || prev.failing != e.failing => {
                out.push((*e, Some(prev)));
            }
            Some(_) => {}
        }
    }
    out.reverse();
    out
}

fn history_lines(
    history: &[(String, Vec<HistoryEntry>, bool)],
    titles: &BTreeMap<&str, String>,
    lang: Lang,
) -> Vec<HistoryLine> {
    let several = history.len() > 1;
    let title = |rule: &String| match titles.get(rule.as_str()) {
        Some(t) => format!("{t} ({rule})"),
        None => rule.clone(),
    };
    let mut all: Vec<(Timestamp, HistoryLine)> = Vec::new();
    for (target, entries, complete) in history {
        for (e, prev) in changes_of(entries, *complete) {
            let before: BTreeSet<&String> =
                prev.map(|p| p.failing.iter().collect()).unwrap_or_default();
            let after: BTreeSet<&String> = e.failing.iter().collect();
            let newly_failing = match prev {
                Some(_) => after.difference(&before).map(|r| title(r)).collect(),
                None => after.iter().map(|r| title(r)).collect(),
            };
            let fixed = before.difference(&after).map(|r| title(r)).collect();
            all.push((
                e.started_at,
                HistoryLine {
                    when: format::datetime(e.started_at, lang),
                    target: several.then(|| target.clone()),
                    grade: e.grade.clone(),
                    previous_grade: prev.map(|p| p.grade.clone()).filter(|g| *g != e.grade),
                    score: e.score,
                    first: prev.is_none(),
                    newly_failing,
                    fixed,
                },
            ));
        }
    }
    all.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    all.into_iter()
        .take(HISTORY_CHANGES)
        .map(|(_, line)| line)
        .collect()
}

fn dossier_line(d: &DossierEntry, lang: Lang) -> DossierLine {
    let letter = match &d.submitted_letter {
        Some(l) => match lang {
            Lang::Vi => l.to_string(),
            Lang::En => format!(
                "{}/{} of {}",
                l.number,
                l.symbol,
                format::date(l.date, lang)
            ),
        },
        None => "—".to_string(),
    };
    DossierLine {
        id: d.id.to_string(),
        letter,
        level: d.proposed_level.get(),
        state_id: d.state.id(),
        state: match lang {
            Lang::Vi => d.state.label_vi().to_string(),
            Lang::En => d.state.label_en().to_string(),
        },
        created: format::datetime(d.created_at, lang),
        updated: format::datetime(d.updated_at, lang),
        decision: d.decision.as_ref().map(|a| {
            format!(
                "{} · {} {}",
                a.decision_number,
                format::date(a.decision_date, lang),
                match lang {
                    Lang::Vi => format!("· cấp độ {}", a.level),
                    Lang::En => format!("· level {}", a.level),
                }
            )
        }),
    }
}

fn redetermination_text(cause: Option<&RedeterminationCause>, lang: Lang) -> String {
    let base = lang.t(
        "Thông tin hệ thống đã thay đổi sau khi được phê duyệt: cần lập hồ sơ đề xuất cấp độ mới (Điều 18 Nghị định 85/2016/NĐ-CP).",
        "The system changed after its approval: a new level-proposal dossier is due (Decree 85/2016 art. 18).",
    );
    let Some(cause) = cause else {
        return base.to_string();
    };
    let fields: Vec<String> = cause
        .changes
        .iter()
        .map(|(field, before, after)| {
            let label = match *field {
                "hosting" => lang.t("Nơi đặt hệ thống", "Hosting"),
                "urls" => lang.t("Địa chỉ", "Addresses"),
                "category" => lang.t("Loại hệ thống", "Category"),
                _ => lang.t("Cấp độ đề xuất", "Proposed level"),
            };
            format!("{label}: «{before}» → «{after}»")
        })
        .collect();
    let who = match lang {
        Lang::Vi => format!(
            "Thay đổi bởi {} lúc {}",
            cause.actor,
            format::datetime(cause.at, lang)
        ),
        Lang::En => format!(
            "Changed by {} at {}",
            cause.actor,
            format::datetime(cause.at, lang)
        ),
    };
    if fields.is_empty() {
        format!("{base} {who}.")
    } else {
        format!("{base} {who}: {}.", fields.join("; "))
    }
}

fn waiver_line(w: &Waiver, today: Date, titles: &BTreeMap<&str, String>, lang: Lang) -> WaiverLine {
    let valid = w.is_valid(today);
    let state = if w.revoked.is_some() {
        lang.t("Đã thu hồi", "Revoked")
    } else if valid {
        lang.t("Còn hiệu lực", "In force")
    } else {
        lang.t("Đã hết hạn", "Expired")
    };
    WaiverLine {
        rule: w.rule.clone(),
        rule_title: titles.get(w.rule.as_str()).cloned().unwrap_or_default(),
        reason: w.reason.clone(),
        by: w.created_by.clone(),
        created: format::datetime(w.created_at, lang),
        expires: format::date(w.expires_on, lang),
        valid,
        state: state.to_string(),
    }
}

/// Who may grant waivers (as `api::waivers` checks).
fn may_grant(role: Role) -> bool {
    matches!(role, Role::Appraiser | Role::Administrator)
}

/// The values typed in the waiver form and what was wrong with them.
#[derive(Default)]
struct WaiverInput {
    rule: String,
    reason: String,
    expires_on: String,
    error_rule: Option<String>,
    error_reason: Option<String>,
    error_expires: Option<String>,
}

fn build(
    state: &AppState,
    chrome: Chrome,
    role: Role,
    loaded: Loaded,
    input: WaiverInput,
    notice: Option<String>,
) -> SystemPage {
    let lang = chrome.lang;
    let now = crate::clock::now();
    let today = crate::clock::today_vn(now);
    let s = &loaded.system;
    let pack = state.pack();
    let titles: BTreeMap<&str, String> = pack
        .rules
        .iter()
        .map(|r| {
            (
                r.spec.id.as_str(),
                lang.t(&r.texts.title_vi, &r.texts.title_en).to_string(),
            )
        })
        .collect();
    let evaluation = loaded.view.as_ref().map(|v| evaluation_view(v, lang));
    let waiver_form = may_grant(role).then(|| {
        let mut rules: Vec<(String, String)> = evaluation
            .iter()
            .flat_map(|e| e.failures.iter().chain(e.warnings.iter()))
            .map(|r| (r.id.clone(), r.title.clone()))
            .collect();
        if !input.rule.is_empty() && !rules.iter().any(|(id, _)| *id == input.rule) {
            let title = titles.get(input.rule.as_str()).cloned().unwrap_or_default();
            rules.push((input.rule.clone(), title));
        }
        WaiverFormView {
            rules,
            rule: input.rule.clone(),
            reason: input.reason.clone(),
            expires_on: input.expires_on.clone(),
            min: today.tomorrow().map(|d| d.to_string()).unwrap_or_default(),
            max: today
                .checked_add(jiff::Span::new().days(crate::waivers::MAX_WAIVER_DAYS))
                .map(|d| d.to_string())
                .unwrap_or_default(),
            error_rule: input.error_rule.clone(),
            error_reason: input.error_reason.clone(),
            error_expires: input.error_expires.clone(),
        }
    });
    let tls = loaded.report.as_ref().and_then(|r| r.tls.as_ref());
    let proposed = s.proposed_level.map(|l| l.get());
    let mut waivers: Vec<WaiverLine> = loaded
        .waivers
        .iter()
        .map(|w| waiver_line(w, today, &titles, lang))
        .collect();
    // In force first, then the newest.
    waivers.reverse();
    waivers.sort_by_key(|w| !w.valid);
    SystemPage {
        id: s.id.to_string(),
        name: s.name.clone(),
        owner: loaded.owner.clone(),
        unit: loaded.unit.clone(),
        urls: s.urls.iter().map(|u| url_line(u)).collect(),
        hosting: s.hosting.clone(),
        category: s.category.clone(),
        status: match (s.status, lang) {
            (st, Lang::Vi) => st.label_vi().to_string(),
            (SystemStatus::InUse, Lang::En) => "in use".to_string(),
            (SystemStatus::Retired, Lang::En) => "retired".to_string(),
        },
        retired: s.status == SystemStatus::Retired,
        proposed,
        approved: s.approved.as_ref().map(|a| ApprovalLine {
            level: a.level.get(),
            decision: a.decision_number.clone(),
            date: format::date(a.decision_date, lang),
        }),
        redetermination: s
            .needs_redetermination
            .then(|| redetermination_text(loaded.cause.as_ref(), lang)),
        dossiers: loaded
            .dossiers
            .iter()
            .map(|d| dossier_line(d, lang))
            .collect(),
        can_create_dossier: roles_for(ActionKind::Create).contains(&role)
            && s.status == SystemStatus::InUse,
        levels: (1..=5).map(|l| (l, Some(l) == proposed)).collect(),
        certificate: loaded
            .report
            .as_ref()
            .and_then(|r| certificate_view(r, now, lang)),
        protocols: tls
            .map(|t| protocol_lines(&t.protocols, lang))
            .unwrap_or_default(),
        negotiated: tls
            .and_then(|t| t.negotiated.as_ref())
            .map(|n| format!("{} · {}", n.protocol, n.cipher_suite)),
        history: history_lines(&loaded.history, &titles, lang),
        last_scan: loaded
            .view
            .as_ref()
            .map(|v| format::datetime(v.scanned_at, lang)),
        waivers,
        waiver_form,
        can_scan: chrome.staff && s.status == SystemStatus::InUse,
        evaluation,
        notice,
        c: chrome,
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers.

/// `?notice=`: what the last form did.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    notice: Option<String>,
}

fn notice_text(notice: Option<&str>, lang: Lang) -> Option<String> {
    let text = match notice? {
        "waiver" => lang.t("Đã ghi nhận chấp nhận rủi ro.", "The waiver was recorded."),
        "scan" => lang.t(
            "Đã yêu cầu quét ngay: tác tử sẽ quét ở lần liên lạc tới.",
            "A scan was requested: the agents scan at their next check-in.",
        ),
        "scan-none" => lang.t(
            "Không có tác tử quét nào phụ trách hệ thống này: chưa thể quét.",
            "No agent covers this system: nothing will scan it.",
        ),
        _ => return None,
    };
    Some(text.to_string())
}

/// `GET /systems/{id}`.
async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, WebError> {
    let lang = viewer.lang();
    let loaded = load(&state, &viewer.principal, &id)
        .await
        .map_err(|e| WebError::api(e, lang))?;
    let notice = notice_text(q.notice.as_deref(), lang);
    let page = build(
        &state,
        viewer.chrome.clone().section("systems"),
        viewer.principal.account.role,
        loaded,
        WaiverInput::default(),
        notice,
    );
    Ok(render(&page, lang)?.into_response())
}

/// The waiver form.
#[derive(Debug, Deserialize)]
pub struct WaiverForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    rule: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    expires_on: String,
}

/// A date as typed: `yyyy-mm-dd` (the date picker) or `dd/mm/yyyy`.
fn parse_date(text: &str) -> Option<Date> {
    let text = text.trim();
    if let Ok(d) = text.parse::<Date>() {
        return Some(d);
    }
    let mut parts = text.split('/');
    let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?).ok()
}

/// The field a refused waiver request is shown next to, with the message.
fn waiver_error(e: &WaiverError, lang: Lang, input: &mut WaiverInput) {
    match e {
        WaiverError::UnknownRule(_) => {
            input.error_rule = Some(
                lang.t(
                    "Quy tắc này không có trong bộ chính sách.",
                    "This rule is not in the policy pack.",
                )
                .to_string(),
            );
        }
        WaiverError::Reason => {
            input.error_reason = Some(match lang {
                Lang::Vi => format!(
                    "Cần nêu lý do chấp nhận (tối đa {} ký tự).",
                    crate::waivers::MAX_REASON_CHARS
                ),
                Lang::En => format!(
                    "A reason is required (at most {} characters).",
                    crate::waivers::MAX_REASON_CHARS
                ),
            });
        }
        WaiverError::NotInFuture { .. } => {
            input.error_expires = Some(
                lang.t(
                    "Ngày hết hạn phải sau hôm nay.",
                    "The expiry must be after today.",
                )
                .to_string(),
            );
        }
        WaiverError::TooFar { max, .. } => {
            input.error_expires = Some(match lang {
                Lang::Vi => format!(
                    "Ngày hết hạn quá xa: muộn nhất là {}.",
                    format::date(*max, lang)
                ),
                Lang::En => format!(
                    "The expiry is too far: {} at the latest.",
                    format::date(*max, lang)
                ),
            });
        }
    }
}

/// `POST /systems/{id}/waivers`.
async fn add_waiver(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(f): Form<WaiverForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&f.csrf_token)?;
    let lang = viewer.lang();
    let mut input = WaiverInput {
        rule: f.rule.trim().to_string(),
        reason: f.reason.clone(),
        expires_on: f.expires_on.trim().to_string(),
        ..WaiverInput::default()
    };
    let status = match parse_date(&f.expires_on) {
        None => {
            // The role and the system are checked before the request is judged, as the API
            // does: a stranger gets 403/404, not a form error.
            viewer
                .principal
                .require(&[Role::Appraiser, Role::Administrator])
                .map_err(|e| WebError::api(e, lang))?;
            input.error_expires = Some(
                lang.t(
                    "Hãy nhập ngày hết hạn (dd/mm/yyyy).",
                    "Enter the expiry date (yyyy-mm-dd).",
                )
                .to_string(),
            );
            StatusCode::BAD_REQUEST
        }
        Some(expires_on) => {
            let request = NewWaiver {
                rule: input.rule.clone(),
                reason: f.reason,
                expires_on,
            };
            match waiver_api::grant(&state, &viewer.principal, &id, Ok(request)).await {
                Ok(_) => {
                    return Ok(
                        Redirect::to(&format!("/systems/{id}?notice=waiver#waivers"))
                            .into_response(),
                    );
                }
                Err(Refusal::Invalid(e)) => {
                    waiver_error(&e, lang, &mut input);
                    StatusCode::BAD_REQUEST
                }
                Err(Refusal::Api(e)) if e.status() == StatusCode::CONFLICT => {
                    input.error_rule = Some(
                        lang.t(
                            "Quy tắc này đang có một chấp nhận rủi ro còn hiệu lực.",
                            "This rule already has a waiver in force.",
                        )
                        .to_string(),
                    );
                    StatusCode::CONFLICT
                }
                Err(Refusal::Api(e)) => return Err(WebError::api(e, lang)),
            }
        }
    };
    let loaded = load(&state, &viewer.principal, &id)
        .await
        .map_err(|e| WebError::api(e, lang))?;
    let page = build(
        &state,
        viewer.chrome.clone().section("systems"),
        viewer.principal.account.role,
        loaded,
        input,
        None,
    );
    Ok((status, render(&page, lang)?).into_response())
}

/// A form that carries only its CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

/// `POST /systems/{id}/scan`.
async fn scan_now(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&f.csrf_token)?;
    let lang = viewer.lang();
    let (_, axum::Json(answer)) =
        crate::api::agents::scan_now(State(state), viewer.principal, Path(id.clone()))
            .await
            .map_err(|e| WebError::api(e, lang))?;
    let agents = answer["agents"].as_array().map_or(0, Vec::len);
    let notice = if agents > 0 { "scan" } else { "scan-none" };
    Ok(Redirect::to(&format!("/systems/{id}?notice={notice}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u32, grade: &str, failing: &[&str]) -> HistoryEntry {
        HistoryEntry {
            id: format!("0193{n:04x}-5b7a-7cc0-9a8e-3a5c1f1d2e3f"),
            started_at: Timestamp::from_second(1_800_000_000 + i64::from(n) * 86_400).unwrap(),
            level: 3,
            grade: grade.to_string(),
            score: 90,
            failing: failing.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn the_timeline_keeps_only_changes_of_outcome() {
        // Newest first, as the history route answers.
        let entries = vec![
            entry(5, "A", &[]),
            entry(4, "F", &["tls.cert_expiry"]),
            entry(3, "F", &["tls.cert_expiry"]),
            entry(2, "A", &[]),
            entry(1, "A", &[]),
        ];
        let changes = changes_of(&entries, true);
        let grades: Vec<(&str, Option<&str>)> = changes
            .iter()
            .map(|(e, p)| (e.grade.as_str(), p.map(|p| p.grade.as_str())))
            .collect();
        assert_eq!(
            grades,
            vec![("A", Some("F")), ("F", Some("A")), ("A", None)]
        );
        // Without the first report, the oldest entry is only the baseline.
        assert_eq!(changes_of(&entries, false).len(), 2);

        let titles = BTreeMap::from([("tls.cert_expiry", "Chứng thư còn hạn".to_string())]);
        let lines = history_lines(
            &[("a.gov.vn:443".to_string(), entries, true)],
            &titles,
            Lang::Vi,
        );
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].fixed, vec!["Chứng thư còn hạn (tls.cert_expiry)"]);
        assert_eq!(
            lines[1].newly_failing,
            vec!["Chứng thư còn hạn (tls.cert_expiry)"]
        );
        assert_eq!(lines[1].previous_grade.as_deref(), Some("A"));
        assert!(lines[2].first);
        assert!(lines[0].target.is_none(), "one target: not repeated");
    }

    #[test]
    fn dates_are_read_both_ways_and_days_round_down() {
        assert_eq!(
            parse_date("2026-12-31"),
            Some(jiff::civil::date(2026, 12, 31))
        );
        assert_eq!(
            parse_date(" 31/12/2026 "),
            Some(jiff::civil::date(2026, 12, 31))
        );
        assert_eq!(parse_date("31/02/2026"), None);
        assert_eq!(parse_date("tomorrow"), None);
        assert_eq!(parse_date("1/2/3/4"), None);
        let now: Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        let later: Timestamp = "2026-12-30T23:00:00Z".parse().unwrap();
        assert_eq!(days_between(now, later), 29);
        let earlier: Timestamp = "2026-11-30T23:00:00Z".parse().unwrap();
        assert_eq!(days_between(now, earlier), -1);
    }

    #[test]
    fn only_web_addresses_become_links() {
        assert!(url_line("https://sct.dongnai.gov.vn/").link);
        assert!(url_line("HTTP://a.gov.vn").link);
        assert!(!url_line("javascript:alert(1)").link);
        assert!(!url_line("Nghị định 85/2016/NĐ-CP, Điều 9").link);
    }

    #[test]
    fn chain_verdicts_read_in_vietnamese() {
        assert_eq!(
            chain_verdict(Some("expired"), false, Lang::Vi),
            "Chứng thư đã hết hạn"
        );
        assert_eq!(chain_verdict(None, true, Lang::Vi), "Hợp lệ, được tin cậy");
        assert!(chain_verdict(Some("odd"), false, Lang::En).contains("odd"));
    }
}
