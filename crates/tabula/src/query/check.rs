//! Column predicates prepared for the loop that checks them on every row a scan reads: an
//! integer or float bound becomes a number compared directly, instead of a [`Value`]
//! matched against the row's [`ValueRef`] on every row.

use std::ops::Bound;

use crate::query::Pred;
use crate::record::Record;
use crate::slab::{Bits, LeafScan, Mirror, NumKind};
use crate::value::{Value, ValueRef};

/// One predicate, ready to check.
pub(crate) struct Check<'p> {
    col: usize,
    kind: Kind,
    pred: &'p Pred,
}

/// The prepared form: inclusive bounds on the value itself (integers) or on its place in
/// the total order (floats, see [`float_key`]); `Any` when the bounds are of another kind,
/// which [`Pred::matches`] checks. A value of another kind than the bounds (null, or a
/// bound of another kind than the column's, which the builder's `where_range` allows) is
/// always checked by [`Pred::matches`].
enum Kind {
    Ints(i64, i64),
    Floats(i64, i64),
    Any,
}

/// `f`'s place in [`f64::total_cmp`]'s order, as an integer ordered the same way (the
/// transform that function itself applies).
pub(crate) fn float_key(f: f64) -> i64 {
    let bits = crate::value::one_nan(f).to_bits() as i64;
    bits ^ ((((bits >> 63) as u64) >> 1) as i64)
}

/// The inclusive integer bounds `lo..=hi` of a bound pair, `None` if a bound is not of
/// the kind `num` reads. An empty range comes out as `lo > hi`.
fn inclusive(
    lo: &Bound<Value>,
    hi: &Bound<Value>,
    num: impl Fn(&Value) -> Option<i64>,
) -> Option<(i64, i64)> {
    let lo = match lo {
        Bound::Included(v) => num(v)?,
        Bound::Excluded(v) => match num(v)?.checked_add(1) {
            Some(l) => l,
            None => return Some((i64::MAX, i64::MIN)),
        },
        Bound::Unbounded => i64::MIN,
    };
    let hi = match hi {
        Bound::Included(v) => num(v)?,
        Bound::Excluded(v) => match num(v)?.checked_sub(1) {
            Some(h) => h,
            None => return Some((i64::MAX, i64::MIN)),
        },
        Bound::Unbounded => i64::MAX,
    };
    Some((lo, hi))
}

impl<'p> Check<'p> {
    pub(crate) fn new(pred: &'p Pred) -> Check<'p> {
        let int = |v: &Value| match v {
            Value::Int(i) => Some(*i),
            _ => None,
        };
        let float = |v: &Value| match v {
            Value::Float(f) => Some(float_key(*f)),
            _ => None,
        };
        let kind = match pred {
            Pred::Eq {
                value: Value::Int(i),
                ..
            } => Kind::Ints(*i, *i),
            Pred::Eq {
                value: Value::Float(f),
                ..
            } => Kind::Floats(float_key(*f), float_key(*f)),
            Pred::Eq { .. } => Kind::Any,
            Pred::Range { lo, hi, .. } => {
                if let Some((l, h)) = inclusive(lo, hi, int) {
                    Kind::Ints(l, h)
                } else if let Some((l, h)) = inclusive(lo, hi, float) {
                    Kind::Floats(l, h)
                } else {
                    Kind::Any
                }
            }
        };
        Check {
            col: pred.col(),
            kind,
            pred,
        }
    }

    /// The checks of `preds` but those in `served` (a bit set of positions among the first
    /// 64), which the access path has already applied.
    pub(crate) fn unserved(preds: &'p [Pred], served: u64) -> Vec<Check<'p>> {
        preds
            .iter()
            .enumerate()
            .filter(|&(i, _)| i >= 64 || served & (1 << i) == 0)
            .map(|(_, p)| Check::new(p))
            .collect()
    }

    /// Whether `r` passes, exactly as [`Pred::matches`] answers on its column.
    #[inline]
    pub(crate) fn passes<R: Record>(&self, r: &R) -> bool {
        self.passes_value(r.col(self.col))
    }

    /// Which of 16 values, given as bits of `kind` ([`LeafScan::column`]), pass: bit `i`
    /// for `bits[i]`, as [`Check::passes_value`] answers on each.
    #[inline]
    pub(crate) fn passes_bits(&self, bits: &[u64; 16], kind: NumKind) -> u16 {
        let mut pass = 0u16;
        match (&self.kind, kind) {
            (Kind::Ints(lo, hi), NumKind::Int) => {
                for (i, &b) in bits.iter().enumerate() {
                    let v = b as i64;
                    pass |= u16::from(*lo <= v && v <= *hi) << i;
                }
            }
            (Kind::Floats(lo, hi), NumKind::Float) => {
                for (i, &b) in bits.iter().enumerate() {
                    let k = float_key(f64::from_bits(b));
                    pass |= u16::from(*lo <= k && k <= *hi) << i;
                }
            }
            _ => {
                for (i, &b) in bits.iter().enumerate() {
                    pass |= u16::from(self.passes_value(kind.value(b))) << i;
                }
            }
        }
        pass
    }

    /// Whether a row whose column holds `v` passes.
    #[inline]
    pub(crate) fn passes_value(&self, v: ValueRef<'_>) -> bool {
        match (&self.kind, v) {
            (Kind::Ints(lo, hi), ValueRef::Int(i)) => *lo <= i && i <= *hi,
            (Kind::Floats(lo, hi), ValueRef::Float(f)) => {
                let k = float_key(f);
                *lo <= k && k <= *hi
            }
            _ => self.pred.matches(v),
        }
    }
}

/// Checks run on a slab's mirrored values where they can be ([`Slab::leaves`]): a check
/// of a mirrored column reads the values beside the leaf's row pointers, 16 at a time, and
/// a row is read only where a value is not there (a null) or a check is of another column,
/// and then only for the slots the mirrored values pass.
pub(crate) struct OnMirror<'c, 'p> {
    checks: &'c [Check<'p>],
    /// The checks of mirrored columns, with their column's place among the mirrored ones.
    mirrored: Vec<(&'c Check<'p>, usize)>,
}

impl<'c, 'p> OnMirror<'c, 'p> {
    /// `None` when no check is of a mirrored column: the rows are read anyway.
    pub(crate) fn new(checks: &'c [Check<'p>], mirror: &Mirror) -> Option<Self> {
        let mirrored: Vec<_> = (checks.iter())
            .filter_map(|c| Some((c, mirror.position(c.col)?)))
            .collect();
        (!mirrored.is_empty()).then_some(OnMirror { checks, mirrored })
    }

