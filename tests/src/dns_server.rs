//! An authoritative DNS server on 127.0.0.1 (UDP and TCP on one port) that is also the only
//! resolver the scanner asks in tests: it serves every test zone, plus a signed root zone that
//! delegates to each of them, so that a validating stub resolver finds a whole chain of trust
//! (root DNSKEY as the trust anchor, DS records for the signed zones, NSEC proofs of no DS for
//! the unsigned ones) without any traffic beyond loopback.
//!
//! Zones are given as zone-file text (and optionally built records) and signed in-process with
//! hickory's DNSSEC support (ECDSA P-256, NSEC), or deliberately broken: a corrupted RRSIG, all
//! signatures expired, a DS at the root that matches no key, or no DS at all (an island of
//! security). [`DnsServer::standard`] serves the fixture zones the end-to-end tests use; see
//! [`standard_zones`] for what they contain.
//!
//! hickory's catalog answers a DS query from the child zone (the most specific one), while DS
//! records live in the parent: the server therefore routes DS queries for a zone apex to the
//! zone above it, one catalog per zone. Dropping the [`DnsServer`] stops it.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::{Mutex, mpsc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, anyhow};
use hickory_proto::dnssec::crypto::EcdsaSigningKey;
use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS, RRSIG};
use hickory_proto::dnssec::{Algorithm, DigestType, DnssecSigner, PublicKey, SigningKey};
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordSet, RecordType, RrKey};
use hickory_proto::serialize::txt::Parser;
use hickory_server::Server;
use hickory_server::dnssec::NxProofKind;
use hickory_server::net::runtime::{Time, TokioRuntimeProvider};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use rustls_pki_types::PrivatePkcs8KeyDer;
use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::background::runtime;

/// How long `Drop` waits for the server to stop.
const STOP_WAIT: Duration = Duration::from_secs(5);
/// Idle time after which the server closes a TCP connection.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// Validity of good signatures.
const SIGNATURE_VALIDITY: Duration = Duration::from_secs(30 * 86_400);
/// TTL of the records the server adds (delegations, DS).
const TTL: u32 = 300;
/// Number of A records of `big.example.gov.vn`.
pub const BIG_ANSWER: usize = 1000;

/// How a zone is signed, or broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dnssec {
    /// Not signed; the root proves (NSEC) that it has no DS.
    Unsigned,
    /// Signed, with a DS at the root: validates.
    Signed,
    /// Signed, but the RRSIG over the A records of this owner name is corrupted.
    BadSignature(String),
    /// Signed, but every signature expired ten days ago.
    Expired,
    /// Signed, but the DS at the root is the digest of another key.
    DsMismatch,
    /// Signed, but the root has no DS for it (an island of security: insecure).
    NoDs,
}

/// A zone to serve.
#[derive(Debug, Clone)]
pub struct TestZone {
    origin: String,
    text: String,
    records: Vec<Record>,
    dnssec: Dnssec,
}

impl TestZone {
    /// A zone from zone-file text (relative names are relative to `origin`), unsigned.
    pub fn parse(origin: &str, text: impl Into<String>) -> Self {
        TestZone {
            origin: origin.trim_end_matches('.').to_string(),
            text: text.into(),
            records: Vec::new(),
            dnssec: Dnssec::Unsigned,
        }
    }

    /// Adds a built record.
    pub fn record(mut self, record: Record) -> Self {
        self.records.push(record);
        self
    }

    /// Sets how the zone is signed.
    pub fn dnssec(mut self, dnssec: Dnssec) -> Self {
        self.dnssec = dnssec;
        self
    }

