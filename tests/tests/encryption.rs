//! Encryption at rest, the way a user meets it: nothing readable in the files, typed errors
//! for a wrong or missing key (and the files untouched by the refused open), tampering
//! detected, key rotation by backup, compression and encryption together.

use std::collections::BTreeMap;
use std::path::Path;

use folio::{Compression, Database, DatabaseOptions, EncryptionKey, Error, PageStoreError};
use folio_tests::{AtRest, AtRestOptions, test_key};

const MARKER: &[u8] = b"CONFIDENTIAL-PATIENT-RECORD";

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn value(i: u32) -> Vec<u8> {
    let mut v = MARKER.to_vec();
    v.extend_from_slice(format!(" number {i} with some padding text").as_bytes());
    v
}

fn write_some(options: DatabaseOptions, dir: &Path, checkpoint: bool) {
    let db = Database::open_with(
        dir,
        DatabaseOptions {
            checkpoint_on_close: checkpoint,
            ..options
        },
    )
    .unwrap();
    db.create_cf("secrets").unwrap();
    for batch in 0..4u32 {
        let mut txn = db.begin_write(&["secrets"]).unwrap();
        for i in 0..200 {
            let n = batch * 200 + i;
            txn.put("secrets", &n.to_be_bytes(), &value(n)).unwrap();
        }
        txn.commit().unwrap();
    }
}

fn check_all(db: &Database) {
    let read = db.begin_read();
    assert_eq!(read.len("secrets").unwrap(), 800);
    for n in 0..800u32 {
        assert_eq!(
            &*read.get("secrets", &n.to_be_bytes()).unwrap().unwrap(),
            &value(n)[..]
        );
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn nothing_readable_in_the_data_file_or_the_log() {
    for checkpoint in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        write_some(AtRest::Encrypted.small_options(), dir.path(), checkpoint);
        for (name, bytes) in files(dir.path()) {
            assert!(
                !contains(&bytes, MARKER),
                "{name} holds plaintext (checkpoint {checkpoint})"
            );
        }
        let db = Database::open_with(dir.path(), AtRest::Encrypted.small_options()).unwrap();
        check_all(&db);
        // The same data plain does show up: the check above can fail.
        let plain = tempfile::tempdir().unwrap();
        write_some(AtRest::Plain.small_options(), plain.path(), checkpoint);
        assert!(
            files(plain.path())
                .values()
                .any(|bytes| contains(bytes, MARKER))
        );
    }
}

#[test]
fn wrong_missing_or_unexpected_keys_are_typed_errors_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write_some(AtRest::Encrypted.small_options(), dir.path(), false);
    let before = files(dir.path());
    let wrong = DatabaseOptions {
        encryption_key: Some(EncryptionKey::from_bytes([1; 32])),
        ..folio_tests::small_options()
    };
    let error = Database::open_with(dir.path(), wrong).unwrap_err();
    assert!(
        matches!(error, Error::PageStore(PageStoreError::WrongKey)),
        "{error}"
    );
    let error = Database::open_with(dir.path(), folio_tests::small_options()).unwrap_err();
    assert!(
        matches!(error, Error::PageStore(PageStoreError::KeyRequired)),
        "{error}"
    );
    assert_eq!(
        files(dir.path()),
        before,
        "a refused open changed the files"
    );
    // The log held unreplayed commits: the right key still finds them all.
    check_all(&Database::open_with(dir.path(), AtRest::Encrypted.small_options()).unwrap());

    let plain = tempfile::tempdir().unwrap();
    write_some(AtRest::Plain.small_options(), plain.path(), true);
    let before = files(plain.path());
    let error = Database::open_with(plain.path(), AtRest::Encrypted.small_options()).unwrap_err();
    assert!(
        matches!(error, Error::PageStore(PageStoreError::NotEncrypted)),
        "{error}"
    );
    assert_eq!(files(plain.path()), before);
}

