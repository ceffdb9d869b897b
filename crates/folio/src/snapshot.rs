//! Published versions: the snapshot readers see, advanced strictly in LSN order, and the
//! reader horizon that keeps pages alive while a snapshot can reach them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{Ordering as AtomicOrdering, fence};

use arc_swap::ArcSwap;
use folio_pagestore::{PageId, PageStore};
use folio_wal::Lsn;
use imbl::{HashMap, OrdMap};
use parking_lot::{Condvar, Mutex};

use crate::Compression;
use crate::column_family::CfId;
use crate::database::DbInner;
use crate::readers::ReaderTable;

/// A registered reader of one snapshot: while it lives, no page the snapshot reaches is
/// reused. `H` is what keeps the publisher alive: the database for a read transaction
/// ([`ReadPin`], shared by the transaction and every tree and range made from it; the last
/// one dropped unregisters), a borrow for a reader inside the database ([`ReadGuard`], a
/// checkpoint).
#[derive(Debug)]
pub(crate) struct Registration<H: HasPublisher> {
    holder: H,
    snapshot: Arc<Snapshot>,
    /// The reader-table shard it is registered in.
    shard: usize,
}

/// What a [`Registration`] reaches its publisher through.
pub(crate) trait HasPublisher {
    fn publisher(&self) -> &Publisher;
}

impl HasPublisher for Arc<DbInner> {
    fn publisher(&self) -> &Publisher {
        &self.publisher
    }
}

impl HasPublisher for &Publisher {
    fn publisher(&self) -> &Publisher {
        self
    }
}

/// A read transaction's registration.
pub(crate) type ReadPin = Registration<Arc<DbInner>>;
/// A registration inside the database, for as long as the borrow of its publisher.
pub(crate) type ReadGuard<'a> = Registration<&'a Publisher>;

impl<H: HasPublisher> Registration<H> {
    /// Registers a reader of the latest published snapshot.
    pub(crate) fn new(holder: H) -> Self {
        let (snapshot, shard) = holder.publisher().begin_read();
        Self {
            holder,
            snapshot,
            shard,
        }
    }

    pub(crate) fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// What keeps the publisher alive (for a [`ReadPin`], the database: its page store and
    /// whether it is closed).
    pub(crate) fn holder(&self) -> &H {
        &self.holder
    }
}

impl<H: HasPublisher> Drop for Registration<H> {
    fn drop(&mut self) {
        self.holder
            .publisher()
            .end_read(self.shard, self.snapshot.version);
    }
}

/// The tree of one column family in a snapshot (plain data: copying it is a `memcpy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CfRoot {
    pub(crate) root: Option<PageId>,
    pub(crate) len: u64,
}

/// A consistent cut of every column family at one version (an LSN). Persistent maps: a
/// commit's new snapshot shares everything it did not change with the previous one, so
/// publishing costs O(log n) in the number of column families (a path of plain-data nodes
/// copied), not a copy of all of them. Names live apart from the trees: only creating,
/// dropping or renaming a column family touches them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    pub(crate) version: Lsn,
    trees: OrdMap<CfId, CfRoot>,
    ids: HashMap<Arc<str>, CfId>,
    names: OrdMap<CfId, Arc<str>>,
    /// How each column family compresses what it writes (stored with the catalog at
    /// checkpoints, so a checkpoint records the setting of its own version); absent for one
    /// from a file written before settings were stored, until one is set.
    compressions: OrdMap<CfId, Compression>,
}

impl Snapshot {
    /// The empty snapshot at `version`.
    pub(crate) fn at(version: Lsn) -> Self {
        Self {
            version,
            ..Self::default()
        }
    }

    /// Column family `name`: its id and tree.
    pub(crate) fn find(&self, name: &str) -> Option<(CfId, CfRoot)> {
        let id = *self.ids.get(name)?;
        self.trees.get(&id).map(|root| (id, *root))
    }

    /// The tree of column family `id`.
    pub(crate) fn tree(&self, id: CfId) -> Option<CfRoot> {
        self.trees.get(&id).copied()
    }

    /// The name of column family `id`.
    pub(crate) fn name(&self, id: CfId) -> Option<&Arc<str>> {
        self.names.get(&id)
    }

