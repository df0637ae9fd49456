//! Dynamic table handles: schema-driven, rows of [`Value`] ([`Row`]), for tools, imports
//! and tables without a Rust type.

use std::sync::{Arc, OnceLock};

use crate::engine::any_table::AnyTable;
use crate::engine::source::{statement, Source, TxCore};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::handle::read::unique_column;
use crate::lookup::IntoLookup;
use crate::query::{NewValues, Pred, QuerySpec, RowTest};
use crate::record::Row;
use crate::schema::Schema;
use crate::select::{column_names, Select};
use crate::value::Value;

/// What a dynamic handle knows of its table.
#[derive(Clone)]
struct DynParts {
    idx: usize,
    schema: Arc<Schema>,
    /// The column names rows are handed out with, made when first needed: SQL's writes
    /// make a handle per statement and hand out no rows.
    names: OnceLock<Arc<[String]>>,
}

/// How an update or delete of a dynamic table picks its rows.
#[derive(Clone, Copy)]
enum Picks<'p> {
    /// A closure of each row copied out into a [`Row`] (`update`, `delete`).
    Rows(&'p dyn Fn(&Row) -> bool),
    /// A closure of each row's values read in place (`update_values`, `delete_values`).
    Values(&'p dyn Fn(&[Value]) -> bool),
}

impl<'p> Picks<'p> {
    fn spec(self) -> QuerySpec<'p, Row> {
        let mut q = QuerySpec::<Row>::default();
        match self {
            Picks::Rows(f) => q.filters.push(Box::new(f)),
            Picks::Values(f) => q.value_filters.push(Box::new(f)),
        }
        q
    }
}

impl DynParts {
    fn new(idx: usize, schema: Arc<Schema>) -> Self {
        DynParts {
            idx,
            names: OnceLock::new(),
            schema,
        }
    }

    fn names(&self) -> &Arc<[String]> {
        self.names.get_or_init(|| column_names(&self.schema))
    }

    /// Refuses a table migrated since this handle was made: its column positions would name
    /// other columns now.
    fn current(&self, t: &dyn AnyTable) -> Result<()> {
        self.schema.still_current(t.schema())
    }

    fn get(&self, src: &dyn Source, key: crate::lookup::Lookup<'_>) -> Result<Option<Row>> {
        let st = src.state(&self.schema.table)?;
        self.current(st.table(self.idx)?)?;
        let values = st.table(self.idx)?.dyn_get(key)?;
        Ok(values.map(|v| Row::with_names(self.names().clone(), v)))
    }

    fn get_with<O>(
        &self,
        src: &dyn Source,
        key: crate::lookup::Lookup<'_>,
        f: impl FnOnce(&[Value]) -> O,
    ) -> Result<Option<O>> {
        let st = src.state(&self.schema.table)?;
        let t = st.table(self.idx)?;
        self.current(t)?;
        let (mut f, mut out) = (Some(f), None);
        t.dyn_get_with(key, &mut |v| out = f.take().map(|f| f(v)))?;
        Ok(out)
    }

