//! Indexes a statement makes for itself, as SQLite's automatic indexes: a correlated
//! subquery runs once per row of the query around it, and where it picks its rows by
//! equality on a column no index serves (`EXISTS (SELECT 1 FROM orders o WHERE
//! o.customer = c.id)`), each run read the whole table: quadratic. Any scan of a
//! statement counts (a subquery's, a join's, a member of a compound query's): once one has
//! read a table whole [`AFTER`] times by equality on one column, the next hashes the
//! table's keys by that column's value, once, and it and every later such scan read only
//! the rows holding their value. Where the column holds few distinct values the index
//! would cost more than the scans (a lookup by key per row found), so it is kept unused.
//!
//! The indexes live as long as a read statement's [`Snapshot`](super::target::Snapshot) (a
//! read-only `BEGIN … COMMIT`, or a read transaction, shares one between its statements),
//! or one statement in a write transaction, and each is used only for the very table it
//! was made from, compared by pointer: a snapshot that loads another table may move to a
//! newer version (and a table changed meanwhile marks it torn), and a write transaction
//! writing a table copies it first while another holder (the index) shares it
//! (`State::table_mut`), so no index is used past a write to its table (a statement's
//! reads come before its writes, and the next statement makes its own indexes, but
//! nothing here relies on it). That copy carries the transaction's journal of changes to
//! the table, so a table the transaction has written is indexed like any other. Values
//! SQL's `=` calls
//! equal share one [`GroupKey`], a wider equality than the scan's ([`Pred::matches`]):
//! every row found is checked against all of the scan's predicates, so it finds exactly
//! the rows the full scan would, in the same (key) order.

use std::cell::RefCell;
use std::sync::Arc;

use hashbrown::HashMap;

use crate::engine::any_table::AnyTable;
use crate::error::Result;
use crate::query::{Pred, QuerySpec};
use crate::record::{Cols, Row};
use crate::schema::Schema;
use crate::sql::select::GroupKey;
use crate::sql::target::rows_by_key;
use crate::value::Value;

/// Full scans by equality on one column a statement makes before indexing it: enough that
/// a scan or two (a subquery that runs for a couple of rows, a table read twice) never
/// pays for an index it would not use.
const AFTER: u32 = 3;

/// Distinct values a column must hold for its index to be used: with fewer, a scan by one
/// of them finds so many rows, each looked up by key, that reading the table costs less.
const WORTH: usize = 16;

/// The scans counted and the indexes made, for one statement (or a read transaction).
#[derive(Default)]
pub(crate) struct AutoIndexes {
    /// Per (table, column): the full scans by equality on it so far.
    counts: RefCell<HashMap<(usize, usize), u32>>,
    made: RefCell<Vec<Arc<AutoIndex>>>,
}

/// A table's primary keys by one column's value, in key order.
struct AutoIndex {
    /// The table indexed, compared by pointer before each use.
    table: Arc<dyn AnyTable>,
    idx: usize,
    col: usize,
    keys: HashMap<GroupKey, Vec<Value>>,
    /// Whether it holds [`WORTH`] distinct values (else it is kept only so that the
    /// scans are not counted again).
    worth: bool,
}

impl AutoIndexes {
    /// Hands `f` the rows of `table` (table `idx` of the statement's version) that `preds`
    /// select, in key order, through an automatic index when the scan is one more by
    /// equality on a column no index serves, after [`AFTER`] of them; `false` when it was
    /// not, for the caller to scan.
    pub(crate) fn scan(
        &self,
        idx: usize,
        table: &Arc<dyn AnyTable>,
        preds: &[Pred],
        f: &mut dyn FnMut(&dyn Cols) -> Result<bool>,
    ) -> Result<bool> {
        let Some((col, value)) = unindexed_equality(table.schema(), preds) else {
            return Ok(false);
        };
        let found = self
            .made
            .borrow()
            .iter()
            .find(|ix| ix.idx == idx && ix.col == col && Arc::ptr_eq(&ix.table, table))
            .cloned();
        let index = match found {
            Some(ix) => ix,
            None => {
                let mut counts = self.counts.borrow_mut();
                let n = counts.entry((idx, col)).or_default();
                if *n < AFTER {
                    *n += 1;
                    return Ok(false);
                }
                *n = 0;
                drop(counts);
                let ix = Arc::new(AutoIndex::make(idx, col, table)?);
                let mut made = self.made.borrow_mut();
                made.retain(|m| !(m.idx == idx && m.col == col));
                made.push(Arc::clone(&ix));
                ix
            }
        };
        if !index.worth {
            return Ok(false);
        }
        index.scan(value, preds, f)?;
        Ok(true)
    }
}

/// The column and value of the first equality in `preds`, when no predicate's column is
/// served by an index (the key's, a unique one, an ordered one, or one of several columns):
/// the scan would read the whole table.
fn unindexed_equality<'p>(schema: &Schema, preds: &'p [Pred]) -> Option<(usize, &'p Value)> {
    let in_composite = |col: usize| {
        let name = &schema.columns[col].name;
        schema
            .unique
            .iter()
            .chain(&schema.index)
            .any(|cols| cols.contains(name))
    };
    let indexed = |col: usize| {
        schema
            .columns
            .get(col)
            .is_none_or(|c| c.has_own_index() || in_composite(col))
    };
    if preds.iter().any(|p| indexed(p.col())) {
        return None;
    }
    preds.iter().find_map(|p| match p {
        Pred::Eq { col, value } if !value.is_null() => Some((*col, value)),
        _ => None,
    })
}

impl AutoIndex {
    /// Reads every row of `table` once for its key and column `col`'s value.
    fn make(idx: usize, col: usize, table: &Arc<dyn AnyTable>) -> Result<AutoIndex> {
        let pk = table.schema().primary_key();
        let text = [col, pk]
            .iter()
            .any(|&c| table.schema().columns[c].ty == crate::schema::ColumnType::Text);
        let mut keys: HashMap<GroupKey, Vec<Value>> = HashMap::new();
        let all = QuerySpec::<Row>::default();
        table.scan_cols(&all, text, &mut |row| {
            let v = row.value_at(col);
            // A null equals nothing: no scan by equality finds it.
            if !v.is_null() {
                keys.entry(GroupKey::of_ref(v))
                    .or_default()
                    .push(row.value_at(pk).to_owned());
            }
            Ok(true)
        })?;
        let worth = keys.len() >= WORTH;
        Ok(AutoIndex {
            table: Arc::clone(table),
            idx,
            col,
            keys: if worth { keys } else { HashMap::new() },
            worth,
        })
    }

    /// The rows whose column is `value` and that pass every one of `preds`, to `f`.
    fn scan(
        &self,
        value: &Value,
        preds: &[Pred],
        f: &mut dyn FnMut(&dyn Cols) -> Result<bool>,
    ) -> Result<()> {
        let Some(keys) = self.keys.get(&GroupKey::probe(value.as_ref())) else {
            return Ok(());
        };
        rows_by_key(&*self.table, keys, preds, f)
    }
}
