//! Lookup keys: what `get`, `get_by` and `delete_key` accept. A key is borrowed where the
//! caller's value allows it, so looking a row up by `&str` copies nothing.

use crate::value::{Value, ValueRef};

/// A key to look a row up by, made by [`IntoLookup`]. It borrows the caller's value where it
/// can.
#[derive(Debug, Clone)]
pub struct Lookup<'a>(Inner<'a>);

#[derive(Debug, Clone)]
enum Inner<'a> {
    Borrowed(ValueRef<'a>),
    Owned(Value),
}

impl<'a> Lookup<'a> {
    pub(crate) fn borrowed(v: ValueRef<'a>) -> Self {
        Lookup(Inner::Borrowed(v))
    }

    pub(crate) fn owned(v: Value) -> Self {
        Lookup(Inner::Owned(v))
    }

    /// The key as a borrowed value.
    #[inline]
    pub fn as_ref(&self) -> ValueRef<'_> {
        match &self.0 {
            Inner::Borrowed(v) => *v,
            Inner::Owned(v) => v.as_ref(),
        }
    }

    /// The key as an owned value (a copy if it was borrowed).
    pub fn into_value(self) -> Value {
        match self.0 {
            Inner::Borrowed(v) => v.to_owned(),
            Inner::Owned(v) => v,
        }
    }
}

/// What a key or unique value can be given as in a lookup: every type that converts into a
/// [`Value`] (integers, floats, `bool`, `&str`, `String`, `&String`, `Value`, `&Value`,
/// `ValueRef` and `Option`s of these). Borrowed text stays borrowed.
///
/// ```
/// use tabula::{IntoLookup, Value, ValueRef};
/// assert!(matches!("ab".into_lookup().as_ref(), ValueRef::Text("ab")));
/// assert_eq!(7u8.into_lookup().into_value(), Value::Int(7));
/// assert!(None::<i64>.into_lookup().as_ref().is_null());
/// ```
pub trait IntoLookup<'a> {
    /// The key, borrowing `self` where it can.
    fn into_lookup(self) -> Lookup<'a>;
}

macro_rules! int_lookup {
    ($($t:ty),*) => {$(
        impl<'a> IntoLookup<'a> for $t {
            #[inline]
            fn into_lookup(self) -> Lookup<'a> {
                Lookup::borrowed(ValueRef::Int(i64::from(self)))
            }
        }
    )*};
}
int_lookup!(i8, i16, i32, i64, u8, u16, u32);

impl<'a> IntoLookup<'a> for u64 {
    #[inline]
    fn into_lookup(self) -> Lookup<'a> {
        // Above i64::MAX: the same refusable float as `Value::from(u64)`.
        match i64::try_from(self) {
            Ok(i) => Lookup::borrowed(ValueRef::Int(i)),
            Err(_) => Lookup::borrowed(ValueRef::Float(self as f64)),
        }
    }
}

impl<'a> IntoLookup<'a> for usize {
    #[inline]
    fn into_lookup(self) -> Lookup<'a> {
        (self as u64).into_lookup()
    }
}

impl<'a> IntoLookup<'a> for f64 {
    #[inline]
    fn into_lookup(self) -> Lookup<'a> {
        Lookup::borrowed(ValueRef::Float(self))
    }
}

impl<'a> IntoLookup<'a> for f32 {
    #[inline]
    fn into_lookup(self) -> Lookup<'a> {
        Lookup::borrowed(ValueRef::Float(f64::from(self)))
    }
}

impl<'a> IntoLookup<'a> for bool {
    #[inline]
    fn into_lookup(self) -> Lookup<'a> {
        Lookup::borrowed(ValueRef::Bool(self))
    }
}

impl<'a> IntoLookup<'a> for &'a str {
    #[inline]
    fn into_lookup(self) -> Lookup<'a> {
        Lookup::borrowed(ValueRef::Text(self))
    }
}

impl<'a> IntoLookup<'a> for &'a String {
    #[inline]
    fn into_lookup(self) -> Lookup<'a> {
        Lookup::borrowed(ValueRef::Text(self))
    }
}

impl<'a> IntoLookup<'a> for String {
    #[inline]
    fn into_lookup(self) -> Lookup<'a> {
        Lookup::owned(Value::Text(self))
    }
}

impl<'a> IntoLookup<'a> for Value {
    #[inline]
    fn into_lookup(self) -> Lookup<'a> {
        Lookup::owned(self)
    }
}

impl<'a> IntoLookup<'a> for &'a Value {
    #[inline]
    fn into_lookup(self) -> Lookup<'a> {
        Lookup::borrowed(self.as_ref())
    }
}

impl<'a> IntoLookup<'a> for ValueRef<'a> {
    #[inline]
    fn into_lookup(self) -> Lookup<'a> {
        Lookup::borrowed(self)
    }
}

impl<'a, T: IntoLookup<'a>> IntoLookup<'a> for Option<T> {
    #[inline]
    fn into_lookup(self) -> Lookup<'a> {
        match self {
            Some(v) => v.into_lookup(),
            None => Lookup::borrowed(ValueRef::Null),
        }
    }
}

impl<'a> IntoLookup<'a> for Lookup<'a> {
    #[inline]
    fn into_lookup(self) -> Lookup<'a> {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every lookup type gives the value its `Value` conversion gives.
    #[test]
    fn lookups_agree_with_value_conversions() {
        fn same<'a, T: IntoLookup<'a> + Into<Value> + Clone>(v: T) {
            let via_value: Value = v.clone().into();
            assert_eq!(v.into_lookup().into_value(), via_value);
        }
        same(-3i8);
        same(u32::MAX);
        same(u64::MAX);
        same(i64::MIN);
        same(7usize);
        same(1.5f32);
        same(f64::NAN);
        same(true);
        same("text");
        same(String::from("owned"));
        let s = String::from("by ref");
        same(&s);
        same(Value::Int(4));
        let v = Value::from("v");
        same(&v);
        same(Some(5u16));
        same(None::<&str>);
    }
}
