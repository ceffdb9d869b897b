//! Published versions: the snapshot readers see, advanced strictly in LSN order, and the
//! reader horizon that keeps pages alive while a snapshot can reach them.

use std::collections::BTreeMap;
use std::sync::Arc;

use folio_pagestore::{PageId, PageStore};
use folio_wal::Lsn;
use parking_lot::{Condvar, Mutex};

use crate::database::DbInner;

/// A registered reader of one snapshot: while it lives, no page the snapshot reaches is
/// reused. Shared by a read transaction and every tree and range made from it; the last one
/// dropped unregisters.
#[derive(Debug)]
pub(crate) struct ReadPin {
    inner: Arc<DbInner>,
    snapshot: Arc<Snapshot>,
}

impl ReadPin {
    /// Registers a reader of the latest published snapshot.
    pub(crate) fn new(inner: Arc<DbInner>) -> Self {
        let snapshot = inner.publisher.begin_read();
        Self { inner, snapshot }
    }

    pub(crate) fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    pub(crate) fn inner(&self) -> &Arc<DbInner> {
        &self.inner
    }
}

impl Drop for ReadPin {
    fn drop(&mut self) {
        self.inner.publisher.end_read(self.snapshot.version);
    }
}

/// One column family in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CfRoot {
    pub(crate) name: String,
    pub(crate) root: Option<PageId>,
    pub(crate) len: u64,
}

/// A consistent cut of every column family at one version (an LSN).
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    pub(crate) version: Lsn,
    pub(crate) by_id: BTreeMap<u64, CfRoot>,
}

impl Snapshot {
    pub(crate) fn find(&self, name: &str) -> Option<(u64, &CfRoot)> {
        self.by_id
            .iter()
            .find(|(_, cf)| cf.name == name)
            .map(|(id, cf)| (*id, cf))
    }
}

/// A change to apply to the published snapshot at one LSN.
#[derive(Debug, Clone)]
pub(crate) enum Edit {
    Tree {
        id: u64,
        root: Option<PageId>,
        len: u64,
    },
    Create {
        id: u64,
        name: String,
    },
    Drop {
        id: u64,
    },
    Rename {
        id: u64,
        to: String,
    },
}

#[derive(Debug)]
struct PublishState {
    current: Arc<Snapshot>,
    /// Changes of commits whose predecessors are not published yet, by LSN.
    waiting: BTreeMap<Lsn, Vec<Edit>>,
}

/// Publishes commits to readers in LSN order and tracks live readers.
#[derive(Debug)]
pub(crate) struct Publisher {
    state: Mutex<PublishState>,
    /// Signalled whenever the published version advances.
    advanced: Condvar,
    /// Live read snapshots: version -> count.
    readers: Mutex<BTreeMap<Lsn, usize>>,
    store: PageStore,
}

impl Publisher {
    pub(crate) fn new(initial: Snapshot, store: PageStore) -> Self {
        let publisher = Self {
            state: Mutex::new(PublishState {
                current: Arc::new(initial),
                waiting: BTreeMap::new(),
            }),
            advanced: Condvar::new(),
            readers: Mutex::new(BTreeMap::new()),
            store,
        };
        publisher.update_horizon(&publisher.state.lock().current);
        publisher
    }

    /// The latest published snapshot.
    pub(crate) fn current(&self) -> Arc<Snapshot> {
        Arc::clone(&self.state.lock().current)
    }

    /// Publishes the changes of commit `lsn`: visible once every earlier LSN is published.
    pub(crate) fn publish(&self, lsn: Lsn, edits: Vec<Edit>) {
        let mut state = self.state.lock();
        state.waiting.insert(lsn, edits);
        let next = state.current.version + 1;
        if !state.waiting.contains_key(&next) {
            return;
        }
        let mut snapshot = (*state.current).clone();
        while let Some(edits) = state.waiting.remove(&(snapshot.version + 1)) {
            snapshot.version += 1;
            for edit in edits {
                apply(&mut snapshot, edit);
            }
        }
        state.current = Arc::new(snapshot);
        self.update_horizon(&state.current);
        self.advanced.notify_all();
    }

    /// Waits until version `lsn` is published (its predecessors are all in flight).
    pub(crate) fn wait_published(&self, lsn: Lsn) -> Arc<Snapshot> {
        let mut state = self.state.lock();
        while state.current.version < lsn {
            self.advanced.wait(&mut state);
        }
        Arc::clone(&state.current)
    }

    /// Registers a reader of the latest snapshot.
    pub(crate) fn begin_read(&self) -> Arc<Snapshot> {
        let state = self.state.lock();
        let snapshot = Arc::clone(&state.current);
        *self.readers.lock().entry(snapshot.version).or_default() += 1;
        snapshot
    }

    /// Registers a reader of the latest snapshot until the returned guard is dropped (for
    /// readers inside the database, such as a checkpoint).
    pub(crate) fn read_latest(&self) -> ReadGuard<'_> {
        ReadGuard {
            publisher: self,
            snapshot: self.begin_read(),
        }
    }

    /// Unregisters a reader of `version`.
    pub(crate) fn end_read(&self, version: Lsn) {
        let state = self.state.lock();
        {
            let mut readers = self.readers.lock();
            if let Some(count) = readers.get_mut(&version) {
                *count -= 1;
                if *count == 0 {
                    readers.remove(&version);
                }
            }
        }
        self.update_horizon(&state.current);
    }

    /// Pages freed by versions at or below the horizon are unreachable: by live readers
    /// (oldest live version) and by future ones (they read the published version or later).
    fn update_horizon(&self, current: &Snapshot) {
        let oldest_reader = self.readers.lock().keys().next().copied();
        let horizon = oldest_reader.map_or(current.version, |r| r.min(current.version));
        self.store.set_reader_horizon(horizon);
    }
}

/// A registered reader inside the database; unregisters when dropped.
pub(crate) struct ReadGuard<'a> {
    publisher: &'a Publisher,
    snapshot: Arc<Snapshot>,
}

impl ReadGuard<'_> {
    pub(crate) fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }
}

impl Drop for ReadGuard<'_> {
    fn drop(&mut self) {
        self.publisher.end_read(self.snapshot.version);
    }
}

fn apply(snapshot: &mut Snapshot, edit: Edit) {
    match edit {
        Edit::Tree { id, root, len } => {
            if let Some(cf) = snapshot.by_id.get_mut(&id) {
                cf.root = root;
                cf.len = len;
            }
        }
        Edit::Create { id, name } => {
            snapshot.by_id.insert(
                id,
                CfRoot {
                    name,
                    root: None,
                    len: 0,
                },
            );
        }
        Edit::Drop { id } => {
            snapshot.by_id.remove(&id);
        }
        Edit::Rename { id, to } => {
            if let Some(cf) = snapshot.by_id.get_mut(&id) {
                cf.name = to;
            }
        }
    }
}
