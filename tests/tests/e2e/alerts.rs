//! Alert e-mail end to end: the real `canhgac-server` (debug build, so `CANHGAC_FAKE_NOW` sets
//! its clock) sends through a real SMTP server on 127.0.0.1 (the test kit's, with STARTTLS on a
//! test-PKI certificate and AUTH), and the tests read what arrived.
//!
//! - The issue's "done when": the demo province, the clock 3 working days before Quốc khánh
//!   2/9/2027 (30/08/2027): each agency's contact gets its letter, the security staff the
//!   summary, once, and a restart sends nothing again.
//! - A server killed in the middle of a batch (the relay holding a message unanswered) resumes
//!   it after restart without sending anything twice; a relay that refuses (451) is retried
//!   with backoff; a message refused until its attempts run out is shown failed and sent again
//!   by an administrator.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use canhgac_testkit::demo::province::{self, Api};
use canhgac_testkit::mail::ReceivedMessage;
use canhgac_testkit::smtp_server::{SmtpMode, SmtpServer};
use canhgac_testkit::{TestPki, TlsSite};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::agent::{ca_file, scan};
use crate::server_evidence::uuid_v7;
use crate::serverkit::{Running, add_user, call, client, serve_env, server, token_for};

/// 08:00 in Vietnam on Monday 30/08/2027: three working days before the 2/9 block (Thursday
/// 2/9 to Sunday 5/9 in 2027).
const THREE_WORKING_DAYS_BEFORE_2_9: &str = "2027-08-30T01:00:00Z";
const SOC: &str = "soc@stttt.example.gov.vn";
const SMTP_USER: &str = "canhgac";
const SMTP_PASSWORD: &str = "mật-khẩu-thư";
/// The demo's Sở Công Thương portal: its report says the certificate expires in 3 days.
const EXPIRING_HOST: &str = "congthuong.demo.dongnai.gov.vn";

fn smtp() -> SmtpServer {
    SmtpServer::builder()
        .hostname("mail.stttt.example.gov.vn")
        .starttls(TestPki::shared().localhost())
        .auth(SMTP_USER, SMTP_PASSWORD)
        .accept_mail()
        .start()
        .unwrap()
}

