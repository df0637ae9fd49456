//! `SELECT`: the rows of `FROM` (one table, or several joined with `[INNER] JOIN` and
//! `LEFT [OUTER] JOIN … ON`), `WHERE`, grouping (`GROUP BY` expressions, or one group when
//! the items aggregate) with `COUNT`, `SUM`, `TOTAL`, `AVG`, `MIN`, `MAX` (`DISTINCT` too)
//! and `HAVING`, the items, `DISTINCT`, `ORDER BY` and the window.
//!
//! A row of `FROM` is the values of every table in it, one after the other; a group is
//! evaluated on its first row followed by its aggregates' values.
//!
//! This module runs a query's clauses in their order and keeps what they keep (the sink:
//! rows, the best rows, or groups). FROM is resolved in [`from`](super::from) and its rows
//! produced in [`join`](super::join); the names an expression sees are
//! [`scope`](super::scope)'s, correlated subqueries [`correlated`](super::correlated)'s,
//! aggregates' running state [`accumulate`](super::accumulate)'s.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use hashbrown::{HashMap, HashSet};
use std::sync::Arc;

use sqlparser::ast::{
    Distinct, Expr, GroupByExpr, LimitClause, ObjectName, OrderByExpr, OrderByKind, OrderBySort,
    Query, Select, SelectItem, SelectItemQualifiedWildcardKind, SetExpr, Spanned, UnaryOperator,
};

use crate::error::{Error, Result};
use crate::query::Pred;
use crate::record::{int_key, Cols};
use crate::schema::{ColumnType, Schema};
use crate::sql::accumulate::Acc;
use crate::sql::compound;
use crate::sql::correlated::{self, Correlated, Memo, Phase};
use crate::sql::from::{resolve_from, table_preds, Link, Relation, Source, Tables};
use crate::sql::join::{bind_on, produce, push_where};
use crate::sql::numeric;
use crate::sql::rows_to::{hand_refs, Each};
use crate::sql::scalar::{
    self, order_cmp, sql_error, truth, AggCall, CorrelatedCall, Params, Scalar, Scope,
};
use crate::sql::scope::{Beyond, QueryScope, WithAliases};
use crate::sql::target::Target;
use crate::sql::unsupported;
use crate::sql::SqlResult;
use crate::value::{whole_i64, Value, ValueRef};

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

