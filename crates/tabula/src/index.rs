//! Indexes over the rows of one table. They store slots (positions in the table's row slab),
//! never copies of rows: the primary-key and unique indexes are hash tables of slots that
//! hash and compare through the rows themselves; the ordered index keeps `(value, slot)`.

use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hash, Hasher};
use std::ops::Bound;

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::record::Record;
use crate::schema::ColumnType;
use crate::value::{Value, ValueRef};

/// Hashes a borrowed value with the table's hasher.
#[derive(Debug, Default, Clone)]
pub(crate) struct ValueHasher(DefaultHashBuilder);

struct Hashed<'a>(ValueRef<'a>);
impl Hash for Hashed<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash_into(state)
    }
}

impl ValueHasher {
    #[inline]
    pub(crate) fn hash(&self, v: ValueRef<'_>) -> u64 {
        self.0.hash_one(Hashed(v))
    }
}

/// A hash index from one column's value to the slot holding it: the primary key and every
/// unique column have one. Nulls are not indexed (a unique nullable column may hold many).
#[derive(Debug, Default, Clone)]
pub(crate) struct HashIndex {
    pub(crate) col: usize,
    table: HashTable<u32>,
}

impl HashIndex {
    pub(crate) fn new(col: usize) -> Self {
        HashIndex {
            col,
            table: HashTable::new(),
        }
    }

    #[inline]
    pub(crate) fn find<R: Record>(
        &self,
        h: &ValueHasher,
        rows: &[Option<R>],
        v: ValueRef<'_>,
    ) -> Option<u32> {
        if v.is_null() {
            return None;
        }
        self.find_hashed(h.hash(v), rows, v)
    }

    /// [`HashIndex::find`] with the value's hash already computed.
    #[inline]
    pub(crate) fn find_hashed<R: Record>(
        &self,
        hash: u64,
        rows: &[Option<R>],
        v: ValueRef<'_>,
    ) -> Option<u32> {
        let col = self.col;
        self.table
            .find(hash, |&s| {
                rows[s as usize].as_ref().is_some_and(|r| r.col(col) == v)
            })
            .copied()
    }

    /// Adds `slot`, whose row must already be in `rows`. The caller has checked uniqueness.
    pub(crate) fn insert<R: Record>(&mut self, h: &ValueHasher, rows: &[Option<R>], slot: u32) {
        let Some(row) = rows[slot as usize].as_ref() else {
            return;
        };
        let v = row.col(self.col);
        if v.is_null() {
            return;
        }
        self.insert_hashed(h, h.hash(v), rows, slot);
    }

    /// [`HashIndex::insert`] with the hash of the slot's value already computed.
    #[inline]
    pub(crate) fn insert_hashed<R: Record>(
        &mut self,
        h: &ValueHasher,
        hash: u64,
        rows: &[Option<R>],
        slot: u32,
    ) {
        let col = self.col;
        self.table.insert_unique(hash, slot, |&s| {
            rows[s as usize].as_ref().map_or(0, |r| h.hash(r.col(col)))
        });
    }

    /// Removes `slot`, whose row (still in `rows`) holds the value it was indexed under.
    pub(crate) fn remove<R: Record>(&mut self, h: &ValueHasher, rows: &[Option<R>], slot: u32) {
        let Some(row) = rows[slot as usize].as_ref() else {
            return;
        };
        let v = row.col(self.col);
        if v.is_null() {
            return;
        }
        if let Ok(e) = self.table.find_entry(h.hash(v), |&s| s == slot) {
            e.remove();
        }
    }

    pub(crate) fn clear(&mut self) {
        self.table.clear();
    }

