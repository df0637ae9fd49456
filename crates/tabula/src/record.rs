//! The `Table` trait that `#[derive(Table)]` implements, and the row kinds a table stores.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::schema::Schema;
use crate::value::{whole_i64, Value, ValueRef};

/// A Rust type stored as the rows of one table. Implement it with `#[derive(Table)]`; the
/// methods are generated and rarely called by hand.
///
/// ```
/// use tabula::{Database, Table};
///
/// #[derive(Table, Debug, Clone, PartialEq)]
/// struct Course {
///     #[column(primary_key)]
///     id: u64,
///     #[column(unique)]
///     code: String,
///     title: String,
///     #[column(default = 3)]
///     credits: u8,
/// }
///
/// let db = Database::in_memory();
/// let courses = db.table::<Course>()?;
/// let id = courses.insert(Course { id: 0, code: "CS101".into(), title: "Intro".into(), credits: 4 })?;
/// assert_eq!(courses.get(id)?.unwrap().code, "CS101");
/// assert_eq!(Course::schema().table, "course");
/// # Ok::<(), tabula::Error>(())
/// ```
pub trait Table: Clone + Send + Sync + Sized + 'static {
    /// The Rust type of the primary-key field, which `insert` returns.
    type Key: crate::column::ColumnValue;

    /// The table's schema, built once.
    fn schema() -> &'static Schema;

    /// Borrows column `col` (schema order). `json` columns answer `Null`: they are never
    /// compared, indexed or ordered by, and [`Table::to_values`] gives their text.
    fn column(&self, col: usize) -> ValueRef<'_>;

    /// Writes an auto-increment key into the primary-key field.
    fn set_primary_key(&mut self, key: i64);

    /// Sets column `col` (schema order) from a value already checked against the schema
    /// (used by SQL's `UPDATE` and by `on_delete = "set_null"`). It must change that
    /// column's field and nothing else: the table then checks and re-indexes only the
    /// columns an update sets.
    fn set_column(&mut self, col: usize, value: Value) -> Result<()>;

    /// Checks what the Rust type cannot promise: a `u64` above `i64::MAX`, a `json` field
    /// that does not serialize.
    fn check(&self) -> Result<()>;

    /// The row as values in schema order.
    fn to_values(&self) -> Result<Vec<Value>>;

    /// Builds a row from values in schema order, already checked against the schema.
    fn from_values(values: Vec<Value>) -> Result<Self>;
}

/// A row's columns by position, borrowed: a stored row of any kind, or a slice of values.
/// SQL evaluates its conditions on stored rows through it, copying out only what it keeps.
pub(crate) trait Cols {
    fn value_at(&self, col: usize) -> ValueRef<'_>;

    /// The columns at `cols`, borrowed, into `out` (as many as both hold): one call for a
    /// row rather than one per column.
    fn refs_into<'a>(&'a self, cols: &[usize], out: &mut [ValueRef<'a>]) {
        for (slot, &c) in out.iter_mut().zip(cols) {
            *slot = self.value_at(c);
        }
    }

    /// Columns `0..width`, copied out.
    fn owned_values(&self, width: usize) -> Vec<Value> {
        (0..width).map(|i| self.value_at(i).to_owned()).collect()
    }

    /// Every column, in order, when they are held as `Value`s already (the values
    /// `value_at` reads, with nothing after them); `None` otherwise.
    fn as_values(&self) -> Option<&[Value]> {
        None
    }

    /// [`int_key`] of the value at `col`. Returned in registers: a `ValueRef` handed back
    /// through a `dyn Cols` is written a field at a time and then read whole, which stalls
    /// the processor on every row of a join that looks each partner up by key.
    fn int_key_at(&self, col: usize) -> Option<i64> {
        int_key(self.value_at(col))
    }
}

/// A value as a key of an integer column, as SQL's `=` compares them: an integer, a
/// boolean as 0 or 1, a float of integral value inside `i64`'s range; `None` for any other
/// value (it equals no such key).
#[inline]
pub(crate) fn int_key(v: ValueRef<'_>) -> Option<i64> {
    match v {
        ValueRef::Int(i) => Some(i),
        ValueRef::Bool(b) => Some(i64::from(b)),
        ValueRef::Float(f) => whole_i64(f),
        _ => None,
    }
}

