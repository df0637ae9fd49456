//! How Rust field types map to columns. Generated code calls these; users never need to.

mod json_fit;

use crate::error::{Error, Result};
use crate::schema::ColumnType;
use crate::value::{Value, ValueRef};

/// A Rust type that is stored as one column: every integer width, `f32`, `f64`, `bool`,
/// `String`, and `Option` of those (nullable).
pub trait ColumnValue: Sized {
    /// The column type.
    const TYPE: ColumnType;
    /// Whether the type can be null (`Option`).
    const NULLABLE: bool = false;
    /// Borrows the value.
    fn value_ref(&self) -> ValueRef<'_>;
    /// Copies the value.
    fn to_value(&self) -> Value {
        self.value_ref().to_owned()
    }
    /// Takes a value already coerced to [`ColumnValue::TYPE`].
    fn from_value(v: Value) -> Option<Self>;
    /// Whether the value fits its column (only a `u64` above `i64::MAX` does not).
    fn fits(&self) -> bool {
        true
    }
    /// Writes an auto-increment key (integer types only; others ignore it).
    fn set_key(&mut self, _key: i64) {}
}

macro_rules! int_column {
    ($($t:ty => $ct:ident),*) => {$(
        impl ColumnValue for $t {
            const TYPE: ColumnType = ColumnType::$ct;
            #[inline]
            fn value_ref(&self) -> ValueRef<'_> {
                ValueRef::Int(*self as i64)
            }
            fn from_value(v: Value) -> Option<Self> {
                match v {
                    Value::Int(i) => <$t>::try_from(i).ok(),
                    _ => None,
                }
            }
            fn fits(&self) -> bool {
                i64::try_from(*self).is_ok()
            }
            fn set_key(&mut self, key: i64) {
                *self = <$t>::try_from(key).unwrap_or(*self);
            }
        }
    )*};
}
int_column!(i8 => I8, i16 => I16, i32 => I32, i64 => I64, u8 => U8, u16 => U16, u32 => U32,
    u64 => U64);

impl ColumnValue for f64 {
    const TYPE: ColumnType = ColumnType::F64;
    #[inline]
    fn value_ref(&self) -> ValueRef<'_> {
        ValueRef::Float(*self)
    }
    fn from_value(v: Value) -> Option<Self> {
        v.as_f64()
    }
}

impl ColumnValue for f32 {
    const TYPE: ColumnType = ColumnType::F32;
    #[inline]
    fn value_ref(&self) -> ValueRef<'_> {
        ValueRef::Float(f64::from(*self))
    }
    fn from_value(v: Value) -> Option<Self> {
        v.as_f64().map(|f| f as f32)
    }
}

impl ColumnValue for bool {
    const TYPE: ColumnType = ColumnType::Bool;
    #[inline]
    fn value_ref(&self) -> ValueRef<'_> {
        ValueRef::Bool(*self)
    }
    fn from_value(v: Value) -> Option<Self> {
        v.as_bool()
    }
}

impl ColumnValue for String {
    const TYPE: ColumnType = ColumnType::Text;
    #[inline]
    fn value_ref(&self) -> ValueRef<'_> {
        ValueRef::Text(self)
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl<T: ColumnValue> ColumnValue for Option<T> {
    const TYPE: ColumnType = T::TYPE;
    const NULLABLE: bool = true;
    #[inline]
    fn value_ref(&self) -> ValueRef<'_> {
        self.as_ref().map_or(ValueRef::Null, T::value_ref)
    }
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
    fn fits(&self) -> bool {
        self.as_ref().is_none_or(T::fits)
    }
}

