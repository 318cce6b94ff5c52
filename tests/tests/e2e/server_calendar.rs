//! Official holiday schedules entered on the real `canhgac-server`: imported from a file with
//! `canhgac-server calendar import` (on the store, and through the running server), through
//! `PUT /api/v1/calendar/official` and the `/lich` page; they take precedence over the policy
//! pack's data in `calendar YEAR`, `GET /api/v1/calendar/{year}` and the dossiers' deadlines,
//! survive a restart, and are refused with the line of the mistake.

use std::path::Path;

use canhgac_policies::calendar::{CalendarRules, add_working_days};
use jiff::civil::Date;
use serde_json::{Value, json};

use crate::server_documents::{draft, province, system, upload};
use crate::serverkit::{add_user, call, client, serve, server};
use crate::webkit::{WebSession, between};

const THROUGH: &str = "qua máy chủ đang chạy / through the running server at";
const MARK: &str = "[lịch chính thức]";

/// Tết Đinh Mùi 2027 as an announcement might give it: 05/02 to 15/02 off, nothing worked
/// instead (the pack computes 05/02 to 11/02: the five days and two compensatory ones).
const TET_2027: &str = r#"# Lịch nghỉ Tết Nguyên đán Đinh Mùi 2027
[[schedule]]
year = 2027
holiday = "tet"
off = [{ from = 2027-02-05, to = 2027-02-15 }]
working = []
note = "Thông báo của Bộ Nội vụ"
"#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// The days-off lines of `calendar`'s text for one date (not the blocks starting on it).
fn line_of<'a>(out: &'a str, dmy: &str) -> Vec<&'a str> {
    out.lines()
        .filter(|l| l.starts_with(&format!("{dmy} ")) && !l.contains(" – "))
        .collect()
}

#[test]
fn server_calendar_cli_import_shows_official_days_and_remove_restores_the_pack() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let file = write(dir.path(), "tet-2027.toml", TET_2027);

    // Before: the pack's computed Tết, nothing marked official.
    let (code, before, err) = server(&["calendar", "2027", "--data", d], None);
    assert_eq!(code, 0, "{err}");
    assert!(line_of(&before, "12/02/2027").is_empty(), "{before}");
    assert!(!before.contains(MARK), "{before}");
    assert!(!data.exists(), "a read creates no data directory");

    let (code, out, err) = server(&["calendar", "import", &file, "--data", d], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("days off added: 12/02/2027, 13/02/2027, 14/02/2027, 15/02/2027"),
        "{out}"
    );
    assert!(
        out.contains("14 ngày nghỉ trước, 18 ngày nghỉ sau"),
        "{out}"
    );

    let (code, after, err) = server(&["calendar", "2027", "--data", d], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        line_of(&after, "12/02/2027"),
        [format!(
            "12/02/2027 Mùng 7 Tết Đinh Mùi (7/1 âm lịch), nghỉ theo lịch công bố {MARK}"
        )]
    );
    assert_eq!(
        line_of(&after, "06/02/2027"),
        [format!(
            "06/02/2027 Mùng 1 Tết Đinh Mùi (1/1 âm lịch) {MARK}"
        )]
    );
    assert_eq!(line_of(&after, "01/01/2027"), ["01/01/2027 Tết Dương lịch"]);
    assert!(
        after.contains("Lịch chính thức năm 2027 do cli nhập lúc"),
        "{after}"
    );
    // Friday 12/02 and Monday 15/02 are no longer worked.
    let working = |text: &str| -> u32 {
        text.lines()
            .find_map(|l| l.strip_prefix("Số ngày làm việc năm 2027: "))
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(working(&after) + 2, working(&before));

    // The same as JSON, with `calendar show`.
    let (code, json, err) = server(&["calendar", "show", "2027", "--json", "--data", d], None);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["official"]["imported_by"], "cli");
    assert!(
        v["official"]["toml"]
            .as_str()
            .unwrap()
            .contains("Bộ Nội vụ")
    );
    let days = v["days_off"].as_array().unwrap();
    let day = |date: &str| days.iter().find(|d| d["date"] == date).unwrap();
    assert_eq!(day("2027-02-15")["official"], true);
    assert_eq!(day("2027-01-01")["official"], false);
    assert_eq!(v["working_days"], working(&after));

    // Other years keep the pack's data.
    let (_, pack_2026, _) = server(&["calendar", "2026"], None);
    let (_, stored_2026, _) = server(&["calendar", "2026", "--data", d], None);
    assert_eq!(pack_2026, stored_2026);

    // A mistake: the file, line and column; nothing stored.
    let bad = write(
        dir.path(),
        "bad.toml",
        "[[schedule]]\nyear = 2027\nholiday = \"tết\"\noff = []\n",
    );
    let (code, _, err) = server(&["calendar", "import", &bad, "--data", d], None);
    assert_eq!(code, 1);
    assert!(
        err.contains("bad.toml:3:11: schedule refers to unknown holiday \"tết\""),
        "{err}"
    );
    let (_, again, _) = server(&["calendar", "2027", "--data", d], None);
    assert_eq!(again, after);

    // Removal: the pack's days again.
    let (code, out, err) = server(&["calendar", "remove", "2027", "--data", d], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("days off removed: 12/02/2027, 13/02/2027, 14/02/2027, 15/02/2027"),
        "{out}"
    );
    let (_, restored, _) = server(&["calendar", "2027", "--data", d], None);
    assert_eq!(restored, before);
    let (code, _, err) = server(&["calendar", "remove", "2027", "--data", d], None);
    assert_eq!(code, 1);
    assert!(
        err.contains("no official schedule is stored for 2027"),
        "{err}"
    );

    // While the server runs, the commands go through it.
    let (code, err) = add_user(d, "admin", "administrator", None, Some("mật-khẩu-quản-trị"));
    assert_eq!(code, 0, "{err}");
    let running = serve(&data);
    let (code, out, err) = server(&["calendar", "import", &file, "--data", d], None);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(THROUGH), "{err}");
    assert!(out.contains("15/02/2027"), "{out}");
    let (code, through, err) = server(&["calendar", "2027", "--data", d], None);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(THROUGH), "{err}");
    assert_eq!(
        line_of(&through, "15/02/2027"),
        [format!(
            "15/02/2027 Mùng 10 Tết Đinh Mùi (10/1 âm lịch), nghỉ theo lịch công bố {MARK}"
        )]
    );
    let (code, _, err) = server(&["calendar", "import", &bad, "--data", d], None);
    assert_eq!(code, 1);
    assert!(err.contains("3:11") && err.contains("HTTP 422"), "{err}");
    let (code, _, err) = server(&["calendar", "remove", "2027", "--data", d], None);
    assert_eq!(code, 0, "{err}");
    let (_, through, _) = server(&["calendar", "2027", "--data", d], None);
    assert!(!through.contains(MARK), "{through}");
    drop(running);
}

