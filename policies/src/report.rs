//! The scan report: what an agent saw at one target, as observations with their evidence.
//!
//! This is the wire and storage format shared by the agent (which fills it), the server (which
//! stores it) and the evaluation (which turns it into verdicts). It carries no verdicts of its
//! own: a probe that could not decide something records `null` together with the reason in a
//! neighbouring `*_errors` map or `error` field, never a silent pass.
//!
//! The JSON shape is documented field by field in `docs/report-schema.md` and frozen by tests.
//! Paths that other tools read are stable within a `schema_version`:
//! `target.host`, `target.port`, `tls.protocols` (keys `ssl3`, `tls1.0`, `tls1.1`, `tls1.2`,
//! `tls1.3`), `tls.certificate.days_left`, `tls.certificate.key_bits`, `tls.validation.trusted`,
//! `tls.validation.error`.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The version of the report schema this crate reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// One scan of one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanReport {
    /// Always [`SCHEMA_VERSION`] for reports written by this crate.
    pub schema_version: u32,
    /// A UUIDv7 (time-ordered), so that report keys sort by time and resends are idempotent.
    pub id: String,
    /// Which agent produced the report.
    pub agent: AgentInfo,
    /// When the scan started (RFC 3339, UTC).
    pub started_at: Timestamp,
    /// How long the whole scan of this target took, in milliseconds.
    pub duration_ms: u64,
    /// What was scanned.
    pub target: Target,
    /// The TLS probe's observations; `null` when the TLS probe was not run.
    pub tls: Option<TlsReport>,
    /// The HTTP probe's observations; `null` when it was not run.
    #[serde(default)]
    pub http: Option<HttpReport>,
    /// The DNS probe's observations; `null` when it was not run.
    #[serde(default)]
    pub dns: Option<DnsReport>,
    /// Registration data of the domain; `null` when it was not looked up.
    #[serde(default)]
    pub domain: Option<DomainReport>,
    /// What the home page contains; `null` when it was not fetched.
    #[serde(default)]
    pub content: Option<ContentReport>,
}

/// The agent that wrote a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    /// The agent's name (its host name unless configured).
    pub name: String,
    /// The agent's version (`canhgac-agent --version`).
    pub version: String,
}

/// The target of a scan, as typed and as resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The target exactly as given (`https://host:port/`, `host`, `host:port`).
    pub input: String,
    /// Host name or IP address literal, lower-case, without brackets.
    pub host: String,
    /// TCP port (443 unless given).
    pub port: u16,
    /// The IP address connected to, when known (from `--resolve` or DNS).
    pub address: Option<String>,
}

/// A short machine-readable reason with a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeError {
    /// Short code: `timeout`, `connection_refused`, `resolve_failed`, `connection_reset`,
    /// `closed`, `protocol_violation`, `too_large`, `handshake_failed`, `io`.
    pub code: String,
    /// What happened, for a person.
    pub message: String,
}

impl ProbeError {
    /// Builds an error from a code and a message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ProbeError {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// What the TLS probe saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TlsReport {
    /// Whether a TCP connection to the target could be opened.
    pub reachable: bool,
    /// Why the probe could not complete, if it could not (the rest is then partial).
    pub error: Option<ProbeError>,
    /// The connection a modern client (rustls, TLS 1.2/1.3) negotiates; `null` if none could.
    pub negotiated: Option<Negotiated>,
    /// Why a modern client could not negotiate, when `negotiated` is `null`.
    pub negotiation_error: Option<ProbeError>,
    /// Which protocol versions the server accepts (`null`: could not be told).
    pub protocols: Protocols,
    /// Why a protocol is `null`, keyed like [`Protocols`] (`"tls1.0"`...).
    pub protocol_errors: BTreeMap<String, ProbeError>,
    /// What the server answered to each version's hello, keyed like [`Protocols`], e.g.
    /// `"ServerHello tls1.0, TLS_RSA_WITH_AES_128_CBC_SHA"` or `"alert protocol_version (70)"`.
    pub protocol_evidence: BTreeMap<String, String>,
    /// Accepted cipher suites per protocol and their classification.
    pub ciphers: Ciphers,
    /// The leaf certificate as served; `null` if no certificate was obtained.
    pub certificate: Option<Certificate>,
    /// The chain as served, leaf first, in the server's order.
    pub chain: Vec<CertificateSummary>,
    /// Structural facts about the served chain.
    pub chain_facts: ChainFacts,
    /// Validation against the trust store with the host name check.
    pub validation: Validation,
    /// How many connections the probe opened (handshakes attempted) for this target.
    pub connections: u32,
}

