//! Each table's schema: its schema file, or the log record that created it, and what
//! follows from a table that has none (it is set aside, and so is every table whose foreign
//! key names it).

use std::collections::BTreeSet;

use super::table_state::TableState;
use super::{unreadable_cause, Inspection, SchemaSource};
use crate::error::{Error, Result};
use crate::expr::Condition;
use crate::schema::Schema;
use crate::storage::directory::{committed_schema, listing};
use crate::storage::fs::FileSystem;
use crate::storage::layout::Layout;
use crate::storage::manifest::schema_disagreement;
use crate::storage::verify::Problem;
use crate::storage::wal::scan::ScannedLine;
use crate::storage::SchemaFile;

/// Removes from `schema` (as read from a file, not yet finished) each composite unique
/// constraint, composite index and check that is invalid on its own (an unknown or repeated
/// column, a check that does not compile), returning why each went. Nothing is removed when
/// the columns themselves are invalid: that is the whole schema's problem.
pub(super) fn salvage_constraints(schema: &mut Schema) -> Vec<String> {
    let original = schema.clone();
    let mut base = schema.clone();
    base.unique.clear();
    base.index.clear();
    base.checks.clear();
    for c in &mut base.columns {
        c.check = None;
    }
    if base.finish().is_err() {
        return Vec::new();
    }
    let mut reasons = Vec::new();
    let mut kept = base.clone();
    for (is_unique, lists) in [
        (true, std::mem::take(&mut schema.unique)),
        (false, std::mem::take(&mut schema.index)),
    ] {
        for cols in lists {
            let mut trial = kept.clone();
            if is_unique {
                trial.unique.push(cols);
            } else {
                trial.index.push(cols);
            }
            match trial.finish() {
                Ok(()) => kept = trial,
                Err(e) => reasons.push(e.to_string()),
            }
        }
    }
    let compiles = |text: &str| Condition::parse(&base, text).map(drop);
    for text in std::mem::take(&mut schema.checks) {
        match compiles(&text) {
            Ok(()) => kept.checks.push(text),
            Err(e) => reasons.push(format!("check {text:?}: {e}")),
        }
    }
    for (i, c) in schema.columns.iter().enumerate() {
        if let Some(text) = &c.check {
            match compiles(text) {
                Ok(()) => kept.columns[i].check = Some(text.clone()),
                Err(e) => reasons.push(format!("check {text:?} on column {}: {e}", c.name)),
            }
        }
    }
    if reasons.is_empty() {
        *schema = original;
    } else {
        *schema = kept;
    }
    reasons
}

/// The schema files that could not be used, by table.
pub(super) struct SchemaFiles {
    /// Unreadable or invalid: the table has no schema from its file.
    pub(super) unreadable: Vec<String>,
    /// Readable, but their checksum is not the manifest's (edited, or damaged in a way that
    /// still parses).
    pub(super) disagreeing: Vec<String>,
}

/// The schema files: each table's schema, into `out.tables`.
pub(super) fn read_schema_files(
    out: &mut Inspection,
    fs: &dyn FileSystem,
    layout: &Layout,
    manifest_lsn: u64,
) -> Result<SchemaFiles> {
    let manifest = out.manifest.clone();
    let dropped = |t: &str| manifest.as_ref().is_some_and(|m| m.is_dropped(t));
    let mut unreadable_schemas = Vec::new();
    let mut disagreeing = Vec::new();
    for p in listing(fs, &layout.schema_dir())? {
        let Some(name) = Layout::table_of_schema(&p) else {
            continue;
        };
        if dropped(&name) {
            continue;
        }
        let entry = out
            .manifest
            .as_ref()
            .and_then(|m| m.tables.get(&name))
            .cloned();
        let bytes = match fs.read(&p).map_err(|e| unreadable_cause(fs, &p, e)) {
            Ok(bytes) => committed_schema(fs, &p, bytes, entry.as_ref()),
            // Vanished while read: the directory changed (`verify` reads it again).
            Err(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::io(&p, e))
            }
            // Any other failure to read it is the file's: none is damage repair could mend.
            Err(Ok(e) | Err(e)) => {
                out.unreadable(&p, Some(&name), "the schema file", e);
                unreadable_schemas.push(name);
                continue;
            }
        };
        let mut file: SchemaFile = match serde_json::from_slice(&bytes) {
            Ok(f) => f,
            Err(e) => {
                out.problem(&p, e.line() as u64, format!("unreadable schema: {e}"));
                unreadable_schemas.push(name);
                continue;
            }
        };
        // A constraint that is invalid on its own costs only itself: repair writes the
        // schema without it, and the table keeps its rows.
        for reason in salvage_constraints(&mut file.schema) {
            out.problem(
                &p,
                0,
                format!("invalid constraint, which repair removes: {reason}"),
            );
        }
        if let Err(e) = file.schema.finish() {
            out.problem(&p, 0, format!("invalid schema: {e}"));
            unreadable_schemas.push(name);
            continue;
        }
        if file.schema.table != name {
            out.problem(&p, 0, format!("names table {:?}", file.schema.table));
            unreadable_schemas.push(name);
            continue;
        }
        if let Some(reason) =
            schema_disagreement(entry.as_ref(), &bytes, &file.migrations, manifest_lsn)
        {
            out.problem(&p, 0, reason);
            disagreeing.push(name.clone());
        }
        let mut state = TableState::new(file.schema, SchemaSource::File, file.migrations);
        state.created_lsn = entry.as_ref().map_or(0, |e| e.created_lsn);
        out.tables.insert(name, state);
    }
    Ok(SchemaFiles {
        unreadable: unreadable_schemas,
        disagreeing,
    })
}

