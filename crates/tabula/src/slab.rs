//! The slab: a table's rows by slot, shared between versions of the table and copied on
//! write a row at a time.
//!
//! Readers keep old versions of a table while a writer changes a copy of it (see
//! `docs/ARCHITECTURE.md`, "Versions"), so cloning a slab must not copy its rows, and
//! changing a row must not copy the rows beside it. It knows nothing of rows beyond `Clone`:
//! tables keep their rows in it, and the hash indexes read them through it.
//!
//! Slots sit in leaves of 64, leaves in middle nodes of 64 (`Arc<Mid>`), middle nodes in a
//! plain vector: a clone copies that vector (one reference count per 4,096 slots), and the
//! first write under a middle node after a clone copies the node (64 leaves of three words).
//! A leaf is a `base` of 64 rows inline (`Arc<[Option<R>; 64]>`, so a scan walks 64
//! contiguous rows at a time) and, where a slot was written since the base was shared, an
//! override (`mask`, `delta`). A write to a leaf whose base only this version holds changes
//! the base in place; a write to a shared base adds or changes an override instead, so an
//! older version keeps its rows and the writer copies nothing but the row it writes. Reads
//! test one bit of the mask before the base.
//!
//! Overrides are folded into a fresh base when a commit leaves a leaf with more than
//! [`MAX_DELTA`] of them ([`Slab::settle`]): that bounds the rows an override hides (which
//! stay in memory while the base lives) and the work of copying a leaf's overrides. Until
//! then a base never changes while it is shared, which is what lets a replaced row's undo
//! point at the base ([`Prev::Base`]) rather than copy it.
//!
//! A leaf never written is absent and reads as 64 empty slots, so the gaps a dense key
//! index leaves cost nothing until filled.

use std::ops::Range;
use std::sync::Arc;

const LEAF_BITS: usize = 6;
/// Slots per leaf.
const LEAF: usize = 1 << LEAF_BITS;
/// Leaves per middle node.
const MID: usize = 64;
/// Slots per middle node.
const MID_SPAN: usize = LEAF * MID;
/// Overrides a leaf keeps past a commit; more are folded into a fresh base. A fold copies
/// the leaf's other rows, so a leaf written one row per commit is copied once per this many
/// writes, and hides at most this many dead rows.
const MAX_DELTA: usize = 32;

type Rows<R> = [Option<R>; LEAF];

fn empty_rows<R>() -> Arc<Rows<R>> {
    Arc::new(std::array::from_fn(|_| None))
}

/// 64 slots: the base's, except where `mask` has a bit, whose slot reads `delta`.
struct Leaf<R> {
    /// Absent: never written (then `mask` is 0).
    base: Option<Arc<Rows<R>>>,
    /// Bit `i`: slot `i` is overridden.
    mask: u64,
    /// The overriding rows in slot order, one per bit of `mask` (`None`: the slot is
    /// empty). Absent when `mask` is 0.
    delta: Option<Arc<Vec<Option<Arc<R>>>>>,
}

impl<R> Clone for Leaf<R> {
    fn clone(&self) -> Self {
        Leaf {
            base: self.base.clone(),
            mask: self.mask,
            delta: self.delta.clone(),
        }
    }
}

/// A row to write: owned, or already behind the `Arc` an override keeps it in (an update's
/// copies are made that way, so a row written over a shared base is allocated once).
pub(crate) enum New<R> {
    Own(R),
    Shared(Arc<R>),
}

impl<R> New<R> {
    pub(crate) fn row(&self) -> &R {
        match self {
            New::Own(r) => r,
            New::Shared(r) => r,
        }
    }
}

impl<R: Clone> New<R> {
    fn into_row(self) -> R {
        match self {
            New::Own(r) => r,
            New::Shared(r) => Arc::unwrap_or_clone(r),
        }
    }

    fn into_arc(self) -> Arc<R> {
        match self {
            New::Own(r) => Arc::new(r),
            New::Shared(r) => r,
        }
    }
}

