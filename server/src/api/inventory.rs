//! Agencies, accounts and information systems. Agency officers see and edit only their agency
//! and its sub-agencies; anything outside their scope is answered 404, as if absent.
//!
//! Systems and agencies are edited with `PATCH`; an edit of an approved system that bears on
//! its level raises `needs_redetermination` (`System::revise`). Agencies merged away
//! (`POST /agencies/{id}/merge`) hand their systems, sub-agencies and accounts to the agency
//! they merge into in one atomic batch and stay, retired, for history. Every edit and merge
//! leaves an `InventoryEvent` (`crate::changes`).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use super::{ApiError, AppState, PEOPLE, Principal, blocking};
use crate::auth;
use crate::model::{
    Agency, AgencyId, AgencyTree, Email, Level, Role, System, SystemId, SystemStatus,
};
use crate::repo;
use crate::store::{Batch, Store, StoreError, Table};

/// The agency tree as the read index holds it (shared, nothing decoded): what request handlers
/// use. Call it off the async threads (it may rebuild a stale index).
pub fn indexed_tree(
    store: &dyn Store,
    index: &crate::index::Index,
) -> Result<std::sync::Arc<AgencyTree>, StoreError> {
    Ok(index.read(store)?.agencies.tree())
}

/// Every agency, as a tree, decoded from the store.
pub fn tree(store: &dyn Store) -> Result<AgencyTree, StoreError> {
    let agencies: Vec<Agency> = repo::list(store, Table::Agencies, "", usize::MAX)?;
    Ok(AgencyTree::new(&agencies))
}

/// Whether the caller may see things of `agency` (staff: everything; officers: their subtree).
pub fn sees(principal: &Principal, tree: &AgencyTree, agency: AgencyId) -> bool {
    match principal.account.role {
        Role::AgencyOfficer => principal
            .account
            .user()
            .agency
            .is_some_and(|own| tree.is_within(agency, own)),
        Role::Agent => false,
        _ => true,
    }
}

/// Whether the caller may see a system.
pub fn sees_system(principal: &Principal, tree: &AgencyTree, system: &System) -> bool {
    sees(principal, tree, system.operating_unit) || sees(principal, tree, system.owner_agency)
}

fn new_id_seed(now: Timestamp, text: &str) -> Vec<u8> {
    let mut seed = text.as_bytes().to_vec();
    seed.extend_from_slice(&rand::random::<[u8; 16]>());
    let _ = now;
    seed
}

/// New agency.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAgency {
    name: String,
    short_code: String,
    parent: Option<AgencyId>,
    #[serde(default)]
    contacts: Vec<Email>,
}

/// `POST /api/v1/agencies` (administrator).
pub async fn create_agency(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Json<NewAgency>, JsonRejection>,
) -> Result<(StatusCode, Json<Agency>), ApiError> {
    principal.require(&[Role::Administrator])?;
    let Json(new) = body?;
    if new.name.trim().is_empty() || new.short_code.trim().is_empty() {
        return Err(ApiError::invalid("name and short_code are required"));
    }
    let now = Timestamp::now();
    let agency = Agency {
        id: AgencyId::derived(now, &new_id_seed(now, &new.name)),
        name: new.name.trim().to_string(),
        short_code: new.short_code.trim().to_string(),
        parent: new.parent,
        contacts: new.contacts,
        retired: false,
        merged_into: None,
    };
    let store = state.store.clone();
    let saved = agency.clone();
    blocking(move || {
        if let Some(parent) = saved.parent {
            match repo::get::<Agency>(store.as_ref(), Table::Agencies, &parent.to_string())? {
                None => {
                    return Ok(Err(ApiError::invalid(format!(
                        "parent agency {parent} does not exist"
                    ))));
                }
                Some(p) if p.merged_into.is_some() => {
                    return Ok(Err(ApiError::invalid(format!(
                        "parent agency {parent} was merged away"
                    ))));
                }
                Some(_) => {}
            }
        }
        let key = saved.id.to_string();
        store.apply(Batch::new().if_absent(Table::Agencies, key.as_bytes()).put(
            Table::Agencies,
            key,
            repo::json(&saved),
        ))?;
        Ok(Ok(()))
    })
    .await??;
    Ok((StatusCode::CREATED, Json(agency)))
}

