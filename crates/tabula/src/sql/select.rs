//! `SELECT`: the rows of `FROM` (one table, or several joined with `[INNER] JOIN` and
//! `LEFT [OUTER] JOIN … ON`), `WHERE`, grouping (`GROUP BY` expressions, or one group when
//! the items aggregate) with `COUNT`, `SUM`, `TOTAL`, `AVG`, `MIN`, `MAX` (`DISTINCT` too)
//! and `HAVING`, the items, `DISTINCT`, `ORDER BY` and the window.
//!
//! A row of `FROM` is the values of every table in it, one after the other; a group is
//! evaluated on its first row followed by its aggregates' values.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use hashbrown::{HashMap, HashSet};
use std::sync::Arc;

use sqlparser::ast::{
    Distinct, Expr, GroupByExpr, JoinConstraint, JoinOperator, LimitClause, ObjectName,
    OrderByExpr, OrderByKind, OrderBySort, Query, Select, SelectItem,
    SelectItemQualifiedWildcardKind, SetExpr, Spanned, TableFactor, TableWithJoins, UnaryOperator,
};

use crate::engine::any_table::AnyTable;
use crate::error::{Error, Result};
use crate::query::Pred;
use crate::record::Cols;
use crate::schema::{ColumnType, Schema};
use crate::sql::compound::{self, CteRows};
use crate::sql::numeric;
use crate::sql::run::{plain_table, resolve_table};
use crate::sql::scalar::{
    self, compare, sql_error, truth, AggCall, AggFunc, CorrelatedCall, Op, Params, Scalar, Scope,
    SubKind,
};
use crate::sql::target::{Pinned, Target};
use crate::sql::SqlResult;
use crate::value::{Value, ValueRef};

fn unsupported(feature: impl Into<String>) -> Error {
    Error::Unsupported {
        feature: feature.into(),
    }
}

/// The tables of a FROM clause: each with its qualifier, columns and where its values start
/// in a row.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tables {
    tables: Vec<(String, Vec<String>, usize)>,
    width: usize,
}

impl Tables {
    fn add(&mut self, qualifier: String, names: Vec<String>) -> Result<()> {
        if self.tables.iter().any(|(q, _, _)| *q == qualifier) {
            return Err(Error::Sql {
                line: 0,
                column: 0,
                reason: format!("table {qualifier} appears twice in FROM; give one an alias"),
            });
        }
        let n = names.len();
        self.tables.push((qualifier, names, self.width));
        self.width += n;
        Ok(())
    }
}

impl Scope for Tables {
    fn resolve(&self, qualifier: Option<&str>, name: &str) -> std::result::Result<usize, String> {
        let mut found = Vec::new();
        for (q, names, at) in &self.tables {
            if qualifier.is_some_and(|x| x != q) {
                continue;
            }
            if let Some(i) = names.iter().position(|n| n == name) {
                found.push((q, at + i));
            }
        }
        match found.as_slice() {
            [(_, i)] => Ok(*i),
            [] => {
                if let Some(q) = qualifier {
                    if !self.tables.iter().any(|(t, _, _)| t == q) {
                        return Err(format!("no table named {q} in this statement"));
                    }
                }
                let near = self
                    .tables
                    .iter()
                    .flat_map(|(_, names, _)| names)
                    .find(|n| n.eq_ignore_ascii_case(name))
                    .map(|n| format!("; did you mean {n}?"))
                    .unwrap_or_default();
                Err(match (qualifier, self.tables.as_slice()) {
                    (Some(q), _) => format!("table {q} has no column {name}{near}"),
                    (None, [(q, _, _)]) => format!("table {q} has no column {name}{near}"),
                    _ => format!("no column {name} in the tables of this statement{near}"),
                })
            }
            more => Err(format!(
                "column {name} is ambiguous: it is in {}; qualify it",
                more.iter()
                    .map(|(q, _)| q.as_str())
                    .collect::<Vec<_>>()
                    .join(" and ")
            )),
        }
    }
}

/// Where a relation of FROM gets its rows.
enum Source {
    /// A stored table, read in place with the predicates pushed to it.
    Table { name: String, schema: Arc<Schema> },
    /// A subquery's rows (or a common table expression's), computed once.
    Rows(Arc<Vec<Vec<Value>>>),
}

/// How a relation joins the ones before it.
enum Link {
    /// The first relation, or `FROM a, b` / `CROSS JOIN`: every pair.
    Cross,
    /// `[INNER] JOIN … ON` (`left`: `LEFT [OUTER] JOIN`), its condition compiled over the
    /// relations up to this one, with the correlated subqueries it names, if any.
    On {
        cond: Option<Scalar>,
        left: bool,
        correlated: Option<OnSubqueries>,
    },
}

/// The correlated subqueries of a join's ON condition: they run for each pair of rows the
/// condition tests, naming the columns of the relations up to the joined one (`tables`, as
/// they were when the condition was compiled: a later table's column is not one of them).
struct OnSubqueries {
    calls: Vec<CorrelatedCall>,
    tables: Tables,
}

/// One relation of FROM, resolved: its source, where its values start in a row, how it
/// joins, and the predicates on its own columns that its scan applies.
struct Relation {
    source: Source,
    at: usize,
    width: usize,
    link: Link,
    preds: Vec<Pred>,
}

/// The most tables one FROM may join (SQLite's limit).
const MOST_JOINED: usize = 64;

/// FROM resolved into relations (none without FROM), and the scope of their columns.
/// `outer`: the query around this one and its row, when this one is a correlated subquery
/// run for that row (an ON condition may name its columns).
fn resolve_from(
    target: Target<'_, '_>,
    from: &[TableWithJoins],
    params: &[Value],
    outer: Option<(&dyn Scope, &[Value])>,
) -> Result<(Vec<Relation>, Tables)> {
    let mut tables = Tables::default();
    let mut rels = Vec::new();
    let add = |tables: &mut Tables, t: &TableFactor, rels: &mut Vec<Relation>| -> Result<()> {
        // A joined row is read through a call per table (`emit`): SQLite's limit keeps
        // that recursion shallow.
        if rels.len() == MOST_JOINED {
            return Err(sql_error(
                t.span(),
                format!("at most {MOST_JOINED} tables in a join (as in SQLite)"),
            ));
        }
        let (qualifier, names, source) = relation(target, t, params, outer)?;
        let at = tables.width;
        let width = names.len();
        tables.add(qualifier, names)?;
        rels.push(Relation {
            source,
            at,
            width,
            link: Link::Cross,
            preds: Vec::new(),
        });
        Ok(())
    };
    for twj in from {
        add(&mut tables, &twj.relation, &mut rels)?;
        for j in &twj.joins {
            add(&mut tables, &j.relation, &mut rels)?;
            let (left, on) = match &j.join_operator {
                JoinOperator::Join(c) | JoinOperator::Inner(c) => (false, c),
                JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (true, c),
                JoinOperator::CrossJoin(JoinConstraint::None) => continue,
                other => {
                    return Err(unsupported(format!(
                        "this kind of join ({})",
                        other_name(other)
                    )))
                }
            };
            let (cond, correlated) = match on {
                JoinConstraint::On(e) => {
                    let scope = QueryScope {
                        tables: &tables,
                        outer,
                    };
                    let beyond = Beyond(&scope);
                    let run = |sq: &Query| beyond.rows_of(target, sq, params);
                    let mut p = Params::with_subqueries(&run);
                    p.correlated = Some(Vec::new());
                    let cond = scalar::compile(e, &scope, &mut p)?;
                    let calls = p.correlated.take().unwrap_or_default();
                    let correlated = (!calls.is_empty()).then(|| OnSubqueries {
                        calls,
                        tables: tables.clone(),
                    });
                    (Some(cond), correlated)
                }
                JoinConstraint::None => (None, None),
                _ => return Err(unsupported("JOIN … USING and NATURAL JOIN")),
            };
            // A condition on the joined table's own columns narrows its scan (for a left
            // join too: ON decides which of its rows match).
            let last = rels.len() - 1;
            if let Some(c) = &cond {
                let r = &mut rels[last];
                r.preds = table_preds(c, r, params).0;
            }
            rels[last].link = Link::On {
                cond,
                left,
                correlated,
            };
        }
    }
    Ok((rels, tables))
}

/// A relation of FROM: a table, or a subquery with an alias; its qualifier, columns, source.
/// A subquery sees the names of the queries around this one (`outer`, as for
/// [`resolve_from`]), not this one's other tables.
fn relation(
    target: Target<'_, '_>,
    t: &TableFactor,
    params: &[Value],
    outer: Option<(&dyn Scope, &[Value])>,
) -> Result<(String, Vec<String>, Source)> {
    if let TableFactor::Derived {
        lateral: false,
        subquery,
        alias,
        ..
    } = t
    {
        let Some(alias) = alias else {
            return Err(sql_error(
                t.span(),
                "a subquery in FROM needs an alias: (SELECT …) AS name",
            ));
        };
        if !alias.columns.is_empty() {
            return Err(unsupported("column names in a subquery's alias"));
        }
        let r = select_each(target, subquery, params, outer, None)?;
        return Ok((
            alias.name.value.clone(),
            r.columns,
            Source::Rows(Arc::new(r.rows)),
        ));
    }
    // A common table expression of this query or one around it hides a table of its name.
    if let Some(cte) = compound::cte_named(t, outer)? {
        let (_, alias) = plain_table(t)?;
        let qualifier = alias.map_or_else(|| cte.name.clone(), |a| a.value.clone());
        return Ok((
            qualifier,
            cte.columns.clone(),
            Source::Rows(cte.rows.clone()),
        ));
    }
    let (name, qualifier, names) = resolve_table(target, t)?;
    let schema = target.schema(&name)?;
    Ok((qualifier, names, Source::Table { name, schema }))
}

/// The predicates of `cond`'s AND chain that a scan of `rel` can apply exactly: a column of
/// `rel` compared (`=`, `<`, `<=`, `>`, `>=`, `BETWEEN`) with a constant of the column's own
/// kind. The scan's index serves them. With them, whether every part of the chain became
/// one: only then may the caller skip evaluating `cond` on the rows the scan hands over
/// (leaving a part out only costs time, since `cond` then still runs).
fn table_preds(cond: &Scalar, rel: &Relation, params: &[Value]) -> (Vec<Pred>, bool) {
    let Source::Table { schema, .. } = &rel.source else {
        return (Vec::new(), false);
    };
    let mut out = Vec::new();
    let mut every = true;
    let mut stack = vec![cond];
    while let Some(c) = stack.pop() {
        match c {
            Scalar::Binary(a, Op::And, b) => {
                stack.push(b);
                stack.push(a);
            }
            c => match pred_of(c, rel.at, schema, params) {
                Some(p) => out.push(p),
                None => every = false,
            },
        }
    }
    (out, every)
}