    fn get_by<'a>(
        &'a self,
        src: &'a dyn Source,
        column: &str,
        value: crate::lookup::Lookup<'_>,
    ) -> Result<Option<Row>> {
        let col = unique_column(&self.schema, column)?;
        // One probe of the column's own unique index (or the primary key's), as a typed
        // handle's `get_by` does, with its rules: a null in a NOT NULL column is
        // `Error::NotNull`, and a null finds no row (a unique column may hold many nulls,
        // none of them equal to another, as in SQL).
        let st = src.state(&self.schema.table)?;
        let t = st.table(self.idx)?;
        self.current(t)?;
        let value = self.schema.coerce_lookup(col, value)?;
        if value.as_ref().is_null() {
            return Ok(None);
        }
        let width = self.schema.columns.len();
        let mut found = None;
        let probed = t.unique_cols(col, value.as_ref(), &mut |r| {
            found = Some(r.owned_values(width));
            Ok(())
        })?;
        if probed.is_some() {
            return Ok(found.map(|v| Row::with_names(self.names().clone(), v)));
        }
        // A unique column without an index of its own, should there be one: the query.
        drop(st);
        self.select(src)
            .where_eq(column, value.into_value())
            .first()
    }

    fn select<'a>(&'a self, src: &'a dyn Source) -> Select<'a, Row> {
        let current = src
            .state(&self.schema.table)
            .and_then(|st| self.current(st.table(self.idx)?));
        Select::new(src, self.idx, &self.schema, Some(self.names().clone())).noted(current)
    }

    fn count(&self, src: &dyn Source) -> Result<usize> {
        let st = src.state(&self.schema.table)?;
        Ok(st.table(self.idx)?.len())
    }

    fn insert(&self, tx: &dyn TxCore, row: &Row) -> Result<Value> {
        let values = self.resolved(tx, row)?;
        self.insert_resolved(tx, values)
    }

    fn insert_resolved(&self, tx: &dyn TxCore, values: Vec<Value>) -> Result<Value> {
        statement(tx, self.idx, |t| {
            // Resolved against `self.schema`, which `current` finds equal to the table's.
            self.current(t)?;
            t.dyn_insert_resolved(values)
        })
    }

    /// Each row's values resolved against this handle's schema, or the refusal
    /// [`judged`](Self::judged).
    fn resolve_all(
        &self,
        src: &dyn Source,
        rows: Vec<Vec<Option<Value>>>,
    ) -> Result<Vec<Vec<Value>>> {
        rows.into_iter()
            .map(|r| self.resolve_values(src, r))
            .collect()
    }

    /// One row's values resolved against this handle's schema (see
    /// [`Schema::resolve_values`]), or the refusal [`judged`](Self::judged).
    fn resolve_values(&self, src: &dyn Source, values: Vec<Option<Value>>) -> Result<Vec<Value>> {
        self.schema
            .resolve_values(values)
            .map_err(|e| self.judged(src, e))
    }

    /// `e`, values refused by this handle's schema, unless the table migrated since the
    /// handle was made: then that (the values were judged by columns the table no longer
    /// has, and a null refused for a column nullable now is no answer). Asked only once
    /// values are refused.
    fn judged(&self, src: &dyn Source, e: Error) -> Error {
        let stale = src
            .state(&self.schema.table)
            .and_then(|st| self.current(st.table(self.idx)?));
        match stale {
            Err(stale @ Error::SchemaMismatch { .. }) => stale,
            _ => e,
        }
    }

    /// `row` resolved against this handle's schema, or the refusal [`judged`](Self::judged).
    fn resolved(&self, src: &dyn Source, row: &Row) -> Result<Vec<Value>> {
        row.resolve(&self.schema).map_err(|e| self.judged(src, e))
    }

    fn insert_many(&self, tx: &dyn TxCore, values: Vec<Vec<Value>>) -> Result<Vec<Value>> {
        statement(tx, self.idx, |t| {
            self.current(t)?;
            t.dyn_reserve(values.len());
            values
                .into_iter()
                .map(|v| t.dyn_insert_resolved(v))
                .collect()
        })
    }

    fn upsert(&self, tx: &dyn TxCore, row: &Row) -> Result<Value> {
        let values = self.resolved(tx, row)?;
        statement(tx, self.idx, |t| {
            self.current(t)?;
            t.dyn_upsert(values)
        })
    }

    fn update(
        &self,
        tx: &dyn TxCore,
        picks: Picks<'_>,
        mutate: &mut dyn FnMut(&mut Row),
    ) -> Result<usize> {
        let (matched, changes) = {
            let st = tx.state(&self.schema.table)?;
            self.current(st.table(self.idx)?)?;
            let t = st.table(self.idx)?;
            (
                t.dyn_select(&picks.spec(), self.names())?,
                t.pending_changes(),
            )
        };
        let pk = self.schema.primary_key();
        let mut images = Vec::with_capacity(matched.len());
        for values in matched {
            let old_key = values[pk].clone();
            let mut row = Row::with_names(self.names().clone(), values);
            mutate(&mut row);
            let new = row.resolve(&self.schema)?;
            if new[pk] != old_key {
                return Err(Error::PrimaryKeyChanged {
                    table: self.schema.table.clone(),
                    column: self.schema.columns[pk].name.clone(),
                    old: old_key,
                    new: new[pk].clone(),
                });
            }
            images.push(new);
        }
        statement(tx, self.idx, |t| {
            // A closure that wrote the table (inside a transaction, through another handle)
            // may have replaced the rows matched: the images must not land on its rows.
            if t.pending_changes() != changes {
                return Err(Error::Reentrant);
            }
            t.dyn_replace(images)
        })
    }

    fn delete(&self, tx: &dyn TxCore, picks: Picks<'_>) -> Result<usize> {
        let keys = {
            let st = tx.state(&self.schema.table)?;
            self.current(st.table(self.idx)?)?;
            st.table(self.idx)?.dyn_keys(&picks.spec(), self.names())?
        };
        statement(tx, self.idx, |t| t.dyn_delete_keys(&keys))
    }

    fn delete_key(&self, tx: &dyn TxCore, key: &Value) -> Result<bool> {
        statement(tx, self.idx, |t| {
            self.current(t)?;
            t.dyn_delete_keys(std::slice::from_ref(key))
        })
        .map(|n| n > 0)
    }

    /// `key` as this handle's key column holds it, or the refusal [`judged`](Self::judged).
    fn coerce_key<'k>(&self, src: &dyn Source, key: impl IntoLookup<'k>) -> Result<Value> {
        match self.schema.coerce_key(key.into_lookup()) {
            Ok(key) => Ok(key.into_value()),
            Err(e) => Err(self.judged(src, e)),
        }
    }
}

