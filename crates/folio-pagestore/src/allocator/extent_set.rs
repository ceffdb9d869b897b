//! [`ExtentSet`]: a set of page ids stored as disjoint, non-adjacent extents.

use std::collections::BTreeMap;

/// A set of page ids kept as sorted, disjoint, non-adjacent `(start, len)` extents.
///
/// Invariant: no two extents overlap or touch (touching extents are merged on insert), and
/// `pages` is the sum of all lengths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtentSet {
    extents: BTreeMap<u64, u64>,
    pages: u64,
}

/// An insert overlapped pages already in the set, or a removal named pages not in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtentConflict {
    /// First page of the offending range.
    pub start: u64,
    /// Its length.
    pub len: u64,
}

impl ExtentSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pages in the set.
    pub fn page_count(&self) -> u64 {
        self.pages
    }

    /// Extents in the set.
    pub fn extent_count(&self) -> usize {
        self.extents.len()
    }

    /// The extents in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.extents.iter().map(|(&start, &len)| (start, len))
    }

    /// True when `page` is in the set.
    pub fn contains(&self, page: u64) -> bool {
        self.extents
            .range(..=page)
            .next_back()
            .is_some_and(|(&start, &len)| page < start + len)
    }

    /// Adds `start .. start + len`; fails without change if any of it is already present.
    pub fn insert(&mut self, start: u64, len: u64) -> Result<(), ExtentConflict> {
        if len == 0 {
            return Ok(());
        }
        let end = start
            .checked_add(len)
            .ok_or(ExtentConflict { start, len })?;
        let before = self
            .extents
            .range(..=start)
            .next_back()
            .map(|(&s, &l)| (s, l));
        let after = self.extents.range(start..).next().map(|(&s, &l)| (s, l));
        if before.is_some_and(|(s, l)| s + l > start) || after.is_some_and(|(s, _)| s < end) {
            return Err(ExtentConflict { start, len });
        }
        let (mut new_start, mut new_end) = (start, end);
        if let Some((s, l)) = before
            && s + l == start
        {
            self.extents.remove(&s);
            new_start = s;
        }
        if let Some((s, l)) = after
            && s == end
        {
            self.extents.remove(&s);
            new_end = s + l;
        }
        self.extents.insert(new_start, new_end - new_start);
        self.pages += len;
        Ok(())
    }

    /// Removes `start .. start + len`, which must lie inside one extent of the set; fails
    /// without change otherwise.
    pub fn remove(&mut self, start: u64, len: u64) -> Result<(), ExtentConflict> {
        if len == 0 {
            return Ok(());
        }
        let conflict = ExtentConflict { start, len };
        let end = start.checked_add(len).ok_or(conflict)?;
        let (s, l) = self
            .extents
            .range(..=start)
            .next_back()
            .map(|(&s, &l)| (s, l))
            .ok_or(conflict)?;
        if s + l < end {
            return Err(conflict);
        }
        self.extents.remove(&s);
        if s < start {
            self.extents.insert(s, start - s);
        }
        if end < s + l {
            self.extents.insert(end, s + l - end);
        }
        self.pages -= len;
        Ok(())
    }

    /// Adds every page of `pages` (any order; sorted in place), one extent per run of
    /// consecutive ids: many single pages cost one tree update per run instead of one each.
    /// On a conflict (a page present, or listed twice) the runs before it stay added.
    pub fn insert_pages(&mut self, pages: &mut [u64]) -> Result<(), ExtentConflict> {
        pages.sort_unstable();
        for (start, len) in runs(pages) {
            self.insert(start, len)?;
        }
        Ok(())
    }

    /// Removes every page of `pages` (any order; sorted in place), one run at a time (see
    /// [`ExtentSet::insert_pages`]). On a conflict the runs before it stay removed.
    pub fn remove_pages(&mut self, pages: &mut [u64]) -> Result<(), ExtentConflict> {
        pages.sort_unstable();
        for (start, len) in runs(pages) {
            // Extents never touch, so a run of present pages lies inside one extent.
            self.remove(start, len)?;
        }
        Ok(())
    }

    /// Removes and returns up to `max` pages from the lowest extent (keeping files compact).
    pub fn take_first(&mut self, max: u64) -> Option<(u64, u64)> {
        let (&start, &len) = self.extents.iter().next()?;
        let taken = len.min(max);
        self.remove(start, taken)
            .expect("the range was just read from the set");
        Some((start, taken))
    }

    /// Removes every page at or above `limit`, returning how many were removed.
    pub fn truncate_at(&mut self, limit: u64) -> u64 {
        let mut removed = 0;
        while let Some((&start, &len)) = self.extents.iter().next_back() {
            if start + len <= limit {
                break;
            }
            let cut_from = start.max(limit);
            let cut = start + len - cut_from;
            self.remove(cut_from, cut)
                .expect("the range was just read from the set");
            removed += cut;
        }
        removed
    }
}

