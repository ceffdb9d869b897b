//! One adapter per peer, configured as `docs/workloads.md` says: the same cache budget as folio
//! and the same durability per variant.

#[cfg(any(
    feature = "rocksdb",
    feature = "fjall",
    feature = "redb",
    feature = "lmdb",
    feature = "sqlite"
))]
use std::path::Path;

use folio_bench::Opener;

/// The opener of `system`, when it was compiled in.
pub fn opener(system: &str) -> Option<Box<Opener>> {
    match system {
        #[cfg(feature = "rocksdb")]
        "rocksdb" => Some(Box::new(|p: &Path| rocks::Rocks::open(p, None))),
        #[cfg(feature = "rocksdb")]
        "rocksdb-lz4" => Some(Box::new(|p: &Path| rocks::Rocks::open_lz4(p))),
        #[cfg(feature = "fjall")]
        "fjall" => Some(Box::new(|p: &Path| fjall_peer::Fjall::open(p, None))),
        #[cfg(feature = "redb")]
        "redb" => Some(Box::new(|p: &Path| redb_peer::Redb::open(p))),
        #[cfg(feature = "lmdb")]
        "lmdb" => Some(Box::new(|p: &Path| lmdb::Lmdb::open(p))),
        #[cfg(feature = "sqlite")]
        "sqlite" => Some(Box::new(|p: &Path| sqlite::Sqlite::open(p, None))),
        _ => None,
    }
}

/// The opener of `system` for W5's writer: its log holds every commit until several times
/// `data_bytes` were written (no memtable flush, no checkpoint). Systems without a log
/// (redb, LMDB) open as usual.
#[cfg_attr(
    not(any(feature = "rocksdb", feature = "fjall", feature = "sqlite")),
    allow(unused_variables)
)]
pub fn holding_opener(system: &str, data_bytes: u64) -> Option<Box<Opener>> {
    match system {
        #[cfg(feature = "rocksdb")]
        "rocksdb" => Some(Box::new(move |p: &Path| {
            rocks::Rocks::open(p, Some(data_bytes))
        })),
        #[cfg(feature = "fjall")]
        "fjall" => Some(Box::new(move |p: &Path| {
            fjall_peer::Fjall::open(p, Some(data_bytes))
        })),
        #[cfg(feature = "sqlite")]
        "sqlite" => Some(Box::new(move |p: &Path| {
            sqlite::Sqlite::open(p, Some(data_bytes))
        })),
        other => opener(other),
    }
}

/// RocksDB: one column family per writer, `WriteBatch` + `write_opt` with `set_sync`.
#[cfg(feature = "rocksdb")]
mod rocks {
    use std::path::Path;

    use folio_bench::{BenchResult, Engine, SyncMode, count_entries};
    use rocksdb::{
        BlockBasedOptions, Cache, DBCompressionType, DBWithThreadMode, Direction, IteratorMode,
        MultiThreaded, OptimisticTransactionDB, OptimisticTransactionOptions, Options,
        WriteBatchWithTransaction, WriteOptions,
    };

    /// A write batch of an `OptimisticTransactionDB`.
    type WriteBatch = WriteBatchWithTransaction<true>;

    /// Opened as an `OptimisticTransactionDB` (W9 runs RocksDB's optimistic transactions);
    /// every other workload writes batches through it, which bypass its conflict checks.
    pub struct Rocks {
        db: OptimisticTransactionDB<MultiThreaded>,
        options: Options,
    }

    impl Rocks {
        /// `hold`: W5's writer; memtables and the WAL hold several times that many bytes
        /// before a flush.
        pub fn open(path: &Path, hold: Option<u64>) -> BenchResult<Box<dyn Engine>> {
            Self::open_with(path, hold, DBCompressionType::None)
        }

        /// With LZ4 block compression (W8).
        pub fn open_lz4(path: &Path) -> BenchResult<Box<dyn Engine>> {
            Self::open_with(path, None, DBCompressionType::Lz4)
        }

