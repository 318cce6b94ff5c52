//! The conformance suite: what every [`Store`] backend must do, written once against the
//! trait. Each case panics (with a message) on the first deviation.
//!
//! Backends in this crate run it through `conformance_tests!` (one `#[test]` per case, on a
//! fresh store each). A backend elsewhere (a later PostgreSQL one, or an integration test)
//! calls [`run_all`] or the cases one by one. Every case first empties the store with
//! [`clear`], so one store may serve them all in sequence.
//!
//! The crash suite, which needs real processes, lives in `server/tests/store_crash.rs`.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Batch, Store, StoreError, Table};

/// Opens a store written by [`Store::backup`].
pub type Reopen<'a> = &'a dyn Fn(&Path) -> Result<Box<dyn Store>, StoreError>;

/// A case of the suite.
pub type Case = fn(&dyn Store);

/// Every case that needs nothing but the store, by name.
pub const CASES: &[(&str, Case)] = &[
    ("put_get_delete", put_get_delete),
    ("overwrite", overwrite),
    ("empty_values", empty_values),
    ("binary_keys", binary_keys),
    ("prefix_scans", prefix_scans),
    ("scans_stay_in_their_table", scans_stay_in_their_table),
    ("tables_are_independent", tables_are_independent),
    (
        "failed_condition_writes_nothing",
        failed_condition_writes_nothing,
    ),
    (
        "large_batches_are_all_or_nothing",
        large_batches_are_all_or_nothing,
    ),
    ("idempotent_insert", idempotent_insert),
    ("compare_and_set", compare_and_set),
    ("large_values", large_values),
    ("many_keys", many_keys),
    ("stats_counts", stats_counts),
    ("concurrent_writers", concurrent_writers),
];

/// Runs every case, each on a store from `fresh`, then [`backup_roundtrip`] with `scratch`
/// (an empty directory) and `reopen`.
pub fn run_all(fresh: &mut dyn FnMut() -> Box<dyn Store>, scratch: &Path, reopen: Reopen<'_>) {
    for (name, case) in CASES {
        let store = fresh();
        eprintln!("conformance: {} on {}", name, store.engine());
        case(&*store);
    }
    let store = fresh();
    eprintln!("conformance: backup_roundtrip on {}", store.engine());
    backup_roundtrip(&*store, &scratch.join("backup"), reopen);
}

/// One `#[test]` per case for a backend of this crate: `conformance_tests!(fresh, reopen)`
/// where `fresh()` returns `(Box<dyn Store>, tempfile::TempDir)` (the directory lives as long
/// as the test and receives the backup) and `reopen` is a [`Reopen`].
#[cfg(test)]
macro_rules! conformance_tests {
    ($fresh:expr, $reopen:expr) => {
        $crate::store::conformance::conformance_tests!(@cases $fresh;
            put_get_delete, overwrite, empty_values, binary_keys, prefix_scans,
            scans_stay_in_their_table, tables_are_independent, failed_condition_writes_nothing,
            large_batches_are_all_or_nothing, idempotent_insert, compare_and_set, large_values,
            many_keys, stats_counts, concurrent_writers);

        #[test]
        fn backup_roundtrip() {
            let (store, dir) = ($fresh)();
            $crate::store::conformance::backup_roundtrip(&*store, &dir.path().join("backup"), &$reopen);
        }

        #[test]
        fn every_case_has_a_test() {
            assert_eq!($crate::store::conformance::CASES.len(), 15);
        }
    };
    (@cases $fresh:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let (store, _dir) = ($fresh)();
                $crate::store::conformance::$case(&*store);
            }
        )*
    };
}
#[cfg(test)]
pub(crate) use conformance_tests;

// ---------------------------------------------------------------------------------------------
// Helpers

/// Deletes every entry of every table.
pub fn clear(store: &dyn Store) {
    for table in Table::ALL {
        loop {
            let entries = store.scan(table, b"", None, 1000).expect("scan to clear");
            if entries.is_empty() {
                break;
            }
            let mut batch = Batch::new();
            for (key, _) in entries {
                batch = batch.delete(table, key);
            }
            store.apply(batch).expect("delete to clear");
        }
    }
}

