//! Who is on the other end of a request: [`ClientInfo`], worked out from the TCP peer and, when
//! the peer is a trusted reverse proxy, from its forwarded headers.
//!
//! The rule: the client address is the TCP peer, unless the peer is in `trusted_proxies`; then
//! the addresses the proxies recorded (`X-Forwarded-For`, or `Forwarded: for=` when there is no
//! `X-Forwarded-For`) are read from right to left, skipping trusted proxies, and the first
//! untrusted one is the client. Forwarded headers from any other peer are ignored, so a client
//! cannot choose its own address. Whether the client used HTTPS is the server's own TLS, or,
//! from a trusted proxy, the right-most `X-Forwarded-Proto` (or `Forwarded: proto=`) value.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::FromRequestParts;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::serve::IncomingStream;
use ipnet::IpNet;
use tokio::net::TcpListener;

use super::tls::TlsListener;

/// The client of a request, as a request extension set by the server's request layer.
///
/// Handlers take it as an extractor (`client: ClientInfo`) or read
/// `request.extensions().get::<ClientInfo>()`. Use `https` to decide on `Secure` cookies and
/// `addr` for audit logs and rate limits. Outside the real server (a router driven in-process
/// without the layer) the extractor falls back to the connection if known, else to
/// `0.0.0.0` over plain HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's address (the TCP peer, or what a trusted proxy forwarded).
    pub addr: IpAddr,
    /// Whether the client reached us over HTTPS (our own TLS, or a trusted proxy's word).
    pub https: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        if let Some(c) = parts.extensions.get::<ClientInfo>() {
            return Ok(*c);
        }
        Ok(match parts.extensions.get::<ConnectInfo<Peer>>() {
            Some(ConnectInfo(peer)) => ClientInfo {
                addr: peer.addr.ip().to_canonical(),
                https: peer.tls,
            },
            None => ClientInfo {
                addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                https: false,
            },
        })
    }
}

/// The connection a request came on: axum's connect info for both listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// The TCP peer.
    pub addr: SocketAddr,
    /// Whether the connection is TLS (our own HTTPS).
    pub tls: bool,
}

impl Connected<IncomingStream<'_, TcpListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        Peer {
            addr: *stream.remote_addr(),
            tls: false,
        }
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        Peer {
            addr: *stream.remote_addr(),
            tls: true,
        }
    }
}

/// Parses one `trusted_proxies` entry: an address (`10.0.0.5`, `::1`) or a CIDR block
/// (`192.168.10.0/24`).
pub fn parse_proxy(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    text.parse::<IpNet>().map(|n| n.trunc()).map_err(|_| {
        format!("trusted proxy {text:?} is neither an IP address nor a CIDR block (10.0.0.0/8)")
    })
}

/// The reverse proxies whose forwarded headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    /// From the `trusted_proxies` setting.
    pub fn new(nets: Vec<IpNet>) -> Self {
        TrustedProxies { nets }
    }

    /// Whether `ip` is a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The client of a request that arrived from `peer` (over our own TLS or not).
    pub fn client(&self, peer: IpAddr, tls: bool, headers: &HeaderMap) -> ClientInfo {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return ClientInfo {
                addr: peer,
                https: tls,
            };
        }
        let chain = forwarded_for(headers);
        let mut addr = peer;
        for hop in chain.iter().rev() {
            match hop {
                // An obfuscated or unknown hop: the client is beyond the last address we know.
                None => break,
                Some(ip) => {
                    addr = *ip;
                    if !self.trusts(*ip) {
                        break;
                    }
                }
            }
        }
        let https = match forwarded_proto(headers) {
            Some(proto) => proto.eq_ignore_ascii_case("https"),
            None => tls,
        };
        ClientInfo { addr, https }
    }
}

/// Every value of header `name`, split on commas, in order.
fn list<'h>(headers: &'h HeaderMap, name: &str) -> Vec<&'h str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

/// The `Forwarded` header's elements, each as its `key=value` pairs (keys lowercased, quotes
/// removed).
fn forwarded_elements(headers: &HeaderMap) -> Vec<Vec<(String, String)>> {
    list(headers, "forwarded")
        .into_iter()
        .map(|element| {
            element
                .split(';')
                .filter_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    let v = v.trim().trim_matches('"');
                    Some((k.trim().to_ascii_lowercase(), v.to_string()))
                })
                .collect()
        })
        .collect()
}