        fn open_with(
            path: &Path,
            hold: Option<u64>,
            compression: DBCompressionType,
        ) -> BenchResult<Box<dyn Engine>> {
            let mut options = Options::default();
            options.set_compression_type(compression);
            options.create_if_missing(true);
            options.create_missing_column_families(true);
            let cache = Cache::new_lru_cache(crate::CACHE_BYTES);
            let mut table = BlockBasedOptions::default();
            table.set_block_cache(&cache);
            options.set_block_based_table_factory(&table);
            if let Some(bytes) = hold {
                let bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
                options.set_write_buffer_size(bytes.saturating_mul(4));
                options.set_db_write_buffer_size(bytes.saturating_mul(8));
                options.set_max_total_wal_size(bytes.saturating_mul(8) as u64);
            }
            // Column families of an earlier run (W5 reopens).
            let existing =
                DBWithThreadMode::<MultiThreaded>::list_cf(&options, path).unwrap_or_default();
            let db = OptimisticTransactionDB::open_cf(&options, path, existing)?;
            Ok(Box::new(Self { db, options }))
        }

        fn cf(&self, name: &str) -> BenchResult<std::sync::Arc<rocksdb::BoundColumnFamily<'_>>> {
            self.db
                .cf_handle(name)
                .ok_or_else(|| format!("no column family {name}").into())
        }
    }

    impl Engine for Rocks {
        fn name(&self) -> &'static str {
            "rocksdb"
        }
        fn create_keyspace(&self, name: &str) -> BenchResult<()> {
            if self.db.cf_handle(name).is_some() {
                return Ok(());
            }
            Ok(self.db.create_cf(name, &self.options)?)
        }
        fn write(
            &self,
            keyspace: &str,
            entries: &[(Vec<u8>, Vec<u8>)],
            mode: SyncMode,
        ) -> BenchResult<()> {
            let cf = self.cf(keyspace)?;
            let mut batch = WriteBatch::default();
            for (key, value) in entries {
                batch.put_cf(&cf, key, value);
            }
            let mut options = WriteOptions::default();
            options.set_sync(mode == SyncMode::Sync);
            Ok(self.db.write_opt(batch, &options)?)
        }
        fn get(&self, keyspace: &str, key: &[u8]) -> BenchResult<Option<Vec<u8>>> {
            Ok(self.db.get_cf(&self.cf(keyspace)?, key)?)
        }
        fn transfer(
            &self,
            keyspace: &str,
            from: &[u8],
            to: &[u8],
            amount: u64,
            mode: SyncMode,
        ) -> BenchResult<u64> {
            let cf = self.cf(keyspace)?;
            let mut write = WriteOptions::default();
            write.set_sync(mode == SyncMode::Sync);
            let mut conflicts = 0;
            loop {
                let txn = self
                    .db
                    .transaction_opt(&write, &OptimisticTransactionOptions::default());
                // Reads for update: validated at commit.
                let have = txn.get_for_update_cf(&cf, from, true)?.unwrap_or_default();
                let other = txn.get_for_update_cf(&cf, to, true)?.unwrap_or_default();
                if let Some((debited, credited)) = folio_bench::apply_transfer(
                    folio_bench::balance(&have)?,
                    folio_bench::balance(&other)?,
                    amount,
                ) {
                    txn.put_cf(&cf, from, debited.to_be_bytes())?;
                    txn.put_cf(&cf, to, credited.to_be_bytes())?;
                }
                match txn.commit() {
                    Ok(()) => return Ok(conflicts),
                    Err(error)
                        if matches!(
                            error.kind(),
                            rocksdb::ErrorKind::Busy | rocksdb::ErrorKind::TryAgain
                        ) =>
                    {
                        conflicts += 1;
                    }
                    Err(error) => return Err(error.into()),
                }
            }
        }
        fn scan(&self, keyspace: &str, start: &[u8], limit: usize) -> BenchResult<usize> {
            let cf = self.cf(keyspace)?;
            let entries = self
                .db
                .iterator_cf(&cf, IteratorMode::From(start, Direction::Forward));
            Ok(count_entries(entries.take(limit))?)
        }
        fn bulk_load(
            &self,
            keyspace: &str,
            entries: &mut dyn Iterator<Item = (Vec<u8>, Vec<u8>)>,
        ) -> BenchResult<()> {
            let cf = self.cf(keyspace)?;
            let mut options = WriteOptions::default();
            options.disable_wal(true);
            let mut batch = WriteBatch::default();
            for (key, value) in entries {
                batch.put_cf(&cf, key, value);
                if batch.len() >= 10_000 {
                    self.db.write_opt(std::mem::take(&mut batch), &options)?;
                }
            }
            self.db.write_opt(batch, &options)?;
            Ok(self.db.flush_cf(&cf)?)
        }
        fn large_transaction(
            &self,
            keyspace: &str,
            entries: &mut dyn Iterator<Item = (Vec<u8>, Vec<u8>)>,
        ) -> BenchResult<()> {
            // RocksDB's atomic unit is a write batch, held in memory until written.
            let cf = self.cf(keyspace)?;
            let mut batch = WriteBatch::default();
            for (key, value) in entries {
                batch.put_cf(&cf, key, value);
            }
            let mut options = WriteOptions::default();
            options.set_sync(true);
            Ok(self.db.write_opt(batch, &options)?)
        }
        fn delete_range(&self, keyspace: &str, start: &[u8], end: &[u8]) -> BenchResult<bool> {
            let cf = self.cf(keyspace)?;
            let mut options = WriteOptions::default();
            options.set_sync(true);
            self.db.delete_range_cf_opt(&cf, start, end, &options)?;
            Ok(true)
        }
        fn flush(&self, keyspace: &str) -> BenchResult<()> {
            Ok(self.db.flush_cf(&self.cf(keyspace)?)?)
        }
        fn parallel_writers(&self) -> bool {
            true
        }
    }
}