/// A schema-driven handle on any table, with rows of [`Value`] ([`Row`]), from
/// [`Database::dyn_table`](crate::Database::dyn_table). Writes are validated at run time: a
/// wrong type is `Error::TypeMismatch`, a missing NOT NULL column `Error::NotNull`, an unknown
/// column `Error::UnknownColumn`; defaults are filled in; lossless coercions (3 into a float
/// column) are accepted and lossy ones (3.5 into an integer, 300 into a `u8`) refused.
///
/// ```
/// use tabula::{row, Column, ColumnType, Database, Error, Schema, Value};
/// let db = Database::in_memory();
/// let t = db.create_table(Schema::new("people", vec![
///     Column::new("id", ColumnType::U64).primary_key(),
///     Column::new("name", ColumnType::Text),
///     Column::new("score", ColumnType::F64).default_value(0.0),
/// ])?)?;
/// let id = t.insert(row! { "name" => "Bob", "score" => 3 })?;
/// assert_eq!(t.get(id)?.unwrap()["score"], Value::Float(3.0));
/// let err = t.insert(row! { "name" => 5 }).unwrap_err();
/// assert!(matches!(err, Error::TypeMismatch { .. }));
/// # Ok::<(), tabula::Error>(())
/// ```
#[derive(Clone)]
pub struct DynTable {
    engine: Arc<Engine>,
    parts: DynParts,
}

impl std::fmt::Debug for DynTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynTable")
            .field("table", &self.parts.schema.table)
            .finish()
    }
}

impl DynTable {
    pub(crate) fn new(engine: Arc<Engine>, idx: usize, schema: Arc<Schema>) -> Self {
        DynTable {
            engine,
            parts: DynParts::new(idx, schema),
        }
    }

    fn write<O>(&self, f: impl FnOnce(&dyn TxCore) -> Result<O>) -> Result<O> {
        self.engine.write(&self.parts.schema.table, |tx| f(tx))
    }

    /// The table's schema.
    pub fn schema(&self) -> &Schema {
        &self.parts.schema
    }

