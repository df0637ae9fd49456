//! Planning a query over one table: which predicate an index serves (primary key, unique
//! column, ordered index) or a full scan, and how results are ordered; and the [`Plan`]
//! `explain()` shows.

use std::fmt;

use crate::query::{bounds, Pred, QuerySpec};
use crate::record::Record;
use crate::table::TableData;

/// How a query reaches its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Access {
    /// One lookup in the primary-key hash map.
    PrimaryKey {
        /// The primary-key column.
        column: String,
    },
    /// One lookup in a unique column's hash index.
    UniqueIndex {
        /// The unique column.
        column: String,
    },
    /// A walk over part of an ordered index (equality or range).
    IndexRange {
        /// The indexed column.
        column: String,
    },
    /// One lookup in a composite unique constraint's hash index: equality on every column.
    CompositeUnique {
        /// The constraint's columns.
        columns: Vec<String>,
    },
    /// A walk over part of a composite index: equality on its first `equal` columns and,
    /// with `range`, a range on the next one.
    CompositeRange {
        /// The index's columns.
        columns: Vec<String>,
        /// How many leading columns are compared for equality.
        equal: usize,
        /// Whether the column after those is bounded by a range.
        range: bool,
    },
    /// Every row, in primary-key order.
    FullScan,
}

/// How a query puts its results in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OrderStrategy {
    /// Rows come in primary-key order as they are read; a limit stops the read early.
    KeyOrder,
    /// Rows come in the order of an index, which a limit stops early.
    IndexOrder {
        /// The indexed column walked.
        column: String,
    },
    /// A bounded heap keeps the best `k` rows (offset + limit); nothing else is sorted.
    TopK {
        /// How many rows the heap keeps.
        k: usize,
    },
    /// All matching rows are sorted.
    Sort,
    /// A lookup of a unique key finds one row at most: there is nothing to order.
    OneRow,
}

/// What the planner chose for a query; see [`Select::explain`](crate::Select::explain).
///
/// Its `Display` reads like `students: index range on year, 1 more predicate, 1 filter,
/// top-3 heap`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The table queried.
    pub table: String,
    /// How rows are reached.
    pub access: Access,
    /// How results are ordered.
    pub order: OrderStrategy,
    /// Column predicates checked on each row reached (those the access path does not serve).
    pub residual_predicates: usize,
    /// Closure filters run on each row reached.
    pub filters: usize,
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.table)?;
        match &self.access {
            Access::PrimaryKey { column } => write!(f, "primary-key lookup on {column}")?,
            Access::UniqueIndex { column } => write!(f, "unique-index lookup on {column}")?,
            Access::IndexRange { column } => write!(f, "index range on {column}")?,
            Access::CompositeUnique { columns } => {
                write!(f, "unique-index lookup on ({})", columns.join(", "))?
            }
            Access::CompositeRange {
                columns,
                equal,
                range,
            } => {
                write!(f, "composite index ({})", columns.join(", "))?;
                if *equal > 0 {
                    write!(f, ": equality on {}", columns[..*equal].join(", "))?;
                }
                if *range {
                    let sep = if *equal > 0 { ", " } else { ": " };
                    write!(f, "{sep}range on {}", columns[*equal])?;
                }
            }
            Access::FullScan => write!(f, "full scan")?,
        }
        if self.residual_predicates > 0 {
            let s = if self.residual_predicates == 1 {
                ""
            } else {
                "s"
            };
            write!(f, ", {} more predicate{s}", self.residual_predicates)?;
        }
        if self.filters > 0 {
            let s = if self.filters == 1 { "" } else { "s" };
            write!(f, ", {} filter{s}", self.filters)?;
        }
        match &self.order {
            OrderStrategy::KeyOrder => write!(f, ", key order"),
            OrderStrategy::IndexOrder { column } => write!(f, ", ordered by index on {column}"),
            OrderStrategy::TopK { k } => write!(f, ", top-{k} heap"),
            OrderStrategy::Sort => write!(f, ", sort"),
            OrderStrategy::OneRow => write!(f, ", one row at most"),
        }
    }
}

