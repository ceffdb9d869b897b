//! Model test for deep trees: long runs of inserts and removals with values large enough
//! that leaves hold a handful of entries, so branches split and merge at several levels,
//! with long keys (overflow separators) mixed in, savepoints, commits and rollbacks, against
//! a `BTreeMap`. The integrity check (order, separators, balanced depth, fill, overflow
//! chains, no page reached twice) runs every few dozen steps and at the end. Half the cases
//! bound the transaction's memory to a few pages, so it spills pages to the file and reads
//! them back all the time.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use folio_btree::{BTree, BTreeMut, SpillPolicy, check_tree};
use folio_io::MemoryStorage;
use folio_pagestore::{PageStore, PageStoreOptions};
use proptest::prelude::*;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Debug, Clone)]
enum Op {
    /// Inserts `count` keys from `start` with a stride (a burst that fills leaves); with
    /// `in_order`, through `put_in_order` with one `OrderHint` kept for the whole case, so
    /// spills, savepoints and removals come between a hint and its next use.
    InsertRun {
        start: u16,
        count: u16,
        stride: u16,
        len: u16,
        in_order: bool,
    },
    /// Removes `count` keys from `start` with a stride (a burst that empties leaves).
    RemoveRun {
        start: u16,
        count: u16,
        stride: u16,
    },
    /// One long key (its separator may go to overflow pages).
    InsertLong(u16, u16),
    /// Every key from `start` to `start + span` (inclusive; wrapping: then two ranges)
    /// through `remove_range`: whole subtrees freed, the two boundary paths edited.
    RemoveRange {
        start: u16,
        span: u16,
    },
    /// The keys of an `InsertRun` in increasing order through `apply_sorted_run`, every
    /// `delete_every`-th one a removal: in deep trees a run crosses branches at several
    /// levels, so its descents start from branches of the previous leaf's path.
    SortedRun {
        start: u16,
        count: u16,
        stride: u16,
        len: u16,
        delete_every: u16,
    },
    Commit,
    Rollback,
    Savepoint,
    RollbackToLast,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        // Values from a few bytes to past the largest a leaf holds inline (about 2 KB).
        6 => (any::<u16>(), 1u16..2500, 1u16..12, prop_oneof![3 => 0u16..900, 1 => 900u16..2100], any::<bool>())
            .prop_map(|(start, count, stride, len, in_order)| Op::InsertRun { start, count, stride, len, in_order }),
        4 => (any::<u16>(), 1u16..4000, 1u16..12)
            .prop_map(|(start, count, stride)| Op::RemoveRun { start, count, stride }),
        1 => (any::<u16>(), 400u16..2000).prop_map(|(k, len)| Op::InsertLong(k, len)),
        2 => (any::<u16>(), prop_oneof![0u16..64, 64u16..20_000]).prop_map(|(start, span)| Op::RemoveRange { start, span }),
        4 => (any::<u16>(), 1u16..3000, 1u16..40, 0u16..900, 0u16..8).prop_map(
            |(start, count, stride, len, delete_every)| Op::SortedRun { start, count, stride, len, delete_every }
        ),
        2 => Just(Op::Commit),
        1 => Just(Op::Rollback),
        1 => Just(Op::Savepoint),
        1 => Just(Op::RollbackToLast),
    ]
}

fn key(n: u16) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

fn long_key(n: u16, len: u16) -> Vec<u8> {
    let mut key = key(n);
    key.resize(usize::from(len), n as u8);
    key
}

fn value(n: u16, len: u16, step: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (u32::from(i) ^ u32::from(n) ^ step as u32) as u8)
        .collect()
}

