//! Typed table handles: rows are the user's struct `T`.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::engine::source::{Source, TxCore};
use crate::engine::state::State;
use crate::engine::Engine;
use crate::error::Result;
use crate::handle::read::{with_reader, TypedReader};
use crate::handle::write;
use crate::lookup::IntoLookup;
use crate::record::Table;
use crate::schema::Schema;
use crate::select::Select;

/// A handle on a typed table, from [`Database::table`](crate::Database::table). Cheap to
/// clone, `Send + Sync + 'static`: keep it in a server's state. Every write is its own atomic
/// commit.
///
/// ```
/// use tabula::{Database, Error, Table};
/// #[derive(Table, Clone, Debug, PartialEq)]
/// struct Tag { #[column(primary_key)] id: u32, #[column(unique)] label: String }
///
/// let db = Database::in_memory();
/// let tags = db.table::<Tag>()?;
/// let id: u32 = tags.insert(Tag { id: 0, label: "rust".into() })?;
/// assert_eq!(tags.get_by("label", "rust")?.map(|t| t.id), Some(id));
/// let dup = tags.insert(Tag { id: 0, label: "rust".into() }).unwrap_err();
/// assert!(matches!(dup, Error::UniqueViolation { .. }));
/// tags.upsert(Tag { id, label: "Rust".into() })?;
/// assert_eq!(tags.update(|t| t.label == "Rust", |t| t.label.push('!'))?, 1);
/// assert!(tags.delete_key(id)?);
/// assert_eq!(tags.count()?, 0);
/// # Ok::<(), tabula::Error>(())
/// ```
pub struct TableHandle<T> {
    engine: Arc<Engine>,
    idx: usize,
    _rows: PhantomData<fn() -> T>,
}

impl<T> Clone for TableHandle<T> {
    fn clone(&self) -> Self {
        TableHandle {
            engine: self.engine.clone(),
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
    pub(crate) fn new(engine: Arc<Engine>, idx: usize) -> Self {
        TableHandle {
            engine,
            idx,
            _rows: PhantomData,
        }
    }

    /// The id of this handle's database, and the table's position in it.
    pub(crate) fn place(&self) -> (u64, usize) {
        (self.engine.id, self.idx)
    }

    fn name(&self) -> &'static str {
        &T::schema().table
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
    /// returns (`None` if there is no such row). `f` sees the newest committed version; it
    /// holds no lock, so it may use any handle.
    pub fn get_with<'k, O>(
        &self,
        key: impl IntoLookup<'k>,
        f: impl FnOnce(&T) -> O,
    ) -> Result<Option<O>> {
        let key = key.into_lookup();
        with_reader(&*self.engine, self.idx, |r| r.get_with(key, f))
    }

    /// [`get_by`](Self::get_by) without copying the row: runs `f` on it.
    pub fn get_by_with<'v, O>(
        &self,
        column: &str,
        value: impl IntoLookup<'v>,
        f: impl FnOnce(&T) -> O,
    ) -> Result<Option<O>> {
        let value = value.into_lookup();
        with_reader(&*self.engine, self.idx, |r| r.get_by_with(column, value, f))
    }

