//! Sorted runs: a replay's changes to one column family, sorted by key and written to
//! temporary files in the database directory, then merged back in key order.
//!
//! Replaying a log applies each column family's changes in key order (`recovery.rs`). A
//! batch that fits in memory is applied as it is; a log many times larger than memory
//! would have every batch touch leaves all over the tree, which then stays in memory (the
//! replay is one transaction) or is written and read back once per batch. So when a batch
//! fills, it is sorted and written as a run ([`RunFile`]), and at the end (or before an
//! operation that needs the column family whole) the runs are merged ([`merge_runs`]): one
//! pass over the tree in key order, each leaf touched once, its pages free to leave memory
//! for good (the tree spills them).
//!
//! A run file is a sequence of changes, each `key length u32, kind u8 (0 delete, 1 put),
//! [value length u32], key, [value]`, little-endian. Runs live only while the open that
//! wrote them runs; an open removes any it finds (left by a crash during replay). They hold
//! keys and values in the clear, so an encrypted database never writes them.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;

use folio_io::{Directory, Storage};

use crate::{Error, Result};

/// Suffix of run files: `replay-<column family id>-<n>.run`.
const RUN_SUFFIX: &str = ".run";
const RUN_PREFIX: &str = "replay-";

/// Bytes written or read per call.
const IO_BYTES: usize = 1 << 20;

/// Bytes each run's reader holds while merging, at most: the readers together take at
/// most a batch's worth (at least [`READ_WINDOW_BYTES_MIN`] each).
const READ_WINDOW_BYTES_MAX: usize = 256 << 10;
const READ_WINDOW_BYTES_MIN: usize = 4 << 10;

/// A change as runs hold it: the key and the value (`None`: a delete).
pub(crate) type Change = (Vec<u8>, Option<Vec<u8>>);

/// Removes run files an earlier open left behind (it crashed while replaying).
pub(crate) fn remove_stale_runs(directory: &dyn Directory) -> Result<()> {
    for name in directory.list()? {
        if name.starts_with(RUN_PREFIX) && name.ends_with(RUN_SUFFIX) {
            directory.remove(&name)?;
        }
    }
    Ok(())
}

/// One sorted run written to a temporary file.
pub(crate) struct RunFile {
    name: String,
    storage: Arc<dyn Storage>,
    len: u64,
}

impl RunFile {
    /// Writes `changes` (strictly increasing keys) as run `name`.
    pub(crate) fn write<'a>(
        directory: &dyn Directory,
        name: String,
        changes: impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)>,
    ) -> Result<Self> {
        let storage = directory.open(&name, true)?;
        let mut buffer = Vec::with_capacity(IO_BYTES);
        let mut len = 0u64;
        for (key, value) in changes {
            buffer.extend_from_slice(&(key.len() as u32).to_le_bytes());
            match value {
                None => buffer.push(0),
                Some(value) => {
                    buffer.push(1);
                    buffer.extend_from_slice(&(value.len() as u32).to_le_bytes());
                }
            }
            buffer.extend_from_slice(key);
            buffer.extend_from_slice(value.unwrap_or_default());
            if buffer.len() >= IO_BYTES {
                storage.write_all_at(&buffer, len)?;
                len += buffer.len() as u64;
                buffer.clear();
            }
        }
        storage.write_all_at(&buffer, len)?;
        len += buffer.len() as u64;
        Ok(Self { name, storage, len })
    }

    /// The name of run `n` of column family `cf` (by id).
    pub(crate) fn name(cf: u64, n: usize) -> String {
        format!("{RUN_PREFIX}{cf}-{n}{RUN_SUFFIX}")
    }

    /// Removes the file.
    pub(crate) fn remove(self, directory: &dyn Directory) -> Result<()> {
        drop(self.storage);
        Ok(directory.remove(&self.name)?)
    }
}

/// Reads a run's changes in order through a bounded window.
struct RunReader<'r> {
    run: &'r RunFile,
    /// Bytes read per call (an entry larger than that is read whole).
    window_bytes: usize,
    /// File offset of `window[0]`.
    offset: u64,
    window: Vec<u8>,
    at: usize,
}

impl<'r> RunReader<'r> {
    fn new(run: &'r RunFile, window_bytes: usize) -> Self {
        Self {
            run,
            window_bytes,
            offset: 0,
            window: Vec::new(),
            at: 0,
        }
    }

    fn damaged(&self, what: &str) -> Error {
        Error::CorruptLogRecord {
            lsn: 0,
            reason: format!("replay run {}: {what}", self.run.name),
        }
    }

