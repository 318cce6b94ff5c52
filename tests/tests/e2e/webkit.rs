//! A signed-in HTTP session for the web UI tests (`web_dashboard`, `web_systems`,
//! `web_system`, `web_dossier`), so that they drive the pages the same way: sign in through
//! the `/login` form, keep the cookies a browser would keep (the session, the language),
//! follow no redirect, post forms URL-encoded and uploads as multipart with the page's CSRF
//! token, and read the answers' status, headers and body. Also the small HTML slicing helpers
//! those tests share, and a reader of the XLSX files they download. No tests here.

use std::io::Cursor;
use std::sync::Mutex;

use calamine::{Data, Reader, Xlsx};

use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use serde_json::Value;

use crate::server_documents::multipart;

/// The content type of an HTML form's body.
const FORM: &str = "application/x-www-form-urlencoded";

/// What precedes the CSRF token in a page's forms.
const CSRF_FIELD: &str = "name=\"csrf_token\" value=\"";

/// A browser without JavaScript against one server: its cookies (set by the server's answers,
/// replaced by name like a browser's jar), redirects not followed, and the CSRF token read off
/// a page once [`WebSession::take_csrf`] was called.
pub struct WebSession {
    client: reqwest::Client,
    base: String,
    cookies: Mutex<Vec<String>>,
    /// The session's CSRF token ("" until [`WebSession::take_csrf`]).
    pub csrf: String,
}

/// An HTTP answer: status, `Location`, `Content-Type`, `Content-Disposition` ("" when
/// absent) and the body's bytes.
pub struct Page {
    pub status: u16,
    pub location: String,
    pub content_type: String,
    pub disposition: String,
    pub body: Vec<u8>,
}

impl Page {
    /// The body as text; panics unless it is UTF-8.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }

    async fn of(r: reqwest::Response) -> Page {
        let header = |name: &str| {
            r.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let (status, location, content_type, disposition) = (
            r.status().as_u16(),
            header("location"),
            header("content-type"),
            header("content-disposition"),
        );
        Page {
            status,
            location,
            content_type,
            disposition,
            body: r.bytes().await.unwrap().to_vec(),
        }
    }
}

impl WebSession {
    /// A session without any cookie (a stranger) against the server at `base`.
    pub fn anonymous(base: &str) -> WebSession {
        WebSession {
            client: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_string(),
            cookies: Mutex::new(Vec::new()),
            csrf: String::new(),
        }
    }

    /// Signs in through the `/login` form with `next`: the answer must be 303 to `next` and
    /// set the `canhgac_session` cookie.
    pub async fn sign_in(base: &str, login: &str, password: &str, next: &str) -> WebSession {
        let web = WebSession::anonymous(base);
        let r = web
            .post(
                "/login",
                &[("login", login), ("password", password), ("next", next)],
            )
            .await;
        assert_eq!(r.status, 303, "sign-in of {login}: {}", r.text());
        assert_eq!(r.location, next, "sign-in of {login}");
        let cookie = web.cookie();
        assert!(
            cookie
                .split("; ")
                .any(|c| c.starts_with("canhgac_session=")),
            "the session cookie is set: {cookie}"
        );
        web
    }

    /// Reads the CSRF token off the page at `path` (which must carry one) and keeps it for
    /// [`WebSession::api`] and [`WebSession::api_upload`].
    pub async fn take_csrf(&mut self, path: &str) {
        let page = self.get(path).await;
        self.csrf = between(page.text(), CSRF_FIELD, "\"").to_string();
        assert!(!self.csrf.is_empty(), "a CSRF token on {path}");
    }

    /// The `Cookie` header this session sends.
    pub fn cookie(&self) -> String {
        self.cookies.lock().unwrap().join("; ")
    }

    /// Keeps the cookies an answer sets, replacing those of the same name.
    fn keep(&self, r: &reqwest::Response) {
        let mut jar = self.cookies.lock().unwrap();
        for c in r.headers().get_all(SET_COOKIE) {
            let pair = c.to_str().unwrap().split(';').next().unwrap().to_string();
            let name = pair.split('=').next().unwrap().to_string();
            jar.retain(|p| !p.starts_with(&format!("{name}=")));
            jar.push(pair);
        }
    }

    /// Sends `req` with this session's cookies (and `extra` ones for this request only).
    async fn send(&self, req: reqwest::RequestBuilder, extra: Option<&str>) -> Page {
        let mut cookie = self.cookie();
        if let Some(extra) = extra {
            if !cookie.is_empty() {
                cookie.push_str("; ");
            }
            cookie.push_str(extra);
        }
        let req = if cookie.is_empty() {
            req
        } else {
            req.header(COOKIE, cookie)
        };
        let r = req.send().await.unwrap();
        self.keep(&r);
        Page::of(r).await
    }

    /// `GET path` (from the server's root), any status.
    pub async fn get(&self, path: &str) -> Page {
        let req = self.client.get(format!("{}{path}", self.base));
        self.send(req, None).await
    }