/// The parameters of a completed modern handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Negotiated {
    /// `tls1.2` or `tls1.3`.
    pub protocol: String,
    /// IANA name of the cipher suite, e.g. `TLS_AES_128_GCM_SHA256`.
    pub cipher_suite: String,
    /// The ALPN protocol the server chose (`h2`, `http/1.1`), if any.
    pub alpn: Option<String>,
    /// The key exchange group, e.g. `X25519`, `secp256r1`, `X25519MLKEM768`.
    pub key_exchange_group: Option<String>,
    /// Whether the server stapled an OCSP response.
    pub ocsp_stapled: bool,
}

/// Protocol versions accepted by the server. `null` means the probe could not tell.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protocols {
    /// SSL 3.0.
    pub ssl3: Option<bool>,
    /// TLS 1.0.
    #[serde(rename = "tls1.0")]
    pub tls1_0: Option<bool>,
    /// TLS 1.1.
    #[serde(rename = "tls1.1")]
    pub tls1_1: Option<bool>,
    /// TLS 1.2.
    #[serde(rename = "tls1.2")]
    pub tls1_2: Option<bool>,
    /// TLS 1.3.
    #[serde(rename = "tls1.3")]
    pub tls1_3: Option<bool>,
}

impl Protocols {
    /// The protocol keys in the order from oldest to newest, as used in JSON.
    pub const KEYS: [&'static str; 5] = ["ssl3", "tls1.0", "tls1.1", "tls1.2", "tls1.3"];

    /// The value for a JSON key such as `"tls1.0"`.
    pub fn get(&self, key: &str) -> Option<Option<bool>> {
        Some(match key {
            "ssl3" => self.ssl3,
            "tls1.0" => self.tls1_0,
            "tls1.1" => self.tls1_1,
            "tls1.2" => self.tls1_2,
            "tls1.3" => self.tls1_3,
            _ => return None,
        })
    }

    /// Sets the value for a JSON key such as `"tls1.0"`; unknown keys are ignored.
    pub fn set(&mut self, key: &str, value: Option<bool>) {
        match key {
            "ssl3" => self.ssl3 = value,
            "tls1.0" => self.tls1_0 = value,
            "tls1.1" => self.tls1_1 = value,
            "tls1.2" => self.tls1_2 = value,
            "tls1.3" => self.tls1_3 = value,
            _ => {}
        }
    }
}

/// Accepted cipher suites and what they say about the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ciphers {
    /// Per accepted protocol (keys as in [`Protocols`]), the suites the server accepted.
    pub by_protocol: BTreeMap<String, ProtocolCiphers>,
    /// Weak classes found across all protocols; `null` where enumeration was incomplete.
    pub weaknesses: CipherWeaknesses,
}

/// The suites one protocol version accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolCiphers {
    /// Accepted suites, in the order the server preferred them when it enforces an order,
    /// otherwise in the order they were found.
    pub suites: Vec<CipherSuite>,
    /// Whether the server picks by its own preference rather than the client's
    /// (`null` with fewer than two suites, or when it could not be told).
    pub server_order: Option<bool>,
    /// False when enumeration stopped early (an error or the handshake budget); the list is
    /// then a lower bound.
    pub complete: bool,
}