    /// Starts a query; see [`Select`].
    pub fn select(&self) -> Select<'_, T> {
        Select::new(&*self.engine, self.idx, T::schema(), None)
    }

    /// The number of rows.
    pub fn count(&self) -> Result<usize> {
        with_reader::<T, _, _>(&*self.engine, self.idx, |r| Ok(r.count()))
    }

    /// The table's schema.
    pub fn schema(&self) -> &'static Schema {
        T::schema()
    }

    /// Inserts a row and returns its key. An integer key of 0 takes the next auto-increment
    /// value; an explicit key moves the counter past itself.
    pub fn insert(&self, row: T) -> Result<T::Key> {
        let idx = self.idx;
        self.engine
            .write(self.name(), |tx| write::insert::<T>(tx, idx, row))
    }

    /// Inserts many rows as one atomic commit: all of them, or none if any fails.
    pub fn insert_many(&self, rows: impl IntoIterator<Item = T>) -> Result<Vec<T::Key>> {
        let idx = self.idx;
        self.engine
            .write(self.name(), |tx| write::insert_many::<T>(tx, idx, rows))
    }

    /// Inserts the row, or replaces the row with the same primary key.
    pub fn upsert(&self, row: T) -> Result<T::Key> {
        let idx = self.idx;
        self.engine
            .write(self.name(), |tx| write::upsert::<T>(tx, idx, row))
    }

    /// Applies `mutate` to every row for which `pred` is true and returns how many rows it
    /// matched. Atomic: if one changed row breaks a constraint, no row changes. Changing the
    /// primary key is refused with `Error::PrimaryKeyChanged` (delete and insert instead).
    pub fn update(&self, pred: impl Fn(&T) -> bool, mutate: impl FnMut(&mut T)) -> Result<usize> {
        let idx = self.idx;
        self.engine
            .write(self.name(), |tx| write::update::<T>(tx, idx, pred, mutate))
    }

    /// Deletes every row for which `pred` is true; returns how many.
    pub fn delete(&self, pred: impl Fn(&T) -> bool) -> Result<usize> {
        let idx = self.idx;
        self.engine
            .write(self.name(), |tx| write::delete::<T>(tx, idx, pred))
    }

    /// Deletes the row with this key; returns whether there was one.
    pub fn delete_key<'k>(&self, key: impl IntoLookup<'k>) -> Result<bool> {
        let (idx, key) = (self.idx, key.into_lookup());
        self.engine
            .write(self.name(), |tx| write::delete_key::<T>(tx, idx, key))
    }

    /// Runs `f` with this table in a read transaction (see
    /// [`Database::read`](crate::Database::read)): one version is taken for everything `f`
    /// reads, and every read sees the same state.
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
        let st = self.engine.read_state("(read transaction)")?;
        f(ReadTable::new(&st, self.idx)?)
    }
}

/// A typed table handle inside a transaction, from
/// [`Transaction::table`](crate::Transaction::table). Reads see the transaction's own
/// writes; a failing call changes nothing and the transaction goes on.
pub struct TxTable<'t, T> {
    tx: &'t dyn TxCore,
    idx: usize,
    _rows: PhantomData<fn() -> T>,
}

impl<T> Clone for TxTable<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for TxTable<'_, T> {}

impl<T: Table> std::fmt::Debug for TxTable<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxTable")
            .field("table", &T::schema().table)
            .finish()
    }
}

impl<'t, T: Table> TxTable<'t, T> {
    pub(crate) fn new(tx: &'t dyn TxCore, idx: usize) -> Self {
        TxTable {
            tx,
            idx,
            _rows: PhantomData,
        }
    }

