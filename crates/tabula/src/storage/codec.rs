//! Rows as JSON objects, driven by the schema: `{"id":1,"name":"Alice","gpa":3.8}`.
//!
//! `json` columns are embedded as JSON, not as a string holding JSON. Non-finite floats, which
//! JSON cannot write, are the strings `"NaN"`, `"inf"` and `"-inf"` in float columns.
//! Integers keep full precision; floats are written shortest-exact (ryu), so a value read back
//! is bit-for-bit the value written.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};

use crate::error::Result;
use crate::schema::{non_finite, ColumnType, Schema};
use crate::value::{non_finite_name, Value, ValueRef};

/// Column names written as JSON keys (`"name":`), escaped once per schema.
#[derive(Debug, Clone)]
pub(crate) struct RowCodec {
    keys: Vec<Vec<u8>>,
    /// No `json` column: every column can be written from its borrowed value.
    borrowable: bool,
}

impl RowCodec {
    pub(crate) fn new(schema: &Schema) -> Self {
        let keys = schema
            .columns
            .iter()
            .map(|c| {
                let mut k = serde_json::to_vec(&c.name).unwrap_or_default();
                k.push(b':');
                k
            })
            .collect();
        let borrowable = schema.columns.iter().all(|c| c.ty != ColumnType::Json);
        RowCodec { keys, borrowable }
    }

    /// Whether [`RowCodec::encode_borrowed`] can write rows of this schema: a `json` column
    /// has no borrowed form in a typed row, so such rows go through their values.
    #[cfg(test)]
    pub(crate) fn borrowable(&self) -> bool {
        self.borrowable
    }

    /// Appends a row as one JSON object from its borrowed columns (`col(i)` for column `i`),
    /// copying nothing. Only for schemas without `json` columns (see `borrowable`).
    #[inline]
    pub(crate) fn encode_borrowed<'r>(
        &self,
        col: impl Fn(usize) -> ValueRef<'r>,
        out: &mut Vec<u8>,
    ) {
        out.push(b'{');
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(k);
            encode_ref(col(i), out);
        }
        out.push(b'}');
    }

    /// Appends a row as one JSON object: from its borrowed columns (`col(i)` for column `i`)
    /// when the schema allows, copying nothing; otherwise from its values (a typed row has no
    /// borrowed form of a `json` column).
    #[inline]
    pub(crate) fn encode_row<'r>(
        &self,
        schema: &Schema,
        col: impl Fn(usize) -> ValueRef<'r>,
        values: impl FnOnce() -> Result<Vec<Value>>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        if self.borrowable {
            self.encode_borrowed(col, out);
        } else {
            self.encode(schema, &values()?, out);
        }
        Ok(())
    }

    /// Appends `values` (schema order) as one JSON object, without a newline.
    pub(crate) fn encode(&self, schema: &Schema, values: &[Value], out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            if let Some(k) = self.keys.get(i) {
                out.extend_from_slice(k);
            }
            let json = schema
                .columns
                .get(i)
                .is_some_and(|c| c.ty == ColumnType::Json);
            encode_value(v, json, out);
        }
        out.push(b'}');
    }
}

/// Writes rows of one schema as JSON objects into `out`, `between` before each row but the
/// first: the rows of a log record's table, of an export's table. The caller gives each
/// row's borrowed columns, and its values for a schema with a `json` column.
pub(crate) struct RowsWriter<'o> {
    schema: &'o Schema,
    codec: RowCodec,
    out: &'o mut Vec<u8>,
    between: &'static [u8],
    rows: usize,
}

impl<'o> RowsWriter<'o> {
    pub(crate) fn new(schema: &'o Schema, out: &'o mut Vec<u8>, between: &'static [u8]) -> Self {
        RowsWriter {
            schema,
            codec: RowCodec::new(schema),
            out,
            between,
            rows: 0,
        }
    }

    /// Appends one row: `col(i)` borrows column `i`; `values` gives every column's value
    /// (called only when a `json` column leaves no borrowed form).
    #[inline]
    pub(crate) fn row<'r>(
        &mut self,
        col: impl Fn(usize) -> ValueRef<'r>,
        values: impl FnOnce() -> Result<Vec<Value>>,
    ) -> Result<()> {
        if self.rows > 0 {
            self.out.extend_from_slice(self.between);
        }
        self.rows += 1;
        self.codec.encode_row(self.schema, col, values, self.out)
    }
}

