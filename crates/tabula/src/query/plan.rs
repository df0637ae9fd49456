//! Planning a query over one table: which predicate an index serves (primary key, unique
//! column, ordered index) or a full scan, and how results are ordered; and the [`Plan`]
//! `explain()` shows.

use std::fmt;

use crate::query::{Pred, QuerySpec};
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
        }
    }
}

/// The chosen access path, with the predicate it serves.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Path {
    Key(usize),
    Unique(usize),
    Index(usize),
    Scan,
}

/// The chosen order strategy.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ord_ {
    Key { desc: bool },
    Index { col: usize, desc: bool },
    TopK(usize),
    Sort,
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
        Path::Unique(_) => 1,
        Path::Index(i) => {
            if matches!(q.preds[*i], Pred::Eq { .. }) {
                2
            } else {
                3
            }
        }
        Path::Scan => 4,
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
    let window = q.limit.map(|l| l.saturating_add(q.offset));
    let ord = match (path, q.order.first()) {
        (Path::Key(_) | Path::Unique(_), _) => Ord_::Sort,
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
        Path::Scan => (Access::FullScan, 0),
    };
    let order = match p.ord {
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
