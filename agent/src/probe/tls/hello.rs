//! Raw ClientHello records and the reading of what a server answers to them.
//!
//! rustls speaks only TLS 1.2 and 1.3 with strong suites, so to learn whether a server still
//! accepts SSL 3.0, TLS 1.0/1.1 or weak suites we write the ClientHello bytes ourselves and
//! read the ServerHello (or alert) that comes back. Nothing past the ServerHello (and, for
//! TLS 1.2 and older, the plaintext Certificate message) is ever needed, so no key exchange is
//! done. Building is pure and reading is an incremental, allocation-bounded state machine with
//! no I/O, so both are property-tested against arbitrary bytes.

use tls_parser::{
    TlsExtension, TlsMessage, TlsMessageHandshake, parse_tls_message_handshake,
    parse_tls_server_hello_extensions,
};

/// A protocol version a ClientHello can offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// SSL 3.0.
    Ssl3,
    /// TLS 1.0.
    Tls10,
    /// TLS 1.1.
    Tls11,
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl Version {
    /// All versions, oldest first.
    pub const ALL: [Version; 5] = [
        Version::Ssl3,
        Version::Tls10,
        Version::Tls11,
        Version::Tls12,
        Version::Tls13,
    ];

    /// The wire value of the version.
    pub fn wire(self) -> u16 {
        match self {
            Version::Ssl3 => 0x0300,
            Version::Tls10 => 0x0301,
            Version::Tls11 => 0x0302,
            Version::Tls12 => 0x0303,
            Version::Tls13 => 0x0304,
        }
    }

    /// The key used in reports (`ssl3`, `tls1.0`...).
    pub fn key(self) -> &'static str {
        match self {
            Version::Ssl3 => "ssl3",
            Version::Tls10 => "tls1.0",
            Version::Tls11 => "tls1.1",
            Version::Tls12 => "tls1.2",
            Version::Tls13 => "tls1.3",
        }
    }
}

/// What to put in a ClientHello.
#[derive(Debug, Clone)]
pub struct HelloSpec<'a> {
    /// The version offered.
    pub version: Version,
    /// Cipher suites offered, in preference order.
    pub suites: &'a [u16],
    /// Server name for SNI (DNS names only; IP literals are never sent as SNI).
    pub sni: Option<&'a str>,
    /// Ask for a stapled OCSP response (status_request).
    pub status_request: bool,
    /// 32 bytes of client random; also used for the TLS 1.3 session id and key share.
    pub random: [u8; 32],
}

const GROUPS: [u16; 9] = [
    0x001d, // x25519
    0x0017, // secp256r1
    0x0018, // secp384r1
    0x0019, // secp521r1
    0x001e, // x448
    0x0100, // ffdhe2048
    0x0101, // ffdhe3072
    0x0102, // ffdhe4096
    0x0016, // secp256k1
];

const SIGNATURE_SCHEMES: [u16; 16] = [
    0x0403, 0x0503, 0x0603, // ecdsa sha256/384/512
    0x0807, 0x0808, // ed25519, ed448
    0x0804, 0x0805, 0x0806, // rsa_pss_rsae
    0x0809, 0x080a, 0x080b, // rsa_pss_pss
    0x0401, 0x0501, 0x0601, // rsa_pkcs1
    0x0201, 0x0203, // rsa_pkcs1_sha1, ecdsa_sha1 (legacy servers sign with nothing else)
];

/// The random value that marks a TLS 1.3 ServerHello as a HelloRetryRequest (RFC 8446, 4.1.3).
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_u24(out: &mut Vec<u8>, v: usize) {
    let v = v as u32;
    out.extend_from_slice(&v.to_be_bytes()[1..]);
}

fn put_ext(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    put_u16(out, kind);
    put_u16(out, body.len() as u16);
    out.extend_from_slice(body);
}

fn u16_list(values: &[u16], prefix_len_bytes: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(values.len() * 2 + 2);
    let len = values.len() * 2;
    if prefix_len_bytes == 1 {
        body.push(len as u8);
    } else {
        put_u16(&mut body, len as u16);
    }
    for v in values {
        put_u16(&mut body, *v);
    }
    body
}

