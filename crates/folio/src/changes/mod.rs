//! The change feed: every committed transaction after an LSN, in commit order, read from
//! the write-ahead log ([`Database::changes`]), and the registered subscribers for whom
//! checkpoints keep the log ([`Database::register_subscriber`]). docs/changes.md has the
//! guide.
//!
//! A commit is one log record with one LSN, so a [`Change`] is one whole transaction. What a
//! feed delivers is what readers could see: a record is delivered once its LSN is published
//! (every earlier one is, too), never a commit that failed. Two kinds of commit reach the
//! log without their data, and the feed says so rather than skipping them:
//! [`ChangeOp::Unlogged`] marks a bulk-load chunk or a transaction past
//! `large_transaction_bytes` (read the column family from a snapshot at or after the
//! change's LSN); compaction and compression changes emit nothing.

#[cfg(feature = "async")]
mod async_feed;
mod feed;
mod signal;
mod subscribers;

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use folio_wal::Lsn;

#[cfg(feature = "async")]
pub use async_feed::ChangeStream;
pub use feed::Changes;
pub(crate) use signal::FeedWakers;
pub use subscribers::{SUBSCRIBER_NAME_BYTES_MAX, SUBSCRIBERS_FILE, SubscriberInfo};
pub(crate) use subscribers::{Subscribers, truncate_below};

use crate::{Database, Error, Result};

/// One committed transaction, as a change feed delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Its LSN: the version a snapshot taken right after it shows
    /// ([`crate::ReadTransaction::version`]); resume a feed after it with
    /// [`Database::changes`].
    pub lsn: Lsn,
    /// True when the commit was durable in the log when it was delivered. An
    /// `Eventual` commit may be delivered before it is: a power cut can then lose it, and a
    /// later commit may reuse its LSN. Consumers that must never see such a commit use
    /// [`Changes::durable_only`].
    pub durable: bool,
    /// Its operations that pass the feed's filters, in the order the transaction made
    /// them (never empty: commits with none are not delivered).
    pub ops: Vec<ChangeOp>,
}

/// One operation of a [`Change`]. Column families are named as they were at the commit.
/// Keys and values are [`Bytes`] sharing the commit's record (no copy per operation).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChangeOp {
    /// `key` was set to `value` (a merge or an increment delivers its result).
    Put {
        /// The column family.
        cf: Arc<str>,
        /// The key.
        key: Bytes,
        /// The new value.
        value: Bytes,
    },
    /// `key` was deleted (whether or not it existed).
    Delete {
        /// The column family.
        cf: Arc<str>,
        /// The key.
        key: Bytes,
    },
    /// Every key in the range was deleted.
    DeleteRange {
        /// The column family.
        cf: Arc<str>,
        /// The range's start.
        start: Bound<Bytes>,
        /// The range's end.
        end: Bound<Bytes>,
    },
    /// The column family changed without its data in the log (a bulk-load chunk, or a
    /// transaction past `large_transaction_bytes`): read it from a snapshot whose version
    /// is at least this change's LSN. Delivered whatever the key-prefix filter.
    Unlogged {
        /// The column family.
        cf: Arc<str>,
    },
    /// The column family was created.
    CreateCf {
        /// Its name.
        cf: Arc<str>,
    },
    /// The column family was dropped with everything in it.
    DropCf {
        /// Its name.
        cf: Arc<str>,
    },
    /// The column family was renamed (a column-family filter passes it when it names
    /// either name).
    RenameCf {
        /// The old name.
        from: Arc<str>,
        /// The new name.
        to: Arc<str>,
    },
}

impl Database {
    /// A change feed: the commits after LSN `after`, in commit order, each delivered once
    /// it is visible to readers. The iterator waits for new commits and ends when the
    /// database closes; [`Changes::try_next`] and [`Changes::next_timeout`] do not wait.
    /// Narrow it with [`Changes::column_family`] and [`Changes::prefix`].
    ///
    /// The feed reads the write-ahead log, which checkpoints truncate: start from a
    /// registered subscriber's position ([`Database::register_subscriber`]) for the log to
    /// be kept. `after` = 0 starts at the first commit, which only a database whose log was
    /// never truncated still holds. Errors: [`Error::ChangesTruncated`] when the log no
    /// longer holds the commits after `after` (now or later, if the feed falls behind),
    /// [`Error::ChangesAhead`] when `after` is past the latest commit.
    ///
    /// ```
    /// # fn main() -> folio::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = folio::Database::open(dir.path())?;
    /// db.create_cf("orders")?;
    /// let start = db.register_subscriber("audit")?; // the log is kept from here on
    /// let mut txn = db.begin_write(&["orders"])?;
    /// txn.put("orders", b"o-1", b"2 apples")?;
    /// let lsn = txn.commit()?;
    ///
    /// let mut feed = db.changes(start)?.column_family("orders");
    /// let change = feed.try_next()?.expect("the commit is visible");
    /// assert_eq!(change.lsn, lsn);
    /// assert!(matches!(&change.ops[0], folio::ChangeOp::Put { key, .. } if key[..] == b"o-1"[..]));
    /// db.acknowledge("audit", change.lsn)?; // the log before it may go
    /// # Ok(())
    /// # }
    /// ```
    pub fn changes(&self, after: Lsn) -> Result<Changes> {
        Changes::new(Arc::clone(&self.inner), after)
    }

    /// Registers a durable subscriber `name` (1 to 255 bytes), kept in the database
    /// directory: checkpoints keep the log after its acknowledged position (within
    /// [`crate::DatabaseOptions::change_retention_bytes`]) across restarts. A new
    /// subscriber starts at the latest published version; registering an existing one
    /// changes nothing. Returns its position: start its feed there.
    pub fn register_subscriber(&self, name: &str) -> Result<Lsn> {
        self.inner.check_open()?;
        let published = self.inner.publisher.current().version;
        self.inner.subscribers.register(name, published)
    }

    /// Says that subscriber `name` has processed every change up to `lsn`: the log before
    /// it may go at the next checkpoint. Positions only move forward (an older `lsn` does
    /// nothing). Kept in memory and made durable by the next checkpoint or the close; after
    /// a crash the position may be an earlier one, which keeps more log, never less.
    pub fn acknowledge(&self, name: &str, lsn: Lsn) -> Result<()> {
        self.inner.check_open()?;
        let published = self.inner.publisher.current().version;
        if lsn > published {
            return Err(Error::ChangesAhead {
                after: lsn,
                published,
            });
        }
        self.inner.subscribers.acknowledge(name, lsn)
    }

    /// The acknowledged position of subscriber `name`.
    pub fn subscriber_position(&self, name: &str) -> Result<Lsn> {
        self.inner.subscribers.acknowledged(name)
    }

    /// Removes subscriber `name`; the log it kept goes at the next checkpoint.
    pub fn unregister_subscriber(&self, name: &str) -> Result<()> {
        self.inner.check_open()?;
        self.inner.subscribers.unregister(name)
    }

    /// The registered subscribers, by name.
    pub fn subscribers(&self) -> Vec<SubscriberInfo> {
        self.inner.subscribers.list()
    }

    /// The earliest position a change feed can start from now: the log holds every commit
    /// after it (a feed from an earlier one gets [`Error::ChangesTruncated`]).
    pub fn earliest_change_position(&self) -> Lsn {
        self.inner.wal.stats().oldest_lsn.saturating_sub(1)
    }
}
