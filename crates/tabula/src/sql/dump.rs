//! A database as a SQL script ([`Database::dump_sql`](crate::Database::dump_sql)): the road
//! out to SQLite or PostgreSQL, and back in through `db.sql`.
//!
//! The script is one transaction: every `CREATE TABLE` with its types and constraints (a
//! referenced table before the tables that reference it), then per table its rows
//! (multi-row `INSERT`s, or PostgreSQL `COPY … FROM stdin`) and its auto-increment counter
//! (`sqlite_sequence`, or `setval` on the identity's sequence). After it, as in `pg_dump`'s
//! scripts, `CREATE INDEX` for the ordered indexes and, for PostgreSQL, the foreign keys of
//! tables in a cycle of references (`ALTER TABLE … ADD FOREIGN KEY`): tabula builds an
//! index or adds a key as a durable step of its own, which a transaction cannot hold. (In
//! the SQLite dialect such a key names a table created later, which SQLite and tabula take
//! inside the transaction; see [`column_def`].)
//!
//! A type SQL lacks is written as a wider SQL type with a check stating its range
//! (`u8` is `INTEGER CHECK (c BETWEEN 0 AND 255)`), which the server enforces and which
//! `CREATE TABLE` in tabula reads back as that type; a `json` column in SQLite is `TEXT` with
//! `CHECK (json_valid(c))`, read back the same way. `docs/SQL.md` has the whole mapping and
//! what does not carry over exactly.

use std::collections::HashSet;
use std::fmt::{self, Write as _};
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use crate::engine::any_table::AnyTable;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::expr::{like_escapes_spelled, quote_columns, uses_ilike};
use crate::schema::{Column, ColumnType, OnDelete, Schema};
use crate::select::column_names;
use crate::sql_name::ident;
use crate::value::Value;

/// The SQL dialect of a dump ([`Database::dump_sql`](crate::Database::dump_sql)). More may
/// come (MySQL), so matches need a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Dialect {
    /// SQLite: `INSERT` batches, `INTEGER PRIMARY KEY AUTOINCREMENT` and `sqlite_sequence`
    /// (as `sqlite3`'s `.dump` writes them).
    #[default]
    Sqlite,
    /// PostgreSQL: `COPY … FROM stdin` blocks in text format, identity columns and
    /// `setval` (as `pg_dump` writes them; load with `psql`).
    Postgres,
}

impl Dialect {
    /// The dialect's name: `sqlite` or `postgres`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dialect {
    type Err = Error;

    /// `sqlite` (or `sqlite3`), `postgres` (or `postgresql`, `pg`), in any case.
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "sqlite" | "sqlite3" => Ok(Dialect::Sqlite),
            "postgres" | "postgresql" | "pg" => Ok(Dialect::Postgres),
            _ => Err(Error::Unsupported {
                feature: format!("the SQL dialect {s:?} (sqlite or postgres)"),
            }),
        }
    }
}

/// Rows per `INSERT` statement in the SQLite dialect.
const INSERT_BATCH: usize = 100;

