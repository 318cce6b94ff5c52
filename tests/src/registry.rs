//! Domain registries on 127.0.0.1 for the domain probe: an RDAP service and a WHOIS server,
//! answering in the real formats, so that the probe's lookups, fallbacks, limits and parsers are
//! tested against genuine HTTP and TCP exchanges instead of mocks.
//!
//! - [`RdapServer`]: a minimal HTTP/1.1 server. `GET /domain/<name>` answers the RFC 9083
//!   domain object registered for that name (`application/rdap+json`), or a 404 with an
//!   RFC 9083 error object; `GET /bootstrap/dns.json` is an RFC 9224 bootstrap registry (IANA's
//!   `dns.json` format) pointing the configured TLDs at the server itself. [`RdapMode`] makes it
//!   send malformed JSON or answer slowly.
//! - [`WhoisServer`]: an RFC 3912 server. It reads one query line and answers the text
//!   registered for that name (an ICANN "No match" text otherwise), then closes, or keeps the
//!   connection open, or drips the answer a byte at a time ([`WhoisAnswer`]).
//! - [`Record`] and the writers [`rdap_domain_json`], [`icann_whois_text`] and
//!   [`vnnic_whois_text`] produce the documents, plus [`MALFORMED_WHOIS`].
//!
//! Both servers are tasks on the testkit's shared background runtime; dropping one closes its
//! port and every open connection. Each records what it was asked, for assertions that a
//! registry was (or was not) consulted.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::background::{ServerHandle, bind_loopback};

/// How long a server waits for the client's request or query before hanging up.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head (RDAP) or query line (WHOIS) read.
const MAX_REQUEST: usize = 16 * 1024;
/// The TLDs the RDAP bootstrap registry points at the server unless told otherwise.
pub const DEFAULT_BOOTSTRAP_TLDS: &[&str] = &["vn", "com", "net", "org"];

/// The body [`RdapMode::Malformed`] sends for every registered domain: a domain object cut off
/// in the middle of a string.
pub const MALFORMED_RDAP: &str = "{\"objectClassName\": \"domain\", \"ldhName\": \"example.gov.vn\", \"events\": [{\"eventAction\": \"expir";

/// A WHOIS answer that is no record: mojibake, a NUL, a broken UTF-8 sequence, an escape
/// sequence, and labels without their colons.
pub const MALFORMED_WHOIS: &[u8] = b"\xff\xfe%%%%%% WHOIS\r\nDomain Name example.gov.vn\r\nExpir\x00y Date 2030/13/45\r\n\x1b[31m<<<\xc3\x28 \xe1\xba garbled >>>\r\n";

/// What a registry says about one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The registrar's name.
    pub registrar: String,
    /// Registration date.
    pub created: Timestamp,
    /// Expiry date.
    pub expires: Timestamp,
    /// EPP status codes (`clientHold`, `ok`...).
    pub statuses: Vec<String>,
    /// Name servers.
    pub nameservers: Vec<String>,
}

impl Record {
    /// A record expiring `days` whole days (and 12 hours) from now, so that "whole days left"
    /// is `days` however long the test takes; registered on 2004-03-15, status
    /// `clientTransferProhibited`, two name servers.
    pub fn expiring_in_days(days: i64) -> Record {
        let now = Timestamp::now().as_second();
        Record {
            registrar: "Trung tâm Internet Việt Nam (VNNIC)".into(),
            created: Timestamp::from_second(1_079_316_000).expect("2004-03-15T02:00:00Z"),
            expires: Timestamp::from_second(now + days * 86_400 + 12 * 3600)
                .expect("a date within jiff's range"),
            statuses: vec!["clientTransferProhibited".into()],
            nameservers: vec!["ns1.example.gov.vn".into(), "ns2.example.gov.vn".into()],
        }
    }

    /// The same record with these EPP statuses.
    pub fn with_statuses(mut self, statuses: &[&str]) -> Record {
        self.statuses = statuses.iter().map(|s| s.to_string()).collect();
        self
    }

    /// The same record with this registrar.
    pub fn with_registrar(mut self, registrar: &str) -> Record {
        self.registrar = registrar.into();
        self
    }
}

