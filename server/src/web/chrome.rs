//! What every page shares: who is signed in ([`Viewer`], the extractor that sends strangers
//! to the sign-in page), the language ([`Lang`], a cookie switched at `/lang/{vi|en}`), and
//! the header data every template reads ([`Chrome`]).

use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::WebError;
use crate::api::{AppState, Principal, blocking};
use crate::model::{AgencyId, Role};

/// The cookie that remembers the chosen language.
const LANG_COOKIE: &str = "canhgac_lang";

/// The language of the pages: Vietnamese unless the visitor chose English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Tiếng Việt (the default).
    #[default]
    Vi,
    /// English.
    En,
}

impl Lang {
    /// The language the request's cookie names (Vietnamese without one).
    pub fn from_headers(headers: &HeaderMap) -> Lang {
        let chosen = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == LANG_COOKIE)
            .map(|(_, value)| value);
        match chosen {
            Some("en") => Lang::En,
            _ => Lang::Vi,
        }
    }

    /// `vi` or `en` (the `lang` attribute of the page).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// The text in this language.
    pub fn t<'a>(self, vi: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }
}

/// The header of every page: language, the signed-in person, the CSRF token of their forms,
/// the section to highlight and the page's own address (for the language switch).
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The page's language.
    pub lang: Lang,
    /// Whether someone is signed in (the sign-in page has nobody).
    pub signed_in: bool,
    /// The account's login.
    pub login: String,
    /// The account's display name (the login when it has none).
    pub name: String,
    /// The role, as a label in the page's language.
    pub role: String,
    /// The agency's name, for agency officers.
    pub agency: Option<String>,
    /// The session's CSRF token, rendered into every form.
    pub csrf: String,
    /// The section of the navigation this page belongs to.
    pub section: &'static str,
    /// The page's path and query, where the language switch comes back to.
    pub here: String,
    /// Whether the person is department staff (sees the whole province).
    pub staff: bool,
}

impl Chrome {
    /// The text in the page's language.
    pub fn t<'a>(&self, vi: &'a str, en: &'a str) -> &'a str {
        self.lang.t(vi, en)
    }

    /// The header of a page for nobody signed in.
    pub fn anonymous(lang: Lang, here: &str) -> Chrome {
        Chrome {
            lang,
            signed_in: false,
            login: String::new(),
            name: String::new(),
            role: String::new(),
            agency: None,
            csrf: String::new(),
            section: "",
            here: here.to_string(),
            staff: false,
        }
    }

    /// The same header for another section.
    pub fn section(mut self, section: &'static str) -> Chrome {
        self.section = section;
        self
    }

    /// The `next` parameter of the language links: this page, URL-encoded.
    pub fn here_encoded(&self) -> String {
        url::form_urlencoded::byte_serialize(self.here.as_bytes()).collect()
    }
}

/// A role's label in `lang`.
pub fn role_label(role: Role, lang: Lang) -> String {
    match lang {
        Lang::Vi => role.label_vi().to_string(),
        Lang::En => role.id().replace('_', " "),
    }
}

/// The signed-in caller of a page: the API's [`Principal`] and the page header. Anyone not
/// signed in is sent to `/login?next=<this page>`; agents (machines) are refused.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The caller, as the API handlers take it.
    pub principal: Principal,
    /// The page header.
    pub chrome: Chrome,
}

impl Viewer {
    /// Checks a form's `csrf_token` against the session's (403 page when wrong).
    pub fn check_csrf(&self, submitted: &str) -> Result<(), WebError> {
        self.principal
            .check_csrf(Some(submitted))
            .map_err(|e| WebError::api(e, self.chrome.lang))
    }

    /// The page's language.
    pub fn lang(&self) -> Lang {
        self.chrome.lang
    }
}

/// Only local paths may be a `next` target (no open redirect to another site).
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_string(),
        _ => "/".to_string(),
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let lang = Lang::from_headers(&parts.headers);
        let here = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".to_string());
        let principal = match crate::api::session::authenticate(parts, state, false).await {
            Ok(p) => p,
            Err(e) if e.status() == axum::http::StatusCode::UNAUTHORIZED => {
                let next: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
                return Err(Redirect::to(&format!("/login?next={next}")).into_response());
            }
            Err(e) => return Err(WebError::api(e, lang).into_response()),
        };
        if principal.account.role == Role::Agent {
            return Err(WebError::api(crate::api::ApiError::forbidden(), lang).into_response());
        }
        let agency_id = principal
            .account
            .agency
            .as_deref()
            .and_then(|s| s.parse::<AgencyId>().ok());
        let agency = match agency_id {
            Some(id) if principal.account.role == Role::AgencyOfficer => {
                let index = state.index.clone();
                let store = state.store.clone();
                blocking(move || {
                    let data = index.read(store.as_ref())?;
                    Ok(data.agencies.get(id).map(|a| a.name.clone()))
                })
                .await
                .map_err(|e| WebError::api(e, lang).into_response())?
            }
            _ => None,
        };
        let a = &principal.account;
        let chrome = Chrome {
            lang,
            signed_in: true,
            login: a.login.clone(),
            name: if a.display_name.trim().is_empty() {
                a.login.clone()
            } else {
                a.display_name.clone()
            },
            role: role_label(a.role, lang),
            agency,
            csrf: principal.csrf_token().unwrap_or_default().to_string(),
            section: "",
            here,
            staff: a.role != Role::AgencyOfficer,
        };
        Ok(Viewer { principal, chrome })
    }
}

/// `?next=` of the language links.
#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// `GET /lang/{vi|en}?next=PATH`: remembers the language for a year and goes back.
pub async fn switch_lang(Path(lang): Path<String>, Query(q): Query<Next>) -> Response {
    let value = if lang == "en" { "en" } else { "vi" };
    let mut response = Redirect::to(&local_path(q.next.as_deref())).into_response();
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={value}; Path=/; Max-Age=31536000; SameSite=Lax"
    )) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_targets_stay_on_this_site() {
        assert_eq!(local_path(Some("/systems?level=3")), "/systems?level=3");
        assert_eq!(local_path(Some("//evil.example/")), "/");
        assert_eq!(local_path(Some("https://evil.example/")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn language_comes_from_the_cookie() {
        let mut h = HeaderMap::new();
        assert_eq!(Lang::from_headers(&h), Lang::Vi);
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("canhgac_session=x; canhgac_lang=en"),
        );
        assert_eq!(Lang::from_headers(&h), Lang::En);
        assert_eq!(Lang::En.t("Hệ thống", "Systems"), "Systems");
    }
}
