//! Peers that misbehave on purpose, so the scanner's time limits, size limits and error paths are
//! tested against real sockets: a server that never answers, one that answers garbage, one that
//! announces a 16 MB certificate, one that hangs up mid-ServerHello, one that drips a byte per
//! second, one whose ServerHello lengths do not add up, and a port where nothing listens.
//!
//! Each [`HostilePeer`] is a TCP server on 127.0.0.1 with a free port, running as a task on the
//! testkit's shared background runtime; dropping it closes the port and every open connection.
//! "Reads the ClientHello" below means: reads one TLS record (5-byte header and the length it
//! announces), whatever it contains, waiting at most [`CLIENT_HELLO_TIMEOUT`].

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::background::{ServerHandle, bind_loopback};

/// How long a peer waits for the client's first record before hanging up.
pub const CLIENT_HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// The cipher suite hostile ServerHellos choose: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256.
pub const CHOSEN_SUITE: u16 = 0xC02F;
/// Length claimed by the [`HostileKind::HugeCertificate`] Certificate message: 2^24 - 1 bytes,
/// the largest a handshake header can express (16 MiB).
pub const HUGE_CERTIFICATE_LEN: usize = 0xFF_FFFF;
/// What [`HostileKind::Garbage`] sends before its random bytes.
pub const GARBAGE_PREFIX: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n";
/// How many random bytes follow [`GARBAGE_PREFIX`].
pub const GARBAGE_RANDOM_LEN: usize = 4096;
/// How many bytes of the ServerHello record [`HostileKind::CloseMidHandshake`] sends.
pub const CLOSE_MID_HANDSHAKE_BYTES: usize = 20;

/// How a [`HostilePeer`] misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostileKind {
    /// Accepts, reads and discards everything, never writes a byte; keeps the connection open
    /// until the client closes it (or the peer is dropped).
    Silent,
    /// On the client's first bytes, answers [`GARBAGE_PREFIX`] followed by
    /// [`GARBAGE_RANDOM_LEN`] random bytes, then closes. Not TLS: the first "record" starts with
    /// `HTTP/`.
    Garbage,
    /// Reads the ClientHello, sends a well-formed TLS 1.2 ServerHello record choosing
    /// [`CHOSEN_SUITE`], then Handshake records carrying a Certificate message whose header
    /// claims [`HUGE_CERTIFICATE_LEN`] bytes (certificate list and first certificate lengths
    /// consistent with it). It streams that message in 16 KiB records as fast as the client
    /// reads, up to the full claimed length (about 16 MB), then closes.
    HugeCertificate,
    /// Reads the ClientHello, sends the first [`CLOSE_MID_HANDSHAKE_BYTES`] bytes of a valid
    /// ServerHello record, then closes (FIN, no alert).
    CloseMidHandshake,
    /// Reads the ClientHello, then sends a valid ServerHello record one byte per `interval`,
    /// then keeps the connection open until the client closes it.
    Drip {
        /// Delay between bytes (one second for [`HostilePeer::drip`]).
        interval: Duration,
    },
    /// Reads the ClientHello, sends one Handshake record whose record and handshake lengths are
    /// consistent but whose ServerHello body is not: its extensions block claims 256 bytes and
    /// only 5 follow. Then keeps the connection open until the client closes it.
    MalformedServerHello,
}

/// A running misbehaving TCP peer on 127.0.0.1; dropping it stops it.
pub struct HostilePeer {
    kind: HostileKind,
    handle: ServerHandle,
}

impl fmt::Debug for HostilePeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostilePeer")
            .field("kind", &self.kind)
            .field("addr", &self.handle.addr())
            .finish()
    }
}

impl HostilePeer {
    /// Starts a peer of the given kind on 127.0.0.1 with a free port.
    pub fn start(kind: HostileKind) -> io::Result<HostilePeer> {
        let listener = bind_loopback()?;
        let handle = ServerHandle::spawn(listener, move |stream| serve(kind, stream))?;
        Ok(HostilePeer { kind, handle })
    }

    fn start_or_panic(kind: HostileKind) -> HostilePeer {
        Self::start(kind).unwrap_or_else(|e| panic!("cannot start hostile peer {kind:?}: {e}"))
    }

    /// [`HostileKind::Silent`] (panics if it cannot bind).
    pub fn silent() -> HostilePeer {
        Self::start_or_panic(HostileKind::Silent)
    }

    /// [`HostileKind::Garbage`] (panics if it cannot bind).
    pub fn garbage() -> HostilePeer {
        Self::start_or_panic(HostileKind::Garbage)
    }

    /// [`HostileKind::HugeCertificate`] (panics if it cannot bind).
    pub fn huge_certificate() -> HostilePeer {
        Self::start_or_panic(HostileKind::HugeCertificate)
    }

