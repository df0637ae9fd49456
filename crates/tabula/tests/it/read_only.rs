//! `Database::open_read_only`: a directory read beside the process writing it, or where this
//! user may only read. It takes no lock, writes nothing, sees one consistent point (however
//! a checkpoint moves files under it), and `refresh` catches up.

use std::collections::BTreeMap;
use std::path::Path;

use tabula::{row, Database, Error, Table, Value};

use crate::common::{sorted_names, student, Student};

/// Every file of a directory with its bytes, to show an open changed nothing.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in walk(dir) {
        let rel = entry
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        out.insert(rel, std::fs::read(&entry).unwrap());
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.extend(walk(&p));
        } else {
            v.push(p);
        }
    }
    v
}

/// A closed database at `<dir>/db` whose `students` holds Ada.
fn with_ada(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("db");
    let db = Database::open(&path).unwrap();
    db.table::<Student>()
        .unwrap()
        .insert(student("Ada", 2024, 3.9))
        .unwrap();
    db.close().unwrap();
    path
}

/// An open database at `path` whose `students` holds Ada, checkpointed.
fn writer_with_ada(path: &Path) -> (Database, tabula::TableHandle<Student>) {
    let writer = Database::open(path).unwrap();
    let students = writer.table::<Student>().unwrap();
    students.insert(student("Ada", 2024, 3.9)).unwrap();
    writer.checkpoint().unwrap();
    (writer, students)
}

fn names(db: &Database) -> Vec<String> {
    sorted_names(db)
}

#[test]
fn a_reader_opens_beside_the_writer_and_catches_up_with_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (writer, students) = writer_with_ada(&path);
    students.insert(student("Bob", 2023, 3.1)).unwrap();

    // The writer holds the lock; a second writable open is refused, a read-only one is not.
    assert!(matches!(Database::open(&path), Err(Error::Locked { .. })));
    let reader = Database::open_read_only(&path).unwrap();
    assert!(reader.is_read_only());
    assert_eq!(names(&reader), ["Ada", "Bob"]);

    // Its point in time stays put until it refreshes, across a checkpoint that archives the
    // log it read and renames the snapshot.
    students.insert(student("Cy", 2022, 2.5)).unwrap();
    writer.checkpoint().unwrap();
    students.insert(student("Di", 2021, 3.3)).unwrap();
    assert_eq!(names(&reader), ["Ada", "Bob"]);
    reader.refresh().unwrap();
    assert_eq!(names(&reader), ["Ada", "Bob", "Cy", "Di"]);

    // A table created by the writer since appears after a refresh, through the dynamic API.
    writer
        .create_table(
            tabula::Schema::new(
                "notes",
                vec![
                    tabula::Column::new("id", tabula::ColumnType::U64).primary_key(),
                    tabula::Column::new("text", tabula::ColumnType::Text),
                ],
            )
            .unwrap(),
        )
        .unwrap();
    writer
        .dyn_table("notes")
        .unwrap()
        .insert(row! { "text" => "hello" })
        .unwrap();
    assert!(matches!(
        reader.dyn_table("notes"),
        Err(Error::UnknownTable { .. })
    ));
    reader.refresh().unwrap();
    assert_eq!(reader.dyn_table("notes").unwrap().count().unwrap(), 1);
    writer.close().unwrap();
}

