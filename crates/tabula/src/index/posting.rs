//! Posting lists: the set of slots that hold one value of an ordered index.
//!
//! An [`Entry`] is one value's set. A value held by one row (the common case for columns with
//! many distinct values) is the slot itself, stored inline with no allocation. A value held
//! by several rows is a shared [`Many`]: a sorted list while sparse, a bitmap once dense (a
//! bitmap costs one bit per slot of the table, a list four bytes per entry). A column like
//! `year`, with ten values over 200k rows, so costs ten 25 KB bitmaps instead of 200k tree
//! entries, and a bulk delete clears bits instead of rebalancing a tree.
//!
//! Sets are copy-on-write: cloning an [`Entry`] shares its [`Many`] behind an [`Arc`], and the
//! first change to a shared set copies that one set ([`Arc::make_mut`]). Old versions of an
//! index so keep their sets while a writer changes its own copy. A bitmap is itself in
//! chunks of [`CHUNK`] words behind `Arc`s, so the copy a one-row commit makes of a shared
//! bitmap is its chunk pointers and the chunk it changes, not the whole table's bits.

use std::sync::Arc;

/// A list turns into a bitmap from this many entries on, if the bitmap is smaller.
const MIN_BITMAP: usize = 64;
/// Words per chunk of a bitmap (4 KB, 32,768 slots).
const CHUNK: usize = 512;

/// The non-empty set of slots holding one value.
#[derive(Debug, Clone)]
pub(crate) enum Entry {
    /// A single slot.
    One(u32),
    /// Two slots or more (never fewer: a set that shrinks to one slot becomes [`Entry::One`]).
    Many(Arc<Many>),
}

/// A set of two slots or more.
#[derive(Debug, Clone)]
pub(crate) enum Many {
    /// Ascending slots.
    List(Vec<u32>),
    /// One bit per slot; `len` bits are set.
    Bits { words: Bitmap, len: usize },
}

/// Bits in words, the words in chunks of [`CHUNK`] (all full but the last) behind `Arc`s.
#[derive(Debug, Clone, Default)]
pub(crate) struct Bitmap {
    chunks: Vec<Arc<Vec<u64>>>,
    words: usize,
}

impl Bitmap {
    fn from_words(words: &[u64]) -> Self {
        Bitmap {
            chunks: words.chunks(CHUNK).map(|c| Arc::new(c.to_vec())).collect(),
            words: words.len(),
        }
    }

    /// The number of words.
    fn len(&self) -> usize {
        self.words
    }

    /// Word `i`, if there is one.
    #[inline]
    fn get(&self, i: usize) -> Option<u64> {
        self.chunks.get(i / CHUNK)?.get(i % CHUNK).copied()
    }

    /// Word `i`, to change, after growing the bitmap to hold it; its chunk is copied first
    /// if another version shares it.
    fn get_mut(&mut self, i: usize) -> &mut u64 {
        while self.words <= i {
            let need = i + 1 - self.words;
            match self.chunks.last_mut() {
                Some(last) if last.len() < CHUNK => {
                    let last = Arc::make_mut(last);
                    let add = need.min(CHUNK - last.len());
                    last.resize(last.len() + add, 0);
                    self.words += add;
                }
                _ => {
                    let add = need.min(CHUNK);
                    self.chunks.push(Arc::new(vec![0; add]));
                    self.words += add;
                }
            }
        }
        &mut Arc::make_mut(&mut self.chunks[i / CHUNK])[i % CHUNK]
    }
}

impl Many {
    fn len(&self) -> usize {
        match self {
            Many::List(v) => v.len(),
            Many::Bits { len, .. } => *len,
        }
    }

    fn contains(&self, slot: u32) -> bool {
        match self {
            Many::List(v) => v.binary_search(&slot).is_ok(),
            Many::Bits { words, .. } => words
                .get(slot as usize / 64)
                .is_some_and(|w| w & (1 << (slot % 64)) != 0),
        }
    }

