//! The undo journal: every change since the last commit, so that a statement or a whole
//! transaction rolls back exactly, and so that a commit can hand the log its changes as
//! physical row images.

use std::sync::atomic::Ordering as AtomicOrdering;
use std::sync::OnceLock;

use crate::error::Result;
use crate::record::Record;
use crate::table::TableData;
use crate::value::Value;

/// One change, kept until commit so that it can be undone. Replaced and deleted rows wait
/// in `TableData::olds`, so an entry is 12 bytes whatever the row type.
#[derive(Debug, Clone, Copy)]
pub(super) enum Undo {
    /// Rows inserted into `count` consecutive slots from `first`: a bulk insert is one entry.
    /// An entry grows only while no mark was taken after it (see `TableData::undo_floor`),
    /// so rolling back to a mark never splits one.
    Insert {
        first: u32,
        count: u32,
    },
    Replace {
        slot: u32,
    },
    Delete {
        slot: u32,
    },
    /// The auto-increment counter raised with no row written (SQL's `setval`): the mark
    /// restores it; it makes the table's log record carry the new counter.
    NextKey,
}

/// A point in the undo journal to roll back to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    undo_len: usize,
    /// Slots in the slab: the ones added since (all empty again once rolled back) go.
    rows_len: usize,
    next_key: i64,
    in_order: bool,
}

impl<R: Record> TableData<R> {
    pub(crate) fn mark(&self) -> Mark {
        self.undo_floor
            .store(self.undo.len(), AtomicOrdering::Relaxed);
        Mark {
            undo_len: self.undo.len(),
            rows_len: self.rows.len(),
            next_key: self.next_key,
            in_order: self.in_order,
        }
    }

    /// Undoes every change after `mark`, newest first.
    pub(crate) fn rollback_to(&mut self, mark: Mark) {
        while self.undo.len() > mark.undo_len {
            let Some(entry) = self.undo.pop() else { break };
            match entry {
                Undo::Insert { first, count } => {
                    // The slots stay (a dense key may have reused a slot that a delete,
                    // further back in the journal, still needs); new slots go below.
                    for slot in (first..first + count).rev() {
                        self.unindex_slot(slot);
                        if self.rows.take(slot as usize).is_some() {
                            self.live -= 1;
                        }
                    }
                }
                Undo::Replace { slot } => {
                    let Some(old) = self.olds.pop() else { continue };
                    self.replace_unchecked(slot, old);
                    // replace_unchecked journaled the undo itself; drop that entry.
                    self.undo.pop();
                    self.olds.pop();
                }
                Undo::Delete { slot } => {
                    let Some(old) = self.olds.pop() else { continue };
                    self.rows.set(slot as usize, Some(old));
                    self.live += 1;
                    self.index_slot(slot);
                }
                Undo::NextKey => {}
            }
        }
        // Slots added since the mark (inserts and their padding) are all empty now.
        let last_live = self
            .rows
            .live_in(mark.rows_len..self.rows.len())
            .next_back()
            .map_or(0, |(s, _)| s as usize + 1);
        self.rows.truncate(last_live.max(mark.rows_len));
        *self.undo_floor.get_mut() = self.undo.len();
        self.next_key = mark.next_key;
        self.in_order = mark.in_order;
        self.order_cache = OnceLock::new();
    }

    /// Since `mark`: the slots inserted or replaced that still hold a row. References are
    /// checked on these at commit (the rows deleted: [`TableData::deleted_since`]).
    pub(crate) fn written_since(&self, mark: Mark) -> Vec<u32> {
        let mut slots = Vec::new();
        for entry in &self.undo[mark.undo_len.min(self.undo.len())..] {
            match *entry {
                Undo::Insert { first, count } => {
                    slots.extend((first..first + count).filter(|&s| self.row(s).is_some()));
                }
                Undo::Replace { slot } if self.row(slot).is_some() => slots.push(slot),
                Undo::Replace { .. } | Undo::NextKey | Undo::Delete { .. } => {}
            }
        }
        slots.sort_unstable();
        slots.dedup();
        slots
    }

    /// Since `mark`: the keys of rows deleted that no longer exist, in time proportional to
    /// the changes since `mark` alone.
    pub(crate) fn deleted_since(&self, mark: Mark) -> Vec<Value> {
        if !self.deletes_since(mark) {
            return Vec::new();
        }
        let since = &self.undo[mark.undo_len.min(self.undo.len())..];
        let pk = self.schema.primary_key();
        let mut olds = self.olds_since(mark);
        let mut deleted = Vec::new();
        for entry in since {
            match entry {
                Undo::Replace { .. } => {
                    olds.next();
                }
                Undo::Delete { .. } => {
                    if let Some(old) = olds.next() {
                        let k = old.col(pk);
                        if self.find_key(k).is_none() {
                            deleted.push(k.to_owned());
                        }
                    }
                }
                Undo::Insert { .. } | Undo::NextKey => {}
            }
        }
        deleted
    }

    /// Whether a row was deleted since `mark` (read from the changes since it alone).
    pub(crate) fn deletes_since(&self, mark: Mark) -> bool {
        self.undo[mark.undo_len.min(self.undo.len())..]
            .iter()
            .any(|u| matches!(u, Undo::Delete { .. }))
    }

    /// The replaced and deleted rows kept since `mark`, oldest first: one per `Replace` or
    /// `Delete` entry after it, counted from the end (the journal before `mark` may be long).
    fn olds_since(&self, mark: Mark) -> std::slice::Iter<'_, std::sync::Arc<R>> {
        let since = self.undo[mark.undo_len.min(self.undo.len())..]
            .iter()
            .filter(|u| matches!(u, Undo::Replace { .. } | Undo::Delete { .. }))
            .count();
        self.olds[self.olds.len().saturating_sub(since)..].iter()
    }

    /// The number of journal entries pending: about the rows written since the commit.
    /// Any is a change (every entry leaves a row image, a deleted key or a raised counter).
    pub(crate) fn pending_changes(&self) -> usize {
        self.undo.len()
    }

    /// Walks the pending (uncommitted) changes as physical row images: calls `put` with the
    /// final image of every row written (once each, in journal order) and returns the keys
    /// deleted that no row holds now. Rows are handed out one by one, so a caller encoding
    /// them never holds a copy of the whole transaction.
    pub(crate) fn for_each_change(
        &self,
        mut put: impl FnMut(&R) -> Result<()>,
    ) -> Result<Vec<Value>> {
        let pk = self.schema.primary_key();
        let mut seen = hashbrown::HashSet::new();
        let mut deleted = Vec::new();
        let mut olds = self.olds.iter();
        for entry in &self.undo {
            let (slots, old) = match *entry {
                Undo::Insert { first, count } => (first..first + count, None),
                Undo::Replace { slot } | Undo::Delete { slot } => (slot..slot + 1, olds.next()),
                Undo::NextKey => continue,
            };
            if let Some(old) = old {
                deleted.push(old.col(pk).to_owned());
            }
            for slot in slots {
                if seen.insert(slot) {
                    if let Some(r) = self.row(slot) {
                        put(r)?;
                    }
                }
            }
        }
        deleted.sort();
        deleted.dedup();
        Ok(deleted
            .into_iter()
            .filter(|k| self.find_key(k.as_ref()).is_none())
            .collect())
    }

    /// Makes the pending changes permanent: clears the undo journal and tidies the slab.
    pub(crate) fn commit(&mut self) {
        self.undo.clear();
        *self.undo_floor.get_mut() = 0;
        self.olds.clear();
        self.trim();
    }
}
