//! Table handles: typed (`TableHandle<T>`, `TxTable<T>`) and dynamic (`DynTable`,
//! `TxDynTable`). Plain handles read under the database's read lock and write through a
//! one-statement transaction; transaction handles do both inside their transaction.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::column::field;
use crate::copy::copy_tagged;
use crate::db::Database;
use crate::error::{Error, Result};
use crate::lookup::{IntoLookup, Lookup};
use crate::query::QuerySpec;
use crate::record::{Row, Table};
use crate::registry::State;
use crate::registry::{coerce_key, upsert, AnyTable};
use crate::schema::{ColumnType, Schema};
use crate::select::{column_names, detached, typed, Select, Src};
use crate::table::TableData;
use crate::txn::{statement, ReadTransaction, Transaction, TxCore};
use crate::value::{Value, ValueRef};

fn typed_mut<T: Table>(t: &mut dyn AnyTable) -> Result<&mut TableData<T>> {
    t.as_any_mut()
        .downcast_mut::<TableData<T>>()
        .ok_or_else(detached::<T>)
}

fn to_key<T: Table>(v: Value) -> Result<T::Key> {
    let s = T::schema();
    field::<T::Key>(&s.table, &s.primary_key_column().name, v)
}

/// The position of unique column `column` (or the primary key). Inlined: it runs before every
/// lookup by a unique value.
#[inline(always)]
fn unique_column(schema: &Schema, column: &str) -> Result<usize> {
    match schema.position(column) {
        Some(col) if schema.columns[col].unique || schema.columns[col].primary_key => Ok(col),
        _ => Err(not_unique(schema, column)),
    }
}

#[cold]
fn not_unique(schema: &Schema, column: &str) -> Error {
    if let Err(e) = schema.column_index(column) {
        return e;
    }
    Error::InvalidColumnUse {
        table: schema.table.clone(),
        column: column.to_owned(),
        reason: "get_by needs a unique column; use select().where_eq() for others".into(),
    }
}

fn get_with<T: Table, O>(
    src: Src<'_>,
    idx: usize,
    key: Lookup<'_>,
    f: impl FnOnce(&T) -> O,
) -> Result<Option<O>> {
    let schema = T::schema();
    let key = coerce_key(schema, key)?;
    let st = src.state(&schema.table)?;
    let t = typed::<T>(&st, idx)?;
    Ok(t.find_key(key.as_ref()).and_then(|s| t.row(s)).map(f))
}

fn get_by_with<T: Table, O>(
    src: Src<'_>,
    idx: usize,
    column: &str,
    value: Lookup<'_>,
    f: impl FnOnce(&T) -> O,
) -> Result<Option<O>> {
    let (col, value) = unique_lookup::<T>(column, value)?;
    let st = src.state(&T::schema().table)?;
    Ok(row_by_unique(typed::<T>(&st, idx)?, col, &value).map(f))
}

/// A lookup by a unique column, checked and coerced before any lock is taken.
#[inline]
fn unique_lookup<'v, T: Table>(column: &str, value: Lookup<'v>) -> Result<(usize, Lookup<'v>)> {
    let schema = T::schema();
    let col = unique_column(schema, column)?;
    Ok((col, schema.coerce_lookup(col, value)?))
}

/// The row holding an (already coerced) value in unique column `col`. Text, the usual
/// unique value, takes a probe inlined whole, with no call in the way: a loop of lookups in
/// a read transaction then overlaps their cache misses.
#[inline(always)]
fn row_by_unique<'t, T: Table>(
    t: &'t TableData<T>,
    col: usize,
    value: &Lookup<'_>,
) -> Option<&'t T> {
    if let ValueRef::Text(text) = value.as_ref() {
        if let Some(row) = t.row_by_unique_text(col, text) {
            return row;
        }
    }
    t.find_unique(col, value.as_ref())
        .flatten()
        .and_then(|s| t.row(s))
}

fn count<T: Table>(src: Src<'_>, idx: usize) -> Result<usize> {
    let st = src.state(&T::schema().table)?;
    Ok(typed::<T>(&st, idx)?.len())
}

fn insert<T: Table>(tx: &dyn TxCore, idx: usize, row: T) -> Result<T::Key> {
    let key = statement(tx, idx, |t| typed_mut::<T>(t)?.insert(row))?;
    to_key::<T>(key)
}

