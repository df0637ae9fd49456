//! The recovery scan: reads a log, classifies every line, and decides what is an unfinished
//! last write (dropped) and what is damage (an error, unless salvaging). Opening a database,
//! `verify` and `tabula wal` all read a log through [`lines`], so they agree on where it
//! ends and on what is wrong with it.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::storage::wal::line::{
    damaged_next_keys, lost_blocks, parse_line, record_inside, record_run_on, BadLine, BreakDamage,
    RawRecord, LOST_BLOCK,
};

/// How `Database::open` treats a damaged write-ahead log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Recovery {
    /// Any damaged line, even an unfinished last one, fails the open with `Error::Corrupt`.
    Strict,
    /// An unfinished last commit is dropped (with a warning) and cut off before the next
    /// append; a damaged line followed by good ones fails the open with `Error::Corrupt`, as
    /// does a last line that is whole and matches its checksum but cannot be read (a commit
    /// written whole, which is no unfinished one).
    #[default]
    TolerateTail,
    /// Every record that can be read and follows the ones before it is kept; damaged
    /// lines, and the records after the gap they leave (which may depend on what was lost),
    /// are dropped and reported in
    /// [`Database::recovery_report`](crate::Database::recovery_report). No key those
    /// dropped lines handed out (as far as their text tells) is handed out again.
    /// `tabula repair` keeps more: it replays the records after a gap, checking them.
    Salvage,
}

/// A line recovery dropped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedRecord {
    /// The file it was in (`wal/transaction.log`, or a snapshot in salvage mode).
    pub file: PathBuf,
    /// The 1-based line (0 when the whole file was unreadable).
    pub line: u64,
    /// Why it could not be used.
    pub reason: String,
    /// Where its bytes were kept when the open cut them from the log
    /// (`wal/transaction.<lsn>.damaged`); `None` when they stay where they were.
    pub kept_in: Option<PathBuf>,
}

/// One line of a log, classified.
#[derive(Debug)]
pub(crate) struct ScannedLine {
    /// The 1-based line number.
    pub(crate) no: u64,
    /// The byte just after the line (after its newline).
    pub(crate) end: usize,
    /// Where the line's text is, without its newline (or its damaged line break).
    pub(crate) text: std::ops::Range<usize>,
    /// The record, or why the line cannot be used.
    pub(crate) parsed: std::result::Result<RawRecord, String>,
    /// Whether the line is whole and its checksum matches (see [`BadLine::sealed`]): one
    /// that does not read is then damage wherever it is, never an unfinished commit.
    pub(crate) sealed: bool,
    /// What stands where the line's newline should be, when its line break was damaged
    /// (see [`record_run_on`]): the line is the whole record before it, and the next line
    /// starts after it. A writable or read-only open refuses it; salvaging and `repair`
    /// keep the record.
    pub(crate) damaged_break: Option<BreakDamage>,
    /// A whole record before zeros that took its line break and what followed it (see
    /// [`record_inside`]), with the zeros' length: failed until the torn-write rule
    /// has decided, then kept with its damaged line break unless the write was torn.
    held: Option<(RawRecord, usize)>,
}

impl ScannedLine {
    /// Whether this line, the last of the log `bytes` it was read from, is a commit that was
    /// never finished: it does not read, is not sealed, and runs to the end of the file
    /// (through the preallocated zeros) without a newline. While a writer has the database
    /// open, that is the commit it is writing; after a crash, one the crash cut.
    pub(crate) fn unfinished_in(&self, bytes: &[u8]) -> bool {
        self.parsed.is_err()
            && !self.sealed
            && self.end == bytes.len()
            && bytes.last() != Some(&b'\n')
    }
}

/// Why a record whose LSN is not above `last`, the LSN read before it, cannot be replayed.
pub(crate) fn repeated_lsn(lsn: u64, last: u64) -> String {
    format!("LSN {lsn} again after {last}: a record repeated or out of order")
}

