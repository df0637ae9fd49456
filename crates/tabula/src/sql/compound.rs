//! Queries made of queries: the set operations (`UNION [ALL]`, `INTERSECT`, `EXCEPT`) and
//! common table expressions (`WITH name AS (…)`).
//!
//! Each member of a set operation, and each common table expression, runs to its rows as a
//! query of its own ([`select`]); what this module adds is how they combine. A common table
//! expression is computed once, the first time it is named, and read as a subquery in `FROM`
//! is: it is found through the query's [`Scope`] (`Scope::cte`), so the subqueries inside
//! the query see it too.

use std::cell::{OnceCell, RefCell};
use std::cmp::Ordering;
use std::sync::Arc;

use hashbrown::hash_map::Entry;
use hashbrown::{HashMap, HashSet};
use sqlparser::ast::{
    Cte as CteDef, Expr, OrderByKind, OrderBySort, Query, Select, SelectItem, SetExpr, SetOperator,
    SetQuantifier, Spanned, TableFactor, With,
};

use crate::error::{Error, Result};
use crate::sql::scalar::{sql_error, Scope};
use crate::sql::select::{self, Bound, Direction, Each, GroupKey};
use crate::sql::target::Target;
use crate::sql::SqlResult;
use crate::value::Value;

fn unsupported(feature: impl Into<String>) -> Error {
    Error::Unsupported {
        feature: feature.into(),
    }
}

/// The query around one and its row, as [`select::select_each`] takes them.
type Outer<'a> = Option<(&'a dyn Scope, &'a [Value])>;

/// A common table expression, computed: its name, its columns' names and its rows.
#[derive(Debug)]
pub(crate) struct CteRows {
    pub(crate) name: String,
    pub(crate) columns: Vec<String>,
    pub(crate) rows: Arc<Vec<Vec<Value>>>,
}

/// The common table expressions of one `WITH`: the scope a query with `WITH` runs in, as
/// the query around it. It names no column of its own; the queries around it name theirs
/// (a correlated subquery's `WITH` reads its outer row), and their own `WITH`s are found
/// after this one's.
///
/// Each is computed the first time it is named (as SQLite computes a common table
/// expression only where it is read): one that is never named never runs, and one may name
/// another written after it. Inside its own body (or a cycle of them) a name is the table
/// of that name, since tabula runs no recursive query. An error of a computation is kept
/// for [`Ctes::checked`], the name looking unknown meanwhile.
struct Ctes<'a, 't, 'db> {
    defs: &'a [CteDef],
    computed: Vec<OnceCell<CteRows>>,
    computing: RefCell<Vec<bool>>,
    failed: RefCell<Option<Error>>,
    target: Target<'t, 'db>,
    params: &'a [Value],
    outer: Outer<'a>,
}

impl<'a, 't, 'db> Ctes<'a, 't, 'db> {
    fn new(
        target: Target<'t, 'db>,
        with: &'a With,
        params: &'a [Value],
        outer: Outer<'a>,
    ) -> Result<Self> {
        if with.recursive {
            return Err(unsupported("WITH RECURSIVE"));
        }
        let defs = with.cte_tables.as_slice();
        for (i, def) in defs.iter().enumerate() {
            let name = &def.alias.name.value;
            if defs[..i].iter().any(|d| d.alias.name.value == *name) {
                return Err(sql_error(
                    def.alias.name.span,
                    format!("WITH names {name} twice"),
                ));
            }
        }
        Ok(Ctes {
            defs,
            computed: defs.iter().map(|_| OnceCell::new()).collect(),
            computing: RefCell::new(vec![false; defs.len()]),
            failed: RefCell::new(None),
            target,
            params,
            outer,
        })
    }

    /// `r`, unless computing a common table expression failed meanwhile: that error
    /// then (the query may have gone on with the name unknown, or naming a table).
    fn checked<T>(&self, r: Result<T>) -> Result<T> {
        match self.failed.borrow_mut().take() {
            Some(e) => Err(e),
            None => r,
        }
    }

