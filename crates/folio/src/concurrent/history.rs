//! What concurrent transactions are validated against: per column family, the keys recent
//! commits wrote ([`WriteHistory`]), and the snapshots of the concurrent transactions still
//! running ([`ActiveSnapshots`]), which say how far back that history must reach.
//!
//! Invariants (docs/invariants.md, invariant 12):
//! - A column family's history is changed only by [`crate::commit::Appended::commit_tree`],
//!   which every commit that changes a tree passes through, while the committer holds the
//!   column family's writer. So a validator holding that writer sees every commit to it
//!   made so far, and none can start until it releases the writer.
//! - **Complete above `complete_above`**: every commit with an LSN above it that changed the
//!   column family has its written keys in `entries`. A commit whose keys are not kept (no
//!   concurrent transaction was running, a large or bulk-loaded commit, entries trimmed to the
//!   memory bound) raises `complete_above` to its LSN instead. A transaction whose snapshot
//!   is below `complete_above` and that read the column family cannot be validated and gets
//!   a conflict: conservative, never a wrong answer.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};

use folio_wal::Lsn;
use parking_lot::Mutex;

use super::read_set::ReadSet;

/// What a commit wrote to one column family, for the history.
#[derive(Debug)]
pub(crate) enum Written {
    /// Nothing a reader can see (a compaction moved pages).
    Nothing,
    /// These keys (put or deleted).
    Keys(Vec<Box<[u8]>>),
    /// Unknown or too many to keep (a large transaction, a bulk load): every reader of the
    /// column family whose snapshot is older conflicts.
    Everything,
}

/// The keys one commit wrote.
type KeyList = Box<[Box<[u8]>]>;

/// Recent writes of one column family (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct WriteHistory {
    complete_above: Lsn,
    /// Ascending LSNs, each above `complete_above`.
    entries: VecDeque<(Lsn, KeyList)>,
    /// Key bytes held in `entries` (plus a fixed cost per key).
    bytes: usize,
}

/// Bytes counted per kept key besides its own (the box and the slice entry).
const KEY_OVERHEAD: usize = 24;

/// Why a transaction's reads of one column family failed validation.
#[derive(Debug)]
pub(crate) enum Invalid {
    /// These keys it read (or that fall in ranges it read) were written since its snapshot.
    Keys(Vec<Vec<u8>>),
    /// The column family changed since its snapshot in ways not kept key by key.
    Untracked,
}

/// Conflicting keys reported at most (a conflict says which keys, not all of them).
const KEYS_REPORTED: usize = 8;

impl WriteHistory {
    /// Records a commit at `lsn` (called under the column family's writer). `horizon` is the
    /// oldest snapshot of a running concurrent transaction (`None`: none runs); history at or
    /// below it is no longer needed. `bytes_max` bounds the memory kept.
    pub(crate) fn record(
        &mut self,
        lsn: Lsn,
        written: Written,
        horizon: Option<Lsn>,
        bytes_max: usize,
    ) {
        match horizon {
            // Nobody can validate against these keys: keep none, but a transaction that
            // starts now from an older snapshot must still see that something changed.
            None => {
                if !matches!(written, Written::Nothing) {
                    self.forget_up_to(lsn);
                }
            }
            Some(horizon) => {
                while let Some(&(oldest, _)) = self.entries.front()
                    && oldest <= horizon
                {
                    self.pop_oldest();
                }
                match written {
                    Written::Nothing => {}
                    Written::Everything => self.forget_up_to(lsn),
                    Written::Keys(keys) => {
                        self.bytes += keys.iter().map(|k| k.len() + KEY_OVERHEAD).sum::<usize>();
                        self.entries.push_back((lsn, keys.into_boxed_slice()));
                        while self.bytes > bytes_max {
                            let Some(trimmed) = self.pop_oldest() else {
                                break;
                            };
                            self.complete_above = self.complete_above.max(trimmed);
                        }
                    }
                }
            }
        }
    }

    /// Drops every entry and makes the history complete only above `lsn`.
    fn forget_up_to(&mut self, lsn: Lsn) {
        self.entries.clear();
        self.bytes = 0;
        self.complete_above = self.complete_above.max(lsn);
    }

    /// Removes the oldest entry; returns its LSN.
    fn pop_oldest(&mut self) -> Option<Lsn> {
        let (lsn, keys) = self.entries.pop_front()?;
        self.bytes -= keys.iter().map(|k| k.len() + KEY_OVERHEAD).sum::<usize>();
        Some(lsn)
    }

    /// Checks `reads`, made at snapshot `since`, against every commit after it.
    pub(crate) fn validate(&self, since: Lsn, reads: &ReadSet) -> Result<(), Invalid> {
        if reads.is_empty() {
            return Ok(());
        }
        if self.complete_above > since {
            return Err(Invalid::Untracked);
        }
        let mut hits: Vec<Vec<u8>> = Vec::new();
        for (_, keys) in self.entries.iter().filter(|(lsn, _)| *lsn > since) {
            for key in keys.iter().filter(|key| reads.covers(key)) {
                if !hits.iter().any(|hit| **hit == **key) {
                    hits.push(key.to_vec());
                }
                if hits.len() == KEYS_REPORTED {
                    return Err(Invalid::Keys(hits));
                }
            }
        }
        if hits.is_empty() {
            Ok(())
        } else {
            Err(Invalid::Keys(hits))
        }
    }

