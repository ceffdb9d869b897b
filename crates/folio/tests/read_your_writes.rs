//! A reader that begins after a commit returned sees that commit, whatever other threads
//! commit meanwhile. Commits publish in LSN order; a commit whose predecessor (another
//! thread's) had not published yet used to return before it was visible, so a thread could
//! miss its own write in its next read transaction (found by the soak run).

use std::sync::{Arc, Barrier};

use folio::{Database, Durability};

#[test]
fn a_read_after_a_commit_sees_it_while_other_threads_commit() {
    const THREADS: usize = 4;
    const COMMITS: u32 = 2_000;
    let dir = tempfile::tempdir().unwrap();
    let db = Database::builder()
        .checkpoint_interval(None)
        .open(dir.path())
        .unwrap();
    for t in 0..THREADS {
        db.create_cf(&format!("cf{t}")).unwrap();
    }
    let barrier = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (db, barrier) = (db.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let cf = format!("cf{t}");
                barrier.wait();
                for i in 0..COMMITS {
                    let mut txn = db.begin_write(&[cf.as_str()]).unwrap();
                    txn.put(cf.as_str(), &i.to_be_bytes(), b"v").unwrap();
                    txn.commit_with(Durability::Eventual).unwrap();
                    let read = db.begin_read();
                    assert!(
                        read.get(cf.as_str(), &i.to_be_bytes()).unwrap().is_some(),
                        "thread {t}: commit {i} returned but a new reader does not see it"
                    );
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}
