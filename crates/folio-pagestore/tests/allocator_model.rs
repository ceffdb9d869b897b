//! Model test of the allocator: random allocations, frees, commits, rollbacks, checkpoints at
//! the latest or an older version, reader horizons, and power cuts with reopen, on the
//! simulated disk. Checks: no page is handed out while anything can still reach it (a reader,
//! a header slot, a checkpoint; pages a writer committed and freed again between two
//! checkpoints are reusable once no reader reaches them, others once a checkpoint covers
//! their freeing too); after
//! every reopen the durable free set is exactly the complement of the live pages (no leak,
//! no double allocation); every live page reads back intact. Each case is plain or encrypted.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use common::{
    AtRest, check_allocation, check_contents, decode_roots, encode_roots, options_at, tagged_page,
};
use folio_io::{CrashPolicy, SimStorage};
use folio_pagestore::{PageId, PageStore, PageStoreOptions, PageWriter};
use proptest::prelude::*;

const WRITERS: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    Allocate { writer: usize, count: u8 },
    Free { writer: usize, pick: usize },
    Commit { writer: usize },
    Rollback { writer: usize },
    Checkpoint { lag: usize },
    Horizon { lag: u64 },
    CrashReopen { random_policy: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..WRITERS, 1u8..6).prop_map(|(writer, count)| Op::Allocate { writer, count }),
        4 => (0..WRITERS, any::<usize>()).prop_map(|(writer, pick)| Op::Free { writer, pick }),
        4 => (0..WRITERS).prop_map(|writer| Op::Commit { writer }),
        1 => (0..WRITERS).prop_map(|writer| Op::Rollback { writer }),
        2 => (0usize..3).prop_map(|lag| Op::Checkpoint { lag }),
        1 => (0u64..4).prop_map(|lag| Op::Horizon { lag }),
        1 => any::<bool>().prop_map(|random_policy| Op::CrashReopen { random_policy }),
    ]
}

#[derive(Default)]
struct Txn {
    allocated: BTreeMap<PageId, u64>,
    freed: Vec<PageId>,
}

struct Harness {
    disk: SimStorage,
    store: PageStore,
    writers: Vec<PageWriter>,
    txns: Vec<Txn>,
    /// Live pages after each commit, by version; the last entry is the latest state.
    history: BTreeMap<u64, BTreeMap<PageId, u64>>,
    /// Pages freed by committed versions and not yet reusable: (version, page, young).
    freed: Vec<(u64, PageId, bool)>,
    /// Pages committed since the last checkpoint, by the writer that committed them: freed
    /// by the same writer before the next checkpoint, they are young.
    young: BTreeMap<PageId, usize>,
    durable_version: u64,
    horizon: u64,
    next_version: u64,
    next_tag: u64,
    options: PageStoreOptions,
}

impl Harness {
    fn new(seed: u64, at_rest: AtRest, extent_pages: u32) -> Self {
        let disk = SimStorage::new(seed);
        let options = PageStoreOptions {
            extent_pages,
            ..options_at(at_rest)
        };
        let store = PageStore::create(Arc::new(disk.clone()), options.clone()).unwrap();
        let writers = (0..WRITERS).map(|_| store.writer()).collect();
        Self {
            disk,
            store,
            writers,
            txns: (0..WRITERS).map(|_| Txn::default()).collect(),
            history: BTreeMap::from([(0, BTreeMap::new())]),
            freed: Vec::new(),
            young: BTreeMap::new(),
            durable_version: 0,
            horizon: u64::MAX,
            next_version: 1,
            next_tag: 1,
            options,
        }
    }

    fn latest(&self) -> &BTreeMap<PageId, u64> {
        self.history
            .values()
            .next_back()
            .expect("history starts with version 0")
    }

    /// Pages nothing may be given: live, in an open transaction, or freed but unreleased.
    fn unavailable(&self) -> BTreeSet<PageId> {
        let mut pages: BTreeSet<PageId> = self.latest().keys().copied().collect();
        for txn in &self.txns {
            pages.extend(txn.allocated.keys());
        }
        pages.extend(self.freed.iter().map(|(_, p, _)| *p));
        pages
    }