/// Writes the dump of one committed version of the database to `out`.
pub(crate) fn dump(engine: &Engine, dialect: Dialect, out: &mut dyn Write) -> Result<()> {
    engine.refuse_in_transaction("(dump)")?;
    let Some(st) = engine.loaded_state("(dump)")? else {
        return Err(Error::io(
            Path::new("(dump)"),
            std::io::Error::other("the database was refreshed during every attempt to dump it"),
        ));
    };
    let mut names: Vec<(&String, &usize)> = st.by_name.iter().collect();
    names.sort();
    let mut tables = Vec::with_capacity(names.len());
    for (_, &idx) in names {
        tables.push(st.table(idx)?);
    }
    let tables = referenced_first(tables);
    loadable(tables.iter().map(|t| t.schema().as_ref()), dialect)?;
    let mut w = Out {
        out,
        buf: String::new(),
    };
    writeln!(
        w.buf,
        "-- tabula dump, {dialect} dialect: {}.\n\
         -- Load it with `tabula sql DIR < FILE`, or {}.\n\
         {}BEGIN;",
        super::compound::count(tables.len(), "table"),
        match dialect {
            Dialect::Sqlite => "`sqlite3 FILE.db < FILE`",
            Dialect::Postgres => "`psql -v ON_ERROR_STOP=1 -f FILE`",
        },
        match dialect {
            // As pg_dump writes them: the script's text is UTF-8 whatever psql's locale,
            // and a backslash in a literal is a plain character whatever the server's
            // setting.
            Dialect::Postgres => {
                "SET client_encoding = 'UTF8';\nSET standard_conforming_strings = on;\n"
            }
            _ => "",
        }
    )
    .map_err(fmt_error)?;
    // PostgreSQL's foreign keys that name a table created later (a cycle of references),
    // added once every table and row is there.
    let mut later = Vec::new();
    // Every table, then every table's rows, as pg_dump writes them: a table in a cycle of
    // references exists before any row names it.
    for (i, t) in tables.iter().enumerate() {
        w.buf.push('\n');
        create_table(&mut w.buf, t.schema(), &tables, i, dialect, &mut later)?;
    }
    let references = tables
        .iter()
        .any(|t| t.schema().columns.iter().any(|c| c.references.is_some()));
    if references && dialect == Dialect::Sqlite {
        // A SQLite enforcing foreign keys checks them at COMMIT, as tabula always does:
        // rows may come before the rows they reference (a cycle, or a table referencing
        // itself across INSERT batches). Without enforcement it changes nothing.
        w.buf.push_str("\nPRAGMA defer_foreign_keys = 1;\n");
    }
    for t in &tables {
        let schema = &**t.schema();
        let rows = t.dump()?;
        let mut key = String::new();
        // The counter stops at the largest key, where it cannot tell whether that key was
        // handed out: the rows say.
        let pk = schema.primary_key();
        let holds_largest = t.next_key() == i64::MAX
            && rows
                .iter()
                .any(|r| matches!(r.get(pk), Some(Value::Int(i64::MAX))));
        next_key(&mut key, schema, t.next_key(), holds_largest, dialect).map_err(fmt_error)?;
        // A table with neither rows nor a counter to set has nothing here.
        if rows.is_empty() && key.is_empty() {
            continue;
        }
        w.buf.push('\n');
        w.flush()?;
        match dialect {
            Dialect::Sqlite => insert_rows(&mut w, schema, &rows)?,
            Dialect::Postgres => copy_rows(&mut w, schema, &rows)?,
        }
        w.buf.push_str(&key);
    }
    w.buf.push_str("\nCOMMIT;\n");
    // Outside the transaction too: tabula adds a foreign key as a migration, a durable
    // step of its own that checks every row.
    if !later.is_empty() {
        w.buf.push('\n');
        for l in &later {
            w.buf.push_str(l);
        }
    }
    // After the rows, as pg_dump does (an index built once is cheaper than one kept up row
    // by row); and outside the transaction, since tabula builds an index as a durable step
    // of its own.
    let mut indexes = String::new();
    create_indexes(
        &mut indexes,
        &index_names(tables.iter().map(|t| &**t.schema())),
    )?;
    if !indexes.is_empty() {
        w.buf.push('\n');
        w.buf.push_str(&indexes);
    }
    w.flush()?;
    w.out.flush().map_err(io_error)
}

/// The output, through a buffer flushed every few rows.
struct Out<'a> {
    out: &'a mut dyn Write,
    buf: String,
}

impl Out<'_> {
    fn flush(&mut self) -> Result<()> {
        self.out.write_all(self.buf.as_bytes()).map_err(io_error)?;
        self.buf.clear();
        Ok(())
    }
}

fn io_error(e: std::io::Error) -> Error {
    Error::io(Path::new("(dump output)"), e)
}

fn fmt_error(_: fmt::Error) -> Error {
    // Writing into a `String` does not fail.
    Error::io(
        Path::new("(dump output)"),
        std::io::Error::other("formatting failed"),
    )
}

/// The tables ordered so that a table comes after every other table it references (a
/// reference to itself is fine); among tables free to go, by name. Tables in a cycle of
/// references follow in name order (see [`column_def`] for the references to a table
/// created later).
fn referenced_first(tables: Vec<&dyn AnyTable>) -> Vec<&dyn AnyTable> {
    let mut placed: HashSet<String> = HashSet::new();
    let mut left = tables;
    let mut out = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let ready = left.iter().position(|t| {
            let s = t.schema();
            s.columns.iter().all(|c| {
                c.references.as_ref().is_none_or(|fk| {
                    fk.table == s.table
                        || placed.contains(&fk.table)
                        || !left.iter().any(|o| o.schema().table == fk.table)
                })
            })
        });
        // None is free: some of the tables left are in a cycle of references, and the
        // others wait for them. A table in the cycle goes first.
        let t = left.remove(ready.or_else(|| in_cycle(&left)).unwrap_or(0));
        placed.insert(t.schema().table.clone());
        out.push(t);
    }
    out
}

