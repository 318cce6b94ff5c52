//! The test kit's SMTP fixture as a mail sink, driven over raw sockets the way a sender (lettre
//! in `canhgac-server`) drives it: STARTTLS or implicit TLS, AUTH, MAIL/RCPT/DATA with
//! dot-stuffing, RSET between messages, and the run-time faults (451, 421, a held reply) the
//! alert e-mail tests rely on.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use canhgac_testkit::mail::ReceivedMessage;
use canhgac_testkit::smtp_server::SmtpMode;
use canhgac_testkit::{SmtpServer, TestPki};
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};

const HOST: &str = "mx.example.gov.vn";
const USER: &str = "canhgac-alerts";
const PASSWORD: &str = "mật khẩu: 2/9";
const SUBJECT: &str = "Cảnh báo trước kỳ nghỉ Quốc khánh 2/9";
/// Longest wait for a reply that must come.
const REPLY_WAIT: Duration = Duration::from_secs(5);

enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// A reply: its code and its lines' texts.
#[derive(Debug)]
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    fn has_line(&self, text: &str) -> bool {
        self.lines.iter().any(|l| l == text)
    }
}

/// A line-at-a-time SMTP client over std sockets.
struct Client {
    reader: BufReader<Stream>,
}

fn tls_wrap(tcp: TcpStream) -> Stream {
    let name = ServerName::try_from(HOST).unwrap();
    let conn = ClientConnection::new(TestPki::shared().client_config(), name).unwrap();
    Stream::Tls(Box::new(StreamOwned::new(conn, tcp)))
}

impl Client {
    fn tcp(server: &SmtpServer) -> TcpStream {
        let tcp = TcpStream::connect(server.addr()).unwrap();
        tcp.set_read_timeout(Some(REPLY_WAIT)).unwrap();
        tcp
    }

    /// Connects and reads the greeting.
    fn connect(server: &SmtpServer) -> (Client, Reply) {
        let mut client = Client {
            reader: BufReader::new(Stream::Plain(Self::tcp(server))),
        };
        let greeting = client.reply();
        (client, greeting)
    }

    /// Connects with TLS from the first byte and reads the greeting.
    fn connect_tls(server: &SmtpServer) -> (Client, Reply) {
        let mut client = Client {
            reader: BufReader::new(tls_wrap(Self::tcp(server))),
        };
        let greeting = client.reply();
        (client, greeting)
    }

