//! [`Database::check_integrity`]: every reachable page's checksum and B-tree order, the
//! allocator's view against reachability, and the log's records.

use std::collections::BTreeSet;
use std::fmt;

use folio_pagestore::{AllocationReport, PageId};
use folio_wal::{Lsn, Wal};

use crate::log_record::decode;
use crate::roots::Roots;
use crate::{Database, ReadTransaction, Result};

/// Leaked pages listed by number in a report (the count is always exact).
const LEAKED_LISTED: usize = 16;

/// One column family in an [`IntegrityReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfIntegrity {
    /// Its name.
    pub name: String,
    /// Entries counted.
    pub entries: u64,
    /// Pages its tree reaches (nodes and overflow).
    pub pages: u64,
    /// Tree levels.
    pub depth: usize,
}

/// Something [`Database::check_integrity`] found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IntegrityProblem {
    /// A column family's tree is damaged (bad checksum, order, structure); the first problem
    /// found in it.
    Tree {
        /// The column family.
        cf: String,
        /// What is wrong and where.
        detail: String,
    },
    /// The catalog tree (column-family names and roots) is damaged.
    Catalog {
        /// What is wrong and where.
        detail: String,
    },
    /// The entry count recorded for a column family differs from the entries in its tree.
    LengthMismatch {
        /// The column family.
        cf: String,
        /// The recorded count.
        recorded: u64,
        /// The entries counted.
        counted: u64,
    },
    /// A page is reachable from two places.
    SharedPage {
        /// The page.
        page: u64,
    },
    /// A reachable page is in the free list (it could be handed out and overwritten).
    UsedAndFree {
        /// The page.
        page: u64,
    },
    /// A reachable page lies past the end the allocator knows.
    BeyondEnd {
        /// The page.
        page: u64,
    },
    /// Pages neither reachable nor free: space lost until a rewrite.
    Leaked {
        /// How many.
        count: u64,
        /// The first few.
        pages: Vec<u64>,
    },
    /// A log record does not decode.
    Log {
        /// What is wrong and where.
        detail: String,
    },
}

impl fmt::Display for IntegrityProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tree { cf, detail } => write!(f, "column family {cf:?}: {detail}"),
            Self::Catalog { detail } => write!(f, "catalog: {detail}"),
            Self::LengthMismatch {
                cf,
                recorded,
                counted,
            } => write!(
                f,
                "column family {cf:?}: {recorded} entries recorded, {counted} in the tree"
            ),
            Self::SharedPage { page } => write!(f, "page {page} is reachable twice"),
            Self::UsedAndFree { page } => write!(f, "page {page} is in use and in the free list"),
            Self::BeyondEnd { page } => write!(f, "page {page} is past the allocated end"),
            Self::Leaked { count, pages } => {
                write!(
                    f,
                    "{count} pages are neither used nor free (first: {pages:?})"
                )
            }
            Self::Log { detail } => write!(f, "log: {detail}"),
        }
    }
}

/// Progress of [`Database::check_integrity_with_progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckProgress {
    /// Column families checked so far.
    pub column_families_done: usize,
    /// Column families to check.
    pub column_families_total: usize,
}

/// What [`Database::check_integrity`] checked and found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrityReport {
    /// The version checked.
    pub version: Lsn,
    /// Column families, by name.
    pub column_families: Vec<CfIntegrity>,
    /// Pages reachable (trees, catalog, free-list pages).
    pub pages_reachable: u64,
    /// Pages free in the durable state.
    pub pages_free: u64,
    /// Pages the data file holds (the allocator's end).
    pub pages_total: u64,
    /// Whether the allocator was checked against reachability: only when no commit
    /// happened since the last checkpoint (otherwise the durable free list describes an
    /// older version; checkpoint first to include it).
    pub allocator_checked: bool,
    /// Log records decoded.
    pub log_records_checked: u64,
    /// Everything found wrong; empty for a healthy database.
    pub problems: Vec<IntegrityProblem>,
}

impl IntegrityReport {
    /// True when nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Database {
    /// Checks the database; see [`Database::check_integrity_with_progress`].
    pub fn check_integrity(&self) -> Result<IntegrityReport> {
        self.check_integrity_with_progress(|_| {})
    }

