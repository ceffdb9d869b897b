//! [`SimDirectory`]: several simulated files on one simulated device.

use std::collections::BTreeMap;
use std::io::IoSlice;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use super::disk::PowerLine;
use super::fault::OpClass;
use super::{CrashPolicy, SimStorage};
use crate::{Directory, Error, Result, Storage};

/// Simulated files sharing one power line: one operation index over all of them, so
/// [`SimDirectory::cut_power_at`] cuts every file at the same instant, and
/// [`SimDirectory::crash`] crashes them together. Clones are handles to the same device.
///
/// Creating, removing and renaming a file are two operations each, as on a real file system
/// under [`crate::FsDirectory`]: the change of the directory entry, then the directory sync
/// that makes it durable (after which the call returns). A power cut between the two leaves
/// the change to the crash policy: [`CrashPolicy::DropUnsynced`] loses it (a created file
/// is gone, a removed one is back, a renamed one has its old name), `KeepUnsynced` and
/// `TearUnsynced` keep it, `Random` does either.
///
/// Files are locked as [`crate::FsDirectory`] locks them: while a handle returned by
/// [`Directory::open`] lives, opening the same file again is [`Error::AlreadyOpen`] (the
/// lock follows a rename and ends with a remove). [`SimDirectory::file`] takes no lock.
///
/// A subdirectory ([`Directory::subdirectory`]) is a view of the same device whose names
/// carry the prefix `name/`; it exists once its entry `name/` does (created and removed
/// like a file's, two operations each), and removing it removes every entry under it at once.
#[derive(Debug, Clone)]
pub struct SimDirectory {
    inner: Arc<Mutex<DirectoryState>>,
    /// `""` for the device's root, `"a/b/"` for a subdirectory.
    prefix: String,
}

#[derive(Debug)]
struct DirectoryState {
    /// The entries as the directory shows them now.
    files: BTreeMap<String, SimStorage>,
    /// The entries as of the last directory sync: what a crash that drops unsynced changes
    /// leaves.
    synced: BTreeMap<String, SimStorage>,
    /// The lock of each file opened through [`Directory::open`], held by its handles.
    locks: BTreeMap<String, Weak<()>>,
    power: Arc<PowerLine>,
    crashed: bool,
    rng: fastrand::Rng,
}

