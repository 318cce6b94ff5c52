//! The local control channel: how `canhgac-server` subcommands reach a server that is running
//! on the same data directory (the embedded store admits one process, so they cannot open it).
//!
//! When `serve` starts it binds a second listener, plain HTTP on `127.0.0.1` and an ephemeral
//! port, which serves the same API as the main listener. It draws a fresh random
//! local-administration token (`cgl_` + 256 bits), keeps only its SHA-256 in memory (never in
//! the store), and writes `DATA/serve.json` (mode 0600, written atomically) with the control
//! URL, the pid and the token. The token grants administrator rights, and is accepted only on
//! the control listener: a copy of it is useless from another machine, and it dies with the
//! process. The file is removed on a clean shutdown; a file left by a killed server is stale:
//! its pid is gone and its port refuses connections (see [`ServeInfo::is_alive`]), and the store
//! is no longer locked, so the CLI opens the store directly and removes the file.
//!
//! Trust boundary: whoever can read `DATA/serve.json` (the server's own OS account and root,
//! given mode 0600) administers the running server, as they could administer a stopped one by
//! opening its store. The control listener is plain HTTP because it never leaves the machine's
//! loopback interface; it is separate from the main listener so that a local client needs no
//! certificate when the main listener speaks HTTPS, and so that the main listener never
//! accepts the local token.
//!
//! `POST /api/v1/admin/backup` (`{"dest": "/absolute/path"}`) writes a consistent snapshot of
//! the store while it serves ([`Store::backup`](crate::store::Store::backup)); only the local
//! token on the control listener may call it, since it makes the server write a file where the
//! caller says.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, State};
use axum::http::{Extensions, StatusCode};
use axum::{Json, Router};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::api::{ApiError, AppState, Principal};
use crate::auth::Account;
use crate::model::{Role, UserId};

/// The file in the data directory that announces a running server.
pub const SERVE_FILE: &str = "serve.json";

/// The login the local administrator acts as (a `:` cannot occur in real logins).
pub const LOCAL_LOGIN: &str = "local:admin";

/// What `DATA/serve.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServeInfo {
    /// The control listener, e.g. `http://127.0.0.1:41234` (plain HTTP, loopback).
    pub url: String,
    /// The server's process id.
    pub pid: u32,
    /// The local-administration token (valid only for this process, on the control listener).
    pub token: String,
    /// The main listener as configured (for people; clients use `url`).
    pub listen: String,
    /// When the server started.
    pub started_at: Timestamp,
    /// The server's version.
    pub version: String,
}

impl ServeInfo {
    /// Whether the announced process still exists (on systems without `/proc`, assumed alive;
    /// a dead server is then recognised by its refused connections).
    pub fn is_alive(&self) -> bool {
        let proc = Path::new("/proc");
        !proc.is_dir() || proc.join(self.pid.to_string()).exists()
    }
}

/// Why the control file cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not what a server writes.
    #[error("{path} is not a serve.json written by canhgac-server: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The parse error.
        reason: String,
    },
}

/// The path of the control file of a data directory.
pub fn serve_file(data: &Path) -> PathBuf {
    data.join(SERVE_FILE)
}

/// Reads `DATA/serve.json`; `None` when there is none.
pub fn read(data: &Path) -> Result<Option<ServeInfo>, ControlError> {
    let path = serve_file(data);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ControlError::Invalid {
                path,
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ControlError::Io { path, source }),
    }
}

/// The local administrator of one server process: the SHA-256 of its token.
#[derive(Clone)]
pub struct LocalAdmin {
    hash: [u8; 32],
    started_at: Timestamp,
}

impl std::fmt::Debug for LocalAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalAdmin(..)")
    }
}

impl LocalAdmin {
    /// A fresh local administrator and its token (`cgl_` + 43 URL-safe characters).
    pub fn generate() -> (LocalAdmin, String) {
        let token = format!("cgl_{}", &crate::auth::new_token()["cgk_".len()..]);
        let admin = LocalAdmin {
            hash: Sha256::digest(token.as_bytes()).into(),
            started_at: Timestamp::now(),
        };
        (admin, token)
    }