    /// Checks every column family's tree (each page's checksum, key order, structure,
    /// entry count), the catalog, that no page is reachable twice, the allocator's durable
    /// free list against the pages reachable (when nothing was committed since the last
    /// checkpoint: no page both used and free, none leaked), and that every log record
    /// decodes. Readers and writers continue meanwhile; checkpoints wait. Problems are
    /// listed in the report; `Err` only when the check itself cannot run.
    pub fn check_integrity_with_progress(
        &self,
        progress: impl FnMut(&CheckProgress),
    ) -> Result<IntegrityReport> {
        let inner = &self.inner;
        // No checkpoint while checking: the durable roots and free list stay put.
        let last_checkpoint = inner.checkpoints.hold();
        let read = self.begin_read();
        let store = &inner.store;
        let mut walk = Reachability::default();
        let column_families = walk.column_families(&read, progress)?;

        let Roots {
            catalog: catalog_root,
            version: durable_version,
        } = Roots::decode(&store.roots())?;
        match folio_btree::check_tree(store, catalog_root) {
            Ok(report) => walk.claim(&report.pages),
            Err(error) => walk.problems.push(IntegrityProblem::Catalog {
                detail: error.to_string(),
            }),
        }
        let allocation = store.allocation_report();
        let freelist: BTreeSet<PageId> = allocation.freelist_pages.iter().copied().collect();
        walk.claim(&freelist);

        let allocator_checked = read.version() == durable_version
            && last_checkpoint.version == durable_version
            && walk.problems.is_empty();
        if allocator_checked {
            walk.check_allocator(&allocation);
        }
        drop(last_checkpoint);

        let first = inner.wal.stats().oldest_lsn.max(durable_version + 1);
        let log_records_checked = walk.check_log(&inner.wal, first)?;
        Ok(IntegrityReport {
            version: read.version(),
            column_families,
            pages_reachable: walk.pages.len() as u64,
            pages_free: allocation.free.page_count(),
            pages_total: allocation.high_water,
            allocator_checked,
            log_records_checked,
            problems: walk.problems,
        })
    }
}

/// Pages reached so far and problems found.
#[derive(Default)]
struct Reachability {
    pages: BTreeSet<u64>,
    problems: Vec<IntegrityProblem>,
}

impl Reachability {
    /// Marks `pages` reached; a page reached twice is a problem.
    fn claim(&mut self, pages: &BTreeSet<PageId>) {
        for page in pages {
            if !self.pages.insert(page.0) {
                self.problems
                    .push(IntegrityProblem::SharedPage { page: page.0 });
            }
        }
    }

    /// Checks every column family's tree in `read`.
    fn column_families(
        &mut self,
        read: &ReadTransaction,
        mut progress: impl FnMut(&CheckProgress),
    ) -> Result<Vec<CfIntegrity>> {
        let names = read.cf_names();
        let mut column_families = Vec::with_capacity(names.len());
        for (done, name) in names.iter().enumerate() {
            let tree = read.tree(name)?;
            match folio_btree::check_tree(tree.btree().store(), tree.btree().root()) {
                Ok(report) => {
                    let recorded = read.len(name)?;
                    if recorded != report.entries {
                        self.problems.push(IntegrityProblem::LengthMismatch {
                            cf: name.clone(),
                            recorded,
                            counted: report.entries,
                        });
                    }
                    self.claim(&report.pages);
                    column_families.push(CfIntegrity {
                        name: name.clone(),
                        entries: report.entries,
                        pages: report.pages.len() as u64,
                        depth: report.depth,
                    });
                }
                Err(error) => self.problems.push(IntegrityProblem::Tree {
                    cf: name.clone(),
                    detail: error.to_string(),
                }),
            }
            progress(&CheckProgress {
                column_families_done: done + 1,
                column_families_total: names.len(),
            });
        }
        Ok(column_families)
    }

    /// Reachable pages against the durable free list: none free, none past the end, and
    /// every other page free (else leaked).
    fn check_allocator(&mut self, allocation: &AllocationReport) {
        for &page in &self.pages {
            if page >= allocation.high_water {
                self.problems.push(IntegrityProblem::BeyondEnd { page });
            } else if allocation.free.contains(page) {
                self.problems.push(IntegrityProblem::UsedAndFree { page });
            }
        }
        let mut leaked = Vec::new();
        let mut count = 0;
        for page in 0..allocation.high_water {
            if !self.pages.contains(&page) && !allocation.free.contains(page) {
                count += 1;
                if leaked.len() < LEAKED_LISTED {
                    leaked.push(page);
                }
            }
        }
        if count > 0 {
            self.problems.push(IntegrityProblem::Leaked {
                count,
                pages: leaked,
            });
        }
    }

    /// Decodes every log record from `first`; returns how many.
    fn check_log(&mut self, wal: &Wal, first: Lsn) -> Result<u64> {
        let mut checked = 0;
        if first > wal.last_lsn() {
            return Ok(0);
        }
        for record in wal.read_from(first)? {
            match record {
                Ok((lsn, payload)) => {
                    if let Err(error) = decode(lsn, &payload) {
                        self.problems.push(IntegrityProblem::Log {
                            detail: error.to_string(),
                        });
                    }
                    checked += 1;
                }
                Err(error) => {
                    self.problems.push(IntegrityProblem::Log {
                        detail: error.to_string(),
                    });
                    break;
                }
            }
        }
        Ok(checked)
    }
}