/// The first of `tables` that reaches itself through their references (other than a
/// reference to itself).
fn in_cycle(tables: &[&dyn AnyTable]) -> Option<usize> {
    let refs = |i: usize| -> Vec<usize> {
        let s = tables[i].schema();
        s.columns
            .iter()
            .filter_map(|c| c.references.as_ref())
            .filter(|fk| fk.table != s.table)
            .filter_map(|fk| tables.iter().position(|t| t.schema().table == fk.table))
            .collect()
    };
    (0..tables.len()).find(|&start| {
        let mut seen = HashSet::new();
        let mut stack = refs(start);
        while let Some(i) = stack.pop() {
            if i == start {
                return true;
            }
            if seen.insert(i) {
                stack.extend(refs(i));
            }
        }
        false
    })
}

/// A string literal: `'it''s'` (backslashes are plain characters in both dialects; the
/// PostgreSQL script sets `standard_conforming_strings`, on by default, to be sure).
fn string_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A float that reads back as the same `f64`: the shortest such decimal.
fn float_literal(f: f64) -> String {
    format!("{f:?}")
}

/// The names a check may mention: the table's columns, and the table itself, which
/// qualifies them (`t.v`, `[t].[v]`).
fn check_refs(schema: &Schema) -> Vec<&str> {
    let columns = schema.columns.iter().map(|c| c.name.as_str());
    columns.chain([schema.table.as_str()]).collect()
}

/// A check of `schema`'s table as the dialect's server reads it: its column names quoted
/// where SQL needs it and, for PostgreSQL, its `LIKE` patterns' backslashes kept plain
/// characters (see [`like_escapes_spelled`]).
fn check_sql(check: &str, schema: &Schema, dialect: Dialect) -> String {
    let check = quote_columns(check, &check_refs(schema));
    match dialect {
        Dialect::Postgres => like_escapes_spelled(&check),
        _ => check,
    }
}

/// PostgreSQL's system columns, which no table's own column may be named.
const PG_SYSTEM_COLUMNS: [&str; 6] = ["tableoid", "xmin", "cmin", "xmax", "cmax", "ctid"];

