//! The dossier page of the web UI on the real `canhgac-server`, driven like a browser without
//! JavaScript: sign in with the `/login` form, read the HTML, post the action forms and the
//! multipart upload form with the session's CSRF token. A dossier goes from draft to approval
//! through the page; refused actions show their message next to their form; forms without
//! the token are refused; another agency's officer gets 404; a late dossier shows in red.

use std::path::Path;

use jiff::ToSpan;
use serde_json::json;

use canhgac_policies::calendar::{CalendarRules, working_days_between};

use crate::server_documents::{Province, draft, province, sha256, system, upload};
use crate::serverkit::{Running, call, serve, serve_env};
use crate::webkit::{WebSession, csrf, inner};

/// The password `province` gives every person but the administrator.
const PASSWORD: &str = "mật-khẩu-đủ-dài";

fn has_id(html: &str, id: &str) -> bool {
    html.contains(&format!("id=\"{id}\""))
}

/// The `href` of the first download link in the documents table whose file is `name`.
fn download_link(html: &str, name: &str) -> String {
    let table = inner(html, "documents", "</table>");
    let at = table
        .find(&format!(">{name}</a>"))
        .unwrap_or_else(|| panic!("{name} not listed:\n{table}"));
    let before = &table[..at];
    let href = before.rfind("href=\"").unwrap() + "href=\"".len();
    before[href..href + before[href..].find('"').unwrap()].to_string()
}

/// Every required document of a level-2 dossier, with content.
const REQUIRED: [(&str, &str); 4] = [
    ("overview_report", "Báo cáo tổng quan.pdf"),
    ("design_document", "Thiết kế hệ thống.pdf"),
    ("level_justification", "Thuyết minh đề xuất cấp độ.docx"),
    ("security_plan", "Phương án bảo đảm ATTT.pdf"),
];

fn content(name: &str) -> Vec<u8> {
    let mut bytes = format!("%PDF-1.7 {name} ").into_bytes();
    bytes.extend((0..3000u32).map(|i| (i * 7 % 251) as u8));
    bytes
}

/// The province (its people and their tokens) and a running server on its store.
fn start(data: &Path) -> (Province, Running) {
    let p = province(data);
    (p, serve(data))
}

