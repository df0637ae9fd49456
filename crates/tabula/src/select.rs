//! The `select()` builder shared by every table handle.

use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use crate::aggregate::{self, Agg, Group};
use crate::engine::any_table::AnyTable;
use crate::engine::source::Source;
use crate::error::Result;
use crate::query::{self, FirstError, Plan, QuerySpec};
use crate::record::{Row, Table};
use crate::schema::Schema;
use crate::table::TableData;
use crate::value::Value;

/// Rows a SQL condition can be evaluated on: typed rows and dynamic [`Row`]s.
pub trait SqlRow {
    /// Whether the row satisfies `c`.
    fn satisfies(&self, c: &crate::expr::Condition) -> bool;
}

impl<T: Table> SqlRow for T {
    fn satisfies(&self, c: &crate::expr::Condition) -> bool {
        c.matches_with(&|i| self.column(i))
    }
}

impl SqlRow for Row {
    fn satisfies(&self, c: &crate::expr::Condition) -> bool {
        c.matches(self.values())
    }
}

/// A query being built: column predicates, closure filters, order, window. Finish it with
/// [`all`](Select::all), [`first`](Select::first), [`count`](Select::count),
/// [`keys`](Select::keys) or [`explain`](Select::explain).
///
/// `where_eq` and `where_range` can be served by the primary key, a unique column or an
/// `index` column; `filter` runs a closure on each row reached. Results come in primary-key
/// order unless ordered; rows with equal sort keys come in primary-key order. Floats order
/// by [`f64::total_cmp`] (NaN after `+inf`, every NaN one value whatever its bits); nulls sort first (last when descending) and
/// never match a range.
///
/// A column name that does not exist, or a value that does not fit its column, makes the
/// terminal call fail with `Error::UnknownColumn` or `Error::TypeMismatch`.
pub struct Select<'a, R> {
    src: &'a dyn Source,
    idx: usize,
    schema: &'a Schema,
    names: Option<Arc<[String]>>,
    spec: QuerySpec<'a, R>,
    error: FirstError,
}

