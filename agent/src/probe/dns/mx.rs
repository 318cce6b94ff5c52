//! Mail exchangers and their STARTTLS: what a sending mail server would find.
//!
//! For each MX (lowest preference first, a few at most) the probe connects to its address on
//! the SMTP port, reads the 220 greeting, says EHLO, looks for STARTTLS among the extensions,
//! and if it is there upgrades the connection with rustls, checking the certificate for the MX
//! name against the agent's trust store; then it says QUIT. No mail is ever sent. The
//! certificate check is recorded rather than enforced, so that an invalid certificate still
//! completes the handshake and the polite QUIT, and its reason is reported. Every read is
//! bounded in lines and bytes, every step has the probe's deadline, and the whole exchange has
//! an overall one.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use canhgac_policies::report::{MailExchanger, ProbeError};
use futures::future::join_all;
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio_rustls::TlsConnector;

use super::records::{Errors, addresses};
use super::resolver::{Resolvers, show};
use crate::net;
use crate::probe::tls::TrustStore;

/// Exchangers listed at most.
const MAX_LISTED: usize = 10;
/// Exchangers connected to at most (the most preferred).
const MAX_CHECKED: usize = 5;
/// Lines of one SMTP reply read at most.
const MAX_REPLY_LINES: usize = 64;
/// Bytes of one SMTP reply line read at most (RFC 5321: 512).
const MAX_LINE: u64 = 2048;
/// The name the probe gives in EHLO.
const EHLO_NAME: &str = "canhgac-agent.invalid";

/// The MX records of a name, lowest preference first (`.` is a null MX, RFC 7505).
pub fn exchangers(records: &[Record]) -> Vec<(u16, Name)> {
    let mut mx: Vec<(u16, Name)> = records
        .iter()
        .filter_map(|r| match &r.data {
            RData::MX(m) => Some((m.preference, m.exchange.clone())),
            _ => None,
        })
        .collect();
    mx.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| show(&a.1).cmp(&show(&b.1))));
    mx.dedup_by(|a, b| a.1.eq_ignore_root(&b.1));
    mx.truncate(MAX_LISTED);
    mx
}

/// Checks each exchanger.
pub async fn check_all(
    dns: &Resolvers,
    mx: &[(u16, Name)],
    port: u16,
    trust: &TrustStore,
) -> Vec<MailExchanger> {
    let roots = Arc::new(trust.root_cert_store());
    join_all(mx.iter().enumerate().map(|(i, (preference, exchange))| {
        let roots = roots.clone();
        async move {
            let mut report = MailExchanger {
                preference: *preference,
                exchange: show(exchange),
                starttls: None,
                certificate_valid: None,
                error: None,
            };
            if exchange.is_root() {
                report.error = Some(ProbeError::new(
                    "null_mx",
                    "null MX (RFC 7505): the domain accepts no mail",
                ));
            } else if i >= MAX_CHECKED {
                report.error = Some(ProbeError::new(
                    "skipped",
                    format!("only the {MAX_CHECKED} most preferred exchangers are checked"),
                ));
            } else {
                check(dns, exchange, port, roots, &mut report).await;
            }
            report
        }
    }))
    .await
}

async fn check(
    dns: &Resolvers,
    exchange: &Name,
    port: u16,
    roots: Arc<rustls::RootCertStore>,
    report: &mut MailExchanger,
) {
    let (a, aaaa) = tokio::join!(
        dns.query(exchange, RecordType::A),
        dns.query(exchange, RecordType::AAAA)
    );
    let mut scratch = Errors::new();
    let mut ips: Vec<IpAddr> = Vec::new();
    let mut lookup_error = None;
    for (outcome, t) in [(a, RecordType::A), (aaaa, RecordType::AAAA)] {
        match outcome {
            Ok(o) => ips.extend(addresses(&o, t, &mut scratch)),
            Err(e) => lookup_error = lookup_error.or(Some(e)),
        }
    }
    if ips.is_empty() {
        report.error = Some(lookup_error.unwrap_or_else(|| {
            ProbeError::new("no_address", format!("{} has no address", report.exchange))
        }));
        return;
    }
    ips.sort_by_key(IpAddr::is_ipv6);
    let timeout = dns.timeout;
    let mut last = None;
    for ip in ips.iter().take(2) {
        let addr = SocketAddr::new(*ip, port);
        let overall = timeout.saturating_mul(6);
        let result = tokio::time::timeout(
            overall,
            smtp(addr, &report.exchange, roots.clone(), timeout),
        )
        .await
        .unwrap_or_else(|_| Smtp {
            starttls: None,
            certificate_valid: None,
            error: Some(net::timeout_error(
                &format!("the SMTP exchange with {addr}"),
                overall,
            )),
            connected: true,
        });
        if result.connected {
            report.starttls = result.starttls;
            report.certificate_valid = result.certificate_valid;
            report.error = result.error;
            return;
        }
        last = result.error;
    }
    report.error = last;
}

