//! Signing in and out, who am I, password changes and administrators' account changes; and
//! the authentication behind [`super::Principal`] (bearer token or session cookie with CSRF).
//!
//! - `POST /api/v1/session` `{login, password}`: 200 with the session and a `canhgac_session`
//!   cookie; one generic 401 for any wrong login or password; 429 while throttled.
//! - `GET /api/v1/session`: who the caller is and how it authenticated.
//! - `DELETE /api/v1/session`: signs out (the session is deleted on the server).
//! - `POST /api/v1/me/password` `{current, new}`: ends the caller's other sessions.
//! - `PATCH /api/v1/users/{login}` `{disabled?, role?, agency?, display_name?, password?}`
//!   (administrators).

use std::net::IpAddr;
use std::time::Instant;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, AppState, Principal, Via, bearer, blocking};
use crate::auth::{self, Account, AuthError};
use crate::model::{Agency, AgencyId, Role};
use crate::sessions::{self, CSRF_HEADER};
use crate::store::Table;
use crate::transport::ClientInfo;

/// Whether a method changes state (everything but GET, HEAD, OPTIONS and TRACE).
fn mutating(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether the request's `Origin`/`Referer`, when present, name the host it was sent to (the
/// `Host` header, or the URI's authority in HTTP/2).
fn same_origin(headers: &HeaderMap, uri: &Uri) -> bool {
    let host = header_str(headers, header::HOST)
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.to_string()));
    sessions::same_origin(
        header_str(headers, header::ORIGIN),
        header_str(headers, header::REFERER),
        host.as_deref(),
    )
}

/// Authenticates a request: a bearer token if `Authorization` is present (a bad one is 401,
/// never a fallback to the cookie), else the session cookie. With `csrf_header`, a
/// cookie-authenticated write must carry `X-CSRF-Token`; every cookie-authenticated write
/// must come from the server's own origin when it names one.
pub(crate) async fn authenticate(
    parts: &mut Parts,
    state: &AppState,
    csrf_header: bool,
) -> Result<Principal, ApiError> {
    let now = Timestamp::now();
    if let Some(token) = bearer(&parts.headers)? {
        // The local-administration token, on the control listener only (crate::control).
        if let Some(account) = crate::control::local_account(&parts.extensions, &token) {
            return Ok(Principal {
                account,
                via: Via::Local,
            });
        }
        let store = state.store.clone();
        let (account, id) = blocking(move || auth::authenticate_token(store.as_ref(), &token, now))
            .await?
            .ok_or_else(ApiError::unauthenticated)?;
        return Ok(Principal {
            account,
            via: Via::Token { id },
        });
    }
    let id = parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(sessions::cookie_value)
        .map(str::to_string)
        .ok_or_else(ApiError::unauthenticated)?;
    let store = state.store.clone();
    let access = state.access.clone();
    let (account, key, record) =
        blocking(move || sessions::lookup(store.as_ref(), &id, &access.settings, now))
            .await?
            .ok_or_else(ApiError::unauthenticated)?;
    let principal = Principal {
        account,
        via: Via::Session {
            key,
            csrf_token: record.csrf_token,
            expires_at: record.expires_at,
        },
    };
    if mutating(&parts.method) {
        if !same_origin(&parts.headers, &parts.uri) {
            return Err(ApiError::csrf());
        }
        if csrf_header {
            principal.check_csrf(header_str(&parts.headers, CSRF_HEADER))?;
        }
    }
    Ok(principal)
}

/// The caller of an HTML form handler: authenticated like [`Principal`] (Origin checked), but
/// the CSRF token comes from the form body, which an extractor of the request head cannot read.
/// The only way to the [`Principal`] is [`FormSession::verify`] with the form's `csrf_token`.
#[derive(Debug)]
pub struct FormSession(Principal);

impl FormSession {
    /// The CSRF token to render into forms (`None` for token callers).
    pub fn csrf_token(&self) -> Option<&str> {
        self.0.csrf_token()
    }

    /// Checks the form's `csrf_token` field and yields the caller (403 `csrf` when wrong).
    pub fn verify(self, submitted: Option<&str>) -> Result<Principal, ApiError> {
        self.0.check_csrf(submitted)?;
        Ok(self.0)
    }
}

impl FromRequestParts<AppState> for FormSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state, false).await.map(FormSession)
    }
}