/// The forwarded-for chain, left (the original client) to right (the last proxy's peer);
/// `None` for hops that are not addresses (`unknown`, obfuscated names, garbage).
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let xff = list(headers, "x-forwarded-for");
    if !xff.is_empty() {
        return xff.into_iter().map(parse_hop).collect();
    }
    forwarded_elements(headers)
        .into_iter()
        .filter_map(|pairs| {
            pairs
                .into_iter()
                .find(|(k, _)| k == "for")
                .map(|(_, v)| parse_hop(&v))
        })
        .collect()
}

/// The scheme the nearest trusted proxy reports.
fn forwarded_proto(headers: &HeaderMap) -> Option<String> {
    if let Some(last) = list(headers, "x-forwarded-proto").last() {
        return Some((*last).to_string());
    }
    forwarded_elements(headers)
        .into_iter()
        .rev()
        .find_map(|pairs| {
            pairs
                .into_iter()
                .find(|(k, _)| k == "proto")
                .map(|(_, v)| v)
        })
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:443`.
fn parse_hop(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, _) = rest.split_once(']')?;
        return inside.parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
    }
    text.parse::<SocketAddr>()
        .ok()
        .map(|s| s.ip().to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|p| parse_proxy(p).unwrap()).collect())
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peers_cannot_choose_their_address_or_scheme() {
        let p = proxies(&["10.0.0.0/8"]);
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
        ]);
        let c = p.client(ip("192.0.2.1"), false, &h);
        assert_eq!(c.addr, ip("192.0.2.1"));
        assert!(!c.https);
    }

    #[test]
    fn the_rightmost_untrusted_forwarded_address_is_the_client() {
        let p = proxies(&["10.0.0.0/8", "192.168.1.1"]);
        // The client forged 1.1.1.1; the edge proxy (10.0.0.2) saw 203.0.113.9.
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1, 203.0.113.9"),
            ("x-forwarded-for", "10.0.0.2"),
            ("x-forwarded-proto", "https"),
        ]);
        let c = p.client(ip("192.168.1.1"), false, &h);
        assert_eq!(c.addr, ip("203.0.113.9"));
        assert!(c.https);
        // Every hop trusted: the left-most one.
        let h = headers(&[("x-forwarded-for", "10.1.1.1, 10.0.0.2")]);
        assert_eq!(p.client(ip("10.0.0.3"), true, &h).addr, ip("10.1.1.1"));
        assert!(p.client(ip("10.0.0.3"), true, &h).https);
        // No header: the proxy itself.
        assert_eq!(
            p.client(ip("10.0.0.3"), false, &HeaderMap::new()).addr,
            ip("10.0.0.3")
        );
        // An unknown hop stops the walk at the last known address.
        let h = headers(&[("x-forwarded-for", "203.0.113.9, unknown, 10.0.0.2")]);
        assert_eq!(p.client(ip("10.0.0.3"), false, &h).addr, ip("10.0.0.2"));
    }

    #[test]
    fn forwarded_header_with_ports_and_ipv6() {
        let p = proxies(&["127.0.0.1", "::1"]);
        let h = headers(&[(
            "forwarded",
            "for=192.0.2.60;proto=http, for=\"[2001:db8:cafe::17]:4711\";proto=https",
        )]);
        let c = p.client(ip("::ffff:127.0.0.1"), false, &h);
        assert_eq!(c.addr, ip("2001:db8:cafe::17"));
        assert!(c.https);
        let h = headers(&[("x-forwarded-for", "198.51.100.7:1234")]);
        assert_eq!(p.client(ip("::1"), false, &h).addr, ip("198.51.100.7"));
        let h = headers(&[("x-forwarded-proto", "http")]);
        assert!(!p.client(ip("127.0.0.1"), true, &h).https);
    }

    #[test]
    fn proxy_entries_parse_or_say_why() {
        assert_eq!(parse_proxy("10.0.0.5").unwrap().prefix_len(), 32);
        assert_eq!(parse_proxy("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_proxy("::1").unwrap().prefix_len(), 128);
        let err = parse_proxy("proxy.example").unwrap_err();
        assert!(err.contains("proxy.example"), "{err}");
        assert!(parse_proxy("10.0.0.0/33").is_err());
    }
}