/// What a slot read before a write: the undo of that write, given back to
/// [`Slab::restore`]. Two words whatever the row type, since a large update journals one
/// per row.
pub(crate) enum Prev<R> {
    Empty,
    Row(Arc<R>),
    /// The row in the slot's base, which no write changes while the base is shared (see
    /// the module documentation); [`Slab::prev_row`] reads it.
    Base,
}

impl<R> Prev<R> {
    /// Whether the slot held a row.
    pub(crate) fn is_some(&self) -> bool {
        !matches!(self, Prev::Empty)
    }
}

impl<R> Leaf<R> {
    const fn absent() -> Self {
        Leaf {
            base: None,
            mask: 0,
            delta: None,
        }
    }

    /// The position of slot `i`'s override in `delta`, if it has one.
    #[inline]
    fn override_at(&self, i: usize) -> Option<usize> {
        let bit = 1u64 << i;
        (self.mask & bit != 0).then(|| (self.mask & (bit - 1)).count_ones() as usize)
    }

    #[inline]
    fn get(&self, i: usize) -> Option<&R> {
        match self.override_at(i) {
            None => self.base.as_ref()?[i].as_ref(),
            Some(at) => self.delta.as_ref()?.get(at)?.as_deref(),
        }
    }

    /// The base's row at `i`, overridden or not.
    fn base_row(&self, i: usize) -> Option<&R> {
        self.base.as_ref()?[i].as_ref()
    }

    fn delta_len(&self) -> usize {
        self.mask.count_ones() as usize
    }
}

impl<R: Clone> Leaf<R> {
    /// Slot `i`'s override, to change (copying the list of overrides if shared).
    fn override_mut(&mut self, at: usize) -> Option<&mut Option<Arc<R>>> {
        Arc::make_mut(self.delta.as_mut()?).get_mut(at)
    }

    /// Adds an override for slot `i`, which has none.
    fn add_override(&mut self, i: usize, row: Option<Arc<R>>) {
        let bit = 1u64 << i;
        let at = (self.mask & (bit - 1)).count_ones() as usize;
        let delta = Arc::make_mut(
            self.delta
                .get_or_insert_with(|| Arc::new(Vec::with_capacity(8))),
        );
        delta.insert(at.min(delta.len()), row);
        self.mask |= bit;
    }

    /// Drops slot `i`'s override, if any: the slot reads its base again.
    fn drop_override(&mut self, i: usize) -> Option<Option<Arc<R>>> {
        let at = self.override_at(i)?;
        let delta = Arc::make_mut(self.delta.as_mut()?);
        let row = (at < delta.len()).then(|| delta.remove(at));
        self.mask &= !(1u64 << i);
        if self.mask == 0 {
            self.delta = None;
        }
        row
    }

    /// Puts `row` in slot `i`, returning what the slot read.
    fn write(&mut self, i: usize, row: Option<New<R>>) -> Prev<R> {
        if let Some(at) = self.override_at(i) {
            let base_empty = self.base_row(i).is_none();
            if row.is_none() && base_empty {
                return self
                    .drop_override(i)
                    .flatten()
                    .map_or(Prev::Empty, Prev::Row);
            }
            let new = row.map(New::into_arc);
            return match self.override_mut(at) {
                Some(slot) => std::mem::replace(slot, new).map_or(Prev::Empty, Prev::Row),
                None => Prev::Empty,
            };
        }
        let base = self.base.get_or_insert_with(empty_rows);
        if let Some(rows) = Arc::get_mut(base) {
            // Only this version holds the base: change it in place.
            let old = std::mem::replace(&mut rows[i], row.map(New::into_row));
            return old.map_or(Prev::Empty, |r| Prev::Row(Arc::new(r)));
        }
        let had = base[i].is_some();
        if row.is_some() || had {
            self.add_override(i, row.map(New::into_arc));
        }
        if had {
            Prev::Base
        } else {
            Prev::Empty
        }
    }

    /// Makes slot `i` read what `prev` says it read before the writes since.
    fn restore(&mut self, i: usize, prev: Prev<R>) {
        match prev {
            Prev::Empty => {
                self.write(i, None);
            }
            Prev::Row(row) => {
                self.write(i, Some(New::Shared(row)));
            }
            Prev::Base => {
                self.drop_override(i);
            }
        }
    }

