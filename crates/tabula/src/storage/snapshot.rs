//! Snapshots: `data/<table>.records`, JSON Lines, exactly one row object per line.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};
use crate::schema::Schema;
use crate::storage::codec::{decode_row, RowCodec};
use crate::value::{Value, ValueRef};

/// A snapshot's bytes, in consecutive parts (one per encoder thread, written one after the
/// other: joining them would copy the whole snapshot into fresh memory), and its row count.
pub(crate) struct Encoded {
    pub(crate) parts: Vec<Vec<u8>>,
    pub(crate) rows: u64,
}

/// Encodes `rows` of `schema` as JSON Lines, in parallel chunks when there are many: `col`
/// borrows a row's column, `values` gives all of a row's values (only for a schema with a
/// `json` column). A panic in `values` (a `json` column's `Serialize`, which is the user's
/// code) goes on unwinding in the caller's thread.
pub(crate) fn encode<T: Sync>(
    schema: &Schema,
    rows: &[T],
    col: impl for<'r> Fn(&'r T, usize) -> ValueRef<'r> + Sync,
    values: impl Fn(&T) -> Result<Vec<Value>> + Sync,
) -> Result<Encoded> {
    let codec = RowCodec::new(schema);
    let encode_chunk = |chunk: &[T]| -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(chunk.len() * 64);
        for r in chunk {
            codec.encode_row(schema, |i| col(r, i), || values(r), &mut out)?;
            out.push(b'\n');
        }
        Ok(out)
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let parts = if threads < 2 || rows.len() < 20_000 {
        vec![encode_chunk(rows)?]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = rows
                .chunks(rows.len().div_ceil(threads))
                .map(|chunk| s.spawn(|| encode_chunk(chunk)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect::<Result<Vec<_>>>()
        })?
    };
    Ok(Encoded {
        parts,
        rows: rows.len() as u64,
    })
}

/// Turns one decoded row (values in schema order) into what the caller keeps.
pub(crate) type Convert<'c, T> = &'c (dyn Fn(Vec<Value>) -> std::result::Result<T, String> + Sync);

/// Parses a snapshot, in parallel chunks when it is large enough for that to pay, converting
/// each row as it is read, and hands the rows to `each` in file order, a chunk at a time, as
/// soon as every chunk before it has been handed over: the caller puts one chunk's rows in
/// their place while the next chunks are parsed (keeping every row's values until all are
/// read would copy the table through fresh memory, a page fault per 4 KiB). Returns the
/// number of rows. The first bad line in file order is the error, unless `each` refused a
/// chunk before it: an error `each` returns ends the parse with it. A panic in `convert` (a
/// `json` column's `Deserialize`, the user's code) stops the parse and goes on unwinding in
/// the caller's thread.
pub(crate) fn decode<T: Send>(
    path: &Path,
    schema: &Schema,
    bytes: &[u8],
    convert: Convert<'_, T>,
    each: &mut dyn FnMut(Vec<T>) -> Result<()>,
) -> Result<u64> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64
            + 1;
        Error::corrupt(path, line, "not UTF-8")
    })?;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let bad = |line: u64, reason| Error::corrupt(path, line, reason);
    if threads < 2 || text.len() < (1 << 20) {
        let rows = decode_chunk(schema, text, convert).map_err(|(no, why)| bad(no, why))?;
        let n = rows.len() as u64;
        each(rows)?;
        return Ok(n);
    }
    // Several chunks per thread, so that the first is handed over early and the caller's
    // work overlaps the parse of the rest.
    let bounds = line_bounds(text, threads * CHUNKS_PER_THREAD);
    let chunks: Vec<&str> = bounds.windows(2).map(|w| &text[w[0]..w[1]]).collect();
    // Set when a parser panics: the others stop at their next chunk.
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let (sent, received) = std::sync::mpsc::channel();
        let workers: Vec<_> = (0..threads.min(chunks.len()))
            .map(|w| {
                let sent = sent.clone();
                let (chunks, stop) = (&chunks, &stop);
                s.spawn(move || {
                    let _stop_on_panic = StopOnPanic(stop);
                    for (i, chunk) in chunks.iter().enumerate().skip(w).step_by(threads) {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let rows = decode_chunk(schema, chunk, convert);
                        let failed = rows.is_err();
                        // Once the caller stops listening (it failed), or this chunk
                        // failed, the chunks after it are not wanted.
                        if sent.send((i, rows)).is_err() || failed {
                            break;
                        }
                    }
                })
            })
            .collect();
        drop(sent);
        let handed = hand_over(received, chunks.len(), &bad, each);
        for w in workers {
            if let Err(panic) = w.join() {
                std::panic::resume_unwind(panic);
            }
        }
        handed
    })
}