fn insert_many<T: Table>(
    tx: &dyn TxCore,
    idx: usize,
    rows: impl IntoIterator<Item = T>,
) -> Result<Vec<T::Key>> {
    statement(tx, idx, |t| {
        let t = typed_mut::<T>(t)?;
        let rows = rows.into_iter();
        t.reserve(rows.size_hint().0);
        rows.map(|r| t.insert(r).and_then(to_key::<T>))
            .collect::<Result<Vec<_>>>()
    })
}

fn upsert_row<T: Table>(tx: &dyn TxCore, idx: usize, row: T) -> Result<T::Key> {
    let key = statement(tx, idx, |t| upsert(typed_mut::<T>(t)?, row))?;
    to_key::<T>(key)
}

fn update<T: Table>(
    tx: &dyn TxCore,
    idx: usize,
    pred: impl Fn(&T) -> bool,
    mut mutate: impl FnMut(&mut T),
) -> Result<usize> {
    // Matching rows are copied out first so that the closures run with the table free.
    // The slots first, then the copies into memory of the exact size: a growing `Vec` of
    // rows would be copied on each doubling, into fresh memory.
    let (slots, mut rows) = {
        let st = tx.state()?;
        let t = typed::<T>(&st, idx)?;
        let slots: Vec<u32> = t.iter().filter(|(_, r)| pred(r)).map(|(s, _)| s).collect();
        let mut rows: Vec<T> = Vec::with_capacity(slots.len());
        let found = slots.iter().filter_map(|&s| t.row(s).map(|r| ((), r)));
        copy_tagged(&t.schema, found, |(), r| rows.push(r));
        (slots, rows)
    };
    for row in &mut rows {
        mutate(row);
    }
    let n = rows.len();
    statement(tx, idx, |t| typed_mut::<T>(t)?.replace_many(&slots, rows))?;
    Ok(n)
}

fn delete<T: Table>(tx: &dyn TxCore, idx: usize, pred: impl Fn(&T) -> bool) -> Result<usize> {
    let slots: Vec<u32> = {
        let st = tx.state()?;
        let t = typed::<T>(&st, idx)?;
        t.iter().filter(|(_, r)| pred(r)).map(|(s, _)| s).collect()
    };
    statement(tx, idx, |t| {
        let t = typed_mut::<T>(t)?;
        Ok(slots.into_iter().filter(|&s| t.remove(s)).count())
    })
}

fn delete_key<T: Table>(tx: &dyn TxCore, idx: usize, key: Lookup<'_>) -> Result<bool> {
    let key = coerce_key(T::schema(), key)?;
    statement(tx, idx, |t| {
        let t = typed_mut::<T>(t)?;
        Ok(t.find_key(key.as_ref()).is_some_and(|s| t.remove(s)))
    })
}

macro_rules! typed_lookups {
    () => {
        /// The row with this primary key.
        pub fn get<'k>(&self, key: impl IntoLookup<'k>) -> Result<Option<T>> {
            get_with::<T, T>(self.src(), self.idx, key.into_lookup(), T::clone)
        }

        /// The row holding `value` in a unique column (or the primary key).
        pub fn get_by<'v>(&self, column: &str, value: impl IntoLookup<'v>) -> Result<Option<T>> {
            get_by_with::<T, T>(self.src(), self.idx, column, value.into_lookup(), T::clone)
        }

        /// Runs `f` on the row with this primary key without copying it, and returns what
        /// `f` returns (`None` if there is no such row). `f` runs under the table's read
        /// lock: keep it short, and use no plain handle of this database inside it.
        pub fn get_with<'k, O>(
            &self,
            key: impl IntoLookup<'k>,
            f: impl FnOnce(&T) -> O,
        ) -> Result<Option<O>> {
            get_with::<T, O>(self.src(), self.idx, key.into_lookup(), f)
        }

        /// [`get_by`](Self::get_by) without copying the row: runs `f` on it.
        pub fn get_by_with<'v, O>(
            &self,
            column: &str,
            value: impl IntoLookup<'v>,
            f: impl FnOnce(&T) -> O,
        ) -> Result<Option<O>> {
            get_by_with::<T, O>(self.src(), self.idx, column, value.into_lookup(), f)
        }
    };
}