/// fjall: one keyspace per writer; sync = persist with fsync on each commit.
#[cfg(feature = "fjall")]
mod fjall_peer {
    use std::collections::HashMap;
    use std::path::Path;
    use std::sync::RwLock;

    use fjall::{
        Database, Keyspace, KeyspaceCreateOptions, OptimisticTxDatabase, PersistMode, Readable,
    };
    use folio_bench::{BenchResult, Engine, SyncMode, count_entries};

    /// Opened as an `OptimisticTxDatabase` (W9 runs fjall's optimistic transactions); the
    /// other workloads use the database inside it.
    pub struct Fjall {
        tx: OptimisticTxDatabase,
        db: Database,
        keyspaces: RwLock<HashMap<String, Keyspace>>,
        /// W5's writer: memtable size that holds its data unflushed.
        memtable_bytes: Option<u64>,
    }

    impl Fjall {
        /// `hold`: W5's writer; the journal and the memtable hold several times that many
        /// bytes before a flush.
        pub fn open(path: &Path, hold: Option<u64>) -> BenchResult<Box<dyn Engine>> {
            let mut builder =
                OptimisticTxDatabase::builder(path).cache_size(crate::CACHE_BYTES as u64);
            if let Some(bytes) = hold {
                builder = builder.max_journaling_size(bytes.saturating_mul(8).max(64 << 20));
            }
            let tx = builder.open()?;
            let db = tx.inner().clone();
            Ok(Box::new(Self {
                tx,
                db,
                keyspaces: RwLock::new(HashMap::new()),
                memtable_bytes: hold.map(|bytes| bytes.saturating_mul(4)),
            }))
        }

        fn keyspace(&self, name: &str) -> BenchResult<Keyspace> {
            self.keyspaces
                .read()
                .expect("lock")
                .get(name)
                .cloned()
                .ok_or_else(|| format!("no keyspace {name}").into())
        }
    }