/// The client address used for throttling (none when unknown).
fn client_addr(client: &ClientInfo) -> Option<IpAddr> {
    (!client.addr.is_unspecified()).then_some(client.addr)
}

/// 429 with `Retry-After`.
fn throttled(wait: std::time::Duration) -> Response {
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
    response
}

fn bad_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "Tên đăng nhập hoặc mật khẩu không đúng / wrong login or password",
    )
}

fn from_auth(e: AuthError) -> ApiError {
    match e {
        AuthError::Exists(l) => ApiError::conflict(format!("the account {l} exists already")),
        AuthError::NoAccount(_) => ApiError::not_found("account"),
        AuthError::Invalid(m) => ApiError::invalid(m),
        AuthError::Store(s) => ApiError::from(s),
    }
}

fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// Credentials.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub(crate) login: String,
    pub(crate) password: String,
}

/// `POST /api/v1/session` (anyone): signs in with a login and password.
pub async fn sign_in(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    uri: Uri,
    body: Result<Json<SignIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    // Login CSRF: a browser posting from another site says so in Origin.
    if !same_origin(&headers, &uri) {
        return Err(ApiError::csrf());
    }
    let Json(SignIn { login, password }) = body?;
    let login = login.trim().to_lowercase();
    let keys = sessions::throttle_keys(&login, client_addr(&client));
    if let Err(wait) = state.access.throttle.check(&keys, Instant::now()) {
        tracing::warn!(target: "canhgac::access", login = %login, client = %client.addr, "sign-in throttled");
        return Ok(throttled(wait));
    }
    let store = state.store.clone();
    let login2 = login.clone();
    let account = blocking(move || auth::verify_login(store.as_ref(), &login2, &password)).await?;
    let Some(account) = account else {
        state.access.throttle.failure(&keys, Instant::now());
        tracing::warn!(target: "canhgac::access", login = %login, client = %client.addr, "sign-in failed");
        return Err(bad_credentials());
    };
    state.access.throttle.success(&keys[0]);
    let store = state.store.clone();
    let access = state.access.clone();
    let saved = account.clone();
    let (id, record) = blocking(move || {
        sessions::create(store.as_ref(), &saved, &access.settings, Timestamp::now())
    })
    .await?;
    tracing::info!(target: "canhgac::access", login = %account.login, client = %client.addr, "signed in");
    let secure = client.https || state.access.settings.secure_cookies;
    let mut response = Json(json!({
        "account": account.login,
        "display_name": account.display_name,
        "role": account.role,
        "agency": account.agency,
        "csrf_token": record.csrf_token,
        "expires_at": record.expires_at,
        "idle_timeout_seconds": state.access.settings.idle.as_secs(),
    }))
    .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&sessions::set_cookie(&id, secure))
            .map_err(|_| ApiError::invalid("cookie"))?,
    );
    no_store(&mut response);
    Ok(response)
}

/// `GET /api/v1/session` (any authenticated caller): who am I.
pub async fn whoami(State(state): State<AppState>, principal: Principal) -> Response {
    let a = &principal.account;
    let mut body = json!({
        "account": a.login,
        "display_name": a.display_name,
        "role": a.role,
        "agency": a.agency,
    });
    match &principal.via {
        Via::Session {
            csrf_token,
            expires_at,
            ..
        } => {
            body["via"] = json!("session");
            body["csrf_token"] = json!(csrf_token);
            body["expires_at"] = json!(expires_at);
            body["idle_timeout_seconds"] = json!(state.access.settings.idle.as_secs());
        }
        Via::Token { id } => {
            body["via"] = json!("token");
            body["token_id"] = json!(id);
        }
        Via::Local => body["via"] = json!("local"),
    }
    let mut response = Json(body).into_response();
    no_store(&mut response);
    response
}

/// `DELETE /api/v1/session` (session callers): signs out; the session ends on the server.
pub async fn sign_out(
    State(state): State<AppState>,
    client: ClientInfo,
    principal: Principal,
) -> Result<Response, ApiError> {
    let Via::Session { key, .. } = principal.via else {
        return Err(ApiError::invalid(
            "this request is authenticated by a token, not a session: revoke tokens with DELETE /api/v1/tokens/{id}",
        ));
    };
    let store = state.store.clone();
    blocking(move || sessions::end(store.as_ref(), &key)).await?;
    tracing::info!(target: "canhgac::access", login = %principal.account.login, "signed out");
    let secure = client.https || state.access.settings.secure_cookies;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&sessions::clear_cookie(secure))
            .map_err(|_| ApiError::invalid("cookie"))?,
    );
    Ok(response)
}