/// Every entry of a table, in order, read page by page (which exercises `after`).
pub fn entries(store: &dyn Store, table: Table) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut all: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    loop {
        let after = all.last().map(|(k, _)| k.clone());
        let page = store.scan(table, b"", after.as_deref(), 997).expect("scan");
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

/// Every entry of every table.
pub fn dump(store: &dyn Store) -> BTreeMap<Table, Vec<(Vec<u8>, Vec<u8>)>> {
    Table::ALL
        .into_iter()
        .map(|t| (t, entries(store, t)))
        .collect()
}

fn get(store: &dyn Store, table: Table, key: impl AsRef<[u8]>) -> Option<Vec<u8>> {
    store.get(table, key.as_ref()).expect("get")
}

fn count(store: &dyn Store, table: Table) -> u64 {
    let stats = store.stats().expect("stats");
    stats
        .entries
        .iter()
        .find(|(t, _)| *t == table)
        .map(|(_, n)| *n)
        .expect("stats lists every table")
}

fn keys(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<Vec<u8>> {
    entries.iter().map(|(k, _)| k.clone()).collect()
}

fn expect_conflict(result: Result<(), StoreError>, what: &str) {
    match result {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("{what}: expected a conflict, got {other:?}"),
    }
}

/// Deterministic pseudo-random bytes (xorshift), so large values are not trivially
/// compressible and differ per seed.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

// ---------------------------------------------------------------------------------------------
// Cases

/// Put, get, delete; deleting an absent key and an empty batch are fine.
pub fn put_get_delete(store: &dyn Store) {
    clear(store);
    assert_eq!(get(store, Table::Agencies, "a1"), None);
    store
        .apply(Batch::new().put(Table::Agencies, "a1", "Bộ Tư pháp"))
        .unwrap();
    assert_eq!(
        get(store, Table::Agencies, "a1"),
        Some("Bộ Tư pháp".as_bytes().to_vec())
    );
    assert_eq!(
        get(store, Table::Agencies, "a"),
        None,
        "a prefix of a key is not the key"
    );
    assert_eq!(get(store, Table::Agencies, "a10"), None);
    store
        .apply(Batch::new().delete(Table::Agencies, "a1"))
        .unwrap();
    assert_eq!(get(store, Table::Agencies, "a1"), None);
    store
        .apply(Batch::new().delete(Table::Agencies, "never"))
        .unwrap();
    store.apply(Batch::new()).unwrap();
    assert!(entries(store, Table::Agencies).is_empty());
}

/// Later writes replace earlier ones, within a batch in op order.
pub fn overwrite(store: &dyn Store) {
    clear(store);
    let t = Table::Dossiers;
    store
        .apply(Batch::new().put(t, "d", "a much longer first value"))
        .unwrap();
    store.apply(Batch::new().put(t, "d", "short")).unwrap();
    assert_eq!(
        get(store, t, "d"),
        Some(b"short".to_vec()),
        "no bytes of the old value remain"
    );
    store
        .apply(Batch::new().put(t, "d", "one").put(t, "d", "two"))
        .unwrap();
    assert_eq!(get(store, t, "d"), Some(b"two".to_vec()));
    store
        .apply(Batch::new().put(t, "d", "three").delete(t, "d"))
        .unwrap();
    assert_eq!(get(store, t, "d"), None, "put then delete in one batch");
    store
        .apply(Batch::new().delete(t, "d").put(t, "d", "four"))
        .unwrap();
    assert_eq!(
        get(store, t, "d"),
        Some(b"four".to_vec()),
        "delete then put in one batch"
    );
    assert_eq!(entries(store, t).len(), 1);
}

/// An empty value is a value, distinct from an absent key.
pub fn empty_values(store: &dyn Store) {
    clear(store);
    let t = Table::Sessions;
    store.apply(Batch::new().put(t, "s", Vec::new())).unwrap();
    assert_eq!(get(store, t, "s"), Some(Vec::new()));
    assert_eq!(entries(store, t), vec![(b"s".to_vec(), Vec::new())]);
    expect_conflict(
        store.apply(Batch::new().if_absent(t, "s").put(t, "s", "x")),
        "if_absent on an empty value",
    );
    expect_conflict(
        store.apply(
            Batch::new()
                .if_equals(t, "none", Vec::new())
                .put(t, "none", "x"),
        ),
        "if_equals(empty) on an absent key",
    );
    assert_eq!(get(store, t, "none"), None);
    store
        .apply(
            Batch::new()
                .if_equals(t, "s", Vec::new())
                .put(t, "s", "filled"),
        )
        .unwrap();
    assert_eq!(get(store, t, "s"), Some(b"filled".to_vec()));
    assert_eq!(count(store, t), 1);
}

/// Keys are arbitrary bytes, ordered bytewise (shorter first on a common prefix).
pub fn binary_keys(store: &dyn Store) {
    clear(store);
    let t = Table::Documents;
    let mut keys_in: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![0, 0],
        vec![0, 0xff],
        vec![1],
        vec![0x7f],
        vec![0x80],
        vec![0xff],
        vec![0xff, 0],
        vec![0xff, 0xff],
        vec![0xff, 0xff, 0xff],
        b"a".to_vec(),
        b"a\0".to_vec(),
        b"a\xff".to_vec(),
        b"b".to_vec(),
        "Hà Nội".as_bytes().to_vec(),
        "Ha Noi".as_bytes().to_vec(),
        noise(7, 32),
        noise(8, 1000),
    ];
    let mut batch = Batch::new();
    for (i, key) in keys_in.iter().enumerate() {
        batch = batch.put(t, key.clone(), format!("v{i}"));
    }
    store.apply(batch).unwrap();
    for (i, key) in keys_in.iter().enumerate() {
        assert_eq!(
            get(store, t, key),
            Some(format!("v{i}").into_bytes()),
            "key {key:?}"
        );
    }
    keys_in.sort();
    assert_eq!(keys(&entries(store, t)), keys_in, "bytewise order");
    assert_eq!(
        keys(&store.scan(t, &[0xff], None, 100).unwrap()),
        vec![
            vec![0xff],
            vec![0xff, 0],
            vec![0xff, 0xff],
            vec![0xff, 0xff, 0xff]
        ],
        "a 0xff prefix"
    );
    assert_eq!(
        keys(
            &store
                .scan(t, &[0xff, 0xff], Some(&[0xff, 0xff]), 100)
                .unwrap()
        ),
        vec![vec![0xff, 0xff, 0xff]]
    );
    assert_eq!(
        keys(&store.scan(t, &[0], None, 100).unwrap()),
        vec![vec![0], vec![0, 0], vec![0, 0xff]]
    );
    store.apply(Batch::new().delete(t, Vec::new())).unwrap();
    assert_eq!(get(store, t, []), None, "the empty key");
    assert_eq!(get(store, t, [0]), Some(b"v1".to_vec()));
}

/// Prefix scans: key order, `after` (present or not), `limit`, paging, empty prefix.
pub fn prefix_scans(store: &dyn Store) {
    clear(store);
    let t = Table::Events;
    let mut all: Vec<Vec<u8>> = Vec::new();
    for d in ["d1", "d2", "d10", "d"] {
        for i in 0..20 {
            all.push(format!("{d}/{i:04}").into_bytes());
        }
    }
    all.push(b"d1".to_vec());
    all.push(b"d1/".to_vec());
    // Insert in a scrambled order, several batches.
    let mut scrambled = all.clone();
    scrambled.sort_by_key(|k| {
        noise(
            k.len() as u64 + k.iter().map(|&b| u64::from(b)).sum::<u64>(),
            8,
        )
    });
    for chunk in scrambled.chunks(13) {
        let mut batch = Batch::new();
        for key in chunk {
            batch = batch.put(t, key.clone(), key.clone());
        }
        store.apply(batch).unwrap();
    }
    all.sort();

    let d1: Vec<Vec<u8>> = (0..20).map(|i| format!("d1/{i:04}").into_bytes()).collect();
    let with_slash: Vec<Vec<u8>> = std::iter::once(b"d1/".to_vec())
        .chain(d1.iter().cloned())
        .collect();
    let scan = |prefix: &[u8], after: Option<&[u8]>, limit: usize| {
        let page = store.scan(t, prefix, after, limit).unwrap();
        for (k, v) in &page {
            assert_eq!(k, v, "values travel with their keys");
        }
        keys(&page)
    };
    assert_eq!(scan(b"d1/", None, 1000), with_slash);
    assert_eq!(scan(b"d1/0", None, 1000), d1);
    assert_eq!(
        scan(b"", None, 10_000),
        all,
        "the empty prefix is the whole table"
    );
    assert_eq!(scan(b"d1/", None, 5), with_slash[..5].to_vec(), "limit");
    assert!(scan(b"d1/", None, 0).is_empty(), "limit 0");
    assert_eq!(
        scan(b"d1/", Some(b"d1/0004"), 3),
        d1[5..8].to_vec(),
        "after a present key"
    );
    assert_eq!(
        scan(b"d1/", Some(b"d1/0004x"), 2),
        d1[5..7].to_vec(),
        "after an absent key"
    );
    assert_eq!(
        scan(b"d1/", Some(b"a"), 2),
        with_slash[..2].to_vec(),
        "after before the prefix"
    );
    assert_eq!(
        scan(b"d1/", Some(b"d1/"), 1),
        d1[..1].to_vec(),
        "after the prefix itself"
    );
    assert!(
        scan(b"d1/", Some(b"d1/0019"), 10).is_empty(),
        "after the last key"
    );
    assert!(
        scan(b"d1/", Some(b"e"), 10).is_empty(),
        "after past the prefix"
    );
    assert!(scan(b"d3", None, 10).is_empty(), "no match");
    assert!(
        scan(b"d1/00199", None, 10).is_empty(),
        "a prefix longer than every key"
    );

    // Paging with `after` visits every key once, in order.
    let mut paged: Vec<Vec<u8>> = Vec::new();
    loop {
        let page = scan(b"d", paged.last().map(Vec::as_slice), 7);
        assert!(page.len() <= 7);
        if page.is_empty() {
            break;
        }
        paged.extend(page);
    }
    assert_eq!(paged, all);

    // A scan sees deletes and inserts between pages.
    store
        .apply(
            Batch::new()
                .delete(t, "d1/0005")
                .put(t, "d1/0005a", "d1/0005a"),
        )
        .unwrap();
    assert_eq!(
        scan(b"d1/", Some(b"d1/0004"), 2),
        vec![b"d1/0005a".to_vec(), b"d1/0006".to_vec()]
    );
}

/// A scan never returns another table's entries, whatever their keys.
pub fn scans_stay_in_their_table(store: &dyn Store) {
    clear(store);
    let mut batch = Batch::new();
    for table in Table::ALL {
        for key in ["", "x", "x/1", "x/2", "y"] {
            batch = batch.put(table, key, format!("{}:{key}", table.name()));
        }
    }
    store.apply(batch).unwrap();
    for table in Table::ALL {
        let page = store.scan(table, b"x", None, 100).unwrap();
        let expected: Vec<(Vec<u8>, Vec<u8>)> = ["x", "x/1", "x/2"]
            .iter()
            .map(|k| {
                (
                    k.as_bytes().to_vec(),
                    format!("{}:{k}", table.name()).into_bytes(),
                )
            })
            .collect();
        assert_eq!(page, expected, "table {}", table.name());
        assert_eq!(entries(store, table).len(), 5, "table {}", table.name());
        let after_last = store.scan(table, b"", Some(b"y"), 100).unwrap();
        assert!(
            after_last.is_empty(),
            "scan past the end of {} leaks",
            table.name()
        );
    }
}

/// The same key in different tables is different data; one batch may touch every table.
pub fn tables_are_independent(store: &dyn Store) {
    clear(store);
    let mut batch = Batch::new();
    for table in Table::ALL {
        batch = batch.put(table, "same", table.name());
    }
    store.apply(batch).unwrap();
    for table in Table::ALL {
        assert_eq!(
            get(store, table, "same"),
            Some(table.name().as_bytes().to_vec())
        );
    }
    store
        .apply(
            Batch::new()
                .delete(Table::Reports, "same")
                .put(Table::ReportIds, "same", "changed"),
        )
        .unwrap();
    for table in Table::ALL {
        let expected = match table {
            Table::Reports => None,
            Table::ReportIds => Some(b"changed".to_vec()),
            _ => Some(table.name().as_bytes().to_vec()),
        };
        assert_eq!(
            get(store, table, "same"),
            expected,
            "table {}",
            table.name()
        );
    }
    // A condition on one table says nothing about another.
    store
        .apply(
            Batch::new()
                .if_absent(Table::Reports, "same")
                .put(Table::Reports, "same", "back"),
        )
        .unwrap();
    expect_conflict(
        store.apply(
            Batch::new()
                .if_absent(Table::Latest, "same")
                .put(Table::Latest, "same", "x"),
        ),
        "if_absent on another table's key",
    );
}

/// A batch whose condition fails writes nothing, wherever the condition sits.
pub fn failed_condition_writes_nothing(store: &dyn Store) {
    clear(store);
    store
        .apply(
            Batch::new()
                .put(Table::Dossiers, "d1", "draft")
                .put(Table::Users, "u1", "admin"),
        )
        .unwrap();
    let before = dump(store);
    let ops = |b: Batch| {
        b.put(Table::Dossiers, "d2", "new")
            .put(Table::Events, "d1/e1", "event")
            .delete(Table::Users, "u1")
            .put(Table::Dossiers, "d1", "approved")
            .delete(Table::Dossiers, "d1")
            .put(Table::Meta, "counter", "1")
    };
    // The failing condition first, last, and beside ones that hold.
    let attempts = [
        ops(Batch::new().if_absent(Table::Dossiers, "d1")),
        ops(Batch::new()).if_equals(Table::Dossiers, "d1", "submitted"),
        ops(Batch::new())
            .if_absent(Table::Dossiers, "d2")
            .if_equals(Table::Users, "u1", "admin")
            .if_equals(Table::Meta, "counter", "0"),
        ops(Batch::new())
            .if_equals(Table::Users, "u1", "admin")
            .if_absent(Table::Users, "u1"),
    ];
    for (i, batch) in attempts.into_iter().enumerate() {
        expect_conflict(store.apply(batch), &format!("attempt {i}"));
        assert_eq!(dump(store), before, "attempt {i} changed the store");
    }
    // With conditions that hold, the same ops apply; conditions see the state before the batch.
    store
        .apply(
            ops(Batch::new())
                .if_absent(Table::Dossiers, "d2")
                .if_equals(Table::Dossiers, "d1", "draft")
                .if_absent(Table::Meta, "counter"),
        )
        .unwrap();
    assert_eq!(get(store, Table::Dossiers, "d1"), None);
    assert_eq!(get(store, Table::Dossiers, "d2"), Some(b"new".to_vec()));
    assert_eq!(get(store, Table::Users, "u1"), None);
    assert_eq!(get(store, Table::Meta, "counter"), Some(b"1".to_vec()));
    store
        .apply(
            Batch::new()
                .put(Table::Agencies, "k", "v")
                .if_absent(Table::Agencies, "k"),
        )
        .unwrap();
}

/// Thousands of ops in one batch land together or not at all.
pub fn large_batches_are_all_or_nothing(store: &dyn Store) {
    clear(store);
    let batch = |n: usize| {
        let mut b = Batch::new();
        for i in 0..n {
            b = b
                .put(Table::Reports, format!("t/{i:05}"), noise(i as u64, 200))
                .put(Table::ReportIds, format!("{i:05}"), format!("t/{i:05}"))
                .put(Table::Latest, format!("t{}", i % 10), format!("{i}"));
        }
        b
    };
    expect_conflict(
        store.apply(
            batch(2000)
                .if_absent(Table::Meta, "x")
                .put(Table::Meta, "x", "1")
                .if_equals(Table::Meta, "never", "set"),
        ),
        "a large batch with a failing condition",
    );
    for table in Table::ALL {
        assert_eq!(
            count(store, table),
            0,
            "table {} after the failed batch",
            table.name()
        );
    }
    store.apply(batch(2000)).unwrap();
    assert_eq!(count(store, Table::Reports), 2000);
    assert_eq!(count(store, Table::ReportIds), 2000);
    assert_eq!(count(store, Table::Latest), 10);
    assert_eq!(
        get(store, Table::Latest, "t9"),
        Some(b"1999".to_vec()),
        "the last put wins"
    );
    assert_eq!(
        get(store, Table::Reports, "t/01234"),
        Some(noise(1234, 200))
    );
}

/// The second insert of the same id is a conflict and changes nothing.
pub fn idempotent_insert(store: &dyn Store) {
    clear(store);
    let ingest = |report_id: &str, target: &str, body: &str| {
        store.apply(
            Batch::new()
                .if_absent(Table::ReportIds, report_id)
                .put(Table::ReportIds, report_id, target)
                .put(Table::Reports, format!("{target}/{report_id}"), body)
                .put(Table::Latest, target, report_id),
        )
    };
    ingest("r1", "example.gov.vn", "first").unwrap();
    let before = dump(store);
    expect_conflict(
        ingest("r1", "example.gov.vn", "second"),
        "a replayed report",
    );
    expect_conflict(
        ingest("r1", "other.gov.vn", "third"),
        "a replayed id for another target",
    );
    assert_eq!(dump(store), before);
    ingest("r2", "example.gov.vn", "second").unwrap();
    assert_eq!(
        get(store, Table::Latest, "example.gov.vn"),
        Some(b"r2".to_vec())
    );
    assert_eq!(count(store, Table::Reports), 2);
}

/// `Equals` guards workflow transitions (optimistic concurrency).
pub fn compare_and_set(store: &dyn Store) {
    clear(store);
    let t = Table::Dossiers;
    store
        .apply(Batch::new().if_absent(t, "d1").put(t, "d1", "draft"))
        .unwrap();
    let transition =
        |from: &str, to: &str| store.apply(Batch::new().if_equals(t, "d1", from).put(t, "d1", to));
    transition("draft", "submitted").unwrap();
    expect_conflict(transition("draft", "submitted"), "a stale transition");
    expect_conflict(transition("draf", "x"), "a prefix of the value");
    expect_conflict(transition("submitted ", "x"), "a longer value");
    assert_eq!(get(store, t, "d1"), Some(b"submitted".to_vec()));
    transition("submitted", "approved").unwrap();
    expect_conflict(
        store.apply(Batch::new().if_equals(t, "d9", "draft").put(t, "d9", "x")),
        "if_equals on an absent key",
    );
    store
        .apply(Batch::new().if_equals(t, "d1", "approved").delete(t, "d1"))
        .unwrap();
    assert_eq!(get(store, t, "d1"), None);
    assert_eq!(get(store, t, "d9"), None);
}

/// Values of 1 MiB (documents, large reports).
pub fn large_values(store: &dyn Store) {
    clear(store);
    const MIB: usize = 1 << 20;
    let t = Table::Documents;
    store
        .apply(Batch::new().put(t, "doc1", noise(1, MIB)))
        .unwrap();
    assert_eq!(get(store, t, "doc1"), Some(noise(1, MIB)));
    store
        .apply(Batch::new().put(t, "doc1", noise(2, MIB + 1)))
        .unwrap();
    assert_eq!(get(store, t, "doc1"), Some(noise(2, MIB + 1)));
    store
        .apply(
            Batch::new()
                .put(t, "doc2", noise(3, MIB))
                .put(t, "doc3", noise(4, MIB))
                .put(t, "doc4", noise(5, 10)),
        )
        .unwrap();
    let page = store.scan(t, b"doc", Some(b"doc1"), 10).unwrap();
    assert_eq!(page.len(), 3);
    assert_eq!(page[0], (b"doc2".to_vec(), noise(3, MIB)));
    assert_eq!(page[1], (b"doc3".to_vec(), noise(4, MIB)));
    store
        .apply(
            Batch::new()
                .if_equals(t, "doc3", noise(4, MIB))
                .delete(t, "doc3"),
        )
        .unwrap();
    expect_conflict(
        store.apply(
            Batch::new()
                .if_equals(t, "doc2", noise(3, MIB - 1))
                .delete(t, "doc2"),
        ),
        "if_equals with a 1 MiB value that differs",
    );
    assert_eq!(count(store, t), 3);
}

/// 10,000 keys: order, paging, point reads, counts, deletes.
pub fn many_keys(store: &dyn Store) {
    clear(store);
    let t = Table::Events;
    const N: usize = 10_000;
    // Insert interleaved (evens, then odds) so the order is the store's doing.
    let order: Vec<usize> = (0..N).step_by(2).chain((1..N).step_by(2)).collect();
    for chunk in order.chunks(500) {
        let mut batch = Batch::new();
        for &i in chunk {
            batch = batch.put(t, format!("d/{i:05}"), format!("event {i}"));
        }
        store.apply(batch).unwrap();
    }
    let all = entries(store, t);
    assert_eq!(all.len(), N);
    for (i, (k, v)) in all.iter().enumerate() {
        assert_eq!(k, format!("d/{i:05}").as_bytes());
        assert_eq!(v, format!("event {i}").as_bytes());
    }
    for i in [0, 1, 4999, 9998, 9999] {
        assert_eq!(
            get(store, t, format!("d/{i:05}")),
            Some(format!("event {i}").into_bytes())
        );
    }
    assert_eq!(store.scan(t, b"d/09", None, N).unwrap().len(), 1000);
    assert_eq!(count(store, t), N as u64);
    for chunk in (0..N).step_by(2).collect::<Vec<_>>().chunks(1000) {
        let mut batch = Batch::new();
        for &i in chunk {
            batch = batch.delete(t, format!("d/{i:05}"));
        }
        store.apply(batch).unwrap();
    }
    assert_eq!(count(store, t), (N / 2) as u64);
    let odd = store.scan(t, b"d/", None, 3).unwrap();
    assert_eq!(
        keys(&odd),
        vec![
            b"d/00001".to_vec(),
            b"d/00003".to_vec(),
            b"d/00005".to_vec()
        ]
    );
}

/// `stats` lists every table once, in [`Table::ALL`] order, with exact counts.
pub fn stats_counts(store: &dyn Store) {
    clear(store);
    let stats = store.stats().unwrap();
    assert_eq!(
        stats.entries,
        Table::ALL.into_iter().map(|t| (t, 0)).collect::<Vec<_>>(),
        "an empty store"
    );
    store
        .apply(
            Batch::new()
                .put(Table::Users, "a", "1")
                .put(Table::Users, "b", "2")
                .put(Table::Tokens, "t", "3")
                .put(Table::Users, "a", "overwritten"),
        )
        .unwrap();
    store
        .apply(
            Batch::new()
                .delete(Table::Tokens, "t")
                .delete(Table::Tokens, "absent"),
        )
        .unwrap();
    let stats = store.stats().unwrap();
    let expected: Vec<(Table, u64)> = Table::ALL
        .into_iter()
        .map(|t| (t, if t == Table::Users { 2 } else { 0 }))
        .collect();
    assert_eq!(stats.entries, expected);
    if store.engine() == "memory" {
        assert_eq!(stats.size_bytes, 0);
    } else {
        assert!(stats.size_bytes > 0, "a file backend reports its size");
    }
}

/// Threads share one store: compare-and-set increments never lose an update, and readers
/// see whole batches only.
pub fn concurrent_writers(store: &dyn Store) {
    clear(store);
    const THREADS: usize = 4;
    const INCREMENTS: usize = 15;
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            scope.spawn(move || {
                for i in 0..INCREMENTS {
                    loop {
                        let current = store.get(Table::Meta, b"counter").unwrap();
                        let next = current
                            .as_deref()
                            .map(|v| std::str::from_utf8(v).unwrap().parse::<usize>().unwrap() + 1)
                            .unwrap_or(1);
                        let batch = match &current {
                            Some(v) => Batch::new().if_equals(Table::Meta, "counter", v.clone()),
                            None => Batch::new().if_absent(Table::Meta, "counter"),
                        }
                        .put(Table::Meta, "counter", next.to_string())
                        .put(Table::Events, format!("{next:04}"), format!("{thread}/{i}"))
                        .put(
                            Table::Reports,
                            format!("{next:04}"),
                            format!("{thread}/{i}"),
                        );
                        match store.apply(batch) {
                            Ok(()) => break,
                            Err(StoreError::Conflict(_)) => continue,
                            Err(e) => panic!("unexpected error: {e}"),
                        }
                    }
                }
            });
        }
        scope.spawn(|| {
            // A reader: Events and Reports are written together, so a scan of both at one
            // moment may differ by batches in flight, never by a half batch inside one table.
            for _ in 0..20 {
                let events = entries(store, Table::Events);
                for (k, v) in &events {
                    assert_eq!(v.split(|&b| b == b'/').count(), 2, "value of {k:?}");
                }
            }
        });
    });
    let total = THREADS * INCREMENTS;
    assert_eq!(
        get(store, Table::Meta, "counter"),
        Some(total.to_string().into_bytes())
    );
    let events = entries(store, Table::Events);
    assert_eq!(
        events.len(),
        total,
        "every increment wrote its event exactly once"
    );
    assert_eq!(events, entries(store, Table::Reports));
}

