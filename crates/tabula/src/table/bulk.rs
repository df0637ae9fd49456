//! Whole-table work: room for a bulk insert, loading a snapshot, replaying committed log
//! changes, compacting and rebuilding the slab, and converting the row kind.

use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, OnceLock};

use crate::error::Result;
use crate::index::{HashIndex, OrderedIndex, ValueHasher};
use crate::record::Record;
use crate::slab::Slab;
use crate::table::TableData;
use crate::value::Value;

impl<R: Record> TableData<R> {
    /// Makes room for `n` more rows, so a bulk insert does not rehash or regrow.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.rows.reserve(n);
        self.pk.reserve(&self.hasher, &self.rows, n);
        for u in &mut self.uniques {
            u.reserve(&self.hasher, &self.rows, n);
        }
    }

    /// Drops dead slots at the tail and, when more than half the slab is dead, rebuilds it
    /// in key order. Only called with an empty undo journal, since it renumbers slots.
    pub(super) fn trim(&mut self) {
        let end = self
            .rows
            .live()
            .next_back()
            .map_or(0, |(s, _)| s as usize + 1);
        self.rows.truncate(end);
        let dead = self.rows.len() - self.live;
        if dead > 1024 && dead > self.live {
            // Compaction lays the rows' pointers out again (other versions share the rows)
            // after the commit's log line is written: should that panic (allocation), the
            // table stays as it is, uncompacted, rather than fail a commit that is in the log.
            let order: Vec<u32> = self.slots_in_key_order().collect();
            let rows =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.rows_in(&order)));
            if let Ok(rows) = rows {
                self.rebuild_with(rows);
            }
        }
    }

    /// Lays the rows out again in key order and rebuilds every index.
    #[cfg(test)]
    pub(crate) fn rebuild(&mut self) {
        let order: Vec<u32> = self.slots_in_key_order().collect();
        let rows = self.rows_in(&order);
        self.rebuild_with(rows);
    }

    /// A slab of the rows at `order`'s slots, in that order, sharing them.
    fn rows_in(&self, order: &[u32]) -> Slab<R> {
        let mut rows = Slab::mirroring(self.rows.mirror().clone());
        rows.reserve(order.len());
        for &s in order {
            rows.push(self.rows.get_shared(s as usize).cloned());
        }
        rows
    }

    /// Makes `rows` (every live row, in key order) the slab and rebuilds every index.
    fn rebuild_with(&mut self, rows: Slab<R>) {
        self.rows = rows;
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
        for c in &mut self.composites {
            c.clear();
        }
        let n = self.rows.len();
        self.pk.reserve(&self.hasher, &self.rows, n);
        for slot in 0..n as u32 {
            self.index_slot(slot);
        }
    }

    /// Applies a committed transaction's changes (from a log: the keys it deleted and the
    /// final images of the rows it wrote, values in schema order) without journaling:
    /// removes every key the changes touch, then inserts the final images, so a replay never
    /// trips over an intermediate state of the transaction.
    pub(crate) fn apply_changes(&mut self, deletes: &[Value], puts: Vec<Vec<Value>>) -> Result<()> {
        let pk = self.schema.primary_key();
        for key in deletes {
            if let Some(s) = self.find_key(key.as_ref()) {
                self.remove(s);
            }
        }
        let mut images = Vec::with_capacity(puts.len());
        self.rows.reserve(puts.len());
        for values in puts {
            let row = R::from_row(&self.schema, values)?;
            if let Some(s) = self.find_key(row.col(pk)) {
                self.remove(s);
            }
            images.push(row);
        }
        self.reserve(images.len());
        for row in images {
            self.insert_stored(row)?;
        }
        self.commit();
        Ok(())
    }

    /// Starts filling this empty table with a snapshot's rows (see [`Loader`]), about
    /// `expected` of them (room is made for them with the first rows, so a figure read
    /// from a file is only trusted once the snapshot has been checked).
    pub(crate) fn loader(&mut self, expected: usize) -> Loader<'_, R> {
        debug_assert!(self.rows.len() == 0, "a loader fills an empty table");
        let uniques = std::mem::take(&mut self.uniques);
        let ordered = std::mem::take(&mut self.ordered);
        Loader {
            table: self,
            uniques,
            ordered,
            expected: Some(expected),
        }
    }

    /// The same table with its rows as another row kind (a dynamic table becoming typed),
    /// slot for slot: its indexes, its order and its undo journal carry over unchanged, so a
    /// transaction that wrote the table before the conversion still rolls back exactly. The
    /// indexes hash and compare through the rows' columns, which both kinds give alike (only
    /// `json` columns differ, and those are never indexed).
    pub(crate) fn convert<S: Record>(&self) -> Result<TableData<S>> {
        let pk = self.schema.primary_key();
        let to_s = |r: &R| {
            let values = r.values()?;
            let key = values.get(pk).cloned().unwrap_or(Value::Null);
            S::from_row(&self.schema, values)
                .map_err(|e| crate::error::unreadable_stored(&self.schema.table, &key, e))
        };
        let rows = self.rows.try_map(to_s)?;
        let olds = (self.olds.iter())
            .map(|r| to_s(r).map(Arc::new))
            .collect::<Result<Vec<_>>>()?;
        Ok(TableData {
            schema: self.schema.clone(),
            has_json: self.has_json,
            rows,
            live: self.live,
            hasher: self.hasher.clone(),
            pk: self.pk.clone(),
            uniques: self.uniques.clone(),
            ordered: self.ordered.clone(),
            composites: self.composites.clone(),
            checks: self.checks.clone(),
            next_key: self.next_key,
            in_order: self.in_order,
            order_cache: OnceLock::new(),
            undo: self.undo.clone(),
            undo_floor: AtomicUsize::new(self.undo_floor.load(AtomicOrdering::Relaxed)),
            olds,
            scratch: Vec::new(),
        })
    }
}

