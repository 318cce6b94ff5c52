//! [`MemoryStore`]: ordered maps under one lock. The reference behaviour every other backend
//! is compared with (conformance suite, model-based tests), and the store of unit tests.
//!
//! Nothing survives the process; [`Store::backup`] writes a dump file that
//! [`MemoryStore::load`] reads back (the format is described at [`MemoryStore::load`]).

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufReader, BufWriter, Read, Write};
use std::ops::Bound;
use std::path::Path;
use std::sync::RwLock;

use sha2::{Digest, Sha256};

use super::util::{check_condition, finish_backup, io_error, poisoned, prepare_backup, scan_start};
use super::{Batch, Op, Store, StoreError, StoreStats, Table};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// The in-memory store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: RwLock<[Map; Table::ALL.len()]>,
}

/// The first bytes of a dump file.
const MAGIC: &[u8; 16] = b"canhgac-dump-v1\n";

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Reads a dump written by [`Store::backup`] of a `MemoryStore`.
    ///
    /// Format: the 16 bytes `canhgac-dump-v1\n`; then per entry the byte 1, the table name's
    /// length (one byte) and name, the key's length (u32, little-endian) and key, the value's
    /// length (u32) and value; then the byte 0, the number of entries (u64) and the SHA-256 of
    /// everything before it. A truncated or altered file is [`StoreError::Corrupt`].
    pub fn load(path: &Path) -> Result<MemoryStore, StoreError> {
        let file = fs::File::open(path)
            .map_err(|e| io_error(&format!("opening {}", path.display()), &e))?;
        let mut reader = HashingReader {
            inner: BufReader::new(file),
            hasher: Sha256::new(),
        };
        let corrupt = |what: &str| StoreError::Corrupt(format!("{}: {what}", path.display()));
        let mut magic = [0u8; 16];
        reader
            .read_exact(&mut magic)
            .map_err(|_| corrupt("too short"))?;
        if &magic != MAGIC {
            return Err(corrupt("not a canhgac dump"));
        }
        let mut tables: [Map; Table::ALL.len()] = Default::default();
        let mut count = 0u64;
        loop {
            let tag = reader.read_u8().map_err(|_| corrupt("truncated"))?;
            match tag {
                1 => {
                    let name_len = reader.read_u8().map_err(|_| corrupt("truncated"))?;
                    let name = reader
                        .read_vec(name_len.into())
                        .map_err(|_| corrupt("truncated"))?;
                    let table = Table::ALL
                        .into_iter()
                        .find(|t| t.name().as_bytes() == name)
                        .ok_or_else(|| corrupt("unknown table"))?;
                    let key_len = reader.read_u32().map_err(|_| corrupt("truncated"))?;
                    let key = reader
                        .read_vec(key_len as usize)
                        .map_err(|_| corrupt("truncated"))?;
                    let value_len = reader.read_u32().map_err(|_| corrupt("truncated"))?;
                    let value = reader
                        .read_vec(value_len as usize)
                        .map_err(|_| corrupt("truncated"))?;
                    tables[table as usize].insert(key, value);
                    count += 1;
                }
                0 => break,
                _ => return Err(corrupt("bad record tag")),
            }
        }
        let mut expected = [0u8; 8];
        reader
            .read_exact(&mut expected)
            .map_err(|_| corrupt("truncated"))?;
        if u64::from_le_bytes(expected) != count {
            return Err(corrupt("entry count does not match"));
        }
        let digest = reader.hasher.finalize();
        let mut stored = [0u8; 32];
        reader
            .inner
            .read_exact(&mut stored)
            .map_err(|_| corrupt("truncated"))?;
        if stored[..] != digest[..] {
            return Err(corrupt("checksum does not match"));
        }
        let mut rest = [0u8; 1];
        if reader
            .inner
            .read(&mut rest)
            .map_err(|e| io_error("reading the dump", &e))?
            != 0
        {
            return Err(corrupt("trailing bytes"));
        }
        Ok(MemoryStore {
            tables: RwLock::new(tables),
        })
    }
}

