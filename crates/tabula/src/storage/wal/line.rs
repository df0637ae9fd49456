//! One line of the log: how a record is written (built in place, then sealed with its
//! checksum) and how a line is checked and parsed back.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::json_text::object_end;
use crate::schema::Schema;
use crate::storage::codec::{encode_value, RowsWriter};
use crate::storage::wal::{MAX_LSN, MAX_RECORD};
use crate::value::Value;

/// One table's part of a log record, rows still undecoded.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RawTableOps {
    pub(crate) table: String,
    /// The table's schema, on the record of the transaction that created it.
    #[serde(default)]
    pub(crate) create: Option<Schema>,
    #[serde(default)]
    pub(crate) next_key: Option<i64>,
    #[serde(default)]
    pub(crate) put: Vec<Box<RawValue>>,
    #[serde(default)]
    pub(crate) delete: Vec<Value>,
}

impl RawTableOps {
    /// An entry that writes nothing and raises the table's next key to `next_key`.
    pub(crate) fn next_key_only(table: String, next_key: i64) -> Self {
        RawTableOps {
            table,
            create: None,
            next_key: Some(next_key),
            put: Vec::new(),
            delete: Vec::new(),
        }
    }
}

/// A parsed log record.
#[derive(Debug, Deserialize)]
pub(crate) struct RawRecord {
    pub(crate) lsn: u64,
    pub(crate) tables: Vec<RawTableOps>,
    /// The LSN of the first record written to the file in the same write call (a group
    /// commit writes several at once). Absent in logs written before it was recorded.
    #[serde(default)]
    pub(crate) batch: Option<u64>,
}

/// The bytes before a record's JSON on its line: the checksum, filled in by [`seal`].
pub(crate) const LINE_PREFIX: &[u8] = b"00000000 ";

/// Writes a record's JSON, `{"lsn":N,"tables":[...]` (the closing brace comes with the
/// record's batch, see [`close_record`]): its tables' entries one after the other, rows
/// encoded one at a time straight into the line.
pub(crate) struct RecordWriter<'o> {
    out: &'o mut Vec<u8>,
    tables: usize,
}

impl<'o> RecordWriter<'o> {
    pub(crate) fn new(lsn: u64, out: &'o mut Vec<u8>) -> Self {
        out.extend_from_slice(b"{\"lsn\":");
        out.extend_from_slice(itoa::Buffer::new().format(lsn).as_bytes());
        out.extend_from_slice(b",\"tables\":[");
        RecordWriter { out, tables: 0 }
    }

    /// Adds one table's entry: `put` writes the final image of every row the transaction
    /// wrote and returns the keys it deleted; `create` records the table's creation (its
    /// schema); `next_key` is its auto-increment counter.
    pub(crate) fn table(
        &mut self,
        schema: &Schema,
        create: bool,
        next_key: Option<i64>,
        put: impl FnOnce(&mut RowsWriter<'_>) -> crate::error::Result<Vec<Value>>,
    ) -> crate::error::Result<()> {
        if self.tables > 0 {
            self.out.push(b',');
        }
        self.tables += 1;
        begin_table(schema, create, next_key, self.out)?;
        let deletes = put(&mut RowsWriter::new(schema, self.out, b","))?;
        end_table(&deletes, self.out);
        Ok(())
    }

    /// Ends the list of tables.
    pub(crate) fn finish(self) {
        self.out.push(b']');
    }
}

/// Starts one table's entry of a record's `tables` list, up to its first `put` row: rows
/// follow, comma-separated, then [`end_table`]. `create` is the schema of a table the
/// transaction created.
fn begin_table(
    schema: &Schema,
    create: bool,
    next_key: Option<i64>,
    out: &mut Vec<u8>,
) -> crate::error::Result<()> {
    out.extend_from_slice(b"{\"table\":");
    // Serializing a string or a schema into a Vec cannot fail; the error is kept for form.
    serde_json::to_writer(&mut *out, &schema.table).map_err(|e| json_error(schema, e))?;
    if create {
        out.extend_from_slice(b",\"create\":");
        serde_json::to_writer(&mut *out, schema).map_err(|e| json_error(schema, e))?;
    }
    if let Some(k) = next_key {
        out.extend_from_slice(b",\"next_key\":");
        out.extend_from_slice(itoa::Buffer::new().format(k).as_bytes());
    }
    out.extend_from_slice(b",\"put\":[");
    Ok(())
}

fn json_error(schema: &Schema, e: serde_json::Error) -> crate::error::Error {
    crate::error::Error::Json {
        context: format!("log record of table {}", schema.table),
        source: e,
    }
}

/// Ends a table's entry begun by [`begin_table`] with the keys it deleted.
fn end_table(deletes: &[Value], out: &mut Vec<u8>) {
    out.extend_from_slice(b"],\"delete\":[");
    for (i, k) in deletes.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        encode_value(k, false, out);
    }
    out.extend_from_slice(b"]}");
}

