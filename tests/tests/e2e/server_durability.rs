//! Durability of the real `canhgac-server` under load: several clients drive dossiers through
//! the workflow and upload their documents over HTTP while the server is killed with SIGKILL
//! at a random moment, restarted on the same data, and checked: every write answered 2xx is
//! there (dossier, audit events, documents downloadable with the right SHA-256), the dossier
//! and its trail agree (no half-written batch), and the store opens cleanly. Several cycles in
//! one test.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{Value, json};

use crate::server_documents::{Province, download, province, sha256, system};
use crate::serverkit::{call, client, serve, server};

/// What the server acknowledged for one dossier.
#[derive(Debug, Default, Clone)]
struct Acked {
    /// Event ids of acknowledged actions and uploads, in order.
    events: Vec<String>,
    /// Acknowledged documents: id -> SHA-256.
    documents: BTreeMap<String, String>,
    /// Whether its submission was acknowledged.
    submitted: bool,
}

#[derive(Debug, Default)]
struct Ledger {
    dossiers: BTreeMap<String, Acked>,
    /// The dossier each client is driving.
    current: BTreeMap<usize, String>,
    writes: usize,
}

const CLIENTS: usize = 4;
const CYCLES: usize = 6;
const REQUIRED: [&str; 4] = [
    "overview_report",
    "design_document",
    "level_justification",
    "security_plan",
];

/// Content shared by some uploads, so deduplicated content is exercised too.
fn shared_content() -> Vec<u8> {
    (0..20_000u32).map(|i| (i * 31 % 253) as u8).collect()
}

fn random_content() -> Vec<u8> {
    let mut rng = rand::rng();
    if rng.random_ratio(1, 4) {
        return shared_content();
    }
    let len = rng.random_range(1..64 * 1024);
    (0..len).map(|_| rng.random()).collect()
}

