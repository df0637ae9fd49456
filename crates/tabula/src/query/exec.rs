//! Running a planned query over one table: the access path the plan chose, the residual
//! predicates and filters, the order (an index walk, the one top-k, or a sort) and the window.

use std::cmp::Ordering;
use std::convert::Infallible;
use std::ops::Bound;

use crate::copy::each_fetched;
use crate::query::check::{Check, OnMirror};
use crate::query::plan::{choose, Ord_, Path, Planned};
use crate::query::top_k::{top_k, top_k_slab, PARALLEL_SCAN_SLOTS};
use crate::query::{bounds, Pred, QuerySpec};
use crate::record::Record;
use crate::slab::Bits;
use crate::table::TableData;
use crate::value::{Value, ValueRef};

/// Runs the query, returning the slots of the result rows in result order.
pub(crate) fn run<R: Record>(t: &TableData<R>, q: &QuerySpec<'_, R>) -> Vec<u32> {
    run_planned(t, q, choose(t, q))
}

/// [`run`] on the plan `p` already chose for `q` (choosing may walk part of an index:
/// see `plan::wide_beside_mirror`).
fn run_planned<R: Record>(t: &TableData<R>, q: &QuerySpec<'_, R>, p: Planned) -> Vec<u32> {
    let served = p.path.served();
    let checks = Check::unserved(&q.preds, served);
    let row_ok = |r: &R| row_ok(q, &checks, r);
    // An index holds only live slots: with nothing else to check, its slots need no row.
    let only_served =
        served != 0 && served.count_ones() as usize == q.preds.len() && q.filters.is_empty();
    let matches = |slot: u32| -> bool { only_served || t.row(slot).is_some_and(row_ok) };
    let window = q.limit.map(|l| l.saturating_add(q.offset));
    let mut out: Vec<u32> = match (p.path, p.ord) {
        (Path::Key(i), _) | (Path::Unique(i), _) => {
            let Pred::Eq { col, value } = &q.preds[i] else {
                return Vec::new();
            };
            let slot = t.find_unique(*col, value.as_ref()).flatten();
            slot.filter(|&s| matches(s)).into_iter().collect()
        }
        (Path::CompositeUnique { ix, .. }, _) => {
            let Some(u) = t.composite_uniques().nth(ix) else {
                return Vec::new();
            };
            let key: Option<Vec<Value>> = u.columns().map(|c| eq_value(q, c)).collect();
            let slot = key.and_then(|key| t.find_composite_values(u, &key));
            slot.filter(|&s| matches(s)).into_iter().collect()
        }
        (Path::Scan, Ord_::Key { desc }) => {
            // The walk hands out each row with its slot: no second lookup of the row.
            let it = t.rows_in_key_order();
            let it: Box<dyn Iterator<Item = (u32, &R)>> =
                if desc { Box::new(it.rev()) } else { it };
            let mut out = Vec::new();
            for (s, _) in it.filter(|(_, r)| only_served || row_ok(r)) {
                out.push(s);
                if window.is_some_and(|w| out.len() >= w) {
                    break;
                }
            }
            out
        }
        (path, Ord_::Index { col, desc }) => {
            let Some(index) = t.ordered_index(col) else {
                return Vec::new();
            };
            let (lo, hi) = match path {
                Path::Index(i) => bounds(&q.preds[i]),
                _ => (Bound::Unbounded, Bound::Unbounded),
            };
            let it: Box<dyn Iterator<Item = (ValueRef<'_>, u32)>> = match (&path, desc) {
                (Path::Index(_), false) => Box::new(index.range(&lo, &hi)),
                (Path::Index(_), true) => Box::new(index.range(&lo, &hi).rev()),
                (_, false) => Box::new(index.iter()),
                (_, true) => Box::new(index.iter().rev()),
            };
            index_walk(t, q, it, &matches, window)
        }
        (path, ord) => {
            // A full scan of a table whose slot order is key order walks the slab itself: one
            // read per row and no per-row dispatch (none for the rows a check of a mirrored
            // column refuses); otherwise the index range or the sorted slot list. Either way
            // the matching rows come out in key order.
            let slab_scan = matches!(path, Path::Scan) && t.slots_in_order();
            // Slots, not rows: an index range that serves the whole query reads no row here.
            let mirrored = slab_scan
                .then(|| OnMirror::new(&checks, t.rows().mirror()))
                .flatten();
            let found: Box<dyn Iterator<Item = u32> + '_> = if let Some(m) = &mirrored {
                Box::new(
                    mirrored_scan(t, m)
                        .filter(move |(_, r)| filters_pass(q, r))
                        .map(|(s, _)| s),
                )
            } else if slab_scan {
                Box::new(t.slab().filter(|(_, r)| row_ok(r)).map(|(s, _)| s))
            } else if let Some(slots) = index_slots(t, q, path) {
                Box::new(slots.into_iter().filter(move |&s| matches(s)))
            } else {
                Box::new(t.slots_in_key_order().filter(move |&s| matches(s)))
            };
            match ord {
                Ord_::TopK(k) => {
                    // An unordered query with a window keeps its first rows in key order.
                    let by_key = [(t.schema.primary_key(), false)];
                    let order = if q.order.is_empty() {
                        &by_key[..]
                    } else {
                        &q.order[..]
                    };
                    if q.preds.is_empty() && q.filters.is_empty() && matches!(path, Path::Scan) {
                        // Every live row is a candidate, and ties are settled by key whatever
                        // the order rows come in: walk the slab.
                        top_k_slab(t, order, k, PARALLEL_SCAN_SLOTS)
                    } else {
                        let rows = found.filter_map(|s| t.row(s).map(|r| (s, r)));
                        top_k(t, order, k, rows)
                    }
                }
                _ => {
                    let mut v: Vec<u32> = found.collect();
                    if !q.order.is_empty() {
                        v.sort_by(|&a, &b| compare(t, &q.order, a, b));
                    } else if !matches!(path, Path::Scan) {
                        // Index order is value order; results come in key order.
                        if t.slots_in_order() {
                            // Slot order is key order: sort the numbers, not the rows.
                            sort_slots(&mut v, t.slot_count());
                        } else {
                            v.sort_by(|&a, &b| t.cmp_keys(a, b));
                        }
                    }
                    v
                }
            }
        }
    };
    super::window(&mut out, q.offset, q.limit);
    out
}

