//! The hash index of a unique column: value to slot, hashing and comparing through the rows
//! themselves, so it stores nothing but slots.
//!
//! Versions of a table share their indexes (see `docs/ARCHITECTURE.md`, "Versions"), so the
//! table is split into shards by the hash's middle bits, each behind an `Arc`, the shards
//! into groups of [`FAN`] and the groups into blocks of [`FAN`], each behind an `Arc` too: a
//! clone copies one pointer per block, and the first write after a clone copies the block
//! and the group it touches (their pointers) and the shard (its entries). Every pointer
//! copied is a reference count raised, and lowered again when the old version goes: two
//! small levels cost a single-row commit fewer of them than one wide one. Shards double in
//! number as the index grows, keeping each small enough that a single-row commit copies a
//! few kilobytes, not the index. (The middle bits are used because hashbrown takes a
//! bucket's position from the low bits and its tag from the top seven: a shard's entries
//! agree on the middle bits only, so neither is skewed.)

use std::sync::Arc;

use hashbrown::HashTable;

use crate::index::ValueHasher;
use crate::record::Record;
use crate::slab::Slab;
use crate::value::ValueRef;

/// A shard holds at most this many entries on average before the shards double.
const SHARD_ENTRIES: usize = 64;
/// Shards per group, and groups per block (a power of two).
const FAN: usize = 16;
/// Shards per block.
const BLOCK: usize = FAN * FAN;
/// Where the shard number starts in a hash.
const SHARD_SHIFT: u32 = 24;

/// The shard of `hash` among `shards` (a power of two).
#[inline]
fn shard_in(hash: u64, shards: usize) -> usize {
    (hash >> SHARD_SHIFT) as usize & (shards - 1)
}

/// The shards for `total` entries: `from` (a power of two), doubled as often as needed.
fn shards_for(total: usize, from: usize) -> usize {
    let mut n = from;
    while total > n * SHARD_ENTRIES {
        n *= 2;
    }
    n
}

/// The room each of `n` shards gets when `total` entries are spread over them: a quarter
/// more than the average, so that a shard a little fuller than the rest does not regrow
/// while they are spread, or at the next inserts.
fn room_per_shard(total: usize, n: usize) -> usize {
    total.div_ceil(n) + total.div_ceil(4 * n)
}

/// A hash index from one column's value (or several columns' values) to the slot holding
/// it: the primary key, every unique column and every composite unique constraint have one.
/// Nulls are not indexed (a unique nullable column may hold many; a composite key with a
/// null in any column collides with nothing, as in SQL).
#[derive(Debug, Clone)]
pub(crate) struct HashIndex {
    /// The first (for most indexes, the only) column.
    pub(crate) col: usize,
    /// The columns after the first of a composite index; empty for one column.
    rest: Arc<[usize]>,
    shards: Shards,
    len: usize,
}

/// [`FAN`] shards (fewer when there are fewer).
type Group = Arc<[Arc<HashTable<u32>>]>;

/// A power of two of hash tables, in blocks of [`FAN`] groups (fewer when there are fewer).
#[derive(Debug, Clone)]
struct Shards {
    blocks: Vec<Arc<[Group]>>,
    len: usize,
}

impl Shards {
    /// `tables.len()` must be a power of two.
    fn new(tables: Vec<HashTable<u32>>) -> Self {
        let len = tables.len();
        let mut tables = tables.into_iter().map(Arc::new);
        let mut groups = (0..len.div_ceil(FAN)).map(|_| tables.by_ref().take(FAN).collect());
        let blocks = (0..len.div_ceil(BLOCK))
            .map(|_| groups.by_ref().take(FAN).collect())
            .collect();
        Shards { blocks, len }
    }

    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn get(&self, i: usize) -> &HashTable<u32> {
        &self.blocks[i / BLOCK][i / FAN % FAN][i % FAN]
    }