/// Ends a record whose body (`{"lsn":..,"tables":[..]`) is in `line`: adds its batch (the
/// first LSN of the write call it goes out in), the closing brace, the checksum and the
/// newline.
pub(crate) fn close_record(line: &mut Vec<u8>, batch: u64) {
    line.extend_from_slice(b",\"batch\":");
    line.extend_from_slice(itoa::Buffer::new().format(batch).as_bytes());
    line.push(b'}');
    seal(line);
}

/// Finishes a line built as [`LINE_PREFIX`] then the record's JSON: writes the JSON's
/// crc32c into the prefix and ends the line. Built in place, so a big record is never copied.
pub(crate) fn seal(line: &mut Vec<u8>) {
    let crc = crc32c::crc32c(&line[LINE_PREFIX.len()..]);
    line[..8].copy_from_slice(format!("{crc:08x}").as_bytes());
    line.push(b'\n');
}

/// Wraps a record's JSON (`{"lsn":..,"tables":[..]}`) into a checksummed line.
#[cfg(any(test, feature = "testing"))]
pub(crate) fn frame(json: &[u8]) -> Vec<u8> {
    let mut line = LINE_PREFIX.to_vec();
    line.extend_from_slice(json);
    seal(&mut line);
    line
}

/// Why a line of the log cannot be used.
#[derive(Debug)]
pub(crate) struct BadLine {
    /// What is wrong with it.
    pub(crate) reason: String,
    /// Whether its checksum matched: its bytes are the ones a commit wrote whole, so it is
    /// no unfinished commit, whatever it holds.
    pub(crate) sealed: bool,
}

/// What the damaged text of a record (a line failing its checksum) still reads as, when it
/// reads as one: its LSN and, per table it writes, the next key it gave. Only names a table
/// could have, and a few of them: the text is not to be trusted.
#[derive(Deserialize)]
struct DamagedRecord {
    lsn: u64,
    tables: Vec<DamagedOps>,
}

#[derive(Deserialize)]
struct DamagedOps {
    table: String,
    #[serde(default)]
    next_key: Option<i64>,
}

fn read_damaged(json: &[u8]) -> Option<DamagedRecord> {
    serde_json::from_slice::<DamagedRecord>(json)
        .ok()
        .filter(|r| r.tables.iter().all(|t| plausible_name(t.table.as_bytes())))
}

/// Whether damaged text names what a table could be called: at most 64 letters, digits
/// and underscores.
fn plausible_name(name: &[u8]) -> bool {
    name.len() <= 64 && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
}

/// What a line that fails its checksum still says, when it reads as a record: its LSN and
/// the tables it writes, as a hint for whoever looks at the damage (the text is damaged,
/// so nothing is done with it).
fn damaged_names(json: &[u8]) -> String {
    let Some(named) = read_damaged(json).filter(|r| (1..=8).contains(&r.tables.len())) else {
        return String::new();
    };
    let tables: Vec<&str> = named.tables.iter().map(|t| t.table.as_str()).collect();
    format!(
        " (its damaged text reads as LSN {} writing {} {})",
        named.lsn,
        if tables.len() == 1 { "table" } else { "tables" },
        tables.join(", ")
    )
}

