//! Async commits (cargo feature `async`): [`WriteTransaction::commit_async`] and
//! [`Database::write_async`] return futures that resolve when the commit is durable, woken by
//! the group-commit round that covers it ([`folio_wal::DurableWait`]) instead of a thread
//! blocked in `fsync`. No runtime is named: the futures use only the `Waker` they are
//! polled with, so they run on tokio, async-std, smol or a hand-written executor.
//!
//! What runs on the polling thread: applying the changes, the log *write* of the record
//! (never a sync: the write token is never held across one) and publishing. What does not:
//! the log sync (the log's syncer thread leads the round), a back-pressure checkpoint (the
//! background checkpointer runs it, asked at once; the future waits for it), and waiting for
//! another transaction's writer (`begin_write_async` is woken when it is released). Three rare
//! cases still do blocking I/O on the polling thread, documented in `docs/durability.md`:
//! a transaction past `large_transaction_bytes` (its commit *is* a checkpoint), a commit
//! that finds such a transaction settling, and back-pressure with the background
//! checkpointer disabled or failing (the checkpoint runs inline to report its error).

use std::future::poll_fn;
use std::task::Poll;

use folio_wal::{Durability, Lsn};

use crate::cf_slot::Wait;
use crate::checkpointer::Outcome;
use crate::write_txn::Committed;
use crate::{ConcurrentTransaction, Database, Error, Result, WriteBatch, WriteTransaction};

impl WriteTransaction {
    /// [`WriteTransaction::commit`] as a future: resolves once the commit is durable per the
    /// database's default durability, without blocking a thread on the log sync.
    pub async fn commit_async(self) -> Result<Lsn> {
        let durability = self.database().inner.options.default_durability;
        self.commit_async_with(durability).await
    }

    /// [`WriteTransaction::commit_with`] as a future. The changes are applied, logged and
    /// published at the first poll (as `commit_with` does before it waits); with
    /// [`Durability::Immediate`] the future then waits, without a thread, for the sync
    /// round that covers its record. Dropping the future after the first poll does not
    /// undo the commit (as with a thread interrupted while it waits for the sync).
    pub async fn commit_async_with(mut self, durability: Durability) -> Result<Lsn> {
        match self.commit_published()? {
            Committed::Logged(lsn) => {
                let db = self.database();
                if durability == Durability::Immediate && lsn > 0 {
                    db.inner.wal.durable(lsn).await?;
                }
                // The commit has happened: a failed checkpoint is reported by the next write.
                let _ = db.relieve_pressure_async().await;
                Ok(lsn)
            }
            Committed::Unlogged(lsn) => {
                self.database().settle_unlogged_async().await?;
                Ok(lsn)
            }
        }
    }
}

impl ConcurrentTransaction {
    /// [`ConcurrentTransaction::commit`] as a future.
    pub async fn commit_async(self) -> Result<Lsn> {
        let durability = self.database().inner.options.default_durability;
        self.commit_async_with(durability).await
    }

    /// [`ConcurrentTransaction::commit_with`] as a future: while another transaction holds
    /// a writer the commit needs, the future waits without a thread (as
    /// [`Database::begin_write_async`] does), and the durability wait is that of
    /// [`WriteTransaction::commit_async_with`]. It commits alone, not in a queue's group (a
    /// group's leader would block its thread while it waits for writers).
    pub async fn commit_async_with(mut self, durability: Durability) -> Result<Lsn> {
        if !self.has_writes() {
            return Ok(0);
        }
        self.check_committable()?;
        let slots = self.commit_slots();
        let mut submission = self.submission();
        let db = self.database();
        let lsn = loop {
            // Taken before trying: a release between the try and the wait is not missed.
            let seen: Vec<u64> = slots.iter().map(|slot| slot.releases()).collect();
            let (mut results, mut left) =
                crate::concurrent::commit_jobs(db, vec![(0, submission)], Wait::No);
            if let Some((_, result)) = results.pop() {
                break result?;
            }
            submission = left.pop().expect("a busy writer leaves the job").1;
            wait_released(&slots, &seen).await;
        };
        if durability == Durability::Immediate && lsn > 0 {
            db.inner.wal.durable(lsn).await?;
        }
        // The commit has happened: a failed checkpoint is reported by the next write.
        let _ = db.relieve_pressure_async().await;
        Ok(lsn)
    }
}

