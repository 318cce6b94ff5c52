//! The real `canhgac-server` exchanging spreadsheets: the inventory imported from CSV and XLSX
//! over the API and the command line (all or nothing, skipping bad rows, idempotent), the
//! systems exported as CSV and XLSX and read back with calamine, and the weekly report as
//! JSON, text and XLSX.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, Xlsx};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::serverkit::{Running, add_user, call, client, serve, server, token_for};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Seed 001's list of systems, as an officer saves it from Excel: UTF-8 with a BOM,
/// semicolons, a wrapped cell, the address and hosting written inside the name.
const SEED_CSV: &str = "\u{feff}STT;Tên hệ thống thông tin;Đơn vị vận hành;Cấp độ đề xuất;Hồ sơ và thời gian gửi HSDXCĐ\r\n\
1;Trang thông tin điện tử của Sở Công Thương (http://sct.dongnai.gov.vn/ Server tại Data Center của tỉnh);\"Sở Công\nThương\";2;VB số 2559/SCT-VP ngày 25/5/2021\r\n\
2;Hệ thống cơ sở dữ liệu ngành Công Thương (http://dlct.dongnai.gov.vn/ Server của Doanh nghiệp bên ngoài);Sở Công Thương;3;VB số 2561/SCT-VP ngày 25/5/2021\r\n\
3;Hệ thống thông tin khuyến mại ngành Công Thương trên địa bàn tỉnh (http://dkkm.dongnai.gov.vn Server tại Data Center của tỉnh);Sở Công Thương;3;VB số 2560/SCT-VP ngày 25/5/2021\r\n\
4;Trang thông tin điện tử của Trung tâm XTTM (http://xttmdn.dongnai.gov.vn/ Server Sở KH&CN quản lý);Trung tâm XTTM;2;VB số 2563/SCT-VP ngày 25/5/2021\r\n\
5;Trang thông tin điện tử của Trung tâm khuyến công và tư vấn phát triển công nghiệp (http://khuyencongvatuvancongnghiepdongnai.gov.vn/ Server của Doanh nghiệp bên ngoài);Trung tâm khuyến công và tư vấn phát triển công nghiệp;2;VB số 2579/SCT-VP ngày 25/5/2021\r\n";

/// A store with agencies and one account per role, served.
struct World {
    _dir: TempDir,
    data: PathBuf,
    running: Option<Running>,
    /// Tokens by login: admin, appraiser, approver, viewer, officer (Sở Công Thương),
    /// officer_stp (Sở Tư pháp), agent.
    tokens: Vec<(String, String)>,
    sct: String,
    stp: String,
}

impl World {
    fn base(&self) -> String {
        format!("{}/api/v1", self.running.as_ref().unwrap().base)
    }

    fn token(&self, login: &str) -> &str {
        &self.tokens.iter().find(|(l, _)| l == login).unwrap().1
    }

    fn stop(&mut self) {
        self.running = None;
    }
}