    impl Engine for Fjall {
        fn name(&self) -> &'static str {
            "fjall"
        }
        fn create_keyspace(&self, name: &str) -> BenchResult<()> {
            let memtable_bytes = self.memtable_bytes;
            let keyspace = self.db.keyspace(name, || {
                let options = KeyspaceCreateOptions::default();
                match memtable_bytes {
                    Some(bytes) => options.max_memtable_size(bytes),
                    None => options,
                }
            })?;
            self.keyspaces
                .write()
                .expect("lock")
                .insert(name.to_owned(), keyspace);
            Ok(())
        }
        fn write(
            &self,
            keyspace: &str,
            entries: &[(Vec<u8>, Vec<u8>)],
            mode: SyncMode,
        ) -> BenchResult<()> {
            let keyspace = self.keyspace(keyspace)?;
            let durability = (mode == SyncMode::Sync).then_some(PersistMode::SyncAll);
            let mut batch = self.db.batch().durability(durability);
            for (key, value) in entries {
                batch.insert(&keyspace, key.clone(), value.clone());
            }
            Ok(batch.commit()?)
        }
        fn get(&self, keyspace: &str, key: &[u8]) -> BenchResult<Option<Vec<u8>>> {
            Ok(self.keyspace(keyspace)?.get(key)?.map(|v| v.to_vec()))
        }
        fn transfer(
            &self,
            keyspace: &str,
            from: &[u8],
            to: &[u8],
            amount: u64,
            mode: SyncMode,
        ) -> BenchResult<u64> {
            let keyspace = self.keyspace(keyspace)?;
            let durability = (mode == SyncMode::Sync).then_some(PersistMode::SyncAll);
            let mut conflicts = 0;
            loop {
                let mut txn = self.tx.write_tx()?.durability(durability);
                let have = txn.get(&keyspace, from)?.unwrap_or_default();
                let other = txn.get(&keyspace, to)?.unwrap_or_default();
                if let Some((debited, credited)) = folio_bench::apply_transfer(
                    folio_bench::balance(&have)?,
                    folio_bench::balance(&other)?,
                    amount,
                ) {
                    txn.insert(&keyspace, from.to_vec(), debited.to_be_bytes().to_vec());
                    txn.insert(&keyspace, to.to_vec(), credited.to_be_bytes().to_vec());
                }
                match txn.commit()? {
                    Ok(()) => return Ok(conflicts),
                    Err(fjall::Conflict) => conflicts += 1,
                }
            }
        }
        fn scan(&self, keyspace: &str, start: &[u8], limit: usize) -> BenchResult<usize> {
            let keyspace = self.keyspace(keyspace)?;
            let entries = keyspace
                .range(start.to_vec()..)
                .map(fjall::Guard::into_inner);
            Ok(count_entries(entries.take(limit))?)
        }
        fn bulk_load(
            &self,
            keyspace: &str,
            entries: &mut dyn Iterator<Item = (Vec<u8>, Vec<u8>)>,
        ) -> BenchResult<()> {
            let keyspace = self.keyspace(keyspace)?;
            let mut ingestion = keyspace.start_ingestion()?;
            for (key, value) in entries {
                ingestion.write(key, value)?;
            }
            ingestion.finish()?;
            Ok(self.db.persist(PersistMode::SyncAll)?)
        }
        fn large_transaction(
            &self,
            keyspace: &str,
            entries: &mut dyn Iterator<Item = (Vec<u8>, Vec<u8>)>,
        ) -> BenchResult<()> {
            // fjall's atomic unit is a write batch, held in memory until committed.
            let keyspace = self.keyspace(keyspace)?;
            let mut batch = self.db.batch().durability(Some(PersistMode::SyncAll));
            for (key, value) in entries {
                batch.insert(&keyspace, key, value);
            }
            Ok(batch.commit()?)
        }
        fn flush(&self, keyspace: &str) -> BenchResult<()> {
            self.keyspace(keyspace)?.rotate_memtable_and_wait()?;
            Ok(self.db.persist(PersistMode::SyncAll)?)
        }
        fn parallel_writers(&self) -> bool {
            true
        }
    }
}

/// redb: one table per writer in one database (one writer at a time);
/// sync = `Durability::Immediate`, no-sync = `Durability::None`.
#[cfg(feature = "redb")]
mod redb_peer {
    use std::path::Path;

    use folio_bench::{BenchResult, Engine, SyncMode, count_entries};
    use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

    pub struct Redb {
        db: Database,
    }