impl<R> std::fmt::Debug for Select<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Select")
            .field("table", &self.schema.table)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl<'a, R> Select<'a, R> {
    pub(crate) fn new(
        src: &'a dyn Source,
        idx: usize,
        schema: &'a Schema,
        names: Option<Arc<[String]>>,
    ) -> Self {
        Select {
            src,
            idx,
            schema,
            names,
            spec: QuerySpec::default(),
            error: FirstError::default(),
        }
    }

    fn note(&mut self, r: Result<()>) {
        self.error.note(r);
    }

    /// The query, failing at its terminal call with `r`'s error if it has one.
    pub(crate) fn noted(mut self, r: Result<()>) -> Self {
        self.note(r);
        self
    }

    /// Keeps rows for which `f` returns true. Runs on every row the access path reaches.
    pub fn filter(mut self, f: impl Fn(&R) -> bool + 'a) -> Self {
        self.spec.filters.push(Box::new(f));
        self
    }

    /// Keeps rows whose `column` equals `value` (`Value::Null` matches null). Served by the
    /// primary key, a unique column or an index when there is one.
    pub fn where_eq(mut self, column: &str, value: impl Into<Value>) -> Self {
        let r = self.spec.add_eq(self.schema, column, value.into());
        self.note(r);
        self
    }

    /// Keeps rows whose `column` lies in `range` (`3.0..=4.0`, `2018..2020`, `..x`). Served by
    /// an index when the column has one. Nulls never match. A float bound on an `f32` column
    /// is taken as the column would store it (the nearest `f32`), as `where_eq`'s value is:
    /// `where_range("f", 0.1..=0.1)` finds the row that stored `0.1`.
    pub fn where_range<V: Into<Value> + Clone>(
        mut self,
        column: &str,
        range: impl RangeBounds<V>,
    ) -> Self {
        let conv = |b: Bound<&V>| match b {
            Bound::Included(v) => Bound::Included(v.clone().into()),
            Bound::Excluded(v) => Bound::Excluded(v.clone().into()),
            Bound::Unbounded => Bound::Unbounded,
        };
        let (lo, hi) = (conv(range.start_bound()), conv(range.end_bound()));
        let r = self.spec.add_range(self.schema, column, lo, hi);
        self.note(r);
        self
    }

    /// Keeps rows satisfying a SQL boolean expression (see [`Condition`](crate::Condition)):
    /// `"gpa > 3.5 AND year IN (2023, 2024)"`. Top-level `AND` terms on columns are also
    /// given to the planner, so indexes serve them. Floats compare in the indexes' total
    /// order, where `-0.0` is below `0.0` (SQL's `WHERE`, in `db.sql`, holds them equal; see
    /// docs/SCHEMA.md, "How a check compares").
    pub fn where_sql(mut self, expression: &str) -> Self
    where
        R: SqlRow,
    {
        match crate::expr::Condition::parse(self.schema, expression) {
            Ok(c) => {
                for (col, lo, hi) in c.pushdown() {
                    let name = self.schema.columns[col].name.clone();
                    let r = match (lo, hi) {
                        // `BETWEEN x AND x` is an equality when the column can hold `x`;
                        // otherwise (`year BETWEEN 2.5 AND 2.5`, a bound beyond i64) a
                        // range, which finds nothing, as SQL does, rather than an error.
                        (Bound::Included(a), Bound::Included(b))
                            if a == b && self.schema.coerce(col, a.clone()).is_ok() =>
                        {
                            self.spec.add_eq(self.schema, &name, a)
                        }
                        (lo, hi) => self.spec.add_range(self.schema, &name, lo, hi),
                    };
                    self.note(r);
                }
                self.spec
                    .filters
                    .push(Box::new(move |r: &R| r.satisfies(&c)));
            }
            Err(e) => self.note(Err(e)),
        }
        self
    }

    /// Orders by `"col"` (ascending) or `"-col"` (descending); further calls add tie-breakers.
    pub fn order_by(mut self, key: &str) -> Self {
        let r = self.spec.add_order(self.schema, key);
        self.note(r);
        self
    }

    /// Returns at most `n` rows.
    pub fn limit(mut self, n: usize) -> Self {
        self.spec.limit = Some(n);
        self
    }

    /// Skips the first `n` rows of the result.
    pub fn offset(mut self, n: usize) -> Self {
        self.spec.offset = n;
        self
    }

    /// The parts a join needs: where to read, which table, and the resolved query.
    pub(crate) fn parts(mut self) -> Result<(&'a dyn Source, usize, QuerySpec<'a, R>)> {
        self.ready()?;
        Ok((self.src, self.idx, self.spec))
    }

    fn ready(&mut self) -> Result<()> {
        self.error.take()
    }
}

