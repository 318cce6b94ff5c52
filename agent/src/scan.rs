//! Scanning many targets: resolution, concurrency across hosts, politeness within one, and one
//! [`ScanReport`] per target.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use canhgac_policies::report::{
    AgentInfo, ProbeError, SCHEMA_VERSION, ScanReport, Target as ReportTarget,
};
use futures::stream::{self, Stream, StreamExt};
use jiff::Timestamp;

use crate::polite::HostGate;
use crate::probe::tls::{self, Endpoint, TlsProbeConfig};
use crate::target::{Overrides, Target};

/// How a batch of targets is scanned.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Targets scanned at the same time.
    pub concurrency: usize,
    /// Connections open at the same time to one host.
    pub per_host: usize,
    /// Pause between connection starts to one host.
    pub delay: Duration,
    /// TLS probe settings.
    pub tls: TlsProbeConfig,
    /// `--resolve` entries.
    pub overrides: Overrides,
    /// Who is scanning.
    pub agent: AgentInfo,
}

impl ScanOptions {
    /// Defaults: 16 targets at once, 2 connections per host, no pause.
    pub fn new(agent: AgentInfo) -> Self {
        ScanOptions {
            concurrency: 16,
            per_host: 2,
            delay: Duration::ZERO,
            tls: TlsProbeConfig::default(),
            overrides: Overrides::default(),
            agent,
        }
    }
}

/// Scans targets; cheap to share between tasks.
#[derive(Debug, Clone)]
pub struct Scanner {
    options: Arc<ScanOptions>,
    gate: Arc<HostGate>,
}

impl Scanner {
    /// A scanner with its own host gate.
    pub fn new(options: ScanOptions) -> Self {
        let gate = Arc::new(HostGate::new(options.per_host, options.delay));
        Scanner {
            options: Arc::new(options),
            gate,
        }
    }

    /// The options in use.
    pub fn options(&self) -> &ScanOptions {
        &self.options
    }

    async fn resolve(&self, target: &Target) -> Result<SocketAddr, ProbeError> {
        if let Some(addr) = self.options.overrides.fixed(target) {
            return Ok(addr);
        }
        let timeout = self.options.tls.timeout;
        let lookup = tokio::net::lookup_host((target.host.as_str(), target.port));
        match tokio::time::timeout(timeout, lookup).await {
            Ok(Ok(mut addrs)) => addrs.next().ok_or_else(|| {
                ProbeError::new("resolve_failed", format!("{} has no address", target.host))
            }),
            Ok(Err(e)) => Err(ProbeError::new(
                "resolve_failed",
                format!("cannot resolve {}: {e}", target.host),
            )),
            Err(_) => Err(ProbeError::new(
                "timeout",
                format!("resolving {} took longer than {timeout:?}", target.host),
            )),
        }
    }

    /// Scans one target.
    pub async fn scan(&self, target: &Target) -> ScanReport {
        let started = Instant::now();
        let started_at = Timestamp::now();
        let resolved = self.resolve(target).await;
        let tls = match &resolved {
            Ok(addr) => {
                let endpoint = Endpoint {
                    host: target.host.clone(),
                    addr: *addr,
                };
                tls::probe(&endpoint, &self.options.tls, &self.gate, Timestamp::now()).await
            }
            Err(e) => tls::unreachable(e.clone(), self.options.tls.trust.label(), 0),
        };
        ScanReport {
            schema_version: SCHEMA_VERSION,
            id: uuid::Uuid::now_v7().to_string(),
            agent: self.options.agent.clone(),
            started_at,
            duration_ms: started.elapsed().as_millis() as u64,
            target: ReportTarget {
                input: target.input.clone(),
                host: target.host.clone(),
                port: target.port,
                address: resolved.ok().map(|a| a.ip().to_string()),
            },
            tls: Some(tls),
        }
    }

    /// Scans all targets, `concurrency` at a time, yielding reports as they complete.
    pub fn scan_all(&self, targets: Vec<Target>) -> impl Stream<Item = ScanReport> + '_ {
        stream::iter(targets)
            .map(move |t| async move { self.scan(&t).await })
            .buffer_unordered(self.options.concurrency.max(1))
    }
}

/// Whether a report's scan completed: the target answered TLS and every probe finished.
pub fn completed(report: &ScanReport) -> bool {
    report
        .tls
        .as_ref()
        .is_some_and(|t| t.reachable && t.error.is_none())
}