/// Refuses, before anything is written, the tables the dialect's server could not load: more
/// columns than it holds; in
/// SQLite, which compares names without case, two tables (or two columns of a table) whose
/// names differ only in case; in PostgreSQL, a name longer than its 63 bytes, a column named
/// like a system column, a table named `pg_…` (found in the system catalog first), and a
/// table named like the key index (`t_pkey`), a unique constraint's index (`t_email_key`)
/// or the identity sequence (`t_id_seq`) that PostgreSQL makes for another table, as
/// PostgreSQL shortens those names to fit 63 bytes. The error names both, and every
/// problem found, not only the first.
fn loadable<'a>(schemas: impl Iterator<Item = &'a Schema> + Clone, dialect: Dialect) -> Result<()> {
    // Every problem, so that one run says all there is to change.
    let mut problems: Vec<String> = Vec::new();
    let mut seen: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for s in schemas.clone() {
        // SQLite's default build holds 2,000 columns a table, PostgreSQL 1,600.
        let (server, most) = match dialect {
            Dialect::Sqlite => ("SQLite", 2000),
            Dialect::Postgres => ("PostgreSQL", 1600),
        };
        if s.columns.len() > most {
            problems.push(format!(
                "table {} of {} columns ({server} holds at most {most} a table)",
                s.table,
                s.columns.len()
            ));
        }
        match dialect {
            Dialect::Sqlite => {
                for (col, _) in s.all_checks().filter(|(_, text)| uses_ilike(text, false)) {
                    problems.push(format!(
                        "the check on {}{} uses ILIKE, which SQLite lacks (its LIKE ignores \
                         the case of ASCII letters only: write the check with LIKE to move it)",
                        s.table,
                        col.map(|c| format!(".{c}")).unwrap_or_default()
                    ));
                }
                if let Some(other) = seen.insert(s.table.to_ascii_lowercase(), &s.table) {
                    problems.push(format!(
                        "tables {other} and {}, whose names SQLite does not tell apart",
                        s.table
                    ));
                }
                let mut cols = HashSet::new();
                for c in &s.columns {
                    if !cols.insert(c.name.to_ascii_lowercase()) {
                        problems.push(format!(
                            "table {} with two columns named {} but for case, which SQLite does not tell apart",
                            s.table, c.name
                        ));
                    }
                }
            }
            Dialect::Postgres => {
                for (col, _) in s.all_checks().filter(|(_, text)| uses_ilike(text, true)) {
                    problems.push(format!(
                        "the check on {}{} uses ILIKE with a pattern beyond ASCII: PostgreSQL's \
                         ILIKE folds the case of ASCII letters only in a COLLATE \"C\" column, \
                         where tabula's folds every letter's",
                        s.table,
                        col.map(|c| format!(".{c}")).unwrap_or_default()
                    ));
                }
                let names = std::iter::once(&s.table).chain(s.columns.iter().map(|c| &c.name));
                for long in names.filter(|n| n.len() > 63) {
                    problems.push(format!(
                        "the name {long} (table {}): PostgreSQL's names hold at most 63 bytes",
                        s.table
                    ));
                }
                for c in s
                    .columns
                    .iter()
                    .filter(|c| PG_SYSTEM_COLUMNS.contains(&c.name.as_str()))
                {
                    problems.push(format!(
                        "column {}.{}, which is the name of a PostgreSQL system column",
                        s.table, c.name
                    ));
                }
                // An unqualified name is looked up in the system catalog first, where
                // `pg_class`, `pg_description`, ... are: the rows would go there.
                if s.table.starts_with("pg_") {
                    problems.push(format!(
                        "table {}: PostgreSQL looks a name up in its system catalog first, \
                         whose tables are named pg_… (which, varies by version): a table of \
                         the same name there would take its rows",
                        s.table
                    ));
                }
                seen.insert(pg_object_name(&s.table, None, "pkey"), &s.table);
                // A unique constraint's index: `t_c_key`, `t_a_b_key`.
                let uniques = s
                    .columns
                    .iter()
                    .filter(|c| c.unique)
                    .map(|c| vec![c.name.clone()]);
                for cols in uniques.chain(s.unique.iter().cloned()) {
                    seen.insert(
                        pg_object_name(&s.table, Some(&pg_index_addition(&cols)), "key"),
                        &s.table,
                    );
                }
                if s.primary_key_column().ty.is_int() {
                    let key = &s.primary_key_column().name;
                    seen.insert(pg_object_name(&s.table, Some(key), "seq"), &s.table);
                }
            }
        }
    }
    if dialect == Dialect::Postgres {
        for s in schemas {
            if let Some(owner) = seen.get(&s.table) {
                problems.push(format!(
                    "table {}, whose name PostgreSQL gives to an index or sequence of table {owner}",
                    s.table
                ));
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::Unsupported {
        feature: format!("{} in a {dialect} dump", problems.join("; ")),
    })
}

/// The name PostgreSQL gives an object it makes for a table (`makeObjectName`):
/// `name1_name2_label`, the longer of the two names shortened a byte at a time until the
/// whole fits in its 63 bytes (tabula's names are ASCII, so a byte is a character).
fn pg_object_name(name1: &str, name2: Option<&str>, label: &str) -> String {
    let room = 63 - label.len() - 1 - usize::from(name2.is_some());
    let (mut n1, mut n2) = (name1.len(), name2.map_or(0, str::len));
    while n1 + n2 > room {
        if n1 > n2 {
            n1 -= 1;
        } else {
            n2 -= 1;
        }
    }
    let mut out = name1[..n1].to_owned();
    if let Some(name2) = name2 {
        out.push('_');
        out.push_str(&name2[..n2]);
    }
    out.push('_');
    out.push_str(label);
    out
}

/// The columns' part of the name PostgreSQL gives a unique constraint's index
/// (`ChooseIndexNameAddition`): the names joined by `_`, stopping once 64 bytes are reached.
fn pg_index_addition(columns: &[String]) -> String {
    let mut out = String::new();
    for c in columns {
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(c);
        if out.len() >= 64 {
            break;
        }
    }
    out
}

/// Why a NUL character cannot be written: neither SQL text nor PostgreSQL's `text` holds one.
fn nul_error(schema: &Schema, col: &str, row: Option<&[Value]>) -> Error {
    let key = row
        .map(|r| format!(" (the row with key {})", r[schema.primary_key()]))
        .unwrap_or_else(|| " (its default)".to_owned());
    Error::Unsupported {
        feature: format!(
            "a NUL character in text in a SQL dump: table {}, column {col}{key}",
            schema.table
        ),
    }
}

/// Why the SQLite dialect cannot write a NaN in a `NOT NULL` column: SQLite has no NaN, and
/// the `NULL` written for one elsewhere would make the script fail where it is loaded.
fn nan_error(schema: &Schema, col: &str, row: &[Value]) -> Error {
    Error::Unsupported {
        feature: format!(
            "a NaN in a NOT NULL column in a SQLite-dialect dump (SQLite has no NaN, and NULL \
             would break NOT NULL): table {}, column {col} (the row with key {}); the \
             PostgreSQL dialect (--dialect postgres) carries NaN",
            schema.table,
            row[schema.primary_key()]
        ),
    }
}

/// A value as a SQL literal of `dialect` (a default, or a value of an `INSERT`).
fn literal(
    v: &Value,
    dialect: Dialect,
    schema: &Schema,
    col: &str,
    row: Option<&[Value]>,
) -> Result<String> {
    Ok(match v {
        Value::Null => "NULL".to_owned(),
        Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) if f.is_finite() => float_literal(*f),
        Value::Float(f) => match dialect {
            // SQLite reads a literal beyond the range of a double as infinity (as its own
            // `.dump` writes it). It has no NaN, nor has tabula's SQL, which follows it: a
            // NaN value is NULL; a NaN default is PostgreSQL's 'NaN', which CREATE TABLE in
            // tabula reads as NaN (SQLite keeps the text).
            Dialect::Sqlite if f.is_nan() && row.is_some() => "NULL".to_owned(),
            Dialect::Sqlite if f.is_nan() => "'NaN'".to_owned(),
            Dialect::Sqlite if *f > 0.0 => "9e999".to_owned(),
            Dialect::Sqlite => "-9e999".to_owned(),
            Dialect::Postgres => string_literal(pg_float(*f).as_str()),
        },
        Value::Text(t) => {
            if t.contains('\0') {
                return Err(nul_error(schema, col, row));
            }
            string_literal(t)
        }
    })
}

/// A float as PostgreSQL's text format writes it: `NaN`, `Infinity`, `-Infinity`, or digits.
fn pg_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else {
        float_literal(f)
    }
}