/// A cipher suite, described from the IANA registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CipherSuite {
    /// The IANA code point as `0xC02F`.
    pub id: String,
    /// The IANA name, e.g. `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`.
    pub name: String,
    /// Key exchange: `RSA`, `DHE`, `ECDHE`, `DH`, `ECDH`, `PSK`, `TLS1.3`, `NULL`...
    pub key_exchange: String,
    /// Authentication: `RSA`, `ECDSA`, `DSS`, `anon` (none), `TLS1.3`...
    pub authentication: String,
    /// Bulk cipher: `AES`, `CHACHA20_POLY1305`, `3DES`, `DES`, `RC4`, `NULL`...
    pub encryption: String,
    /// Cipher mode: `GCM`, `CCM`, `CBC`, `stream`, `none`.
    pub mode: String,
    /// Symmetric key bits (0 for NULL).
    pub bits: u16,
    /// Whether the key exchange is ephemeral (forward secrecy).
    pub forward_secrecy: bool,
    /// Classes this suite belongs to: `null`, `anonymous`, `export`, `rc4`, `des`, `cbc`,
    /// `no_forward_secrecy`.
    pub flags: Vec<String>,
}

/// Whether the server accepts any suite of each weak class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CipherWeaknesses {
    /// NULL encryption.
    pub null: Option<bool>,
    /// Anonymous (unauthenticated) key exchange.
    pub anonymous: Option<bool>,
    /// EXPORT-grade suites.
    pub export: Option<bool>,
    /// RC4.
    pub rc4: Option<bool>,
    /// DES or 3DES.
    pub des: Option<bool>,
    /// For some protocol, every accepted suite is CBC (no AEAD available).
    pub cbc_only: Option<bool>,
    /// Some accepted suite has no forward secrecy (static RSA/DH/ECDH key exchange).
    pub no_forward_secrecy: Option<bool>,
    /// Every accepted suite has forward secrecy.
    pub forward_secrecy_only: Option<bool>,
}

/// The leaf certificate in detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// Subject distinguished name (RFC 4514 style).
    pub subject: String,
    /// The subject's common name, if any.
    pub common_name: Option<String>,
    /// DNS names in the subjectAltName extension.
    pub san_dns: Vec<String>,
    /// IP addresses in the subjectAltName extension.
    pub san_ip: Vec<String>,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Serial number in hexadecimal.
    pub serial: String,
    /// Start of validity.
    pub not_before: Timestamp,
    /// End of validity.
    pub not_after: Timestamp,
    /// Whole days from the scan until `not_after` (negative once expired).
    pub days_left: i64,
    /// Key algorithm: `RSA`, `EC`, `Ed25519`, `Ed448`, `DSA`, or the OID.
    pub key_type: String,
    /// Key size in bits (RSA modulus, EC curve size).
    pub key_bits: u32,
    /// Named curve for EC keys.
    pub curve: Option<String>,
    /// Signature algorithm, e.g. `sha256WithRSAEncryption`, `ecdsa-with-SHA256`.
    pub signature_algorithm: String,
    /// Whether subject equals issuer and the signature verifies with its own key
    /// (by name only when the signature algorithm is unsupported).
    pub self_signed: bool,
    /// SHA-256 fingerprint of the DER, lower-case hex.
    pub sha256: String,
    /// OCSP responder URLs from the Authority Information Access extension.
    pub ocsp_urls: Vec<String>,
}

/// One certificate of the served chain, briefly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateSummary {
    /// Subject distinguished name.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Serial number in hexadecimal.
    pub serial: String,
    /// End of validity.
    pub not_after: Timestamp,
    /// Key algorithm and size, e.g. `RSA 2048`, `EC 256`.
    pub key: String,
    /// Signature algorithm.
    pub signature_algorithm: String,
    /// Whether subject equals issuer.
    pub self_signed: bool,
    /// Whether it is a CA certificate (basicConstraints CA:TRUE).
    pub is_ca: bool,
    /// SHA-256 fingerprint, lower-case hex.
    pub sha256: String,
    /// Set when the DER could not be parsed; the other fields are then empty.
    pub parse_error: Option<String>,
}

/// Facts about the chain as served, independent of any trust store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainFacts {
    /// Number of certificates served.
    pub served: u32,
    /// Whether each certificate is issued by the next one (`null` with no chain).
    pub in_order: Option<bool>,
    /// Whether the server also sent a self-signed root (harmless, wasteful).
    pub includes_root: bool,
    /// The last served certificate is neither self-signed nor issued by a trusted root, so an
    /// intermediate is probably missing (`null` when it could not be told).
    pub missing_intermediate: Option<bool>,
}

