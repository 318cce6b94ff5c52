//! Stand-ins for servers that accept cipher suites or protocol versions no TLS stack available
//! here will negotiate: Debian's OpenSSL 3.0 has no RC4 or 3DES suites (built without
//! `enable-weak-ssl-ciphers`) and no SSLv3, and rustls has none of them. The scanner detects
//! these with raw ClientHello probes that stop at the ServerHello, so a peer that answers those
//! probes on the wire exactly as such a server would is enough to test that detection.
//!
//! A [`LegacyHelloPeer`] reads a ClientHello, and if the client's version is at least the
//! configured one and it offers one of the configured suites, answers ServerHello (configured
//! version, first configured suite the client offers, empty session id, null compression, no
//! extensions), Certificate (a test PKI chain) and ServerHelloDone, then waits for the client to
//! close. Otherwise it sends a fatal alert: `protocol_version` (70) for a too-old client version,
//! `handshake_failure` (40) for no common suite. It has no cryptography: a real client cannot
//! complete the handshake, it only learns what a probe learns.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::background::{ServerHandle, bind_loopback};
use crate::pki::{LOCALHOST_NAMES, TestPki};

/// SSL 3.0 on the wire.
pub const SSL3: u16 = 0x0300;
/// TLS 1.0 on the wire.
pub const TLS10: u16 = 0x0301;
/// TLS 1.1 on the wire.
pub const TLS11: u16 = 0x0302;
/// TLS 1.2 on the wire.
pub const TLS12: u16 = 0x0303;

/// TLS_RSA_WITH_RC4_128_MD5 (OpenSSL: RC4-MD5).
pub const RSA_RC4_128_MD5: u16 = 0x0004;
/// TLS_RSA_WITH_RC4_128_SHA (OpenSSL: RC4-SHA).
pub const RSA_RC4_128_SHA: u16 = 0x0005;
/// TLS_RSA_WITH_3DES_EDE_CBC_SHA (OpenSSL: DES-CBC3-SHA).
pub const RSA_3DES_EDE_CBC_SHA: u16 = 0x000A;
/// TLS_RSA_WITH_AES_128_CBC_SHA (OpenSSL: AES128-SHA).
pub const RSA_AES_128_CBC_SHA: u16 = 0x002F;

/// Fatal alert description: handshake_failure.
pub const ALERT_HANDSHAKE_FAILURE: u8 = 40;
/// Fatal alert description: protocol_version.
pub const ALERT_PROTOCOL_VERSION: u8 = 70;

/// How long the peer waits for a complete ClientHello.
const CLIENT_HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest ClientHello accepted (bytes of handshake message).
const MAX_CLIENT_HELLO: usize = 64 * 1024;

/// What the client offered, as far as this peer cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHelloSummary {
    /// `legacy_version` of the ClientHello.
    pub version: u16,
    /// Offered cipher suites, in the client's order.
    pub cipher_suites: Vec<u16>,
}

/// Parses a ClientHello handshake message (type, 3-byte length, body).
pub fn parse_client_hello(message: &[u8]) -> Option<ClientHelloSummary> {
    let (&msg_type, rest) = message.split_first()?;
    if msg_type != 0x01 || rest.len() < 3 {
        return None;
    }
    let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
    let body = rest.get(3..3 + len)?;
    let version = u16::from_be_bytes([*body.first()?, *body.get(1)?]);
    let sid_len = usize::from(*body.get(34)?);
    let suites_at = 35 + sid_len;
    let suites_len = usize::from(u16::from_be_bytes([
        *body.get(suites_at)?,
        *body.get(suites_at + 1)?,
    ]));
    let suites = body.get(suites_at + 2..suites_at + 2 + suites_len)?;
    if suites_len % 2 != 0 {
        return None;
    }
    Some(ClientHelloSummary {
        version,
        cipher_suites: suites
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect(),
    })
}

#[derive(Clone)]
struct Script {
    version: u16,
    suites: Vec<u16>,
    chain: Vec<CertificateDer<'static>>,
}

/// A running ServerHello-only legacy peer on 127.0.0.1; dropping it stops it.
pub struct LegacyHelloPeer {
    version: u16,
    suites: Vec<u16>,
    handle: ServerHandle,
}

impl fmt::Debug for LegacyHelloPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LegacyHelloPeer")
            .field("version", &format_args!("{:#06x}", self.version))
            .field("suites", &self.suites)
            .field("addr", &self.handle.addr())
            .finish()
    }
}

impl LegacyHelloPeer {
    /// A peer that speaks `version` (one of [`SSL3`], [`TLS10`], [`TLS11`], [`TLS12`]) and
    /// accepts `suites` (in its preference order), presenting `chain` (leaf first).
    pub fn start(
        version: u16,
        suites: &[u16],
        chain: Vec<CertificateDer<'static>>,
    ) -> io::Result<LegacyHelloPeer> {
        let script = Script {
            version,
            suites: suites.to_vec(),
            chain,
        };
        let listener = bind_loopback()?;
        let handle = ServerHandle::spawn(listener, move |stream| serve(script.clone(), stream))?;
        Ok(LegacyHelloPeer {
            version,
            suites: suites.to_vec(),
            handle,
        })
    }

