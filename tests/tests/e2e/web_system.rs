//! The system page of the web UI (`/systems/{id}`) on the real `canhgac-server`: identity and
//! levels in Vietnamese, the latest evaluation with the failing rules first (evidence,
//! remediation), the certificate of an uploaded report, the scan history's changes, the
//! waiver form (field errors, CSRF, the waiver shown once granted) and the agency scope
//! (another agency's officer gets 404).
//!
//! Reports are uploaded with the administrator's token (`POST /api/v1/reports`), built here
//! with the fields the rules read, so that the outcome is known in advance.

use jiff::{SignedDuration, Timestamp, ToSpan};
use serde_json::{Value, json};

use crate::serverkit::{add_user, call, client, serve, token_for};
use crate::webkit::{self, WebSession};

const PASSWORD: &str = "mật-khẩu-đủ-dài-2026";
const HOST: &str = "cong.sct.example.gov.vn";

/// A UUIDv7 text for `at` (the time prefix makes ids sort like their scans).
fn uuid_v7(at: Timestamp, n: u32) -> String {
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

/// A TLS report of `HOST` scanned at `at`: a certificate ending `days_left` days after the
/// scan, issued by an untrusted CA, and TLS 1.0 accepted or not.
fn report(n: u32, at: Timestamp, days_left: i64, tls10: bool) -> Value {
    let not_after = at + SignedDuration::from_hours(days_left * 24 + 1);
    let not_before = at - SignedDuration::from_hours(24 * 60);
    json!({
        "schema_version": 1,
        "id": uuid_v7(at, n),
        "agent": {"name": "lan-sct", "version": "0.1.0"},
        "started_at": at.to_string(),
        "duration_ms": 1200,
        "target": {"input": format!("https://{HOST}/"), "host": HOST, "port": 443, "address": "127.0.0.1"},
        "tls": {
            "reachable": true,
            "error": null,
            "negotiated": {"protocol": "tls1.3", "cipher_suite": "TLS_AES_128_GCM_SHA256", "alpn": "h2", "key_exchange_group": "X25519", "ocsp_stapled": false},
            "negotiation_error": null,
            "protocols": {"ssl3": false, "tls1.0": tls10, "tls1.1": false, "tls1.2": true, "tls1.3": true},
            "protocol_errors": {},
            "protocol_evidence": {},
            "ciphers": {"by_protocol": {}, "weaknesses": {"null": false, "anonymous": false, "export": false, "rc4": false, "des": false, "cbc_only": false, "no_forward_secrecy": false, "forward_secrecy_only": true}},
            "certificate": {
                "subject": format!("CN={HOST},O=Sở Công Thương"),
                "common_name": HOST,
                "san_dns": [HOST, format!("www.{HOST}")],
                "san_ip": [],
                "issuer": "CN=CA Thử nghiệm Việt Nam",
                "serial": "0a1b2c",
                "not_before": not_before.to_string(),
                "not_after": not_after.to_string(),
                "days_left": days_left,
                "key_type": "RSA",
                "key_bits": 2048,
                "curve": null,
                "signature_algorithm": "sha256WithRSAEncryption",
                "self_signed": false,
                "sha256": "ab".repeat(32),
                "ocsp_urls": []
            },
            "chain": [],
            "chain_facts": {"served": 1, "in_order": true, "includes_root": false, "missing_intermediate": true},
            "validation": {"status": "untrusted", "trusted": false, "error": "unknown_issuer", "detail": "issuer not in the trust store", "hostname_match": true, "trust_store": "webpki-roots"},
            "connections": 7
        },
        "http": null, "dns": null, "domain": null, "content": null
    })
}

/// The HTML of the element that opens with `id="<id>"` up to its closing `</tag>`.
fn element<'a>(html: &'a str, tag: &str, id: &str) -> &'a str {
    let open = format!("<{tag} ");
    let marker = format!("id=\"{id}\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("#{id} is missing"));
    let start = html[..at].rfind(&open).unwrap();
    let end = html[start..]
        .find(&format!("</{tag}>"))
        .map(|e| start + e)
        .unwrap();
    &html[start..end]
}

