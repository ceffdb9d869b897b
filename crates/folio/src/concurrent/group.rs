//! Group apply: concurrent transactions' commits go through a commit queue
//! (`commit_queue.rs`); its leader validates and applies many of them in one write
//! transaction (one lock round, one pass over each tree, one log record, one LSN).
//!
//! A group holds only transactions that **commute**: none reads or writes a key another
//! member of the group writes. So all members share one LSN without an order among them
//! mattering, and each is validated against the history alone (every commit before the
//! group). A transaction that does not commute with the members taken before it waits for
//! the next group, where validation decides: if it read what a member wrote, that member
//! is now in the history and the transaction conflicts; if it only wrote the same key, it
//! commits after it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use folio_wal::Lsn;

use super::history::Invalid;
use super::read_set::ReadSet;
use super::write::{Write, Writes};
use crate::cf_slot::{CfSlot, Wait};
use crate::column_family::CfId;
use crate::commit_queue::{GroupJob, GroupOutcome, fail_all};
use crate::write_txn::Committed;
use crate::{Database, Error, MergeOperator, Result, WriteTransaction};

/// A concurrent transaction handed to the commit queue: its snapshot, reads and writes.
#[derive(Debug)]
pub(crate) struct Submission {
    pub(crate) version: Lsn,
    /// Column families read: slot, name (for the conflict's message), what was read.
    pub(crate) reads: Vec<(Arc<CfSlot>, Arc<str>, ReadSet)>,
    /// Column families written: slot, name (for errors), the writes.
    pub(crate) writes: Vec<(Arc<CfSlot>, Arc<str>, Writes)>,
}

impl Submission {
    /// The ids of every column family read or written, ascending, without repeats: the
    /// commit queue's key and the group's lock order.
    pub(crate) fn cf_ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .reads
            .iter()
            .map(|(slot, _, _)| slot.id.0)
            .chain(self.writes.iter().map(|(slot, _, _)| slot.id.0))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    fn slots(&self) -> impl Iterator<Item = &Arc<CfSlot>> {
        self.reads
            .iter()
            .map(|(slot, _, _)| slot)
            .chain(self.writes.iter().map(|(slot, _, _)| slot))
    }

    /// Checks the reads against every commit since the snapshot (the writers are held).
    fn validate(&self) -> Result<()> {
        for (slot, name, reads) in &self.reads {
            if let Err(invalid) = slot.history.lock().validate(self.version, reads) {
                let keys = match invalid {
                    Invalid::Keys(keys) => keys,
                    Invalid::Untracked => Vec::new(),
                };
                return Err(Error::Conflict {
                    cf: name.to_string(),
                    keys,
                });
            }
        }
        Ok(())
    }
}

/// What the members taken into a group so far read and wrote, by column family.
#[derive(Default)]
struct Taken<'a> {
    /// Keys put or deleted.
    written: HashMap<CfId, BTreeSet<&'a [u8]>>,
    /// Keys added to (counters): additions commute with each other, not with the rest.
    added: HashMap<CfId, BTreeSet<&'a [u8]>>,
    read: HashMap<CfId, Vec<&'a ReadSet>>,
}

impl<'a> Taken<'a> {
    fn in_set(sets: &HashMap<CfId, BTreeSet<&'a [u8]>>, id: CfId, key: &[u8]) -> bool {
        sets.get(&id).is_some_and(|keys| keys.contains(key))
    }

    fn read_covers(&self, id: CfId, key: &[u8]) -> bool {
        self.read
            .get(&id)
            .is_some_and(|sets| sets.iter().any(|set| set.covers(key)))
    }

    /// True when `job` commutes with every member taken: it reads no key they change, puts
    /// or deletes no key they read or change, and adds or merges only into keys they
    /// neither read nor put nor delete (additions and merges into one key apply in the
    /// group's order, which is its commit order).
    fn commutes(&self, job: &Submission) -> bool {
        let reads_clear = job.reads.iter().all(|(slot, _, reads)| {
            [&self.written, &self.added].iter().all(|sets| {
                sets.get(&slot.id)
                    .is_none_or(|keys| !keys.iter().any(|key| reads.covers(key)))
            })
        });
        let writes_clear = job.writes.iter().all(|(slot, _, writes)| {
            writes.iter().all(|(key, write)| {
                let changed =
                    Self::in_set(&self.written, slot.id, key) || self.read_covers(slot.id, key);
                if write.is_blind_update() {
                    !changed
                } else {
                    !changed && !Self::in_set(&self.added, slot.id, key)
                }
            })
        });
        reads_clear && writes_clear
    }

    fn take(&mut self, job: &'a Submission) {
        for (slot, _, reads) in &job.reads {
            self.read.entry(slot.id).or_default().push(reads);
        }
        for (slot, _, writes) in &job.writes {
            for (key, write) in writes {
                let sets = if write.is_blind_update() {
                    &mut self.added
                } else {
                    &mut self.written
                };
                sets.entry(slot.id).or_default().insert(key.as_slice());
            }
        }
    }
}