impl<R: Record> Cols for R {
    #[inline]
    fn value_at(&self, col: usize) -> ValueRef<'_> {
        self.col(col)
    }
    #[inline]
    fn refs_into<'a>(&'a self, cols: &[usize], out: &mut [ValueRef<'a>]) {
        for (slot, &c) in out.iter_mut().zip(cols) {
            *slot = self.col(c);
        }
    }
    #[inline]
    fn as_values(&self) -> Option<&[Value]> {
        Record::as_values(self)
    }
}

impl Cols for [Value] {
    #[inline]
    fn value_at(&self, col: usize) -> ValueRef<'_> {
        self.get(col).map_or(ValueRef::Null, Value::as_ref)
    }
    fn as_values(&self) -> Option<&[Value]> {
        Some(self)
    }
}

impl Cols for Vec<Value> {
    #[inline]
    fn value_at(&self, col: usize) -> ValueRef<'_> {
        self.get(col).map_or(ValueRef::Null, Value::as_ref)
    }
    fn as_values(&self) -> Option<&[Value]> {
        Some(self)
    }
}

/// A slab mirrors a row's numeric columns as the row gives them.
impl<R: Record> crate::slab::Mirrored for R {
    #[inline]
    fn cell(&self, col: usize) -> ValueRef<'_> {
        self.col(col)
    }
}

/// What a table stores per row: a user type, or `DynRow` for tables reached only through the
/// dynamic API. Everything in `table` and `query` is generic over it.
pub(crate) trait Record: Clone + Send + Sync + 'static {
    fn col(&self, col: usize) -> ValueRef<'_>;
    fn set_key(&mut self, pk: usize, key: i64);
    fn set_col(&mut self, col: usize, value: Value) -> Result<()>;
    fn check_row(&self, schema: &Schema) -> Result<()>;
    /// Whether [`Record::check_row`] is the row's width and [`Schema::check`] of each
    /// value alone, nothing more: then it checks nothing that [`Schema::resolve_values`]
    /// does not already guarantee of the values the record is made from, so that a record
    /// made from values just resolved against the table's schema needs no second check,
    /// and a stored row with some columns set needs only those checked
    /// (`TableData::replace_changed`).
    const CHECKED_BY_RESOLVE: bool = false;
    fn values(&self) -> Result<Vec<Value>>;
    /// The values in schema order, borrowed when the record holds them as they are
    /// (`DynRow`), else a copy.
    fn values_in_place(&self) -> Result<Cow<'_, [Value]>> {
        self.values().map(Cow::Owned)
    }
    /// The values in schema order when the record holds them as they are (`DynRow`).
    fn as_values(&self) -> Option<&[Value]> {
        None
    }
    /// The record for `values` in schema order. A typed record refuses values its fields
    /// cannot hold; a `DynRow` checks only their number. Either way the table checks the
    /// record against the schema (`check_row`) when it takes it in (insert, upsert,
    /// replace), except where the values were checked already: `TableData::convert`
    /// places records made from rows the table had checked,
    /// `TableData::insert_resolved` a `DynRow` of values `Schema::resolve_values` gave, and
    /// `TableData::replace_changed` checks only the columns an update set in a `DynRow`.
    fn from_row(schema: &Schema, values: Vec<Value>) -> Result<Self>;
}

impl<T: Table> Record for T {
    #[inline]
    fn col(&self, col: usize) -> ValueRef<'_> {
        self.column(col)
    }
    fn set_key(&mut self, _pk: usize, key: i64) {
        self.set_primary_key(key)
    }
    fn set_col(&mut self, col: usize, value: Value) -> Result<()> {
        self.set_column(col, value)
    }
    fn check_row(&self, _schema: &Schema) -> Result<()> {
        self.check()
    }
    fn values(&self) -> Result<Vec<Value>> {
        self.to_values()
    }
    fn from_row(_schema: &Schema, values: Vec<Value>) -> Result<Self> {
        T::from_values(values)
    }
}

/// A row of a table that has no Rust type attached: values in schema order.
///
/// Boxed, not shared: the slab already keeps every row behind an `Arc` of its own (so a
/// version's copy of a leaf never copies a row), and a second one here would cost a read
/// another pointer hop.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DynRow(pub(crate) Box<[Value]>);