#[test]
fn tampered_or_moved_pages_are_errors_never_wrong_data() {
    let dir = tempfile::tempdir().unwrap();
    write_some(AtRest::Encrypted.small_options(), dir.path(), true);
    // Only pages the tree reaches: damage to a free page is nothing a read could see, and a
    // test that damaged one could pass detecting nothing.
    let reachable: Vec<usize> = {
        let db = Database::open_with(dir.path(), AtRest::Encrypted.small_options()).unwrap();
        let ids = db
            .begin_read()
            .tree("secrets")
            .unwrap()
            .verify()
            .unwrap()
            .page_ids;
        ids.into_iter()
            .map(|id| usize::try_from(id).unwrap())
            .collect()
    };
    assert!(reachable.len() >= 2, "{reachable:?}");
    let path = dir.path().join(folio::DATA_FILE);
    let original = std::fs::read(&path).unwrap();
    let page = 4096;
    let first_page = 2 * 4096;
    let offset = |id: usize| first_page + id * page;
    // Swap two pages whole (each is authentic, but bound to its own id), then flip bits.
    let mut swapped = original.clone();
    let (a, b) = (offset(reachable[0]), offset(reachable[1]));
    let page_a = original[a..a + page].to_vec();
    swapped[a..a + page].copy_from_slice(&original[b..b + page]);
    swapped[b..b + page].copy_from_slice(&page_a);
    let mut damaged = vec![("swap".to_owned(), swapped)];
    for &id in reachable.iter().take(24) {
        let mut copy = original.clone();
        copy[offset(id) + 100] ^= 0x10;
        damaged.push((format!("bit flip in page {id}"), copy));
    }
    for (what, bytes) in damaged {
        std::fs::write(&path, &bytes).unwrap();
        let db = match Database::open_with(dir.path(), AtRest::Encrypted.small_options()) {
            Ok(db) => db,
            Err(error) => {
                assert!(error.is_corruption(), "{what}: open failed with {error}");
                continue;
            }
        };
        let read = db.begin_read();
        let mut detected = false;
        for n in 0..800u32 {
            match read.get("secrets", &n.to_be_bytes()) {
                Ok(Some(got)) => assert_eq!(&*got, &value(n)[..], "{what}: wrong data, never"),
                Ok(None) => panic!("{what}: entry {n} silently missing"),
                Err(error) => {
                    assert!(error.is_corruption(), "{what}: {error}");
                    detected = true;
                }
            }
        }
        assert!(
            detected,
            "{what}: a damaged reachable page was never noticed"
        );
    }
    std::fs::write(&path, &original).unwrap();
    check_all(&Database::open_with(dir.path(), AtRest::Encrypted.small_options()).unwrap());
}

#[test]
fn key_rotation_by_backup_and_compression_with_encryption() {
    let dir = tempfile::tempdir().unwrap();
    let options = DatabaseOptions {
        compression: folio::CompressionOptions {
            default: Some(Compression::Zstd { level: 3 }),
            ..Default::default()
        },
        ..AtRest::Encrypted.small_options()
    };
    write_some(options.clone(), dir.path(), true);
    let db = Database::open_with(dir.path(), options).unwrap();
    check_all(&db);
    let new_key = EncryptionKey::from_bytes([9; 32]);
    let rotated = dir.path().join("rotated");
    db.backup_to_with_key(&rotated, Some(new_key.clone()), |_| {})
        .unwrap();
    let same_key = dir.path().join("same-key");
    db.backup_to(&same_key).unwrap();
    drop(db);
    let old = Database::open_with(&rotated, AtRest::Encrypted.small_options()).unwrap_err();
    assert!(
        matches!(old, Error::PageStore(PageStoreError::WrongKey)),
        "{old}"
    );
    let with_new = DatabaseOptions {
        encryption_key: Some(new_key),
        ..folio_tests::small_options()
    };
    check_all(&Database::open_with(&rotated, with_new).unwrap());
    // A plain backup_to of an encrypted database stays encrypted under the same key.
    assert!(Database::open_with(&same_key, folio_tests::small_options()).is_err());
    check_all(
        &Database::open_with(
            &same_key,
            DatabaseOptions {
                encryption_key: Some(test_key()),
                ..folio_tests::small_options()
            },
        )
        .unwrap(),
    );
}

#[test]
fn a_key_for_only_the_data_file_or_only_the_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = folio_tests::small_options();
    options.page_store.encryption_key = Some(test_key());
    let error = Database::open_with(dir.path(), options).unwrap_err();
    assert!(
        matches!(
            error,
            Error::InvalidOption {
                name: "encryption_key",
                ..
            }
        ),
        "{error}"
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing created"
    );
}

/// An attacker who knows the format can change a page's ciphertext and recompute its
/// checksum (checksums are not secret): the authentication tag still refuses the page.
#[test]
fn a_forged_checksum_does_not_get_a_changed_page_past_authentication() {
    let dir = tempfile::tempdir().unwrap();
    write_some(AtRest::Encrypted.small_options(), dir.path(), true);
    let path = dir.path().join(folio::DATA_FILE);
    let original = std::fs::read(&path).unwrap();
    let (page, first_page) = (4096usize, 2 * 4096usize);
    let pages = (original.len() - first_page) / page;
    let mut refused = 0;
    for i in 0..pages {
        let at = first_page + i * page;
        let mut forged = original.clone();
        forged[at + 100] ^= 0x01; // inside the ciphertext
        let split = at + page - 8;
        let checksum = xxhash_rust::xxh3::xxh3_64_with_seed(&forged[at..split], i as u64);
        forged[split..at + page].copy_from_slice(&checksum.to_le_bytes());
        std::fs::write(&path, &forged).unwrap();
        let Ok(db) = Database::open_with(dir.path(), AtRest::Encrypted.small_options()) else {
            refused += 1;
            continue;
        };
        let read = db.begin_read();
        let mut failed = false;
        for n in 0..800u32 {
            match read.get("secrets", &n.to_be_bytes()) {
                Ok(Some(got)) => assert_eq!(&*got, &value(n)[..], "page {i}: wrong data"),
                Ok(None) => panic!("page {i}: entry {n} silently missing"),
                Err(_) => failed = true,
            }
        }
        if failed {
            refused += 1;
        }
    }
    std::fs::write(&path, &original).unwrap();
    assert!(
        refused >= pages / 2,
        "only {refused} of {pages} forged pages were refused"
    );
}
