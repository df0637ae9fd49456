//! `SELECT`: the rows of `FROM` (one table, or several joined with `[INNER] JOIN` and
//! `LEFT [OUTER] JOIN … ON`), `WHERE`, grouping (`GROUP BY` expressions, or one group when
//! the items aggregate) with `COUNT`, `SUM`, `TOTAL`, `AVG`, `MIN`, `MAX` (`DISTINCT` too)
//! and `HAVING`, the items, `DISTINCT`, `ORDER BY` and the window.
//!
//! A row of `FROM` is the values of every table in it, one after the other; a group is
//! evaluated on its first row followed by its aggregates' values.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use sqlparser::ast::{
    Expr, GroupByExpr, JoinConstraint, JoinOperator, LimitClause, OrderByKind, OrderBySort, Query,
    SelectItem, SelectItemQualifiedWildcardKind, SetExpr, Spanned, TableFactor, TableWithJoins,
};

use crate::error::{Error, Result};
use crate::sql::run::{resolve_table, Target};
use crate::sql::scalar::{
    self, compare, sql_error, truth, AggCall, AggFunc, Params, Scalar, Scope,
};
use crate::sql::SqlResult;
use crate::value::Value;

fn unsupported(feature: impl Into<String>) -> Error {
    Error::Unsupported {
        feature: feature.into(),
    }
}

/// The tables of a FROM clause: each with its qualifier, columns and where its values start
/// in a row.
#[derive(Debug, Default)]
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

/// The rows of a FROM clause (one empty row without one), and its tables.
fn from_rows(
    target: Target<'_, '_>,
    from: &[TableWithJoins],
    params: &[Value],
) -> Result<(Vec<Vec<Value>>, Tables)> {
    let mut tables = Tables::default();
    let mut rows: Vec<Vec<Value>> = vec![Vec::new()];
    for twj in from {
        // `FROM a, b` is a cross join.
        let (qualifier, names, right) = relation(target, &twj.relation, params)?;
        tables.add(qualifier, names)?;
        rows = cross(&rows, &right);
        for j in &twj.joins {
            let (qualifier, names, right) = relation(target, &j.relation, params)?;
            let width = names.len();
            tables.add(qualifier, names)?;
            let (left_join, on) = match &j.join_operator {
                JoinOperator::Join(c) | JoinOperator::Inner(c) => (false, c),
                JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (true, c),
                JoinOperator::CrossJoin(JoinConstraint::None) => {
                    rows = cross(&rows, &right);
                    continue;
                }
                other => {
                    return Err(unsupported(format!(
                        "this kind of join ({})",
                        other_name(other)
                    )))
                }
            };
            let cond = match on {
                JoinConstraint::On(e) => {
                    let mut p = Params::default();
                    Some(scalar::compile(e, &tables, &mut p)?)
                }
                JoinConstraint::None => None,
                _ => return Err(unsupported("JOIN … USING and NATURAL JOIN")),
            };
            rows = join(rows, &right, cond.as_ref(), left_join, width, params)?;
        }
    }
    Ok((rows, tables))
}

/// A relation of FROM: a table, or a subquery with an alias; its qualifier, columns, rows.
fn relation(
    target: Target<'_, '_>,
    t: &TableFactor,
    params: &[Value],
) -> Result<(String, Vec<String>, Vec<Vec<Value>>)> {
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
        let r = select(target, subquery, params)?;
        return Ok((alias.name.value.clone(), r.columns, r.rows));
    }
    let (name, qualifier, names) = resolve_table(target, t)?;
    let rows = target.rows(&name)?;
    Ok((qualifier, names, rows))
}

fn other_name(op: &JoinOperator) -> &'static str {
    match op {
        JoinOperator::Right(_) | JoinOperator::RightOuter(_) => "RIGHT JOIN",
        JoinOperator::FullOuter(_) => "FULL JOIN",
        _ => "this join",
    }
}

fn cross(left: &[Vec<Value>], right: &[Vec<Value>]) -> Vec<Vec<Value>> {
    let mut out = Vec::with_capacity(left.len() * right.len());
    for l in left {
        for r in right {
            let mut row = l.clone();
            row.extend(r.iter().cloned());
            out.push(row);
        }
    }
    out
}