impl Record for DynRow {
    #[inline]
    fn col(&self, col: usize) -> ValueRef<'_> {
        self.0[col].as_ref()
    }
    fn set_key(&mut self, pk: usize, key: i64) {
        if let Some(v) = self.0.get_mut(pk) {
            *v = Value::Int(key);
        }
    }
    fn set_col(&mut self, col: usize, value: Value) -> Result<()> {
        if let Some(v) = self.0.get_mut(col) {
            *v = value;
        }
        Ok(())
    }
    const CHECKED_BY_RESOLVE: bool = true;
    fn check_row(&self, schema: &Schema) -> Result<()> {
        self.check_width(schema)?;
        for (i, v) in self.0.iter().enumerate() {
            schema.check(i, v.as_ref())?;
        }
        Ok(())
    }
    fn values(&self) -> Result<Vec<Value>> {
        Ok(self.0.to_vec())
    }
    fn values_in_place(&self) -> Result<Cow<'_, [Value]>> {
        Ok(Cow::Borrowed(&self.0))
    }
    #[inline]
    fn as_values(&self) -> Option<&[Value]> {
        Some(&self.0)
    }
    fn from_row(schema: &Schema, values: Vec<Value>) -> Result<Self> {
        // Only the width: every row a table takes in passes `check_row` there (insert,
        // upsert, replace), was resolved against its schema (`insert_resolved`) or is a
        // stored row with the columns an update set checked (`replace_changed`), and
        // checking its values here too cost a second pass over every inserted row. The
        // width is checked so that a row's columns can be read (its key, to find the row
        // it replaces) before that.
        let row = DynRow(values.into());
        row.check_width(schema)?;
        Ok(row)
    }
}

impl DynRow {
    fn check_width(&self, schema: &Schema) -> Result<()> {
        if self.0.len() == schema.columns.len() {
            return Ok(());
        }
        Err(Error::SchemaMismatch {
            table: schema.table.clone(),
            reason: format!(
                "row has {} values for {} columns",
                self.0.len(),
                schema.columns.len()
            ),
        })
    }
}

/// A row of the dynamic API: column names with their values, in schema order when it comes
/// out of a table, in any order when it goes in. Build one with [`row!`](crate::row).
///
/// ```
/// let r = tabula::row! { "name" => "Bob", "year" => 2023 };
/// assert_eq!(r.get("year"), Some(&tabula::Value::Int(2023)));
/// assert_eq!(r.get("gpa"), None);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    names: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    /// An empty row.
    pub fn new() -> Self {
        Row::default()
    }

    /// Builds a row from names and values.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<Value>,
    {
        let (names, values): (Vec<String>, Vec<Value>) =
            pairs.into_iter().map(|(k, v)| (k.into(), v.into())).unzip();
        Row {
            names: names.into(),
            values,
        }
    }

    pub(crate) fn with_names(names: Arc<[String]>, values: Vec<Value>) -> Self {
        Row { names, values }
    }

    /// The row's values in `schema`'s order: unknown columns are refused, missing ones take
    /// their default (or null, or 0 for an auto-increment key), every value is coerced.
    pub(crate) fn resolve(&self, schema: &Schema) -> Result<Vec<Value>> {
        for name in self.names() {
            schema.column_index(name)?;
        }
        schema.resolve_values(
            schema
                .columns
                .iter()
                .map(|c| self.get(&c.name).cloned())
                .collect(),
        )
    }

    /// Adds or replaces a column's value.
    pub fn set(&mut self, name: &str, value: impl Into<Value>) {
        let value = value.into();
        match self.names.iter().position(|n| n == name) {
            Some(i) => self.values[i] = value,
            None => {
                let mut names = self.names.to_vec();
                names.push(name.to_owned());
                self.names = names.into();
                self.values.push(value);
            }
        }
    }

    /// The value of a column, if the row has it.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.values[i])
    }

    /// The column names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The values, in the order of [`Row::names`].
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// Pairs of name and value.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.names.iter().map(String::as_str).zip(&self.values)
    }

    /// The number of columns.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when the row has no columns.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Converts to a JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.iter()
                .map(|(k, v)| (k.to_owned(), serde_json::to_value(v).unwrap_or_default()))
                .collect(),
        )
    }
}

impl std::ops::Index<&str> for Row {
    type Output = Value;
    /// The value of a column; `Value::Null` when the row has no such column.
    fn index(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(name).unwrap_or(&NULL)
    }
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (k, v)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{k}: {v}")?;
        }
        f.write_str("}")
    }
}

/// Builds a [`Row`] for the dynamic API: `row! { "name" => "Bob", "year" => 2023 }`.
#[macro_export]
macro_rules! row {
    () => { $crate::Row::new() };
    ($($name:expr => $value:expr),+ $(,)?) => {
        $crate::Row::from_pairs([$((::std::string::String::from($name), $crate::Value::from($value))),+])
    };
}
