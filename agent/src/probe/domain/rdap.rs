//! The RDAP side of the domain probe: find the registry's RDAP service in the bootstrap
//! registry (RFC 9224), ask it for the domain (`{base}domain/{name}`, RFC 9082) and read the
//! answer (RFC 9083, see `parse`).
//!
//! The bootstrap registry comes from `--rdap-bootstrap` (an `http(s)://` URL, fetched with the
//! probe's deadline and [`BOOTSTRAP_LIMIT`], or a local file in IANA's `dns.json` format), else
//! from [`BUILTIN_BOOTSTRAP`]: a few entries copied from IANA's registry for the generic TLDs
//! an agency might use. `.vn` has no entry in IANA's registry as far as we know (VNNIC
//! publishes no RDAP service), so for `.vn` names RDAP is `unavailable` and WHOIS is asked.
//! A fetched registry is kept in memory for [`BOOTSTRAP_TTL`], so a scan of many targets
//! fetches it once.
//!
//! Only the first base URL of the matching entry is asked (an `https` one if there is one); a
//! 404 is `not_found`; redirects are followed up to 5 times; proxies from the environment are
//! not used. Every request has the probe's deadline and a byte limit.

use std::collections::HashMap;
use std::error::Error as _;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use canhgac_policies::report::ProbeError;
use tokio::io::AsyncReadExt;

use super::DomainProbeConfig;
use super::parse::{self, Bootstrap, RdapProblem, Registration};
use crate::net;

/// Bootstrap entries used without `--rdap-bootstrap`: labels and base URL, as in IANA's
/// registry (checked against public copies of it, not live). Data, not logic: extend here.
pub const BUILTIN_BOOTSTRAP: &[(&[&str], &str)] = &[
    (&["com"], "https://rdap.verisign.com/com/v1/"),
    (&["net"], "https://rdap.verisign.com/net/v1/"),
    (&["org"], "https://rdap.publicinterestregistry.org/rdap/"),
];

/// Largest bootstrap registry read (IANA's `dns.json` is tens of KiB).
pub const BOOTSTRAP_LIMIT: usize = 2 * 1024 * 1024;
/// Largest RDAP domain answer read.
pub const ANSWER_LIMIT: usize = 1024 * 1024;
/// How long a fetched bootstrap registry is reused.
pub const BOOTSTRAP_TTL: Duration = Duration::from_secs(6 * 3600);

/// Looks `name` (a registrable domain, ASCII) up by RDAP. Errors carry the codes listed in the
/// probe's documentation (`unavailable`, `not_found`, `timeout`, `unparseable`...).
pub async fn lookup(name: &str, config: &DomainProbeConfig) -> Result<Registration, ProbeError> {
    let client = client(config.timeout)?;
    let (bootstrap, source) = match &config.rdap_bootstrap {
        Some(src) => (
            load_bootstrap(&client, src, config.timeout).await?,
            src.as_str(),
        ),
        None => (Arc::new(builtin_bootstrap()), "the built-in bootstrap"),
    };
    let Some(urls) = bootstrap.base_urls(name) else {
        return Err(ProbeError::new(
            "unavailable",
            format!(
                "no RDAP service for .{} in {source}",
                super::suffix::tld(name)
            ),
        ));
    };
    let base = &urls[0];
    let url = format!("{}/domain/{name}", base.trim_end_matches('/'));
    let (status, body) = fetch(&client, &url, ANSWER_LIMIT, config.timeout).await?;
    match status {
        200 => parse::rdap_domain(&body).map_err(|p| match p {
            RdapProblem::NotFound => not_found(&url),
            RdapProblem::Unparseable(why) => {
                ProbeError::new("unparseable", format!("{url}: {why}"))
            }
        }),
        404 => Err(not_found(&url)),
        other => Err(ProbeError::new(
            "http_status",
            format!("{url} answered HTTP {other}"),
        )),
    }
}

fn not_found(url: &str) -> ProbeError {
    ProbeError::new(
        "not_found",
        format!("{url}: the registry has no such domain (404)"),
    )
}

