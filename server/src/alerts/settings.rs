//! The `[mail]` and `[alerts]` sections of the server's configuration file.
//!
//! ```toml
//! [mail]
//! host = "smtp.stttt.example.gov.vn"
//! port = 587                  # default: 587 for starttls, 465 for tls, 25 for none
//! security = "starttls"       # "starttls", "tls" (implicit, SMTPS) or "none" (loopback only)
//! username = "canhgac"
//! password_file = "/etc/canhgac/smtp-password"   # or CANHGAC_SMTP_PASSWORD(_FILE)
//! from = "Canh gác <canhgac@stttt.example.gov.vn>"
//! ca_file = "/etc/canhgac/smtp-ca.pem"           # a private CA, beside the public roots
//!
//! [alerts]
//! security_staff = ["soc@stttt.example.gov.vn"]
//! leadership = ["giamdoc@stttt.example.gov.vn"]
//! holiday_days_before = [14]
//! holiday_working_days_before = [3]
//! ```
//!
//! Every key of `[alerts]` is optional; docs/alerts.md lists them with their defaults.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::model::Email;

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain connection upgraded with STARTTLS (required: no fallback to plain text).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// No encryption: refused unless the host is a loopback address.
    None,
}

/// The SMTP relay the server sends through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// Relay host name (also the name its certificate must carry).
    pub host: String,
    /// Port.
    pub port: u16,
    /// STARTTLS, implicit TLS or none.
    pub security: Security,
    /// User name, when the relay wants authentication.
    pub username: Option<String>,
    /// Password (from `password_file` or `CANHGAC_SMTP_PASSWORD(_FILE)`).
    pub password: Option<String>,
    /// The sender, e.g. `Canh gác <canhgac@stttt.example.gov.vn>`.
    pub from: String,
    /// Extra trusted roots (PEM), for a relay with a private CA.
    pub ca_file: Option<PathBuf>,
    /// Longest wait for the relay's answers.
    pub timeout: Duration,
}

/// One expiry threshold: when that many days or fewer are left, an alert of that severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// Days left at or below which the alert is raised.
    pub days: i64,
    /// Its severity.
    pub severity: AlertSeverity,
}

/// Severity of an event alert.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum AlertSeverity {
    /// Worth knowing.
    Warning,
    /// Act now.
    Alarm,
}

impl AlertSeverity {
    /// Vietnamese label.
    pub fn label_vi(self) -> &'static str {
        match self {
            AlertSeverity::Warning => "Cảnh báo",
            AlertSeverity::Alarm => "Khẩn cấp",
        }
    }
}

/// What alerts are sent, when and to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSettings {
    /// The department's security staff: the province-wide holiday summary and every event.
    pub security_staff: Vec<Email>,
    /// The department's leadership: the weekly report.
    pub leadership: Vec<Email>,
    /// The dedicated unit's mailbox: dossiers submitted or resubmitted (the appraisers' turn).
    pub appraisal_staff: Vec<Email>,
    /// The approvers' mailbox: dossiers appraised (the decision's turn).
    pub approvers: Vec<Email>,
    /// Calendar days before a holiday block's first day when a holiday alert goes out.
    pub holiday_days_before: Vec<u32>,
    /// Working days before a holiday block's first day when a holiday alert goes out.
    pub holiday_working_days_before: Vec<u32>,
    /// Blocks shorter than this many days off get no holiday alert.
    pub holiday_min_block_days: u32,
    /// Hour (Vietnam time) from which a reminder day's letters go out.
    pub holiday_hour: u8,
    /// A certificate or domain expiring before the block's end plus this many days is listed.
    pub expiry_margin_days: i64,
    /// Certificate and domain expiry thresholds, most days first.
    pub expiry_thresholds: Vec<Threshold>,
    /// A site with no successful scan for this long is reported unreachable.
    pub unreachable_after: Duration,
    /// Event alerts are gathered into one e-mail per recipient a day instead of one each.
    pub digest: bool,
    /// Hour (Vietnam time) of the daily digest.
    pub digest_hour: u8,
    /// Weekday and hour (Vietnam time) of the weekly report e-mail; `None`: not sent.
    pub weekly: Option<(jiff::civil::Weekday, u8)>,
    /// How often the alert loop looks for work.
    pub tick: Duration,
    /// Attempts before a message is marked failed for good.
    pub max_attempts: u32,
    /// First retry delay; doubled after each failure, at most six hours.
    pub retry_after: Duration,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            security_staff: Vec::new(),
            leadership: Vec::new(),
            appraisal_staff: Vec::new(),
            approvers: Vec::new(),
            holiday_days_before: vec![14],
            holiday_working_days_before: vec![3],
            holiday_min_block_days: 1,
            holiday_hour: 8,
            expiry_margin_days: 7,
            expiry_thresholds: vec![
                Threshold {
                    days: 30,
                    severity: AlertSeverity::Warning,
                },
                Threshold {
                    days: 14,
                    severity: AlertSeverity::Warning,
                },
                Threshold {
                    days: 7,
                    severity: AlertSeverity::Alarm,
                },
            ],
            unreachable_after: Duration::from_secs(6 * 3600),
            digest: false,
            digest_hour: 7,
            weekly: Some((jiff::civil::Weekday::Monday, 7)),
            tick: Duration::from_secs(60),
            max_attempts: 12,
            retry_after: Duration::from_secs(60),
        }
    }
}

