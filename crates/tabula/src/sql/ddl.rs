//! `CREATE TABLE` as a tabula [`Schema`]: column types, `PRIMARY KEY` (an integer key
//! auto-increments, as in the library), `UNIQUE`, `NOT NULL`, `DEFAULT`, `CHECK`,
//! `REFERENCES t [ON DELETE CASCADE | SET NULL | RESTRICT]`, and table-level
//! `PRIMARY KEY (c)`, `UNIQUE (a, b)`, `CHECK (…)` and `FOREIGN KEY (c) REFERENCES t`.

use sqlparser::ast::{
    ColumnDef, ColumnOption, CreateTable, DataType, Expr, ReferentialAction, Spanned,
    TableConstraint,
};

use crate::error::{Error, Result};
use crate::schema::{Column, ColumnType, OnDelete, Schema};
use crate::sql::scalar::{self, sql_error, Params, Scope};
use crate::value::Value;

fn unsupported(feature: impl Into<String>) -> Error {
    Error::Unsupported {
        feature: feature.into(),
    }
}

/// A column type by its SQL name: SQLite's and PostgreSQL's usual names.
fn column_type(t: &DataType) -> Result<ColumnType> {
    let name = t.to_string().to_ascii_uppercase();
    let base = name.split('(').next().unwrap_or("").trim();
    Ok(match base {
        "INTEGER" | "INT" | "BIGINT" | "INT8" => ColumnType::I64,
        "SMALLINT" | "INT2" => ColumnType::I16,
        "INT4" | "MEDIUMINT" => ColumnType::I32,
        "TINYINT" => ColumnType::I8,
        "REAL" | "DOUBLE" | "DOUBLE PRECISION" | "FLOAT" | "FLOAT8" | "NUMERIC" | "DECIMAL" => {
            ColumnType::F64
        }
        "FLOAT4" => ColumnType::F32,
        "TEXT" | "VARCHAR" | "CHAR" | "CHARACTER" | "CHARACTER VARYING" | "STRING" | "CLOB" => {
            ColumnType::Text
        }
        "BOOLEAN" | "BOOL" => ColumnType::Bool,
        "JSON" | "JSONB" => ColumnType::Json,
        _ => return Err(unsupported(format!("the column type {name}"))),
    })
}

fn on_delete(a: Option<ReferentialAction>) -> Result<OnDelete> {
    Ok(match a {
        None | Some(ReferentialAction::Restrict | ReferentialAction::NoAction) => {
            OnDelete::Restrict
        }
        Some(ReferentialAction::Cascade) => OnDelete::Cascade,
        Some(ReferentialAction::SetNull) => OnDelete::SetNull,
        Some(ReferentialAction::SetDefault) => return Err(unsupported("ON DELETE SET DEFAULT")),
    })
}

/// A constant (a default): no columns in scope.
struct NoColumns;
impl Scope for NoColumns {
    fn resolve(&self, _: Option<&str>, name: &str) -> std::result::Result<usize, String> {
        Err(format!("a default cannot name a column ({name})"))
    }
}

fn constant(e: &Expr) -> Result<Value> {
    scalar::compile(e, &NoColumns, &mut Params::default())?.eval(&[], &[])
}

/// The text of a check as written (sqlparser's rendering of it).
fn check_text(e: &Expr) -> String {
    e.to_string()
}

/// One column of `CREATE TABLE` or `ALTER TABLE … ADD COLUMN`, nullable unless it says
/// `NOT NULL` or `PRIMARY KEY`.
pub(crate) fn column_of(def: &ColumnDef) -> Result<Column> {
    let mut col = Column::new(def.name.value.clone(), column_type(&def.data_type)?);
    col.nullable = true;
    for opt in &def.options {
        match &opt.option {
            ColumnOption::Null => col.nullable = true,
            ColumnOption::NotNull => col.nullable = false,
            ColumnOption::Default(e) => col.default = Some(constant(e)?),
            ColumnOption::PrimaryKey(_) => {
                col.primary_key = true;
                col.nullable = false;
            }
            ColumnOption::Unique(_) => col.unique = true,
            ColumnOption::ForeignKey(fk) => {
                let target = fk
                    .foreign_table
                    .0
                    .last()
                    .map(|p| p.to_string())
                    .unwrap_or_default();
                col.references = Some(crate::schema::ForeignKey {
                    table: target,
                    on_delete: on_delete(fk.on_delete)?,
                });
            }
            ColumnOption::Check(ch) => col.check = Some(check_text(&ch.expr)),
            other => return Err(unsupported(format!("the column option {other}"))),
        }
    }
    Ok(col)
}