#[test]
fn every_write_is_refused_and_nothing_on_disk_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = with_ada(dir.path());
    let before = files(&path);
    let db = Database::open_read_only(&path).unwrap();
    let students = db.table::<Student>().unwrap();
    let refused = |r: tabula::Result<()>, what: &str| match r {
        Err(Error::ReadOnly { path: p, operation }) => {
            assert_eq!(p, path, "{what}");
            operation
        }
        other => panic!("{what}: {other:?}"),
    };
    let op = refused(
        students.insert(student("Bob", 2023, 3.0)).map(drop),
        "insert",
    );
    assert_eq!(op, "write table students");
    refused(students.delete_key(1u64).map(drop), "delete");
    refused(
        students.update(|_| true, |s| s.gpa = 0.0).map(drop),
        "update",
    );
    refused(db.checkpoint(), "checkpoint");
    refused(
        db.transaction(|tx| tx.table::<Student>().map(drop)),
        "transaction",
    );
    // A SQL write names the table it writes; a text that writes several, SQL.
    for (text, table) in [
        ("UPDATE students SET gpa = 0", "students"),
        ("DELETE FROM main.students WHERE id = 1", "students"),
        (
            "INSERT INTO students (name, email, year) VALUES ('x', 'x@u', 1)",
            "students",
        ),
        ("BEGIN; DELETE FROM students; COMMIT", "(sql)"),
    ] {
        let op = refused(db.sql(text).map(drop), text);
        assert_eq!(op, format!("write table {table}"), "{text}");
    }
    let export = dir.path().join("out.json");
    db.export_json(&export).unwrap();
    refused(db.import_json(&export).map(drop), "import");
    // A table the directory does not have is unknown, and creating one is a write.
    assert!(matches!(
        db.table::<crate::common::Course>(),
        Err(Error::UnknownTable { .. })
    ));
    refused(
        db.create_table(<crate::common::Course as Table>::schema().clone())
            .map(drop),
        "create table",
    );
    // Reads still work, and closing writes nothing.
    assert_eq!(students.get(1u64).unwrap().unwrap().name, "Ada");
    db.close().unwrap();
    assert_eq!(files(&path), before);
    // Nor does opening a path that holds no database create one.
    let nothing = dir.path().join("nothing");
    assert!(matches!(
        Database::open_read_only(&nothing),
        Err(Error::NotADatabase { .. })
    ));
    assert!(!nothing.exists());
}

/// `BEGIN … COMMIT` around reads only takes no lock (as SQLite's deferred BEGIN): a
/// read-only database runs it, every statement reads the same version, a failing one ends
/// the text, and a write inside makes the group a write, refused there.
#[test]
fn a_transaction_of_reads_runs_on_a_read_only_database_on_one_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = with_ada(dir.path());
    let (writer, students) = {
        let db = Database::open(&path).unwrap();
        let t = db.table::<Student>().unwrap();
        (db, t)
    };
    let reader = Database::open_read_only(&path).unwrap();
    let r = reader
        .sql("BEGIN; SELECT COUNT(*) FROM students; SELECT name FROM students ORDER BY id; COMMIT")
        .unwrap();
    assert_eq!(r.rows, [[Value::from("Ada")]]);
    // Every result, in order, through sql_script; the text's last statement is the COMMIT.
    let mut seen = Vec::new();
    let r = reader
        .sql_script(
            "BEGIN; SELECT COUNT(*) AS n FROM students; SELECT 2 AS two; ROLLBACK",
            &[],
            |r| {
                seen.push((r.columns, r.rows));
                Ok(())
            },
        )
        .unwrap();
    assert!(r.columns.is_empty() && r.rows.is_empty(), "{r:?}");
    assert_eq!(
        seen,
        [
            (vec!["n".to_owned()], vec![vec![Value::Int(1)]]),
            (vec!["two".to_owned()], vec![vec![Value::Int(2)]]),
        ]
    );
    // Each result comes as its statement completes: those before a failing one too.
    let mut seen = Vec::new();
    let e = reader
        .sql_script(
            "BEGIN; SELECT 1 AS one; SELECT nope FROM students; COMMIT",
            &[],
            |r| {
                seen.push(r.columns);
                Ok(())
            },
        )
        .unwrap_err();
    assert!(
        matches!(&e, Error::Sql { reason, .. } if reason.contains("statement 3") && reason.contains("nope")),
        "{e}"
    );
    assert_eq!(seen, [vec!["one".to_owned()]]);
    // `BEGIN IMMEDIATE` takes the lock at once, as in SQLite: a write, refused here.
    let e = reader.sql("BEGIN IMMEDIATE; SELECT 1; COMMIT").unwrap_err();
    assert!(matches!(e, Error::ReadOnly { .. }), "{e}");
    // A group that writes, in a text parsed whole, takes the lock at its BEGIN: refused
    // there, before any of its reads runs.
    let mut seen = 0;
    let e = reader
        .sql_script("BEGIN; SELECT 1; DELETE FROM students; COMMIT", &[], |_| {
            seen += 1;
            Ok(())
        })
        .unwrap_err();
    assert!(matches!(e, Error::ReadOnly { .. }), "{e}");
    assert_eq!(seen, 0);

    // One version for the whole group: the statements of an in-memory database's group,
    // with another thread committing all along, count the same rows.
    let db = Database::in_memory();
    db.sql("CREATE TABLE n (id INTEGER PRIMARY KEY, v INTEGER)")
        .unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                db.sql("INSERT INTO n (v) VALUES (1)").unwrap();
            }
        });
        for _ in 0..200 {
            let mut counts = Vec::new();
            db.sql_script(
                "BEGIN; SELECT COUNT(*) FROM n; SELECT SUM(v) FROM n; SELECT COUNT(*) FROM n; COMMIT",
                &[],
                |r| {
                    counts.push(r.rows[0][0].as_i64().unwrap_or(0));
                    Ok(())
                },
            )
            .unwrap();
            assert!(counts.iter().all(|c| *c == counts[0]), "{counts:?}");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    drop((students, writer));
}