/// What binding a query tells [`explain`](super::explain::explain) of how it would run, decided as running it decides.
#[derive(Debug, Default)]
pub(crate) struct Bound {
    /// Whether the rows are aggregated (GROUP BY, an aggregate or HAVING).
    pub(super) grouped: bool,
    /// ORDER BY … LIMIT kept by a heap of the best rows.
    pub(super) heap_top: bool,
    /// ORDER BY … LIMIT handed to the table's own read: the keys (column, descending) and
    /// how many rows it keeps.
    pub(super) own_top: Option<(Vec<(usize, bool)>, usize)>,
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
        if let Some(star) = sel.projection.iter().find(|i| is_star(i)) {
            return Err(sql_error(star.span(), "SELECT * needs a FROM clause"));
        }
    }
    let (mut rels, tables) = resolve_from(target, &sel.from, params, outer)?;
    let scope = QueryScope {
        tables: &tables,
        outer,
        items: &sel.projection,
    };
    let scope: &dyn Scope = &scope;
    // A subquery run once here still sees the values of the queries around this one.
    let beyond = Beyond::new(scope);
    let run = |sq: &Query, bind: bool, aliases: bool| {
        beyond.rows_of(target.binding_if(bind), sq, params, aliases)
    };
    let mut p = Params::with_subqueries(&run, target.binds_only()).for_run(params);
    let Clauses {
        filter,
        group_by,
        columns,
        exprs,
        having,
        order,
        aggs,
        calls,
        in_where,
        in_group_by,
        in_having,
    } = compile_clauses(q, sel, &tables, scope, &mut p)?;
    let (limit, offset) = window(target, q, params)?;
    let grouped = !group_by.is_empty() || !aggs.is_empty() || having.is_some();
    // ORDER BY … LIMIT keeps only the best rows: the table's own read keeps them when it
    // can (`library_order`), else a heap in the sink.
    let heap_top = sel.distinct.is_none() && limit.is_some() && !order.is_empty() && !grouped;
    let plain = calls.is_empty() && !grouped && sel.distinct.is_none();
    let binding = bind_only.is_some() || target.binds_only();
    if let Some(b) = bind_only {
        *b = Bound {
            grouped,
            heap_top,
            own_top: library_order(&rels, &order, filter.is_some(), plain)
                .zip(limit)
                .map(|((_, keys), l)| (keys, l.saturating_add(offset))),
        };
    }
    // Bound, it returns no rows; and `LIMIT 0` reads no row and computes nothing, as SQLite
    // (which jumps past the whole loop): no WHERE, item, aggregate, HAVING or correlated
    // subquery is evaluated, so none can fail, and an aggregate makes no group of no rows.
    if binding || limit == Some(0) {
        // Its correlated subqueries are bound all the same, running nothing.
        correlated::bind(target, &calls, scope, tables.width, params)?;
        bind_on(target, &rels, tables.width, params, outer)?;
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
        memos: Memo::for_calls(&calls),
    });

    // WHERE's predicates on one table's columns narrow that table's scan (through an index
    // when one serves them); the whole condition is still evaluated on every row, unless
    // the tables' reads apply all of it. A table of `FROM a, b` joins
    // through WHERE's equality between its columns and earlier ones.
    let had_filter = filter.is_some();
    let filter = filter.and_then(|f| planned_where(f, &mut rels, params));
    let keys = order.iter().map(|(k, _)| k);
    let args = aggs
        .iter()
        .flat_map(|a| a.arg.iter().chain(&a.sep).chain(&a.filter));
    let scalars = filter.iter().chain(&group_by).chain(&exprs).chain(&having);
    let used = used_columns(
        tables.width,
        &rels,
        scalars.chain(keys).chain(args),
        correlated.is_some(),
    );

    if let Some(f) = each
        .as_mut()
        .filter(|_| !grouped && order.is_empty() && sel.distinct.is_none() && correlated.is_none())
    {
        stream(
            target,
            &rels,
            &used,
            params,
            outer,
            filter.as_ref(),
            &exprs,
            (offset, limit),
            f,
        )?;
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
                skip: offset,
            }
        } else {
            State::Rows {
                out: Vec::new(),
                stop: None,
                skip: 0,
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
    if let Some(c) = &correlated {
        c.bind_unrun(tables.width)?;
    }

    let rows = final_rows(out, sel.distinct.is_some(), &order, (offset, limit), each)?;
    Ok(SqlResult {
        columns,
        rows,
        changed: 0,
    })
}

/// A SELECT's clauses compiled over its FROM.
struct Clauses {
    filter: Option<Scalar>,
    group_by: Vec<Scalar>,
    /// The result's column names, and their expressions.
    columns: Vec<String>,
    exprs: Vec<Scalar>,
    having: Option<Scalar>,
    order: Vec<Key>,
    /// The aggregate calls of the items, HAVING and ORDER BY: columns after the row.
    aggs: Vec<AggCall>,
    /// The correlated subqueries of every clause, in the order met: WHERE's first (up to
    /// `in_where`), then GROUP BY's (up to `in_group_by`), the items', HAVING's
    /// (`in_having`) and ORDER BY's.
    calls: Vec<CorrelatedCall>,
    in_where: usize,
    in_group_by: usize,
    in_having: std::ops::Range<usize>,
}

/// Compiles the clauses of `sel` (and `q`'s ORDER BY) over `tables`, the query's FROM.
fn compile_clauses(
    q: &Query,
    sel: &Select,
    tables: &Tables,
    scope: &dyn Scope,
    p: &mut Params<'_>,
) -> Result<Clauses> {
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
        .map(|w| scalar::compile(w, &aliased, p))
        .transpose()?;
    let in_where = met(p);
    let group_by = group_keys(sel, tables, scope, p)?;
    let in_group_by = met(p);
    // Items, HAVING and ORDER BY may aggregate: their calls become columns after the row.
    p.aggs = Some(Vec::new());
    p.agg_base = tables.width;
    let Items {
        columns,
        exprs,
        aliases,
    } = items(&sel.projection, tables, scope, p)?;
    let aggregating_items = p.aggs.as_ref().is_some_and(|a| !a.is_empty());
    if let (Some(h), true) = (&sel.having, group_by.is_empty() && !aggregating_items) {
        // As SQLite decides it, by GROUP BY and the items alone: an aggregate only in
        // HAVING does not make the query one group (PostgreSQL's rule, under which a bare
        // column's value would come from any row).
        return Err(sql_error(
            h.span(),
            "HAVING on a query that does not aggregate (no GROUP BY, and no aggregate among \
             its items): filter its rows with WHERE",
        ));
    }
    let before_having = met(p);
    let having = sel
        .having
        .as_ref()
        .map(|h| scalar::compile(h, &aliased, p))
        .transpose()?;
    let in_having = before_having..met(p);
    let aggregates_before_order = p.aggs.as_ref().map_or(0, Vec::len);
    let order = order_by_keys(q, &exprs, &columns, &aliases, &aliased, p)?;
    let aggs = p.aggs.take().unwrap_or_default();
    if aggregates_before_order == 0 && !aggs.is_empty() && group_by.is_empty() && having.is_none() {
        // As SQLite ("misuse of aggregate"): only an aggregating query sorts by one.
        let at = match q.order_by.as_ref().map(|o| &o.kind) {
            Some(OrderByKind::Expressions(list)) => list.first().map(|o| o.expr.span()),
            _ => None,
        }
        .unwrap_or(sel.select_token.0.span);
        return Err(sql_error(
            at,
            "an aggregate in ORDER BY of a query that does not aggregate (no GROUP BY, and \
             none among its items or in HAVING)",
        ));
    }
    let calls = p.correlated.take().unwrap_or_default();
    Ok(Clauses {
        filter,
        group_by,
        columns,
        exprs,
        having,
        order,
        aggs,
        calls,
        in_where,
        in_group_by,
        in_having,
    })
}

/// Whether a SELECT item is `*` or `t.*`.
fn is_star(item: &SelectItem) -> bool {
    matches!(
        item,
        SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
    )
}

/// The keys of a SELECT's GROUP BY: an expression over the row, or a result column named
/// by its position or alias (see [`group_item`]).
fn group_keys(
    sel: &Select,
    tables: &Tables,
    scope: &dyn Scope,
    p: &mut Params<'_>,
) -> Result<Vec<Scalar>> {
    match &sel.group_by {
        GroupByExpr::Expressions(list, mods) if mods.is_empty() => list
            .iter()
            .map(|e| match group_item(e, &sel.projection, tables)? {
                Grouped::Expr(e) => scalar::compile(e, scope, p),
                Grouped::Column(c) => Ok(Scalar::Column(c)),
            })
            .collect(),
        _ => Err(unsupported("GROUP BY ALL and grouping modifiers")),
    }
}

/// Plans WHERE (`filter`) into the tables' reads (`rels`) and returns what is left of it to
/// evaluate on each row, its numeric parts prepared to run as numbers: `None` when the
/// reads apply all of it exactly.
fn planned_where(filter: Scalar, rels: &mut [Relation], params: &[Value]) -> Option<Scalar> {
    if push_where(&filter, rels, params) {
        return None;
    }
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
    Some(numeric::prepared(&filter, &numbers, params))
}

/// The result columns of a SELECT's items (every column of a `*` or `t.*` among them).
struct Items<'a> {
    /// Their names, as the result shows them.
    columns: Vec<String>,
    /// Their expressions, over the joined row (and the group's aggregates after it).
    exprs: Vec<Scalar>,
    /// The names SQLite's ORDER BY looks at first (an `AS` name, or a column a `*` gives,
    /// in item order, not a plain item), and where each is among `exprs`.
    aliases: Vec<(&'a str, usize)>,
}

/// Compiles a SELECT's items over `tables`, the query's FROM.
fn items<'a>(
    projection: &'a [SelectItem],
    tables: &'a Tables,
    scope: &dyn Scope,
    p: &mut Params<'_>,
) -> Result<Items<'a>> {
    let mut columns = Vec::new();
    let mut exprs = Vec::new();
    let mut aliases: Vec<(&str, usize)> = Vec::new();
    for item in projection {
        match item {
            SelectItem::Wildcard(_) => {
                for (_, names, at) in &tables.tables {
                    for (i, n) in names.iter().enumerate() {
                        aliases.push((n.as_str(), exprs.len()));
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
                    aliases.push((n.as_str(), exprs.len()));
                    columns.push(n.clone());
                    exprs.push(Scalar::Column(at + i));
                }
            }
            SelectItem::UnnamedExpr(e) => {
                // Compiled first: it refuses a tree too deep to print.
                exprs.push(scalar::compile(e, scope, p)?);
                // A column in parentheses is named by the column, as SQLite names it: a
                // query around it finds `a` in `SELECT (a), b AS c`.
                let mut bare = e;
                while let Expr::Nested(inner) = bare {
                    bare = inner;
                }
                columns.push(match bare {
                    Expr::Identifier(id) => id.value.clone(),
                    Expr::CompoundIdentifier(parts) => {
                        parts.last().map(|p| p.value.clone()).unwrap_or_default()
                    }
                    _ => e.to_string(),
                });
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                aliases.push((alias.value.as_str(), exprs.len()));
                columns.push(alias.value.clone());
                exprs.push(scalar::compile(expr, scope, p)?);
            }
            other => return Err(unsupported(format!("the select item {other}"))),
        }
    }
    Ok(Items {
        columns,
        exprs,
        aliases,
    })
}

