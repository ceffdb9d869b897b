//! Page-store micro-benchmarks (criterion):
//!
//! - `flush/*`: writing 256 dirty pages to a real file, contiguous or scattered (every third
//!   page), coalesced (one `pwritev` per run) against one `pwrite` per page. Writes only: the
//!   single `fdatasync` that follows either way is left out so the ratio shows the write path.
//! - `cache_hit/*`: lookups of cached pages from 1 and 2 threads.
//! - `handle_pool/*`: random 4 KiB reads of a 64 MiB file from 2 and 4 threads through 1, 2,
//!   4 or 8 descriptors.
//!
//! Run: `cargo bench -p folio-pagestore --bench pagestore`.

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use folio_io::{FileOptions, FileStorage, MemoryStorage, Storage};
use folio_pagestore::testing::{WriteStrategy, write_pages};
use folio_pagestore::{Layout, Page, PageBuf, PageId, PageStore, PageStoreOptions};

const FLUSH_PAGES: u64 = 256;

fn sealed(id: u64) -> (PageId, Page) {
    let mut buf = PageBuf::zeroed(4096);
    buf.payload_mut().fill(id as u8);
    (PageId(id), buf.seal(PageId(id)))
}

fn flush(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = FileStorage::open(dir.path().join("flush.folio")).expect("open");
    let layout = Layout::new(4096);
    storage
        .allocate(layout.file_len_for(FLUSH_PAGES * 3))
        .expect("preallocate");
    let mut group = c.benchmark_group("flush");
    group.throughput(Throughput::Elements(FLUSH_PAGES));
    for (shape, stride) in [("contiguous", 1u64), ("scattered", 3)] {
        // Shuffled, as a cache hands dirty pages over in hash order.
        let mut pages: Vec<(PageId, Page)> = (0..FLUSH_PAGES).map(|i| sealed(i * stride)).collect();
        fastrand::Rng::with_seed(7).shuffle(&mut pages);
        for (name, strategy) in [
            ("coalesced", WriteStrategy::Coalesced),
            ("per_page", WriteStrategy::PerPage),
        ] {
            group.bench_function(BenchmarkId::new(shape, name), |b| {
                b.iter_batched(
                    || pages.clone(),
                    |mut batch| {
                        write_pages(&storage, layout, &mut batch, strategy, None).expect("write")
                    },
                    BatchSize::SmallInput,
                );
            });
        }
    }
    group.finish();
}

fn cache_hit(c: &mut Criterion) {
    const PAGES: u64 = 1024;
    let store = PageStore::create(Arc::new(MemoryStorage::new()), PageStoreOptions::default())
        .expect("create");
    let mut writer = store.writer();
    for _ in 0..PAGES {
        let id = writer.allocate().expect("allocate");
        writer.write(id, PageBuf::zeroed(4096).seal(id));
    }
    writer.commit(1);
    store.checkpoint(1, b"").expect("checkpoint");
    let ids: Vec<PageId> = {
        let mut rng = fastrand::Rng::with_seed(3);
        (0..4096).map(|_| PageId(rng.u64(0..PAGES))).collect()
    };
    let mut group = c.benchmark_group("cache_hit");
    group.throughput(Throughput::Elements(1));
    for threads in [1usize, 2] {
        group.bench_function(
            BenchmarkId::from_parameter(format!("{threads}_threads")),
            |b| {
                b.iter_custom(|iters| {
                    parallel(threads, |thread| {
                        for i in 0..iters as usize {
                            let id = ids[(i + thread * 977) % ids.len()];
                            black_box(store.read(id).expect("read"));
                        }
                    }) / threads as u32
                });
            },
        );
    }
    group.finish();
}

fn handle_pool(c: &mut Criterion) {
    const FILE_BYTES: u64 = 64 << 20;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("pool.folio");
    {
        let file = FileStorage::open(&path).expect("open");
        let chunk = vec![7u8; 1 << 20];
        for offset in (0..FILE_BYTES).step_by(chunk.len()) {
            file.write_all_at(&chunk, offset).expect("fill");
        }
        file.sync_data().expect("sync");
    }
    let mut group = c.benchmark_group("handle_pool");
    group.throughput(Throughput::Elements(1));
    for threads in [2usize, 4] {
        for handles in [1usize, 2, 4, 8] {
            let options = FileOptions {
                handles: NonZeroUsize::new(handles).expect("non-zero"),
                read_only: true,
                ..FileOptions::default()
            };
            let file = FileStorage::open_with(&path, &options).expect("open");
            let id = BenchmarkId::new(format!("{threads}_threads"), format!("{handles}_handles"));
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    parallel(threads, |thread| {
                        let mut rng = fastrand::Rng::with_seed(thread as u64);
                        let mut buf = [0u8; 4096];
                        for _ in 0..iters {
                            let offset = rng.u64(0..FILE_BYTES / 4096) * 4096;
                            file.read_exact_at(&mut buf, offset).expect("read");
                            black_box(&buf);
                        }
                    }) / threads as u32
                });
            });
        }
    }
    group.finish();
}

/// Runs `work(thread)` on `threads` threads at once; returns the wall time.
fn parallel(threads: usize, work: impl Fn(usize) + Sync) -> Duration {
    let start = Instant::now();
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let work = &work;
            scope.spawn(move || work(thread));
        }
    });
    start.elapsed()
}

criterion_group!(benches, flush, cache_hit, handle_pool);
criterion_main!(benches);
