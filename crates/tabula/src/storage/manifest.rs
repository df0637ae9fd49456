//! `manifest.json`: the last completed checkpoint. Writing it is the commit point of a
//! checkpoint; it names the LSN the snapshots include and each snapshot's checksum.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// The format version written in the manifest and schema files.
pub(crate) const FORMAT: u32 = 1;

/// One table as of the last checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TableEntry {
    /// Rows in the snapshot.
    pub(crate) rows: u64,
    /// The next auto-increment key (never reused, even after deleting the last row).
    pub(crate) next_key: i64,
    /// crc32c of `data/<table>.records`, 8 hex digits.
    pub(crate) snapshot_crc32c: String,
    /// Length of the snapshot in bytes.
    pub(crate) snapshot_bytes: u64,
    /// crc32c of `schema/<table>.schema.json`, 8 hex digits.
    pub(crate) schema_crc32c: String,
    /// The LSN of the log record that created the table: a table dropped and made again
    /// under its name has another. 0 for a table created before manifests recorded it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) created_lsn: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) format: u32,
    /// Every log record up to this LSN is in the snapshots.
    pub(crate) lsn: u64,
    pub(crate) tables: BTreeMap<String, TableEntry>,
    /// Tables dropped whose files may still be there (a `DROP TABLE` commits before it
    /// removes them): every open removes them, and reads no table from them. A name listed
    /// in `tables` too is that table's, not dropped.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub(crate) dropped: BTreeSet<String>,
    /// crc32c of the manifest's own JSON as [`Manifest::to_bytes`] writes it without this
    /// field. Absent in manifests written before it existed: those still open, and gain one
    /// at the next checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) crc32c: Option<String>,
}

impl Default for Manifest {
    fn default() -> Self {
        Manifest {
            format: FORMAT,
            lsn: 0,
            tables: BTreeMap::new(),
            dropped: BTreeSet::new(),
            crc32c: None,
        }
    }
}

impl Manifest {
    /// Whether the files of table `name` are a dropped table's leftovers.
    pub(crate) fn is_dropped(&self, name: &str) -> bool {
        self.dropped.contains(name) && !self.tables.contains_key(name)
    }

    /// The JSON without the checksum field.
    fn unsealed_bytes(&self) -> Vec<u8> {
        let unsealed = Manifest {
            crc32c: None,
            ..self.clone()
        };
        // Serializing numbers, strings and maps of them into a Vec cannot fail.
        serde_json::to_vec_pretty(&unsealed).unwrap_or_default()
    }

    /// The file's bytes, with the checksum of the rest in `crc32c`.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let sealed = Manifest {
            crc32c: Some(crc_hex(&self.unsealed_bytes())),
            ..self.clone()
        };
        let mut bytes = serde_json::to_vec_pretty(&sealed).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Reads a manifest file's bytes and checks its format and its checksum (when it has
    /// one); the error says what is wrong.
    pub(crate) fn parse(bytes: &[u8]) -> std::result::Result<Manifest, (u64, String)> {
        let m: Manifest =
            serde_json::from_slice(bytes).map_err(|e| (e.line() as u64, e.to_string()))?;
        if m.format != FORMAT {
            return Err((0, format!("unknown format {}", m.format)));
        }
        let max = crate::storage::wal::MAX_LSN;
        if let Some(lsn) = std::iter::once(m.lsn)
            .chain(m.tables.values().map(|t| t.created_lsn))
            .find(|&lsn| lsn > max)
        {
            return Err((0, format!("LSN {lsn} is beyond {max}: damaged")));
        }
        // Names become file names (and a dropped table's files are removed by name): a name
        // that is not a valid table name never reaches the file system.
        for (what, name) in m
            .tables
            .keys()
            .map(|n| ("table", n))
            .chain(m.dropped.iter().map(|n| ("dropped table", n)))
        {
            if let Err(e) = crate::schema::check_name(name) {
                return Err((0, format!("{what} {name:?}: {e}")));
            }
        }
        if let Some(stored) = &m.crc32c {
            let crc = crc_hex(&m.unsealed_bytes());
            if *stored != crc {
                return Err((
                    0,
                    format!("checksum {crc} does not match its crc32c {stored} (the manifest was changed)"),
                ));
            }
        }
        Ok(m)
    }
}

pub(crate) fn crc_hex(bytes: &[u8]) -> String {
    crc_hex_parts(&[bytes])
}

/// [`crc_hex`] of the bytes of `parts` one after the other.
pub(crate) fn crc_hex_parts(parts: &[&[u8]]) -> String {
    let crc = parts.iter().fold(0, |crc, p| crc32c::crc32c_append(crc, p));
    format!("{crc:08x}")
}

/// Why a schema file's bytes disagree with the manifest's entry for its table, if they do.
/// A migration from the file the manifest names explains a newer file: the crash came
/// between the schema file's replacement and the migration's checkpoint. (A migration that
/// does not record the file it replaced explains it if it was recorded at or after the
/// checkpoint's LSN.)
pub(crate) fn schema_disagreement(
    entry: Option<&TableEntry>,
    bytes: &[u8],
    migrations: &[crate::storage::Migration],
    manifest_lsn: u64,
) -> Option<String> {
    let entry = entry?;
    let crc = crc_hex(bytes);
    let migrated_since = migrations.iter().any(|m| match &m.from_schema_crc32c {
        Some(from) => *from == entry.schema_crc32c,
        None => m.lsn >= manifest_lsn,
    });
    (entry.schema_crc32c != crc && !migrated_since).then(|| {
        format!(
            "checksum {crc} does not match the manifest's {}",
            entry.schema_crc32c
        )
    })
}
