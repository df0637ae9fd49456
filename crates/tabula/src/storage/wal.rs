//! The write-ahead log: one committed transaction per line,
//! `<crc32c of the JSON, 8 hex digits> <json>\n`, where the JSON is
//! `{"lsn":N,"tables":[{"table":"t","next_key":K,"put":[{row},...],"delete":[key,...]}]}`.
//!
//! `put` holds the final image of every row the transaction wrote and `delete` the keys that no
//! longer exist, so replaying a line twice gives the same state. A line is the unit of
//! atomicity: recovery drops an unfinished (unterminated, checksum-failing or zero-filled)
//! last line, and refuses a damaged line followed by good ones.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::schema::Schema;
use crate::storage::codec::corrupt;
use crate::storage::fs::{FileSync, LogFile};
use crate::table::TableChanges;
use crate::value::Value;

/// The largest log line accepted, written or read (256 MiB): a bound on what recovery will
/// try to parse, and on one transaction.
pub(crate) const MAX_RECORD: usize = 256 << 20;

/// How `Database::open` treats a damaged write-ahead log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Recovery {
    /// Any damaged line, even an unfinished last one, fails the open with `Error::Corrupt`.
    Strict,
    /// An unfinished last commit is dropped (with a warning) and cut off before the next
    /// append; a damaged line followed by good ones fails the open with `Error::Corrupt`.
    #[default]
    TolerateTail,
    /// Every line that can be read is kept; damaged lines are dropped and reported in
    /// [`Database::recovery_report`](crate::Database::recovery_report).
    Salvage,
}

/// One table's part of a log record, rows still undecoded.
#[derive(Debug, Deserialize)]
pub(crate) struct RawTableOps {
    pub(crate) table: String,
    #[serde(default)]
    pub(crate) next_key: Option<i64>,
    #[serde(default)]
    pub(crate) put: Vec<Box<RawValue>>,
    #[serde(default)]
    pub(crate) delete: Vec<Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawRecord {
    pub(crate) lsn: u64,
    pub(crate) tables: Vec<RawTableOps>,
    /// The LSN of the first record written to the file in the same write call (a group
    /// commit writes several at once). Absent in logs written before it was recorded.
    #[serde(default)]
    pub(crate) batch: Option<u64>,
}

/// A line recovery dropped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedRecord {
    /// The file it was in (`wal/transaction.log`, or a snapshot in salvage mode).
    pub file: std::path::PathBuf,
    /// The 1-based line (0 when the whole file was unreadable).
    pub line: u64,
    /// Why it could not be used.
    pub reason: String,
}

/// What a scan of the log found.
#[derive(Debug)]
pub(crate) struct Scan {
    /// Good records after the checkpoint LSN, with their line numbers.
    pub(crate) records: Vec<(u64, RawRecord)>,
    /// Every line dropped.
    pub(crate) dropped: Vec<DroppedRecord>,
    /// Bytes up to the end of the last good line: what stays when the tail is cut.
    pub(crate) valid_len: u64,
    /// The last LSN in the log (or the checkpoint's LSN when it has none after it).
    pub(crate) last_lsn: u64,
    /// Whether a damaged line sits before a good one (only kept in salvage mode).
    pub(crate) damaged_middle: bool,
}

/// Starts one table's entry of a record's `tables` list, up to its first `put` row: rows
/// follow, comma-separated, then [`end_table`].
pub(crate) fn begin_table(schema: &Schema, next_key: Option<i64>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"table\":");
    let _ = serde_json::to_writer(&mut *out, &schema.table);
    if let Some(k) = next_key {
        out.extend_from_slice(b",\"next_key\":");
        out.extend_from_slice(itoa::Buffer::new().format(k).as_bytes());
    }
    out.extend_from_slice(b",\"put\":[");
}

/// Ends a table's entry begun by [`begin_table`] with the keys it deleted.
pub(crate) fn end_table(deletes: &[Value], out: &mut Vec<u8>) {
    out.extend_from_slice(b"],\"delete\":[");
    for (i, k) in deletes.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        crate::storage::codec::encode_value(k, false, out);
    }
    out.extend_from_slice(b"]}");
}

/// Ends a record whose body (`{"lsn":..,"tables":[..]`) is in `line`: adds its batch (the
/// first LSN of the write call it goes out in), the closing brace, the checksum and the newline.
fn close_record(line: &mut Vec<u8>, batch: u64) {
    line.extend_from_slice(b",\"batch\":");
    line.extend_from_slice(itoa::Buffer::new().format(batch).as_bytes());
    line.push(b'}');
    seal(line);
}