/// One predicate of [`table_preds`].
fn pred_of(c: &Scalar, at: usize, schema: &Schema, params: &[Value]) -> Option<Pred> {
    use std::ops::Bound::{Excluded, Included, Unbounded};
    let local = |s: &Scalar| match s {
        Scalar::Column(i) if *i >= at && *i - at < schema.columns.len() => Some(*i - at),
        _ => None,
    };
    let constant = |s: &Scalar| match s {
        Scalar::Literal(v) => Some(v.clone()),
        Scalar::Param(i) => params.get(*i).cloned(),
        _ => None,
    };
    // SQL compares a NaN as null, to nothing; the library's order puts NaN beyond the
    // infinities, so a float column's open end is bounded by the infinity instead.
    let open_end = |col: usize, infinity: f64| {
        if schema.columns[col].ty.is_float() {
            Included(Value::Float(infinity))
        } else {
            Unbounded
        }
    };
    let fits = |col: usize, v: Value| -> Option<Value> {
        let ty = schema.columns[col].ty;
        match v {
            Value::Int(i) => match ty.int_range() {
                Some((lo, hi)) if (lo..=hi).contains(&i) => Some(Value::Int(i)),
                None if ty.is_float() && i != 0 && i.unsigned_abs() <= 1 << 53 => {
                    Some(Value::Float(i as f64))
                }
                _ => None,
            },
            // Not zero: the scan's order tells -0.0 from 0.0, which SQL calls equal.
            Value::Float(f) if ty.is_float() && !f.is_nan() && f != 0.0 => Some(Value::Float(f)),
            Value::Text(t) if ty == ColumnType::Text => Some(Value::Text(t)),
            _ => None,
        }
    };
    match c {
        Scalar::Binary(a, op, b) => {
            let (col, v, op) = match (local(a), constant(b), local(b), constant(a)) {
                (Some(col), Some(v), _, _) => (col, v, *op),
                (_, _, Some(col), Some(v)) => (col, v, flipped(*op)?),
                _ => return None,
            };
            let v = fits(col, v)?;
            Some(match op {
                Op::Eq => Pred::Eq { col, value: v },
                Op::Lt => Pred::Range {
                    col,
                    lo: open_end(col, f64::NEG_INFINITY),
                    hi: Excluded(v),
                },
                Op::Le => Pred::Range {
                    col,
                    lo: open_end(col, f64::NEG_INFINITY),
                    hi: Included(v),
                },
                Op::Gt => Pred::Range {
                    col,
                    lo: Excluded(v),
                    hi: open_end(col, f64::INFINITY),
                },
                Op::Ge => Pred::Range {
                    col,
                    lo: Included(v),
                    hi: open_end(col, f64::INFINITY),
                },
                _ => return None,
            })
        }
        Scalar::Between(x, lo, hi, false) => {
            let col = local(x)?;
            let lo = fits(col, constant(lo)?)?;
            let hi = fits(col, constant(hi)?)?;
            Some(Pred::Range {
                col,
                lo: Included(lo),
                hi: Included(hi),
            })
        }
        _ => None,
    }
}

/// `a op b` as `b op' a`.
fn flipped(op: Op) -> Option<Op> {
    Some(match op {
        Op::Eq => Op::Eq,
        Op::Lt => Op::Gt,
        Op::Le => Op::Ge,
        Op::Gt => Op::Lt,
        Op::Ge => Op::Le,
        _ => return None,
    })
}

/// The rows of one relation, each of its `width` values (`used` marks the columns of the
/// FROM row the statement reads; the others stay null). A subquery's rows are shared, not
/// copied: a correlated subquery fetches them for every row it runs for.
fn fetch(target: Target<'_, '_>, rel: &Relation, used: &[bool]) -> Result<Arc<Vec<Vec<Value>>>> {
    match &rel.source {
        Source::Rows(rows) => Ok(Arc::clone(rows)),
        Source::Table { name, .. } => {
            let text = reads_text(rel, used);
            let used = &used[rel.at..rel.at + rel.width];
            let mut out = Vec::new();
            target.scan(name, &rel.preds, text, &mut |r| {
                let mut row = Vec::with_capacity(rel.width);
                extend_used(&mut row, r, used);
                out.push(row);
                Ok(true)
            })?;
            Ok(Arc::new(out))
        }
    }
}

/// Whether the statement reads a text column of stored relation `rel` (`used` as for
/// [`fetch`]).
fn reads_text(rel: &Relation, used: &[bool]) -> bool {
    let Source::Table { schema, .. } = &rel.source else {
        return false;
    };
    let used = used.get(rel.at..rel.at + rel.width).unwrap_or_default();
    any_text(schema, used)
}

/// Whether any of `schema`'s columns marked in `used` (one flag per column) is a text
/// column: whether a scan should fetch the rows' text ahead.
pub(crate) fn any_text(schema: &Schema, used: &[bool]) -> bool {
    (schema.columns.iter())
        .zip(used)
        .any(|(c, &u)| u && c.ty == ColumnType::Text)
}

/// Appends a stored row's values to `out`, one per column of `used`: the column's value where
/// the statement reads it, null where it does not (nothing copied for it).
fn extend_used(out: &mut Vec<Value>, row: &dyn Cols, used: &[bool]) {
    out.extend(used.iter().enumerate().map(|(i, &u)| {
        if u {
            row.value_at(i).to_owned()
        } else {
            Value::Null
        }
    }));
}

/// Every row of FROM, each the values of its relations one after the other, handed to
/// `sink` (which returns `false` once it needs no more). The first relation is read in
/// place (a stored table through its scan). Each later one is looked up through its
/// primary key when its condition equates the key with an earlier column; otherwise it is
/// fetched once and probed, through a hash of its rows when its condition equates one of
/// its columns with an earlier one, by trying each row otherwise. A joined row is the
/// relations' rows side by side, each read where it is ([`Joined`]), never copied.
/// `outer`: as for [`resolve_from`], for the correlated subqueries of ON conditions.
fn produce(
    target: Target<'_, '_>,
    rels: &[Relation],
    used: &[bool],
    params: &[Value],
    outer: Option<(&dyn Scope, &[Value])>,
    sink: &mut dyn FnMut(&dyn Cols) -> Result<bool>,
) -> Result<()> {
    let Some((first, rest)) = rels.split_first() else {
        sink(&Vec::new())?;
        return Ok(());
    };
    if rest.is_empty() {
        if let Source::Table { name, .. } = &first.source {
            return target.scan(name, &first.preds, reads_text(first, used), sink);
        }
    }
    let probes = rest
        .iter()
        .map(|rel| Probe::new(target, rel, used, outer))
        .collect::<Result<Vec<_>>>()?;
    let mut next = |row: &dyn Cols| {
        let joined = Joined {
            row,
            at: 0,
            width: first.width,
            before: None,
        };
        emit(target, &probes, 0, &joined, params, sink)
    };
    match &first.source {
        Source::Table { name, .. } => {
            target.scan(name, &first.preds, reads_text(first, used), &mut next)?;
        }
        Source::Rows(rows) => {
            for r in rows.iter() {
                if !next(r)? {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// A row of FROM so far: the row of the relation at columns `at..at + width`, after the
/// rows of the relations before it. Each is read in place.
struct Joined<'a> {
    row: &'a dyn Cols,
    at: usize,
    width: usize,
    before: Option<&'a Joined<'a>>,
}

impl<'a> Joined<'a> {
    /// `row`, of relation `rel`, after `before`.
    fn after(before: &'a Joined<'a>, row: &'a dyn Cols, rel: &Relation) -> Joined<'a> {
        Joined {
            row,
            at: rel.at,
            width: rel.width,
            before: Some(before),
        }
    }
}

impl Cols for Joined<'_> {
    fn value_at(&self, col: usize) -> ValueRef<'_> {
        let mut j = self;
        loop {
            if col >= j.at {
                return match col - j.at {
                    c if c < j.width => j.row.value_at(c),
                    _ => ValueRef::Null,
                };
            }
            match j.before {
                Some(b) => j = b,
                None => return ValueRef::Null,
            }
        }
    }
}

/// The row of a LEFT JOIN's optional side where it has no partner.
struct Nulls;

impl Cols for Nulls {
    fn value_at(&self, _: usize) -> ValueRef<'_> {
        ValueRef::Null
    }
}

/// A relation joined to the ones before it: its rows, a hash of them by the column its
/// condition equates with an earlier one (`(earlier column, hash)`), if it does, and the
/// correlated subqueries of its condition with the names they see, if it has any.
struct Probe<'r> {
    rel: &'r Relation,
    rows: Arc<Vec<Vec<Value>>>,
    hash: Option<(usize, HashMap<GroupKey, Vec<usize>>)>,
    correlated: Option<(&'r [CorrelatedCall], QueryScope<'r>)>,
    /// Joined through its primary key instead (see [`key_join`]): the table and the
    /// earlier column equated with its key. No rows are fetched then.
    keyed: Option<KeyJoin<'r>>,
    /// The whole row's width (every relation of FROM).
    width: usize,
}

/// A relation joined by looking each row up through its primary key.
struct KeyJoin<'r> {
    name: &'r str,
    /// The table, resolved once when the statement reads a pinned version.
    pinned: Option<Pinned>,
    key_is_int: bool,
    earlier: usize,
    /// `ON` is the key's equality alone, which the lookup itself decides: it is not
    /// evaluated again on the row found.
    on_is_key: bool,
}

/// Whether `rel` joins through its primary key: a stored table whose `ON` equates its key
/// column with an earlier column (and runs no subquery per pair). Each row before it then
/// finds its one partner through the key's index (one read of the slab for a dense integer
/// key), where a hash join would copy and hash the whole table first. Returns the earlier
/// column and the table's name.
fn key_join(rel: &Relation) -> Option<(usize, &str, bool)> {
    let Source::Table { name, schema } = &rel.source else {
        return None;
    };
    let Link::On {
        cond: Some(cond),
        correlated: None,
        ..
    } = &rel.link
    else {
        return None;
    };
    let (earlier, at) = equi_pair(cond, rel.at, rel.at + rel.width)?;
    let key = schema.primary_key();
    (at - rel.at == key).then(|| (earlier, name.as_str(), schema.columns[key].ty.is_int()))
}

impl<'r> Probe<'r> {
    fn new(
        target: Target<'_, '_>,
        rel: &'r Relation,
        used: &[bool],
        outer: Option<(&'r dyn Scope, &'r [Value])>,
    ) -> Result<Self> {
        let width = used.len();
        if let Some((earlier, name, key_is_int)) = key_join(rel) {
            // `key_join` found the key's equality in ON's AND chain; when ON is no chain it
            // is that equality. Whatever value the lookup turns into a key (an integer, an
            // integral float, a boolean, text) equals, under SQL's `=`, the key it finds.
            let on_is_key = matches!(
                &rel.link,
                Link::On {
                    cond: Some(Scalar::Binary(_, Op::Eq, _)),
                    ..
                }
            );
            return Ok(Probe {
                rel,
                rows: Arc::default(),
                hash: None,
                correlated: None,
                keyed: Some(KeyJoin {
                    name,
                    pinned: target.pinned(name)?,
                    key_is_int,
                    earlier,
                    on_is_key,
                }),
                width,
            });
        }
        let rows = fetch(target, rel, used)?;
        let correlated = match &rel.link {
            Link::On {
                correlated: Some(sub),
                ..
            } => Some((
                sub.calls.as_slice(),
                QueryScope {
                    tables: &sub.tables,
                    outer,
                },
            )),
            _ => None,
        };
        let hash = match &rel.link {
            Link::On { cond: Some(c), .. } => {
                equi_pair(c, rel.at, rel.at + rel.width).map(|(l, r)| {
                    let mut m: HashMap<GroupKey, Vec<usize>> = HashMap::new();
                    for (i, row) in rows.iter().enumerate() {
                        let v = &row[r - rel.at];
                        // A null matches nothing.
                        if !v.is_null() {
                            m.entry(GroupKey::of(v)).or_default().push(i);
                        }
                    }
                    (l, m)
                })
            }
            _ => None,
        };
        Ok(Probe {
            rel,
            rows,
            hash,
            correlated,
            keyed: None,
            width,
        })
    }

