//! The rows of one table in memory, with its primary-key map, unique and ordered indexes,
//! auto-increment counter and constraint checks. No I/O and no locking happen here.
//!
//! Rows live in a slab ([`Slab`], shared copy-on-write between versions of the table);
//! indexes refer to slots. While every insert
//! carries a key above all existing keys (the auto-increment case), slot order is key order
//! and scans need no sorting; otherwise a sorted slot list is built on the next ordered read.
//! Every change is written to an undo journal so that a statement can be rolled back
//! exactly (a failed transaction drops its copy of the table), and a commit logs it;
//! committing clears it.
//!
//! This module holds the slab and the reads; [`write`](mod@write) the changes and their index upkeep,
//! [`constraints`] the checks a change must pass, [`journal`] the undo journal (marks,
//! rollback, the changes a commit logs), and [`bulk`] whole-table work (loading, replaying a
//! log, rebuilding, converting the row kind).

mod bulk;
mod checks;
mod constraints;
mod journal;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;
mod write;

use std::cmp::Ordering;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, OnceLock};

use crate::error::Result;
use crate::index::{
    dense_position, CompositeIndex, HashIndex, KeyIndex, OrderedIndex, ValueHasher,
};
use crate::record::Record;
use crate::schema::{ColumnType, Schema};
use crate::value::{Value, ValueRef};

pub(crate) use crate::slab::Slab;
use crate::slab::{Mirror, NumKind};
pub(crate) use checks::CheckRule;
pub(crate) use journal::Mark;
use journal::Undo;

pub(crate) struct TableData<R> {
    pub(crate) schema: Arc<Schema>,
    /// Whether the schema has a `json` column (set with the schema, which never changes:
    /// a migration makes a new table), read on every key lookup of a join.
    pub(crate) has_json: bool,
    rows: Slab<R>,
    live: usize,
    hasher: ValueHasher,
    pk: KeyIndex,
    /// One per unique column, then one per composite unique constraint.
    uniques: Vec<HashIndex>,
    ordered: Vec<OrderedIndex>,
    /// One per composite index.
    composites: Vec<CompositeIndex>,
    /// The schema's checks, compiled.
    checks: Arc<[CheckRule]>,
    /// The next auto-increment key; never goes down, so a key is never handed out twice.
    next_key: i64,
    /// True while live rows in slot order are in ascending key order.
    in_order: bool,
    /// Live slots sorted by key, built on demand while `in_order` is false.
    order_cache: OnceLock<Arc<Vec<u32>>>,
    undo: Vec<Undo>,
    /// Journal entries below this index may not grow: a mark was taken after them.
    undo_floor: AtomicUsize,
    /// The old rows of `Undo::Replace` and `Undo::Delete` entries, in journal order.
    olds: Vec<Arc<R>>,
    /// Hashes of the unique keys of the row being inserted, `None` for a key holding a null
    /// (reused, not reallocated).
    scratch: Vec<Option<u64>>,
}

impl<R> std::fmt::Debug for TableData<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableData")
            .field("table", &self.schema.table)
            .field("rows", &self.live)
            .finish_non_exhaustive()
    }
}

/// A version of the table that shares its rows and indexes with this one (see [`Slab`]):
/// what a writer changes instead of the version readers see. A committed table's journal is
/// empty; a table with pending changes is copied when something else holds the version the
/// transaction is writing (an automatic index a SQL statement made of it), and its copy
/// carries the journal and the rows it points to, so the changes reach the log, the
/// foreign-key checks and a rollback exactly as they would have from the original.
impl<R: Clone> Clone for TableData<R> {
    fn clone(&self) -> Self {
        TableData {
            schema: self.schema.clone(),
            has_json: self.has_json,
            rows: self.rows.clone(),
            live: self.live,
            hasher: self.hasher.clone(),
            pk: self.pk.clone(),
            uniques: self.uniques.clone(),
            ordered: self.ordered.clone(),
            composites: self.composites.clone(),
            checks: self.checks.clone(),
            next_key: self.next_key,
            in_order: self.in_order,
            order_cache: self.order_cache.clone(),
            undo: self.undo.clone(),
            undo_floor: AtomicUsize::new(self.undo_floor.load(AtomicOrdering::Relaxed)),
            olds: self.olds.clone(),
            scratch: Vec::new(),
        }
    }
}

