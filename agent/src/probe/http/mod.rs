//! The HTTP probe: plain and secure endpoints, redirects, security headers, cookies, software
//! disclosure, security.txt and exposed files.
//!
//! Headers are judged where a browser judges them: on the final HTTPS response of the site
//! itself (the host or its `www.` form), never on an intermediate redirect a WAF returned first
//! (pshtt's best-known false negative); a CSP in a `<meta>` tag counts, and a Report-Only CSP
//! is reported as such (the HTTP Observatory's). Certificates are not judged here (the TLS
//! probe does that), so invalid certificates do not stop the HTTP checks.

mod exposure;
mod fetch;
mod headers;
mod security_txt;

use std::net::SocketAddr;
use std::time::Duration;

use canhgac_policies::report::{Disclosure, HttpReport, ProbeError, SecurityHeaders};
use jiff::Timestamp;
use scraper::{Html, Selector};
use url::Url;

use fetch::{Chain, Limits};

/// Settings of the HTTP probe.
#[derive(Debug, Clone)]
pub struct HttpProbeConfig {
    /// Deadline for each request.
    pub timeout: Duration,
    /// Most redirects followed per chain.
    pub max_redirects: usize,
    /// Most bytes read of a page.
    pub max_body: usize,
    /// The plain HTTP port (80).
    pub http_port: u16,
    /// Run the exposed-file checks.
    pub exposures: bool,
}

impl Default for HttpProbeConfig {
    fn default() -> Self {
        HttpProbeConfig {
            timeout: Duration::from_secs(10),
            max_redirects: 10,
            max_body: 1024 * 1024,
            http_port: 80,
            exposures: true,
        }
    }
}

/// Where the probe may connect: the host's address and, when it resolves, its `www.` form's.
#[derive(Debug, Clone)]
pub struct Site {
    /// Host name or IP literal.
    pub host: String,
    /// The HTTPS port (the target's).
    pub https_port: u16,
    /// The host's address, if known (pinned or resolved); `None` lets the system resolve.
    pub addr: Option<SocketAddr>,
    /// The `www.` form's address, when it resolves; `None` skips the `www.` endpoints.
    pub www_addr: Option<SocketAddr>,
}

/// The page the content probe reads.
#[derive(Debug, Clone)]
pub struct Page {
    /// Its URL.
    pub url: String,
    /// Its body (bounded).
    pub body: Vec<u8>,
    /// Whether the body was cut at the limit.
    pub truncated: bool,
}

fn client(site: &Site, timeout: Duration) -> Result<reqwest::Client, ProbeError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(true)
        .no_proxy()
        .connect_timeout(timeout)
        // No idle connections: one connection at a time, closed after its response (the
        // scanner's host gate counts the probe as one connection).
        .pool_max_idle_per_host(0)
        .user_agent(concat!(
            "canhgac-agent/",
            env!("CARGO_PKG_VERSION"),
            " (security configuration check)"
        ));
    if let Some(addr) = site.addr {
        builder = builder.resolve(&site.host, SocketAddr::new(addr.ip(), 0));
    }
    if let Some(addr) = site.www_addr {
        builder = builder.resolve(&format!("www.{}", site.host), SocketAddr::new(addr.ip(), 0));
    }
    builder
        .build()
        .map_err(|e| ProbeError::new("internal", format!("HTTP client: {e}")))
}

fn url_for(scheme: &str, host: &str, port: u16) -> Option<Url> {
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    Url::parse(&format!("{scheme}://{host}:{port}/")).ok()
}

/// Whether `url` is on the same site as `host` (the host itself or its `www.` form).
fn same_site(url: &Url, host: &str) -> bool {
    let Some(h) = url.host_str() else {
        return false;
    };
    let h = h.trim_start_matches('[').trim_end_matches(']');
    let bare = |s: &str| s.strip_prefix("www.").unwrap_or(s).to_ascii_lowercase();
    bare(h) == bare(host)
}

fn html_meta(body: &[u8]) -> (Option<String>, Option<String>) {
    let text = String::from_utf8_lossy(body);
    let doc = Html::parse_document(&text);
    let selector = Selector::parse("meta").expect("valid selector");
    let mut csp = None;
    let mut generator = None;
    for meta in doc.select(&selector) {
        let el = meta.value();
        let content = el.attr("content").map(str::to_string);
        if el
            .attr("http-equiv")
            .is_some_and(|v| v.eq_ignore_ascii_case("content-security-policy"))
        {
            csp = csp.or(content.clone());
        }
        if el
            .attr("name")
            .is_some_and(|v| v.eq_ignore_ascii_case("generator"))
        {
            generator = generator.or(content);
        }
    }
    (csp, generator)
}

