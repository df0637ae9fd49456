//! The short way for a point lookup: `SELECT columns FROM t WHERE c = ?` (or a constant),
//! with `c` the primary key or a column with a unique index of its own, is answered by one
//! probe of that index in the newest version, without planning a query.
//!
//! The statement's shape is read once from its parsed text (and kept with it, see
//! `run::Parsed`); its names are bound to the table's columns on every run, as the general
//! path binds them, so a migration never leaves it stale. A prepared statement keeps its
//! binding in its own [`Scratch`] while the table's schema stays the same one (nothing is
//! shared between statements or threads, so a lookup never waits). Anything the shape cannot answer
//! exactly as the general path would (a table not loaded yet, a name that does not resolve,
//! a key of another kind than the column's, a column without a unique index) takes the
//! general path, which also gives its errors.

use sqlparser::ast::{
    BinaryOperator, Expr, GroupByExpr, SelectItem, SelectItemQualifiedWildcardKind, SetExpr,
    Statement, Value as SqlValue,
};

use std::sync::Arc;

use crate::engine::Engine;
use crate::error::Result;
use crate::record::Cols;
use crate::schema::{ColumnType, Schema};
use crate::sql::from::plain_table;
use crate::sql::rows_to::{hand_refs, Each};
use crate::sql::run::SqlResult;
use crate::sql::select::refuse_other_clauses;
use crate::value::Value;

/// A statement of the point-lookup shape.
#[derive(Debug)]
pub(crate) struct Point {
    table: String,
    items: Vec<Item>,
    /// The column compared with the key.
    column: String,
    key: Key,
}

/// What a prepared statement keeps from one lookup to the next: the binding of its names
/// to the columns of the schema the last run met, and the row it hands out, refilled run
/// after run so that its texts are not allocated again.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    bound: Option<Binding>,
    row: Vec<Value>,
    /// The table's position, found in this map of names (held, so that it cannot change
    /// in place: a version that adds or drops a table makes a new map).
    at: Option<(Arc<Names>, usize)>,
}

/// A version's table positions by name.
type Names = hashbrown::HashMap<String, usize>;

/// The longest text a prepared statement's row keeps for its next lookup, in bytes.
const KEPT_TEXT: usize = 4096;

/// [`Point`]'s names resolved against one schema. It keeps the schema alive, so that a
/// pointer comparison with a table's schema is exact: a migration gives the table another
/// schema (schemas are never changed in place), and so does another database sharing the
/// parsed text.
#[derive(Debug)]
struct Binding {
    schema: Arc<Schema>,
    /// The position of the column compared with the key.
    key: usize,
    /// The position of each result column.
    columns: Vec<usize>,
}

#[derive(Debug)]
enum Item {
    /// `*` or `t.*`: every column, in the table's order.
    Every,
    /// A column, and the name the result gives it.
    Column { name: String, output: String },
}

#[derive(Debug)]
enum Key {
    /// The placeholder at this position.
    Param(usize),
    Value(Value),
}

