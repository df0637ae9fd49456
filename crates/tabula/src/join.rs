//! Equi-joins of two typed tables: `left.select()...join::<Right>("fk_column")`.
//!
//! The left query (with its own predicates, filters, order and window) gives the left rows;
//! each is matched to right rows whose column equals its join column. The right side is
//! reached through its primary key, a unique column or an ordered index when the right
//! column has one (index-nested-loop), and otherwise through a hash table built once over
//! the right rows (hash join). [`Join::explain`] shows the choice.

use std::cmp::Ordering;
use std::fmt;
use std::ops::Bound;

use crate::error::{Error, Result};
use crate::query::{self, order_key, window, FirstError, Plan, QuerySpec};
use crate::record::{Record, Table};
use crate::schema::Schema;
use crate::select::Select;
use crate::table::TableData;
use crate::value::Value;

/// How the right side of a join is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinStrategy {
    /// One primary-key lookup per left row.
    PrimaryKeyLookup,
    /// One unique-index lookup per left row.
    UniqueLookup {
        /// The right column.
        column: String,
    },
    /// One ordered-index walk per left row.
    IndexLookup {
        /// The right column.
        column: String,
    },
    /// A hash table over the right rows, built once, probed per left row.
    HashJoin {
        /// The right column.
        column: String,
    },
}

/// What the planner chose for a join; its `Display` reads like
/// `registrations: index range on course_id, sort; join students by primary-key lookup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinPlan {
    /// The plan of the left query.
    pub left: Plan,
    /// The right table.
    pub right: String,
    /// How right rows are found.
    pub strategy: JoinStrategy,
}

impl fmt::Display for JoinPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; join {} by ", self.left, self.right)?;
        match &self.strategy {
            JoinStrategy::PrimaryKeyLookup => f.write_str("primary-key lookup"),
            JoinStrategy::UniqueLookup { column } => write!(f, "unique-index lookup on {column}"),
            JoinStrategy::IndexLookup { column } => write!(f, "index lookup on {column}"),
            JoinStrategy::HashJoin { column } => write!(f, "hash join on {column}"),
        }
    }
}

/// A closure filter over a joined pair.
type PairFilter<'a, T, U> = Box<dyn Fn(&T, &U) -> bool + 'a>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Left,
    Right,
}

/// A join being built, from [`Select::join`] or [`Select::join_on`]. Results are pairs of
/// rows, in the left query's order (then the right key's) unless ordered with
/// [`Join::order_by`]; an inner join: left rows without a match are left out.
pub struct Join<'a, T, U> {
    left: Select<'a, T>,
    left_col: usize,
    right_col: Option<usize>,
    right: QuerySpec<'a, U>,
    pair_filters: Vec<PairFilter<'a, T, U>>,
    order: Vec<(Side, usize, bool)>,
    limit: Option<usize>,
    offset: usize,
    error: FirstError,
}

impl<T, U> fmt::Debug for Join<'_, T, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join")
            .field("left", &self.left)
            .finish_non_exhaustive()
    }
}

impl<'a, T: Table> Select<'a, T> {
    /// Joins each selected row to the row of `U` whose primary key equals this row's
    /// `column` (a foreign key, usually).
    ///
    /// ```
    /// use tabula::{Database, Table};
    /// #[derive(Table, Clone, Debug)]
    /// struct Author { #[column(primary_key)] id: u64, name: String }
    /// #[derive(Table, Clone, Debug)]
    /// struct Book { #[column(primary_key)] id: u64, title: String, #[column(references = "author")] author_id: u64 }
    /// let db = Database::in_memory();
    /// let authors = db.table::<Author>()?;
    /// let books = db.table::<Book>()?;
    /// let le_guin = authors.insert(Author { id: 0, name: "Le Guin".into() })?;
    /// books.insert(Book { id: 0, title: "The Dispossessed".into(), author_id: le_guin })?;
    /// let pairs = books.select().join::<Author>("author_id").all()?;
    /// assert_eq!(pairs[0].1.name, "Le Guin");
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn join<U: Table>(self, column: &str) -> Join<'a, T, U> {
        Join::new(self, column, None)
    }

    /// Joins each selected row to the rows of `U` whose `right_column` equals this row's
    /// `left_column`.
    pub fn join_on<U: Table>(self, left_column: &str, right_column: &str) -> Join<'a, T, U> {
        Join::new(self, left_column, Some(right_column))
    }
}

fn comparable(schema: &Schema, name: &str) -> Result<usize> {
    schema.comparable_column(name, "joined on")
}

