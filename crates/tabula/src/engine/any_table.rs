//! The tables of one database behind one object-safe trait, so that typed tables (rows are
//! the user's struct) and dynamic tables (rows of `Value`) sit side by side, and the dynamic
//! API reaches either. The in-memory table hands out rows and changes; the encodings of the
//! log and of snapshots are `storage`'s, called here with each row's borrowed columns.

use std::any::Any;
use std::sync::Arc;

use crate::copy::{fetch_text, text_columns, BATCH};
use crate::error::{Error, Result};
use crate::lookup::Lookup;
use crate::query::{self, NewValues, Plan, QuerySpec, RowTest};
use crate::record::{Cols, DynRow, Record, Row};
use crate::schema::Schema;
use crate::slab::Bits;
use crate::storage::codec::RowsWriter;
use crate::storage::snapshot;
use crate::storage::wal::line::RecordWriter;
use crate::table::{Mark, TableData};
use crate::value::{Value, ValueRef};

/// A table as the database sees it, whatever its row kind.
pub(crate) trait AnyTable: Send + Sync {
    fn schema(&self) -> &Arc<Schema>;
    /// The Rust type attached, `None` for a dynamic table.
    fn rust_type(&self) -> Option<&'static str>;
    fn as_any(&self) -> &dyn Any;
    /// `fresh` (a dynamic table, read again from disk) as rows of this table's kind: how a
    /// read-only database's refresh keeps a typed table typed. A schema that changed since
    /// is `Error::SchemaMismatch`.
    fn same_kind_from(&self, fresh: &dyn AnyTable) -> Result<Arc<dyn AnyTable>>;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// A new version of the table sharing its rows and indexes, for a writer to change.
    fn clone_arc(&self) -> Arc<dyn AnyTable>;
    /// The bytes of this version of the table that `newer` does not share (all of them if
    /// there is no newer version of it, or it holds another row kind).
    fn bytes_not_in(&self, newer: Option<&dyn AnyTable>) -> u64;
    fn len(&self) -> usize;
    fn next_key(&self) -> i64;
    fn mark(&self) -> Mark;
    fn rollback_to(&mut self, mark: Mark);
    /// The number of changes pending (undo journal entries): about the rows written.
    fn pending_changes(&self) -> usize;
    /// Whether anything is pending.
    fn has_changes(&self) -> bool {
        self.pending_changes() > 0
    }
    /// Adds the pending changes to a log record as the table's entry, one row at a time;
    /// `create` records the table's creation with them.
    fn log_changes(&self, create: bool, record: &mut RecordWriter<'_>) -> Result<()>;
    fn commit(&mut self);
    /// Every row as values, in key order.
    fn dump(&self) -> Result<Vec<Vec<Value>>>;
    /// The table's snapshot: every row in key order, as JSON Lines.
    fn encode_snapshot(&self) -> Result<snapshot::Encoded>;
    /// Writes every row, in key order (an export's rows).
    fn write_rows(&self, rows: &mut RowsWriter<'_>) -> Result<()>;

    fn dyn_insert(&mut self, values: Vec<Value>) -> Result<Value>;
    /// [`AnyTable::dyn_insert`] of values that [`Schema::resolve_values`] gave for this
    /// table's schema or one equal to it (a dynamic handle's, checked with
    /// `Schema::still_current`): not checked against the schema again.
    fn dyn_insert_resolved(&mut self, values: Vec<Value>) -> Result<Value>;
    /// Makes room for `n` more rows and their index entries, so a batch grows each index
    /// once instead of rehashing it as it fills.
    fn dyn_reserve(&mut self, n: usize);
    fn dyn_upsert(&mut self, values: Vec<Value>) -> Result<Value>;
    fn dyn_get(&self, key: Lookup<'_>) -> Result<Option<Vec<Value>>>;
    /// Runs `f` on the values of the row with this key, read in place where the table
    /// stores values; returns whether there was one.
    fn dyn_get_with(&self, key: Lookup<'_>, f: &mut dyn FnMut(&[Value])) -> Result<bool>;
    fn dyn_select(&self, q: &QuerySpec<'_, Row>, names: &Arc<[String]>) -> Result<Vec<Vec<Value>>>;
    /// Hands each matching row's values to `f` in order, one at a time; returns how many.
    fn dyn_for_each(
        &self,
        q: &QuerySpec<'_, Row>,
        names: &Arc<[String]>,
        f: &mut dyn FnMut(Vec<Value>),
    ) -> Result<usize>;
    /// Hands each row `q` selects (its predicates, order and window; closure filters are
    /// not used), read in place, to `f` until it returns `Ok(false)`. `text`: whether `f`
    /// reads text columns (their bytes are then fetched ahead, a batch of rows at a time).
    fn scan_cols(
        &self,
        q: &QuerySpec<'_, Row>,
        text: bool,
        f: &mut dyn FnMut(&dyn Cols) -> Result<bool>,
    ) -> Result<()>;
    /// Runs `f` on the row holding `v` in column `col`, found through the primary key or
    /// the column's own unique index: `Some(found)`, or `None` when `col` has neither.
    fn unique_cols(
        &self,
        col: usize,
        v: ValueRef<'_>,
        f: &mut dyn FnMut(&dyn Cols) -> Result<()>,
    ) -> Result<Option<bool>>;
    fn dyn_explain(&self, q: &QuerySpec<'_, Row>, names: &Arc<[String]>) -> Plan;
    fn dyn_count(&self, q: &QuerySpec<'_, Row>, names: &Arc<[String]>) -> Result<usize>;
    fn dyn_keys(&self, q: &QuerySpec<'_, Row>, names: &Arc<[String]>) -> Result<Vec<Value>>;
    /// Replaces the rows with these keys by the given images (same keys).
    fn dyn_replace(&mut self, rows: Vec<Vec<Value>>) -> Result<usize>;
    /// Sets columns `cols` of the rows with these keys to the values beside each key (one
    /// per column, of the columns' types): each row is copied, changed and replaced in
    /// place, as one statement's rows. Returns how many rows it found.
    fn dyn_set(&mut self, cols: &[usize], rows: Vec<(Value, Vec<Value>)>) -> Result<usize>;
    fn dyn_delete_keys(&mut self, keys: &[Value]) -> Result<usize>;
    /// Deletes the rows `q`'s predicates select that `keep` keeps (all of them without
    /// it), as one statement's rows; returns how many. The first row (in key order) on
    /// which `keep` fails fails the call, before anything is deleted.
    fn dyn_delete_where(
        &mut self,
        q: &QuerySpec<'_, Row>,
        keep: Option<RowTest<'_>>,
    ) -> Result<usize>;
    /// Sets columns `cols` of the rows `q`'s predicates select that `keep` keeps to the
    /// values `new` pushes for each (`cols.len()` of them, of the columns' types, worked
    /// out from the row as it was), copying, changing and replacing each row in place as
    /// one statement's rows; returns how many. The rows go to `new` in key order, and the
    /// first row on which `keep` or `new` fails fails the call with that error.
    fn dyn_update_where(
        &mut self,
        q: &QuerySpec<'_, Row>,
        keep: Option<RowTest<'_>>,
        cols: &[usize],
        new: NewValues<'_>,
    ) -> Result<usize>;
    fn written_since(&self, mark: Mark) -> Vec<u32>;
    /// The keys of rows deleted since `mark` that no longer exist, in time proportional to
    /// the changes since `mark`.
    fn deleted_since(&self, mark: Mark) -> Vec<Value>;
    /// Whether a row was deleted since `mark`.
    fn deletes_since(&self, mark: Mark) -> bool;
    fn col_value(&self, slot: u32, col: usize) -> Value;
    fn has_key(&self, key: &Value) -> bool;
    fn slots_where(&self, col: usize, v: &Value) -> Vec<u32>;
    fn key_at(&self, slot: u32) -> Value;
    /// The keys of the stored rows a new row of `values` collides with on a unique key
    /// (see `TableData::colliding_slots`).
    fn colliding_keys(&self, values: &[Value]) -> Vec<Value>;
    fn set_at(&mut self, slot: u32, col: usize, v: Value) -> Result<()>;
    fn raise_next_key(&mut self, next: i64);
}

/// Whether `t`'s rows must be read as values where every column is wanted (SQL): a Rust
/// type's `json` fields have no borrowed form ([`crate::Table::column`] answers `Null` for
/// them), so only [`Record::values`] gives their text.
fn json_by_value<R: Record>(t: &TableData<R>) -> bool {
    // By type id, which compiles to a constant (not `rust_type`, which compares names):
    // this runs on every key lookup of a join.
    std::any::TypeId::of::<R>() != std::any::TypeId::of::<DynRow>() && t.has_json
}

/// The slots of the rows `q`'s predicates select that `keep` keeps, in the order a scan
/// hands them over (key order), in one pass over the rows; with the error of the first of
/// them on which `keep` failed, the slots ending before it.
fn kept_slots<R: Record>(
    t: &TableData<R>,
    q: &QuerySpec<'_, Row>,
    keep: Option<RowTest<'_>>,
) -> (Vec<u32>, Option<Error>) {
    let by_value = json_by_value(t);
    // The scan's filter answers true on a row `keep` fails on (or whose values cannot be
    // read), and notes it: the slots are walked again, on that rare path, for the first
    // such row.
    let failed = std::cell::Cell::new(false);
    let test = |r: &R| -> std::result::Result<bool, Box<Error>> {
        match keep {
            Some(keep) if by_value => (keep.general)(&r.values()?),
            Some(keep) => keep.test(r),
            None => Ok(true),
        }
    };
    let failing = || {
        failed.set(true);
        true
    };
    // A test of the integer key (`id % 10 = 0`) in a dense key index reads no row.
    let by_key = match keep {
        Some(keep) if !by_value && q.preds.is_empty() => slots_by_dense_key(t, keep, &failing),
        _ => None,
    };
    let mut slots = match (by_key, keep) {
        (Some(slots), _) => slots,
        // The common case first: a test of every row of a table whose slots are in key
        // order walks the slab itself, with the test inlined (what `query::run` does for
        // it, without its layers of dispatch per row).
        (None, Some(keep)) if !by_value && q.preds.is_empty() && t.slots_in_order() => t
            .slab()
            .filter(|(_, r)| keep.test(*r).unwrap_or_else(|_| failing()))
            .map(|(s, _)| s)
            .collect(),
        (None, _) => {
            let filters = match keep {
                Some(keep) if !by_value => {
                    let f: Box<dyn Fn(&R) -> bool + '_> =
                        Box::new(move |r: &R| keep.test(r).unwrap_or_else(|_| failing()));
                    vec![f]
                }
                Some(_) => {
                    let f: Box<dyn Fn(&R) -> bool + '_> =
                        Box::new(|r: &R| test(r).unwrap_or_else(|_| failing()));
                    vec![f]
                }
                None => Vec::new(),
            };
            let spec = QuerySpec::<R> {
                preds: q.preds.clone(),
                filters,
                ..QuerySpec::default()
            };
            query::run(t, &spec)
        }
    };
    if failed.get() {
        for (i, &s) in slots.iter().enumerate() {
            if let Some(Err(e)) = t.row(s).map(&test) {
                slots.truncate(i);
                return (slots, Some(*e));
            }
        }
    }
    (slots, None)
}

/// The live slots whose key passes `keep`, when it is a test of an integer in the primary
/// key and `t`'s key index is dense (`None` otherwise), in slot order, which is key order
/// in a dense key index: slot `s` holds key `base + s`, so a row is read only where the
/// test has no answer on the integer (an overflow), and `keep` answers on it (`failing`
/// noting an error, as in [`kept_slots`]). The scan of every row otherwise waits on each
/// row's memory to read a key the index already gives.
fn slots_by_dense_key<R: Record>(
    t: &TableData<R>,
    keep: RowTest<'_>,
    failing: &dyn Fn() -> bool,
) -> Option<Vec<u32>> {
    let base = t.dense_key_base()?;
    let (_, int) = keep.int.filter(|&(col, _)| col == t.schema.primary_key())?;
    let mut out = Vec::new();
    for leaf in t.rows().leaves(0..t.slot_count()) {
        for i in Bits(leaf.live) {
            let slot = leaf.base + i;
            let answer = i64::try_from(slot)
                .ok()
                .and_then(|s| base.checked_add(s))
                .and_then(int);
            let pass = match answer {
                Some(pass) => pass,
                None => leaf
                    .row(i)
                    .is_some_and(|r| keep.test(r).unwrap_or_else(|_| failing())),
            };
            if pass {
                out.push(slot as u32);
            }
        }
    }
    Some(out)
}

/// Wraps closure filters over `Row` as filters over the table's own row kind.
fn typed_spec<'a, R: Record>(
    q: &'a QuerySpec<'a, Row>,
    names: &'a Arc<[String]>,
) -> QuerySpec<'a, R> {
    let rows = q.filters.iter().map(|f| {
        let f: Box<dyn Fn(&R) -> bool + 'a> = Box::new(move |r: &R| {
            r.values()
                .is_ok_and(|v| f(&Row::with_names(names.clone(), v)))
        });
        f
    });
    let values = q.value_filters.iter().map(|f| {
        let f: Box<dyn Fn(&R) -> bool + 'a> =
            Box::new(move |r: &R| r.values_in_place().is_ok_and(|v| f(&v)));
        f
    });
    QuerySpec {
        preds: q.preds.clone(),
        filters: rows.chain(values).collect(),
        value_filters: Vec::new(),
        order: q.order.clone(),
        limit: q.limit,
        offset: q.offset,
    }
}

impl<R: Record> AnyTable for TableData<R> {
    fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }
    fn rust_type(&self) -> Option<&'static str> {
        let name = std::any::type_name::<R>();
        (name != std::any::type_name::<DynRow>()).then_some(name)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn same_kind_from(&self, fresh: &dyn AnyTable) -> Result<Arc<dyn AnyTable>> {
        let diffs = fresh.schema().differences(&self.schema);
        let dynamic = fresh.as_any().downcast_ref::<TableData<DynRow>>();
        match dynamic {
            Some(d) if diffs.is_empty() => Ok(Arc::new(d.convert::<R>()?)),
            _ => Err(Error::SchemaMismatch {
                table: self.schema.table.clone(),
                reason: format!(
                    "changed on disk since this database attached {}: {}; open the database again",
                    std::any::type_name::<R>(),
                    diffs.join("; ")
                ),
            }),
        }
    }
    fn clone_arc(&self) -> Arc<dyn AnyTable> {
        Arc::new(self.clone())
    }
    fn bytes_not_in(&self, newer: Option<&dyn AnyTable>) -> u64 {
        let empty;
        let newer = match newer.and_then(|n| n.as_any().downcast_ref::<TableData<R>>()) {
            Some(n) => n,
            None => {
                empty = self.empty_like();
                &empty
            }
        };
        TableData::bytes_not_in(self, newer)
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn len(&self) -> usize {
        TableData::len(self)
    }
    fn next_key(&self) -> i64 {
        TableData::next_key(self)
    }
    fn mark(&self) -> Mark {
        TableData::mark(self)
    }
    fn rollback_to(&mut self, mark: Mark) {
        TableData::rollback_to(self, mark)
    }
    fn pending_changes(&self) -> usize {
        TableData::pending_changes(self)
    }
    fn log_changes(&self, create: bool, record: &mut RecordWriter<'_>) -> Result<()> {
        let schema = &self.schema;
        let next_key = schema.auto_increment().then(|| TableData::next_key(self));
        record.table(schema, create, next_key, |rows| {
            self.for_each_change(|r| rows.row(|i| r.col(i), || r.values()))
        })
    }
    fn commit(&mut self) {
        TableData::commit(self)
    }
    fn dump(&self) -> Result<Vec<Vec<Value>>> {
        self.iter().map(|(_, r)| r.values()).collect()
    }
    fn encode_snapshot(&self) -> Result<snapshot::Encoded> {
        let rows: Vec<&R> = self.iter().map(|(_, r)| r).collect();
        snapshot::encode(&self.schema, &rows, |r, i| r.col(i), |r| r.values())
    }
    fn write_rows(&self, rows: &mut RowsWriter<'_>) -> Result<()> {
        self.iter()
            .try_for_each(|(_, r)| rows.row(|i| r.col(i), || r.values()))
    }

    fn dyn_reserve(&mut self, n: usize) {
        self.reserve(n);
    }
    fn dyn_insert(&mut self, values: Vec<Value>) -> Result<Value> {
        let row = R::from_row(&self.schema, values)?;
        self.insert(row)
    }
    fn dyn_insert_resolved(&mut self, values: Vec<Value>) -> Result<Value> {
        let row = R::from_row(&self.schema, values)?;
        self.insert_resolved(row)
    }
    fn dyn_upsert(&mut self, values: Vec<Value>) -> Result<Value> {
        let row = R::from_row(&self.schema, values)?;
        self.upsert(row)
    }
    fn dyn_get(&self, key: Lookup<'_>) -> Result<Option<Vec<Value>>> {
        let key = self.schema.coerce_key(key)?;
        self.find_key(key.as_ref())
            .and_then(|s| self.row(s))
            .map(Record::values)
            .transpose()
    }
    fn dyn_get_with(&self, key: Lookup<'_>, f: &mut dyn FnMut(&[Value])) -> Result<bool> {
        let key = self.schema.coerce_key(key)?;
        match self.find_key(key.as_ref()).and_then(|s| self.row(s)) {
            Some(r) => {
                f(&r.values_in_place()?);
                Ok(true)
            }
            None => Ok(false),
        }
    }
    fn dyn_select(&self, q: &QuerySpec<'_, Row>, names: &Arc<[String]>) -> Result<Vec<Vec<Value>>> {
        let spec = typed_spec::<R>(q, names);
        query::run(self, &spec)
            .into_iter()
            .filter_map(|s| self.row(s))
            .map(R::values)
            .collect()
    }
    fn dyn_for_each(
        &self,
        q: &QuerySpec<'_, Row>,
        names: &Arc<[String]>,
        f: &mut dyn FnMut(Vec<Value>),
    ) -> Result<usize> {
        let slots = query::run(self, &typed_spec::<R>(q, names));
        for &s in &slots {
            if let Some(r) = self.row(s) {
                f(R::values(r)?);
            }
        }
        Ok(slots.len())
    }
    fn scan_cols(
        &self,
        q: &QuerySpec<'_, Row>,
        text: bool,
        f: &mut dyn FnMut(&dyn Cols) -> Result<bool>,
    ) -> Result<()> {
        let spec = QuerySpec::<R> {
            preds: q.preds.clone(),
            filters: Vec::new(),
            value_filters: Vec::new(),
            order: q.order.clone(),
            limit: q.limit,
            offset: q.offset,
        };
        if json_by_value(self) {
            query::each_row(self, &spec, false, |r| f(&r.values()?))
        } else {
            query::each_row(self, &spec, text, |r| f(r))
        }
    }
    fn unique_cols(
        &self,
        col: usize,
        v: ValueRef<'_>,
        f: &mut dyn FnMut(&dyn Cols) -> Result<()>,
    ) -> Result<Option<bool>> {
        let row = if col == self.schema.primary_key() {
            self.row_by_key(v)
        } else {
            match self.find_unique(col, v) {
                None => return Ok(None),
                Some(slot) => slot.and_then(|s| self.row(s)),
            }
        };
        match row {
            Some(r) if json_by_value(self) => f(&r.values()?).map(|()| Some(true)),
            Some(r) => f(r).map(|()| Some(true)),
            None => Ok(Some(false)),
        }
    }
    fn dyn_explain(&self, q: &QuerySpec<'_, Row>, names: &Arc<[String]>) -> Plan {
        query::explain(self, &typed_spec::<R>(q, names))
    }
    fn dyn_count(&self, q: &QuerySpec<'_, Row>, names: &Arc<[String]>) -> Result<usize> {
        Ok(query::count(self, &typed_spec::<R>(q, names)))
    }
    fn dyn_keys(&self, q: &QuerySpec<'_, Row>, names: &Arc<[String]>) -> Result<Vec<Value>> {
        let pk = self.schema.primary_key();
        let spec = typed_spec::<R>(q, names);
        Ok(query::run(self, &spec)
            .into_iter()
            .filter_map(|s| self.row(s))
            .map(|r| r.col(pk).to_owned())
            .collect())
    }
    fn dyn_replace(&mut self, rows: Vec<Vec<Value>>) -> Result<usize> {
        let pk = self.schema.primary_key();
        let mut n = 0;
        for values in rows {
            let row = R::from_row(&self.schema, values)?;
            if let Some(slot) = self.find_key(row.col(pk)) {
                self.replace(slot, row)?;
                n += 1;
            }
        }
        Ok(n)
    }
    fn dyn_set(&mut self, cols: &[usize], rows: Vec<(Value, Vec<Value>)>) -> Result<usize> {
        let mut slots = Vec::with_capacity(rows.len());
        let mut images = Vec::with_capacity(rows.len());
        for (key, values) in rows {
            let Some(slot) = self.find_key(key.as_ref()) else {
                continue;
            };
            let Some(old) = self.row(slot) else { continue };
            let mut row = old.clone();
            for (&c, v) in cols.iter().zip(values) {
                row.set_col(c, v)?;
            }
            // `replace_changed` checks the row (the set columns' types, rules, keys,
            // uniques) before it goes in.
            slots.push(slot);
            images.push(row);
        }
        let n = slots.len();
        self.replace_changed(&slots, images, cols)?;
        Ok(n)
    }
    fn written_since(&self, mark: Mark) -> Vec<u32> {
        TableData::written_since(self, mark)
    }
    fn deleted_since(&self, mark: Mark) -> Vec<Value> {
        TableData::deleted_since(self, mark)
    }
    fn deletes_since(&self, mark: Mark) -> bool {
        TableData::deletes_since(self, mark)
    }
    fn col_value(&self, slot: u32, col: usize) -> Value {
        self.row(slot)
            .map_or(Value::Null, |r| r.col(col).to_owned())
    }
    fn has_key(&self, key: &Value) -> bool {
        self.find_key(key.as_ref()).is_some()
    }
    fn slots_where(&self, col: usize, v: &Value) -> Vec<u32> {
        TableData::slots_where(self, col, v)
    }
    fn key_at(&self, slot: u32) -> Value {
        self.col_value(slot, self.schema.primary_key())
    }
    fn colliding_keys(&self, values: &[Value]) -> Vec<Value> {
        self.colliding_slots(values)
            .into_iter()
            .map(|s| self.key_at(s))
            .collect()
    }
    fn set_at(&mut self, slot: u32, col: usize, v: Value) -> Result<()> {
        TableData::set_at(self, slot, col, v)
    }
    fn raise_next_key(&mut self, next: i64) {
        TableData::raise_next_key(self, next)
    }
    fn dyn_delete_where(
        &mut self,
        q: &QuerySpec<'_, Row>,
        keep: Option<RowTest<'_>>,
    ) -> Result<usize> {
        let (slots, failed) = kept_slots(self, q, keep);
        if let Some(e) = failed {
            return Err(e);
        }
        Ok(self.remove_all(&slots))
    }
    fn dyn_update_where(
        &mut self,
        q: &QuerySpec<'_, Row>,
        keep: Option<RowTest<'_>>,
        cols: &[usize],
        new: NewValues<'_>,
    ) -> Result<usize> {
        let (slots, failed) = kept_slots(self, q, keep);
        let by_value = json_by_value(self);
        let mut done = Vec::with_capacity(slots.len());
        let mut images = Vec::with_capacity(slots.len());
        let mut values = Vec::with_capacity(cols.len());
        // Each row is copied whole, text too: a batch's text is fetched first, so that its
        // cache misses overlap (see `copy`).
        let text = text_columns(&self.schema);
        for batch in slots.chunks(BATCH) {
            if !text.is_empty() {
                fetch_text(&text, batch.iter().filter_map(|&s| self.row(s)));
            }
            for &s in batch {
                // Every slot found holds a row (nothing is written before the images go in).
                let Some(old) = self.row(s) else { continue };
                values.clear();
                if by_value {
                    new(&old.values()?, &mut values)?;
                } else {
                    new(old, &mut values)?;
                }
                let mut row = old.clone();
                for (&c, v) in cols.iter().zip(values.drain(..)) {
                    row.set_col(c, v)?;
                }
                done.push(s);
                images.push(row);
            }
        }
        // The rows before the one `keep` failed on went to `new` first: its errors, and
        // those of setting the columns, come first, as one row at a time would give them.
        // (A check or unique constraint is tested as the rows go in, after: its error
        // comes after WHERE's, as it did when the rows were found by key.)
        if let Some(e) = failed {
            return Err(e);
        }
        // `replace_changed` checks each row (the set columns' types, rules, keys, uniques)
        // before it goes in.
        self.replace_changed(&done, images, cols)?;
        Ok(done.len())
    }
    fn dyn_delete_keys(&mut self, keys: &[Value]) -> Result<usize> {
        let mut n = 0;
        for k in keys {
            if let Some(s) = self.find_key(k.as_ref()) {
                n += usize::from(self.remove(s));
            }
        }
        Ok(n)
    }
}
