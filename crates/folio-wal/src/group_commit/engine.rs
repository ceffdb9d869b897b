//! Group commit: many appenders, one write and one sync per round.
//!
//! # Protocol
//! State lives under one mutex, held only to push a record (no payload copy: the payload
//! moves in, hashed beforehand outside the lock) and to hand the two tokens over: the write
//! token (`writing`) and the sync token (`syncing`).
//!
//! 1. An appender takes the next LSN, pushes its record on `pending`, and *drives* until its
//!    target is met: `Written(lsn)` for [`Durability::Eventual`], `Durable(lsn)` for
//!    [`Durability::Immediate`].
//! 2. **Eventual** appenders need only the write token: if free, take it, write everything
//!    queued with one vectored write, release it. They never wait for a sync in flight; the
//!    database appends while holding column-family writer locks, so those are never held
//!    across an fsync.
//! 3. **Durable** appenders lead whole rounds: when neither token is taken, take the sync
//!    token, write everything queued (taking and releasing the write token), note
//!    `written_lsn`, sync once, advance `durable_lsn` to the noted LSN, wake everyone.
//!    Durable appenders that arrive meanwhile wait and are covered by the next round, so
//!    many commits share one sync; eventual ones may write during the sync.
//! 4. A driver that cannot proceed parks on a condition variable of its own, listed with its
//!    target in `waiters`. Whoever changes what a waiter waits for (a write or sync round
//!    ending, a failure, a refusal) wakes exactly the waiters whose targets are now met, and,
//!    when a token is free and work remains, one waiter that can take it: never the whole
//!    crowd (at 128 committers a shared condition variable woke ~100 threads per round to
//!    let ~30 go). Nobody sleeps on a timer on this path.
//!
//! # Invariants (checked by the loom models in `loom_tests.rs`)
//! - At most one writer and at most one syncer at a time (the two tokens).
//! - Records reach the sink in LSN order, each exactly once.
//! - `durable_lsn <= written_lsn < next_lsn`; `durable_lsn` only moves to an LSN that was
//!   written before a successful sync began, so no appender is released before its LSN is
//!   durable.
//! - No lost wake-up: a waiter registers and parks only under the lock and only while a
//!   token it needs is taken; every release of a token happens under the lock and calls
//!   `wake`, which wakes every waiter whose target is met and one that can use the free
//!   token if work remains.
//! - A failed write or sync poisons: `failure` is set before anyone is woken, and every
//!   driver checks it first, so the error reaches every waiter and every later call.
//! - A *refused* batch (the sink wrote none of it and changed nothing durable, e.g. no room
//!   for a new segment) does not poison: its records and every record queued after them are
//!   dropped, `next_lsn` goes back to the batch's first LSN, and a new epoch begins. A waiter
//!   whose record was dropped gets an error, never success (its target names the epoch it
//!   was appended in, and `refusals[epoch]` says where that epoch was cut); `flush` and
//!   `close` stop waiting for records that no longer exist. After [`REFUSALS_MAX`] refusals
//!   in one open log the next one poisons, which bounds the refusal list.
//!
//! # Async waiters
//! A task (a future, see `crate::DurableWait`) that waits for an LSN to become durable
//! registers its `Waker` with its target in `tasks` and returns; it never drives a round, so no
//! runtime thread is ever blocked on a write or a sync. One syncer thread per log
//! ([`GroupCommit::serve_tasks`], started by the first task that has to wait) drives toward the
//! highest LSN tasks wait for, as a durable appender would: it leads or joins rounds with the
//! threads. `wake` wakes a task exactly as it wakes a parked thread: when its target is met,
//! refused, or can never be met (poisoned). The syncer parks, under the lock, only when no
//! task waits for an LSN beyond `durable_lsn`, and a task that registers while it is parked
//! signals it under the same lock: no lost wake-up (loom models in `loom_tests.rs`).

use std::task::{Poll, Waker};
use std::time::Instant;

use crate::record::payload_hash;
use crate::stats::CommitStats;
use crate::sync::{Arc, Condvar, Mutex, MutexGuard};
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

/// Refusals one open log accepts before the next one poisons it (bounds `refusals`).
pub(crate) const REFUSALS_MAX: usize = 1024;

/// Why a batch did not reach the sink.
#[derive(Debug)]
pub(crate) enum SinkError {
    /// Nothing of the batch was written and nothing durable changed: the log stays usable,
    /// the batch's records are dropped and their LSNs reused.
    Refused(Error),
    /// Anything else: the log is poisoned.
    Failed(Error),
}

