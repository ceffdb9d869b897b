//! [`Catalog`]: the column-family catalog, itself a B-tree from name to [`CfState`], so any
//! number of column families fits (the predecessor's catalog had to fit one header page).

use folio_pagestore::{PageId, PageStore, PageWriter};

use crate::compression::SETTING_BYTES;
use crate::{BTree, BTreeMut, Compression, Error, Result};

/// Longest column-family name, in bytes.
pub const CF_NAME_BYTES_MAX: usize = 1024;
const NO_ROOT: u64 = u64::MAX;
/// An entry without stored options (files written before options were stored).
const STATE_BYTES: usize = 24;
/// The version byte of the stored options that follow the first 24 bytes.
const OPTIONS_V1: u8 = 1;
/// An entry with stored options: the state, the version byte, the compression setting.
const STATE_WITH_OPTIONS_BYTES: usize = STATE_BYTES + 1 + SETTING_BYTES;

/// What the catalog records for one column family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CfState {
    /// Stable identifier (never reused by another column family of this catalog).
    pub id: u64,
    /// Root of its tree; `None` when empty.
    pub root: Option<PageId>,
    /// Entries in its tree.
    pub len: u64,
    /// How it compresses the values it writes, as stored; `None` in entries written before
    /// options were stored (the opener's options then decide).
    pub compression: Option<Compression>,
}

impl CfState {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(STATE_WITH_OPTIONS_BYTES);
        out.extend_from_slice(&self.id.to_le_bytes());
        out.extend_from_slice(&self.root.map_or(NO_ROOT, |p| p.0).to_le_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
        if let Some(compression) = self.compression {
            out.push(OPTIONS_V1);
            out.extend_from_slice(&compression.to_setting_bytes());
        }
        out
    }

    fn decode(bytes: &[u8], name: &[u8]) -> Result<Self> {
        let damaged = |reason: String| Error::CorruptNode {
            page: PageId(NO_ROOT),
            reason: format!(
                "catalog entry for {:?}: {reason}",
                String::from_utf8_lossy(name)
            ),
        };
        let compression = match bytes.len() {
            STATE_BYTES => None,
            STATE_WITH_OPTIONS_BYTES if bytes[STATE_BYTES] == OPTIONS_V1 => {
                Some(Compression::from_setting_bytes(&bytes[STATE_BYTES + 1..]).map_err(damaged)?)
            }
            STATE_WITH_OPTIONS_BYTES => {
                return Err(damaged(format!(
                    "options version {} unknown",
                    bytes[STATE_BYTES]
                )));
            }
            other => return Err(damaged(format!("{other} bytes"))),
        };
        let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let root = word(8);
        Ok(Self {
            id: word(0),
            root: (root != NO_ROOT).then_some(PageId(root)),
            len: word(16),
            compression,
        })
    }
}

/// The column-family catalog. Changes go through its own writer and become durable with the
/// commit that publishes [`Catalog::root`].
#[derive(Debug)]
pub struct Catalog {
    tree: BTreeMut,
    next_id: u64,
}

impl Catalog {
    /// The catalog at `root` (`None`: no column families yet), changed through `writer`.
    pub fn open(writer: PageWriter, root: Option<PageId>) -> Result<Self> {
        let view = BTree::new(writer.store().clone(), root);
        let mut next_id = 0;
        let mut len = 0;
        for entry in view.iter() {
            let (name, value) = entry?;
            next_id = next_id.max(CfState::decode(&value, &name)?.id + 1);
            len += 1;
        }
        Ok(Self {
            tree: BTreeMut::new(writer, root, len),
            next_id,
        })
    }

    /// The catalog tree's root, to store with a checkpoint.
    pub fn root(&self) -> Option<PageId> {
        self.tree.root()
    }

    /// Moves the catalog's pages at or above `boundary` lower; see
    /// [`BTreeMut::relocate_from`]. Part of the open change: commit as usual.
    pub fn relocate_from(&mut self, boundary: u64) -> Result<u64> {
        self.tree.return_unused_pages();
        self.tree.relocate_from(boundary)
    }

    /// The page store.
    pub fn store(&self) -> &PageStore {
        self.tree.store()
    }

    fn check_name(name: &str) -> Result<()> {
        if name.is_empty() || name.len() > CF_NAME_BYTES_MAX {
            return Err(Error::InvalidName {
                reason: format!(
                    "names must have 1 to {CF_NAME_BYTES_MAX} bytes, got {}",
                    name.len()
                ),
            });
        }
        Ok(())
    }