#[test]
fn a_dossier_goes_from_draft_to_approval_through_its_page() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (p, running) = start(&data);
    let base = running.base.clone();
    let api = format!("{base}/api/v1");
    rt.block_on(async {
        let c = crate::serverkit::client();
        let sys = system(&c, &api, &p, "Cổng thông tin điện tử Sở Công Thương").await;
        let officer = WebSession::sign_in(&base, "officer", PASSWORD, "/").await;

        // A draft made with the form the system page carries.
        let no_token = officer
            .post(&format!("/systems/{sys}/dossiers"), &[("level", "2")])
            .await;
        assert_eq!(no_token.status, 403, "{}", no_token.text());
        let token = csrf(officer.get("/password").await.text());
        let created = officer
            .post(
                &format!("/systems/{sys}/dossiers"),
                &[("csrf_token", &token), ("level", "2")],
            )
            .await;
        assert_eq!(created.status, 303, "{}", created.text());
        assert!(
            created.location.starts_with("/dossiers/"),
            "{}",
            created.location
        );
        let id = created
            .location
            .trim_start_matches("/dossiers/")
            .to_string();
        let bad_level = officer
            .post(
                &format!("/systems/{sys}/dossiers"),
                &[("csrf_token", &token), ("level", "7")],
            )
            .await;
        assert_eq!(bad_level.status, 400, "{}", bad_level.text());

        // The draft: Vietnamese state, the creation in the timeline, what is missing.
        let page = officer.get(&format!("/dossiers/{id}")).await;
        assert_eq!(page.status, 200, "{}", page.text());
        let html = page.text();
        assert_eq!(inner(html, "dossier-state", "</span>"), "Bản nháp");
        assert!(html.contains("data-state=\"draft\""));
        assert!(
            inner(html, "dossier-deadline", "</span>").contains("Chưa nộp"),
            "{html}"
        );
        assert!(inner(html, "dossier-system", "</a>").contains("Cổng thông tin điện tử"));
        let timeline = inner(html, "timeline", "</ol>");
        assert_eq!(timeline.matches("<li").count(), 1, "{timeline}");
        assert!(timeline.contains("Tạo hồ sơ") && timeline.contains("Đề xuất cấp độ 2"));
        let missing = inner(html, "missing-documents", "</ul>");
        assert_eq!(missing.matches("<li>").count(), 4, "{missing}");
        assert!(missing.contains("Phương án bảo đảm an toàn thông tin theo cấp độ"));
        assert!(has_id(html, "upload-form") && has_id(html, "action-submit"));
        assert!(has_id(html, "action-withdraw") && has_id(html, "action-comment"));
        assert!(!has_id(html, "action-approve") && !has_id(html, "action-start_appraisal"));

        // Submitting without the documents: the workflow's message next to the submit form,
        // with the letter as typed.
        let refused = officer
            .act(
                &id,
                "submit",
                &[
                    ("letter_number", "2559"),
                    ("letter_symbol", "SCT-VP"),
                    ("letter_date", "25/5/2021"),
                ],
            )
            .await;
        assert_eq!(refused.status, 422, "{}", refused.text());
        let form = inner(refused.text(), "action-submit", "</form>");
        assert!(form.contains("id=\"action-error\""), "{form}");
        assert!(form.contains("còn thiếu"), "{form}");
        assert!(form.contains("value=\"2559\"") && form.contains("value=\"SCT-VP\""));
        assert_eq!(refused.text().matches("id=\"action-error\"").count(), 1);
        // A letter the form cannot read is told the same way.
        let unreadable = officer
            .act(
                &id,
                "submit",
                &[
                    ("letter_number", "2559"),
                    ("letter_symbol", "SCT-VP"),
                    ("letter_date", "hôm qua"),
                ],
            )
            .await;
        assert_eq!(unreadable.status, 422);
        assert!(
            inner(unreadable.text(), "action-submit", "</form>").contains("ngày/tháng/năm"),
            "{}",
            unreadable.text()
        );

        // Uploads through the multipart form: the token must come first.
        let token = csrf(officer.get(&format!("/dossiers/{id}")).await.text());
        let late_token = officer
            .upload_parts(
                &id,
                &[
                    ("kind", None, b"overview_report"),
                    ("csrf_token", None, token.as_bytes()),
                    ("file", Some("x.pdf"), b"x"),
                ],
            )
            .await;
        assert_eq!(late_token.status, 403);
        let empty = officer
            .upload(&id, "overview_report", "rỗng.pdf", b"")
            .await;
        assert_eq!(empty.status, 422, "{}", empty.text());
        assert!(
            inner(empty.text(), "upload-error", "</p>").contains("rỗng"),
            "{}",
            empty.text()
        );
        for (kind, name) in REQUIRED {
            let done = officer.upload(&id, kind, name, &content(name)).await;
            assert_eq!(done.status, 303, "{name}: {}", done.text());
            assert_eq!(done.location, format!("/dossiers/{id}"));
        }
        let page = officer.get(&format!("/dossiers/{id}")).await;
        let html = page.text();
        let table = inner(html, "documents", "</table>");
        assert_eq!(table.matches("<tr data-document-id=").count(), 4, "{table}");
        for (_, name) in REQUIRED {
            let bytes = content(name);
            let hash = sha256(&bytes);
            assert!(
                table.contains(&format!("data-sha256=\"{hash}\"")),
                "{table}"
            );
            assert!(
                table.contains(&format!(">{}…</code>", &hash[..12])),
                "{table}"
            );
            let link = download_link(html, name);
            assert!(link.starts_with(&format!("/api/v1/dossiers/{id}/documents/")));
            let (status, got) = officer.get_bytes(&link).await;
            assert_eq!(status, 200);
            assert_eq!(got, bytes, "{name} downloads byte for byte");
        }
        assert!(table.contains("officer"), "the uploader is named: {table}");
        assert!(has_id(html, "missing-documents-none"));

        // Forms without (or with a wrong) CSRF token change nothing.
        for pairs in [
            vec![("action", "submit"), ("letter_number", "2559")],
            vec![
                ("csrf_token", "forged"),
                ("action", "withdraw"),
                ("reason", "x"),
            ],
        ] {
            let forged = officer.post(&format!("/dossiers/{id}/act"), &pairs).await;
            assert_eq!(forged.status, 403, "{}", forged.text());
        }
        let page = officer.get(&format!("/dossiers/{id}")).await;
        assert_eq!(inner(page.text(), "dossier-state", "</span>"), "Bản nháp");

        // The officer submits: the state, the letter as written, 15 working days to go.
        let submitted = officer
            .act(
                &id,
                "submit",
                &[
                    ("letter_number", "2559"),
                    ("letter_symbol", "SCT-VP"),
                    ("letter_date", "25/5/2021"),
                ],
            )
            .await;
        assert_eq!(submitted.status, 303, "{}", submitted.text());
        assert_eq!(submitted.location, format!("/dossiers/{id}"));
        let page = officer.get(&format!("/dossiers/{id}")).await;
        let html = page.text();
        assert_eq!(inner(html, "dossier-state", "</span>"), "Đã nộp");
        assert_eq!(
            inner(html, "dossier-letter", "</dd>"),
            "VB số 2559/SCT-VP ngày 25/5/2021"
        );
        assert_eq!(
            inner(html, "dossier-deadline", "</span>"),
            "Còn 15 ngày làm việc"
        );
        assert!(!has_id(html, "upload-form") && !has_id(html, "action-submit"));
        let timeline = inner(html, "timeline", "</ol>");
        assert!(timeline.contains("Nộp hồ sơ") && timeline.contains("Bản nháp → Đã nộp"));

        // The appraiser takes it and asks for two more things.
        let appraiser = WebSession::sign_in(&base, "appraiser", PASSWORD, "/").await;
        let page = appraiser.get(&format!("/dossiers/{id}")).await;
        assert!(
            has_id(page.text(), "action-start_appraisal") && has_id(page.text(), "action-assign")
        );
        assert!(!has_id(page.text(), "action-submit") && !has_id(page.text(), "upload-form"));
        let started = appraiser.act(&id, "start_appraisal", &[]).await;
        assert_eq!(started.status, 303, "{}", started.text());
        let empty_request = appraiser
            .act(&id, "request_supplement", &[("missing_items", " \n ")])
            .await;
        assert_eq!(empty_request.status, 422);
        assert!(
            inner(empty_request.text(), "action-request_supplement", "</form>")
                .contains("ít nhất một nội dung"),
            "{}",
            empty_request.text()
        );
        let requested = appraiser
            .act(
                &id,
                "request_supplement",
                &[
                    (
                        "missing_items",
                        "Bổ sung sơ đồ mạng\r\nBổ sung phương án sao lưu dữ liệu\r\n",
                    ),
                    ("letter_number", "812"),
                    ("letter_symbol", "STTTT-CNTT"),
                    ("letter_date", "2/6/2021"),
                ],
            )
            .await;
        assert_eq!(requested.status, 303, "{}", requested.text());
        let page = appraiser.get(&format!("/dossiers/{id}")).await;
        let html = page.text();
        assert_eq!(inner(html, "dossier-state", "</span>"), "Cần bổ sung");
        assert_eq!(
            inner(html, "dossier-deadline", "</span>"),
            "Tạm dừng: chờ đơn vị bổ sung"
        );
        assert!(inner(html, "dossier-assignee", "</dd>").contains("appraiser"));
        let rounds = inner(html, "rounds", "</ol>");
        assert!(rounds.contains("<li>Bổ sung sơ đồ mạng</li>"), "{rounds}");
        assert!(rounds.contains("<li>Bổ sung phương án sao lưu dữ liệu</li>"));
        assert!(rounds.contains("VB số 812/STTTT-CNTT ngày 2/6/2021"));
        let timeline = inner(html, "timeline", "</ol>");
        assert!(
            timeline.contains("<li>Bổ sung sơ đồ mạng</li>"),
            "{timeline}"
        );
        // The appraiser may attach a file to the open request.
        assert!(html.contains("Đính kèm tệp vào yêu cầu bổ sung"));

        // The officer answers with a document and a letter.
        let page = officer.get(&format!("/dossiers/{id}")).await;
        assert!(has_id(page.text(), "upload-form") && has_id(page.text(), "action-resubmit"));
        let network = content("Sơ đồ mạng.pdf");
        let done = officer
            .upload(&id, "other", "Sơ đồ mạng.pdf", &network)
            .await;
        assert_eq!(done.status, 303, "{}", done.text());
        let resubmitted = officer
            .act(
                &id,
                "resubmit",
                &[
                    ("letter_number", "2701"),
                    ("letter_symbol", "SCT-VP"),
                    ("letter_date", "10/6/2021"),
                ],
            )
            .await;
        assert_eq!(resubmitted.status, 303, "{}", resubmitted.text());
        let page = officer.get(&format!("/dossiers/{id}")).await;
        let html = page.text();
        assert_eq!(inner(html, "dossier-state", "</span>"), "Đã nộp bổ sung");
        assert!(inner(html, "documents", "</table>").contains("Bổ sung lần 1"));
        let (status, got) = officer
            .get_bytes(&download_link(html, "Sơ đồ mạng.pdf"))
            .await;
        assert_eq!((status, got), (200, network));
        assert!(inner(html, "rounds", "</ol>").contains("VB số 2701/SCT-VP ngày 10/6/2021"));

        // Appraised, then approved at level 2 by the approver with the decision's number.
        for (action, fields) in [
            ("start_appraisal", vec![]),
            (
                "mark_appraised",
                vec![("note", "Đạt yêu cầu, đề nghị phê duyệt cấp độ 2")],
            ),
        ] {
            let done = appraiser.act(&id, action, &fields).await;
            assert_eq!(done.status, 303, "{action}: {}", done.text());
        }
        let approver = WebSession::sign_in(&base, "approver", PASSWORD, "/").await;
        let page = approver.get(&format!("/dossiers/{id}")).await;
        assert_eq!(
            inner(page.text(), "dossier-state", "</span>"),
            "Đã thẩm định"
        );
        let approve_form = inner(page.text(), "action-approve", "</form>");
        assert!(
            approve_form.contains("<option value=\"2\" selected>"),
            "{approve_form}"
        );
        assert!(approve_form.contains("name=\"decision_number\""));
        let approved = approver
            .act(
                &id,
                "approve",
                &[
                    ("level", "2"),
                    ("decision_number", "2168/QĐ-UBND"),
                    ("decision_date", "15/6/2021"),
                ],
            )
            .await;
        assert_eq!(approved.status, 303, "{}", approved.text());
        let page = approver.get(&format!("/dossiers/{id}")).await;
        let html = page.text();
        assert_eq!(inner(html, "dossier-state", "</span>"), "Đã phê duyệt");
        let decision = inner(html, "dossier-approved", "</dd>");
        assert!(
            decision.contains("Cấp độ 2")
                && decision.contains("Quyết định số 2168/QĐ-UBND ngày 15/6/2021"),
            "{decision}"
        );
        assert!(!html.contains("id=\"actions\""), "no action is left");

        // Every audit event is in the timeline, oldest first.
        let (s, events) = call(
            &c,
            "GET",
            format!("{api}/dossiers/{id}/events"),
            &p.viewer,
            None,
        )
        .await;
        assert_eq!(s, 200);
        let events = events.as_array().unwrap();
        let timeline = inner(html, "timeline", "</ol>");
        let shown: Vec<&str> = timeline
            .split("data-action=\"")
            .skip(1)
            .map(|s| &s[..s.find('"').unwrap()])
            .collect();
        let recorded: Vec<&str> = events
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(shown, recorded);
        assert_eq!(shown.first(), Some(&"create"));
        assert_eq!(shown.last(), Some(&"approve"));
        assert!(timeline.contains("Đạt yêu cầu, đề nghị phê duyệt cấp độ 2"));

        // An action the state no longer allows: the message has no form to sit in.
        let token = csrf(officer.get(&format!("/dossiers/{id}")).await.text());
        let late = officer
            .post(
                &format!("/dossiers/{id}/act"),
                &[
                    ("csrf_token", &token),
                    ("action", "withdraw"),
                    ("reason", "Thôi"),
                ],
            )
            .await;
        assert_eq!(late.status, 422, "{}", late.text());
        let error = inner(late.text(), "action-error", "</p>");
        assert!(error.contains("không thể rút"), "{error}");
        // A role the workflow refuses gets the 403 page.
        let not_yours = officer
            .post(
                &format!("/dossiers/{id}/act"),
                &[
                    ("csrf_token", &token),
                    ("action", "approve"),
                    ("level", "2"),
                    ("decision_number", "1/QĐ"),
                    ("decision_date", "1/1/2021"),
                ],
            )
            .await;
        assert_eq!(not_yours.status, 403);

        // Another agency's officer: 404 on the page, its forms and its files.
        let outsider = WebSession::sign_in(&base, "outsider", PASSWORD, "/").await;
        let page = outsider.get(&format!("/dossiers/{id}")).await;
        assert_eq!(page.status, 404);
        assert!(
            !page
                .text()
                .contains("Cổng thông tin điện tử Sở Công Thương")
        );
        let token = csrf(outsider.get("/password").await.text());
        let forged = outsider
            .post(
                &format!("/dossiers/{id}/act"),
                &[("csrf_token", &token), ("action", "comment"), ("text", "x")],
            )
            .await;
        assert_eq!(forged.status, 404);
        let (status, _) = outsider
            .get_bytes(&download_link(html, "Sơ đồ mạng.pdf"))
            .await;
        assert_eq!(status, 404);
        let forged = outsider
            .post(
                &format!("/systems/{sys}/dossiers"),
                &[("csrf_token", &token), ("level", "2")],
            )
            .await;
        assert_eq!(forged.status, 404);

        // A viewer reads it and acts on nothing; strangers are sent to sign in.
        let viewer = WebSession::sign_in(&base, "viewer", PASSWORD, "/").await;
        let page = viewer.get(&format!("/dossiers/{id}")).await;
        assert_eq!(page.status, 200);
        assert!(!page.text().contains("id=\"actions\"") && !has_id(page.text(), "upload-form"));
        let r = WebSession::anonymous(&base)
            .get(&format!("/dossiers/{id}"))
            .await;
        assert_eq!(r.status, 303);
        assert!(r.location.starts_with("/login?next="));

        // In English on request.
        let r = officer
            .get_with_cookie(&format!("/dossiers/{id}"), "canhgac_lang=en")
            .await;
        assert_eq!(inner(r.text(), "dossier-state", "</span>"), "Approved");
    });
}

