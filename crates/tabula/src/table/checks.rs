//! A table's checks (`#[column(check = "...")]`, `#[table(check = "...")]`), compiled once
//! when the table is made, and tested on every row written.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::expr::Condition;
use crate::record::Record;
use crate::schema::Schema;
use crate::table::TableData;
use crate::value::{Value, ValueRef};

/// One check: its condition as written, and compiled.
#[derive(Debug)]
pub(crate) struct CheckRule {
    pub(crate) text: String,
    condition: Condition,
}

impl CheckRule {
    /// Whether the row, read column by column, makes the check false (null passes).
    pub(crate) fn refuses<'v>(&self, get: &dyn Fn(usize) -> ValueRef<'v>) -> bool {
        self.condition.is_false_with(get)
    }
}

/// Compiles every check of `schema`. An expression that does not parse or does not fit the
/// table is `Error::InvalidExpression`, its reason naming the check's table and column and
/// then what is wrong (where the parser stopped, a column the table lacks, a value its
/// column cannot hold): a check naming a column that is not there (one renamed since) is a
/// fault of the check, which a bare `UnknownColumn` would not point to.
pub(crate) fn compile(schema: &Schema) -> Result<Arc<[CheckRule]>> {
    schema
        .all_checks()
        .map(|(col, text)| {
            let place = match col {
                Some(c) => format!("in the check on {}.{c}", schema.table),
                None => format!("in a check on table {}", schema.table),
            };
            let condition = Condition::parse(schema, text)
                .map(Condition::for_check)
                .map_err(|e| match e {
                    Error::InvalidExpression { expression, reason } => Error::InvalidExpression {
                        expression,
                        reason: format!("{place}: {reason}"),
                    },
                    other => Error::InvalidExpression {
                        expression: text.to_owned(),
                        reason: format!("{place}: {other}"),
                    },
                })?;
            Ok(CheckRule {
                text: text.to_owned(),
                condition,
            })
        })
        .collect()
}

impl<R: Record> TableData<R> {
    /// Fails with `Error::Check` if `row` makes one of the table's checks false; the error
    /// names the row's key, `Value::Null` while an auto-increment key is not assigned. A
    /// check sees the key an auto-increment insert is about to get, as a replay of the row
    /// from the log would.
    #[inline]
    pub(super) fn check_rules(&self, row: &R) -> Result<()> {
        if self.checks.is_empty() {
            return Ok(());
        }
        match self.refused_check(row) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The `Error::Check` of the first check `row` makes false (for tools that report
    /// rather than refuse, too), naming the row's key and the values the check read.
    pub(crate) fn refused_check(&self, row: &R) -> Option<Error> {
        let pk = self.schema.primary_key();
        let pending = match row.col(pk) {
            ValueRef::Int(0) if self.schema.auto_increment() => Some(self.next_key),
            _ => None,
        };
        let get = |i: usize| match pending {
            Some(k) if i == pk => ValueRef::Int(k),
            _ => row.col(i),
        };
        self.checks.iter().find(|c| c.refuses(&get)).map(|c| {
            c.condition
                .check_error(&self.schema, &c.text, self.shown_key(row), &get)
        })
    }

    /// A key shown in a check's error: `Value::Null` for an auto-increment key not yet
    /// assigned.
    fn shown_key(&self, row: &R) -> Value {
        let pk = self.schema.primary_key();
        match row.col(pk) {
            ValueRef::Int(0) if self.schema.auto_increment() => Value::Null,
            k => k.to_owned(),
        }
    }
}