macro_rules! typed_queries {
    () => {
        /// Starts a query; see [`Select`].
        pub fn select(&self) -> Select<'_, T> {
            Select::new(self.src(), self.idx, T::schema(), None)
        }

        /// The number of rows.
        pub fn count(&self) -> Result<usize> {
            count::<T>(self.src(), self.idx)
        }

        /// The table's schema.
        pub fn schema(&self) -> &'static Schema {
            T::schema()
        }
    };
}

macro_rules! typed_reads {
    () => {
        typed_lookups!();
        typed_queries!();
    };
}

/// `Clone`, `Copy` and `Debug` (naming the table) for a handle that borrows its
/// transaction.
macro_rules! borrowed_handle_impls {
    ($handle:ident) => {
        impl<T> Clone for $handle<'_, T> {
            fn clone(&self) -> Self {
                *self
            }
        }
        impl<T> Copy for $handle<'_, T> {}

        impl<T: Table> std::fmt::Debug for $handle<'_, T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($handle))
                    .field("table", &T::schema().table)
                    .finish()
            }
        }
    };
}

/// A handle on a typed table, from [`Database::table`]. Cheap to clone, `Send + Sync +
/// 'static`: keep it in a server's state. Every write is its own atomic commit.
///
/// ```
/// use tabula::{Database, Table};
/// #[derive(Table, Clone, Debug, PartialEq)]
/// struct Tag { #[column(primary_key)] id: u32, #[column(unique)] label: String }
///
/// let db = Database::in_memory();
/// let tags = db.table::<Tag>()?;
/// let id: u32 = tags.insert(Tag { id: 0, label: "rust".into() })?;
/// assert_eq!(tags.get_by("label", "rust")?.map(|t| t.id), Some(id));
/// assert!(tags.insert(Tag { id: 0, label: "rust".into() }).is_err());
/// tags.upsert(Tag { id, label: "Rust".into() })?;
/// assert_eq!(tags.update(|t| t.label == "Rust", |t| t.label.push('!'))?, 1);
/// assert!(tags.delete_key(id)?);
/// assert_eq!(tags.count()?, 0);
/// # Ok::<(), tabula::Error>(())
/// ```
pub struct TableHandle<T> {
    db: Database,
    idx: usize,
    _rows: PhantomData<fn() -> T>,
}

impl<T> Clone for TableHandle<T> {
    fn clone(&self) -> Self {
        TableHandle {
            db: self.db.clone(),
            idx: self.idx,
            _rows: PhantomData,
        }
    }
}

impl<T: Table> std::fmt::Debug for TableHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableHandle")
            .field("table", &T::schema().table)
            .finish()
    }
}

impl<T: Table> TableHandle<T> {
    pub(crate) fn new(db: Database, idx: usize) -> Self {
        TableHandle {
            db,
            idx,
            _rows: PhantomData,
        }
    }

    fn src(&self) -> Src<'_> {
        Src::Db(&self.db)
    }

    typed_reads!();

    /// Inserts a row and returns its key. An integer key of 0 takes the next auto-increment
    /// value; an explicit key moves the counter past itself.
    pub fn insert(&self, row: T) -> Result<T::Key> {
        self.db.transaction(|tx| insert::<T>(tx, self.idx, row))
    }

    /// Inserts many rows as one atomic commit: all of them, or none if any fails.
    pub fn insert_many(&self, rows: impl IntoIterator<Item = T>) -> Result<Vec<T::Key>> {
        self.db
            .transaction(|tx| insert_many::<T>(tx, self.idx, rows))
    }

    /// Inserts the row, or replaces the row with the same primary key.
    pub fn upsert(&self, row: T) -> Result<T::Key> {
        self.db.transaction(|tx| upsert_row::<T>(tx, self.idx, row))
    }

    /// Applies `mutate` to every row for which `pred` is true and returns how many rows it
    /// matched. Atomic: if one changed row breaks a constraint, no row changes. Changing the
    /// primary key is refused with `Error::PrimaryKeyChanged` (delete and insert instead).
    pub fn update(&self, pred: impl Fn(&T) -> bool, mutate: impl FnMut(&mut T)) -> Result<usize> {
        self.db
            .transaction(|tx| update::<T>(tx, self.idx, pred, mutate))
    }

    /// Deletes every row for which `pred` is true; returns how many.
    pub fn delete(&self, pred: impl Fn(&T) -> bool) -> Result<usize> {
        self.db.transaction(|tx| delete::<T>(tx, self.idx, pred))
    }

    /// Deletes the row with this key; returns whether there was one.
    pub fn delete_key<'k>(&self, key: impl IntoLookup<'k>) -> Result<bool> {
        let key = key.into_lookup();
        self.db.transaction(|tx| delete_key::<T>(tx, self.idx, key))
    }

    /// The database this handle belongs to.
    pub fn database(&self) -> &Database {
        &self.db
    }
}

