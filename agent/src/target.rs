//! Scan targets as people type them, and the address overrides for closed networks and tests.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

/// A target that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Nothing usable was given.
    #[error("empty target")]
    Empty,
    /// The scheme is not http or https.
    #[error("unsupported scheme in {0:?}: use https://host[:port]/, host or host:port")]
    Scheme(String),
    /// The port is not a number from 1 to 65535.
    #[error("invalid port in {0:?}")]
    Port(String),
    /// The host is not a valid name or address.
    #[error("invalid host in {0:?}")]
    Host(String),
    /// A `--resolve` entry is not `host:port:address`.
    #[error("invalid --resolve entry {0:?}: expected host:port:address")]
    Resolve(String),
}

/// A parsed target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// As typed.
    pub input: String,
    /// Lower-case host name or IP literal, without brackets.
    pub host: String,
    /// The TLS port.
    pub port: u16,
}

impl Target {
    /// Parses `https://host[:port]/path`, `http://host/` (TLS still probed on 443),
    /// `host`, `host:port`, `[v6]:port`.
    pub fn parse(input: &str) -> Result<Target, TargetError> {
        let raw = input.trim();
        if raw.is_empty() {
            return Err(TargetError::Empty);
        }
        let (rest, default_port) = match raw.split_once("://") {
            Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
                "https" | "http" => (rest, 443),
                _ => return Err(TargetError::Scheme(raw.into())),
            },
            None => (raw, 443),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let authority = authority.rsplit('@').next().unwrap_or_default();
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| TargetError::Host(raw.into()))?;
            let port = match after.strip_prefix(':') {
                Some(p) => parse_port(p, raw)?,
                None if after.is_empty() => default_port,
                None => return Err(TargetError::Host(raw.into())),
            };
            (h.to_string(), port)
        } else if authority.matches(':').count() > 1 {
            (authority.to_string(), default_port) // bare IPv6
        } else if let Some((h, p)) = authority.split_once(':') {
            (h.to_string(), parse_port(p, raw)?)
        } else {
            (authority.to_string(), default_port)
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let valid = host.parse::<IpAddr>().is_ok()
            || (!host.is_empty()
                && host.len() <= 253
                && host.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                }));
        if !valid {
            return Err(TargetError::Host(raw.into()));
        }
        Ok(Target {
            input: raw.to_string(),
            host,
            port,
        })
    }
}

fn parse_port(p: &str, raw: &str) -> Result<u16, TargetError> {
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(TargetError::Port(raw.into())),
        Ok(port) => Ok(port),
    }
}

/// `--resolve host:port:address` overrides, like curl's.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    map: HashMap<(String, u16), IpAddr>,
}

impl Overrides {
    /// Adds one `host:port:address` entry (the address may be bracketed IPv6).
    pub fn add(&mut self, entry: &str) -> Result<(), TargetError> {
        let bad = || TargetError::Resolve(entry.into());
        let (host, rest) = entry.split_once(':').ok_or_else(bad)?;
        let (port, addr) = rest.split_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        self.map.insert((host.to_ascii_lowercase(), port), addr);
        Ok(())
    }

    /// The address to use for a target, if overridden or an IP literal.
    pub fn fixed(&self, target: &Target) -> Option<SocketAddr> {
        if let Ok(ip) = target.host.parse::<IpAddr>() {
            return Some(SocketAddr::new(ip, target.port));
        }
        self.map
            .get(&(target.host.clone(), target.port))
            .map(|ip| SocketAddr::new(*ip, target.port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_people_type() {
        let t = Target::parse("https://SCT.Example.gov.vn:8443/tin-tuc?x=1").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("sct.example.gov.vn", 8443));
        let t = Target::parse("sct.example.gov.vn").unwrap();
        assert_eq!(t.port, 443);
        let t = Target::parse("127.0.0.1:4443").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 4443));
        let t = Target::parse("[::1]:4443").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 4443));
        let t = Target::parse("http://a.example/").unwrap();
        assert_eq!(t.port, 443);
        assert!(matches!(
            Target::parse("ftp://a"),
            Err(TargetError::Scheme(_))
        ));
        assert!(matches!(Target::parse("a:0"), Err(TargetError::Port(_))));
        assert!(matches!(
            Target::parse("a:99999"),
            Err(TargetError::Port(_))
        ));
        assert!(matches!(
            Target::parse("bad host"),
            Err(TargetError::Host(_))
        ));
        assert!(matches!(Target::parse("  "), Err(TargetError::Empty)));
    }

    #[test]
    fn overrides_pin_names_to_addresses() {
        let mut o = Overrides::default();
        o.add("sct.example.gov.vn:443:127.0.0.1").unwrap();
        o.add("v6.example:443:[::1]").unwrap();
        let t = Target::parse("sct.example.gov.vn").unwrap();
        assert_eq!(o.fixed(&t), Some("127.0.0.1:443".parse().unwrap()));
        let t = Target::parse("v6.example").unwrap();
        assert_eq!(o.fixed(&t), Some("[::1]:443".parse().unwrap()));
        assert!(o.fixed(&Target::parse("other.example").unwrap()).is_none());
        assert!(o.add("nope").is_err());
    }
}
