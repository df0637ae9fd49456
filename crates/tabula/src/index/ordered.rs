//! The ordered index of one column: each value with the set of slots holding it, so equal
//! values come out in slot order and ranges are a B-tree walk.
//!
//! Keys are stored in the column's own type ([`IndexKey`]: `i64`, a totally ordered float,
//! text or `bool`), so comparisons are plain integer, float, string or bool comparisons.
//! [`Keys`] is the one implementation over any key type; [`OrderedIndex`] reaches it through
//! the object-safe [`KeyMap`], chosen once from the column's type.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Bound;

use crate::index::posting::{Handle, Postings};
use crate::schema::ColumnType;
use crate::value::{Value, ValueRef};

/// A walk over index entries: each value with one slot holding it.
pub(crate) type Walk<'a> = Box<dyn DoubleEndedIterator<Item = (ValueRef<'a>, u32)> + 'a>;

/// A column value as an ordered index stores it.
trait IndexKey: Ord + Clone + fmt::Debug + Send + Sync + 'static + Borrow<Self::Probe> {
    /// What a lookup borrows from a value: `str` for text, the key itself otherwise.
    type Probe: Ord + ?Sized;
    /// Runs `f` on the probe for `v`; `None` if `v` is not of this key's kind.
    fn with_probe<O>(v: ValueRef<'_>, f: impl FnOnce(&Self::Probe) -> O) -> Option<O>;
    /// The key to store for a probe (text is copied only for a value new to the index).
    fn own(p: &Self::Probe) -> Self;
    /// The key as a value.
    fn value(&self) -> ValueRef<'_>;
    /// A range bound mapped into this key type; `Err` when no key can satisfy it.
    fn bound(b: &Bound<Value>, is_lower: bool) -> Result<Bound<Self>, ()>;
}

/// A float that orders by [`f64::total_cmp`], for ordered float indexes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TotalF64(pub(crate) f64);
impl PartialEq for TotalF64 {
    fn eq(&self, o: &Self) -> bool {
        self.0.total_cmp(&o.0).is_eq()
    }
}
impl Eq for TotalF64 {}
impl PartialOrd for TotalF64 {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for TotalF64 {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

/// Maps a bound's value with `conv`, keeping its kind.
fn map_bound<K>(b: &Bound<Value>, conv: impl Fn(&Value) -> Option<K>) -> Result<Bound<K>, ()> {
    Ok(match b {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(v) => Bound::Included(conv(v).ok_or(())?),
        Bound::Excluded(v) => Bound::Excluded(conv(v).ok_or(())?),
    })
}

impl IndexKey for i64 {
    type Probe = i64;
    fn with_probe<O>(v: ValueRef<'_>, f: impl FnOnce(&i64) -> O) -> Option<O> {
        match v {
            ValueRef::Int(i) => Some(f(&i)),
            _ => None,
        }
    }
    fn own(p: &i64) -> i64 {
        *p
    }
    fn value(&self) -> ValueRef<'_> {
        ValueRef::Int(*self)
    }
    /// Any number bounds an integer column: the lower bound rounds up, the upper bound down.
    fn bound(b: &Bound<Value>, is_lower: bool) -> Result<Bound<i64>, ()> {
        let v = match b {
            Bound::Unbounded => return Ok(Bound::Unbounded),
            Bound::Included(v) | Bound::Excluded(v) => v,
        };
        let excluded = matches!(b, Bound::Excluded(_));
        let exact = |i: i64| {
            if excluded {
                Bound::Excluded(i)
            } else {
                Bound::Included(i)
            }
        };
        match v {
            Value::Int(i) => Ok(exact(*i)),
            Value::Float(f) if f.is_nan() => {
                // NaN sorts above every number (below, with its sign bit set).
                if f.is_sign_negative() == is_lower {
                    Ok(Bound::Unbounded)
                } else {
                    Err(())
                }
            }
            Value::Float(f) => {
                let r = if is_lower { f.ceil() } else { f.floor() };
                // 2^63 as a float: no i64 reaches it.
                if r >= 9.223_372_036_854_776e18 {
                    if is_lower {
                        Err(())
                    } else {
                        Ok(Bound::Unbounded)
                    }
                } else if r < -9.223_372_036_854_776e18 {
                    if is_lower {
                        Ok(Bound::Unbounded)
                    } else {
                        Err(())
                    }
                } else if r == *f {
                    Ok(exact(r as i64))
                } else {
                    Ok(Bound::Included(r as i64))
                }
            }
            _ => Err(()),
        }
    }
}

impl IndexKey for TotalF64 {
    type Probe = TotalF64;
    fn with_probe<O>(v: ValueRef<'_>, f: impl FnOnce(&TotalF64) -> O) -> Option<O> {
        match v {
            ValueRef::Float(x) => Some(f(&TotalF64(x))),
            _ => None,
        }
    }
    fn own(p: &TotalF64) -> TotalF64 {
        *p
    }
    fn value(&self) -> ValueRef<'_> {
        ValueRef::Float(self.0)
    }
    fn bound(b: &Bound<Value>, _: bool) -> Result<Bound<TotalF64>, ()> {
        map_bound(b, |v| v.as_f64().map(TotalF64))
    }
}

