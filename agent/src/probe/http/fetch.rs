//! Bounded HTTP requests and redirect chains.
//!
//! Redirects are followed by hand so that every hop is recorded (status, Location, cookies,
//! headers), loops and downgrades are seen, and each hop obeys the same limits: a deadline per
//! request, a cap on hops, and a cap on the body bytes read (the rest is never downloaded).

use std::collections::HashSet;
use std::time::Duration;

use canhgac_policies::report::{HttpEndpoint, HttpHop, ProbeError};
use reqwest::header::HeaderMap;
use url::Url;

/// Limits for one fetch.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deadline for each request (connect, headers and body).
    pub timeout: Duration,
    /// Most redirects followed.
    pub max_redirects: usize,
    /// Most body bytes read from the final response.
    pub max_body: usize,
}

/// One response, with at most `max_body` bytes of its body.
#[derive(Debug, Clone)]
pub struct Response {
    /// The URL requested.
    pub url: Url,
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// The body read (bounded).
    pub body: Vec<u8>,
    /// Whether the body was longer than the limit.
    pub truncated: bool,
}

impl Response {
    /// A header as text, if present and valid UTF-8 (first value).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn error(e: &reqwest::Error, url: &Url, timeout: Duration) -> ProbeError {
    let mut chain = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    let code = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        if chain.contains("refused") {
            "connection_refused"
        } else {
            "connect_failed"
        }
    } else if chain.contains("too many headers") || chain.contains("message head is too large") {
        "too_large"
    } else {
        "http_error"
    };
    let message = if e.is_timeout() {
        format!("{url}: no complete answer within {timeout:?}")
    } else {
        format!("{url}: {chain}")
    };
    ProbeError::new(code, message)
}

/// GETs one URL without following redirects, reading at most `max_body` bytes of the body
/// (none when `read_body` is false or the response is a redirect).
pub async fn get(
    client: &reqwest::Client,
    url: &Url,
    limits: Limits,
    read_body: bool,
) -> Result<Response, ProbeError> {
    let work = async {
        let mut resp = client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| error(&e, url, limits.timeout))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let mut body = Vec::new();
        let mut truncated = false;
        if read_body && !is_redirect(status) {
            while let Some(chunk) = resp
                .chunk()
                .await
                .map_err(|e| error(&e, url, limits.timeout))?
            {
                let room = limits.max_body.saturating_sub(body.len());
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    break;
                }
                body.extend_from_slice(&chunk);
            }
        }
        Ok(Response {
            url: url.clone(),
            status,
            headers,
            body,
            truncated,
        })
    };
    match tokio::time::timeout(limits.timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(ProbeError::new(
            "timeout",
            format!("{url}: no complete answer within {:?}", limits.timeout),
        )),
    }
}

/// A followed chain: the endpoint record, every response (bodies only for the last), and the
/// final response if the chain ended on a non-redirect.
pub struct Chain {
    /// The endpoint as reported.
    pub endpoint: HttpEndpoint,
    /// Every response in order.
    pub responses: Vec<Response>,
}

impl Chain {
    /// The final non-redirect response.
    pub fn last(&self) -> Option<&Response> {
        self.responses
            .last()
            .filter(|r| self.endpoint.error.is_none() && !is_redirect(r.status))
    }
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Follows redirects from `start`, recording every hop.
pub async fn follow(client: &reqwest::Client, start: Url, limits: Limits) -> Chain {
    let mut endpoint = HttpEndpoint {
        url: start.to_string(),
        ..HttpEndpoint::default()
    };
    let mut responses = Vec::new();
    let mut seen = HashSet::new();
    let mut url = start;
    loop {
        if !seen.insert(url.to_string()) {
            endpoint.error = Some(ProbeError::new(
                "redirect_loop",
                format!("the redirects come back to {url}"),
            ));
            break;
        }
        let resp = match get(client, &url, limits, true).await {
            Ok(r) => r,
            Err(e) => {
                endpoint.error = Some(e);
                break;
            }
        };
        endpoint.reachable = true;
        let location = resp.header("location").map(str::to_string);
        endpoint.hops.push(HttpHop {
            url: url.to_string(),
            status: resp.status,
            location: location.clone(),
        });
        endpoint.final_url = Some(url.to_string());
        endpoint.final_status = Some(resp.status);
        let status = resp.status;
        responses.push(resp);
        if !is_redirect(status) {
            break;
        }
        let Some(next) = location.and_then(|l| url.join(&l).ok()) else {
            endpoint.error = Some(ProbeError::new(
                "bad_redirect",
                format!("{url} redirects ({status}) without a usable Location"),
            ));
            break;
        };
        if endpoint.hops.len() > limits.max_redirects {
            endpoint.error = Some(ProbeError::new(
                "too_many_redirects",
                format!(
                    "more than {} redirects from {}",
                    limits.max_redirects, endpoint.url
                ),
            ));
            break;
        }
        url = next;
    }
    Chain {
        endpoint,
        responses,
    }
}
