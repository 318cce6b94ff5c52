//! Typed access to the store: JSON values under string keys, one concept per table.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::{Store, StoreError, Table};

/// Reads and decodes one value.
pub fn get<T: DeserializeOwned>(
    store: &dyn Store,
    table: Table,
    key: &str,
) -> Result<Option<T>, StoreError> {
    match store.get(table, key.as_bytes())? {
        Some(raw) => serde_json::from_slice(&raw)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("{} {key}: {e}", table.name()))),
        None => Ok(None),
    }
}

/// Reads every value of a table whose key starts with `prefix` (at most `limit`).
pub fn list<T: DeserializeOwned>(
    store: &dyn Store,
    table: Table,
    prefix: &str,
    limit: usize,
) -> Result<Vec<T>, StoreError> {
    store
        .scan(table, prefix.as_bytes(), None, limit)?
        .into_iter()
        .map(|(k, v)| {
            serde_json::from_slice(&v).map_err(|e| {
                StoreError::Corrupt(format!(
                    "{} {}: {e}",
                    table.name(),
                    String::from_utf8_lossy(&k)
                ))
            })
        })
        .collect()
}

/// Encodes a value.
pub fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("model types serialise")
}
