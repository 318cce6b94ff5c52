//! The README's run command, `canhgac-demo`, as a user runs it: on a temporary data directory
//! and a free loopback port it prepares the sample province, the fixture sites and the agent,
//! announces that it is ready, serves the API with agencies, systems and dossiers in every
//! workflow state, grades systems from the agent's reports, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use canhgac_testkit::demo::province::{self, Api, DEMO_PASSWORD};
use serde_json::{Value, json};

use crate::agent::workspace_bin;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn demo_runs_the_whole_system_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo-data");
    let listen = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(workspace_bin("canhgac-demo"))
        .args(["--listen", &listen, "--interval", "5", "--data"])
        .arg(&data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Lines from both streams, as they come.
    let (tx, lines) = mpsc::channel::<String>();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let t = tx.clone();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = t.send(l);
        }
    });
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let root = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(l) => {
                let ready = l.split("ready at ").nth(1).map(|r| {
                    r.split_whitespace()
                        .next()
                        .unwrap()
                        .trim_end_matches('/')
                        .to_string()
                });
                seen.push(l);
                if let Some(r) = ready {
                    break r;
                }
            }
            Err(_) => {
                let _ = child.kill();
                panic!("the demo did not get ready:\n{}", seen.join("\n"));
            }
        }
    };
    assert_eq!(root, format!("http://{listen}"));
    let banner = seen.join("\n");
    assert!(banner.contains(DEMO_PASSWORD), "{banner}");
    for a in province::ACCOUNTS {
        assert!(
            banner.contains(a.login),
            "login {} not printed:\n{banner}",
            a.login
        );
    }
    assert!(banner.contains("/api/v1/reports/weekly"), "{banner}");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let api = Api::new(&root).unwrap();
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        // A printed login works: the appraiser signs in with the printed password, then uses a
        // token issued by the administrator (found through the printed admin token).
        let r = c
            .post(format!("{root}/api/v1/session"))
            .json(&json!({"login": "thamdinh", "password": DEMO_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let admin = banner
            .split("TOKEN=")
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .expect("the administrator's token is printed")
            .to_string();

        let agencies = api.call("GET", "/agencies", &admin, None).await.unwrap();
        let names: Vec<&str> = agencies
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        for a in province::AGENCIES {
            assert!(names.contains(&a.name), "{} missing: {names:?}", a.name);
        }
        let systems = api
            .call("GET", "/systems?limit=500", &admin, None)
            .await
            .unwrap();
        assert_eq!(systems["total"], province::SYSTEMS.len(), "{systems}");
        let sct = systems["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "Trang thông tin điện tử của Sở Công Thương")
            .expect("seed 001's first system");
        assert_eq!(sct["proposed_level"], 2);
        assert_eq!(sct["dossier"]["state"], "approved");
        for state in province::STATES {
            let page = api
                .call("GET", &format!("/dossiers?state={state}"), &admin, None)
                .await
                .unwrap();
            assert!(
                page["total"].as_u64().unwrap() >= 1,
                "no dossier in state {state}: {page}"
            );
        }
        // The seed-001 letter is searchable, and the approved dossier's audit trail is real.
        let found = api
            .call("GET", "/dossiers?letter=2559/SCT-VP", &admin, None)
            .await
            .unwrap();
        assert_eq!(found["total"], 1, "{found}");
        let id = sct["dossier"]["id"].as_str().unwrap();
        let events = api
            .call("GET", &format!("/dossiers/{id}/events"), &admin, None)
            .await
            .unwrap();
        let actions: Vec<&str> = events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions.first(), Some(&"create"));
        assert_eq!(actions.last(), Some(&"approve"));
        assert!(
            actions.contains(&"request_supplement") && actions.contains(&"resubmit"),
            "{actions:?}"
        );
        let weekly = api
            .call("GET", "/reports/weekly?format=json", &admin, None)
            .await
            .unwrap();
        // The weekly letter's figures, from the sample's states: drafts and withdrawn dossiers
        // are not counted; submitted, under appraisal, resubmitted and appraised await approval.
        let count = |states: &[&str]| {
            province::SYSTEMS
                .iter()
                .filter(|s| states.contains(&s.state))
                .count()
        };
        assert_eq!(weekly["approved"], count(&["approved"]), "{weekly}");
        assert_eq!(weekly["rejected"], count(&["rejected"]), "{weekly}");
        assert_eq!(
            weekly["needs_supplement"],
            count(&["needs_supplement"]),
            "{weekly}"
        );
        assert_eq!(
            weekly["awaiting_approval"],
            count(&["submitted", "under_appraisal", "resubmitted", "appraised"]),
            "{weekly}"
        );
        assert_eq!(
            weekly["dossiers"],
            province::SYSTEMS.len() - count(&["draft", "withdrawn"]),
            "{weekly}"
        );

        // The agent's reports grade systems within a bounded time: the good site well, a broken
        // one badly.
        let deadline = Instant::now() + Duration::from_secs(90);
        let graded = loop {
            let page: Value = api
                .call("GET", "/systems?limit=500", &admin, None)
                .await
                .unwrap();
            let graded: Vec<(String, String)> = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|s| {
                    Some((
                        s["urls"][0].as_str()?.to_string(),
                        s["compliance"]["grade"].as_str()?.to_string(),
                    ))
                })
                .collect();
            if graded.len() >= province::SYSTEMS.len() / 2 || Instant::now() > deadline {
                break graded;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        assert!(
            graded.len() >= province::SYSTEMS.len() / 2,
            "only {} systems graded: {graded:?}",
            graded.len()
        );
        let grade_of = |host: &str| {
            graded
                .iter()
                .find(|(u, _)| u.contains(host))
                .map(|(_, g)| g.clone())
        };
        if let (Some(good), Some(expired)) = (grade_of("congthuong.demo"), grade_of("dlct.demo")) {
            assert!(
                good < expired,
                "good site {good}, expired certificate {expired}"
            );
        }
    });

    // SIGTERM: a graceful stop, exit 0.
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(40);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the demo did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    assert!(
        data.join("canhgac.redb").exists(),
        "a given data directory is kept"
    );
}