/// Appends one value as JSON.
pub(crate) fn encode_value(v: &Value, json_column: bool, out: &mut Vec<u8>) {
    match v {
        // Every way into a json column makes its text one line (`Schema::coerce`,
        // `json_to_value`); a line break here would split the row's line of the log, so one
        // that got past them is written as the space it stands for.
        Value::Text(s) if json_column && s.contains(['\n', '\r']) => out.extend(
            s.bytes()
                .map(|b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
        ),
        Value::Text(s) if json_column => out.extend_from_slice(s.as_bytes()),
        v => encode_ref(v.as_ref(), out),
    }
}

/// Appends one value of a non-`json` column as JSON.
#[inline]
fn encode_ref(v: ValueRef<'_>, out: &mut Vec<u8>) {
    match v {
        ValueRef::Null => out.extend_from_slice(b"null"),
        ValueRef::Bool(true) => out.extend_from_slice(b"true"),
        ValueRef::Bool(false) => out.extend_from_slice(b"false"),
        ValueRef::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes()),
        ValueRef::Float(f) => match non_finite_name(f) {
            Some(name) => {
                out.push(b'"');
                out.extend_from_slice(name.as_bytes());
                out.push(b'"');
            }
            None => out.extend_from_slice(ryu::Buffer::new().format_finite(f).as_bytes()),
        },
        // Most text needs no escaping: copied as it is, between quotes.
        ValueRef::Text(s) if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) => {
            out.reserve(s.len() + 2);
            out.push(b'"');
            out.extend_from_slice(s.as_bytes());
            out.push(b'"');
        }
        ValueRef::Text(s) => {
            // Writing a str into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, s);
        }
    }
}

/// Converts a decoded JSON value for a column: float columns read the non-finite spellings,
/// everything is coerced losslessly to the column type.
fn column_value(schema: &Schema, col: usize, v: Value) -> std::result::Result<Value, String> {
    let v = if schema.columns[col].ty.is_float() {
        non_finite(v)
    } else {
        v
    };
    schema.coerce(col, v).map_err(|e| e.to_string())
}

/// Decodes one JSON object into values in schema order. Missing columns take their default
/// (or null); unknown keys and values that do not fit are errors.
pub(crate) fn decode_row(schema: &Schema, text: &str) -> std::result::Result<Vec<Value>, String> {
    // The rows tabula writes take the direct path; any other line goes through serde_json.
    if let Some(mut values) = super::plain_row::decode(schema, text) {
        for (i, v) in values.iter_mut().enumerate() {
            // Most values are already in their column's representation: nothing to convert.
            if v.is_null() || !schema.columns[i].ty.keeps(v.as_ref()) {
                *v = column_value(schema, i, std::mem::take(v))?;
            }
        }
        return Ok(values);
    }
    let slots = decode_row_serde(schema, text)?;
    let pk = schema.primary_key();
    slots
        .into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            Some(v) => column_value(schema, i, v),
            None => {
                let c = &schema.columns[i];
                match &c.default {
                    // As an insert takes it: a json default is kept as its column keeps it.
                    Some(d) => schema.coerce(i, d.clone()).map_err(|e| e.to_string()),
                    None if c.nullable => Ok(Value::Null),
                    None if i == pk => Err(format!("missing primary key {}", c.name)),
                    None => Err(format!("missing column {}", c.name)),
                }
            }
        })
        .collect()
}

/// A row's values by column, as `serde_json` reads them (`None`: the key was absent).
pub(crate) fn decode_row_serde(
    schema: &Schema,
    text: &str,
) -> std::result::Result<Vec<Option<Value>>, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let slots = RowSeed { schema }
        .deserialize(&mut de)
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(slots)
}

struct RowSeed<'a> {
    schema: &'a Schema,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = Vec<Option<Value>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = Vec<Option<Value>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a JSON object holding a row of table {}",
            self.schema.table
        )
    }
    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let columns = &self.schema.columns;
        let mut out = vec![None; columns.len()];
        let mut guess = 0;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            // Keys usually come in schema order (tabula writes them so): try the next one first.
            let found = match columns.get(guess) {
                Some(c) if c.name == *key => Some(guess),
                _ => self.schema.position(&key),
            };
            let Some(i) = found else {
                return Err(serde::de::Error::custom(format!(
                    "table {} has no column {key:?}",
                    self.schema.table
                )));
            };
            let v = if self.schema.columns[i].ty == ColumnType::Json {
                // The document's own text, as it was written: parsing it into a
                // `serde_json::Value` would sort its object keys and round integers
                // beyond 64 bits to floats.
                // `null` is NULL in a nullable column, and the document `null` in one that
                // is not (which can hold no NULL): see `Schema::coerce`.
                let raw: Box<serde_json::value::RawValue> = map.next_value()?;
                match raw.get() {
                    "null" if self.schema.columns[i].nullable => Value::Null,
                    text => Value::Text(text.to_owned()),
                }
            } else {
                // Read from the value's own text, so that no number is rounded.
                let raw: &serde_json::value::RawValue = map.next_value()?;
                Value::parse_json(raw.get()).map_err(serde::de::Error::custom)?
            };
            if out[i].replace(v).is_some() {
                return Err(serde::de::Error::custom(format!(
                    "column {key:?} appears twice"
                )));
            }
            guess = i + 1;
        }
        Ok(out)
    }
}

