//! Statements that change a table rather than its rows: `CREATE [UNIQUE] INDEX`, `DROP
//! INDEX` and `ALTER TABLE … ADD COLUMN / RENAME COLUMN / DROP COLUMN / ADD UNIQUE (…) /
//! ADD CHECK (…)` run as migrations ([`Database::alter_table`](crate::Database::alter_table)),
//! and `DROP TABLE` as [`Database::drop_table`](crate::Database::drop_table) does, each
//! outside any transaction as one durable step; and the auto-increment counters a dump sets, in SQLite's spelling
//! (`INSERT INTO sqlite_sequence (name, seq) VALUES ('t', n)`) and PostgreSQL's
//! (`SELECT setval(pg_get_serial_sequence('t', 'id'), n)`), which run as writes.

use std::sync::Arc;

use sqlparser::ast::{
    AlterTableOperation, ColumnDef, CreateIndex, Expr, FunctionArg, FunctionArgExpr,
    FunctionArguments, Ident, ObjectName, ObjectType, Query, SelectItem, SetExpr, Spanned,
    Statement, TableConstraint,
};

use crate::engine::source::{statement, Source};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::expr::rename_columns;
use crate::schema::Schema;
use crate::sql::ddl;
use crate::sql::dump::{index_names, NamedIndex};
use crate::sql::run::SqlResult;
use crate::sql::scalar::{self, sql_error, Params, Scope};
use crate::sql::target::{no_table, Target};
use crate::sql::unsupported;
use crate::value::Value;

/// A table or sequence named inside a string (`'public.t'`, `'"t"'`), as `pg_dump` writes
/// them: unquoted, qualified by nothing, `main` or `public` (tabula has one schema); another
/// qualifier is refused rather than ignored.
fn named_in_text(text: &str) -> Result<String> {
    let unquote = |s: &str| s.trim_matches('"').to_owned();
    match text.rsplit_once('.') {
        None => Ok(unquote(text)),
        Some((q, name)) if ddl::is_own_schema(&unquote(q)) => Ok(unquote(name)),
        Some(_) => Err(ddl::other_schema(text)),
    }
}

/// The last part of a function's name (`pg_catalog.setval` is `setval`), unquoted.
fn name_of(name: &ObjectName) -> String {
    name.0
        .last()
        .map(|p| p.to_string().trim_matches('"').to_owned())
        .unwrap_or_default()
}

/// Whether `s` migrates or drops a table (and so runs outside transactions).
pub(crate) fn is_migration(s: &Statement) -> bool {
    matches!(
        s,
        Statement::CreateIndex(_)
            | Statement::AlterTable(_)
            | Statement::Drop {
                object_type: ObjectType::Table | ObjectType::Index,
                ..
            }
    )
}

/// The error for a migration inside `BEGIN … COMMIT` or `db.transaction`: about the whole
/// statement, so placed where it starts (which its runner knows).
pub(crate) fn in_transaction() -> Error {
    Error::Sql {
        line: 0,
        column: 0,
        reason: "CREATE INDEX, DROP INDEX, ALTER TABLE and DROP TABLE change the table as one \
                 durable step of their own, which cannot run inside a transaction; run it \
                 before BEGIN or after COMMIT"
            .to_owned(),
    }
}

