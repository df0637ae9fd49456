//! The ordered index of one column: each value with the set of slots holding it, so equal
//! values come out in slot order and ranges are an ordered walk.
//!
//! Keys are stored in the column's own type ([`IndexKey`]: `i64`, a totally ordered float,
//! text or `bool`), so comparisons are plain integer, float, string or bool comparisons.
//! [`Keys`] is the one implementation over any key type; [`OrderedIndex`] reaches it through
//! the object-safe [`KeyMap`], chosen once from the column's type.
//!
//! # Copy-on-write
//!
//! Readers keep an old version of a table while a writer changes a clone of it, and the
//! writer clones a table's indexes at its first write in every commit. So a clone must not
//! copy the entries, and a change to a clone must copy only the little it touches:
//!
//! - The keys are cut into leaves: sorted runs of at most [`LEAF_MAX`] keys, each behind an
//!   [`Arc`]. Cloning an index clones the list of leaves (a reference count per leaf), never
//!   a key. A change copies the one leaf it touches, and only if that leaf is shared
//!   ([`Arc::make_mut`]); every other leaf stays shared with the older versions.
//! - Each key's set of slots is an [`Entry`]: the slot itself, or a list or bitmap behind an
//!   `Arc`, copied the same way when it changes (see [`posting`](super::posting)). The nulls
//!   are one such set.
//! - Text keys are `Arc<str>`, so copying a leaf copies pointers, never strings.
//!
//! A leaf is a sorted `Vec`: one allocation and a flat copy when it is copied, a binary search
//! to find a key, and an insert shifts at most a leaf's entries. Leaves are found by binary
//! search on their first keys ([`Keys::firsts`]). A full leaf splits in two; a leaf left
//! empty is dropped; leaves never merge (a leaf that shrank is merely small).

use std::borrow::Borrow;
use std::fmt;
use std::ops::Bound;
use std::sync::Arc;

use crate::index::posting::Entry;
use crate::schema::ColumnType;
use crate::value::{Value, ValueRef};

/// A walk over index entries: each value with one slot holding it.
pub(crate) type Walk<'a> = Box<dyn DoubleEndedIterator<Item = (ValueRef<'a>, u32)> + 'a>;

/// A column value as an ordered index stores it.
pub(super) trait IndexKey:
    Ord + Clone + fmt::Debug + Send + Sync + 'static + Borrow<Self::Probe>
{
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
        self.cmp(o).is_eq()
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
        use crate::value::one_nan;
        one_nan(self.0).total_cmp(&one_nan(o.0))
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
            // Every NaN sorts above every number (`value::one_nan`): no integer is at or
            // above it, every one below.
            Value::Float(f) if f.is_nan() => {
                if is_lower {
                    Err(())
                } else {
                    Ok(Bound::Unbounded)
                }
            }
            // Every integer compares as a float, 0 as +0.0, which is above -0.0: the ints
            // above -0.0 start at 0, and none is at or below it.
            Value::Float(f) if *f == 0.0 && f.is_sign_negative() => Ok(if is_lower {
                Bound::Included(0)
            } else {
                Bound::Excluded(0)
            }),
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
    /// An integer bound no float holds exactly bounds by the nearest float on its side: the
    /// floats at or above 2^53 + 1 start above 2^53 + 1's nearest float when that is below
    /// it, and include it when it is above (no float lies between the two).
    fn bound(b: &Bound<Value>, is_lower: bool) -> Result<Bound<TotalF64>, ()> {
        let (v, excluded) = match b {
            Bound::Unbounded => return Ok(Bound::Unbounded),
            Bound::Included(v) => (v, false),
            Bound::Excluded(v) => (v, true),
        };
        let exact = |f: f64| {
            if excluded {
                Bound::Excluded(TotalF64(f))
            } else {
                Bound::Included(TotalF64(f))
            }
        };
        match v {
            Value::Int(i) => {
                let f = *i as f64;
                // `f` is finite and integral, within ±2^63: an i128 holds it exactly.
                Ok(match ((f as i128).cmp(&i128::from(*i)), is_lower) {
                    (std::cmp::Ordering::Equal, _) => exact(f),
                    (std::cmp::Ordering::Greater, true) => Bound::Included(TotalF64(f)),
                    (std::cmp::Ordering::Greater, false) => Bound::Excluded(TotalF64(f)),
                    (std::cmp::Ordering::Less, true) => Bound::Excluded(TotalF64(f)),
                    (std::cmp::Ordering::Less, false) => Bound::Included(TotalF64(f)),
                })
            }
            Value::Float(f) => Ok(exact(*f)),
            _ => Err(()),
        }
    }
}

