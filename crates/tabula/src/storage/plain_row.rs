//! A fast path for decoding the rows tabula writes itself.
//!
//! tabula writes a row as a JSON object with its columns in schema order, no whitespace,
//! integers as plain digits and floats in shortest form (see `codec`). A line of exactly that
//! shape is read here by a direct scan, with no generic deserializer in between: loading a
//! snapshot spent most of its time in `serde_json`'s map machinery. Anything else (keys in
//! another order or missing, whitespace, escapes in strings, `json` columns, numbers out of
//! range, `-0`) returns `None`, and the caller decodes the line with `serde_json` as before,
//! so both paths accept exactly the same lines and give the same values (tested below).

use crate::schema::{ColumnType, Schema};
use crate::value::Value;

/// The row's values in schema order, if `text` is a plain row of `schema`.
pub(crate) fn decode(schema: &Schema, text: &str) -> Option<Vec<Value>> {
    let mut s = Scanner {
        text,
        b: text.as_bytes(),
        p: 0,
    };
    let mut out = Vec::with_capacity(schema.columns.len());
    s.eat(b'{')?;
    for (i, c) in schema.columns.iter().enumerate() {
        if i > 0 {
            s.eat(b',')?;
        }
        if c.ty == ColumnType::Json || s.string()? != c.name {
            return None;
        }
        s.eat(b':')?;
        out.push(s.value()?);
    }
    s.eat(b'}')?;
    (s.p == s.b.len()).then_some(out)
}

struct Scanner<'t> {
    text: &'t str,
    b: &'t [u8],
    p: usize,
}

