//! The decoders of what folio reads from disk, driven the way the fuzz targets (`fuzz/`) and
//! their regression cases (`tests/tests/fuzz_regressions.rs`) drive them: any input must give
//! a value or a typed error, never a panic, a hang or an allocation beyond its size. Not part
//! of the API, and free to change in any release.
//!
//! Each entry point rewrites the checksums the input's bytes sit behind (checksums are not
//! MACs: anyone who can write the file can forge them), so the fuzzer reaches the fields.

use std::sync::{Arc, OnceLock};

use folio_btree::{BTree, BTreeMut, check_tree};
use folio_io::{Directory, SimDirectory, Storage};
use folio_pagestore::{PageId, PageStore, PageStoreOptions};
use folio_wal::testing::{Decoded, decode_record, decode_segment_header};

use crate::{Compression, DATA_FILE, Database, DatabaseOptions};

/// A log record's payload (what replay decodes once the log's checksum passed).
pub fn log_record(bytes: &[u8]) {
    let _ = crate::log_record::decode(1, bytes);
}

/// A log segment: its header, then its records and their payloads. Each checksum is
/// rewritten to match first, so the input reaches the fields behind it.
pub fn wal_segment(input: &[u8]) {
    let mut bytes = input.to_vec();
    folio_wal::testing::fix_segment_header_checksum(&mut bytes);
    let _ = decode_segment_header(&bytes);
    let mut at = folio_wal::SEGMENT_HEADER_BYTES as usize;
    while at < bytes.len() {
        folio_wal::testing::fix_record_checksum(&mut bytes[at..]);
        match decode_record(&bytes[at..], 1 << 20) {
            Decoded::Record(record) => {
                assert!(record.framed_len > 0, "a record that takes no room");
                log_record(record.payload);
                at += record.framed_len;
            }
            Decoded::End | Decoded::Invalid(_) => break,
        }
    }
}

/// A data file's header slot (checksum rewritten to match), and the roots it holds; the
/// input itself as roots too.
pub fn header_slot(input: &[u8]) {
    let mut slot = vec![0u8; folio_pagestore::HEADER_SLOT_BYTES];
    let n = input.len().min(slot.len());
    slot[..n].copy_from_slice(&input[..n]);
    if let Ok(roots) = folio_pagestore::testing::decode_slot_with_fixed_checksum(&mut slot) {
        let _ = crate::roots::Roots::decode(&roots);
    }
    let _ = crate::roots::Roots::decode(input);
}

/// A whole data file: a small real database (three column families, one LZ4- and one
/// zstd-compressed; long keys and values in overflow chains; a free list) with the input's
/// edits applied, every checksum rewritten to match, then opened and used: every column
/// family scanned both ways by ranges and cursors, point reads, the integrity check, a write
/// transaction, a checkpoint, a compaction and a close. So one target reaches every decoder
/// of the data file: header slots, roots, the catalog, the free list, B-tree nodes, overflow
/// chains and compressed frames.
///
/// The input is a list of edits of 4 bytes each: a byte offset (24 bits, little-endian,
/// modulo the file's length) and the byte to write there. Returns the log records the open
/// replayed, or `None` when it refused the file.
pub fn data_file(input: &[u8]) -> Option<u64> {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    let template = TEMPLATE.get_or_init(|| build_template(false).expect("the template builds"));
    open_damaged(template, input)
}

/// [`data_file`] for a database whose log holds a transaction the data file has not
/// checkpointed (puts and deletes in every column family): each open replays it into the
/// damaged trees, in key order (`BTreeMut::apply_sorted_run`), before the database is used.
pub fn replayed_file(input: &[u8]) -> Option<u64> {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    let template = TEMPLATE.get_or_init(|| build_template(true).expect("the template builds"));
    open_damaged(template, input)
}

/// Opens `template` with the input's edits applied to its data file, and uses it; the log
/// records the open replayed, or `None` when it refused the file.
fn open_damaged(template: &Template, input: &[u8]) -> Option<u64> {
    let data = edited(&template.data, input);
    let directory = Arc::new(SimDirectory::new(1));
    for (name, bytes) in &template.other_files {
        write_file(directory.as_ref(), name, bytes);
    }
    write_file(directory.as_ref(), DATA_FILE, &data);
    let db = Database::open_in(directory, options()).ok()?;
    let replayed = db.recovery_report().replayed_records;
    use_database(&db);
    let _ = db.close();
    Some(replayed)
}

/// `file` (a plain data file) with the edits of `input` applied (see [`data_file`]) and every
/// checksum rewritten to match.
fn edited(file: &[u8], input: &[u8]) -> Vec<u8> {
    let mut bytes = file.to_vec();
    for edit in input.chunks_exact(4) {
        let offset = u32::from_le_bytes([edit[0], edit[1], edit[2], 0]) as usize;
        bytes[offset % file.len()] = edit[3];
    }
    folio_pagestore::testing::reseal_file(&mut bytes, PAGE_SIZE);
    bytes
}

