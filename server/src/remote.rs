//! The CLI's client for a server running on the same data directory: it reads
//! `DATA/serve.json` (see [`crate::control`]) and calls the server's API on its loopback
//! control listener with the local-administration token, so that subcommands work while the
//! server holds the store.
//!
//! Blocking (reqwest's blocking client, plain HTTP to loopback, no proxy): the subcommands are
//! short synchronous programs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::control::{self, ControlError, ServeInfo};
use crate::exchange::ImportReport;
use crate::exchange::export::XLSX_TYPE;
use crate::exchange::table::{self, FileFormat};

/// Why the running server could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The store is locked and no server announced itself.
    #[error(
        "the store is in use by another process, and no running server announced itself in {0} (another canhgac-server command may hold the store: retry when it ends)"
    )]
    NoServer(PathBuf),
    /// The store is locked, but the announced server is gone.
    #[error(
        "the store is in use by another process, and {path} is stale: the server it names (pid {pid}, {url}) {why}"
    )]
    Stale {
        /// The control file.
        path: PathBuf,
        /// The pid it names.
        pid: u32,
        /// The URL it names.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// The control file cannot be read.
    #[error(transparent)]
    Control(#[from] ControlError),
    /// The server answered with an error.
    #[error("{message} (HTTP {status} {code} from the running server)")]
    Api {
        /// HTTP status.
        status: u16,
        /// The error's stable code.
        code: String,
        /// The error's message.
        message: String,
    },
    /// The exchange failed (connection lost, unreadable answer).
    #[error("the running server at {url} did not answer properly: {reason}")]
    Http {
        /// The server.
        url: String,
        /// What happened.
        reason: String,
    },
}

/// A running server reached through its control listener.
#[derive(Debug)]
pub struct Remote {
    info: ServeInfo,
    client: Client,
}

impl Remote {
    /// Finds the server announced in `DATA/serve.json` and checks that it answers.
    pub fn locate(data: &Path) -> Result<Remote, RemoteError> {
        let path = control::serve_file(data);
        let info = control::read(data)?.ok_or_else(|| RemoteError::NoServer(path.clone()))?;
        let (pid, url) = (info.pid, info.url.clone());
        let stale = |why: String| RemoteError::Stale {
            path: path.clone(),
            pid,
            url: url.clone(),
            why,
        };
        if !info.is_alive() {
            return Err(stale("is not running".into()));
        }
        let client = Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .timeout(None::<Duration>)
            .build()
            .map_err(|e| RemoteError::Http {
                url: info.url.clone(),
                reason: e.to_string(),
            })?;
        let remote = Remote { info, client };
        match remote
            .client
            .get(format!("{}/healthz", remote.info.url))
            .timeout(Duration::from_secs(10))
            .send()
        {
            Ok(r) if r.status().is_success() => Ok(remote),
            Ok(r) => Err(stale(format!("answers {} to /healthz", r.status()))),
            Err(e) if e.is_connect() => Err(stale(format!(
                "does not accept connections ({})",
                error_chain(&e)
            ))),
            Err(e) => Err(remote.http_error(&e)),
        }
    }

    /// `http://127.0.0.1:PORT (pid N)`.
    pub fn describe(&self) -> String {
        format!("{} (pid {})", self.info.url, self.info.pid)
    }

    /// What `serve.json` says.
    pub fn info(&self) -> &ServeInfo {
        &self.info
    }

    fn http_error(&self, e: &reqwest::Error) -> RemoteError {
        RemoteError::Http {
            url: self.info.url.clone(),
            reason: error_chain(e),
        }
    }

    fn request(&self, method: reqwest::Method, path_and_query: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path_and_query}", self.info.url))
            .bearer_auth(&self.info.token)
    }

    fn send(&self, request: RequestBuilder) -> Result<Response, RemoteError> {
        self.send_accepting(request, &[])
    }

    /// Sends; success statuses and `also` are answers, other statuses are [`RemoteError::Api`].
    fn send_accepting(
        &self,
        request: RequestBuilder,
        also: &[u16],
    ) -> Result<Response, RemoteError> {
        let response = request.send().map_err(|e| self.http_error(&e))?;
        if response.status().is_success() || also.contains(&response.status().as_u16()) {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().unwrap_or(serde_json::Value::Null);
        let text = |k: &str| body["error"][k].as_str().map(str::to_string);
        Err(RemoteError::Api {
            status,
            code: text("code").unwrap_or_else(|| "error".into()),
            message: text("message").unwrap_or_else(|| format!("HTTP {status}")),
        })
    }

    /// `GET` a path (with its query): the body's bytes.
    pub fn get(&self, path_and_query: &str) -> Result<Vec<u8>, RemoteError> {
        let response = self.send(self.request(reqwest::Method::GET, path_and_query))?;
        response
            .bytes()
            .map(|b| b.to_vec())
            .map_err(|e| self.http_error(&e))
    }

    /// `GET` a path: the body as JSON.
    pub fn get_json<T: DeserializeOwned>(&self, path_and_query: &str) -> Result<T, RemoteError> {
        let response = self.send(self.request(reqwest::Method::GET, path_and_query))?;
        response.json().map_err(|e| self.http_error(&e))
    }

    /// `POST` a JSON body: the answer as JSON.
    pub fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, RemoteError> {
        let response = self.send(self.request(reqwest::Method::POST, path).json(body))?;
        response.json().map_err(|e| self.http_error(&e))
    }

    /// `POST` raw bytes of a content type: the answer as JSON.
    pub fn post_bytes<T: DeserializeOwned>(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<T, RemoteError> {
        let request = self
            .request(reqwest::Method::POST, path)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        let response = self.send(request)?;
        response.json().map_err(|e| self.http_error(&e))
    }
}

impl Remote {
    /// `POST /api/v1/import/inventory`: the import report, also when errors made the server
    /// import nothing (422 with the report; `report.rejected` says so).
    pub fn import_inventory(
        &self,
        file: Vec<u8>,
        agency: Option<&str>,
        skip_bad_rows: bool,
        dry_run: bool,
    ) -> Result<ImportReport, RemoteError> {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(a) = agency {
            query.append_pair("agency", a);
        }
        query.append_pair(
            "skip_bad_rows",
            if skip_bad_rows { "true" } else { "false" },
        );
        query.append_pair("dry_run", if dry_run { "true" } else { "false" });
        let content_type = match FileFormat::sniff(&file) {
            FileFormat::Xlsx => XLSX_TYPE,
            FileFormat::Csv => "text/csv",
        };
        let request = self
            .request(
                reqwest::Method::POST,
                &format!("/api/v1/import/inventory?{}", query.finish()),
            )
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(file);
        let response = self.send_accepting(request, &[422])?;
        response.json().map_err(|e| self.http_error(&e))
    }

    /// `GET /api/v1/export/systems`: the file's bytes and its number of systems.
    pub fn export_systems(
        &self,
        format: &str,
        agency: Option<&str>,
        filters: &[(&str, &str)],
    ) -> Result<(Vec<u8>, usize), RemoteError> {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("format", format);
        if let Some(a) = agency {
            query.append_pair("agency", a);
        }
        for (name, value) in filters {
            query.append_pair(name, value);
        }
        let bytes = self.get(&format!("/api/v1/export/systems?{}", query.finish()))?;
        // The rows under the header, as the direct export counts them.
        let systems = table::read(&bytes, FileFormat::sniff(&bytes))
            .map(|rows| {
                rows.iter()
                    .filter(|r| !r.is_blank())
                    .count()
                    .saturating_sub(1)
            })
            .unwrap_or(0);
        Ok((bytes, systems))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
