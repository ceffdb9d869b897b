//! The database on a real directory, whose clean pages are read through a memory map of the
//! data file: snapshots stay exact while commits, checkpoints and compactions reuse pages
//! (docs/invariants.md, invariant 5, with borrowed bytes), values outlive their snapshots unchanged, and a
//! model of random operations (with reopens, held snapshots and compactions) matches.

use std::collections::BTreeMap;

use folio::{Database, DatabaseOptions};
use proptest::prelude::*;

type Entries = BTreeMap<Vec<u8>, Vec<u8>>;

/// A cache of 32 pages: pages a checkpoint wrote leave it soon, and are read back through
/// the map (with a large cache they would be read from the cache for as long as it holds
/// them).
fn options() -> DatabaseOptions {
    let mut options = DatabaseOptions {
        checkpoint_interval: None,
        ..DatabaseOptions::default()
    };
    options.page_store.cache_bytes_max = 32 * 4096;
    options
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

/// A value naming its key and round, long enough that a few thousand fill many leaves.
fn value(i: u32, round: u32) -> Vec<u8> {
    let mut value = format!("{i}:{round}:").into_bytes();
    value.resize(100 + (i as usize % 50), b'0' + (round % 10) as u8);
    value
}

fn contents(read: &folio::ReadTransaction) -> Entries {
    read.tree("t")
        .unwrap()
        .iter()
        .map(|e| e.map(|(k, v)| (k, v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap()
}

fn write_round(db: &Database, keys: u32, round: u32) {
    let mut txn = db.begin_write(&["t"]).unwrap();
    for i in 0..keys {
        txn.put("t", &key(i), &value(i, round)).unwrap();
    }
    txn.commit().unwrap();
}

#[test]
fn snapshots_and_values_stay_exact_while_mapped_pages_are_reused() {
    const KEYS: u32 = 3_000;
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_with(dir.path(), options()).unwrap();
    assert!(
        db.stats().page_store.memory_mapped,
        "a plain real file is mapped"
    );
    db.create_cf("t").unwrap();
    write_round(&db, KEYS, 0);
    db.checkpoint().unwrap();
    // Read everything once: the pages are now served by the map under verified bits.
    let held = db.begin_read();
    let seen = contents(&held);
    let kept_value = held.get("t", &key(7)).unwrap().unwrap();
    assert_eq!(&*kept_value, &value(7, 0)[..]);
    assert!(
        db.stats().page_store.cache.pages < 40,
        "most pages come from the map"
    );

    std::thread::scope(|scope| {
        let readers: Vec<_> = (0..2u32)
            .map(|t| {
                let db = &db;
                scope.spawn(move || {
                    let mut rng = fastrand::Rng::with_seed(u64::from(t));
                    for _ in 0..4_000 {
                        let read = db.begin_read();
                        let i = rng.u32(0..KEYS);
                        let got = read.get("t", &key(i)).unwrap().unwrap();
                        let text = String::from_utf8_lossy(&got[..12]).into_owned();
                        assert!(
                            text.starts_with(&format!("{i}:")),
                            "key {i} read another key's value: {text}"
                        );
                    }
                })
            })
            .collect();
        for round in 1..=12 {
            write_round(&db, KEYS, round);
            db.checkpoint().unwrap();
            if round % 4 == 0 {
                db.compact().unwrap();
            }
            assert_eq!(
                contents(&held),
                seen,
                "round {round}: the held snapshot changed"
            );
        }
        for reader in readers {
            reader.join().unwrap();
        }
    });
    drop(held);
    // With the snapshot gone its pages are reused; the value read from it stays as it was.
    for round in 13..=16 {
        write_round(&db, KEYS, round);
        db.checkpoint().unwrap();
    }
    db.compact().unwrap();
    assert_eq!(
        &*kept_value,
        &value(7, 0)[..],
        "a value outlives its snapshot"
    );
    let read = db.begin_read();
    let expected: Entries = (0..KEYS).map(|i| (key(i), value(i, 16))).collect();
    assert_eq!(contents(&read), expected);
    assert!(db.check_integrity().unwrap().is_ok());
}

#[derive(Debug, Clone)]
enum Op {
    Put(u16, u8),
    Delete(u16),
    Commit,
    Checkpoint,
    Compact,
    Hold,
    CheckHeld,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => (0u16..600, any::<u8>()).prop_map(|(k, v)| Op::Put(k, v)),
        8 => (0u16..600).prop_map(Op::Delete),
        6 => Just(Op::Commit),
        3 => Just(Op::Checkpoint),
        1 => Just(Op::Compact),
        2 => Just(Op::Hold),
        2 => Just(Op::CheckHeld),
        1 => Just(Op::Reopen),
    ]
}

fn model_value(k: u16, v: u8) -> Vec<u8> {
    vec![v; 40 + usize::from(k) % 200]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Random writes, commits, checkpoints, compactions and reopens on a real directory; held
    /// snapshots must keep their contents, and the database must match the model.
    #[test]
    fn mapped_database_matches_model(ops in prop::collection::vec(op(), 1..120)) {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Database::open_with(dir.path(), options()).unwrap();
        db.create_cf("t").unwrap();
        let mut model = Entries::new();
        let mut pending: Vec<(u16, Option<u8>)> = Vec::new();
        let mut held: Option<(folio::ReadTransaction, Entries)> = None;
        for op in ops {
            match op {
                Op::Put(k, v) => pending.push((k, Some(v))),
                Op::Delete(k) => pending.push((k, None)),
                Op::Commit => {
                    let mut txn = db.begin_write(&["t"]).unwrap();
                    for (k, v) in pending.drain(..) {
                        let key = k.to_be_bytes().to_vec();
                        if let Some(v) = v {
                            txn.put("t", &key, &model_value(k, v)).unwrap();
                            model.insert(key, model_value(k, v));
                        } else {
                            txn.delete("t", &key).unwrap();
                            model.remove(&key);
                        }
                    }
                    txn.commit().unwrap();
                }
                Op::Checkpoint => { db.checkpoint().unwrap(); }
                Op::Compact => { db.compact().unwrap(); }
                Op::Hold => {
                    let read = db.begin_read();
                    let seen = contents(&read);
                    prop_assert_eq!(&seen, &model);
                    held = Some((read, seen));
                }
                Op::CheckHeld => {
                    if let Some((read, seen)) = &held {
                        prop_assert_eq!(&contents(read), seen);
                    }
                }
                Op::Reopen => {
                    held = None;
                    db.close().unwrap();
                    db = Database::open_with(dir.path(), options()).unwrap();
                }
            }
        }
        if let Some((read, seen)) = &held {
            prop_assert_eq!(&contents(read), seen);
        }
        prop_assert_eq!(contents(&db.begin_read()), model);
        prop_assert!(db.check_integrity().unwrap().is_ok());
    }
}
