//! A minimal real SMTP server on 127.0.0.1 for the DNS probe's mail-exchanger checks: the 220
//! greeting, EHLO (with or without STARTTLS among the extensions), STARTTLS upgrading to rustls
//! with a test-PKI certificate, NOOP, RSET and QUIT. It accepts no mail (MAIL and the rest get
//! 502): the scanner only looks at what a sending server would negotiate.
//!
//! Runs on the test kit's shared runtime like the other fixtures; lines and waits are bounded;
//! counters tell a test what the client did. Dropping the [`SmtpServer`] stops it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use rustls::server::ServerConfig;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use crate::background::{ServerHandle, bind_loopback};
use crate::pki::Leaf;

/// Longest a client may stay silent.
const IDLE: Duration = Duration::from_secs(10);
/// Longest command line read (RFC 5321: 512).
const MAX_LINE: u64 = 1024;
/// Commands served per connection at most.
const MAX_COMMANDS: usize = 100;

/// What clients did, for assertions.
#[derive(Debug, Default)]
pub struct SmtpStats {
    connections: AtomicUsize,
    ehlo: AtomicUsize,
    tls_handshakes: AtomicUsize,
    quits: AtomicUsize,
}

impl SmtpStats {
    /// TCP connections accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    /// EHLO commands received (before and after STARTTLS).
    pub fn ehlo(&self) -> usize {
        self.ehlo.load(Ordering::Relaxed)
    }

    /// TLS handshakes completed after STARTTLS.
    pub fn tls_handshakes(&self) -> usize {
        self.tls_handshakes.load(Ordering::Relaxed)
    }

    /// QUIT commands received.
    pub fn quits(&self) -> usize {
        self.quits.load(Ordering::Relaxed)
    }
}

/// Configuration of an [`SmtpServer`].
pub struct SmtpServerBuilder {
    hostname: String,
    tls: Option<Leaf>,
    advertise_starttls: bool,
}

impl SmtpServerBuilder {
    /// The name in the greeting and the EHLO answer (default `mx.example.gov.vn`).
    pub fn hostname(mut self, name: &str) -> Self {
        self.hostname = name.to_string();
        self
    }

    /// Offers STARTTLS with this certificate chain and key.
    pub fn starttls(mut self, leaf: Leaf) -> Self {
        self.tls = Some(leaf);
        self.advertise_starttls = true;
        self
    }

    /// Starts the server on 127.0.0.1 with a port chosen by the system.
    pub fn start(self) -> anyhow::Result<SmtpServer> {
        let acceptor = match &self.tls {
            Some(leaf) => {
                let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
                let config = ServerConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .context("TLS versions")?
                    .with_no_client_auth()
                    .with_single_cert(leaf.chain_der.clone(), leaf.key_der.clone_key())
                    .context("the SMTP server's certificate")?;
                Some(TlsAcceptor::from(Arc::new(config)))
            }
            None => None,
        };
        let stats = Arc::new(SmtpStats::default());
        let session = Arc::new(Session {
            hostname: self.hostname,
            advertise_starttls: self.advertise_starttls,
            acceptor,
            stats: stats.clone(),
        });
        let listener = bind_loopback().context("binding 127.0.0.1")?;
        let handle = ServerHandle::spawn(listener, move |stream| {
            let session = session.clone();
            async move {
                session.serve(stream).await;
            }
        })?;
        Ok(SmtpServer { handle, stats })
    }
}

/// A running SMTP server.
#[derive(Debug)]
pub struct SmtpServer {
    handle: ServerHandle,
    stats: Arc<SmtpStats>,
}

impl SmtpServer {
    /// A server to configure; by default it greets as `mx.example.gov.vn` and offers no
    /// STARTTLS.
    pub fn builder() -> SmtpServerBuilder {
        SmtpServerBuilder {
            hostname: "mx.example.gov.vn".into(),
            tls: None,
            advertise_starttls: false,
        }
    }

    /// A server offering STARTTLS with `leaf`.
    pub fn with_starttls(leaf: Leaf) -> SmtpServer {
        Self::builder()
            .starttls(leaf)
            .start()
            .expect("canhgac-testkit: SMTP server")
    }

    /// A server without STARTTLS.
    pub fn plain() -> SmtpServer {
        Self::builder()
            .start()
            .expect("canhgac-testkit: SMTP server")
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.handle.addr()
    }

    /// Its port, e.g. for `--smtp-port`.
    pub fn port(&self) -> u16 {
        self.handle.addr().port()
    }

    /// What clients did.
    pub fn stats(&self) -> &SmtpStats {
        &self.stats
    }
}

struct Session {
    hostname: String,
    advertise_starttls: bool,
    acceptor: Option<TlsAcceptor>,
    stats: Arc<SmtpStats>,
}

/// How a dialogue ended.
enum Next {
    Close,
    StartTls,
}

