//! `INSERT OR IGNORE`, `INSERT OR REPLACE` (and `REPLACE INTO`) and `INSERT … ON CONFLICT
//! [(columns)] DO NOTHING | DO UPDATE SET … [WHERE …]` (SQLite's and PostgreSQL's upsert):
//! the rows go in one at a time, as one statement, and a row a constraint refuses is left
//! out, updates the row it collides with, or replaces the rows it collides with.
//!
//! As in SQLite: `OR IGNORE` leaves out a row that breaks a unique key (the primary key
//! too), a NOT NULL column or a check; `DO NOTHING` one that breaks a unique key (the one
//! named, when columns are named); `DO UPDATE` applies its `SET` to the stored row whose
//! value of the named unique key the new row has, where `WHERE` holds, reading that row's
//! columns by their names (or the table's) and the new row's as `excluded.name`. Any other
//! failure ends the statement, which then changes nothing. `OR REPLACE` deletes the stored
//! rows that hold any of the new row's unique keys, then inserts it; a null for a NOT NULL
//! column with a default takes the default, and any other refusal ends the statement. The
//! count of rows changed is the rows inserted and updated (not those a replacement deleted,
//! as SQLite's `changes()`).

use sqlparser::ast::{
    AssignmentTarget, ConflictTarget, Insert, OnConflictAction, OnInsert, Spanned, SqliteOnConflict,
};

use crate::engine::any_table::AnyTable;
use crate::error::{Error, Result};
use crate::handle::TxDynTable;
use crate::schema::{column_list, Schema};
use crate::sql::scalar::{self, sql_error, truth, Params, Scalar, Scope};
use crate::sql::unsupported;
use crate::value::Value;

/// What an `INSERT` does with a row a constraint refuses.
pub(crate) enum Conflict {
    /// `OR IGNORE`: leaves it out, whichever of a unique key, NOT NULL or a check refused it.
    Ignore,
    /// `ON CONFLICT [(columns)] DO NOTHING`: leaves it out when a unique key refused it (the
    /// one named, as the violation names its columns, and its column when it has one: that
    /// key is looked up before the row is inserted, as SQLite checks it first).
    Nothing(Option<(String, Option<usize>)>),
    /// `ON CONFLICT (column) DO UPDATE SET … [WHERE …]`.
    Update(Box<DoUpdate>),
    /// `INSERT OR REPLACE` and `REPLACE INTO`: the stored rows the row collides with on any
    /// unique key are deleted and their `ON DELETE` actions run, then it is inserted, row by
    /// row (`TxDynTable::replace_each`); a null given for a NOT NULL column with a default
    /// takes the default.
    Replace,
}

/// A compiled `DO UPDATE`: the position of the unique column named, the columns set with
/// their expressions, and the condition; each evaluated on the stored row's values followed
/// by the new row's.
pub(crate) struct DoUpdate {
    column: usize,
    sets: Vec<(usize, Scalar)>,
    filter: Option<Scalar>,
}

