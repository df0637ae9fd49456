//! Column types, `Schema`, and the validation of values against a column.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::lookup::Lookup;
use crate::value::{non_finite_name, non_finite_named, whole_i64, Value, ValueRef};

/// The stored type of a column. Every integer width is kept so that the dynamic API refuses
/// `300` for a `u8` column exactly as the Rust type would.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// `bool`
    Bool,
    /// `i8`
    I8,
    /// `i16`
    I16,
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `u8`
    U8,
    /// `u16`
    U16,
    /// `u32`
    U32,
    /// `u64` (values above `i64::MAX` are refused)
    U64,
    /// `f32`
    F32,
    /// `f64`
    F64,
    /// `String`
    Text,
    /// Any other serde type, stored as its JSON text; cannot be indexed or ordered by.
    Json,
}

impl ColumnType {
    /// The name used in schema files and messages (`u32`, `text`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Bool => "bool",
            ColumnType::I8 => "i8",
            ColumnType::I16 => "i16",
            ColumnType::I32 => "i32",
            ColumnType::I64 => "i64",
            ColumnType::U8 => "u8",
            ColumnType::U16 => "u16",
            ColumnType::U32 => "u32",
            ColumnType::U64 => "u64",
            ColumnType::F32 => "f32",
            ColumnType::F64 => "f64",
            ColumnType::Text => "text",
            ColumnType::Json => "json",
        }
    }

    /// The inclusive range of an integer type, `None` for other types.
    pub fn int_range(self) -> Option<(i64, i64)> {
        Some(match self {
            ColumnType::I8 => (i8::MIN.into(), i8::MAX.into()),
            ColumnType::I16 => (i16::MIN.into(), i16::MAX.into()),
            ColumnType::I32 => (i32::MIN.into(), i32::MAX.into()),
            ColumnType::I64 => (i64::MIN, i64::MAX),
            ColumnType::U8 => (0, u8::MAX.into()),
            ColumnType::U16 => (0, u16::MAX.into()),
            ColumnType::U32 => (0, u32::MAX.into()),
            ColumnType::U64 => (0, i64::MAX),
            _ => return None,
        })
    }

    /// True for the integer types.
    pub fn is_int(self) -> bool {
        self.int_range().is_some()
    }

    /// True for `f32` and `f64`.
    pub fn is_float(self) -> bool {
        matches!(self, ColumnType::F32 | ColumnType::F64)
    }

    /// Whether an index (or `order_by`) can use this type: everything but `json`.
    pub fn is_indexable(self) -> bool {
        self != ColumnType::Json
    }

    /// Converts `value` to this type when that loses nothing: `3` into a float column,
    /// `3.0` into an integer column, `300` into `u16`, a JSON document's text into a `json`
    /// column (its line breaks made spaces: a row is one line of the log). Returns `None`
    /// when it would lose information (`3.5` into an integer, `300` into `u8`, `2^60` into
    /// `f64`, the float -2^63 into an integer, since every float below `i64` rounds to it,
    /// text that is not JSON into `json`) or the kinds differ. `Null` is returned as is;
    /// nullability is the column's business.
    pub fn coerce(self, value: Value) -> Option<Value> {
        match (self, value) {
            (_, Value::Null) => Some(Value::Null),
            (ColumnType::Bool, v @ Value::Bool(_)) => Some(v),
            (ColumnType::Text, v @ Value::Text(_)) => Some(v),
            (ColumnType::Json, Value::Text(t)) => serde_json::from_str::<serde_json::Value>(&t)
                .ok()
                .map(|_| Value::Text(one_line(t))),
            (t, Value::Int(i)) if t.is_int() => {
                let (lo, hi) = t.int_range()?;
                (lo..=hi).contains(&i).then_some(Value::Int(i))
            }
            (t, Value::Float(f)) if t.is_int() => {
                let (lo, hi) = t.int_range()?;
                // Not -2^63, which is what SQL arithmetic that overflowed below i64 (into a
                // float, as in SQLite) rounds to: `a - 10` on a row near i64::MIN would be
                // stored as i64::MIN. SQLite keeps such a float a float for the same reason
                // (its integer affinity converts only strictly inside i64's range).
                whole_i64(f)
                    .filter(|i| (lo..=hi).contains(i) && *i != i64::MIN)
                    .map(Value::Int)
            }
            (ColumnType::F64, v @ Value::Float(_)) => Some(v),
            (ColumnType::F32, Value::Float(f)) => {
                // An f32 column keeps what f32 can represent; a literal like 0.1 is accepted
                // and stored as the nearest f32, as the Rust field would.
                (f.is_nan() || f.is_infinite() || (f as f32).is_finite())
                    .then(|| Value::Float(f64::from(f as f32)))
            }
            (t, Value::Int(i)) if t.is_float() => {
                let limit = if t == ColumnType::F32 {
                    1i64 << 24
                } else {
                    1i64 << 53
                };
                (i.unsigned_abs() <= limit as u64).then_some(Value::Float(i as f64))
            }
            _ => None,
        }
    }

    /// A numeric bound of a range on a column of this type, as it is compared: a float
    /// bound on an `f32` column becomes the nearest `f32`, as [`ColumnType::coerce`] makes an
    /// equality's value, so that `where_range(c, x..=x)` finds the rows `where_eq(c, x)`
    /// finds (a row that stored `0.1` holds `0.1f32`, which is above `0.1`). Rounding can
    /// change an answer only for a row holding that nearest `f32`. A finite bound beyond
    /// `f32`'s range stays as it is (rounded, it would be an infinity). Integer bounds stay exact:
    /// an integer the column can store is an `f32` already, and the column refuses any
    /// other, so there is no stored value to round it to.
    pub(crate) fn range_bound(self, value: Value) -> Value {
        match value {
            // A finite bound beyond f32's range stays as it is: rounded, it would be an
            // infinity, and the infinities stored would change sides.
            Value::Float(f)
                if self == ColumnType::F32 && (f as f32).is_finite() == f.is_finite() =>
            {
                Value::Float(f64::from(f as f32))
            }
            v => v,
        }
    }

    /// Whether [`ColumnType::coerce`] would return `value` as it is: it has this type's
    /// representation and the type converts nothing (`f32` rounds floats, `json` parses text).
    /// The usual case, so a key or a decoded value is checked without being copied.
    #[inline]
    pub(crate) fn keeps(self, value: ValueRef<'_>) -> bool {
        self.accepts(value) && !matches!(self, ColumnType::F32 | ColumnType::Json)
    }

    /// Whether a borrowed value already has this type's representation (used to check rows
    /// produced by generated code without copying them).
    pub fn accepts(self, value: ValueRef<'_>) -> bool {
        match (self, value) {
            (_, ValueRef::Null) => true,
            (ColumnType::Bool, ValueRef::Bool(_)) => true,
            (ColumnType::Text | ColumnType::Json, ValueRef::Text(_)) => true,
            (t, ValueRef::Int(i)) if t.is_int() => {
                t.int_range().is_some_and(|(lo, hi)| (lo..=hi).contains(&i))
            }
            (ColumnType::F32 | ColumnType::F64, ValueRef::Float(_)) => true,
            _ => false,
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What deleting a referenced row does to the rows that reference it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    /// Deleting a referenced row fails its transaction's commit, which changes nothing, if
    /// a row still references it then (the default).
    #[default]
    Restrict,
    /// Referencing rows are deleted by the statement that deletes the row they reference.
    Cascade,
    /// Referencing columns (nullable ones only) are set to null by the statement that
    /// deletes the row they reference.
    SetNull,
}

impl OnDelete {
    /// The action as the derive's `on_delete` and the schema files spell it.
    ///
    /// ```
    /// assert_eq!(tabula::OnDelete::SetNull.name(), "set_null");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            OnDelete::Restrict => "restrict",
            OnDelete::Cascade => "cascade",
            OnDelete::SetNull => "set_null",
        }
    }
}