    /// [`HostileKind::CloseMidHandshake`] (panics if it cannot bind).
    pub fn close_mid_handshake() -> HostilePeer {
        Self::start_or_panic(HostileKind::CloseMidHandshake)
    }

    /// [`HostileKind::Drip`] at one byte per second (panics if it cannot bind).
    pub fn drip() -> HostilePeer {
        Self::start_or_panic(HostileKind::Drip {
            interval: Duration::from_secs(1),
        })
    }

    /// [`HostileKind::MalformedServerHello`] (panics if it cannot bind).
    pub fn malformed_server_hello() -> HostilePeer {
        Self::start_or_panic(HostileKind::MalformedServerHello)
    }

    /// What this peer does.
    pub fn kind(&self) -> HostileKind {
        self.kind
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

/// A port on 127.0.0.1 where nothing listens (a TCP socket is bound, never listens, and is
/// closed, to get a free number): connecting is refused. Another process could take the port
/// meanwhile, which is unlikely within a test.
pub fn closed_port() -> u16 {
    let socket = tokio::net::TcpSocket::new_v4().expect("cannot create a TCP socket");
    socket
        .bind(SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0)))
        .expect("cannot bind 127.0.0.1:0");
    socket
        .local_addr()
        .expect("a bound socket has an address")
        .port()
}

/// A well-formed TLS 1.2 ServerHello in one Handshake record: random server random, empty
/// session id, `cipher_suite`, null compression, no extensions.
pub fn server_hello_record(cipher_suite: u16) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&random_bytes(32));
    body.push(0); // session_id length
    body.extend_from_slice(&cipher_suite.to_be_bytes());
    body.push(0); // compression method: null
    record(0x16, &handshake(0x02, &body))
}

/// The record [`HostileKind::MalformedServerHello`] sends.
pub fn malformed_server_hello_record() -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&random_bytes(32));
    body.push(0); // session_id length
    body.extend_from_slice(&CHOSEN_SUITE.to_be_bytes());
    body.push(0); // compression method: null
    body.extend_from_slice(&0x0100u16.to_be_bytes()); // extensions length: 256 claimed...
    body.extend_from_slice(&[0xff, 0x01, 0x00, 0x01, 0x00]); // ...5 present (renegotiation_info)
    record(0x16, &handshake(0x02, &body))
}

fn handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).expect("handshake body under 16 MiB");
    let mut out = vec![msg_type];
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(body);
    out
}

fn record(content_type: u8, fragment: &[u8]) -> Vec<u8> {
    let len = u16::try_from(fragment.len()).expect("record fragment under 64 KiB");
    let mut out = vec![content_type, 0x03, 0x03];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(fragment);
    out
}

/// Non-cryptographic random bytes (xorshift64*, seeded per call from the std hasher's keys).
fn random_bytes(n: usize) -> Vec<u8> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut state = RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed)) | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(n);
    out
}

async fn serve(kind: HostileKind, mut stream: TcpStream) {
    // Every error below means the client went away: nothing to report, just stop.
    let _ = match kind {
        HostileKind::Silent => drain_until_eof(&mut stream).await,
        HostileKind::Garbage => garbage(&mut stream).await,
        HostileKind::HugeCertificate => huge_certificate(&mut stream).await,
        HostileKind::CloseMidHandshake => close_mid_handshake(&mut stream).await,
        HostileKind::Drip { interval } => drip(&mut stream, interval).await,
        HostileKind::MalformedServerHello => malformed(&mut stream).await,
    };
}

/// Reads and discards until the client closes the connection.
async fn drain_until_eof(stream: &mut TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 4096];
    while stream.read(&mut buf).await? != 0 {}
    Ok(())
}

/// Reads one TLS record (whatever its content); `Ok(false)` if the client sent nothing in time.
async fn read_client_hello(stream: &mut TcpStream) -> io::Result<bool> {
    let read = async {
        let mut header = [0u8; 5];
        stream.read_exact(&mut header).await?;
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let mut body = vec![0u8; len];
        stream.read_exact(&mut body).await?;
        io::Result::Ok(())
    };
    match tokio::time::timeout(CLIENT_HELLO_TIMEOUT, read).await {
        Ok(result) => result.map(|()| true),
        Err(_) => Ok(false),
    }
}

async fn garbage(stream: &mut TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 4096];
    match tokio::time::timeout(CLIENT_HELLO_TIMEOUT, stream.read(&mut buf)).await {
        Ok(Ok(n)) if n > 0 => {}
        _ => return Ok(()),
    }
    let mut out = GARBAGE_PREFIX.to_vec();
    out.extend_from_slice(&random_bytes(GARBAGE_RANDOM_LEN));
    stream.write_all(&out).await?;
    stream.shutdown().await
}

