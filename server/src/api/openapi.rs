//! The OpenAPI 3.1 description of the API, served at `/api/v1/openapi.json`.
//!
//! One table below lists every route with its roles, body and answers; a unit test reads the
//! router's source and fails when a route is added, removed or changes methods without the table
//! following, so the document cannot silently drift from the server.

use axum::Json;
use serde_json::{Map, Value, json};

/// Who may call a route (shown in the description and as `x-roles`).
type Roles = &'static [&'static str];

const PUBLIC: Roles = &[];
const ANYONE: Roles = &["any signed-in account"];
const PEOPLE: Roles = &[
    "administrator",
    "appraiser",
    "approver",
    "viewer",
    "agency_officer",
];
const ADMIN: Roles = &["administrator"];
const STAFF: Roles = &["administrator", "appraiser", "approver", "viewer"];

/// A request body: a media type and its schema.
#[derive(Clone, Copy)]
enum Body {
    None,
    Json(fn() -> Value),
    Raw(&'static str),
}

/// One operation of the API.
struct Op {
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    roles: Roles,
    body: Body,
    /// The success status and what it returns (a media type and a schema).
    ok: (u16, &'static str, fn() -> Value),
    /// Query parameters: name, description.
    query: &'static [(&'static str, &'static str)],
}

fn any_object() -> Value {
    json!({"type": "object"})
}
fn any_list() -> Value {
    json!({"type": "array", "items": {"type": "object"}})
}
fn schema(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}
fn binary() -> Value {
    json!({"type": "string", "format": "binary"})
}
fn text() -> Value {
    json!({"type": "string"})
}

const OPS: &[Op] = &[
    Op {
        method: "get",
        path: "/healthz",
        tag: "operations",
        summary: "Liveness: status, storage engine, version.",
        roles: PUBLIC,
        body: Body::None,
        ok: (200, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "get",
        path: "/metrics",
        tag: "operations",
        summary: "Prometheus metrics (names prefixed canhgac_).",
        roles: PUBLIC,
        body: Body::None,
        ok: (200, "text/plain", text),
        query: &[],
    },
    Op {
        method: "get",
        path: "/api/v1/openapi.json",
        tag: "operations",
        summary: "This document.",
        roles: PUBLIC,
        body: Body::None,
        ok: (200, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "post",
        path: "/api/v1/reports",
        tag: "evidence",
        summary: "Upload a scan report (idempotent by report id: 201 stored, 200 duplicate).",
        roles: &["agent", "administrator"],
        body: Body::Json(|| schema("ScanReport")),
        ok: (201, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "get",
        path: "/api/v1/targets/{target}/latest",
        tag: "evidence",
        summary: "The latest report for a target (host:port).",
        roles: PEOPLE,
        body: Body::None,
        ok: (200, "application/json", || schema("ScanReport")),
        query: &[],
    },
    Op {
        method: "get",
        path: "/api/v1/targets/{target}/history",
        tag: "evidence",
        summary: "The kept reports of a target, newest first: id, time, grade, failing rules (officers: targets of their systems only).",
        roles: PEOPLE,
        body: Body::None,
        ok: (200, "application/json", any_object),
        query: &[
            ("limit", "At most this many reports (1-500, default 50)."),
            (
                "before",
                "Only reports with an id before this one (next_before of the previous page).",
            ),
            (
                "level",
                "The level grades are shown at (default: the target's systems' highest level, else 3).",
            ),
        ],
    },
    Op {
        method: "post",
        path: "/api/v1/agencies",
        tag: "inventory",
        summary: "Create an agency (đơn vị).",
        roles: ADMIN,
        body: Body::Json(|| {
            json!({"type": "object", "required": ["name", "short_code"], "additionalProperties": false,
                "properties": {"name": {"type": "string"}, "short_code": {"type": "string"},
                    "parent": {"type": ["string", "null"], "format": "uuid"},
                    "contacts": {"type": "array", "items": {"type": "string", "format": "email"}}}})
        }),
        ok: (201, "application/json", || schema("Agency")),
        query: &[],
    },
    Op {
        method: "get",
        path: "/api/v1/agencies",
        tag: "inventory",
        summary: "Agencies the caller sees (officers: their agency and its sub-agencies).",
        roles: PEOPLE,
        body: Body::None,
        ok: (200, "application/json", any_list),
        query: &[(
            "include_merged",
            "true: also agencies merged away (hidden by default).",
        )],
    },
    Op {
        method: "patch",
        path: "/api/v1/agencies/{id}",
        tag: "inventory",
        summary: "Edit an agency: name, short code, contacts, parent (administrators; no cycles).",
        roles: &["administrator", "agency_officer"],
        body: Body::Json(|| {
            json!({"type": "object", "additionalProperties": false,
                "properties": {"name": {"type": "string"}, "short_code": {"type": "string"},
                    "parent": {"type": ["string", "null"], "format": "uuid"},
                    "contacts": {"type": "array", "items": {"type": "string", "format": "email"}}}})
        }),
        ok: (200, "application/json", || schema("Agency")),
        query: &[],
    },
    Op {
        method: "post",
        path: "/api/v1/agencies/{id}/merge",
        tag: "inventory",
        summary: "Merge an agency into another: its systems, sub-agencies and accounts move; it stays, retired, for history.",
        roles: ADMIN,
        body: Body::Json(|| {
            json!({"type": "object", "required": ["into"], "additionalProperties": false,
                "properties": {"into": {"type": "string", "format": "uuid"}}})
        }),
        ok: (200, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "post",
        path: "/api/v1/users",
        tag: "access",
        summary: "Create an account (the password is never echoed).",
        roles: ADMIN,
        body: Body::Json(|| {
            json!({"type": "object", "required": ["login", "display_name", "role"], "additionalProperties": false,
                "properties": {"login": {"type": "string"}, "display_name": {"type": "string"},
                    "role": schema("Role"), "agency": {"type": ["string", "null"], "format": "uuid"},
                    "password": {"type": ["string", "null"], "minLength": 12}}})
        }),
        ok: (201, "application/json", any_object),
        query: &[],
    },
    // Sessions, passwords and tokens (docs/access.md; api/session.rs, api/tokens.rs).
    Op {
        method: "patch",
        path: "/api/v1/users/{login}",
        tag: "access",
        summary: "Change an account: disable or enable it, reset its password (its sessions end), change its role, agency or display name.",
        roles: ADMIN,
        body: Body::Json(|| {
            json!({"type": "object", "additionalProperties": false,
                "properties": {"disabled": {"type": "boolean"}, "role": schema("Role"),
                    "agency": {"type": "string", "format": "uuid"}, "display_name": {"type": "string"},
                    "password": {"type": "string", "minLength": 12, "maxLength": 256}}})
        }),
        ok: (200, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "post",
        path: "/api/v1/session",
        tag: "access",
        summary: "Sign in: sets the canhgac_session cookie and answers the CSRF token (401 for any wrong login or password, 429 while throttled).",
        roles: PUBLIC,
        body: Body::Json(|| {
            json!({"type": "object", "required": ["login", "password"], "additionalProperties": false,
                "properties": {"login": {"type": "string"}, "password": {"type": "string"}}})
        }),
        ok: (200, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "get",
        path: "/api/v1/session",
        tag: "access",
        summary: "Who am I: account, role, agency, and how the caller authenticated (with the CSRF token for sessions).",
        roles: ANYONE,
        body: Body::None,
        ok: (200, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "delete",
        path: "/api/v1/session",
        tag: "access",
        summary: "Sign out: the session is deleted on the server and the cookie cleared (400 for token callers).",
        roles: ANYONE,
        body: Body::None,
        ok: (204, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "post",
        path: "/api/v1/me/password",
        tag: "access",
        summary: "Change one's own password (400 wrong_password when the current one is wrong); the caller's other sessions end.",
        roles: PEOPLE,
        body: Body::Json(|| {
            json!({"type": "object", "required": ["current", "new"], "additionalProperties": false,
                "properties": {"current": {"type": "string"}, "new": {"type": "string", "minLength": 12, "maxLength": 256}}})
        }),
        ok: (204, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "post",
        path: "/api/v1/tokens",
        tag: "access",
        summary: "Issue an API token (for oneself; administrators for any account); the secret is in this answer only.",
        roles: ANYONE,
        body: Body::Json(|| {
            json!({"type": "object", "required": ["name"], "additionalProperties": false,
                "properties": {"login": {"type": "string"}, "name": {"type": "string"},
                    "expires_at": {"type": "string", "format": "date-time"}}})
        }),
        ok: (201, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "get",
        path: "/api/v1/tokens",
        tag: "access",
        summary: "The caller's tokens (administrators: everyone's), never the secret.",
        roles: ANYONE,
        body: Body::None,
        ok: (200, "application/json", any_list),
        query: &[(
            "login",
            "Only this account's tokens (administrators, or oneself).",
        )],
    },
    Op {
        method: "delete",
        path: "/api/v1/tokens/{id}",
        tag: "access",
        summary: "Revoke a token by id (the owner or an administrator).",
        roles: ANYONE,
        body: Body::None,
        ok: (204, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "post",
        path: "/api/v1/admin/backup",
        tag: "operations",
        summary: "Write a consistent snapshot of the store to a new absolute path on the server's machine (`canhgac-server backup` while the server runs; docs/operations.md).",
        roles: &["local administration token, on the loopback control listener only"],
        body: Body::Json(|| {
            json!({"type": "object", "required": ["dest"], "additionalProperties": false,
                "properties": {"dest": {"type": "string", "description": "absolute path; must not exist"}}})
        }),
        ok: (201, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "post",
        path: "/api/v1/systems",
        tag: "inventory",
        summary: "Register an information system (hệ thống thông tin).",
        roles: &["administrator", "agency_officer"],
        body: Body::Json(|| {
            json!({"type": "object", "required": ["name", "owner_agency", "operating_unit"], "additionalProperties": false,
                "properties": {"name": {"type": "string"}, "owner_agency": {"type": "string", "format": "uuid"},
                    "operating_unit": {"type": "string", "format": "uuid"},
                    "urls": {"type": "array", "items": {"type": "string"}},
                    "hosting": {"type": "string"}, "category": {"type": "string"},
                    "proposed_level": {"type": ["integer", "null"], "minimum": 1, "maximum": 5}}})
        }),
        ok: (201, "application/json", || schema("System")),
        query: &[],
    },
    Op {
        method: "get",
        path: "/api/v1/systems",
        tag: "inventory",
        summary: "Systems the caller sees, filtered, sorted and paged: {items, total, offset, limit, next_offset}.",
        roles: PEOPLE,
        body: Body::None,
        ok: (200, "application/json", || schema("Page")),
        query: &[
            (
                "agency",
                "An agency id: its systems and those of its sub-agencies (owner or operating unit).",
            ),
            (
                "level",
                "Level(s), comma-separated: the approved level, else the proposed one.",
            ),
            ("proposed_level", "Proposed level(s), comma-separated."),
            ("approved_level", "Approved level(s), comma-separated."),
            ("dossier_state", "The latest dossier's state(s), or none."),
            ("grade", "Compliance grade(s) A-F, or none."),
            ("status", "in_use or retired."),
            (
                "needs_redetermination",
                "true: systems flagged as needing a new dossier.",
            ),
            (
                "q",
                "Text in the name, URLs or decision, with or without diacritics.",
            ),
            (
                "sort",
                "name, created, level or grade; prefix - for descending.",
            ),
            ("limit", "Items per page (default 50, at most 500)."),
            ("offset", "Items to skip."),
        ],
    },
    Op {
        method: "get",
        path: "/api/v1/dossiers",
        tag: "dossiers",
        summary: "Dossiers the caller sees, filtered, sorted and paged; letter=2559/SCT-VP finds a dossier by its letter.",
        roles: PEOPLE,
        body: Body::None,
        ok: (200, "application/json", || schema("Page")),
        query: &[
            (
                "state",
                "State(s), comma-separated (draft, submitted, under_appraisal, needs_supplement, resubmitted, appraised, approved, rejected, withdrawn).",
            ),
            ("agency", "An agency id, with its sub-agencies."),
            ("system", "A system id."),
            ("level", "Proposed level(s), comma-separated."),
            ("overdue", "true or false."),
            (
                "letter",
                "A letter reference: number/symbol, e.g. 2559/SCT-VP.",
            ),
            ("q", "Text in the letters, with or without diacritics."),
            ("sort", "created, updated or due; prefix - for descending."),
            ("limit", "Items per page (default 50, at most 500)."),
            ("offset", "Items to skip."),
        ],
    },
    Op {
        method: "get",
        path: "/api/v1/systems/{id}",
        tag: "inventory",
        summary: "One system (404 outside the caller's scope).",
        roles: PEOPLE,
        body: Body::None,
        ok: (200, "application/json", || schema("System")),
        query: &[],
    },
    Op {
        method: "get",
        path: "/api/v1/systems/{id}/compliance",
        tag: "evidence",
        summary: "The system's latest evaluation against its level, as it reads now: status passing, failing, stale or retired; waived rules; freshness.",
        roles: PEOPLE,
        body: Body::None,
        ok: (200, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "patch",
        path: "/api/v1/systems/{id}",
        tag: "inventory",
        summary: "Edit a system (name, agencies, URLs, hosting, category, proposed level, status in_use/retired); an approved system whose level, hosting or scope changes is flagged needs_redetermination.",
        roles: &["administrator", "agency_officer"],
        body: Body::Json(|| {
            json!({"type": "object", "additionalProperties": false,
                "properties": {"name": {"type": "string"},
                    "owner_agency": {"type": "string", "format": "uuid"},
                    "operating_unit": {"type": "string", "format": "uuid"},
                    "urls": {"type": "array", "items": {"type": "string"}},
                    "hosting": {"type": "string"}, "category": {"type": "string"},
                    "proposed_level": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
                    "status": {"type": "string", "enum": ["in_use", "retired"]}}})
        }),
        ok: (200, "application/json", || schema("System")),
        query: &[],
    },
    Op {
        method: "post",
        path: "/api/v1/systems/{id}/waivers",
        tag: "evidence",
        summary: "Accept a failing rule for a while (appraisers, administrators): rule, reason, expires_on (after today, within 365 days).",
        roles: &["administrator", "appraiser"],
        body: Body::Json(|| {
            json!({"type": "object", "required": ["rule", "reason", "expires_on"], "additionalProperties": false,
                "properties": {"rule": {"type": "string"}, "reason": {"type": "string"},
                    "expires_on": {"type": "string", "format": "date"}}})
        }),
        ok: (201, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "get",
        path: "/api/v1/systems/{id}/waivers",
        tag: "evidence",
        summary: "The system's waivers (revoked and expired included), each with whether it counts today.",
        roles: PEOPLE,
        body: Body::None,
        ok: (200, "application/json", any_list),
        query: &[],
    },
    Op {
        method: "delete",
        path: "/api/v1/systems/{id}/waivers/{waiver_id}",
        tag: "evidence",
        summary: "Revoke a waiver (kept, with who revoked it and when).",
        roles: &["administrator", "appraiser"],
        body: Body::None,
        ok: (200, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "post",
        path: "/api/v1/systems/{id}/dossiers",
        tag: "dossiers",
        summary: "Open a draft level-proposal dossier (hồ sơ đề xuất cấp độ).",
        roles: &["administrator", "agency_officer"],
        body: Body::Json(|| {
            json!({"type": "object", "required": ["level"], "additionalProperties": false,
                "properties": {"level": {"type": "integer", "minimum": 1, "maximum": 5}}})
        }),
        ok: (201, "application/json", || schema("Dossier")),
        query: &[],
    },
    Op {
        method: "get",
        path: "/api/v1/dossiers/{id}",
        tag: "dossiers",
        summary: "A dossier with its state, deadline and the actions the caller may take.",
        roles: PEOPLE,
        body: Body::None,
        ok: (200, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "get",
        path: "/api/v1/dossiers/{id}/events",
        tag: "dossiers",
        summary: "The append-only audit trail of a dossier.",
        roles: PEOPLE,
        body: Body::None,
        ok: (200, "application/json", any_list),
        query: &[],
    },
    Op {
        method: "post",
        path: "/api/v1/dossiers/{id}/actions",
        tag: "dossiers",
        summary: "Apply one workflow action (submit, start_appraisal, request_supplement, resubmit, mark_appraised, approve, reject, withdraw, assign); illegal transitions are refused with 422.",
        roles: PEOPLE,
        body: Body::Json(|| schema("Action")),
        ok: (200, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "post",
        path: "/api/v1/dossiers/{id}/documents",
        tag: "dossiers",
        summary: "Upload a document (multipart/form-data: `kind`, `file`); the server computes size and SHA-256. Agency officers while draft or needs_supplement, appraisers (files of the open request) while needs_supplement; 409 in another state, 413 over max_document_bytes.",
        roles: &["agency_officer", "appraiser"],
        body: Body::Raw("multipart/form-data"),
        ok: (201, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "get",
        path: "/api/v1/dossiers/{id}/documents/{document_id}",
        tag: "dossiers",
        summary: "Download a document: re-hashed before sending (503 document_corrupt if it no longer matches), Content-Disposition with the UTF-8 name, ETag = SHA-256.",
        roles: PEOPLE,
        body: Body::None,
        ok: (200, "application/octet-stream", binary),
        query: &[],
    },
    // Spreadsheets (api/exchange.rs, docs/import-export.md).
    Op {
        method: "post",
        path: "/api/v1/import/inventory",
        tag: "inventory",
        summary: "Import systems from the officers' spreadsheet: a CSV (text/csv, UTF-8, comma or semicolon) or XLSX body. All or nothing unless skip_bad_rows; re-importing changes nothing. 200 {created, updated, unchanged, skipped, errors: [{row, column, value, code, message}]}, 422 with the same body when errors made it import nothing. Agency officers within their agency.",
        roles: &["administrator", "appraiser", "agency_officer"],
        body: Body::Raw("text/csv"),
        ok: (200, "application/json", any_object),
        query: &[
            (
                "agency",
                "The owner agency of rows without an owner column: id, short code or name (officers: default their own).",
            ),
            (
                "skip_bad_rows",
                "true: import the good rows and report the bad ones.",
            ),
            ("dry_run", "true: check and count, write nothing."),
        ],
    },
    Op {
        method: "get",
        path: "/api/v1/export/systems",
        tag: "inventory",
        summary: "The systems the caller may see, in the spreadsheet layout (plus approved level, decision, dossier state, grade, last scan), as CSV (UTF-8 with BOM) or XLSX; the filters of GET /api/v1/systems.",
        roles: PEOPLE,
        body: Body::None,
        ok: (200, "text/csv", binary),
        query: &[
            ("format", "csv (default) or xlsx."),
            (
                "agency",
                "An agency (id, short code or name) and its sub-agencies.",
            ),
            ("level", "Level in force, comma list of 1-5."),
            ("proposed_level", "Proposed level, comma list."),
            ("approved_level", "Approved level, comma list."),
            (
                "dossier_state",
                "State of the latest dossier, comma list, none for no dossier.",
            ),
            (
                "grade",
                "Compliance grade A-F, comma list, none for never evaluated.",
            ),
            ("status", "in_use or retired."),
            ("needs_redetermination", "true or false."),
            ("q", "Words of the name or URL."),
        ],
    },
    Op {
        method: "get",
        path: "/api/v1/reports/weekly",
        tag: "dossiers",
        summary: "The weekly dossier figures (units, dossiers, approved, awaiting_approval, needs_supplement, overdue, rejected, by agency, change) as JSON, the letter's paragraph as text, or an XLSX workbook. Staff: the province; agency officers: their agency and its sub-agencies.",
        roles: PEOPLE,
        body: Body::None,
        ok: (200, "application/json", any_object),
        query: &[
            (
                "week_end",
                "The last day of the week: yyyy-mm-dd or dd/mm/yyyy (default: today in Vietnam).",
            ),
            ("format", "json (default), text or xlsx."),
        ],
    },
    Op {
        method: "get",
        path: "/api/v1/calendar/{year}",
        tag: "calendar",
        summary: "A year's holiday calendar (1900-2199) from the server's pack with the stored official schedules applied: days_off (date, holiday_id, names, lunar date, kind, label_vi, official: from an official schedule), blocks, make_up_days, working_days, and the year's stored official record (null without one).",
        roles: ANYONE,
        body: Body::None,
        ok: (200, "application/json", || schema("YearCalendar")),
        query: &[],
    },
    Op {
        method: "get",
        path: "/api/v1/calendar/official",
        tag: "calendar",
        summary: "Every stored official holiday schedule, by year: year, toml (the year's [[schedule]] entries), imported_by, imported_at.",
        roles: ANYONE,
        body: Body::None,
        ok: (200, "application/json", any_list),
        query: &[],
    },
    Op {
        method: "put",
        path: "/api/v1/calendar/official",
        tag: "calendar",
        summary: "Store the government's official holiday schedule: the body is a TOML file of [[schedule]] entries (year, holiday, off = [{from, to}], working, note; one or more years; the syntax of the pack's calendar.toml, see docs/workflow.md). Each year in the file replaces the pack's schedules and any stored schedule of that year, from the next request on. Answers {years: [{year, had_official, days_off_before, days_off_after, added, removed, make_up_added, make_up_removed, working_days_before, working_days_after}]}; 422 invalid_calendar with the error's line and column when the file does not parse or validate (unknown holiday ids refused).",
        roles: ADMIN,
        body: Body::Raw("application/toml"),
        ok: (200, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "delete",
        path: "/api/v1/calendar/official/{year}",
        tag: "calendar",
        summary: "Remove a year's stored official schedule: the pack's data applies again. Answers what changed in the year (as one item of the PUT's years).",
        roles: ADMIN,
        body: Body::None,
        ok: (200, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "get",
        path: "/api/v1/alerts/preview",
        tag: "alerts",
        summary: "What a holiday reminder would send, without sending or queuing: the reminder (block, id, send_on), each agency's facts (failing systems critical first with remediation, expiries before the block's end plus the margin, spam/defacement findings, dossiers needing supplementation or overdue, silent agents) and the drafts (key, to, subject, text, html). 404 when no holiday block starts within a year.",
        roles: STAFF,
        body: Body::None,
        ok: (200, "application/json", any_object),
        query: &[
            (
                "holiday",
                "A day of the holiday block, or a day before it (yyyy-mm-dd).",
            ),
            ("agency", "Only this agency's letter (no province summary)."),
            (
                "reminder",
                "Which reminder: d14, w3... (default: the last one before the block).",
            ),
        ],
    },
    Op {
        method: "get",
        path: "/api/v1/alerts/outbox",
        tag: "alerts",
        summary: "The outgoing e-mail: counts by state (pending, sending, sent, failed) and the messages, newest first (key, category, to, subject, state, queued_at, attempts, next_attempt_at, last_error, done_at).",
        roles: STAFF,
        body: Body::None,
        ok: (200, "application/json", any_object),
        query: &[
            (
                "state",
                "Only messages in this state: pending, sending, sent or failed.",
            ),
            ("limit", "At most this many messages (default 200)."),
        ],
    },
    Op {
        method: "post",
        path: "/api/v1/alerts/outbox/retry",
        tag: "alerts",
        summary: "Send a failed message again: it goes back in the queue with its attempts reset. 409 when no failed message has this key.",
        roles: ADMIN,
        body: Body::Json(|| {
            json!({"type": "object", "required": ["key"], "additionalProperties": false,
                "properties": {"key": {"type": "string"}}})
        }),
        ok: (200, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "post",
        path: "/api/v1/alerts/outbox/retry-failed",
        tag: "alerts",
        summary: "Send every failed message again (after a relay outage): each goes back in the queue with its attempts reset. Answers {queued}.",
        roles: ADMIN,
        body: Body::None,
        ok: (200, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "get",
        path: "/api/v1/alerts/recommendations",
        tag: "alerts",
        summary: "The recommendations every holiday letter ends with ({text}; placeholders {ky_nghi}, {tu_ngay}, {den_ngay}, {co_quan}).",
        roles: STAFF,
        body: Body::None,
        ok: (200, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "put",
        path: "/api/v1/alerts/recommendations",
        tag: "alerts",
        summary: "Replace the recommendations template ({text}, at most 20,000 bytes; empty: the default text again). Answers the template in force.",
        roles: ADMIN,
        body: Body::Json(|| {
            json!({"type": "object", "required": ["text"], "additionalProperties": false,
                "properties": {"text": {"type": "string"}}})
        }),
        ok: (200, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "post",
        path: "/api/v1/enrollments",
        tag: "agents",
        summary: "Create a one-time agent enrollment token (cge_…, shown once) for an agency's network; expires_in_hours 1-168 (default 24); optional schedule overrides.",
        roles: ADMIN,
        body: Body::Json(|| {
            json!({"type": "object", "required": ["agency", "network"], "additionalProperties": false,
                "properties": {"agency": {"type": "string"}, "network": {"type": "string"},
                    "expires_in_hours": {"type": "integer", "minimum": 1, "maximum": 168},
                    "schedule": schema("ScheduleChange")}})
        }),
        ok: (201, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "get",
        path: "/api/v1/enrollments",
        tag: "agents",
        summary: "Every enrollment without its secret, with used and expired.",
        roles: ADMIN,
        body: Body::None,
        ok: (200, "application/json", any_list),
        query: &[],
    },
    Op {
        method: "post",
        path: "/api/v1/agents/enroll",
        tag: "agents",
        summary: "Exchange a one-time enrollment token for an agent account and its credential (cgk_…, shown once); 401 enrollment_invalid for an unknown, used or expired token; 429 throttled after repeated failures.",
        roles: PUBLIC,
        body: Body::Json(|| {
            json!({"type": "object", "required": ["token", "name", "hostname", "version"], "additionalProperties": false,
                "properties": {"token": {"type": "string"}, "name": {"type": "string"},
                    "hostname": {"type": "string"}, "version": {"type": "string"}}})
        }),
        ok: (201, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "post",
        path: "/api/v1/agent/checkin",
        tag: "agents",
        summary: "An enrolled agent reports its health and gets its schedule, its assigned targets and the pending scan-now targets (403 not_enrolled for agent accounts without enrollment).",
        roles: &["agent"],
        body: Body::Json(|| schema("Health")),
        ok: (200, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "get",
        path: "/api/v1/agents",
        tag: "agents",
        summary: "The agents (officers: of their agency subtree), with last_seen, silent, health, number of targets, schedule.",
        roles: PEOPLE,
        body: Body::None,
        ok: (200, "application/json", any_list),
        query: &[],
    },
    Op {
        method: "get",
        path: "/api/v1/agents/{id}",
        tag: "agents",
        summary: "One agent, with target_list.",
        roles: PEOPLE,
        body: Body::None,
        ok: (200, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "patch",
        path: "/api/v1/agents/{id}",
        tag: "agents",
        summary: "Change an agent's schedule (field by field) or name.",
        roles: ADMIN,
        body: Body::Json(|| {
            json!({"type": "object", "additionalProperties": false,
                "properties": {"name": {"type": "string"}, "schedule": schema("ScheduleChange")}})
        }),
        ok: (200, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "delete",
        path: "/api/v1/agents/{id}",
        tag: "agents",
        summary: "Revoke an agent: its account is disabled and its tokens revoked (401 on everything after).",
        roles: ADMIN,
        body: Body::None,
        ok: (204, "application/json", any_object),
        query: &[],
    },
    Op {
        method: "post",
        path: "/api/v1/systems/{id}/scan",
        tag: "agents",
        summary: "Scan now: every agent assigned to the system's targets gets them in its next check-in (202 with the agents and targets).",
        roles: PEOPLE,
        body: Body::None,
        ok: (202, "application/json", any_object),
        query: &[],
    },
];

fn components() -> Value {
    json!({
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "An API token (cgk_…), stored hashed on the server."},
            "session": {"type": "apiKey", "in": "cookie", "name": "canhgac_session", "description": "A browser session; mutating requests also need the X-CSRF-Token header."}
        },
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object",
                "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
            "Health": {"type": "object", "additionalProperties": false,
                "required": ["version", "last_scan_at", "spool_depth", "spool_bytes", "spool_capacity_bytes", "oldest_spooled_at", "rejected"],
                "properties": {"version": {"type": "string"}, "last_scan_at": {"type": ["string", "null"], "format": "date-time"},
                    "spool_depth": {"type": "integer"}, "spool_bytes": {"type": "integer"}, "spool_capacity_bytes": {"type": "integer"},
                    "oldest_spooled_at": {"type": ["string", "null"], "format": "date-time"}, "rejected": {"type": "integer"}}},
            "ScheduleChange": {"type": "object", "additionalProperties": false, "description": "Every field optional; window null removes it. See docs/agents.md.",
                "properties": {"interval_seconds": {"type": "integer"}, "jitter_seconds": {"type": "integer"},
                    "window": {"type": ["object", "null"], "properties": {"start": {"type": "string"}, "end": {"type": "string"}}},
                    "checkin_seconds": {"type": "integer"}, "concurrency": {"type": "integer"},
                    "per_host": {"type": "integer"}, "delay_ms": {"type": "integer"}}},
            "Role": {"type": "string", "enum": ["administrator", "appraiser", "approver", "agency_officer", "viewer", "agent"]},
            "ScanReport": {"type": "object", "required": ["schema_version", "id", "target"],
                "description": "A scan report, schema_version 1: see docs/report-schema.md."},
            "Page": {"type": "object", "required": ["items", "total", "offset", "limit"], "properties": {
                "items": {"type": "array", "items": {"type": "object"}}, "total": {"type": "integer"},
                "offset": {"type": "integer"}, "limit": {"type": "integer"},
                "next_offset": {"type": ["integer", "null"]}}},
            "Agency": {"type": "object", "required": ["id", "name", "short_code"]},
            "System": {"type": "object", "required": ["id", "name", "owner_agency", "operating_unit"]},
            "Dossier": {"type": "object", "required": ["id", "system", "state"]},
            "YearCalendar": {"type": "object", "required": ["year", "days_off", "blocks", "make_up_days", "working_days", "official"],
                "properties": {"year": {"type": "integer"},
                    "days_off": {"type": "array", "items": {"type": "object", "required": ["date", "holiday_id", "name_vi", "name_en", "kind", "label_vi", "official"],
                        "properties": {"date": {"type": "string", "format": "date"}, "holiday_id": {"type": "string"},
                            "name_vi": {"type": "string"}, "name_en": {"type": "string"},
                            "lunar": {"type": ["object", "null"]},
                            "kind": {"type": "string", "enum": ["statutory", "compensatory", "scheduled"]},
                            "label_vi": {"type": "string"}, "official": {"type": "boolean"}}}},
                    "blocks": {"type": "array", "items": {"type": "object"}},
                    "make_up_days": {"type": "array", "items": {"type": "object"}},
                    "working_days": {"type": "integer"},
                    "official": {"type": ["object", "null"]}}},
            "Action": {"type": "object", "required": ["action"], "properties": {"action": {"type": "string",
                "enum": ["submit", "start_appraisal", "request_supplement", "resubmit", "mark_appraised", "approve", "reject", "withdraw", "assign", "comment"]}},
                "description": "See docs/workflow.md for the fields of each action."}
        }
    })
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema("Error")}}})
}

fn operation(op: &Op) -> Value {
    let mut o = Map::new();
    o.insert("tags".into(), json!([op.tag]));
    o.insert("summary".into(), json!(op.summary));
    o.insert(
        "operationId".into(),
        json!(format!(
            "{}_{}",
            op.method,
            op.path
                .trim_start_matches("/api/v1/")
                .trim_start_matches('/')
                .replace(['/', '.'], "_")
                .replace(['{', '}'], "")
        )),
    );
    let roles = if op.roles.is_empty() {
        "Public.".to_string()
    } else {
        format!("Roles: {}.", op.roles.join(", "))
    };
    o.insert("description".into(), json!(roles));
    o.insert("x-roles".into(), json!(op.roles));
    if op.roles.is_empty() {
        o.insert("security".into(), json!([]));
    }
    let mut params: Vec<Value> = op
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    params.extend(op.query.iter().map(|(name, description)| {
        json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}})
    }));
    if !params.is_empty() {
        o.insert("parameters".into(), Value::Array(params));
    }
    match op.body {
        Body::None => {}
        Body::Json(s) => {
            o.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": s()}}}),
            );
        }
        Body::Raw(media) => {
            o.insert(
                "requestBody".into(),
                json!({"required": true, "content": {media: {"schema": binary()}}}),
            );
        }
    }
    let (status, media, s) = op.ok;
    let mut responses = Map::new();
    responses.insert(
        status.to_string(),
        json!({"description": "Success.", "content": {media: {"schema": s()}}}),
    );
    if !matches!(op.body, Body::None) {
        responses.insert(
            "400".into(),
            error_response("Bad JSON, unknown field or invalid value."),
        );
    }
    if !op.roles.is_empty() {
        responses.insert("401".into(), error_response("No valid token or session."));
        responses.insert(
            "403".into(),
            error_response("The caller's role may not do this (or a missing CSRF token)."),
        );
    }
    if op.path.contains('{') {
        responses.insert(
            "404".into(),
            error_response("Absent, or outside the caller's scope."),
        );
    }
    o.insert("responses".into(), Value::Object(responses));
    Value::Object(o)
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in OPS {
        let entry = paths
            .entry(op.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        entry
            .as_object_mut()
            .expect("a path item is an object")
            .insert(op.method.to_string(), operation(op));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "canhgac API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Systems, Decree 85/2016/NĐ-CP level-proposal dossiers and scan evidence of a province's agencies. Errors are JSON {\"error\": {\"code\", \"message\"}}. Every route checks the caller's role and agency scope on the server; see docs/access.md and docs/server.md."
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "tags": [
            {"name": "operations"}, {"name": "access"}, {"name": "inventory"},
            {"name": "dossiers"}, {"name": "evidence"}, {"name": "exchange"}, {"name": "agents"}, {"name": "calendar"}, {"name": "alerts"}
        ],
        "paths": paths,
        "components": components(),
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn serve() -> Json<Value> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// `(method, path)` of every `.route(...)` in the router's source.
    fn routed() -> BTreeSet<(String, String)> {
        let source = include_str!("mod.rs");
        let router = &source[source.find("Router::new()").expect("the router")..];
        let path = regex::Regex::new(r#"^\(\s*"([^"]+)""#).expect("regex");
        let method = regex::Regex::new(r"\b(get|post|put|patch|delete)\(").expect("regex");
        let mut out = BTreeSet::new();
        for chunk in router.split(".route").skip(1) {
            let chunk = chunk.split(".fallback").next().unwrap_or(chunk);
            let p = &path.captures(chunk).expect("a route path")[1];
            for m in method.captures_iter(chunk) {
                out.insert((m[1].to_string(), p.to_string()));
            }
        }
        out
    }

    #[test]
    fn the_document_lists_exactly_the_routes_of_the_router() {
        let documented: BTreeSet<(String, String)> = OPS
            .iter()
            .map(|o| (o.method.to_string(), o.path.to_string()))
            .collect();
        let routed = routed();
        assert!(
            routed.len() > 10,
            "the router's source was not understood: {routed:?}"
        );
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let phantom: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from the OpenAPI table: {undocumented:?}"
        );
        assert!(
            phantom.is_empty(),
            "documented routes the router lacks: {phantom:?}"
        );
    }

    #[test]
    fn every_operation_is_well_formed() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut ids = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap().to_string();
                assert!(ids.insert(id.clone()), "duplicate operationId {id}");
                assert!(
                    op["responses"]
                        .as_object()
                        .unwrap()
                        .keys()
                        .any(|k| k.starts_with('2')),
                    "{method} {path}"
                );
                let params = path.matches('{').count();
                let declared = op["parameters"]
                    .as_array()
                    .map(|p| p.iter().filter(|p| p["in"] == "path").count())
                    .unwrap_or(0);
                assert_eq!(params, declared, "{method} {path}");
            }
        }
        let text = doc.to_string();
        for r in text.match_indices("#/components/schemas/") {
            let name: String = text[r.0 + 21..]
                .chars()
                .take_while(|c| c.is_alphanumeric())
                .collect();
            assert!(
                doc["components"]["schemas"].get(&name).is_some(),
                "dangling $ref {name}"
            );
        }
    }
}
