//! `canhgac-demo`: the whole system on one machine, on loopback only.
//!
//! Starts `canhgac-server` (in process, through its library) on embedded storage in a temporary
//! or given directory, loads a sample province built from the seeds' facts through the API
//! (agencies, accounts for every role, Sở Công Thương Đồng Nai's five systems and five more,
//! dossiers in every workflow state with uploaded documents), starts local fixture websites
//! with good and bad set-ups, runs an agent that scans them on a short schedule and uploads its
//! reports, prints the URL, the logins and a few `curl` examples, and serves until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use canhgac_testkit::TestPki;
use canhgac_testkit::demo::agent::{self, AgentPlan, AgentStats};
use canhgac_testkit::demo::province::{self, Api, DEMO_PASSWORD};
use canhgac_testkit::demo::sites::DemoSites;
use clap::Parser;
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "canhgac-demo",
    about = "The whole canhgac system on loopback: server, sample province, fixture sites, agent"
)]
struct Cli {
    /// Data directory (kept); default: a temporary directory removed at exit.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Listening address of the server (loopback only).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8440")]
    listen: SocketAddr,
    /// Seconds between two scans of a site by the agent.
    #[arg(long, default_value_t = 60)]
    interval: u64,
}

fn step(text: &str) {
    eprintln!("canhgac demo: {text}");
}

