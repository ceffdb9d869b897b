//! The simulated disk itself.

use std::io::IoSlice;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::counts::OpCounts;
use super::crash::{CrashPolicy, PendingOp, apply, crash_image};
use super::fault::{ActiveFault, FaultKind, FaultRule, OpClass};
use crate::memory::{checked_range, too_large};
use crate::{Error, IOV_MAX, Operation, Result, Storage};

/// The unit a torn write is cut at: each sector of an unsynced write survives a crash or not.
pub const SECTOR_BYTES: usize = 512;

/// A simulated disk for crash and fault tests. Clones are handles to the same disk.
///
/// - Reads see every completed write (the *volatile* view).
/// - [`Storage::sync_data`] moves every write issued before it into the *durable* image.
/// - [`SimStorage::crash`] builds a new disk from the durable image plus whatever a
///   [`CrashPolicy`] lets through of the unsynced writes, and kills this one: every later call
///   on any old handle returns [`Error::Crashed`], so a straggling thread cannot write into
///   the "rebooted" disk.
/// - [`SimStorage::install_fault`] fails chosen operations; [`SimStorage::flip_bit`] and
///   [`SimStorage::overwrite_stored`] corrupt what is stored.
///
/// All randomness comes from one generator seeded at construction, so a failing test
/// replays exactly from its seed.
#[derive(Debug, Clone)]
pub struct SimStorage {
    state: Arc<Mutex<DiskState>>,
}

#[derive(Debug)]
struct DiskState {
    crashed: bool,
    volatile: Vec<u8>,
    durable: Vec<u8>,
    /// Operations since the last successful sync, in issue order.
    pending: Vec<PendingOp>,
    counts: OpCounts,
    faults: Vec<ActiveFault>,
    /// Shared by every file of one [`super::SimDirectory`]: one operation index, one power cut.
    power: Arc<PowerLine>,
    rng: fastrand::Rng,
}

/// The operation counter and power switch shared by the files of one simulated device.
#[derive(Debug)]
pub(crate) struct PowerLine {
    /// Operations served or refused so far, over every file on the line.
    op_index: AtomicU64,
    /// From this operation index on, every operation fails without effect (`u64::MAX`: never).
    cut_at: AtomicU64,
    /// Fault rules counting the operations of every file on the line.
    faults: Mutex<Vec<ActiveFault>>,
}

impl PowerLine {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            op_index: AtomicU64::new(0),
            cut_at: AtomicU64::new(u64::MAX),
            faults: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn install_fault(&self, rule: FaultRule) {
        self.faults.lock().push(ActiveFault::new(rule));
    }

    pub(crate) fn clear_faults(&self) {
        self.faults.lock().clear();
    }

    pub(crate) fn fault_fired(&self) -> bool {
        self.faults.lock().iter().any(|f| f.fired)
    }

    /// Counts one operation against the line's fault rules.
    pub(super) fn check_faults(&self, class: OpClass) -> Option<FaultKind> {
        let mut failure = None;
        for fault in self.faults.lock().iter_mut() {
            if let Some(kind) = fault.check(class) {
                failure.get_or_insert(kind);
            }
        }
        failure
    }

    /// Operations served or refused so far.
    pub(crate) fn operations(&self) -> u64 {
        self.op_index.load(Ordering::SeqCst)
    }

    pub(crate) fn cut_at(&self, index: u64) {
        self.cut_at.store(index, Ordering::SeqCst);
    }

    pub(crate) fn was_cut(&self) -> bool {
        self.op_index.load(Ordering::SeqCst) > self.cut_at.load(Ordering::SeqCst)
    }

    /// Takes the next operation index; false when the power is off for it.
    pub(crate) fn next_op_has_power(&self) -> bool {
        let index = self.op_index.fetch_add(1, Ordering::SeqCst);
        index < self.cut_at.load(Ordering::SeqCst)
    }
}

/// Why an operation was refused.
enum Refusal {
    /// The disk crashed or lost power: the operation had no effect at all.
    Dead,
    /// An injected fault.
    Fault(FaultKind),
}

impl Refusal {
    fn into_error(self, op: Operation) -> Error {
        match self {
            Refusal::Dead => Error::Crashed,
            Refusal::Fault(kind) => Error::io(op, kind.to_io_error()),
        }
    }
}

impl SimStorage {
    /// An empty disk whose crashes and bit flips are drawn from `seed`.
    pub fn new(seed: u64) -> Self {
        Self::from_image(Vec::new(), seed)
    }

    /// A disk whose durable and volatile contents are `image`.
    pub fn from_image(image: Vec<u8>, seed: u64) -> Self {
        Self::on_power_line(image, seed, PowerLine::new())
    }