/// A typed table handle inside a transaction, from [`Transaction::table`]. Reads see the
/// transaction's own writes; a failing call changes nothing and the transaction goes on.
pub struct TxTable<'t, T> {
    tx: &'t dyn TxCore,
    idx: usize,
    _rows: PhantomData<fn() -> T>,
}

borrowed_handle_impls!(TxTable);

impl<'t, T: Table> TxTable<'t, T> {
    fn src(&self) -> Src<'t> {
        Src::Tx(self.tx)
    }

    typed_reads!();

    /// See [`TableHandle::insert`].
    pub fn insert(&self, row: T) -> Result<T::Key> {
        insert::<T>(self.tx, self.idx, row)
    }

    /// See [`TableHandle::insert_many`].
    pub fn insert_many(&self, rows: impl IntoIterator<Item = T>) -> Result<Vec<T::Key>> {
        insert_many::<T>(self.tx, self.idx, rows)
    }

    /// See [`TableHandle::upsert`].
    pub fn upsert(&self, row: T) -> Result<T::Key> {
        upsert_row::<T>(self.tx, self.idx, row)
    }

    /// See [`TableHandle::update`].
    pub fn update(&self, pred: impl Fn(&T) -> bool, mutate: impl FnMut(&mut T)) -> Result<usize> {
        update::<T>(self.tx, self.idx, pred, mutate)
    }

    /// See [`TableHandle::delete`].
    pub fn delete(&self, pred: impl Fn(&T) -> bool) -> Result<usize> {
        delete::<T>(self.tx, self.idx, pred)
    }

    /// See [`TableHandle::delete_key`].
    pub fn delete_key<'k>(&self, key: impl IntoLookup<'k>) -> Result<bool> {
        delete_key::<T>(self.tx, self.idx, key.into_lookup())
    }
}

/// A typed table inside a read transaction, from [`ReadTransaction::table`] or
/// [`TableHandle::read`]. Every read through it sees the same committed state and takes no
/// lock of its own.
pub struct ReadTable<'r, T> {
    state: &'r State,
    idx: usize,
    /// Resolved once, so a lookup goes straight to the table.
    table: &'r TableData<T>,
    /// The values an integer primary key can hold: an integer key in range needs no coercion.
    int_key: Option<(i64, i64)>,
}

borrowed_handle_impls!(ReadTable);

impl<'r, T: Table> ReadTable<'r, T> {
    fn src(&self) -> Src<'r> {
        Src::Read(self.state)
    }

    /// The row with this primary key.
    pub fn get<'k>(&self, key: impl IntoLookup<'k>) -> Result<Option<T>> {
        self.get_with(key, T::clone)
    }

    /// The row holding `value` in a unique column (or the primary key).
    pub fn get_by<'v>(&self, column: &str, value: impl IntoLookup<'v>) -> Result<Option<T>> {
        self.get_by_with(column, value, T::clone)
    }

    /// Runs `f` on the row with this primary key without copying it, and returns what `f`
    /// returns (`None` if there is no such row).
    #[inline]
    pub fn get_with<'k, O>(
        &self,
        key: impl IntoLookup<'k>,
        f: impl FnOnce(&T) -> O,
    ) -> Result<Option<O>> {
        let key = key.into_lookup();
        // The usual case takes no call between the key and the row, so a loop of lookups
        // overlaps their cache misses.
        if let (ValueRef::Int(k), Some((lo, hi))) = (key.as_ref(), self.int_key) {
            if (lo..=hi).contains(&k) {
                return Ok(self.table.row_by_key(ValueRef::Int(k)).map(f));
            }
        }
        let key = coerce_key(T::schema(), key)?;
        Ok(self.table.row_by_key(key.as_ref()).map(f))
    }

    /// [`get_by`](Self::get_by) without copying the row: runs `f` on it.
    #[inline]
    pub fn get_by_with<'v, O>(
        &self,
        column: &str,
        value: impl IntoLookup<'v>,
        f: impl FnOnce(&T) -> O,
    ) -> Result<Option<O>> {
        let schema = T::schema();
        let value = value.into_lookup();
        let col = unique_column(schema, column)?;
        // Text by text, the usual unique lookup, needs no conversion: nothing but the probe
        // runs between one lookup and the next, so a loop of them overlaps their cache
        // misses (the conversion's calls in between made it three times slower).
        if let (ValueRef::Text(text), ColumnType::Text) = (value.as_ref(), schema.columns[col].ty) {
            if let Some(row) = self.table.row_by_unique_text(col, text) {
                return Ok(row.map(f));
            }
        }
        let value = schema.coerce_lookup(col, value)?;
        Ok(row_by_unique(self.table, col, &value).map(f))
    }

    typed_queries!();
}

