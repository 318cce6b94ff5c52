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

use canhgac_policies::content::KeywordLists;

use crate::polite::HostGate;
use crate::probe::content::{self, BaselineStore};
use crate::probe::dns::{self, DnsProbeConfig};
use crate::probe::domain::{self, DomainProbeConfig};
use crate::probe::http::{self, HttpProbeConfig, Site};
use crate::probe::tls::{self, Endpoint, TlsProbeConfig};
use crate::target::{Overrides, Target};

/// Which probes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probes {
    /// TLS: protocols, suites, certificate.
    pub tls: bool,
    /// HTTP: redirects, headers, cookies, disclosures, exposed files.
    pub http: bool,
    /// Content of the home page: spam, defacement, trust badge, baseline (needs `http`).
    pub content: bool,
    /// DNS: addresses, name servers, CAA, mail records, DNSSEC.
    pub dns: bool,
    /// Domain registration (RDAP, WHOIS).
    pub domain: bool,
}

impl Probes {
    /// Every probe.
    pub const ALL: Probes = Probes {
        tls: true,
        http: true,
        content: true,
        dns: true,
        domain: true,
    };

    /// Parses a comma-separated list such as `tls,dns`.
    pub fn parse(list: &str) -> Result<Probes, String> {
        let mut p = Probes {
            tls: false,
            http: false,
            content: false,
            dns: false,
            domain: false,
        };
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "tls" => p.tls = true,
                "http" => p.http = true,
                "content" => {
                    p.http = true;
                    p.content = true;
                }
                "dns" => p.dns = true,
                "domain" => p.domain = true,
                "all" => p = Probes::ALL,
                other => {
                    return Err(format!(
                        "unknown probe {other:?} (known: tls, http, content, dns, domain, all)"
                    ));
                }
            }
        }
        Ok(p)
    }
}

