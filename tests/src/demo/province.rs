//! A sample province built from the seeds' facts, loaded into a running `canhgac-server`
//! through its HTTP API with the right role for every step, so that the audit trail, the
//! uploaded documents and the weekly figures are the server's own.
//!
//! - Seed 001 (Sở Công Thương Đồng Nai, 2021 report): its five systems with their proposed
//!   levels and the letters of their dossiers ("VB số 2559/SCT-VP ngày 25/5/2021", ...), its two
//!   attached centres (Xúc tiến Thương mại; Khuyến công và Tư vấn phát triển Công nghiệp).
//! - Seed 002 (the weekly letter): the Sở Khoa học và Công nghệ and Sở Tư pháp with dossiers
//!   awaiting supplementation, district and commune people's committees.
//!
//! Every sample system names a fixture site by host (see [`super::sites`]); the dossiers cover
//! every workflow state.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::sites::Setup;

/// The password of every demo account (loopback-only demo; printed by the demo).
pub const DEMO_PASSWORD: &str = "dongnai-demo-2026";

/// A sample agency: short code, name, parent short code.
pub struct AgencySpec {
    /// Short code (unique).
    pub code: &'static str,
    /// Name.
    pub name: &'static str,
    /// The parent's short code.
    pub parent: Option<&'static str>,
}

/// The sample contact address of an agency (its clerical office, văn thư): where its alert
/// e-mails go. `example.gov.vn` addresses: the demo's mail relay is a local SMTP sink.
pub fn contact_of(code: &str) -> String {
    format!("vanthu.{}@example.gov.vn", code.to_lowercase())
}

/// The sample agencies, parents first.
pub const AGENCIES: &[AgencySpec] = &[
    AgencySpec {
        code: "UBND-DN",
        name: "Ủy ban nhân dân tỉnh Đồng Nai",
        parent: None,
    },
    AgencySpec {
        code: "STTTT",
        name: "Sở Thông tin và Truyền thông",
        parent: Some("UBND-DN"),
    },
    AgencySpec {
        code: "SCT",
        name: "Sở Công Thương",
        parent: Some("UBND-DN"),
    },
    AgencySpec {
        code: "XTTM",
        name: "Trung tâm Xúc tiến Thương mại",
        parent: Some("SCT"),
    },
    AgencySpec {
        code: "TTKC",
        name: "Trung tâm Khuyến công và Tư vấn phát triển Công nghiệp",
        parent: Some("SCT"),
    },
    AgencySpec {
        code: "SKHCN",
        name: "Sở Khoa học và Công nghệ",
        parent: Some("UBND-DN"),
    },
    AgencySpec {
        code: "STP",
        name: "Sở Tư pháp",
        parent: Some("UBND-DN"),
    },
    AgencySpec {
        code: "UBND-LT",
        name: "UBND huyện Long Thành",
        parent: Some("UBND-DN"),
    },
    AgencySpec {
        code: "UBND-AP",
        name: "UBND xã An Phước",
        parent: Some("UBND-LT"),
    },
];

/// A demo account: login, display name, role, agency short code.
pub struct AccountSpec {
    /// Login.
    pub login: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Role (as the API spells it).
    pub role: &'static str,
    /// The agency (officers).
    pub agency: Option<&'static str>,
}

/// The demo's people (the administrator `admin` is created before the server starts).
pub const ACCOUNTS: &[AccountSpec] = &[
    AccountSpec {
        login: "thamdinh",
        name: "Chuyên viên thẩm định (Sở TT&TT)",
        role: "appraiser",
        agency: None,
    },
    AccountSpec {
        login: "pheduyet",
        name: "Lãnh đạo phê duyệt",
        role: "approver",
        agency: None,
    },
    AccountSpec {
        login: "xem",
        name: "Người xem",
        role: "viewer",
        agency: None,
    },
    AccountSpec {
        login: "canbo.sct",
        name: "Cán bộ CNTT Sở Công Thương",
        role: "agency_officer",
        agency: Some("SCT"),
    },
    AccountSpec {
        login: "canbo.skhcn",
        name: "Cán bộ CNTT Sở Khoa học và Công nghệ",
        role: "agency_officer",
        agency: Some("SKHCN"),
    },
    AccountSpec {
        login: "canbo.stp",
        name: "Cán bộ CNTT Sở Tư pháp",
        role: "agency_officer",
        agency: Some("STP"),
    },
    AccountSpec {
        login: "canbo.longthanh",
        name: "Cán bộ CNTT UBND huyện Long Thành",
        role: "agency_officer",
        agency: Some("UBND-LT"),
    },
];

