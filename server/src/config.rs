//! Server settings: defaults, then a TOML file, then `CANHGAC_*` environment variables, then the
//! command line; secrets can be read from a `_FILE`. `serve` on an empty directory just works.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Largest dossier document accepted by an upload, in bytes (default 20 MiB).
    pub max_document_bytes: usize,
    /// Days an unchanged scan report is kept before pruning (`crate::retention`; 0: keep all).
    pub report_retention_days: u32,
    /// Allow plain HTTP on a non-loopback address (behind a TLS-terminating proxy).
    pub allow_plain_http: bool,
    /// TLS certificate chain (PEM, leaf first); with [`Settings::tls_key`] the server speaks HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub tls_key: Option<PathBuf>,
    /// How often the certificate and key files are checked for a new pair (zero: never).
    pub tls_reload_interval: Duration,
    /// Reverse proxies whose forwarded headers are believed (addresses and CIDR blocks).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Log lines as human text (`text`, default) or one JSON object per line (`json`).
    pub log_format: LogFormat,
    /// Browser session lifetimes and cookie flags (see docs/access.md).
    pub sessions: crate::sessions::SessionSettings,
    /// The SMTP relay (`[mail]`); without it no e-mail is sent (previews still work).
    pub mail: Option<crate::alerts::settings::MailSettings>,
    /// What alerts go out when and to whom (`[alerts]`, see docs/alerts.md).
    pub alerts: crate::alerts::settings::AlertSettings,
}

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON object per line (fields of the request span included).
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data: PathBuf::from("canhgac-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8440)),
            engine: "redb".into(),
            max_body: 8 * 1024 * 1024,
            max_document_bytes: crate::documents::DEFAULT_MAX_DOCUMENT_BYTES,
            report_retention_days: crate::retention::DEFAULT_RETENTION_DAYS,
            allow_plain_http: false,
            tls_cert: None,
            tls_key: None,
            tls_reload_interval: Duration::from_secs(5),
            trusted_proxies: Vec::new(),
            log_format: LogFormat::Text,
            sessions: crate::sessions::SessionSettings::default(),
            mail: None,
            alerts: crate::alerts::settings::AlertSettings::default(),
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
    /// See [`Settings::max_document_bytes`].
    pub max_document_bytes: Option<usize>,
    /// See [`Settings::report_retention_days`].
    pub report_retention_days: Option<u32>,
    /// See [`Settings::allow_plain_http`].
    pub allow_plain_http: Option<bool>,
    /// See [`Settings::tls_cert`].
    pub tls_cert: Option<PathBuf>,
    /// See [`Settings::tls_key`].
    pub tls_key: Option<PathBuf>,
    /// See [`Settings::tls_reload_interval`], in seconds.
    pub tls_reload_interval: Option<u64>,
    /// See [`Settings::trusted_proxies`]: `["10.0.0.5", "192.168.10.0/24"]`.
    pub trusted_proxies: Option<Vec<String>>,
    /// See [`Settings::log_format`]: `"text"` or `"json"`.
    pub log_format: Option<LogFormat>,
    /// A browser session without a request for this many minutes ends (default 30).
    pub session_idle_minutes: Option<u32>,
    /// A browser session ends this many hours after sign-in (default 8).
    pub session_lifetime_hours: Option<u32>,
    /// Mark the session cookie `Secure` even when the request did not come over HTTPS
    /// (default false; HTTPS requests always get it).
    pub secure_cookies: Option<bool>,
    /// The SMTP relay.
    pub mail: Option<crate::alerts::settings::MailFile>,
    /// Alert schedules and recipients.
    pub alerts: Option<crate::alerts::settings::AlertsFile>,
}