    fn table(name: &str) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
        TableDefinition::new(name)
    }

    impl Redb {
        pub fn open(path: &Path) -> BenchResult<Box<dyn Engine>> {
            std::fs::create_dir_all(path)?;
            let db = Database::builder()
                .set_cache_size(crate::CACHE_BYTES)
                .create(path.join("db.redb"))?;
            Ok(Box::new(Self { db }))
        }
    }

    impl Engine for Redb {
        fn name(&self) -> &'static str {
            "redb"
        }
        fn create_keyspace(&self, name: &str) -> BenchResult<()> {
            let txn = self.db.begin_write()?;
            txn.open_table(table(name))?;
            Ok(txn.commit()?)
        }
        fn write(
            &self,
            keyspace: &str,
            entries: &[(Vec<u8>, Vec<u8>)],
            mode: SyncMode,
        ) -> BenchResult<()> {
            let mut txn = self.db.begin_write()?;
            txn.set_durability(match mode {
                SyncMode::Sync => Durability::Immediate,
                SyncMode::NoSync => Durability::None,
            })?;
            {
                let mut table = txn.open_table(table(keyspace))?;
                for (key, value) in entries {
                    table.insert(key.as_slice(), value.as_slice())?;
                }
            }
            Ok(txn.commit()?)
        }
        fn get(&self, keyspace: &str, key: &[u8]) -> BenchResult<Option<Vec<u8>>> {
            let txn = self.db.begin_read()?;
            let table = txn.open_table(table(keyspace))?;
            Ok(table.get(key)?.map(|v| v.value().to_vec()))
        }
        fn transfer(
            &self,
            keyspace: &str,
            from: &[u8],
            to: &[u8],
            amount: u64,
            mode: SyncMode,
        ) -> BenchResult<u64> {
            // One writer at a time: transactions serialize, nothing conflicts.
            let mut txn = self.db.begin_write()?;
            txn.set_durability(match mode {
                SyncMode::Sync => Durability::Immediate,
                SyncMode::NoSync => Durability::None,
            })?;
            {
                let mut table = txn.open_table(table(keyspace))?;
                let read = |key: &[u8]| -> BenchResult<u64> {
                    match table.get(key)? {
                        Some(value) => folio_bench::balance(value.value()),
                        None => Ok(0),
                    }
                };
                let (have, other) = (read(from)?, read(to)?);
                if let Some((debited, credited)) = folio_bench::apply_transfer(have, other, amount)
                {
                    table.insert(from, debited.to_be_bytes().as_slice())?;
                    table.insert(to, credited.to_be_bytes().as_slice())?;
                }
            }
            txn.commit()?;
            Ok(0)
        }
        fn scan(&self, keyspace: &str, start: &[u8], limit: usize) -> BenchResult<usize> {
            let txn = self.db.begin_read()?;
            let table = txn.open_table(table(keyspace))?;
            Ok(count_entries(table.range(start..)?.take(limit))?)
        }
        fn bulk_load(
            &self,
            keyspace: &str,
            entries: &mut dyn Iterator<Item = (Vec<u8>, Vec<u8>)>,
        ) -> BenchResult<()> {
            let txn = self.db.begin_write()?;
            {
                let mut table = txn.open_table(table(keyspace))?;
                for (key, value) in entries {
                    table.insert(key.as_slice(), value.as_slice())?;
                }
            }
            Ok(txn.commit()?)
        }
        fn large_transaction(
            &self,
            keyspace: &str,
            entries: &mut dyn Iterator<Item = (Vec<u8>, Vec<u8>)>,
        ) -> BenchResult<()> {
            let mut txn = self.db.begin_write()?;
            txn.set_durability(Durability::Immediate)?;
            {
                let mut table = txn.open_table(table(keyspace))?;
                for (key, value) in entries {
                    table.insert(key.as_slice(), value.as_slice())?;
                }
            }
            Ok(txn.commit()?)
        }
        fn parallel_writers(&self) -> bool {
            false
        }
    }
}