/// Text keys are shared, so that copying a leaf copies no string.
impl IndexKey for Arc<str> {
    type Probe = str;
    fn with_probe<O>(v: ValueRef<'_>, f: impl FnOnce(&str) -> O) -> Option<O> {
        match v {
            ValueRef::Text(t) => Some(f(t)),
            _ => None,
        }
    }
    fn own(p: &str) -> Arc<str> {
        Arc::from(p)
    }
    fn value(&self) -> ValueRef<'_> {
        ValueRef::Text(self)
    }
    fn bound(b: &Bound<Value>, _: bool) -> Result<Bound<Arc<str>>, ()> {
        map_bound(b, |v| v.as_str().map(Arc::from))
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

/// Most keys a leaf holds: a full leaf splits in two before it takes another, so leaves
/// hold from half of this up to all of it while they grow (fewer once keys are removed).
const LEAF_MAX: usize = 1024;

/// Spare room, in entries, given to a shared leaf copied for an insert: the writer that
/// copied it often inserts next to the first key (keys that grow, like ids or dates), and the
/// room spares it a second copy when the leaf's `Vec` would grow.
const INSERT_ROOM: usize = 16;

/// A sorted run of keys, each with its set of slots.
type Leaf<K> = Vec<(K, Entry)>;

/// A place between entries: a leaf and an index into it, up to its length (just past its
/// last entry). [`Keys::position`] gives each place one spelling, so positions compare as
/// the places they name.
pub(super) type Pos = (usize, usize);

/// The non-null values of one column, each with its set of slots, in copy-on-write leaves.
///
/// Invariants: every leaf holds from 1 to `leaf_max` entries, in ascending key order, and
/// its keys are all below the next leaf's; `firsts[i]` is the first key of `leaves[i]`.
#[derive(Debug, Clone)]
pub(super) struct Keys<K: IndexKey> {
    leaves: Vec<Arc<Leaf<K>>>,
    /// Each leaf's first key, to find a leaf without reading the leaves.
    firsts: Vec<K>,
    /// [`LEAF_MAX`], smaller in tests to exercise splits; at least 2, so a split leaves two
    /// non-empty halves.
    leaf_max: usize,
}

impl<K: IndexKey> Keys<K> {
    /// No keys, leaves of at most [`LEAF_MAX`] keys.
    pub(super) fn new() -> Self {
        Keys {
            leaves: Vec::new(),
            firsts: Vec::new(),
            leaf_max: LEAF_MAX,
        }
    }

    /// The leaf that would hold `p`: the last one whose first key is not above it (the first
    /// leaf for a key below all of them). There must be a leaf.
    fn leaf_of(&self, p: &K::Probe) -> usize {
        self.firsts
            .partition_point(|f| f.borrow() <= p)
            .saturating_sub(1)
    }

    /// Where `p` is in leaf `li`: `Ok` with its index, or `Err` with where it would go.
    fn find(&self, li: usize, p: &K::Probe) -> Result<usize, usize> {
        self.leaves[li].binary_search_by(|(k, _)| k.borrow().cmp(p))
    }

    /// The place before the first key for which `before` is false. `before` must hold for a
    /// prefix of the keys (it tests a key against a lower or upper bound).
    pub(super) fn position(&self, before: impl Fn(&K) -> bool) -> Pos {
        match self.firsts.partition_point(&before) {
            0 => (0, 0),
            j => (
                j - 1,
                self.leaves[j - 1].partition_point(|(k, _)| before(k)),
            ),
        }
    }

    /// The place after the last entry.
    pub(super) fn end(&self) -> Pos {
        self.leaves
            .last()
            .map_or((0, 0), |l| (self.leaves.len() - 1, l.len()))
    }

    /// Every slot of the entries between two places, lazily, from either end.
    pub(super) fn walk(&self, from: Pos, to: Pos) -> Walk<'_> {
        if from >= to {
            return Box::new(std::iter::empty());
        }
        let last = to.0 - from.0;
        let runs = self.leaves[from.0..=to.0]
            .iter()
            .enumerate()
            .map(move |(i, leaf)| {
                let start = if i == 0 { from.1 } else { 0 };
                let end = if i == last { to.1 } else { leaf.len() };
                &leaf[start..end]
            });
        Box::new(
            runs.flatten()
                .flat_map(|(k, e)| e.iter().map(move |s| (k.value(), s))),
        )
    }

    /// Leaf `li`, to change: first copied, with room for `room` more entries, if another
    /// version shares it.
    fn leaf_mut(&mut self, li: usize, room: usize) -> &mut Leaf<K> {
        let leaf = &mut self.leaves[li];
        // A count read rather than `Arc::get_mut`, so that the common unshared case costs one
        // atomic operation (in `make_mut`), not two. `make_mut` is right whatever the count
        // said: it copies a leaf that is still shared.
        if Arc::strong_count(leaf) > 1 {
            let mut copy = Vec::with_capacity(leaf.len() + room);
            copy.extend_from_slice(leaf);
            *leaf = Arc::new(copy);
        }
        // Not shared any more: no copy here.
        Arc::make_mut(leaf)
    }

    /// Splits full leaf `li` into two halves, the second as leaf `li + 1`. A shared leaf is
    /// not copied whole first: each half is copied from it.
    fn split(&mut self, li: usize) {
        let mid = self.leaves[li].len() / 2;
        let right = match Arc::get_mut(&mut self.leaves[li]) {
            Some(leaf) => {
                let right = leaf.split_off(mid);
                leaf.shrink_to_fit();
                right
            }
            None => {
                let right = self.leaves[li][mid..].to_vec();
                self.leaves[li] = Arc::new(self.leaves[li][..mid].to_vec());
                right
            }
        };
        self.firsts.insert(li + 1, right[0].0.clone());
        self.leaves.insert(li + 1, Arc::new(right));
    }

    /// Adds `slot` under key `p`.
    pub(super) fn insert_probe(&mut self, p: &K::Probe, slot: u32) {
        if self.leaves.is_empty() {
            self.firsts.push(K::own(p));
            self.leaves
                .push(Arc::new(vec![(K::own(p), Entry::One(slot))]));
            return;
        }
        let mut li = self.leaf_of(p);
        match self.find(li, p) {
            Ok(i) => {
                // Checked first, so that a shared leaf is not copied for nothing.
                if !self.leaves[li][i].1.contains(slot) {
                    self.leaf_mut(li, 0)[i].1.insert(slot);
                }
            }
            Err(mut i) => {
                if self.leaves[li].len() >= self.leaf_max {
                    self.split(li);
                    let left = self.leaves[li].len();
                    if i > left {
                        li += 1;
                        i -= left;
                    }
                }
                let key = K::own(p);
                if i == 0 {
                    // Only below the first leaf's first key: any other leaf's first
                    // key is at most `p`, and equal would have been found.
                    self.firsts[li] = key.clone();
                }
                // The leaf is below `leaf_max` here (split if it was full): the room
                // stays within it.
                let room = INSERT_ROOM.min(self.leaf_max - self.leaves[li].len());
                self.leaf_mut(li, room).insert(i, (key, Entry::One(slot)));
            }
        }
    }

    /// Removes `slot` from key `p`'s entry, if it is there.
    pub(super) fn remove_probe(&mut self, p: &K::Probe, slot: u32) {
        if self.leaves.is_empty() {
            return;
        }
        let li = self.leaf_of(p);
        let Ok(i) = self.find(li, p) else { return };
        // Checked first, so that a shared leaf is not copied for nothing.
        if !self.leaves[li][i].1.contains(slot) {
            return;
        }
        let leaf = self.leaf_mut(li, 0);
        if leaf[i].1.remove(slot) {
            return;
        }
        leaf.remove(i);
        if leaf.is_empty() {
            self.leaves.remove(li);
            self.firsts.remove(li);
        } else if i == 0 {
            self.firsts[li] = leaf[0].0.clone();
        }
    }
}

