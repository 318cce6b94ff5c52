//! A small real SMTP server on 127.0.0.1, in two roles.
//!
//! **Mail-exchanger stand-in** (the default, for the DNS probe's MX checks): the 220 greeting,
//! EHLO (with or without STARTTLS among the extensions), STARTTLS upgrading to rustls with a
//! test-PKI certificate, NOOP, RSET and QUIT. It accepts no mail (MAIL and the rest get 502):
//! the scanner only looks at what a sending server would negotiate.
//!
//! **Mail sink** (with [`SmtpServerBuilder::accept_mail`], for the server's alert e-mails): MAIL,
//! RCPT and DATA with dot-unstuffing and a bounded message size (advertised as SIZE, 10 MiB by
//! default), 8BITMIME, SMTPUTF8, PIPELINING and ENHANCEDSTATUSCODES advertised, RSET between
//! messages on one connection. Optionally:
//! - [`SmtpServerBuilder::auth`]: AUTH PLAIN and AUTH LOGIN, advertised only once the session is
//!   encrypted (after STARTTLS, or on an implicit-TLS server); MAIL before a successful AUTH gets
//!   530, wrong credentials 535, AUTH on a clear-text session 538;
//! - [`SmtpServerBuilder::starttls`] or [`SmtpServerBuilder::implicit_tls`] (TLS from the first
//!   byte, like port 465).
//!
//! Each accepted message is parsed into a [`ReceivedMessage`] ([`SmtpServer::messages`],
//! [`SmtpServer::wait_for_messages`]). Faults are switched at run time with
//! [`SmtpServer::set_mode`] (see [`SmtpMode`]): refuse transactions with 451, refuse connections
//! with 421, or hold a message after its final `.` without ever answering, so that a client
//! killed mid-send provably saw no 250. A held message is not received: it is stored only if a
//! later mode accepts it while the connection is still open.
//!
//! Runs on the test kit's shared runtime like the other fixtures; command lines (1 KiB), DATA
//! lines (read in 64 KiB pieces), commands per connection and silences (10 s) are bounded;
//! counters ([`SmtpStats`]) tell a test what the client did. Dropping the [`SmtpServer`] stops
//! it and drops every open connection, held ones included.
//!
//! ```no_run
//! use std::time::Duration;
//! use canhgac_testkit::{SmtpServer, TestPki};
//! use canhgac_testkit::smtp_server::SmtpMode;
//!
//! let smtp = SmtpServer::builder()
//!     .starttls(TestPki::shared().localhost())
//!     .accept_mail()
//!     .auth("canhgac", "mật-khẩu")
//!     .start()
//!     .unwrap();
//! // ... point the sender at smtp.port() and trigger an alert ...
//! let messages = smtp.wait_for_messages(1, Duration::from_secs(10)).unwrap();
//! assert_eq!(messages[0].rcpt_to, ["officer@example.gov.vn"]);
//! smtp.set_mode(SmtpMode::RefuseTransient); // the next MAIL FROM gets 451
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rustls::server::ServerConfig;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::background::{ServerHandle, bind_loopback};
use crate::mail::ReceivedMessage;
use crate::pki::Leaf;

/// Longest a client may stay silent.
const IDLE: Duration = Duration::from_secs(10);
/// Longest command line read (RFC 5321: 512).
const MAX_LINE: u64 = 1024;
/// Commands served per connection at most (a reused connection sends about five per message).
const MAX_COMMANDS: usize = 1000;
/// Longest piece of a DATA line read at once; longer lines are read in several pieces.
const DATA_PIECE: u64 = 64 * 1024;
/// Recipients per transaction at most (RFC 5321 section 4.5.3.1.8 asks for at least 100).
const MAX_RECIPIENTS: usize = 100;
/// How often [`SmtpServer::wait_for_messages`] looks.
const POLL: Duration = Duration::from_millis(20);

/// Largest message accepted unless [`SmtpServerBuilder::max_message_size`] says otherwise.
pub const DEFAULT_MAX_MESSAGE: usize = 10 * 1024 * 1024;