    /// Keys kept now (tests check the memory bound).
    #[cfg(test)]
    pub(crate) fn kept_keys(&self) -> usize {
        self.entries.iter().map(|(_, keys)| keys.len()).sum()
    }
}

/// The snapshots of the running concurrent transactions (a multiset).
#[derive(Debug, Default)]
pub(crate) struct ActiveSnapshots {
    running: Mutex<BTreeMap<Lsn, usize>>,
    /// How many run, changed under the lock: every commit asks, and while none runs the
    /// answer costs a load instead of a lock. A commit that reads 0 while one registers
    /// keeps no keys and marks its history incomplete instead: conservative.
    count: AtomicUsize,
}

impl ActiveSnapshots {
    /// Registers a transaction whose snapshot `take` returns. Taken under the lock, so a
    /// committer computing the horizon never misses a snapshot older than the one it sees.
    pub(crate) fn register<T>(&self, take: impl FnOnce() -> (T, Lsn)) -> (T, Lsn) {
        let mut running = self.running.lock();
        let (value, lsn) = take();
        *running.entry(lsn).or_insert(0) += 1;
        self.count.fetch_add(1, Ordering::SeqCst);
        (value, lsn)
    }

    /// Ends the registration of a transaction with snapshot `lsn`.
    pub(crate) fn unregister(&self, lsn: Lsn) {
        let mut running = self.running.lock();
        if let Some(count) = running.get_mut(&lsn) {
            *count -= 1;
            if *count == 0 {
                running.remove(&lsn);
            }
            self.count.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// The oldest registered snapshot (`None` when no concurrent transaction runs).
    pub(crate) fn horizon(&self) -> Option<Lsn> {
        if !self.any() {
            return None;
        }
        self.running.lock().keys().next().copied()
    }

    /// True while any concurrent transaction runs: only then do commits keep their keys.
    pub(crate) fn any(&self) -> bool {
        self.count.load(Ordering::SeqCst) > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[&[u8]]) -> Written {
        Written::Keys(list.iter().map(|k| Box::from(*k)).collect())
    }

    fn reading(points: &[&[u8]]) -> ReadSet {
        let mut reads = ReadSet::default();
        for point in points {
            reads.point(point);
        }
        reads
    }

    #[test]
    fn a_write_after_the_snapshot_to_a_key_read_conflicts() {
        let mut history = WriteHistory::default();
        history.record(5, keys(&[b"a"]), Some(4), 1 << 20);
        history.record(6, keys(&[b"b"]), Some(4), 1 << 20);
        assert!(
            history.validate(5, &reading(&[b"a"])).is_ok(),
            "a at 5 is in the snapshot"
        );
        assert!(
            matches!(history.validate(4, &reading(&[b"a"])), Err(Invalid::Keys(k)) if k == [b"a".to_vec()])
        );
        assert!(history.validate(4, &reading(&[b"c"])).is_ok());
        assert!(
            history.validate(4, &ReadSet::default()).is_ok(),
            "blind writes never conflict"
        );
    }

    #[test]
    fn untracked_commits_and_trimmed_entries_conflict_conservatively() {
        let mut history = WriteHistory::default();
        history.record(3, keys(&[b"a"]), None, 1 << 20);
        assert!(matches!(
            history.validate(2, &reading(&[b"z"])),
            Err(Invalid::Untracked)
        ));
        assert!(history.validate(3, &reading(&[b"z"])).is_ok());
        history.record(4, Written::Everything, Some(3), 1 << 20);
        assert!(matches!(
            history.validate(3, &reading(&[b"z"])),
            Err(Invalid::Untracked)
        ));
        // A bound of one key: older entries are trimmed and counted as untracked.
        let mut history = WriteHistory::default();
        for lsn in 1..=10 {
            history.record(lsn, keys(&[b"k"]), Some(0), KEY_OVERHEAD + 1);
        }
        assert_eq!(history.kept_keys(), 1);
        assert!(matches!(
            history.validate(0, &reading(&[b"x"])),
            Err(Invalid::Untracked)
        ));
        assert!(history.validate(9, &reading(&[b"x"])).is_ok());
    }

    #[test]
    fn entries_at_or_below_the_horizon_are_dropped() {
        let mut history = WriteHistory::default();
        for lsn in 1..=5 {
            history.record(lsn, keys(&[b"k"]), Some(0), 1 << 20);
        }
        history.record(6, keys(&[b"k"]), Some(4), 1 << 20);
        assert_eq!(history.kept_keys(), 2, "entries 5 and 6 stay");
    }

    #[test]
    fn active_snapshots_give_the_oldest() {
        let active = ActiveSnapshots::default();
        assert_eq!(active.horizon(), None);
        active.register(|| ((), 7));
        active.register(|| ((), 3));
        active.register(|| ((), 3));
        assert_eq!(active.horizon(), Some(3));
        active.unregister(3);
        assert_eq!(active.horizon(), Some(3));
        active.unregister(3);
        assert_eq!(active.horizon(), Some(7));
        active.unregister(7);
        assert!(!active.any());
    }
}
