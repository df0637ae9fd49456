//! Copying rows out of a table in batches, so that their memory is fetched in parallel.
//!
//! Copying a row means reading the row and then its strings' bytes, which live elsewhere on
//! the heap. Row by row, each of those reads waits for memory in turn, and the `malloc` and
//! `memcpy` of each copy keep the processor from running far enough ahead to overlap them.
//! Touching the first byte of every text value of a batch of rows first puts all their cache
//! misses in flight at once; the copies then find the bytes in cache. (The bench README has
//! what it saved.)

use std::convert::Infallible;
use std::hint::black_box;

use crate::record::Record;
use crate::schema::{ColumnType, Schema};
use crate::value::ValueRef;

/// Rows per batch: enough misses to keep the memory system busy, few enough to stay in L1.
pub(crate) const BATCH: usize = 16;

/// Copies rows that come with a tag (their slot, say), handing each copy to `push` with its
/// tag, in order.
pub(crate) fn copy_tagged<'r, R: Record + Clone + 'r, X>(
    schema: &Schema,
    rows: impl Iterator<Item = (X, &'r R)>,
    mut push: impl FnMut(X, R),
) {
    let Ok(()) = each_fetched(schema, true, rows, |x, r| {
        push(x, r.clone());
        Ok::<_, Infallible>(true)
    });
}

/// Hands `rows` to `f` in order, in batches whose text bytes are fetched before the first
/// row of the batch is handed over (when `text`: `f` reads them), until `f` answers
/// `Ok(false)` or fails. The rows of a batch are read from `rows` ahead of `f`'s answers: at
/// most `BATCH - 1` more than `f` takes.
pub(crate) fn each_fetched<'r, R: Record + 'r, X, E>(
    schema: &Schema,
    text: bool,
    rows: impl Iterator<Item = (X, &'r R)>,
    mut f: impl FnMut(X, &'r R) -> Result<bool, E>,
) -> Result<(), E> {
    let text = if text {
        text_columns(schema)
    } else {
        Vec::new()
    };
    let mut batch: Vec<(X, &R)> = Vec::with_capacity(BATCH);
    for item in rows {
        batch.push(item);
        if batch.len() == BATCH && !flush(&text, &mut batch, &mut f)? {
            return Ok(());
        }
    }
    flush(&text, &mut batch, &mut f).map(|_| ())
}

/// The positions of `schema`'s text columns, for [`fetch_text`].
pub(crate) fn text_columns(schema: &Schema) -> Vec<usize> {
    schema
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.ty == ColumnType::Text)
        .map(|(i, _)| i)
        .collect()
}

/// Touches the first byte of columns `text` of every row of `rows` (a batch: at most
/// [`BATCH`]), so that the cache misses of all of them are in flight at once.
pub(crate) fn fetch_text<'r, R: Record + 'r>(text: &[usize], rows: impl Iterator<Item = &'r R>) {
    let mut touched = 0u8;
    for r in rows {
        for &c in text {
            if let ValueRef::Text(s) = r.col(c) {
                touched ^= s.as_bytes().first().copied().unwrap_or(0);
            }
        }
    }
    // The reads above exist only for their cache misses; this keeps them.
    black_box(touched);
}

/// Touches the text of every row in `batch`, then hands the rows to `f`; `Ok(false)` once
/// `f` wants no more.
fn flush<'r, R: Record, X, E>(
    text: &[usize],
    batch: &mut Vec<(X, &'r R)>,
    f: &mut impl FnMut(X, &'r R) -> Result<bool, E>,
) -> Result<bool, E> {
    fetch_text(text, batch.iter().map(|(_, r)| *r));
    for (x, r) in batch.drain(..) {
        if !f(x, r)? {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::DynRow;
    use crate::schema::Column;
    use crate::value::Value;

    /// Copies come out equal, in order, with their tags, across batch boundaries.
    #[test]
    fn copies_keep_order_tags_and_contents() {
        let schema = Schema::new(
            "t",
            vec![
                Column::new("id", ColumnType::U64).primary_key(),
                Column::new("name", ColumnType::Text),
                Column::new("note", ColumnType::Text).nullable(),
            ],
        )
        .unwrap();
        let rows: Vec<DynRow> = (0..(3 * BATCH as i64 + 5))
            .map(|i| {
                let note = if i % 3 == 0 {
                    Value::Null
                } else {
                    Value::from("")
                };
                DynRow(vec![Value::Int(i), Value::from(format!("n{i}")), note].into())
            })
            .collect();
        let mut tagged = Vec::new();
        copy_tagged(&schema, rows.iter().enumerate(), |i, r| tagged.push((i, r)));
        assert_eq!(tagged.len(), rows.len());
        for (n, (i, r)) in tagged.iter().enumerate() {
            assert_eq!(*i, n);
            assert_eq!(r.0, rows[n].0);
        }
        let mut plain = Vec::new();
        copy_tagged(&schema, rows.iter().skip(7).map(|r| ((), r)), |(), r| {
            plain.push(r)
        });
        assert_eq!(plain.len(), rows.len() - 7);
        assert!(plain.iter().zip(&rows[7..]).all(|(a, b)| a.0 == b.0));
    }
}