/// Probes the site's HTTP and HTTPS endpoints.
pub async fn probe(
    site: &Site,
    config: &HttpProbeConfig,
    now: Timestamp,
) -> (HttpReport, Option<Page>) {
    let mut report = HttpReport::default();
    let client = match client(site, config.timeout) {
        Ok(c) => c,
        Err(e) => {
            report.error = Some(e);
            return (report, None);
        }
    };
    let limits = Limits {
        timeout: config.timeout,
        max_redirects: config.max_redirects,
        max_body: config.max_body,
    };
    let mut starts = vec![
        url_for("http", &site.host, config.http_port),
        url_for("https", &site.host, site.https_port),
    ];
    if site.www_addr.is_some() {
        let www = format!("www.{}", site.host);
        starts.push(url_for("http", &www, config.http_port));
        starts.push(url_for("https", &www, site.https_port));
    }
    // One chain at a time: the HTTP probe keeps at most one connection open to the site.
    let mut chains: Vec<Chain> = Vec::new();
    for start in starts.into_iter().flatten() {
        chains.push(fetch::follow(&client, start, limits).await);
    }
    let plain = &chains[0];
    let secure = &chains[1];

    report.redirects_to_https = plain.endpoint.reachable.then(|| {
        plain.endpoint.error.is_none()
            && plain
                .endpoint
                .final_url
                .as_deref()
                .and_then(|u| Url::parse(u).ok())
                .is_some_and(|u| u.scheme() == "https" && same_site(&u, &site.host))
    });
    let any_reachable = chains.iter().any(|c| c.endpoint.reachable);
    report.downgrades = any_reachable.then(|| {
        chains.iter().any(|c| {
            c.endpoint
                .hops
                .windows(2)
                .any(|w| w[0].url.starts_with("https://") && w[1].url.starts_with("http://"))
        })
    });

    // The response judged: the final HTTPS response of the site itself.
    let judged = [secure, plain]
        .into_iter()
        .filter_map(|c| c.last())
        .find(|r| r.url.scheme() == "https" && same_site(&r.url, &site.host));
    let mut meta_generator = None;
    if let Some(r) = judged {
        let (meta_csp, generator) = html_meta(&r.body);
        meta_generator = generator;
        report.judged_url = Some(r.url.to_string());
        report.headers = SecurityHeaders {
            hsts: headers::parse_hsts(r.header("strict-transport-security")),
            csp: headers::parse_csp(
                r.header("content-security-policy"),
                meta_csp.as_deref(),
                r.header("content-security-policy-report-only"),
            ),
            x_frame_options: r.header("x-frame-options").map(str::to_string),
            x_content_type_options: r.header("x-content-type-options").map(str::to_string),
            referrer_policy: r.header("referrer-policy").map(str::to_string),
            permissions_policy: r.header("permissions-policy").map(str::to_string),
        };
    }

    // Cookies along every chain; disclosures from every response.
    let mut disclosures: Vec<Disclosure> = Vec::new();
    for chain in &chains {
        for r in &chain.responses {
            for v in r.headers.get_all("set-cookie").iter().take(200) {
                if let Ok(v) = v.to_str()
                    && let Some(c) = headers::parse_cookie(v, r.url.as_str())
                    && report.cookies.len() < 200
                    && !report
                        .cookies
                        .iter()
                        .any(|k| k.name == c.name && k.set_by == c.set_by)
                {
                    report.cookies.push(c);
                }
            }
            for name in [
                "server",
                "x-powered-by",
                "x-aspnet-version",
                "x-aspnetmvc-version",
                "x-generator",
            ] {
                if let Some(v) = r.header(name) {
                    let shown = match name {
                        "server" => "Server",
                        "x-powered-by" => "X-Powered-By",
                        "x-aspnet-version" => "X-AspNet-Version",
                        "x-aspnetmvc-version" => "X-AspNetMvc-Version",
                        _ => "X-Generator",
                    };
                    let d = headers::disclosure(shown, v);
                    if !disclosures
                        .iter()
                        .any(|k| k.source == d.source && k.value == d.value)
                    {
                        disclosures.push(d);
                    }
                }
            }
        }
    }
    if let Some(g) = meta_generator {
        disclosures.push(headers::disclosure("meta generator", &g));
    }
    report.disclosures = disclosures;

    // The page the content probe reads, and the origin for the file checks.
    let page_response = judged.or_else(|| plain.last());
    let page = page_response.map(|r| Page {
        url: r.url.to_string(),
        body: r.body.clone(),
        truncated: r.truncated,
    });
    if let Some(r) = page_response {
        let mut origin = r.url.clone();
        origin.set_path("/");
        origin.set_query(None);
        origin.set_fragment(None);
        report.security_txt = security_txt::fetch(&client, &origin, limits, now).await;
        if config.exposures {
            if let Some(listing) = exposure::home_is_listing(Some(r.status), &r.body) {
                report.exposures.push(listing);
            }
            let small = Limits {
                max_body: 4096,
                ..limits
            };
            for (i, path) in exposure::paths().enumerate() {
                let Ok(url) = origin.join(path) else { continue };
                let (status, body) = match fetch::get(&client, &url, small, true).await {
                    Ok(resp) => (Some(resp.status), resp.body),
                    Err(_) => (None, Vec::new()),
                };
                report.exposures.push(exposure::judge(i, status, &body));
            }
        }
    }

    report.endpoints = chains.into_iter().map(|c| c.endpoint).collect();
    if !any_reachable {
        let why = report
            .endpoints
            .iter()
            .find_map(|e| e.error.clone())
            .unwrap_or_else(|| ProbeError::new("unreachable", "no HTTP answer"));
        report.error = Some(ProbeError::new(
            why.code.clone(),
            format!("neither http:// nor https:// answered ({})", why.message),
        ));
    }
    (report, page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_site_accepts_www_both_ways() {
        let u = Url::parse("https://www.sct.example.gov.vn/x").unwrap();
        assert!(same_site(&u, "sct.example.gov.vn"));
        let u = Url::parse("https://sct.example.gov.vn/").unwrap();
        assert!(same_site(&u, "www.sct.example.gov.vn"));
        let u = Url::parse("https://evil.example/").unwrap();
        assert!(!same_site(&u, "sct.example.gov.vn"));
    }

    #[test]
    fn meta_tags_are_read() {
        let (csp, generator) = html_meta(
            br#"<html><head><meta http-equiv="Content-Security-Policy" content="default-src 'self'"><meta name="generator" content="Joomla! - Open Source Content Management"></head></html>"#,
        );
        assert_eq!(csp.as_deref(), Some("default-src 'self'"));
        assert!(generator.unwrap().starts_with("Joomla"));
    }
}
