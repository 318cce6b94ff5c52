//! The HTTP and content probes against Debian's nginx and programmable loopback sites.

use std::time::Duration;

use canhgac_testkit::{Nginx, Reply, Scheme, TestPki, WebSite};
use serde_json::Value;

use crate::agent::{Run, scan_raw};

const HOST: &str = "sct.example.gov.vn";

fn scan_site(http_port: u16, https_port: u16, extra: &[&str]) -> Run {
    let target = format!("{HOST}:{https_port}");
    let resolve = format!("{HOST}:{https_port}:127.0.0.1");
    let http = http_port.to_string();
    let mut args = vec![
        "--probes",
        "http,content",
        "--timeout",
        "3",
        "--http-port",
        http.as_str(),
        "--resolve",
        resolve.as_str(),
        target.as_str(),
    ];
    args.extend_from_slice(extra);
    scan_raw(&args)
}

fn report(run: &Run) -> &Value {
    assert_eq!(run.reports.len(), 1, "stderr: {}", run.stderr);
    &run.reports[0]
}

fn web() -> WebSite {
    WebSite::start(&TestPki::shared().leaf(&[HOST])).unwrap()
}

const GOOD_NGINX: &str = r#"
server {
  listen 127.0.0.1:{HTTP_PORT};
  server_name _;
  server_tokens off;
  return 301 https://$host:{HTTPS_PORT}$request_uri;
}
server {
  listen 127.0.0.1:{HTTPS_PORT} ssl;
  server_name _;
  ssl_certificate {CERT};
  ssl_certificate_key {KEY};
  server_tokens off;
  add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;
  add_header Content-Security-Policy "default-src 'self'; frame-ancestors 'self'" always;
  add_header X-Frame-Options SAMEORIGIN always;
  add_header X-Content-Type-Options nosniff always;
  add_header Referrer-Policy strict-origin-when-cross-origin always;
  location / { return 200 '<html><head><title>Sở Công Thương</title></head><body><p>Tin tức</p></body></html>'; }
}
"#;

const LAX_NGINX: &str = r#"
server {
  listen 127.0.0.1:{HTTP_PORT};
  server_name _;
  location / { add_header Set-Cookie "sid=1; Path=/"; return 200 '<html><body>plain</body></html>'; }
}
server {
  listen 127.0.0.1:{HTTPS_PORT} ssl;
  server_name _;
  ssl_certificate {CERT};
  ssl_certificate_key {KEY};
  server_tokens on;
  location / { add_header Set-Cookie "PHPSESSID=abc; Path=/; HttpOnly"; return 200 '<html><body>secure</body></html>'; }
}
"#;

#[test]
fn nginx_configured_well_redirects_and_sends_every_header() {
    let nginx = Nginx::start(&TestPki::shared().leaf(&[HOST]), GOOD_NGINX).unwrap();
    let run = scan_site(nginx.http_port(), nginx.https_port(), &[]);
    let h = &report(&run)["http"];
    assert_eq!(h["redirects_to_https"], true, "{h}");
    assert_eq!(h["downgrades"], false);
    assert_eq!(h["endpoints"][0]["hops"][0]["status"], 301);
    let headers = &h["headers"];
    assert_eq!(headers["hsts"]["max_age"], 31_536_000);
    assert_eq!(headers["hsts"]["include_subdomains"], true);
    assert_eq!(headers["csp"]["present"], true);
    assert_eq!(headers["csp"]["source"], "header");
    assert_eq!(headers["csp"]["frame_ancestors"], "'self'");
    assert_eq!(headers["x_frame_options"], "SAMEORIGIN");
    assert_eq!(headers["x_content_type_options"], "nosniff");
    assert_eq!(
        headers["referrer_policy"],
        "strict-origin-when-cross-origin"
    );
    for d in h["disclosures"].as_array().unwrap() {
        assert!(d["version"].is_null(), "server_tokens off: {d}");
    }
    assert_eq!(report(&run)["content"]["title"], "Sở Công Thương");
}