/// Two B-trees in a page store's file (one plain, of two levels with long keys and values
/// in overflow chains; one LZ4-compressed), with the input's edits applied as in
/// [`data_file`] and the checksums rewritten, then read, checked and edited through the
/// B-tree layer alone: faster than [`data_file`] (no log, no catalog), so the fuzzer spends
/// its runs on the node, overflow and frame decoders. The roots are read from the header, so
/// edits reach them too. Returns the entries the first tree's scan read before any error.
pub fn tree_pages(input: &[u8]) -> usize {
    let bytes = edited(tree_template(), input);
    let storage = Arc::new(folio_io::MemoryStorage::from_bytes(&bytes));
    let Ok(store) = PageStore::open(storage, page_store_options()) else {
        return 0;
    };
    let roots = store.roots();
    let word = |at: usize| {
        roots.get(at..at + 8).map_or(0, |word| {
            u64::from_le_bytes(word.try_into().expect("8 bytes"))
        })
    };
    let mut scanned = 0;
    for tree in 0..2 {
        let root = Some(PageId(word(16 * tree))).filter(|id| id.0 != u64::MAX);
        let len = word(16 * tree + 8);
        let view = BTree::new(store.clone(), root);
        let read = view.iter().take(10_000).take_while(Result::is_ok).count();
        if tree == 0 {
            scanned = read;
        }
        let _ = view.iter_rev().take(10_000).count();
        let _ = view.range(key(10).as_slice()..key(30).as_slice()).count();
        for reverse in [false, true] {
            let mut cursor = if reverse {
                view.cursor_rev::<[u8], _>(..)
            } else {
                view.cursor_all()
            };
            while let Some(Ok(_)) = cursor.next() {}
        }
        for i in [0, 13, 29, 500] {
            let _ = view.get(&key(i));
        }
        let _ = check_tree(&store, root);
        let mut edit = BTreeMut::new(store.writer(), root, len);
        for i in 0..TREE_ENTRIES / 4 {
            let _ = edit.put(&key(i * 2), &value(i));
            let _ = edit.delete_key(&key(i * 2 + 1));
        }
        let _ = edit.clear();
    }
    scanned
}

/// Entries of each tree of [`tree_pages`]: two levels for the plain one.
const TREE_ENTRIES: u32 = 80;

fn page_store_options() -> PageStoreOptions {
    PageStoreOptions {
        page_size: PAGE_SIZE,
        growth_step_bytes: 16 * 1024,
        extent_pages: 1,
        cache_bytes_max: 4 << 20,
        ..PageStoreOptions::default()
    }
}

/// The file [`tree_pages`] damages.
fn tree_template() -> &'static [u8] {
    static TEMPLATE: OnceLock<Vec<u8>> = OnceLock::new();
    TEMPLATE.get_or_init(|| build_tree_template().expect("the template trees build"))
}

fn build_tree_template() -> crate::Result<Vec<u8>> {
    let storage = Arc::new(folio_io::MemoryStorage::new());
    let store = PageStore::create(storage.clone(), page_store_options())?;
    let mut roots = Vec::new();
    for compression in [Compression::None, Compression::Lz4] {
        let mut tree = BTreeMut::new(store.writer(), None, 0);
        tree.set_compression(compression);
        for i in 0..TREE_ENTRIES {
            tree.put(&key(i), &value(i))?;
        }
        tree.commit(1);
        roots.extend_from_slice(&tree.root().map_or(u64::MAX, |id| id.0).to_le_bytes());
        roots.extend_from_slice(&tree.len().to_le_bytes());
    }
    store.checkpoint(1, &roots)?;
    Ok(storage.to_bytes())
}

const PAGE_SIZE: usize = 4096;
const COLUMN_FAMILIES: [&str; 3] = ["plain", "lz4", "zstd"];
/// Entries per column family: enough for trees of two levels, few enough to keep a run short.
const ENTRIES: u32 = 48;

/// The database [`data_file`] damages: its data file and the other files beside it.
struct Template {
    data: Vec<u8>,
    other_files: Vec<(String, Vec<u8>)>,
}

/// Small segments and growth steps, no background threads (compression is stored with each
/// column family: [`compression_of`]).
fn options() -> DatabaseOptions {
    let mut options = DatabaseOptions {
        checkpoint_interval: None,
        ..DatabaseOptions::default()
    };
    options.wal.sync_interval = None;
    options.wal.segment_bytes = 64 * 1024;
    options.page_store = page_store_options();
    options
}