/// Runs a migration statement: works out the table's new schema and migrates to it (or
/// drops tables).
pub(crate) fn migrate(engine: &Arc<Engine>, s: &Statement) -> Result<SqlResult> {
    if let Statement::Drop {
        object_type,
        if_exists,
        names,
        cascade,
        purge,
        temporary,
        table,
        ..
    } = s
    {
        if *cascade {
            return Err(unsupported(match object_type {
                ObjectType::Index => "DROP INDEX … CASCADE",
                _ => "DROP TABLE … CASCADE (drop the tables that reference it first)",
            }));
        }
        if *purge || *temporary || table.is_some() {
            return Err(unsupported("DROP with PURGE, TEMPORARY or ON"));
        }
        return match object_type {
            ObjectType::Index => drop_indexes(engine, names, *if_exists),
            _ => drop_tables(engine, names, *if_exists),
        };
    }
    let (table, span) = match s {
        Statement::CreateIndex(c) => (ddl::table_name(&c.table_name)?, c.table_name.span()),
        Statement::AlterTable(a) => (ddl::table_name(&a.name)?, a.name.span()),
        _ => return Err(unsupported("this statement as a migration")),
    };
    let old = match engine.schema(&table) {
        // The schema as stored: how an earlier migration reached it is not this one's.
        Ok(mut s) => {
            s.evolution = Default::default();
            s
        }
        Err(Error::UnknownTable { .. }) => {
            if let Statement::AlterTable(a) = s {
                if a.if_exists {
                    return Ok(SqlResult::default());
                }
            }
            return Err(sql_error(span, no_table(&table, &engine.table_names()?)));
        }
        Err(e) => return Err(e),
    };
    let new = match s {
        Statement::CreateIndex(c) => with_index(old, c)?,
        Statement::AlterTable(a) => {
            if a.only || a.location.is_some() || a.on_cluster.is_some() || a.table_type.is_some() {
                return Err(unsupported("this form of ALTER TABLE"));
            }
            let stored: Vec<String> = old.columns.iter().map(|c| c.name.clone()).collect();
            // The names DROP INDEX takes, should a dropped column be in an index: the
            // database's, since a name another table's index shares takes its checksum.
            let named = || Ok(index_names(&stored_schemas(engine)?));
            let mut schema = old;
            for op in &a.operations {
                schema = altered(schema, op, &stored, &named)?;
            }
            // The columns each new foreign key names, as CREATE TABLE checks them: an
            // added column's `REFERENCES t (c)` and an added `FOREIGN KEY`'s.
            let mut referred = Vec::new();
            for op in &a.operations {
                match op {
                    AlterTableOperation::AddColumn { column_def, .. } => {
                        referred.extend(ddl::referred_in_column(column_def));
                    }
                    AlterTableOperation::AddConstraint { constraint, .. } => {
                        referred.extend(ddl::referred_in_constraint(constraint));
                    }
                    _ => {}
                }
            }
            let key_of = |t: &str| match engine.schema(t) {
                Ok(s) => Ok(Some(s.primary_key_column().clone())),
                Err(Error::UnknownTable { .. }) => Ok(None),
                Err(e) => Err(e),
            };
            ddl::check_references(&schema, &referred, &key_of, false, span)?;
            schema
        }
        _ => return Err(unsupported("this statement as a migration")),
    };
    engine.alter(new)?;
    Ok(SqlResult::default())
}

/// `DROP TABLE [IF EXISTS] a, b, …`: every table named (those that exist, with `IF
/// EXISTS`) dropped in one step, or none.
fn drop_tables(engine: &Arc<Engine>, names: &[ObjectName], if_exists: bool) -> Result<SqlResult> {
    let existing = engine.table_names()?;
    let mut tables = Vec::with_capacity(names.len());
    for name in names {
        let table = ddl::table_name(name)?;
        if existing.contains(&table) {
            tables.push(table);
        } else if !if_exists {
            return Err(sql_error(name.span(), no_table(&table, &existing)));
        }
    }
    if !tables.is_empty() {
        engine.drop_tables(&tables)?;
    }
    Ok(SqlResult::default())
}

/// `DROP INDEX [IF EXISTS] name, …`. tabula knows an index by its columns, not by a name:
/// `name` is the one `tabula dump` writes for it (see [`index_names`]); a name given to
/// `CREATE INDEX` is not kept. Every name is found before any index is dropped, so an unknown
/// one changes nothing; then each table migrates once.
fn drop_indexes(engine: &Arc<Engine>, names: &[ObjectName], if_exists: bool) -> Result<SqlResult> {
    let mut schemas = stored_schemas(engine)?;
    let named = index_names(&schemas);
    let mut doomed: Vec<&NamedIndex> = Vec::new();
    for name in names {
        let wanted = ddl::table_name(name)?;
        match named
            .iter()
            .find(|i| i.name == wanted || i.checked == wanted)
        {
            Some(ix) if !doomed.contains(&ix) => doomed.push(ix),
            Some(_) => {}
            None if if_exists => {}
            None => {
                return Err(sql_error(
                    name.span(),
                    format!("no index named {wanted} ({})", known_indexes(&named)),
                ))
            }
        }
    }
    for schema in &mut schemas {
        let mine: Vec<&&NamedIndex> = doomed.iter().filter(|d| d.table == schema.table).collect();
        if mine.is_empty() {
            continue;
        }
        for ix in mine {
            match ix.columns.as_slice() {
                [one] => {
                    let col = schema.column_index(one)?;
                    schema.columns[col].index = false;
                }
                cols => schema.index.retain(|c| c != cols),
            }
        }
        schema.finish()?;
        engine.alter(schema.clone())?;
    }
    Ok(SqlResult::default())
}

