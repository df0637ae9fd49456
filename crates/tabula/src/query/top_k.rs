//! The best `k` rows of a query under its order, keeping at most `k` slots at any time: the
//! one top-k every ordered query with a limit runs, over an index range, a filtered scan, or
//! (unfiltered and large) the slab in two halves on two threads.

use std::cmp::Ordering;

use crate::query::check::float_key;
use crate::query::exec::compare;
use crate::record::Record;
use crate::slab::{Bits, NumKind};
use crate::table::TableData;
use crate::value::ValueRef;

/// Tables with at least this many slots are scanned on two threads by [`top_k_slab`]. Below
/// it, starting a thread costs more than it saves in a process that has not started one yet
/// (the bench README has the measurements that set it).
pub(crate) const PARALLEL_SCAN_SLOTS: usize = 1 << 19;

/// A max-heap of the best `k` slots offered so far (the root is the worst kept). A candidate
/// is compared first on the first order key, inline, against a copy of the worst kept row's
/// key: once the heap is full most candidates are rejected after reading only their own
/// row, or none of it when the key comes from the slab's mirrored values
/// ([`TopK::offer_keyed`]). Ties on that key, and the keys after it, go through the full comparison, which ends
/// with the primary key, so the result is the same whatever order rows are offered in.
pub(crate) struct TopK<'t, 'o, R> {
    t: &'t TableData<R>,
    order: &'o [(usize, bool)],
    k: usize,
    heap: Vec<u32>,
    /// The worst kept slot and its first order key, once the heap is full.
    worst: Option<(u32, ValueRef<'t>)>,
}

impl<'t, 'o, R: Record> TopK<'t, 'o, R> {
    /// Keeps the best `k` under `order` (column, descending), which must not be empty: an
    /// unordered query passes the primary key.
    pub(crate) fn new(t: &'t TableData<R>, order: &'o [(usize, bool)], k: usize) -> Self {
        TopK {
            t,
            order,
            k,
            heap: Vec::with_capacity(k.min(1 << 16)),
            worst: None,
        }
    }

    /// The worst kept row's first order key, once `k` rows are kept.
    #[inline]
    pub(crate) fn worst_key(&self) -> Option<ValueRef<'t>> {
        self.worst.map(|(_, v)| v)
    }

    /// Whether the first order key is descending.
    #[inline]
    pub(crate) fn descending(&self) -> bool {
        self.order[0].1
    }

    fn first_key(&self, slot: u32) -> ValueRef<'t> {
        let col = self.order[0].0;
        self.t.row(slot).map_or(ValueRef::Null, |r| r.col(col))
    }

    fn cmp(&self, a: u32, b: u32) -> Ordering {
        compare(self.t, self.order, a, b)
    }

    /// Offers the row at `slot`.
    #[inline]
    pub(crate) fn offer(&mut self, slot: u32, row: &R) {
        self.offer_keyed(slot, row.col(self.order[0].0));
    }

    /// Offers the row at `slot`, whose first order key is `v`: the row itself is read only
    /// if it is kept or ties with the worst kept.
    #[inline]
    pub(crate) fn offer_keyed(&mut self, slot: u32, v: ValueRef<'_>) {
        if self.heap.len() < self.k {
            self.heap.push(slot);
            self.sift_up(self.heap.len() - 1);
            if self.heap.len() == self.k {
                self.worst = Some((self.heap[0], self.first_key(self.heap[0])));
            }
            return;
        }
        let Some((worst, worst_key)) = self.worst else {
            return; // k == 0
        };
        let desc = self.order[0].1;
        // The common column types compare inline: this runs once per row scanned.
        let o = match (v, worst_key) {
            (ValueRef::Float(x), ValueRef::Float(y)) => {
                crate::value::one_nan(x).total_cmp(&crate::value::one_nan(y))
            }
            (ValueRef::Int(x), ValueRef::Int(y)) => x.cmp(&y),
            _ => v.total_cmp(worst_key),
        };
        let o = if desc { o.reverse() } else { o };
        match o {
            Ordering::Greater => return,
            Ordering::Equal if self.cmp(slot, worst) != Ordering::Less => return,
            _ => {}
        }
        self.heap[0] = slot;
        self.sift_down(0);
        self.worst = Some((self.heap[0], self.first_key(self.heap[0])));
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.cmp(self.heap[i], self.heap[parent]) != Ordering::Greater {
                break;
            }
            self.heap.swap(i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut largest = i;
            for c in [l, r] {
                if c < self.heap.len()
                    && self.cmp(self.heap[c], self.heap[largest]) == Ordering::Greater
                {
                    largest = c;
                }
            }
            if largest == i {
                break;
            }
            self.heap.swap(i, largest);
            i = largest;
        }
    }

    /// The slots kept, best first.
    pub(crate) fn finish(self) -> Vec<u32> {
        let mut kept = self.heap;
        kept.sort_by(|&a, &b| compare(self.t, self.order, a, b));
        kept
    }
}

/// The top `k` of `rows` under `order`.
pub(crate) fn top_k<'t, R: Record>(
    t: &'t TableData<R>,
    order: &[(usize, bool)],
    k: usize,
    rows: impl Iterator<Item = (u32, &'t R)>,
) -> Vec<u32> {
    let mut top = TopK::new(t, order, k);
    for (s, r) in rows {
        top.offer(s, r);
    }
    top.finish()
}

