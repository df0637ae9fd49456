//! The rows of one table in memory, with its primary-key map, unique and ordered indexes,
//! auto-increment counter and constraint checks. No I/O and no locking happen here.
//!
//! Rows live in a slab (`Vec<Option<R>>`); indexes refer to slots. While every insert
//! carries a key above all existing keys (the auto-increment case), slot order is key order
//! and scans need no sorting; otherwise a sorted slot list is built on the next ordered read.
//! Every change is written to an undo journal so that a statement or a transaction can be
//! rolled back exactly; committing clears it.
//!
//! This module holds the slab and the reads; [`write`] the changes and their index upkeep,
//! [`constraints`] the checks a change must pass, [`journal`] the undo journal (marks,
//! rollback, the changes a commit logs), and [`bulk`] whole-table work (loading, replaying a
//! log, rebuilding, converting the row kind).

mod bulk;
mod constraints;
mod journal;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;
mod write;

use std::cmp::Ordering;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, OnceLock};

use crate::index::{dense_position, HashIndex, KeyIndex, OrderedIndex, ValueHasher};
use crate::record::Record;
use crate::schema::Schema;
use crate::value::{Value, ValueRef};

pub(crate) use journal::Mark;
use journal::Undo;

pub(crate) struct TableData<R> {
    pub(crate) schema: Arc<Schema>,
    rows: Vec<Option<R>>,
    live: usize,
    hasher: ValueHasher,
    pk: KeyIndex,
    uniques: Vec<HashIndex>,
    ordered: Vec<OrderedIndex>,
    /// The next auto-increment key; never goes down, so a key is never handed out twice.
    next_key: i64,
    /// True while live rows in slot order are in ascending key order.
    in_order: bool,
    /// Live slots sorted by key, built on demand while `in_order` is false.
    order_cache: OnceLock<Vec<u32>>,
    undo: Vec<Undo>,
    /// Journal entries below this index may not grow: a mark was taken after them.
    undo_floor: AtomicUsize,
    /// The old rows of `Undo::Replace` and `Undo::Delete` entries, in journal order.
    olds: Vec<R>,
    /// Hashes of the unique columns of the row being inserted (reused, not reallocated).
    scratch: Vec<u64>,
}

impl<R> std::fmt::Debug for TableData<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableData")
            .field("table", &self.schema.table)
            .field("rows", &self.live)
            .finish_non_exhaustive()
    }
}