/// What one SMTP conversation showed.
struct Smtp {
    starttls: Option<bool>,
    certificate_valid: Option<bool>,
    error: Option<ProbeError>,
    connected: bool,
}

/// One reply: its code and text lines.
struct Reply {
    code: u16,
    lines: Vec<String>,
}

async fn read_reply<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    timeout: Duration,
    doing: &str,
) -> Result<Reply, ProbeError> {
    let work = async {
        let mut lines = Vec::new();
        loop {
            if lines.len() >= MAX_REPLY_LINES {
                return Err(ProbeError::new(
                    "too_large",
                    format!("{doing}: more than {MAX_REPLY_LINES} reply lines"),
                ));
            }
            let mut buf = Vec::new();
            let n = (&mut *reader)
                .take(MAX_LINE)
                .read_until(b'\n', &mut buf)
                .await
                .map_err(|e| net::io_error(&e, doing))?;
            if n == 0 {
                return Err(ProbeError::new(
                    "closed",
                    format!("{doing}: the server closed the connection"),
                ));
            }
            if !buf.ends_with(b"\n") {
                return Err(ProbeError::new(
                    "too_large",
                    format!("{doing}: a reply line longer than {MAX_LINE} bytes"),
                ));
            }
            let line = String::from_utf8_lossy(&buf).trim_end().to_string();
            let code = line
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| {
                    ProbeError::new(
                        "protocol_violation",
                        format!("{doing}: not an SMTP reply: {:?}", clip(&line)),
                    )
                })?;
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").to_string());
            if !more {
                return Ok(Reply { code, lines });
            }
        }
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or_else(|_| Err(net::timeout_error(doing, timeout)))
}

fn clip(s: &str) -> String {
    s.chars().take(100).collect()
}

async fn send<W: tokio::io::AsyncWrite + Unpin>(
    w: &mut W,
    line: &str,
    timeout: Duration,
    doing: &str,
) -> Result<(), ProbeError> {
    let work = async {
        w.write_all(line.as_bytes()).await?;
        w.write_all(b"\r\n").await?;
        w.flush().await
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(net::io_error(&e, doing)),
        Err(_) => Err(net::timeout_error(doing, timeout)),
    }
}

