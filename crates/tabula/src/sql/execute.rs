//! One statement run on its target (a pinned version or a transaction): queries go to
//! [`select`], `INSERT`, `UPDATE` and `DELETE` are run here through the
//! table's validation, DDL and migrations go to [`ddl`] and
//! [`alter`].

use std::sync::Arc;

use sqlparser::ast::{FromTable, ObjectName, SetExpr, Spanned, Statement, TableWithJoins};

use crate::error::{Error, Result};
use crate::query::{Pred, RowTest};
use crate::record::Cols;
use crate::schema::Schema;
use crate::sql::correlated::{Correlated, Memo, Phase};
use crate::sql::ddl::parent_key;
use crate::sql::from::{plain_table, resolve_table};
use crate::sql::numeric;
use crate::sql::run::SqlResult;
use crate::sql::scalar::{self, sql_error, Params, Scalar, Scope};
use crate::sql::target::Target;
use crate::sql::unsupported;
use crate::sql::upsert;
use crate::sql::{alter, ddl};
use crate::sql::{explain, from, select};
use crate::value::Value;

/// Column names of one table (with its name or alias) to positions.
struct TableScope {
    names: Vec<String>,
    qualifier: String,
}

impl Scope for TableScope {
    fn resolve(&self, qualifier: Option<&str>, name: &str) -> std::result::Result<usize, String> {
        if let Some(q) = qualifier {
            if q != self.qualifier {
                return Err(format!("no table named {q} in this statement"));
            }
        }
        self.names.iter().position(|n| n == name).ok_or_else(|| {
            let near = self
                .names
                .iter()
                .find(|n| n.eq_ignore_ascii_case(name))
                .map(|n| format!("; did you mean {n}?"))
                .unwrap_or_default();
            format!("table {} has no column {name}{near}", self.qualifier)
        })
    }
}

/// No columns at all: `SELECT 1 + 1`, `VALUES`.
struct NoScope;

impl Scope for NoScope {
    fn resolve(&self, _: Option<&str>, name: &str) -> std::result::Result<usize, String> {
        Err(format!("no column {name} here"))
    }
}

/// A column an `UPDATE … SET` assigns or an `INSERT` lists, unquoted: `c`, or `t.c` where
/// `t` is one of `tables` (the table's name or alias); another qualifier is an error.
fn column_name(name: &ObjectName, tables: &[&str]) -> Result<String> {
    column_ident(name, tables).map(str::to_owned)
}

/// [`column_name`], borrowed from the statement.
fn column_ident<'n>(name: &'n ObjectName, tables: &[&str]) -> Result<&'n str> {
    let ident = |p: &'n sqlparser::ast::ObjectNamePart| p.as_ident().map(|i| i.value.as_str());
    let found = match name.0.as_slice() {
        [c] => ident(c),
        [t, c] if ident(t).is_some_and(|t| tables.contains(&t)) => ident(c),
        _ => None,
    };
    found.ok_or_else(|| {
        sql_error(
            name.span(),
            format!("{name} is not a column of {}", tables.join(" or ")),
        )
    })
}

/// `PRAGMA defer_foreign_keys = 1`, which a SQLite dump writes, says what tabula always
/// does (foreign keys are checked at commit): it changes nothing. The name may be quoted or
/// qualified by `main`, the value `1`, `'on'`, `'true'` or `'yes'` (sqlparser reads no
/// bare `ON`). Other pragmas, and other values, are refused.
fn pragma(
    name: &sqlparser::ast::ObjectName,
    value: Option<&sqlparser::ast::ValueWithSpan>,
) -> Result<SqlResult> {
    use sqlparser::ast::Value as SqlValue;
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| {
            p.as_ident()
                .map_or_else(|| p.to_string(), |i| i.value.clone())
        })
        .collect();
    let bare = match parts.as_slice() {
        [n] => Some(n.as_str()),
        [schema, n] if schema.eq_ignore_ascii_case("main") => Some(n.as_str()),
        _ => None,
    };
    let text = value.map(|v| match &v.value {
        SqlValue::SingleQuotedString(s) | SqlValue::DoubleQuotedString(s) => s.clone(),
        v => v.to_string(),
    });
    let defer = bare.is_some_and(|n| n.eq_ignore_ascii_case("defer_foreign_keys"));
    let on = text.as_deref().is_some_and(says_on);
    if defer && on {
        return Ok(SqlResult::default());
    }
    let asked = match &text {
        Some(v) => format!("PRAGMA {name} = {v}"),
        None => format!("PRAGMA {name}"),
    };
    Err(unsupported(format!("{PRAGMAS}: {asked}")))
}