/// [`Keys`] of any key type, behind one object-safe face. Values of another kind than the
/// column's never reach it: rows are checked against the schema before they are indexed.
trait KeyMap: fmt::Debug + Send + Sync {
    fn insert(&mut self, v: ValueRef<'_>, slot: u32);
    fn remove(&mut self, v: ValueRef<'_>, slot: u32);
    fn range<'a>(&'a self, lo: &Bound<Value>, hi: &Bound<Value>) -> Walk<'a>;
    fn iter(&self) -> Walk<'_>;
    fn clear(&mut self);
    /// A copy sharing every leaf with this one.
    fn boxed_clone(&self) -> Box<dyn KeyMap>;
    #[cfg(test)]
    fn entries(&self) -> usize;
    /// Panics unless the invariants of [`Keys`] hold.
    #[cfg(test)]
    fn check(&self);
    /// The identity (address) of each leaf, to tell shared leaves from copies.
    #[cfg(test)]
    fn leaf_ids(&self) -> Vec<usize>;
}

impl<K: IndexKey> KeyMap for Keys<K> {
    fn insert(&mut self, v: ValueRef<'_>, slot: u32) {
        K::with_probe(v, |p| self.insert_probe(p, slot));
    }

    fn remove(&mut self, v: ValueRef<'_>, slot: u32) {
        K::with_probe(v, |p| self.remove_probe(p, slot));
    }