/// The SQL type of a column, and the range check that narrows it to the tabula type when
/// the SQL type is wider.
fn sql_type(ty: ColumnType, dialect: Dialect) -> (&'static str, Option<(i64, i64)>) {
    let base = match (dialect, ty) {
        (_, ColumnType::Bool) => "BOOLEAN",
        (_, ColumnType::Text) => "TEXT",
        (Dialect::Sqlite, ColumnType::Json) => "TEXT",
        (Dialect::Postgres, ColumnType::Json) => "JSON",
        (_, ColumnType::F32) => "FLOAT4",
        (Dialect::Sqlite, ColumnType::F64) => "REAL",
        (Dialect::Postgres, ColumnType::F64) => "FLOAT8",
        (Dialect::Sqlite, _) => "INTEGER",
        (Dialect::Postgres, ColumnType::I8 | ColumnType::U8 | ColumnType::I16) => "INT2",
        (Dialect::Postgres, ColumnType::U16 | ColumnType::I32) => "INT4",
        (Dialect::Postgres, _) => "INT8",
    };
    let base_range = match base {
        "INT2" => Some((i64::from(i16::MIN), i64::from(i16::MAX))),
        "INT4" => Some((i64::from(i32::MIN), i64::from(i32::MAX))),
        _ => Some((i64::MIN, i64::MAX)),
    };
    let check = ty.int_range().filter(|r| Some(*r) != base_range);
    (base, check)
}

fn on_delete(a: OnDelete) -> &'static str {
    match a {
        OnDelete::Restrict => "RESTRICT",
        OnDelete::Cascade => "CASCADE",
        OnDelete::SetNull => "SET NULL",
    }
}