impl<'a, T: Table> Select<'a, T> {
    fn with<O>(
        mut self,
        f: impl FnOnce(&TableData<T>, &QuerySpec<'a, T>) -> Result<O>,
    ) -> Result<O> {
        self.ready()?;
        let st = self.src.state(&self.schema.table)?;
        let t = st.typed::<T>(self.idx)?;
        f(t, &self.spec)
    }

    /// Every matching row.
    pub fn all(self) -> Result<Vec<T>> {
        self.with(|t, q| Ok(query::rows(t, q)))
    }

    /// The first matching row, if any.
    pub fn first(self) -> Result<Option<T>> {
        let mut s = self;
        s.spec.limit = Some(s.spec.limit.map_or(1, |l| l.min(1)));
        Ok(s.all()?.into_iter().next())
    }

    /// The number of matching rows (within limit and offset, if set).
    pub fn count(self) -> Result<usize> {
        self.with(|t, q| Ok(query::count(t, q)))
    }

    /// The primary keys of the matching rows.
    pub fn keys(self) -> Result<Vec<T::Key>> {
        self.with(|t, q| {
            let pk = t.schema.primary_key();
            query::run(t, q)
                .into_iter()
                .filter_map(|s| t.row(s))
                .map(|r| {
                    crate::column::field::<T::Key>(
                        &t.schema.table,
                        &t.schema.columns[pk].name,
                        r.column(pk).to_owned(),
                    )
                })
                .collect()
        })
    }

    /// Runs `f` on every matching row in order without cloning any, and returns how many
    /// there were.
    pub fn for_each(self, mut f: impl FnMut(&T)) -> Result<usize> {
        self.with(|t, q| {
            let slots = query::run(t, q);
            for &s in &slots {
                if let Some(r) = t.row(s) {
                    f(r);
                }
            }
            Ok(slots.len())
        })
    }

    /// The plan the query would run: which index or scan, and how it orders.
    ///
    /// ```
    /// use tabula::{Access, Database, Table};
    /// #[derive(Table, Clone, Debug)]
    /// struct Item { #[column(primary_key)] id: u64, #[column(index)] kind: u32 }
    /// let db = Database::in_memory();
    /// let items = db.table::<Item>()?;
    /// let plan = items.select().where_eq("kind", 3).explain()?;
    /// assert_eq!(plan.access, Access::IndexRange { column: "kind".into() });
    /// assert_eq!(plan.to_string(), "item: index range on kind, sort");
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn explain(self) -> Result<Plan> {
        self.with(|t, q| Ok(query::explain(t, q)))
    }
}

impl<'a> Select<'a, Row> {
    /// Keeps rows for which `f`, given the row's values in schema order, returns true.
    /// A table without a Rust type lends its rows' values in place, where
    /// [`filter`](Select::filter) hands its closure a [`Row`] copied out of the table for
    /// every row it tests (a typed table's rows are copied for either). The `filter`s run
    /// before the `filter_values`, each kind in the order given.
    ///
    /// ```
    /// use tabula::{row, Column, ColumnType, Database, Schema, Value};
    /// let db = Database::in_memory();
    /// let t = db.create_table(Schema::new("t", vec![
    ///     Column::new("id", ColumnType::U64).primary_key(),
    ///     Column::new("name", ColumnType::Text),
    /// ])?)?;
    /// t.insert_many([row! { "name" => "ada" }, row! { "name" => "bob" }])?;
    /// let found = t.select().filter_values(|v| v[1] == Value::from("bob")).all()?;
    /// assert_eq!(found[0]["id"], Value::Int(2));
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn filter_values(mut self, f: impl Fn(&[Value]) -> bool + 'a) -> Self {
        self.spec.value_filters.push(Box::new(f));
        self
    }

