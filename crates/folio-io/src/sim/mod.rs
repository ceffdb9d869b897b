//! [`SimStorage`]: a deterministic, fault-injecting simulated disk.
//!
//! It keeps the *durable* image (what survives a power cut) apart from the *volatile* view
//! (what reads see) and the list of unsynced operations between them. Tests use it to crash at
//! any instant, to fail chosen operations, and to corrupt stored bytes.

mod counts;
mod crash;
mod directory;
mod disk;
mod fault;
mod sweep;

pub use counts::OpCounts;
pub use crash::CrashPolicy;
pub use directory::SimDirectory;
pub use disk::{SECTOR_BYTES, SimStorage};
pub use fault::{FaultKind, FaultOps, FaultRule};
pub use sweep::{SweepReport, crash_seeds, sweep_power_cuts};
