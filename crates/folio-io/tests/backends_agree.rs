//! Model test: the three backends serve the same random operations identically (the
//! simulated disk without faults or crashes behaves like a file).

use folio_io::{FileStorage, MemoryStorage, SimStorage, Storage};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Write { offset: u64, parts: Vec<Vec<u8>> },
    Read { offset: u64, len: usize },
    Allocate(u64),
    SetLen(u64),
    Sync,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u64..20_000, prop::collection::vec(prop::collection::vec(any::<u8>(), 0..700), 1..5))
            .prop_map(|(offset, parts)| Op::Write { offset, parts }),
        4 => (0u64..25_000, 0usize..3000).prop_map(|(offset, len)| Op::Read { offset, len }),
        1 => (0u64..30_000).prop_map(Op::Allocate),
        1 => (0u64..30_000).prop_map(Op::SetLen),
        1 => Just(Op::Sync),
    ]
}

fn outcome(storage: &dyn Storage, op: &Op) -> Result<Vec<u8>, String> {
    let result = match op {
        Op::Write { offset, parts } => {
            let slices: Vec<_> = parts.iter().map(|p| std::io::IoSlice::new(p)).collect();
            storage
                .write_all_vectored_at(&slices, *offset)
                .map(|()| Vec::new())
        }
        Op::Read { offset, len } => {
            let mut buf = vec![0u8; *len];
            storage.read_exact_at(&mut buf, *offset).map(|()| buf)
        }
        Op::Allocate(len) => storage.allocate(*len).map(|()| Vec::new()),
        Op::SetLen(len) => storage.set_len(*len).map(|()| Vec::new()),
        Op::Sync => storage.sync_data().map(|()| Vec::new()),
    };
    // Errors are compared by kind only: the file backend names its path.
    result.map_err(|e| format!("{:?}", e.operation()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn backends_agree(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let file = FileStorage::open(dir.path().join("f")).unwrap();
        let memory = MemoryStorage::new();
        let sim = SimStorage::new(1);
        for op in &ops {
            let expected = outcome(&memory, op);
            prop_assert_eq!(&outcome(&file, op), &expected, "file differs on {:?}", op);
            prop_assert_eq!(&outcome(&sim, op), &expected, "sim differs on {:?}", op);
            prop_assert_eq!(file.len().unwrap(), memory.len().unwrap());
            prop_assert_eq!(sim.len().unwrap(), memory.len().unwrap());
        }
    }
}