/// Resolves once any of `slots` was released since `seen` (their release counts).
async fn wait_released(slots: &[std::sync::Arc<crate::cf_slot::CfSlot>], seen: &[u64]) {
    poll_fn(|cx| {
        let mut released = false;
        for (slot, seen) in slots.iter().zip(seen) {
            released |= slot.poll_released(*seen, cx.waker()).is_ready();
        }
        if released {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}

impl Database {
    /// [`Database::begin_write`] for async callers, with no thread blocked: the
    /// back-pressure checkpoint that `begin_write` may run first is handed to the background
    /// checkpointer and awaited, and while another transaction holds one of the column
    /// families' writers the future waits (woken when a writer is released; it takes all of
    /// them or none, so it never holds one while it waits). A task of the same thread that
    /// holds one of those writers itself gets [`Error::WouldDeadlock`], as with
    /// `begin_write`: keep a write transaction within one poll where you can (no `.await`
    /// between this and [`WriteTransaction::commit_async`]).
    pub async fn begin_write_async<C: crate::CfName>(&self, cfs: &[C]) -> Result<WriteTransaction> {
        self.relieve_pressure_async().await?;
        loop {
            let slots = self.inner.cfs.writer_slots(cfs)?;
            self.check_writable()?;
            // Taken before trying: a release between the try and the wait is not missed.
            let seen: Vec<u64> = slots.iter().map(|slot| slot.releases()).collect();
            match WriteTransaction::new(self.clone(), slots.clone(), Wait::No) {
                Err(Error::Busy { .. }) => wait_released(&slots, &seen).await,
                other => return other,
            }
        }
    }

    /// A future that resolves once the commit at `lsn` (what a commit returned) is durable,
    /// without blocking a thread: for commits made with [`Durability::Eventual`] whose
    /// durability the caller wants to learn later (a replicated log acknowledges entries
    /// this way). Owns what it needs, so it can be spawned.
    pub fn durable(&self, lsn: Lsn) -> folio_wal::DurableWait {
        self.inner.wal.durable(lsn)
    }

    /// [`Database::flush`] as a future: resolves once every commit so far is durable.
    pub async fn flush_async(&self) -> Result<Lsn> {
        self.inner.check_open()?;
        let last = self.inner.wal.last_lsn();
        if last > 0 {
            self.inner.wal.durable(last).await?;
        }
        Ok(last)
    }

    /// [`Database::write`] as a future: commits `batch` with the default durability and
    /// resolves once it is durable, without blocking a thread on the log sync. Concurrent
    /// batches (async or not) share group commits.
    pub async fn write_async(&self, batch: WriteBatch) -> Result<Lsn> {
        self.write_async_with(batch, self.inner.options.default_durability)
            .await
    }

    /// [`Database::write_with`] as a future.
    pub async fn write_async_with(&self, batch: WriteBatch, durability: Durability) -> Result<Lsn> {
        if batch.is_empty() {
            return Ok(0);
        }
        self.relieve_pressure_async().await?;
        let lsn = self.submit_batch(batch)?;
        if durability == Durability::Immediate && lsn > 0 {
            self.inner.wal.durable(lsn).await?;
        }
        let _ = self.relieve_pressure_async().await;
        Ok(lsn)
    }

    /// [`Database::relieve_pressure`] without running the checkpoint here: asks the
    /// background checkpointer for one and waits until the pressure is gone.
    async fn relieve_pressure_async(&self) -> Result<()> {
        self.checkpoint_until(|| !self.under_pressure(), || self.relieve_pressure())
            .await
    }

    /// [`crate::database::DbInner::settle_unlogged`] with the checkpoint run by the
    /// background checkpointer.
    async fn settle_unlogged_async(&self) -> Result<()> {
        let Some(pending) = self.inner.pending_unlogged() else {
            return Ok(());
        };
        self.checkpoint_until(
            || self.inner.unlogged_checkpointed(pending),
            || self.inner.settle_unlogged(),
        )
        .await?;
        self.inner.unlogged_settled(pending);
        Ok(())
    }

    /// Has the background checkpointer checkpoint (asked at once, awaited) until `done`
    /// holds. Without a background checkpointer, or after one of its checkpoints failed,
    /// `inline` runs here instead: it checkpoints on this thread and reports the error.
    async fn checkpoint_until(
        &self,
        done: impl Fn() -> bool,
        inline: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        while !done() {
            let Some(control) = self.inner.checkpointer_control() else {
                return inline();
            };
            let since = control.request();
            match poll_fn(|cx| control.poll_finished(since, cx.waker())).await {
                Outcome::Succeeded => {}
                Outcome::Stopped => return Err(Error::Closed),
                Outcome::Failed => return inline(),
            }
        }
        Ok(())
    }
}