impl Session {
    async fn serve(&self, stream: TcpStream) {
        self.stats.connections.fetch_add(1, Ordering::Relaxed);
        let mut reader = BufReader::new(stream);
        let greeting = format!("220 {} ESMTP canhgac-testkit\r\n", self.hostname);
        if reader
            .get_mut()
            .write_all(greeting.as_bytes())
            .await
            .is_err()
        {
            return;
        }
        if !matches!(self.dialogue(&mut reader, false).await, Next::StartTls) {
            return;
        }
        let Some(acceptor) = &self.acceptor else {
            return;
        };
        let stream = reader.into_inner();
        let Ok(Ok(tls)) = tokio::time::timeout(IDLE, acceptor.accept(stream)).await else {
            return;
        };
        self.stats.tls_handshakes.fetch_add(1, Ordering::Relaxed);
        let mut reader = BufReader::new(tls);
        self.dialogue(&mut reader, true).await;
    }

    async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        reader: &mut BufReader<S>,
        in_tls: bool,
    ) -> Next {
        for _ in 0..MAX_COMMANDS {
            let mut line = Vec::new();
            let mut limited = (&mut *reader).take(MAX_LINE);
            match tokio::time::timeout(IDLE, limited.read_until(b'\n', &mut line)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return Next::Close,
            }
            let line = String::from_utf8_lossy(&line);
            let mut words = line.split_whitespace();
            let verb = words.next().unwrap_or("").to_ascii_uppercase();
            let (reply, next) = match verb.as_str() {
                "EHLO" => {
                    self.stats.ehlo.fetch_add(1, Ordering::Relaxed);
                    let client = words.next().unwrap_or("client");
                    let mut r = format!(
                        "250-{} greets {client}\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n",
                        self.hostname
                    );
                    if self.advertise_starttls && !in_tls {
                        r.push_str("250-STARTTLS\r\n");
                    }
                    r.push_str("250 8BITMIME\r\n");
                    (r, None)
                }
                "HELO" => (format!("250 {}\r\n", self.hostname), None),
                "NOOP" | "RSET" => ("250 2.0.0 OK\r\n".to_string(), None),
                "STARTTLS" if in_tls => ("503 5.5.1 TLS already active\r\n".to_string(), None),
                "STARTTLS" if self.acceptor.is_some() && self.advertise_starttls => (
                    "220 2.0.0 Ready to start TLS\r\n".to_string(),
                    Some(Next::StartTls),
                ),
                "QUIT" => {
                    self.stats.quits.fetch_add(1, Ordering::Relaxed);
                    ("221 2.0.0 Bye\r\n".to_string(), Some(Next::Close))
                }
                _ => ("502 5.5.2 Command not implemented\r\n".to_string(), None),
            };
            let stream = reader.get_mut();
            if stream.write_all(reply.as_bytes()).await.is_err() || stream.flush().await.is_err() {
                return Next::Close;
            }
            if let Some(next) = next {
                if matches!(next, Next::Close) {
                    let _ = stream.shutdown().await;
                }
                return next;
            }
        }
        Next::Close
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader as StdBufReader, Write};

    fn reply(reader: &mut StdBufReader<std::net::TcpStream>) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line.trim_end().to_string());
            if !more {
                return lines;
            }
        }
    }

    #[test]
    fn greets_lists_starttls_and_says_goodbye() {
        let leaf = crate::TestPki::shared().leaf(&["mx.example.gov.vn"]);
        let server = SmtpServer::with_starttls(leaf);
        let stream = std::net::TcpStream::connect(server.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut reader = StdBufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        assert!(reply(&mut reader)[0].starts_with("220 mx.example.gov.vn"));
        writer.write_all(b"EHLO test.invalid\r\n").unwrap();
        let ehlo = reply(&mut reader);
        assert!(ehlo.iter().any(|l| l == "250-STARTTLS"), "{ehlo:?}");
        writer.write_all(b"MAIL FROM:<a@b.example>\r\n").unwrap();
        assert!(reply(&mut reader)[0].starts_with("502"));
        writer.write_all(b"QUIT\r\n").unwrap();
        assert!(reply(&mut reader)[0].starts_with("221"));
        assert_eq!(server.stats().quits(), 1);
        assert_eq!(server.stats().ehlo(), 1);
    }

    #[test]
    fn a_plain_server_does_not_offer_starttls() {
        let server = SmtpServer::plain();
        let stream = std::net::TcpStream::connect(server.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut reader = StdBufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        reply(&mut reader);
        writer.write_all(b"EHLO test.invalid\r\n").unwrap();
        let ehlo = reply(&mut reader);
        assert!(!ehlo.iter().any(|l| l.contains("STARTTLS")), "{ehlo:?}");
        writer.write_all(b"STARTTLS\r\n").unwrap();
        assert!(reply(&mut reader)[0].starts_with("502"));
    }
}
