//! [`FolioEngine`]: folio behind the [`Engine`] trait.

use std::path::Path;

use folio::{Compression, Database, DatabaseBuilder, Durability, WriteBatch};

use crate::{BenchResult, Engine, SyncMode};

/// folio with a given cache budget. Writes go through `Database::write` (the commit queue
/// merges small batches to one column family; batches to different column families commit
/// in parallel).
#[derive(Debug)]
pub struct FolioEngine {
    db: Database,
    /// W9 transfers through exclusive `begin_write` transactions instead of concurrent ones
    /// (the baseline concurrent transactions are measured against).
    exclusive_transfers: bool,
    /// Change-feed consumers following the database ([`FolioEngine::open_subscribed`]).
    /// They hold clones of it, so it closes once they have stopped.
    consumers: Option<crate::feed_consumers::FeedConsumers>,
}

impl FolioEngine {
    /// Opens folio in `dir` with `cache_bytes` of page cache.
    pub fn open(dir: &Path, cache_bytes: usize) -> BenchResult<Box<dyn Engine>> {
        Ok(Box::new(Self::open_concrete(dir, cache_bytes)?))
    }

    /// [`FolioEngine::open`] as itself, for workloads that use folio's own API too.
    pub fn open_concrete(dir: &Path, cache_bytes: usize) -> BenchResult<Self> {
        Self::open_with(dir, cache_bytes, |builder| builder)
    }

    /// Opens folio in `dir` with `cache_bytes` of page cache and the builder's other options
    /// set by `configure`.
    pub fn open_with(
        dir: &Path,
        cache_bytes: usize,
        configure: impl FnOnce(DatabaseBuilder) -> DatabaseBuilder,
    ) -> BenchResult<Self> {
        let db = configure(Database::builder().cache_bytes(cache_bytes)).open(dir)?;
        Ok(Self {
            db,
            exclusive_transfers: false,
            consumers: None,
        })
    }

    /// [`FolioEngine::open`] with `subscribers` registered change-feed subscribers, each
    /// followed by a thread that acknowledges every 256 changes; when the engine is
    /// dropped it prints how many changes they received and how far behind they fell.
    pub fn open_subscribed(
        dir: &Path,
        cache_bytes: usize,
        subscribers: usize,
    ) -> BenchResult<Box<dyn Engine>> {
        let mut engine = Self::open_concrete(dir, cache_bytes)?;
        engine.consumers = Some(crate::feed_consumers::FeedConsumers::start(
            &engine.db,
            subscribers,
        )?);
        Ok(Box::new(engine))
    }

    /// [`FolioEngine::open`] making W9's transfers in exclusive `begin_write` transactions
    /// (each holds the table's writer from its first read to its commit) instead of
    /// concurrent ones.
    pub fn open_exclusive_transfers(
        dir: &Path,
        cache_bytes: usize,
    ) -> BenchResult<Box<dyn Engine>> {
        let mut engine = Self::open_concrete(dir, cache_bytes)?;
        engine.exclusive_transfers = true;
        Ok(Box::new(engine))
    }

    /// [`FolioEngine::open`] encrypted at rest (a fixed benchmark key): what encryption
    /// costs, against plain folio in the same run.
    pub fn open_encrypted(dir: &Path, cache_bytes: usize) -> BenchResult<Box<dyn Engine>> {
        let key = folio::EncryptionKey::from_bytes([0x42; 32]);
        Ok(Box::new(Self::open_with(dir, cache_bytes, |builder| {
            builder.encryption_key(key)
        })?))
    }

    /// [`FolioEngine::open`] with every column family's values compressed by `compression`.
    pub fn open_compressed(
        dir: &Path,
        cache_bytes: usize,
        compression: Compression,
    ) -> BenchResult<Box<dyn Engine>> {
        Ok(Box::new(Self::open_with(dir, cache_bytes, |builder| {
            builder.compression(compression)
        })?))
    }

    /// Opens folio for W5's writer: no checkpoint (by time, log size or dirty bytes)
    /// before several times `data_bytes` were logged, so every commit stays in the log.
    pub fn open_holding_log(
        dir: &Path,
        cache_bytes: usize,
        data_bytes: u64,
    ) -> BenchResult<Box<dyn Engine>> {
        let hold = data_bytes.saturating_mul(8);
        let hold_usize = usize::try_from(hold).unwrap_or(usize::MAX);
        Ok(Box::new(Self::open_with(
            dir,
            cache_bytes.max(hold_usize),
            |builder| {
                builder
                    .checkpoint_interval(None)
                    .checkpoint_log_bytes(hold)
                    .checkpoint_dirty_bytes(hold_usize)
            },
        )?))
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }
}

fn durability(mode: SyncMode) -> Durability {
    match mode {
        SyncMode::Sync => Durability::Immediate,
        SyncMode::NoSync => Durability::Eventual,
    }
}

impl Engine for FolioEngine {
    fn transfer(
        &self,
        keyspace: &str,
        from: &[u8],
        to: &[u8],
        amount: u64,
        mode: SyncMode,
    ) -> BenchResult<u64> {
        if self.exclusive_transfers {
            let mut txn = self.db.begin_write(&[keyspace])?;
            move_balance(&mut txn, keyspace, from, to, amount)?;
            txn.commit_with(durability(mode))?;
            return Ok(0);
        }
        let mut options = folio::TransactOptions::with_durability(durability(mode));
        options.max_attempts = u32::MAX; // retried until it commits, as every engine here
        let mut attempts = 0u64;
        self.db.transact_with(options, |txn| {
            attempts += 1;
            move_balance(txn, keyspace, from, to, amount)
        })?;
        Ok(attempts - 1)
    }