/// The conflict clause of `ins` into table `name` (of `schema`), compiled; `None` for an
/// `INSERT` that has none (or says `OR ABORT`, the default).
pub(crate) fn of(ins: &Insert, name: &str, schema: &Schema) -> Result<Option<Conflict>> {
    if ins.ignore {
        return Err(unsupported("INSERT IGNORE (write INSERT OR IGNORE)"));
    }
    let or = match ins.or {
        _ if ins.replace_into => Some(Conflict::Replace),
        None | Some(SqliteOnConflict::Abort) => None,
        Some(SqliteOnConflict::Ignore) => Some(Conflict::Ignore),
        Some(SqliteOnConflict::Replace) => Some(Conflict::Replace),
        Some(other) => return Err(unsupported(format!("INSERT {other}"))),
    };
    let on = match &ins.on {
        None => return Ok(or),
        Some(_) if or.is_some() => {
            return Err(unsupported(
                "ON CONFLICT after INSERT OR IGNORE, INSERT OR REPLACE or REPLACE INTO",
            ));
        }
        Some(OnInsert::OnConflict(on)) => on,
        Some(_) => return Err(unsupported("ON DUPLICATE KEY UPDATE (write ON CONFLICT)")),
    };
    let target = match &on.conflict_target {
        None => None,
        Some(ConflictTarget::Columns {
            columns,
            predicate: None,
        }) => {
            let names: Vec<String> = columns.iter().map(|c| c.value.clone()).collect();
            Some(unique_key(schema, &names).ok_or_else(|| {
                sql_error(
                    columns.first().map_or(ins.table.span(), |c| c.span),
                    format!(
                        "ON CONFLICT {} matches no unique key of table {name} (its primary \
                         key, a unique column or a unique constraint)",
                        column_list(&names)
                    ),
                )
            })?)
        }
        Some(ConflictTarget::Columns { .. }) => {
            return Err(unsupported(
                "ON CONFLICT (…) WHERE (a partial index's condition)",
            ))
        }
        Some(ConflictTarget::OnConstraint(_)) => {
            return Err(unsupported("ON CONFLICT ON CONSTRAINT (name the columns)"))
        }
    };
    let update = match &on.action {
        OnConflictAction::DoNothing => {
            let target = target.map(|t| {
                let column = schema.position(&t);
                (t, column)
            });
            return Ok(Some(Conflict::Nothing(target)));
        }
        OnConflictAction::DoUpdate(u) => u,
    };
    let Some(column) = target.map(|t| schema.position(&t)) else {
        return Err(unsupported(
            "ON CONFLICT DO UPDATE without the unique key it is for (name it: ON CONFLICT \
             (column))",
        ));
    };
    let Some(column) = column else {
        return Err(unsupported(
            "ON CONFLICT DO UPDATE on a unique key of several columns",
        ));
    };
    let scope = Excluded { schema, name };
    let mut params = Params::default();
    params.no_subquery = Some(
        "a subquery in ON CONFLICT … DO UPDATE (compute the value in the INSERT's SELECT, or \
         in a statement of its own)",
    );
    let mut sets = Vec::with_capacity(update.assignments.len());
    for a in &update.assignments {
        let AssignmentTarget::ColumnName(c) = &a.target else {
            return Err(unsupported("SET (a, b) = … in DO UPDATE"));
        };
        let col = match c.0.as_slice() {
            [part] => part.as_ident().and_then(|i| schema.position(&i.value)),
            _ => None,
        }
        .ok_or_else(|| sql_error(c.span(), format!("{c} is not a column of table {name}")))?;
        sets.push((col, scalar::compile(&a.value, &scope, &mut params)?));
    }
    let filter = update
        .selection
        .as_ref()
        .map(|w| scalar::compile(w, &scope, &mut params))
        .transpose()?;
    Ok(Some(Conflict::Update(Box::new(DoUpdate {
        column,
        sets,
        filter,
    }))))
}

/// The unique key of `schema` whose columns are `names` (in any order), as a violation of
/// it names its columns: the column for the primary key or a unique column, the list for a
/// unique constraint of several.
fn unique_key(schema: &Schema, names: &[String]) -> Option<String> {
    if let [one] = names {
        let col = schema.position(one)?;
        let c = &schema.columns[col];
        return (c.unique || col == schema.primary_key()).then(|| c.name.clone());
    }
    let mut wanted = names.to_vec();
    wanted.sort();
    schema.unique.iter().find_map(|cols| {
        let mut have = cols.clone();
        have.sort();
        (have == wanted).then(|| column_list(cols))
    })
}

/// The names a `DO UPDATE` sees: the stored row's columns, by their names alone or
/// qualified by the table's, then the new row's, as `excluded.name`.
struct Excluded<'a> {
    schema: &'a Schema,
    name: &'a str,
}

impl Scope for Excluded<'_> {
    fn resolve(&self, qualifier: Option<&str>, name: &str) -> std::result::Result<usize, String> {
        let at = self
            .schema
            .position(name)
            .ok_or_else(|| format!("table {} has no column {name}", self.name))?;
        match qualifier {
            None => Ok(at),
            Some(q) if q == self.name => Ok(at),
            // SQL's own word, in any case (as SQLite and PostgreSQL take it).
            Some(q) if q.eq_ignore_ascii_case("excluded") => Ok(self.schema.columns.len() + at),
            Some(q) => Err(format!("no table named {q} in this statement")),
        }
    }
}