    /// The zone's name, without the trailing dot.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// The unsigned fixture zone `example.gov.vn`: what a typical agency publishes.
///
/// - `host` (A 127.0.0.1, AAAA ::1), `v4only` (A only), `www` (CNAME to `host`), `old` (CNAME
///   to `gone`, which does not exist: dangling), `big` ([`BIG_ANSWER`] A records in 127.1/16);
/// - NS `ns1` and `ns2` (both 127.0.0.1); CAA `0 issue "letsencrypt.org"` and an iodef;
/// - MX 10 `mx` (127.0.0.1); SPF `v=spf1 mx a:host.example.gov.vn include:_spf.example.gov.vn
///   ~all` (3 lookups); DMARC `p=quarantine; sp=reject; pct=100`; MTA-STS and TLS-RPT;
/// - `bulk`: its own MX and an SPF with `+all` and 12 lookups.
pub fn example_zone() -> TestZone {
    let mut text = String::from(
        "$TTL 300
@          IN SOA   ns1.example.gov.vn. hostmaster.example.gov.vn. 2026010101 3600 600 86400 300
@          IN NS    ns1.example.gov.vn.
@          IN NS    ns2.example.gov.vn.
ns1        IN A     127.0.0.1
ns2        IN A     127.0.0.1
@          IN A     127.0.0.1
@          IN AAAA  ::1
host       IN A     127.0.0.1
host       IN AAAA  ::1
v4only     IN A     127.0.0.1
www        IN CNAME host.example.gov.vn.
old        IN CNAME gone.example.gov.vn.
@          IN CAA   0 issue \"letsencrypt.org\"
@          IN CAA   0 iodef \"mailto:security@example.gov.vn\"
@          IN MX    10 mx.example.gov.vn.
mx         IN A     127.0.0.1
@          IN TXT   \"v=spf1 mx a:host.example.gov.vn include:_spf.example.gov.vn ~all\"
@          IN TXT   \"google-site-verification=canhgac-test\"
_spf       IN TXT   \"v=spf1 ip4:127.0.0.0/8 -all\"
_dmarc     IN TXT   \"v=DMARC1; p=quarantine; sp=reject; pct=100; rua=mailto:dmarc@example.gov.vn\"
_mta-sts   IN TXT   \"v=STSv1; id=20260101T000000\"
_smtp._tls IN TXT   \"v=TLSRPTv1; rua=mailto:tlsrpt@example.gov.vn\"
bulk       IN MX    10 mx.example.gov.vn.
bulk       IN TXT   \"v=spf1 include:_s1.example.gov.vn include:_s2.example.gov.vn a mx +all\"
_s1        IN TXT   \"v=spf1 a mx ptr exists:x.example.gov.vn -all\"
_s2        IN TXT   \"v=spf1 a mx include:_spf.example.gov.vn exists:y.example.gov.vn -all\"
",
    );
    for i in 0..BIG_ANSWER {
        let _ = writeln!(text, "big IN A 127.1.{}.{}", i / 250, i % 250 + 1);
    }
    TestZone::parse("example.gov.vn", text)
}

/// A small zone for the DNSSEC fixtures: apex, `www` (A 127.0.0.1, AAAA ::1) and `ns1`.
pub fn small_zone(origin: &str, dnssec: Dnssec) -> TestZone {
    let text = format!(
        "$TTL 300
@    IN SOA  ns1.{origin}. hostmaster.{origin}. 2026010101 3600 600 86400 300
@    IN NS   ns1.{origin}.
ns1  IN A    127.0.0.1
@    IN A    127.0.0.1
www  IN A    127.0.0.1
www  IN AAAA ::1
"
    );
    TestZone::parse(origin, text).dnssec(dnssec)
}

/// The fixture zones of [`DnsServer::standard`]:
/// - `example.gov.vn`: see [`example_zone`] (unsigned);
/// - `signed.gov.vn`: signed, validates;
/// - `bogus.gov.vn`: signed, the RRSIG over `www.bogus.gov.vn` A corrupted;
/// - `expired.gov.vn`: signatures expired;
/// - `mismatch.gov.vn`: DS at the root for another key;
/// - `island.gov.vn`: signed without a DS at the root (insecure);
/// - `lame.gov.vn`: unsigned, its only NS on 127.0.0.2 where nothing listens.
pub fn standard_zones() -> Vec<TestZone> {
    let lame = TestZone::parse(
        "lame.gov.vn",
        "$TTL 300
@    IN SOA ns.lame.gov.vn. hostmaster.lame.gov.vn. 1 3600 600 86400 300
@    IN NS  ns.lame.gov.vn.
ns   IN A   127.0.0.2
www  IN A   127.0.0.1
",
    );
    vec![
        example_zone(),
        small_zone("signed.gov.vn", Dnssec::Signed),
        small_zone(
            "bogus.gov.vn",
            Dnssec::BadSignature("www.bogus.gov.vn".into()),
        ),
        small_zone("expired.gov.vn", Dnssec::Expired),
        small_zone("mismatch.gov.vn", Dnssec::DsMismatch),
        small_zone("island.gov.vn", Dnssec::NoDs),
        lame,
    ]
}

/// A running DNS server; dropping it stops it.
pub struct DnsServer {
    addr: SocketAddr,
    trust_anchor: PathBuf,
    _dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    stopped: Mutex<mpsc::Receiver<()>>,
}

impl std::fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsServer")
            .field("addr", &self.addr)
            .field("trust_anchor", &self.trust_anchor)
            .finish()
    }
}

