//! Moving a database's rows in and out as one JSON document: `export` and `import`.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use tabula::Database;

use crate::database::{clean_while_held, close_after_commit, empty_out, open, open_read_only};
use crate::output::{self, finish, spinner};

/// `tabula export`: every table to one JSON document (`-`: standard output).
pub fn export(dir: &Path, file: &Path, json: bool) -> anyhow::Result<()> {
    let db = open_read_only(dir)?;
    let pb = spinner("exporting");
    let dash = file.as_os_str() == "-";
    if dash {
        export_to_stdout(&db)?;
    } else {
        db.export_json(file)?;
    }
    finish(pb);
    let n = db.table_names()?.len();
    // The document itself may be on standard output (`-`, `/dev/stdout`): the
    // report goes to standard error then, so it never joins the document.
    let to_stdout = dash || file.metadata().is_ok_and(|m| !m.is_file() && !m.is_dir());
    let report = if json {
        serde_json::json!({"file": file.to_string_lossy(), "tables": n}).to_string()
    } else {
        format!("exported {n} table(s) to {}", file.display())
    };
    if to_stdout {
        output::err_line(format_args!("{report}"));
    } else {
        committed_outln!("{report}");
    }
    Ok(())
}

/// `tabula import`: a document `export` wrote, into the database (made if missing): all of
/// it, or nothing.
pub fn import(dir: &Path, file: PathBuf, json: bool) -> anyhow::Result<()> {
    let dash = cfg!(unix) && file.as_os_str() == "-";
    // What messages call the input: the user typed `-`, not `/dev/stdin`.
    let shown = if dash {
        "standard input".to_owned()
    } else {
        file.display().to_string()
    };
    let file = if dash {
        PathBuf::from("/dev/stdin")
    } else {
        file
    };
    // Read the file's metadata first, so a missing file creates no database.
    std::fs::metadata(&file).with_context(|| format!("reading {shown}"))?;
    let created = !dir.exists();
    let was_empty = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none());
    let db = if dir.join("wal").is_dir() {
        open(dir)?
    } else {
        // Import creates the database in a missing or empty directory.
        if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
            bail!(
                "{} is not empty and holds no tabula database; import into a new directory",
                dir.display()
            );
        }
        Database::open(dir).with_context(|| format!("creating {}", dir.display()))?
    };
    let pb = spinner("importing");
    let n = db.import_json(&file);
    finish(pb);
    let n = match n {
        Ok(n) => n,
        Err(e) => {
            // Everything or nothing: a database this import created goes too, and
            // a directory that was empty is left empty. Only while it holds no
            // table: another command may have created the database between the
            // look at the directory and the open (two imports at once), and its
            // tables are its own.
            let ours = db.table_names().is_ok_and(|t| t.is_empty());
            clean_while_held(db, || {
                if (created || was_empty) && ours {
                    empty_out(dir);
                }
                if created && ours {
                    let _ = std::fs::remove_dir(dir);
                }
            });
            return Err(match e {
                // The document is at fault, not the database: no repair hint (the
                // message stops being a `tabula::Error`, which is what asks for it).
                e if matches!(&e, tabula::Error::Corrupt { file: at, .. } if *at == file) => {
                    let e = e.to_string();
                    let e = match dash {
                        true => e.replacen("/dev/stdin", "standard input", 1),
                        false => e,
                    };
                    anyhow!("{e}; nothing was imported")
                }
                // Reading the document (not the database's own files).
                tabula::Error::Json {
                    source,
                    ref context,
                } if dash && *context == format!("import {}", file.display()) => {
                    anyhow!(
                        "JSON error in import of standard input: {source}; nothing was imported"
                    )
                }
                e @ tabula::Error::Json { .. }
                    if matches!(&e, tabula::Error::Json { context, .. }
                        if *context == format!("import {}", file.display())) =>
                {
                    anyhow::Error::from(e).context("nothing was imported")
                }
                tabula::Error::Io { source, ref path } if dash && *path == file => {
                    anyhow!("I/O error on standard input: {source}")
                }
                // A row the document or the database refuses (a key twice, a
                // check), before anything is written: the value names the row, this
                // names the file.
                e @ (tabula::Error::UniqueViolation { .. }
                | tabula::Error::NotNull { .. }
                | tabula::Error::TypeMismatch { .. }
                | tabula::Error::Check { .. }
                | tabula::Error::ForeignKey { .. }
                | tabula::Error::SchemaMismatch { .. }
                | tabula::Error::UnknownColumn { .. }) => anyhow::Error::from(e)
                    .context(format!("importing {shown}; nothing was imported")),
                // Anything else (the log, the disk) is the database's, as it says.
                e => e.into(),
            });
        }
    };
    close_after_commit(&db)?;
    let named = if dash {
        serde_json::json!("-")
    } else {
        serde_json::json!(file.to_string_lossy())
    };
    if json {
        committed_outln!("{}", serde_json::json!({"file": named, "rows": n}));
    } else {
        committed_outln!("imported {n} row(s) from {shown}");
    }
    Ok(())
}

/// `export DIR -`: the document written to a temporary file, then copied to standard
/// output as it is, whatever that is (a pipe, or a file opened for appending, which the
/// library's write-then-rename of `/dev/stdout` would replace).
fn export_to_stdout(db: &Database) -> anyhow::Result<()> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let temp =
        std::env::temp_dir().join(format!("tabula-export-{}-{nanos}.json", std::process::id()));
    let copied = (|| -> anyhow::Result<()> {
        db.export_json(&temp)?;
        let mut doc =
            std::fs::File::open(&temp).with_context(|| format!("reading {}", temp.display()))?;
        let mut out = std::io::stdout().lock();
        std::io::copy(&mut doc, &mut out).context("writing to standard output")?;
        std::io::Write::flush(&mut out).context("writing to standard output")?;
        Ok(())
    })();
    let _ = std::fs::remove_file(&temp);
    copied
}
