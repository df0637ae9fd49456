//! The rows of FROM, produced one at a time: the first relation read in place, each later
//! one joined by a key lookup, a hash of its rows or a nested loop, and a joined row handed
//! on as the relations' rows side by side ([`Joined`]), never copied.

use hashbrown::HashMap;
use std::cell::RefCell;
use std::sync::Arc;

use sqlparser::ast::JoinOperator;

use crate::engine::any_table::AnyTable;
use crate::error::Result;
use crate::query::Pred;
use crate::record::{int_key, Cols};
use crate::sql::correlated::{bind, bind_unrun, extended, Memo};
use crate::sql::from::{
    extend_used, fetch, pred_of, reads_text, table_preds, Link, Relation, Source,
};
use crate::sql::scalar::{truth, CorrelatedCall, Op, Scalar, Scope};
use crate::sql::scope::QueryScope;
use crate::sql::select::GroupKey;
use crate::sql::target::{rows_by_key, Pinned, Target};
use crate::value::{Value, ValueRef};

/// Every row of FROM, each the values of its relations one after the other, handed to
/// `sink` (which returns `false` once it needs no more). The first relation is read in
/// place (a stored table through its scan). Each later one is looked up through its
/// primary key when its condition equates the key with an earlier column; otherwise it is
/// fetched once and probed, through a hash of its rows when its condition equates one of
/// its columns with an earlier one, by trying each row otherwise. A joined row is the
/// relations' rows side by side, each read where it is ([`Joined`]), never copied.
/// `outer`: as for [`resolve_from`](super::from::resolve_from), for the correlated subqueries of ON conditions.
pub(super) fn produce(
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
            return first_scan(target, name, first, reads_text(first, used), sink);
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
            first_scan(target, name, first, reads_text(first, used), &mut next)?;
        }
        Source::Rows(rows) => {
            for r in rows.iter() {
                if !next(r)? {
                    break;
                }
            }
        }
    }
    // An ON's subquery that no pair of rows reached is bound all the same.
    for p in &probes {
        if let Some((calls, scope, memos)) = &p.correlated {
            bind_unrun(target, calls, memos, scope, p.width, params)?;
        }
    }
    Ok(())
}

/// Binds the correlated subqueries of every ON of `rels` (a row `width` values wide),
/// running nothing (see [`bind`]): for a query that reads no row of them.
pub(super) fn bind_on(
    target: Target<'_, '_>,
    rels: &[Relation],
    width: usize,
    params: &[Value],
    outer: Option<(&dyn Scope, &[Value])>,
) -> Result<()> {
    for rel in rels {
        if let Link::On {
            correlated: Some(sub),
            ..
        } = &rel.link
        {
            let scope = QueryScope {
                tables: &sub.tables,
                outer,
                items: &[],
            };
            bind(target, &sub.calls, &scope, width, params)?;
        }
    }
    Ok(())
}

/// The rows of `rel`, the stored table `name` read first, that its predicates select, in
/// key order, to `f`: through its index union when it has one ([`union_scan`]).
fn first_scan(
    target: Target<'_, '_>,
    name: &str,
    rel: &Relation,
    text: bool,
    f: &mut dyn FnMut(&dyn Cols) -> Result<bool>,
) -> Result<()> {
    match &rel.source {
        Source::Table { schema, .. } if !rel.union.is_empty() => {
            union_scan(target, name, schema, rel, text, f)
        }
        _ => target.scan(name, &rel.preds, text, f),
    }
}

/// The rows of `rel` that pass its predicates and those of at least one branch of its
/// union, each once, in key order, to `f`: each branch read through its index for the
/// keys, the keys sorted and deduplicated, each row then looked up by key. A union that
/// finds more than a quarter of the table's rows reads the table whole instead (one read
/// costs less than that many lookups). A row of no branch fails WHERE, which runs on every
/// row given, so the union need only hold every row that passes it.
fn union_scan(
    target: Target<'_, '_>,
    name: &str,
    schema: &crate::schema::Schema,
    rel: &Relation,
    text: bool,
    f: &mut dyn FnMut(&dyn Cols) -> Result<bool>,
) -> Result<()> {
    let pk = schema.primary_key();
    let key_text = schema.columns[pk].ty == crate::schema::ColumnType::Text;
    let most = target.with_table(name, |t| Ok(t.len() / 4))?;
    let mut keys: Vec<Value> = Vec::new();
    for branch in &rel.union {
        let preds: Vec<Pred> = rel.preds.iter().chain(branch).cloned().collect();
        target.scan(name, &preds, key_text, &mut |row| {
            keys.push(row.value_at(pk).to_owned());
            Ok(keys.len() <= most)
        })?;
        if keys.len() > most {
            return target.scan(name, &rel.preds, text, f);
        }
    }
    keys.sort_by(|a, b| a.as_ref().total_cmp(b.as_ref()));
    keys.dedup_by(|a, b| a.as_ref().total_cmp(b.as_ref()) == std::cmp::Ordering::Equal);
    target.with_table(name, |t| rows_by_key(t, &keys, &rel.preds, f))
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

impl Joined<'_> {
    /// The relation's row holding column `col`, and the column's place in it; `None` past
    /// the end of a relation (a null).
    fn holding(&self, col: usize) -> Option<(&dyn Cols, usize)> {
        let mut j = self;
        loop {
            if col >= j.at {
                return (col - j.at < j.width).then(|| (j.row, col - j.at));
            }
            j = j.before?;
        }
    }
}