impl<'db> ReadTransaction<'db> {
    /// The table of `handle`, read inside this transaction. The handle must come from the
    /// same database.
    pub fn table<T: Table>(&self, handle: &TableHandle<T>) -> Result<ReadTable<'_, T>> {
        if handle.db.id() != self.db.id() {
            return Err(Error::SchemaMismatch {
                table: T::schema().table.clone(),
                reason: "the handle belongs to another database".into(),
            });
        }
        let schema = T::schema();
        Ok(ReadTable {
            state: &self.state,
            idx: handle.idx,
            table: typed::<T>(&self.state, handle.idx)?,
            int_key: schema.columns[schema.primary_key()].ty.int_range(),
        })
    }
}

impl<T: Table> TableHandle<T> {
    /// Runs `f` with this table in a read transaction (see [`Database::read`]): the read lock
    /// is taken once for everything `f` reads, and every read sees the same state.
    ///
    /// ```
    /// use tabula::{Database, Table};
    /// #[derive(Table, Clone, Debug)]
    /// struct Item { #[column(primary_key)] id: u64, #[column(unique)] sku: String }
    ///
    /// let db = Database::in_memory();
    /// let items = db.table::<Item>()?;
    /// items.insert_many((1..=3).map(|id| Item { id, sku: format!("sku-{id}") }))?;
    /// let found = items.read(|t| {
    ///     let mut n = 0;
    ///     for sku in ["sku-1", "sku-3", "sku-9"] {
    ///         n += usize::from(t.get_by_with("sku", sku, |_| ())?.is_some());
    ///     }
    ///     Ok(n)
    /// })?;
    /// assert_eq!(found, 2);
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn read<O>(&self, f: impl FnOnce(ReadTable<'_, T>) -> Result<O>) -> Result<O> {
        self.db.read(|r| f(r.table(self)?))
    }
}

impl<'db> Transaction<'db> {
    /// The typed table for `T` inside this transaction (created if new).
    pub fn table<T: Table>(&self) -> Result<TxTable<'_, T>> {
        let idx = self.register::<T>()?;
        Ok(TxTable {
            tx: self,
            idx,
            _rows: PhantomData,
        })
    }

    /// A dynamic handle on an existing table inside this transaction.
    pub fn dyn_table(&self, name: &str) -> Result<TxDynTable<'_>> {
        {
            let mut st = self.state_mut()?;
            let idx = st.index_of(name)?;
            crate::db::persist::ensure_loaded(self.shared, &mut st, idx)?;
        }
        let st = self.state()?;
        let idx = st.index_of(name)?;
        let schema = st.tables[idx].schema().clone();
        Ok(TxDynTable {
            tx: self,
            idx,
            names: column_names(&schema),
            schema,
        })
    }

    pub(crate) fn register<T: Table>(&self) -> Result<usize> {
        crate::db::persist::attach::<T>(self.shared, &mut *self.state_mut()?)
    }

    pub(crate) fn create(&self, schema: Schema) -> Result<usize> {
        crate::db::persist::create(self.shared, &mut *self.state_mut()?, schema)
    }
}

/// Turns a dynamic row into values in schema order: unknown columns are refused, missing ones
/// take their default (or null, or 0 for an auto-increment key), every value is coerced.
pub(crate) fn resolve_row(schema: &Schema, row: &Row) -> Result<Vec<Value>> {
    for name in row.names() {
        schema.column_index(name)?;
    }
    let pk = schema.primary_key();
    schema
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let v = match row.get(&c.name) {
                Some(v) => v.clone(),
                None => match &c.default {
                    Some(d) => d.clone(),
                    None if i == pk && c.ty.is_int() => Value::Int(0),
                    None => Value::Null,
                },
            };
            schema.coerce(i, v)
        })
        .collect()
}

