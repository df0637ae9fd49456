//! The slab: a table's rows by slot, shared between versions of the table and copied on
//! write, 16 slots at a time.
//!
//! Readers keep old versions of a table while a writer changes a copy of it (see
//! `docs/ARCHITECTURE.md`, "Versions"), so cloning a slab must not copy its rows. It knows
//! of rows only the values of the columns it mirrors ([`Mirrored`]): tables keep their rows
//! in it, and the hash indexes read them through it. Each row sits behind an `Arc` of its
//! own, slots in leaves of 16 (`Arc<Leaf>`: 16 row pointers and an `Arc` of the mirrored
//! values), leaves in middle nodes of 32 (`Arc<Mid>`), middle nodes in upper nodes of 64
//! (`Arc<Upper>`), upper nodes in a plain vector: a clone copies that vector (one reference
//! count per 32,768 slots), and the first write to a slot after a clone copies its upper
//! node (64 pointers), its middle node (32) and its leaf (16 row pointers and the values'
//! pointer; the values themselves when the write changes one), once; later writes to the same leaf change it in place, since the writer's
//! copy is then the leaf's only owner. A commit of one row so copies a few hundred bytes of
//! pointers, however large the table, and never a row it does not change. Each pointer
//! copied is a reference count raised, and lowered again when the old version goes: those
//! atomic operations are most of what a one-row commit costs, which is why the middle
//! nodes are narrower than the upper ones (measured in `crates/tabula-bench/README.md`).
//!
//! Rows are behind pointers, not inline in their leaf, because copying a leaf would
//! otherwise clone its rows, each with its own heap data (a typed row's strings): an update
//! or delete of every tenth row then cloned every row of the table, and freed the copies
//! when the old version went. A bulk insert allocates its rows one after the other, so a
//! scan still reads them mostly in address order.
//!
//! A leaf never written is absent and reads as 16 empty slots (a node never written, as
//! its span of empty slots), so the gaps a dense key index leaves cost nothing until
//! filled.
//!
//! A slab may also mirror a few numeric columns ([`Mirror`]): each leaf then keeps its 16
//! rows' values of those columns beside the row pointers, as plain 64-bit numbers, written
//! whenever a slot is. A scan that filters or orders on such a column reads the numbers, a
//! few cache lines per 16 rows, and follows the pointer only to rows that pass; a scan that
//! reads every row's column waits on memory once per row instead. The numbers are shared
//! between a leaf's versions and copied before a write changes one, so every version reads
//! its own rows' values; an emptied slot's are left as they were, and only live slots' are
//! ever read.

use std::ops::Range;
use std::sync::Arc;

use crate::value::ValueRef;

const LEAF_BITS: usize = 4;
/// Slots per leaf.
const LEAF: usize = 1 << LEAF_BITS;
/// Leaves per middle node.
const MID: usize = 32;
/// Middle nodes per upper node.
const UPPER: usize = 64;
/// Slots per upper node.
const UPPER_SPAN: usize = LEAF * MID * UPPER;

/// 16 slots: their rows, and the mirrored columns' values (one [`Cells`] per column),
/// shared between versions of the leaf until a write changes one of them.
struct Leaf<R> {
    rows: [Option<Arc<R>>; LEAF],
    cells: Arc<[Cells]>,
}

impl<R> Leaf<R> {
    /// 16 empty slots, sharing `cells` (the slab's [`Mirror::empty`]).
    fn empty(cells: &Arc<[Cells]>) -> Self {
        Leaf {
            rows: std::array::from_fn(|_| None),
            cells: cells.clone(),
        }
    }