/// LMDB through heed: one named database per writer in one environment (one writer at a
/// time). The environment runs with `NO_SYNC`; sync commits then call `force_sync`, which is
/// what LMDB's default flags do inside the commit.
#[cfg(feature = "lmdb")]
mod lmdb {
    use std::collections::HashMap;
    use std::ops::Bound;
    use std::path::Path;
    use std::sync::RwLock;

    use folio_bench::{BenchResult, Engine, SyncMode, count_entries};
    use heed::types::Bytes;
    use heed::{CommitOrAbort, Database, Env, EnvFlags, EnvOpenOptions};

    /// heed ties database handles to the environment's lifetime, so the environment is
    /// leaked for the life of the process (a few dozen per benchmark run; their files go
    /// with the scratch directory when the process ends). A path opened again (W8 reopens
    /// after measuring its files) gets the environment already open there: LMDB refuses
    /// to open one twice in a process.
    static OPEN: std::sync::Mutex<Option<HashMap<std::path::PathBuf, &'static Env>>> =
        std::sync::Mutex::new(None);

    pub struct Lmdb {
        env: &'static Env,
        dbs: RwLock<HashMap<String, Database<'static, Bytes, Bytes>>>,
    }

    impl Lmdb {
        pub fn open(path: &Path) -> BenchResult<Box<dyn Engine>> {
            let mut open = OPEN.lock().expect("lock");
            if let Some(env) = open.get_or_insert_with(HashMap::new).get(path) {
                return Ok(Box::new(Self {
                    env,
                    dbs: RwLock::new(HashMap::new()),
                }));
            }
            std::fs::create_dir_all(path)?;
            let mut options = EnvOpenOptions::new();
            options.map_size(64 << 30).max_dbs(1024);
            // SAFETY: the directory is fresh and private to this run: no other process or
            // environment maps it, which is what heed's `flags` and `open` require.
            let env = unsafe {
                options.flags(EnvFlags::NO_SYNC);
                options.open(path)?
            };
            let env: &'static Env = Box::leak(Box::new(env));
            open.get_or_insert_with(HashMap::new)
                .insert(path.to_path_buf(), env);
            Ok(Box::new(Self {
                env,
                dbs: RwLock::new(HashMap::new()),
            }))
        }

        fn db(&self, name: &str) -> BenchResult<Database<'static, Bytes, Bytes>> {
            self.dbs
                .read()
                .expect("lock")
                .get(name)
                .copied()
                .ok_or_else(|| format!("no database {name}").into())
        }
    }

    impl Engine for Lmdb {
        fn name(&self) -> &'static str {
            "lmdb"
        }
        fn create_keyspace(&self, name: &str) -> BenchResult<()> {
            let txn = self.env.write_txn()?;
            let db: Database<'static, Bytes, Bytes> = self
                .env
                .create_databases_and_commit(txn, |opener, txn| {
                    opener
                        .create_database(txn, Some(name))
                        .map(CommitOrAbort::<_, ()>::Commit)
                })?
                .unwrap_commit();
            self.dbs.write().expect("lock").insert(name.to_owned(), db);
            Ok(())
        }
        fn write(
            &self,
            keyspace: &str,
            entries: &[(Vec<u8>, Vec<u8>)],
            mode: SyncMode,
        ) -> BenchResult<()> {
            let db = self.db(keyspace)?;
            let mut txn = self.env.write_txn()?;
            for (key, value) in entries {
                db.put(&mut txn, key, value)?;
            }
            txn.commit()?;
            if mode == SyncMode::Sync {
                self.env.force_sync()?;
            }
            Ok(())
        }
        fn get(&self, keyspace: &str, key: &[u8]) -> BenchResult<Option<Vec<u8>>> {
            let db = self.db(keyspace)?;
            let txn = self.env.read_txn()?;
            Ok(db.get(&txn, key)?.map(<[u8]>::to_vec))
        }
        fn transfer(
            &self,
            keyspace: &str,
            from: &[u8],
            to: &[u8],
            amount: u64,
            mode: SyncMode,
        ) -> BenchResult<u64> {
            // One writer at a time: transactions serialize, nothing conflicts.
            let db = self.db(keyspace)?;
            let mut txn = self.env.write_txn()?;
            let read = |txn: &heed::RwTxn<'_>, key: &[u8]| -> BenchResult<u64> {
                db.get(txn, key)?.map_or(Ok(0), folio_bench::balance)
            };
            let (have, other) = (read(&txn, from)?, read(&txn, to)?);
            if let Some((debited, credited)) = folio_bench::apply_transfer(have, other, amount) {
                db.put(&mut txn, from, &debited.to_be_bytes())?;
                db.put(&mut txn, to, &credited.to_be_bytes())?;
            }
            txn.commit()?;
            if mode == SyncMode::Sync {
                self.env.force_sync()?;
            }
            Ok(0)
        }
        fn scan(&self, keyspace: &str, start: &[u8], limit: usize) -> BenchResult<usize> {
            let db = self.db(keyspace)?;
            let txn = self.env.read_txn()?;
            let range = (Bound::Included(start), Bound::Unbounded);
            Ok(count_entries(db.range(&txn, &range)?.take(limit))?)
        }
        fn bulk_load(
            &self,
            keyspace: &str,
            entries: &mut dyn Iterator<Item = (Vec<u8>, Vec<u8>)>,
        ) -> BenchResult<()> {
            let db = self.db(keyspace)?;
            let mut txn = self.env.write_txn()?;
            for (key, value) in entries {
                db.put(&mut txn, &key, &value)?;
            }
            txn.commit()?;
            Ok(self.env.force_sync()?)
        }
        fn large_transaction(
            &self,
            keyspace: &str,
            entries: &mut dyn Iterator<Item = (Vec<u8>, Vec<u8>)>,
        ) -> BenchResult<()> {
            let db = self.db(keyspace)?;
            let mut txn = self.env.write_txn()?;
            for (key, value) in entries {
                db.put(&mut txn, &key, &value)?;
            }
            txn.commit()?;
            Ok(self.env.force_sync()?)
        }
        fn parallel_writers(&self) -> bool {
            false
        }
    }
}

