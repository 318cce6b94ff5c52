//! The list routes of the real `canhgac-server`: `GET /api/v1/systems` and
//! `GET /api/v1/dossiers` with their filters, sorting, pagination, letter lookup and agency
//! scoping, before and after a restart (the read index is built from the store at start-up and
//! kept up to date by every write).

use serde_json::{Value, json};

use crate::server_documents::upload;
use crate::serverkit::{add_user, call, client, serve, token_for};

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

fn total(list: &Value) -> u64 {
    list["total"]
        .as_u64()
        .unwrap_or_else(|| panic!("no total: {list}"))
}

#[test]
fn listing_filters_pages_looks_up_letters_and_scopes_by_agency() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    assert_eq!(
        add_user(d, "admin", "administrator", None, Some("mật-khẩu-quản-trị")).0,
        0
    );
    assert_eq!(add_user(d, "agent", "agent", Some("lan"), None).0, 0);
    let admin = token_for(d, "admin");
    let running = serve(&data);
    let base = format!("{}/api/v1", running.base);

    // A province with a department, the department's office, and another department.
    let (province, sct, office, stp, systems) = rt.block_on(async {
        let c = client();
        let agency = |body: Value| {
            let c = c.clone();
            let url = format!("{base}/agencies");
            let admin = admin.clone();
            async move {
                let (s, v) = call(&c, "POST", url, &admin, Some(body)).await;
                assert_eq!(s, 201, "{v}");
                v["id"].as_str().unwrap().to_string()
            }
        };
        let province = agency(json!({"name": "UBND tỉnh Đồng Nai", "short_code": "UBND"})).await;
        let sct = agency(json!({"name": "Sở Công Thương", "short_code": "SCT", "parent": province})).await;
        let office = agency(json!({"name": "Văn phòng Sở Công Thương", "short_code": "VP", "parent": sct})).await;
        let stp = agency(json!({"name": "Sở Tư pháp", "short_code": "STP", "parent": province})).await;
        for (login, role, agency) in [
            ("officer", "agency_officer", Some(&sct)),
            ("outsider", "agency_officer", Some(&stp)),
            ("viewer", "viewer", None),
        ] {
            let mut body = json!({"login": login, "display_name": login, "role": role, "password": "mật-khẩu-đủ-dài"});
            if let Some(a) = agency {
                body["agency"] = json!(a);
            }
            let (s, v) = call(&c, "POST", format!("{base}/users"), &admin, Some(body)).await;
            assert_eq!(s, 201, "{v}");
        }
        // name, owner, operating unit, URL, proposed level
        let specs = [
            ("Trang thông tin điện tử Sở Công Thương", &sct, &sct, "https://sct.dongnai.example.gov.vn/", 2),
            ("Cổng dịch vụ công Sở Công Thương", &sct, &office, "https://dichvucong-sct.example.gov.vn/", 3),
            ("Hệ thống quản lý văn bản", &province, &office, "https://qlvb.example.gov.vn/", 2),
            ("Cơ sở dữ liệu hộ tịch", &stp, &stp, "https://hotich.example.gov.vn/", 3),
            ("Bản đồ số", &province, &province, "https://bando.example.gov.vn/", 1),
            ("Ứng dụng công dân số", &province, &stp, "https://congdan.example.gov.vn/", 4),
            ("Email công vụ", &province, &province, "mail.example.gov.vn", 3),
        ];
        let mut systems = Vec::new();
        for (name, owner, unit, url, level) in specs {
            let (s, v) = call(&c, "POST", format!("{base}/systems"), &admin, Some(json!({
                "name": name, "owner_agency": owner, "operating_unit": unit, "urls": [url], "proposed_level": level
            }))).await;
            assert_eq!(s, 201, "{v}");
            systems.push(v["id"].as_str().unwrap().to_string());
        }
        (province, sct, office, stp, systems)
    });
    // Tokens need the store to ourselves: stop, issue, start again (the index is rebuilt from
    // the store at start-up).
    drop(running);
    let officer = token_for(d, "officer");
    let outsider = token_for(d, "outsider");
    let viewer = token_for(d, "viewer");
    let agent = token_for(d, "agent");
    let running = serve(&data);
    let base = format!("{}/api/v1", running.base);

    let submitted = rt.block_on(async {
        let c = client();
        let get = |token: &str, query: &str| {
            let c = c.clone();
            let url = format!("{base}/{query}");
            let token = token.to_string();
            async move {
                let (s, v) = call(&c, "GET", url, &token, None).await;
                (s, v)
            }
        };
        let list = |token: &str, query: &str| {
            let fut = get(token, query);
            async move {
                let (s, v) = fut.await;
                assert_eq!(s, 200, "{v}");
                v
            }
        };

        // Everything, in name order (diacritics ignored: "Bản" < "Cơ" < "Cổng" < "Email"...).
        let all = list(&viewer, "systems").await;
        assert_eq!(total(&all), 7);
        assert_eq!(
            names(&all),
            [
                "Bản đồ số",
                "Cơ sở dữ liệu hộ tịch",
                "Cổng dịch vụ công Sở Công Thương",
                "Email công vụ",
                "Hệ thống quản lý văn bản",
                "Trang thông tin điện tử Sở Công Thương",
                "Ứng dụng công dân số"
            ]
        );
        assert_eq!(all["items"][0]["level"], 1);
        assert!(all["items"][0]["compliance"].is_null());
        assert!(all["items"][0]["dossier"].is_null());
        let reversed = list(&viewer, "systems?sort=-name").await;
        let mut back = names(&all);
        back.reverse();
        assert_eq!(names(&reversed), back);

        // Pages: 3 + 3 + 1, and together the whole list.
        let mut paged = Vec::new();
        let mut offset = Some(0u64);
        while let Some(o) = offset {
            let page = list(&viewer, &format!("systems?limit=3&offset={o}")).await;
            assert_eq!(total(&page), 7);
            assert!(page["items"].as_array().unwrap().len() <= 3);
            paged.extend(names(&page));
            offset = page["next_offset"].as_u64();
        }
        assert_eq!(paged, names(&all));
        let past = list(&viewer, "systems?offset=50").await;
        assert_eq!((total(&past), past["items"].as_array().unwrap().len()), (7, 0));

        // Search without regard to case or diacritics, in names and URLs.
        assert_eq!(names(&list(&viewer, "systems?q=so%20cong%20thuong").await).len(), 2);
        assert_eq!(
            names(&list(&viewer, "systems?q=H%E1%BB%98%20T%E1%BB%8ACH").await),
            ["Cơ sở dữ liệu hộ tịch"]
        );
        assert_eq!(
            names(&list(&viewer, "systems?q=dichvucong-sct").await),
            ["Cổng dịch vụ công Sở Công Thương"]
        );
        assert_eq!(total(&list(&viewer, "systems?q=khong%20co").await), 0);

        // An agency with its sub-agencies, as owner or operating unit.
        let of_sct = list(&viewer, &format!("systems?agency={sct}")).await;
        assert_eq!(
            names(&of_sct),
            [
                "Cổng dịch vụ công Sở Công Thương",
                "Hệ thống quản lý văn bản",
                "Trang thông tin điện tử Sở Công Thương"
            ]
        );
        let of_office = list(&viewer, &format!("systems?agency={office}")).await;
        assert_eq!(names(&of_office), ["Cổng dịch vụ công Sở Công Thương", "Hệ thống quản lý văn bản"]);
        assert_eq!(total(&list(&viewer, &format!("systems?agency={province}")).await), 7);

        // Levels, status, sorting by level.
        assert_eq!(total(&list(&viewer, "systems?level=3").await), 3);
        assert_eq!(total(&list(&viewer, "systems?proposed_level=2,4").await), 3);
        assert_eq!(total(&list(&viewer, "systems?approved_level=2").await), 0);
        assert_eq!(total(&list(&viewer, "systems?status=in_use").await), 7);
        assert_eq!(total(&list(&viewer, "systems?status=retired").await), 0);
        let by_level = list(&viewer, "systems?sort=-level&limit=2").await;
        assert_eq!(names(&by_level), ["Ứng dụng công dân số", "Cơ sở dữ liệu hộ tịch"]);
        assert_eq!(by_level["next_offset"], 2);

        // Bad parameters: 400 with a JSON error, never a 500.
        for query in [
            "systems?limit=0",
            "systems?limit=501",
            "systems?level=9",
            "systems?agency=nope",
            "systems?sort=colour",
            "systems?grade=Q",
            "systems?unknown=1",
            "dossiers?state=lost",
            "dossiers?letter=SCT-VP",
            "dossiers?overdue=perhaps",
        ] {
            let (s, v) = get(&viewer, query).await;
            assert_eq!(s, 400, "{query}: {v}");
            assert_eq!(v["error"]["code"], "invalid", "{query}: {v}");
        }

        // Scope: officers see their agency's subtree only; agents nothing at all.
        let mine = list(&officer, "systems").await;
        assert_eq!(names(&mine), names(&of_sct));
        let theirs = list(&outsider, "systems").await;
        assert_eq!(
            names(&theirs),
            ["Cơ sở dữ liệu hộ tịch", "Ứng dụng công dân số"]
        );
        assert_eq!(total(&list(&officer, &format!("systems?agency={stp}")).await), 0);
        assert_eq!(total(&list(&officer, &format!("systems?agency={province}")).await), 3);
        assert_eq!(get(&agent, "systems").await.0, 403);
        assert_eq!(get(&agent, "dossiers").await.0, 403);

        // Dossiers: the officer opens two, submits one with letter 2559/SCT-VP.
        let open = |sys: String, level: u8| {
            let c = c.clone();
            let url = format!("{base}/systems/{sys}/dossiers");
            let officer = officer.clone();
            async move {
                let (s, v) = call(&c, "POST", url, &officer, Some(json!({"level": level}))).await;
                assert_eq!(s, 201, "{v}");
                v["id"].as_str().unwrap().to_string()
            }
        };
        let first = open(systems[0].clone(), 2).await;
        let second = open(systems[1].clone(), 3).await;
        for kind in ["overview_report", "design_document", "level_justification", "security_plan"] {
            let (s, v) = upload(&c, &base, &first, &officer, kind, &format!("{kind}.pdf"), format!("nội dung {kind}").as_bytes()).await;
            assert_eq!(s, 201, "{v}");
        }
        let letter = json!({"number": 2559, "symbol": "SCT-VP", "date": "2021-05-25"});
        let (s, v) = call(&c, "POST", format!("{base}/dossiers/{first}/actions"), &officer,
            Some(json!({"action": "submit", "letter": letter}))).await;
        assert_eq!(s, 200, "{v}");

        // Written a moment ago, listed at once.
        let dossiers = list(&viewer, "dossiers").await;
        assert_eq!(total(&dossiers), 2);
        assert_eq!(dossiers["items"][0]["id"], second.as_str(), "newest first");
        assert_eq!(dossiers["items"][1]["state"], "submitted");
        assert_eq!(dossiers["items"][1]["state_vi"], "đã nộp");
        assert_eq!(dossiers["items"][1]["system_name"], "Trang thông tin điện tử Sở Công Thương");
        assert!(dossiers["items"][1]["overdue_days"].is_null());
        assert!(dossiers["items"][1]["documents"].is_null(), "documents are not listed");
        let oldest = list(&viewer, "dossiers?sort=created").await;
        assert_eq!(oldest["items"][0]["id"], first.as_str());
        assert_eq!(total(&list(&viewer, "dossiers?state=submitted").await), 1);
        assert_eq!(total(&list(&viewer, "dossiers?state=draft,submitted").await), 2);
        assert_eq!(total(&list(&viewer, "dossiers?state=approved").await), 0);
        assert_eq!(total(&list(&viewer, "dossiers?level=3").await), 1);
        assert_eq!(total(&list(&viewer, "dossiers?overdue=true").await), 0);
        assert_eq!(total(&list(&viewer, "dossiers?overdue=false").await), 2);
        assert_eq!(total(&list(&viewer, &format!("dossiers?agency={office}")).await), 1);
        assert_eq!(total(&list(&viewer, &format!("dossiers?agency={stp}")).await), 0);
        assert_eq!(total(&list(&viewer, &format!("dossiers?system={}", systems[1])).await), 1);
        let by_due = list(&viewer, "dossiers?sort=due").await;
        assert_eq!(by_due["items"][0]["id"], first.as_str(), "dossiers with a deadline first");

        // The systems list follows: latest dossier state.
        let with_state = list(&viewer, "systems?dossier_state=submitted").await;
        assert_eq!(names(&with_state), ["Trang thông tin điện tử Sở Công Thương"]);
        assert_eq!(with_state["items"][0]["dossier"]["id"], first.as_str());
        assert_eq!(total(&list(&viewer, "systems?dossier_state=draft").await), 1);
        assert_eq!(total(&list(&viewer, "systems?dossier_state=none").await), 5);

        // Letter lookup as officers write it.
        for letter in [
            "2559/SCT-VP",
            "2559%2Fsct-vp",
            "VB%20s%E1%BB%91%202559%2FSCT-VP%20ng%C3%A0y%2025%2F5%2F2021",
        ] {
            let found = list(&viewer, &format!("dossiers?letter={letter}")).await;
            assert_eq!(total(&found), 1, "{letter}: {found}");
            assert_eq!(found["items"][0]["id"], first.as_str());
            assert_eq!(found["items"][0]["submitted_letter"]["number"], 2559);
        }
        for letter in ["2559/SCT-KT", "2558/SCT-VP", "2559/SCT-VP%20ng%C3%A0y%2026/5/2021"] {
            assert_eq!(total(&list(&viewer, &format!("dossiers?letter={letter}")).await), 0, "{letter}");
        }
        // Another agency's officer finds nothing, not even by letter.
        assert_eq!(total(&list(&outsider, "dossiers?letter=2559/SCT-VP").await), 0);
        assert_eq!(total(&list(&outsider, "dossiers").await), 0);
        assert_eq!(total(&list(&officer, "dossiers").await), 2);

        // A scan report of a system's host gives it a grade, listed at once.
        let report = json!({"schema_version": 1, "id": "01940000-5b7a-7cc0-9a8e-3a5c1f1d2e3f",
            "agent": {"name": "a", "version": "0"}, "started_at": "2026-11-23T00:00:00Z", "duration_ms": 1,
            "target": {"input": "hotich.example.gov.vn", "host": "hotich.example.gov.vn", "port": 443, "address": null}, "tls": null});
        // (An administrator uploads it: the "agent" account belongs to no agency's network.)
        let (s, v) = call(&c, "POST", format!("{base}/reports"), &admin, Some(report)).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["evaluated_for"], json!([systems[3]]));
        let graded = list(&viewer, "systems?grade=none").await;
        assert_eq!(total(&graded), 6);
        let hotich = list(&viewer, "systems?q=ho%20tich").await;
        let grade = hotich["items"][0]["compliance"]["grade"].as_str().unwrap().to_string();
        assert_eq!(names(&list(&viewer, &format!("systems?grade={grade}")).await), ["Cơ sở dữ liệu hộ tịch"]);
        assert_eq!(names(&list(&viewer, "systems?sort=grade&limit=1").await), ["Cơ sở dữ liệu hộ tịch"]);
        first
    });

    // After a restart the index, rebuilt from the store, answers the same.
    drop(running);
    let running = serve(&data);
    let base = format!("{}/api/v1", running.base);
    rt.block_on(async {
        let c = client();
        let (s, found) = call(
            &c,
            "GET",
            format!("{base}/dossiers?letter=2559/SCT-VP"),
            &officer,
            None,
        )
        .await;
        assert_eq!(s, 200, "{found}");
        assert_eq!(found["items"][0]["id"], submitted.as_str());
        let (_, graded) = call(
            &c,
            "GET",
            format!("{base}/systems?grade=none"),
            &viewer,
            None,
        )
        .await;
        assert_eq!(total(&graded), 6);
        let (_, mine) = call(&c, "GET", format!("{base}/systems"), &officer, None).await;
        assert_eq!(total(&mine), 3);
    });
}
