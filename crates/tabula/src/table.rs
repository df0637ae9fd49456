//! The rows of one table in memory, with its primary-key map, unique and ordered indexes,
//! auto-increment counter and constraint checks. No I/O and no locking happen here.
//!
//! Rows live in a slab (`Vec<Option<R>>`); indexes refer to slots. While every insert
//! carries a key above all existing keys (the auto-increment case), slot order is key order
//! and scans need no sorting; otherwise a sorted slot list is built on the next ordered read.
//! Every change is written to an undo journal so that a statement or a transaction can be
//! rolled back exactly; committing clears it.

use std::cmp::Ordering;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, OnceLock};

use crate::error::{Error, Result};
use crate::index::{dense_position, max_key_gap, HashIndex, KeyIndex, OrderedIndex, ValueHasher};
use crate::record::Record;
use crate::schema::Schema;
use crate::value::{Value, ValueRef};

/// One change, kept until commit so that it can be undone. Replaced and deleted rows wait
/// in `TableData::olds`, so an entry is 12 bytes whatever the row type.
#[derive(Debug, Clone, Copy)]
enum Undo {
    /// Rows inserted into `count` consecutive slots from `first`: a bulk insert is one entry.
    /// An entry grows only while no mark was taken after it (see `TableData::undo_floor`),
    /// so rolling back to a mark never splits one.
    Insert {
        first: u32,
        count: u32,
    },
    Replace {
        slot: u32,
    },
    Delete {
        slot: u32,
    },
}

/// A point in the undo journal to roll back to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    undo_len: usize,
    /// Slots in the slab: the ones added since (all empty again once rolled back) go.
    rows_len: usize,
    next_key: i64,
    in_order: bool,
}

