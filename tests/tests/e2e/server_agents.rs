//! The real `canhgac-server` binary with plain HTTP calls acting as an agent: enrollment
//! tokens, enrolling, check-in (targets from the agency subtree, schedule, scan now), scoped
//! uploads, revocation, expiry, silent agents, officers' scope, throttling and the CLI.

use serde_json::{Value, json};

use crate::serverkit::{add_user, call, client, serve, serve_env, server, token_for};

fn report(n: u32, host: &str, port: u16, started_at: &str) -> Value {
    json!({"schema_version": 1, "id": format!("0193{n:04x}-5b7a-7cc0-9a8e-3a5c1f1d2e3f"),
        "agent": {"name": "a", "version": "0"}, "started_at": started_at, "duration_ms": 1,
        "target": {"input": host, "host": host, "port": port, "address": null}, "tls": null})
}

fn health() -> Value {
    json!({"version": "0.1.0", "last_scan_at": null, "spool_depth": 0, "spool_bytes": 0,
        "spool_capacity_bytes": 536870912u64, "oldest_spooled_at": null, "rejected": 0})
}

async fn post_public(c: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let r = c.post(url).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json::<Value>().await.unwrap_or(Value::Null))
}

async fn checkin(c: &reqwest::Client, base: &str, cred: &str) -> (u16, Value) {
    call(
        c,
        "POST",
        format!("{base}/agent/checkin"),
        cred,
        Some(health()),
    )
    .await
}