/// The trust verdict for the served chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validation {
    /// `trusted`, `untrusted`, or `unknown` (could not be decided: see `detail`).
    pub status: String,
    /// True only when the chain validated and the host name matched.
    pub trusted: bool,
    /// `null` when trusted; otherwise a short code: `expired`, `not_yet_valid`,
    /// `unknown_issuer`, `self_signed`, `incomplete_chain`, `hostname_mismatch`,
    /// `weak_signature`, `weak_key`, `bad_certificate`, `no_certificate`.
    pub error: Option<String>,
    /// What was wrong, for a person.
    pub detail: Option<String>,
    /// Whether the certificate is valid for the host name (`null` if it could not be parsed).
    pub hostname_match: Option<bool>,
    /// The trust store used: `webpki-roots` plus any extra CA file.
    pub trust_store: String,
}

impl Validation {
    /// A verdict that could not be reached, with the reason.
    pub fn unknown(code: &str, detail: impl Into<String>, trust_store: impl Into<String>) -> Self {
        Validation {
            status: "unknown".into(),
            trusted: false,
            error: Some(code.into()),
            detail: Some(detail.into()),
            hostname_match: None,
            trust_store: trust_store.into(),
        }
    }
}

/// What the HTTP probe saw: plain and secure endpoints, redirects, headers, cookies, leaks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpReport {
    /// Each endpoint tried: `http://host/`, `https://host/`, and the `www.` forms when the
    /// name resolves.
    pub endpoints: Vec<HttpEndpoint>,
    /// Whether `http://host/` ends, after redirects, on `https://` of the same site
    /// (the host or its `www.` form); `null` when plain HTTP could not be reached.
    pub redirects_to_https: Option<bool>,
    /// Whether any redirect chain goes from `https://` to `http://`.
    pub downgrades: Option<bool>,
    /// The URL whose response headers are judged below: the final HTTPS response of the site
    /// itself, never an intermediate redirect; `null` if HTTPS could not be fetched.
    pub judged_url: Option<String>,
    /// Security headers of that response, parsed.
    pub headers: SecurityHeaders,
    /// Cookies set anywhere along the chains, with their flags.
    pub cookies: Vec<Cookie>,
    /// Software and version disclosures (headers and the HTML generator tag).
    pub disclosures: Vec<Disclosure>,
    /// `/.well-known/security.txt` (RFC 9116).
    pub security_txt: SecurityTxt,
    /// Non-intrusive checks for exposed files, each confirmed by content.
    pub exposures: Vec<Exposure>,
    /// Why the probe could not complete, if it could not.
    pub error: Option<ProbeError>,
}

/// One starting URL and where it led.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpEndpoint {
    /// The starting URL.
    pub url: String,
    /// Whether any HTTP response came back.
    pub reachable: bool,
    /// Every response in order: the starting URL's, then each redirect target's.
    pub hops: Vec<HttpHop>,
    /// The last URL reached.
    pub final_url: Option<String>,
    /// The last status code.
    pub final_status: Option<u16>,
    /// Why the chain stopped early (timeout, redirect loop, too many hops, body too large...).
    pub error: Option<ProbeError>,
}

/// One response of a redirect chain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpHop {
    /// The URL requested.
    pub url: String,
    /// The status code.
    pub status: u16,
    /// The Location header, when it redirects.
    pub location: Option<String>,
}

/// Parsed security headers of one response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityHeaders {
    /// Strict-Transport-Security.
    pub hsts: Hsts,
    /// Content-Security-Policy (header or `<meta http-equiv>`).
    pub csp: Csp,
    /// X-Frame-Options, as sent.
    pub x_frame_options: Option<String>,
    /// X-Content-Type-Options, as sent.
    pub x_content_type_options: Option<String>,
    /// Referrer-Policy, as sent.
    pub referrer_policy: Option<String>,
    /// Permissions-Policy, as sent.
    pub permissions_policy: Option<String>,
}

/// Strict-Transport-Security, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hsts {
    /// Whether a well-formed header was sent on the judged HTTPS response.
    pub present: bool,
    /// max-age in seconds; `null` when absent or malformed.
    pub max_age: Option<u64>,
    /// includeSubDomains.
    pub include_subdomains: bool,
    /// preload.
    pub preload: bool,
    /// The header as sent.
    pub raw: Option<String>,
}

