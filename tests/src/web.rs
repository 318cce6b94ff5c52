//! A programmable website on 127.0.0.1: one plain-HTTP port and one HTTPS port (rustls, a
//! test-PKI certificate), each answering per path with a chosen status, headers and body. It
//! plays agency sites for the HTTP and content probes: redirect set-ups, security headers,
//! cookies, exposed files, spam-injected pages, and hostile answers (redirect loops, 10,000
//! cookies, endless bodies, slow drips). A minimal HTTP/1.1 server, `Connection: close`.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;

use crate::background::{ServerHandle, bind_loopback_port};
use crate::pki::Leaf;

/// What one path answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A complete response.
    Fixed {
        /// Status code.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// Body.
        body: Vec<u8>,
    },
    /// A 200 whose body never ends: `chunk` repeated up to `total` bytes, as fast as the
    /// client reads.
    Endless {
        /// The repeated chunk.
        chunk: Vec<u8>,
        /// Total bytes sent at most.
        total: u64,
    },
    /// A 200 with `count` Set-Cookie headers.
    ManyCookies {
        /// How many headers.
        count: usize,
    },
    /// A 200 whose headers arrive one byte every `interval`.
    Drip {
        /// Delay between bytes.
        interval: Duration,
    },
}

impl Reply {
    /// 200 with an HTML body.
    pub fn html(body: &str) -> Reply {
        Reply::Fixed {
            status: 200,
            headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    /// 200 with a text body and content type.
    pub fn text(content_type: &str, body: &[u8]) -> Reply {
        Reply::Fixed {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.to_vec(),
        }
    }

    /// A redirect.
    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::Fixed {
            status,
            headers: vec![("Location".into(), location.into())],
            body: Vec::new(),
        }
    }

    /// Adds a header to a fixed reply.
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Fixed { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }
}

/// Which port a route belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTPS.
    Https,
}

#[derive(Debug, Default)]
struct Routes {
    map: HashMap<(Scheme, String), Reply>,
    fallback: HashMap<Scheme, Reply>,
    requests: Vec<(Scheme, String)>,
}

/// A running site; dropping it stops both ports.
pub struct WebSite {
    http: ServerHandle,
    https: ServerHandle,
    routes: Arc<Mutex<Routes>>,
}

impl std::fmt::Debug for WebSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSite")
            .field("http", &self.http.addr())
            .field("https", &self.https.addr())
            .finish()
    }
}

fn not_found() -> Reply {
    Reply::Fixed {
        status: 404,
        headers: vec![("Content-Type".into(), "text/html".into())],
        body: b"<html><body>404</body></html>".to_vec(),
    }
}

impl WebSite {
    /// Starts a site on 127.0.0.1 serving `leaf` on HTTPS; every path answers 404 until routed.
    pub fn start(leaf: &Leaf) -> anyhow::Result<WebSite> {
        Self::start_on(leaf, Ipv4Addr::LOCALHOST)
    }

    /// Like [`WebSite::start`] on another loopback address (127.0.0.0/8), so that many sites
    /// look like many hosts.
    pub fn start_on(leaf: &Leaf, ip: Ipv4Addr) -> anyhow::Result<WebSite> {
        Self::start_on_ports(leaf, ip, 0, 0)
    }

    /// Like [`WebSite::start_on`] with given ports (0: any), so that many sites on different
    /// loopback addresses can share one HTTP and one HTTPS port number, as real sites do.
    pub fn start_on_ports(
        leaf: &Leaf,
        ip: Ipv4Addr,
        http_port: u16,
        https_port: u16,
    ) -> anyhow::Result<WebSite> {
        crate::init_crypto();
        let mut config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(leaf.chain_der.clone(), leaf.key_der.clone_key())
            .context("web site: certificate")?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let routes = Arc::new(Mutex::new(Routes::default()));
        let r = routes.clone();
        let http = ServerHandle::spawn(bind_loopback_port(ip, http_port)?, move |stream| {
            let r = r.clone();
            async move {
                let _ = serve(stream, Scheme::Http, r).await;
            }
        })?;
        let r = routes.clone();
        let https = ServerHandle::spawn(bind_loopback_port(ip, https_port)?, move |stream| {
            let r = r.clone();
            let acceptor = acceptor.clone();
            async move {
                if let Ok(Ok(tls)) =
                    tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await
                {
                    let _ = serve(tls, Scheme::Https, r).await;
                }
            }
        })?;
        Ok(WebSite {
            http,
            https,
            routes,
        })
    }

    /// Routes `path` on one scheme.
    pub fn route(&self, scheme: Scheme, path: &str, reply: Reply) -> &Self {
        self.lock().map.insert((scheme, path.to_string()), reply);
        self
    }

    /// What unrouted paths answer on one scheme (default 404).
    pub fn fallback(&self, scheme: Scheme, reply: Reply) -> &Self {
        self.lock().fallback.insert(scheme, reply);
        self
    }

    /// Requests received so far (scheme, path).
    pub fn requests(&self) -> Vec<(Scheme, String)> {
        self.lock().requests.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The plain-HTTP port.
    pub fn http_port(&self) -> u16 {
        self.http.addr().port()
    }

    /// The HTTPS port.
    pub fn https_port(&self) -> u16 {
        self.https.addr().port()
    }

    /// The HTTPS address.
    pub fn https_addr(&self) -> SocketAddr {
        self.https.addr()
    }
}

async fn read_head<S: AsyncRead + Unpin>(s: &mut S) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut byte = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > 16 * 1024 {
            return None;
        }
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut byte))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    scheme: Scheme,
    routes: Arc<Mutex<Routes>>,
) -> std::io::Result<()> {
    let Some(head) = read_head(&mut s).await else {
        return Ok(());
    };
    let path = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_string();
    let reply = {
        let mut r = routes.lock().unwrap_or_else(|p| p.into_inner());
        r.requests.push((scheme, path.clone()));
        r.map
            .get(&(scheme, path))
            .or_else(|| r.fallback.get(&scheme))
            .cloned()
            .unwrap_or_else(not_found)
    };
    match reply {
        Reply::Fixed {
            status,
            headers,
            body,
        } => {
            let mut out = format!(
                "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
                reason(status),
                body.len()
            );
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            s.write_all(out.as_bytes()).await?;
            s.write_all(&body).await?;
        }
        Reply::Endless { chunk, total } => {
            s.write_all(
                format!("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
            let mut sent = 0u64;
            while sent < total && !chunk.is_empty() {
                let n = chunk.len().min((total - sent) as usize);
                s.write_all(&chunk[..n]).await?;
                sent += n as u64;
            }
        }
        Reply::ManyCookies { count } => {
            let mut out = String::from("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n");
            for i in 0..count {
                out.push_str(&format!("Set-Cookie: c{i}=v; Path=/\r\n"));
            }
            out.push_str("Content-Length: 2\r\nConnection: close\r\n\r\nok");
            s.write_all(out.as_bytes()).await?;
        }
        Reply::Drip { interval } => {
            for b in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" {
                s.write_all(&[*b]).await?;
                s.flush().await?;
                tokio::time::sleep(interval).await;
            }
        }
    }
    s.flush().await?;
    s.shutdown().await
}
