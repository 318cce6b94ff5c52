//! The demo's fixture websites: one per sample system, each on its own loopback address
//! (127.0.2.N) with shared HTTP and HTTPS port numbers, so that the agent's HTTP probe finds
//! the plain-HTTP side of every site on one port, as it would on port 80 in a real province.

use std::net::Ipv4Addr;

use anyhow::{Result, bail};

use crate::pki::TestPki;
use crate::web::{Reply, Scheme, WebSite};

/// How a fixture site is set up (good or bad in one or two ways).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// Valid chain, HTTP redirects to HTTPS, security headers (HSTS, CSP, ...).
    Good,
    /// Valid chain and redirect, but no security headers.
    NoHeaders,
    /// Valid chain, no redirect from HTTP (the plain site serves the page), no headers.
    NoRedirect,
    /// The certificate expired ten days ago.
    Expired,
    /// A self-signed certificate.
    SelfSigned,
    /// A certificate for another host name.
    WrongHost,
    /// The intermediate certificate is not served.
    MissingIntermediate,
    /// Valid TLS and headers, but the page carries injected gambling links.
    Gambling,
}

impl Setup {
    /// A short English description for the demo's table.
    pub fn describe(self) -> &'static str {
        match self {
            Setup::Good => "good: valid chain, HTTP->HTTPS, security headers",
            Setup::NoHeaders => "valid chain, no security headers",
            Setup::NoRedirect => "valid chain, HTTP not redirected, no headers",
            Setup::Expired => "certificate expired 10 days ago",
            Setup::SelfSigned => "self-signed certificate",
            Setup::WrongHost => "certificate for another host",
            Setup::MissingIntermediate => "intermediate certificate not served",
            Setup::Gambling => "injected gambling links in the page",
        }
    }
}

/// The page every demo site serves (Vietnamese agency portal).
fn page(title: &str, extra: &str) -> String {
    format!(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>Thông báo lịch tiếp công dân, kế hoạch kiểm tra, tin hoạt động \
         của các phòng chuyên môn; thủ tục hành chính và dịch vụ công trực tuyến.</p>{extra}\
         <a href=\"/lien-he\">Liên hệ</a></body></html>"
    )
}

const GAMBLING: &str = "<div style=\"display:none\"><a href=\"https://nhacai-uytin.example/\">nhà cái uy tín</a> \
    <a href=\"https://casino-truc-tuyen.example/\">casino trực tuyến</a> <a href=\"https://keo-bong-da.example/\">kèo bóng đá</a> \
    <a href=\"https://tai-xiu.example/\">tài xỉu online</a> <a href=\"https://no-hu.example/\">nổ hũ đổi thưởng</a></div>";

/// One running fixture site.
pub struct DemoSite {
    /// Its host name (pinned to `ip` by the agent's resolve overrides).
    pub host: String,
    /// Its loopback address.
    pub ip: Ipv4Addr,
    /// How it is set up.
    pub setup: Setup,
    _site: WebSite,
}

/// The running fixture sites of the demo; dropping it stops them.
pub struct DemoSites {
    /// The sites, in the order they were asked for.
    pub sites: Vec<DemoSite>,
    /// The HTTPS port every site listens on (on its own address).
    pub https_port: u16,
    /// The plain-HTTP port every site listens on.
    pub http_port: u16,
}

/// The demo sites' loopback address number `i` (0-based): 127.0.2.(i+1).
pub fn demo_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 2, (i + 1) as u8)
}

/// A port number free on every address of `ips` (tried a few times).
pub fn common_port(ips: &[Ipv4Addr]) -> Result<u16> {
    for _ in 0..50 {
        let probe = std::net::TcpListener::bind((ips[0], 0))?;
        let port = probe.local_addr()?.port();
        drop(probe);
        if ips
            .iter()
            .all(|ip| std::net::TcpListener::bind((*ip, port)).is_ok())
        {
            return Ok(port);
        }
    }
    bail!("no port free on all {} loopback addresses", ips.len())
}

impl DemoSites {
    /// Starts one site per `(host, title, setup)` on ports free on every site's address, or on
    /// `ports` (HTTPS, HTTP) when given (a demo restarted on its kept data directory).
    pub fn start(specs: &[(&str, &str, Setup)], ports: Option<(u16, u16)>) -> Result<DemoSites> {
        crate::init_crypto();
        let pki = TestPki::shared();
        let ips: Vec<Ipv4Addr> = (0..specs.len()).map(demo_ip).collect();
        let (https_port, http_port) = match ports {
            Some(p) => p,
            None => {
                let https_port = common_port(&ips)?;
                let http_port = loop {
                    let p = common_port(&ips)?;
                    if p != https_port {
                        break p;
                    }
                };
                (https_port, http_port)
            }
        };
        let mut sites = Vec::with_capacity(specs.len());
        for (i, (host, title, setup)) in specs.iter().enumerate() {
            let leaf = match setup {
                Setup::Expired => pki.expired(&[*host]),
                Setup::SelfSigned => pki.self_signed(&[*host]),
                Setup::WrongHost => pki.wrong_host(),
                Setup::MissingIntermediate => pki.missing_intermediate(&[*host]),
                _ => pki.leaf(&[*host]),
            };
            let site = WebSite::start_on_ports(&leaf, ips[i], http_port, https_port)?;
            let https_url = format!("https://{host}:{https_port}/");
            let body = match setup {
                Setup::Gambling => page(title, GAMBLING),
                _ => page(title, ""),
            };
            let mut reply = Reply::html(&body);
            if matches!(setup, Setup::Good | Setup::Gambling | Setup::Expired) {
                reply = reply
                    .with_header(
                        "Strict-Transport-Security",
                        "max-age=31536000; includeSubDomains",
                    )
                    .with_header("Content-Security-Policy", "default-src 'self'")
                    .with_header("X-Content-Type-Options", "nosniff")
                    .with_header("X-Frame-Options", "DENY")
                    .with_header("Referrer-Policy", "strict-origin-when-cross-origin");
            }
            site.fallback(Scheme::Https, reply);
            if *setup == Setup::NoRedirect {
                site.fallback(Scheme::Http, Reply::html(&body));
            } else {
                site.fallback(Scheme::Http, Reply::redirect(301, &https_url));
            }
            sites.push(DemoSite {
                host: host.to_string(),
                ip: ips[i],
                setup: *setup,
                _site: site,
            });
        }
        Ok(DemoSites {
            sites,
            https_port,
            http_port,
        })
    }

    /// The HTTPS URL of a site, as the inventory records it.
    pub fn url(&self, host: &str) -> String {
        format!("https://{host}:{}/", self.https_port)
    }

    /// `host:port:address` overrides for both ports of every site (curl's `--resolve`).
    pub fn overrides(&self) -> Vec<String> {
        self.sites
            .iter()
            .flat_map(|s| {
                [
                    format!("{}:{}:{}", s.host, self.https_port, s.ip),
                    format!("{}:{}:{}", s.host, self.http_port, s.ip),
                ]
            })
            .collect()
    }
}
