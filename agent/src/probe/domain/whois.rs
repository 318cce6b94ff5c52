//! The WHOIS side of the domain probe (RFC 3912), used when RDAP has no answer: send the name
//! and a CRLF on TCP port 43, read until the server closes the connection.
//!
//! The server is `--whois-server` (`host:port`, port 43 if left out), else the TLD's entry in
//! [`BUILTIN_SERVERS`]. That table is data: `.vn` has no entry with a server because, as far as
//! public sources tell (the `whois` client's server list and Net::Whois::Raw both mark `.vn` as
//! web-only), VNNIC offers its WHOIS only as a web page (its lookup page also forbids automated
//! queries), so without `--whois-server` a `.vn` name gets `unavailable`. Whether
//! `whois.vnnic.vn` or another port-43 service exists could not be verified from here.
//!
//! Limits and the never-closing server: the whole exchange (resolve, connect, send, read) has
//! one deadline, the probe's timeout, and the answer at most [`ANSWER_LIMIT`] bytes. WHOIS has
//! no framing but the close, so a server that stops sending without closing cannot be told
//! apart from a slow one: when the deadline passes, the exchange ends with a `timeout` error;
//! whatever arrived is still read and its fields reported, with the error kept beside them (a
//! record cut short is partial data, never a clean answer). The same holds when the limit is
//! reached (`too_large`).

use std::net::SocketAddr;
use std::time::Duration;

use canhgac_policies::report::ProbeError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::DomainProbeConfig;
use crate::net;

/// WHOIS servers by TLD; `None`: the registry offers no port-43 service (web only).
pub const BUILTIN_SERVERS: &[(&str, Option<&str>)] = &[
    ("com", Some("whois.verisign-grs.com")),
    ("net", Some("whois.verisign-grs.com")),
    ("org", Some("whois.pir.org")),
    // VNNIC: web lookup only (https://www.vnnic.vn/tenmien/), unverified beyond public lists.
    ("vn", None),
];

/// Largest WHOIS answer read.
pub const ANSWER_LIMIT: usize = 256 * 1024;

/// The well-known WHOIS port.
pub const PORT: u16 = 43;

/// What a WHOIS server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The server that answered, `host:port`.
    pub server: String,
    /// The answer, decoded as UTF-8 (invalid sequences replaced).
    pub text: String,
    /// Set when the answer may be incomplete: `timeout` (the server did not close in time) or
    /// `too_large`.
    pub cut_short: Option<ProbeError>,
}

/// The server to ask about `name`, as `(host, port)`.
pub fn server_for(name: &str, config: &DomainProbeConfig) -> Result<(String, u16), ProbeError> {
    if let Some(given) = &config.whois_server {
        return parse_server(given).ok_or_else(|| {
            ProbeError::new(
                "invalid_server",
                format!("--whois-server {given:?} is not HOST or HOST:PORT"),
            )
        });
    }
    let tld = super::suffix::tld(name);
    match BUILTIN_SERVERS.iter().find(|(t, _)| *t == tld) {
        Some((_, Some(host))) => Ok((host.to_string(), PORT)),
        Some((_, None)) => Err(ProbeError::new(
            "unavailable",
            format!(
                "the .{tld} registry offers no WHOIS service on port 43 (web lookup only); \
                 give one with --whois-server"
            ),
        )),
        None => Err(ProbeError::new(
            "unavailable",
            format!("no WHOIS server known for .{tld}; give one with --whois-server"),
        )),
    }
}

/// Reads `HOST`, `HOST:PORT`, `IPv4:PORT`, `[IPv6]:PORT` or a bare IPv6 address.
fn parse_server(text: &str) -> Option<(String, u16)> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some((addr.ip().to_string(), addr.port()));
    }
    if let Ok(ip) = text.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        return Some((ip.to_string(), PORT));
    }
    let (host, port) = match text.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (text, PORT),
    };
    let valid = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    (valid && port != 0).then(|| (host.to_string(), port))
}

/// Asks the WHOIS server for `name` (see the module documentation for limits).
pub async fn query(name: &str, config: &DomainProbeConfig) -> Result<Answer, ProbeError> {
    let (host, port) = server_for(name, config)?;
    let server = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let deadline = Instant::now() + config.timeout;
    let timeout = config.timeout;
    let addr = resolve(&host, port, deadline, timeout).await?;
    let left = deadline.saturating_duration_since(Instant::now());
    let mut stream = net::connect(addr, left).await.map_err(|e| {
        if e.code == "timeout" {
            ProbeError::new(
                "timeout",
                format!("WHOIS {server}: no connection within {timeout:?}"),
            )
        } else {
            ProbeError::new(e.code, format!("WHOIS {server}: {}", e.message))
        }
    })?;
    let send = async {
        stream.write_all(format!("{name}\r\n").as_bytes()).await?;
        stream.flush().await
    };
    match tokio::time::timeout_at(deadline, send).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return Err(net::io_error(
                &e,
                &format!("WHOIS {server}: sending the query"),
            ));
        }
        Err(_) => return Err(net::timeout_error(&format!("WHOIS {server}"), timeout)),
    }

    let mut body: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let cut_short = loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) => break None,
            Ok(Ok(n)) => {
                let room = ANSWER_LIMIT - body.len();
                body.extend_from_slice(&buf[..n.min(room)]);
                if n > room || body.len() >= ANSWER_LIMIT {
                    break Some(ProbeError::new(
                        "too_large",
                        format!(
                            "WHOIS {server}: the answer is longer than {ANSWER_LIMIT} bytes; read only that much"
                        ),
                    ));
                }
            }
            // A reset after data is how some servers end an answer.
            Ok(Err(e)) if !body.is_empty() && is_reset(&e) => break None,
            Ok(Err(e)) => {
                return Err(net::io_error(
                    &e,
                    &format!("WHOIS {server}: reading the answer"),
                ));
            }
            Err(_) if body.is_empty() => {
                return Err(ProbeError::new(
                    "timeout",
                    format!("WHOIS {server}: no answer within {timeout:?}"),
                ));
            }
            Err(_) => {
                break Some(ProbeError::new(
                    "timeout",
                    format!(
                        "WHOIS {server}: the server did not close the connection within {timeout:?} \
                         ({} bytes received; the record may be incomplete)",
                        body.len()
                    ),
                ));
            }
        }
    };
    Ok(Answer {
        server,
        text: String::from_utf8_lossy(&body).into_owned(),
        cut_short,
    })
}

