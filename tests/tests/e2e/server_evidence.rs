//! Evidence and inventory lifecycle on the real `canhgac-server`: waivers that count while
//! valid and stop at expiry, stale evidence, report history kept at every change of outcome,
//! officers scoped to their targets, system and agency edits, retirement and merges.
//!
//! "Later" is a restart of the debug binary with `CANHGAC_FAKE_NOW` (honoured by debug builds
//! only, see `server/src/clock.rs`).

use canhgac_testkit::{TestPki, TlsSite};
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde_json::{Value, json};

use crate::agent::{ca_file, scan};
use crate::server_documents::upload;
use crate::serverkit::{add_user, call, client, serve, serve_env, token_for};

fn today_vn(at: Timestamp) -> jiff::civil::Date {
    at.to_zoned_datetime(jiff::tz::TimeZone::fixed(jiff::tz::offset(7)))
        .date()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A UUIDv7 text for `at` (the time prefix makes ids sort like their scans).
pub(crate) fn uuid_v7(at: Timestamp, n: u32) -> String {
    let ms = u64::try_from(at.as_millisecond()).unwrap();
    let hex = format!("{ms:012x}");
    format!(
        "{}-{}-7{:03x}-8000-{:012x}",
        &hex[..8],
        &hex[8..12],
        n & 0xfff,
        n
    )
}

/// The agencies and people most tests need: a province, two departments, one officer each, an
/// appraiser, an approver, a viewer and an agent. Returns (province, sct, syt) ids and tokens by
/// login.
struct World {
    province: String,
    sct: String,
    syt: String,
    admin: String,
    officer: String,
    outsider: String,
    appraiser: String,
    approver: String,
    viewer: String,
    agent: String,
}

async fn world(base: &str, d: &str, admin: &str) -> World {
    let c = client();
    let agency = |name: &str, code: &str, parent: Option<&str>| {
        let c = c.clone();
        let mut body = json!({"name": name, "short_code": code});
        if let Some(p) = parent {
            body["parent"] = p.into();
        }
        let url = format!("{base}/agencies");
        let admin = admin.to_string();
        async move {
            let (s, v) = call(&c, "POST", url, &admin, Some(body)).await;
            assert_eq!(s, 201, "{v}");
            v["id"].as_str().unwrap().to_string()
        }
    };
    let province = agency("UBND tỉnh Đồng Nai", "UBND", None).await;
    let sct = agency("Sở Công Thương", "SCT", Some(&province)).await;
    let syt = agency("Sở Y tế", "SYT", Some(&province)).await;
    // The agent scans the province's network (docs/agents.md).
    let (s, v) = call(
        &c,
        "PATCH",
        format!("{base}/users/agent1"),
        admin,
        Some(json!({"agency": province})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    for (login, role, agency) in [
        ("officer", "agency_officer", Some(&sct)),
        ("outsider", "agency_officer", Some(&syt)),
        ("appraiser", "appraiser", None),
        ("approver", "approver", None),
        ("viewer", "viewer", None),
    ] {
        let mut body = json!({"login": login, "display_name": login, "role": role, "password": "mật-khẩu-đủ-dài"});
        if let Some(a) = agency {
            body["agency"] = a.as_str().into();
        }
        let (s, v) = call(&c, "POST", format!("{base}/users"), admin, Some(body)).await;
        assert_eq!(s, 201, "{v}");
    }
    World {
        province,
        sct,
        syt,
        admin: admin.to_string(),
        officer: token_for(d, "officer"),
        outsider: token_for(d, "outsider"),
        appraiser: token_for(d, "appraiser"),
        approver: token_for(d, "approver"),
        viewer: token_for(d, "viewer"),
        agent: token_for(d, "agent1"),
    }
}

fn start(d: &str) -> String {
    let (code, err) = add_user(d, "admin", "administrator", None, Some("mật-khẩu-quản-trị"));
    assert_eq!(code, 0, "{err}");
    let (code, err) = add_user(d, "agent1", "agent", Some("lan-sct"), None);
    assert_eq!(code, 0, "{err}");
    token_for(d, "admin")
}

#[test]
fn waivers_count_while_valid_then_expire_and_old_evidence_goes_stale() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let admin = start(d);

    // An expired certificate on a level-3 system's address: a real report from the agent.
    let site = TlsSite::start(&TestPki::shared().expired(&["127.0.0.1"])).unwrap();
    let target = format!("127.0.0.1:{}", site.port());
    let run = scan(&[&target, "--ca-file", ca_file().to_str().unwrap()]);
    let report = run.reports[0].clone();

    let running = serve(&data);
    let base = format!("{}/api/v1", running.base);
    let started = Timestamp::now();
    let today = today_vn(started);
    let (w, sys, open) = rt.block_on(async {
        let c = client();
        let w = world(&base, d, &admin).await;
        let (s, system) = call(&c, "POST", format!("{base}/systems"), &w.officer, Some(json!({
            "name": "Cơ sở dữ liệu ngành Công Thương", "owner_agency": w.sct, "operating_unit": w.sct,
            "urls": [format!("https://{target}/")], "proposed_level": 3
        }))).await;
        assert_eq!(s, 201, "{system}");
        let sys = system["id"].as_str().unwrap().to_string();
        let r = c.post(format!("{base}/reports")).bearer_auth(&w.agent).json(&report).send().await.unwrap();
        assert_eq!(r.status(), 201);

        let (s, v) = call(&c, "GET", format!("{base}/systems/{sys}/compliance"), &w.officer, None).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["status"], "failing", "{v}");
        assert_eq!(v["current"], true);
        assert_eq!(v["counts_as_passing"], false);
        let open = strings(&v["failing"]);
        assert!(open.contains(&"tls.cert_expiry".to_string()), "{open:?}");
        assert!(open.contains(&"tls.cert_trusted".to_string()), "{open:?}");
        let grade_before = v["evaluation"]["grade"].clone();

        // Who may grant: appraisers and administrators, not the agency's officers.
        let waiver = |rule: &str, days: i64| json!({"rule": rule, "reason": "Đang thay chứng thư số, dự kiến xong trong tuần", "expires_on": (today + days.days()).to_string()});
        let url = format!("{base}/systems/{sys}/waivers");
        assert_eq!(call(&c, "POST", url.clone(), &w.officer, Some(waiver("tls.cert_expiry", 2))).await.0, 403);
        assert_eq!(call(&c, "POST", url.clone(), &w.viewer, Some(waiver("tls.cert_expiry", 2))).await.0, 403);
        // Refusals, each a clear 4xx.
        let (s, v) = call(&c, "POST", url.clone(), &w.appraiser, Some(waiver("tls.no_such_rule", 2))).await;
        assert_eq!(s, 400, "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("tls.no_such_rule"), "{v}");
        let (s, v) = call(&c, "POST", url.clone(), &w.appraiser, Some(waiver("tls.cert_expiry", 0))).await;
        assert_eq!(s, 400, "expiry today: {v}");
        let (s, v) = call(&c, "POST", url.clone(), &w.appraiser, Some(waiver("tls.cert_expiry", 400))).await;
        assert_eq!(s, 400, "more than a year: {v}");
        let (s, v) = call(&c, "POST", url.clone(), &w.appraiser, Some(json!({"rule": "tls.cert_expiry", "reason": " ", "expires_on": (today + 2.days()).to_string()}))).await;
        assert_eq!(s, 400, "no reason: {v}");
        let (s, _) = call(&c, "POST", url.clone(), &w.appraiser, Some(json!({"rule": "tls.cert_expiry", "reason": "x", "expires_on": "31/12/2026"}))).await;
        assert!((400..500).contains(&s), "a date in another format: {s}");
        // Another agency's officer does not see the system at all; nobody waives it through them.
        assert_eq!(call(&c, "POST", url.clone(), &w.outsider, Some(waiver("tls.cert_expiry", 2))).await.0, 403);
        assert_eq!(call(&c, "GET", url.clone(), &w.outsider, None).await.0, 404);

        // Every open failure waived for two days.
        for rule in &open {
            let (s, v) = call(&c, "POST", url.clone(), &w.appraiser, Some(waiver(rule, 2))).await;
            assert_eq!(s, 201, "{v}");
            assert_eq!(v["valid"], true);
            assert_eq!(v["created_by"], "appraiser");
        }
        let (s, v) = call(&c, "POST", url.clone(), &w.admin, Some(waiver(&open[0], 5))).await;
        assert_eq!(s, 409, "a second valid waiver of one rule: {v}");

        let (s, list) = call(&c, "GET", url.clone(), &w.officer, None).await;
        assert_eq!(s, 200, "officers read their systems' waivers");
        assert_eq!(list.as_array().unwrap().len(), open.len());
        let (_, v) = call(&c, "GET", format!("{base}/systems/{sys}/compliance"), &w.officer, None).await;
        assert_eq!(v["status"], "passing", "{v}");
        assert_eq!(v["counts_as_passing"], true);
        assert!(strings(&v["failing"]).is_empty(), "{v}");
        let waived: Vec<&str> = v["waived"].as_array().unwrap().iter().map(|x| x["rule"].as_str().unwrap()).collect();
        assert_eq!(waived.len(), open.len());
        assert_eq!(v["grade_without_waivers"], grade_before);
        assert!(v["evaluation"]["results"].as_array().unwrap().iter().any(|r| r["status"] == "waived"), "{v}");
        assert!(v["evaluation"]["score"].as_u64() > Some(50), "{v}");

        // Revoking one puts its rule back among the failures; the record stays.
        let first = list[0]["id"].as_str().unwrap().to_string();
        let first_rule = list[0]["rule"].as_str().unwrap().to_string();
        assert_eq!(call(&c, "DELETE", format!("{url}/{first}"), &w.officer, None).await.0, 403);
        let (s, v) = call(&c, "DELETE", format!("{url}/{first}"), &w.admin, None).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["valid"], false);
        assert_eq!(v["revoked"]["by"], "admin");
        assert_eq!(call(&c, "DELETE", format!("{url}/{first}"), &w.admin, None).await.0, 409);
        assert_eq!(call(&c, "DELETE", format!("{url}/0193aaaa-5b7a-7cc0-9a8e-3a5c1f1d2e3f"), &w.admin, None).await.0, 404);
        let (_, v) = call(&c, "GET", format!("{base}/systems/{sys}/compliance"), &w.viewer, None).await;
        assert_eq!(v["status"], "failing");
        assert_eq!(strings(&v["failing"]), vec![first_rule.clone()]);
        let (s, _) = call(&c, "POST", url.clone(), &w.appraiser, Some(waiver(&first_rule, 2))).await;
        assert_eq!(s, 201, "granted again after the revocation");
        let (_, list) = call(&c, "GET", url.clone(), &w.viewer, None).await;
        assert_eq!(list.as_array().unwrap().len(), open.len() + 1, "revoked ones are kept");

        // Reports: officers read their own targets only; agents read nothing.
        for (token, want) in [(&w.officer, 200), (&w.viewer, 200), (&w.outsider, 404), (&w.agent, 403)] {
            assert_eq!(call(&c, "GET", format!("{base}/targets/{target}/latest"), token, None).await.0, want);
            assert_eq!(call(&c, "GET", format!("{base}/targets/{target}/history"), token, None).await.0, want);
        }
        assert_eq!(call(&c, "GET", format!("{base}/targets/nowhere.gov.vn:443/latest"), &w.admin, None).await.0, 404);
        (w, sys, open)
    });
    drop(running);

    // Five days later: the two-day waivers have expired and count no more.
    let later = (started + SignedDuration::from_hours(5 * 24)).to_string();
    let running = serve_env(&data, &[("CANHGAC_FAKE_NOW", &later)]);
    let base = format!("{}/api/v1", running.base);
    rt.block_on(async {
        let c = client();
        let (s, v) = call(&c, "GET", format!("{base}/systems/{sys}/compliance"), &w.officer, None).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["status"], "failing", "{v}");
        assert_eq!(v["current"], true, "14 days of freshness at level 3");
        assert_eq!(strings(&v["failing"]), open);
        assert!(v["waived"].as_array().unwrap().is_empty());
        let (_, list) = call(&c, "GET", format!("{base}/systems/{sys}/waivers"), &w.officer, None).await;
        assert!(list.as_array().unwrap().iter().all(|x| x["valid"] == false), "{list}");
        // A waiver granted "today" (the fake today) counts again.
        let fake_today = today_vn(later.parse().unwrap());
        let (s, v) = call(&c, "POST", format!("{base}/systems/{sys}/waivers"), &w.appraiser, Some(json!({"rule": "tls.cert_expiry", "reason": "Gia hạn thêm", "expires_on": (fake_today + 1.days()).to_string()}))).await;
        assert_eq!(s, 201, "{v}");
        let (_, v) = call(&c, "GET", format!("{base}/systems/{sys}/compliance"), &w.officer, None).await;
        assert!(!strings(&v["failing"]).contains(&"tls.cert_expiry".to_string()), "{v}");
    });
    drop(running);

    // Twenty days later: the level-3 report (14 days) proves nothing any more.
    let much_later = (started + SignedDuration::from_hours(20 * 24)).to_string();
    let running = serve_env(&data, &[("CANHGAC_FAKE_NOW", &much_later)]);
    let base = format!("{}/api/v1", running.base);
    rt.block_on(async {
        let (s, v) = call(
            &client(),
            "GET",
            format!("{base}/systems/{sys}/compliance"),
            &w.officer,
            None,
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["status"], "stale", "{v}");
        assert_eq!(v["current"], false);
        assert_eq!(v["counts_as_passing"], false);
        assert!(
            v["fresh_until"].as_str().unwrap() < much_later.as_str(),
            "{v}"
        );
    });
}