fn main() -> Result<()> {
    canhgac_testkit::init_crypto();
    let cli = Cli::parse();
    canhgac_testkit::demo::check_loopback(cli.listen)?;
    let temp;
    let data = match &cli.data {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::Builder::new().prefix("canhgac-demo-").tempdir()?;
            temp.path().to_path_buf()
        }
    };
    step(&format!("opening the store in {}", data.display()));
    let boot = canhgac_testkit::demo::bootstrap(&data, cli.listen)?;
    let saved_path = data.join("demo.json");
    // The fixture ports of a previous run on the same data (its systems' URLs name them).
    let saved: Option<(u16, u16)> = std::fs::read(&saved_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| {
            Some((
                v["https_port"].as_u64()? as u16,
                v["http_port"].as_u64()? as u16,
            ))
        });
    let specs: Vec<(&str, &str, _)> = province::SYSTEMS
        .iter()
        .map(|s| (s.host, s.name, s.setup))
        .collect();
    step(&format!(
        "starting {} fixture websites on 127.0.2.1-{} ...",
        specs.len(),
        specs.len()
    ));
    let sites = DemoSites::start(&specs, saved.filter(|_| !boot.fresh))
        .context("cannot start the fixture websites (a demo on the same data still running?)")?;
    std::fs::write(
        &saved_path,
        serde_json::to_vec(&json!({"https_port": sites.https_port, "http_port": sites.http_port}))?,
    )?;
    let ca = TestPki::shared().write_ca_file(&data);

    // Alert e-mail goes to a local SMTP sink: nothing leaves loopback.
    let mail_sink = canhgac_testkit::smtp_server::SmtpServer::builder()
        .hostname("mail.demo.stttt.example.gov.vn")
        .accept_mail()
        .start()
        .context("cannot start the local SMTP sink")?;
    let mut boot = boot;
    boot.settings.mail = Some(canhgac_server::alerts::settings::MailSettings {
        host: "127.0.0.1".into(),
        port: mail_sink.port(),
        security: canhgac_server::alerts::settings::Security::None,
        username: None,
        password: None,
        from: "Canh gác demo <canhgac@stttt.example.gov.vn>".into(),
        ca_file: None,
        timeout: Duration::from_secs(10),
    });
    boot.settings.alerts.security_staff =
        vec![canhgac_server::model::Email::new(DEMO_SOC).expect("a valid address")];
    boot.settings.alerts.tick = Duration::from_secs(5);
    let mail_sink = &mail_sink;

    let runtime = tokio::runtime::Runtime::new()?;
    let fixtures = sites;
    let sites = &fixtures;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(boot.settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", boot.settings.listen))?;
        let addr = listener.local_addr()?;
        let root = format!("http://{addr}");
        let control = canhgac_server::control::Control::bind().await?;
        let info = control.info(&addr.to_string())?;
        let serve_file = canhgac_server::control::ServeFile::write(&data, &info)?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let server = {
            let settings = boot.settings.clone();
            let store = boot.store.clone();
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                canhgac_server::app::launch(&settings, store, listener, Some(control), None, async move {
                    let _ = stop.changed().await;
                })
                .await
            })
        };
        step(&format!("server listening on {root}/"));
        let api = Api::new(&root)?;
        let admin = boot.admin_token.clone();
        if boot.fresh {
            step("loading the sample province (Đồng Nai) through the API:");
            province::load(&api, &admin, |h| sites.url(h), |what| step(&format!("  - {what}"))).await?;
        } else {
            step("the sample province is already in the store");
        }

        // The agent: enrolled for the province's root agency (it scans every system).
        let agencies = api.call("GET", "/agencies", &admin, None).await?;
        let root_agency = agencies
            .as_array()
            .and_then(|a| a.iter().find(|x| x["short_code"] == "UBND-DN"))
            .and_then(|a| a["id"].as_str())
            .context("the province's root agency")?
            .to_string();
        let mut plan = AgentPlan {
            server: root.clone(),
            token: String::new(),
            name: "agent-demo".into(),
            targets: sites.sites.iter().map(|s| sites.url(&s.host)).collect(),
            resolve: sites.overrides(),
            http_port: sites.http_port,
            scan_ca_file: ca.clone(),
            interval: Duration::from_secs(cli.interval),
        };
        let stats = Arc::new(AgentStats::default());
        let agent_dir = data.join("agent");
        let agent = match agent::enroll_daemon(&api, &admin, &root_agency, &agent_dir, cli.interval).await? {
            Some(state) => {
                step(&format!(
                    "enrolled the agent daemon (state and spool in {}); it scans {} sites every {} s (TLS, HTTP, content)",
                    agent_dir.display(),
                    plan.targets.len(),
                    cli.interval
                ));
                let plan = plan.clone();
                tokio::spawn(async move { agent::run_daemon(state, &plan).await })
            }
            None => {
                // A server without enrollment routes: an agent account and its token.
                let _ = api
                    .call(
                        "POST",
                        "/users",
                        &admin,
                        Some(json!({"login": "agent-demo", "display_name": "Agent mạng LAN tỉnh (demo)", "role": "agent", "agency": root_agency})),
                    )
                    .await;
                plan.token = api
                    .call("POST", "/tokens", &admin, Some(json!({"login": "agent-demo", "name": "demo agent"})))
                    .await?["token"]
                    .as_str()
                    .context("agent token")?
                    .to_string();
                step(&format!(
                    "starting the agent: {} sites every {} s (TLS, HTTP, content)",
                    plan.targets.len(),
                    cli.interval
                ));
                tokio::spawn(agent::run(plan, stats.clone(), stop_rx.clone()))
            }
        };

        print_banner(&root, &admin, &data, cli.data.is_some(), sites, mail_sink.port());
        // On standard output after the banner, so that a reader of that stream has it all.
        println!("canhgac demo: ready at {root}/ (Ctrl-C to stop)");
        use std::io::Write as _;
        std::io::stdout().flush()?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut graded_seen = 0;
        let mut mail_seen = 0;
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                _ = tick.tick() => {
                    // Progress as the server sees it: systems graded from the agent's reports.
                    if let Ok(page) = api.call("GET", "/systems?limit=500", &admin, None).await {
                        let items = page["items"].as_array().cloned().unwrap_or_default();
                        let graded: Vec<String> = items
                            .iter()
                            .filter_map(|s| s["compliance"]["grade"].as_str().map(str::to_string))
                            .collect();
                        let mail = mail_sink.messages();
                        if mail.len() != mail_seen {
                            mail_seen = mail.len();
                            step(&format!(
                                "{} alert e-mails delivered to the local SMTP sink (latest: {})",
                                mail.len(),
                                mail.last().and_then(|m| m.subject.clone()).unwrap_or_default()
                            ));
                        }
                        if graded.len() != graded_seen {
                            graded_seen = graded.len();
                            step(&format!(
                                "{} of {} systems graded from the agent's reports ({})",
                                graded.len(),
                                items.len(),
                                graded.join(" ")
                            ));
                        }
                    }
                }
            }
        }
        step("stopping (agent, then server) ...");
        let _ = stop_tx.send(true);
        let _ = agent.await;
        server.await??;
        drop(serve_file);
        step("stopped");
        anyhow::Ok(())
    })?;
    drop(fixtures);
    Ok(())
}

