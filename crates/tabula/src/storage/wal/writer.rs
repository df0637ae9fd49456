//! Appending records to the log and making them durable, with group commit: concurrent
//! committers share one write and one fsync.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::storage::fs::{FileSync, LogFile};
use crate::storage::wal::line::{close_record, LINE_PREFIX};
use crate::storage::wal::MAX_RECORD;

/// A transaction under way, counted for group commit; see [`WalWriter::committer`].
pub(crate) struct Committer<'a>(&'a AtomicUsize);

impl Drop for Committer<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Whether commits wait for stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// A commit returns once its log line is on stable storage (fdatasync); commits from
    /// several threads share one fsync (group commit). The default.
    #[default]
    Immediate,
    /// A commit returns once its log line is written to the operating system: it survives a
    /// crash of the process, not of the machine. [`Database::close`](crate::Database::close)
    /// and checkpoints still fsync.
    Buffered,
}

/// How far past its last record the log is filled with zeros ahead of time. Overwriting
/// zeros that are already on disk lets `fdatasync` skip the file-size update an append needs
/// (see the bench README for what it saves); the scanner reads zeros at a line start as the
/// end of the log, and checkpoints and reopening cut them off.
const PREALLOCATE: usize = 1 << 20;

struct Appender {
    file: Box<dyn LogFile>,
    /// Bytes of records in the file.
    len: u64,
    /// Bytes in the file: records, then zeros.
    allocated: u64,
}

impl Appender {
    /// Writes `buf` (whole lines) after the last record, with one write call. When it does
    /// not fit in the preallocated zeros, it is written with the next stretch of zeros after
    /// it (appended to `buf` in place, so nothing is copied).
    ///
    /// The zeros only spare later fsyncs a size update: on a disk too full for them (or a
    /// file at its size limit), the lines are written alone, so that a commit that fits
    /// still commits.
    fn write(&mut self, mut buf: Vec<u8>) -> std::io::Result<()> {
        let n = buf.len();
        let at = self.len;
        if at + n as u64 > self.allocated {
            buf.resize(n + PREALLOCATE, 0);
            // Counted before the write: zeros may land even when it fails, and `trim` cuts
            // off what is counted (a failed append is cut back, and this reset, by its
            // caller).
            self.allocated = self.allocated.max(at + buf.len() as u64);
            if let Err(e) = self.file.write_at(at, &buf) {
                if !no_room(&e) {
                    return Err(e);
                }
                buf.truncate(n);
                self.file.write_at(at, &buf)?;
                // The zeros that landed before the disk filled hold room that the next
                // commits and a checkpoint's files need (a close checkpoints): give it back
                // now. If that fails, `trim` cuts them off before the log is archived.
                let end = at + n as u64;
                if self.file.truncate(end).is_ok() {
                    self.allocated = end;
                }
            }
        } else {
            self.file.write_at(at, &buf)?;
        }
        self.len = at + n as u64;
        Ok(())
    }
}

/// Whether a write failed for want of room (a full disk or quota, a file-size limit): the
/// same write without the preallocated zeros may fit.
fn no_room(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull
            | std::io::ErrorKind::QuotaExceeded
            | std::io::ErrorKind::FileTooLarge
    )
}

/// Lines committed but not yet handed to the file (`Immediate` mode): the next fsync leader
/// writes them all with one `write` and one `fdatasync`.
#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    /// The LSN of the first line in `buf` (the `batch` of every line queued behind it).
    first_lsn: u64,
    last_lsn: u64,
    /// Lines in `buf`.
    count: usize,
}

struct SyncState {
    syncer: Arc<dyn FileSync>,
    syncing: bool,
    failure: Option<String>,
}