/// `SET client_encoding = 'UTF8'` and `SET standard_conforming_strings = on`, which a
/// PostgreSQL dump writes (tabula's and `pg_dump`'s), say what tabula always does: text is
/// UTF-8, and a backslash in a string literal is a plain character. They change nothing.
/// Other settings, and other values, are refused: tabula could not honour them.
fn setting(set: &sqlparser::ast::Set) -> Result<SqlResult> {
    use sqlparser::ast::{Expr, Set, Value as SqlValue};
    if let Set::SingleAssignment {
        hivevar: false,
        variable,
        values,
        ..
    } = set
    {
        let value = match values.as_slice() {
            [Expr::Value(v)] => match &v.value {
                SqlValue::SingleQuotedString(s) => Some(s.clone()),
                SqlValue::Boolean(b) => Some(b.to_string()),
                SqlValue::Number(n, _) => Some(n.clone()),
                _ => None,
            },
            [Expr::Identifier(i)] => Some(i.value.clone()),
            _ => None,
        }
        .map(|v| v.to_ascii_lowercase());
        let name = match variable.0.as_slice() {
            [p] => p.as_ident().map(|i| i.value.to_ascii_lowercase()),
            _ => None,
        };
        let said = match (name.as_deref(), value.as_deref()) {
            (Some("client_encoding"), Some(v)) => ["utf8", "utf-8", "unicode"].contains(&v),
            (Some("standard_conforming_strings"), Some(v)) => says_on(v),
            _ => false,
        };
        if said {
            return Ok(SqlResult::default());
        }
    }
    Err(unsupported(format!("{SETTINGS}: {set}")))
}

/// Whether a setting's value turns it on: `on`, `1`, `true` or `yes`, in any case.
fn says_on(v: &str) -> bool {
    ["on", "1", "true", "yes"]
        .iter()
        .any(|on| v.eq_ignore_ascii_case(on))
}

/// What tabula says of a `SET` it does not take.
const SETTINGS: &str = "SET (tabula takes only `SET client_encoding = 'UTF8'` and \
     `SET standard_conforming_strings = on`, which say what it always does; its settings \
     are options of Database::open)";

/// What tabula says of a pragma it does not take.
pub(crate) const PRAGMAS: &str =
    "PRAGMA (tabula checks foreign keys at commit, always, and takes only \
     `PRAGMA defer_foreign_keys = 1`, which says so; its settings are options of \
     Database::open)";

pub(crate) fn execute(
    target: Target<'_, '_>,
    s: &Statement,
    params: &[Value],
) -> Result<SqlResult> {
    crate::stack::statement(|| execute_here(target, s, params))
}

/// [`execute`], on the stack it gives.
fn execute_here(target: Target<'_, '_>, s: &Statement, params: &[Value]) -> Result<SqlResult> {
    match s {
        Statement::Query(q) if alter::is_setval(q) => alter::setval(target, q, params),
        Statement::Query(q) => select::select(target, q, params),
        s if alter::is_migration(s) => Err(alter::in_transaction()),
        Statement::Insert(ins) => insert(target, s, ins, params),
        Statement::Update(u) => update(target, u, params),
        Statement::Delete(d) => delete(target, d, params),
        Statement::Explain {
            statement,
            analyze,
            verbose,
            estimate,
            format,
            options,
            ..
        } => {
            // Refused rather than ignored: each would promise what the plan alone is not.
            if *analyze || *verbose || format.is_some() || options.is_some() {
                return Err(unsupported(
                    "EXPLAIN ANALYZE, VERBOSE, FORMAT and options (EXPLAIN shows the plan \
                     without running the query)",
                ));
            }
            if *estimate {
                return Err(unsupported("EXPLAIN ESTIMATE"));
            }
            let Statement::Query(q) = statement.as_ref() else {
                return Err(unsupported("EXPLAIN of anything but a query"));
            };
            Ok(SqlResult {
                columns: vec!["plan".to_owned()],
                rows: explain::explain(target, q, params)?
                    .into_iter()
                    .map(|l| vec![Value::Text(l)])
                    .collect(),
                changed: 0,
            })
        }
        Statement::CreateTable(c) => create_table(target, c),
        Statement::Copy { .. } => crate::sql::copy::copy_from_stdin(target, s),
        Statement::Pragma { name, value, .. } => pragma(name, value.as_ref()),
        Statement::Set(set) => setting(set),
        other => Err(unsupported(format!(
            "the statement {}",
            statement_kind(&other.to_string())
        ))),
    }
}