/// How a mail-accepting server treats clients, switched at run time with
/// [`SmtpServer::set_mode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SmtpMode {
    /// Accept every message (the default).
    #[default]
    Accept,
    /// Answer MAIL FROM (and a DATA terminator) with `451 4.3.0 try again later`; nothing is
    /// stored.
    RefuseTransient,
    /// Greet new connections with `421 4.3.2 service not available` and close them; open
    /// sessions get the same at their next MAIL FROM or DATA terminator.
    RefuseConnect,
    /// After a message's final `.`, answer nothing until the mode changes (the message is then
    /// settled by the new mode) or the connection drops (the message is discarded).
    Hold,
    /// Accept the next `n` messages, then switch to [`SmtpMode::Hold`] (0: hold at once).
    AcceptThenHold(usize),
}

/// What clients did, for assertions.
#[derive(Debug, Default)]
pub struct SmtpStats {
    connections: AtomicUsize,
    connections_refused: AtomicUsize,
    ehlo: AtomicUsize,
    tls_handshakes: AtomicUsize,
    auth_successes: AtomicUsize,
    auth_failures: AtomicUsize,
    messages_accepted: AtomicUsize,
    messages_held: AtomicUsize,
    held_discarded: AtomicUsize,
    transactions_refused: AtomicUsize,
    quits: AtomicUsize,
}

impl SmtpStats {
    /// TCP connections accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    /// Connections greeted with 421 ([`SmtpMode::RefuseConnect`]).
    pub fn connections_refused(&self) -> usize {
        self.connections_refused.load(Ordering::Relaxed)
    }

    /// EHLO commands received (before and after STARTTLS).
    pub fn ehlo(&self) -> usize {
        self.ehlo.load(Ordering::Relaxed)
    }

    /// TLS handshakes completed (after STARTTLS or on an implicit-TLS server).
    pub fn tls_handshakes(&self) -> usize {
        self.tls_handshakes.load(Ordering::Relaxed)
    }

    /// AUTH exchanges that ended with 235.
    pub fn auth_successes(&self) -> usize {
        self.auth_successes.load(Ordering::Relaxed)
    }

    /// AUTH exchanges that ended with 535 (wrong credentials).
    pub fn auth_failures(&self) -> usize {
        self.auth_failures.load(Ordering::Relaxed)
    }

    /// Messages accepted with 250 (each is in [`SmtpServer::messages`]).
    pub fn messages_accepted(&self) -> usize {
        self.messages_accepted.load(Ordering::Relaxed)
    }

    /// Messages whose final `.` was met by [`SmtpMode::Hold`] (whatever became of them).
    pub fn messages_held(&self) -> usize {
        self.messages_held.load(Ordering::Relaxed)
    }

    /// Held messages discarded because their connection dropped (the sender never saw 250).
    pub fn held_discarded(&self) -> usize {
        self.held_discarded.load(Ordering::Relaxed)
    }

    /// MAIL FROM commands and DATA terminators refused by the mode (451 or 421).
    pub fn transactions_refused(&self) -> usize {
        self.transactions_refused.load(Ordering::Relaxed)
    }

    /// QUIT commands received.
    pub fn quits(&self) -> usize {
        self.quits.load(Ordering::Relaxed)
    }
}

