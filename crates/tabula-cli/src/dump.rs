//! `tabula dump DIR [--dialect sqlite|postgres] [-o FILE]`: the database as a SQL script
//! (`Database::dump_sql`), on standard output or in a file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use tabula::Dialect;

/// The dialects `--dialect` takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DialectArg {
    /// SQLite: INSERT batches, AUTOINCREMENT and sqlite_sequence.
    #[default]
    Sqlite,
    /// PostgreSQL: COPY blocks, identity columns and setval (load with psql).
    Postgres,
}

impl From<DialectArg> for Dialect {
    fn from(d: DialectArg) -> Self {
        match d {
            DialectArg::Sqlite => Dialect::Sqlite,
            DialectArg::Postgres => Dialect::Postgres,
        }
    }
}

/// Writes the dump of the database at `dir` (opened read-only, so it works beside a live
/// writer) to `output`, or to standard output. A file that cannot be finished is removed,
/// so a half-written script never passes for a whole one.
pub fn run(dir: &Path, dialect: DialectArg, output: Option<&PathBuf>) -> anyhow::Result<()> {
    let db = crate::open_read_only(dir)?;
    match output {
        None => {
            let stdout = std::io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            db.dump_sql(dialect.into(), &mut out)
                .context("writing the dump to standard output")?;
            out.flush().context("writing the dump to standard output")?;
        }
        Some(path) => {
            let written = File::create(path)
                .with_context(|| format!("creating {}", path.display()))
                .and_then(|f| {
                    let mut out = BufWriter::new(f);
                    db.dump_sql(dialect.into(), &mut out)?;
                    let f = out.into_inner().map_err(|e| e.into_error())?;
                    f.sync_all()?;
                    Ok(())
                })
                .with_context(|| format!("writing the dump to {}", path.display()));
            if written.is_err() {
                let _ = std::fs::remove_file(path);
            }
            written?;
        }
    }
    Ok(())
}
