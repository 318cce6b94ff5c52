//! The testkit's headless browser (`canhgac_testkit::browser`) against a tiny form page served on
//! 127.0.0.1: typing Vietnamese text, choosing an option, attaching a file, submitting, cookies,
//! scripts, a phone-width window and a screenshot, then no Chromium left behind. The web UI
//! tests build on this driver, so it is checked here on its own first.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use canhgac_testkit::browser::{Browser, WebDriverError, screenshot_dir};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const AGENCY: &str = "Sở Thông tin và Truyền thông \"Hà Nội\" <B>";
const WAIT: Duration = Duration::from_secs(10);

const FORM: &str = r#"<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>Biểu mẫu thử</title></head>
<body><h1>Khai báo hệ thống</h1>
<form method="post" action="/submit">
  <label>Cơ quan <input id="agency" name="agency"></label>
  <select id="level" name="level">
    <option value="tinh">Cấp tỉnh</option>
    <option value="huyen">Cấp huyện</option>
  </select>
  <input type="file" id="doc" name="doc">
  <button id="send" type="submit">Gửi</button>
</form>
<ul><li>một</li><li>hai</li><li>ba</li></ul>
</body></html>"#;

/// The form bodies POSTed to `/submit`, decoded.
type Received = Arc<Mutex<Vec<Vec<(String, String)>>>>;

/// Serves `/` (the form) and `/submit` (echoes the agency, sets a cookie) until dropped.
async fn serve() -> (String, Received, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let received: Received = Arc::default();
    let seen = received.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer(stream, seen.clone()));
        }
    });
    (base, received, task)
}

async fn answer(mut s: TcpStream, received: Received) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = &buf[head_end..head_end + length];
    let request_line = head.lines().next().unwrap_or_default();
    let (status, extra, page) = if request_line.starts_with("GET / ") {
        ("200 OK", "", FORM.to_string())
    } else if request_line.starts_with("POST /submit ") {
        let form = parse_form(body);
        let agency = form
            .iter()
            .find(|(k, _)| k == "agency")
            .map(|(_, v)| escape(v))
            .unwrap_or_default();
        received.lock().unwrap().push(form);
        let page = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Đã nhận</title></head>\
             <body><p id=\"result\">Đã nhận: {agency}</p></body></html>"
        );
        ("200 OK", "Set-Cookie: seen=1; Path=/\r\n", page)
    } else {
        ("404 Not Found", "", "không có".to_string())
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n{extra}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{page}",
        page.len()
    );
    let _ = s.write_all(response.as_bytes()).await;
    let _ = s.shutdown().await;
}

/// `application/x-www-form-urlencoded` into pairs.
fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 2;
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8(out).unwrap()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Whether any process names `needle` on its command line.
fn process_mentions(needle: &str) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
    })
}

