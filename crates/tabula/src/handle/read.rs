//! The one read path of typed tables: key and unique lookups and counts on one state,
//! whichever handle asks. A read transaction's handle keeps its [`TypedReader`] for all its
//! reads; other handles make one per call, under the state their source hands out.

use crate::engine::source::Source;
use crate::engine::state::State;
use crate::error::{Error, Result};
use crate::lookup::Lookup;
use crate::record::Table;
use crate::schema::{ColumnType, Schema};
use crate::table::TableData;
use crate::value::ValueRef;

/// The reads of the typed table `T` on one state.
pub(crate) struct TypedReader<'s, T> {
    /// Resolved once, so a lookup goes straight to the table.
    table: &'s TableData<T>,
    /// The values an integer primary key can hold: an integer key in range needs no
    /// coercion.
    int_key: Option<(i64, i64)>,
}

impl<T> Clone for TypedReader<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for TypedReader<'_, T> {}

impl<'s, T: Table> TypedReader<'s, T> {
    /// The reader of table `idx` in `st`.
    #[inline(always)]
    pub(crate) fn new(st: &'s State, idx: usize) -> Result<Self> {
        match st.typed_opt::<T>(idx) {
            Some(table) => Ok(TypedReader {
                table,
                int_key: T::schema().key_int_range(),
            }),
            None => Err(st.not_typed::<T>(idx)),
        }
    }

    /// Runs `f` on the row with this primary key (`None` if there is none).
    #[inline]
    pub(crate) fn get_with<O>(
        &self,
        key: Lookup<'_>,
        f: impl FnOnce(&'s T) -> O,
    ) -> Result<Option<O>> {
        // The usual case takes no call between the key and the row, so a loop of lookups
        // overlaps their cache misses.
        if let (ValueRef::Int(k), Some((lo, hi))) = (key.as_ref(), self.int_key) {
            if (lo..=hi).contains(&k) {
                return Ok(self.table.row_by_key(ValueRef::Int(k)).map(f));
            }
        }
        let key = T::schema().coerce_key(key)?;
        Ok(self.table.row_by_key(key.as_ref()).map(f))
    }

    /// Runs `f` on the row holding `value` in unique column `column` (or the primary key).
    #[inline]
    pub(crate) fn get_by_with<O>(
        &self,
        column: &str,
        value: Lookup<'_>,
        f: impl FnOnce(&'s T) -> O,
    ) -> Result<Option<O>> {
        let schema = T::schema();
        let col = unique_column(schema, column)?;
        // Text by text, the usual unique lookup, needs no conversion: nothing but the probe
        // runs between one lookup and the next, so a loop of them overlaps their cache
        // misses.
        if let (ValueRef::Text(text), ColumnType::Text) = (value.as_ref(), schema.columns[col].ty) {
            if let Some(row) = self.table.row_by_unique_text(col, text) {
                return Ok(row.map(f));
            }
        }
        let value = schema.coerce_lookup(col, value)?;
        Ok(self
            .table
            .find_unique(col, value.as_ref())
            .flatten()
            .and_then(|s| self.table.row(s))
            .map(f))
    }

    /// The number of rows.
    pub(crate) fn count(&self) -> usize {
        self.table.len()
    }
}

/// Runs `f` with the reader of table `idx` of `src`, for one call. Generic over the source,
/// so that a plain handle's call (on the engine) is one inlined path: a loop of lookups then
/// stays short enough for the CPU to overlap their cache misses.
#[inline]
pub(crate) fn with_reader<T: Table, O, S: Source + ?Sized>(
    src: &S,
    idx: usize,
    f: impl FnOnce(TypedReader<'_, T>) -> Result<O>,
) -> Result<O> {
    let st = src.state(&T::schema().table)?;
    f(TypedReader::new(&st, idx)?)
}

/// The position of unique column `column` (or the primary key). Inlined: it runs before
/// every lookup by a unique value.
#[inline(always)]
pub(crate) fn unique_column(schema: &Schema, column: &str) -> Result<usize> {
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