/// A password change.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub(crate) current: String,
    pub(crate) new: String,
}

/// `POST /api/v1/me/password` (people): changes the caller's password after checking the
/// current one (wrong: 400 `wrong_password`, throttled like sign-in); the caller's other
/// sessions end. Tokens are separate credentials and stay.
pub async fn change_password(
    State(state): State<AppState>,
    client: ClientInfo,
    principal: Principal,
    body: Result<Json<PasswordChange>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    principal.require(super::PEOPLE)?;
    let Json(change) = body?;
    let login = principal.account.login.clone();
    let keys = sessions::throttle_keys(&login, client_addr(&client));
    if let Err(wait) = state.access.throttle.check(&keys, Instant::now()) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "throttled",
            format!(
                "Sai quá nhiều lần, hãy thử lại sau {} giây / too many failed attempts, try again later",
                wait.as_secs().max(1)
            ),
        ));
    }
    let store = state.store.clone();
    let (login2, current) = (login.clone(), change.current.clone());
    let ok = blocking(move || Ok(auth::verify_login(store.as_ref(), &login2, &current)?.is_some()))
        .await?;
    if !ok {
        state.access.throttle.failure(&keys, Instant::now());
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "wrong_password",
            "Mật khẩu hiện tại không đúng / the current password is wrong",
        ));
    }
    state.access.throttle.success(&keys[0]);
    if change.new == change.current {
        return Err(ApiError::invalid(
            "Mật khẩu mới phải khác mật khẩu hiện tại / the new password must differ from the current one",
        ));
    }
    auth::check_password_rule(&login, &change.new).map_err(from_auth)?;
    let keep = match &principal.via {
        Via::Session { key, .. } => Some(key.clone()),
        _ => None,
    };
    let store = state.store.clone();
    let login2 = login.clone();
    blocking(move || {
        let hash = auth::hash_password(&change.new);
        Ok(hash.and_then(|hash| {
            sessions::update_account(
                store.as_ref(),
                &login2,
                |a| {
                    a.password_hash = hash;
                    Ok(())
                },
                true,
                keep.as_deref(),
            )
        }))
    })
    .await?
    .map_err(from_auth)?;
    tracing::info!(target: "canhgac::access", login = %login, "password changed; other sessions ended");
    Ok(StatusCode::NO_CONTENT)
}

/// An administrator's change to an account (absent fields stay as they are).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    disabled: Option<bool>,
    role: Option<Role>,
    agency: Option<AgencyId>,
    display_name: Option<String>,
    password: Option<String>,
}

/// The public form of an account.
fn account_json(a: &Account) -> serde_json::Value {
    json!({
        "id": a.id,
        "login": a.login,
        "display_name": a.display_name,
        "role": a.role,
        "agency": a.agency,
        "disabled": a.disabled,
    })
}

/// Applies an administrator's patch to an account, enforcing the rules of `docs/access.md`.
fn apply_patch(
    account: &mut Account,
    patch: &AccountPatch,
    caller: &str,
    password_hash: Option<String>,
) -> Result<(), AuthError> {
    let myself = account.login == caller;
    if myself && (patch.disabled == Some(true) || patch.role.is_some_and(|r| r != account.role)) {
        return Err(AuthError::Invalid(
            "an administrator cannot disable their own account or change their own role: ask another administrator".into(),
        ));
    }
    if let Some(role) = patch.role {
        if (role == Role::Agent) != (account.role == Role::Agent) {
            return Err(AuthError::Invalid(
                "machine accounts (agent) and people's accounts cannot be turned into one another: create a new account".into(),
            ));
        }
        account.role = role;
    }
    if let Some(agency) = patch.agency {
        account.agency = Some(agency.to_string());
    }
    if matches!(account.role, Role::AgencyOfficer | Role::Agent) && account.user().agency.is_none()
    {
        return Err(AuthError::Invalid(format!(
            "a {} account needs an agency",
            account.role.id()
        )));
    }
    if let Some(name) = &patch.display_name {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(AuthError::Invalid(
                "display_name needs 1 to 200 characters".into(),
            ));
        }
        account.display_name = name.to_string();
    }
    if let Some(hash) = password_hash {
        if account.role == Role::Agent {
            return Err(AuthError::Invalid(
                "agent accounts have no password: they use tokens".into(),
            ));
        }
        account.password_hash = hash;
    }
    if let Some(d) = patch.disabled {
        account.disabled = d;
    }
    Ok(())
}