/// How the template's column family `cf` compresses (named after its setting).
fn compression_of(cf: &str) -> Compression {
    match cf {
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd { level: 3 },
        _ => Compression::None,
    }
}

fn key(i: u32) -> Vec<u8> {
    // Every 13th key is long enough for an overflow chain.
    let mut key = format!("key-{i:05}").into_bytes();
    if i.is_multiple_of(13) {
        key.resize(700, b'k');
    }
    key
}

fn value(i: u32) -> Vec<u8> {
    // Compressible, of sizes from empty to past a quarter page (every 7th: an overflow
    // chain), most of them short so a run stays fast.
    let len = if i.is_multiple_of(7) {
        (i as usize * 157) % 2_400
    } else {
        (i as usize * 13) % 200
    };
    format!("value {i} ").bytes().cycle().take(len).collect()
}

/// Builds the template database; with `leave_log`, a last transaction is committed and the
/// database closed without a checkpoint, so the log holds it and every open replays it.
fn build_template(leave_log: bool) -> crate::Result<Template> {
    let directory = Arc::new(SimDirectory::new(1));
    let options = DatabaseOptions {
        checkpoint_on_close: !leave_log,
        ..options()
    };
    let db = Database::open_in(directory.clone(), options)?;
    for cf in COLUMN_FAMILIES {
        let settings = crate::ColumnFamilyOptions::new().with_compression(compression_of(cf));
        db.create_cf_with(cf, settings)?;
    }
    // Two rounds of writes, each checkpointed, the second deleting and rewriting part of the
    // first: the pages that frees make a free list.
    for round in 0..2u32 {
        let mut txn = db.begin_write(&COLUMN_FAMILIES)?;
        for cf in COLUMN_FAMILIES {
            for i in 0..ENTRIES {
                if round == 1 && i % 3 == 0 {
                    txn.delete(cf, &key(i))?;
                } else {
                    txn.put(cf, &key(i), &value(i + round))?;
                }
            }
        }
        txn.commit()?;
        db.checkpoint()?;
    }
    if leave_log {
        let mut txn = db.begin_write(&COLUMN_FAMILIES)?;
        for cf in COLUMN_FAMILIES {
            for i in (0..ENTRIES + 16).step_by(2) {
                if i % 5 == 0 {
                    txn.delete(cf, &key(i))?;
                } else {
                    txn.put(cf, &key(i), &value(i + 7))?;
                }
            }
        }
        txn.commit()?;
    }
    db.close()?;
    let mut data = Vec::new();
    let mut other_files = Vec::new();
    for name in directory.list()? {
        let bytes = read_file(directory.as_ref(), &name)?;
        if name == DATA_FILE {
            data = bytes;
        } else {
            other_files.push((name, bytes));
        }
    }
    Ok(Template { data, other_files })
}

fn read_file(directory: &dyn Directory, name: &str) -> crate::Result<Vec<u8>> {
    let file = directory.open(name, false)?;
    let mut bytes = vec![0u8; usize::try_from(file.len()?).unwrap_or(0)];
    file.read_exact_at(&mut bytes, 0)?;
    Ok(bytes)
}

fn write_file(directory: &dyn Directory, name: &str, bytes: &[u8]) {
    let file: Arc<dyn Storage> = directory.open(name, true).expect("a simulated file opens");
    file.write_all_at(bytes, 0)
        .expect("a simulated file takes writes");
}

/// Every read and write a damaged database must answer with a value or a typed error.
fn use_database(db: &Database) {
    let read = db.begin_read();
    for cf in read.cf_names() {
        let Ok(tree) = read.tree(&cf) else {
            continue;
        };
        let _ = tree.iter().take(10_000).count();
        let _ = tree.iter_rev().take(10_000).count();
        let _ = tree.range(key(10).as_slice()..key(30).as_slice()).count();
        let _ = tree
            .range_rev(key(10).as_slice()..key(30).as_slice())
            .count();
        for reverse in [false, true] {
            let mut cursor = if reverse {
                tree.cursor_rev::<[u8], _>(..)
            } else {
                tree.cursor::<[u8], _>(..)
            };
            while let Some(Ok(_)) = cursor.next() {}
        }
        for i in [0, 1, 13, 29, 47, 500] {
            let _ = tree.get(&key(i));
        }
        let _ = tree.first();
        let _ = tree.last();
        let _ = tree.verify();
    }
    drop(read);
    let _ = db.check_integrity();
    if let Ok(mut txn) = db.begin_write(&COLUMN_FAMILIES) {
        for cf in COLUMN_FAMILIES {
            for i in 0..ENTRIES / 2 {
                let _ = txn.put(cf, &key(i * 2), &value(i));
                let _ = txn.delete(cf, &key(i * 2 + 1));
            }
        }
        let _ = txn.commit();
    }
    let _ = db.checkpoint();
    let _ = db.compact();
}
