//! The commands: each opens the database, does one thing, prints the result.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::ops::Bound;
use std::path::Path;

use std::sync::OnceLock;

use folio::{Database, DatabaseOptions, EncryptionKey};
use folio_io::StagedDirectory;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::args::{BackupAction, CfAction, Cli, Command, Format, ScanArgs};
use crate::failure::{CliResult, Failure};
use crate::render::{argument, show};

/// The key of `--key-file`, read once at start.
static KEY: OnceLock<Option<EncryptionKey>> = OnceLock::new();

fn read_key(path: Option<&Path>) -> CliResult<Option<EncryptionKey>> {
    let Some(path) = path else {
        return Ok(None);
    };
    let contents = zeroize::Zeroizing::new(std::fs::read(path).map_err(|e| {
        Failure::error(format!("{}: cannot read the key file: {e}", path.display()))
    })?);
    EncryptionKey::from_file_contents(&contents)
        .map(Some)
        .map_err(|e| Failure::error(format!("{}: {e}", path.display())))
}

pub fn run(cli: Cli) -> CliResult {
    let _ = KEY.set(read_key(cli.key_file.as_deref())?);
    match cli.command {
        Command::Bench(args) => crate::bench::run(&args),
        Command::W5Fill { db, data_bytes } => crate::recovery_bench::fill(&db, data_bytes),
        Command::W5Reopen { db } => crate::recovery_bench::reopen(&db),
        Command::Stats {
            db,
            json,
            no_ratios,
        } => stats(&db, json, !no_ratios),
        Command::Check { db, json } => check(&db, json),
        Command::Cf { action } => cf(action),
        Command::Get {
            db,
            cf,
            key,
            format,
        } => get(&db, &cf, &key, format),
        Command::Put {
            db,
            cf,
            key,
            value,
            hex,
        } => put(&db, &cf, &key, &value, hex),
        Command::Delete {
            db,
            cf,
            key,
            range,
            from,
            to,
            hex,
        } => match key {
            Some(key) if !range => delete(&db, &cf, &key, hex),
            _ => delete_range(&db, &cf, from.as_deref(), to.as_deref(), hex),
        },
        Command::Scan(args) => scan(&args),
        Command::Watch(args) => crate::watch::watch(&args),
        Command::Dump { db, output } => dump(&db, output.as_deref()),
        Command::Load { db, input } => load(&db, input.as_deref()),
        Command::Compact {
            db,
            json,
            repack,
            compression,
        } => compact(&db, json, repack, compression),
        Command::Backup(args) => match args.action {
            Some(BackupAction::List { dir, json }) => crate::backup_chain::list(&dir, json),
            Some(BackupAction::Prune { dir, keep, json }) => {
                crate::backup_chain::prune(&dir, keep, json, KEY.get().cloned().flatten())
            }
            None => {
                let (db, dest) = (
                    args.db.expect("required by clap"),
                    args.dest.expect("required by clap"),
                );
                if args.incremental {
                    return crate::backup_chain::increment(&db, &dest, args.json);
                }
                let key = if args.decrypt {
                    None
                } else if let Some(path) = args.new_key_file {
                    read_key(Some(&path))?
                } else {
                    KEY.get().cloned().flatten()
                };
                backup(&db, &dest, args.json, key)
            }
        },
        Command::Restore {
            backup,
            target,
            to_lsn,
            to_time,
            json,
        } => crate::backup_chain::restore(
            &backup,
            &target,
            to_lsn,
            to_time.as_deref(),
            json,
            KEY.get().cloned().flatten(),
        ),
    }
}

/// Options of the command line's databases: no background checkpointer; a clean close
/// checkpoints only after a command that wrote.
fn options(writes: bool) -> DatabaseOptions {
    DatabaseOptions {
        checkpoint_interval: None,
        checkpoint_on_close: writes,
        encryption_key: KEY.get().cloned().flatten(),
        ..DatabaseOptions::default()
    }
}

/// Opens an existing database (read commands never create one).
pub(crate) fn open_existing(db: &Path, writes: bool) -> CliResult<Database> {
    open_existing_with(db, options(writes))
}