/// Joins `left` with `right` on `cond`; with `left_join`, a left row matching nothing is
/// kept with nulls for `right`'s `width` columns. An equality between a column of each side
/// is served by a hash of the right side.
fn join(
    left: Vec<Vec<Value>>,
    right: &[Vec<Value>],
    cond: Option<&Scalar>,
    left_join: bool,
    width: usize,
    params: &[Value],
) -> Result<Vec<Vec<Value>>> {
    let left_width = left.first().map_or(0, Vec::len);
    // An equi-join `l = r` at the top of ON (or of its AND chain): a hash of the right side.
    let equi = cond.and_then(|c| equi_pair(c, left_width));
    let index: Option<HashMap<String, Vec<usize>>> = equi.map(|(_, r)| {
        let mut m: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, row) in right.iter().enumerate() {
            if let Some(k) = join_key(&row[r - left_width]) {
                m.entry(k).or_default().push(i);
            }
        }
        m
    });
    let mut out = Vec::new();
    for l in left {
        let candidates: Box<dyn Iterator<Item = &Vec<Value>>> = match (&index, equi) {
            (Some(m), Some((lcol, _))) => match join_key(&l[lcol]) {
                Some(k) => Box::new(m.get(&k).into_iter().flatten().map(|&i| &right[i])),
                None => Box::new(std::iter::empty()),
            },
            _ => Box::new(right.iter()),
        };
        let mut matched = false;
        for r in candidates {
            let mut row = l.clone();
            row.extend(r.iter().cloned());
            let keep = match cond {
                Some(c) => truth(&c.eval(&row, params)?) == Some(true),
                None => true,
            };
            if keep {
                matched = true;
                out.push(row);
            }
        }
        if left_join && !matched {
            let mut row = l;
            row.extend(std::iter::repeat_n(Value::Null, width));
            out.push(row);
        }
    }
    Ok(out)
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

/// `(left column, right column)` of an equality between a column of each side at the top
/// of `c` or of its AND chain.
fn equi_pair(c: &Scalar, left_width: usize) -> Option<(usize, usize)> {
    use crate::sql::scalar::Op;
    match c {
        Scalar::Binary(a, Op::Eq, b) => match (a.as_ref(), b.as_ref()) {
            (Scalar::Column(x), Scalar::Column(y)) if *x < left_width && *y >= left_width => {
                Some((*x, *y))
            }
            (Scalar::Column(y), Scalar::Column(x)) if *x < left_width && *y >= left_width => {
                Some((*x, *y))
            }
            _ => None,
        },
        Scalar::Binary(a, Op::And, b) => {
            equi_pair(a, left_width).or_else(|| equi_pair(b, left_width))
        }
        _ => None,
    }
}

/// An ORDER BY key: a column of the output, or an expression over the (group) row.
enum Key {
    Output(usize),
    Expr(Scalar),
}