impl SimDirectory {
    /// An empty simulated device whose randomness derives from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            inner: Arc::new(Mutex::new(DirectoryState {
                files: BTreeMap::new(),
                synced: BTreeMap::new(),
                locks: BTreeMap::new(),
                power: PowerLine::new(),
                crashed: false,
                rng: fastrand::Rng::with_seed(seed),
            })),
            prefix: String::new(),
        }
    }

    /// The simulated file `name`, if it exists (for installing faults or corrupting it).
    pub fn file(&self, name: &str) -> Option<SimStorage> {
        self.inner.lock().files.get(&self.full_name(name)).cloned()
    }

    /// `name` as the device's entries spell it (with this view's prefix).
    fn full_name(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// This view's entries: (name without the prefix, entry), in name order; not its own
    /// marker entry.
    fn entries<'a>(
        &'a self,
        state: &'a DirectoryState,
    ) -> impl Iterator<Item = (&'a str, &'a SimStorage)> + 'a {
        state
            .files
            .range(self.prefix.clone()..)
            .map_while(|(name, file)| Some((name.strip_prefix(self.prefix.as_str())?, file)))
            .filter(|(name, _)| !name.is_empty())
    }

    /// Installs a fault rule that counts the operations of every file of the device
    /// together, and the directory's entry changes (as mutations) and directory syncs (as
    /// syncs). A failed entry change changes nothing; a failed directory sync leaves the
    /// change in the directory but not durable (a crash drops it, as `DropUnsynced` would).
    pub fn install_fault(&self, rule: super::FaultRule) {
        self.inner.lock().power.install_fault(rule);
    }

    /// Removes the device-wide fault rules.
    pub fn clear_faults(&self) {
        self.inner.lock().power.clear_faults();
    }

    /// True once a device-wide fault rule has failed an operation.
    pub fn fault_fired(&self) -> bool {
        self.inner.lock().power.fault_fired()
    }

    /// Cuts the power at operation `index`, counted over every file and directory operation
    /// since the device was made (see [`SimStorage::cut_power_at`]).
    pub fn cut_power_at(&self, index: u64) {
        self.inner.lock().power.cut_at(index);
    }

    /// Operations so far, over every file and directory operation since the device was
    /// made: `cut_power_at(operations() + n)` cuts the power `n` operations from now.
    pub fn operations(&self) -> u64 {
        self.inner.lock().power.operations()
    }

    /// True once an operation was refused for lack of power.
    pub fn power_was_cut(&self) -> bool {
        self.inner.lock().power.was_cut()
    }

    /// Crashes every file with `policy` and returns the rebooted device (its root, whichever
    /// view this is); this one is dead.
    #[must_use = "the crashed device is dead: keep the returned one"]
    pub fn crash(&self, policy: CrashPolicy) -> SimDirectory {
        let mut state = self.inner.lock();
        state.crashed = true;
        let power = PowerLine::new();
        // At most one entry change is unsynced (each call syncs before it returns).
        let keep_unsynced = match policy {
            CrashPolicy::DropUnsynced => false,
            CrashPolicy::KeepUnsynced | CrashPolicy::TearUnsynced => true,
            CrashPolicy::Random => state.rng.bool(),
        };
        let entries = if keep_unsynced {
            &state.files
        } else {
            &state.synced
        };
        let files: BTreeMap<String, SimStorage> = entries
            .iter()
            .map(|(name, file)| (name.clone(), file.crash_onto(policy, Arc::clone(&power))))
            .collect();
        let seed = state.rng.u64(..);
        SimDirectory {
            inner: Arc::new(Mutex::new(DirectoryState {
                synced: files.clone(),
                files,
                locks: BTreeMap::new(),
                power,
                crashed: false,
                rng: fastrand::Rng::with_seed(seed),
            })),
            prefix: String::new(),
        }
    }

    fn begin(state: &DirectoryState) -> Result<()> {
        if state.crashed || !state.power.next_op_has_power() {
            Err(Error::Crashed)
        } else {
            Ok(())
        }
    }

    /// Starts an entry change (one operation): power, then the device's fault rules.
    fn begin_change(state: &DirectoryState, name: &str) -> Result<()> {
        Self::begin(state)?;
        Self::fault(state, OpClass::Mutation, crate::Operation::Open, name)
    }

    /// The directory sync after an entry change (one operation): the entries become durable.
    fn sync_entries(state: &mut DirectoryState, name: &str) -> Result<()> {
        Self::begin(state)?;
        Self::fault(state, OpClass::Sync, crate::Operation::Sync, name)?;
        state.synced = state.files.clone();
        Ok(())
    }

    fn fault(
        state: &DirectoryState,
        class: OpClass,
        op: crate::Operation,
        name: &str,
    ) -> Result<()> {
        match state.power.check_faults(class) {
            Some(kind) => Err(Error::Io {
                op,
                path: Some(name.into()),
                source: kind.to_io_error(),
            }),
            None => Ok(()),
        }
    }
}

impl Directory for SimDirectory {
    fn open(&self, name: &str, create: bool) -> Result<Arc<dyn Storage>> {
        let name = &self.full_name(name);
        let mut guard = self.inner.lock();
        let state = &mut *guard;
        Self::begin(state)?;
        if state
            .locks
            .get(name)
            .is_some_and(|lock| lock.strong_count() > 0)
        {
            return Err(Error::AlreadyOpen {
                path: name.into(),
                holder: crate::LockHolder::ThisProcess,
            });
        }
        let file = if let Some(file) = state.files.get(name) {
            file.clone()
        } else if create {
            // The power check above was the entry change's operation.
            Self::fault(state, OpClass::Mutation, crate::Operation::Open, name)?;
            let seed = state.rng.u64(..);
            let file = SimStorage::on_power_line(Vec::new(), seed, Arc::clone(&state.power));
            state.files.insert(name.to_owned(), file.clone());
            Self::sync_entries(state, name)?;
            file
        } else {
            return Err(not_found(name));
        };
        let lock = Arc::new(());
        state.locks.insert(name.to_owned(), Arc::downgrade(&lock));
        Ok(Arc::new(LockedFile { file, _lock: lock }))
    }

