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

/// Writes the dump of `db` to standard output (`tabula dump`, the shell's `.dump`).
pub fn to_stdout(db: &tabula::Database, dialect: Dialect) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    dump_into(db, dialect, &mut out, "standard output")?;
    out.flush().context("writing the dump to standard output")
}

/// The dump of `db` into `out`. An error writing it says so, naming `place`; an error
/// reading the database (a damaged table found on the way) is the library's own, which
/// names the file: the output is not to blame for it.
fn dump_into<W: Write>(
    db: &tabula::Database,
    dialect: Dialect,
    out: &mut W,
    place: &str,
) -> anyhow::Result<()> {
    db.dump_sql(dialect, out).map_err(|e| {
        // The library names the output of its writes so.
        let output =
            matches!(&e, tabula::Error::Io { path, .. } if path == Path::new("(dump output)"));
        let e = anyhow::Error::new(e);
        if output {
            e.context(format!("writing the dump to {place}"))
        } else {
            e
        }
    })
}

/// Writes the dump of the database at `dir` (opened read-only, so it works beside a live
/// writer) to `output`, or to standard output. A file is written beside its place and
/// renamed into it once whole, so that a dump that fails half-way (a damaged table found
/// late) neither passes for a whole one nor destroys the file that was there. A path that
/// is not a regular file (a pipe, a device, a symbolic link) is written in place, and never
/// removed.
pub fn run(dir: &Path, dialect: DialectArg, output: Option<&PathBuf>) -> anyhow::Result<()> {
    // As `export`: never over a database's own files (the dumped one's or any other's).
    if let Some(path) = output {
        tabula::check_output_path(path)?;
    }
    let db = crate::database::open_read_only(dir)?;
    let Some(path) = output else {
        return to_stdout(&db, dialect.into());
    };
    // Writes the dump into `f`, synced when it is a regular file about to take the name
    // (a pipe or a device cannot be synced).
    let place = path.display().to_string();
    let context = || format!("writing the dump to {place}");
    let fill = |f: File, sync: bool| -> anyhow::Result<()> {
        let mut out = BufWriter::new(f);
        dump_into(&db, dialect.into(), &mut out, &place)?;
        let f = out
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(context)?;
        if sync {
            f.sync_all().with_context(context)?;
        }
        Ok(())
    };
    let in_place = match std::fs::symlink_metadata(path) {
        Ok(m) => !m.file_type().is_file(),
        Err(_) => false,
    };
    if in_place {
        let f = File::create(path).with_context(|| format!("opening {}", path.display()))?;
        return fill(f, false);
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let temp = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.as_deref().unwrap_or("dump"),
        std::process::id()
    ));
    // Made anew: never through a link, nor over a file, someone left at that name.
    let f = File::options()
        .write(true)
        .create_new(true)
        .open(&temp)
        .with_context(|| format!("creating {}", temp.display()))
        .with_context(context)?;
    // The dump replacing a file keeps that file's permissions (a dump holds every row).
    let keep = std::fs::metadata(path).ok().map(|m| m.permissions());
    let written = fill(f, true).and_then(|()| {
        if let Some(permissions) = keep {
            std::fs::set_permissions(&temp, permissions)
                .with_context(|| format!("setting the permissions of {}", temp.display()))
                .with_context(context)?;
        }
        std::fs::rename(&temp, path)
            .with_context(|| format!("renaming {} to {}", temp.display(), path.display()))
            .with_context(context)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}