pub(crate) fn select(target: Target<'_, '_>, q: &Query, params: &[Value]) -> Result<SqlResult> {
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return Err(unsupported("UNION and other set operations"));
    };
    if q.with.is_some() {
        return Err(unsupported("WITH"));
    }
    let (rows, tables) = from_rows(target, &sel.from, params)?;
    let run = |sq: &Query| select(target, sq, params).map(|r| r.rows);
    let mut p = Params::with_subqueries(&run);
    let filter = sel
        .selection
        .as_ref()
        .map(|w| scalar::compile(w, &tables, &mut p))
        .transpose()?;
    let group_by: Vec<Scalar> = match &sel.group_by {
        GroupByExpr::Expressions(list, mods) if mods.is_empty() => list
            .iter()
            .map(|e| scalar::compile(group_item(e, &sel.projection, &tables)?, &tables, &mut p))
            .collect::<Result<_>>()?,
        _ => return Err(unsupported("GROUP BY ALL and grouping modifiers")),
    };
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
                let q = q.to_string();
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
                columns.push(match e {
                    Expr::Identifier(id) => id.value.clone(),
                    Expr::CompoundIdentifier(parts) => {
                        parts.last().map(|p| p.value.clone()).unwrap_or_default()
                    }
                    e => e.to_string(),
                });
                exprs.push(scalar::compile(e, &tables, &mut p)?);
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                columns.push(alias.value.clone());
                exprs.push(scalar::compile(expr, &tables, &mut p)?);
            }
            other => return Err(unsupported(format!("the select item {other}"))),
        }
    }
    let having = sel
        .having
        .as_ref()
        .map(|h| scalar::compile(h, &tables, &mut p))
        .transpose()?;
    let mut order: Vec<(Key, bool)> = Vec::new();
    if let Some(ob) = &q.order_by {
        let OrderByKind::Expressions(list) = &ob.kind else {
            return Err(unsupported("ORDER BY ALL"));
        };
        for o in list {
            if matches!(o.options.sort, Some(OrderBySort::Using(_))) {
                return Err(unsupported("ORDER BY … USING"));
            }
            let desc = matches!(o.options.sort, Some(OrderBySort::Desc));
            let key = match &o.expr {
                Expr::Value(v) if matches!(v.value, sqlparser::ast::Value::Number(..)) => {
                    let pos: usize = v.value.to_string().parse().unwrap_or(0);
                    if pos == 0 || pos > exprs.len() {
                        return Err(sql_error(
                            o.expr.span(),
                            format!("ORDER BY position {pos} is not a column of the result"),
                        ));
                    }
                    Key::Output(pos - 1)
                }
                // An output alias wins over a column of the same name, as in SQLite.
                Expr::Identifier(id) if columns.contains(&id.value) => {
                    Key::Output(columns.iter().position(|c| *c == id.value).unwrap_or(0))
                }
                e => Key::Expr(scalar::compile(e, &tables, &mut p)?),
            };
            order.push((key, desc));
        }
    }
    let aggs = p.aggs.take().unwrap_or_default();
    let (limit, offset) = window(q, params)?;

    // WHERE.
    let mut kept = Vec::with_capacity(rows.len());
    for row in rows {
        if passes(filter.as_ref(), &row, params)? {
            kept.push(row);
        }
    }
    // Groups: each evaluated as its first row followed by its aggregates.
    let grouped = !group_by.is_empty() || !aggs.is_empty() || having.is_some();
    let evaluated: Vec<Vec<Value>> = if grouped {
        let mut order_of: Vec<String> = Vec::new();
        let mut groups: HashMap<String, (Vec<Value>, Vec<Acc>)> = HashMap::new();
        for row in kept {
            let key = group_by
                .iter()
                .map(|g| {
                    g.eval(&row, params)
                        .map(|v| join_key(&v).unwrap_or_default())
                })
                .collect::<Result<Vec<_>>>()?
                .join("\u{1}");
            let entry = match groups.get_mut(&key) {
                Some(e) => e,
                None => {
                    order_of.push(key.clone());
                    groups
                        .entry(key)
                        .or_insert_with(|| (row.clone(), aggs.iter().map(Acc::new).collect()))
                }
            };
            for (acc, call) in entry.1.iter_mut().zip(&aggs) {
                let v = match &call.arg {
                    Some(a) => Some(a.eval(&row, params)?),
                    None => None,
                };
                acc.add(v)?;
            }
        }
        if group_by.is_empty() && groups.is_empty() {
            // Aggregates over no rows: one group, of nulls.
            order_of.push(String::new());
            groups.insert(
                String::new(),
                (
                    vec![Value::Null; tables.width],
                    aggs.iter().map(Acc::new).collect(),
                ),
            );
        }
        let mut out = Vec::with_capacity(order_of.len());
        for k in order_of {
            if let Some((mut row, accs)) = groups.remove(&k) {
                row.extend(accs.into_iter().map(Acc::finish));
                if passes(having.as_ref(), &row, params)? {
                    out.push(row);
                }
            }
        }
        out
    } else {
        kept
    };
    // Items and order keys.
    let mut out: Vec<(Vec<Value>, Vec<Value>)> = Vec::with_capacity(evaluated.len());
    for row in &evaluated {
        let values = exprs
            .iter()
            .map(|e| e.eval(row, params))
            .collect::<Result<Vec<_>>>()?;
        let keys = order
            .iter()
            .map(|(k, _)| match k {
                Key::Output(i) => Ok(values[*i].clone()),
                Key::Expr(e) => e.eval(row, params),
            })
            .collect::<Result<Vec<_>>>()?;
        out.push((keys, values));
    }
    let mut rows: Vec<(Vec<Value>, Vec<Value>)> = if sel.distinct.is_some() {
        let mut seen = HashSet::new();
        out.into_iter()
            .filter(|(_, v)| {
                seen.insert(
                    v.iter()
                        .map(|x| join_key(x).unwrap_or_default())
                        .collect::<Vec<_>>(),
                )
            })
            .collect()
    } else {
        out
    };
    if !order.is_empty() {
        // Stable: ties keep the order rows came in. Nulls sort first, as in SQLite.
        rows.sort_by(|a, b| {
            for (i, (_, desc)) in order.iter().enumerate() {
                let o = order_cmp(&a.0[i], &b.0[i]);
                if o != Ordering::Equal {
                    return if *desc { o.reverse() } else { o };
                }
            }
            Ordering::Equal
        });
    }
    let rows: Vec<Vec<Value>> = rows
        .into_iter()
        .map(|(_, v)| v)
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    Ok(SqlResult {
        columns,
        rows,
        changed: 0,
    })
}