    /// Whether the row `row` (this relation's after the earlier ones') passes the
    /// relation's condition.
    fn passes(
        &self,
        target: Target<'_, '_>,
        cond: Option<&Scalar>,
        row: &Joined<'_>,
        params: &[Value],
    ) -> Result<bool> {
        let Some(c) = cond else { return Ok(true) };
        match self.correlated {
            None => c.holds(row, params),
            // The subqueries run for this pair only: the hash picked it already.
            Some((calls, ref scope)) => {
                let values = row.owned_values(self.width);
                let row = extended(target, calls, scope, values, params)?;
                Ok(truth(&c.eval_cols(&row, params)?) == Some(true))
            }
        }
    }
}

/// Joins the row `so_far` (the relations before `probes[level]`) with the rest, handing
/// each whole row to `sink`; `false` once it needs no more.
fn emit(
    target: Target<'_, '_>,
    probes: &[Probe<'_>],
    level: usize,
    so_far: &Joined<'_>,
    params: &[Value],
    sink: &mut dyn FnMut(&dyn Cols) -> Result<bool>,
) -> Result<bool> {
    let Some(probe) = probes.get(level) else {
        return sink(so_far);
    };
    let rel = probe.rel;
    let (cond, left) = match &rel.link {
        Link::On { cond, left, .. } => (cond.as_ref(), *left),
        Link::Cross => (None, false),
    };
    if let Some(k) = &probe.keyed {
        // It holds no rows: the partner is looked up, or a left join's nulls follow.
        let (found, more) = join_by_key(target, probes, level, k, cond, so_far, params, sink)?;
        if !more {
            return Ok(false);
        }
        if left && !found {
            let row = Joined::after(so_far, &Nulls, rel);
            return emit(target, probes, level + 1, &row, params, sink);
        }
        return Ok(true);
    }
    let mut matched = false;
    let candidates: &[usize] = match &probe.hash {
        Some((l, m)) => match so_far.value_at(*l) {
            ValueRef::Null => &[],
            v => m.get(&GroupKey::of_ref(v)).map_or(&[], Vec::as_slice),
        },
        None => &[],
    };
    let mut one = |i: usize| -> Result<Option<bool>> {
        let row = Joined::after(so_far, &probe.rows[i], rel);
        if !probe.passes(target, cond, &row, params)? {
            return Ok(None);
        }
        Ok(Some(emit(target, probes, level + 1, &row, params, sink)?))
    };
    let all = 0..if probe.hash.is_some() {
        0
    } else {
        probe.rows.len()
    };
    for i in candidates.iter().copied().chain(all) {
        match one(i)? {
            Some(false) => return Ok(false),
            Some(true) => matched = true,
            None => {}
        }
    }
    if left && !matched {
        let row = Joined::after(so_far, &Nulls, rel);
        if !emit(target, probes, level + 1, &row, params, sink)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The partner of the row `so_far` in a relation joined through its primary key (the rest
/// of [`emit`]'s work, a left join's nulls included, stays there): the earlier column's
/// value, made the key's kind as SQL's `=` compares them (an integral float or a boolean is
/// an integer; a value of another kind equals no key), finds at most one row, which must
/// pass the relation's pushed predicates and the whole `ON` condition (not evaluated again
/// when it is the key's equality alone, which the lookup decided). Returns whether one
/// matched, and `false` second once `sink` needs no more.
#[allow(clippy::too_many_arguments)]
fn join_by_key(
    target: Target<'_, '_>,
    probes: &[Probe<'_>],
    level: usize,
    k: &KeyJoin<'_>,
    cond: Option<&Scalar>,
    so_far: &Joined<'_>,
    params: &[Value],
    sink: &mut dyn FnMut(&dyn Cols) -> Result<bool>,
) -> Result<(bool, bool)> {
    let probe = &probes[level];
    let rel = probe.rel;
    // The key, as an integer or a text: built as a `ValueRef` only where it is handed
    // over (one copied whole after being written a field at a time stalls the processor
    // on every row).
    let (int, text) = match (so_far.value_at(k.earlier), k.key_is_int) {
        (ValueRef::Int(i), true) => (Some(i), None),
        (ValueRef::Bool(b), true) => (Some(i64::from(b)), None),
        (ValueRef::Float(f), true) if f.fract() == 0.0 && (-TWO_63..TWO_63).contains(&f) => {
            (Some(f as i64), None)
        }
        (ValueRef::Text(t), false) => (None, Some(t)),
        _ => (None, None),
    };
    let (mut matched, mut more) = (false, true);
    if int.is_some() || text.is_some() {
        let mut lookup = |t: &dyn AnyTable| {
            let key = match (int, text) {
                (Some(i), _) => ValueRef::Int(i),
                (None, Some(t)) => ValueRef::Text(t),
                (None, None) => ValueRef::Null,
            };
            t.unique_cols(t.schema().primary_key(), key, &mut |found| {
                if !rel.preds.iter().all(|p| p.matches(found.value_at(p.col()))) {
                    return Ok(());
                }
                let row = Joined::after(so_far, found, rel);
                let cond = cond.filter(|_| !k.on_is_key);
                if !probe.passes(target, cond, &row, params)? {
                    return Ok(());
                }
                matched = true;
                more = emit(target, probes, level + 1, &row, params, sink)?;
                Ok(())
            })
        };
        match &k.pinned {
            Some(p) => lookup(p.table()?)?,
            None => target.with_table(k.name, lookup)?,
        };
    }
    Ok((matched, more))
}

fn other_name(op: &JoinOperator) -> &'static str {
    match op {
        JoinOperator::Right(_) | JoinOperator::RightOuter(_) => "RIGHT JOIN",
        JoinOperator::FullOuter(_) => "FULL JOIN",
        _ => "this join",
    }
}

/// Hands WHERE's predicates on each table's columns to its scan, and joins a table of
/// `FROM a, b` (a cross join) through WHERE's equality between its columns and earlier
/// ones. Whether the relations' reads apply all of WHERE (every part of its AND chain
/// became a predicate of a table read through them): WHERE need not run again then.
fn push_where(filter: &Scalar, rels: &mut [Relation], params: &[Value]) -> bool {
    for rel in rels.iter_mut() {
        let (more, _) = table_preds(filter, rel, params);
        rel.preds.extend(more);
        if rel.at > 0 && matches!(rel.link, Link::Cross) {
            if let Some(eq) = equality_with_earlier(filter, rel.at, rel.at + rel.width) {
                rel.link = Link::On {
                    cond: Some(eq),
                    left: false,
                    correlated: None,
                };
            }
        }
    }
    // Each relation's rows are read through its predicates (its scan, its key lookups,
    // or the rows fetched for its probes). A LEFT JOIN's optional side still gets null
    // rows where its predicates find no partner, which only WHERE itself leaves out.
    let mut conjuncts = vec![filter];
    let mut served = true;
    while let Some(c) = conjuncts.pop() {
        match c {
            Scalar::Binary(a, Op::And, b) => conjuncts.extend([b.as_ref(), a.as_ref()]),
            c => {
                served &= rels.iter().any(|rel| match (&rel.source, &rel.link) {
                    (_, Link::On { left: true, .. }) => false,
                    (Source::Table { schema, .. }, _) => {
                        pred_of(c, rel.at, schema, params).is_some()
                    }
                    (Source::Rows(_), _) => false,
                })
            }
        }
    }
    served
}

/// An equality in `cond`'s AND chain between a column before `lo` and one in `lo..hi`.
fn equality_with_earlier(cond: &Scalar, lo: usize, hi: usize) -> Option<Scalar> {
    match cond {
        Scalar::Binary(a, Op::And, b) => {
            equality_with_earlier(a, lo, hi).or_else(|| equality_with_earlier(b, lo, hi))
        }
        Scalar::Binary(a, Op::Eq, b) => match (a.as_ref(), b.as_ref()) {
            (Scalar::Column(x), Scalar::Column(y)) | (Scalar::Column(y), Scalar::Column(x))
                if *x < lo && (lo..hi).contains(y) =>
            {
                Some(cond.clone())
            }
            _ => None,
        },
        _ => None,
    }
}

/// 2^63: the floats of integral value inside it are the ones an `i64` holds.
const TWO_63: f64 = 9_223_372_036_854_775_808.0;

/// A join key that equal values (an integer and the same float) share; `None` for null.
pub(crate) fn join_key(v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => return None,
        Value::Int(i) => format!("n{i}"),
        Value::Float(f) if f.fract() == 0.0 && (-TWO_63..TWO_63).contains(f) => {
            format!("n{}", *f as i64)
        }
        Value::Float(f) => format!("f{f:?}"),
        Value::Bool(b) => format!("n{}", i64::from(*b)),
        Value::Text(t) => format!("t{t}"),
    })
}

/// `(left column, right column)` of an equality between a column before `lo` and one in
/// `lo..hi` (the joined relation's: not a correlated subquery's value, which is a column
/// beyond the row) at the top of `c` or of its AND chain.
fn equi_pair(c: &Scalar, lo: usize, hi: usize) -> Option<(usize, usize)> {
    use crate::sql::scalar::Op;
    match c {
        Scalar::Binary(a, Op::Eq, b) => match (a.as_ref(), b.as_ref()) {
            (Scalar::Column(x), Scalar::Column(y)) | (Scalar::Column(y), Scalar::Column(x))
                if *x < lo && (lo..hi).contains(y) =>
            {
                Some((*x, *y))
            }
            _ => None,
        },
        Scalar::Binary(a, Op::And, b) => equi_pair(a, lo, hi).or_else(|| equi_pair(b, lo, hi)),
        _ => None,
    }
}

/// `Err` for the clauses of other dialects that a query (a `SELECT`, or a set operation)
/// may carry after its body, refused rather than ignored.
pub(crate) fn refuse_query_clauses(q: &Query) -> Result<()> {
    let clause = if q.fetch.is_some() {
        "FETCH"
    } else if !q.locks.is_empty() || q.for_clause.is_some() {
        "FOR UPDATE and FOR clauses"
    } else if q.settings.is_some() || q.format_clause.is_some() || !q.pipe_operators.is_empty() {
        "SETTINGS, FORMAT and pipe operators"
    } else if matches!(&q.limit_clause, Some(LimitClause::LimitOffset { limit_by, .. }) if !limit_by.is_empty())
    {
        "LIMIT … BY"
    } else {
        return Ok(());
    };
    Err(unsupported(clause))
}

/// Refuses the clauses of other dialects that sqlparser reads and tabula does not run, so
/// that none is silently ignored.
pub(crate) fn refuse_other_clauses(q: &Query, sel: &Select) -> Result<()> {
    refuse_query_clauses(q)?;
    let clause = if matches!(sel.distinct, Some(Distinct::On(_))) {
        "DISTINCT ON"
    } else if sel.top.is_some() || sel.select_modifiers.is_some() {
        "TOP and select modifiers"
    } else if sel.exclude.is_some() {
        "EXCLUDE"
    } else if sel.into.is_some() {
        "SELECT … INTO"
    } else if !sel.lateral_views.is_empty() || sel.prewhere.is_some() || !sel.connect_by.is_empty()
    {
        "LATERAL VIEW, PREWHERE and CONNECT BY"
    } else if !sel.cluster_by.is_empty() || !sel.distribute_by.is_empty() || !sel.sort_by.is_empty()
    {
        "CLUSTER BY, DISTRIBUTE BY and SORT BY"
    } else if !sel.named_window.is_empty() {
        "WINDOW"
    } else if sel.qualify.is_some() {
        "QUALIFY"
    } else if sel.value_table_mode.is_some() {
        "SELECT AS VALUE / STRUCT"
    } else {
        let wild = sel.projection.iter().any(|i| match i {
            SelectItem::Wildcard(o) | SelectItem::QualifiedWildcard(_, o) => {
                o.opt_ilike.is_some()
                    || o.opt_exclude.is_some()
                    || o.opt_except.is_some()
                    || o.opt_replace.is_some()
                    || o.opt_rename.is_some()
                    || o.opt_alias.is_some()
            }
            _ => false,
        });
        if !wild {
            return Ok(());
        }
        "* EXCLUDE, EXCEPT, REPLACE, RENAME and ILIKE"
    };
    Err(unsupported(clause))
}

/// The tables of FROM, with the items' aliases standing for their expressions where a
/// name is not a column (SQLite lets WHERE, HAVING and ORDER BY name them).
struct WithAliases<'a> {
    tables: &'a dyn Scope,
    items: &'a [SelectItem],
}

impl Scope for WithAliases<'_> {
    fn resolve(&self, qualifier: Option<&str>, name: &str) -> std::result::Result<usize, String> {
        self.tables.resolve(qualifier, name)
    }

    fn outer(&self, qualifier: Option<&str>, name: &str) -> Option<Value> {
        self.tables.outer(qualifier, name)
    }

    fn cte(&self, name: &str) -> Result<Option<&CteRows>> {
        self.tables.cte(name)
    }

    fn alias(&self, name: &str) -> Option<(&Expr, &dyn Scope)> {
        self.items.iter().find_map(|i| match i {
            SelectItem::ExprWithAlias { expr, alias } if alias.value == name => {
                Some((expr, self.tables))
            }
            _ => None,
        })
    }
}

