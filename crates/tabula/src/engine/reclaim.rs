//! Frees replaced versions off the writer's thread.
//!
//! A commit that changed many rows replaces as many leaves of the table's slab (see
//! `slab`), and the version it replaces holds the only references to the old ones: dropping
//! that version frees every old row, as long as the writing itself took. A process-wide
//! thread does it instead, so the writer returns as soon as the new version is published.
//!
//! Only a version no reader holds any more is handed over ([`Arc::into_inner`]): it is then
//! unreachable (no handle, reader or `Weak` can reach it again), so when it is freed
//! changes nothing anyone can see. The queue is bounded: a writer that replaces versions
//! faster than they are freed frees the next one itself, so memory never grows without
//! bound, and a process that cannot start the thread frees every version on the writer's
//! thread, as before. So does a process forked from the one that started the thread (a
//! child has none of its parent's threads).

use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};

use crate::engine::state::State;

/// Versions waiting to be freed, at most.
const QUEUE: usize = 4;

/// The reclaiming thread's queue and the process that started it (`None` if it could not
/// be started).
static QUEUE_TX: OnceLock<Option<(SyncSender<State>, u32)>> = OnceLock::new();

/// Drops `old`, a version just replaced: on the reclaiming thread if no one else holds it
/// and the queue has room, here otherwise.
pub(crate) fn later(old: Arc<State>) {
    let Some(state) = Arc::into_inner(old) else {
        return;
    };
    let Some((tx, pid)) = QUEUE_TX.get_or_init(start) else {
        return;
    };
    if *pid != std::process::id() {
        return;
    }
    match tx.try_send(state) {
        Ok(()) => {}
        Err(TrySendError::Full(state) | TrySendError::Disconnected(state)) => drop(state),
    }
}

fn start() -> Option<(SyncSender<State>, u32)> {
    let (tx, rx) = sync_channel::<State>(QUEUE);
    std::thread::Builder::new()
        .name("tabula-reclaim".into())
        .spawn(move || {
            for state in rx {
                drop(state);
            }
        })
        .ok()?;
    Some((tx, std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::any_table::AnyTable;
    use crate::record::DynRow;
    use crate::schema::{Column, ColumnType, Schema};
    use crate::table::TableData;
    use std::time::{Duration, Instant};

    fn version() -> (Arc<State>, std::sync::Weak<dyn AnyTable>) {
        let schema =
            Schema::new("t", vec![Column::new("id", ColumnType::I64).primary_key()]).unwrap();
        let table: Arc<dyn AnyTable> =
            Arc::new(TableData::<DynRow>::new(Arc::new(schema)).unwrap());
        let weak = Arc::downgrade(&table);
        let state = State {
            tables: vec![table],
            ..State::default()
        };
        (Arc::new(state), weak)
    }

    #[test]
    fn a_version_no_one_holds_is_freed_and_a_held_one_is_not() {
        let (v, table) = version();
        let reader = v.clone();
        later(v);
        assert!(
            table.upgrade().is_some(),
            "a reader still holds the version"
        );
        later(reader);
        let start = Instant::now();
        while table.upgrade().is_some() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the version was never freed"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
