//! A tour of the page store on a real file: parallel owners writing pages, a coalesced
//! checkpoint, space reuse after frees, reopen with verification, and a simulated power cut.
//!
//! Run: `cargo run --release -p folio-pagestore --example pagestore_tour`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use folio_io::{CrashPolicy, FileStorage, SimStorage, Storage};
use folio_pagestore::{PageBuf, PageId, PageStore, PageStoreOptions, Result};
use parking_lot::Mutex;

const OWNERS: u64 = 2;
const TXNS_PER_OWNER: u64 = 20;
const PAGES_PER_TXN: u64 = 100;

fn page(store: &PageStore, id: PageId, tag: u64) -> folio_pagestore::Page {
    let mut buf = PageBuf::zeroed(store.page_size());
    buf.payload_mut()[..8].copy_from_slice(&tag.to_le_bytes());
    buf.seal(id)
}

fn main() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| folio_io::Error::io(folio_io::Operation::Open, e))?;
    let path = dir.path().join("tour.folio");
    let storage: Arc<dyn Storage> = Arc::new(FileStorage::open(&path)?);
    let store = PageStore::create(storage, PageStoreOptions::default())?;
    let page_kib = store.page_size() / 1024;
    println!("created {} ({page_kib} KiB pages)", path.display());
    let (version, live) = write_in_parallel(&store)?;

    // Step 2: one checkpoint writes them all: sorted, one vectored write per contiguous run.
    let stats = store.checkpoint(version, &version.to_le_bytes())?;
    println!(
        "checkpoint v{}: {} pages + {} free-list pages in {} runs, {} write calls, {} syncs, {:.1} MiB",
        stats.version,
        stats.pages_written,
        stats.freelist_pages,
        stats.runs,
        stats.write_calls,
        stats.syncs,
        stats.bytes_written as f64 / 1_048_576.0
    );

    let freed = free_and_reuse(&store, version, &live)?;
    drop(store);
    reopen_and_verify(&path, &live, &freed)?;
    power_cut()
}

/// Step 1: owners (think: column-family writers) allocate and write in parallel. Commit order is a shared
/// counter, as the database's publish step will provide.
fn write_in_parallel(store: &PageStore) -> Result<(u64, BTreeMap<PageId, u64>)> {
    let commit_order = Mutex::new((0u64, BTreeMap::<PageId, u64>::new()));
    let started = Instant::now();
    std::thread::scope(|scope| {
        let owners: Vec<_> = (0..OWNERS)
            .map(|owner| {
                let commit_order = &commit_order;
                scope.spawn(move || -> Result<()> {
                    let mut writer = store.writer();
                    for txn in 0..TXNS_PER_OWNER {
                        let mut written = Vec::new();
                        for i in 0..PAGES_PER_TXN {
                            let id = writer.allocate()?;
                            let tag = (owner << 48) | (txn << 16) | i;
                            writer.write(id, page(store, id, tag));
                            written.push((id, tag));
                        }
                        let mut order = commit_order.lock();
                        order.0 += 1;
                        writer.commit(order.0);
                        order.1.extend(written);
                    }
                    Ok(())
                })
            })
            .collect();
        owners
            .into_iter()
            .try_for_each(|owner| owner.join().expect("owner thread panicked"))
    })?;
    let (version, live) = commit_order.into_inner();
    println!(
        "{} owners wrote {} pages in {:.1} ms (memory only: nothing is written at commit)",
        OWNERS,
        live.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok((version, live))
}

/// Step 3: free every other page; after the next checkpoint the space is reused, not appended.
fn free_and_reuse(
    store: &PageStore,
    version: u64,
    live: &BTreeMap<PageId, u64>,
) -> Result<Vec<PageId>> {
    let mut writer = store.writer();
    let freed: Vec<PageId> = live.keys().step_by(2).copied().collect();
    for &id in &freed {
        writer.free(id);
    }
    writer.commit(version + 1);
    store.checkpoint(version + 1, &(version + 1).to_le_bytes())?;
    let high_water_before = store.stats().high_water_pages;
    for _ in 0..freed.len() {
        let id = writer.allocate()?;
        writer.write(id, page(store, id, 0));
    }
    writer.commit(version + 2);
    store.checkpoint(version + 2, &(version + 2).to_le_bytes())?;
    println!(
        "freed {} pages, wrote {} new ones: high water {} -> {} pages (space reused)",
        freed.len(),
        freed.len(),
        high_water_before,
        store.stats().high_water_pages
    );
    Ok(freed)
}

/// Step 4: reopen: the header slot and the free list, nothing else; pages are verified on read.
fn reopen_and_verify(
    path: &std::path::Path,
    live: &BTreeMap<PageId, u64>,
    freed: &[PageId],
) -> Result<()> {
    let started = Instant::now();
    let store = PageStore::open(
        Arc::new(FileStorage::open(path)?),
        PageStoreOptions::default(),
    )?;
    let open_ms = started.elapsed().as_secs_f64() * 1e3;
    let kept: Vec<(PageId, u64)> = live
        .iter()
        .filter(|(id, _)| !freed.contains(id))
        .map(|(&id, &tag)| (id, tag))
        .collect();
    for &(id, tag) in &kept {
        let page = store.read(id)?;
        assert_eq!(
            page[..8],
            tag.to_le_bytes(),
            "page {id} holds the wrong data"
        );
    }
    let stats = store.stats();
    println!(
        "reopened in {open_ms:.2} ms at v{}; verified {} pages; cache holds {:.1} MiB ({} hits, {} misses)",
        stats.durable_version,
        kept.len(),
        stats.cache.total_bytes() as f64 / 1_048_576.0,
        stats.cache.hits,
        stats.cache.misses
    );
    Ok(())
}

/// Step 5: a power cut on the simulated disk: unsynced work is gone, the checkpoint is not.
fn power_cut() -> Result<()> {
    let disk = SimStorage::new(1);
    let store = PageStore::create(Arc::new(disk.clone()), PageStoreOptions::default())?;
    let mut writer = store.writer();
    let id = writer.allocate()?;
    writer.write(id, page(&store, id, 42));
    writer.commit(1);
    store.checkpoint(1, b"v1")?;
    let unsynced = writer.allocate()?;
    writer.write(unsynced, page(&store, unsynced, 43));
    writer.commit(2); // committed, never checkpointed (the WAL will cover this gap)
    drop((writer, store));
    let rebooted = disk.crash(CrashPolicy::Random);
    let store = PageStore::open(Arc::new(rebooted), PageStoreOptions::default())?;
    println!(
        "after a simulated power cut: roots {:?}, page {id} holds tag {}, {} page(s) in use",
        String::from_utf8_lossy(&store.roots()),
        u64::from_le_bytes(store.read(id)?[..8].try_into().expect("8 bytes")),
        store.allocation_report().high_water - store.allocation_report().free.page_count()
    );
    Ok(())
}
