//! `Value`, the dynamic cell type, and `ValueRef`, its borrowed twin used on hot paths.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// One cell of a row, as seen by the dynamic API, the schema and the file formats.
///
/// Values order totally, across kinds: `Null < Bool < Int/Float < Text`. Integers and
/// floats compare by numeric value; floats use [`f64::total_cmp`], so `-0.0 < 0.0`, and NaN
/// sorts after `+inf` (a NaN with its sign bit set sorts before `-inf`).
///
/// ```
/// use tabula::Value;
/// assert_eq!(Value::from(3), Value::Int(3));
/// assert!(Value::Null < Value::from(false));
/// assert!(Value::from(2) < Value::from(2.5));
/// assert_eq!(Value::from("a").to_string(), "\"a\"");
/// ```
#[derive(Debug, Clone, Default)]
pub enum Value {
    /// The absence of a value; only nullable (`Option`) columns hold it.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// Any integer column, whatever its width.
    Int(i64),
    /// An `f32` or `f64` column.
    Float(f64),
    /// A text column; `json` columns hold their JSON text here.
    Text(String),
}

/// A borrowed [`Value`]: what column accessors return, so scans and index maintenance copy
/// nothing.
#[derive(Debug, Clone, Copy)]
pub enum ValueRef<'a> {
    /// See [`Value::Null`].
    Null,
    /// See [`Value::Bool`].
    Bool(bool),
    /// See [`Value::Int`].
    Int(i64),
    /// See [`Value::Float`].
    Float(f64),
    /// See [`Value::Text`].
    Text(&'a str),
}

