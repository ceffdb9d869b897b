//! [`DurableWait`]: a future that resolves once a record is durable, woken by the group-commit
//! round that covers it instead of a blocked thread.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::Result;
use crate::group_commit::TaskWait;
use crate::wal::WalShared;

/// Resolves once a record is durable; see [`crate::Wal::durable`].
///
/// Polling never writes or syncs: the log's syncer thread (one per log, started by the first
/// wait that has to wait) leads the sync rounds, and the round that covers the record wakes
/// the task. Runtime-agnostic: it only uses the `Waker` it is polled with. Dropping it before
/// it is ready withdraws the wait (the record itself stays in the log).
#[derive(Debug)]
#[must_use = "a future does nothing unless awaited"]
pub struct DurableWait {
    shared: Arc<WalShared>,
    wait: TaskWait,
}

impl DurableWait {
    pub(crate) fn new(shared: Arc<WalShared>, lsn: crate::Lsn) -> Self {
        Self {
            shared,
            wait: TaskWait::new(lsn),
        }
    }
}

impl Future for DurableWait {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let poll = this.shared.commit.poll_durable(&mut this.wait, cx.waker());
        if poll.is_pending() {
            WalShared::ensure_syncer(&this.shared);
        }
        poll
    }
}

impl Drop for DurableWait {
    fn drop(&mut self) {
        self.shared.commit.forget_task(&self.wait);
    }
}