    pub(crate) fn on_power_line(image: Vec<u8>, seed: u64, power: Arc<PowerLine>) -> Self {
        Self {
            state: Arc::new(Mutex::new(DiskState {
                crashed: false,
                durable: image.clone(),
                volatile: image,
                pending: Vec::new(),
                counts: OpCounts::default(),
                faults: Vec::new(),
                power,
                rng: fastrand::Rng::with_seed(seed),
            })),
        }
    }

    /// Cuts the power: returns a fresh disk holding the durable image plus what `policy`
    /// lets through of the unsynced operations, with no faults installed and zeroed counters.
    /// This disk (and every clone of it) is dead from now on.
    #[must_use = "the crashed disk is dead: keep the returned one"]
    pub fn crash(&self, policy: CrashPolicy) -> SimStorage {
        self.crash_onto(policy, PowerLine::new())
    }

    /// [`SimStorage::crash`], wiring the rebooted disk to `power`.
    pub(crate) fn crash_onto(&self, policy: CrashPolicy, power: Arc<PowerLine>) -> SimStorage {
        let mut state = self.state.lock();
        state.crashed = true;
        let durable = std::mem::take(&mut state.durable);
        let pending = std::mem::take(&mut state.pending);
        let seed = state.rng.u64(..);
        let image = crash_image(durable, pending, policy, &mut state.rng);
        state.volatile = Vec::new();
        SimStorage::on_power_line(image, seed, power)
    }

    /// Cuts the power at operation index `index` (counted over all operations since the disk
    /// was made, starting at 0): that operation and every later one fail with
    /// [`Error::Crashed`] and have no effect, while the writes not yet synced stay pending.
    /// Follow with [`SimStorage::crash`] to see what survived. This is how a crash "at I/O
    /// operation N" is simulated; it differs from a failed sync, which loses pending writes.
    pub fn cut_power_at(&self, index: u64) {
        self.state.lock().power.cut_at(index);
    }

    /// True once an operation was refused because of [`SimStorage::cut_power_at`].
    pub fn power_was_cut(&self) -> bool {
        self.state.lock().power.was_cut()
    }

    /// Installs a fault rule; several may be active at once.
    pub fn install_fault(&self, rule: FaultRule) {
        self.state.lock().faults.push(ActiveFault::new(rule));
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.state.lock().faults.clear();
    }

    /// True when any installed rule has failed an operation.
    pub fn fault_fired(&self) -> bool {
        self.state.lock().faults.iter().any(|f| f.fired)
    }

    /// The operations served so far.
    pub fn counts(&self) -> OpCounts {
        self.state.lock().counts
    }

    /// Zeroes the operation counters.
    pub fn reset_counts(&self) {
        self.state.lock().counts = OpCounts::default();
    }

    /// A copy of what would survive a crash that drops every unsynced write.
    pub fn durable_image(&self) -> Vec<u8> {
        self.state.lock().durable.clone()
    }

    /// A copy of what reads currently see.
    pub fn volatile_image(&self) -> Vec<u8> {
        self.state.lock().volatile.clone()
    }

    /// How many operations are waiting for a sync.
    pub fn unsynced_ops(&self) -> usize {
        self.state.lock().pending.len()
    }

    /// Flips bit `bit` (0-7) of the stored byte at `offset`, in both the durable and the
    /// volatile image (the medium itself is corrupt). Returns false when `offset` is past the
    /// end of both.
    pub fn flip_bit(&self, offset: u64, bit: u8) -> bool {
        let mut guard = self.state.lock();
        let state = &mut *guard;
        let mask = 1u8 << (bit % 8);
        let mut flipped = false;
        let at = offset as usize;
        for image in [&mut state.durable, &mut state.volatile] {
            if let Some(byte) = image.get_mut(at) {
                *byte ^= mask;
                flipped = true;
            }
        }
        flipped
    }

    /// Flips `count` random bits in `range` of the stored bytes (clamped to the durable
    /// image), using the disk's generator. Returns the `(offset, bit)` pairs flipped.
    pub fn flip_random_bits(&self, range: Range<u64>, count: usize) -> Vec<(u64, u8)> {
        let mut flips = Vec::with_capacity(count);
        {
            let mut state = self.state.lock();
            let end = range.end.min(state.durable.len() as u64);
            if range.start >= end {
                return flips;
            }
            for _ in 0..count {
                let offset = state.rng.u64(range.start..end);
                let bit = state.rng.u8(0..8);
                flips.push((offset, bit));
            }
        }
        for &(offset, bit) in &flips {
            self.flip_bit(offset, bit);
        }
        flips
    }