    fn insert(&mut self, slot: u32) {
        match self {
            Many::List(v) => {
                match v.last() {
                    Some(&last) if last < slot => v.push(slot),
                    _ => {
                        if let Err(at) = v.binary_search(&slot) {
                            v.insert(at, slot);
                        }
                    }
                }
                let words = v.last().map_or(0, |&m| m as usize / 64 + 1);
                if v.len() >= MIN_BITMAP && v.len() >= 2 * words {
                    let mut bits = vec![0u64; words];
                    for &s in v.iter() {
                        bits[s as usize / 64] |= 1 << (s % 64);
                    }
                    *self = Many::Bits {
                        words: Bitmap::from_words(&bits),
                        len: v.len(),
                    };
                }
            }
            Many::Bits { words, len } => {
                let (w, bit) = (slot as usize / 64, 1u64 << (slot % 64));
                if words.get(w).is_none_or(|x| x & bit == 0) {
                    *words.get_mut(w) |= bit;
                    *len += 1;
                }
            }
        }
    }

    fn remove(&mut self, slot: u32) {
        match self {
            Many::List(v) => {
                if let Ok(at) = v.binary_search(&slot) {
                    v.remove(at);
                }
            }
            Many::Bits { words, len } => {
                let (w, bit) = (slot as usize / 64, 1u64 << (slot % 64));
                if words.get(w).is_some_and(|x| x & bit != 0) {
                    *words.get_mut(w) &= !bit;
                    *len -= 1;
                }
                // Back to a list once that is a quarter of the bitmap's size (no flapping).
                if *len < words.len() / 2 {
                    let list: Vec<u32> = BitIter::new(words).collect();
                    *self = Many::List(list);
                }
            }
        }
    }

    fn iter(&self) -> Slots<'_> {
        match self {
            Many::List(v) => Slots::List(v.iter().copied()),
            Many::Bits { words, .. } => Slots::Bits(BitIter::new(words)),
        }
    }
}

impl Entry {
    /// Whether the set holds `slot`.
    pub(crate) fn contains(&self, slot: u32) -> bool {
        match self {
            Entry::One(s) => *s == slot,
            Entry::Many(m) => m.contains(slot),
        }
    }

    /// Adds `slot` to the set. A shared set is copied first, unless it already holds `slot`.
    pub(crate) fn insert(&mut self, slot: u32) {
        match self {
            Entry::One(s) if *s == slot => {}
            Entry::One(s) => {
                let list = if *s < slot {
                    vec![*s, slot]
                } else {
                    vec![slot, *s]
                };
                *self = Entry::Many(Arc::new(Many::List(list)));
            }
            Entry::Many(m) => {
                if !m.contains(slot) {
                    Arc::make_mut(m).insert(slot);
                }
            }
        }
    }

    /// Removes `slot` from the set; returns whether any slot is left (if none, the caller
    /// drops the entry: an `Entry` is never empty). A shared set is copied first, unless it
    /// does not hold `slot`.
    #[must_use]
    pub(crate) fn remove(&mut self, slot: u32) -> bool {
        match self {
            Entry::One(s) => *s != slot,
            Entry::Many(m) => {
                if m.contains(slot) {
                    let many = Arc::make_mut(m);
                    many.remove(slot);
                    // Only a set down to one slot is walked for it (a walk of a bitmap from
                    // its start on every removal would make a bulk delete quadratic).
                    if many.len() == 1 {
                        if let Some(last) = many.iter().next() {
                            *self = Entry::One(last);
                        }
                    }
                }
                true
            }
        }
    }

    /// How many slots the set holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        match self {
            Entry::One(_) => 1,
            Entry::Many(m) => m.len(),
        }
    }

    /// The set's slots, ascending (and descending from the back).
    pub(crate) fn iter(&self) -> Slots<'_> {
        match self {
            Entry::One(s) => Slots::One(Some(*s)),
            Entry::Many(m) => m.iter(),
        }
    }
}

/// The slots of one set, in ascending order from the front and descending from the back.
pub(crate) enum Slots<'a> {
    One(Option<u32>),
    List(std::iter::Copied<std::slice::Iter<'a, u32>>),
    Bits(BitIter<'a>),
}

impl Iterator for Slots<'_> {
    type Item = u32;
    #[inline]
    fn next(&mut self) -> Option<u32> {
        match self {
            Slots::One(s) => s.take(),
            Slots::List(it) => it.next(),
            Slots::Bits(it) => it.next(),
        }
    }
}