#[test]
fn nginx_configured_loosely_is_seen_as_such() {
    let nginx = Nginx::start(&TestPki::shared().leaf(&[HOST]), LAX_NGINX).unwrap();
    let run = scan_site(nginx.http_port(), nginx.https_port(), &[]);
    let h = &report(&run)["http"];
    assert_eq!(h["redirects_to_https"], false, "{h}");
    assert_eq!(h["headers"]["hsts"]["present"], false);
    assert!(h["headers"]["hsts"]["max_age"].is_null());
    assert_eq!(h["headers"]["csp"]["present"], false);
    let server = h["disclosures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["source"] == "Server")
        .unwrap();
    assert_eq!(server["product"], "nginx");
    assert_eq!(server["version"], "1.22.1");
    let cookies = h["cookies"].as_array().unwrap();
    let session = cookies.iter().find(|c| c["name"] == "PHPSESSID").unwrap();
    assert_eq!(session["secure"], false);
    assert_eq!(session["http_only"], true);
}

#[test]
fn hsts_is_judged_on_the_sites_own_https_response_not_a_waf_redirect() {
    let site = web();
    let https = format!("https://{HOST}:{}", site.https_port());
    site.route(
        Scheme::Http,
        "/",
        Reply::redirect(301, &format!("{https}/")),
    );
    // The first HTTPS answer is a redirect without HSTS (a WAF's), the page itself has it.
    site.route(Scheme::Https, "/", Reply::redirect(302, "/trang-chu"));
    site.route(
        Scheme::Https,
        "/trang-chu",
        Reply::html("<html><body>ok</body></html>")
            .with_header("Strict-Transport-Security", "max-age=63072000; preload"),
    );
    let run = scan_site(site.http_port(), site.https_port(), &[]);
    let h = &report(&run)["http"];
    assert_eq!(h["judged_url"], format!("{https}/trang-chu"));
    assert_eq!(h["headers"]["hsts"]["max_age"], 63_072_000);
    assert_eq!(h["headers"]["hsts"]["preload"], true);
    assert_eq!(h["redirects_to_https"], true);

    // And the other way round: HSTS only on the redirect does not count.
    let other = web();
    other.route(
        Scheme::Https,
        "/",
        Reply::redirect(302, "/trang-chu")
            .with_header("Strict-Transport-Security", "max-age=31536000"),
    );
    other.route(Scheme::Https, "/trang-chu", Reply::html("<html></html>"));
    let run = scan_site(other.http_port(), other.https_port(), &[]);
    assert_eq!(report(&run)["http"]["headers"]["hsts"]["present"], false);
}

#[test]
fn a_meta_csp_counts_and_report_only_is_reported_as_such() {
    let site = web();
    site.route(
        Scheme::Https,
        "/",
        Reply::html(r#"<html><head><meta http-equiv="Content-Security-Policy" content="default-src 'self' 'unsafe-inline'"></head></html>"#),
    );
    let run = scan_site(site.http_port(), site.https_port(), &[]);
    let csp = &report(&run)["http"]["headers"]["csp"];
    assert_eq!(csp["present"], true);
    assert_eq!(csp["source"], "meta");
    assert_eq!(csp["unsafe_inline"], true);

    let ro = web();
    ro.route(
        Scheme::Https,
        "/",
        Reply::html("<html></html>")
            .with_header("Content-Security-Policy-Report-Only", "default-src 'self'"),
    );
    let run = scan_site(ro.http_port(), ro.https_port(), &[]);
    let csp = &report(&run)["http"]["headers"]["csp"];
    assert_eq!(csp["present"], false);
    assert_eq!(csp["report_only"], true);
}

#[test]
fn a_downgrading_redirect_is_flagged() {
    let site = web();
    let http = format!("http://{HOST}:{}", site.http_port());
    site.route(
        Scheme::Https,
        "/",
        Reply::redirect(301, &format!("{http}/")),
    );
    site.route(Scheme::Http, "/", Reply::html("<html>plain</html>"));
    let run = scan_site(site.http_port(), site.https_port(), &[]);
    let h = &report(&run)["http"];
    assert_eq!(h["downgrades"], true);
    assert_eq!(h["redirects_to_https"], false);
}

#[test]
fn exposed_files_are_confirmed_by_content_not_status() {
    let site = web();
    site.route(
        Scheme::Https,
        "/",
        Reply::html("<html><body>home</body></html>"),
    );
    site.route(
        Scheme::Https,
        "/.git/HEAD",
        Reply::text("text/plain", b"ref: refs/heads/master\n"),
    );
    site.route(
        Scheme::Https,
        "/backup.zip",
        Reply::text("application/zip", b"PK\x03\x04\x14\x00"),
    );
    site.route(
        Scheme::Https,
        "/.well-known/security.txt",
        Reply::text(
            "text/plain",
            b"Contact: mailto:soc@example.gov.vn\nExpires: 2020-01-01T00:00:00Z\n",
        ),
    );
    let run = scan_site(site.http_port(), site.https_port(), &[]);
    let h = &report(&run)["http"];
    let exposed: Vec<&str> = h["exposures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["exposed"] == true)
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(exposed, ["/.git/HEAD", "/backup.zip"]);
    assert_eq!(h["security_txt"]["present"], true);
    assert_eq!(h["security_txt"]["expired"], true);

    // A site that answers 200 with its home page to everything exposes nothing.
    let catch_all = web();
    catch_all.fallback(
        Scheme::Https,
        Reply::html("<html><body>Trang chủ</body></html>"),
    );
    let run = scan_site(catch_all.http_port(), catch_all.https_port(), &[]);
    let h = &report(&run)["http"];
    assert!(
        h["exposures"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["exposed"] == false),
        "{h}"
    );
    assert_eq!(h["security_txt"]["present"], false);
}

#[test]
fn hidden_gambling_links_and_the_trust_badge_are_found() {
    let site = web();
    site.route(
        Scheme::Https,
        "/",
        Reply::html(
            r#"<html><head><title>UBND xã</title></head><body><p>Thông báo lịch tiếp dân.</p>
            <div style="display:none"><a href="https://spam.example/">nhà cái uy tín</a> <a href="https://spam.example/2">cá cược bóng đá</a></div>
            <a href="https://tinnhiemmang.vn/danh-ba-tin-nhiem/x"><img src="https://tinnhiemmang.vn/handle_cert?id=x"></a>
            </body></html>"#,
        ),
    );
    let run = scan_site(site.http_port(), site.https_port(), &[]);
    let c = &report(&run)["content"];
    assert_eq!(c["gambling_spam"], true, "{c}");
    assert_eq!(c["defacement"], false);
    assert_eq!(c["hidden_links"].as_array().unwrap().len(), 2);
    assert_eq!(c["hidden_links"][0]["technique"], "display:none");
    assert_eq!(c["trust_badge"], true);
}

#[test]
fn the_baseline_notices_a_replaced_home_page() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().to_str().unwrap().to_string();
    let site = web();
    let page = "<html><body><p>Sở Công Thương thông báo kế hoạch kiểm tra an toàn thực phẩm, lịch tiếp công dân và tin hoạt động của các phòng chuyên môn trong tuần này.</p></body></html>";
    site.route(Scheme::Https, "/", Reply::html(page));
    let first = scan_site(
        site.http_port(),
        site.https_port(),
        &["--baseline-dir", &baseline],
    );
    assert!(report(&first)["content"]["baseline"].is_null());
    let same = scan_site(
        site.http_port(),
        site.https_port(),
        &["--baseline-dir", &baseline],
    );
    assert_eq!(report(&same)["content"]["baseline"]["changed"], false);
    site.route(
        Scheme::Https,
        "/",
        Reply::html(
            "<html><body><h1>HACKED BY nobody, this page was replaced entirely</h1></body></html>",
        ),
    );
    let changed = scan_site(
        site.http_port(),
        site.https_port(),
        &["--baseline-dir", &baseline],
    );
    let c = &report(&changed)["content"];
    assert_eq!(c["baseline"]["changed"], true, "{c}");
    assert_eq!(c["defacement"], true);
}

#[test]
fn hostile_sites_give_clear_errors_in_bounded_time() {
    let site = web();
    site.route(Scheme::Http, "/", Reply::redirect(302, "/a"));
    site.route(Scheme::Http, "/a", Reply::redirect(302, "/"));
    site.route(Scheme::Https, "/", Reply::ManyCookies { count: 10_000 });
    let run = scan_site(site.http_port(), site.https_port(), &[]);
    let h = &report(&run)["http"];
    assert_eq!(h["endpoints"][0]["error"]["code"], "redirect_loop", "{h}");
    let cookie_error = &h["endpoints"][1]["error"];
    assert!(cookie_error["code"].is_string(), "10,000 cookies: {h}");
    assert!(run.elapsed < Duration::from_secs(20));

    let huge = web();
    huge.route(
        Scheme::Https,
        "/",
        Reply::Endless {
            chunk: b"<p>lorem ipsum dolor sit amet</p>".repeat(1000),
            total: 1 << 30,
        },
    );
    let run = scan_site(huge.http_port(), huge.https_port(), &[]);
    let c = &report(&run)["content"];
    assert_eq!(c["bytes"], 1 << 20, "reads 1 MiB of a 1 GiB body");
    assert_eq!(c["error"]["code"], "too_large");
    assert!(run.elapsed < Duration::from_secs(20), "{:?}", run.elapsed);
    assert!(
        run.peak_rss_kib < 100 * 1024,
        "memory stays bounded: {} KiB",
        run.peak_rss_kib
    );

    let slow = web();
    slow.route(
        Scheme::Https,
        "/",
        Reply::Drip {
            interval: Duration::from_millis(500),
        },
    );
    let run = scan_site(slow.http_port(), slow.https_port(), &[]);
    let h = &report(&run)["http"];
    assert_eq!(h["endpoints"][1]["error"]["code"], "timeout", "{h}");
    assert!(run.elapsed < Duration::from_secs(30), "{:?}", run.elapsed);
}