    /// Replaces stored bytes at `offset` in both images (zeroed sectors, torn pages planted
    /// by a test). Bytes past the end of an image are not added to it.
    pub fn overwrite_stored(&self, offset: u64, bytes: &[u8]) {
        let mut guard = self.state.lock();
        let state = &mut *guard;
        for image in [&mut state.durable, &mut state.volatile] {
            let start = (offset as usize).min(image.len());
            let end = (offset as usize + bytes.len()).min(image.len());
            image[start..end].copy_from_slice(&bytes[..end - start]);
        }
    }

    /// Draws a number from the disk's seeded generator (for tests that want one source of
    /// randomness).
    pub fn random_u64(&self, range: Range<u64>) -> u64 {
        self.state.lock().rng.u64(range)
    }
}

impl DiskState {
    /// Checks for death, power cut and faults. Every installed rule sees every operation, so
    /// rule counters stay exact even when two rules fire together.
    fn begin(&mut self, class: OpClass) -> Result<(), Refusal> {
        let has_power = self.power.next_op_has_power();
        if self.crashed || !has_power {
            return Err(Refusal::Dead);
        }
        let mut failure: Option<FaultKind> = self.power.check_faults(class);
        for fault in &mut self.faults {
            if let Some(kind) = fault.check(class) {
                failure.get_or_insert(kind);
            }
        }
        match failure {
            Some(kind) => Err(Refusal::Fault(kind)),
            None => Ok(()),
        }
    }
}

impl Storage for SimStorage {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        let mut state = self.state.lock();
        state.counts.reads += 1;
        state
            .begin(OpClass::Read)
            .map_err(|r| r.into_error(Operation::Read))?;
        let range = checked_range(offset, buf.len(), state.volatile.len() as u64)?;
        buf.copy_from_slice(&state.volatile[range]);
        state.counts.bytes_read += buf.len() as u64;
        Ok(())
    }

    fn write_all_vectored_at(&self, bufs: &[IoSlice<'_>], offset: u64) -> Result<()> {
        let mut state = self.state.lock();
        state.counts.writes += 1;
        state.counts.write_syscalls += bufs.len().div_ceil(IOV_MAX).max(1) as u64;
        state
            .begin(OpClass::Mutation)
            .map_err(|r| r.into_error(Operation::Write))?;
        usize::try_from(offset).map_err(|_| too_large(Operation::Write))?;
        let mut data = Vec::with_capacity(crate::storage::total_len(bufs));
        for buf in bufs {
            data.extend_from_slice(buf);
        }
        state.counts.bytes_written += data.len() as u64;
        let op = PendingOp::Write { offset, data };
        apply(&mut state.volatile, &op);
        state.pending.push(op);
        Ok(())
    }

    fn sync_data(&self) -> Result<()> {
        let mut state = self.state.lock();
        state.counts.syncs += 1;
        match state.begin(OpClass::Sync) {
            Ok(()) => {}
            Err(Refusal::Fault(kind)) => {
                // An injected sync failure loses the writes it covered (see `FaultRule`).
                state.pending.clear();
                return Err(Error::io(Operation::Sync, kind.to_io_error()));
            }
            Err(refusal) => return Err(refusal.into_error(Operation::Sync)),
        }
        let pending = std::mem::take(&mut state.pending);
        for op in &pending {
            apply(&mut state.durable, op);
        }
        Ok(())
    }

    fn allocate(&self, len: u64) -> Result<()> {
        let mut state = self.state.lock();
        state.counts.allocates += 1;
        state
            .begin(OpClass::Mutation)
            .map_err(|r| r.into_error(Operation::Allocate))?;
        usize::try_from(len).map_err(|_| too_large(Operation::Allocate))?;
        if (state.volatile.len() as u64) < len {
            let op = PendingOp::SetLen(len);
            apply(&mut state.volatile, &op);
            state.pending.push(op);
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<()> {
        let mut state = self.state.lock();
        state.counts.set_lens += 1;
        state
            .begin(OpClass::Mutation)
            .map_err(|r| r.into_error(Operation::SetLen))?;
        usize::try_from(len).map_err(|_| too_large(Operation::SetLen))?;
        let op = PendingOp::SetLen(len);
        apply(&mut state.volatile, &op);
        state.pending.push(op);
        Ok(())
    }

    fn len(&self) -> Result<u64> {
        let mut state = self.state.lock();
        state.counts.lens += 1;
        state
            .begin(OpClass::Len)
            .map_err(|r| r.into_error(Operation::Len))?;
        Ok(state.volatile.len() as u64)
    }
}