fn world(rt: &tokio::runtime::Runtime) -> World {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    add_user(d, "admin", "administrator", None, Some("mật-khẩu-quản-trị"));
    add_user(d, "agent", "agent", Some("lan"), None);
    let admin = token_for(d, "admin");
    let running = serve(&data);
    let base = format!("{}/api/v1", running.base);
    let (sct, stp) = rt.block_on(async {
        let c = client();
        let agency = |name: &str, code: &str, parent: Option<&Value>| {
            let mut body = json!({"name": name, "short_code": code});
            if let Some(p) = parent {
                body["parent"] = p["id"].clone();
            }
            body
        };
        let post = |body: Value| {
            let (c, base, admin) = (c.clone(), base.clone(), admin.clone());
            async move {
                let (s, v) = call(&c, "POST", format!("{base}/agencies"), &admin, Some(body)).await;
                assert_eq!(s, 201, "{v}");
                v
            }
        };
        let province = post(agency("UBND tỉnh Đồng Nai", "UBND", None)).await;
        let sct = post(agency("Sở Công Thương", "SCT", Some(&province))).await;
        post(agency("Trung tâm XTTM", "XTTM", Some(&sct))).await;
        post(agency(
            "Trung tâm Khuyến công và Tư vấn phát triển Công nghiệp",
            "TTKC",
            Some(&sct),
        ))
        .await;
        let stp = post(agency("Sở Tư pháp", "STP", Some(&province))).await;
        for (login, role, agency) in [
            ("appraiser", "appraiser", None),
            ("approver", "approver", None),
            ("viewer", "viewer", None),
            ("officer", "agency_officer", Some(&sct)),
            ("officer_stp", "agency_officer", Some(&stp)),
        ] {
            let mut body = json!({"login": login, "display_name": login, "role": role, "password": "mật-khẩu-đủ-dài"});
            if let Some(a) = agency {
                body["agency"] = a["id"].clone();
            }
            let (s, v) = call(&c, "POST", format!("{base}/users"), &admin, Some(body)).await;
            assert_eq!(s, 201, "{v}");
        }
        (
            sct["id"].as_str().unwrap().to_string(),
            stp["id"].as_str().unwrap().to_string(),
        )
    });
    drop(running);
    let tokens = [
        "admin",
        "appraiser",
        "approver",
        "viewer",
        "officer",
        "officer_stp",
        "agent",
    ]
    .iter()
    .map(|l| (l.to_string(), token_for(d, l)))
    .collect();
    let running = Some(serve(&data));
    World {
        _dir: dir,
        data,
        running,
        tokens,
        sct,
        stp,
    }
}

