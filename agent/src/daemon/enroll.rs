//! `canhgac-agent enroll`: exchanges a one-time token for this agent's credential.

use std::path::PathBuf;

use super::client::{ClientError, Enrolled, ServerClient};
use super::config::{AgentConfig, ConfigError, StateDir};

/// Enrollment errors.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// The token does not look like an enrollment token.
    #[error("invalid enrollment token: expected cge_ followed by 43 characters")]
    BadToken,
    /// An agent is already enrolled in this state directory.
    #[error(
        "an agent is already enrolled in {0} (use --force to replace it, or another --state-dir)"
    )]
    AlreadyEnrolled(PathBuf),
    /// The server refused or could not be reached.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The state directory could not be written.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// What `enroll` needs.
#[derive(Debug, Clone)]
pub struct EnrollRequest {
    /// The server URL.
    pub server: String,
    /// The one-time token (`cge_...`).
    pub token: String,
    /// The agent's name.
    pub name: String,
    /// This machine's host name.
    pub hostname: String,
    /// The server's CA (pinned).
    pub ca_file: Option<PathBuf>,
    /// Replace an existing enrollment.
    pub force: bool,
}

/// Whether `token` has the enrollment token's shape.
pub fn token_shape_ok(token: &str) -> bool {
    token.strip_prefix("cge_").is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Enrolls, then writes `agent.toml` and the credential (0600) into `state`.
pub async fn enroll(
    state: &StateDir,
    request: &EnrollRequest,
) -> Result<(AgentConfig, Enrolled), EnrollError> {
    if !token_shape_ok(request.token.trim()) {
        return Err(EnrollError::BadToken);
    }
    if state.is_enrolled() && !request.force {
        return Err(EnrollError::AlreadyEnrolled(state.root().to_path_buf()));
    }
    let ca_file = request
        .ca_file
        .as_ref()
        .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()));
    let client = ServerClient::new(&request.server, ca_file.as_deref(), None)?;
    // Fail on an unwritable state directory before spending the one-time token.
    state.create()?;
    let enrolled = client
        .enroll(request.token.trim(), &request.name, &request.hostname)
        .await?;
    let agency = match &enrolled.agency {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    let config = AgentConfig {
        server: client.base().to_string(),
        agent_id: enrolled.agent_id.clone(),
        name: request.name.clone(),
        login: enrolled.login.clone(),
        agency,
        network: enrolled.network.clone(),
        ca_file,
        resolve: Vec::new(),
        scan_ca_file: None,
        spool_max_bytes: None,
        probes: None,
    };
    state.save_credential(&enrolled.credential)?;
    state.save_config(&config)?;
    Ok((config, enrolled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_enroll_token_shape() {
        assert!(token_shape_ok(&format!("cge_{}", "A".repeat(43))));
        assert!(token_shape_ok(&format!(
            "cge_{}",
            "a-_9".repeat(10) + "xyz"
        )));
        assert!(!token_shape_ok(&format!("cgk_{}", "A".repeat(43))));
        assert!(!token_shape_ok(&format!("cge_{}", "A".repeat(42))));
        assert!(!token_shape_ok(&format!("cge_{}", "A/".repeat(21) + "A")));
    }
}