#[test]
fn browser_fills_submits_and_screenshots_a_form() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let started = Instant::now();
        let Some(browser) = Browser::for_test().await.unwrap() else {
            return;
        };
        eprintln!("browser started in {:?}", started.elapsed());
        let profile = browser.profile_dir().display().to_string();
        assert!(
            process_mentions(&profile),
            "no Chromium runs with {profile}"
        );

        let (base, received, server) = serve().await;
        browser.goto(&format!("{base}/")).await.unwrap();
        assert_eq!(browser.title().await.unwrap(), "Biểu mẫu thử");
        assert_eq!(browser.text("h1").await.unwrap(), "Khai báo hệ thống");
        assert!(browser.page_source().await.unwrap().contains("Cấp huyện"));
        let items = browser.find_all("li").await.unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items[2].text().await.unwrap(), "ba");
        assert!(browser.find_all("table").await.unwrap().is_empty());

        // A missing element is the W3C `no such element` error, and waiting for one times out.
        let err = browser.find("#missing").await.unwrap_err();
        let wd = err
            .downcast_ref::<WebDriverError>()
            .expect("a WebDriver error");
        assert_eq!(wd.error, "no such element", "{err:#}");
        let t = Instant::now();
        let err = browser
            .wait_for("#missing", Duration::from_millis(500))
            .await
            .unwrap_err();
        assert!(t.elapsed() >= Duration::from_millis(500));
        assert!(format!("{err:#}").contains("`#missing`"), "{err:#}");

        let input = browser.find("#agency").await.unwrap();
        input.type_text("nháp").await.unwrap();
        input.clear().await.unwrap();
        input.send_keys(AGENCY).await.unwrap();
        assert_eq!(input.property("value").await.unwrap(), json!(AGENCY));
        assert_eq!(
            input.attribute("name").await.unwrap().as_deref(),
            Some("agency")
        );
        assert_eq!(input.attribute("placeholder").await.unwrap(), None);

        browser.select_option("#level", "huyen").await.unwrap();
        let level = browser.find("#level").await.unwrap();
        assert_eq!(level.property("value").await.unwrap(), json!("huyen"));

        let upload = tempfile::Builder::new()
            .prefix("ho-so-")
            .suffix(".txt")
            .tempfile()
            .unwrap();
        std::fs::write(upload.path(), "hồ sơ").unwrap();
        let upload_name = upload.path().file_name().unwrap().to_str().unwrap();
        browser.upload_file("#doc", upload.path()).await.unwrap();
        let doc = browser.find("#doc").await.unwrap();
        let picked = browser
            .execute(
                "return arguments[0].files[0].name + '|' + arguments[0].files[0].size;",
                vec![doc.as_arg()],
            )
            .await
            .unwrap();
        assert_eq!(picked, json!(format!("{upload_name}|{}", "hồ sơ".len())));

        browser.find("#send").await.unwrap().click().await.unwrap();
        let result = browser.wait_for("#result", WAIT).await.unwrap();
        assert_eq!(result.text().await.unwrap(), format!("Đã nhận: {AGENCY}"));
        assert_eq!(
            browser.current_url().await.unwrap(),
            format!("{base}/submit")
        );
        let forms = received.lock().unwrap().clone();
        assert_eq!(forms.len(), 1, "{forms:?}");
        let value = |k: &str| {
            forms[0]
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(value("agency").as_deref(), Some(AGENCY));
        assert_eq!(value("level").as_deref(), Some("huyen"));
        assert_eq!(value("doc").as_deref(), Some(upload_name));

        let cookie = "return document.cookie;";
        assert_eq!(
            browser.execute(cookie, vec![]).await.unwrap(),
            json!("seen=1")
        );
        browser.delete_cookies().await.unwrap();
        assert_eq!(browser.execute(cookie, vec![]).await.unwrap(), json!(""));

        let path = screenshot_dir().join("browser-smoke.png");
        let png = browser.screenshot_png(&path).await.unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        assert!(png.len() > 1000, "{} bytes", png.len());
        assert_eq!(std::fs::read(&path).unwrap(), png);

        browser.set_window_size(390, 844).await.unwrap();
        let width = browser
            .execute("return window.innerWidth;", vec![])
            .await
            .unwrap();
        let width = width.as_u64().unwrap();
        assert!((300..=390).contains(&width), "viewport {width}px wide");

        let t = Instant::now();
        drop(browser);
        eprintln!("browser closed in {:?}", t.elapsed());
        let deadline = Instant::now() + WAIT;
        while process_mentions(&profile) {
            assert!(
                Instant::now() < deadline,
                "Chromium still runs with {profile}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server.abort();
    });
}

#[test]
fn browser_killed_leaves_no_chromium() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let Some(browser) = Browser::for_test().await.unwrap() else {
            return;
        };
        let profile = browser.profile_dir().display().to_string();
        browser.goto("about:blank").await.unwrap();
        assert!(
            process_mentions(&profile),
            "no Chromium runs with {profile}"
        );
        // No session end: killing chromedriver alone would leave Chromium running.
        browser.kill();
        assert!(
            !process_mentions(&profile),
            "Chromium still runs with {profile} after kill"
        );
    });
}