    /// The row with this primary key.
    pub fn get<'k>(&self, key: impl IntoLookup<'k>) -> Result<Option<Row>> {
        self.parts.get(&*self.engine, key.into_lookup())
    }

    /// Runs `f` on the values (in schema order) of the row with this primary key, and
    /// returns what `f` returns (`None` if there is no such row). On a table without a
    /// Rust type the values are read in place, not copied into a [`Row`]. `f` sees the
    /// newest committed version and holds no lock.
    ///
    /// ```
    /// use tabula::{row, Column, ColumnType, Database, Schema, Value};
    /// let db = Database::in_memory();
    /// let t = db.create_table(Schema::new("t", vec![
    ///     Column::new("id", ColumnType::U64).primary_key(),
    ///     Column::new("name", ColumnType::Text),
    /// ])?)?;
    /// let id = t.insert(row! { "name" => "ada" })?;
    /// let len = t.get_with(id, |v| v[1].as_str().map_or(0, str::len))?;
    /// assert_eq!(len, Some(3));
    /// assert_eq!(t.get_with(99, |v| v.len())?, None);
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn get_with<'k, O>(
        &self,
        key: impl IntoLookup<'k>,
        f: impl FnOnce(&[Value]) -> O,
    ) -> Result<Option<O>> {
        self.parts.get_with(&*self.engine, key.into_lookup(), f)
    }

    /// The row holding `value` in a unique column (or the primary key).
    pub fn get_by<'v>(&self, column: &str, value: impl IntoLookup<'v>) -> Result<Option<Row>> {
        self.parts
            .get_by(&*self.engine, column, value.into_lookup())
    }

    /// Starts a query; see [`Select`].
    pub fn select(&self) -> Select<'_, Row> {
        self.parts.select(&*self.engine)
    }

    /// The number of rows.
    pub fn count(&self) -> Result<usize> {
        self.parts.count(&*self.engine)
    }

    /// Inserts a row and returns its key.
    pub fn insert(&self, row: Row) -> Result<Value> {
        self.write(|tx| self.parts.insert(tx, &row))
    }

    /// Inserts many rows as one atomic commit.
    pub fn insert_many(&self, rows: impl IntoIterator<Item = Row>) -> Result<Vec<Value>> {
        let values: Vec<Vec<Value>> = rows
            .into_iter()
            .map(|r| self.parts.resolved(&*self.engine, &r))
            .collect::<Result<_>>()?;
        self.write(|tx| self.parts.insert_many(tx, values))
    }

    /// Inserts one row given as its values in schema order, `None` for a column it leaves
    /// out (see [`Schema::resolve_values`]); returns its key. The same as
    /// [`DynTable::insert`] without matching column names: for bindings that already
    /// hold the values by position.
    pub fn insert_values(&self, values: Vec<Option<Value>>) -> Result<Value> {
        let values = self.parts.resolve_values(&*self.engine, values)?;
        self.write(|tx| self.parts.insert_resolved(tx, values))
    }

    /// [`DynTable::insert_values`] for many rows, as one atomic commit.
    pub fn insert_many_values(&self, rows: Vec<Vec<Option<Value>>>) -> Result<Vec<Value>> {
        let values = self.parts.resolve_all(&*self.engine, rows)?;
        self.write(|tx| self.parts.insert_many(tx, values))
    }

    /// Inserts the row, or replaces the row with the same primary key.
    pub fn upsert(&self, row: Row) -> Result<Value> {
        self.write(|tx| self.parts.upsert(tx, &row))
    }

    /// Applies `mutate` to every row matching `pred`; atomic; returns rows matched.
    pub fn update(
        &self,
        pred: impl Fn(&Row) -> bool,
        mut mutate: impl FnMut(&mut Row),
    ) -> Result<usize> {
        self.write(|tx| self.parts.update(tx, Picks::Rows(&pred), &mut mutate))
    }

    /// [`update`](DynTable::update) with `pred` given each row's values in schema order:
    /// on a table without a Rust type, read in place rather than copied into a [`Row`]
    /// for every row it tests.
    ///
    /// ```
    /// use tabula::{row, Column, ColumnType, Database, Schema, Value};
    /// let db = Database::in_memory();
    /// let t = db.create_table(Schema::new("t", vec![
    ///     Column::new("id", ColumnType::U64).primary_key(),
    ///     Column::new("n", ColumnType::I64),
    /// ])?)?;
    /// t.insert_many([row! { "n" => 1 }, row! { "n" => 2 }])?;
    /// let changed = t.update_values(|v| v[1] == Value::Int(2), |r| r.set("n", 20))?;
    /// assert_eq!((changed, t.get(2)?.unwrap()["n"].clone()), (1, Value::Int(20)));
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn update_values(
        &self,
        pred: impl Fn(&[Value]) -> bool,
        mut mutate: impl FnMut(&mut Row),
    ) -> Result<usize> {
        self.write(|tx| self.parts.update(tx, Picks::Values(&pred), &mut mutate))
    }

    /// Deletes every row matching `pred`; returns how many.
    pub fn delete(&self, pred: impl Fn(&Row) -> bool) -> Result<usize> {
        self.write(|tx| self.parts.delete(tx, Picks::Rows(&pred)))
    }

    /// [`delete`](DynTable::delete) with `pred` given each row's values in schema order:
    /// on a table without a Rust type, read in place rather than copied into a [`Row`]
    /// for every row it tests.
    pub fn delete_values(&self, pred: impl Fn(&[Value]) -> bool) -> Result<usize> {
        self.write(|tx| self.parts.delete(tx, Picks::Values(&pred)))
    }

    /// Deletes the row with this key; returns whether there was one.
    pub fn delete_key<'k>(&self, key: impl IntoLookup<'k>) -> Result<bool> {
        let key = self.parts.coerce_key(&*self.engine, key)?;
        self.write(|tx| self.parts.delete_key(tx, &key))
    }
}