impl Cols for Joined<'_> {
    fn value_at(&self, col: usize) -> ValueRef<'_> {
        self.holding(col)
            .map_or(ValueRef::Null, |(row, c)| row.value_at(c))
    }

    fn int_key_at(&self, col: usize) -> Option<i64> {
        self.holding(col).and_then(|(row, c)| row.int_key_at(c))
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
    correlated: Option<(&'r [CorrelatedCall], QueryScope<'r>, Vec<Memo>)>,
    /// Joined through its primary key instead (see [`key_join`]): the table and the
    /// earlier column equated with its key. No rows are fetched then.
    keyed: Option<KeyJoin<'r>>,
    /// Which of the relation's columns the statement reads.
    used: Vec<bool>,
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
    /// The lookups so far, and after enough of them the rows hashed by key.
    map: RefCell<KeyMap>,
}

/// A key join's partners, looked up one row at a time through the table's index until the
/// lookups number half the table's rows; then the rows that pass the relation's predicates
/// (the columns the statement reads) are copied once and hashed by key, and each later
/// row finds its partner there. A probe of a small local hash costs a fraction of a
/// lookup through the table, and switching at half the rows bounds the work at about
/// twice the better of the two, however many rows come before the join (which the
/// statement cannot know ahead: a filter, a LIMIT). Only for a read statement's pinned
/// version, where the table cannot change between lookups, and integer keys.
enum KeyMap {
    /// Lookups left before the rows are hashed (`None`: never, they are looked up).
    Counting(Option<usize>),
    Built {
        rows: Vec<Vec<Value>>,
        at: KeyIndex,
    },
}

/// Where each key's row is in a [`KeyMap`]'s rows: a vector over the keys' range where the
/// keys are dense enough (a table's auto-increment keys, most often), a hash otherwise.
enum KeyIndex {
    Dense { min: i64, at: Vec<u32> },
    Hashed(HashMap<i64, u32>),
}

impl KeyIndex {
    /// A [`KeyIndex::Dense`] slot holding no row.
    const NONE: u32 = u32::MAX;

    /// The index of `keys` (key, row number; the keys distinct).
    fn of(keys: Vec<(i64, u32)>) -> KeyIndex {
        let lo = keys.iter().map(|&(k, _)| k).min().unwrap_or(0);
        let hi = keys.iter().map(|&(k, _)| k).max().unwrap_or(0);
        let span = usize::try_from(hi.abs_diff(lo)).unwrap_or(usize::MAX);
        if span < keys.len().saturating_mul(4).saturating_add(64) {
            let mut at = vec![KeyIndex::NONE; span + 1];
            for (k, n) in keys {
                at[k.abs_diff(lo) as usize] = n;
            }
            KeyIndex::Dense { min: lo, at }
        } else {
            KeyIndex::Hashed(keys.into_iter().collect())
        }
    }

    /// The row number of `key`.
    #[inline]
    fn get(&self, key: i64) -> Option<usize> {
        match self {
            KeyIndex::Dense { min, at } => {
                let i = usize::try_from(key.checked_sub(*min)?).ok()?;
                at.get(i)
                    .filter(|&&n| n != KeyIndex::NONE)
                    .map(|&n| n as usize)
            }
            KeyIndex::Hashed(m) => m.get(&key).map(|&n| n as usize),
        }
    }
}