/// Inserts `rows` (values in the table's column order, `None` for those not given) into
/// `t` under `conflict`, as one statement; returns the rows inserted or updated.
pub(crate) fn insert(
    t: &TxDynTable<'_>,
    rows: Vec<Vec<Option<Value>>>,
    conflict: &Conflict,
    params: &[Value],
) -> Result<u64> {
    let schema = t.schema().clone();
    if let Conflict::Replace = conflict {
        let rows = rows
            .into_iter()
            .map(|row| defaults_for_nulls(&schema, row))
            .collect();
        return t.replace_each(rows);
    }
    // The key ON CONFLICT names, of one column, is looked up first: a row that holds a
    // stored value of it is that key's conflict, whatever other key it also collides on.
    let mut claim = |table: &mut dyn AnyTable, row: &[Value]| -> Result<Option<bool>> {
        let column = match conflict {
            Conflict::Nothing(Some((_, Some(c)))) => *c,
            Conflict::Update(u) => u.column,
            _ => return Ok(None),
        };
        let Some(stored) = stored_row(table, &schema, column, row)? else {
            return Ok(None);
        };
        match conflict {
            Conflict::Update(u) => update(table, &schema, u, stored, row, params).map(Some),
            _ => Ok(Some(false)),
        }
    };
    t.insert_each(rows, &mut claim, &mut |_, e, _| match (conflict, &e) {
        (
            Conflict::Ignore,
            Error::UniqueViolation { .. } | Error::NotNull { .. } | Error::Check { .. },
        ) => Ok(false),
        (Conflict::Nothing(None), Error::UniqueViolation { .. }) => Ok(false),
        (Conflict::Nothing(Some((target, _))), Error::UniqueViolation { column, .. })
            if column == target =>
        {
            Ok(false)
        }
        _ => Err(e),
    })
}

/// `row` (values in the table's column order, `None` for those not given) with a null
/// given for a NOT NULL column that has a default left out, so that it takes the default,
/// as SQLite's REPLACE does (for a column with none, the null is refused as usual).
fn defaults_for_nulls(schema: &Schema, mut row: Vec<Option<Value>>) -> Vec<Option<Value>> {
    for (v, c) in row.iter_mut().zip(&schema.columns) {
        if !c.nullable && c.default.is_some() && matches!(v, Some(Value::Null)) {
            *v = None;
        }
    }
    row
}

/// The stored row holding `row`'s value of unique column `column`, if any (a null, or an
/// automatic key still to be given, is held by none).
fn stored_row(
    t: &dyn AnyTable,
    schema: &Schema,
    column: usize,
    row: &[Value],
) -> Result<Option<Vec<Value>>> {
    let value = row.get(column).cloned().unwrap_or(Value::Null);
    let automatic =
        column == schema.primary_key() && schema.auto_increment() && matches!(value, Value::Int(0));
    if value.is_null() || automatic {
        return Ok(None);
    }
    let width = schema.columns.len();
    let mut stored = None;
    t.unique_cols(column, value.as_ref(), &mut |r| {
        stored = Some(r.owned_values(width));
        Ok(())
    })?;
    Ok(stored)
}

/// `DO UPDATE` of the stored row `stored` for the new row `row`: it gets the `SET` values,
/// where the condition holds; whether it changed.
fn update(
    t: &mut dyn AnyTable,
    schema: &Schema,
    u: &DoUpdate,
    stored: Vec<Value>,
    row: &[Value],
    params: &[Value],
) -> Result<bool> {
    let pk = schema.primary_key();
    let key = stored[pk].clone();
    let mut both = stored;
    both.extend(row.iter().cloned());
    // An automatic key still to be given reads as the one it would get (as in SQLite).
    if schema.auto_increment() && matches!(row.get(pk), Some(Value::Int(0))) {
        both[schema.columns.len() + pk] = Value::Int(t.next_key());
    }
    if let Some(f) = &u.filter {
        if truth(&f.eval(&both, params)?) != Some(true) {
            return Ok(false);
        }
    }
    let mut cols = Vec::with_capacity(u.sets.len());
    let mut values = Vec::with_capacity(u.sets.len());
    for (col, e) in &u.sets {
        cols.push(*col);
        values.push(schema.coerce(*col, e.eval(&both, params)?)?);
    }
    t.dyn_set(&cols, vec![(key, values)])?;
    Ok(true)
}