/// A foreign key: this column holds primary keys of another table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKey {
    /// The referenced table.
    pub table: String,
    /// What deleting a referenced row does.
    #[serde(default)]
    pub on_delete: OnDelete,
}

/// One column of a [`Schema`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// The column's name (the field name, or its `#[column(name = "...")]`).
    pub name: String,
    /// The stored type.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// Whether the column may hold null (`Option<T>` fields).
    #[serde(default)]
    pub nullable: bool,
    /// The value used when a row arrives without this column.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_default"
    )]
    pub default: Option<Value>,
    /// Whether this is the primary key.
    #[serde(default, skip_serializing_if = "is_false")]
    pub primary_key: bool,
    /// Whether values must be unique (a hash index serves it and equality lookups).
    #[serde(default, skip_serializing_if = "is_false")]
    pub unique: bool,
    /// Whether an ordered index is kept (ranges and ordering without a sort).
    #[serde(default, skip_serializing_if = "is_false")]
    pub index: bool,
    /// The table this column references, if it is a foreign key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<ForeignKey>,
    /// A SQL condition every row must not make false (`credits BETWEEN 1 AND 10`); it may
    /// name other columns too. A row for which it is null passes, as in SQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
}

/// A default as the schema file holds it: a float JSON cannot write (NaN, an infinity) as
/// the strings `"NaN"`, `"inf"` and `"-inf"`, as the data files write such floats (serde
/// would write `null`, and the default would be lost at the next open).
fn serialize_default<S: serde::Serializer>(
    default: &Option<Value>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    if let Some(name) = default.as_ref().and_then(|d| match d {
        Value::Float(f) => non_finite_name(*f),
        _ => None,
    }) {
        return s.serialize_str(name);
    }
    serde::Serialize::serialize(default, s)
}

