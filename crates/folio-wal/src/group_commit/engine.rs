//! Group commit: many appenders, one write and one sync per round.
//!
//! # Protocol
//! State lives under one mutex, held only to push a record (no payload copy: the payload
//! moves in, hashed beforehand outside the lock) and to hand over rounds:
//!
//! 1. An appender takes the next LSN, pushes its record on `pending`, and *drives* until its
//!    target is met: `Written(lsn)` for [`Durability::Eventual`], `Durable(lsn)` for
//!    [`Durability::Immediate`].
//! 2. Driving: if the target is met, return. If the log is poisoned, fail. If a round is in
//!    flight (`flushing`), wait for it to end. Otherwise become the **leader**: set
//!    `flushing`, take all of `pending`, release the lock, write the batch with one vectored
//!    write, sync once if anyone in the batch (or the leader's own target) needs it, retake
//!    the lock, advance `written_lsn` / `durable_lsn`, clear `flushing`, wake everyone, and
//!    re-check the target.
//! 3. Appenders that arrive during a round queue on `pending` and wait; when the round ends
//!    one of them leads the next. Nobody sleeps on a timer on this path.
//!
//! # Invariants (checked by the loom models in `loom_tests.rs`)
//! - At most one leader at a time (`flushing` is the token); the sink is never entered twice.
//! - Records reach the sink in LSN order, each exactly once.
//! - `durable_lsn <= written_lsn < next_lsn`; `durable_lsn` only moves after a successful
//!   sync covering it, so no appender is released before its LSN is durable.
//! - No lost wake-up: a waiter only waits while `flushing` is set, and the leader clears it
//!   and notifies under the lock.
//! - A failed write or sync poisons: `failure` is set before anyone is woken, and every
//!   driver checks it first, so the error reaches every waiter and every later call.

use std::time::Instant;

use crate::record::payload_hash;
use crate::stats::CommitStats;
use crate::sync::{Condvar, Mutex, MutexGuard};
use crate::{Error, Lsn, Result};

/// When an append returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Durability {
    /// After the record is synced (shared with every record of the same round).
    Immediate,
    /// After the record is written to the file, before it is synced. A crash (of the
    /// machine, not the process) can lose it until a later sync: the background flusher's
    /// interval, [`crate::Wal::flush`], or any later `Immediate` append.
    Eventual,
}

/// A record waiting to be written.
#[derive(Debug)]
pub(crate) struct PendingRecord {
    pub(crate) lsn: Lsn,
    pub(crate) durable_before: Lsn,
    pub(crate) payload: Vec<u8>,
    pub(crate) payload_hash: u64,
}

/// Where the leader sends batches. Only the leader calls it, one call at a time.
pub(crate) trait BatchSink: Send + Sync {
    /// Writes `batch` (non-empty, consecutive LSNs) after everything written before.
    fn write(&self, batch: &[PendingRecord]) -> Result<()>;
    /// Makes everything written so far durable.
    fn sync(&self) -> Result<()>;
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Written(Lsn),
    Durable(Lsn),
}

#[derive(Debug)]
struct CommitState {
    next_lsn: Lsn,
    pending: Vec<PendingRecord>,
    pending_needs_sync: bool,
    /// A leader is writing or syncing: the round token.
    flushing: bool,
    written_lsn: Lsn,
    durable_lsn: Lsn,
    failure: Option<String>,
    closed: bool,
    stats: CommitStats,
}

impl CommitState {
    fn met(&self, target: Target) -> bool {
        match target {
            Target::Written(lsn) => self.written_lsn >= lsn,
            Target::Durable(lsn) => self.durable_lsn >= lsn,
        }
    }
}

/// The group-commit engine over a sink.
#[derive(Debug)]
pub(crate) struct GroupCommit<S> {
    state: Mutex<CommitState>,
    round_done: Condvar,
    sink: S,
    /// Optional wait of a new leader for more appenders (`WalOptions::commit_window`).
    window: Option<std::time::Duration>,
}

impl<S: BatchSink> GroupCommit<S> {
    /// An engine whose next record gets `next_lsn` (everything before it is durable), whose
    /// leaders wait `window` for more appenders before each round.
    pub(crate) fn new(sink: S, next_lsn: Lsn, window: Option<std::time::Duration>) -> Self {
        Self {
            state: Mutex::new(CommitState {
                next_lsn,
                pending: Vec::new(),
                pending_needs_sync: false,
                flushing: false,
                written_lsn: next_lsn - 1,
                durable_lsn: next_lsn - 1,
                failure: None,
                closed: false,
                stats: CommitStats::default(),
            }),
            round_done: Condvar::new(),
            sink,
            window,
        }
    }

