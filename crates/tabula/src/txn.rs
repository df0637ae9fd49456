//! Transactions: one writer at a time holds the database's state; every statement is
//! journaled so that it (or the whole transaction) rolls back exactly.
//!
//! A transaction holds the write lock from its start to its end, so other threads never see
//! half of it. Closures the user passes in (filters, predicates, the transaction body) run
//! while that lock is held; a plain table handle used on the same thread would wait for a
//! lock its own thread holds, so handles detect this and answer `Error::InTransaction`.

use std::cell::{Ref, RefCell, RefMut};
use std::sync::RwLockWriteGuard;

use crate::error::{Error, Result};
use crate::registry::{AnyTable, State};
use crate::table::Mark;

thread_local! {
    /// Ids of the databases whose write lock this thread holds.
    static WRITING: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
    /// Ids of the databases whose read lock this thread holds (a plain-handle read in
    /// progress, with the user's closures running inside it).
    static READING: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Whether this thread holds the write lock of database `id`.
pub(crate) fn writing(id: u64) -> bool {
    WRITING.with(|w| w.borrow().contains(&id))
}

/// Whether this thread holds the read lock of database `id`.
pub(crate) fn reading(id: u64) -> bool {
    READING.with(|r| r.borrow().contains(&id))
}

/// Records, for as long as it lives, that this thread holds database `id`'s read lock.
#[derive(Debug)]
pub(crate) struct ReadingGuard(u64);

impl ReadingGuard {
    pub(crate) fn new(id: u64) -> Self {
        READING.with(|r| r.borrow_mut().push(id));
        ReadingGuard(id)
    }
}

impl Drop for ReadingGuard {
    fn drop(&mut self) {
        READING.with(|r| {
            let mut r = r.borrow_mut();
            if let Some(i) = r.iter().rposition(|&x| x == self.0) {
                r.remove(i);
            }
        });
    }
}

/// Records, for as long as it lives, that this thread holds database `id`'s write lock.
#[derive(Debug)]
pub(crate) struct WritingGuard(u64);

impl WritingGuard {
    pub(crate) fn new(id: u64) -> Self {
        WRITING.with(|w| w.borrow_mut().push(id));
        WritingGuard(id)
    }
}

impl Drop for WritingGuard {
    fn drop(&mut self) {
        WRITING.with(|w| {
            let mut w = w.borrow_mut();
            if let Some(i) = w.iter().rposition(|&x| x == self.0) {
                w.remove(i);
            }
        });
    }
}

/// What table handles inside a transaction need from it, without its lifetime.
pub(crate) trait TxCore {
    fn state(&self) -> Result<Ref<'_, State>>;
    fn state_mut(&self) -> Result<RefMut<'_, State>>;
    fn touch(&self, idx: usize, mark: Mark);
}

/// A read transaction: the argument of the closure given to
/// [`Database::read`](crate::Database::read). Tables read through it (see
/// [`ReadTransaction::table`]) all show the same committed state, and no read inside takes a
/// lock of its own, so a loop of lookups runs at the speed of the lookups. Writers wait until
/// the closure returns; other readers do not.
pub struct ReadTransaction<'db> {
    pub(crate) db: &'db crate::db::Database,
    pub(crate) state: crate::db::ReadState<'db>,
}

impl std::fmt::Debug for ReadTransaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadTransaction").finish_non_exhaustive()
    }
}

/// A transaction in progress: the argument of the closure given to
/// [`Database::transaction`](crate::Database::transaction). Get table handles from it with
/// [`Transaction::table`] and [`Transaction::dyn_table`]; everything written through them
/// commits together when the closure returns `Ok`, and nothing does otherwise.
pub struct Transaction<'db> {
    pub(crate) shared: &'db crate::db::Shared,
    pub(crate) state: RefCell<RwLockWriteGuard<'db, State>>,
    /// The first mark of every table written, in the order first written.
    pub(crate) marks: RefCell<Vec<(usize, Mark)>>,
}

impl std::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("tables_written", &self.marks.borrow().len())
            .finish()
    }
}

impl TxCore for Transaction<'_> {
    fn state(&self) -> Result<Ref<'_, State>> {
        self.state
            .try_borrow()
            .map(|g| Ref::map(g, |g| &**g))
            .map_err(|_| reentrant())
    }
    fn state_mut(&self) -> Result<RefMut<'_, State>> {
        self.state
            .try_borrow_mut()
            .map(|g| RefMut::map(g, |g| &mut **g))
            .map_err(|_| reentrant())
    }
    fn touch(&self, idx: usize, mark: Mark) {
        let mut marks = self.marks.borrow_mut();
        if !marks.iter().any(|(i, _)| *i == idx) {
            marks.push((idx, mark));
        }
    }
}

fn reentrant() -> Error {
    Error::Reentrant
}

impl Transaction<'_> {
    /// Undoes everything written in this transaction.
    pub(crate) fn rollback(&self) {
        let marks = std::mem::take(&mut *self.marks.borrow_mut());
        if let Ok(mut st) = self.state.try_borrow_mut() {
            for (idx, mark) in marks.into_iter().rev() {
                st.tables[idx].rollback_to(mark);
            }
        }
    }

    /// The tables written, with the state they need committed.
    pub(crate) fn written(&self) -> Vec<usize> {
        self.marks.borrow().iter().map(|(i, _)| *i).collect()
    }
}

/// Runs one statement on table `idx`: on error, the statement's own changes are undone and
/// the transaction goes on as before it.
pub(crate) fn statement<O>(
    tx: &dyn TxCore,
    idx: usize,
    f: impl FnOnce(&mut dyn AnyTable) -> Result<O>,
) -> Result<O> {
    let mut st = tx.state_mut()?;
    let t = st.tables.get_mut(idx).ok_or_else(|| Error::UnknownTable {
        table: format!("#{idx}"),
    })?;
    let mark = t.mark();
    match f(&mut **t) {
        Ok(o) => {
            tx.touch(idx, mark);
            Ok(o)
        }
        Err(e) => {
            t.rollback_to(mark);
            Err(e)
        }
    }
}