/// Splits a log into lines and checks each. Zeros where a line would start are the end of
/// the log (preallocated space no commit has reached); an unterminated last line is an
/// unfinished commit; and good records written in one go with a damaged one before them are
/// marked as part of that torn write (see [`torn_last_write`]). `after_lsn` is the LSN the
/// last checkpoint covers.
pub(crate) fn lines(bytes: &[u8], after_lsn: u64) -> Vec<ScannedLine> {
    let mut lines = Vec::new();
    let mut start = 0usize;
    let mut no = 0u64;
    // The rest of a line after a damaged line break, when something is left of it: its
    // end, the byte after its newline, and whether it has one.
    let mut rest_of_line: Option<(usize, usize, bool)> = None;
    while start < bytes.len() {
        if bytes[start] == 0 && bytes[start..].iter().all(|&b| b == 0) {
            break;
        }
        let continued = rest_of_line.take();
        let (line_end, line_next, line_terminated) = match continued {
            Some(rest) => rest,
            None => {
                // Numbered as an editor numbers the file: what runs on from a damaged
                // line break is on the same line.
                no += 1;
                match bytes[start..].iter().position(|&b| b == b'\n') {
                    Some(i) => (start + i, start + i + 1, true),
                    None => (bytes.len(), bytes.len(), false),
                }
            }
        };
        let (mut end, mut next, terminated) = (line_end, line_next, line_terminated);
        // A good line is read as it is; only one that fails (or what runs on from a
        // damaged break, which is looked at record by record, so that a line of many runs
        // costs its length once) is searched for a whole record followed by a byte other
        // than its newline (nor the zero a crash leaves): the line break was damaged, and
        // what follows is the next line.
        let mut first = (terminated && continued.is_none()).then(|| parse_line(&bytes[start..end]));
        let mut damaged_break = None;
        let mut held = None;
        // What stands before a whole record inside the line is no crash's work (see
        // `before_record`): damage wherever it is, as a sealed line is.
        let mut no_crash = false;
        if !matches!(first, Some(Ok(_))) {
            if let Some(run) = record_run_on(&bytes[start..end], terminated, start) {
                damaged_break = Some(run.damage);
                if run.damage.ends_the_line() {
                    // Bytes put in just before the newline (a carriage return): nothing
                    // of the line is left after them.
                    next = line_next;
                } else {
                    rest_of_line = Some((line_end, line_next, line_terminated));
                    next = start + run.len + run.damage.width();
                }
                end = start + run.len;
                first = Some(parse_line(&bytes[start..end]));
            } else if let Some(record) = terminated
                .then(|| record_inside(&bytes[start..end]))
                .flatten()
            {
                // A whole record inside the line: what stands before it took a line break,
                // and is a line that failed; the record starts the next. (Not in a last
                // line without its newline: a commit still being written, which a
                // read-only open leaves out unread.)
                let zeros = bytes[start..start + record]
                    .iter()
                    .rev()
                    .take_while(|&&b| b == 0)
                    .count();
                rest_of_line = Some((line_end, line_next, line_terminated));
                next = start + record;
                end = start + record - zeros;
                // After a newline (not a damaged break) lost blocks may start anywhere.
                let at_line_start = start == end && continued.is_none();
                let lost = lost_blocks(end, next, at_line_start);
                let (reason, whole) = before_record(&bytes[start..end], zeros, lost);
                match whole {
                    // Whole, but no crash took its line break: damage to it.
                    Some(rec) if !lost => {
                        damaged_break = Some(BreakDamage::Zeroed(zeros));
                        first = Some(Ok(rec));
                    }
                    whole => {
                        no_crash = !lost;
                        held = whole.map(|rec| (rec, zeros));
                        first = Some(Err(BadLine {
                            reason,
                            sealed: false,
                        }));
                    }
                }
            } else if first.is_none() && terminated {
                first = Some(parse_line(&bytes[start..end]));
            }
        }
        let (parsed, sealed) = if let Some(first) = first {
            match first {
                Ok(rec) => (Ok(rec), true),
                // A whole line whose checksum matches was written as it is: a commit that
                // does not read (damaged before its checksum was taken, or of a newer
                // format), never an unfinished one.
                Err(BadLine {
                    reason,
                    sealed: true,
                }) => (
                    Err(format!(
                        "{reason} (its checksum matches: a complete commit, not a tail)"
                    )),
                    true,
                ),
                Err(BadLine { reason, .. }) => (Err(reason), false),
            }
        } else {
            (
                Err("unterminated line (an unfinished commit)".into()),
                false,
            )
        };
        let sealed = sealed || no_crash;
        lines.push(ScannedLine {
            no,
            end: next,
            text: start..end,
            parsed,
            sealed,
            damaged_break,
            held,
        });
        start = next;
    }
    if !torn_last_write(&mut lines, after_lsn) {
        // A whole record whose line break zeros took, in no torn write: damage to its line
        // break, and the record is kept where damage is.
        for l in &mut lines {
            if let Some((rec, zeros)) = l.held.take() {
                l.parsed = Ok(rec);
                l.sealed = true;
                l.damaged_break = Some(BreakDamage::Zeroed(zeros));
            }
        }
    }
    lines
}