/// A config file: the relay over STARTTLS with the test CA and AUTH; alerts every second.
fn write_config(dir: &Path, smtp: &SmtpServer, extra_alerts: &str) -> String {
    let password = dir.join("smtp-password");
    std::fs::write(&password, format!("{SMTP_PASSWORD}\n")).unwrap();
    let path = dir.join("canhgac.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[mail]
host = "127.0.0.1"
port = {port}
security = "starttls"
username = "{SMTP_USER}"
password_file = "{password}"
from = "Canh gác <canhgac@stttt.example.gov.vn>"
ca_file = "{ca}"
timeout_seconds = 2

[alerts]
security_staff = ["{SOC}"]
tick_seconds = 1
retry_seconds = 1
{extra_alerts}
"#,
            port = smtp.port(),
            password = password.display(),
            ca = ca_file().display(),
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

/// The demo province loaded into a fresh store through the running server, and a report for
/// Sở Công Thương's portal scanned "an hour ago" (by the fake clock) whose certificate has 3
/// days left. Returns the loaded province.
struct World {
    loaded: province::Loaded,
    /// The uploaded report (a real scan, re-dated): a template for later ones.
    report: Value,
    _site: TlsSite,
}

/// The administrator's token (administrators may also upload reports, as here: the report is
/// a real scan, re-dated to the fake clock).
fn admin(d: &str) -> String {
    let (code, err) = add_user(d, "admin", "administrator", None, Some("mật-khẩu-quản-trị"));
    assert_eq!(code, 0, "{err}");
    token_for(d, "admin")
}

/// Loads the demo province with the server's mail off (as if the data had been there for
/// months), then stops it: the tests start it again with the relay configured on the reminder
/// day.
fn load_world(rt: &tokio::runtime::Runtime, data: &Path, admin: &str, now: Timestamp) -> World {
    // The day before: the dossiers' transitions of the load are history by the reminder day.
    let running = serve_env(data, &[("CANHGAC_FAKE_NOW", "2027-08-29T01:00:00Z")]);
    let site = TlsSite::start(&TestPki::shared().localhost()).unwrap();
    let target = format!("127.0.0.1:{}", site.port());
    let run = scan(&[&target, "--ca-file", ca_file().to_str().unwrap()]);
    let mut report = run.reports[0].clone();
    let at = now - SignedDuration::from_hours(1);
    report["id"] = uuid_v7(at, 1).into();
    report["started_at"] = at.to_string().into();
    report["tls"]["certificate"]["days_left"] = 3.into();
    let loaded = rt.block_on(async {
        let api = Api::new(&running.base).unwrap();
        let url_of = |host: &str| {
            if host == EXPIRING_HOST {
                format!("https://{target}/")
            } else {
                format!("https://{host}/")
            }
        };
        let loaded = province::load(&api, admin, url_of, |_| {}).await.unwrap();
        let (s, v) = call(
            &client(),
            "POST",
            format!("{}/reports", api.base),
            admin,
            Some(report.clone()),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        loaded
    });
    World {
        loaded,
        report,
        _site: site,
    }
}

async fn outbox(base: &str, admin: &str) -> Value {
    let (s, v) = call(
        &client(),
        "GET",
        format!("{base}/api/v1/alerts/outbox?limit=10000"),
        admin,
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v
}

/// Waits until the outbox has queued something and nothing waits any more.
fn settle(rt: &tokio::runtime::Runtime, base: &str, admin: &str, timeout: Duration) -> Value {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let v = rt.block_on(outbox(base, admin));
        let c = &v["counts"];
        let total = ["pending", "sending", "sent", "failed"]
            .iter()
            .map(|k| c[k].as_u64().unwrap())
            .sum::<u64>();
        if total > 0 && c["pending"] == 0 && c["sending"] == 0 {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the outbox did not settle: {c}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn is_holiday(m: &ReceivedMessage) -> bool {
    m.subject
        .as_deref()
        .is_some_and(|s| s.contains("dịp nghỉ") || s.contains("Tổng hợp trước kỳ nghỉ"))
}

/// No (recipient, subject) pair arrived twice.
fn assert_once(messages: &[ReceivedMessage]) {
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for m in messages {
        for to in &m.rcpt_to {
            *seen
                .entry((to.clone(), m.subject.clone().unwrap_or_default()))
                .or_default() += 1;
        }
    }
    for (k, n) in seen {
        assert_eq!(n, 1, "{k:?} arrived {n} times");
    }
}

fn by_recipient(messages: &[ReceivedMessage]) -> BTreeMap<String, Vec<&ReceivedMessage>> {
    let mut out: BTreeMap<String, Vec<&ReceivedMessage>> = BTreeMap::new();
    for m in messages {
        for to in &m.rcpt_to {
            out.entry(to.clone()).or_default().push(m);
        }
    }
    out
}

/// Every agency that owns or operates a demo system gets one letter at its contact.
fn expected_recipients() -> Vec<String> {
    let mut codes: Vec<&str> = province::SYSTEMS
        .iter()
        .flat_map(|s| [s.owner, s.unit])
        .collect();
    codes.sort();
    codes.dedup();
    let mut out: Vec<String> = codes.into_iter().map(province::contact_of).collect();
    out.push(SOC.to_string());
    out.sort();
    out
}

#[test]
fn holiday_letters_go_out_once_three_working_days_before_national_day() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let smtp = smtp();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let admin = admin(d);
    // Monday 08:00: the weekly report to the leadership is due too (07:00 on Mondays).
    let config = write_config(
        dir.path(),
        &smtp,
        "leadership = [\"giamdoc@stttt.example.gov.vn\"]\nweekly_day = \"monday\"\nweekly_hour = 7",
    );
    let now: Timestamp = THREE_WORKING_DAYS_BEFORE_2_9.parse().unwrap();
    let env = [
        ("CANHGAC_CONFIG", config.as_str()),
        ("CANHGAC_FAKE_NOW", THREE_WORKING_DAYS_BEFORE_2_9),
    ];
    let world = load_world(&rt, &data, &admin, now);
    let running = serve_env(&data, &env);

    let settled = settle(&rt, &running.base, &admin, Duration::from_secs(60));
    let expected = expected_recipients();
    // The letters and the weekly report; the certificate already expiring when mail was
    // switched on raises no event alert (the first pass records the state of things), its
    // letter lists it.
    let total = expected.len() + 1;
    let received = smtp
        .wait_for_messages(total, Duration::from_secs(30))
        .unwrap();
    assert_once(&received);
    // The weekly report: the figures to the end of Sunday, with the workbook attached.
    let weekly: Vec<&ReceivedMessage> = received
        .iter()
        .filter(|m| m.rcpt_to == vec!["giamdoc@stttt.example.gov.vn".to_string()])
        .collect();
    assert_eq!(weekly.len(), 1);
    let subject = weekly[0].subject.as_deref().unwrap_or_default();
    assert!(
        subject.contains("Báo cáo tuần") && subject.contains("29/08/2027"),
        "{subject}"
    );
    let text = weekly[0].text.as_deref().unwrap_or_default();
    assert!(text.contains("05 đơn vị đã gửi 08 hồ sơ"), "{text}");
    assert!(
        text.contains("Số hồ sơ: 8") && text.contains("Cần bổ sung: 2"),
        "{text}"
    );
    let xlsx = &weekly[0].attachments[0];
    assert_eq!(
        xlsx.filename.as_deref(),
        Some("bao-cao-tuan-2027-08-29.xlsx")
    );
    assert!(xlsx.bytes.starts_with(b"PK"), "an XLSX is a zip");
    let received: Vec<ReceivedMessage> = received
        .into_iter()
        .filter(|m| m.rcpt_to != vec!["giamdoc@stttt.example.gov.vn".to_string()])
        .collect();
    let holiday: Vec<ReceivedMessage> =
        received.iter().filter(|m| is_holiday(m)).cloned().collect();
    let by_to = by_recipient(&holiday);
    assert_eq!(
        by_to.keys().cloned().collect::<Vec<_>>(),
        expected,
        "recipients"
    );
    for (to, ms) in &by_to {
        assert_eq!(ms.len(), 1, "{to} received {} messages", ms.len());
    }
    assert_eq!(settled["counts"]["sent"].as_u64().unwrap() as usize, total);
    assert!(received.iter().all(is_holiday), "only letters");
    assert_eq!(settled["counts"]["failed"], 0);

    // Sở Công Thương's letter: the holiday's dates, its expiring certificate, its dossier to
    // supplement, and the recommendations; Vietnamese subject decoded from RFC 2047.
    let sct = by_to[&province::contact_of("SCT")][0];
    let subject = sct.subject.as_deref().unwrap_or_default();
    assert!(subject.contains("Quốc khánh"), "{subject}");
    assert!(subject.contains("02/09/2027 - 05/09/2027"), "{subject}");
    assert!(subject.contains("Sở Công Thương"), "{subject}");
    assert!(
        sct.header("Subject").unwrap().contains("=?utf-8?"),
        "the subject is encoded on the wire"
    );
    let text = sct.text.as_deref().unwrap_or_default();
    assert!(
        text.contains("từ ngày 02/09/2027 đến hết ngày 05/09/2027"),
        "{text}"
    );
    assert!(text.contains("còn 3 ngày"), "{text}");
    assert!(text.contains("Chứng thư số (TLS)"), "{text}");
    assert!(text.contains("hết hạn ngày 02/09/2027"), "{text}");
    assert!(text.contains("Sao lưu dữ liệu"), "recommendations: {text}");
    assert!(
        sct.html.as_deref().unwrap_or_default().contains("<h3>"),
        "{:?}",
        sct.html
    );
    assert_eq!(sct.from.as_deref(), Some("canhgac@stttt.example.gov.vn"));
    assert_eq!(sct.from_name.as_deref(), Some("Canh gác"));
    // Another agency's letter does not name Sở Công Thương's portal.
    let stp = by_to[&province::contact_of("STP")][0];
    assert!(
        !stp.text
            .as_deref()
            .unwrap_or_default()
            .contains("Chứng thư số (TLS)"),
        "{:?}",
        stp.text
    );
    // The summary counts the province.
    let soc = by_to[SOC][0];
    assert!(
        soc.subject
            .as_deref()
            .unwrap_or_default()
            .contains("Tổng hợp"),
        "{:?}",
        soc.subject
    );
    assert!(
        soc.text
            .as_deref()
            .unwrap_or_default()
            .contains("Chứng thư số, tên miền hết hạn trước khi hết kỳ nghỉ: 1"),
        "{:?}",
        soc.text
    );
    assert!(smtp.stats().tls_handshakes() > 0 && smtp.stats().auth_successes() > 0);
    let metrics = rt.block_on(async {
        client()
            .get(format!("{}/metrics", running.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    assert!(
        metrics.contains(&format!(
            "canhgac_alerts_total{{outcome=\"sent\"}} {total}\n"
        )),
        "{metrics}"
    );
    assert!(metrics.contains("canhgac_alerts_waiting 0\n"), "{metrics}");

    // A restart on the same day sends nothing again.
    drop(running);
    let running = serve_env(&data, &env);
    std::thread::sleep(Duration::from_secs(4));
    let after = rt.block_on(outbox(&running.base, &admin));
    assert_eq!(after["counts"], settled["counts"]);
    assert_eq!(smtp.messages().len(), total, "nothing is sent twice");

    // An event after mail was switched on: the database system's certificate is found with 5
    // days left: an alarm (the 7-day threshold) to its agency and the SOC, once.
    let mut report = world.report.clone();
    let at = now + SignedDuration::from_mins(2);
    report["id"] = uuid_v7(at, 2).into();
    report["started_at"] = at.to_string().into();
    report["target"]["input"] = "https://dlct.demo.dongnai.gov.vn/".into();
    report["target"]["host"] = "dlct.demo.dongnai.gov.vn".into();
    report["target"]["port"] = 443.into();
    report["tls"]["certificate"]["days_left"] = 5.into();
    let (s, v) = rt.block_on(call(
        &client(),
        "POST",
        format!("{}/api/v1/reports", running.base),
        &admin,
        Some(report),
    ));
    assert_eq!(s, 201, "{v}");
    let all = smtp
        .wait_for_messages(total + 2, Duration::from_secs(30))
        .unwrap();
    let events: Vec<&ReceivedMessage> = all.iter().skip(total).collect();
    for m in &events {
        let subject = m.subject.as_deref().unwrap_or_default();
        assert!(
            subject.contains("Khẩn cấp: chứng thư số của Hệ thống cơ sở dữ liệu ngành Công Thương"),
            "{subject}"
        );
        assert!(subject.contains("hết hạn sau 5 ngày"), "{subject}");
    }
    let mut event_to: Vec<String> = events.iter().flat_map(|m| m.rcpt_to.clone()).collect();
    event_to.sort();
    assert_eq!(event_to, vec![SOC.to_string(), province::contact_of("SCT")]);
    let total = total + 2;

    // A dossier transition tells the agency: the appraiser asks Sở Công Thương to supplement
    // its database system's dossier; the letter lists the missing items.
    let i = province::SYSTEMS
        .iter()
        .position(|s| s.host == "dlct.demo.dongnai.gov.vn")
        .unwrap();
    let (dossier, state) = &world.loaded.dossiers[i];
    assert_eq!(state, "under_appraisal");
    let appraiser = &world.loaded.tokens["thamdinh"];
    let (s, v) = rt.block_on(call(
        &client(),
        "POST",
        format!("{}/api/v1/dossiers/{dossier}/actions", running.base),
        appraiser,
        Some(serde_json::json!({"action": "request_supplement",
            "missing_items": ["Sơ đồ mạng cập nhật", "Phương án sao lưu dữ liệu"]})),
    ));
    assert_eq!(s, 200, "{v}");
    let all = smtp
        .wait_for_messages(total + 1, Duration::from_secs(30))
        .unwrap();
    let note = all
        .iter()
        .find(|m| {
            m.subject
                .as_deref()
                .is_some_and(|s| s.contains("cần bổ sung"))
        })
        .expect("the supplementation notice");
    assert_eq!(note.rcpt_to, vec![province::contact_of("SCT")]);
    let text = note.text.as_deref().unwrap_or_default();
    assert!(text.contains("Nội dung cần bổ sung"), "{text}");
    assert!(
        text.contains("Sơ đồ mạng cập nhật") && text.contains("Phương án sao lưu dữ liệu"),
        "{text}"
    );
    assert!(
        text.contains("Hệ thống cơ sở dữ liệu ngành Công Thương"),
        "{text}"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(smtp.messages().len(), total + 1, "one notice, once");
}

#[test]
fn a_killed_server_resumes_its_batch_and_a_refusing_relay_is_retried() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let smtp = smtp();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let admin = admin(d);
    let config = write_config(dir.path(), &smtp, "max_attempts = 3");
    let now: Timestamp = THREE_WORKING_DAYS_BEFORE_2_9.parse().unwrap();
    let env = [
        ("CANHGAC_CONFIG", config.as_str()),
        ("CANHGAC_FAKE_NOW", THREE_WORKING_DAYS_BEFORE_2_9),
    ];
    // The relay takes two messages, then holds the third unanswered.
    let _world = load_world(&rt, &data, &admin, now);
    smtp.accept_then_hold(2);
    let running = serve_env(&data, &env);
    smtp.wait_for_messages(2, Duration::from_secs(60)).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while smtp.stats().messages_held() == 0 {
        assert!(std::time::Instant::now() < deadline, "no message was held");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Killed in the middle of the batch (SIGKILL on drop), then the relay refuses for a while.
    drop(running);
    smtp.set_mode(SmtpMode::RefuseTransient);
    let running = serve_env(&data, &env);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while smtp.stats().transactions_refused() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the relay was never retried"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(smtp.messages().len(), 2);
    let v = rt.block_on(outbox(&running.base, &admin));
    let retried: Vec<&Value> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["last_error"].as_str().is_some_and(|e| e.contains("451")))
        .collect();
    assert!(!retried.is_empty(), "the relay's refusal is recorded: {v}");

    // Back to normal: every message once, none twice.
    smtp.set_mode(SmtpMode::Accept);
    let settled = settle(&rt, &running.base, &admin, Duration::from_secs(90));
    let expected = expected_recipients();
    let sent = settled["counts"]["sent"].as_u64().unwrap() as usize;
    let failed = settled["counts"]["failed"].as_u64().unwrap() as usize;
    let total = expected.len();
    assert_eq!(sent + failed, total, "{settled}");
    assert_once(&smtp.messages());
    // Messages that ran out of attempts while the relay refused are failed, shown on the
    // alerts page, and sent again by an administrator.
    if failed > 0 {
        let failed_keys: Vec<String> = settled["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["state"] == "failed")
            .map(|i| i["key"].as_str().unwrap().to_string())
            .collect();
        for key in &failed_keys {
            let (s, v) = rt.block_on(call(
                &client(),
                "POST",
                format!("{}/api/v1/alerts/outbox/retry", running.base),
                &admin,
                Some(serde_json::json!({ "key": key })),
            ));
            assert_eq!(s, 200, "{v}");
        }
        let settled = settle(&rt, &running.base, &admin, Duration::from_secs(60));
        assert_eq!(settled["counts"]["failed"], 0, "{settled}");
    }
    let received = smtp
        .wait_for_messages(total, Duration::from_secs(30))
        .unwrap();
    assert_eq!(received.len(), total);
    assert_once(&received);
    let holiday: Vec<ReceivedMessage> =
        received.iter().filter(|m| is_holiday(m)).cloned().collect();
    assert_eq!(
        by_recipient(&holiday).keys().cloned().collect::<Vec<_>>(),
        expected
    );
}

#[test]
fn a_message_refused_until_its_attempts_run_out_is_shown_failed_and_can_be_sent_again() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let smtp = smtp();
    smtp.set_mode(SmtpMode::RefuseTransient);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let admin = admin(d);
    let config = write_config(dir.path(), &smtp, "max_attempts = 2");
    let now: Timestamp = THREE_WORKING_DAYS_BEFORE_2_9.parse().unwrap();
    let env = [
        ("CANHGAC_CONFIG", config.as_str()),
        ("CANHGAC_FAKE_NOW", THREE_WORKING_DAYS_BEFORE_2_9),
    ];
    let _world = load_world(&rt, &data, &admin, now);
    let running = serve_env(&data, &env);
    let settled = settle(&rt, &running.base, &admin, Duration::from_secs(60));
    let expected = expected_recipients().len();
    assert_eq!(
        settled["counts"]["failed"].as_u64().unwrap() as usize,
        expected,
        "{settled}"
    );
    let item = &settled["items"][0];
    assert_eq!(item["attempts"], 2);
    assert!(
        item["last_error"]
            .as_str()
            .unwrap()
            .contains("after 2 attempts"),
        "{item}"
    );
    assert!(smtp.messages().is_empty());

    // The alerts page shows them to the staff; an agency officer may not see it.
    let page = rt.block_on(async {
        let r = client()
            .get(format!("{}/alerts", running.base))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    });
    assert!(
        page.contains(&format!("data-failed=\"{expected}\"")),
        "{page}"
    );
    assert!(page.contains("data-state=\"failed\""));
    assert!(page.contains("Gửi lại"));
    // The preview page renders the same letters, sending nothing more.
    let preview = rt.block_on(async {
        let r = client()
            .get(format!(
                "{}/alerts/preview?holiday=2027-09-02",
                running.base
            ))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    });
    let letters = expected_recipients().len();
    assert!(
        preview.contains(&format!("data-messages=\"{letters}\"")),
        "{preview}"
    );
    assert!(preview.contains("Kính gửi: Sở Công Thương"), "{preview}");
    let officer = token_for_running(&rt, &running, &admin);
    let (s, _) = rt.block_on(call(
        &client(),
        "GET",
        format!("{}/api/v1/alerts/outbox", running.base),
        &officer,
        None,
    ));
    assert_eq!(s, 403);

    // The relay recovers; the administrator sends one again: it arrives once.
    smtp.set_mode(SmtpMode::Accept);
    let key = item["key"].as_str().unwrap().to_string();
    let (s, v) = rt.block_on(call(
        &client(),
        "POST",
        format!("{}/api/v1/alerts/outbox/retry", running.base),
        &admin,
        Some(serde_json::json!({ "key": key })),
    ));
    assert_eq!(s, 200, "{v}");
    let got = smtp.wait_for_messages(1, Duration::from_secs(30)).unwrap();
    assert_eq!(got.len(), 1);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(smtp.messages().len(), 1, "only the message sent again");
    // After the outage, the administrator sends every other failed message again: each
    // arrives once.
    let (s, v) = rt.block_on(call(
        &client(),
        "POST",
        format!("{}/api/v1/alerts/outbox/retry-failed", running.base),
        &admin,
        None,
    ));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["queued"].as_u64().unwrap() as usize, expected - 1, "{v}");
    let all = smtp
        .wait_for_messages(expected, Duration::from_secs(30))
        .unwrap();
    assert_once(&all);
    let settled = settle(&rt, &running.base, &admin, Duration::from_secs(30));
    assert_eq!(
        settled["counts"]["sent"].as_u64().unwrap() as usize,
        expected
    );
    // A message not failed cannot be "sent again".
    let (s, _) = rt.block_on(call(
        &client(),
        "POST",
        format!("{}/api/v1/alerts/outbox/retry", running.base),
        &admin,
        Some(serde_json::json!({ "key": key })),
    ));
    assert_eq!(s, 409);
}

/// An agency officer's token from the demo's accounts, through the API as the administrator.
fn token_for_running(rt: &tokio::runtime::Runtime, running: &Running, admin: &str) -> String {
    rt.block_on(async {
        let (s, v) = call(
            &client(),
            "POST",
            format!("{}/api/v1/tokens", running.base),
            admin,
            Some(serde_json::json!({"login": province::ACCOUNTS.iter().find(|a| a.role == "agency_officer").unwrap().login, "name": "t"})),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        v["token"].as_str().unwrap().to_string()
    })
}

/// `canhgac-server alerts test` to the test address with the config file `config`.
fn send_test(config: &str) -> (i32, String, String) {
    server(
        &[
            "alerts",
            "test",
            "--to",
            "kiemtra@stttt.example.gov.vn",
            "--config",
            config,
        ],
        None,
    )
}

#[test]
fn the_cli_previews_a_holidays_letters_without_sending_and_sends_a_test_message() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let smtp = smtp();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let admin = admin(d);
    let now: Timestamp = THREE_WORKING_DAYS_BEFORE_2_9.parse().unwrap();
    let world = load_world(&rt, &data, &admin, now);
    let config = write_config(dir.path(), &smtp, "");

    // On the stopped store: the text of every letter, then the JSON; nothing is queued.
    let (code, out, err) = server(
        &[
            "alerts",
            "preview",
            "--holiday",
            "02/09/2027",
            "--data",
            d,
            "--config",
            &config,
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Kỳ nghỉ Quốc khánh (2027-09-02 – 2027-09-05), nhắc w3 gửi ngày 2027-08-30"),
        "{out}"
    );
    assert!(
        out.contains(&format!("==== Đến / To: {}", province::contact_of("SCT"))),
        "{out}"
    );
    assert!(out.contains(&format!("==== Đến / To: {SOC}")), "{out}");
    assert!(out.contains("Kính gửi: Sở Công Thương"), "{out}");
    let sct = &world.loaded.agencies["SCT"];
    let (code, out, err) = server(
        &[
            "alerts",
            "preview",
            "--holiday",
            "2027-09-02",
            "--agency",
            sct,
            "--json",
            "--data",
            d,
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let drafts = v["drafts"].as_array().unwrap();
    assert_eq!(drafts.len(), 1, "one agency, one contact, no summary: {v}");
    assert_eq!(drafts[0]["to"], province::contact_of("SCT"));
    assert_eq!(v["agencies"][0]["name"], "Sở Công Thương");
    let (code, out, err) = server(&["alerts", "outbox", "--json", "--data", d], None);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["counts"]["pending"], 0, "a preview queues nothing: {v}");
    assert_eq!(v["counts"]["sent"], 0);
    assert!(smtp.messages().is_empty());

    // The reminder days of a year.
    let (code, out, err) = server(&["alerts", "schedule", "2027", "--data", d], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("30/08/2027 nhắc w3   kỳ nghỉ Quốc khánh (02/09/2027 – 05/09/2027, 4 ngày)"),
        "{out}"
    );

    // A test message through the configured relay (STARTTLS, AUTH).
    let (code, _, err) = send_test(&config);
    assert_eq!(code, 0, "{err}");
    let got = smtp.wait_for_messages(1, Duration::from_secs(10)).unwrap();
    assert_eq!(
        got[0].rcpt_to,
        vec!["kiemtra@stttt.example.gov.vn".to_string()]
    );
    assert!(
        got[0]
            .subject
            .as_deref()
            .unwrap_or_default()
            .contains("Thư thử")
    );
    // Implicit TLS (SMTPS) without authentication.
    let smtps = SmtpServer::builder()
        .implicit_tls(TestPki::shared().localhost())
        .accept_mail()
        .start()
        .unwrap();
    let tls_config = dir.path().join("smtps.toml");
    std::fs::write(
        &tls_config,
        format!(
            "[mail]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\nfrom = \"canhgac@stttt.example.gov.vn\"\nca_file = \"{}\"\n",
            smtps.port(),
            ca_file().display()
        ),
    )
    .unwrap();
    let (code, _, err) = send_test(tls_config.to_str().unwrap());
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        smtps
            .wait_for_messages(1, Duration::from_secs(10))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        smtps.stats().ehlo(),
        1,
        "TLS from the first byte: one EHLO, no STARTTLS"
    );
    // A relay whose certificate the server does not trust: refused, nothing sent in clear.
    let untrusted = dir.path().join("untrusted.toml");
    std::fs::write(
        &untrusted,
        format!(
            "[mail]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"tls\"\nfrom = \"canhgac@stttt.example.gov.vn\"\n",
            smtps.port()
        ),
    )
    .unwrap();
    let (code, _, err) = send_test(untrusted.to_str().unwrap());
    assert_ne!(code, 0, "a certificate from an unknown CA is refused");
    assert!(err.contains("did not take the message"), "{err}");
    assert_eq!(smtps.messages().len(), 1);

    // A relay that refuses: a clear error and a failing exit code.
    smtp.set_mode(SmtpMode::RefuseTransient);
    let (code, _, err) = send_test(&config);
    assert_ne!(code, 0);
    assert!(
        err.contains("did not take the message") && err.contains("451"),
        "{err}"
    );
}
