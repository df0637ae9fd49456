//! `Database::stats`: rows, bytes on disk per file kind, the log since the last checkpoint,
//! archived segments.

use std::fmt;
use std::path::PathBuf;
use std::sync::PoisonError;

use serde::Serialize;

use crate::engine::Engine;
use crate::error::Result;

/// Statistics about a database and its files; `Display` prints a readable table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// The directory (`None` for an in-memory database).
    #[serde(serialize_with = "crate::path_text::serialize_option")]
    pub path: Option<PathBuf>,
    /// One entry per table, by name.
    pub tables: Vec<TableStats>,
    /// Bytes in `wal/transaction.log` (records since the last checkpoint).
    pub wal_bytes: u64,
    /// Records in `wal/transaction.log`.
    pub wal_records: u64,
    /// The LSN of the last commit.
    pub last_lsn: u64,
    /// The LSN the last checkpoint covers.
    pub checkpoint_lsn: u64,
    /// Archived log segments, oldest first.
    pub archived: Vec<ArchivedSegment>,
    /// Bytes of `manifest.json`.
    pub manifest_bytes: u64,
    /// Every file above, added up.
    pub total_bytes: u64,
    /// Older versions of the data that readers still hold (a read transaction, a query or
    /// an export in progress, pinning what it started from), besides the newest one.
    pub versions_held: u64,
    /// The memory those versions hold on their own: their rows, row leaves and hash-index
    /// shards that the newest version no longer shares (the rows' own heap data, such as
    /// strings, and ordered-index nodes are not counted).
    pub version_bytes: u64,
}

/// Statistics about one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TableStats {
    /// The table's name.
    pub name: String,
    /// Rows now (for a table not loaded yet: rows at the last checkpoint).
    pub rows: u64,
    /// Whether the table's data is in memory.
    pub loaded: bool,
    /// Log records waiting to be replayed when the table is loaded.
    pub pending_records: u64,
    /// Bytes of `data/<table>.records`.
    pub snapshot_bytes: u64,
    /// Bytes of `schema/<table>.schema.json`.
    pub schema_bytes: u64,
    /// Indexed columns: the primary key, unique columns, `index` columns; then the
    /// composite unique constraints and indexes, each as its columns in parentheses
    /// (`"(a, b)"`).
    pub indexes: Vec<String>,
    /// For a table not loaded yet whose snapshot a read-only open found unlike what the
    /// manifest lists (damaged, missing or unreadable): why. Its `rows` are then only what
    /// the manifest lists, and loading the table fails with that error (`Error::Corrupt`
    /// naming the file, or `Error::Io`). A writable database finds out when it loads the
    /// table; so does `Recovery::Salvage`, which keeps what the snapshot's lines hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub damaged: Option<String>,
}

/// An archived log segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchivedSegment {
    /// Its path.
    #[serde(serialize_with = "crate::path_text::serialize")]
    pub path: PathBuf,
    /// The last LSN it holds.
    pub last_lsn: u64,
    /// Its size in bytes.
    pub bytes: u64,
}

