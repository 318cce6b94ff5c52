//! Signing in and out and changing one's password, as HTML forms over the API's session
//! handlers (`crate::api::session`): the same throttling, the same cookie, the same rules.
//!
//! - `GET /login?next=PATH`, `POST /login` (login, password, next): a wrong login or password
//!   shows the form again with the message next to the fields; success goes to `next`.
//! - `POST /logout` (csrf_token): ends the session on the server.
//! - `GET /password`, `POST /password` (csrf_token, current, new, confirm).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;

use super::chrome::{Chrome, Lang, Viewer, local_path};
use super::error::{WebError, render};
use crate::api::AppState;
use crate::api::session::{self, PasswordChange, SignIn};
use crate::transport::ClientInfo;

/// The routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(form).post(submit))
        .route("/logout", post(sign_out))
        .route("/password", get(password_form).post(password_submit))
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    c: Chrome,
    next: String,
    login: String,
    error: Option<String>,
}

/// `?next=`.
#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// `GET /login`.
async fn form(headers: HeaderMap, Query(q): Query<NextQuery>) -> Result<Response, WebError> {
    let lang = Lang::from_headers(&headers);
    let page = SignInPage {
        c: Chrome::anonymous(lang, "/login"),
        next: local_path(q.next.as_deref()),
        login: String::new(),
        error: None,
    };
    Ok(render(&page, lang)?.into_response())
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    login: String,
    password: String,
    next: Option<String>,
}

/// `POST /login`.
async fn submit(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<SignInForm>,
) -> Result<Response, WebError> {
    let lang = Lang::from_headers(&headers);
    let next = local_path(f.next.as_deref());
    let login = f.login.clone();
    let result = session::sign_in(
        State(state),
        client,
        headers,
        uri,
        Ok(Json(SignIn {
            login: f.login,
            password: f.password,
        })),
    )
    .await;
    let (status, error) = match result {
        Ok(response) if response.status().is_success() => {
            let mut redirect = Redirect::to(&next).into_response();
            if let Some(cookie) = response.headers().get(header::SET_COOKIE) {
                redirect
                    .headers_mut()
                    .insert(header::SET_COOKIE, cookie.clone());
            }
            return Ok(redirect);
        }
        Ok(response) => (
            response.status(),
            lang.t(
                "Sai quá nhiều lần: hãy đợi một lát rồi thử lại.",
                "Too many failed attempts: wait a while and try again.",
            )
            .to_string(),
        ),
        Err(e) if e.status() == StatusCode::UNAUTHORIZED => (
            e.status(),
            lang.t(
                "Tên đăng nhập hoặc mật khẩu không đúng.",
                "Wrong login or password.",
            )
            .to_string(),
        ),
        Err(e) => return Err(WebError::api(e, lang)),
    };
    let page = SignInPage {
        c: Chrome::anonymous(lang, "/login"),
        next,
        login,
        error: Some(error),
    };
    Ok((status, render(&page, lang)?).into_response())
}

/// A form that carries only its CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    csrf_token: String,
}

/// `POST /logout`.
async fn sign_out(
    State(state): State<AppState>,
    client: ClientInfo,
    viewer: Viewer,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&f.csrf_token)?;
    let lang = viewer.lang();
    let response = session::sign_out(State(state), client, viewer.principal)
        .await
        .map_err(|e| WebError::api(e, lang))?;
    let mut redirect = Redirect::to("/login").into_response();
    if let Some(cookie) = response.headers().get(header::SET_COOKIE) {
        redirect
            .headers_mut()
            .insert(header::SET_COOKIE, cookie.clone());
    }
    Ok(redirect)
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    c: Chrome,
    done: bool,
    error_current: Option<String>,
    error_new: Option<String>,
    error: Option<String>,
}

/// `GET /password`.
async fn password_form(viewer: Viewer) -> Result<Response, WebError> {
    let lang = viewer.lang();
    let page = PasswordPage {
        c: viewer.chrome,
        done: false,
        error_current: None,
        error_new: None,
        error: None,
    };
    Ok(render(&page, lang)?.into_response())
}

/// The password form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    csrf_token: String,
    current: String,
    new: String,
    confirm: String,
}

/// `POST /password`.
async fn password_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    viewer: Viewer,
    Form(f): Form<PasswordForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&f.csrf_token)?;
    let lang = viewer.lang();
    let mut page = PasswordPage {
        c: viewer.chrome.clone(),
        done: false,
        error_current: None,
        error_new: None,
        error: None,
    };
    if f.new != f.confirm {
        page.error_new = Some(
            lang.t(
                "Hai lần nhập mật khẩu mới không khớp.",
                "The two new passwords differ.",
            )
            .to_string(),
        );
        return Ok((StatusCode::BAD_REQUEST, render(&page, lang)?).into_response());
    }
    let result = session::change_password(
        State(state),
        client,
        viewer.principal,
        Ok(Json(PasswordChange {
            current: f.current,
            new: f.new,
        })),
    )
    .await;
    let status = match result {
        Ok(_) => {
            page.done = true;
            StatusCode::OK
        }
        Err(e) => {
            let status = e.status();
            match e.code() {
                "wrong_password" => {
                    page.error_current = Some(
                        lang.t(
                            "Mật khẩu hiện tại không đúng.",
                            "The current password is wrong.",
                        )
                        .to_string(),
                    )
                }
                "invalid" => page.error_new = Some(e.message().to_string()),
                _ => page.error = Some(WebError::api(e, lang).to_string()),
            }
            status
        }
    };
    Ok((status, render(&page, lang)?).into_response())
}
