//! Agents over the API (`crate::agents`, docs/agents.md):
//!
//! - `POST /api/v1/enrollments` (administrator) `{agency, network, expires_in_hours?, schedule?}`:
//!   201 `{id, token, agency, network, expires_at}`, the `cge_` secret shown this once.
//! - `GET /api/v1/enrollments` (administrator): every enrollment, without secrets, with
//!   `used` and `expired`.
//! - `POST /api/v1/agents/enroll` (public: the one-time token is the credential)
//!   `{token, name, hostname, version}`: 201 `{agent_id, login, credential, agency, network}`;
//!   401 `enrollment_invalid` for an unknown, used or expired token; 429 `throttled` after
//!   repeated failures from one client address.
//! - `POST /api/v1/agent/checkin` (enrolled agents) with its health: 200 `{agent_id,
//!   server_time, schedule, targets, scan_now}`.
//! - `GET /api/v1/agents`, `GET /api/v1/agents/{id}` (people; officers: agents of their
//!   subtree, others 404); `PATCH` and `DELETE /api/v1/agents/{id}` (administrator).
//! - `POST /api/v1/systems/{id}/scan` (people in scope): 202 `{agents, targets}`.
//!
//! [`check_upload`] is the ingestion scope of agent accounts (`POST /api/v1/reports`).

use std::collections::HashMap;
use std::time::Instant;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState, PEOPLE, Principal, blocking};
use crate::agents::{self, Agent, AgentError, AgentId, Health, Schedule, ScheduleChange};
use crate::index::IndexData;
use crate::model::{AgencyId, Role, SystemId};
use crate::store::StoreError;
use crate::transport::ClientInfo;

fn from_agent(e: AgentError) -> ApiError {
    match e {
        AgentError::Invalid(m) => ApiError::invalid(m),
        AgentError::EnrollmentInvalid => enrollment_invalid(),
        AgentError::NotFound => ApiError::not_found("agent"),
        AgentError::Store(s) => ApiError::from(s),
    }
}

fn enrollment_invalid() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "enrollment_invalid",
        "Mã đăng ký không hợp lệ, đã dùng hoặc đã hết hạn / the enrollment token is unknown, already used or expired",
    )
}

/// 403 `not_assigned`: a report for a target the agent was not given (permanent).
pub fn not_assigned(target: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "not_assigned",
        format!(
            "Mục tiêu {target} không được giao cho tác tử này / the target {target} is not assigned to this agent"
        ),
    )
}

/// Runs `f` on a blocking thread, mapping [`AgentError`].
async fn run<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AgentError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError::invalid("a storage task failed"))?
        .map_err(from_agent)
}

/// A new enrollment.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEnrollment {
    agency: AgencyId,
    network: String,
    expires_in_hours: Option<u32>,
    schedule: Option<ScheduleChange>,
}

/// `POST /api/v1/enrollments` (administrator).
pub async fn create_enrollment(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Json<NewEnrollment>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    principal.require(&[Role::Administrator])?;
    let Json(new) = body?;
    let schedule = new
        .schedule
        .unwrap_or_default()
        .apply(&Schedule::default())
        .map_err(from_agent)?;
    let store = state.store.clone();
    let by = principal.account.login.clone();
    let (secret, e) = run(move || {
        agents::create_enrollment(
            store.as_ref(),
            new.agency,
            &new.network,
            &by,
            new.expires_in_hours.unwrap_or(24),
            schedule,
            crate::clock::now(),
        )
    })
    .await?;
    tracing::info!(target: "canhgac::access", by = %principal.account.login, enrollment = %e.id, agency = %e.agency, "agent enrollment created");
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": e.id, "token": secret, "agency": e.agency, "network": e.network,
            "expires_at": e.expires_at, "schedule": e.schedule,
        })),
    ))
}