impl Value {
    /// Reads one JSON value exactly, as a column value: `null`, `true`/`false`, a number, a
    /// string; an array or object becomes its JSON text (a `json` column's value). An
    /// integer is an `Int` when `i64` holds it and a `Float` when a float holds it exactly;
    /// any other integer is refused, never rounded (`serde_json` alone would round a
    /// negative one beyond `i64` to the nearest float).
    ///
    /// ```
    /// use tabula::Value;
    /// assert_eq!(Value::parse_json("-7")?, Value::Int(-7));
    /// assert_eq!(Value::parse_json("9223372036854775808")?, Value::Float(9223372036854775808.0));
    /// assert!(Value::parse_json("-9223372036854775809").is_err());
    /// assert_eq!(Value::parse_json(r#"{"a": 1}"#)?, Value::from(r#"{"a":1}"#));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn parse_json(text: &str) -> Result<Value, serde_json::Error> {
        // JSON's white space only: a no-break space before a number makes no JSON.
        let t = text.trim_matches([' ', '\t', '\n', '\r']);
        // A JSON integer: no leading zero but in `0` itself (`-0` is the float -0.0, as
        // serde_json reads it; other forms are left to serde_json, which refuses them).
        let integer = {
            let digits = t.strip_prefix('-').unwrap_or(t);
            !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
                && (digits.len() == 1 || !digits.starts_with('0'))
                && t != "-0"
        };
        if integer {
            if let Ok(i) = t.parse::<i64>() {
                return Ok(Value::Int(i));
            }
            // Exact when the float, written out in full, gives back the same digits.
            let exact = t.parse::<f64>().ok().filter(|f| format!("{f:.0}") == t);
            return exact.map(Value::Float).ok_or_else(|| {
                <serde_json::Error as serde::de::Error>::custom(format!(
                    "the integer {t} is beyond i64, and a float cannot hold it exactly"
                ))
            });
        }
        match serde_json::from_str::<serde_json::Value>(t)? {
            v @ (serde_json::Value::Array(_) | serde_json::Value::Object(_)) => {
                Ok(Value::Text(v.to_string()))
            }
            v => serde_json::from_value(v),
        }
    }

    /// Borrows this value.
    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Null => ValueRef::Null,
            Value::Bool(b) => ValueRef::Bool(*b),
            Value::Int(i) => ValueRef::Int(*i),
            Value::Float(f) => ValueRef::Float(*f),
            Value::Text(s) => ValueRef::Text(s),
        }
    }

    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The integer, if this is an `Int`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The number as a float, if this is an `Int` or a `Float`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The text, if this is a `Text`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if this is a `Bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The name of this value's kind, for messages.
    pub fn kind(&self) -> &'static str {
        self.as_ref().kind()
    }
}

impl<'a> ValueRef<'a> {
    /// Copies this into an owned [`Value`].
    pub fn to_owned(self) -> Value {
        match self {
            ValueRef::Null => Value::Null,
            ValueRef::Bool(b) => Value::Bool(b),
            ValueRef::Int(i) => Value::Int(i),
            ValueRef::Float(f) => Value::Float(f),
            ValueRef::Text(s) => Value::Text(s.to_owned()),
        }
    }

    /// Stores this in `slot`, reusing the text buffer `slot` already holds when both are
    /// text (a row refilled over and over allocates nothing once its texts fit).
    pub(crate) fn store_in(self, slot: &mut Value) {
        match (self, slot) {
            (ValueRef::Text(s), Value::Text(t)) => {
                t.clear();
                t.push_str(s);
            }
            (v, slot) => *slot = v.to_owned(),
        }
    }

    /// True for [`ValueRef::Null`].
    pub fn is_null(self) -> bool {
        matches!(self, ValueRef::Null)
    }

    /// The name of this value's kind, for messages.
    pub fn kind(self) -> &'static str {
        match self {
            ValueRef::Null => "null",
            ValueRef::Bool(_) => "bool",
            ValueRef::Int(_) => "int",
            ValueRef::Float(_) => "float",
            ValueRef::Text(_) => "text",
        }
    }

    fn rank(self) -> u8 {
        match self {
            ValueRef::Null => 0,
            ValueRef::Bool(_) => 1,
            ValueRef::Int(_) | ValueRef::Float(_) => 2,
            ValueRef::Text(_) => 3,
        }
    }

    /// The total order described on [`Value`].
    #[inline]
    pub fn total_cmp(self, other: ValueRef<'_>) -> Ordering {
        match (self, other) {
            (ValueRef::Int(a), ValueRef::Int(b)) => a.cmp(&b),
            (ValueRef::Float(a), ValueRef::Float(b)) => one_nan(a).total_cmp(&one_nan(b)),
            (ValueRef::Int(a), ValueRef::Float(b)) => cmp_int_float(a, one_nan(b)),
            (ValueRef::Float(a), ValueRef::Int(b)) => cmp_int_float(b, one_nan(a)).reverse(),
            (ValueRef::Text(a), ValueRef::Text(b)) => a.cmp(b),
            (ValueRef::Bool(a), ValueRef::Bool(b)) => a.cmp(&b),
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }

    /// Feeds this value to a hasher consistently with [`ValueRef::total_cmp`] equality for
    /// values of one column type (an integral float hashes like the integer).
    #[inline]
    pub fn hash_into<H: Hasher>(self, state: &mut H) {
        match self {
            ValueRef::Null => state.write_u8(0),
            ValueRef::Bool(b) => {
                state.write_u8(1);
                state.write_u8(b as u8);
            }
            ValueRef::Int(i) => {
                state.write_u8(2);
                state.write_i64(i);
            }
            ValueRef::Float(f) => {
                if f.fract() == 0.0
                    && f >= -(2f64.powi(63))
                    && f < 2f64.powi(63)
                    && !(f == 0.0 && f.is_sign_negative())
                {
                    state.write_u8(2);
                    state.write_i64(f as i64);
                } else {
                    state.write_u8(3);
                    state.write_u64(one_nan(f).to_bits());
                }
            }
            ValueRef::Text(s) => hash_text_into(s, state),
        }
    }
}

/// `f` as an `i64` when it is one without loss: integral and inside `i64`'s range (both
/// zeros are 0). The range is checked in floats against -2^63 and 2^63, which floats hold
/// exactly (`i64::MAX as f64` rounds up to 2^63, so a check against it would let 2^63
/// through and saturate it to `i64::MAX`).
#[inline]
pub(crate) fn whole_i64(f: f64) -> Option<i64> {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    (f.fract() == 0.0 && (-TWO_63..TWO_63).contains(&f)).then_some(f as i64)
}

/// How tabula's files spell a float JSON cannot write (in rows, and in a schema file's
/// defaults): `"NaN"`, `"inf"`, `"-inf"`; `None` for a finite float.
#[inline]
pub(crate) fn non_finite_name(f: f64) -> Option<&'static str> {
    if f.is_nan() {
        Some("NaN")
    } else if f.is_infinite() {
        Some(if f > 0.0 { "inf" } else { "-inf" })
    } else {
        None
    }
}

/// The float a spelling of [`non_finite_name`] stands for.
pub(crate) fn non_finite_named(name: &str) -> Option<f64> {
    match name {
        "NaN" => Some(f64::NAN),
        "inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// What [`ValueRef::hash_into`] feeds a hasher for text; index probes by text call it
/// directly.
#[inline(always)]
pub(crate) fn hash_text_into<H: Hasher>(s: &str, state: &mut H) {
    state.write_u8(4);
    state.write(s.as_bytes());
    state.write_u8(0xff);
}

/// `f`, or the one NaN (`f64::NAN`) if it is any NaN. The files write every NaN alike
/// (`NaN`, its sign and payload not kept), so in memory too a NaN is one value, after
/// `+inf`: two rows whose NaNs differ in bits must not be two values of a unique column
/// until a reopen makes them one, nor sort first (a NaN with its sign bit set, which
/// `0.0 / 0.0` gives on x86) until a reopen sorts them last. Every comparison, hash and
/// mirrored number of a float goes through it.
#[inline]
pub(crate) fn one_nan(f: f64) -> f64 {
    if f.is_nan() {
        f64::NAN
    } else {
        f
    }
}

/// Compares an integer with a float exactly (no rounding of large integers); the callers
/// give every NaN as `one_nan`'s, which is above every integer.
fn cmp_int_float(i: i64, f: f64) -> Ordering {
    if f.is_nan() {
        return Ordering::Less;
    }
    if f >= 9.223_372_036_854_776e18 {
        return Ordering::Less;
    }
    if f < -9.223_372_036_854_776e18 {
        return Ordering::Greater;
    }
    let t = f.trunc();
    match i.cmp(&(t as i64)) {
        Ordering::Equal => {
            let frac = f - t;
            if frac > 0.0 {
                Ordering::Less
            } else if frac < 0.0 {
                Ordering::Greater
            } else if f == 0.0 && f.is_sign_negative() {
                // total_cmp puts -0.0 below 0.0; the integer 0 stands for +0.0.
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        }
        o => o,
    }
}

impl PartialEq for Value {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Value {}
impl PartialOrd for Value {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Value {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_ref().total_cmp(other.as_ref())
    }
}
impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_ref().hash_into(state)
    }
}
impl PartialEq for ValueRef<'_> {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        // Same-kind text and integers (what index probes compare) need no ordering.
        match (self, other) {
            (ValueRef::Text(a), ValueRef::Text(b)) => a == b,
            (ValueRef::Int(a), ValueRef::Int(b)) => a == b,
            _ => self.total_cmp(*other) == Ordering::Equal,
        }
    }
}

impl fmt::Display for Value {
    /// Values print as JSON literals: `null`, `true`, `42`, `3.5`, `"text"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.as_ref(), f)
    }
}
impl fmt::Display for ValueRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueRef::Null => f.write_str("null"),
            ValueRef::Bool(b) => write!(f, "{b}"),
            ValueRef::Int(i) => write!(f, "{i}"),
            ValueRef::Float(x) => write!(f, "{x:?}"),
            ValueRef::Text(s) => write!(f, "{s:?}"),
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self { Value::Int(i64::from(v)) }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32);

