//! The demo's agent: the one place where the demo wires an agent to its server.
//!
//! [`enroll_daemon`] + [`run_daemon`]: the real agent daemon (`canhgac_agent::daemon`), enrolled
//! with a one-time token the administrator creates for the province's network, with its state
//! directory (credential, durable spool) inside the demo's data directory; it checks in, gets
//! its targets and schedule from the server, scans and uploads through its spool.
//!
//! [`run`]: a minimal stand-in for servers without the enrollment routes, scanning with the
//! agent's own scanner and uploading every report with an agent account's bearer token.
//!
//! Both scan TLS, HTTP and content only: the names are pinned to loopback by resolve
//! overrides, so no DNS or registry lookups leave the machine.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use canhgac_agent::probe::tls::TrustStore;
use canhgac_agent::scan::{Probes, ScanOptions, Scanner};
use canhgac_agent::target::{Overrides, Target};
use canhgac_policies::report::AgentInfo;
use futures::StreamExt;
use tokio::sync::watch;

/// What the demo's agent needs.
#[derive(Debug, Clone)]
pub struct AgentPlan {
    /// The server's root URL (`http://127.0.0.1:PORT`).
    pub server: String,
    /// The agent account's bearer token.
    pub token: String,
    /// The agent's name in its reports.
    pub name: String,
    /// The URLs to scan.
    pub targets: Vec<String>,
    /// `host:port:address` overrides.
    pub resolve: Vec<String>,
    /// The port the HTTP probe tries for plain HTTP.
    pub http_port: u16,
    /// The agency CA the scanner trusts (the test PKI's root).
    pub scan_ca_file: PathBuf,
    /// Pause between two rounds.
    pub interval: Duration,
}

/// Counters of the agent's work, readable while it runs.
#[derive(Debug, Default)]
pub struct AgentStats {
    /// Rounds finished.
    pub rounds: AtomicU64,
    /// Reports the server stored (201) or already had (200).
    pub uploaded: AtomicU64,
    /// Uploads refused or failed.
    pub failed: AtomicU64,
}

/// Runs the agent until `stop` turns true: a round of scans and uploads, then a pause.
pub async fn run(
    plan: AgentPlan,
    stats: Arc<AgentStats>,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let mut overrides = Overrides::default();
    for r in &plan.resolve {
        overrides.add(r)?;
    }
    let targets = plan
        .targets
        .iter()
        .map(|t| Target::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    let mut options = ScanOptions::new(AgentInfo {
        name: plan.name.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
    });
    options.overrides = overrides;
    options.probes = Probes::parse("tls,http,content").map_err(anyhow::Error::msg)?;
    options.tls.timeout = Duration::from_secs(5);
    options.tls.trust =
        TrustStore::with_ca_file(&plan.scan_ca_file).context("the demo CA as the agency CA")?;
    options.http.http_port = plan.http_port;
    options.http.timeout = Duration::from_secs(5);
    let scanner = Scanner::new(options);
    let client = reqwest::Client::builder().no_proxy().build()?;
    let url = format!("{}/api/v1/reports", plan.server.trim_end_matches('/'));
    loop {
        let mut reports = std::pin::pin!(scanner.scan_all(targets.clone()));
        loop {
            let next = tokio::select! {
                r = reports.next() => r,
                _ = stop.changed() => return Ok(()),
            };
            let Some(report) = next else { break };
            let ok = match client
                .post(&url)
                .bearer_auth(&plan.token)
                .json(&report)
                .send()
                .await
            {
                Ok(r) => r.status().is_success(),
                Err(_) => false,
            };
            let counter = if ok { &stats.uploaded } else { &stats.failed };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        stats.rounds.fetch_add(1, Ordering::Relaxed);
        tokio::select! {
            _ = tokio::time::sleep(plan.interval) => {}
            _ = stop.changed() => return Ok(()),
        }
    }
}

/// Creates a one-time enrollment token for `agency` as the administrator (`admin_token`) with a
/// short schedule (`interval_seconds`, at least the server's 300; check-in every 10 s), and
/// enrolls a daemon with it into `state_dir` (unless one is enrolled there already). `Ok(None)`
/// when the server has no enrollment route.
pub async fn enroll_daemon(
    api: &super::province::Api,
    admin_token: &str,
    agency: &str,
    state_dir: &Path,
    interval_seconds: u64,
) -> Result<Option<canhgac_agent::daemon::config::StateDir>> {
    use canhgac_agent::daemon::config::StateDir;
    use canhgac_agent::daemon::enroll::{EnrollRequest, enroll};
    let state = StateDir::new(state_dir);
    if state.is_enrolled() {
        // A demo restarted on its kept data directory: the same agent, its spool kept.
        return Ok(Some(state));
    }
    let created = api
        .call(
            "POST",
            "/enrollments",
            admin_token,
            Some(serde_json::json!({
                "agency": agency,
                "network": "Mạng LAN tỉnh Đồng Nai (demo)",
                "expires_in_hours": 1,
                "schedule": {
                    "interval_seconds": interval_seconds.max(300),
                    "jitter_seconds": 0,
                    "checkin_seconds": 10,
                    "concurrency": 8,
                    "per_host": 2
                }
            })),
        )
        .await;
    let created = match created {
        Ok(v) => v,
        Err(e) if e.to_string().contains("404") => return Ok(None),
        Err(e) => return Err(e),
    };
    let token = created["token"]
        .as_str()
        .context("the enrollment token")?
        .to_string();
    let root = api.base.trim_end_matches("/api/v1").to_string();
    enroll(
        &state,
        &EnrollRequest {
            server: root,
            token,
            name: "agent-demo".into(),
            hostname: "demo.localhost".into(),
            ca_file: None,
            force: true,
        },
    )
    .await
    .context("the demo agent's enrollment")?;
    Ok(Some(state))
}

/// Runs the enrolled daemon until SIGINT/SIGTERM (the daemon handles both itself, finishing
/// in-flight scans and keeping its spool).
pub async fn run_daemon(
    state: canhgac_agent::daemon::config::StateDir,
    plan: &AgentPlan,
) -> Result<()> {
    use canhgac_agent::daemon::run::{RunOptions, run};
    run(RunOptions {
        state,
        spool_max_bytes: None,
        resolve: plan.resolve.clone(),
        scan_ca_file: Some(plan.scan_ca_file.clone()),
        probes: Some("tls,http,content".into()),
        timeout: Duration::from_secs(5),
        http_port: plan.http_port,
        once: false,
        grace: Duration::from_secs(10),
        // The demo's short schedule (the server's schedule is at least 5 minutes).
        scan_interval: Some(plan.interval.as_secs()),
    })
    .await
    .map(|_| ())
    .map_err(anyhow::Error::from)
}