/// [`open_existing`] with `options`.
fn open_existing_with(db: &Path, options: DatabaseOptions) -> CliResult<Database> {
    if !db.exists() {
        return Err(Failure::not_found(format!(
            "{}: no such database directory; create one with `folio put` or `folio load`",
            db.display()
        )));
    }
    if !db.is_dir() {
        return Err(Failure::error(format!(
            "{}: not a folio database (a file, not a database directory)",
            db.display()
        )));
    }
    if !db.join(folio::DATA_FILE).exists() {
        return Err(Failure::not_found(format!(
            "{}: no folio database in this directory (no {})",
            db.display(),
            folio::DATA_FILE
        )));
    }
    Database::open_with(db, options).map_err(|e| Failure::database(db, &e))
}

fn open_or_create(db: &Path) -> CliResult<Database> {
    if db.exists() && !db.is_dir() {
        return Err(Failure::error(format!(
            "{}: not a folio database (a file, not a database directory)",
            db.display()
        )));
    }
    Database::open_with(db, options(true)).map_err(|e| Failure::database(db, &e))
}

fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {pos} {elapsed}").expect("template"),
    );
    bar.set_message(message.to_owned());
    bar
}

pub(crate) fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON of plain values")
    );
}

fn stats(db: &Path, as_json: bool, ratios: bool) -> CliResult {
    let database = open_existing(db, false)?;
    let stats = database.stats();
    let read = database.begin_read();
    // Entries, the stored compression setting and the compression ratio (values as written
    // per byte stored) of each column family, the ratio from a walk of its tree (`None`
    // when skipped or the walk failed: `check` reports why).
    let cfs: Vec<(String, u64, String, Option<f64>)> = read
        .cf_names()
        .into_iter()
        .map(|name| {
            let len = read.len(&name).unwrap_or(0);
            let setting = read
                .cf_options(&name)
                .map_or_else(|_| "?".into(), |options| options.compression.label());
            let ratio = ratios
                .then(|| read.tree(&name).and_then(|tree| tree.verify()).ok())
                .flatten()
                .map(|report| report.compression_ratio());
            (name, len, setting, ratio)
        })
        .collect();
    let recovery = database.recovery_report();
    if as_json {
        print_json(&json!({
            "path": db.display().to_string(),
            "version": stats.published_version,
            "data_file_bytes": stats.page_store.file_bytes,
            "log_segments": stats.wal.segments,
            "log_records_replayed": recovery.replayed_records,
            "checkpoint_version": recovery.checkpoint,
            "checkpoints": stats.page_store.checkpoints,
            "cache_bytes": stats.page_store.cache.clean_bytes + stats.page_store.cache.dirty_bytes,
            "encrypted": database.is_encrypted(),
            "column_families": cfs.iter().map(|(n, l, c, r)| json!({"name": n, "entries": l, "compression": c, "compression_ratio": r})).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    println!("database        {}", db.display());
    println!("version         {}", stats.published_version);
    println!("data file       {} bytes", stats.page_store.file_bytes);
    println!("checkpoint      version {}", recovery.checkpoint);
    println!(
        "log             {} segments, {} records replayed on open",
        stats.wal.segments, recovery.replayed_records
    );
    println!(
        "encrypted       {}",
        if database.is_encrypted() {
            "yes (XChaCha20-Poly1305)"
        } else {
            "no"
        }
    );
    println!("column families {}", cfs.len());
    for (name, len, setting, ratio) in &cfs {
        match ratio {
            Some(ratio) => {
                println!("  {name:<24} {len} entries, compression {setting} ({ratio:.2}x)");
            }
            None => println!("  {name:<24} {len} entries, compression {setting}"),
        }
    }
    Ok(())
}

fn check(db: &Path, as_json: bool) -> CliResult {
    let database = open_existing(db, false)?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("checking {bar:30} {pos}/{len} column families")
            .expect("template"),
    );
    let report = database
        .check_integrity_with_progress(|p| {
            bar.set_length(p.column_families_total as u64);
            bar.set_position(p.column_families_done as u64);
        })
        .map_err(|e| Failure::database(db, &e))?;
    bar.finish_and_clear();
    if as_json {
        print_json(&json!({
            "ok": report.is_ok(),
            "version": report.version,
            "pages_reachable": report.pages_reachable,
            "pages_free": report.pages_free,
            "pages_total": report.pages_total,
            "allocator_checked": report.allocator_checked,
            "log_records_checked": report.log_records_checked,
            "column_families": report.column_families.iter().map(|c| json!({
                "name": c.name, "entries": c.entries, "pages": c.pages, "depth": c.depth
            })).collect::<Vec<_>>(),
            "problems": report.problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }));
    } else {
        for cf in &report.column_families {
            println!(
                "{:<24} {} entries, {} pages, depth {}",
                cf.name, cf.entries, cf.pages, cf.depth
            );
        }
        println!(
            "{} pages reachable, {} free, {} in the file; allocator {}; {} log records checked",
            report.pages_reachable,
            report.pages_free,
            report.pages_total,
            if report.allocator_checked {
                "checked"
            } else {
                "not checked (commits since the last checkpoint)"
            },
            report.log_records_checked
        );
        for problem in &report.problems {
            println!("PROBLEM: {problem}");
        }
        if report.is_ok() {
            println!("ok");
        }
    }
    if report.is_ok() {
        Ok(())
    } else {
        Err(Failure::problems(format!(
            "{}: {} problems found; see docs/operations.md, \"After a corruption report\"",
            db.display(),
            report.problems.len()
        )))
    }
}

fn cf(action: CfAction) -> CliResult {
    match action {
        CfAction::List { db, json: as_json } => {
            let database = open_existing(&db, false)?;
            let read = database.begin_read();
            let mut rows = Vec::new();
            for name in read.cf_names() {
                let len = read.len(&name).map_err(|e| Failure::database(&db, &e))?;
                let options = read
                    .cf_options(&name)
                    .map_err(|e| Failure::database(&db, &e))?;
                rows.push((name, len, options.compression.label()));
            }
            if as_json {
                print_json(&json!(
                    rows.iter()
                        .map(|(n, l, c)| json!({"name": n, "entries": l, "compression": c}))
                        .collect::<Vec<_>>()
                ));
            } else {
                for (name, len, compression) in rows {
                    println!("{name}\t{len}\t{compression}");
                }
            }
            Ok(())
        }
        CfAction::Create {
            db,
            name,
            compression,
        } => {
            let database = open_or_create(&db)?;
            let options =
                folio::ColumnFamilyOptions::new().with_compression(compression.unwrap_or_default());
            database
                .create_cf_with(&name, options)
                .map_err(|e| Failure::database(&db, &e))
        }
        CfAction::Set {
            db,
            name,
            compression,
        } => {
            let database = open_existing(&db, true)?;
            let options = folio::ColumnFamilyOptions::new().with_compression(compression);
            database
                .set_cf_options(&name, options)
                .map_err(|e| Failure::database(&db, &e))
        }
        CfAction::Rename { db, from, to } => {
            let database = open_existing(&db, true)?;
            database
                .rename_cf(&from, &to)
                .map_err(|e| Failure::database(&db, &e))
        }
        CfAction::Drop { db, name } => {
            let database = open_existing(&db, true)?;
            database
                .drop_cf(&name)
                .map_err(|e| Failure::database(&db, &e))
        }
    }
}

fn get(db: &Path, cf: &str, key: &str, format: Format) -> CliResult {
    let database = open_existing(db, false)?;
    let key = argument(key, format.hex, "KEY")?;
    let read = database.begin_read();
    let value = read.get(cf, &key).map_err(|e| Failure::database(db, &e))?;
    let Some(value) = value else {
        return Err(Failure::not_found(format!(
            "{}: no key {} in column family {cf:?}",
            db.display(),
            show(&key, format.hex)
        )));
    };
    if format.json {
        print_json(&json!({"key": show(&key, format.hex), "value": show(&value, format.hex)}));
    } else {
        println!("{}", show(&value, format.hex));
    }
    Ok(())
}

fn put(db: &Path, cf: &str, key: &str, value: &str, hex: bool) -> CliResult {
    let key = argument(key, hex, "KEY")?;
    let value = argument(value, hex, "VALUE")?;
    let database = open_or_create(db)?;
    let fail = |e: folio::Error| Failure::database(db, &e);
    database.create_cf_if_missing(cf).map_err(fail)?;
    let mut txn = database.begin_write(&[cf]).map_err(fail)?;
    txn.put(cf, &key, &value).map_err(fail)?;
    txn.commit().map_err(fail)?;
    Ok(())
}

fn delete(db: &Path, cf: &str, key: &str, hex: bool) -> CliResult {
    let key = argument(key, hex, "KEY")?;
    let database = open_existing(db, true)?;
    let fail = |e: folio::Error| Failure::database(db, &e);
    let mut txn = database.begin_write(&[cf]).map_err(fail)?;
    let existed = txn.delete(cf, &key).map_err(fail)?;
    txn.commit().map_err(fail)?;
    if existed {
        Ok(())
    } else {
        Err(Failure::not_found(format!(
            "{}: no key {} in column family {cf:?}",
            db.display(),
            show(&key, hex)
        )))
    }
}

fn delete_range(db: &Path, cf: &str, from: Option<&str>, to: Option<&str>, hex: bool) -> CliResult {
    let bound = |text: Option<&str>, what: &str| -> CliResult<Option<Vec<u8>>> {
        text.map(|t| argument(t, hex, what)).transpose()
    };
    let from = bound(from, "--from")?;
    let to = bound(to, "--to")?;
    let database = open_existing(db, true)?;
    let fail = |e: folio::Error| Failure::database(db, &e);
    let bounds = (
        from.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Included),
        to.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded),
    );
    let mut txn = database.begin_write(&[cf]).map_err(fail)?;
    let removed = txn.delete_range(cf, bounds).map_err(fail)?;
    txn.commit().map_err(fail)?;
    println!("{removed}");
    Ok(())
}

fn scan(args: &ScanArgs) -> CliResult {
    let db = &args.db;
    let database = open_existing(db, false)?;
    let read = database.begin_read();
    let tree = read.tree(&args.cf).map_err(|e| Failure::database(db, &e))?;
    let hex = args.format.hex;
    let bound = |text: &Option<String>, what: &str| -> CliResult<Option<Vec<u8>>> {
        text.as_deref().map(|t| argument(t, hex, what)).transpose()
    };
    let entries = if let Some(prefix) = bound(&args.prefix, "prefix")? {
        if args.reverse {
            let all: Vec<_> = tree.prefix(&prefix).collect();
            Box::new(all.into_iter().rev()) as Box<dyn Iterator<Item = _>>
        } else {
            Box::new(tree.prefix(&prefix))
        }
    } else {
        let from = bound(&args.from, "--from")?;
        let to = bound(&args.to, "--to")?;
        let range = (
            from.map_or(Bound::Unbounded, Bound::Included),
            to.map_or(Bound::Unbounded, Bound::Excluded),
        );
        if args.reverse {
            Box::new(tree.range_rev::<Vec<u8>, _>(range)) as Box<dyn Iterator<Item = _>>
        } else {
            Box::new(tree.range::<Vec<u8>, _>(range))
        }
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut rows = Vec::new();
    for entry in entries.take(args.limit.unwrap_or(usize::MAX)) {
        let (key, value) = entry.map_err(|e| Failure::error(format!("{}: {e}", db.display())))?;
        if args.format.json {
            rows.push(json!({"key": show(&key, hex), "value": show(&value, hex)}));
        } else if writeln!(out, "{}\t{}", show(&key, hex), show(&value, hex)).is_err() {
            return Ok(()); // the reader went away (e.g. `| head`)
        }
    }
    if args.format.json {
        print_json(&serde_json::Value::Array(rows));
    }
    let _ = out.flush();
    Ok(())
}

fn dump(db: &Path, output: Option<&Path>) -> CliResult {
    let database = open_existing(db, false)?;
    let read = database.begin_read();
    let bar = spinner("entries dumped");
    let progress = |n| bar.set_position(n);
    let total = match output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| Failure::error(format!("{}: {e}", path.display())))?;
            crate::dump::write_dump(&read, &mut BufWriter::new(file), progress)?
        }
        None => crate::dump::write_dump(
            &read,
            &mut BufWriter::new(std::io::stdout().lock()),
            progress,
        )?,
    };
    bar.finish_and_clear();
    eprintln!("dumped {total} entries");
    Ok(())
}