fn is_reset(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
    )
}

async fn resolve(
    host: &str,
    port: u16,
    deadline: Instant,
    timeout: Duration,
) -> Result<SocketAddr, ProbeError> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    match tokio::time::timeout_at(deadline, tokio::net::lookup_host((host, port))).await {
        Ok(Ok(mut addrs)) => addrs.next().ok_or_else(|| {
            ProbeError::new(
                "resolve_failed",
                format!("WHOIS server {host} has no address"),
            )
        }),
        Ok(Err(e)) => Err(ProbeError::new(
            "resolve_failed",
            format!("cannot resolve the WHOIS server {host}: {e}"),
        )),
        Err(_) => Err(net::timeout_error(
            &format!("resolving the WHOIS server {host}"),
            timeout,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    fn config(server: Option<String>, timeout: Duration) -> DomainProbeConfig {
        DomainProbeConfig {
            rdap_bootstrap: None,
            whois_server: server,
            timeout,
        }
    }

    /// A WHOIS server on 127.0.0.1 that reads the query line, sends `answer` and then closes
    /// (or, with `hold`, keeps the connection open). Returns the address and the query seen.
    async fn server(
        answer: Vec<u8>,
        hold: bool,
    ) -> (String, tokio::sync::oneshot::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut line = Vec::new();
            let mut byte = [0u8; 1];
            while s.read(&mut byte).await.unwrap_or(0) == 1 && byte[0] != b'\n' {
                line.push(byte[0]);
            }
            let _ = tx.send(String::from_utf8_lossy(&line).into_owned());
            let _ = s.write_all(&answer).await;
            if hold {
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        });
        (addr, rx)
    }

    #[test]
    fn servers() {
        let c = config(None, Duration::from_secs(1));
        assert_eq!(
            server_for("example.com", &c).unwrap(),
            ("whois.verisign-grs.com".to_string(), 43)
        );
        assert_eq!(
            server_for("dongnai.gov.vn", &c).unwrap_err().code,
            "unavailable"
        );
        assert_eq!(
            server_for("example.zz", &c).unwrap_err().code,
            "unavailable"
        );
        for (given, want) in [
            ("127.0.0.1:4343", Some(("127.0.0.1", 4343))),
            ("[::1]:4343", Some(("::1", 4343))),
            ("::1", Some(("::1", 43))),
            ("whois.example", Some(("whois.example", 43))),
            ("whois.example:4343", Some(("whois.example", 4343))),
            ("whois.example:0", None),
            ("whois.example:x", None),
            ("", None),
            ("a b:43", None),
        ] {
            assert_eq!(
                parse_server(given),
                want.map(|(h, p)| (h.to_string(), p)),
                "{given}"
            );
        }
    }

    #[tokio::test]
    async fn reads_until_close() {
        let (addr, query_seen) = server(
            b"Registry Expiry Date: 2030-01-01T00:00:00Z\r\n".to_vec(),
            false,
        )
        .await;
        let answer = query("example.vn", &config(Some(addr), Duration::from_secs(2)))
            .await
            .unwrap();
        assert_eq!(query_seen.await.unwrap(), "example.vn\r");
        assert!(answer.text.contains("2030-01-01"));
        assert_eq!(answer.cut_short, None);
    }

    #[tokio::test]
    async fn a_server_that_never_closes_is_cut_at_the_deadline() {
        let (addr, _) = server(b"Expired Date: 22-01-2030\n".to_vec(), true).await;
        let started = std::time::Instant::now();
        let answer = query(
            "example.vn",
            &config(Some(addr), Duration::from_millis(500)),
        )
        .await
        .unwrap();
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(answer.cut_short.unwrap().code, "timeout");
        assert!(answer.text.contains("22-01-2030"));

        let (addr, _) = server(Vec::new(), true).await;
        let err = query(
            "example.vn",
            &config(Some(addr), Duration::from_millis(500)),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code, "timeout");
        assert!(err.message.contains("no answer"), "{}", err.message);
    }

    #[tokio::test]
    async fn long_answers_are_cut_at_the_limit() {
        let (addr, _) = server(vec![b'x'; ANSWER_LIMIT + 10_000], true).await;
        let answer = query("example.vn", &config(Some(addr), Duration::from_secs(5)))
            .await
            .unwrap();
        assert_eq!(answer.cut_short.unwrap().code, "too_large");
        assert_eq!(answer.text.len(), ANSWER_LIMIT);
    }

    #[tokio::test]
    async fn refused() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = query(
            "example.vn",
            &config(Some(format!("127.0.0.1:{port}")), Duration::from_secs(2)),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code, "connection_refused", "{err:?}");
        assert!(
            err.message.starts_with("WHOIS 127.0.0.1:"),
            "{}",
            err.message
        );
    }
}