impl Store for MemoryStore {
    fn engine(&self) -> &'static str {
        "memory"
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let tables = self.tables.read().map_err(poisoned)?;
        Ok(tables[table as usize].get(key).cloned())
    }

    fn scan(
        &self,
        table: Table,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        let tables = self.tables.read().map_err(poisoned)?;
        let range = (scan_start(prefix, after), Bound::Unbounded);
        Ok(tables[table as usize]
            .range::<[u8], _>(range)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        let mut tables = self.tables.write().map_err(poisoned)?;
        for condition in &batch.conditions {
            let (table, key) = super::util::condition_target(condition);
            check_condition(
                condition,
                tables[table as usize].get(key).map(Vec::as_slice),
            )?;
        }
        for op in batch.ops {
            match op {
                Op::Put { table, key, value } => {
                    tables[table as usize].insert(key, value);
                }
                Op::Delete { table, key } => {
                    tables[table as usize].remove(&key);
                }
            }
        }
        Ok(())
    }

    fn backup(&self, dest: &Path) -> Result<(), StoreError> {
        let partial = prepare_backup(dest)?;
        let write = |e: std::io::Error| io_error(&format!("writing {}", partial.display()), &e);
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)
            .map_err(write)?;
        let mut out = HashingWriter {
            inner: BufWriter::new(file),
            hasher: Sha256::new(),
        };
        {
            let tables = self.tables.read().map_err(poisoned)?;
            out.write_all(MAGIC).map_err(write)?;
            let mut count = 0u64;
            for table in Table::ALL {
                let name = table.name().as_bytes();
                for (key, value) in &tables[table as usize] {
                    let key_len = u32::try_from(key.len())
                        .map_err(|_| StoreError::Io("key over 4 GiB".into()))?;
                    let value_len = u32::try_from(value.len())
                        .map_err(|_| StoreError::Io("value over 4 GiB".into()))?;
                    out.write_all(&[1, name.len() as u8]).map_err(write)?;
                    out.write_all(name).map_err(write)?;
                    out.write_all(&key_len.to_le_bytes()).map_err(write)?;
                    out.write_all(key).map_err(write)?;
                    out.write_all(&value_len.to_le_bytes()).map_err(write)?;
                    out.write_all(value).map_err(write)?;
                    count += 1;
                }
            }
            out.write_all(&[0]).map_err(write)?;
            out.write_all(&count.to_le_bytes()).map_err(write)?;
        }
        let digest = out.hasher.finalize();
        let mut inner = out.inner;
        inner.write_all(&digest).map_err(write)?;
        inner.into_inner().map_err(|e| write(e.into_error()))?;
        finish_backup(&partial, dest)
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        let tables = self.tables.read().map_err(poisoned)?;
        Ok(StoreStats {
            size_bytes: 0,
            entries: Table::ALL
                .into_iter()
                .map(|t| (t, tables[t as usize].len() as u64))
                .collect(),
        })
    }
}

/// Hashes what it writes.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Hashes what it reads.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

impl<R: Read> HashingReader<R> {
    fn read_u8(&mut self) -> std::io::Result<u8> {
        let mut b = [0u8; 1];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    fn read_u32(&mut self) -> std::io::Result<u32> {
        let mut b = [0u8; 4];
        self.read_exact(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn read_vec(&mut self, len: usize) -> std::io::Result<Vec<u8>> {
        let mut v = Vec::new();
        (&mut *self).take(len as u64).read_to_end(&mut v)?;
        if v.len() != len {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance;

    fn fresh() -> (Box<dyn Store>, tempfile::TempDir) {
        (Box::new(MemoryStore::new()), tempfile::tempdir().unwrap())
    }

    conformance::conformance_tests!(fresh, |path: &Path| MemoryStore::load(path)
        .map(|s| Box::new(s) as Box<dyn Store>));

    #[test]
    fn run_all_runs_every_case_on_one_store() {
        let dir = tempfile::tempdir().unwrap();
        let shared = std::sync::Arc::new(MemoryStore::new());
        // Every case clears the store first, so one store can serve them all.
        struct Shared(std::sync::Arc<MemoryStore>);
        impl Store for Shared {
            fn engine(&self) -> &'static str {
                self.0.engine()
            }
            fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
                self.0.get(table, key)
            }
            fn scan(
                &self,
                table: Table,
                prefix: &[u8],
                after: Option<&[u8]>,
                limit: usize,
            ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
                self.0.scan(table, prefix, after, limit)
            }
            fn apply(&self, batch: Batch) -> Result<(), StoreError> {
                self.0.apply(batch)
            }
            fn backup(&self, dest: &Path) -> Result<(), StoreError> {
                self.0.backup(dest)
            }
            fn stats(&self) -> Result<StoreStats, StoreError> {
                self.0.stats()
            }
        }
        conformance::run_all(
            &mut || Box::new(Shared(shared.clone())),
            dir.path(),
            &|path: &Path| MemoryStore::load(path).map(|s| Box::new(s) as Box<dyn Store>),
        );
    }

    #[test]
    fn a_damaged_dump_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::new();
        store
            .apply(Batch::new().put(Table::Users, "admin", "{}").put(
                Table::Meta,
                [0u8, 1],
                [2u8; 300],
            ))
            .unwrap();
        let dump = dir.path().join("dump");
        store.backup(&dump).unwrap();
        assert!(MemoryStore::load(&dump).is_ok());
        let mut bytes = fs::read(&dump).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 1;
        fs::write(&dump, &bytes).unwrap();
        assert!(matches!(
            MemoryStore::load(&dump),
            Err(StoreError::Corrupt(_))
        ));
        fs::write(&dump, &bytes[..middle]).unwrap();
        assert!(matches!(
            MemoryStore::load(&dump),
            Err(StoreError::Corrupt(_))
        ));
    }
}