    /// Whether `token` is this administrator's.
    pub fn accepts(&self, token: &str) -> bool {
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Comparing digests: a timing difference reveals nothing about the token.
        hash == self.hash
    }

    /// The account requests with the token act as: an administrator that is not in the store.
    pub fn account(&self) -> Account {
        Account {
            id: UserId::derived(self.started_at, LOCAL_LOGIN.as_bytes()),
            login: LOCAL_LOGIN.into(),
            display_name: "Quản trị cục bộ trên máy chủ / local administration".into(),
            role: Role::Administrator,
            agency: None,
            password_hash: String::new(),
            created_at: self.started_at,
            disabled: false,
        }
    }
}

/// The account of a request that carries the local token on the control listener.
pub fn local_account(extensions: &Extensions, token: &str) -> Option<Account> {
    let admin = extensions.get::<Arc<LocalAdmin>>()?;
    admin.accepts(token).then(|| admin.account())
}

/// The control listener and its administrator, before they serve.
pub struct Control {
    listener: TcpListener,
    admin: Arc<LocalAdmin>,
    token: String,
}

impl Control {
    /// Binds `127.0.0.1:0` (or `[::1]:0` without IPv4 loopback) and draws a fresh token.
    pub async fn bind() -> std::io::Result<Control> {
        let listener = match TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await {
            Ok(l) => l,
            Err(_) => {
                TcpListener::bind(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 0))).await?
            }
        };
        let (admin, token) = LocalAdmin::generate();
        Ok(Control {
            listener,
            admin: Arc::new(admin),
            token,
        })
    }

    /// The control URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> std::io::Result<String> {
        Ok(format!("http://{}", self.listener.local_addr()?))
    }

    /// What `serve.json` announces for this control listener.
    pub fn info(&self, listen: &str) -> std::io::Result<ServeInfo> {
        Ok(ServeInfo {
            url: self.url()?,
            pid: std::process::id(),
            token: self.token.clone(),
            listen: listen.to_string(),
            started_at: self.admin.started_at,
            version: env!("CARGO_PKG_VERSION").into(),
        })
    }

    /// Serves `app` on the control listener (where the local token is accepted) until `stop`.
    pub fn spawn(
        self,
        app: Router,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> JoinHandle<std::io::Result<()>> {
        let app = app.layer(Extension(self.admin));
        tokio::spawn(async move {
            let service = app.into_make_service_with_connect_info::<crate::transport::Peer>();
            axum::serve(self.listener, service)
                .with_graceful_shutdown(stop)
                .await
        })
    }
}

/// Starts the control listener (if any) beside the main one: returns the main listener's
/// shutdown future (which also stops the control listener) and the control task to await.
pub fn beside(
    control: Option<Control>,
    app: &Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> (
    impl Future<Output = ()> + Send + 'static,
    Option<JoinHandle<std::io::Result<()>>>,
) {
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    let task = control.map(|c| {
        c.spawn(app.clone(), async move {
            let _ = rx.wait_for(|stop| *stop).await;
        })
    });
    let shutdown = async move {
        shutdown.await;
        let _ = tx.send(true);
    };
    (shutdown, task)
}

/// `DATA/serve.json` while the server runs: removed when dropped (clean shutdown or error).
#[derive(Debug)]
pub struct ServeFile {
    path: PathBuf,
}

impl ServeFile {
    /// Writes the file atomically (a 0600 temporary file, fsynced, renamed into place),
    /// replacing a stale one.
    pub fn write(data: &Path, info: &ServeInfo) -> Result<ServeFile, ControlError> {
        let path = serve_file(data);
        let temp = data.join(format!(".{SERVE_FILE}.{}.tmp", std::process::id()));
        let io = |source| ControlError::Io {
            path: path.clone(),
            source,
        };
        // A fresh file, so that the mode applies (a leftover temporary file is replaced).
        let _ = std::fs::remove_file(&temp);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp).map_err(io)?;
        let bytes = serde_json::to_vec_pretty(info).expect("serve info serialises");
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(io)?;
        drop(file);
        std::fs::rename(&temp, &path).map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            io(e)
        })?;
        if let Ok(dir) = std::fs::File::open(data) {
            let _ = dir.sync_all();
        }
        Ok(ServeFile { path })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ServeFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// `POST /api/v1/admin/backup` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupRequest {
    /// Absolute path of the new backup (file for redb, directory for sled); must not exist.
    dest: PathBuf,
}

