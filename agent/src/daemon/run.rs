//! `canhgac-agent run`: check in, scan what is due, spool every report, upload in order.
//!
//! Every finished report is written to the spool before any upload is tried. Uploads run in
//! their own task, in report-id order, with exponential backoff; a 401 stops them (the spool
//! is kept). SIGTERM or SIGINT stops new scans, waits up to the grace period for the scans in
//! flight, spools their reports and exits 0.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use canhgac_policies::report::{AgentInfo, ScanReport};
use jiff::{SignedDuration, Timestamp};
use tokio::sync::{Notify, mpsc, watch};

use crate::probe::tls::TrustStore;
use crate::scan::{self, Probes, ScanOptions, Scanner};
use crate::target::{Overrides, Target};

use super::client::{ClientError, Health, ServerClient};
use super::config::{AgentConfig, AgentState, StateDir};
use super::schedule::{self, Schedule};
use super::spool::{DEFAULT_MAX_BYTES, Spool, SpoolError, WARN_RATIO};
use super::upload::{Backoff, Pass, PassCounts, upload_pass};

/// How long check-ins wait after a 401.
pub const REVOKED_RETRY: Duration = Duration::from_secs(300);

/// Options of `run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The state directory.
    pub state: StateDir,
    /// Spool bound (default: `agent.toml`, else 512 MiB).
    pub spool_max_bytes: Option<u64>,
    /// `HOST:PORT:ADDRESS` pins for scanned sites.
    pub resolve: Vec<String>,
    /// Extra trusted CA for scanned sites.
    pub scan_ca_file: Option<PathBuf>,
    /// Probes to run (default: `agent.toml`, else all).
    pub probes: Option<String>,
    /// Per-connection deadline of the probes.
    pub timeout: Duration,
    /// Port of the plain-HTTP endpoint checked for the redirect to HTTPS.
    pub http_port: u16,
    /// One check-in, scan what is due, upload, exit.
    pub once: bool,
    /// How long in-flight scans may finish after SIGTERM.
    pub grace: Duration,
    /// Seconds between two scans of a target, instead of the server's schedule.
    pub scan_interval: Option<u64>,
}

impl RunOptions {
    /// The server's schedule with the local overrides applied.
    fn effective(&self, mut schedule: Schedule) -> Schedule {
        if let Some(i) = self.scan_interval {
            schedule.interval_seconds = i.max(1);
        }
        schedule
    }
}

/// Errors that end `run`.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Configuration or state directory.
    #[error(transparent)]
    Config(#[from] super::config::ConfigError),
    /// Talking to the server.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The spool.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// Scan settings.
    #[error("{0}")]
    Settings(String),
    /// `--once` could not upload everything.
    #[error("{left} report(s) kept in the spool for the next run: {cause}")]
    NotUploaded {
        /// Reports left.
        left: u64,
        /// Why.
        cause: ClientError,
    },
}

/// Figures of a run (printed by `--once`).
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct RunSummary {
    /// Targets assigned.
    pub targets: usize,
    /// Scans done.
    pub scanned: u64,
    /// Reports stored by the server.
    pub stored: u64,
    /// Reports the server already had.
    pub duplicate: u64,
    /// Reports refused for good.
    pub rejected: u64,
    /// Damaged spool files quarantined.
    pub corrupt: u64,
    /// Reports left in the spool.
    pub spooled: u64,
}

