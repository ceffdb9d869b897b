//! The change feed as a future (cargo feature `async`): [`Changes::next_async`] waits for
//! the next commit without a blocked thread, woken by the publish that makes one visible.
//! Reading and decoding the record still happen on the polling thread (a read of the log
//! file, usually from the operating system's cache).

use std::future::poll_fn;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::task::{Poll, Waker};

use parking_lot::Mutex;

use super::{Change, Changes};
use crate::{Error, Result};

/// Wakers of async feeds waiting for the next publish (one set per database).
#[derive(Debug, Default)]
pub(crate) struct FeedWakers {
    /// True while `wakers` may hold one: publishes check only this.
    waiting: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

impl FeedWakers {
    /// Registers `waker` for the next [`FeedWakers::wake_all`]. The caller checks its
    /// condition again after this: either that check sees the publish (or close), or the
    /// publisher's check of `waiting` sees this registration (both sides fence).
    fn register(&self, waker: &Waker) {
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
}

impl Changes {
    /// The next change, as a future that resolves once one is visible (with
    /// [`Changes::durable_only`], once it is durable, awaiting the log's sync round);
    /// `None` once the database is closed or after an error. Runtime-agnostic.
    pub async fn next_async(&mut self) -> Option<Result<Change>> {
        if self.failed {
            return None;
        }
        loop {
            match self.try_next() {
                Ok(Some(change)) => return Some(Ok(change)),
                Ok(None) => {}
                Err(Error::Closed) => return None,
                Err(error) => {
                    self.failed = true;
                    return Some(Err(error));
                }
            }
            let db = Arc::clone(&self.db);
            let published = db.publisher.current().version;
            if self.durable_only && published > self.after {
                if let Err(error) = db.wal.durable(published).await {
                    let error = Error::from(error);
                    if matches!(error, Error::Closed) {
                        return None;
                    }
                    self.failed = true;
                    return Some(Err(error));
                }
                continue;
            }
            let after = self.after;
            let ready = || db.is_closed() || db.publisher.current().version > after;
            poll_fn(|cx| {
                if ready() {
                    return Poll::Ready(());
                }
                db.publisher.feed_wakers.register(cx.waker());
                if ready() {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
        }
    }
}
