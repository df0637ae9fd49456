//! tabula: an embedded, in-memory table database for Rust.
//!
//! Describe a table as a plain struct with `#[derive(Table)]`, then insert, select, update,
//! delete and count rows at memory speed, with primary keys (auto-increment), unique and
//! secondary indexes, NOT NULL and defaults checked on every write, and atomic transactions
//! across tables.
//!
//! ```
//! use tabula::{Database, Table};
//!
//! #[derive(Table, Debug, Clone, PartialEq)]
//! #[table(name = "students")]
//! pub struct Student {
//!     #[column(primary_key)]
//!     pub id: u64,
//!     pub name: String,
//!     #[column(unique)]
//!     pub email: String,
//!     #[column(index)]
//!     pub year: u32,
//!     #[column(default = 0.0)]
//!     pub gpa: f64,
//!     pub advisor: Option<String>,
//! }
//!
//! let db = Database::in_memory();
//! let students = db.table::<Student>()?;
//! let id = students.insert(Student {
//!     id: 0,
//!     name: "Alice".into(),
//!     email: "alice@uni.edu".into(),
//!     year: 2024,
//!     gpa: 3.8,
//!     advisor: None,
//! })?;
//! assert_eq!(id, 1);
//!
//! let top = students.select().filter(|s| s.gpa > 3.5).order_by("-gpa").limit(3).all()?;
//! assert_eq!(top[0].name, "Alice");
//!
//! let err = students
//!     .insert(Student { id: 0, name: "A2".into(), email: "alice@uni.edu".into(), year: 2024, gpa: 1.0, advisor: None })
//!     .unwrap_err();
//! assert_eq!(err.to_string(), r#"unique constraint students.email violated by "alice@uni.edu""#);
//! # Ok::<(), tabula::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

// The modules by layer, lowest first. A module uses modules of its own layer and of the
// layers before it, never of a later one, and no modules use each other in a circle (the
// `layers` test in `tests/it` checks both); see docs/ARCHITECTURE.md.

// Values, schemas, and what a row is; the slab that rows live in.
mod column;
mod error;
mod expr;
mod json_text;
mod lookup;
mod path_text;
mod record;
mod schema;
mod slab;
mod sql_name;
mod sql_words;
mod stack;
mod value;

// Files: the only module that touches the file system. It knows schemas and values, not
// tables.
mod storage;

// One table in memory, its indexes, and queries over it: no I/O, no locking.
mod aggregate;
mod copy;
mod index;
mod query;
mod table;

// The shared state: loading, write transactions and their commits, checkpoints, migrations.
mod engine;

// What users hold: queries, joins and handles over the engine, and transactions.
mod handle;
mod join;
mod select;
mod sql;
mod txn;

// The facade; nothing inside the library uses it.
mod db;

// Entry points for fuzzing the readers of untrusted bytes (`fuzz/`, and the stable smoke
// test), over the facade and storage: only with the `testing` feature.
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub mod fuzz;

pub use aggregate::{Agg, Group};
pub use db::{Builder, Database};
pub use engine::migration::{MigrationPlan, SchemaChange};
pub use engine::{ArchivedSegment, Stats, TableStats};
pub use error::{Error, Result};
pub use expr::{Condition, NESTING_LIMIT};
pub use handle::{DynTable, ReadTable, TableHandle, TxDynTable, TxTable};
pub use join::{Join, JoinPlan, JoinStrategy};
pub use lookup::{IntoLookup, Lookup};
pub use query::{Access, OrderStrategy, Plan};
pub use record::{Row, Table};
pub use schema::{
    check_name, Column, ColumnType, Evolution, ForeignKey, OnDelete, Schema, MAX_NAME_LEN,
};
pub use select::{GroupBy, Select, SqlRow};
pub use sql::{distinct_column_names, Dialect, SqlResult, Statement};
pub use storage::export::check_output_path;
pub use storage::repair::{repair, DroppedRow, RepairOptions, RepairReport, TableRepair};
pub use storage::verify::{verify, Problem};
pub use storage::wal::{log_records, DroppedRecord, Durability, LogRecord, Recovery};
pub use tabula_derive::Table;
pub use txn::{ReadTransaction, Transaction};
pub use value::{Value, ValueRef};

// The README's and the guide's examples are compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeExamples;

#[cfg(doctest)]
#[doc = include_str!("../../../docs/GUIDE.md")]
struct GuideExamples;

#[cfg(doctest)]
#[doc = include_str!("../../../docs/SCHEMA.md")]
struct SchemaExamples;

#[cfg(doctest)]
#[doc = include_str!("../../../docs/SQL.md")]
struct SqlExamples;

/// Tools for testing what a database does when its disk fails or loses power: the
/// in-memory [`FaultyFs`](testing::FaultyFs), given to
/// [`Builder::file_system`](crate::Builder::file_system). Only with the `testing` feature;
/// release builds do not contain it.
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    pub use crate::fuzz;
    pub use crate::storage::faulty::{FaultyFs, Parked};
}

/// What generated code needs; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::column::{
        check_field, field, json_from_value, json_opt_from_value, json_opt_to_value, json_to_value,
        ColumnValue,
    };
    pub use crate::error::{Error, Result};
    pub use crate::schema::{Column, ColumnType, ForeignKey, OnDelete, Schema};
    pub use crate::value::{Value, ValueRef};
    pub use std::sync::OnceLock;

    /// What `#[table(...)]` says beside the columns.
    #[derive(Debug)]
    pub struct TableAttrs<'a> {
        /// `unique(a, b)`, each.
        pub unique: &'a [&'a [&'a str]],
        /// `index(a, b)`, each.
        pub index: &'a [&'a [&'a str]],
        /// `check = "..."`, each.
        pub checks: &'a [&'a str],
        /// `(old, new)` of each `#[column(renamed_from = "old")]`.
        pub renamed: &'a [(&'a str, &'a str)],
        /// `dropped("old")`, each.
        pub dropped: &'a [&'a str],
    }

    /// Builds the schema the derive described; the derive has checked it at compile time
    /// (check conditions are compiled, and reported, when the table is first used).
    #[expect(
        clippy::panic,
        reason = "the derive validated this schema at compile time"
    )]
    pub fn build_schema(table: &str, columns: Vec<Column>, attrs: TableAttrs<'_>) -> Schema {
        let owned = |l: &[&[&str]]| -> Vec<Vec<String>> {
            l.iter()
                .map(|c| c.iter().map(|s| (*s).to_owned()).collect())
                .collect()
        };
        let mut s = match Schema::new(table, columns) {
            Ok(s) => s,
            Err(e) => panic!("tabula: #[derive(Table)] produced an invalid schema: {e}"),
        };
        s.unique = owned(attrs.unique);
        s.index = owned(attrs.index);
        s.checks = attrs.checks.iter().map(|c| (*c).to_owned()).collect();
        s.evolution = crate::schema::Evolution {
            renamed: attrs
                .renamed
                .iter()
                .map(|(o, n)| ((*o).to_owned(), (*n).to_owned()))
                .collect(),
            dropped: attrs.dropped.iter().map(|d| (*d).to_owned()).collect(),
        };
        if let Err(e) = s.finish() {
            panic!("tabula: #[derive(Table)] produced an invalid schema: {e}");
        }
        s
    }
}
