//! A throw-away public key infrastructure for the scanner's tests: a root CA
//! ("canhgac Test Root CA"), an intermediate CA signed by it, and leaf certificates that are valid
//! or broken in exactly one way (expired, not yet valid, wrong host, self-signed, missing
//! intermediate, wildcard). The scanner trusts the root through its `--ca-file`, so each broken
//! leaf exercises one finding and nothing else. Validity periods are relative to the real clock.
//!
//! Both CA keys are RSA 2048 (as at most public CAs), so every certificate here is signed with
//! sha256WithRSAEncryption; leaf keys are EC P-256 unless RSA is asked for. Generating RSA keys
//! is slow: use [`TestPki::shared`] unless a test needs its own hierarchy.

use std::fmt;
use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

/// One day.
pub const DAY: Duration = Duration::from_secs(86_400);
/// Common name of the test root CA.
pub const ROOT_CA_NAME: &str = "canhgac Test Root CA";
/// Common name of the test intermediate CA.
pub const INTERMEDIATE_CA_NAME: &str = "canhgac Test Intermediate CA";
/// Names a fixture on 127.0.0.1 is normally reached by.
pub const LOCALHOST_NAMES: &[&str] = &["localhost", "127.0.0.1"];
/// The only name in [`TestPki::wrong_host`] certificates.
pub const WRONG_HOST_NAME: &str = "wrong-host.example.org";
/// The only name in [`TestPki::wildcard`] certificates.
pub const WILDCARD_NAME: &str = "*.example.gov.vn";
/// File name used by [`TestPki::write_ca_file`].
pub const CA_FILE_NAME: &str = "canhgac-test-root-ca.pem";

/// Key algorithm of a leaf certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyKind {
    /// ECDSA on P-256 (fast to generate).
    #[default]
    EcdsaP256,
    /// RSA 2048 (slow to generate: tens to hundreds of milliseconds).
    Rsa2048,
}

/// Everything that varies between the leaves [`TestPki`] issues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafSpec {
    /// DNS names and IP addresses (as text) for the subjectAltName; the first is also the CN.
    pub names: Vec<String>,
    /// Leaf key algorithm.
    pub key: KeyKind,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
    /// Sign the leaf with its own key instead of the intermediate.
    pub self_signed: bool,
    /// Append the intermediate to the chain (ignored for self-signed leaves).
    pub include_intermediate: bool,
}

impl LeafSpec {
    /// A valid EC leaf for `names`, from 30 days ago to 90 days ahead, chain = leaf + intermediate.
    pub fn new(names: &[&str]) -> Self {
        let now = SystemTime::now();
        Self {
            names: names.iter().map(|n| (*n).to_owned()).collect(),
            key: KeyKind::EcdsaP256,
            not_before: now - 30 * DAY,
            not_after: now + 90 * DAY,
            self_signed: false,
            include_intermediate: true,
        }
    }

    /// Sets the key algorithm.
    pub fn key(mut self, key: KeyKind) -> Self {
        self.key = key;
        self
    }

    /// Sets the validity period.
    pub fn validity(mut self, not_before: SystemTime, not_after: SystemTime) -> Self {
        self.not_before = not_before;
        self.not_after = not_after;
        self
    }

    /// Makes the leaf self-signed.
    pub fn self_signed(mut self) -> Self {
        self.self_signed = true;
        self
    }

    /// Serves the leaf without its intermediate.
    pub fn without_intermediate(mut self) -> Self {
        self.include_intermediate = false;
        self
    }
}

/// A leaf certificate with its chain and private key, in PEM and DER.
#[derive(Debug)]
pub struct Leaf {
    /// The chain as served, leaf first, concatenated PEM blocks.
    pub chain_pem: String,
    /// The leaf's private key, PKCS#8 PEM.
    pub key_pem: String,
    /// The chain as served, leaf first.
    pub chain_der: Vec<CertificateDer<'static>>,
    /// The leaf's private key, PKCS#8.
    pub key_der: PrivateKeyDer<'static>,
    /// The names in the subjectAltName.
    pub names: Vec<String>,
    /// Start of validity (second precision).
    pub not_before: SystemTime,
    /// End of validity (second precision).
    pub not_after: SystemTime,
}

