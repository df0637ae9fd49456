//! The write-ahead log: one committed transaction per line,
//! `<crc32c of the JSON, 8 hex digits> <json>\n`, where the JSON is
//! `{"lsn":N,"tables":[{"table":"t","create":{schema},"next_key":K,"put":[{row},...],"delete":[key,...]}],"batch":B}`.
//!
//! `put` holds the final image of every row the transaction wrote and `delete` the keys that
//! no longer exist, so replaying a line twice gives the same state. `create` is present on
//! the record of the transaction that created the table: a table's creation commits (or
//! not) with that transaction's line. A line is the unit of atomicity: recovery drops an
//! unfinished (unterminated, checksum-failing or zero-filled) last write, and refuses a
//! damaged line followed by good ones.
//!
//! One job per module: [`line`](mod@line) is the line format (writing and checking one line),
//! [`scan`] the recovery scan every reader of a log shares, [`decode`] turns a record's
//! rows into values once the table's schema is known, [`writer`] appends and fsyncs with
//! group commit, and [`listing`] is the log as `tabula wal` lists it.

pub(crate) mod decode;
pub(crate) mod line;
pub(crate) mod listing;
pub(crate) mod scan;
pub(crate) mod writer;

pub use listing::{log_records, LogRecord};
pub use scan::{DroppedRecord, Recovery};
pub use writer::Durability;

/// The largest log line accepted, written or read (256 MiB): a bound on what recovery will
/// try to parse, and on one transaction.
pub(crate) const MAX_RECORD: usize = 256 << 20;

/// The largest LSN any file may carry (2^62). LSNs count commits from 1, one by one: no
/// database reaches this (a million commits a second would take 146,000 years). A larger
/// one is damage, and trusting it would leave the next commits' LSNs past `u64::MAX`,
/// where they wrap and every later commit reads as older than the last checkpoint.
pub(crate) const MAX_LSN: u64 = 1 << 62;