#[test]
fn history_keeps_every_change_of_outcome_and_prunes_the_rest() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let admin = start(d);

    // A real report of a good site, then copies of it at other times, some with the
    // certificate expired.
    let site = TlsSite::start(&TestPki::shared().localhost()).unwrap();
    let target = format!("127.0.0.1:{}", site.port());
    let run = scan(&[&target, "--ca-file", ca_file().to_str().unwrap()]);
    let good = run.reports[0].clone();
    assert!(
        good["tls"]["certificate"]["days_left"].as_i64().unwrap() > 30,
        "{good}"
    );
    let now = Timestamp::now();
    // (age in days, expired?): kept are the first, each change, and the last 30 days.
    let plan: [(i64, bool, bool); 10] = [
        (120, false, true),
        (110, false, false),
        (100, true, true),
        (90, true, false),
        (80, false, true),
        (70, false, false),
        (60, false, false),
        (50, false, false),
        (20, false, true),
        (10, false, true),
    ];
    let reports: Vec<Value> = plan
        .iter()
        .enumerate()
        .map(|(i, (age, expired, _))| {
            let at = now - SignedDuration::from_hours(age * 24);
            let mut r = good.clone();
            r["id"] = uuid_v7(at, i as u32).into();
            r["started_at"] = at.to_string().into();
            if *expired {
                r["tls"]["certificate"]["days_left"] = (-3).into();
            }
            r
        })
        .collect();

    let running = serve_env(&data, &[("CANHGAC_REPORT_RETENTION_DAYS", "30")]);
    let base = format!("{}/api/v1", running.base);
    rt.block_on(async {
        let c = client();
        let w = world(&base, d, &admin).await;
        let (s, system) = call(&c, "POST", format!("{base}/systems"), &w.officer, Some(json!({
            "name": "Cổng thông tin điện tử Sở Công Thương", "owner_agency": w.sct, "operating_unit": w.sct,
            "urls": [format!("https://{target}/")], "proposed_level": 2
        }))).await;
        assert_eq!(s, 201, "{system}");
        for r in &reports {
            let (s, v) = call(&c, "POST", format!("{base}/reports"), &w.agent, Some(r.clone())).await;
            assert_eq!(s, 201, "{v}");
        }
        let (s, h) = call(&c, "GET", format!("{base}/targets/{target}/history"), &w.officer, None).await;
        assert_eq!(s, 200, "{h}");
        assert_eq!(h["level"], 2, "the system's level");
        let ids: Vec<&str> = h["reports"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
        let want: Vec<&str> = reports.iter().zip(plan).filter(|(_, p)| p.2).map(|(r, _)| r["id"].as_str().unwrap()).rev().collect();
        assert_eq!(ids, want, "newest first: the first, every change, the last 30 days");
        let expired_entries: Vec<&Value> = h["reports"].as_array().unwrap().iter().filter(|r| strings(&r["failing"]).contains(&"tls.cert_expiry".to_string())).collect();
        assert_eq!(expired_entries.len(), 1);
        assert_eq!(expired_entries[0]["id"], reports[2]["id"]);
        assert_ne!(expired_entries[0]["grade"], h["reports"][0]["grade"]);
        assert!(h["reports"][0]["started_at"].is_string());

        // Pages.
        let (_, p1) = call(&c, "GET", format!("{base}/targets/{target}/history?limit=2"), &w.viewer, None).await;
        assert_eq!(p1["reports"].as_array().unwrap().len(), 2);
        let next = p1["next_before"].as_str().unwrap().to_string();
        let (_, p2) = call(&c, "GET", format!("{base}/targets/{target}/history?limit=2&before={next}"), &w.viewer, None).await;
        let p2_ids: Vec<&str> = p2["reports"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(p2_ids, want[2..4]);
        let (_, at4) = call(&c, "GET", format!("{base}/targets/{target}/history?level=4"), &w.viewer, None).await;
        assert_eq!(at4["level"], 4);
        for bad in ["limit=0", "limit=501", "before=abc", "level=9", "colour=red"] {
            let (s, v) = call(&c, "GET", format!("{base}/targets/{target}/history?{bad}"), &w.viewer, None).await;
            assert_eq!(s, 400, "{bad}: {v}");
        }
        // A pruned report sent again is still recognised, and not stored again.
        let (s, v) = call(&c, "POST", format!("{base}/reports"), &w.agent, Some(reports[1].clone())).await;
        assert_eq!((s, v["status"].as_str()), (200, Some("duplicate")));
        // The latest is the newest report.
        let (_, latest) = call(&c, "GET", format!("{base}/targets/{target}/latest"), &w.officer, None).await;
        assert_eq!(latest["id"], reports[9]["id"]);
        // Officers of another agency: as if the target did not exist.
        assert_eq!(call(&c, "GET", format!("{base}/targets/{target}/history"), &w.outsider, None).await.0, 404);
    });
}

#[test]
fn systems_and_agencies_are_edited_retired_and_merged() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let admin = start(d);
    let site = TlsSite::start(&TestPki::shared().localhost()).unwrap();
    let target = format!("127.0.0.1:{}", site.port());
    let run = scan(&[&target, "--ca-file", ca_file().to_str().unwrap()]);
    let report = run.reports[0].clone();

    let running = serve(&data);
    let base = format!("{}/api/v1", running.base);
    rt.block_on(async {
        let c = client();
        let w = world(&base, d, &admin).await;
        let (_, unit) = call(&c, "POST", format!("{base}/agencies"), &w.admin, Some(json!({"name": "Phòng Quản lý thương mại", "short_code": "QLTM", "parent": w.sct}))).await;
        let unit = unit["id"].as_str().unwrap().to_string();

        // An approved level-2 system of the department.
        let (s, system) = call(&c, "POST", format!("{base}/systems"), &w.officer, Some(json!({
            "name": "Trang thông tin điện tử", "owner_agency": w.sct, "operating_unit": w.sct,
            "urls": ["https://sct.example.gov.vn/"], "hosting": "Trung tâm dữ liệu tỉnh", "category": "Cổng thông tin", "proposed_level": 2
        }))).await;
        assert_eq!(s, 201, "{system}");
        let sys = system["id"].as_str().unwrap().to_string();
        let (_, dossier) = call(&c, "POST", format!("{base}/systems/{sys}/dossiers"), &w.officer, Some(json!({"level": 2}))).await;
        let dossier = dossier["id"].as_str().unwrap().to_string();
        for kind in ["overview_report", "design_document", "level_justification", "security_plan"] {
            let (s, v) = upload(&c, &base, &dossier, &w.officer, kind, &format!("{kind}.pdf"), kind.as_bytes()).await;
            assert_eq!(s, 201, "{v}");
        }
        let act = |token: &str, body: Value| {
            let (c, url, token) = (c.clone(), format!("{base}/dossiers/{dossier}/actions"), token.to_string());
            async move { call(&c, "POST", url, &token, Some(body)).await }
        };
        for (token, body) in [
            (&w.officer, json!({"action": "submit", "letter": {"number": 1203, "symbol": "SCT-VP", "date": "2026-11-02"}})),
            (&w.appraiser, json!({"action": "start_appraisal"})),
            (&w.appraiser, json!({"action": "mark_appraised", "note": "Đạt"})),
            (&w.approver, json!({"action": "approve", "level": 2, "decision_number": "15/QĐ-STTTT", "decision_date": "2026-11-20"})),
        ] {
            let (s, v) = act(token, body).await;
            assert_eq!(s, 200, "{v}");
        }
        let url = format!("{base}/systems/{sys}");
        let (_, s0) = call(&c, "GET", url.clone(), &w.officer, None).await;
        assert_eq!(s0["approved"]["level"], 2, "{s0}");

        // Refusals: workflow fields, unknown fields, bad values, other scopes.
        for body in [json!({"approved": null}), json!({"needs_redetermination": false}), json!({"colour": "đỏ"}), json!({"name": ""}), json!({"status": "sold"}), json!({"proposed_level": 7}), json!({}), json!([1])] {
            let (s, v) = call(&c, "PATCH", url.clone(), &w.officer, Some(body.clone())).await;
            assert!((400..500).contains(&s) && s != 404, "{body}: {s} {v}");
        }
        assert_eq!(call(&c, "PATCH", url.clone(), &w.outsider, Some(json!({"name": "x"}))).await.0, 404);
        assert_eq!(call(&c, "PATCH", url.clone(), &w.viewer, Some(json!({"name": "x"}))).await.0, 403);
        assert_eq!(call(&c, "PATCH", url.clone(), &w.officer, Some(json!({"operating_unit": w.syt}))).await.0, 403, "not into another agency");
        let (s, _) = call(&c, "PATCH", url.clone(), &w.officer, Some(json!({"operating_unit": "0193aaaa-5b7a-7cc0-9a8e-3a5c1f1d2e3f"}))).await;
        assert_eq!(s, 400);

        // A new name does not ask for a new determination; a new hosting does.
        let (s, v) = call(&c, "PATCH", url.clone(), &w.officer, Some(json!({"name": "Cổng thông tin điện tử Sở Công Thương"}))).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["needs_redetermination"], false);
        assert_eq!(v["approved"], s0["approved"]);
        let (s, v) = call(&c, "PATCH", url.clone(), &w.officer, Some(json!({"hosting": "Máy chủ thuê của doanh nghiệp", "operating_unit": unit}))).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["needs_redetermination"], true, "{v}");
        assert_eq!(v["operating_unit"], unit.as_str());
        assert_eq!(v["approved"]["level"], 2, "an edit never removes the approval");

        // A second system, on the scanned address: evaluated, then retired.
        let (_, other) = call(&c, "POST", format!("{base}/systems"), &w.admin, Some(json!({
            "name": "Hệ thống một cửa", "owner_agency": w.sct, "operating_unit": w.sct,
            "urls": [format!("https://{target}/")], "proposed_level": 2
        }))).await;
        let other = other["id"].as_str().unwrap().to_string();
        let (s, v) = call(&c, "POST", format!("{base}/reports"), &w.agent, Some(report.clone())).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(strings(&v["evaluated_for"]), vec![other.clone()]);
        let (s, v) = call(&c, "PATCH", format!("{base}/systems/{other}"), &w.officer, Some(json!({"status": "retired"}))).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["status"], "retired");
        let (_, v) = call(&c, "GET", format!("{base}/systems/{other}/compliance"), &w.officer, None).await;
        assert_eq!(v["status"], "retired", "kept for history, out of the counts: {v}");
        assert_eq!(v["counts_as_passing"], false);
        let mut again = report.clone();
        again["id"] = uuid_v7(Timestamp::now(), 7).into();
        // No system in use names the target any more: no agent is assigned it, the
        // administrator uploads.
        let (s, v) = call(&c, "POST", format!("{base}/reports"), &w.admin, Some(again)).await;
        assert_eq!(s, 201, "{v}");
        assert!(strings(&v["evaluated_for"]).is_empty(), "retired systems are not evaluated: {v}");
        let (_, h) = call(&c, "GET", format!("{base}/targets/{target}/history"), &w.officer, None).await;
        assert_eq!(h["reports"].as_array().unwrap().len(), 2, "its history stays readable: {h}");

        // Agencies: officers edit their own (not the parent), administrators move them, no cycle.
        let aurl = format!("{base}/agencies/{}", w.sct);
        let (s, v) = call(&c, "PATCH", aurl.clone(), &w.officer, Some(json!({"contacts": ["vanphong@sct.dongnai.gov.vn"]}))).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["contacts"][0], "vanphong@sct.dongnai.gov.vn");
        assert!((400..500).contains(&call(&c, "PATCH", aurl.clone(), &w.officer, Some(json!({"contacts": ["không phải thư"]}))).await.0));
        assert_eq!(call(&c, "PATCH", aurl.clone(), &w.officer, Some(json!({"parent": null}))).await.0, 403);
        assert_eq!(call(&c, "PATCH", aurl.clone(), &w.outsider, Some(json!({"name": "x"}))).await.0, 404);
        let (s, v) = call(&c, "PATCH", aurl.clone(), &w.admin, Some(json!({"parent": unit}))).await;
        assert_eq!(s, 400, "under its own unit: {v}");
        let (s, v) = call(&c, "PATCH", aurl.clone(), &w.admin, Some(json!({"parent": w.sct}))).await;
        assert_eq!(s, 400, "its own parent: {v}");
        let (s, v) = call(&c, "PATCH", format!("{base}/agencies/{unit}"), &w.admin, Some(json!({"parent": w.province, "short_code": "QLTM2"}))).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["parent"], w.province.as_str());
        let (s, _) = call(&c, "PATCH", format!("{base}/agencies/{unit}"), &w.admin, Some(json!({"parent": w.sct}))).await;
        assert_eq!(s, 200, "and back");

        // Merge the department into the other one: systems, units and accounts move at once.
        let murl = format!("{aurl}/merge");
        assert_eq!(call(&c, "POST", murl.clone(), &w.officer, Some(json!({"into": w.syt}))).await.0, 403);
        assert_eq!(call(&c, "POST", murl.clone(), &w.admin, Some(json!({"into": w.sct}))).await.0, 400);
        assert_eq!(call(&c, "POST", murl.clone(), &w.admin, Some(json!({"into": unit}))).await.0, 400, "into its own unit");
        assert_eq!(call(&c, "POST", murl.clone(), &w.admin, Some(json!({"into": "0193aaaa-5b7a-7cc0-9a8e-3a5c1f1d2e3f"}))).await.0, 400);
        assert_eq!(call(&c, "POST", murl.clone(), &w.admin, Some(json!({"to": w.syt}))).await.0, 422);
        let (s, v) = call(&c, "POST", murl.clone(), &w.admin, Some(json!({"into": w.syt}))).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["agency"]["merged_into"], w.syt.as_str());
        assert_eq!(v["agency"]["retired"], true);
        let mut moved = strings(&v["moved"]["systems"]);
        moved.sort();
        let mut want = vec![sys.clone(), other.clone()];
        want.sort();
        assert_eq!(moved, want);
        assert_eq!(strings(&v["moved"]["agencies"]), vec![unit.clone()]);
        assert_eq!(strings(&v["moved"]["accounts"]), vec!["officer".to_string()]);
        assert_eq!(call(&c, "POST", murl.clone(), &w.admin, Some(json!({"into": w.syt}))).await.0, 409);
        assert_eq!(call(&c, "PATCH", aurl.clone(), &w.admin, Some(json!({"name": "x"}))).await.0, 409);
        let (s, v) = call(&c, "POST", format!("{base}/systems"), &w.admin, Some(json!({"name": "z", "owner_agency": w.sct, "operating_unit": w.sct}))).await;
        assert_eq!(s, 400, "no new system for an agency merged away: {v}");

        let (_, v) = call(&c, "GET", url.clone(), &w.admin, None).await;
        assert_eq!(v["owner_agency"], w.syt.as_str());
        let (_, listed) = call(&c, "GET", format!("{base}/agencies"), &w.admin, None).await;
        let names: Vec<&str> = listed.as_array().unwrap().iter().map(|a| a["short_code"].as_str().unwrap()).collect();
        assert!(!names.contains(&"SCT"), "merged agencies are hidden by default: {names:?}");
        assert!(names.contains(&"QLTM2"));
        let (_, all) = call(&c, "GET", format!("{base}/agencies?include_merged=true"), &w.admin, None).await;
        assert!(all.as_array().unwrap().iter().any(|a| a["short_code"] == "SCT" && a["merged_into"] == w.syt.as_str()));
        // The moved officer now works for the other department: they see its systems, and
        // the system that moved with them.
        let (_, mine) = call(&c, "GET", format!("{base}/agencies"), &w.officer, None).await;
        let mine: Vec<&str> = mine.as_array().unwrap().iter().map(|a| a["short_code"].as_str().unwrap()).collect();
        assert!(mine.contains(&"SYT") && mine.contains(&"QLTM2"), "{mine:?}");
        assert_eq!(call(&c, "GET", url.clone(), &w.officer, None).await.0, 200);
        assert_eq!(call(&c, "GET", url.clone(), &w.outsider, None).await.0, 200, "the other department's officer too");
    });
}