/// The bytes before a record's JSON on its line: the checksum, filled in by [`seal`].
pub(crate) const LINE_PREFIX: &[u8] = b"00000000 ";

/// Finishes a line built as [`LINE_PREFIX`] then the record's JSON: writes the JSON's
/// crc32c into the prefix and ends the line. Built in place, so a big record is never copied.
pub(crate) fn seal(line: &mut Vec<u8>) {
    let crc = crc32c::crc32c(&line[LINE_PREFIX.len()..]);
    line[..8].copy_from_slice(format!("{crc:08x}").as_bytes());
    line.push(b'\n');
}

/// Wraps a record's JSON (`{"lsn":..,"tables":[..]}`) into a checksummed line.
#[cfg(test)]
pub(crate) fn frame(json: &[u8]) -> Vec<u8> {
    let mut line = LINE_PREFIX.to_vec();
    line.extend_from_slice(json);
    seal(&mut line);
    line
}

/// Checks one line (without its newline) and parses it.
pub(crate) fn parse_line(line: &[u8]) -> std::result::Result<RawRecord, String> {
    if line.len() > MAX_RECORD {
        return Err(format!(
            "line of {} bytes exceeds the {} byte cap",
            line.len(),
            MAX_RECORD
        ));
    }
    if line.iter().all(|&b| b == 0) {
        return Err("zero-filled line".into());
    }
    if line.len() < 10 || line[8] != b' ' {
        return Err("not a `<crc32c> <json>` line".into());
    }
    let crc = std::str::from_utf8(&line[..8])
        .ok()
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .ok_or("checksum is not 8 hex digits")?;
    let json = &line[9..];
    let actual = crc32c::crc32c(json);
    if actual != crc {
        return Err(format!(
            "checksum mismatch: line says {crc:08x}, content is {actual:08x}"
        ));
    }
    serde_json::from_slice(json).map_err(|e| format!("bad record: {e}"))
}

/// A damaged line followed by good ones is corruption, unless it and everything after it
/// went to the file in one write call, which a crash can tear in any order (the log is
/// preallocated, so the disk may keep a later sector of the write and lose an earlier one).
/// Then the whole write was an unfinished group commit: none of it was acknowledged, since
/// a write's records are acknowledged only after its fsync, and the next write starts only
/// after that. Each record names the first LSN of its write (`batch`), so: if every good
/// record after the first damaged line was written in a batch that began at or before the
/// damaged line, everything from the damaged line on becomes a tail.
fn torn_last_write(lines: &mut [(u64, usize, std::result::Result<RawRecord, String>)], after: u64) {
    let Some(first_bad) = lines.iter().position(|(_, _, r)| r.is_err()) else {
        return;
    };
    let prev = lines[..first_bad]
        .iter()
        .rev()
        .find_map(|(_, _, r)| r.as_ref().ok())
        .map_or(after, |r| r.lsn.max(after));
    let mut goods = lines[first_bad..]
        .iter()
        .filter_map(|(_, _, r)| r.as_ref().ok())
        .peekable();
    if goods.peek().is_none()
        || !goods.all(|r| r.batch.is_some_and(|b| b <= prev.saturating_add(1)))
    {
        return;
    }
    for (_, _, r) in &mut lines[first_bad..] {
        if let Ok(rec) = r {
            *r = Err(format!(
                "record {} was written in one go with a damaged record before it \
                 (a torn last write)",
                rec.lsn
            ));
        }
    }
}