    /// The `i`-th common table expression, computed now if it was not.
    fn get(&self, i: usize) -> Option<&CteRows> {
        if let Some(c) = self.computed[i].get() {
            return Some(c);
        }
        if self.computing.borrow()[i] || self.failed.borrow().is_some() {
            return None;
        }
        self.computing.borrow_mut()[i] = true;
        let r = compute(self.target, &self.defs[i], self.params, self);
        self.computing.borrow_mut()[i] = false;
        match r {
            Ok(c) => Some(self.computed[i].get_or_init(|| c)),
            Err(e) => {
                self.failed.borrow_mut().get_or_insert(e);
                None
            }
        }
    }
}

impl Scope for Ctes<'_, '_, '_> {
    fn resolve(&self, _: Option<&str>, name: &str) -> std::result::Result<usize, String> {
        Err(format!("no column {name} here"))
    }

    fn outer(&self, qualifier: Option<&str>, name: &str) -> Option<Value> {
        let (outer, row) = self.outer?;
        match outer.resolve(qualifier, name) {
            Ok(i) => row.get(i).cloned(),
            Err(_) => outer.outer(qualifier, name),
        }
    }

    fn cte(&self, name: &str) -> Option<&CteRows> {
        match self.defs.iter().position(|d| d.alias.name.value == name) {
            Some(i) => self.get(i),
            None => self.outer?.0.cte(name),
        }
    }
}

/// One common table expression, its query run in the scope of its `WITH`.
fn compute(
    target: Target<'_, '_>,
    def: &CteDef,
    params: &[Value],
    ctes: &Ctes<'_, '_, '_>,
) -> Result<CteRows> {
    let name = def.alias.name.value.clone();
    if def.from.is_some() {
        return Err(unsupported("FROM after a common table expression"));
    }
    // `MATERIALIZED` and `NOT MATERIALIZED` change nothing: every one is computed once.
    let env = Some((ctes as &dyn Scope, &[][..]));
    let r = select::select_each(target, &def.query, params, env, None)?;
    let columns = if def.alias.columns.is_empty() {
        r.columns
    } else {
        if def.alias.columns.iter().any(|c| c.data_type.is_some()) {
            return Err(unsupported(
                "types in a common table expression's column list",
            ));
        }
        if def.alias.columns.len() != r.columns.len() {
            return Err(sql_error(
                def.alias.name.span,
                format!(
                    "{name} names {} columns but its query gives {}",
                    def.alias.columns.len(),
                    r.columns.len()
                ),
            ));
        }
        def.alias
            .columns
            .iter()
            .map(|c| c.name.value.clone())
            .collect()
    };
    Ok(CteRows {
        name,
        columns,
        rows: Arc::new(r.rows),
    })
}

/// A query with `WITH`: the query itself (see [`select::query`]) in the scope of its common
/// table expressions.
pub(crate) fn with_ctes(
    target: Target<'_, '_>,
    q: &Query,
    with: &With,
    params: &[Value],
    outer: Outer<'_>,
    each: Option<Each<'_>>,
    bind_only: Option<&mut Bound>,
) -> Result<SqlResult> {
    let ctes = Ctes::new(target, with, params, outer)?;
    let r = select::query_body(target, q, params, Some((&ctes, &[])), each, bind_only);
    ctes.checked(r)
}

/// The common table expression a table of `FROM` names, if the query or one around it has
/// one of that name (an unqualified name only: `main.t` is the stored table).
pub(crate) fn cte_named<'o>(t: &TableFactor, outer: Outer<'o>) -> Option<&'o CteRows> {
    let (scope, _) = outer?;
    let TableFactor::Table { name, .. } = t else {
        return None;
    };
    match name.0.as_slice() {
        [part] => scope.cte(&part.as_ident()?.value),
        _ => None,
    }
}