/// Builds one TLS record holding a ClientHello for the spec.
pub fn client_hello(spec: &HelloSpec<'_>) -> Vec<u8> {
    let tls13 = spec.version == Version::Tls13;
    let mut body = Vec::with_capacity(512 + spec.suites.len() * 2);
    let legacy_version = if tls13 { 0x0303 } else { spec.version.wire() };
    put_u16(&mut body, legacy_version);
    body.extend_from_slice(&spec.random);
    if tls13 {
        // A non-empty legacy session id keeps middleboxes that expect TLS 1.2 quiet.
        body.push(32);
        body.extend_from_slice(&spec.random);
    } else {
        body.push(0);
    }
    let suites: Vec<u16> = spec.suites.iter().copied().take(0x7fff).collect();
    body.extend_from_slice(&u16_list(&suites, 2));
    body.extend_from_slice(&[1, 0]); // compression: null only

    if spec.version != Version::Ssl3 {
        let mut ext = Vec::with_capacity(256);
        if let Some(name) = spec.sni.filter(|n| !n.is_empty() && n.len() < 256) {
            let mut sni = Vec::new();
            put_u16(&mut sni, (name.len() + 3) as u16);
            sni.push(0);
            put_u16(&mut sni, name.len() as u16);
            sni.extend_from_slice(name.as_bytes());
            put_ext(&mut ext, 0x0000, &sni);
        }
        put_ext(&mut ext, 0x000a, &u16_list(&GROUPS, 2));
        put_ext(&mut ext, 0x000b, &[1, 0]);
        put_ext(&mut ext, 0x000d, &u16_list(&SIGNATURE_SCHEMES, 2));
        if spec.status_request {
            put_ext(&mut ext, 0x0005, &[1, 0, 0, 0, 0]);
        }
        put_ext(&mut ext, 0x0017, &[]); // extended_master_secret
        if tls13 {
            put_ext(&mut ext, 0x002b, &[2, 0x03, 0x04]); // supported_versions: TLS 1.3
            put_ext(&mut ext, 0x002d, &[1, 1]); // psk_key_exchange_modes: psk_dhe_ke
            // key_share: one X25519 share. Any 32 bytes are a valid X25519 public value; the
            // handshake is never completed, so no private key is kept.
            let mut ks = Vec::with_capacity(40);
            put_u16(&mut ks, 36);
            put_u16(&mut ks, 0x001d);
            put_u16(&mut ks, 32);
            ks.extend_from_slice(&spec.random);
            put_ext(&mut ext, 0x0033, &ks);
        } else {
            put_ext(&mut ext, 0xff01, &[0]); // renegotiation_info, empty
        }
        put_u16(&mut body, ext.len() as u16);
        body.extend_from_slice(&ext);
    }

    let mut handshake = Vec::with_capacity(body.len() + 4);
    handshake.push(1); // client_hello
    put_u24(&mut handshake, body.len());
    handshake.extend_from_slice(&body);

    let mut record = Vec::with_capacity(handshake.len() + 5);
    record.push(0x16);
    put_u16(
        &mut record,
        if spec.version == Version::Ssl3 {
            0x0300
        } else {
            0x0301
        },
    );
    put_u16(&mut record, handshake.len() as u16);
    record.extend_from_slice(&handshake);
    record
}

/// The facts of a ServerHello that matter to the probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    /// The negotiated version (from supported_versions for TLS 1.3).
    pub version: u16,
    /// The chosen cipher suite.
    pub cipher: u16,
    /// Whether this was a TLS 1.3 HelloRetryRequest (the server accepts 1.3 but wants
    /// another key share).
    pub hello_retry: bool,
    /// Certificates (DER) from the plaintext Certificate message, when asked for and sent.
    pub certificates: Vec<Vec<u8>>,
    /// Whether a CertificateStatus (stapled OCSP) message followed the certificates.
    pub ocsp_stapled: bool,
}

/// What the server answered to a ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A ServerHello.
    Hello(ServerHello),
    /// A TLS alert before any ServerHello.
    Alert {
        /// 1 warning, 2 fatal.
        level: u8,
        /// The alert description code (40 handshake_failure, 70 protocol_version...).
        description: u8,
    },
    /// The connection closed before any ServerHello.
    Closed,
}

/// Why a server's answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The bytes are not TLS.
    #[error("the server's answer is not TLS: {0}")]
    NotTls(String),
    /// The answer exceeded the byte budget before the wanted messages arrived.
    #[error("the server sent more than {0} bytes without completing the messages read")]
    TooLarge(usize),
}

/// Progress of a [`AnswerReader`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// More bytes are needed.
    NeedMore,
    /// The answer is complete.
    Done(Answer),
}