    fn try_reply(&mut self) -> io::Result<Reply> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let line = line.trim_end();
            let code: u16 = line
                .get(..3)
                .and_then(|c| c.parse().ok())
                .unwrap_or_else(|| panic!("not a reply line: {line:?}"));
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").to_string());
            if !more {
                return Ok(Reply { code, lines });
            }
        }
    }

    fn reply(&mut self) -> Reply {
        self.try_reply().expect("a reply")
    }

    fn write(&mut self, bytes: &[u8]) {
        let stream = self.reader.get_mut();
        stream.write_all(bytes).unwrap();
        stream.flush().unwrap();
    }

    fn cmd(&mut self, line: &str) -> Reply {
        self.write(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// STARTTLS and the handshake.
    fn starttls(self) -> Client {
        let mut client = self;
        assert_eq!(client.cmd("STARTTLS").code, 220);
        assert!(client.reader.buffer().is_empty());
        let Stream::Plain(tcp) = client.reader.into_inner() else {
            panic!("STARTTLS on a TLS session");
        };
        Client {
            reader: BufReader::new(tls_wrap(tcp)),
        }
    }

    /// DATA (asserting the 354), then `message` dot-stuffed (its line breaks must be CRLF): the
    /// reply to the final dot.
    fn data(&mut self, message: &str) -> Reply {
        let go = self.cmd("DATA");
        assert_eq!(go.code, 354, "{go:?}");
        self.write(&stuffed(message));
        self.reply()
    }

    /// MAIL, RCPT and DATA for one message: the reply to the final dot.
    fn send(&mut self, from: &str, to: &[&str], message: &str) -> Reply {
        let mail = self.cmd(&format!("MAIL FROM:<{from}> BODY=8BITMIME SMTPUTF8"));
        assert_eq!(mail.code, 250, "{mail:?}");
        for rcpt in to {
            let r = self.cmd(&format!("RCPT TO:<{rcpt}>"));
            assert_eq!(r.code, 250, "{r:?}");
        }
        self.data(message)
    }

    fn set_read_timeout(&self, timeout: Duration) {
        self.reader
            .get_ref()
            .tcp()
            .set_read_timeout(Some(timeout))
            .unwrap();
    }
}

/// A message's DATA bytes: dot-stuffed, ended by `.`.
fn stuffed(message: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for line in message.split_inclusive("\r\n") {
        if line.starts_with('.') {
            out.push(b'.');
        }
        out.extend_from_slice(line.as_bytes());
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An RFC 2047 `B` encoded word.
fn encoded_word(text: &str) -> String {
    format!("=?utf-8?b?{}?=", base64(text.as_bytes()))
}

/// Base64 wrapped at 76 columns with CRLF, as in a MIME body.
fn base64_body(bytes: &[u8]) -> String {
    base64(bytes)
        .as_bytes()
        .chunks(76)
        .map(|l| format!("{}\r\n", std::str::from_utf8(l).unwrap()))
        .collect()
}

const TEXT_BODY: &str = "Kính gửi Sở Thông tin và Truyền thông,\r\n\
.gov.vn: 3 hệ thống có chứng chỉ hết hạn trước ngày 2/9.\r\n\
..và một dòng bắt đầu bằng hai dấu chấm.\r\n\
.\r\n\
Trân trọng.";

const HTML_BODY: &str = "<p>Kính gửi <b>Sở Thông tin và Truyền thông</b>,</p>\r\n\
<p>3 hệ thống có chứng chỉ hết hạn trước ngày 2/9.</p>";

/// A bulk of attachment bytes: every byte value, so that nothing but real base64 decoding
/// gives them back.
fn attachment_bytes() -> Vec<u8> {
    (0..=255u8).cycle().take(1000).collect()
}

/// The alert as a sender would build it: From with an encoded display name, a subject in two
/// encoded words on folded lines, multipart/mixed holding multipart/alternative (8-bit text, HTML
/// in base64) and a base64 attachment.
fn alert_message() -> String {
    let chars: Vec<char> = SUBJECT.chars().collect();
    let (first, second) = chars.split_at(chars.len() / 2);
    let first: String = first.iter().collect();
    let second: String = second.iter().collect();
    format!(
        "From: {} <canhgac@example.gov.vn>\r\n\
To: Officer <officer@example.gov.vn>, second@example.gov.vn\r\n\
Cc: archive@example.gov.vn\r\n\
Subject: {}\r\n {}\r\n\
Message-ID: <alert-2-9@canhgac.example.gov.vn>\r\n\
Date: Mon, 1 Sep 2025 08:00:00 +0700\r\n\
MIME-Version: 1.0\r\n\
X-Canhgac-Alert: pre-holiday\r\n\
Content-Type: multipart/mixed; boundary=\"mixed-b\"\r\n\
\r\n\
--mixed-b\r\n\
Content-Type: multipart/alternative; boundary=\"alt-b\"\r\n\
\r\n\
--alt-b\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: 8bit\r\n\
\r\n\
{TEXT_BODY}\r\n\
--alt-b\r\n\
Content-Type: text/html; charset=utf-8\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
{}\
--alt-b--\r\n\
\r\n\
--mixed-b\r\n\
Content-Type: application/octet-stream; name=\"bao-cao.bin\"\r\n\
Content-Disposition: attachment; filename=\"bao-cao.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
{}\
--mixed-b--\r\n",
        encoded_word("Cảnh Gác"),
        encoded_word(&first),
        encoded_word(&second),
        base64_body(HTML_BODY.as_bytes()),
        base64_body(&attachment_bytes()),
    )
}

fn simple_message(subject: &str) -> String {
    format!(
        "From: canhgac@example.gov.vn\r\nTo: officer@example.gov.vn\r\nSubject: {subject}\r\n\
Message-ID: <{subject}@canhgac.example.gov.vn>\r\n\r\nBody of {subject}.\r\n"
    )
}

fn mail_sink() -> SmtpServer {
    SmtpServer::builder().accept_mail().start().unwrap()
}

/// Reads a reply that must not come within `wait`: true when none came.
fn silent_for(client: &mut Client, wait: Duration) -> bool {
    client.set_read_timeout(wait);
    let started = Instant::now();
    let outcome = client.try_reply();
    match outcome {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            assert!(started.elapsed() >= wait - Duration::from_millis(50));
            true
        }
        other => panic!("expected silence, got {other:?}"),
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + REPLY_WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_full_conversation_is_received_and_parsed() {
    let server = SmtpServer::builder()
        .starttls(TestPki::shared().leaf(&[HOST]))
        .accept_mail()
        .auth(USER, PASSWORD)
        .start()
        .unwrap();
    let (client, greeting) = Client::connect(&server);
    assert_eq!(greeting.code, 220, "{greeting:?}");
    let mut client = client;
    let ehlo = client.cmd("EHLO canhgac.example.gov.vn");
    assert!(ehlo.has_line("STARTTLS"), "{ehlo:?}");
    assert!(
        !ehlo.lines.iter().any(|l| l.starts_with("AUTH")),
        "{ehlo:?}"
    );
    let mut client = client.starttls();
    let ehlo = client.cmd("EHLO canhgac.example.gov.vn");
    for ext in ["AUTH PLAIN LOGIN", "8BITMIME", "SMTPUTF8", "PIPELINING"] {
        assert!(ehlo.has_line(ext), "{ext} missing: {ehlo:?}");
    }
    assert!(ehlo.has_line(&format!("SIZE {}", 10 * 1024 * 1024)));
    assert!(!ehlo.has_line("STARTTLS"), "{ehlo:?}");
    let plain = base64(format!("\0{USER}\0{PASSWORD}").as_bytes());
    assert_eq!(client.cmd(&format!("AUTH PLAIN {plain}")).code, 235);

    let done = client.send(
        "bounces@example.gov.vn",
        &["officer@example.gov.vn", "second@example.gov.vn"],
        &alert_message(),
    );
    assert_eq!(done.code, 250, "{done:?}");
    // The connection is reused for a second message, as a pooled sender does.
    assert_eq!(client.cmd("RSET").code, 250);
    assert_eq!(client.cmd("NOOP").code, 250);
    let done = client.send("", &["officer@example.gov.vn"], &simple_message("second"));
    assert_eq!(done.code, 250, "{done:?}");
    assert_eq!(client.cmd("QUIT").code, 221);

    let messages = server.wait_for_messages(2, REPLY_WAIT).unwrap();
    assert_eq!(messages.len(), 2);
    let m: &ReceivedMessage = &messages[0];
    assert_eq!(m.mail_from, "bounces@example.gov.vn");
    assert_eq!(
        m.rcpt_to,
        ["officer@example.gov.vn", "second@example.gov.vn"]
    );
    assert_eq!(m.subject.as_deref(), Some(SUBJECT), "{}", m.raw_text());
    assert_eq!(m.from.as_deref(), Some("canhgac@example.gov.vn"));
    assert_eq!(m.from_name.as_deref(), Some("Cảnh Gác"));
    assert_eq!(m.to, ["officer@example.gov.vn", "second@example.gov.vn"]);
    assert_eq!(m.cc, ["archive@example.gov.vn"]);
    assert_eq!(
        m.message_id.as_deref(),
        Some("alert-2-9@canhgac.example.gov.vn")
    );
    assert_eq!(m.header("x-canhgac-alert").as_deref(), Some("pre-holiday"));
    assert!(
        m.header("Subject").unwrap().starts_with("=?utf-8?b?"),
        "header() gives the raw value"
    );
    // Dot-unstuffed: the lines read as written, including a lone ".".
    let text = m.text.as_deref().expect("a text/plain body");
    assert_eq!(text.trim_end(), TEXT_BODY);
    assert!(String::from_utf8_lossy(&m.raw).contains("\r\n.gov.vn: 3 hệ thống"));
    let html = m.html.as_deref().expect("a text/html body");
    assert_eq!(html.trim_end(), HTML_BODY);
    assert_eq!(m.attachments.len(), 1, "{:?}", m.attachments);
    let a = &m.attachments[0];
    assert_eq!(a.filename.as_deref(), Some("bao-cao.bin"));
    assert_eq!(a.content_type, "application/octet-stream");
    assert_eq!(a.bytes, attachment_bytes());

    let second = &messages[1];
    assert_eq!(second.mail_from, "", "the null sender <>");
    assert_eq!(second.subject.as_deref(), Some("second"));
    assert_eq!(
        second.text.as_deref().map(str::trim_end),
        Some("Body of second.")
    );
    assert!(second.attachments.is_empty());

    let stats = server.stats();
    assert_eq!(stats.connections(), 1);
    assert_eq!(stats.tls_handshakes(), 1);
    assert_eq!(stats.auth_successes(), 1);
    assert_eq!(stats.messages_accepted(), 2);
    assert_eq!(stats.transactions_refused(), 0);
    assert_eq!(stats.quits(), 1);
}

#[test]
fn auth_is_offered_only_over_tls_and_required_before_mail() {
    let server = SmtpServer::builder()
        .starttls(TestPki::shared().leaf(&[HOST]))
        .accept_mail()
        .auth(USER, PASSWORD)
        .start()
        .unwrap();
    let (mut client, _) = Client::connect(&server);
    client.cmd("EHLO client.example");
    let login = base64(USER.as_bytes());
    assert_eq!(client.cmd(&format!("AUTH LOGIN {login}")).code, 538);
    assert_eq!(client.cmd("MAIL FROM:<a@example.gov.vn>").code, 530);

    let mut client = client.starttls();
    client.cmd("EHLO client.example");
    assert_eq!(client.cmd("MAIL FROM:<a@example.gov.vn>").code, 530);
    // AUTH LOGIN with the wrong password, then the right one, through 334 challenges.
    let challenge = client.cmd("AUTH LOGIN");
    assert_eq!(
        (challenge.code, challenge.lines[0].as_str()),
        (334, "VXNlcm5hbWU6")
    );
    let challenge = client.cmd(&login);
    assert_eq!(
        (challenge.code, challenge.lines[0].as_str()),
        (334, "UGFzc3dvcmQ6")
    );
    assert_eq!(client.cmd(&base64(b"wrong")).code, 535);
    assert_eq!(client.cmd("AUTH LOGIN").code, 334);
    assert_eq!(client.cmd(&login).code, 334);
    assert_eq!(client.cmd(&base64(PASSWORD.as_bytes())).code, 235);
    assert_eq!(client.cmd("AUTH PLAIN").code, 503, "already authenticated");
    let done = client.send(
        "a@example.gov.vn",
        &["b@example.gov.vn"],
        &simple_message("x"),
    );
    assert_eq!(done.code, 250);
    assert_eq!(server.stats().auth_failures(), 1);
    assert_eq!(server.stats().auth_successes(), 1);

    // AUTH PLAIN after a 334 challenge, with a wrong password: 535.
    let (client, _) = Client::connect(&server);
    let mut client = client;
    client.cmd("EHLO client.example");
    let mut client = client.starttls();
    client.cmd("EHLO client.example");
    assert_eq!(client.cmd("AUTH PLAIN").code, 334);
    let bad = base64(format!("\0{USER}\0not the password").as_bytes());
    assert_eq!(client.cmd(&bad).code, 535);
    assert_eq!(client.cmd("AUTH CRAM-MD5").code, 504);
    assert_eq!(server.stats().auth_failures(), 2);
    assert_eq!(server.messages().len(), 1);
}

#[test]
fn implicit_tls_speaks_tls_from_the_first_byte() {
    let server = SmtpServer::builder()
        .implicit_tls(TestPki::shared().leaf(&[HOST]))
        .accept_mail()
        .auth(USER, PASSWORD)
        .start()
        .unwrap();
    let (mut client, greeting) = Client::connect_tls(&server);
    assert_eq!(greeting.code, 220);
    assert_eq!(server.stats().tls_handshakes(), 1);
    let ehlo = client.cmd("EHLO client.example");
    assert!(ehlo.has_line("AUTH PLAIN LOGIN"), "{ehlo:?}");
    assert!(!ehlo.has_line("STARTTLS"), "{ehlo:?}");
    assert_eq!(client.cmd("STARTTLS").code, 503);
    let plain = base64(format!("{USER}\0{USER}\0{PASSWORD}").as_bytes());
    assert_eq!(client.cmd(&format!("AUTH PLAIN {plain}")).code, 235);
    let done = client.send(
        "a@example.gov.vn",
        &["b@example.gov.vn"],
        &simple_message("tls"),
    );
    assert_eq!(done.code, 250);
    let messages = server.wait_for_messages(1, REPLY_WAIT).unwrap();
    assert_eq!(messages[0].subject.as_deref(), Some("tls"));

    // A clear-text client gets nothing it can read as SMTP.
    let mut tcp = Client::tcp(&server);
    tcp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    tcp.write_all(b"EHLO clear.example\r\n").unwrap();
    let mut buf = [0u8; 64];
    let got = tcp.read(&mut buf).unwrap_or(0);
    assert!(!buf[..got].starts_with(b"220"), "{:?}", &buf[..got]);
}

#[test]
fn refuse_transient_answers_451_and_stores_nothing() {
    let server = mail_sink();
    server.set_mode(SmtpMode::RefuseTransient);
    let (mut client, greeting) = Client::connect(&server);
    assert_eq!(greeting.code, 220);
    client.cmd("EHLO client.example");
    let refused = client.cmd("MAIL FROM:<a@example.gov.vn>");
    assert_eq!(refused.code, 451);
    assert_eq!(refused.lines, ["4.3.0 try again later"]);
    assert_eq!(
        client.cmd("RCPT TO:<b@example.gov.vn>").code,
        503,
        "no transaction"
    );
    assert_eq!(client.cmd("DATA").code, 503);
    assert_eq!(server.stats().transactions_refused(), 1);
    let err = server
        .wait_for_messages(1, Duration::from_millis(200))
        .unwrap_err();
    assert!(err.to_string().contains("0 of 1 messages"), "{err}");
    assert!(server.messages().is_empty());

    // Back to normal on the same connection.
    server.set_mode(SmtpMode::Accept);
    let done = client.send(
        "a@example.gov.vn",
        &["b@example.gov.vn"],
        &simple_message("ok"),
    );
    assert_eq!(done.code, 250);
    assert_eq!(server.messages().len(), 1);
    assert_eq!(server.stats().transactions_refused(), 1);
}

#[test]
fn refuse_connect_greets_421_and_closes() {
    let server = mail_sink();
    server.set_mode(SmtpMode::RefuseConnect);
    let (mut client, greeting) = Client::connect(&server);
    assert_eq!(greeting.code, 421);
    assert_eq!(greeting.lines, ["4.3.2 service not available"]);
    let after = client.try_reply();
    assert!(
        after
            .as_ref()
            .is_err_and(|e| e.kind() == io::ErrorKind::UnexpectedEof),
        "{after:?}"
    );
    assert_eq!(server.stats().connections_refused(), 1);
    assert_eq!(server.stats().ehlo(), 0);
}

#[test]
fn hold_never_answers_and_a_dropped_connection_leaves_nothing() {
    let server = mail_sink();
    server.set_mode(SmtpMode::Hold);
    let (mut client, _) = Client::connect(&server);
    client.cmd("EHLO client.example");
    assert_eq!(client.cmd("MAIL FROM:<a@example.gov.vn>").code, 250);
    assert_eq!(client.cmd("RCPT TO:<b@example.gov.vn>").code, 250);
    assert_eq!(client.cmd("DATA").code, 354);
    client.write(&stuffed(&simple_message("held")));
    assert!(silent_for(&mut client, Duration::from_secs(1)));
    assert_eq!(server.stats().messages_held(), 1);
    assert!(
        server.messages().is_empty(),
        "a held message is not received"
    );
    // The sender dies mid-send; then the fault clears: the message never arrives.
    drop(client);
    wait_until("the drop", || server.stats().held_discarded() == 1);
    server.set_mode(SmtpMode::Accept);
    std::thread::sleep(Duration::from_millis(200));
    assert!(server.messages().is_empty());
    assert_eq!(server.stats().messages_accepted(), 0);

    // A held message whose sender is still there is settled by the next mode.
    server.set_mode(SmtpMode::Hold);
    let (mut client, _) = Client::connect(&server);
    client.cmd("EHLO client.example");
    client.cmd("MAIL FROM:<a@example.gov.vn>");
    client.cmd("RCPT TO:<b@example.gov.vn>");
    client.cmd("DATA");
    client.write(&stuffed(&simple_message("released")));
    wait_until("the hold", || server.stats().messages_held() == 2);
    server.set_mode(SmtpMode::Hold);
    assert!(
        silent_for(&mut client, Duration::from_millis(300)),
        "Hold again keeps holding"
    );
    server.set_mode(SmtpMode::Accept);
    client.set_read_timeout(REPLY_WAIT);
    assert_eq!(client.reply().code, 250);
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].subject.as_deref(), Some("released"));
}

#[test]
fn accept_then_hold_accepts_n_messages_then_holds() {
    let server = mail_sink();
    server.accept_then_hold(1);
    assert_eq!(server.mode(), SmtpMode::AcceptThenHold(1));
    let (mut client, _) = Client::connect(&server);
    client.cmd("EHLO client.example");
    let first = client.send(
        "a@example.gov.vn",
        &["b@example.gov.vn"],
        &simple_message("one"),
    );
    assert_eq!(first.code, 250);
    assert_eq!(server.mode(), SmtpMode::Hold);
    assert_eq!(client.cmd("RSET").code, 250);
    assert_eq!(client.cmd("MAIL FROM:<a@example.gov.vn>").code, 250);
    assert_eq!(client.cmd("RCPT TO:<b@example.gov.vn>").code, 250);
    assert_eq!(client.cmd("DATA").code, 354);
    client.write(&stuffed(&simple_message("two")));
    assert!(silent_for(&mut client, Duration::from_secs(1)));
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].subject.as_deref(), Some("one"));
    assert_eq!(server.stats().messages_accepted(), 1);
    assert_eq!(server.stats().messages_held(), 1);
}