impl Clone for Leaf {
    fn clone(&self) -> Self {
        Self {
            chain_pem: self.chain_pem.clone(),
            key_pem: self.key_pem.clone(),
            chain_der: self.chain_der.clone(),
            key_der: self.key_der.clone_key(),
            names: self.names.clone(),
            not_before: self.not_before,
            not_after: self.not_after,
        }
    }
}

impl Leaf {
    /// The end-entity certificate.
    pub fn leaf_der(&self) -> &CertificateDer<'static> {
        &self.chain_der[0]
    }

    /// Writes `chain.pem` and `key.pem` into `dir`, returning their paths (chain, key).
    pub fn write_pem_files(&self, dir: impl AsRef<Path>) -> io::Result<(PathBuf, PathBuf)> {
        let chain = dir.as_ref().join("chain.pem");
        let key = dir.as_ref().join("key.pem");
        fs::write(&chain, &self.chain_pem)?;
        fs::write(&key, &self.key_pem)?;
        Ok((chain, key))
    }
}

/// The test root CA and intermediate CA, and the leaf factory.
pub struct TestPki {
    root: CertifiedIssuer<'static, KeyPair>,
    intermediate: CertifiedIssuer<'static, KeyPair>,
    intermediate_key_pem: String,
}

impl fmt::Debug for TestPki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestPki")
            .field("root", &ROOT_CA_NAME)
            .field("intermediate", &INTERMEDIATE_CA_NAME)
            .finish_non_exhaustive()
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

impl TestPki {
    /// Generates a new hierarchy (two RSA 2048 keys: slow, prefer [`TestPki::shared`]).
    ///
    /// # Panics
    /// If key generation or signing fails (a bug, not an environment problem).
    pub fn new() -> Self {
        crate::init_crypto();
        let now = SystemTime::now();

        let mut root_params = CertificateParams::default();
        root_params.distinguished_name = dn(ROOT_CA_NAME);
        root_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        root_params.key_usages = ca_key_usages();
        root_params.not_before = to_offset(now - 365 * DAY);
        root_params.not_after = to_offset(now + 20 * 365 * DAY);
        let root_key = rsa_key();
        let root = CertifiedIssuer::self_signed(root_params, root_key)
            .expect("canhgac-testkit: cannot self-sign the test root CA");

        let mut int_params = CertificateParams::default();
        int_params.distinguished_name = dn(INTERMEDIATE_CA_NAME);
        int_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        int_params.key_usages = ca_key_usages();
        int_params.use_authority_key_identifier_extension = true;
        int_params.not_before = to_offset(now - 365 * DAY);
        int_params.not_after = to_offset(now + 10 * 365 * DAY);
        let int_key = rsa_key();
        let intermediate_key_pem = int_key.serialize_pem();
        let intermediate = CertifiedIssuer::signed_by(int_params, int_key, &*root)
            .expect("canhgac-testkit: cannot sign the test intermediate CA");

        Self {
            root,
            intermediate,
            intermediate_key_pem,
        }
    }