/// The RDAP form of an EPP status (RFC 8056): `clientHold` -> `client hold`, `ok` ->
/// `active`.
pub fn rdap_status(epp: &str) -> String {
    if epp == "ok" {
        return "active".into();
    }
    let mut out = String::new();
    for c in epp.chars() {
        if c.is_uppercase() {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// An RFC 9083 domain object for `name`, in the shape gTLD registries serve (links, notices,
/// the registrar entity with a jCard and an abuse contact, events, name servers).
pub fn rdap_domain_json(name: &str, record: &Record) -> Value {
    let upper = name.to_ascii_uppercase();
    json!({
        "objectClassName": "domain",
        "handle": format!("{}-TEST", upper.replace('.', "_")),
        "ldhName": upper,
        "links": [{
            "value": format!("https://rdap.registry.test/domain/{name}"),
            "rel": "self",
            "href": format!("https://rdap.registry.test/domain/{name}"),
            "type": "application/rdap+json"
        }],
        "status": record.statuses.iter().map(|s| rdap_status(s)).collect::<Vec<_>>(),
        "entities": [{
            "objectClassName": "entity",
            "handle": "9999",
            "roles": ["registrar"],
            "publicIds": [{"type": "IANA Registrar ID", "identifier": "9999"}],
            "vcardArray": ["vcard", [
                ["version", {}, "text", "4.0"],
                ["fn", {}, "text", record.registrar]
            ]],
            "entities": [{
                "objectClassName": "entity",
                "roles": ["abuse"],
                "vcardArray": ["vcard", [
                    ["version", {}, "text", "4.0"],
                    ["fn", {}, "text", "Abuse desk"],
                    ["tel", {"type": "voice"}, "uri", "tel:+84.2435564944"],
                    ["email", {}, "text", "abuse@registrar.test"]
                ]]
            }]
        }],
        "events": [
            {"eventAction": "registration", "eventDate": record.created.to_string()},
            {"eventAction": "expiration", "eventDate": record.expires.to_string()},
            {"eventAction": "last update of RDAP database", "eventDate": Timestamp::now().round(jiff::Unit::Second).unwrap_or(record.created).to_string()}
        ],
        "secureDNS": {"delegationSigned": false},
        "nameservers": record.nameservers.iter().map(|ns| json!({
            "objectClassName": "nameserver",
            "ldhName": ns.to_ascii_uppercase()
        })).collect::<Vec<_>>(),
        "rdapConformance": ["rdap_level_0", "icann_rdap_response_profile_1", "icann_rdap_technical_implementation_guide_1"],
        "notices": [{
            "title": "Terms of Use",
            "description": ["Service subject to the test registry's Terms of Use."],
            "links": [{"href": "https://rdap.registry.test/terms", "type": "text/html"}]
        }]
    })
}

/// An ICANN-style thick registry WHOIS record (the layout of the registry agreements'
/// Specification 4, as Verisign and PIR serve it), CRLF line ends.
pub fn icann_whois_text(name: &str, record: &Record) -> String {
    let mut t = String::new();
    let upper = name.to_ascii_uppercase();
    let mut line = |s: String| {
        t.push_str(&s);
        t.push_str("\r\n");
    };
    line(format!("   Domain Name: {upper}"));
    line(format!(
        "   Registry Domain ID: {}_DOMAIN-TEST",
        upper.replace('.', "_")
    ));
    line("   Registrar WHOIS Server: whois.registrar.test".into());
    line("   Registrar URL: http://www.registrar.test".into());
    line(format!("   Updated Date: {}", record.created));
    line(format!("   Creation Date: {}", record.created));
    line(format!("   Registry Expiry Date: {}", record.expires));
    line(format!("   Registrar: {}", record.registrar));
    line("   Registrar IANA ID: 9999".into());
    line("   Registrar Abuse Contact Email: abuse@registrar.test".into());
    line("   Registrar Abuse Contact Phone: +1.5555550100".into());
    for s in &record.statuses {
        line(format!("   Domain Status: {s} https://icann.org/epp#{s}"));
    }
    for ns in &record.nameservers {
        line(format!("   Name Server: {}", ns.to_ascii_uppercase()));
    }
    line("   DNSSEC: unsigned".into());
    line("   URL of the ICANN Whois Inaccuracy Complaint Form: https://www.icann.org/wicf/".into());
    line(format!(
        ">>> Last update of whois database: {} <<<",
        record.created
    ));
    line(String::new());
    line("For more information on Whois status codes, please visit https://icann.org/epp".into());
    line(String::new());
    line("NOTICE: The expiration date displayed in this record is the date the".into());
    line("registrar's sponsorship of the domain name registration in the registry is".into());
    line("currently set to expire. This date does not necessarily reflect the expiration".into());
    line("date of the domain name registrant's agreement with the sponsoring registrar.".into());
    t
}

/// A `.vn` record in the layout of VNNIC's public lookup page (English labels, day-first dates
/// without a time, Vietnamese values). VNNIC offers no public port-43 service, so this layout is
/// the closest public form; its exact labels are unverified.
pub fn vnnic_whois_text(name: &str, record: &Record) -> String {
    let day = |ts: Timestamp| {
        ts.to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .strftime("%d-%m-%Y")
            .to_string()
    };
    let mut t = String::new();
    t.push_str(&format!("Domain Name: {name}\n"));
    t.push_str("Registrant Name: Văn phòng Ủy ban nhân dân tỉnh Đồng Nai\n");
    t.push_str(&format!("Registrar Name: {}\n", record.registrar));
    t.push_str(&format!("Issue Date: {}\n", day(record.created)));
    t.push_str(&format!("Expired Date: {}\n", day(record.expires)));
    for s in &record.statuses {
        t.push_str(&format!("Status: {s}\n"));
    }
    for ns in &record.nameservers {
        t.push_str(&format!("Name Server: {ns}\n"));
    }
    t.push_str("DNSSEC: unsigned\n");
    t
}

/// What Verisign-style registries answer for a name they do not hold.
pub fn whois_not_found_text(name: &str) -> String {
    format!(
        "No match for \"{}\".\r\n>>> Last update of whois database: 2026-11-02T09:12:44Z <<<\r\n",
        name.to_ascii_uppercase()
    )
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How an [`RdapServer`] answers `/domain/` requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RdapMode {
    /// The registered documents, 404 for others.
    #[default]
    Normal,
    /// [`MALFORMED_RDAP`] with status 200 for registered domains (404 for others).
    Malformed,
    /// Waits this long before answering (the bootstrap registry is still served at once).
    Slow(Duration),
}

#[derive(Debug, Default)]
struct RdapState {
    domains: HashMap<String, Value>,
    mode: RdapMode,
    bootstrap_tlds: Vec<String>,
    requests: Vec<String>,
}

/// An RDAP service on 127.0.0.1 (see the module documentation); dropping it stops it.
pub struct RdapServer {
    handle: ServerHandle,
    state: Arc<Mutex<RdapState>>,
}

impl fmt::Debug for RdapServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RdapServer")
            .field("addr", &self.handle.addr())
            .field("mode", &lock(&self.state).mode)
            .finish()
    }
}

impl RdapServer {
    /// Starts a server with no domains, in [`RdapMode::Normal`], whose bootstrap registry
    /// lists [`DEFAULT_BOOTSTRAP_TLDS`].
    pub fn start() -> io::Result<RdapServer> {
        let listener = bind_loopback()?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(RdapState {
            bootstrap_tlds: DEFAULT_BOOTSTRAP_TLDS
                .iter()
                .map(|t| t.to_string())
                .collect(),
            ..RdapState::default()
        }));
        let shared = state.clone();
        let handle = ServerHandle::spawn(listener, move |stream| {
            serve_rdap(stream, addr, shared.clone())
        })?;
        Ok(RdapServer { handle, state })
    }

    /// [`RdapServer::start`], panicking if it cannot bind.
    pub fn new() -> RdapServer {
        Self::start().unwrap_or_else(|e| panic!("cannot start the RDAP fixture: {e}"))
    }

    /// Serves `doc` for `GET /domain/<name>` (the name is matched case-insensitively).
    pub fn add_domain(&self, name: &str, doc: Value) {
        lock(&self.state)
            .domains
            .insert(name.to_ascii_lowercase(), doc);
    }

    /// Serves [`rdap_domain_json`] of `record` for `name`.
    pub fn add_record(&self, name: &str, record: &Record) {
        self.add_domain(name, rdap_domain_json(name, record));
    }

    /// Changes how `/domain/` requests are answered.
    pub fn set_mode(&self, mode: RdapMode) {
        lock(&self.state).mode = mode;
    }

    /// The TLDs the bootstrap registry points at this server (an empty list: none).
    pub fn set_bootstrap_tlds(&self, tlds: &[&str]) {
        lock(&self.state).bootstrap_tlds = tlds.iter().map(|t| t.to_string()).collect();
    }

    /// `http://127.0.0.1:PORT/bootstrap/dns.json`, for `--rdap-bootstrap`.
    pub fn bootstrap_url(&self) -> String {
        format!("http://{}/bootstrap/dns.json", self.addr())
    }

    /// `http://127.0.0.1:PORT/`, the RDAP base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr())
    }

    /// The request targets received so far (`/bootstrap/dns.json`, `/domain/example.vn`...).
    pub fn requests(&self) -> Vec<String> {
        lock(&self.state).requests.clone()
    }

    /// How many `/domain/` requests were received.
    pub fn domain_requests(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.starts_with("/domain/"))
            .count()
    }

    /// The listening address (always 127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.handle.addr()
    }
}

