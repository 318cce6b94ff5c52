//! canhgac-testkit: real network peers on 127.0.0.1 (and only there) for the scanner's tests,
//! demo and benchmarks, so that every check runs against a genuine TLS stack or a genuinely
//! misbehaving peer instead of mocks.
//!
//! - [`pki`]: test root and intermediate CAs and leaves broken in one way each.
//! - [`tls_site`]: in-process rustls HTTPS sites (versions, suites, ALPN, OCSP staple).
//! - [`openssl`]: `openssl s_server` for legacy set-ups rustls refuses to serve.
//! - [`hostile`]: TCP peers that stall, babble, oversize, truncate or malform the handshake,
//!   and [`hostile::closed_port`].
//! - [`legacy_hello`]: ServerHello-only stand-ins for RC4, 3DES and SSLv3 servers, which no TLS
//!   stack available here will serve (Debian's OpenSSL 3.0 lacks those suites).
//! - [`demo`]: the whole system on loopback (sample province, fixture sites, an agent) for
//!   the demo, the fleet benchmark and their tests.
//!
//! In-process servers share one background runtime and stop when their handle is dropped.

mod background;
pub mod browser;
pub mod demo;
pub mod dns_server;
pub mod hostile;
pub mod legacy_hello;
pub mod mail;
pub mod nginx;
pub mod openssl;
pub mod pki;
pub mod registry;
pub mod smtp_server;
pub mod tls_site;
pub mod web;

pub use dns_server::{DnsServer, Dnssec, TestZone};
pub use hostile::{HostileKind, HostilePeer, closed_port};
pub use legacy_hello::LegacyHelloPeer;
pub use nginx::Nginx;
pub use openssl::{OpensslBuilder, OpensslCert, OpensslServer};
pub use pki::{KeyKind, Leaf, LeafSpec, TestPki};
pub use registry::{RdapMode, RdapServer, Record, WhoisAnswer, WhoisServer};
pub use smtp_server::{SmtpServer, SmtpServerBuilder, SmtpStats};
pub use tls_site::{TlsSite, TlsSiteBuilder, TlsVersions};
pub use web::{Reply, Scheme, WebSite};

/// Installs aws-lc-rs as the process-wide rustls crypto provider (the workspace's only one).
/// Idempotent: an already installed provider is kept.
pub fn init_crypto() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