impl GroupJob for Submission {
    fn commit_group(db: &Database, group: Vec<(u64, Self)>) -> GroupOutcome<Self> {
        commit_jobs(db, group, Wait::Forever)
    }
}

/// Commits `group` (see the module docs), waiting for the writers as `wait` says; when they
/// are busy, every job is left (with [`Wait::Forever`] that never happens).
pub(crate) fn commit_jobs(
    db: &Database,
    group: Vec<(u64, Submission)>,
    wait: Wait,
) -> GroupOutcome<Submission> {
    let mut slots: Vec<Arc<CfSlot>> = Vec::new();
    for slot in group.iter().flat_map(|(_, job)| job.slots()) {
        if !slots.iter().any(|s| s.id == slot.id) {
            slots.push(Arc::clone(slot));
        }
    }
    slots.sort_by_key(|slot| slot.id);
    let tickets = || group.iter().map(|(ticket, _)| *ticket).collect::<Vec<_>>();
    let mut txn = match db
        .check_writable()
        .and_then(|()| WriteTransaction::new(db.clone(), slots, wait))
    {
        Ok(txn) => txn,
        Err(Error::Busy { .. }) => return (Vec::new(), group),
        Err(error) => return (fail_all(tickets(), error), Vec::new()),
    };
    let stats = &db.inner.concurrent;
    let mut results = Vec::with_capacity(group.len());
    let mut accepted = Vec::with_capacity(group.len());
    let mut left = Vec::new();
    let mut taken = Taken::default();
    let mut applied = Ok(());
    for (index, (ticket, job)) in group.iter().enumerate() {
        if !taken.commutes(job) {
            left.push(index);
            continue;
        }
        if let Err(conflict) = job.validate() {
            stats
                .conflicts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            results.push((*ticket, Err(conflict)));
            continue;
        }
        match apply(&mut txn, job, &db.inner.options.merge_operators) {
            Ok(Applied::Done) => {}
            Ok(Applied::Refused(refused)) => {
                results.push((*ticket, Err(refused)));
                continue;
            }
            Err(error) => {
                applied = Err(error);
                break;
            }
        }
        taken.take(job);
        accepted.push(*ticket);
    }
    let outcome = applied.and_then(|()| match txn.commit_published()? {
        Committed::Logged(lsn) => Ok(lsn),
        // A group is logged in full unless it is past `large_transaction_bytes`.
        Committed::Unlogged(lsn) => db.inner.settle_unlogged().map(|()| lsn),
    });
    match outcome {
        Ok(lsn) => {
            stats
                .commits
                .fetch_add(accepted.len() as u64, std::sync::atomic::Ordering::Relaxed);
            results.extend(accepted.into_iter().map(|ticket| (ticket, Ok(lsn))));
        }
        // Nothing of the group committed: the conflicts found stand, every other job
        // (left ones too) fails with the error.
        Err(error) => {
            let decided: Vec<u64> = results.iter().map(|(ticket, _)| *ticket).collect();
            let rest = tickets()
                .into_iter()
                .filter(|ticket| !decided.contains(ticket));
            results.extend(fail_all(rest, error));
            return (results, Vec::new());
        }
    }
    let mut jobs: Vec<Option<(u64, Submission)>> = group.into_iter().map(Some).collect();
    let left = left
        .into_iter()
        .filter_map(|index| jobs[index].take())
        .collect();
    (results, left)
}

/// Applies `job`'s writes to the group's transaction. Its additions are checked first (each
/// counter must be one and must not overflow), so a job that fails them changes nothing and
/// the group goes on.
fn apply(
    txn: &mut WriteTransaction,
    job: &Submission,
    operators: &BTreeMap<String, MergeOperator>,
) -> Result<Applied> {
    let mut updated = Vec::new();
    for (slot, name, writes) in &job.writes {
        for (key, write) in writes.iter().filter(|(_, write)| write.is_blind_update()) {
            let now = txn.get_by_id(slot.id, key)?;
            let operator = operators.get(&**name);
            match super::write::after(name, key, now.as_deref(), write, operator) {
                Ok(value) => updated.push(value.expect("additions and merges leave a value")),
                Err(refused) => return Ok(Applied::Refused(refused)),
            }
        }
    }
    let mut updated = updated.into_iter();
    for (slot, _, writes) in &job.writes {
        for (key, write) in writes {
            match write {
                Write::Put(value) => txn.put_by_id(slot.id, key, value)?,
                Write::Delete => {
                    txn.delete_by_id(slot.id, key)?;
                }
                Write::Add(_) | Write::Merge(_) => {
                    let value = updated.next().expect("one value per update");
                    txn.put_by_id(slot.id, key, &value)?;
                }
            }
        }
    }
    Ok(Applied::Done)
}

/// What [`apply`] did with a job.
enum Applied {
    Done,
    /// Nothing: an addition was refused (the job's own error).
    Refused(Error),
}