    pub(crate) fn sink(&self) -> &S {
        &self.sink
    }

    /// Appends `payload`; returns its LSN once `durability` is met.
    pub(crate) fn append(&self, payload: Vec<u8>, durability: Durability) -> Result<Lsn> {
        let payload_hash = payload_hash(&payload);
        let mut state = self.state.lock();
        if let Some(cause) = &state.failure {
            return Err(Error::Poisoned {
                cause: cause.clone(),
            });
        }
        if state.closed {
            return Err(Error::Closed);
        }
        let lsn = state.next_lsn;
        state.next_lsn += 1;
        let durable_before = state.durable_lsn;
        state.pending.push(PendingRecord {
            lsn,
            durable_before,
            payload,
            payload_hash,
        });
        let target = match durability {
            Durability::Immediate => {
                state.pending_needs_sync = true;
                Target::Durable(lsn)
            }
            Durability::Eventual => Target::Written(lsn),
        };
        self.drive(state, target)?;
        Ok(lsn)
    }

    /// Returns once `lsn` is durable.
    pub(crate) fn wait_durable(&self, lsn: Lsn) -> Result<()> {
        let state = self.state.lock();
        if lsn >= state.next_lsn {
            return Err(Error::BeyondEnd {
                requested: lsn,
                last: state.next_lsn - 1,
            });
        }
        self.drive(state, Target::Durable(lsn))
    }

    /// Makes every record appended so far durable; returns the last one.
    pub(crate) fn flush(&self) -> Result<Lsn> {
        let state = self.state.lock();
        let last = state.next_lsn - 1;
        self.drive(state, Target::Durable(last))?;
        Ok(last)
    }

    /// Refuses new appends, then makes everything appended durable (shutdown drains).
    pub(crate) fn close(&self) -> Result<()> {
        let mut state = self.state.lock();
        state.closed = true;
        let last = state.next_lsn - 1;
        self.drive(state, Target::Durable(last))
    }

    /// `(next, written, durable)` LSNs.
    pub(crate) fn positions(&self) -> (Lsn, Lsn, Lsn) {
        let state = self.state.lock();
        (state.next_lsn, state.written_lsn, state.durable_lsn)
    }

    pub(crate) fn stats(&self) -> CommitStats {
        self.state.lock().stats.clone()
    }

    fn drive<'a>(&'a self, mut state: MutexGuard<'a, CommitState>, target: Target) -> Result<()> {
        loop {
            if let Some(cause) = &state.failure {
                return Err(Error::Poisoned {
                    cause: cause.clone(),
                });
            }
            if state.met(target) {
                return Ok(());
            }
            if state.flushing {
                state = self.round_done.wait(state);
                continue;
            }
            // Lead one round.
            state.flushing = true;
            if let Some(window) = self.window {
                // Let more appenders queue (they see `flushing` and wait for this round).
                drop(state);
                std::thread::sleep(window);
                state = self.state.lock();
            }
            let batch = std::mem::take(&mut state.pending);
            let sync = std::mem::take(&mut state.pending_needs_sync)
                || matches!(target, Target::Durable(_));
            drop(state);
            let result = self.run_round(&batch, sync);
            state = self.state.lock();
            state.flushing = false;
            match result {
                Ok(sync_micros) => {
                    if let Some(last) = batch.last() {
                        state.written_lsn = last.lsn;
                        let bytes = batch.iter().map(|r| r.payload.len() as u64).sum();
                        state.stats.record_round(batch.len(), bytes);
                    }
                    if let Some(micros) = sync_micros {
                        state.durable_lsn = state.written_lsn;
                        state.stats.record_sync(micros);
                    }
                    self.round_done.notify_all();
                }
                Err(error) => {
                    state.failure = Some(error.to_string());
                    self.round_done.notify_all();
                    return Err(error);
                }
            }
        }
    }

    /// Writes and syncs one round; returns the sync's duration when it synced.
    fn run_round(&self, batch: &[PendingRecord], sync: bool) -> Result<Option<u64>> {
        if !batch.is_empty() {
            self.sink.write(batch)?;
        }
        if !sync {
            return Ok(None);
        }
        let started = Instant::now();
        self.sink.sync()?;
        Ok(Some(started.elapsed().as_micros() as u64))
    }
}