/// A sample system with its fixture site and the state its dossier is driven to.
pub struct SystemSpec {
    /// Name.
    pub name: &'static str,
    /// Owner agency (short code).
    pub owner: &'static str,
    /// Operating unit (short code).
    pub unit: &'static str,
    /// The fixture site's host name.
    pub host: &'static str,
    /// Where it is hosted (seed 001's wording).
    pub hosting: &'static str,
    /// Proposed level.
    pub level: u8,
    /// The covering letter: number, symbol, date (yyyy-mm-dd).
    pub letter: (u32, &'static str, &'static str),
    /// The officer who drives its dossier.
    pub officer: &'static str,
    /// The state its dossier ends in.
    pub state: &'static str,
    /// How its fixture site is set up.
    pub setup: Setup,
}

/// The sample systems: seed 001's five (levels and letters as written), then five more.
pub const SYSTEMS: &[SystemSpec] = &[
    SystemSpec {
        name: "Trang thông tin điện tử của Sở Công Thương",
        owner: "SCT",
        unit: "SCT",
        host: "congthuong.demo.dongnai.gov.vn",
        hosting: "Server tại Data Center của tỉnh",
        level: 2,
        letter: (2559, "SCT-VP", "2021-05-25"),
        officer: "canbo.sct",
        state: "approved",
        setup: Setup::Good,
    },
    SystemSpec {
        name: "Hệ thống cơ sở dữ liệu ngành Công Thương",
        owner: "SCT",
        unit: "SCT",
        host: "dlct.demo.dongnai.gov.vn",
        hosting: "Server của Doanh nghiệp bên ngoài",
        level: 3,
        letter: (2561, "SCT-VP", "2021-05-25"),
        officer: "canbo.sct",
        state: "under_appraisal",
        setup: Setup::Expired,
    },
    SystemSpec {
        name: "Hệ thống thông tin khuyến mại ngành Công Thương trên địa bàn tỉnh",
        owner: "SCT",
        unit: "SCT",
        host: "dkkm.demo.dongnai.gov.vn",
        hosting: "Server tại Data Center của tỉnh",
        level: 3,
        letter: (2560, "SCT-VP", "2021-05-25"),
        officer: "canbo.sct",
        state: "appraised",
        setup: Setup::SelfSigned,
    },
    SystemSpec {
        name: "Trang thông tin điện tử của Trung tâm Xúc tiến Thương mại",
        owner: "SCT",
        unit: "XTTM",
        host: "xttmdn.demo.dongnai.gov.vn",
        hosting: "Server Sở KH&CN quản lý",
        level: 2,
        letter: (2563, "SCT-VP", "2021-05-25"),
        officer: "canbo.sct",
        state: "resubmitted",
        setup: Setup::NoRedirect,
    },
    SystemSpec {
        name: "Trang thông tin điện tử của Trung tâm Khuyến công và Tư vấn phát triển công nghiệp",
        owner: "SCT",
        unit: "TTKC",
        host: "khuyencong.demo.dongnai.gov.vn",
        hosting: "Server của Doanh nghiệp bên ngoài",
        level: 2,
        letter: (2579, "SCT-VP", "2021-05-25"),
        officer: "canbo.sct",
        state: "submitted",
        setup: Setup::WrongHost,
    },
    SystemSpec {
        name: "Cổng thông tin điện tử Sở Khoa học và Công nghệ",
        owner: "SKHCN",
        unit: "SKHCN",
        host: "skhcn.demo.dongnai.gov.vn",
        hosting: "Trung tâm dữ liệu tỉnh",
        level: 2,
        letter: (1520, "SKHCN-VP", "2024-08-12"),
        officer: "canbo.skhcn",
        state: "needs_supplement",
        setup: Setup::Gambling,
    },
    SystemSpec {
        name: "Trang thông tin điện tử Sở Tư pháp",
        owner: "STP",
        unit: "STP",
        host: "stp.demo.dongnai.gov.vn",
        hosting: "Trung tâm dữ liệu tỉnh",
        level: 2,
        letter: (987, "STP-VP", "2024-08-05"),
        officer: "canbo.stp",
        state: "needs_supplement",
        setup: Setup::NoHeaders,
    },
    SystemSpec {
        name: "Phần mềm quản lý hộ tịch Sở Tư pháp",
        owner: "STP",
        unit: "STP",
        host: "hotich.demo.dongnai.gov.vn",
        hosting: "Trung tâm dữ liệu tỉnh",
        level: 3,
        letter: (988, "STP-VP", "2024-08-05"),
        officer: "canbo.stp",
        state: "rejected",
        setup: Setup::Good,
    },
    SystemSpec {
        name: "Trang thông tin điện tử UBND huyện Long Thành",
        owner: "UBND-LT",
        unit: "UBND-LT",
        host: "longthanh.demo.dongnai.gov.vn",
        hosting: "Trung tâm dữ liệu tỉnh",
        level: 2,
        letter: (2104, "UBND-VP", "2024-08-20"),
        officer: "canbo.longthanh",
        state: "draft",
        setup: Setup::MissingIntermediate,
    },
    SystemSpec {
        name: "Trang thông tin điện tử UBND xã An Phước",
        owner: "UBND-AP",
        unit: "UBND-AP",
        host: "anphuoc.demo.dongnai.gov.vn",
        hosting: "Thuê dịch vụ VNPT",
        level: 1,
        letter: (315, "UBND", "2024-08-22"),
        officer: "canbo.longthanh",
        state: "withdrawn",
        setup: Setup::NoRedirect,
    },
];