fn dyn_update(
    tx: &dyn TxCore,
    idx: usize,
    schema: &Schema,
    names: &Arc<[String]>,
    pred: &dyn Fn(&Row) -> bool,
    mutate: &mut dyn FnMut(&mut Row),
) -> Result<usize> {
    let matched = {
        let st = tx.state()?;
        let mut q = QuerySpec::<Row>::default();
        q.filters.push(Box::new(pred));
        st.tables[idx].dyn_select(&q, names)?
    };
    let pk = schema.primary_key();
    let mut images = Vec::with_capacity(matched.len());
    for values in matched {
        let old_key = values[pk].clone();
        let mut row = Row::with_names(names.clone(), values);
        mutate(&mut row);
        let new = resolve_row(schema, &row)?;
        if new[pk] != old_key {
            return Err(Error::PrimaryKeyChanged {
                table: schema.table.clone(),
                column: schema.columns[pk].name.clone(),
                old: old_key,
                new: new[pk].clone(),
            });
        }
        images.push(new);
    }
    statement(tx, idx, |t| t.dyn_replace(images))
}

fn dyn_delete(
    tx: &dyn TxCore,
    idx: usize,
    names: &Arc<[String]>,
    pred: &dyn Fn(&Row) -> bool,
) -> Result<usize> {
    let keys = {
        let st = tx.state()?;
        let mut q = QuerySpec::<Row>::default();
        q.filters.push(Box::new(pred));
        st.tables[idx].dyn_keys(&q, names)?
    };
    statement(tx, idx, |t| t.dyn_delete_keys(&keys))
}

macro_rules! dyn_reads {
    () => {
        /// The table's schema.
        pub fn schema(&self) -> &Schema {
            &self.schema
        }

        /// The row with this primary key.
        pub fn get<'k>(&self, key: impl IntoLookup<'k>) -> Result<Option<Row>> {
            let st = self.src().state(&self.schema.table)?;
            let values = st.tables[self.idx].dyn_get(key.into_lookup())?;
            Ok(values.map(|v| Row::with_names(self.names.clone(), v)))
        }

        /// The row holding `value` in a unique column (or the primary key).
        pub fn get_by<'v>(&self, column: &str, value: impl IntoLookup<'v>) -> Result<Option<Row>> {
            unique_column(&self.schema, column)?;
            self.select()
                .where_eq(column, value.into_lookup().into_value())
                .first()
        }

        /// Starts a query; see [`Select`].
        pub fn select(&self) -> Select<'_, Row> {
            Select::new(self.src(), self.idx, &self.schema, Some(self.names.clone()))
        }

        /// The number of rows.
        pub fn count(&self) -> Result<usize> {
            let st = self.src().state(&self.schema.table)?;
            Ok(st.tables[self.idx].len())
        }
    };
}

/// A schema-driven handle on any table, with rows of [`Value`] ([`Row`]), from
/// [`Database::dyn_table`]. Writes are validated at run time: a wrong type is
/// `Error::TypeMismatch`, a missing NOT NULL column `Error::NotNull`, an unknown column
/// `Error::UnknownColumn`; defaults are filled in; lossless coercions (3 into a float column)
/// are accepted and lossy ones (3.5 into an integer, 300 into a `u8`) refused.
///
/// ```
/// use tabula::{row, Column, ColumnType, Database, Schema, Value};
/// let db = Database::in_memory();
/// let t = db.create_table(Schema::new("people", vec![
///     Column::new("id", ColumnType::U64).primary_key(),
///     Column::new("name", ColumnType::Text),
///     Column::new("score", ColumnType::F64).default_value(0.0),
/// ])?)?;
/// let id = t.insert(row! { "name" => "Bob", "score" => 3 })?;
/// assert_eq!(t.get(id)?.unwrap()["score"], Value::Float(3.0));
/// assert!(t.insert(row! { "name" => 5 }).is_err());
/// # Ok::<(), tabula::Error>(())
/// ```
#[derive(Clone)]
pub struct DynTable {
    db: Database,
    idx: usize,
    schema: Arc<Schema>,
    names: Arc<[String]>,
}

impl std::fmt::Debug for DynTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynTable")
            .field("table", &self.schema.table)
            .finish()
    }
}

impl DynTable {
    pub(crate) fn new(db: Database, idx: usize, schema: Arc<Schema>) -> Self {
        DynTable {
            db,
            idx,
            names: column_names(&schema),
            schema,
        }
    }

