//! Frees replaced versions off the writer's thread.
//!
//! A commit that changed many rows replaces as many leaves of the table's slab (see
//! `slab`), and the version it replaces holds the only references to the old ones: dropping
//! that version frees every old row. A process-wide thread does it instead, so the writer
//! returns once the new version is published (the freeing itself costs as much as before,
//! on another thread).
//!
//! Only a version no reader holds any more is handed over ([`Arc::into_inner`]): it is then
//! unreachable (no handle, reader or `Weak` can reach it again), so when it is freed
//! changes nothing anyone can see. Waking the thread costs tens of microseconds on a busy
//! machine, more than freeing what a commit of a few rows replaced, so a version replaced
//! by fewer than [`WORTH`] changes is freed by the writer, as are all of them when the
//! queue is full (memory never grows without bound), when the thread could not be started,
//! and in a process forked from the one that started it (a child has none of its parent's
//! threads).

use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};

use crate::engine::state::State;

/// Versions waiting to be freed, at most.
const QUEUE: usize = 2;
/// The fewest changes (rows written, about) whose replaced version the thread frees.
const WORTH: usize = 256;

/// The reclaiming thread's queue (`None` if it could not be started).
static VERSIONS: OnceLock<Option<Queue<State>>> = OnceLock::new();

/// Drops `old`, a version replaced by one `changes` rows apart from it: on the reclaiming
/// thread when that is worth it, no one else holds `old`, and the queue has room; here
/// otherwise.
pub(crate) fn later(old: Arc<State>, changes: usize) {
    if changes < WORTH {
        return;
    }
    let Some(state) = Arc::into_inner(old) else {
        return;
    };
    if let Some(queue) = VERSIONS.get_or_init(|| Queue::start(QUEUE)) {
        drop(queue.hand_over(state));
    }
}

/// A thread that drops what it is handed, and the process that started it.
struct Queue<T> {
    tx: SyncSender<T>,
    pid: u32,
}

impl<T: Send + 'static> Queue<T> {
    fn start(capacity: usize) -> Option<Self> {
        let (tx, rx) = sync_channel::<T>(capacity);
        std::thread::Builder::new()
            .name("tabula-reclaim".into())
            .spawn(move || {
                for item in rx {
                    drop(item);
                }
            })
            .ok()?;
        Some(Queue {
            tx,
            pid: std::process::id(),
        })
    }

    /// Hands `item` to the thread; gives it back when it cannot take it now.
    fn hand_over(&self, item: T) -> Option<T> {
        if self.pid != std::process::id() {
            return Some(item);
        }
        match self.tx.try_send(item) {
            Ok(()) => None,
            Err(TrySendError::Full(item) | TrySendError::Disconnected(item)) => Some(item),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{channel, Receiver, Sender};
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    /// Records the name of the thread that drops it; first waits for `hold`, if any.
    struct Probe {
        name: &'static str,
        dropped_on: Arc<Mutex<Vec<(&'static str, String)>>>,
        started: Option<Sender<()>>,
        hold: Option<Receiver<()>>,
    }

    impl Drop for Probe {
        fn drop(&mut self) {
            if let Some(s) = &self.started {
                s.send(()).unwrap();
            }
            if let Some(h) = &self.hold {
                h.recv_timeout(Duration::from_secs(30)).unwrap();
            }
            let thread = std::thread::current().name().unwrap_or("").to_owned();
            self.dropped_on.lock().unwrap().push((self.name, thread));
        }
    }

    #[test]
    fn the_thread_frees_what_it_is_handed_and_a_full_queue_gives_it_back() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let probe = |name| Probe {
            name,
            dropped_on: log.clone(),
            started: None,
            hold: None,
        };
        let queue = Queue::start(1).unwrap();
        let (started_tx, started) = channel();
        let (release, hold) = channel();
        let blocker = Probe {
            name: "blocker",
            dropped_on: log.clone(),
            started: Some(started_tx),
            hold: Some(hold),
        };
        assert!(queue.hand_over(blocker).is_none());
        started.recv_timeout(Duration::from_secs(30)).unwrap();
        // The thread is busy with the blocker: one more fits in the queue, the next not.
        assert!(queue.hand_over(probe("queued")).is_none());
        let back = queue.hand_over(probe("refused"));
        assert_eq!(back.as_ref().map(|p| p.name), Some("refused"));
        drop(back);
        release.send(()).unwrap();
        let start = Instant::now();
        while log.lock().unwrap().len() < 3 {
            assert!(start.elapsed() < Duration::from_secs(30), "never freed");
            std::thread::sleep(Duration::from_millis(1));
        }
        let here = std::thread::current().name().unwrap_or("").to_owned();
        let mut seen = log.lock().unwrap().clone();
        seen.sort();
        assert_eq!(
            seen,
            vec![
                ("blocker", "tabula-reclaim".to_owned()),
                ("queued", "tabula-reclaim".to_owned()),
                ("refused", here),
            ]
        );
    }
}
