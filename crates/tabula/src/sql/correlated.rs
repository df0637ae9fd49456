//! Correlated subqueries: run for a row (or a group) of the query they are in, their
//! values kept after that row's ([`WithSubqueries`]), each in its phase ([`Phase`]), and
//! remembered by the outer values they read ([`Memo`]).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use sqlparser::ast::Spanned;

use crate::error::Result;
use crate::record::Cols;
use crate::sql::compound::CteRows;
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

/// `row` with the values of every one of the correlated subqueries `calls` after it.
pub(super) fn extended(
    target: Target<'_, '_>,
    calls: &[CorrelatedCall],
    memos: &[Memo],
    scope: &dyn Scope,
    row: Vec<Value>,
    params: &[Value],
) -> Result<WithSubqueries> {
    let mut row = WithSubqueries {
        row,
        extra: Vec::with_capacity(calls.len()),
    };
    for (call, memo) in calls.iter().zip(memos) {
        let v = correlated_value(target, call, memo, scope, &row, params)?;
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
    memo: &Memo,
    scope: &dyn Scope,
    row: &WithSubqueries,
    params: &[Value],
) -> Result<Value> {
    memo.ran.set(true);
    let firsts = match memo.get(&row.row) {
        Some(firsts) => firsts,
        None => {
            let reading = Reading::new(scope, call);
            let r = select_each(
                target,
                &call.query,
                params,
                Some((&reading, &row.row)),
                None,
            )?;
            one_column_unless_exists(call, r.columns.len())?;
            // What the kind needs: whether there is a row, the first row's value, or all.
            let keep = match call.kind {
                SubKind::Exists { .. } | SubKind::Value => 1,
                SubKind::In { .. } => usize::MAX,
            };
            let firsts: Rc<[Value]> = r
                .rows
                .into_iter()
                .take(keep)
                .map(|r| r.into_iter().next().unwrap_or(Value::Null))
                .collect();
            memo.keep(reading.read(), &row.row, &firsts);
            firsts
        }
    };
    Ok(match &call.kind {
        SubKind::Exists { negated } => Value::Bool(firsts.is_empty() == *negated),
        // The first row's value, as in SQLite; null without one.
        SubKind::Value => firsts.first().cloned().unwrap_or(Value::Null),
        SubKind::In { operand, negated } => {
            let v = operand.eval_cols(row, params)?;
            let list = firsts.iter().cloned().map(Scalar::Literal).collect();
            Scalar::InList(Box::new(Scalar::Literal(v)), list, *negated).eval(&[], params)?
        }
    })
}

/// `Err` if `call` is used as a value and its query gives `width` columns, not one: as
/// SQLite, whether or not it has rows (its `*` is known to be several columns once bound;
/// the compiler could only count the items).
fn one_column_unless_exists(call: &CorrelatedCall, width: usize) -> Result<()> {
    if width != 1 && !matches!(call.kind, SubKind::Exists { .. }) {
        return Err(sql_error(
            call.query.span(),
            "a subquery used as a value returns one column",
        ));
    }
    Ok(())
}

/// Binds each of `calls` (correlated subqueries of a query whose row is `width` values
/// wide, named by `scope`) that no row ran (`memos`, one per call), for a row of nulls.
/// SQLite binds a statement whole before it runs it, so an error in a subquery (a name no
/// table has, an aggregate of the outer query's columns, several columns used as a value)
/// is the statement's whatever its rows; here a correlated subquery is bound for each row
/// it runs for, and this binds the ones no row reached (an empty table, `LIMIT 0`, a WHERE
/// that kept nothing). It runs nothing, at any depth: the target only binds (see
/// [`Target::binding`]).
pub(crate) fn bind_unrun(
    target: Target<'_, '_>,
    calls: &[CorrelatedCall],
    memos: &[Memo],
    scope: &dyn Scope,
    width: usize,
    params: &[Value],
) -> Result<()> {
    let unrun = calls
        .iter()
        .zip(memos)
        .filter(|(_, m)| !m.ran.get())
        .map(|(c, _)| c);
    bind(target, unrun, scope, width, params)
}

/// Binds each of `calls` for a row of nulls, running nothing (see [`bind_unrun`]).
pub(crate) fn bind<'c>(
    target: Target<'_, '_>,
    calls: impl IntoIterator<Item = &'c CorrelatedCall>,
    scope: &dyn Scope,
    width: usize,
    params: &[Value],
) -> Result<()> {
    let mut nulls = None;
    for call in calls {
        let nulls: &[Value] = nulls.get_or_insert_with(|| vec![Value::Null; width]);
        let reading = Reading::new(scope, call);
        let r = select_each(
            target.binding(),
            &call.query,
            params,
            Some((&reading, nulls)),
            None,
        )?;
        one_column_unless_exists(call, r.columns.len())?;
    }
    Ok(())
}