/// The names a query's expressions see: its own tables' columns and, when it is a
/// subquery run for one row of the query around it (`outer`), a name its tables do not
/// have is a column of that row (or of the query around that one).
struct QueryScope<'a> {
    tables: &'a Tables,
    outer: Option<(&'a dyn Scope, &'a [Value])>,
}

impl Scope for QueryScope<'_> {
    fn resolve(&self, qualifier: Option<&str>, name: &str) -> std::result::Result<usize, String> {
        self.tables.resolve(qualifier, name)
    }

    fn outer(&self, qualifier: Option<&str>, name: &str) -> Option<Value> {
        outer_value(self.outer, qualifier, name)
    }

    fn cte(&self, name: &str) -> Result<Option<&CteRows>> {
        match self.outer {
            Some((outer, _)) => outer.cte(name),
            None => Ok(None),
        }
    }
}

/// The value of column `name` of the query around a scope (`outer`: that query's names and
/// the row the scope's query runs for), or of one around that.
pub(crate) fn outer_value(
    outer: Option<(&dyn Scope, &[Value])>,
    qualifier: Option<&str>,
    name: &str,
) -> Option<Value> {
    let (outer, row) = outer?;
    match outer.resolve(qualifier, name) {
        Ok(i) => row.get(i).cloned(),
        Err(_) => outer.outer(qualifier, name),
    }
}

/// The names of the queries around a scope, but none of its own: what a subquery run once
/// (not per row) may name beyond its own tables.
struct Beyond<'a>(&'a dyn Scope);

impl Beyond<'_> {
    /// The rows of `sq`, a subquery run once (not per row) inside the query this is
    /// beyond, for [`Params::with_subqueries`].
    fn rows_of(
        &self,
        target: Target<'_, '_>,
        sq: &Query,
        params: &[Value],
    ) -> Result<Vec<Vec<Value>>> {
        select_each(target, sq, params, Some((self, &[][..])), None).map(|r| r.rows)
    }
}

impl Scope for Beyond<'_> {
    fn resolve(&self, _: Option<&str>, name: &str) -> std::result::Result<usize, String> {
        Err(format!("no column {name} here"))
    }

    fn outer(&self, qualifier: Option<&str>, name: &str) -> Option<Value> {
        self.0.outer(qualifier, name)
    }

    fn cte(&self, name: &str) -> Result<Option<&CteRows>> {
        self.0.cte(name)
    }
}

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
fn extended(
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
enum Phase {
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
struct Correlated<'a, 't, 'db> {
    target: Target<'t, 'db>,
    calls: &'a [CorrelatedCall],
    phases: Vec<Phase>,
    /// The names of the query's row (and of the queries around it).
    scope: &'a dyn Scope,
    params: &'a [Value],
}

impl Correlated<'_, '_, '_> {
    /// Whether any subquery runs in `phase`.
    fn any(&self, phase: Phase) -> bool {
        self.phases.contains(&phase)
    }

    /// `row`, with room after it for its subqueries' values: null until their phase runs
    /// (an expression reads only the values of its own phase and the ones before it).
    fn start(&self, row: Vec<Value>) -> WithSubqueries {
        WithSubqueries {
            row,
            extra: vec![Value::Null; self.calls.len()],
        }
    }

    /// Runs the subqueries of `phase` for `row`, keeping their values in it.
    fn run(&self, phase: Phase, row: &mut WithSubqueries) -> Result<()> {
        for (i, call) in self.calls.iter().enumerate() {
            if self.phases[i] == phase {
                let v = correlated_value(self.target, call, self.scope, row, self.params)?;
                row.extra[i] = v;
            }
        }
        Ok(())
    }
}

/// An ORDER BY key's direction (`ASC`/`DESC`, `NULLS FIRST`/`LAST`); `USING` is refused.
pub(crate) fn direction(o: &OrderByExpr) -> Result<Direction> {
    if matches!(o.options.sort, Some(OrderBySort::Using(_))) {
        return Err(unsupported("ORDER BY … USING"));
    }
    Ok(Direction {
        desc: matches!(o.options.sort, Some(OrderBySort::Desc)),
        nulls_first: o.options.nulls_first,
    })
}

/// `e` without the parentheses around it, which change nothing (SQLite keeps no node for
/// them).
pub(crate) fn unnested(mut e: &Expr) -> &Expr {
    while let Expr::Nested(inner) = e {
        e = inner;
    }
    e
}

/// The result column (from 0) that ORDER BY position `pos` (from 1) names among `n`, or the
/// error placed at `e`.
pub(crate) fn result_position(pos: i64, n: usize, e: &Expr) -> Result<usize> {
    usize::try_from(pos)
        .ok()
        .and_then(|p| p.checked_sub(1))
        .filter(|&i| i < n)
        .ok_or_else(|| {
            sql_error(
                e.span(),
                format!("ORDER BY position {pos} is not a column of the result"),
            )
        })
}

/// An ORDER BY key: an expression over the (group) row, and how it sorts. A key naming
/// an output column (by alias or position) is that column's expression.
type Key = (Scalar, Direction);

/// How an ORDER BY key sorts: descending or not, and where nulls go when `NULLS FIRST` or
/// `NULLS LAST` says (otherwise first ascending and last descending, as in SQLite).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Direction {
    pub(crate) desc: bool,
    pub(crate) nulls_first: Option<bool>,
}

/// A callback taking a query's result rows one at a time; `false` stops the query.
pub(crate) type Each<'f> = &'f mut dyn FnMut(&[Value]) -> Result<bool>;