/// A float column's value read back from a file's spelling of a non-finite float (see
/// [`non_finite_name`]); any other value as it is.
pub(crate) fn non_finite(v: Value) -> Value {
    match &v {
        Value::Text(t) => non_finite_named(t).map_or(v, Value::Float),
        _ => v,
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Column {
    /// Why this foreign-key column cannot hold the keys of `parent`'s primary key, `key`
    /// (`None` when it can): an integer key takes integer columns of any width, any other
    /// key its own type. Checked where a table is made, by the library and by SQL.
    pub(crate) fn reference_mismatch(&self, parent: &str, key: &Column) -> Option<String> {
        let fits = if key.ty.is_int() {
            self.ty.is_int()
        } else {
            self.ty == key.ty
        };
        (!fits).then(|| {
            format!(
                "column {} is {} but references {parent}.{}, which is {}",
                self.name, self.ty, key.name, key.ty
            )
        })
    }

    /// A NOT NULL column of type `ty` with no constraints.
    pub fn new(name: impl Into<String>, ty: ColumnType) -> Self {
        Column {
            name: name.into(),
            ty,
            nullable: false,
            default: None,
            primary_key: false,
            unique: false,
            index: false,
            references: None,
            check: None,
        }
    }

    /// Marks the column as the primary key.
    pub fn primary_key(mut self) -> Self {
        self.primary_key = true;
        self
    }

    /// Marks the column as nullable.
    pub fn nullable(mut self) -> Self {
        self.nullable = true;
        self
    }

    /// Makes the column a foreign key to `table`'s primary key. `table` may be made after
    /// this one; whichever of the two comes second is refused (`Error::SchemaMismatch`)
    /// when the column cannot hold the key's values: an integer key takes an integer
    /// column of any width, any other key a column of its own type.
    pub fn references(mut self, table: impl Into<String>, on_delete: OnDelete) -> Self {
        self.references = Some(ForeignKey {
            table: table.into(),
            on_delete,
        });
        self
    }

    /// Marks the column unique.
    pub fn unique(mut self) -> Self {
        self.unique = true;
        self
    }

    /// Gives the column a non-unique ordered index.
    pub fn indexed(mut self) -> Self {
        self.index = true;
        self
    }

    /// Adds a check: a SQL condition rows must not make false (see [`Column::check`]).
    pub fn checked(mut self, condition: impl Into<String>) -> Self {
        self.check = Some(condition.into());
        self
    }

    /// Sets the value used when a row arrives without this column.
    pub fn default_value(mut self, value: impl Into<Value>) -> Self {
        self.default = Some(value.into());
        self
    }

    /// Whether an ordered index (ranges, `order_by` without sorting) is kept for this column:
    /// `index` columns. A `unique` column has a hash index for equality and uniqueness; mark
    /// it `unique` and `index` to have both.
    pub fn has_ordered_index(&self) -> bool {
        // A foreign key gets one automatically: deletes find dependents through it.
        self.index || self.references.is_some()
    }

    /// Whether an index of the column's own holds it: the key's, a unique one, an ordered
    /// one (also a foreign key's). Indexes of several columns are the schema's.
    pub fn has_own_index(&self) -> bool {
        self.primary_key || self.unique || self.has_ordered_index()
    }
}

/// The shape of a table: its name and columns, with types, nullability, defaults,
/// constraints and indexes. `#[derive(Table)]` produces one; the dynamic API, the schema
/// files and the checks on every write use it.
///
/// ```
/// use tabula::{Column, ColumnType, Schema};
/// let schema = Schema::new(
///     "courses",
///     vec![
///         Column::new("id", ColumnType::U64).primary_key(),
///         Column::new("code", ColumnType::Text).unique(),
///         Column::new("credits", ColumnType::U8).default_value(3),
///     ],
/// )
/// .unwrap();
/// assert_eq!(schema.primary_key_column().name, "id");
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Schema {
    /// The table's name.
    pub table: String,
    /// The columns, in declaration order.
    pub columns: Vec<Column>,
    /// Unique constraints over several columns (`unique(student, course)`), each served by
    /// a hash index. A row with a null in any of the columns never collides (SQL's rule).
    /// One of a single column is that column's `unique` flag once the schema is finished.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unique: Vec<Vec<String>>,
    /// Ordered indexes over several columns (`index(course, grade)`): they serve equality on
    /// a prefix of the columns and a range on the next one. One of a single column is that
    /// column's `index` flag once the schema is finished.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub index: Vec<Vec<String>>,
    /// Table-level checks: SQL conditions over the row that no row may make false.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// How a stored table reaches this schema, for `Database::table` to migrate it: not part
    /// of the schema (not stored, not compared).
    #[serde(skip)]
    pub evolution: Evolution,
    #[serde(skip)]
    pk: usize,
}

/// What the derive says about the columns a stored table had: renamed ones
/// (`#[column(renamed_from = "old")]`) and dropped ones (`#[table(dropped("old"))]`).
/// A migration uses it; it names nothing of the schema itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evolution {
    /// `(old name, new name)` of each renamed column.
    pub renamed: Vec<(String, String)>,
    /// Stored columns the table drops, with their data.
    pub dropped: Vec<String>,
}

/// Schemas are equal when they describe the same table: name, columns, composite
/// constraints and checks; the evolution hints are not part of it.
impl PartialEq for Schema {
    fn eq(&self, other: &Self) -> bool {
        self.table == other.table
            && self.columns == other.columns
            && self.unique == other.unique
            && self.index == other.index
            && self.checks == other.checks
    }
}

/// One composite constraint's columns as written: `(student, course)`.
pub(crate) fn column_list(cols: &[String]) -> String {
    format!("({})", cols.join(", "))
}

/// The longest table or column name accepted.
pub const MAX_NAME_LEN: usize = 64;

/// Checks a table or column name: 1 to 64 ASCII letters, digits or `_`, not starting with a
/// digit. Such a name is safe as a file name on every platform.
pub fn check_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("a name cannot be empty")
    } else if name.len() > MAX_NAME_LEN {
        Some("a name has at most 64 characters")
    } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Some("a name holds only ASCII letters, digits and '_'")
    } else if name.as_bytes()[0].is_ascii_digit() {
        Some("a name cannot start with a digit")
    } else {
        None
    };
    match reason {
        Some(r) => Err(Error::InvalidName {
            name: name.to_owned(),
            reason: r.to_owned(),
        }),
        None => Ok(()),
    }
}