/// Fills an empty table with rows (a snapshot's, chunk by chunk in key order), checking them
/// as stored rows are ([`TableData::insert_stored`]). The unique and ordered indexes are out
/// of the table meanwhile, and are built once every row is in, side by side for a large
/// table (one on the caller's thread, the others on threads of their own): a unique index
/// in one pass ([`HashIndex::build`]) rather than a probe per row, an ordered one from the
/// rows in slot order, as row-by-row inserts build it. A row that fails its checks or
/// repeats a key is refused as it comes in; a value two rows share in a unique column is
/// found at the end, and the error names the first row in slot order that repeats one (of
/// any unique index), the same `UniqueViolation` a row-by-row load reports for it. A loader
/// dropped before [`Loader::finish`] leaves the indexes empty: the caller drops a table
/// whose load failed.
pub(crate) struct Loader<'t, R: Record> {
    table: &'t mut TableData<R>,
    uniques: Vec<HashIndex>,
    ordered: Vec<OrderedIndex>,
    /// The rows expected (room is made for them at the first chunk), if not yet reserved.
    expected: Option<usize>,
}

/// The fewest rows whose indexes a loader builds on threads of their own.
const BUILD_APART: usize = 20_000;

impl<R: Record> Loader<'_, R> {
    /// Puts the next rows in, after those already in.
    pub(crate) fn add(&mut self, rows: Vec<R>) -> Result<()> {
        let room = self.expected.take().unwrap_or(0).max(rows.len());
        self.table.reserve(room);
        for row in rows {
            self.table.insert_stored(row)?;
        }
        Ok(())
    }

    /// Builds the indexes left out and commits.
    pub(crate) fn finish(mut self) -> Result<()> {
        let t = &mut *self.table;
        let apart = t.live >= BUILD_APART
            && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
        let (uniques, ordered) = (&mut self.uniques, &mut self.ordered);
        if let Some((i, _, row)) = build_indexes(&t.hasher, &t.rows, uniques, ordered, apart) {
            return Err(t.unique_violation_of(&self.uniques[i], row));
        }
        t.uniques = std::mem::take(&mut self.uniques);
        t.ordered = std::mem::take(&mut self.ordered);
        t.commit();
        Ok(())
    }
}

/// Fills empty `uniques` and `ordered` with every live row of `rows`, side by side if
/// `apart` (the first on this thread); of the rows a unique index refuses, the first in slot
/// order, with the index's position in `uniques` and the row's slot.
fn build_indexes<'r: 'i, 'i, R: Record>(
    hasher: &'i ValueHasher,
    rows: &'r Slab<R>,
    uniques: &'i mut [HashIndex],
    ordered: &'i mut [OrderedIndex],
    apart: bool,
) -> Option<(usize, u32, &'r R)> {
    type Refused<'r, R> = Option<(usize, u32, &'r R)>;
    type Job<'r, 'i, R> = Box<dyn FnOnce() -> Refused<'r, R> + Send + 'i>;
    let first = |a: Refused<'r, R>, b: Refused<'r, R>| match (a, b) {
        (Some(a), Some(b)) => Some(if b.1 < a.1 { b } else { a }),
        (a, b) => a.or(b),
    };
    let mut jobs: Vec<Job<'r, 'i, R>> = Vec::new();
    for (i, u) in uniques.iter_mut().enumerate() {
        jobs.push(Box::new(move || {
            u.build(hasher, rows).err().map(|(s, r)| (i, s, r))
        }));
    }
    for o in ordered {
        jobs.push(Box::new(move || {
            for (slot, r) in rows.live() {
                o.insert(r.col(o.col), slot);
            }
            None
        }));
    }
    if !apart || jobs.len() < 2 {
        return jobs
            .into_iter()
            .fold(None, |found, job| first(found, job()));
    }
    std::thread::scope(|s| {
        let mut jobs = jobs.into_iter();
        let here = jobs.next();
        let others: Vec<_> = jobs.map(|job| s.spawn(job)).collect();
        let mut repeated = here.and_then(|job| job());
        for h in others {
            match h.join() {
                Ok(r) => repeated = first(repeated, r),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        repeated
    })
}

impl<R: Record> Drop for Loader<'_, R> {
    fn drop(&mut self) {
        if self.uniques.is_empty() && self.ordered.is_empty() {
            return;
        }
        for u in &mut self.uniques {
            u.clear();
        }
        for o in &mut self.ordered {
            o.clear();
        }
        self.table.uniques = std::mem::take(&mut self.uniques);
        self.table.ordered = std::mem::take(&mut self.ordered);
    }
}
