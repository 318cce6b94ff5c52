//! The HTTP client to `canhgac-server`: TLS through rustls (optionally trusting only a pinned
//! CA), plain HTTP only for a loopback server, and typed errors.

use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use url::Url;

use super::schedule::Schedule;

/// Client errors, one per thing a person must do differently.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server URL is not usable.
    #[error("invalid server URL {url:?}: {reason}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// Why.
        reason: String,
    },
    /// The pinned CA file cannot be used.
    #[error("cannot use CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// No connection to the server.
    #[error("server unreachable: {0}")]
    Unreachable(String),
    /// The TLS handshake failed (certificate not trusted, name mismatch...).
    #[error("TLS with the server failed (certificate not trusted? check --ca-file): {0}")]
    Tls(String),
    /// 401: the credential was revoked or is invalid.
    #[error("credential revoked or invalid (401): re-enroll this agent with a new token")]
    Revoked,
    /// 401 on enrollment: unknown, used or expired token.
    #[error("enrollment token refused (401 {code}): {message}")]
    EnrollmentInvalid {
        /// The server's error code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// 403 `not_assigned`: the report's target is not one of this agent's.
    #[error("report refused: target not assigned to this agent (403 not_assigned)")]
    NotAssigned,
    /// Another 4xx the server will answer again: the request is refused for good.
    #[error("refused by the server ({status} {code}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's error code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// 5xx.
    #[error("server error {status}: {message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// What the body said, if anything.
        message: String,
    },
    /// An answer that is not what the protocol says.
    #[error("unexpected answer from the server: {0}")]
    Garbage(String),
}

impl ClientError {
    /// Whether a report upload failing this way must not be retried (moved to `rejected/`).
    pub fn is_permanent_refusal(&self) -> bool {
        match self {
            ClientError::NotAssigned => true,
            ClientError::Refused { status, .. } => {
                matches!(status, 400 | 403 | 404 | 409 | 413 | 422)
            }
            _ => false,
        }
    }
}

/// The result of a successful upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uploaded {
    /// 201: stored.
    Stored,
    /// 200: the server already had it.
    Duplicate,
}

/// Health sent at each check-in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Agent version.
    pub version: String,
    /// When the last scan finished.
    pub last_scan_at: Option<Timestamp>,
    /// Reports waiting in the spool.
    pub spool_depth: u64,
    /// Their bytes.
    pub spool_bytes: u64,
    /// The spool bound.
    pub spool_capacity_bytes: u64,
    /// When the oldest waiting report was taken.
    pub oldest_spooled_at: Option<Timestamp>,
    /// Reports refused for good.
    pub rejected: u64,
}

/// One assigned target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignedTarget {
    /// `host:port`.
    pub target: String,
    /// The URL to scan.
    #[serde(default)]
    pub url: String,
    /// The systems it belongs to.
    #[serde(default)]
    pub systems: Vec<String>,
}

/// The check-in answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkin {
    /// This agent's id.
    pub agent_id: String,
    /// The server's clock.
    pub server_time: Option<Timestamp>,
    /// The schedule to follow.
    pub schedule: Schedule,
    /// Assigned targets.
    pub targets: Vec<AssignedTarget>,
    /// Targets to scan at once.
    #[serde(default)]
    pub scan_now: Vec<String>,
}

/// The enrollment answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolled {
    /// The new agent's id.
    pub agent_id: String,
    /// Its account login.
    #[serde(default)]
    pub login: String,
    /// Its bearer credential (`cgk_...`), shown once.
    pub credential: String,
    /// Its agency.
    #[serde(default)]
    pub agency: serde_json::Value,
    /// Its network label.
    #[serde(default)]
    pub network: String,
}

#[derive(Serialize)]
struct EnrollBody<'a> {
    token: &'a str,
    name: &'a str,
    hostname: &'a str,
    version: &'a str,
}