#[test]
fn oversized_messages_get_552_and_the_session_goes_on() {
    let server = SmtpServer::builder()
        .accept_mail()
        .max_message_size(2000)
        .start()
        .unwrap();
    let (mut client, _) = Client::connect(&server);
    let ehlo = client.cmd("EHLO client.example");
    assert!(ehlo.has_line("SIZE 2000"), "{ehlo:?}");
    assert_eq!(
        client.cmd("MAIL FROM:<a@example.gov.vn> SIZE=5000").code,
        552
    );
    let big = format!("{}{}\r\n", simple_message("big"), "x".repeat(3000));
    let done = client.send("a@example.gov.vn", &["b@example.gov.vn"], &big);
    assert_eq!(done.code, 552);
    let done = client.send(
        "a@example.gov.vn",
        &["b@example.gov.vn"],
        &simple_message("small"),
    );
    assert_eq!(done.code, 250);
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].subject.as_deref(), Some("small"));
    assert_eq!(messages[0].raw, simple_message("small").as_bytes());
}

#[test]
fn the_default_server_accepts_no_mail() {
    let server = SmtpServer::plain();
    let (mut client, _) = Client::connect(&server);
    let ehlo = client.cmd("EHLO client.example");
    assert!(!ehlo.has_line("SMTPUTF8"), "{ehlo:?}");
    assert_eq!(ehlo.lines.last().map(String::as_str), Some("8BITMIME"));
    assert_eq!(client.cmd("MAIL FROM:<a@example.gov.vn>").code, 502);
    assert_eq!(client.cmd("AUTH PLAIN").code, 502);
    assert_eq!(server.mode(), SmtpMode::Accept);
    assert!(server.messages().is_empty());
}