struct Shared {
    state: Mutex<AgentState>,
    dir: StateDir,
    dirty: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// Changes the state in memory; written by the next [`Shared::save_if_dirty`] (per-report
    /// bookkeeping, not worth an fsync each).
    fn note(&self, f: impl FnOnce(&mut AgentState)) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s);
        self.dirty.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn save_if_dirty(&self) {
        if self.dirty.swap(false, std::sync::atomic::Ordering::Relaxed) {
            self.update(|_| {});
        }
    }

    fn update(&self, f: impl FnOnce(&mut AgentState)) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s);
        if let Err(e) = self.dir.save_state(&s) {
            tracing::warn!(error = %e, "cannot save state.json");
        }
    }

    fn error(&self, message: String) {
        self.update(|s| {
            s.last_error = Some(message);
            s.last_error_at = Some(Timestamp::now());
        });
    }

    fn contact(&self) {
        self.update(|s| {
            s.last_contact = Some(Timestamp::now());
            s.last_error = None;
            s.last_error_at = None;
        });
    }

    fn snapshot(&self) -> AgentState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn lock(spool: &Mutex<Spool>) -> std::sync::MutexGuard<'_, Spool> {
    spool.lock().unwrap_or_else(|p| p.into_inner())
}

fn scanner_for(
    config: &AgentConfig,
    options: &RunOptions,
    schedule: &Schedule,
) -> Result<Scanner, RunError> {
    let mut scan = ScanOptions::new(AgentInfo {
        name: config.name.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    });
    scan.concurrency = schedule.concurrency.max(1);
    scan.per_host = schedule.per_host.max(1);
    scan.delay = Duration::from_millis(schedule.delay_ms);
    scan.tls.timeout = options.timeout;
    scan.http.timeout = options.timeout;
    scan.domain.timeout = options.timeout;
    scan.dns.timeout = options.timeout.min(Duration::from_secs(10));
    scan.http.http_port = options.http_port;
    if let Some(ca) = options
        .scan_ca_file
        .as_ref()
        .or(config.scan_ca_file.as_ref())
    {
        scan.tls.trust =
            TrustStore::with_ca_file(ca).map_err(|e| RunError::Settings(e.to_string()))?;
        scan.dns.trust = scan.tls.trust.clone();
    }
    let probes = options
        .probes
        .as_deref()
        .or(config.probes.as_deref())
        .unwrap_or("all");
    scan.probes = Probes::parse(probes).map_err(RunError::Settings)?;
    let mut overrides = Overrides::default();
    for entry in config.resolve.iter().chain(&options.resolve) {
        overrides
            .add(entry)
            .map_err(|e| RunError::Settings(format!("--resolve {entry}: {e}")))?;
    }
    scan.overrides = overrides;
    Ok(Scanner::new(scan))
}

fn health(spool: &Mutex<Spool>, state: &AgentState) -> Health {
    let t = lock(spool).totals();
    Health {
        version: env!("CARGO_PKG_VERSION").to_string(),
        last_scan_at: state.last_scan,
        spool_depth: t.depth,
        spool_bytes: t.bytes,
        spool_capacity_bytes: t.capacity,
        oldest_spooled_at: t.oldest,
        rejected: t.rejected,
    }
}

/// Where a finished report goes: the spool, or memory until the spool has room.
struct Intake {
    spool: Arc<Mutex<Spool>>,
    shared: Arc<Shared>,
    pending: VecDeque<ScanReport>,
    warned: bool,
    full: bool,
    wake: Arc<Notify>,
}

impl Intake {
    /// Spools `report` (or keeps it in memory); returns whether it is on disk.
    fn take(&mut self, report: ScanReport) {
        self.pending.push_back(report);
        self.flush();
    }