/// A commit still being written (its line has no newline yet) is not yet committed: left
/// out, and no damage. A complete last line whose checksum fails is left out and reported
/// where it is; nothing is moved or cut.
#[test]
fn an_unfinished_last_line_is_uncommitted_and_a_damaged_one_is_reported_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let (db, s) = writer_with_ada(&path);
        s.insert(student("Bob", 2023, 3.1)).unwrap();
        drop(s);
        drop(db);
    }
    let wal = path.join("wal/transaction.log");
    let good = std::fs::read(&wal).unwrap();
    let good: Vec<u8> = good[..good.iter().rposition(|&b| b == b'\n').unwrap() + 1].to_vec();

    let mut unfinished = good.clone();
    unfinished.extend_from_slice(b"0badc0de {\"lsn\":9");
    std::fs::write(&wal, &unfinished).unwrap();
    let db = Database::open_read_only(&path).unwrap();
    assert_eq!(names(&db), ["Ada", "Bob"]);
    assert!(
        db.recovery_report().is_empty(),
        "{:?}",
        db.recovery_report()
    );
    assert_eq!(std::fs::read(&wal).unwrap(), unfinished);

    // The last good line with one byte flipped, newline and all.
    let mut damaged = good.clone();
    let at = damaged.len() - 5;
    damaged[at] ^= 0x01;
    std::fs::write(&wal, &damaged).unwrap();
    let before = files(&path);
    let db = Database::open_read_only(&path).unwrap();
    assert_eq!(names(&db), ["Ada"]);
    let report = db.recovery_report();
    assert_eq!(report.len(), 1, "{report:?}");
    assert!(report[0].file.ends_with("wal/transaction.log"));
    assert_eq!(report[0].kept_in, None);
    drop(db);
    assert_eq!(
        files(&path),
        before,
        "a read-only open moved or cut something"
    );
}

/// A checkpoint that crashed after its manifest, before renaming its snapshot: the committed
/// temporary file is the snapshot, read as it is (the next writable open renames it).
#[test]
fn a_committed_checkpoint_file_not_yet_renamed_is_read_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (db, s) = writer_with_ada(&path);
    let old = std::fs::read(path.join("data/students.records")).unwrap();
    s.insert(student("Bob", 2023, 3.1)).unwrap();
    db.checkpoint().unwrap();
    drop(s);
    db.close().unwrap();
    // Put the old snapshot back under its name and the new one as the temporary file.
    let records = path.join("data/students.records");
    std::fs::rename(&records, path.join("data/students.records.tmp")).unwrap();
    std::fs::write(&records, old).unwrap();
    let before = files(&path);
    let reader = Database::open_read_only(&path).unwrap();
    assert_eq!(names(&reader), ["Ada", "Bob"]);
    drop(reader);
    assert_eq!(files(&path), before);
}

