//! [`FeedWakers`]: how change feeds waiting for the next commit learn of it without touching
//! the commit path's locks. A waiting feed registers a [`Waker`] (an async feed its task's;
//! a blocking feed one that unparks its thread); a publish checks one flag and takes the
//! registry's lock only when feeds wait (before, blocking feeds waited on the publisher's
//! condition variable and every publish woke them into the lock the next publish needed).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::task::{Wake, Waker};
use std::time::Instant;

use folio_wal::Lsn;
use parking_lot::Mutex;

/// Wakers of the feeds waiting for the next publish (one set per database).
#[derive(Debug, Default)]
pub(crate) struct FeedWakers {
    /// True while `wakers` may hold one: publishes check only this.
    waiting: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

/// Wakes a thread parked in [`FeedWakers::wait_past`].
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

impl FeedWakers {
    /// Registers `waker` for the next [`FeedWakers::wake_all`]. The caller checks its
    /// condition again after this: either that check sees the publish (or close), or the
    /// publisher's check of `waiting` sees this registration (both sides fence).
    pub(crate) fn register(&self, waker: &Waker) {
        let mut wakers = self.wakers.lock();
        if !wakers.iter().any(|known| known.will_wake(waker)) {
            wakers.push(waker.clone());
        }
        self.waiting.store(true, Ordering::SeqCst);
        drop(wakers);
        fence(Ordering::SeqCst);
    }

    /// Wakes every registered feed: after a new version is published, and at close.
    pub(crate) fn wake_all(&self) {
        fence(Ordering::SeqCst);
        if !self.waiting.load(Ordering::SeqCst) {
            return;
        }
        let wakers = {
            let mut wakers = self.wakers.lock();
            self.waiting.store(false, Ordering::SeqCst);
            std::mem::take(&mut *wakers)
        };
        for waker in wakers {
            waker.wake();
        }
    }

    /// Blocks the calling thread until `published()` passes `after`, `deadline` passes or
    /// `stop()` holds; returns the published version. (A waker left registered when this
    /// returns only unparks the thread once more later: parking tolerates that.)
    pub(crate) fn wait_past(
        &self,
        published: impl Fn() -> Lsn,
        after: Lsn,
        deadline: Option<Instant>,
        stop: impl Fn() -> bool,
    ) -> Lsn {
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        loop {
            let version = published();
            if version > after || stop() {
                return version;
            }
            self.register(&waker);
            let version = published();
            if version > after || stop() {
                return version;
            }
            match deadline {
                None => std::thread::park(),
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => std::thread::park_timeout(left),
                    _ => return published(),
                },
            }
        }
    }
}