async fn huge_certificate(stream: &mut TcpStream) -> io::Result<()> {
    if !read_client_hello(stream).await? {
        return Ok(());
    }
    stream.write_all(&server_hello_record(CHOSEN_SUITE)).await?;

    // The Certificate message: header, certificate_list length, first certificate length, then
    // a DER SEQUENCE header for the certificate and zero filler, HUGE_CERTIFICATE_LEN in all.
    let list_len = HUGE_CERTIFICATE_LEN - 3;
    let cert_len = list_len - 3;
    let der_content = cert_len - 5;
    let mut prefix = vec![0x0b];
    prefix.extend_from_slice(&u32::try_from(HUGE_CERTIFICATE_LEN).unwrap().to_be_bytes()[1..]);
    prefix.extend_from_slice(&u32::try_from(list_len).unwrap().to_be_bytes()[1..]);
    prefix.extend_from_slice(&u32::try_from(cert_len).unwrap().to_be_bytes()[1..]);
    prefix.extend_from_slice(&[0x30, 0x83]);
    prefix.extend_from_slice(&u32::try_from(der_content).unwrap().to_be_bytes()[1..]);

    let total = 4 + HUGE_CERTIFICATE_LEN;
    let mut sent = 0;
    let mut fragment = Vec::with_capacity(MAX_FRAGMENT);
    while sent < total {
        let n = MAX_FRAGMENT.min(total - sent);
        fragment.clear();
        fragment.resize(n, 0);
        if sent < prefix.len() {
            let k = (prefix.len() - sent).min(n);
            fragment[..k].copy_from_slice(&prefix[sent..sent + k]);
        }
        stream.write_all(&record(0x16, &fragment)).await?;
        sent += n;
    }
    stream.shutdown().await
}

/// Largest TLS plaintext fragment (2^14).
const MAX_FRAGMENT: usize = 16 * 1024;

async fn close_mid_handshake(stream: &mut TcpStream) -> io::Result<()> {
    if !read_client_hello(stream).await? {
        return Ok(());
    }
    let hello = server_hello_record(CHOSEN_SUITE);
    stream
        .write_all(&hello[..CLOSE_MID_HANDSHAKE_BYTES])
        .await?;
    stream.shutdown().await
}

async fn drip(stream: &mut TcpStream, interval: Duration) -> io::Result<()> {
    if !read_client_hello(stream).await? {
        return Ok(());
    }
    let hello = server_hello_record(CHOSEN_SUITE);
    for (i, byte) in hello.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(interval).await;
        }
        stream.write_all(&[*byte]).await?;
    }
    drain_until_eof(stream).await
}