    fn name(&self) -> &'static str {
        "folio"
    }

    fn create_keyspace(&self, name: &str) -> BenchResult<()> {
        Ok(self.db.create_cf_if_missing(name)?)
    }

    fn write(
        &self,
        keyspace: &str,
        entries: &[(Vec<u8>, Vec<u8>)],
        mode: SyncMode,
    ) -> BenchResult<()> {
        let mut batch = WriteBatch::new();
        for (key, value) in entries {
            batch.put(keyspace, key, value);
        }
        self.db.write_with(batch, durability(mode))?;
        Ok(())
    }

    fn get(&self, keyspace: &str, key: &[u8]) -> BenchResult<Option<Vec<u8>>> {
        Ok(self
            .db
            .begin_read()
            .get(keyspace, key)?
            .map(|value| value.to_vec()))
    }

    fn scan(&self, keyspace: &str, start: &[u8], limit: usize) -> BenchResult<usize> {
        let tree = self.db.begin_read().tree(keyspace)?;
        let mut cursor = tree.cursor(start..);
        let mut count = 0;
        while count < limit {
            match cursor.next() {
                Some(entry) => {
                    entry?;
                    count += 1;
                }
                None => break,
            }
        }
        Ok(count)
    }

    fn bulk_load(
        &self,
        keyspace: &str,
        entries: &mut dyn Iterator<Item = (Vec<u8>, Vec<u8>)>,
    ) -> BenchResult<()> {
        let mut load = self.db.bulk_load(keyspace)?;
        for (key, value) in entries {
            load.put(&key, &value)?;
        }
        load.finish()?;
        Ok(())
    }

    fn large_transaction(
        &self,
        keyspace: &str,
        entries: &mut dyn Iterator<Item = (Vec<u8>, Vec<u8>)>,
    ) -> BenchResult<()> {
        let mut txn = self.db.begin_write(&[keyspace])?;
        for (key, value) in entries {
            txn.put(keyspace, &key, &value)?;
        }
        txn.commit_with(Durability::Immediate)?;
        Ok(())
    }

    fn delete_range(&self, keyspace: &str, start: &[u8], end: &[u8]) -> BenchResult<bool> {
        let mut txn = self.db.begin_write(&[keyspace])?;
        txn.delete_range(keyspace, start..end)?;
        txn.commit_with(folio::Durability::Immediate)?;
        Ok(true)
    }

    fn flush(&self, _keyspace: &str) -> BenchResult<()> {
        self.db.checkpoint()?;
        Ok(())
    }

    /// A repack: a load in random order leaves leaves about 70 % full and the file with the
    /// free pages of every copy-on-write (reused by later writes, not returned to the file
    /// system); `Database::repack` rewrites the trees in key order and compacts, which is
    /// what a user runs after an import.
    fn compact(&self) -> BenchResult<()> {
        self.db.repack()?;
        Ok(())
    }

    fn syncs(&self) -> Option<u64> {
        let stats = self.db.stats();
        Some(stats.wal.commit.syncs + stats.page_store.checkpoints * 2)
    }

    fn parallel_writers(&self) -> bool {
        true
    }
}

/// The reads and writes W9's transfer needs, on either kind of write transaction.
trait BalanceTransaction {
    fn read(&self, keyspace: &str, key: &[u8]) -> folio::Result<Option<folio::Value>>;
    fn write(&mut self, keyspace: &str, key: &[u8], value: &[u8]) -> folio::Result<()>;
}

impl BalanceTransaction for folio::WriteTransaction {
    fn read(&self, keyspace: &str, key: &[u8]) -> folio::Result<Option<folio::Value>> {
        self.get(keyspace, key)
    }
    fn write(&mut self, keyspace: &str, key: &[u8], value: &[u8]) -> folio::Result<()> {
        self.put(keyspace, key, value)
    }
}

impl BalanceTransaction for folio::ConcurrentTransaction {
    fn read(&self, keyspace: &str, key: &[u8]) -> folio::Result<Option<folio::Value>> {
        self.get(keyspace, key)
    }
    fn write(&mut self, keyspace: &str, key: &[u8], value: &[u8]) -> folio::Result<()> {
        self.put(keyspace, key, value)
    }
}

/// Moves `amount` from `from` to `to` when `from` holds it. A missing or malformed balance
/// reads as 0: the sum check then fails.
fn move_balance(
    txn: &mut impl BalanceTransaction,
    keyspace: &str,
    from: &[u8],
    to: &[u8],
    amount: u64,
) -> folio::Result<()> {
    let read = |txn: &dyn BalanceTransaction, key: &[u8]| -> folio::Result<u64> {
        let value = txn.read(keyspace, key)?;
        Ok(value.map_or(0, |v| crate::balance(&v).unwrap_or(0)))
    };
    let (have, other) = (read(txn, from)?, read(txn, to)?);
    if let Some((debited, credited)) = crate::apply_transfer(have, other, amount) {
        txn.write(keyspace, from, &debited.to_be_bytes())?;
        txn.write(keyspace, to, &credited.to_be_bytes())?;
    }
    Ok(())
}