fn bump(counter: &AtomicUsize) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Configuration of an [`SmtpServer`].
pub struct SmtpServerBuilder {
    hostname: String,
    tls: Option<Leaf>,
    advertise_starttls: bool,
    implicit_tls: bool,
    accept_mail: bool,
    auth: Option<(String, String)>,
    max_message: usize,
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
        self.implicit_tls = false;
        self
    }

    /// Speaks TLS from the first byte with this certificate chain and key, like port 465
    /// (instead of STARTTLS).
    pub fn implicit_tls(mut self, leaf: Leaf) -> Self {
        self.tls = Some(leaf);
        self.advertise_starttls = false;
        self.implicit_tls = true;
        self
    }

    /// Accepts mail: MAIL, RCPT and DATA, messages stored as [`ReceivedMessage`]s.
    pub fn accept_mail(mut self) -> Self {
        self.accept_mail = true;
        self
    }

    /// Requires AUTH PLAIN or AUTH LOGIN with these credentials before MAIL. AUTH is offered
    /// only on an encrypted session, so pair this with [`Self::starttls`] or
    /// [`Self::implicit_tls`].
    pub fn auth(mut self, user: &str, password: &str) -> Self {
        self.auth = Some((user.to_string(), password.to_string()));
        self
    }

    /// The largest message accepted, in bytes after dot-unstuffing (default
    /// [`DEFAULT_MAX_MESSAGE`]); larger ones get 552.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message = bytes;
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
        let shared = Arc::new(Shared {
            stats: SmtpStats::default(),
            mode: watch::Sender::new(SmtpMode::Accept),
            messages: Mutex::new(Vec::new()),
        });
        let session = Arc::new(Session {
            hostname: self.hostname,
            advertise_starttls: self.advertise_starttls,
            implicit_tls: self.implicit_tls,
            accept_mail: self.accept_mail,
            auth: self.auth,
            max_message: self.max_message,
            acceptor,
            shared: shared.clone(),
        });
        let listener = bind_loopback().context("binding 127.0.0.1")?;
        let handle = ServerHandle::spawn(listener, move |stream| {
            let session = session.clone();
            async move {
                session.serve(stream).await;
            }
        })?;
        Ok(SmtpServer { handle, shared })
    }
}

/// A running SMTP server.
#[derive(Debug)]
pub struct SmtpServer {
    handle: ServerHandle,
    shared: Arc<Shared>,
}

impl SmtpServer {
    /// A server to configure; by default it greets as `mx.example.gov.vn`, offers no STARTTLS,
    /// asks for no AUTH and accepts no mail.
    pub fn builder() -> SmtpServerBuilder {
        SmtpServerBuilder {
            hostname: "mx.example.gov.vn".into(),
            tls: None,
            advertise_starttls: false,
            implicit_tls: false,
            accept_mail: false,
            auth: None,
            max_message: DEFAULT_MAX_MESSAGE,
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
        &self.shared.stats
    }

    /// Switches how clients are treated from now on; messages being held are settled by the
    /// new mode.
    pub fn set_mode(&self, mode: SmtpMode) {
        let mode = match mode {
            SmtpMode::AcceptThenHold(0) => SmtpMode::Hold,
            other => other,
        };
        self.shared.mode.send_replace(mode);
    }

    /// The current mode (an [`SmtpMode::AcceptThenHold`] counts down, then reads `Hold`).
    pub fn mode(&self) -> SmtpMode {
        *self.shared.mode.borrow()
    }

    /// Accepts the next `n` messages, then holds: `set_mode(SmtpMode::AcceptThenHold(n))`.
    pub fn accept_then_hold(&self, n: usize) {
        self.set_mode(SmtpMode::AcceptThenHold(n));
    }

    /// The messages accepted so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        self.shared.messages().clone()
    }

    /// Waits (blocking the calling thread, polling) until at least `n` messages were accepted
    /// and returns all of them; after `timeout`, an error listing what did arrive.
    pub fn wait_for_messages(
        &self,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<ReceivedMessage>> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let messages = self.shared.messages();
                if messages.len() >= n {
                    return Ok(messages.clone());
                }
                if Instant::now() >= deadline {
                    let got: Vec<String> = messages
                        .iter()
                        .map(|m| {
                            format!(
                                "<{}> to {:?}: {:?}",
                                m.mail_from,
                                m.rcpt_to,
                                m.subject.as_deref().unwrap_or("(no subject)")
                            )
                        })
                        .collect();
                    let stats = self.stats();
                    anyhow::bail!(
                        "{} of {n} messages after {timeout:?} ({} connections, {} refused \
                         transactions, {} held, mode {:?}): {got:?}",
                        messages.len(),
                        stats.connections(),
                        stats.transactions_refused(),
                        stats.messages_held(),
                        self.mode(),
                    );
                }
            }
            std::thread::sleep(POLL);
        }
    }
}