/// The point-lookup shape of `s`, if it has it.
pub(crate) fn shape(s: &Statement) -> Option<Point> {
    let Statement::Query(q) = s else { return None };
    if q.with.is_some() || q.order_by.is_some() || q.limit_clause.is_some() {
        return None;
    }
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return None;
    };
    refuse_other_clauses(q, sel).ok()?;
    let no_grouping =
        matches!(&sel.group_by, GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty());
    if sel.distinct.is_some() || !no_grouping || sel.having.is_some() || sel.from.len() != 1 {
        return None;
    }
    let from = &sel.from[0];
    if !from.joins.is_empty() {
        return None;
    }
    let (table, alias) = plain_table(&from.relation).ok()?;
    let qualifier = alias.map_or(table.as_str(), |a| a.value.as_str());
    let column_of = |e: &Expr| -> Option<String> {
        match e {
            Expr::Identifier(id) => Some(id.value.clone()),
            Expr::CompoundIdentifier(parts) => match parts.as_slice() {
                [q, c] if q.value == qualifier => Some(c.value.clone()),
                _ => None,
            },
            _ => None,
        }
    };
    let mut items = Vec::with_capacity(sel.projection.len());
    for item in &sel.projection {
        items.push(match item {
            SelectItem::Wildcard(_) => Item::Every,
            SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::ObjectName(n), _)
                if matches!(n.0.as_slice(), [p] if p.as_ident().is_some_and(|i| i.value == qualifier)) =>
            {
                Item::Every
            }
            SelectItem::UnnamedExpr(e) => {
                let name = column_of(e)?;
                Item::Column {
                    output: name.clone(),
                    name,
                }
            }
            SelectItem::ExprWithAlias { expr, alias } => Item::Column {
                name: column_of(expr)?,
                output: alias.value.clone(),
            },
            _ => return None,
        });
    }
    let Some(Expr::BinaryOp {
        left,
        op: BinaryOperator::Eq,
        right,
    }) = &sel.selection
    else {
        return None;
    };
    let (column, key) = match (column_of(left), column_of(right)) {
        (Some(c), None) => (c, key_of(right)?),
        (None, Some(c)) => (c, key_of(left)?),
        _ => return None,
    };
    Some(Point {
        table,
        items,
        column,
        key,
    })
}

/// A placeholder (numbered `$n` by the parse), an integer or a text constant.
fn key_of(e: &Expr) -> Option<Key> {
    let Expr::Value(v) = e else { return None };
    match &v.value {
        SqlValue::Placeholder(p) => {
            let n: usize = p.strip_prefix('$')?.parse().ok()?;
            Some(Key::Param(n.checked_sub(1)?))
        }
        SqlValue::Number(n, false) => n.parse::<i64>().ok().map(|i| Key::Value(Value::Int(i))),
        SqlValue::SingleQuotedString(s) => Some(Key::Value(Value::Text(s.clone()))),
        _ => None,
    }
}

impl Point {
    /// The names bound to `schema`'s columns; `None` when a name does not resolve (the
    /// general path then names it in its error).
    fn bind(&self, schema: &Arc<Schema>) -> Option<Binding> {
        let mut columns = Vec::new();
        for item in &self.items {
            match item {
                Item::Every => columns.extend(0..schema.columns.len()),
                Item::Column { name, .. } => columns.push(schema.position(name)?),
            }
        }
        Some(Binding {
            schema: schema.clone(),
            key: schema.position(&self.column)?,
            columns,
        })
    }
}