    /// Shard `i`, to change: its block, its group and then it copied first if another
    /// version shares them.
    #[inline]
    fn get_mut(&mut self, i: usize) -> &mut HashTable<u32> {
        let block = Arc::make_mut(&mut self.blocks[i / BLOCK]);
        let group = Arc::make_mut(&mut block[i / FAN % FAN]);
        Arc::make_mut(&mut group[i % FAN])
    }

    fn iter(&self) -> impl Iterator<Item = &Arc<HashTable<u32>>> {
        self.blocks
            .iter()
            .flat_map(|b| b.iter())
            .flat_map(|g| g.iter())
    }
}

/// The key columns of a hash index, to hash and compare rows by.
#[derive(Clone, Copy)]
struct KeyCols<'a> {
    col: usize,
    rest: &'a [usize],
}

impl KeyCols<'_> {
    /// The hash of a row's key; `None` if the key holds a null (not indexed).
    #[inline]
    fn hash<R: Record>(self, h: &ValueHasher, row: &R) -> Option<u64> {
        let v = row.col(self.col);
        if v.is_null() {
            return None;
        }
        if self.rest.is_empty() {
            return Some(h.hash(v));
        }
        if self.rest.iter().any(|&c| row.col(c).is_null()) {
            return None;
        }
        Some(h.hash_tuple(std::iter::once(v).chain(self.rest.iter().map(|&c| row.col(c)))))
    }

    /// Whether a row's key holds a null (then [`KeyCols::hash`] gives none).
    #[inline]
    fn has_null<R: Record>(self, row: &R) -> bool {
        row.col(self.col).is_null() || self.rest.iter().any(|&c| row.col(c).is_null())
    }

    /// The hash of the row at slot `s`, for rehashing (0 for a row that is gone, which an
    /// index never holds).
    #[inline]
    fn hash_slot<R: Record>(self, h: &ValueHasher, rows: &Slab<R>, s: u32) -> u64 {
        rows.get(s as usize)
            .and_then(|r| self.hash(h, r))
            .unwrap_or(0)
    }

    /// Whether two rows have the same key.
    #[inline]
    fn same<R: Record>(self, a: &R, b: &R) -> bool {
        a.col(self.col) == b.col(self.col) && self.rest.iter().all(|&c| a.col(c) == b.col(c))
    }
}

impl HashIndex {
    pub(crate) fn new(col: usize) -> Self {
        HashIndex {
            col,
            rest: Arc::from(Vec::new()),
            shards: Shards::new(vec![HashTable::new()]),
            len: 0,
        }
    }

    /// An index over several columns (at least one).
    pub(crate) fn composite(cols: &[usize]) -> Self {
        let mut ix = HashIndex::new(cols.first().copied().unwrap_or(0));
        ix.rest = Arc::from(cols.get(1..).unwrap_or_default());
        ix
    }