/// A backup taken while another thread writes is a consistent snapshot that reopens with
/// identical contents; the destination must not exist; the store keeps working.
pub fn backup_roundtrip(store: &dyn Store, dest: &Path, reopen: Reopen<'_>) {
    clear(store);
    // Fixed contents in every table but Events, which a writer changes during the backup.
    let mut batch = Batch::new();
    for table in Table::ALL.into_iter().filter(|t| *t != Table::Events) {
        for i in 0..100u64 {
            batch = batch.put(table, i.to_be_bytes(), noise(i, (i as usize * 37) % 3000));
        }
    }
    batch = batch
        .put(Table::Documents, "big", noise(99, 1 << 20))
        .put(Table::Documents, Vec::new(), Vec::new())
        .put(Table::Documents, [0xff, 0xff], "ff");
    store.apply(batch).unwrap();
    let fixed = dump(store);

    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            // Each batch writes `a/n` and `b/n` together and moves `latest` to n.
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || n < 5 {
                let key = |side: &str| format!("{side}/{n:08}");
                store
                    .apply(
                        Batch::new()
                            .put(Table::Events, key("a"), n.to_string())
                            .put(Table::Events, key("b"), n.to_string())
                            .put(Table::Events, "latest", n.to_string()),
                    )
                    .unwrap();
                n += 1;
            }
            n
        });
        // Let the writer start, then back up while it runs.
        while get(store, Table::Events, "latest").is_none() {
            std::thread::yield_now();
        }
        store.backup(dest).expect("backup");
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let written = writer.join().unwrap();
        assert!(written >= 5);
    });

    assert!(
        store.backup(dest).is_err(),
        "a backup never overwrites an existing destination"
    );
    let copy = reopen(dest).expect("the backup reopens");
    let copied = dump(&*copy);
    for table in Table::ALL.into_iter().filter(|t| *t != Table::Events) {
        assert_eq!(
            copied[&table],
            fixed[&table],
            "table {} in the backup",
            table.name()
        );
    }
    // The snapshot holds batches 0..=latest, each whole.
    let events = &copied[&Table::Events];
    let latest: u64 = std::str::from_utf8(
        &events
            .iter()
            .find(|(k, _)| k == b"latest")
            .expect("latest in the backup")
            .1,
    )
    .unwrap()
    .parse()
    .unwrap();
    assert_eq!(
        events.len() as u64,
        2 * (latest + 1) + 1,
        "whole batches 0..={latest}"
    );
    for n in 0..=latest {
        for side in ["a", "b"] {
            let key = format!("{side}/{n:08}");
            assert!(
                events
                    .iter()
                    .any(|(k, v)| k == key.as_bytes() && v == n.to_string().as_bytes()),
                "{key} missing from the backup"
            );
        }
    }
    assert_eq!(copy.stats().unwrap().entries.len(), Table::ALL.len());
    drop(copy);

    // The original keeps serving.
    store
        .apply(Batch::new().put(Table::Meta, "after", "backup"))
        .unwrap();
    assert_eq!(get(store, Table::Meta, "after"), Some(b"backup".to_vec()));
}