    /// Every column family: id, name and tree, by id.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (CfId, &Arc<str>, CfRoot)> {
        self.names
            .iter()
            .filter_map(|(id, name)| self.trees.get(id).map(|root| (*id, name, *root)))
    }

    /// The compression setting of column family `id` (none when none was recorded).
    pub(crate) fn compression(&self, id: CfId) -> Compression {
        self.recorded_compression(id).unwrap_or_default()
    }

    /// The options column family `id` writes with.
    pub(crate) fn cf_options(&self, id: CfId) -> crate::ColumnFamilyOptions {
        crate::ColumnFamilyOptions::new().with_compression(self.compression(id))
    }

    /// The compression setting recorded for column family `id`, if any.
    pub(crate) fn recorded_compression(&self, id: CfId) -> Option<Compression> {
        self.compressions.get(&id).copied()
    }

    /// Sets the compression setting of column family `id`.
    pub(crate) fn set_compression(&mut self, id: CfId, compression: Compression) {
        if self.names.contains_key(&id) {
            self.compressions.insert(id, compression);
        }
    }

    /// Names, sorted.
    pub(crate) fn sorted_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.ids.keys().map(ToString::to_string).collect();
        names.sort_unstable();
        names
    }

    /// Adds column family `id` (empty unless `root` says otherwise), with its compression
    /// setting if one is recorded.
    pub(crate) fn add(
        &mut self,
        id: CfId,
        name: &str,
        (root, len): (Option<PageId>, u64),
        compression: Option<Compression>,
    ) {
        let name: Arc<str> = Arc::from(name);
        self.ids.insert(Arc::clone(&name), id);
        self.names.insert(id, name);
        self.trees.insert(id, CfRoot { root, len });
        if let Some(compression) = compression {
            self.compressions.insert(id, compression);
        }
    }

    /// Removes column family `id`.
    pub(crate) fn remove(&mut self, id: CfId) {
        if let Some(name) = self.names.remove(&id) {
            self.ids.remove(&name);
        }
        self.trees.remove(&id);
        self.compressions.remove(&id);
    }

    /// Renames column family `id`.
    pub(crate) fn rename(&mut self, id: CfId, to: &str) {
        if let Some(old) = self.names.get(&id).cloned() {
            self.ids.remove(&old);
            let to: Arc<str> = Arc::from(to);
            self.ids.insert(Arc::clone(&to), id);
            self.names.insert(id, to);
        }
    }

    /// Sets the tree of column family `id`.
    pub(crate) fn set_tree(&mut self, id: CfId, root: Option<PageId>, len: u64) {
        if let Some(cf) = self.trees.get_mut(&id) {
            *cf = CfRoot { root, len };
        }
    }
}

/// A change to apply to the published snapshot at one LSN.
#[derive(Debug, Clone)]
pub(crate) enum Edit {
    Tree {
        id: CfId,
        root: Option<PageId>,
        len: u64,
    },
    Create {
        id: CfId,
        name: String,
        compression: Compression,
    },
    Compression {
        id: CfId,
        compression: Compression,
    },
    Drop {
        id: CfId,
    },
    Rename {
        id: CfId,
        to: String,
    },
}

#[derive(Debug)]
struct PublishState {
    /// Changes of commits whose predecessors are not published yet, by LSN.
    waiting: BTreeMap<Lsn, Vec<Edit>>,
}

/// Publishes commits to readers in LSN order and tracks live readers.
///
/// Readers take the published snapshot without a lock (`ArcSwap`) and register its version
/// in their thread's shard of the reader table; the reader horizon (the oldest version a
/// live reader can see) is computed from the shards when commits publish and when a
/// checkpoint starts, not on every read.
#[derive(Debug)]
pub(crate) struct Publisher {
    state: Mutex<PublishState>,
    current: ArcSwap<Snapshot>,
    /// Signalled whenever the published version advances.
    advanced: Condvar,
    readers: ReaderTable,
    store: PageStore,
    /// Change feeds waiting for the next publish (`changes/signal.rs`).
    pub(crate) feed_wakers: crate::changes::FeedWakers,
}

impl Publisher {
    pub(crate) fn new(initial: Snapshot, store: PageStore) -> Self {
        let publisher = Self {
            state: Mutex::new(PublishState {
                waiting: BTreeMap::new(),
            }),
            current: ArcSwap::from_pointee(initial),
            advanced: Condvar::new(),
            readers: ReaderTable::new(),
            store,
            feed_wakers: crate::changes::FeedWakers::default(),
        };
        publisher.update_horizon();
        publisher
    }