/// `INSERT`: the rows of `VALUES`, of a query, or of the defaults, through the table's
/// validation, as one statement (all of them or none).
fn insert(
    target: Target<'_, '_>,
    s: &Statement,
    ins: &sqlparser::ast::Insert,
    params: &[Value],
) -> Result<SqlResult> {
    let tx = target.writer()?;
    let name = match &ins.table {
        sqlparser::ast::TableObject::TableName(n) => ddl::table_name(n)?,
        _ => return Err(unsupported("INSERT into a table function")),
    };
    if ins.returning.is_some() || ins.output.is_some() {
        return Err(unsupported("RETURNING"));
    }
    if ins.table_alias.is_some() || !ins.assignments.is_empty() || ins.overwrite {
        return Err(unsupported("this form of INSERT"));
    }
    if alter::is_sqlite_sequence(target, &name) {
        let columns: Vec<String> = ins
            .columns
            .iter()
            .map(|c| column_name(c, &[&name]))
            .collect::<Result<_>>()?;
        let Some(source) = &ins.source else {
            return Err(unsupported("INSERT INTO sqlite_sequence DEFAULT VALUES"));
        };
        return alter::insert_sqlite_sequence(target, &columns, source, params);
    }
    let t = tx.dyn_table(&name).map_err(|e| match e {
        // Placed as every other statement places an unknown table.
        Error::UnknownTable { .. } => {
            let at = match &ins.table {
                sqlparser::ast::TableObject::TableName(n) => n.span(),
                _ => sqlparser::tokenizer::Span::empty(),
            };
            sql_error(at, target.no_table(&name))
        }
        e => e,
    })?;
    let conflict = upsert::of(ins, &name, t.schema())?;
    // One statement: all the rows or none.
    let insert = |pending: Vec<Vec<Option<Value>>>| -> Result<u64> {
        match &conflict {
            None => {
                let n = pending.len() as u64;
                t.insert_many_values(pending)?;
                Ok(n)
            }
            Some(c) => upsert::insert(&t, pending, c, params),
        }
    };
    let Some(source) = &ins.source else {
        // `DEFAULT VALUES`: one row of every column's default (the next key for an
        // auto-increment one), as in SQLite and PostgreSQL.
        if !ins.columns.is_empty() {
            return Err(unsupported("this form of INSERT"));
        }
        return Ok(SqlResult::of_changes(insert(vec![vec![
            None;
            t.schema()
                .columns
                .len()
        ]])?));
    };
    let columns: Vec<&str> = if ins.columns.is_empty() {
        t.schema().columns.iter().map(|c| c.name.as_str()).collect()
    } else {
        ins.columns
            .iter()
            .map(|c| column_ident(c, &[&name]))
            .collect::<Result<_>>()?
    };
    // Each listed column's position in the table, checked once for all the rows;
    // a column listed twice takes its first value, as a row's lookup by name does.
    let schema = t.schema();
    let width = schema.columns.len();
    let mut seen = vec![false; width];
    let mut places = Vec::with_capacity(columns.len());
    for c in &columns {
        let at = schema.column_index(c)?;
        places.push((!std::mem::replace(&mut seen[at], true)).then_some(at));
    }
    // A null for an auto-increment key asks for the next key, as in SQLite.
    let auto_key = schema.auto_increment().then(|| schema.primary_key());
    let place = |vals: Vec<Value>| {
        let mut row: Vec<Option<Value>> = vec![None; width];
        for (v, at) in vals.into_iter().zip(&places) {
            if let Some(at) = *at {
                row[at] = Some(v);
            }
        }
        if let Some(Some(v)) = auto_key.and_then(|k| row.get_mut(k)) {
            if v.is_null() {
                *v = Value::Int(0);
            }
        }
        row
    };
    let run = |sq: &sqlparser::ast::Query, bind: bool, _aliases: bool| {
        select::select(target.binding_if(bind), sq, params).map(|r| r.rows)
    };
    let SetExpr::Values(values) = source.body.as_ref() else {
        // INSERT … SELECT: the query's rows, read before any is inserted.
        let rows = run(source, false, false)?;
        let mut pending = Vec::with_capacity(rows.len());
        for vals in rows {
            if vals.len() != columns.len() {
                return Err(sql_error(
                    source.span(),
                    format!(
                        "the query gives {} columns for {}",
                        vals.len(),
                        columns.len()
                    ),
                ));
            }
            pending.push(place(vals));
        }
        return Ok(SqlResult::of_changes(insert(pending)?));
    };
    let mut pending = Vec::with_capacity(values.rows.len());
    let mut p = Params::with_subqueries(&run, target.binds_only()).for_run(params);
    for row in &values.rows {
        if row.len() != columns.len() {
            return Err(sql_error(
                row.first().map_or(s.span(), Spanned::span),
                format!("{} values for {} columns", row.len(), columns.len()),
            ));
        }
        let vals = row
            .iter()
            .map(|e| scalar::compile(e, &NoScope, &mut p)?.eval(&[], params))
            .collect::<Result<Vec<_>>>()?;
        pending.push(place(vals));
    }
    Ok(SqlResult::of_changes(insert(pending)?))
}