/// A GROUP BY item: a 1-based position in the select list, an output alias (that is not
/// a column), or an expression.
fn group_item<'e>(e: &'e Expr, items: &'e [SelectItem], tables: &Tables) -> Result<&'e Expr> {
    let item = |i: &'e SelectItem| match i {
        SelectItem::UnnamedExpr(x) | SelectItem::ExprWithAlias { expr: x, .. } => Some(x),
        _ => None,
    };
    match e {
        Expr::Value(v) if matches!(v.value, sqlparser::ast::Value::Number(..)) => {
            let pos: usize = v.value.to_string().parse().unwrap_or(0);
            pos.checked_sub(1)
                .and_then(|i| items.get(i))
                .and_then(item)
                .ok_or_else(|| {
                    sql_error(
                        e.span(),
                        format!("GROUP BY position {pos} is not a column of the result"),
                    )
                })
        }
        Expr::Identifier(id) if tables.resolve(None, &id.value).is_err() => Ok(items
            .iter()
            .find_map(|i| match i {
                SelectItem::ExprWithAlias { expr, alias } if alias.value == id.value => Some(expr),
                _ => None,
            })
            .unwrap_or(e)),
        e => Ok(e),
    }
}

pub(crate) fn passes(filter: Option<&Scalar>, row: &[Value], params: &[Value]) -> Result<bool> {
    Ok(match filter {
        Some(f) => truth(&f.eval(row, params)?) == Some(true),
        None => true,
    })
}

/// SQLite's ORDER BY: nulls first, numbers before text, numbers by value.
fn order_cmp(a: &Value, b: &Value) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => compare(a, b).unwrap_or(Ordering::Equal),
    }
}

/// An aggregate's running state.
struct Acc {
    func: AggFunc,
    distinct: Option<HashSet<String>>,
    count: i64,
    int_sum: Option<i64>,
    float_sum: f64,
    any_float: bool,
    best: Option<Value>,
}

impl Acc {
    fn new(call: &AggCall) -> Acc {
        Acc {
            func: call.func,
            distinct: call.distinct.then(HashSet::new),
            count: 0,
            int_sum: Some(0),
            float_sum: 0.0,
            any_float: false,
            best: None,
        }
    }

