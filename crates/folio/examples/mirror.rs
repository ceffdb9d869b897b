//! Mirrors a column family of one database into another through the change feed, exactly
//! once, across restarts of either side (docs/changes.md).
//!
//! The source registers a subscriber, so its checkpoints keep the log the mirror has not
//! acknowledged. The mirror applies each change and stores the change's LSN in the same
//! transaction, so after any restart it resumes right after the last change it applied:
//! nothing is missed and nothing applied twice. It acknowledges to the source only what it
//! has committed.
//!
//! Run: `cargo run -p folio --example mirror`

use std::path::Path;

use folio::{ChangeOp, Database, Lsn};

const TABLE: &str = "orders";
/// The mirror's own bookkeeping: the LSN of the last source change it applied.
const POSITION_CF: &str = "mirror-position";
const POSITION_KEY: &[u8] = b"source";
const SUBSCRIBER: &str = "mirror";

/// Applies every source change after the mirror's stored position; returns how many.
fn catch_up(source: &Database, mirror: &Database) -> folio::Result<usize> {
    let stored = mirror.begin_read().get(POSITION_CF, POSITION_KEY)?;
    let after = match stored {
        Some(bytes) => Lsn::from_le_bytes(bytes[..8].try_into().expect("8 bytes")),
        // First run: the subscriber's registration point (the table is empty then).
        None => source.register_subscriber(SUBSCRIBER)?,
    };
    let mut applied = 0;
    let mut feed = source.changes(after)?.column_family(TABLE).durable_only();
    while let Some(change) = feed.try_next()? {
        let mut txn = mirror.begin_write(&[TABLE, POSITION_CF])?;
        for op in &change.ops {
            match op {
                ChangeOp::Put { key, value, .. } => txn.put(TABLE, key, value)?,
                ChangeOp::Delete { key, .. } => {
                    txn.delete(TABLE, key)?;
                }
                ChangeOp::DeleteRange { start, end, .. } => {
                    txn.delete_range(TABLE, (start.clone(), end.clone()))?;
                }
                other => panic!("this example's source makes no {other:?}"),
            }
        }
        txn.put(POSITION_CF, POSITION_KEY, &change.lsn.to_le_bytes())?;
        txn.commit()?;
        source.acknowledge(SUBSCRIBER, change.lsn)?;
        applied += 1;
    }
    Ok(applied)
}

fn open_source(path: &Path) -> folio::Result<Database> {
    let db = Database::open(path)?;
    db.create_cf_if_missing(TABLE)?;
    Ok(db)
}

fn open_mirror(path: &Path) -> folio::Result<Database> {
    let db = Database::open(path)?;
    db.create_cf_if_missing(TABLE)?;
    db.create_cf_if_missing(POSITION_CF)?;
    Ok(db)
}

fn write_orders(source: &Database, range: std::ops::Range<u32>) -> folio::Result<()> {
    for i in range {
        let mut txn = source.begin_write(&[TABLE])?;
        txn.put(
            TABLE,
            format!("order-{i:04}").as_bytes(),
            format!("{} items", i % 7).as_bytes(),
        )?;
        if i % 5 == 0 && i > 0 {
            txn.delete(TABLE, format!("order-{:04}", i - 1).as_bytes())?;
        }
        txn.commit()?;
    }
    Ok(())
}

fn contents(db: &Database) -> folio::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    db.begin_read()
        .tree(TABLE)?
        .iter()
        .map(|entry| entry.map(|(k, v)| (k, v.to_vec())))
        .collect()
}

fn main() -> folio::Result<()> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (source_path, mirror_path) = (dir.path().join("source"), dir.path().join("mirror"));
    let mut source = open_source(&source_path)?;
    let mut mirror = open_mirror(&mirror_path)?;
    catch_up(&source, &mirror)?; // registers the subscriber

    write_orders(&source, 0..100)?;
    println!("applied {} changes", catch_up(&source, &mirror)?);

    // The mirror restarts while the source keeps writing and checkpointing.
    drop(mirror);
    write_orders(&source, 100..200)?;
    source.checkpoint()?; // keeps the log the mirror has not acknowledged
    mirror = open_mirror(&mirror_path)?;
    println!(
        "after the mirror's restart: {} changes",
        catch_up(&source, &mirror)?
    );

    // The source restarts: the subscriber and its position are in its directory.
    write_orders(&source, 200..300)?;
    drop(source);
    source = open_source(&source_path)?;
    println!(
        "after the source's restart: {} changes",
        catch_up(&source, &mirror)?
    );

    assert_eq!(contents(&source)?, contents(&mirror)?);
    println!(
        "mirror holds the same {} orders; source subscribers: {:?}",
        contents(&mirror)?.len(),
        source.subscribers()
    );
    Ok(())
}
