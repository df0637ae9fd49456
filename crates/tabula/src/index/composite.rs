//! The ordered index of several columns (`index(course, grade)`): each row's values of the
//! columns, in order, as one key. It serves equality on a prefix of the columns and a range
//! on the next one: `course = 7`, `course = 7 AND grade >= 3.0`.
//!
//! It is the ordered index's [`Keys`] over [`Tuple`] keys, so it shares that index's
//! copy-on-write leaves: versions share it as they share every index.

use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::Arc;

use crate::index::ordered::{IndexKey, Keys, TotalF64, Walk};
use crate::record::Record;
use crate::schema::ColumnType;
use crate::value::{Value, ValueRef};

/// One column's value in a composite key. Null sorts first; within one column every other
/// value has the column's kind, so the derived order is the column's order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Part {
    Null,
    Bool(bool),
    Int(i64),
    Float(TotalF64),
    Text(Arc<str>),
}

impl Part {
    fn of(v: ValueRef<'_>) -> Part {
        match v {
            ValueRef::Null => Part::Null,
            ValueRef::Bool(b) => Part::Bool(b),
            ValueRef::Int(i) => Part::Int(i),
            ValueRef::Float(f) => Part::Float(TotalF64(f)),
            ValueRef::Text(t) => Part::Text(Arc::from(t)),
        }
    }

    fn value(&self) -> ValueRef<'_> {
        match self {
            Part::Null => ValueRef::Null,
            Part::Bool(b) => ValueRef::Bool(*b),
            Part::Int(i) => ValueRef::Int(*i),
            Part::Float(f) => ValueRef::Float(f.0),
            Part::Text(t) => ValueRef::Text(t),
        }
    }

    /// A range bound on a column of type `ty` as a part, rounded as the single-column index
    /// rounds it (`grade > 2.5` on an integer column is `>= 3`); `Err` when no value of the
    /// column can satisfy it.
    fn bound(ty: ColumnType, b: &Bound<Value>, is_lower: bool) -> Result<Bound<Part>, ()> {
        fn map<K>(b: Bound<K>, f: impl Fn(K) -> Part) -> Bound<Part> {
            match b {
                Bound::Unbounded => Bound::Unbounded,
                Bound::Included(k) => Bound::Included(f(k)),
                Bound::Excluded(k) => Bound::Excluded(f(k)),
            }
        }
        Ok(if ty.is_int() {
            map(i64::bound(b, is_lower)?, Part::Int)
        } else if ty.is_float() {
            map(TotalF64::bound(b, is_lower)?, Part::Float)
        } else if ty == ColumnType::Bool {
            map(bool::bound(b, is_lower)?, Part::Bool)
        } else {
            map(<Arc<str>>::bound(b, is_lower)?, Part::Text)
        })
    }
}

/// A composite key: the values of the index's columns, in order. Shared, so that copying a
/// leaf copies pointers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Tuple(Arc<[Part]>);

impl Tuple {
    /// Compares the key's first `probe.len()` parts with `probe`.
    fn cmp_prefix(&self, probe: &[Part]) -> Ordering {
        let n = probe.len().min(self.0.len());
        self.0[..n].cmp(probe)
    }
}

impl IndexKey for Tuple {
    type Probe = Tuple;
    /// Composite keys are built from whole rows, never from one value.
    fn with_probe<O>(_: ValueRef<'_>, _: impl FnOnce(&Tuple) -> O) -> Option<O> {
        None
    }
    fn own(p: &Tuple) -> Tuple {
        p.clone()
    }
    /// The first column's value: what a walk reports for each slot.
    fn value(&self) -> ValueRef<'_> {
        self.0.first().map_or(ValueRef::Null, Part::value)
    }
    fn bound(_: &Bound<Value>, _: bool) -> Result<Bound<Tuple>, ()> {
        Err(())
    }
}

/// An ordered index over several columns. Rows with nulls are indexed too (null sorts
/// first in its column); equality and ranges never match a null.
#[derive(Debug, Clone)]
pub(crate) struct CompositeIndex {
    /// The columns, in key order.
    pub(crate) cols: Arc<[usize]>,
    types: Arc<[ColumnType]>,
    keys: Keys<Tuple>,
}

impl CompositeIndex {
    pub(crate) fn new(cols: &[usize], types: &[ColumnType]) -> Self {
        CompositeIndex {
            cols: Arc::from(cols),
            types: Arc::from(types),
            keys: Keys::new(),
        }
    }

    fn key<R: Record>(&self, row: &R) -> Tuple {
        Tuple(self.cols.iter().map(|&c| Part::of(row.col(c))).collect())
    }

    /// Indexes `row`, now at `slot`.
    pub(crate) fn insert<R: Record>(&mut self, row: &R, slot: u32) {
        let key = self.key(row);
        self.keys.insert_probe(&key, slot);
    }

    /// Removes `row`, at `slot`, from the index.
    pub(crate) fn remove<R: Record>(&mut self, row: &R, slot: u32) {
        let key = self.key(row);
        self.keys.remove_probe(&key, slot);
    }

    /// Whether two rows have different keys (an update that moves its entry).
    pub(crate) fn differs<R: Record>(&self, a: &R, b: &R) -> bool {
        self.cols.iter().any(|&c| {
            let (x, y) = (a.col(c), b.col(c));
            x != y || x.kind() != y.kind()
        })
    }

