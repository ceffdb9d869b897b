//! The real-file backend: positional I/O, growth, locking and the descriptor pool.

use std::io::IoSlice;
use std::num::NonZeroUsize;

use folio_io::{Error, FileOptions, FileStorage, Operation, Storage};

#[test]
fn vectored_writes_and_reads_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let file = FileStorage::open(dir.path().join("f")).unwrap();
    let parts: Vec<Vec<u8>> = (0..3000u32).map(|i| i.to_le_bytes().to_vec()).collect();
    let slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
    file.write_all_vectored_at(&slices, 100).unwrap(); // > IOV_MAX buffers
    file.sync_data().unwrap();
    let mut buf = vec![0u8; 3000 * 4];
    file.read_exact_at(&mut buf, 100).unwrap();
    for (i, chunk) in buf.chunks(4).enumerate() {
        assert_eq!(u32::from_le_bytes(chunk.try_into().unwrap()), i as u32);
    }
    assert_eq!(file.len().unwrap(), 100 + 12_000);
}

#[test]
fn reading_past_the_end_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = FileStorage::open(dir.path().join("f")).unwrap();
    file.write_all_at(b"short", 0).unwrap();
    let err = file.read_exact_at(&mut [0u8; 10], 0).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ReadPastEnd {
                offset: 0,
                len: 10,
                storage_len: 5
            }
        ),
        "{err}"
    );
}

#[test]
fn allocate_grows_and_never_shrinks() {
    let dir = tempfile::tempdir().unwrap();
    let file = FileStorage::open(dir.path().join("f")).unwrap();
    file.allocate(1 << 20).unwrap();
    assert_eq!(file.len().unwrap(), 1 << 20);
    file.allocate(4096).unwrap();
    assert_eq!(file.len().unwrap(), 1 << 20);
    let mut buf = [1u8; 16];
    file.read_exact_at(&mut buf, (1 << 20) - 16).unwrap();
    assert_eq!(buf, [0u8; 16], "preallocated space reads as zeros");
    file.set_len(10).unwrap();
    assert_eq!(file.len().unwrap(), 10);
}

#[test]
fn second_writer_gets_already_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    let first = FileStorage::open(&path).unwrap();
    let err = FileStorage::open(&path).unwrap_err();
    assert!(matches!(err, Error::AlreadyOpen { .. }), "{err}");
    assert!(err.to_string().contains("already open"));
    let read_only = FileOptions {
        read_only: true,
        ..FileOptions::default()
    };
    assert!(matches!(
        FileStorage::open_with(&path, &read_only),
        Err(Error::AlreadyOpen { .. })
    ));
    drop(first);
    FileStorage::open(&path).unwrap();
}

#[test]
fn readers_share_and_refuse_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    FileStorage::open(&path)
        .unwrap()
        .write_all_at(b"hello", 0)
        .unwrap();
    let options = FileOptions {
        read_only: true,
        ..FileOptions::default()
    };
    let reader_a = FileStorage::open_with(&path, &options).unwrap();
    let reader_b = FileStorage::open_with(&path, &options).unwrap();
    let mut buf = [0u8; 5];
    reader_b.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"hello");
    assert!(matches!(
        reader_a.write_all_at(b"x", 0),
        Err(Error::ReadOnly {
            op: Operation::Write
        })
    ));
    assert!(matches!(reader_a.sync_data(), Err(Error::ReadOnly { .. })));
    assert!(matches!(
        FileStorage::open(&path),
        Err(Error::AlreadyOpen { .. })
    ));
}

#[test]
fn missing_file_opened_read_only_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let options = FileOptions {
        read_only: true,
        ..FileOptions::default()
    };
    let err = FileStorage::open_with(dir.path().join("missing"), &options).unwrap_err();
    assert!(matches!(
        err,
        Error::Io {
            op: Operation::Open,
            ..
        }
    ));
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn handle_pool_serves_parallel_readers() {
    let dir = tempfile::tempdir().unwrap();
    let options = FileOptions {
        handles: NonZeroUsize::new(4).unwrap(),
        ..FileOptions::default()
    };
    let file = FileStorage::open_with(dir.path().join("f"), &options).unwrap();
    assert_eq!(file.handle_count(), 4);
    let data: Vec<u8> = (0..1 << 16).map(|i| (i % 251) as u8).collect();
    file.write_all_at(&data, 0).unwrap();
    std::thread::scope(|scope| {
        for t in 0..4u64 {
            let file = &file;
            let data = &data;
            scope.spawn(move || {
                for i in 0..200u64 {
                    let offset = (t * 7919 + i * 104_729) % ((1 << 16) - 64);
                    let mut buf = [0u8; 64];
                    file.read_exact_at(&mut buf, offset).unwrap();
                    assert_eq!(&buf[..], &data[offset as usize..offset as usize + 64]);
                }
            });
        }
    });
}

/// Regression (found by `backends_agree`): a write of empty buffers is a no-op, not a
/// "wrote 0 bytes" error.
#[test]
fn empty_writes_are_no_ops() {
    let dir = tempfile::tempdir().unwrap();
    let file = FileStorage::open(dir.path().join("f")).unwrap();
    file.write_all_vectored_at(&[IoSlice::new(&[])], 0).unwrap();
    file.write_all_vectored_at(&[], 10).unwrap();
    file.write_all_vectored_at(
        &[IoSlice::new(&[]), IoSlice::new(b"ab"), IoSlice::new(&[])],
        0,
    )
    .unwrap();
    assert_eq!(file.len().unwrap(), 2);
}