/// How a batch of targets is scanned.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Targets scanned at the same time.
    pub concurrency: usize,
    /// Connections open at the same time to one host.
    pub per_host: usize,
    /// Pause between connection starts to one host.
    pub delay: Duration,
    /// Which probes run.
    pub probes: Probes,
    /// TLS probe settings.
    pub tls: TlsProbeConfig,
    /// HTTP probe settings.
    pub http: HttpProbeConfig,
    /// Keyword lists for the content probe.
    pub keywords: KeywordLists,
    /// Where page baselines are kept (`None`: no baseline comparison).
    pub baselines: Option<BaselineStore>,
    /// DNS probe settings.
    pub dns: DnsProbeConfig,
    /// Domain probe settings.
    pub domain: DomainProbeConfig,
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
            probes: Probes::ALL,
            tls: TlsProbeConfig::default(),
            http: HttpProbeConfig::default(),
            keywords: KeywordLists::default_lists(),
            baselines: None,
            dns: DnsProbeConfig {
                resolver: None,
                timeout: Duration::from_secs(5),
                trust_anchor: None,
                https_port: 443,
                smtp_port: 25,
                trust: crate::probe::tls::TrustStore::mozilla(),
            },
            domain: DomainProbeConfig {
                rdap_bootstrap: None,
                whois_server: None,
                timeout: Duration::from_secs(10),
            },
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
        if let Some(resolver) = self.options.dns.resolver {
            // With --resolver, every lookup goes there and nowhere else.
            let addrs = dns::lookup_addresses(resolver, &target.host, timeout).await?;
            return Ok(SocketAddr::new(addrs[0], target.port));
        }
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

    /// The address of `www.<host>`, when it resolves. A target pinned with `--resolve` is
    /// scanned as given: its `www.` form only when pinned too (no lookup escapes the pins).
    async fn resolve_www(&self, target: &Target) -> Option<SocketAddr> {
        if target.host.parse::<std::net::IpAddr>().is_ok() || target.host.starts_with("www.") {
            return None;
        }
        let www = Target {
            input: String::new(),
            host: format!("www.{}", target.host),
            port: target.port,
        };
        if let Some(addr) = self.options.overrides.fixed(&www) {
            return Some(addr);
        }
        if self.options.overrides.fixed(target).is_some() {
            return None;
        }
        self.resolve(&www).await.ok()
    }

    /// Scans one target.
    pub async fn scan(&self, target: &Target) -> ScanReport {
        let started = Instant::now();
        let started_at = Timestamp::now();
        let probes = self.options.probes;
        // Only the probes that connect to the site need its address.
        let resolved = if probes.tls || probes.http {
            self.resolve(target).await
        } else {
            Err(ProbeError::new(
                "skipped",
                "not resolved: no probe connects to the site",
            ))
        };
        let is_name = target.host.parse::<std::net::IpAddr>().is_err();
        let tls_probe = async {
            if !probes.tls {
                return None;
            }
            Some(match &resolved {
                Ok(addr) => {
                    let endpoint = Endpoint {
                        host: target.host.clone(),
                        addr: *addr,
                    };
                    tls::probe(&endpoint, &self.options.tls, &self.gate, Timestamp::now()).await
                }
                Err(e) => tls::unreachable(e.clone(), self.options.tls.trust.label(), 0),
            })
        };
        let dns_probe = async {
            if !(probes.dns && is_name) {
                return None;
            }
            let mut config = self.options.dns.clone();
            config.https_port = target.port;
            Some(dns::probe(&target.host, &config).await)
        };
        let domain_probe = async {
            if !(probes.domain && is_name) {
                return None;
            }
            Some(domain::probe(&target.host, &self.options.domain, Timestamp::now()).await)
        };
        // HTTP after TLS: the two together would exceed the per-host connection limit.
        let web_probe = async {
            let tls = tls_probe.await;
            if !probes.http {
                return (tls, None, None);
            }
            let site = Site {
                host: target.host.clone(),
                https_port: target.port,
                addr: resolved.as_ref().ok().copied(),
                www_addr: self.resolve_www(target).await,
            };
            // The HTTP probe opens its connections one at a time (no keep-alive pool) and holds
            // one slot of each address it talks to for its whole run, so a host never sees more
            // than `per_host` connections from this agent, TLS and HTTP probes together. Slots
            // are taken in address order, so two scans never wait on each other crosswise.
            let mut keys: Vec<String> = [site.addr, site.www_addr]
                .iter()
                .flatten()
                .map(|a| a.ip().to_string())
                .collect();
            if keys.is_empty() {
                keys.push(target.host.clone());
            }
            keys.sort();
            keys.dedup();
            let mut permits = Vec::with_capacity(keys.len());
            for key in &keys {
                permits.push(self.gate.enter(key).await);
            }
            let (report, page) = http::probe(&site, &self.options.http, Timestamp::now()).await;
            drop(permits);
            let content = match (probes.content, page) {
                (true, Some(page)) => Some(content::analyse(
                    &page,
                    &self.options.keywords,
                    self.options.baselines.as_ref(),
                    &format!("{}_{}", target.host, target.port),
                    Timestamp::now(),
                )),
                (true, None) => Some(canhgac_policies::report::ContentReport {
                    error: Some(ProbeError::new("unreachable", "no page could be fetched")),
                    ..Default::default()
                }),
                _ => None,
            };
            (tls, Some(report), content)
        };
        let ((tls, http, content), dns, domain) = tokio::join!(web_probe, dns_probe, domain_probe);
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
            tls,
            http,
            dns,
            domain,
            content,
        }
    }

    /// Scans all targets, `concurrency` at a time, yielding reports as they complete.
    pub fn scan_all(&self, targets: Vec<Target>) -> impl Stream<Item = ScanReport> + '_ {
        stream::iter(targets)
            .map(move |t| async move { self.scan(&t).await })
            .buffer_unordered(self.options.concurrency.max(1))
    }
}

/// Whether a report's scan completed: every probe that ran finished (a TLS target that does
/// not answer TLS, or a failed domain lookup, makes it incomplete).
pub fn completed(report: &ScanReport) -> bool {
    let tls_ok = report
        .tls
        .as_ref()
        .is_none_or(|t| t.reachable && t.error.is_none());
    // A registry that offers no service for the TLD (.vn has no RDAP or public WHOIS) is
    // recorded in the report, but is not a scan that failed to complete.
    let domain_ok = report.domain.as_ref().is_none_or(|d| {
        d.error
            .as_ref()
            .is_none_or(|e| matches!(e.code.as_str(), "unavailable" | "not_registrable"))
    });
    tls_ok && domain_ok
}