/// Values given on the command line; they override the file and the environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--data`.
    pub data: Option<PathBuf>,
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--tls-cert`.
    pub tls_cert: Option<PathBuf>,
    /// `--tls-key`.
    pub tls_key: Option<PathBuf>,
}

impl Settings {
    /// Layers a file, the environment (`CANHGAC_DATA`, `CANHGAC_LISTEN`, `CANHGAC_ENGINE`,
    /// `CANHGAC_MAX_BODY`, `CANHGAC_TLS_*`, `CANHGAC_TRUSTED_PROXIES`, `CANHGAC_LOG_FORMAT`) and
    /// explicit values over the defaults.
    pub fn resolve(
        file: Option<FileSettings>,
        env: impl Fn(&str) -> Option<String>,
        data: Option<PathBuf>,
        listen: Option<SocketAddr>,
    ) -> Result<Settings, String> {
        let flags = Overrides {
            data,
            listen,
            ..Overrides::default()
        };
        Settings::resolve_with(file, env, flags)
    }

    /// [`Settings::resolve`] with every command-line override.
    pub fn resolve_with(
        file: Option<FileSettings>,
        env: impl Fn(&str) -> Option<String>,
        flags: Overrides,
    ) -> Result<Settings, String> {
        let Overrides {
            data,
            listen,
            tls_cert,
            tls_key,
        } = flags;
        let mut s = Settings::default();
        if let Some(mut f) = file {
            s.alerts = crate::alerts::settings::AlertSettings::from_file(f.alerts.take())?;
            if let Some(mail) = f.mail.take() {
                s.mail = Some(crate::alerts::settings::MailSettings::from_file(
                    mail, &env,
                )?);
            }
            s.tls_cert = f.tls_cert.or(s.tls_cert);
            s.tls_key = f.tls_key.or(s.tls_key);
            if let Some(secs) = f.tls_reload_interval {
                s.tls_reload_interval = Duration::from_secs(secs);
            }
            if let Some(list) = f.trusted_proxies {
                s.trusted_proxies = list
                    .iter()
                    .map(|p| crate::transport::client::parse_proxy(p))
                    .collect::<Result<_, _>>()?;
            }
            s.log_format = f.log_format.unwrap_or(s.log_format);
            s.sessions = s.sessions.with_file(
                f.session_idle_minutes,
                f.session_lifetime_hours,
                f.secure_cookies,
            )?;
            s.data = f.data.unwrap_or(s.data);
            s.listen = f.listen.unwrap_or(s.listen);
            s.engine = f.engine.unwrap_or(s.engine);
            s.max_body = f.max_body.unwrap_or(s.max_body);
            s.max_document_bytes = f.max_document_bytes.unwrap_or(s.max_document_bytes);
            s.report_retention_days = f.report_retention_days.unwrap_or(s.report_retention_days);
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
        if let Some(v) = env("CANHGAC_MAX_DOCUMENT_BYTES") {
            s.max_document_bytes = v.parse().map_err(|_| {
                format!("CANHGAC_MAX_DOCUMENT_BYTES={v:?} is not a number of bytes")
            })?;
        }
        if s.max_document_bytes == 0 {
            return Err("max_document_bytes must be at least 1 byte".to_string());
        }
        if let Some(v) = env("CANHGAC_REPORT_RETENTION_DAYS") {
            s.report_retention_days = v.parse().map_err(|_| {
                format!("CANHGAC_REPORT_RETENTION_DAYS={v:?} is not a number of days")
            })?;
        }
        if let Some(v) = env("CANHGAC_TLS_CERT") {
            s.tls_cert = Some(v.into());
        }
        if let Some(v) = env("CANHGAC_TLS_KEY") {
            s.tls_key = Some(v.into());
        }
        if let Some(v) = env("CANHGAC_TLS_RELOAD_INTERVAL") {
            let secs = v.parse().map_err(|_| {
                format!("CANHGAC_TLS_RELOAD_INTERVAL={v:?} is not a number of seconds")
            })?;
            s.tls_reload_interval = Duration::from_secs(secs);
        }
        if let Some(v) = env("CANHGAC_TRUSTED_PROXIES") {
            s.trusted_proxies = v
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(crate::transport::client::parse_proxy)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("CANHGAC_TRUSTED_PROXIES: {e}"))?;
        }
        if let Some(v) = env("CANHGAC_LOG_FORMAT") {
            s.log_format = match v.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => return Err(format!("CANHGAC_LOG_FORMAT={v:?} is neither text nor json")),
            };
        }
        if let Some(d) = data {
            s.data = d;
        }
        if let Some(l) = listen {
            s.listen = l;
        }
        if let Some(c) = tls_cert {
            s.tls_cert = Some(c);
        }
        if let Some(k) = tls_key {
            s.tls_key = Some(k);
        }
        match (&s.tls_cert, &s.tls_key) {
            (Some(_), None) => {
                return Err(
                    "tls_cert is set but tls_key is not: HTTPS needs both (--tls-key, CANHGAC_TLS_KEY or tls_key in the config file)"
                        .into(),
                );
            }
            (None, Some(_)) => {
                return Err(
                    "tls_key is set but tls_cert is not: HTTPS needs both (--tls-cert, CANHGAC_TLS_CERT or tls_cert in the config file)"
                        .into(),
                );
            }
            _ => {}
        }
        if !s.tls() && !s.listen.ip().is_loopback() && !s.allow_plain_http {
            return Err(format!(
                "refusing plain HTTP on {}: set tls_cert and tls_key (--tls-cert/--tls-key) to serve HTTPS, listen on a loopback address behind a TLS proxy, or set allow_plain_http = true in the config file",
                s.listen
            ));
        }
        Ok(s)
    }

    /// Whether the server speaks HTTPS itself.
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some() && self.tls_key.is_some()
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

    #[test]
    fn tls_allows_any_address_and_proxies_and_log_format_parse() {
        let env = |k: &str| match k {
            "CANHGAC_TLS_CERT" => Some("/etc/canhgac/cert.pem".to_string()),
            "CANHGAC_TRUSTED_PROXIES" => Some("10.0.0.0/8, ::1".to_string()),
            "CANHGAC_LOG_FORMAT" => Some("json".to_string()),
            _ => None,
        };
        let flags = Overrides {
            listen: Some("0.0.0.0:443".parse().unwrap()),
            tls_key: Some("/etc/canhgac/key.pem".into()),
            ..Overrides::default()
        };
        let s = Settings::resolve_with(None, env, flags).unwrap();
        assert!(s.tls());
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.trusted_proxies.len(), 2);
        assert!(s.trusted_proxies[0].contains(&"10.9.8.7".parse::<std::net::IpAddr>().unwrap()));

        // Half a pair is refused, and so is a bad proxy entry.
        let only_cert = |k: &str| (k == "CANHGAC_TLS_CERT").then(|| "c.pem".to_string());
        let err = Settings::resolve(None, only_cert, None, None).unwrap_err();
        assert!(err.contains("tls_key is not"), "{err}");
        let file: FileSettings = toml::from_str(
            "trusted_proxies = [\"127.0.0.1\", \"proxy.example\"]\ntls_reload_interval = 2",
        )
        .unwrap();
        let err = Settings::resolve(Some(file), |_| None, None, None).unwrap_err();
        assert!(err.contains("proxy.example"), "{err}");
        let file: FileSettings =
            toml::from_str("log_format = \"json\"\ntls_reload_interval = 2").unwrap();
        let s = Settings::resolve(Some(file), |_| None, None, None).unwrap();
        assert_eq!(s.tls_reload_interval, Duration::from_secs(2));
        assert!(!s.tls());
    }
}