/// `[mail]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailFile {
    /// See [`MailSettings::host`].
    pub host: String,
    /// See [`MailSettings::port`].
    pub port: Option<u16>,
    /// See [`MailSettings::security`].
    #[serde(default)]
    pub security: Security,
    /// See [`MailSettings::username`].
    pub username: Option<String>,
    /// A file holding the password (trailing newline ignored).
    pub password_file: Option<PathBuf>,
    /// See [`MailSettings::from`].
    pub from: String,
    /// See [`MailSettings::ca_file`].
    pub ca_file: Option<PathBuf>,
    /// See [`MailSettings::timeout`], in seconds (default 30).
    pub timeout_seconds: Option<u64>,
}

/// `[alerts]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsFile {
    /// See [`AlertSettings::security_staff`].
    pub security_staff: Option<Vec<String>>,
    /// See [`AlertSettings::leadership`].
    pub leadership: Option<Vec<String>>,
    /// See [`AlertSettings::appraisal_staff`].
    pub appraisal_staff: Option<Vec<String>>,
    /// See [`AlertSettings::approvers`].
    pub approvers: Option<Vec<String>>,
    /// See [`AlertSettings::holiday_days_before`].
    pub holiday_days_before: Option<Vec<u32>>,
    /// See [`AlertSettings::holiday_working_days_before`].
    pub holiday_working_days_before: Option<Vec<u32>>,
    /// See [`AlertSettings::holiday_min_block_days`].
    pub holiday_min_block_days: Option<u32>,
    /// See [`AlertSettings::holiday_hour`].
    pub holiday_hour: Option<u8>,
    /// See [`AlertSettings::expiry_margin_days`].
    pub expiry_margin_days: Option<i64>,
    /// See [`AlertSettings::expiry_thresholds`].
    pub expiry_thresholds: Option<Vec<Threshold>>,
    /// See [`AlertSettings::unreachable_after`], in hours.
    pub unreachable_hours: Option<u64>,
    /// See [`AlertSettings::digest`].
    pub digest: Option<bool>,
    /// See [`AlertSettings::digest_hour`].
    pub digest_hour: Option<u8>,
    /// `"monday"` .. `"sunday"`, or `"off"`.
    pub weekly_day: Option<String>,
    /// See [`AlertSettings::weekly`].
    pub weekly_hour: Option<u8>,
    /// See [`AlertSettings::tick`], in seconds.
    pub tick_seconds: Option<u64>,
    /// See [`AlertSettings::max_attempts`].
    pub max_attempts: Option<u32>,
    /// See [`AlertSettings::retry_after`], in seconds.
    pub retry_seconds: Option<u64>,
}