    fn with_dyn<O>(
        mut self,
        f: impl FnOnce(&dyn AnyTable, &QuerySpec<'a, Row>, &Arc<[String]>) -> Result<O>,
    ) -> Result<O> {
        self.ready()?;
        let names = self
            .names
            .clone()
            .unwrap_or_else(|| column_names(self.schema));
        let st = self.src.state(&self.schema.table)?;
        let t = st.table(self.idx)?;
        // The handle checked its schema when the query began, but outside a transaction
        // this read may see a later version: one migrated since would hand over rows of
        // another shape than `names` and the filters expect.
        self.schema.still_current(t.schema())?;
        f(t, &self.spec, &names)
    }

    /// Every matching row.
    pub fn all(self) -> Result<Vec<Row>> {
        self.with_dyn(|t, q, names| {
            Ok(t.dyn_select(q, names)?
                .into_iter()
                .map(|v| Row::with_names(names.clone(), v))
                .collect())
        })
    }

    /// Runs `f` on every matching row in order, one row at a time, and returns how many
    /// there were: for printing or streaming a large result without holding it all.
    ///
    /// ```
    /// use tabula::{row, Column, ColumnType, Database, Schema};
    /// let db = Database::in_memory();
    /// let t = db.create_table(Schema::new("t", vec![
    ///     Column::new("id", ColumnType::U64).primary_key(),
    ///     Column::new("name", ColumnType::Text),
    /// ])?)?;
    /// t.insert_many([row! { "name" => "a" }, row! { "name" => "b" }])?;
    /// let mut names = Vec::new();
    /// let n = t.select().order_by("-name").for_each(|r| names.push(r["name"].clone()))?;
    /// assert_eq!((n, names), (2, vec!["b".into(), "a".into()]));
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn for_each(self, mut f: impl FnMut(&Row)) -> Result<usize> {
        self.with_dyn(|t, q, names| {
            t.dyn_for_each(q, names, &mut |values| {
                f(&Row::with_names(names.clone(), values));
            })
        })
    }

    /// The first matching row, if any.
    pub fn first(self) -> Result<Option<Row>> {
        let mut s = self;
        s.spec.limit = Some(s.spec.limit.map_or(1, |l| l.min(1)));
        Ok(s.all()?.into_iter().next())
    }

    /// The number of matching rows (within limit and offset, if set).
    pub fn count(self) -> Result<usize> {
        self.with_dyn(|t, q, names| t.dyn_count(q, names))
    }

    /// The primary keys of the matching rows.
    pub fn keys(self) -> Result<Vec<Value>> {
        self.with_dyn(|t, q, names| t.dyn_keys(q, names))
    }

    /// The plan the query would run.
    pub fn explain(self) -> Result<Plan> {
        self.with_dyn(|t, q, names| Ok(t.dyn_explain(q, names)))
    }
}

pub(crate) fn column_names(schema: &Schema) -> Arc<[String]> {
    schema.columns.iter().map(|c| c.name.clone()).collect()
}

impl<'a, T: Table> Select<'a, T> {
    /// Computes several aggregates over the selected rows at once (no row is cloned).
    ///
    /// ```
    /// use tabula::{Agg, Database, Table, Value};
    /// #[derive(Table, Clone, Debug)]
    /// struct Sale { #[column(primary_key)] id: u64, #[column(index)] region: String, amount: i64 }
    /// let db = Database::in_memory();
    /// let sales = db.table::<Sale>()?;
    /// sales.insert_many([("n", 5), ("s", 7), ("n", 10)].map(|(r, a)| Sale { id: 0, region: r.into(), amount: a }))?;
    /// let all = sales.select().aggregate([Agg::count(), Agg::sum("amount"), Agg::max("amount")])?;
    /// assert_eq!(all, vec![Value::Int(3), Value::Int(22), Value::Int(10)]);
    /// let per_region = sales.select().group_by("region").aggregate([Agg::avg("amount")])?;
    /// assert_eq!(per_region[0].key, Value::from("n"));
    /// assert_eq!(per_region[0].values, vec![Value::Float(7.5)]);
    /// assert_eq!(sales.select().where_eq("region", "s").sum("amount")?, Value::Int(7));
    /// # Ok::<(), tabula::Error>(())
    /// ```
    pub fn aggregate(self, aggs: impl IntoIterator<Item = Agg<'a, T>>) -> Result<Vec<Value>> {
        let aggs: Vec<Agg<'a, T>> = aggs.into_iter().collect();
        self.with(|t, q| {
            let plans = aggregate::resolve(&t.schema, &aggs)?;
            let mut acc = aggregate::GroupAcc::new(&plans, &t.schema);
            for s in query::run(t, q) {
                if let Some(r) = t.row(s) {
                    acc.add(&plans, r);
                }
            }
            Ok(acc.finish((), &plans).values)
        })
    }

    fn one(self, agg: Agg<'a, T>) -> Result<Value> {
        Ok(self.aggregate([agg])?.pop().unwrap_or(Value::Null))
    }