/// A typed table stays typed across a refresh; if the writer migrated it meanwhile, the
/// refresh is refused and the reader keeps what it had.
#[test]
fn a_refresh_after_the_writer_migrated_a_typed_table_is_refused_and_changes_nothing() {
    #[derive(Table, Debug, Clone)]
    #[table(name = "students")]
    struct StudentV2 {
        #[column(primary_key)]
        id: u64,
        name: String,
        #[column(unique)]
        email: String,
        #[column(index)]
        year: u32,
        #[column(default = 0.0)]
        gpa: f64,
        advisor: Option<String>,
        nickname: Option<String>,
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let writer = Database::open(&path).unwrap();
    writer
        .table::<Student>()
        .unwrap()
        .insert(student("Ada", 2024, 3.9))
        .unwrap();
    let reader = Database::open_read_only(&path).unwrap();
    assert_eq!(names(&reader), ["Ada"]);
    let dynamic = reader.dyn_table("students").unwrap();
    writer.close().unwrap();
    let writer = Database::open(&path).unwrap();
    writer.table::<StudentV2>().unwrap();
    let e = reader.refresh().unwrap_err();
    assert!(matches!(e, Error::SchemaMismatch { .. }), "{e}");
    assert_eq!(names(&reader), ["Ada"]);
    // A dynamic handle keeps its column names, so its rows keep theirs.
    let row = dynamic.get(1u64).unwrap().unwrap();
    assert_eq!(row["name"], tabula::Value::from("Ada"));
    // Opened again, it reads the new schema.
    let again = Database::open_read_only(&path).unwrap();
    assert_eq!(again.table::<StudentV2>().unwrap().count().unwrap(), 1);
}

/// A table the reader never loaded takes the writer's migration at a refresh, with the
/// rest of the new point (a table created meanwhile too); a reader that loaded it (a
/// dynamic handle holds its columns) is refused, as for a typed one.
#[test]
fn a_refresh_takes_a_migration_of_a_table_the_reader_never_loaded() {
    #[derive(Table, Debug, Clone)]
    #[table(name = "notes")]
    struct Note {
        #[column(primary_key)]
        id: u64,
        text: String,
    }
    #[derive(Table, Debug, Clone)]
    #[table(name = "notes")]
    struct NoteV2 {
        #[column(primary_key)]
        id: u64,
        text: String,
        tag: Option<String>,
    }
    #[derive(Table, Debug, Clone)]
    #[table(name = "later")]
    struct Later {
        #[column(primary_key)]
        id: u64,
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (writer, _students) = writer_with_ada(&path);
    writer
        .table::<Note>()
        .unwrap()
        .insert(Note {
            id: 0,
            text: "first".into(),
        })
        .unwrap();
    let untouched = Database::open_read_only(&path).unwrap();
    assert_eq!(names(&untouched), ["Ada"]);
    let user = Database::open_read_only(&path).unwrap();
    let notes = user.dyn_table("notes").unwrap();
    assert_eq!(notes.count().unwrap(), 1);

    writer.close().unwrap();
    let writer = Database::open(&path).unwrap();
    writer
        .table::<NoteV2>()
        .unwrap()
        .insert(NoteV2 {
            id: 0,
            text: "second".into(),
            tag: Some("new".into()),
        })
        .unwrap();
    writer
        .table::<Later>()
        .unwrap()
        .insert(Later { id: 0 })
        .unwrap();

    untouched.refresh().unwrap();
    let notes_now = untouched.dyn_table("notes").unwrap();
    let columns: Vec<&str> = notes_now
        .schema()
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(columns, ["id", "text", "tag"]);
    assert_eq!(
        notes_now.get(2u64).unwrap().unwrap()["tag"],
        tabula::Value::from("new")
    );
    assert_eq!(untouched.dyn_table("later").unwrap().count().unwrap(), 1);
    assert_eq!(names(&untouched), ["Ada"]);

    let e = user.refresh().unwrap_err();
    assert!(
        matches!(&e, Error::SchemaMismatch { table, reason } if table == "notes" && reason.contains("open the database again")),
        "{e}"
    );
    // Refused, it shows what it did: the old columns and rows.
    assert_eq!(notes.count().unwrap(), 1);
    assert!(matches!(
        user.dyn_table("later"),
        Err(Error::UnknownTable { .. })
    ));
}

/// Readers open and refresh over and over while another thread commits and checkpoints:
/// each sees one committed prefix of the writer's history (every transaction whole, none
/// missing before the last one it sees), and never less than what was committed before it
/// opened.
#[test]
fn readers_beside_a_busy_writer_see_whole_prefixes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let writer = Database::open(&path).unwrap();
    writer.table::<Student>().unwrap();
    let committed = std::sync::atomic::AtomicU64::new(0);
    let rounds = 150u64;
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for txn in 1..=rounds {
                writer
                    .transaction(|tx| {
                        let t = tx.table::<Student>()?;
                        for part in 0..3 {
                            t.insert(student(
                                &format!("t{txn}p{part}"),
                                2000 + txn as u32 % 20,
                                1.0,
                            ))?;
                        }
                        Ok(())
                    })
                    .unwrap();
                committed.store(txn, std::sync::atomic::Ordering::SeqCst);
                if txn % 10 == 0 {
                    writer.checkpoint().unwrap();
                }
            }
        });
        let check = |db: &Database, at_least: u64| -> u64 {
            let rows = db.table::<Student>().unwrap().select().all().unwrap();
            assert_eq!(rows.len() % 3, 0, "a transaction seen in part");
            let n = rows.len() as u64 / 3;
            assert!(
                n >= at_least,
                "saw {n} transactions, {at_least} were committed before"
            );
            let mut ids: Vec<u64> = rows.iter().map(|s| s.id).collect();
            ids.sort_unstable();
            assert_eq!(ids, (1..=rows.len() as u64).collect::<Vec<_>>(), "a gap");
            n
        };
        let mut reader: Option<Database> = None;
        loop {
            let done = committed.load(std::sync::atomic::Ordering::SeqCst);
            let db = match &reader {
                Some(db) if done.is_multiple_of(2) => {
                    db.refresh().unwrap();
                    db
                }
                _ => reader.insert(Database::open_read_only(&path).unwrap()),
            };
            check(db, done);
            if done == rounds {
                break;
            }
        }
    });
}