    /// Writes slot `i`'s values of the mirrored columns from its row, copying the leaf's
    /// values first if another version shares them and one changes. An emptied slot's
    /// values are left as they were: only live slots' are read.
    #[inline]
    fn mirror(&mut self, i: usize, mirror: &Mirror)
    where
        R: Mirrored,
    {
        let Some(row) = self.rows[i].as_deref() else {
            return;
        };
        for (k, &(col, kind)) in mirror.cols.iter().enumerate() {
            let now = &self.cells[k];
            match kind.bits(row.cell(col)) {
                Some(bits) if now.odd >> i & 1 == 0 && now.bits[i] == bits => {}
                Some(bits) => {
                    let cells = &mut Arc::make_mut(&mut self.cells)[k];
                    cells.bits[i] = bits;
                    cells.odd &= !(1 << i);
                }
                None if now.odd >> i & 1 != 0 => {}
                None => Arc::make_mut(&mut self.cells)[k].odd |= 1 << i,
            }
        }
    }
}

impl<R> Clone for Leaf<R> {
    /// Shares every row and the mirrored values.
    fn clone(&self) -> Self {
        Leaf {
            rows: self.rows.clone(),
            cells: self.cells.clone(),
        }
    }
}

/// One mirrored column's values in a leaf: each slot's as the bits of its column's kind,
/// and (`odd`, a bit per slot) the slots whose value the bits do not give: a null, or a
/// value of another kind than the column's (read from the row). An empty slot's are
/// whatever its last row left.
#[derive(Clone, Copy)]
struct Cells {
    bits: [u64; LEAF],
    odd: u16,
}

impl Cells {
    const EMPTY: Cells = Cells {
        bits: [0; LEAF],
        odd: u16::MAX,
    };
}

/// What a row gives the slab to mirror: its value in a column.
pub(crate) trait Mirrored {
    fn cell(&self, col: usize) -> ValueRef<'_>;
}

/// The kind of value a mirrored column holds, which its bits are read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NumKind {
    Int,
    Float,
    Bool,
}

impl NumKind {
    /// `v` as bits, if it is of this kind.
    #[inline]
    fn bits(self, v: ValueRef<'_>) -> Option<u64> {
        match (self, v) {
            (NumKind::Int, ValueRef::Int(i)) => Some(i as u64),
            (NumKind::Float, ValueRef::Float(f)) => Some(crate::value::one_nan(f).to_bits()),
            (NumKind::Bool, ValueRef::Bool(b)) => Some(u64::from(b)),
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn value(self, bits: u64) -> ValueRef<'static> {
        match self {
            NumKind::Int => ValueRef::Int(bits as i64),
            NumKind::Float => ValueRef::Float(f64::from_bits(bits)),
            NumKind::Bool => ValueRef::Bool(bits != 0),
        }
    }
}

/// The columns a slab mirrors (position in the row, kind), fixed when the slab is made.
#[derive(Clone)]
pub(crate) struct Mirror {
    cols: Arc<[(usize, NumKind)]>,
    /// The values of a leaf never written, which new leaves share.
    empty: Arc<[Cells]>,
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror").field("cols", &self.cols).finish()
    }
}

impl Default for Mirror {
    /// Mirrors nothing.
    fn default() -> Self {
        Mirror::new(Vec::new())
    }
}

impl Mirror {
    /// Mirrors `cols` (column, kind), in that order.
    pub(crate) fn new(cols: Vec<(usize, NumKind)>) -> Self {
        let empty = vec![Cells::EMPTY; cols.len()].into();
        Mirror {
            cols: cols.into(),
            empty,
        }
    }

    /// Column `col`'s place among the mirrored ones, if mirrored.
    #[inline]
    pub(crate) fn position(&self, col: usize) -> Option<usize> {
        self.cols.iter().position(|&(c, _)| c == col)
    }
}

/// One leaf's live slots within a range, with the mirrored columns' values, for a scan
/// that works a leaf at a time ([`Slab::leaves`]): bit `i` of a mask is slot `base + i`.
pub(crate) struct LeafScan<'a, R> {
    /// The leaf's first slot.
    pub(crate) base: usize,
    /// The slots live and in the range.
    pub(crate) live: u16,
    leaf: &'a Leaf<R>,
    cols: &'a [(usize, NumKind)],
}

impl<R> Clone for LeafScan<'_, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for LeafScan<'_, R> {}