/// Reads the log, classifying each line; see [`Recovery`] for what is fatal.
pub(crate) fn scan(path: &Path, bytes: &[u8], mode: Recovery, after_lsn: u64) -> Result<Scan> {
    let mut lines: Vec<(u64, usize, std::result::Result<RawRecord, String>)> = Vec::new();
    let mut start = 0usize;
    let mut no = 0u64;
    while start < bytes.len() {
        if bytes[start] == 0 && bytes[start..].iter().all(|&b| b == 0) {
            // Preallocated space that no commit has reached yet: the end of the log.
            break;
        }
        no += 1;
        let (end, next, terminated) = match bytes[start..].iter().position(|&b| b == b'\n') {
            Some(i) => (start + i, start + i + 1, true),
            None => (bytes.len(), bytes.len(), false),
        };
        let parsed = if terminated {
            parse_line(&bytes[start..end])
        } else {
            Err("unterminated line (an unfinished commit)".into())
        };
        lines.push((no, next, parsed));
        start = next;
    }
    torn_last_write(&mut lines, after_lsn);
    let last_good = lines.iter().rposition(|(_, _, r)| r.is_ok());
    let mut out = Scan {
        records: Vec::new(),
        dropped: Vec::new(),
        valid_len: 0,
        last_lsn: after_lsn,
        damaged_middle: false,
    };
    for (i, (no, end, parsed)) in lines.into_iter().enumerate() {
        match parsed {
            Ok(rec) => {
                out.valid_len = end as u64;
                if rec.lsn <= after_lsn {
                    continue;
                }
                if rec.lsn != out.last_lsn + 1 {
                    let reason = format!(
                        "LSN {} follows {}: records are missing",
                        rec.lsn, out.last_lsn
                    );
                    if mode == Recovery::Salvage {
                        out.dropped.push(DroppedRecord {
                            file: path.to_path_buf(),
                            line: no,
                            reason,
                        });
                        out.damaged_middle = true;
                        continue;
                    }
                    return Err(corrupt(path, no, reason));
                }
                out.last_lsn = rec.lsn;
                out.records.push((no, rec));
            }
            Err(reason) => {
                let in_middle = last_good.is_some_and(|g| i < g);
                if mode == Recovery::Strict || (in_middle && mode == Recovery::TolerateTail) {
                    let reason = if in_middle {
                        format!("{reason}, followed by good records")
                    } else {
                        reason
                    };
                    return Err(corrupt(path, no, reason));
                }
                if in_middle {
                    out.damaged_middle = true;
                } else {
                    tracing::warn!(file = %path.display(), line = no, %reason,
                        "dropping an unfinished commit at the end of the write-ahead log");
                }
                out.dropped.push(DroppedRecord {
                    file: path.to_path_buf(),
                    line: no,
                    reason,
                });
            }
        }
    }
    Ok(out)
}