    fn add(&mut self, v: Option<Value>) -> Result<()> {
        let Some(v) = v else {
            // COUNT(*)
            self.count += 1;
            return Ok(());
        };
        if v.is_null() {
            return Ok(());
        }
        if let Some(seen) = &mut self.distinct {
            if !seen.insert(join_key(&v).unwrap_or_default()) {
                return Ok(());
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
                    Value::Int(i) => {
                        self.float_sum += i as f64;
                        self.int_sum = self.int_sum.and_then(|s| s.checked_add(i));
                        if self.int_sum.is_none() && self.func == AggFunc::Sum && !self.any_float {
                            return Err(Error::Sql {
                                line: 0,
                                column: 0,
                                reason: "integer overflow in sum()".into(),
                            });
                        }
                    }
                    Value::Float(f) => {
                        self.any_float = true;
                        self.float_sum += f;
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> Value {
        match self.func {
            AggFunc::Count => Value::Int(self.count),
            AggFunc::Min | AggFunc::Max => self.best.unwrap_or(Value::Null),
            AggFunc::Total => Value::Float(self.float_sum),
            AggFunc::Sum if self.count == 0 => Value::Null,
            AggFunc::Sum if !self.any_float => self
                .int_sum
                .map_or(Value::Float(self.float_sum), Value::Int),
            AggFunc::Sum => Value::Float(self.float_sum),
            AggFunc::Avg if self.count == 0 => Value::Null,
            AggFunc::Avg => Value::Float(self.float_sum / self.count as f64),
        }
    }
}

/// LIMIT and OFFSET, as numbers (placeholders allowed). A negative LIMIT is no limit, as in
/// SQLite.
fn window(q: &Query, params: &[Value]) -> Result<(Option<usize>, usize)> {
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
        v.as_i64()
            .ok_or_else(|| sql_error(e.span(), format!("LIMIT and OFFSET take integers, not {v}")))
    };
    let limit = limit.map(number).transpose()?;
    let offset = offset.map(number).transpose()?.unwrap_or(0);
    Ok((
        limit.and_then(|l| usize::try_from(l).ok()),
        usize::try_from(offset).unwrap_or(0),
    ))
}

/// What `EXPLAIN SELECT …` shows: a line per step, in the order they run.
pub(crate) fn explain(target: Target<'_, '_>, q: &Query) -> Result<Vec<String>> {
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return Err(unsupported("UNION and other set operations"));
    };
    let mut out = Vec::new();
    let describe = |t: &TableFactor| -> Result<String> {
        Ok(match t {
            TableFactor::Derived { alias, .. } => format!(
                "subquery {} (run once)",
                alias.as_ref().map_or("?", |a| a.name.value.as_str())
            ),
            t => {
                let (name, qualifier, _) = resolve_table(target, t)?;
                let shown = if qualifier == name {
                    name.clone()
                } else {
                    format!("{name} AS {qualifier}")
                };
                let rows = target.rows(&name)?.len();
                format!("scan {shown} ({rows} rows; indexes are not used by SQL yet)")
            }
        })
    };
    for (k, twj) in sel.from.iter().enumerate() {
        let line = describe(&twj.relation)?;
        out.push(if k == 0 {
            line
        } else {
            format!("cross join with {line}")
        });
        for j in &twj.joins {
            let (kind, on) = match &j.join_operator {
                JoinOperator::Join(c) | JoinOperator::Inner(c) => ("inner", Some(c)),
                JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => ("left", Some(c)),
                _ => ("cross", None),
            };
            let strategy = match on {
                Some(JoinConstraint::On(e)) if has_column_equality(e) => "hash join",
                _ => "nested-loop join",
            };
            out.push(format!("{kind} {strategy} with {}", describe(&j.relation)?));
        }
    }
    if sel.selection.is_some() {
        out.push("filter (WHERE)".to_owned());
    }
    let grouped = !matches!(&sel.group_by, GroupByExpr::Expressions(e, _) if e.is_empty());
    if grouped {
        out.push("group (GROUP BY) with a hash of the keys".to_owned());
    }
    if sel.having.is_some() {
        out.push("filter groups (HAVING)".to_owned());
    }
    if sel.distinct.is_some() {
        out.push("distinct".to_owned());
    }
    if q.order_by.is_some() {
        out.push("sort (ORDER BY)".to_owned());
    }
    if q.limit_clause.is_some() {
        out.push("window (LIMIT/OFFSET)".to_owned());
    }
    Ok(out)
}

/// Whether `e` (or a term of its AND chain) compares two columns for equality: what the
/// join serves through a hash when the columns are on either side.
fn has_column_equality(e: &Expr) -> bool {
    use sqlparser::ast::BinaryOperator;
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } => {
            let col = |x: &Expr| matches!(x, Expr::Identifier(_) | Expr::CompoundIdentifier(_));
            col(left) && col(right)
        }
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => has_column_equality(left) || has_column_equality(right),
        Expr::Nested(inner) => has_column_equality(inner),
        _ => false,
    }
}