    fn range<'a>(&'a self, lo: &Bound<Value>, hi: &Bound<Value>) -> Walk<'a> {
        let (Ok(lo), Ok(hi)) = (K::bound(lo, true), K::bound(hi, false)) else {
            return Box::new(std::iter::empty());
        };
        let from = match &lo {
            Bound::Unbounded => (0, 0),
            Bound::Included(x) => self.position(|k| k < x),
            Bound::Excluded(x) => self.position(|k| k <= x),
        };
        let to = match &hi {
            Bound::Unbounded => self.end(),
            Bound::Included(x) => self.position(|k| k <= x),
            Bound::Excluded(x) => self.position(|k| k < x),
        };
        // Bounds that select nothing (above one another) give `from >= to`.
        self.walk(from, to)
    }

    fn iter(&self) -> Walk<'_> {
        self.walk((0, 0), self.end())
    }

    fn clear(&mut self) {
        self.leaves.clear();
        self.firsts.clear();
    }

    fn boxed_clone(&self) -> Box<dyn KeyMap> {
        Box::new(self.clone())
    }

    #[cfg(test)]
    fn entries(&self) -> usize {
        self.leaves
            .iter()
            .flat_map(|l| l.iter())
            .map(|(_, e)| e.len())
            .sum()
    }

    #[cfg(test)]
    fn check(&self) {
        assert_eq!(self.leaves.len(), self.firsts.len());
        let mut prev: Option<&K> = None;
        for (leaf, first) in self.leaves.iter().zip(&self.firsts) {
            assert!(!leaf.is_empty() && leaf.len() <= self.leaf_max);
            assert_eq!(&leaf[0].0, first);
            for (k, e) in leaf.iter() {
                if let Some(p) = prev {
                    assert!(p < k, "{p:?} then {k:?}");
                }
                assert!(matches!(e, Entry::One(_)) || e.len() >= 2);
                prev = Some(k);
            }
        }
    }

    #[cfg(test)]
    fn leaf_ids(&self) -> Vec<usize> {
        self.leaves
            .iter()
            .map(|l| Arc::as_ptr(l) as *const () as usize)
            .collect()
    }
}

/// An ordered index of one column. Nulls are kept apart: they sort first, and range and
/// equality lookups on a non-null value never see them.
///
/// Cloning it is cheap and the clone is independent: see the module's copy-on-write notes.
#[derive(Debug)]
pub(crate) struct OrderedIndex {
    pub(crate) col: usize,
    keys: Box<dyn KeyMap>,
    /// The slots holding null, if any.
    nulls: Option<Entry>,
}

