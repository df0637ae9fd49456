//! Indexes over the rows of one table. They store slots (positions in the table's row slab),
//! never copies of rows: the primary-key and unique indexes are hash tables of slots that
//! hash and compare through the rows themselves; the ordered index maps each value to its
//! set of slots (see [`crate::posting`]).

use std::borrow::Borrow;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, Hash, Hasher};
use std::ops::Bound;

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::posting::{Handle, Postings};
use crate::record::Record;
use crate::schema::ColumnType;
use crate::value::{Value, ValueRef};

/// Hashes a borrowed value with the table's hasher.
#[derive(Debug, Default, Clone)]
pub(crate) struct ValueHasher(DefaultHashBuilder);

struct Hashed<'a>(ValueRef<'a>);
impl Hash for Hashed<'_> {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash_into(state)
    }
}

impl ValueHasher {
    #[inline]
    pub(crate) fn hash(&self, v: ValueRef<'_>) -> u64 {
        self.0.hash_one(Hashed(v))
    }

    /// [`ValueHasher::hash`] of a text value, inlined.
    #[inline(always)]
    pub(crate) fn hash_text(&self, text: &str) -> u64 {
        let mut h = self.0.build_hasher();
        crate::value::hash_text_into(text, &mut h);
        h.finish()
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

    /// [`HashIndex::find`] for a text value in a text column, inlined whole so that a loop of
    /// lookups keeps several in flight.
    #[inline(always)]
    pub(crate) fn find_text<R: Record>(
        &self,
        h: &ValueHasher,
        rows: &[Option<R>],
        text: &str,
    ) -> Option<u32> {
        let col = self.col;
        self.table
            .find(h.hash_text(text), |&s| {
                rows[s as usize]
                    .as_ref()
                    .is_some_and(|r| matches!(r.col(col), ValueRef::Text(t) if t == text))
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

/// The primary-key index. While every live row with integer key `k` sits in slot
/// `k - base` (rows loaded or inserted in key order, auto-increment appends, deletes
/// anywhere), the key is the position and there is no hash table at all: a lookup is one
/// read of the row instead of a hash probe and then the row, and an insert writes no index
/// entry. The first row that breaks the rule (a text key, a key far out of order) builds the
/// hash index, once: a pause proportional to the table (about 100 ms for 1M rows here) on
/// that one insert.
#[derive(Debug, Clone)]
pub(crate) enum KeyIndex {
    /// Row with key `k` at slot `k - base`; `base` is set by the first row.
    Dense {
        col: usize,
        base: Option<i64>,
    },
    Hashed(HashIndex),
}

/// The slot of key `k` in a dense key index with this base, if it can have one.
#[inline]
pub(crate) fn dense_position(base: i64, k: i64) -> Option<usize> {
    usize::try_from(k.checked_sub(base)?).ok()
}

/// How far ahead of the slab's end a key may land and still keep [`KeyIndex::Dense`], at
/// least: the slots in between are left empty (each costs one row's size) until the keys
/// that belong there arrive, as they do when several threads insert interleaved runs of
/// keys. Large tables allow a gap of 1/128 of their rows; the table also caps the empty
/// slots it will hold for this at a quarter of its rows.
pub(crate) const MAX_KEY_GAP: usize = 64;

/// The largest gap a table of `live` rows, `dead` of its slots empty, pads to stay dense.
pub(crate) fn max_key_gap(live: usize, dead: usize) -> usize {
    MAX_KEY_GAP
        .max(live / 128)
        .min((live / 4 + MAX_KEY_GAP).saturating_sub(dead))
}

impl KeyIndex {
    pub(crate) fn new(col: usize, ty: ColumnType) -> Self {
        if ty.is_int() {
            KeyIndex::Dense { col, base: None }
        } else {
            KeyIndex::Hashed(HashIndex::new(col))
        }
    }

    /// Where a row with `key` must go to keep the index dense: `Some(slot)`, possibly past
    /// the slab's end by at most `max_gap` empty slots, or `None` if it cannot.
    #[inline]
    pub(crate) fn dense_slot(
        &self,
        key: ValueRef<'_>,
        len: usize,
        max_gap: usize,
    ) -> Option<usize> {
        let KeyIndex::Dense { base, .. } = self else {
            return None;
        };
        let ValueRef::Int(k) = key else { return None };
        let Some(base) = base else { return Some(len) };
        let slot = dense_position(*base, k)?;
        (slot <= len + max_gap && slot < u32::MAX as usize).then_some(slot)
    }

    /// The base of a dense index that has one.
    #[inline]
    pub(crate) fn dense_base(&self) -> Option<i64> {
        match self {
            KeyIndex::Dense { base, .. } => *base,
            KeyIndex::Hashed(_) => None,
        }
    }

    /// The hash of `key` when the index hashes, so an insert computes it once.
    #[inline]
    pub(crate) fn hash(&self, h: &ValueHasher, key: ValueRef<'_>) -> u64 {
        match self {
            KeyIndex::Dense { .. } => 0,
            KeyIndex::Hashed(_) => h.hash(key),
        }
    }

    /// The slot of the row with `key`.
    #[inline]
    pub(crate) fn find<R: Record>(
        &self,
        h: &ValueHasher,
        rows: &[Option<R>],
        key: ValueRef<'_>,
    ) -> Option<u32> {
        match self {
            KeyIndex::Dense { .. } => self.find_dense(rows, key),
            KeyIndex::Hashed(ix) => ix.find(h, rows, key),
        }
    }

    /// [`KeyIndex::find`] with `hash` from [`KeyIndex::hash`].
    #[inline]
    pub(crate) fn find_hashed<R: Record>(
        &self,
        hash: u64,
        rows: &[Option<R>],
        key: ValueRef<'_>,
    ) -> Option<u32> {
        match self {
            KeyIndex::Dense { .. } => self.find_dense(rows, key),
            KeyIndex::Hashed(ix) => ix.find_hashed(hash, rows, key),
        }
    }

    #[inline]
    fn find_dense<R: Record>(&self, rows: &[Option<R>], key: ValueRef<'_>) -> Option<u32> {
        let KeyIndex::Dense {
            col,
            base: Some(base),
        } = self
        else {
            return None;
        };
        let ValueRef::Int(k) = key else { return None };
        let slot = dense_position(*base, k)?;
        rows.get(slot)?
            .as_ref()
            .filter(|r| r.col(*col) == key)
            .map(|_| slot as u32)
    }

    /// Indexes the row now at `slot`; `hash` is its key's [`KeyIndex::hash`]. A row off its
    /// dense position turns the index into a hash index of every live row.
    pub(crate) fn insert<R: Record>(
        &mut self,
        h: &ValueHasher,
        hash: u64,
        rows: &[Option<R>],
        slot: u32,
    ) {
        match self {
            KeyIndex::Dense { col, base } => {
                let Some(row) = rows[slot as usize].as_ref() else {
                    return;
                };
                let key = row.col(*col);
                let fits = match (key, *base) {
                    (ValueRef::Int(k), Some(b)) => k.checked_sub(b) == Some(i64::from(slot)),
                    (ValueRef::Int(k), None) => {
                        *base = k.checked_sub(i64::from(slot));
                        base.is_some()
                    }
                    _ => false,
                };
                if !fits {
                    // Rows are indexed in slot order (inserts append; a rebuild indexes from
                    // slot 0), so the rows up to this one are exactly those to hash.
                    let upto = &rows[..=slot as usize];
                    let mut ix = HashIndex::new(*col);
                    ix.reserve(h, rows, upto.iter().flatten().count());
                    for (s, r) in upto.iter().enumerate() {
                        if r.is_some() {
                            ix.insert(h, rows, s as u32);
                        }
                    }
                    *self = KeyIndex::Hashed(ix);
                }
            }
            KeyIndex::Hashed(ix) => ix.insert_hashed(h, hash, rows, slot),
        }
    }

    pub(crate) fn remove<R: Record>(&mut self, h: &ValueHasher, rows: &[Option<R>], slot: u32) {
        if let KeyIndex::Hashed(ix) = self {
            ix.remove(h, rows, slot);
        }
    }

    /// Empties the index; it starts dense again (for integer keys).
    pub(crate) fn clear(&mut self, ty: ColumnType) {
        let col = match self {
            KeyIndex::Dense { col, .. } => *col,
            KeyIndex::Hashed(ix) => ix.col,
        };
        *self = KeyIndex::new(col, ty);
    }

    pub(crate) fn reserve<R: Record>(&mut self, h: &ValueHasher, rows: &[Option<R>], n: usize) {
        if let KeyIndex::Hashed(ix) = self {
            ix.reserve(h, rows, n);
        }
    }

    /// Whether the index is the dense kind (for tests and `explain`-style checks).
    #[cfg(test)]
    pub(crate) fn is_dense(&self) -> bool {
        matches!(self, KeyIndex::Dense { .. })
    }

    #[cfg(test)]
    pub(crate) fn len<R: Record>(&self, rows: &[Option<R>]) -> usize {
        match self {
            KeyIndex::Dense { .. } => rows.iter().flatten().count(),
            KeyIndex::Hashed(ix) => ix.len(),
        }
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
/// plain integer, float or string comparisons; each maps to its value's set of slots.
#[derive(Debug, Clone)]
enum Keys {
    Int(BTreeMap<i64, Handle>),
    Float(BTreeMap<TotalF64, Handle>),
    Text(BTreeMap<Box<str>, Handle>),
    Bool(BTreeMap<bool, Handle>),
}

/// An ordered index of one column: each value with the set of slots holding it, so equal
/// values come out in slot order and ranges are a B-tree walk. Nulls are kept apart: they
/// sort first, and range and equality lookups on a non-null value never see them.
#[derive(Debug, Clone)]
pub(crate) struct OrderedIndex {
    pub(crate) col: usize,
    keys: Keys,
    postings: Postings,
    nulls: BTreeSet<u32>,
}

/// Bounds mapped into one key type: `None` when the range is empty.
type KeyRange<K> = Option<(Bound<K>, Bound<K>)>;

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

/// Adds `slot` under `key`.
fn put<K: Ord>(map: &mut BTreeMap<K, Handle>, postings: &mut Postings, key: K, slot: u32) {
    match map.entry(key) {
        Entry::Vacant(e) => {
            e.insert(postings.single(slot));
        }
        Entry::Occupied(mut e) => {
            let h = postings.insert(*e.get(), slot);
            *e.get_mut() = h;
        }
    }
}

/// Removes `slot` from under `key` (and the key, once no slot holds it).
fn take<K, Q>(map: &mut BTreeMap<K, Handle>, postings: &mut Postings, key: &Q, slot: u32)
where
    K: Ord + Borrow<Q>,
    Q: Ord + ?Sized,
{
    let Some(h) = map.get_mut(key) else { return };
    match postings.remove(*h, slot) {
        Some(left) => *h = left,
        None => {
            map.remove(key);
        }
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

fn key_range<K: Ord>(lo: Result<Bound<K>, ()>, hi: Result<Bound<K>, ()>) -> KeyRange<K> {
    let (lo, hi) = (lo.ok()?, hi.ok()?);
    (!empty(&lo, &hi)).then_some((lo, hi))
}

type Walk<'a> = Box<dyn DoubleEndedIterator<Item = (ValueRef<'a>, u32)> + 'a>;

impl OrderedIndex {
    pub(crate) fn new(col: usize, ty: ColumnType) -> Self {
        let keys = if ty.is_int() {
            Keys::Int(BTreeMap::new())
        } else if ty.is_float() {
            Keys::Float(BTreeMap::new())
        } else if ty == ColumnType::Bool {
            Keys::Bool(BTreeMap::new())
        } else {
            Keys::Text(BTreeMap::new())
        };
        OrderedIndex {
            col,
            keys,
            postings: Postings::default(),
            nulls: BTreeSet::new(),
        }
    }

    pub(crate) fn insert(&mut self, v: ValueRef<'_>, slot: u32) {
        let p = &mut self.postings;
        match (&mut self.keys, v) {
            (_, ValueRef::Null) => {
                self.nulls.insert(slot);
            }
            (Keys::Int(m), ValueRef::Int(i)) => put(m, p, i, slot),
            (Keys::Float(m), ValueRef::Float(f)) => put(m, p, TotalF64(f), slot),
            (Keys::Text(m), ValueRef::Text(t)) => match m.get_mut(t) {
                // Only a value new to the index is copied into it.
                Some(h) => *h = p.insert(*h, slot),
                None => {
                    m.insert(Box::from(t), p.single(slot));
                }
            },
            (Keys::Bool(m), ValueRef::Bool(b)) => put(m, p, b, slot),
            // Rows are checked against the schema before they reach an index.
            _ => {}
        }
    }

    pub(crate) fn remove(&mut self, v: ValueRef<'_>, slot: u32) {
        let p = &mut self.postings;
        match (&mut self.keys, v) {
            (_, ValueRef::Null) => {
                self.nulls.remove(&slot);
            }
            (Keys::Int(m), ValueRef::Int(i)) => take(m, p, &i, slot),
            (Keys::Float(m), ValueRef::Float(f)) => take(m, p, &TotalF64(f), slot),
            (Keys::Text(m), ValueRef::Text(t)) => take(m, p, t, slot),
            (Keys::Bool(m), ValueRef::Bool(b)) => take(m, p, &b, slot),
            _ => {}
        }
    }

    pub(crate) fn clear(&mut self) {
        self.nulls.clear();
        self.postings.clear();
        match &mut self.keys {
            Keys::Int(m) => m.clear(),
            Keys::Float(m) => m.clear(),
            Keys::Text(m) => m.clear(),
            Keys::Bool(m) => m.clear(),
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        let p = &self.postings;
        let sum = |hs: &mut dyn Iterator<Item = &Handle>| hs.map(|&h| p.len(h)).sum::<usize>();
        self.nulls.len()
            + match &self.keys {
                Keys::Int(m) => sum(&mut m.values()),
                Keys::Float(m) => sum(&mut m.values()),
                Keys::Text(m) => sum(&mut m.values()),
                Keys::Bool(m) => sum(&mut m.values()),
            }
    }

    /// Slots whose value lies within the bounds, in value order (equal values in slot
    /// order). Nulls never match a bound; `Null` as both bounds (an equality on null) walks
    /// the nulls.
    pub(crate) fn range<'a>(&'a self, lo: &Bound<Value>, hi: &Bound<Value>) -> Walk<'a> {
        if let (Bound::Included(Value::Null), Bound::Included(Value::Null)) = (lo, hi) {
            return Box::new(self.nulls.iter().map(|&s| (ValueRef::Null, s)));
        }
        let p = &self.postings;
        match &self.keys {
            Keys::Int(m) => match key_range(int_bound(lo, true), int_bound(hi, false)) {
                Some(r) => Box::new(
                    m.range(r)
                        .flat_map(move |(&k, &h)| p.iter(h).map(move |s| (ValueRef::Int(k), s))),
                ),
                None => Box::new(std::iter::empty()),
            },
            Keys::Float(m) => {
                match key_range(float_bound(lo), float_bound(hi)) {
                    Some(r) => Box::new(m.range(r).flat_map(move |(&k, &h)| {
                        p.iter(h).map(move |s| (ValueRef::Float(k.0), s))
                    })),
                    None => Box::new(std::iter::empty()),
                }
            }
            Keys::Text(m) => match key_range(text_bound(lo), text_bound(hi)) {
                Some(r) => Box::new(
                    m.range::<Box<str>, _>(r)
                        .flat_map(move |(k, &h)| p.iter(h).map(move |s| (ValueRef::Text(k), s))),
                ),
                None => Box::new(std::iter::empty()),
            },
            Keys::Bool(m) => match key_range(bool_bound(lo), bool_bound(hi)) {
                Some(r) => Box::new(
                    m.range(r)
                        .flat_map(move |(&k, &h)| p.iter(h).map(move |s| (ValueRef::Bool(k), s))),
                ),
                None => Box::new(std::iter::empty()),
            },
        }
    }

    /// Every entry in value order, nulls first.
    pub(crate) fn iter(&self) -> Walk<'_> {
        let nulls = self.nulls.iter().map(|&s| (ValueRef::Null, s));
        let p = &self.postings;
        match &self.keys {
            Keys::Int(m) => Box::new(
                nulls.chain(
                    m.iter()
                        .flat_map(move |(&k, &h)| p.iter(h).map(move |s| (ValueRef::Int(k), s))),
                ),
            ),
            Keys::Float(m) => {
                Box::new(nulls.chain(
                    m.iter().flat_map(move |(&k, &h)| {
                        p.iter(h).map(move |s| (ValueRef::Float(k.0), s))
                    }),
                ))
            }
            Keys::Text(m) => Box::new(
                nulls.chain(
                    m.iter()
                        .flat_map(move |(k, &h)| p.iter(h).map(move |s| (ValueRef::Text(k), s))),
                ),
            ),
            Keys::Bool(m) => Box::new(
                nulls.chain(
                    m.iter()
                        .flat_map(move |(&k, &h)| p.iter(h).map(move |s| (ValueRef::Bool(k), s))),
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_hash_matches_value_hash() {
        let h = ValueHasher::default();
        for t in ["", "a", "s123@uni.edu", "ünï"] {
            assert_eq!(h.hash_text(t), h.hash(ValueRef::Text(t)));
        }
    }

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