/// A client of one server.
#[derive(Debug, Clone)]
pub struct ServerClient {
    base: Url,
    http: reqwest::Client,
    credential: Option<String>,
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Checks a server URL: https, or http to a loopback host.
pub fn check_url(text: &str) -> Result<Url, ClientError> {
    let bad = |reason: &str| ClientError::BadUrl {
        url: text.to_string(),
        reason: reason.to_string(),
    };
    let mut url = Url::parse(text).map_err(|e| bad(&e.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(bad(
                "plain http is allowed only for a loopback server (127.0.0.1, ::1, localhost); use https://",
            ));
        }
        _ => return Err(bad("the scheme must be https")),
    }
    if url.host().is_none() {
        return Err(bad("no host"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

fn classify(e: reqwest::Error) -> ClientError {
    let mut chain = String::new();
    let mut tls = false;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if s.downcast_ref::<rustls::Error>().is_some() {
            tls = true;
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
        {
            tls = true;
        }
        if !chain.is_empty() {
            chain.push_str(": ");
        }
        chain.push_str(&s.to_string());
        source = s.source();
    }
    let lower = chain.to_ascii_lowercase();
    if tls || lower.contains("certificate") || lower.contains("handshake") || lower.contains("tls")
    {
        ClientError::Tls(chain)
    } else if e.is_decode() || e.is_body() {
        ClientError::Garbage(chain)
    } else {
        ClientError::Unreachable(chain)
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorInner,
}

#[derive(Deserialize)]
struct ErrorInner {
    code: String,
    #[serde(default)]
    message: String,
}

fn error_of(status: u16, body: &[u8]) -> ClientError {
    let parsed: Option<ErrorInner> = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|b| b.error);
    let snippet = || {
        let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        if text.trim().is_empty() {
            "(empty body)".into()
        } else {
            text
        }
    };
    match (status, parsed) {
        (401, _) => ClientError::Revoked,
        (403, Some(e)) if e.code == "not_assigned" => ClientError::NotAssigned,
        (500..=599, Some(e)) => ClientError::Server {
            status,
            message: format!("{}: {}", e.code, e.message),
        },
        (500..=599, None) => ClientError::Server {
            status,
            message: snippet(),
        },
        (400..=499, Some(e)) => ClientError::Refused {
            status,
            code: e.code,
            message: e.message,
        },
        (400..=499, None) => ClientError::Garbage(format!(
            "status {status} without a JSON error: {}",
            snippet()
        )),
        _ => ClientError::Garbage(format!("unexpected status {status}: {}", snippet())),
    }
}

impl ServerClient {
    /// A client of `server`, trusting only the CA in `ca_file` when given (else the system's
    /// roots).
    pub fn new(
        server: &str,
        ca_file: Option<&Path>,
        credential: Option<String>,
    ) -> Result<ServerClient, ClientError> {
        let base = check_url(server)?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("canhgac-agent/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = ca_file {
            let ca_err = |reason: String| ClientError::CaFile {
                path: path.display().to_string(),
                reason,
            };
            let pem = std::fs::read(path).map_err(|e| ca_err(e.to_string()))?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ca_err(e.to_string()))?;
            if certs.is_empty() {
                return Err(ca_err("no certificate in the file".into()));
            }
            builder = builder.tls_certs_only(certs);
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::Tls(format!("cannot build the HTTP client: {e}")))?;
        Ok(ServerClient {
            base,
            http,
            credential,
        })
    }

    /// The server's base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    fn url(&self, path: &str) -> Url {
        self.base.join(path).expect("static API paths join")
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), ClientError> {
        let request = match &self.credential {
            Some(c) => request.bearer_auth(c),
            None => request,
        };
        let response = request.send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(classify)?;
        Ok((status, body.to_vec()))
    }

    /// Exchanges a one-time enrollment token for this agent's credential.
    pub async fn enroll(
        &self,
        token: &str,
        name: &str,
        hostname: &str,
    ) -> Result<Enrolled, ClientError> {
        let body = EnrollBody {
            token,
            name,
            hostname,
            version: env!("CARGO_PKG_VERSION"),
        };
        let (status, bytes) = self
            .send(self.http.post(self.url("api/v1/agents/enroll")).json(&body))
            .await?;
        match status {
            200 | 201 => serde_json::from_slice(&bytes)
                .map_err(|e| ClientError::Garbage(format!("enrollment answer: {e}"))),
            401 => {
                let e = serde_json::from_slice::<ErrorBody>(&bytes)
                    .ok()
                    .map(|b| b.error);
                Err(ClientError::EnrollmentInvalid {
                    code: e
                        .as_ref()
                        .map(|e| e.code.clone())
                        .unwrap_or_else(|| "unauthorized".into()),
                    message: e
                        .map(|e| e.message)
                        .unwrap_or_else(|| "the token is unknown, already used or expired".into()),
                })
            }
            _ => Err(error_of(status, &bytes)),
        }
    }

    /// Reports health and fetches targets, schedule and scan-now requests.
    pub async fn checkin(&self, health: &Health) -> Result<Checkin, ClientError> {
        let (status, bytes) = self
            .send(
                self.http
                    .post(self.url("api/v1/agent/checkin"))
                    .json(health),
            )
            .await?;
        match status {
            200 => serde_json::from_slice(&bytes)
                .map_err(|e| ClientError::Garbage(format!("check-in answer: {e}"))),
            _ => Err(error_of(status, &bytes)),
        }
    }

    /// Uploads one report (its JSON).
    pub async fn upload(&self, report: Vec<u8>) -> Result<Uploaded, ClientError> {
        let (status, bytes) = self
            .send(
                self.http
                    .post(self.url("api/v1/reports"))
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(report),
            )
            .await?;
        let json_ok = || serde_json::from_slice::<serde_json::Value>(&bytes).is_ok();
        match status {
            201 if json_ok() => Ok(Uploaded::Stored),
            200 if json_ok() => Ok(Uploaded::Duplicate),
            200 | 201 => Err(ClientError::Garbage(format!(
                "status {status} with a body that is not JSON"
            ))),
            _ => Err(error_of(status, &bytes)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_client_urls_https_or_loopback_http() {
        assert!(check_url("https://canhgac.example.gov.vn").is_ok());
        assert!(check_url("http://127.0.0.1:8080").is_ok());
        assert!(check_url("http://[::1]:8080/").is_ok());
        assert!(check_url("http://localhost:8080/").is_ok());
        let e = check_url("http://canhgac.example.gov.vn/").unwrap_err();
        assert!(e.to_string().contains("loopback"), "{e}");
        assert!(check_url("http://10.0.0.1/").is_err());
        assert!(check_url("ftp://127.0.0.1/").is_err());
        assert!(check_url("not a url").is_err());
        assert_eq!(
            check_url("https://x.test/canhgac").unwrap().as_str(),
            "https://x.test/canhgac/"
        );
    }

    #[test]
    fn daemon_client_maps_statuses() {
        assert!(matches!(error_of(401, b""), ClientError::Revoked));
        let e = error_of(403, br#"{"error":{"code":"not_assigned","message":"x"}}"#);
        assert!(matches!(e, ClientError::NotAssigned) && e.is_permanent_refusal());
        let e = error_of(422, br#"{"error":{"code":"invalid","message":"bad"}}"#);
        assert!(e.is_permanent_refusal());
        let e = error_of(503, b"<html>down</html>");
        assert!(matches!(e, ClientError::Server { status: 503, .. }) && !e.is_permanent_refusal());
        let e = error_of(404, b"<html>");
        assert!(matches!(e, ClientError::Garbage(_)) && !e.is_permanent_refusal());
    }
}