/// Every table's schema as stored (how earlier migrations reached it left out).
fn stored_schemas(engine: &Arc<Engine>) -> Result<Vec<Schema>> {
    let mut schemas = Vec::new();
    for table in engine.table_names()? {
        let mut schema = engine.schema(&table)?;
        schema.evolution = Default::default();
        schemas.push(schema);
    }
    Ok(schemas)
}

/// What an unknown index name's error lists: the names there are.
fn known_indexes(named: &[NamedIndex]) -> String {
    if named.is_empty() {
        return "the database has no index DROP INDEX drops; a UNIQUE constraint is part of its \
                table"
            .to_owned();
    }
    let names: Vec<&str> = named.iter().map(|i| i.name.as_str()).collect();
    format!(
        "tabula names an index by its table and columns, as tabula dump writes it: {}; a \
         UNIQUE constraint is part of its table",
        names.join(", ")
    )
}

/// `old` with the index `CREATE INDEX` describes. Its name is not kept (tabula's indexes
/// are known by their columns), and an index the table already has is not built twice.
fn with_index(mut schema: Schema, c: &CreateIndex) -> Result<Schema> {
    if c.using.is_some()
        || c.predicate.is_some()
        || !c.include.is_empty()
        || !c.with.is_empty()
        || c.nulls_distinct.is_some()
    {
        return Err(unsupported(
            "CREATE INDEX with USING, WHERE, INCLUDE, WITH or NULLS DISTINCT",
        ));
    }
    let mut cols = Vec::with_capacity(c.columns.len());
    for ic in &c.columns {
        let Expr::Identifier(id) = &ic.column.expr else {
            return Err(unsupported("an index on an expression"));
        };
        if schema.position(&id.value).is_none() {
            return Err(sql_error(
                ic.column.expr.span(),
                format!("table {} has no column {}", schema.table, id.value),
            ));
        }
        cols.push(id.value.clone());
    }
    match (c.unique, cols.as_slice()) {
        (_, []) => return Err(sql_error(c.table_name.span(), "an index needs a column")),
        (true, [one]) => {
            let col = schema.column_index(one)?;
            schema.columns[col].unique |= !schema.columns[col].primary_key;
        }
        (false, [one]) => {
            let col = schema.column_index(one)?;
            schema.columns[col].index = true;
        }
        // A unique constraint over the same columns in any order is the same one.
        (true, _) if !schema.unique.iter().any(|u| same_columns(u, &cols)) => {
            schema.unique.push(cols)
        }
        (false, _) if !schema.index.contains(&cols) => schema.index.push(cols),
        _ => {}
    }
    schema.finish()?;
    Ok(schema)
}

/// `schema` after one `ALTER TABLE` operation (`stored`: the columns the table has now).
fn altered(
    mut schema: Schema,
    op: &AlterTableOperation,
    stored: &[String],
    index_names: &dyn Fn() -> Result<Vec<NamedIndex>>,
) -> Result<Schema> {
    match op {
        AlterTableOperation::AddColumn {
            if_not_exists,
            column_def,
            column_position: None,
            ..
        } => add_column(&mut schema, column_def, *if_not_exists, stored)?,
        AlterTableOperation::RenameColumn {
            old_column_name,
            new_column_name,
        } => rename_column(&mut schema, old_column_name, new_column_name, stored)?,
        AlterTableOperation::DropColumn {
            column_names,
            if_exists,
            ..
        } => drop_columns(&mut schema, column_names, *if_exists, index_names)?,
        AlterTableOperation::AddConstraint { constraint, .. } => {
            add_constraint(&mut schema, constraint)?
        }
        other => return Err(unsupported(format!("ALTER TABLE {other}"))),
    }
    schema.finish()?;
    Ok(schema)
}