/// State shared by the server handle and its connections.
#[derive(Debug)]
struct Shared {
    stats: SmtpStats,
    /// The mode; its receivers wake held messages when it changes.
    mode: watch::Sender<SmtpMode>,
    messages: Mutex<Vec<ReceivedMessage>>,
}

/// What becomes of a message whose final `.` arrived.
enum Verdict {
    Accept,
    RefuseTransient,
    RefuseConnect,
    Hold,
}

impl Shared {
    fn messages(&self) -> std::sync::MutexGuard<'_, Vec<ReceivedMessage>> {
        self.messages.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn mode(&self) -> SmtpMode {
        *self.mode.borrow()
    }

    /// Settles one message by the mode, counting an [`SmtpMode::AcceptThenHold`] down.
    fn verdict(&self) -> Verdict {
        let mut verdict = Verdict::Hold;
        self.mode.send_if_modified(|mode| match *mode {
            SmtpMode::Accept => {
                verdict = Verdict::Accept;
                false
            }
            SmtpMode::RefuseTransient => {
                verdict = Verdict::RefuseTransient;
                false
            }
            SmtpMode::RefuseConnect => {
                verdict = Verdict::RefuseConnect;
                false
            }
            SmtpMode::Hold => false,
            SmtpMode::AcceptThenHold(0) => {
                *mode = SmtpMode::Hold;
                true
            }
            SmtpMode::AcceptThenHold(n) => {
                verdict = Verdict::Accept;
                *mode = if n == 1 {
                    SmtpMode::Hold
                } else {
                    SmtpMode::AcceptThenHold(n - 1)
                };
                true
            }
        });
        verdict
    }
}

struct Session {
    hostname: String,
    advertise_starttls: bool,
    implicit_tls: bool,
    accept_mail: bool,
    auth: Option<(String, String)>,
    max_message: usize,
    acceptor: Option<TlsAcceptor>,
    shared: Arc<Shared>,
}

/// How a dialogue ended.
enum Next {
    Close,
    StartTls,
}

/// What the dialogue does after a command.
enum Flow {
    Continue,
    Close,
    StartTls,
}

/// One dialogue's state (a STARTTLS starts a new one, as RFC 3207 requires).
struct Dialogue {
    in_tls: bool,
    authenticated: bool,
    envelope: Option<Envelope>,
}

struct Envelope {
    mail_from: String,
    rcpt_to: Vec<String>,
}

/// What the DATA phase delivered.
enum Data {
    Message(Vec<u8>),
    TooBig,
    Closed,
}

const REFUSE_TRANSIENT: &str = "451 4.3.0 try again later\r\n";
const REFUSE_CONNECT: &str = "421 4.3.2 service not available\r\n";
const AUTH_CANCELLED: &str = "501 5.7.0 Authentication cancelled\r\n";
const AUTH_UNREADABLE: &str = "501 5.5.2 Cannot decode the response\r\n";

impl Session {
    async fn serve(&self, stream: TcpStream) {
        bump(&self.shared.stats.connections);
        if self.implicit_tls {
            let Some(tls) = self.handshake(stream).await else {
                return;
            };
            let mut reader = BufReader::new(tls);
            if self.greet(&mut reader).await {
                self.dialogue(&mut reader, true).await;
            }
            return;
        }
        let mut reader = BufReader::new(stream);
        if !self.greet(&mut reader).await {
            return;
        }
        if !matches!(self.dialogue(&mut reader, false).await, Next::StartTls) {
            return;
        }
        // Anything the client sent after STARTTLS before the handshake is dropped here.
        let Some(tls) = self.handshake(reader.into_inner()).await else {
            return;
        };
        let mut reader = BufReader::new(tls);
        self.dialogue(&mut reader, true).await;
    }