/// What a query with `WITH` shows for `EXPLAIN`: each common table expression with its
/// own plan (indented), then the query's, which `explain_body` gives in their scope.
pub(crate) fn explain_with(
    target: Target<'_, '_>,
    with: &With,
    params: &[Value],
    outer: Outer<'_>,
    explain_body: &dyn Fn(Outer<'_>) -> Result<Vec<String>>,
) -> Result<Vec<String>> {
    let ctes = Ctes::new(target, with, params, outer)?;
    let env = Some((&ctes as &dyn Scope, &[][..]));
    let mut out = Vec::new();
    for (i, def) in with.cte_tables.iter().enumerate() {
        let plan = ctes.checked(select::explain_in(target, &def.query, params, env))?;
        let n = match ctes.get(i) {
            Some(c) => c.rows.len(),
            None => return Err(ctes.checked(Ok(())).err().unwrap_or_else(|| unknown(def))),
        };
        out.push(format!(
            "WITH {} (run once, {}):",
            def.alias.name.value,
            count(n, "row")
        ));
        out.extend(plan.into_iter().map(|l| format!("  {l}")));
    }
    out.extend(ctes.checked(explain_body(env))?);
    Ok(out)
}

/// The error for a common table expression that names itself alone (nothing to compute).
fn unknown(def: &CteDef) -> Error {
    sql_error(
        def.alias.name.span,
        format!("{} could not be computed", def.alias.name.value),
    )
}

/// `n` things, singular or plural.
pub(crate) fn count(n: usize, thing: &str) -> String {
    match n {
        1 => format!("1 {thing}"),
        n => format!("{n} {thing}s"),
    }
}

/// The rows of a set operation's member (or of a whole set operation), with its columns'
/// names (the leftmost query's, as in SQLite).
struct Member {
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
}

/// A query whose body is a set operation (or a parenthesised query): every member run,
/// their rows combined, then the query's own `ORDER BY` (positions or names of the
/// result's columns, or an item of the leftmost `SELECT`) and `LIMIT`/`OFFSET`. With
/// `bind_only`, every member is bound and nothing runs.
pub(crate) fn set_query(
    target: Target<'_, '_>,
    q: &Query,
    params: &[Value],
    outer: Option<(&dyn Scope, &[Value])>,
    each: Option<Each<'_>>,
    bind_only: Option<&mut Bound>,
) -> Result<SqlResult> {
    refuse_clauses(q)?;
    let binding = bind_only.is_some();
    let Member { columns, mut rows } = member(target, &q.body, params, outer, binding)?;
    let order = order_of(q, &columns)?;
    let (limit, offset) = select::window(q, params)?;
    if binding {
        return Ok(SqlResult {
            columns,
            ..SqlResult::default()
        });
    }
    if !order.is_empty() {
        // Stable: rows equal on every key stay in the order the members gave them.
        rows.sort_by(|a, b| {
            order
                .iter()
                .map(|&(i, dir)| select::order_by(dir, &a[i], &b[i]))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });
    }
    let kept = rows
        .into_iter()
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX));
    match each {
        Some(f) => {
            for row in kept {
                if !f(&row)? {
                    break;
                }
            }
            Ok(SqlResult {
                columns,
                ..SqlResult::default()
            })
        }
        None => Ok(SqlResult {
            columns,
            rows: kept.collect(),
            changed: 0,
        }),
    }
}

/// The clauses of other dialects a set operation's query may carry, refused rather than
/// ignored.
fn refuse_clauses(q: &Query) -> Result<()> {
    if q.fetch.is_some() {
        return Err(unsupported("FETCH"));
    }
    if !q.locks.is_empty() || q.for_clause.is_some() {
        return Err(unsupported(
            "FOR UPDATE, FOR SHARE and other locking clauses",
        ));
    }
    if q.settings.is_some() || q.format_clause.is_some() || !q.pipe_operators.is_empty() {
        return Err(unsupported("SETTINGS, FORMAT and pipe operators"));
    }
    Ok(())
}