/// [`Each`] taking each row borrowed (see `Statement::each_ref`).
pub(crate) type EachRef<'f> = &'f mut dyn FnMut(&[ValueRef<'_>]) -> Result<bool>;

/// Where a statement's result rows go.
pub(crate) enum RowsTo<'f> {
    /// Into the result returned.
    Collect,
    /// To a callback, one at a time.
    Values(Each<'f>),
    /// To a callback, one at a time and borrowed: a point lookup then copies nothing.
    Refs(EachRef<'f>),
}

impl RowsTo<'_> {
    /// The same sink, for a call that may not use it up.
    pub(crate) fn reborrow(&mut self) -> RowsTo<'_> {
        match self {
            RowsTo::Collect => RowsTo::Collect,
            RowsTo::Values(f) => RowsTo::Values(&mut **f),
            RowsTo::Refs(f) => RowsTo::Refs(&mut **f),
        }
    }
}

/// The longest row [`hand_refs`] borrows on the stack rather than in a vector.
const REFS_ON_STACK: usize = 16;

/// Hands a row to `each` borrowed: `fill` writes its `len` values' references into the
/// slice it is given, on the stack when the row is short.
pub(crate) fn hand_refs<'v>(
    each: EachRef<'_>,
    len: usize,
    fill: impl FnOnce(&mut [ValueRef<'v>]),
) -> Result<bool> {
    if len <= REFS_ON_STACK {
        let mut refs = [ValueRef::Null; REFS_ON_STACK];
        let refs = &mut refs[..len];
        fill(refs);
        each(refs)
    } else {
        let mut refs = vec![ValueRef::Null; len];
        fill(&mut refs);
        each(&refs)
    }
}

/// Hands `row`, values a query made, to `each` borrowed.
pub(crate) fn lend(each: EachRef<'_>, row: &[Value]) -> Result<bool> {
    hand_refs(each, row.len(), |refs| {
        for (slot, v) in refs.iter_mut().zip(row) {
            *slot = v.as_ref();
        }
    })
}

pub(crate) fn select(target: Target<'_, '_>, q: &Query, params: &[Value]) -> Result<SqlResult> {
    select_each(target, q, params, None, None)
}

/// [`select`], handing the result rows to `each` instead of collecting them when it is
/// given: as they are found when nothing needs all of them first (no grouping, `DISTINCT`
/// or `ORDER BY`), after the sort or grouping otherwise. The result then has no rows.
pub(crate) fn select_each(
    target: Target<'_, '_>,
    q: &Query,
    params: &[Value],
    outer: Option<(&dyn Scope, &[Value])>,
    each: Option<Each<'_>>,
) -> Result<SqlResult> {
    query(target, q, params, outer, each, None)
}

/// What binding a query tells [`explain`] of how it would run, decided as running it decides.
#[derive(Debug, Default)]
pub(crate) struct Bound {
    /// Whether the rows are aggregated (GROUP BY, an aggregate or HAVING).
    grouped: bool,
    /// ORDER BY … LIMIT kept by a heap of the best rows.
    heap_top: bool,
    /// ORDER BY … LIMIT handed to the table's own read: the keys (column, descending) and
    /// how many rows it keeps.
    own_top: Option<(Vec<(usize, bool)>, usize)>,
}

/// The error for a query whose body is neither a `SELECT` nor made of them, naming what it
/// is.
pub(crate) fn unsupported_body(body: &SetExpr) -> Error {
    unsupported(match body {
        SetExpr::Values(_) => "VALUES as a query (INSERT takes it; a query is a SELECT)",
        SetExpr::Table(_) => "TABLE as a query (use SELECT * FROM)",
        SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => {
            "WITH before INSERT, UPDATE or DELETE (INSERT INTO t WITH … SELECT … runs)"
        }
        _ => "this form of query",
    })
}

/// [`select_each`]; with `bind_only`, returns once every clause is bound, having said there
/// how the query would run.
pub(crate) fn query(
    target: Target<'_, '_>,
    q: &Query,
    params: &[Value],
    outer: Option<(&dyn Scope, &[Value])>,
    each: Option<Each<'_>>,
    bind_only: Option<&mut Bound>,
) -> Result<SqlResult> {
    // A query runs inside another (a subquery, a common table expression naming the one
    // before it) as deep as the text nests them.
    crate::stack::room(|| match &q.with {
        Some(with) => compound::with_ctes(target, q, with, params, outer, each, bind_only),
        None => query_body(target, q, params, outer, each, bind_only),
    })
}

/// [`query`] without its `WITH`: what `outer` has already (see [`compound::with_ctes`]).
pub(crate) fn query_body(
    target: Target<'_, '_>,
    q: &Query,
    params: &[Value],
    outer: Option<(&dyn Scope, &[Value])>,
    mut each: Option<Each<'_>>,
    bind_only: Option<&mut Bound>,
) -> Result<SqlResult> {
    let sel = match q.body.as_ref() {
        SetExpr::Select(sel) => sel,
        SetExpr::SetOperation { .. } | SetExpr::Query(_) => {
            return compound::set_query(target, q, params, outer, each, bind_only)
        }
        body => return Err(unsupported_body(body)),
    };
    refuse_other_clauses(q, sel)?;
    if sel.projection.is_empty() {
        // SQLite calls it a syntax error; a result of no columns would read as a write's.
        return Err(sql_error(
            sel.select_token.0.span,
            "SELECT needs at least one item (a column, an expression or *)",
        ));
    }
    if sel.from.is_empty() {
        if let Some(item @ (SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..))) =
            sel.projection.iter().find(|i| {
                matches!(
                    i,
                    SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
                )
            })
        {
            return Err(sql_error(item.span(), "SELECT * needs a FROM clause"));
        }
    }
    let (mut rels, tables) = resolve_from(target, &sel.from, params, outer)?;
    let scope = QueryScope {
        tables: &tables,
        outer,
    };
    let scope: &dyn Scope = &scope;
    // A subquery run once here still sees the values of the queries around this one.
    let beyond = Beyond(scope);
    let run = |sq: &Query| beyond.rows_of(target, sq, params);
    let mut p = Params::with_subqueries(&run);
    let aliased = WithAliases {
        tables: scope,
        items: &sel.projection,
    };
    // Correlated subqueries run in every clause; which rows each runs for (its phase) is
    // known once compiling shows whether the query groups. They are counted as they come.
    p.correlated = Some(Vec::new());
    let met = |p: &Params<'_>| p.correlated.as_ref().map_or(0, Vec::len);
    let filter = sel
        .selection
        .as_ref()
        .map(|w| scalar::compile(w, &aliased, &mut p))
        .transpose()?;
    let in_where = met(&p);
    let group_by: Vec<Scalar> = match &sel.group_by {
        GroupByExpr::Expressions(list, mods) if mods.is_empty() => list
            .iter()
            .map(|e| match group_item(e, &sel.projection, &tables)? {
                Grouped::Expr(e) => scalar::compile(e, scope, &mut p),
                Grouped::Column(c) => Ok(Scalar::Column(c)),
            })
            .collect::<Result<_>>()?,
        _ => return Err(unsupported("GROUP BY ALL and grouping modifiers")),
    };
    let in_group_by = met(&p);
    // Items, HAVING and ORDER BY may aggregate: their calls become columns after the row.
    p.aggs = Some(Vec::new());
    p.agg_base = tables.width;
    let mut columns = Vec::new();
    let mut exprs = Vec::new();
    for item in &sel.projection {
        match item {
            SelectItem::Wildcard(_) => {
                for (_, names, at) in &tables.tables {
                    for (i, n) in names.iter().enumerate() {
                        columns.push(n.clone());
                        exprs.push(Scalar::Column(at + i));
                    }
                }
            }
            SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::ObjectName(q), _) => {
                let q = star_qualifier(q);
                let Some((_, names, at)) = tables.tables.iter().find(|(t, _, _)| *t == q) else {
                    return Err(sql_error(
                        item.span(),
                        format!("no table named {q} in FROM"),
                    ));
                };
                for (i, n) in names.iter().enumerate() {
                    columns.push(n.clone());
                    exprs.push(Scalar::Column(at + i));
                }
            }
            SelectItem::UnnamedExpr(e) => {
                // Compiled first: it refuses a tree too deep to print.
                exprs.push(scalar::compile(e, scope, &mut p)?);
                columns.push(match e {
                    Expr::Identifier(id) => id.value.clone(),
                    Expr::CompoundIdentifier(parts) => {
                        parts.last().map(|p| p.value.clone()).unwrap_or_default()
                    }
                    e => e.to_string(),
                });
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                columns.push(alias.value.clone());
                exprs.push(scalar::compile(expr, scope, &mut p)?);
            }
            other => return Err(unsupported(format!("the select item {other}"))),
        }
    }
    let before_having = met(&p);
    let having = sel
        .having
        .as_ref()
        .map(|h| scalar::compile(h, &aliased, &mut p))
        .transpose()?;
    let in_having = before_having..met(&p);
    let mut order: Vec<Key> = Vec::new();
    if let Some(ob) = &q.order_by {
        let OrderByKind::Expressions(list) = &ob.kind else {
            return Err(unsupported("ORDER BY ALL"));
        };
        for o in list {
            let desc = direction(o)?;
            // `ORDER BY (a)` names an alias `a` as `ORDER BY a` does.
            let named = unnested(&o.expr);
            let key = match (named, position(&o.expr)) {
                (_, Some(pos)) => exprs[result_position(pos, exprs.len(), &o.expr)?].clone(),
                // An output alias wins over a column of the same name, as in SQLite.
                (Expr::Identifier(id), _) if columns.contains(&id.value) => {
                    exprs[columns.iter().position(|c| *c == id.value).unwrap_or(0)].clone()
                }
                (e, _) => scalar::compile(e, &aliased, &mut p)?,
            };
            order.push((key, desc));
        }
    }
    let aggs = p.aggs.take().unwrap_or_default();
    let calls = p.correlated.take().unwrap_or_default();
    let (limit, offset) = window(q, params)?;
    let grouped = !group_by.is_empty() || !aggs.is_empty() || having.is_some();
    // ORDER BY … LIMIT keeps only the best rows: the table's own read keeps them when it
    // can (`library_order`), else a heap in the sink.
    let heap_top = sel.distinct.is_none() && limit.is_some() && !order.is_empty() && !grouped;
    let plain = calls.is_empty() && !grouped && sel.distinct.is_none();
    if let Some(b) = bind_only {
        *b = Bound {
            grouped,
            heap_top,
            own_top: library_order(&rels, &order, filter.is_some(), plain)
                .zip(limit)
                .map(|((_, keys), l)| (keys, l.saturating_add(offset))),
        };
        return Ok(SqlResult {
            columns,
            ..SqlResult::default()
        });
    }
    let phases = calls
        .iter()
        .enumerate()
        .map(|(i, call)| match i {
            _ if i < in_where => Phase::Where,
            _ if i < in_group_by || call.in_aggregate || !grouped => Phase::Row,
            _ if in_having.contains(&i) => Phase::Having,
            _ => Phase::Group,
        })
        .collect();
    let correlated = (!calls.is_empty()).then(|| Correlated {
        target,
        calls: &calls,
        phases,
        scope,
        params,
    });

    // WHERE's predicates on one table's columns narrow that table's scan (through an index
    // when one serves them); the whole condition is still evaluated on every row, unless
    // the tables' reads apply all of it. A table of `FROM a, b` joins
    // through WHERE's equality between its columns and earlier ones.
    let served = filter
        .as_ref()
        .is_some_and(|f| push_where(f, &mut rels, params));
    let had_filter = filter.is_some();
    // The tables' reads apply all of WHERE exactly: it need not run again on the rows.
    let filter = filter.filter(|_| !served);
    // Planned: numeric parts may now run as numbers (the planner read their shapes above).
    let numbers: Vec<bool> = rels
        .iter()
        .flat_map(|rel| -> Box<dyn Iterator<Item = bool> + '_> {
            match &rel.source {
                Source::Table { schema, .. } => Box::new(numeric::number_columns(schema)),
                Source::Rows(_) => Box::new(std::iter::repeat_n(false, rel.width)),
            }
        })
        .collect();
    let filter = filter
        .as_ref()
        .map(|f| numeric::prepared(f, &numbers, params));
    let mut used = vec![false; tables.width];
    let scalars = filter.iter().chain(&group_by).chain(&exprs).chain(&having);
    let keys = order.iter().map(|(k, _)| k);
    let args = aggs
        .iter()
        .flat_map(|a| a.arg.iter().chain(&a.sep).chain(&a.filter));
    let ons = rels.iter().filter_map(|r| match &r.link {
        Link::On { cond, .. } => cond.as_ref(),
        Link::Cross => None,
    });
    for s in scalars.chain(keys).chain(args).chain(ons) {
        s.mark_columns(&mut used);
    }
    let on_correlated = rels.iter().any(|r| {
        matches!(
            r.link,
            Link::On {
                correlated: Some(_),
                ..
            }
        )
    });
    if correlated.is_some() || on_correlated {
        // A correlated subquery may name any column of the row.
        used.iter_mut().for_each(|u| *u = true);
    }

    if let Some(f) = each
        .as_mut()
        .filter(|_| !grouped && order.is_empty() && sel.distinct.is_none() && correlated.is_none())
    {
        // Streamed: each row goes out as it is found, the window counted on the way.
        let (mut skip, mut left) = (offset, limit.unwrap_or(usize::MAX));
        // Every column of one table, in its order (`SELECT *`): a row that holds its
        // values as they are goes out without a copy.
        let whole_rows = rels.len() == 1
            && exprs.len() == tables.width
            && exprs
                .iter()
                .enumerate()
                .all(|(i, e)| matches!(e, Scalar::Column(c) if *c == i));
        if left > 0 {
            produce(target, &rels, &used, params, outer, &mut |row| {
                if !passes_cols(filter.as_ref(), row, params)? {
                    return Ok(true);
                }
                if skip > 0 {
                    skip -= 1;
                    return Ok(true);
                }
                left -= 1;
                // Asked only of whole-row queries: it is a dynamic call on every row.
                let held = if whole_rows { row.as_values() } else { None };
                match held.filter(|v| v.len() == exprs.len()) {
                    Some(values) => Ok(f(values)? && left > 0),
                    None => {
                        let values = eval_all(exprs.iter(), row, params)?;
                        Ok(f(&values)? && left > 0)
                    }
                }
            })?;
        }
        return Ok(SqlResult {
            columns,
            rows: Vec::new(),
            changed: 0,
        });
    }
    let new_sink = || Sink {
        params,
        // With correlated subqueries WHERE runs before the sink (it needs their values).
        filter: filter.as_ref().filter(|_| correlated.is_none()),
        exprs: &exprs,
        order: &order,
        width: tables.width,
        state: if grouped {
            State::Groups {
                group_by: &group_by,
                aggs: &aggs,
                index: HashMap::new(),
                groups: Vec::new(),
                key: Vec::new(),
            }
        } else if heap_top {
            // ORDER BY … LIMIT: only the best rows are kept.
            State::TopK {
                k: limit.unwrap_or(0).saturating_add(offset),
                heap: BinaryHeap::new(),
                seq: 0,
                scratch: Vec::new(),
            }
        } else if sel.distinct.is_none() && order.is_empty() {
            State::Rows {
                out: Vec::new(),
                stop: limit.map(|l| l.saturating_add(offset)),
            }
        } else {
            State::Rows {
                out: Vec::new(),
                stop: None,
            }
        },
    };
    let mut sink = new_sink();
    let top = library_order(&rels, &order, had_filter, plain);
    match (&correlated, top, limit) {
        (None, Some((name, order)), Some(limit)) => {
            // The table's own top-k; read again through the heap when it cannot be trusted.
            let k = limit.saturating_add(offset);
            let mut unsure = false;
            target.scan_top(name, &rels[0].preds, &order, k, &mut |row| {
                if order.iter().any(|&(c, _)| float_tie(row.value_at(c))) {
                    unsure = true;
                    return Ok(false);
                }
                sink.push(row)
            })?;
            if unsure {
                sink = new_sink();
                produce(target, &rels, &used, params, outer, &mut |row| {
                    sink.push(row)
                })?;
            }
        }
        (None, ..) => produce(target, &rels, &used, params, outer, &mut |row| {
            sink.push(row)
        })?,
        (Some(c), ..) => produce(target, &rels, &used, params, outer, &mut |row| {
            let mut row = c.start(
                (0..tables.width)
                    .map(|i| row.value_at(i).to_owned())
                    .collect(),
            );
            c.run(Phase::Where, &mut row)?;
            if !passes_cols(filter.as_ref(), &row, params)? {
                return Ok(true);
            }
            c.run(Phase::Row, &mut row)?;
            sink.push(&row)
        })?,
    }
    let out = sink.finish(having.as_ref(), correlated.as_ref())?;

    let mut rows: Vec<(Vec<Value>, Vec<Value>)> = if sel.distinct.is_some() {
        let mut seen = HashSet::new();
        out.into_iter()
            .filter(|(_, v)| seen.insert(v.iter().map(GroupKey::of).collect::<Vec<_>>()))
            .collect()
    } else {
        out
    };
    if !order.is_empty() {
        // Stable: ties keep the order rows came in. Nulls sort first, as in SQLite.
        rows.sort_by(|a, b| order_keys(&order, &a.0, &b.0));
    }
    let rows = rows
        .into_iter()
        .map(|(_, v)| v)
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX));
    let rows: Vec<Vec<Value>> = match each {
        Some(f) => {
            for r in rows {
                if !f(&r)? {
                    break;
                }
            }
            Vec::new()
        }
        None => rows.collect(),
    };
    Ok(SqlResult {
        columns,
        rows,
        changed: 0,
    })
}