impl Default for RdapServer {
    fn default() -> Self {
        Self::new()
    }
}

/// The bootstrap registry pointing `tlds` at `base`, in IANA's `dns.json` format.
pub fn bootstrap_json(tlds: &[String], base: &str) -> Value {
    let services: Vec<Value> = if tlds.is_empty() {
        Vec::new()
    } else {
        vec![json!([tlds, [base]])]
    };
    json!({
        "description": "RDAP bootstrap file for Domain Name System registrations (canhgac test registry)",
        "publication": "2026-11-01T00:00:00Z",
        "services": services,
        "version": "1.0"
    })
}

/// Reads a request head (up to the blank line), within [`REQUEST_TIMEOUT`] and
/// [`MAX_REQUEST`]; `None` if the client sent no complete head.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let read = async {
        let mut head = Vec::new();
        let mut buf = [0u8; 2048];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 || head.len() + n > MAX_REQUEST {
                return None;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Some(String::from_utf8_lossy(&head).into_owned())
    };
    tokio::time::timeout(REQUEST_TIMEOUT, read)
        .await
        .ok()
        .flatten()
}

async fn respond(stream: &mut TcpStream, status: u16, content_type: &str, body: &[u8]) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Unknown",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Access-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    // Errors mean the client went away: nothing to do.
    let _ = stream.write_all(&out).await;
    let _ = stream.shutdown().await;
}