    /// Folds the overrides into a base of this leaf's own: the rows the overrides hid are
    /// dropped with the old base once no version shares it.
    fn fold(&mut self) {
        let Some(delta) = self.delta.take() else {
            return;
        };
        let mut delta = Arc::unwrap_or_clone(delta).into_iter();
        let mask = std::mem::take(&mut self.mask);
        // The base's rows are moved if no other version shares it, else copied.
        let (mut own, shared) = match self.base.take().map(Arc::try_unwrap) {
            Some(Ok(rows)) => (Some(rows), None),
            Some(Err(shared)) => (None, Some(shared)),
            None => (None, None),
        };
        let rows: Rows<R> = std::array::from_fn(|i| {
            if mask & (1u64 << i) != 0 {
                delta.next().flatten().map(Arc::unwrap_or_clone)
            } else if let Some(own) = own.as_mut() {
                own[i].take()
            } else {
                shared.as_ref().and_then(|b| b[i].clone())
            }
        });
        self.base = Some(Arc::new(rows));
    }
}

/// 64 leaves.
struct Mid<R> {
    leaves: [Leaf<R>; MID],
}

impl<R> Clone for Mid<R> {
    fn clone(&self) -> Self {
        Mid {
            leaves: self.leaves.clone(),
        }
    }
}

impl<R> Mid<R> {
    fn empty() -> Self {
        Mid {
            leaves: std::array::from_fn(|_| Leaf::absent()),
        }
    }
}

/// Slots `0..len()`, each empty or holding a row. See the module documentation.
pub(crate) struct Slab<R> {
    top: Vec<Arc<Mid<R>>>,
    len: usize,
    /// Leaves given more than `MAX_DELTA` overrides since the last `settle`.
    crowded: Vec<usize>,
}

impl<R> Clone for Slab<R> {
    /// Shares every node: one reference count per 4,096 slots.
    fn clone(&self) -> Self {
        Slab {
            top: self.top.clone(),
            len: self.len,
            crowded: Vec::new(),
        }
    }
}

impl<R> Default for Slab<R> {
    fn default() -> Self {
        Slab {
            top: Vec::new(),
            len: 0,
            crowded: Vec::new(),
        }
    }
}

impl<R> std::fmt::Debug for Slab<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slab").field("len", &self.len).finish()
    }
}

impl<R> Slab<R> {
    /// The number of slots, live or not: every slot number is below it.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The leaf holding slots `l * 64 ..`, if it was ever written.
    #[inline]
    fn leaf(&self, l: usize) -> Option<&Leaf<R>> {
        let leaf = &self.top.get(l / MID)?.leaves[l % MID];
        leaf.base.is_some().then_some(leaf)
    }

    /// The bytes of this slab's nodes and rows that `newer` does not share: what keeping
    /// this version alive beside `newer` costs (not the rows' own heap data).
    pub(crate) fn bytes_not_in(&self, newer: &Slab<R>) -> u64 {
        let mut n = 0;
        for (m, mid) in self.top.iter().enumerate() {
            let other = newer.top.get(m);
            if other.is_some_and(|o| Arc::ptr_eq(o, mid)) {
                continue;
            }
            n += std::mem::size_of::<Mid<R>>();
            for (l, leaf) in mid.leaves.iter().enumerate() {
                let theirs = other.map(|o| &o.leaves[l]);
                let shares = |a: Option<&Arc<Rows<R>>>| {
                    theirs
                        .and_then(|t| t.base.as_ref())
                        .zip(a)
                        .is_some_and(|(t, a)| Arc::ptr_eq(t, a))
                };
                if leaf.base.is_some() && !shares(leaf.base.as_ref()) {
                    n += std::mem::size_of::<Rows<R>>();
                }
                if let Some(delta) = &leaf.delta {
                    let shared = theirs
                        .and_then(|t| t.delta.as_ref())
                        .is_some_and(|t| Arc::ptr_eq(t, delta));
                    if !shared {
                        n += delta.len() * (8 + 16 + std::mem::size_of::<R>());
                    }
                }
            }
        }
        n as u64
    }

