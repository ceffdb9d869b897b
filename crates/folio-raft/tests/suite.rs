//! openraft's own storage conformance suite (`openraft::testing::Suite`) on folio: every
//! case gets a fresh database in a temporary directory.

use std::io::Cursor;

use folio::{Database, WriteTransaction};
use folio_raft::{Apply, FolioLogStore, FolioStateMachine};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{BasicNode, Entry, StorageError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Put {
    key: String,
    value: String,
}

openraft::declare_raft_types!(
    Types:
        D = Put,
        R = Option<String>,
        NodeId = u64,
        Node = BasicNode,
        Entry = Entry<Types>,
        SnapshotData = Cursor<Vec<u8>>,
);

struct Kv;

impl Apply<Types> for Kv {
    fn column_families(&self) -> Vec<String> {
        vec!["kv".into()]
    }

    fn apply(&self, txn: &mut WriteTransaction, put: &Put) -> folio::Result<Option<String>> {
        let previous = txn
            .get("kv", put.key.as_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned());
        txn.put("kv", put.key.as_bytes(), put.value.as_bytes())?;
        Ok(previous)
    }

    fn response_without_request(&self) -> Option<String> {
        None
    }
}

struct Builder;

impl StoreBuilder<Types, FolioLogStore<Types>, FolioStateMachine<Types, Kv>, tempfile::TempDir>
    for Builder
{
    async fn build(
        &self,
    ) -> Result<
        (
            tempfile::TempDir,
            FolioLogStore<Types>,
            FolioStateMachine<Types, Kv>,
        ),
        StorageError<u64>,
    > {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db = Database::open(dir.path()).expect("a fresh database opens");
        let (log, state_machine) = folio_raft::open(&db, Kv).expect("column families created");
        Ok((dir, log, state_machine))
    }
}

#[test]
fn openraft_storage_suite() {
    if let Err(error) = Suite::test_all(Builder) {
        panic!("openraft's storage suite failed: {error}");
    }
}