/// Why the text before a whole record inside a line (see [`record_inside`]), and the
/// `zeros` between them, cannot be used: they took a line break, if nothing else. A crash
/// leaves only `lost` blocks there ([`lost_blocks`]); anything else is no crash's work (the
/// caller makes it damage wherever it is). A whole record before them is returned too:
/// unless they are a torn write's, it is kept.
fn before_record(text: &[u8], zeros: usize, lost: bool) -> (String, Option<RawRecord>) {
    let (found, whole) = if text.is_empty() {
        (
            format!("{zeros} zero bytes where a line should start"),
            None,
        )
    } else {
        match parse_line(text) {
            Ok(rec) => (
                format!(
                    "record {} is whole, but {zeros} zero bytes took its line break and what \
                     followed it",
                    rec.lsn
                ),
                Some(rec),
            ),
            Err(bad) if zeros == 0 => (format!("{}; no line break follows it", bad.reason), None),
            Err(bad) => (
                format!("{}; {zeros} zero bytes then took its end", bad.reason),
                None,
            ),
        }
    };
    if lost {
        (format!("{found}, then a whole record"), whole)
    } else {
        let reason = format!(
            "{found}, then a whole record (bytes no crash leaves: it loses whole blocks of \
             {LOST_BLOCK} bytes)"
        );
        (reason, whole)
    }
}

/// A damaged line followed by good ones is corruption, unless it and everything after it
/// went to the file in one write call, which a crash can tear in any order (the log is
/// preallocated, so the disk may keep a later sector of the write and lose an earlier one).
/// Then the whole write was an unfinished group commit: none of it was acknowledged, since
/// a write's records are acknowledged only after its fsync, and the next write starts only
/// after that. Each record names the first LSN of its write (`batch`), so: if every good
/// record after the first damaged line was written in a batch that began at or before the
/// damaged line, everything from the damaged line on becomes a tail (and this returns
/// true). But when the first good record after it is the very next LSN, the damaged line
/// held no record a write put there (bytes that should not be there, or a record's line
/// break it took): the record after it may have been acknowledged whatever its batch, and
/// the damage is reported.
fn torn_last_write(lines: &mut [ScannedLine], after: u64) -> bool {
    let Some(first_bad) = lines.iter().position(|l| l.parsed.is_err()) else {
        return false;
    };
    // A line sealed whole that does not read is no write a crash tore: damage to report.
    if lines[first_bad..]
        .iter()
        .any(|l| l.sealed && l.parsed.is_err())
    {
        return false;
    }
    let prev = lines[..first_bad]
        .iter()
        .rev()
        .find_map(|l| l.parsed.as_ref().ok())
        .map_or(after, |r| r.lsn.max(after));
    let mut goods = lines[first_bad..]
        .iter()
        .filter_map(|l| l.parsed.as_ref().ok())
        .peekable();
    if goods.peek().is_none_or(|r| r.lsn == prev.saturating_add(1))
        || !goods.all(|r| r.batch.is_some_and(|b| b <= prev.saturating_add(1)))
    {
        return false;
    }
    for l in &mut lines[first_bad..] {
        // Whatever the write put down whole is as unfinished as the rest of it.
        l.sealed = false;
        if let Ok(rec) = &l.parsed {
            l.parsed = Err(format!(
                "record {} was written in one go with a damaged record before it \
                 (a torn last write)",
                rec.lsn
            ));
        }
    }
    true
}