/// `UPDATE t SET … [WHERE …]`.
fn update(
    target: Target<'_, '_>,
    u: &sqlparser::ast::Update,
    params: &[Value],
) -> Result<SqlResult> {
    if u.from.is_some() {
        return Err(unsupported("UPDATE … FROM"));
    }
    if u.returning.is_some() || u.output.is_some() {
        return Err(unsupported("RETURNING"));
    }
    if u.or.is_some() {
        return Err(unsupported("UPDATE OR …"));
    }
    if !u.order_by.is_empty() || u.limit.is_some() {
        return Err(unsupported("UPDATE with ORDER BY or LIMIT"));
    }
    let (table, assignments, selection) = (&u.table, &u.assignments, &u.selection);
    let tx = target.writer()?;
    let (name, scope) = single_table(target, table)?;
    let run = |sq: &sqlparser::ast::Query, bind: bool, _aliases: bool| {
        select::select(target.binding_if(bind), sq, params).map(|r| r.rows)
    };
    let mut p = Params::with_subqueries(&run, target.binds_only()).for_run(params);
    // Correlated subqueries run per row, in SET and WHERE.
    p.correlated = Some(Vec::new());
    let sets = assignments
        .iter()
        .map(|a| {
            let col = match &a.target {
                sqlparser::ast::AssignmentTarget::ColumnName(c) => {
                    column_name(c, &[&name, &scope.qualifier])?
                }
                _ => return Err(unsupported("assigning to a tuple")),
            };
            let pos = scope
                .resolve(None, &col)
                .map_err(|r| sql_error(a.span(), r))?;
            Ok((pos, scalar::compile(&a.value, &scope, &mut p)?))
        })
        .collect::<Result<Vec<_>>>()?;
    let first_where = p.correlated.as_ref().map_or(0, Vec::len);
    let filter = selection
        .as_ref()
        .map(|w| scalar::compile(w, &scope, &mut p))
        .transpose()?;
    let correlated = p.correlated.take().unwrap_or_default();
    let schema = target.schema(&name)?;
    let numbers: Vec<bool> = numeric::number_columns(&schema).collect();
    let sets: Vec<_> = (sets.iter())
        .map(|(pos, e)| (*pos, numeric::prepared(e, &numbers, params)))
        .collect();
    let pk = schema.primary_key();
    let width = schema.columns.len();
    let cols: Vec<usize> = sets.iter().map(|(pos, _)| *pos).collect();
    let sets_key = cols.contains(&pk);
    // A matching row's new values of the columns SET names, worked out from the row
    // as it was (every SET expression sees the old row); the table copies the row
    // and changes those, all the rows as one statement (a check failing on a later
    // row undoes the earlier ones, inside a transaction too).
    let new_values = |r: &dyn Cols, out: &mut Vec<Value>| -> Result<()> {
        let start = out.len();
        for (pos, e) in &sets {
            out.push(schema.coerce(*pos, e.eval_cols(r, params)?)?);
        }
        // The key stays: a row is replaced in place, never moved (as the library's
        // updates refuse to), so an update cannot add a row under a new key.
        // The key's last assignment is the one that counts (as SQLite's).
        if sets_key {
            let key = schema.coerce(pk, r.value_at(pk).to_owned())?;
            let last = cols
                .iter()
                .zip(&out[start..])
                .rev()
                .find(|(c, _)| **c == pk);
            if let Some((_, v)) = last.filter(|(_, v)| **v != key) {
                return Err(Error::PrimaryKeyChanged {
                    table: name.clone(),
                    column: schema.columns[pk].name.clone(),
                    old: key,
                    new: v.clone(),
                });
            }
        }
        Ok(())
    };
    if correlated.is_empty() {
        // WHERE reads only the stored row: the table tests it as it finds the rows.
        let (preds, rest) = where_parts(filter.as_ref(), &schema, params);
        let general = rest.as_ref().map(|w| move |r: &dyn Cols| w.test(r, params));
        let keep = row_test(rest.as_ref(), general.as_ref());
        let changed = tx
            .dyn_table(&name)?
            .update_where(&preds, keep, &cols, &mut |r, out| new_values(r, out))?;
        return Ok(SqlResult::of_changes(changed as u64));
    }
    // Correlated subqueries need the transaction while the rows are read: each
    // matching row gives its key and new values, written after.
    let mut changes = Vec::new();
    // The columns the SET expressions and the key read.
    let mut read = vec![false; width];
    read[pk] = true;
    sets.iter().for_each(|(_, e)| e.mark_columns(&mut read));
    let matching = Matching {
        target,
        name: &name,
        schema: &schema,
        scope: &scope,
        filter: filter.as_ref(),
        correlated: &correlated,
        first_where,
    };
    matching.for_each(params, read, &mut |r| {
        let mut new = Vec::with_capacity(sets.len());
        new_values(r, &mut new)?;
        changes.push((schema.coerce(pk, r.value_at(pk).to_owned())?, new));
        Ok(())
    })?;
    let changed = changes.len() as u64;
    tx.dyn_table(&name)?.set_columns(&cols, changes)?;
    Ok(SqlResult::of_changes(changed))
}

