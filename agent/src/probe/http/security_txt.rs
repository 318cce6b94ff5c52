//! `/.well-known/security.txt` (RFC 9116): where to report a vulnerability, until when.

use canhgac_policies::report::SecurityTxt;
use jiff::Timestamp;
use url::Url;

use super::fetch::{self, Limits};

/// Parses a security.txt body; `None` when it is not one (e.g. an HTML page served for any
/// path).
pub fn parse(body: &str, now: Timestamp) -> Option<SecurityTxt> {
    if body.trim_start().starts_with('<') {
        return None;
    }
    let mut txt = SecurityTxt {
        signed: body.contains("-----BEGIN PGP SIGNED MESSAGE-----"),
        ..SecurityTxt::default()
    };
    for line in body.lines() {
        let Some((field, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match field.trim().to_ascii_lowercase().as_str() {
            "contact" if txt.contacts.len() < 20 => {
                txt.contacts.push(value.chars().take(200).collect())
            }
            "expires" => txt.expires = value.parse::<Timestamp>().ok(),
            _ => {}
        }
    }
    txt.expired = txt.expires.map(|e| e < now);
    txt.present = !txt.contacts.is_empty();
    txt.present.then_some(txt)
}

/// Fetches and parses `origin/.well-known/security.txt`.
pub async fn fetch(
    client: &reqwest::Client,
    origin: &Url,
    limits: Limits,
    now: Timestamp,
) -> SecurityTxt {
    let Ok(url) = origin.join("/.well-known/security.txt") else {
        return SecurityTxt::default();
    };
    let limits = Limits {
        max_redirects: 3,
        max_body: 64 * 1024,
        ..limits
    };
    let chain = fetch::follow(client, url.clone(), limits).await;
    let parsed = chain
        .last()
        .filter(|r| r.status == 200)
        .and_then(|r| parse(&r.text(), now));
    match parsed {
        Some(mut txt) => {
            txt.url = Some(url.to_string());
            txt
        }
        None => SecurityTxt {
            url: Some(url.to_string()),
            ..SecurityTxt::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_contacts_expiry_and_signature() {
        let now: Timestamp = "2026-11-23T00:00:00Z".parse().unwrap();
        let t = parse(
            "-----BEGIN PGP SIGNED MESSAGE-----\nContact: mailto:soc@example.gov.vn\nExpires: 2026-01-01T00:00:00Z\n",
            now,
        )
        .unwrap();
        assert_eq!(t.contacts, ["mailto:soc@example.gov.vn"]);
        assert_eq!(t.expired, Some(true));
        assert!(t.signed);
        assert!(parse("<html>not found</html>", now).is_none());
        assert!(
            parse("Expires: 2030-01-01T00:00:00Z\n", now).is_none(),
            "no contact, no file"
        );
    }
}