impl<'a, R> LeafScan<'a, R> {
    /// The row of slot `base + i`.
    #[inline]
    pub(crate) fn row(&self, i: usize) -> Option<&'a R> {
        self.leaf.rows[i].as_deref()
    }

    /// The mirrored column at place `k` ([`Mirror::position`]): each slot's value as bits
    /// of the column's kind, the slots whose value the bits do not give (a null, a value
    /// of another kind: read the row), and the kind. Only the `live` slots' are meaningful:
    /// an empty slot's are whatever its last row left.
    #[inline]
    pub(crate) fn column(&self, k: usize) -> (&'a [u64; LEAF], u16, NumKind) {
        let c = &self.leaf.cells[k];
        (&c.bits, c.odd, self.cols[k].1)
    }
}

/// The set bits of a mask, lowest first.
pub(crate) struct Bits(pub(crate) u16);

impl Iterator for Bits {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let i = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(i)
    }
}

/// An inner node: `N` children, each absent until written (or emptied by a truncation,
/// or never written since the slab grew over it).
struct Node<T, const N: usize> {
    kids: [Option<Arc<T>>; N],
}

impl<T, const N: usize> Node<T, N> {
    fn empty() -> Self {
        Node {
            kids: std::array::from_fn(|_| None),
        }
    }
}

impl<T, const N: usize> Clone for Node<T, N> {
    /// Shares every child.
    fn clone(&self) -> Self {
        Node {
            kids: self.kids.clone(),
        }
    }
}

/// The children present in `kids` that `other` (the newer version's children at the same
/// place, if any) does not share, each with the newer version's child at its position.
fn unshared<'a, T>(
    kids: &'a [Option<Arc<T>>],
    other: Option<&'a [Option<Arc<T>>]>,
) -> impl Iterator<Item = (&'a Arc<T>, Option<&'a Arc<T>>)> {
    kids.iter().enumerate().filter_map(move |(i, kid)| {
        let kid = kid.as_ref()?;
        let theirs = other.and_then(|o| o[i].as_ref());
        (!theirs.is_some_and(|t| Arc::ptr_eq(kid, t))).then_some((kid, theirs))
    })
}

/// 32 leaves.
type Mid<R> = Node<Leaf<R>, MID>;
/// 64 middle nodes.
type Upper<R> = Node<Mid<R>, UPPER>;

/// Slots `0..len()`, each empty or holding a row. See the module documentation.
pub(crate) struct Slab<R> {
    top: Vec<Arc<Upper<R>>>,
    len: usize,
    mirror: Mirror,
}

impl<R> Clone for Slab<R> {
    /// Shares every node: one reference count per 32,768 slots.
    fn clone(&self) -> Self {
        Slab {
            top: self.top.clone(),
            len: self.len,
            mirror: self.mirror.clone(),
        }
    }
}

impl<R> Default for Slab<R> {
    fn default() -> Self {
        Slab::mirroring(Mirror::default())
    }
}

impl<R> std::fmt::Debug for Slab<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slab").field("len", &self.len).finish()
    }
}

/// Middle node `m` of `top`, to change: it and its upper node copied first if another
/// version shares them, created if never written.
fn mid_mut<R>(top: &mut Vec<Arc<Upper<R>>>, m: usize) -> &mut Mid<R> {
    let u = m / UPPER;
    if top.len() <= u {
        top.resize_with(u + 1, || Arc::new(Upper::empty()));
    }
    let upper = Arc::make_mut(&mut top[u]);
    let mid = upper.kids[m % UPPER].get_or_insert_with(|| Arc::new(Mid::empty()));
    Arc::make_mut(mid)
}

impl<R> Slab<R> {
    /// An empty slab mirroring `mirror`'s columns.
    pub(crate) fn mirroring(mirror: Mirror) -> Self {
        Slab {
            top: Vec::new(),
            len: 0,
            mirror,
        }
    }

    /// The columns this slab mirrors.
    #[inline]
    pub(crate) fn mirror(&self) -> &Mirror {
        &self.mirror
    }

    fn mid_mut(&mut self, m: usize) -> &mut Mid<R> {
        mid_mut(&mut self.top, m)
    }