/// `refresh` inside a closure that is reading the same database is refused (it would wait
/// for itself).
#[test]
fn a_refresh_inside_a_read_goes_ahead_and_the_read_keeps_its_version() {
    use tabula::testing::FaultyFs;
    let fs = FaultyFs::new();
    {
        let db = Database::builder()
            .file_system(fs.clone())
            .open("/db")
            .unwrap();
        db.table::<Student>()
            .unwrap()
            .insert(student("Ada", 2024, 3.9))
            .unwrap();
        db.create_table(<crate::common::Course as Table>::schema().clone())
            .unwrap();
        db.close().unwrap();
    }
    let db = Database::builder()
        .file_system(fs.clone())
        .open_read_only("/db")
        .unwrap();
    let students = db.table::<Student>().unwrap();
    // A writer (this read-only database holds no lock) adds a row after the open.
    let writer = Database::builder()
        .file_system(fs.clone())
        .open("/db")
        .unwrap();
    writer
        .table::<Student>()
        .unwrap()
        .insert(student("Bob", 2023, 3.1))
        .unwrap();
    let (inside, plain) = db
        .read(|r| {
            let t = r.table(&students)?;
            assert_eq!(t.count()?, 1);
            db.refresh()?;
            Ok((t.count()?, students.count()?))
        })
        .unwrap();
    assert_eq!(
        (inside, plain),
        (1, 2),
        "the read kept its version; a new read sees Bob"
    );
    writer.close().unwrap();
}