/// The chosen access path, with the predicate it serves.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Path {
    Key(usize),
    Unique(usize),
    Index(usize),
    /// Composite unique constraint `ix` (in [`TableData::composite_uniques`] order); the
    /// predicates it serves, as a bit set of their positions.
    CompositeUnique {
        ix: usize,
        served: u64,
    },
    /// Composite index `ix`: equality on its first `equal` columns, then a range on the next
    /// if `range`; the predicates it serves, as a bit set.
    Composite {
        ix: usize,
        equal: usize,
        range: bool,
        served: u64,
    },
    Scan,
}

impl Path {
    /// The predicates the path serves (checked by the access itself), as a bit set of their
    /// positions.
    pub(crate) fn served(self) -> u64 {
        match self {
            Path::Key(i) | Path::Unique(i) | Path::Index(i) => {
                1u64.checked_shl(i as u32).unwrap_or(0)
            }
            Path::CompositeUnique { served, .. } | Path::Composite { served, .. } => served,
            Path::Scan => 0,
        }
    }
}

/// The position of an equality predicate on `col` with a non-null value, among the first 64.
fn eq_pred<R>(q: &QuerySpec<'_, R>, col: usize) -> Option<usize> {
    q.preds
        .iter()
        .take(64)
        .position(|p| matches!(p, Pred::Eq { col: c, value } if *c == col && !value.is_null()))
}

/// The composite paths the table's composite indexes offer for the query.
fn composite_paths<R: Record>(t: &TableData<R>, q: &QuerySpec<'_, R>) -> Vec<Path> {
    let mut out = Vec::new();
    for (ix, u) in t.composite_uniques().enumerate() {
        let served: Option<u64> = u.columns().map(|c| eq_pred(q, c).map(|i| 1u64 << i)).sum();
        if let Some(served) = served {
            out.push(Path::CompositeUnique { ix, served });
        }
    }
    for (ix, c) in t.composite_indexes().iter().enumerate() {
        let mut served = 0u64;
        let mut equal = 0;
        for &col in c.cols.iter() {
            match eq_pred(q, col) {
                Some(i) => {
                    served |= 1 << i;
                    equal += 1;
                }
                None => break,
            }
        }
        let mut range = false;
        if let Some(&next) = c.cols.get(equal) {
            let r = q
                .preds
                .iter()
                .take(64)
                .position(|p| matches!(p, Pred::Range { col, .. } if *col == next));
            if let Some(i) = r {
                served |= 1 << i;
                range = true;
            }
        }
        if served != 0 {
            out.push(Path::Composite {
                ix,
                equal,
                range,
                served,
            });
        }
    }
    out
}

/// The chosen order strategy.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ord_ {
    Key { desc: bool },
    Index { col: usize, desc: bool },
    TopK(usize),
    Sort,
}

/// Whether an index range (`q.preds[i]`, a range on an ordered index) is better left for a
/// scan: the query is unordered, the slab is in key order, another predicate checks a
/// column the slab mirrors, and the range holds more than an eighth of the table's rows.
/// Such a range reads each of its rows to check the other predicates, a cache miss per
/// row; the scan checks the mirrored values of every slot, 16 at a time beside the row
/// pointers, and reads only the rows they pass. (A range's rows are counted by walking
/// it, up to that eighth; an equality on an indexed column is never left.)
fn wide_beside_mirror<R: Record>(t: &TableData<R>, q: &QuerySpec<'_, R>, i: usize) -> bool {
    let p = &q.preds[i];
    if !matches!(p, Pred::Range { .. }) || !q.order.is_empty() || !t.slots_in_order() {
        return false;
    }
    let mirror = t.rows().mirror();
    let beside =
        (q.preds.iter().enumerate()).any(|(j, o)| j != i && mirror.position(o.col()).is_some());
    let Some(index) = t.ordered_index(p.col()).filter(|_| beside) else {
        return false;
    };
    let (lo, hi) = bounds(p);
    index.range(&lo, &hi).nth(t.len() / 8).is_some()
}

