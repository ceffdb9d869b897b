//! Column-family options stored in the database: a reopen without options writes as before
//! (after a checkpoint, and after a crash that replays the log); an option named at open
//! changes the stored setting; a name that is no column family is refused before anything
//! changes; a power cut anywhere in a series of changes leaves an acknowledged setting.

use std::collections::BTreeMap;
use std::sync::Arc;

use folio::{ColumnFamilyOptions, Compression, Database, DatabaseOptions, Durability};
use folio_io::{CrashPolicy, SimDirectory};

const ZSTD: Compression = Compression::Zstd { level: 3 };

fn options() -> DatabaseOptions {
    let mut options = DatabaseOptions {
        checkpoint_interval: None,
        checkpoint_on_close: false,
        ..DatabaseOptions::default()
    };
    options.wal.sync_interval = None;
    options
}

fn with(compression: Compression) -> ColumnFamilyOptions {
    ColumnFamilyOptions::new().with_compression(compression)
}

/// A value any codec shrinks.
fn document(i: u32) -> Vec<u8> {
    format!("{{\"order\":{i},\"status\":\"shipped\",\"note\":\"shipped shipped shipped\"}}")
        .repeat(4)
        .into_bytes()
}

fn put(db: &Database, cf: &str, i: u32) {
    db.write_with(
        folio::WriteBatch::new()
            .put(cf, &i.to_be_bytes(), &document(i))
            .clone(),
        Durability::Immediate,
    )
    .unwrap();
}

/// How many of `cf`'s values are stored compressed, and how many there are.
fn compressed(db: &Database, cf: &str) -> (u64, u64) {
    let report = db.begin_read().tree(cf).unwrap().verify().unwrap();
    (report.compressed_values, report.entries)
}

#[test]
fn settings_survive_a_crash_and_a_checkpoint_without_being_passed_again() {
    let device = SimDirectory::new(1);
    let db = Database::open_in(Arc::new(device.clone()), options()).unwrap();
    db.create_cf_with("docs", with(Compression::Lz4)).unwrap();
    db.create_cf("plain").unwrap();
    put(&db, "docs", 1);
    put(&db, "plain", 1);
    // No checkpoint: the settings come back from the log's records.
    let crashed = device.crash(CrashPolicy::DropUnsynced);
    drop(db);
    let db = Database::open_in(Arc::new(crashed.clone()), options()).unwrap();
    assert!(db.recovery_report().replayed_records > 0);
    assert_eq!(db.cf_options("docs").unwrap(), with(Compression::Lz4));
    assert_eq!(db.cf_options("plain").unwrap(), with(Compression::None));
    put(&db, "docs", 2);
    put(&db, "plain", 2);
    assert_eq!(
        compressed(&db, "docs"),
        (2, 2),
        "written compressed after the crash"
    );
    assert_eq!(compressed(&db, "plain"), (0, 2));
    // After a checkpoint: from the catalog.
    db.checkpoint().unwrap();
    drop(db);
    let db = Database::open_in(Arc::new(crashed.clone()), options()).unwrap();
    assert_eq!(db.recovery_report().replayed_records, 0);
    assert_eq!(db.cf_options("docs").unwrap(), with(Compression::Lz4));
    put(&db, "docs", 3);
    assert_eq!(compressed(&db, "docs"), (3, 3));
    // A rename keeps them; a column family created again under a dropped one's name does
    // not inherit them.
    db.rename_cf("docs", "documents").unwrap();
    db.drop_cf("plain").unwrap();
    db.create_cf("plain").unwrap();
    drop(db);
    let db = Database::open_in(Arc::new(crashed), options()).unwrap();
    assert_eq!(db.cf_options("documents").unwrap(), with(Compression::Lz4));
    assert_eq!(db.cf_options("plain").unwrap(), with(Compression::None));
    assert!(matches!(
        db.cf_options("docs"),
        Err(folio::Error::ColumnFamilyNotFound { .. })
    ));
}

