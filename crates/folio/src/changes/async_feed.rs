//! The change feed as a future (cargo feature `async`): [`Changes::next_async`] waits for
//! the next commit without a blocked thread, woken by the publish that makes one visible
//! (its task's waker registered in `signal.rs`'s `FeedWakers`); [`ChangeStream`] is the
//! same as a `futures_core::Stream`.
//! Reading and decoding the record still happen on the polling thread (a read of the log
//! file, usually from the operating system's cache).

use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;

use super::{Change, Changes};
use crate::{Error, Result};

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

/// The future a [`ChangeStream`] polls: the feed's next change, handing the feed back.
type NextChange =
    std::pin::Pin<Box<dyn std::future::Future<Output = (Changes, Option<Result<Change>>)> + Send>>;

/// A change feed as a [`futures_core::Stream`] ([`Changes::into_stream`]): the items
/// [`Changes::next_async`] returns, ending once the database closes or after an error.
pub struct ChangeStream {
    /// The feed, while no change is being awaited.
    idle: Option<Changes>,
    /// The change being awaited (it owns the feed meanwhile).
    next: Option<NextChange>,
}

impl std::fmt::Debug for ChangeStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeStream")
            .field("awaiting", &self.next.is_some())
            .finish_non_exhaustive()
    }
}

impl Changes {
    /// This feed as a [`futures_core::Stream`] of changes (for `StreamExt` combinators and
    /// `select!`), runtime-agnostic like [`Changes::next_async`].
    pub fn into_stream(self) -> ChangeStream {
        ChangeStream {
            idle: Some(self),
            next: None,
        }
    }
}

impl futures_core::Stream for ChangeStream {
    type Item = Result<Change>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.next.is_none() {
            let Some(mut feed) = this.idle.take() else {
                return Poll::Ready(None); // ended
            };
            this.next = Some(Box::pin(async move {
                let item = feed.next_async().await;
                (feed, item)
            }));
        }
        let next = this.next.as_mut().expect("set above");
        let (feed, item) = std::task::ready!(next.as_mut().poll(cx));
        this.next = None;
        if item.is_some() {
            this.idle = Some(feed);
        }
        Poll::Ready(item)
    }
}
