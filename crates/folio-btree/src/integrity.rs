//! [`check_tree`]: verify a tree's structure, order, fill and pages.

use std::collections::BTreeSet;

use folio_pagestore::{AllocationReport, PageId, PageStore};

use crate::node::{BranchView, KeyRef, LeafView, NodeKind, ValueRef, check_slotted, node_kind};
use crate::overflow::chain_pages;
use crate::pages::Pages;
use crate::search::{DEPTH_MAX, key_bytes, read_value};
use crate::{Result, error::corrupt};

/// What [`check_tree`] found in a healthy tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrityReport {
    /// Entries.
    pub entries: u64,
    /// Leaf pages.
    pub leaves: u64,
    /// Branch pages.
    pub branches: u64,
    /// Overflow pages.
    pub overflow_pages: u64,
    /// Levels (0 for an empty tree).
    pub depth: usize,
    /// Values stored compressed (each one decoded by the check).
    pub compressed_values: u64,
    /// Bytes of all values as the application wrote them.
    pub value_bytes: u64,
    /// Bytes of all values as stored (compression frames for compressed ones).
    pub stored_value_bytes: u64,
    /// Every page the tree reaches.
    pub pages: BTreeSet<PageId>,
}

/// Claims a leaf value's overflow chain, decodes it when compressed (the frame must hold
/// what it says) and counts its bytes.
fn count_value(
    pages: Pages<'_>,
    report: &mut IntegrityReport,
    page: &[u8],
    leaf: PageId,
    value: &ValueRef,
) -> Result<()> {
    if let ValueRef::Overflow { first, len, .. } = *value {
        claim_chain(pages, report, first, len as usize)?;
    }
    let stored = value.stored_len() as u64;
    report.stored_value_bytes += stored;
    report.value_bytes += if value.is_compressed() {
        report.compressed_values += 1;
        read_value(pages, page, leaf, value)?.len() as u64
    } else {
        stored
    };
    Ok(())
}

/// Checks the tree at `root`: every page's checksum (by reading it), node decoding, keys
/// strictly increasing within and across nodes and inside their separators' bounds, all
/// leaves at one depth, no empty non-root node, overflow chains of the right length, and no
/// page reached twice. The first problem is returned as an error naming its page.
pub fn check_tree(store: &PageStore, root: Option<PageId>) -> Result<IntegrityReport> {
    check_pages(Pages::new(store, None), root)
}

/// [`check_tree`] over `pages` (a transaction's own pages included).
pub(crate) fn check_pages(pages: Pages<'_>, root: Option<PageId>) -> Result<IntegrityReport> {
    let mut report = IntegrityReport::default();
    if let Some(root) = root {
        let mut leaf_depth = None;
        check_node(
            pages,
            root,
            None,
            None,
            1,
            true,
            &mut leaf_depth,
            &mut report,
        )?;
        report.depth = leaf_depth.unwrap_or(0);
    }
    Ok(report)
}

/// Checks that no page a tree reaches is free in the page store's durable state (valid
/// when `report` describes a checkpointed root).
pub fn check_not_free(report: &IntegrityReport, allocation: &AllocationReport) -> Result<()> {
    match report
        .pages
        .iter()
        .find(|p| allocation.free.contains(p.0) || p.0 >= allocation.high_water)
    {
        Some(&page) => Err(corrupt(
            page,
            "page is reachable but free (or beyond the file)",
        )),
        None => Ok(()),
    }
}

fn claim(report: &mut IntegrityReport, page: PageId) -> Result<()> {
    if report.pages.insert(page) {
        Ok(())
    } else {
        Err(corrupt(page, "page reached twice"))
    }
}

fn claim_chain(
    pages: Pages<'_>,
    report: &mut IntegrityReport,
    first: PageId,
    len: usize,
) -> Result<()> {
    for page in chain_pages(pages, first, len)? {
        claim(report, page)?;
        report.overflow_pages += 1;
    }
    Ok(())
}

#[allow(
    clippy::too_many_arguments,
    reason = "a recursive walk carrying its bounds"
)]
fn check_node(
    pages: Pages<'_>,
    id: PageId,
    low: Option<&[u8]>,
    high: Option<&[u8]>,
    depth: usize,
    is_root: bool,
    leaf_depth: &mut Option<usize>,
    report: &mut IntegrityReport,
) -> Result<()> {
    if depth > DEPTH_MAX {
        return Err(corrupt(id, "tree deeper than any valid tree"));
    }
    claim(report, id)?;
    let page = pages.read(id)?;
    let in_bounds = |key: &[u8]| low.is_none_or(|l| key >= l) && high.is_none_or(|h| key < h);
    let kind = node_kind(&page).ok_or_else(|| corrupt(id, "not a tree node"))?;
    // The layout an edit relies on (offsets inside the data area, dead bytes accounted).
    check_slotted(&page, id, kind)?;
    match kind {
        NodeKind::Leaf => {
            let view = LeafView::new(&page, id)?;
            report.leaves += 1;
            if view.len() == 0 && !is_root {
                return Err(corrupt(id, "empty non-root leaf"));
            }
            match *leaf_depth {
                None => *leaf_depth = Some(depth),
                Some(d) if d != depth => return Err(corrupt(id, "leaves at different depths")),
                Some(_) => {}
            }
            let mut previous: Option<Vec<u8>> = None;
            for i in 0..view.len() {
                let (key, value) = view.entry(i)?;
                let full = key_bytes(pages, key)?;
                if !in_bounds(&full) {
                    return Err(corrupt(id, format!("entry {i} outside its separators")));
                }
                if previous.as_ref().is_some_and(|p| *p >= full) {
                    return Err(corrupt(
                        id,
                        format!("entries {} and {i} out of order", i - 1),
                    ));
                }
                if let KeyRef::Overflow { first, len } = key {
                    claim_chain(pages, report, first, len)?;
                }
                count_value(pages, report, &page, id, &value)?;
                report.entries += 1;
                previous = Some(full);
            }
        }
        NodeKind::Branch => {
            let view = BranchView::new(&page, id)?;
            report.branches += 1;
            if view.len() == 0 && is_root {
                return Err(corrupt(id, "root branch with a single child"));
            }
            let mut separators: Vec<Vec<u8>> = Vec::with_capacity(view.len());
            for i in 0..view.len() {
                let key = view.key(i)?;
                let full = key_bytes(pages, key)?;
                if !in_bounds(&full) {
                    return Err(corrupt(
                        id,
                        format!("separator {i} outside its parent's bounds"),
                    ));
                }
                if separators.last().is_some_and(|p| *p >= full) {
                    return Err(corrupt(
                        id,
                        format!("separators {} and {i} out of order", i - 1),
                    ));
                }
                if let KeyRef::Overflow { first, len } = key {
                    claim_chain(pages, report, first, len)?;
                }
                separators.push(full);
            }
            for index in 0..=view.len() {
                let child_low = if index == 0 {
                    low
                } else {
                    Some(separators[index - 1].as_slice())
                };
                let child_high = separators.get(index).map_or(high, |e| Some(e.as_slice()));
                check_node(
                    pages,
                    view.child(index)?,
                    child_low,
                    child_high,
                    depth + 1,
                    false,
                    leaf_depth,
                    report,
                )?;
            }
        }
    }
    Ok(())
}