    fn release(&mut self) {
        let limit = self.durable_version.min(self.horizon);
        let horizon = self.horizon;
        self.freed.retain(|&(version, _, young)| {
            let reusable = version <= limit || (young && version <= horizon);
            !reusable
        });
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Allocate { writer, count } => {
                for _ in 0..count {
                    let id = self.writers[writer].allocate().unwrap();
                    assert!(
                        !self.unavailable().contains(&id),
                        "page {id} handed out while in use"
                    );
                    let tag = self.next_tag;
                    self.next_tag += 1;
                    self.writers[writer].write(id, tagged_page(&self.store, id, tag));
                    self.txns[writer].allocated.insert(id, tag);
                }
            }
            Op::Free { writer, pick } => {
                // Free a committed live page no open transaction has freed yet, or one this
                // transaction allocated.
                let taken: BTreeSet<PageId> = self
                    .txns
                    .iter()
                    .flat_map(|t| t.freed.iter().copied())
                    .collect();
                let mut candidates: Vec<PageId> = self
                    .latest()
                    .keys()
                    .filter(|p| !taken.contains(p))
                    .copied()
                    .collect();
                candidates.extend(self.txns[writer].allocated.keys());
                if candidates.is_empty() {
                    return;
                }
                let id = candidates[pick % candidates.len()];
                self.writers[writer].free(id);
                if self.txns[writer].allocated.remove(&id).is_none() {
                    self.txns[writer].freed.push(id);
                }
            }
            Op::Commit { writer } => {
                let version = self.next_version;
                self.next_version += 1;
                self.writers[writer].commit(version);
                let txn = std::mem::take(&mut self.txns[writer]);
                let mut live = self.latest().clone();
                for id in txn.freed {
                    live.remove(&id);
                    let young = self.young.remove(&id) == Some(writer);
                    self.freed.push((version, id, young));
                }
                self.young
                    .extend(txn.allocated.keys().map(|&id| (id, writer)));
                live.extend(txn.allocated);
                self.history.insert(version, live);
                self.release();
            }
            Op::Rollback { writer } => {
                self.writers[writer].rollback();
                self.txns[writer] = Txn::default();
            }
            Op::Checkpoint { lag } => {
                let versions: Vec<u64> = self.history.keys().copied().collect();
                // A checkpoint reads its version like a reader, so the horizon covers it (the
                // database registers it): never older than the declared horizon.
                let version = versions[versions.len().saturating_sub(1 + lag)].max(
                    versions
                        .iter()
                        .copied()
                        .filter(|v| *v <= self.horizon)
                        .max()
                        .unwrap_or(0),
                );
                if version < self.durable_version {
                    return;
                }
                let live = self.history[&version].clone();
                let roots = encode_roots(version, &live);
                if roots.len() > folio_pagestore::ROOTS_MAX_BYTES {
                    return;
                }
                self.store.checkpoint(version, &roots).unwrap();
                // Young pages not yet reusable are ordinary frees from now on.
                self.young.clear();
                for entry in &mut self.freed {
                    entry.2 = false;
                }
                self.durable_version = version;
                self.release();
            }
            Op::Horizon { lag } => {
                // Readers only ever start at the latest version, so once declared the
                // horizon only moves forward (as the database's does).
                let proposed = self.next_version.saturating_sub(1 + lag);
                self.horizon = if self.horizon == u64::MAX {
                    proposed
                } else {
                    self.horizon.max(proposed)
                };
                self.store.set_reader_horizon(self.horizon);
                self.release();
            }
            Op::CrashReopen { random_policy } => self.crash_reopen(random_policy),
        }
    }

    fn crash_reopen(&mut self, random_policy: bool) {
        let policy = if random_policy {
            CrashPolicy::Random
        } else {
            CrashPolicy::DropUnsynced
        };
        self.writers.clear();
        let disk = self.disk.crash(policy);
        self.store = PageStore::open(Arc::new(disk.clone()), self.options.clone()).unwrap();
        self.disk = disk;
        let (version, live) = decode_roots(&self.store.roots());
        assert_eq!(version, self.durable_version, "reopened at another version");
        assert_eq!(
            &live, &self.history[&version],
            "reopened with another live set"
        );
        check_contents(&self.store, &live);
        check_allocation(&self.store, &live);
        self.history = BTreeMap::from([(version, live)]);
        self.writers = (0..WRITERS).map(|_| self.store.writer()).collect();
        self.txns = (0..WRITERS).map(|_| Txn::default()).collect();
        self.freed.clear();
        self.young.clear();
        self.horizon = u64::MAX;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]
    #[test]
    fn allocator_never_double_allocates_or_leaks(
        seed in any::<u64>(),
        encrypted in any::<bool>(),
        // Small extents make writers run out of reserved pages often: that is when they
        // take young pages.
        extent_pages in prop_oneof![Just(1u32), Just(2), Just(8)],
        ops in prop::collection::vec(op(), 1..80),
    ) {
        let at_rest = if encrypted { AtRest::Encrypted } else { AtRest::Plain };
        let mut harness = Harness::new(seed, at_rest, extent_pages);
        for op in &ops {
            harness.apply(op);
        }
        // Finish: commit everything, checkpoint the latest version, reopen, and check that
        // the free space is exactly what is not live.
        for writer in 0..WRITERS {
            harness.apply(&Op::Commit { writer });
        }
        harness.apply(&Op::Checkpoint { lag: 0 });
        harness.apply(&Op::CrashReopen { random_policy: true });
    }
}

folio_io::plain_and_encrypted!(
    steady_overwrite_reuses_space_instead_of_growing,
    steady_overwrite_reuses_space_instead_of_growing_encrypted,
    steady_overwrite_reuses_space_instead_of_growing_body
);

fn steady_overwrite_reuses_space_instead_of_growing_body(at_rest: AtRest) {
    // Invariant 8 (docs/invariants.md) at this layer: replacing the same amount of data over
    // and over keeps the high water bounded once checkpoints make freed pages reusable.
    let mut harness = Harness::new(5, at_rest, 8);
    let mut high_waters = Vec::new();
    for round in 0..60 {
        harness.apply(&Op::Allocate {
            writer: 0,
            count: 5,
        });
        for _ in 0..5 {
            harness.apply(&Op::Free { writer: 1, pick: 0 });
        }
        harness.apply(&Op::Commit { writer: 0 });
        harness.apply(&Op::Commit { writer: 1 });
        harness.apply(&Op::Checkpoint { lag: 0 });
        if round >= 10 {
            high_waters.push(harness.store.stats().high_water_pages);
        }
    }
    let first = high_waters[0];
    let last = *high_waters.last().unwrap();
    assert_eq!(first, last, "high water kept growing: {high_waters:?}");
}