/// The keys of a SELECT's ORDER BY: a position, a name (an `AS` name or a column of a `*`,
/// the first in item order, wins over a plain item of the same name, as in SQLite), else
/// an expression over the row, else a result column of that name.
fn order_by_keys(
    q: &Query,
    exprs: &[Scalar],
    columns: &[String],
    aliases: &[(&str, usize)],
    aliased: &dyn Scope,
    p: &mut Params<'_>,
) -> Result<Vec<Key>> {
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
                // A name (an `AS` name or a column of a `*`, the first in item order) wins
                // over a plain item of the same name, as in SQLite; else the key is an
                // expression; else a result column of that name.
                (Expr::Identifier(id), _) => match aliases.iter().find(|(a, _)| *a == id.value) {
                    Some(&(_, at)) => exprs[at].clone(),
                    None => match scalar::compile(named, aliased, p) {
                        Ok(key) => key,
                        // A name only the result has: `"count(*)"`, or a column two
                        // tables have, named by the one item that reads it.
                        Err(e) => match columns.iter().position(|c| *c == id.value) {
                            Some(at) => exprs[at].clone(),
                            None => return Err(e),
                        },
                    },
                },
                (e, _) => scalar::compile(e, aliased, p)?,
            };
            order.push((key, desc));
        }
    }
    Ok(order)
}