    async fn handshake(&self, stream: TcpStream) -> Option<TlsStream<TcpStream>> {
        let acceptor = self.acceptor.as_ref()?;
        let Ok(Ok(tls)) = tokio::time::timeout(IDLE, acceptor.accept(stream)).await else {
            return None;
        };
        bump(&self.shared.stats.tls_handshakes);
        Some(tls)
    }

    /// Sends the greeting; false when the connection is refused or gone.
    async fn greet<S: AsyncRead + AsyncWrite + Unpin>(&self, reader: &mut BufReader<S>) -> bool {
        if self.shared.mode() == SmtpMode::RefuseConnect {
            bump(&self.shared.stats.connections_refused);
            if send(reader, REFUSE_CONNECT).await {
                close(reader).await;
            }
            return false;
        }
        let greeting = format!("220 {} ESMTP canhgac-testkit\r\n", self.hostname);
        send(reader, &greeting).await
    }

    async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        reader: &mut BufReader<S>,
        in_tls: bool,
    ) -> Next {
        let mut dialogue = Dialogue {
            in_tls,
            authenticated: false,
            envelope: None,
        };
        let d = &mut dialogue;
        for _ in 0..MAX_COMMANDS {
            let Some(line) = read_line(reader).await else {
                return Next::Close;
            };
            let line = line.trim();
            let (verb, arg) = line
                .split_once(char::is_whitespace)
                .map_or((line, ""), |(v, a)| (v, a.trim()));
            let flow = match verb.to_ascii_uppercase().as_str() {
                "EHLO" => {
                    bump(&self.shared.stats.ehlo);
                    d.envelope = None;
                    answer(reader, &self.ehlo_reply(arg, d.in_tls)).await
                }
                "HELO" => {
                    d.envelope = None;
                    answer(reader, &format!("250 {}\r\n", self.hostname)).await
                }
                "NOOP" => answer(reader, "250 2.0.0 OK\r\n").await,
                "RSET" => {
                    d.envelope = None;
                    answer(reader, "250 2.0.0 OK\r\n").await
                }
                "STARTTLS" if d.in_tls => answer(reader, "503 5.5.1 TLS already active\r\n").await,
                "STARTTLS" if self.acceptor.is_some() && self.advertise_starttls => {
                    if send(reader, "220 2.0.0 Ready to start TLS\r\n").await {
                        Flow::StartTls
                    } else {
                        Flow::Close
                    }
                }
                "AUTH" if self.auth.is_some() => self.auth(reader, d, arg).await,
                "MAIL" if self.accept_mail => self.mail(reader, d, arg).await,
                "RCPT" if self.accept_mail => rcpt(reader, d, arg).await,
                "DATA" if self.accept_mail => self.data(reader, d).await,
                "QUIT" => {
                    bump(&self.shared.stats.quits);
                    send(reader, "221 2.0.0 Bye\r\n").await;
                    Flow::Close
                }
                _ => answer(reader, "502 5.5.2 Command not implemented\r\n").await,
            };
            match flow {
                Flow::Continue => {}
                Flow::StartTls => return Next::StartTls,
                Flow::Close => {
                    close(reader).await;
                    return Next::Close;
                }
            }
        }
        Next::Close
    }

    fn ehlo_reply(&self, client: &str, in_tls: bool) -> String {
        let client = client.split_whitespace().next().unwrap_or("client");
        let mut lines = vec![
            format!("{} greets {client}", self.hostname),
            "PIPELINING".to_string(),
            format!("SIZE {}", self.max_message),
        ];
        if self.advertise_starttls && !in_tls {
            lines.push("STARTTLS".into());
        }
        if self.auth.is_some() && in_tls {
            lines.push("AUTH PLAIN LOGIN".into());
        }
        if self.accept_mail {
            lines.push("ENHANCEDSTATUSCODES".into());
        }
        lines.push("8BITMIME".into());
        if self.accept_mail {
            lines.push("SMTPUTF8".into());
        }
        let last = lines.len() - 1;
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("250{}{l}\r\n", if i == last { ' ' } else { '-' }))
            .collect()
    }

    /// AUTH PLAIN (initial response or 334 challenge) and AUTH LOGIN (RFC 4954).
    async fn auth<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        reader: &mut BufReader<S>,
        d: &mut Dialogue,
        arg: &str,
    ) -> Flow {
        let Some((user, password)) = &self.auth else {
            return answer(reader, "502 5.5.2 Command not implemented\r\n").await;
        };
        if !d.in_tls {
            let reply = "538 5.7.11 Encryption required for requested authentication mechanism\r\n";
            return answer(reader, reply).await;
        }
        if d.authenticated {
            return answer(reader, "503 5.5.1 Already authenticated\r\n").await;
        }
        if d.envelope.is_some() {
            return answer(
                reader,
                "503 5.5.1 AUTH not allowed during a mail transaction\r\n",
            )
            .await;
        }
        let mut words = arg.split_whitespace();
        let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
        let initial = words.next().map(String::from);
        let (authcid, secret) = match mechanism.as_str() {
            "PLAIN" => {
                let response = match initial {
                    Some(response) => response,
                    None => match challenge(reader, "").await {
                        Some(response) => response,
                        None => return Flow::Close,
                    },
                };
                if response == "*" {
                    return answer(reader, AUTH_CANCELLED).await;
                }
                let Some(decoded) = decode_base64(&response) else {
                    return answer(reader, AUTH_UNREADABLE).await;
                };
                let fields: Vec<&[u8]> = decoded.split(|&b| b == 0).collect();
                let [authzid, authcid, secret] = fields[..] else {
                    return answer(reader, AUTH_UNREADABLE).await;
                };
                if !authzid.is_empty() && authzid != authcid {
                    (Vec::new(), Vec::new())
                } else {
                    (authcid.to_vec(), secret.to_vec())
                }
            }
            "LOGIN" => {
                let response = match initial {
                    Some(response) => response,
                    None => match challenge(reader, "VXNlcm5hbWU6").await {
                        Some(response) => response,
                        None => return Flow::Close,
                    },
                };
                if response == "*" {
                    return answer(reader, AUTH_CANCELLED).await;
                }
                let Some(authcid) = decode_base64(&response) else {
                    return answer(reader, AUTH_UNREADABLE).await;
                };
                let Some(response) = challenge(reader, "UGFzc3dvcmQ6").await else {
                    return Flow::Close;
                };
                if response == "*" {
                    return answer(reader, AUTH_CANCELLED).await;
                }
                let Some(secret) = decode_base64(&response) else {
                    return answer(reader, AUTH_UNREADABLE).await;
                };
                (authcid, secret)
            }
            _ => {
                let reply = "504 5.5.4 Unrecognized authentication mechanism\r\n";
                return answer(reader, reply).await;
            }
        };
        if authcid == user.as_bytes() && secret == password.as_bytes() {
            d.authenticated = true;
            bump(&self.shared.stats.auth_successes);
            answer(reader, "235 2.7.0 Authentication successful\r\n").await
        } else {
            bump(&self.shared.stats.auth_failures);
            answer(reader, "535 5.7.8 Authentication credentials invalid\r\n").await
        }
    }

    async fn mail<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        reader: &mut BufReader<S>,
        d: &mut Dialogue,
        arg: &str,
    ) -> Flow {
        if self.auth.is_some() && !d.authenticated {
            return answer(reader, "530 5.7.0 Authentication required\r\n").await;
        }
        if d.envelope.is_some() {
            return answer(reader, "503 5.5.1 Nested MAIL command\r\n").await;
        }
        let Some((mail_from, params)) = path_argument(arg, "FROM:") else {
            return answer(reader, "501 5.5.4 Syntax: MAIL FROM:<address>\r\n").await;
        };
        let declared = params.split_whitespace().find_map(|p| {
            let (key, value) = p.split_once('=')?;
            key.eq_ignore_ascii_case("SIZE")
                .then(|| value.parse::<usize>().ok())
                .flatten()
        });
        if declared.is_some_and(|size| size > self.max_message) {
            let reply = "552 5.3.4 Message size exceeds fixed maximum message size\r\n";
            return answer(reader, reply).await;
        }
        match self.shared.mode() {
            SmtpMode::RefuseTransient => {
                bump(&self.shared.stats.transactions_refused);
                answer(reader, REFUSE_TRANSIENT).await
            }
            SmtpMode::RefuseConnect => {
                bump(&self.shared.stats.transactions_refused);
                send(reader, REFUSE_CONNECT).await;
                Flow::Close
            }
            SmtpMode::Accept | SmtpMode::Hold | SmtpMode::AcceptThenHold(_) => {
                d.envelope = Some(Envelope {
                    mail_from,
                    rcpt_to: Vec::new(),
                });
                answer(reader, "250 2.1.0 OK\r\n").await
            }
        }
    }

    async fn data<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        reader: &mut BufReader<S>,
        d: &mut Dialogue,
    ) -> Flow {
        let Some(envelope) = d.envelope.take() else {
            return answer(reader, "503 5.5.1 MAIL first\r\n").await;
        };
        if envelope.rcpt_to.is_empty() {
            d.envelope = Some(envelope);
            return answer(reader, "503 5.5.1 RCPT first\r\n").await;
        }
        if !send(reader, "354 Start mail input; end with <CRLF>.<CRLF>\r\n").await {
            return Flow::Close;
        }
        let raw = match read_data(reader, self.max_message).await {
            Data::Message(raw) => raw,
            Data::TooBig => {
                let reply = "552 5.3.4 Message size exceeds fixed maximum message size\r\n";
                return answer(reader, reply).await;
            }
            Data::Closed => return Flow::Close,
        };
        match self.settle(reader).await {
            None => Flow::Close,
            Some(Verdict::Accept) => {
                let message = ReceivedMessage::parse(envelope.mail_from, envelope.rcpt_to, raw);
                let queued = {
                    let mut messages = self.shared.messages();
                    messages.push(message);
                    messages.len()
                };
                bump(&self.shared.stats.messages_accepted);
                answer(reader, &format!("250 2.0.0 OK queued as {queued}\r\n")).await
            }
            Some(Verdict::RefuseTransient) => {
                bump(&self.shared.stats.transactions_refused);
                answer(reader, REFUSE_TRANSIENT).await
            }
            Some(Verdict::RefuseConnect) => {
                bump(&self.shared.stats.transactions_refused);
                send(reader, REFUSE_CONNECT).await;
                Flow::Close
            }
            Some(Verdict::Hold) => Flow::Close,
        }
    }

    /// The verdict on a message whose final `.` arrived: at once, or once a held message is
    /// released by a change of mode. `None` when the connection dropped while held.
    async fn settle<S: AsyncRead + Unpin>(&self, reader: &mut BufReader<S>) -> Option<Verdict> {
        // Subscribed before the first look, so no change of mode can slip in between.
        let mut changes = self.shared.mode.subscribe();
        let mut counted = false;
        let mut watch_peer = true;
        loop {
            let verdict = self.shared.verdict();
            if !matches!(verdict, Verdict::Hold) {
                return Some(verdict);
            }
            if !counted {
                bump(&self.shared.stats.messages_held);
                counted = true;
            }
            tokio::select! {
                changed = changes.changed() => changed.ok()?,
                closed = async { reader.fill_buf().await.map(|b| b.is_empty()) }, if watch_peer => {
                    match closed {
                        // The client spoke out of turn: keep holding, stop watching its side.
                        Ok(false) => watch_peer = false,
                        // The connection dropped: the held message is discarded.
                        Ok(true) | Err(_) => {
                            bump(&self.shared.stats.held_discarded);
                            return None;
                        }
                    }
                }
            }
        }
    }
}