    /// The row at `slot`, if the slot is live.
    #[inline]
    pub(crate) fn get(&self, slot: usize) -> Option<&R> {
        if slot >= self.len {
            return None;
        }
        self.top.get(slot / MID_SPAN)?.leaves[(slot >> LEAF_BITS) % MID].get(slot & (LEAF - 1))
    }

    /// Whether `slot` holds a row.
    #[inline]
    pub(crate) fn is_live(&self, slot: usize) -> bool {
        self.get(slot).is_some()
    }

    /// What a slot read before the write that returned `prev`.
    pub(crate) fn prev_row<'a>(&'a self, slot: usize, prev: &'a Prev<R>) -> Option<&'a R> {
        match prev {
            Prev::Empty => None,
            Prev::Row(r) => Some(r),
            Prev::Base => self.top.get(slot / MID_SPAN)?.leaves[(slot >> LEAF_BITS) % MID]
                .base_row(slot & (LEAF - 1)),
        }
    }

    /// The live rows of the slots in `range` (clamped to the slab), in slot order.
    #[inline]
    pub(crate) fn live_in(&self, range: Range<usize>) -> Live<'_, R> {
        let end = range.end.min(self.len);
        let start = range.start.min(end);
        Live::new(self, start, end)
    }

    /// Every live row in slot order.
    #[inline]
    pub(crate) fn live(&self) -> Live<'_, R> {
        self.live_in(0..self.len)
    }

    /// Grows the slab to `len` slots; the new ones are empty. Never shrinks.
    pub(crate) fn grow_to(&mut self, len: usize) {
        self.len = self.len.max(len);
    }
}

