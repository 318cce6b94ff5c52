//! `canhgac-demo`: local fixture websites with good and bad TLS set-ups, scanned by the agent.
//!
//! Until the server exists this is the project's "run" command: it starts seven agency-like
//! sites on 127.0.0.1 (names from a provincial department's system list, under a made-up
//! `tinh-demo.gov.vn`), scans them with the agent's scanner exactly as `canhgac-agent scan`
//! would, and prints what an appraiser would read. Nothing leaves loopback.

use std::time::Duration;

use anyhow::{Context, Result};
use canhgac_agent::output;
use canhgac_agent::probe::tls::TrustStore;
use canhgac_agent::scan::{ScanOptions, Scanner};
use canhgac_agent::target::{Overrides, Target};
use canhgac_policies::report::{AgentInfo, ScanReport};
use canhgac_testkit::{LegacyHelloPeer, OpensslBuilder, TestPki, TlsSite};
use clap::Parser;
use comfy_table::Table;
use futures::StreamExt;

#[derive(Parser)]
#[command(
    name = "canhgac-demo",
    about = "Scan local fixture agency sites with the canhgac agent (loopback only)"
)]
struct Cli {
    /// Print JSON Lines reports instead of tables.
    #[arg(long)]
    json: bool,
    /// Keep the sites running after the scan (until Ctrl-C) and print how to scan them by hand.
    #[arg(long)]
    serve: bool,
}

/// A running fixture, whatever serves it.
enum Fixture {
    Rustls(TlsSite),
    Openssl(canhgac_testkit::OpensslServer),
    Legacy(LegacyHelloPeer),
}

impl Fixture {
    fn port(&self) -> u16 {
        match self {
            Fixture::Rustls(s) => s.port(),
            Fixture::Openssl(s) => s.port(),
            Fixture::Legacy(s) => s.port(),
        }
    }
}

struct Site {
    host: &'static str,
    system: &'static str,
    setup: &'static str,
    fixture: Fixture,
}

fn start_sites() -> Result<Vec<Site>> {
    let pki = TestPki::shared();
    let mut sites = vec![
        Site {
            host: "sct.tinh-demo.gov.vn",
            system: "Trang thông tin điện tử Sở Công Thương (cấp độ 2)",
            setup: "good: TLS 1.2/1.3, valid chain",
            fixture: Fixture::Rustls(
                TlsSite::builder(&pki.leaf(&["sct.tinh-demo.gov.vn"]))
                    .alpn(&["h2", "http/1.1"])
                    .start()?,
            ),
        },
        Site {
            host: "dlct.tinh-demo.gov.vn",
            system: "Cơ sở dữ liệu ngành Công Thương (cấp độ 3)",
            setup: "certificate expired 10 days ago",
            fixture: Fixture::Rustls(TlsSite::start(&pki.expired(&["dlct.tinh-demo.gov.vn"]))?),
        },
        Site {
            host: "xttm.tinh-demo.gov.vn",
            system: "Trang TTĐT Trung tâm Xúc tiến Thương mại (cấp độ 2)",
            setup: "intermediate certificate not served",
            fixture: Fixture::Rustls(TlsSite::start(
                &pki.missing_intermediate(&["xttm.tinh-demo.gov.vn"]),
            )?),
        },
        Site {
            host: "khuyencong.tinh-demo.gov.vn",
            system: "Trang TTĐT Trung tâm Khuyến công (cấp độ 2)",
            setup: "certificate for another host",
            fixture: Fixture::Rustls(TlsSite::start(&pki.wrong_host())?),
        },
        Site {
            host: "egov.tinh-demo.gov.vn",
            system: "Phần mềm một cửa điện tử (cấp độ 3)",
            setup: "self-signed certificate, TLS 1.3 only",
            fixture: Fixture::Rustls(
                TlsSite::builder(&pki.self_signed(&["egov.tinh-demo.gov.vn"]))
                    .tls13_only()
                    .start()?,
            ),
        },
        Site {
            host: "dkkm.tinh-demo.gov.vn",
            system: "Hệ thống thông tin khuyến mại (cấp độ 3)",
            setup: "old server: RC4 suites only (hello-stage peer)",
            // TLS 1.2 with TLS_RSA_WITH_RC4_128_SHA and TLS_RSA_WITH_RC4_128_MD5.
            fixture: Fixture::Legacy(LegacyHelloPeer::start(
                0x0303,
                &[0x0005, 0x0004],
                pki.leaf_rsa(&["dkkm.tinh-demo.gov.vn"]).chain_der,
            )?),
        },
    ];
    match OpensslBuilder::tls10_only()
        .names(&["dvc.tinh-demo.gov.vn"])
        .start()
    {
        Ok(server) => sites.push(Site {
            host: "dvc.tinh-demo.gov.vn",
            system: "Cổng dịch vụ công (cấp độ 3)",
            setup: "TLS 1.0 only (openssl s_server)",
            fixture: Fixture::Openssl(server),
        }),
        Err(e) => eprintln!("(skipping the TLS 1.0 site: {e:#})"),
    }
    Ok(sites)
}