    pub(crate) fn reserve<R: Record>(&mut self, h: &ValueHasher, rows: &[Option<R>], n: usize) {
        let col = self.col;
        self.table.reserve(n, |&s| {
            rows[s as usize].as_ref().map_or(0, |r| h.hash(r.col(col)))
        });
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }
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

/// The keys of an ordered index, stored in the column's own type so that comparisons are
/// plain integer, float or string comparisons.
#[derive(Debug, Clone)]
enum Keys {
    Int(BTreeSet<(i64, u32)>),
    Float(BTreeSet<(TotalF64, u32)>),
    Text(BTreeSet<(Box<str>, u32)>),
    Bool(BTreeSet<(bool, u32)>),
}

/// An ordered index of one column: `(value, slot)` pairs, so equal values keep a stable
/// order and ranges are a B-tree walk. Nulls are kept apart: they sort first, and range and
/// equality lookups on a non-null value never see them.
#[derive(Debug, Clone)]
pub(crate) struct OrderedIndex {
    pub(crate) col: usize,
    keys: Keys,
    nulls: BTreeSet<u32>,
}

/// Bounds mapped into one key type: `None` when the range is empty.
type KeyRange<K> = Option<(Bound<(K, u32)>, Bound<(K, u32)>)>;

fn lower<K: Clone>(b: Bound<K>) -> Bound<(K, u32)> {
    match b {
        Bound::Included(k) => Bound::Included((k, 0)),
        Bound::Excluded(k) => Bound::Excluded((k, u32::MAX)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn upper<K: Clone>(b: Bound<K>) -> Bound<(K, u32)> {
    match b {
        Bound::Included(k) => Bound::Included((k, u32::MAX)),
        Bound::Excluded(k) => Bound::Excluded((k, 0)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Whether a pair of bounds selects nothing (`BTreeSet::range` panics on those).
fn empty<K: Ord>(lo: &Bound<(K, u32)>, hi: &Bound<(K, u32)>) -> bool {
    match (lo, hi) {
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
            a > b
                || (a == b
                    && (matches!(lo, Bound::Excluded(_)) || matches!(hi, Bound::Excluded(_))))
        }
        _ => false,
    }
}

/// Maps a numeric bound to the integers it admits: the lower bound rounds up, the upper
/// bound rounds down. `Err(())` when no integer can satisfy it.
fn int_bound(b: &Bound<Value>, is_lower: bool) -> Result<Bound<i64>, ()> {
    let v = match b {
        Bound::Unbounded => return Ok(Bound::Unbounded),
        Bound::Included(v) | Bound::Excluded(v) => v,
    };
    let excluded = matches!(b, Bound::Excluded(_));
    match v {
        Value::Int(i) => Ok(if excluded {
            Bound::Excluded(*i)
        } else {
            Bound::Included(*i)
        }),
        Value::Float(f) if f.is_nan() => {
            // NaN sorts above every number (below, with its sign bit set).
            if (f.is_sign_negative()) == is_lower {
                Ok(Bound::Unbounded)
            } else {
                Err(())
            }
        }
        Value::Float(f) => {
            let r = if is_lower { f.ceil() } else { f.floor() };
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
                let i = r as i64;
                Ok(if excluded {
                    Bound::Excluded(i)
                } else {
                    Bound::Included(i)
                })
            } else {
                Ok(Bound::Included(r as i64))
            }
        }
        _ => Err(()),
    }
}

fn float_bound(b: &Bound<Value>) -> Result<Bound<TotalF64>, ()> {
    let conv = |v: &Value| v.as_f64().map(TotalF64).ok_or(());
    Ok(match b {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(v) => Bound::Included(conv(v)?),
        Bound::Excluded(v) => Bound::Excluded(conv(v)?),
    })
}

fn text_bound(b: &Bound<Value>) -> Result<Bound<Box<str>>, ()> {
    let conv = |v: &Value| v.as_str().map(Box::from).ok_or(());
    Ok(match b {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(v) => Bound::Included(conv(v)?),
        Bound::Excluded(v) => Bound::Excluded(conv(v)?),
    })
}

fn bool_bound(b: &Bound<Value>) -> Result<Bound<bool>, ()> {
    let conv = |v: &Value| v.as_bool().ok_or(());
    Ok(match b {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(v) => Bound::Included(conv(v)?),
        Bound::Excluded(v) => Bound::Excluded(conv(v)?),
    })
}

fn key_range<K: Ord + Clone>(lo: Result<Bound<K>, ()>, hi: Result<Bound<K>, ()>) -> KeyRange<K> {
    let (lo, hi) = (lower(lo.ok()?), upper(hi.ok()?));
    (!empty(&lo, &hi)).then_some((lo, hi))
}

type Walk<'a> = Box<dyn DoubleEndedIterator<Item = (ValueRef<'a>, u32)> + 'a>;

impl OrderedIndex {
    pub(crate) fn new(col: usize, ty: ColumnType) -> Self {
        let keys = if ty.is_int() {
            Keys::Int(BTreeSet::new())
        } else if ty.is_float() {
            Keys::Float(BTreeSet::new())
        } else if ty == ColumnType::Bool {
            Keys::Bool(BTreeSet::new())
        } else {
            Keys::Text(BTreeSet::new())
        };
        OrderedIndex {
            col,
            keys,
            nulls: BTreeSet::new(),
        }
    }

    pub(crate) fn insert(&mut self, v: ValueRef<'_>, slot: u32) {
        match (&mut self.keys, v) {
            (_, ValueRef::Null) => {
                self.nulls.insert(slot);
            }
            (Keys::Int(s), ValueRef::Int(i)) => {
                s.insert((i, slot));
            }
            (Keys::Float(s), ValueRef::Float(f)) => {
                s.insert((TotalF64(f), slot));
            }
            (Keys::Text(s), ValueRef::Text(t)) => {
                s.insert((Box::from(t), slot));
            }
            (Keys::Bool(s), ValueRef::Bool(b)) => {
                s.insert((b, slot));
            }
            // Rows are checked against the schema before they reach an index.
            _ => {}
        }
    }

    pub(crate) fn remove(&mut self, v: ValueRef<'_>, slot: u32) {
        match (&mut self.keys, v) {
            (_, ValueRef::Null) => {
                self.nulls.remove(&slot);
            }
            (Keys::Int(s), ValueRef::Int(i)) => {
                s.remove(&(i, slot));
            }
            (Keys::Float(s), ValueRef::Float(f)) => {
                s.remove(&(TotalF64(f), slot));
            }
            (Keys::Text(s), ValueRef::Text(t)) => {
                s.remove(&(Box::from(t), slot));
            }
            (Keys::Bool(s), ValueRef::Bool(b)) => {
                s.remove(&(b, slot));
            }
            _ => {}
        }
    }

    pub(crate) fn clear(&mut self) {
        self.nulls.clear();
        match &mut self.keys {
            Keys::Int(s) => s.clear(),
            Keys::Float(s) => s.clear(),
            Keys::Text(s) => s.clear(),
            Keys::Bool(s) => s.clear(),
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.nulls.len()
            + match &self.keys {
                Keys::Int(s) => s.len(),
                Keys::Float(s) => s.len(),
                Keys::Text(s) => s.len(),
                Keys::Bool(s) => s.len(),
            }
    }

    /// Slots whose value lies within the bounds, in value order. Nulls never match a bound;
    /// `Null` as both bounds (an equality on null) walks the nulls.
    pub(crate) fn range<'a>(&'a self, lo: &Bound<Value>, hi: &Bound<Value>) -> Walk<'a> {
        if let (Bound::Included(Value::Null), Bound::Included(Value::Null)) = (lo, hi) {
            return Box::new(self.nulls.iter().map(|&s| (ValueRef::Null, s)));
        }
        match &self.keys {
            Keys::Int(s) => match key_range(int_bound(lo, true), int_bound(hi, false)) {
                Some(r) => Box::new(s.range(r).map(|&(k, s)| (ValueRef::Int(k), s))),
                None => Box::new(std::iter::empty()),
            },
            Keys::Float(s) => match key_range(float_bound(lo), float_bound(hi)) {
                Some(r) => Box::new(s.range(r).map(|&(k, s)| (ValueRef::Float(k.0), s))),
                None => Box::new(std::iter::empty()),
            },
            Keys::Text(s) => match key_range(text_bound(lo), text_bound(hi)) {
                Some(r) => Box::new(s.range(r).map(|(k, s)| (ValueRef::Text(k), *s))),
                None => Box::new(std::iter::empty()),
            },
            Keys::Bool(s) => match key_range(bool_bound(lo), bool_bound(hi)) {
                Some(r) => Box::new(s.range(r).map(|&(k, s)| (ValueRef::Bool(k), s))),
                None => Box::new(std::iter::empty()),
            },
        }
    }

    /// Every entry in value order, nulls first.
    pub(crate) fn iter(&self) -> Walk<'_> {
        let nulls = self.nulls.iter().map(|&s| (ValueRef::Null, s));
        match &self.keys {
            Keys::Int(s) => Box::new(nulls.chain(s.iter().map(|&(k, s)| (ValueRef::Int(k), s)))),
            Keys::Float(s) => {
                Box::new(nulls.chain(s.iter().map(|&(k, s)| (ValueRef::Float(k.0), s))))
            }
            Keys::Text(s) => Box::new(nulls.chain(s.iter().map(|(k, s)| (ValueRef::Text(k), *s)))),
            Keys::Bool(s) => Box::new(nulls.chain(s.iter().map(|&(k, s)| (ValueRef::Bool(k), s)))),
        }
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
}
