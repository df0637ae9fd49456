//! Whether a value a `json` field serializes can be read back as it was (its nesting is
//! measured on its text, by [`crate::json_text::nesting`]).
//!
//! serde_json writes a NaN or an infinite float as `null`, which reads back as `null` (an
//! error for an `f64`, `None` for an `Option<f64>`), and it refuses to read a document nested
//! deeper than 127 arrays or objects, though it writes one: either would store a row that
//! its table cannot load again. Such a value is refused when the row is written.

use serde::ser::{self, Serialize};

/// How deep serde_json reads arrays and objects: its recursion limit (128) less one.
pub(super) const MOST_NESTED: usize = 127;

/// The first float of `v` that JSON cannot write (NaN, an infinity), if it holds one. (A
/// value whose own `Serialize` fails is left to serde_json's serializer to report.)
pub(super) fn non_finite<T: Serialize + ?Sized>(v: &T) -> Option<f64> {
    match v.serialize(Finite) {
        Err(Stop::NonFinite(f)) => Some(f),
        Ok(()) | Err(Stop::Failed) => None,
    }
}

/// What stopped [`Finite`]: a float that is not finite, or the value's own `Serialize`.
#[derive(Debug)]
enum Stop {
    NonFinite(f64),
    Failed,
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::NonFinite(v) => write!(f, "{v} is not a JSON number"),
            Stop::Failed => f.write_str("the value failed to serialize"),
        }
    }
}

impl std::error::Error for Stop {}

impl ser::Error for Stop {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Stop::Failed
    }
}

/// A serializer that writes nothing and stops at the first float that is not finite.
struct Finite;

type Done = Result<(), Stop>;

macro_rules! pass {
    ($($f:ident($t:ty)),* $(,)?) => {
        $(fn $f(self, _: $t) -> Done { Ok(()) })*
    };
}

impl ser::Serializer for Finite {
    type Ok = ();
    type Error = Stop;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    pass!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
    );

    fn serialize_f32(self, v: f32) -> Done {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Done {
        if v.is_finite() {
            Ok(())
        } else {
            Err(Stop::NonFinite(v))
        }
    }
    fn serialize_none(self) -> Done {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Done {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Done {
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Done {
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> Done {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        v: &T,
    ) -> Done {
        v.serialize(self)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self, Stop> {
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self, Stop> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, Stop> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, Stop> {
        Ok(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self, Stop> {
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Stop> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, Stop> {
        Ok(self)
    }
}

/// The compound serializers whose parts are values alone: each part is checked in turn.
macro_rules! parts {
    ($($compound:ident :: $part:ident),* $(,)?) => {$(
        impl ser::$compound for Finite {
            type Ok = ();
            type Error = Stop;
            fn $part<T: Serialize + ?Sized>(&mut self, v: &T) -> Done {
                v.serialize(Finite)
            }
            fn end(self) -> Done {
                Ok(())
            }
        }
    )*};
}

parts!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

impl ser::SerializeMap for Finite {
    type Ok = ();
    type Error = Stop;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Done {
        k.serialize(Finite)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Done {
        v.serialize(Finite)
    }
    fn end(self) -> Done {
        Ok(())
    }
}

/// The compound serializers of named fields: each field's value is checked in turn.
macro_rules! fields {
    ($($compound:ident),* $(,)?) => {$(
        impl ser::$compound for Finite {
            type Ok = ();
            type Error = Stop;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, _: &'static str, v: &T) -> Done {
                v.serialize(Finite)
            }
            fn end(self) -> Done {
                Ok(())
            }
        }
    )*};
}

fields!(SerializeStruct, SerializeStructVariant);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The floats JSON cannot write are found wherever they sit; finite ones pass.
    #[test]
    fn non_finite_floats_are_found_at_any_depth() {
        assert_eq!(non_finite(&vec![1.0, 2.5]), None);
        assert!(non_finite(&vec![1.0, f64::NAN]).is_some_and(f64::is_nan));
        assert_eq!(non_finite(&Some(f64::INFINITY)), Some(f64::INFINITY));
        assert_eq!(
            non_finite(&(1u8, Some(vec![f32::NEG_INFINITY]))),
            Some(f64::NEG_INFINITY)
        );
        let mut m = BTreeMap::new();
        m.insert("a".to_owned(), vec![Some(0.5), None]);
        assert_eq!(non_finite(&m), None);
        m.insert("b".to_owned(), vec![Some(f64::NAN)]);
        assert!(non_finite(&m).is_some());
        assert_eq!(
            non_finite(&serde_json::json!({"x": [1, "two", null, 3.5]})),
            None
        );
    }

    /// The scanner's depth is the one serde_json counts: its limit falls between
    /// [`MOST_NESTED`] and one more, for arrays, objects and brackets inside strings.
    #[test]
    fn nesting_agrees_with_what_serde_json_reads() {
        for d in [MOST_NESTED, MOST_NESTED + 1] {
            let arrays = "[".repeat(d) + &"]".repeat(d);
            let objects = "{\"a\":".repeat(d) + "1" + &"}".repeat(d);
            let quoted = format!("[\"[[{{\\\"]]\",{arrays}]");
            for (text, depth) in [(&arrays, d), (&objects, d), (&quoted, d + 1)] {
                assert_eq!(crate::json_text::nesting(text.as_bytes()), depth, "{text}");
                let reads = serde_json::from_str::<serde_json::Value>(text).is_ok();
                assert_eq!(reads, depth <= MOST_NESTED, "depth {depth}");
            }
        }
    }
}