/// `ADD COLUMN`.
fn add_column(
    schema: &mut Schema,
    column_def: &ColumnDef,
    if_not_exists: bool,
    stored: &[String],
) -> Result<()> {
    let col = ddl::column_of(&schema.table, column_def)?;
    if schema.position(&col.name).is_some() {
        if if_not_exists {
            return Ok(());
        }
        return Err(sql_error(
            column_def.name.span,
            format!("table {} already has a column {}", schema.table, col.name),
        ));
    }
    if col.primary_key {
        return Err(unsupported("adding a primary key column"));
    }
    // Stored rows are matched to the new columns by name: a column dropped or renamed
    // away earlier in this statement still has data under its name, which the new
    // column would take.
    if stored.contains(&col.name) {
        return Err(unsupported(format!(
            "adding a column {}, a name table {} still has data under, in the same \
             ALTER TABLE; drop or rename it and add the new column in separate \
             statements",
            col.name, schema.table
        )));
    }
    schema.columns.push(col);
    Ok(())
}

/// `RENAME COLUMN`: the column, and every check, constraint and index naming it.
fn rename_column(
    schema: &mut Schema,
    old_column_name: &Ident,
    new_column_name: &Ident,
    stored: &[String],
) -> Result<()> {
    let (old, new) = (&old_column_name.value, &new_column_name.value);
    let col = schema.position(old).ok_or_else(|| {
        sql_error(
            old_column_name.span,
            format!("table {} has no column {old}", schema.table),
        )
    })?;
    if schema.position(new).is_some() {
        return Err(sql_error(
            new_column_name.span,
            format!("table {} already has a column {new}", schema.table),
        ));
    }
    // Stored rows are matched to the new columns by name: a name the table holds
    // now cannot take another column's values in the same migration.
    if stored.iter().any(|c| c == new) {
        return Err(unsupported(format!(
            "renaming a column to {new}, a name table {} still has data under, in \
             the same ALTER TABLE; rename in separate statements",
            schema.table
        )));
    }
    let renames = [(old.clone(), new.clone())];
    schema.columns[col].name = new.clone();
    for c in &mut schema.columns {
        c.check = c.check.as_deref().map(|t| rename_columns(t, &renames));
    }
    for t in &mut schema.checks {
        *t = rename_columns(t, &renames);
    }
    for list in schema.unique.iter_mut().chain(schema.index.iter_mut()) {
        for c in list.iter_mut().filter(|c| *c == old) {
            c.clone_from(new);
        }
    }
    // A column renamed twice in one statement is renamed once, from the stored name.
    match schema.evolution.renamed.iter_mut().find(|(_, n)| n == old) {
        Some((_, n)) => n.clone_from(new),
        None => schema.evolution.renamed.push((old.clone(), new.clone())),
    }
    Ok(())
}

