//! `EXPLAIN SELECT …`: a line per step of the plan, in the order the steps run.

use sqlparser::ast::{GroupByExpr, Query, SetExpr, TableFactor};

use crate::error::Result;
use crate::sql::compound;
use crate::sql::from::{plain_table, resolve_table};
use crate::sql::from::{resolve_from, Link, Source};
use crate::sql::join::{equi_pair, key_join, push_where};
use crate::sql::scalar::{self, Params, Scope};
use crate::sql::scope::{Beyond, QueryScope, WithAliases};
use crate::sql::select::{query_body, unsupported_body, Bound};
use crate::sql::target::Target;
use crate::value::Value;

/// How EXPLAIN says that `n` correlated subqueries run for each `what`: each answer kept
/// for the next one reading the same outer values (see [`Memo`](super::correlated::Memo)),
/// unless `kept` is false (a join's `ON` inside a write transaction, whose rows may be
/// streamed to a callback that writes between them).
fn per_row(n: usize, what: &str, kept: bool) -> String {
    let how = if kept {
        "answers kept by the outer values read"
    } else {
        "run anew each time: the transaction may write between rows"
    };
    match n {
        1 => format!("a correlated subquery run for each {what} ({how})"),
        n => format!("{n} correlated subqueries run for each {what} ({how})"),
    }
}

/// What `EXPLAIN SELECT …` shows: a line per step, in the order they run, each table with
/// how its scan reads it (an index serving which predicates, or a full scan).
pub(crate) fn explain(target: Target<'_, '_>, q: &Query, params: &[Value]) -> Result<Vec<String>> {
    explain_in(target, q, params, None)
}

/// [`explain`] of a query inside another (`outer`: the names it sees beyond its own, as
/// for [`select_each`](super::select::select_each)).
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
        items: &sel.projection,
    };
    let beyond = Beyond::new(&scope);
    let run = |sq: &Query, bind: bool, aliases: bool| {
        beyond.rows_of(target.binding_if(bind), sq, params, aliases)
    };
    let mut p = Params::with_subqueries(&run, target.binds_only());
    p.correlated = Some(Vec::new());
    // WHERE may name an item's alias, as in `select_each`.
    let aliased = WithAliases {
        tables: &scope,
        items: &sel.projection,
    };
    let filter = sel
        .selection
        .as_ref()
        .map(|w| scalar::compile(w, &aliased, &mut p))
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
                    "subquery {}(run once, {})",
                    alias
                        .as_ref()
                        .map_or(String::new(), |a| format!("{} ", a.name.value)),
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
                    let prefix = format!("{name}: ");
                    let mut how = plan.strip_prefix(&prefix).unwrap_or(&plan).to_owned();
                    if !rel.union.is_empty() {
                        // An OR read as an index union (see `join::union_scan`).
                        let reads = rel
                            .union
                            .iter()
                            .map(|branch| {
                                let preds: Vec<_> =
                                    rel.preds.iter().chain(branch).cloned().collect();
                                let p = target.plan(name, &preds)?.to_string();
                                Ok(p.strip_prefix(&prefix).unwrap_or(&p).to_owned())
                            })
                            .collect::<Result<Vec<_>>>()?;
                        how = format!(
                            "union of {} reads ({}), merged in key order (a full scan if \
                             they find over a quarter of the rows)",
                            reads.len(),
                            reads.join("; ")
                        );
                    }
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
                        // A read statement's integer keys are hashed part way (see
                        // `join::KeyMap`).
                        let lookups = match (key_join(rel), &rel.source) {
                            (Some((_, _, true)), Source::Table { name, .. }) => {
                                match target.pinned(name)? {
                                    Some(p) => match p.table()?.len() / 2 {
                                        0 => "a hash of its rows by key".to_owned(),
                                        n => format!(
                                            "a key lookup per row for the first {n}, then a \
                                             hash of its rows by key"
                                        ),
                                    },
                                    None => "a key lookup per row".to_owned(),
                                }
                            }
                            _ => "a key lookup per row".to_owned(),
                        };
                        out.push(format!("{kind} {strategy} with {named}: {lookups}{preds}"));
                        continue;
                    }
                    match correlated {
                        Some(c) => format!(
                            "{kind} {strategy} with {line}, {}",
                            per_row(c.calls.len(), "pair of rows", target.is_read())
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
        n => out.push(format!("filter (WHERE), {}", per_row(n, "row", true))),
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
