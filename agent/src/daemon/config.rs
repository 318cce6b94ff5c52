//! The state directory: `agent.toml`, the credential file (0600) and `state.json`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The default state directory (systemd `StateDirectory=canhgac-agent`).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/canhgac-agent";

/// Errors reading or writing the state directory.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The agent has not been enrolled: no `agent.toml` or `credential`.
    #[error(
        "not enrolled: {0} is missing (run `canhgac-agent enroll --server URL --token cge_...` first)"
    )]
    NotEnrolled(PathBuf),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `agent.toml` is not valid.
    #[error("{path}: invalid configuration: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The credential file may be read by others.
    #[error("{0}: permissions too open (must be 0600, owner only)")]
    Permissions(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ConfigError + '_ {
    move |source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `agent.toml`: what enrollment learned, plus local overrides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The server's base URL, e.g. `https://canhgac.example.gov.vn/`.
    pub server: String,
    /// The agent id the server assigned.
    pub agent_id: String,
    /// The agent's name (shown on the server, recorded in reports).
    pub name: String,
    /// The server's account login of this agent.
    #[serde(default)]
    pub login: String,
    /// The agency whose network this agent scans.
    #[serde(default)]
    pub agency: String,
    /// The network label.
    #[serde(default)]
    pub network: String,
    /// PEM file of the CA that signed the server's certificate: the only CA trusted for the
    /// server connection when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// `HOST:PORT:ADDRESS` pins for scanned sites (added to `run --resolve`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolve: Vec<String>,
    /// Extra trusted CA (PEM) for the scanned sites (added to `run --scan-ca-file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_ca_file: Option<PathBuf>,
    /// Spool bound in bytes (overridden by `run --spool-max-bytes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spool_max_bytes: Option<u64>,
    /// Probes to run, e.g. `"tls,http,content"` (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<String>,
}

/// `state.json`: what `status` shows, and when each target was last scanned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentState {
    /// Last successful contact with the server.
    pub last_contact: Option<Timestamp>,
    /// When the last scan finished.
    pub last_scan: Option<Timestamp>,
    /// The last error, if the last attempt failed.
    pub last_error: Option<String>,
    /// When the last error happened.
    pub last_error_at: Option<Timestamp>,
    /// When each target (`host:port`) was last scanned.
    #[serde(default)]
    pub scanned: BTreeMap<String, Timestamp>,
    /// The assigned targets at the last check-in (kept to scan through an outage).
    #[serde(default)]
    pub targets: Vec<String>,
    /// The schedule at the last check-in.
    #[serde(default)]
    pub schedule: Option<crate::daemon::schedule::Schedule>,
    /// The spool bound in use by `run`.
    #[serde(default)]
    pub spool_capacity: Option<u64>,
    /// Why scans are paused because of the spool (full, unwritable), while they are.
    #[serde(default)]
    pub spool_error: Option<String>,
}

