//! Server settings: defaults, then a TOML file, then `CANHGAC_*` environment variables, then the
//! command line; secrets can be read from a `_FILE`. `serve` on an empty directory just works.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// What the server uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The data directory (the embedded store lives in `DIR/canhgac.redb`).
    pub data: PathBuf,
    /// The listening address.
    pub listen: SocketAddr,
    /// Storage engine: `redb` (default), `sled` (feature), `memory`.
    pub engine: String,
    /// Largest request body accepted, in bytes.
    pub max_body: usize,
    /// Allow plain HTTP on a non-loopback address (behind a TLS-terminating proxy).
    pub allow_plain_http: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data: PathBuf::from("canhgac-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8440)),
            engine: "redb".into(),
            max_body: 8 * 1024 * 1024,
            allow_plain_http: false,
        }
    }
}

/// The file form of the settings (every key optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    /// See [`Settings::data`].
    pub data: Option<PathBuf>,
    /// See [`Settings::listen`].
    pub listen: Option<SocketAddr>,
    /// See [`Settings::engine`].
    pub engine: Option<String>,
    /// See [`Settings::max_body`].
    pub max_body: Option<usize>,
    /// See [`Settings::allow_plain_http`].
    pub allow_plain_http: Option<bool>,
}

impl Settings {
    /// Layers a file, the environment (`CANHGAC_DATA`, `CANHGAC_LISTEN`, `CANHGAC_ENGINE`,
    /// `CANHGAC_MAX_BODY`) and explicit values over the defaults.
    pub fn resolve(
        file: Option<FileSettings>,
        env: impl Fn(&str) -> Option<String>,
        data: Option<PathBuf>,
        listen: Option<SocketAddr>,
    ) -> Result<Settings, String> {
        let mut s = Settings::default();
        if let Some(f) = file {
            s.data = f.data.unwrap_or(s.data);
            s.listen = f.listen.unwrap_or(s.listen);
            s.engine = f.engine.unwrap_or(s.engine);
            s.max_body = f.max_body.unwrap_or(s.max_body);
            s.allow_plain_http = f.allow_plain_http.unwrap_or(s.allow_plain_http);
        }
        if let Some(v) = env("CANHGAC_DATA") {
            s.data = v.into();
        }
        if let Some(v) = env("CANHGAC_LISTEN") {
            s.listen = v
                .parse()
                .map_err(|_| format!("CANHGAC_LISTEN={v:?} is not ADDRESS:PORT"))?;
        }
        if let Some(v) = env("CANHGAC_ENGINE") {
            s.engine = v;
        }
        if let Some(v) = env("CANHGAC_MAX_BODY") {
            s.max_body = v
                .parse()
                .map_err(|_| format!("CANHGAC_MAX_BODY={v:?} is not a number of bytes"))?;
        }
        if let Some(d) = data {
            s.data = d;
        }
        if let Some(l) = listen {
            s.listen = l;
        }
        if !s.listen.ip().is_loopback() && !s.allow_plain_http {
            return Err(format!(
                "refusing plain HTTP on {}: listen on a loopback address behind a TLS proxy, or set allow_plain_http = true in the config file",
                s.listen
            ));
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_in_order_and_refuses_plain_http_off_loopback() {
        let file = FileSettings {
            listen: Some("127.0.0.1:9000".parse().unwrap()),
            ..FileSettings::default()
        };
        let env = |k: &str| (k == "CANHGAC_DATA").then(|| "/var/lib/canhgac".to_string());
        let s = Settings::resolve(Some(file), env, None, None).unwrap();
        assert_eq!(s.listen.port(), 9000);
        assert_eq!(s.data, PathBuf::from("/var/lib/canhgac"));
        let s = Settings::resolve(None, |_| None, Some("d".into()), None).unwrap();
        assert_eq!(s.data, PathBuf::from("d"));
        let err = Settings::resolve(None, |_| None, None, Some("0.0.0.0:80".parse().unwrap()))
            .unwrap_err();
        assert!(err.contains("refusing plain HTTP"), "{err}");
    }
}