fn contents(view: &BTree<'_>) -> Model {
    view.iter()
        .map(|e| e.map(|(k, v)| (k, v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn deep_trees_match_btreemap(
        ops in prop::collection::vec(op(), 1..40),
        spill_pages in prop_oneof![Just(None), (1usize..48).prop_map(Some)],
    ) {
        let store = PageStore::create(Arc::new(MemoryStorage::new()), PageStoreOptions::default()).unwrap();
        let mut tree = BTreeMut::new(store.writer(), None, 0);
        tree.set_spill_policy(spill_pages.map(|pages| SpillPolicy {
            bound_bytes: pages * store.page_size(),
            floor_bytes: 0,
        }));
        let mut model = Model::new();
        let mut committed = Model::new();
        let mut savepoints: Vec<(folio_btree::TreeSavepoint, Model)> = Vec::new();
        let mut snapshot: Option<(BTree<'static>, Model)> = None;
        let mut version = 0;
        let mut max_depth = 0;
        let mut order = folio_btree::OrderHint::default();
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                Op::InsertRun { start, count, stride, len, in_order } => {
                    for i in 0..count {
                        let n = start.wrapping_add(i.wrapping_mul(stride));
                        let value = value(n, len, step);
                        if in_order {
                            let found = tree.put_in_order(&key(n), &value, &mut order).unwrap();
                            prop_assert_eq!(found, model.insert(key(n), value).is_some());
                        } else {
                            let old = tree.insert(&key(n), &value).unwrap();
                            prop_assert_eq!(old, model.insert(key(n), value));
                        }
                    }
                }
                Op::RemoveRun { start, count, stride } => {
                    for i in 0..count {
                        let n = start.wrapping_add(i.wrapping_mul(stride));
                        prop_assert_eq!(tree.remove(&key(n)).unwrap(), model.remove(&key(n)));
                    }
                }
                Op::SortedRun { start, count, stride, len, delete_every } => {
                    let run: BTreeMap<Vec<u8>, Option<Vec<u8>>> = (0..count)
                        .map(|i| {
                            let n = start.wrapping_add(i.wrapping_mul(stride));
                            let delete = delete_every > 0 && i % delete_every == 0;
                            (key(n), (!delete).then(|| value(n, len, step)))
                        })
                        .collect();
                    tree.apply_sorted_run(run.iter().map(|(k, v)| (k.as_slice(), v.as_deref())))
                        .unwrap();
                    for (key, value) in run {
                        match value {
                            Some(value) => model.insert(key, value),
                            None => model.remove(&key),
                        };
                    }
                }
                Op::RemoveRange { start, span } => {
                    let end = start.wrapping_add(span);
                    let ranges = if end >= start {
                        vec![(key(start), Some(key(end)))]
                    } else {
                        vec![(key(start), None), (key(0), Some(key(end)))]
                    };
                    for (from, to) in ranges {
                        // Long keys start with their number's two bytes and sort after it.
                        let to = to.map(|to| {
                            let mut past = to;
                            past.push(0xFF);
                            past
                        });
                        let bounds = (Bound::Included(from), to.map_or(Bound::Unbounded, Bound::Excluded));
                        let doomed: Vec<Vec<u8>> = model.range::<Vec<u8>, _>(bounds.clone()).map(|(k, _)| k.clone()).collect();
                        prop_assert_eq!(tree.remove_range(&bounds).unwrap(), doomed.len() as u64);
                        for key in doomed {
                            model.remove(&key);
                        }
                    }
                }
                Op::InsertLong(n, len) => {
                    let key = long_key(n, len);
                    let value = value(n, 50, step);
                    prop_assert_eq!(tree.insert(&key, &value).unwrap(), model.insert(key, value));
                }
                Op::Commit => {
                    version += 1;
                    tree.commit(version);
                    committed = model.clone();
                    savepoints.clear();
                    snapshot = Some((BTree::new(store.clone(), tree.root()), model.clone()));
                }
                Op::Rollback => {
                    tree.rollback();
                    model = committed.clone();
                    savepoints.clear();
                }
                Op::Savepoint => savepoints.push((tree.savepoint(), model.clone())),
                Op::RollbackToLast => {
                    if let Some((savepoint, saved)) = savepoints.last() {
                        tree.rollback_to(savepoint);
                        model = saved.clone();
                    }
                }
            }
            prop_assert_eq!(tree.len(), model.len() as u64);
            if step % 8 == 0 {
                let report = tree.check().unwrap();
                prop_assert_eq!(report.entries, model.len() as u64);
                max_depth = max_depth.max(report.depth);
            }
        }
        let report = tree.check().unwrap();
        prop_assert_eq!(report.entries, model.len() as u64);
        prop_assert_eq!(&contents(&tree.view()), &model);
        // Every key answers point reads too, and a sample of missing ones is absent.
        for (key, value) in model.iter().step_by(7) {
            let got = tree.get(key).unwrap().map(|v| v.to_vec());
            prop_assert_eq!(got.as_ref(), Some(value));
        }
        if let Some((view, expected)) = &snapshot {
            prop_assert_eq!(&contents(view), expected, "a committed snapshot changed");
            check_tree(&store, view.root()).unwrap();
        }
        let _ = max_depth;
    }
}

/// The sequences above do reach several levels: one deterministic run as a witness.
#[test]
fn the_model_reaches_three_levels_and_back() {
    let store =
        PageStore::create(Arc::new(MemoryStorage::new()), PageStoreOptions::default()).unwrap();
    let mut tree = BTreeMut::new(store.writer(), None, 0);
    for n in 0..20_000u16 {
        tree.put(&key(n.wrapping_mul(7919)), &[1u8; 300]).unwrap();
    }
    assert!(tree.check().unwrap().depth >= 3);
    for n in 0..20_000u16 {
        assert!(tree.delete_key(&key(n.wrapping_mul(7919))).unwrap());
        if n % 2_000 == 0 {
            tree.check().unwrap();
        }
    }
    assert!(tree.is_empty());
    assert_eq!(tree.root(), None);
}

/// A transaction many times larger than its memory bound spills, reads its pages back, and
/// commits what a `BTreeMap` holds; its memory stays near the bound.
#[test]
fn a_transaction_larger_than_its_bound_spills_and_stays_exact() {
    let store =
        PageStore::create(Arc::new(MemoryStorage::new()), PageStoreOptions::default()).unwrap();
    let bound = 64 * store.page_size();
    let mut tree = BTreeMut::new(store.writer(), None, 0);
    tree.set_spill_policy(Some(SpillPolicy {
        bound_bytes: bound,
        floor_bytes: 0,
    }));
    let mut model = Model::new();
    let mut most_private = 0;
    let mut most_spilled = 0;
    for i in 0..20_000u32 {
        let n = (i.wrapping_mul(2_654_435_761) >> 16) as u16;
        let value = value(n, 120, i as usize);
        tree.put(&key(n), &value).unwrap();
        model.insert(key(n), value);
        if i % 97 == 0 {
            tree.remove(&key(n.wrapping_add(1))).unwrap();
            model.remove(&key(n.wrapping_add(1)));
        }
        most_private = most_private.max(store.private_bytes());
        most_spilled = most_spilled.max(tree.spilled_pages());
    }
    assert!(most_spilled > 200, "only {most_spilled} pages spilled");
    // One change may add a split's pages past the bound before the next one spills.
    assert!(
        most_private <= bound + 8 * store.page_size(),
        "{most_private} bytes of private pages against a bound of {bound}"
    );
    tree.check().unwrap();
    assert_eq!(contents(&tree.view()), model);
    tree.commit(1);
    assert_eq!(tree.spilled_pages(), 0);
    store.checkpoint(1, &[]).unwrap();
    let committed = BTree::new(store.clone(), tree.root());
    assert_eq!(contents(&committed), model);
    check_tree(&store, committed.root()).unwrap();
}
