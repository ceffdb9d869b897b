//! B-tree micro-benchmarks (criterion), with `std::collections::BTreeMap` measured beside
//! each as the in-memory reference:
//!
//! - `insert/{random,sequential}`: 10,000 inserts of 16-byte keys and 100-byte values into
//!   an empty tree, in one transaction (per-insert time reported);
//! - `get/random`: point lookups in a 100,000-entry tree (all pages cached);
//! - `range/{10,1000}`: scans of 10 and 1,000 consecutive entries from a random start, as
//!   owned entries (`range`) and lent by a cursor.
//!
//! Run: `cargo bench -p folio-btree --bench btree`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use folio_btree::{BTree, BTreeMut};
use folio_io::MemoryStorage;
use folio_pagestore::{PageStore, PageStoreOptions};

const INSERTS: u64 = 10_000;
const LOOKUP_ENTRIES: u64 = 100_000;

fn key(n: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&n.to_be_bytes());
    key[8..].copy_from_slice(&(!n).to_be_bytes());
    key
}

fn shuffled(count: u64, seed: u64) -> Vec<u64> {
    let mut order: Vec<u64> = (0..count).collect();
    fastrand::Rng::with_seed(seed).shuffle(&mut order);
    order
}

fn store() -> PageStore {
    let options = PageStoreOptions {
        cache_bytes_max: 512 << 20,
        ..PageStoreOptions::default()
    };
    PageStore::create(Arc::new(MemoryStorage::new()), options).expect("store")
}

fn inserts(c: &mut Criterion) {
    let value = [7u8; 100];
    let mut group = c.benchmark_group("insert");
    group.throughput(Throughput::Elements(INSERTS));
    for (name, order) in [
        ("random", shuffled(INSERTS, 1)),
        ("sequential", (0..INSERTS).collect()),
    ] {
        group.bench_function(BenchmarkId::new(name, "folio"), |b| {
            b.iter_batched(
                store,
                |store| {
                    let mut tree = BTreeMut::new(store.writer(), None, 0);
                    for &n in &order {
                        tree.put(&key(n), &value).expect("put");
                    }
                    tree
                },
                BatchSize::PerIteration,
            );
        });
        group.bench_function(BenchmarkId::new(name, "BTreeMap"), |b| {
            b.iter(|| {
                let mut map = BTreeMap::new();
                for &n in &order {
                    map.insert(key(n).to_vec(), value.to_vec());
                }
                map
            });
        });
    }
    group.finish();
}

fn reads(c: &mut Criterion) {
    let store = store();
    let mut tree = BTreeMut::new(store.writer(), None, 0);
    let mut map = BTreeMap::new();
    for n in 0..LOOKUP_ENTRIES {
        tree.put(&key(n), &[7u8; 100]).expect("put");
        map.insert(key(n).to_vec(), vec![7u8; 100]);
    }
    tree.commit(1);
    let view: BTree = BTree::new(store.clone(), tree.root());
    let probes = shuffled(LOOKUP_ENTRIES, 2);

    let mut group = c.benchmark_group("get");
    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function(BenchmarkId::new("random", "folio"), |b| {
        b.iter(|| {
            i = (i + 1) % probes.len();
            black_box(view.get(&key(probes[i])).expect("get"))
        });
    });
    group.bench_function(BenchmarkId::new("random", "BTreeMap"), |b| {
        b.iter(|| {
            i = (i + 1) % probes.len();
            black_box(map.get(&key(probes[i])[..]))
        });
    });
    group.finish();

    let mut group = c.benchmark_group("range");
    for len in [10usize, 1000] {
        group.throughput(Throughput::Elements(len as u64));
        group.bench_function(BenchmarkId::new(len.to_string(), "folio"), |b| {
            b.iter(|| {
                i = (i + 1) % probes.len();
                let start = key(probes[i].min(LOOKUP_ENTRIES - len as u64));
                view.range(start.as_slice()..)
                    .take(len)
                    .map(|e| e.expect("entry").1.len())
                    .sum::<usize>()
            });
        });
        group.bench_function(BenchmarkId::new(len.to_string(), "folio cursor"), |b| {
            b.iter(|| {
                i = (i + 1) % probes.len();
                let start = key(probes[i].min(LOOKUP_ENTRIES - len as u64));
                let mut cursor = view.cursor(start.as_slice()..);
                let mut total = 0;
                for _ in 0..len {
                    let Some(entry) = cursor.next() else { break };
                    total += entry.expect("entry").1.len();
                }
                total
            });
        });
        group.bench_function(BenchmarkId::new(len.to_string(), "BTreeMap"), |b| {
            b.iter(|| {
                i = (i + 1) % probes.len();
                let start = key(probes[i].min(LOOKUP_ENTRIES - len as u64)).to_vec();
                map.range(start..)
                    .take(len)
                    .map(|(_, v)| v.len())
                    .sum::<usize>()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, inserts, reads);
criterion_main!(benches);