/// A dynamic table handle inside a transaction, from
/// [`Transaction::dyn_table`](crate::Transaction::dyn_table).
#[derive(Clone)]
pub struct TxDynTable<'t> {
    tx: &'t dyn TxCore,
    parts: DynParts,
}

impl std::fmt::Debug for TxDynTable<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxDynTable")
            .field("table", &self.parts.schema.table)
            .finish()
    }
}

impl<'t> TxDynTable<'t> {
    pub(crate) fn new(tx: &'t dyn TxCore, idx: usize, schema: Arc<Schema>) -> Self {
        TxDynTable {
            tx,
            parts: DynParts::new(idx, schema),
        }
    }

    /// The table's schema.
    pub fn schema(&self) -> &Schema {
        &self.parts.schema
    }

    /// See [`DynTable::get`].
    pub fn get<'k>(&self, key: impl IntoLookup<'k>) -> Result<Option<Row>> {
        self.parts.get(self.tx, key.into_lookup())
    }

    /// See [`DynTable::get_with`]; `f` sees the transaction's own writes.
    pub fn get_with<'k, O>(
        &self,
        key: impl IntoLookup<'k>,
        f: impl FnOnce(&[Value]) -> O,
    ) -> Result<Option<O>> {
        self.parts.get_with(self.tx, key.into_lookup(), f)
    }

    /// See [`DynTable::get_by`].
    pub fn get_by<'v>(&self, column: &str, value: impl IntoLookup<'v>) -> Result<Option<Row>> {
        self.parts.get_by(self.tx, column, value.into_lookup())
    }

    /// See [`DynTable::select`].
    pub fn select(&self) -> Select<'_, Row> {
        self.parts.select(self.tx)
    }

    /// See [`DynTable::count`].
    pub fn count(&self) -> Result<usize> {
        self.parts.count(self.tx)
    }

    /// See [`DynTable::insert`].
    pub fn insert(&self, row: Row) -> Result<Value> {
        self.parts.insert(self.tx, &row)
    }

    /// Inserts `rows` one at a time, as one statement (a failure undoes all of it). Each
    /// row's values go to `claim` first, which may take care of the row itself (SQL's
    /// `ON CONFLICT (key)`, whose key is looked up before any other: `Some(whether that
    /// counts as a change)`), then are inserted; a row a constraint refuses goes to
    /// `conflict`, with the error and its values (`None` when they could not be made: a
    /// missing NOT NULL value), which leaves it out or gives the error that ends the
    /// statement. Either may change the table (`DO UPDATE`). Returns the rows inserted or
    /// changed. SQL's `INSERT OR IGNORE` and `ON CONFLICT` write through it.
    pub(crate) fn insert_each(
        &self,
        rows: Vec<Vec<Option<Value>>>,
        claim: Claim<'_>,
        conflict: OnConflict<'_>,
    ) -> Result<u64> {
        statement(self.tx, self.parts.idx, |t| {
            self.parts.current(t)?;
            let mut changed = 0;
            for row in rows {
                let values = match self.parts.schema.resolve_values(row) {
                    Ok(v) => v,
                    Err(e) => {
                        changed += u64::from(conflict(t, e, None)?);
                        continue;
                    }
                };
                if let Some(counted) = claim(t, &values)? {
                    changed += u64::from(counted);
                    continue;
                }
                // The row's own changes only, should it be refused.
                let mark = t.mark();
                match t.dyn_insert_resolved(values.clone()) {
                    Ok(_) => changed += 1,
                    Err(e) => {
                        t.rollback_to(mark);
                        changed += u64::from(conflict(t, e, Some(&values))?);
                    }
                }
            }
            Ok(changed)
        })
    }

    /// Inserts `rows` one at a time, as one statement (a failure undoes all of it, in every
    /// table), each after deleting the stored rows that hold one of its unique keys: SQL's
    /// `INSERT OR REPLACE`. The `ON DELETE` actions of a row's deletions run before the row
    /// goes in, so they never reach it (a row that references a row it replaced fails the
    /// check of references at commit, as the reference dangles), and a key deleted by one
    /// row and given again by a later one has had its actions. Returns the rows inserted.
    pub(crate) fn replace_each(&self, rows: Vec<Vec<Option<Value>>>) -> Result<u64> {
        let (tx, idx) = (self.tx, self.parts.idx);
        let first = {
            let mut st = tx.state_mut()?;
            let t = st.table_mut(idx)?;
            self.parts.current(t)?;
            let mark = t.mark();
            tx.touch(idx, mark);
            mark
        };
        // The other tables the actions changed, each with its mark from before them.
        let mut changed = Vec::new();
        let run = || -> Result<u64> {
            let mut inserted = 0;
            for row in rows {
                let values = self.parts.schema.resolve_values(row)?;
                let (step, deleted) = {
                    let mut st = tx.state_mut()?;
                    let t = st.table_mut(idx)?;
                    let step = t.mark();
                    let keys = t.colliding_keys(&values);
                    (step, !keys.is_empty() && t.dyn_delete_keys(&keys)? > 0)
                };
                if deleted {
                    tx.delete_actions_of_step(idx, step, &mut changed)?;
                }
                tx.state_mut()?
                    .table_mut(idx)?
                    .dyn_insert_resolved(values)?;
                inserted += 1;
            }
            Ok(inserted)
        };
        run().inspect_err(|_| tx.undo(idx, first, changed))
    }

    /// Sets columns `cols` of the rows with these keys (of the key's type) to the values
    /// beside each (of the columns' types), as one statement; returns how many rows it
    /// changed. SQL's `UPDATE` with a correlated subquery writes through it.
    pub(crate) fn set_columns(
        &self,
        cols: &[usize],
        rows: Vec<(Value, Vec<Value>)>,
    ) -> Result<usize> {
        statement(self.tx, self.parts.idx, |t| {
            self.parts.current(t)?;
            t.dyn_set(cols, rows)
        })
    }

    /// Deletes the rows `preds` select that `keep` keeps, as one statement; returns how
    /// many. SQL's `DELETE` without a correlated subquery writes through it (see
    /// `AnyTable::dyn_delete_where`).
    pub(crate) fn delete_where(&self, preds: &[Pred], keep: Option<RowTest<'_>>) -> Result<usize> {
        statement(self.tx, self.parts.idx, |t| {
            self.parts.current(t)?;
            t.dyn_delete_where(&where_spec(preds), keep)
        })
    }

    /// Sets columns `cols` of the rows `preds` select that `keep` keeps to what `new` gives
    /// for each, as one statement; returns how many. SQL's `UPDATE` without a correlated
    /// subquery writes through it (see `AnyTable::dyn_update_where`).
    pub(crate) fn update_where(
        &self,
        preds: &[Pred],
        keep: Option<RowTest<'_>>,
        cols: &[usize],
        new: NewValues<'_>,
    ) -> Result<usize> {
        statement(self.tx, self.parts.idx, |t| {
            self.parts.current(t)?;
            t.dyn_update_where(&where_spec(preds), keep, cols, new)
        })
    }

    /// Deletes the rows with these keys (of the key's type), as one statement; returns how
    /// many it deleted. SQL's `DELETE` writes through it.
    pub(crate) fn delete_keys(&self, keys: &[Value]) -> Result<usize> {
        statement(self.tx, self.parts.idx, |t| {
            self.parts.current(t)?;
            t.dyn_delete_keys(keys)
        })
    }

    /// See [`DynTable::insert_many`].
    pub fn insert_many(&self, rows: impl IntoIterator<Item = Row>) -> Result<Vec<Value>> {
        let values: Vec<Vec<Value>> = rows
            .into_iter()
            .map(|r| self.parts.resolved(self.tx, &r))
            .collect::<Result<_>>()?;
        self.parts.insert_many(self.tx, values)
    }

    /// See [`DynTable::insert_values`].
    pub fn insert_values(&self, values: Vec<Option<Value>>) -> Result<Value> {
        let values = self.parts.resolve_values(self.tx, values)?;
        self.parts.insert_resolved(self.tx, values)
    }

    /// See [`DynTable::insert_many_values`].
    pub fn insert_many_values(&self, rows: Vec<Vec<Option<Value>>>) -> Result<Vec<Value>> {
        let values = self.parts.resolve_all(self.tx, rows)?;
        self.parts.insert_many(self.tx, values)
    }

    /// Makes room for `additional` more rows, so that a load arriving in several
    /// [`insert_many_values`](TxDynTable::insert_many_values) calls grows the table's
    /// slots and hash indexes once rather than as each call finds them full. Changes no
    /// row, but counts as writing the table (its copy in the transaction is the one made
    /// room in, and is dropped with the rest if the transaction rolls back).
    ///
    /// ```
    /// use tabula::{Column, ColumnType, Database, Schema, Value};
    /// let db = Database::in_memory();
    /// db.create_table(Schema::new("t", vec![
    ///     Column::new("id", ColumnType::U64).primary_key(),
    ///     Column::new("n", ColumnType::I64).unique(),
    /// ])?)?;
    /// db.transaction(|tx| {
    ///     let t = tx.dyn_table("t")?;
    ///     t.reserve(1000)?;
    ///     for chunk in (0..1000).collect::<Vec<i64>>().chunks(100) {
    ///         t.insert_many_values(chunk.iter().map(|&n| vec![None, Some(Value::Int(n))]).collect())?;
    ///     }
    ///     Ok(())
    /// })?;
    /// assert_eq!(db.dyn_table("t")?.count()?, 1000);
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn reserve(&self, additional: usize) -> Result<()> {
        statement(self.tx, self.parts.idx, |t| {
            self.parts.current(t)?;
            t.dyn_reserve(additional);
            Ok(())
        })
    }

    /// See [`DynTable::upsert`].
    pub fn upsert(&self, row: Row) -> Result<Value> {
        self.parts.upsert(self.tx, &row)
    }

    /// See [`DynTable::update`].
    pub fn update(
        &self,
        pred: impl Fn(&Row) -> bool,
        mut mutate: impl FnMut(&mut Row),
    ) -> Result<usize> {
        self.parts.update(self.tx, Picks::Rows(&pred), &mut mutate)
    }

    /// See [`DynTable::update_values`].
    pub fn update_values(
        &self,
        pred: impl Fn(&[Value]) -> bool,
        mut mutate: impl FnMut(&mut Row),
    ) -> Result<usize> {
        self.parts
            .update(self.tx, Picks::Values(&pred), &mut mutate)
    }

    /// See [`DynTable::delete`].
    pub fn delete(&self, pred: impl Fn(&Row) -> bool) -> Result<usize> {
        self.parts.delete(self.tx, Picks::Rows(&pred))
    }

    /// See [`DynTable::delete_values`].
    pub fn delete_values(&self, pred: impl Fn(&[Value]) -> bool) -> Result<usize> {
        self.parts.delete(self.tx, Picks::Values(&pred))
    }

    /// See [`DynTable::delete_key`].
    pub fn delete_key<'k>(&self, key: impl IntoLookup<'k>) -> Result<bool> {
        let key = self.parts.coerce_key(self.tx, key)?;
        self.parts.delete_key(self.tx, &key)
    }
}

/// What [`TxDynTable::insert_each`] does with a refused row: given the table, the error
/// and the row's values, whether that counts as a change, or the error that ends the
/// statement.
pub(crate) type OnConflict<'c> =
    &'c mut dyn FnMut(&mut dyn AnyTable, Error, Option<&[Value]>) -> Result<bool>;

/// What [`TxDynTable::insert_each`] asks of a row before inserting it: given the table and
/// the row's values, `Some(whether it counts as a change)` when it took care of the row.
pub(crate) type Claim<'c> = &'c mut dyn FnMut(&mut dyn AnyTable, &[Value]) -> Result<Option<bool>>;

/// A query of just these predicates.
fn where_spec(preds: &[Pred]) -> QuerySpec<'static, Row> {
    QuerySpec {
        preds: preds.to_vec(),
        ..QuerySpec::default()
    }
}