/// `DELETE FROM t [WHERE …]`.
fn delete(
    target: Target<'_, '_>,
    d: &sqlparser::ast::Delete,
    params: &[Value],
) -> Result<SqlResult> {
    let tx = target.writer()?;
    let tables = match &d.from {
        FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
    };
    let [table] = tables.as_slice() else {
        return Err(unsupported("DELETE from several tables"));
    };
    if d.using.is_some() || d.returning.is_some() || !d.tables.is_empty() {
        return Err(unsupported("DELETE … USING or RETURNING"));
    }
    if !d.order_by.is_empty() || d.limit.is_some() {
        return Err(unsupported("DELETE with ORDER BY or LIMIT"));
    }
    // Keys are never reused, so a dump's `DELETE FROM sqlite_sequence` before it sets
    // the counters has nothing to do.
    if let Ok((name, _)) = plain_table(&table.relation) {
        if table.joins.is_empty() && alter::is_sqlite_sequence(target, &name) {
            return Ok(SqlResult::default());
        }
    }
    let (name, scope) = single_table(target, table)?;
    let run = |sq: &sqlparser::ast::Query, bind: bool, _aliases: bool| {
        select::select(target.binding_if(bind), sq, params).map(|r| r.rows)
    };
    let mut p = Params::with_subqueries(&run, target.binds_only()).for_run(params);
    p.correlated = Some(Vec::new());
    let filter = d
        .selection
        .as_ref()
        .map(|w| scalar::compile(w, &scope, &mut p))
        .transpose()?;
    let correlated = p.correlated.take().unwrap_or_default();
    let schema = target.schema(&name)?;
    if correlated.is_empty() {
        // WHERE reads only the stored row: the table tests it as it finds the rows.
        let (preds, rest) = where_parts(filter.as_ref(), &schema, params);
        let general = rest.as_ref().map(|w| move |r: &dyn Cols| w.test(r, params));
        let keep = row_test(rest.as_ref(), general.as_ref());
        // One statement, with its ON DELETE actions: every row or none. (A RESTRICT
        // is checked at commit, and fails the transaction.)
        let changed = tx.dyn_table(&name)?.delete_where(&preds, keep)?;
        return Ok(SqlResult::of_changes(changed as u64));
    }
    let pk = schema.primary_key();
    let mut doomed = Vec::new();
    let matching = Matching {
        target,
        name: &name,
        schema: &schema,
        scope: &scope,
        filter: filter.as_ref(),
        correlated: &correlated,
        first_where: 0,
    };
    // Only the key is read: the rows' text is not fetched ahead (see
    // `Matching::for_each`; a text key is read all the same).
    let read = vec![false; schema.columns.len()];
    matching.for_each(params, read, &mut |r| {
        doomed.push(r.value_at(pk).to_owned());
        Ok(())
    })?;
    // One statement, with its ON DELETE actions: every row or none. (A RESTRICT
    // is checked at commit.)
    let changed = tx.dyn_table(&name)?.delete_keys(&doomed)? as u64;
    Ok(SqlResult::of_changes(changed))
}

