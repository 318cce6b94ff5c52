//! Agencies, accounts and information systems. Agency officers see and edit only their agency
//! and its sub-agencies; anything outside their scope is answered 404, as if absent.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::Deserialize;

use super::{ApiError, AppState, PEOPLE, Principal, blocking};
use crate::auth;
use crate::model::{
    Agency, AgencyId, AgencyTree, Email, Level, Role, System, SystemId, SystemStatus,
};
use crate::repo;
use crate::store::{Batch, Store, StoreError, Table};

/// Every agency, as a tree.
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
    };
    let store = state.store.clone();
    let saved = agency.clone();
    blocking(move || {
        if let Some(parent) = saved.parent
            && repo::get::<Agency>(store.as_ref(), Table::Agencies, &parent.to_string())?.is_none()
        {
            return Ok(Err(ApiError::invalid(format!(
                "parent agency {parent} does not exist"
            ))));
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

/// `GET /api/v1/agencies` (people): the agencies the caller may see.
pub async fn list_agencies(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<Agency>>, ApiError> {
    principal.require(PEOPLE)?;
    let store = state.store.clone();
    let tree = blocking(move || tree(store.as_ref())).await?;
    let mut out: Vec<Agency> = Vec::new();
    let store = state.store.clone();
    let all: Vec<Agency> =
        blocking(move || repo::list(store.as_ref(), Table::Agencies, "", usize::MAX)).await?;
    for a in all {
        if sees(&principal, &tree, a.id) {
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
            if tree.get(a).is_none() {
                return Ok(Err(ApiError::invalid(format!("agency {a} does not exist"))));
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

/// `GET /api/v1/systems` (people): the systems the caller may see.
pub async fn list_systems(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<System>>, ApiError> {
    principal.require(PEOPLE)?;
    let store = state.store.clone();
    let (tree, systems) = blocking(move || {
        Ok::<_, StoreError>((
            tree(store.as_ref())?,
            repo::list::<System>(store.as_ref(), Table::Systems, "", usize::MAX)?,
        ))
    })
    .await?;
    Ok(Json(
        systems
            .into_iter()
            .filter(|s| sees_system(&principal, &tree, s))
            .collect(),
    ))
}

/// Loads a system the caller may see, or 404.
pub async fn visible_system(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<(System, AgencyTree), ApiError> {
    let store = state.store.clone();
    let id = id.to_string();
    let (system, tree) = blocking(move || {
        Ok::<_, StoreError>((
            repo::get::<System>(store.as_ref(), Table::Systems, &id)?,
            tree(store.as_ref())?,
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
/// system against its level, or 404 when no report concerns it yet.
pub async fn get_compliance(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<crate::compliance::Compliance>, ApiError> {
    principal.require(PEOPLE)?;
    let (system, _) = visible_system(&state, &principal, &id).await?;
    let store = state.store.clone();
    let key = system.id.to_string();
    blocking(move || repo::get(store.as_ref(), Table::Compliance, &key))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("compliance (no report for this system yet)"))
}