/// Loads a dump. A load that fails leaves nothing behind: a new database is built in a
/// staging directory beside `db` and renamed into place only once the whole dump was read and
/// checked; into an existing database, the column families this load created are dropped
/// again.
fn load(db: &Path, input: Option<&Path>) -> CliResult {
    let reader: Box<dyn BufRead> = match input {
        Some(path) => {
            let file = std::fs::File::open(path)
                .map_err(|e| Failure::not_found(format!("{}: {e}", path.display())))?;
            Box::new(BufReader::new(file))
        }
        None => Box::new(std::io::stdin().lock()),
    };
    let bar = spinner("entries loaded");
    let progress = |n| bar.set_position(n);
    // An empty directory is a new database too (the rename below replaces it).
    let is_new = std::fs::read_dir(db).map_or(!db.exists(), |mut entries| entries.next().is_none());
    let total = if is_new {
        load_into_new(db, reader, progress)?
    } else {
        load_into_existing(db, reader, progress)?
    };
    bar.finish_and_clear();
    eprintln!("loaded {total} entries");
    Ok(())
}

fn load_into_existing(
    db: &Path,
    reader: impl BufRead,
    progress: impl FnMut(u64),
) -> CliResult<u64> {
    let database = open_existing(db, true)?;
    let mut created = Vec::new();
    let loaded = crate::dump::read_dump(&database, reader, progress, &mut created);
    if loaded.is_err() {
        for name in created.iter().rev() {
            if let Err(e) = database.drop_cf(name) {
                eprintln!(
                    "{}: could not drop the partly loaded column family {name:?}: {e}",
                    db.display()
                );
            }
        }
    }
    let total = loaded?;
    database.close().map_err(|e| Failure::database(db, &e))?;
    Ok(total)
}

