//! Aggregates over the rows a query selects: count, sum, avg, min and max, by column or by
//! closure, for all rows or per group. Rows are read in place; none is cloned.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{Error, Result};
use crate::record::Record;
use crate::schema::Schema;
use crate::value::{Value, ValueRef};

/// One aggregate to compute per group; see [`GroupBy::aggregate`](crate::GroupBy::aggregate).
///
/// Column aggregates skip nulls, like SQL's. `sum` of an integer column is an `Int` (a `Float`
/// if it would overflow `i64`), of a float column a `Float`; `avg` is a `Float`; `min`/`max`
/// follow the column's order. An aggregate over no value is `Null`.
pub struct Agg<'a, T> {
    kind: Kind<'a, T>,
}

enum Kind<'a, T> {
    Count,
    Column(Op, String),
    Number(Op, Box<dyn Fn(&T) -> f64 + 'a>),
    Ordered(bool, Box<dyn Fn(&T) -> Value + 'a>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    Sum,
    Avg,
    Min,
    Max,
}

impl<T> fmt::Debug for Agg<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Count => f.write_str("count"),
            Kind::Column(op, c) => write!(f, "{op:?}({c})"),
            Kind::Number(op, _) => write!(f, "{op:?}(closure)"),
            Kind::Ordered(max, _) => {
                f.write_str(if *max { "max(closure)" } else { "min(closure)" })
            }
        }
    }
}

impl<'a, T> Agg<'a, T> {
    /// The number of rows.
    pub fn count() -> Self {
        Agg { kind: Kind::Count }
    }
    /// The sum of a numeric column.
    pub fn sum(column: &str) -> Self {
        Agg {
            kind: Kind::Column(Op::Sum, column.to_owned()),
        }
    }
    /// The mean of a numeric column.
    pub fn avg(column: &str) -> Self {
        Agg {
            kind: Kind::Column(Op::Avg, column.to_owned()),
        }
    }
    /// The smallest value of a column.
    pub fn min(column: &str) -> Self {
        Agg {
            kind: Kind::Column(Op::Min, column.to_owned()),
        }
    }
    /// The largest value of a column.
    pub fn max(column: &str) -> Self {
        Agg {
            kind: Kind::Column(Op::Max, column.to_owned()),
        }
    }
    /// The sum of a number computed from each row.
    pub fn sum_by(f: impl Fn(&T) -> f64 + 'a) -> Self {
        Agg {
            kind: Kind::Number(Op::Sum, Box::new(f)),
        }
    }
    /// The mean of a number computed from each row.
    pub fn avg_by(f: impl Fn(&T) -> f64 + 'a) -> Self {
        Agg {
            kind: Kind::Number(Op::Avg, Box::new(f)),
        }
    }
    /// The smallest of a value computed from each row.
    pub fn min_by<V: Into<Value>>(f: impl Fn(&T) -> V + 'a) -> Self {
        Agg {
            kind: Kind::Ordered(false, Box::new(move |r| f(r).into())),
        }
    }
    /// The largest of a value computed from each row.
    pub fn max_by<V: Into<Value>>(f: impl Fn(&T) -> V + 'a) -> Self {
        Agg {
            kind: Kind::Ordered(true, Box::new(move |r| f(r).into())),
        }
    }
}

/// One group's key with its row count and the aggregates asked for, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Group<K> {
    /// The group's key.
    pub key: K,
    /// Rows in the group.
    pub count: usize,
    /// The aggregates, in the order they were asked for.
    pub values: Vec<Value>,
}

/// A resolved aggregate: columns turned into positions, checked for type.
pub(crate) enum Plan<'p, 'a, T> {
    Count,
    Column(Op, usize),
    Number(Op, &'p (dyn Fn(&T) -> f64 + 'a)),
    Ordered(bool, &'p (dyn Fn(&T) -> Value + 'a)),
}

pub(crate) fn resolve<'p, 'a, T>(
    schema: &Schema,
    aggs: &'p [Agg<'a, T>],
) -> Result<Vec<Plan<'p, 'a, T>>> {
    aggs.iter()
        .map(|a| {
            Ok(match &a.kind {
                Kind::Count => Plan::Count,
                Kind::Column(op, name) => {
                    let col = schema.column_index(name)?;
                    let ty = schema.columns[col].ty;
                    let numeric = ty.is_int() || ty.is_float();
                    if (matches!(op, Op::Sum | Op::Avg) && !numeric) || !ty.is_indexable() {
                        return Err(Error::InvalidColumnUse {
                            table: schema.table.clone(),
                            column: name.clone(),
                            reason: format!("cannot take the {op:?} of a {ty} column")
                                .to_lowercase(),
                        });
                    }
                    Plan::Column(*op, col)
                }
                Kind::Number(op, f) => Plan::Number(*op, &**f),
                Kind::Ordered(max, f) => Plan::Ordered(*max, &**f),
            })
        })
        .collect()
}

