//! [`ReadSet`]: what a concurrent transaction read from one column family: point keys, and
//! the key ranges its scans covered (so a key inserted into a range it scanned, even an
//! empty one, is a conflict: no phantoms).

use std::collections::BTreeSet;

/// A range of keys by its owned bounds.
pub(crate) type KeyRange = folio_btree::OwnedBounds;

/// Point reads and range reads of one column family.
#[derive(Debug, Default, Clone)]
pub(crate) struct ReadSet {
    points: BTreeSet<Vec<u8>>,
    ranges: Vec<KeyRange>,
}

impl ReadSet {
    /// Records a read of `key` (found or not).
    pub(crate) fn point(&mut self, key: &[u8]) {
        if !self.points.contains(key) {
            self.points.insert(key.to_vec());
        }
    }

    /// Records a scan over `range` (all of it: a scan stopped early still counts whole,
    /// which may report a conflict it could have avoided, never miss one).
    pub(crate) fn range(&mut self, range: KeyRange) {
        if !self.ranges.contains(&range) {
            self.ranges.push(range);
        }
    }

    /// True when nothing was read.
    pub(crate) fn is_empty(&self) -> bool {
        self.points.is_empty() && self.ranges.is_empty()
    }

    /// True when a write of `key` changes something this set read.
    pub(crate) fn covers(&self, key: &[u8]) -> bool {
        self.points.contains(key)
            || self
                .ranges
                .iter()
                .any(|range| folio_btree::bounds_contain(range, key))
    }
}

#[cfg(test)]
mod tests {
    use std::ops::Bound;

    use super::*;

    #[test]
    fn points_and_ranges_cover_what_they_name() {
        let mut reads = ReadSet::default();
        assert!(reads.is_empty());
        reads.point(b"k");
        reads.range((
            Bound::Included(b"b".to_vec()),
            Bound::Excluded(b"d".to_vec()),
        ));
        assert!(reads.covers(b"k"));
        assert!(reads.covers(b"b"));
        assert!(reads.covers(b"c\xff"));
        assert!(!reads.covers(b"d"));
        assert!(!reads.covers(b"a"));
        reads.range((Bound::Excluded(b"x".to_vec()), Bound::Unbounded));
        assert!(!reads.covers(b"x"));
        assert!(reads.covers(b"xa"));
    }
}
