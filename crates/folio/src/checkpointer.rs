//! The background checkpointer: checkpoints when dirty bytes, log bytes or time say so.

use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::database::DbInner;

/// How often the checkpointer looks at its triggers.
const POLL: Duration = Duration::from_millis(20);

/// Stops the checkpointer thread when dropped.
#[derive(Debug)]
pub(crate) struct CheckpointerHandle {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for CheckpointerHandle {
    fn drop(&mut self) {
        *self
            .stop
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        self.stop.1.notify_all();
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
    let stop = Arc::new((Mutex::new(false), Condvar::new()));
    let weak: Weak<DbInner> = Arc::downgrade(db);
    let thread = {
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("folio-checkpointer".into())
            .spawn(move || run(&weak, &stop, interval))
            .expect("spawning the checkpointer thread")
    };
    CheckpointerHandle {
        stop,
        thread: Some(thread),
    }
}

fn run(weak: &Weak<DbInner>, stop: &(Mutex<bool>, Condvar), interval: Duration) {
    let mut last = Instant::now();
    loop {
        {
            let stopped = stop
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // Checks the flag before waiting: a stop requested while we were busy ends the
            // thread at once instead of after a full poll period.
            let (stopped, _) = stop
                .1
                .wait_timeout_while(stopped, POLL, |stopped| !*stopped)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if *stopped {
                return;
            }
        }
        // Upgraded only for one check: the database's close joins this thread, and never
        // runs on it (the handle that closes is held by `Database` clones only).
        let Some(inner) = weak.upgrade() else {
            return;
        };
        if inner.is_closed() {
            return;
        }
        if inner.checkpoint_due(last.elapsed() >= interval) {
            // A failed checkpoint leaves the previous one durable; the error is kept in the
            // stats and the next trigger tries again (a poisoned store keeps failing).
            let _ = inner.checkpoint();
            last = Instant::now();
        }
    }
}