/// What a correlated subquery gave (see [`correlated_value`]) for the rows of one run of
/// the query it is in, by the values of that row's columns the subquery read, so that
/// rows agreeing on them (`… WHERE t.year = s.year` for ten years) run it once each.
///
/// Why a remembered answer is the answer: a run reads the outer row only through the
/// names its scope resolves ([`Reading`]); everything else it reads (the tables, the
/// parameters, the queries further out) is the same for every row of one run of the query
/// it is in, since a statement's writes apply after its reads (the one place a caller can
/// write between them, a join's rows streamed to a callback in a write transaction, keeps
/// nothing: [`Memo::unused_for`]), and nothing it evaluates depends on anything else (no
/// function is random or reads the clock). Two rows that agree exactly (same kind, same
/// bits) on the columns one run read therefore run it alike, down to the same columns
/// read. Rows are looked up by the columns the first run read; a run that read others (a
/// nested subquery that ran only for some rows) is not kept.
#[derive(Default)]
pub(crate) struct Memo {
    state: RefCell<MemoState>,
    /// Whether any row ran the subquery (see [`bind_unrun`]).
    ran: Cell<bool>,
}

#[derive(Default)]
struct MemoState {
    /// The outer row's columns the first run read, in order, each once.
    cols: Option<Vec<usize>>,
    seen: HashMap<Exact, Rc<[Value]>>,
    /// Values held in `seen`, keys and answers; none are kept past [`MEMO_VALUES`].
    held: usize,
    /// Answers given from `seen`.
    hits: usize,
    /// Given up: rows rarely agree (see [`MEMO_TRIAL`]).
    off: bool,
}

/// At most this many values are kept in one [`Memo`] (keys and answers): an `IN`
/// subquery's answers may be long.
const MEMO_VALUES: usize = 1 << 20;

/// From the moment a [`Memo`] holds this many answers, it gives up whenever it has given
/// fewer than a quarter as many from them: where nearly every row reads different values
/// (`r.sid = s.id`), keeping each answer only costs.
const MEMO_TRIAL: usize = 1024;

impl Memo {
    /// One for each of `calls`.
    pub(crate) fn for_calls(calls: &[CorrelatedCall]) -> Vec<Memo> {
        calls.iter().map(|_| Memo::default()).collect()
    }

    /// One for each of `calls` that keeps nothing: for subqueries whose tables may change
    /// between their rows (a join streamed to a callback inside a write transaction, which
    /// may write between rows).
    pub(crate) fn unused_for(calls: &[CorrelatedCall]) -> Vec<Memo> {
        calls
            .iter()
            .map(|_| Memo {
                state: RefCell::new(MemoState {
                    off: true,
                    ..MemoState::default()
                }),
                ran: Cell::new(false),
            })
            .collect()
    }

    /// The answer kept for a row agreeing with `row` on the columns read.
    fn get(&self, row: &[Value]) -> Option<Rc<[Value]>> {
        let mut state = self.state.borrow_mut();
        let found = state
            .seen
            .get(&Exact::of(state.cols.as_ref()?, row))
            .cloned();
        state.hits += usize::from(found.is_some());
        found
    }

    /// Keeps `firsts`, what the run for `row` gave having read its columns `read`.
    fn keep(&self, read: Vec<usize>, row: &[Value], firsts: &Rc<[Value]>) {
        let mut state = self.state.borrow_mut();
        if state.off {
            return;
        }
        let cols = state.cols.get_or_insert_with(|| read.clone());
        if *cols != read {
            return;
        }
        let key = Exact::of(cols, row);
        let held = state.held + key.0.len() + firsts.len();
        if held > MEMO_VALUES {
            return;
        }
        state.held = held;
        state.seen.insert(key, Rc::clone(firsts));
        if state.seen.len() >= MEMO_TRIAL && state.hits * 4 < state.seen.len() {
            // `cols` gone, `get` finds nothing.
            *state = MemoState {
                off: true,
                ..MemoState::default()
            };
        }
    }
}

