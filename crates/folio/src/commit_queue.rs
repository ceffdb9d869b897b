//! The commit queue behind [`crate::Database::write`] and concurrent transactions' commits:
//! threads enqueue their jobs (a [`WriteBatch`], or a concurrent transaction's reads and
//! writes, `concurrent/group.rs`); the first to find no leader becomes one, takes every
//! waiting job, and commits them as one transaction (one lock round over the union of their
//! column families, one log record); then it hands each job its result and steps down. Jobs
//! that arrive meanwhile form the next group, so under contention groups grow instead of
//! threads queueing on a lock. A group may leave jobs for the next one ([`GroupJob`]).
//!
//! Each batch stays atomic, and one that cannot be applied (a key too long, say) is refused
//! alone before the group starts; the others commit.
//!
//! Waiting threads sleep on a condition variable of their own: the leader wakes exactly the
//! owners of the batches it committed, and, when it steps down with batches still queued,
//! one of their owners to lead next. It also keeps leading (a few groups at most) while
//! batches queue up: every hand-over to a sleeping thread costs a wake-up.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use folio_wal::Lsn;
use parking_lot::{Condvar, Mutex};

use crate::log_record::OP_HEADER_BYTES;
use crate::write_batch::{BatchOp, WriteBatch};
use crate::write_txn::Committed;
use crate::{Database, Error, Result};

/// Counters of the commit queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitQueueStats {
    /// Batches submitted to [`crate::Database::write`].
    pub batches: u64,
    /// Group commits made of them (`batches / groups` is the mean group size).
    pub groups: u64,
}

/// A job of a commit queue: what one caller submits.
pub(crate) trait GroupJob: Send + Sized {
    /// Commits `group` as one transaction; returns each ticket's result, and the jobs left
    /// for the next group (never all of them: the first job of a group always gets a
    /// result, so the queue makes progress).
    fn commit_group(db: &Database, group: Vec<(u64, Self)>) -> GroupOutcome<Self>;
}

/// What [`GroupJob::commit_group`] returns: results by ticket, and jobs left for later.
pub(crate) type GroupOutcome<J> = (Vec<(u64, Result<Lsn>)>, Vec<(u64, J)>);

#[derive(Debug)]
struct QueueState<J> {
    stats: CommitQueueStats,
    next_ticket: u64,
    pending: Vec<(u64, J)>,
    /// Results of committed groups, by ticket, until their owners take them.
    results: HashMap<u64, Result<Lsn>>,
    /// Sleeping owners of tickets (bounded by the threads calling in).
    sleepers: HashMap<u64, Arc<Condvar>>,
    /// Owners waiting for the leader without sleeping (see [`SPIN_ROUNDS`]).
    spinning: usize,
    leader_active: bool,
}

/// A follower first waits for the leader's group this many short rounds without sleeping
/// (about 15 µs in all): a group takes a few to a few tens of microseconds (a concurrent
/// transaction's commit applies its writes to the tree inside it), and parking and waking a
/// thread costs two context switches on the leader's path (a 2-thread W6 profile had 6 % of
/// its time in the futex wait here; W9 at 2 threads ran 1.3-1.4x faster with 64 rounds than
/// with 4, `docs/performance.md`). Only while fewer followers spin than there are other
/// cores, so spinning never takes the leader's CPU.
const SPIN_ROUNDS: u32 = 64;
/// `spin_loop` hints per round (about a microsecond).
const SPIN_STEPS: u32 = 32;

/// Followers that may spin at once: one fewer than the cores (the leader needs one).
fn spinners_max() -> usize {
    static MAX: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get) - 1
    })
}

impl<J> Default for QueueState<J> {
    fn default() -> Self {
        Self {
            stats: CommitQueueStats::default(),
            next_ticket: 0,
            pending: Vec::new(),
            results: HashMap::new(),
            sleepers: HashMap::new(),
            spinning: 0,
            leader_active: false,
        }
    }
}

impl<J> QueueState<J> {
    /// Wakes the owner of `ticket` if it sleeps.
    fn wake(&mut self, ticket: u64) {
        if let Some(sleeper) = self.sleepers.remove(&ticket) {
            sleeper.notify_one();
        }
    }
}

/// Merges concurrent jobs into group commits.
#[derive(Debug)]
pub(crate) struct CommitQueue<J> {
    state: Mutex<QueueState<J>>,
}

impl<J> Default for CommitQueue<J> {
    fn default() -> Self {
        Self {
            state: Mutex::new(QueueState::default()),
        }
    }
}

