//! Command-line flags, resolved into settings, and the subcommands.

use std::io::{IsTerminal, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use canhgac_server::auth;
use canhgac_server::config::{FileSettings, Settings};
use canhgac_server::model::Role;
use canhgac_server::store::{self, Store, StoreError};
use clap::{Args, Parser, Subcommand};
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

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the API.
    Serve(Where),
    /// Accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// API tokens (for agents and scripts).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Reports for people.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Write a consistent copy of the store.
    Backup {
        #[command(flatten)]
        at: Where,
        /// Destination file.
        dest: PathBuf,
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
    Settings::resolve(file, |k| std::env::var(k).ok(), at.data.clone(), at.listen)
        .map_err(anyhow::Error::msg)
}

fn open_store(settings: &Settings) -> Result<Arc<dyn Store>> {
    std::fs::create_dir_all(&settings.data).with_context(|| {
        format!(
            "cannot create the data directory {}",
            settings.data.display()
        )
    })?;
    let path = match settings.engine.as_str() {
        "sled" => settings.data.join("canhgac.sled"),
        _ => settings.data.join("canhgac.redb"),
    };
    match store::open(&path, &settings.engine) {
        Ok(s) => Ok(Arc::from(s)),
        Err(StoreError::Locked { path }) => bail!(
            "the store at {path} is in use: a canhgac-server is probably running on it; stop it first (running subcommands through the live server is not built yet)"
        ),
        Err(e) => Err(e).context("cannot open the store"),
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
        Command::Serve(at) => {
            let settings = settings(config, &at)?;
            let store = open_store(&settings)?;
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "info".into()),
                )
                .with_writer(std::io::stderr)
                .init();
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind(settings.listen)
                    .await
                    .with_context(|| format!("cannot listen on {}", settings.listen))?;
                let addr = listener.local_addr()?;
                eprintln!(
                    "canhgac-server: serving http://{addr}/ ({} store in {})",
                    store.engine(),
                    settings.data.display()
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
                canhgac_server::app::launch_with_listener(&settings, store, listener, shutdown)
                    .await?;
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
            let store = open_store(&settings)?;
            let account = auth::add_account(
                store.as_ref(),
                &login,
                name.as_deref().unwrap_or(&login),
                role,
                agency,
                password.as_deref(),
                Timestamp::now(),
            )?;
            println!(
                "added {} ({:?}) to {}",
                account.login,
                account.role,
                settings.data.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(TokenCommand::Add { at, login, name }) => {
            let settings = settings(config, &at)?;
            let store = open_store(&settings)?;
            let token = auth::add_token(store.as_ref(), &login, &name, Timestamp::now())?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Report(ReportCommand::Weekly { at, week_end, json }) => {
            let settings = settings(config, &at)?;
            let week_end = match week_end {
                Some(text) => parse_date(&text)?,
                None => Timestamp::now()
                    .to_zoned_datetime(jiff::tz::TimeZone::fixed(jiff::tz::offset(7)))
                    .date(),
            };
            let store = open_store(&settings)?;
            let pack = canhgac_policies::pack::Pack::decree85();
            let figures = canhgac_server::report::weekly(store.as_ref(), &pack, week_end)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&figures)?);
            } else {
                println!("{}", canhgac_server::weekly::weekly_text_vi(&figures));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { at, dest } => {
            let settings = settings(config, &at)?;
            let store = open_store(&settings)?;
            if dest.exists() {
                bail!("{} exists: choose a new file", dest.display());
            }
            store.backup(&dest)?;
            println!(
                "backup of {} written to {}",
                settings.data.display(),
                dest.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