/// Reads a server's answer incrementally, within a byte budget.
#[derive(Debug)]
pub struct AnswerReader {
    record_buf: Vec<u8>,
    handshake_buf: Vec<u8>,
    want_certificate: bool,
    hello: Option<ServerHello>,
    total: usize,
    limit: usize,
}

/// The largest record a TLS peer may send (2^14 plus expansion, RFC 5246 6.2.3).
const MAX_RECORD: usize = 16384 + 2048;

impl AnswerReader {
    /// A reader that stops at the ServerHello, or (with `want_certificate`, TLS 1.2 and older)
    /// after the Certificate and any CertificateStatus. At most `limit` bytes are accepted.
    pub fn new(want_certificate: bool, limit: usize) -> Self {
        AnswerReader {
            record_buf: Vec::with_capacity(4096),
            handshake_buf: Vec::new(),
            want_certificate,
            hello: None,
            total: 0,
            limit,
        }
    }

    /// Feeds bytes read from the connection.
    pub fn feed(&mut self, data: &[u8]) -> Result<Progress, ReadError> {
        self.total += data.len();
        if self.total > self.limit {
            return Err(ReadError::TooLarge(self.limit));
        }
        self.record_buf.extend_from_slice(data);
        let mut consumed = 0;
        let result = loop {
            let rest = &self.record_buf[consumed..];
            if rest.is_empty() {
                break Ok(Progress::NeedMore);
            }
            if rest[0] & 0x80 != 0 {
                break Err(ReadError::NotTls(
                    "an SSLv2-format record (SSL 2.0 server)".into(),
                ));
            }
            if !(20..=24).contains(&rest[0]) {
                break Err(ReadError::NotTls(format!(
                    "unknown record type {} (first bytes {:02x?})",
                    rest[0],
                    &rest[..rest.len().min(8)]
                )));
            }
            if rest.len() >= 2 && rest[1] != 3 {
                break Err(ReadError::NotTls(format!(
                    "record version major {} is not 3",
                    rest[1]
                )));
            }
            if rest.len() < 5 {
                break Ok(Progress::NeedMore);
            }
            let len = u16::from_be_bytes([rest[3], rest[4]]) as usize;
            if len > MAX_RECORD {
                break Err(ReadError::NotTls(format!(
                    "record of {len} bytes exceeds the TLS maximum"
                )));
            }
            if rest.len() < 5 + len {
                break Ok(Progress::NeedMore);
            }
            let kind = rest[0];
            let payload = &rest[5..5 + len];
            consumed += 5 + len;
            match kind {
                21 => {
                    if let Some(hello) = self.hello.take() {
                        break Ok(Progress::Done(Answer::Hello(hello)));
                    }
                    if payload.len() < 2 {
                        break Err(ReadError::NotTls("truncated alert".into()));
                    }
                    break Ok(Progress::Done(Answer::Alert {
                        level: payload[0],
                        description: payload[1],
                    }));
                }
                22 => {
                    self.handshake_buf.extend_from_slice(payload);
                    match self.drain_handshake() {
                        Ok(Some(done)) => break Ok(Progress::Done(done)),
                        Ok(None) => {}
                        Err(e) => break Err(e),
                    }
                }
                _ => {
                    // ChangeCipherSpec or encrypted data: nothing more can be read in clear.
                    if let Some(hello) = self.hello.take() {
                        break Ok(Progress::Done(Answer::Hello(hello)));
                    }
                    break Err(ReadError::NotTls(format!(
                        "record type {kind} before any ServerHello"
                    )));
                }
            }
        };
        self.record_buf.drain(..consumed.min(self.record_buf.len()));
        result
    }

    /// The answer when the peer closed the connection; closing in the middle of a record or
    /// of a handshake message before any ServerHello is a protocol violation.
    pub fn closed(&mut self) -> Result<Answer, ReadError> {
        match self.hello.take() {
            Some(hello) => Ok(Answer::Hello(hello)),
            None if self.record_buf.is_empty() && self.handshake_buf.is_empty() => {
                Ok(Answer::Closed)
            }
            None => Err(ReadError::NotTls(
                "the connection closed in the middle of the server's answer".into(),
            )),
        }
    }