/// Runs a member of a set operation: a `SELECT`, a parenthesised query (with its own
/// `ORDER BY` and `LIMIT`, as PostgreSQL allows), or a set operation of members.
fn member(
    target: Target<'_, '_>,
    body: &SetExpr,
    params: &[Value],
    outer: Option<(&dyn Scope, &[Value])>,
    binding: bool,
) -> Result<Member> {
    let run = |q: &Query| -> Result<Member> {
        let r = if binding {
            select::query(target, q, params, outer, None, Some(&mut Bound::default()))?
        } else {
            select::select_each(target, q, params, outer, None)?
        };
        Ok(Member {
            columns: r.columns,
            rows: r.rows,
        })
    };
    match body {
        SetExpr::SetOperation {
            op,
            set_quantifier,
            left,
            right,
        } => {
            let all = match set_quantifier {
                SetQuantifier::All => true,
                SetQuantifier::Distinct | SetQuantifier::None => false,
                _ => return Err(unsupported(format!("{op} BY NAME"))),
            };
            match op {
                SetOperator::Minus => return Err(unsupported("MINUS (write EXCEPT)")),
                SetOperator::Intersect | SetOperator::Except if all => {
                    return Err(unsupported(format!("{op} ALL (SQLite has {op} alone)")))
                }
                _ => {}
            }
            let l = member(target, left, params, outer, binding)?;
            let r = member(target, right, params, outer, binding)?;
            if l.columns.len() != r.columns.len() {
                return Err(sql_error(
                    body.span(),
                    format!(
                        "the queries of a {op} give {} and {} columns: they must give as many",
                        l.columns.len(),
                        r.columns.len()
                    ),
                ));
            }
            Ok(Member {
                columns: l.columns,
                rows: combine(*op, all, l.rows, r.rows),
            })
        }
        SetExpr::Select(_) => run(&alone(body)),
        SetExpr::Query(q) => run(q),
        other => Err(select::unsupported_body(other)),
    }
}

/// A row as a key: rows SQL calls equal (nulls equal to nulls, as `DISTINCT` has it)
/// share one.
fn key(row: &[Value]) -> Vec<GroupKey> {
    row.iter().map(GroupKey::of).collect()
}

/// One row of each key, where the key first comes, holding the values of its last row (an
/// integer and the same float are one key: `SELECT 1 UNION SELECT 1.0` is 1.0, as SQLite,
/// whose index of the rows keeps the last one written).
fn distinct(rows: impl IntoIterator<Item = Vec<Value>>) -> Vec<Vec<Value>> {
    let mut at: HashMap<Vec<GroupKey>, usize> = HashMap::new();
    let mut out: Vec<Vec<Value>> = Vec::new();
    for row in rows {
        match at.entry(key(&row)) {
            Entry::Occupied(e) => out[*e.get()] = row,
            Entry::Vacant(e) => {
                e.insert(out.len());
                out.push(row);
            }
        }
    }
    out
}

/// The rows of `left op right`: `UNION ALL` both, one after the other; `UNION` the
/// distinct rows of both, `INTERSECT` the distinct rows of `left` that `right` has,
/// `EXCEPT` those it has not (each with the values of its last row in `left`).
fn combine(
    op: SetOperator,
    all: bool,
    mut left: Vec<Vec<Value>>,
    right: Vec<Vec<Value>>,
) -> Vec<Vec<Value>> {
    match op {
        SetOperator::Union if all => {
            left.extend(right);
            left
        }
        SetOperator::Union => distinct(left.into_iter().chain(right)),
        _ => {
            let other: HashSet<Vec<GroupKey>> = right.iter().map(|r| key(r)).collect();
            let wanted = op == SetOperator::Intersect;
            distinct(left)
                .into_iter()
                .filter(|r| other.contains(&key(r)) == wanted)
                .collect()
        }
    }
}

