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

mod aggregate;
mod column;
mod copy;
mod db;
mod error;
mod expr;
mod handle;
mod index;
mod join;
mod lookup;
mod posting;
mod query;
mod record;
mod registry;
mod schema;
mod select;
mod storage;
mod table;
mod txn;
mod value;

pub use aggregate::{Agg, Group};
pub use db::{ArchivedSegment, Builder, Database, Stats, TableStats};
pub use error::{Error, Result};
pub use expr::Condition;
pub use handle::{DynTable, ReadTable, TableHandle, TxDynTable, TxTable};
pub use join::{Join, JoinPlan, JoinStrategy};
pub use lookup::{IntoLookup, Lookup};
pub use query::{Access, OrderStrategy, Plan};
pub use record::{Row, Table};
pub use schema::{check_name, Column, ColumnType, ForeignKey, OnDelete, Schema, MAX_NAME_LEN};
pub use select::{GroupBy, Select, SqlRow};
pub use storage::verify::{log_records, verify, LogRecord, Problem};
pub use storage::wal::{DroppedRecord, Durability, Recovery};
pub use tabula_derive::Table;
pub use txn::{ReadTransaction, Transaction};
pub use value::{Value, ValueRef};

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

    /// Builds the schema the derive described; the derive has checked it at compile time.
    #[expect(
        clippy::panic,
        reason = "the derive validated this schema at compile time"
    )]
    pub fn build_schema(table: &str, columns: Vec<Column>) -> Schema {
        match Schema::new(table, columns) {
            Ok(s) => s,
            Err(e) => panic!("tabula: #[derive(Table)] produced an invalid schema: {e}"),
        }
    }
}