    /// The sum of a numeric column over the selected rows (`Null` if none has a value).
    pub fn sum(self, column: &str) -> Result<Value> {
        self.one(Agg::sum(column))
    }

    /// The mean of a numeric column over the selected rows (`Null` if none has a value).
    pub fn avg(self, column: &str) -> Result<Value> {
        self.one(Agg::avg(column))
    }

    /// The smallest value of a column over the selected rows.
    pub fn min(self, column: &str) -> Result<Value> {
        self.one(Agg::min(column))
    }

    /// The largest value of a column over the selected rows.
    pub fn max(self, column: &str) -> Result<Value> {
        self.one(Agg::max(column))
    }

    /// The sum of `f` over the selected rows.
    pub fn sum_by(self, f: impl Fn(&T) -> f64 + 'a) -> Result<f64> {
        Ok(self.one(Agg::sum_by(f))?.as_f64().unwrap_or(0.0))
    }

    /// The mean of `f` over the selected rows (`None` if there are none).
    pub fn avg_by(self, f: impl Fn(&T) -> f64 + 'a) -> Result<Option<f64>> {
        Ok(self.one(Agg::avg_by(f))?.as_f64())
    }

    /// The smallest `f` over the selected rows.
    pub fn min_by<V: Into<Value>>(self, f: impl Fn(&T) -> V + 'a) -> Result<Value> {
        self.one(Agg::min_by(f))
    }

    /// The largest `f` over the selected rows.
    pub fn max_by<V: Into<Value>>(self, f: impl Fn(&T) -> V + 'a) -> Result<Value> {
        self.one(Agg::max_by(f))
    }

    /// Groups the selected rows by a column; finish with [`GroupBy::aggregate`] or
    /// [`GroupBy::count`]. Groups come in key order (nulls first).
    pub fn group_by(mut self, column: &str) -> GroupBy<'a, T, Value> {
        // A json column's rows read as null here: grouped by it, every row would be one group.
        let col = match self.schema.comparable_column(column, "grouped by") {
            Ok(c) => c,
            Err(e) => {
                self.error.note(Err(e));
                0
            }
        };
        GroupBy {
            select: self,
            key: Box::new(move |r: &T| r.column(col).to_owned()),
        }
    }

    /// Groups the selected rows by a key computed from each row.
    pub fn group_by_key<K: Ord>(self, key: impl Fn(&T) -> K + 'a) -> GroupBy<'a, T, K> {
        GroupBy {
            select: self,
            key: Box::new(key),
        }
    }
}

/// Selected rows grouped by a key, from [`Select::group_by`] or [`Select::group_by_key`].
pub struct GroupBy<'a, T, K> {
    select: Select<'a, T>,
    key: Box<dyn Fn(&T) -> K + 'a>,
}

impl<T, K> std::fmt::Debug for GroupBy<'_, T, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupBy")
            .field("select", &self.select)
            .finish_non_exhaustive()
    }
}

impl<'a, T: Table, K: Ord> GroupBy<'a, T, K> {
    /// Each group's key, row count and the aggregates asked for, in key order.
    pub fn aggregate(self, aggs: impl IntoIterator<Item = Agg<'a, T>>) -> Result<Vec<Group<K>>> {
        let aggs: Vec<Agg<'a, T>> = aggs.into_iter().collect();
        let key = self.key;
        self.select.with(|t, q| {
            let plans = aggregate::resolve(&t.schema, &aggs)?;
            let slots = query::run(t, q);
            let rows = slots.iter().filter_map(|&s| t.row(s)).map(|r| (key(r), r));
            Ok(aggregate::group(rows, &plans, &t.schema))
        })
    }

    /// Each group's key with its number of rows, in key order.
    pub fn count(self) -> Result<Vec<(K, usize)>> {
        Ok(self
            .aggregate([])?
            .into_iter()
            .map(|g| (g.key, g.count))
            .collect())
    }
}
