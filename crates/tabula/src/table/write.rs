//! Changes to the rows (insert, replace, remove) with the upkeep of every index, each
//! journalled so that it can be undone.

use std::cmp::Ordering;
use std::sync::{Arc, OnceLock};

use crate::copy::{fetch_text, text_columns, BATCH};
use crate::error::{Error, Result};
use crate::index::max_key_gap;
use crate::record::Record;
use crate::table::{TableData, Undo};
use crate::value::{Value, ValueRef};

/// Which columns of a row a replacement may change: any, or only these (the new row a
/// copy of the old one with them set).
#[derive(Clone, Copy)]
pub(super) enum Changed<'a> {
    All,
    Only(&'a [usize]),
}

impl Changed<'_> {
    /// Whether any of `cols` may have changed.
    #[inline]
    pub(super) fn any(self, mut cols: impl Iterator<Item = usize>) -> bool {
        match self {
            Changed::All => true,
            Changed::Only(changed) => cols.any(|c| changed.contains(&c)),
        }
    }
}

impl<R: Record> TableData<R> {
    pub(super) fn index_slot(&mut self, slot: u32) {
        let Some(row) = self.rows.get(slot as usize) else {
            return;
        };
        for o in &mut self.ordered {
            o.insert(row.col(o.col), slot);
        }
        for c in &mut self.composites {
            c.insert(row, slot);
        }
        let hash = self
            .pk
            .hash(&self.hasher, row.col(self.schema.primary_key()));
        self.pk.insert(&self.hasher, hash, &self.rows, slot);
        for u in &mut self.uniques {
            u.insert(&self.hasher, &self.rows, slot);
        }
    }

    pub(super) fn unindex_slot(&mut self, slot: u32) {
        let Some(row) = self.rows.get(slot as usize) else {
            return;
        };
        for o in &mut self.ordered {
            o.remove(row.col(o.col), slot);
        }
        for c in &mut self.composites {
            c.remove(row, slot);
        }
        self.pk.remove(&self.hasher, &self.rows, slot);
        for u in &mut self.uniques {
            u.remove(&self.hasher, &self.rows, slot);
        }
    }

    pub(super) fn changed(&mut self) {
        if !self.in_order {
            self.order_cache = OnceLock::new();
        }
    }

    /// Inserts a new row; fails with `UniqueViolation` if its key exists. Returns the key.
    pub(crate) fn insert(&mut self, row: R) -> Result<Value> {
        row.check_row(&self.schema)?;
        self.insert_valid(row)
    }

    /// [`TableData::insert`] of a row made from values that [`Schema::resolve_values`](crate::schema::Schema::resolve_values)
    /// gave for this table's schema (or one equal to it): checked again only where the
    /// record's own check goes beyond what resolving guarantees (a Rust type's).
    pub(crate) fn insert_resolved(&mut self, row: R) -> Result<Value> {
        if R::CHECKED_BY_RESOLVE {
            self.insert_valid(row)
        } else {
            self.insert(row)
        }
    }

    /// [`TableData::insert`] of a row whose values fit the schema.
    fn insert_valid(&mut self, row: R) -> Result<Value> {
        // Before a key is assigned: a refused row uses none up.
        self.check_rules(&row)?;
        self.place(row)
    }

    /// A stored row (a snapshot's, or a committed transaction's in the log) put back: its
    /// values checked against the schema and its keys against the others, but not the
    /// table's checks, which passed when it was written. A later version may judge a check
    /// differently (it came to order a NaN as IEEE 754 does): a row stored under the older
    /// judgement still opens, as SQLite never checks stored rows again.
    pub(crate) fn insert_stored(&mut self, row: R) -> Result<Value> {
        row.check_row(&self.schema)?;
        self.place(row)
    }