fn emails(list: &[String], key: &str) -> Result<Vec<Email>, String> {
    list.iter()
        .map(|e| Email::new(e).map_err(|err| format!("[alerts] {key}: {err}")))
        .collect()
}

fn weekday(text: &str) -> Result<Option<jiff::civil::Weekday>, String> {
    use jiff::civil::Weekday::*;
    Ok(Some(match text.to_ascii_lowercase().as_str() {
        "off" | "none" => return Ok(None),
        "monday" => Monday,
        "tuesday" => Tuesday,
        "wednesday" => Wednesday,
        "thursday" => Thursday,
        "friday" => Friday,
        "saturday" => Saturday,
        "sunday" => Sunday,
        other => {
            return Err(format!(
                "[alerts] weekly_day = {other:?}: a weekday or \"off\""
            ));
        }
    }))
}

impl AlertSettings {
    /// The defaults with `[alerts]` laid over them; every value is checked.
    pub fn from_file(file: Option<AlertsFile>) -> Result<AlertSettings, String> {
        let mut s = AlertSettings::default();
        let Some(f) = file else {
            return Ok(s);
        };
        if let Some(v) = f.security_staff {
            s.security_staff = emails(&v, "security_staff")?;
        }
        if let Some(v) = f.leadership {
            s.leadership = emails(&v, "leadership")?;
        }
        if let Some(v) = f.appraisal_staff {
            s.appraisal_staff = emails(&v, "appraisal_staff")?;
        }
        if let Some(v) = f.approvers {
            s.approvers = emails(&v, "approvers")?;
        }
        if let Some(v) = f.holiday_days_before {
            s.holiday_days_before = v;
        }
        if let Some(v) = f.holiday_working_days_before {
            s.holiday_working_days_before = v;
        }
        if let Some(v) = f.holiday_min_block_days {
            s.holiday_min_block_days = v;
        }
        if let Some(h) = f.holiday_hour {
            if h > 23 {
                return Err("[alerts] holiday_hour must be 0 to 23".into());
            }
            s.holiday_hour = h;
        }
        if let Some(v) = f.expiry_margin_days {
            if v < 0 {
                return Err("[alerts] expiry_margin_days must not be negative".into());
            }
            s.expiry_margin_days = v;
        }
        if let Some(mut v) = f.expiry_thresholds {
            if v.iter().any(|t| t.days < 0) {
                return Err("[alerts] expiry_thresholds: days must not be negative".into());
            }
            v.sort_by_key(|t| std::cmp::Reverse(t.days));
            v.dedup_by_key(|t| t.days);
            s.expiry_thresholds = v;
        }
        if let Some(h) = f.unreachable_hours {
            if h == 0 {
                return Err("[alerts] unreachable_hours must be at least 1".into());
            }
            s.unreachable_after = Duration::from_secs(h * 3600);
        }
        s.digest = f.digest.unwrap_or(s.digest);
        if let Some(h) = f.digest_hour {
            if h > 23 {
                return Err("[alerts] digest_hour must be 0 to 23".into());
            }
            s.digest_hour = h;
        }
        let hour = f.weekly_hour.unwrap_or(7);
        if hour > 23 {
            return Err("[alerts] weekly_hour must be 0 to 23".into());
        }
        if let Some(day) = f.weekly_day {
            s.weekly = weekday(&day)?.map(|d| (d, hour));
        } else if let Some((d, _)) = s.weekly {
            s.weekly = Some((d, hour));
        }
        if let Some(t) = f.tick_seconds {
            s.tick = Duration::from_secs(t.max(1));
        }
        if let Some(n) = f.max_attempts {
            s.max_attempts = n.max(1);
        }
        if let Some(t) = f.retry_seconds {
            s.retry_after = Duration::from_secs(t.max(1));
        }
        Ok(s)
    }
}