/// Whether `rel` joins through its primary key: a stored table whose `ON` equates its key
/// column with an earlier column (and runs no subquery per pair). Each row before it then
/// finds its one partner through the key's index (one read of the slab for a dense integer
/// key), where a hash join would copy and hash the whole table first. Returns the earlier
/// column and the table's name.
pub(super) fn key_join(rel: &Relation) -> Option<(usize, &str, bool)> {
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
            let pinned = target.pinned(name)?;
            let budget = match &pinned {
                Some(p) if key_is_int => Some(p.table()?.len() / 2),
                _ => None,
            };
            return Ok(Probe {
                rel,
                rows: Arc::default(),
                hash: None,
                correlated: None,
                keyed: Some(KeyJoin {
                    name,
                    pinned,
                    key_is_int,
                    earlier,
                    on_is_key,
                    map: RefCell::new(KeyMap::Counting(budget)),
                }),
                used: used[rel.at..rel.at + rel.width].to_vec(),
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
                    items: &[],
                },
                // Inside a write transaction the rows may be streamed to a callback that
                // writes between them (`Statement::each_in`).
                if target.is_read() {
                    Memo::for_calls(&sub.calls)
                } else {
                    Memo::unused_for(&sub.calls)
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
            used: Vec::new(),
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
            Some((calls, ref scope, ref memos)) => {
                let values = row.owned_values(self.width);
                let row = extended(target, calls, memos, scope, values, params)?;
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
            v => m.get(&GroupKey::probe(v)).map_or(&[], Vec::as_slice),
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
    let (int, text) = match k.key_is_int {
        true => (so_far.int_key_at(k.earlier), None),
        false => match so_far.value_at(k.earlier) {
            ValueRef::Text(t) => (None, Some(t)),
            _ => (None, None),
        },
    };
    let (mut matched, mut more) = (false, true);
    // The partner, found: it passed the relation's predicates; ON and the relations after
    // it remain.
    let mut partner = |found: &dyn Cols| -> Result<()> {
        let row = Joined::after(so_far, found, rel);
        let cond = cond.filter(|_| !k.on_is_key);
        if !probe.passes(target, cond, &row, params)? {
            return Ok(());
        }
        matched = true;
        more = emit(target, probes, level + 1, &row, params, sink)?;
        Ok(())
    };
    if let Some(i) = int {
        if k.due() {
            k.build(target, probe)?;
        }
        if let KeyMap::Built { rows, at } = &*k.map.borrow() {
            if let Some(r) = at.get(i) {
                partner(&rows[r])?;
            }
            return Ok((matched, more));
        }
    }
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
                partner(found)
            })
        };
        match &k.pinned {
            Some(p) => lookup(p.table()?)?,
            None => target.with_table(k.name, lookup)?,
        };
    }
    Ok((matched, more))
}

impl KeyJoin<'_> {
    /// Counts a lookup; whether it is the one that uses up the budget: the rows are to be
    /// hashed now (see [`KeyMap`]).
    #[inline]
    fn due(&self) -> bool {
        match &mut *self.map.borrow_mut() {
            KeyMap::Counting(Some(left)) if *left > 0 => {
                *left -= 1;
                false
            }
            KeyMap::Counting(Some(_)) => true,
            _ => false,
        }
    }

    /// Hashes the relation's rows by key (see [`KeyMap`]); where a key is not an integer
    /// the rows are looked up from then on.
    #[cold]
    fn build(&self, target: Target<'_, '_>, probe: &Probe<'_>) -> Result<()> {
        let mut map = self.map.borrow_mut();
        let rel = probe.rel;
        let Source::Table { schema, .. } = &rel.source else {
            *map = KeyMap::Counting(None);
            return Ok(());
        };
        let key = schema.primary_key();
        let text = crate::sql::from::any_text(schema, &probe.used);
        let (mut rows, mut keys) = (Vec::new(), Vec::new());
        let mut hashable = true;
        target.scan(self.name, &rel.preds, text, &mut |r| {
            let ValueRef::Int(k) = r.value_at(key) else {
                hashable = false;
                return Ok(false);
            };
            // Row numbers up to `KeyIndex::NONE`, which marks a key without a row.
            let Some(n) = u32::try_from(rows.len())
                .ok()
                .filter(|&n| n != KeyIndex::NONE)
            else {
                hashable = false;
                return Ok(false);
            };
            keys.push((k, n));
            let mut row = Vec::with_capacity(rel.width);
            extend_used(&mut row, r, &probe.used);
            rows.push(row);
            Ok(true)
        })?;
        // A key the hash could not hold answers through lookups, as before.
        *map = if hashable {
            KeyMap::Built {
                rows,
                at: KeyIndex::of(keys),
            }
        } else {
            KeyMap::Counting(None)
        };
        Ok(())
    }
}

