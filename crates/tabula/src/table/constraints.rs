//! The checks a change must pass before it touches the table: key assignment, primary-key
//! and unique collisions, a replacement that keeps its key.

use crate::error::{Error, Result};
use crate::record::Record;
use crate::table::TableData;
use crate::value::ValueRef;

impl<R: Record> TableData<R> {
    pub(super) fn unique_violation(&self, col: usize, v: ValueRef<'_>) -> Error {
        Error::UniqueViolation {
            table: self.table_name().to_owned(),
            column: self.schema.columns[col].name.clone(),
            value: v.to_owned(),
        }
    }

    /// Assigns an auto-increment key when the row's integer key is 0.
    pub(super) fn assign_key(&mut self, row: &mut R) -> Result<()> {
        let pk = self.schema.primary_key();
        if let ValueRef::Int(0) = row.col(pk) {
            let ty = self.schema.columns[pk].ty;
            let (_, max) = ty.int_range().unwrap_or((0, i64::MAX));
            if self.next_key > max || self.next_key < 1 {
                return Err(Error::KeyExhausted {
                    table: self.table_name().to_owned(),
                    column: self.schema.columns[pk].name.clone(),
                    last: self.next_key - 1,
                });
            }
            row.set_key(pk, self.next_key);
        }
        Ok(())
    }

    /// Checks the unique columns of `row` against every row but `except`.
    /// Checks the unique columns whose value `new` changes from `old` (the row at `slot`):
    /// an unchanged value already owns its entry, so only changed ones can collide.
    pub(super) fn check_changed_uniques(&self, old: &R, new: &R, slot: u32) -> Result<()> {
        for u in &self.uniques {
            let v = new.col(u.col);
            if old.col(u.col) != v {
                if let Some(s) = u.find(&self.hasher, &self.rows, v) {
                    if s != slot {
                        return Err(self.unique_violation(u.col, v));
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks that `new` may replace the row at `slot`: false if there is none.
    pub(super) fn check_replace(&self, slot: u32, new: &R) -> Result<bool> {
        new.check_row(&self.schema)?;
        let pk = self.schema.primary_key();
        let Some(old) = self.row(slot) else {
            return Ok(false);
        };
        if old.col(pk) != new.col(pk) {
            return Err(Error::PrimaryKeyChanged {
                table: self.table_name().to_owned(),
                column: self.schema.columns[pk].name.clone(),
                old: old.col(pk).to_owned(),
                new: new.col(pk).to_owned(),
            });
        }
        self.check_changed_uniques(old, new, slot)?;
        Ok(true)
    }
}
