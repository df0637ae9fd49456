//! Queries over one table: the resolved query ([`QuerySpec`]: column predicates, closure
//! filters, order keys, window), its planning ([`plan`]), its execution ([`exec`]) and the
//! one top-k ([`top_k`]). Nothing here mutates a table.

pub(crate) mod check;
pub(crate) mod exec;
pub(crate) mod plan;
pub(crate) mod top_k;

use std::cmp::Ordering;
use std::fmt;
use std::ops::Bound;

use crate::error::{Error, Result};
use crate::record::{Cols, Record};
use crate::schema::Schema;
use crate::value::{Value, ValueRef};

pub(crate) use exec::{count, each_row, matches_spec, rows, run};
pub(crate) use plan::explain;
pub use plan::{Access, OrderStrategy, Plan};

/// A column predicate, resolved against the schema and coerced to the column's type.
#[derive(Debug, Clone)]
pub(crate) enum Pred {
    Eq {
        col: usize,
        value: Value,
    },
    Range {
        col: usize,
        lo: Bound<Value>,
        hi: Bound<Value>,
    },
}

impl Pred {
    pub(crate) fn col(&self) -> usize {
        match self {
            Pred::Eq { col, .. } | Pred::Range { col, .. } => *col,
        }
    }

    #[inline]
    pub(crate) fn matches(&self, v: ValueRef<'_>) -> bool {
        match self {
            Pred::Eq { value, .. } => v.total_cmp(value.as_ref()) == Ordering::Equal,
            Pred::Range { lo, hi, .. } => {
                if v.is_null() {
                    return false;
                }
                let above = match lo {
                    Bound::Included(b) => v.total_cmp(b.as_ref()) != Ordering::Less,
                    Bound::Excluded(b) => v.total_cmp(b.as_ref()) == Ordering::Greater,
                    Bound::Unbounded => true,
                };
                above
                    && match hi {
                        Bound::Included(b) => v.total_cmp(b.as_ref()) != Ordering::Greater,
                        Bound::Excluded(b) => v.total_cmp(b.as_ref()) == Ordering::Less,
                        Bound::Unbounded => true,
                    }
            }
        }
    }
}

/// A closure filter over rows of kind `R`.
pub(crate) type Filter<'a, R> = Box<dyn Fn(&R) -> bool + 'a>;

/// A test of a stored row read in place (a copy of its values for a Rust type with `json`
/// fields), which may fail (SQL's WHERE): see `AnyTable::dyn_delete_where`. Its error is
/// boxed so that its answer comes back in registers: it runs on every row of a scan.
pub(crate) type ColsTest<'a> = &'a dyn Fn(&dyn Cols) -> std::result::Result<bool, Box<Error>>;

/// A test of one integer, which answers `None` where it has no answer (an overflow, a
/// division by zero).
pub(crate) type IntTest<'a> = &'a (dyn Fn(i64) -> Option<bool> + Send + Sync);

/// SQL's WHERE as UPDATE and DELETE hand it to the table (see `AnyTable::dyn_delete_where`):
/// `general` answers on any row; `int`, when there is one, is tried first on the integer in
/// its column (`id % 10 = 1`), and answers as `general` would wherever it answers at all.
/// It runs on every row of a scan, so the common filter is one call on a column the table
/// reads itself, without a `Cols` or a `Value` between them.
#[derive(Clone, Copy)]
pub(crate) struct RowTest<'a> {
    pub(crate) int: Option<(usize, IntTest<'a>)>,
    pub(crate) general: ColsTest<'a>,
}

impl RowTest<'_> {
    /// Whether `row` passes (read in place: not for a Rust type with `json` fields, whose
    /// values must be copied out; see `kept_slots`).
    #[inline(always)]
    pub(crate) fn test<R: Record>(&self, row: &R) -> std::result::Result<bool, Box<Error>> {
        if let Some((col, int)) = self.int {
            if let ValueRef::Int(x) = row.col(col) {
                if let Some(b) = int(x) {
                    return Ok(b);
                }
            }
        }
        (self.general)(row)
    }
}

/// What an update sets in a row, worked out from the row as it was: pushes the new value
/// of each column it changes (see `AnyTable::dyn_update_where`).
pub(crate) type NewValues<'a> = &'a mut dyn FnMut(&dyn Cols, &mut Vec<Value>) -> Result<()>;

/// A closure filter over a row's values in schema order, which a dynamic query hands it
/// in place (see `Select::filter_values`).
pub(crate) type ValuesFilter<'a> = Box<dyn Fn(&[Value]) -> bool + 'a>;

/// A resolved query: predicates, closure filters, order keys `(column, descending)`, and
/// the window.
pub(crate) struct QuerySpec<'a, R> {
    pub(crate) preds: Vec<Pred>,
    pub(crate) filters: Vec<Filter<'a, R>>,
    /// Filters of a dynamic query (`R` = `Row`) that read values rather than a `Row`: the
    /// engine turns them into filters of the table's own records, which lend their values
    /// instead of copying them into a `Row`.
    pub(crate) value_filters: Vec<ValuesFilter<'a>>,
    pub(crate) order: Vec<(usize, bool)>,
    pub(crate) limit: Option<usize>,
    pub(crate) offset: usize,
}

impl<R> Default for QuerySpec<'_, R> {
    fn default() -> Self {
        QuerySpec {
            preds: Vec::new(),
            filters: Vec::new(),
            value_filters: Vec::new(),
            order: Vec::new(),
            limit: None,
            offset: 0,
        }
    }
}