impl Engine {
    /// Rows per table, bytes on disk per file kind, the log since the last checkpoint,
    /// archived segments and the total.
    pub(crate) fn stats(&self) -> Result<Stats> {
        let st = self.read_state("")?;
        let storage = self.storage.as_ref();
        let mut tables = Vec::new();
        for idx in st.live() {
            let t = &st.tables[idx];
            let schema = t.schema();
            let meta = &st.meta[idx];
            let rows = if meta.loaded {
                t.len() as u64
            } else {
                meta.entry.as_ref().map_or(0, |e| e.rows)
            };
            let composites = schema.unique.iter().chain(&schema.index);
            let indexes = schema
                .columns
                .iter()
                .filter(|c| c.has_own_index())
                .map(|c| c.name.clone())
                .chain(composites.map(|cols| format!("({})", cols.join(", "))))
                .collect();
            let (snapshot_bytes, schema_bytes) = storage.map_or((0, 0), |s| {
                // A read-only database shows its point in time: the snapshot its manifest
                // named, whatever a writer has put there since.
                let snapshot = if s.read_only() {
                    meta.entry.as_ref().map_or(0, |e| e.snapshot_bytes)
                } else {
                    s.file_len(&s.layout.records(&schema.table))
                };
                (snapshot, s.file_len(&s.layout.schema(&schema.table)))
            });
            tables.push(TableStats {
                name: schema.table.clone(),
                rows,
                loaded: meta.loaded,
                pending_records: meta.pending.len() as u64,
                snapshot_bytes,
                schema_bytes,
                indexes,
                damaged: meta.snapshot_damage.clone().filter(|_| !meta.loaded),
            });
        }
        tables.sort_by(|a, b| a.name.cmp(&b.name));
        let mut stats = Stats {
            path: storage.map(|s| s.layout.root.clone()),
            tables,
            wal_bytes: 0,
            wal_records: 0,
            last_lsn: 0,
            checkpoint_lsn: 0,
            archived: Vec::new(),
            manifest_bytes: 0,
            total_bytes: 0,
            versions_held: 0,
            version_bytes: 0,
        };
        if let Some(s) = storage {
            let (bytes, records, last_lsn) = s.log_position();
            stats.wal_bytes = bytes;
            stats.wal_records = records;
            stats.last_lsn = last_lsn;
            stats.checkpoint_lsn = s
                .manifest
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .lsn;
            let mut archived: Vec<ArchivedSegment> = s
                .archives()?
                .into_iter()
                .map(|(last_lsn, path, bytes)| ArchivedSegment {
                    path,
                    last_lsn,
                    bytes,
                })
                .collect();
            if s.read_only() {
                // Segments a writer archived after this database's point in time are not
                // part of it.
                archived.retain(|a| a.last_lsn <= stats.checkpoint_lsn);
            }
            archived.sort_by_key(|a| a.last_lsn);
            stats.archived = archived;
            stats.manifest_bytes = s.file_len(&s.layout.manifest());
        }
        // This call's own version is not one a reader holds up.
        drop(st);
        let (held, bytes) = self.versions_held();
        stats.versions_held = held as u64;
        stats.version_bytes = bytes;
        stats.total_bytes = stats.wal_bytes
            + stats.manifest_bytes
            + stats.archived.iter().map(|a| a.bytes).sum::<u64>()
            + stats
                .tables
                .iter()
                .map(|t| t.snapshot_bytes + t.schema_bytes)
                .sum::<u64>();
        Ok(stats)
    }
}

/// `1.2 MiB`, `512 B`.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => writeln!(f, "database {}", p.display())?,
            None => writeln!(f, "in-memory database")?,
        }
        let w = self
            .tables
            .iter()
            .map(|t| t.name.len())
            .max()
            .unwrap_or(5)
            .max(5);
        writeln!(
            f,
            "{:<w$}  {:>10}  {:>10}  {:>9}  {:<7}  indexes",
            "table", "rows", "snapshot", "schema", "loaded"
        )?;
        for t in &self.tables {
            let loaded = if t.loaded {
                "yes".to_string()
            } else if t.damaged.is_some() {
                "no (damaged snapshot)".to_string()
            } else if t.pending_records > 0 {
                format!("no (+{} log records)", t.pending_records)
            } else {
                "no".to_string()
            };
            writeln!(
                f,
                "{:<w$}  {:>10}  {:>10}  {:>9}  {:<7}  {}",
                t.name,
                t.rows,
                human_bytes(t.snapshot_bytes),
                human_bytes(t.schema_bytes),
                loaded,
                t.indexes.join(", ")
            )?;
        }
        if self.path.is_some() {
            writeln!(
                f,
                "write-ahead log: {} in {} records since checkpoint at LSN {} (last LSN {})",
                human_bytes(self.wal_bytes),
                self.wal_records,
                self.checkpoint_lsn,
                self.last_lsn
            )?;
            let archived: u64 = self.archived.iter().map(|a| a.bytes).sum();
            writeln!(
                f,
                "archived segments: {} ({})",
                self.archived.len(),
                human_bytes(archived)
            )?;
            write!(f, "total on disk: {}", human_bytes(self.total_bytes))?;
        }
        // Only a database with readers in this process holding old versions has any (a
        // read-only open from another process never sees the writer's readers).
        if self.versions_held > 0 {
            if self.path.is_some() {
                writeln!(f)?;
            }
            write!(
                f,
                "older versions held by readers: {} ({})",
                self.versions_held,
                human_bytes(self.version_bytes)
            )?;
        }
        Ok(())
    }
}