/// The table and the library's order that an `ORDER BY … LIMIT` can hand to the table's own
/// top-k (an index walk when an ordered index serves the first key), when the rows are one
/// stored table's with no WHERE, and every key is a column whose type the library orders as
/// SQL does (not json), with nulls where SQL puts them by default (first ascending), and
/// `plain` says that nothing groups, or keeps distinct rows, or runs subqueries per row.
///
/// The library orders -0.0 before 0.0, which SQL calls equal, and places NaN: the rows it
/// hands over are the ones SQL keeps unless a float zero (or NaN) sits among them (the zeros
/// are next to each other in both orders, so SQL can keep a zero row only where the library
/// hands one over), which [`float_tie`] tells the caller to check.
fn library_order<'r>(
    rels: &'r [Relation],
    order: &[Key],
    has_filter: bool,
    plain: bool,
) -> Option<(&'r str, Vec<(usize, bool)>)> {
    let [rel] = rels else { return None };
    if !plain {
        return None;
    }
    let Source::Table { name, schema } = &rel.source else {
        return None;
    };
    if has_filter || order.is_empty() {
        return None;
    }
    let keys = order
        .iter()
        .map(|(k, dir)| match k {
            Scalar::Column(c)
                if dir.nulls_first.is_none()
                    && schema
                        .columns
                        .get(*c)
                        .is_some_and(|col| col.ty != ColumnType::Json) =>
            {
                Some((*c, dir.desc))
            }
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    Some((name, keys))
}

/// Whether a value is one the library orders unlike SQL: a float zero (either sign) or NaN.
fn float_tie(v: ValueRef<'_>) -> bool {
    matches!(v, ValueRef::Float(f) if f == 0.0 || f.is_nan())
}

/// Compares two rows' ORDER BY keys.
fn order_keys(order: &[Key], a: &[Value], b: &[Value]) -> Ordering {
    for (i, (_, dir)) in order.iter().enumerate() {
        let o = order_by(*dir, &a[i], &b[i]);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// How `x` sorts against `y` under one ORDER BY key's direction.
pub(crate) fn order_by(dir: Direction, x: &Value, y: &Value) -> Ordering {
    match (dir.nulls_first, x.is_null(), y.is_null()) {
        (Some(true), true, false) | (Some(false), false, true) => Ordering::Less,
        (Some(true), false, true) | (Some(false), true, false) => Ordering::Greater,
        _ if dir.desc => order_cmp(x, y).reverse(),
        _ => order_cmp(x, y),
    }
}

/// A value as a grouping (and DISTINCT) key: values SQL calls equal share one (an integer
/// and the same float, a boolean and 0 or 1); null is a key of its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum GroupKey {
    Null,
    Int(i64),
    Float(u64),
    Text(String),
}

impl GroupKey {
    pub(crate) fn of(v: &Value) -> GroupKey {
        GroupKey::of_ref(v.as_ref())
    }

    fn of_ref(v: ValueRef<'_>) -> GroupKey {
        match v {
            ValueRef::Null => GroupKey::Null,
            ValueRef::Int(i) => GroupKey::Int(i),
            ValueRef::Bool(b) => GroupKey::Int(i64::from(b)),
            ValueRef::Float(f) if f.fract() == 0.0 && (-TWO_63..TWO_63).contains(&f) => {
                GroupKey::Int(f as i64)
            }
            // -0.0 and 0.0 are one key (both are integral above). A NaN the library stored
            // (SQL makes none) is a key of its own, one for every NaN, as ORDER BY places
            // them together after every number.
            ValueRef::Float(f) if f.is_nan() => GroupKey::Float(f64::NAN.to_bits()),
            ValueRef::Float(f) => GroupKey::Float(f.to_bits()),
            ValueRef::Text(t) => GroupKey::Text(t.to_owned()),
        }
    }
}

/// A row kept for ORDER BY … LIMIT: its keys, its arrival (ties keep the earlier row), its
/// values. The heap's top is the worst row kept.
struct Ranked<'o> {
    keys: Vec<Value>,
    seq: u64,
    values: Vec<Value>,
    order: &'o [Key],
}

impl Ranked<'_> {
    fn rank(&self, keys: &[Value], seq: u64) -> Ordering {
        order_keys(self.order, &self.keys, keys).then(self.seq.cmp(&seq))
    }
}

impl PartialEq for Ranked<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ranked<'_> {}
impl PartialOrd for Ranked<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank(&other.keys, other.seq)
    }
}

/// One group: its first row, then its aggregates' running states.
type Group = (Vec<Value>, Vec<Acc>);

/// What the rows of FROM become.
enum State<'a> {
    /// Each row's order keys and values.
    Rows {
        out: Vec<(Vec<Value>, Vec<Value>)>,
        /// Enough rows for the window (no order, no DISTINCT): stop reading.
        stop: Option<usize>,
    },
    /// The best `k` rows.
    TopK {
        k: usize,
        heap: BinaryHeap<Ranked<'a>>,
        seq: u64,
        /// The keys of the row at hand, in a reused buffer.
        scratch: Vec<Value>,
    },
    /// Groups in the order they appeared, found by their keys.
    Groups {
        group_by: &'a [Scalar],
        aggs: &'a [AggCall],
        index: HashMap<Vec<GroupKey>, usize>,
        groups: Vec<Group>,
        /// The current row's key, reused.
        key: Vec<GroupKey>,
    },
}

/// Adds `row` to a group's aggregates (`accs`, one per call of `aggs`); `Ok(true)`: more
/// rows are wanted.
fn add_to(accs: &mut [Acc], aggs: &[AggCall], row: &dyn Cols, params: &[Value]) -> Result<bool> {
    for (acc, call) in accs.iter_mut().zip(aggs) {
        if let Some(f) = &call.filter {
            if !f.holds(row, params)? {
                continue;
            }
        }
        if let Some(sep) = &call.sep {
            // A null separator is none, as in SQLite.
            acc.sep = match sep.eval_cols(row, params)? {
                Value::Null => String::new(),
                v => scalar::text_of(&v),
            };
        }
        let v = match &call.arg {
            Some(Scalar::Column(i)) => {
                let v = row.value_at(*i);
                if acc.add_in_place(v) {
                    continue;
                }
                Some(v.to_owned())
            }
            Some(a) => Some(a.eval_cols(row, params)?),
            None => None,
        };
        acc.add(v);
    }
    Ok(true)
}

/// Takes the rows of FROM one at a time: WHERE, then grouping or the items.
struct Sink<'a> {
    params: &'a [Value],
    filter: Option<&'a Scalar>,
    exprs: &'a [Scalar],
    order: &'a [Key],
    width: usize,
    state: State<'a>,
}

impl<'a> Sink<'a> {
    /// Takes one row; `false` once no more are needed.
    fn push(&mut self, row: &dyn Cols) -> Result<bool> {
        let params = self.params;
        if let Some(f) = self.filter {
            if !f.holds(row, params)? {
                return Ok(true);
            }
        }
        let (exprs, order) = (self.exprs, self.order);
        let values = |row: &dyn Cols| eval_all(exprs.iter(), row, params);
        match &mut self.state {
            State::Rows { out, stop } => {
                let values = values(row)?;
                let keys = eval_all(order.iter().map(|(k, _)| k), row, params)?;
                out.push((keys, values));
                Ok(stop.is_none_or(|s| out.len() < s))
            }
            State::TopK {
                k,
                heap,
                seq,
                scratch,
            } => {
                if *k == 0 {
                    return Ok(false);
                }
                *seq += 1;
                // Keys first: a row worse than every kept one costs no more.
                let mut keys = std::mem::take(scratch);
                keys.clear();
                for (key, _) in order {
                    keys.push(key.eval_cols(row, params)?);
                }
                if heap.len() == *k {
                    let worst = heap.peek().map(|w| w.rank(&keys, *seq));
                    if worst != Some(Ordering::Greater) {
                        *scratch = keys;
                        return Ok(true);
                    }
                    if let Some(out) = heap.pop() {
                        *scratch = out.keys;
                    }
                }
                let values = values(row)?;
                heap.push(Ranked {
                    keys,
                    seq: *seq,
                    values,
                    order,
                });
                Ok(true)
            }
            State::Groups {
                group_by,
                aggs,
                index,
                groups,
                key,
            } => {
                // Without GROUP BY every row is in the one group, once it exists.
                if group_by.is_empty() && groups.len() == 1 {
                    return add_to(&mut groups[0].1, aggs, row, params);
                }
                key.clear();
                for g in group_by.iter() {
                    // A plain column is read as it is: no evaluation, no owned value.
                    key.push(match g {
                        Scalar::Column(i) => GroupKey::of_ref(row.value_at(*i)),
                        g => GroupKey::of(&g.eval_cols(row, params)?),
                    });
                }
                let at = match index.get(key.as_slice()) {
                    Some(&at) => at,
                    None => {
                        let first = (0..self.width)
                            .map(|i| row.value_at(i).to_owned())
                            .collect();
                        groups.push((first, aggs.iter().map(Acc::new).collect()));
                        index.insert(key.clone(), groups.len() - 1);
                        groups.len() - 1
                    }
                };
                add_to(&mut groups[at].1, aggs, row, params)
            }
        }
    }