/// The `ORDER BY` of a set operation: each key a column of the result, given by its
/// position, its name, or the alias or expression of an item of one of its `SELECT`s (the
/// first from the left that has it, as SQLite matches them), with its direction.
fn order_of(q: &Query, columns: &[String]) -> Result<Vec<(usize, Direction)>> {
    let Some(ob) = &q.order_by else {
        return Ok(Vec::new());
    };
    let OrderByKind::Expressions(list) = &ob.kind else {
        return Err(unsupported("ORDER BY ALL"));
    };
    let mut selects = Vec::new();
    members_of(&q.body, &mut selects);
    // The result column of the first item, in any member from the left, that `matches`.
    let item = |matches: &dyn Fn(&Select, &SelectItem) -> bool| {
        selects.iter().find_map(|s| {
            let i = s.projection.iter().position(|it| matches(s, it))?;
            result_column(&s.projection, i, columns.len())
        })
    };
    let mut out = Vec::with_capacity(list.len());
    for (n, o) in list.iter().enumerate() {
        if matches!(o.options.sort, Some(OrderBySort::Using(_))) {
            return Err(unsupported("ORDER BY … USING"));
        }
        let dir = Direction {
            desc: matches!(o.options.sort, Some(OrderBySort::Desc)),
            nulls_first: o.options.nulls_first,
        };
        let mut e = &o.expr;
        while let Expr::Nested(inner) = e {
            e = inner;
        }
        let by_position = select::position(e).map(|p| {
            usize::try_from(p)
                .ok()
                .and_then(|p| p.checked_sub(1))
                .filter(|&i| i < columns.len())
                .ok_or_else(|| {
                    sql_error(
                        o.expr.span(),
                        format!("ORDER BY position {p} is not a column of the result"),
                    )
                })
        });
        if let Expr::Collate { .. } = e {
            return Err(unsupported("COLLATE"));
        }
        // An item's expression as written, the same as the key's.
        let text = e.to_string();
        let same = |x: &Expr| x.to_string() == text;
        let found = match (by_position, e) {
            (Some(at), _) => Some(at?),
            (None, Expr::Identifier(id)) => columns
                .iter()
                .position(|c| *c == id.value)
                .or_else(|| {
                    item(&|_, i| {
                        matches!(i, SelectItem::ExprWithAlias { alias, .. } if alias.value == id.value)
                    })
                })
                .or_else(|| item(&|_, i| item_expr(i).is_some_and(same))),
            // `t.c`: an item written so, or `c` in a member that reads `t`.
            (None, Expr::CompoundIdentifier(parts)) => match parts.as_slice() {
                [t, c] => item(&|s, i| {
                    item_expr(i).is_some_and(|x| {
                        same(x)
                            || matches!(x, Expr::Identifier(id) if id.value == c.value)
                                && reads(s, &t.value)
                    })
                }),
                _ => item(&|_, i| item_expr(i).is_some_and(same)),
            },
            (None, _) => item(&|_, i| item_expr(i).is_some_and(same)),
        };
        let Some(at) = found.filter(|&i| i < columns.len()) else {
            return Err(sql_error(
                o.expr.span(),
                format!(
                    "ORDER BY term {} of a UNION, INTERSECT or EXCEPT is not a column of its \
                     result: name one, or give its position",
                    n + 1
                ),
            ));
        };
        out.push((at, dir));
    }
    Ok(out)
}

/// An item's expression (none for `*` and `t.*`).
fn item_expr(i: &SelectItem) -> Option<&Expr> {
    match i {
        SelectItem::UnnamedExpr(x) | SelectItem::ExprWithAlias { expr: x, .. } => Some(x),
        _ => None,
    }
}

/// The result column of item `i` of `items`, when it can be known without the tables: past
/// a `*` (or `t.*`) only when that is the one wildcard, whose columns are then the result's
/// `width` less the other items.
fn result_column(items: &[SelectItem], i: usize, width: usize) -> Option<usize> {
    let wild = |it: &SelectItem| item_expr(it).is_none();
    match items.iter().filter(|it| wild(it)).count() {
        0 => Some(i),
        _ if !items[..i].iter().any(wild) => Some(i),
        1 => (i + width).checked_sub(items.len()),
        _ => None,
    }
}