impl From<u64> for Value {
    /// A `u64` above `i64::MAX` cannot be stored; it becomes a `Float` so that the column
    /// check refuses it with a message showing the number rather than a wrapped one.
    fn from(v: u64) -> Self {
        match i64::try_from(v) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(v as f64),
        }
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::from(v as u64)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::Float(f64::from(v))
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}
impl From<&Value> for Value {
    fn from(v: &Value) -> Self {
        v.clone()
    }
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Text(t) => s.serialize_str(t),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("null, a boolean, a number or a string")
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_none<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
                Ok(Value::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
                Ok(Value::Int(v))
            }
            /// An integer above `i64::MAX` is read as a float only when a float holds it
            /// exactly; otherwise it is refused, never rounded.
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
                if let Ok(i) = i64::try_from(v) {
                    return Ok(Value::Int(i));
                }
                let f = v as f64;
                if f < 18_446_744_073_709_551_616.0 && f as u64 == v {
                    Ok(Value::Float(f))
                } else {
                    Err(E::custom(format!(
                        "the integer {v} is above i64::MAX, and a float cannot hold it exactly"
                    )))
                }
            }
            fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
                Ok(Value::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Value, E> {
                Ok(Value::Text(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Value, E> {
                Ok(Value::Text(v))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// JSON's own white space around a value only: a no-break space makes no JSON.
    #[test]
    fn parse_json_skips_json_white_space_only() {
        assert_eq!(Value::parse_json(" \t5\r\n").unwrap(), Value::Int(5));
        assert!(Value::parse_json("\u{a0}5").is_err());
    }

    #[test]
    fn ints_and_floats_compare_numerically() {
        assert_eq!(Value::Int(3), Value::Float(3.0));
        assert!(Value::Int(3) < Value::Float(3.5));
        assert!(Value::Float(-0.5) < Value::Int(0));
        assert!(Value::Int(i64::MAX) < Value::Float(1e19));
        assert!(Value::Float(f64::NAN) > Value::Float(f64::INFINITY));
        assert!(Value::Float(f64::NAN) > Value::Int(i64::MAX));
    }

    #[test]
    fn kinds_order_null_bool_number_text() {
        let mut v = vec![
            Value::from("a"),
            Value::Int(1),
            Value::Bool(true),
            Value::Null,
        ];
        v.sort();
        assert_eq!(
            v,
            vec![
                Value::Null,
                Value::Bool(true),
                Value::Int(1),
                Value::from("a")
            ]
        );
    }

    #[test]
    fn equal_values_hash_alike() {
        use std::hash::BuildHasher;
        let s = std::collections::hash_map::RandomState::new();
        assert_eq!(s.hash_one(Value::Int(7)), s.hash_one(Value::Float(7.0)));
        assert_ne!(s.hash_one(Value::from("ab")), s.hash_one(Value::from("a")));
    }

    #[test]
    fn json_round_trip_keeps_kinds() {
        let v: Vec<Value> = serde_json::from_str(r#"[null, true, 3, 3.0, "x"]"#).unwrap();
        assert!(matches!(v[2], Value::Int(3)));
        assert!(matches!(v[3], Value::Float(_)));
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"[null,true,3,3.0,"x"]"#
        );
    }
}