/// The next keys a damaged line (`<crc32c> <json>` failing its checksum) gave its tables,
/// as far as its text tells. Its rows are lost, but the keys it handed out may have been
/// seen: a repair that starts a table's counter below them would give a committed row's key
/// to another. Read as a record when the text still reads as one; otherwise each table
/// entry's `"next_key":N,"put":[` as the writer writes it, under the last table named
/// before it, so that damage elsewhere in the line (a value zeroed) hides nothing. Damage
/// may have raised a number: see [`fits_key`].
pub(crate) fn damaged_next_keys(line: &[u8]) -> Vec<(String, i64)> {
    if let Some(r) = line.get(9..).and_then(read_damaged) {
        return r
            .tables
            .into_iter()
            .filter_map(|t| Some((t.table, t.next_key?)))
            .collect();
    }
    const TABLE: &[u8] = b"{\"table\":\"";
    const NEXT_KEY: &[u8] = b"\"next_key\":";
    let mut found = Vec::new();
    // The table of the entry just read, and where its `"next_key":` would stand.
    let mut entry: Option<(&[u8], usize)> = None;
    for at in 0..line.len() {
        let rest = &line[at..];
        // A table entry opens the record's list or follows the one before it; a json
        // column's text, written as it is, could say `{"table":` anywhere else.
        let opens = line[..at].ends_with(b"\"tables\":[") || line[..at].ends_with(b"]},");
        if rest.starts_with(TABLE) && opens {
            let name = &rest[TABLE.len()..];
            entry = name
                .iter()
                .position(|&b| b == b'"')
                .map(|end| &name[..end])
                .filter(|n| !n.is_empty() && plausible_name(n))
                .map(|n| (n, at + TABLE.len() + n.len() + 2));
        } else if let Some((name, _)) = entry.filter(|&(_, next)| next == at) {
            // Right after the entry's name (`{"table":"t","next_key":..`): the same words
            // in a row (a column named `next_key`) stand elsewhere.
            let Some(digits) = rest.strip_prefix(NEXT_KEY) else {
                continue;
            };
            let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
            let key = std::str::from_utf8(&digits[..len])
                .ok()
                .and_then(|d| d.parse::<i64>().ok());
            if let (Some(key), true) = (key, digits[len..].starts_with(b",\"put\":[")) {
                found.push((String::from_utf8_lossy(name).into_owned(), key));
            }
        }
    }
    found
}

/// Whether `next_key` is a next key a table of `schema` can count to: raised past its key
/// column's range (by damage to the text it was read from), the counter would refuse
/// every insert.
pub(crate) fn fits_key(schema: &Schema, next_key: i64) -> bool {
    schema.counter_refused(next_key).is_none()
}

/// What took a record's newline's place, when its line break was damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BreakDamage {
    /// Another byte (not zero) stands where the newline was.
    Replaced(u8),
    /// Zeros stand where the newline was (this many), with a whole record right after them.
    Zeroed(usize),
    /// The newline is gone: the next line starts right after the record.
    Deleted,
    /// A byte stands between the record and its newline (a carriage return, say): no line
    /// runs on from it.
    Trailing(u8),
    /// Zeros stand between the record and its newline (this many), where no crash leaves
    /// them (see [`lost_blocks`]): no line runs on from them.
    TrailingZeros(usize),
}

impl BreakDamage {
    /// How many bytes the damage takes up between the record and the next line.
    pub(crate) fn width(self) -> usize {
        match self {
            BreakDamage::Replaced(_) | BreakDamage::Trailing(_) => 1,
            BreakDamage::Zeroed(zeros) | BreakDamage::TrailingZeros(zeros) => zeros,
            BreakDamage::Deleted => 0,
        }
    }

    /// Whether nothing of the line runs on after the damage: the record was its last.
    pub(crate) fn ends_the_line(self) -> bool {
        matches!(
            self,
            BreakDamage::Trailing(_) | BreakDamage::TrailingZeros(_)
        )
    }
}

/// The unit a disk writes whole or not at all (a sector: 512 bytes, or a multiple).
pub(crate) const LOST_BLOCK: usize = 512;

/// Whether zeros over `start..end` of the log (file offsets), with written bytes on both
/// sides, can be a crash's work: what a disk did not write of the preallocated log reads as
/// zeros, so they are then lost blocks, whole ones, and end on a block's boundary; and they
/// start on one too, unless they start where an earlier write ended (`at_line_start`: a
/// block holding that write's end and this one's start, lost, keeps the earlier bytes).
/// Anything else (fewer zeros, or zeros off the boundaries) is damage.
pub(crate) fn lost_blocks(start: usize, end: usize, at_line_start: bool) -> bool {
    end > start
        && end.is_multiple_of(LOST_BLOCK)
        && (at_line_start || start.is_multiple_of(LOST_BLOCK))
}