/// The three working days after `today` under `rules`.
fn next_working_days(rules: &CalendarRules, today: Date) -> Vec<Date> {
    today
        .series(jiff::Span::new().days(1))
        .skip(1)
        .filter(|d| rules.is_working_day(*d))
        .take(3)
        .collect()
}

/// Submits a new level-2 dossier of a new system: its deadline's due date and the day it was
/// submitted (in Vietnam).
async fn submitted(
    c: &reqwest::Client,
    base: &str,
    p: &crate::server_documents::Province,
    name: &str,
) -> (Date, Date) {
    let sys = system(c, base, p, name).await;
    let id = draft(c, base, p, &sys).await;
    for kind in [
        "overview_report",
        "design_document",
        "level_justification",
        "security_plan",
    ] {
        let (s, v) = upload(
            c,
            base,
            &id,
            &p.officer,
            kind,
            &format!("{kind}.pdf"),
            b"%PDF",
        )
        .await;
        assert_eq!(s, 201, "{v}");
    }
    let letter = json!({"number": 1203, "symbol": "SCT-VP", "date": "2026-11-02"});
    let (s, v) = call(
        c,
        "POST",
        format!("{base}/dossiers/{id}/actions"),
        &p.officer,
        Some(json!({"action": "submit", "letter": letter})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let due: Date = v["dossier"]["deadline"]["due"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let at: jiff::Timestamp = v["event"]["at"].as_str().unwrap().parse().unwrap();
    let day = at
        .to_zoned_datetime(jiff::tz::TimeZone::fixed(jiff::tz::offset(7)))
        .date();
    (due, day)
}

#[test]
fn server_calendar_api_admin_stores_officers_cannot_and_deadlines_follow() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = province(&data);
    let pack = CalendarRules::decree85_default();
    let running = serve(&data);
    let base = format!("{}/api/v1", running.base);
    let official_rules = rt.block_on(async {
        let c = client();
        // Before: a dossier's appraisal deadline counts the pack's working days.
        let (due_before, day) = submitted(&c, &base, &p, "Cổng thông tin điện tử").await;
        assert_eq!(due_before, add_working_days(&pack, day, 15));

        // Everyone signed in reads the year; nobody else.
        let year = day.year();
        for token in [&p.officer, &p.viewer, &p.agent, &p.admin] {
            let (s, v) = call(&c, "GET", format!("{base}/calendar/{year}"), token, None).await;
            assert_eq!(s, 200, "{v}");
            assert!(v["official"].is_null(), "{v}");
        }
        let r = c.get(format!("{base}/calendar/{year}")).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let (s, _) = call(&c, "GET", format!("{base}/calendar/1800"), &p.officer, None).await;
        assert_eq!(s, 400);

        // An official schedule that closes agencies on the next three working days (Culture
        // Day, a holiday the pack lists but does not give).
        let closed = next_working_days(&pack, day);
        let text = format!(
            "[[schedule]]\nyear = {year}\nholiday = \"culture-day\"\noff = [{}]\nnote = \"thử nghiệm\"\n",
            closed
                .iter()
                .map(|d| format!("{{ from = {d} }}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let put = |token: Option<&str>, body: &str| {
            let mut req = c
                .put(format!("{base}/calendar/official"))
                .header("content-type", "application/toml")
                .body(body.to_string());
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            async move {
                let r = req.send().await.unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        assert_eq!(put(None, &text).await.0, 401);
        for token in [&p.officer, &p.appraiser, &p.approver, &p.viewer, &p.agent] {
            let (s, v) = put(Some(token), &text).await;
            assert_eq!(s, 403, "{v}");
        }
        // Bad TOML: 422 with the line and column.
        let (s, v) = put(Some(&p.admin), "[[schedule]]\nyear = 2027\nholiday = \"tet\"\noff = [{ from = 2027-02-05 \n").await;
        assert_eq!(s, 422, "{v}");
        assert_eq!(v["error"]["code"], "invalid_calendar");
        assert_eq!(v["error"]["line"], 4, "{v}");
        assert!(v["error"]["column"].is_u64(), "{v}");
        let (s, v) = put(Some(&p.admin), "[[schedule]]\nyear = 2027\nholiday = \"quoc-khanh\"\noff = []\n").await;
        assert_eq!(s, 422, "{v}");
        assert_eq!((v["error"]["line"].as_u64(), v["error"]["column"].as_u64()), (Some(3), Some(11)));
        assert!(v["error"]["message"].as_str().unwrap().contains("unknown holiday \"quoc-khanh\""), "{v}");
        let (_, list) = call(&c, "GET", format!("{base}/calendar/official"), &p.officer, None).await;
        assert_eq!(list, json!([]), "nothing stored by refused files");

        // The administrator stores it.
        let (s, v) = put(Some(&p.admin), &text).await;
        assert_eq!(s, 200, "{v}");
        let added: Vec<String> = v["years"][0]["added"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_string())
            .collect();
        let in_year: Vec<String> = closed.iter().filter(|d| d.year() == year).map(Date::to_string).collect();
        assert_eq!(added, in_year, "{v}");
        let official_rules = pack.with_official(&text, "test").unwrap();
        assert_eq!(v["years"][0]["working_days_after"], official_rules.working_days_in_year(year));

        // The year as JSON: the days, marked official.
        let (s, v) = call(&c, "GET", format!("{base}/calendar/{year}"), &p.officer, None).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["official"]["imported_by"], "admin");
        for d in &in_year {
            let found = v["days_off"].as_array().unwrap().iter().find(|x| x["date"] == d.as_str());
            let found = found.unwrap_or_else(|| panic!("{d} is a day off: {v}"));
            assert_eq!(found["official"], true);
            assert_eq!(found["holiday_id"], "culture-day");
        }
        assert_eq!(v["working_days"], official_rules.working_days_in_year(year));

        // Precedence: a dossier submitted now gets the official calendar's deadline.
        let (due_after, day_after) = submitted(&c, &base, &p, "Cơ sở dữ liệu ngành").await;
        assert_eq!(day_after, day, "the test ran across midnight in Vietnam");
        assert_eq!(due_after, add_working_days(&official_rules, day, 15));
        assert!(due_after > due_before, "{due_after} after {due_before}");
        official_rules
    });

    // After a restart the stored schedule still applies.
    drop(running);
    let running = serve(&data);
    let base = format!("{}/api/v1", running.base);
    rt.block_on(async {
        let c = client();
        let (due, day) = submitted(&c, &base, &p, "Hệ thống một cửa").await;
        assert_eq!(due, add_working_days(&official_rules, day, 15));
        let (_, list) = call(
            &c,
            "GET",
            format!("{base}/calendar/official"),
            &p.viewer,
            None,
        )
        .await;
        let year = day.year();
        assert_eq!(list[0]["year"], year, "{list}");

        // Removal: administrators only; then the pack's calendar again.
        let url = format!("{base}/calendar/official/{year}");
        assert_eq!(
            call(&c, "DELETE", url.clone(), &p.officer, None).await.0,
            403
        );
        let (s, v) = call(&c, "DELETE", url.clone(), &p.admin, None).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["has_official"], false);
        assert_eq!(call(&c, "DELETE", url, &p.admin, None).await.0, 404);
        let (due, day) = submitted(&c, &base, &p, "Hệ thống thư điện tử").await;
        assert_eq!(
            due,
            add_working_days(&CalendarRules::decree85_default(), day, 15)
        );
    });
}

#[test]
fn server_calendar_page_shows_the_year_and_takes_the_administrators_schedule() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    const PASSWORD: &str = "mật-khẩu-đủ-dài-2026";
    assert_eq!(
        add_user(d, "admin", "administrator", None, Some(PASSWORD)).0,
        0
    );
    assert_eq!(add_user(d, "viewer", "viewer", None, Some(PASSWORD)).0, 0);
    let running = serve(&data);
    rt.block_on(async {
        let base = running.base.clone();
        let viewer = WebSession::sign_in(&base, "viewer", PASSWORD, "/lich?year=2027").await;
        let html = viewer.html("/lich?year=2027").await;
        assert!(html.contains("Lịch nghỉ lễ năm 2027"), "{html}");
        assert!(
            html.contains("href=\"/lich\""),
            "the navigation links the page"
        );
        assert!(html.contains("06/02/2027"), "{html}");
        assert!(html.contains("Mùng 1 Tết Đinh Mùi"), "{html}");
        assert!(!html.contains("class=\"day official\""), "{html}");
        assert!(
            !html.contains("id=\"import-form\""),
            "only administrators import"
        );
        // A viewer's post is refused.
        let token = between(&html, "name=\"csrf_token\" value=\"", "\"").to_string();
        let r = viewer
            .post(
                "/lich",
                &[("csrf_token", &token), ("toml", TET_2027), ("year", "2027")],
            )
            .await;
        assert_eq!(r.status, 403, "{}", r.text());

        let admin = WebSession::sign_in(&base, "admin", PASSWORD, "/lich?year=2027").await;
        let html = admin.html("/lich?year=2027").await;
        assert!(html.contains("id=\"import-form\""), "{html}");
        let token = between(&html, "name=\"csrf_token\" value=\"", "\"").to_string();
        // Without the CSRF token: refused.
        let r = admin
            .post(
                "/lich",
                &[("csrf_token", "x"), ("toml", TET_2027), ("year", "2027")],
            )
            .await;
        assert_eq!(r.status, 403);
        // A mistake is shown in place with its line, the text kept.
        let broken = TET_2027.replace("holiday = \"tet\"", "holiday = \"tết\"");
        let r = admin
            .post(
                "/lich",
                &[("csrf_token", &token), ("toml", &broken), ("year", "2027")],
            )
            .await;
        assert_eq!(r.status, 422, "{}", r.text());
        let page = r.text();
        let error = between(page, "id=\"import-error\">", "</p>");
        assert!(error.contains("Dòng 4, cột 11"), "{error}");
        assert!(error.contains("unknown holiday"), "{error}");
        assert!(
            page.contains("holiday = &quot;tết&quot;") || page.contains("holiday = &#34;tết&#34;"),
            "{page}"
        );
        // Stored: back to the year, its days marked official.
        let r = admin
            .post(
                "/lich",
                &[("csrf_token", &token), ("toml", TET_2027), ("year", "2027")],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.text());
        assert_eq!(r.location, "/lich?year=2027&done=saved");
        let html = admin.html(&r.location).await;
        assert!(html.contains("id=\"import-notice\""), "{html}");
        let official_rows = html.matches("class=\"day official\"").count();
        assert_eq!(official_rows, 11, "05/02 to 15/02");
        assert!(html.contains("Nhập bởi admin"), "{html}");
        assert!(html.contains("id=\"remove-form\""), "{html}");
        // Everyone sees it.
        let html = viewer.html("/lich?year=2027").await;
        assert_eq!(html.matches("class=\"day official\"").count(), 11);
        // In English too.
        let page = viewer
            .get_with_cookie("/lich?year=2027", "canhgac_lang=en")
            .await;
        assert!(
            page.text().contains("Holiday calendar 2027"),
            "{}",
            page.text()
        );
        // Removal.
        let r = admin
            .post("/lich/xoa", &[("csrf_token", &token), ("year", "2027")])
            .await;
        assert_eq!(r.status, 303, "{}", r.text());
        let html = admin.html("/lich?year=2027").await;
        assert!(!html.contains("class=\"day official\""), "{html}");
        // A year that is not one: said next to the picker.
        let (status, html) = viewer.get_text("/lich?year=abc").await;
        assert_eq!(status, 400);
        assert!(html.contains("id=\"year-error\""), "{html}");
    });
}
