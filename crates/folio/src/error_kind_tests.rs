//! Every error variant, of this crate and of the layers below, against the [`ErrorKind`] it
//! must report. A table, so a fallback arm in `Error::kind` can never misfile a variant
//! silently: `facade_variant_name` matches this crate's `Error` exhaustively (a new variant
//! does not compile until it is added here), and the lower layers' variants are listed one by
//! one.

use std::path::PathBuf;

use folio_io::{LockHolder, Operation};
use folio_pagestore::PageId;

use crate::error::{
    Error, ErrorKind, PageStoreError, StorageError, TreeError, WalError, WalRecoveryError,
};
use crate::typed::CodecError;

/// The facade's own variants, matched without a wildcard.
fn facade_variant_name(error: &Error) -> &'static str {
    match error {
        Error::Storage(_) => "Storage",
        Error::PageStore(_) => "PageStore",
        Error::Wal(_) => "Wal",
        Error::Tree(_) => "Tree",
        Error::Closed => "Closed",
        Error::Busy { .. } => "Busy",
        Error::WouldDeadlock { .. } => "WouldDeadlock",
        Error::ColumnFamilyNotFound { .. } => "ColumnFamilyNotFound",
        Error::ColumnFamilyExists { .. } => "ColumnFamilyExists",
        Error::NotInTransaction { .. } => "NotInTransaction",
        Error::ForeignSavepoint => "ForeignSavepoint",
        Error::Codec { .. } => "Codec",
        Error::ColumnFamilyDropped { .. } => "ColumnFamilyDropped",
        Error::CorruptLogRecord { .. } => "CorruptLogRecord",
        Error::LogBehindData { .. } => "LogBehindData",
        Error::LogMissing { .. } => "LogMissing",
        Error::CommitFailed { .. } => "CommitFailed",
        Error::BackupTargetExists { .. } => "BackupTargetExists",
        Error::InvalidOption { .. } => "InvalidOption",
        Error::CorruptRoots { .. } => "CorruptRoots",
        Error::Conflict { .. } => "Conflict",
        Error::NotACounter { .. } => "NotACounter",
        Error::MergeFailed { .. } => "MergeFailed",
        Error::ChangesTruncated { .. } => "ChangesTruncated",
        Error::ChangesAhead { .. } => "ChangesAhead",
        Error::SubscriberNotFound { .. } => "SubscriberNotFound",
        Error::CorruptSubscribers { .. } => "CorruptSubscribers",
        Error::BackupChain { .. } => "BackupChain",
    }
}

fn name(s: &str) -> String {
    s.to_owned()
}

/// `EIO`, `ENOSPC` and `ENOENT` (the same numbers on Linux and the BSDs).
const EIO: i32 = 5;
const ENOENT: i32 = 2;
const ENOSPC: i32 = 28;

fn io_error(code: i32) -> StorageError {
    StorageError::Io {
        op: Operation::Write,
        path: None,
        source: std::io::Error::from_raw_os_error(code),
    }
}

fn storage_cases() -> Vec<(StorageError, ErrorKind)> {
    vec![
        (io_error(EIO), ErrorKind::Io),
        (io_error(ENOSPC), ErrorKind::NoSpace),
        (io_error(ENOENT), ErrorKind::NotFound),
        (
            StorageError::AlreadyOpen {
                path: PathBuf::from("db"),
                holder: LockHolder::Elsewhere,
            },
            ErrorKind::AlreadyOpen,
        ),
        (
            StorageError::NotADirectory {
                path: PathBuf::from("db"),
            },
            ErrorKind::InvalidInput,
        ),
        (
            StorageError::ReadOnly {
                op: Operation::Write,
            },
            ErrorKind::InvalidInput,
        ),
        (
            StorageError::ReadPastEnd {
                offset: 8192,
                len: 4096,
                storage_len: 4096,
            },
            ErrorKind::Corruption,
        ),
        (StorageError::Crashed, ErrorKind::Io),
    ]
}