    /// The live slots of `leaf` whose rows pass every check (bit `i`: slot
    /// `leaf.base + i`), exactly as [`Check::passes`] answers on the rows.
    #[inline]
    pub(crate) fn passing<R: Record>(&self, leaf: &LeafScan<'_, R>) -> u16 {
        let mut maybe = leaf.live;
        let mut unknown = 0u16;
        for &(c, k) in &self.mirrored {
            let (bits, odd, kind) = leaf.column(k);
            maybe &= c.passes_bits(bits, kind) | odd;
            unknown |= odd;
        }
        if self.mirrored.len() < self.checks.len() {
            unknown = u16::MAX;
        }
        let mut pass = maybe & !unknown;
        for i in Bits(maybe & unknown) {
            if leaf.row(i).is_some_and(|r| passes_on_row(self.checks, r)) {
                pass |= 1 << i;
            }
        }
        pass
    }
}

/// Whether `r` passes every check: kept out of line, since inlined, the compiler may read
/// the row before knowing it needs it (a reference may be read early), and that read, a
/// cache miss per row, is what checking the mirrored values saves.
#[inline(never)]
fn passes_on_row<R: Record>(checks: &[Check<'_>], r: &R) -> bool {
    checks.iter().all(|c| c.passes(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::DynRow;
    use std::ops::Bound::{Excluded, Included, Unbounded};

    /// Every prepared check answers as the predicate it was made from, on values of every
    /// kind, at the edges of each range and beyond the ends of the number lines.
    #[test]
    fn prepared_checks_answer_as_their_predicates() {
        let floats = [
            f64::NEG_INFINITY,
            -1.5,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            1.5,
            3.5,
            f64::MAX,
            f64::INFINITY,
            f64::NAN,
            -f64::NAN,
        ];
        let ints = [
            i64::MIN,
            i64::MIN + 1,
            -2,
            0,
            1,
            2,
            7,
            i64::MAX - 1,
            i64::MAX,
        ];
        let mut values: Vec<Value> = vec![Value::Null, Value::from("b"), Value::Bool(true)];
        values.extend(floats.iter().map(|&f| Value::Float(f)));
        values.extend(ints.iter().map(|&i| Value::Int(i)));
        let mut bounds: Vec<Bound<Value>> = vec![Unbounded];
        for v in values.iter().filter(|v| !v.is_null()) {
            bounds.push(Included(v.clone()));
            bounds.push(Excluded(v.clone()));
        }
        let mut preds: Vec<Pred> = values
            .iter()
            .map(|v| Pred::Eq {
                col: 0,
                value: v.clone(),
            })
            .collect();
        for lo in &bounds {
            for hi in &bounds {
                preds.push(Pred::Range {
                    col: 0,
                    lo: lo.clone(),
                    hi: hi.clone(),
                });
            }
        }
        // The same values as a leaf mirrors them, 16 at a time, by kind.
        let kinds: [(NumKind, Vec<u64>); 3] = [
            (
                NumKind::Float,
                floats
                    .iter()
                    .map(|&f| crate::value::one_nan(f).to_bits())
                    .collect(),
            ),
            (NumKind::Int, ints.iter().map(|&i| i as u64).collect()),
            (NumKind::Bool, vec![0, 1]),
        ];
        for p in &preds {
            let check = Check::new(p);
            for v in &values {
                let row = DynRow(vec![v.clone()].into());
                assert_eq!(check.passes(&row), p.matches(v.as_ref()), "{p:?} on {v:?}");
            }
            for (kind, bits) in &kinds {
                let mut leaf = [0u64; 16];
                for (i, b) in leaf.iter_mut().enumerate() {
                    *b = bits[i % bits.len()];
                }
                let mask = check.passes_bits(&leaf, *kind);
                for (i, &b) in leaf.iter().enumerate() {
                    let v = kind.value(b);
                    assert_eq!(mask >> i & 1 == 1, p.matches(v), "{p:?} on {v:?}");
                }
            }
        }
    }
}
