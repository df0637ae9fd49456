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
    Cte as CteDef, Expr, OrderByKind, Query, Select, SelectItem, SetExpr, SetOperator,
    SetQuantifier, Spanned, TableFactor, With,
};

use crate::error::Result;
use crate::sql::rows_to::Each;
use crate::sql::scalar::{sql_error, Scope};
use crate::sql::select::{self, Bound, Direction, GroupKey};
use crate::sql::target::Target;
use crate::sql::unsupported;
use crate::sql::SqlResult;
use crate::sql::{explain, scope};
use crate::value::Value;

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
/// another written after it. Named inside its own body, or in a cycle of them, it is an
/// error ("circular reference", as SQLite says: tabula runs no recursive query). An error
/// of a computation is the statement's, met as the name is resolved, before any row of
/// the query is read.
struct Ctes<'a, 't, 'db> {
    defs: &'a [CteDef],
    computed: Vec<OnceCell<CteRows>>,
    /// Those bound, not run, for a query that only binds (see [`Scope::cte`]): their
    /// columns and no rows, never read by a query that runs.
    bound: Vec<OnceCell<CteRows>>,
    computing: RefCell<Vec<bool>>,
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
            bound: defs.iter().map(|_| OnceCell::new()).collect(),
            computing: RefCell::new(vec![false; defs.len()]),
            target,
            params,
            outer,
        })
    }

    /// The `i`-th common table expression, computed now if it was not. Its errors are
    /// the statement's, as the name is resolved: nothing of the query has run then.
    /// `binding`: bound instead, if it was not computed (see [`Scope::cte`]).
    fn get(&self, i: usize, binding: bool) -> Result<&CteRows> {
        if let Some(c) = self.computed[i].get() {
            return Ok(c);
        }
        let (cell, target) = if binding {
            (&self.bound[i], self.target.binding())
        } else {
            (&self.computed[i], self.target)
        };
        if let Some(c) = cell.get() {
            return Ok(c);
        }
        if self.computing.borrow()[i] {
            // Named inside its own body, or in a cycle of them: a recursive query, which
            // tabula does not run (SQLite's words).
            let name = &self.defs[i].alias.name;
            return Err(sql_error(
                name.span,
                format!(
                    "circular reference: {} (WITH RECURSIVE is not supported)",
                    name.value
                ),
            ));
        }
        self.computing.borrow_mut()[i] = true;
        let r = compute(target, &self.defs[i], self.params, self);
        self.computing.borrow_mut()[i] = false;
        let computed = r?;
        Ok(cell.get_or_init(|| computed))
    }
}

impl Scope for Ctes<'_, '_, '_> {
    fn resolve(&self, _: Option<&str>, name: &str) -> std::result::Result<usize, String> {
        Err(format!("no column {name} here"))
    }

    fn outer(&self, qualifier: Option<&str>, name: &str) -> Option<Value> {
        scope::outer_value(self.outer, qualifier, name)
    }

    fn outer_reason(&self, qualifier: Option<&str>, name: &str) -> Option<String> {
        scope::outer_reason(self.outer, qualifier, name)
    }

    fn cte(&self, name: &str, binding: bool) -> Result<Option<&CteRows>> {
        match (
            self.defs.iter().position(|d| d.alias.name.value == name),
            self.outer,
        ) {
            (Some(i), _) => self.get(i, binding).map(Some),
            (None, Some((outer, _))) => outer.cte(name, binding),
            (None, None) => Ok(None),
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
    select::query_body(target, q, params, Some((&ctes, &[])), each, bind_only)
}

/// The common table expression a table of `FROM` names, if the query or one around it has
/// one of that name (an unqualified name only: `main.t` is the stored table).
/// `binding`: see [`Scope::cte`].
pub(crate) fn cte_named<'o>(
    t: &TableFactor,
    outer: Outer<'o>,
    binding: bool,
) -> Result<Option<&'o CteRows>> {
    let (Some((scope, _)), TableFactor::Table { name, .. }) = (outer, t) else {
        return Ok(None);
    };
    match name.0.as_slice() {
        [part] => match part.as_ident() {
            Some(id) => scope.cte(&id.value, binding),
            None => Ok(None),
        },
        _ => Ok(None),
    }
}