fn verdict(r: &ScanReport) -> (String, String) {
    let Some(tls) = &r.tls else {
        return ("-".into(), "not probed".into());
    };
    let protocols = canhgac_policies::report::Protocols::KEYS
        .iter()
        .filter(|k| tls.protocols.get(k).flatten() == Some(true))
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let trust = match &tls.validation.error {
        None => "trusted".to_string(),
        Some(code) => code.clone(),
    };
    (protocols, trust)
}

fn main() -> Result<()> {
    canhgac_testkit::init_crypto();
    let cli = Cli::parse();
    eprintln!("canhgac demo: starting local fixture sites on 127.0.0.1 ...");
    let sites = start_sites()?;
    let dir = tempfile::tempdir()?;
    let ca = TestPki::shared().write_ca_file(dir.path());

    let mut overrides = Overrides::default();
    let mut targets = Vec::new();
    for s in &sites {
        overrides.add(&format!("{}:{}:127.0.0.1", s.host, s.fixture.port()))?;
        targets.push(Target::parse(&format!(
            "https://{}:{}/",
            s.host,
            s.fixture.port()
        ))?);
    }
    let mut options = ScanOptions::new(AgentInfo {
        name: "demo-agent".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    });
    options.overrides = overrides;
    // The demo's names are made up and pinned to 127.0.0.1: no DNS or registry lookups.
    options.probes = canhgac_agent::scan::Probes::parse("tls").map_err(anyhow::Error::msg)?;
    options.tls.timeout = Duration::from_secs(5);
    options.tls.trust = TrustStore::with_ca_file(&ca).context("test root as the agency CA")?;

    let runtime = tokio::runtime::Runtime::new()?;
    let mut reports: Vec<ScanReport> = runtime.block_on(async {
        let scanner = Scanner::new(options);
        scanner.scan_all(targets).collect().await
    });
    reports.sort_by_key(|r| {
        sites
            .iter()
            .position(|s| s.host == r.target.host)
            .unwrap_or(usize::MAX)
    });
    if cli.json {
        for r in &reports {
            println!("{}", serde_json::to_string(r)?);
        }
    } else {
        for r in &reports {
            println!("{}", output::render(r));
        }
        let mut summary = Table::new();
        summary.set_header(vec![
            "Hệ thống / system",
            "Host",
            "Set-up",
            "Protocols",
            "Trust",
        ]);
        for (s, r) in sites.iter().zip(&reports) {
            let (protocols, trust) = verdict(r);
            summary.add_row(vec![s.system, s.host, s.setup, &protocols, &trust]);
        }
        println!("{summary}");
    }
    if cli.serve {
        println!("\nSites keep running; scan them by hand, e.g.:");
        let s = &sites[0];
        println!(
            "  cargo run -p canhgac-agent -- scan {}:{} --resolve {}:{}:127.0.0.1 --ca-file {}",
            s.host,
            s.fixture.port(),
            s.host,
            s.fixture.port(),
            ca.display()
        );
        println!("Press Ctrl-C to stop.");
        runtime.block_on(tokio::signal::ctrl_c())?;
    }
    Ok(())
}