    /// Writes reports held in memory, oldest first.
    fn flush(&mut self) {
        while let Some(report) = self.pending.front() {
            let bytes = match serde_json::to_vec(report) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "cannot encode a report; dropped");
                    self.pending.pop_front();
                    continue;
                }
            };
            let result = lock(&self.spool).put(&report.id, &bytes);
            match result {
                Ok(()) => {
                    let key = format!("{}:{}", report.target.host, report.target.port);
                    let started = report.started_at;
                    let finished = Timestamp::now();
                    tracing::info!(target_key = %key, report = %report.id, complete = scan::completed(report), "report spooled");
                    self.pending.pop_front();
                    self.shared.note(|s| {
                        s.scanned.insert(key, started);
                        s.last_scan = Some(finished);
                    });
                    if self.full {
                        self.full = false;
                        tracing::info!("spool has room again; scans resume");
                        self.shared.update(|s| s.spool_error = None);
                    }
                    self.wake.notify_one();
                }
                Err(e) => {
                    if !self.full {
                        tracing::error!(error = %e, held = self.pending.len(), "cannot write the report to the spool; kept in memory, scans paused");
                        self.shared.error(e.to_string());
                        let message = e.to_string();
                        self.shared.update(|s| s.spool_error = Some(message));
                    }
                    self.full = true;
                    return;
                }
            }
        }
        let ratio = lock(&self.spool).fill_ratio();
        if ratio >= WARN_RATIO && !self.warned {
            self.warned = true;
            tracing::warn!(
                percent = (ratio * 100.0) as u64,
                "spool is filling up: uploads are not keeping up (check the server connection)"
            );
        } else if ratio < WARN_RATIO * 0.9 {
            self.warned = false;
        }
    }

    /// Whether scheduled scans must wait (spool full or reports held in memory).
    fn blocked(&self) -> bool {
        !self.pending.is_empty() || lock(&self.spool).fill_ratio() >= 1.0
    }
}