/// Converts one stored value back into a field, naming the column on failure.
pub fn field<T: ColumnValue>(table: &str, column: &str, v: Value) -> Result<T> {
    let mismatch = |value: Value| Error::TypeMismatch {
        table: table.to_owned(),
        column: column.to_owned(),
        expected: T::TYPE.name().to_owned(),
        value,
    };
    // Checked by reference first, so that the value need not be copied for the message.
    if !(T::TYPE.accepts(v.as_ref()) && (T::NULLABLE || !v.is_null())) {
        return Err(mismatch(v));
    }
    T::from_value(v).ok_or_else(|| mismatch(Value::Text("(unconvertible value)".into())))
}

/// Checks a field that the Rust type cannot bound (a `u64` above `i64::MAX`). Called for
/// every field of every row written, so the check inlines and the error path does not.
#[inline]
pub fn check_field<T: ColumnValue>(table: &str, column: &str, v: &T) -> Result<()> {
    if v.fits() {
        Ok(())
    } else {
        Err(out_of_range(table, column, v))
    }
}

#[cold]
#[inline(never)]
fn out_of_range<T: ColumnValue>(table: &str, column: &str, v: &T) -> Error {
    Error::TypeMismatch {
        table: table.to_owned(),
        column: column.to_owned(),
        expected: T::TYPE.name().to_owned(),
        value: Value::Text(format!("{} (above i64::MAX)", display_unsigned(v))),
    }
}

fn display_unsigned<T: ColumnValue>(v: &T) -> String {
    match v.value_ref() {
        ValueRef::Int(i) => (i as u64).to_string(),
        other => other.to_string(),
    }
}

/// Serializes a `json` field to its JSON text; refuses a value that would not read back as
/// it is (see [`json_fit`]).
pub fn json_to_value<T: serde::Serialize>(table: &str, column: &str, v: &T) -> Result<Value> {
    let error = |source| Error::Json {
        context: format!("column {table}.{column}"),
        source,
    };
    let refused = |why: String| error(<serde_json::Error as serde::ser::Error>::custom(why));
    let text = serde_json::to_string(v).map_err(error)?;
    if let Some(f) = json_fit::non_finite(v) {
        return Err(refused(format!(
            "the value holds {f}, which JSON cannot hold (it would be written as null, \
             which does not read back as {f}); store it as a string, or as None"
        )));
    }
    let depth = crate::json_text::nesting(text.as_bytes());
    if depth > json_fit::MOST_NESTED {
        return Err(refused(format!(
            "the value nests arrays and objects {depth} deep; a JSON document is read back \
             to {} deep",
            json_fit::MOST_NESTED
        )));
    }
    // On one line, as every json value is kept (a `RawValue` field serializes as written).
    Ok(Value::Text(crate::schema::one_line(text)))
}

/// Serializes a nullable `json` field: `None` is null.
pub fn json_opt_to_value<T: serde::Serialize>(
    table: &str,
    column: &str,
    v: &Option<T>,
) -> Result<Value> {
    // `Some` of a value that serializes as `null` is NULL, as a nullable json column keeps
    // the document `null` (see `Schema::coerce`): it reads back as `None`.
    match v {
        None => Ok(Value::Null),
        Some(v) => json_to_value(table, column, v).map(|t| match t {
            Value::Text(t) if t == "null" => Value::Null,
            t => t,
        }),
    }
}

/// Reads a `json` field back from its JSON text.
pub fn json_from_value<T: serde::de::DeserializeOwned>(
    table: &str,
    column: &str,
    v: Value,
) -> Result<T> {
    let Value::Text(text) = v else {
        return Err(Error::TypeMismatch {
            table: table.to_owned(),
            column: column.to_owned(),
            expected: "json".into(),
            value: v,
        });
    };
    serde_json::from_str(&text).map_err(|e| Error::Json {
        context: format!("column {table}.{column}"),
        source: e,
    })
}

/// Reads a nullable `json` field: null is `None`.
pub fn json_opt_from_value<T: serde::de::DeserializeOwned>(
    table: &str,
    column: &str,
    v: Value,
) -> Result<Option<T>> {
    match v {
        Value::Null => Ok(None),
        v => json_from_value(table, column, v).map(Some),
    }
}
