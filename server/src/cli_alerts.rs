//! `canhgac-server alerts ...`: preview a holiday's letters, list the reminder days of a year,
//! read the outbox, and send a test message through the configured relay.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use canhgac_server::alerts::{self, holiday, outbox};
use canhgac_server::model::{AgencyId, Email};
use clap::{Args, Subcommand};
use serde_json::Value;

use super::{Via, Where, parse_date, settings, store_or_server, store_path};

/// `alerts` subcommands.
#[derive(Subcommand, Debug)]
pub(super) enum AlertsCommand {
    /// Render what a holiday reminder would send (each agency's letter and the province
    /// summary), without sending or queuing anything.
    Preview(PreviewArgs),
    /// The holiday blocks of a year and the days their reminders go out.
    Schedule(ScheduleArgs),
    /// The outgoing e-mail: counts by state and the messages (failed ones first).
    Outbox(OutboxArgs),
    /// Send one test message now through the configured relay (`[mail]`).
    Test(TestArgs),
}

#[derive(Args, Debug)]
pub(super) struct PreviewArgs {
    /// A day of the holiday block or a day before it: yyyy-mm-dd or dd/mm/yyyy.
    #[arg(long, value_name = "DATE")]
    holiday: String,
    /// Only this agency's letter (its id).
    #[arg(long, value_name = "ID")]
    agency: Option<String>,
    /// Which reminder (d14, w3...; default: the last one before the block).
    #[arg(long)]
    reminder: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    at: Where,
}

#[derive(Args, Debug)]
pub(super) struct ScheduleArgs {
    /// The year.
    #[arg(value_parser = clap::value_parser!(i16).range(1900..=2199))]
    year: i16,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    at: Where,
}

#[derive(Args, Debug)]
pub(super) struct OutboxArgs {
    /// Only messages in this state: pending, sending, sent, failed.
    #[arg(long)]
    state: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    at: Where,
}

#[derive(Args, Debug)]
pub(super) struct TestArgs {
    /// The recipient.
    #[arg(long, value_name = "EMAIL")]
    to: String,
    #[command(flatten)]
    at: Where,
}

/// Runs an `alerts` subcommand.
pub(super) fn run(config: Option<&Path>, command: AlertsCommand) -> Result<ExitCode> {
    match command {
        AlertsCommand::Preview(a) => preview(config, a),
        AlertsCommand::Schedule(a) => schedule(config, a),
        AlertsCommand::Outbox(a) => outbox_list(config, a),
        AlertsCommand::Test(a) => send_test(config, a),
    }
}

fn preview(config: Option<&Path>, a: PreviewArgs) -> Result<ExitCode> {
    let settings = settings(config, &a.at)?;
    let day = parse_date(&a.holiday)?;
    let agency = match &a.agency {
        Some(text) => Some(
            text.parse::<AgencyId>()
                .map_err(|e| anyhow::anyhow!("--agency {text}: {e}"))?,
        ),
        None => None,
    };
    let batch: Value = match store_or_server(&settings)? {
        Via::Store(store) => {
            let base = canhgac_policies::pack::Pack::decree85();
            let pack = canhgac_server::calendar::effective_pack(store.as_ref(), &base)?;
            let index = canhgac_server::index::Index::build(store.as_ref())?;
            let batch = canhgac_server::api::alerts_preview(
                store.as_ref(),
                &index,
                &pack,
                &settings.alerts,
                &canhgac_server::api::AlertsPreview {
                    day,
                    agency,
                    reminder: a.reminder.clone(),
                },
                canhgac_server::clock::now(),
            )?
            .with_context(|| format!("no holiday block on or after {day}"))?;
            serde_json::to_value(&batch)?
        }
        Via::Server(server) => {
            let mut path = format!("/api/v1/alerts/preview?holiday={day}");
            if let Some(id) = agency {
                path.push_str(&format!("&agency={id}"));
            }
            if let Some(r) = &a.reminder {
                path.push_str(&format!("&reminder={r}"));
            }
            server.get_json(&path)?
        }
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&batch)?);
        return Ok(ExitCode::SUCCESS);
    }
    let r = &batch["reminder"];
    println!(
        "Kỳ nghỉ {} ({} – {}), nhắc {} gửi ngày {}: {} thư / messages",
        r["block"]["name_vi"].as_str().unwrap_or_default(),
        r["block"]["start"].as_str().unwrap_or_default(),
        r["block"]["end"].as_str().unwrap_or_default(),
        r["id"].as_str().unwrap_or_default(),
        r["send_on"].as_str().unwrap_or_default(),
        batch["drafts"].as_array().map_or(0, Vec::len)
    );
    if batch["drafts"].as_array().is_none_or(Vec::is_empty) {
        eprintln!(
            "canhgac-server: không có thư nào: chưa có cơ quan nào có hệ thống và địa chỉ liên hệ / no message: no agency with systems and a contact address"
        );
    }
    for d in batch["drafts"].as_array().into_iter().flatten() {
        println!();
        println!("==== Đến / To: {}", d["to"].as_str().unwrap_or_default());
        println!(
            "==== Tiêu đề / Subject: {}",
            d["subject"].as_str().unwrap_or_default()
        );
        println!("==== Khóa / Key: {}", d["key"].as_str().unwrap_or_default());
        println!();
        print!("{}", d["text"].as_str().unwrap_or_default());
    }
    Ok(ExitCode::SUCCESS)
}

