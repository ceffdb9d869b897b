//! Model test: random appends (both durabilities), flushes, truncations, clean reopens and
//! crashes, against a `Vec` of records with a durable watermark. Each case is plain or
//! encrypted.

mod common;

use std::sync::Arc;

use common::{AtRest, WalAtRest};
use folio_io::{CrashPolicy, SimDirectory};
use folio_wal::{Durability, Error, Lsn, Wal, WalOptions};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Append { len: usize, immediate: bool },
    Flush,
    Truncate { fraction: u8 },
    Reopen,
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0usize..9000, any::<bool>()).prop_map(|(len, immediate)| Op::Append { len, immediate }),
        1 => Just(Op::Flush),
        1 => any::<u8>().prop_map(|fraction| Op::Truncate { fraction }),
        1 => Just(Op::Reopen),
        1 => Just(Op::Crash),
    ]
}

fn options(at_rest: AtRest) -> WalOptions {
    at_rest.apply(WalOptions {
        segment_bytes: 64 * 1024,
        sync_interval: None,
        ..WalOptions::default()
    })
}

fn payload(lsn: Lsn, len: usize) -> Vec<u8> {
    (0..len).map(|i| (lsn as usize * 7 + i) as u8).collect()
}

struct Model {
    /// Every record that should be readable, from the oldest kept.
    records: Vec<(Lsn, Vec<u8>)>,
    /// Records up to here survive a crash.
    durable: Lsn,
    /// The oldest LSN a reader may ask for.
    oldest: Lsn,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]
    #[test]
    fn log_matches_model(
        seed in any::<u64>(),
        encrypted in any::<bool>(),
        ops in prop::collection::vec(op(), 1..60),
    ) {
        let options = || options(if encrypted { AtRest::Encrypted } else { AtRest::Plain });
        let mut device = SimDirectory::new(seed);
        let (mut wal, _) = Wal::open(Arc::new(device.clone()), options()).unwrap();
        let mut model = Model { records: Vec::new(), durable: 0, oldest: 1 };
        for op in ops {
            match op {
                Op::Append { len, immediate } => {
                    let durability = if immediate { Durability::Immediate } else { Durability::Eventual };
                    let expected = model.records.last().map_or(model.oldest, |(l, _)| l + 1);
                    let lsn = wal.append(&payload(expected, len), durability).unwrap();
                    prop_assert_eq!(lsn, expected);
                    model.records.push((lsn, payload(lsn, len)));
                    if immediate {
                        model.durable = lsn;
                    }
                }
                Op::Flush => {
                    model.durable = wal.flush().unwrap();
                }
                Op::Truncate { fraction } => {
                    let Some(&(last, _)) = model.records.last() else { continue };
                    let below = model.oldest + (last - model.oldest) * Lsn::from(fraction) / 255;
                    wal.truncate_below(below).unwrap();
                    // Whole segments go: the oldest kept is at or below `below`.
                    let oldest = wal.stats().oldest_lsn;
                    prop_assert!(oldest <= below.max(model.oldest));
                    model.records.retain(|(l, _)| *l >= oldest);
                    model.oldest = oldest;
                    if oldest > 1 {
                        let truncated = matches!(wal.read_from(oldest - 1), Err(Error::Truncated { .. }));
                        prop_assert!(truncated, "reading below the oldest LSN must fail");
                    }
                }
                Op::Reopen => {
                    wal.close().unwrap();
                    model.durable = model.records.last().map_or(model.durable, |(l, _)| *l);
                    device = device.crash(CrashPolicy::DropUnsynced);
                    wal = Wal::open(Arc::new(device.clone()), options()).unwrap().0;
                }
                Op::Crash => {
                    // Power cut with the log open: unsynced records may survive or not.
                    let rebooted = device.crash(CrashPolicy::Random);
                    drop(wal); // its closing flush fails on the dead device
                    device = rebooted;
                    wal = Wal::open(Arc::new(device.clone()), options()).unwrap().0;
                    let recovered = wal.last_lsn();
                    prop_assert!(recovered >= model.durable, "durable record lost");
                    model.records.retain(|(l, _)| *l <= recovered);
                    model.durable = recovered;
                }
            }
            let read: Vec<(Lsn, Vec<u8>)> = wal.read_from(model.oldest).unwrap().collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(&read, &model.records);
        }
    }
}
