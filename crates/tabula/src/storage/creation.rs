//! A table's creation found in the archived log segments, for `verify` and `repair` when its
//! schema file is damaged, edited or gone and the live log no longer holds its creation (a
//! checkpoint archived the log since).
//!
//! The creation record holds the schema the table was created with, not the migrations
//! since (those are recorded only in the schema file). Rows can fit an older schema and
//! still mean something else under it (a float column that was an integer one, text that
//! was json), so a creation is used only when the schema file it gives is, byte for byte,
//! the one the manifest's checksum names ([`matches_manifest`]): a migration always
//! commits with a manifest naming its new schema file, so that file is the table's schema
//! now. [`fits`] then checks the rows read with it all the same (a few snapshot lines that
//! do not are damage).

use std::path::{Path, PathBuf};

use crate::schema::Schema;
use crate::storage::fs::FileSystem;
use crate::storage::layout::Layout;
use crate::storage::manifest::crc_hex;
use crate::storage::snapshot::decode_lines;
use crate::storage::wal::decode::decode_ops;
use crate::storage::wal::scan::{lines, ScannedLine};
use crate::storage::wal::MAX_LSN;

/// The record that created a table, in an archived segment.
#[derive(Debug, Clone)]
pub(crate) struct Creation {
    pub(crate) schema: Schema,
    /// The archived segment, and the line of the record in it.
    pub(crate) file: PathBuf,
    pub(crate) line: u64,
    pub(crate) lsn: u64,
}

/// The record that created `table`, in the archived segments of the database at `layout`:
/// the one at `created_lsn` when that is known (non-zero, from the manifest), else the
/// latest. A segment that cannot be read, or a damaged line, is passed over: they are no
/// part of the database's state, only a place to look.
pub(crate) fn archived_creation(
    fs: &dyn FileSystem,
    layout: &Layout,
    table: &str,
    created_lsn: u64,
) -> Option<Creation> {
    let mut segments: Vec<(u64, PathBuf)> = fs
        .list(&layout.wal_dir())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| Layout::archived_lsn(&p).map(|lsn| (lsn, p)))
        // A name beyond `MAX_LSN` is no segment a checkpoint wrote (repair removes it).
        .filter(|(lsn, _)| *lsn <= MAX_LSN)
        .collect();
    segments.sort();
    let mut found: Option<Creation> = None;
    for (_, path) in segments {
        let Ok(bytes) = fs.read(&path) else { continue };
        for l in lines(&bytes, 0) {
            let Ok(rec) = &l.parsed else { continue };
            if created_lsn != 0 && rec.lsn != created_lsn {
                continue;
            }
            let create = rec
                .tables
                .iter()
                .filter(|ops| ops.table == table)
                .find_map(|ops| ops.create.as_ref());
            let Some(schema) = create else { continue };
            let mut schema = schema.clone();
            if schema.finish().is_err() || schema.table != table {
                continue;
            }
            if found.as_ref().is_none_or(|f| rec.lsn >= f.lsn) {
                found = Some(Creation {
                    schema,
                    file: path.clone(),
                    line: l.no,
                    lsn: rec.lsn,
                });
            }
        }
    }
    found
}

/// Whether the schema file `schema` gives, with no migrations, has the checksum `crc` (the
/// manifest's `schema_crc32c` for its table); the file's checksum otherwise.
pub(crate) fn matches_manifest(schema: &Schema, crc: &str) -> Result<(), String> {
    let bytes = super::schema_file_bytes(schema, &[]).map_err(|e| e.to_string())?;
    let made = crc_hex(&bytes);
    if made == crc {
        Ok(())
    } else {
        Err(made)
    }
}

/// Why `schema` cannot read `table`'s rows, if it cannot: the first log entry (of the
/// records `replayed` picks, each checksummed) it fails to decode, or the first snapshot
/// line when most of the snapshot's rows fail. A few lines that do not read are damage,
/// which replay drops whatever the schema (the manifest's checksum has vouched for the
/// schema already); a snapshot that mostly does not read is not this schema's.
pub(crate) fn fits(
    schema: &Schema,
    snapshot: Option<(&Path, &[u8])>,
    log: (&Path, &[ScannedLine]),
    replayed: impl Fn(u64) -> bool,
) -> Result<(), String> {
    if let Some((path, bytes)) = snapshot {
        let lines = decode_lines(schema, bytes);
        let failed: Vec<_> = lines.iter().filter(|(_, row)| row.is_err()).collect();
        if let Some((line, Err(reason))) = failed.first().copied() {
            if failed.len() * 2 > lines.len() {
                return Err(format!(
                    "{}:{line}: {reason} ({} of {} lines do not read)",
                    path.display(),
                    failed.len(),
                    lines.len()
                ));
            }
        }
    }
    let (wal, log) = log;
    for l in log {
        let Ok(rec) = &l.parsed else { continue };
        if !replayed(rec.lsn) {
            continue;
        }
        for ops in rec.tables.iter().filter(|ops| ops.table == schema.table) {
            decode_ops(wal, l.no, schema, ops).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}