/// `CREATE TABLE`, its references checked now or, for a table named later in the same
/// transaction, when it commits.
fn create_table(target: Target<'_, '_>, c: &sqlparser::ast::CreateTable) -> Result<SqlResult> {
    let tx = target.writer()?;
    if c.query.is_some() {
        return Err(unsupported("CREATE TABLE … AS SELECT"));
    }
    if c.temporary {
        return Err(unsupported(
            "TEMPORARY tables (every table is kept with the database)",
        ));
    }
    let schema = ddl::schema_of(c)?;
    match tx.dyn_table(&schema.table) {
        // Nothing is created, and nothing checked (as SQLite does).
        Ok(_) if c.if_not_exists => return Ok(SqlResult::default()),
        Ok(_) => {
            return Err(sql_error(
                c.name.span(),
                format!("table {} already exists", schema.table),
            ))
        }
        Err(Error::UnknownTable { .. }) => {}
        Err(e) => return Err(e),
    }
    let referred = ddl::referred_columns(c);
    let later = ddl::check_references(
        &schema,
        &referred,
        &|t| parent_key(tx, t),
        true,
        c.name.span(),
    )?;
    // Recorded once created: a failed creation leaves nothing to check.
    let kept = later.then(|| schema.clone());
    tx.tx.create(schema)?;
    if let Some(schema) = kept {
        tx.forward.borrow_mut().push(crate::txn::Forward {
            schema,
            referred,
            at: c.name.span(),
        });
    }
    Ok(SqlResult::default())
}

/// What kind of statement `text` is, for an error: its first word, and for `CREATE`, `DROP`
/// and `ALTER` the words up to the kind of object (`CREATE VIEW`, `CREATE OR REPLACE
/// TRIGGER`), never the object's name.
fn statement_kind(text: &str) -> String {
    const OBJECTS: [&str; 16] = [
        "VIEW",
        "TRIGGER",
        "TABLE",
        "INDEX",
        "SCHEMA",
        "DATABASE",
        "SEQUENCE",
        "FUNCTION",
        "PROCEDURE",
        "TYPE",
        "EXTENSION",
        "ROLE",
        "USER",
        "DOMAIN",
        "MACRO",
        "POLICY",
    ];
    let words: Vec<&str> = text.split_whitespace().take(6).collect();
    let Some(first) = words.first() else {
        return String::new();
    };
    if !["CREATE", "DROP", "ALTER"].contains(first) {
        return (*first).to_owned();
    }
    match words.iter().position(|w| OBJECTS.contains(w)) {
        Some(i) => words[..=i].join(" "),
        None => (*first).to_owned(),
    }
}

/// The rows an UPDATE or DELETE with correlated subqueries changes: those of table `name`
/// its WHERE keeps, read with the subqueries' values (those without go through
/// `TxDynTable::update_where` and `delete_where`, which test WHERE as the table finds them).
struct Matching<'a, 't, 'db> {
    target: Target<'t, 'db>,
    name: &'a str,
    schema: &'a Arc<Schema>,
    scope: &'a TableScope,
    filter: Option<&'a Scalar>,
    /// The correlated subqueries of SET then WHERE: WHERE's computed for each row read
    /// (`Phase::Where`), SET's for each row WHERE keeps (`Phase::Row`).
    correlated: &'a [scalar::CorrelatedCall],
    /// Where WHERE's subqueries start in `correlated`.
    first_where: usize,
}