/// Appends records and makes them durable, sharing writes and fsyncs between concurrent
/// committers (group commit).
///
/// With `Immediate` durability a commit queues its line (under the database's writers' lock, so
/// lines queue in LSN order) and then waits outside that lock. One waiter at a time becomes
/// the leader: it takes every queued line, writes them with one `write`, fsyncs once, and
/// wakes everyone its fsync covered. No lock that committers need is held during the I/O.
/// With `Buffered` durability each commit writes its line at once and nobody fsyncs.
pub(crate) struct WalWriter {
    appender: Mutex<Appender>,
    pending: Mutex<Pending>,
    sync: Mutex<SyncState>,
    synced_cv: Condvar,
    /// The LSN of the last line committed (queued or written).
    written: AtomicU64,
    /// The LSN of the last line known to be on stable storage.
    synced: AtomicU64,
    /// Bytes and records committed to this log file, queued lines included.
    bytes: AtomicU64,
    records: AtomicU64,
    /// Set once a write or fsync failed: the log refuses everything until reopened.
    poisoned: std::sync::atomic::AtomicBool,
    /// Transactions started (waiting for the writers' lock or running) whose record is not yet
    /// queued: an fsync leader waits briefly for them, so their lines share its fsync.
    committers: AtomicUsize,
    /// How long the last fsync took, in nanoseconds: bounds the leader's wait.
    last_sync_ns: AtomicU64,
    /// How many lines the last fsync covered: the group the next leader waits to fill.
    last_group: AtomicUsize,
    /// Set while a committing leader writes and fsyncs (see `poll_flush`).
    flushing: AtomicBool,
    pub(crate) durability: Durability,
}

