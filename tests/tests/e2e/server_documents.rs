//! Dossier documents as files on the real `canhgac-server`: multipart upload (size and SHA-256
//! computed by the server, limits, states, scope), download (headers, Vietnamese names,
//! integrity check against the store file), and the JSON routes refusing invented records.

use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::serverkit::{Running, add_user, call, client, serve, serve_env, token_for};

/// SHA-256, lowercase hex.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A `multipart/form-data` body as a browser sends it (UTF-8 file name, raw), and its
/// content type. `parts` are (name, file name, bytes).
pub(crate) fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = format!("canhgac-{}", hex::encode(rand::random::<[u8; 12]>()));
    let mut body = Vec::new();
    for (name, file_name, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file_name {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Uploads `bytes` as `file_name` of `kind` to a dossier: status and JSON answer.
pub(crate) async fn upload(
    c: &reqwest::Client,
    base: &str,
    dossier: &str,
    token: &str,
    kind: &str,
    file_name: &str,
    bytes: &[u8],
) -> (u16, Value) {
    let (content_type, body) = multipart(&[
        ("kind", None, kind.as_bytes()),
        ("file", Some(file_name), bytes),
    ]);
    send(c, base, dossier, token, content_type, body).await
}

async fn send(
    c: &reqwest::Client,
    base: &str,
    dossier: &str,
    token: &str,
    content_type: String,
    body: Vec<u8>,
) -> (u16, Value) {
    let r = c
        .post(format!("{base}/dossiers/{dossier}/documents"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Downloads a document: status, headers and bytes.
pub(crate) async fn download(
    c: &reqwest::Client,
    base: &str,
    dossier: &str,
    document: &str,
    token: &str,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let r = c
        .get(format!("{base}/dossiers/{dossier}/documents/{document}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.bytes().await.unwrap().to_vec())
}

/// The people of a province: one department with an officer, another with its own officer,
/// and the staff; every token. The server is stopped on return.
#[derive(Debug, Clone)]
pub(crate) struct Province {
    pub(crate) admin: String,
    pub(crate) officer: String,
    pub(crate) outsider: String,
    pub(crate) appraiser: String,
    pub(crate) approver: String,
    pub(crate) viewer: String,
    pub(crate) agent: String,
    pub(crate) agency: String,
}

pub(crate) fn province(data: &Path) -> Province {
    let d = data.to_str().unwrap();
    let (code, err) = add_user(d, "admin", "administrator", None, Some("mật-khẩu-quản-trị"));
    assert_eq!(code, 0, "{err}");
    let (code, err) = add_user(d, "agent", "agent", Some("lan"), None);
    assert_eq!(code, 0, "{err}");
    let admin = token_for(d, "admin");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let agency = {
        let running = serve(data);
        let base = format!("{}/api/v1", running.base);
        rt.block_on(async {
            let c = client();
            let (s, sct) = call(&c, "POST", format!("{base}/agencies"), &admin, Some(json!({"name": "Sở Công Thương", "short_code": "SCT"}))).await;
            assert_eq!(s, 201, "{sct}");
            let (_, syt) = call(&c, "POST", format!("{base}/agencies"), &admin, Some(json!({"name": "Sở Y tế", "short_code": "SYT"}))).await;
            for (login, role, agency) in [
                ("officer", "agency_officer", Some(&sct)),
                ("outsider", "agency_officer", Some(&syt)),
                ("appraiser", "appraiser", None),
                ("approver", "approver", None),
                ("viewer", "viewer", None),
            ] {
                let mut body = json!({"login": login, "display_name": login, "role": role, "password": "mật-khẩu-đủ-dài"});
                if let Some(a) = agency {
                    body["agency"] = a["id"].clone();
                }
                let (s, v) = call(&c, "POST", format!("{base}/users"), &admin, Some(body)).await;
                assert_eq!(s, 201, "{v}");
            }
            sct["id"].as_str().unwrap().to_string()
        })
    };
    Province {
        admin,
        officer: token_for(d, "officer"),
        outsider: token_for(d, "outsider"),
        appraiser: token_for(d, "appraiser"),
        approver: token_for(d, "approver"),
        viewer: token_for(d, "viewer"),
        agent: token_for(d, "agent"),
        agency,
    }
}

/// A system of the province's department (by its officer): its id.
pub(crate) async fn system(c: &reqwest::Client, base: &str, p: &Province, name: &str) -> String {
    let (s, v) = call(
        c,
        "POST",
        format!("{base}/systems"),
        &p.officer,
        Some(json!({
            "name": name, "owner_agency": p.agency, "operating_unit": p.agency, "proposed_level": 2
        })),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

/// A new level-2 draft for `system`: its id.
pub(crate) async fn draft(c: &reqwest::Client, base: &str, p: &Province, system: &str) -> String {
    let (s, v) = call(
        c,
        "POST",
        format!("{base}/systems/{system}/dossiers"),
        &p.officer,
        Some(json!({"level": 2})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

fn started(data: &Path, max_document_bytes: &str) -> Running {
    serve_env(data, &[("CANHGAC_MAX_DOCUMENT_BYTES", max_document_bytes)])
}

const LIMIT: usize = 256 * 1024;

#[test]
fn documents_are_uploaded_and_downloaded_as_files() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = province(&data);
    let running = started(&data, &LIMIT.to_string());
    let base = format!("{}/api/v1", running.base);
    rt.block_on(async {
        let c = client();
        let sys = system(&c, &base, &p, "Cổng dịch vụ công của Sở Công Thương").await;
        let id = draft(&c, &base, &p, &sys).await;

        // A Vietnamese name, a real body: the server computes size and hash itself.
        let name = "Báo cáo tổng quan hệ thống – Sở Công Thương (bản 2).pdf";
        let content: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (s, v) = upload(&c, &base, &id, &p.officer, "overview_report", name, &content).await;
        assert_eq!(s, 201, "{v}");
        let doc = v["document"].clone();
        assert_eq!(doc["file_name"], name);
        assert_eq!(doc["size"], content.len() as u64);
        assert_eq!(doc["sha256"], sha256(&content));
        assert_eq!(v["deduplicated"], false);
        assert_eq!(v["event"]["action"], "add_document");
        assert_eq!(v["event"]["documents"][0], doc["id"]);
        let doc_id = doc["id"].as_str().unwrap().to_string();

        let (s, headers, bytes) = download(&c, &base, &id, &doc_id, &p.officer).await;
        assert_eq!(s, 200);
        assert_eq!(bytes, content);
        assert_eq!(headers["content-type"], "application/pdf");
        assert_eq!(headers["content-length"], content.len().to_string().as_str());
        assert_eq!(headers["etag"], format!("\"{}\"", sha256(&content)).as_str());
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let disposition = headers["content-disposition"].to_str().unwrap();
        assert!(disposition.starts_with("attachment; filename=\"Bao cao tong quan he thong _ So Cong Thuong (ban 2).pdf\""), "{disposition}");
        assert!(disposition.contains("filename*=UTF-8''B%C3%A1o%20c%C3%A1o%20t%E1%BB%95ng%20quan"), "{disposition}");
        // A conditional request for what the client already holds.
        let r = c.get(format!("{base}/dossiers/{id}/documents/{doc_id}")).bearer_auth(&p.officer)
            .header("if-none-match", format!("\"{}\"", sha256(&content))).send().await.unwrap();
        assert_eq!(r.status(), 304);

        // The same bytes under another name and kind: one stored copy, two records.
        let (s, v) = upload(&c, &base, &id, &p.officer, "design_document", "C:\\Hồ sơ\\Thiết kế.docx", &content).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["deduplicated"], true);
        assert_eq!(v["document"]["file_name"], "Thiết kế.docx", "directories are dropped");
        assert_ne!(v["document"]["id"], doc["id"]);
        let (_, h, b) = download(&c, &base, &id, v["document"]["id"].as_str().unwrap(), &p.officer).await;
        assert_eq!(b, content);
        assert_eq!(h["content-type"], "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
        // Active content is never served as such.
        let (s, v) = upload(&c, &base, &id, &p.officer, "other_attachment", "trang.html", b"<script>alert(1)</script>").await;
        assert_eq!(s, 201, "{v}");
        let (_, h, _) = download(&c, &base, &id, v["document"]["id"].as_str().unwrap(), &p.officer).await;
        assert_eq!(h["content-type"], "application/octet-stream");

        // Limits: one byte over is 413 (JSON), exactly the limit is accepted; empty files,
        // bad kinds, no name, missing fields and JSON bodies are refused; nothing is written.
        let (s, v) = upload(&c, &base, &id, &p.officer, "security_plan", "lon.pdf", &vec![1u8; LIMIT + 1]).await;
        assert_eq!(s, 413, "{v}");
        assert_eq!(v["error"]["code"], "too_large");
        let (s, v) = upload(&c, &base, &id, &p.officer, "security_plan", "vua.pdf", &vec![2u8; LIMIT]).await;
        assert_eq!(s, 201, "{v}");
        let (s, v) = upload(&c, &base, &id, &p.officer, "security_plan", "rong.pdf", b"").await;
        assert_eq!(s, 422, "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("rỗng"), "{v}");
        let (s, v) = upload(&c, &base, &id, &p.officer, "Security Plan", "a.pdf", b"x").await;
        assert_eq!(s, 422, "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("không hợp lệ"), "{v}");
        let (s, v) = upload(&c, &base, &id, &p.officer, "security_plan", "", b"x").await;
        assert_eq!(s, 422, "{v}");
        let (ct, body) = multipart(&[("file", Some("a.pdf"), b"x")]);
        let (s, v) = send(&c, &base, &id, &p.officer, ct, body).await;
        assert_eq!((s, v["error"]["code"].as_str()), (400, Some("bad_upload")), "{v}");
        let (ct, body) = multipart(&[("kind", None, b"security_plan"), ("file", Some("a.pdf"), b"x"), ("sha256", None, b"00")]);
        let (s, v) = send(&c, &base, &id, &p.officer, ct, body).await;
        assert_eq!(s, 400, "{v}");
        let (s, v) = send(&c, &base, &id, &p.officer, "application/json".into(), b"{}".to_vec()).await;
        assert_eq!((s, v["error"]["code"].as_str()), (400, Some("bad_multipart")), "{v}");

        // Records cannot be invented through the JSON routes any more.
        let invented = json!({"action": "add_document", "document": {"id": "0193aaaa-5b7a-7cc0-9a8e-3a5c1f1d2e3f", "kind": "security_plan", "file_name": "x.pdf", "size": 1, "sha256": "ab".repeat(32), "uploaded_at": "2026-11-20T02:00:00Z"}});
        let (s, v) = call(&c, "POST", format!("{base}/dossiers/{id}/actions"), &p.officer, Some(invented)).await;
        assert_eq!((s, v["error"]["code"].as_str()), (422, Some("upload_required")), "{v}");

        let (_, d) = call(&c, "GET", format!("{base}/dossiers/{id}"), &p.officer, None).await;
        let kinds: Vec<&str> = d["dossier"]["documents"].as_array().unwrap().iter().map(|x| x["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["overview_report", "design_document", "other_attachment", "security_plan"]);

        // Who may read: staff and the agency; another agency's officer does not see it.
        for token in [&p.viewer, &p.appraiser, &p.approver, &p.admin] {
            let (s, _, b) = download(&c, &base, &id, &doc_id, token).await;
            assert_eq!((s, b.len()), (200, content.len()));
        }
        assert_eq!(download(&c, &base, &id, &doc_id, &p.outsider).await.0, 404);
        assert_eq!(download(&c, &base, &id, &doc_id, &p.agent).await.0, 403);
        assert_eq!(download(&c, &base, &id, "0193aaaa-5b7a-7cc0-9a8e-3a5c1f1d2e3f", &p.officer).await.0, 404);
        assert_eq!(download(&c, &base, &id, "not-an-id", &p.officer).await.0, 404);
        // Who may upload: the agency's officer only.
        let (s, v) = upload(&c, &base, &id, &p.outsider, "security_plan", "a.pdf", b"x").await;
        assert_eq!(s, 404, "{v}");
        for token in [&p.viewer, &p.approver, &p.admin, &p.agent] {
            let (s, v) = upload(&c, &base, &id, token, "security_plan", "a.pdf", b"x").await;
            assert_eq!(s, 403, "{v}");
        }
        // Appraisers attach files to an open supplementation request only.
        let (s, v) = upload(&c, &base, &id, &p.appraiser, "supplement_request", "a.pdf", b"x").await;
        assert_eq!(s, 409, "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("bản nháp"), "{v}");

        // Submitted: the dossier's documents are frozen (409), until a supplementation round
        // opens; the answer is uploaded to the round, then resubmitted without any record.
        let letter = json!({"number": 2559, "symbol": "SCT-VP", "date": "2021-05-25"});
        let act = |token: String, body: Value| {
            let c = c.clone();
            let url = format!("{base}/dossiers/{id}/actions");
            async move { call(&c, "POST", url, &token, Some(body)).await }
        };
        let (s, v) = act(p.officer.clone(), json!({"action": "submit", "letter": letter})).await;
        assert_eq!(s, 422, "level_justification was never uploaded: {v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("level_justification"), "{v}");
        let (s, _) = upload(&c, &base, &id, &p.officer, "level_justification", "Thuyết minh cấp độ.pdf", b"%PDF thuyet minh").await;
        assert_eq!(s, 201);
        let (s, v) = act(p.officer.clone(), json!({"action": "submit", "letter": letter})).await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = upload(&c, &base, &id, &p.officer, "security_plan", "muộn.pdf", b"late").await;
        assert_eq!(s, 409, "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("đã nộp"), "{v}");
        assert_eq!(act(p.appraiser.clone(), json!({"action": "start_appraisal"})).await.0, 200);
        assert_eq!(act(p.appraiser.clone(), json!({"action": "request_supplement", "missing_items": ["Sơ đồ mạng"]})).await.0, 200);
        let (s, v) = act(p.officer.clone(), json!({"action": "resubmit", "documents": []})).await;
        assert_eq!((s, v["error"]["code"].as_str()), (422, Some("upload_required")), "{v}");
        // The appraiser attaches the signed request letter to the round: it is kept with the
        // request, readable by the agency, and is not an answer.
        let scan = b"%PDF cong van yeu cau bo sung".to_vec();
        let (s, v) = upload(&c, &base, &id, &p.appraiser, "supplement_request", "Công văn yêu cầu bổ sung số 310.pdf", &scan).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!((v["event"]["action"].as_str(), v["event"]["round"].as_u64()), (Some("add_request_document"), Some(1)), "{v}");
        assert_eq!(v["dossier"]["rounds"][0]["request_documents"][0]["sha256"], sha256(&scan));
        let request_doc = v["document"]["id"].as_str().unwrap().to_string();
        let (s, _, b) = download(&c, &base, &id, &request_doc, &p.officer).await;
        assert_eq!((s, b), (200, scan));
        let (s, v) = act(p.officer.clone(), json!({"action": "resubmit"})).await;
        assert_eq!(s, 422, "nothing to resubmit yet: {v}");
        let (s, v) = upload(&c, &base, &id, &p.officer, "network_diagram", "Sơ đồ mạng.png", b"\x89PNG so do").await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["event"]["round"], 1);
        let answer = v["document"]["id"].clone();
        let (s, v) = act(p.officer.clone(), json!({"action": "resubmit"})).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["dossier"]["rounds"][0]["documents"][0]["id"], answer);
        assert_eq!(v["event"]["documents"][0], answer);
        let (s, _, b) = download(&c, &base, &id, answer.as_str().unwrap(), &p.viewer).await;
        assert_eq!((s, b.as_slice()), (200, &b"\x89PNG so do"[..]));

        // The audit trail names every upload with who and what.
        let (_, events) = call(&c, "GET", format!("{base}/dossiers/{id}/events"), &p.viewer, None).await;
        let uploads: Vec<&Value> = events.as_array().unwrap().iter().filter(|e| e["action"] == "add_document").collect();
        assert_eq!(events.as_array().unwrap().iter().filter(|e| e["action"] == "add_request_document" && e["role"] == "appraiser").count(), 1);
        assert_eq!(uploads.len(), 6);
        assert!(uploads.iter().all(|e| e["role"] == "agency_officer" && e["documents"].as_array().unwrap().len() == 1));
        assert!(uploads[0]["note"].as_str().unwrap().contains(&sha256(&content)), "{}", uploads[0]);
    });
}

/// A stored document whose bytes no longer match its record (damage redb cannot see once it
/// is running, a botched restore) is refused on download with a clear error, never sent; so is
/// one whose content is gone. The store is changed through its own API while the server is
/// stopped (flipping bytes in the file would only make redb roll back to an intact commit).
#[test]
fn corrupt_document_content_is_detected_not_served() {
    use canhgac_server::store::{Batch, Table};

    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = province(&data);
    let content: Vec<u8> = b"%PDF-1.7 "
        .iter()
        .copied()
        .chain((0..4000u32).map(|i| (i % 97) as u8 + 32))
        .collect();
    let other = b"%PDF-1.7 phu luc".to_vec();
    let (id, doc_id, other_id) = {
        let running = serve(&data);
        let base = format!("{}/api/v1", running.base);
        rt.block_on(async {
            let c = client();
            let sys = system(&c, &base, &p, "Hệ thống một cửa điện tử").await;
            let id = draft(&c, &base, &p, &sys).await;
            let (s, v) = upload(
                &c,
                &base,
                &id,
                &p.officer,
                "overview_report",
                "Báo cáo.pdf",
                &content,
            )
            .await;
            assert_eq!(s, 201, "{v}");
            let doc = v["document"]["id"].as_str().unwrap().to_string();
            assert_eq!(download(&c, &base, &id, &doc, &p.officer).await.2, content);
            let (s, v) = upload(
                &c,
                &base,
                &id,
                &p.officer,
                "other_attachment",
                "Phụ lục.pdf",
                &other,
            )
            .await;
            assert_eq!(s, 201, "{v}");
            (id, doc, v["document"]["id"].as_str().unwrap().to_string())
        })
    };
    // Stopped: one byte of the first file changes, the second file's content disappears.
    {
        let store = canhgac_server::store::open(&data.join("canhgac.redb"), "redb").unwrap();
        let mut damaged = content.clone();
        damaged[100] ^= 1;
        store
            .apply(
                Batch::new()
                    .put(Table::Documents, sha256(&content), damaged)
                    .delete(Table::Documents, sha256(&other)),
            )
            .unwrap();
    }
    let running = serve(&data);
    let base = format!("{}/api/v1", running.base);
    rt.block_on(async {
        let c = client();
        let (s, headers, body) = download(&c, &base, &id, &doc_id, &p.officer).await;
        assert_eq!(s, 503, "{}", String::from_utf8_lossy(&body));
        assert_eq!(headers["content-type"], "application/json");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "document_corrupt", "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Báo cáo.pdf"),
            "{v}"
        );
        let (s, _, body) = download(&c, &base, &id, &other_id, &p.viewer).await;
        assert_eq!(s, 503);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("không còn"),
            "{v}"
        );
        // Uploading the same file again stores a good copy under the same hash.
        let (s, v) = upload(
            &c,
            &base,
            &id,
            &p.officer,
            "overview_report",
            "Báo cáo (gửi lại).pdf",
            &content,
        )
        .await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["deduplicated"], false);
        let (s, _, body) = download(&c, &base, &id, &doc_id, &p.officer).await;
        assert_eq!((s, body), (200, content.clone()));

        // Concurrent uploads to one dossier all land: a write that loses the race re-reads the
        // dossier and applies again instead of answering 409.
        let uploads = (0..8u8).map(|i| {
            let (c, base, id, token) = (c.clone(), base.clone(), id.clone(), p.officer.clone());
            async move {
                upload(
                    &c,
                    &base,
                    &id,
                    &token,
                    "other_attachment",
                    &format!("Phụ lục {i}.pdf"),
                    &[i; 3000],
                )
                .await
            }
        });
        for (s, v) in futures::future::join_all(uploads).await {
            assert_eq!(s, 201, "{v}");
        }
        let (_, d) = call(&c, "GET", format!("{base}/dossiers/{id}"), &p.viewer, None).await;
        assert_eq!(
            d["dossier"]["documents"].as_array().unwrap().len(),
            3 + 8,
            "{d}"
        );
    });
}
