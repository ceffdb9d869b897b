//! Typed tables: key encodings preserve order and round-trip for every key type and tuple;
//! foreign bytes give typed errors, never panics; a typed table behaves like a `BTreeMap`
//! through writes, ranges, commits and reads.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};

use folio::typed::{Key, Serde, Value};
use folio::{Database, ErrorKind, TableDefinition};
use proptest::prelude::*;

fn order_and_round_trip<K: Key + Ord + Debug>(a: &K, b: &K) -> Result<(), TestCaseError> {
    let (ea, eb) = (a.to_key_bytes(), b.to_key_bytes());
    prop_assert_eq!(a.cmp(b), ea.cmp(&eb), "{:?} vs {:?}", a, b);
    prop_assert_eq!(&K::from_key_bytes(&ea).unwrap(), a);
    prop_assert_eq!(&K::from_key_bytes(&eb).unwrap(), b);
    Ok(())
}

/// Strings and byte vectors rich in the bytes the escaping must handle.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![Just(0u8), Just(1u8), Just(0xFFu8), any::<u8>()],
        0..8,
    )
}

fn text() -> impl Strategy<Value = String> {
    "[\\x00\\x01a-c\u{ff}\u{100}]{0,6}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn integers_keep_their_order(a: i64, b: i64, c: u64, d: u64, e: i8, f: i8, g: i128, h: i128) {
        order_and_round_trip(&a, &b)?;
        order_and_round_trip(&c, &d)?;
        order_and_round_trip(&e, &f)?;
        order_and_round_trip(&g, &h)?;
        order_and_round_trip(&(a as i16), &(b as i16))?;
        order_and_round_trip(&(a as i32), &(b as i32))?;
        order_and_round_trip(&(c as u8), &(d as u8))?;
        order_and_round_trip(&(c as u16), &(d as u16))?;
        order_and_round_trip(&(c as u32), &(d as u32))?;
        order_and_round_trip(&u128::from(c), &u128::from(d))?;
        order_and_round_trip(&(a < 0), &(b < 0))?;
    }

    #[test]
    fn strings_bytes_and_arrays_keep_their_order(a in text(), b in text(), x in bytes(), y in bytes(), p: [u8; 4], q: [u8; 4]) {
        order_and_round_trip(&a, &b)?;
        order_and_round_trip(&x, &y)?;
        order_and_round_trip(&p, &q)?;
    }

    #[test]
    fn tuples_keep_their_order(
        a in (text(), any::<i64>()), b in (text(), any::<i64>()),
        c in (bytes(), bytes(), any::<i16>()), d in (bytes(), bytes(), any::<i16>()),
        e in (any::<u8>(), text(), bytes(), text()), f in (any::<u8>(), text(), bytes(), text()),
        g in ((text(), any::<u8>()), bytes()), h in ((text(), any::<u8>()), bytes()),
    ) {
        order_and_round_trip(&a, &b)?;
        order_and_round_trip(&c, &d)?;
        order_and_round_trip(&e, &f)?;
        order_and_round_trip(&g, &h)?;
    }

    #[test]
    fn foreign_bytes_are_errors_not_panics(raw in prop::collection::vec(any::<u8>(), 0..24)) {
        let _ = <(String, i64)>::from_key_bytes(&raw);
        let _ = <(Vec<u8>, Vec<u8>, i16)>::from_key_bytes(&raw);
        let _ = <((String, u8), Vec<u8>)>::from_key_bytes(&raw);
        let _ = String::from_key_bytes(&raw);
        let _ = bool::from_key_bytes(&raw);
        let _ = <u64 as Value>::decode_value(&raw);
        let _ = <Serde<(String, Vec<u32>)> as Value>::decode_value(&raw);
        if raw.len() != 8 {
            prop_assert!(u64::from_key_bytes(&raw).is_err());
            prop_assert!(<u64 as Value>::decode_value(&raw).is_err());
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Player {
    name: String,
    scores: Vec<u32>,
}

const SCORES: TableDefinition<(String, i64), u64> = TableDefinition::new("scores");
const PLAYERS: TableDefinition<u32, Serde<Player>> = TableDefinition::new("players");
const NAMES: TableDefinition<String, String> = TableDefinition::new("names");
const COUNTS: TableDefinition<(String, i64), i64> = TableDefinition::new("counts");
/// The players' column family read with the wrong types.
const WRONG: TableDefinition<u32, u64> = TableDefinition::new("players");

#[derive(Debug, Clone)]
enum Op {
    Insert(String, i64, u64),
    Remove(String, i64),
    /// Keys from the first to the second, the end included when the flag says so.
    DeleteRange((String, i64), (String, i64), bool),
    /// Every key whose first field is this.
    DeletePrefix(String),
    /// Adds to a counter of the `COUNTS` table.
    Increment(String, i64, i8),
    /// Merges into a counter of the `COUNTS` table (its operator keeps the larger).
    Merge(String, i64, i8),
    Commit,
}

fn op() -> impl Strategy<Value = Op> {
    let name = prop_oneof![
        Just("a".to_owned()),
        Just("ab".to_owned()),
        Just("b".to_owned()),
        Just(String::new())
    ];
    prop_oneof![
        6 => (name.clone(), -5i64..5, any::<u64>()).prop_map(|(n, r, v)| Op::Insert(n, r, v)),
        3 => (name.clone(), -5i64..5).prop_map(|(n, r)| Op::Remove(n, r)),
        1 => ((name.clone(), -6i64..6), (name.clone(), -6i64..6), any::<bool>())
            .prop_map(|(from, to, inclusive)| Op::DeleteRange(from, to, inclusive)),
        1 => name.clone().prop_map(Op::DeletePrefix),
        2 => (name.clone(), -5i64..5, any::<i8>()).prop_map(|(n, r, d)| Op::Increment(n, r, d)),
        1 => (name, -5i64..5, any::<i8>()).prop_map(|(n, r, v)| Op::Merge(n, r, v)),
        1 => Just(Op::Commit),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_typed_table_behaves_like_a_btreemap(
        ops in prop::collection::vec(op(), 1..60),
        from in -6i64..6,
        first in prop_oneof![Just("a"), Just("ab"), Just("b"), Just(""), Just("c")],
        ends in prop::collection::vec(any::<bool>(), 0..40),
        shared in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let larger = folio::MergeOperator::new(|_, now, operand| {
            let counter = |bytes: &[u8]| i64::from_le_bytes(bytes.try_into().unwrap());
            let larger = now.map_or(counter(operand), |now| counter(now).max(counter(operand)));
            Ok(larger.to_le_bytes().to_vec())
        });
        let db = Database::builder().merge_operator(COUNTS.name(), larger).open(dir.path()).unwrap();
        db.create_cf(SCORES.name()).unwrap();
        db.create_cf(COUNTS.name()).unwrap();
        let mut model: BTreeMap<(String, i64), u64> = BTreeMap::new();
        let mut counts: BTreeMap<(String, i64), i64> = BTreeMap::new();
        let both = [SCORES.name(), COUNTS.name()];
        let mut txn = db.begin_write(&both).unwrap();
        for op in ops {
            match op {
                Op::Insert(name, round, value) => {
                    // Borrowed parts (`&str` for the `String` field) in every lookup.
                    let mut table = txn.table(SCORES).unwrap();
                    let old = table.get(&(name.as_str(), round)).unwrap();
                    prop_assert_eq!(old, model.get(&(name.clone(), round)).copied());
                    table.insert(&(name.as_str(), round), &value).unwrap();
                    model.insert((name, round), value);
                }
                Op::Remove(name, round) => {
                    let got = txn.table(SCORES).unwrap().remove(&(name.as_str(), round)).unwrap();
                    prop_assert_eq!(got, model.remove(&(name, round)));
                }
                Op::DeleteRange(from, to, inclusive) => {
                    let end = if inclusive { Bound::Included(to) } else { Bound::Excluded(to) };
                    let bounds = (Bound::Included(from), end);
                    let removed = txn.table(SCORES).unwrap().delete_range(bounds.clone()).unwrap();
                    let doomed: Vec<_> = model.keys().filter(|k| bounds.contains(k)).cloned().collect();
                    prop_assert_eq!(removed, doomed.len() as u64);
                    for key in doomed {
                        model.remove(&key);
                    }
                }
                Op::DeletePrefix(first) => {
                    let removed = txn.table(SCORES).unwrap().delete_prefix(first.as_str()).unwrap();
                    let before = model.len();
                    model.retain(|k, _| k.0 != first);
                    prop_assert_eq!(removed, (before - model.len()) as u64);
                }
                Op::Increment(name, round, delta) => {
                    let delta = i64::from(delta);
                    txn.table(COUNTS).unwrap().increment(&(name.as_str(), round), delta).unwrap();
                    *counts.entry((name, round)).or_insert(0) += delta;
                }
                Op::Merge(name, round, value) => {
                    let value = i64::from(value);
                    txn.table(COUNTS).unwrap().merge(&(name.as_str(), round), &value).unwrap();
                    let now = counts.entry((name, round)).or_insert(value);
                    *now = (*now).max(value);
                }
                Op::Commit => {
                    txn.commit().unwrap();
                    txn = db.begin_write(&both).unwrap();
                }
            }
        }
        // The write table alone, or one of several open at once (its ranges read in batches).
        let tables;
        let mut table = if shared {
            tables = txn.tables();
            tables.open(SCORES).unwrap()
        } else {
            txn.table(SCORES).unwrap()
        };
        let table = &mut table;
        let start = ("a".to_owned(), from);
        let seen: Vec<_> = table.range(start.clone()..).unwrap().collect::<folio::Result<_>>().unwrap();
        let expected: Vec<_> = model.range(start.clone()..).map(|(k, v)| (k.clone(), *v)).collect();
        prop_assert_eq!(seen, expected);
        // The same calls on the write table, this transaction's changes included.
        let back: Vec<_> = table.range_rev(..start.clone()).unwrap().collect::<folio::Result<_>>().unwrap();
        prop_assert_eq!(back, model.range(..start.clone()).rev().map(|(k, v)| (k.clone(), *v)).collect::<Vec<_>>());
        let by_first: Vec<_> = table.prefix(first).unwrap().collect::<folio::Result<_>>().unwrap();
        let expected_first: Vec<_> = model.iter().filter(|(k, _)| k.0 == first).map(|(k, v)| (k.clone(), *v)).collect();
        prop_assert_eq!(&by_first, &expected_first);
        let by_first_back: Vec<_> = table.prefix_rev(first).unwrap().collect::<folio::Result<_>>().unwrap();
        prop_assert_eq!(by_first_back, expected_first.iter().rev().cloned().collect::<Vec<_>>());
        prop_assert_eq!(table.len(), model.len() as u64);
        prop_assert_eq!(table.is_empty(), model.is_empty());
        txn.commit().unwrap();
        let read = db.begin_read();
        let all_counts: Vec<_> = read.table(COUNTS).unwrap().iter().collect::<folio::Result<_>>().unwrap();
        prop_assert_eq!(all_counts, counts.into_iter().collect::<Vec<_>>());
        let table = read.table(SCORES).unwrap();
        prop_assert_eq!(table.len(), model.len() as u64);
        let all: Vec<_> = table.iter().collect::<folio::Result<_>>().unwrap();
        prop_assert_eq!(all, model.iter().map(|(k, v)| (k.clone(), *v)).collect::<Vec<_>>());
        let back: Vec<_> = table.range_rev(..start.clone()).collect::<folio::Result<_>>().unwrap();
        prop_assert_eq!(back, model.range(..start).rev().map(|(k, v)| (k.clone(), *v)).collect::<Vec<_>>());
        prop_assert_eq!(table.first().unwrap(), model.first_key_value().map(|(k, v)| (k.clone(), *v)));
        prop_assert_eq!(table.last().unwrap(), model.last_key_value().map(|(k, v)| (k.clone(), *v)));
        let by_first: Vec<_> = table.prefix(first).collect::<folio::Result<_>>().unwrap();
        prop_assert_eq!(by_first, model.iter().filter(|(k, _)| k.0 == first).map(|(k, v)| (k.clone(), *v)).collect::<Vec<_>>());
        // Both ends at once, as `ends` says, meet in the middle without a repeat or a gap.
        let mut range = table.iter();
        let mut expected = model.iter().map(|(k, v)| (k.clone(), *v));
        for from_back in ends {
            let (got, want) = if from_back {
                (range.next_back(), expected.next_back())
            } else {
                (range.next(), expected.next())
            };
            prop_assert_eq!(got.transpose().unwrap(), want);
        }
        prop_assert_eq!(range.collect::<folio::Result<Vec<_>>>().unwrap(), expected.collect::<Vec<_>>());
    }
}

#[test]
fn serde_values_round_trip_and_strings_borrow() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.create_cf(PLAYERS.name()).unwrap();
    db.create_cf("names").unwrap();
    let alice = Player {
        name: "alice".into(),
        scores: vec![3, 1, 4],
    };
    let mut txn = db.begin_write(&[PLAYERS.name(), NAMES.name()]).unwrap();
    txn.table(PLAYERS)
        .unwrap()
        .insert(&7, &Serde(alice.clone()))
        .unwrap();
    // `&str` for `String` keys and values.
    txn.table(NAMES).unwrap().insert("k", "v").unwrap();
    txn.commit().unwrap();
    let read = db.begin_read();
    assert_eq!(
        read.table(PLAYERS).unwrap().get(&7).unwrap(),
        Some(Serde(alice))
    );
    assert_eq!(
        read.table(NAMES).unwrap().get("k").unwrap().as_deref(),
        Some("v")
    );
    // The same column family read with the wrong types is a typed error.
    let error = read.table(WRONG).unwrap().get(&7).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(error.to_string().contains("players"), "{error}");
    // A column family outside the transaction is refused when the table is opened.
    let mut txn = db.begin_write(&[NAMES.name()]).unwrap();
    assert!(txn.table(PLAYERS).is_err());
}

#[test]
fn lookups_take_borrowed_parts_of_tuple_keys() {
    const ORDERS: TableDefinition<(String, u64), Vec<u8>> = TableDefinition::new("orders");
    const NESTED: TableDefinition<(u8, (String, Vec<u8>)), u8> = TableDefinition::new("nested");
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.create_cf(ORDERS.name()).unwrap();
    db.create_cf(NESTED.name()).unwrap();
    let mut txn = db.begin_write(&[ORDERS.name(), NESTED.name()]).unwrap();
    let mut orders = txn.table(ORDERS).unwrap();
    orders.insert(&("alice", 1), &b"one".to_vec()).unwrap();
    orders
        .insert(&("alice".to_owned(), 2), &b"two".to_vec())
        .unwrap();
    assert_eq!(
        orders.get(&("alice", 1)).unwrap().as_deref(),
        Some(&b"one"[..])
    );
    assert_eq!(
        orders.remove(&("alice", 2)).unwrap().as_deref(),
        Some(&b"two"[..])
    );
    let name = String::from("alice");
    assert!(orders.get(&(&name, 2)).unwrap().is_none());
    let mut nested = txn.table(NESTED).unwrap();
    nested.insert(&(1, ("x", &b"\0y"[..])), &5).unwrap();
    assert_eq!(
        nested.get(&(1, ("x".to_owned(), b"\0y".to_vec()))).unwrap(),
        Some(5)
    );
    txn.commit().unwrap();
    let read = db.begin_read();
    let orders = read.table(ORDERS).unwrap();
    assert!(orders.contains_key(&("alice", 1)).unwrap());
    assert!(!orders.contains_key(&("alice", 2)).unwrap());
    assert_eq!(
        read.table(NESTED)
            .unwrap()
            .get(&(1, ("x", &b"\0y"[..])))
            .unwrap(),
        Some(5)
    );
}

#[test]
fn several_tables_open_at_once_read_one_while_writing_another() {
    const ORDERS: TableDefinition<u64, String> = TableDefinition::new("orders");
    const INDEX: TableDefinition<(String, u64), ()> = TableDefinition::new("index");
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.create_cf(ORDERS.name()).unwrap();
    db.create_cf(INDEX.name()).unwrap();
    let mut txn = db.begin_write(&[ORDERS.name(), INDEX.name()]).unwrap();
    {
        let tables = txn.tables();
        let mut orders = tables.open(ORDERS).unwrap();
        let mut index = tables.open(INDEX).unwrap();
        for id in 0..1_000u64 {
            let customer = if id % 3 == 0 { "alice" } else { "bob" };
            orders.insert(&id, customer).unwrap();
            index.insert(&(customer, id), &()).unwrap();
        }
        // A range of one table (334 entries: several batches) while the other is written.
        let mut seen = 0;
        for entry in index.prefix("alice").unwrap() {
            let ((_, id), ()) = entry.unwrap();
            orders.insert(&id, "alice (vip)").unwrap();
            seen += 1;
        }
        assert_eq!(seen, 334);
        // Both ends of a range over many batches meet exactly.
        let mut range = orders.range(100..900).unwrap();
        let mut ids = Vec::new();
        loop {
            let front = range.next().map(|e| e.unwrap().0);
            let back = range.next_back().map(|e| e.unwrap().0);
            if front.is_none() && back.is_none() {
                break;
            }
            ids.extend(front);
            ids.extend(back);
        }
        ids.sort_unstable();
        assert_eq!(ids, (100..900).collect::<Vec<_>>());
        // A second handle of one table sees the first one's writes.
        let again = tables.open(ORDERS).unwrap();
        assert_eq!(again.get(&3).unwrap().as_deref(), Some("alice (vip)"));
        // A column family outside the transaction is refused.
        assert!(
            tables
                .open(TableDefinition::<u64, u64>::new("missing"))
                .is_err()
        );
    }
    txn.commit().unwrap();
    let read = db.begin_read();
    let orders = read.table(ORDERS).unwrap();
    assert_eq!(orders.get(&999).unwrap().as_deref(), Some("alice (vip)"));
    assert_eq!(orders.get(&998).unwrap().as_deref(), Some("bob"));
}
