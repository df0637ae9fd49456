//! Export and import: round trips, and hostile or colliding documents that change nothing.

use std::fs;

use tabula::{Database, Error};

use crate::common::{school, student, Course, Student};

#[test]
fn export_then_import_into_a_new_database() {
    let (db, s) = school();
    db.table::<Course>()
        .unwrap()
        .insert(Course {
            code: "C1".into(),
            title: "One".into(),
            credits: 3,
        })
        .unwrap();
    s.update(
        |x| x.name == "Bob",
        |x| x.advisor = Some("Dr. \"Q\"".into()),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.json");
    db.export_json(&file).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc["format"], "tabula-export");
    assert_eq!(doc["tables"].as_array().unwrap().len(), 2);

    let other = Database::open(dir.path().join("db")).unwrap();
    assert_eq!(other.import_json(&file).unwrap(), 6);
    let s2 = other.table::<Student>().unwrap();
    assert_eq!(s2.select().all().unwrap(), s.select().all().unwrap());
    assert_eq!(other.table::<Course>().unwrap().count().unwrap(), 1);
    // Importing again collides with every key: an error, and nothing changes.
    let e = other.import_json(&file).unwrap_err();
    assert!(matches!(e, Error::UniqueViolation { .. }), "{e}");
    assert_eq!(s2.count().unwrap(), 5);
    // New keys still continue after the imported ones.
    assert_eq!(s2.insert(student("New", 2020, 1.0)).unwrap(), 6);
}

/// Keys are never reused (FILES.md), across an export and import too: the document carries
/// each auto-increment table's counter, so the keys of rows deleted before the export are
/// not given to new rows after the import. A lower counter in the document lowers nothing.
#[test]
fn an_import_keeps_the_exported_auto_increment_counter() {
    let (db, s) = school();
    let next = s.insert(student("Gone", 2020, 1.0)).unwrap();
    s.delete(|x| x.name == "Gone").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.json");
    db.export_json(&file).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
    let students = doc["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["schema"]["table"] == "students")
        .unwrap();
    assert_eq!(students["next_key"], next + 1);

    let other = Database::open(dir.path().join("db")).unwrap();
    other.import_json(&file).unwrap();
    let s2 = other.table::<Student>().unwrap();
    assert_eq!(s2.insert(student("New", 2020, 1.0)).unwrap(), next + 1);
    drop(s2);
    drop(other);
    // Reopened, the counter is still past the deleted key.
    let other = Database::open(dir.path().join("db")).unwrap();
    let s2 = other.table::<Student>().unwrap();
    assert_eq!(s2.insert(student("Newer", 2020, 1.0)).unwrap(), next + 2);

    // A document's lower counter does not lower a counter already higher.
    let low = fs::read_to_string(&file)
        .unwrap()
        .replace(&format!("\"next_key\":{}", next + 1), "\"next_key\":1");
    let fresh = Database::in_memory();
    import_str(&fresh, low.as_bytes()).unwrap();
    let s3 = fresh.table::<Student>().unwrap();
    assert_eq!(s3.insert(student("After", 2020, 1.0)).unwrap(), next);
}

fn import_str(db: &Database, text: &[u8]) -> Result<usize, Error> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.json");
    fs::write(&file, text).unwrap();
    db.import_json(&file)
}