/// `DROP COLUMN`: refused for the primary key and for a column an index, a unique
/// constraint or a check holds, as SQL here cannot drop those.
fn drop_columns(
    schema: &mut Schema,
    column_names: &[Ident],
    if_exists: bool,
    index_names: &dyn Fn() -> Result<Vec<NamedIndex>>,
) -> Result<()> {
    for name in column_names {
        let Some(col) = schema.position(&name.value) else {
            if if_exists {
                continue;
            }
            return Err(sql_error(
                name.span,
                format!("table {} has no column {}", schema.table, name.value),
            ));
        };
        if schema.columns[col].primary_key {
            return Err(sql_error(
                name.span,
                format!(
                    "column {} is the primary key of {}; it cannot be dropped",
                    name.value, schema.table
                ),
            ));
        }
        // As SQLite: a column in an index or a unique constraint stays until that
        // goes.
        let holds = |cols: &[String]| cols.contains(&name.value);
        let own = &schema.columns[col];
        let indexed = own.index || schema.index.iter().any(|cols| holds(cols));
        // The named indexes are the stored table's: its column's stored name, before
        // a rename earlier in this statement.
        let stored_name = schema
            .evolution
            .renamed
            .iter()
            .find(|(_, n)| *n == name.value)
            .map_or(&name.value, |(old, _)| old);
        let indexes: Vec<NamedIndex> = if indexed {
            index_names()?
                .into_iter()
                .filter(|ix| ix.table == schema.table && ix.columns.contains(stored_name))
                .collect()
        } else {
            Vec::new()
        };
        if indexed && indexes.is_empty() {
            return Err(sql_error(
                name.span,
                format!(
                    "column {} of {} is in an index; drop the index first (DROP INDEX, \
                     in a statement of its own)",
                    name.value, schema.table
                ),
            ));
        }
        if !indexes.is_empty() {
            let on: Vec<String> = indexes
                .iter()
                .map(|ix| format!("({})", ix.columns.join(", ")))
                .collect();
            let drops: Vec<String> = indexes
                .iter()
                .map(|ix| format!("DROP INDEX {}", ix.name))
                .collect();
            let (one, it) = match indexes.len() {
                1 => ("index", "it"),
                _ => ("indexes", "them"),
            };
            return Err(sql_error(
                name.span,
                format!(
                    "column {} of {} is in the {one} on {}; drop {it} first: {}",
                    name.value,
                    schema.table,
                    on.join(" and "),
                    drops.join("; ")
                ),
            ));
        }
        if own.unique {
            return Err(sql_error(
                name.span,
                format!(
                    "column {} of {} is UNIQUE, which SQL here cannot drop; \
                     Database::alter_table with a schema without it can",
                    name.value, schema.table
                ),
            ));
        }
        if let Some(u) = schema.unique.iter().find(|u| holds(u)) {
            return Err(sql_error(
                name.span,
                format!(
                    "column {} of {} is in the constraint UNIQUE ({}), which SQL here \
                     cannot drop; Database::alter_table with a schema without it can",
                    name.value,
                    schema.table,
                    u.join(", ")
                ),
            ));
        }
        let stored = match schema
            .evolution
            .renamed
            .iter()
            .position(|(_, n)| *n == name.value)
        {
            Some(r) => schema.evolution.renamed.remove(r).0,
            None => name.value.clone(),
        };
        schema.columns.remove(col);
        // A check that names the column (a table check, or another column's) would
        // otherwise fail later as naming a column the table "has no" of.
        for (_, text) in schema.all_checks() {
            if let Err(Error::UnknownColumn { column, .. }) =
                crate::expr::Condition::parse(schema, text)
            {
                if column == name.value {
                    return Err(sql_error(
                        name.span,
                        format!(
                            "column {} of {} is used by the check {text}, which \
                             SQL here cannot drop (a check has no name to drop it \
                             by); Database::alter_table with a schema without it can",
                            name.value, schema.table
                        ),
                    ));
                }
            }
        }
        schema.evolution.dropped.push(stored);
    }
    Ok(())
}

/// `ADD CONSTRAINT`: UNIQUE, CHECK, or a foreign key on an existing column.
fn add_constraint(schema: &mut Schema, constraint: &TableConstraint) -> Result<()> {
    ddl::enforced_constraint(constraint)?;
    match constraint {
        TableConstraint::Unique(u) => {
            let cols: Vec<String> = u
                .columns
                .iter()
                .map(|c| ddl::listed_column(&c.column.expr))
                .collect();
            match cols.as_slice() {
                [one] => {
                    let col = schema.column_index(one)?;
                    schema.columns[col].unique |= !schema.columns[col].primary_key;
                }
                _ => schema.unique.push(cols),
            }
        }
        TableConstraint::Check(ch) => schema.checks.push(ch.expr.to_string()),
        // What a dump of tables in a cycle of references writes for PostgreSQL, once
        // both tables exist: the foreign key goes on an existing column, and the
        // migration checks every row against the table it references.
        TableConstraint::ForeignKey(fk) => {
            let [col] = fk.columns.as_slice() else {
                return Err(unsupported("a foreign key of several columns"));
            };
            let key = ddl::foreign_key(fk)?;
            let i = schema.column_index(&col.value)?;
            if let Some(old) = &schema.columns[i].references {
                return Err(unsupported(format!(
                    "a second foreign key on column {}.{} (it references {} already; \
                     drop and add the column to change it)",
                    schema.table, col.value, old.table
                )));
            }
            schema.columns[i].references = Some(key);
        }
        other => return Err(unsupported(format!("ALTER TABLE ADD {other}"))),
    }
    Ok(())
}

/// Whether `table` is SQLite's table of auto-increment counters, as a dump names it.
pub(crate) fn is_sqlite_sequence(target: Target<'_, '_>, table: &str) -> bool {
    table.eq_ignore_ascii_case("sqlite_sequence")
        && matches!(target.schema(table), Err(Error::UnknownTable { .. }))
}