/// Whether a row passes `checks` (the predicates the access path does not serve) and every
/// filter.
#[inline]
fn row_ok<R: Record>(q: &QuerySpec<'_, R>, checks: &[Check<'_>], r: &R) -> bool {
    checks.iter().all(|c| c.passes(r)) && filters_pass(q, r)
}

/// The live rows of a table's slab that pass `m`'s checks, in slot order.
fn mirrored_scan<'t: 'm, 'm, R: Record>(
    t: &'t TableData<R>,
    m: &'m OnMirror<'m, 'm>,
) -> impl Iterator<Item = (u32, &'t R)> + 'm {
    t.rows().leaves(0..t.slot_count()).flat_map(move |leaf| {
        Bits(m.passing(&leaf)).filter_map(move |i| Some(((leaf.base + i) as u32, leaf.row(i)?)))
    })
}

/// Whether a row passes every filter of `q`.
#[inline]
fn filters_pass<R: Record>(q: &QuerySpec<'_, R>, r: &R) -> bool {
    q.filters.iter().all(|f| f(r))
}

/// Copies of the matching rows, in the query's order, as [`each_row`] hands them over.
pub(crate) fn rows<R: Record + Clone>(t: &TableData<R>, q: &QuerySpec<'_, R>) -> Vec<R> {
    let mut out = Vec::new();
    let Ok(()) = each_row(t, q, true, |r| {
        out.push(r.clone());
        Ok::<_, Infallible>(true)
    });
    out
}

/// Hands the rows the query selects to `f`, in its order, until `f` answers `Ok(false)`:
/// [`run`]'s rows, except that a plain scan in key order filters and hands over each row in
/// one pass (the row is in cache then; a second pass would miss on it again). Rows go out in
/// batches whose text is fetched first when `text` says `f` reads it ([`each_fetched`]),
/// without copying them.
pub(crate) fn each_row<'t, R: Record, E>(
    t: &'t TableData<R>,
    q: &QuerySpec<'_, R>,
    text: bool,
    mut f: impl FnMut(&'t R) -> Result<bool, E>,
) -> Result<(), E> {
    let mut f = |(), r| f(r);
    let p = choose(t, q);
    if let (Path::Scan, Ord_::Key { desc: false }) = (p.path, p.ord) {
        if t.slots_in_order() {
            let checks = Check::unserved(&q.preds, 0);
            if let Some(m) = OnMirror::new(&checks, t.rows().mirror()) {
                let found = mirrored_scan(t, &m)
                    .filter(|(_, r)| filters_pass(q, r))
                    .map(|(_, r)| ((), r))
                    .skip(q.offset)
                    .take(q.limit.unwrap_or(usize::MAX));
                return each_fetched(&t.schema, text, found, &mut f);
            }
            let found = t
                .slab()
                .map(|(_, r)| ((), r))
                .filter(|(_, r)| row_ok(q, &checks, r))
                .skip(q.offset)
                .take(q.limit.unwrap_or(usize::MAX));
            return each_fetched(&t.schema, text, found, &mut f);
        }
    }
    let slots = run_planned(t, q, p);
    let found = slots.into_iter().filter_map(|s| t.row(s)).map(|r| ((), r));
    each_fetched(&t.schema, text, found, &mut f)
}

/// Sorts distinct slot numbers below `slots`: through a bitset when they are many (an index
/// range over a large part of the table), which costs a bit per slot instead of a
/// comparison sort.
fn sort_slots(v: &mut Vec<u32>, slots: usize) {
    if v.len() < 1024 || v.len() * 16 < slots {
        v.sort_unstable();
        return;
    }
    let mut bits = vec![0u64; slots.div_ceil(64)];
    for &s in v.iter() {
        bits[s as usize / 64] |= 1 << (s % 64);
    }
    v.clear();
    for (w, &word) in bits.iter().enumerate() {
        let mut word = word;
        while word != 0 {
            v.push((w * 64) as u32 + word.trailing_zeros());
            word &= word - 1;
        }
    }
}

/// The slots an ordered or composite index path reaches, in index order; `None` for other
/// paths.
fn index_slots<R: Record>(t: &TableData<R>, q: &QuerySpec<'_, R>, path: Path) -> Option<Vec<u32>> {
    match path {
        Path::Index(i) => {
            let index = t.ordered_index(q.preds[i].col())?;
            let (lo, hi) = bounds(&q.preds[i]);
            Some(index.range(&lo, &hi).map(|(_, s)| s).collect())
        }
        Path::Composite {
            ix, equal, range, ..
        } => {
            let c = t.composite_indexes().get(ix)?;
            let mut eq = Vec::with_capacity(equal);
            for &col in &c.cols[..equal] {
                match eq_value(q, col) {
                    Some(v) => eq.push(v),
                    None => return Some(Vec::new()),
                }
            }
            let bounds = if range {
                let next = c.cols[equal];
                match q
                    .preds
                    .iter()
                    .take(64)
                    .find(|p| matches!(p, Pred::Range { col, .. } if *col == next))
                {
                    Some(Pred::Range { lo, hi, .. }) => Some((lo, hi)),
                    _ => return Some(Vec::new()),
                }
            } else {
                None
            };
            Some(c.range(&eq, bounds).map(|(_, s)| s).collect())
        }
        _ => None,
    }
}

/// The value of the equality predicate on `col` that the planner chose for a composite path
/// (the first with a non-null value, among the first 64: see `plan::eq_pred`).
fn eq_value<R>(q: &QuerySpec<'_, R>, col: usize) -> Option<Value> {
    q.preds.iter().take(64).find_map(|p| match p {
        Pred::Eq { col: c, value } if *c == col && !value.is_null() => Some(value.clone()),
        _ => None,
    })
}

/// Walks an index in order, emitting groups of equal first-key values sorted by the rest of
/// the order keys (then primary key), and stops once `window` rows are out.
fn index_walk<'i, R: Record>(
    t: &TableData<R>,
    q: &QuerySpec<'_, R>,
    it: Box<dyn Iterator<Item = (ValueRef<'i>, u32)> + 'i>,
    matches: &dyn Fn(u32) -> bool,
    window: Option<usize>,
) -> Vec<u32> {
    let mut out = Vec::new();
    let mut group: Vec<u32> = Vec::new();
    let mut group_value: Option<ValueRef<'i>> = None;
    let flush = |group: &mut Vec<u32>, out: &mut Vec<u32>| {
        if group.len() > 1 {
            group.sort_by(|&a, &b| compare(t, &q.order[1..], a, b));
        }
        out.append(group);
    };
    for (v, slot) in it {
        if group_value.is_some_and(|g| g != v) {
            flush(&mut group, &mut out);
            if window.is_some_and(|w| out.len() >= w) {
                return out;
            }
        }
        group_value = Some(v);
        if matches(slot) {
            group.push(slot);
        }
    }
    flush(&mut group, &mut out);
    out
}

/// Compares two rows by the order keys, then by primary key.
#[inline]
pub(crate) fn compare<R: Record>(
    t: &TableData<R>,
    order: &[(usize, bool)],
    a: u32,
    b: u32,
) -> Ordering {
    let (Some(x), Some(y)) = (t.row(a), t.row(b)) else {
        return a.cmp(&b);
    };
    for &(col, desc) in order {
        let o = x.col(col).total_cmp(y.col(col));
        if o != Ordering::Equal {
            return if desc { o.reverse() } else { o };
        }
    }
    t.cmp_keys(a, b)
}

/// Whether a row passes a query's predicates and filters (ignoring its order and window).
pub(crate) fn matches_spec<R: Record>(q: &QuerySpec<'_, R>, r: &R) -> bool {
    q.preds.iter().all(|p| p.matches(r.col(p.col()))) && q.filters.iter().all(|f| f(r))
}

/// Counts matching rows without building a result when no window or order needs one.
pub(crate) fn count<R: Record>(t: &TableData<R>, q: &QuerySpec<'_, R>) -> usize {
    if q.preds.is_empty() && q.filters.is_empty() && q.limit.is_none() && q.offset == 0 {
        return t.len();
    }
    run(t, q).len()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::record::DynRow;
    use crate::schema::{Column, ColumnType, Schema};

    /// Values of every kind a mirrored column meets: nulls, NaNs, both zeros, the ends of
    /// the number lines.
    const FLOATS: [f64; 9] = [
        f64::NAN,
        f64::NEG_INFINITY,
        -2.5,
        -0.0,
        0.0,
        1.5,
        3.5,
        f64::MAX,
        f64::INFINITY,
    ];
    const INTS: [i64; 7] = [i64::MIN, -7, -1, 0, 1, 7, i64::MAX];

    fn float(i: usize) -> Value {
        FLOATS.get(i).map_or(Value::Null, |&f| Value::Float(f))
    }

    fn int(i: usize) -> Value {
        INTS.get(i).map_or(Value::Null, |&n| Value::Int(n))
    }

    fn boolean(i: usize) -> Value {
        [Value::Bool(false), Value::Bool(true)]
            .get(i)
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// `id` (the key, which a slab does not mirror), then a float, an int and a bool that
    /// may be null, two more numeric columns, the second past the four a slab mirrors, and
    /// a text.
    fn table() -> TableData<DynRow> {
        let schema = Schema::new(
            "t",
            vec![
                Column::new("id", ColumnType::I64).primary_key(),
                Column::new("f", ColumnType::F64).nullable(),
                Column::new("n", ColumnType::I64).nullable(),
                Column::new("b", ColumnType::Bool).nullable(),
                Column::new("u", ColumnType::U8),
                Column::new("v", ColumnType::I32),
                Column::new("t", ColumnType::Text),
            ],
        )
        .unwrap();
        TableData::new(Arc::new(schema)).unwrap()
    }

    fn row(id: i64, (f, n, b, u): (usize, usize, usize, u8)) -> DynRow {
        let values = vec![
            Value::Int(id),
            float(f),
            int(n),
            boolean(b),
            Value::Int(i64::from(u)),
            Value::Int(i64::from(u) * 3 - 4),
            Value::Text(format!("r{id}")),
        ];
        DynRow(values.into())
    }

    /// A bound on column `col` from one of the pools, of the column's kind or not (the
    /// builder's `where_range` takes either).
    fn bound(col: usize, i: usize, kind: u8) -> Bound<Value> {
        let v = match (col, kind % 3) {
            (3, _) => boolean(i % 2),
            (_, 0) => float(i % FLOATS.len()),
            (_, 1) => int(i % INTS.len()),
            _ => Value::Int(i as i64 % 300),
        };
        match kind / 3 {
            0 => Bound::Included(v),
            1 => Bound::Excluded(v),
            _ => Bound::Unbounded,
        }
    }

    fn pred((col, op, i, j, kinds): (usize, bool, usize, usize, u8)) -> Pred {
        let col = col % 6;
        if op {
            let value = match bound(col, i, kinds % 3) {
                Bound::Included(v) | Bound::Excluded(v) => v,
                Bound::Unbounded => Value::Null,
            };
            return Pred::Eq { col, value };
        }
        Pred::Range {
            col,
            lo: bound(col, i, kinds % 9),
            hi: bound(col, j, kinds / 9 % 9),
        }
    }

    /// The slots whose rows every predicate matches, in key order, read from the rows.
    fn by_rows(t: &TableData<DynRow>, preds: &[Pred]) -> Vec<u32> {
        let mut slots: Vec<u32> = (t.slab())
            .filter(|(_, r)| preds.iter().all(|p| p.matches(r.col(p.col()))))
            .map(|(s, _)| s)
            .collect();
        slots.sort_by(|&a, &b| t.cmp_keys(a, b));
        slots
    }

    /// A commit that leaves more than half the slab dead lays the rows out again: the new
    /// slab mirrors the same columns, with the moved rows' values.
    #[test]
    fn a_compacted_table_mirrors_its_rows() {
        let mut t = table();
        for i in 0..3000usize {
            t.insert(row(i as i64 + 1, (i % 10, i % 8, i % 3, (i % 7) as u8)))
                .unwrap();
        }
        t.commit();
        let before = t.slot_count();
        let dead: Vec<u32> = t.slab().map(|(s, _)| s).filter(|s| s % 3 != 0).collect();
        t.remove_all(&dead);
        t.commit();
        assert!(t.slot_count() < before, "the commit compacted the slab");
        for (col, i) in [(1, 5usize), (2, 3), (3, 1), (4, 2)] {
            let preds = [Pred::Range {
                col,
                lo: bound(col, i, 0),
                hi: Bound::Unbounded,
            }];
            let spec = QuerySpec::<DynRow> {
                preds: preds.to_vec(),
                ..QuerySpec::default()
            };
            assert_eq!(run(&t, &spec), by_rows(&t, &preds), "{preds:?}");
        }
    }

    proptest! {
        /// Scans and top-k read mirrored columns beside the row pointers rather than in the
        /// rows: they answer exactly as reading the rows does, through inserts, updates
        /// and deletes, in the versions kept before each commit and in the last.
        #[test]
        fn mirrored_columns_answer_as_the_rows(
            rows in proptest::collection::vec((0usize..10, 0usize..8, 0usize..3, 0u8..3), 1..120),
            writes in proptest::collection::vec((0usize..200, 0u8..3, (0usize..10, 0usize..8, 0usize..3, 0u8..3)), 0..60),
            queries in proptest::collection::vec(
                proptest::collection::vec((0usize..6, any::<bool>(), 0usize..12, 0usize..12, 0u8..81), 0..4),
                1..12),
            order in (0usize..6, any::<bool>(), 0usize..20),
        ) {
            let mut t = table();
            for (i, r) in rows.iter().enumerate() {
                t.insert(row(i as i64 + 1, *r)).unwrap();
            }
            t.commit();
            let mut versions = Vec::new();
            for (n, (at, op, r)) in writes.iter().enumerate() {
                let slots: Vec<u32> = t.slab().map(|(s, _)| s).collect();
                if n % 7 == 0 {
                    versions.push(t.clone());
                }
                // Every fifth write is rolled back, with a second write after it in the
                // same transaction: the rollback puts old rows back in their slots.
                let mark = (n % 5 == 4).then(|| t.mark());
                match (op, slots.get(at % slots.len().max(1))) {
                    (0, Some(&s)) => {
                        let Some(ValueRef::Int(id)) = t.row(s).map(|r| r.col(0)) else {
                            unreachable!("every row has an integer key")
                        };
                        t.replace(s, row(id, *r)).unwrap();
                    }
                    (1, Some(&s)) => {
                        t.remove(s);
                    }
                    _ => {
                        // Every other key below the others: slot order stops being key
                        // order, and ties must be settled by key, not by slot.
                        let id = rows.len() as i64 + n as i64 + 1;
                        let id = if n % 2 == 0 { id } else { -id };
                        t.insert(row(id, *r)).unwrap();
                    }
                }
                if let Some(mark) = mark {
                    if let Some(&s) = slots.first().filter(|&&s| t.row(s).is_some()) {
                        t.remove(s);
                    }
                    t.rollback_to(mark);
                }
                t.commit();
            }
            versions.push(t);
            let (col, desc, k) = order;
            for t in &versions {
                for q in &queries {
                    let preds: Vec<Pred> = q.iter().map(|&p| pred(p)).collect();
                    let spec = QuerySpec::<DynRow> { preds: preds.clone(), ..QuerySpec::default() };
                    let want = by_rows(t, &preds);
                    prop_assert_eq!(run(t, &spec), want.clone(), "{:?}", preds);
                    let mut streamed = Vec::new();
                    let Ok(()) = each_row(t, &spec, false, |r| {
                        streamed.push(t.find_key(r.col(0)).unwrap());
                        Ok::<_, Infallible>(true)
                    });
                    prop_assert_eq!(streamed, want.clone(), "{:?}", preds);
                    // The best k of the matching rows by a mirrored column.
                    let order = vec![(col, desc)];
                    let mut sorted = want;
                    sorted.sort_by(|&a, &b| compare(t, &order, a, b));
                    sorted.truncate(k);
                    let top = QuerySpec::<DynRow> { preds, order, limit: Some(k), ..QuerySpec::default() };
                    prop_assert_eq!(run(t, &top), sorted);
                }
            }
        }
    }

    #[test]
    fn sort_slots_orders_few_and_many_alike() {
        for (n, slots) in [
            (10usize, 100usize),
            (5000, 6000),
            (5000, 1 << 20),
            (4096, 4096),
        ] {
            // Distinct slots below `slots`, scrambled.
            let mut v: Vec<u32> = (0..n as u64)
                .map(|i| ((i * 2_654_435_761) % slots as u64) as u32)
                .collect();
            v.sort_unstable();
            v.dedup();
            let want = v.clone();
            v.reverse();
            let third = v.len() / 3;
            v.rotate_left(third);
            sort_slots(&mut v, slots);
            assert_eq!(v, want, "{n} of {slots}");
        }
    }
}