impl DoubleEndedIterator for Slots<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<u32> {
        match self {
            Slots::One(s) => s.take(),
            Slots::List(it) => it.next_back(),
            Slots::Bits(it) => it.next_back(),
        }
    }
}

/// The set bits of a bitmap, from both ends. `front` and `back` are the words being read
/// from each end, with the bits already returned cleared; while both ends are in the same
/// word, its remaining bits are `front & back`.
pub(crate) struct BitIter<'a> {
    words: &'a Bitmap,
    front_i: usize,
    front: u64,
    back_i: usize,
    back: u64,
}

impl<'a> BitIter<'a> {
    fn new(words: &'a Bitmap) -> Self {
        match (words.get(0), words.len().checked_sub(1)) {
            (Some(first), Some(back_i)) => BitIter {
                words,
                front_i: 0,
                front: first,
                back_i,
                back: words.get(back_i).unwrap_or(0),
            },
            _ => BitIter {
                words,
                front_i: 1,
                front: 0,
                back_i: 0,
                back: 0,
            },
        }
    }
}

impl Iterator for BitIter<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        while self.front_i <= self.back_i {
            let same = self.front_i == self.back_i;
            let w = if same {
                self.front & self.back
            } else {
                self.front
            };
            if w != 0 {
                let bit = w & w.wrapping_neg();
                self.front &= !bit;
                if same {
                    self.back &= !bit;
                }
                return Some((self.front_i * 64) as u32 + bit.trailing_zeros());
            }
            self.front_i += 1;
            if let Some(w) = self.words.get(self.front_i) {
                self.front = w;
            }
        }
        None
    }
}