/// What a committed transaction did to one table, as physical row images: the keys that no
/// longer exist, and the final image of every row written. Applying it twice gives the same
/// state; it is what the write-ahead log records.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TableChanges {
    pub(crate) deletes: Vec<Value>,
    pub(crate) puts: Vec<Vec<Value>>,
}

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

    /// Makes room for `n` more rows, so a bulk insert does not rehash or regrow.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.rows.reserve(n);
        self.pk.reserve(&self.hasher, &self.rows, n);
        for u in &mut self.uniques {
            u.reserve(&self.hasher, &self.rows, n);
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

    pub(crate) fn mark(&self) -> Mark {
        self.undo_floor
            .store(self.undo.len(), AtomicOrdering::Relaxed);
        Mark {
            undo_len: self.undo.len(),
            rows_len: self.rows.len(),
            next_key: self.next_key,
            in_order: self.in_order,
        }
    }

    fn table_name(&self) -> &str {
        &self.schema.table
    }

    fn unique_violation(&self, col: usize, v: ValueRef<'_>) -> Error {
        Error::UniqueViolation {
            table: self.table_name().to_owned(),
            column: self.schema.columns[col].name.clone(),
            value: v.to_owned(),
        }
    }

    /// Assigns an auto-increment key when the row's integer key is 0.
    fn assign_key(&mut self, row: &mut R) -> Result<()> {
        let pk = self.schema.primary_key();
        if let ValueRef::Int(0) = row.col(pk) {
            let ty = self.schema.columns[pk].ty;
            let (_, max) = ty.int_range().unwrap_or((0, i64::MAX));
            if self.next_key > max || self.next_key < 1 {
                return Err(Error::KeyExhausted {
                    table: self.table_name().to_owned(),
                    column: self.schema.columns[pk].name.clone(),
                    last: self.next_key - 1,
                });
            }
            row.set_key(pk, self.next_key);
        }
        Ok(())
    }

    /// Checks the unique columns of `row` against every row but `except`.
    /// Checks the unique columns whose value `new` changes from `old` (the row at `slot`):
    /// an unchanged value already owns its entry, so only changed ones can collide.
    fn check_changed_uniques(&self, old: &R, new: &R, slot: u32) -> Result<()> {
        for u in &self.uniques {
            let v = new.col(u.col);
            if old.col(u.col) != v {
                if let Some(s) = u.find(&self.hasher, &self.rows, v) {
                    if s != slot {
                        return Err(self.unique_violation(u.col, v));
                    }
                }
            }
        }
        Ok(())
    }

    fn index_slot(&mut self, slot: u32) {
        let Some(row) = self.rows[slot as usize].as_ref() else {
            return;
        };
        for o in &mut self.ordered {
            o.insert(row.col(o.col), slot);
        }
        let hash = self
            .pk
            .hash(&self.hasher, row.col(self.schema.primary_key()));
        self.pk.insert(&self.hasher, hash, &self.rows, slot);
        for u in &mut self.uniques {
            u.insert(&self.hasher, &self.rows, slot);
        }
    }

    fn unindex_slot(&mut self, slot: u32) {
        let Some(row) = self.rows[slot as usize].as_ref() else {
            return;
        };
        for o in &mut self.ordered {
            o.remove(row.col(o.col), slot);
        }
        self.pk.remove(&self.hasher, &self.rows, slot);
        for u in &mut self.uniques {
            u.remove(&self.hasher, &self.rows, slot);
        }
    }

    fn changed(&mut self) {
        if !self.in_order {
            self.order_cache = OnceLock::new();
        }
    }

    /// Inserts a new row; fails with `UniqueViolation` if its key exists. Returns the key.
    pub(crate) fn insert(&mut self, mut row: R) -> Result<Value> {
        row.check_row(&self.schema)?;
        self.assign_key(&mut row)?;
        let pk = self.schema.primary_key();
        let key = row.col(pk);
        let key_hash = self.pk.hash(&self.hasher, key);
        if self.pk.find_hashed(key_hash, &self.rows, key).is_some() {
            return Err(self.unique_violation(pk, key));
        }
        // Each unique value is hashed once, for the check and for the index.
        self.scratch.clear();
        for u in &self.uniques {
            let v = row.col(u.col);
            if v.is_null() {
                self.scratch.push(0);
                continue;
            }
            let h = self.hasher.hash(v);
            if u.find_hashed(h, &self.rows, v).is_some() {
                return Err(self.unique_violation(u.col, v));
            }
            self.scratch.push(h);
        }
        let key = key.to_owned();
        if let Value::Int(k) = key {
            self.next_key = self.next_key.max(k.saturating_add(1));
        }
        // The row goes at the end of the slab, or where a dense key index puts it: a dead
        // slot in the middle (the check above found no live row there), or a little past the
        // end. Slot order stays key order either way.
        let len = self.rows.len();
        let dead = len - self.live;
        let max_gap = max_key_gap(self.live, dead);
        let at = match self.pk.dense_slot(key.as_ref(), len, max_gap) {
            Some(at) if at >= len || self.rows[at].is_none() => at,
            _ => len,
        };
        let slot = u32::try_from(at).map_err(|_| Error::KeyExhausted {
            table: self.table_name().to_owned(),
            column: "(row slots)".into(),
            last: i64::from(u32::MAX),
        })?;
        if at < len {
            self.rows[at] = Some(row);
        } else {
            if self.in_order {
                // The last live row holds the greatest key. Dead slots at the tail are trimmed
                // at commit, so only a transaction that deleted the tail has many to skip;
                // past a few, assume disorder (correct, merely slower to scan).
                let last = self.rows.iter().rev().take(64).find_map(Option::as_ref);
                let tail_dead = last.is_none() && self.rows.len() > 64;
                if tail_dead
                    || last.is_some_and(|l| l.col(pk).total_cmp(key.as_ref()) != Ordering::Less)
                {
                    self.in_order = false;
                }
            }
            self.rows.resize_with(at, || None);
            self.rows.push(Some(row));
        }
        let Some(row) = self.rows[slot as usize].as_ref() else {
            return Ok(key);
        };
        for o in &mut self.ordered {
            o.insert(row.col(o.col), slot);
        }
        self.pk.insert(&self.hasher, key_hash, &self.rows, slot);
        for (u, &h) in self.uniques.iter_mut().zip(&self.scratch) {
            if !row.col(u.col).is_null() {
                u.insert_hashed(&self.hasher, h, &self.rows, slot);
            }
        }
        self.live += 1;
        let floor = *self.undo_floor.get_mut();
        let len = self.undo.len();
        match self.undo.last_mut() {
            Some(Undo::Insert { first, count })
                if len > floor && first.checked_add(*count) == Some(slot) =>
            {
                *count += 1;
            }
            _ => self.undo.push(Undo::Insert {
                first: slot,
                count: 1,
            }),
        }
        self.changed();
        Ok(key)
    }

    /// Replaces the row at `slot` with `new`, which must keep the primary key.
    pub(crate) fn replace(&mut self, slot: u32, new: R) -> Result<()> {
        if self.check_replace(slot, &new)? {
            self.replace_unchecked(slot, new);
        }
        Ok(())
    }

    /// Replaces the row at each of `slots` by the row at the same position of `rows`, as
    /// [`TableData::replace`] does one by one. The replaced rows are journalled in `rows`'
    /// own memory, which becomes the journal's when that is empty: a large update then
    /// touches no fresh memory for its journal (each fresh page costs a page fault). On an
    /// error the rows replaced so far stay journalled, for the statement's rollback.
    pub(crate) fn replace_many(&mut self, slots: &[u32], mut rows: Vec<R>) -> Result<()> {
        // `rows[..done]` hold the rows replaced so far, in journal order.
        let mut done = 0;
        let mut failed = None;
        for i in 0..slots.len().min(rows.len()) {
            match self.check_replace(slots[i], &rows[i]) {
                Ok(true) => {
                    self.swap_in(slots[i], &mut rows[i]);
                    rows.swap(done, i);
                    done += 1;
                }
                Ok(false) => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        rows.truncate(done);
        if self.olds.is_empty() && self.olds.capacity() < rows.len() {
            self.olds = rows;
        } else {
            self.olds.append(&mut rows);
        }
        failed.map_or(Ok(()), Err)
    }

    /// Checks that `new` may replace the row at `slot`: false if there is none.
    fn check_replace(&self, slot: u32, new: &R) -> Result<bool> {
        new.check_row(&self.schema)?;
        let pk = self.schema.primary_key();
        let Some(old) = self.row(slot) else {
            return Ok(false);
        };
        if old.col(pk) != new.col(pk) {
            return Err(Error::PrimaryKeyChanged {
                table: self.table_name().to_owned(),
                column: self.schema.columns[pk].name.clone(),
                old: old.col(pk).to_owned(),
                new: new.col(pk).to_owned(),
            });
        }
        self.check_changed_uniques(old, new, slot)?;
        Ok(true)
    }

    fn replace_unchecked(&mut self, slot: u32, mut new: R) {
        if self.swap_in(slot, &mut new) {
            self.olds.push(new);
        }
    }

    /// Puts `new` in place of the live row at `slot`, updating the indexes and journalling
    /// the replacement; the old row comes back in `new`, and the caller journals it in
    /// `olds`. False (and nothing done) if the slot is empty.
    fn swap_in(&mut self, slot: u32, new: &mut R) -> bool {
        let s = slot as usize;
        if self.rows.get(s).is_none_or(Option::is_none) {
            return false;
        }
        // Unique hash indexes locate entries through the row, so they are updated while the
        // row they hash is in place; ordered indexes compare owned values.
        for u in &mut self.uniques {
            let (Some(old), nv) = (self.rows[s].as_ref(), new.col(u.col)) else {
                continue;
            };
            if old.col(u.col) != nv {
                u.remove(&self.hasher, &self.rows, slot);
            }
        }
        for o in &mut self.ordered {
            if let Some(old) = self.rows[s].as_ref() {
                let (ov, nv) = (old.col(o.col), new.col(o.col));
                if ov != nv || ov.kind() != nv.kind() {
                    o.remove(ov, slot);
                    o.insert(nv, slot);
                }
            }
        }
        let Some(row) = self.rows[s].as_mut() else {
            return false;
        };
        std::mem::swap(row, new);
        let old = &*new;
        for u in &mut self.uniques {
            let nv = self.rows[s].as_ref().map(|r| r.col(u.col));
            if nv.is_some_and(|nv| old.col(u.col) != nv) {
                u.insert(&self.hasher, &self.rows, slot);
            }
        }
        self.undo.push(Undo::Replace { slot });
        self.changed();
        true
    }

    /// Removes the row at `slot`, returning whether there was one.
    pub(crate) fn remove(&mut self, slot: u32) -> bool {
        if self.row(slot).is_none() {
            return false;
        }
        self.unindex_slot(slot);
        let Some(old) = self.rows[slot as usize].take() else {
            return false;
        };
        self.live -= 1;
        self.undo.push(Undo::Delete { slot });
        self.olds.push(old);
        self.changed();
        true
    }

    /// Undoes every change after `mark`, newest first.
    pub(crate) fn rollback_to(&mut self, mark: Mark) {
        while self.undo.len() > mark.undo_len {
            let Some(entry) = self.undo.pop() else { break };
            match entry {
                Undo::Insert { first, count } => {
                    // The slots stay (a dense key may have reused a slot that a delete,
                    // further back in the journal, still needs); new slots go below.
                    for slot in (first..first + count).rev() {
                        self.unindex_slot(slot);
                        if self.rows[slot as usize].take().is_some() {
                            self.live -= 1;
                        }
                    }
                }
                Undo::Replace { slot } => {
                    let Some(old) = self.olds.pop() else { continue };
                    self.replace_unchecked(slot, old);
                    // replace_unchecked journaled the undo itself; drop that entry.
                    self.undo.pop();
                    self.olds.pop();
                }
                Undo::Delete { slot } => {
                    let Some(old) = self.olds.pop() else { continue };
                    self.rows[slot as usize] = Some(old);
                    self.live += 1;
                    self.index_slot(slot);
                }
            }
        }
        // Slots added since the mark (inserts and their padding) are all empty now.
        while self.rows.len() > mark.rows_len && matches!(self.rows.last(), Some(None)) {
            self.rows.pop();
        }
        *self.undo_floor.get_mut() = self.undo.len();
        self.next_key = mark.next_key;
        self.in_order = mark.in_order;
        self.order_cache = OnceLock::new();
    }

    /// Since `mark`: the slots inserted or replaced that still hold a row, and the keys of
    /// rows deleted that no longer exist. Foreign keys are checked on these at commit.
    pub(crate) fn written_since(&self, mark: Mark) -> (Vec<u32>, Vec<Value>) {
        let pk = self.schema.primary_key();
        let olds_before = self.undo[..mark.undo_len.min(self.undo.len())]
            .iter()
            .filter(|u| !matches!(u, Undo::Insert { .. }))
            .count();
        let mut olds = self.olds[olds_before.min(self.olds.len())..].iter();
        let mut slots = Vec::new();
        let mut deleted = Vec::new();
        for entry in &self.undo[mark.undo_len.min(self.undo.len())..] {
            match *entry {
                Undo::Insert { first, count } => {
                    slots.extend((first..first + count).filter(|&s| self.row(s).is_some()));
                }
                Undo::Replace { slot } => {
                    olds.next();
                    if self.row(slot).is_some() {
                        slots.push(slot);
                    }
                }
                Undo::Delete { .. } => {
                    if let Some(old) = olds.next() {
                        let k = old.col(pk);
                        if self.find_key(k).is_none() {
                            deleted.push(k.to_owned());
                        }
                    }
                }
            }
        }
        slots.sort_unstable();
        slots.dedup();
        (slots, deleted)
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

    /// Sets column `col` of the row at `slot` (journaled, constraints checked).
    pub(crate) fn set_at(&mut self, slot: u32, col: usize, v: Value) -> Result<()> {
        let Some(mut row) = self.row(slot).cloned() else {
            return Ok(());
        };
        row.set_col(col, v)?;
        self.replace(slot, row)
    }

    /// Whether anything is pending (every journal entry leaves a row image or a deleted key).
    pub(crate) fn has_changes(&self) -> bool {
        !self.undo.is_empty()
    }

    /// Walks the pending (uncommitted) changes as physical row images: calls `put` with the
    /// final image of every row written (once each, in journal order) and returns the keys
    /// deleted that no row holds now. Rows are handed out one by one, so a caller encoding
    /// them never holds a copy of the whole transaction.
    pub(crate) fn for_each_change(
        &self,
        mut put: impl FnMut(&R) -> Result<()>,
    ) -> Result<Vec<Value>> {
        let pk = self.schema.primary_key();
        let mut seen = hashbrown::HashSet::new();
        let mut deleted = Vec::new();
        let mut olds = self.olds.iter();
        for entry in &self.undo {
            let (slots, old) = match *entry {
                Undo::Insert { first, count } => (first..first + count, None),
                Undo::Replace { slot } | Undo::Delete { slot } => (slot..slot + 1, olds.next()),
            };
            if let Some(old) = old {
                deleted.push(old.col(pk).to_owned());
            }
            for slot in slots {
                if seen.insert(slot) {
                    if let Some(r) = self.row(slot) {
                        put(r)?;
                    }
                }
            }
        }
        deleted.sort();
        deleted.dedup();
        Ok(deleted
            .into_iter()
            .filter(|k| self.find_key(k.as_ref()).is_none())
            .collect())
    }

    /// The pending changes, collected (tests compare them whole).
    #[cfg(test)]
    pub(crate) fn changes(&self) -> Result<TableChanges> {
        let mut puts = Vec::new();
        let deletes = self.for_each_change(|r| {
            puts.push(r.values()?);
            Ok(())
        })?;
        Ok(TableChanges { deletes, puts })
    }

    /// Makes the pending changes permanent: clears the undo journal and tidies the slab.
    pub(crate) fn commit(&mut self) {
        self.undo.clear();
        *self.undo_floor.get_mut() = 0;
        self.olds.clear();
        self.trim();
    }

    /// Drops dead slots at the tail and, when more than half the slab is dead, rebuilds it
    /// in key order. Only called with an empty undo journal, since it renumbers slots.
    fn trim(&mut self) {
        while matches!(self.rows.last(), Some(None)) {
            self.rows.pop();
        }
        let dead = self.rows.len() - self.live;
        if dead > 1024 && dead > self.live {
            self.rebuild();
        }
    }

    /// Lays the rows out again in key order and rebuilds every index.
    pub(crate) fn rebuild(&mut self) {
        let order: Vec<u32> = self.slots_in_key_order().collect();
        let mut old = std::mem::take(&mut self.rows);
        self.rows = order.iter().map(|&s| old[s as usize].take()).collect();
        self.in_order = true;
        self.order_cache = OnceLock::new();
        self.pk
            .clear(self.schema.columns[self.schema.primary_key()].ty);
        for u in &mut self.uniques {
            u.clear();
        }
        for o in &mut self.ordered {
            o.clear();
        }
        let n = self.rows.len();
        self.pk.reserve(&self.hasher, &self.rows, n);
        for slot in 0..n as u32 {
            self.index_slot(slot);
        }
    }

    /// Applies committed changes (from a log) without journaling: removes every key the
    /// changes touch, then inserts the final images, so a replay never trips over an
    /// intermediate state of the transaction.
    pub(crate) fn apply_changes(&mut self, changes: TableChanges) -> Result<()> {
        let pk = self.schema.primary_key();
        for key in changes.deletes.iter() {
            if let Some(s) = self.find_key(key.as_ref()) {
                self.remove(s);
            }
        }
        let mut images = Vec::with_capacity(changes.puts.len());
        self.rows.reserve(changes.puts.len());
        for values in changes.puts {
            let row = R::from_row(&self.schema, values)?;
            if let Some(s) = self.find_key(row.col(pk)) {
                self.remove(s);
            }
            images.push(row);
        }
        self.reserve(images.len());
        for row in images {
            self.insert(row)?;
        }
        self.commit();
        Ok(())
    }

    /// Fills an empty table with rows (a snapshot's, in chunks in key order), checking every
    /// constraint as an insert does, and commits.
    pub(crate) fn load_rows(&mut self, chunks: Vec<Vec<R>>) -> Result<()> {
        self.reserve(chunks.iter().map(Vec::len).sum());
        for chunk in chunks {
            for row in chunk {
                self.insert(row)?;
            }
        }
        self.commit();
        Ok(())
    }

    /// Converts every row to another row kind (a dynamic table becoming typed).
    pub(crate) fn convert<S: Record>(&self) -> Result<TableData<S>> {
        let mut out = TableData::<S>::new(self.schema.clone());
        out.reserve(self.live);
        for (_, r) in self.iter() {
            out.insert(S::from_row(&self.schema, r.values()?)?)?;
        }
        out.commit();
        out.next_key = out.next_key.max(self.next_key);
        Ok(out)
    }

    /// Checks that every index agrees with the rows (used by tests).
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        let live = self.rows.iter().filter(|r| r.is_some()).count();
        assert_eq!(live, self.live);
        assert_eq!(self.pk.len(&self.rows), live);
        let pk = self.schema.primary_key();
        for (s, r) in self.rows.iter().enumerate() {
            if let Some(r) = r {
                assert_eq!(self.find_key(r.col(pk)), Some(s as u32), "key of slot {s}");
                assert!(self
                    .row_by_key(r.col(pk))
                    .is_some_and(|x| std::ptr::eq(x, r)));
            }
        }
        for u in &self.uniques {
            let non_null = self
                .rows
                .iter()
                .flatten()
                .filter(|r| !r.col(u.col).is_null())
                .count();
            assert_eq!(u.len(), non_null);
        }
        for o in &self.ordered {
            assert_eq!(o.len(), live);
        }
        for (s, r) in self.rows.iter().enumerate() {
            if let Some(r) = r {
                assert_eq!(
                    self.find_key(r.col(self.schema.primary_key())),
                    Some(s as u32)
                );
            }
        }
        let keys: Vec<Value> = self
            .iter()
            .map(|(_, r)| r.col(self.schema.primary_key()).to_owned())
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::DynRow;
    use crate::schema::{Column, ColumnType};

    fn table() -> TableData<DynRow> {
        let schema = Schema::new(
            "t",
            vec![
                Column::new("id", ColumnType::U64).primary_key(),
                Column::new("email", ColumnType::Text).unique(),
                Column::new("year", ColumnType::U32).indexed(),
            ],
        )
        .unwrap();
        TableData::new(Arc::new(schema))
    }

    fn row(id: i64, email: &str, year: i64) -> DynRow {
        DynRow(vec![Value::Int(id), Value::from(email), Value::Int(year)].into())
    }

    #[test]
    fn insert_assigns_keys_and_checks_uniques() {
        let mut t = table();
        assert_eq!(t.insert(row(0, "a", 1)).unwrap(), Value::Int(1));
        assert_eq!(t.insert(row(10, "b", 1)).unwrap(), Value::Int(10));
        assert_eq!(t.insert(row(0, "c", 1)).unwrap(), Value::Int(11));
        let e = t.insert(row(0, "a", 2)).unwrap_err();
        assert_eq!(e.to_string(), "unique constraint t.email violated by \"a\"");
        assert!(matches!(
            t.insert(row(10, "z", 2)),
            Err(Error::UniqueViolation { .. })
        ));
        t.check_invariants();
    }

    #[test]
    fn rollback_restores_rows_indexes_and_counter() {
        let mut t = table();
        t.insert(row(0, "a", 1)).unwrap();
        t.insert(row(0, "b", 2)).unwrap();
        t.commit();
        let mark = t.mark();
        t.remove(0);
        let s = t.find_key(ValueRef::Int(2)).unwrap();
        t.replace(s, row(2, "a", 5)).unwrap();
        t.insert(row(0, "c", 3)).unwrap();
        t.rollback_to(mark);
        t.check_invariants();
        assert_eq!(t.len(), 2);
        assert_eq!(t.find_unique(1, ValueRef::Text("a")), Some(Some(0)));
        assert_eq!(t.next_key(), 3);
    }

    #[test]
    fn dense_integer_keys_need_no_hash_index() {
        let mut t = table();
        for i in 1..=100 {
            t.insert(row(i, &format!("e{i}"), i % 3)).unwrap();
        }
        t.commit();
        assert!(t.pk.is_dense());
        assert_eq!(t.find_key(ValueRef::Int(42)), Some(41));
        assert_eq!(t.find_key(ValueRef::Int(0)), None);
        assert_eq!(t.find_key(ValueRef::Int(101)), None);
        assert_eq!(t.find_key(ValueRef::Int(-5)), None);
        // Deleting leaves holes; a deleted key comes back into its own slot.
        let s = t.find_key(ValueRef::Int(50)).unwrap();
        t.remove(s);
        assert_eq!(t.find_key(ValueRef::Int(50)), None);
        t.insert(row(50, "again", 0)).unwrap();
        assert_eq!(t.find_key(ValueRef::Int(50)), Some(49));
        // A duplicate is still refused, a small gap ahead is padded, auto keys follow on.
        assert!(matches!(
            t.insert(row(7, "x", 0)),
            Err(Error::UniqueViolation { .. })
        ));
        t.insert(row(110, "gap", 0)).unwrap();
        assert_eq!(t.insert(row(0, "auto", 0)).unwrap(), Value::Int(111));
        assert!(t.pk.is_dense());
        t.check_invariants();
        // Rolling back keeps it right, and so does a rebuild.
        let mark = t.mark();
        t.insert(row(112, "r", 0)).unwrap();
        t.rollback_to(mark);
        t.commit();
        t.check_invariants();
        let keys: Vec<_> = t.iter().map(|(_, r)| r.0[0].clone()).collect();
        let mut want: Vec<i64> = (1..=100).collect();
        want.extend([110, 111]);
        assert_eq!(keys, want.into_iter().map(Value::Int).collect::<Vec<_>>());
    }

    #[test]
    fn rolling_back_a_reinsert_into_a_deleted_slot_restores_the_deleted_row() {
        // Found by the model test: the last row is deleted and its key inserted again (into
        // the same slot, the key index being dense), then everything is rolled back.
        let mut t = table();
        t.insert(row(0, "a", 0)).unwrap();
        t.insert(row(11, "b", 3)).unwrap();
        t.commit();
        let mark = t.mark();
        let s = t.find_key(ValueRef::Int(11)).unwrap();
        t.remove(s);
        t.insert(row(11, "c", 0)).unwrap();
        t.insert(row(30, "d", 0)).unwrap();
        t.rollback_to(mark);
        t.check_invariants();
        assert_eq!(t.rows.len(), 11, "slots added since the mark are gone");
        let s = t.find_key(ValueRef::Int(11)).unwrap();
        assert_eq!(t.row(s).unwrap().0[1], Value::from("b"));
    }

    #[test]
    fn interleaved_runs_of_keys_stay_dense() {
        // As when four threads each insert their own run of 250 keys after 100k rows.
        let mut t = table();
        let n = 100_000i64;
        for i in 1..=n {
            t.insert(row(i, &format!("e{i}"), 0)).unwrap();
        }
        t.commit();
        for i in 0..250 {
            for run in [3i64, 0, 2, 1] {
                let k = n + 1 + run * 250 + i;
                t.insert(row(k, &format!("e{k}"), 1)).unwrap();
            }
        }
        t.commit();
        assert!(t.pk.is_dense());
        assert_eq!(t.rows.len(), (n + 1000) as usize);
        t.check_invariants();
    }

    #[test]
    fn keys_off_their_dense_position_switch_to_hashing() {
        for keys in [vec![1, 2, 500], vec![10, 11, 3], vec![7, 6]] {
            let mut t = table();
            for (i, &k) in keys.iter().enumerate() {
                t.insert(row(k, &format!("e{i}"), 0)).unwrap();
            }
            assert!(!t.pk.is_dense(), "{keys:?}");
            t.check_invariants();
            for &k in &keys {
                assert!(t.find_key(ValueRef::Int(k)).is_some());
            }
            assert!(matches!(
                t.insert(row(keys[0], "dup", 0)),
                Err(Error::UniqueViolation { .. })
            ));
            // A rebuild of keys in order with holes hashes from the first hole on.
            t.commit();
            t.rebuild();
            t.check_invariants();
        }
        // Many padded gaps in one transaction stop padding at a quarter of the rows.
        let mut t = table();
        for i in 0..100 {
            t.insert(row(1 + i * 60, &format!("e{i}"), 0)).unwrap();
        }
        assert!(
            t.rows.len() <= 100 + 100 / 4 + 2 * crate::index::MAX_KEY_GAP,
            "{}",
            t.rows.len()
        );
        t.check_invariants();
    }

    #[test]
    fn out_of_order_keys_still_iterate_in_key_order() {
        let mut t = table();
        for (k, e) in [(5, "a"), (2, "b"), (9, "c"), (1, "d")] {
            t.insert(row(k, e, 0)).unwrap();
        }
        let keys: Vec<_> = t.iter().map(|(_, r)| r.0[0].clone()).collect();
        assert_eq!(keys, [1, 2, 5, 9].map(Value::Int));
        t.commit();
        t.rebuild();
        t.check_invariants();
    }

    #[test]
    fn commit_reports_final_images_and_deleted_keys() {
        let mut t = table();
        t.insert(row(0, "a", 1)).unwrap();
        t.insert(row(0, "b", 1)).unwrap();
        t.commit();
        t.replace(0, row(1, "x", 1)).unwrap();
        t.replace(1, row(2, "a", 1)).unwrap();
        t.replace(0, row(1, "y", 1)).unwrap();
        t.remove(1);
        let ch = t.changes().unwrap();
        t.commit();
        assert_eq!(ch.deletes, vec![Value::Int(2)]);
        assert_eq!(
            ch.puts,
            vec![vec![Value::Int(1), Value::from("y"), Value::Int(1)]]
        );
    }

    #[test]
    fn replaying_changes_twice_gives_the_same_state() {
        let mut t = table();
        t.insert(row(0, "a", 1)).unwrap();
        t.insert(row(0, "b", 1)).unwrap();
        t.commit();
        let mut replica = table();
        replica.apply_changes(t.changes_of_all()).unwrap();
        // Swap the unique values of the two rows: an intermediate state would collide.
        t.replace(0, row(1, "x", 1)).unwrap();
        t.replace(1, row(2, "a", 2)).unwrap();
        t.replace(0, row(1, "b", 3)).unwrap();
        t.insert(row(0, "c", 4)).unwrap();
        t.remove(2);
        t.insert(row(0, "d", 4)).unwrap();
        let ch = t.changes().unwrap();
        t.commit();
        replica.apply_changes(ch.clone()).unwrap();
        replica.apply_changes(ch).unwrap();
        replica.bump_next_key(4);
        replica.check_invariants();
        let dump = |t: &TableData<DynRow>| t.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>();
        assert_eq!(dump(&replica), dump(&t));
        assert_eq!(replica.insert(row(0, "e", 0)).unwrap(), Value::Int(5));
    }

    impl TableData<DynRow> {
        fn changes_of_all(&self) -> TableChanges {
            TableChanges {
                deletes: Vec::new(),
                puts: self.iter().map(|(_, r)| r.0.to_vec()).collect(),
            }
        }
    }

    #[test]
    fn many_deletes_compact_the_slab() {
        let mut t = table();
        for i in 0..5000 {
            t.insert(row(0, &format!("e{i}"), i % 7)).unwrap();
        }
        t.commit();
        for s in 0..4000 {
            t.remove(s);
        }
        t.commit();
        assert_eq!(t.rows.len(), 1000);
        t.check_invariants();
    }
}

/// The slab, its key index (dense or hashed), its ordered index and the undo journal against
/// a `BTreeMap` model: random inserts (explicit keys near and far, auto keys), deletes, nested
/// marks with rollbacks, commits and rebuilds, with every index checked after each step.
#[cfg(test)]
mod model_tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::record::DynRow;
    use crate::schema::{Column, ColumnType};

    #[derive(Debug, Clone)]
    enum Op {
        Insert {
            key: i64,
            year: i64,
        },
        Delete {
            key: i64,
        },
        /// Deletes the greatest key (the last slot of a dense table).
        DeleteLast,
        /// Inserts the key deleted most recently again (into its old slot when dense).
        Reinsert {
            year: i64,
        },
        /// Sets `year` on every row whose key is a multiple of `every`, in one
        /// `replace_many`, as a statement; `bad` (if some) makes the row at that position
        /// change its key, which fails the statement after the rows before it were replaced.
        SetYears {
            every: i64,
            year: i64,
            bad: Option<usize>,
        },
        Mark,
        Rollback,
        Commit,
        Rebuild,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (prop_oneof![0..3i64, 1..40i64, 1..400i64], 0..4i64)
                .prop_map(|(key, year)| Op::Insert { key, year }),
            3 => prop_oneof![1..40i64, 1..400i64].prop_map(|key| Op::Delete { key }),
            1 => Just(Op::DeleteLast),
            2 => (0..4i64).prop_map(|year| Op::Reinsert { year }),
            2 => (1..4i64, 0..4i64, proptest::option::of(0..6usize))
                .prop_map(|(every, year, bad)| Op::SetYears { every, year, bad }),
            1 => Just(Op::Mark),
            1 => Just(Op::Rollback),
            1 => Just(Op::Commit),
            1 => Just(Op::Rebuild),
        ]
    }

    fn row(id: i64, year: i64) -> DynRow {
        DynRow(vec![Value::Int(id), Value::Int(year)].into())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
        #[test]
        fn table_matches_a_map(ops in proptest::collection::vec(op(), 1..120)) {
            let schema = Schema::new(
                "t",
                vec![
                    Column::new("id", ColumnType::I64).primary_key(),
                    Column::new("year", ColumnType::I64).indexed(),
                ],
            )
            .unwrap();
            let mut t = TableData::<DynRow>::new(Arc::new(schema));
            let mut model: BTreeMap<i64, i64> = BTreeMap::new();
            let mut next = 1i64;
            let mut last_deleted: Option<i64> = None;
            // (table mark, model and counter at the mark)
            let mut marks: Vec<(Mark, BTreeMap<i64, i64>, i64)> = Vec::new();
            for op in &ops {
                match *op {
                    Op::Insert { key, year } => {
                        let k = if key == 0 { next } else { key };
                        let r = t.insert(row(key, year));
                        match model.entry(k) {
                            std::collections::btree_map::Entry::Occupied(_) => {
                                prop_assert!(r.is_err());
                            }
                            std::collections::btree_map::Entry::Vacant(e) => {
                                prop_assert_eq!(r.unwrap(), Value::Int(k));
                                e.insert(year);
                                next = next.max(k + 1);
                            }
                        }
                    }
                    Op::Delete { .. } | Op::DeleteLast => {
                        let key = match *op {
                            Op::Delete { key } => key,
                            _ => model.keys().next_back().copied().unwrap_or(1),
                        };
                        let s = t.find_key(ValueRef::Int(key));
                        prop_assert_eq!(s.is_some(), model.contains_key(&key));
                        if let Some(s) = s {
                            prop_assert!(t.remove(s));
                            model.remove(&key);
                            last_deleted = Some(key);
                        }
                    }
                    Op::Reinsert { year } => {
                        if let Some(k) = last_deleted {
                            let r = t.insert(row(k, year));
                            prop_assert_eq!(r.is_ok(), !model.contains_key(&k));
                            model.entry(k).or_insert(year);
                            next = next.max(k + 1);
                        }
                    }
                    Op::SetYears { every, year, bad } => {
                        let found: Vec<(u32, DynRow)> = t
                            .iter()
                            .filter(|(_, r)| matches!(r.0[0], Value::Int(k) if k % every == 0))
                            .map(|(s, r)| (s, r.clone()))
                            .collect();
                        let bad = bad.filter(|&b| b < found.len());
                        let (slots, rows): (Vec<u32>, Vec<DynRow>) = found
                            .into_iter()
                            .enumerate()
                            .map(|(i, (s, mut r))| {
                                r.0[1] = Value::Int(year);
                                if Some(i) == bad {
                                    r.0[0] = Value::Int(-1);
                                }
                                (s, r)
                            })
                            .unzip();
                        let m = t.mark();
                        match t.replace_many(&slots, rows) {
                            Ok(()) => {
                                prop_assert!(bad.is_none());
                                for (k, y) in model.iter_mut() {
                                    if k % every == 0 {
                                        *y = year;
                                    }
                                }
                            }
                            Err(e) => {
                                prop_assert!(bad.is_some(), "{}", e);
                                t.rollback_to(m);
                            }
                        }
                    }
                    Op::Mark => marks.push((t.mark(), model.clone(), next)),
                    Op::Rollback => {
                        if let Some((m, saved, n)) = marks.pop() {
                            t.rollback_to(m);
                            model = saved;
                            next = n;
                        }
                    }
                    Op::Commit => {
                        t.commit();
                        marks.clear();
                    }
                    Op::Rebuild => {
                        t.commit();
                        marks.clear();
                        t.rebuild();
                    }
                }
                t.check_invariants();
                let got: Vec<(i64, i64)> = t
                    .iter()
                    .map(|(_, r)| match (&r.0[0], &r.0[1]) {
                        (Value::Int(k), Value::Int(y)) => (*k, *y),
                        other => panic!("{other:?}"),
                    })
                    .collect();
                let want: Vec<(i64, i64)> = model.iter().map(|(&k, &y)| (k, y)).collect();
                prop_assert_eq!(&got, &want);
                for year in 0..4i64 {
                    let mut slots = t.slots_where(1, &Value::Int(year));
                    slots.sort_unstable();
                    let mut keys: Vec<i64> = slots
                        .iter()
                        .map(|&s| match &t.row(s).unwrap().0[0] {
                            Value::Int(k) => *k,
                            other => panic!("{other:?}"),
                        })
                        .collect();
                    keys.sort_unstable();
                    let want: Vec<i64> =
                        model.iter().filter(|(_, &y)| y == year).map(|(&k, _)| k).collect();
                    prop_assert_eq!(keys, want);
                }
            }
        }
    }
}