/// Checks the name of a table about to be created, beyond [`check_name`]: a name starting
/// with `sqlite_` (in any case) is SQLite's own, and could not be dumped into SQLite (nor
/// read back from a dump, whose `sqlite_sequence` lines set the next keys). Tables of that
/// name made before this rule still open.
pub(crate) fn check_new_table_name(name: &str) -> Result<()> {
    let reserved = name
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("sqlite_"));
    if reserved {
        return Err(Error::InvalidName {
            name: name.to_owned(),
            reason: "a table name cannot start with sqlite_ (SQLite keeps those names, and \
                     a dump must load into SQLite)"
                .to_owned(),
        });
    }
    Ok(())
}

impl Schema {
    /// Builds and checks a schema: valid unique names, exactly one primary key of integer or
    /// text type, not nullable, defaults that fit their columns, no index on `json` columns.
    pub fn new(table: impl Into<String>, columns: Vec<Column>) -> Result<Self> {
        let mut s = Schema {
            table: table.into(),
            columns,
            unique: Vec::new(),
            index: Vec::new(),
            checks: Vec::new(),
            evolution: Evolution::default(),
            pk: 0,
        };
        s.finish()?;
        Ok(s)
    }

    /// Adds a unique constraint over several columns (see [`Schema::unique`]) and checks
    /// the schema again.
    pub fn with_unique(mut self, columns: &[&str]) -> Result<Self> {
        self.unique
            .push(columns.iter().map(|c| (*c).to_owned()).collect());
        self.finish()?;
        Ok(self)
    }

    /// Adds an ordered index over several columns (see [`Schema::index`]) and checks the
    /// schema again.
    pub fn with_index(mut self, columns: &[&str]) -> Result<Self> {
        self.index
            .push(columns.iter().map(|c| (*c).to_owned()).collect());
        self.finish()?;
        Ok(self)
    }

    /// Adds a table-level check (see [`Schema::checks`]) and checks the schema again. The
    /// condition itself is compiled when the table is created or attached.
    pub fn with_check(mut self, condition: impl Into<String>) -> Result<Self> {
        self.checks.push(condition.into());
        self.finish()?;
        Ok(self)
    }