    /// A hierarchy created once per process and shared by every caller.
    pub fn shared() -> &'static TestPki {
        static SHARED: OnceLock<TestPki> = OnceLock::new();
        SHARED.get_or_init(TestPki::new)
    }

    /// The root CA certificate, PEM (what the scanner's `--ca-file` should contain).
    pub fn root_pem(&self) -> String {
        self.root.pem()
    }

    /// The root CA certificate, DER.
    pub fn root_der(&self) -> &CertificateDer<'static> {
        self.root.der()
    }

    /// The intermediate CA certificate, PEM.
    pub fn intermediate_pem(&self) -> String {
        self.intermediate.pem()
    }

    /// The intermediate CA certificate, DER.
    pub fn intermediate_der(&self) -> &CertificateDer<'static> {
        self.intermediate.der()
    }

    /// The intermediate CA's private key, PKCS#8 PEM (lets `openssl x509 -req` issue leaves
    /// that rcgen cannot make, such as RSA 1024 or SHA-1 signed ones).
    pub fn intermediate_key_pem(&self) -> &str {
        &self.intermediate_key_pem
    }

    /// Writes the root CA PEM to `dir/canhgac-test-root-ca.pem` and returns that path.
    ///
    /// # Panics
    /// If the file cannot be written.
    pub fn write_ca_file(&self, dir: impl AsRef<Path>) -> PathBuf {
        let path = dir.as_ref().join(CA_FILE_NAME);
        fs::write(&path, self.root_pem())
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }

    /// A root store holding only the test root CA.
    pub fn root_store(&self) -> rustls::RootCertStore {
        let mut store = rustls::RootCertStore::empty();
        store
            .add(self.root_der().clone())
            .expect("the test root CA is a valid trust anchor");
        store
    }

    /// A rustls client configuration (aws-lc-rs, TLS 1.2 and 1.3) trusting only the test root.
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the default provider supports the default versions")
            .with_root_certificates(self.root_store())
            .with_no_client_auth();
        Arc::new(config)
    }

    /// Issues a leaf as described by `spec`.
    ///
    /// # Panics
    /// If a name is neither an IP address nor a valid IA5 DNS name, or signing fails.
    pub fn issue(&self, spec: &LeafSpec) -> Leaf {
        let key = match spec.key {
            KeyKind::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
                .expect("canhgac-testkit: cannot generate an EC P-256 key"),
            KeyKind::Rsa2048 => rsa_key(),
        };
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(spec.names.first().map_or("canhgac test leaf", |n| n));
        params.subject_alt_names = spec.names.iter().map(|n| san(n)).collect();
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = match spec.key {
            KeyKind::EcdsaP256 => vec![KeyUsagePurpose::DigitalSignature],
            KeyKind::Rsa2048 => vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ],
        };
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = to_offset(spec.not_before);
        params.not_after = to_offset(spec.not_after);

        let mut chain_der = Vec::new();
        let mut chain_pem = String::new();
        if spec.self_signed {
            let cert = params
                .self_signed(&key)
                .expect("canhgac-testkit: cannot self-sign a leaf");
            chain_pem.push_str(&cert.pem());
            chain_der.push(cert.der().clone());
        } else {
            params.use_authority_key_identifier_extension = true;
            let cert = params
                .signed_by(&key, &*self.intermediate)
                .expect("canhgac-testkit: cannot sign a leaf");
            chain_pem.push_str(&cert.pem());
            chain_der.push(cert.der().clone());
            if spec.include_intermediate {
                chain_pem.push_str(&self.intermediate.pem());
                chain_der.push(self.intermediate.der().clone());
            }
        }

        Leaf {
            chain_pem,
            key_pem: key.serialize_pem(),
            key_der: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            chain_der,
            names: spec.names.clone(),
            not_before: truncate_to_seconds(spec.not_before),
            not_after: truncate_to_seconds(spec.not_after),
        }
    }

    /// A valid EC P-256 leaf for `names` (DNS names or IP addresses), signed by the intermediate,
    /// valid from 30 days ago to 90 days ahead; chain = leaf + intermediate.
    pub fn leaf(&self, names: &[&str]) -> Leaf {
        self.issue(&LeafSpec::new(names))
    }

    /// [`TestPki::leaf`] for "localhost" and "127.0.0.1".
    pub fn localhost(&self) -> Leaf {
        self.leaf(LOCALHOST_NAMES)
    }

    /// Like [`TestPki::leaf`] with an RSA 2048 key.
    pub fn leaf_rsa(&self, names: &[&str]) -> Leaf {
        self.issue(&LeafSpec::new(names).key(KeyKind::Rsa2048))
    }

    /// Expired: valid from 100 days ago until 10 days ago.
    pub fn expired(&self, names: &[&str]) -> Leaf {
        let now = SystemTime::now();
        self.issue(&LeafSpec::new(names).validity(now - 100 * DAY, now - 10 * DAY))
    }

    /// Not yet valid: valid from 10 days ahead until 100 days ahead.
    pub fn not_yet_valid(&self, names: &[&str]) -> Leaf {
        let now = SystemTime::now();
        self.issue(&LeafSpec::new(names).validity(now + 10 * DAY, now + 100 * DAY))
    }

    /// Otherwise valid, but only for [`WRONG_HOST_NAME`].
    pub fn wrong_host(&self) -> Leaf {
        self.leaf(&[WRONG_HOST_NAME])
    }

    /// Self-signed (not chained to the test root), otherwise valid for `names`.
    pub fn self_signed(&self, names: &[&str]) -> Leaf {
        self.issue(&LeafSpec::new(names).self_signed())
    }

    /// Valid and signed by the intermediate, but the chain holds only the leaf.
    pub fn missing_intermediate(&self, names: &[&str]) -> Leaf {
        self.issue(&LeafSpec::new(names).without_intermediate())
    }

    /// Valid for [`WILDCARD_NAME`] only.
    pub fn wildcard(&self) -> Leaf {
        self.leaf(&[WILDCARD_NAME])
    }
}