async fn smtp(
    addr: SocketAddr,
    exchange: &str,
    roots: Arc<rustls::RootCertStore>,
    timeout: Duration,
) -> Smtp {
    let mut out = Smtp {
        starttls: None,
        certificate_valid: None,
        error: None,
        connected: false,
    };
    let stream = match net::connect(addr, timeout).await {
        Ok(s) => s,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    out.connected = true;
    let mut reader = BufReader::new(stream);
    let greeting = match read_reply(
        &mut reader,
        timeout,
        &format!("reading the greeting of {addr}"),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    if greeting.code != 220 {
        out.error = Some(ProbeError::new(
            "smtp_refused",
            format!(
                "{addr} greets with {} {}",
                greeting.code,
                clip(&greeting.lines.join(" "))
            ),
        ));
        let _ = send(reader.get_mut(), "QUIT", timeout, "QUIT").await;
        return out;
    }
    let doing = format!("EHLO to {addr}");
    if let Err(e) = send(
        reader.get_mut(),
        &format!("EHLO {EHLO_NAME}"),
        timeout,
        &doing,
    )
    .await
    {
        out.error = Some(e);
        return out;
    }
    let ehlo = match read_reply(&mut reader, timeout, &doing).await {
        Ok(r) => r,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    if ehlo.code != 250 {
        // No extended SMTP, hence no STARTTLS.
        out.starttls = Some(false);
        out.error = Some(ProbeError::new(
            "ehlo_refused",
            format!("{addr} answers EHLO with {}", ehlo.code),
        ));
        let _ = send(reader.get_mut(), "QUIT", timeout, "QUIT").await;
        return out;
    }
    let offers = ehlo.lines.iter().skip(1).any(|l| {
        l.split_whitespace()
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case("STARTTLS"))
    });
    out.starttls = Some(offers);
    if !offers {
        let _ = send(reader.get_mut(), "QUIT", timeout, "QUIT").await;
        let _ = read_reply(&mut reader, timeout, "QUIT").await;
        return out;
    }
    let doing = format!("STARTTLS with {addr}");
    if let Err(e) = send(reader.get_mut(), "STARTTLS", timeout, &doing).await {
        out.error = Some(e);
        return out;
    }
    match read_reply(&mut reader, timeout, &doing).await {
        Ok(r) if r.code == 220 => {}
        Ok(r) => {
            out.error = Some(ProbeError::new(
                "starttls_refused",
                format!("{addr} advertises STARTTLS but answers it with {}", r.code),
            ));
            let _ = send(reader.get_mut(), "QUIT", timeout, "QUIT").await;
            return out;
        }
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    }
    // Bytes the server sent after its 220 (none, unless it tries to inject plaintext into the
    // TLS session) are dropped with the buffer.
    let stream = reader.into_inner();
    let (config, recorder) = match client_config(roots) {
        Ok(c) => c,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    let name = match ServerName::try_from(exchange.to_string()) {
        Ok(n) => n,
        Err(e) => {
            out.error = Some(ProbeError::new(
                "invalid_name",
                format!("{exchange:?} cannot be checked as a certificate name: {e}"),
            ));
            return out;
        }
    };
    let connector = TlsConnector::from(Arc::new(config));
    let handshake = tokio::time::timeout(timeout, connector.connect(name, stream)).await;
    let verdict = recorder
        .result
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    match &verdict {
        Some(Ok(())) => out.certificate_valid = Some(true),
        Some(Err(e)) => {
            out.certificate_valid = Some(false);
            out.error = Some(e.clone());
        }
        None => {}
    }
    match handshake {
        Err(_) => {
            out.error = Some(net::timeout_error(
                &format!("TLS handshake with {addr}"),
                timeout,
            ));
        }
        Ok(Err(e)) => {
            if out.error.is_none() {
                out.error = Some(ProbeError::new(
                    "handshake_failed",
                    format!("TLS handshake with {addr} after STARTTLS: {e}"),
                ));
            }
        }
        Ok(Ok(tls)) => {
            let mut tls = BufReader::new(tls);
            if send(tls.get_mut(), "QUIT", timeout, "QUIT").await.is_ok() {
                let _ = read_reply(&mut tls, timeout, "QUIT").await;
            }
            let _ = tokio::time::timeout(timeout, tls.get_mut().shutdown()).await;
        }
    }
    out
}

/// A verifier that checks the chain and name like a client would, records the outcome, and
/// lets the handshake go on either way.
#[derive(Debug)]
struct Recorder {
    inner: Arc<WebPkiServerVerifier>,
    result: Mutex<Option<Result<(), ProbeError>>>,
}

fn client_config(
    roots: Arc<rustls::RootCertStore>,
) -> Result<(ClientConfig, Arc<Recorder>), ProbeError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let inner = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| ProbeError::new("trust_store", format!("no usable roots: {e}")))?;
    let recorder = Arc::new(Recorder {
        inner,
        result: Mutex::new(None),
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ProbeError::new("tls_config", e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    Ok((config, recorder))
}

fn certificate_error(e: &rustls::Error) -> ProbeError {
    let code = match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "hostname_mismatch"
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => "expired",
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "not_yet_valid"
            }
            CertificateError::UnknownIssuer => "unknown_issuer",
            CertificateError::Revoked => "revoked",
            _ => "bad_certificate",
        },
        _ => "bad_certificate",
    };
    ProbeError::new(code, format!("the certificate does not validate: {e}"))
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let result = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map(|_| ())
            .map_err(|e| certificate_error(&e));
        *self.result.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
