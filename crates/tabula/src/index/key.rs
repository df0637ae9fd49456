//! The primary-key index: dense (the key is the slot) while it can be, a hash index of slots
//! otherwise.

use crate::index::{HashIndex, ValueHasher};
use crate::record::Record;
use crate::schema::ColumnType;
use crate::slab::Slab;
use crate::value::ValueRef;

/// The primary-key index. While every live row with integer key `k` sits in slot
/// `k - base` (rows loaded or inserted in key order, auto-increment appends, deletes
/// anywhere), the key is the position and there is no hash table at all: a lookup is one
/// read of the row instead of a hash probe and then the row, and an insert writes no index
/// entry. The first row that breaks the rule (a text key, a key far out of order) builds the
/// hash index, once: a pause proportional to the table on that one insert (the bench README
/// has its size).
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
        rows: &Slab<R>,
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
        rows: &Slab<R>,
        key: ValueRef<'_>,
    ) -> Option<u32> {
        match self {
            KeyIndex::Dense { .. } => self.find_dense(rows, key),
            KeyIndex::Hashed(ix) => ix.find_hashed(hash, rows, key),
        }
    }

    #[inline]
    fn find_dense<R: Record>(&self, rows: &Slab<R>, key: ValueRef<'_>) -> Option<u32> {
        let KeyIndex::Dense {
            col,
            base: Some(base),
        } = self
        else {
            return None;
        };
        let ValueRef::Int(k) = key else { return None };
        let slot = dense_position(*base, k)?;
        rows.get(slot)
            .filter(|r| r.col(*col) == key)
            .map(|_| slot as u32)
    }

    /// Indexes the row now at `slot`; `hash` is its key's [`KeyIndex::hash`]. A row off its
    /// dense position turns the index into a hash index of every live row.
    pub(crate) fn insert<R: Record>(
        &mut self,
        h: &ValueHasher,
        hash: u64,
        rows: &Slab<R>,
        slot: u32,
    ) {
        match self {
            KeyIndex::Dense { col, base } => {
                let Some(row) = rows.get(slot as usize) else {
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
                    let upto = 0..slot as usize + 1;
                    let mut ix = HashIndex::new(*col);
                    ix.reserve(h, rows, rows.live_in(upto.clone()).count());
                    for (s, _) in rows.live_in(upto) {
                        ix.insert(h, rows, s);
                    }
                    *self = KeyIndex::Hashed(ix);
                }
            }
            KeyIndex::Hashed(ix) => ix.insert_hashed(h, hash, rows, slot),
        }
    }

    pub(crate) fn remove<R: Record>(&mut self, h: &ValueHasher, rows: &Slab<R>, slot: u32) {
        if let KeyIndex::Hashed(ix) = self {
            ix.remove(h, rows, slot);
        }
    }

    /// The bytes of this index's hash shards that `newer` does not share.
    pub(crate) fn bytes_not_in(&self, newer: &KeyIndex) -> u64 {
        match (self, newer) {
            (KeyIndex::Dense { .. }, _) => 0,
            (KeyIndex::Hashed(a), KeyIndex::Hashed(b)) => a.bytes_not_in(b),
            (KeyIndex::Hashed(a), KeyIndex::Dense { .. }) => a.bytes(),
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

    pub(crate) fn reserve<R: Record>(&mut self, h: &ValueHasher, rows: &Slab<R>, n: usize) {
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
    pub(crate) fn len<R: Record>(&self, rows: &Slab<R>) -> usize {
        match self {
            KeyIndex::Dense { .. } => rows.live().count(),
            KeyIndex::Hashed(ix) => ix.len(),
        }
    }
}
