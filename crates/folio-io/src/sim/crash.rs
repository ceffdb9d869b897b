//! What a crash does to the writes that were not yet synced.

use super::disk::SECTOR_BYTES;

/// What happens to each unsynced operation when [`super::SimStorage::crash`] cuts the power.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPolicy {
    /// Every unsynced write and resize is lost.
    DropUnsynced,
    /// Every unsynced write and resize reached the device, in order.
    KeepUnsynced,
    /// Every unsynced write is torn: each 512-byte sector it touches independently reached
    /// the device or not. Resizes are kept.
    TearUnsynced,
    /// The worst case, chosen per operation by the disk's seeded generator: each unsynced
    /// write or resize is dropped, kept or torn, and the survivors land in a random order (so
    /// an older write to the same sector can win).
    Random,
}

/// An operation issued since the last successful sync.
#[derive(Debug, Clone)]
pub(crate) enum PendingOp {
    Write { offset: u64, data: Vec<u8> },
    SetLen(u64),
}

/// How one pending operation survives a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Dropped,
    Kept,
    Torn,
}

/// Applies `op` fully to `image`.
pub(crate) fn apply(image: &mut Vec<u8>, op: &PendingOp) {
    match op {
        PendingOp::Write { offset, data } => write_into(image, *offset, data),
        PendingOp::SetLen(len) => image.resize(*len as usize, 0),
    }
}

fn write_into(image: &mut Vec<u8>, offset: u64, data: &[u8]) {
    if data.is_empty() {
        return; // as with pwrite, writing nothing never extends the storage
    }
    let start = offset as usize;
    let end = start + data.len();
    if image.len() < end {
        image.resize(end, 0);
    }
    image[start..end].copy_from_slice(data);
}

/// Applies the part of a write that falls in a random subset of its sectors.
fn apply_torn(image: &mut Vec<u8>, offset: u64, data: &[u8], rng: &mut fastrand::Rng) {
    let sector = SECTOR_BYTES as u64;
    let end = offset + data.len() as u64;
    let mut at = offset;
    while at < end {
        let sector_end = ((at / sector) + 1) * sector;
        let piece_end = sector_end.min(end);
        if rng.bool() {
            let from = (at - offset) as usize;
            let to = (piece_end - offset) as usize;
            write_into(image, at, &data[from..to]);
        }
        at = piece_end;
    }
}

/// The durable image after a crash with `policy`, starting from `durable`.
pub(crate) fn crash_image(
    mut durable: Vec<u8>,
    pending: Vec<PendingOp>,
    policy: CrashPolicy,
    rng: &mut fastrand::Rng,
) -> Vec<u8> {
    let mut fated: Vec<(PendingOp, Fate)> = pending
        .into_iter()
        .map(|op| {
            let fate = match policy {
                CrashPolicy::DropUnsynced => Fate::Dropped,
                CrashPolicy::KeepUnsynced => Fate::Kept,
                CrashPolicy::TearUnsynced => Fate::Torn,
                CrashPolicy::Random => match rng.u8(0..3) {
                    0 => Fate::Dropped,
                    1 => Fate::Kept,
                    _ => Fate::Torn,
                },
            };
            (op, fate)
        })
        .collect();
    if policy == CrashPolicy::Random {
        rng.shuffle(&mut fated);
    }
    for (op, fate) in &fated {
        match (op, fate) {
            (_, Fate::Dropped) => {}
            (PendingOp::Write { offset, data }, Fate::Torn) => {
                apply_torn(&mut durable, *offset, data, rng);
            }
            (op, _) => apply(&mut durable, op),
        }
    }
    durable
}