async fn malformed(stream: &mut TcpStream) -> io::Result<()> {
    if !read_client_hello(stream).await? {
        return Ok(());
    }
    stream.write_all(&malformed_server_hello_record()).await?;
    drain_until_eof(stream).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::TestPki;
    use std::io::{ErrorKind, Read, Write};
    use std::time::Instant;

    /// A syntactically plausible ClientHello record (the peers only frame it).
    const FAKE_CLIENT_HELLO: &[u8] = b"\x16\x03\x01\x00\x04\x01\x00\x00\x00";

    fn connect(peer: &HostilePeer) -> std::net::TcpStream {
        let s = std::net::TcpStream::connect(peer.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// Runs a real rustls handshake against the peer; returns the error and how long it took.
    fn rustls_handshake(peer: &HostilePeer, limit: Duration) -> (String, Duration) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let started = Instant::now();
        let result = rt.block_on(async {
            let tcp = TcpStream::connect(peer.addr()).await?;
            let connector = tokio_rustls::TlsConnector::from(TestPki::shared().client_config());
            let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
            tokio::time::timeout(limit, connector.connect(name, tcp))
                .await
                .map_err(|_| io::Error::new(ErrorKind::TimedOut, "handshake timed out"))?
                .map(|_| ())
        });
        (
            format!("{:?}", result.expect_err("handshake must fail")),
            started.elapsed(),
        )
    }

    #[test]
    fn closed_port_refuses() {
        let port = closed_port();
        let err = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    }

    #[test]
    fn silent_holds_the_connection_until_dropped() {
        let peer = HostilePeer::silent();
        let mut s = connect(&peer);
        s.set_read_timeout(Some(Duration::from_millis(1500)))
            .unwrap();
        s.write_all(FAKE_CLIENT_HELLO).unwrap();
        let mut buf = [0u8; 16];
        let err = s.read(&mut buf).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "{err:?}"
        );
        s.write_all(b"still open").unwrap();
        drop(peer);
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let closed = match s.read(&mut buf) {
            Ok(0) => true,
            Err(e) => e.kind() == ErrorKind::ConnectionReset,
            Ok(_) => false,
        };
        assert!(closed, "dropping the peer closes its connections");
        let (err, took) = rustls_handshake(&HostilePeer::silent(), Duration::from_secs(2));
        assert!(
            err.contains("timed out") && took >= Duration::from_secs(2),
            "{err}"
        );
    }

    #[test]
    fn garbage_answers_http_then_random_bytes() {
        let peer = HostilePeer::garbage();
        let mut s = connect(&peer);
        s.write_all(FAKE_CLIENT_HELLO).unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        assert!(all.starts_with(GARBAGE_PREFIX));
        assert_eq!(all.len(), GARBAGE_PREFIX.len() + GARBAGE_RANDOM_LEN);
        let (err, _) = rustls_handshake(&peer, Duration::from_secs(8));
        assert!(
            err.contains("InvalidMessage") || err.contains("invalid"),
            "{err}"
        );
    }

    #[test]
    fn huge_certificate_streams_16_mib() {
        let peer = HostilePeer::huge_certificate();
        let mut s = connect(&peer);
        s.write_all(FAKE_CLIENT_HELLO).unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        let hello_len = 5 + usize::from(u16::from_be_bytes([all[3], all[4]]));
        assert_eq!(&all[..6], &[0x16, 0x03, 0x03, 0x00, 0x2a, 0x02]);
        assert_eq!(&all[hello_len - 3..hello_len - 1], &[0xc0, 0x2f]);
        let cert = &all[hello_len..];
        assert_eq!(&cert[..3], &[0x16, 0x03, 0x03]);
        assert_eq!(&cert[5..9], &[0x0b, 0xff, 0xff, 0xff]);
        let message = 4 + HUGE_CERTIFICATE_LEN;
        let records = message.div_ceil(MAX_FRAGMENT);
        assert_eq!(cert.len(), message + 5 * records);

        let (err, took) = rustls_handshake(&peer, Duration::from_secs(8));
        assert!(took < Duration::from_secs(5), "{took:?}");
        assert!(
            err.contains("TooLarge") || err.contains("InvalidMessage"),
            "{err}"
        );
    }

    #[test]
    fn close_mid_handshake_sends_20_bytes() {
        let peer = HostilePeer::close_mid_handshake();
        let mut s = connect(&peer);
        s.write_all(FAKE_CLIENT_HELLO).unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        assert_eq!(all.len(), CLOSE_MID_HANDSHAKE_BYTES);
        assert_eq!(&all[..6], &[0x16, 0x03, 0x03, 0x00, 0x2a, 0x02]);
        let (err, took) = rustls_handshake(&peer, Duration::from_secs(8));
        assert!(took < Duration::from_secs(5), "{took:?}");
        assert!(
            err.contains("UnexpectedEof") || err.contains("eof"),
            "{err}"
        );
    }

    #[test]
    fn drip_sends_one_byte_per_second() {
        let peer = HostilePeer::drip();
        let mut s = connect(&peer);
        s.write_all(FAKE_CLIENT_HELLO).unwrap();
        let started = Instant::now();
        let mut times = Vec::new();
        let mut bytes = Vec::new();
        for _ in 0..3 {
            let mut b = [0u8; 8];
            let n = s.read(&mut b).unwrap();
            assert_eq!(n, 1);
            bytes.push(b[0]);
            times.push(started.elapsed());
        }
        assert_eq!(bytes, [0x16, 0x03, 0x03]);
        assert!(times[0] < Duration::from_millis(500), "{times:?}");
        assert!(times[1] >= Duration::from_millis(900), "{times:?}");
        assert!(times[2] >= Duration::from_millis(1900), "{times:?}");
    }

    #[test]
    fn malformed_server_hello_is_rejected_by_rustls() {
        let record = malformed_server_hello_record();
        assert_eq!(record.len(), 5 + 4 + 45);
        assert_eq!(&record[3..5], &49u16.to_be_bytes());
        assert_eq!(&record[6..9], &[0x00, 0x00, 45]);
        let peer = HostilePeer::malformed_server_hello();
        let mut s = connect(&peer);
        s.write_all(FAKE_CLIENT_HELLO).unwrap();
        let mut got = vec![0u8; record.len()];
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got[..5], &record[..5]);
        assert_eq!(&got[got.len() - 7..], &record[record.len() - 7..]);
        let (err, took) = rustls_handshake(&peer, Duration::from_secs(8));
        assert!(took < Duration::from_secs(5), "{took:?}");
        assert!(err.contains("InvalidMessage"), "{err}");
    }
}
