//! [`Engine`]: what a database must offer to run the workloads.

use std::path::Path;

/// Errors of engines and workloads.
pub type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Whether each commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SyncMode {
    /// Each commit is durable (fsync, or a group commit's shared one) when it returns.
    Sync,
    /// Commits return once written; the disk catches up later.
    NoSync,
}

impl SyncMode {
    /// `sync` or `no-sync`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Sync => "sync",
            Self::NoSync => "no-sync",
        }
    }
}

/// A key-value store under test. Keyspaces are column families, partitions, tables or
/// named databases, whatever the engine calls them.
pub trait Engine: Send + Sync {
    /// The engine's name in reports.
    fn name(&self) -> &'static str;

    /// Creates keyspace `name`, or opens it when it exists (after a reopen).
    fn create_keyspace(&self, name: &str) -> BenchResult<()>;

    /// Commits `entries` (puts) into `keyspace` atomically, durable when `mode` says so.
    fn write(
        &self,
        keyspace: &str,
        entries: &[(Vec<u8>, Vec<u8>)],
        mode: SyncMode,
    ) -> BenchResult<()>;

    /// The value of `key` in `keyspace`.
    fn get(&self, keyspace: &str, key: &[u8]) -> BenchResult<Option<Vec<u8>>>;

    /// Up to `limit` entries from `start` on (a range read); returns how many.
    fn scan(&self, keyspace: &str, start: &[u8], limit: usize) -> BenchResult<usize>;

    /// W9: in one transaction of the engine's transaction API, reads accounts `from` and
    /// `to` of `keyspace` (8-byte big-endian balances) and, when `from` holds `amount`,
    /// writes both moved by it ([`crate::apply_transfer`]); durable when `mode` says so.
    /// Conflicts are retried until it commits; returns how many attempts conflicted.
    fn transfer(
        &self,
        keyspace: &str,
        from: &[u8],
        to: &[u8],
        amount: u64,
        mode: SyncMode,
    ) -> BenchResult<u64>;

    /// Loads `entries` (ascending keys) as fast as the engine can; durable on return.
    fn bulk_load(
        &self,
        keyspace: &str,
        entries: &mut dyn Iterator<Item = (Vec<u8>, Vec<u8>)>,
    ) -> BenchResult<()>;

    /// Puts every entry of `entries` into `keyspace` in one transaction (atomic: all or
    /// none), durable on return. Entries come in random order and may far exceed memory
    /// budgets: this measures how the engine holds a large uncommitted transaction.
    fn large_transaction(
        &self,
        keyspace: &str,
        entries: &mut dyn Iterator<Item = (Vec<u8>, Vec<u8>)>,
    ) -> BenchResult<()>;

    /// Removes every key of `keyspace` from `start` (included) to `end` (excluded) in one
    /// durable commit, with the engine's own range deletion; false (and nothing done) when
    /// the engine has none, so the harness leaves it out.
    fn delete_range(&self, keyspace: &str, start: &[u8], end: &[u8]) -> BenchResult<bool> {
        let _ = (keyspace, start, end);
        Ok(false)
    }

    /// Makes everything written to `keyspace` durable in the engine's own files (a
    /// checkpoint, a memtable flush), so their size is what the data takes. Engines that
    /// write in place need nothing.
    fn flush(&self, keyspace: &str) -> BenchResult<()> {
        let _ = keyspace;
        Ok(())
    }

    /// Gives space the engine's files hold but no longer use back to the file system, when
    /// the engine does that on request (folio's online compaction); untimed in W8. LSM
    /// engines compact in the background; engines that write in place need nothing.
    fn compact(&self) -> BenchResult<()> {
        Ok(())
    }

    /// fsync calls so far, when the engine counts its own.
    fn syncs(&self) -> Option<u64> {
        None
    }

    /// Whether writers of different keyspaces commit in parallel (else they take turns,
    /// which the report notes).
    fn parallel_writers(&self) -> bool;
}

/// Opens an engine in a fresh directory.
pub type Opener = dyn Fn(&Path) -> BenchResult<Box<dyn Engine>> + Sync;

/// Counts the entries of a scan, stopping at the first error (what every engine's
/// [`Engine::scan`] does with its iterator).
pub fn count_entries<T, E>(entries: impl Iterator<Item = Result<T, E>>) -> Result<usize, E> {
    let mut count = 0;
    for entry in entries {
        entry?;
        count += 1;
    }
    Ok(count)
}