    /// The number of slots, live or not: every slot number is below it.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Middle node `m` (leaves `m * MID ..`), if it was ever written.
    #[inline]
    fn mid(&self, m: usize) -> Option<&Mid<R>> {
        self.top.get(m / UPPER)?.kids[m % UPPER].as_deref()
    }

    /// The leaf holding slots `l * 16 ..`, if it was ever written.
    #[inline]
    fn leaf(&self, l: usize) -> Option<&Leaf<R>> {
        self.mid(l / MID)?.kids[l % MID].as_deref()
    }

    /// The bytes of this slab's nodes and rows that `newer` does not share: what keeping
    /// this version alive beside `newer` costs (the rows' own heap data not counted).
    pub(crate) fn bytes_not_in(&self, newer: &Slab<R>) -> u64 {
        // A row's allocation: the `Arc`'s two reference counts, then the row.
        let row_bytes = std::alloc::Layout::new::<[usize; 2]>()
            .extend(std::alloc::Layout::new::<R>())
            .map_or(16 + std::mem::size_of::<R>(), |(l, _)| {
                l.pad_to_align().size()
            });
        let mut n = 0;
        for (u, upper) in self.top.iter().enumerate() {
            let other = newer.top.get(u);
            if other.is_some_and(|o| Arc::ptr_eq(upper, o)) {
                continue;
            }
            n += std::mem::size_of::<Upper<R>>();
            for (mid, other) in unshared(&upper.kids, other.map(|o| &o.kids[..])) {
                n += std::mem::size_of::<Mid<R>>();
                for (leaf, other) in unshared(&mid.kids, other.map(|o| &o.kids[..])) {
                    n += std::mem::size_of::<Leaf<R>>();
                    // Values no other version shares (a leaf never written shares the
                    // slab's empty ones).
                    if Arc::strong_count(&leaf.cells) == 1 {
                        n += std::mem::size_of_val::<[Cells]>(&leaf.cells);
                    }
                    // A row another owner holds too is not this version's alone: the newer
                    // version elsewhere after a compaction moved it, or another held version.
                    let alone = unshared(&leaf.rows[..], other.map(|o| &o.rows[..]))
                        .filter(|(row, _)| Arc::strong_count(row) == 1)
                        .count();
                    n += alone * row_bytes;
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
        self.leaf(slot >> LEAF_BITS)?.rows[slot & (LEAF - 1)].as_deref()
    }

    /// The row at `slot` as the slab holds it, to share rather than copy.
    #[inline]
    pub(crate) fn get_shared(&self, slot: usize) -> Option<&Arc<R>> {
        if slot >= self.len {
            return None;
        }
        self.leaf(slot >> LEAF_BITS)?.rows[slot & (LEAF - 1)].as_ref()
    }

    /// Whether `slot` holds a row.
    #[inline]
    pub(crate) fn is_live(&self, slot: usize) -> bool {
        self.get(slot).is_some()
    }

    /// The live rows of the slots in `range` (clamped to the slab), in slot order.
    #[inline]
    pub(crate) fn live_in(&self, range: Range<usize>) -> Live<'_, R> {
        let end = range.end.min(self.len);
        let start = range.start.min(end);
        Live::new(self, start, end)
    }

    /// The leaves holding live slots of `range` (clamped to the slab), in slot order,
    /// each with its live slots in the range.
    pub(crate) fn leaves(&self, range: Range<usize>) -> impl Iterator<Item = LeafScan<'_, R>> {
        let end = range.end.min(self.len);
        let start = range.start.min(end);
        (start >> LEAF_BITS..end.div_ceil(LEAF)).filter_map(move |l| {
            let leaf = self.leaf(l)?;
            let base = l << LEAF_BITS;
            // The slots of the leaf in `start..end`.
            let lo = start.saturating_sub(base).min(LEAF);
            let hi = (end - base).min(LEAF);
            let mut live = 0u16;
            for (i, row) in leaf.rows.iter().enumerate().take(hi).skip(lo) {
                live |= u16::from(row.is_some()) << i;
            }
            (live != 0).then_some(LeafScan {
                base,
                live,
                leaf,
                cols: &self.mirror.cols,
            })
        })
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

    /// Drops every slot from `len` on (their rows too).
    pub(crate) fn truncate(&mut self, len: usize)
    where
        R: Mirrored,
    {
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
        let mid_gone = first_gone.div_ceil(MID);
        self.top.truncate(mid_gone.div_ceil(UPPER));
        // The middle nodes wholly gone in the upper node that is cut (absent if the slab
        // grew past every node written).
        if !mid_gone.is_multiple_of(UPPER) {
            if let Some(upper) = self.top.get_mut(mid_gone / UPPER) {
                let from = mid_gone % UPPER;
                if upper.kids[from..].iter().any(Option::is_some) {
                    for mid in &mut Arc::make_mut(upper).kids[from..] {
                        *mid = None;
                    }
                }
            }
        }
        // The leaves wholly gone in the middle node that is cut.
        if !first_gone.is_multiple_of(MID) {
            let (m, from) = (first_gone / MID, first_gone % MID);
            let holds_any = self
                .mid(m)
                .is_some_and(|mid| mid.kids[from..].iter().any(Option::is_some));
            if holds_any {
                for leaf in &mut self.mid_mut(m).kids[from..] {
                    *leaf = None;
                }
            }
        }
        self.len = len;
    }

    /// Makes room for `n` more slots: the nodes that will hold them are allocated now, one
    /// after the other, so a bulk insert's leaves lie side by side in memory rather than
    /// between its rows.
    pub(crate) fn reserve(&mut self, n: usize) {
        let end = self.len.saturating_add(n);
        let need = end.div_ceil(UPPER_SPAN);
        self.top.reserve(need.saturating_sub(self.top.len()));
        let first = self.len >> LEAF_BITS;
        for l in first..end.div_ceil(LEAF) {
            if self.leaf(l).is_none() {
                let leaf = Arc::new(Leaf::empty(&self.mirror.empty));
                self.mid_mut(l / MID).kids[l % MID] = Some(leaf);
            }
        }
    }

    /// Runs `f` on the slot's place, copying its upper node, middle node and leaf first if
    /// another version shares them (and creating them if never written), then mirrors
    /// what `f` left there. `slot` must be below `len`.
    #[inline]
    fn write<T>(&mut self, slot: usize, f: impl FnOnce(&mut Option<Arc<R>>) -> T) -> T
    where
        R: Mirrored,
    {
        let l = slot >> LEAF_BITS;
        let mirror = &self.mirror;
        let mid = mid_mut(&mut self.top, l / MID);
        let leaf = mid.kids[l % MID].get_or_insert_with(|| Arc::new(Leaf::empty(&mirror.empty)));
        let leaf = Arc::make_mut(leaf);
        let i = slot & (LEAF - 1);
        let out = f(&mut leaf.rows[i]);
        leaf.mirror(i, mirror);
        out
    }

    /// Puts `row` in `slot` (below `len`), returning what was there.
    #[inline]
    pub(crate) fn set(&mut self, slot: usize, row: Option<Arc<R>>) -> Option<Arc<R>>
    where
        R: Mirrored,
    {
        debug_assert!(slot < self.len, "slot {slot} past the slab's {}", self.len);
        if row.is_none() && !self.is_live(slot) {
            return None;
        }
        self.write(slot, |place| std::mem::replace(place, row))
    }

    /// Empties `slot`, returning its row.
    #[inline]
    pub(crate) fn take(&mut self, slot: usize) -> Option<Arc<R>>
    where
        R: Mirrored,
    {
        if !self.is_live(slot) {
            return None;
        }
        self.write(slot, Option::take)
    }

    /// Appends a slot holding `row`.
    #[inline]
    pub(crate) fn push(&mut self, row: Option<Arc<R>>)
    where
        R: Mirrored,
    {
        self.len += 1;
        if row.is_some() {
            self.write(self.len - 1, |place| *place = row);
        }
    }

    /// The same slots with every row converted by `f` (which keeps every column's value:
    /// the new slab mirrors the same columns).
    pub(crate) fn try_map<S: Mirrored, E>(
        &self,
        mut f: impl FnMut(&R) -> Result<S, E>,
    ) -> Result<Slab<S>, E>
    where
        R: Mirrored,
    {
        let mut out = Slab::mirroring(self.mirror.clone());
        out.reserve(self.len);
        for (slot, r) in self.live() {
            out.grow_to(slot as usize + 1);
            out.set(slot as usize, Some(Arc::new(f(r)?)));
        }
        out.grow_to(self.len);
        Ok(out)
    }
}

/// The live rows of a range of slots, from either end. Each end walks one leaf's slots as
/// a slice; the slots between the two ends' leaves (`front..back`) are not yet taken by
/// either.
pub(crate) struct Live<'a, R> {
    slab: &'a Slab<R>,
    front: usize,
    back: usize,
    /// The front end's leaf slots, the first of them slot `front_at`.
    front_slots: std::slice::Iter<'a, Option<Arc<R>>>,
    front_at: usize,
    /// The back end's leaf slots, the last of them slot `back_at - 1`.
    back_slots: std::slice::Iter<'a, Option<Arc<R>>>,
    back_at: usize,
}

impl<'a, R> Live<'a, R> {
    fn new(slab: &'a Slab<R>, front: usize, back: usize) -> Self {
        Live {
            slab,
            front,
            back,
            front_slots: [].iter(),
            front_at: front,
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
                self.front_slots = leaf.rows[start & (LEAF - 1)..=(end - 1) & (LEAF - 1)].iter();
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
                self.back_slots = leaf.rows[start & (LEAF - 1)..=(end - 1) & (LEAF - 1)].iter();
                self.back_at = end;
                return true;
            }
        }
        false
    }
}