fn rdap_error(code: u16, title: &str, description: &str) -> Vec<u8> {
    json!({
        "errorCode": code,
        "title": title,
        "description": [description],
        "rdapConformance": ["rdap_level_0"]
    })
    .to_string()
    .into_bytes()
}

const RDAP_JSON: &str = "application/rdap+json";

async fn serve_rdap(mut stream: TcpStream, addr: SocketAddr, state: Arc<Mutex<RdapState>>) {
    let Some(head) = read_head(&mut stream).await else {
        return;
    };
    let mut words = head.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split(['?', '#']).next().unwrap_or("");
    lock(&state).requests.push(path.to_string());
    if method != "GET" && method != "HEAD" {
        let body = rdap_error(405, "Method Not Allowed", "only GET is served");
        return respond(&mut stream, 405, RDAP_JSON, &body).await;
    }
    if path == "/bootstrap/dns.json" {
        let tlds = lock(&state).bootstrap_tlds.clone();
        let body = bootstrap_json(&tlds, &format!("http://{addr}/")).to_string();
        return respond(&mut stream, 200, "application/json", body.as_bytes()).await;
    }
    let Some(name) = path.strip_prefix("/domain/") else {
        let body = rdap_error(400, "Bad Request", "unsupported query type");
        return respond(&mut stream, 400, RDAP_JSON, &body).await;
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let (mode, doc) = {
        let s = lock(&state);
        (s.mode, s.domains.get(&name).cloned())
    };
    if let RdapMode::Slow(delay) = mode {
        tokio::time::sleep(delay).await;
    }
    match doc {
        Some(_) if mode == RdapMode::Malformed => {
            respond(&mut stream, 200, RDAP_JSON, MALFORMED_RDAP.as_bytes()).await
        }
        Some(doc) => respond(&mut stream, 200, RDAP_JSON, doc.to_string().as_bytes()).await,
        None => {
            let body = rdap_error(404, "Not Found", &format!("{name} is not registered here"));
            respond(&mut stream, 404, RDAP_JSON, &body).await
        }
    }
}

/// How a [`WhoisServer`] answers one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WhoisAnswer {
    /// Sends the bytes, then closes the connection (the normal case).
    Close(Vec<u8>),
    /// Sends the bytes, then keeps the connection open until the client closes it.
    NeverClose(Vec<u8>),
    /// Sends the bytes one per `interval`, then keeps the connection open.
    Drip {
        /// The answer.
        bytes: Vec<u8>,
        /// Delay between bytes.
        interval: Duration,
    },
}