/// The tables the log creates after the manifest's checkpoint: a table whose schema file
/// is gone gets its schema from there, and one whose file says otherwise is reported.
pub(super) fn tables_created_in_log(
    out: &mut Inspection,
    layout: &Layout,
    log: &[ScannedLine],
    manifest_lsn: u64,
) {
    let wal_path = layout.wal();
    for l in log {
        let Ok(rec) = &l.parsed else { continue };
        // A record the sound manifest's checkpoint covers is not replayed, as an open does
        // not replay it: a table it created and a `DROP TABLE` dropped since stays dropped.
        if out.manifest.is_some() && rec.lsn <= manifest_lsn {
            continue;
        }
        for ops in &rec.tables {
            let Some(created) = &ops.create else { continue };
            let mut created = created.clone();
            if let Err(e) = created.finish() {
                out.problem(&wal_path, l.no, format!("invalid schema: {e}"));
                continue;
            }
            let listed = out
                .manifest
                .as_ref()
                .is_some_and(|m| m.tables.contains_key(&ops.table));
            match out.tables.get_mut(&ops.table) {
                Some(t) => {
                    if !listed && t.created_lsn == 0 {
                        // Its schema file was written once the creation was durable. A
                        // second record creating it (an open accepts one that says the
                        // same) does not move the creation after records between the two.
                        t.created_lsn = rec.lsn;
                    }
                    let diffs = t.schema.differences(&created);
                    let migrated_since = t.migrations.iter().any(|m| m.lsn >= rec.lsn);
                    if !diffs.is_empty() && !migrated_since {
                        out.problem(
                            &wal_path,
                            l.no,
                            format!(
                                "creates table {} unlike its schema file: {}",
                                ops.table,
                                diffs.join("; ")
                            ),
                        );
                    }
                }
                None => {
                    let mut state = TableState::new(created, SchemaSource::Log, Vec::new());
                    state.created_lsn = rec.lsn;
                    out.tables.insert(ops.table.clone(), state);
                }
            }
        }
    }
}

/// A schema file of a table a sound manifest does not list and no log record after its
/// checkpoint creates, and a table the manifest lists whose schema file is missing.
pub(super) fn check_listed_tables(out: &mut Inspection, layout: &Layout, schemas: &SchemaFiles) {
    let listed: Vec<String> = out
        .manifest
        .as_ref()
        .map(|m| m.tables.keys().cloned().collect())
        .unwrap_or_default();
    // A schema file of a table a sound manifest does not list and no log record after its
    // checkpoint creates: an open refuses it (its files are from another state of the
    // database); repair keeps the table, with the rows its snapshot holds.
    if out.manifest.is_some() {
        for (name, t) in &out.tables {
            if t.source == SchemaSource::File && t.created_lsn == 0 && !listed.contains(name) {
                out.problems.push(Problem {
                    file: layout.schema(name),
                    line: 0,
                    message: format!(
                        "table {name} is neither in the manifest nor created by a log record \
                         after its checkpoint; repair keeps it, with the rows of its snapshot"
                    ),
                });
            }
        }
    }
    for name in &listed {
        let on_disk = out
            .tables
            .get(name)
            .is_some_and(|t| t.source == SchemaSource::File);
        // A disagreeing file is there; when its table's creation replaces it, that was
        // reported as such.
        if !on_disk && !schemas.unreadable.contains(name) && !schemas.disagreeing.contains(name) {
            out.problem(
                &layout.schema(name),
                0,
                "listed in the manifest but missing",
            );
        }
    }
}

/// Tables without a readable schema are set aside (quarantined), and with them every table
/// whose foreign key names one.
pub(super) fn quarantine_unreadable(
    out: &mut Inspection,
    fs: &dyn FileSystem,
    layout: &Layout,
    unreadable: &[String],
) {
    for name in unreadable {
        if !out.tables.contains_key(name) {
            let files = out.quarantined.entry(name.clone()).or_default();
            files.push(layout.schema(name));
        }
    }

    // A table whose foreign key names a quarantined table cannot open without it: it is set
    // aside too (its rows are not orphans; their parent is only set aside).
    let mut set_aside = BTreeSet::new();
    loop {
        let dependent: Vec<(String, String)> = out
            .tables
            .iter()
            .filter_map(|(n, t)| {
                // A table whose schema file could not be read is not known to be lost:
                // repair refuses until it can be read, and nothing is set aside for it.
                let parent = t.schema.columns.iter().find_map(|c| {
                    c.references.as_ref().filter(|fk| {
                        out.quarantined.contains_key(&fk.table)
                            && (set_aside.contains(&fk.table)
                                || !out.unreadable_tables.contains(&fk.table))
                    })
                })?;
                Some((n.clone(), parent.table.clone()))
            })
            .collect();
        if dependent.is_empty() {
            break;
        }
        for (name, parent) in dependent {
            let why = if set_aside.contains(&parent) {
                format!("references table {parent}, which is set aside for a table it references")
            } else {
                format!("references table {parent}, which has no readable schema")
            };
            set_aside.insert(name.clone());
            out.tables.remove(&name);
            let files = out.quarantined.entry(name.clone()).or_default();
            for f in [layout.schema(&name), layout.records(&name)] {
                if fs.exists(&f) && !files.contains(&f) {
                    files.push(f);
                }
            }
            out.problem(
                &layout.schema(&name),
                0,
                format!("{why}; set aside with it"),
            );
        }
    }
}