/// [`BUILTIN_BOOTSTRAP`] as a bootstrap registry.
pub fn builtin_bootstrap() -> Bootstrap {
    Bootstrap {
        services: BUILTIN_BOOTSTRAP
            .iter()
            .map(|(labels, url)| {
                (
                    labels.iter().map(|l| l.to_string()).collect(),
                    vec![url.to_string()],
                )
            })
            .collect(),
    }
}

fn client(timeout: Duration) -> Result<reqwest::Client, ProbeError> {
    reqwest::Client::builder()
        .no_proxy()
        .user_agent(concat!("canhgac-agent/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::limited(5))
        .connect_timeout(timeout)
        .timeout(timeout)
        .build()
        .map_err(|e| ProbeError::new("io", format!("cannot build the HTTP client: {e}")))
}

/// Fetched bootstrap registries by URL, with when they were fetched.
type BootstrapCache = HashMap<String, (Instant, Arc<Bootstrap>)>;

/// Loads the bootstrap registry from a URL (cached) or a file.
async fn load_bootstrap(
    client: &reqwest::Client,
    source: &str,
    timeout: Duration,
) -> Result<Arc<Bootstrap>, ProbeError> {
    static CACHE: OnceLock<Mutex<BootstrapCache>> = OnceLock::new();
    let is_url = source.starts_with("http://") || source.starts_with("https://");
    if is_url {
        let cache = CACHE.get_or_init(Default::default);
        if let Some((at, b)) = cache.lock().ok().and_then(|c| c.get(source).cloned())
            && at.elapsed() < BOOTSTRAP_TTL
        {
            return Ok(b);
        }
    }
    let body = if is_url {
        let (status, body) = fetch(client, source, BOOTSTRAP_LIMIT, timeout)
            .await
            .map_err(|e| ProbeError::new(e.code, format!("RDAP bootstrap: {}", e.message)))?;
        if status != 200 {
            return Err(ProbeError::new(
                "http_status",
                format!("RDAP bootstrap {source} answered HTTP {status}"),
            ));
        }
        body
    } else {
        read_file(source, timeout).await?
    };
    let bootstrap = Arc::new(
        parse::bootstrap(&body)
            .map_err(|why| ProbeError::new("unparseable", format!("{source}: {why}")))?,
    );
    if is_url && let Some(mut c) = CACHE.get().and_then(|c| c.lock().ok()) {
        c.insert(source.to_string(), (Instant::now(), bootstrap.clone()));
    }
    Ok(bootstrap)
}

async fn read_file(path: &str, timeout: Duration) -> Result<Vec<u8>, ProbeError> {
    let doing = format!("reading the RDAP bootstrap file {path}");
    let read = async {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| net::io_error(&e, &doing))?;
        let mut body = Vec::new();
        file.take(BOOTSTRAP_LIMIT as u64 + 1)
            .read_to_end(&mut body)
            .await
            .map_err(|e| net::io_error(&e, &doing))?;
        if body.len() > BOOTSTRAP_LIMIT {
            return Err(ProbeError::new(
                "too_large",
                format!("{path} is larger than {BOOTSTRAP_LIMIT} bytes"),
            ));
        }
        Ok(body)
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or_else(|_| Err(net::timeout_error(&doing, timeout)))
}

/// GETs `url` within `timeout` and at most `limit` bytes of body: the status and the body.
async fn fetch(
    client: &reqwest::Client,
    url: &str,
    limit: usize,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), ProbeError> {
    let doing = format!("GET {url}");
    let work = async {
        let mut response = client
            .get(url)
            .header(
                reqwest::header::ACCEPT,
                "application/rdap+json, application/json;q=0.9",
            )
            .send()
            .await
            .map_err(|e| http_error(&e, &doing))?;
        let status = response.status().as_u16();
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large(url, limit));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| http_error(&e, &doing))? {
            if body.len() + chunk.len() > limit {
                return Err(too_large(url, limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or_else(|_| Err(net::timeout_error(&doing, timeout)))
}

fn too_large(url: &str, limit: usize) -> ProbeError {
    ProbeError::new(
        "too_large",
        format!("{url}: the answer is larger than {limit} bytes"),
    )
}

/// Maps a reqwest failure to a report error, using the I/O error underneath when there is one.
fn http_error(e: &reqwest::Error, doing: &str) -> ProbeError {
    if e.is_timeout() {
        return ProbeError::new("timeout", format!("{doing}: {e}"));
    }
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return net::io_error(io, doing);
        }
        source = s.source();
    }
    let code = if e.is_connect() {
        "connection_failed"
    } else if e.is_redirect() {
        "too_many_redirects"
    } else {
        "protocol_violation"
    };
    let mut message = format!("{doing}: {e}");
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    ProbeError::new(code, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    fn config(bootstrap: Option<String>) -> DomainProbeConfig {
        DomainProbeConfig {
            rdap_bootstrap: bootstrap,
            whois_server: None,
            timeout: Duration::from_secs(2),
        }
    }

    /// A one-shot HTTP server on 127.0.0.1 answering every request with `response`.
    async fn http_once(response: Vec<u8>) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let response = response.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let _ = s.write_all(&response).await;
                    let _ = s.shutdown().await;
                });
            }
        });
        port
    }

    fn temp_file(name: &str, body: &str) -> String {
        let path = std::env::temp_dir().join(format!("canhgac-rdap-{}-{name}", std::process::id()));
        std::fs::write(&path, body).unwrap();
        path.to_string_lossy().into_owned()
    }

    #[test]
    fn builtin_bootstrap_has_no_vn() {
        let b = builtin_bootstrap();
        assert!(b.base_urls("dongnai.gov.vn").is_none());
        assert_eq!(
            b.base_urls("example.com").unwrap(),
            ["https://rdap.verisign.com/com/v1/"]
        );
    }

    #[tokio::test]
    async fn vn_is_unavailable_without_traffic() {
        let err = lookup("dongnai.gov.vn", &config(None)).await.unwrap_err();
        assert_eq!(err.code, "unavailable");
        assert!(err.message.contains(".vn"), "{}", err.message);
    }

    #[tokio::test]
    async fn bootstrap_file_and_domain_answer() {
        let body = r#"{"objectClassName":"domain","ldhName":"example.vn","events":[{"eventAction":"expiration","eventDate":"2031-01-01T00:00:00Z"}]}"#;
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/rdap+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let port = http_once(response.into_bytes()).await;
        let file = temp_file(
            "ok.json",
            &format!(r#"{{"services": [[["vn"], ["http://127.0.0.1:{port}/"]]]}}"#),
        );
        let reg = lookup("example.vn", &config(Some(file.clone())))
            .await
            .unwrap();
        assert_eq!(reg.expires, Some("2031-01-01T00:00:00Z".parse().unwrap()));
        let _ = std::fs::remove_file(file);
    }

    #[tokio::test]
    async fn answers_too_large_and_missing_files() {
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            ANSWER_LIMIT + 1
        );
        let port = http_once(response.into_bytes()).await;
        let file = temp_file(
            "big.json",
            &format!(r#"{{"services": [[["vn"], ["http://127.0.0.1:{port}"]]]}}"#),
        );
        let err = lookup("example.vn", &config(Some(file.clone())))
            .await
            .unwrap_err();
        assert_eq!(err.code, "too_large", "{err:?}");
        let _ = std::fs::remove_file(file);

        let err = lookup("example.vn", &config(Some("/nonexistent/dns.json".into())))
            .await
            .unwrap_err();
        assert_eq!(err.code, "io", "{err:?}");
        assert!(err.message.contains("/nonexistent/dns.json"));
    }

    #[tokio::test]
    async fn refused_bootstrap_url() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}/dns.json");
        let err = lookup("example.vn", &config(Some(url))).await.unwrap_err();
        assert_eq!(err.code, "connection_refused", "{err:?}");
        assert!(err.message.starts_with("RDAP bootstrap"), "{}", err.message);
    }
}