/// Runs `point` on the newest version: `None` when it takes the general path. The row (at
/// most one) goes to `each`, or into the result without one; when it goes to `each`, the
/// result carries the column names only if `names` asks for them. A prepared statement's
/// `scratch` keeps the binding and the row handed out as values from run to run.
pub(crate) fn run(
    engine: &Engine,
    point: &Point,
    params: &[Value],
    mut each: Option<Each<'_>>,
    names: bool,
    scratch: Option<&mut Scratch>,
) -> Option<Result<SqlResult>> {
    let st = match engine.read_state(&point.table) {
        Ok(st) => st,
        Err(e) => return Some(Err(e)),
    };
    let (kept, mut row, at) = match scratch {
        Some(Scratch { bound, row, at }) => (Some(bound), Some(row), Some(at)),
        None => (None, None, None),
    };
    let idx = match at {
        Some(Some((names, idx))) if Arc::ptr_eq(names, &st.by_name) => *idx,
        at => {
            let &idx = st.by_name.get(&point.table)?;
            if let Some(at) = at {
                *at = Some((st.by_name.clone(), idx));
            }
            idx
        }
    };
    if !st.meta.get(idx)?.loaded {
        return None;
    }
    let t = st.table(idx).ok()?;
    let schema = t.schema();
    let mut fresh = None;
    let bound: &Binding = match kept {
        Some(kept) => {
            if !kept
                .as_ref()
                .is_some_and(|b| Arc::ptr_eq(&b.schema, schema))
            {
                *kept = Some(point.bind(schema)?);
            }
            kept.as_ref()?
        }
        None => fresh.insert(point.bind(schema)?),
    };
    let key = match &point.key {
        Key::Param(i) => params.get(*i)?,
        Key::Value(v) => v,
    };
    // The index compares stored values as they are: a key of the column's kind finds
    // exactly the rows `=` would.
    let same_kind = match key {
        Value::Int(_) => schema.columns[bound.key].ty.is_int(),
        Value::Text(_) => schema.columns[bound.key].ty == ColumnType::Text,
        _ => false,
    };
    if !same_kind {
        return None;
    }
    let mut columns = Vec::new();
    if names || each.is_none() {
        columns.reserve(bound.columns.len());
        for item in &point.items {
            match item {
                Item::Every => columns.extend(schema.columns.iter().map(|c| c.name.clone())),
                Item::Column { output, .. } => columns.push(output.clone()),
            }
        }
    }
    let mut rows = Vec::new();
    let owned = |r: &dyn Cols| -> Vec<Value> {
        bound
            .columns
            .iter()
            .map(|&c| r.value_at(c).to_owned())
            .collect()
    };
    let found = t.unique_cols(bound.key, key.as_ref(), &mut |r| {
        // The lookup finds one row at most, so whether `f` asks for more does not matter.
        match (&mut each, &mut row) {
            (Some(Each::Refs(f)), _) => hand_refs(&mut **f, bound.columns.len(), |refs| {
                r.refs_into(&bound.columns, refs)
            })
            .map(drop),
            (Some(Each::Values(f)), Some(row)) => {
                row.resize(bound.columns.len(), Value::Null);
                for (slot, &c) in row.iter_mut().zip(&bound.columns) {
                    r.value_at(c).store_in(slot);
                }
                let answer = f(row).map(drop);
                // A long text is not kept from one lookup to the next.
                for v in row.iter_mut() {
                    if matches!(v, Value::Text(t) if t.capacity() > KEPT_TEXT) {
                        *v = Value::Null;
                    }
                }
                answer
            }
            (Some(Each::Values(f)), None) => f(&owned(r)).map(drop),
            (None, _) => {
                rows.push(owned(r));
                Ok(())
            }
        }
    });
    match found {
        Ok(Some(_)) => Some(Ok(SqlResult {
            columns,
            rows,
            changed: 0,
        })),
        Ok(None) => None,
        Err(e) => Some(Err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::parse::parse;

    fn shape_of(text: &str) -> Option<Point> {
        shape(&parse(text).unwrap().statements[0])
    }

    #[test]
    fn the_shape_is_a_lookup_by_one_column_and_nothing_more() {
        let p = shape_of("SELECT s.id, name AS n, * FROM students s WHERE s.id = ?").unwrap();
        assert_eq!((p.table.as_str(), p.column.as_str()), ("students", "id"));
        assert!(matches!(p.key, Key::Param(0)));
        assert!(
            matches!(&p.items[1], Item::Column { name, output } if name == "name" && output == "n")
        );
        assert!(matches!(
            shape_of("SELECT id FROM t WHERE 'x' = email").unwrap().key,
            Key::Value(Value::Text(ref t)) if t == "x"
        ));
        for other in [
            "SELECT id FROM t WHERE id = ? ORDER BY id",
            "SELECT id FROM t WHERE id = ? LIMIT 1",
            "SELECT DISTINCT id FROM t WHERE id = ?",
            "SELECT id + 1 FROM t WHERE id = ?",
            "SELECT id FROM t WHERE id > ?",
            "SELECT id FROM t WHERE id = ? AND name = ?",
            "SELECT id FROM t, u WHERE id = ?",
            "SELECT id FROM t JOIN u ON t.id = u.id WHERE t.id = ?",
            "SELECT id FROM t WHERE id = 1.5",
            "SELECT id FROM t WHERE other.id = ?",
            "SELECT COUNT(*) FROM t WHERE id = ?",
            "SELECT id FROM t WHERE id = ? GROUP BY id",
            "WITH x AS (SELECT 1) SELECT id FROM t WHERE id = ?",
        ] {
            assert!(shape_of(other).is_none(), "{other}");
        }
    }
}