/// What is wrong with a line whose line break was damaged.
pub(crate) fn damaged_break_found(damage: BreakDamage) -> String {
    let what = match damage {
        BreakDamage::Replaced(byte) => format!("byte 0x{byte:02x} where its newline was"),
        BreakDamage::Zeroed(1) => "byte 0x00 where its newline was".to_owned(),
        BreakDamage::Zeroed(zeros) => format!("{zeros} zero bytes where its newline was"),
        BreakDamage::Deleted => "its newline is missing".to_owned(),
        BreakDamage::TrailingZeros(zeros) => {
            return format!(
                "the line break after this whole record was damaged ({zeros} zero bytes \
                 before its newline, where no crash leaves them, and no line runs on from \
                 them)"
            )
        }
        BreakDamage::Trailing(byte) => {
            return format!(
                "the line break after this whole record was damaged (byte 0x{byte:02x} \
                 after it, and no line runs on from it: a line ending changed?)"
            )
        }
    };
    format!(
        "the line break after this whole record was damaged ({what}), joining the next line to it"
    )
}

/// Why a line of the log whose line break was damaged is reported, and what repair does.
pub(crate) fn damaged_break_reason(damage: BreakDamage) -> String {
    let keeps = if damage.ends_the_line() {
        "the record"
    } else {
        "both"
    };
    format!(
        "{}: `tabula repair` keeps {keeps}",
        damaged_break_found(damage)
    )
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
    /// Where the text of each record kept is, in order: the log without its damage (nor
    /// the records the checkpoint covers, which an earlier checkpoint archived), when
    /// salvaging.
    pub(crate) kept_text: Vec<std::ops::Range<usize>>,
    /// The next keys the lines dropped gave their tables (damaged lines, as far as their
    /// text tells, and when salvaging, records after a gap): their rows are lost, but their
    /// keys may have been handed out, and are not handed out again.
    pub(crate) lost_next_keys: Vec<(String, i64)>,
}

