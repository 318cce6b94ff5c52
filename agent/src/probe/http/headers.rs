//! Parsing of the response headers that matter to security: HSTS, CSP, cookies, and the
//! software a server names. Pure functions over strings, property-tested.

use canhgac_policies::report::{Cookie, Csp, Disclosure, Hsts};
use regex::Regex;
use std::sync::OnceLock;

/// Parses a Strict-Transport-Security value (RFC 6797, 6.1). A header without a valid
/// max-age is not a policy: `present` is false and `raw` keeps what was sent.
pub fn parse_hsts(value: Option<&str>) -> Hsts {
    let Some(raw) = value else {
        return Hsts::default();
    };
    let mut hsts = Hsts {
        raw: Some(raw.to_string()),
        ..Hsts::default()
    };
    for directive in raw.split(';') {
        let directive = directive.trim();
        let (name, value) = match directive.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (directive, None),
        };
        match name.to_ascii_lowercase().as_str() {
            "max-age" => hsts.max_age = value.and_then(|v| v.parse::<u64>().ok()),
            "includesubdomains" => hsts.include_subdomains = true,
            "preload" => hsts.preload = true,
            _ => {}
        }
    }
    hsts.present = hsts.max_age.is_some();
    hsts
}

fn directives(policy: &str) -> Vec<(String, Vec<String>)> {
    policy
        .split(';')
        .filter_map(|d| {
            let mut parts = d.split_whitespace();
            let name = parts.next()?.to_ascii_lowercase();
            Some((name, parts.map(str::to_string).collect()))
        })
        .collect()
}

/// Parses the enforced Content-Security-Policy (from the header, else from a
/// `<meta http-equiv>` tag) and notes a Report-Only header when nothing is enforced.
pub fn parse_csp(header: Option<&str>, meta: Option<&str>, report_only: Option<&str>) -> Csp {
    let (policy, source) = match (header, meta) {
        (Some(h), _) => (h, "header"),
        (None, Some(m)) => (m, "meta"),
        (None, None) => {
            return Csp {
                report_only: report_only.is_some(),
                raw: report_only.map(str::to_string),
                ..Csp::default()
            };
        }
    };
    let dirs = directives(policy);
    let get = |name: &str| dirs.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let script = get("script-src").or_else(|| get("default-src"));
    let has = |list: Option<&Vec<String>>, token: &str| {
        list.is_some_and(|l| l.iter().any(|t| t.eq_ignore_ascii_case(token)))
    };
    let mut wildcard_sources = Vec::new();
    for (name, values) in &dirs {
        let scripty = matches!(name.as_str(), "script-src" | "default-src" | "object-src");
        let wild = values.iter().any(|v| {
            v == "*"
                || v.eq_ignore_ascii_case("http:")
                || v.eq_ignore_ascii_case("https:")
                || (scripty && v.eq_ignore_ascii_case("data:"))
        });
        if wild {
            wildcard_sources.push(name.clone());
        }
    }
    Csp {
        present: true,
        source: Some(source.into()),
        report_only: false,
        unsafe_inline: has(script, "'unsafe-inline'"),
        unsafe_eval: has(script, "'unsafe-eval'"),
        wildcard_sources,
        frame_ancestors: get("frame-ancestors").map(|v| v.join(" ")),
        raw: Some(policy.to_string()),
    }
}

/// Parses one Set-Cookie value's name and flags.
pub fn parse_cookie(value: &str, set_by: &str) -> Option<Cookie> {
    let mut parts = value.split(';');
    let (name, _) = parts.next()?.split_once('=')?;
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let mut cookie = Cookie {
        name: name.chars().take(128).collect(),
        set_by: set_by.to_string(),
        ..Cookie::default()
    };
    for attr in parts {
        let attr = attr.trim();
        let (key, val) = match attr.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (attr, None),
        };
        match key.to_ascii_lowercase().as_str() {
            "secure" => cookie.secure = true,
            "httponly" => cookie.http_only = true,
            "samesite" => cookie.same_site = val.map(|v| v.chars().take(16).collect()),
            _ => {}
        }
    }
    Some(cookie)
}

fn version_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)^\s*([a-z][a-z0-9 ._-]*?)(?:[/ ]v?|\s+)(\d+(?:\.\d+)+[a-z0-9.-]*)")
            .expect("valid regex")
    })
}