    /// Every check, column-level ones first (in column order), then table-level ones, each
    /// with the column it is declared on.
    pub fn all_checks(&self) -> impl Iterator<Item = (Option<&str>, &str)> + '_ {
        self.columns
            .iter()
            .filter_map(|c| c.check.as_deref().map(|t| (Some(c.name.as_str()), t)))
            .chain(self.checks.iter().map(|t| (None, t.as_str())))
    }

    /// Re-checks a schema read from a file and rebuilds its derived fields.
    pub fn finish(&mut self) -> Result<()> {
        // A default of NULL is no default: the value a row without the column gets either
        // way (an integer key's is the next one), and the schema file cannot tell the two
        // apart (JSON's `null` reads back as no default), so a reopened or dumped and
        // reloaded schema would differ from the one made.
        for c in &mut self.columns {
            if matches!(c.default, Some(Value::Null)) {
                c.default = None;
            }
        }
        self.finish_columns()?;
        self.finish_composites()
    }

    /// Checks the composite constraints and the checks: known, comparable, distinct columns;
    /// one of a single column becomes that column's flag; no constraint twice.
    fn finish_composites(&mut self) -> Result<()> {
        let mismatch = |reason: String| Error::SchemaMismatch {
            table: self.table.clone(),
            reason,
        };
        for kind in ["unique", "index"] {
            let lists = std::mem::take(if kind == "unique" {
                &mut self.unique
            } else {
                &mut self.index
            });
            let mut kept: Vec<Vec<String>> = Vec::new();
            for cols in lists {
                if cols.is_empty() {
                    return Err(mismatch(format!("{kind}() names no column")));
                }
                for (i, name) in cols.iter().enumerate() {
                    let Some(c) = self.columns.iter().find(|c| &c.name == name) else {
                        return Err(mismatch(format!(
                            "{kind}{} names unknown column {name}",
                            column_list(&cols)
                        )));
                    };
                    if !c.ty.is_indexable() {
                        return Err(mismatch(format!(
                            "{kind}{}: column {name} of type json cannot be indexed",
                            column_list(&cols)
                        )));
                    }
                    if cols[..i].contains(name) {
                        return Err(mismatch(format!(
                            "{kind}{} names column {name} twice",
                            column_list(&cols)
                        )));
                    }
                }
                if let [one] = cols.as_slice() {
                    if let Some(c) = self.columns.iter_mut().find(|c| &c.name == one) {
                        if !c.primary_key {
                            if kind == "unique" {
                                c.unique = true;
                            } else {
                                c.index = true;
                            }
                        }
                    }
                    continue;
                }
                if kept.contains(&cols) {
                    return Err(mismatch(format!(
                        "{kind}{} is declared twice",
                        column_list(&cols)
                    )));
                }
                kept.push(cols);
            }
            if kind == "unique" {
                self.unique = kept;
            } else {
                self.index = kept;
            }
        }
        for (col, text) in self.all_checks() {
            if text.trim().is_empty() {
                return Err(mismatch(match col {
                    Some(c) => format!("the check on column {c} is empty"),
                    None => "a table check is empty".to_owned(),
                }));
            }
        }
        Ok(())
    }

    fn finish_columns(&mut self) -> Result<()> {
        check_name(&self.table)?;
        let mismatch = |reason: String| Error::SchemaMismatch {
            table: self.table.clone(),
            reason,
        };
        let mut pk = None;
        for (i, c) in self.columns.iter_mut().enumerate() {
            check_name(&c.name)?;
            if c.primary_key {
                if pk.is_some() {
                    return Err(mismatch("more than one primary key".into()));
                }
                if !(c.ty.is_int() || c.ty == ColumnType::Text) || c.nullable {
                    return Err(mismatch(format!(
                        "primary key {} must be a non-nullable integer or text, not {}{}",
                        c.name,
                        if c.nullable { "nullable " } else { "" },
                        c.ty
                    )));
                }
                // The primary key has its own hash map; a second index would only cost memory.
                c.unique = false;
                c.index = false;
                pk = Some(i);
            }
            if let Some(fk) = &c.references {
                check_name(&fk.table)?;
                if !(c.ty.is_int() || c.ty == ColumnType::Text) {
                    return Err(mismatch(format!(
                        "foreign key {} must be an integer or text column, not {}",
                        c.name, c.ty
                    )));
                }
                if fk.on_delete == OnDelete::SetNull && !c.nullable {
                    return Err(mismatch(format!(
                        "foreign key {} has on_delete set_null but is not nullable",
                        c.name
                    )));
                }
            }
            if (c.unique || c.index) && !c.ty.is_indexable() {
                return Err(mismatch(format!(
                    "column {} of type json cannot be indexed",
                    c.name
                )));
            }
            if let Some(d) = c.default.take() {
                let d = if c.ty.is_float() { non_finite(d) } else { d };
                match c.ty.coerce(d.clone()) {
                    Some(v) if !v.is_null() || c.nullable => c.default = Some(v),
                    _ => {
                        return Err(mismatch(format!(
                            "default {d} does not fit column {} of type {}",
                            c.name, c.ty
                        )))
                    }
                }
            }
        }
        for (i, c) in self.columns.iter().enumerate() {
            if self.columns[..i].iter().any(|o| o.name == c.name) {
                return Err(mismatch(format!("column {} appears twice", c.name)));
            }
        }
        self.pk = pk.ok_or_else(|| mismatch("no primary key".into()))?;
        Ok(())
    }

    /// The position of the primary-key column.
    pub fn primary_key(&self) -> usize {
        self.pk
    }

    /// The values an integer primary key can hold (`None` for other keys): a lookup by an
    /// integer in range needs no coercion.
    #[inline]
    pub(crate) fn key_int_range(&self) -> Option<(i64, i64)> {
        self.columns[self.pk].ty.int_range()
    }

    /// The primary-key column.
    pub fn primary_key_column(&self) -> &Column {
        &self.columns[self.pk]
    }

    /// Whether the primary key is an integer that auto-increments when given as 0.
    pub fn auto_increment(&self) -> bool {
        self.primary_key_column().ty.is_int()
    }

    /// `None` when `next` can be the auto-increment counter (the key the next row gets):
    /// the key before it fits the key column. Otherwise why not, naming the column.
    pub(crate) fn counter_refused(&self, next: i64) -> Option<String> {
        let key = self.primary_key_column();
        let (_, hi) = key.ty.int_range()?;
        (next > hi.saturating_add(1)).then(|| {
            format!(
                "{next} is past key column {}.{} ({}, at most {hi})",
                self.table,
                key.name,
                key.ty.name()
            )
        })
    }

    /// The position of a column by name.
    #[inline]
    pub fn position(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Refuses a table whose schema is now `now` when this one, which a dynamic handle
    /// was made with, is no longer it: the handle's column positions would name other
    /// columns.
    pub(crate) fn still_current(&self, now: &Schema) -> Result<()> {
        if std::ptr::eq(self, now) || self == now {
            return Ok(());
        }
        Err(Error::SchemaMismatch {
            table: self.table.clone(),
            reason: "the table was migrated since this handle was made; take a new handle \
                     with db.dyn_table"
                .to_owned(),
        })
    }

    /// The position of a column by name, or `Error::UnknownColumn`.
    #[inline]
    pub fn column_index(&self, name: &str) -> Result<usize> {
        self.position(name).ok_or_else(|| Error::UnknownColumn {
            table: self.table.clone(),
            column: name.to_owned(),
        })
    }

    /// The position of a column that values can be compared with (any type but `json`);
    /// `purpose` completes the message otherwise: "json columns cannot be {purpose}".
    pub(crate) fn comparable_column(&self, name: &str, purpose: &str) -> Result<usize> {
        let col = self.column_index(name)?;
        if !self.columns[col].ty.is_indexable() {
            return Err(Error::InvalidColumnUse {
                table: self.table.clone(),
                column: name.to_owned(),
                reason: format!("json columns cannot be {purpose}"),
            });
        }
        Ok(col)
    }

    /// A row's values in this schema's column order, `None` for a column the row leaves
    /// out, as an insert takes them: a missing column takes its default (or null, or `0`,
    /// "assign the next key", for an integer primary key), and every value is coerced to
    /// its column's type ([`Schema::coerce`]). [`DynTable::insert_values`] inserts the
    /// result.
    ///
    /// [`DynTable::insert_values`]: crate::DynTable::insert_values
    ///
    /// ```
    /// use tabula::{Column, ColumnType, Schema, Value};
    /// let schema = Schema::new("note", vec![
    ///     Column::new("id", ColumnType::U64).primary_key(),
    ///     Column::new("stars", ColumnType::F64).default_value(1.0),
    /// ])?;
    /// let row = schema.resolve_values(vec![None, Some(Value::Int(4))])?;
    /// assert_eq!(row, [Value::Int(0), Value::Float(4.0)]);
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn resolve_values(&self, values: Vec<Option<Value>>) -> Result<Vec<Value>> {
        if values.len() != self.columns.len() {
            return Err(Error::SchemaMismatch {
                table: self.table.clone(),
                reason: format!(
                    "row has {} values for {} columns",
                    values.len(),
                    self.columns.len()
                ),
            });
        }
        let pk = self.primary_key();
        // Collected from `values`' own iterator: an `Option<Value>` is the size of a
        // `Value` (asserted below), so the standard library writes the results over the
        // input's buffer rather than allocating another one per row.
        const _: () = assert!(size_of::<Option<Value>>() == size_of::<Value>());
        // The error is boxed on the way: an `Error` is five times a `Value`'s size, and each
        // value would be moved through the collect inside a `Result` that large.
        values
            .into_iter()
            .zip(&self.columns)
            .enumerate()
            .map(|(i, (v, c))| -> std::result::Result<Value, Box<Error>> {
                let v = match v {
                    Some(v) => v,
                    // An integer key left out takes the next auto-increment key, whatever
                    // default it has (as SQLite ignores one on its rowid): a default would
                    // give every such row the same key.
                    None if i == pk && c.ty.is_int() => Value::Int(0),
                    None => c.default.clone().unwrap_or(Value::Null),
                };
                // Most values already have their column's representation (as in `coerce`).
                if !v.is_null() && c.ty.keeps(v.as_ref()) {
                    return Ok(v);
                }
                self.coerce(i, v).map_err(Box::new)
            })
            .collect::<std::result::Result<Vec<Value>, Box<Error>>>()
            .map_err(|e| *e)
    }

    /// Converts `value` for column `col` (see [`ColumnType::coerce`]) and checks
    /// nullability, naming the table, column and value on failure.
    pub fn coerce(&self, col: usize, value: Value) -> Result<Value> {
        let c = &self.columns[col];
        if value.is_null() {
            if c.nullable {
                return Ok(Value::Null);
            }
            return Err(Error::NotNull {
                table: self.table.clone(),
                column: c.name.clone(),
            });
        }
        // Most values already have their column's representation: no copy, no conversion.
        if c.ty.keeps(value.as_ref()) {
            return Ok(value);
        }
        let shown = value.clone();
        let v =
            c.ty.coerce(value)
                .ok_or_else(|| self.type_mismatch(col, shown))?;
        // The files of a nullable `json` column cannot tell the document `null` from SQL
        // NULL (a document is written as itself), so it is NULL from the start rather than
        // after the next open. A column that is not nullable keeps the document.
        if c.ty == ColumnType::Json && c.nullable && is_json_null(&v) {
            return Ok(Value::Null);
        }
        Ok(v)
    }

    /// [`Schema::coerce`] for a lookup key: a key already in its column's representation
    /// (the usual case) stays as it is, borrowed or not.
    #[inline]
    pub(crate) fn coerce_lookup<'a>(&self, col: usize, key: Lookup<'a>) -> Result<Lookup<'a>> {
        let ty = self.columns[col].ty;
        let v = key.as_ref();
        if !v.is_null() && ty.keeps(v) {
            return Ok(key);
        }
        self.coerce(col, key.into_value()).map(Lookup::owned)
    }

    /// Converts a key given by the user to the primary key's type. A key already in its
    /// column's representation (the usual case) is used as it is; only a conversion keeps a
    /// copy, for the error message.
    #[inline]
    pub(crate) fn coerce_key<'a>(&self, key: Lookup<'a>) -> Result<Lookup<'a>> {
        let pk = self.primary_key();
        let ty = self.columns[pk].ty;
        if ty.keeps(key.as_ref()) {
            return Ok(key);
        }
        let key = key.into_value();
        let shown = key.clone();
        ty.coerce(key)
            .map(Lookup::owned)
            .ok_or_else(|| self.type_mismatch(pk, shown))
    }

    /// Checks a borrowed value that claims to be of column `col`'s type.
    pub fn check(&self, col: usize, value: ValueRef<'_>) -> Result<()> {
        let c = &self.columns[col];
        if value.is_null() {
            if c.nullable {
                return Ok(());
            }
            return Err(Error::NotNull {
                table: self.table.clone(),
                column: c.name.clone(),
            });
        }
        if c.ty.accepts(value) {
            Ok(())
        } else {
            Err(self.type_mismatch(col, value.to_owned()))
        }
    }

    pub(crate) fn type_mismatch(&self, col: usize, value: Value) -> Error {
        let c = &self.columns[col];
        Error::TypeMismatch {
            table: self.table.clone(),
            column: c.name.clone(),
            expected: c.ty.name().to_owned(),
            value,
        }
    }

    /// Compares two schemas column by column, describing every difference.
    pub fn differences(&self, other: &Schema) -> Vec<String> {
        let mut out = Vec::new();
        for c in &self.columns {
            match other.columns.iter().find(|o| o.name == c.name) {
                None => out.push(format!(
                    "column {} is missing from the other schema",
                    c.name
                )),
                Some(o) if o != c => out.push(format!(
                    "column {} differs: {} vs {}",
                    c.name,
                    describe(c),
                    describe(o)
                )),
                Some(_) => {}
            }
        }
        for o in &other.columns {
            if self.position(&o.name).is_none() {
                out.push(format!("column {} is new in the other schema", o.name));
            }
        }
        for (kind, mine, theirs) in [
            ("unique", &self.unique, &other.unique),
            ("index", &self.index, &other.index),
        ] {
            for cols in mine.iter().filter(|c| !theirs.contains(c)) {
                out.push(format!(
                    "{kind}{} is missing from the other schema",
                    column_list(cols)
                ));
            }
            for cols in theirs.iter().filter(|c| !mine.contains(c)) {
                out.push(format!(
                    "{kind}{} is new in the other schema",
                    column_list(cols)
                ));
            }
        }
        for c in self.checks.iter().filter(|c| !other.checks.contains(c)) {
            out.push(format!("check {c:?} is missing from the other schema"));
        }
        for c in other.checks.iter().filter(|c| !self.checks.contains(c)) {
            out.push(format!("check {c:?} is new in the other schema"));
        }
        if out.is_empty()
            && self
                .columns
                .iter()
                .map(|c| &c.name)
                .ne(other.columns.iter().map(|c| &c.name))
        {
            out.push("columns are in a different order".into());
        }
        out
    }
}

