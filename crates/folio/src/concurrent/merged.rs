//! [`Merged`]: a concurrent transaction's range: its snapshot's entries merged with its own
//! buffered writes (a buffered put replaces or adds an entry, a buffered delete hides one),
//! from either end.

use std::collections::btree_map;

use super::write::{self, Write};
use crate::{Range, Result, Value};

/// One side of the merge with an entry looked at from each end. `next` and `next_back`
/// meet in the middle: an entry peeked at one end is taken by the other once the iterator
/// below is empty, so none is yielded twice.
struct Peeked<I: DoubleEndedIterator> {
    iter: I,
    front: Option<I::Item>,
    back: Option<I::Item>,
}

impl<I: DoubleEndedIterator> Peeked<I> {
    fn new(iter: I) -> Self {
        Self {
            iter,
            front: None,
            back: None,
        }
    }

    fn peek_front(&mut self) -> Option<&I::Item> {
        if self.front.is_none() {
            self.front = self.iter.next().or_else(|| self.back.take());
        }
        self.front.as_ref()
    }

    fn peek_back(&mut self) -> Option<&I::Item> {
        if self.back.is_none() {
            self.back = self.iter.next_back().or_else(|| self.front.take());
        }
        self.back.as_ref()
    }

    fn take(&mut self, front: bool) -> Option<I::Item> {
        if front {
            self.front.take()
        } else {
            self.back.take()
        }
    }
}

type Own<'t> = btree_map::Range<'t, Vec<u8>, Write>;

/// The merged entries of a range (see the module docs).
pub(crate) struct Merged<'t> {
    base: Peeked<Range<'static>>,
    own: Peeked<Own<'t>>,
    /// Yields descending from `next` (a `range_rev`).
    reverse: bool,
    /// The column family's name, for a counter's error.
    cf: std::sync::Arc<str>,
    /// The column family's merge operator, for buffered merges.
    operator: Option<crate::MergeOperator>,
    /// An error was yielded: the range has ended.
    failed: bool,
}

impl std::fmt::Debug for Merged<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Merged")
            .field("reverse", &self.reverse)
            .finish_non_exhaustive()
    }
}

impl<'t> Merged<'t> {
    /// `base` ascending (the snapshot's range), `own` the buffered writes in the same range.
    pub(crate) fn new(
        base: Range<'static>,
        own: Own<'t>,
        reverse: bool,
        cf: std::sync::Arc<str>,
        operator: Option<crate::MergeOperator>,
    ) -> Self {
        Self {
            base: Peeked::new(base),
            own: Peeked::new(own),
            reverse,
            cf,
            operator,
            failed: false,
        }
    }

    /// The next entry from the front (`front`) or the back.
    fn step(&mut self, front: bool) -> Option<Result<(Vec<u8>, Value)>> {
        if self.failed {
            return None;
        }
        loop {
            let (base, own) = if front {
                (self.base.peek_front(), self.own.peek_front())
            } else {
                (self.base.peek_back(), self.own.peek_back())
            };
            // Which side comes first at this end: the snapshot (`true`) or the buffer; on
            // equal keys the buffer's write applies to the snapshot's entry, taken with it.
            let mut stored = None;
            let take_base = match (base, own) {
                (None, None) => return None,
                (Some(Err(_)), _) => {
                    self.failed = true;
                    return self.base.take(front);
                }
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(Ok((base_key, _))), Some((own_key, _))) => {
                    let order = base_key.as_slice().cmp(own_key.as_slice());
                    if order.is_eq() {
                        stored = self.base.take(front).and_then(Result::ok).map(|(_, v)| v);
                        false
                    } else {
                        order.is_lt() == front
                    }
                }
            };
            if take_base {
                return self.base.take(front);
            }
            let (key, write) = self.own.take(front).expect("peeked");
            let value = match write::after(
                &self.cf,
                key,
                stored.as_deref(),
                write,
                self.operator.as_ref(),
            ) {
                Ok(Some(value)) => value,
                // A buffered delete hides the entry (taken above if the snapshot had one);
                // look further.
                Ok(None) => continue,
                Err(error) => {
                    self.failed = true;
                    return Some(Err(error));
                }
            };
            return Some(Ok((key.clone(), Value::from(value))));
        }
    }

    pub(crate) fn next_entry(&mut self) -> Option<Result<(Vec<u8>, Value)>> {
        self.step(!self.reverse)
    }

    pub(crate) fn next_back_entry(&mut self) -> Option<Result<(Vec<u8>, Value)>> {
        self.step(self.reverse)
    }
}
