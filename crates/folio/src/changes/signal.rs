//! [`FeedSignal`]: how blocked change feeds learn of new commits without touching the
//! commit path's locks. A publish checks one counter; only when feeds wait does it take
//! the signal's own lock to wake them (before, feeds waited on the publisher's condition
//! variable and every publish woke them into the lock the next publish needed).

use std::sync::atomic::{AtomicUsize, Ordering, fence};
use std::time::Instant;

use folio_wal::Lsn;
use parking_lot::{Condvar, Mutex};

#[derive(Debug, Default)]
pub(crate) struct FeedSignal {
    /// Feeds between their last check and their wake-up.
    waiting: AtomicUsize,
    lock: Mutex<()>,
    woken: Condvar,
}

impl FeedSignal {
    /// Waits until `published()` passes `after`, `deadline` passes or `stop()` holds;
    /// returns the published version. A waiter counts itself and checks again under the
    /// lock, and a notifier reads the count after its new version is visible (both fence):
    /// either the check sees the version, or the notifier sees the waiter and wakes it.
    pub(crate) fn wait_past(
        &self,
        published: impl Fn() -> Lsn,
        after: Lsn,
        deadline: Option<Instant>,
        stop: impl Fn() -> bool,
    ) -> Lsn {
        loop {
            let version = published();
            if version > after || stop() {
                return version;
            }
            let mut guard = self.lock.lock();
            self.waiting.fetch_add(1, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            let version = published();
            let timed_out = if version > after || stop() {
                false
            } else if let Some(deadline) = deadline {
                self.woken.wait_until(&mut guard, deadline).timed_out()
            } else {
                self.woken.wait(&mut guard);
                false
            };
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            if timed_out {
                return published();
            }
        }
    }

    /// Wakes the waiting feeds, if any (after a publish, and at close).
    pub(crate) fn notify(&self) {
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock();
            self.woken.notify_all();
        }
    }
}