impl From<Error> for SinkError {
    fn from(error: Error) -> Self {
        Self::Failed(error)
    }
}

impl From<folio_io::Error> for SinkError {
    fn from(error: folio_io::Error) -> Self {
        Self::Failed(error.into())
    }
}

/// Where the leader sends batches. Only the leader calls it, one call at a time.
pub(crate) trait BatchSink: Send + Sync {
    /// Writes `batch` (non-empty, consecutive LSNs) after everything written before.
    fn write(&self, batch: &[PendingRecord]) -> Result<(), SinkError>;
    /// Makes everything written so far durable.
    fn sync(&self) -> Result<()>;
    /// Receives a batch once it is written (called outside the commit lock; the default
    /// drops it).
    fn written(&self, batch: Vec<PendingRecord>) {
        drop(batch);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Goal {
    Written,
    Durable,
}

/// What a driver waits for: `lsn` written or durable, as numbered in `epoch`.
#[derive(Debug, Clone, Copy)]
struct Target {
    goal: Goal,
    lsn: Lsn,
    epoch: u64,
    /// `lsn` is the caller's own record, so its refusal is the caller's error; otherwise
    /// (`flush`, `close`) the caller waits for whatever of the range still exists.
    own: bool,
}

/// Where an epoch was cut by a refused batch.
#[derive(Debug)]
struct Refusal {
    /// The first LSN dropped: records of the epoch at or past it never reached the log.
    from: Lsn,
    cause: String,
    no_space: bool,
}

/// How a write round failed.
enum RoundFailure {
    /// The log is poisoned.
    Poisoned(Error),
    /// The batch from `from` on was refused and dropped; the log stays usable.
    Refused { error: Error, from: Lsn },
}

#[derive(Debug)]
struct CommitState {
    next_lsn: Lsn,
    pending: Vec<PendingRecord>,
    /// A leader is writing a batch: the write token.
    writing: bool,
    /// A leader is syncing: the sync token (held while the next batch is written).
    syncing: bool,
    written_lsn: Lsn,
    durable_lsn: Lsn,
    failure: Option<String>,
    closed: bool,
    /// `refusals[e]` cut epoch `e`; the current epoch is `refusals.len()`.
    refusals: Vec<Refusal>,
    /// Parked drivers (bounded by the number of threads calling in).
    waiters: Vec<Waiter>,
    /// Tasks waiting for durability (one entry per pending future).
    tasks: Vec<TaskWaiter>,
    /// Identifies the next task to register.
    next_task: u64,
    /// The syncer's signal while it is parked with nothing to do.
    syncer: Option<Arc<Condvar>>,
    stats: CommitStats,
}

/// A task waiting for its target: woken through its `Waker`, never parked.
#[derive(Debug)]
struct TaskWaiter {
    id: u64,
    target: Target,
    waker: Waker,
}

/// One async wait for an LSN to become durable: what its future keeps between polls.
#[derive(Debug)]
pub(crate) struct TaskWait {
    lsn: Lsn,
    /// Set at the first poll: the target and the id of the task's entry in `tasks`.
    registered: Option<(Target, u64)>,
}

impl TaskWait {
    pub(crate) fn new(lsn: Lsn) -> Self {
        Self {
            lsn,
            registered: None,
        }
    }
}

/// A parked driver: its target and its own condition variable.
#[derive(Debug)]
struct Waiter {
    target: Target,
    signal: Arc<Condvar>,
}

impl CommitState {
    fn epoch(&self) -> u64 {
        self.refusals.len() as u64
    }

    fn target(&self, goal: Goal, lsn: Lsn, own: bool) -> Target {
        Target {
            goal,
            lsn,
            epoch: self.epoch(),
            own,
        }
    }

    /// Brings `target` into the current epoch: `Err` when its own record was refused, a
    /// lower LSN when the records it waited for were dropped.
    fn revise(&self, target: &mut Target) -> Result<()> {
        if target.epoch == self.epoch() {
            return Ok(());
        }
        // Epochs are cut at non-decreasing LSNs, so only the first cut after the target's
        // epoch matters: an LSN below it was written and stays valid in every later epoch.
        let refusal = &self.refusals[target.epoch as usize];
        if target.lsn >= refusal.from {
            if target.own {
                return Err(Error::Refused {
                    cause: refusal.cause.clone(),
                    no_space: refusal.no_space,
                });
            }
            target.lsn = refusal.from - 1;
        }
        target.epoch = self.epoch();
        Ok(())
    }

    fn met(&self, target: Target) -> bool {
        self.progress().met(target)
    }

    /// What decides whether a target is settled, copied out so that the waiter lists can be
    /// drained while it is consulted.
    fn progress(&self) -> Progress {
        Progress {
            failed: self.failure.is_some(),
            epoch: self.epoch(),
            written_lsn: self.written_lsn,
            durable_lsn: self.durable_lsn,
        }
    }
}

/// A snapshot of the positions a target is checked against.
#[derive(Debug, Clone, Copy)]
struct Progress {
    failed: bool,
    epoch: u64,
    written_lsn: Lsn,
    durable_lsn: Lsn,
}

impl Progress {
    fn met(self, target: Target) -> bool {
        match target.goal {
            Goal::Written => self.written_lsn >= target.lsn,
            Goal::Durable => self.durable_lsn >= target.lsn,
        }
    }

    /// Met, refused (its epoch was cut), or never to be met (the log failed).
    fn settled(self, target: Target) -> bool {
        self.failed || target.epoch != self.epoch || self.met(target)
    }
}

/// The group-commit engine over a sink.
#[derive(Debug)]
pub(crate) struct GroupCommit<S> {
    state: Mutex<CommitState>,
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
                writing: false,
                syncing: false,
                written_lsn: next_lsn - 1,
                durable_lsn: next_lsn - 1,
                failure: None,
                closed: false,
                refusals: Vec::new(),
                waiters: Vec::new(),
                tasks: Vec::new(),
                next_task: 0,
                syncer: None,
                stats: CommitStats::default(),
            }),
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
        let goal = match durability {
            Durability::Immediate => Goal::Durable,
            Durability::Eventual => Goal::Written,
        };
        let target = state.target(goal, lsn, true);
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
        let target = state.target(Goal::Durable, lsn, true);
        self.drive(state, target).map(|_| ())
    }

    /// Makes every record appended so far durable; returns the last one covered (records
    /// refused meanwhile are not: they no longer exist).
    pub(crate) fn flush(&self) -> Result<Lsn> {
        let state = self.state.lock();
        let target = state.target(Goal::Durable, state.next_lsn - 1, false);
        self.drive(state, target)
    }

    /// Polls an async wait: ready once its LSN is durable (or can never be), else its waker
    /// is registered (replacing the one of an earlier poll) and the syncer signalled.
    pub(crate) fn poll_durable(&self, wait: &mut TaskWait, waker: &Waker) -> Poll<Result<()>> {
        let mut state = self.state.lock();
        let (mut target, id) = if let Some(registered) = wait.registered {
            registered
        } else {
            if wait.lsn >= state.next_lsn {
                return Poll::Ready(Err(Error::BeyondEnd {
                    requested: wait.lsn,
                    last: state.next_lsn - 1,
                }));
            }
            let id = state.next_task;
            state.next_task += 1;
            (state.target(Goal::Durable, wait.lsn, true), id)
        };
        let outcome = match (&state.failure, state.revise(&mut target)) {
            (Some(cause), _) => Some(Err(Error::Poisoned {
                cause: cause.clone(),
            })),
            (None, Err(refused)) => Some(Err(refused)),
            (None, Ok(())) => state.met(target).then_some(Ok(())),
        };
        wait.registered = Some((target, id));
        if let Some(outcome) = outcome {
            Self::forget(&mut state, id);
            return Poll::Ready(outcome);
        }
        match state.tasks.iter_mut().find(|task| task.id == id) {
            Some(task) => {
                if !task.waker.will_wake(waker) {
                    task.waker.clone_from(waker);
                }
                task.target = target;
            }
            None => state.tasks.push(TaskWaiter {
                id,
                target,
                waker: waker.clone(),
            }),
        }
        if let Some(syncer) = state.syncer.take() {
            syncer.notify_one();
        }
        Poll::Pending
    }

    /// Removes an async wait's entry (its future was dropped before it was ready).
    pub(crate) fn forget_task(&self, wait: &TaskWait) {
        if let Some((_, id)) = wait.registered {
            Self::forget(&mut self.state.lock(), id);
        }
    }

    fn forget(state: &mut CommitState, id: u64) {
        if let Some(at) = state.tasks.iter().position(|task| task.id == id) {
            state.tasks.swap_remove(at);
        }
    }

    /// The syncer's loop: drives toward the highest LSN a task waits for, parks while none
    /// waits beyond `durable_lsn`; returns once the log is poisoned, or closed with no task
    /// left waiting.
    pub(crate) fn serve_tasks(&self) {
        let mut state = self.state.lock();
        loop {
            if state.failure.is_some() {
                return;
            }
            let wanted = state.tasks.iter().map(|task| task.target.lsn).max();
            match wanted {
                Some(lsn) if lsn > state.durable_lsn => {
                    // Not the syncer's own record: a refusal revises the target instead of
                    // failing it (the task itself learns of the refusal from `wake`).
                    let target = state.target(Goal::Durable, lsn, false);
                    let _ = self.drive(state, target);
                    state = self.state.lock();
                }
                _ if state.closed => return,
                _ => {
                    let signal = Arc::new(Condvar::new());
                    state.syncer = Some(Arc::clone(&signal));
                    state = signal.wait(state);
                    state.syncer = None;
                }
            }
        }
    }

    /// Refuses new appends, then makes everything appended durable (shutdown drains).
    pub(crate) fn close(&self) -> Result<()> {
        let mut state = self.state.lock();
        state.closed = true;
        if let Some(syncer) = state.syncer.take() {
            syncer.notify_one(); // it returns once no task waits
        }
        let target = state.target(Goal::Durable, state.next_lsn - 1, false);
        self.drive(state, target).map(|_| ())
    }

    /// `(next, written, durable)` LSNs.
    pub(crate) fn positions(&self) -> (Lsn, Lsn, Lsn) {
        let state = self.state.lock();
        (state.next_lsn, state.written_lsn, state.durable_lsn)
    }

    pub(crate) fn stats(&self) -> CommitStats {
        self.state.lock().stats.clone()
    }

    /// Drives toward `target`; returns the LSN it finally covered (lower than asked when
    /// a flush's records were refused meanwhile).
    fn drive<'a>(
        &'a self,
        mut state: MutexGuard<'a, CommitState>,
        mut target: Target,
    ) -> Result<Lsn> {
        loop {
            if let Some(cause) = &state.failure {
                return Err(Error::Poisoned {
                    cause: cause.clone(),
                });
            }
            state.revise(&mut target)?;
            if state.met(target) {
                return Ok(target.lsn);
            }
            match target.goal {
                Goal::Written => {
                    // An eventual append only needs the write token: it never waits for a
                    // sync in flight.
                    if state.writing {
                        state = Self::park(state, target);
                        continue;
                    }
                    let (guard, outcome) = self.write_round(state);
                    state = guard;
                    if let Err(failure) = outcome {
                        Self::own_failure(failure, target)?;
                    }
                }
                Goal::Durable => {
                    // A durable append leads a whole round (write everything queued, then sync)
                    // or waits for the one in flight, as followers queue meanwhile.
                    if state.syncing || state.writing {
                        state = Self::park(state, target);
                        continue;
                    }
                    state.syncing = true;
                    if let Some(window) = self.window {
                        // Let more appenders queue (they see `syncing` and wait for this round).
                        drop(state);
                        std::thread::sleep(window);
                        state = self.state.lock();
                    }
                    if state.writing {
                        // An eventual append took the write token during the window.
                        state.syncing = false;
                        Self::wake(&mut state);
                        continue;
                    }
                    let (guard, outcome) = self.write_round(state);
                    state = guard;
                    if let Err(failure) = outcome {
                        // No sync this round: let another driver lead.
                        state.syncing = false;
                        Self::wake(&mut state);
                        Self::own_failure(failure, target)?;
                        continue;
                    }
                    let upto = state.written_lsn;
                    drop(state);
                    let started = Instant::now();
                    let result = self.sink.sync();
                    let micros = started.elapsed().as_micros() as u64;
                    state = self.state.lock();
                    state.syncing = false;
                    if let Err(error) = result {
                        return Err(Self::fail_in_place(&mut state, error));
                    }
                    state.durable_lsn = state.durable_lsn.max(upto);
                    state.stats.record_sync(micros);
                    Self::wake(&mut state);
                }
            }
        }
    }

    /// What a failed round means for the driver that led it: the sink's own error when the
    /// log is poisoned or the driver's record was refused; nothing when only other records
    /// were refused (the driver goes on, its target revised).
    fn own_failure(failure: RoundFailure, target: Target) -> Result<()> {
        match failure {
            RoundFailure::Poisoned(error) => Err(error),
            RoundFailure::Refused { error, from } if target.own && target.lsn >= from => Err(error),
            RoundFailure::Refused { .. } => Ok(()),
        }
    }

    /// Takes the write token, writes everything queued, releases the token (waking eventual
    /// appenders, which may write during the sync that may follow). Returns the guard and
    /// how the round failed, if it did.
    fn write_round<'a>(
        &'a self,
        mut state: MutexGuard<'a, CommitState>,
    ) -> (MutexGuard<'a, CommitState>, Result<(), RoundFailure>) {
        state.writing = true;
        let batch = std::mem::take(&mut state.pending);
        drop(state);
        let result = if batch.is_empty() {
            Ok(())
        } else {
            self.sink.write(&batch)
        };
        // What the bookkeeping below needs of the batch, which goes to the sink.
        let first = batch.first().map(|r| r.lsn);
        let written = batch.last().map(|last| {
            (
                last.lsn,
                batch.iter().map(|r| r.payload.len() as u64).sum::<u64>(),
                batch.len(),
            )
        });
        if result.is_ok() {
            self.sink.written(batch);
        } else {
            drop(batch);
        }
        let mut state = self.state.lock();
        state.writing = false;
        match result {
            Ok(()) => {}
            Err(SinkError::Refused(error)) if state.refusals.len() < REFUSALS_MAX => {
                let from = first.expect("a refused batch is not empty");
                Self::refuse(&mut state, from, &error);
                Self::wake(&mut state);
                return (state, Err(RoundFailure::Refused { error, from }));
            }
            Err(SinkError::Refused(error) | SinkError::Failed(error)) => {
                let error = Self::fail_in_place(&mut state, error);
                return (state, Err(RoundFailure::Poisoned(error)));
            }
        }
        if let Some((last, bytes, records)) = written {
            state.written_lsn = last;
            state.stats.record_round(records, bytes);
        }
        Self::wake(&mut state);
        (state, Ok(()))
    }

    /// Parks the calling driver until `wake` picks it (or a spurious wake-up); it is off
    /// the list when this returns.
    fn park(mut state: MutexGuard<'_, CommitState>, target: Target) -> MutexGuard<'_, CommitState> {
        let signal = Arc::new(Condvar::new());
        state.waiters.push(Waiter {
            target,
            signal: Arc::clone(&signal),
        });
        state = signal.wait(state);
        if let Some(at) = state
            .waiters
            .iter()
            .position(|waiter| Arc::ptr_eq(&waiter.signal, &signal))
        {
            state.waiters.swap_remove(at);
        }
        state
    }

    /// Wakes the waiters that can make progress now: every one whose target is met, was
    /// refused, or can never be met (the log failed); then, when the write token is free
    /// and work remains, one waiter that can take it: a writer of pending records, or the
    /// leader of a sync round.
    fn wake(state: &mut CommitState) {
        let progress = state.progress();
        for waiter in state
            .waiters
            .extract_if(.., |waiter| progress.settled(waiter.target))
        {
            waiter.signal.notify_one();
        }
        // Wakers run under the lock: an executor's `wake` schedules the task (it never polls
        // it inline), so nothing re-enters this lock.
        for task in state
            .tasks
            .extract_if(.., |task| progress.settled(task.target))
        {
            task.waker.wake();
        }
        if state.writing || state.waiters.is_empty() {
            return;
        }
        let next = if !state.pending.is_empty() {
            // Someone must write the queued records: an eventual appender can at once; a
            // durable one leads a round unless a sync is in flight.
            state
                .waiters
                .iter()
                .position(|waiter| waiter.target.goal == Goal::Written)
                .or_else(|| (!state.syncing).then_some(0))
        } else if !state.syncing {
            // Written but not durable: a durable waiter leads the next sync.
            state
                .waiters
                .iter()
                .position(|waiter| waiter.target.goal == Goal::Durable)
        } else {
            None
        };
        if let Some(next) = next {
            state.waiters.swap_remove(next).signal.notify_one();
        }
    }

    /// Drops the refused batch (first LSN `from`) and everything queued after it, and starts
    /// a new epoch numbering from `from` again.
    fn refuse(state: &mut CommitState, from: Lsn, error: &Error) {
        debug_assert_eq!(
            state.written_lsn + 1,
            from,
            "batches are written in LSN order"
        );
        state.pending.clear();
        state.next_lsn = from;
        state.refusals.push(Refusal {
            from,
            cause: error.to_string(),
            no_space: error.is_no_space(),
        });
        state.stats.refused_batches += 1;
    }

    /// Poisons the log with `error`, wakes everyone, and returns the error for the caller.
    fn fail_in_place(state: &mut CommitState, error: Error) -> Error {
        state.failure = Some(error.to_string());
        Self::wake(state);
        error
    }
}