fn page_store_cases() -> Vec<(PageStoreError, ErrorKind)> {
    let reason = || name("checksum mismatch");
    vec![
        (
            PageStoreError::Storage(StorageError::Crashed),
            ErrorKind::Io,
        ),
        (
            PageStoreError::CorruptPage {
                page: PageId(7),
                reason: reason(),
            },
            ErrorKind::Corruption,
        ),
        (PageStoreError::KeyRequired, ErrorKind::EncryptionKey),
        (PageStoreError::WrongKey, ErrorKind::EncryptionKey),
        (PageStoreError::NotEncrypted, ErrorKind::EncryptionKey),
        (
            PageStoreError::Encryption(name("no randomness")),
            ErrorKind::Io,
        ),
        (
            PageStoreError::CorruptHeader { reason: reason() },
            ErrorKind::Corruption,
        ),
        (PageStoreError::NotAFolioFile, ErrorKind::Incompatible),
        (
            PageStoreError::NewerFormat {
                found: 9,
                supported: 1,
            },
            ErrorKind::Incompatible,
        ),
        (
            PageStoreError::Truncated {
                len: 4096,
                expected: 8192,
            },
            ErrorKind::Corruption,
        ),
        (
            PageStoreError::AllocatorInvariant {
                what: name("page freed twice"),
            },
            ErrorKind::Corruption,
        ),
        (
            PageStoreError::NotEmpty { len: 10 },
            ErrorKind::InvalidInput,
        ),
        (
            PageStoreError::InvalidOption {
                name: "cache_bytes",
                reason: name("too small"),
            },
            ErrorKind::InvalidInput,
        ),
        (
            PageStoreError::RootsTooLarge { len: 10, max: 5 },
            ErrorKind::InvalidInput,
        ),
        (
            PageStoreError::PageOutOfRange {
                page: PageId(u64::MAX),
                high_water: 3,
            },
            ErrorKind::Corruption,
        ),
        (PageStoreError::Poisoned, ErrorKind::Poisoned),
        (PageStoreError::Closed, ErrorKind::Closed),
        (
            PageStoreError::VersionRegressed {
                requested: 1,
                durable: 2,
            },
            ErrorKind::Corruption,
        ),
        (
            PageStoreError::VersionReused {
                requested: 1,
                floor: 2,
            },
            ErrorKind::Corruption,
        ),
    ]
}

fn wal_cases() -> Vec<(WalError, ErrorKind)> {
    let segment = || name("00000001.log");
    let reason = || name("checksum mismatch");
    vec![
        (WalError::Storage(io_error(ENOSPC)), ErrorKind::NoSpace),
        (
            WalError::Poisoned {
                cause: name("sync failed"),
            },
            ErrorKind::Poisoned,
        ),
        (
            WalError::Refused {
                cause: name("no space"),
                no_space: true,
            },
            ErrorKind::NoSpace,
        ),
        (
            WalError::Refused {
                cause: name("EIO"),
                no_space: false,
            },
            ErrorKind::Io,
        ),
        (WalError::Closed, ErrorKind::Closed),
        (WalError::Encryption(name("no randomness")), ErrorKind::Io),
        (
            WalError::RecordTooLarge { len: 10, max: 5 },
            ErrorKind::InvalidInput,
        ),
        (
            WalError::Truncated {
                requested: 1,
                oldest: 5,
            },
            ErrorKind::Corruption,
        ),
        (
            WalError::BeyondEnd {
                requested: 9,
                last: 5,
            },
            ErrorKind::Corruption,
        ),
        (
            WalError::InvalidOption {
                name: "segment_bytes",
                reason: name("too small"),
            },
            ErrorKind::InvalidInput,
        ),
        (
            WalError::Recovery(WalRecoveryError::CorruptRecord {
                lsn: 3,
                segment: segment(),
                offset: 64,
                reason: reason(),
                witness: 4,
            }),
            ErrorKind::Corruption,
        ),
        (
            WalError::Recovery(WalRecoveryError::CorruptSealedSegment {
                lsn: 3,
                segment: segment(),
                offset: 64,
                reason: reason(),
                next_segment: segment(),
            }),
            ErrorKind::Corruption,
        ),
        (
            WalError::Recovery(WalRecoveryError::CorruptSegmentHeader {
                segment: segment(),
                reason: reason(),
            }),
            ErrorKind::Corruption,
        ),
        (
            WalError::Recovery(WalRecoveryError::Gap {
                segment: segment(),
                expected: 3,
                found: 9,
            }),
            ErrorKind::Corruption,
        ),
        (
            WalError::Recovery(WalRecoveryError::NewerFormat {
                segment: segment(),
                found: 9,
                supported: 1,
            }),
            ErrorKind::Incompatible,
        ),
    ]
}

fn tree_cases() -> Vec<(TreeError, ErrorKind)> {
    vec![
        (
            TreeError::PageStore(PageStoreError::WrongKey),
            ErrorKind::EncryptionKey,
        ),
        (
            TreeError::CorruptNode {
                page: PageId(3),
                reason: name("slot past the end"),
            },
            ErrorKind::Corruption,
        ),
        (
            TreeError::KeyTooLarge { len: 10, max: 5 },
            ErrorKind::InvalidInput,
        ),
        (
            TreeError::ValueTooLarge { len: 10, max: 5 },
            ErrorKind::InvalidInput,
        ),
        (
            TreeError::ColumnFamilyExists { name: name("a") },
            ErrorKind::AlreadyExists,
        ),
        (
            TreeError::ColumnFamilyNotFound { name: name("a") },
            ErrorKind::NotFound,
        ),
        (TreeError::UncommittedChanges, ErrorKind::InvalidInput),
        (
            TreeError::InvalidName {
                reason: name("empty"),
            },
            ErrorKind::InvalidInput,
        ),
    ]
}