/// Decodes a record's part for one table, now that its schema is known.
pub(crate) fn decode_ops(
    path: &Path,
    line: u64,
    schema: &Schema,
    ops: &RawTableOps,
) -> Result<TableChanges> {
    let puts = ops
        .put
        .iter()
        .map(|raw| {
            crate::storage::codec::decode_row(schema, raw.get())
                .map_err(|e| corrupt(path, line, format!("table {}: {e}", schema.table)))
        })
        .collect::<Result<Vec<_>>>()?;
    let deletes = ops
        .delete
        .iter()
        .map(|k| {
            crate::storage::codec::decode_key(schema, k.clone())
                .map_err(|e| corrupt(path, line, format!("table {}: {e}", schema.table)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(TableChanges { deletes, puts })
}

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
/// (measured here on ext4: ~85 µs instead of ~135 µs per commit); the scanner reads zeros at
/// a line start as the end of the log, and checkpoints and reopening cut them off.
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
    fn write(&mut self, mut buf: Vec<u8>) -> std::io::Result<()> {
        let n = buf.len() as u64;
        if self.len + n > self.allocated {
            buf.resize(buf.len() + PREALLOCATE, 0);
        }
        let at = self.len;
        self.file.write_at(at, &buf)?;
        self.allocated = self.allocated.max(at + buf.len() as u64);
        self.len = at + n;
        Ok(())
    }
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
/// With `Immediate` durability a commit queues its line (under the database's write lock, so
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
    /// Transactions started (waiting for the write lock or running) whose record is not yet
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

    pub(crate) fn failure(&self) -> Option<String> {
        if !self.poisoned.load(Ordering::Acquire) {
            return None;
        }
        lock(&self.sync).failure.clone()
    }

    /// Refuses every further write (a rotation left the log unusable).
    pub(crate) fn poison_for(&self, reason: String) {
        self.poison(reason)
    }

    fn poison(&self, reason: String) {
        let mut s = lock(&self.sync);
        s.failure.get_or_insert(reason);
        self.poisoned.store(true, Ordering::Release);
        self.synced_cv.notify_all();
    }

    /// Commits one record and returns its LSN. `body`, given the LSN, writes the record's
    /// JSON without its closing brace (`{"lsn":..,"tables":[..]`); the batch field, the brace
    /// and the checksum are added here. Called with the database's write lock held, so LSNs
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
            return Err(Error::InvalidColumnUse {
                table: "(transaction)".into(),
                column: "(all)".into(),
                reason: format!(
                    "one transaction's log record would be {} bytes, above the {} byte cap; split it",
                    line.len() + 32,
                    MAX_RECORD
                ),
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
                close_record(&mut line, lsn);
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
        if !batch.buf.is_empty() {
            lock(&self.appender).write(batch.buf)?;
        }
        // The syncer is replaced only at rotation, with the database's write lock held and
        // nothing left to sync; cloning the Arc keeps the mutex free during the fsync.
        let syncer = Arc::clone(&lock(&self.sync).syncer);
        let started = Instant::now();
        syncer.sync_data()?;
        let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last_sync_ns.store(took, Ordering::Relaxed);
        Ok(target)
    }

    /// Marks a transaction that may commit: from before it waits for the write lock until its
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
    /// and when threads stop committing the expectation shrinks by one per fsync. Measured
    /// with 4 threads on 2 cores: groups of 4 and 2.9-3.6x the 1-thread commit rate, against
    /// 1.8-2.0x without the wait.
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
    /// sleeper costs tens of microseconds per thread here, which the group would otherwise
    /// spend before its next fsync. Only during the I/O, when the leader needs no CPU (while
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
    /// way; readers and checkpoints (which may hold the write lock those transactions wait
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
    /// nothing else (before it is archived). Called with the database's write lock held and
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

    /// Replaces the log file (after rotation) with an empty one. Called with everything
    /// committed already durable and the database's write lock held.
    pub(crate) fn reset(&self, file: Box<dyn LogFile>) -> std::io::Result<()> {
        let syncer: Arc<dyn FileSync> = Arc::from(file.syncer()?);
        let mut a = lock(&self.appender);
        *a = Appender {
            file,
            len: 0,
            allocated: 0,
        };
        lock(&self.sync).syncer = syncer;
        self.bytes.store(0, Ordering::Release);
        self.records.store(0, Ordering::Release);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(lsn: u64) -> Vec<u8> {
        frame(format!(r#"{{"lsn":{lsn},"tables":[]}}"#).as_bytes())
    }

    fn log(n: u64) -> Vec<u8> {
        (1..=n).flat_map(line).collect()
    }

    #[test]
    fn good_log_scans_fully() {
        let s = scan(Path::new("w"), &log(3), Recovery::Strict, 0).unwrap();
        assert_eq!(s.records.len(), 3);
        assert_eq!(s.last_lsn, 3);
        assert_eq!(s.valid_len, log(3).len() as u64);
        let s = scan(Path::new("w"), &log(3), Recovery::Strict, 2).unwrap();
        assert_eq!(s.records.len(), 1);
    }

    #[test]
    fn every_truncation_of_the_last_line_is_a_tail() {
        let full = log(3);
        let two = log(2).len();
        for cut in two..full.len() {
            let s = scan(Path::new("w"), &full[..cut], Recovery::TolerateTail, 0).unwrap();
            assert_eq!(s.records.len(), 2, "cut at {cut}");
            assert_eq!(s.valid_len, two as u64);
            assert_eq!(s.dropped.len(), usize::from(cut > two));
            if cut > two {
                assert!(scan(Path::new("w"), &full[..cut], Recovery::Strict, 0).is_err());
            }
        }
    }

    #[test]
    fn zeros_and_garbage_at_the_end_are_a_tail() {
        // Preallocated zeros are the clean end of the log: nothing dropped, even in strict mode.
        let mut b = log(2);
        b.extend_from_slice(&[0u8; 4096]);
        let s = scan(Path::new("w"), &b, Recovery::Strict, 0).unwrap();
        assert_eq!(s.records.len(), 2);
        assert!(s.dropped.is_empty());
        assert_eq!(s.valid_len, log(2).len() as u64);
        // A commit torn inside the zeros (part of its line reached the disk) is a tail.
        let mut b = log(2);
        b.extend_from_slice(&[0u8; 100]);
        b.extend_from_slice(&line(3)[..20]);
        b.extend_from_slice(&[0u8; 100]);
        let s = scan(Path::new("w"), &b, Recovery::TolerateTail, 0).unwrap();
        assert_eq!((s.records.len(), s.dropped.len()), (2, 1));
        assert!(scan(Path::new("w"), &b, Recovery::Strict, 0).is_err());
        let mut b = log(2);
        b.extend_from_slice(&line(3)[..20]);
        b.extend_from_slice(&[0u8; 100]);
        let s = scan(Path::new("w"), &b, Recovery::TolerateTail, 0).unwrap();
        assert_eq!((s.records.len(), s.dropped.len()), (2, 1));
        let mut b = log(2);
        b.extend_from_slice(b"garbage\nmore garbage\n\x00\x01");
        let s = scan(Path::new("w"), &b, Recovery::TolerateTail, 0).unwrap();
        assert_eq!(s.records.len(), 2);
        assert_eq!(s.dropped.len(), 3);
    }

    #[test]
    fn a_flipped_byte_in_the_middle_is_corruption() {
        let mut b = log(3);
        let at = line(1).len() + 20;
        b[at] ^= 0x20;
        let e = scan(Path::new("w"), &b, Recovery::TolerateTail, 0).unwrap_err();
        match e {
            Error::Corrupt { line, reason, .. } => {
                assert_eq!(line, 2);
                assert!(reason.contains("followed by good records"), "{reason}");
            }
            other => panic!("{other}"),
        }
        let s = scan(Path::new("w"), &b, Recovery::Salvage, 0).unwrap();
        // Salvage keeps line 1, drops line 2, and line 3 no longer follows: dropped too.
        assert_eq!(s.records.len(), 1);
        assert_eq!(s.dropped.len(), 2);
        assert!(s.damaged_middle);
    }

    /// A record written in a write call that began with record `batch`.
    fn line_in(lsn: u64, batch: u64) -> Vec<u8> {
        frame(format!(r#"{{"lsn":{lsn},"tables":[],"batch":{batch}}}"#).as_bytes())
    }

    /// Damages (zeroes) a stretch of `line`, as a lost sector would.
    fn damaged(mut line: Vec<u8>) -> Vec<u8> {
        line[3..12].fill(0);
        line
    }

    #[test]
    fn a_torn_last_write_is_a_tail_even_with_good_records_after_the_damage() {
        // Records 1 and 2 each went out alone; 3, 4 and 5 in one write that a crash tore:
        // 3 lost a sector, 4 and 5 made it.
        let mut b = line_in(1, 1);
        b.extend(line_in(2, 2));
        b.extend(damaged(line_in(3, 3)));
        b.extend(line_in(4, 3));
        b.extend(line_in(5, 3));
        b.extend_from_slice(&[0u8; 512]);
        let s = scan(Path::new("w"), &b, Recovery::TolerateTail, 0).unwrap();
        assert_eq!(s.records.len(), 2);
        assert_eq!(s.last_lsn, 2);
        assert_eq!(s.dropped.len(), 3);
        assert!(!s.damaged_middle);
        assert_eq!(
            s.valid_len,
            (line_in(1, 1).len() + line_in(2, 2).len()) as u64
        );
        assert!(scan(Path::new("w"), &b, Recovery::Strict, 0).is_err());
        // The write may have begun before the damage: 2 went out with 3, 4 and 5.
        let mut b = line_in(1, 1);
        b.extend(line_in(2, 2));
        b.extend(damaged(line_in(3, 2)));
        b.extend(line_in(4, 2));
        let s = scan(Path::new("w"), &b, Recovery::TolerateTail, 0).unwrap();
        assert_eq!((s.records.len(), s.dropped.len()), (2, 2));
    }

    #[test]
    fn damage_before_a_later_write_is_corruption() {
        // 3 went out alone and was fsynced before 4's write began: its damage is not a crash.
        let mut b = line_in(1, 1);
        b.extend(line_in(2, 2));
        b.extend(damaged(line_in(3, 3)));
        b.extend(line_in(4, 4));
        let e = scan(Path::new("w"), &b, Recovery::TolerateTail, 0).unwrap_err();
        assert!(matches!(e, Error::Corrupt { line: 3, .. }), "{e}");
        // Likewise when only some of the records after it share its write.
        let mut b = line_in(1, 1);
        b.extend(damaged(line_in(2, 2)));
        b.extend(line_in(3, 2));
        b.extend(line_in(4, 4));
        assert!(scan(Path::new("w"), &b, Recovery::TolerateTail, 0).is_err());
        // And records without a batch (older logs) keep the strict rule.
        let mut b = line(1);
        b.extend(damaged(line(2)));
        b.extend(line(3));
        assert!(scan(Path::new("w"), &b, Recovery::TolerateTail, 0).is_err());
    }

    #[test]
    fn lsn_gaps_are_corruption() {
        let mut b = line(1);
        b.extend(line(3));
        assert!(scan(Path::new("w"), &b, Recovery::TolerateTail, 0).is_err());
        // A log that starts after the checkpoint plus one has lost records.
        assert!(scan(Path::new("w"), &line(5), Recovery::TolerateTail, 3).is_err());
    }
}