/// `GET /api/v1/enrollments` (administrator): never the secrets.
pub async fn list_enrollments(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<Value>>, ApiError> {
    principal.require(&[Role::Administrator])?;
    let store = state.store.clone();
    let all = blocking(move || agents::list_enrollments(store.as_ref())).await?;
    let now = crate::clock::now();
    Ok(Json(
        all.iter()
            .map(|e| {
                json!({
                    "id": e.id, "agency": e.agency, "network": e.network,
                    "created_by": e.created_by, "created_at": e.created_at,
                    "expires_at": e.expires_at,
                    "used": e.used.is_some(),
                    "used_at": e.used.as_ref().map(|u| u.at),
                    "agent": e.used.as_ref().map(|u| u.agent),
                    "expired": e.used.is_none() && e.expires_at <= now,
                })
            })
            .collect(),
    ))
}

/// An enrollment request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    token: String,
    name: String,
    hostname: String,
    version: String,
}

/// The throttling key of an enrollment attempt: its client address only (a shared key would
/// let anyone block every enrollment), in its own namespace so that failed enrollments never
/// throttle the sign-ins of people behind the same address. Keys outside `client:` get the
/// stricter per-login allowance (5 failures, then 30 s doubling up to 15 min).
fn enroll_keys(client: &ClientInfo) -> Vec<String> {
    let addr = (!client.addr.is_unspecified()).then_some(client.addr);
    crate::sessions::throttle_keys("", addr)
        .into_iter()
        .filter_map(|k| k.strip_prefix("client:").map(|a| format!("enroll:{a}")))
        .collect()
}

/// `POST /api/v1/agents/enroll` (public).
pub async fn enroll(
    State(state): State<AppState>,
    client: ClientInfo,
    body: Result<Json<EnrollRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let keys = enroll_keys(&client);
    if let Err(wait) = state.access.throttle.check(&keys, Instant::now()) {
        tracing::warn!(target: "canhgac::access", client = %client.addr, "agent enrollment throttled");
        let secs = wait.as_secs().max(1);
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "throttled",
            format!(
                "Sai quá nhiều lần, hãy thử lại sau {secs} giây / too many failed attempts, try again in {secs} s"
            ),
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return Ok(response);
    }
    let Json(req) = body?;
    let store = state.store.clone();
    let result = tokio::task::spawn_blocking(move || {
        agents::enroll(
            store.as_ref(),
            &req.token,
            &req.name,
            &req.hostname,
            &req.version,
            crate::clock::now(),
        )
    })
    .await
    .map_err(|_| ApiError::invalid("a storage task failed"))?;
    let done = match result {
        Ok(done) => done,
        Err(AgentError::EnrollmentInvalid) => {
            state.access.throttle.failure(&keys, Instant::now());
            tracing::warn!(target: "canhgac::access", client = %client.addr, "agent enrollment refused");
            return Err(enrollment_invalid());
        }
        Err(e) => return Err(from_agent(e)),
    };
    let a = &done.agent;
    tracing::info!(target: "canhgac::access", agent = %a.id, login = %a.login, agency = %a.agency, client = %client.addr, "agent enrolled");
    let mut response = (
        StatusCode::CREATED,
        Json(json!({
            "agent_id": a.id, "login": a.login, "credential": done.credential,
            "agency": a.agency, "network": a.network,
        })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// 403 `not_enrolled`: an agent account without an agent record.
fn not_enrolled() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "not_enrolled",
        "Tài khoản tác tử này chưa đăng ký / this agent account was not enrolled (docs/agents.md)",
    )
}

/// `POST /api/v1/agent/checkin` (enrolled agents): records the health, answers the schedule,
/// the targets and the pending "scan now" requests.
pub async fn checkin(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Json<Health>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    principal.require(&[Role::Agent])?;
    let Json(health) = body?;
    let store = state.store.clone();
    let index = state.index.clone();
    let login = principal.account.login.clone();
    let answer = run(move || {
        let now = crate::clock::now();
        let Some(agent) = agents::update_agent(store.as_ref(), &login, |a| {
            if a.revoked_at.is_some() {
                return Ok(false);
            }
            a.last_seen = Some(now);
            a.health = Some(health.clone());
            Ok(true)
        })?
        else {
            return Ok(None);
        };
        if agent.revoked_at.is_some() {
            return Ok(Some(Err(ApiError::unauthenticated())));
        }
        let data = index.read(store.as_ref())?;
        let targets = agents::assigned_targets(&data, agent.agency);
        let scan_now: Vec<&str> = agent
            .scan_now
            .iter()
            .map(|s| s.target.as_str())
            .filter(|t| targets.iter().any(|a| a.target == *t))
            .collect();
        Ok(Some(Ok(json!({
            "agent_id": agent.id,
            "server_time": now,
            "schedule": agent.schedule,
            "targets": targets,
            "scan_now": scan_now,
        }))))
    })
    .await?
    .ok_or_else(not_enrolled)??;
    Ok(Json(answer))
}

/// The agents among `all` that `principal` may see (staff: every one; agency officers: those
/// of their agency's subtree).
pub(crate) fn seen_by(principal: &Principal, data: &IndexData, all: Vec<Agent>) -> Vec<Agent> {
    let tree = data.agencies.tree();
    all.into_iter()
        .filter(|a| super::inventory::sees(principal, &tree, a.agency))
        .collect()
}

/// The agents the caller may see (officers: their agency subtree).
fn visible(
    store: &dyn crate::store::Store,
    index: &crate::index::Index,
    principal: &Principal,
    only: Option<AgentId>,
) -> Result<Vec<Value>, StoreError> {
    let all = match only {
        Some(id) => agents::get_agent(store, id)?.into_iter().collect(),
        None => agents::list_agents(store)?,
    };
    let data = index.read(store)?;
    let now = crate::clock::now();
    Ok(seen_by(principal, &data, all)
        .iter()
        .map(|a| agents::view(a, &data, now, only.is_some()))
        .collect())
}

/// An agent as the web pages list it: what `GET /api/v1/agents` says of it, typed.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    /// The record.
    pub agent: Agent,
    /// Its agency's name (`None`: unknown agency).
    pub agency_name: Option<String>,
    /// How many targets it is given (when asked for).
    pub targets: Option<usize>,
    /// Whether it is silent now ([`Agent::silent`]).
    pub silent: bool,
}