impl<R: Record> TableData<R> {
    pub(crate) fn new(schema: Arc<Schema>) -> Self {
        let pk_col = schema.primary_key();
        let pk = KeyIndex::new(pk_col, schema.columns[pk_col].ty);
        let uniques = (0..schema.columns.len())
            .filter(|&c| schema.columns[c].unique)
            .map(HashIndex::new)
            .collect();
        let ordered = (0..schema.columns.len())
            .filter(|&c| schema.columns[c].has_ordered_index())
            .map(|c| OrderedIndex::new(c, schema.columns[c].ty))
            .collect();
        TableData {
            schema,
            rows: Vec::new(),
            live: 0,
            hasher: ValueHasher::default(),
            pk,
            uniques,
            ordered,
            next_key: 1,
            in_order: true,
            order_cache: OnceLock::new(),
            undo: Vec::new(),
            undo_floor: AtomicUsize::new(0),
            olds: Vec::new(),
            scratch: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.live
    }

    pub(crate) fn next_key(&self) -> i64 {
        self.next_key
    }

    /// Raises the auto-increment counter (a stored counter, or a key seen in a log).
    pub(crate) fn bump_next_key(&mut self, next: i64) {
        self.next_key = self.next_key.max(next);
    }

    #[inline]
    pub(crate) fn row(&self, slot: u32) -> Option<&R> {
        self.rows.get(slot as usize).and_then(Option::as_ref)
    }

    /// The slot of the row with this (already coerced) key.
    #[inline]
    pub(crate) fn find_key(&self, key: ValueRef<'_>) -> Option<u32> {
        self.pk.find(&self.hasher, &self.rows, key)
    }

    /// The row with this (already coerced) key. With a dense key index this is one read of
    /// the slab, short enough that the CPU overlaps consecutive lookups' cache misses.
    #[inline]
    pub(crate) fn row_by_key(&self, key: ValueRef<'_>) -> Option<&R> {
        if let (Some(base), ValueRef::Int(k)) = (self.pk.dense_base(), key) {
            let slot = dense_position(base, k)?;
            // Every live row sits at its key's slot (see `KeyIndex::Dense`).
            return self.rows.get(slot)?.as_ref();
        }
        self.find_key(key).and_then(|s| self.row(s))
    }

    /// The slot of the row holding `v` in unique column `col`, if `col` is unique.
    #[inline]
    pub(crate) fn find_unique(&self, col: usize, v: ValueRef<'_>) -> Option<Option<u32>> {
        if col == self.schema.primary_key() {
            return Some(self.find_key(v));
        }
        self.uniques
            .iter()
            .find(|u| u.col == col)
            .map(|u| u.find(&self.hasher, &self.rows, v))
    }

    /// The row holding `text` in unique text column `col` (not the primary key), with the
    /// whole probe inlined (see [`HashIndex::find_text`]).
    #[inline(always)]
    pub(crate) fn row_by_unique_text(&self, col: usize, text: &str) -> Option<Option<&R>> {
        let u = self.uniques.iter().find(|u| u.col == col)?;
        Some(
            u.find_text(&self.hasher, &self.rows, text)
                .and_then(|s| self.rows[s as usize].as_ref()),
        )
    }

    pub(crate) fn ordered_index(&self, col: usize) -> Option<&OrderedIndex> {
        self.ordered.iter().find(|o| o.col == col)
    }

    /// Live slots in primary-key order.
    pub(crate) fn slots_in_key_order(&self) -> Box<dyn DoubleEndedIterator<Item = u32> + '_> {
        if self.in_order {
            Box::new(
                self.rows
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.is_some())
                    .map(|(s, _)| s as u32),
            )
        } else {
            let sorted = self.order_cache.get_or_init(|| {
                let mut v: Vec<u32> = (0..self.rows.len() as u32)
                    .filter(|&s| self.rows[s as usize].is_some())
                    .collect();
                v.sort_unstable_by(|&a, &b| self.cmp_keys(a, b));
                v
            });
            Box::new(sorted.iter().copied())
        }
    }

    /// Live rows in primary-key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &R)> + '_ {
        // While slot order is key order, walk the slab itself (no per-row dispatch or second
        // lookup); otherwise the sorted slot list.
        let (slab, sorted) = if self.in_order {
            (Some(self.slab()), None)
        } else {
            let sorted = self
                .slots_in_key_order()
                .filter_map(|s| self.row(s).map(|r| (s, r)));
            (None, Some(sorted))
        };
        slab.into_iter()
            .flatten()
            .chain(sorted.into_iter().flatten())
    }

    /// Live rows in slot order, which is key order only while `in_order`.
    #[inline]
    pub(crate) fn slab(&self) -> impl Iterator<Item = (u32, &R)> + '_ {
        self.slab_range(0..self.rows.len())
    }

    /// Live rows of the slots in `range` (clamped to the slab), in slot order.
    #[inline]
    pub(crate) fn slab_range(
        &self,
        range: std::ops::Range<usize>,
    ) -> impl Iterator<Item = (u32, &R)> + '_ {
        let end = range.end.min(self.rows.len());
        let start = range.start.min(end);
        self.rows[start..end]
            .iter()
            .enumerate()
            .filter_map(move |(i, r)| r.as_ref().map(|r| ((start + i) as u32, r)))
    }

    /// Compares two live slots by primary key.
    #[inline]
    pub(crate) fn cmp_keys(&self, a: u32, b: u32) -> Ordering {
        let pk = self.schema.primary_key();
        match (self.row(a), self.row(b)) {
            (Some(x), Some(y)) => x.col(pk).total_cmp(y.col(pk)),
            _ => a.cmp(&b),
        }
    }

    /// The number of slots, live or not: every slot number is below it.
    pub(crate) fn slot_count(&self) -> usize {
        self.rows.len()
    }

    /// Whether live rows in slot order are in key order.
    pub(crate) fn slots_in_order(&self) -> bool {
        self.in_order
    }

    /// Slots whose column `col` equals `v`, through its ordered index (or a scan).
    pub(crate) fn slots_where(&self, col: usize, v: &Value) -> Vec<u32> {
        match self.ordered_index(col) {
            Some(ix) => ix
                .range(
                    &std::ops::Bound::Included(v.clone()),
                    &std::ops::Bound::Included(v.clone()),
                )
                .map(|(_, s)| s)
                .collect(),
            None => self
                .iter()
                .filter(|(_, r)| r.col(col) == v.as_ref())
                .map(|(s, _)| s)
                .collect(),
        }
    }

    fn table_name(&self) -> &str {
        &self.schema.table
    }
}