impl DnsServer {
    /// Serves [`standard_zones`].
    pub fn standard() -> DnsServer {
        Self::start(standard_zones())
    }

    /// Serves `zones` under a signed root zone; panics if a zone does not parse or sign (a
    /// broken fixture is a bug of the test).
    pub fn start(zones: Vec<TestZone>) -> DnsServer {
        Self::try_start(zones).unwrap_or_else(|e| panic!("canhgac-testkit: DNS server: {e:#}"))
    }

    /// Like [`DnsServer::start`], returning errors.
    pub fn try_start(zones: Vec<TestZone>) -> anyhow::Result<DnsServer> {
        let now = unix_now();
        let mut catalogs: HashMap<LowerName, Catalog> = HashMap::new();
        let mut delegations: Vec<(Name, Option<DS>)> = Vec::new();
        for zone in zones {
            let origin = fqdn(&zone.origin)?;
            anyhow::ensure!(!origin.is_root(), "the root zone is built by the server");
            let (handler, ds) =
                build_zone(&zone, &origin, now).with_context(|| format!("zone {}", zone.origin))?;
            let mut catalog = Catalog::new();
            catalog.upsert(LowerName::from(&origin), vec![Arc::new(handler)]);
            catalogs.insert(LowerName::from(&origin), catalog);
            delegations.push((origin, ds));
        }
        let (root, root_key) = build_root(&delegations).context("root zone")?;
        let mut root_catalog = Catalog::new();
        root_catalog.upsert(LowerName::from(&Name::root()), vec![Arc::new(root)]);

        let dir = tempfile::tempdir().context("temporary directory")?;
        let trust_anchor = dir.path().join("root-anchor.key");
        std::fs::write(&trust_anchor, format!(". {TTL} IN DNSKEY {root_key}\n"))
            .context("writing the trust anchor")?;

        let (udp, tcp) = bind_pair()?;
        let addr = udp.local_addr()?;
        let router = Router {
            catalogs,
            root: root_catalog,
        };
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let (stopped_tx, stopped_rx) = mpsc::channel::<()>();
        let rt = runtime();
        let (udp, tcp) = {
            let _guard = rt.enter();
            udp.set_nonblocking(true)?;
            tcp.set_nonblocking(true)?;
            (
                tokio::net::UdpSocket::from_std(udp)?,
                tokio::net::TcpListener::from_std(tcp)?,
            )
        };
        rt.spawn(async move {
            let mut server = Server::new(router);
            server.register_socket(udp);
            server.register_listener(tcp, TCP_IDLE, 64);
            let _ = shutdown_rx.await;
            let _ = tokio::time::timeout(STOP_WAIT, server.shutdown_gracefully()).await;
            let _ = stopped_tx.send(());
        });
        Ok(DnsServer {
            addr,
            trust_anchor,
            _dir: dir,
            shutdown: Some(shutdown_tx),
            stopped: Mutex::new(stopped_rx),
        })
    }

