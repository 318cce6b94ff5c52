//! API tokens over the API: anyone issues, lists and revokes their own; administrators those
//! of any account (agents' tokens are issued this way).
//!
//! - `POST /api/v1/tokens` `{login?, name, expires_at?}`: 201 `{id, token, login, name,
//!   created_at, last_used_at, expires_at, revoked, expired}`; the `token` is shown this once.
//! - `GET /api/v1/tokens[?login=]`: the caller's tokens (administrators: everyone's, or one
//!   account's with `login`), never the secret.
//! - `DELETE /api/v1/tokens/{id}`: revokes (204); someone else's token is 404 to non-administrators.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::Deserialize;

use super::{ApiError, AppState, Principal, blocking};
use crate::auth::{self, AuthError, TokenInfo};
use crate::model::Role;

/// A token request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// The account it will act for (default: the caller; others: administrators only).
    login: Option<String>,
    /// A label.
    name: String,
    /// When it stops working (RFC 3339; default: never, until revoked).
    expires_at: Option<Timestamp>,
}

/// A new token: its secret (shown once) and what lists show.
#[derive(Debug, serde::Serialize)]
pub struct IssuedToken {
    /// The secret, `cgk_...`: shown only in this answer.
    token: String,
    /// Everything else.
    #[serde(flatten)]
    info: TokenInfo,
}

fn is_admin(p: &Principal) -> bool {
    p.account.role == Role::Administrator
}

/// `POST /api/v1/tokens` (everyone for themselves; administrators for any account).
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Json<NewToken>, JsonRejection>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    let Json(new) = body?;
    let login = new
        .login
        .as_deref()
        .map(|l| l.trim().to_lowercase())
        .unwrap_or_else(|| principal.account.login.clone());
    if login != principal.account.login && !is_admin(&principal) {
        return Err(ApiError::forbidden());
    }
    let store = state.store.clone();
    let (login2, name) = (login.clone(), new.name);
    let (token, info) = blocking(move || {
        Ok(match auth::get_account(store.as_ref(), &login2)? {
            Some(a) if a.disabled => Err(AuthError::Invalid(format!(
                "the account {login2} is disabled"
            ))),
            _ => auth::issue_token(
                store.as_ref(),
                &login2,
                &name,
                new.expires_at,
                Timestamp::now(),
            ),
        })
    })
    .await?
    .map_err(|e| match e {
        AuthError::NoAccount(_) => ApiError::not_found("account"),
        AuthError::Store(s) => ApiError::from(s),
        other => ApiError::invalid(other.to_string()),
    })?;
    tracing::info!(target: "canhgac::access", by = %principal.account.login, login = %login, token = %info.id, "token issued");
    Ok((StatusCode::CREATED, Json(IssuedToken { token, info })))
}

/// The filter of a token list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFilter {
    login: Option<String>,
}

/// `GET /api/v1/tokens[?login=]` (everyone: their own; administrators: all or one account's).
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    filter: Result<Query<TokenFilter>, QueryRejection>,
) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    let Query(filter) = filter.map_err(|e| ApiError::invalid(e.body_text()))?;
    let login = match filter.login.map(|l| l.trim().to_lowercase()) {
        Some(l) if l != principal.account.login && !is_admin(&principal) => {
            return Err(ApiError::forbidden());
        }
        Some(l) => Some(l),
        None if is_admin(&principal) => None,
        None => Some(principal.account.login.clone()),
    };
    let store = state.store.clone();
    let tokens =
        blocking(move || auth::list_tokens(store.as_ref(), login.as_deref(), Timestamp::now()))
            .await?;
    Ok(Json(tokens))
}

/// `DELETE /api/v1/tokens/{id}` (the owner or an administrator): revokes the token; revoking
/// twice is fine. Unknown ids, and other people's tokens for non-administrators, are 404.
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let store = state.store.clone();
    let (caller, admin) = (principal.account.login.clone(), is_admin(&principal));
    let revoked = blocking(move || {
        match auth::find_token(store.as_ref(), &id)? {
            Some((_, _, record)) if admin || record.login == caller => {}
            _ => return Ok(None),
        }
        auth::revoke_token(store.as_ref(), &id, Timestamp::now())
    })
    .await?
    .ok_or_else(|| ApiError::not_found("token"))?;
    tracing::info!(target: "canhgac::access", by = %principal.account.login, login = %revoked.login, token = %revoked.id, "token revoked");
    Ok(StatusCode::NO_CONTENT)
}