/// The errors of concurrent transactions and counters.
fn transaction_cases() -> Vec<(Error, ErrorKind)> {
    vec![
        (
            Error::Conflict {
                cf: name("orders"),
                keys: vec![b"k".to_vec()],
            },
            ErrorKind::Conflict,
        ),
        (
            Error::NotACounter {
                cf: name("orders"),
                key: b"k".to_vec(),
                reason: name("3 bytes"),
            },
            ErrorKind::InvalidInput,
        ),
        (
            Error::MergeFailed {
                cf: name("orders"),
                key: b"k".to_vec(),
                reason: name("refused"),
            },
            ErrorKind::InvalidInput,
        ),
    ]
}

/// The change feed's variants.
fn change_feed_cases() -> Vec<(Error, ErrorKind)> {
    vec![
        (
            Error::ChangesTruncated {
                after: 10,
                oldest: 200,
            },
            ErrorKind::Truncated,
        ),
        (
            Error::ChangesAhead {
                after: 900,
                published: 20,
            },
            ErrorKind::InvalidInput,
        ),
        (
            Error::SubscriberNotFound {
                name: name("mirror"),
            },
            ErrorKind::NotFound,
        ),
        (
            Error::CorruptSubscribers {
                reason: name("checksum mismatch"),
            },
            ErrorKind::Corruption,
        ),
        (
            Error::BackupChain {
                increment: 3,
                reason: name("the increment is missing"),
            },
            ErrorKind::Corruption,
        ),
    ]
}

fn facade_cases() -> Vec<(Error, ErrorKind)> {
    let cf = || name("orders");
    let mut cases = vec![
        (Error::Closed, ErrorKind::Closed),
        (Error::Busy { cf: cf() }, ErrorKind::Busy),
        (Error::WouldDeadlock { cf: cf() }, ErrorKind::WouldDeadlock),
        (
            Error::ColumnFamilyNotFound { name: cf() },
            ErrorKind::NotFound,
        ),
        (
            Error::ColumnFamilyExists { name: cf() },
            ErrorKind::AlreadyExists,
        ),
        (
            Error::NotInTransaction { name: cf() },
            ErrorKind::InvalidInput,
        ),
        (Error::ForeignSavepoint, ErrorKind::InvalidInput),
        (
            Error::Codec {
                cf: cf(),
                expected: "u64",
                source: CodecError::new("u64", "wrong length"),
            },
            ErrorKind::InvalidInput,
        ),
        (
            Error::ColumnFamilyDropped { name: cf() },
            ErrorKind::NotFound,
        ),
        (
            Error::CorruptLogRecord {
                lsn: 3,
                reason: name("unknown tag"),
            },
            ErrorKind::Corruption,
        ),
        (
            Error::LogBehindData {
                wal_last: 3,
                checkpoint: 9,
            },
            ErrorKind::Corruption,
        ),
        (
            Error::LogMissing {
                checkpoint: 3,
                oldest_lsn: 9,
                oldest_segment: name("00000009.log"),
            },
            ErrorKind::Corruption,
        ),
        (
            Error::CommitFailed {
                reason: name("sync failed"),
                kind: ErrorKind::Poisoned,
            },
            ErrorKind::Poisoned,
        ),
        (
            Error::BackupTargetExists {
                path: PathBuf::from("backup"),
            },
            ErrorKind::AlreadyExists,
        ),
        (
            Error::InvalidOption {
                name: "cache_bytes",
                reason: name("too small"),
            },
            ErrorKind::InvalidInput,
        ),
        (
            Error::CorruptRoots {
                reason: name("bad magic"),
            },
            ErrorKind::Corruption,
        ),
    ];
    cases.extend(transaction_cases());
    cases.extend(change_feed_cases());
    cases.extend(
        storage_cases()
            .into_iter()
            .map(|(e, k)| (Error::Storage(e), k)),
    );
    cases.extend(
        page_store_cases()
            .into_iter()
            .map(|(e, k)| (Error::PageStore(e), k)),
    );
    cases.extend(wal_cases().into_iter().map(|(e, k)| (Error::Wal(e), k)));
    cases.extend(tree_cases().into_iter().map(|(e, k)| (Error::Tree(e), k)));
    cases
}

#[test]
fn every_error_reports_its_kind() {
    let cases = facade_cases();
    let mut wrong = Vec::new();
    for (error, expected) in &cases {
        if error.kind() != *expected {
            wrong.push(format!(
                "{} ({error}): {:?}, expected {expected:?}",
                facade_variant_name(error),
                error.kind()
            ));
        }
    }
    assert!(wrong.is_empty(), "misfiled errors:\n{}", wrong.join("\n"));
    // Every facade variant appears in the table.
    let named: std::collections::BTreeSet<_> =
        cases.iter().map(|(e, _)| facade_variant_name(e)).collect();
    assert_eq!(
        named.len(),
        28,
        "a facade variant is missing from the table: {named:?}"
    );
}

#[test]
fn a_key_mistake_is_not_reported_as_corruption() {
    for error in [
        PageStoreError::KeyRequired,
        PageStoreError::WrongKey,
        PageStoreError::NotEncrypted,
    ] {
        let error = Error::from(error);
        assert!(!error.is_corruption(), "{error} reads as corruption");
        assert_eq!(error.kind(), ErrorKind::EncryptionKey);
    }
}