    pub(crate) fn clear(&mut self) {
        self.keys = Keys::new();
    }

    /// Slots whose first `eq.len()` columns equal `eq` and, when `range` is given, whose
    /// next column lies within it; in key order. A null in `eq` matches nothing, and a range
    /// never matches a null.
    pub(crate) fn range<'a>(
        &'a self,
        eq: &[Value],
        range: Option<(&Bound<Value>, &Bound<Value>)>,
    ) -> Walk<'a> {
        let empty = || -> Walk<'a> { Box::new(std::iter::empty()) };
        let mut prefix = Vec::with_capacity(eq.len() + 1);
        for (v, &ty) in eq.iter().zip(self.types.iter()) {
            // Compared as the column compares (`Pred::matches`): a value of the column's kind
            // as it is, another number converted only when that loses nothing.
            let v = if ty.accepts(v.as_ref()) {
                Some(v.clone())
            } else {
                ty.coerce(v.clone())
            };
            match v {
                Some(v) if !v.is_null() => prefix.push(Part::of(v.as_ref())),
                _ => return empty(),
            }
        }
        if prefix.len() != eq.len() {
            return empty();
        }
        let probe = |p: Part| -> Vec<Part> {
            let mut v = prefix.clone();
            v.push(p);
            v
        };
        let (from, to) = match range {
            None => (
                self.keys
                    .position(|k| k.cmp_prefix(&prefix) == Ordering::Less),
                self.keys
                    .position(|k| k.cmp_prefix(&prefix) != Ordering::Greater),
            ),
            Some((lo, hi)) => {
                let Some(&ty) = self.types.get(prefix.len()) else {
                    return empty();
                };
                let (Ok(lo), Ok(hi)) = (Part::bound(ty, lo, true), Part::bound(ty, hi, false))
                else {
                    return empty();
                };
                let from = match lo {
                    // Past the nulls: a range never matches one.
                    Bound::Unbounded => {
                        let p = probe(Part::Null);
                        self.keys
                            .position(|k| k.cmp_prefix(&p) != Ordering::Greater)
                    }
                    Bound::Included(x) => {
                        let p = probe(x);
                        self.keys.position(|k| k.cmp_prefix(&p) == Ordering::Less)
                    }
                    Bound::Excluded(x) => {
                        let p = probe(x);
                        self.keys
                            .position(|k| k.cmp_prefix(&p) != Ordering::Greater)
                    }
                };
                let to = match hi {
                    Bound::Unbounded => self
                        .keys
                        .position(|k| k.cmp_prefix(&prefix) != Ordering::Greater),
                    Bound::Included(x) => {
                        let p = probe(x);
                        self.keys
                            .position(|k| k.cmp_prefix(&p) != Ordering::Greater)
                    }
                    Bound::Excluded(x) => {
                        let p = probe(x);
                        self.keys.position(|k| k.cmp_prefix(&p) == Ordering::Less)
                    }
                };
                (from, to)
            }
        };
        self.keys.walk(from, to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::DynRow;

    fn row(course: i64, grade: Option<f64>) -> DynRow {
        DynRow(vec![Value::Int(course), grade.map_or(Value::Null, Value::Float)].into())
    }

    #[test]
    fn serves_a_prefix_and_a_range_on_the_next_column() {
        let rows = [
            row(1, Some(3.0)),
            row(2, Some(1.0)),
            row(2, None),
            row(2, Some(3.5)),
            row(2, Some(2.0)),
            row(3, Some(2.0)),
        ];
        let mut ix = CompositeIndex::new(&[0, 1], &[ColumnType::U32, ColumnType::F64]);
        for (s, r) in rows.iter().enumerate() {
            ix.insert(r, s as u32);
        }
        let slots = |w: Walk<'_>| w.map(|(_, s)| s).collect::<Vec<_>>();
        let two = [Value::Int(2)];
        // Equality on the prefix: every row of course 2, nulls first, then by grade.
        assert_eq!(slots(ix.range(&two, None)), [2, 1, 4, 3]);
        use Bound::*;
        let (lo, hi) = (Included(Value::Float(2.0)), Unbounded);
        assert_eq!(slots(ix.range(&two, Some((&lo, &hi)))), [4, 3]);
        let (lo, hi) = (Unbounded, Excluded(Value::Float(3.5)));
        assert_eq!(slots(ix.range(&two, Some((&lo, &hi)))), [1, 4]);
        let (lo, hi) = (Excluded(Value::Int(1)), Included(Value::Int(2)));
        assert_eq!(slots(ix.range(&two, Some((&lo, &hi)))), [4]);
        // A whole key, a float key on the integer column, a null: equality as SQL has it.
        assert_eq!(
            slots(ix.range(&[Value::Int(2), Value::Float(3.5)], None)),
            [3]
        );
        assert_eq!(slots(ix.range(&[Value::Float(2.0)], None)).len(), 4);
        assert!(slots(ix.range(&[Value::Float(2.5)], None)).is_empty());
        assert!(slots(ix.range(&[Value::Null], None)).is_empty());
        // Removing and re-adding moves the entry.
        ix.remove(&rows[3], 3);
        assert_eq!(slots(ix.range(&two, None)), [2, 1, 4]);
        assert!(ix.differs(&rows[1], &rows[2]));
        assert!(!ix.differs(&rows[4], &rows[4].clone()));
    }
}