/// The security staff's address in the demo (event alerts and holiday summaries go there).
const DEMO_SOC: &str = "soc@stttt.example.gov.vn";

fn print_banner(
    root: &str,
    admin_token: &str,
    data: &std::path::Path,
    kept: bool,
    sites: &DemoSites,
    smtp_port: u16,
) {
    println!();
    println!("canhgac demo — máy chủ / server: {root}/");
    println!(
        "  data: {} ({})",
        data.display(),
        if kept {
            "kept"
        } else {
            "temporary, removed at exit"
        }
    );
    println!("  OpenAPI: {root}/api/v1/openapi.json");
    println!();
    println!("Tài khoản demo / demo logins (mật khẩu / password: {DEMO_PASSWORD}):");
    println!("  {:<16} administrator (quản trị)", "admin");
    for a in province::ACCOUNTS {
        let agency = a
            .agency
            .and_then(|c| province::AGENCIES.iter().find(|x| x.code == c))
            .map(|x| format!(", {}", x.name))
            .unwrap_or_default();
        println!("  {:<16} {}{agency}", a.login, a.role);
    }
    println!();
    println!(
        "Fixture websites (127.0.2.x, HTTPS port {}, HTTP port {}):",
        sites.https_port, sites.http_port
    );
    for s in &sites.sites {
        println!("  {:<34} {:<12} {}", s.host, s.ip, s.setup.describe());
    }
    println!();
    println!(
        "Alert e-mail (cảnh báo): sent to a local SMTP sink on 127.0.0.1:{smtp_port} (agencies' contacts vanthu.<code>@example.gov.vn, the SOC {DEMO_SOC}); the outbox is on {root}/alerts"
    );
    println!();
    println!("Thử / try:");
    println!("  export TOKEN={admin_token}   # the administrator's API token");
    println!(
        "  curl -s -H 'content-type: application/json' -d '{{\"login\":\"thamdinh\",\"password\":\"{DEMO_PASSWORD}\"}}' {root}/api/v1/session"
    );
    println!(
        "  curl -s -H \"Authorization: Bearer $TOKEN\" '{root}/api/v1/reports/weekly?format=text'"
    );
    println!("  curl -s -H \"Authorization: Bearer $TOKEN\" '{root}/api/v1/systems?sort=grade'");
    println!(
        "  curl -s -H \"Authorization: Bearer $TOKEN\" '{root}/api/v1/dossiers?state=needs_supplement'"
    );
    println!("  curl -s -H \"Authorization: Bearer $TOKEN\" '{root}/api/v1/agents'");
    println!(
        "  canhgac-agent status --state-dir {}   # the demo agent's spool and last contact",
        data.join("agent").display()
    );
    println!(
        "  canhgac-server report weekly --data {}   # the CLI goes through the running demo",
        data.display()
    );
    println!(
        "  canhgac-server alerts preview --holiday 2027-09-02 --data {}   # the letters before Quốc khánh 2/9, not sent",
        data.display()
    );
    println!();
}