const PRODUCTS: [(&str, &str); 14] = [
    ("wordpress", "WordPress"),
    ("joomla", "Joomla"),
    ("drupal", "Drupal"),
    ("nginx", "nginx"),
    ("apache", "Apache"),
    ("microsoft-iis", "IIS"),
    ("php", "PHP"),
    ("asp.net", "ASP.NET"),
    ("openresty", "OpenResty"),
    ("litespeed", "LiteSpeed"),
    ("tomcat", "Tomcat"),
    ("dotnetnuke", "DotNetNuke"),
    ("liferay", "Liferay"),
    ("express", "Express"),
];

/// Recognises a product and version in a header or generator value, e.g.
/// `nginx/1.18.0 (Ubuntu)` -> nginx 1.18.0, `WordPress 5.8.1` -> WordPress 5.8.1.
pub fn disclosure(source: &str, value: &str) -> Disclosure {
    let lower = value.to_ascii_lowercase();
    let product = PRODUCTS
        .iter()
        .find(|(needle, _)| lower.contains(needle))
        .map(|(_, name)| (*name).to_string());
    let version = version_regex()
        .captures(value)
        .and_then(|c| c.get(2))
        .map(|m| m.as_str().to_string())
        .or_else(|| {
            // X-AspNet-Version: 4.0.30319 is a bare version.
            let v = value.trim();
            (v.chars().next().is_some_and(|c| c.is_ascii_digit())
                && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
            .then(|| v.to_string())
        });
    Disclosure {
        source: source.to_string(),
        value: value.chars().take(200).collect(),
        product: product.or_else(|| {
            version_regex()
                .captures(value)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str().trim().to_string())
        }),
        version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hsts_directives() {
        let h = parse_hsts(Some("max-age=31536000; includeSubDomains; preload"));
        assert!(h.present && h.include_subdomains && h.preload);
        assert_eq!(h.max_age, Some(31_536_000));
        let h = parse_hsts(Some("max-age=\"600\""));
        assert_eq!(h.max_age, Some(600));
        let bad = parse_hsts(Some("includeSubDomains"));
        assert!(!bad.present, "no max-age, no policy");
        assert!(!parse_hsts(None).present);
    }

    #[test]
    fn csp_from_header_meta_and_report_only() {
        let c = parse_csp(
            Some(
                "default-src 'self'; script-src 'self' 'unsafe-inline' https:; frame-ancestors 'none'",
            ),
            None,
            None,
        );
        assert!(c.present && c.unsafe_inline && !c.unsafe_eval);
        assert_eq!(c.source.as_deref(), Some("header"));
        assert_eq!(c.wildcard_sources, ["script-src"]);
        assert_eq!(c.frame_ancestors.as_deref(), Some("'none'"));
        let m = parse_csp(None, Some("default-src 'self' 'unsafe-eval'"), None);
        assert_eq!(m.source.as_deref(), Some("meta"));
        assert!(m.unsafe_eval);
        let r = parse_csp(None, None, Some("default-src 'self'"));
        assert!(!r.present && r.report_only);
    }

    #[test]
    fn cookies_and_disclosures() {
        let c = parse_cookie(
            "PHPSESSID=abc; path=/; HttpOnly; SameSite=Lax",
            "https://a/",
        )
        .unwrap();
        assert_eq!(c.name, "PHPSESSID");
        assert!(c.http_only && !c.secure);
        assert_eq!(c.same_site.as_deref(), Some("Lax"));
        let d = disclosure("Server", "nginx/1.18.0 (Ubuntu)");
        assert_eq!(
            (d.product.as_deref(), d.version.as_deref()),
            (Some("nginx"), Some("1.18.0"))
        );
        let d = disclosure("meta generator", "WordPress 5.8.1");
        assert_eq!(
            (d.product.as_deref(), d.version.as_deref()),
            (Some("WordPress"), Some("5.8.1"))
        );
        let d = disclosure("X-AspNet-Version", "4.0.30319");
        assert_eq!(d.version.as_deref(), Some("4.0.30319"));
        let d = disclosure("Server", "nginx");
        assert_eq!((d.product.as_deref(), d.version), (Some("nginx"), None));
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in ".{0,200}") {
            let _ = parse_hsts(Some(&s));
            let _ = parse_csp(Some(&s), Some(&s), Some(&s));
            let _ = parse_cookie(&s, "u");
            let _ = disclosure("Server", &s);
        }
    }
}