    fn key_cols(&self) -> KeyCols<'_> {
        KeyCols {
            col: self.col,
            rest: &self.rest,
        }
    }

    /// Whether this is the index of column `col` alone.
    #[inline]
    pub(crate) fn is_column(&self, col: usize) -> bool {
        self.col == col && self.rest.is_empty()
    }

    /// Every column of the key, in order.
    pub(crate) fn columns(&self) -> impl Iterator<Item = usize> + '_ {
        std::iter::once(self.col).chain(self.rest.iter().copied())
    }

    /// The hash of `row`'s key, `None` if it holds a null (then it collides with nothing).
    #[inline]
    pub(crate) fn hash_row<R: Record>(&self, h: &ValueHasher, row: &R) -> Option<u64> {
        self.key_cols().hash(h, row)
    }

    /// The slot of another row whose key equals `row`'s; `hash` is [`HashIndex::hash_row`].
    #[inline]
    pub(crate) fn find_row<R: Record>(&self, hash: u64, rows: &Slab<R>, row: &R) -> Option<u32> {
        let k = self.key_cols();
        self.shards
            .get(self.shard_of(hash))
            .find(hash, |&s| {
                rows.get(s as usize).is_some_and(|r| k.same(r, row))
            })
            .copied()
    }

    /// The slot of the row whose key is `vals` (one per column, in the columns'
    /// representation, none null).
    pub(crate) fn find_values<R: Record>(
        &self,
        h: &ValueHasher,
        rows: &Slab<R>,
        vals: &[crate::value::Value],
    ) -> Option<u32> {
        let hash = if self.rest.is_empty() {
            h.hash(vals.first()?.as_ref())
        } else {
            h.hash_tuple(vals.iter().map(|v| v.as_ref()))
        };
        self.shards
            .get(self.shard_of(hash))
            .find(hash, |&s| {
                rows.get(s as usize).is_some_and(|r| {
                    self.columns()
                        .zip(vals)
                        .all(|(c, v)| r.col(c) == v.as_ref())
                })
            })
            .copied()
    }

    /// Whether `a` and `b` have different keys (an update that moves its index entry).
    #[inline]
    pub(crate) fn differs<R: Record>(&self, a: &R, b: &R) -> bool {
        !self.key_cols().same(a, b)
    }

    /// The bytes of this index's shards that `newer` does not share.
    pub(crate) fn bytes_not_in(&self, newer: &HashIndex) -> u64 {
        if newer.shards.len() != self.shards.len() {
            return self.bytes();
        }
        let mut n = 0;
        for (a, b) in self.shards.blocks.iter().zip(&newer.shards.blocks) {
            if Arc::ptr_eq(a, b) {
                continue;
            }
            n += std::mem::size_of_val::<[Group]>(a) as u64;
            for (a, b) in a.iter().zip(b.iter()) {
                if Arc::ptr_eq(a, b) {
                    continue;
                }
                n += std::mem::size_of_val::<[Arc<HashTable<u32>>]>(a) as u64;
                n += (a.iter().zip(b.iter()))
                    .filter(|(x, y)| !Arc::ptr_eq(x, y))
                    .map(|(x, _)| x.allocation_size() as u64)
                    .sum::<u64>();
            }
        }
        n
    }

    /// The bytes of all its shards.
    pub(crate) fn bytes(&self) -> u64 {
        self.shards.iter().map(|s| s.allocation_size() as u64).sum()
    }

    #[inline]
    fn shard_of(&self, hash: u64) -> usize {
        shard_in(hash, self.shards.len())
    }

    #[inline]
    pub(crate) fn find<R: Record>(
        &self,
        h: &ValueHasher,
        rows: &Slab<R>,
        v: ValueRef<'_>,
    ) -> Option<u32> {
        if v.is_null() {
            return None;
        }
        self.find_hashed(h.hash(v), rows, v)
    }

    /// [`HashIndex::find`] with the value's hash already computed (an index of one column).
    #[inline]
    pub(crate) fn find_hashed<R: Record>(
        &self,
        hash: u64,
        rows: &Slab<R>,
        v: ValueRef<'_>,
    ) -> Option<u32> {
        let col = self.col;
        self.shards
            .get(self.shard_of(hash))
            .find(hash, |&s| {
                rows.get(s as usize).is_some_and(|r| r.col(col) == v)
            })
            .copied()
    }

    /// [`HashIndex::find`] for a text value in a text column, inlined whole so that a loop of
    /// lookups keeps several in flight.
    #[inline(always)]
    pub(crate) fn find_text<R: Record>(
        &self,
        h: &ValueHasher,
        rows: &Slab<R>,
        text: &str,
    ) -> Option<u32> {
        let col = self.col;
        let hash = h.hash_text(text);
        self.shards
            .get(self.shard_of(hash))
            .find(hash, |&s| {
                rows.get(s as usize)
                    .is_some_and(|r| matches!(r.col(col), ValueRef::Text(t) if t == text))
            })
            .copied()
    }

    /// Adds `slot`, whose row must already be in `rows`. The caller has checked uniqueness.
    pub(crate) fn insert<R: Record>(&mut self, h: &ValueHasher, rows: &Slab<R>, slot: u32) {
        let Some(hash) = rows.get(slot as usize).and_then(|r| self.hash_row(h, r)) else {
            return;
        };
        self.insert_hashed(h, hash, rows, slot);
    }

    /// [`HashIndex::insert`] with the hash of the slot's value already computed.
    #[inline]
    pub(crate) fn insert_hashed<R: Record>(
        &mut self,
        h: &ValueHasher,
        hash: u64,
        rows: &Slab<R>,
        slot: u32,
    ) {
        if self.len >= self.shards.len() * SHARD_ENTRIES {
            self.reshard(h, rows, self.len + 1);
        }
        let shard = self.shard_of(hash);
        let k = KeyCols {
            col: self.col,
            rest: &self.rest,
        };
        self.shards
            .get_mut(shard)
            .insert_unique(hash, slot, |&s| k.hash_slot(h, rows, s));
        self.len += 1;
    }

    /// Removes `slot`, whose row (still in `rows`) holds the value it was indexed under.
    pub(crate) fn remove<R: Record>(&mut self, h: &ValueHasher, rows: &Slab<R>, slot: u32) {
        let Some(hash) = rows.get(slot as usize).and_then(|r| self.hash_row(h, r)) else {
            return;
        };
        let shard = self.shard_of(hash);
        if self.shards.get(shard).find(hash, |&s| s == slot).is_none() {
            return;
        }
        if let Ok(e) = self.shards.get_mut(shard).find_entry(hash, |&s| s == slot) {
            e.remove();
            self.len -= 1;
        }
    }

    pub(crate) fn clear(&mut self) {
        self.shards = Shards::new(vec![HashTable::new()]);
        self.len = 0;
    }

    /// Makes room for `n` more entries (and the shards they call for), so a bulk insert does
    /// not rehash or regrow.
    pub(crate) fn reserve<R: Record>(&mut self, h: &ValueHasher, rows: &Slab<R>, n: usize) {
        let total = self.len + n;
        if total > self.shards.len() * SHARD_ENTRIES {
            self.reshard(h, rows, total);
        }
        // A few rows land in a few shards, which grow as they fill: walking every shard (and
        // copying each one short of room) would cost a small insert more than its rows do.
        if n < self.shards.len() {
            return;
        }
        let per_shard = n.div_ceil(self.shards.len());
        let want = per_shard + per_shard / 8;
        let k = KeyCols {
            col: self.col,
            rest: &self.rest,
        };
        for i in 0..self.shards.len() {
            // Only a shard short of room is touched: a shared one would be copied.
            let shard = self.shards.get(i);
            if shard.capacity() - shard.len() >= want {
                continue;
            }
            self.shards
                .get_mut(i)
                .reserve(want, |&s| k.hash_slot(h, rows, s));
        }
    }

    /// Fills this empty index with every live row of `rows` at once (a table just loaded),
    /// or returns the first row in slot order whose key a row before it has (the row a
    /// row-by-row build in slot order would refuse), with its slot. The rows are hashed in
    /// slot order and then inserted a shard at a time, so each shard is built while it is
    /// in cache: inserting in slot order would miss the cache on every row, since
    /// consecutive rows hash to shards all over the index. The rows are hashed twice (once
    /// to count each shard's entries, once to place them) rather than keeping every hash
    /// twice over: the only memory beside the index is one entry per row.
    pub(crate) fn build<'r, R: Record>(
        &mut self,
        h: &ValueHasher,
        rows: &'r Slab<R>,
    ) -> std::result::Result<(), (u32, &'r R)> {
        debug_assert_eq!(self.len, 0, "build fills an empty index");
        let k = self.key_cols();
        let indexed = || rows.live().filter_map(|(s, r)| Some((k.hash(h, r)?, s)));
        let total = rows.live().filter(|(_, r)| !k.has_null(*r)).count();
        let n = shards_for(total, 1);
        let shard_of = |hash: u64| shard_in(hash, n);
        // A counting sort of the entries by shard, keeping slot order within each.
        let mut starts = vec![0usize; n + 1];
        for (hash, _) in indexed() {
            starts[shard_of(hash) + 1] += 1;
        }
        for i in 0..n {
            starts[i + 1] += starts[i];
        }
        let mut next = starts.clone();
        let mut grouped = vec![(0u64, 0u32); total];
        for (hash, s) in indexed() {
            let at = &mut next[shard_of(hash)];
            grouped[*at] = (hash, s);
            *at += 1;
        }
        let per_shard = room_per_shard(total, n);
        let hash_of = |s: u32| k.hash_slot(h, rows, s);
        let mut shards = Vec::with_capacity(n);
        let mut repeated: Option<u32> = None;
        for w in starts.windows(2) {
            let part = &grouped[w[0]..w[1]];
            let mut shard = HashTable::with_capacity(per_shard.max(part.len()));
            for &(hash, s) in part {
                // The rows are read only where the tags match (a read of a row here is a
                // cache miss: the shard's entries are in no order of slot).
                let same = |&x: &u32| {
                    rows.get(x as usize)
                        .zip(rows.get(s as usize))
                        .is_some_and(|(a, b)| k.same(a, b))
                };
                if shard.find(hash, same).is_some() {
                    // Within a shard the entries come in slot order: `s` repeats an
                    // earlier row. The first such row over every shard is the one named.
                    repeated = Some(repeated.map_or(s, |r| r.min(s)));
                    continue;
                }
                shard.insert_unique(hash, s, |&x| hash_of(x));
            }
            shards.push(shard);
        }
        if let Some(s) = repeated {
            if let Some(row) = rows.get(s as usize) {
                return Err((s, row));
            }
        }
        self.shards = Shards::new(shards);
        self.len = total;
        Ok(())
    }

    /// Spreads the entries over enough shards for `total` of them.
    fn reshard<R: Record>(&mut self, h: &ValueHasher, rows: &Slab<R>, total: usize) {
        let n = shards_for(total, self.shards.len());
        let k = self.key_cols();
        let hash_of = |s: u32| k.hash_slot(h, rows, s);
        let per_shard = room_per_shard(total, n);
        let mut shards: Vec<HashTable<u32>> = (0..n)
            .map(|_| HashTable::with_capacity(per_shard))
            .collect();
        for old in self.shards.iter() {
            for &s in old.iter() {
                let hash = hash_of(s);
                shards[shard_in(hash, n)].insert_unique(hash, s, |&x| hash_of(x));
            }
        }
        self.shards = Shards::new(shards);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::DynRow;
    use crate::value::Value;

    fn rows(n: usize) -> Slab<DynRow> {
        (0..n)
            .map(|i| Some(DynRow(vec![Value::Text(format!("v{i}"))].into())))
            .collect()
    }

    #[test]
    fn finds_every_row_across_reshards_and_clones() {
        let h = ValueHasher::default();
        let rows = rows(2 * BLOCK * SHARD_ENTRIES + 7);
        let mut ix = HashIndex::new(0);
        let mut snapshots = Vec::new();
        for s in 0..rows.len() as u32 {
            ix.insert(&h, &rows, s);
            if s % 5000 == 0 {
                snapshots.push((s, ix.clone()));
            }
        }
        assert!(ix.shards.len() > BLOCK, "{} shards", ix.shards.len());
        for s in 0..rows.len() {
            let v = format!("v{s}");
            assert_eq!(ix.find_text(&h, &rows, &v), Some(s as u32));
        }
        for (upto, snap) in &snapshots {
            assert_eq!(snap.len(), *upto as usize + 1);
            assert_eq!(snap.find_text(&h, &rows, &format!("v{upto}")), Some(*upto));
            let later = format!("v{}", upto + 1);
            assert_eq!(snap.find_text(&h, &rows, &later), None);
        }
        // Room to spare: reserving copies no shard another version shares.
        let mut copy = ix.clone();
        copy.reserve(&h, &rows, 0);
        assert_eq!(ix.bytes_not_in(&copy), 0);
        ix.remove(&h, &rows, 3);
        assert_eq!(ix.find_text(&h, &rows, "v3"), None);
        // The removal copied one shard and its group's and block's pointers, not the index.
        let shard = ix.shards.get(ix.shard_of(h.hash_text("v3")));
        let group = FAN * std::mem::size_of::<Arc<HashTable<u32>>>();
        let block = FAN * std::mem::size_of::<Group>();
        assert_eq!(
            copy.bytes_not_in(&ix),
            (shard.allocation_size() + group + block) as u64
        );
        assert_eq!(snapshots[0].1.find_text(&h, &rows, "v0"), Some(0));
        assert_eq!(ix.len(), rows.len() - 1);
    }

    /// An index built at once finds what one built row by row finds, skips empty slots and
    /// nulls, grows and shrinks as one built row by row does, and refuses a repeated key,
    /// naming a row that holds it.
    #[test]
    fn an_index_built_at_once_is_the_index_built_row_by_row() {
        let h = ValueHasher::default();
        let n = 3 * BLOCK * SHARD_ENTRIES + 5;
        let mut rows: Slab<DynRow> = (0..n)
            .map(|i| match i % 7 {
                3 => None,
                5 => Some(DynRow(vec![Value::Null].into())),
                _ => Some(DynRow(vec![Value::Text(format!("v{i}"))].into())),
            })
            .collect();
        let mut built = HashIndex::new(0);
        assert!(built.build(&h, &rows).is_ok());
        let mut grown = HashIndex::new(0);
        for (s, _) in rows.live() {
            grown.insert(&h, &rows, s);
        }
        assert_eq!(
            (built.len(), built.shards.len()),
            (grown.len(), grown.shards.len())
        );
        for i in 0..n {
            let want = (i % 7 != 3 && i % 7 != 5).then_some(i as u32);
            assert_eq!(built.find_text(&h, &rows, &format!("v{i}")), want, "v{i}");
        }
        let at = (0..n as u32).rev().find(|i| i % 7 < 3).unwrap_or(0);
        assert_eq!(
            rows.get(at as usize).map(|r| r.col(0)),
            Some(ValueRef::Text(&format!("v{at}")))
        );
        built.remove(&h, &rows, at);
        assert_eq!(built.find_text(&h, &rows, &format!("v{at}")), None);
        built.insert(&h, &rows, at);
        assert_eq!(built.find_text(&h, &rows, &format!("v{at}")), Some(at));

        let text = |v: &str| Some(Arc::new(DynRow(vec![Value::Text(v.into())].into())));
        // Slot 40 (a live row) holds slot 8's value.
        rows.set(40, text("v8"));
        let mut repeated = HashIndex::new(0);
        // So do slots 60 and 50 (slot 2's), and 30 (a later row's): the first row in slot
        // order that repeats an earlier one is named, whatever shard it lands in.
        for (slot, value) in [(60, "v2"), (50, "v2"), (30, "v100")] {
            rows.set(slot, text(value));
        }
        let refused = repeated.build(&h, &rows).err();
        let refused = refused.map(|(s, r)| (s, r.col(0).to_owned()));
        assert_eq!(refused, Some((40, Value::Text("v8".into()))));
        rows.set(40, text("v40"));
        let refused = HashIndex::new(0).build(&h, &rows).err();
        let refused = refused.map(|(s, r)| (s, r.col(0).to_owned()));
        assert_eq!(refused, Some((50, Value::Text("v2".into()))));
    }
}