/// Query of the agency list.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgencyListQuery {
    /// Also list agencies merged away (hidden by default).
    #[serde(default)]
    include_merged: bool,
}

/// `GET /api/v1/agencies?include_merged=` (people): the agencies the caller may see, without
/// those merged away unless asked.
pub async fn list_agencies(
    State(state): State<AppState>,
    principal: Principal,
    query: Result<Query<AgencyListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Agency>>, ApiError> {
    principal.require(PEOPLE)?;
    let Query(query) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let (store, index) = (state.store.clone(), state.index.clone());
    let tree = blocking(move || indexed_tree(store.as_ref(), &index)).await?;
    let mut out: Vec<Agency> = Vec::new();
    let store = state.store.clone();
    let all: Vec<Agency> =
        blocking(move || repo::list(store.as_ref(), Table::Agencies, "", usize::MAX)).await?;
    for a in all {
        if sees(&principal, &tree, a.id) && (query.include_merged || a.merged_into.is_none()) {
            out.push(a);
        }
    }
    Ok(Json(out))
}

/// New account.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    login: String,
    display_name: String,
    role: Role,
    agency: Option<AgencyId>,
    password: Option<String>,
}

/// `POST /api/v1/users` (administrator): creates an account (the password is never echoed).
pub async fn create_user(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Json<NewUser>, JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    principal.require(&[Role::Administrator])?;
    let Json(new) = body?;
    let store = state.store.clone();
    let account = blocking(move || {
        if let Some(a) = new.agency
            && repo::get::<Agency>(store.as_ref(), Table::Agencies, &a.to_string())?.is_none()
        {
            return Ok(Err(ApiError::invalid(format!("agency {a} does not exist"))));
        }
        Ok(auth::add_account(
            store.as_ref(),
            &new.login,
            &new.display_name,
            new.role,
            new.agency.map(|a| a.to_string()),
            new.password.as_deref(),
            Timestamp::now(),
        )
        .map_err(|e| match e {
            auth::AuthError::Exists(l) => {
                ApiError::conflict(format!("the account {l} exists already"))
            }
            auth::AuthError::Store(s) => ApiError::from(s),
            other => ApiError::invalid(other.to_string()),
        }))
    })
    .await??;
    Ok((
        StatusCode::CREATED,
        Json(
            serde_json::json!({"id": account.id, "login": account.login, "role": account.role, "agency": account.agency}),
        ),
    ))
}

/// New system.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSystem {
    name: String,
    owner_agency: AgencyId,
    operating_unit: AgencyId,
    #[serde(default)]
    urls: Vec<String>,
    #[serde(default)]
    hosting: String,
    #[serde(default)]
    category: String,
    proposed_level: Option<Level>,
}

/// `POST /api/v1/systems` (administrator; agency officers for their own units).
pub async fn create_system(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Json<NewSystem>, JsonRejection>,
) -> Result<(StatusCode, Json<System>), ApiError> {
    principal.require(&[Role::Administrator, Role::AgencyOfficer])?;
    let Json(new) = body?;
    if new.name.trim().is_empty() {
        return Err(ApiError::invalid("name is required"));
    }
    let now = Timestamp::now();
    let system = System {
        id: SystemId::derived(now, &new_id_seed(now, &new.name)),
        name: new.name.trim().to_string(),
        owner_agency: new.owner_agency,
        operating_unit: new.operating_unit,
        urls: new.urls,
        hosting: new.hosting,
        category: new.category,
        proposed_level: new.proposed_level,
        approved: None,
        status: SystemStatus::InUse,
        needs_redetermination: false,
    };
    let store = state.store.clone();
    let saved = system.clone();
    blocking(move || {
        let tree = tree(store.as_ref())?;
        for a in [saved.owner_agency, saved.operating_unit] {
            match tree.get(a) {
                None => {
                    return Ok(Err(ApiError::invalid(format!("agency {a} does not exist"))));
                }
                Some(agency) if agency.merged_into.is_some() => {
                    return Ok(Err(ApiError::invalid(format!(
                        "agency {a} was merged away: use the agency it was merged into"
                    ))));
                }
                Some(_) => {}
            }
        }
        if !sees(&principal, &tree, saved.operating_unit) {
            return Ok(Err(ApiError::forbidden()));
        }
        let key = saved.id.to_string();
        store.apply(Batch::new().if_absent(Table::Systems, key.as_bytes()).put(
            Table::Systems,
            key,
            repo::json(&saved),
        ))?;
        Ok(Ok(()))
    })
    .await??;
    Ok((StatusCode::CREATED, Json(system)))
}