    fn remove(&self, name: &str) -> Result<()> {
        let name = &self.full_name(name);
        let mut state = self.inner.lock();
        if !state.files.contains_key(name) {
            return Self::begin(&state); // nothing to change, as `FsDirectory` does
        }
        Self::begin_change(&state, name)?;
        state.locks.remove(name);
        state.files.remove(name);
        Self::sync_entries(&mut state, name)
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (from, to) = (&self.full_name(from), &self.full_name(to));
        let mut state = self.inner.lock();
        Self::begin_change(&state, from)?;
        let file = state.files.remove(from).ok_or_else(|| not_found(from))?;
        state.files.insert(to.to_owned(), file);
        match state.locks.remove(from) {
            Some(lock) => state.locks.insert(to.to_owned(), lock),
            None => state.locks.remove(to),
        };
        Self::sync_entries(&mut state, to)
    }

    fn list(&self) -> Result<Vec<String>> {
        let state = self.inner.lock();
        Self::begin(&state)?;
        Ok(self
            .entries(&state)
            .filter(|(name, _)| !name.contains('/'))
            .map(|(name, _)| name.to_owned())
            .collect())
    }

    fn subdirectory(&self, name: &str) -> Result<Arc<dyn Directory>> {
        let entry = self.full_name(&format!("{name}/"));
        let mut state = self.inner.lock();
        Self::begin(&state)?;
        if !state.files.contains_key(&entry) {
            // The power check above was the entry change's operation.
            Self::fault(&state, OpClass::Mutation, crate::Operation::Open, &entry)?;
            let seed = state.rng.u64(..);
            let marker = SimStorage::on_power_line(Vec::new(), seed, Arc::clone(&state.power));
            state.files.insert(entry.clone(), marker);
            Self::sync_entries(&mut state, &entry)?;
        }
        Ok(Arc::new(SimDirectory {
            inner: Arc::clone(&self.inner),
            prefix: entry,
        }))
    }

    fn list_subdirectories(&self) -> Result<Vec<String>> {
        let state = self.inner.lock();
        Self::begin(&state)?;
        Ok(self
            .entries(&state)
            .filter_map(|(name, _)| name.strip_suffix('/'))
            .filter(|name| !name.contains('/'))
            .map(str::to_owned)
            .collect())
    }

    fn remove_subdirectory(&self, name: &str) -> Result<()> {
        let entry = self.full_name(&format!("{name}/"));
        let mut state = self.inner.lock();
        if !state.files.contains_key(&entry) {
            return Self::begin(&state);
        }
        Self::begin_change(&state, &entry)?;
        state.files.retain(|name, _| !name.starts_with(&entry));
        state.locks.retain(|name, _| !name.starts_with(&entry));
        Self::sync_entries(&mut state, &entry)
    }
}

fn not_found(name: &str) -> Error {
    Error::Io {
        op: crate::Operation::Open,
        path: Some(name.into()),
        source: std::io::Error::from(std::io::ErrorKind::NotFound),
    }
}

/// A file opened through [`Directory::open`]: the simulated file and its lock.
#[derive(Debug)]
struct LockedFile {
    file: SimStorage,
    _lock: Arc<()>,
}

impl Storage for LockedFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    fn write_all_vectored_at(&self, bufs: &[IoSlice<'_>], offset: u64) -> Result<()> {
        self.file.write_all_vectored_at(bufs, offset)
    }

    fn sync_data(&self) -> Result<()> {
        self.file.sync_data()
    }

    fn allocate(&self, len: u64) -> Result<()> {
        self.file.allocate(len)
    }

    fn set_len(&self, len: u64) -> Result<()> {
        self.file.set_len(len)
    }

    fn len(&self) -> Result<u64> {
        self.file.len()
    }
}
