//! The write statements of typed tables, run inside a transaction: a plain handle runs each
//! in a transaction of its own, a transaction's handle in its transaction. A statement that
//! fails changes nothing (see [`statement`]).

use crate::column::field;
use crate::copy::copy_tagged;
use crate::engine::any_table::AnyTable;
use crate::engine::source::{statement, TxCore};
use crate::engine::state::detached;
use crate::error::{Error, Result};
use crate::lookup::Lookup;
use crate::record::Table;
use crate::table::TableData;
use crate::value::Value;

fn typed_mut<T: Table>(t: &mut dyn AnyTable) -> Result<&mut TableData<T>> {
    t.as_any_mut()
        .downcast_mut::<TableData<T>>()
        .ok_or_else(detached::<T>)
}

/// A key as the type of `T`'s primary-key field.
fn to_key<T: Table>(v: Value) -> Result<T::Key> {
    let s = T::schema();
    field::<T::Key>(&s.table, &s.primary_key_column().name, v)
}

pub(crate) fn insert<T: Table>(tx: &dyn TxCore, idx: usize, row: T) -> Result<T::Key> {
    let key = statement(tx, idx, |t| typed_mut::<T>(t)?.insert(row))?;
    to_key::<T>(key)
}

pub(crate) fn insert_many<T: Table>(
    tx: &dyn TxCore,
    idx: usize,
    rows: impl IntoIterator<Item = T>,
) -> Result<Vec<T::Key>> {
    statement(tx, idx, |t| {
        let t = typed_mut::<T>(t)?;
        let rows = rows.into_iter();
        t.reserve(rows.size_hint().0);
        rows.map(|r| t.insert(r).and_then(to_key::<T>))
            .collect::<Result<Vec<_>>>()
    })
}

pub(crate) fn upsert<T: Table>(tx: &dyn TxCore, idx: usize, row: T) -> Result<T::Key> {
    let key = statement(tx, idx, |t| typed_mut::<T>(t)?.upsert(row))?;
    to_key::<T>(key)
}

pub(crate) fn update<T: Table>(
    tx: &dyn TxCore,
    idx: usize,
    pred: impl Fn(&T) -> bool,
    mut mutate: impl FnMut(&mut T),
) -> Result<usize> {
    // Matching rows are copied out first so that the closures run with the table free.
    // The slots first, then the copies into memory of the exact size: a growing `Vec` of
    // rows would be copied on each doubling, into fresh memory.
    let (slots, mut rows, changes) = {
        let st = tx.state(&T::schema().table)?;
        let t = st.typed::<T>(idx)?;
        let slots: Vec<u32> = t.iter().filter(|(_, r)| pred(r)).map(|(s, _)| s).collect();
        let mut rows: Vec<T> = Vec::with_capacity(slots.len());
        let found = slots.iter().filter_map(|&s| t.row(s).map(|r| ((), r)));
        copy_tagged(&t.schema, found, |(), r| rows.push(r));
        (slots, rows, t.pending_changes())
    };
    for row in &mut rows {
        mutate(row);
    }
    let n = rows.len();
    statement(tx, idx, |t| {
        let t = typed_mut::<T>(t)?;
        // A closure that wrote the table (inside a transaction, through another handle)
        // may have put other rows in the slots found: the copies must not land on them.
        if t.pending_changes() != changes {
            return Err(Error::Reentrant);
        }
        t.replace_many(&slots, rows)
    })?;
    Ok(n)
}

pub(crate) fn delete<T: Table>(
    tx: &dyn TxCore,
    idx: usize,
    pred: impl Fn(&T) -> bool,
) -> Result<usize> {
    let slots: Vec<u32> = {
        let st = tx.state(&T::schema().table)?;
        let t = st.typed::<T>(idx)?;
        t.iter().filter(|(_, r)| pred(r)).map(|(s, _)| s).collect()
    };
    statement(tx, idx, |t| {
        let t = typed_mut::<T>(t)?;
        Ok(t.remove_all(&slots))
    })
}

pub(crate) fn delete_key<T: Table>(tx: &dyn TxCore, idx: usize, key: Lookup<'_>) -> Result<bool> {
    let key = T::schema().coerce_key(key)?;
    statement(tx, idx, |t| {
        let t = typed_mut::<T>(t)?;
        Ok(t.find_key(key.as_ref()).is_some_and(|s| t.remove(s)))
    })
}
