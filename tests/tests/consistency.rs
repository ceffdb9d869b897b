//! Cross-column-family consistency under concurrency: every transaction writes the same key
//! and value into all column families; no snapshot taken while others commit ever sees
//! them differ, and neither does the database after a power cut mid-run. Plain and encrypted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use folio::{Database, DatabaseOptions, Durability};
use folio_io::{AtRest, CrashPolicy, SimDirectory};

const CFS: [&str; 3] = ["a", "b", "c"];

fn options(at_rest: AtRest) -> DatabaseOptions {
    let mut options = DatabaseOptions {
        encryption_key: at_rest.key(),
        ..DatabaseOptions::default()
    };
    options.wal.sync_interval = None;
    options.checkpoint_dirty_bytes = 512 << 10;
    options.dirty_bytes_max = Some(2 << 20);
    options.checkpoint_log_bytes = 8 << 10;
    options
}

fn check_snapshot(db: &Database) {
    let read = db.begin_read();
    let contents: Vec<Vec<(Vec<u8>, Vec<u8>)>> = CFS
        .iter()
        .map(|cf| {
            read.tree(cf)
                .unwrap()
                .iter()
                .map(|e| e.map(|(k, v)| (k, v.to_vec())))
                .collect::<Result<_, _>>()
                .unwrap()
        })
        .collect();
    assert!(
        contents.iter().all(|c| c == &contents[0]),
        "a snapshot saw column families differ"
    );
}

fn writers(db: &Database, threads: u64, txns: u64, stop_on_error: bool) {
    std::thread::scope(|scope| {
        for thread in 0..threads {
            scope.spawn(move || {
                for n in 0..txns {
                    let key = format!("{thread}-{:04}", n % 50).into_bytes();
                    let value = n.to_le_bytes();
                    let result = (|| -> folio::Result<()> {
                        let mut txn = db.begin_write(&CFS)?;
                        for cf in CFS {
                            txn.put(cf, &key, &value)?;
                        }
                        let durability = if n % 2 == 0 {
                            Durability::Immediate
                        } else {
                            Durability::Eventual
                        };
                        txn.commit_with(durability)?;
                        if thread == 0 && n % 25 == 0 {
                            // Checkpoints run during the writes, whatever the timing.
                            db.checkpoint()?;
                        }
                        Ok(())
                    })();
                    if result.is_err() && stop_on_error {
                        return;
                    }
                    result.unwrap();
                }
            });
        }
    });
}

folio_io::plain_and_encrypted!(
    snapshots_never_see_column_families_differ,
    snapshots_never_see_column_families_differ_encrypted,
    snapshots_never_see_column_families_differ_body
);

fn snapshots_never_see_column_families_differ_body(at_rest: AtRest) {
    let db = Database::open_in(Arc::new(SimDirectory::new(1)), options(at_rest)).unwrap();
    for cf in CFS {
        db.create_cf(cf).unwrap();
    }
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let db = &db;
        let done = &done;
        scope.spawn(move || {
            // The checker stops when the writers end, also when they panic.
            scopeguard::defer! { done.store(true, Ordering::Release) }
            writers(db, 3, 150, false);
        });
        scope.spawn(move || {
            let mut checks = 0;
            while !done.load(Ordering::Acquire) || checks < 3 {
                check_snapshot(db);
                checks += 1;
            }
        });
    });
    assert!(
        db.stats().page_store.checkpoints > 0,
        "the run should include checkpoints"
    );
}

folio_io::plain_and_encrypted!(
    after_a_power_cut_mid_run_column_families_agree,
    after_a_power_cut_mid_run_column_families_agree_encrypted,
    after_a_power_cut_mid_run_column_families_agree_body
);

fn after_a_power_cut_mid_run_column_families_agree_body(at_rest: AtRest) {
    for (seed, cut) in [(1u64, 40u64), (2, 120), (3, 250), (4, 400)] {
        let device = SimDirectory::new(seed);
        let db = Database::open_in(Arc::new(device.clone()), options(at_rest)).unwrap();
        for cf in CFS {
            db.create_cf(cf).unwrap();
        }
        device.cut_power_at(cut);
        writers(&db, 3, 100, true);
        drop(db);
        assert!(
            device.power_was_cut(),
            "cut {cut} should fall inside the run"
        );
        let policy = if seed % 2 == 0 {
            CrashPolicy::Random
        } else {
            CrashPolicy::DropUnsynced
        };
        let db = Database::open_in(Arc::new(device.crash(policy)), options(at_rest)).unwrap();
        check_snapshot(&db);
    }
}