impl<'t> Scanner<'t> {
    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.b.get(self.p) == Some(&c)).then(|| self.p += 1)
    }

    /// A string without escapes or control characters (which JSON forbids unescaped).
    #[inline]
    fn string(&mut self) -> Option<&'t str> {
        self.eat(b'"')?;
        let start = self.p;
        loop {
            match *self.b.get(self.p)? {
                b'"' => break,
                b'\\' | 0..=0x1f => return None,
                _ => self.p += 1,
            }
        }
        let s = self.text.get(start..self.p)?;
        self.p += 1;
        Some(s)
    }

    fn literal(&mut self, word: &[u8], v: Value) -> Option<Value> {
        let end = self.p + word.len();
        (self.b.get(self.p..end) == Some(word)).then(|| {
            self.p = end;
            v
        })
    }

    #[inline]
    fn value(&mut self) -> Option<Value> {
        match *self.b.get(self.p)? {
            b'"' => self.string().map(|s| Value::Text(s.to_owned())),
            b'n' => self.literal(b"null", Value::Null),
            b't' => self.literal(b"true", Value::Bool(true)),
            b'f' => self.literal(b"false", Value::Bool(false)),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.p;
        while self.b.get(self.p).is_some_and(u8::is_ascii_digit) {
            self.p += 1;
        }
        self.p - start
    }

    /// A JSON number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Option<Value> {
        let start = self.p;
        let negative = self.eat(b'-').is_some();
        let int_start = self.p;
        let n = self.digits();
        if n == 0 || (n > 1 && self.b[int_start] == b'0') {
            return None;
        }
        let mut float = false;
        if self.eat(b'.').is_some() {
            float = true;
            if self.digits() == 0 {
                return None;
            }
        }
        if matches!(self.b.get(self.p), Some(b'e' | b'E')) {
            float = true;
            self.p += 1;
            if matches!(self.b.get(self.p), Some(b'+' | b'-')) {
                self.p += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        let num = &self.text[start..self.p];
        if float {
            // Rust's parse rounds correctly, as serde_json does with `float_roundtrip`; a
            // number too large for f64 is an error there, so it goes that way.
            return num
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Value::Float);
        }
        // serde_json reads `-0` as the float -0.0, and integers beyond i64 as u64 or f64.
        if negative && n == 1 && self.b[int_start] == b'0' {
            return None;
        }
        num.parse::<i64>().ok().map(Value::Int)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::schema::Column;
    use crate::storage::codec::{decode_row_serde, RowCodec};

    fn schema() -> Schema {
        Schema::new(
            "t",
            vec![
                Column::new("id", ColumnType::I64).primary_key(),
                Column::new("name", ColumnType::Text).nullable(),
                Column::new("gpa", ColumnType::F64).nullable(),
                Column::new("ok", ColumnType::Bool).nullable(),
            ],
        )
        .unwrap()
    }

    #[test]
    fn reads_plain_rows_and_declines_the_rest() {
        let s = schema();
        let row = decode(&s, r#"{"id":-12,"name":"Ann é","gpa":3.5e-3,"ok":false}"#).unwrap();
        assert_eq!(
            row,
            vec![
                Value::Int(-12),
                Value::from("Ann é"),
                Value::Float(0.0035),
                Value::Bool(false)
            ]
        );
        for declined in [
            r#"{"id":1,"name":"a\"b","gpa":1.0,"ok":true}"#,
            r#"{"name":"a","id":1,"gpa":1.0,"ok":true}"#,
            r#"{"id":1, "name":"a","gpa":1.0,"ok":true}"#,
            r#"{"id":1,"name":"a","gpa":1.0}"#,
            r#"{"id":1,"name":"a","gpa":1.0,"ok":true,"x":1}"#,
            r#"{"id":-0,"name":null,"gpa":null,"ok":null}"#,
            r#"{"id":01,"name":null,"gpa":null,"ok":null}"#,
            r#"{"id":9223372036854775808,"name":null,"gpa":null,"ok":null}"#,
            r#"{"id":1,"name":null,"gpa":1e999,"ok":null}"#,
            r#"{"id":1,"name":null,"gpa":1.,"ok":null}"#,
            r#"{"id":1,"name":null,"gpa":null,"ok":nul}"#,
            r#"{"id":1,"name":null,"gpa":null,"ok":null}x"#,
        ] {
            assert_eq!(decode(&s, declined), None, "{declined}");
        }
    }

    fn token() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i64>().prop_map(|i| i.to_string()),
            any::<f64>().prop_map(|f| format!("{f:?}")),
            any::<f64>().prop_map(|f| format!("{f:e}")),
            any::<u64>().prop_map(|u| u.to_string()),
            "[-+.eE0-9]{1,6}",
            "[a-z é\\\\\"\\n]{0,6}".prop_map(|s| format!("\"{s}\"")),
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("fals".to_owned()),
            Just("\"NaN\"".to_owned()),
        ]
    }

    proptest! {
        /// Whatever the fast path accepts, serde_json accepts with the same values; and
        /// every row tabula writes is accepted by the fast path.
        #[test]
        fn agrees_with_serde(
            id in token(), name in token(), gpa in token(), ok in token(),
            sep in prop_oneof![Just(","), Just(", ")],
        ) {
            let s = schema();
            let text = format!(r#"{{"id":{id}{sep}"name":{name},"gpa":{gpa},"ok":{ok}}}"#);
            if let Some(fast) = decode(&s, &text) {
                let fast: Vec<Option<Value>> = fast.into_iter().map(Some).collect();
                prop_assert_eq!(Ok(fast), decode_row_serde(&s, &text), "{}", text);
            }
        }

        #[test]
        fn reads_every_row_tabula_writes(
            id in any::<i64>(), name in proptest::option::of("\\PC{0,8}"),
            gpa in proptest::option::of(any::<f64>()), ok in proptest::option::of(any::<bool>()),
        ) {
            let s = schema();
            let values = vec![
                Value::Int(id),
                name.clone().map_or(Value::Null, Value::Text),
                gpa.map_or(Value::Null, Value::Float),
                ok.map_or(Value::Null, Value::Bool),
            ];
            let mut out = Vec::new();
            RowCodec::new(&s).encode(&s, &values, &mut out);
            let text = String::from_utf8(out).unwrap();
            // Non-finite floats are written as strings, which read as they are.
            let plain = name
                .as_deref()
                .is_none_or(|n| !n.chars().any(|c| c == '"' || c == '\\' || c < ' '));
            let fast = decode(&s, &text);
            prop_assert_eq!(fast.is_some(), plain, "{}", text);
            if let Some(fast) = fast {
                let fast: Vec<Option<Value>> = fast.into_iter().map(Some).collect();
                prop_assert_eq!(Ok(fast), decode_row_serde(&s, &text), "{}", text);
            }
        }
    }
}