async fn rcpt<S: AsyncRead + AsyncWrite + Unpin>(
    reader: &mut BufReader<S>,
    d: &mut Dialogue,
    arg: &str,
) -> Flow {
    let Some(envelope) = d.envelope.as_mut() else {
        return answer(reader, "503 5.5.1 MAIL first\r\n").await;
    };
    let Some((address, _params)) = path_argument(arg, "TO:") else {
        return answer(reader, "501 5.5.4 Syntax: RCPT TO:<address>\r\n").await;
    };
    if address.is_empty() {
        return answer(reader, "501 5.1.3 Bad recipient address syntax\r\n").await;
    }
    if envelope.rcpt_to.len() >= MAX_RECIPIENTS {
        return answer(reader, "452 4.5.3 Too many recipients\r\n").await;
    }
    envelope.rcpt_to.push(address);
    answer(reader, "250 2.1.5 OK\r\n").await
}

/// `FROM:<path> params` (keyword case-insensitive, a space after the colon tolerated): the
/// path without brackets and the parameters.
fn path_argument<'a>(arg: &'a str, keyword: &str) -> Option<(String, &'a str)> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start().strip_prefix('<')?;
    let end = rest.find('>')?;
    Some((rest[..end].to_string(), rest[end + 1..].trim()))
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    mail_parser::decoders::base64::base64_decode(text.trim().as_bytes())
}