impl MailSettings {
    /// `[mail]` with the password from its file or the environment
    /// (`CANHGAC_SMTP_PASSWORD`, `CANHGAC_SMTP_PASSWORD_FILE`, which win over the file's).
    pub fn from_file(
        f: MailFile,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<MailSettings, String> {
        if f.host.trim().is_empty() {
            return Err("[mail] host is empty".into());
        }
        if f.from.trim().is_empty() {
            return Err("[mail] from is empty".into());
        }
        f.from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| format!("[mail] from = {:?}: {e}", f.from))?;
        let read = |p: &std::path::Path| {
            std::fs::read_to_string(p)
                .map(|s| s.trim_end_matches(['\r', '\n']).to_owned())
                .map_err(|e| format!("[mail] cannot read the password file {}: {e}", p.display()))
        };
        let mut password = match &f.password_file {
            Some(p) => Some(read(p)?),
            None => None,
        };
        if let Some(p) = env("CANHGAC_SMTP_PASSWORD_FILE") {
            password = Some(read(std::path::Path::new(&p))?);
        }
        if let Some(p) = env("CANHGAC_SMTP_PASSWORD") {
            password = Some(p);
        }
        if password.is_some() && f.username.is_none() {
            return Err("[mail] a password is set but no username".into());
        }
        let port = f.port.unwrap_or(match f.security {
            Security::Starttls => 587,
            Security::Tls => 465,
            Security::None => 25,
        });
        if f.security == Security::None {
            let loopback = f.host == "localhost"
                || f.host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                return Err(format!(
                    "[mail] security = \"none\" sends mail and passwords in clear text: only allowed to a loopback relay, not {}",
                    f.host
                ));
            }
        }
        Ok(MailSettings {
            host: f.host,
            port,
            security: f.security,
            username: f.username,
            password,
            from: f.from,
            ca_file: f.ca_file,
            timeout: Duration::from_secs(f.timeout_seconds.unwrap_or(30).max(1)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_settings_layer_and_check() {
        let f: AlertsFile = toml::from_str(
            "security_staff = [\"soc@example.gov.vn\"]\nexpiry_thresholds = [{days = 7, severity = \"alarm\"}, {days = 30, severity = \"warning\"}]\nweekly_day = \"friday\"\nweekly_hour = 16",
        )
        .unwrap();
        let s = AlertSettings::from_file(Some(f)).unwrap();
        assert_eq!(s.security_staff.len(), 1);
        assert_eq!(s.expiry_thresholds[0].days, 30);
        assert_eq!(s.weekly, Some((jiff::civil::Weekday::Friday, 16)));
        let f: AlertsFile = toml::from_str("security_staff = [\"not an address\"]").unwrap();
        assert!(AlertSettings::from_file(Some(f)).is_err());
        let f: AlertsFile = toml::from_str("weekly_day = \"someday\"").unwrap();
        assert!(AlertSettings::from_file(Some(f)).is_err());
        assert!(toml::from_str::<AlertsFile>("unknown_key = 1").is_err());
    }

    #[test]
    fn mail_settings_refuse_clear_text_off_loopback_and_take_env_password() {
        let f = |host: &str, security| MailFile {
            host: host.into(),
            security,
            username: Some("u".into()),
            from: "Canh gác <canhgac@example.gov.vn>".into(),
            ..MailFile::default()
        };
        let err = MailSettings::from_file(f("smtp.example.gov.vn", Security::None), |_| None)
            .unwrap_err();
        assert!(err.contains("clear text"), "{err}");
        let s = MailSettings::from_file(f("127.0.0.1", Security::None), |k| {
            (k == "CANHGAC_SMTP_PASSWORD").then(|| "s3cret".to_string())
        })
        .unwrap();
        assert_eq!(s.password.as_deref(), Some("s3cret"));
        assert_eq!(s.port, 25);
        let s = MailSettings::from_file(f("smtp.example.gov.vn", Security::Tls), |_| None).unwrap();
        assert_eq!(s.port, 465);
        let mut bad = f("smtp.example.gov.vn", Security::Starttls);
        bad.from = "not a mailbox".into();
        assert!(MailSettings::from_file(bad, |_| None).is_err());
    }
}