impl IndexKey for Box<str> {
    type Probe = str;
    fn with_probe<O>(v: ValueRef<'_>, f: impl FnOnce(&str) -> O) -> Option<O> {
        match v {
            ValueRef::Text(t) => Some(f(t)),
            _ => None,
        }
    }
    fn own(p: &str) -> Box<str> {
        Box::from(p)
    }
    fn value(&self) -> ValueRef<'_> {
        ValueRef::Text(self)
    }
    fn bound(b: &Bound<Value>, _: bool) -> Result<Bound<Box<str>>, ()> {
        map_bound(b, |v| v.as_str().map(Box::from))
    }
}

impl IndexKey for bool {
    type Probe = bool;
    fn with_probe<O>(v: ValueRef<'_>, f: impl FnOnce(&bool) -> O) -> Option<O> {
        match v {
            ValueRef::Bool(b) => Some(f(&b)),
            _ => None,
        }
    }
    fn own(p: &bool) -> bool {
        *p
    }
    fn value(&self) -> ValueRef<'_> {
        ValueRef::Bool(*self)
    }
    fn bound(b: &Bound<Value>, _: bool) -> Result<Bound<bool>, ()> {
        map_bound(b, Value::as_bool)
    }
}

/// Whether a pair of bounds selects nothing (`BTreeMap::range` panics on those).
fn empty<K: Ord>(lo: &Bound<K>, hi: &Bound<K>) -> bool {
    match (lo, hi) {
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
            a > b
                || (a == b
                    && (matches!(lo, Bound::Excluded(_)) || matches!(hi, Bound::Excluded(_))))
        }
        _ => false,
    }
}

/// The non-null values of one column, each with its set of slots.
#[derive(Debug, Clone)]
struct Keys<K: IndexKey> {
    map: BTreeMap<K, Handle>,
}

/// [`Keys`] of any key type, behind one object-safe face. Values of another kind than the
/// column's never reach it: rows are checked against the schema before they are indexed.
trait KeyMap: fmt::Debug + Send + Sync {
    fn insert(&mut self, postings: &mut Postings, v: ValueRef<'_>, slot: u32);
    fn remove(&mut self, postings: &mut Postings, v: ValueRef<'_>, slot: u32);
    fn range<'a>(
        &'a self,
        postings: &'a Postings,
        lo: &Bound<Value>,
        hi: &Bound<Value>,
    ) -> Walk<'a>;
    fn iter<'a>(&'a self, postings: &'a Postings) -> Walk<'a>;
    fn clear(&mut self);
    #[cfg(test)]
    fn entries(&self, postings: &Postings) -> usize;
    fn boxed_clone(&self) -> Box<dyn KeyMap>;
}

impl<K: IndexKey> KeyMap for Keys<K> {
    fn insert(&mut self, postings: &mut Postings, v: ValueRef<'_>, slot: u32) {
        K::with_probe(v, |p| match self.map.get_mut(p) {
            Some(h) => *h = postings.insert(*h, slot),
            None => {
                self.map.insert(K::own(p), postings.single(slot));
            }
        });
    }