/// Reads a command line (bounded, within the idle timeout), without its line break.
async fn read_line<S: AsyncRead + Unpin>(reader: &mut BufReader<S>) -> Option<String> {
    let mut line = Vec::new();
    let mut limited = (&mut *reader).take(MAX_LINE);
    match tokio::time::timeout(IDLE, limited.read_until(b'\n', &mut line)).await {
        Ok(Ok(n)) if n > 0 => {}
        _ => return None,
    }
    let line = String::from_utf8_lossy(&line);
    Some(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Sends `334 prompt` and reads the client's answer.
async fn challenge<S: AsyncRead + AsyncWrite + Unpin>(
    reader: &mut BufReader<S>,
    prompt: &str,
) -> Option<String> {
    if !send(reader, &format!("334 {prompt}\r\n")).await {
        return None;
    }
    read_line(reader).await.map(|l| l.trim().to_string())
}

/// Reads the DATA phase up to the `.` line, dot-unstuffed; the content of a message over `max`
/// bytes is discarded (and reading stops at four times that).
async fn read_data<S: AsyncRead + Unpin>(reader: &mut BufReader<S>, max: usize) -> Data {
    let mut data = Vec::new();
    let mut too_big = false;
    let mut discarded = 0usize;
    let mut at_line_start = true;
    loop {
        let mut piece = Vec::new();
        let mut limited = (&mut *reader).take(DATA_PIECE);
        match tokio::time::timeout(IDLE, limited.read_until(b'\n', &mut piece)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return Data::Closed,
        }
        let line_start = at_line_start;
        at_line_start = piece.ends_with(b"\n");
        if line_start && (piece == b".\r\n" || piece == b".\n") {
            return if too_big {
                Data::TooBig
            } else {
                Data::Message(data)
            };
        }
        let content = match piece.split_first() {
            Some((b'.', rest)) if line_start => rest,
            _ => &piece[..],
        };
        if too_big || data.len() + content.len() > max {
            too_big = true;
            discarded += data.len() + content.len();
            data = Vec::new();
            if discarded > max.saturating_mul(4) {
                return Data::Closed;
            }
        } else {
            data.extend_from_slice(content);
        }
    }
}

/// Writes a reply; false when the client is gone.
async fn send<S: AsyncRead + AsyncWrite + Unpin>(reader: &mut BufReader<S>, reply: &str) -> bool {
    let stream = reader.get_mut();
    let write = async {
        stream.write_all(reply.as_bytes()).await?;
        stream.flush().await
    };
    matches!(tokio::time::timeout(IDLE, write).await, Ok(Ok(())))
}

/// [`send`] as the flow of the dialogue.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(reader: &mut BufReader<S>, reply: &str) -> Flow {
    if send(reader, reply).await {
        Flow::Continue
    } else {
        Flow::Close
    }
}

async fn close<S: AsyncRead + AsyncWrite + Unpin>(reader: &mut BufReader<S>) {
    let _ = tokio::time::timeout(IDLE, reader.get_mut().shutdown()).await;
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