/// Content-Security-Policy, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Csp {
    /// Whether an enforced policy exists (header or meta tag).
    pub present: bool,
    /// Where the enforced policy came from: `header` or `meta`.
    pub source: Option<String>,
    /// Whether only a Content-Security-Policy-Report-Only header was sent.
    pub report_only: bool,
    /// `'unsafe-inline'` in script-src (or default-src when script-src is absent).
    pub unsafe_inline: bool,
    /// `'unsafe-eval'` likewise.
    pub unsafe_eval: bool,
    /// Directives allowing any source (`*`, `http:`, `https:`, `data:` for scripts).
    pub wildcard_sources: Vec<String>,
    /// The frame-ancestors directive value, if any.
    pub frame_ancestors: Option<String>,
    /// The policy as sent.
    pub raw: Option<String>,
}

/// A cookie and its flags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cookie {
    /// The cookie name.
    pub name: String,
    /// The URL whose response set it.
    pub set_by: String,
    /// Secure flag.
    pub secure: bool,
    /// HttpOnly flag.
    pub http_only: bool,
    /// SameSite value (`Strict`, `Lax`, `None`), if any.
    pub same_site: Option<String>,
}

/// Software named by the site itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disclosure {
    /// Where: `Server`, `X-Powered-By`, `X-AspNet-Version`, `X-Generator`, `meta generator`.
    pub source: String,
    /// The value as sent.
    pub value: String,
    /// The product recognised (`nginx`, `Apache`, `PHP`, `WordPress`, `Joomla`...), if any.
    pub product: Option<String>,
    /// The version disclosed, if any.
    pub version: Option<String>,
}

/// `/.well-known/security.txt`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityTxt {
    /// Whether a file with at least one Contact field was served.
    pub present: bool,
    /// The URL fetched.
    pub url: Option<String>,
    /// Contact fields.
    pub contacts: Vec<String>,
    /// The Expires field.
    pub expires: Option<Timestamp>,
    /// Whether Expires is in the past at scan time (`null` without Expires).
    pub expired: Option<bool>,
    /// Whether the file is OpenPGP cleartext-signed.
    pub signed: bool,
}

/// One exposure check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exposure {
    /// What was looked for: `git`, `env`, `phpinfo`, `server_status`, `directory_listing`,
    /// `backup_archive`.
    pub check: String,
    /// The path requested.
    pub path: String,
    /// The status code, if any.
    pub status: Option<u16>,
    /// Whether the content confirms the exposure (a status code alone never does).
    pub exposed: bool,
    /// What confirmed it (a short excerpt or signature).
    pub evidence: Option<String>,
}

/// What the DNS probe saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DnsReport {
    /// The resolver used (`system` or an address).
    pub resolver: String,
    /// IPv4 addresses of the host.
    pub a: Vec<String>,
    /// IPv6 addresses of the host.
    pub aaaa: Vec<String>,
    /// Whether the host has an AAAA record and HTTPS answers on it (`null`: not decided).
    pub ipv6: Option<bool>,
    /// The CNAME target, if the host is an alias.
    pub cname: Option<String>,
    /// Whether the CNAME points to a name that does not resolve.
    pub cname_dangling: Option<bool>,
    /// Name servers of the zone and whether each answers.
    pub ns: Vec<NameServer>,
    /// CAA records (`0 issue "letsencrypt.org"`), from the closest name that has them.
    pub caa: Vec<String>,
    /// Mail exchangers and their STARTTLS.
    pub mx: Vec<MailExchanger>,
    /// The SPF record, parsed.
    pub spf: Option<Spf>,
    /// The DMARC record, parsed.
    pub dmarc: Option<Dmarc>,
    /// The `_mta-sts` TXT record, if any.
    pub mta_sts: Option<String>,
    /// The `_smtp._tls` (TLS-RPT) TXT record, if any.
    pub tls_rpt: Option<String>,
    /// `valid`, `unsigned`, `bogus` or `unknown`.
    pub dnssec: String,
    /// Why, when not `valid`: missing DS, bad signature, expired signature, SERVFAIL...
    pub dnssec_detail: Option<String>,
    /// Lookups that failed, by record type (`A`, `MX`...).
    pub errors: BTreeMap<String, ProbeError>,
}