/// Decodes a key (the `delete` list of a log record) for a table.
pub(crate) fn decode_key(schema: &Schema, v: Value) -> Result<Value> {
    let pk = schema.primary_key();
    schema.coerce(pk, v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Column;

    fn schema() -> Schema {
        Schema::new(
            "t",
            vec![
                Column::new("id", ColumnType::U64).primary_key(),
                Column::new("name", ColumnType::Text),
                Column::new("gpa", ColumnType::F64).default_value(0.0),
                Column::new("doc", ColumnType::Json).nullable(),
                Column::new("ok", ColumnType::Bool).nullable(),
            ],
        )
        .unwrap()
    }

    /// Text is written exactly as serde_json writes it, escaped or not.
    #[test]
    fn text_is_written_as_serde_json_writes_it() {
        for t in [
            "",
            "plain",
            "é ü 漢 \u{7f}",
            "q\"",
            "b\\",
            "nl\n",
            "\u{0}\u{1f}",
            "end\t",
        ] {
            let mut out = Vec::new();
            encode_ref(ValueRef::Text(t), &mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(t).unwrap()
            );
        }
    }

    /// Rows written from borrowed columns are byte for byte the rows written from values.
    #[test]
    fn borrowed_encoding_matches_value_encoding() {
        assert!(
            !RowCodec::new(&schema()).borrowable(),
            "a json column needs values"
        );
        let s = Schema::new(
            "t",
            vec![
                Column::new("id", ColumnType::U64).primary_key(),
                Column::new("name", ColumnType::Text).nullable(),
                Column::new("gpa", ColumnType::F64),
                Column::new("ok", ColumnType::Bool),
            ],
        )
        .unwrap();
        let codec = RowCodec::new(&s);
        assert!(codec.borrowable());
        for (name, gpa) in [
            (Value::from("plain"), 3.8),
            (Value::from("quote \" back\\ nl\n tab\t \u{1} é"), f64::NAN),
            (Value::Null, f64::NEG_INFINITY),
            (Value::from(""), -0.0),
        ] {
            let values = vec![
                Value::Int(i64::MAX),
                name,
                Value::Float(gpa),
                Value::Bool(true),
            ];
            let (mut a, mut b) = (Vec::new(), Vec::new());
            codec.encode(&s, &values, &mut a);
            codec.encode_borrowed(|i| values[i].as_ref(), &mut b);
            assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());
        }
    }

    #[test]
    fn rows_round_trip_exactly() {
        let s = schema();
        let codec = RowCodec::new(&s);
        for gpa in [
            3.8,
            0.1 + 0.2,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            1e300,
        ] {
            let row = vec![
                Value::Int(7),
                Value::from("a \"quoted\"\nname ✓"),
                Value::Float(gpa),
                Value::from(r#"{"k":[1,2]}"#),
                Value::Null,
            ];
            let mut out = Vec::new();
            codec.encode(&s, &row, &mut out);
            let text = String::from_utf8(out).unwrap();
            assert!(!text.contains('\n'));
            let back = decode_row(&s, &text).unwrap();
            assert_eq!(back[0], row[0]);
            assert_eq!(back[1], row[1]);
            assert_eq!(back[2].as_f64().unwrap().to_bits(), gpa.to_bits(), "{text}");
            assert_eq!(back[3], row[3]);
        }
    }

    proptest::proptest! {
        #[test]
        fn every_float_round_trips_bit_for_bit(bits in proptest::prelude::any::<u64>()) {
            let s = schema();
            let f = f64::from_bits(bits);
            let row = vec![Value::Int(1), Value::from("x"), Value::Float(f), Value::Null, Value::Null];
            let mut out = Vec::new();
            RowCodec::new(&s).encode(&s, &row, &mut out);
            let back = decode_row(&s, std::str::from_utf8(&out).unwrap()).unwrap();
            let g = back[2].as_f64().unwrap();
            proptest::prop_assert!(g.to_bits() == f.to_bits() || (f.is_nan() && g.is_nan()), "{} -> {}", f, g);
        }
    }

    #[test]
    fn readable_and_defaulted() {
        let s = schema();
        let mut out = Vec::new();
        RowCodec::new(&s).encode(
            &s,
            &[
                Value::Int(1),
                Value::from("Al"),
                Value::Float(3.0),
                Value::Null,
                Value::Bool(true),
            ],
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"id":1,"name":"Al","gpa":3.0,"doc":null,"ok":true}"#
        );
        let row = decode_row(&s, r#"{"id":2,"name":"B"}"#).unwrap();
        assert_eq!(row[2], Value::Float(0.0));
        assert!(decode_row(&s, r#"{"id":2}"#)
            .unwrap_err()
            .contains("missing column name"));
        assert!(decode_row(&s, r#"{"id":2,"name":"B","x":1}"#)
            .unwrap_err()
            .contains("no column"));
        assert!(decode_row(&s, r#"{"id":-2,"name":"B"}"#)
            .unwrap_err()
            .contains("cannot hold -2"));
        assert!(decode_row(&s, r#"{"id":2,"name":"B"} x"#)
            .unwrap_err()
            .contains("trailing characters"));
    }
}
