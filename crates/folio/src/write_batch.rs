//! [`WriteBatch`]: blind writes to any column families, committed atomically by
//! [`crate::Database::write`] through the commit queue.

/// One change in a batch; `cf` indexes the batch's column-family names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BatchOp {
    Put {
        cf: usize,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        cf: usize,
        key: Vec<u8>,
    },
}

/// Puts and deletes to apply together, atomically, without reading first. Many threads
/// writing small batches to the same column family do not take its writer lock in turn: the
/// commit queue merges their batches into one commit (one log record, one lock round).
///
/// ```
/// # fn main() -> folio::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// let db = folio::Database::open(dir.path())?;
/// db.create_cf("counters")?;
/// let mut batch = folio::WriteBatch::new();
/// batch.put("counters", b"visits", b"1");
/// batch.delete("counters", b"stale");
/// db.write(batch)?;
/// assert_eq!(&*db.begin_read().get("counters", b"visits")?.unwrap(), b"1");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    /// Distinct column-family names, in order of first use (each op refers to one by index,
    /// so a batch of many changes to one column family holds its name once).
    pub(crate) cfs: Vec<String>,
    pub(crate) ops: Vec<BatchOp>,
    bytes: usize,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value` in column family `cf` (the last change to a key wins).
    pub fn put(&mut self, cf: &str, key: &[u8], value: &[u8]) -> &mut Self {
        self.bytes += key.len() + value.len();
        let cf = self.cf_index(cf);
        self.ops.push(BatchOp::Put {
            cf,
            key: key.to_vec(),
            value: value.to_vec(),
        });
        self
    }

    /// Removes `key` from column family `cf`.
    pub fn delete(&mut self, cf: &str, key: &[u8]) -> &mut Self {
        self.bytes += key.len();
        let cf = self.cf_index(cf);
        self.ops.push(BatchOp::Delete {
            cf,
            key: key.to_vec(),
        });
        self
    }

    /// Number of changes.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when the batch holds no change.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Bytes of keys and values held.
    pub fn payload_bytes(&self) -> usize {
        self.bytes
    }

    /// Removes every change, keeping the allocation.
    pub fn clear(&mut self) {
        self.cfs.clear();
        self.ops.clear();
        self.bytes = 0;
    }

    /// The distinct column families the batch writes, sorted.
    pub(crate) fn cf_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.cfs.iter().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// The index of `cf` in `cfs`, adding it on first use (batches name few column
    /// families, so a scan beats a map).
    fn cf_index(&mut self, cf: &str) -> usize {
        if let Some(index) = self.cfs.iter().position(|name| name == cf) {
            return index;
        }
        self.cfs.push(cf.to_owned());
        self.cfs.len() - 1
    }
}
