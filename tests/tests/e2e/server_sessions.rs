//! The real `canhgac-server`: browser sessions (cookie, CSRF, Origin, sign-out, lifetimes),
//! sign-in throttling, password changes, administrators' account changes, and API tokens issued,
//! listed and revoked over the API.

use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::serverkit::{Running, add_user, client, serve, token_for};

const ADMIN_PASSWORD: &str = "mật-khẩu-quản-trị";
const PASSWORD: &str = "mật khẩu của An đủ dài";

/// One request: optional bearer token, session cookie, CSRF token and extra headers.
#[derive(Default)]
struct Req<'a> {
    token: Option<&'a str>,
    cookie: Option<&'a str>,
    csrf: Option<&'a str>,
    headers: &'a [(&'a str, &'a str)],
    body: Option<Value>,
}

async fn send(method: &str, url: &str, r: Req<'_>) -> (u16, Value, HeaderMap) {
    let mut req = client().request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url);
    if let Some(t) = r.token {
        req = req.bearer_auth(t);
    }
    if let Some(c) = r.cookie {
        req = req.header("cookie", format!("canhgac_session={c}"));
    }
    if let Some(c) = r.csrf {
        req = req.header("x-csrf-token", c);
    }
    for (k, v) in r.headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = r.body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let v = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, v, headers)
}

/// A signed-in browser: the cookie's value and the CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

async fn sign_in(api: &str, login: &str, password: &str) -> Result<Browser, (u16, Value)> {
    let (s, v, h) = send(
        "POST",
        &format!("{api}/session"),
        Req {
            body: Some(json!({"login": login, "password": password})),
            ..Req::default()
        },
    )
    .await;
    if s != 200 {
        return Err((s, v));
    }
    let set = h["set-cookie"].to_str().unwrap().to_string();
    let cookie = set
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("canhgac_session=")
        .unwrap()
        .to_string();
    Ok(Browser {
        cookie,
        csrf: v["csrf_token"].as_str().unwrap().to_string(),
    })
}

/// A store with an administrator (and its token) and a running server.
fn start() -> (tempfile::TempDir, Running, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    assert_eq!(
        add_user(d, "admin", "administrator", None, Some(ADMIN_PASSWORD)).0,
        0
    );
    assert_eq!(add_user(d, "agent", "agent", Some("lan"), None).0, 0);
    let token = token_for(d, "admin");
    let running = serve(&data);
    let api = format!("{}/api/v1", running.base);
    (dir, running, api, token)
}

async fn add_viewer(api: &str, admin: &str, login: &str) {
    let (s, v, _) = send(
        "POST",
        &format!("{api}/users"),
        Req {
            token: Some(admin),
            body: Some(json!({"login": login, "display_name": "Nguyễn Văn An", "role": "viewer", "password": PASSWORD})),
            ..Req::default()
        },
    )
    .await;
    assert_eq!(s, 201, "{v}");
}

