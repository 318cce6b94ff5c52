//! The web UI in a real headless chromium (Debian's, driven over WebDriver) against the real
//! `canhgac-server` binary: an agency officer creates a system and submits its dossier with
//! its documents, an appraiser asks for supplementation, the officer answers, the appraiser
//! appraises, the approver approves; the timeline, the dashboard and the weekly report follow,
//! and an officer of another agency sees none of it. Screenshots of the main pages go to
//! `target/screenshots/` (not committed) for a person to look at.

use std::path::Path;
use std::time::Duration;

use canhgac_testkit::browser::{Browser, screenshot_dir};

use crate::server_documents::province;
use crate::serverkit::serve;

const WAIT: Duration = Duration::from_secs(15);
const PASSWORD: &str = "mật-khẩu-đủ-dài";

async fn sign_in(b: &Browser, base: &str, login: &str) {
    b.goto(&format!("{base}/login")).await.unwrap();
    b.wait_for("#signin-form", WAIT).await.unwrap();
    b.find("#login")
        .await
        .unwrap()
        .type_text(login)
        .await
        .unwrap();
    b.find("#password")
        .await
        .unwrap()
        .type_text(PASSWORD)
        .await
        .unwrap();
    b.find("#signin-submit")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for("#who-name", WAIT).await.unwrap();
}

async fn sign_out(b: &Browser) {
    b.find("#sign-out").await.unwrap().click().await.unwrap();
    b.wait_for("#signin-form", WAIT).await.unwrap();
}

async fn shot(b: &Browser, name: &str) {
    let png = b
        .screenshot_png(screenshot_dir().join(format!("{name}.png")))
        .await
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}: not a PNG");
}

/// Fills the input or textarea named `name` inside `form`.
async fn fill(b: &Browser, form: &str, name: &str, value: &str) {
    let e = b.find(&format!("{form} [name={name}]")).await.unwrap();
    e.clear().await.unwrap();
    e.type_text(value).await.unwrap();
}