impl<R: Clone> Slab<R> {
    /// Drops every slot from `len` on (their rows too).
    pub(crate) fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        // Slots past the end must read empty should the slab grow over them again: clear
        // the live ones in the leaf that is cut, drop the leaves and nodes wholly past it.
        let cut_leaf = len >> LEAF_BITS;
        if !len.is_multiple_of(LEAF) {
            let live: Vec<usize> = self
                .live_in(len..((cut_leaf + 1) * LEAF).min(self.len))
                .map(|(s, _)| s as usize)
                .collect();
            for s in live {
                self.take(s);
            }
        }
        let first_gone = len.div_ceil(LEAF);
        let keep_mids = first_gone.div_ceil(MID);
        self.top.truncate(keep_mids);
        if !first_gone.is_multiple_of(MID) {
            if let Some(mid) = self.top.last_mut() {
                let from = first_gone % MID;
                if mid.leaves[from..].iter().any(|l| l.base.is_some()) {
                    let mid = Arc::make_mut(mid);
                    for leaf in &mut mid.leaves[from..] {
                        *leaf = Leaf::absent();
                    }
                }
            }
        }
        self.len = len;
    }

    /// Makes room for `n` more slots: the nodes that will hold them are allocated now, one
    /// after the other, so a bulk insert's leaves lie side by side in memory (a scan then
    /// streams through them as through one array) rather than between the rows' own heap
    /// data.
    pub(crate) fn reserve(&mut self, n: usize) {
        let end = self.len.saturating_add(n);
        let need = end.div_ceil(MID_SPAN);
        self.top.reserve(need.saturating_sub(self.top.len()));
        let first = self.len >> LEAF_BITS;
        for l in first..end.div_ceil(LEAF) {
            let (m, i) = (l / MID, l % MID);
            if self.top.len() <= m {
                self.top.resize_with(m + 1, || Arc::new(Mid::empty()));
            }
            if self.top[m].leaves[i].base.is_none() {
                Arc::make_mut(&mut self.top[m]).leaves[i].base = Some(empty_rows());
            }
        }
    }

    /// The leaf holding `slot`, to write (copying its middle node first if another version
    /// shares it). `slot` must be below `len`.
    #[inline]
    fn leaf_mut(&mut self, slot: usize) -> &mut Leaf<R> {
        let m = slot / MID_SPAN;
        if self.top.len() <= m {
            self.top.resize_with(m + 1, || Arc::new(Mid::empty()));
        }
        &mut Arc::make_mut(&mut self.top[m]).leaves[(slot >> LEAF_BITS) % MID]
    }

    /// Puts `row` in `slot` (below `len`), returning what the slot read: an undo for
    /// [`Slab::restore`].
    #[inline]
    pub(crate) fn set(&mut self, slot: usize, row: Option<R>) -> Prev<R> {
        self.write(slot, row.map(New::Own))
    }

    /// Puts `row` in `slot` (below `len`), as [`Slab::set`] does.
    #[inline]
    pub(crate) fn set_new(&mut self, slot: usize, row: New<R>) -> Prev<R> {
        self.write(slot, Some(row))
    }

    fn write(&mut self, slot: usize, row: Option<New<R>>) -> Prev<R> {
        debug_assert!(slot < self.len, "slot {slot} past the slab's {}", self.len);
        if row.is_none() && !self.is_live(slot) {
            return Prev::Empty;
        }
        let leaf = self.leaf_mut(slot);
        let prev = leaf.write(slot & (LEAF - 1), row);
        if leaf.delta_len() == MAX_DELTA + 1 {
            self.crowded.push(slot >> LEAF_BITS);
        }
        prev
    }

    /// Empties `slot`, returning what it read.
    #[inline]
    pub(crate) fn take(&mut self, slot: usize) -> Prev<R> {
        self.set(slot, None)
    }

    /// Makes `slot` read again what it read before the write that returned `prev` (undoing
    /// the writes since, newest first).
    pub(crate) fn restore(&mut self, slot: usize, prev: Prev<R>) {
        if slot < self.len {
            self.leaf_mut(slot).restore(slot & (LEAF - 1), prev);
        }
    }

    /// Appends a slot holding `row`.
    #[inline]
    pub(crate) fn push(&mut self, row: Option<R>) {
        self.len += 1;
        if row.is_some() {
            self.set(self.len - 1, row);
        }
    }

    /// Folds the overrides of every leaf that has more than [`MAX_DELTA`] (see the module
    /// documentation). Called at a commit: undos that point at a base are gone by then.
    pub(crate) fn settle(&mut self) {
        for l in std::mem::take(&mut self.crowded) {
            let Some(mid) = self.top.get_mut(l / MID) else {
                continue;
            };
            if mid.leaves[l % MID].delta_len() > MAX_DELTA {
                Arc::make_mut(mid).leaves[l % MID].fold();
            }
        }
    }

    /// The same slots with every row converted by `f`.
    pub(crate) fn try_map<S: Clone, E>(
        &self,
        mut f: impl FnMut(&R) -> Result<S, E>,
    ) -> Result<Slab<S>, E> {
        let mut out = Slab::default();
        out.reserve(self.len);
        for (slot, r) in self.live() {
            out.grow_to(slot as usize + 1);
            out.set(slot as usize, Some(f(r)?));
        }
        out.grow_to(self.len);
        Ok(out)
    }
}

/// The live rows of a range of slots, from either end. Each end walks one leaf's base
/// slots as a slice, reading an override instead where the leaf has one; the slots between
/// the two ends' leaves (`front..back`) are not yet taken by either.
pub(crate) struct Live<'a, R> {
    slab: &'a Slab<R>,
    front: usize,
    back: usize,
    /// The front end's leaf and slots, the first of them slot `front_at`.
    front_leaf: Option<&'a Leaf<R>>,
    front_mask: u64,
    front_slots: std::slice::Iter<'a, Option<R>>,
    front_at: usize,
    /// The back end's leaf and slots, the last of them slot `back_at - 1`.
    back_leaf: Option<&'a Leaf<R>>,
    back_mask: u64,
    back_slots: std::slice::Iter<'a, Option<R>>,
    back_at: usize,
}

/// Slot `s`'s row, whose base slot is `base` in `leaf` (whose overrides are `mask`).
#[inline(always)]
fn read<'a, R>(
    leaf: Option<&'a Leaf<R>>,
    mask: u64,
    s: usize,
    base: &'a Option<R>,
) -> Option<&'a R> {
    if mask & (1u64 << (s & (LEAF - 1))) == 0 {
        return base.as_ref();
    }
    overridden(leaf, s)
}

/// Slot `s`'s override: out of line, so that a scan's loop stays small.
#[cold]
#[inline(never)]
fn overridden<R>(leaf: Option<&Leaf<R>>, s: usize) -> Option<&R> {
    leaf?.get(s & (LEAF - 1))
}