/// Writes column `c` of `schema`, the table at `at` in `tables` (the order they are
/// created in). A foreign key naming a table created later is written inline for SQLite
/// (which takes it, and so does `tabula sql` inside the dump's `BEGIN … COMMIT`); for
/// PostgreSQL (which does not), it goes to `later` as an `ALTER TABLE … ADD FOREIGN KEY`.
fn column_def(
    out: &mut String,
    schema: &Schema,
    c: &Column,
    tables: &[&dyn AnyTable],
    at: usize,
    dialect: Dialect,
    later: &mut Vec<String>,
) -> Result<()> {
    let name = ident(&c.name);
    let (ty, range) = sql_type(c.ty, dialect);
    let fmt = |r: fmt::Result| r.map_err(fmt_error);
    fmt(write!(out, "    {name} {ty}"))?;
    if c.ty == ColumnType::Text && dialect == Dialect::Postgres {
        // Text in tabula compares by its bytes; a database's default collation (a locale's)
        // would order it otherwise, and a check such as `v < 'b'` could refuse rows tabula
        // holds. SQLite's default, BINARY, is already by bytes.
        out.push_str(" COLLATE \"C\"");
    }
    let auto = c.primary_key && c.ty.is_int();
    if c.primary_key {
        out.push_str(match (dialect, auto) {
            (Dialect::Sqlite, true) => " PRIMARY KEY AUTOINCREMENT",
            (Dialect::Postgres, true) => " GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
            // SQLite lets a primary key that is not an integer hold NULL unless told not to.
            (_, false) => " NOT NULL PRIMARY KEY",
        });
    } else if !c.nullable {
        out.push_str(" NOT NULL");
    }
    if c.unique {
        out.push_str(" UNIQUE");
    }
    // PostgreSQL refuses a default beside an identity; on an auto-increment key one is
    // never used (a row leaving the key out takes the next key), so it is left out there.
    let unused = auto && dialect == Dialect::Postgres;
    if let (Some(d), false) = (&c.default, unused) {
        let lit = literal(d, dialect, schema, &c.name, None)?;
        fmt(write!(out, " DEFAULT {lit}"))?;
    }
    if let Some((lo, hi)) = range {
        fmt(write!(out, " CHECK ({name} BETWEEN {lo} AND {hi})"))?;
    }
    if c.ty == ColumnType::Json && dialect == Dialect::Sqlite {
        // SQLite before 3.45 has `json_valid(NULL)` false, so a NULL needs its own way in.
        if c.nullable {
            fmt(write!(out, " CHECK ({name} IS NULL OR json_valid({name}))"))?;
        } else {
            fmt(write!(out, " CHECK (json_valid({name}))"))?;
        }
    }
    if let Some(check) = &c.check {
        let check = check_sql(check, schema, dialect);
        fmt(write!(out, " CHECK ({check})"))?;
    }
    if let Some(fk) = &c.references {
        let target = tables
            .iter()
            .map(|t| &**t.schema())
            .find(|s| s.table == fk.table)
            .map(|s| format!(" ({})", ident(&s.primary_key_column().name)))
            .unwrap_or_default();
        let created_later = tables[at + 1..]
            .iter()
            .any(|t| t.schema().table == fk.table);
        let clause = format!(
            "REFERENCES {}{target} ON DELETE {}",
            ident(&fk.table),
            on_delete(fk.on_delete)
        );
        if created_later && dialect == Dialect::Postgres {
            later.push(format!(
                "ALTER TABLE {} ADD FOREIGN KEY ({name}) {clause};\n",
                ident(&schema.table)
            ));
        } else {
            fmt(write!(out, " {clause}"))?;
        }
    }
    Ok(())
}

fn column_list(cols: &[String]) -> String {
    cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ")
}

fn create_table(
    out: &mut String,
    schema: &Schema,
    tables: &[&dyn AnyTable],
    at: usize,
    dialect: Dialect,
    later: &mut Vec<String>,
) -> Result<()> {
    let fmt = |r: fmt::Result| r.map_err(fmt_error);
    fmt(writeln!(out, "CREATE TABLE {} (", ident(&schema.table)))?;
    let mut parts = Vec::new();
    for c in &schema.columns {
        let mut def = String::new();
        column_def(&mut def, schema, c, tables, at, dialect, later)?;
        parts.push(def);
    }
    for u in &schema.unique {
        parts.push(format!("    UNIQUE ({})", column_list(u)));
    }
    for check in &schema.checks {
        let check = check_sql(check, schema, dialect);
        parts.push(format!("    CHECK ({check})"));
    }
    fmt(writeln!(out, "{}\n);", parts.join(",\n")))
}