fn targets(checkin: &Value) -> Vec<String> {
    checkin["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn server_agents_enroll_check_in_upload_scan_now_and_revoke() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    assert_eq!(
        add_user(d, "admin", "administrator", None, Some("mật-khẩu-quản-trị")).0,
        0
    );
    let admin = token_for(d, "admin");
    let running = serve(&data);
    let base = format!("{}/api/v1", running.base);
    let started = jiff::Timestamp::now();

    let (agent2_cred, spare_enrollment) = rt.block_on(async {
        let c = client();
        let agency = |name: &str, code: &str, parent: Option<&Value>| {
            let mut body = json!({"name": name, "short_code": code});
            if let Some(p) = parent {
                body["parent"] = p.clone();
            }
            call(&c, "POST", format!("{base}/agencies"), &admin, Some(body))
        };
        let sct = agency("Sở Công Thương", "SCT", None).await.1["id"].clone();
        let ttcntt = agency("Trung tâm CNTT Công Thương", "TTCNTT-SCT", Some(&sct)).await.1["id"].clone();
        let stp = agency("Sở Tư pháp", "STP", None).await.1["id"].clone();
        let system = |name: &str, owner: &Value, url: &str| {
            call(&c, "POST", format!("{base}/systems"), &admin, Some(json!({
                "name": name, "owner_agency": owner, "operating_unit": owner, "urls": [url], "proposed_level": 2})))
        };
        let (s, sys_a) = system("Cổng thông tin Sở Công Thương", &sct, "https://sct.example.gov.vn/").await;
        assert_eq!(s, 201, "{sys_a}");
        let sys_a = sys_a["id"].as_str().unwrap().to_string();
        system("Dịch vụ công ngành Công Thương", &ttcntt, "http://dvc.example.gov.vn:8080/").await;
        let (_, old) = system("Trang cũ", &sct, "https://old.example.gov.vn/").await;
        let (s, v) = call(&c, "PATCH", format!("{base}/systems/{}", old["id"].as_str().unwrap()), &admin, Some(json!({"status": "retired"}))).await;
        assert_eq!(s, 200, "{v}");
        system("Cổng thông tin Sở Tư pháp", &stp, "https://stp.example.gov.vn/").await;
        let mut officers = Vec::new();
        for (login, a) in [("canbo-sct", &sct), ("canbo-stp", &stp)] {
            let (s, v) = call(&c, "POST", format!("{base}/users"), &admin, Some(json!({
                "login": login, "display_name": login, "role": "agency_officer", "agency": a, "password": "mật-khẩu-đủ-dài"}))).await;
            assert_eq!(s, 201, "{v}");
            let (s, t) = call(&c, "POST", format!("{base}/tokens"), &admin, Some(json!({"login": login, "name": "e2e"}))).await;
            assert_eq!(s, 201, "{t}");
            officers.push(t["token"].as_str().unwrap().to_string());
        }
        let (officer_sct, officer_stp) = (&officers[0], &officers[1]);

        // An enrollment token for the SCT network: the secret is shown once.
        let (s, bad) = call(&c, "POST", format!("{base}/enrollments"), &admin, Some(json!({"agency": sct, "network": "LAN", "expires_in_hours": 500}))).await;
        assert_eq!((s, bad["error"]["code"].as_str()), (400, Some("invalid")), "{bad}");
        let (s, v) = call(&c, "POST", format!("{base}/enrollments"), officer_sct, Some(json!({"agency": sct, "network": "LAN"}))).await;
        assert_eq!(s, 403, "{v}");
        let (s, e) = call(&c, "POST", format!("{base}/enrollments"), &admin, Some(json!({
            "agency": sct, "network": "LAN Sở Công Thương", "expires_in_hours": 24,
            "schedule": {"checkin_seconds": 30, "window": {"start": "22:00", "end": "05:00"}}}))).await;
        assert_eq!(s, 201, "{e}");
        let secret = e["token"].as_str().unwrap().to_string();
        assert!(secret.starts_with("cge_") && secret.len() == 47, "{secret}");
        let (s, list) = call(&c, "GET", format!("{base}/enrollments"), &admin, None).await;
        assert_eq!(s, 200);
        assert_eq!((list[0]["used"].as_bool(), list[0]["expired"].as_bool()), (Some(false), Some(false)), "{list}");
        assert!(!list.to_string().contains(&secret[4..]), "never the secret again");

        // Enrolling needs no credentials; the token works once.
        let enroll = |token: &str, name: &str| {
            post_public(&c, format!("{base}/agents/enroll"), json!({"token": token, "name": name, "hostname": "may-quet-01", "version": "0.1.0"}))
        };
        let (s, enrolled) = enroll(&secret, "agent-sct-01").await;
        assert_eq!(s, 201, "{enrolled}");
        let cred = enrolled["credential"].as_str().unwrap().to_string();
        let agent_id = enrolled["agent_id"].as_str().unwrap().to_string();
        assert!(cred.starts_with("cgk_"));
        assert!(enrolled["login"].as_str().unwrap().starts_with("agent-"));
        assert_eq!(enrolled["agency"], sct);
        assert_eq!(enrolled["network"], "LAN Sở Công Thương");
        for (token, why) in [(secret.as_str(), "reused"), ("cge_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "unknown"), ("", "empty")] {
            let (s, v) = enroll(token, "again").await;
            assert_eq!((s, v["error"]["code"].as_str()), (401, Some("enrollment_invalid")), "{why}: {v}");
        }
        let (s, v) = post_public(&c, format!("{base}/agents/enroll"), json!({"token": secret, "name": "x"})).await;
        assert_eq!((s, v["error"]["code"].as_str()), (422, Some("bad_json")), "missing fields: {v}");
        let (_, list) = call(&c, "GET", format!("{base}/enrollments"), &admin, None).await;
        assert_eq!((list[0]["used"].as_bool(), list[0]["agent"].as_str()), (Some(true), Some(agent_id.as_str())), "{list}");

        // Check-in: the targets of the SCT subtree's systems in use, and the schedule.
        let (s, ci) = checkin(&c, &base, &cred).await;
        assert_eq!(s, 200, "{ci}");
        assert_eq!(ci["agent_id"], agent_id.as_str());
        assert_eq!(targets(&ci), ["dvc.example.gov.vn:8080", "sct.example.gov.vn:443"], "{ci}");
        assert_eq!(ci["targets"][0]["url"], "http://dvc.example.gov.vn:8080/");
        assert_eq!(ci["targets"][1]["systems"][0], sys_a.as_str());
        assert_eq!((ci["schedule"]["checkin_seconds"].as_u64(), ci["schedule"]["interval_seconds"].as_u64()), (Some(30), Some(21600)));
        assert_eq!(ci["schedule"]["window"]["start"], "22:00");
        assert_eq!(ci["scan_now"], json!([]));
        assert!(ci["server_time"].is_string());
        let mut extra = health();
        extra["mood"] = json!("vui");
        let (s, v) = call(&c, "POST", format!("{base}/agent/checkin"), &cred, Some(extra)).await;
        assert_eq!((s, v["error"]["code"].as_str()), (422, Some("bad_json")), "unknown health fields are refused: {v}");
        let (s, v) = call(&c, "POST", format!("{base}/agent/checkin"), &admin, Some(health())).await;
        assert_eq!(s, 403, "{v}");

        // Uploads: only for assigned targets.
        let t0 = "2026-11-23T00:00:00Z";
        let (s, v) = call(&c, "POST", format!("{base}/reports"), &cred, Some(report(1, "sct.example.gov.vn", 443, t0))).await;
        assert_eq!(s, 201, "{v}");
        let (s, v) = call(&c, "POST", format!("{base}/reports"), &cred, Some(report(1, "sct.example.gov.vn", 443, t0))).await;
        assert_eq!(s, 200, "a resend is a duplicate: {v}");
        for (n, host, port) in [(2, "stp.example.gov.vn", 443), (3, "old.example.gov.vn", 443), (4, "sct.example.gov.vn", 8443), (5, "dvc.example.gov.vn", 443)] {
            let (s, v) = call(&c, "POST", format!("{base}/reports"), &cred, Some(report(n, host, port, t0))).await;
            assert_eq!((s, v["error"]["code"].as_str()), (403, Some("not_assigned")), "{host}:{port}: {v}");
        }
        let (s, v) = call(&c, "POST", format!("{base}/reports"), &admin, Some(report(6, "stp.example.gov.vn", 443, t0))).await;
        assert_eq!(s, 201, "administrators upload anything: {v}");

        // Scan now: officers in scope and staff; the agent sees it at its next check-in.
        let (s, v) = call(&c, "POST", format!("{base}/systems/{sys_a}/scan"), officer_stp, None).await;
        assert_eq!(s, 404, "outside the officer's scope: {v}");
        let (s, v) = call(&c, "POST", format!("{base}/systems/{sys_a}/scan"), &cred, None).await;
        assert_eq!(s, 403, "{v}");
        let (s, v) = call(&c, "POST", format!("{base}/systems/{sys_a}/scan"), officer_sct, None).await;
        assert_eq!(s, 202, "{v}");
        assert_eq!(v, json!({"agents": [agent_id], "targets": ["sct.example.gov.vn:443"]}));
        let (_, ci) = checkin(&c, &base, &cred).await;
        assert_eq!(ci["scan_now"], json!(["sct.example.gov.vn:443"]), "{ci}");
        // A report of a scan started before the request does not count; a newer one does.
        let (s, _) = call(&c, "POST", format!("{base}/reports"), &cred, Some(report(7, "sct.example.gov.vn", 443, t0))).await;
        assert_eq!(s, 201);
        let (_, ci) = checkin(&c, &base, &cred).await;
        assert_eq!(ci["scan_now"], json!(["sct.example.gov.vn:443"]), "{ci}");
        let now = jiff::Timestamp::now().to_string();
        let (s, _) = call(&c, "POST", format!("{base}/reports"), &cred, Some(report(8, "sct.example.gov.vn", 443, &now))).await;
        assert_eq!(s, 201);
        let (_, ci) = checkin(&c, &base, &cred).await;
        assert_eq!(ci["scan_now"], json!([]), "{ci}");

        // Lists: staff see all, officers their subtree.
        let (s, all) = call(&c, "GET", format!("{base}/agents"), &admin, None).await;
        assert_eq!(s, 200);
        assert_eq!(all.as_array().unwrap().len(), 1, "{all}");
        let a = &all[0];
        assert_eq!((a["silent"].as_bool(), a["revoked"].as_bool(), a["targets"].as_u64()), (Some(false), Some(false), Some(2)), "{a}");
        assert_eq!(a["health"]["spool_capacity_bytes"], 536870912u64);
        assert_eq!(a["name"], "agent-sct-01");
        assert_eq!(call(&c, "GET", format!("{base}/agents"), officer_sct, None).await.1.as_array().unwrap().len(), 1);
        assert_eq!(call(&c, "GET", format!("{base}/agents"), officer_stp, None).await.1, json!([]));
        let (s, one) = call(&c, "GET", format!("{base}/agents/{agent_id}"), officer_sct, None).await;
        assert_eq!(s, 200);
        assert_eq!(one["target_list"].as_array().unwrap().len(), 2, "{one}");
        assert_eq!(call(&c, "GET", format!("{base}/agents/{agent_id}"), officer_stp, None).await.0, 404);
        assert_eq!(call(&c, "GET", format!("{base}/agents/not-an-id"), &admin, None).await.0, 404);

        // The schedule is changed by administrators, checked, and reaches the agent.
        let (s, v) = call(&c, "PATCH", format!("{base}/agents/{agent_id}"), &admin, Some(json!({"schedule": {"interval_seconds": 10}}))).await;
        assert_eq!(s, 400, "{v}");
        let (s, v) = call(&c, "PATCH", format!("{base}/agents/{agent_id}"), officer_sct, Some(json!({"name": "x"}))).await;
        assert_eq!(s, 403, "{v}");
        let (s, v) = call(&c, "PATCH", format!("{base}/agents/{agent_id}"), &admin, Some(json!({"schedule": {"interval_seconds": 3600, "window": null}}))).await;
        assert_eq!(s, 200, "{v}");
        let (_, ci) = checkin(&c, &base, &cred).await;
        assert_eq!((ci["schedule"]["interval_seconds"].as_u64(), &ci["schedule"]["window"]), (Some(3600), &Value::Null), "{ci}");

        // A second agent, through the CLI on the running server.
        let (code, out, err) = server(&["agent", "enrollment", "--data", d, "--agency", "sct", "--network", "LAN 2", "--expires-in-hours", "2"], None);
        assert_eq!(code, 0, "{err}");
        assert!(err.contains("through the running server"), "{err}");
        let (s, second) = enroll(out.trim(), "agent-sct-02").await;
        assert_eq!(s, 201, "{second}");
        let agent2 = second["credential"].as_str().unwrap().to_string();
        // And one enrollment left unused, to expire.
        let (_, spare) = call(&c, "POST", format!("{base}/enrollments"), &admin, Some(json!({"agency": stp, "network": "LAN STP", "expires_in_hours": 1}))).await;

        // Revoked: the agent's credential is refused everywhere.
        assert_eq!(call(&c, "DELETE", format!("{base}/agents/{agent_id}"), officer_sct, None).await.0, 403);
        assert_eq!(call(&c, "DELETE", format!("{base}/agents/{agent_id}"), &admin, None).await.0, 204);
        assert_eq!(checkin(&c, &base, &cred).await.0, 401);
        let (s, _) = call(&c, "POST", format!("{base}/reports"), &cred, Some(report(9, "sct.example.gov.vn", 443, &now))).await;
        assert_eq!(s, 401);
        let (_, one) = call(&c, "GET", format!("{base}/agents/{agent_id}"), &admin, None).await;
        assert_eq!(one["revoked"], true);
        assert_eq!(call(&c, "POST", format!("{base}/systems/{sys_a}/scan"), &admin, None).await.1["agents"].as_array().unwrap().len(), 1, "only the second agent");
        (agent2, spare["token"].as_str().unwrap().to_string())
    });
    drop(running);

    // The CLI on the stopped store.
    let (code, out, err) = server(&["agent", "list", "--data", d, "--json"], None);
    assert_eq!(code, 0, "{err}");
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    let (code, out, err) = server(&["agent", "list", "--data", d], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("agent-sct-02") && out.contains("revoked"),
        "{out}"
    );
    let (code, _, err) = server(
        &[
            "agent",
            "enrollment",
            "--data",
            d,
            "--agency",
            "NOPE",
            "--network",
            "x",
        ],
        None,
    );
    assert_eq!(code, 1);
    assert!(err.contains("no agency"), "{err}");

    // Two hours later: the unused enrollment expired, the second agent is silent until it
    // checks in.
    let later = started
        .checked_add(jiff::SignedDuration::from_hours(2))
        .unwrap()
        .to_string();
    let running = serve_env(&data, &[("CANHGAC_FAKE_NOW", later.as_str())]);
    let base = format!("{}/api/v1", running.base);
    rt.block_on(async {
        let c = client();
        let (s, v) = post_public(
            &c,
            format!("{base}/agents/enroll"),
            json!({"token": spare_enrollment, "name": "x", "hostname": "h", "version": "0"}),
        )
        .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (401, Some("enrollment_invalid")),
            "expired: {v}"
        );
        let (_, list) = call(&c, "GET", format!("{base}/enrollments"), &admin, None).await;
        let spare = list
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["network"] == "LAN STP")
            .unwrap();
        assert_eq!(spare["expired"], true, "{list}");
        let second = |all: &Value| {
            all.as_array()
                .unwrap()
                .iter()
                .find(|a| a["name"] == "agent-sct-02")
                .unwrap()
                .clone()
        };
        let (_, all) = call(&c, "GET", format!("{base}/agents"), &admin, None).await;
        assert_eq!(second(&all)["silent"], true, "{all}");
        let revoked = all
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["revoked"] == true)
            .unwrap();
        assert_eq!(
            revoked["silent"], false,
            "revoked agents are not flagged silent"
        );
        let (s, v) = call(
            &c,
            "POST",
            format!("{base}/agent/checkin"),
            &agent2_cred,
            Some(health()),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let (_, all) = call(&c, "GET", format!("{base}/agents"), &admin, None).await;
        assert_eq!(second(&all)["silent"], false, "{all}");

        // Repeated bad enrollment attempts from one address are throttled: 5 failures (the
        // expired token above was the first), then 429; people's sign-ins from the same
        // address are not affected.
        let mut statuses = Vec::new();
        for _ in 0..5 {
            let r = c
                .post(format!("{base}/agents/enroll"))
                .json(&json!({"token": "cge_guess", "name": "x", "hostname": "h", "version": "0"}))
                .send()
                .await
                .unwrap();
            statuses.push((r.status().as_u16(), r.headers().contains_key("retry-after")));
        }
        assert!(
            statuses[..4].iter().all(|s| *s == (401, false)),
            "{statuses:?}"
        );
        assert_eq!(statuses[4], (429, true), "{statuses:?}");
        let r = c
            .post(format!("{base}/session"))
            .json(&json!({"login": "canbo-sct", "password": "mật-khẩu-đủ-dài"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });
}

/// Agent accounts made by hand (`user add --role agent --agency ID`) upload for the systems of
/// their agency's subtree only, and cannot check in.
#[test]
fn server_agents_hand_made_agent_accounts_are_scoped_by_their_agency() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    add_user(d, "admin", "administrator", None, Some("mật-khẩu-quản-trị"));
    add_user(d, "agent-free", "agent", Some("lan"), None);
    let admin = token_for(d, "admin");
    let free = token_for(d, "agent-free");
    let running = serve(&data);
    let base = format!("{}/api/v1", running.base);
    rt.block_on(async {
        let c = client();
        let (_, sct) = call(&c, "POST", format!("{base}/agencies"), &admin, Some(json!({"name": "Sở Công Thương", "short_code": "SCT"}))).await;
        call(&c, "POST", format!("{base}/systems"), &admin, Some(json!({"name": "Cổng", "owner_agency": sct["id"], "operating_unit": sct["id"], "urls": ["https://sct.example.gov.vn"]}))).await;
        let (s, v) = call(&c, "POST", format!("{base}/users"), &admin, Some(json!({"login": "agent-sct", "display_name": "Máy quét", "role": "agent", "agency": sct["id"]}))).await;
        assert_eq!(s, 201, "{v}");
        let (_, t) = call(&c, "POST", format!("{base}/tokens"), &admin, Some(json!({"login": "agent-sct", "name": "e2e"}))).await;
        let scoped = t["token"].as_str().unwrap().to_string();
        let t0 = "2026-11-23T00:00:00Z";
        let (s, v) = call(&c, "POST", format!("{base}/reports"), &scoped, Some(report(1, "sct.example.gov.vn", 443, t0))).await;
        assert_eq!(s, 201, "{v}");
        let (s, v) = call(&c, "POST", format!("{base}/reports"), &scoped, Some(report(2, "other.example.gov.vn", 443, t0))).await;
        assert_eq!((s, v["error"]["code"].as_str()), (403, Some("not_assigned")), "{v}");
        // An agency that is not an agency id: no systems, nothing assigned.
        let (s, v) = call(&c, "POST", format!("{base}/reports"), &free, Some(report(3, "sct.example.gov.vn", 443, t0))).await;
        assert_eq!((s, v["error"]["code"].as_str()), (403, Some("not_assigned")), "{v}");
        let (s, v) = call(&c, "POST", format!("{base}/agent/checkin"), &scoped, Some(health())).await;
        assert_eq!((s, v["error"]["code"].as_str()), (403, Some("not_enrolled")), "{v}");
    });
}
