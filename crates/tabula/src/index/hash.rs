//! The hash index of a unique column: value to slot, hashing and comparing through the rows
//! themselves, so it stores nothing but slots.

use hashbrown::HashTable;

use crate::index::ValueHasher;
use crate::record::Record;
use crate::value::ValueRef;

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
