//! FROM resolved: its tables (a stored table, a subquery's rows or a common table
//! expression's) as relations, each with where its values start in a row, how it joins
//! the ones before it, and the predicates on its own columns that its scan applies; and
//! the names of their columns ([`Tables`]).

use std::sync::Arc;

use sqlparser::ast::{JoinConstraint, JoinOperator, Query, Spanned, TableFactor, TableWithJoins};

use crate::error::{Error, Result};
use crate::query::Pred;
use crate::record::Cols;
use crate::schema::{ColumnType, Schema};
use crate::sql::compound;
use crate::sql::join::other_name;
use crate::sql::scalar::{self, sql_error, CorrelatedCall, Op, Params, Scalar, Scope};
use crate::sql::scope::{Beyond, QueryScope};
use crate::sql::select::select_each;
use crate::sql::target::Target;
use crate::sql::unsupported;
use crate::value::Value;
use sqlparser::ast::Ident;

/// The tables of a FROM clause: each with its qualifier, columns and where its values start
/// in a row.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tables {
    pub(super) tables: Vec<(String, Vec<String>, usize)>,
    pub(super) width: usize,
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
                if qualifier.is_none() && name.eq_ignore_ascii_case("case") {
                    // The parser, meeting its recursion limit inside a CASE, reads the word
                    // as a name; a deeper reading may do the same (`Stream`), so it is
                    // named here.
                    return Err(format!(
                        "{name} was read as a column's name, and there is none: a CASE nested \
                         deeper than the parser reads (recursion limit exceeded), or a column \
                         named case, which must be quoted"
                    ));
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
pub(super) enum Source {
    /// A stored table, read in place with the predicates pushed to it.
    Table { name: String, schema: Arc<Schema> },
    /// A subquery's rows (or a common table expression's), computed once.
    Rows(Arc<Vec<Vec<Value>>>),
}

/// How a relation joins the ones before it.
pub(super) enum Link {
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
pub(super) struct OnSubqueries {
    pub(super) calls: Vec<CorrelatedCall>,
    pub(super) tables: Tables,
}

/// One relation of FROM, resolved: its source, where its values start in a row, how it
/// joins, and the predicates on its own columns that its scan applies.
pub(super) struct Relation {
    pub(super) source: Source,
    pub(super) at: usize,
    pub(super) width: usize,
    pub(super) link: Link,
    pub(super) preds: Vec<Pred>,
    /// For the relation read first: when WHERE's AND chain holds an OR each of whose
    /// branches picks this table's rows by equality on an indexed column, the predicates
    /// of each branch. The branches are read through their indexes and their rows merged
    /// in key order (see `join::union_scan`) instead of reading the whole table; WHERE
    /// still runs on every row. Empty otherwise.
    pub(super) union: Vec<Vec<Pred>>,
}

/// The most tables one FROM may join (SQLite's limit).
const MOST_JOINED: usize = 64;

/// FROM resolved into relations (none without FROM), and the scope of their columns.
/// `outer`: the query around this one and its row, when this one is a correlated subquery
/// run for that row (an ON condition may name its columns).
pub(super) fn resolve_from(
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
            union: Vec::new(),
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
                        items: &[],
                    };
                    let beyond = Beyond::new(&scope);
                    let run = |sq: &Query, bind: bool, aliases: bool| {
                        beyond.rows_of(target.binding_if(bind), sq, params, aliases)
                    };
                    let mut p = Params::with_subqueries(&run, target.binds_only());
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
        if alias.as_ref().is_some_and(|a| !a.columns.is_empty()) {
            return Err(unsupported("column names in a subquery's alias"));
        }
        // Without an alias (SQLite and PostgreSQL 16 allow it), a name made from its place
        // in the text, one per subquery: its columns are named unqualified.
        let qualifier = match alias {
            Some(a) => a.name.value.clone(),
            None => {
                let at = t.span().start;
                format!("(subquery at line {}, column {})", at.line, at.column)
            }
        };
        let r = select_each(target, subquery, params, outer, None)?;
        return Ok((qualifier, r.columns, Source::Rows(Arc::new(r.rows))));
    }
    // A common table expression of this query or one around it hides a table of its name.
    if let Some(cte) = compound::cte_named(t, outer, target.binds_only())? {
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
pub(super) fn table_preds(cond: &Scalar, rel: &Relation, params: &[Value]) -> (Vec<Pred>, bool) {
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
pub(super) fn pred_of(c: &Scalar, at: usize, schema: &Schema, params: &[Value]) -> Option<Pred> {
    use std::ops::Bound::{Excluded, Included, Unbounded};
    let local = |s: &Scalar| match s {
        Scalar::Column(i) if *i >= at && *i - at < schema.columns.len() => Some(*i - at),
        _ => None,
    };
    let constant = |s: &Scalar| match s {
        Scalar::Literal(v) => Some(v.clone()),
        Scalar::Param(i) => params.get(*i).cloned(),
        // Of placeholders (`? + 1`; compiling folded those of literals alone): its value
        // for this run. One that fails is no predicate, and fails as WHERE reads a row.
        s if !s.reads_columns() && s.params_within(params.len()) => s.eval(&[], params).ok(),
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
pub(super) fn fetch(
    target: Target<'_, '_>,
    rel: &Relation,
    used: &[bool],
) -> Result<Arc<Vec<Vec<Value>>>> {
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
pub(super) fn reads_text(rel: &Relation, used: &[bool]) -> bool {
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
pub(super) fn extend_used(out: &mut Vec<Value>, row: &dyn Cols, used: &[bool]) {
    out.extend(used.iter().enumerate().map(|(i, &u)| {
        if u {
            row.value_at(i).to_owned()
        } else {
            Value::Null
        }
    }));
}

/// A stored table of a FROM clause, as written: its name and its alias. Other dialects'
/// clauses on a table are refused rather than ignored.
pub(crate) fn plain_table(t: &TableFactor) -> Result<(String, Option<&Ident>)> {
    let TableFactor::Table {
        name,
        alias,
        args,
        with_hints,
        version,
        with_ordinality,
        partitions,
        json_path,
        sample,
        index_directives,
        inheritance,
    } = t
    else {
        // Subqueries in FROM are read before this (`from::Source`); what comes here is
        // another kind of table factor.
        return Err(unsupported(match t {
            TableFactor::NestedJoin { .. } => {
                "a join in parentheses in FROM (make it a subquery: \
                 (SELECT … FROM u JOIN v ON …) AS uv)"
            }
            TableFactor::Derived { .. } => {
                "a subquery where a table is named (UPDATE, DELETE and INSERT write a table)"
            }
            TableFactor::Function { .. } | TableFactor::TableFunction { .. } => {
                "a table function in FROM"
            }
            TableFactor::UNNEST { .. } => "UNNEST in FROM",
            _ => {
                "this kind of table in FROM (a table, a subquery or a common table expression \
                  is taken)"
            }
        }));
    };
    // Other dialects' clauses on a table are refused rather than ignored.
    if args.is_some()
        || !with_hints.is_empty()
        || version.is_some()
        || *with_ordinality
        || !partitions.is_empty()
        || json_path.is_some()
        || sample.is_some()
        || !index_directives.is_empty()
        || inheritance.is_some()
    {
        return Err(unsupported(
            "table functions, hints, TABLESAMPLE, PARTITION, ONLY and the other clauses of \
             other dialects on a table",
        ));
    }
    if alias.as_ref().is_some_and(|a| !a.columns.is_empty()) {
        return Err(unsupported("column names in a table's alias"));
    }
    Ok((
        crate::sql::ddl::table_name(name)?,
        alias.as_ref().map(|a| &a.name),
    ))
}

/// A table of a FROM clause: its name, the name it goes by (its alias), its columns.
pub(crate) fn resolve_table(
    target: Target<'_, '_>,
    t: &TableFactor,
) -> Result<(String, String, Vec<String>)> {
    let (table, alias) = plain_table(t)?;
    let schema = target.schema(&table).map_err(|e| match e {
        Error::UnknownTable { .. } => sql_error(t.span(), target.no_table(&table)),
        e => e,
    })?;
    let qualifier = alias.map_or(table.clone(), |a| a.value.clone());
    let names = schema.columns.iter().map(|c| c.name.clone()).collect();
    Ok((table, qualifier, names))
}