/// Raises table `table`'s auto-increment counter so that its next key is `next`, inside
/// the transaction (a lower one changes nothing: keys are never reused).
fn raise_next_key(
    target: Target<'_, '_>,
    table: &str,
    next: Value,
    at: sqlparser::tokenizer::Span,
) -> Result<()> {
    let tx = target.writer()?;
    let t = tx.dyn_table(table).map_err(|e| match e {
        Error::UnknownTable { .. } => sql_error(at, target.no_table(table)),
        e => e,
    })?;
    if !t.schema().auto_increment() {
        return Err(sql_error(
            at,
            format!("table {table} has no auto-increment key"),
        ));
    }
    let Value::Int(next) = next else {
        return Err(sql_error(
            at,
            format!("the counter of {table} must be an integer, not {next}"),
        ));
    };
    if let Some(why) = t.schema().counter_refused(next) {
        return Err(sql_error(at, format!("the counter of {table}: {why}")));
    }
    let idx = tx.tx.state(table)?.index_of(table)?;
    statement(&tx.tx, idx, |t| {
        t.raise_next_key(next);
        Ok(())
    })
}

/// No columns: the values of `INSERT INTO sqlite_sequence` are constants.
struct NoColumns;
impl Scope for NoColumns {
    fn resolve(&self, _: Option<&str>, name: &str) -> std::result::Result<usize, String> {
        Err(format!("no column {name} here"))
    }
}

/// `INSERT INTO sqlite_sequence [(name, seq)] VALUES ('t', n), …`: each raises t's next
/// key to n + 1, as loading a SQLite dump expects.
pub(crate) fn insert_sqlite_sequence(
    target: Target<'_, '_>,
    columns: &[String],
    source: &Query,
    params: &[Value],
) -> Result<SqlResult> {
    let order = match columns {
        [] => (0, 1),
        [a, b] if a.eq_ignore_ascii_case("name") && b.eq_ignore_ascii_case("seq") => (0, 1),
        [a, b] if a.eq_ignore_ascii_case("seq") && b.eq_ignore_ascii_case("name") => (1, 0),
        _ => {
            return Err(sql_error(
                source.span(),
                "sqlite_sequence takes the columns (name, seq)",
            ))
        }
    };
    let SetExpr::Values(values) = source.body.as_ref() else {
        return Err(unsupported("INSERT INTO sqlite_sequence from a query"));
    };
    let mut changed = 0;
    for row in &values.rows {
        let [a, b] = row.as_slice() else {
            return Err(sql_error(
                source.span(),
                "sqlite_sequence takes two values: the table's name and its counter",
            ));
        };
        let eval =
            |e: &Expr| scalar::compile(e, &NoColumns, &mut Params::default())?.eval(&[], params);
        let (name, seq) = if order.0 == 0 {
            (eval(a)?, eval(b)?)
        } else {
            (eval(b)?, eval(a)?)
        };
        let Value::Text(name) = name else {
            return Err(sql_error(a.span(), format!("a table name, not {name}")));
        };
        let next = match seq {
            Value::Int(n) => Value::Int(n.saturating_add(1)),
            other => other,
        };
        raise_next_key(target, &name, next, a.span())?;
        changed += 1;
    }
    Ok(SqlResult::of_changes(changed))
}

/// The arguments of `SELECT [pg_catalog.]setval(sequence, n [, is_called])`, if `q` is
/// exactly that.
fn setval_args(q: &Query) -> Option<&[FunctionArg]> {
    let SetExpr::Select(s) = q.body.as_ref() else {
        return None;
    };
    if !s.from.is_empty() || s.selection.is_some() || q.order_by.is_some() {
        return None;
    }
    let [SelectItem::UnnamedExpr(Expr::Function(f))
    | SelectItem::ExprWithAlias {
        expr: Expr::Function(f),
        ..
    }] = s.projection.as_slice()
    else {
        return None;
    };
    if !name_of(&f.name).eq_ignore_ascii_case("setval") {
        return None;
    }
    match &f.args {
        FunctionArguments::List(l) => Some(&l.args),
        _ => None,
    }
}

/// Whether `q` is PostgreSQL's `SELECT setval(…)` (a write).
pub(crate) fn is_setval(q: &Query) -> bool {
    setval_args(q).is_some()
}

