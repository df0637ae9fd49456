//! Where each file of a database directory lives.
//!
//! ```text
//! <dir>/manifest.json                 last completed checkpoint
//! <dir>/LOCK                          held while a process has the database open
//! <dir>/REPAIRING                     present only while a repair writes (names its backup)
//! <dir>/schema/<table>.schema.json    one per table
//! <dir>/data/<table>.records          snapshot, JSON Lines
//! <dir>/wal/transaction.log           current write-ahead log
//! <dir>/wal/transaction.<lsn>.log     archived segments (<lsn>: the last LSN they hold)
//! <dir>/wal/transaction.<lsn>.damaged a damaged log tail an open cut off (<lsn>: the last
//!                                     good record before it), kept until you remove it
//! ```

use std::path::{Path, PathBuf};

/// The suffix of a file being written before it is renamed into place.
pub(crate) const TMP: &str = ".tmp";
/// The suffix of a log a checkpoint staged ([`Layout::next_wal`]).
const NEXT: &str = ".next";

/// The suffix of a damaged log tail set aside by an open.
pub(crate) const DAMAGED: &str = ".damaged";

#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) root: PathBuf,
}

impl Layout {
    pub(crate) fn new(root: &Path) -> Self {
        Layout {
            root: root.to_path_buf(),
        }
    }
    pub(crate) fn manifest(&self) -> PathBuf {
        self.root.join("manifest.json")
    }
    pub(crate) fn lock(&self) -> PathBuf {
        self.root.join("LOCK")
    }
    /// Written by a repair before it changes anything and removed when it is done: while it
    /// exists the directory is half rebuilt, no open accepts it, and the next repair starts
    /// again from the backup it names.
    pub(crate) fn repairing(&self) -> PathBuf {
        self.root.join("REPAIRING")
    }
    pub(crate) fn schema_dir(&self) -> PathBuf {
        self.root.join("schema")
    }
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }
    pub(crate) fn wal_dir(&self) -> PathBuf {
        self.root.join("wal")
    }
    pub(crate) fn schema(&self, table: &str) -> PathBuf {
        self.schema_dir().join(format!("{table}.schema.json"))
    }
    pub(crate) fn records(&self, table: &str) -> PathBuf {
        self.data_dir().join(format!("{table}.records"))
    }
    pub(crate) fn wal(&self) -> PathBuf {
        self.wal_dir().join("transaction.log")
    }
    pub(crate) fn archived_wal(&self, last_lsn: u64) -> PathBuf {
        self.wal_dir()
            .join(format!("transaction.{last_lsn:020}.log"))
    }
    /// The new, empty log a checkpoint at `lsn` stages before it archives the log in place
    /// (`transaction.<lsn>.next`): named for its checkpoint, so that no other file is ever
    /// taken for it.
    pub(crate) fn next_wal(&self, lsn: u64) -> PathBuf {
        self.wal_dir().join(format!("transaction.{lsn:020}{NEXT}"))
    }
    /// Whether `path` is a log staged by a checkpoint ([`Layout::next_wal`]).
    pub(crate) fn is_next_wal(path: &Path) -> bool {
        path.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("transaction.") && n.ends_with(NEXT))
    }
    /// Where the damaged tail cut after record `last_lsn` is kept: the first free name of
    /// `transaction.<lsn>.damaged`, `transaction.<lsn>-2.damaged`, ...
    pub(crate) fn damaged_wal(&self, last_lsn: u64, n: u32) -> PathBuf {
        let suffix = if n <= 1 {
            String::new()
        } else {
            format!("-{n}")
        };
        self.wal_dir()
            .join(format!("transaction.{last_lsn:020}{suffix}{DAMAGED}"))
    }
    pub(crate) fn tmp(path: &Path) -> PathBuf {
        let mut s = path.as_os_str().to_owned();
        s.push(TMP);
        PathBuf::from(s)
    }

    /// The table a schema file names, if `path` is one.
    pub(crate) fn table_of_schema(path: &Path) -> Option<String> {
        let name = path.file_name()?.to_str()?;
        name.strip_suffix(".schema.json").map(str::to_owned)
    }

    /// The last LSN an archived segment holds, if `path` is one.
    pub(crate) fn archived_lsn(path: &Path) -> Option<u64> {
        let name = path.file_name()?.to_str()?;
        name.strip_prefix("transaction.")?
            .strip_suffix(".log")?
            .parse()
            .ok()
    }
}
