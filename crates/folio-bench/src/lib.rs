//! # folio-bench: the benchmark workloads of `docs/workloads.md`
//!
//! Workloads W1, W2, W3, W4 (its write and read parts), W6, W7, W8 (compressible
//! documents, [`documents`]) and W9 (transfers between accounts of one table) run against anything that
//! implements [`Engine`]: folio here ([`FolioEngine`]), the peers (`RocksDB`, fjall, redb,
//! LMDB, `SQLite`) in `benches/peers`, so every system runs exactly the same code. Each run
//! measures throughput, commit latency percentiles, syncs per commit (when the engine
//! counts them), write amplification (bytes the process wrote to storage per byte of user
//! data, from `/proc/self/io`) and peak resident memory.
//!
//! ```
//! use folio_bench::{FolioEngine, SyncMode, Workload, run_workload};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let rows = run_workload(
//!     &|path| FolioEngine::open(path, 8 << 20),
//!     &Workload::W1 { txns: 2, ops: 100 },
//!     &[2],
//!     SyncMode::NoSync,
//!     dir.path(),
//! )
//! .unwrap();
//! assert_eq!(rows[0].ops, 2 * 2 * 100);
//! ```

pub mod async_tasks;
pub mod documents;
mod engine;
mod feed_consumers;
mod folio_engine;
mod measure;
pub mod recovery;
mod report;
mod transfers;
mod workloads;
mod zipf;

pub use engine::{BenchResult, Engine, Opener, SyncMode, count_entries};
pub use folio::Compression;
pub use folio_engine::FolioEngine;
pub use measure::{Latencies, ProcessCounters};
pub use report::{Row, markdown_table};
pub use transfers::{apply_transfer, balance};
pub use workloads::{Workload, run_workload};
