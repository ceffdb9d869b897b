//! The commit queue behind [`crate::Database::write`]: threads enqueue their batches; the
//! first to find no leader becomes one, takes every waiting batch, and commits them as one
//! transaction (one lock round over the union of their column families, one log record);
//! then it hands each batch its result and steps down. Batches that arrive meanwhile form
//! the next group, so under contention groups grow instead of threads queueing on a lock.
//!
//! Each batch stays atomic: it is applied behind a savepoint, and one that fails (a key too
//! long, say) is rolled back alone and gets its own error; the others commit.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use folio_wal::{Durability, Lsn};
use parking_lot::{Condvar, Mutex};

use crate::write_batch::{BatchOp, WriteBatch};
use crate::{Database, Error, Result};

/// Counters of the commit queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitQueueStats {
    /// Batches submitted to [`crate::Database::write`].
    pub batches: u64,
    /// Group commits made of them (`batches / groups` is the mean group size).
    pub groups: u64,
}

#[derive(Debug, Default)]
struct QueueState {
    stats: CommitQueueStats,
    next_ticket: u64,
    pending: Vec<(u64, WriteBatch)>,
    /// Results of committed groups, by ticket, until their owners take them.
    results: HashMap<u64, Result<Lsn>>,
    leader_active: bool,
}

/// Merges concurrent batches into group commits.
#[derive(Debug, Default)]
pub(crate) struct CommitQueue {
    state: Mutex<QueueState>,
    /// Signalled when a group's results are in and the leader stepped down.
    group_done: Condvar,
}

impl CommitQueue {
    /// Commits `batch` (merged with concurrent ones); returns its LSN once applied and
    /// published, after the log sync as well with `Durability::Immediate`.
    pub(crate) fn submit(
        &self,
        db: &Database,
        batch: WriteBatch,
        durability: Durability,
    ) -> Result<Lsn> {
        let mut state = self.state.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.stats.batches += 1;
        state.pending.push((ticket, batch));
        let result = loop {
            if let Some(result) = state.results.remove(&ticket) {
                break result;
            }
            if state.leader_active {
                self.group_done.wait(&mut state);
                continue;
            }
            state.leader_active = true;
            let group = std::mem::take(&mut state.pending);
            state.stats.groups += 1;
            let results = parking_lot::MutexGuard::unlocked(&mut state, || commit_group(db, group));
            state.results.extend(results);
            state.leader_active = false;
            self.group_done.notify_all();
        };
        drop(state);
        let lsn = result?;
        if durability == Durability::Immediate && lsn > 0 {
            db.inner.wal.wait_durable(lsn)?;
        }
        Ok(lsn)
    }
}

impl CommitQueue {
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

/// One [`CommitQueue`] per set of column families: batches over the same set merge;
/// batches over other sets commit in parallel (they take other writer locks).
#[derive(Debug, Default)]
pub(crate) struct CommitQueues {
    queues: Mutex<HashMap<Vec<String>, Arc<CommitQueue>>>,
    /// Counters of pruned queues.
    retired: Mutex<CommitQueueStats>,
}

impl CommitQueues {
    /// The queue of the sorted column-family set `cfs`.
    pub(crate) fn queue_for(&self, cfs: &[&str]) -> Arc<CommitQueue> {
        let key: Vec<String> = cfs.iter().map(|cf| (*cf).to_owned()).collect();
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

/// Applies `group` as one write transaction; returns each ticket's result.
fn commit_group(db: &Database, group: Vec<(u64, WriteBatch)>) -> Vec<(u64, Result<Lsn>)> {
    let live: BTreeSet<String> = db.cf_names().into_iter().collect();
    let mut results = Vec::with_capacity(group.len());
    let mut runnable = Vec::with_capacity(group.len());
    for (ticket, batch) in group {
        match batch.cf_names().into_iter().find(|cf| !live.contains(*cf)) {
            Some(missing) => results.push((
                ticket,
                Err(Error::ColumnFamilyNotFound {
                    name: missing.to_owned(),
                }),
            )),
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
    let mut txn = match db.begin_write(&names) {
        Ok(txn) => txn,
        Err(error) => {
            let (reason, kind) = (error.to_string(), error.kind());
            results.extend(runnable.into_iter().map(|(ticket, _)| {
                (
                    ticket,
                    Err(Error::CommitFailed {
                        reason: reason.clone(),
                        kind,
                    }),
                )
            }));
            return results;
        }
    };
    let mut applied = Vec::with_capacity(runnable.len());
    for (ticket, batch) in runnable {
        let savepoint = txn.savepoint();
        let outcome = batch.ops.iter().try_for_each(|op| match op {
            BatchOp::Put { cf, key, value } => txn.put(&batch.cfs[*cf], key, value),
            BatchOp::Delete { cf, key } => txn.delete(&batch.cfs[*cf], key).map(|_| ()),
        });
        match outcome {
            Ok(()) => applied.push(ticket),
            Err(error) => {
                // Undoes this batch only; the savepoint is of this transaction.
                txn.rollback_to(&savepoint)
                    .expect("the savepoint was taken in this transaction");
                results.push((ticket, Err(error)));
            }
        }
    }
    match txn.commit_with(Durability::Eventual) {
        Ok(lsn) => results.extend(applied.into_iter().map(|ticket| (ticket, Ok(lsn)))),
        Err(error) => {
            let (reason, kind) = (error.to_string(), error.kind());
            let mut first = Some(error);
            for ticket in applied {
                let error = first.take().unwrap_or_else(|| Error::CommitFailed {
                    reason: reason.clone(),
                    kind,
                });
                results.push((ticket, Err(error)));
            }
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_queues_are_pruned_and_their_counts_kept() {
        let queues = CommitQueues::default();
        let names: Vec<String> = (0..QUEUES_KEPT * 3).map(|i| format!("cf-{i}")).collect();
        let held = queues.queue_for(&["held"]);
        held.state.lock().stats.batches = 5;
        for name in &names {
            let queue = queues.queue_for(&[name.as_str()]);
            queue.state.lock().stats.batches = 1;
        }
        assert!(
            queues.len() <= QUEUES_KEPT + 1,
            "{} queues kept",
            queues.len()
        );
        assert_eq!(queues.stats().batches, 5 + names.len() as u64);
        assert!(
            Arc::ptr_eq(&held, &queues.queue_for(&["held"])),
            "a busy queue was dropped"
        );
    }
}
