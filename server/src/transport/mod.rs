//! How requests reach the server: built-in HTTPS with certificate reload ([`tls`], [`reload`]),
//! the client behind reverse proxies ([`client::ClientInfo`]), and the request layer that gives
//! every request an id and an access-log line ([`observe`]).
//!
//! See docs/deployment.md for the operator's side.

pub mod client;
pub mod reload;
pub mod tls;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub use client::{ClientInfo, Peer, TrustedProxies};

/// The header carrying the request id, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of a request (a request extension): a trusted proxy's `X-Request-Id` when it is sane,
/// else a fresh UUID v7. It is echoed in the response's `X-Request-Id` and logged with every
/// line the request causes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Whether an incoming request id may be reused: 1 to 128 characters among ASCII letters,
/// digits and `-_.:@`.
pub fn sane_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:@".contains(&b))
}

/// The request layer: works out [`ClientInfo`] and [`RequestId`], runs the request inside a
/// `request` span (method, path, request id, client) and logs one `request` line (info, target
/// `canhgac::access`) with the status and latency.
///
/// Register with `axum::middleware::from_fn_with_state(trusted, observe)`, outermost, and
/// serve with `into_make_service_with_connect_info::<Peer>()`.
pub async fn observe(
    State(trusted): State<Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let client = match request.extensions().get::<ConnectInfo<Peer>>() {
        Some(ConnectInfo(peer)) => trusted.client(peer.addr.ip(), peer.tls, request.headers()),
        None => ClientInfo {
            addr: std::net::Ipv4Addr::UNSPECIFIED.into(),
            https: false,
        },
    };
    let incoming = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| sane_request_id(id));
    let from_proxy = request
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .is_some_and(|ConnectInfo(p)| trusted.trusts(p.addr.ip()));
    let id = match incoming {
        Some(id) if from_proxy => id.to_string(),
        _ => uuid::Uuid::now_v7().to_string(),
    };
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    request.extensions_mut().insert(client);
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        client = %client.addr,
        method = %method,
        path = %path,
    );
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        tracing::info!(
            target: "canhgac::access",
            method = %method,
            path = %path,
            status,
            latency_ms,
            client = %client.addr,
            https = client.https,
            request_id = %id,
            "request"
        )
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_short_and_plain() {
        assert!(sane_request_id("a1b2-c3d4_e5.f6:g7@h8"));
        assert!(sane_request_id(&"x".repeat(128)));
        assert!(!sane_request_id(&"x".repeat(129)));
        assert!(!sane_request_id(""));
        assert!(!sane_request_id("id with spaces"));
        assert!(!sane_request_id("id\"; drop"));
        assert!(!sane_request_id("đ"));
    }
}