/// One damaged snapshot does not keep the other tables from opening read-only: as with a
/// writable open, that table's first use reports it. `stats()`, which shows the rows its
/// manifest lists, says it is damaged (except under `Recovery::Salvage`, whose load keeps
/// what the snapshot's lines hold).
#[test]
fn a_damaged_snapshot_fails_only_its_own_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).unwrap();
        db.table::<Student>()
            .unwrap()
            .insert(student("Ada", 2024, 3.9))
            .unwrap();
        db.table::<crate::common::Course>()
            .unwrap()
            .insert(crate::common::Course {
                code: "CS1".into(),
                title: "Intro".into(),
                credits: 3,
            })
            .unwrap();
        db.close().unwrap();
    }
    let courses = path.join("data/courses.records");
    let mut bytes = std::fs::read(&courses).unwrap();
    bytes[3] ^= 0x01;
    std::fs::write(&courses, bytes).unwrap();
    let db = Database::open_read_only(&path).unwrap();
    assert_eq!(names(&db), ["Ada"]);
    let damage = |db: &Database| -> Vec<(String, Option<String>)> {
        let stats = db.stats().unwrap();
        stats
            .tables
            .into_iter()
            .map(|t| (t.name, t.damaged))
            .collect()
    };
    let listed = damage(&db);
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1], ("students".to_owned(), None));
    assert_eq!(listed[0].0, "courses");
    let reason = listed[0].1.clone().unwrap_or_default();
    assert!(
        reason.starts_with("checksum ") && reason.ends_with("bytes)"),
        "{reason}"
    );
    let e = db.table::<crate::common::Course>().unwrap_err();
    assert!(
        matches!(&e, Error::Corrupt { file, reason: r, .. }
            if file.ends_with("courses.records") && *r == reason),
        "{e}"
    );
    drop(db);
    let salvaging = Database::builder()
        .recovery(tabula::Recovery::Salvage)
        .open_read_only(&path)
        .unwrap();
    assert!(damage(&salvaging).iter().all(|(_, d)| d.is_none()));
    drop(salvaging);
    // A manifest without its own checksum (an older one's form) listing other rows than the
    // students' snapshot, which matches its checksum, holds.
    let manifest = path.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    m.as_object_mut().unwrap().remove("crc32c");
    m["tables"]["students"]["rows"] = serde_json::json!(5);
    std::fs::write(&manifest, serde_json::to_vec(&m).unwrap()).unwrap();
    let db = Database::open_read_only(&path).unwrap();
    assert_eq!(
        damage(&db)[1],
        (
            "students".to_owned(),
            Some("1 rows, the manifest says 5".to_owned())
        )
    );
}

/// In every recovery mode, a last line without its newline is a commit still being
/// written: left out, not an error (strict mode errs only on real damage).
#[test]
fn strict_mode_leaves_an_unfinished_last_line_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = with_ada(dir.path());
    let wal = path.join("wal/transaction.log");
    let mut bytes = std::fs::read(&wal).unwrap();
    bytes.extend_from_slice(b"0badc0de {\"lsn\":");
    std::fs::write(&wal, bytes).unwrap();
    let db = Database::builder()
        .recovery(tabula::Recovery::Strict)
        .open_read_only(&path)
        .unwrap();
    assert_eq!(names(&db), ["Ada"]);
    assert!(db.recovery_report().is_empty());
}

/// `stats()` of a read-only database describes its own point in time, not files a writer
/// changed since: no archived segment newer than its checkpoint, the snapshot sizes its
/// manifest named.
#[test]
fn stats_of_a_reader_stay_at_its_point_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (writer, students) = writer_with_ada(&path);
    let reader = Database::open_read_only(&path).unwrap();
    let before = reader.stats().unwrap();
    for n in ["Bob", "Cy"] {
        students.insert(student(n, 2023, 3.0)).unwrap();
        writer.checkpoint().unwrap();
    }
    let after = reader.stats().unwrap();
    assert_eq!(after.checkpoint_lsn, before.checkpoint_lsn);
    assert!(
        after
            .archived
            .iter()
            .all(|a| a.last_lsn <= after.checkpoint_lsn),
        "{:?}",
        after.archived
    );
    assert_eq!(
        after.tables[0].snapshot_bytes,
        before.tables[0].snapshot_bytes
    );
    assert_eq!(after.tables[0].rows, 1);
}

/// A migration plan on a read-only database, for a schema with a foreign key to a table not
/// read yet, loads that table for good: it reads as well afterwards as before (the bytes a
/// read-only open keeps of a snapshot go once a load takes them).
#[test]
fn a_plan_leaves_the_tables_its_foreign_keys_reference_readable() {
    use tabula::{Column, ColumnType, OnDelete, Schema};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).unwrap();
        db.sql(
            "CREATE TABLE parent (id INTEGER PRIMARY KEY); \
             CREATE TABLE child (id INTEGER PRIMARY KEY, p INTEGER); \
             INSERT INTO parent (id) VALUES (1), (2); INSERT INTO child (p) VALUES (1)",
        )
        .unwrap();
        db.close().unwrap();
    }
    let db = Database::open_read_only(&path).unwrap();
    let with_key = Schema::new(
        "child",
        vec![
            Column::new("id", ColumnType::I64).primary_key(),
            Column::new("p", ColumnType::I64)
                .nullable()
                .references("parent", OnDelete::Restrict),
        ],
    )
    .unwrap();
    let plan = db.alter_plan(with_key).unwrap();
    assert!(!plan.changes().is_empty(), "{plan:?}");
    assert_eq!(
        db.sql("SELECT count(*) FROM parent").unwrap().rows,
        [[tabula::Value::Int(2)]]
    );
}