impl<'a, T: Table, U: Table> Join<'a, T, U> {
    fn new(left: Select<'a, T>, left_column: &str, right_column: Option<&str>) -> Self {
        let mut error = FirstError::default();
        let left_col = comparable(T::schema(), left_column).unwrap_or_else(|e| {
            error.note(Err(e));
            0
        });
        let right_col = right_column.map(|c| {
            comparable(U::schema(), c).unwrap_or_else(|e| {
                error.note(Err(e));
                0
            })
        });
        Join {
            left,
            left_col,
            right_col,
            right: QuerySpec::default(),
            pair_filters: Vec::new(),
            order: Vec::new(),
            limit: None,
            offset: 0,
            error,
        }
    }

    fn note(&mut self, r: Result<()>) {
        self.error.note(r);
    }

    /// Keeps pairs whose right row passes `f`.
    pub fn filter_right(mut self, f: impl Fn(&U) -> bool + 'a) -> Self {
        self.right.filters.push(Box::new(f));
        self
    }

    /// Keeps pairs whose right row has `column` equal to `value`.
    pub fn where_right_eq(mut self, column: &str, value: impl Into<Value>) -> Self {
        let r = self.right.add_eq(U::schema(), column, value.into());
        self.note(r);
        self
    }

    /// Keeps pairs for which `f` holds.
    pub fn filter(mut self, f: impl Fn(&T, &U) -> bool + 'a) -> Self {
        self.pair_filters.push(Box::new(f));
        self
    }

    /// Orders the pairs by a column of either side: `"col"`, `"-col"`, or qualified with the
    /// table name (`"-students.gpa"`) when both sides have the column. An unqualified name is
    /// looked up on the left first.
    pub fn order_by(mut self, key: &str) -> Self {
        let (name, desc) = order_key(key);
        let (ls, rs) = (T::schema(), U::schema());
        let resolved = match name.split_once('.') {
            Some((t, c)) if t == ls.table => comparable(ls, c).map(|c| (Side::Left, c)),
            Some((t, c)) if t == rs.table => comparable(rs, c).map(|c| (Side::Right, c)),
            Some((t, _)) => Err(Error::UnknownTable {
                table: t.to_owned(),
            }),
            None => match ls.position(name) {
                Some(_) => comparable(ls, name).map(|c| (Side::Left, c)),
                None => comparable(rs, name).map(|c| (Side::Right, c)),
            },
        };
        match resolved {
            Ok((side, col)) => self.order.push((side, col, desc)),
            Err(e) => self.error.note(Err(e)),
        }
        self
    }

    /// Returns at most `n` pairs.
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// Skips the first `n` pairs.
    pub fn offset(mut self, n: usize) -> Self {
        self.offset = n;
        self
    }

    fn strategy(right_col: Option<usize>, right: &TableData<U>) -> (JoinStrategy, Option<usize>) {
        let schema = U::schema();
        match right_col {
            None => (JoinStrategy::PrimaryKeyLookup, None),
            Some(c) if c == schema.primary_key() => (JoinStrategy::PrimaryKeyLookup, None),
            Some(c) => {
                let column = schema.columns[c].name.clone();
                if schema.columns[c].unique {
                    (JoinStrategy::UniqueLookup { column }, Some(c))
                } else if right.ordered_index(c).is_some() {
                    (JoinStrategy::IndexLookup { column }, Some(c))
                } else {
                    (JoinStrategy::HashJoin { column }, Some(c))
                }
            }
        }
    }