/// A name server of the zone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameServer {
    /// Its name.
    pub name: String,
    /// Its addresses.
    pub addresses: Vec<String>,
    /// Whether it answered a query for the zone's SOA authoritatively.
    pub answers: Option<bool>,
}

/// A mail exchanger and what it offers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailExchanger {
    /// Preference.
    pub preference: u16,
    /// Host name.
    pub exchange: String,
    /// Whether it offers STARTTLS on port 25 (`null`: could not connect).
    pub starttls: Option<bool>,
    /// Whether its certificate validates for its name (`null`: no TLS).
    pub certificate_valid: Option<bool>,
    /// Why the check could not complete.
    pub error: Option<ProbeError>,
}

/// An SPF record, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spf {
    /// The record as published.
    pub raw: String,
    /// The `all` mechanism with its qualifier (`-all`, `~all`, `?all`, `+all`), if any.
    pub all: Option<String>,
    /// DNS-querying terms counted towards the RFC 7208 limit of 10.
    pub lookups: u32,
    /// Problems found (more than one record, unknown terms, over 10 lookups...).
    pub problems: Vec<String>,
}

/// A DMARC record, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dmarc {
    /// The record as published.
    pub raw: String,
    /// p= (`none`, `quarantine`, `reject`).
    pub policy: Option<String>,
    /// sp=.
    pub subdomain_policy: Option<String>,
    /// pct=.
    pub pct: Option<u8>,
    /// rua= addresses.
    pub rua: Vec<String>,
    /// Problems found.
    pub problems: Vec<String>,
}

/// Registration data of the registrable domain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DomainReport {
    /// The registrable domain looked up (e.g. `dongnai.gov.vn` for `sct.dongnai.gov.vn`).
    pub name: String,
    /// Whether the host is under `.gov.vn`.
    pub gov_vn: bool,
    /// `rdap` or `whois`: where the data came from; `null` when neither answered.
    pub source: Option<String>,
    /// The registrar, if given.
    pub registrar: Option<String>,
    /// Registration date.
    pub created: Option<Timestamp>,
    /// Expiry date.
    pub expires: Option<Timestamp>,
    /// Whole days from the scan to `expires` (negative once expired); `null` if unknown.
    pub expires_in_days: Option<i64>,
    /// Status codes (`active`, `clientHold`, `clientTransferProhibited`...).
    pub statuses: Vec<String>,
    /// Name servers in the registration.
    pub nameservers: Vec<String>,
    /// Why the data could not be had (unavailability is recorded, never read as a pass).
    pub error: Option<ProbeError>,
}

/// What the home page contains.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentReport {
    /// The URL fetched (the final HTTPS page, else the final HTTP page).
    pub url: Option<String>,
    /// Bytes read (bounded).
    pub bytes: u64,
    /// The page title.
    pub title: Option<String>,
    /// Whether gambling or betting spam was found (keywords, hidden links).
    pub gambling_spam: bool,
    /// Whether defacement phrases were found.
    pub defacement: bool,
    /// Every keyword hit, with its category and context.
    pub keyword_hits: Vec<KeywordHit>,
    /// Links hidden by CSS (display:none, off-screen, zero size...).
    pub hidden_links: Vec<HiddenLink>,
    /// Change of the main text against the agent's last baseline for this target.
    pub baseline: Option<BaselineChange>,
    /// Whether the national trust badge (tín nhiệm mạng) script or link is on the page.
    pub trust_badge: bool,
    /// Why the page could not be read.
    pub error: Option<ProbeError>,
}

/// A keyword found on the page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeywordHit {
    /// The keyword as listed.
    pub keyword: String,
    /// Its category (`gambling`, `defacement`...).
    pub category: String,
    /// Where it was found (`text`, `hidden`, `link`, `title`).
    pub location: String,
    /// A short excerpt around it.
    pub context: String,
}

/// A link hidden from visitors but visible to search engines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HiddenLink {
    /// The link target.
    pub href: String,
    /// The link text.
    pub text: String,
    /// How it was hidden (`display:none`, `visibility:hidden`, `off-screen`, `zero-size`...).
    pub technique: String,
}