impl Clone for OrderedIndex {
    fn clone(&self) -> Self {
        OrderedIndex {
            col: self.col,
            keys: self.keys.boxed_clone(),
            nulls: self.nulls.clone(),
        }
    }
}

fn keys<K: IndexKey>(leaf_max: usize) -> Box<dyn KeyMap> {
    assert!(leaf_max >= 2, "a leaf must split in two non-empty halves");
    Box::new(Keys::<K> {
        leaves: Vec::new(),
        firsts: Vec::new(),
        leaf_max,
    })
}

impl OrderedIndex {
    pub(crate) fn new(col: usize, ty: ColumnType) -> Self {
        Self::with_leaf_max(col, ty, LEAF_MAX)
    }

    /// An index whose leaves hold at most `leaf_max` keys (tests use small leaves).
    fn with_leaf_max(col: usize, ty: ColumnType, leaf_max: usize) -> Self {
        let keys = if ty.is_int() {
            keys::<i64>(leaf_max)
        } else if ty.is_float() {
            keys::<TotalF64>(leaf_max)
        } else if ty == ColumnType::Bool {
            keys::<bool>(leaf_max)
        } else {
            keys::<Arc<str>>(leaf_max)
        };
        OrderedIndex {
            col,
            keys,
            nulls: None,
        }
    }

    pub(crate) fn insert(&mut self, v: ValueRef<'_>, slot: u32) {
        if !v.is_null() {
            self.keys.insert(v, slot);
        } else if let Some(nulls) = &mut self.nulls {
            nulls.insert(slot);
        } else {
            self.nulls = Some(Entry::One(slot));
        }
    }