/// The most columns a table's slab mirrors (see [`Slab`]): each costs 8 bytes a row, and
/// 136 bytes more to copy when a write changes one of a leaf's values.
const MIRRORED: usize = 4;

/// The columns a table's slab mirrors: its numeric columns, other than the primary key, that
/// no ordered index serves (a filter or order on one of those walks the index instead), the
/// first [`MIRRORED`] in schema order. The key is left out: a key is found through its own
/// index, ordered by walking the slots in key order, and mirroring it would add its values
/// to every inserted row's and every copied leaf's cost.
fn mirror_of(schema: &Schema) -> Mirror {
    let kind = |ty: ColumnType| match ty {
        ColumnType::Bool => Some(NumKind::Bool),
        ColumnType::F32 | ColumnType::F64 => Some(NumKind::Float),
        t if t.is_int() => Some(NumKind::Int),
        _ => None,
    };
    let cols = (schema.columns.iter().enumerate())
        .filter(|&(i, c)| i != schema.primary_key() && !c.has_ordered_index())
        .filter_map(|(i, c)| Some((i, kind(c.ty)?)))
        .take(MIRRORED)
        .collect();
    Mirror::new(cols)
}

impl<R: Record> TableData<R> {
    /// An empty table of `schema`; fails if one of its checks does not compile
    /// (`Error::InvalidExpression`).
    pub(crate) fn new(schema: Arc<Schema>) -> Result<Self> {
        let checks = checks::compile(&schema)?;
        Ok(Self::with_checks(schema, checks))
    }

    /// An empty table of the same schema.
    pub(crate) fn empty_like(&self) -> Self {
        Self::with_checks(self.schema.clone(), self.checks.clone())
    }

