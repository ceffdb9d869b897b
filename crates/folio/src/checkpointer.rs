//! The background checkpointer: checkpoints when dirty bytes, log bytes or time say so, or
//! at once when asked ([`CheckpointerHandle::control`]: async commits hand it the
//! back-pressure checkpoint instead of running it on a runtime thread).

use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::database::DbInner;

/// How often the checkpointer looks at its triggers.
const POLL: Duration = Duration::from_millis(20);

/// Stops the checkpointer thread when dropped.
#[derive(Debug)]
pub(crate) struct CheckpointerHandle {
    control: Arc<Control>,
    thread: Option<JoinHandle<()>>,
}

/// What the checkpointer thread and those who talk to it share.
#[derive(Debug, Default)]
pub(crate) struct Control {
    state: Mutex<ControlState>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct ControlState {
    stopped: bool,
    /// Someone waits for a checkpoint: run one at once.
    requested: bool,
    /// Checkpoints run by the thread, and how many of them failed.
    finished: u64,
    failed: u64,
    /// Tasks waiting for the next checkpoint to finish.
    #[cfg(feature = "async")]
    waiters: Vec<std::task::Waker>,
}

/// The checkpoints the thread had finished at some point (see [`Control::request`]).
#[cfg(feature = "async")]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Finished {
    finished: u64,
    failed: u64,
}

/// How the first checkpoint after a [`Finished`] went.
#[cfg(feature = "async")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Succeeded,
    Failed,
    /// The checkpointer stopped (the database is closing).
    Stopped,
}

impl Control {
    fn lock(&self) -> MutexGuard<'_, ControlState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Asks for a checkpoint at once; returns what had finished before it.
    #[cfg(feature = "async")]
    pub(crate) fn request(&self) -> Finished {
        let mut state = self.lock();
        state.requested = true;
        self.wake.notify_all();
        Finished {
            finished: state.finished,
            failed: state.failed,
        }
    }

    /// Ready once a checkpoint finished after `since` (or the checkpointer stopped); else
    /// registers `waker` for the next one.
    #[cfg(feature = "async")]
    pub(crate) fn poll_finished(
        &self,
        since: Finished,
        waker: &std::task::Waker,
    ) -> std::task::Poll<Outcome> {
        let mut state = self.lock();
        if state.failed > since.failed {
            std::task::Poll::Ready(Outcome::Failed)
        } else if state.finished > since.finished {
            std::task::Poll::Ready(Outcome::Succeeded)
        } else if state.stopped {
            std::task::Poll::Ready(Outcome::Stopped)
        } else {
            if !state.waiters.iter().any(|w| w.will_wake(waker)) {
                state.waiters.push(waker.clone());
            }
            std::task::Poll::Pending
        }
    }

    /// Counts a finished checkpoint and wakes the tasks that wait for one.
    fn finished(&self, succeeded: bool) {
        let mut state = self.lock();
        state.finished += 1;
        state.failed += u64::from(!succeeded);
        Self::wake_tasks(&mut state);
    }

    #[cfg(feature = "async")]
    fn wake_tasks(state: &mut ControlState) {
        for waker in state.waiters.drain(..) {
            waker.wake();
        }
    }

    #[cfg(not(feature = "async"))]
    fn wake_tasks(_: &mut ControlState) {}
}

impl CheckpointerHandle {
    /// What async commits use to ask for checkpoints and wait for them.
    #[cfg(feature = "async")]
    pub(crate) fn control(&self) -> Arc<Control> {
        Arc::clone(&self.control)
    }
}

impl Drop for CheckpointerHandle {
    fn drop(&mut self) {
        {
            let mut state = self.control.lock();
            state.stopped = true;
            Control::wake_tasks(&mut state);
        }
        self.control.wake.notify_all();
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }
}

/// Starts the checkpointer for `db`. It holds only a weak reference; closing the database
/// stops it.
pub(crate) fn start(db: &Arc<DbInner>, interval: Duration) -> CheckpointerHandle {
    let control = Arc::new(Control::default());
    let weak: Weak<DbInner> = Arc::downgrade(db);
    let thread = {
        let control = Arc::clone(&control);
        std::thread::Builder::new()
            .name("folio-checkpointer".into())
            .spawn(move || run(&weak, &control, interval))
            .expect("spawning the checkpointer thread")
    };
    CheckpointerHandle {
        control,
        thread: Some(thread),
    }
}

fn run(weak: &Weak<DbInner>, control: &Control, interval: Duration) {
    let mut last = Instant::now();
    loop {
        let requested = {
            let state = control.lock();
            // Checks the flags before waiting: a stop or request that came while we were busy
            // is served at once instead of after a full poll period.
            let (mut state, _) = control
                .wake
                .wait_timeout_while(state, POLL, |state| !state.stopped && !state.requested)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if state.stopped {
                return;
            }
            std::mem::take(&mut state.requested)
        };
        // Upgraded only for one check: the database's close joins this thread, and never
        // runs on it (the handle that closes is held by `Database` clones only).
        let Some(inner) = weak.upgrade() else {
            return;
        };
        if inner.is_closed() {
            return;
        }
        if requested || inner.checkpoint_due(last.elapsed() >= interval) {
            // A failed checkpoint leaves the previous one durable; the error is kept in the
            // stats and the next trigger tries again (a poisoned store keeps failing).
            let succeeded = inner.checkpoint().is_ok();
            control.finished(succeeded);
            last = Instant::now();
        }
    }
}
