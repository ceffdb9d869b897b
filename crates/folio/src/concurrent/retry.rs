//! [`Database::transact`]: run a closure in a concurrent transaction, retrying conflicts.

use std::time::Duration;

use folio_wal::Durability;

use super::ConcurrentTransaction;
use crate::{Database, Result};

/// How [`Database::transact_with`] retries and commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransactOptions {
    /// Attempts in all (at least 1); after the last conflict its error is returned.
    /// Default: 64.
    pub max_attempts: u32,
    /// The wait before the first retry; each later wait doubles, up to `backoff_max`, and
    /// each is drawn at random between half and all of that (jitter, so transactions that
    /// conflicted once do not meet again in step). Default: 20 µs.
    pub backoff_min: Duration,
    /// The longest wait between attempts. Default: 5 ms.
    pub backoff_max: Duration,
    /// The commits' durability (`None`: the database's default).
    pub durability: Option<Durability>,
}

impl Default for TransactOptions {
    fn default() -> Self {
        Self {
            max_attempts: 64,
            backoff_min: Duration::from_micros(20),
            backoff_max: Duration::from_millis(5),
            durability: None,
        }
    }
}

impl TransactOptions {
    /// The default options with `durability`.
    pub fn with_durability(durability: Durability) -> Self {
        Self {
            durability: Some(durability),
            ..Self::default()
        }
    }

    /// The durability of the commits on `db`.
    fn durability_on(&self, db: &Database) -> Durability {
        self.durability
            .unwrap_or(db.inner.options.default_durability)
    }

    /// True when `outcome` of attempt `attempt` (0-based) should be tried again.
    fn retry<T>(&self, outcome: &Result<T>, attempt: u32) -> bool {
        matches!(outcome, Err(error) if error.is_retryable()) && attempt + 1 < self.max_attempts
    }

    /// The wait after failed attempt `attempt` (0-based), jittered.
    fn backoff(&self, attempt: u32) -> Duration {
        let doubled = self
            .backoff_min
            .saturating_mul(1 << attempt.min(20))
            .min(self.backoff_max);
        let nanos = u64::try_from(doubled.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(nanos / 2 + fastrand::u64(0..=nanos / 2))
    }
}

impl Database {
    /// Runs `work` in a [`ConcurrentTransaction`] and commits it, running it again from a
    /// fresh snapshot while the commit (or `work` itself) fails with a retryable error
    /// ([`crate::Error::is_retryable`]: a conflict); returns `work`'s value from the attempt
    /// that committed. Other errors of `work` end it at once, with nothing applied. Up to 64
    /// attempts with jittered exponential backoff ([`TransactOptions`]). `work` may run
    /// several times: keep side effects outside it, or make them idempotent.
    ///
    /// ```
    /// # fn main() -> folio::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// use folio::TableDefinition;
    ///
    /// const ACCOUNTS: TableDefinition<String, u64> = TableDefinition::new("accounts");
    ///
    /// let db = folio::Database::open(dir.path())?;
    /// db.create_cf(ACCOUNTS.name())?;
    /// db.transact(|txn| {
    ///     let mut accounts = txn.table(ACCOUNTS)?;
    ///     accounts.insert("alice", &100)?;
    ///     accounts.insert("bob", &0)?;
    ///     Ok(())
    /// })?;
    /// let moved = db.transact(|txn| {
    ///     let mut accounts = txn.table(ACCOUNTS)?;
    ///     let alice = accounts.get("alice")?.unwrap_or(0);
    ///     let amount = alice.min(30);
    ///     accounts.insert("alice", &(alice - amount))?;
    ///     let bob = accounts.get("bob")?.unwrap_or(0);
    ///     accounts.insert("bob", &(bob + amount))?;
    ///     Ok(amount)
    /// })?;
    /// assert_eq!(moved, 30);
    /// # Ok(())
    /// # }
    /// ```
    pub fn transact<T>(
        &self,
        work: impl FnMut(&mut ConcurrentTransaction) -> Result<T>,
    ) -> Result<T> {
        self.transact_with(TransactOptions::default(), work)
    }

    /// [`Database::transact`] with `options`.
    pub fn transact_with<T>(
        &self,
        options: TransactOptions,
        mut work: impl FnMut(&mut ConcurrentTransaction) -> Result<T>,
    ) -> Result<T> {
        let durability = options.durability_on(self);
        let mut attempt = 0;
        loop {
            let outcome = self.begin_concurrent().and_then(|mut txn| {
                let value = work(&mut txn)?;
                txn.commit_with(durability)?;
                Ok(value)
            });
            if !options.retry(&outcome, attempt) {
                return outcome;
            }
            std::thread::sleep(options.backoff(attempt));
            attempt += 1;
        }
    }
}

#[cfg(feature = "async")]
impl Database {
    /// [`Database::transact`] for async callers: the commit waits for durability without
    /// blocking a thread ([`ConcurrentTransaction::commit_async_with`]). `work` is a plain
    /// closure (a transaction's reads and writes do not wait). With no runtime named there
    /// is no timer: a retry yields to the executor once instead of sleeping.
    pub async fn transact_async<T>(
        &self,
        options: TransactOptions,
        mut work: impl FnMut(&mut ConcurrentTransaction) -> Result<T>,
    ) -> Result<T> {
        let durability = options.durability_on(self);
        let mut attempt = 0;
        loop {
            let outcome = async {
                let mut txn = self.begin_concurrent()?;
                let value = work(&mut txn)?;
                txn.commit_async_with(durability).await?;
                Ok(value)
            }
            .await;
            if !options.retry(&outcome, attempt) {
                return outcome;
            }
            attempt += 1;
            yield_once().await;
        }
    }
}

/// Returns `Pending` once (waking itself), so other tasks run before a retry.
#[cfg(feature = "async")]
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_bounds() {
        let options = TransactOptions::default();
        for attempt in 0..30 {
            let wait = options.backoff(attempt);
            let full = options
                .backoff_min
                .saturating_mul(1 << attempt.min(20))
                .min(options.backoff_max);
            assert!(wait >= full / 2 && wait <= full, "{attempt}: {wait:?}");
        }
    }
}