/// `POST /api/v1/admin/backup` (the local token on the control listener only): a consistent
/// snapshot of the store written to `dest` while the server keeps serving.
pub async fn backup(
    State(state): State<AppState>,
    principal: Principal,
    local: Option<Extension<Arc<LocalAdmin>>>,
    body: Result<Json<BackupRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    principal.require(&[Role::Administrator])?;
    // The local token is accepted only where the extension is (the control listener).
    if local.is_none() || principal.via != crate::api::Via::Local {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Chỉ sao lưu được từ chính máy chủ (canhgac-server backup) / backups are taken on the server's machine with `canhgac-server backup`",
        ));
    }
    let Json(BackupRequest { dest }) = body?;
    if !dest.is_absolute() {
        return Err(ApiError::invalid(format!(
            "dest {} must be an absolute path",
            dest.display()
        )));
    }
    if std::fs::symlink_metadata(&dest).is_ok() {
        return Err(ApiError::conflict(format!(
            "{} exists: choose a new file",
            dest.display()
        )));
    }
    let store = state.store.clone();
    let target = dest.clone();
    let written = tokio::task::spawn_blocking(move || store.backup(&target))
        .await
        .map_err(|_| ApiError::invalid("the backup task failed"))?;
    if let Err(e) = written {
        tracing::error!(error = %e, dest = %dest.display(), "backup failed");
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "backup_failed",
            format!("cannot write the backup to {}: {e}", dest.display()),
        ));
    }
    let bytes = std::fs::metadata(&dest).map(|m| m.len()).unwrap_or(0);
    tracing::info!(dest = %dest.display(), bytes, "backup written");
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "dest": dest,
            "engine": state.store.engine(),
            "bytes": bytes,
        })),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_token_is_fresh_and_checked_by_hash() {
        let (a, token) = LocalAdmin::generate();
        let (b, other) = LocalAdmin::generate();
        assert!(token.starts_with("cgl_") && token.len() == 47);
        assert_ne!(token, other);
        assert!(a.accepts(&token));
        assert!(!a.accepts(&other));
        assert!(!b.accepts(&token));
        assert_eq!(a.account().role, Role::Administrator);
        let mut ext = Extensions::new();
        assert!(local_account(&ext, &token).is_none(), "main listener");
        ext.insert(Arc::new(a));
        assert_eq!(local_account(&ext, &token).unwrap().login, LOCAL_LOGIN);
        assert!(local_account(&ext, &other).is_none());
    }

    #[test]
    fn serve_file_is_private_atomic_and_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let info = ServeInfo {
            url: "http://127.0.0.1:1".into(),
            pid: std::process::id(),
            token: "cgl_x".into(),
            listen: "127.0.0.1:8440".into(),
            started_at: Timestamp::now(),
            version: "0".into(),
        };
        std::fs::write(serve_file(dir.path()), b"stale").unwrap();
        assert!(read(dir.path()).is_err());
        let file = ServeFile::write(dir.path(), &info).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(read(dir.path()).unwrap().unwrap(), info);
        assert!(info.is_alive());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temp");
        drop(file);
        assert!(read(dir.path()).unwrap().is_none());
        let dead = ServeInfo {
            pid: u32::MAX - 1,
            ..info
        };
        if Path::new("/proc").is_dir() {
            assert!(!dead.is_alive());
        }
    }
}
