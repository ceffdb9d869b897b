//! Model test against `BTreeMap`: inserts, removes, range removals, gets, ranges in both directions with every
//! bound kind, long keys and values (overflow pages), commits, rollbacks, and committed
//! snapshots that must never change, values compressed or not (the setting switched
//! mid-run, so stored forms mix). The integrity check runs after every step.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use folio_btree::{BTree, BTreeMut, Compression, check_tree};
use folio_io::MemoryStorage;
use folio_pagestore::{PageStore, PageStoreOptions};
use proptest::prelude::*;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Debug, Clone)]
enum Op {
    Insert(Vec<u8>, usize),
    Remove(Vec<u8>),
    Get(Vec<u8>),
    Range(Bound<Vec<u8>>, Bound<Vec<u8>>, bool),
    Commit,
    Rollback,
    Savepoint,
    RollbackTo(usize),
    SetCompression(usize),
    /// Puts (`Some(value length)`) and removals in key order through `apply_sorted_run`.
    SortedRun(Vec<(Vec<u8>, Option<usize>)>),
    /// Every key in the bounds, through `remove_range`.
    RemoveRange(Bound<Vec<u8>>, Bound<Vec<u8>>),
    /// Puts through `put_in_order` with one `OrderHint` kept for the whole case, so every
    /// other operation (commits, rollbacks, removals, splits) comes between its calls.
    PutInOrder(Vec<(Vec<u8>, usize)>),
}

const COMPRESSIONS: [Compression; 3] = [
    Compression::None,
    Compression::Lz4,
    Compression::Zstd { level: 1 },
];

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::collection::vec(0u8..4, 1..5),          // dense: many collisions
        3 => prop::collection::vec(any::<u8>(), 0..40),     // varied
        1 => prop::collection::vec(0u8..2, 500..1500),      // overflow keys (> 511 bytes)
    ]
}

fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
    prop_oneof![
        key().prop_map(Bound::Included),
        key().prop_map(Bound::Excluded),
        Just(Bound::Unbounded),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (key(), prop_oneof![8 => 0usize..200, 2 => 200usize..3000]).prop_map(|(k, n)| Op::Insert(k, n)),
        4 => key().prop_map(Op::Remove),
        2 => key().prop_map(Op::Get),
        2 => (bound(), bound(), any::<bool>()).prop_map(|(s, e, r)| Op::Range(s, e, r)),
        1 => (bound(), bound()).prop_map(|(s, e)| Op::RemoveRange(s, e)),
        2 => prop::collection::vec((key(), prop_oneof![8 => 0usize..200, 1 => 200usize..3000]), 1..60)
            .prop_map(|mut run| {
                // Mostly increasing, as a load is: sorted, with a few keys moved.
                run.sort_by(|a, b| a.0.cmp(&b.0));
                if run.len() > 4 {
                    run.swap(1, 3);
                }
                Op::PutInOrder(run)
            }),
        2 => Just(Op::Commit),
        1 => Just(Op::Rollback),
        1 => Just(Op::Savepoint),
        1 => any::<usize>().prop_map(Op::RollbackTo),
        1 => (0..COMPRESSIONS.len()).prop_map(Op::SetCompression),
        2 => prop::collection::vec((key(), prop::option::weighted(0.85, prop_oneof![8 => 0usize..200, 1 => 200usize..3000])), 1..120)
            .prop_map(|mut run| {
                run.sort_by(|a, b| a.0.cmp(&b.0));
                run.dedup_by(|a, b| a.0 == b.0);
                Op::SortedRun(run)
            }),
    ]
}

/// False when the bounds hold no key (`BTreeMap::range` panics on those).
fn valid_bounds(start: &Bound<Vec<u8>>, end: &Bound<Vec<u8>>) -> bool {
    match (start, end) {
        (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) => {
            s < e || (s == e && matches!((start, end), (Bound::Included(_), Bound::Included(_))))
        }
        _ => true,
    }
}

fn value(key: &[u8], len: usize, salt: u64) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u64 ^ salt ^ key.len() as u64) as u8)
        .collect()
}

