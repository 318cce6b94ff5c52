//! Command-line flags, resolved into settings, and the subcommands.

use std::io::{IsTerminal, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use canhgac_server::auth;
use canhgac_server::config::{FileSettings, LogFormat, Overrides, Settings};
use canhgac_server::control;
use canhgac_server::model::Role;
use canhgac_server::remote::Remote;
use canhgac_server::store::{self, Store, StoreError};
use clap::{Args, Parser, Subcommand};

#[path = "cli_alerts.rs"]
mod alerts_cmd;
use jiff::Timestamp;

#[derive(Parser, Debug)]
#[command(
    name = "canhgac-server",
    version,
    about = "canhgac server: systems, Decree 85 dossiers, scan evidence"
)]
struct Cli {
    /// Configuration file (TOML); CANHGAC_* environment variables and flags override it.
    #[arg(long, global = true, env = "CANHGAC_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct Where {
    /// Data directory (embedded store).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Listening address (plain HTTP only on loopback unless allowed in the config).
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<SocketAddr>,
}

#[derive(Args, Debug, Clone)]
struct ServeArgs {
    #[command(flatten)]
    at: Where,
    /// TLS certificate chain, PEM, leaf first (with --tls-key: serve HTTPS; reloaded on change).
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// TLS private key, PEM.
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the API.
    Serve(ServeArgs),
    /// Accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// API tokens (for agents and scripts).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Reports for people.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Import from the officers' spreadsheets (docs/import-export.md).
    #[command(subcommand)]
    Import(ImportCommand),
    /// Export as spreadsheets (docs/import-export.md).
    #[command(subcommand)]
    Export(ExportCommand),
    /// Agents on agency networks (docs/agents.md).
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Write a consistent copy of the store.
    Backup {
        #[command(flatten)]
        at: Where,
        /// Destination file.
        dest: PathBuf,
    },
    /// The holiday calendar: `calendar YEAR` lists every day off of a year (date, name, lunar
    /// date), the holiday blocks and the number of working days, from the policy pack with the
    /// official schedules stored on the server; `calendar import FILE` and `calendar remove
    /// YEAR` manage those schedules (docs/workflow.md).
    Calendar(CalendarArgs),
    /// Alert e-mail: `alerts preview --holiday DATE [--agency ID]` renders a holiday's letters
    /// without sending; `alerts schedule YEAR` lists the reminder days; `alerts outbox` the
    /// outgoing mail; `alerts test --to EMAIL` sends a test message (docs/alerts.md).
    #[command(subcommand)]
    Alerts(alerts_cmd::AlertsCommand),
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct CalendarArgs {
    #[command(subcommand)]
    command: Option<CalendarCommand>,
    #[command(flatten)]
    show: CalendarShow,
}

#[derive(Args, Debug)]
struct CalendarShow {
    /// The Gregorian year, e.g. 2026.
    #[arg(required = true, value_parser = clap::value_parser!(i16).range(1900..=2199))]
    year: Option<i16>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    at: Where,
}

#[derive(Subcommand, Debug)]
enum CalendarCommand {
    /// The same as `calendar YEAR`.
    Show(CalendarShow),
    /// Store the government's official holiday schedule: a TOML file of `[[schedule]]` entries
    /// (one or more years), which replaces the policy pack's schedules of those years.
    Import {
        #[command(flatten)]
        at: Where,
        /// The file (UTF-8 TOML).
        file: PathBuf,
        /// Print what changed as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove the official schedule stored for a year: the policy pack's data applies again.
    Remove {
        #[command(flatten)]
        at: Where,
        /// The Gregorian year.
        #[arg(value_parser = clap::value_parser!(i16).range(1900..=2199))]
        year: i16,
        /// Print what changed as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Add an account; the password is read from standard input when it is not a terminal.
    Add {
        #[command(flatten)]
        at: Where,
        /// Login name.
        #[arg(long)]
        login: String,
        /// administrator, appraiser, approver, agency_officer, viewer or agent.
        #[arg(long)]
        role: String,
        /// The agency id (agency officers and agents).
        #[arg(long)]
        agency: Option<String>,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum ImportCommand {
    /// Import the inventory of systems from a CSV or XLSX file; all or nothing unless
    /// --skip-bad-rows; re-importing the same file changes nothing.
    Inventory {
        #[command(flatten)]
        at: Where,
        /// The file (CSV UTF-8, comma or semicolon, or XLSX).
        file: PathBuf,
        /// The owner agency of rows without an owner column (id, short code or name).
        #[arg(long)]
        agency: Option<String>,
        /// Import the good rows and report the bad ones.
        #[arg(long)]
        skip_bad_rows: bool,
        /// Check and count, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON (as the API answers).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum ExportCommand {
    /// Export the systems in the officers' spreadsheet layout.
    Systems {
        #[command(flatten)]
        at: Where,
        /// csv (UTF-8 with BOM) or xlsx.
        #[arg(long, default_value = "csv")]
        format: String,
        /// The file to write (default: standard output).
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Only the systems of this agency and its sub-agencies (id, short code or name).
        #[arg(long)]
        agency: Option<String>,
        /// A filter of GET /api/v1/systems, e.g. level=2,3 or dossier_state=none (repeatable).
        #[arg(long = "filter", value_name = "NAME=VALUE")]
        filters: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
enum ReportCommand {
    /// The weekly dossier figures: a Vietnamese paragraph for the weekly letter, or JSON.
    Weekly {
        #[command(flatten)]
        at: Where,
        /// The last day of the week (dd/mm/yyyy or yyyy-mm-dd; default: today in Vietnam).
        #[arg(long)]
        week_end: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Also write the report as an XLSX workbook to this file.
        #[arg(long, value_name = "FILE")]
        xlsx: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum AgentCommand {
    /// Create a one-time enrollment token for an agency's network and print it (shown once).
    Enrollment {
        #[command(flatten)]
        at: Where,
        /// The agency whose systems the agent will scan, with its sub-agencies (id, short code
        /// or name).
        #[arg(long)]
        agency: String,
        /// A label for the network, e.g. "LAN Sở Công Thương".
        #[arg(long)]
        network: String,
        /// Hours until the token expires (1-168).
        #[arg(long, default_value_t = 24)]
        expires_in_hours: u32,
    },
    /// List the enrolled agents (silent ones flagged).
    List {
        #[command(flatten)]
        at: Where,
        /// Print JSON (as `GET /api/v1/agents` answers).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Issue a token for an account and print it (it is stored only as a hash).
    Add {
        #[command(flatten)]
        at: Where,
        /// The account.
        #[arg(long)]
        login: String,
        /// A label for the token.
        #[arg(long, default_value = "token")]
        name: String,
    },
}

fn settings(config: Option<&Path>, at: &Where) -> Result<Settings> {
    let flags = Overrides {
        data: at.data.clone(),
        listen: at.listen,
        ..Overrides::default()
    };
    settings_with(config, flags)
}

fn settings_with(config: Option<&Path>, flags: Overrides) -> Result<Settings> {
    let file = match config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read the config file {}", p.display()))?;
            Some(
                toml::from_str::<FileSettings>(&text)
                    .with_context(|| format!("config file {}", p.display()))?,
            )
        }
        None => None,
    };
    Settings::resolve_with(file, |k| std::env::var(k).ok(), flags).map_err(anyhow::Error::msg)
}

fn store_path(settings: &Settings) -> PathBuf {
    match settings.engine.as_str() {
        "sled" => settings.data.join("canhgac.sled"),
        _ => settings.data.join("canhgac.redb"),
    }
}

/// Opens the store; `None` when another process (a running server) holds it.
fn try_open_store(settings: &Settings) -> Result<Option<Arc<dyn Store>>> {
    // The data directory holds the store and serve.json (a local administrator's token): only
    // the server's account may enter it.
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(&settings.data)
        .with_context(|| {
            format!(
                "cannot create the data directory {}",
                settings.data.display()
            )
        })?;
    match store::open(&store_path(settings), &settings.engine) {
        Ok(s) => Ok(Some(Arc::from(s))),
        Err(StoreError::Locked { .. }) => Ok(None),
        Err(e) => Err(e).context("cannot open the store"),
    }
}

fn open_store(settings: &Settings) -> Result<Arc<dyn Store>> {
    match try_open_store(settings)? {
        Some(store) => Ok(store),
        None => {
            let by = match canhgac_server::control::read(&settings.data) {
                Ok(Some(info)) if info.is_alive() => {
                    format!("a canhgac-server (pid {}) is running on it", info.pid)
                }
                _ => "another canhgac-server process holds it".to_string(),
            };
            bail!(
                "the store at {} is in use: {by}; stop it first",
                store_path(settings).display()
            )
        }
    }
}

/// Where a subcommand does its work: on the store itself, or through the server running on it.
enum Via {
    /// The store, opened by this process.
    Store(Arc<dyn Store>),
    /// The running server (the store is locked by it).
    Server(Remote),
}

/// Opens the store, or finds the server that holds it, and says on standard error which.
fn store_or_server(settings: &Settings) -> Result<Via> {
    // A server that has just taken the lock announces itself a moment later, and another
    // subcommand may be about to release the store: wait a little before giving up.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match store_or_server_once(settings) {
            Err(e)
                if std::time::Instant::now() < deadline
                    && matches!(
                        e.downcast_ref::<canhgac_server::remote::RemoteError>(),
                        Some(canhgac_server::remote::RemoteError::NoServer(_))
                    ) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

fn store_or_server_once(settings: &Settings) -> Result<Via> {
    match try_open_store(settings)? {
        Some(store) => {
            // This process holds the store: a serve.json there was left by a killed server.
            if settings.engine != "memory" && control::serve_file(&settings.data).exists() {
                let pid = control::read(&settings.data)
                    .ok()
                    .flatten()
                    .map(|i| format!(" (pid {})", i.pid))
                    .unwrap_or_default();
                let _ = std::fs::remove_file(control::serve_file(&settings.data));
                eprintln!(
                    "canhgac-server: removed the stale {} of a server that is no longer running{pid}",
                    control::serve_file(&settings.data).display()
                );
            }
            eprintln!(
                "canhgac-server: trực tiếp trên kho dữ liệu / directly on the store {}",
                store_path(settings).display()
            );
            Ok(Via::Store(store))
        }
        None => {
            let remote = Remote::locate(&settings.data)?;
            eprintln!(
                "canhgac-server: qua máy chủ đang chạy / through the running server at {}",
                remote.describe()
            );
            Ok(Via::Server(remote))
        }
    }
}

fn parse_role(role: &str) -> Result<Role> {
    serde_json::from_value(serde_json::Value::String(role.to_string())).map_err(|_| {
        anyhow::anyhow!(
            "unknown role {role:?}: administrator, appraiser, approver, agency_officer, viewer or agent"
        )
    })
}

fn parse_date(text: &str) -> Result<jiff::civil::Date> {
    if let Ok(d) = text.parse::<jiff::civil::Date>() {
        return Ok(d);
    }
    let parts: Vec<&str> = text.split('/').collect();
    if let [d, m, y] = parts[..]
        && let (Ok(d), Ok(m), Ok(y)) = (d.parse::<i8>(), m.parse::<i8>(), y.parse::<i16>())
        && let Ok(date) = jiff::civil::Date::new(y, m, d)
    {
        return Ok(date);
    }
    bail!("{text:?} is not a date: write dd/mm/yyyy or yyyy-mm-dd")
}

fn read_password() -> Result<Option<String>> {
    if std::io::stdin().is_terminal() {
        bail!(
            "pipe the password on standard input (for example: printf '%s' \"$PW\" | canhgac-server user add ...)"
        );
    }
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s)?;
    let s = s.trim_end_matches(['\n', '\r']).to_string();
    Ok((!s.is_empty()).then_some(s))
}

/// Parses the command line and runs the command.
pub fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    let config = cli.config.as_deref();
    match cli.command {
        Command::Serve(args) => {
            let flags = Overrides {
                data: args.at.data.clone(),
                listen: args.at.listen,
                tls_cert: args.tls_cert.clone(),
                tls_key: args.tls_key.clone(),
            };
            let settings = settings_with(config, flags)?;
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            let tls = canhgac_server::transport::tls::Tls::from_settings(&settings)?;
            let store = open_store(&settings)?;
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info".into());
            match settings.log_format {
                LogFormat::Text => tracing_subscriber::fmt()
                    .with_env_filter(filter)
                    .with_writer(std::io::stderr)
                    .init(),
                LogFormat::Json => tracing_subscriber::fmt()
                    .json()
                    .flatten_event(true)
                    .with_env_filter(filter)
                    .with_writer(std::io::stderr)
                    .init(),
            }
            let scheme = if tls.is_some() { "https" } else { "http" };
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind(settings.listen)
                    .await
                    .with_context(|| format!("cannot listen on {}", settings.listen))?;
                let addr = listener.local_addr()?;
                let control = control::Control::bind()
                    .await
                    .context("cannot listen on loopback for the local control channel")?;
                let info = control.info(&addr.to_string())?;
                let serve_file = control::ServeFile::write(&settings.data, &info)
                    .context("cannot write the control file")?;
                eprintln!(
                    "canhgac-server: serving {scheme}://{addr}/ ({} store in {})",
                    store.engine(),
                    settings.data.display()
                );
                eprintln!(
                    "canhgac-server: local control channel on {} (see {})",
                    info.url,
                    serve_file.path().display()
                );
                let shutdown = async {
                    let mut term =
                        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                            .expect("SIGTERM handler");
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                };
                canhgac_server::app::launch(
                    &settings,
                    store,
                    listener,
                    Some(control),
                    tls,
                    shutdown,
                )
                .await?;
                drop(serve_file);
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::User(UserCommand::Add {
            at,
            login,
            role,
            agency,
            name,
        }) => {
            let settings = settings(config, &at)?;
            let role = parse_role(&role)?;
            let password = if role == Role::Agent {
                None
            } else {
                read_password()?
            };
            let (login, role) = match store_or_server(&settings)? {
                Via::Store(store) => {
                    let account = auth::add_account(
                        store.as_ref(),
                        &login,
                        name.as_deref().unwrap_or(&login),
                        role,
                        agency,
                        password.as_deref(),
                        Timestamp::now(),
                    )?;
                    (account.login, account.role)
                }
                Via::Server(server) => {
                    if let Some(a) = &agency
                        && a.parse::<canhgac_server::model::AgencyId>().is_err()
                    {
                        bail!(
                            "through the running server, --agency must be the id of an existing agency (GET /api/v1/agencies lists them), not {a:?}"
                        );
                    }
                    let added: serde_json::Value = server.post_json(
                        "/api/v1/users",
                        &serde_json::json!({
                            "login": login,
                            "display_name": name.as_deref().unwrap_or(&login),
                            "role": role,
                            "agency": agency,
                            "password": password,
                        }),
                    )?;
                    let login = added["login"].as_str().unwrap_or(&login).to_string();
                    (login, role)
                }
            };
            println!("added {login} ({role:?}) to {}", settings.data.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(TokenCommand::Add { at, login, name }) => {
            let settings = settings(config, &at)?;
            let token = match store_or_server(&settings)? {
                Via::Store(store) => {
                    auth::add_token(store.as_ref(), &login, &name, Timestamp::now())?
                }
                Via::Server(server) => {
                    let issued: serde_json::Value = server.post_json(
                        "/api/v1/tokens",
                        &serde_json::json!({"login": login, "name": name}),
                    )?;
                    issued["token"]
                        .as_str()
                        .context("the server's answer has no token")?
                        .to_string()
                }
            };
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Report(ReportCommand::Weekly {
            at,
            week_end,
            json,
            xlsx,
        }) => {
            let settings = settings(config, &at)?;
            let week_end = match week_end {
                Some(text) => parse_date(&text)?,
                None => Timestamp::now()
                    .to_zoned_datetime(jiff::tz::TimeZone::fixed(jiff::tz::offset(7)))
                    .date(),
            };
            let figures = match store_or_server(&settings)? {
                Via::Store(store) => {
                    let pack = canhgac_policies::pack::Pack::decree85();
                    canhgac_server::report::weekly(store.as_ref(), &pack, week_end)?
                }
                Via::Server(server) => server.get_json::<canhgac_server::weekly::WeeklyFigures>(
                    &format!("/api/v1/reports/weekly?week_end={week_end}&format=json"),
                )?,
            };
            if let Some(path) = &xlsx {
                write_weekly_xlsx(&figures, path)?;
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&figures)?);
            } else {
                println!("{}", canhgac_server::weekly::weekly_text_vi(&figures));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Import(ImportCommand::Inventory {
            at,
            file,
            agency,
            skip_bad_rows,
            dry_run,
            json,
        }) => {
            let settings = settings(config, &at)?;
            match store_or_server(&settings)? {
                Via::Store(store) => import_inventory_command(
                    store.as_ref(),
                    &file,
                    agency.as_deref(),
                    skip_bad_rows,
                    dry_run,
                    json,
                ),
                Via::Server(server) => {
                    let bytes = std::fs::read(&file)
                        .with_context(|| format!("cannot read {}", file.display()))?;
                    let report = server.import_inventory(
                        bytes,
                        agency.as_deref(),
                        skip_bad_rows,
                        dry_run,
                    )?;
                    print_import_report(&report, json)
                }
            }
        }
        Command::Export(ExportCommand::Systems {
            at,
            format,
            output,
            agency,
            filters,
        }) => {
            let settings = settings(config, &at)?;
            match store_or_server(&settings)? {
                Via::Store(store) => export_systems_command(
                    store.as_ref(),
                    &format,
                    output.as_deref(),
                    agency.as_deref(),
                    &filters,
                ),
                Via::Server(server) => {
                    // The same checks as on the store, before asking the server.
                    let parsed = canhgac_server::exchange::ExportFormat::parse(&format)
                        .context("--format must be csv or xlsx")?;
                    let mut check = canhgac_server::exchange::SystemFilter::default();
                    let mut pairs = Vec::new();
                    for f in &filters {
                        let (name, value) = f
                            .split_once('=')
                            .with_context(|| format!("--filter {f:?}: write NAME=VALUE"))?;
                        if !check
                            .set(name.trim(), value.trim())
                            .map_err(anyhow::Error::msg)?
                        {
                            bail!("--filter {name:?}: not a filter (use --agency for agencies)");
                        }
                        pairs.push((name.trim(), value.trim()));
                    }
                    let (bytes, systems) =
                        server.export_systems(&format, agency.as_deref(), &pairs)?;
                    write_export(bytes, systems, parsed, output.as_deref())
                }
            }
        }
        Command::Agent(command) => agent_command(config, command),
        Command::Calendar(args) => calendar_command(config, args),
        Command::Alerts(command) => alerts_cmd::run(config, command),
        Command::Backup { at, dest } => {
            let settings = settings(config, &at)?;
            if dest.exists() {
                bail!("{} exists: choose a new file", dest.display());
            }
            match store_or_server(&settings)? {
                Via::Store(store) => store.backup(&dest)?,
                Via::Server(server) => {
                    // The server resolves nothing against its own directory: send an absolute path.
                    let absolute = std::path::absolute(&dest)
                        .with_context(|| format!("cannot resolve {}", dest.display()))?;
                    let _: serde_json::Value = server.post_json(
                        "/api/v1/admin/backup",
                        &serde_json::json!({"dest": absolute}),
                    )?;
                }
            }
            println!(
                "backup of {} written to {}",
                settings.data.display(),
                dest.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `agent enrollment` and `agent list`, on the store or through the running server.
fn agent_command(config: Option<&Path>, command: AgentCommand) -> Result<ExitCode> {
    use canhgac_server::agents;
    match command {
        AgentCommand::Enrollment {
            at,
            agency,
            network,
            expires_in_hours,
        } => {
            let settings = settings(config, &at)?;
            let (token, expires_at) = match store_or_server(&settings)? {
                Via::Store(store) => {
                    let id = agency_flag(store.as_ref(), &agency)?;
                    let (token, e) = agents::create_enrollment(
                        store.as_ref(),
                        id,
                        &network,
                        "cli",
                        expires_in_hours,
                        agents::Schedule::default(),
                        canhgac_server::clock::now(),
                    )?;
                    (token, e.expires_at.to_string())
                }
                Via::Server(server) => {
                    let all: Vec<canhgac_server::model::Agency> =
                        server.get_json("/api/v1/agencies")?;
                    let wanted = agency.trim();
                    let found: Vec<&canhgac_server::model::Agency> = all
                        .iter()
                        .filter(|a| {
                            a.id.to_string() == wanted.to_ascii_lowercase()
                                || a.short_code.trim().eq_ignore_ascii_case(wanted)
                                || a.name.trim() == wanted
                        })
                        .collect();
                    let id = match found[..] {
                        [one] => one.id,
                        [] => bail!("no agency with the id, short code or name {agency:?}"),
                        _ => bail!("several agencies match {agency:?}: use the id"),
                    };
                    let created: serde_json::Value = server.post_json(
                        "/api/v1/enrollments",
                        &serde_json::json!({"agency": id, "network": network, "expires_in_hours": expires_in_hours}),
                    )?;
                    (
                        created["token"]
                            .as_str()
                            .context("the server's answer has no token")?
                            .to_string(),
                        created["expires_at"].as_str().unwrap_or("?").to_string(),
                    )
                }
            };
            eprintln!(
                "canhgac-server: mã đăng ký dùng một lần, hết hạn lúc / one-time enrollment token, expires at {expires_at}"
            );
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        AgentCommand::List { at, json } => {
            let settings = settings(config, &at)?;
            let list: Vec<serde_json::Value> = match store_or_server(&settings)? {
                Via::Store(store) => {
                    let data = canhgac_server::index::IndexData::load(store.as_ref())?;
                    let now = canhgac_server::clock::now();
                    agents::list_agents(store.as_ref())?
                        .iter()
                        .map(|a| agents::view(a, &data, now, false))
                        .collect()
                }
                Via::Server(server) => server.get_json("/api/v1/agents")?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(ExitCode::SUCCESS);
            }
            if list.is_empty() {
                println!("chưa có tác tử nào / no agents");
            }
            for a in &list {
                let state = if a["revoked"] == true {
                    "revoked"
                } else if a["silent"] == true {
                    "SILENT"
                } else {
                    "ok"
                };
                println!(
                    "{}  {}  {}  {}  targets={}  last_seen={}  {state}",
                    a["id"].as_str().unwrap_or("?"),
                    a["name"].as_str().unwrap_or("?"),
                    a["agency"].as_str().unwrap_or("?"),
                    a["network"].as_str().unwrap_or("?"),
                    a["targets"],
                    a["last_seen"].as_str().unwrap_or("never"),
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `calendar YEAR`, `calendar show YEAR`, `calendar import FILE`, `calendar remove YEAR`: on the
/// store, or through the running server.
fn calendar_command(config: Option<&Path>, args: CalendarArgs) -> Result<ExitCode> {
    use canhgac_server::calendar::{self, YearChange};
    let base = canhgac_policies::pack::Pack::decree85();
    let print_changes = |changes: &[YearChange], json: bool| -> Result<()> {
        if json {
            println!("{}", serde_json::to_string_pretty(changes)?);
        } else {
            for c in changes {
                print!("{}", c.text_vi());
            }
        }
        Ok(())
    };
    match args.command {
        None => calendar_show(config, args.show),
        Some(CalendarCommand::Show(show)) => calendar_show(config, show),
        Some(CalendarCommand::Import { at, file, json }) => {
            let settings = settings(config, &at)?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {} (UTF-8 TOML)", file.display()))?;
            let changes: Vec<YearChange> = match store_or_server(&settings)? {
                Via::Store(store) => calendar::import(
                    store.as_ref(),
                    &base,
                    &text,
                    &file.display().to_string(),
                    "cli",
                    canhgac_server::clock::now(),
                )?,
                Via::Server(server) => {
                    let answer = remote_call(
                        &server,
                        reqwest::Method::PUT,
                        "/api/v1/calendar/official",
                        Some(text),
                    )?;
                    serde_json::from_value(answer["years"].clone())
                        .context("the server's answer has no years")?
                }
            };
            eprintln!(
                "canhgac-server: đã lưu lịch nghỉ chính thức năm / official schedule stored for {}",
                changes
                    .iter()
                    .map(|c| c.year.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            print_changes(&changes, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(CalendarCommand::Remove { at, year, json }) => {
            let settings = settings(config, &at)?;
            let change: YearChange = match store_or_server(&settings)? {
                Via::Store(store) => calendar::remove(store.as_ref(), &base, year)?,
                Via::Server(server) => serde_json::from_value(remote_call(
                    &server,
                    reqwest::Method::DELETE,
                    &format!("/api/v1/calendar/official/{year}"),
                    None,
                )?)
                .context("the server's answer is not a change")?,
            };
            eprintln!(
                "canhgac-server: đã xoá lịch nghỉ chính thức năm / official schedule removed for {year}"
            );
            print_changes(std::slice::from_ref(&change), json)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `calendar YEAR`: the pack's calendar with the stored official schedules (through the running
/// server when it holds the store; the pack alone when there is no store yet).
fn calendar_show(config: Option<&Path>, show: CalendarShow) -> Result<ExitCode> {
    use canhgac_server::calendar::{self, YearCalendar};
    let year = show.year.context("the year, e.g. calendar 2026")?;
    let settings = settings(config, &show.at)?;
    let base = canhgac_policies::pack::Pack::decree85();
    // A read must not create a data directory: without a store, the pack alone.
    let has_store = store_path(&settings).exists() || control::serve_file(&settings.data).exists();
    let c: YearCalendar = if has_store {
        match store_or_server(&settings)? {
            Via::Store(store) => {
                let pack = calendar::effective_pack(store.as_ref(), &base)?;
                calendar::year_in_store(store.as_ref(), &pack.calendar, year)?
            }
            Via::Server(server) => server.get_json(&format!("/api/v1/calendar/{year}"))?,
        }
    } else {
        calendar::year(&base.calendar, year)
    };
    if show.json {
        println!("{}", serde_json::to_string_pretty(&c)?);
    } else {
        print!("{}", calendar::text_vi(&c));
    }
    Ok(ExitCode::SUCCESS)
}

/// A request to the running server that `Remote` has no method for (PUT, DELETE), with its
/// local-administration token: the answer as JSON, or the server's error.
fn remote_call(
    server: &Remote,
    method: reqwest::Method,
    path: &str,
    body: Option<String>,
) -> Result<serde_json::Value> {
    let info = server.info();
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .connect_timeout(std::time::Duration::from_secs(5))
        .build()?;
    let mut request = client
        .request(method, format!("{}{path}", info.url))
        .bearer_auth(&info.token);
    if let Some(text) = body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, "application/toml")
            .body(text);
    }
    let response = request
        .send()
        .with_context(|| format!("the running server at {} did not answer", info.url))?;
    let status = response.status();
    let answer: serde_json::Value = response.json().unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        bail!(
            "{} (HTTP {} {} from the running server)",
            answer["error"]["message"].as_str().unwrap_or("error"),
            status.as_u16(),
            answer["error"]["code"].as_str().unwrap_or("error"),
        );
    }
    Ok(answer)
}

/// `report weekly --xlsx FILE`: the workbook of the province's figures.
fn write_weekly_xlsx(figures: &canhgac_server::weekly::WeeklyFigures, path: &Path) -> Result<()> {
    let bytes = canhgac_server::exchange::weekly_xlsx(figures, "toàn tỉnh")?;
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!(
        "canhgac-server: báo cáo tuần đã ghi vào / weekly report written to {}",
        path.display()
    );
    Ok(())
}

/// The agency a flag names (id, short code or name).
fn agency_flag(store: &dyn Store, text: &str) -> Result<canhgac_server::model::AgencyId> {
    use canhgac_server::exchange::import::{AgencyMatch, agency_named};
    match agency_named(store, text)? {
        AgencyMatch::One(id) => Ok(id),
        AgencyMatch::Unknown => bail!("no agency with the id, short code or name {text:?}"),
        AgencyMatch::Ambiguous(names) => {
            bail!(
                "several agencies are named {text:?} ({}): use the id or short code",
                names.join(", ")
            )
        }
    }
}

/// `import inventory FILE`: the library import on the store, then the report (exit 1 when
/// errors made it import nothing).
fn import_inventory_command(
    store: &dyn Store,
    file: &Path,
    agency: Option<&str>,
    skip_bad_rows: bool,
    dry_run: bool,
    json: bool,
) -> Result<ExitCode> {
    use canhgac_server::exchange::{ImportOptions, Scope, import_inventory};
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let owner = agency.map(|a| agency_flag(store, a)).transpose()?;
    let options = ImportOptions {
        owner,
        skip_bad_rows,
        dry_run,
        actor: None,
    };
    let pack = canhgac_policies::pack::Pack::decree85();
    let report = import_inventory(store, &pack, &bytes, &options, Scope::All, Timestamp::now())
        .map_err(|e| anyhow::anyhow!("{} [{}]", e, e.code()))?;
    print_import_report(&report, json)
}

/// Prints an import report; exit 1 when errors made it import nothing (also for imports
/// through the running server).
fn print_import_report(
    report: &canhgac_server::exchange::ImportReport,
    json: bool,
) -> Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for e in &report.errors {
            eprintln!(
                "dòng {} ({}: {:?}) [{}] {}",
                e.row, e.column, e.value, e.code, e.message
            );
        }
        println!(
            "{}tạo mới {}, cập nhật {}, không đổi {}, bỏ qua {}; hồ sơ ghi nhận {} / created {}, updated {}, unchanged {}, skipped {}, dossiers {}",
            if report.dry_run {
                "(chạy thử, không ghi / dry run) "
            } else {
                ""
            },
            report.created,
            report.updated,
            report.unchanged,
            report.skipped,
            report.dossiers_created,
            report.created,
            report.updated,
            report.unchanged,
            report.skipped,
            report.dossiers_created,
        );
        if report.rejected {
            eprintln!(
                "không nhập gì vì có lỗi; sửa tệp hoặc dùng --skip-bad-rows / nothing imported because of errors"
            );
        }
    }
    Ok(if report.rejected {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `export systems`: the library export on the store, to a file or standard output.
fn export_systems_command(
    store: &dyn Store,
    format: &str,
    output: Option<&Path>,
    agency: Option<&str>,
    filters: &[String],
) -> Result<ExitCode> {
    use canhgac_server::exchange::{
        ExportFormat, Scope, SystemFilter, export_rows, systems_csv, systems_xlsx,
    };
    let format = ExportFormat::parse(format).context("--format must be csv or xlsx")?;
    let mut filter = SystemFilter::default();
    for f in filters {
        let (name, value) = f
            .split_once('=')
            .with_context(|| format!("--filter {f:?}: write NAME=VALUE"))?;
        if !filter
            .set(name.trim(), value.trim())
            .map_err(anyhow::Error::msg)?
        {
            bail!("--filter {name:?}: not a filter (use --agency for agencies)");
        }
    }
    filter.agency = agency.map(|a| agency_flag(store, a)).transpose()?;
    let rows = export_rows(store, Scope::All, &filter)?;
    let bytes = match format {
        ExportFormat::Csv => systems_csv(&rows),
        ExportFormat::Xlsx => systems_xlsx(&rows)?,
    };
    write_export(bytes, rows.len(), format, output)
}

/// Writes an export to a file or standard output (also for exports through the running server).
fn write_export(
    bytes: Vec<u8>,
    systems: usize,
    format: canhgac_server::exchange::ExportFormat,
    output: Option<&Path>,
) -> Result<ExitCode> {
    use canhgac_server::exchange::ExportFormat;
    match output {
        Some(path) => {
            std::fs::write(path, bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "canhgac-server: {} hệ thống / systems -> {}",
                systems,
                path.display()
            );
        }
        None => {
            use std::io::Write;
            if format == ExportFormat::Xlsx && std::io::stdout().is_terminal() {
                bail!("an XLSX workbook is binary: give --output FILE or redirect standard output");
            }
            std::io::stdout().write_all(&bytes)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
