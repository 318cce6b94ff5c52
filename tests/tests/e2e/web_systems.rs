//! The web UI's list pages through the real `canhgac-server`: the systems table (Vietnamese
//! headers, filters, sorting, pages of 50), its CSV and XLSX exports (every row of the
//! filter, BOM and Vietnamese headers, read back with calamine), the new-system form (errors
//! next to the fields, values kept, CSRF, redirect to the new system), and the dossiers list
//! with its letter lookup; all under agency scope (an officer of one agency never sees
//! another's systems or dossiers, in the pages or the exports).

use serde_json::{Value, json};

use crate::serverkit::{add_user, call, client, serve, token_for};
use crate::webkit::{WebSession, between, first_sheet};

const PASSWORD: &str = "mật-khẩu-đủ-dài-2026";

/// The ids of the systems listed (`tr.system-row[data-id]`), in order.
fn row_ids(html: &str, class: &str) -> Vec<String> {
    html.split(&format!("<tr class=\"{class}\" data-id=\""))
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .collect()
}

/// The text of an element with `id` (up to the next tag).
fn by_id<'a>(html: &'a str, id: &str) -> &'a str {
    between(html, &format!("id=\"{id}\">"), "<")
}

/// A CSV of the export (comma-separated, CRLF, nothing quoted in these data) as cells.
fn csv_cells(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").expect("a BOM")).unwrap();
    text.split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

const HEADERS: [&str; 9] = [
    "STT",
    "Tên hệ thống",
    "Đơn vị vận hành",
    "Cấp độ đề xuất",
    "Cấp độ được phê duyệt",
    "Văn bản gửi hồ sơ",
    "Trạng thái hồ sơ",
    "Xếp loại tuân thủ",
    "Lần quét gần nhất",
];

#[test]
fn web_lists_filter_page_export_create_and_look_up_within_scope() {
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
    rt.block_on(scenario(running.base.clone(), admin));
}

/// The test's steps against a running server with an administrator's API token.
async fn scenario(base: String, admin: String) {
    let api = format!("{base}/api/v1");
    let c = client();
    // A province, a department with its office, another department.
    let post = |path: &str, body: Value| {
        let (c, url, admin) = (c.clone(), format!("{api}/{path}"), admin.clone());
        async move {
            let (s, v) = call(&c, "POST", url, &admin, Some(body)).await;
            assert_eq!(s, 201, "{v}");
            v
        }
    };
    let id = |v: Value| v["id"].as_str().unwrap().to_string();
    let province = id(post(
        "agencies",
        json!({"name": "UBND tỉnh Đồng Nai", "short_code": "UBND"}),
    )
    .await);
    let sct = id(post(
        "agencies",
        json!({"name": "Sở Công Thương", "short_code": "SCT", "parent": province}),
    )
    .await);
    let office = id(post(
        "agencies",
        json!({"name": "Văn phòng Sở Công Thương", "short_code": "VP", "parent": sct}),
    )
    .await);
    let stp = id(post(
        "agencies",
        json!({"name": "Sở Tư pháp", "short_code": "STP", "parent": province}),
    )
    .await);
    for (login, role, agency) in [
        ("officer-a", "agency_officer", Some(&sct)),
        ("officer-b", "agency_officer", Some(&stp)),
        ("viewer", "viewer", None),
    ] {
        let mut body = json!({"login": login, "display_name": format!("Cán bộ {login}"), "role": role, "password": PASSWORD});
        if let Some(a) = agency {
            body["agency"] = json!(a);
        }
        post("users", body).await;
    }
    let system = |name: &str, owner: &str, unit: &str, url: &str, level: u8| {
        post(
            "systems",
            json!({"name": name, "owner_agency": owner, "operating_unit": unit, "urls": [url], "proposed_level": level}),
        )
    };
    let a1 = id(system(
        "Trang thông tin điện tử Sở Công Thương",
        &sct,
        &sct,
        "http://sct.dongnai.example.gov.vn/",
        2,
    )
    .await);
    let a2 = id(system(
        "Cổng dịch vụ công Sở Công Thương",
        &sct,
        &office,
        "https://dichvucong-sct.example.gov.vn/",
        3,
    )
    .await);
    let b1 = id(system(
        "Cơ sở dữ liệu hộ tịch",
        &stp,
        &stp,
        "https://hotich.example.gov.vn/",
        3,
    )
    .await);
    for i in 0..55 {
        system(
            &format!("Hệ thống thử nghiệm số {i:02}"),
            &province,
            &province,
            &format!("https://ht{i}.example.gov.vn/"),
            1,
        )
        .await;
    }

    let mut staff = WebSession::sign_in(&base, "admin", PASSWORD, "/systems").await;
    staff.take_csrf("/systems").await;
    let mut officer_a = WebSession::sign_in(&base, "officer-a", PASSWORD, "/systems").await;
    officer_a.take_csrf("/systems").await;
    let mut officer_b = WebSession::sign_in(&base, "officer-b", PASSWORD, "/systems").await;
    officer_b.take_csrf("/systems").await;
    let mut viewer = WebSession::sign_in(&base, "viewer", PASSWORD, "/systems").await;
    viewer.take_csrf("/systems").await;

    // The table: Vietnamese headers, 50 rows of 58, the next page.
    let html = staff.html("/systems").await;
    for h in HEADERS {
        assert!(html.contains(&format!(">{h}<")), "header {h}");
    }
    assert!(html.contains("<th class=\"num\">STT</th>"));
    let first = row_ids(&html, "system-row");
    assert_eq!(first.len(), 50);
    assert_eq!(by_id(&html, "systems-shown"), "Hiển thị 1–50 / 58");
    assert!(html.contains(&format!("href=\"/systems/{b1}\">Cơ sở dữ liệu hộ tịch</a>")));
    assert!(html.contains("Chưa quét"));
    assert!(!html.contains("id=\"page-prev\""));
    let next = between(&html, "<a href=\"", "\" id=\"page-next\"");
    let next = next
        .rsplit("<a href=\"")
        .next()
        .unwrap()
        .replace("&amp;", "&");
    assert_eq!(next, "/systems?page=2");
    let html = staff.html(&next).await;
    assert_eq!(by_id(&html, "systems-shown"), "Hiển thị 51–58 / 58");
    let second = row_ids(&html, "system-row");
    assert_eq!(second.len(), 8);
    assert!(
        second.iter().all(|s| !first.contains(s)),
        "pages do not overlap"
    );
    assert!(html.contains("id=\"page-prev\"") && !html.contains("id=\"page-next\""));
    assert!(
        html.contains("<td class=\"num\">51</td>"),
        "STT goes on across pages"
    );

    // Filters narrow; the form keeps them; sorting by a header link.
    let html = staff
        .html("/systems?level=3&agency=&grade=&dossier_state=&q=")
        .await;
    assert_eq!(row_ids(&html, "system-row"), [b1.as_str(), a2.as_str()]);
    assert!(html.contains("<option value=\"3\" selected>Cấp độ 3</option>"));
    let html = staff.html("/systems?q=ho+tich").await;
    assert_eq!(row_ids(&html, "system-row"), [b1.as_str()]);
    assert!(html.contains("value=\"ho tich\""));
    let html = staff.html(&format!("/systems?agency={sct}")).await;
    assert_eq!(row_ids(&html, "system-row"), [a2.as_str(), a1.as_str()]);
    assert!(html.contains(&format!("<option value=\"{sct}\" selected>")));
    assert!(
        html.contains(&format!("<option value=\"{stp}\">")),
        "sub-agencies and others listed for staff"
    );
    let html = staff.html(&format!("/systems?agency={office}")).await;
    assert_eq!(row_ids(&html, "system-row"), [a2.as_str()]);
    let html = staff.html("/systems?sort=-level").await;
    assert_eq!(
        row_ids(&html, "system-row")[..2],
        [b1.as_str(), a2.as_str()]
    );
    assert!(
        html.contains("href=\"/systems?sort=level\""),
        "the header sorts the other way next"
    );
    assert_eq!(staff.get("/systems?level=9").await.status, 400);

    // Agency scope: each officer sees their own systems only, whatever the filter.
    let html = officer_a.html("/systems").await;
    assert_eq!(row_ids(&html, "system-row"), [a2.as_str(), a1.as_str()]);
    assert_eq!(by_id(&html, "systems-shown"), "Hiển thị 1–2 / 2");
    assert!(!html.contains("Cơ sở dữ liệu hộ tịch"));
    assert!(
        !html.contains(&format!("<option value=\"{stp}\"")),
        "other agencies are not offered"
    );
    assert!(html.contains(&format!("<option value=\"{office}\">")));
    assert!(
        row_ids(
            &officer_a.html(&format!("/systems?agency={stp}")).await,
            "system-row"
        )
        .is_empty()
    );
    assert_eq!(
        row_ids(&officer_b.html("/systems").await, "system-row"),
        [b1.as_str()]
    );

    // A dossier sent with its letter shows in the table.
    let (s, v) = officer_a
        .api(
            "POST",
            &format!("/systems/{a1}/dossiers"),
            Some(json!({"level": 2})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let sent = id(v);
    for kind in [
        "overview_report",
        "design_document",
        "level_justification",
        "security_plan",
    ] {
        assert_eq!(officer_a.api_upload(&sent, kind).await, 201, "{kind}");
    }
    let letter = json!({"number": 2559, "symbol": "SCT-VP", "date": "2021-05-25"});
    let submit = json!({"action": "submit", "letter": letter});
    let (s, v) = officer_a
        .api("POST", &format!("/dossiers/{sent}/actions"), Some(submit))
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = officer_a
        .api(
            "POST",
            &format!("/systems/{a2}/dossiers"),
            Some(json!({"level": 3})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let draft = id(v);
    let html = staff.html("/systems?dossier_state=submitted").await;
    assert_eq!(row_ids(&html, "system-row"), [a1.as_str()]);
    assert!(html.contains("VB số 2559/SCT-VP ngày 25/5/2021"), "{html}");
    assert!(html.contains("<td class=\"hide-narrow\">Đã nộp</td>"));

    // Exports: every row of the filter (all pages), same order and columns, BOM, headers.
    let p = staff.get("/systems/export.csv").await;
    assert_eq!(p.status, 200);
    assert!(
        p.body
            .starts_with(b"\xEF\xBB\xBFSTT,T\xC3\xAAn h\xE1\xBB\x87 th\xE1\xBB\x91ng,")
    );
    assert!(p.content_type.starts_with("text/csv"));
    let day = between(&p.disposition, "he-thong-", ".csv");
    assert!(
        day.parse::<jiff::civil::Date>().is_ok(),
        "{}",
        p.disposition
    );
    assert_eq!(
        p.disposition,
        format!("attachment; filename=\"he-thong-{day}.csv\"")
    );
    let all = csv_cells(&p.body);
    assert_eq!(all[0], HEADERS);
    assert_eq!(all.len(), 1 + 58, "all pages");
    assert_eq!(all[58][0], "58");
    let p = staff.get("/systems/export.csv?level=3&sort=-name").await;
    let rows = csv_cells(&p.body);
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[1][..5],
        [
            "1",
            "Cổng dịch vụ công Sở Công Thương",
            "Văn phòng Sở Công Thương",
            "3",
            ""
        ]
    );
    assert_eq!(
        rows[2][..4],
        ["2", "Cơ sở dữ liệu hộ tịch", "Sở Tư pháp", "3"]
    );
    let p = staff
        .get("/systems/export.csv?dossier_state=submitted")
        .await;
    let rows = csv_cells(&p.body);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1][5], "VB số 2559/SCT-VP ngày 25/5/2021");
    assert_eq!(rows[1][6], "Đã nộp");
    // The officer's export holds their systems only.
    let mine = csv_cells(&officer_a.get("/systems/export.csv").await.body);
    let names: Vec<&str> = mine[1..].iter().map(|r| r[1].as_str()).collect();
    assert_eq!(
        names,
        [
            "Cổng dịch vụ công Sở Công Thương",
            "Trang thông tin điện tử Sở Công Thương"
        ]
    );
    let p = officer_a.get("/systems/export.xlsx").await;
    assert_eq!(p.status, 200);
    assert!(p.content_type.contains("spreadsheetml"));
    assert_eq!(
        p.disposition,
        format!("attachment; filename=\"he-thong-{day}.xlsx\"")
    );
    let cells = first_sheet(&p.body, "Hệ thống thông tin");
    assert_eq!(cells[0], HEADERS);
    assert_eq!(cells.len(), 3);
    assert_eq!(
        cells[1][..4],
        [
            "1",
            "Cổng dịch vụ công Sở Công Thương",
            "Văn phòng Sở Công Thương",
            "3"
        ]
    );
    assert_eq!(cells[2][5], "VB số 2559/SCT-VP ngày 25/5/2021");
    let cells = first_sheet(
        &staff.get("/systems/export.xlsx?level=1").await.body,
        "Hệ thống thông tin",
    );
    assert_eq!(cells.len(), 1 + 55);
    assert!(
        cells[1..]
            .iter()
            .all(|r| r[1].starts_with("Hệ thống thử nghiệm số"))
    );
    assert!(
        staff
            .html("/systems")
            .await
            .contains("mọi trang của bộ lọc")
    );

    // The new-system form: officers' own units only; errors next to the fields.
    let html = officer_a.html("/systems/new").await;
    assert!(html.contains("id=\"system-form\"") && html.contains("id=\"system-submit\""));
    assert!(html.contains(&format!("<option value=\"{office}\">")));
    assert!(!html.contains(&format!("<option value=\"{stp}\"")));
    let p = officer_a
        .post(
            "/systems",
            &[
                ("csrf_token", &officer_a.csrf),
                ("name", "  "),
                ("owner_agency", &sct),
                ("operating_unit", &office),
                ("urls", "https://ok.example.gov.vn/\nkhông phải địa chỉ"),
                ("hosting", "Trung tâm dữ liệu tỉnh"),
                ("category", ""),
                ("proposed_level", "7"),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    let html = p.text().to_string();
    assert!(by_id(&html, "error-name").contains("tên hệ thống"));
    assert!(by_id(&html, "error-urls").contains("không phải địa chỉ"));
    assert!(by_id(&html, "error-proposed_level").contains("1 đến 5"));
    assert!(!html.contains("id=\"error-operating_unit\""));
    assert!(
        html.contains("value=\"Trung tâm dữ liệu tỉnh\""),
        "values kept"
    );
    assert!(html.contains("https://ok.example.gov.vn/\nkhông phải địa chỉ</textarea>"));
    assert!(html.contains(&format!("<option value=\"{office}\" selected>")));
    // Another agency's unit, even typed by hand, is refused next to the field.
    let p = officer_a
        .post(
            "/systems",
            &[
                ("csrf_token", &officer_a.csrf),
                ("name", "Hệ thống lạ"),
                ("owner_agency", &stp),
                ("operating_unit", &stp),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.text().contains("id=\"error-operating_unit\""));
    // Without the CSRF token: refused.
    let p = officer_a
        .post(
            "/systems",
            &[
                ("name", "Hệ thống không token"),
                ("owner_agency", &sct),
                ("operating_unit", &sct),
            ],
        )
        .await;
    assert_eq!(p.status, 403);
    let p = officer_a
        .post(
            "/systems",
            &[
                ("csrf_token", "sai"),
                ("name", "Hệ thống token sai"),
                ("owner_agency", &sct),
                ("operating_unit", &sct),
            ],
        )
        .await;
    assert_eq!(p.status, 403);
    // A viewer may not add systems.
    assert_eq!(viewer.get("/systems/new").await.status, 403);
    assert!(!viewer.html("/systems").await.contains("id=\"new-system\""));
    assert!(
        officer_a
            .html("/systems")
            .await
            .contains("id=\"new-system\"")
    );
    // Success: 303 to the new system, which the API knows.
    let p = officer_a
        .post(
            "/systems",
            &[
                ("csrf_token", &officer_a.csrf),
                ("name", "Hệ thống một cửa điện tử Sở Công Thương"),
                ("owner_agency", &sct),
                ("operating_unit", &office),
                ("urls", "https://motcua-sct.example.gov.vn/\r\n"),
                ("hosting", "Trung tâm dữ liệu tỉnh"),
                ("category", "Hệ thống cung cấp dịch vụ trực tuyến"),
                ("proposed_level", "2"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.text());
    let created = p
        .location
        .strip_prefix("/systems/")
        .expect("a system page")
        .to_string();
    let (s, v) = call(&c, "GET", format!("{api}/systems/{created}"), &admin, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["name"], "Hệ thống một cửa điện tử Sở Công Thương");
    assert_eq!(v["operating_unit"], office.as_str());
    assert_eq!(v["urls"], json!(["https://motcua-sct.example.gov.vn/"]));
    assert_eq!(v["proposed_level"], 2);
    assert_eq!(
        row_ids(&officer_a.html("/systems").await, "system-row").len(),
        3
    );
    assert!(!officer_b.html("/systems").await.contains("một cửa"));

    // Dossiers: letter, system, agency, level, state, deadline, newest first.
    let html = staff.html("/dossiers").await;
    for h in [
        "Văn bản gửi hồ sơ",
        "Hệ thống",
        "Cơ quan, đơn vị",
        "Cấp độ đề xuất",
        "Trạng thái",
        "Hạn xử lý",
    ] {
        assert!(html.contains(&format!(">{h}<")), "header {h}");
    }
    assert_eq!(
        row_ids(&html, "dossier-row"),
        [draft.as_str(), sent.as_str()]
    );
    assert!(html.contains(&format!(
        "href=\"/dossiers/{sent}\">VB số 2559/SCT-VP ngày 25/5/2021</a>"
    )));
    assert!(html.contains("Chưa gửi (bản nháp)"));
    assert!(html.contains(">Đã nộp<") && html.contains(">Bản nháp<"));
    assert!(html.contains("Văn phòng Sở Công Thương"));
    let deadline = between(&html, "<td class=\"deadline\"><span>", "</span>");
    assert!(
        deadline.starts_with("Còn ") && deadline.ends_with(" ngày làm việc"),
        "{deadline}"
    );
    assert_eq!(by_id(&html, "dossiers-shown"), "Hiển thị 1–2 / 2");
    assert_eq!(
        row_ids(
            &staff.html("/dossiers?state=submitted").await,
            "dossier-row"
        ),
        [sent.as_str()]
    );
    assert_eq!(
        row_ids(&staff.html("/dossiers?sort=created").await, "dossier-row"),
        [sent.as_str(), draft.as_str()]
    );
    assert_eq!(
        row_ids(
            &staff.html(&format!("/dossiers?agency={office}")).await,
            "dossier-row"
        ),
        [draft.as_str()]
    );
    assert!(row_ids(&staff.html("/dossiers?overdue=true").await, "dossier-row").is_empty());
    assert!(
        row_ids(
            &staff.html(&format!("/dossiers?agency={stp}")).await,
            "dossier-row"
        )
        .is_empty()
    );
    // The lookup box; one match opens the dossier.
    assert!(html.contains("id=\"letter-lookup\""));
    assert!(html.contains("Tra cứu theo số văn bản"));
    for letter in [
        "2559/SCT-VP",
        "2559%2Fsct-vp",
        "VB+s%E1%BB%91+2559%2FSCT-VP+ng%C3%A0y+25%2F5%2F2021",
    ] {
        let p = officer_a.get(&format!("/dossiers?letter={letter}")).await;
        assert_eq!(p.status, 303, "{letter}");
        assert_eq!(p.location, format!("/dossiers/{sent}"));
    }
    let p = staff.get("/dossiers?letter=2560/SCT-VP").await;
    assert_eq!(p.status, 200);
    assert!(row_ids(p.text(), "dossier-row").is_empty());
    let p = staff.get("/dossiers?letter=kh%C3%B4ng+c%C3%B3").await;
    assert_eq!(p.status, 400);
    assert!(p.text().contains("id=\"letter-error\""));
    // Another agency's officer: no rows, and the letter finds nothing.
    let html = officer_b.html("/dossiers").await;
    assert!(row_ids(&html, "dossier-row").is_empty());
    assert!(!html.contains("VB số 2559"));
    let p = officer_b.get("/dossiers?letter=2559/SCT-VP").await;
    assert_eq!(p.status, 200);
    assert!(row_ids(p.text(), "dossier-row").is_empty());
    assert_eq!(
        row_ids(&officer_a.html("/dossiers").await, "dossier-row").len(),
        2
    );

    // English on request; signed-out visitors go to the sign-in page.
    let en = staff.get_with_cookie("/systems", "canhgac_lang=en").await;
    assert_eq!(en.status, 200, "/systems: {}", en.text());
    let html = en.text();
    assert!(html.contains(">System<") && html.contains("Showing 1–50 of 59"));
    let r = WebSession::anonymous(&base)
        .get("/systems/export.csv")
        .await;
    assert_eq!(r.status, 303);
}