#[test]
fn an_option_named_at_open_changes_the_stored_setting() {
    let device = SimDirectory::new(2);
    let db = Database::open_in(Arc::new(device.clone()), options()).unwrap();
    db.create_cf_with("a", with(Compression::Lz4)).unwrap();
    db.create_cf("b").unwrap();
    drop(db);
    // A default given at open is for new column families: it changes no stored setting
    // (an application that passes one at every start keeps the setting it created a
    // column family with).
    let mut every = options();
    every.compression.default = Some(ZSTD);
    let db = Database::open_in(Arc::new(device.clone()), every.clone()).unwrap();
    db.create_cf("c").unwrap();
    assert_eq!(db.cf_options("a").unwrap(), with(Compression::Lz4));
    assert_eq!(db.cf_options("b").unwrap(), with(Compression::None));
    assert_eq!(db.cf_options("c").unwrap(), with(ZSTD));
    drop(db);
    let db = Database::open_in(Arc::new(device.clone()), every).unwrap();
    assert_eq!(db.cf_options("a").unwrap(), with(Compression::Lz4));
    drop(db);
    // One named by column family changes it; the rest keep what is stored.
    let mut one = options();
    one.compression.column_families.insert("a".into(), ZSTD);
    let db = Database::open_in(Arc::new(device.clone()), one).unwrap();
    assert_eq!(db.cf_options("a").unwrap(), with(ZSTD));
    assert_eq!(db.cf_options("b").unwrap(), with(Compression::None));
    // And at run time, durable when it returns (no checkpoint: the crash replays it).
    db.set_cf_options("a", with(Compression::None)).unwrap();
    put(&db, "a", 1);
    assert_eq!(compressed(&db, "a"), (0, 1));
    let crashed = device.crash(CrashPolicy::DropUnsynced);
    drop(db);
    let db = Database::open_in(Arc::new(crashed), options()).unwrap();
    assert_eq!(db.cf_options("a").unwrap(), with(Compression::None));
    assert_eq!(db.cf_options("b").unwrap(), with(Compression::None));
    assert_eq!(db.cf_options("c").unwrap(), with(ZSTD));
    // Invalid settings are refused where they are given.
    for refused in [
        db.set_cf_options("a", with(Compression::Zstd { level: 30 })),
        db.create_cf_with("d", with(Compression::Zstd { level: 0 })),
    ] {
        let error = refused.unwrap_err();
        assert_eq!(error.kind(), folio::ErrorKind::InvalidInput, "{error}");
    }
    assert!(matches!(
        db.set_cf_options("missing", with(Compression::Lz4)),
        Err(folio::Error::ColumnFamilyNotFound { .. })
    ));
    assert_eq!(db.cf_names(), ["a", "b", "c"]);
}

/// Every file's bytes, by name.
fn files(dir: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(entry.path()).unwrap())
        })
        .collect()
}

#[test]
fn an_unknown_column_family_name_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.create_cf("orders").unwrap();
    put(&db, "orders", 1);
    drop(db);
    let before = files(dir.path());
    let error = Database::builder()
        .cf_compression("ordres", Compression::Lz4)
        .open(dir.path())
        .unwrap_err();
    assert_eq!(error.kind(), folio::ErrorKind::InvalidInput);
    let message = error.to_string();
    assert!(
        message.contains("\"ordres\"") && message.contains("\"orders\""),
        "{message}"
    );
    assert!(
        files(dir.path()) == before,
        "the refused open changed a file"
    );
    // A fresh database has no column families yet: create them with their settings.
    let fresh = tempfile::tempdir().unwrap();
    let refused = Database::builder()
        .cf_compression("events", Compression::Lz4)
        .open(fresh.path());
    assert!(matches!(
        refused,
        Err(folio::Error::InvalidOption {
            name: "compression",
            ..
        })
    ));
}

/// The settings column family `t` goes through, in order; `None`: not created yet.
const STEPS: [Option<Compression>; 4] = [
    None,
    Some(Compression::Lz4),
    Some(ZSTD),
    Some(Compression::None),
];

/// Runs the steps on `db`, returning how many were acknowledged (stops at the first error).
fn run_steps(db: &Database) -> usize {
    let mut acknowledged = 0;
    let mut step = || -> folio::Result<()> {
        db.create_cf_with("t", with(Compression::Lz4))?;
        acknowledged = 1;
        let mut txn = db.begin_write(&["t"])?;
        txn.put("t", b"k", &document(1))?;
        txn.commit_with(Durability::Immediate)?;
        db.set_cf_options("t", with(ZSTD))?;
        acknowledged = 2;
        db.checkpoint()?;
        db.set_cf_options("t", with(Compression::None))?;
        acknowledged = 3;
        Ok(())
    };
    let _ = step();
    acknowledged
}

#[test]
fn a_power_cut_anywhere_leaves_an_acknowledged_setting() {
    let mut cut = 1;
    loop {
        let device = SimDirectory::new(cut);
        let db = Database::open_in(Arc::new(device.clone()), options()).unwrap();
        device.cut_power_at(device.operations() + cut);
        let acknowledged = run_steps(&db);
        let was_cut = device.power_was_cut();
        drop(db);
        let rebooted = device.crash(CrashPolicy::Random);
        let db = Database::open_in(Arc::new(rebooted), options())
            .unwrap_or_else(|e| panic!("cut at {cut}: reopen failed: {e}"));
        let found = db.cf_options("t").ok().map(|options| options.compression);
        let at = STEPS.iter().position(|step| *step == found).unwrap();
        // What was acknowledged survives; the change in flight may or may not have.
        assert!(
            at == acknowledged || at == acknowledged + 1,
            "cut at {cut}: found {found:?}, acknowledged {:?}",
            STEPS[acknowledged]
        );
        if !was_cut {
            assert_eq!(acknowledged, 3);
            break;
        }
        cut += 1;
    }
    assert!(cut > 10, "only {cut} operations swept");
}

/// A copy of fixture `name` (files compressed with zstd) in a new temporary directory.
fn fixture(name: &str) -> tempfile::TempDir {
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/before-stored-options")
        .join(name);
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        let packed = std::fs::read(&path).unwrap();
        let name = path.file_stem().unwrap();
        std::fs::write(
            dir.path().join(name),
            zstd::decode_all(&packed[..]).unwrap(),
        )
        .unwrap();
    }
    dir
}

