//! `INSERT OR IGNORE` and `INSERT … ON CONFLICT [(columns)] DO NOTHING | DO UPDATE SET … [WHERE
//! …]` (SQLite's and PostgreSQL's upsert): the rows go in one at a time, as one statement,
//! and a row a constraint refuses is left out, or updates the row it collides with.
//!
//! As in SQLite: `OR IGNORE` leaves out a row that breaks a unique key (the primary key
//! too), a NOT NULL column or a check; `DO NOTHING` one that breaks a unique key (the one
//! named, when columns are named); `DO UPDATE` applies its `SET` to the stored row whose
//! value of the named unique key the new row has, where `WHERE` holds, reading that row's
//! columns by their names (or the table's) and the new row's as `excluded.name`. Any other
//! failure ends the statement, which then changes nothing. The count of rows changed is
//! the rows inserted and updated.

use sqlparser::ast::{
    AssignmentTarget, ConflictTarget, Insert, OnConflictAction, OnInsert, Spanned, SqliteOnConflict,
};

use crate::engine::any_table::AnyTable;
use crate::error::{Error, Result};
use crate::handle::TxDynTable;
use crate::schema::{column_list, Schema};
use crate::sql::scalar::{self, sql_error, truth, Params, Scalar, Scope};
use crate::value::Value;

fn unsupported(feature: impl Into<String>) -> Error {
    Error::Unsupported {
        feature: feature.into(),
    }
}

/// What an `INSERT` does with a row a constraint refuses.
pub(crate) enum Conflict {
    /// `OR IGNORE`: leaves it out, whichever of a unique key, NOT NULL or a check refused it.
    Ignore,
    /// `ON CONFLICT [(columns)] DO NOTHING`: leaves it out when a unique key refused it (the
    /// one named, as the violation names its columns).
    Nothing(Option<String>),
    /// `ON CONFLICT (column) DO UPDATE SET … [WHERE …]`.
    Update(Box<DoUpdate>),
}

/// A compiled `DO UPDATE`: the unique column named (as a violation names it, and its
/// position), the columns set with their expressions, and the condition; each evaluated on
/// the stored row's values followed by the new row's.
pub(crate) struct DoUpdate {
    target: String,
    column: usize,
    sets: Vec<(usize, Scalar)>,
    filter: Option<Scalar>,
}

/// The conflict clause of `ins` into table `name` (of `schema`), compiled; `None` for an
/// `INSERT` that has none (or says `OR ABORT`, the default).
pub(crate) fn of(ins: &Insert, name: &str, schema: &Schema) -> Result<Option<Conflict>> {
    if ins.replace_into || matches!(ins.or, Some(SqliteOnConflict::Replace)) {
        return Err(unsupported("REPLACE INTO and INSERT OR REPLACE"));
    }
    if ins.ignore {
        return Err(unsupported("INSERT IGNORE (write INSERT OR IGNORE)"));
    }
    let or = match ins.or {
        None | Some(SqliteOnConflict::Abort) => None,
        Some(SqliteOnConflict::Ignore) => Some(Conflict::Ignore),
        Some(other) => return Err(unsupported(format!("INSERT {other}"))),
    };
    let on = match &ins.on {
        None => return Ok(or),
        Some(_) if or.is_some() => {
            return Err(unsupported("INSERT OR IGNORE with ON CONFLICT"));
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
            Some(unique_key(schema, name, &names).ok_or_else(|| {
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
        OnConflictAction::DoNothing => return Ok(Some(Conflict::Nothing(target))),
        OnConflictAction::DoUpdate(u) => u,
    };
    let Some((target, column)) = target.map(|t| (t.clone(), schema.position(&t))) else {
        return Err(sql_error(
            ins.table.span(),
            "ON CONFLICT DO UPDATE needs the unique key it is for: ON CONFLICT (column)",
        ));
    };
    let Some(column) = column else {
        return Err(unsupported(
            "ON CONFLICT DO UPDATE on a unique key of several columns",
        ));
    };
    let scope = Excluded { schema, name };
    let mut params = Params::default();
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
        target,
        column,
        sets,
        filter,
    }))))
}

/// The unique key of `schema` whose columns are `names` (in any order), as a violation of
/// it names its columns: the column for the primary key or a unique column, the list for a
/// unique constraint of several.
fn unique_key(schema: &Schema, table: &str, names: &[String]) -> Option<String> {
    let _ = table;
    if let [one] = names {
        let col = schema.position(one)?;
        let c = &schema.columns[col];
        return (c.primary_key || c.unique || col == schema.primary_key()).then(|| c.name.clone());
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
            Some("excluded") => Ok(self.schema.columns.len() + at),
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
    t.insert_each(rows, &mut |table, e, row| match (conflict, &e) {
        (
            Conflict::Ignore,
            Error::UniqueViolation { .. } | Error::NotNull { .. } | Error::Check { .. },
        ) => Ok(false),
        (Conflict::Nothing(None), Error::UniqueViolation { .. }) => Ok(false),
        (Conflict::Nothing(Some(target)), Error::UniqueViolation { column, .. })
            if column == target =>
        {
            Ok(false)
        }
        (Conflict::Update(u), Error::UniqueViolation { column, .. }) if *column == u.target => {
            match row {
                Some(row) => update(table, &schema, u, row, params),
                None => Err(e),
            }
        }
        _ => Err(e),
    })
}

/// `DO UPDATE` for the new row `row`: the stored row holding its value of the unique column
/// gets the `SET` values, where the condition holds; whether it changed.
fn update(
    t: &mut dyn AnyTable,
    schema: &Schema,
    u: &DoUpdate,
    row: &[Value],
    params: &[Value],
) -> Result<bool> {
    let width = schema.columns.len();
    let mut stored = None;
    let value = row.get(u.column).cloned().unwrap_or(Value::Null);
    t.unique_cols(u.column, value.as_ref(), &mut |r| {
        stored = Some(r.owned_values(width));
        Ok(())
    })?;
    let Some(mut both) = stored else {
        // The violation named this key, so the row is there.
        return Err(Error::Sql {
            line: 0,
            column: 0,
            reason: format!(
                "ON CONFLICT ({}) DO UPDATE found no row holding {value}",
                u.target
            ),
        });
    };
    let key = both[schema.primary_key()].clone();
    both.extend(row.iter().cloned());
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