#[test]
fn the_system_page_shows_evaluation_certificate_history_and_waivers_within_scope() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let (code, err) = add_user(d, "admin", "administrator", None, Some(PASSWORD));
    assert_eq!(code, 0, "{err}");
    let admin = token_for(d, "admin");
    let running = serve(&data);
    let root = running.base.clone();
    let api = format!("{root}/api/v1");

    rt.block_on(async {
        let c = client();
        let mut agencies = Vec::new();
        for (name, code) in [("Sở Công Thương", "SCT"), ("Sở Y tế", "SYT")] {
            let (s, v) = call(&c, "POST", format!("{api}/agencies"), &admin, Some(json!({"name": name, "short_code": code}))).await;
            assert_eq!(s, 201, "{v}");
            agencies.push(v["id"].as_str().unwrap().to_string());
        }
        let (sct, syt) = (agencies[0].clone(), agencies[1].clone());
        for (login, role, agency) in [
            ("canbo", "agency_officer", Some(&sct)),
            ("nguoingoai", "agency_officer", Some(&syt)),
            ("thamdinh", "appraiser", None),
        ] {
            let mut body = json!({"login": login, "display_name": login, "role": role, "password": PASSWORD});
            if let Some(a) = agency {
                body["agency"] = a.as_str().into();
            }
            let (s, v) = call(&c, "POST", format!("{api}/users"), &admin, Some(body)).await;
            assert_eq!(s, 201, "{v}");
        }
        let (s, system) = call(&c, "POST", format!("{api}/systems"), &admin, Some(json!({
            "name": "Cổng thông tin điện tử Sở Công Thương", "owner_agency": sct, "operating_unit": sct,
            "urls": [format!("https://{HOST}/")], "hosting": "Trung tâm dữ liệu tỉnh",
            "category": "Cổng thông tin điện tử", "proposed_level": 3
        }))).await;
        assert_eq!(s, 201, "{system}");
        let id = system["id"].as_str().unwrap().to_string();
        let page = format!("/systems/{id}");

        // Before any report: identity in Vietnamese, no grade yet.
        let officer = WebSession::sign_in(&root, "canbo", PASSWORD, "/").await;
        let (s, html) = officer.get_text(&page).await;
        assert_eq!(s, 200, "{html}");
        assert!(html.contains("id=\"system-name\">Cổng thông tin điện tử Sở Công Thương<"), "{html}");
        for label in ["Chủ quản", "Đơn vị vận hành", "Cấp độ đề xuất", "Cấp độ được phê duyệt", "Nơi đặt hệ thống", "đang sử dụng", "Chưa có kết quả quét"] {
            assert!(html.contains(label), "{label} is missing");
        }
        assert!(!html.contains("id=\"system-grade\""), "no grade before the first report");
        // The officer of the system's agency may open a dossier; they do not grant waivers.
        assert!(html.contains("id=\"new-dossier-form\""));
        assert!(html.contains("action=\"/systems/{id}/dossiers\"".replace("{id}", &id).as_str()));
        assert!(!html.contains("id=\"waiver-form\""));
        assert!(!html.contains("id=\"scan-form\""), "scanning on demand is for staff");

        // A first report: certificate 10 days from its end, untrusted, TLS 1.0 accepted.
        let now = Timestamp::now();
        let first = report(1, now - SignedDuration::from_hours(48), 12, true);
        let (s, v) = call(&c, "POST", format!("{api}/reports"), &admin, Some(first)).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["evaluated_for"][0], id.as_str(), "{v}");

        let (s, html) = officer.get_text(&page).await;
        assert_eq!(s, 200);
        let grade = element(&html, "div", "system-grade");
        assert!(grade.ends_with(">F") && grade.contains("grade-F"), "three high failures: grade F: {grade}");
        let failures = element(&html, "ul", "failures");
        for rule in ["tls.cert_expiry", "tls.cert_trusted", "tls.legacy_protocols"] {
            assert!(failures.contains(&format!("rule-{rule} ")), "{rule} fails: {failures}");
        }
        assert!(failures.contains("/tls/protocols/tls1.0 = true"), "the evidence: {failures}");
        assert!(failures.contains("Cách khắc phục"), "remediation shown");
        assert!(failures.contains("Căn cứ"), "references shown");
        // Failures come before the passes, which are collapsed.
        let (at_failures, at_passes) = (html.find("id=\"failures\"").unwrap(), html.find("id=\"passes\"").unwrap());
        assert!(at_failures < at_passes);
        assert!(html.contains("<details id=\"passes\">"));
        // The certificate of the uploaded report.
        let cert = element(&html, "section", "certificate");
        assert!(cert.contains(&format!("CN={HOST},O=Sở Công Thương")), "{cert}");
        assert!(cert.contains("CN=CA Thử nghiệm Việt Nam"));
        assert!(cert.contains(&format!("www.{HOST}")), "SAN listed");
        assert!(cert.contains("RSA 2048"));
        assert!(cert.contains("sha256WithRSAEncryption"));
        assert!(cert.contains("Tổ chức cấp không được tin cậy"), "the chain's verdict");
        let days = element(&html, "span", "cert-days");
        assert!(days.contains("class=\"bad\""), "under 30 days is red: {days}");
        assert!(days.contains("còn 10 ngày"), "{days}");
        let protocols = element(&html, "table", "protocols");
        assert!(protocols.contains("TLS 1.0</td><td class=\"bad\">chấp nhận"), "{protocols}");
        // The first scan is the first entry of the timeline.
        let history = element(&html, "ol", "history");
        assert_eq!(history.matches("<li class=\"change\"").count(), 1, "{history}");
        assert!(history.contains("Lần quét đầu tiên"));
        assert!(html.contains("Lần quét gần nhất"));

        // Another agency's officer: the 404 page, nothing of the system.
        let outsider = WebSession::sign_in(&root, "nguoingoai", PASSWORD, "/").await;
        let (s, html) = outsider.get_text(&page).await;
        assert_eq!(s, 404);
        assert!(!html.contains("Cổng thông tin điện tử Sở Công Thương"));
        assert!(html.contains("Không tìm thấy"));
        // Strangers are sent to the sign-in page.
        let r = WebSession::anonymous(&root).get(&page).await;
        assert_eq!(r.status, 303);

        // The appraiser grants a waiver through the form.
        let appraiser = WebSession::sign_in(&root, "thamdinh", PASSWORD, "/").await;
        let (s, html) = appraiser.get_text(&page).await;
        assert_eq!(s, 200);
        let form = element(&html, "form", "waiver-form");
        assert!(form.contains("value=\"tls.cert_expiry\""), "failing rules offered: {form}");
        assert!(html.contains("id=\"scan-form\""), "staff may ask for a scan");
        assert!(!html.contains("id=\"new-dossier-form\""), "appraisers do not open dossiers");
        let csrf = webkit::csrf(&html);
        let waivers_url = format!("{page}/waivers");
        let today = now.to_zoned_datetime(jiff::tz::TimeZone::fixed(jiff::tz::offset(7))).date();
        let expiry = (today + 20.days()).to_string();

        // Without the CSRF token: refused, nothing recorded.
        let r = appraiser.post(&waivers_url, &[("rule", "tls.cert_expiry"), ("reason", "Đang gia hạn"), ("expires_on", expiry.as_str())]).await;
        assert_eq!(r.status, 403);
        let r = appraiser.post(&waivers_url, &[("csrf_token", "wrong"), ("rule", "tls.cert_expiry"), ("reason", "Đang gia hạn"), ("expires_on", expiry.as_str())]).await;
        assert_eq!(r.status, 403);
        // Field errors next to their fields, values kept.
        let r = appraiser.post(&waivers_url, &[("csrf_token", csrf.as_str()), ("rule", "tls.cert_expiry"), ("reason", "  "), ("expires_on", expiry.as_str())]).await;
        assert_eq!(r.status, 400);
        let html = r.text();
        assert!(element(html, "p", "waiver-reason-error").contains("Cần nêu lý do"), "{html}");
        let too_far = (today + 400.days()).to_string();
        let r = appraiser.post(&waivers_url, &[("csrf_token", csrf.as_str()), ("rule", "tls.cert_expiry"), ("reason", "Đang gia hạn chứng thư"), ("expires_on", too_far.as_str())]).await;
        assert_eq!(r.status, 400);
        let html = r.text();
        assert!(element(html, "p", "waiver-expires-error").contains("quá xa"), "{html}");
        assert!(html.contains("Đang gia hạn chứng thư</textarea>"), "the reason typed is kept");
        let r = appraiser.post(&waivers_url, &[("csrf_token", csrf.as_str()), ("rule", "tls.cert_expiry"), ("reason", "x"), ("expires_on", "ngày mai")]).await;
        assert_eq!(r.status, 400);
        assert!(r.text().contains("id=\"waiver-expires-error\""));
        // The officer may not grant one, even with their token.
        let officer_csrf = webkit::csrf(&officer.get_text(&page).await.1);
        let r = officer.post(&waivers_url, &[("csrf_token", officer_csrf.as_str()), ("rule", "tls.cert_expiry"), ("reason", "Tự chấp nhận"), ("expires_on", expiry.as_str())]).await;
        assert_eq!(r.status, 403);
        let (_, list) = call(&c, "GET", format!("{api}/systems/{id}/waivers"), &admin, None).await;
        assert_eq!(list.as_array().unwrap().len(), 0, "nothing granted so far: {list}");

        let reason = "Đang gia hạn chứng thư số với nhà cung cấp";
        let r = appraiser.post(&waivers_url, &[("csrf_token", csrf.as_str()), ("rule", "tls.cert_expiry"), ("reason", reason), ("expires_on", expiry.as_str())]).await;
        assert_eq!(r.status, 303);
        let back = r.location.clone();
        assert!(back.starts_with(&format!("/systems/{id}")), "{back}");
        let (s, html) = appraiser.get_text(&back).await;
        assert_eq!(s, 200);
        assert!(html.contains("id=\"notice\""));
        let waivers = element(&html, "table", "waivers");
        assert!(waivers.contains(reason), "{waivers}");
        assert!(waivers.contains("thamdinh"));
        assert!(waivers.contains(&format!("{:02}/{:02}/{}", (today + 20.days()).day(), (today + 20.days()).month(), (today + 20.days()).year())), "expiry dd/mm/yyyy: {waivers}");
        assert!(waivers.contains("Còn hiệu lực"));
        // The rule moves from the failures to the waived rules.
        assert!(!element(&html, "ul", "failures").contains("rule-tls.cert_expiry "));
        let waived = element(&html, "ul", "waived");
        assert!(waived.contains("rule-tls.cert_expiry") && waived.contains(reason), "{waived}");
        // A second waiver of the same rule: shown next to the rule field, 409.
        let r = appraiser.post(&waivers_url, &[("csrf_token", csrf.as_str()), ("rule", "tls.cert_expiry"), ("reason", "Lần hai"), ("expires_on", expiry.as_str())]).await;
        assert_eq!(r.status, 409);
        assert!(r.text().contains("id=\"waiver-rule-error\""));
        // The officer reads the waiver too.
        assert!(officer.get_text(&page).await.1.contains(reason));

        // Scan now: accepted, back to the page with a notice (no agent covers it here).
        let r = appraiser.post(&format!("{page}/scan"), &[("csrf_token", csrf.as_str())]).await;
        assert_eq!(r.status, 303);
        assert!(r.location.contains("notice=scan"));
        let r = appraiser.post(&format!("{page}/scan"), &[]).await;
        assert_eq!(r.status, 403, "no CSRF token");

        // A second report with another outcome (TLS 1.0 refused): a change in the timeline.
        let second = report(2, now - SignedDuration::from_hours(2), 10, false);
        let (s, v) = call(&c, "POST", format!("{api}/reports"), &admin, Some(second)).await;
        assert_eq!(s, 201, "{v}");
        let (_, html) = officer.get_text(&page).await;
        let history = element(&html, "ol", "history");
        assert_eq!(history.matches("<li class=\"change\"").count(), 2, "{history}");
        let newest = &history[history.find("<li class=\"change\"").unwrap()..];
        assert!(newest.contains("Đã khắc phục"), "{newest}");
        assert!(newest.contains("tls.legacy_protocols"), "the rule that changed: {newest}");
        assert!(!element(&html, "ul", "failures").contains("rule-tls.legacy_protocols"));
        assert!(!element(&html, "table", "protocols").contains("TLS 1.0</td><td class=\"bad\""));

        // English on request.
        let r = officer.get(&format!("/lang/en?next=/systems/{id}")).await;
        assert_eq!(r.status, 303);
        let (_, html) = officer.get_text(&page).await;
        assert!(html.contains("Operating unit") && html.contains("Compliance grade"));
    });
}
