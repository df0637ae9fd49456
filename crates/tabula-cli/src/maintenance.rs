//! The commands that look after a database's files: `checkpoint`, `verify`, `repair` and
//! `wal`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::database::{must_be_database, open, while_created, Committed};
use crate::output::{self, finish, spinner, Format};

/// `tabula checkpoint`: snapshots of the changed tables, the log archived.
pub fn checkpoint(dir: &Path, json: bool) -> anyhow::Result<()> {
    let db = open(dir)?;
    let pb = spinner("checkpointing");
    db.checkpoint()?;
    finish(pb);
    let s = db.stats()?;
    if json {
        let v =
            serde_json::json!({"checkpoint_lsn": s.checkpoint_lsn, "archived": s.archived.len()});
        committed_outln!("{v}");
    } else {
        committed_outln!(
            "checkpoint at LSN {}; {} archived segment(s)",
            s.checkpoint_lsn,
            s.archived.len()
        );
    }
    Ok(())
}

/// `tabula verify`: every problem of every file; exit 1 if there is any.
pub fn verify(dir: &Path, format: Format) -> anyhow::Result<ExitCode> {
    let problems = tabula::verify(dir)?;
    if format == Format::Table {
        for p in &problems {
            outln!("{p}");
        }
        // What is no regular file (the lock file too, which keeps repair out: it takes the
        // lock) repair refuses to write over: it goes first, by hand.
        let by_hand: Vec<&Path> = problems
            .iter()
            .filter(|p| p.message.contains("not a regular file"))
            .map(|p| p.file.as_path())
            .collect();
        // What cannot be read (permission denied) may hold every row: made readable first,
        // then verified again, as repair refuses until then.
        let unreadable: Vec<&Path> = problems
            .iter()
            .filter(|p| {
                !p.message.contains("not a regular file")
                    && p.message.starts_with("cannot read ")
                    && p.message.ends_with("refuses until it can be read")
            })
            .map(|p| p.file.as_path())
            .collect();
        // Each problem is in one of the three.
        let others = problems.len() - by_hand.len() - unreadable.len();
        if problems.is_empty() {
            outln!("{}: no problems found", dir.display());
        } else {
            let names = |paths: &[&Path]| {
                paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut first = Vec::new();
            if !by_hand.is_empty() {
                first.push(format!("move aside or remove {}", names(&by_hand)));
            }
            if !unreadable.is_empty() {
                first.push(format!("make {} readable", names(&unreadable)));
            }
            let repair = format!(
                "`tabula repair {}` backs up every file and rebuilds what can be read",
                dir.display()
            );
            let advice = match (first.is_empty(), others, unreadable.is_empty()) {
                (true, _, _) => repair,
                (false, 0, true) => format!("{} (each line above says why)", first.join(" and ")),
                (false, _, true) => format!("{}, then {repair}", first.join(" and ")),
                (false, _, false) => format!(
                    "{} (each line above says why), then run `tabula verify {}` again",
                    first.join(" and "),
                    dir.display()
                ),
            };
            outln!("{} problem(s) found; {advice}", problems.len());
        }
    } else {
        output::list(
            format,
            &serde_json::to_value(&problems)?,
            &["file", "line", "message"],
        )
        .context("writing to standard output")?;
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `tabula wal`: the records of the write-ahead log.
pub fn wal(dir: &Path, format: Format) -> anyhow::Result<()> {
    let records = while_created(dir, || {
        must_be_database(dir)?;
        Ok(tabula::log_records(dir)?)
    })?;
    if format == Format::Table {
        let rows: Vec<Vec<String>> = records
            .iter()
            .map(|r| {
                let tables = r
                    .tables
                    .iter()
                    .map(|(t, p, d)| {
                        let created = if r.created.contains(t) {
                            "created, "
                        } else {
                            ""
                        };
                        format!("{t}: {created}{p} put, {d} delete")
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                vec![
                    r.line.to_string(),
                    r.lsn.to_string(),
                    tables,
                    r.problem.clone().unwrap_or_default(),
                ]
            })
            .collect();
        output::grid(
            &[
                "line".into(),
                "lsn".into(),
                "changes".into(),
                "problem".into(),
            ],
            &rows,
        );
    } else {
        let keys = &["line", "lsn", "tables", "created", "problem"];
        output::list(format, &serde_json::to_value(&records)?, keys)
            .context("writing to standard output")?;
    }
    Ok(())
}

pub fn repair(dir: &Path, backup_dir: Option<PathBuf>, json: bool) -> anyhow::Result<ExitCode> {
    // A repair that fails once it has begun rewriting leaves its marker, naming its backup:
    // files changed, so the failure is exit 3, and says where everything is.
    let marker = dir.join("REPAIRING");
    let marked_before = marker.exists();
    let report = match tabula::repair(dir, tabula::RepairOptions { backup_dir }) {
        Ok(report) => report,
        Err(e) if !marked_before && marker.exists() => {
            let backup = std::fs::read(&marker)
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v["backup"].as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("(named in {})", marker.display()));
            return Err(anyhow::Error::new(e).context(Committed::RepairStopped(backup)));
        }
        Err(e) => return Err(e.into()),
    };
    let text = if json {
        let mut v = serde_json::to_value(&report)?;
        v["clean"] = report.is_clean().into();
        serde_json::to_string(&v)?
    } else {
        repair_text(dir, &report).trim_end().to_owned()
    };
    // A repair that changed files (it backed them up first) is committed: a failure to
    // report it is exit 3, so that a script does not take it for one that did nothing.
    if report.backup.is_some() {
        committed_outln!("{text}");
    } else {
        outln!("{text}");
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The repair report for people: problems found, the backup, per table the rows before,
/// recovered and dropped with where each dropped row's bytes are kept, and the verdict.
fn repair_text(dir: &Path, r: &tabula::RepairReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut say = |line: String| {
        let _ = writeln!(out, "{line}");
    };
    let shown = as_given(dir);
    let problem = |p: &tabula::Problem| {
        let mut p = p.clone();
        p.file = shown(&p.file);
        p
    };
    if r.problems.is_empty() {
        say(format!(
            "{}: no problems found; nothing to repair",
            dir.display()
        ));
        return out;
    }
    say(format!("{} problem(s) found:", r.problems.len()));
    for p in &r.problems {
        say(format!("  {}", problem(p)));
    }
    if let Some(b) = &r.backup {
        say(format!(
            "backed up every file to {} (checked)",
            shown(b).display()
        ));
    }
    for t in &r.tables {
        let before = t
            .rows_before
            .map_or_else(|| "unknown".to_owned(), |n| n.to_string());
        say(format!(
            "table {}: rows at the last checkpoint: {before}; recovered: {}; dropped: {}; \
             missing from its snapshot (no bytes left there): {}{}",
            t.table,
            t.rows_recovered,
            t.rows_dropped,
            t.rows_missing,
            if t.schema_from_log {
                "; schema rebuilt from the log"
            } else {
                ""
            }
        ));
        if t.snapshot_unverified {
            say(
                "  its snapshot did not match the manifest's checksum: the rows read from it \
                 are kept as found, unverified (they may differ from what was committed; the \
                 file as it was is in the backup)"
                    .to_owned(),
            );
        }
        for d in &t.dropped {
            say(format!(
                "  dropped {}:{}: {} (bytes kept there)",
                shown(&d.file).display(),
                d.line,
                d.reason
            ));
        }
    }
    for d in &r.log_dropped {
        say(format!(
            "dropped log line {}:{}: {}",
            shown(&d.file).display(),
            d.line,
            d.reason
        ));
    }
    for q in &r.quarantined {
        // A table set aside because the table its foreign key names was: its own schema
        // may be sound, and the problem found says so.
        let schema_file = Path::new("schema").join(format!("{q}.schema.json"));
        let why = r
            .problems
            .iter()
            .find(|p| p.file.ends_with(&schema_file) && p.message.starts_with("references table"))
            .map_or("no readable schema anywhere", |p| p.message.as_str());
        say(format!(
            "table {q}: {why}; its files were moved to {}",
            dir.join("quarantine").display()
        ));
    }
    if r.is_clean() && r.tables.iter().any(|t| t.snapshot_unverified) {
        say(format!(
            "{} verifies clean: its files agree again, with the unverified rows above in them",
            dir.display()
        ));
    } else if r.is_clean() {
        say(format!("{} verifies clean", dir.display()));
    } else {
        for p in &r.remaining {
            say(format!("still wrong: {}", problem(p)));
        }
    }
    out
}

/// Maps a path in the database directory `dir` as resolved (repair reports absolute paths)
/// to the same path in `dir` as given, as `verify` names files; one in a directory beside it
/// named after it (the backup, `<dir>.backup-…`) to the same beside `dir` as given. Others
/// stay whole.
fn as_given(dir: &Path) -> impl Fn(&Path) -> PathBuf + '_ {
    let root = std::fs::canonicalize(dir).ok();
    // The backup is named after the directory resolved: beside `dir` as given only where
    // that is the same place under the same name (not through a symbolic link).
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
    let parent = std::fs::canonicalize(parent.unwrap_or(Path::new("."))).ok();
    let beside_as_given = root
        .as_ref()
        .is_some_and(|r| r.file_name() == dir.file_name() && r.parent() == parent.as_deref());
    // `base/rest`, without the trailing separator `join` leaves for an empty `rest`.
    let under = |base: PathBuf, rest: &Path| {
        if rest.as_os_str().is_empty() {
            base
        } else {
            base.join(rest)
        }
    };
    move |p: &Path| {
        let Some(root) = &root else {
            return p.to_path_buf();
        };
        if let Ok(rest) = p.strip_prefix(root) {
            return under(dir.to_path_buf(), rest);
        }
        let name = root.file_name().and_then(|n| n.to_str());
        let given = dir.file_name().and_then(|n| n.to_str());
        let (Some(name), Some(given), true) = (name, given, beside_as_given) else {
            return p.to_path_buf();
        };
        // The directory beside the root whose name starts with the root's: the path's
        // ancestor there, and what follows it.
        let beside = p.ancestors().find_map(|a| {
            let file = a.file_name()?.to_str()?;
            let suffix = file
                .strip_prefix(name)
                .filter(|_| a.parent() == root.parent())?;
            let rest = p.strip_prefix(a).ok()?;
            Some(under(dir.with_file_name(format!("{given}{suffix}")), rest))
        });
        beside.unwrap_or_else(|| p.to_path_buf())
    }
}