#[test]
fn a_late_dossier_is_overdue_in_red_and_comments_join_the_timeline() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (p, running) = start(&data);
    let api = format!("{}/api/v1", running.base);
    let (id, due) = rt.block_on(async {
        let c = crate::serverkit::client();
        let sys = system(&c, &api, &p, "Hệ thống một cửa điện tử").await;
        let id = draft(&c, &api, &p, &sys).await;
        for (kind, name) in REQUIRED {
            let (s, v) = upload(&c, &api, &id, &p.officer, kind, name, &content(name)).await;
            assert_eq!(s, 201, "{v}");
        }
        let (s, v) = call(
            &c,
            "POST",
            format!("{api}/dossiers/{id}/actions"),
            &p.officer,
            Some(json!({"action": "submit", "letter": {"number": 77, "symbol": "SCT-VP", "date": "2021-05-25"}})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let due: jiff::civil::Date = v["dossier"]["deadline"]["due"].as_str().unwrap().parse().unwrap();
        (id, due)
    });
    drop(running);

    // Sixty days later the appraisal limit has passed.
    let later = jiff::Timestamp::now() + (60 * 24).hours();
    let today = later
        .to_zoned_datetime(jiff::tz::TimeZone::fixed(jiff::tz::offset(7)))
        .date();
    let late = working_days_between(&CalendarRules::decree85_default(), due, today);
    assert!(late > 0);
    let running = serve_env(&data, &[("CANHGAC_FAKE_NOW", &later.to_string())]);
    let base = running.base.clone();
    rt.block_on(async {
        let appraiser = WebSession::sign_in(&base, "appraiser", PASSWORD, "/").await;
        let page = appraiser.get(&format!("/dossiers/{id}")).await;
        assert_eq!(page.status, 200, "{}", page.text());
        assert!(
            page.text()
                .contains("<span class=\"deadline overdue\" id=\"dossier-deadline\">"),
            "{}",
            page.text()
        );
        assert_eq!(
            inner(page.text(), "dossier-deadline", "</span>"),
            format!("Quá hạn {late} ngày làm việc")
        );

        // A comment, escaped, in the timeline; an empty one is refused next to its form.
        let empty = appraiser.act(&id, "comment", &[("text", "  ")]).await;
        assert_eq!(empty.status, 422);
        assert!(
            inner(empty.text(), "action-comment", "</form>").contains("Chưa nhập nội dung ý kiến")
        );
        let said = appraiser
            .act(
                &id,
                "comment",
                &[("text", "Đã nhận <b>hồ sơ</b>, đang xem xét")],
            )
            .await;
        assert_eq!(said.status, 303, "{}", said.text());
        let page = appraiser.get(&format!("/dossiers/{id}")).await;
        let timeline = inner(page.text(), "timeline", "</ol>");
        assert!(
            timeline.contains("Đã nhận &#60;b&#62;hồ sơ&#60;/b&#62;, đang xem xét"),
            "{timeline}"
        );
        assert!(!timeline.contains("<b>hồ sơ</b>"));
        assert!(timeline.contains("data-action=\"comment\""));

        // Assigning another appraiser uses the select of active appraisers.
        let page = appraiser.get(&format!("/dossiers/{id}")).await;
        let assign = inner(page.text(), "action-assign", "</form>");
        assert!(assign.contains("appraiser"), "{assign}");
        let cleared = appraiser.act(&id, "assign", &[("assignee", "")]).await;
        assert_eq!(cleared.status, 303, "{}", cleared.text());
        let bogus = appraiser
            .act(&id, "assign", &[("assignee", "nobody")])
            .await;
        assert_eq!(bogus.status, 422);
        assert!(inner(bogus.text(), "action-assign", "</form>").contains("action-error"));

        // The API itself refuses an assignee who is not an appraiser (here the officer who
        // created the dossier), whatever the form offered.
        let c = crate::serverkit::client();
        let api = format!("{base}/api/v1");
        let (s, events) = call(
            &c,
            "GET",
            format!("{api}/dossiers/{id}/events"),
            &p.viewer,
            None,
        )
        .await;
        assert_eq!(s, 200);
        let officer_id = events[0]["actor"].as_str().unwrap().to_string();
        let (s, v) = call(
            &c,
            "POST",
            format!("{api}/dossiers/{id}/actions"),
            &p.appraiser,
            Some(json!({"action": "assign", "assignee": officer_id})),
        )
        .await;
        assert_eq!(s, 422, "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("cán bộ thẩm định"),
            "{v}"
        );
    });
}