fn collect(range: folio_btree::Range) -> Vec<(Vec<u8>, Vec<u8>)> {
    range
        .map(|e| e.map(|(k, v)| (k, v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Everything a lending cursor yields, copied.
fn drain(mut cursor: folio_btree::Cursor) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(entry) = cursor.next() {
        let (key, value) = entry.unwrap();
        out.push((key.to_vec(), value.to_vec()));
    }
    out
}

fn check_view(view: &BTree, model: &Model) {
    let expected: Vec<(Vec<u8>, Vec<u8>)> =
        model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(collect(view.iter()), expected);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]
    #[test]
    fn btree_matches_btreemap(ops in prop::collection::vec(op(), 1..40), first_compression in 0..COMPRESSIONS.len()) {
        let store = PageStore::create(Arc::new(MemoryStorage::new()), PageStoreOptions::default()).unwrap();
        let mut tree = BTreeMut::new(store.writer(), None, 0);
        tree.set_compression(COMPRESSIONS[first_compression]);
        let mut model = Model::new();
        let mut committed = Model::new();
        let mut snapshots: Vec<(BTree, Model)> = Vec::new();
        let mut savepoints: Vec<(folio_btree::TreeSavepoint, Model)> = Vec::new();
        let mut version = 0;
        let mut order = folio_btree::OrderHint::default();
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                Op::Insert(key, len) => {
                    let value = value(&key, len, step as u64);
                    let old = tree.insert(&key, &value).unwrap();
                    prop_assert_eq!(old, model.insert(key, value));
                }
                Op::Remove(key) => {
                    prop_assert_eq!(tree.remove(&key).unwrap(), model.remove(&key));
                }
                Op::Get(key) => {
                    let got = tree.get(&key).unwrap().map(|v| v.to_vec());
                    prop_assert_eq!(got.as_ref(), model.get(&key));
                }
                Op::PutInOrder(run) => {
                    for (key, len) in run {
                        let value = value(&key, len, step as u64);
                        let found = tree.put_in_order(&key, &value, &mut order).unwrap();
                        prop_assert_eq!(found, model.insert(key, value).is_some());
                    }
                }
                Op::RemoveRange(start, end) => {
                    let doomed: Vec<Vec<u8>> = if valid_bounds(&start, &end) {
                        model.range::<Vec<u8>, _>((start.clone(), end.clone())).map(|(k, _)| k.clone()).collect()
                    } else {
                        Vec::new()
                    };
                    let removed = tree.remove_range(&(start, end)).unwrap();
                    prop_assert_eq!(removed, doomed.len() as u64);
                    for key in doomed {
                        model.remove(&key);
                    }
                }
                Op::Range(start, end, reverse) => {
                    let valid = valid_bounds(&start, &end);
                    let bounds = (start.clone(), end.clone());
                    let view = tree.view();
                    let got = if reverse { collect(view.range_rev(bounds.clone())) } else { collect(view.range(bounds.clone())) };
                    let lent = if reverse { drain(view.cursor_rev(bounds)) } else { drain(view.cursor(bounds)) };
                    prop_assert_eq!(&lent, &got, "the cursor and the range disagree");
                    let mut expected: Vec<(Vec<u8>, Vec<u8>)> = if valid {
                        model.range::<Vec<u8>, _>((start.clone(), end.clone())).map(|(k, v)| (k.clone(), v.clone())).collect()
                    } else {
                        Vec::new()
                    };
                    if reverse {
                        expected.reverse();
                    }
                    prop_assert_eq!(got, expected);
                }
                Op::Commit => {
                    version += 1;
                    tree.commit(version);
                    committed = model.clone();
                    snapshots.push((BTree::new(store.clone(), tree.root()), model.clone()));
                    if snapshots.len() > 3 {
                        snapshots.remove(0);
                    }
                    savepoints.clear();
                }
                Op::Rollback => {
                    tree.rollback();
                    model = committed.clone();
                    savepoints.clear();
                }
                Op::Savepoint => {
                    savepoints.push((tree.savepoint(), model.clone()));
                }
                Op::SetCompression(pick) => tree.set_compression(COMPRESSIONS[pick]),
                Op::SortedRun(run) => {
                    let values: Vec<(Vec<u8>, Option<Vec<u8>>)> = run
                        .into_iter()
                        .map(|(key, len)| {
                            let value = len.map(|len| value(&key, len, step as u64));
                            (key, value)
                        })
                        .collect();
                    tree.apply_sorted_run(values.iter().map(|(k, v)| (&k[..], v.as_deref())))
                        .unwrap();
                    for (key, value) in values {
                        match value {
                            Some(value) => {
                                model.insert(key, value);
                            }
                            None => {
                                model.remove(&key);
                            }
                        }
                    }
                }
                Op::RollbackTo(pick) => {
                    if !savepoints.is_empty() {
                        let index = pick % savepoints.len();
                        // Later savepoints are gone once we roll back past them.
                        savepoints.truncate(index + 1);
                        let (savepoint, saved) = &savepoints[index];
                        tree.rollback_to(savepoint);
                        model = saved.clone();
                    }
                }
            }
            prop_assert_eq!(tree.len(), model.len() as u64);
            let report = tree.check().unwrap();
            prop_assert_eq!(report.entries, model.len() as u64);
            prop_assert_eq!(report.value_bytes, model.values().map(|v| v.len() as u64).sum::<u64>());
        }
        check_view(&tree.view(), &model);
        // Snapshots of earlier commits never change, whatever came after.
        for (view, expected) in &snapshots {
            check_view(view, expected);
            check_tree(&store, view.root()).unwrap();
        }
    }
}

/// Found by the model above (a CI run): a savepoint froze the leaf an `OrderHint` named,
/// and the next ordered put edited it in place instead of copying it (a panic: the page
/// was no longer the transaction's own to edit). Savepoints now void hints; rolling back
/// to the savepoint must also undo the put.
#[test]
fn a_savepoint_between_ordered_puts_voids_the_hint() {
    let store =
        PageStore::create(Arc::new(MemoryStorage::new()), PageStoreOptions::default()).unwrap();
    let mut tree = BTreeMut::new(store.writer(), None, 0);
    let mut order = folio_btree::OrderHint::default();
    tree.insert(&[0], b"0").unwrap();
    tree.put_in_order(&[0, 0], b"1", &mut order).unwrap();
    let savepoint = tree.savepoint();
    tree.put_in_order(&[1], b"2", &mut order).unwrap();
    assert_eq!(tree.get(&[1]).unwrap().as_deref(), Some(&b"2"[..]));
    tree.rollback_to(&savepoint);
    assert!(
        tree.get(&[1]).unwrap().is_none(),
        "the put after the savepoint is undone"
    );
    assert_eq!(tree.get(&[0, 0]).unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(tree.len(), 2);
}