impl<'a, R> Live<'a, R> {
    fn new(slab: &'a Slab<R>, front: usize, back: usize) -> Self {
        Live {
            slab,
            front,
            back,
            front_leaf: None,
            front_mask: 0,
            front_slots: [].iter(),
            front_at: front,
            back_leaf: None,
            back_mask: 0,
            back_slots: [].iter(),
            back_at: back,
        }
    }

    /// Gives the front end the slots from `front` to the end of their leaf (or `back`).
    /// False when none are left.
    fn refill_front(&mut self) -> bool {
        while self.front < self.back {
            let l = self.front >> LEAF_BITS;
            let end = ((l + 1) << LEAF_BITS).min(self.back);
            let start = self.front;
            self.front = end;
            if let Some(leaf) = self.slab.leaf(l) {
                let Some(base) = leaf.base.as_deref() else {
                    continue;
                };
                self.front_leaf = Some(leaf);
                self.front_mask = leaf.mask;
                self.front_slots = base[start & (LEAF - 1)..=(end - 1) & (LEAF - 1)].iter();
                self.front_at = start;
                return true;
            }
        }
        false
    }

    /// Gives the back end the slots from the start of `back - 1`'s leaf (or `front`) to
    /// `back`. False when none are left.
    fn refill_back(&mut self) -> bool {
        while self.front < self.back {
            let l = (self.back - 1) >> LEAF_BITS;
            let start = (l << LEAF_BITS).max(self.front);
            let end = self.back;
            self.back = start;
            if let Some(leaf) = self.slab.leaf(l) {
                let Some(base) = leaf.base.as_deref() else {
                    continue;
                };
                self.back_leaf = Some(leaf);
                self.back_mask = leaf.mask;
                self.back_slots = base[start & (LEAF - 1)..=(end - 1) & (LEAF - 1)].iter();
                self.back_at = end;
                return true;
            }
        }
        false
    }
}

impl<'a, R> Iterator for Live<'a, R> {
    type Item = (u32, &'a R);

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            for slot in self.front_slots.by_ref() {
                let s = self.front_at;
                self.front_at += 1;
                if let Some(r) = read(self.front_leaf, self.front_mask, s, slot) {
                    return Some((s as u32, r));
                }
            }
            if !self.refill_front() {
                // The rest is what the back end holds.
                while let Some(slot) = self.back_slots.next() {
                    let s = self.back_at - 1 - self.back_slots.len();
                    if let Some(r) = read(self.back_leaf, self.back_mask, s, slot) {
                        return Some((s as u32, r));
                    }
                }
                return None;
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.front_slots.len() + (self.back - self.front) + self.back_slots.len();
        (0, Some(n))
    }
}

impl<R> DoubleEndedIterator for Live<'_, R> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        loop {
            while let Some(slot) = self.back_slots.next_back() {
                self.back_at -= 1;
                if let Some(r) = read(self.back_leaf, self.back_mask, self.back_at, slot) {
                    return Some((self.back_at as u32, r));
                }
            }
            if !self.refill_back() {
                // The rest is what the front end holds.
                while let Some(slot) = self.front_slots.next_back() {
                    let s = self.front_at + self.front_slots.len();
                    if let Some(r) = read(self.front_leaf, self.front_mask, s, slot) {
                        return Some((s as u32, r));
                    }
                }
                return None;
            }
        }
    }
}