/// Groups one leader commits in a row before it returns to its caller.
const LEADER_ROUNDS_MAX: usize = 4;

impl<J: GroupJob> CommitQueue<J> {
    /// Commits `job` (merged with concurrent ones); returns its LSN once applied, written
    /// to the log (not synced: the caller waits for durability) and published.
    pub(crate) fn submit(&self, db: &Database, job: J) -> Result<Lsn> {
        let mut state = self.state.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.stats.batches += 1;
        state.pending.push((ticket, job));
        let mut spins = 0;
        let result = loop {
            if let Some(result) = state.results.remove(&ticket) {
                break result;
            }
            if state.leader_active && spins < SPIN_ROUNDS && state.spinning < spinners_max() {
                spins += 1;
                state.spinning += 1;
                parking_lot::MutexGuard::unlocked(&mut state, || {
                    for _ in 0..SPIN_STEPS {
                        std::hint::spin_loop();
                    }
                });
                state.spinning -= 1;
                continue;
            }
            if state.leader_active {
                let signal = Arc::new(Condvar::new());
                state.sleepers.insert(ticket, Arc::clone(&signal));
                signal.wait(&mut state);
                state.sleepers.remove(&ticket);
                continue;
            }
            state.leader_active = true;
            for _ in 0..LEADER_ROUNDS_MAX {
                let group = std::mem::take(&mut state.pending);
                state.stats.groups += 1;
                let (results, left) =
                    parking_lot::MutexGuard::unlocked(&mut state, || J::commit_group(db, group));
                for (done, result) in results {
                    state.results.insert(done, result);
                    state.wake(done);
                }
                // Left for the next group, ahead of what arrived meanwhile.
                if !left.is_empty() {
                    let arrived = std::mem::replace(&mut state.pending, left);
                    state.pending.extend(arrived);
                }
                if state.pending.is_empty() {
                    break;
                }
            }
            state.leader_active = false;
            // Batches still queued: one of their owners leads next.
            if let Some(&(next, _)) = state.pending.first() {
                state.wake(next);
            }
        };
        drop(state);
        result
    }
}

impl<J> CommitQueue<J> {
    pub(crate) fn stats(&self) -> CommitQueueStats {
        self.state.lock().stats
    }
}

impl CommitQueueStats {
    fn add(self, other: Self) -> Self {
        Self {
            batches: self.batches + other.batches,
            groups: self.groups + other.groups,
        }
    }
}

/// Idle queues kept before the map is pruned: bounds memory when an application writes
/// batches over many different sets of column families.
const QUEUES_KEPT: usize = 64;

/// One [`CommitQueue`] per set of column families: jobs over the same set merge; jobs over
/// other sets commit in parallel (they take other writer locks). Keyed by names (batches)
/// or ids (concurrent transactions).
#[derive(Debug)]
pub(crate) struct CommitQueues<J, K = Vec<String>> {
    queues: Mutex<HashMap<K, Arc<CommitQueue<J>>>>,
    /// Counters of pruned queues.
    retired: Mutex<CommitQueueStats>,
}

impl<J, K> Default for CommitQueues<J, K> {
    fn default() -> Self {
        Self {
            queues: Mutex::new(HashMap::new()),
            retired: Mutex::new(CommitQueueStats::default()),
        }
    }
}

impl<J, K: std::hash::Hash + Eq> CommitQueues<J, K> {
    /// The queue of the column-family set `key`.
    pub(crate) fn queue_for(&self, key: K) -> Arc<CommitQueue<J>> {
        let mut queues = self.queues.lock();
        if !queues.contains_key(&key) && queues.len() >= QUEUES_KEPT {
            // Only the map holds an idle queue: no batch is in it or on its way.
            let mut retired = self.retired.lock();
            queues.retain(|_, queue| {
                let idle = Arc::strong_count(queue) == 1;
                if idle {
                    *retired = retired.add(queue.stats());
                }
                !idle
            });
        }
        Arc::clone(queues.entry(key).or_default())
    }

    /// Counters over every queue, pruned ones included.
    pub(crate) fn stats(&self) -> CommitQueueStats {
        let queues = self.queues.lock();
        queues.values().fold(*self.retired.lock(), |total, queue| {
            total.add(queue.stats())
        })
    }

    /// Queues kept now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.queues.lock().len()
    }
}

