//! Command-line flags, resolved into scan options, and the `scan` command's output.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use canhgac_agent::daemon;
use canhgac_agent::output;
use canhgac_agent::probe::content::BaselineStore;
use canhgac_agent::probe::tls::TrustStore;
use canhgac_agent::scan::{self, Probes, ScanOptions, Scanner};
use canhgac_agent::target::{Overrides, Target};
use canhgac_policies::content::KeywordLists;
use canhgac_policies::pack::{Pack, evaluate};
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
    Scan(Box<ScanArgs>),
    /// Policy packs: validate one, or list what a level requires.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Enroll this agent with a canhgac server, using a one-time token from an administrator.
    ///
    /// Writes agent.toml and the credential (0600) into the state directory.
    Enroll(EnrollArgs),
    /// Run the agent daemon: check in, scan on schedule, spool and upload every report.
    ///
    /// Stops gracefully on SIGTERM or SIGINT (exit 0). With --once: one check-in, scan what is
    /// due, upload, exit (0 when everything was uploaded, 1 otherwise).
    Run(Box<RunArgs>),
    /// Show the agent's last contact, last scan, last error and spool.
    Status(StatusArgs),
}

#[derive(Args, Debug)]
struct EnrollArgs {
    /// The server URL (https://, or http:// to a loopback address only).
    #[arg(long, value_name = "URL")]
    server: String,
    /// The one-time enrollment token (cge_...).
    #[arg(
        long,
        env = "CANHGAC_ENROLLMENT_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    token: String,
    /// The agent name shown on the server (default: the host name).
    #[arg(long, env = "CANHGAC_AGENT_NAME")]
    name: Option<String>,
    /// PEM file of the CA of the server's certificate: trust only it for the server.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// The state directory.
    #[arg(long, env = "CANHGAC_AGENT_STATE_DIR", default_value = daemon::config::DEFAULT_STATE_DIR, value_name = "DIR")]
    state_dir: PathBuf,
    /// Replace an agent already enrolled in the state directory.
    #[arg(long)]
    force: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// The state directory.
    #[arg(long, env = "CANHGAC_AGENT_STATE_DIR", default_value = daemon::config::DEFAULT_STATE_DIR, value_name = "DIR")]
    state_dir: PathBuf,
    /// Bound of the spool in bytes (default: agent.toml's spool_max_bytes, else 512 MiB).
    #[arg(long, value_name = "BYTES")]
    spool_max_bytes: Option<u64>,
    /// Connect to ADDRESS for a scanned HOST:PORT instead of resolving it (like curl).
    #[arg(long, value_name = "HOST:PORT:ADDRESS")]
    resolve: Vec<String>,
    /// Extra trusted CA certificates (PEM) for the SCANNED sites (not the server: its CA is
    /// pinned at enrollment).
    #[arg(long, value_name = "FILE")]
    scan_ca_file: Option<PathBuf>,
    /// Probes to run, comma-separated: tls, http, content, dns, domain (default: agent.toml, else all).
    #[arg(long, value_name = "LIST")]
    probes: Option<String>,
    /// Deadline for each connection of a scan, in seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    timeout: f64,
    /// Port of the plain-HTTP endpoint checked for the redirect to HTTPS.
    #[arg(long, default_value_t = 80, value_name = "PORT")]
    http_port: u16,
    /// Seconds the scans in flight may take to finish after SIGTERM.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    grace: u64,
    /// Seconds between two scans of a target, instead of the server's schedule (catch-up,
    /// troubleshooting, tests).
    #[arg(long, value_name = "SECONDS")]
    scan_interval: Option<u64>,
    /// One check-in, scan everything due now, upload, exit.
    #[arg(long)]
    once: bool,
    /// With --once: print the summary as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct StatusArgs {
    /// The state directory.
    #[arg(long, env = "CANHGAC_AGENT_STATE_DIR", default_value = daemon::config::DEFAULT_STATE_DIR, value_name = "DIR")]
    state_dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum PolicyCommand {
    /// Validate a pack directory (rules, workflow, calendar); exit 0 when it loads.
    Check {
        /// The pack directory, e.g. policies/packs/decree85.
        path: PathBuf,
    },
    /// List the rules a level requires.
    Show {
        /// Security level, 1 to 5.
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=5))]
        level: u8,
        /// A pack directory (default: the shipped Decree 85 pack).
        #[arg(long, value_name = "DIR")]
        pack: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
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
    /// Probes to run, comma-separated: tls, http, content, dns, domain (default: all).
    #[arg(long, default_value = "all", value_name = "LIST")]
    probes: String,
    /// DNS resolver to ask, ADDRESS[:PORT] (default: the system's).
    #[arg(long, value_name = "ADDRESS[:PORT]")]
    resolver: Option<String>,
    /// DNSSEC trust anchors (DNSKEY records, zone-file format) instead of the root's.
    #[arg(long, value_name = "FILE")]
    dns_trust_anchor: Option<PathBuf>,
    /// SMTP port tried on each mail exchanger for STARTTLS.
    #[arg(long, default_value_t = 25, value_name = "PORT")]
    smtp_port: u16,
    /// RDAP bootstrap registry (IANA dns.json format): a URL or a file.
    #[arg(long, value_name = "URL|FILE")]
    rdap_bootstrap: Option<String>,
    /// WHOIS server to ask instead of the registry's, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    whois_server: Option<String>,
    /// Port of the plain-HTTP endpoint checked for the redirect to HTTPS.
    #[arg(long, default_value_t = 80, value_name = "PORT")]
    http_port: u16,
    /// Keep page baselines here and report how far each page moved since the last scan.
    #[arg(long, value_name = "DIR")]
    baseline_dir: Option<PathBuf>,
    /// Keyword lists for the content checks (default: the shipped policies/packs/content/keywords.toml).
    #[arg(long, value_name = "FILE")]
    keywords: Option<PathBuf>,
    /// Evaluate each report against this Decree 85 level (1-5): failures first, with
    /// remediation; with --json, adds `evaluation` to each report.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=5), value_name = "N")]
    level: Option<u8>,
    /// The policy pack directory to evaluate with (default: the shipped Decree 85 pack).
    #[arg(long, value_name = "DIR")]
    pack: Option<PathBuf>,
    /// The agent name recorded in reports (default: the host name).
    #[arg(long, env = "CANHGAC_AGENT_NAME")]
    agent_name: Option<String>,
}