    fn drain_handshake(&mut self) -> Result<Option<Answer>, ReadError> {
        loop {
            let buf = &self.handshake_buf;
            if buf.len() < 4 {
                return Ok(None);
            }
            let msg_type = buf[0];
            let msg_len = u32::from_be_bytes([0, buf[1], buf[2], buf[3]]) as usize;
            if msg_len > self.limit {
                return Err(ReadError::TooLarge(self.limit));
            }
            if buf.len() < 4 + msg_len {
                return Ok(None);
            }
            let message: Vec<u8> = self.handshake_buf.drain(..4 + msg_len).collect();
            match self.hello.as_mut() {
                None => {
                    if msg_type != 2 {
                        return Err(ReadError::NotTls(format!(
                            "handshake message type {msg_type} before the ServerHello"
                        )));
                    }
                    let hello = parse_server_hello(&message)?;
                    let tls13 = hello.version == 0x0304;
                    self.hello = Some(hello);
                    if !self.want_certificate || tls13 {
                        return Ok(self.hello.take().map(Answer::Hello));
                    }
                }
                Some(hello) => match msg_type {
                    11 => {
                        // The message after the certificates tells whether OCSP was stapled.
                        hello.certificates = parse_certificates(&message)?;
                    }
                    22 => {
                        hello.ocsp_stapled = true;
                        return Ok(self.hello.take().map(Answer::Hello));
                    }
                    _ => {
                        // ServerKeyExchange, ServerHelloDone...: nothing more to learn.
                        return Ok(self.hello.take().map(Answer::Hello));
                    }
                },
            }
        }
    }
}

fn parse_server_hello(message: &[u8]) -> Result<ServerHello, ReadError> {
    let parsed = parse_tls_message_handshake(message)
        .map_err(|e| ReadError::NotTls(format!("malformed ServerHello ({e:?})")))?;
    let TlsMessage::Handshake(TlsMessageHandshake::ServerHello(sh)) = parsed.1 else {
        return Err(ReadError::NotTls(
            "unsupported ServerHello variant".to_string(),
        ));
    };
    let mut version = sh.version.0;
    if let Some(ext) = sh.ext {
        let (_, extensions) = parse_tls_server_hello_extensions(ext)
            .map_err(|e| ReadError::NotTls(format!("malformed ServerHello extensions ({e:?})")))?;
        for e in extensions {
            if let TlsExtension::SupportedVersions(v) = e
                && let Some(first) = v.first()
            {
                version = first.0;
            }
        }
    }
    Ok(ServerHello {
        version,
        cipher: sh.cipher.0,
        hello_retry: sh.random == HELLO_RETRY_RANDOM,
        certificates: Vec::new(),
        ocsp_stapled: false,
    })
}

fn parse_certificates(message: &[u8]) -> Result<Vec<Vec<u8>>, ReadError> {
    match parse_tls_message_handshake(message) {
        Ok((_, TlsMessage::Handshake(TlsMessageHandshake::Certificate(c)))) => {
            Ok(c.cert_chain.iter().map(|c| c.data.to_vec()).collect())
        }
        Ok(_) => Err(ReadError::NotTls("unexpected Certificate message".into())),
        Err(e) => Err(ReadError::NotTls(format!(
            "malformed Certificate message ({e:?})"
        ))),
    }
}