/// Maximal runs of consecutive ids in sorted `pages`, as `(start, len)`. A repeated id
/// starts a new run at the same page (which then conflicts with the previous one).
fn runs(pages: &[u64]) -> impl Iterator<Item = (u64, u64)> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let start = *pages.get(at)?;
        let mut len = 1;
        while pages.get(at + len as usize) == Some(&(start + len)) {
            len += 1;
        }
        at += len as usize;
        Some((start, len))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        #[test]
        fn behaves_like_a_set_of_pages(ops in prop::collection::vec((any::<bool>(), 0u64..200, 1u64..20), 1..200)) {
            let mut set = ExtentSet::new();
            let mut model = BTreeSet::new();
            for (insert, start, len) in ops {
                let range: Vec<u64> = (start..start + len).collect();
                if insert {
                    let free = range.iter().all(|p| !model.contains(p));
                    prop_assert_eq!(set.insert(start, len).is_ok(), free);
                    if free { model.extend(range); }
                } else {
                    let ok = set.remove(start, len).is_ok();
                    if ok {
                        prop_assert!(range.iter().all(|p| model.contains(p)));
                        for p in &range { model.remove(p); }
                    }
                }
                prop_assert_eq!(set.page_count(), model.len() as u64);
                let mut previous_end = None;
                for (s, l) in set.iter() {
                    prop_assert!(l > 0);
                    if let Some(end) = previous_end { prop_assert!(s > end, "touching extents not merged"); }
                    previous_end = Some(s + l);
                }
                for p in 0..220 { prop_assert_eq!(set.contains(p), model.contains(&p)); }
            }
        }
    }

    proptest! {
        #[test]
        fn page_lists_behave_like_single_pages(
            batches in prop::collection::vec((any::<bool>(), prop::collection::vec(0u64..120, 0..40)), 1..40)
        ) {
            let mut set = ExtentSet::new();
            let mut model = BTreeSet::new();
            for (insert, mut pages) in batches {
                let distinct: BTreeSet<u64> = pages.iter().copied().collect();
                let unique = distinct.len() == pages.len();
                let mut trial = set.clone();
                if insert {
                    let ok = trial.insert_pages(&mut pages).is_ok();
                    prop_assert_eq!(ok, unique && distinct.iter().all(|p| !model.contains(p)));
                    if ok { model.extend(distinct); set = trial; }
                } else {
                    let ok = trial.remove_pages(&mut pages).is_ok();
                    prop_assert_eq!(ok, unique && distinct.iter().all(|p| model.contains(p)));
                    if ok { for p in &distinct { model.remove(p); } set = trial; }
                }
                prop_assert_eq!(set.page_count(), model.len() as u64);
                for p in 0..130 { prop_assert_eq!(set.contains(p), model.contains(&p)); }
            }
        }
    }

    #[test]
    fn take_first_and_truncate() {
        let mut set = ExtentSet::new();
        set.insert(10, 5).unwrap();
        set.insert(100, 50).unwrap();
        assert_eq!(set.take_first(3), Some((10, 3)));
        assert_eq!(set.take_first(10), Some((13, 2)));
        assert_eq!(set.truncate_at(120), 30);
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![(100, 20)]);
    }
}
