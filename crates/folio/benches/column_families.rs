//! Per-operation costs against the number of column families: `begin_read` + `get`, a
//! one-put commit to one column family, and `create_cf`, with 1, 1,000 and 10,000 column
//! families in the database. The targets: each within 1.2x of the 1-column-family figure.
//! Opening a database with 10,000 empty column families is timed too.

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use folio::{Database, Durability};

const COUNTS: [usize; 3] = [1, 1_000, 10_000];

/// A database with `count` column families; returns the name of the last one created (the
/// one the benchmarks use: the costliest to find for a linear search).
fn database_with(count: usize) -> (tempfile::TempDir, Database, String) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    for i in 0..count {
        db.create_cf(&format!("cf-{i:05}")).unwrap();
    }
    let used = format!("cf-{:05}", count - 1);
    let mut txn = db.begin_write(&[&used]).unwrap();
    for k in 0..1_000u32 {
        txn.put(&used, &k.to_be_bytes(), b"value").unwrap();
    }
    txn.commit().unwrap();
    (dir, db, used)
}

fn per_operation(c: &mut Criterion) {
    let mut group = c.benchmark_group("column_families");
    for count in COUNTS {
        let (_dir, db, cf) = database_with(count);
        let cf = cf.as_str();
        group.bench_with_input(BenchmarkId::new("begin_read+get", count), &count, |b, _| {
            let mut k = 0u32;
            b.iter(|| {
                k = (k + 1) % 1_000;
                db.begin_read().get(cf, &k.to_be_bytes()).unwrap()
            });
        });
        group.bench_with_input(BenchmarkId::new("commit one put", count), &count, |b, _| {
            let mut k = 0u32;
            b.iter(|| {
                k += 1;
                let mut txn = db.begin_write(&[cf]).unwrap();
                txn.put(cf, &k.to_be_bytes(), b"v").unwrap();
                txn.commit_with(Durability::Eventual).unwrap()
            });
        });
        // Criterion calls the routine more than once: the names go on across calls.
        let created = std::cell::Cell::new(0u64);
        group.bench_with_input(BenchmarkId::new("create_cf", count), &count, |b, _| {
            b.iter(|| {
                created.set(created.get() + 1);
                db.create_cf(&format!("extra-{}", created.get())).unwrap();
            });
        });
    }
    group.finish();
}

fn open_many(c: &mut Criterion) {
    let (dir, db, _) = database_with(10_000);
    db.close().unwrap();
    c.bench_function("open with 10,000 column families", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let started = Instant::now();
                let db = Database::open(dir.path()).unwrap();
                total += started.elapsed();
                drop(db);
            }
            total
        });
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3));
    targets = per_operation, open_many
}
criterion_main!(benches);
