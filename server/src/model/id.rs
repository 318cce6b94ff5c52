//! Typed identifiers: one type per kind of record, so a system id can never be passed where a
//! dossier id is expected.
//!
//! Every id is a UUID of version 7 (time-ordered, RFC 9562), written in JSON as its lowercase
//! hyphenated string (`"0190f6c4-8f4e-7a3b-9c1d-2e5f6a7b8c9d"`). Version 7 ids sort by creation
//! time, which the storage layer relies on for key order. This module never reads the clock or
//! an entropy source: the time and the random bits are passed in ([`AgencyId::new_v7`]) or
//! derived from a seed ([`AgencyId::derived`]).

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Why a text is not an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Not a UUID in the hyphenated 8-4-4-4-12 form.
    #[error(
        "mã định danh \"{text}\" không phải UUID dạng 8-4-4-4-12 (not a hyphenated UUID: {text:?})"
    )]
    NotUuid {
        /// The text given.
        text: String,
    },
    /// A UUID of another version.
    #[error(
        "mã định danh \"{text}\" là UUID phiên bản {version}, cần phiên bản 7 (a version {version} UUID, not version 7)"
    )]
    NotVersion7 {
        /// The text given.
        text: String,
        /// Its version number.
        version: usize,
    },
}

/// Milliseconds since the Unix epoch, clamped at 0 (v7 ids cannot encode earlier times).
fn unix_millis(at: Timestamp) -> u64 {
    u64::try_from(at.as_millisecond()).unwrap_or(0)
}

/// A version 7 UUID for `at` with the given random bits.
pub(crate) fn uuid_v7(at: Timestamp, random: [u8; 10]) -> Uuid {
    uuid::Builder::from_unix_timestamp_millis(unix_millis(at), &random).into_uuid()
}

/// A version 7 UUID for `at` whose random bits are the first 10 bytes of SHA-256(`seed`).
pub(crate) fn uuid_v7_derived(at: Timestamp, seed: &[u8]) -> Uuid {
    let digest = Sha256::digest(seed);
    let mut random = [0u8; 10];
    random.copy_from_slice(&digest[..10]);
    uuid_v7(at, random)
}

/// Parses the hyphenated form and checks the version.
fn parse_v7(text: &str) -> Result<Uuid, IdError> {
    let not_uuid = || IdError::NotUuid {
        text: text.to_owned(),
    };
    if text.len() != 36 {
        return Err(not_uuid());
    }
    let uuid = Uuid::try_parse(text).map_err(|_| not_uuid())?;
    match uuid.get_version_num() {
        7 => Ok(uuid),
        version => Err(IdError::NotVersion7 {
            text: text.to_owned(),
            version,
        }),
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Uuid);

        impl $name {
            /// A new id created at `at`, with random bits supplied by the caller (who owns the
            /// entropy source).
            pub fn new_v7(at: Timestamp, random: [u8; 10]) -> Self {
                Self(uuid_v7(at, random))
            }

            /// A deterministic id for `at`: the same `seed` always gives the same id.
            pub fn derived(at: Timestamp, seed: &[u8]) -> Self {
                Self(uuid_v7_derived(at, seed))
            }

            /// The UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(text: &str) -> Result<Self, IdError> {
                parse_v7(text).map(Self)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// An agency (cơ quan, đơn vị).
    AgencyId
);
id_type!(
    /// An information system (hệ thống thông tin).
    SystemId
);
id_type!(
    /// A level-proposal dossier (hồ sơ đề xuất cấp độ).
    DossierId
);
id_type!(
    /// A document uploaded to a dossier.
    DocumentId
);
id_type!(
    /// A user account.
    UserId
);
id_type!(
    /// An audit event.
    EventId
);

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Timestamp {
        "2026-02-13T02:00:00Z".parse().unwrap()
    }

    #[test]
    fn ids_are_v7_strings_and_round_trip() {
        let id = DossierId::new_v7(at(), [7; 10]);
        let text = id.to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(&text[14..15], "7");
        assert_eq!(text.parse::<DossierId>().unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<DossierId>(&json).unwrap(), id);
        assert_eq!(text.to_uppercase().parse::<DossierId>().unwrap(), id);
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let later: Timestamp = "2026-02-13T02:00:01Z".parse().unwrap();
        assert!(SystemId::new_v7(at(), [255; 10]) < SystemId::new_v7(later, [0; 10]));
    }

    #[test]
    fn derived_ids_are_deterministic() {
        assert_eq!(EventId::derived(at(), b"x"), EventId::derived(at(), b"x"));
        assert_ne!(EventId::derived(at(), b"x"), EventId::derived(at(), b"y"));
    }

    #[test]
    fn other_texts_are_refused_with_a_reason() {
        let v4 = "936da01f-9abd-4d9d-80c7-02af85c822a8";
        let err = v4.parse::<UserId>().unwrap_err();
        assert!(
            matches!(err, IdError::NotVersion7 { version: 4, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("phiên bản 7"));
        for bad in [
            "",
            "abc",
            "936da01f9abd4d9d80c702af85c822a8",
            "{936da01f-9abd-7d9d-80c7-02af85c822a8}",
        ] {
            let err = bad.parse::<UserId>().unwrap_err();
            assert!(matches!(err, IdError::NotUuid { .. }), "{bad}: {err}");
        }
        assert!(serde_json::from_str::<UserId>("\"abc\"").is_err());
    }
}
