//! The web UI's dashboard, weekly report and agents pages through the real `canhgac-server`:
//! the dashboard's weekly figures are the API's (`GET /api/v1/reports/weekly`) for the same
//! data, an agency officer's count only their agency; a scan report's expiring certificate and
//! domain and its defacement show on the dashboard of those who may see the system; the weekly
//! page carries the API's Vietnamese paragraph and the letter's table for a chosen week, and
//! its XLSX opens with calamine; the agents page lists an enrolled agent, silent until it
//! checks in, and never to another agency's officer.

use canhgac_policies::report::{
    AgentInfo, Certificate, ChainFacts, Ciphers, ContentReport, DomainReport, Protocols,
    ScanReport, Target, TlsReport, Validation,
};
use serde_json::{Value, json};

use crate::serverkit::{add_user, call, client, serve, serve_env, token_for};
use crate::webkit::{WebSession, between, sheet};

const PASSWORD: &str = "mật-khẩu-đủ-dài-2026";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Seed 001's systems of the Department of Industry and Trade, with their covering letters.
const SCT_CSV: &str = "\u{feff}STT;Tên hệ thống thông tin;Đơn vị vận hành;Cấp độ đề xuất;Hồ sơ và thời gian gửi HSDXCĐ\r\n\
1;Trang thông tin điện tử của Sở Công Thương (http://sct.dongnai.gov.vn/ Server tại Data Center của tỉnh);Sở Công Thương;2;VB số 2559/SCT-VP ngày 25/5/2021\r\n\
2;Hệ thống cơ sở dữ liệu ngành Công Thương (http://dlct.dongnai.gov.vn/ Server của Doanh nghiệp bên ngoài);Sở Công Thương;3;VB số 2561/SCT-VP ngày 25/5/2021\r\n\
3;Hệ thống thông tin khuyến mại ngành Công Thương trên địa bàn tỉnh (http://dkkm.dongnai.gov.vn Server tại Data Center của tỉnh);Sở Công Thương;3;VB số 2560/SCT-VP ngày 25/5/2021\r\n\
4;Trang thông tin điện tử của Trung tâm XTTM (http://xttmdn.dongnai.gov.vn/ Server Sở KH&CN quản lý);Trung tâm XTTM;2;VB số 2563/SCT-VP ngày 25/5/2021\r\n";

/// One system of the Department of Justice, sent a day later.
const STP_CSV: &str = "STT;Tên hệ thống thông tin;Đơn vị vận hành;Cấp độ đề xuất;Hồ sơ và thời gian gửi HSDXCĐ\r\n\
1;Cổng thông tin điện tử Sở Tư pháp (https://stp.dongnai.gov.vn/);Sở Tư pháp;2;VB số 310/STP-VP ngày 26/5/2021\r\n";

/// The element with `id` up to the end of its kind (`</section>`, `</table>`...).
fn part<'a>(html: &'a str, id: &str, end: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("#{id} missing"));
    let rest = &html[start..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

/// The number of the dashboard figure `key` (thousands separators removed).
fn figure(html: &str, key: &str) -> u64 {
    let figures = part(html, "figures", "</section>");
    let at = figures
        .find(&format!("data-key=\"{key}\""))
        .unwrap_or_else(|| panic!("figure {key} missing: {figures}"));
    let n = between(&figures[at..], "<div class=\"n\">", "</div>");
    n.chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("figure {key}: {n:?}"))
}

/// The change written under figure `key`.
fn change(html: &str, key: &str) -> String {
    let figures = part(html, "figures", "</section>");
    let at = figures.find(&format!("data-key=\"{key}\"")).unwrap();
    let rest = &figures[at..];
    between(rest, "<div class=\"d", "</div>")
        .split_once('>')
        .map(|(_, t)| t.trim().to_string())
        .unwrap_or_default()
}