    fn remove(&mut self, postings: &mut Postings, v: ValueRef<'_>, slot: u32) {
        K::with_probe(v, |p| {
            let Some(h) = self.map.get_mut(p) else { return };
            match postings.remove(*h, slot) {
                Some(left) => *h = left,
                None => {
                    self.map.remove(p);
                }
            }
        });
    }

    fn range<'a>(
        &'a self,
        postings: &'a Postings,
        lo: &Bound<Value>,
        hi: &Bound<Value>,
    ) -> Walk<'a> {
        let (Ok(lo), Ok(hi)) = (K::bound(lo, true), K::bound(hi, false)) else {
            return Box::new(std::iter::empty());
        };
        if empty(&lo, &hi) {
            return Box::new(std::iter::empty());
        }
        Box::new(
            self.map
                .range::<K, _>((lo, hi))
                .flat_map(move |(k, &h)| postings.iter(h).map(move |s| (k.value(), s))),
        )
    }

    fn iter<'a>(&'a self, postings: &'a Postings) -> Walk<'a> {
        Box::new(
            self.map
                .iter()
                .flat_map(move |(k, &h)| postings.iter(h).map(move |s| (k.value(), s))),
        )
    }

    fn clear(&mut self) {
        self.map.clear();
    }

    #[cfg(test)]
    fn entries(&self, postings: &Postings) -> usize {
        self.map.values().map(|&h| postings.len(h)).sum()
    }

    fn boxed_clone(&self) -> Box<dyn KeyMap> {
        Box::new(self.clone())
    }
}

/// An ordered index of one column. Nulls are kept apart: they sort first, and range and
/// equality lookups on a non-null value never see them.
#[derive(Debug)]
pub(crate) struct OrderedIndex {
    pub(crate) col: usize,
    keys: Box<dyn KeyMap>,
    postings: Postings,
    nulls: BTreeSet<u32>,
}

impl Clone for OrderedIndex {
    fn clone(&self) -> Self {
        OrderedIndex {
            col: self.col,
            keys: self.keys.boxed_clone(),
            postings: self.postings.clone(),
            nulls: self.nulls.clone(),
        }
    }
}

fn keys<K: IndexKey>() -> Box<dyn KeyMap> {
    Box::new(Keys::<K> {
        map: BTreeMap::new(),
    })
}

impl OrderedIndex {
    pub(crate) fn new(col: usize, ty: ColumnType) -> Self {
        let keys = if ty.is_int() {
            keys::<i64>()
        } else if ty.is_float() {
            keys::<TotalF64>()
        } else if ty == ColumnType::Bool {
            keys::<bool>()
        } else {
            keys::<Box<str>>()
        };
        OrderedIndex {
            col,
            keys,
            postings: Postings::default(),
            nulls: BTreeSet::new(),
        }
    }

    pub(crate) fn insert(&mut self, v: ValueRef<'_>, slot: u32) {
        if v.is_null() {
            self.nulls.insert(slot);
        } else {
            self.keys.insert(&mut self.postings, v, slot);
        }
    }

