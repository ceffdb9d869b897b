//! Model test of the whole API against one `BTreeMap` per column family: transactions over
//! random sets of column families (puts, deletes and range deletes, so replay must apply a
//! range deletion after the changes logged before it and before those after) (committed durably, eventually, or dropped), checkpoints,
//! clean reopens and power cuts. After a power cut the database must equal the model after
//! some prefix of the commits that includes every durable one. Each case runs plain,
//! encrypted, or encrypted with compressed values.

use std::collections::BTreeMap;
use std::sync::Arc;

use folio::{Database, DatabaseOptions, Durability};
use folio_io::{CrashPolicy, SimDirectory};
use proptest::prelude::*;

const CFS: [&str; 3] = ["x", "y", "z"];
type Model = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

#[derive(Debug, Clone)]
enum Op {
    Txn {
        cfs: Vec<usize>,
        writes: Vec<(usize, u8, Write)>,
        commit: Option<bool>,
    },
    Checkpoint,
    Reopen,
    Crash,
}

#[derive(Debug, Clone)]
enum Write {
    /// A value of this many bytes.
    Put(u16),
    Delete,
    /// Every key from this one to `span` past it (to the end when that passes 255).
    DeleteRange {
        span: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let writes = prop::collection::vec(
        (
            0usize..3,
            any::<u8>(),
            prop_oneof![
                16 => (0u16..600).prop_map(Write::Put),
                4 => Just(Write::Delete),
                1 => any::<u8>().prop_map(|span| Write::DeleteRange { span }),
            ],
        ),
        1..12,
    );
    prop_oneof![
        8 => (prop::collection::vec(0usize..3, 1..3), writes, prop::option::weighted(0.9, any::<bool>()))
            .prop_map(|(cfs, writes, commit)| Op::Txn { cfs, writes, commit }),
        1 => Just(Op::Checkpoint),
        1 => Just(Op::Reopen),
        1 => Just(Op::Crash),
    ]
}

/// Variant 0: plain; 1: encrypted; 2: encrypted, one column family LZ4, the others zstd
/// (settings stored with the column families by `create_cfs`: every reopen keeps them
/// without being told).
fn options(variant: u8) -> DatabaseOptions {
    let mut options = DatabaseOptions::default();
    options.wal.sync_interval = None;
    options.wal.segment_bytes = 64 * 1024;
    options.checkpoint_interval = None;
    // Replays of more than a few changes go through sorted runs (kept in memory when
    // encrypted).
    options.replay_batch_bytes = 1024;
    if variant >= 1 {
        options.encryption_key = Some(folio_tests::test_key());
    }
    options
}

/// Creates `CFS`; in variant 2 the first compressed with LZ4, the others with zstd.
fn create_cfs(db: &Database, variant: u8) {
    for (i, cf) in CFS.iter().enumerate() {
        let compression = match (variant, i) {
            (2, 0) => folio::Compression::Lz4,
            (2, _) => folio::Compression::Zstd { level: 1 },
            _ => folio::Compression::None,
        };
        let options = folio::ColumnFamilyOptions::new().with_compression(compression);
        db.create_cf_with(cf, options).unwrap();
    }
}

fn read_all(db: &Database) -> Model {
    let read = db.begin_read();
    CFS.iter()
        .map(|cf| {
            let tree = read.tree(cf).unwrap();
            let entries = tree
                .iter()
                .map(|e| e.map(|(k, v)| (k, v.to_vec())))
                .collect::<Result<_, _>>()
                .unwrap();
            ((*cf).to_owned(), entries)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn database_matches_model(seed in any::<u64>(), ops in prop::collection::vec(op(), 1..25), variant in 0u8..3) {
        let mut device = SimDirectory::new(seed);
        let mut db = Database::open_in(Arc::new(device.clone()), options(variant)).unwrap();
        create_cfs(&db, variant);
        let mut model: Model = CFS.iter().map(|cf| ((*cf).to_owned(), BTreeMap::new())).collect();
        // Model states after each commit, and how many are known durable.
        let mut history = vec![model.clone()];
        let mut durable = 0usize;
        for op in ops {
            match op {
                Op::Txn { cfs, writes, commit } => {
                    let names: Vec<&str> = cfs.iter().map(|&i| CFS[i]).collect();
                    let mut txn = db.begin_write(&names).unwrap();
                    let mut next = model.clone();
                    for (cf, key, value) in writes {
                        let name = CFS[cf];
                        if !names.contains(&name) {
                            prop_assert!(txn.put(name, &[key], b"x").is_err());
                            continue;
                        }
                        match value {
                            Write::Put(len) => {
                                let value = vec![key ^ (len as u8); len as usize];
                                txn.put(name, &[key], &value).unwrap();
                                next.get_mut(name).unwrap().insert(vec![key], value);
                            }
                            Write::Delete => {
                                let existed = txn.delete(name, &[key]).unwrap();
                                prop_assert_eq!(existed, next.get_mut(name).unwrap().remove(&vec![key]).is_some());
                            }
                            Write::DeleteRange { span } => {
                                let end = key.checked_add(span).map(|end| vec![end]);
                                let bounds = (
                                    std::ops::Bound::Included(vec![key]),
                                    end.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded),
                                );
                                let removed = txn.delete_range(name, bounds.clone()).unwrap();
                                let entries = next.get_mut(name).unwrap();
                                let doomed: Vec<Vec<u8>> = if span == 0 { Vec::new() } else {
                                    entries.range(bounds).map(|(k, _)| k.clone()).collect()
                                };
                                prop_assert_eq!(removed, doomed.len() as u64);
                                for key in doomed {
                                    entries.remove(&key);
                                }
                            }
                        }
                    }
                    match commit {
                        None => drop(txn),
                        Some(immediate) => {
                            let durability = if immediate { Durability::Immediate } else { Durability::Eventual };
                            let lsn = txn.commit_with(durability).unwrap();
                            if lsn > 0 {
                                model = next;
                                history.push(model.clone());
                                if immediate {
                                    durable = history.len() - 1;
                                }
                            }
                        }
                    }
                }
                Op::Checkpoint => {
                    db.checkpoint().unwrap();
                    durable = history.len() - 1;
                }
                Op::Reopen => {
                    drop(db);
                    device = device.crash(CrashPolicy::DropUnsynced);
                    db = Database::open_in(Arc::new(device.clone()), options(variant)).unwrap();
                    // A clean close keeps everything (closing syncs the log).
                    durable = history.len() - 1;
                }
                Op::Crash => {
                    let rebooted = device.crash(CrashPolicy::Random);
                    drop(db);
                    device = rebooted;
                    db = Database::open_in(Arc::new(device.clone()), options(variant)).unwrap();
                    let recovered = read_all(&db);
                    let prefix = history.iter().rposition(|state| state == &recovered);
                    prop_assert!(prefix.is_some(), "recovered state is no prefix of the commits");
                    let prefix = prefix.unwrap();
                    prop_assert!(prefix >= durable, "lost durable commits: {} < {}", prefix, durable);
                    history.truncate(prefix + 1);
                    model = recovered;
                    durable = prefix;
                }
            }
            prop_assert_eq!(read_all(&db), model.clone());
        }
    }
}
