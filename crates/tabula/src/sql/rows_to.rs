//! Where a statement's result rows go: into the result (no [`Each`]), or to a callback,
//! owned or borrowed.

use crate::error::Result;
use crate::value::{Value, ValueRef};

/// A callback taking a query's result rows one at a time; `false` stops the query.
pub(crate) type EachValues<'f> = &'f mut dyn FnMut(&[Value]) -> Result<bool>;

/// [`EachValues`] taking each row borrowed (see `Statement::each_ref`).
pub(crate) type EachRef<'f> = &'f mut dyn FnMut(&[ValueRef<'_>]) -> Result<bool>;

/// Where a query streams its result rows: a callback taking them owned or borrowed. A
/// borrowing one can be lent values the query did not make (a stored row's columns).
pub(crate) enum Each<'f> {
    Values(EachValues<'f>),
    Refs(EachRef<'f>),
}

impl Each<'_> {
    /// Hands `row`, values a query made, over; `false` once no more are wanted.
    pub(crate) fn give(&mut self, row: &[Value]) -> Result<bool> {
        match self {
            Each::Values(f) => f(row),
            Each::Refs(f) => lend(&mut **f, row),
        }
    }

    /// The same callback, for a call that may not use it up.
    pub(crate) fn reborrow(&mut self) -> Each<'_> {
        match self {
            Each::Values(f) => Each::Values(&mut **f),
            Each::Refs(f) => Each::Refs(&mut **f),
        }
    }
}

/// The longest row [`hand_refs`] borrows on the stack rather than in a vector.
const REFS_ON_STACK: usize = 16;

/// Hands a row to `each` borrowed: `fill` writes its `len` values' references into the
/// slice it is given, on the stack when the row is short.
pub(crate) fn hand_refs<'v>(
    each: EachRef<'_>,
    len: usize,
    fill: impl FnOnce(&mut [ValueRef<'v>]),
) -> Result<bool> {
    if len <= REFS_ON_STACK {
        let mut refs = [ValueRef::Null; REFS_ON_STACK];
        let refs = &mut refs[..len];
        fill(refs);
        each(refs)
    } else {
        let mut refs = vec![ValueRef::Null; len];
        fill(&mut refs);
        each(&refs)
    }
}

/// Hands `row`, values a query made, to `each` borrowed.
pub(crate) fn lend(each: EachRef<'_>, row: &[Value]) -> Result<bool> {
    hand_refs(each, row.len(), |refs| {
        for (slot, v) in refs.iter_mut().zip(row) {
            *slot = v.as_ref();
        }
    })
}