    fn src(&self) -> Src<'_> {
        Src::Db(&self.db)
    }

    dyn_reads!();

    /// Inserts a row and returns its key.
    pub fn insert(&self, row: Row) -> Result<Value> {
        let values = resolve_row(&self.schema, &row)?;
        self.db
            .transaction(|tx| statement(tx, self.idx, |t| t.dyn_insert(values)))
    }

    /// Inserts many rows as one atomic commit.
    pub fn insert_many(&self, rows: impl IntoIterator<Item = Row>) -> Result<Vec<Value>> {
        let values: Vec<Vec<Value>> = rows
            .into_iter()
            .map(|r| resolve_row(&self.schema, &r))
            .collect::<Result<_>>()?;
        self.db.transaction(|tx| {
            statement(tx, self.idx, |t| {
                values.into_iter().map(|v| t.dyn_insert(v)).collect()
            })
        })
    }

    /// Inserts the row, or replaces the row with the same primary key.
    pub fn upsert(&self, row: Row) -> Result<Value> {
        let values = resolve_row(&self.schema, &row)?;
        self.db
            .transaction(|tx| statement(tx, self.idx, |t| t.dyn_upsert(values)))
    }

    /// Applies `mutate` to every row matching `pred`; atomic; returns rows matched.
    pub fn update(
        &self,
        pred: impl Fn(&Row) -> bool,
        mut mutate: impl FnMut(&mut Row),
    ) -> Result<usize> {
        self.db.transaction(|tx| {
            dyn_update(tx, self.idx, &self.schema, &self.names, &pred, &mut mutate)
        })
    }

    /// Deletes every row matching `pred`; returns how many.
    pub fn delete(&self, pred: impl Fn(&Row) -> bool) -> Result<usize> {
        self.db
            .transaction(|tx| dyn_delete(tx, self.idx, &self.names, &pred))
    }

    /// Deletes the row with this key; returns whether there was one.
    pub fn delete_key<'k>(&self, key: impl IntoLookup<'k>) -> Result<bool> {
        let key = coerce_key(&self.schema, key.into_lookup())?.into_value();
        self.db
            .transaction(|tx| {
                statement(tx, self.idx, |t| {
                    t.dyn_delete_keys(std::slice::from_ref(&key))
                })
            })
            .map(|n| n > 0)
    }
}

/// A dynamic table handle inside a transaction, from [`Transaction::dyn_table`].
#[derive(Clone)]
pub struct TxDynTable<'t> {
    tx: &'t dyn TxCore,
    idx: usize,
    schema: Arc<Schema>,
    names: Arc<[String]>,
}

impl std::fmt::Debug for TxDynTable<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxDynTable")
            .field("table", &self.schema.table)
            .finish()
    }
}

impl<'t> TxDynTable<'t> {
    fn src(&self) -> Src<'t> {
        Src::Tx(self.tx)
    }

    dyn_reads!();

    /// See [`DynTable::insert`].
    pub fn insert(&self, row: Row) -> Result<Value> {
        let values = resolve_row(&self.schema, &row)?;
        statement(self.tx, self.idx, |t| t.dyn_insert(values))
    }

    /// See [`DynTable::upsert`].
    pub fn upsert(&self, row: Row) -> Result<Value> {
        let values = resolve_row(&self.schema, &row)?;
        statement(self.tx, self.idx, |t| t.dyn_upsert(values))
    }

    /// See [`DynTable::update`].
    pub fn update(
        &self,
        pred: impl Fn(&Row) -> bool,
        mut mutate: impl FnMut(&mut Row),
    ) -> Result<usize> {
        dyn_update(
            self.tx,
            self.idx,
            &self.schema,
            &self.names,
            &pred,
            &mut mutate,
        )
    }

    /// See [`DynTable::delete`].
    pub fn delete(&self, pred: impl Fn(&Row) -> bool) -> Result<usize> {
        dyn_delete(self.tx, self.idx, &self.names, &pred)
    }

    /// See [`DynTable::delete_key`].
    pub fn delete_key<'k>(&self, key: impl IntoLookup<'k>) -> Result<bool> {
        let key = coerce_key(&self.schema, key.into_lookup())?.into_value();
        statement(self.tx, self.idx, |t| {
            t.dyn_delete_keys(std::slice::from_ref(&key))
        })
        .map(|n| n > 0)
    }
}
