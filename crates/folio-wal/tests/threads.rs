//! Many appenders on a real directory: every record lands exactly once, in LSN order, and
//! group commit shares syncs between them.

use std::collections::BTreeSet;
use std::sync::Arc;

use folio_io::FsDirectory;
use folio_wal::{Durability, Wal, WalOptions};

fn appenders(threads: u64, per_thread: u64) {
    let dir = tempfile::tempdir().unwrap();
    let directory = Arc::new(FsDirectory::open(dir.path()).unwrap());
    let options = WalOptions {
        segment_bytes: 256 * 1024,
        ..WalOptions::default()
    };
    let (wal, _) = Wal::open(directory.clone(), options.clone()).unwrap();
    let lsns: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let wal = &wal;
                scope.spawn(move || {
                    (0..per_thread)
                        .map(|seq| {
                            let mut record = thread.to_le_bytes().to_vec();
                            record.extend_from_slice(&seq.to_le_bytes());
                            record.resize(100, thread as u8);
                            let lsn = wal.append(&record, Durability::Immediate).unwrap();
                            assert!(wal.durable_lsn() >= lsn);
                            lsn
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let total = threads * per_thread;
    let unique: BTreeSet<u64> = lsns.iter().copied().collect();
    assert_eq!(unique, (1..=total).collect(), "each append got its own LSN");
    let stats = wal.stats();
    assert_eq!(stats.commit.records, total);
    assert!(stats.commit.syncs <= total);
    assert_eq!(
        stats.commit.group_sizes.iter().sum::<u64>(),
        stats.commit.writes
    );
    wal.close().unwrap();

    let (wal, report) = Wal::open(directory, options).unwrap();
    assert_eq!(report.records, total);
    let mut next_seq = vec![0u64; threads as usize];
    for record in wal.read_from(1).unwrap() {
        let (_, payload) = record.unwrap();
        let thread = u64::from_le_bytes(payload[..8].try_into().unwrap()) as usize;
        let seq = u64::from_le_bytes(payload[8..16].try_into().unwrap());
        assert_eq!(
            seq, next_seq[thread],
            "thread {thread}'s records out of order"
        );
        next_seq[thread] += 1;
    }
    assert!(next_seq.iter().all(|&n| n == per_thread));
}

#[test]
fn eight_appenders() {
    appenders(8, 100);
}

#[test]
fn thirty_two_appenders() {
    appenders(32, 40);
}
