//! A real HTTPS site on 127.0.0.1 for the scanner to scan: an in-process rustls server serving a
//! chosen certificate chain with chosen protocol versions, cipher suites, ALPN protocols and OCSP
//! staple, answering every request with a small `HTTP/1.1 200 OK` page. Sites run as tasks on
//! the testkit's shared background runtime, so they work from sync and async tests alike and
//! hundreds of them (for the benchmark) cost one listening socket and one task each.
//!
//! The scanner sends deliberately odd ClientHellos: a failed handshake just drops that
//! connection, the site keeps serving. Dropping a [`TlsSite`] closes its port and its open
//! connections.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use rustls::SupportedCipherSuite;
use rustls::server::ServerConfig;
use rustls::version::{TLS12, TLS13};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use crate::background::{ServerHandle, bind_loopback_ip};
use crate::pki::Leaf;

/// Longest a client may take to complete the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest the site waits for (the rest of) a request before answering anyway.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest request head read before answering.
const MAX_REQUEST: usize = 16 * 1024;
/// Default page body.
pub const DEFAULT_BODY: &str = "<!doctype html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\">\
<title>canhgac test site</title></head><body><h1>canhgac test site</h1></body></html>\n";

/// Which TLS versions a site accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsVersions {
    /// TLS 1.2 only.
    Tls12Only,
    /// TLS 1.3 only.
    Tls13Only,
    /// TLS 1.2 and TLS 1.3.
    #[default]
    Both,
}

/// Connection counters of a running site.
#[derive(Debug, Default)]
pub struct SiteStats {
    accepted: AtomicUsize,
    handshakes: AtomicUsize,
    responses: AtomicUsize,
}

impl SiteStats {
    /// TCP connections accepted.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }

    /// TLS handshakes completed.
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::Relaxed)
    }

    /// HTTP responses written.
    pub fn responses(&self) -> usize {
        self.responses.load(Ordering::Relaxed)
    }
}

/// Configuration of a [`TlsSite`]; start one with [`TlsSiteBuilder::start`] or many with
/// [`TlsSite::many`].
pub struct TlsSiteBuilder {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    versions: TlsVersions,
    cipher_suites: Option<Vec<SupportedCipherSuite>>,
    alpn: Vec<Vec<u8>>,
    ocsp: Option<Vec<u8>>,
    headers: Vec<(String, String)>,
    body: String,
    bind_ip: Ipv4Addr,
}

impl fmt::Debug for TlsSiteBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSiteBuilder")
            .field("chain_len", &self.chain.len())
            .field("versions", &self.versions)
            .field("cipher_suites", &self.cipher_suites)
            .field("alpn", &self.alpn)
            .field("ocsp_len", &self.ocsp.as_ref().map(Vec::len))
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl Clone for TlsSiteBuilder {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            versions: self.versions,
            cipher_suites: self.cipher_suites.clone(),
            alpn: self.alpn.clone(),
            ocsp: self.ocsp.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
            bind_ip: self.bind_ip,
        }
    }
}