impl std::fmt::Debug for WalWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalWriter")
            .field("written", &self.written.load(Ordering::Relaxed))
            .field("synced", &self.synced.load(Ordering::Relaxed))
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl WalWriter {
    pub(crate) fn new(
        file: Box<dyn LogFile>,
        len: u64,
        records: u64,
        last_lsn: u64,
        durability: Durability,
    ) -> std::io::Result<Self> {
        let syncer: Arc<dyn FileSync> = Arc::from(file.syncer()?);
        Ok(WalWriter {
            appender: Mutex::new(Appender {
                file,
                len,
                allocated: len,
            }),
            pending: Mutex::new(Pending::default()),
            sync: Mutex::new(SyncState {
                syncer,
                syncing: false,
                failure: None,
            }),
            synced_cv: Condvar::new(),
            written: AtomicU64::new(last_lsn),
            synced: AtomicU64::new(last_lsn),
            bytes: AtomicU64::new(len),
            records: AtomicU64::new(records),
            poisoned: std::sync::atomic::AtomicBool::new(false),
            committers: AtomicUsize::new(0),
            last_sync_ns: AtomicU64::new(0),
            last_group: AtomicUsize::new(1),
            flushing: AtomicBool::new(false),
            durability,
        })
    }

    pub(crate) fn last_lsn(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Bytes and records in the current log file (queued lines included).
    pub(crate) fn size(&self) -> (u64, u64) {
        (
            self.bytes.load(Ordering::Acquire),
            self.records.load(Ordering::Acquire),
        )
    }

    /// Whether the log is poisoned (a failed fsync, truncate or log start; see
    /// [`WalWriter::failure`]).
    #[inline]
    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    pub(crate) fn failure(&self) -> Option<String> {
        if !self.is_poisoned() {
            return None;
        }
        lock(&self.sync).failure.clone()
    }

    /// Refuses every further write and read until the database is reopened (the log, or
    /// its name in its directory, is not known to be durable).
    pub(crate) fn poison(&self, reason: String) {
        let mut s = lock(&self.sync);
        s.failure.get_or_insert(reason);
        self.poisoned.store(true, Ordering::Release);
        self.synced_cv.notify_all();
    }

    /// Commits one record and returns its LSN. `body`, given the LSN, writes the record's
    /// JSON without its closing brace (`{"lsn":..,"tables":[..]`); the batch field, the brace
    /// and the checksum are added here. Called with the database's writers' lock held, so LSNs
    /// are handed out in commit order.
    ///
    /// `Immediate`: the line is queued for the next fsync leader. `Buffered`: it is written
    /// now; if the write fails the file is cut back to where it was (and if even that fails,
    /// the log refuses all writes).
    pub(crate) fn append(
        &self,
        path: &Path,
        body: impl FnOnce(u64, &mut Vec<u8>) -> Result<()>,
    ) -> Result<u64> {
        if let Some(reason) = self.failure() {
            return Err(Error::Poisoned { reason });
        }
        let lsn = self.written.load(Ordering::Acquire) + 1;
        let mut line = Vec::with_capacity(256);
        line.extend_from_slice(LINE_PREFIX);
        body(lsn, &mut line)?;
        // Room for `,"batch":<lsn>}` and the newline.
        if line.len() + 32 > MAX_RECORD {
            return Err(Error::TransactionTooLarge {
                bytes: (line.len() + 32) as u64,
                limit: MAX_RECORD as u64,
            });
        }
        let n;
        match self.durability {
            Durability::Immediate => {
                // The line's batch is known only once it is queued: the queue it joins is
                // written with one write call.
                let mut p = lock(&self.pending);
                let batch = if p.buf.is_empty() { lsn } else { p.first_lsn };
                close_record(&mut line, batch);
                n = line.len() as u64;
                if p.buf.is_empty() {
                    // The usual case, and the one that matters for a big transaction: the
                    // line becomes the queue instead of being copied into it.
                    p.buf = line;
                    p.first_lsn = lsn;
                } else {
                    p.buf.extend_from_slice(&line);
                }
                p.last_lsn = lsn;
                p.count += 1;
            }
            Durability::Buffered => {
                // Every line since the last fsync may reach the disk in any order, or not
                // at all: they count as one write (see the scan's torn last write), which
                // began with the first line no fsync has covered.
                let batch = (self.synced.load(Ordering::Acquire) + 1).min(lsn);
                close_record(&mut line, batch);
                n = line.len() as u64;
                let mut a = lock(&self.appender);
                if let Err(e) = a.write(line) {
                    let before = a.len;
                    a.allocated = before;
                    if let Err(e2) = a.file.truncate(before) {
                        drop(a);
                        self.poison(format!(
                            "could not cut a failed append from {}: {e2}",
                            path.display()
                        ));
                    }
                    return Err(Error::Io {
                        path: path.to_path_buf(),
                        source: e,
                    });
                }
            }
        }
        self.bytes.fetch_add(n, Ordering::AcqRel);
        self.records.fetch_add(1, Ordering::AcqRel);
        self.written.store(lsn, Ordering::Release);
        Ok(lsn)
    }

    /// Writes the queued lines and fsyncs: the leader's work. Returns the LSN now durable.
    ///
    /// When the write or the fsync fails (`Immediate` mode), the lines are cut from the file
    /// again, and the cut fsynced, before the error goes back: every commit of the group is
    /// told it failed, so none may come back after a crash (a write can fail after some of
    /// its bytes landed: at a file-size limit, the line goes in and the zeros after it do
    /// not). If even the cut fails, the error says that the commits may be durable.
    fn flush(&self) -> std::io::Result<u64> {
        let batch = std::mem::take(&mut *lock(&self.pending));
        if self.durability == Durability::Immediate {
            // The group to wait for next time: this one's size, or one less than the last
            // target when this one fell short (threads stopped committing, or were late).
            let expected = self.last_group.load(Ordering::Relaxed).saturating_sub(1);
            self.last_group
                .store(batch.count.max(expected).max(1), Ordering::Relaxed);
        }
        let target = match self.durability {
            // Queued lines are all in the batch; the fsync covers exactly them.
            Durability::Immediate => batch.last_lsn,
            // Lines are in the file as soon as they are committed.
            Durability::Buffered => self.written.load(Ordering::Acquire),
        };
        // The syncer is replaced only at rotation, with the database's writers' lock held and
        // nothing left to sync; cloning the Arc keeps the mutex free during the fsync.
        let syncer = Arc::clone(&lock(&self.sync).syncer);
        let before = lock(&self.appender).len;
        let written = if batch.buf.is_empty() {
            Ok(())
        } else {
            lock(&self.appender).write(batch.buf)
        };
        let started = Instant::now();
        if let Err(e) = written.and_then(|()| syncer.sync_data()) {
            if self.durability == Durability::Buffered {
                // Its lines were acknowledged as they were written: they stay.
                return Err(e);
            }
            let cut = {
                let mut a = lock(&self.appender);
                a.file.truncate(before).map(|()| {
                    a.len = before;
                    a.allocated = before;
                })
            };
            return Err(match cut.and_then(|()| syncer.sync_data()) {
                Ok(()) => std::io::Error::new(
                    e.kind(),
                    format!("{e} (the commits it held were cut from the log)"),
                ),
                Err(e2) => std::io::Error::new(
                    e.kind(),
                    format!(
                        "{e}, and cutting the commits it held from the log failed too ({e2}): \
                         they may be there when the database is opened again"
                    ),
                ),
            });
        }
        let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last_sync_ns.store(took, Ordering::Relaxed);
        Ok(target)
    }

    /// Marks a transaction that may commit: from before it waits for the writers' lock until its
    /// record is queued (or it ends without one), when the returned guard is dropped.
    pub(crate) fn committer(&self) -> Committer<'_> {
        self.committers.fetch_add(1, Ordering::AcqRel);
        Committer(&self.committers)
    }

    /// The fsync leader's short wait for more lines, so that one fsync covers them too (group
    /// commit). Threads woken by the same fsync come back one by one, and without the wait the
    /// first of them leads a group of one: with 4 threads the groups alternate 1, 3, 1, 3. So
    /// the leader waits while transactions are under way or fewer lines are queued than the
    /// group it expects (the last one's size, or one less than the last expectation), for at
    /// most one fsync's time: a lone committer (groups of one, nobody under way) never waits,
    /// and when threads stop committing the expectation shrinks by one per fsync. (The bench
    /// README has the group sizes and commit rates with and without the wait.)
    fn gather(&self) {
        let want = self.last_group.load(Ordering::Relaxed);
        let ready =
            || self.committers.load(Ordering::Acquire) == 0 && lock(&self.pending).count >= want;
        if ready() {
            return;
        }
        let limit = Duration::from_nanos(self.last_sync_ns.load(Ordering::Relaxed))
            .min(Duration::from_millis(1));
        let started = Instant::now();
        // Polls, yielding the CPU to the transactions it waits for: sleeping on a condition
        // variable instead measured slower (each wake-up costs more than a transaction).
        while !ready() && started.elapsed() < limit {
            std::thread::yield_now();
        }
    }

    /// A committer whose line the leader is writing and fsyncing polls for the end of that
    /// fsync (yielding the CPU) instead of sleeping on the condition variable: waking a
    /// sleeper costs more per thread than the group can spare before its next fsync. Only
    /// during the I/O, when the leader needs no CPU (while
    /// the leader gathers, pollers would take the CPU from the transactions it waits for),
    /// and for at most about two fsyncs.
    fn poll_flush(&self, lsn: u64) {
        let limit = Duration::from_nanos(2 * self.last_sync_ns.load(Ordering::Relaxed))
            .min(Duration::from_millis(2));
        let started = Instant::now();
        while self.flushing.load(Ordering::Acquire)
            && self.synced.load(Ordering::Acquire) < lsn
            && started.elapsed() < limit
        {
            std::thread::yield_now();
        }
    }

    /// Waits until `lsn` is on stable storage, writing and fsyncing as the leader if no
    /// other thread is. A failed write or fsync is never retried: the log refuses everything
    /// until the database is reopened (the page cache may have dropped what it failed to
    /// write).
    ///
    /// A committer (`gather`) leading the fsync first waits briefly for transactions under
    /// way; checkpoints and other calls that sync under the writers' lock (which those transactions wait
    /// for) do not.
    pub(crate) fn wait_durable(&self, path: &Path, lsn: u64, gather: bool) -> Result<()> {
        if self.synced.load(Ordering::Acquire) >= lsn {
            return Ok(());
        }
        let mut s = lock(&self.sync);
        let mut polled = false;
        loop {
            if let Some(reason) = &s.failure {
                return Err(Error::Poisoned {
                    reason: reason.clone(),
                });
            }
            if self.synced.load(Ordering::Acquire) >= lsn {
                return Ok(());
            }
            if s.syncing {
                if gather && !polled && self.flushing.load(Ordering::Acquire) {
                    polled = true;
                    drop(s);
                    self.poll_flush(lsn);
                    s = lock(&self.sync);
                    continue;
                }
                s = self
                    .synced_cv
                    .wait(s)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            s.syncing = true;
            drop(s);
            if gather && self.durability == Durability::Immediate {
                self.gather();
                // Wake the committers of this group now, to poll while the I/O runs.
                self.flushing.store(true, Ordering::Release);
                self.synced_cv.notify_all();
            }
            let r = self.flush();
            s = lock(&self.sync);
            s.syncing = false;
            let failed = match r {
                Ok(target) => {
                    self.synced.fetch_max(target, Ordering::AcqRel);
                    None
                }
                Err(e) => {
                    let reason = format!("writing or fsyncing {} failed: {e}", path.display());
                    tracing::error!(%reason, "write-ahead log is read-only until reopened");
                    s.failure = Some(reason);
                    self.poisoned.store(true, Ordering::Release);
                    Some(e)
                }
            };
            // After the new LSN (or the failure), so pollers see it as they stop.
            self.flushing.store(false, Ordering::Release);
            if let Some(e) = failed {
                self.synced_cv.notify_all();
                return Err(Error::Io {
                    path: path.to_path_buf(),
                    source: e,
                });
            }
            self.synced_cv.notify_all();
        }
    }

    /// Waits until everything committed is durable (in both modes).
    pub(crate) fn sync_all(&self, path: &Path) -> Result<()> {
        self.wait_durable(path, self.written.load(Ordering::Acquire), false)
    }

    /// Whether a reader must wait before seeing the current state (`Immediate` mode with a
    /// commit whose fsync is still to come).
    pub(crate) fn must_wait(&self) -> bool {
        self.durability == Durability::Immediate
            && self.synced.load(Ordering::Acquire) < self.written.load(Ordering::Acquire)
    }

    /// Cuts the preallocated zeros off the end of the log, so the file holds its records and
    /// nothing else (before it is archived). Called with the database's writers' lock held and
    /// everything committed durable.
    pub(crate) fn trim(&self) -> std::io::Result<()> {
        let mut a = lock(&self.appender);
        if a.allocated > a.len {
            let len = a.len;
            a.file.truncate(len)?;
            a.allocated = len;
        }
        Ok(())
    }

    /// Replaces the log file with one that already holds `len` bytes of `records` durable
    /// records (those a checkpoint carried over), appending after them. Called with
    /// everything committed already durable and the database's writers' lock held.
    pub(crate) fn reset_to(
        &self,
        file: Box<dyn LogFile>,
        len: u64,
        records: u64,
    ) -> std::io::Result<()> {
        let syncer: Arc<dyn FileSync> = Arc::from(file.syncer()?);
        let mut a = lock(&self.appender);
        *a = Appender {
            file,
            len,
            allocated: len,
        };
        lock(&self.sync).syncer = syncer;
        self.bytes.store(len, Ordering::Release);
        self.records.store(records, Ordering::Release);
        Ok(())
    }
}