/// How a record's JSON begins, as the writer writes it (see [`RecordWriter::new`]).
const RECORD_OPENING: &[u8] = b"{\"lsn\":";

/// Where, at or after `from`, `line` holds the start of a line a writer could have written:
/// eight hex digits, a space and a record's opening. Never inside a record: its JSON has
/// no space outside its strings, and no quote unescaped inside them.
fn next_record_start(line: &[u8], from: usize) -> Option<usize> {
    let mut at = from + 9;
    while at < line.len() {
        let i = at + line[at..].iter().position(|&b| b == b'{')?;
        if line[i..].starts_with(RECORD_OPENING)
            && line[i - 1] == b' '
            && line[i - 9..i - 1].iter().all(u8::is_ascii_hexdigit)
        {
            return Some(i - 9);
        }
        at = i + 1;
    }
    None
}

/// A whole record at the start of a line whose line break was damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunOn {
    /// The record's length on the line (checksum, space and JSON).
    pub(crate) len: usize,
    /// What stands where its newline was; the next line starts after it.
    pub(crate) damage: BreakDamage,
}

/// The length on the line of the prefix of a `<crc32c> <json>` line whose JSON the checksum
/// matches and which reads as a record, with the record's LSN. There is at most one: JSON with more after it does
/// not read, whatever the checksum. Nor does a record hold a zero byte (JSON escapes control
/// characters) or the start of another line ([`next_record_start`]), so the search stops at
/// the first of either: looking through a line costs at most its length up to there, and
/// looking from each start in turn costs the line's length once. The one candidate is where
/// the JSON's first object closes ([`object_end`]): checksummed and parsed once.
fn whole_record(line: &[u8]) -> Option<(usize, u64)> {
    let crc = (line.len() >= 10 && line[8] == b' ')
        .then(|| std::str::from_utf8(&line[..8]).ok())
        .flatten()
        .and_then(|h| u32::from_str_radix(h, 16).ok())?;
    let stop = next_record_start(line, 1).unwrap_or(line.len());
    let json = &line[9..stop.max(9)];
    let json = &json[..json.iter().position(|&b| b == 0).unwrap_or(json.len())];
    let end = object_end(json)?;
    if crc32c::crc32c(&json[..end]) != crc {
        return None;
    }
    let rec = serde_json::from_slice::<RawRecord>(&json[..end]).ok()?;
    Some((9 + end, rec.lsn))
}

/// Whether `bytes` start as a log line does: eight hex digits and a space.
fn starts_a_line(bytes: &[u8]) -> bool {
    bytes.len() > 9 && bytes[..8].iter().all(u8::is_ascii_hexdigit) && bytes[8] == b' '
}

/// Where a whole record ends inside `line` (a `<crc32c> <json>` line whose checksum fails
/// over the whole of it, at file offset `offset`), when what follows it says its line break
/// was damaged: the one prefix whose JSON the checksum matches and which reads as a record,
/// followed by
/// - the next line itself (the newline was deleted), or
/// - a byte other than zero (the newline was replaced; `Trailing` when only the line's end
///   or the log's preallocated zeros follow it, so that no line runs on), or
/// - zeros no crash leaves ([`lost_blocks`]), then anything but the line's end or, when the
///   line is `terminated` (its newline is there), that too, or
/// - zeros and then a whole record of the very next LSN.
///
/// None of these is a torn write. A crash can leave a record's line break unwritten, but
/// then as lost blocks, whole ones: zeros from the newline's place, a block's start, to
/// the file's end, to more zeros, or to a block's end, where whatever was written there
/// follows. Lost blocks between two whole records lost the records written there, so the
/// record after them is not the next one; when it is, the zeros hide no record, and are
/// damage. (Lost blocks before a later record are left to [`record_inside`] and the batch
/// rule.)
pub(crate) fn record_run_on(line: &[u8], terminated: bool, offset: usize) -> Option<RunOn> {
    let (len, lsn) = whole_record(line)?;
    let rest = line.get(len..).filter(|r| !r.is_empty())?;
    let damage = if starts_a_line(rest) {
        BreakDamage::Deleted
    } else if rest[0] != 0 && rest[1..].iter().all(|&b| b == 0) {
        BreakDamage::Trailing(rest[0])
    } else if rest[0] != 0 {
        BreakDamage::Replaced(rest[0])
    } else {
        let zeros = rest.iter().take_while(|&&b| b == 0).count();
        let lost = lost_blocks(offset + len, offset + len + zeros, false);
        if zeros == rest.len() {
            // Zeros up to the newline: a later write's newline only where lost blocks
            // end. Up to the file's end, they are its preallocated space.
            return (terminated && !lost).then_some(RunOn {
                len,
                damage: BreakDamage::TrailingZeros(zeros),
            });
        }
        // Zeros no crash leaves took the newline, whatever follows them (what is left of
        // the next record, say).
        if lost {
            let (_, next_lsn) = whole_record(&rest[zeros..])?;
            if next_lsn != lsn.checked_add(1)? {
                return None;
            }
        }
        BreakDamage::Zeroed(zeros)
    };
    Some(RunOn { len, damage })
}