impl TlsSiteBuilder {
    /// A site serving `chain` (leaf first) with `key`: TLS 1.2 and 1.3, rustls' default cipher
    /// suites, ALPN `http/1.1`, no OCSP staple.
    pub fn new(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Self {
        Self {
            chain,
            key,
            versions: TlsVersions::Both,
            cipher_suites: None,
            alpn: vec![b"http/1.1".to_vec()],
            ocsp: None,
            headers: Vec::new(),
            body: DEFAULT_BODY.to_owned(),
            bind_ip: Ipv4Addr::LOCALHOST,
        }
    }

    /// Listens on another loopback address (127.0.0.0/8), so that many sites look like many
    /// hosts to a scanner's per-host politeness limit.
    pub fn bind_ip(mut self, ip: Ipv4Addr) -> Self {
        self.bind_ip = ip;
        self
    }

    /// Restricts the protocol versions.
    pub fn versions(mut self, versions: TlsVersions) -> Self {
        self.versions = versions;
        self
    }

    /// TLS 1.2 only.
    pub fn tls12_only(self) -> Self {
        self.versions(TlsVersions::Tls12Only)
    }

    /// TLS 1.3 only.
    pub fn tls13_only(self) -> Self {
        self.versions(TlsVersions::Tls13Only)
    }

    /// Restricts the cipher suites, in server preference order, e.g. from
    /// `rustls::crypto::aws_lc_rs::cipher_suite`. Suites of a disabled version are ignored; at
    /// least one must match an enabled version.
    pub fn cipher_suites(mut self, suites: &[SupportedCipherSuite]) -> Self {
        self.cipher_suites = Some(suites.to_vec());
        self
    }

    /// ALPN protocols offered, in preference order; empty = no ALPN extension. The site only
    /// speaks HTTP/1.1 whatever is negotiated (`h2` is useful for ALPN checks, not for fetching).
    pub fn alpn(mut self, protocols: &[&str]) -> Self {
        self.alpn = protocols.iter().map(|p| p.as_bytes().to_vec()).collect();
        self
    }

    /// DER OCSP response stapled when the client asks for it (status_request).
    pub fn ocsp_staple(mut self, response: Vec<u8>) -> Self {
        self.ocsp = Some(response);
        self
    }

    /// Adds a response header (e.g. `Strict-Transport-Security`).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Replaces the HTML body.
    pub fn body(mut self, html: &str) -> Self {
        self.body = html.to_owned();
        self
    }

    /// The rustls configuration this builder describes.
    pub fn server_config(&self) -> anyhow::Result<Arc<ServerConfig>> {
        crate::init_crypto();
        let mut provider = rustls::crypto::aws_lc_rs::default_provider();
        if let Some(suites) = &self.cipher_suites {
            provider.cipher_suites = suites.clone();
        }
        let versions: &[&'static rustls::SupportedProtocolVersion] = match self.versions {
            TlsVersions::Tls12Only => &[&TLS12],
            TlsVersions::Tls13Only => &[&TLS13],
            TlsVersions::Both => &[&TLS13, &TLS12],
        };
        let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(versions)
            .context("TLS site: cipher suites and protocol versions do not fit together")?
            .with_no_client_auth()
            .with_single_cert_with_ocsp(
                self.chain.clone(),
                self.key.clone_key(),
                self.ocsp.clone().unwrap_or_default(),
            )
            .context("TLS site: certificate chain and key rejected")?;
        config.alpn_protocols = self.alpn.clone();
        Ok(Arc::new(config))
    }

    /// Starts the site on 127.0.0.1 with a free port.
    pub fn start(&self) -> anyhow::Result<TlsSite> {
        let config = self.server_config()?;
        TlsSite::start_with(config, self.response_template(), self.bind_ip)
    }

    fn response_template(&self) -> Arc<Response> {
        let mut head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
             Connection: close\r\n",
            self.body.len()
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        Arc::new(Response {
            head: head.into_bytes(),
            body: self.body.clone().into_bytes(),
        })
    }
}

struct Response {
    head: Vec<u8>,
    body: Vec<u8>,
}

/// A running HTTPS site on 127.0.0.1; dropping it stops it.
pub struct TlsSite {
    handle: ServerHandle,
    stats: Arc<SiteStats>,
}

impl fmt::Debug for TlsSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSite")
            .field("addr", &self.handle.addr())
            .field("stats", &self.stats)
            .finish()
    }
}

impl TlsSite {
    /// A builder serving `leaf`'s chain and key.
    pub fn builder(leaf: &Leaf) -> TlsSiteBuilder {
        TlsSiteBuilder::new(leaf.chain_der.clone(), leaf.key_der.clone_key())
    }

    /// Starts a site with the default options serving `leaf`.
    pub fn start(leaf: &Leaf) -> anyhow::Result<TlsSite> {
        Self::builder(leaf).start()
    }

    /// Starts `n` identical sites (one rustls configuration shared by all), each on its own port.
    pub fn many(n: usize, builder: &TlsSiteBuilder) -> anyhow::Result<Vec<TlsSite>> {
        let config = builder.server_config()?;
        let response = builder.response_template();
        (0..n)
            .map(|_| Self::start_with(config.clone(), response.clone(), builder.bind_ip))
            .collect()
    }

    fn start_with(
        config: Arc<ServerConfig>,
        response: Arc<Response>,
        ip: Ipv4Addr,
    ) -> anyhow::Result<TlsSite> {
        crate::init_crypto();
        let listener =
            bind_loopback_ip(ip).with_context(|| format!("TLS site: cannot bind {ip}:0"))?;
        let stats = Arc::new(SiteStats::default());
        let acceptor = TlsAcceptor::from(config);
        let conn_stats = stats.clone();
        let handle = ServerHandle::spawn(listener, move |stream| {
            serve(
                stream,
                acceptor.clone(),
                response.clone(),
                conn_stats.clone(),
            )
        })
        .context("TLS site: cannot start the accept loop")?;
        Ok(TlsSite { handle, stats })
    }

    /// The listening address (127.0.0.1 unless [`TlsSiteBuilder::bind_ip`] chose another).
    pub fn addr(&self) -> SocketAddr {
        self.handle.addr()
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.handle.addr().port()
    }

    /// `https://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("https://{}/", self.addr())
    }

    /// `https://{host}:PORT/`, for a name the certificate holds (resolve it to 127.0.0.1).
    pub fn url_for(&self, host: &str) -> String {
        format!("https://{host}:{}/", self.port())
    }

    /// Connection counters.
    pub fn stats(&self) -> &SiteStats {
        &self.stats
    }
}