#[derive(Debug, Default)]
struct WhoisState {
    answers: HashMap<String, WhoisAnswer>,
    queries: Vec<String>,
}

/// A WHOIS server on 127.0.0.1 (see the module documentation); dropping it stops it.
pub struct WhoisServer {
    handle: ServerHandle,
    state: Arc<Mutex<WhoisState>>,
}

impl fmt::Debug for WhoisServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WhoisServer")
            .field("addr", &self.handle.addr())
            .finish()
    }
}

impl WhoisServer {
    /// Starts a server that knows no names yet (every query gets "No match").
    pub fn start() -> io::Result<WhoisServer> {
        let listener = bind_loopback()?;
        let state = Arc::new(Mutex::new(WhoisState::default()));
        let shared = state.clone();
        let handle =
            ServerHandle::spawn(listener, move |stream| serve_whois(stream, shared.clone()))?;
        Ok(WhoisServer { handle, state })
    }

    /// [`WhoisServer::start`], panicking if it cannot bind.
    pub fn new() -> WhoisServer {
        Self::start().unwrap_or_else(|e| panic!("cannot start the WHOIS fixture: {e}"))
    }

    /// Answers queries for `name` (case-insensitive) with `answer`.
    pub fn add(&self, name: &str, answer: WhoisAnswer) {
        lock(&self.state)
            .answers
            .insert(name.to_ascii_lowercase(), answer);
    }

    /// Answers queries for `name` with `text`, then closes.
    pub fn add_text(&self, name: &str, text: &str) {
        self.add(name, WhoisAnswer::Close(text.as_bytes().to_vec()));
    }

    /// `127.0.0.1:PORT`, for `--whois-server`.
    pub fn server_arg(&self) -> String {
        self.addr().to_string()
    }

    /// The queries received so far, without the line end.
    pub fn queries(&self) -> Vec<String> {
        lock(&self.state).queries.clone()
    }

    /// The listening address (always 127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.handle.addr()
    }
}