/// `PATCH /api/v1/users/{login}` (administrators): disables or enables an account, changes its
/// role, agency or display name, or resets its password. Disabling or a new password ends the
/// account's sessions; a disabled account's tokens are refused while it stays disabled.
pub async fn update_user(
    State(state): State<AppState>,
    principal: Principal,
    Path(login): Path<String>,
    body: Result<Json<AccountPatch>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(&[Role::Administrator])?;
    let Json(patch) = body?;
    if patch.disabled.is_none()
        && patch.role.is_none()
        && patch.agency.is_none()
        && patch.display_name.is_none()
        && patch.password.is_none()
    {
        return Err(ApiError::invalid(
            "nothing to change: give disabled, role, agency, display_name or password",
        ));
    }
    let login = login.trim().to_lowercase();
    if let Some(p) = &patch.password {
        auth::check_password_rule(&login, p).map_err(from_auth)?;
    }
    let caller = principal.account.login.clone();
    let store = state.store.clone();
    let account = blocking(move || {
        if let Some(a) = patch.agency
            && crate::repo::get::<Agency>(store.as_ref(), Table::Agencies, &a.to_string())?
                .is_none()
        {
            return Ok(Err(AuthError::Invalid(format!(
                "agency {a} does not exist"
            ))));
        }
        let hash = match patch.password.as_deref().map(auth::hash_password) {
            Some(Ok(h)) => Some(h),
            Some(Err(e)) => return Ok(Err(e)),
            None => None,
        };
        let end_sessions = patch.password.is_some() || patch.disabled == Some(true);
        Ok(sessions::update_account(
            store.as_ref(),
            &login,
            |a| apply_patch(a, &patch, &caller, hash),
            end_sessions,
            None,
        ))
    })
    .await?
    .map_err(from_auth)?;
    tracing::info!(target: "canhgac::access", by = %principal.account.login, login = %account.login, disabled = account.disabled, role = account.role.id(), "account changed");
    Ok(Json(account_json(&account)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(login: &str, role: Role) -> Account {
        Account {
            id: crate::model::UserId::derived(Timestamp::UNIX_EPOCH, login.as_bytes()),
            login: login.into(),
            display_name: login.into(),
            role,
            agency: None,
            password_hash: "h".into(),
            created_at: Timestamp::UNIX_EPOCH,
            disabled: false,
        }
    }

    fn patch(json: &str) -> AccountPatch {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn patches_follow_the_rules() {
        let mut me = account("admin", Role::Administrator);
        assert!(apply_patch(&mut me, &patch(r#"{"disabled":true}"#), "admin", None).is_err());
        assert!(apply_patch(&mut me, &patch(r#"{"role":"viewer"}"#), "admin", None).is_err());
        assert!(
            apply_patch(
                &mut me,
                &patch(r#"{"role":"administrator"}"#),
                "admin",
                None
            )
            .is_ok()
        );
        let mut agent = account("agent", Role::Agent);
        assert!(
            apply_patch(
                &mut agent,
                &patch(r#"{"role":"administrator"}"#),
                "admin",
                None
            )
            .is_err()
        );
        assert!(apply_patch(&mut agent, &patch("{}"), "admin", Some("x".into())).is_err());
        let mut viewer = account("v", Role::Viewer);
        let err = apply_patch(
            &mut viewer,
            &patch(r#"{"role":"agency_officer"}"#),
            "admin",
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("needs an agency"), "{err}");
        let agency = AgencyId::derived(Timestamp::UNIX_EPOCH, b"a");
        let p: AccountPatch = serde_json::from_value(
            json!({"role": "agency_officer", "agency": agency, "disabled": true}),
        )
        .unwrap();
        apply_patch(&mut viewer, &p, "admin", None).unwrap();
        assert_eq!(viewer.role, Role::AgencyOfficer);
        assert!(viewer.disabled);
        assert_eq!(viewer.agency, Some(agency.to_string()));
    }

    #[test]
    fn writes_are_the_methods_that_change_state() {
        for m in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(mutating(&m));
        }
        for m in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(!mutating(&m));
        }
    }
}
