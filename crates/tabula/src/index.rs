//! Indexes over the rows of one table. They store slots (positions in the table's row slab),
//! never copies of rows: the primary-key and unique indexes are hash tables of slots that
//! hash and compare through the rows themselves; the ordered index keeps `(value, slot)`.

use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hash, Hasher};
use std::ops::Bound;

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::record::Record;
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
        let col = self.col;
        self.table
            .find(h.hash(v), |&s| {
                rows[s as usize].as_ref().is_some_and(|r| r.col(col) == v)
            })
            .copied()
    }

    /// Adds `slot`, whose row must already be in `rows`. The caller has checked uniqueness.
    pub(crate) fn insert<R: Record>(&mut self, h: &ValueHasher, rows: &[Option<R>], slot: u32) {
        let col = self.col;
        let Some(row) = rows[slot as usize].as_ref() else {
            return;
        };
        let v = row.col(col);
        if v.is_null() {
            return;
        }
        self.table.insert_unique(h.hash(v), slot, |&s| {
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

/// An ordered index of one column: `(value, slot)` pairs, so equal values keep a stable
/// order and ranges are a B-tree walk. Nulls are kept (they sort first) but range and
/// equality lookups on a non-null value never see them.
#[derive(Debug, Default, Clone)]
pub(crate) struct OrderedIndex {
    pub(crate) col: usize,
    set: BTreeSet<(Value, u32)>,
}

impl OrderedIndex {
    pub(crate) fn new(col: usize) -> Self {
        OrderedIndex {
            col,
            set: BTreeSet::new(),
        }
    }

    pub(crate) fn insert(&mut self, v: Value, slot: u32) {
        self.set.insert((v, slot));
    }

    pub(crate) fn remove(&mut self, v: Value, slot: u32) {
        self.set.remove(&(v, slot));
    }

    pub(crate) fn clear(&mut self) {
        self.set.clear();
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.set.len()
    }

    /// Slots whose value lies within the bounds, in value order. Nulls never match a bound
    /// unless the bound is `Null` itself.
    pub(crate) fn range<'a>(
        &'a self,
        lo: &Bound<Value>,
        hi: &Bound<Value>,
    ) -> impl DoubleEndedIterator<Item = (&'a Value, u32)> + 'a {
        let lo = match lo {
            Bound::Included(v) => Bound::Included((v.clone(), 0)),
            Bound::Excluded(v) => Bound::Excluded((v.clone(), u32::MAX)),
            Bound::Unbounded => Bound::Excluded((Value::Null, u32::MAX)),
        };
        let hi = match hi {
            Bound::Included(v) => Bound::Included((v.clone(), u32::MAX)),
            Bound::Excluded(v) => Bound::Excluded((v.clone(), 0)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let empty = match (&lo, &hi) {
            (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
                a > b
                    || (a == b
                        && (matches!(lo, Bound::Excluded(_)) || matches!(hi, Bound::Excluded(_))))
            }
            _ => false,
        };
        let it = if empty {
            None
        } else {
            Some(self.set.range((lo, hi)))
        };
        it.into_iter().flatten().map(|(v, s)| (v, *s))
    }

    /// Every entry in value order, nulls first.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (&Value, u32)> + '_ {
        self.set.iter().map(|(v, s)| (v, *s))
    }
}