/// Where a whole record starts inside a line that fails as a whole (and has no whole
/// record with a damaged line break at its start): the first start of a line
/// ([`next_record_start`]) past the line's own start where one reads whole. What comes
/// before it is a line of its own, damaged: what took its line break (zeros, or other
/// bytes) and what was around it decides whether a crash could have (see the caller).
pub(crate) fn record_inside(line: &[u8]) -> Option<usize> {
    let mut from = 1;
    while let Some(start) = next_record_start(line, from) {
        if whole_record(&line[start..]).is_some() {
            return Some(start);
        }
        from = start + 1;
    }
    None
}

/// Checks one line (without its newline) and parses it.
pub(crate) fn parse_line(line: &[u8]) -> std::result::Result<RawRecord, BadLine> {
    let unsealed = |reason: String| BadLine {
        reason,
        sealed: false,
    };
    if line.len() > MAX_RECORD {
        return Err(unsealed(format!(
            "line of {} bytes exceeds the {} byte cap",
            line.len(),
            MAX_RECORD
        )));
    }
    if line.iter().all(|&b| b == 0) {
        return Err(unsealed("zero-filled line".into()));
    }
    if line.len() < 10 || line[8] != b' ' {
        return Err(unsealed("not a `<crc32c> <json>` line".into()));
    }
    let crc = std::str::from_utf8(&line[..8])
        .ok()
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .ok_or_else(|| unsealed("checksum is not 8 hex digits".into()))?;
    let json = &line[9..];
    let actual = crc32c::crc32c(json);
    if actual != crc {
        return Err(unsealed(format!(
            "checksum mismatch: line says {crc:08x}, content is {actual:08x}{}",
            damaged_names(json)
        )));
    }
    let sealed = |reason: String| BadLine {
        reason,
        sealed: true,
    };
    let rec: RawRecord =
        serde_json::from_slice(json).map_err(|e| sealed(format!("bad record: {e}")))?;
    if rec.lsn > MAX_LSN {
        return Err(sealed(format!(
            "LSN {} is beyond {MAX_LSN}: damaged",
            rec.lsn
        )));
    }
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, ColumnType};

    /// A line failing its checksum says which tables its damaged text names, when it still
    /// reads as a record (for whoever looks at the damage), and nothing when it does not or
    /// names what no table could be called.
    #[test]
    fn a_damaged_line_names_the_tables_its_text_reads_as() {
        let line =
            |body: &str| format!("{:08x} {body}", crc32c::crc32c(body.as_bytes()) ^ 1).into_bytes();
        let reason = |body: &str| parse_line(&line(body)).unwrap_err().reason;
        let body =
            r#"{"lsn":7,"tables":[{"table":"t","next_key":3,"put":[],"delete":[2]}],"batch":7}"#;
        assert!(
            reason(body).ends_with("(its damaged text reads as LSN 7 writing table t)"),
            "{}",
            reason(body)
        );
        let two = r#"{"lsn":8,"tables":[{"table":"a"},{"table":"b"}]}"#;
        assert!(
            reason(two).ends_with("writing tables a, b)"),
            "{}",
            reason(two)
        );
        for unreadable in [r#"{"lsn":7,"#, r#"{"lsn":7,"tables":[{"table":"../x"}]}"#] {
            assert!(
                reason(unreadable).starts_with("checksum mismatch")
                    && !reason(unreadable).contains("reads as"),
                "{}",
                reason(unreadable)
            );
        }
    }

    /// What follows a whole record decides whether its line break was damaged: any byte but
    /// zero, the next line itself, zeros other than lost blocks with anything after them, or
    /// zeros and the very next record are damage; zeros to the file's end, or lost blocks
    /// with a cut or later record after them, are what a crash leaves (the batch rule
    /// decides the last).
    #[test]
    fn a_damaged_line_break_is_told_from_a_torn_write() {
        let line = |lsn: u64, batch: u64| {
            let body = format!(r#"{{"lsn":{lsn},"tables":[],"batch":{batch}}}"#);
            format!("{:08x} {body}", crc32c::crc32c(body.as_bytes())).into_bytes()
        };
        let first = line(3, 3);
        let joined = |between: &[u8], next: &[u8]| [&first[..], between, next].concat();
        let run_on = |between: &[u8], next: &[u8]| record_run_on(&joined(between, next), true, 0);
        // The record ending where a block does: zeros after it may be lost blocks.
        let aligned = LOST_BLOCK - first.len();
        let run_on_aligned =
            |between: &[u8], next: &[u8]| record_run_on(&joined(between, next), true, aligned);
        let whole = |damage| {
            Some(RunOn {
                len: first.len(),
                damage,
            })
        };
        let block = vec![0; LOST_BLOCK];
        assert_eq!(
            run_on(b"X", &line(4, 4)),
            whole(BreakDamage::Replaced(b'X'))
        );
        assert_eq!(run_on(b"", &line(4, 4)), whole(BreakDamage::Deleted));
        assert_eq!(run_on(&[0], &line(4, 4)), whole(BreakDamage::Zeroed(1)));
        assert_eq!(
            run_on(&[0], &line(4, 3)),
            whole(BreakDamage::Zeroed(1)),
            "the same write"
        );
        assert_eq!(
            run_on_aligned(&[0; 3], &line(6, 3)),
            whole(BreakDamage::Zeroed(3)),
            "fewer zeros than a block"
        );
        assert_eq!(
            run_on(&block, &line(6, 3)),
            whole(BreakDamage::Zeroed(LOST_BLOCK)),
            "a block's worth of zeros off the blocks' boundaries"
        );
        assert_eq!(
            run_on_aligned(&block, &line(4, 4)),
            whole(BreakDamage::Zeroed(LOST_BLOCK)),
            "a lost block hiding no record"
        );
        assert_eq!(
            run_on_aligned(&block, &line(6, 3)),
            None,
            "a lost block: left to the batch rule"
        );
        assert_eq!(
            run_on(&[0; 3], b""),
            whole(BreakDamage::TrailingZeros(3)),
            "zeros before the newline"
        );
        assert_eq!(
            record_run_on(&joined(&[0; 3], b""), false, 0),
            None,
            "zeros to the file's end: preallocated space"
        );
        assert_eq!(
            run_on_aligned(&block, b""),
            None,
            "a lost block before the newline"
        );
        assert_eq!(
            run_on(&[0], &line(4, 4)[..20]),
            whole(BreakDamage::Zeroed(1)),
            "a zero, then what is left of a record"
        );
        assert_eq!(
            run_on_aligned(&block, &line(4, 4)[..20]),
            None,
            "a lost block, then what is left of a record"
        );
        assert_eq!(run_on(b"", b""), None, "the line is whole");
    }

    /// A whole record inside a line that fails: found after zeros (that took a line break
    /// and the end of a record, or stand at the line's start) or after other bytes; not
    /// when nothing whole follows.
    #[test]
    fn a_record_inside_a_line_is_found() {
        let record = frame(br#"{"lsn":4,"tables":[],"batch":4}"#);
        let record = &record[..record.len() - 1];
        let cut = &frame(br#"{"lsn":3,"tables":[],"batch":3}"#)[..20];
        let line = [cut, &[0; 7], record].concat();
        assert_eq!(record_inside(&line), Some(27));
        let line = [&[0; 2], record].concat();
        assert_eq!(record_inside(&line), Some(2));
        let line = [b"X", record].concat();
        assert_eq!(record_inside(&line), Some(1));
        // A start that does not read whole is passed over for the next.
        let line = [cut, &[0; 7], cut, record].concat();
        assert_eq!(record_inside(&line), Some(47));
        let line = [cut, &[0; 7], &record[..30]].concat();
        assert_eq!(record_inside(&line), None);
        assert_eq!(record_inside(cut), None);
    }

    /// Where a record's JSON closes is found in one pass, strings and their escapes
    /// passed over; damage that never closes it finds nothing.
    #[test]
    fn the_first_object_closes_where_its_depth_returns_to_zero() {
        let json = br#"{"a":"}\"{","b":[{"c":1}]}{"lsn":2}"#;
        assert_eq!(object_end(json), Some(26));
        assert_eq!(object_end(br#"{"a":[}"#), None);
        assert_eq!(object_end(br#"{"a":"\"}"#), None);
        assert_eq!(object_end(b"x{}"), None);
    }

    /// The damaged text of a record gives the next keys it handed out, when it still reads.
    #[test]
    fn a_damaged_line_gives_the_next_keys_its_text_reads_as() {
        let body = r#"{"lsn":7,"tables":[{"table":"t","next_key":5,"put":[{"id":4,"v":"LX"}]},{"table":"u","put":[]}],"batch":7}"#;
        let line = format!("{:08x} {body}", crc32c::crc32c(body.as_bytes()) ^ 1);
        assert_eq!(
            damaged_next_keys(line.as_bytes()),
            vec![("t".to_owned(), 5)]
        );
        assert_eq!(damaged_next_keys(&line.as_bytes()[..40]), vec![]);
        // A value zeroed: the text no longer reads, but each table entry's next key does.
        let mut zeroed = line.into_bytes();
        let at = zeroed.windows(4).position(|w| w == b"\"LX\"").unwrap();
        zeroed[at..at + 4].fill(0);
        assert_eq!(damaged_next_keys(&zeroed), vec![("t".to_owned(), 5)]);
        // The same words in a row (columns named `next_key` and `put`, or a json value) are
        // not taken for an entry's.
        let body = r#"{"lsn":7,"tables":[{"table":"t","next_key":5,"put":[{"id":4,"next_key":99,"put":[1],"j":{"table":"t","next_key":98,"put":[]}}]}],"batch":7}"#;
        let mut line = format!("{:08x} {body}", crc32c::crc32c(body.as_bytes())).into_bytes();
        line[12] = 0;
        assert_eq!(damaged_next_keys(&line), vec![("t".to_owned(), 5)]);
    }

    #[test]
    fn a_record_with_a_created_table_reads_back() {
        let schema = Schema::new(
            "notes",
            vec![
                Column::new("id", ColumnType::U64).primary_key(),
                Column::new("text", ColumnType::Text),
            ],
        )
        .unwrap();
        let mut line = LINE_PREFIX.to_vec();
        let mut rec = RecordWriter::new(7, &mut line);
        rec.table(&schema, true, Some(2), |rows| {
            let row = [Value::Int(1), Value::from("a")];
            rows.row(|i| row[i].as_ref(), || Ok(row.to_vec()))?;
            Ok(vec![Value::Int(4)])
        })
        .unwrap();
        rec.table(&schema, false, None, |_| Ok(Vec::new())).unwrap();
        rec.finish();
        close_record(&mut line, 7);
        let rec = parse_line(&line[..line.len() - 1]).unwrap();
        assert_eq!((rec.lsn, rec.batch), (7, Some(7)));
        let t = &rec.tables[0];
        let mut created = t.create.clone().unwrap();
        created.finish().unwrap();
        assert_eq!(created, schema);
        assert_eq!((t.next_key, t.put.len()), (Some(2), 1));
        assert_eq!(t.put[0].get(), r#"{"id":1,"text":"a"}"#);
        assert_eq!(t.delete, vec![Value::Int(4)]);
        let second = &rec.tables[1];
        assert!(second.create.is_none() && second.put.is_empty() && second.delete.is_empty());
        // A flipped byte fails the checksum.
        let mut bad = line.clone();
        bad[20] ^= 1;
        let e = parse_line(&bad[..bad.len() - 1]).unwrap_err();
        assert!(e.reason.contains("checksum mismatch") && !e.sealed, "{e:?}");
        // A line sealed with its checksum that does not read is marked as such.
        let unreadable = frame(br#"{"lsn":1,"tables":[{"table":"t","put":[{"v":NaN}]}]}"#);
        let e = parse_line(&unreadable[..unreadable.len() - 1]).unwrap_err();
        assert!(e.reason.starts_with("bad record") && e.sealed, "{e:?}");
    }
}