/// A query's plan: how rows are reached and how they are ordered.
pub(crate) struct Planned {
    pub(crate) path: Path,
    pub(crate) ord: Ord_,
}

/// Chooses the access path (the cheapest predicate an index serves, else a scan) and the
/// order strategy.
pub(crate) fn choose<R: Record>(t: &TableData<R>, q: &QuerySpec<'_, R>) -> Planned {
    let schema = &t.schema;
    let pk = schema.primary_key();
    let mut path = Path::Scan;
    let rank = |p: &Path| match p {
        Path::Key(_) => 0,
        Path::Unique(_) | Path::CompositeUnique { .. } => 1,
        // Two columns or more narrow the walk more than one index column can.
        Path::Composite { served, .. } if served.count_ones() >= 2 => 2,
        Path::Composite { range: false, .. } => 3,
        Path::Composite { .. } => 4,
        Path::Index(i) => {
            if matches!(q.preds[*i], Pred::Eq { .. }) {
                3
            } else {
                4
            }
        }
        Path::Scan => 5,
    };
    for (i, p) in q.preds.iter().enumerate() {
        let candidate = match p {
            Pred::Eq { col, value } if *col == pk && !value.is_null() => Path::Key(i),
            Pred::Eq { col, value } if schema.columns[*col].unique && !value.is_null() => {
                Path::Unique(i)
            }
            _ if t.ordered_index(p.col()).is_some() => Path::Index(i),
            _ => Path::Scan,
        };
        if rank(&candidate) < rank(&path) {
            path = candidate;
        }
    }
    for candidate in composite_paths(t, q) {
        if rank(&candidate) < rank(&path) {
            path = candidate;
        }
    }
    if let Path::Index(i) = path {
        if wide_beside_mirror(t, q, i) {
            path = Path::Scan;
        }
    }
    let window = q.limit.map(|l| l.saturating_add(q.offset));
    let ord = match (path, q.order.first()) {
        (Path::Key(_) | Path::Unique(_) | Path::CompositeUnique { .. }, _) => Ord_::Sort,
        (_, None) => match path {
            Path::Scan => Ord_::Key { desc: false },
            _ => window.map_or(Ord_::Sort, Ord_::TopK),
        },
        (Path::Scan, Some(&(col, desc))) if col == pk => Ord_::Key { desc },
        (Path::Scan, Some(&(col, desc))) if t.ordered_index(col).is_some() && window.is_some() => {
            Ord_::Index { col, desc }
        }
        (Path::Index(i), Some(&(col, desc))) if q.preds[i].col() == col => {
            Ord_::Index { col, desc }
        }
        _ => window.map_or(Ord_::Sort, Ord_::TopK),
    };
    Planned { path, ord }
}

/// Describes the plan the query would run.
pub(crate) fn explain<R: Record>(t: &TableData<R>, q: &QuerySpec<'_, R>) -> Plan {
    let p = choose(t, q);
    let name = |c: usize| t.schema.columns[c].name.clone();
    let (access, served) = match p.path {
        Path::Key(i) => (
            Access::PrimaryKey {
                column: name(q.preds[i].col()),
            },
            1,
        ),
        Path::Unique(i) => (
            Access::UniqueIndex {
                column: name(q.preds[i].col()),
            },
            1,
        ),
        Path::Index(i) => (
            Access::IndexRange {
                column: name(q.preds[i].col()),
            },
            1,
        ),
        Path::CompositeUnique { ix, served } => {
            let columns = t
                .composite_uniques()
                .nth(ix)
                .map(|u| u.columns().map(name).collect())
                .unwrap_or_default();
            (
                Access::CompositeUnique { columns },
                served.count_ones() as usize,
            )
        }
        Path::Composite {
            ix,
            equal,
            range,
            served,
        } => {
            let columns = t
                .composite_indexes()
                .get(ix)
                .map(|c| c.cols.iter().map(|&c| name(c)).collect())
                .unwrap_or_default();
            (
                Access::CompositeRange {
                    columns,
                    equal,
                    range,
                },
                served.count_ones() as usize,
            )
        }
        Path::Scan => (Access::FullScan, 0),
    };
    let order = match p.ord {
        _ if matches!(
            p.path,
            Path::Key(_) | Path::Unique(_) | Path::CompositeUnique { .. }
        ) =>
        {
            OrderStrategy::OneRow
        }
        Ord_::Key { .. } => OrderStrategy::KeyOrder,
        Ord_::Index { col, .. } => OrderStrategy::IndexOrder { column: name(col) },
        Ord_::TopK(k) => OrderStrategy::TopK { k },
        Ord_::Sort => OrderStrategy::Sort,
    };
    Plan {
        table: t.schema.table.clone(),
        access,
        order,
        residual_predicates: q.preds.len() - served,
        filters: q.filters.len(),
    }
}

