//! [`CfSlot`]: one column family's writer, and [`WriterGuard`], the lock on it that knows
//! which thread took it, so a thread waiting for a writer it holds itself gets
//! [`Error::WouldDeadlock`] instead of waiting forever.

use std::sync::Arc;
#[cfg(feature = "async")]
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(feature = "async")]
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use folio_btree::BTreeMut;
use parking_lot::lock_api::ArcMutexGuard;
use parking_lot::{Mutex, RawMutex};

use crate::column_family::CfId;
use crate::concurrent::WriteHistory;
use crate::{Error, Result};

/// One column family's writer: its tree, locked by one write transaction at a time.
#[derive(Debug)]
pub(crate) struct CfSlot {
    pub(crate) id: CfId,
    /// The current name (a rename changes it).
    name: parking_lot::RwLock<Arc<str>>,
    tree: Arc<Mutex<BTreeMut>>,
    /// The token of the thread holding `tree` ([`thread_token`]), 0 when none. Only the
    /// holder writes its own token, so a thread that reads its own token holds the lock.
    holder: AtomicU64,
    /// Set (under the tree's lock) when the column family is dropped: a transaction that
    /// looked the slot up before the drop must not write to it once it gets the lock.
    pub(crate) dropped: AtomicBool,
    /// Keys recent commits wrote, for validating concurrent transactions; changed only by
    /// the holder of the writer (`concurrent/history.rs`).
    pub(crate) history: Mutex<WriteHistory>,
    /// Tasks waiting for the writer without a thread ([`CfSlot::poll_released`]).
    #[cfg(feature = "async")]
    release: ReleaseSignal,
}

/// Wakes tasks when a writer is released. A release bumps `epoch` and then looks for
/// waiters; a waiter registers and then looks at `epoch` (both `SeqCst`), so at least one
/// of the two sees the other: no wake-up is lost, and a release with nobody waiting costs
/// an increment and a load.
#[cfg(feature = "async")]
#[derive(Debug, Default)]
struct ReleaseSignal {
    epoch: AtomicU64,
    waiting: AtomicUsize,
    wakers: Mutex<Vec<Waker>>,
}

#[cfg(feature = "async")]
impl ReleaseSignal {
    fn released(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            let wakers = std::mem::take(&mut *self.wakers.lock());
            self.waiting.store(0, Ordering::SeqCst);
            for waker in wakers {
                waker.wake();
            }
        }
    }

    /// Ready once the epoch moved past `seen`; else registers `waker`.
    fn poll_since(&self, seen: u64, waker: &Waker) -> Poll<()> {
        {
            let mut wakers = self.wakers.lock();
            if !wakers.iter().any(|w| w.will_wake(waker)) {
                wakers.push(waker.clone());
                self.waiting.fetch_add(1, Ordering::SeqCst);
            }
        }
        if self.epoch.load(Ordering::SeqCst) == seen {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}

/// How long to wait for a writer another transaction holds.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wait {
    /// Until it is free.
    Forever,
    /// Not at all: [`Error::Busy`].
    No,
    /// Until this instant: [`Error::Busy`] after.
    Until(Instant),
}

impl Wait {
    pub(crate) fn at_most(timeout: Duration) -> Self {
        Instant::now()
            .checked_add(timeout)
            .map_or(Wait::Forever, Wait::Until)
    }
}

/// A number unique to the calling thread (never 0).
fn thread_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static TOKEN: u64 = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    TOKEN.with(|token| *token)
}

impl CfSlot {
    pub(crate) fn new(id: CfId, name: &str, tree: BTreeMut) -> Arc<Self> {
        Arc::new(Self {
            id,
            name: parking_lot::RwLock::new(Arc::from(name)),
            tree: Arc::new(Mutex::new(tree)),
            holder: AtomicU64::new(0),
            dropped: AtomicBool::new(false),
            history: Mutex::new(WriteHistory::default()),
            #[cfg(feature = "async")]
            release: ReleaseSignal::default(),
        })
    }

    /// The column family's name now.
    pub(crate) fn name(&self) -> Arc<str> {
        Arc::clone(&self.name.read())
    }

    /// Records a rename.
    pub(crate) fn set_name(&self, name: &str) {
        *self.name.write() = Arc::from(name);
    }

    /// Locks the writer of column family `name` for the calling thread, waiting as `wait`
    /// says. [`Error::WouldDeadlock`] when this thread holds it already (the check is by
    /// thread: a transaction moved to another thread still counts as its starter's).
    pub(crate) fn lock_writer(self: &Arc<Self>, name: &str, wait: Wait) -> Result<WriterGuard> {
        let token = thread_token();
        if self.holder.load(Ordering::Acquire) == token {
            return Err(Error::WouldDeadlock { cf: name.into() });
        }
        let guard = match wait {
            Wait::Forever => Some(self.tree.lock_arc()),
            Wait::No => self.tree.try_lock_arc(),
            Wait::Until(deadline) => self.tree.try_lock_arc_until(deadline),
        };
        let guard = guard.ok_or_else(|| Error::Busy { cf: name.into() })?;
        self.holder.store(token, Ordering::Release);
        Ok(WriterGuard {
            guard,
            slot: ReleasedOnDrop(Arc::clone(self)),
        })
    }

    /// How many times the writer was released so far: take it before trying the lock, then
    /// [`CfSlot::poll_released`] waits for the next release.
    #[cfg(feature = "async")]
    pub(crate) fn releases(&self) -> u64 {
        self.release.epoch.load(Ordering::SeqCst)
    }

    /// Ready once the writer was released after `releases` said `seen`; else `waker` is
    /// woken at the next release.
    #[cfg(feature = "async")]
    pub(crate) fn poll_released(&self, seen: u64, waker: &Waker) -> Poll<()> {
        self.release.poll_since(seen, waker)
    }

    /// True when the calling thread holds this writer.
    pub(crate) fn held_by_this_thread(&self) -> bool {
        self.holder.load(Ordering::Acquire) == thread_token()
    }

    /// Locks the writer during open (recovery), when no other thread can hold it.
    pub(crate) fn lock_for_recovery(&self) -> parking_lot::MutexGuard<'_, BTreeMut> {
        self.tree.lock()
    }
}

/// A locked column-family writer. Dereferences to its tree.
///
/// Fields drop in order after `Drop::drop`: `drop` clears the holder token before the
/// unlock (the next holder sets its own after locking), `guard` then unlocks, and `slot`
/// (with feature `async`) wakes the tasks waiting for the writer after it, so a woken
/// task's next try finds it free.
pub(crate) struct WriterGuard {
    guard: ArcMutexGuard<RawMutex, BTreeMut>,
    slot: ReleasedOnDrop,
}

/// The guard's slot; dropping it reports the release (after the unlock: see `WriterGuard`).
struct ReleasedOnDrop(Arc<CfSlot>);

#[cfg(feature = "async")]
impl Drop for ReleasedOnDrop {
    fn drop(&mut self) {
        self.0.release.released();
    }
}

impl WriterGuard {
    pub(crate) fn slot(&self) -> &Arc<CfSlot> {
        &self.slot.0
    }
}

impl std::ops::Deref for WriterGuard {
    type Target = BTreeMut;

    fn deref(&self) -> &BTreeMut {
        &self.guard
    }
}

impl std::ops::DerefMut for WriterGuard {
    fn deref_mut(&mut self) -> &mut BTreeMut {
        &mut self.guard
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        self.slot.0.holder.store(0, Ordering::Release);
    }
}