/// Every dossier state the sample covers.
pub const STATES: &[&str] = &[
    "draft",
    "submitted",
    "under_appraisal",
    "needs_supplement",
    "resubmitted",
    "appraised",
    "approved",
    "rejected",
    "withdrawn",
];

/// A thin JSON client of a running server's API.
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    /// `http://ADDR/api/v1`.
    pub base: String,
}

impl Api {
    /// A client of the server at `root` (`http://127.0.0.1:PORT`), never through a proxy.
    pub fn new(root: &str) -> Result<Api> {
        Ok(Api {
            client: reqwest::Client::builder().no_proxy().build()?,
            base: format!("{}/api/v1", root.trim_end_matches('/')),
        })
    }

    /// Calls `method path` as `token` with an optional JSON body; the answer's JSON, or an
    /// error with the status and the server's message.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let mut req = self
            .client
            .request(
                reqwest::Method::from_bytes(method.as_bytes())?,
                format!("{}{path}", self.base),
            )
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = r.status();
        let text = r.text().await?;
        if !status.is_success() {
            bail!("{method} {path}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Uploads a dossier document (multipart `kind` + `file`) as `token`.
    pub async fn upload(
        &self,
        dossier: &str,
        token: &str,
        kind: &str,
        file_name: &str,
        bytes: &[u8],
    ) -> Result<Value> {
        let boundary = format!("canhgac-demo-{}", hex_id());
        let mut body = Vec::new();
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n{kind}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/pdf\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let path = format!("/dossiers/{dossier}/documents");
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await?;
        let status = r.status();
        let text = r.text().await?;
        if !status.is_success() {
            bail!("POST {path}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }
}

/// A multipart boundary unlikely to occur in the parts (the clock in nanoseconds).
fn hex_id() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{n:x}")
}

/// A small valid PDF (one page, one line of ASCII text): what an officer would upload.
pub fn sample_pdf(title: &str) -> Vec<u8> {
    // PDF standard fonts have no Vietnamese glyphs: the page text is written without diacritics.
    let ascii: String = title
        .chars()
        .map(|c| {
            if c.is_ascii() && c != '(' && c != ')' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stream = format!("BT /F1 12 Tf 50 780 Td ({ascii}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_string(),
        format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// What was loaded: ids by short code or login, tokens of the demo people.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Agency ids by short code.
    pub agencies: BTreeMap<String, String>,
    /// System ids by fixture host.
    pub systems: BTreeMap<String, String>,
    /// Dossier ids with their final state.
    pub dossiers: Vec<(String, String)>,
    /// API tokens of the demo people by login (the administrator's included).
    pub tokens: BTreeMap<String, String>,
}

/// The four documents a level 1-3 dossier needs, with Vietnamese file names.
const DOCUMENTS: &[(&str, &str)] = &[
    ("overview_report", "Báo cáo tổng quan hệ thống"),
    ("design_document", "Thuyết minh thiết kế"),
    ("level_justification", "Thuyết minh đề xuất cấp độ"),
    ("security_plan", "Phương án bảo đảm an toàn thông tin"),
];

/// Loads the sample province into the server behind `api`, as the administrator whose token is
/// `admin`; `url_of` gives a fixture host's URL; `progress` is told what happens.
pub async fn load(
    api: &Api,
    admin: &str,
    url_of: impl Fn(&str) -> String,
    progress: impl Fn(&str),
) -> Result<Loaded> {
    let mut loaded = Loaded::default();
    loaded.tokens.insert("admin".into(), admin.to_string());
    progress(&format!("{} agencies", AGENCIES.len()));
    for a in AGENCIES {
        let mut body = json!({
            "name": a.name,
            "short_code": a.code,
            "contacts": [contact_of(a.code)],
        });
        if let Some(p) = a.parent {
            body["parent"] = json!(loaded.agencies[p]);
        }
        let v = api.call("POST", "/agencies", admin, Some(body)).await?;
        loaded
            .agencies
            .insert(a.code.into(), v["id"].as_str().context("agency id")?.into());
    }
    progress(&format!("{} accounts", ACCOUNTS.len()));
    for p in ACCOUNTS {
        let mut body = json!({"login": p.login, "display_name": p.name, "role": p.role, "password": DEMO_PASSWORD});
        if let Some(a) = p.agency {
            body["agency"] = json!(loaded.agencies[a]);
        }
        api.call("POST", "/users", admin, Some(body)).await?;
        let t = api
            .call(
                "POST",
                "/tokens",
                admin,
                Some(json!({"login": p.login, "name": "demo"})),
            )
            .await?;
        loaded
            .tokens
            .insert(p.login.into(), t["token"].as_str().context("token")?.into());
    }
    progress(&format!(
        "{} systems and their dossiers (documents, letters, appraisal, approval)",
        SYSTEMS.len()
    ));
    let today = jiff::tz::offset(7)
        .to_datetime(jiff::Timestamp::now())
        .date();
    for s in SYSTEMS {
        let body = json!({
            "name": s.name,
            "owner_agency": loaded.agencies[s.owner],
            "operating_unit": loaded.agencies[s.unit],
            "urls": [url_of(s.host)],
            "hosting": s.hosting,
            "category": "Cổng/Trang thông tin điện tử",
            "proposed_level": s.level,
        });
        let sys = api.call("POST", "/systems", admin, Some(body)).await?;
        let sys_id = sys["id"].as_str().context("system id")?.to_string();
        loaded.systems.insert(s.host.into(), sys_id.clone());
        let officer = loaded.tokens[s.officer].clone();
        let dossier = api
            .call(
                "POST",
                &format!("/systems/{sys_id}/dossiers"),
                &officer,
                Some(json!({"level": s.level})),
            )
            .await?;
        let id = dossier["id"].as_str().context("dossier id")?.to_string();
        drive(api, &loaded, s, &id, today)
            .await
            .with_context(|| format!("driving the dossier of {} to {}", s.name, s.state))?;
        loaded.dossiers.push((id, s.state.to_string()));
    }
    Ok(loaded)
}

/// Drives one dossier from draft to `s.state` with the right people.
async fn drive(
    api: &Api,
    loaded: &Loaded,
    s: &SystemSpec,
    id: &str,
    today: jiff::civil::Date,
) -> Result<()> {
    let officer = &loaded.tokens[s.officer];
    let appraiser = &loaded.tokens["thamdinh"];
    let approver = &loaded.tokens["pheduyet"];
    let act = |token: &str, body: Value| {
        let path = format!("/dossiers/{id}/actions");
        let token = token.to_string();
        async move { api.call("POST", &path, &token, Some(body)).await }
    };
    let docs: &[(&str, &str)] = if s.state == "draft" {
        &DOCUMENTS[..2]
    } else {
        DOCUMENTS
    };
    for (kind, title) in docs {
        let file = format!("{title} - {}.pdf", s.host.split('.').next().unwrap_or(""));
        api.upload(
            id,
            officer,
            kind,
            &file,
            &sample_pdf(&format!("{kind}: {}", s.host)),
        )
        .await?;
    }
    if s.state == "draft" {
        return Ok(());
    }
    let (number, symbol, date) = s.letter;
    act(
        officer,
        json!({"action": "submit", "letter": {"number": number, "symbol": symbol, "date": date}}),
    )
    .await?;
    match s.state {
        "submitted" => return Ok(()),
        "withdrawn" => {
            act(
                officer,
                json!({"action": "withdraw", "reason": "Hệ thống ngừng hoạt động, sáp nhập vào cổng của huyện"}),
            )
            .await?;
            return Ok(());
        }
        _ => {}
    }
    act(appraiser, json!({"action": "start_appraisal"})).await?;
    if s.state == "under_appraisal" {
        return Ok(());
    }
    if matches!(s.state, "needs_supplement" | "resubmitted" | "approved") {
        act(
            appraiser,
            json!({"action": "request_supplement",
                   "letter": {"number": 1834, "symbol": "STTTT-BCVTCNTT", "date": today.to_string()},
                   "missing_items": ["Sơ đồ mạng cập nhật", "Phương án bảo đảm an toàn thông tin theo TCVN 11930:2017"]}),
        )
        .await?;
        if s.state == "needs_supplement" {
            return Ok(());
        }
        api.upload(
            id,
            officer,
            "design_document",
            "Thuyết minh thiết kế (bổ sung sơ đồ mạng).pdf",
            &sample_pdf(&format!("design_document (supplement): {}", s.host)),
        )
        .await?;
        act(
            officer,
            json!({"action": "resubmit", "letter": {"number": number + 1000, "symbol": symbol, "date": today.to_string()}}),
        )
        .await?;
        if s.state == "resubmitted" {
            return Ok(());
        }
        act(appraiser, json!({"action": "start_appraisal"})).await?;
    }
    act(
        appraiser,
        json!({"action": "mark_appraised", "note": format!("Đạt yêu cầu, đề nghị phê duyệt cấp độ {}", s.level)}),
    )
    .await?;
    match s.state {
        "appraised" => {}
        "approved" => {
            act(
                approver,
                json!({"action": "approve", "level": s.level, "decision_number": "2168/QĐ-UBND", "decision_date": today.to_string()}),
            )
            .await?;
        }
        "rejected" => {
            act(
                approver,
                json!({"action": "reject", "reason": "Hệ thống chưa đáp ứng yêu cầu cấp độ 3: chưa có phương án sao lưu dự phòng"}),
            )
            .await?;
        }
        other => bail!("unknown target state {other}"),
    }
    Ok(())
}