#[test]
fn sessions_sign_in_csrf_origin_and_sign_out() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_dir, running, api, admin) = start();
    rt.block_on(async {
        let (s, v, h) = send(
            "POST",
            &format!("{api}/session"),
            Req {
                body: Some(json!({"login": "Admin", "password": ADMIN_PASSWORD})),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["account"], "admin");
        assert_eq!(v["role"], "administrator");
        assert!(v["expires_at"].as_str().unwrap().ends_with('Z'), "{v}");
        assert_eq!(v["idle_timeout_seconds"], 1800);
        let set = h["set-cookie"].to_str().unwrap();
        for part in ["canhgac_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(set.contains(part), "{set}");
        }
        // Plain HTTP without `secure_cookies`: no Secure flag (the browser would drop it).
        assert!(!set.contains("Secure"), "{set}");
        assert_eq!(h["cache-control"], "no-store");
        let id = set
            .split(';')
            .next()
            .unwrap()
            .strip_prefix("canhgac_session=")
            .unwrap();
        assert_eq!(id.len(), 64);
        let me = Browser {
            cookie: id.to_string(),
            csrf: v["csrf_token"].as_str().unwrap().to_string(),
        };

        // Reads work with the cookie alone.
        let (s, who, _) = send(
            "GET",
            &format!("{api}/session"),
            Req {
                cookie: Some(&me.cookie),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(who["via"], "session");
        assert_eq!(who["csrf_token"], me.csrf.as_str());
        let count = |v: &Value| v.as_array().map(Vec::len).unwrap_or(0);
        let (s, before, _) = send(
            "GET",
            &format!("{api}/agencies"),
            Req {
                cookie: Some(&me.cookie),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 200);

        // Writes need the CSRF token, the right one, and (when named) the same origin.
        let agency = |n: &str| Some(json!({"name": format!("Sở {n}"), "short_code": n}));
        let url = format!("{api}/agencies");
        let (s, v, _) = send(
            "POST",
            &url,
            Req {
                cookie: Some(&me.cookie),
                body: agency("A"),
                ..Req::default()
            },
        )
        .await;
        assert_eq!((s, v["error"]["code"].as_str()), (403, Some("csrf")), "{v}");
        let wrong = "0".repeat(64);
        let (s, _, _) = send(
            "POST",
            &url,
            Req {
                cookie: Some(&me.cookie),
                csrf: Some(&wrong),
                body: agency("B"),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 403);
        let (s, v, _) = send(
            "POST",
            &url,
            Req {
                cookie: Some(&me.cookie),
                csrf: Some(&me.csrf),
                headers: &[("origin", "http://evil.example")],
                body: agency("C"),
                ..Req::default()
            },
        )
        .await;
        assert_eq!((s, v["error"]["code"].as_str()), (403, Some("csrf")), "{v}");
        let (s, _, _) = send(
            "POST",
            &url,
            Req {
                cookie: Some(&me.cookie),
                csrf: Some(&me.csrf),
                headers: &[("referer", "https://evil.example/page")],
                body: agency("D"),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 403);
        let (s, after, _) = send(
            "GET",
            &url,
            Req {
                cookie: Some(&me.cookie),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(
            count(&after),
            count(&before),
            "refused writes wrote nothing"
        );
        let (s, v, _) = send(
            "POST",
            &url,
            Req {
                cookie: Some(&me.cookie),
                csrf: Some(&me.csrf),
                body: agency("E"),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 201, "{v}");
        let own = running.base.clone();
        let (s, v, _) = send(
            "POST",
            &url,
            Req {
                cookie: Some(&me.cookie),
                csrf: Some(&me.csrf),
                headers: &[("origin", own.as_str())],
                body: agency("F"),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 201, "{v}");
        // Bearer callers need no CSRF token.
        let (s, _, _) = send(
            "POST",
            &url,
            Req {
                token: Some(&admin),
                body: agency("G"),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 201);
        // A bad bearer token is 401 even with a good cookie beside it (no fallback).
        let (s, _, _) = send(
            "GET",
            &url,
            Req {
                token: Some("cgk_wrong"),
                cookie: Some(&me.cookie),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 401);
        // A made-up cookie is 401.
        let (s, _, _) = send(
            "GET",
            &url,
            Req {
                cookie: Some(&wrong),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 401);

        // Signing in from another site's page is refused (login CSRF).
        let (s, _, _) = send(
            "POST",
            &format!("{api}/session"),
            Req {
                headers: &[("origin", "http://evil.example")],
                body: Some(json!({"login": "admin", "password": ADMIN_PASSWORD})),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 403);

        // Signing out needs the CSRF token too, ends the session on the server, clears the cookie.
        let other = sign_in(&api, "admin", ADMIN_PASSWORD).await.unwrap();
        let (s, _, _) = send(
            "DELETE",
            &format!("{api}/session"),
            Req {
                cookie: Some(&me.cookie),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 403);
        let (s, _, h) = send(
            "DELETE",
            &format!("{api}/session"),
            Req {
                cookie: Some(&me.cookie),
                csrf: Some(&me.csrf),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 204);
        assert!(h["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
        let (s, v, _) = send(
            "GET",
            &format!("{api}/session"),
            Req {
                cookie: Some(&me.cookie),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (401, Some("unauthenticated"))
        );
        // Only that session: the other one goes on.
        let (s, _, _) = send(
            "GET",
            &format!("{api}/session"),
            Req {
                cookie: Some(&other.cookie),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 200);
        // With a token there is no session to end.
        let (s, _, _) = send(
            "DELETE",
            &format!("{api}/session"),
            Req {
                token: Some(&admin),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 400);
    });
}

#[test]
fn sessions_end_on_password_change_reset_and_disabling() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_dir, _running, api, admin) = start();
    rt.block_on(async {
        add_viewer(&api, &admin, "an").await;
        let a = sign_in(&api, "an", PASSWORD).await.unwrap();
        let b = sign_in(&api, "an", PASSWORD).await.unwrap();
        let url = format!("{api}/me/password");
        let change = |current: &str, new: &str| Some(json!({"current": current, "new": new}));
        // Wrong current password, then too short, then the same.
        let (s, v, _) = send(
            "POST",
            &url,
            Req {
                cookie: Some(&a.cookie),
                csrf: Some(&a.csrf),
                body: change("sai mật khẩu rồi", "mật khẩu mới của An"),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some("wrong_password")),
            "{v}"
        );
        let (s, v, _) = send(
            "POST",
            &url,
            Req {
                cookie: Some(&a.cookie),
                csrf: Some(&a.csrf),
                body: change(PASSWORD, "ngắn quá"),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 400, "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("12"),
            "{v}"
        );
        let (s, _, _) = send(
            "POST",
            &url,
            Req {
                cookie: Some(&a.cookie),
                csrf: Some(&a.csrf),
                body: change(PASSWORD, PASSWORD),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 400);
        // Without CSRF: refused before anything is checked.
        let (s, _, _) = send(
            "POST",
            &url,
            Req {
                cookie: Some(&a.cookie),
                body: change(PASSWORD, "mật khẩu mới của An"),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 403);
        let (s, v, _) = send(
            "POST",
            &url,
            Req {
                cookie: Some(&a.cookie),
                csrf: Some(&a.csrf),
                body: change(PASSWORD, "mật khẩu mới của An"),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 204, "{v}");
        let who = |c: &Browser| {
            let cookie = c.cookie.clone();
            let api = api.clone();
            async move {
                send(
                    "GET",
                    &format!("{api}/session"),
                    Req {
                        cookie: Some(&cookie),
                        ..Req::default()
                    },
                )
                .await
                .0
            }
        };
        assert_eq!(who(&a).await, 200, "the session that changed it goes on");
        assert_eq!(who(&b).await, 401, "the other session ended");
        assert_eq!(
            sign_in(&api, "an", PASSWORD).await.err().map(|e| e.0),
            Some(401)
        );
        let c = sign_in(&api, "an", "mật khẩu mới của An").await.unwrap();

        // An administrator resets the password: every session of the account ends.
        let user = format!("{api}/users/an");
        let (s, v, _) = send(
            "PATCH",
            &user,
            Req {
                token: Some(&admin),
                body: Some(json!({"password": "mật khẩu do quản trị đặt"})),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["disabled"], false);
        assert!(v.get("password_hash").is_none(), "{v}");
        assert_eq!(who(&a).await, 401);
        assert_eq!(who(&c).await, 401);
        let d = sign_in(&api, "an", "mật khẩu do quản trị đặt")
            .await
            .unwrap();

        // Disabling: sessions and tokens stop at once; sign-in says nothing more than 401.
        let (s, t, _) = send(
            "POST",
            &format!("{api}/tokens"),
            Req {
                token: Some(&admin),
                body: Some(json!({"login": "an", "name": "script của An"})),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 201, "{t}");
        let an_token = t["token"].as_str().unwrap().to_string();
        let (s, _, _) = send(
            "GET",
            &format!("{api}/session"),
            Req {
                token: Some(&an_token),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 200);
        let (s, v, _) = send(
            "PATCH",
            &user,
            Req {
                token: Some(&admin),
                body: Some(json!({"disabled": true})),
                ..Req::default()
            },
        )
        .await;
        assert_eq!((s, &v["disabled"]), (200, &json!(true)), "{v}");
        assert_eq!(who(&d).await, 401);
        let (s, _, _) = send(
            "GET",
            &format!("{api}/agencies"),
            Req {
                token: Some(&an_token),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 401);
        let (s, v) = sign_in(&api, "an", "mật khẩu do quản trị đặt")
            .await
            .err()
            .unwrap();
        let (_, unknown) = sign_in(&api, "không-có-ai", "mật khẩu do quản trị đặt")
            .await
            .err()
            .unwrap();
        assert_eq!(s, 401);
        assert_eq!(v, unknown, "one generic answer");
        // Enabled again: the token works again (sessions stay ended).
        let (s, _, _) = send(
            "PATCH",
            &user,
            Req {
                token: Some(&admin),
                body: Some(json!({"disabled": false})),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 200);
        let (s, _, _) = send(
            "GET",
            &format!("{api}/agencies"),
            Req {
                token: Some(&an_token),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(who(&d).await, 401);

        // The rules of account changes.
        let patch = |login: &str, body: Value| {
            let (api, admin, login) = (api.clone(), admin.clone(), login.to_string());
            async move {
                let (s, v, _) = send(
                    "PATCH",
                    &format!("{api}/users/{login}"),
                    Req {
                        token: Some(&admin),
                        body: Some(body),
                        ..Req::default()
                    },
                )
                .await;
                (s, v)
            }
        };
        assert_eq!(
            patch("admin", json!({"disabled": true})).await.0,
            400,
            "no self-lockout"
        );
        assert_eq!(patch("admin", json!({"role": "viewer"})).await.0, 400);
        assert_eq!(
            patch("agent", json!({"role": "administrator"})).await.0,
            400,
            "machines stay machines"
        );
        assert_eq!(
            patch("agent", json!({"password": "mật khẩu cho máy quét"}))
                .await
                .0,
            400
        );
        assert_eq!(
            patch("an", json!({"role": "agency_officer"})).await.0,
            400,
            "an officer needs an agency"
        );
        assert_eq!(patch("an", json!({"password": "ngắn"})).await.0, 400);
        assert_eq!(patch("an", json!({})).await.0, 400);
        assert_eq!(patch("an", json!({"rôle": "viewer"})).await.0, 422);
        assert_eq!(patch("nobody", json!({"disabled": true})).await.0, 404);
        let (s, v) = patch(
            "an",
            json!({"role": "approver", "display_name": "Nguyễn Văn An (phê duyệt)"}),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["role"], "approver");
        // Only administrators change accounts, even with a valid session and CSRF token.
        let e = sign_in(&api, "an", "mật khẩu do quản trị đặt")
            .await
            .unwrap();
        let (s, _, _) = send(
            "PATCH",
            &format!("{api}/users/admin"),
            Req {
                cookie: Some(&e.cookie),
                csrf: Some(&e.csrf),
                body: Some(json!({"disabled": true})),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 403);
    });
}

#[test]
fn sessions_throttle_repeated_failures() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_dir, _running, api, admin) = start();
    rt.block_on(async {
        add_viewer(&api, &admin, "binh").await;
        // Unknown logins cost as much as wrong passwords (a dummy hash is verified).
        let time = |login: &'static str| {
            let api = api.clone();
            async move {
                let t = Instant::now();
                let (s, _) = sign_in(&api, login, "không đúng đâu nhé")
                    .await
                    .err()
                    .unwrap();
                assert_eq!(s, 401);
                t.elapsed()
            }
        };
        let mut known = Duration::ZERO;
        let mut unknown = Duration::ZERO;
        for _ in 0..2 {
            known += time("binh").await;
            unknown += time("ai-đó-không-có").await;
        }
        assert!(
            unknown * 3 > known,
            "unknown {unknown:?} vs known {known:?}"
        );
        // Five failures in a row for one login: then 429, even with the right password.
        for _ in 0..3 {
            assert_eq!(
                sign_in(&api, "binh", "vẫn sai mật khẩu")
                    .await
                    .err()
                    .unwrap()
                    .0,
                401
            );
        }
        let (s, v, h) = send(
            "POST",
            &format!("{api}/session"),
            Req {
                body: Some(json!({"login": "binh", "password": PASSWORD})),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (429, Some("throttled")),
            "{v}"
        );
        let wait: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=30).contains(&wait), "{wait}");
        // Another login from the same address is not blocked by that.
        assert!(sign_in(&api, "admin", ADMIN_PASSWORD).await.is_ok());
        // Twenty failures from one address block every login from it.
        for i in 0..20 {
            let (s, _) = sign_in(&api, &format!("khách-{i}"), "không đúng đâu nhé")
                .await
                .err()
                .unwrap();
            assert!(s == 401 || s == 429, "{s}");
        }
        assert_eq!(
            sign_in(&api, "admin", ADMIN_PASSWORD)
                .await
                .err()
                .map(|e| e.0),
            Some(429)
        );
        // Existing credentials keep working: throttling is about guessing passwords only.
        let (s, _, _) = send(
            "GET",
            &format!("{api}/session"),
            Req {
                token: Some(&admin),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 200);
    });
}

#[test]
fn sessions_tokens_issued_listed_revoked_and_expiring() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_dir, _running, api, admin) = start();
    rt.block_on(async {
        add_viewer(&api, &admin, "chi").await;
        let chi = sign_in(&api, "chi", PASSWORD).await.unwrap();
        let tokens = format!("{api}/tokens");
        // For oneself, from a browser session (with CSRF).
        let (s, v, _) = send(
            "POST",
            &tokens,
            Req {
                cookie: Some(&chi.cookie),
                body: Some(json!({"name": "báo cáo"})),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 403, "CSRF applies: {v}");
        let (s, t, _) = send(
            "POST",
            &tokens,
            Req {
                cookie: Some(&chi.cookie),
                csrf: Some(&chi.csrf),
                body: Some(json!({"name": "báo cáo"})),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 201, "{t}");
        let secret = t["token"].as_str().unwrap().to_string();
        let id = t["id"].as_str().unwrap().to_string();
        assert!(secret.starts_with("cgk_") && id.len() == 16, "{t}");
        assert_eq!(
            (t["login"].as_str(), t["revoked"].as_bool()),
            (Some("chi"), Some(false))
        );
        let (s, who, _) = send(
            "GET",
            &format!("{api}/session"),
            Req {
                token: Some(&secret),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(
            (s, who["account"].as_str(), who["token_id"].as_str()),
            (200, Some("chi"), Some(id.as_str()))
        );
        // Not for someone else.
        let (s, _, _) = send(
            "POST",
            &tokens,
            Req {
                token: Some(&secret),
                body: Some(json!({"login": "admin", "name": "x"})),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 403);
        // Administrators issue for anyone: the agent's token.
        let (s, t, _) = send(
            "POST",
            &tokens,
            Req {
                token: Some(&admin),
                body: Some(json!({"login": "agent", "name": "máy quét LAN"})),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 201, "{t}");
        let agent_token = t["token"].as_str().unwrap().to_string();
        let agent_id = t["id"].as_str().unwrap().to_string();
        let (s, who, _) = send(
            "GET",
            &format!("{api}/session"),
            Req {
                token: Some(&agent_token),
                ..Req::default()
            },
        )
        .await;
        assert_eq!((s, who["role"].as_str()), (200, Some("agent")));
        for bad in [
            json!({"login": "nobody", "name": "x"}),
            json!({"name": ""}),
            json!({"name": "x", "expires_at": "2020-01-01T00:00:00Z"}),
            json!({"name": "x", "expires_at": "hôm nay"}),
        ] {
            let (s, v, _) = send(
                "POST",
                &tokens,
                Req {
                    token: Some(&admin),
                    body: Some(bad.clone()),
                    ..Req::default()
                },
            )
            .await;
            assert!(s == 400 || s == 404 || s == 422, "{bad} -> {s} {v}");
        }

        // Lists never show secrets; people see their own, administrators everyone's.
        let (s, mine, _) = send(
            "GET",
            &tokens,
            Req {
                token: Some(&secret),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 200);
        let mine = mine.as_array().unwrap().clone();
        assert_eq!(mine.len(), 1, "{mine:?}");
        assert_eq!(mine[0]["id"], id.as_str());
        assert!(
            mine[0]["last_used_at"].is_string(),
            "use is recorded: {mine:?}"
        );
        assert!(!Value::Array(mine.clone()).to_string().contains("cgk_"));
        let (s, _, _) = send(
            "GET",
            &format!("{tokens}?login=admin"),
            Req {
                token: Some(&secret),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 403);
        let (s, all, _) = send(
            "GET",
            &tokens,
            Req {
                token: Some(&admin),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 200);
        let logins: Vec<&str> = all
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["login"].as_str().unwrap())
            .collect();
        assert!(
            logins.contains(&"admin") && logins.contains(&"agent") && logins.contains(&"chi"),
            "{logins:?}"
        );
        assert!(!all.to_string().contains("cgk_"));
        let (s, agents, _) = send(
            "GET",
            &format!("{tokens}?login=agent"),
            Req {
                token: Some(&admin),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(agents.as_array().unwrap().len(), 1);

        // Revoking: someone else's token is not found; one's own works; then 401.
        let (s, _, _) = send(
            "DELETE",
            &format!("{tokens}/{agent_id}"),
            Req {
                token: Some(&secret),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 404);
        let (s, _, _) = send(
            "DELETE",
            &format!("{tokens}/{id}"),
            Req {
                token: Some(&secret),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 204);
        let (s, _, _) = send(
            "GET",
            &format!("{api}/session"),
            Req {
                token: Some(&secret),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 401);
        let (s, _, _) = send(
            "DELETE",
            &format!("{tokens}/{agent_id}"),
            Req {
                token: Some(&admin),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 204);
        let (s, _, _) = send(
            "GET",
            &format!("{api}/session"),
            Req {
                token: Some(&agent_token),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 401);
        let (s, v, _) = send(
            "GET",
            &format!("{tokens}?login=agent"),
            Req {
                token: Some(&admin),
                ..Req::default()
            },
        )
        .await;
        assert_eq!((s, &v[0]["revoked"]), (200, &json!(true)), "{v}");
        let (s, _, _) = send(
            "DELETE",
            &format!("{tokens}/not-an-id"),
            Req {
                token: Some(&admin),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 404);

        // Expiry: works until expires_at, then 401.
        let soon = jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_secs(2))
            .unwrap();
        let (s, t, _) = send(
            "POST",
            &tokens,
            Req {
                cookie: Some(&chi.cookie),
                csrf: Some(&chi.csrf),
                body: Some(json!({"name": "ngắn hạn", "expires_at": soon.to_string()})),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 201, "{t}");
        let short = t["token"].as_str().unwrap().to_string();
        let (s, _, _) = send(
            "GET",
            &format!("{api}/session"),
            Req {
                token: Some(&short),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 200);
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let (s, _, _) = send(
            "GET",
            &format!("{api}/session"),
            Req {
                token: Some(&short),
                ..Req::default()
            },
        )
        .await;
        assert_eq!(s, 401);
        let (_, mine, _) = send(
            "GET",
            &tokens,
            Req {
                cookie: Some(&chi.cookie),
                ..Req::default()
            },
        )
        .await;
        assert!(
            mine.as_array()
                .unwrap()
                .iter()
                .any(|t| t["expired"] == json!(true)),
            "{mine}"
        );
    });
}