/// Chunks of a snapshot per parsing thread.
const CHUNKS_PER_THREAD: usize = 4;

/// Raises its flag if dropped while its thread panics.
struct StopOnPanic<'f>(&'f AtomicBool);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// A chunk's rows, or the line (counted from the chunk's first, 1) that failed and why.
type Parsed<T> = std::result::Result<Vec<T>, (u64, String)>;

/// Hands the parsed chunks arriving on `received` (numbered, in any order) to `each` in
/// order; the rows handed over. Stops at the first chunk that failed (its line then counted
/// from the file's start, every line before it being a row) or that `each` refuses. Every
/// chunk's parser having stopped short of `count` (a panic) is not an error here: the
/// caller goes on unwinding it.
fn hand_over<T>(
    received: std::sync::mpsc::Receiver<(usize, Parsed<T>)>,
    count: usize,
    bad: &dyn Fn(u64, String) -> Error,
    each: &mut dyn FnMut(Vec<T>) -> Result<()>,
) -> Result<u64> {
    let mut waiting: Vec<Option<Parsed<T>>> = (0..count).map(|_| None).collect();
    let (mut next, mut rows) = (0, 0u64);
    for (i, parsed) in received {
        waiting[i] = Some(parsed);
        while let Some(parsed) = waiting.get_mut(next).and_then(Option::take) {
            match parsed {
                Ok(chunk) => {
                    rows += chunk.len() as u64;
                    each(chunk)?;
                }
                Err((line, why)) => return Err(bad(rows + line, why)),
            }
            next += 1;
        }
    }
    Ok(rows)
}

/// Where to cut `text` into about `parts` chunks of whole lines: the offsets of the
/// chunks' starts and of the text's end, in order. The search for a line's end is over
/// bytes: an even share of the text may end inside a character, and a newline byte is
/// always one (so every cut is a character boundary).
fn line_bounds(text: &str, parts: usize) -> Vec<usize> {
    let mut bounds = vec![0usize];
    for i in 1..parts {
        let target = text.len() * i / parts;
        let cut = (text.as_bytes()[target..].iter())
            .position(|&b| b == b'\n')
            .map_or(text.len(), |p| target + p + 1);
        if cut > *bounds.last().unwrap_or(&0) && cut < text.len() {
            bounds.push(cut);
        }
    }
    bounds.push(text.len());
    bounds
}

/// The rows of `text` (whole lines), or the first line that fails (counted from 1) and why.
fn decode_chunk<T>(schema: &Schema, text: &str, convert: Convert<'_, T>) -> Parsed<T> {
    let mut rows = Vec::with_capacity(text.len() / 64);
    for (i, line) in text.split_terminator('\n').enumerate() {
        let no = i as u64 + 1;
        if line.is_empty() {
            return Err((no, "empty line".to_owned()));
        }
        let row = decode_row(schema, line).and_then(convert);
        rows.push(row.map_err(|e| (no, e))?);
    }
    Ok(rows)
}