/// The agents the caller may see, in enrollment order (`GET /api/v1/agents`'s rule: people
/// only; agency officers see those of their agency's subtree), with their number of targets
/// when `count_targets`.
pub(crate) async fn listed(
    state: &AppState,
    principal: &Principal,
    count_targets: bool,
) -> Result<Vec<Listed>, ApiError> {
    principal.require(PEOPLE)?;
    let store = state.store.clone();
    let index = state.index.clone();
    let principal = principal.clone();
    blocking(move || {
        let all = agents::list_agents(store.as_ref())?;
        let data = index.read(store.as_ref())?;
        let now = crate::clock::now();
        // Agents of one agency share their targets: counted once per agency.
        let mut targets: HashMap<AgencyId, usize> = HashMap::new();
        Ok(seen_by(&principal, &data, all)
            .into_iter()
            .map(|agent| {
                let n = count_targets.then(|| {
                    *targets
                        .entry(agent.agency)
                        .or_insert_with(|| agents::assigned_targets(&data, agent.agency).len())
                });
                Listed {
                    agency_name: data.agencies.get(agent.agency).map(|a| a.name.clone()),
                    targets: n,
                    silent: agent.silent(now),
                    agent,
                }
            })
            .collect())
    })
    .await
}

/// `GET /api/v1/agents` (people; officers: their subtree).
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<Value>>, ApiError> {
    principal.require(PEOPLE)?;
    let store = state.store.clone();
    let index = state.index.clone();
    Ok(Json(
        blocking(move || visible(store.as_ref(), &index, &principal, None)).await?,
    ))
}

fn agent_id(text: &str) -> Result<AgentId, ApiError> {
    text.parse().map_err(|_| ApiError::not_found("agent"))
}

/// `GET /api/v1/agents/{id}` (people in scope): with `target_list`.
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    principal.require(PEOPLE)?;
    let id = agent_id(&id)?;
    let store = state.store.clone();
    let index = state.index.clone();
    let mut found = blocking(move || visible(store.as_ref(), &index, &principal, Some(id))).await?;
    found
        .pop()
        .map(Json)
        .ok_or_else(|| ApiError::not_found("agent"))
}

/// Changes to an agent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentPatch {
    schedule: Option<ScheduleChange>,
    name: Option<String>,
}