fn schedule(config: Option<&Path>, a: ScheduleArgs) -> Result<ExitCode> {
    let settings = settings(config, &a.at)?;
    let base = canhgac_policies::pack::Pack::decree85();
    // A read must not create a data directory: without a store, the pack alone.
    let pack = if store_path(&settings).exists() {
        match store_or_server(&settings)? {
            Via::Store(store) => canhgac_server::calendar::effective_pack(store.as_ref(), &base)?,
            Via::Server(_) => {
                eprintln!(
                    "canhgac-server: máy chủ đang chạy: lịch của bộ chính sách, chưa gồm lịch chính thức đã lưu / a server is running: the pack's calendar, without stored official schedules"
                );
                base
            }
        }
    } else {
        base
    };
    let reminders = holiday::reminders(&pack.calendar, a.year, &settings.alerts);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&reminders)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("Lịch gửi cảnh báo trước kỳ nghỉ năm {}:", a.year);
    for r in &reminders {
        println!(
            "{} nhắc {:<4} kỳ nghỉ {} ({} – {}, {} ngày)",
            alerts::compose::dmy(r.send_on),
            r.id,
            r.block.name_vi,
            alerts::compose::dmy(r.block.start),
            alerts::compose::dmy(r.block.end),
            r.block.days
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn outbox_list(config: Option<&Path>, a: OutboxArgs) -> Result<ExitCode> {
    let settings = settings(config, &a.at)?;
    if let Some(s) = &a.state
        && !["pending", "sending", "sent", "failed"].contains(&s.as_str())
    {
        bail!("--state: one of pending, sending, sent, failed");
    }
    let answer: Value = match store_or_server(&settings)? {
        Via::Store(store) => serde_json::to_value(canhgac_server::api::alerts_outbox(
            store.as_ref(),
            a.state.as_deref(),
            10_000,
        )?)?,
        Via::Server(server) => {
            let mut path = "/api/v1/alerts/outbox?limit=10000".to_string();
            if let Some(s) = &a.state {
                path.push_str(&format!("&state={s}"));
            }
            server.get_json(&path)?
        }
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(ExitCode::SUCCESS);
    }
    let c = &answer["counts"];
    println!(
        "{} thất bại / failed, {} chờ gửi / pending, {} đang gửi / sending, {} đã gửi / sent",
        c["failed"], c["pending"], c["sending"], c["sent"]
    );
    let mut items: Vec<&Value> = answer["items"].as_array().into_iter().flatten().collect();
    items.sort_by_key(|i| i["state"] != "failed");
    for i in items {
        println!(
            "{:<8} {:<3} {}  {}  {}{}",
            i["state"].as_str().unwrap_or_default(),
            i["attempts"],
            i["to"].as_str().unwrap_or_default(),
            i["subject"].as_str().unwrap_or_default(),
            i["key"].as_str().unwrap_or_default(),
            i["last_error"]
                .as_str()
                .map(|e| format!("\n         lỗi / error: {e}"))
                .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn send_test(config: Option<&Path>, a: TestArgs) -> Result<ExitCode> {
    let settings = settings(config, &a.at)?;
    let mail = settings
        .mail
        .as_ref()
        .context("no [mail] section in the configuration: nothing to send through")?;
    let to = Email::new(&a.to)?;
    let now = canhgac_server::clock::now();
    let mut body = alerts::compose::Body::default();
    body.para("Thư thử của canhgac: máy chủ thư đã được cấu hình đúng. / A test message from canhgac: the mail relay works.");
    let composed = body.finish("[canhgac] Thư thử / Test message".to_string());
    let record = outbox::Record {
        message_id: outbox::message_id(&format!("test/{now}/{to}")),
        draft: outbox::Draft {
            key: format!("test/{now}/{to}"),
            category: outbox::Category::Test,
            to,
            subject: composed.subject,
            text: composed.text,
            html: composed.html,
            attachments: Vec::new(),
        },
        state: outbox::State::Pending,
        queued_at: now,
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let _inside = runtime.enter();
    let mailer = alerts::mailer::Mailer::new(mail)?;
    match runtime.block_on(mailer.send(&record)) {
        outbox::Outcome::Sent => {
            eprintln!(
                "canhgac-server: đã gửi thư thử tới / test message sent to {} through {}:{}",
                record.draft.to, mail.host, mail.port
            );
            Ok(ExitCode::SUCCESS)
        }
        outbox::Outcome::Transient(e) | outbox::Outcome::Permanent(e) => {
            bail!(
                "the relay {}:{} did not take the message: {e}",
                mail.host,
                mail.port
            )
        }
    }
}