/// What a query with `WITH` shows for `EXPLAIN`: each common table expression the query
/// names with its own plan (indented; one never named is said so, and not run, as the
/// query would not run it), then the query's, which `explain_body` gives in their scope.
pub(crate) fn explain_with(
    target: Target<'_, '_>,
    with: &With,
    params: &[Value],
    outer: Outer<'_>,
    explain_body: &dyn Fn(Outer<'_>) -> Result<Vec<String>>,
) -> Result<Vec<String>> {
    let ctes = Ctes::new(target, with, params, outer)?;
    let env = Some((&ctes as &dyn Scope, &[][..]));
    // The query first: it computes the ones it names.
    let body = explain_body(env)?;
    let mut out = Vec::new();
    for (i, def) in with.cte_tables.iter().enumerate() {
        let name = &def.alias.name.value;
        let Some(computed) = ctes.computed[i].get() else {
            out.push(format!("WITH {name}: never named, not run"));
            continue;
        };
        out.push(format!(
            "WITH {name} (run once, {}):",
            count(computed.rows.len(), "row")
        ));
        let plan = explain::explain_in(target, &def.query, params, env)?;
        out.extend(plan.into_iter().map(|l| format!("  {l}")));
    }
    out.extend(body);
    Ok(out)
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
    select::refuse_query_clauses(q)?;
    // Counted over the whole operation (its groups too), before anything runs.
    let mut members = 0;
    let mut todo = vec![q.body.as_ref()];
    while let Some(b) = todo.pop() {
        match b {
            SetExpr::SetOperation { left, right, .. } => {
                todo.push(left);
                todo.push(right);
            }
            _ => members += 1,
        }
        if members > MAX_MEMBERS {
            return Err(sql_error(
                q.body.span(),
                format!("too many members in a set operation (SQLite's limit is {MAX_MEMBERS})"),
            ));
        }
    }
    let binding = bind_only.is_some() || target.binds_only();
    let Member { columns, mut rows } = member(target, &q.body, params, outer, binding)?;
    let order = order_of(q, &columns)?;
    let (limit, offset) = select::window(target, q, params)?;
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
        Some(mut f) => {
            for row in kept {
                if !f.give(&row)? {
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

/// SQLite's limit on the members of one set operation (`SQLITE_MAX_COMPOUND_SELECT`): more
/// is refused, as there ("too many terms in compound SELECT").
const MAX_MEMBERS: usize = 500;

/// The members of a set operation down its left side, first to last: the first, then each
/// operator with the member after it (and the whole it makes, for messages). sqlparser
/// builds `a op b op c` as `(a op b) op c`, as deep as there are members: walking it in a
/// loop keeps the stack flat (a right side is a `SELECT`, or a group nested only as deep as
/// the text writes it: `INTERSECT` binding tighter, or parentheses). [`set_query`] has
/// refused more than [`MAX_MEMBERS`] over the whole operation before this walks it.
fn chain(body: &SetExpr) -> Result<(&SetExpr, Vec<Step<'_>>)> {
    let mut rest = Vec::new();
    let mut first = body;
    while let SetExpr::SetOperation {
        op,
        set_quantifier,
        left,
        right,
    } = first
    {
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
        rest.push(Step {
            whole: first,
            op: *op,
            all,
            right: right.as_ref(),
        });
        first = left;
    }
    rest.reverse();
    Ok((first, rest))
}

/// An operator of a set operation with the member after it, and the whole they end.
struct Step<'b> {
    whole: &'b SetExpr,
    op: SetOperator,
    /// `ALL`.
    all: bool,
    right: &'b SetExpr,
}

/// Runs a member of a set operation: a `SELECT`, a parenthesised query (with its own
/// `ORDER BY` and `LIMIT`, as PostgreSQL allows), or a set operation of members, combined
/// from the left.
fn member(
    target: Target<'_, '_>,
    body: &SetExpr,
    params: &[Value],
    outer: Outer<'_>,
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
    let (first, rest) = chain(body)?;
    let Member { columns, rows } = match first {
        SetExpr::Select(_) => run(&alone(first))?,
        SetExpr::Query(q) => run(q)?,
        other => return Err(select::unsupported_body(other)),
    };
    let mut combined = Combined::new(rows);
    for Step {
        whole,
        op,
        all,
        right,
    } in rest
    {
        let r = match right {
            SetExpr::Select(_) => run(&alone(right))?,
            SetExpr::Query(q) => run(q)?,
            right => member(target, right, params, outer, binding)?,
        };
        if r.columns.len() != columns.len() {
            return Err(sql_error(
                whole.span(),
                format!(
                    "the queries of a {op} give {} and {} columns: they must give as many",
                    columns.len(),
                    r.columns.len()
                ),
            ));
        }
        combined.apply(op, all, r.rows);
    }
    Ok(Member {
        columns,
        rows: combined.into_rows(),
    })
}

/// A row as a key: rows SQL calls equal (nulls equal to nulls, as `DISTINCT` has it)
/// share one.
fn key(row: &[Value]) -> Vec<GroupKey> {
    row.iter().map(GroupKey::of).collect()
}

/// The rows of a set operation so far, combined with each member in turn. Rows a later
/// member removes are left as holes, and the index of the distinct rows is kept from one
/// member to the next: a chain of `UNION`s or `EXCEPT`s costs each member's rows, not the
/// rows so far again.
struct Combined {
    rows: Holes,
    /// Where each key's row is, while the rows are distinct (`None` after `UNION ALL`,
    /// and before the first member that needs them distinct).
    index: Option<Index>,
}

/// Rows, with holes where rows were removed.
type Holes = Vec<Option<Vec<Value>>>;

/// Where the row of each key is, in [`Holes`].
type Index = HashMap<Vec<GroupKey>, usize>;

impl Combined {
    fn new(rows: Vec<Vec<Value>>) -> Combined {
        Combined {
            rows: rows.into_iter().map(Some).collect(),
            index: None,
        }
    }

    /// The rows made distinct (one row of each key, where the key first comes, holding the
    /// values of its last row: an integer and the same float are one key, and `SELECT 1
    /// UNION SELECT 1.0` is 1.0, as SQLite, whose index of the rows keeps the last one
    /// written), with their index.
    fn distinct(&mut self) -> (&mut Holes, &mut Index) {
        let index = match self.index.take() {
            Some(index) => index,
            None => {
                let mut at: HashMap<Vec<GroupKey>, usize> = HashMap::new();
                let mut out: Vec<Option<Vec<Value>>> = Vec::new();
                for row in std::mem::take(&mut self.rows).into_iter().flatten() {
                    match at.entry(key(&row)) {
                        Entry::Occupied(e) => out[*e.get()] = Some(row),
                        Entry::Vacant(e) => {
                            e.insert(out.len());
                            out.push(Some(row));
                        }
                    }
                }
                self.rows = out;
                at
            }
        };
        let index = self.index.insert(index);
        (&mut self.rows, index)
    }

    /// Combines the rows so far with a member's: `UNION ALL` both, one after the other;
    /// `UNION` the distinct rows of both; `INTERSECT` the distinct rows so far that `right`
    /// has, `EXCEPT` those it has not.
    fn apply(&mut self, op: SetOperator, all: bool, right: Vec<Vec<Value>>) {
        match op {
            SetOperator::Union if all => {
                self.rows.extend(right.into_iter().map(Some));
                self.index = None;
            }
            SetOperator::Union => {
                let (rows, index) = self.distinct();
                for row in right {
                    match index.entry(key(&row)) {
                        Entry::Occupied(e) => rows[*e.get()] = Some(row),
                        Entry::Vacant(e) => {
                            e.insert(rows.len());
                            rows.push(Some(row));
                        }
                    }
                }
            }
            SetOperator::Except => {
                let (rows, index) = self.distinct();
                for row in &right {
                    if let Some(i) = index.remove(&key(row)) {
                        rows[i] = None;
                    }
                }
            }
            SetOperator::Intersect | SetOperator::Minus => {
                let (rows, index) = self.distinct();
                let other: HashSet<Vec<GroupKey>> = right.iter().map(|r| key(r)).collect();
                index.retain(|k, &mut i| {
                    let kept = other.contains(k);
                    if !kept {
                        rows[i] = None;
                    }
                    kept
                });
            }
        }
    }

    fn into_rows(self) -> Vec<Vec<Value>> {
        self.rows.into_iter().flatten().collect()
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
        let dir = select::direction(o)?;
        let e = select::unnested(&o.expr);
        let by_position =
            select::position(e).map(|p| select::result_position(p, columns.len(), &o.expr));
        if let Expr::Collate { .. } = e {
            return Err(unsupported("COLLATE"));
        }
        // An item's expression as written, the same as the key's.
        let text = e.to_string();
        let same = |x: &Expr| x.to_string() == text;
        let found = match (by_position, e) {
            (Some(at), _) => Some(at?),
            // The first member's names as SQLite looks at them first (an `AS` name or a
            // column of a `*`, in item order), then a result column's name (`t.id` names
            // `id`), then the alias, then the expression as written, of an item of any
            // member. (SQLite resolves a key against each member's tables, which is not
            // done here: in a member that joins, a name two tables have may find another
            // column than SQLite's.)
            (None, Expr::Identifier(id)) => selects
                .first()
                .and_then(|s| {
                    let named = named_columns(&s.projection, columns.len())?;
                    (named.iter().zip(columns)).position(|(n, c)| *n && *c == id.value)
                })
                .or_else(|| columns.iter().position(|c| *c == id.value))
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

/// Which of the `width` result columns of `items` have a name as SQLite's `ORDER BY` sees
/// names: an `AS` name, or a column of a `*` (or `t.*`); not a plain item. `None` where
/// [`result_column`] cannot place an item's columns (several wildcards).
fn named_columns(items: &[SelectItem], width: usize) -> Option<Vec<bool>> {
    let mut named = vec![false; width];
    for (i, item) in items.iter().enumerate() {
        let at = result_column(items, i, width)?;
        let columns = match item {
            SelectItem::UnnamedExpr(_) => continue,
            SelectItem::ExprWithAlias { .. } => at..at + 1,
            // A wildcard's columns run to where the next item's start.
            _ => at..result_column(items, i + 1, width)?,
        };
        named.get_mut(columns)?.fill(true);
    }
    Some(named)
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
    let mut todo = vec![body];
    while let Some(b) = todo.pop() {
        match b {
            SetExpr::Select(s) => out.push(s),
            SetExpr::SetOperation { left, right, .. } => {
                todo.push(right);
                todo.push(left);
            }
            SetExpr::Query(q) => todo.push(&q.body),
            _ => {}
        }
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
/// and returns how they combine (`1 UNION (2 INTERSECT 3)`).
fn plans(
    target: Target<'_, '_>,
    body: &SetExpr,
    params: &[Value],
    outer: Outer<'_>,
    n: &mut usize,
    out: &mut Vec<String>,
) -> Result<String> {
    let plan = |side: &SetExpr, n: &mut usize, out: &mut Vec<String>| -> Result<String> {
        let q = match side {
            SetExpr::Select(_) => alone(side),
            SetExpr::Query(q) => q.as_ref().clone(),
            SetExpr::SetOperation { .. } => {
                return Ok(format!("({})", plans(target, side, params, outer, n, out)?))
            }
            other => return Err(select::unsupported_body(other)),
        };
        *n += 1;
        let lines = explain::explain_in(target, &q, params, outer)?;
        out.push(format!("query {n}:"));
        out.extend(lines.into_iter().map(|l| format!("  {l}")));
        Ok(n.to_string())
    };
    let (first, rest) = chain(body)?;
    let mut how = plan(first, n, out)?;
    for step in rest {
        let all = if step.all { " ALL" } else { "" };
        how = format!("{how} {}{all} {}", step.op, plan(step.right, n, out)?);
    }
    Ok(how)
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