impl<'a, R> Iterator for Live<'a, R> {
    type Item = (u32, &'a R);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            for slot in self.front_slots.by_ref() {
                let s = self.front_at;
                self.front_at += 1;
                if let Some(r) = slot {
                    return Some((s as u32, &**r));
                }
            }
            if !self.refill_front() {
                // The rest is what the back end holds.
                while let Some(slot) = self.back_slots.next() {
                    let s = self.back_at - 1 - self.back_slots.len();
                    if let Some(r) = slot {
                        return Some((s as u32, &**r));
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
                if let Some(r) = slot {
                    return Some((self.back_at as u32, &**r));
                }
            }
            if !self.refill_back() {
                // The rest is what the front end holds.
                while let Some(slot) = self.front_slots.next_back() {
                    let s = self.front_at + self.front_slots.len();
                    if let Some(r) = slot {
                        return Some((s as u32, &**r));
                    }
                }
                return None;
            }
        }
    }
}

impl<R: Mirrored> FromIterator<Option<R>> for Slab<R> {
    fn from_iter<I: IntoIterator<Item = Option<R>>>(iter: I) -> Self {
        let mut slab = Slab::default();
        for r in iter {
            slab.push(r.map(Arc::new));
        }
        slab
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Rows of the tests: a number is its own column 0; a text mirrors nothing.
    impl Mirrored for u32 {
        fn cell(&self, _: usize) -> ValueRef<'_> {
            ValueRef::Int(i64::from(*self))
        }
    }