impl Default for WhoisServer {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads one query line (up to LF), within [`REQUEST_TIMEOUT`] and [`MAX_REQUEST`].
async fn read_query(stream: &mut TcpStream) -> Option<String> {
    let read = async {
        let mut line = Vec::new();
        let mut buf = [0u8; 512];
        while !line.contains(&b'\n') {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 || line.len() + n > MAX_REQUEST {
                return None;
            }
            line.extend_from_slice(&buf[..n]);
        }
        let end = line.iter().position(|b| *b == b'\n').unwrap_or(line.len());
        Some(
            String::from_utf8_lossy(&line[..end])
                .trim_end_matches('\r')
                .to_string(),
        )
    };
    tokio::time::timeout(REQUEST_TIMEOUT, read)
        .await
        .ok()
        .flatten()
}

/// Reads and discards until the client closes the connection.
async fn drain(stream: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
}

async fn serve_whois(mut stream: TcpStream, state: Arc<Mutex<WhoisState>>) {
    let Some(query) = read_query(&mut stream).await else {
        return;
    };
    let name = query.trim().trim_end_matches('.').to_ascii_lowercase();
    let answer = {
        let mut s = lock(&state);
        s.queries.push(query.clone());
        s.answers.get(&name).cloned()
    };
    let answer =
        answer.unwrap_or_else(|| WhoisAnswer::Close(whois_not_found_text(&name).into_bytes()));
    // Write errors mean the client went away: nothing to report.
    match answer {
        WhoisAnswer::Close(bytes) => {
            let _ = stream.write_all(&bytes).await;
            let _ = stream.shutdown().await;
        }
        WhoisAnswer::NeverClose(bytes) => {
            if stream.write_all(&bytes).await.is_ok() {
                drain(&mut stream).await;
            }
        }
        WhoisAnswer::Drip { bytes, interval } => {
            for (i, b) in bytes.iter().enumerate() {
                if i > 0 {
                    tokio::time::sleep(interval).await;
                }
                if stream.write_all(&[*b]).await.is_err() {
                    return;
                }
            }
            drain(&mut stream).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::time::Instant;

    fn http_get(addr: SocketAddr, path: &str) -> (u16, String, String) {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/rdap+json\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        (status, head.to_string(), body.to_string())
    }

    fn whois(addr: SocketAddr, name: &str) -> Vec<u8> {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(s, "{name}\r\n").unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn rdap_serves_domains_bootstrap_and_404() {
        let server = RdapServer::new();
        let record = Record::expiring_in_days(90).with_statuses(&["clientHold", "ok"]);
        server.add_record("example.gov.vn", &record);

        let (status, head, body) = http_get(server.addr(), "/domain/EXAMPLE.gov.vn");
        assert_eq!(status, 200);
        assert!(head.contains("Content-Type: application/rdap+json"));
        let doc: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["ldhName"], "EXAMPLE.GOV.VN");
        assert_eq!(doc["status"], json!(["client hold", "active"]));
        assert_eq!(doc["events"][1]["eventDate"], record.expires.to_string());

        let (status, _, body) = http_get(server.addr(), "/domain/other.vn");
        assert_eq!(status, 404);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["errorCode"],
            404
        );

        let (status, _, body) = http_get(server.addr(), "/bootstrap/dns.json");
        assert_eq!(status, 200);
        let b: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(b["services"][0][1][0], server.base_url());
        assert_eq!(b["services"][0][0][0], "vn");
        server.set_bootstrap_tlds(&[]);
        let (_, _, body) = http_get(server.addr(), "/bootstrap/dns.json");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["services"],
            json!([])
        );

        assert_eq!(server.domain_requests(), 2);
    }

    #[test]
    fn rdap_malformed_and_slow() {
        let server = RdapServer::new();
        server.add_record("example.gov.vn", &Record::expiring_in_days(1));
        server.set_mode(RdapMode::Malformed);
        let (status, _, body) = http_get(server.addr(), "/domain/example.gov.vn");
        assert_eq!(status, 200);
        assert!(serde_json::from_str::<Value>(&body).is_err());

        server.set_mode(RdapMode::Slow(Duration::from_millis(600)));
        let started = Instant::now();
        let (status, _, _) = http_get(server.addr(), "/domain/example.gov.vn");
        assert_eq!(status, 200);
        assert!(started.elapsed() >= Duration::from_millis(600));
    }

    #[test]
    fn whois_answers_and_closes() {
        let server = WhoisServer::new();
        let record = Record::expiring_in_days(10);
        server.add_text(
            "example.gov.vn",
            &vnnic_whois_text("example.gov.vn", &record),
        );
        let text = String::from_utf8(whois(server.addr(), "example.gov.vn")).unwrap();
        assert!(text.starts_with("Domain Name: example.gov.vn\n"));
        assert!(text.contains("Registrar Name: Trung tâm Internet Việt Nam (VNNIC)"));
        let not_found = String::from_utf8(whois(server.addr(), "nope.vn")).unwrap();
        assert!(not_found.starts_with("No match for \"NOPE.VN\""));
        assert_eq!(server.queries(), ["example.gov.vn", "nope.vn"]);
    }

    #[test]
    fn whois_never_closing_and_dripping() {
        let server = WhoisServer::new();
        server.add("held.vn", WhoisAnswer::NeverClose(b"Status: ok\n".to_vec()));
        server.add(
            "drip.vn",
            WhoisAnswer::Drip {
                bytes: b"Status: ok\n".to_vec(),
                interval: Duration::from_millis(200),
            },
        );
        for (name, first) in [("held.vn", "Status: ok"), ("drip.vn", "S")] {
            let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(1500)))
                .unwrap();
            write!(s, "{name}\r\n").unwrap();
            let mut reader = BufReader::new(s);
            let mut buf = vec![0u8; 64];
            let n = reader.get_mut().read(&mut buf).unwrap();
            assert!(String::from_utf8_lossy(&buf[..n]).starts_with(first));
            if name == "held.vn" {
                let mut line = String::new();
                let err = reader.read_line(&mut line).unwrap_err();
                assert!(matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ));
            }
        }
    }

    #[test]
    fn writers_use_real_formats() {
        let record = Record::expiring_in_days(30).with_statuses(&["clientHold"]);
        let icann = icann_whois_text("example.com", &record);
        assert!(icann.contains(&format!("   Registry Expiry Date: {}\r\n", record.expires)));
        assert!(
            icann.contains("   Domain Status: clientHold https://icann.org/epp#clientHold\r\n")
        );
        let vnnic = vnnic_whois_text("example.gov.vn", &record);
        let day = record
            .expires
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .strftime("%d-%m-%Y")
            .to_string();
        assert!(vnnic.contains(&format!("Expired Date: {day}\n")));
        assert_eq!(
            rdap_status("clientTransferProhibited"),
            "client transfer prohibited"
        );
        assert_eq!(rdap_status("ok"), "active");
    }
}