impl DoubleEndedIterator for BitIter<'_> {
    fn next_back(&mut self) -> Option<u32> {
        while self.front_i <= self.back_i {
            let same = self.front_i == self.back_i;
            let w = if same {
                self.front & self.back
            } else {
                self.back
            };
            if w != 0 {
                let top = 63 - w.leading_zeros();
                let bit = 1u64 << top;
                self.back &= !bit;
                if same {
                    self.front &= !bit;
                }
                return Some((self.back_i * 64) as u32 + top);
            }
            if self.back_i == 0 {
                // Nothing left; make the ends cross.
                self.front_i = 1;
                return None;
            }
            self.back_i -= 1;
            self.back = self.words.get(self.back_i).unwrap_or(0);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Random inserts and removes against a `BTreeSet`, crossing the list/bitmap thresholds
    /// both ways, with iteration from both ends (and from both at once) checked each step.
    /// Clones taken along the way must keep their slots while the set changes.
    #[test]
    fn postings_behave_like_a_sorted_set() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        for span in [3u64, 200, 5000] {
            let mut e: Option<Entry> = None;
            let mut model = BTreeSet::new();
            let mut snapshots: Vec<(Entry, Vec<u32>)> = Vec::new();
            for step in 0..6000 {
                let slot = next(span) as u32;
                // Grow for the first half, then shrink.
                if next(10) < if step < 3000 { 8 } else { 2 } {
                    model.insert(slot);
                    match &mut e {
                        None => e = Some(Entry::One(slot)),
                        Some(e) => e.insert(slot),
                    }
                } else if let Some(ee) = &mut e {
                    model.remove(&slot);
                    if !ee.remove(slot) {
                        e = None;
                    }
                }
                let want: Vec<u32> = model.iter().copied().collect();
                let got: Vec<u32> = e.iter().flat_map(Entry::iter).collect();
                assert_eq!(got, want, "span {span} step {step}");
                if let Some(e) = &e {
                    assert_eq!(e.len(), want.len());
                    assert_eq!(e.contains(slot), model.contains(&slot));
                    if let Entry::Many(m) = e {
                        assert!(m.len() >= 2, "span {span} step {step}");
                    }
                    let back: Vec<u32> = e.iter().rev().collect();
                    assert!(back.iter().rev().eq(want.iter()));
                    // Alternating ends meet without losing or repeating a slot.
                    let mut it = e.iter();
                    let (mut lo, mut hi) = (Vec::new(), Vec::new());
                    while let Some(s) = it.next() {
                        lo.push(s);
                        match it.next_back() {
                            Some(s) => hi.push(s),
                            None => break,
                        }
                    }
                    lo.extend(hi.into_iter().rev());
                    assert_eq!(lo, want, "span {span} step {step}");
                    if step % 700 == 0 {
                        snapshots.push((e.clone(), want));
                    }
                }
                if step % 97 == 0 || step == 5999 {
                    for (copy, was) in &snapshots {
                        assert!(
                            copy.iter().eq(was.iter().copied()),
                            "span {span} step {step}"
                        );
                    }
                }
            }
        }
    }

    /// A clone shares its set until one side changes it; a change that changes nothing (a
    /// slot already there, or a slot that is not) copies nothing.
    #[test]
    fn clones_share_a_set_until_it_changes() {
        let mut a = Entry::One(0);
        for s in (0..640).step_by(2) {
            a.insert(s);
        }
        assert!(matches!(&a, Entry::Many(m) if matches!(**m, Many::Bits { .. })));
        let mut b = a.clone();
        let shared = |a: &Entry, b: &Entry| match (a, b) {
            (Entry::Many(x), Entry::Many(y)) => Arc::ptr_eq(x, y),
            _ => false,
        };
        b.insert(2);
        assert!(b.remove(3));
        assert!(shared(&a, &b));
        b.insert(3);
        assert!(!shared(&a, &b));
        assert_eq!((a.len(), b.len()), (320, 321));
        assert!(!a.contains(3) && b.contains(3));
        let c = b.clone();
        assert!(b.remove(0));
        assert!(!shared(&b, &c));
        assert_eq!((b.len(), c.len()), (320, 321));
        assert!(c.contains(0) && !b.contains(0));
    }

    #[test]
    fn a_bitmap_over_several_chunks_walks_them_and_a_change_copies_one() {
        let bits = (CHUNK * 64) as u32;
        let slots: Vec<u32> = (0..3 * bits).filter(|s| s % 3 == 0).collect();
        let mut e = Entry::One(slots[0]);
        for &s in &slots[1..] {
            e.insert(s);
        }
        assert!(e.iter().eq(slots.iter().copied()));
        assert!(e.iter().rev().eq(slots.iter().rev().copied()));
        let copy = e.clone();
        assert_eq!((bits + 2) % 3, 1, "a slot not in the set");
        e.insert(bits + 2);
        assert!(e.contains(bits + 2) && !copy.contains(bits + 2));
        let chunks = |e: &Entry| match e {
            Entry::Many(m) => match &**m {
                Many::Bits { words, .. } => words.chunks.clone(),
                Many::List(_) => Vec::new(),
            },
            Entry::One(_) => Vec::new(),
        };
        let (old, new) = (chunks(&copy), chunks(&e));
        assert_eq!((old.len(), new.len()), (3, 3));
        let shared: Vec<bool> = old
            .iter()
            .zip(&new)
            .map(|(a, b)| Arc::ptr_eq(a, b))
            .collect();
        assert_eq!(shared, [true, false, true]);
        // A slot past the end grows the bitmap by whole chunks.
        e.insert(5 * bits + 7);
        assert_eq!(e.iter().next_back(), Some(5 * bits + 7));
        assert_eq!(e.len(), slots.len() + 2);
        assert!(copy.iter().eq(slots.iter().copied()));
    }

    #[test]
    fn bit_iter_handles_empty_and_single_words() {
        assert_eq!(BitIter::new(&Bitmap::from_words(&[])).count(), 0);
        assert_eq!(BitIter::new(&Bitmap::from_words(&[])).next_back(), None);
        assert_eq!(
            BitIter::new(&Bitmap::from_words(&[0])).collect::<Vec<_>>(),
            Vec::<u32>::new()
        );
        assert_eq!(
            BitIter::new(&Bitmap::from_words(&[0b1010])).collect::<Vec<_>>(),
            [1, 3]
        );
        assert_eq!(
            BitIter::new(&Bitmap::from_words(&[0b1010]))
                .rev()
                .collect::<Vec<_>>(),
            [3, 1]
        );
        assert_eq!(
            BitIter::new(&Bitmap::from_words(&[1 << 63, 0, 1])).collect::<Vec<_>>(),
            [63, 128]
        );
        assert_eq!(
            BitIter::new(&Bitmap::from_words(&[1 << 63, 0, 1]))
                .rev()
                .collect::<Vec<_>>(),
            [128, 63]
        );
    }
}