/// `PATCH /api/v1/agents/{id}` (administrator): `{schedule?, name?}`.
pub async fn patch(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Result<Json<AgentPatch>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    principal.require(&[Role::Administrator])?;
    let id = agent_id(&id)?;
    let Json(change) = body?;
    if let Some(n) = &change.name
        && (n.trim().is_empty() || n.trim().chars().count() > 100)
    {
        return Err(ApiError::invalid("name must have 1 to 100 characters"));
    }
    let store = state.store.clone();
    let index = state.index.clone();
    let value = run(move || {
        if agents::get_agent(store.as_ref(), id)?.is_none() {
            return Err(AgentError::NotFound);
        }
        let updated = agents::update_agent(store.as_ref(), &id.login(), |a| {
            if let Some(s) = &change.schedule {
                a.schedule = s.apply(&a.schedule)?;
            }
            if let Some(n) = &change.name {
                a.name = n.trim().to_string();
            }
            Ok(true)
        })?
        .ok_or(AgentError::NotFound)?;
        let data = index.read(store.as_ref())?;
        Ok(agents::view(&updated, &data, crate::clock::now(), true))
    })
    .await?;
    tracing::info!(target: "canhgac::access", by = %principal.account.login, agent = %id, "agent changed");
    Ok(Json(value))
}

/// `DELETE /api/v1/agents/{id}` (administrator): revokes the agent and its tokens (204).
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    principal.require(&[Role::Administrator])?;
    let id = agent_id(&id)?;
    let store = state.store.clone();
    run(move || agents::revoke(store.as_ref(), id, crate::clock::now()))
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    tracing::info!(target: "canhgac::access", by = %principal.account.login, agent = %id, "agent revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/systems/{id}/scan` (people in scope): asks every agent assigned to the
/// system's targets to scan them now.
pub async fn scan_now(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    principal.require(PEOPLE)?;
    let id: SystemId = id.parse().map_err(|_| ApiError::not_found("system"))?;
    let store = state.store.clone();
    let index = state.index.clone();
    let by = principal.account.login.clone();
    let (agent_ids, targets) = run(move || {
        let data = index.read(store.as_ref())?;
        let tree = data.agencies.tree();
        match data.systems.get(&id) {
            Some(e) if super::inventory::sees_system(&principal, &tree, &e.system) => {}
            _ => return Err(AgentError::NotFound),
        }
        // The index lock is held while agent records are written: those are not indexed.
        agents::request_scan(store.as_ref(), &data, id, &by, crate::clock::now())
    })
    .await
    .map_err(|e| match e.code() {
        "not_found" => ApiError::not_found("system"),
        _ => e,
    })?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"agents": agent_ids, "targets": targets})),
    ))
}

/// Ingestion scope: an agent account may upload only reports for the targets of its agency
/// subtree's systems (403 `not_assigned` otherwise; a revoked agent is 401). Answers whether
/// the account is an enrolled agent (whose uploads are then noted, [`note_upload`]).
pub async fn check_upload(
    state: &AppState,
    principal: &Principal,
    host: &str,
    port: u16,
) -> Result<bool, ApiError> {
    let store = state.store.clone();
    let index = state.index.clone();
    let account = principal.account.clone();
    let host = host.to_string();
    let target = format!("{host}:{port}");
    let answer = blocking(move || {
        let agent = agents::agent_of(store.as_ref(), &account.login)?;
        if agent.as_ref().is_some_and(|a| a.revoked_at.is_some()) {
            return Ok(Err(ApiError::unauthenticated()));
        }
        let Some(agency) = agents::scope_of(agent.as_ref(), &account) else {
            return Ok(Ok(None));
        };
        let data = index.read(store.as_ref())?;
        let systems = agents::systems_assigned(&data, agency, &host, port);
        Ok(Ok((!systems.is_empty()).then_some(agent.is_some())))
    })
    .await??;
    answer.ok_or_else(|| not_assigned(&target))
}

/// Notes an enrolled agent's upload (`last_seen`, "scan now" requests done); failures are
/// logged, the report is stored whatever happens here.
pub async fn note_upload(state: &AppState, login: &str, target: String, started_at: Timestamp) {
    let store = state.store.clone();
    let login = login.to_string();
    let done = tokio::task::spawn_blocking(move || {
        agents::note_upload(
            store.as_ref(),
            &login,
            &target,
            started_at,
            crate::clock::now(),
        )
    })
    .await;
    match done {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "agents: cannot note an upload"),
        Err(e) => tracing::warn!(error = %e, "agents: upload note task failed"),
    }
}