fn describe(c: &Column) -> String {
    let mut s = c.ty.name().to_owned();
    if c.nullable {
        s.push_str(" nullable");
    }
    if c.primary_key {
        s.push_str(" primary_key");
    }
    if c.unique {
        s.push_str(" unique");
    }
    if c.index {
        s.push_str(" index");
    }
    if let Some(d) = &c.default {
        s.push_str(&format!(" default={d}"));
    }
    if let Some(r) = &c.references {
        s.push_str(&format!(" references={}", r.table));
    }
    if let Some(check) = &c.check {
        s.push_str(&format!(" check={check:?}"));
    }
    s
}

/// A valid JSON document's text as the files keep it: on one line, without whitespace
/// around it. A line break can only be whitespace between its tokens (inside a string JSON
/// escapes it), so each becomes a space; nothing else changes.
pub(crate) fn one_line(text: String) -> String {
    let trimmed = text.trim_matches([' ', '\t', '\n', '\r']);
    if trimmed.len() == text.len() && !text.contains(['\n', '\r']) {
        return text;
    }
    trimmed.replace(['\n', '\r'], " ")
}

/// Whether `v` is the text of the JSON document `null`, as [`ColumnType::coerce`] leaves it.
fn is_json_null(v: &Value) -> bool {
    matches!(v, Value::Text(t) if t == "null")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `TypeMismatch`'s message knows the integer types' ranges by name: the same ones.
    #[test]
    fn the_error_message_knows_each_type_s_range() {
        use ColumnType::*;
        for t in [
            Bool, I8, I16, I32, I64, U8, U16, U32, U64, F32, F64, Text, Json,
        ] {
            assert_eq!(crate::error::int_bounds(t.name()), t.int_range(), "{t}");
        }
    }

    #[test]
    fn coercions_are_lossless_only() {
        assert_eq!(
            ColumnType::F64.coerce(Value::Int(3)),
            Some(Value::Float(3.0))
        );
        assert_eq!(
            ColumnType::I32.coerce(Value::Float(3.0)),
            Some(Value::Int(3))
        );
        assert_eq!(ColumnType::I32.coerce(Value::Float(3.5)), None);
        assert_eq!(ColumnType::U8.coerce(Value::Int(300)), None);
        assert_eq!(ColumnType::U8.coerce(Value::Int(-1)), None);
        assert_eq!(
            ColumnType::U16.coerce(Value::Int(300)),
            Some(Value::Int(300))
        );
        assert_eq!(ColumnType::F64.coerce(Value::Int(1 << 60)), None);
        assert_eq!(ColumnType::I64.coerce(Value::Float(9.3e18)), None);
        assert_eq!(ColumnType::Text.coerce(Value::Int(1)), None);
        assert_eq!(ColumnType::Bool.coerce(Value::Int(1)), None);
        assert_eq!(
            ColumnType::Json.coerce(Value::from("{\"a\":1}")),
            Some(Value::from("{\"a\":1}"))
        );
        assert_eq!(ColumnType::Json.coerce(Value::from("{nope")), None);
        // A document keeps its text but for line breaks and the whitespace around it.
        assert_eq!(
            ColumnType::Json.coerce(Value::from(
                "\r\n {\n  \"a\": \"x\\ny\",\r\n  \"b\": [1]\n}\n"
            )),
            Some(Value::from("{   \"a\": \"x\\ny\",    \"b\": [1] }"))
        );
    }

    #[test]
    fn schema_checks_names_and_keys() {
        let ok = vec![Column::new("id", ColumnType::U64).primary_key()];
        assert!(Schema::new("t", ok.clone()).is_ok());
        assert!(matches!(
            Schema::new("../x", ok.clone()),
            Err(Error::InvalidName { .. })
        ));
        assert!(matches!(
            Schema::new("1t", ok),
            Err(Error::InvalidName { .. })
        ));
        let none = vec![Column::new("id", ColumnType::U64)];
        assert!(matches!(
            Schema::new("t", none),
            Err(Error::SchemaMismatch { .. })
        ));
        let float_pk = vec![Column::new("id", ColumnType::F64).primary_key()];
        assert!(matches!(
            Schema::new("t", float_pk),
            Err(Error::SchemaMismatch { .. })
        ));
        let bad_default = vec![
            Column::new("id", ColumnType::U64).primary_key(),
            Column::new("n", ColumnType::U8).default_value(1000),
        ];
        assert!(matches!(
            Schema::new("t", bad_default),
            Err(Error::SchemaMismatch { .. })
        ));
    }

    #[test]
    fn schema_json_is_readable() {
        let s = Schema::new(
            "t",
            vec![
                Column::new("id", ColumnType::U64).primary_key(),
                Column::new("gpa", ColumnType::F64).default_value(0.0),
            ],
        )
        .unwrap();
        let j = serde_json::to_string(&s).unwrap();
        assert!(j.contains(r#""type":"u64""#), "{j}");
        let mut back: Schema = serde_json::from_str(&j).unwrap();
        back.finish().unwrap();
        assert_eq!(back, s);
    }
}