/// Each `REFERENCES t (col)` of `c` that names a column: the target table and the column,
/// which must be the target's primary key (what tabula's foreign keys reference).
pub(crate) fn referred_columns(c: &CreateTable) -> Vec<(String, sqlparser::ast::Ident)> {
    let mut out = Vec::new();
    let mut add = |table: &sqlparser::ast::ObjectName, cols: &[sqlparser::ast::Ident]| {
        let t = table
            .0
            .last()
            .map(|p| p.to_string().trim_matches('"').to_owned())
            .unwrap_or_default();
        out.extend(cols.iter().map(|col| (t.clone(), col.clone())));
    };
    for def in &c.columns {
        for opt in &def.options {
            if let ColumnOption::ForeignKey(fk) = &opt.option {
                add(&fk.foreign_table, &fk.referred_columns);
            }
        }
    }
    for tc in &c.constraints {
        if let TableConstraint::ForeignKey(fk) = tc {
            add(&fk.foreign_table, &fk.referred_columns);
        }
    }
    out
}

/// The schema `CREATE TABLE` describes.
pub(crate) fn schema_of(c: &CreateTable) -> Result<Schema> {
    let table = c
        .name
        .0
        .last()
        .map(|p| p.to_string().trim_matches('"').to_owned())
        .unwrap_or_default();
    let mut columns = Vec::new();
    let mut pk_named: Option<String> = None;
    let mut uniques = Vec::new();
    let mut checks = Vec::new();
    for def in &c.columns {
        columns.push(column_of(def)?);
    }
    for tc in &c.constraints {
        match tc {
            TableConstraint::PrimaryKey(pk) => match pk.columns.as_slice() {
                [one] => pk_named = Some(one.column.expr.to_string()),
                _ => return Err(unsupported("a primary key of several columns")),
            },
            TableConstraint::Unique(u) => {
                uniques.push(
                    u.columns
                        .iter()
                        .map(|c| c.column.expr.to_string())
                        .collect::<Vec<_>>(),
                );
            }
            TableConstraint::Check(ch) => checks.push(check_text(&ch.expr)),
            TableConstraint::ForeignKey(fk) => {
                let [col] = fk.columns.as_slice() else {
                    return Err(unsupported("a foreign key of several columns"));
                };
                let target = fk
                    .foreign_table
                    .0
                    .last()
                    .map(|p| p.to_string())
                    .unwrap_or_default();
                let Some(c) = columns.iter_mut().find(|c| c.name == col.value) else {
                    return Err(sql_error(
                        tc.span(),
                        format!("FOREIGN KEY names no column {}", col.value),
                    ));
                };
                c.references = Some(crate::schema::ForeignKey {
                    table: target,
                    on_delete: on_delete(fk.on_delete)?,
                });
            }
            other => return Err(unsupported(format!("the table constraint {other}"))),
        }
    }
    if pk_named.is_none() && !columns.iter().any(|c| c.primary_key) {
        return Err(unsupported(
            "a table without a PRIMARY KEY (every tabula table has one; add `id INTEGER \
             PRIMARY KEY` for keys that number themselves)",
        ));
    }
    if let Some(name) = pk_named {
        let Some(c) = columns.iter_mut().find(|c| c.name == name) else {
            return Err(sql_error(
                c.name.span(),
                format!("PRIMARY KEY names no column {name}"),
            ));
        };
        c.primary_key = true;
        c.nullable = false;
    }
    let mut schema = Schema::new(table, columns)?;
    schema.unique = uniques;
    schema.checks = checks;
    schema.finish()?;
    Ok(schema)
}