    fn with_checks(schema: Arc<Schema>, checks: Arc<[CheckRule]>) -> Self {
        let pk_col = schema.primary_key();
        let pk = KeyIndex::new(pk_col, schema.columns[pk_col].ty);
        let positions = |names: &[String]| -> Vec<usize> {
            names.iter().filter_map(|n| schema.position(n)).collect()
        };
        let mut uniques: Vec<HashIndex> = (0..schema.columns.len())
            .filter(|&c| schema.columns[c].unique)
            .map(HashIndex::new)
            .collect();
        uniques.extend(
            schema
                .unique
                .iter()
                .map(|names| HashIndex::composite(&positions(names))),
        );
        let ordered = (0..schema.columns.len())
            .filter(|&c| schema.columns[c].has_ordered_index())
            .map(|c| OrderedIndex::new(c, schema.columns[c].ty))
            .collect();
        let composites = schema
            .index
            .iter()
            .map(|names| {
                let cols = positions(names);
                let types: Vec<_> = cols.iter().map(|&c| schema.columns[c].ty).collect();
                CompositeIndex::new(&cols, &types)
            })
            .collect();
        let mirror = mirror_of(&schema);
        TableData {
            has_json: schema.columns.iter().any(|c| c.ty == ColumnType::Json),
            schema,
            rows: Slab::mirroring(mirror),
            live: 0,
            hasher: ValueHasher::default(),
            pk,
            uniques,
            ordered,
            composites,
            checks,
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

    /// The bytes of this version's rows, row nodes and hash shards that `newer` (a later
    /// version of the same table) does not share: what keeping this one alive costs.
    pub(crate) fn bytes_not_in(&self, newer: &TableData<R>) -> u64 {
        let mut n = self.rows.bytes_not_in(&newer.rows) + self.pk.bytes_not_in(&newer.pk);
        for (u, v) in self.uniques.iter().zip(&newer.uniques) {
            n += u.bytes_not_in(v);
        }
        n
    }

    pub(crate) fn next_key(&self) -> i64 {
        self.next_key
    }

    /// Raises the auto-increment counter (a stored counter, or a key seen in a log).
    pub(crate) fn bump_next_key(&mut self, next: i64) {
        self.next_key = self.next_key.max(next);
    }

    /// Raises the auto-increment counter to `next` inside the current transaction (SQL's
    /// `setval` and `sqlite_sequence`), journaled so that a rollback restores it and the
    /// commit logs it. A lower `next` changes nothing: keys are never reused.
    pub(crate) fn raise_next_key(&mut self, next: i64) {
        if next > self.next_key {
            self.next_key = next;
            self.undo.push(Undo::NextKey);
        }
    }

    #[inline]
    pub(crate) fn row(&self, slot: u32) -> Option<&R> {
        self.rows.get(slot as usize)
    }

    /// The slot of the row with this (already coerced) key.
    #[inline]
    pub(crate) fn find_key(&self, key: ValueRef<'_>) -> Option<u32> {
        self.pk.find(&self.hasher, &self.rows, key)
    }

    /// The row with this (already coerced) key. With a dense key index this is a walk down
    /// the slab (the leaf's pointer, then the row), short enough that the CPU overlaps
    /// consecutive lookups' cache misses.
    #[inline]
    pub(crate) fn row_by_key(&self, key: ValueRef<'_>) -> Option<&R> {
        if let (Some(base), ValueRef::Int(k)) = (self.pk.dense_base(), key) {
            let slot = dense_position(base, k)?;
            // Every live row sits at its key's slot (see `KeyIndex::Dense`).
            return self.rows.get(slot);
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
            .find(|u| u.is_column(col))
            .map(|u| u.find(&self.hasher, &self.rows, v))
    }

    /// The row holding `text` in unique text column `col` (not the primary key), with the
    /// whole probe inlined (see [`HashIndex::find_text`]).
    #[inline(always)]
    pub(crate) fn row_by_unique_text(&self, col: usize, text: &str) -> Option<Option<&R>> {
        let u = self.uniques.iter().find(|u| u.is_column(col))?;
        Some(
            u.find_text(&self.hasher, &self.rows, text)
                .and_then(|s| self.rows.get(s as usize)),
        )
    }

    pub(crate) fn ordered_index(&self, col: usize) -> Option<&OrderedIndex> {
        self.ordered.iter().find(|o| o.col == col)
    }

    /// The composite indexes, in the schema's order.
    pub(crate) fn composite_indexes(&self) -> &[CompositeIndex] {
        &self.composites
    }

    /// The composite unique constraints' hash indexes, in the schema's order.
    pub(crate) fn composite_uniques(&self) -> impl Iterator<Item = &HashIndex> + '_ {
        self.uniques.iter().filter(|u| u.columns().nth(1).is_some())
    }

    /// The slot of the row whose composite unique key (`ix`) holds `key`'s values, each
    /// compared as its column compares; `None` if a value is null or of no use to the column.
    pub(crate) fn find_composite_values(&self, ix: &HashIndex, key: &[Value]) -> Option<u32> {
        let mut vals = Vec::with_capacity(key.len());
        for (col, v) in ix.columns().zip(key) {
            let ty = self.schema.columns[col].ty;
            let v = if ty.keeps(v.as_ref()) {
                v.clone()
            } else {
                ty.coerce(v.clone())?
            };
            if v.is_null() {
                return None;
            }
            vals.push(v);
        }
        ix.find_values(&self.hasher, &self.rows, &vals)
    }

    /// Live slots in primary-key order.
    pub(crate) fn slots_in_key_order(&self) -> Box<dyn DoubleEndedIterator<Item = u32> + '_> {
        if self.in_order {
            Box::new(self.rows.live().map(|(s, _)| s))
        } else {
            Box::new(self.slots_in_key_order_cache().iter().copied())
        }
    }

    /// Live slots sorted by key, built once per version while slot order is not key order.
    fn slots_in_key_order_cache(&self) -> &[u32] {
        self.order_cache.get_or_init(|| {
            let mut v: Vec<u32> = self.rows.live().map(|(s, _)| s).collect();
            v.sort_unstable_by(|&a, &b| self.cmp_keys(a, b));
            Arc::new(v)
        })
    }

    /// Live rows with their slots in primary-key order, from either end.
    pub(crate) fn rows_in_key_order(&self) -> Box<dyn DoubleEndedIterator<Item = (u32, &R)> + '_> {
        if self.in_order {
            Box::new(self.rows.live())
        } else {
            let sorted = self.slots_in_key_order_cache();
            Box::new(
                sorted
                    .iter()
                    .filter_map(|&s| self.rows.get(s as usize).map(|r| (s, r))),
            )
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
        self.rows.live_in(range)
    }

    /// The slab itself: its mirrored columns, and its live rows with their values of
    /// them ([`Slab::leaves`]).
    #[inline]
    pub(crate) fn rows(&self) -> &Slab<R> {
        &self.rows
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

    /// While the key index is dense, the key of slot `s` is this plus `s`: a live slot's
    /// key is known without reading its row.
    #[inline]
    pub(crate) fn dense_key_base(&self) -> Option<i64> {
        self.pk.dense_base()
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