    /// The latest published snapshot.
    pub(crate) fn current(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Publishes the changes of commit `lsn` and returns once they are visible, which is
    /// once every earlier LSN is published too (those commits are in flight: they appended
    /// their records and publish next). So a reader that begins after a commit returns sees
    /// it, whatever other threads commit meanwhile.
    ///
    /// Only the commit path (`commit/mod.rs`) calls it, once per LSN the log handed out.
    pub(crate) fn publish(&self, lsn: Lsn, edits: Vec<Edit>) {
        let mut state = self.state.lock();
        let current = self.current.load_full();
        // Published versions only move forward, one LSN at a time: a repeated or stale LSN
        // would replace a newer snapshot's roots with older ones.
        assert!(
            lsn > current.version,
            "LSN {lsn} published again (version {} is visible)",
            current.version
        );
        let repeated = state.waiting.insert(lsn, edits);
        assert!(repeated.is_none(), "LSN {lsn} published twice");
        if !state.waiting.contains_key(&(current.version + 1)) {
            // An earlier commit publishes this one with its own.
            while self.current.load_full().version < lsn {
                self.advanced.wait(&mut state);
            }
            return;
        }
        let mut snapshot = (*current).clone();
        while let Some(edits) = state.waiting.remove(&(snapshot.version + 1)) {
            snapshot.version += 1;
            for edit in edits {
                apply(&mut snapshot, edit);
            }
        }
        self.current.store(Arc::new(snapshot));
        self.update_horizon();
        self.advanced.notify_all();
        self.feed_wakers.wake_all();
    }

    /// Waits until version `lsn` is published (its predecessors are all in flight).
    pub(crate) fn wait_published(&self, lsn: Lsn) -> Arc<Snapshot> {
        let mut state = self.state.lock();
        loop {
            let current = self.current.load_full();
            if current.version >= lsn {
                return current;
            }
            self.advanced.wait(&mut state);
        }
    }

    /// Waits until a version past `after` is published, `deadline` passes or `stop()`
    /// holds (a blocking change feed; see [`crate::changes::FeedWakers`]); returns the
    /// published version.
    pub(crate) fn wait_past(
        &self,
        after: Lsn,
        deadline: Option<std::time::Instant>,
        stop: impl Fn() -> bool,
    ) -> Lsn {
        self.feed_wakers
            .wait_past(|| self.current.load().version, after, deadline, stop)
    }

    /// Wakes every waiting change feed to check its `stop` (the database closes).
    pub(crate) fn wake_all(&self) {
        self.feed_wakers.wake_all();
    }

    /// Registers a reader of the latest snapshot; returns it and the reader-table shard to
    /// unregister from.
    pub(crate) fn begin_read(&self) -> (Arc<Snapshot>, usize) {
        loop {
            let snapshot = self.current.load_full();
            let shard = self.readers.register(snapshot.version);
            // Paired with the fence in `update_horizon`: either the horizon computation saw
            // this registration, or it read a published version no newer than the one
            // re-read here; when that is still this snapshot's, the horizon is at most it.
            fence(AtomicOrdering::SeqCst);
            if self.current.load().version == snapshot.version {
                return (snapshot, shard);
            }
            self.readers.unregister(shard, snapshot.version);
        }
    }

    /// Registers a reader of the latest snapshot until the returned guard is dropped (for
    /// readers inside the database, such as a checkpoint).
    pub(crate) fn read_latest(&self) -> ReadGuard<'_> {
        Registration::new(self)
    }

    /// Unregisters a reader of `version` (registered in `shard`).
    pub(crate) fn end_read(&self, shard: usize, version: Lsn) {
        self.readers.unregister(shard, version);
    }

    /// Recomputes the reader horizon now (a checkpoint calls it: readers ending do not).
    pub(crate) fn refresh_horizon(&self) {
        self.update_horizon();
    }

    /// Pages freed by versions at or below the horizon are unreachable: by live readers
    /// (oldest live version) and by future ones (they read the published version or later).
    fn update_horizon(&self) {
        let current = self.current.load().version;
        fence(AtomicOrdering::SeqCst);
        let horizon = self.readers.oldest().map_or(current, |r| r.min(current));
        self.store.set_reader_horizon(horizon);
    }
}

fn apply(snapshot: &mut Snapshot, edit: Edit) {
    match edit {
        Edit::Tree { id, root, len } => snapshot.set_tree(id, root, len),
        Edit::Create {
            id,
            name,
            compression,
        } => snapshot.add(id, &name, (None, 0), Some(compression)),
        Edit::Compression { id, compression } => snapshot.set_compression(id, compression),
        Edit::Drop { id } => snapshot.remove(id),
        Edit::Rename { id, to } => snapshot.rename(id, &to),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publisher() -> Publisher {
        let storage = Arc::new(folio_io::MemoryStorage::new());
        let store = PageStore::create(storage, folio_pagestore::PageStoreOptions::default())
            .expect("a store in memory");
        Publisher::new(Snapshot::at(0), store)
    }

    #[test]
    fn publishes_in_lsn_order_whatever_order_commits_arrive_in() {
        let publisher = Arc::new(publisher());
        let second = {
            let publisher = Arc::clone(&publisher);
            // Waits in line until LSN 1 is published.
            std::thread::spawn(move || publisher.publish(2, Vec::new()))
        };
        publisher.publish(1, Vec::new());
        second.join().unwrap();
        assert_eq!(publisher.current().version, 2);
    }

    #[test]
    #[should_panic(expected = "LSN 1 published again")]
    fn an_lsn_published_twice_fails_where_it_happens() {
        let publisher = publisher();
        publisher.publish(1, Vec::new());
        publisher.publish(1, Vec::new());
    }
}