    /// Makes `n` bytes from `at` available in the window; false at the end of the run.
    fn fill(&mut self, n: usize) -> Result<bool> {
        if self.window.len() - self.at >= n {
            return Ok(true);
        }
        let start = self.offset + self.at as u64;
        let left = self.run.len - start;
        if left < n as u64 {
            return Ok(false);
        }
        let take = (left as usize).min(n.max(self.window_bytes));
        self.window.resize(take, 0);
        self.run.storage.read_exact_at(&mut self.window, start)?;
        self.offset = start;
        self.at = 0;
        Ok(true)
    }

    fn take(&mut self, n: usize) -> Result<&[u8]> {
        if !self.fill(n)? {
            return Err(self.damaged("cut short"));
        }
        self.at += n;
        Ok(&self.window[self.at - n..self.at])
    }

    fn next(&mut self) -> Result<Option<Change>> {
        if !self.fill(5)? {
            return if self.offset + (self.at as u64) == self.run.len {
                Ok(None)
            } else {
                Err(self.damaged("cut short"))
            };
        }
        let head = self.take(5)?;
        let key_len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
        let value_len = match head[4] {
            0 => None,
            1 => Some(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")) as usize),
            _ => return Err(self.damaged("unknown change kind")),
        };
        let key = self.take(key_len)?.to_vec();
        let value = match value_len {
            Some(len) => Some(self.take(len)?.to_vec()),
            None => None,
        };
        Ok(Some((key, value)))
    }
}

/// A run's next change in the merge: ordered by key, then newest run first.
struct Head {
    change: Change,
    run: usize,
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        // `BinaryHeap` pops the greatest: the smallest key, and of equal keys the newest
        // (highest) run.
        other
            .change
            .0
            .cmp(&self.change.0)
            .then(self.run.cmp(&other.run))
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

/// Merges `runs` (oldest first) in key order, the newest change of each key only, and
/// hands them to `apply` in chunks of about `chunk_bytes` of keys and values; the runs'
/// readers hold about `chunk_bytes` together too.
pub(crate) fn merge_runs(
    runs: &[RunFile],
    chunk_bytes: usize,
    mut apply: impl FnMut(&[Change]) -> Result<()>,
) -> Result<()> {
    let window =
        (chunk_bytes / runs.len().max(1)).clamp(READ_WINDOW_BYTES_MIN, READ_WINDOW_BYTES_MAX);
    let mut readers: Vec<RunReader<'_>> =
        runs.iter().map(|run| RunReader::new(run, window)).collect();
    let mut heap = BinaryHeap::with_capacity(readers.len());
    for (run, reader) in readers.iter_mut().enumerate() {
        if let Some(change) = reader.next()? {
            heap.push(Head { change, run });
        }
    }
    let mut chunk: Vec<Change> = Vec::new();
    let mut bytes = 0;
    while let Some(Head { change, run }) = heap.pop() {
        if let Some(next) = readers[run].next()? {
            heap.push(Head { change: next, run });
        }
        // Older changes of the same key: dropped (the newest came first).
        while heap.peek().is_some_and(|head| head.change.0 == change.0) {
            let Head { run: older, .. } = heap.pop().expect("peeked");
            if let Some(next) = readers[older].next()? {
                heap.push(Head {
                    change: next,
                    run: older,
                });
            }
        }
        bytes += change.0.len() + change.1.as_ref().map_or(0, Vec::len);
        chunk.push(change);
        if bytes >= chunk_bytes {
            apply(&chunk)?;
            chunk.clear();
            bytes = 0;
        }
    }
    if !chunk.is_empty() {
        apply(&chunk)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use folio_io::SimDirectory;
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Runs written from sorted batches merge into what applying the batches in order
        /// to a map gives (the last change of each key wins), whatever the chunk size.
        #[test]
        fn merged_runs_keep_the_newest_change_of_each_key(
            batches in prop::collection::vec(
                prop::collection::btree_map(
                    prop::collection::vec(0u8..4, 0..4),
                    prop::option::of(prop::collection::vec(any::<u8>(), 0..300)),
                    0..40,
                ),
                1..6,
            ),
            chunk_bytes in 1usize..2_000,
        ) {
            let directory = SimDirectory::new(1);
            let mut model: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
            let mut runs = Vec::new();
            for (n, batch) in batches.iter().enumerate() {
                let changes = batch.iter().map(|(k, v)| (k.as_slice(), v.as_deref()));
                runs.push(RunFile::write(&directory, RunFile::name(7, n), changes).unwrap());
                model.extend(batch.clone());
            }
            let mut merged = Vec::new();
            merge_runs(&runs, chunk_bytes, |chunk| {
                merged.extend_from_slice(chunk);
                Ok(())
            })
            .unwrap();
            prop_assert_eq!(merged, model.into_iter().collect::<Vec<_>>());
            for run in runs {
                run.remove(&directory).unwrap();
            }
            prop_assert!(directory.list().unwrap().is_empty());
        }
    }
}