/// PostgreSQL's `SELECT setval(seq, n [, is_called])`, where `seq` is
/// `pg_get_serial_sequence('t', 'col')` or a sequence named `'[schema.]t_col_seq'`: sets
/// table t's next key to n + 1 (n when `is_called` is false). Returns n, as PostgreSQL does.
pub(crate) fn setval(target: Target<'_, '_>, q: &Query, params: &[Value]) -> Result<SqlResult> {
    let Some(args) = setval_args(q) else {
        return Err(unsupported("this use of setval"));
    };
    let exprs = args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e),
            _ => Err(unsupported("named arguments to setval")),
        })
        .collect::<Result<Vec<_>>>()?;
    let eval = |e: &Expr| scalar::compile(e, &NoColumns, &mut Params::default())?.eval(&[], params);
    let (seq, n, called) = match exprs.as_slice() {
        [seq, n] => (*seq, eval(n)?, true),
        [seq, n, called] => (
            *seq,
            eval(n)?,
            matches!(eval(called)?, Value::Bool(true) | Value::Int(1)),
        ),
        _ => {
            return Err(sql_error(
                q.span(),
                "setval takes a sequence, a value and is_called",
            ))
        }
    };
    let Some(table) = sequence_table(target, seq, params)? else {
        // `pg_get_serial_sequence` of a column that has no sequence is null, and
        // `setval(null, …)` is null and changes nothing, as in PostgreSQL.
        return Ok(SqlResult {
            columns: vec!["setval".to_owned()],
            rows: vec![vec![Value::Null]],
            changed: 0,
        });
    };
    let next = match &n {
        Value::Int(v) if called => Value::Int(v.saturating_add(1)),
        other => other.clone(),
    };
    raise_next_key(target, &table, next, seq.span())?;
    Ok(SqlResult {
        columns: vec!["setval".to_owned()],
        rows: vec![vec![n]],
        changed: 0,
    })
}

/// The table whose key a sequence argument of `setval` names; `None` for
/// `pg_get_serial_sequence` of a column with no sequence (any but an automatic key).
fn sequence_table(target: Target<'_, '_>, seq: &Expr, params: &[Value]) -> Result<Option<String>> {
    if let Expr::Function(f) = seq {
        if name_of(&f.name).eq_ignore_ascii_case("pg_get_serial_sequence") {
            let FunctionArguments::List(l) = &f.args else {
                return Err(unsupported("this use of pg_get_serial_sequence"));
            };
            let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(t))) = l.args.first() else {
                return Err(unsupported("this use of pg_get_serial_sequence"));
            };
            let text = |e: &Expr, what: &str| -> Result<String> {
                match scalar::compile(e, &NoColumns, &mut Params::default())?.eval(&[], params)? {
                    Value::Text(t) => Ok(t),
                    _ => Err(sql_error(
                        seq.span(),
                        format!("pg_get_serial_sequence takes a {what}"),
                    )),
                }
            };
            let table = named_in_text(&text(t, "table name")?)?;
            let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(c))) = l.args.get(1) else {
                return Err(unsupported("this use of pg_get_serial_sequence"));
            };
            let column = text(c, "column name")?;
            let schema = target.schema(&table)?;
            // PostgreSQL's argument may be quoted (`'"Id"'`): the name as given, else unquoted.
            let column = match schema.position(&column) {
                Some(_) => column.as_str(),
                None => column.trim_matches('"'),
            };
            // A column the table lacks is an error, as in PostgreSQL (one without a
            // sequence is null).
            if schema.position(column).is_none() {
                return Err(sql_error(
                    c.span(),
                    format!("table {table} has no column {column}"),
                ));
            }
            let keyed = schema.auto_increment() && schema.primary_key_column().name == column;
            return Ok(keyed.then_some(table));
        }
    }
    let Value::Text(name) =
        scalar::compile(seq, &NoColumns, &mut Params::default())?.eval(&[], params)?
    else {
        return Err(sql_error(seq.span(), "setval takes a sequence name"));
    };
    let stem = named_in_text(&name)?;
    let stem = stem.as_str();
    // `t_col_seq`, PostgreSQL's name for the sequence of column col of table t.
    if let Some(stem) = stem.strip_suffix("_seq") {
        if let Some(tx) = target.transaction() {
            let names: Vec<String> = tx.tx.state(stem)?.by_name.keys().cloned().collect();
            for t in names {
                if let Ok(s) = target.schema(&t) {
                    if format!("{}_{}", s.table, s.primary_key_column().name) == stem {
                        return Ok(Some(t));
                    }
                }
            }
        }
    }
    Err(sql_error(
        seq.span(),
        format!("no table's key has the sequence {name}"),
    ))
}

/// Whether two column lists name the same columns, in any order.
fn same_columns(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().all(|c| b.contains(c))
}