fn load_into_new(db: &Path, reader: impl BufRead, progress: impl FnMut(u64)) -> CliResult<u64> {
    let staged = StagedDirectory::begin(db, ".loading")
        .map_err(|e| Failure::error(format!("{}: {e}", db.display())))?;
    let database = open_or_create(staged.path())?;
    let total = crate::dump::read_dump(&database, reader, progress, &mut Vec::new())?;
    database
        .close()
        .map_err(|e| Failure::database(staged.path(), &e))?;
    staged
        .finish()
        .map_err(|e| Failure::error(format!("{}: {e}", db.display())))?;
    Ok(total)
}

/// Compacts `db`; with `repack`, rewrites every column family first, each with its stored
/// compression setting, or with `compression` (then stored for every column family).
fn compact(
    db: &Path,
    as_json: bool,
    repack: bool,
    compression: Option<folio::Compression>,
) -> CliResult {
    let database = open_existing(db, true)?;
    if let Some(compression) = compression {
        let settings = folio::ColumnFamilyOptions::new().with_compression(compression);
        for name in database.cf_names() {
            database
                .set_cf_options(&name, settings)
                .map_err(|e| Failure::database(db, &e))?;
        }
    }
    let bar = spinner(if repack { "repacking" } else { "compacting" });
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    let report = if repack {
        database.repack()
    } else {
        database.compact()
    }
    .map_err(|e| Failure::database(db, &e))?;
    bar.finish_and_clear();
    if as_json {
        print_json(&json!({
            "pages_moved": report.pages_moved,
            "bytes_before": report.bytes_before,
            "bytes_after": report.bytes_after,
            "bytes_reclaimed": report.bytes_reclaimed(),
        }));
    } else {
        println!(
            "moved {} pages; data file {} -> {} bytes ({} reclaimed)",
            report.pages_moved,
            report.bytes_before,
            report.bytes_after,
            report.bytes_reclaimed()
        );
    }
    Ok(())
}

fn backup(db: &Path, dest: &Path, as_json: bool, key: Option<EncryptionKey>) -> CliResult {
    let database = open_existing(db, false)?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("backup {bar:30} {pos}/{len} entries").expect("template"),
    );
    let report = database
        .backup_to_with_key(dest, key, |p| {
            bar.set_length(p.entries_total);
            bar.set_position(p.entries_done);
        })
        .map_err(|e| match e {
            folio::Error::BackupTargetExists { .. } => Failure::error(format!(
                "{}: already exists; choose a new directory for the backup",
                dest.display()
            )),
            other => Failure::database(db, &other),
        })?;
    bar.finish_and_clear();
    if as_json {
        print_json(&json!({
            "path": report.path.display().to_string(),
            "version": report.version,
            "column_families": report.column_families,
            "entries": report.entries,
            "bytes": report.bytes,
        }));
    } else {
        println!(
            "backed up version {}: {} column families, {} entries ({} bytes) to {}",
            report.version,
            report.column_families,
            report.entries,
            report.bytes,
            report.path.display()
        );
    }
    Ok(())
}