impl<R> fmt::Debug for QuerySpec<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuerySpec")
            .field("preds", &self.preds)
            .field("filters", &self.filters.len())
            .field("value_filters", &self.value_filters.len())
            .field("order", &self.order)
            .field("limit", &self.limit)
            .field("offset", &self.offset)
            .finish()
    }
}

impl<'a, R> QuerySpec<'a, R> {
    /// Resolves `where_eq(column, value)`.
    pub(crate) fn add_eq(&mut self, schema: &Schema, column: &str, value: Value) -> Result<()> {
        let col = comparable_column(schema, column)?;
        let value = if value.is_null() {
            Value::Null
        } else {
            coerce_probe(schema, col, value)?
        };
        self.preds.push(Pred::Eq { col, value });
        Ok(())
    }

    /// Resolves `where_range(column, lo..hi)`.
    pub(crate) fn add_range(
        &mut self,
        schema: &Schema,
        column: &str,
        lo: Bound<Value>,
        hi: Bound<Value>,
    ) -> Result<()> {
        let col = comparable_column(schema, column)?;
        let conv = |b: Bound<Value>| -> Result<Bound<Value>> {
            Ok(match b {
                Bound::Included(v) => Bound::Included(coerce_bound(schema, col, v)?),
                Bound::Excluded(v) => Bound::Excluded(coerce_bound(schema, col, v)?),
                Bound::Unbounded => Bound::Unbounded,
            })
        };
        let (lo, hi) = (conv(lo)?, conv(hi)?);
        self.preds.push(Pred::Range { col, lo, hi });
        Ok(())
    }

    /// Resolves `order_by("col")` / `order_by("-col")`.
    pub(crate) fn add_order(&mut self, schema: &Schema, key: &str) -> Result<()> {
        let (name, desc) = order_key(key);
        let col = comparable_column(schema, name)?;
        self.order.push((col, desc));
        Ok(())
    }
}

fn comparable_column(schema: &Schema, name: &str) -> Result<usize> {
    schema.comparable_column(name, "compared or ordered by")
}

fn coerce_probe(schema: &Schema, col: usize, v: Value) -> Result<Value> {
    let shown = v.clone();
    schema.columns[col]
        .ty
        .coerce(v)
        .ok_or_else(|| schema.type_mismatch(col, shown))
}

/// Range bounds may be any number for a numeric column (`gpa` between 3 and 4, `year` below
/// 2020.5): an integer column compares numerically against a float bound.
/// A null bound is refused: no row is in a range that starts or ends at NULL.
fn coerce_bound(schema: &Schema, col: usize, v: Value) -> Result<Value> {
    let ty = schema.columns[col].ty;
    match &v {
        Value::Null => Err(schema.type_mismatch(col, v)),
        Value::Int(_) | Value::Float(_) if ty.is_int() || ty.is_float() => Ok(ty.range_bound(v)),
        _ => coerce_probe(schema, col, v),
    }
}

/// Splits an order key into its column and direction: `"-gpa"` descending, `"gpa"` or
/// `"+gpa"` ascending.
pub(crate) fn order_key(key: &str) -> (&str, bool) {
    match key.strip_prefix('-') {
        Some(name) => (name, true),
        None => (key.strip_prefix('+').unwrap_or(key), false),
    }
}

/// Cuts a result in query order to its window: skips `offset` items, keeps at most `limit`.
pub(crate) fn window<T>(items: &mut Vec<T>, offset: usize, limit: Option<usize>) {
    let start = offset.min(items.len());
    items.drain(..start);
    if let Some(l) = limit {
        items.truncate(l);
    }
}

/// The first error of a builder (a query, a join) whose calls cannot fail one by one: the
/// terminal call reports it.
#[derive(Debug, Default)]
pub(crate) struct FirstError(Option<Error>);

impl FirstError {
    /// Keeps `r`'s error unless an earlier one is kept.
    pub(crate) fn note(&mut self, r: Result<()>) {
        if let Err(e) = r {
            self.0.get_or_insert(e);
        }
    }

    /// The error kept, if any (and forgets it).
    pub(crate) fn take(&mut self) -> Result<()> {
        match self.0.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The bounds an index walk covers for a predicate.
pub(crate) fn bounds(p: &Pred) -> (Bound<Value>, Bound<Value>) {
    match p {
        Pred::Eq { value, .. } => (
            Bound::Included(value.clone()),
            Bound::Included(value.clone()),
        ),
        Pred::Range { lo, hi, .. } => (lo.clone(), hi.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_predicates_skip_nulls() {
        let p = Pred::Range {
            col: 0,
            lo: Bound::Unbounded,
            hi: Bound::Included(Value::Int(3)),
        };
        assert!(p.matches(ValueRef::Int(2)));
        assert!(!p.matches(ValueRef::Null));
        assert!(!p.matches(ValueRef::Int(4)));
        let e = Pred::Eq {
            col: 0,
            value: Value::Null,
        };
        assert!(e.matches(ValueRef::Null));
    }

    #[test]
    fn order_keys_and_windows() {
        assert_eq!(order_key("-gpa"), ("gpa", true));
        assert_eq!(order_key("+gpa"), ("gpa", false));
        assert_eq!(order_key("gpa"), ("gpa", false));
        let mut v: Vec<u32> = (0..10).collect();
        window(&mut v, 3, Some(4));
        assert_eq!(v, [3, 4, 5, 6]);
        window(&mut v, 9, None);
        assert!(v.is_empty());
    }
}