/// Runs the daemon (or one pass with `--once`).
pub async fn run(options: RunOptions) -> Result<RunSummary, RunError> {
    let config = options.state.load_config()?;
    let credential = options.state.load_credential()?;
    let client = ServerClient::new(&config.server, config.ca_file.as_deref(), Some(credential))?;
    let capacity = options
        .spool_max_bytes
        .or(config.spool_max_bytes)
        .unwrap_or(DEFAULT_MAX_BYTES);
    let spool = Arc::new(Mutex::new(Spool::open(
        options.state.spool_dir(),
        capacity,
    )?));
    let mut initial = options.state.load_state();
    initial.spool_capacity = Some(capacity);
    initial.spool_error = None;
    let shared = Arc::new(Shared {
        state: Mutex::new(initial),
        dir: options.state.clone(),
        dirty: std::sync::atomic::AtomicBool::new(false),
    });
    shared.update(|_| {});
    // Validate scan settings before anything else.
    let mut schedule = options.effective(shared.snapshot().schedule.unwrap_or_default());
    let mut scanner = scanner_for(&config, &options, &schedule)?;
    {
        let t = lock(&spool).totals();
        tracing::info!(agent = %config.agent_id, server = %config.server, spool_depth = t.depth, spool_bytes = t.bytes, capacity, "canhgac-agent starting");
    }
    if options.once {
        return run_once(&config, &options, &client, spool, shared).await;
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let wake = Arc::new(Notify::new());
    let server_back = Arc::new(Notify::new());
    let uploader = tokio::spawn(uploader(
        spool.clone(),
        client.clone(),
        shared.clone(),
        wake.clone(),
        server_back.clone(),
        stop_rx,
    ));

    let (tx, mut rx) = mpsc::unbounded_channel::<ScanReport>();
    let mut intake = Intake {
        spool: spool.clone(),
        shared: shared.clone(),
        pending: VecDeque::new(),
        warned: false,
        full: false,
        wake: wake.clone(),
    };
    let mut targets: Vec<String> = shared.snapshot().targets;
    let mut scan_now: Vec<String> = Vec::new();
    let mut served_now: HashSet<String> = HashSet::new();
    let mut jitters: HashMap<String, SignedDuration> = HashMap::new();
    let mut in_flight: HashSet<String> = HashSet::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut task_keys: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut next_checkin = tokio::time::Instant::now();
    let mut checkin_backoff = Backoff::default();
    let mut revoked = false;
    let mut blocked_logged = false;
    let mut last_save = tokio::time::Instant::now();
    let mut shutdown = Box::pin(shutdown_signal());
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(report) = rx.recv() => {
                in_flight.remove(&format!("{}:{}", report.target.host, report.target.port));
                intake.take(report);
            }
            Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let id = match &done {
                    Ok((id, ())) => *id,
                    Err(e) => e.id(),
                };
                if let Some(key) = task_keys.remove(&id)
                    && let Err(e) = done
                {
                    // A scan that panicked must not leave its target stuck "in flight".
                    tracing::error!(target_key = %key, error = %e, "scan task failed");
                    in_flight.remove(&key);
                }
            }
            _ = tick.tick() => {}
        }
        if !intake.pending.is_empty() {
            intake.flush();
        }
        if last_save.elapsed() >= Duration::from_secs(1) {
            shared.save_if_dirty();
            last_save = tokio::time::Instant::now();
        }
        if tokio::time::Instant::now() >= next_checkin {
            let h = health(&spool, &shared.snapshot());
            match client.checkin(&h).await {
                Ok(answer) => {
                    checkin_backoff.reset();
                    if revoked {
                        tracing::info!("the server accepts the credential again");
                    }
                    revoked = false;
                    if answer.agent_id != config.agent_id {
                        tracing::warn!(expected = %config.agent_id, got = %answer.agent_id, "the server names another agent id");
                    }
                    let wanted = options.effective(answer.schedule.clone());
                    if wanted != schedule {
                        match scanner_for(&config, &options, &wanted) {
                            Ok(s) => scanner = s,
                            Err(e) => tracing::error!(error = %e, "cannot apply the new schedule"),
                        }
                        schedule = wanted;
                        jitters.clear();
                    }
                    targets = answer.targets.iter().map(|t| t.target.clone()).collect();
                    scan_now = answer.scan_now.clone();
                    served_now.retain(|t| scan_now.contains(t));
                    let (t, s) = (targets.clone(), schedule.clone());
                    shared.update(|st| {
                        st.targets = t;
                        st.schedule = Some(s);
                        st.last_contact = Some(Timestamp::now());
                        st.last_error = None;
                        st.last_error_at = None;
                    });
                    tracing::debug!(
                        targets = targets.len(),
                        scan_now = scan_now.len(),
                        "checked in"
                    );
                    server_back.notify_one();
                    next_checkin = tokio::time::Instant::now()
                        + Duration::from_secs(schedule.checkin_seconds.max(1));
                }
                Err(ClientError::Revoked) => {
                    if !revoked {
                        tracing::error!(
                            "credential revoked or invalid (401): uploads stopped, spool kept; re-enroll this agent"
                        );
                    }
                    revoked = true;
                    shared.error(ClientError::Revoked.to_string());
                    next_checkin = tokio::time::Instant::now() + REVOKED_RETRY;
                }
                Err(e) => {
                    let wait = checkin_backoff.fail(&mut rand::rng());
                    tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "check-in failed");
                    shared.error(format!("check-in failed: {e}"));
                    let cap = Duration::from_secs(schedule.checkin_seconds.max(1));
                    next_checkin =
                        tokio::time::Instant::now() + wait.min(cap).max(Duration::from_millis(500));
                }
            }
        }
        if revoked || targets.is_empty() {
            continue;
        }
        if intake.blocked() {
            if !blocked_logged {
                blocked_logged = true;
                let t = lock(&spool).totals();
                let message = format!(
                    "spool full ({} of {} bytes, {} reports): scheduled scans skipped until uploads free space",
                    t.bytes, t.capacity, t.depth
                );
                tracing::error!("{message}");
                shared.error(message.clone());
                shared.update(|s| s.spool_error = Some(message));
            }
            continue;
        }
        if blocked_logged {
            blocked_logged = false;
            shared.update(|s| s.spool_error = None);
        }
        let now = Timestamp::now();
        let state = shared.snapshot();
        let mut due_map = BTreeMap::new();
        for t in &targets {
            let j = *jitters
                .entry(t.clone())
                .or_insert_with(|| schedule::jitter(&mut rand::rng(), schedule.jitter_seconds));
            due_map.insert(
                t.clone(),
                schedule::next_due(state.scanned.get(t).copied(), schedule.interval_seconds, j),
            );
        }
        let asked: Vec<String> = scan_now
            .iter()
            .filter(|t| !served_now.contains(*t))
            .cloned()
            .collect();
        let due = schedule::due_targets(&targets, &due_map, &asked, schedule.window.as_ref(), now);
        for key in due {
            if in_flight.len() >= schedule.concurrency.max(1) {
                break;
            }
            if in_flight.contains(&key) {
                continue;
            }
            let target = match parse_key(&key) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(target_key = %key, error = %e, "cannot scan an assigned target");
                    continue;
                }
            };
            if asked.contains(&key) {
                served_now.insert(key.clone());
            }
            jitters.remove(&key);
            in_flight.insert(key.clone());
            let (scanner, tx) = (scanner.clone(), tx.clone());
            tracing::debug!(target_key = %key, "scan starting");
            let handle = tasks.spawn(async move {
                let report = scanner.scan(&target).await;
                let _ = tx.send(report);
            });
            task_keys.insert(handle.id(), key);
        }
    }

    // Graceful stop: no new scans; spool what is in flight.
    tracing::info!(
        in_flight = in_flight.len(),
        "stopping: waiting for scans in flight"
    );
    let deadline = tokio::time::Instant::now() + options.grace;
    while !in_flight.is_empty() {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(report)) => {
                in_flight.remove(&format!("{}:{}", report.target.host, report.target.port));
                intake.take(report);
            }
            _ => break,
        }
    }
    if !in_flight.is_empty() {
        tracing::warn!(
            abandoned = in_flight.len(),
            "grace period over: unfinished scans abandoned"
        );
    }
    intake.flush();
    if !intake.pending.is_empty() {
        tracing::error!(
            lost = intake.pending.len(),
            "reports could not be spooled before exit"
        );
    }
    shared.save_if_dirty();
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), uploader).await;
    tasks.abort_all();
    let t = lock(&spool).totals();
    tracing::info!(spool_depth = t.depth, "stopped");
    Ok(RunSummary {
        targets: targets.len(),
        spooled: t.depth,
        ..Default::default()
    })
}