/// `POST` a file: the status and the JSON answer.
async fn upload(w: &World, token: &str, query: &str, media: &str, body: Vec<u8>) -> (u16, Value) {
    let r = client()
        .post(format!("{}/import/inventory{query}", w.base()))
        .bearer_auth(token)
        .header("content-type", media)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `GET` a file: status, content type, content disposition, bytes.
async fn download(w: &World, token: &str, path: &str) -> (u16, String, String, Vec<u8>) {
    let r = client()
        .get(format!("{}{path}", w.base()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let (status, media, disposition) = (
        r.status().as_u16(),
        header("content-type"),
        header("content-disposition"),
    );
    (
        status,
        media,
        disposition,
        r.bytes().await.unwrap().to_vec(),
    )
}

async fn systems_total(w: &World) -> u64 {
    let (s, v) = call(
        &client(),
        "GET",
        format!("{}/systems?limit=500", w.base()),
        w.token("admin"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v["total"].as_u64().unwrap()
}

/// The cells of the first worksheet (or the one named), as text.
fn sheet(bytes: &[u8], name: Option<&str>) -> Vec<Vec<String>> {
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    let name = name.map_or_else(|| book.sheet_names()[0].clone(), str::to_string);
    let range = book.worksheet_range(&name).unwrap();
    range
        .rows()
        .map(|row| {
            row.iter()
                .map(|c| match c {
                    Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

/// A CSV of our export (comma-separated, CRLF, quoted only when needed) as cells.
fn csv_cells(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").expect("a BOM")).unwrap();
    let mut rows = vec![vec![String::new()]];
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        let row = rows.last_mut().unwrap();
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                row.last_mut().unwrap().push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => row.push(String::new()),
            '\r' if !quoted => {}
            '\n' if !quoted => rows.push(vec![String::new()]),
            c => row.last_mut().unwrap().push(c),
        }
    }
    rows.retain(|r| r.iter().any(|c| !c.is_empty()));
    rows
}

fn xlsx_inventory() -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let s = book.add_worksheet();
    s.write_string(0, 0, "DANH MỤC HỆ THỐNG THÔNG TIN THUỘC PHẠM VI QUẢN LÝ")
        .unwrap();
    let headers = [
        "STT",
        "Tên hệ thống",
        "Đơn vị vận hành",
        "Cấp độ đề xuất",
        "Văn bản gửi hồ sơ",
        "URL",
        "Nơi đặt máy chủ",
    ];
    for (c, h) in headers.iter().enumerate() {
        s.write_string(2, c as u16, *h).unwrap();
    }
    let rows = [
        (
            "Cổng thông tin điện tử Sở Công Thương",
            "SCT",
            2.0,
            "VB số 2559/SCT-VP ngày 25/5/2021",
            "https://sct.dongnai.gov.vn",
            "Trung tâm dữ liệu tỉnh",
        ),
        (
            "Hệ thống quản lý văn bản và điều hành",
            "Sở Công Thương",
            3.0,
            "",
            "https://dongnai.vnptioffice.vn",
            "Máy chủ doanh nghiệp bên ngoài",
        ),
        (
            "Trang thông tin xúc tiến thương mại",
            "Trung tâm XTTM",
            1.0,
            "",
            "http://xttmdn.dongnai.gov.vn",
            "Sở KH&CN",
        ),
    ];
    for (i, (name, unit, level, letter, url, hosting)) in rows.iter().enumerate() {
        let r = 3 + i as u32;
        s.write_number(r, 0, (i + 1) as f64).unwrap();
        s.write_string(r, 1, *name).unwrap();
        s.write_string(r, 2, *unit).unwrap();
        s.write_number(r, 3, *level).unwrap();
        if !letter.is_empty() {
            s.write_string(r, 4, *letter).unwrap();
        }
        s.write_string(r, 5, *url).unwrap();
        s.write_string(r, 6, *hosting).unwrap();
    }
    book.save_to_buffer().unwrap()
}

#[test]
fn exchange_imports_the_seed_csv_once_however_often_it_is_sent() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let w = world(&rt);
    rt.block_on(async {
        let admin = w.token("admin");
        let (s, r) = upload(&w, admin, "?agency=SCT", "text/csv", SEED_CSV.into()).await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(
            (
                r["created"].as_u64(),
                r["updated"].as_u64(),
                r["unchanged"].as_u64(),
                r["skipped"].as_u64()
            ),
            (Some(5), Some(0), Some(0), Some(0)),
            "{r}"
        );
        assert_eq!(r["dossiers_created"], 5);
        assert_eq!(r["errors"], json!([]));
        assert_eq!(systems_total(&w).await, 5);
        let (_, list) = call(
            &client(),
            "GET",
            format!("{}/systems?q=khuyen%20mai", w.base()),
            admin,
            None,
        )
        .await;
        let promo = &list["items"][0];
        assert_eq!(
            promo["name"],
            "Hệ thống thông tin khuyến mại ngành Công Thương trên địa bàn tỉnh"
        );
        assert_eq!(promo["urls"], json!(["http://dkkm.dongnai.gov.vn"]));
        assert_eq!(promo["hosting"], "Server tại Data Center của tỉnh");
        assert_eq!(promo["proposed_level"], 3);
        assert_eq!(promo["dossier"]["state"], "submitted", "{promo}");
        // The same file again, by an appraiser: nothing created or changed.
        let (s, r) = upload(
            &w,
            w.token("appraiser"),
            "?agency=SCT",
            "text/csv",
            SEED_CSV.into(),
        )
        .await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(
            (
                r["created"].as_u64(),
                r["updated"].as_u64(),
                r["unchanged"].as_u64()
            ),
            (Some(0), Some(0), Some(5)),
            "{r}"
        );
        assert_eq!(r["dossiers_created"], 0);
        assert_eq!(systems_total(&w).await, 5);
        // A dry run of a changed level reports the update and writes nothing.
        let changed = SEED_CSV.replacen(
            ";\"Sở Công\nThương\";2;",
            ";\"Sở Công\nThương\";Cấp độ 3;",
            1,
        );
        let (s, r) = upload(
            &w,
            admin,
            "?agency=SCT&dry_run=true",
            "text/csv",
            changed.clone().into(),
        )
        .await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(
            (
                r["updated"].as_u64(),
                r["unchanged"].as_u64(),
                r["dry_run"].as_bool()
            ),
            (Some(1), Some(4), Some(true)),
            "{r}"
        );
        let (_, r) = upload(
            &w,
            admin,
            "?agency=SCT&dry_run=true",
            "text/csv",
            changed.into(),
        )
        .await;
        assert_eq!(r["updated"], 1, "the dry run wrote nothing: {r}");
        // The department's own officer imports into their agency without naming it.
        let (s, r) = upload(&w, w.token("officer"), "", "text/csv", SEED_CSV.into()).await;
        assert_eq!((s, r["unchanged"].as_u64()), (200, Some(5)), "{r}");
        // Another department's officer may not import into it.
        let (s, r) = upload(
            &w,
            w.token("officer_stp"),
            "?agency=SCT",
            "text/csv",
            SEED_CSV.into(),
        )
        .await;
        assert_eq!(s, 403, "{r}");
        // Into their own agency, units of another department are out of scope: 422.
        let (s, r) = upload(&w, w.token("officer_stp"), "", "text/csv", SEED_CSV.into()).await;
        assert_eq!(s, 422, "{r}");
        assert!(
            r["errors"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["code"] == "out_of_scope"),
            "{r}"
        );
        assert_eq!(r["errors"][0]["row"], 2);
        assert_eq!(r["errors"][0]["column"], "Đơn vị vận hành");
        assert_eq!(systems_total(&w).await, 5);
        // Neither approvers, viewers nor agents import.
        for login in ["approver", "viewer", "agent"] {
            let (s, _) = upload(
                &w,
                w.token(login),
                "?agency=SCT",
                "text/csv",
                SEED_CSV.into(),
            )
            .await;
            assert_eq!(s, 403, "{login}");
        }
    });
}

#[test]
fn exchange_row_errors_import_nothing_unless_bad_rows_are_skipped() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let w = world(&rt);
    let text = "STT,Tên hệ thống,Đơn vị vận hành,Cấp độ đề xuất,Văn bản gửi hồ sơ,URL\n\
1,Cổng dịch vụ công,SCT,cấp 2,VB số 12/SCT-VP ngày 2/3/2024,https://dvc.dongnai.gov.vn\n\
2,Cổng thương mại điện tử,Sở Không Tồn Tại,Cấp độ 6,số 12 ngày 2/3/2024,không phải địa chỉ\n\
3,,SCT,2,,\n\
4,Cổng dịch vụ công,SCT,2,,\n\
5,Hệ thống một cửa,XTTM,3,,http://motcua.dongnai.gov.vn\n";
    rt.block_on(async {
        let admin = w.token("admin");
        let (s, r) = upload(
            &w,
            admin,
            &format!("?agency={}", w.sct),
            "text/csv; charset=utf-8",
            text.into(),
        )
        .await;
        assert_eq!(s, 422, "{r}");
        assert_eq!(
            (
                r["created"].as_u64(),
                r["skipped"].as_u64(),
                r["rejected"].as_bool()
            ),
            (Some(0), Some(5), Some(true))
        );
        let errors: Vec<(u64, &str, &str, &str)> = r["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["row"].as_u64().unwrap(),
                    e["column"].as_str().unwrap(),
                    e["value"].as_str().unwrap(),
                    e["code"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            errors,
            [
                (3, "Đơn vị vận hành", "Sở Không Tồn Tại", "unit_unknown"),
                (3, "Cấp độ đề xuất", "Cấp độ 6", "level_invalid"),
                (
                    3,
                    "Văn bản gửi hồ sơ",
                    "số 12 ngày 2/3/2024",
                    "letter_invalid"
                ),
                (3, "URL", "không phải địa chỉ", "url_invalid"),
                (4, "Tên hệ thống", "", "name_missing"),
                (5, "Tên hệ thống", "Cổng dịch vụ công", "name_duplicate"),
            ]
        );
        let level = &r["errors"][1]["message"];
        assert!(
            level.as_str().unwrap().contains("cấp độ 6 không tồn tại"),
            "{level}"
        );
        assert_eq!(systems_total(&w).await, 0, "nothing imported");
        // Skipping the bad rows: the two good ones go in, the three bad ones are reported.
        let (s, r) = upload(
            &w,
            admin,
            &format!("?agency={}&skip_bad_rows=true", w.sct),
            "text/csv",
            text.into(),
        )
        .await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(
            (
                r["created"].as_u64(),
                r["skipped"].as_u64(),
                r["dossiers_created"].as_u64()
            ),
            (Some(2), Some(3), Some(1))
        );
        assert_eq!(r["errors"].as_array().unwrap().len(), 6);
        assert_eq!(systems_total(&w).await, 2);
        // Whole-file problems are 4xx errors with a code.
        let (s, r) = upload(&w, admin, "?agency=SCT", "text/csv", Vec::new()).await;
        assert_eq!(
            (s, r["error"]["code"].as_str()),
            (400, Some("file_empty")),
            "{r}"
        );
        let (s, r) = upload(&w, admin, "?agency=SCT", "text/csv", b"a;b\n1;2\n".to_vec()).await;
        assert_eq!(
            (s, r["error"]["code"].as_str()),
            (400, Some("header_missing")),
            "{r}"
        );
        let (s, r) = upload(
            &w,
            admin,
            "?agency=SCT",
            "text/csv",
            b"STT;T\xEAn\n".to_vec(),
        )
        .await;
        assert_eq!(
            (s, r["error"]["code"].as_str()),
            (400, Some("file_not_utf8")),
            "{r}"
        );
        let (s, r) = upload(
            &w,
            admin,
            "?agency=SCT",
            XLSX,
            b"PK\x03\x04 not a workbook".to_vec(),
        )
        .await;
        assert_eq!(
            (s, r["error"]["code"].as_str()),
            (400, Some("file_unreadable")),
            "{r}"
        );
        let (s, r) = upload(&w, admin, "?agency=SCT", "application/json", b"{}".to_vec()).await;
        assert_eq!(
            (s, r["error"]["code"].as_str()),
            (415, Some("unsupported_media_type")),
            "{r}"
        );
        let (s, r) = upload(&w, admin, "?agency=KHONG", "text/csv", text.into()).await;
        assert_eq!(
            (s, r["error"]["code"].as_str()),
            (400, Some("agency_unknown")),
            "{r}"
        );
        let (s, _) = upload(
            &w,
            admin,
            "?agency=SCT&dry_run=maybe",
            "text/csv",
            text.into(),
        )
        .await;
        assert_eq!(s, 400);
        let (s, _) = upload(&w, admin, "?agency=SCT&skip=1", "text/csv", text.into()).await;
        assert_eq!(s, 400);
        // Without an owner agency (no column, no parameter): every row says so.
        let (s, r) = upload(&w, admin, "", "text/csv", text.into()).await;
        assert_eq!(s, 422);
        assert!(
            r["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["code"] == "owner_missing"),
            "{r}"
        );
        assert_eq!(systems_total(&w).await, 2);
    });
}

#[test]
fn exchange_xlsx_import_and_exports_read_back_with_calamine() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let w = world(&rt);
    rt.block_on(async {
        let admin = w.token("admin");
        let (s, r) = upload(&w, admin, "?agency=SCT", XLSX, xlsx_inventory()).await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(
            (r["created"].as_u64(), r["dossiers_created"].as_u64()),
            (Some(3), Some(1)),
            "{r}"
        );
        assert_eq!(
            r["rows"][0]["row"], 4,
            "worksheet rows as Excel numbers them"
        );
        // CSV: UTF-8 with a BOM, the seed's columns then ours.
        let (s, media, disposition, csv) = download(&w, admin, "/export/systems?format=csv").await;
        assert_eq!(s, 200);
        assert_eq!(media, "text/csv; charset=utf-8");
        assert!(
            disposition.starts_with("attachment; filename=\"he-thong-thong-tin-")
                && disposition.ends_with(".csv\""),
            "{disposition}"
        );
        let rows = csv_cells(&csv);
        assert_eq!(
            rows[0],
            [
                "STT",
                "Tên hệ thống",
                "Đơn vị vận hành",
                "Cấp độ đề xuất",
                "Văn bản gửi hồ sơ",
                "URL",
                "Nơi đặt máy chủ",
                "Cơ quan chủ quản",
                "Cấp độ phê duyệt",
                "Quyết định phê duyệt",
                "Trạng thái hồ sơ",
                "Xếp loại tuân thủ",
                "Lần quét gần nhất"
            ]
        );
        assert_eq!(rows.len(), 4);
        let portal = rows
            .iter()
            .find(|r| r[1] == "Cổng thông tin điện tử Sở Công Thương")
            .unwrap();
        assert_eq!(
            portal[2..11],
            [
                "Sở Công Thương",
                "2",
                "2559/SCT-VP ngày 25/5/2021",
                "https://sct.dongnai.gov.vn",
                "Trung tâm dữ liệu tỉnh",
                "Sở Công Thương",
                "",
                "",
                "đã nộp"
            ]
        );
        let promo = rows
            .iter()
            .find(|r| r[1] == "Trang thông tin xúc tiến thương mại")
            .unwrap();
        assert_eq!(
            (promo[2].as_str(), promo[3].as_str()),
            ("Trung tâm XTTM", "1")
        );
        // XLSX: the same cells.
        let (s, media, disposition, xlsx) =
            download(&w, admin, "/export/systems?format=xlsx").await;
        assert_eq!(s, 200);
        assert_eq!(media, XLSX);
        assert!(disposition.ends_with(".xlsx\""), "{disposition}");
        assert_eq!(sheet(&xlsx, Some("Hệ thống thông tin")), rows);
        // Both import back unchanged.
        for (media, body) in [("text/csv", csv.clone()), (XLSX, xlsx.clone())] {
            let (s, r) = upload(&w, admin, "", media, body).await;
            assert_eq!(s, 200, "{r}");
            assert_eq!(
                (
                    r["created"].as_u64(),
                    r["updated"].as_u64(),
                    r["unchanged"].as_u64()
                ),
                (Some(0), Some(0), Some(3)),
                "{media}: {r}"
            );
        }
        // The list's filters apply; officers see their own agency only.
        let (_, _, _, level3) = download(&w, admin, "/export/systems?level=3&format=csv").await;
        let level3 = csv_cells(&level3);
        assert_eq!(level3.len(), 2);
        assert_eq!(level3[1][1], "Hệ thống quản lý văn bản và điều hành");
        let (_, _, _, none) = download(&w, admin, "/export/systems?dossier_state=none").await;
        assert_eq!(csv_cells(&none).len(), 3);
        let (_, _, _, officer) = download(&w, w.token("officer"), "/export/systems").await;
        assert_eq!(csv_cells(&officer).len(), 4);
        let (_, _, _, other) =
            download(&w, w.token("officer_stp"), "/export/systems?format=xlsx").await;
        assert_eq!(sheet(&other, None).len(), 1, "only the header");
        let (s, _, _, _) = download(&w, w.token("officer_stp"), "/export/systems?agency=SCT").await;
        assert_eq!(s, 403);
        let (_, _, _, by_agency) =
            download(&w, admin, &format!("/export/systems?agency={}", w.stp)).await;
        assert_eq!(csv_cells(&by_agency).len(), 1);
        for bad in ["format=pdf", "level=9", "sort=name", "status=old"] {
            let (s, _, _, _) = download(&w, admin, &format!("/export/systems?{bad}")).await;
            assert_eq!(s, 400, "{bad}");
        }
        let (s, _, _, _) = download(&w, w.token("agent"), "/export/systems").await;
        assert_eq!(s, 403);
    });
}

fn today_vn() -> jiff::civil::Date {
    jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::fixed(jiff::tz::offset(7)))
        .date()
}

#[test]
fn exchange_weekly_report_as_json_text_and_xlsx() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let w = world(&rt);
    let today = today_vn();
    let dmy = format!("{}/{}/{}", today.day(), today.month(), today.year());
    rt.block_on(async {
        let admin = w.token("admin");
        let (s, r) = upload(&w, admin, "?agency=SCT", "text/csv", SEED_CSV.into()).await;
        assert_eq!(s, 200, "{r}");
        // The appraiser asks the department to supplement one dossier.
        let c = client();
        let (_, list) = call(&c, "GET", format!("{}/dossiers?letter=2561/SCT-VP", w.base()), admin, None).await;
        let id = list["items"][0]["id"].as_str().unwrap_or_else(|| panic!("{list}")).to_string();
        let appraiser = w.token("appraiser");
        for action in [json!({"action": "start_appraisal"}), json!({"action": "request_supplement", "missing_items": ["Báo cáo thuyết minh đề xuất cấp độ"]})] {
            let (s, v) = call(&c, "POST", format!("{}/dossiers/{id}/actions", w.base()), appraiser, Some(action)).await;
            assert_eq!(s, 200, "{v}");
        }
        let (s, f) = call(&c, "GET", format!("{}/reports/weekly?week_end={dmy}", w.base()), w.token("viewer"), None).await;
        assert_eq!(s, 200, "{f}");
        assert_eq!(f["week_end"], today.to_string());
        assert_eq!(
            (f["units"].as_u64(), f["dossiers"].as_u64(), f["approved"].as_u64(), f["awaiting_approval"].as_u64(), f["needs_supplement"].as_u64(), f["overdue"].as_u64()),
            (Some(3), Some(5), Some(0), Some(4), Some(1), Some(4)),
            "{f}"
        );
        assert_eq!(f["needs_supplement_by_agency"][0]["agency"], "Sở Công Thương");
        assert_eq!(f["change"]["needs_supplement"], 1, "{f}");
        assert_eq!(f["change"]["awaiting_approval"], -1, "{f}");
        assert_eq!(f["scope"], "province");
        assert!(f["text"].as_str().unwrap().starts_with(&format!("Đến hết ngày {dmy}, 03 đơn vị đã gửi 05 hồ sơ")), "{f}");
        // ISO dates too; text for the letter.
        let (s, media, _, text) = download(&w, admin, &format!("/reports/weekly?week_end={today}&format=text")).await;
        assert_eq!((s, media.as_str()), (200, "text/plain; charset=utf-8"));
        assert!(String::from_utf8(text).unwrap().contains("05 hồ sơ"));
        // The workbook shows the figures.
        let (s, media, disposition, xlsx) = download(&w, admin, &format!("/reports/weekly?week_end={dmy}&format=xlsx")).await;
        assert_eq!((s, media.as_str()), (200, XLSX));
        assert_eq!(disposition, format!("attachment; filename=\"bao-cao-tuan-{today}.xlsx\""));
        let figures = sheet(&xlsx, Some("Báo cáo tuần"));
        let row = |label: &str| figures.iter().find(|r| r.get(1).is_some_and(|c| c == label)).unwrap_or_else(|| panic!("{label}: {figures:?}")).clone();
        assert_eq!(row("Số hồ sơ đã tiếp nhận")[2..5], ["5", "5", "0"]);
        assert_eq!(row("Cần bổ sung, hoàn thiện")[2..5], ["1", "0", "1"]);
        assert_eq!(row("Trong đó quá thời hạn xử lý")[2], "4");
        let supplement = sheet(&xlsx, Some("Cần bổ sung"));
        assert!(supplement.iter().any(|r| r[1] == "Sở Công Thương" && r[2] == "1"), "{supplement:?}");
        // An agency officer gets their own agency's figures; another department's sees none.
        let (_, own) = call(&c, "GET", format!("{}/reports/weekly?week_end={dmy}", w.base()), w.token("officer"), None).await;
        assert_eq!((own["dossiers"].as_u64(), own["scope"].as_str()), (Some(5), Some(w.sct.as_str())), "{own}");
        assert_eq!(own["scope_name"], "Sở Công Thương");
        let (_, other) = call(&c, "GET", format!("{}/reports/weekly?week_end={dmy}", w.base()), w.token("officer_stp"), None).await;
        assert_eq!(other["dossiers"], 0, "{other}");
        // A week before the letters: nothing received yet.
        let (_, old) = call(&c, "GET", format!("{}/reports/weekly?week_end=20/5/2021", w.base()), admin, None).await;
        assert_eq!((old["dossiers"].as_u64(), old["change"].is_null()), (Some(0), true), "{old}");
        for bad in ["week_end=31/2/2024", "format=pdf", "week=1"] {
            let (s, v) = call(&c, "GET", format!("{}/reports/weekly?{bad}", w.base()), admin, None).await;
            assert_eq!(s, 400, "{bad}: {v}");
        }
        let (s, _) = call(&c, "GET", format!("{}/reports/weekly", w.base()), w.token("agent"), None).await;
        assert_eq!(s, 403);
    });
}

fn cli(data: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--data", data.to_str().unwrap()]);
    server(&all, None)
}

#[test]
fn exchange_command_line_imports_exports_and_writes_the_weekly_workbook() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut w = world(&rt);
    w.stop();
    let dir = w._dir.path().to_path_buf();
    let seed = dir.join("danh-muc.csv");
    std::fs::write(&seed, SEED_CSV).unwrap();
    // A dry run, then the import, then again: 5 created once.
    let (code, out, err) = cli(
        &w.data,
        &[
            "import",
            "inventory",
            seed.to_str().unwrap(),
            "--agency",
            "SCT",
            "--dry-run",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let dry: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (dry["created"].as_u64(), dry["dry_run"].as_bool()),
        (Some(5), Some(true))
    );
    let (code, out, err) = cli(
        &w.data,
        &[
            "import",
            "inventory",
            seed.to_str().unwrap(),
            "--agency",
            "SCT",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (
            report["created"].as_u64(),
            report["dossiers_created"].as_u64()
        ),
        (Some(5), Some(5)),
        "{report}"
    );
    let (code, out, err) = cli(
        &w.data,
        &[
            "import",
            "inventory",
            seed.to_str().unwrap(),
            "--agency",
            "Sở Công Thương",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("tạo mới 0, cập nhật 0, không đổi 5"), "{out}");
    // Bad rows: exit 1, the errors on standard error, nothing written.
    let bad = dir.join("loi.csv");
    std::fs::write(&bad, "Tên hệ thống;Cấp độ đề xuất\nCổng mới;cấp 9\n").unwrap();
    let (code, _, err) = cli(
        &w.data,
        &[
            "import",
            "inventory",
            bad.to_str().unwrap(),
            "--agency",
            "SCT",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("dòng 2") && err.contains("[level_invalid]"),
        "{err}"
    );
    // Export as XLSX to a file and as CSV to standard output.
    let book = dir.join("he-thong.xlsx");
    let (code, _, err) = cli(
        &w.data,
        &[
            "export",
            "systems",
            "--format",
            "xlsx",
            "--output",
            book.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let rows = sheet(&std::fs::read(&book).unwrap(), None);
    assert_eq!(rows.len(), 6);
    assert!(
        rows.iter()
            .any(|r| r[1] == "Trang thông tin điện tử của Trung tâm XTTM"
                && r[2] == "Trung tâm XTTM"
                && r[4] == "2563/SCT-VP ngày 25/5/2021"),
        "{rows:?}"
    );
    let (code, out, err) = cli(&w.data, &["export", "systems", "--filter", "level=3"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(csv_cells(out.as_bytes()).len(), 3);
    // The weekly report: text as before, and the workbook.
    let weekly = dir.join("tuan.xlsx");
    let (code, out, err) = cli(
        &w.data,
        &[
            "report",
            "weekly",
            "--week-end",
            "30/8/2024",
            "--xlsx",
            weekly.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("Đến hết ngày 30/8/2024, 03 đơn vị đã gửi 05 hồ sơ"),
        "{out}"
    );
    let figures = sheet(&std::fs::read(&weekly).unwrap(), Some("Báo cáo tuần"));
    let received = figures
        .iter()
        .find(|r| r[1] == "Số hồ sơ đã tiếp nhận")
        .unwrap();
    assert_eq!(received[2], "5");
    let overdue = figures
        .iter()
        .find(|r| r[1] == "Trong đó quá thời hạn xử lý")
        .unwrap();
    assert_eq!(overdue[2], "5");
}