/// The values of some columns of a row, equal only to the same values of the same kinds
/// (`1`, `1.0` and `true` differ, as do `0.0` and `-0.0`: an expression may tell them
/// apart), unlike [`Value`]'s own equality, which is SQL's.
#[derive(PartialEq, Eq)]
struct Exact(Vec<ExactValue>);

#[derive(PartialEq, Eq, Hash)]
enum ExactValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(u64),
    Text(String),
}

impl Exact {
    fn of(cols: &[usize], row: &[Value]) -> Exact {
        Exact(
            cols.iter()
                .map(|&c| match row.get(c) {
                    None | Some(Value::Null) => ExactValue::Null,
                    Some(Value::Bool(b)) => ExactValue::Bool(*b),
                    Some(Value::Int(i)) => ExactValue::Int(*i),
                    Some(Value::Float(f)) => ExactValue::Float(f.to_bits()),
                    Some(Value::Text(t)) => ExactValue::Text(t.clone()),
                })
                .collect(),
        )
    }
}

impl Hash for Exact {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

/// The names of the query a correlated subquery runs in, noting the columns of its row
/// that the subquery (or one inside it) reads: `scope::outer_value` resolves a name here
/// before reading the row, and reads it nowhere else.
struct Reading<'a> {
    scope: &'a dyn Scope,
    read: RefCell<Vec<usize>>,
    /// The subquery sits where the query reads its items' aliases (see
    /// [`Scope::aliases_visible`]).
    aliases: bool,
}

impl<'a> Reading<'a> {
    fn new(scope: &'a dyn Scope, call: &CorrelatedCall) -> Self {
        Reading {
            scope,
            read: RefCell::new(Vec::new()),
            aliases: call.aliases,
        }
    }

    /// The columns read, in order, each once.
    fn read(self) -> Vec<usize> {
        let mut read = self.read.into_inner();
        read.sort_unstable();
        read.dedup();
        read
    }
}

/// No `alias` (the default, none): a subquery's names resolve among the outer row's
/// columns only.
impl Scope for Reading<'_> {
    fn resolve(&self, qualifier: Option<&str>, name: &str) -> std::result::Result<usize, String> {
        let r = self.scope.resolve(qualifier, name);
        if let Ok(i) = r {
            self.read.borrow_mut().push(i);
        }
        r
    }

    fn outer(&self, qualifier: Option<&str>, name: &str) -> Option<Value> {
        self.scope.outer(qualifier, name)
    }

    fn is_alias(&self, name: &str) -> bool {
        self.aliases && self.scope.is_alias(name)
    }

    fn outer_reason(&self, qualifier: Option<&str>, name: &str) -> Option<String> {
        self.scope.outer_reason(qualifier, name)
    }

    fn cte(&self, name: &str, binding: bool) -> Result<Option<&CteRows>> {
        self.scope.cte(name, binding)
    }
}

/// When a query runs a correlated subquery of its own (in its WHERE, GROUP BY, items,
/// HAVING or ORDER BY), in the order the phases come: each runs only for the rows (or
/// groups) the phases before it kept, as SQLite evaluates the clauses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// In WHERE: for each row of FROM.
    Where,
    /// In GROUP BY, an aggregate's argument or FILTER, or the items and ORDER BY of a
    /// query that does not group (or UPDATE's SET): for each row WHERE keeps.
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
    /// One per call, for every row (or group) of this run of the query.
    pub(super) memos: Vec<Memo>,
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

    /// Binds the subqueries no row (or group) of this run ran, for a row `width` values
    /// wide: see [`bind_unrun`].
    pub(super) fn bind_unrun(&self, width: usize) -> Result<()> {
        bind_unrun(
            self.target,
            self.calls,
            &self.memos,
            self.scope,
            width,
            self.params,
        )
    }

    /// Runs the subqueries of `phase` for `row`, keeping their values in it.
    pub(super) fn run(&self, phase: Phase, row: &mut WithSubqueries) -> Result<()> {
        for (i, (call, memo)) in self.calls.iter().zip(&self.memos).enumerate() {
            if self.phases[i] == phase {
                let v = correlated_value(self.target, call, memo, self.scope, row, self.params)?;
                row.extra[i] = v;
            }
        }
        Ok(())
    }
}
