//! Every live read handle reads exactly its snapshot (docs/invariants.md, 4 and 5), whatever happens
//! meanwhile: commits that rewrite its pages, checkpoints that make freed pages reusable,
//! compactions that move pages, and the transaction, tree or range it came from dropped in
//! any order (proptest against a `BTreeMap` model).

use std::collections::BTreeMap;
use std::sync::Arc;

use folio::{Database, DatabaseOptions, Durability, Range, ReadTransaction, Tree};
use folio_io::SimDirectory;
use proptest::prelude::*;

type State = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Debug, Clone)]
enum Op {
    /// Puts (key, value length) and deletes (key) in one transaction.
    Commit {
        puts: Vec<(u16, u16)>,
        deletes: Vec<u16>,
    },
    Checkpoint,
    Compact,
    /// A read transaction, kept.
    OpenTransaction,
    /// A tree from a read transaction dropped at once.
    OpenTree,
    /// A range from a tree and transaction dropped at once, `skip` entries consumed first.
    OpenRange {
        skip: u8,
        reverse: bool,
    },
    /// Drops the live handle at this index (modulo their number).
    Drop(usize),
    /// Reads every live handle against its snapshot.
    Check,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (
            prop::collection::vec((0u16..600, 20u16..400), 1..60),
            prop::collection::vec(0u16..600, 0..20)
        )
            .prop_map(|(puts, deletes)| Op::Commit { puts, deletes }),
        2 => Just(Op::Checkpoint),
        1 => Just(Op::Compact),
        1 => Just(Op::OpenTransaction),
        1 => Just(Op::OpenTree),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(skip, reverse)| Op::OpenRange { skip, reverse }),
        2 => any::<usize>().prop_map(Op::Drop),
        2 => Just(Op::Check),
    ]
}

enum Handle {
    Transaction(ReadTransaction, State),
    Tree(Tree<'static>, State),
    /// A range and the entries it has yet to yield, in its order.
    Range(Box<Range<'static>>, Vec<(Vec<u8>, Vec<u8>)>),
}

fn key(k: u16) -> Vec<u8> {
    k.to_be_bytes().to_vec()
}

fn collect(range: Range<'_>) -> State {
    range
        .map(|e| e.map(|(k, v)| (k, v.to_vec())))
        .collect::<folio::Result<_>>()
        .unwrap()
}

fn check(handle: &mut Handle) {
    match handle {
        Handle::Transaction(read, expected) => {
            assert_eq!(&collect(read.tree("t").unwrap().iter()), expected);
            if let Some((k, v)) = expected.iter().next() {
                assert_eq!(&*read.get("t", k).unwrap().unwrap(), &v[..]);
            }
        }
        Handle::Tree(tree, expected) => {
            assert_eq!(&collect(tree.iter()), expected);
            assert_eq!(tree.len(), expected.len() as u64);
        }
        Handle::Range(range, remaining) => {
            for _ in 0..7 {
                let got = range
                    .next()
                    .map(|e| e.map(|(k, v)| (k, v.to_vec())).unwrap());
                let want = (!remaining.is_empty()).then(|| remaining.remove(0));
                assert_eq!(got, want);
            }
        }
    }
}

fn run(ops: Vec<Op>) {
    let mut options = DatabaseOptions {
        checkpoint_interval: None,
        ..DatabaseOptions::default()
    };
    options.wal.sync_interval = None;
    options.page_store.extent_pages = 8;
    let db = Database::open_in(Arc::new(SimDirectory::new(5)), options).unwrap();
    db.create_cf("t").unwrap();
    let mut model = State::new();
    let mut handles: Vec<Handle> = Vec::new();
    for (round, op) in ops.into_iter().enumerate() {
        match op {
            Op::Commit { puts, deletes } => {
                let mut txn = db.begin_write(&["t"]).unwrap();
                for (k, len) in puts {
                    let value = vec![round as u8; usize::from(len)];
                    txn.put("t", &key(k), &value).unwrap();
                    model.insert(key(k), value);
                }
                for k in deletes {
                    txn.delete("t", &key(k)).unwrap();
                    model.remove(&key(k));
                }
                txn.commit_with(Durability::Eventual).unwrap();
            }
            Op::Checkpoint => {
                db.checkpoint().unwrap();
            }
            Op::Compact => {
                db.compact().unwrap();
            }
            Op::OpenTransaction => {
                handles.push(Handle::Transaction(db.begin_read(), model.clone()));
            }
            Op::OpenTree => handles.push(Handle::Tree(
                db.begin_read().tree("t").unwrap(),
                model.clone(),
            )),
            Op::OpenRange { skip, reverse } => {
                let tree = db.begin_read().tree("t").unwrap();
                let (mut range, mut remaining): (Range<'static>, Vec<_>) = if reverse {
                    (tree.iter_rev(), model.clone().into_iter().rev().collect())
                } else {
                    (tree.iter(), model.clone().into_iter().collect())
                };
                drop(tree);
                for _ in 0..skip.min(20) {
                    if remaining.is_empty() {
                        break;
                    }
                    let got = range.next().unwrap().unwrap();
                    assert_eq!((got.0, got.1.to_vec()), remaining.remove(0));
                }
                handles.push(Handle::Range(Box::new(range), remaining));
            }
            Op::Drop(index) => {
                if !handles.is_empty() {
                    let index = index % handles.len();
                    drop(handles.remove(index));
                }
            }
            Op::Check => handles.iter_mut().for_each(check),
        }
    }
    handles.iter_mut().for_each(check);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_live_handle_reads_exactly_its_snapshot(ops in prop::collection::vec(op(), 1..50)) {
        run(ops);
    }
}
