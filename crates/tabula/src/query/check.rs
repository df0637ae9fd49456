//! Column predicates prepared for the loop that checks them on every row a scan reads: an
//! integer or float bound becomes a number compared directly, instead of a [`Value`]
//! matched against the row's [`ValueRef`] on every row.

use std::ops::Bound;

use crate::query::Pred;
use crate::record::Record;
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
fn float_key(f: f64) -> i64 {
    let bits = f.to_bits() as i64;
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
        let v = r.col(self.col);
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
        for p in &preds {
            let check = Check::new(p);
            for v in &values {
                let row = DynRow(vec![v.clone()].into());
                assert_eq!(check.passes(&row), p.matches(v.as_ref()), "{p:?} on {v:?}");
            }
        }
    }
}
