//! Fault rules: which operation fails, how, and for how long.

use std::io;

/// The error an injected fault returns; the `errno` values are those a real disk returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// `EIO`: a media or transport error.
    Io,
    /// `ENOSPC`: the device is full.
    NoSpace,
}

impl FaultKind {
    pub(crate) fn to_io_error(self) -> io::Error {
        let errno = match self {
            FaultKind::Io => nix::libc::EIO,
            FaultKind::NoSpace => nix::libc::ENOSPC,
        };
        io::Error::from_raw_os_error(errno)
    }
}

/// Which operations a [`FaultRule`] counts and fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultOps {
    /// Every operation, reads and `len` included.
    Any,
    /// Reads only.
    Reads,
    /// Writes, `allocate` and `set_len`: everything that changes the bytes or the length.
    Mutations,
    /// `sync_data` only: a failed sync.
    Syncs,
}

/// Fail the `nth` (0-based) operation matching `ops`, counted from when the rule is installed,
/// with `kind`; once, or that one and every matching one after it when `persistent`.
///
/// A failed write changes nothing. A failed sync behaves like Linux after a writeback error:
/// the writes it should have made durable are dropped from the unsynced list (reads still see
/// them, but no later sync will persist them and a crash loses them), which is why a failed
/// sync must poison every layer above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultRule {
    /// The error returned.
    pub kind: FaultKind,
    /// Which operations count.
    pub ops: FaultOps,
    /// Index of the first failing operation among those counted.
    pub nth: u64,
    /// Keep failing every later matching operation.
    pub persistent: bool,
}

impl FaultRule {
    /// Fail the `nth` operation of any kind once with `EIO`.
    pub fn io_once(nth: u64) -> Self {
        Self {
            kind: FaultKind::Io,
            ops: FaultOps::Any,
            nth,
            persistent: false,
        }
    }

    /// Fail the `nth` operation of any kind and every one after it with `kind`.
    pub fn from_nth(nth: u64, kind: FaultKind) -> Self {
        Self {
            kind,
            ops: FaultOps::Any,
            nth,
            persistent: true,
        }
    }

    /// Fail the `nth` sync once.
    pub fn sync_once(nth: u64) -> Self {
        Self {
            kind: FaultKind::Io,
            ops: FaultOps::Syncs,
            nth,
            persistent: false,
        }
    }

    /// The device is full from the `nth` mutation (write, allocate, set length) on.
    pub fn full_from(nth: u64) -> Self {
        Self {
            kind: FaultKind::NoSpace,
            ops: FaultOps::Mutations,
            nth,
            persistent: true,
        }
    }
}

/// The kind of operation being served, for matching rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpClass {
    Read,
    Mutation,
    Sync,
    Len,
}

/// An installed rule and how many matching operations it has seen.
#[derive(Debug)]
pub(crate) struct ActiveFault {
    pub(crate) rule: FaultRule,
    pub(crate) seen: u64,
    pub(crate) fired: bool,
}

impl ActiveFault {
    pub(crate) fn new(rule: FaultRule) -> Self {
        Self {
            rule,
            seen: 0,
            fired: false,
        }
    }

    /// Counts one operation; returns the fault if this one must fail.
    pub(crate) fn check(&mut self, class: OpClass) -> Option<FaultKind> {
        let matches = match self.rule.ops {
            FaultOps::Any => true,
            FaultOps::Reads => class == OpClass::Read,
            FaultOps::Mutations => class == OpClass::Mutation,
            FaultOps::Syncs => class == OpClass::Sync,
        };
        if !matches {
            return None;
        }
        let index = self.seen;
        self.seen += 1;
        let fails = if self.rule.persistent {
            index >= self.rule.nth
        } else {
            index == self.rule.nth
        };
        if fails {
            self.fired = true;
            Some(self.rule.kind)
        } else {
            None
        }
    }
}