/// A readable name for a TLS alert description.
pub fn alert_name(description: u8) -> &'static str {
    match description {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        47 => "illegal_parameter",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        120 => "no_application_protocol",
        _ => "unknown_alert",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tls_parser::{TlsExtension, parse_tls_plaintext};

    fn spec(version: Version, suites: &[u16]) -> HelloSpec<'_> {
        HelloSpec {
            version,
            suites,
            sni: Some("sct.example.gov.vn"),
            status_request: true,
            random: [7; 32],
        }
    }

    #[test]
    fn client_hello_parses_back_with_tls_parser() {
        for version in Version::ALL {
            let suites = [0xc02f, 0x009c, 0x000a];
            let bytes = client_hello(&spec(version, &suites));
            let (rest, record) = parse_tls_plaintext(&bytes).expect("parses");
            assert!(rest.is_empty());
            let TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)) = &record.msg[0] else {
                panic!("not a ClientHello");
            };
            let ids: Vec<u16> = ch.ciphers.iter().map(|c| c.0).collect();
            assert_eq!(ids, suites);
            if version == Version::Ssl3 {
                assert!(ch.ext.is_none());
                continue;
            }
            let (_, exts) = tls_parser::parse_tls_client_hello_extensions(ch.ext.unwrap()).unwrap();
            let sni = exts.iter().any(|e| matches!(e, TlsExtension::SNI(_)));
            assert!(sni, "{version:?} lacks SNI");
            let sv = exts
                .iter()
                .any(|e| matches!(e, TlsExtension::SupportedVersions(_)));
            assert_eq!(sv, version == Version::Tls13);
        }
    }

    fn server_hello_record(version: u16, cipher: u16, supported_version: Option<u16>) -> Vec<u8> {
        let mut body = Vec::new();
        put_u16(&mut body, version);
        body.extend_from_slice(&[1; 32]);
        body.push(0);
        put_u16(&mut body, cipher);
        body.push(0);
        if let Some(sv) = supported_version {
            let mut ext = Vec::new();
            put_ext(&mut ext, 0x002b, &sv.to_be_bytes());
            put_u16(&mut body, ext.len() as u16);
            body.extend_from_slice(&ext);
        }
        let mut hs = vec![2];
        put_u24(&mut hs, body.len());
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 3, 3];
        put_u16(&mut rec, hs.len() as u16);
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn reads_a_server_hello_in_pieces() {
        let rec = server_hello_record(0x0303, 0xc02f, None);
        let mut reader = AnswerReader::new(false, 65536);
        for (i, byte) in rec.iter().enumerate() {
            let p = reader.feed(std::slice::from_ref(byte)).unwrap();
            if i + 1 < rec.len() {
                assert_eq!(p, Progress::NeedMore);
            } else {
                let Progress::Done(Answer::Hello(h)) = p else {
                    panic!("{p:?}")
                };
                assert_eq!((h.version, h.cipher), (0x0303, 0xc02f));
            }
        }
    }

    #[test]
    fn tls13_version_comes_from_supported_versions() {
        let rec = server_hello_record(0x0303, 0x1301, Some(0x0304));
        let mut reader = AnswerReader::new(true, 65536);
        let Progress::Done(Answer::Hello(h)) = reader.feed(&rec).unwrap() else {
            panic!()
        };
        assert_eq!((h.version, h.cipher), (0x0304, 0x1301));
    }

    #[test]
    fn reads_alerts_and_refuses_garbage() {
        let mut reader = AnswerReader::new(false, 1024);
        assert_eq!(
            reader.feed(&[21, 3, 3, 0, 2, 2, 40]).unwrap(),
            Progress::Done(Answer::Alert {
                level: 2,
                description: 40
            })
        );
        let mut reader = AnswerReader::new(false, 1024);
        assert!(matches!(
            reader.feed(b"HTTP/1.1 400 Bad Request\r\n"),
            Err(ReadError::NotTls(_))
        ));
    }

    #[test]
    fn a_huge_certificate_message_hits_the_budget() {
        let mut rec = server_hello_record(0x0303, 0xc02f, None);
        // Certificate message header claiming 16 MB.
        rec.extend_from_slice(&[0x16, 3, 3, 0, 4, 11, 0xff, 0xff, 0xff]);
        let mut reader = AnswerReader::new(true, 256 * 1024);
        assert_eq!(
            reader.feed(&rec),
            Err(ReadError::TooLarge(256 * 1024)),
            "a claimed 16 MB message is refused before it is read"
        );
    }

    proptest! {
        #[test]
        fn reader_never_panics(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8), want in any::<bool>()) {
            let mut reader = AnswerReader::new(want, 4096);
            for c in &chunks {
                match reader.feed(c) {
                    Ok(Progress::NeedMore) => {}
                    _ => break,
                }
            }
            let _ = reader.closed();
        }

        #[test]
        fn reader_never_panics_on_mutated_hellos(pos in 0usize..60, byte in any::<u8>(), cut in 0usize..60) {
            let mut rec = server_hello_record(0x0303, 0xc02f, Some(0x0304));
            let pos = pos % rec.len();
            rec[pos] = byte;
            rec.truncate(rec.len() - cut.min(rec.len()));
            let mut reader = AnswerReader::new(true, 4096);
            let _ = reader.feed(&rec);
            let _ = reader.closed();
        }

        #[test]
        fn client_hello_always_parses(n in 0usize..400, version in 0usize..5, sni in "[a-z0-9.-]{0,80}") {
            let suites: Vec<u16> = (0..n as u16).collect();
            let bytes = client_hello(&HelloSpec { version: Version::ALL[version], suites: &suites, sni: Some(&sni), status_request: true, random: [1; 32] });
            prop_assert!(parse_tls_plaintext(&bytes).is_ok());
        }
    }
}