/// One step of a dossier's life by the right person; `Err` when the server is gone.
async fn step(
    c: &reqwest::Client,
    base: &str,
    p: &Province,
    sys: &str,
    me: usize,
    ledger: &Mutex<Ledger>,
) -> Result<(), ()> {
    let current = ledger.lock().unwrap().current.get(&me).cloned();
    let Some(id) = current else {
        let r = c
            .post(format!("{base}/systems/{sys}/dossiers"))
            .bearer_auth(&p.officer)
            .json(&json!({"level": 2}))
            .send()
            .await
            .map_err(|_| ())?;
        if r.status().as_u16() == 201 {
            let v: Value = r.json().await.map_err(|_| ())?;
            let id = v["id"].as_str().unwrap().to_string();
            let mut l = ledger.lock().unwrap();
            l.dossiers.insert(id.clone(), Acked::default());
            l.current.insert(me, id);
            l.writes += 1;
        }
        return Ok(());
    };
    let r = c
        .get(format!("{base}/dossiers/{id}"))
        .bearer_auth(&p.officer)
        .send()
        .await
        .map_err(|_| ())?;
    let v: Value = r.json().await.map_err(|_| ())?;
    let d = &v["dossier"];
    let state = d["state"].as_str().ok_or(())?;
    let kinds: BTreeSet<&str> = d["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["kind"].as_str().unwrap())
        .collect();
    let open_round_empty = d["rounds"].as_array().unwrap().last().is_some_and(|r| {
        r["answered_at"].is_null() && r["documents"].as_array().unwrap().is_empty()
    });
    let letter = json!({"number": 2559, "symbol": "SCT-VP", "date": "2021-05-25"});
    let upload_kind = match state {
        "draft" => REQUIRED.iter().find(|k| !kinds.contains(**k)).copied(),
        "needs_supplement" if open_round_empty => Some("network_diagram"),
        _ => None,
    };
    if let Some(kind) = upload_kind {
        let content = random_content();
        let sum = sha256(&content);
        let name = format!("{kind} – bản {}.pdf", me);
        let (status, v) = try_upload(c, base, &id, &p.officer, kind, &name, &content).await?;
        if status == 201 {
            assert_eq!(v["document"]["sha256"], sum.as_str());
            let mut l = ledger.lock().unwrap();
            let acked = l.dossiers.get_mut(&id).unwrap();
            acked
                .events
                .push(v["event"]["id"].as_str().unwrap().to_string());
            acked
                .documents
                .insert(v["document"]["id"].as_str().unwrap().to_string(), sum);
            l.writes += 1;
        }
        return Ok(());
    }
    let (token, body) = match state {
        "draft" => (&p.officer, json!({"action": "submit", "letter": letter})),
        "submitted" | "resubmitted" => (&p.appraiser, json!({"action": "start_appraisal"})),
        "under_appraisal" if d["rounds"].as_array().unwrap().is_empty() => (
            &p.appraiser,
            json!({"action": "request_supplement", "missing_items": ["Sơ đồ mạng cập nhật"]}),
        ),
        "under_appraisal" => (
            &p.appraiser,
            json!({"action": "mark_appraised", "note": "Đạt yêu cầu cấp độ 2"}),
        ),
        "needs_supplement" => (&p.officer, json!({"action": "resubmit"})),
        "appraised" => (
            &p.approver,
            json!({"action": "approve", "level": 2, "decision_number": "12/QĐ-UBND", "decision_date": "2026-11-20"}),
        ),
        _ => {
            // Approved: the next dossier.
            ledger.lock().unwrap().current.remove(&me);
            return Ok(());
        }
    };
    let r = c
        .post(format!("{base}/dossiers/{id}/actions"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .map_err(|_| ())?;
    let status = r.status().as_u16();
    let v: Value = r.json().await.map_err(|_| ())?;
    assert!(status == 200 || status == 409, "{body}: {status} {v}");
    if status == 200 {
        let mut l = ledger.lock().unwrap();
        let acked = l.dossiers.get_mut(&id).unwrap();
        acked
            .events
            .push(v["event"]["id"].as_str().unwrap().to_string());
        acked.submitted |= body["action"] == "submit";
        l.writes += 1;
    }
    Ok(())
}

/// [`upload`] that reports a lost connection instead of panicking.
async fn try_upload(
    c: &reqwest::Client,
    base: &str,
    dossier: &str,
    token: &str,
    kind: &str,
    name: &str,
    content: &[u8],
) -> Result<(u16, Value), ()> {
    let (content_type, body) = crate::server_documents::multipart(&[
        ("kind", None, kind.as_bytes()),
        ("file", Some(name), content),
    ]);
    let r = c
        .post(format!("{base}/dossiers/{dossier}/documents"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .map_err(|_| ())?;
    let status = r.status().as_u16();
    let v: Value = r.json().await.map_err(|_| ())?;
    assert!(status == 201 || status == 409, "{status} {v}");
    Ok((status, v))
}

/// Every acknowledged write is there, and each dossier agrees with its trail.
async fn verify(c: &reqwest::Client, base: &str, p: &Province, ledger: &Ledger) -> usize {
    let mut documents = 0;
    for (id, acked) in &ledger.dossiers {
        let (s, v) = call(c, "GET", format!("{base}/dossiers/{id}"), &p.viewer, None).await;
        assert_eq!(s, 200, "acknowledged dossier {id} is gone: {v}");
        let d = &v["dossier"];
        let (s, events) = call(
            c,
            "GET",
            format!("{base}/dossiers/{id}/events"),
            &p.viewer,
            None,
        )
        .await;
        assert_eq!(s, 200);
        let events = events.as_array().unwrap();
        assert_eq!(events[0]["action"], "create", "{id}");
        let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
        let mut at = 0;
        for want in &acked.events {
            let found = ids[at..].iter().position(|e| e == want);
            assert!(
                found.is_some(),
                "acknowledged event {want} of {id} is missing or out of order"
            );
            at += found.unwrap() + 1;
        }
        assert_eq!(
            d["state"],
            events.last().unwrap()["to"],
            "{id}: the dossier and its trail disagree"
        );
        // The documents on the dossier are exactly those of its upload events.
        let mut on_dossier: BTreeMap<String, String> = BTreeMap::new();
        let rounds = d["rounds"].as_array().unwrap();
        for doc in d["documents"].as_array().unwrap().iter().chain(
            rounds
                .iter()
                .flat_map(|r| r["documents"].as_array().unwrap()),
        ) {
            on_dossier.insert(
                doc["id"].as_str().unwrap().to_string(),
                doc["sha256"].as_str().unwrap().to_string(),
            );
        }
        let uploaded: BTreeSet<String> = events
            .iter()
            .filter(|e| e["action"] == "add_document")
            .map(|e| e["documents"][0].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            on_dossier.keys().cloned().collect::<BTreeSet<_>>(),
            uploaded,
            "{id}"
        );
        for (doc, sum) in &acked.documents {
            assert_eq!(
                on_dossier.get(doc),
                Some(sum),
                "acknowledged document {doc} of {id}"
            );
        }
        for (doc, sum) in &on_dossier {
            let (s, headers, bytes) = download(c, base, id, doc, &p.viewer).await;
            assert_eq!(s, 200, "{id}/{doc}: {}", String::from_utf8_lossy(&bytes));
            assert_eq!(&sha256(&bytes), sum, "{id}/{doc}");
            assert_eq!(headers["etag"], format!("\"{sum}\"").as_str());
            documents += 1;
        }
    }
    documents
}

#[test]
fn acknowledged_writes_survive_kill_9_at_random_moments() {
    let started = Instant::now();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = Arc::new(province(&data));
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut sys: Option<String> = None;
    let mut rng = rand::rng();
    for cycle in 0..CYCLES {
        let running = serve(&data);
        let base = format!("{}/api/v1", running.base);
        let checked = rt.block_on(async {
            let c = client();
            let health: Value = c
                .get(format!("{}/healthz", running.base))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(health["status"], "ok");
            let view = ledger.lock().unwrap().clone_view();
            let checked = verify(&c, &base, &p, &view).await;
            if sys.is_none() {
                sys = Some(system(&c, &base, &p, "Hệ thống quản lý văn bản và điều hành").await);
            }
            checked
        });
        let writes_before = ledger.lock().unwrap().writes;
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|me| {
                let (c, base, p, ledger, sys) = (
                    client(),
                    base.clone(),
                    p.clone(),
                    ledger.clone(),
                    sys.clone().unwrap(),
                );
                rt.spawn(
                    async move { while step(&c, &base, &p, &sys, me, &ledger).await.is_ok() {} },
                )
            })
            .collect();
        let run = Duration::from_millis(rng.random_range(300..2000));
        std::thread::sleep(run);
        // kill -9 while the clients are writing.
        drop(running);
        rt.block_on(async {
            for t in tasks {
                tokio::time::timeout(Duration::from_secs(20), t)
                    .await
                    .expect("a client hangs")
                    .unwrap();
            }
        });
        let l = ledger.lock().unwrap();
        eprintln!(
            "cycle {cycle}: {checked} documents checked, killed after {run:?}, {} writes acknowledged this cycle, {} dossiers",
            l.writes - writes_before,
            l.dossiers.len()
        );
        assert!(
            l.writes > writes_before,
            "no write went through in cycle {cycle}"
        );
    }
    // Last restart: everything acknowledged is there; then the store opens for the CLI too.
    let running = serve(&data);
    let base = format!("{}/api/v1", running.base);
    let view = ledger.lock().unwrap().clone_view();
    let checked = rt.block_on(async { verify(&client(), &base, &p, &view).await });
    drop(running);
    let (code, out, err) = server(
        &[
            "report",
            "weekly",
            "--data",
            data.to_str().unwrap(),
            "--json",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let figures: Value = serde_json::from_str(&out).unwrap();
    let submitted = view.dossiers.values().filter(|d| d.submitted).count() as u64;
    assert!(submitted > 0);
    assert!(
        figures["dossiers"].as_u64().unwrap() >= submitted,
        "{figures}"
    );
    eprintln!(
        "{} writes acknowledged, {} dossiers, {checked} documents verified, {:?} in all",
        view.writes,
        view.dossiers.len(),
        started.elapsed()
    );
}

impl Ledger {
    /// A copy to check against while the lock is not held across awaits.
    fn clone_view(&self) -> Ledger {
        Ledger {
            dossiers: self.dossiers.clone(),
            current: self.current.clone(),
            writes: self.writes,
        }
    }
}
