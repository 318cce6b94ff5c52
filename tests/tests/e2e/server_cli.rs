//! `canhgac-server` subcommands while `serve` runs on the same data directory: they go through
//! the running server (its loopback control channel, `DATA/serve.json`) and say so; once the
//! server stops (SIGTERM: graceful, serve.json removed) they work on the store directly; after
//! `kill -9` the stale serve.json does not mislead them.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::serverkit::{Running, add_user, call, client, serve, server, token_for};

const THROUGH: &str = "qua máy chủ đang chạy / through the running server at";
const DIRECT: &str = "trực tiếp trên kho dữ liệu / directly on the store";

fn serve_json(data: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(data.join("serve.json")).ok()?;
    Some(serde_json::from_str(&text).unwrap())
}

/// SIGTERM, then the exit status (the server must stop by itself).
fn terminate(mut running: Running) -> std::process::ExitStatus {
    let pid = running.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = running.child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn server_cli_subcommands_go_through_the_running_server_then_directly() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let (code, err) = add_user(d, "admin", "administrator", None, Some("mật-khẩu-quản-trị"));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(DIRECT), "{err}");
    let admin = token_for(d, "admin");

    let running = serve(&data);
    let pid = running.child.id();
    // The control file: private, this process, a loopback URL, a local token.
    let info = serve_json(&data).expect("serve.json written before serving");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("serve.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(&data).unwrap().permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700, "the data directory is private");
    }
    assert_eq!(info["pid"], pid);
    let url = info["url"].as_str().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_ne!(url, running.base, "a separate control listener");
    let local = info["token"].as_str().unwrap().to_string();
    assert!(local.starts_with("cgl_"), "{local}");
    let through = format!("{THROUGH} {url} (pid {pid})");

    // user add: same output, exit 0, and it says where it went.
    let (code, out, err) = server(
        &[
            "user", "add", "--data", d, "--login", "Viewer1", "--role", "viewer",
        ],
        Some("mật-khẩu-xem-đủ-dài\n"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&through), "{err}");
    assert_eq!(out, format!("added viewer1 (Viewer) to {d}\n"));
    // The same refusals and exit status as on the store.
    let (code, _, err) = server(
        &[
            "user", "add", "--data", d, "--login", "viewer1", "--role", "viewer",
        ],
        Some("mật-khẩu-xem-đủ-dài"),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("exists already"), "{err}");
    let (code, _, err) = server(
        &[
            "user", "add", "--data", d, "--login", "v2", "--role", "viewer",
        ],
        Some("short"),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("at least"), "{err}");

    // token add: a token that works against the server.
    let (code, out, err) = server(&["token", "add", "--data", d, "--login", "viewer1"], None);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&through), "{err}");
    let viewer = out.trim().to_string();
    assert!(viewer.starts_with("cgk_"), "{out}");
    let (code, _, err) = server(&["token", "add", "--data", d, "--login", "nobody"], None);
    assert_eq!(code, 1, "{err}");

    // report weekly, JSON and text.
    let weekly = ["report", "weekly", "--data", d, "--week-end", "28/11/2026"];
    let (code, served_json, err) = server(&[&weekly[..], &["--json"]].concat(), None);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&through), "{err}");
    let figures: Value = serde_json::from_str(&served_json).unwrap();
    assert!(figures.is_object(), "{figures}");
    let (code, served_text, err) = server(&weekly, None);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&through), "{err}");

    // import inventory and export systems.
    let agency = rt.block_on(async {
        let (status, body) = call(
            &client(),
            "POST",
            format!("{}/api/v1/agencies", running.base),
            &admin,
            Some(serde_json::json!({"name": "Sở Tư pháp", "short_code": "STP"})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_string()
    });
    // Through the server an agency is named by its id (the API checks that it exists).
    let agent = [
        "user",
        "add",
        "--data",
        d,
        "--login",
        "agent-stp",
        "--role",
        "agent",
    ];
    let (code, _, err) = server(&[&agent[..], &["--agency", "STP"]].concat(), None);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("must be the id of an existing agency"),
        "{err}"
    );
    let (code, out, err) = server(&[&agent[..], &["--agency", &agency]].concat(), None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("added agent-stp (Agent) to {d}\n"));
    let inventory = dir.path().join("inventory.csv");
    std::fs::write(
        &inventory,
        "Tên hệ thống;Cơ quan chủ quản;Đơn vị vận hành\nCổng tư pháp;STP;Sở Tư pháp\n",
    )
    .unwrap();
    let import = [
        "import",
        "inventory",
        "--data",
        d,
        inventory.to_str().unwrap(),
    ];
    let (code, out, err) = server(&import, None);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&through), "{err}");
    assert!(out.contains("tạo mới 1,"), "{out}");
    let (code, served_import, err) = server(&import, None);
    assert_eq!(code, 0, "{err}");
    assert!(served_import.contains("không đổi 1,"), "{served_import}");
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "Tên hệ thống;Cấp độ đề xuất\nCổng X;9\n").unwrap();
    let (code, out, err) = server(
        &[
            "import",
            "inventory",
            "--data",
            d,
            bad.to_str().unwrap(),
            "--json",
        ],
        None,
    );
    assert_eq!(code, 1, "rejected imports fail the same way: {err}");
    let rejected: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rejected["rejected"], true, "{out}");
    let export = ["export", "systems", "--data", d];
    let (code, served_export, err) = server(&export, None);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&through), "{err}");
    assert!(served_export.contains("Cổng tư pháp"), "{served_export}");
    let workbook = dir.path().join("systems.xlsx");
    let (code, _, err) = server(
        &[
            &export[..],
            &["--format", "xlsx", "--output", workbook.to_str().unwrap()],
        ]
        .concat(),
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("1 hệ thống / systems ->"), "{err}");
    assert!(std::fs::read(&workbook).unwrap().starts_with(b"PK"));

    // backup: a consistent snapshot while serving, to an absolute or a relative path.
    let backup_dir = dir.path().join("restore");
    let dest = backup_dir.join("canhgac.redb");
    let (code, out, err) = server(&["backup", "--data", d, dest.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&through), "{err}");
    assert_eq!(
        out,
        format!("backup of {d} written to {}\n", dest.display())
    );
    let (code, _, err) = server(&["backup", "--data", d, dest.to_str().unwrap()], None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("exists"), "{err}");
    let relative = Command::new(crate::agent::workspace_bin("canhgac-server"))
        .args(["backup", "--data", d, "relative.redb"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(relative.status.success(), "{relative:?}");
    assert!(dir.path().join("relative.redb").is_file());

    rt.block_on(async {
        let c = client();
        // The new viewer's token works on the main listener.
        let (status, body) = call(
            &c,
            "GET",
            format!("{}/api/v1/agencies", running.base),
            &viewer,
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        // The local token is accepted on the control listener only.
        let (status, _) = call(&c, "GET", format!("{url}/api/v1/agencies"), &local, None).await;
        assert_eq!(status, 200);
        let (status, _) = call(
            &c,
            "GET",
            format!("{}/api/v1/agencies", running.base),
            &local,
            None,
        )
        .await;
        assert_eq!(status, 401, "the main listener refuses the local token");
        // Backups: the local token only, absolute new paths only.
        let target = dir.path().join("by-admin.redb");
        for base in [&running.base, &url] {
            let (status, body) = call(
                &c,
                "POST",
                format!("{base}/api/v1/admin/backup"),
                &admin,
                Some(serde_json::json!({"dest": target})),
            )
            .await;
            assert_eq!(status, 403, "{body}");
        }
        assert!(!target.exists());
        let (status, body) = call(
            &c,
            "POST",
            format!("{url}/api/v1/admin/backup"),
            &local,
            Some(serde_json::json!({"dest": "relative/x.redb"})),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], "invalid");
        let (status, body) = call(
            &c,
            "POST",
            format!("{url}/api/v1/admin/backup"),
            &local,
            Some(serde_json::json!({"dest": dest})),
        )
        .await;
        assert_eq!(status, 409, "{body}");
    });

    // The backup is a store: it opens directly (while the server still runs on DATA) and holds
    // the account added through the server.
    let b = backup_dir.to_str().unwrap();
    let (code, _, err) = server(
        &[
            "user", "add", "--data", b, "--login", "viewer1", "--role", "viewer",
        ],
        Some("mật-khẩu-xem-đủ-dài"),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(DIRECT), "{err}");
    assert!(err.contains("the account viewer1 exists already"), "{err}");
    let (code, out, err) = server(
        &[
            "report",
            "weekly",
            "--data",
            b,
            "--week-end",
            "28/11/2026",
            "--json",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, served_json);

    // SIGTERM: a graceful stop that removes serve.json; the local token dies with the process.
    let status = terminate(running);
    assert!(status.success(), "{status:?}");
    assert!(
        serve_json(&data).is_none(),
        "serve.json removed on shutdown"
    );

    // Stopped: the same commands work directly, with the same output.
    let (code, out, err) = server(&[&weekly[..], &["--json"]].concat(), None);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(DIRECT), "{err}");
    assert!(!err.contains(THROUGH), "{err}");
    assert_eq!(
        out, served_json,
        "same output through the server and directly"
    );
    let (code, out, err) = server(&weekly, None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, served_text);
    let (code, out, err) = server(&import, None);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(DIRECT), "{err}");
    assert_eq!(out, served_import);
    let (code, out, err) = server(&export, None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, served_export);
    let (code, out, err) = server(
        &[
            "user", "add", "--data", d, "--login", "viewer2", "--role", "viewer",
        ],
        Some("mật-khẩu-xem-đủ-dài"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(DIRECT), "{err}");
    assert_eq!(out, format!("added viewer2 (Viewer) to {d}\n"));
    let direct_token = token_for(d, "viewer2");
    let (code, _, err) = server(
        &[
            "backup",
            "--data",
            d,
            dir.path().join("stopped.redb").to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(DIRECT), "{err}");

    // A new server: a new local token; the old one is refused.
    let running = serve(&data);
    let info2 = serve_json(&data).unwrap();
    assert_ne!(info2["token"], local.as_str());
    let url2 = info2["url"].as_str().unwrap().to_string();
    rt.block_on(async {
        let c = client();
        let (status, _) = call(&c, "GET", format!("{url2}/api/v1/agencies"), &local, None).await;
        assert_eq!(status, 401, "the previous server's local token is dead");
        let (status, _) = call(
            &c,
            "GET",
            format!("{}/api/v1/agencies", running.base),
            &direct_token,
            None,
        )
        .await;
        assert_eq!(status, 200);
    });

    // kill -9 leaves a stale serve.json: the store is free, so the CLI works directly and
    // removes it.
    drop(running);
    assert!(serve_json(&data).is_some(), "SIGKILL leaves the file");
    let (code, out, err) = server(&[&weekly[..], &["--json"]].concat(), None);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(DIRECT), "{err}");
    assert!(err.contains("stale"), "{err}");
    assert!(!err.contains(THROUGH), "{err}");
    assert_eq!(out, served_json);
    assert!(serve_json(&data).is_none(), "the stale file is removed");
}

#[test]
fn server_cli_a_stale_serve_json_is_not_trusted_while_the_store_is_locked() {
    // The store locked by a server whose serve.json was replaced by one naming a dead process
    // and a closed port: the CLI says the file is stale instead of calling a stranger.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    add_user(d, "admin", "administrator", None, Some("mật-khẩu-quản-trị"));
    let running = serve(&data);
    let mut info = serve_json(&data).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    info["url"] = format!("http://127.0.0.1:{port}").into();
    std::fs::write(data.join("serve.json"), info.to_string()).unwrap();
    let (code, _, err) = server(&["token", "add", "--data", d, "--login", "admin"], None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("stale") && err.contains("in use"), "{err}");
    info["pid"] = (u32::MAX - 1).into();
    std::fs::write(data.join("serve.json"), info.to_string()).unwrap();
    let (code, _, err) = server(&["token", "add", "--data", d, "--login", "admin"], None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is not running"), "{err}");
    std::fs::remove_file(data.join("serve.json")).unwrap();
    let (code, _, err) = server(&["token", "add", "--data", d, "--login", "admin"], None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no running server announced itself"), "{err}");
    drop(running);
}

#[test]
fn server_cli_calendar_lists_a_years_days_off_blocks_and_working_days() {
    let (code, out, err) = server(&["calendar", "2026"], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("17/02/2026 Mùng 1 Tết Bính Ngọ (1/1 âm lịch)"),
        "{out}"
    );
    assert!(out.contains("30/04/2026 Ngày Chiến thắng"), "{out}");
    assert!(out.contains("02/09/2026 Quốc khánh"), "{out}");
    assert!(out.contains("Các kỳ nghỉ năm 2026:"), "{out}");
    let working: u32 = out
        .lines()
        .find_map(|l| l.strip_prefix("Số ngày làm việc năm 2026: "))
        .expect("the working-day count")
        .parse()
        .unwrap();

    // The same as JSON, for machines: the same days and count.
    let (code, json, err) = server(&["calendar", "2026", "--json"], None);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["year"], 2026);
    assert_eq!(v["working_days"], working);
    let days = v["days_off"].as_array().unwrap();
    let text_days = out.lines().take_while(|l| !l.is_empty()).skip(1).count();
    assert_eq!(days.len(), text_days);
    let tet = days
        .iter()
        .find(|d| d["date"] == "2026-02-17")
        .expect("17/02/2026");
    assert_eq!(tet["holiday_id"], "tet");
    assert_eq!(tet["lunar"]["day"], 1);
    assert_eq!(tet["lunar"]["month"], 1);
    assert!(v["blocks"].as_array().unwrap().iter().any(|b| {
        b["holidays"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h == "national-day")
    }));

    // A year out of range or not a number is a usage error, not a panic.
    for bad in ["1800", "năm-2026"] {
        let (code, _, err) = server(&["calendar", bad], None);
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(err.contains("year") || err.contains("YEAR"), "{err}");
    }
}