/// An index's name: the table's and columns' names, as `pg_dump`-like tools make them,
/// shortened to PostgreSQL's 63 bytes (table and column names are ASCII).
fn base_name(table: &str, cols: &[String]) -> String {
    let name = format!("{table}_{}_idx", cols.join("_"));
    if name.len() <= 63 {
        name
    } else {
        let hash = crc32c::crc32c(name.as_bytes());
        format!("{}_{hash:08x}_idx", &name[..50])
    }
}

/// An ordered index of a database, and the name it goes by in a dump and in `DROP INDEX`
/// (tabula keeps indexes by their columns, with no name of their own).
#[derive(Debug, PartialEq)]
pub(crate) struct NamedIndex {
    pub(crate) name: String,
    /// The name with the checksum, which names the index whether or not another shares
    /// its plain name (so that a name a dump wrote while two shared it stays good).
    pub(crate) checked: String,
    pub(crate) table: String,
    pub(crate) columns: Vec<String>,
}

/// The ordered indexes of `schemas` (not the unique constraints' hash indexes), tables in
/// name order and each table's in schema order (single columns, then composite ones), each
/// named `<table>_<columns>_idx`. Names several indexes would share (table `a_b` on `c` and
/// table `a` on `b_c`, or `t` on `a_b` and on `(a, b)`), and names a table has (table
/// `t_x_idx` beside `t` on `x`), are told apart by a checksum of the
/// index's own table and columns (`a_b_c_1f2e3d4c_idx`), a name that always names the index
/// (`checked`), so that no name depends on the order of the others.
pub(crate) fn index_names<'a>(schemas: impl IntoIterator<Item = &'a Schema>) -> Vec<NamedIndex> {
    let mut schemas: Vec<&Schema> = schemas.into_iter().collect();
    schemas.sort_by(|a, b| a.table.cmp(&b.table));
    // A name a table has is taken too (SQLite compares names without case).
    let tables: HashSet<String> = schemas
        .iter()
        .map(|s| s.table.to_ascii_lowercase())
        .collect();
    let mut out: Vec<NamedIndex> = Vec::new();
    for schema in schemas {
        let singles = schema
            .columns
            .iter()
            .filter(|c| c.index && !c.primary_key)
            .map(|c| vec![c.name.clone()]);
        for columns in singles.chain(schema.index.iter().cloned()) {
            let name = base_name(&schema.table, &columns);
            let key = std::iter::once(schema.table.as_str())
                .chain(columns.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join("\0");
            let stem = name.strip_suffix("_idx").unwrap_or(&name);
            let stem = &stem[..stem.len().min(50)];
            let checked = format!("{stem}_{:08x}_idx", crc32c::crc32c(key.as_bytes()));
            out.push(NamedIndex {
                name,
                checked,
                table: schema.table.clone(),
                columns,
            });
        }
    }
    let shared: Vec<bool> = out
        .iter()
        .map(|a| {
            out.iter()
                .filter(|b| b.name.eq_ignore_ascii_case(&a.name))
                .count()
                > 1
                || tables.contains(&a.name.to_ascii_lowercase())
        })
        .collect();
    for (ix, shared) in out.iter_mut().zip(shared) {
        if shared {
            ix.name.clone_from(&ix.checked);
        }
    }
    out
}

fn create_indexes(out: &mut String, indexes: &[NamedIndex]) -> Result<()> {
    for ix in indexes {
        writeln!(
            out,
            "CREATE INDEX {} ON {} ({});",
            ident(&ix.name),
            ident(&ix.table),
            column_list(&ix.columns)
        )
        .map_err(fmt_error)?;
    }
    Ok(())
}

fn insert_rows(w: &mut Out<'_>, schema: &Schema, rows: &[Vec<Value>]) -> Result<()> {
    let head = format!(
        "INSERT INTO {} ({}) VALUES\n",
        ident(&schema.table),
        column_list(&column_names(schema))
    );
    for batch in rows.chunks(INSERT_BATCH) {
        w.buf.push_str(&head);
        for (i, row) in batch.iter().enumerate() {
            w.buf.push('(');
            for (j, (v, c)) in row.iter().zip(&schema.columns).enumerate() {
                if j > 0 {
                    w.buf.push_str(", ");
                }
                if matches!(v, Value::Float(f) if f.is_nan()) && !c.nullable {
                    return Err(nan_error(schema, &c.name, row));
                }
                let lit = literal(v, Dialect::Sqlite, schema, &c.name, Some(row))?;
                w.buf.push_str(&lit);
            }
            w.buf
                .push_str(if i + 1 == batch.len() { ");\n" } else { "),\n" });
        }
        w.flush()?;
    }
    Ok(())
}

/// One value in PostgreSQL's `COPY` text format: `\N` for null; backslash, newline,
/// carriage return and tab escaped.
fn copy_value(
    out: &mut String,
    v: &Value,
    schema: &Schema,
    col: &str,
    row: &[Value],
) -> Result<()> {
    match v {
        Value::Null => out.push_str("\\N"),
        Value::Bool(b) => out.push(if *b { 't' } else { 'f' }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&pg_float(*f)),
        Value::Text(t) => {
            for ch in t.chars() {
                match ch {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '\0' => return Err(nul_error(schema, col, Some(row))),
                    c => out.push(c),
                }
            }
        }
    }
    Ok(())
}

fn copy_rows(w: &mut Out<'_>, schema: &Schema, rows: &[Vec<Value>]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(
        w.buf,
        "COPY {} ({}) FROM stdin;",
        ident(&schema.table),
        column_list(&column_names(schema))
    )
    .map_err(fmt_error)?;
    for (n, row) in rows.iter().enumerate() {
        for (j, (v, c)) in row.iter().zip(&schema.columns).enumerate() {
            if j > 0 {
                w.buf.push('\t');
            }
            copy_value(&mut w.buf, v, schema, &c.name, row)?;
        }
        w.buf.push('\n');
        if n % INSERT_BATCH == INSERT_BATCH - 1 {
            w.flush()?;
        }
    }
    w.buf.push_str("\\.\n");
    Ok(())
}