/// Reads the log, classifying each line; see [`Recovery`] for what is fatal.
pub(crate) fn scan(path: &Path, bytes: &[u8], mode: Recovery, after_lsn: u64) -> Result<Scan> {
    let lines = lines(bytes, after_lsn);
    let last_good = lines.iter().rposition(|l| l.parsed.is_ok());
    let mut out = Scan {
        records: Vec::new(),
        dropped: Vec::new(),
        valid_len: 0,
        last_lsn: after_lsn,
        damaged_middle: false,
        kept_text: Vec::new(),
        lost_next_keys: Vec::new(),
    };
    let dropped = |no: u64, reason: String| DroppedRecord {
        file: path.to_path_buf(),
        line: no,
        reason,
        kept_in: None,
    };
    for (i, l) in lines.into_iter().enumerate() {
        if let Some(damage) = l.damaged_break {
            let reason = damaged_break_reason(damage);
            if mode != Recovery::Salvage {
                return Err(Error::corrupt(path, l.no, reason));
            }
            // Kept: the record is whole. The log is rewritten by the checkpoint a
            // salvaging open makes, so that the damage does not stay in it.
            tracing::warn!(file = %path.display(), line = l.no, %reason, "salvage: a damaged line break");
            out.damaged_middle = true;
        }
        match l.parsed {
            Ok(rec) => {
                out.valid_len = l.end as u64;
                if rec.lsn <= after_lsn {
                    continue;
                }
                if rec.lsn != out.last_lsn + 1 {
                    let reason = if rec.lsn <= out.last_lsn {
                        repeated_lsn(rec.lsn, out.last_lsn)
                    } else {
                        format!(
                            "LSN {} follows {}: records are missing",
                            rec.lsn, out.last_lsn
                        )
                    };
                    if mode == Recovery::Salvage {
                        out.dropped.push(dropped(l.no, reason));
                        out.damaged_middle = true;
                        out.lost_next_keys.extend(
                            rec.tables
                                .into_iter()
                                .filter_map(|t| Some((t.table, t.next_key?))),
                        );
                        continue;
                    }
                    return Err(Error::corrupt(path, l.no, reason));
                }
                out.last_lsn = rec.lsn;
                out.records.push((l.no, rec));
                out.kept_text.push(l.text);
            }
            Err(reason) => {
                let in_middle = last_good.is_some_and(|g| i < g);
                // A sealed line (see `lines`) dropped as a tail would be a commit lost
                // without a word.
                if mode == Recovery::Strict
                    || ((in_middle || l.sealed) && mode == Recovery::TolerateTail)
                {
                    let reason = if in_middle {
                        format!("{reason}, followed by good records")
                    } else {
                        reason
                    };
                    return Err(Error::corrupt(path, l.no, reason));
                }
                // A damaged tail too may have been acknowledged (damage is not always a
                // crash's): a key skipped costs nothing.
                out.lost_next_keys
                    .extend(damaged_next_keys(&bytes[l.text.clone()]));
                if in_middle {
                    out.damaged_middle = true;
                } else if l.sealed {
                    tracing::warn!(file = %path.display(), line = l.no, %reason,
                        "salvage: dropping an unreadable commit at the end of the write-ahead log");
                } else {
                    tracing::warn!(file = %path.display(), line = l.no, %reason,
                        "dropping an unfinished commit at the end of the write-ahead log");
                }
                out.dropped.push(dropped(l.no, reason));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::wal::line::frame;

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

    /// A last line that is whole and matches its checksum was a commit written whole: one
    /// that cannot be read is damage, not a tail to drop, unless salvaging.
    #[test]
    fn a_sealed_unreadable_last_line_is_damage() {
        let mut b = log(2);
        b.extend(frame(
            br#"{"lsn":3,"tables":[{"table":"t","put":[{"v":NaN}]}]}"#,
        ));
        for mode in [Recovery::TolerateTail, Recovery::Strict] {
            let e = scan(Path::new("w"), &b, mode, 0).unwrap_err();
            assert!(
                matches!(&e, Error::Corrupt { line: 3, reason, .. }
                    if reason.contains("its checksum matches")),
                "{mode:?}: {e}"
            );
        }
        let s = scan(Path::new("w"), &b, Recovery::Salvage, 0).unwrap();
        assert_eq!((s.records.len(), s.dropped.len()), (2, 1));
        assert_eq!(s.valid_len, log(2).len() as u64);
        // The same bytes with the checksum broken are an unfinished commit.
        let mut torn = b.clone();
        let at = log(2).len();
        torn[at] = if torn[at] == b'0' { b'1' } else { b'0' };
        let s = scan(Path::new("w"), &torn, Recovery::TolerateTail, 0).unwrap();
        assert_eq!((s.records.len(), s.dropped.len()), (2, 1));
    }

    /// Line breaks damaged into carriage returns: each record is found whole, numbered on
    /// the line an editor shows it on, and a byte put in just before a newline leaves no
    /// empty line after it. Opens refuse the damage; salvaging keeps every record.
    #[test]
    fn records_run_on_from_damaged_line_breaks_are_split() {
        let mut b = Vec::new();
        for lsn in 1..=3 {
            let mut l = line(lsn);
            *l.last_mut().unwrap() = b'\r';
            b.extend(l);
        }
        b.push(b'\n');
        b.extend(line(4));
        let found: Vec<_> = lines(&b, 0)
            .iter()
            .map(|l| (l.no, l.parsed.as_ref().map(|r| r.lsn).ok(), l.damaged_break))
            .collect();
        assert_eq!(
            found,
            vec![
                (1, Some(1), Some(BreakDamage::Replaced(b'\r'))),
                (1, Some(2), Some(BreakDamage::Replaced(b'\r'))),
                (1, Some(3), Some(BreakDamage::Trailing(b'\r'))),
                (2, Some(4), None)
            ]
        );
        for mode in [Recovery::TolerateTail, Recovery::Strict] {
            let e = scan(Path::new("w"), &b, mode, 0).unwrap_err();
            assert!(
                matches!(&e, Error::Corrupt { line: 1, reason, .. }
                    if reason.contains("byte 0x0d where its newline was")),
                "{mode:?}: {e}"
            );
        }
        let s = scan(Path::new("w"), &b, Recovery::Salvage, 0).unwrap();
        assert_eq!((s.records.len(), s.last_lsn), (4, 4));
        assert_eq!(s.valid_len, b.len() as u64);
        assert!(s.damaged_middle);
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
                let e = scan(Path::new("w"), &full[..cut], Recovery::Strict, 0).unwrap_err();
                assert!(matches!(e, Error::Corrupt { line: 3, .. }), "{e}");
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
        let e = scan(Path::new("w"), &b, Recovery::Strict, 0).unwrap_err();
        assert!(matches!(e, Error::Corrupt { line: 3, .. }), "{e}");
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
        let e = scan(Path::new("w"), &b, Recovery::Strict, 0).unwrap_err();
        assert!(matches!(e, Error::Corrupt { line: 3, .. }), "{e}");
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
        let e = scan(Path::new("w"), &b, Recovery::TolerateTail, 0).unwrap_err();
        assert!(matches!(e, Error::Corrupt { line: 2, .. }), "{e}");
        // And records without a batch (older logs) keep the strict rule.
        let mut b = line(1);
        b.extend(damaged(line(2)));
        b.extend(line(3));
        let e = scan(Path::new("w"), &b, Recovery::TolerateTail, 0).unwrap_err();
        assert!(matches!(e, Error::Corrupt { line: 2, .. }), "{e}");
    }

    /// Zeros over a whole record's line break and the records after it, up to a later whole
    /// record: in one write with it, a torn tail (cut from the whole record on); the later
    /// record written alone, damage, and the whole record is kept with its line break
    /// reported. A last line without its newline is not split (a commit being written).
    #[test]
    fn a_whole_record_before_zeros_is_kept_unless_its_write_was_torn() {
        // The second record's newline at a block's start, and a block lost from there.
        let zeroed_off = |shift: usize, batch: u64| {
            let mut second = line_in(2, 2);
            let mut b = padded_line(1, 1, LOST_BLOCK + 1 - second.len() + shift);
            *second.last_mut().unwrap() = 0;
            b.extend(second);
            b.extend([0; LOST_BLOCK - 1]);
            b.extend(line_in(5, batch));
            b
        };
        let zeroed = |batch: u64| zeroed_off(0, batch);
        let found = |b: &[u8]| {
            lines(b, 0)
                .iter()
                .map(|l| (l.no, l.parsed.as_ref().map(|r| r.lsn).ok(), l.damaged_break))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            found(&zeroed(5)),
            vec![
                (1, Some(1), None),
                (2, Some(2), Some(BreakDamage::Zeroed(LOST_BLOCK))),
                (2, Some(5), None)
            ]
        );
        let e = scan(Path::new("w"), &zeroed(5), Recovery::TolerateTail, 0).unwrap_err();
        assert!(matches!(e, Error::Corrupt { line: 2, .. }), "{e}");
        let s = scan(Path::new("w"), &zeroed(5), Recovery::Salvage, 0).unwrap();
        assert_eq!(
            s.records.iter().map(|r| r.1.lsn).collect::<Vec<_>>(),
            [1, 2]
        );
        // Records 2 to 5 in one write, blocks of it lost: none was acknowledged.
        let s = scan(Path::new("w"), &zeroed(2), Recovery::TolerateTail, 0).unwrap();
        assert_eq!((s.records.len(), s.dropped.len()), (1, 2));
        assert_eq!(s.valid_len, (LOST_BLOCK + 1 - line_in(2, 2).len()) as u64);
        // Zeros off the blocks' boundaries are no crash's: the record before them is kept.
        let e = scan(Path::new("w"), &zeroed_off(1, 2), Recovery::TolerateTail, 0).unwrap_err();
        assert!(matches!(e, Error::Corrupt { line: 2, .. }), "{e}");
        // Without its newline, the last line is left whole for the tail rules.
        let mut b = zeroed(5);
        b.pop();
        let s = scan(Path::new("w"), &b, Recovery::TolerateTail, 0).unwrap();
        assert_eq!((s.records.len(), s.dropped.len()), (1, 1));
    }

    /// A write that began inside a block holding the end of the one before, that block
    /// lost: the earlier bytes stay, then zeros to the block's end, fewer than a block, then
    /// what the write put in the next block (a whole record, here). A crash's work: the
    /// batch rule cuts the write. The same zeros ending off a block's boundary are damage.
    #[test]
    fn a_lost_block_shared_with_the_write_before_is_a_torn_write() {
        let first = padded_line(1, 1, 450);
        let log = |zeros: usize, batch: u64| {
            let mut b = first.clone();
            b.extend(vec![0; zeros]);
            b.extend(line_in(4, batch));
            b
        };
        let s = scan(
            Path::new("w"),
            &log(LOST_BLOCK - 450, 2),
            Recovery::TolerateTail,
            0,
        )
        .unwrap();
        assert_eq!((s.records.len(), s.dropped.len()), (1, 2));
        assert_eq!(s.valid_len, 450);
        let e = scan(
            Path::new("w"),
            &log(LOST_BLOCK - 449, 2),
            Recovery::TolerateTail,
            0,
        )
        .unwrap_err();
        assert!(
            matches!(&e, Error::Corrupt { line: 2, reason, .. } if reason.contains("no crash leaves")),
            "{e}"
        );
        // Written alone after the first, the record was acknowledged: damage.
        let e = scan(
            Path::new("w"),
            &log(LOST_BLOCK - 450, 4),
            Recovery::TolerateTail,
            0,
        )
        .unwrap_err();
        assert!(matches!(e, Error::Corrupt { line: 2, .. }), "{e}");
    }

    /// A record of `len` bytes on its line (newline included), padded with a field the
    /// reader passes over.
    fn padded_line(lsn: u64, batch: u64, len: usize) -> Vec<u8> {
        let bare = line_in(lsn, batch).len() + r#","pad":"""#.len();
        let pad = "p".repeat(len - bare);
        frame(format!(r#"{{"lsn":{lsn},"tables":[],"batch":{batch},"pad":"{pad}"}}"#).as_bytes())
    }

    /// Bytes no writer puts down give an answer, not a panic: a whole record claiming the
    /// largest LSN with zeros and another record after it.
    #[test]
    fn a_record_at_the_largest_lsn_before_zeros_does_not_panic() {
        let mut b = frame(format!(r#"{{"lsn":{},"tables":[]}}"#, u64::MAX).as_bytes());
        *b.last_mut().unwrap() = 0;
        b.extend([0; 3]);
        b.extend(line_in(1, 1));
        let found = lines(&b, 0);
        assert_eq!(found.len(), 2);
        assert!(found[0].parsed.is_err() && found[1].parsed.is_ok());
    }

    #[test]
    fn lsn_gaps_are_corruption() {
        let mut b = line(1);
        b.extend(line(3));
        let e = scan(Path::new("w"), &b, Recovery::TolerateTail, 0).unwrap_err();
        assert!(matches!(e, Error::Corrupt { line: 2, .. }), "{e}");
        // A log that starts after the checkpoint plus one has lost records.
        let e = scan(Path::new("w"), &line(5), Recovery::TolerateTail, 3).unwrap_err();
        assert!(matches!(e, Error::Corrupt { line: 1, .. }), "{e}");
    }
}