    /// The kept rows' order keys and values, in the order they came (best first for the
    /// top rows); groups are finished, filtered by HAVING and evaluated (with the values of
    /// the correlated subqueries of HAVING, the items and ORDER BY, run for each group).
    fn finish(
        self,
        having: Option<&Scalar>,
        correlated: Option<&Correlated<'_, '_, '_>>,
    ) -> Result<Vec<(Vec<Value>, Vec<Value>)>> {
        let params = self.params;
        match self.state {
            State::Rows { out, .. } => Ok(out),
            State::TopK { heap, .. } => Ok(heap
                .into_sorted_vec()
                .into_iter()
                .map(|r| (r.keys, r.values))
                .collect()),
            State::Groups {
                groups,
                aggs,
                group_by,
                ..
            } => {
                let mut groups = groups;
                if groups.is_empty() && group_by.is_empty() {
                    // Aggregates over no rows: one group, of nulls.
                    groups.push((
                        vec![Value::Null; self.width],
                        aggs.iter().map(Acc::new).collect(),
                    ));
                }
                let correlated = correlated.filter(|c| c.any(Phase::Having) || c.any(Phase::Group));
                // A kept group's order keys and values.
                let output = |row: &dyn Cols| -> Result<(Vec<Value>, Vec<Value>)> {
                    let values = eval_all(self.exprs.iter(), row, params)?;
                    let keys = eval_all(self.order.iter().map(|(k, _)| k), row, params)?;
                    Ok((keys, values))
                };
                let mut out = Vec::with_capacity(groups.len());
                for (mut row, accs) in groups {
                    for acc in accs {
                        row.push(acc.finish()?);
                    }
                    match correlated {
                        None => {
                            if passes(having, &row, params)? {
                                out.push(output(&row)?);
                            }
                        }
                        Some(c) => {
                            let mut row = c.start(row);
                            c.run(Phase::Having, &mut row)?;
                            if passes_cols(having, &row, params)? {
                                c.run(Phase::Group, &mut row)?;
                                out.push(output(&row)?);
                            }
                        }
                    }
                }
                Ok(out)
            }
        }
    }
}

/// The position an `ORDER BY` or `GROUP BY` term names, when it is one: an integer
/// constant, signed or in parentheses, that fits in 32 bits (SQLite's rule; it then has to
/// be a column's position, so `-1` and `0` are errors). Any other constant (`0.5`,
/// `'a'`, a larger integer) is an expression, the same for every row.
pub(crate) fn position(e: &Expr) -> Option<i64> {
    match e {
        Expr::Value(v) => match &v.value {
            sqlparser::ast::Value::Number(n, false) => n.parse::<i32>().ok().map(i64::from),
            _ => None,
        },
        Expr::Nested(inner) => position(inner),
        Expr::UnaryOp {
            op: UnaryOperator::Plus,
            expr,
        } => position(expr),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => position(expr).map(|p| -p),
        _ => None,
    }
}

/// The table `q.*` names, unquoted as FROM's names are (`"s".*` is `s.*`).
fn star_qualifier(q: &ObjectName) -> String {
    match q.0.as_slice() {
        [p] => p
            .as_ident()
            .map_or_else(|| p.to_string(), |i| i.value.clone()),
        _ => q.to_string(),
    }
}

/// What a GROUP BY item groups by.
enum Grouped<'e> {
    Expr(&'e Expr),
    /// A column of FROM's tables (by its place in their row), named by a position that
    /// falls on a `*` or `t.*` of the select list.
    Column(usize),
}

/// A GROUP BY item: a 1-based position in the select list (with `*` and `t.*` expanded to
/// their columns, as ORDER BY counts them), an output alias (that is not a column), or an
/// expression.
fn group_item<'e>(e: &'e Expr, items: &'e [SelectItem], tables: &Tables) -> Result<Grouped<'e>> {
    if let Some(pos) = position(e) {
        let mut expanded = items.iter().flat_map(|i| -> Vec<Grouped<'e>> {
            match i {
                SelectItem::UnnamedExpr(x) | SelectItem::ExprWithAlias { expr: x, .. } => {
                    vec![Grouped::Expr(x)]
                }
                SelectItem::Wildcard(_) => tables
                    .tables
                    .iter()
                    .flat_map(|(_, names, at)| (*at..at + names.len()).map(Grouped::Column))
                    .collect(),
                SelectItem::QualifiedWildcard(
                    SelectItemQualifiedWildcardKind::ObjectName(q),
                    _,
                ) => {
                    let q = star_qualifier(q);
                    // An unknown table is the select list's error, given when it is bound.
                    tables
                        .tables
                        .iter()
                        .find(|(t, _, _)| *t == q)
                        .into_iter()
                        .flat_map(|(_, names, at)| (*at..at + names.len()).map(Grouped::Column))
                        .collect()
                }
                _ => Vec::new(),
            }
        });
        return usize::try_from(pos)
            .ok()
            .and_then(|p| p.checked_sub(1))
            .and_then(|i| expanded.nth(i))
            .ok_or_else(|| {
                sql_error(
                    e.span(),
                    format!("GROUP BY position {pos} is not a column of the result"),
                )
            });
    }
    Ok(Grouped::Expr(match e {
        Expr::Identifier(id) if tables.resolve(None, &id.value).is_err() => items
            .iter()
            .find_map(|i| match i {
                SelectItem::ExprWithAlias { expr, alias } if alias.value == id.value => Some(expr),
                _ => None,
            })
            .unwrap_or(e),
        e => e,
    }))
}

/// The values of `exprs` on `row`, in a vector of exactly their number (none allocated for
/// none). (Collecting a `Result` iterator knows no length: the vector would start small and
/// grow, two allocations for each result row instead of one.)
fn eval_all<'e>(
    exprs: impl ExactSizeIterator<Item = &'e Scalar>,
    row: &dyn Cols,
    params: &[Value],
) -> Result<Vec<Value>> {
    let mut out = Vec::with_capacity(exprs.len());
    for e in exprs {
        out.push(match e {
            // The common item, without the evaluator's dispatch.
            Scalar::Column(i) => row.value_at(*i).to_owned(),
            e => e.eval_cols(row, params)?,
        });
    }
    Ok(out)
}

pub(crate) fn passes(filter: Option<&Scalar>, row: &[Value], params: &[Value]) -> Result<bool> {
    Ok(match filter {
        Some(f) => truth(&f.eval(row, params)?) == Some(true),
        None => true,
    })
}

/// [`passes`] on a stored row read in place.
pub(crate) fn passes_cols(
    filter: Option<&Scalar>,
    row: &dyn Cols,
    params: &[Value],
) -> Result<bool> {
    Ok(match filter {
        Some(f) => f.holds(row, params)?,
        None => true,
    })
}

/// The predicates of a condition over one table's columns that its scan can apply, and
/// whether they are all of it (see [`table_preds`]): UPDATE and DELETE read the rows they
/// change through them.
pub(crate) fn scan_preds(
    cond: &Scalar,
    schema: &Arc<Schema>,
    params: &[Value],
) -> (Vec<Pred>, bool) {
    let rel = Relation {
        source: Source::Table {
            name: schema.table.clone(),
            schema: schema.clone(),
        },
        at: 0,
        width: schema.columns.len(),
        link: Link::Cross,
        preds: Vec::new(),
    };
    table_preds(cond, &rel, params)
}

/// SQLite's ORDER BY: nulls first, numbers before text, numbers by value. A NaN (which
/// only the library can store; SQLite has none) comes after every other number, as the
/// library orders it, so that the order is total (sorting needs one).
fn order_cmp(a: &Value, b: &Value) -> Ordering {
    let nan = |v: &Value| matches!(v, Value::Float(f) if f.is_nan());
    match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => match (nan(a), nan(b)) {
            (true, true) => Ordering::Equal,
            (true, false) if matches!(b, Value::Text(_)) => Ordering::Less,
            (true, false) => Ordering::Greater,
            (false, true) if matches!(a, Value::Text(_)) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => compare(a, b).unwrap_or(Ordering::Equal),
        },
    }
}

/// An aggregate's running state.
struct Acc {
    func: AggFunc,
    distinct: Option<HashSet<String>>,
    count: i64,
    sum: Sum,
    best: Option<Value>,
    /// `GROUP_CONCAT`'s text so far, and the separator the next value takes.
    text: Option<String>,
    sep: String,
}

/// The running sum of `SUM`, `TOTAL` and `AVG`, kept as SQLite's `sumStep` keeps it: an
/// exact integer until a float comes (or the integers overflow), then a float with a
/// Kahan-Babuska-Neumaier error term. Summing floats another way gives other last bits
/// (and, where the terms cancel, other small results) than SQLite's.
#[derive(Default)]
struct Sum {
    int: i64,
    /// The float sum is the one kept (`sum` + `err`), not `int`.
    approx: bool,
    /// The integers overflowed and no float came since: `SUM` fails.
    overflow: bool,
    sum: f64,
    err: f64,
}

impl Sum {
    /// 2^52: an integer at least this large is added as two floats, each exact.
    const BIG: i64 = 1 << 52;

    fn add_int(&mut self, i: i64) {
        if self.approx {
            self.add_exact(i);
            return;
        }
        match self.int.checked_add(i) {
            Some(x) => self.int = x,
            None => {
                self.overflow = true;
                self.start_float();
                self.add_exact(i);
            }
        }
    }

    fn add_float(&mut self, f: f64) {
        if self.approx {
            self.overflow = false;
        } else {
            self.start_float();
        }
        self.step(f);
    }

    /// Goes on as a float sum, starting from the integers' sum.
    fn start_float(&mut self) {
        self.approx = true;
        let (big, small) = Sum::split(self.int);
        self.sum = big;
        self.err = small;
    }

    /// `i` as a large part and a small one whose floats are exact (the small one zero for
    /// an `i` below [`Sum::BIG`], which a float holds exactly).
    fn split(i: i64) -> (f64, f64) {
        if i <= -Sum::BIG || i >= Sum::BIG {
            let small = i % 16384;
            ((i - small) as f64, small as f64)
        } else {
            (i as f64, 0.0)
        }
    }

    fn add_exact(&mut self, i: i64) {
        let (big, small) = Sum::split(i);
        self.step(big);
        if small != 0.0 {
            self.step(small);
        }
    }

    /// One Kahan-Babuska-Neumaier step.
    fn step(&mut self, r: f64) {
        let s = self.sum;
        let t = s + r;
        if s.abs() > r.abs() {
            self.err += (s - t) + r;
        } else {
            self.err += (r - t) + s;
        }
        self.sum = t;
    }

    /// The sum as a float.
    fn float(&self) -> f64 {
        match self.approx {
            false => self.int as f64,
            true if self.err.is_finite() => self.sum + self.err,
            true => self.sum,
        }
    }
}

/// A float result of an aggregate: null for NaN (infinity minus infinity), as SQLite has no
/// NaN.
fn float_value(f: f64) -> Value {
    if f.is_nan() {
        Value::Null
    } else {
        Value::Float(f)
    }
}

impl Acc {
    fn new(call: &AggCall) -> Acc {
        Acc {
            func: call.func,
            distinct: call.distinct.then(HashSet::new),
            count: 0,
            sum: Sum::default(),
            best: None,
            text: None,
            sep: ",".to_owned(),
        }
    }

    /// [`Acc::add`] of a value read in place, where that needs no copy of it: a count, or a
    /// sum of a number, without DISTINCT. Whether it was added.
    fn add_in_place(&mut self, v: ValueRef<'_>) -> bool {
        if self.distinct.is_some() {
            return false;
        }
        match (self.func, v) {
            (_, ValueRef::Null) => return true,
            (AggFunc::Count, _) => {}
            (AggFunc::Sum | AggFunc::Total | AggFunc::Avg, ValueRef::Int(i)) => self.sum.add_int(i),
            (AggFunc::Sum | AggFunc::Total | AggFunc::Avg, ValueRef::Bool(b)) => {
                self.sum.add_int(i64::from(b))
            }
            (AggFunc::Sum | AggFunc::Total | AggFunc::Avg, ValueRef::Float(f)) => {
                self.sum.add_float(f)
            }
            _ => return false,
        }
        self.count += 1;
        true
    }