    impl Mirrored for usize {
        fn cell(&self, _: usize) -> ValueRef<'_> {
            ValueRef::Int(*self as i64)
        }
    }

    impl Mirrored for String {
        fn cell(&self, _: usize) -> ValueRef<'_> {
            ValueRef::Text(self)
        }
    }

    fn model(slab: &Slab<String>) -> Vec<Option<String>> {
        (0..slab.len()).map(|s| slab.get(s).cloned()).collect()
    }

    #[test]
    fn a_clone_keeps_its_rows_while_the_original_changes() {
        let mut a: Slab<String> = (0..10_000).map(|i| Some(format!("r{i}"))).collect();
        let before = model(&a);
        let b = a.clone();
        let kept = a.get_shared(6).cloned();
        a.set(5, Some(Arc::new("changed".into())));
        a.take(4_100);
        a.push(Some(Arc::new("new".into())));
        a.truncate(9_000);
        // Copying a leaf shares its rows.
        assert!(kept.is_some_and(|k| a.get_shared(6).is_some_and(|r| Arc::ptr_eq(&k, r))));
        assert_eq!(model(&b), before);
        assert_eq!(a.get(5).map(String::as_str), Some("changed"));
        assert_eq!(a.get(4_100), None);
        assert_eq!(a.len(), 9_000);
        assert_eq!(a.get(9_000), None);
        assert_eq!(b.get(9_999).map(String::as_str), Some("r9999"));
    }

    #[test]
    fn gaps_read_empty_and_truncated_slots_stay_empty_when_grown_again() {
        let mut a: Slab<u32> = Slab::default();
        a.grow_to(10_000);
        assert_eq!(a.live().count(), 0);
        a.set(9_999, Some(Arc::new(1)));
        a.set(70, Some(Arc::new(2)));
        assert_eq!(a.live().collect::<Vec<_>>(), vec![(70, &2), (9_999, &1)]);
        a.truncate(71);
        a.grow_to(10_000);
        assert_eq!(a.live().collect::<Vec<_>>(), vec![(70, &2)]);
        a.truncate(70);
        a.grow_to(71);
        assert_eq!(a.get(70), None);
    }

    #[test]
    fn slots_past_the_first_upper_node_are_shared_copied_and_cut_alike() {
        let span = UPPER_SPAN;
        let live = |s: &Slab<usize>| s.live().map(|(s, r)| (s as usize, *r)).collect::<Vec<_>>();
        let mut a: Slab<usize> = Slab::default();
        a.grow_to(2 * span + 100);
        let slots = [0, span - 1, span, span + LEAF * MID, 2 * span + 99];
        for s in slots {
            a.set(s, Some(Arc::new(s)));
        }
        let b = a.clone();
        assert_eq!(b.bytes_not_in(&a), 0);
        a.set(span, Some(Arc::new(7)));
        // Copied: the upper node, the middle node and the leaf of slot `span`; the old row is
        // `b`'s alone.
        let copied = std::mem::size_of::<Upper<usize>>()
            + std::mem::size_of::<Mid<usize>>()
            + std::mem::size_of::<Leaf<usize>>()
            + std::mem::size_of::<usize>()
            + 16;
        assert_eq!(b.bytes_not_in(&a), copied as u64);
        a.truncate(span + 1);
        a.grow_to(2 * span + 100);
        assert_eq!(live(&a), [(0, 0), (span - 1, span - 1), (span, 7)]);
        assert_eq!(live(&b), slots.map(|s| (s, s)));
        assert_eq!(
            b.live_in(span - 1..2 * span)
                .rev()
                .map(|(s, _)| s as usize)
                .collect::<Vec<_>>(),
            [span + LEAF * MID, span, span - 1]
        );
        a.truncate(span);
        a.grow_to(span + 1);
        assert_eq!(a.get(span), None);
        assert_eq!(live(&a), [(0, 0), (span - 1, span - 1)]);
    }

    #[test]
    fn a_cut_past_every_node_written_keeps_the_rows_below_it() {
        let mut a: Slab<usize> = (0..2_000).map(Some).collect();
        a.grow_to(3 * UPPER_SPAN);
        let b = a.clone();
        a.truncate(2 * UPPER_SPAN + 140);
        a.truncate(UPPER_SPAN + 9 * LEAF * MID + 5);
        let want: Vec<(u32, usize)> = (0..2_000).map(|s| (s as u32, s)).collect();
        assert_eq!(a.live().map(|(s, r)| (s, *r)).collect::<Vec<_>>(), want);
        assert_eq!(b.live().map(|(s, r)| (s, *r)).collect::<Vec<_>>(), want);
    }

    #[test]
    fn ranges_walk_both_ways_within_their_bounds() {
        let a: Slab<usize> = (0..300).map(|i| (i % 3 != 0).then_some(i)).collect();
        let fwd: Vec<u32> = a.live_in(60..200).map(|(s, _)| s).collect();
        let want: Vec<u32> = (60..200).filter(|i| i % 3 != 0).collect();
        assert_eq!(fwd, want);
        let back: Vec<u32> = a.live_in(60..200).rev().map(|(s, _)| s).collect();
        assert_eq!(back, want.into_iter().rev().collect::<Vec<_>>());
        assert_eq!(a.live_in(250..1_000).count(), 34);
        assert_eq!(a.live_in(400..500).count(), 0);
    }

    proptest::proptest! {
        #[test]
        fn matches_a_vector_across_clones(ops in proptest::collection::vec((0u8..5, 0usize..9_000, 0u32..1000), 1..200)) {
            let mut slab: Slab<u32> = Slab::mirroring(Mirror::new(vec![(0, NumKind::Int)]));
            let mut vec: Vec<Option<u32>> = Vec::new();
            let mut kept: Vec<(Slab<u32>, Vec<Option<u32>>)> = Vec::new();
            for (op, at, v) in ops {
                match op {
                    0 => { slab.push(Some(Arc::new(v))); vec.push(Some(v)); }
                    1 if !vec.is_empty() => {
                        let s = at % vec.len();
                        proptest::prop_assert_eq!(slab.set(s, Some(Arc::new(v))).as_deref().copied(), vec[s].replace(v));
                    }
                    2 if !vec.is_empty() => {
                        let s = at % vec.len();
                        proptest::prop_assert_eq!(slab.take(s).as_deref().copied(), vec[s].take());
                    }
                    3 => { let n = at % (vec.len() + 1); slab.truncate(n); vec.truncate(n); }
                    4 => {
                        kept.push((slab.clone(), vec.clone()));
                        slab.grow_to(vec.len() + at % 300);
                        vec.resize(vec.len() + at % 300, None);
                    }
                    _ => {}
                }
                proptest::prop_assert_eq!(slab.len(), vec.len());
            }
            kept.push((slab, vec));
            for (slab, vec) in kept {
                let got: Vec<Option<u32>> = (0..slab.len()).map(|s| slab.get(s).copied()).collect();
                proptest::prop_assert_eq!(&got, &vec);
                let live: Vec<(u32, u32)> = slab.live().map(|(s, r)| (s, *r)).collect();
                // The leaves' live slots and mirrored values are the rows'.
                let mut mirrored = Vec::new();
                for leaf in slab.leaves(0..slab.len()) {
                    let (bits, odd, kind) = leaf.column(0);
                    for i in Bits(leaf.live) {
                        proptest::prop_assert_eq!(odd >> i & 1, 0);
                        proptest::prop_assert_eq!(kind.value(bits[i]), ValueRef::Int(i64::from(*leaf.row(i).unwrap())));
                        mirrored.push(((leaf.base + i) as u32, *leaf.row(i).unwrap()));
                    }
                }
                proptest::prop_assert_eq!(&mirrored, &live);
                let want: Vec<(u32, u32)> = vec.iter().enumerate().filter_map(|(s, r)| r.map(|r| (s as u32, r))).collect();
                proptest::prop_assert_eq!(&live, &want);
                // From both ends at once, in turns: every row once, in order from each end.
                let (lo, hi) = (vec.len() / 3, vec.len() - vec.len() / 4);
                let want: Vec<(u32, u32)> = want.into_iter().filter(|&(s, _)| (lo..hi).contains(&(s as usize))).collect();
                let mut it = slab.live_in(lo..hi);
                let (mut front, mut back) = (Vec::new(), Vec::new());
                for turn in 0.. {
                    let next = if turn % 3 == 0 { it.next_back().map(|x| back.push((x.0, *x.1))) } else { it.next().map(|x| front.push((x.0, *x.1))) };
                    if next.is_none() { break; }
                }
                back.reverse();
                front.extend(back);
                proptest::prop_assert_eq!(front, want);
            }
        }
    }
}