/// Loads a system the caller may see, or 404.
pub async fn visible_system(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<(System, std::sync::Arc<AgencyTree>), ApiError> {
    let (store, index) = (state.store.clone(), state.index.clone());
    let id = id.to_string();
    let (system, tree) = blocking(move || {
        Ok::<_, StoreError>((
            repo::get::<System>(store.as_ref(), Table::Systems, &id)?,
            indexed_tree(store.as_ref(), &index)?,
        ))
    })
    .await?;
    match system {
        Some(s) if sees_system(principal, &tree, &s) => Ok((s, tree)),
        _ => Err(ApiError::not_found("system")),
    }
}

/// `GET /api/v1/systems/{id}` (people, within scope).
pub async fn get_system(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<System>, ApiError> {
    principal.require(PEOPLE)?;
    let (system, _) = visible_system(&state, &principal, &id).await?;
    Ok(Json(system))
}

/// `GET /api/v1/systems/{id}/compliance` (people, within scope): the latest evaluation of the
/// system against its level as it reads now (today's waivers, the freshness window), or 404
/// when no report concerns it yet.
pub async fn get_compliance(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<crate::compliance::ComplianceView>, ApiError> {
    let (_, view, _) = system_compliance(&state, &principal, &id).await?;
    let view =
        view.ok_or_else(|| ApiError::not_found("compliance (no report for this system yet)"))?;
    Ok(Json(view))
}

/// A system the caller may see (people only; 404 outside their scope), its compliance as it
/// reads now (`None`: no report concerns it yet) and every waiver it has (valid or not,
/// oldest first): what `GET .../compliance` answers, and what the system page shows.
pub(crate) async fn system_compliance(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<
    (
        System,
        Option<crate::compliance::ComplianceView>,
        Vec<crate::waivers::Waiver>,
    ),
    ApiError,
> {
    principal.require(PEOPLE)?;
    let (system, _) = visible_system(state, principal, id).await?;
    let store = state.store.clone();
    let key = system.id.to_string();
    let (summary, waivers) = blocking(move || {
        Ok::<_, StoreError>((
            repo::get::<crate::compliance::Compliance>(store.as_ref(), Table::Compliance, &key)?,
            crate::waivers::of_system(store.as_ref(), &key)?,
        ))
    })
    .await?;
    let view = summary.map(|summary| {
        crate::compliance::view(
            &state.pack(),
            &system,
            &summary,
            &waivers,
            crate::clock::now(),
        )
    });
    Ok((system, view, waivers))
}

/// Why a system's level must be determined again: the edit that raised
/// `needs_redetermination` (who, when, and the fields it changed among those the level rests
/// on: `hosting`, `urls`, `category`, `proposed_level`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RedeterminationCause {
    /// Who edited (login).
    pub actor: String,
    /// When.
    pub at: Timestamp,
    /// The fields changed, with their value before and after (as shown to people).
    pub changes: Vec<(&'static str, String, String)>,
}

/// The cause of `system.needs_redetermination`, read from the inventory audit trail (the
/// latest edit that raised the flag); `None` when the flag is down or no such edit is
/// recorded. Call it only for a system the caller may see.
pub(crate) fn redetermination_cause(
    store: &dyn Store,
    system: &System,
) -> Result<Option<RedeterminationCause>, StoreError> {
    if !system.needs_redetermination {
        return Ok(None);
    }
    let events: Vec<crate::changes::InventoryEvent> = repo::list(
        store,
        Table::InventoryEvents,
        &format!("system:{}/", system.id),
        usize::MAX,
    )?;
    Ok(events.iter().rev().find_map(raised_by))
}

/// The cause, when `event` is an edit that raised `needs_redetermination`.
fn raised_by(event: &crate::changes::InventoryEvent) -> Option<RedeterminationCause> {
    if event.action != "system_edited" {
        return None;
    }
    let before: System = serde_json::from_value(event.details.get("before")?.clone()).ok()?;
    let after: System = serde_json::from_value(event.details.get("after")?.clone()).ok()?;
    if before.needs_redetermination || !after.needs_redetermination {
        return None;
    }
    let level = |l: Option<Level>| l.map_or_else(|| "—".to_string(), |l| l.get().to_string());
    let mut changes = Vec::new();
    if before.hosting.trim() != after.hosting.trim() {
        changes.push(("hosting", before.hosting.clone(), after.hosting.clone()));
    }
    if before.urls != after.urls {
        changes.push(("urls", before.urls.join(", "), after.urls.join(", ")));
    }
    if before.category.trim() != after.category.trim() {
        changes.push(("category", before.category.clone(), after.category.clone()));
    }
    if before.proposed_level != after.proposed_level {
        changes.push((
            "proposed_level",
            level(before.proposed_level),
            level(after.proposed_level),
        ));
    }
    Some(RedeterminationCause {
        actor: event.actor.clone(),
        at: event.at,
        changes,
    })
}

/// `Some(value)` for any value present, `null` included: with `#[serde(default)]`, tells an
/// absent field (`None`) from `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// The stored bytes of a record, provided it still decodes to `expected` (else a conflict):
/// the guard of an optimistic update.
fn unchanged<T: for<'de> Deserialize<'de> + PartialEq>(
    store: &dyn Store,
    table: Table,
    key: &str,
    expected: &T,
) -> Result<Vec<u8>, StoreError> {
    let raw = store
        .get(table, key.as_bytes())?
        .ok_or_else(|| StoreError::Conflict(format!("{} {key} disappeared", table.name())))?;
    let current: T = serde_json::from_slice(&raw)
        .map_err(|e| StoreError::Corrupt(format!("{} {key}: {e}", table.name())))?;
    if &current != expected {
        return Err(StoreError::Conflict(format!(
            "{} {key} changed meanwhile",
            table.name()
        )));
    }
    Ok(raw)
}

/// Fields of a system that only the dossier workflow sets.
const WORKFLOW_FIELDS: &[&str] = &["id", "approved", "needs_redetermination"];

/// An edit of a system: only the fields given change.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemPatch {
    name: Option<String>,
    owner_agency: Option<AgencyId>,
    operating_unit: Option<AgencyId>,
    urls: Option<Vec<String>>,
    hosting: Option<String>,
    category: Option<String>,
    #[serde(default, deserialize_with = "present")]
    proposed_level: Option<Option<Level>>,
    status: Option<SystemStatus>,
}

/// Refuses fields a PATCH may not set, then decodes the rest.
fn patch_body<T: for<'de> Deserialize<'de>>(
    body: Result<Json<Value>, JsonRejection>,
    forbidden: &[&str],
) -> Result<T, ApiError> {
    let Json(value) = body?;
    let Some(fields) = value.as_object() else {
        return Err(ApiError::invalid("the body must be a JSON object"));
    };
    if let Some(f) = forbidden.iter().find(|f| fields.contains_key(**f)) {
        return Err(ApiError::invalid(format!(
            "{f} cannot be edited: it is set by the dossier workflow or the server"
        )));
    }
    if fields.is_empty() {
        return Err(ApiError::invalid("nothing to change"));
    }
    serde_json::from_value(value).map_err(|e| ApiError::invalid(e.to_string()))
}

/// Checks an agency a record may be attached to: it exists, is not merged away, and the caller
/// sees it.
fn attachable(
    principal: &Principal,
    tree: &AgencyTree,
    id: AgencyId,
    what: &str,
) -> Result<(), ApiError> {
    match tree.get(id) {
        None => Err(ApiError::invalid(format!("{what} {id} does not exist"))),
        Some(a) if a.merged_into.is_some() => Err(ApiError::invalid(format!(
            "{what} {id} was merged into {}",
            a.merged_into.map(|m| m.to_string()).unwrap_or_default()
        ))),
        Some(_) if !sees(principal, tree, id) => Err(ApiError::forbidden()),
        Some(_) => Ok(()),
    }
}

/// `PATCH /api/v1/systems/{id}` (administrator; agency officers within their scope): edits a
/// system's name, agencies, URLs, hosting, category, proposed level or status (`in_use`,
/// `retired`). The approval and `needs_redetermination` are the workflow's: refused here. An
/// edit of an approved system's hosting, URLs, category or level raises
/// `needs_redetermination`.
pub async fn patch_system(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<System>, ApiError> {
    principal.require(&[Role::Administrator, Role::AgencyOfficer])?;
    let (system, tree) = visible_system(&state, &principal, &id).await?;
    let patch: SystemPatch = patch_body(body, WORKFLOW_FIELDS)?;
    let mut edited = system.clone();
    if let Some(name) = &patch.name {
        if name.trim().is_empty() {
            return Err(ApiError::invalid("name cannot be empty"));
        }
        edited.name = name.trim().to_string();
    }
    if let Some(a) = patch.owner_agency {
        if a != system.owner_agency {
            attachable(&principal, &tree, a, "owner_agency")?;
        }
        edited.owner_agency = a;
    }
    if let Some(a) = patch.operating_unit {
        if a != system.operating_unit {
            attachable(&principal, &tree, a, "operating_unit")?;
        }
        edited.operating_unit = a;
    }
    if let Some(urls) = patch.urls {
        edited.urls = urls.iter().map(|u| u.trim().to_string()).collect();
    }
    if let Some(h) = patch.hosting {
        edited.hosting = h.trim().to_string();
    }
    if let Some(c) = patch.category {
        edited.category = c.trim().to_string();
    }
    if let Some(l) = patch.proposed_level {
        edited.proposed_level = l;
    }
    if let Some(st) = patch.status {
        edited.status = st;
    }
    let next = system.revise(edited);
    if next == system {
        return Ok(Json(system));
    }
    let action = if next.status == SystemStatus::Retired && system.status != SystemStatus::Retired {
        "system_retired"
    } else {
        "system_edited"
    };
    let event = crate::changes::InventoryEvent::new(
        format!("system:{}", system.id),
        crate::clock::now(),
        &principal.account,
        action,
        json!({"before": system, "after": next}),
    );
    let store = state.store.clone();
    let (old, saved) = (system.clone(), next.clone());
    blocking(move || {
        let key = saved.id.to_string();
        let raw = unchanged(store.as_ref(), Table::Systems, &key, &old)?;
        let batch = Batch::new()
            .if_equals(Table::Systems, key.as_bytes(), raw)
            .put(Table::Systems, key, repo::json(&saved));
        store.apply(event.append_to(batch)).map_err(|e| match e {
            StoreError::Conflict(_) => {
                StoreError::Conflict("the system changed meanwhile: read it again and retry".into())
            }
            other => other,
        })
    })
    .await?;
    Ok(Json(next))
}

/// An edit of an agency: only the fields given change.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgencyPatch {
    name: Option<String>,
    short_code: Option<String>,
    contacts: Option<Vec<Email>>,
    #[serde(default, deserialize_with = "present")]
    parent: Option<Option<AgencyId>>,
}

/// Loads an agency the caller may see, with the tree, or 404.
async fn visible_agency(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<(Agency, std::sync::Arc<AgencyTree>), ApiError> {
    let id: AgencyId = id.parse().map_err(|_| ApiError::not_found("agency"))?;
    let (store, index) = (state.store.clone(), state.index.clone());
    let tree = blocking(move || indexed_tree(store.as_ref(), &index)).await?;
    match tree.get(id) {
        Some(a) if sees(principal, &tree, id) => Ok((a.clone(), tree)),
        _ => Err(ApiError::not_found("agency")),
    }
}

/// `PATCH /api/v1/agencies/{id}` (administrator; agency officers within their scope, except
/// the parent): edits the name, short code, contacts or parent (no cycles). Agencies merged
/// away cannot be edited.
pub async fn patch_agency(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Agency>, ApiError> {
    principal.require(&[Role::Administrator, Role::AgencyOfficer])?;
    let (agency, tree) = visible_agency(&state, &principal, &id).await?;
    let patch: AgencyPatch = patch_body(body, &["id", "retired", "merged_into"])?;
    if let Some(into) = agency.merged_into {
        return Err(ApiError::conflict(format!(
            "this agency was merged into {into}: edit that one"
        )));
    }
    let mut next = agency.clone();
    if let Some(name) = &patch.name {
        if name.trim().is_empty() {
            return Err(ApiError::invalid("name cannot be empty"));
        }
        next.name = name.trim().to_string();
    }
    if let Some(code) = &patch.short_code {
        if code.trim().is_empty() {
            return Err(ApiError::invalid("short_code cannot be empty"));
        }
        next.short_code = code.trim().to_string();
    }
    if let Some(contacts) = patch.contacts {
        next.contacts = contacts;
    }
    if let Some(parent) = patch.parent
        && parent != agency.parent
    {
        if principal.account.role != Role::Administrator {
            return Err(ApiError::forbidden());
        }
        if let Some(p) = parent {
            attachable(&principal, &tree, p, "parent")?;
            if tree.would_cycle(agency.id, p) {
                return Err(ApiError::invalid(format!(
                    "đơn vị {p} là chính nó hoặc đơn vị trực thuộc của nó: không thể làm đơn vị cấp trên (the parent would make a cycle)"
                )));
            }
        }
        next.parent = parent;
    }
    if next == agency {
        return Ok(Json(agency));
    }
    let event = crate::changes::InventoryEvent::new(
        format!("agency:{}", agency.id),
        crate::clock::now(),
        &principal.account,
        "agency_edited",
        json!({"before": agency, "after": next}),
    );
    let store = state.store.clone();
    let (old, saved) = (agency.clone(), next.clone());
    blocking(move || {
        let key = saved.id.to_string();
        let raw = unchanged(store.as_ref(), Table::Agencies, &key, &old)?;
        let batch = Batch::new()
            .if_equals(Table::Agencies, key.as_bytes(), raw)
            .put(Table::Agencies, key, repo::json(&saved));
        store.apply(event.append_to(batch)).map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict(
                "the agencies changed meanwhile: read them again and retry".into(),
            ),
            other => other,
        })
    })
    .await?;
    Ok(Json(next))
}

/// A merge request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    into: AgencyId,
}

/// `POST /api/v1/agencies/{id}/merge` (administrator): moves the agency's systems (as owner
/// or operating unit), sub-agencies and accounts to `into` and marks it merged (retired,
/// `merged_into`), all in one atomic batch with an audit record.
pub async fn merge_agency(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Result<Json<MergeRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    principal.require(&[Role::Administrator])?;
    let (agency, tree) = visible_agency(&state, &principal, &id).await?;
    let Json(request) = body?;
    let into = request.into;
    if into == agency.id {
        return Err(ApiError::invalid("an agency cannot be merged into itself"));
    }
    if let Some(m) = agency.merged_into {
        return Err(ApiError::conflict(format!(
            "this agency was already merged into {m}"
        )));
    }
    attachable(&principal, &tree, into, "into")?;
    if tree.would_cycle(agency.id, into) {
        return Err(ApiError::invalid(
            "into is a sub-agency of the agency merged away: merge it the other way round, or move it first",
        ));
    }
    let now = crate::clock::now();
    let store = state.store.clone();
    let account = principal.account.clone();
    let answer = blocking(move || -> Result<Value, StoreError> {
        let from = agency.id;
        let mut batch = Batch::new();
        let mut systems_moved = Vec::new();
        for (key, raw) in store.scan(Table::Systems, b"", None, usize::MAX)? {
            let system: System = serde_json::from_slice(&raw)
                .map_err(|e| StoreError::Corrupt(format!("systems: {e}")))?;
            if system.owner_agency != from && system.operating_unit != from {
                continue;
            }
            let mut moved = system.clone();
            if moved.owner_agency == from {
                moved.owner_agency = into;
            }
            if moved.operating_unit == from {
                moved.operating_unit = into;
            }
            batch = batch.if_equals(Table::Systems, key.clone(), raw).put(
                Table::Systems,
                key,
                repo::json(&moved),
            );
            systems_moved.push(system.id.to_string());
        }
        let mut agencies_moved = Vec::new();
        for (key, raw) in store.scan(Table::Agencies, b"", None, usize::MAX)? {
            let child: Agency = serde_json::from_slice(&raw)
                .map_err(|e| StoreError::Corrupt(format!("agencies: {e}")))?;
            if child.parent != Some(from) {
                continue;
            }
            let moved = Agency {
                parent: Some(into),
                ..child.clone()
            };
            batch = batch.if_equals(Table::Agencies, key.clone(), raw).put(
                Table::Agencies,
                key,
                repo::json(&moved),
            );
            agencies_moved.push(child.id.to_string());
        }
        let mut accounts_moved = Vec::new();
        let from_text = from.to_string();
        for (key, raw) in store.scan(Table::Users, b"", None, usize::MAX)? {
            let mut value: Value = serde_json::from_slice(&raw)
                .map_err(|e| StoreError::Corrupt(format!("users: {e}")))?;
            if value.get("agency").and_then(Value::as_str) != Some(from_text.as_str()) {
                continue;
            }
            value["agency"] = Value::String(into.to_string());
            accounts_moved.push(String::from_utf8_lossy(&key).into_owned());
            batch = batch.if_equals(Table::Users, key.clone(), raw).put(
                Table::Users,
                key,
                repo::json(&value),
            );
        }
        let merged = Agency {
            retired: true,
            merged_into: Some(into),
            ..agency.clone()
        };
        let into_key = into.to_string();
        let Some(into_raw) = store.get(Table::Agencies, into_key.as_bytes())? else {
            return Err(StoreError::Conflict("into disappeared meanwhile".into()));
        };
        let details = json!({
            "into": into,
            "systems": systems_moved,
            "agencies": agencies_moved,
            "accounts": accounts_moved,
        });
        let event = crate::changes::InventoryEvent::new(
            format!("agency:{from}"),
            now,
            &account,
            "agency_merged",
            details.clone(),
        );
        let from_raw = unchanged(store.as_ref(), Table::Agencies, &from_text, &agency)?;
        batch = batch
            .if_equals(Table::Agencies, from_text.as_bytes(), from_raw)
            .if_equals(Table::Agencies, into_key.as_bytes(), into_raw)
            .put(Table::Agencies, from_text.as_bytes(), repo::json(&merged));
        store.apply(event.append_to(batch)).map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict(
                "the inventory changed during the merge; nothing was written: retry".into(),
            ),
            other => other,
        })?;
        Ok(json!({"agency": merged, "moved": details, "event": event.id}))
    })
    .await?;
    Ok(Json(answer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::{agency, system};

    fn edit(before: &System, after: &System) -> crate::changes::InventoryEvent {
        crate::changes::InventoryEvent {
            id: "0193aaaa-5b7a-7cc0-9a8e-3a5c1f1d2e3f".into(),
            subject: format!("system:{}", before.id),
            at: "2026-11-20T02:00:00Z".parse().unwrap(),
            actor: "canbo".into(),
            role: Role::AgencyOfficer,
            action: "system_edited".into(),
            details: json!({"before": before, "after": after}),
        }
    }

    #[test]
    fn the_edit_that_raised_the_flag_is_its_cause() {
        let a = agency(1, "Sở Công Thương", None);
        let before = system(1, a.id, a.id, 2);
        let moved = System {
            hosting: "Máy chủ thuê ngoài".into(),
            name: "Tên mới".into(),
            needs_redetermination: true,
            ..before.clone()
        };
        let cause = raised_by(&edit(&before, &moved)).expect("the flag went up");
        assert_eq!(cause.actor, "canbo");
        assert_eq!(
            cause.changes,
            vec![(
                "hosting",
                before.hosting.clone(),
                "Máy chủ thuê ngoài".to_string()
            )],
            "the name is not a cause"
        );
        // An edit that left the flag as it was, or another action, is not the cause.
        assert!(raised_by(&edit(&moved, &moved)).is_none());
        assert!(raised_by(&edit(&before, &before)).is_none());
        let mut waiver = edit(&before, &moved);
        waiver.action = "waiver_granted".into();
        assert!(raised_by(&waiver).is_none());
    }
}