    pub(crate) fn remove(&mut self, v: ValueRef<'_>, slot: u32) {
        if v.is_null() {
            self.nulls.remove(&slot);
        } else {
            self.keys.remove(&mut self.postings, v, slot);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.nulls.clear();
        self.postings.clear();
        self.keys.clear();
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.nulls.len() + self.keys.entries(&self.postings)
    }

    /// Slots whose value lies within the bounds, in value order (equal values in slot
    /// order). Nulls never match a bound; `Null` as both bounds (an equality on null) walks
    /// the nulls.
    pub(crate) fn range<'a>(&'a self, lo: &Bound<Value>, hi: &Bound<Value>) -> Walk<'a> {
        if let (Bound::Included(Value::Null), Bound::Included(Value::Null)) = (lo, hi) {
            return Box::new(self.nulls.iter().map(|&s| (ValueRef::Null, s)));
        }
        self.keys.range(&self.postings, lo, hi)
    }

    /// Every entry in value order, nulls first.
    pub(crate) fn iter(&self) -> Walk<'_> {
        let nulls = self.nulls.iter().map(|&s| (ValueRef::Null, s));
        Box::new(nulls.chain(self.keys.iter(&self.postings)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_ranges_round_float_bounds_inwards() {
        let mut ix = OrderedIndex::new(0, ColumnType::U32);
        for (i, y) in [2018i64, 2019, 2020, 2021, 2022].into_iter().enumerate() {
            ix.insert(ValueRef::Int(y), i as u32);
        }
        ix.insert(ValueRef::Null, 9);
        let got = |lo: Bound<Value>, hi: Bound<Value>| -> Vec<u32> {
            ix.range(&lo, &hi).map(|(_, s)| s).collect()
        };
        use Bound::*;
        assert_eq!(
            got(
                Included(Value::Float(2018.5)),
                Excluded(Value::Float(2021.0))
            ),
            [1, 2]
        );
        assert_eq!(
            got(Excluded(Value::Int(2018)), Included(Value::Float(2019.9))),
            [1]
        );
        assert_eq!(got(Unbounded, Excluded(Value::Int(2019))), [0]);
        assert_eq!(
            got(Included(Value::Int(2023)), Unbounded),
            Vec::<u32>::new()
        );
        assert_eq!(
            got(Included(Value::Int(2020)), Excluded(Value::Int(2020))),
            Vec::<u32>::new()
        );
        assert_eq!(
            got(Included(Value::Float(1e300)), Unbounded),
            Vec::<u32>::new()
        );
        assert_eq!(got(Unbounded, Included(Value::Float(f64::NAN))).len(), 5);
        assert_eq!(got(Included(Value::Null), Included(Value::Null)), [9]);
        let all: Vec<u32> = ix.iter().map(|(_, s)| s).collect();
        assert_eq!(all, [9, 0, 1, 2, 3, 4]);
    }

    #[test]
    fn every_key_type_keeps_values_in_order_and_removes_them() {
        let cases: [(ColumnType, Vec<Value>); 4] = [
            (
                ColumnType::I64,
                vec![Value::Int(-3), Value::Int(0), Value::Int(7)],
            ),
            (
                ColumnType::F64,
                vec![
                    Value::Float(-1.5),
                    Value::Float(0.25),
                    Value::Float(f64::NAN),
                ],
            ),
            (
                ColumnType::Text,
                vec!["a", "b", "c"].into_iter().map(Value::from).collect(),
            ),
            (
                ColumnType::Bool,
                vec![Value::Bool(false), Value::Bool(true)],
            ),
        ];
        for (ty, values) in cases {
            let mut ix = OrderedIndex::new(0, ty);
            // Each value in two slots, inserted in reverse.
            for (i, v) in values.iter().enumerate().rev() {
                ix.insert(v.as_ref(), 2 * i as u32 + 1);
                ix.insert(v.as_ref(), 2 * i as u32);
            }
            let slots: Vec<u32> = ix.iter().map(|(_, s)| s).collect();
            assert_eq!(
                slots,
                (0..2 * values.len() as u32).collect::<Vec<_>>(),
                "{ty}"
            );
            let first = Bound::Included(values[0].clone());
            let eq: Vec<u32> = ix.range(&first, &first).map(|(_, s)| s).collect();
            assert_eq!(eq, [0, 1], "{ty}");
            ix.remove(values[0].as_ref(), 0);
            ix.remove(values[0].as_ref(), 1);
            assert_eq!(ix.range(&first, &first).count(), 0, "{ty}");
            assert_eq!(ix.len(), 2 * values.len() - 2, "{ty}");
            let copy = ix.clone();
            ix.clear();
            assert_eq!((ix.len(), copy.len()), (0, 2 * values.len() - 2), "{ty}");
        }
    }
}
