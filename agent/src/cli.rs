//! Command-line flags, resolved into scan options, and the `scan` command's output.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use canhgac_agent::output;
use canhgac_agent::probe::tls::TrustStore;
use canhgac_agent::scan::{self, ScanOptions, Scanner};
use canhgac_agent::target::{Overrides, Target};
use canhgac_policies::report::AgentInfo;
use clap::{Args, Parser, Subcommand};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};

/// Exit status when some targets could not be scanned completely.
const INCOMPLETE: u8 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "canhgac-agent",
    version,
    about = "canhgac scanner agent: probes agency websites (TLS, certificates) and reports what it sees"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Scan targets now and print one report per target.
    ///
    /// Exit status: 0 when every target was scanned completely (whether or not it is
    /// configured well), 3 when some could not be (unreachable, not TLS, timeouts), 1 on a
    /// usage or configuration error.
    Scan(ScanArgs),
}

#[derive(Args, Debug)]
struct ScanArgs {
    /// Targets: https://host[:port]/, host, host:port or [v6]:port.
    targets: Vec<String>,
    /// Read more targets from a file, one per line (# starts a comment).
    #[arg(long = "targets", visible_alias = "targets-file", value_name = "FILE")]
    targets_file: Option<PathBuf>,
    /// Print JSON Lines (one report per line) instead of tables.
    #[arg(long)]
    json: bool,
    /// Targets scanned at the same time.
    #[arg(long, default_value_t = 16, value_name = "N")]
    concurrency: usize,
    /// Connections open at the same time to one host (politeness).
    #[arg(long, default_value_t = 2, value_name = "N")]
    per_host: usize,
    /// Pause between connections to the same host, in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    delay_ms: u64,
    /// Deadline for each connection, in seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    timeout: f64,
    /// Most connections one target receives in one scan.
    #[arg(long, default_value_t = 120, value_name = "N")]
    max_connections: u32,
    /// Extra trusted CA certificates (PEM), e.g. an agency's internal or government CA.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Connect to ADDRESS for HOST:PORT instead of resolving it (like curl).
    #[arg(long, value_name = "HOST:PORT:ADDRESS")]
    resolve: Vec<String>,
    /// The agent name recorded in reports (default: the host name).
    #[arg(long, env = "CANHGAC_AGENT_NAME")]
    agent_name: Option<String>,
}

/// Parses the command line and runs the command.
pub fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Scan(args) => scan_command(args),
    }
}

fn agent_name(given: Option<String>) -> String {
    given
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "canhgac-agent".into())
}

fn read_targets(args: &ScanArgs) -> Result<Vec<Target>> {
    let mut raw: Vec<(String, String)> = args
        .targets
        .iter()
        .map(|t| (t.clone(), "command line".to_string()))
        .collect();
    if let Some(path) = &args.targets_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read targets file {}", path.display()))?;
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if !line.is_empty() {
                raw.push((line.to_string(), format!("{}:{}", path.display(), i + 1)));
            }
        }
    }
    if raw.is_empty() {
        bail!("no targets: give them as arguments or with --targets FILE");
    }
    raw.iter()
        .map(|(t, from)| Target::parse(t).with_context(|| format!("target from {from}")))
        .collect()
}

fn scan_options(args: &ScanArgs) -> Result<ScanOptions> {
    if !(args.timeout > 0.0 && args.timeout <= 600.0) {
        bail!("--timeout must be between 0 and 600 seconds");
    }
    let mut options = ScanOptions::new(AgentInfo {
        name: agent_name(args.agent_name.clone()),
        version: env!("CARGO_PKG_VERSION").to_string(),
    });
    options.concurrency = args.concurrency.max(1);
    options.per_host = args.per_host.max(1);
    options.delay = Duration::from_millis(args.delay_ms);
    options.tls.timeout = Duration::from_secs_f64(args.timeout);
    options.tls.max_connections = args.max_connections.max(1);
    if let Some(path) = &args.ca_file {
        options.tls.trust = TrustStore::with_ca_file(path)?;
    }
    let mut overrides = Overrides::default();
    for entry in &args.resolve {
        overrides.add(entry)?;
    }
    options.overrides = overrides;
    Ok(options)
}

fn scan_command(args: ScanArgs) -> Result<ExitCode> {
    let targets = read_targets(&args)?;
    let options = scan_options(&args)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let total = targets.len();
    let progress = if std::io::stderr().is_terminal() && total > 1 {
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
            )
            .expect("valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let json = args.json;
    let incomplete = runtime.block_on(async {
        let scanner = Scanner::new(options);
        let mut reports = Box::pin(scanner.scan_all(targets));
        let mut incomplete = 0usize;
        let stdout = std::io::stdout();
        while let Some(report) = reports.next().await {
            if !scan::completed(&report) {
                incomplete += 1;
            }
            let text = if json {
                serde_json::to_string(&report).context("cannot encode report")?
            } else {
                output::render(&report)
            };
            progress.suspend(|| {
                let mut out = stdout.lock();
                writeln!(out, "{text}").and_then(|_| out.flush())
            })?;
            progress.set_message(report.target.host.clone());
            progress.inc(1);
        }
        progress.finish_and_clear();
        anyhow::Ok(incomplete)
    })?;
    if incomplete > 0 {
        eprintln!(
            "canhgac-agent: {incomplete} of {total} target(s) could not be scanned completely"
        );
        return Ok(ExitCode::from(INCOMPLETE));
    }
    Ok(ExitCode::SUCCESS)
}