    pub(crate) fn remove(&mut self, v: ValueRef<'_>, slot: u32) {
        if !v.is_null() {
            self.keys.remove(v, slot);
        } else if let Some(nulls) = &mut self.nulls {
            if !nulls.remove(slot) {
                self.nulls = None;
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        self.nulls = None;
        self.keys.clear();
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.nulls.as_ref().map_or(0, Entry::len) + self.keys.entries()
    }

    /// The null entries, in slot order.
    fn null_walk(&self) -> impl DoubleEndedIterator<Item = (ValueRef<'_>, u32)> + '_ {
        self.nulls
            .iter()
            .flat_map(Entry::iter)
            .map(|s| (ValueRef::Null, s))
    }

    /// Slots whose value lies within the bounds, in value order (equal values in slot
    /// order). Nulls never match a bound; `Null` as both bounds (an equality on null) walks
    /// the nulls.
    pub(crate) fn range<'a>(&'a self, lo: &Bound<Value>, hi: &Bound<Value>) -> Walk<'a> {
        if let (Bound::Included(Value::Null), Bound::Included(Value::Null)) = (lo, hi) {
            return Box::new(self.null_walk());
        }
        self.keys.range(lo, hi)
    }

    /// Every entry in value order, nulls first.
    pub(crate) fn iter(&self) -> Walk<'_> {
        Box::new(self.null_walk().chain(self.keys.iter()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;

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

    /// Every entry of an index, owned.
    fn entries(ix: &OrderedIndex) -> Vec<(Value, u32)> {
        ix.iter().map(|(v, s)| (v.to_owned(), s)).collect()
    }

    /// A small xorshift generator: deterministic tests without a dependency.
    fn rng(mut x: u64) -> impl FnMut(u64) -> u64 {
        move |n| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        }
    }

    /// A clone keeps every entry while the original goes through thousands of inserts and
    /// removes (of distinct keys, of values whose sets are bitmaps, and of nulls), and the
    /// original matches a sorted model.
    #[test]
    fn a_clone_is_unchanged_by_writes_to_the_original() {
        let mut next = rng(0x9e37_79b9_7f4a_7c15);
        let mut ix = OrderedIndex::new(0, ColumnType::I64);
        let mut model = std::collections::BTreeSet::new();
        // `None` is null; keys 0..3 are held by many slots, the others mostly by one.
        let key = |next: &mut dyn FnMut(u64) -> u64| match next(10) {
            0 => None,
            1..=4 => Some(next(3) as i64),
            _ => Some(next(1_000_000) as i64 - 500_000),
        };
        let value = |k: Option<i64>| k.map_or(Value::Null, Value::Int);
        for _ in 0..20_000 {
            let (k, slot) = (key(&mut next), next(30_000) as u32);
            ix.insert(value(k).as_ref(), slot);
            model.insert((k, slot));
        }
        let copy = ix.clone();
        let before = entries(&copy);
        assert_eq!(before.len(), model.len());
        for step in 0..20_000 {
            if next(2) == 0 {
                let (k, slot) = (key(&mut next), next(30_000) as u32);
                ix.insert(value(k).as_ref(), slot);
                model.insert((k, slot));
            } else {
                // Mostly an entry that is there (the next one from a random point), sometimes
                // one that may not be.
                let mut e = (key(&mut next), next(30_000) as u32);
                if next(10) > 0 {
                    e = model.range(e..).next().copied().unwrap_or(e);
                }
                let (k, slot) = e;
                ix.remove(value(k).as_ref(), slot);
                model.remove(&(k, slot));
            }
            if step % 5000 == 0 {
                ix.keys.check();
            }
        }
        ix.keys.check();
        copy.keys.check();
        assert_eq!(entries(&copy), before);
        let want: Vec<(Value, u32)> = model.iter().map(|&(k, s)| (value(k), s)).collect();
        assert_eq!(entries(&ix), want);
        assert_eq!(ix.len(), want.len());
    }

    /// A clone shares every leaf; one insert or remove then copies only the leaf it touches
    /// (two, when that leaf was full and split), and a no-op copies nothing.
    #[test]
    fn one_write_after_a_clone_copies_one_leaf() {
        let mut ix = OrderedIndex::new(0, ColumnType::Text);
        for i in 0..20_000u32 {
            ix.insert(ValueRef::Text(&format!("k{:06}", i * 2)), i);
        }
        let leaves = ix.keys.leaf_ids();
        assert!(leaves.len() >= 20_000 / LEAF_MAX, "{}", leaves.len());
        let copied = |a: &OrderedIndex, b: &OrderedIndex| {
            let (a, b) = (a.keys.leaf_ids(), b.keys.leaf_ids());
            b.iter().filter(|id| !a.contains(id)).count()
        };
        let mut copy = ix.clone();
        assert_eq!(copy.keys.leaf_ids(), leaves);
        // No-ops: a slot already there, a slot or a key that is not.
        copy.insert(ValueRef::Text("k000100"), 50);
        copy.remove(ValueRef::Text("k000100"), 51);
        copy.remove(ValueRef::Text("k000101"), 50);
        assert_eq!(copy.keys.leaf_ids(), leaves);
        copy.insert(ValueRef::Text("k010001"), 99_999);
        assert!((1..=2).contains(&copied(&ix, &copy)));
        let mut other = ix.clone();
        other.remove(ValueRef::Text("k030000"), 15_000);
        assert_eq!(copied(&ix, &other), 1);
        assert_eq!(ix.len(), 20_000);
        assert_eq!((copy.len(), other.len()), (20_001, 19_999));
        // Once the clones are gone, the original's leaves are its own again: changed in place.
        drop((copy, other));
        ix.insert(ValueRef::Text("k030000"), 7);
        assert_eq!(ix.keys.leaf_ids(), leaves);
    }

    /// A key of the model of an index: `Ord` as the index orders values, nulls (`None`) first.
    trait ModelKey: Ord + Clone + fmt::Debug {
        fn value(&self) -> Value;
    }
    impl ModelKey for i64 {
        fn value(&self) -> Value {
            Value::Int(*self)
        }
    }
    impl ModelKey for String {
        fn value(&self) -> Value {
            Value::from(self.as_str())
        }
    }

    fn value_of<M: ModelKey>(k: &Option<M>) -> Value {
        k.as_ref().map_or(Value::Null, M::value)
    }

    /// An action on one of the live versions (`v` is taken modulo their number).
    #[derive(Debug, Clone)]
    enum Op<M> {
        Insert(usize, Option<M>, u32),
        /// Removes the version's `n`th entry (modulo its length): a remove that hits.
        RemoveNth(usize, usize),
        /// Removes an entry that may not be there.
        Remove(usize, Option<M>, u32),
        /// Inserts a run of slots (`start..start + len`) of one value, as a bulk load would.
        InsertRun(usize, Option<M>, u32, u32),
        /// Removes a run of slots of one value, as a bulk delete would.
        RemoveRun(usize, Option<M>, u32, u32),
        Clone(usize),
        Drop(usize),
        /// Checks the version against its model, with a range between these bounds (or
        /// the nulls, for `true`).
        Check(usize, Bound<M>, Bound<M>, bool),
    }

    type Model<M> = std::collections::BTreeSet<(Option<M>, u32)>;

    /// Inserts are weighted up, and runs of slots inserted at once, so that the few common
    /// keys grow bitmaps (64 slots or more out of a few hundred) and shrink back.
    fn op<M: ModelKey + 'static>(
        key: impl proptest::strategy::Strategy<Value = M> + Clone + 'static,
    ) -> impl proptest::strategy::Strategy<Value = Op<M>> {
        use proptest::prelude::*;
        let opt = prop_oneof![1 => Just(None), 4 => key.clone().prop_map(Some)];
        let bound = prop_oneof![
            Just(Bound::Unbounded),
            key.clone().prop_map(Bound::Included),
            key.prop_map(Bound::Excluded),
        ];
        let v = 0usize..8;
        prop_oneof![
            10 => (v.clone(), opt.clone(), 0u32..256).prop_map(|(v, k, s)| Op::Insert(v, k, s)),
            3 => (v.clone(), any::<usize>()).prop_map(|(v, n)| Op::RemoveNth(v, n)),
            1 => (v.clone(), opt.clone(), 0u32..256).prop_map(|(v, k, s)| Op::Remove(v, k, s)),
            1 => (v.clone(), opt.clone(), 0u32..256, 0u32..100)
                .prop_map(|(v, k, s, n)| Op::InsertRun(v, k, s, n)),
            1 => (v.clone(), opt, 0u32..256, 0u32..100)
                .prop_map(|(v, k, s, n)| Op::RemoveRun(v, k, s, n)),
            1 => v.clone().prop_map(Op::Clone),
            1 => v.clone().prop_map(Op::Drop),
            2 => (v, bound.clone(), bound, any::<bool>())
                .prop_map(|(v, lo, hi, nulls)| Op::Check(v, lo, hi, nulls)),
        ]
    }

    /// Checks one version against its model: `iter`, `len`, and `range` from both ends.
    fn check<M: ModelKey>(
        ix: &OrderedIndex,
        model: &Model<M>,
        lo: Bound<M>,
        hi: Bound<M>,
        nulls: bool,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        use proptest::prop_assert_eq;
        ix.keys.check();
        let want: Vec<(Value, u32)> = model.iter().map(|(k, s)| (value_of(k), *s)).collect();
        prop_assert_eq!(entries(ix), want.clone());
        let back: Vec<(Value, u32)> = ix.iter().rev().map(|(v, s)| (v.to_owned(), s)).collect();
        prop_assert_eq!(back, want.iter().rev().cloned().collect::<Vec<_>>());
        prop_assert_eq!(ix.len(), want.len());
        let (want, lo, hi): (Vec<(Value, u32)>, _, _) = if nulls {
            let want = model.iter().filter(|(k, _)| k.is_none());
            let null = Bound::Included(Value::Null);
            (
                want.map(|(_, s)| (Value::Null, *s)).collect(),
                null.clone(),
                null,
            )
        } else {
            let want = model.iter().filter(|(k, _)| {
                k.as_ref().is_some_and(|k| {
                    std::ops::RangeBounds::contains(&(lo.as_ref(), hi.as_ref()), k)
                })
            });
            let map = |b: &Bound<M>| match b {
                Bound::Unbounded => Bound::Unbounded,
                Bound::Included(k) => Bound::Included(k.value()),
                Bound::Excluded(k) => Bound::Excluded(k.value()),
            };
            (
                want.map(|(k, s)| (value_of(k), *s)).collect(),
                map(&lo),
                map(&hi),
            )
        };
        let got: Vec<(Value, u32)> = ix.range(&lo, &hi).map(|(v, s)| (v.to_owned(), s)).collect();
        prop_assert_eq!(&got, &want, "{:?}..{:?}", lo, hi);
        let back: Vec<(Value, u32)> = ix
            .range(&lo, &hi)
            .rev()
            .map(|(v, s)| (v.to_owned(), s))
            .collect();
        prop_assert_eq!(back, want.iter().rev().cloned().collect::<Vec<_>>());
        // Both ends at once meet without losing or repeating an entry.
        let mut it = ix.range(&lo, &hi);
        let (mut front, mut rear) = (Vec::new(), Vec::new());
        while let Some((v, s)) = it.next() {
            front.push((v.to_owned(), s));
            match it.next_back() {
                Some((v, s)) => rear.push((v.to_owned(), s)),
                None => break,
            }
        }
        front.extend(rear.into_iter().rev());
        prop_assert_eq!(front, want);
        Ok(())
    }

    /// Runs `ops` over versions of one index (each a clone of another, taken along the way)
    /// and checks every version against its own model.
    fn run<M: ModelKey>(
        ty: ColumnType,
        leaf_max: usize,
        ops: Vec<Op<M>>,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let mut versions = vec![(
            OrderedIndex::with_leaf_max(0, ty, leaf_max),
            Model::<M>::new(),
        )];
        for op in ops {
            let n = versions.len();
            match op {
                Op::Insert(v, k, s) => {
                    let (ix, model) = &mut versions[v % n];
                    ix.insert(value_of(&k).as_ref(), s);
                    model.insert((k, s));
                }
                Op::RemoveNth(v, i) => {
                    let (ix, model) = &mut versions[v % n];
                    if let Some((k, s)) = model.iter().nth(i % model.len().max(1)).cloned() {
                        ix.remove(value_of(&k).as_ref(), s);
                        model.remove(&(k, s));
                    }
                }
                Op::Remove(v, k, s) => {
                    let (ix, model) = &mut versions[v % n];
                    ix.remove(value_of(&k).as_ref(), s);
                    model.remove(&(k, s));
                }
                Op::InsertRun(v, k, start, len) => {
                    let (ix, model) = &mut versions[v % n];
                    for s in start..start + len {
                        ix.insert(value_of(&k).as_ref(), s);
                        model.insert((k.clone(), s));
                    }
                }
                Op::RemoveRun(v, k, start, len) => {
                    let (ix, model) = &mut versions[v % n];
                    for s in start..start + len {
                        ix.remove(value_of(&k).as_ref(), s);
                        model.remove(&(k.clone(), s));
                    }
                }
                Op::Clone(v) if n < 6 => {
                    let copy = versions[v % n].clone();
                    versions.push(copy);
                }
                Op::Drop(v) if n > 1 => {
                    versions.swap_remove(v % n);
                }
                Op::Clone(_) | Op::Drop(_) => {}
                Op::Check(v, lo, hi, nulls) => {
                    let (ix, model) = &versions[v % n];
                    check(ix, model, lo, hi, nulls)?;
                }
            }
        }
        for (ix, model) in &versions {
            check(ix, model, Bound::Unbounded, Bound::Unbounded, false)?;
        }
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

        /// Int keys: two common values (sets that become bitmaps) among many rare ones.
        #[test]
        fn int_versions_match_their_models(
            leaf_max in proptest::prop_oneof![2usize..6, proptest::strategy::Just(LEAF_MAX)],
            ops in proptest::collection::vec(
                op(proptest::prop_oneof![4 => 0i64..2, 1 => -300i64..300]),
                1..1200,
            ),
        ) {
            run(ColumnType::I64, leaf_max, ops)?;
        }

        /// Text keys, the empty string among them.
        #[test]
        fn text_versions_match_their_models(
            leaf_max in proptest::prop_oneof![2usize..6, proptest::strategy::Just(LEAF_MAX)],
            ops in proptest::collection::vec(
                op(proptest::prop_oneof![
                    4 => proptest::sample::select(vec!["", "a", "ab"]).prop_map(String::from),
                    1 => (0u32..400).prop_map(|n| format!("k{n}")),
                ]),
                1..1200,
            ),
        ) {
            run(ColumnType::Text, leaf_max, ops)?;
        }
    }
}