/// The page against the previous baseline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BaselineChange {
    /// When the baseline was taken.
    pub baseline_at: Timestamp,
    /// Similarity of the main text, 0 (nothing shared) to 1 (identical).
    pub similarity: f64,
    /// Whether the change exceeds the threshold.
    pub changed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> ScanReport {
        let mut protocols = Protocols::default();
        protocols.set("tls1.2", Some(true));
        protocols.set("tls1.3", Some(true));
        protocols.set("tls1.0", Some(false));
        let mut protocol_errors = BTreeMap::new();
        protocol_errors.insert(
            "ssl3".to_string(),
            ProbeError::new("timeout", "no answer within 5s"),
        );
        ScanReport {
            schema_version: SCHEMA_VERSION,
            id: "01936f6e-5b7a-7cc0-9a8e-3a5c1f1d2e3f".into(),
            agent: AgentInfo {
                name: "agent-1".into(),
                version: "0.1.0".into(),
            },
            started_at: "2026-11-23T08:00:00Z".parse().unwrap(),
            duration_ms: 120,
            target: Target {
                input: "https://sct.example.gov.vn/".into(),
                host: "sct.example.gov.vn".into(),
                port: 443,
                address: Some("127.0.0.1".into()),
            },
            tls: Some(TlsReport {
                reachable: true,
                error: None,
                negotiated: Some(Negotiated {
                    protocol: "tls1.3".into(),
                    cipher_suite: "TLS_AES_256_GCM_SHA384".into(),
                    alpn: Some("h2".into()),
                    key_exchange_group: Some("X25519".into()),
                    ocsp_stapled: false,
                }),
                negotiation_error: None,
                protocols,
                protocol_errors,
                protocol_evidence: BTreeMap::new(),
                ciphers: Ciphers::default(),
                certificate: Some(Certificate {
                    subject: "CN=sct.example.gov.vn".into(),
                    common_name: Some("sct.example.gov.vn".into()),
                    san_dns: vec!["sct.example.gov.vn".into()],
                    san_ip: vec![],
                    issuer: "CN=Test CA".into(),
                    serial: "01".into(),
                    not_before: "2026-01-01T00:00:00Z".parse().unwrap(),
                    not_after: "2027-01-01T00:00:00Z".parse().unwrap(),
                    days_left: 38,
                    key_type: "EC".into(),
                    key_bits: 256,
                    curve: Some("P-256".into()),
                    signature_algorithm: "ecdsa-with-SHA256".into(),
                    self_signed: false,
                    sha256: "00".repeat(32),
                    ocsp_urls: vec![],
                }),
                chain: vec![],
                chain_facts: ChainFacts::default(),
                validation: Validation::unknown("no_certificate", "test", "webpki-roots"),
                connections: 12,
            }),
            http: None,
            dns: None,
            domain: None,
            content: None,
        }
    }

    #[test]
    fn json_round_trip_is_lossless() {
        let report = sample();
        let json = serde_json::to_string_pretty(&report).unwrap();
        let back: ScanReport = serde_json::from_str(&json).unwrap();
        assert_eq!(report, back);
        assert_eq!(serde_json::to_string_pretty(&back).unwrap(), json);
    }

    #[test]
    fn stable_paths_are_where_the_docs_say() {
        let v = serde_json::to_value(sample()).unwrap();
        assert_eq!(v["target"]["host"], "sct.example.gov.vn");
        assert_eq!(v["target"]["port"], 443);
        let protocols = v["tls"]["protocols"].as_object().unwrap();
        let keys: Vec<&str> = protocols.keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 5);
        for key in Protocols::KEYS {
            assert!(protocols.contains_key(key), "missing {key}");
        }
        assert_eq!(v["tls"]["protocols"]["tls1.3"], true);
        assert_eq!(v["tls"]["protocols"]["tls1.0"], false);
        assert!(v["tls"]["protocols"]["ssl3"].is_null());
        assert_eq!(v["tls"]["certificate"]["days_left"], 38);
        assert_eq!(v["tls"]["certificate"]["key_bits"], 256);
        assert_eq!(v["tls"]["validation"]["trusted"], false);
        assert_eq!(v["tls"]["validation"]["error"], "no_certificate");
    }
}