impl<R: Clone> FromIterator<Option<R>> for Slab<R> {
    fn from_iter<I: IntoIterator<Item = Option<R>>>(iter: I) -> Self {
        let mut slab = Slab::default();
        for r in iter {
            slab.push(r);
        }
        slab
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model<R: Clone>(slab: &Slab<R>) -> Vec<Option<R>> {
        (0..slab.len()).map(|s| slab.get(s).cloned()).collect()
    }

    #[test]
    fn a_clone_keeps_its_rows_while_the_original_changes() {
        let mut a: Slab<String> = (0..10_000).map(|i| Some(format!("r{i}"))).collect();
        let before = model(&a);
        let b = a.clone();
        a.set(5, Some("changed".into()));
        a.take(4_100);
        a.push(Some("new".into()));
        a.set(9_999, Some("r9999!".into()));
        a.truncate(9_000);
        assert_eq!(model(&b), before);
        assert_eq!(a.get(5).map(String::as_str), Some("changed"));
        assert_eq!(a.get(4_100), None);
        assert_eq!(a.len(), 9_000);
        assert_eq!(a.get(9_000), None);
        assert_eq!(b.get(9_999).map(String::as_str), Some("r9999"));
    }

    #[test]
    fn a_write_to_a_shared_leaf_copies_only_its_row() {
        let mut a: Slab<String> = (0..640).map(|i| Some(format!("r{i}"))).collect();
        let b = a.clone();
        for s in (0..640).step_by(10) {
            assert!(matches!(a.set(s, Some(format!("w{s}"))), Prev::Base));
        }
        // Every leaf keeps the base the clone reads: 7 overrides each, no copy.
        for l in 0..10 {
            let (ours, theirs) = (&a.top[0].leaves[l], &b.top[0].leaves[l]);
            assert!(Arc::ptr_eq(
                ours.base.as_ref().expect("written"),
                theirs.base.as_ref().expect("written")
            ));
            assert!(ours.delta_len() <= MAX_DELTA);
        }
        assert_eq!(a.get(10).map(String::as_str), Some("w10"));
        assert_eq!(b.get(10).map(String::as_str), Some("r10"));
        a.settle();
        assert!(Arc::ptr_eq(
            a.top[0].leaves[0].base.as_ref().expect("written"),
            b.top[0].leaves[0].base.as_ref().expect("written")
        ));
    }

    #[test]
    fn a_commit_folds_a_leaf_with_many_overrides_into_a_base_of_its_own() {
        let mut a: Slab<u32> = (0..64).map(Some).collect();
        let b = a.clone();
        for s in 0..40 {
            a.set(s, Some(1_000 + s as u32));
        }
        a.take(63);
        a.settle();
        let leaf = &a.top[0].leaves[0];
        assert_eq!(leaf.mask, 0);
        assert!(!Arc::ptr_eq(
            leaf.base.as_ref().expect("written"),
            b.top[0].leaves[0].base.as_ref().expect("written")
        ));
        let want: Vec<Option<u32>> = (0..64)
            .map(|s| match s {
                0..40 => Some(1_000 + s),
                63 => None,
                _ => Some(s),
            })
            .collect();
        assert_eq!(model(&a), want);
        assert_eq!(model(&b), (0..64).map(Some).collect::<Vec<_>>());
    }

    #[test]
    fn gaps_read_empty_and_truncated_slots_stay_empty_when_grown_again() {
        let mut a: Slab<u32> = Slab::default();
        a.grow_to(10_000);
        assert_eq!(a.live().count(), 0);
        a.set(9_999, Some(1));
        a.set(70, Some(2));
        assert_eq!(a.live().collect::<Vec<_>>(), vec![(70, &2), (9_999, &1)]);
        a.truncate(71);
        a.grow_to(10_000);
        assert_eq!(a.live().collect::<Vec<_>>(), vec![(70, &2)]);
        a.truncate(70);
        a.grow_to(71);
        assert_eq!(a.get(70), None);
    }

    #[test]
    fn ranges_walk_both_ways_within_their_bounds() {
        let mut a: Slab<usize> = (0..300).map(|i| (i % 3 != 0).then_some(i)).collect();
        let _older = a.clone();
        // Overrides inside the range: two rows changed, one emptied, one filled.
        a.set(61, Some(61));
        a.set(62, Some(62));
        a.take(64);
        a.set(63, Some(999));
        let mut want: Vec<u32> = (60..200).filter(|i| i % 3 != 0 && *i != 64).collect();
        want.insert(2, 63);
        let fwd: Vec<u32> = a.live_in(60..200).map(|(s, _)| s).collect();
        assert_eq!(fwd, want);
        let back: Vec<u32> = a.live_in(60..200).rev().map(|(s, _)| s).collect();
        assert_eq!(back, want.into_iter().rev().collect::<Vec<_>>());
        assert_eq!(a.live_in(250..1_000).count(), 34);
        assert_eq!(a.live_in(400..500).count(), 0);
    }

    fn check(
        slab: &Slab<u32>,
        vec: &[Option<u32>],
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        proptest::prop_assert_eq!(slab.len(), vec.len());
        let got: Vec<Option<u32>> = (0..slab.len()).map(|s| slab.get(s).copied()).collect();
        proptest::prop_assert_eq!(&got, vec);
        let live: Vec<(u32, u32)> = slab.live().map(|(s, r)| (s, *r)).collect();
        let want: Vec<(u32, u32)> = vec
            .iter()
            .enumerate()
            .filter_map(|(s, r)| r.map(|r| (s as u32, r)))
            .collect();
        proptest::prop_assert_eq!(&live, &want);
        // From both ends at once, in turns: every row once, in order from each end.
        let (lo, hi) = (vec.len() / 3, vec.len() - vec.len() / 4);
        let want: Vec<(u32, u32)> = want
            .into_iter()
            .filter(|&(s, _)| (lo..hi).contains(&(s as usize)))
            .collect();
        let mut it = slab.live_in(lo..hi);
        let (mut front, mut back) = (Vec::new(), Vec::new());
        for turn in 0.. {
            let next = if turn % 3 == 0 {
                it.next_back().map(|x| back.push((x.0, *x.1)))
            } else {
                it.next().map(|x| front.push((x.0, *x.1)))
            };
            if next.is_none() {
                break;
            }
        }
        back.reverse();
        front.extend(back);
        proptest::prop_assert_eq!(front, want);
        Ok(())
    }

    proptest::proptest! {
        /// Writes, undos (newest first, back to the last commit), commits and clones taken
        /// and dropped at any point, against a vector per version.
        #[test]
        fn matches_a_vector_across_clones_and_undos(ops in proptest::collection::vec((0u8..8, 0usize..9_000, 0u32..1000), 1..300)) {
            let mut slab: Slab<u32> = Slab::default();
            let mut vec: Vec<Option<u32>> = Vec::new();
            let mut kept: Vec<(Slab<u32>, Vec<Option<u32>>)> = Vec::new();
            let mut undo: Vec<(usize, Prev<u32>)> = Vec::new();
            let mut committed: Vec<Option<u32>> = Vec::new();
            // Writes cluster in a few leaves so that overrides pile up and get folded.
            let pick = |at: usize, len: usize| if at.is_multiple_of(2) { at % len } else { (at % 3) * 64 + at % 40 } % len;
            for (op, at, v) in ops {
                match op {
                    0 => {
                        slab.grow_to(vec.len() + 1);
                        undo.push((vec.len(), slab.set(vec.len(), Some(v))));
                        vec.push(Some(v));
                    }
                    1 | 2 if !vec.is_empty() => {
                        let s = pick(at, vec.len());
                        let row = (op == 1).then_some(v);
                        let prev = slab.set(s, row);
                        proptest::prop_assert_eq!(slab.prev_row(s, &prev).copied(), vec[s]);
                        undo.push((s, prev));
                        vec[s] = row;
                    }
                    3 => {
                        // A commit: the journal goes, crowded leaves fold, the tail is trimmed.
                        undo.clear();
                        slab.settle();
                        let n = vec.len() - at % (vec.len() / 8 + 1);
                        slab.truncate(n);
                        vec.truncate(n);
                        committed = vec.clone();
                    }
                    4 => kept.push((slab.clone(), vec.clone())),
                    5 => {
                        while let Some((s, prev)) = undo.pop() {
                            slab.restore(s, prev);
                        }
                        slab.truncate(committed.len());
                        vec = committed.clone();
                    }
                    6 if !kept.is_empty() => {
                        let (old, want) = kept.remove(at % kept.len());
                        check(&old, &want)?;
                    }
                    7 => {
                        slab.grow_to(vec.len() + at % 300);
                        vec.resize(vec.len() + at % 300, None);
                    }
                    _ => {}
                }
                check(&slab, &vec)?;
            }
            for (old, want) in kept {
                check(&old, &want)?;
            }
        }
    }
}