impl Matching<'_, '_, '_> {
    /// Hands each matching row (with its correlated subqueries' values after it) to `f`,
    /// read through the predicates WHERE gives the scan. `read`: a flag per column of the
    /// table, whether `f` reads it; what WHERE reads is added, and a text column among them
    /// has the rows' text fetched ahead (see
    /// [`AnyTable::scan_cols`](crate::engine::any_table::AnyTable::scan_cols)).
    fn for_each(
        &self,
        params: &[Value],
        mut read: Vec<bool>,
        f: &mut dyn FnMut(&dyn Cols) -> Result<()>,
    ) -> Result<()> {
        let (preds, filter) = where_parts(self.filter, self.schema, params);
        let filter = filter.as_ref();
        let width = self.schema.columns.len();
        read.resize(width, false);
        if !self.correlated.is_empty() {
            read.fill(true);
        }
        filter.inspect(|w| w.mark_columns(&mut read));
        let text = from::any_text(self.schema, &read);
        // WHERE's subqueries run for each row read, SET's for the rows WHERE keeps only,
        // as SQLite's.
        let phases = (0..self.correlated.len())
            .map(|i| match i < self.first_where {
                true => Phase::Row,
                false => Phase::Where,
            })
            .collect();
        let calls = Correlated {
            target: self.target,
            calls: self.correlated,
            phases,
            scope: self.scope,
            params,
            memos: Memo::for_calls(self.correlated),
        };
        let any = !self.correlated.is_empty();
        self.target.scan(self.name, &preds, text, &mut |r| {
            let mut extended = any.then(|| calls.start(r.owned_values(width)));
            if let Some(e) = &mut extended {
                calls.run(Phase::Where, e)?;
            }
            let passes = {
                let r: &dyn Cols = extended.as_ref().map_or(r, |e| e as &dyn Cols);
                select::passes_cols(filter, r, params)?
            };
            if passes {
                if let Some(e) = &mut extended {
                    calls.run(Phase::Row, e)?;
                }
                f(extended.as_ref().map_or(r, |e| e as &dyn Cols))?;
            }
            Ok(true)
        })?;
        calls.bind_unrun(width)
    }
}

/// WHERE as the predicates a scan of the table applies, and what is left of it to test on
/// each row (none when the predicates apply all of it), its numeric parts prepared to run
/// as numbers.
fn where_parts(
    filter: Option<&Scalar>,
    schema: &Arc<Schema>,
    params: &[Value],
) -> (Vec<Pred>, Option<Scalar>) {
    let (preds, served) =
        filter.map_or_else(Default::default, |w| select::scan_preds(w, schema, params));
    let numbers: Vec<bool> = numeric::number_columns(schema).collect();
    let rest = (filter.filter(|_| !served)).map(|f| numeric::prepared(f, &numbers, params));
    (preds, rest)
}

/// WHERE's remainder (see [`where_parts`]) as the table tests it: `general`, its test of
/// a row, with the integer test the expression has, if it is one.
fn row_test<'a>(
    rest: Option<&'a Scalar>,
    general: Option<&'a (impl Fn(&dyn Cols) -> std::result::Result<bool, Box<Error>> + 'a)>,
) -> Option<RowTest<'a>> {
    let general = general?;
    Some(RowTest {
        int: rest.and_then(Scalar::int_test),
        general,
    })
}

/// The table a write statement changes, to name in the errors of its transaction's start
/// (`ReadOnly`, `InTransaction`); `(sql)` where it is not one named table.
pub(crate) fn written_table(s: &Statement) -> String {
    let name = match s {
        Statement::Insert(ins) => match &ins.table {
            sqlparser::ast::TableObject::TableName(n) => ddl::table_name(n).ok(),
            _ => None,
        },
        Statement::Update(u) if u.table.joins.is_empty() => {
            plain_table(&u.table.relation).ok().map(|(n, _)| n)
        }
        Statement::Delete(d) => match &d.from {
            FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => match t.as_slice() {
                [t] if t.joins.is_empty() => plain_table(&t.relation).ok().map(|(n, _)| n),
                _ => None,
            },
        },
        _ => None,
    };
    name.unwrap_or_else(|| "(sql)".to_owned())
}

/// The one table an UPDATE or DELETE changes, with its scope.
fn single_table(target: Target<'_, '_>, t: &TableWithJoins) -> Result<(String, TableScope)> {
    if !t.joins.is_empty() {
        return Err(unsupported("UPDATE or DELETE with a JOIN"));
    }
    let (table, qualifier, names) = resolve_table(target, &t.relation)?;
    Ok((table, TableScope { names, qualifier }))
}