    fn add(&mut self, v: Option<Value>) {
        let Some(v) = v else {
            // COUNT(*)
            self.count += 1;
            return;
        };
        if v.is_null() {
            return;
        }
        if let Some(seen) = &mut self.distinct {
            if !seen.insert(join_key(&v).unwrap_or_default()) {
                return;
            }
        }
        self.count += 1;
        match self.func {
            AggFunc::Count => {}
            AggFunc::Min | AggFunc::Max => {
                let better = match &self.best {
                    None => true,
                    Some(b) => {
                        let o = compare(&v, b).unwrap_or(Ordering::Equal);
                        if self.func == AggFunc::Min {
                            o == Ordering::Less
                        } else {
                            o == Ordering::Greater
                        }
                    }
                };
                if better {
                    self.best = Some(v);
                }
            }
            AggFunc::Sum | AggFunc::Total | AggFunc::Avg => {
                let n = match v {
                    Value::Bool(b) => Value::Int(i64::from(b)),
                    // Text is read as its number and makes the sum a float, as in SQLite.
                    Value::Text(ref t) => Value::Float(scalar::numeric(t).as_f64().unwrap_or(0.0)),
                    v => v,
                };
                match n {
                    Value::Int(i) => self.sum.add_int(i),
                    Value::Float(f) => self.sum.add_float(f),
                    _ => {}
                }
            }
            AggFunc::GroupConcat => {
                let v = scalar::text_of(&v);
                match &mut self.text {
                    None => self.text = Some(v),
                    Some(t) => {
                        t.push_str(&self.sep);
                        t.push_str(&v);
                    }
                }
            }
        }
    }

    /// The aggregate's value; `SUM` fails if its integers overflowed (and no float came
    /// after, which makes it a float sum), as in SQLite.
    fn finish(self) -> Result<Value> {
        Ok(match self.func {
            AggFunc::Count => Value::Int(self.count),
            AggFunc::Min | AggFunc::Max => self.best.unwrap_or(Value::Null),
            AggFunc::GroupConcat => self.text.map_or(Value::Null, Value::Text),
            AggFunc::Total => float_value(self.sum.float()),
            AggFunc::Sum if self.count == 0 => Value::Null,
            AggFunc::Sum if self.sum.overflow => {
                return Err(Error::Sql {
                    line: 0,
                    column: 0,
                    reason: "integer overflow in sum()".into(),
                })
            }
            AggFunc::Sum if !self.sum.approx => Value::Int(self.sum.int),
            AggFunc::Sum => float_value(self.sum.float()),
            AggFunc::Avg if self.count == 0 => Value::Null,
            AggFunc::Avg => float_value(self.sum.float() / self.count as f64),
        })
    }
}

/// LIMIT and OFFSET, as numbers (placeholders allowed). A negative LIMIT is no limit, as in
/// SQLite.
pub(crate) fn window(q: &Query, params: &[Value]) -> Result<(Option<usize>, usize)> {
    let Some(clause) = &q.limit_clause else {
        return Ok((None, 0));
    };
    let (limit, offset) = match clause {
        LimitClause::LimitOffset { limit, offset, .. } => {
            (limit.as_ref(), offset.as_ref().map(|o| &o.value))
        }
        LimitClause::OffsetCommaLimit { offset, limit } => (Some(limit), Some(offset)),
    };
    let number = |e: &Expr| -> Result<i64> {
        let mut p = Params::default();
        let v = scalar::compile(e, &Tables::default(), &mut p)?.eval(&[], params)?;
        // As SQLite: any value that is an integer without loss (`2.0`, `'2'`, `1e3`, TRUE).
        let whole =
            |f: f64| (f.fract() == 0.0 && (-TWO_63..TWO_63).contains(&f)).then_some(f as i64);
        let n = match &v {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(i64::from(*b)),
            Value::Float(f) => whole(*f),
            Value::Text(t) => {
                let t = t.trim_matches(scalar::is_sqlite_space);
                t.parse::<i64>()
                    .ok()
                    .or_else(|| t.parse::<f64>().ok().and_then(whole))
            }
            _ => None,
        };
        n.ok_or_else(|| sql_error(e.span(), format!("LIMIT and OFFSET take integers, not {v}")))
    };
    let limit = limit.map(number).transpose()?;
    let offset = offset.map(number).transpose()?.unwrap_or(0);
    Ok((
        limit.and_then(|l| usize::try_from(l).ok()),
        usize::try_from(offset).unwrap_or(0),
    ))
}

/// How EXPLAIN says that `n` correlated subqueries run for each `what`.
fn per_row(n: usize, what: &str) -> String {
    match n {
        1 => format!("a correlated subquery run for each {what}"),
        n => format!("{n} correlated subqueries run for each {what}"),
    }
}

/// What `EXPLAIN SELECT …` shows: a line per step, in the order they run, each table with
/// how its scan reads it (an index serving which predicates, or a full scan).
pub(crate) fn explain(target: Target<'_, '_>, q: &Query, params: &[Value]) -> Result<Vec<String>> {
    explain_in(target, q, params, None)
}

/// [`explain`] of a query inside another (`outer`: the names it sees beyond its own, as
/// for [`select_each`]).
pub(crate) fn explain_in(
    target: Target<'_, '_>,
    q: &Query,
    params: &[Value],
    outer: Option<(&dyn Scope, &[Value])>,
) -> Result<Vec<String>> {
    match &q.with {
        Some(with) => compound::explain_with(target, with, params, outer, &|env| {
            explain_body(target, q, params, env)
        }),
        None => explain_body(target, q, params, outer),
    }
}

/// [`explain_in`] without the query's `WITH`, which `outer` has already.
fn explain_body(
    target: Target<'_, '_>,
    q: &Query,
    params: &[Value],
    outer: Option<(&dyn Scope, &[Value])>,
) -> Result<Vec<String>> {
    let sel = match q.body.as_ref() {
        SetExpr::Select(sel) => sel,
        SetExpr::SetOperation { .. } | SetExpr::Query(_) => {
            return compound::explain_set(target, q, params, outer)
        }
        body => return Err(unsupported_body(body)),
    };
    // A plan is shown only for a query that would run: its errors first.
    let mut bound = Bound::default();
    query_body(target, q, params, outer, None, Some(&mut bound))?;
    let (mut rels, tables) = resolve_from(target, &sel.from, params, outer)?;
    let scope = QueryScope {
        tables: &tables,
        outer,
    };
    let beyond = Beyond(&scope);
    let run = |sq: &Query| beyond.rows_of(target, sq, params);
    let mut p = Params::with_subqueries(&run);
    p.correlated = Some(Vec::new());
    let filter = sel
        .selection
        .as_ref()
        .map(|w| scalar::compile(w, &scope, &mut p))
        .transpose()?;
    let in_where = p.correlated.as_ref().map_or(0, Vec::len);
    // A WHERE the tables' reads apply alone is no step of its own (as in `select_each`).
    let served = filter
        .as_ref()
        .is_some_and(|f| push_where(f, &mut rels, params));
    let grouped = !matches!(&sel.group_by, GroupByExpr::Expressions(e, _) if e.is_empty());
    let mut out = Vec::new();
    let mut k = 0;
    for twj in &sel.from {
        for (j, t) in std::iter::once(&twj.relation)
            .chain(twj.joins.iter().map(|j| &j.relation))
            .enumerate()
        {
            let rel = &rels[k];
            k += 1;
            let line = match (&rel.source, t) {
                (Source::Rows(rows), TableFactor::Derived { alias, .. }) => format!(
                    "subquery {} (run once, {})",
                    alias.as_ref().map_or("?", |a| a.name.value.as_str()),
                    compound::count(rows.len(), "row")
                ),
                (Source::Table { name, .. }, t) => {
                    let (_, qualifier, _) = resolve_table(target, t)?;
                    let plan = match &bound.own_top {
                        // The table's read keeps the best rows itself (the only relation).
                        Some((keys, k)) => target.plan_top(name, &rel.preds, keys, *k)?,
                        None => target.plan(name, &rel.preds)?,
                    }
                    .to_string();
                    let how = plan.strip_prefix(&format!("{name}: ")).unwrap_or(&plan);
                    if qualifier == *name {
                        format!("{name}: {how}")
                    } else {
                        format!("{name} AS {qualifier}: {how}")
                    }
                }
                // Rows of no subquery of this FROM are a common table expression's.
                (Source::Rows(rows), t) => {
                    let (name, alias) = plain_table(t)?;
                    let n = compound::count(rows.len(), "row");
                    match alias {
                        Some(a) => format!("{name} AS {a} (WITH, run once, {n})"),
                        None => format!("{name} (WITH, run once, {n})"),
                    }
                }
            };
            let line = match (&rel.link, j) {
                (_, 0) if k == 1 => line,
                (Link::Cross, _) => format!("cross join with {line}"),
                (
                    Link::On {
                        cond,
                        left,
                        correlated,
                    },
                    _,
                ) => {
                    let kind = if *left { "left" } else { "inner" };
                    let (lo, hi) = (rel.at, rel.at + rel.width);
                    let keyed = key_join(rel).is_some();
                    let strategy = match cond.as_ref().and_then(|c| equi_pair(c, lo, hi)) {
                        _ if keyed => "primary-key join",
                        Some(_) => "hash join",
                        None => "nested-loop join",
                    };
                    if keyed {
                        // No scan: a lookup of the key per row before it.
                        let (name, qualifier) = match (&rel.source, t) {
                            (Source::Table { name, .. }, t) => {
                                (name.clone(), resolve_table(target, t)?.1)
                            }
                            _ => (String::new(), String::new()),
                        };
                        let named = if qualifier == name {
                            name
                        } else {
                            format!("{name} AS {qualifier}")
                        };
                        let preds = match rel.preds.len() {
                            0 => String::new(),
                            1 => ", 1 more predicate".to_owned(),
                            n => format!(", {n} more predicates"),
                        };
                        out.push(format!(
                            "{kind} {strategy} with {named}: a key lookup per row{preds}"
                        ));
                        continue;
                    }
                    match correlated {
                        Some(c) => format!(
                            "{kind} {strategy} with {line}, {}",
                            per_row(c.calls.len(), "pair of rows")
                        ),
                        None => format!("{kind} {strategy} with {line}"),
                    }
                }
            };
            out.push(line);
        }
    }
    match in_where {
        _ if sel.selection.is_none() || served => {}
        0 => out.push("filter (WHERE)".to_owned()),
        n => out.push(format!("filter (WHERE), {}", per_row(n, "row"))),
    }
    if grouped {
        out.push("group (GROUP BY) with a hash of the keys".to_owned());
    }
    if sel.having.is_some() {
        out.push("filter groups (HAVING)".to_owned());
    }
    if sel.distinct.is_some() {
        out.push("distinct".to_owned());
    }
    match q.order_by.is_some() {
        true if bound.own_top.is_some() => {
            out.push("top rows (ORDER BY … LIMIT): kept by the table's read".to_owned())
        }
        true if bound.heap_top => {
            out.push("top rows (ORDER BY … LIMIT): a heap of the best rows".to_owned())
        }
        // One row of aggregates has nothing to order.
        true if !bound.grouped || grouped => out.push("sort (ORDER BY)".to_owned()),
        _ => {}
    }
    if q.limit_clause.is_some() {
        out.push("window (LIMIT/OFFSET)".to_owned());
    }
    Ok(out)
}