/// The top `k` of every live row. The slab of a table with `parallel_from` slots or more is
/// scanned in two halves on two threads: such a scan is bound by memory bandwidth, which one
/// core does not use up. The result is the same as one scan's: the top `k` of both halves'
/// top `k`, under the same total order.
pub(crate) fn top_k_slab<R: Record>(
    t: &TableData<R>,
    order: &[(usize, bool)],
    k: usize,
    parallel_from: usize,
) -> Vec<u32> {
    let n = t.slot_count();
    let parallel =
        n >= parallel_from && std::thread::available_parallelism().is_ok_and(|p| p.get() >= 2);
    let part = |range: std::ops::Range<usize>| top_k_range(t, order, k, range);
    if !parallel {
        return part(0..n);
    }
    let mid = n / 2;
    let (first, second) = std::thread::scope(|s| {
        let second = s.spawn(|| part(mid..n));
        let first = part(0..mid);
        (first, second.join())
    });
    let Ok(second) = second else {
        // The scan calls no user code; should the thread die anyway, scan on this one.
        return top_k(t, order, k, t.slab());
    };
    let both = first.into_iter().chain(second);
    top_k(t, order, k, both.filter_map(|s| t.row(s).map(|r| (s, r))))
}

/// The top `k` of the live rows of the slots in `range`; when the slab mirrors the first
/// order key's column, it is read there, and only the rows kept or tied are read.
fn top_k_range<R: Record>(
    t: &TableData<R>,
    order: &[(usize, bool)],
    k: usize,
    range: std::ops::Range<usize>,
) -> Vec<u32> {
    let mirrored =
        (order.first()).and_then(|&(col, _)| Some((col, t.rows().mirror().position(col)?)));
    let Some((col, at)) = mirrored else {
        return top_k(t, order, k, t.slab_range(range));
    };
    let mut top = TopK::new(t, order, k);
    for leaf in t.rows().leaves(range) {
        let (bits, odd, kind) = leaf.column(at);
        let mut offered = leaf.live;
        if let Some(worst) = top.worst_key() {
            // The slots whose value is no worse than the worst kept; the others would be
            // turned away.
            offered &= no_worse(bits, kind, worst, top.descending()) | odd;
        }
        for i in Bits(offered) {
            let slot = (leaf.base + i) as u32;
            if odd >> i & 1 == 0 {
                top.offer_keyed(slot, kind.value(bits[i]));
            } else if let Some(r) = leaf.row(i) {
                top.offer_keyed(slot, r.col(col));
            }
        }
    }
    top.finish()
}

/// Which of 16 values (bits of `kind`) are no worse than `worst` under the first order
/// key (descending or not), as [`TopK::offer_keyed`] compares them; every one where the
/// kinds differ (the offer decides).
#[inline]
fn no_worse(bits: &[u64; 16], kind: NumKind, worst: ValueRef<'_>, desc: bool) -> u16 {
    let mut keep = 0u16;
    match (kind, worst) {
        (NumKind::Float, ValueRef::Float(w)) => {
            let w = float_key(w);
            for (i, &b) in bits.iter().enumerate() {
                let k = float_key(f64::from_bits(b));
                keep |= u16::from(if desc { k >= w } else { k <= w }) << i;
            }
        }
        (NumKind::Int, ValueRef::Int(w)) => {
            for (i, &b) in bits.iter().enumerate() {
                let k = b as i64;
                keep |= u16::from(if desc { k >= w } else { k <= w }) << i;
            }
        }
        _ => keep = u16::MAX,
    }
    keep
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::record::DynRow;
    use crate::schema::{Column, ColumnType, Schema};
    use crate::value::Value;

    fn table(n: i64, x: impl Fn(i64) -> i64) -> TableData<DynRow> {
        let schema = Schema::new(
            "t",
            vec![
                Column::new("id", ColumnType::I64).primary_key(),
                Column::new("x", ColumnType::I64),
                Column::new("y", ColumnType::I64),
            ],
        )
        .unwrap();
        let mut t = TableData::<DynRow>::new(Arc::new(schema)).unwrap();
        for i in 1..=n {
            t.insert(DynRow(
                vec![Value::Int(i), Value::Int(x(i)), Value::Int(i % 3)].into(),
            ))
            .unwrap();
        }
        t
    }

    /// Two half scans give the top k of one scan, in order, whichever half holds the best
    /// rows; ties settle by key and deleted rows stay out.
    #[test]
    fn top_k_in_halves_matches_one_scan() {
        // Best (highest) values only in the second half, lowest only in the first.
        let mut t = table(3000, |i| {
            (i * 37) % 40 + i64::from(i > 1800) - i64::from(i < 300)
        });
        for s in (0..3000u32).step_by(7) {
            t.remove(s);
        }
        t.commit();
        for (desc, k) in [(true, 25), (false, 9), (true, 1), (false, 4000)] {
            let order = [(1, desc)];
            let one = top_k_slab(&t, &order, k, usize::MAX);
            let halves = top_k_slab(&t, &order, k, 0);
            assert_eq!(one, halves, "desc {desc} k {k}");
            assert_eq!(one.len(), k.min(t.len()));
        }
    }

    /// Whatever the keys and k, the result is the first k of a full sort.
    #[test]
    fn top_k_is_the_head_of_a_sort() {
        let t = table(500, |i| (i * 7919) % 13);
        let slots: Vec<u32> = t.slab().map(|(s, _)| s).collect();
        let orders: [&[(usize, bool)]; 4] = [
            &[(1, false)],
            &[(1, true)],
            &[(1, true), (2, false)],
            &[(0, true)],
        ];
        for order in orders {
            let mut sorted = slots.clone();
            sorted.sort_by(|&a, &b| compare(&t, order, a, b));
            for k in [0, 1, 5, 64, 65, 499, 500, 600] {
                let got = top_k(&t, order, k, t.slab());
                assert_eq!(got, sorted[..k.min(500)], "{order:?} k {k}");
            }
        }
    }
}