    /// Runs the join, handing matched slot pairs to `f` in result order.
    fn run<O>(
        mut self,
        f: impl FnOnce(&TableData<T>, &TableData<U>, Vec<(u32, u32)>) -> Result<O>,
    ) -> Result<O> {
        self.error.take()?;
        let (src, idx, spec) = self.left.parts()?;
        let st = src.state(&T::schema().table)?;
        let lt = st.typed::<T>(idx)?;
        let right_idx = st.index_of(&U::schema().table)?;
        let rt = st.typed::<U>(right_idx)?;
        let (strategy, rcol) = Self::strategy(self.right_col, rt);
        let rpk = U::schema().primary_key();
        let rcol_pos = rcol.unwrap_or(rpk);
        // Right predicates are coerced to the right column's type once.
        let right_ok = |s: u32| -> bool {
            let Some(r) = rt.row(s) else { return false };
            query::matches_spec(&self.right, r)
        };
        let hash: Option<hashbrown::HashMap<Value, Vec<u32>>> = match strategy {
            JoinStrategy::HashJoin { .. } => {
                let mut m: hashbrown::HashMap<Value, Vec<u32>> = hashbrown::HashMap::new();
                for (s, r) in rt.iter() {
                    let v = r.col(rcol_pos);
                    if !v.is_null() && query::matches_spec(&self.right, r) {
                        m.entry(v.to_owned()).or_default().push(s);
                    }
                }
                Some(m)
            }
            _ => None,
        };
        let rschema = U::schema();
        let (lty, rty) = (
            T::schema().columns[self.left_col].ty,
            rschema.columns[rcol_pos].ty,
        );
        // Integer against integer or text against text compare as they are; other pairs are
        // converted to the right column's type (3 against 3.0) first.
        let same_kind = (lty.is_int() && rty.is_int()) || (lty == rty && !lty.is_float());
        let mut pairs = Vec::new();
        // An index lookup's right slots for one left row, reused.
        let mut matched: Vec<u32> = Vec::new();
        for ls in query::run(lt, &spec) {
            let Some(lrow) = lt.row(ls) else { continue };
            let v = lrow.col(self.left_col);
            if v.is_null() {
                continue;
            }
            let converted;
            let probe = if same_kind {
                v
            } else {
                match rschema.coerce(rcol_pos, v.to_owned()) {
                    Ok(p) => {
                        converted = p;
                        converted.as_ref()
                    }
                    Err(_) => continue,
                }
            };
            let mut push = |rs: u32| {
                if let Some(rrow) = rt.row(rs) {
                    if self.pair_filters.iter().all(|f| f(lrow, rrow)) {
                        pairs.push((ls, rs));
                    }
                }
            };
            match (&strategy, &hash) {
                (_, Some(m)) => {
                    if let Some(slots) = m.get(&probe.to_owned()) {
                        slots.iter().copied().for_each(&mut push);
                    }
                }
                (JoinStrategy::PrimaryKeyLookup, _) | (JoinStrategy::UniqueLookup { .. }, _) => {
                    if let Some(Some(rs)) = rt.find_unique(rcol_pos, probe) {
                        if right_ok(rs) {
                            push(rs);
                        }
                    }
                }
                _ => {
                    if let Some(ix) = rt.ordered_index(rcol_pos) {
                        let b = Bound::Included(probe.to_owned());
                        // The index keeps a key's rows in its own order (slots); the right
                        // rows of a left row come in the right key's order, as the other
                        // strategies give them (the table's `iter`).
                        matched.clear();
                        matched.extend(
                            ix.range(&b, &b)
                                .map(|(_, rs)| rs)
                                .filter(|&rs| right_ok(rs)),
                        );
                        if matched.len() > 1 {
                            matched.sort_by(|&a, &b| {
                                let key = |s| rt.row(s).map(|r| r.col(rpk));
                                match (key(a), key(b)) {
                                    (Some(x), Some(y)) => x.total_cmp(y),
                                    _ => std::cmp::Ordering::Equal,
                                }
                            });
                        }
                        matched.iter().copied().for_each(&mut push);
                    }
                }
            }
        }
        if !self.order.is_empty() {
            let order = &self.order;
            pairs.sort_by(|a, b| {
                for &(side, col, desc) in order {
                    let (x, y) = match side {
                        Side::Left => (
                            lt.row(a.0).map(|r| r.col(col)),
                            lt.row(b.0).map(|r| r.col(col)),
                        ),
                        Side::Right => (
                            rt.row(a.1).map(|r| r.col(col)),
                            rt.row(b.1).map(|r| r.col(col)),
                        ),
                    };
                    let o = match (x, y) {
                        (Some(x), Some(y)) => x.total_cmp(y),
                        _ => Ordering::Equal,
                    };
                    if o != Ordering::Equal {
                        return if desc { o.reverse() } else { o };
                    }
                }
                Ordering::Equal
            });
        }
        window(&mut pairs, self.offset, self.limit);
        f(lt, rt, pairs)
    }

    /// Every matching pair of rows.
    pub fn all(self) -> Result<Vec<(T, U)>> {
        self.run(|lt, rt, pairs| {
            Ok(pairs
                .into_iter()
                .filter_map(|(l, r)| Some((lt.row(l)?.clone(), rt.row(r)?.clone())))
                .collect())
        })
    }

    /// Runs `f` on every matching pair without cloning either row; returns how many.
    pub fn for_each(self, mut f: impl FnMut(&T, &U)) -> Result<usize> {
        self.run(|lt, rt, pairs| {
            for &(l, r) in &pairs {
                if let (Some(a), Some(b)) = (lt.row(l), rt.row(r)) {
                    f(a, b);
                }
            }
            Ok(pairs.len())
        })
    }

    /// The number of matching pairs (within limit and offset).
    pub fn count(self) -> Result<usize> {
        self.run(|_, _, pairs| Ok(pairs.len()))
    }

    /// The plan: the left query's, and how the right side is reached.
    pub fn explain(mut self) -> Result<JoinPlan> {
        self.error.take()?;
        let right_name = U::schema().table.clone();
        let (src, idx, spec) = self.left.parts()?;
        let st = src.state(&T::schema().table)?;
        let lt = st.typed::<T>(idx)?;
        let rt = st.typed::<U>(st.index_of(&right_name)?)?;
        let (strategy, _) = Self::strategy(self.right_col, rt);
        Ok(JoinPlan {
            left: query::explain(lt, &spec),
            right: right_name,
            strategy,
        })
    }
}