/// The auto-increment counter: the last key handed out, as `sqlite3 .dump` and `pg_dump`
/// write it (nothing when no key was handed out yet); the largest key when a row holds it
/// (`holds_largest`), so that the loaded counter is exhausted too.
fn next_key(
    out: &mut String,
    schema: &Schema,
    next: i64,
    holds_largest: bool,
    dialect: Dialect,
) -> fmt::Result {
    if !schema.auto_increment() || next <= 1 {
        return Ok(());
    }
    let last = if holds_largest { i64::MAX } else { next - 1 };
    let table = string_literal(&schema.table);
    match dialect {
        Dialect::Sqlite => writeln!(
            out,
            "DELETE FROM sqlite_sequence WHERE name = {table};\n\
             INSERT INTO sqlite_sequence (name, seq) VALUES ({table}, {last});"
        ),
        Dialect::Postgres => writeln!(
            out,
            "SELECT pg_catalog.setval(pg_get_serial_sequence({}, {}), {last}, true);",
            string_literal(&ident(&schema.table)),
            string_literal(&schema.primary_key_column().name)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_narrower_than_sql_carry_a_range() {
        assert_eq!(
            sql_type(ColumnType::I64, Dialect::Sqlite),
            ("INTEGER", None)
        );
        assert_eq!(
            sql_type(ColumnType::U8, Dialect::Sqlite),
            ("INTEGER", Some((0, 255)))
        );
        assert_eq!(sql_type(ColumnType::I16, Dialect::Postgres), ("INT2", None));
        assert_eq!(
            sql_type(ColumnType::U64, Dialect::Postgres),
            ("INT8", Some((0, i64::MAX)))
        );
    }

    #[test]
    fn copy_escapes_what_postgres_reads_specially() {
        let schema = Schema::new(
            "t",
            vec![
                Column::new("id", ColumnType::I64).primary_key(),
                Column::new("s", ColumnType::Text),
            ],
        )
        .unwrap();
        let mut out = String::new();
        let row = [Value::Int(1), Value::from("a\\b\tc\nd\re")];
        copy_value(&mut out, &row[1], &schema, "s", &row).unwrap();
        assert_eq!(out, "a\\\\b\\tc\\nd\\re");
        assert!(copy_value(&mut out, &Value::from("\0"), &schema, "s", &row).is_err());
    }
}
