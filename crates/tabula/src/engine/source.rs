//! How the layers above the engine reach a state: [`Source`], the one small trait through
//! which `select`, `join` and every handle get a state to read (implemented by the engine
//! for plain handles, by a write transaction, and by a read transaction's pinned version),
//! and [`TxCore`], what a handle inside a write transaction needs to change it.
//!
//! Reads take a version and need no lock, so they may nest freely. A write outside a
//! transaction waits for the writers' lock, which a thread running a transaction already
//! holds: the thread mark below lets such a call fail at once with `Error::InTransaction`
//! instead of waiting for itself.

use std::cell::{Ref, RefCell, RefMut};
use std::ops::Deref;
use std::sync::Arc;

use crate::engine::any_table::AnyTable;
use crate::engine::state::State;
use crate::error::{Error, Result};
use crate::table::Mark;

thread_local! {
    /// Ids of the engines whose writers' lock this thread holds.
    static WRITING: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Whether this thread holds the writers' lock of engine `id`.
pub(crate) fn writing(id: u64) -> bool {
    WRITING.with(|w| w.borrow().contains(&id))
}

/// Records, for as long as it lives, that this thread holds engine `id`'s writers' lock.
#[derive(Debug)]
pub(crate) struct LockMark {
    marks: &'static std::thread::LocalKey<RefCell<Vec<u64>>>,
    id: u64,
}

impl LockMark {
    fn new(marks: &'static std::thread::LocalKey<RefCell<Vec<u64>>>, id: u64) -> Self {
        marks.with(|m| m.borrow_mut().push(id));
        LockMark { marks, id }
    }

    pub(crate) fn writing(id: u64) -> Self {
        LockMark::new(&WRITING, id)
    }
}

impl Drop for LockMark {
    fn drop(&mut self) {
        self.marks.with(|m| {
            let mut m = m.borrow_mut();
            if let Some(i) = m.iter().rposition(|&x| x == self.id) {
                m.remove(i);
            }
        });
    }
}

/// A state to read, however it is held.
pub(crate) enum StateRef<'a> {
    /// A plain handle's read: the published version, for this one call.
    Version(Arc<State>),
    /// A write transaction's own state, its writes included.
    InTransaction(Ref<'a, State>),
    /// A read transaction's version, taken once for all its reads.
    Pinned(&'a State),
}

impl Deref for StateRef<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        match self {
            StateRef::Version(v) => v,
            StateRef::InTransaction(g) => g,
            StateRef::Pinned(s) => s,
        }
    }
}

/// Where a handle, a query or a join reads from.
pub(crate) trait Source {
    /// The state to read for one call on `table` (named in errors).
    fn state(&self, table: &str) -> Result<StateRef<'_>>;
}

/// A read transaction's state is read as it is.
impl Source for State {
    fn state(&self, _table: &str) -> Result<StateRef<'_>> {
        Ok(StateRef::Pinned(self))
    }
}

/// What a table handle inside a write transaction needs from it.
pub(crate) trait TxCore: Source {
    /// The transaction's state, to change.
    fn state_mut(&self) -> Result<RefMut<'_, State>>;
    /// Records that table `idx` is written from `mark` on (kept only the first time).
    fn touch(&self, idx: usize, mark: Mark);
    /// Runs the `ON DELETE CASCADE` and `SET NULL` actions of the rows the statement that
    /// wrote table `idx` from `mark` on deleted (see [`foreign_keys::act_now`]). Nothing
    /// is undone on error: `changed` gets each table the actions changed that it does not
    /// hold yet, with its mark from before them, for the caller to [`undo`](TxCore::undo).
    ///
    /// [`foreign_keys::act_now`]: crate::engine::foreign_keys::act_now
    fn delete_actions_of_step(
        &self,
        idx: usize,
        mark: Mark,
        changed: &mut Vec<(usize, Mark)>,
    ) -> Result<()>;

    /// [`TxCore::delete_actions_of_step`] for a whole statement: on error the statement is
    /// undone, in `idx` and in every table its actions changed.
    fn delete_actions(&self, idx: usize, mark: Mark) -> Result<()> {
        let mut changed = Vec::new();
        self.delete_actions_of_step(idx, mark, &mut changed)
            .inspect_err(|_| self.undo(idx, mark, changed))
    }

    /// Takes table `idx` back to `mark` and each table of `changed` to its own mark (the
    /// latest first): a statement over several tables undone whole, whatever happens to
    /// one of them.
    fn undo(&self, idx: usize, mark: Mark, changed: Vec<(usize, Mark)>) {
        if let Ok(mut st) = self.state_mut() {
            for (t, m) in changed.into_iter().rev().chain([(idx, mark)]) {
                if let Ok(t) = st.table_mut(t) {
                    t.rollback_to(m);
                }
            }
        }
    }
}

/// Runs one statement on table `idx` of a transaction: on error, the statement's own
/// changes are undone and the transaction goes on as before it. The table is recorded as
/// written before `f` runs: should `f` panic (user code runs in it: an `insert_many`
/// iterator, a json column's `Serialize`), the transaction's rollback undoes it too.
///
/// The `ON DELETE` actions of the rows it deleted are part of the statement (as in SQLite):
/// they run once `f` is done, and their failure undoes it.
pub(crate) fn statement<O>(
    tx: &dyn TxCore,
    idx: usize,
    f: impl FnOnce(&mut dyn AnyTable) -> Result<O>,
) -> Result<O> {
    let (out, mark) = {
        let mut st = tx.state_mut()?;
        let t = st.table_mut(idx)?;
        let mark = t.mark();
        tx.touch(idx, mark);
        (f(t).inspect_err(|_| t.rollback_to(mark))?, mark)
    };
    tx.delete_actions(idx, mark)?;
    Ok(out)
}

/// A transaction's table used from inside one of its own closures.
pub(crate) fn reentrant(_: std::cell::BorrowError) -> Error {
    Error::Reentrant
}

/// [`reentrant`] for a mutable borrow.
pub(crate) fn reentrant_mut(_: std::cell::BorrowMutError) -> Error {
    Error::Reentrant
}