async fn serve(
    stream: TcpStream,
    acceptor: TlsAcceptor,
    response: Arc<Response>,
    stats: Arc<SiteStats>,
) {
    stats.accepted.fetch_add(1, Ordering::Relaxed);
    let mut tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        // Failed or timed-out handshakes are expected (odd probes): drop the connection.
        Ok(Err(_)) | Err(_) => return,
    };
    stats.handshakes.fetch_add(1, Ordering::Relaxed);
    let head_only = match read_request(&mut tls).await {
        Ok(request) => request.starts_with(b"HEAD "),
        Err(_) => return,
    };
    let mut out = response.head.clone();
    if !head_only {
        out.extend_from_slice(&response.body);
    }
    let written = async {
        tls.write_all(&out).await?;
        tls.flush().await?;
        stats.responses.fetch_add(1, Ordering::Relaxed);
        tls.shutdown().await
    };
    let _ = tokio::time::timeout(REQUEST_TIMEOUT, written).await;
}

/// Reads a request head (up to the blank line), giving up after [`REQUEST_TIMEOUT`] or
/// [`MAX_REQUEST`] bytes; whatever was read is returned. Errors only on a broken connection.
async fn read_request<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> io::Result<Vec<u8>> {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + REQUEST_TIMEOUT;
    while request.len() < MAX_REQUEST && !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) | Ok(Ok(0)) => break,
            Ok(Ok(n)) => request.extend_from_slice(&buf[..n]),
            Ok(Err(e)) if request.is_empty() => return Err(e),
            Ok(Err(_)) => break,
        }
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{LOCALHOST_NAMES, TestPki};
    use rustls::crypto::aws_lc_rs::cipher_suite;
    use rustls::{CipherSuite, ClientConfig, ProtocolVersion};
    use rustls_pki_types::ServerName;
    use tokio_rustls::TlsConnector;

    struct Outcome {
        version: ProtocolVersion,
        suite: CipherSuite,
        alpn: Option<Vec<u8>>,
        response: String,
    }

    /// Connects, sends a GET, reads the whole response.
    async fn fetch(
        addr: SocketAddr,
        host: &str,
        config: Arc<ClientConfig>,
    ) -> anyhow::Result<Outcome> {
        let tcp = TcpStream::connect(addr).await?;
        let connector = TlsConnector::from(config);
        let mut tls = connector
            .connect(ServerName::try_from(host.to_owned())?, tcp)
            .await?;
        let (_, conn) = tls.get_ref();
        let version = conn.protocol_version().unwrap();
        let suite = conn.negotiated_cipher_suite().unwrap().suite();
        let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
        tls.write_all(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
            .await?;
        let mut response = String::new();
        tls.read_to_string(&mut response).await?;
        Ok(Outcome {
            version,
            suite,
            alpn,
            response,
        })
    }

    fn client(alpn: &[&str]) -> Arc<ClientConfig> {
        let mut config = (*TestPki::shared().client_config()).clone();
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        Arc::new(config)
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn default_site_answers_http() {
        let pki = TestPki::shared();
        let site = TlsSite::start(&pki.localhost()).unwrap();
        assert_eq!(site.addr().ip().to_string(), "127.0.0.1");
        let out = fetch(site.addr(), "localhost", client(&["h2", "http/1.1"]))
            .await
            .unwrap();
        assert_eq!(out.version, ProtocolVersion::TLSv1_3);
        assert_eq!(out.alpn.as_deref(), Some(&b"http/1.1"[..]));
        assert!(
            out.response.starts_with("HTTP/1.1 200 OK\r\n"),
            "{}",
            out.response
        );
        assert!(out.response.ends_with(DEFAULT_BODY));
        assert_eq!(site.stats().handshakes(), 1);
        assert_eq!(site.stats().responses(), 1);
    }

    #[test]
    fn versions_suites_alpn_headers_from_sync_code() {
        let pki = TestPki::shared();
        let leaf = pki.leaf_rsa(LOCALHOST_NAMES);
        let site = TlsSite::builder(&leaf)
            .tls12_only()
            .cipher_suites(&[cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256])
            .alpn(&["h2"])
            .header("Strict-Transport-Security", "max-age=31536000")
            .start()
            .unwrap();
        let out = rt()
            .block_on(fetch(site.addr(), "127.0.0.1", client(&["h2", "http/1.1"])))
            .unwrap();
        assert_eq!(out.version, ProtocolVersion::TLSv1_2);
        assert_eq!(
            out.suite,
            CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        );
        assert_eq!(out.alpn.as_deref(), Some(&b"h2"[..]));
        assert!(
            out.response
                .contains("Strict-Transport-Security: max-age=31536000\r\n")
        );

        // A TLS 1.3-only client cannot talk to it, and the site survives that.
        let tls13_client = {
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = ClientConfig::builder_with_provider(provider)
                .with_protocol_versions(&[&TLS13])
                .unwrap()
                .with_root_certificates(pki.root_store())
                .with_no_client_auth();
            Arc::new(config)
        };
        assert!(
            rt().block_on(fetch(site.addr(), "localhost", tls13_client))
                .is_err()
        );
        let again = rt()
            .block_on(fetch(site.addr(), "localhost", client(&[])))
            .unwrap();
        assert_eq!(again.alpn, None);
    }

    #[tokio::test]
    async fn tls13_only_and_no_alpn() {
        let pki = TestPki::shared();
        let site = TlsSite::builder(&pki.localhost())
            .tls13_only()
            .cipher_suites(&[cipher_suite::TLS13_AES_128_GCM_SHA256])
            .alpn(&[])
            .start()
            .unwrap();
        let out = fetch(site.addr(), "localhost", client(&["http/1.1"]))
            .await
            .unwrap();
        assert_eq!(out.version, ProtocolVersion::TLSv1_3);
        assert_eq!(out.suite, CipherSuite::TLS13_AES_128_GCM_SHA256);
        assert_eq!(out.alpn, None);
    }

    /// Delegates to webpki and records the stapled OCSP response.
    #[derive(Debug)]
    struct RecordingVerifier {
        inner: Arc<rustls::client::WebPkiServerVerifier>,
        ocsp: std::sync::Mutex<Option<Vec<u8>>>,
    }

    impl rustls::client::danger::ServerCertVerifier for RecordingVerifier {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp_response: &[u8],
            now: rustls_pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            *self.ocsp.lock().unwrap() = Some(ocsp_response.to_vec());
            self.inner
                .verify_server_cert(end_entity, intermediates, server_name, &[], now)
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            self.inner.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            self.inner.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.inner.supported_verify_schemes()
        }
    }

    #[tokio::test]
    async fn ocsp_staple_is_sent_on_both_versions() {
        let pki = TestPki::shared();
        let staple = b"not really DER, rustls does not parse it".to_vec();
        for versions in [TlsVersions::Tls12Only, TlsVersions::Tls13Only] {
            let site = TlsSite::builder(&pki.localhost())
                .versions(versions)
                .ocsp_staple(staple.clone())
                .start()
                .unwrap();
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let verifier = Arc::new(RecordingVerifier {
                inner: rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(pki.root_store()),
                    provider.clone(),
                )
                .build()
                .unwrap(),
                ocsp: std::sync::Mutex::new(None),
            });
            let config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .dangerous()
                .with_custom_certificate_verifier(verifier.clone())
                .with_no_client_auth();
            fetch(site.addr(), "localhost", Arc::new(config))
                .await
                .unwrap();
            assert_eq!(
                verifier.ocsp.lock().unwrap().as_deref(),
                Some(&staple[..]),
                "{versions:?}"
            );
        }
    }

    #[test]
    fn inconsistent_options_are_an_error() {
        let leaf = TestPki::shared().localhost();
        let err = TlsSite::builder(&leaf)
            .tls12_only()
            .cipher_suites(&[cipher_suite::TLS13_AES_128_GCM_SHA256])
            .start()
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("no usable cipher suites"),
            "{err:#}"
        );
    }

    #[test]
    fn garbage_client_and_drop_stop_the_site() {
        use std::io::{Read, Write};
        let site = TlsSite::start(&TestPki::shared().localhost()).unwrap();
        let addr = site.addr();
        let mut raw = std::net::TcpStream::connect(addr).unwrap();
        raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        raw.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        let mut sink = Vec::new();
        let _ = raw.read_to_end(&mut sink); // alert or reset, then EOF: no hang
        let out = rt()
            .block_on(fetch(addr, "localhost", client(&[])))
            .unwrap();
        assert!(out.response.starts_with("HTTP/1.1 200 OK"));
        drop(site);
        // A process being spawned by a parallel test may briefly hold a copy of the listening
        // socket (between fork and exec): allow a moment for the port to close.
        let closed = (0..40).any(|_| {
            std::thread::sleep(Duration::from_millis(25));
            std::net::TcpStream::connect(addr).is_err()
        });
        assert!(closed, "port still open after drop");
    }

    #[test]
    fn many_sites_share_the_runtime() {
        let builder = TlsSite::builder(&TestPki::shared().localhost());
        let sites = TlsSite::many(50, &builder).unwrap();
        let mut ports: Vec<u16> = sites.iter().map(TlsSite::port).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 50);
        let rt = rt();
        for site in sites.iter().step_by(10) {
            let out = rt
                .block_on(fetch(site.addr(), "localhost", client(&[])))
                .unwrap();
            assert!(out.response.starts_with("HTTP/1.1 200 OK"));
        }
    }
}