/// The paths of one state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// The state directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StateDir { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `agent.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.root.join("agent.toml")
    }

    /// `credential` (0600).
    pub fn credential_path(&self) -> PathBuf {
        self.root.join("credential")
    }

    /// `state.json`.
    pub fn state_path(&self) -> PathBuf {
        self.root.join("state.json")
    }

    /// `spool/`.
    pub fn spool_dir(&self) -> PathBuf {
        self.root.join("spool")
    }

    /// Creates the directory (0700) if needed.
    pub fn create(&self) -> Result<(), ConfigError> {
        fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&self.root, fs::Permissions::from_mode(0o700))
                .map_err(io(&self.root))?;
        }
        Ok(())
    }

    /// Whether an agent is enrolled here.
    pub fn is_enrolled(&self) -> bool {
        self.config_path().exists() && self.credential_path().exists()
    }

    /// Reads `agent.toml`.
    pub fn load_config(&self) -> Result<AgentConfig, ConfigError> {
        let path = self.config_path();
        if !path.exists() {
            return Err(ConfigError::NotEnrolled(path));
        }
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path,
            message: e.message().to_string(),
        })
    }

    /// Writes `agent.toml` atomically.
    pub fn save_config(&self, config: &AgentConfig) -> Result<(), ConfigError> {
        let path = self.config_path();
        let text = toml::to_string_pretty(config).map_err(|e| ConfigError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let text =
            format!("# canhgac-agent configuration, written by `canhgac-agent enroll`.\n{text}");
        write_atomic(&path, text.as_bytes(), 0o644)
    }

    /// Writes the credential with 0600 permissions (never readable by others, even briefly).
    pub fn save_credential(&self, credential: &str) -> Result<(), ConfigError> {
        write_atomic(&self.credential_path(), credential.as_bytes(), 0o600)
    }

    /// Reads the credential, refusing a file others may read.
    pub fn load_credential(&self) -> Result<String, ConfigError> {
        let path = self.credential_path();
        if !path.exists() {
            return Err(ConfigError::NotEnrolled(path));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).map_err(io(&path))?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(ConfigError::Permissions(path));
            }
        }
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        let text = text.trim().to_string();
        if text.is_empty() {
            return Err(ConfigError::Invalid {
                path,
                message: "the credential file is empty".into(),
            });
        }
        Ok(text)
    }

    /// Reads `state.json` (empty when missing or unreadable: it is only a record).
    pub fn load_state(&self) -> AgentState {
        fs::read(self.state_path())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Writes `state.json` atomically.
    pub fn save_state(&self, state: &AgentState) -> Result<(), ConfigError> {
        let bytes = serde_json::to_vec_pretty(state).expect("state serializes");
        write_atomic(&self.state_path(), &bytes, 0o644)
    }
}

/// Writes `bytes` to `path` through a temporary file created with `mode`, fsync, rename, and
/// an fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ConfigError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&tmp).map_err(io(&tmp))?;
    #[cfg(unix)]
    {
        // The mode given to open() only applies to new files; a leftover keeps its own.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(io(&tmp))?;
    }
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io(path))?;
    sync_dir(dir).map_err(io(dir))
}

/// Fsyncs a directory so a rename or removal in it is durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AgentConfig {
        AgentConfig {
            server: "https://canhgac.test/".into(),
            agent_id: "0193-agent".into(),
            name: "agent-sct-01".into(),
            login: "agent-0193abcd".into(),
            agency: "sct".into(),
            network: "LAN Sở Công Thương".into(),
            ca_file: Some("/etc/canhgac/ca.pem".into()),
            resolve: vec!["a.test:443:127.0.0.1".into()],
            scan_ca_file: None,
            spool_max_bytes: Some(1 << 20),
            probes: None,
        }
    }

    #[test]
    fn daemon_config_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path().join("state"));
        state.create().unwrap();
        assert!(matches!(
            state.load_config(),
            Err(ConfigError::NotEnrolled(_))
        ));
        state.save_config(&config()).unwrap();
        assert_eq!(state.load_config().unwrap(), config());
    }

    #[cfg(unix)]
    #[test]
    fn daemon_credential_is_0600_and_refused_when_open() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path());
        state.save_credential("cgk_secret").unwrap();
        let mode = fs::metadata(state.credential_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(state.load_credential().unwrap(), "cgk_secret");
        // Rewriting over a file left world-readable restores 0600.
        fs::set_permissions(state.credential_path(), fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            state.load_credential(),
            Err(ConfigError::Permissions(_))
        ));
        state.save_credential("cgk_other").unwrap();
        let mode = fs::metadata(state.credential_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(state.load_credential().unwrap(), "cgk_other");
    }

    #[test]
    fn daemon_config_example_in_docs_is_valid() {
        let text = include_str!("../../../docs/agent.toml.example");
        let config: AgentConfig = toml::from_str(text).unwrap();
        assert_eq!(config.network, "LAN Sở Công Thương");
        assert_eq!(config.spool_max_bytes, Some(512 * 1024 * 1024));
        assert_eq!(config.resolve.len(), 1);
    }

    #[test]
    fn daemon_state_tolerates_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path());
        fs::write(state.state_path(), b"{not json").unwrap();
        assert_eq!(state.load_state(), AgentState::default());
        let s = AgentState {
            last_error: Some("x".into()),
            ..Default::default()
        };
        state.save_state(&s).unwrap();
        assert_eq!(state.load_state(), s);
    }
}
