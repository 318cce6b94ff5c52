//! The OpenAPI document served by the real binary describes routes that exist: every documented
//! operation, called without credentials, is either public or answers 401 — never "no such
//! route" (404 with code `not_found` for the route) and never 405.

use serde_json::Value;

use crate::serverkit::{add_user, client, serve};

#[test]
fn server_api_openapi_document_names_real_routes_with_their_methods() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let (code, err) = add_user(d, "admin", "administrator", None, Some("mật-khẩu-quản-trị"));
    assert_eq!(code, 0, "{err}");
    let running = serve(&data);
    rt.block_on(async {
        let c = client();
        let r = c
            .get(format!("{}/api/v1/openapi.json", running.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let doc: Value = r.json().await.unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.len() > 20, "{}", paths.len());
        let mut checked = 0;
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                let concrete = path
                    .split('/')
                    .map(|seg| {
                        if seg.starts_with('{') {
                            "0193a1b2-5b7a-7cc0-9a8e-3a5c1f1d2e3f"
                        } else {
                            seg
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("/");
                let url = format!("{}{concrete}", running.base);
                let req = match method.as_str() {
                    "get" => c.get(&url),
                    "post" => c.post(&url),
                    "patch" => c.patch(&url),
                    "delete" => c.delete(&url),
                    "put" => c.put(&url),
                    other => panic!("unexpected method {other}"),
                };
                let r = req.send().await.unwrap();
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                let public = op["security"].as_array().is_some_and(|s| s.is_empty());
                assert_ne!(status, 405, "{method} {path}: method not routed");
                assert!(
                    !(status == 404 && body["error"]["message"] == "route not found"),
                    "{method} {path}: no such route"
                );
                if !public {
                    assert_eq!(status, 401, "{method} {path} without credentials: {body}");
                }
                checked += 1;
            }
        }
        assert!(checked > 30, "{checked} operations checked");
    });
}