/// SQLite (bundled): WAL journal, one table per writer, one connection (one writer at a
/// time); sync = `synchronous=FULL`, no-sync = `synchronous=OFF`.
#[cfg(feature = "sqlite")]
mod sqlite {
    use std::path::Path;
    use std::sync::Mutex;

    use folio_bench::{BenchResult, Engine, SyncMode};
    use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

    pub struct Sqlite {
        conn: Mutex<(Connection, Option<SyncMode>)>,
    }

    impl Sqlite {
        /// `hold`: W5's writer; no automatic checkpoint moves the WAL into the database.
        pub fn open(path: &Path, hold: Option<u64>) -> BenchResult<Box<dyn Engine>> {
            std::fs::create_dir_all(path)?;
            let conn = Connection::open(path.join("db.sqlite"))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            if hold.is_some() {
                conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            }
            conn.pragma_update(None, "cache_size", -((crate::CACHE_BYTES / 1024) as i64))?;
            Ok(Box::new(Self {
                conn: Mutex::new((conn, None)),
            }))
        }
    }

    fn quoted(name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }

    impl Engine for Sqlite {
        fn name(&self) -> &'static str {
            "sqlite"
        }
        fn create_keyspace(&self, name: &str) -> BenchResult<()> {
            let guard = self.conn.lock().expect("lock");
            guard.0.execute_batch(&format!(
                "CREATE TABLE IF NOT EXISTS {} (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID",
                quoted(name)
            ))?;
            Ok(())
        }
        fn write(
            &self,
            keyspace: &str,
            entries: &[(Vec<u8>, Vec<u8>)],
            mode: SyncMode,
        ) -> BenchResult<()> {
            let mut guard = self.conn.lock().expect("lock");
            let (conn, current) = &mut *guard;
            if *current != Some(mode) {
                let level = if mode == SyncMode::Sync {
                    "FULL"
                } else {
                    "OFF"
                };
                conn.pragma_update(None, "synchronous", level)?;
                *current = Some(mode);
            }
            let txn = conn.transaction()?;
            {
                let mut insert = txn.prepare_cached(&format!(
                    "INSERT OR REPLACE INTO {} (k, v) VALUES (?1, ?2)",
                    quoted(keyspace)
                ))?;
                for (key, value) in entries {
                    insert.execute(params![key, value])?;
                }
            }
            Ok(txn.commit()?)
        }
        fn transfer(
            &self,
            keyspace: &str,
            from: &[u8],
            to: &[u8],
            amount: u64,
            mode: SyncMode,
        ) -> BenchResult<u64> {
            let mut guard = self.conn.lock().expect("lock");
            let (conn, current) = &mut *guard;
            if *current != Some(mode) {
                let level = if mode == SyncMode::Sync {
                    "FULL"
                } else {
                    "OFF"
                };
                conn.pragma_update(None, "synchronous", level)?;
                *current = Some(mode);
            }
            // BEGIN IMMEDIATE: the write lock from the start, so nothing conflicts.
            let txn = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut select = txn
                    .prepare_cached(&format!("SELECT v FROM {} WHERE k = ?1", quoted(keyspace)))?;
                let mut read = |key: &[u8]| -> BenchResult<u64> {
                    let value: Option<Vec<u8>> = select
                        .query_row(params![key], |row| row.get(0))
                        .optional()?;
                    value.map_or(Ok(0), |v| folio_bench::balance(&v))
                };
                let (have, other) = (read(from)?, read(to)?);
                if let Some((debited, credited)) = folio_bench::apply_transfer(have, other, amount)
                {
                    let mut update = txn.prepare_cached(&format!(
                        "INSERT OR REPLACE INTO {} (k, v) VALUES (?1, ?2)",
                        quoted(keyspace)
                    ))?;
                    update.execute(params![from, debited.to_be_bytes().as_slice()])?;
                    update.execute(params![to, credited.to_be_bytes().as_slice()])?;
                }
            }
            txn.commit()?;
            Ok(0)
        }
        fn get(&self, keyspace: &str, key: &[u8]) -> BenchResult<Option<Vec<u8>>> {
            let guard = self.conn.lock().expect("lock");
            let mut select = guard
                .0
                .prepare_cached(&format!("SELECT v FROM {} WHERE k = ?1", quoted(keyspace)))?;
            Ok(select
                .query_row(params![key], |row| row.get(0))
                .optional()?)
        }
        fn scan(&self, keyspace: &str, start: &[u8], limit: usize) -> BenchResult<usize> {
            let guard = self.conn.lock().expect("lock");
            let mut select = guard.0.prepare_cached(&format!(
                "SELECT k, v FROM {} WHERE k >= ?1 ORDER BY k LIMIT ?2",
                quoted(keyspace)
            ))?;
            let mut rows = select.query(params![start, limit as i64])?;
            let mut count = 0;
            while rows.next()?.is_some() {
                count += 1;
            }
            Ok(count)
        }
        fn bulk_load(
            &self,
            keyspace: &str,
            entries: &mut dyn Iterator<Item = (Vec<u8>, Vec<u8>)>,
        ) -> BenchResult<()> {
            let batch: Vec<(Vec<u8>, Vec<u8>)> = entries.collect();
            self.write(keyspace, &batch, SyncMode::Sync)
        }
        fn large_transaction(
            &self,
            keyspace: &str,
            entries: &mut dyn Iterator<Item = (Vec<u8>, Vec<u8>)>,
        ) -> BenchResult<()> {
            let mut guard = self.conn.lock().expect("lock");
            let (conn, current) = &mut *guard;
            if *current != Some(SyncMode::Sync) {
                conn.pragma_update(None, "synchronous", "FULL")?;
                *current = Some(SyncMode::Sync);
            }
            let txn = conn.transaction()?;
            {
                let mut insert = txn.prepare_cached(&format!(
                    "INSERT OR REPLACE INTO {} (k, v) VALUES (?1, ?2)",
                    quoted(keyspace)
                ))?;
                for (key, value) in entries {
                    insert.execute(params![key, value])?;
                }
            }
            Ok(txn.commit()?)
        }
        fn parallel_writers(&self) -> bool {
            false
        }
    }
}
