//! The quick start: open, create column families, commit a transaction across two of them,
//! read a snapshot, checkpoint, reopen.
//!
//! Run: `cargo run -p folio --example quickstart`

use folio::{Database, Durability};

fn main() -> folio::Result<()> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    {
        let db = Database::open(dir.path())?;
        db.create_cf("users")?;
        db.create_cf("emails")?;

        let mut txn = db.begin_write(&["users", "emails"])?;
        txn.put("users", b"alice", b"Alice Liddell")?;
        txn.put("emails", b"alice@example.com", b"alice")?;
        let lsn = txn.commit()?; // durable: the log record is synced
        println!("committed at LSN {lsn}");

        let mut txn = db.begin_write(&["users"])?;
        txn.put("users", b"bob", b"Bob")?;
        txn.commit_with(Durability::Eventual)?; // visible now, synced within 10 ms

        let snapshot = db.begin_read();
        for entry in snapshot.tree("users")?.iter() {
            let (key, value) = entry?;
            println!(
                "users: {} = {}",
                String::from_utf8_lossy(&key),
                String::from_utf8_lossy(&value)
            );
        }
        println!("checkpointed at LSN {}", db.checkpoint()?);
    }
    let db = Database::open(dir.path())?;
    let snapshot = db.begin_read();
    println!(
        "after reopen: {} users, alice's email maps to {:?}",
        snapshot.len("users")?,
        snapshot
            .get("emails", b"alice@example.com")?
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    );
    Ok(())
}