/// The scan target of a server target key `host:port` (IPv6 hosts come without brackets).
fn parse_key(key: &str) -> Result<Target, crate::target::TargetError> {
    match key.rsplit_once(':') {
        Some((host, port)) if host.contains(':') && !host.starts_with('[') => {
            Target::parse(&format!("[{host}]:{port}"))
        }
        _ => Target::parse(key),
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn uploader(
    spool: Arc<Mutex<Spool>>,
    client: ServerClient,
    shared: Arc<Shared>,
    wake: Arc<Notify>,
    server_back: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::default();
    loop {
        let mut counts = PassCounts::default();
        let pass = upload_pass(&spool, &client, &mut counts).await;
        if counts.stored + counts.duplicate > 0 {
            tracing::info!(
                stored = counts.stored,
                duplicate = counts.duplicate,
                "reports uploaded"
            );
        }
        // What to wait for before the next pass.
        let wait: Option<Duration>;
        let mut listen_wake = false;
        match pass {
            Ok(Pass::Drained) => {
                if backoff.failures() > 0 || counts.stored + counts.duplicate > 0 {
                    shared.contact();
                }
                backoff.reset();
                wait = None;
                listen_wake = true;
            }
            Ok(Pass::Revoked(e)) => {
                tracing::error!(error = %e, "credential revoked or invalid: uploads stopped, spool kept");
                shared.error(e.to_string());
                wait = Some(REVOKED_RETRY);
            }
            Ok(Pass::Retry(e)) => {
                if counts.stored + counts.duplicate > 0 {
                    backoff.reset();
                }
                let delay = backoff.fail(&mut rand::rng());
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, attempt = backoff.failures(), "upload failed; will retry");
                shared.error(format!("upload failed: {e}"));
                wait = Some(delay);
            }
            Err(e) => {
                tracing::error!(error = %e, "spool error during upload");
                shared.error(e.to_string());
                wait = Some(Duration::from_secs(5));
            }
        }
        let sleep = async {
            match wait {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = sleep => {}
            _ = wake.notified(), if listen_wake => {}
            _ = server_back.notified(), if !listen_wake => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

async fn run_once(
    config: &AgentConfig,
    options: &RunOptions,
    client: &ServerClient,
    spool: Arc<Mutex<Spool>>,
    shared: Arc<Shared>,
) -> Result<RunSummary, RunError> {
    let h = health(&spool, &shared.snapshot());
    let answer = match client.checkin(&h).await {
        Ok(a) => a,
        Err(e) => {
            shared.error(format!("check-in failed: {e}"));
            return Err(e.into());
        }
    };
    let targets: Vec<String> = answer.targets.iter().map(|t| t.target.clone()).collect();
    {
        let (t, s) = (targets.clone(), answer.schedule.clone());
        shared.update(|st| {
            st.targets = t;
            st.schedule = Some(s);
            st.last_contact = Some(Timestamp::now());
            st.last_error = None;
            st.last_error_at = None;
        });
    }
    let scanner = scanner_for(config, options, &answer.schedule)?;
    let now = Timestamp::now();
    let state = shared.snapshot();
    let due_map: BTreeMap<String, Option<Timestamp>> = targets
        .iter()
        .map(|t| {
            let due = schedule::next_due(
                state.scanned.get(t).copied(),
                options.effective(answer.schedule.clone()).interval_seconds,
                SignedDuration::ZERO,
            );
            (t.clone(), due)
        })
        .collect();
    let due = schedule::due_targets(
        &targets,
        &due_map,
        &answer.scan_now,
        answer.schedule.window.as_ref(),
        now,
    );
    let mut summary = RunSummary {
        targets: targets.len(),
        ..Default::default()
    };
    let parsed: Vec<Target> = due
        .iter()
        .filter_map(|k| match parse_key(k) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(target_key = %k, error = %e, "cannot scan an assigned target");
                None
            }
        })
        .collect();
    tracing::info!(due = parsed.len(), targets = targets.len(), "scanning");
    let mut intake = Intake {
        spool: spool.clone(),
        shared: shared.clone(),
        pending: VecDeque::new(),
        warned: false,
        full: false,
        wake: Arc::new(Notify::new()),
    };
    {
        use futures::StreamExt;
        let mut reports = Box::pin(scanner.scan_all(parsed));
        while let Some(report) = reports.next().await {
            summary.scanned += 1;
            intake.take(report);
        }
    }
    shared.save_if_dirty();
    let mut counts = PassCounts::default();
    let mut pass = upload_pass(&spool, client, &mut counts).await?;
    // Reports held in memory because the spool was full: spool them now that uploads freed
    // room, and upload again.
    while matches!(pass, Pass::Drained) && !intake.pending.is_empty() {
        let before = intake.pending.len();
        intake.flush();
        if intake.pending.len() == before {
            break;
        }
        pass = upload_pass(&spool, client, &mut counts).await?;
    }
    summary.stored = counts.stored;
    summary.duplicate = counts.duplicate;
    summary.rejected = counts.rejected;
    summary.corrupt = counts.corrupt;
    summary.spooled = lock(&spool).totals().depth;
    let unspooled = intake.pending.len();
    match pass {
        Pass::Drained if unspooled == 0 => {
            shared.contact();
            Ok(summary)
        }
        Pass::Drained => Err(RunError::Settings(format!(
            "{unspooled} report(s) do not fit in the spool (capacity {} bytes): raise --spool-max-bytes; they were not uploaded",
            lock(&spool).capacity()
        ))),
        Pass::Revoked(cause) | Pass::Retry(cause) => {
            shared.error(cause.to_string());
            Err(RunError::NotUploaded {
                left: summary.spooled,
                cause,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_run_parses_server_target_keys() {
        let t = parse_key("sct.dongnai.gov.vn:443").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("sct.dongnai.gov.vn", 443));
        let t = parse_key("::1:8443").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 8443));
        let t = parse_key("127.0.0.1:80").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 80));
    }
}