/// Whether `s` reads a table or subquery called `t` (its name or alias).
fn reads(s: &Select, t: &str) -> bool {
    s.from
        .iter()
        .flat_map(|twj| std::iter::once(&twj.relation).chain(twj.joins.iter().map(|j| &j.relation)))
        .any(|f| match f {
            TableFactor::Table { name, alias, .. } => match alias {
                Some(a) => a.name.value == t,
                None => name
                    .0
                    .last()
                    .and_then(|p| p.as_ident())
                    .is_some_and(|i| i.value == t),
            },
            TableFactor::Derived { alias, .. } => alias.as_ref().is_some_and(|a| a.name.value == t),
            _ => false,
        })
}

/// The `SELECT`s of a set operation, from the left.
fn members_of<'b>(body: &'b SetExpr, out: &mut Vec<&'b Select>) {
    match body {
        SetExpr::Select(s) => out.push(s),
        SetExpr::SetOperation { left, right, .. } => {
            members_of(left, out);
            members_of(right, out);
        }
        SetExpr::Query(q) => members_of(&q.body, out),
        _ => {}
    }
}

/// What `EXPLAIN` shows for a set operation: each member's plan (indented, numbered from
/// the left), how they combine, then the order and the window.
pub(crate) fn explain_set(
    target: Target<'_, '_>,
    q: &Query,
    params: &[Value],
    outer: Option<(&dyn Scope, &[Value])>,
) -> Result<Vec<String>> {
    // A plan is shown only for a query that would run: its errors first.
    set_query(target, q, params, outer, None, Some(&mut Bound::default()))?;
    let mut out = Vec::new();
    let how = plans(target, &q.body, params, outer, &mut 0, &mut out)?;
    out.push(format!("combine: {how}"));
    if q.order_by.is_some() {
        out.push("sort (ORDER BY)".to_owned());
    }
    if q.limit_clause.is_some() {
        out.push("window (LIMIT/OFFSET)".to_owned());
    }
    Ok(out)
}

/// Adds the plans of `body`'s members to `out`, each under its number (`n` counts them),
/// and returns how
/// they combine (`1 UNION (2 INTERSECT 3)`).
fn plans(
    target: Target<'_, '_>,
    body: &SetExpr,
    params: &[Value],
    outer: Option<(&dyn Scope, &[Value])>,
    n: &mut usize,
    out: &mut Vec<String>,
) -> Result<String> {
    let leaf = |q: &Query, n: &mut usize, out: &mut Vec<String>| -> Result<String> {
        *n += 1;
        let lines = select::explain_in(target, q, params, outer)?;
        out.push(format!("query {n}:"));
        out.extend(lines.into_iter().map(|l| format!("  {l}")));
        Ok(n.to_string())
    };
    match body {
        SetExpr::SetOperation {
            op,
            set_quantifier,
            left,
            right,
        } => {
            let l = plans(target, left, params, outer, n, out)?;
            let r = plans(target, right, params, outer, n, out)?;
            let all = if matches!(set_quantifier, SetQuantifier::All) {
                " ALL"
            } else {
                ""
            };
            let wrap = |s: String, side: &SetExpr| match side {
                SetExpr::SetOperation { .. } => format!("({s})"),
                _ => s,
            };
            Ok(format!("{} {op}{all} {}", wrap(l, left), wrap(r, right)))
        }
        SetExpr::Select(_) => leaf(&alone(body), n, out),
        SetExpr::Query(q) => leaf(q, n, out),
        other => Err(select::unsupported_body(other)),
    }
}

/// A member `SELECT` as a query of its own (no `ORDER BY` or window: the set operation's
/// apply to the whole).
fn alone(body: &SetExpr) -> Query {
    Query {
        with: None,
        body: Box::new(body.clone()),
        order_by: None,
        limit_clause: None,
        fetch: None,
        locks: Vec::new(),
        for_clause: None,
        settings: None,
        format_clause: None,
        pipe_operators: Vec::new(),
    }
}