/// Parses the command line and runs the command.
pub fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Scan(args) => scan_command(*args),
        Command::Policy(PolicyCommand::Check { path }) => {
            let pack = Pack::load(&path)?;
            let levels: Vec<String> = (1..=5u8)
                .map(|l| format!("level {l}: {} rules", pack.rules_at(l).count()))
                .collect();
            println!(
                "{}: pack {} {} is valid: {} rules ({}), workflow for 5 levels, {} documents, calendar loaded",
                path.display(),
                pack.id,
                pack.version,
                pack.rules.len(),
                levels.join(", "),
                pack.workflow.document.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Enroll(args) => enroll_command(args),
        Command::Run(args) => run_command(*args),
        Command::Status(args) => status_command(args),
        Command::Policy(PolicyCommand::Show { level, pack, json }) => {
            let pack = load_pack(pack.as_deref())?;
            print!("{}", output::render_level(&pack, level, json)?);
            Ok(ExitCode::SUCCESS)
        }
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
    options.probes = Probes::parse(&args.probes).map_err(anyhow::Error::msg)?;
    if let Some(r) = &args.resolver {
        options.dns.resolver = Some(parse_resolver(r)?);
    }
    options.dns.trust_anchor = args.dns_trust_anchor.clone();
    options.dns.smtp_port = args.smtp_port;
    options.dns.timeout = options.tls.timeout.min(Duration::from_secs(10));
    options.dns.trust = options.tls.trust.clone();
    options.domain.rdap_bootstrap = args.rdap_bootstrap.clone();
    options.domain.whois_server = args.whois_server.clone();
    options.domain.timeout = options.tls.timeout;
    options.http.http_port = args.http_port;
    options.http.timeout = options.tls.timeout;
    options.baselines = args.baseline_dir.clone().map(BaselineStore::new);
    if let Some(path) = &args.keywords {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read keyword file {}", path.display()))?;
        options.keywords = KeywordLists::from_toml_str(&text, &path.display().to_string())?;
    }
    let mut overrides = Overrides::default();
    for entry in &args.resolve {
        overrides.add(entry)?;
    }
    options.overrides = overrides;
    Ok(options)
}

fn parse_resolver(text: &str) -> Result<std::net::SocketAddr> {
    if let Ok(addr) = text.parse::<std::net::SocketAddr>() {
        return Ok(addr);
    }
    let ip: std::net::IpAddr = text
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .with_context(|| {
            format!("invalid --resolver {text:?}: expected ADDRESS or ADDRESS:PORT")
        })?;
    Ok(std::net::SocketAddr::new(ip, 53))
}

fn load_pack(dir: Option<&std::path::Path>) -> Result<Pack> {
    Ok(match dir {
        Some(d) => Pack::load(d)?,
        None => Pack::decree85(),
    })
}

fn scan_command(args: ScanArgs) -> Result<ExitCode> {
    let targets = read_targets(&args)?;
    let policy = match args.level {
        Some(level) => Some((load_pack(args.pack.as_deref())?, level)),
        None => None,
    };
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
            let evaluation = policy
                .as_ref()
                .map(|(pack, level)| evaluate(pack, &report, *level));
            let text = if json {
                let mut value = serde_json::to_value(&report).context("cannot encode report")?;
                if let Some(e) = &evaluation {
                    value["evaluation"] = serde_json::to_value(e)?;
                }
                value.to_string()
            } else {
                let mut text = output::render(&report);
                if let Some(e) = &evaluation {
                    text.push('\n');
                    text.push_str(&output::render_evaluation(e));
                }
                text
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

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CANHGAC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

fn enroll_command(args: EnrollArgs) -> Result<ExitCode> {
    init_logs();
    let state = daemon::config::StateDir::new(&args.state_dir);
    let request = daemon::enroll::EnrollRequest {
        server: args.server.clone(),
        token: args.token.clone(),
        name: agent_name(args.name.clone()),
        hostname: agent_name(None),
        ca_file: args.ca_file.clone(),
        force: args.force,
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let (config, _) = runtime.block_on(daemon::enroll::enroll(&state, &request))?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "agent_id": config.agent_id,
                "name": config.name,
                "login": config.login,
                "agency": config.agency,
                "network": config.network,
                "server": config.server,
                "state_dir": state.root(),
            })
        );
    } else {
        println!(
            "enrolled as {} ({}) with {} for {} {}; state in {}",
            config.name,
            config.agent_id,
            config.server,
            config.agency,
            config.network,
            state.root().display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn run_command(args: RunArgs) -> Result<ExitCode> {
    init_logs();
    if !(args.timeout > 0.0 && args.timeout <= 600.0) {
        bail!("--timeout must be between 0 and 600 seconds");
    }
    let options = daemon::run::RunOptions {
        state: daemon::config::StateDir::new(&args.state_dir),
        spool_max_bytes: args.spool_max_bytes,
        resolve: args.resolve.clone(),
        scan_ca_file: args.scan_ca_file.clone(),
        probes: args.probes.clone(),
        timeout: Duration::from_secs_f64(args.timeout),
        http_port: args.http_port,
        once: args.once,
        grace: Duration::from_secs(args.grace),
        scan_interval: args.scan_interval,
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let summary = runtime.block_on(daemon::run::run(options))?;
    if args.once {
        if args.json {
            println!("{}", serde_json::to_string(&summary)?);
        } else {
            println!(
                "{} target(s), {} scanned, {} stored, {} duplicate, {} rejected, {} corrupt, {} left in the spool",
                summary.targets,
                summary.scanned,
                summary.stored,
                summary.duplicate,
                summary.rejected,
                summary.corrupt,
                summary.spooled
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn status_command(args: StatusArgs) -> Result<ExitCode> {
    let state = daemon::config::StateDir::new(&args.state_dir);
    let status = daemon::status::read(&state, None)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!(
            "{}",
            daemon::status::render(&status, jiff::Timestamp::now())
        );
    }
    Ok(ExitCode::SUCCESS)
}