/// Waits until the text of `css` contains `needle` (either case: labels may be capitalised).
async fn wait_text(b: &Browser, css: &str, needle: &str) -> String {
    let until = std::time::Instant::now() + WAIT;
    loop {
        let text = b.text(css).await.unwrap_or_default();
        if text.to_lowercase().contains(&needle.to_lowercase()) {
            return text;
        }
        assert!(
            std::time::Instant::now() < until,
            "{css} never contained {needle:?}; last: {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Takes one workflow action through its form on the dossier page and waits for the state.
async fn act(b: &Browser, action: &str, fields: &[(&str, &str)], state_after: &str) {
    let form = format!("#action-{action}");
    b.wait_for(&form, WAIT)
        .await
        .unwrap_or_else(|e| panic!("no form for {action}: {e:#}"));
    // The forms sit in collapsed <details>: open them all, as a person clicking would.
    b.execute(
        "document.querySelectorAll('#actions details').forEach(d => d.open = true)",
        vec![],
    )
    .await
    .unwrap();
    for (name, value) in fields {
        fill(b, &form, name, value).await;
    }
    b.find(&format!("#action-{action}-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(b, "#dossier-state", state_after).await;
}

/// A figure of the dashboard (`data-key`) as a number.
async fn figure(b: &Browser, base: &str, key: &str) -> u64 {
    b.goto(&format!("{base}/")).await.unwrap();
    b.wait_for("#figures", WAIT).await.unwrap();
    let text = b
        .text(&format!("#figures .figure[data-key={key}] .n"))
        .await
        .unwrap();
    text.chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("figure {key}: {text:?}"))
}

fn id_after(url: &str, prefix: &str) -> String {
    let rest = url
        .split(prefix)
        .nth(1)
        .unwrap_or_else(|| panic!("{url} has no {prefix}"));
    rest.split(['?', '#', '/']).next().unwrap().to_string()
}

async fn upload(b: &Browser, kind: &str, file: &Path) {
    let before = b.find_all("#documents tbody tr").await.unwrap().len();
    b.select_option("#upload-kind", kind).await.unwrap();
    b.upload_file("#upload-file", file).await.unwrap();
    b.find("#upload-submit")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let until = std::time::Instant::now() + WAIT;
    while b.find_all("#documents tbody tr").await.unwrap().len() <= before {
        assert!(
            std::time::Instant::now() < until,
            "the upload of {kind} never listed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn a_dossier_goes_from_submission_to_approval_in_the_browser() {
    let dir = tempfile::tempdir().unwrap();
    // Accounts (password PASSWORD): officer (Sở Công Thương), outsider (Sở Y tế), appraiser,
    // approver, viewer, admin.
    province(dir.path());
    let running = serve(dir.path());
    let base = running.base.clone();
    let files = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let Some(b) = Browser::for_test().await.unwrap() else {
            return;
        };

        // The officer of Sở Công Thương: the dashboard first.
        sign_in(&b, &base, "officer").await;
        let header = b.text("header.top").await.unwrap();
        assert!(header.contains("cán bộ đơn vị"), "{header}");
        assert!(header.contains("Sở Công Thương"), "{header}");

        // A staff member's figures before (the officer's are scoped to the agency).
        sign_out(&b).await;
        sign_in(&b, &base, "appraiser").await;
        let approved_before = figure(&b, &base, "approved").await;
        let received_before = figure(&b, &base, "dossiers").await;
        b.goto(&format!("{base}/weekly")).await.unwrap();
        let weekly_before = b.text("#weekly-text").await.unwrap();
        sign_out(&b).await;

        // The officer creates a system through the form.
        sign_in(&b, &base, "officer").await;
        b.goto(&format!("{base}/systems/new")).await.unwrap();
        b.wait_for("#system-form", WAIT).await.unwrap();
        shot(&b, "system-new").await;
        fill(
            &b,
            "#system-form",
            "name",
            "Cổng thông tin điện tử Sở Công Thương",
        )
        .await;
        fill(&b, "#system-form", "urls", "https://sct.dongnai.gov.vn/").await;
        b.select_option("#proposed_level", "2").await.unwrap();
        b.find("#system-submit")
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        b.wait_for("#system-name", WAIT).await.unwrap();
        let system_url = b.current_url().await.unwrap();
        let system_id = id_after(&system_url, "/systems/");
        assert_eq!(
            b.text("#system-name").await.unwrap().trim(),
            "Cổng thông tin điện tử Sở Công Thương"
        );

        // A new dossier for it, its four documents, and the submission.
        b.select_option("#new-dossier-level", "2").await.unwrap();
        b.find("#new-dossier-submit")
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        b.wait_for("#dossier-state", WAIT).await.unwrap();
        wait_text(&b, "#dossier-state", "bản nháp").await;
        let dossier_url = b.current_url().await.unwrap();
        let dossier_id = id_after(&dossier_url, "/dossiers/");
        for (kind, name) in [
            ("overview_report", "bao-cao-tong-quan.pdf"),
            ("design_document", "thiet-ke.pdf"),
            ("level_justification", "thuyet-minh-cap-do.pdf"),
            ("security_plan", "phuong-an-attt.pdf"),
        ] {
            let path = files.path().join(name);
            std::fs::write(&path, format!("%PDF-1.4 {kind} của Sở Công Thương")).unwrap();
            upload(&b, kind, &path).await;
        }
        let docs = b.text("#documents").await.unwrap();
        assert!(docs.contains("thiet-ke.pdf"), "{docs}");
        act(
            &b,
            "submit",
            &[
                ("letter_number", "2559"),
                ("letter_symbol", "SCT-VP"),
                ("letter_date", "01/12/2026"),
            ],
            "đã nộp",
        )
        .await;
        let letter = b.text("#dossier-letter").await.unwrap();
        assert!(letter.contains("2559/SCT-VP"), "{letter}");
        shot(&b, "dossier-submitted").await;
        sign_out(&b).await;

        // The appraiser starts the appraisal and asks for two missing items.
        sign_in(&b, &base, "appraiser").await;
        b.goto(&dossier_url).await.unwrap();
        act(&b, "start_appraisal", &[], "đang thẩm định").await;
        act(
            &b,
            "request_supplement",
            &[(
                "missing_items",
                "Sơ đồ mạng chi tiết\nQuy chế bảo đảm an toàn thông tin",
            )],
            "cần bổ sung",
        )
        .await;
        let rounds = b.text("#rounds").await.unwrap();
        assert!(rounds.contains("Sơ đồ mạng chi tiết"), "{rounds}");
        sign_out(&b).await;

        // The officer finds the dossier by its letter, sends the missing file and resubmits.
        sign_in(&b, &base, "officer").await;
        b.goto(&format!("{base}/dossiers")).await.unwrap();
        let lookup = b.find("#letter-lookup").await.unwrap();
        lookup.clear().await.unwrap();
        lookup.type_text("2559/SCT-VP").await.unwrap();
        b.find("#letter-lookup-submit")
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        b.wait_for("#dossier-state", WAIT).await.unwrap();
        assert!(
            b.current_url().await.unwrap().contains(&dossier_id),
            "the letter lookup did not lead to the dossier"
        );
        let supplement = files.path().join("so-do-mang.pdf");
        std::fs::write(&supplement, b"%PDF-1.4 so do mang").unwrap();
        upload(&b, "other", &supplement).await;
        act(&b, "resubmit", &[], "đã nộp bổ sung").await;
        sign_out(&b).await;

        // The appraiser appraises.
        sign_in(&b, &base, "appraiser").await;
        b.goto(&dossier_url).await.unwrap();
        act(&b, "start_appraisal", &[], "đang thẩm định").await;
        act(
            &b,
            "mark_appraised",
            &[("note", "Hồ sơ đạt yêu cầu, đề nghị phê duyệt cấp độ 2")],
            "đã thẩm định",
        )
        .await;
        sign_out(&b).await;

        // The approver approves level 2.
        sign_in(&b, &base, "approver").await;
        b.goto(&dossier_url).await.unwrap();
        act(
            &b,
            "approve",
            &[
                ("decision_number", "123/QĐ-STTTT"),
                ("decision_date", "03/12/2026"),
            ],
            "đã phê duyệt",
        )
        .await;
        let approved = b.text("#dossier-approved").await.unwrap();
        assert!(approved.contains("123/QĐ-STTTT"), "{approved}");
        // Every step is in the timeline, oldest first.
        let steps: Vec<String> = {
            let mut out = Vec::new();
            for li in b.find_all("#timeline li").await.unwrap() {
                out.push(
                    li.attribute("data-action")
                        .await
                        .unwrap()
                        .unwrap_or_default(),
                );
            }
            out
        };
        let wanted = [
            "create",
            "submit",
            "start_appraisal",
            "request_supplement",
            "resubmit",
            "start_appraisal",
            "mark_appraised",
            "approve",
        ];
        let mut at = 0;
        for step in &steps {
            if at < wanted.len() && step == wanted[at] {
                at += 1;
            }
        }
        assert_eq!(
            at,
            wanted.len(),
            "timeline {steps:?} lacks {wanted:?} in order"
        );
        shot(&b, "dossier-approved").await;

        // The dashboard and the weekly report changed accordingly.
        assert_eq!(figure(&b, &base, "approved").await, approved_before + 1);
        assert_eq!(figure(&b, &base, "dossiers").await, received_before + 1);
        shot(&b, "dashboard").await;
        b.goto(&format!("{base}/weekly")).await.unwrap();
        let weekly_after = b.text("#weekly-text").await.unwrap();
        assert_ne!(
            weekly_before, weekly_after,
            "the weekly text did not change"
        );
        shot(&b, "weekly").await;
        // Printable: the browser's own print of the weekly report is a PDF, and the page's
        // print styles hide the navigation.
        let pdf = b
            .print_pdf(screenshot_dir().join("weekly.pdf"))
            .await
            .unwrap();
        assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
        let print_rule = b
            .execute(
                "return [...document.styleSheets].some(s => [...s.cssRules].some(r => \
                 r.media && r.media.mediaText.includes('print') && r.cssText.includes('nav')))",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            print_rule,
            serde_json::json!(true),
            "no print rule hides the navigation"
        );
        b.goto(&format!("{base}/systems")).await.unwrap();
        shot(&b, "systems").await;
        b.goto(&system_url).await.unwrap();
        shot(&b, "system").await;
        b.goto(&format!("{base}/agents")).await.unwrap();
        shot(&b, "agents").await;
        // Phone width.
        b.set_window_size(390, 844).await.unwrap();
        b.goto(&format!("{base}/")).await.unwrap();
        shot(&b, "dashboard-phone").await;
        b.goto(&dossier_url).await.unwrap();
        shot(&b, "dossier-phone").await;
        b.set_window_size(1280, 900).await.unwrap();
        sign_out(&b).await;

        // An officer of another agency sees none of it.
        sign_in(&b, &base, "outsider").await;
        b.goto(&format!("{base}/systems")).await.unwrap();
        let list = b.page_source().await.unwrap();
        assert!(
            !list.contains("Cổng thông tin điện tử Sở Công Thương"),
            "the outsider's list shows the system"
        );
        for url in [&dossier_url, &system_url] {
            b.goto(url).await.unwrap();
            let message = b.wait_for("#error-message", WAIT).await.unwrap();
            let text = message.text().await.unwrap();
            assert!(text.contains("Không tìm thấy"), "{url}: {text}");
        }
        let _ = system_id;
        b.quit().await.unwrap();
    });
}