    fn preset(version: u16, suites: &[u16]) -> LegacyHelloPeer {
        let chain = TestPki::shared().leaf_rsa(LOCALHOST_NAMES).chain_der;
        Self::start(version, suites, chain)
            .unwrap_or_else(|e| panic!("cannot start legacy hello peer: {e}"))
    }

    /// TLS 1.2 with RC4-SHA and RC4-MD5 only (RSA leaf for localhost from the test PKI).
    pub fn rc4() -> LegacyHelloPeer {
        Self::preset(TLS12, &[RSA_RC4_128_SHA, RSA_RC4_128_MD5])
    }

    /// TLS 1.2 with DES-CBC3-SHA only (RSA leaf for localhost from the test PKI).
    pub fn triple_des() -> LegacyHelloPeer {
        Self::preset(TLS12, &[RSA_3DES_EDE_CBC_SHA])
    }

    /// SSL 3.0 with AES128-SHA, DES-CBC3-SHA and RC4-SHA (RSA leaf from the test PKI).
    pub fn ssl3() -> LegacyHelloPeer {
        Self::preset(
            SSL3,
            &[RSA_AES_128_CBC_SHA, RSA_3DES_EDE_CBC_SHA, RSA_RC4_128_SHA],
        )
    }

    /// The listening address (always 127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.handle.addr()
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.handle.addr().port()
    }
}

async fn serve(script: Script, mut stream: TcpStream) {
    let _ = answer(&script, &mut stream).await;
}

async fn answer(script: &Script, stream: &mut TcpStream) -> io::Result<()> {
    let message = match tokio::time::timeout(CLIENT_HELLO_TIMEOUT, read_handshake(stream)).await {
        Ok(Ok(Some(message))) => message,
        _ => return Ok(()),
    };
    let Some(hello) = parse_client_hello(&message) else {
        return alert(stream, script.version, 50).await; // decode_error
    };
    if hello.version < script.version {
        return alert(stream, script.version, ALERT_PROTOCOL_VERSION).await;
    }
    let Some(&suite) = script
        .suites
        .iter()
        .find(|s| hello.cipher_suites.contains(s))
    else {
        return alert(stream, script.version, ALERT_HANDSHAKE_FAILURE).await;
    };

    let mut hello_body = script.version.to_be_bytes().to_vec();
    hello_body.extend_from_slice(&server_random());
    hello_body.push(0); // session_id length
    hello_body.extend_from_slice(&suite.to_be_bytes());
    hello_body.push(0); // null compression

    let mut list = Vec::new();
    for cert in &script.chain {
        list.extend_from_slice(&u24(cert.len()));
        list.extend_from_slice(cert);
    }
    let mut cert_body = u24(list.len()).to_vec();
    cert_body.extend_from_slice(&list);

    let mut flight = handshake(0x02, &hello_body);
    flight.extend_from_slice(&handshake(0x0b, &cert_body));
    flight.extend_from_slice(&handshake(0x0e, &[]));
    let mut out = Vec::new();
    for fragment in flight.chunks(16 * 1024) {
        out.extend_from_slice(&record(0x16, script.version, fragment));
    }
    stream.write_all(&out).await?;
    // Wait for the client to give up (it cannot go further).
    let mut buf = [0u8; 4096];
    while stream.read(&mut buf).await? != 0 {}
    Ok(())
}

/// Reads Handshake records until one complete handshake message is buffered; `None` if the
/// client sent something else.
async fn read_handshake(stream: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut message = Vec::new();
    loop {
        let mut header = [0u8; 5];
        stream.read_exact(&mut header).await?;
        if header[0] != 0x16 {
            return Ok(None);
        }
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let mut fragment = vec![0u8; len];
        stream.read_exact(&mut fragment).await?;
        message.extend_from_slice(&fragment);
        if message.len() >= 4 {
            let want = 4
                + (usize::from(message[1]) << 16
                    | usize::from(message[2]) << 8
                    | usize::from(message[3]));
            if want > MAX_CLIENT_HELLO {
                return Ok(None);
            }
            if message.len() >= want {
                message.truncate(want);
                return Ok(Some(message));
            }
        }
    }
}

async fn alert(stream: &mut TcpStream, version: u16, description: u8) -> io::Result<()> {
    stream
        .write_all(&record(0x15, version, &[2, description]))
        .await?;
    stream.shutdown().await
}

fn u24(n: usize) -> [u8; 3] {
    let n = u32::try_from(n).expect("under 16 MiB");
    let b = n.to_be_bytes();
    [b[1], b[2], b[3]]
}

fn handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![msg_type];
    out.extend_from_slice(&u24(body.len()));
    out.extend_from_slice(body);
    out
}