    /// Where the server listens (UDP and TCP), e.g. for `--resolver`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A file with the root zone's DNSKEY, for `--dns-trust-anchor`.
    pub fn trust_anchor_file(&self) -> &Path {
        &self.trust_anchor
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Ok(stopped) = self.stopped.get_mut() {
            let _ = stopped.recv_timeout(STOP_WAIT);
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn fqdn(name: &str) -> anyhow::Result<Name> {
    let mut n = Name::from_ascii(name.trim_end_matches('.'))
        .map_err(|e| anyhow!("invalid name {name:?}: {e}"))?;
    n.set_fqdn(true);
    Ok(n)
}

/// UDP and TCP sockets on the same 127.0.0.1 port.
fn bind_pair() -> anyhow::Result<(std::net::UdpSocket, std::net::TcpListener)> {
    let mut last = None;
    for _ in 0..20 {
        let udp = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = udp.local_addr()?.port();
        match std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(anyhow!(
        "no port free for both UDP and TCP on 127.0.0.1: {last:?}"
    ))
}

/// A freshly generated ECDSA P-256 key (PKCS#8), usable for several signers.
fn new_key() -> anyhow::Result<PrivatePkcs8KeyDer<'static>> {
    EcdsaSigningKey::generate_pkcs8(Algorithm::ECDSAP256SHA256)
        .map_err(|e| anyhow!("generating a zone key: {e}"))
}

fn signer(
    pkcs8: &PrivatePkcs8KeyDer<'static>,
    origin: &Name,
    validity: Duration,
) -> anyhow::Result<(DnssecSigner, DNSKEY)> {
    let key = EcdsaSigningKey::from_pkcs8(pkcs8, Algorithm::ECDSAP256SHA256)
        .map_err(|e| anyhow!("loading a zone key: {e}"))?;
    let public = key
        .to_public_key()
        .map_err(|e| anyhow!("public key: {e}"))?;
    let dnskey = DNSKEY::from_key(&public);
    Ok((
        DnssecSigner::new(dnskey.clone(), Box::new(key), origin.clone(), validity),
        dnskey,
    ))
}

fn ds_for(dnskey: &DNSKEY, origin: &Name) -> anyhow::Result<DS> {
    DS::from_key(
        dnskey.public_key() as &dyn PublicKey,
        origin,
        DigestType::SHA256,
    )
    .map_err(|e| anyhow!("DS digest: {e}"))
}

type Handler = InMemoryZoneHandler<TokioRuntimeProvider>;

fn parse_zone(zone: &TestZone, origin: &Name) -> anyhow::Result<BTreeMap<RrKey, RecordSet>> {
    let (_, records) = Parser::new(zone.text.as_str(), None, Some(origin.clone()))
        .parse()
        .map_err(|e| anyhow!("zone text does not parse: {e}"))?;
    Ok(records)
}

/// Builds one zone handler, signed as asked; returns the DS the root must publish, if any.
fn build_zone(zone: &TestZone, origin: &Name, now: i64) -> anyhow::Result<(Handler, Option<DS>)> {
    let records = parse_zone(zone, origin)?;
    let signed = zone.dnssec != Dnssec::Unsigned;
    let mut handler = Handler::new(
        origin.clone(),
        records,
        ZoneType::Primary,
        AxfrPolicy::Deny,
        signed.then_some(NxProofKind::Nsec),
    )
    .map_err(|e| anyhow!("{e}"))?;
    for r in &zone.records {
        anyhow::ensure!(
            handler.upsert_mut(r.clone(), 0),
            "record {} {} cannot be added",
            r.name,
            r.record_type()
        );
    }
    if !signed {
        return Ok((handler, None));
    }
    let pkcs8 = new_key()?;
    let (zone_signer, dnskey) = signer(&pkcs8, origin, SIGNATURE_VALIDITY)?;
    handler
        .add_zone_signing_key_mut(zone_signer)
        .map_err(|e| anyhow!("adding the zone key: {e}"))?;
    handler
        .secure_zone_mut()
        .map_err(|e| anyhow!("signing: {e}"))?;
    let ds = match &zone.dnssec {
        Dnssec::Unsigned => None,
        Dnssec::Signed | Dnssec::BadSignature(_) | Dnssec::Expired => {
            Some(ds_for(&dnskey, origin)?)
        }
        Dnssec::DsMismatch => {
            let (_, other) = signer(&new_key()?, origin, SIGNATURE_VALIDITY)?;
            Some(ds_for(&other, origin)?)
        }
        Dnssec::NoDs => None,
    };
    match &zone.dnssec {
        Dnssec::BadSignature(owner) => corrupt_a_signature(&mut handler, &fqdn(owner)?)?,
        Dnssec::Expired => {
            // Ten-day signatures made forty days ago: expired for thirty days.
            let (old_signer, _) = signer(&pkcs8, origin, Duration::from_secs(10 * 86_400))?;
            let inception = OffsetDateTime::from_unix_timestamp(now - 40 * 86_400)?;
            resign_all(&mut handler, &old_signer, inception)?;
        }
        _ => {}
    }
    Ok((handler, ds))
}

/// Flips a bit in every RRSIG over the A records of `owner`.
fn corrupt_a_signature(handler: &mut Handler, owner: &Name) -> anyhow::Result<()> {
    let key = RrKey::new(LowerName::from(owner), RecordType::A);
    let rrset = handler
        .records_get_mut()
        .get_mut(&key)
        .ok_or_else(|| anyhow!("no A records at {owner} to break"))?;
    let rrset = Arc::make_mut(rrset);
    let sigs: Vec<Record> = rrset.rrsigs().to_vec();
    anyhow::ensure!(!sigs.is_empty(), "{owner} A is not signed");
    rrset.clear_rrsigs();
    for mut record in sigs {
        if let RData::DNSSEC(DNSSECRData::RRSIG(sig)) = &record.data {
            let mut bytes = sig.sig().to_vec();
            if let Some(b) = bytes.get_mut(10) {
                *b ^= 0x01;
            }
            record.data = RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(
                sig.input().clone(),
                bytes,
            )));
        }
        rrset.insert_rrsig(record);
    }
    Ok(())
}

/// Replaces every signature of the zone with one made by `signer` at `inception`.
fn resign_all(
    handler: &mut Handler,
    signer: &DnssecSigner,
    inception: OffsetDateTime,
) -> anyhow::Result<()> {
    for rrset in handler.records_get_mut().values_mut() {
        let rrset = Arc::make_mut(rrset);
        rrset.clear_rrsigs();
        let sig = RRSIG::from_rrset(rrset, DNSClass::IN, inception, signer)
            .map_err(|e| anyhow!("re-signing: {e}"))?;
        let record = Record::from_rdata(
            rrset.name().clone(),
            rrset.ttl(),
            RData::DNSSEC(DNSSECRData::RRSIG(sig)),
        );
        rrset.insert_rrsig(record);
    }
    Ok(())
}

/// The signed root zone delegating to every test zone; returns it and its DNSKEY.
fn build_root(delegations: &[(Name, Option<DS>)]) -> anyhow::Result<(Handler, DNSKEY)> {
    let mut text = String::from(
        "$TTL 300
@ IN SOA a.root.test. hostmaster.root.test. 2026010101 1800 900 604800 300
@ IN NS  a.root.test.
",
    );
    for (zone, _) in delegations {
        let _ = writeln!(text, "{zone} IN NS ns1.{zone}");
    }
    let root = TestZone::parse(".", text);
    let records = parse_zone(&root, &Name::root())?;
    let mut handler = Handler::new(
        Name::root(),
        records,
        ZoneType::Primary,
        AxfrPolicy::Deny,
        Some(NxProofKind::Nsec),
    )
    .map_err(|e| anyhow!("{e}"))?;
    for (zone, ds) in delegations {
        if let Some(ds) = ds {
            let record = Record::from_rdata(
                zone.clone(),
                TTL,
                RData::DNSSEC(DNSSECRData::DS(ds.clone())),
            );
            anyhow::ensure!(handler.upsert_mut(record, 0), "DS for {zone}");
        }
    }
    let (root_signer, dnskey) = signer(&new_key()?, &Name::root(), SIGNATURE_VALIDITY)?;
    handler
        .add_zone_signing_key_mut(root_signer)
        .map_err(|e| anyhow!("adding the root key: {e}"))?;
    handler
        .secure_zone_mut()
        .map_err(|e| anyhow!("signing the root: {e}"))?;
    Ok((handler, dnskey))
}

/// Sends each query to the catalog of the closest enclosing zone, except that DS queries for a
/// zone apex go to the zone above (where DS records live). Names under no test zone go to the
/// root zone, which answers for them (NXDOMAIN, with its NSEC proof).
struct Router {
    catalogs: HashMap<LowerName, Catalog>,
    root: Catalog,
}

impl Router {
    fn catalog_for(&self, name: &LowerName, rtype: RecordType) -> &Catalog {
        let mut n = name.clone();
        if rtype == RecordType::DS && !n.is_root() && self.catalogs.contains_key(&n) {
            n = n.base_name();
        }
        while !n.is_root() {
            if let Some(c) = self.catalogs.get(&n) {
                return c;
            }
            n = n.base_name();
        }
        &self.root
    }
}

impl RequestHandler for Router {
    // The trait is declared with `#[async_trait]`; this is its expansion, written out so that
    // the test kit needs no async-trait dependency of its own.
    fn handle_request<'life0, 'life1, 'async_trait, R, T>(
        &'life0 self,
        request: &'life1 Request,
        response_handle: R,
    ) -> Pin<Box<dyn Future<Output = ResponseInfo> + Send + 'async_trait>>
    where
        R: 'async_trait + ResponseHandler,
        T: 'async_trait + Time,
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            // A request without exactly one question goes to the root catalog, which answers
            // FORMERR.
            let catalog = match request.request_info() {
                Ok(info) => self.catalog_for(info.query.name(), info.query.query_type()),
                Err(_) => &self.root,
            };
            catalog
                .handle_request::<R, T>(request, response_handle)
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};

    fn ask(server: &DnsServer, name: &str, rtype: RecordType) -> Message {
        let mut m = Message::new(4242, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(fqdn(name).unwrap(), rtype));
        let mut edns = Edns::new();
        edns.set_max_payload(4096);
        edns.enable_dnssec();
        m.set_edns(edns);
        let socket = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        socket.send_to(&m.to_vec().unwrap(), server.addr()).unwrap();
        let mut buf = vec![0u8; 65_535];
        let n = socket.recv(&mut buf).unwrap();
        Message::from_vec(&buf[..n]).unwrap()
    }

    #[test]
    fn serves_the_fixture_zones_with_authority() {
        let server = DnsServer::standard();
        let answer = ask(&server, "host.example.gov.vn", RecordType::A);
        assert!(answer.metadata.authoritative);
        assert_eq!(answer.answers.len(), 1);
        assert!(matches!(answer.answers[0].data, RData::A(a) if a.0 == Ipv4Addr::LOCALHOST));

        // Signed zones come with their signatures.
        let answer = ask(&server, "www.signed.gov.vn", RecordType::A);
        assert!(
            answer
                .answers
                .iter()
                .any(|r| r.record_type() == RecordType::RRSIG)
        );

        // DS records are answered by the parent (the root), not by the child zone.
        let answer = ask(&server, "signed.gov.vn", RecordType::DS);
        assert!(
            answer
                .answers
                .iter()
                .any(|r| r.record_type() == RecordType::DS)
        );
        let answer = ask(&server, "example.gov.vn", RecordType::DS);
        assert!(answer.answers.is_empty());
        assert!(
            answer
                .authorities
                .iter()
                .any(|r| r.record_type() == RecordType::NSEC),
            "the root proves there is no DS"
        );

        // Names under no test zone: the root answers that they do not exist.
        let answer = ask(&server, "example.com", RecordType::A);
        assert_eq!(answer.metadata.response_code, ResponseCode::NXDomain);

        let anchor = std::fs::read_to_string(server.trust_anchor_file()).unwrap();
        assert!(anchor.starts_with(". 300 IN DNSKEY 257 3 13 "), "{anchor}");
    }

    #[test]
    fn the_big_answer_is_truncated_over_udp() {
        let server = DnsServer::standard();
        let answer = ask(&server, "big.example.gov.vn", RecordType::A);
        assert!(answer.metadata.truncation);
    }

    #[test]
    fn a_broken_zone_is_an_error_not_a_hang() {
        let err = DnsServer::try_start(vec![TestZone::parse("x.gov.vn", "this is not a zone")])
            .unwrap_err();
        assert!(format!("{err:#}").contains("x.gov.vn"), "{err:#}");
    }
}