#[test]
fn hostile_documents_get_clear_errors_and_change_nothing() {
    let (db, s) = school();
    let schema = r#"{"table":"students","columns":[{"name":"id","type":"u64","primary_key":true},{"name":"name","type":"text"},{"name":"email","type":"text","unique":true},{"name":"year","type":"u32","index":true},{"name":"gpa","type":"f64","default":0.0},{"name":"advisor","type":"text","nullable":true}]}"#;
    let doc = |rows: &str| {
        format!(
            r#"{{"format":"tabula-export","version":1,"tables":[{{"schema":{schema},"rows":[{rows}]}}]}}"#
        )
    };
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not json", b"hello".to_vec()),
        ("deep nesting", deep.into_bytes()),
        ("invalid utf-8", b"{\"format\":\"tabula-export\xff\"}".to_vec()),
        ("wrong format", br#"{"format":"other","version":1,"tables":[]}"#.to_vec()),
        ("huge number", doc(r#"{"id":99,"name":"H","email":"h@x","year":1e400}"#).into_bytes()),
        ("u64 beyond i64", doc(r#"{"id":18446744073709551615,"name":"H","email":"h@x","year":1}"#).into_bytes()),
        ("wrong type", doc(r#"{"id":99,"name":5,"email":"h@x","year":1}"#).into_bytes()),
        ("unknown column", doc(r#"{"id":99,"name":"H","email":"h@x","year":1,"x":1}"#).into_bytes()),
        ("duplicate inside", doc(r#"{"id":98,"name":"H","email":"h@x","year":1},{"id":99,"name":"I","email":"h@x","year":1}"#).into_bytes()),
        ("collides with existing", doc(r#"{"id":99,"name":"H","email":"alice@uni.edu","year":1}"#).into_bytes()),
        ("bad table name", br#"{"format":"tabula-export","version":1,"tables":[{"schema":{"table":"../etc","columns":[{"name":"id","type":"u64","primary_key":true}]},"rows":[]}]}"#.to_vec()),
    ];
    for (what, text) in cases {
        let e = import_str(&db, &text).unwrap_err();
        let msg = e.to_string();
        assert!(!msg.is_empty(), "{what}");
        assert_eq!(s.count().unwrap(), 5, "{what}: {msg}");
    }
    assert_eq!(db.table_names().unwrap(), ["students"]);
    // A document that creates a new table and then fails creates nothing.
    let two = format!(
        r#"{{"format":"tabula-export","version":1,"tables":[{{"schema":{{"table":"extra","columns":[{{"name":"id","type":"u64","primary_key":true}}]}},"rows":[{{"id":1}}]}},{{"schema":{schema},"rows":[{{"id":1,"name":"X","email":"x@x","year":1}}]}}]}}"#
    );
    assert!(matches!(
        import_str(&db, two.as_bytes()),
        Err(Error::UniqueViolation { .. })
    ));
    assert_eq!(db.table_names().unwrap(), ["students"]);
}

/// An open database at `<dir>/db` with one student, in its log.
fn with_student(dir: &std::path::Path) -> (std::path::PathBuf, tabula::Database) {
    let path = dir.join("db");
    let db = tabula::Database::open(&path).unwrap();
    db.table::<crate::common::Student>()
        .unwrap()
        .insert(crate::common::student("A", 2020, 3.0))
        .unwrap();
    (path, db)
}

#[test]
fn an_export_never_lands_inside_a_database_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (path, db) = with_student(dir.path());
    db.checkpoint().unwrap();
    let other = dir.path().join("other");
    drop(tabula::Database::open(&other).unwrap());
    std::fs::create_dir(dir.path().join("elsewhere")).unwrap();
    std::os::unix::fs::symlink(&path, dir.path().join("link")).unwrap();
    let targets = [
        path.join("manifest.json"),
        path.join("data/students.records"),
        path.join("new.json"),
        dir.path().join("elsewhere/../db/x.json"),
        dir.path().join("link/manifest.json"),
        other.join("manifest.json"),
    ];
    let manifest = std::fs::read(path.join("manifest.json")).unwrap();
    for t in &targets {
        let e = db.export_json(t).unwrap_err();
        assert!(
            matches!(e, tabula::Error::ExportIntoDatabase { .. }),
            "{}: {e}",
            t.display()
        );
    }
    assert_eq!(std::fs::read(path.join("manifest.json")).unwrap(), manifest);
    db.export_json(dir.path().join("elsewhere/out.json"))
        .unwrap();
    drop(db);
    assert_eq!(tabula::verify(&path).unwrap(), []);
}

/// An export writes only a file it created: a link or a file already at a temporary name
/// beside the target is never followed or truncated (a link to the database's log used to
/// have the log replaced by the document), a target that links to a database's file is refused,
/// a target that links elsewhere has the file it points to replaced, and exports to the
/// same path at once all succeed.
#[test]
fn an_export_writes_only_files_it_created() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let (path, db) = with_student(dir.path());
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let log = path.join("wal/transaction.log");
    let log_bytes = std::fs::read(&log).unwrap();
    symlink(&log, out.join("a.json.tmp")).unwrap();
    std::fs::hard_link(&log, out.join("b.json.tmp")).unwrap();
    db.export_json(out.join("a.json")).unwrap();
    db.export_json(out.join("b.json")).unwrap();
    assert_eq!(std::fs::read(&log).unwrap(), log_bytes);

    symlink(&log, out.join("into-db.json")).unwrap();
    let e = db.export_json(out.join("into-db.json")).unwrap_err();
    assert!(matches!(e, tabula::Error::ExportIntoDatabase { .. }), "{e}");
    assert_eq!(std::fs::read(&log).unwrap(), log_bytes);

    let real = dir.path().join("real.json");
    std::fs::write(&real, b"old").unwrap();
    symlink(&real, out.join("link.json")).unwrap();
    db.export_json(out.join("link.json")).unwrap();
    assert!(std::fs::symlink_metadata(out.join("link.json"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::read_to_string(&real)
        .unwrap()
        .contains("\"students\""));

    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| db.export_json(out.join("same.json")).unwrap());
        }
    });
    let doc = std::fs::read(out.join("same.json")).unwrap();
    assert!(
        tabula::Database::in_memory()
            .import_json(out.join("same.json"))
            .is_ok(),
        "{}",
        doc.len()
    );
    drop(db);
    assert_eq!(tabula::verify(&path).unwrap(), []);
}

/// The counter an import raises is logged with its rows: a process killed right after the
/// import (no checkpoint, no close) reopens with it.
#[test]
fn an_imported_counter_survives_a_kill_before_any_checkpoint() {
    use tabula::testing::FaultyFs;
    use tabula::{row, Column, ColumnType, Schema};
    let fs = FaultyFs::new();
    let open = |path: &str| {
        Database::builder()
            .file_system(fs.clone())
            .open(path)
            .unwrap()
    };
    let db = open("/a");
    let t = db
        .create_table(
            Schema::new(
                "notes",
                vec![
                    Column::new("id", ColumnType::U64).primary_key(),
                    Column::new("text", ColumnType::Text),
                ],
            )
            .unwrap(),
        )
        .unwrap();
    for text in ["a", "b", "c"] {
        t.insert(row! { "text" => text }).unwrap();
    }
    t.delete(|r| r["text"] == "c".into()).unwrap();
    db.export_json("/backup.json").unwrap();
    drop(t);
    drop(db);
    let b = open("/b");
    b.import_json("/backup.json").unwrap();
    // Killed: its handles fail from here, so dropping it writes nothing.
    fs.process_exit();
    drop(b);
    let b = open("/b");
    let key = b
        .dyn_table("notes")
        .unwrap()
        .insert(row! { "text" => "d" })
        .unwrap();
    assert_eq!(key, tabula::Value::Int(4));
}

/// A counter its key column could never give out is refused, in an import (nothing is
/// imported) as through SQL's `sqlite_sequence`: the table would take no more rows.
#[test]
fn a_counter_past_the_key_column_is_refused() {
    let db = Database::in_memory();
    db.sql("CREATE TABLE s (id INT4 PRIMARY KEY, v TEXT); INSERT INTO s (v) VALUES ('a')")
        .unwrap();
    let e = db
        .sql("INSERT INTO sqlite_sequence VALUES ('s', 3000000000)")
        .unwrap_err();
    assert!(
        matches!(&e, Error::Sql { reason, .. } if reason.contains("3000000001 is past key column s.id (i32, at most 2147483647)")),
        "{e}"
    );
    db.sql("INSERT INTO sqlite_sequence VALUES ('s', 2147483646)")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.json");
    db.export_json(&file).unwrap();
    let text = fs::read_to_string(&file).unwrap();
    assert!(text.contains("\"next_key\":2147483647"), "{text}");
    let fresh = Database::in_memory();
    let past = text.replace("\"next_key\":2147483647", "\"next_key\":3000000000");
    let e = import_str(&fresh, past.as_bytes()).unwrap_err();
    assert!(
        matches!(&e, Error::Corrupt { reason, .. } if reason.contains("table s: next_key 3000000000 is past key column s.id")),
        "{e}"
    );
    assert!(fresh.table_names().unwrap().is_empty());
    // The last key the column holds is a counter it can reach.
    import_str(&fresh, text.as_bytes()).unwrap();
    let r = fresh
        .sql("INSERT INTO s (v) VALUES ('b'); SELECT max(id) FROM s")
        .unwrap();
    assert_eq!(r.rows, [[tabula::Value::Int(2147483647)]]);
}

/// A table dropped while an export reads the others from disk is left out of it: the export
/// starts again from the version without it. It used to fail with `UnknownTable`, since
/// the table's files were gone when its turn came.
#[test]
fn a_table_dropped_during_an_export_is_left_out_not_an_error() {
    use tabula::testing::FaultyFs;
    let fs = FaultyFs::new();
    let open = || {
        Database::builder()
            .file_system(fs.clone())
            .open("/db")
            .unwrap()
    };
    let db = open();
    db.sql(
        "CREATE TABLE a (id INTEGER PRIMARY KEY, v INTEGER);
         CREATE TABLE z (id INTEGER PRIMARY KEY, v INTEGER);
         INSERT INTO a (v) VALUES (1), (2); INSERT INTO z (v) VALUES (3)",
    )
    .unwrap();
    db.close().unwrap();
    let db = open();
    // The export reads `a` first (in name order), and waits there.
    let parked = fs.park_reads("/db/data/a.records");
    let exporting = {
        let db = db.clone();
        std::thread::spawn(move || db.export_json("/export.json"))
    };
    parked.wait_until_parked();
    db.sql("DROP TABLE z").unwrap();
    parked.release();
    exporting.join().unwrap().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&fs.read("/export.json").unwrap()).unwrap();
    let tables: Vec<&str> = doc["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["schema"]["table"].as_str().unwrap())
        .collect();
    assert_eq!(tables, ["a"], "{doc}");
    assert_eq!(doc["tables"][0]["rows"].as_array().unwrap().len(), 2);
}