pub(super) fn other_name(op: &JoinOperator) -> &'static str {
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
pub(super) fn push_where(filter: &Scalar, rels: &mut [Relation], params: &[Value]) -> bool {
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
    if let Some(first) = rels.first_mut() {
        first.union = index_union(filter, first, params);
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

/// The most branches an OR read as an index union may have.
const MOST_BRANCHES: usize = 16;

/// The predicates of each branch of the first OR in `filter`'s AND chain whose every
/// branch picks `rel`'s rows (a stored table) by equality on an indexed column, when
/// `rel`'s own predicates use no index: reading those branches' rows costs less than
/// reading the table whole (see [`union_scan`]). A branch's predicates hold for every row
/// where the branch is true, as every pushed predicate does. Empty when there is none.
fn index_union(filter: &Scalar, rel: &Relation, params: &[Value]) -> Vec<Vec<Pred>> {
    let Source::Table { schema, .. } = &rel.source else {
        return Vec::new();
    };
    let narrows = |p: &Pred| match p {
        Pred::Eq { col, .. } => schema.columns.get(*col).is_some_and(|c| c.has_own_index()),
        Pred::Range { .. } => false,
    };
    if rel.preds.iter().any(narrows) {
        return Vec::new();
    }
    let mut conjuncts = vec![filter];
    while let Some(c) = conjuncts.pop() {
        match c {
            Scalar::Binary(a, Op::And, b) => conjuncts.extend([b.as_ref(), a.as_ref()]),
            Scalar::Binary(_, Op::Or, _) => {
                let (mut open, mut branches) = (vec![c], Vec::new());
                while let Some(b) = open.pop() {
                    match b {
                        Scalar::Binary(x, Op::Or, y) => open.extend([y.as_ref(), x.as_ref()]),
                        b => branches.push(b),
                    }
                }
                if branches.len() > MOST_BRANCHES {
                    continue;
                }
                let union: Option<Vec<Vec<Pred>>> = branches
                    .iter()
                    .map(|b| {
                        let (preds, _) = table_preds(b, rel, params);
                        preds.iter().any(narrows).then_some(preds)
                    })
                    .collect();
                if let Some(union) = union {
                    return union;
                }
            }
            _ => {}
        }
    }
    Vec::new()
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

/// A join key that equal values (an integer and the same float) share; `None` for null.
pub(crate) fn join_key(v: &Value) -> Option<String> {
    if let Some(i) = int_key(v.as_ref()) {
        return Some(format!("n{i}"));
    }
    Some(match v {
        Value::Float(f) => format!("f{f:?}"),
        Value::Text(t) => format!("t{t}"),
        Value::Null | Value::Int(_) | Value::Bool(_) => return None,
    })
}

/// `(left column, right column)` of an equality between a column before `lo` and one in
/// `lo..hi` (the joined relation's: not a correlated subquery's value, which is a column
/// beyond the row) at the top of `c` or of its AND chain.
pub(super) fn equi_pair(c: &Scalar, lo: usize, hi: usize) -> Option<(usize, usize)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_index_finds_every_key_and_nothing_else() {
        let cases: Vec<Vec<i64>> = vec![
            vec![],
            vec![7],
            (1..=100).collect(),
            (-50..50).step_by(3).collect(),
            (1..=100).map(|i| i * 1_000_003).collect(),
            vec![i64::MIN, -1, 0, 1, i64::MAX],
            vec![i64::MAX - 2, i64::MAX],
            vec![i64::MIN, i64::MIN + 5],
        ];
        for keys in cases {
            let numbered: Vec<(i64, u32)> = keys.iter().zip(0..).map(|(&k, n)| (k, n)).collect();
            let index = KeyIndex::of(numbered.clone());
            for &(k, n) in &numbered {
                assert_eq!(index.get(k), Some(n as usize), "key {k} of {keys:?}");
            }
            let probes = keys
                .iter()
                .flat_map(|&k| [k.wrapping_sub(1), k.wrapping_add(1)])
                .chain([i64::MIN, i64::MAX, 0, -1]);
            for p in probes {
                let want = numbered
                    .iter()
                    .find(|&&(k, _)| k == p)
                    .map(|&(_, n)| n as usize);
                assert_eq!(index.get(p), want, "probe {p} of {keys:?}");
            }
        }
        // Far-apart keys are hashed, not given a vector over their range.
        let far = KeyIndex::of(vec![(0, 0), (1 << 40, 1)]);
        assert!(matches!(far, KeyIndex::Hashed(_)));
        assert!(matches!(
            KeyIndex::of(vec![(5, 0), (9, 1)]),
            KeyIndex::Dense { .. }
        ));
    }
}