/// Why `batch` cannot be applied (a missing column family, a key or value over the
/// limits), checked before the group's transaction starts so that applying the rest cannot
/// fail for a reason of one batch's own.
fn refuse(db: &Database, batch: &WriteBatch) -> Option<Error> {
    if let Some(missing) = batch.cfs.iter().find(|cf| db.slot(cf).is_err()) {
        return Some(Error::ColumnFamilyNotFound {
            name: missing.clone(),
        });
    }
    let (key, value) = batch.largest();
    folio_btree::check_entry_sizes(key, value)
        .err()
        .map(Error::Tree)
}

/// The error each job of a failed group gets: the first the error itself, the others a
/// [`Error::CommitFailed`] describing it.
pub(crate) fn fail_all(
    tickets: impl IntoIterator<Item = u64>,
    error: Error,
) -> Vec<(u64, Result<Lsn>)> {
    let (reason, kind) = (error.to_string(), error.kind());
    let mut first = Some(error);
    tickets
        .into_iter()
        .map(|ticket| {
            let error = first.take().unwrap_or_else(|| Error::CommitFailed {
                reason: reason.clone(),
                kind,
            });
            (ticket, Err(error))
        })
        .collect()
}

impl GroupJob for WriteBatch {
    fn commit_group(db: &Database, group: Vec<(u64, Self)>) -> GroupOutcome<Self> {
        (commit_batches(db, group), Vec::new())
    }
}

/// Applies `group` as one write transaction; returns each ticket's result. Batches that
/// cannot be applied get their own error first; the others are applied and committed
/// together (an I/O failure while applying fails them all: nothing of them commits).
fn commit_batches(db: &Database, group: Vec<(u64, WriteBatch)>) -> Vec<(u64, Result<Lsn>)> {
    let mut results = Vec::with_capacity(group.len());
    let mut runnable = Vec::with_capacity(group.len());
    for (ticket, batch) in group {
        match refuse(db, &batch) {
            Some(error) => results.push((ticket, Err(error))),
            None => runnable.push((ticket, batch)),
        }
    }
    if runnable.is_empty() {
        return results;
    }
    let names: BTreeSet<&str> = runnable
        .iter()
        .flat_map(|(_, batch)| batch.cfs.iter().map(String::as_str))
        .collect();
    let names: Vec<&str> = names.into_iter().collect();
    let tickets = || {
        runnable
            .iter()
            .map(|(ticket, _)| *ticket)
            .collect::<Vec<_>>()
    };
    // No back-pressure checkpoint inside the group: each submitter relieves it itself (an
    // async one without blocking its thread).
    let mut txn = match db.begin_write_unrelieved(&names) {
        Ok(txn) => txn,
        Err(error) => {
            results.extend(fail_all(tickets(), error));
            return results;
        }
    };
    txn.reserve_log(
        runnable
            .iter()
            .map(|(_, batch)| batch.payload_bytes() + batch.len() * OP_HEADER_BYTES)
            .sum(),
    );
    let applied = runnable.iter().try_for_each(|(_, batch)| {
        batch.ops().try_for_each(|op| match op {
            BatchOp::Put { cf, key, value } => txn.put(&batch.cfs[cf], key, value),
            BatchOp::Delete { cf, key } => txn.delete(&batch.cfs[cf], key).map(|_| ()),
        })
    });
    let outcome = applied.and_then(|()| match txn.commit_published()? {
        Committed::Logged(lsn) => Ok(lsn),
        // A group is logged in full unless it is past `large_transaction_bytes`.
        Committed::Unlogged(lsn) => db.inner.settle_unlogged().map(|()| lsn),
    });
    match outcome {
        Ok(lsn) => results.extend(runnable.iter().map(|(ticket, _)| (*ticket, Ok(lsn)))),
        Err(error) => results.extend(fail_all(tickets(), error)),
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_queues_are_pruned_and_their_counts_kept() {
        let queues: CommitQueues<WriteBatch> = CommitQueues::default();
        let names: Vec<String> = (0..QUEUES_KEPT * 3).map(|i| format!("cf-{i}")).collect();
        let key = |name: &str| vec![name.to_owned()];
        let held = queues.queue_for(key("held"));
        held.state.lock().stats.batches = 5;
        for name in &names {
            let queue = queues.queue_for(key(name));
            queue.state.lock().stats.batches = 1;
        }
        assert!(
            queues.len() <= QUEUES_KEPT + 1,
            "{} queues kept",
            queues.len()
        );
        assert_eq!(queues.stats().batches, 5 + names.len() as u64);
        assert!(
            Arc::ptr_eq(&held, &queues.queue_for(key("held"))),
            "a busy queue was dropped"
        );
    }
}