    /// Puts a row that passed every check into the table: its key (assigned if automatic)
    /// and unique values checked against the other rows, then indexed.
    fn place(&mut self, mut row: R) -> Result<Value> {
        self.assign_key(&mut row)?;
        let pk = self.schema.primary_key();
        let key = row.col(pk);
        let key_hash = self.pk.hash(&self.hasher, key);
        if self.pk.find_hashed(key_hash, &self.rows, key).is_some() {
            return Err(self.unique_violation(pk, key));
        }
        // Each unique key is hashed once, for the check and for the index.
        self.scratch.clear();
        for u in &self.uniques {
            let Some(h) = u.hash_row(&self.hasher, &row) else {
                self.scratch.push(None);
                continue;
            };
            if u.find_row(h, &self.rows, &row).is_some() {
                return Err(self.unique_violation_of(u, &row));
            }
            self.scratch.push(Some(h));
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
            Some(at) if at >= len || !self.rows.is_live(at) => at,
            _ => len,
        };
        let slot = u32::try_from(at).map_err(|_| Error::TableFull {
            table: self.table_name().to_owned(),
            limit: u64::from(u32::MAX),
        })?;
        if at < len {
            self.rows.set(at, Some(Arc::new(row)));
        } else {
            if self.in_order {
                // The last live row holds the greatest key. Dead slots at the tail are trimmed
                // at commit, so only a transaction that deleted the tail has many to skip;
                // past a few, assume disorder (correct, merely slower to scan).
                let last = self
                    .rows
                    .live_in(self.rows.len().saturating_sub(64)..self.rows.len())
                    .next_back()
                    .map(|(_, r)| r);
                let tail_dead = last.is_none() && self.rows.len() > 64;
                if tail_dead
                    || last.is_some_and(|l| l.col(pk).total_cmp(key.as_ref()) != Ordering::Less)
                {
                    self.in_order = false;
                }
            }
            self.rows.grow_to(at);
            self.rows.push(Some(Arc::new(row)));
        }
        let Some(row) = self.rows.get(slot as usize) else {
            return Ok(key);
        };
        for o in &mut self.ordered {
            o.insert(row.col(o.col), slot);
        }
        for c in &mut self.composites {
            c.insert(row, slot);
        }
        self.pk.insert(&self.hasher, key_hash, &self.rows, slot);
        for (u, h) in self.uniques.iter_mut().zip(&self.scratch) {
            if let Some(h) = *h {
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

    /// Inserts `row`, or replaces the row with the same key. Returns the key.
    pub(crate) fn upsert(&mut self, row: R) -> Result<Value> {
        let pk = self.schema.primary_key();
        if let ValueRef::Int(0) = row.col(pk) {
            return self.insert(row);
        }
        row.check_row(&self.schema)?;
        match self.find_key(row.col(pk)) {
            Some(slot) => {
                let key = row.col(pk).to_owned();
                self.replace(slot, row)?;
                Ok(key)
            }
            None => self.insert(row),
        }
    }

    /// Replaces the row at `slot` with `new`, which must keep the primary key.
    pub(crate) fn replace(&mut self, slot: u32, new: R) -> Result<()> {
        self.replace_in(slot, new, Changed::All)
    }

    fn replace_in(&mut self, slot: u32, new: R, changed: Changed<'_>) -> Result<()> {
        if self.check_replace(slot, &new, changed)? {
            if let Some(old) = self.swap_in(slot, Arc::new(new), changed) {
                self.olds.push(old);
            }
        }
        Ok(())
    }

    /// Replaces the row at each of `slots` by the row at the same position of `rows`, as
    /// [`TableData::replace`] does one by one. On an error the rows replaced so far stay
    /// journalled, for the statement's rollback.
    pub(crate) fn replace_many(&mut self, slots: &[u32], rows: Vec<R>) -> Result<()> {
        self.olds.reserve(rows.len());
        for (&slot, row) in slots.iter().zip(rows) {
            self.replace(slot, row)?;
        }
        Ok(())
    }

    /// [`TableData::replace_many`] of rows that are copies of the rows at their slots with
    /// columns `cols` set, and differ from them nowhere else: only those columns are
    /// checked against the schema (where that is all the record's check does), and only
    /// the indexes over them compared and updated. (Check conditions and the key are
    /// checked as always.)
    pub(crate) fn replace_changed(
        &mut self,
        slots: &[u32],
        rows: Vec<R>,
        cols: &[usize],
    ) -> Result<()> {
        self.olds.reserve(rows.len());
        for (&slot, row) in slots.iter().zip(rows) {
            self.replace_in(slot, row, Changed::Only(cols))?;
        }
        Ok(())
    }

    pub(super) fn replace_unchecked(&mut self, slot: u32, new: Arc<R>) {
        if let Some(old) = self.swap_in(slot, new, Changed::All) {
            self.olds.push(old);
        }
    }

    /// Puts `new` in place of the live row at `slot`, updating the indexes over the
    /// columns `changed` says may differ and journalling the replacement; returns the old
    /// row, which the caller journals in `olds`. `None` (and nothing done) if the slot is
    /// empty.
    fn swap_in(&mut self, slot: u32, new: Arc<R>, changed: Changed<'_>) -> Option<Arc<R>> {
        let s = slot as usize;
        if !self.rows.is_live(s) {
            return None;
        }
        // Unique hash indexes locate entries through the row, so they are updated while the
        // row they hash is in place; ordered indexes compare owned values.
        for u in &mut self.uniques {
            let Some(old) = self.rows.get(s) else {
                continue;
            };
            if changed.any(u.columns()) && u.differs(old, &new) {
                u.remove(&self.hasher, &self.rows, slot);
            }
        }
        for o in &mut self.ordered {
            if !changed.any(std::iter::once(o.col)) {
                continue;
            }
            if let Some(old) = self.rows.get(s) {
                let (ov, nv) = (old.col(o.col), new.col(o.col));
                if ov != nv || ov.kind() != nv.kind() {
                    o.remove(ov, slot);
                    o.insert(nv, slot);
                }
            }
        }
        for c in &mut self.composites {
            if !changed.any(c.cols.iter().copied()) {
                continue;
            }
            if let Some(old) = self.rows.get(s) {
                if c.differs(old, &new) {
                    c.remove(old, slot);
                    c.insert(&*new, slot);
                }
            }
        }
        let old = self.rows.set(s, Some(new))?;
        for u in &mut self.uniques {
            if changed.any(u.columns()) && self.rows.get(s).is_some_and(|r| u.differs(&*old, r)) {
                u.insert(&self.hasher, &self.rows, slot);
            }
        }
        self.undo.push(Undo::Replace { slot });
        self.changed();
        Some(old)
    }

    /// Removes the row at `slot`, returning whether there was one.
    pub(crate) fn remove(&mut self, slot: u32) -> bool {
        if self.row(slot).is_none() {
            return false;
        }
        self.unindex_slot(slot);
        let Some(old) = self.rows.take(slot as usize) else {
            return false;
        };
        self.live -= 1;
        self.undo.push(Undo::Delete { slot });
        self.olds.push(old);
        self.changed();
        true
    }

    /// [`TableData::remove`] of each of `slots`; returns how many held a row. The rows go
    /// in batches whose indexed text is fetched first ([`fetch_text`]): removing a row
    /// from a text column's index hashes or compares its text, and the misses on a batch's
    /// text then overlap instead of each waiting for the one before. Text no index holds is
    /// not read at all.
    pub(crate) fn remove_all(&mut self, slots: &[u32]) -> usize {
        let schema = &self.schema;
        let in_composite = |name: &str| {
            schema
                .unique
                .iter()
                .chain(&schema.index)
                .any(|cols| cols.iter().any(|c| c == name))
        };
        let text: Vec<usize> = text_columns(schema)
            .into_iter()
            .filter(|&i| {
                let c = &schema.columns[i];
                c.has_own_index() || in_composite(&c.name)
            })
            .collect();
        let mut removed = 0;
        for batch in slots.chunks(BATCH) {
            if !text.is_empty() {
                fetch_text(&text, batch.iter().filter_map(|&s| self.row(s)));
            }
            removed += batch.iter().filter(|&&s| self.remove(s)).count();
        }
        removed
    }

    /// Sets column `col` of the row at `slot` (journaled, constraints checked).
    pub(crate) fn set_at(&mut self, slot: u32, col: usize, v: Value) -> Result<()> {
        let Some(mut row) = self.row(slot).cloned() else {
            return Ok(());
        };
        row.set_col(col, v)?;
        self.replace(slot, row)
    }
}