fn record(content_type: u8, version: u16, fragment: &[u8]) -> Vec<u8> {
    let mut out = vec![content_type];
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(
        &u16::try_from(fragment.len())
            .expect("fragment under 64 KiB")
            .to_be_bytes(),
    );
    out.extend_from_slice(fragment);
    out
}

fn server_random() -> [u8; 32] {
    use std::hash::{BuildHasher, RandomState};
    let mut out = [0u8; 32];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&RandomState::new().hash_one(i).to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A minimal ClientHello record offering `suites` with `version`.
    fn client_hello(version: u16, suites: &[u16]) -> Vec<u8> {
        let mut body = version.to_be_bytes().to_vec();
        body.extend_from_slice(&[7u8; 32]);
        body.push(0);
        body.extend_from_slice(&u16::try_from(suites.len() * 2).unwrap().to_be_bytes());
        for s in suites {
            body.extend_from_slice(&s.to_be_bytes());
        }
        body.extend_from_slice(&[1, 0]); // null compression
        record(0x16, TLS10, &handshake(0x01, &body))
    }

    fn exchange(peer: &LegacyHelloPeer, hello: &[u8]) -> Vec<u8> {
        let mut s = std::net::TcpStream::connect(peer.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(hello).unwrap();
        let mut header = [0u8; 5];
        s.read_exact(&mut header).unwrap();
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).unwrap();
        let mut out = header.to_vec();
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn rc4_peer_picks_rc4_and_sends_the_chain() {
        let peer = LegacyHelloPeer::rc4();
        let rec = exchange(
            &peer,
            &client_hello(TLS12, &[0xC02F, RSA_RC4_128_MD5, RSA_RC4_128_SHA]),
        );
        assert_eq!(&rec[..3], &[0x16, 0x03, 0x03]);
        let hs = &rec[5..];
        assert_eq!(hs[0], 0x02);
        let hello_len = 4 + usize::from(hs[3]);
        assert_eq!(&hs[4..6], &[0x03, 0x03]);
        assert_eq!(
            &hs[hello_len - 3..hello_len - 1],
            &RSA_RC4_128_SHA.to_be_bytes()
        );
        let cert = &hs[hello_len..];
        assert_eq!(cert[0], 0x0b);
        let chain = TestPki::shared().intermediate_der();
        assert!(cert.windows(chain.len()).any(|w| w == chain.as_ref()));
        assert_eq!(&hs[hs.len() - 4..], &[0x0e, 0, 0, 0]);
    }

    #[test]
    fn alerts_for_no_common_suite_and_old_version() {
        let peer = LegacyHelloPeer::triple_des();
        let rec = exchange(&peer, &client_hello(TLS12, &[RSA_RC4_128_SHA]));
        assert_eq!(rec, [0x15, 0x03, 0x03, 0, 2, 2, ALERT_HANDSHAKE_FAILURE]);
        let rec = exchange(&peer, &client_hello(TLS11, &[RSA_3DES_EDE_CBC_SHA]));
        assert_eq!(rec, [0x15, 0x03, 0x03, 0, 2, 2, ALERT_PROTOCOL_VERSION]);
        let rec = exchange(&peer, &client_hello(TLS12, &[RSA_3DES_EDE_CBC_SHA]));
        assert_eq!(&rec[..3], &[0x16, 0x03, 0x03]);
        assert_eq!(&rec[5..9], &[0x02, 0, 0, 0x26]); // ServerHello, 38-byte body
    }

    #[test]
    fn ssl3_peer_answers_in_ssl3() {
        let peer = LegacyHelloPeer::ssl3();
        let rec = exchange(&peer, &client_hello(TLS12, &[0xC02F, RSA_AES_128_CBC_SHA]));
        assert_eq!(&rec[..3], &[0x16, 0x03, 0x00]);
        assert_eq!(&rec[9..11], &[0x03, 0x00]);
    }

    #[test]
    fn rustls_gets_a_handshake_failure() {
        let peer = LegacyHelloPeer::rc4();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let err = rt.block_on(async {
            let tcp = TcpStream::connect(peer.addr()).await.unwrap();
            let connector = tokio_rustls::TlsConnector::from(TestPki::shared().client_config());
            let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
            connector.connect(name, tcp).await.unwrap_err()
        });
        assert!(format!("{err:?}").contains("HandshakeFailure"), "{err:?}");
    }

    #[test]
    fn parser_rejects_truncated_hellos() {
        let rec = client_hello(TLS12, &[1, 2, 3]);
        let msg = &rec[5..];
        assert_eq!(
            parse_client_hello(msg),
            Some(ClientHelloSummary {
                version: TLS12,
                cipher_suites: vec![1, 2, 3]
            })
        );
        for cut in 0..msg.len() {
            assert_eq!(parse_client_hello(&msg[..cut]), None, "cut at {cut}");
        }
    }
}