/// Which columns of the joined row (`width` wide) the query reads: those `scalars` and the
/// joins' `ON` conditions name, or every one when a subquery runs per row (`correlated`,
/// or in an `ON`), since it may name any.
fn used_columns<'s>(
    width: usize,
    rels: &'s [Relation],
    scalars: impl Iterator<Item = &'s Scalar>,
    correlated: bool,
) -> Vec<bool> {
    let mut used = vec![false; width];
    let ons = rels.iter().filter_map(|r| match &r.link {
        Link::On { cond, .. } => cond.as_ref(),
        Link::Cross => None,
    });
    for s in scalars.chain(ons) {
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
    if correlated || on_correlated {
        used.iter_mut().for_each(|u| *u = true);
    }
    used
}

/// Hands each row to `f` as it is found (the query neither groups, sorts, keeps distinct
/// rows nor runs a subquery per row), the window (`offset`, `limit`) counted on the way.
#[allow(clippy::too_many_arguments)]
fn stream(
    target: Target<'_, '_>,
    rels: &[Relation],
    used: &[bool],
    params: &[Value],
    outer: Option<(&dyn Scope, &[Value])>,
    filter: Option<&Scalar>,
    exprs: &[Scalar],
    (offset, limit): (usize, Option<usize>),
    f: &mut Each<'_>,
) -> Result<()> {
    // The joined row's width: `used` has a flag per column.
    let width = used.len();
    let (mut skip, mut left) = (offset, limit.unwrap_or(usize::MAX));
    // Every column of one table, in its order (`SELECT *`): a row that holds its
    // values as they are goes out without a copy.
    let whole_rows = rels.len() == 1
        && exprs.len() == width
        && exprs
            .iter()
            .enumerate()
            .all(|(i, e)| matches!(e, Scalar::Column(c) if *c == i));
    // Every item a plain column: a borrowing callback is lent them from the row read.
    let plain_columns: Option<Vec<usize>> = match f {
        Each::Refs(_) => exprs
            .iter()
            .map(|e| match e {
                Scalar::Column(c) => Some(*c),
                _ => None,
            })
            .collect(),
        Each::Values(_) => None,
    };
    if left > 0 {
        produce(target, rels, used, params, outer, &mut |row| {
            if !passes_cols(filter, row, params)? {
                return Ok(true);
            }
            if skip > 0 {
                skip -= 1;
                return Ok(true);
            }
            left -= 1;
            if let (Each::Refs(lent), Some(cols)) = (&mut *f, &plain_columns) {
                // Lent where the row is: nothing copied, not even its texts.
                let more = hand_refs(&mut **lent, cols.len(), |refs| row.refs_into(cols, refs))?;
                return Ok(more && left > 0);
            }
            // Asked only of whole-row queries: it is a dynamic call on every row.
            let held = if whole_rows { row.as_values() } else { None };
            match held.filter(|v| v.len() == exprs.len()) {
                Some(values) => Ok(f.give(values)? && left > 0),
                None => {
                    let values = eval_all(exprs.iter(), row, params)?;
                    Ok(f.give(&values)? && left > 0)
                }
            }
        })?;
    }
    Ok(())
}

/// What the sink kept (each row's ORDER BY keys beside its values) as the result: distinct
/// (`distinct`), ordered, cut to the window, and handed to `each` (leaving none) or
/// returned.
fn final_rows(
    out: Vec<(Vec<Value>, Vec<Value>)>,
    distinct: bool,
    order: &[Key],
    (offset, limit): (usize, Option<usize>),
    each: Option<Each<'_>>,
) -> Result<Vec<Vec<Value>>> {
    let mut rows: Vec<(Vec<Value>, Vec<Value>)> = if distinct {
        let mut seen = HashSet::new();
        out.into_iter()
            .filter(|(_, v)| seen.insert(v.iter().map(GroupKey::of).collect::<Vec<_>>()))
            .collect()
    } else {
        out
    };
    if !order.is_empty() {
        // Stable: ties keep the order rows came in. Nulls sort first, as in SQLite.
        rows.sort_by(|a, b| order_keys(order, &a.0, &b.0));
    }
    let rows = rows
        .into_iter()
        .map(|(_, v)| v)
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX));
    Ok(match each {
        Some(mut f) => {
            for r in rows {
                if !f.give(&r)? {
                    break;
                }
            }
            Vec::new()
        }
        None => rows.collect(),
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GroupKey {
    Null,
    Int(i64),
    Float(u64),
    Text(String),
}

/// A [`GroupKey`] borrowing its text, to look one up without copying the text: it hashes
/// and compares as the key it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum KeyRef<'a> {
    Null,
    Int(i64),
    Float(u64),
    Text(&'a str),
}

impl std::hash::Hash for GroupKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_ref().hash(state);
    }
}

