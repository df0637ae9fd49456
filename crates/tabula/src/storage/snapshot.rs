//! Snapshots: `data/<table>.records`, JSON Lines, exactly one row object per line.

use std::path::Path;

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
/// each row as it is read: the rows come back in file order, as one `Vec` per chunk (joining
/// them, or keeping every row's values until all are read, would copy the table through
/// fresh memory, a page fault per 4 KiB). A panic in `convert` (a `json` column's
/// `Deserialize`, the user's code) goes on unwinding in the caller's thread.
pub(crate) fn decode<T: Send>(
    path: &Path,
    schema: &Schema,
    bytes: &[u8],
    convert: Convert<'_, T>,
) -> Result<Vec<Vec<T>>> {
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
    if threads < 2 || text.len() < (1 << 20) {
        return Ok(vec![decode_chunk(path, schema, text, 0, convert)?]);
    }
    let bounds = line_bounds(text, threads);
    let chunks: Vec<(&str, u64)> = bounds
        .windows(2)
        .map(|w| {
            let first_line = text[..w[0]].bytes().filter(|&b| b == b'\n').count() as u64;
            (&text[w[0]..w[1]], first_line)
        })
        .collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|&(chunk, first)| {
                s.spawn(move || decode_chunk(path, schema, chunk, first, convert))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
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

fn decode_chunk<T>(
    path: &Path,
    schema: &Schema,
    text: &str,
    first: u64,
    convert: Convert<'_, T>,
) -> Result<Vec<T>> {
    let mut rows = Vec::with_capacity(text.len() / 64);
    for (i, line) in text.split_terminator('\n').enumerate() {
        let no = first + i as u64 + 1;
        if line.is_empty() {
            return Err(Error::corrupt(path, no, "empty line"));
        }
        let row = decode_row(schema, line).and_then(convert);
        rows.push(row.map_err(|e| Error::corrupt(path, no, e))?);
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
        let chunks = decode(Path::new("t.records"), schema, text.as_bytes(), &convert)?;
        Ok(chunks.into_iter().flatten().collect())
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
