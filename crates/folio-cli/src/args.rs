//! The command line, as `clap` derives it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  error (I/O, damaged file, bad data)
  2  bad arguments
  3  not found (database, column family, key or backup chain)
  4  the database is in use by another process
  5  `folio check` found problems";

/// folio: an embedded, transactional key-value database with column families.
///
/// DB is a database directory (the data file `data.folio` and the log's segments).
#[derive(Debug, Parser)]
#[command(name = "folio", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// Key file of an encrypted database: 32 raw bytes or 64 hexadecimal digits. A new
    /// database (`put`, `load`) is created encrypted with it.
    #[arg(long, global = true, value_name = "PATH")]
    pub key_file: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the benchmark workloads of docs/workloads.md on folio alone and print a table.
    Bench(BenchArgs),
    /// W5's writer (run by `folio bench --workload W5`): commits durably into DB with
    /// checkpoints off until `DATA_BYTES` of keys and values are acknowledged, prints
    /// `ready N`, waits to be killed.
    #[command(name = "w5-fill", hide = true)]
    W5Fill {
        db: PathBuf,
        #[arg(long)]
        data_bytes: u64,
    },
    /// W5's reopen (run by `folio bench --workload W5`): opens DB, reads, prints the time.
    #[command(name = "w5-reopen", hide = true)]
    W5Reopen { db: PathBuf },
    /// Sizes, counters and column families of a database.
    Stats {
        db: PathBuf,
        #[arg(long)]
        json: bool,
        /// Skip the compression ratios (computing them walks every tree, like `check`:
        /// seconds per GiB).
        #[arg(long)]
        no_ratios: bool,
    },
    /// Check every page, tree, the allocator and the log; exit code 5 when problems are found.
    Check {
        db: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// List, create, configure or drop column families.
    Cf {
        #[command(subcommand)]
        action: CfAction,
    },
    /// Print the value of KEY in a column family (exit code 3 when absent).
    Get {
        db: PathBuf,
        #[arg(long)]
        cf: String,
        key: String,
        #[command(flatten)]
        format: Format,
    },
    /// Set KEY to VALUE in a column family (created if missing), durably.
    Put {
        db: PathBuf,
        #[arg(long)]
        cf: String,
        key: String,
        value: String,
        /// KEY and VALUE are hexadecimal.
        #[arg(long)]
        hex: bool,
    },
    /// Remove KEY from a column family (exit code 3 when absent), or with --range every key
    /// from --from (included) to --to (excluded), printing how many went.
    Delete {
        db: PathBuf,
        #[arg(long)]
        cf: String,
        #[arg(required_unless_present = "range", conflicts_with = "range")]
        key: Option<String>,
        /// Remove a range of keys instead of one (by pages, not keys: large ranges are cheap).
        #[arg(long)]
        range: bool,
        /// With --range: the first key removed (default: the first key).
        #[arg(long, requires = "range")]
        from: Option<String>,
        /// With --range: the key the range stops before (default: past the last key).
        #[arg(long, requires = "range")]
        to: Option<String>,
        /// KEY (and the range's keys) are hexadecimal.
        #[arg(long)]
        hex: bool,
    },
    /// Print entries of a column family in key order.
    Scan(ScanArgs),
    /// Print the committed changes the log still holds after an LSN (the change feed), one
    /// line per operation, or one JSON object per commit with --json. Stops once it has
    /// caught up (the database is locked while open, so nothing else commits meanwhile).
    Watch(WatchArgs),
    /// Write every column family to a versioned, streaming text format (see docs/cli.md).
    Dump {
        db: PathBuf,
        /// Output file (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Load a dump into a database (created if missing); its column families must not exist.
    Load {
        db: PathBuf,
        /// Input file (default: standard input).
        #[arg(long, short)]
        input: Option<PathBuf>,
    },
    /// Move live pages to the start of the data file and give the free end back.
    Compact {
        db: PathBuf,
        #[arg(long)]
        json: bool,
        /// Rewrite every column family in key order first (full pages, values re-encoded
        /// with each column family's stored compression setting, or --compression's):
        /// after a random-order import, or to compress existing values.
        #[arg(long)]
        repack: bool,
        /// With --repack: store this setting for every column family first, then rewrite
        /// (none, lz4, zstd, zstd-N).
        #[arg(long, value_name = "CODEC", requires = "repack")]
        compression: Option<folio::Compression>,
    },
    /// Write a consistent copy of the database to DEST (a directory that must not exist),
    /// or with --incremental add an increment to the backup chain in DEST; `folio backup
    /// prune DIR --keep N` merges a chain's old increments.
    Backup(BackupArgs),
    /// Rebuild a database from a backup chain (`folio backup --incremental`) into TARGET (a
    /// directory that must not exist), as of its last increment or an earlier point.
    Restore {
        backup: PathBuf,
        target: PathBuf,
        /// The source LSN to restore to (the state after that commit).
        #[arg(long, value_name = "N", conflicts_with = "to_time")]
        to_lsn: Option<u64>,
        /// Restore to the end of the last increment made at or before this time: Unix
        /// seconds, or UTC as 2026-12-06T03:00:00Z.
        #[arg(long, value_name = "T")]
        to_time: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub action: Option<BackupAction>,
    #[arg(required = true)]
    pub db: Option<PathBuf>,
    #[arg(required = true)]
    pub dest: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
    /// Add an increment to the backup chain in DEST (created if missing): a full copy the
    /// first time, then the commits since the last increment.
    #[arg(long, conflicts_with_all = ["new_key_file", "decrypt"])]
    pub incremental: bool,
    /// Encrypt the copy with this key file instead of the database's own key (key
    /// rotation; see docs/security.md).
    #[arg(long, value_name = "PATH", conflicts_with = "decrypt")]
    pub new_key_file: Option<PathBuf>,
    /// Write the copy without encryption.
    #[arg(long)]
    pub decrypt: bool,
}

#[derive(Debug, Subcommand)]
pub enum BackupAction {
    /// List the increments of a backup chain: number, kind, source LSNs, time, bytes.
    List {
        dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Keep the newest N increments of a backup chain restorable and remove the older ones
    /// (merged into a full copy when the oldest kept one needs a base).
    Prune {
        dir: PathBuf,
        #[arg(long, value_name = "N")]
        keep: usize,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CfAction {
    /// List column families, their entry counts and compression settings.
    List {
        db: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Create a column family (the database is created if missing).
    Create {
        db: PathBuf,
        name: String,
        /// Compress the values it writes (none, lz4, zstd, zstd-N); stored with it.
        #[arg(long, value_name = "CODEC")]
        compression: Option<folio::Compression>,
    },
    /// Change a column family's stored compression setting: values written from now on use
    /// it; `folio compact --repack` rewrites existing ones.
    Set {
        db: PathBuf,
        name: String,
        /// none, lz4, zstd or zstd-N.
        #[arg(long, value_name = "CODEC")]
        compression: folio::Compression,
    },
    /// Rename a column family (its entries and settings stay; the name must be free).
    Rename {
        db: PathBuf,
        from: String,
        to: String,
    },
    /// Drop a column family and free its pages.
    Drop { db: PathBuf, name: String },
}

/// How keys and values are printed (and KEY arguments read).
#[derive(Debug, Args, Clone, Copy)]
pub struct Format {
    /// Keys and values in hexadecimal (KEY arguments too); default: UTF-8 where valid.
    #[arg(long)]
    pub hex: bool,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    pub db: PathBuf,
    #[arg(long)]
    pub cf: String,
    /// Only keys starting with P.
    #[arg(long, value_name = "P", conflicts_with_all = ["from", "to"])]
    pub prefix: Option<String>,
    /// First key (inclusive).
    #[arg(long, value_name = "K")]
    pub from: Option<String>,
    /// Last key (exclusive).
    #[arg(long, value_name = "K")]
    pub to: Option<String>,
    /// Descending key order.
    #[arg(long)]
    pub reverse: bool,
    /// At most N entries.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    pub db: PathBuf,
    /// Only changes of this column family (repeat for more).
    #[arg(long, value_name = "C")]
    pub cf: Vec<String>,
    /// Only operations on keys starting with P.
    #[arg(long, value_name = "P")]
    pub prefix: Option<String>,
    /// Start after this LSN (default: the earliest the log holds, or the subscriber's
    /// position with --subscriber).
    #[arg(long, value_name = "LSN")]
    pub from: Option<u64>,
    /// Start after this subscriber's position and acknowledge what was printed; registers
    /// it first if needed (from then on the log is kept for it).
    #[arg(long, value_name = "NAME")]
    pub subscriber: Option<String>,
    #[command(flatten)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchWorkload {
    #[value(name = "W1")]
    W1,
    #[value(name = "W2")]
    W2,
    #[value(name = "W3")]
    W3,
    #[value(name = "W4")]
    W4,
    #[value(name = "W5")]
    W5,
    #[value(name = "W6")]
    W6,
    #[value(name = "W7")]
    W7,
    #[value(name = "W8")]
    W8,
    #[value(name = "W9")]
    W9,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchDurability {
    Immediate,
    Eventual,
    Both,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Workloads to run (default: W1, W2, W3 and W6).
    #[arg(long, value_delimiter = ',')]
    pub workload: Vec<BenchWorkload>,
    /// Thread counts (default: each workload's own list).
    #[arg(long, value_delimiter = ',')]
    pub threads: Vec<usize>,
    /// Durability of the commits (W2 is always immediate).
    #[arg(long, value_enum, default_value_t = BenchDurability::Both)]
    pub durability: BenchDurability,
    /// Directory for the databases (default: a temporary directory, removed after).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Sizes: `quick` finishes in under a minute on 2 cores; `full` is docs/workloads.md's.
    #[arg(long, value_enum, default_value_t = BenchSize::Quick)]
    pub size: BenchSize,
    /// Print the rows as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Change-feed subscribers following each database while it runs (one thread each,
    /// acknowledging every 256 changes); their lag is printed to standard error.
    #[arg(long, default_value_t = 0)]
    pub subscribers: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchSize {
    /// Tiny sizes, for smoke tests (seconds).
    Smoke,
    Quick,
    Full,
}