/// A table the writer dropped and made again under its name, checkpointed, is the new
/// table after a refresh, whether the reader had loaded the old one or not (its place,
/// kept for handles as a dropped table, once took the new one's snapshot with it).
#[test]
fn a_refresh_after_a_table_was_dropped_and_made_again_reads_the_new_one() {
    for read_before in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Database::open(dir.path()).unwrap();
            db.sql(
                "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT); INSERT INTO t (a) VALUES ('one')",
            )
            .unwrap();
            db.close().unwrap();
        }
        let reader = Database::open_read_only(dir.path()).unwrap();
        if read_before {
            let rows = reader.sql("SELECT a FROM t").unwrap().rows;
            assert_eq!(rows, [[Value::from("one")]]);
        }
        {
            let writer = Database::open(dir.path()).unwrap();
            writer
                .sql(
                    "DROP TABLE t; CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b INTEGER);
                      INSERT INTO t (a, b) VALUES ('new', 2)",
                )
                .unwrap();
            writer.close().unwrap();
        }
        reader.refresh().unwrap();
        for _ in 0..2 {
            let r = reader.sql("SELECT a, b FROM t").unwrap();
            assert_eq!(
                r.rows,
                [[Value::from("new"), Value::Int(2)]],
                "read before: {read_before}"
            );
        }
    }
}

/// The same for a text over 4 KiB, which runs as it is parsed, its `BEGIN` not knowing
/// what follows: on a read-only database the group reads one version until a statement
/// writes, which is refused there (as any write), with the results before it handed out.
#[test]
fn a_long_text_s_transaction_of_reads_runs_on_a_read_only_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = with_ada(dir.path());
    let reader = Database::open_read_only(&path).unwrap();
    let pad = format!("\n-- {}\n", "x".repeat(5000));
    let r = reader
        .sql(&format!(
            "BEGIN; SELECT COUNT(*) FROM students;{pad} SELECT name FROM students ORDER BY id; COMMIT"
        ))
        .unwrap();
    assert_eq!(r.rows, [[Value::from("Ada")]]);
    let mut seen = Vec::new();
    let r = reader
        .sql_script(
            &format!("BEGIN; SELECT COUNT(*) AS n FROM students;{pad} SELECT 2 AS two; ROLLBACK; SELECT 3 AS three"),
            &[],
            |r| {
                seen.push(r.columns);
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(r.columns, ["three"]);
    assert_eq!(
        seen,
        [
            vec!["n".to_owned()],
            vec!["two".to_owned()],
            vec!["three".to_owned()]
        ]
    );
    let mut seen = Vec::new();
    let e = reader
        .sql_script(
            &format!("BEGIN; SELECT 1 AS one;{pad} DELETE FROM students; COMMIT"),
            &[],
            |r| {
                seen.push(r.columns);
                Ok(())
            },
        )
        .unwrap_err();
    assert!(matches!(e, Error::ReadOnly { .. }), "{e}");
    assert_eq!(seen, [vec!["one".to_owned()]]);
    let e = reader
        .sql(&format!("BEGIN IMMEDIATE; SELECT 1;{pad} COMMIT"))
        .unwrap_err();
    assert!(matches!(e, Error::ReadOnly { .. }), "{e}");
    let e = reader
        .sql(&format!("BEGIN; SELECT 1;{pad} BEGIN; COMMIT"))
        .unwrap_err();
    assert!(
        matches!(&e, Error::Sql { reason, .. } if reason.contains("transactions do not nest")),
        "{e}"
    );
    let e = reader.sql(&format!("BEGIN; SELECT 1;{pad}")).unwrap_err();
    assert!(
        matches!(&e, Error::Sql { reason, .. } if reason.contains("BEGIN")),
        "{e}"
    );
}