impl hashbrown::Equivalent<GroupKey> for KeyRef<'_> {
    fn equivalent(&self, key: &GroupKey) -> bool {
        *self == key.as_ref()
    }
}

impl GroupKey {
    pub(crate) fn of(v: &Value) -> GroupKey {
        GroupKey::of_ref(v.as_ref())
    }

    pub(super) fn of_ref(v: ValueRef<'_>) -> GroupKey {
        match GroupKey::probe(v) {
            KeyRef::Null => GroupKey::Null,
            KeyRef::Int(i) => GroupKey::Int(i),
            KeyRef::Float(f) => GroupKey::Float(f),
            KeyRef::Text(t) => GroupKey::Text(t.to_owned()),
        }
    }

    /// The key of `v`, borrowed: what a hash of keys is probed with.
    pub(crate) fn probe(v: ValueRef<'_>) -> KeyRef<'_> {
        // Integers, booleans and integral floats: -0.0 and 0.0 are one key.
        if let Some(i) = int_key(v) {
            return KeyRef::Int(i);
        }
        match v {
            ValueRef::Null | ValueRef::Int(_) | ValueRef::Bool(_) => KeyRef::Null,
            // A NaN the library stored (SQL makes none) is a key of its own, one for every
            // NaN, as ORDER BY places them together after every number.
            ValueRef::Float(f) if f.is_nan() => KeyRef::Float(f64::NAN.to_bits()),
            ValueRef::Float(f) => KeyRef::Float(f.to_bits()),
            ValueRef::Text(t) => KeyRef::Text(t),
        }
    }

    fn as_ref(&self) -> KeyRef<'_> {
        match self {
            GroupKey::Null => KeyRef::Null,
            GroupKey::Int(i) => KeyRef::Int(*i),
            GroupKey::Float(f) => KeyRef::Float(*f),
            GroupKey::Text(t) => KeyRef::Text(t),
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
pub(super) type Group = (Vec<Value>, Vec<Acc>);

/// What the rows of FROM become.
enum State<'a> {
    /// Each row's order keys and values.
    Rows {
        out: Vec<(Vec<Value>, Vec<Value>)>,
        /// Enough rows for the window (no order, no DISTINCT): stop reading.
        stop: Option<usize>,
        /// Rows still to be dropped by `OFFSET` before the first kept (no order, no
        /// DISTINCT): they are counted with empty values.
        skip: usize,
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
            State::Rows { out, stop, skip } => {
                if *skip > 0 {
                    // A row `OFFSET` drops: counted, its items not evaluated (as a streamed
                    // query and SQLite skip it), so an item that fails there fails nothing.
                    // (Correlated subqueries of the row's phase have run for it already.)
                    *skip -= 1;
                    out.push((Vec::new(), Vec::new()));
                } else {
                    let values = values(row)?;
                    let keys = eval_all(order.iter().map(|(k, _)| k), row, params)?;
                    out.push((keys, values));
                }
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
        union: Vec::new(),
    };
    table_preds(cond, &rel, params)
}

/// LIMIT and OFFSET, as numbers (placeholders allowed). A negative LIMIT is no limit, as in
/// SQLite. On a target that only binds (see [`Target::binding`]) they are compiled, not
/// evaluated (SQLite evaluates them as the query starts to run), and there is no window.
pub(crate) fn window(
    target: Target<'_, '_>,
    q: &Query,
    params: &[Value],
) -> Result<(Option<usize>, usize)> {
    let Some(clause) = &q.limit_clause else {
        return Ok((None, 0));
    };
    let (limit, offset) = match clause {
        LimitClause::LimitOffset { limit, offset, .. } => {
            (limit.as_ref(), offset.as_ref().map(|o| &o.value))
        }
        LimitClause::OffsetCommaLimit { offset, limit } => (Some(limit), Some(offset)),
    };
    if target.binds_only() {
        for e in limit.into_iter().chain(offset) {
            scalar::compile(e, &Tables::default(), &mut Params::default())?;
        }
        return Ok((None, 0));
    }
    let number = |e: &Expr| -> Result<i64> {
        let mut p = Params::default();
        let v = scalar::compile(e, &Tables::default(), &mut p)?.eval(&[], params)?;
        // As SQLite: any value that is an integer without loss (`2.0`, `'2'`, `1e3`, TRUE).
        let n = match &v {
            Value::Text(t) => {
                let t = t.trim_matches(scalar::is_sqlite_space);
                t.parse::<i64>()
                    .ok()
                    .or_else(|| t.parse::<f64>().ok().and_then(whole_i64))
            }
            v => int_key(v.as_ref()),
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
