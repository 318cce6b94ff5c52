//! Waivers (chấp nhận rủi ro có thời hạn): an appraiser accepts that one rule of the policy
//! pack fails on one system, for a stated reason, until a stated day. While a waiver is valid
//! the compliance summary shows the rule as `waived` instead of failing; the day after its
//! expiry, or once revoked, it stops counting. Validity is decided against the clock when the
//! summary is read, never frozen at ingestion.
//!
//! Waivers live in `Table::Waivers` under `system id / waiver id`; a revoked waiver is kept
//! with who revoked it and when.

use std::collections::BTreeMap;

use canhgac_policies::pack::Pack;
use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use crate::model::SystemId;
use crate::repo;
use crate::store::{Store, StoreError, Table};

/// The longest a waiver may run: its expiry is at most this many days after the day it is
/// granted (one year).
pub const MAX_WAIVER_DAYS: i32 = 365;

/// The longest reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 2000;

/// Who revoked a waiver, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// The login.
    pub by: String,
    /// When.
    pub at: Timestamp,
}

/// A waiver of one rule for one system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiver {
    /// Id (UUIDv7).
    pub id: String,
    /// The system.
    pub system: SystemId,
    /// The rule id of the pack, e.g. `tls.cert_expiry`.
    pub rule: String,
    /// Why the failure is accepted.
    pub reason: String,
    /// The last day (Vietnam time) the waiver counts.
    pub expires_on: Date,
    /// Who granted it (login).
    pub created_by: String,
    /// When.
    pub created_at: Timestamp,
    /// Set once revoked.
    pub revoked: Option<Revocation>,
}

impl Waiver {
    /// Whether the waiver counts on `today` (Vietnam time): not revoked and not past its
    /// expiry day.
    pub fn is_valid(&self, today: Date) -> bool {
        self.revoked.is_none() && today <= self.expires_on
    }

    /// The storage key.
    pub fn key(&self) -> String {
        format!("{}/{}", self.system, self.id)
    }
}

/// Why a waiver cannot be granted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaiverError {
    /// The rule is not in the pack.
    #[error("quy tắc \"{0}\" không có trong bộ chính sách (rule {0:?} is not in the policy pack)")]
    UnknownRule(String),
    /// No reason given, or one too long.
    #[error(
        "cần nêu lý do chấp nhận, tối đa {MAX_REASON_CHARS} ký tự (a reason of 1 to {MAX_REASON_CHARS} characters is required)"
    )]
    Reason,
    /// The expiry is today or past.
    #[error("ngày hết hạn {expires_on} phải sau hôm nay {today} (the expiry must be after today)")]
    NotInFuture {
        /// The expiry asked for.
        expires_on: Date,
        /// Today.
        today: Date,
    },
    /// The expiry is too far.
    #[error(
        "ngày hết hạn {expires_on} quá xa: tối đa {max} ({MAX_WAIVER_DAYS} ngày) (a waiver runs at most {MAX_WAIVER_DAYS} days)"
    )]
    TooFar {
        /// The expiry asked for.
        expires_on: Date,
        /// The latest expiry allowed.
        max: Date,
    },
}

/// Checks a waiver request against the pack and `today`.
pub fn validate(
    pack: &Pack,
    rule: &str,
    reason: &str,
    expires_on: Date,
    today: Date,
) -> Result<(), WaiverError> {
    if !pack.rules.iter().any(|r| r.spec.id == rule) {
        return Err(WaiverError::UnknownRule(rule.to_string()));
    }
    let chars = reason.trim().chars().count();
    if chars == 0 || chars > MAX_REASON_CHARS {
        return Err(WaiverError::Reason);
    }
    if expires_on <= today {
        return Err(WaiverError::NotInFuture { expires_on, today });
    }
    let max = today.saturating_add(MAX_WAIVER_DAYS.days());
    if expires_on > max {
        return Err(WaiverError::TooFar { expires_on, max });
    }
    Ok(())
}

/// Every waiver of a system, oldest first (revoked and expired included).
pub fn of_system(store: &dyn Store, system: &str) -> Result<Vec<Waiver>, StoreError> {
    repo::list(store, Table::Waivers, &format!("{system}/"), usize::MAX)
}

/// The waivers valid on `today`, by rule (the latest-expiring one when several cover a rule).
pub fn valid_by_rule(waivers: &[Waiver], today: Date) -> BTreeMap<&str, &Waiver> {
    let mut out: BTreeMap<&str, &Waiver> = BTreeMap::new();
    for w in waivers.iter().filter(|w| w.is_valid(today)) {
        let slot = out.entry(w.rule.as_str()).or_insert(w);
        if w.expires_on > slot.expires_on {
            *slot = w;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn waiver(rule: &str, expires_on: Date) -> Waiver {
        let at: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
        Waiver {
            id: crate::changes::new_id(at),
            system: SystemId::derived(at, b"s"),
            rule: rule.to_string(),
            reason: "Đang thay chứng thư số".to_string(),
            expires_on,
            created_by: "thamdinh".to_string(),
            created_at: at,
            revoked: None,
        }
    }

    #[test]
    fn a_waiver_counts_through_its_expiry_day_and_not_after_or_once_revoked() {
        let w = waiver("tls.cert_expiry", date(2026, 12, 31));
        assert!(w.is_valid(date(2026, 11, 2)));
        assert!(
            w.is_valid(date(2026, 12, 31)),
            "the expiry day still counts"
        );
        assert!(!w.is_valid(date(2027, 1, 1)));
        let revoked = Waiver {
            revoked: Some(Revocation {
                by: "admin".into(),
                at: "2026-11-05T00:00:00Z".parse().unwrap(),
            }),
            ..w.clone()
        };
        assert!(!revoked.is_valid(date(2026, 11, 6)));
        let all = [
            w.clone(),
            waiver("tls.cert_expiry", date(2027, 3, 1)),
            revoked,
            waiver("http.hsts", date(2026, 11, 10)),
        ];
        let valid = valid_by_rule(&all, date(2026, 11, 20));
        assert_eq!(valid.len(), 1, "hsts expired on 10/11");
        assert_eq!(valid["tls.cert_expiry"].expires_on, date(2027, 3, 1));
        assert!(valid_by_rule(&all, date(2027, 3, 2)).is_empty());
    }

    #[test]
    fn requests_are_checked_against_the_pack_and_today() {
        let pack = Pack::decree85();
        let today = date(2026, 11, 23);
        let ok = |rule, reason, exp| validate(&pack, rule, reason, exp, today);
        assert_eq!(ok("tls.cert_expiry", "Lý do", date(2026, 11, 24)), Ok(()));
        assert_eq!(ok("tls.cert_expiry", "Lý do", date(2027, 11, 23)), Ok(()));
        assert!(matches!(
            ok("tls.cert_expiry", "Lý do", date(2027, 11, 24)),
            Err(WaiverError::TooFar { .. })
        ));
        assert!(matches!(
            ok("tls.cert_expiry", "Lý do", today),
            Err(WaiverError::NotInFuture { .. })
        ));
        assert!(matches!(
            ok("tls.nothing", "Lý do", date(2026, 12, 1)),
            Err(WaiverError::UnknownRule(_))
        ));
        assert_eq!(
            ok("tls.cert_expiry", "  ", date(2026, 12, 1)),
            Err(WaiverError::Reason)
        );
        let long = "x".repeat(MAX_REASON_CHARS + 1);
        assert_eq!(
            ok("tls.cert_expiry", &long, date(2026, 12, 1)),
            Err(WaiverError::Reason)
        );
    }
}