/// Checks that every dashboard figure is the API's.
fn assert_figures_match(html: &str, api: &Value) {
    for key in [
        "units",
        "dossiers",
        "approved",
        "awaiting_approval",
        "needs_supplement",
        "overdue",
    ] {
        assert_eq!(
            Some(figure(html, key)),
            api[key].as_u64(),
            "{key}: the dashboard says other than the API {api}"
        );
    }
}

/// A scan report of `host`: a certificate with 12 days left, a domain with 20, a defaced page.
fn report(host: &str, id: &str) -> Value {
    let now = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(1);
    let report = ScanReport {
        schema_version: 1,
        id: id.to_string(),
        agent: AgentInfo {
            name: "e2e".into(),
            version: "0".into(),
        },
        started_at: now,
        duration_ms: 10,
        target: Target {
            input: host.into(),
            host: host.into(),
            port: 443,
            address: Some("127.0.0.1".into()),
        },
        tls: Some(TlsReport {
            reachable: true,
            error: None,
            negotiated: None,
            negotiation_error: None,
            protocols: Protocols::default(),
            protocol_errors: Default::default(),
            protocol_evidence: Default::default(),
            ciphers: Ciphers::default(),
            certificate: Some(Certificate {
                subject: format!("CN={host}"),
                common_name: Some(host.into()),
                san_dns: vec![host.into()],
                san_ip: Vec::new(),
                issuer: "CN=Test CA".into(),
                serial: "01".into(),
                not_before: now - jiff::SignedDuration::from_hours(24 * 78),
                not_after: now + jiff::SignedDuration::from_hours(24 * 12 + 2),
                days_left: 12,
                key_type: "RSA".into(),
                key_bits: 2048,
                curve: None,
                signature_algorithm: "sha256WithRSAEncryption".into(),
                self_signed: false,
                sha256: "0".repeat(64),
                ocsp_urls: Vec::new(),
            }),
            chain: Vec::new(),
            chain_facts: ChainFacts::default(),
            validation: Validation {
                status: "trusted".into(),
                trusted: true,
                error: None,
                detail: None,
                hostname_match: Some(true),
                trust_store: "webpki-roots".into(),
            },
            connections: 1,
        }),
        http: None,
        dns: None,
        domain: Some(DomainReport {
            name: "dongnai.gov.vn".into(),
            gov_vn: true,
            expires_in_days: Some(20),
            ..DomainReport::default()
        }),
        content: Some(ContentReport {
            url: Some(format!("https://{host}/")),
            title: Some("Hacked by e2e".into()),
            defacement: true,
            ..ContentReport::default()
        }),
    };
    serde_json::to_value(&report).unwrap()
}

