//! One complete handshake as a modern client would make it (rustls, TLS 1.2/1.3).
//!
//! It tells what a browser-like client negotiates (version, suite, ALPN, group, OCSP staple)
//! and captures the certificate chain as served, TLS 1.3 included, where the certificates are
//! encrypted and raw hellos cannot see them. The verifier here only observes: it accepts
//! whatever is presented so that the chain can be judged by `trust.rs` with precise reasons.
//! Nothing is sent after the handshake.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use canhgac_policies::report::{Negotiated, ProbeError};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_rustls::TlsConnector;

use super::suites;
use crate::net;

/// What the modern handshake observed.
#[derive(Debug)]
pub struct Observed {
    /// The negotiated parameters.
    pub negotiated: Negotiated,
    /// The served chain, leaf first.
    pub chain: Vec<Vec<u8>>,
}

#[derive(Debug, Default)]
struct Recorder {
    seen: Mutex<Option<(Vec<Vec<u8>>, bool)>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.as_ref().to_vec()];
        chain.extend(intermediates.iter().map(|c| c.as_ref().to_vec()));
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((chain, !ocsp_response.is_empty()));
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // An observer: no data is exchanged after the handshake, so the handshake signature
        // need not be trusted. Weak keys are reported from the certificate instead.
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::aws_lc_rs::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn protocol_key(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "tls1.3".into(),
        rustls::ProtocolVersion::TLSv1_2 => "tls1.2".into(),
        other => format!("{other:?}"),
    }
}

/// Performs the handshake within `timeout`.
pub async fn observe(
    addr: SocketAddr,
    server_name: ServerName<'static>,
    timeout: Duration,
) -> Result<Observed, ProbeError> {
    let recorder = Arc::new(Recorder::default());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| ProbeError::new("internal", e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config.resumption = rustls::client::Resumption::disabled();
    let connector = TlsConnector::from(Arc::new(config));

    let work = async {
        let tcp = net::connect(addr, timeout).await?;
        let stream = connector
            .connect(server_name, tcp)
            .await
            .map_err(|e| handshake_error(&e))?;
        let (_, conn) = stream.get_ref();
        let protocol = conn
            .protocol_version()
            .map(protocol_key)
            .unwrap_or_else(|| "unknown".into());
        let cipher_suite = conn
            .negotiated_cipher_suite()
            .map(|s| suites::name(u16::from(s.suite())))
            .unwrap_or_else(|| "unknown".into());
        let alpn = conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        let key_exchange_group = conn
            .negotiated_key_exchange_group()
            .map(|g| format!("{:?}", g.name()));
        Ok::<_, ProbeError>((protocol, cipher_suite, alpn, key_exchange_group))
    };
    let (protocol, cipher_suite, alpn, key_exchange_group) =
        match tokio::time::timeout(timeout, work).await {
            Ok(r) => r?,
            Err(_) => return Err(net::timeout_error("TLS handshake", timeout)),
        };
    let (chain, ocsp_stapled) = recorder
        .seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .unwrap_or_default();
    Ok(Observed {
        negotiated: Negotiated {
            protocol,
            cipher_suite,
            alpn,
            key_exchange_group,
            ocsp_stapled,
        },
        chain,
    })
}

fn handshake_error(e: &std::io::Error) -> ProbeError {
    if let Some(inner) = e.get_ref()
        && let Some(tls) = inner.downcast_ref::<rustls::Error>()
    {
        let code = match tls {
            rustls::Error::AlertReceived(_) => "handshake_failed",
            rustls::Error::PeerIncompatible(_) => "handshake_failed",
            rustls::Error::InvalidMessage(_) | rustls::Error::PeerMisbehaved(_) => {
                "protocol_violation"
            }
            _ => "handshake_failed",
        };
        return ProbeError::new(code, format!("TLS 1.2/1.3 handshake: {tls}"));
    }
    match e.kind() {
        std::io::ErrorKind::InvalidData => {
            ProbeError::new("protocol_violation", format!("TLS 1.2/1.3 handshake: {e}"))
        }
        _ => net::io_error(e, "TLS 1.2/1.3 handshake"),
    }
}
