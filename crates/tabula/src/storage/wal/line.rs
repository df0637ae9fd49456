//! One line of the log: how a record is written (built in place, then sealed with its
//! checksum) and how a line is checked and parsed back.

use serde::Deserialize;
use serde_json::value::RawValue;

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

/// What a line that fails its checksum still says, when it reads as a record: its LSN and
/// the tables it writes, as a hint for whoever looks at the damage (the text is damaged,
/// so nothing is done with it).
fn damaged_names(json: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Named {
        lsn: u64,
        tables: Vec<NamedOps>,
    }
    #[derive(Deserialize)]
    struct NamedOps {
        table: String,
    }
    // Only names a table could have, and a few of them: the text is not to be trusted.
    let plausible = |t: &NamedOps| {
        t.table.len() <= 64
            && t.table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    match serde_json::from_slice::<Named>(json) {
        Ok(named)
            if (1..=8).contains(&named.tables.len()) && named.tables.iter().all(plausible) =>
        {
            let tables: Vec<&str> = named.tables.iter().map(|t| t.table.as_str()).collect();
            format!(
                " (its damaged text reads as LSN {} writing {} {})",
                named.lsn,
                if tables.len() == 1 { "table" } else { "tables" },
                tables.join(", ")
            )
        }
        _ => String::new(),
    }
}

/// What took a record's newline's place, when its line break was damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BreakDamage {
    /// Another byte stands where the newline was.
    Replaced(u8),
    /// The newline is gone: the next line starts right after the record.
    Deleted,
    /// A byte stands between the record and its newline (a carriage return, say): no line
    /// runs on from it.
    Trailing(u8),
}

impl BreakDamage {
    /// How many bytes the damage takes up between the record and the next line.
    pub(crate) fn width(self) -> usize {
        match self {
            BreakDamage::Replaced(_) | BreakDamage::Trailing(_) => 1,
            BreakDamage::Deleted => 0,
        }
    }
}

/// A whole record at the start of a line whose line break was damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunOn {
    /// The record's length on the line (checksum, space and JSON).
    pub(crate) len: usize,
    /// What stands where its newline was; the next line starts after it.
    pub(crate) damage: BreakDamage,
}

/// The lengths on the line of the prefixes of a `<crc32c> <json>` line whose JSON the
/// checksum matches and which read as a record, shortest first. The checksum is carried
/// from one candidate end to the next, so looking through a line costs its length once.
fn whole_records(line: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let crc = (line.len() >= 10 && line[8] == b' ')
        .then(|| std::str::from_utf8(&line[..8]).ok())
        .flatten()
        .and_then(|h| u32::from_str_radix(h, 16).ok());
    let json = if crc.is_some() { &line[9..] } else { &[][..] };
    let (mut running, mut done) = (0u32, 0usize);
    (1..=json.len()).filter_map(move |end| {
        if json[end - 1] != b'}' {
            return None;
        }
        running = crc32c::crc32c_append(running, &json[done..end]);
        done = end;
        if Some(running) != crc {
            return None;
        }
        serde_json::from_slice::<RawRecord>(&json[..end]).ok()?;
        Some(9 + end)
    })
}

/// Whether `bytes` start as a log line does: eight hex digits and a space.
fn starts_a_line(bytes: &[u8]) -> bool {
    bytes.len() > 9 && bytes[..8].iter().all(u8::is_ascii_hexdigit) && bytes[8] == b' '
}

/// Where a whole record ends inside `line` (a `<crc32c> <json>` line whose checksum fails
/// over the whole of it), when what follows it says its line break was damaged: the first
/// proper prefix whose JSON the checksum matches and which reads as a record, followed by
/// - the next line itself (the newline was deleted), or
/// - a byte other than zero (the newline was replaced; `Trailing` when only the line's end
///   or the log's preallocated zeros follow it, so that no line runs on), or
/// - a zero and then a whole record.
///
/// None of these is a torn write. A crash can leave a record's line break unwritten, but
/// the log is preallocated with zeros, or grows past its end, where the file system gives
/// zeros for what was not written, and it loses whole blocks: the byte there is then zero,
/// with the file's end or more zeros after it (the rest of a lost block), never the very
/// start of a whole record, whose first byte would share that block.
pub(crate) fn record_run_on(line: &[u8]) -> Option<RunOn> {
    whole_records(line).find_map(|len| {
        let rest = line.get(len..).filter(|r| !r.is_empty())?;
        let damage = if starts_a_line(rest) {
            BreakDamage::Deleted
        } else if rest[0] != 0 && rest[1..].iter().all(|&b| b == 0) {
            BreakDamage::Trailing(rest[0])
        } else if rest[0] != 0 {
            BreakDamage::Replaced(rest[0])
        } else {
            whole_records(&rest[1..]).next()?;
            BreakDamage::Replaced(0)
        };
        Some(RunOn { len, damage })
    })
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
    /// zero, the next line itself, or a zero and a whole record (of a later write or the
    /// same one) are damage; a zero with zeros or a cut record after it is what a crash
    /// leaves.
    #[test]
    fn a_damaged_line_break_is_told_from_a_torn_write() {
        let line = |lsn: u64, batch: u64| {
            let body = format!(r#"{{"lsn":{lsn},"tables":[],"batch":{batch}}}"#);
            format!("{:08x} {body}", crc32c::crc32c(body.as_bytes())).into_bytes()
        };
        let first = line(3, 3);
        let joined = |between: &[u8], next: &[u8]| [&first[..], between, next].concat();
        let run_on = |between: &[u8], next: &[u8]| record_run_on(&joined(between, next));
        let whole = |damage| {
            Some(RunOn {
                len: first.len(),
                damage,
            })
        };
        assert_eq!(
            run_on(b"X", &line(4, 4)),
            whole(BreakDamage::Replaced(b'X'))
        );
        assert_eq!(run_on(b"", &line(4, 4)), whole(BreakDamage::Deleted));
        assert_eq!(run_on(&[0], &line(4, 4)), whole(BreakDamage::Replaced(0)));
        assert_eq!(
            run_on(&[0], &line(4, 3)),
            whole(BreakDamage::Replaced(0)),
            "the same write"
        );
        assert_eq!(run_on(&[0], &[0; 40]), None, "preallocated zeros");
        assert_eq!(run_on(&[0], &line(4, 4)[..20]), None, "a cut record");
        assert_eq!(run_on(b"", b""), None, "the line is whole");
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