/// Files written before options were stored open, read back whole, take a setting named
/// at open and keep it from then on.
#[test]
fn files_from_before_stored_options_open_and_upgrade() {
    for name in ["checkpointed", "logged"] {
        let dir = fixture(name);
        let before = files(dir.path());
        let db = Database::open(dir.path()).unwrap();
        let replayed = db.recovery_report().replayed_records;
        assert_eq!(replayed > 0, name == "logged", "{name}");
        for cf in ["docs", "plain"] {
            // Nothing was stored: uncompressed until an open or a call says otherwise (an open
            // with a default fills it in, see below).
            assert_eq!(
                db.cf_options(cf).unwrap(),
                with(Compression::None),
                "{name}"
            );
            let read = db.begin_read();
            let tree = read.tree(cf).unwrap();
            assert_eq!(tree.len(), 20, "{name} {cf}");
            for i in 0u32..20 {
                let value = tree.get(&i.to_be_bytes()).unwrap().unwrap();
                assert_eq!(&*value, &document(i)[..], "{name} {cf} {i}");
            }
        }
        if name == "checkpointed" {
            // The old version compressed docs because its opener said so.
            assert_eq!(compressed(&db, "docs"), (20, 20));
        }
        drop(db);
        if name == "checkpointed" {
            // An open that changes nothing writes nothing: no setting is recorded for it.
            assert!(files(dir.path()) == before, "an open without options wrote");
        }
        // As the previous version was used: the setting passed at every open. A default
        // fills in for column families without a recorded setting; a named one sets it.
        let db = Database::builder()
            .compression(ZSTD)
            .cf_compression("docs", Compression::Lz4)
            .open(dir.path())
            .unwrap();
        db.checkpoint().unwrap();
        drop(db);
        let db = Database::open(dir.path()).unwrap();
        assert_eq!(
            db.cf_options("docs").unwrap(),
            with(Compression::Lz4),
            "{name}"
        );
        assert_eq!(db.cf_options("plain").unwrap(), with(ZSTD), "{name}");
        put(&db, "docs", 20);
        assert!(db.check_integrity().unwrap().is_ok(), "{name}");
        let (compressed_values, _) = compressed(&db, "docs");
        assert!(
            compressed_values >= 1,
            "{name}: the new value is compressed"
        );
    }
}

/// A backup keeps each column family's setting, and is taken whatever per-name options the
/// source was opened with (the copy is a new database without those column families yet).
#[test]
fn a_backup_keeps_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let db = Database::open(&source).unwrap();
    db.create_cf_with("docs", with(Compression::Lz4)).unwrap();
    db.create_cf("plain").unwrap();
    put(&db, "docs", 1);
    drop(db);
    let db = Database::builder()
        .cf_compression("plain", ZSTD)
        .open(&source)
        .unwrap();
    let copy = dir.path().join("copy");
    db.backup_to(&copy).unwrap();
    drop(db);
    let db = Database::open(&copy).unwrap();
    assert_eq!(db.cf_options("docs").unwrap(), with(Compression::Lz4));
    assert_eq!(db.cf_options("plain").unwrap(), with(ZSTD));
    assert_eq!(compressed(&db, "docs"), (1, 1));
}

/// Settings changed while writers commit (exclusive and concurrent transactions) to the
/// same column family: each change waits for the writer, nothing deadlocks, every value
/// reads back whatever setting it was written under, and the integrity check passes.
#[test]
fn settings_change_while_writers_commit() {
    let db = Arc::new(Database::open_in(Arc::new(SimDirectory::new(7)), options()).unwrap());
    db.create_cf("t").unwrap();
    let writers: Vec<_> = (0..3u32)
        .map(|w| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                for i in 0..150u32 {
                    let n = w * 1_000 + i;
                    if w == 2 {
                        db.transact(|txn| txn.put("t", &n.to_be_bytes(), &document(n)))
                            .unwrap();
                    } else {
                        let mut txn = db.begin_write(&["t"]).unwrap();
                        txn.put("t", &n.to_be_bytes(), &document(n)).unwrap();
                        txn.commit_with(Durability::Eventual).unwrap();
                    }
                }
            })
        })
        .collect();
    for round in 0..30 {
        let setting = [Compression::None, Compression::Lz4, ZSTD][round % 3];
        db.set_cf_options("t", with(setting)).unwrap();
        assert_eq!(db.cf_options("t").unwrap(), with(setting));
    }
    for writer in writers {
        writer.join().unwrap();
    }
    let read = db.begin_read();
    let tree = read.tree("t").unwrap();
    assert_eq!(tree.len(), 450);
    for w in 0..3u32 {
        for i in 0..150u32 {
            let n = w * 1_000 + i;
            let value = tree.get(&n.to_be_bytes()).unwrap().unwrap();
            assert_eq!(&*value, &document(n)[..]);
        }
    }
    assert!(db.check_integrity().unwrap().is_ok());
}