#[cfg(test)]
mod tests {
    use std::ops::Bound;
    use std::sync::Arc;

    use super::*;
    use crate::query::exec::run;
    use crate::record::DynRow;
    use crate::schema::{Column, ColumnType, Schema};
    use crate::value::Value;

    /// `id`, `x` (mirrored: no index) and `y` (an ordered index, so not mirrored), with
    /// `y` from 0 to 99 and `x` from 0 to 9.
    fn table() -> TableData<DynRow> {
        let schema = Schema::new(
            "t",
            vec![
                Column::new("id", ColumnType::I64).primary_key(),
                Column::new("x", ColumnType::I64),
                Column::new("y", ColumnType::I64).indexed(),
            ],
        )
        .unwrap();
        let mut t = TableData::new(Arc::new(schema)).unwrap();
        for i in 0..1000 {
            let row = vec![Value::Int(i + 1), Value::Int(i % 10), Value::Int(i % 100)];
            t.insert(DynRow(row.into())).unwrap();
        }
        t.commit();
        t
    }

    fn at_least(col: usize, v: i64) -> Pred {
        Pred::Range {
            col,
            lo: Bound::Included(Value::Int(v)),
            hi: Bound::Unbounded,
        }
    }

    /// A range holding most of the table is left for a scan that checks the mirrored
    /// column; a narrow one, an ordered query and a query with no mirrored check keep the
    /// index. The rows are the same either way.
    #[test]
    fn a_wide_index_range_beside_a_mirrored_check_is_scanned() {
        let t = table();
        // Predicates, order, and whether the plan scans.
        type Case = (Vec<Pred>, Vec<(usize, bool)>, bool);
        let cases: [Case; 5] = [
            (vec![at_least(2, 1), at_least(1, 8)], vec![], true),
            (vec![at_least(1, 8), at_least(2, 95)], vec![], false),
            (
                vec![at_least(2, 1), at_least(1, 8)],
                vec![(2, false)],
                false,
            ),
            (vec![at_least(2, 1)], vec![], false),
            (
                vec![
                    Pred::Eq {
                        col: 2,
                        value: Value::Int(5),
                    },
                    at_least(1, 0),
                ],
                vec![],
                false,
            ),
        ];
        for (preds, order, scanned) in cases {
            let q = QuerySpec::<DynRow> {
                preds: preds.clone(),
                order: order.clone(),
                ..QuerySpec::default()
            };
            let p = choose(&t, &q);
            assert_eq!(matches!(p.path, Path::Scan), scanned, "{preds:?} {order:?}");
            let mut want: Vec<u32> = (t.slab())
                .filter(|(_, r)| preds.iter().all(|p| p.matches(r.col(p.col()))))
                .map(|(s, _)| s)
                .collect();
            if let Some(&(col, _)) = order.first() {
                want.sort_by(|&a, &b| {
                    let (a, b) = (t.row(a).unwrap(), t.row(b).unwrap());
                    a.col(col)
                        .total_cmp(b.col(col))
                        .then(a.col(0).total_cmp(b.col(0)))
                });
            }
            assert_eq!(run(&t, &q), want, "{preds:?} {order:?}");
        }
    }
}
