//! Raw DNS queries, for the two questions a stub resolver cannot ask: "does this name server
//! answer for its zone with authority?" (no recursion, straight to the server, looking at the
//! AA bit) and "what exactly is signed how?" (DNSSEC records with checking disabled, so that a
//! validating upstream resolver hands over the bogus data instead of a bare SERVFAIL).
//!
//! One query per call: UDP with EDNS (4096-byte buffer), then TCP if the answer is truncated.
//! The UDP socket is connected, so an ICMP "port unreachable" ends the wait at once. Every
//! step has the caller's deadline, and a TCP answer is bounded by its 16-bit length prefix.

use std::net::SocketAddr;
use std::time::Duration;

use canhgac_policies::report::ProbeError;
use hickory_resolver::proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_resolver::proto::rr::{Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::net;

/// What to ask for besides the question.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flags {
    /// Recursion desired (to a resolver); off when asking an authoritative server.
    pub recursion: bool,
    /// The DO bit: include RRSIG, NSEC and friends.
    pub dnssec_ok: bool,
    /// The CD bit: a validating resolver must not withhold bogus data.
    pub checking_disabled: bool,
}

const UDP_PAYLOAD: u16 = 4096;

fn request(name: &Name, rtype: RecordType, flags: Flags) -> (u16, Vec<u8>) {
    let id: u16 = rand::random();
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = flags.recursion;
    m.metadata.checking_disabled = flags.checking_disabled;
    m.add_query(Query::query(name.clone(), rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(UDP_PAYLOAD);
    if flags.dnssec_ok {
        edns.enable_dnssec();
    }
    m.set_edns(edns);
    // Encoding a query of a valid name cannot fail; an empty buffer would only get no answer.
    (id, m.to_vec().unwrap_or_default())
}

fn matches(answer: &Message, id: u16, name: &Name, rtype: RecordType) -> bool {
    answer.metadata.id == id
        && answer.metadata.message_type == MessageType::Response
        && answer
            .queries
            .first()
            .is_some_and(|q| q.query_type() == rtype && q.name().eq_ignore_root(name))
}

/// Sends one query to `server` and returns its answer.
pub async fn query(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    flags: Flags,
    timeout: Duration,
) -> Result<Message, ProbeError> {
    let doing = format!("{rtype} {name} at {server}");
    match tokio::time::timeout(timeout, query_udp(server, name, rtype, flags)).await {
        Err(_) => Err(net::timeout_error(&doing, timeout)),
        Ok(Err(e)) => Err(e),
        Ok(Ok(m)) if !m.metadata.truncation => Ok(m),
        Ok(Ok(_)) => {
            match tokio::time::timeout(timeout, query_tcp(server, name, rtype, flags, timeout))
                .await
            {
                Err(_) => Err(net::timeout_error(&format!("{doing} over TCP"), timeout)),
                Ok(r) => r,
            }
        }
    }
}

async fn query_udp(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    flags: Flags,
) -> Result<Message, ProbeError> {
    let doing = format!("{rtype} {name} at {server}");
    let local: SocketAddr = if server.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|e| net::io_error(&e, &doing))?;
    socket
        .connect(server)
        .await
        .map_err(|e| net::io_error(&e, &doing))?;
    let (id, bytes) = request(name, rtype, flags);
    socket
        .send(&bytes)
        .await
        .map_err(|e| net::io_error(&e, &doing))?;
    let mut buf = vec![0u8; usize::from(UDP_PAYLOAD) * 2];
    // Ignore stray datagrams (wrong id or question); the deadline bounds the loop.
    loop {
        let n = socket
            .recv(&mut buf)
            .await
            .map_err(|e| net::io_error(&e, &doing))?;
        if let Ok(m) = Message::from_vec(&buf[..n])
            && matches(&m, id, name, rtype)
        {
            return Ok(m);
        }
    }
}

async fn query_tcp(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    flags: Flags,
    timeout: Duration,
) -> Result<Message, ProbeError> {
    let doing = format!("{rtype} {name} at {server} over TCP");
    let mut stream = net::connect(server, timeout).await?;
    let (id, bytes) = request(name, rtype, flags);
    let len = u16::try_from(bytes.len())
        .map_err(|_| ProbeError::new("too_large", format!("{doing}: query too long")))?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    stream
        .write_all(&framed)
        .await
        .map_err(|e| net::io_error(&e, &doing))?;
    read_tcp_answer(&mut stream, &doing, id, name, rtype).await
}

async fn read_tcp_answer(
    stream: &mut TcpStream,
    doing: &str,
    id: u16,
    name: &Name,
    rtype: RecordType,
) -> Result<Message, ProbeError> {
    let mut len = [0u8; 2];
    stream
        .read_exact(&mut len)
        .await
        .map_err(|e| net::io_error(&e, doing))?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream
        .read_exact(&mut buf)
        .await
        .map_err(|e| net::io_error(&e, doing))?;
    let m = Message::from_vec(&buf).map_err(|e| {
        ProbeError::new(
            "protocol_violation",
            format!("{doing}: undecodable answer: {e}"),
        )
    })?;
    if matches(&m, id, name, rtype) {
        Ok(m)
    } else {
        Err(ProbeError::new(
            "protocol_violation",
            format!("{doing}: the answer is for another query"),
        ))
    }
}