/// Running state of one aggregate.
#[derive(Debug, Clone)]
pub(crate) enum Acc {
    Count,
    IntSum(i128, usize),
    FloatSum(f64, usize),
    Extreme(Option<Value>, bool),
}

impl Acc {
    fn new<T>(p: &Plan<'_, '_, T>, schema: &Schema) -> Acc {
        match p {
            Plan::Count => Acc::Count,
            Plan::Column(Op::Sum | Op::Avg, col) if schema.columns[*col].ty.is_int() => {
                Acc::IntSum(0, 0)
            }
            Plan::Column(Op::Sum | Op::Avg, _) | Plan::Number(..) => Acc::FloatSum(0.0, 0),
            Plan::Column(op, _) => Acc::Extreme(None, *op == Op::Max),
            Plan::Ordered(max, _) => Acc::Extreme(None, *max),
        }
    }

    fn add_value(&mut self, v: ValueRef<'_>) {
        match (self, v) {
            (_, ValueRef::Null) | (Acc::Count, _) => {}
            (Acc::IntSum(s, n), ValueRef::Int(i)) => {
                *s += i128::from(i);
                *n += 1;
            }
            (Acc::FloatSum(s, n), ValueRef::Float(f)) => {
                *s += f;
                *n += 1;
            }
            (Acc::FloatSum(s, n), ValueRef::Int(i)) => {
                *s += i as f64;
                *n += 1;
            }
            (Acc::Extreme(best, max), v) => {
                let better = match best {
                    None => true,
                    Some(b) => {
                        let o = v.total_cmp(b.as_ref());
                        if *max {
                            o.is_gt()
                        } else {
                            o.is_lt()
                        }
                    }
                };
                if better {
                    *best = Some(v.to_owned());
                }
            }
            _ => {}
        }
    }

    fn finish(self, op: Option<Op>) -> Value {
        match (self, op) {
            (Acc::Count, _) => Value::Null,
            (Acc::IntSum(_, 0) | Acc::FloatSum(_, 0), _) => Value::Null,
            (Acc::IntSum(s, n), Some(Op::Avg)) => Value::Float(s as f64 / n as f64),
            (Acc::IntSum(s, _), _) => i64::try_from(s).map_or(Value::Float(s as f64), Value::Int),
            (Acc::FloatSum(s, n), Some(Op::Avg)) => Value::Float(s / n as f64),
            (Acc::FloatSum(s, _), _) => Value::Float(s),
            (Acc::Extreme(v, _), _) => v.unwrap_or(Value::Null),
        }
    }
}

/// Accumulates the aggregates for one group.
pub(crate) struct GroupAcc {
    count: usize,
    accs: Vec<Acc>,
}

impl GroupAcc {
    pub(crate) fn new<T>(plans: &[Plan<'_, '_, T>], schema: &Schema) -> Self {
        GroupAcc {
            count: 0,
            accs: plans.iter().map(|p| Acc::new(p, schema)).collect(),
        }
    }

    pub(crate) fn add<T: Record>(&mut self, plans: &[Plan<'_, '_, T>], row: &T) {
        self.count += 1;
        for (acc, p) in self.accs.iter_mut().zip(plans) {
            match p {
                Plan::Count => {}
                Plan::Column(_, col) => acc.add_value(row.col(*col)),
                Plan::Number(_, f) => acc.add_value(ValueRef::Float(f(row))),
                Plan::Ordered(_, f) => acc.add_value(f(row).as_ref()),
            }
        }
    }

    pub(crate) fn finish<K, T>(self, key: K, plans: &[Plan<'_, '_, T>]) -> Group<K> {
        let count = self.count;
        let values = self
            .accs
            .into_iter()
            .zip(plans)
            .map(|(acc, p)| match p {
                Plan::Count => Value::Int(count as i64),
                Plan::Column(op, _) | Plan::Number(op, _) => acc.finish(Some(*op)),
                Plan::Ordered(..) => acc.finish(None),
            })
            .collect();
        Group { key, count, values }
    }
}

/// Groups rows by a key and accumulates, in key order.
pub(crate) fn group<'r, K: Ord, T: Record>(
    rows: impl Iterator<Item = (K, &'r T)>,
    plans: &[Plan<'_, '_, T>],
    schema: &Schema,
) -> Vec<Group<K>> {
    let mut groups: BTreeMap<K, GroupAcc> = BTreeMap::new();
    for (k, row) in rows {
        groups
            .entry(k)
            .or_insert_with(|| GroupAcc::new(plans, schema))
            .add(plans, row);
    }
    groups
        .into_iter()
        .map(|(k, g)| g.finish(k, plans))
        .collect()
}
