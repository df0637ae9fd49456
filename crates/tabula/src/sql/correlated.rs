//! Correlated subqueries: run for a row (or a group) of the query they are in, their
//! values kept after that row's ([`WithSubqueries`]), each in its phase ([`Phase`]).

use sqlparser::ast::Spanned;

use crate::error::Result;
use crate::record::Cols;
use crate::sql::scalar::{self, sql_error, CorrelatedCall, Scalar, Scope, SubKind};
use crate::sql::select::select_each;
use crate::sql::target::Target;
use crate::value::{Value, ValueRef};

/// A row of FROM with its correlated subqueries' values after it (from
/// [`scalar::CORRELATED_BASE`] on).
pub(crate) struct WithSubqueries {
    row: Vec<Value>,
    extra: Vec<Value>,
}

impl Cols for WithSubqueries {
    fn value_at(&self, col: usize) -> ValueRef<'_> {
        match col.checked_sub(scalar::CORRELATED_BASE) {
            Some(k) => self.extra.get(k).map_or(ValueRef::Null, Value::as_ref),
            None => self.row.get(col).map_or(ValueRef::Null, Value::as_ref),
        }
    }
}

/// `r` (the first `width` columns of a row) with the values of the correlated subqueries
/// `calls` after it, to evaluate conditions on; `None` when there are none (use `r`).
pub(crate) fn with_subqueries(
    target: Target<'_, '_>,
    calls: &[CorrelatedCall],
    scope: &dyn Scope,
    r: &dyn Cols,
    width: usize,
    params: &[Value],
) -> Result<Option<WithSubqueries>> {
    if calls.is_empty() {
        return Ok(None);
    }
    let row = r.owned_values(width);
    extended(target, calls, scope, row, params).map(Some)
}

/// `row` with the values of every one of the correlated subqueries `calls` after it.
pub(super) fn extended(
    target: Target<'_, '_>,
    calls: &[CorrelatedCall],
    scope: &dyn Scope,
    row: Vec<Value>,
    params: &[Value],
) -> Result<WithSubqueries> {
    let mut row = WithSubqueries {
        row,
        extra: Vec::with_capacity(calls.len()),
    };
    for call in calls {
        let v = correlated_value(target, call, scope, &row, params)?;
        row.extra.push(v);
    }
    Ok(row)
}

/// The value a correlated subquery gives for the row `row.row` of the query it is in
/// (`scope`: the names of that row's columns; a group's row has its aggregates' values
/// after them, which no name reaches). `row` holds the values of the subqueries before
/// this one, which the operand of `x IN (SELECT …)` may read (`x` a subquery too).
fn correlated_value(
    target: Target<'_, '_>,
    call: &CorrelatedCall,
    scope: &dyn Scope,
    row: &WithSubqueries,
    params: &[Value],
) -> Result<Value> {
    let r = select_each(target, &call.query, params, Some((scope, &row.row)), None)?;
    if r.columns.len() != 1 && !matches!(call.kind, SubKind::Exists { .. }) {
        // As SQLite, whether or not it has rows (its `*` is known to be several columns
        // now; the compiler could only count the items).
        return Err(sql_error(
            call.query.span(),
            "a subquery used as a value returns one column",
        ));
    }
    let mut firsts = r
        .rows
        .into_iter()
        .map(|r| r.into_iter().next().unwrap_or(Value::Null));
    Ok(match &call.kind {
        SubKind::Exists { negated } => Value::Bool((firsts.next().is_none()) == *negated),
        // The first row's value, as in SQLite; null without one.
        SubKind::Value => firsts.next().unwrap_or(Value::Null),
        SubKind::In { operand, negated } => {
            let v = operand.eval_cols(row, params)?;
            let list = firsts.map(Scalar::Literal).collect();
            Scalar::InList(Box::new(Scalar::Literal(v)), list, *negated).eval(&[], params)?
        }
    })
}

/// When a query runs a correlated subquery of its own (in its WHERE, GROUP BY, items,
/// HAVING or ORDER BY), in the order the phases come: each runs only for the rows (or
/// groups) the phases before it kept, as SQLite evaluates the clauses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// In WHERE: for each row of FROM.
    Where,
    /// In GROUP BY, an aggregate's argument or FILTER, or the items and ORDER BY of a
    /// query that does not group: for each row WHERE keeps.
    Row,
    /// In HAVING: for each group, on its row (its first row, then its aggregates).
    Having,
    /// In the items and ORDER BY of a query that groups: for each group HAVING keeps.
    Group,
}

/// A query's correlated subqueries, each with its phase, and what running one needs.
pub(super) struct Correlated<'a, 't, 'db> {
    pub(super) target: Target<'t, 'db>,
    pub(super) calls: &'a [CorrelatedCall],
    pub(super) phases: Vec<Phase>,
    /// The names of the query's row (and of the queries around it).
    pub(super) scope: &'a dyn Scope,
    pub(super) params: &'a [Value],
}

impl Correlated<'_, '_, '_> {
    /// Whether any subquery runs in `phase`.
    pub(super) fn any(&self, phase: Phase) -> bool {
        self.phases.contains(&phase)
    }

    /// `row`, with room after it for its subqueries' values: null until their phase runs
    /// (an expression reads only the values of its own phase and the ones before it).
    pub(super) fn start(&self, row: Vec<Value>) -> WithSubqueries {
        WithSubqueries {
            row,
            extra: vec![Value::Null; self.calls.len()],
        }
    }

    /// Runs the subqueries of `phase` for `row`, keeping their values in it.
    pub(super) fn run(&self, phase: Phase, row: &mut WithSubqueries) -> Result<()> {
        for (i, call) in self.calls.iter().enumerate() {
            if self.phases[i] == phase {
                let v = correlated_value(self.target, call, self.scope, row, self.params)?;
                row.extra[i] = v;
            }
        }
        Ok(())
    }
}