    /// See [`TableHandle::get`].
    pub fn get<'k>(&self, key: impl IntoLookup<'k>) -> Result<Option<T>> {
        self.get_with(key, T::clone)
    }

    /// See [`TableHandle::get_by`].
    pub fn get_by<'v>(&self, column: &str, value: impl IntoLookup<'v>) -> Result<Option<T>> {
        self.get_by_with(column, value, T::clone)
    }

    /// See [`TableHandle::get_with`].
    pub fn get_with<'k, O>(
        &self,
        key: impl IntoLookup<'k>,
        f: impl FnOnce(&T) -> O,
    ) -> Result<Option<O>> {
        let key = key.into_lookup();
        with_reader(self.tx, self.idx, |r| r.get_with(key, f))
    }

    /// See [`TableHandle::get_by_with`].
    pub fn get_by_with<'v, O>(
        &self,
        column: &str,
        value: impl IntoLookup<'v>,
        f: impl FnOnce(&T) -> O,
    ) -> Result<Option<O>> {
        let value = value.into_lookup();
        with_reader(self.tx, self.idx, |r| r.get_by_with(column, value, f))
    }

    /// See [`TableHandle::select`].
    pub fn select(&self) -> Select<'t, T> {
        Select::new(self.tx, self.idx, T::schema(), None)
    }

    /// See [`TableHandle::count`].
    pub fn count(&self) -> Result<usize> {
        with_reader::<T, _, _>(self.tx, self.idx, |r| Ok(r.count()))
    }

    /// The table's schema.
    pub fn schema(&self) -> &'static Schema {
        T::schema()
    }

    /// See [`TableHandle::insert`].
    pub fn insert(&self, row: T) -> Result<T::Key> {
        write::insert::<T>(self.tx, self.idx, row)
    }

    /// See [`TableHandle::insert_many`].
    pub fn insert_many(&self, rows: impl IntoIterator<Item = T>) -> Result<Vec<T::Key>> {
        write::insert_many::<T>(self.tx, self.idx, rows)
    }

    /// See [`TableHandle::upsert`].
    pub fn upsert(&self, row: T) -> Result<T::Key> {
        write::upsert::<T>(self.tx, self.idx, row)
    }

    /// See [`TableHandle::update`].
    pub fn update(&self, pred: impl Fn(&T) -> bool, mutate: impl FnMut(&mut T)) -> Result<usize> {
        write::update::<T>(self.tx, self.idx, pred, mutate)
    }

    /// See [`TableHandle::delete`].
    pub fn delete(&self, pred: impl Fn(&T) -> bool) -> Result<usize> {
        write::delete::<T>(self.tx, self.idx, pred)
    }

    /// See [`TableHandle::delete_key`].
    pub fn delete_key<'k>(&self, key: impl IntoLookup<'k>) -> Result<bool> {
        write::delete_key::<T>(self.tx, self.idx, key.into_lookup())
    }
}

/// A typed table inside a read transaction, from
/// [`ReadTransaction::table`](crate::ReadTransaction::table) or [`TableHandle::read`]. Every
/// read through it sees the same committed state and takes no lock of its own.
pub struct ReadTable<'r, T> {
    state: &'r State,
    idx: usize,
    reader: TypedReader<'r, T>,
}

impl<T> Clone for ReadTable<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for ReadTable<'_, T> {}

impl<T: Table> std::fmt::Debug for ReadTable<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadTable")
            .field("table", &T::schema().table)
            .finish()
    }
}

impl<'r, T: Table> ReadTable<'r, T> {
    pub(crate) fn new(state: &'r State, idx: usize) -> Result<Self> {
        Ok(ReadTable {
            state,
            idx,
            reader: TypedReader::new(state, idx)?,
        })
    }

    /// See [`TableHandle::get`].
    pub fn get<'k>(&self, key: impl IntoLookup<'k>) -> Result<Option<T>> {
        self.get_with(key, T::clone)
    }

    /// See [`TableHandle::get_by`].
    pub fn get_by<'v>(&self, column: &str, value: impl IntoLookup<'v>) -> Result<Option<T>> {
        self.get_by_with(column, value, T::clone)
    }

    /// See [`TableHandle::get_with`].
    #[inline]
    pub fn get_with<'k, O>(
        &self,
        key: impl IntoLookup<'k>,
        f: impl FnOnce(&T) -> O,
    ) -> Result<Option<O>> {
        self.reader.get_with(key.into_lookup(), f)
    }

    /// See [`TableHandle::get_by_with`].
    #[inline]
    pub fn get_by_with<'v, O>(
        &self,
        column: &str,
        value: impl IntoLookup<'v>,
        f: impl FnOnce(&T) -> O,
    ) -> Result<Option<O>> {
        self.reader.get_by_with(column, value.into_lookup(), f)
    }

    /// See [`TableHandle::select`].
    pub fn select(&self) -> Select<'r, T> {
        Select::new(self.state as &dyn Source, self.idx, T::schema(), None)
    }

    /// See [`TableHandle::count`].
    pub fn count(&self) -> Result<usize> {
        Ok(self.reader.count())
    }

    /// The table's schema.
    pub fn schema(&self) -> &'static Schema {
        T::schema()
    }
}