    /// The state of column family `name`.
    pub fn get(&self, name: &str) -> Result<Option<CfState>> {
        match self.tree.get(name.as_bytes())? {
            Some(value) => Ok(Some(CfState::decode(&value, name.as_bytes())?)),
            None => Ok(None),
        }
    }

    /// Creates an empty column family.
    pub fn create(&mut self, name: &str) -> Result<CfState> {
        Self::check_name(name)?;
        if self.get(name)?.is_some() {
            return Err(Error::ColumnFamilyExists { name: name.into() });
        }
        let state = CfState {
            id: self.next_id,
            root: None,
            len: 0,
            compression: None,
        };
        self.tree.put(name.as_bytes(), &state.encode())?;
        self.next_id += 1;
        Ok(state)
    }

    /// Records a column family's new root and length (after its writer committed).
    pub fn update(&mut self, name: &str, root: Option<PageId>, len: u64) -> Result<()> {
        let mut state = self
            .get(name)?
            .ok_or_else(|| Error::ColumnFamilyNotFound { name: name.into() })?;
        state.root = root;
        state.len = len;
        self.tree.put(name.as_bytes(), &state.encode())?;
        Ok(())
    }

    /// Removes a column family and frees every page of its tree.
    pub fn drop_cf(&mut self, name: &str) -> Result<CfState> {
        let state = self
            .get(name)?
            .ok_or_else(|| Error::ColumnFamilyNotFound { name: name.into() })?;
        // Free the column family's pages through the catalog's writer (any writer may free),
        // so they are settled with the catalog's commit.
        self.tree.free_tree_pages(state.root)?;
        self.tree.delete_key(name.as_bytes())?;
        Ok(state)
    }

    /// Renames a column family (its id and tree stay).
    pub fn rename(&mut self, from: &str, to: &str) -> Result<()> {
        Self::check_name(to)?;
        if self.get(to)?.is_some() {
            return Err(Error::ColumnFamilyExists { name: to.into() });
        }
        let state = self
            .get(from)?
            .ok_or_else(|| Error::ColumnFamilyNotFound { name: from.into() })?;
        self.tree.delete_key(from.as_bytes())?;
        self.tree.put(to.as_bytes(), &state.encode())?;
        Ok(())
    }

    /// Records `state` for `name` as given (creating or overwriting the entry): for a layer
    /// above that assigns ids itself and keeps the catalog in step at checkpoints.
    pub fn set(&mut self, name: &str, state: CfState) -> Result<()> {
        Self::check_name(name)?;
        self.tree.put(name.as_bytes(), &state.encode())?;
        self.next_id = self.next_id.max(state.id + 1);
        Ok(())
    }

    /// Removes the entry for `name` without touching its tree's pages (the caller freed them
    /// already); returns whether it existed.
    pub fn forget(&mut self, name: &str) -> Result<bool> {
        self.tree.delete_key(name.as_bytes())
    }

    /// Every column family, by name.
    pub fn list(&self) -> Result<Vec<(String, CfState)>> {
        let mut out = Vec::new();
        for entry in self.tree.view().iter() {
            let (name, value) = entry?;
            let state = CfState::decode(&value, &name)?;
            out.push((String::from_utf8_lossy(&name).into_owned(), state));
        }
        Ok(out)
    }

    /// Commits the catalog's changes as part of `version`.
    pub fn commit(&mut self, version: u64) {
        self.tree.commit(version);
    }

    /// Drops the catalog's uncommitted changes. Identifiers handed out meanwhile are not
    /// reused (`next_id` only grows).
    pub fn rollback(&mut self) {
        self.tree.rollback();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_with_and_without_stored_options_decode() {
        let mut state = CfState {
            id: 7,
            root: Some(PageId(42)),
            len: 1000,
            compression: Some(Compression::Zstd { level: 9 }),
        };
        let stored = state.encode();
        assert_eq!(stored.len(), STATE_WITH_OPTIONS_BYTES);
        assert_eq!(CfState::decode(&stored, b"cf").unwrap(), state);
        // An entry written before options were stored: its first 24 bytes, nothing after.
        state.compression = None;
        assert_eq!(
            CfState::decode(&stored[..STATE_BYTES], b"cf").unwrap(),
            state
        );
        assert_eq!(state.encode(), &stored[..STATE_BYTES]);
        let mut unknown_version = stored.clone();
        unknown_version[STATE_BYTES] = 2;
        let mut unknown_codec = stored.clone();
        unknown_codec[STATE_BYTES + 1] = 9;
        for damaged in [
            &unknown_version[..],
            &unknown_codec,
            &stored[..STATE_BYTES + 3],
        ] {
            assert!(matches!(
                CfState::decode(damaged, b"cf"),
                Err(Error::CorruptNode { .. })
            ));
        }
    }
}
