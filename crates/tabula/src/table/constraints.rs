//! The checks a change must pass before it touches the table: key assignment, primary-key
//! and unique collisions, a replacement that keeps its key. (Check conditions: [`checks`].)
//!
//! [`checks`]: super::checks

use crate::error::{Error, Result};
use crate::index::HashIndex;
use crate::record::Record;
use crate::schema::column_list;
use crate::table::write::Changed;
use crate::table::TableData;
use crate::value::{Value, ValueRef};

impl<R: Record> TableData<R> {
    pub(super) fn unique_violation(&self, col: usize, v: ValueRef<'_>) -> Error {
        Error::UniqueViolation {
            table: self.table_name().to_owned(),
            column: self.schema.columns[col].name.clone(),
            value: v.to_owned(),
        }
    }

    /// The violation of unique index `u` by `row`: a composite one names its columns as
    /// `(student, course)` and the row's values as the text `(7, 3)`.
    pub(super) fn unique_violation_of(&self, u: &HashIndex, row: &R) -> Error {
        let cols: Vec<usize> = u.columns().collect();
        if let [col] = cols[..] {
            return self.unique_violation(col, row.col(col));
        }
        let names: Vec<String> = cols
            .iter()
            .map(|&c| self.schema.columns[c].name.clone())
            .collect();
        let values: Vec<String> = cols.iter().map(|&c| row.col(c).to_string()).collect();
        Error::UniqueViolation {
            table: self.table_name().to_owned(),
            column: column_list(&names),
            value: Value::Text(format!("({})", values.join(", "))),
        }
    }

    /// Assigns an auto-increment key when the row's integer key is 0.
    pub(super) fn assign_key(&mut self, row: &mut R) -> Result<()> {
        let pk = self.schema.primary_key();
        if let ValueRef::Int(0) = row.col(pk) {
            let ty = self.schema.columns[pk].ty;
            let (_, max) = ty.int_range().unwrap_or((0, i64::MAX));
            // The counter stops at `i64::MAX` (it cannot count past it), so it cannot tell
            // whether that key was handed out: it never hands it out, so that no key is
            // handed out twice (an explicit insert may still use it).
            if self.next_key > max.min(i64::MAX - 1) || self.next_key < 1 {
                // At the top, the key the counter stopped at may be in use (inserted).
                let last = if self.next_key == i64::MAX
                    && self.find_key(ValueRef::Int(i64::MAX)).is_some()
                {
                    i64::MAX
                } else {
                    self.next_key - 1
                };
                return Err(Error::KeyExhausted {
                    table: self.table_name().to_owned(),
                    column: self.schema.columns[pk].name.clone(),
                    last,
                });
            }
            row.set_key(pk, self.next_key);
        }
        Ok(())
    }

    /// Checks the unique keys whose value `new` changes from `old` (the row at `slot`): an
    /// unchanged key already owns its entry, so only changed ones can collide (and only
    /// those over the columns `changed` says may differ are compared).
    pub(super) fn check_changed_uniques(
        &self,
        old: &R,
        new: &R,
        slot: u32,
        changed: Changed<'_>,
    ) -> Result<()> {
        for u in &self.uniques {
            if !changed.any(u.columns()) || !u.differs(old, new) {
                continue;
            }
            let Some(h) = u.hash_row(&self.hasher, new) else {
                continue;
            };
            if u.find_row(h, &self.rows, new).is_some_and(|s| s != slot) {
                return Err(self.unique_violation_of(u, new));
            }
        }
        Ok(())
    }

    /// The slots of the stored rows a new row of `values` (in column order, of the columns'
    /// types) collides with on a unique key: its primary key (unless it is an automatic key
    /// still to be given), a unique column or a composite unique constraint. Each slot once,
    /// in that order. What `INSERT OR REPLACE` deletes before inserting the row.
    pub(crate) fn colliding_slots(&self, values: &[Value]) -> Vec<u32> {
        let pk = self.schema.primary_key();
        let mut slots = Vec::new();
        let automatic =
            self.schema.auto_increment() && matches!(values.get(pk), Some(Value::Int(0)));
        if let (false, Some(key)) = (automatic, values.get(pk)) {
            slots.extend(self.find_key(key.as_ref()));
        }
        for u in &self.uniques {
            let key: Option<Vec<Value>> = u.columns().map(|c| values.get(c).cloned()).collect();
            let found = match key.as_deref() {
                Some([one]) => u.find(&self.hasher, &self.rows, one.as_ref()),
                Some(several) => self.find_composite_values(u, several),
                None => None,
            };
            if let Some(s) = found.filter(|s| !slots.contains(s)) {
                slots.push(s);
            }
        }
        slots
    }

    /// Checks that `new` may replace the row at `slot`: false if there is none.
    pub(super) fn check_replace(&self, slot: u32, new: &R, changed: Changed<'_>) -> Result<bool> {
        match changed {
            // The other columns are the stored row's, which passed this check; a record
            // whose check is that of each value alone needs only the changed ones checked.
            Changed::Only(cols) if R::CHECKED_BY_RESOLVE => {
                for &c in cols {
                    self.schema.check(c, new.col(c))?;
                }
            }
            _ => new.check_row(&self.schema)?,
        }
        self.check_rules(new)?;
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
        self.check_changed_uniques(old, new, slot, changed)?;
        Ok(true)
    }
}