#[test]
fn web_dashboard_weekly_page_and_agents_show_the_apis_figures_in_scope() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    assert_eq!(
        add_user(d, "admin", "administrator", None, Some(PASSWORD)).0,
        0
    );
    let admin = token_for(d, "admin");
    let running = serve(&data);
    let base = running.base.clone();
    let api = format!("{base}/api/v1");
    rt.block_on(async {
        let c = client();
        // Strangers are sent to the sign-in form.
        let r = WebSession::anonymous(&base).get("/").await;
        assert_eq!(r.status, 303);
        assert_eq!(r.location, "/login?next=%2F");

        // A province, the Department of Industry and Trade with a centre, the Department of
        // Justice; accounts.
        let post_agency = |name: &str, code: &str, parent: Option<&Value>| {
            let mut body = json!({"name": name, "short_code": code});
            if let Some(p) = parent {
                body["parent"] = p["id"].clone();
            }
            call(&c, "POST", format!("{api}/agencies"), &admin, Some(body))
        };
        let (s, province) = post_agency("UBND tỉnh Đồng Nai", "UBND", None).await;
        assert_eq!(s, 201, "{province}");
        let sct = post_agency("Sở Công Thương", "SCT", Some(&province)).await.1;
        post_agency("Trung tâm XTTM", "XTTM", Some(&sct)).await;
        let stp = post_agency("Sở Tư pháp", "STP", Some(&province)).await.1;
        let mut tokens = Vec::new();
        for (login, role, agency) in [
            ("thamdinh", "appraiser", None),
            ("canbo-sct", "agency_officer", Some(&sct)),
            ("canbo-stp", "agency_officer", Some(&stp)),
        ] {
            let mut body = json!({"login": login, "display_name": login, "role": role, "password": PASSWORD});
            if let Some(a) = agency {
                body["agency"] = a["id"].clone();
            }
            let (s, v) = call(&c, "POST", format!("{api}/users"), &admin, Some(body)).await;
            assert_eq!(s, 201, "{v}");
            let (s, t) = call(&c, "POST", format!("{api}/tokens"), &admin, Some(json!({"login": login, "name": "e2e"}))).await;
            assert_eq!(s, 201, "{t}");
            tokens.push(t["token"].as_str().unwrap().to_string());
        }
        let (appraiser, officer_sct, officer_stp) = (&tokens[0], &tokens[1], &tokens[2]);

        // The inventories, with their covering letters: five submitted dossiers.
        for (agency, csv) in [("SCT", SCT_CSV), ("STP", STP_CSV)] {
            let r = c
                .post(format!("{api}/import/inventory?agency={agency}"))
                .bearer_auth(&admin)
                .header("content-type", "text/csv")
                .body(csv)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
        }
        // Today the appraiser returns one of the department's dossiers for supplementation.
        let (_, list) = call(&c, "GET", format!("{api}/dossiers?letter=2561/SCT-VP"), &admin, None).await;
        let dossier = list["items"][0]["id"].as_str().unwrap_or_else(|| panic!("{list}")).to_string();
        for action in [json!({"action": "start_appraisal"}), json!({"action": "request_supplement", "missing_items": ["Báo cáo thuyết minh đề xuất cấp độ"]})] {
            let (s, v) = call(&c, "POST", format!("{api}/dossiers/{dossier}/actions"), appraiser, Some(action)).await;
            assert_eq!(s, 200, "{v}");
        }

        // The dashboard's figures are the API's, with the change since last week.
        let (s, weekly) = call(&c, "GET", format!("{api}/reports/weekly"), &admin, None).await;
        assert_eq!(s, 200, "{weekly}");
        assert_eq!(
            (weekly["dossiers"].as_u64(), weekly["units"].as_u64(), weekly["needs_supplement"].as_u64(), weekly["awaiting_approval"].as_u64()),
            (Some(5), Some(3), Some(1), Some(4)),
            "{weekly}"
        );
        let staff = WebSession::sign_in(&base, "admin", PASSWORD, "/").await;
        let home = staff.html("/").await;
        assert_figures_match(&home, &weekly);
        assert_eq!(change(&home, "needs_supplement"), "+1 so với tuần trước");
        assert_eq!(change(&home, "awaiting_approval"), "−1 so với tuần trước");
        assert_eq!(change(&home, "dossiers"), "không đổi so với tuần trước");
        assert!(home.contains("Hồ sơ đã tiếp nhận") && home.contains("toàn tỉnh"));
        // Systems by level: five systems, three of level 2 and two of level 3, as text.
        let levels = part(&home, "by-level", "</section>");
        assert!(levels.contains("<svg class=\"chart\"") && levels.contains("<title"), "{levels}");
        assert_eq!(levels.matches("<rect class=\"bar\"").count(), 5, "{levels}");
        assert!(levels.contains("Cấp độ 2: 3") && levels.contains("Cấp độ 3: 2"), "{levels}");
        // Compliance by agency: nobody scanned yet, so nobody passes.
        let compliance = part(&home, "compliance", "</section>");
        assert!(compliance.contains("Sở Công Thương") && compliance.contains("Sở Tư pháp"), "{compliance}");
        assert_eq!(compliance.matches("<tr class=\"group\">").count(), 2, "{compliance}");
        assert!(compliance.contains("0% (0/4)"), "{compliance}");
        assert!(part(&home, "expiring", "</section>").contains("Không có chứng thư số"));
        assert!(part(&home, "defaced", "</section>").contains("không phát hiện"));

        // In English, the same figures; the weekly paragraph stays Vietnamese, for the letter.
        let english = |path: &'static str| staff.get_with_cookie(path, "canhgac_lang=en");
        let en = english("/").await.text().to_string();
        assert_figures_match(&en, &weekly);
        assert!(en.contains("Dossiers received") && en.contains("Level 2: 3"), "{en}");
        assert_eq!(change(&en, "needs_supplement"), "+1 since last week");
        let en = english("/weekly").await.text().to_string();
        assert!(en.contains("Download the workbook (XLSX)"), "{en}");
        assert!(part(&en, "weekly-text", "</p>").contains(weekly["text"].as_str().unwrap()));

        // An agency officer's dashboard counts their agency only, as the API does for them.
        let (_, own) = call(&c, "GET", format!("{api}/reports/weekly"), officer_stp, None).await;
        assert_eq!(own["dossiers"], 1, "{own}");
        let stp_browser = WebSession::sign_in(&base, "canbo-stp", PASSWORD, "/").await;
        let stp_home = stp_browser.html("/").await;
        assert_figures_match(&stp_home, &own);
        assert!(stp_home.contains("Sở Tư pháp"));
        assert!(!part(&stp_home, "compliance", "</section>").contains("Sở Công Thương"));
        let (_, sct_weekly) = call(&c, "GET", format!("{api}/reports/weekly"), officer_sct, None).await;
        let sct_browser = WebSession::sign_in(&base, "canbo-sct", PASSWORD, "/").await;
        assert_figures_match(&sct_browser.html("/").await, &sct_weekly);
        assert_eq!(sct_weekly["dossiers"], 4, "{sct_weekly}");

        // A scan of the department's site: certificate and domain about to expire, defaced.
        let (s, v) = call(&c, "POST", format!("{api}/reports"), &admin, Some(report("sct.dongnai.gov.vn", "0193aaaa-5b7a-7cc0-9a8e-3a5c1f1d2e3f"))).await;
        assert!(s == 200 || s == 201, "{s} {v}");
        let home = staff.html("/").await;
        let expiring = part(&home, "expiring", "</section>");
        assert_eq!(expiring.matches("<tr class=\"expiry").count(), 2, "{expiring}");
        assert!(expiring.contains("Trang thông tin điện tử của Sở Công Thương"), "{expiring}");
        assert!(expiring.contains("Chứng thư số") && expiring.contains("còn 12 ngày"), "{expiring}");
        assert!(expiring.contains("Tên miền") && expiring.contains("còn 20 ngày"), "{expiring}");
        let defaced = part(&home, "defaced", "</section>");
        assert!(defaced.contains("Trang thông tin điện tử của Sở Công Thương"), "{defaced}");
        assert!(defaced.contains("Bị thay đổi giao diện trái phép") && !defaced.contains("Không bị"), "{defaced}");
        assert_eq!(defaced.matches("<tr class=\"finding\">").count(), 1);
        // Evaluated, failing: still 0 passing of 4 for the department, 1 evaluated.
        let compliance = part(&home, "compliance", "</section>");
        assert!(
            compliance.contains("<tr class=\"group\"><td>Sở Công Thương</td><td class=\"num\">4</td><td class=\"num\">1</td><td class=\"num\">0</td>"),
            "{compliance}"
        );
        // The department's officer sees it; the justice department's does not.
        let sct_home = sct_browser.html("/").await;
        assert!(part(&sct_home, "defaced", "</section>").contains("Sở Công Thương"));
        let stp_home = stp_browser.html("/").await;
        assert!(!stp_home.contains("Trang thông tin điện tử của Sở Công Thương"));
        assert!(part(&stp_home, "expiring", "</section>").contains("Không có chứng thư số"));

        // The weekly page: the API's paragraph, the letter's table, the workbook.
        let page = staff.html("/weekly").await;
        let text = weekly["text"].as_str().unwrap();
        assert!(part(&page, "weekly-text", "</p>").contains(text), "{page}");
        assert!(page.contains("BÁO CÁO TUẦN"), "{page}");
        let table = part(&page, "weekly-table", "</table>");
        assert_eq!(table.matches("<tr class=\"figure\">").count(), 7, "{table}");
        assert!(table.contains("<td>Cần bổ sung, hoàn thiện</td><td class=\"num\">1</td><td class=\"num\">0</td><td class=\"num\">+1</td>"), "{table}");
        assert!(part(&page, "weekly-supplement", "</table>").contains("Sở Công Thương"));
        let link = between(part(&page, "weekly-xlsx", "</a>"), "href=\"", "\"").to_string();
        assert!(link.starts_with("/weekly.xlsx?week="), "{link}");
        let xlsx = staff.get(&link).await;
        assert_eq!((xlsx.status, xlsx.content_type.as_str()), (200, XLSX));
        let figures = sheet(&xlsx.body, "Báo cáo tuần");
        let row = |label: &str| figures.iter().find(|r| r.get(1).is_some_and(|c| c == label)).unwrap_or_else(|| panic!("{label}: {figures:?}")).clone();
        assert_eq!(row("Số hồ sơ đã tiếp nhận")[2..5], ["5", "5", "0"]);
        assert_eq!(row("Cần bổ sung, hoàn thiện")[2..5], ["1", "0", "1"]);
        // The week of the letters (any day of it): the figures at its Friday, 28/5/2021.
        let (_, may) = call(&c, "GET", format!("{api}/reports/weekly?week_end=2021-05-28"), &admin, None).await;
        let page = staff.html("/weekly?week=2021-05-26").await;
        assert!(page.contains("BÁO CÁO TUẦN 4 THÁNG 5 NĂM 2021"), "{page}");
        assert!(page.contains("từ ngày 22/5/2021 đến ngày 28/5/2021"), "{page}");
        assert!(part(&page, "weekly-text", "</p>").contains(may["text"].as_str().unwrap()), "{page}");
        assert!(may["text"].as_str().unwrap().starts_with("Đến hết ngày 28/5/2021, 03 đơn vị đã gửi 05 hồ sơ"), "{may}");
        let before = staff.html("/weekly?week=20/5/2021").await;
        assert!(before.contains("chưa có đơn vị nào gửi hồ sơ"), "{before}");
        let workbook = staff.get("/weekly.xlsx?week=2021-05-26").await;
        assert_eq!(workbook.status, 200);
        assert_eq!(row_of(&sheet(&workbook.body, "Báo cáo tuần"), "Số hồ sơ đã tiếp nhận")[2], "5");
        // A wrong day is shown next to the picker.
        for (bad, message) in [("31/2/2024", "dd/mm/yyyy"), ("2099-01-01", "chưa bắt đầu")] {
            let a = staff.get(&format!("/weekly?week={bad}")).await;
            assert_eq!(a.status, 400, "{bad}");
            assert!(part(a.text(), "week-error", "</p>").contains(message), "{bad}");
            assert_eq!(staff.get(&format!("/weekly.xlsx?week={bad}")).await.status, 400);
        }
        // An officer's weekly page is their agency's.
        let page = stp_browser.html("/weekly").await;
        assert!(part(&page, "weekly-text", "</p>").contains(own["text"].as_str().unwrap()));
        assert!(page.contains("Phạm vi: Sở Tư pháp"));

        // An agent enrolled on the department's network, checking in.
        let (s, e) = call(&c, "POST", format!("{api}/enrollments"), &admin, Some(json!({"agency": sct["id"], "network": "LAN Sở Công Thương"}))).await;
        assert_eq!(s, 201, "{e}");
        let r = c
            .post(format!("{api}/agents/enroll"))
            .json(&json!({"token": e["token"], "name": "may-quet-sct", "hostname": "quet01.sct", "version": "0.1.0"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        let enrolled: Value = r.json().await.unwrap();
        let agent_id = enrolled["agent_id"].as_str().unwrap().to_string();
        let (s, v) = call(&c, "POST", format!("{api}/agent/checkin"), enrolled["credential"].as_str().unwrap(), Some(json!({
            "version": "0.1.1", "last_scan_at": null, "spool_depth": 7, "spool_bytes": 700,
            "spool_capacity_bytes": 536870912u64, "oldest_spooled_at": null, "rejected": 0}))).await;
        assert_eq!(s, 200, "{v}");
        let (_, listed) = call(&c, "GET", format!("{api}/agents"), &admin, None).await;
        let agents = staff.html("/agents").await;
        let table = part(&agents, "agents", "</table>");
        assert_eq!(table.matches("<tr class=\"agent\"").count(), 1, "{table}");
        assert!(table.contains(&format!("data-agent=\"{agent_id}\" data-status=\"ok\"")), "{table}");
        assert!(table.contains("may-quet-sct") && table.contains("LAN Sở Công Thương") && table.contains("Đang hoạt động"), "{table}");
        assert!(table.contains("0.1.1") && table.contains("<td class=\"num hide-narrow\">7</td>"), "version and spool: {table}");
        assert!(table.contains("6 giờ / 1 phút"), "the expected intervals: {table}");
        let targets = listed[0]["targets"].as_u64().unwrap();
        assert_eq!(targets, 4, "{listed}");
        assert!(table.contains(&format!("<td class=\"num\">{targets}</td>")), "{table}");
        let silent = staff.html("/").await;
        assert!(!part(&silent, "silent-agents", "</section>").contains("may-quet-sct"));
        // The API's rule: the department's officer sees their agent, the other's sees none.
        assert!(sct_browser.html("/agents").await.contains("may-quet-sct"));
        let other_agents = stp_browser.html("/agents").await;
        assert!(!other_agents.contains("may-quet-sct") && other_agents.contains("id=\"agents-none\""));
    });
    drop(running);

    // Two hours later without a word from it, the agent is silent: in red on both pages.
    let later = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(2)).to_string();
    let running = serve_env(&data, &[("CANHGAC_FAKE_NOW", later.as_str())]);
    let base = running.base.clone();
    rt.block_on(async {
        let staff = WebSession::sign_in(&base, "admin", PASSWORD, "/").await;
        let agents = staff.html("/agents").await;
        let table = part(&agents, "agents", "</table>");
        assert!(table.contains("data-status=\"silent\""), "{table}");
        assert!(
            table.contains("<td class=\"status bad\">Mất liên lạc</td>"),
            "{table}"
        );
        let home = staff.html("/").await;
        let silent = part(&home, "silent-agents", "</section>");
        assert_eq!(
            silent.matches("<tr class=\"silent-agent\">").count(),
            1,
            "{silent}"
        );
        assert!(
            silent.contains("may-quet-sct") && silent.contains("LAN Sở Công Thương"),
            "{silent}"
        );
        // The officer of the other department never sees it, silent or not.
        let other = WebSession::sign_in(&base, "canbo-stp", PASSWORD, "/").await;
        assert!(!other.html("/").await.contains("may-quet-sct"));
    });
    drop(running);
}

fn row_of(rows: &[Vec<String>], label: &str) -> Vec<String> {
    rows.iter()
        .find(|r| r.get(1).is_some_and(|c| c == label))
        .unwrap_or_else(|| panic!("{label}: {rows:?}"))
        .clone()
}