    /// `GET path` with one more cookie for this request only (`canhgac_lang=en`...).
    pub async fn get_with_cookie(&self, path: &str, cookie: &str) -> Page {
        let req = self.client.get(format!("{}{path}", self.base));
        self.send(req, Some(cookie)).await
    }

    /// `GET path`: the status and the body as text.
    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let page = self.get(path).await;
        (page.status, page.text().to_string())
    }

    /// `GET path`: the status and the body's bytes (a download).
    pub async fn get_bytes(&self, path: &str) -> (u16, Vec<u8>) {
        let page = self.get(path).await;
        (page.status, page.body)
    }

    /// A page that must answer 200: its HTML.
    pub async fn html(&self, path: &str) -> String {
        let page = self.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.text());
        page.text().to_string()
    }

    /// Posts `fields` to `path` as an HTML form sends them.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let req = self
            .client
            .post(format!("{}{path}", self.base))
            .header(CONTENT_TYPE, FORM)
            .body(form_body(fields));
        self.send(req, None).await
    }

    /// Posts a multipart form (`parts` as [`multipart`] takes them, in that order) to `path`.
    pub async fn post_multipart(&self, path: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Page {
        let (content_type, body) = multipart(parts);
        let req = self
            .client
            .post(format!("{}{path}", self.base))
            .header(CONTENT_TYPE, content_type)
            .body(body);
        self.send(req, None).await
    }

    /// Posts the form of `action` on the dossier's page, with the page's CSRF token.
    pub async fn act(&self, dossier: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let page = self.get(&format!("/dossiers/{dossier}")).await;
        assert_eq!(page.status, 200, "{}", page.text());
        let token = csrf(page.text());
        let mut pairs = vec![("csrf_token", token.as_str()), ("action", action)];
        pairs.extend_from_slice(fields);
        self.post(&format!("/dossiers/{dossier}/act"), &pairs).await
    }

    /// Sends the dossier page's upload form with `parts` as given (the page's form puts
    /// `csrf_token` first).
    pub async fn upload_parts(&self, dossier: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Page {
        self.post_multipart(&format!("/dossiers/{dossier}/upload"), parts)
            .await
    }

    /// Uploads a file through the dossier page's form, as a browser sends it.
    pub async fn upload(&self, dossier: &str, kind: &str, name: &str, bytes: &[u8]) -> Page {
        let page = self.get(&format!("/dossiers/{dossier}")).await;
        let token = csrf(page.text());
        self.upload_parts(
            dossier,
            &[
                ("csrf_token", None, token.as_bytes()),
                ("kind", None, kind.as_bytes()),
                ("file", Some(name), bytes),
            ],
        )
        .await
    }

    /// The JSON API (`/api/v1{path}`) with this session: its cookies and `X-CSRF-Token`.
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}/api/v1{path}", self.base),
            )
            .header(COOKIE, self.cookie())
            .header("x-csrf-token", &self.csrf);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        self.keep(&r);
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Uploads a `{kind}.pdf` document of `kind` to a dossier through the API with this
    /// session: the status.
    pub async fn api_upload(&self, dossier: &str, kind: &str) -> u16 {
        let file = format!("{kind}.pdf");
        let (content_type, body) = multipart(&[
            ("kind", None, kind.as_bytes()),
            ("file", Some(file.as_str()), "nội dung hồ sơ".as_bytes()),
        ]);
        let req = self
            .client
            .post(format!("{}/api/v1/dossiers/{dossier}/documents", self.base))
            .header("x-csrf-token", &self.csrf)
            .header(CONTENT_TYPE, content_type)
            .body(body);
        self.send(req, None).await.status
    }
}

/// Fields as an HTML form sends them (`application/x-www-form-urlencoded`, UTF-8).
pub fn form_body(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// One name or value URL-encoded as a form does (space as `+`).
pub fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// The text between `start` and the next `end` ("" when absent).
pub fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    text.split_once(start)
        .and_then(|(_, rest)| rest.split_once(end))
        .map_or("", |(inside, _)| inside)
}

/// The value of the first CSRF token field of a page; panics when there is none.
pub fn csrf(html: &str) -> String {
    let at = html.find(CSRF_FIELD).expect("a form with a CSRF token");
    let rest = &html[at + CSRF_FIELD.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// The HTML inside the element with `id`, up to the first `close` after it.
pub fn inner<'a>(html: &'a str, id: &str, close: &str) -> &'a str {
    let marker = format!("id=\"{id}\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in the page:\n{html}"));
    let rest = &html[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest[start..].find(close).unwrap() + start;
    &rest[start..end]
}

/// The cells of the sheet `name` of an XLSX workbook, as text (whole numbers without `.0`).
pub fn sheet(bytes: &[u8], name: &str) -> Vec<Vec<String>> {
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    let range = book.worksheet_range(name).unwrap();
    range
        .rows()
        .map(|row| {
            row.iter()
                .map(|c| match c {
                    Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

/// The cells of an XLSX workbook's first sheet, which must be named `name`.
pub fn first_sheet(bytes: &[u8], name: &str) -> Vec<Vec<String>> {
    let book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    assert_eq!(book.sheet_names()[0], name);
    sheet(bytes, name)
}