fn ca_key_usages() -> Vec<KeyUsagePurpose> {
    vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ]
}

fn rsa_key() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
        .expect("canhgac-testkit: cannot generate an RSA 2048 key (aws-lc-rs)")
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "VN");
    dn.push(DnType::OrganizationName, "canhgac test");
    dn.push(DnType::CommonName, common_name);
    dn
}

fn san(name: &str) -> SanType {
    match name.parse::<IpAddr>() {
        Ok(ip) => SanType::IpAddress(ip),
        Err(_) => SanType::DnsName(
            name.try_into()
                .unwrap_or_else(|e| panic!("invalid DNS name {name:?}: {e}")),
        ),
    }
}

fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

fn truncate_to_seconds(t: SystemTime) -> SystemTime {
    let secs = unix_seconds(t);
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

fn to_offset(t: SystemTime) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix_seconds(t)).expect("time within the X.509 range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_and_validity() {
        let pki = TestPki::shared();
        let leaf = pki.localhost();
        assert_eq!(leaf.chain_der.len(), 2);
        assert_eq!(&leaf.chain_der[1], pki.intermediate_der());
        assert_eq!(leaf.chain_pem.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(leaf.key_pem.contains("BEGIN PRIVATE KEY"));
        let days_left = leaf
            .not_after
            .duration_since(SystemTime::now())
            .unwrap()
            .as_secs()
            / 86_400;
        assert!((89..=90).contains(&days_left), "{days_left}");

        assert_eq!(pki.missing_intermediate(LOCALHOST_NAMES).chain_der.len(), 1);
        assert_eq!(pki.self_signed(LOCALHOST_NAMES).chain_der.len(), 1);
        assert!(pki.expired(LOCALHOST_NAMES).not_after < SystemTime::now());
        assert!(pki.not_yet_valid(LOCALHOST_NAMES).not_before > SystemTime::now());
        assert!(pki.root_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    }

    #[test]
    fn webpki_verdicts() {
        use rustls::client::danger::ServerCertVerifier;
        use rustls_pki_types::{ServerName, UnixTime};

        let pki = TestPki::shared();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(pki.root_store()),
            Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        )
        .build()
        .unwrap();
        let verify = |leaf: &Leaf, name: &str| {
            verifier.verify_server_cert(
                &leaf.chain_der[0],
                &leaf.chain_der[1..],
                &ServerName::try_from(name.to_owned()).unwrap(),
                &[],
                UnixTime::now(),
            )
        };
        use rustls::{CertificateError as CE, Error as E};
        let err = |leaf: &Leaf, name: &str| verify(leaf, name).unwrap_err();

        verify(&pki.localhost(), "localhost").unwrap();
        verify(&pki.localhost(), "127.0.0.1").unwrap();
        verify(
            &pki.leaf_rsa(&["site.example.gov.vn"]),
            "site.example.gov.vn",
        )
        .unwrap();
        verify(&pki.wildcard(), "www.example.gov.vn").unwrap();
        assert!(matches!(
            err(&pki.expired(LOCALHOST_NAMES), "localhost"),
            E::InvalidCertificate(CE::Expired | CE::ExpiredContext { .. })
        ));
        assert!(matches!(
            err(&pki.not_yet_valid(LOCALHOST_NAMES), "localhost"),
            E::InvalidCertificate(CE::NotValidYet | CE::NotValidYetContext { .. })
        ));
        assert!(matches!(
            err(&pki.wrong_host(), "localhost"),
            E::InvalidCertificate(CE::NotValidForName | CE::NotValidForNameContext { .. })
        ));
        assert!(matches!(
            err(&pki.self_signed(LOCALHOST_NAMES), "localhost"),
            E::InvalidCertificate(CE::UnknownIssuer)
        ));
        assert!(matches!(
            err(&pki.missing_intermediate(LOCALHOST_NAMES), "localhost"),
            E::InvalidCertificate(CE::UnknownIssuer)
        ));
    }

    #[test]
    fn ca_file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = TestPki::shared().write_ca_file(dir.path());
        assert!(path.ends_with(CA_FILE_NAME));
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            TestPki::shared().root_pem()
        );
        let (chain, key) = TestPki::shared()
            .localhost()
            .write_pem_files(dir.path())
            .unwrap();
        assert!(chain.exists() && key.exists());
    }
}
