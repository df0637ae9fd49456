//! Posting lists: the set of slots that hold one value of an ordered index.
//!
//! An ordered index maps each distinct value to a [`Handle`]. A value held by one row (the
//! common case for columns with many distinct values) is the slot itself, stored in the
//! index's B-tree with no allocation. A value held by several rows points into [`Postings`],
//! where its slots are a sorted list while sparse and a bitmap once dense (a bitmap costs one
//! bit per slot of the table, a list four bytes per entry). A column like `year`, with ten
//! values over 200k rows, so costs ten 25 KB bitmaps instead of 200k B-tree entries, and a
//! bulk delete clears bits instead of rebalancing a tree.

/// A value's set of slots: the slot itself, or (high bit set) an index into [`Postings`].
pub(crate) type Handle = u32;

const MANY: u32 = 1 << 31;

/// A list turns into a bitmap from this many entries on, if the bitmap is smaller.
const MIN_BITMAP: usize = 64;

/// The sets of more than one slot of one ordered index.
#[derive(Debug, Clone, Default)]
pub(crate) struct Postings {
    many: Vec<Many>,
    free: Vec<u32>,
}

#[derive(Debug, Clone)]
enum Many {
    /// Ascending slots.
    List(Vec<u32>),
    /// One bit per slot; `len` bits are set.
    Bits { words: Vec<u64>, len: usize },
}

impl Many {
    fn len(&self) -> usize {
        match self {
            Many::List(v) => v.len(),
            Many::Bits { len, .. } => *len,
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
                        words: bits,
                        len: v.len(),
                    };
                }
            }
            Many::Bits { words, len } => {
                let (w, bit) = (slot as usize / 64, 1u64 << (slot % 64));
                if w >= words.len() {
                    words.resize(w + 1, 0);
                }
                if words[w] & bit == 0 {
                    words[w] |= bit;
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
                    words[w] &= !bit;
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

impl Postings {
    /// The handle of a set holding only `slot`.
    pub(crate) fn single(&mut self, slot: u32) -> Handle {
        if slot < MANY {
            slot
        } else {
            self.alloc(Many::List(vec![slot]))
        }
    }

    fn alloc(&mut self, m: Many) -> Handle {
        match self.free.pop() {
            Some(i) => {
                self.many[i as usize] = m;
                i | MANY
            }
            None => {
                self.many.push(m);
                (self.many.len() - 1) as u32 | MANY
            }
        }
    }

    fn release(&mut self, i: u32) {
        self.many[i as usize] = Many::List(Vec::new());
        self.free.push(i);
    }

    /// Adds `slot` to the set; returns the set's handle (changed when a single slot grows).
    pub(crate) fn insert(&mut self, h: Handle, slot: u32) -> Handle {
        if h & MANY == 0 {
            if h == slot {
                return h;
            }
            let list = if h < slot {
                vec![h, slot]
            } else {
                vec![slot, h]
            };
            return self.alloc(Many::List(list));
        }
        self.many[(h & !MANY) as usize].insert(slot);
        h
    }

    /// Removes `slot` from the set; returns the handle of what is left, `None` if nothing.
    pub(crate) fn remove(&mut self, h: Handle, slot: u32) -> Option<Handle> {
        if h & MANY == 0 {
            return (h != slot).then_some(h);
        }
        let i = h & !MANY;
        let m = &mut self.many[i as usize];
        m.remove(slot);
        let (len, first) = (m.len(), m.iter().next());
        match (len, first) {
            (0, _) => {
                self.release(i);
                None
            }
            (1, Some(last)) if last < MANY => {
                self.release(i);
                Some(last)
            }
            _ => Some(h),
        }
    }

    /// How many slots the set holds.
    #[cfg(test)]
    pub(crate) fn len(&self, h: Handle) -> usize {
        if h & MANY == 0 {
            1
        } else {
            self.many[(h & !MANY) as usize].len()
        }
    }

    /// The set's slots, ascending (and descending from the back).
    pub(crate) fn iter(&self, h: Handle) -> Slots<'_> {
        if h & MANY == 0 {
            Slots::One(Some(h))
        } else {
            self.many[(h & !MANY) as usize].iter()
        }
    }

    pub(crate) fn clear(&mut self) {
        self.many.clear();
        self.free.clear();
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
    words: &'a [u64],
    front_i: usize,
    front: u64,
    back_i: usize,
    back: u64,
}

impl<'a> BitIter<'a> {
    fn new(words: &'a [u64]) -> Self {
        match words {
            [] => BitIter {
                words,
                front_i: 1,
                front: 0,
                back_i: 0,
                back: 0,
            },
            [first, .., last] => BitIter {
                words,
                front_i: 0,
                front: *first,
                back_i: words.len() - 1,
                back: *last,
            },
            [only] => BitIter {
                words,
                front_i: 0,
                front: *only,
                back_i: 0,
                back: *only,
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
            if let Some(&w) = self.words.get(self.front_i) {
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
            self.back = self.words[self.back_i];
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
            let mut p = Postings::default();
            let mut h: Option<Handle> = None;
            let mut model = BTreeSet::new();
            for step in 0..6000 {
                let slot = next(span) as u32;
                // Grow for the first half, then shrink.
                if next(10) < if step < 3000 { 8 } else { 2 } {
                    model.insert(slot);
                    h = Some(match h {
                        None => p.single(slot),
                        Some(h) => p.insert(h, slot),
                    });
                } else if let Some(hh) = h {
                    model.remove(&slot);
                    h = p.remove(hh, slot);
                }
                let want: Vec<u32> = model.iter().copied().collect();
                let got: Vec<u32> = h.map_or(Vec::new(), |h| p.iter(h).collect());
                assert_eq!(got, want, "span {span} step {step}");
                if let Some(h) = h {
                    assert_eq!(p.len(h), want.len());
                    let back: Vec<u32> = p.iter(h).rev().collect();
                    assert!(back.iter().rev().eq(want.iter()));
                    // Alternating ends meet without losing or repeating a slot.
                    let mut it = p.iter(h);
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
                }
            }
        }
    }

    #[test]
    fn bit_iter_handles_empty_and_single_words() {
        assert_eq!(BitIter::new(&[]).count(), 0);
        assert_eq!(BitIter::new(&[]).next_back(), None);
        assert_eq!(BitIter::new(&[0]).collect::<Vec<_>>(), Vec::<u32>::new());
        assert_eq!(BitIter::new(&[0b1010]).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(BitIter::new(&[0b1010]).rev().collect::<Vec<_>>(), [3, 1]);
        assert_eq!(
            BitIter::new(&[1 << 63, 0, 1]).collect::<Vec<_>>(),
            [63, 128]
        );
        assert_eq!(
            BitIter::new(&[1 << 63, 0, 1]).rev().collect::<Vec<_>>(),
            [128, 63]
        );
    }
}