/// Every line of a snapshot, numbered from 1 and decoded on its own, with the rules loading
/// uses: an empty file has no lines, the newline ends a line (it does not start an empty
/// one), and an empty line is an error. `verify` and salvage read snapshots through this.
pub(crate) fn decode_lines(
    schema: &Schema,
    bytes: &[u8],
) -> Vec<(u64, std::result::Result<Vec<Value>, String>)> {
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
        .into_iter()
        .enumerate()
        .map(|(i, line)| {
            let row = match std::str::from_utf8(line) {
                Err(_) => Err("not UTF-8".to_owned()),
                Ok("") => Err("empty line".to_owned()),
                Ok(text) => decode_row(schema, text),
            };
            (i as u64 + 1, row)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, ColumnType};

    fn schema() -> Schema {
        Schema::new(
            "t",
            vec![
                Column::new("id", ColumnType::I64).primary_key(),
                Column::new("name", ColumnType::Text),
            ],
        )
        .unwrap()
    }

    /// Enough lines (over 1 MiB) to be parsed on several threads.
    fn lines(n: i64) -> String {
        (1..=n)
            .map(|i| format!("{{\"id\":{i},\"name\":\"row number {i} of the snapshot\"}}\n"))
            .collect()
    }

    fn ids(schema: &Schema, text: &str) -> Result<Vec<i64>> {
        let convert = |v: Vec<Value>| v[0].as_i64().ok_or_else(|| "no id".to_owned());
        let mut ids = Vec::new();
        let n = decode(
            Path::new("t.records"),
            schema,
            text.as_bytes(),
            &convert,
            &mut |chunk| {
                ids.extend(chunk);
                Ok(())
            },
        )?;
        assert_eq!(n, ids.len() as u64);
        Ok(ids)
    }

    #[test]
    fn chunks_parsed_in_parallel_come_in_file_order() {
        let s = schema();
        let text = lines(30_000);
        assert!(text.len() > 1 << 20);
        assert_eq!(ids(&s, &text).unwrap(), (1..=30_000).collect::<Vec<_>>());
        assert_eq!(ids(&s, &lines(3)).unwrap(), vec![1, 2, 3]);
    }

    /// Text of characters several bytes long: an even share of it mostly ends inside one.
    /// Every cut is at a line's start, for any number of threads, and the rows come back.
    #[test]
    fn chunks_of_multibyte_text_are_cut_between_lines() {
        let s = schema();
        let text: String = (1..=20_000)
            .map(|i| format!("{{\"id\":{i},\"name\":\"学生 {i} 名字 あいう ab\"}}\n"))
            .collect();
        assert!(text.len() > 1 << 20);
        for parts in 1..=9 {
            let bounds = line_bounds(&text, parts);
            assert_eq!((bounds[0], bounds.last()), (0, Some(&text.len())));
            for &b in &bounds[1..bounds.len() - 1] {
                assert_eq!(text.as_bytes()[b - 1], b'\n', "{parts} parts, cut at {b}");
            }
        }
        assert_eq!(ids(&s, &text).unwrap(), (1..=20_000).collect::<Vec<_>>());
    }

    /// The caller refusing a chunk ends the parse with its error: no chunk after it is
    /// handed over.
    #[test]
    fn an_error_from_the_caller_ends_the_parse() {
        let s = schema();
        let text = lines(30_000);
        let convert = |v: Vec<Value>| v[0].as_i64().ok_or_else(|| "no id".to_owned());
        let mut handed = Vec::new();
        let e = decode(
            Path::new("t.records"),
            &s,
            text.as_bytes(),
            &convert,
            &mut |c| {
                handed.push(c.len());
                Err(Error::TableFull {
                    table: "t".into(),
                    limit: 1,
                })
            },
        )
        .unwrap_err();
        assert!(matches!(e, Error::TableFull { limit: 1, .. }), "{e}");
        assert_eq!(handed.len(), 1);
        let parallel = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
        assert!(
            handed[0] > 0 && (!parallel || handed[0] < 30_000 / 2),
            "{handed:?}"
        );
    }

    #[test]
    fn a_bad_line_in_any_chunk_is_named() {
        let s = schema();
        for bad in [1u64, 17_001, 30_000] {
            let text: String = lines(30_000)
                .lines()
                .enumerate()
                .map(|(i, l)| {
                    if i as u64 + 1 == bad {
                        "{\"id\":\"x\"}\n".to_owned()
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            let e = ids(&s, &text).unwrap_err();
            assert!(
                matches!(&e, Error::Corrupt { line, .. } if *line == bad),
                "{bad}: {e}"
            );
        }
    }
}
