use std::fs;

use tabula::{Database, Durability, Error};

use crate::common::{student, Course, Student};

fn seed(db: &Database) {
    let s = db.table::<Student>().unwrap();
    s.insert_many([student("Alice", 2024, 3.8), student("Bob", 2023, 3.1)])
        .unwrap();
    s.insert(student("Cara", 2024, 3.6)).unwrap();
    s.update(|x| x.name == "Bob", |x| x.gpa = 3.3).unwrap();
    s.delete(|x| x.name == "Cara").unwrap();
}

#[test]
fn rows_survive_reopen_with_and_without_checkpoint() {
    for durability in [Durability::Immediate, Durability::Buffered] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let db = Database::builder()
            .durability(durability)
            .open(&path)
            .unwrap();
        seed(&db);
        db.close().unwrap();
        let db = Database::open(&path).unwrap();
        let s = db.table::<Student>().unwrap();
        let names: Vec<_> = s
            .select()
            .all()
            .unwrap()
            .into_iter()
            .map(|x| (x.id, x.name, x.gpa))
            .collect();
        assert_eq!(
            names,
            vec![(1, "Alice".into(), 3.8), (2, "Bob".into(), 3.3)]
        );
        db.checkpoint().unwrap();
        s.insert(student("Dan", 2022, 2.0)).unwrap();
        drop(s);
        drop(db);
        let db = Database::open(&path).unwrap();
        let s = db.table::<Student>().unwrap();
        assert_eq!(s.count().unwrap(), 3);
        assert_eq!(s.get_by("email", "dan@uni.edu").unwrap().unwrap().id, 4);
    }
}

/// A snapshot over 1 MiB is parsed in chunks on several threads, cut at lines: text of
/// characters several bytes long (where an even share of the file mostly ends inside one)
/// reopens whole, for any cut.
#[test]
fn a_large_snapshot_of_multibyte_text_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    let s = db.table::<Student>().unwrap();
    let rows: Vec<Student> = (0..20_000)
        .map(|i| Student {
            name: format!("{i}{}", "学".repeat(40)),
            email: format!("学{i}@大学.edu"),
            ..student("x", 2024, 3.0)
        })
        .collect();
    s.insert_many(rows).unwrap();
    db.close().unwrap();
    let snapshot = fs::metadata(path.join("data/students.records")).unwrap();
    assert!(snapshot.len() > 1 << 20, "{}", snapshot.len());
    let db = Database::open(&path).unwrap();
    let s = db.table::<Student>().unwrap();
    assert_eq!(s.count().unwrap(), 20_000);
    let last = s.get(20_000u64).unwrap().unwrap();
    assert_eq!(
        (last.name.as_str(), last.email.as_str()),
        (
            format!("19999{}", "学".repeat(40)).as_str(),
            "学19999@大学.edu"
        )
    );
}

#[test]
fn files_are_readable_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    seed(&db);
    let wal = fs::read_to_string(path.join("wal/transaction.log")).unwrap();
    // While the database is open the log ends in preallocated zeros (cut off at close).
    let log = wal.trim_end_matches('\0');
    assert!(wal.len() > log.len());
    let lines: Vec<&str> = log.lines().collect();
    // The table's creation, then the four commits of `seed`.
    assert_eq!(lines.len(), 5);
    let (crc, json) = lines[1].split_once(' ').unwrap();
    assert_eq!(crc.len(), 8);
    assert_eq!(format!("{:08x}", crc32c::crc32c(json.as_bytes())), crc);
    let rec: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(rec["lsn"], 2);
    assert_eq!(rec["tables"][0]["table"], "students");
    assert_eq!(rec["tables"][0]["put"][0]["email"], "alice@uni.edu");
    let created: serde_json::Value =
        serde_json::from_str(lines[0].split_once(' ').unwrap().1).unwrap();
    assert_eq!(created["tables"][0]["create"]["table"], "students");
    assert_eq!(created["tables"][0]["put"], serde_json::json!([]));
    db.checkpoint().unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(path.join("schema/students.schema.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(schema["table"], "students");
    assert_eq!(schema["columns"][2]["unique"], true);
    assert_eq!(schema["columns"][4]["default"], 0.0);
    let records = fs::read_to_string(path.join("data/students.records")).unwrap();
    let rows: Vec<serde_json::Value> = records
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["name"], "Bob");
    assert_eq!(rows[1]["advisor"], serde_json::Value::Null);
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(path.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["lsn"], 5);
    assert_eq!(manifest["tables"]["students"]["rows"], 2);
    assert_eq!(
        fs::read_to_string(path.join("wal/transaction.log")).unwrap(),
        ""
    );
    // The archived segment holds its five records and nothing else.
    let archived =
        fs::read_to_string(path.join("wal/transaction.00000000000000000005.log")).unwrap();
    assert_eq!(archived, log);
    // Dropping the database cuts the preallocated zeros off the current log too.
    let s = db.table::<Student>().unwrap();
    s.insert(student("Eve", 2021, 3.0)).unwrap();
    drop(s);
    drop(db);
    let wal = fs::read_to_string(path.join("wal/transaction.log")).unwrap();
    assert!(!wal.contains('\0') && wal.lines().count() == 1, "{wal:?}");
}

#[test]
fn checkpoints_rotate_and_prune_archives() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::builder().keep_archived(2).open(&path).unwrap();
    let s = db.table::<Student>().unwrap();
    for i in 0..5 {
        s.insert(student(&format!("S{i}"), 2020, 1.0)).unwrap();
        db.checkpoint().unwrap();
    }
    // A checkpoint with nothing new archives nothing.
    db.checkpoint().unwrap();
    let stats = db.stats().unwrap();
    assert_eq!(stats.archived.len(), 2);
    assert_eq!(
        stats
            .archived
            .iter()
            .map(|a| a.last_lsn)
            .collect::<Vec<_>>(),
        vec![5, 6]
    );
    assert_eq!(stats.wal_records, 0);
    assert_eq!(stats.checkpoint_lsn, 6);
    let text = stats.to_string();
    assert!(text.contains("students"), "{text}");
    assert!(text.contains("archived segments: 2"), "{text}");
}

#[test]
fn tables_load_only_when_used() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).unwrap();
        seed(&db);
        db.checkpoint().unwrap();
        db.table::<Course>()
            .unwrap()
            .insert(Course {
                code: "C1".into(),
                title: "T".into(),
                credits: 3,
            })
            .unwrap();
    }
    let db = Database::open(&path).unwrap();
    let stats = db.stats().unwrap();
    let by_name = |n: &str| stats.tables.iter().find(|t| t.name == n).unwrap().clone();
    assert!(!by_name("students").loaded);
    assert_eq!(by_name("students").rows, 2);
    assert!(!by_name("courses").loaded);
    // Its creation and its one row.
    assert_eq!(by_name("courses").pending_records, 2);
    assert_eq!(db.table::<Course>().unwrap().count().unwrap(), 1);
    let stats = db.stats().unwrap();
    assert!(
        stats
            .tables
            .iter()
            .find(|t| t.name == "courses")
            .unwrap()
            .loaded
    );
    assert!(
        !stats
            .tables
            .iter()
            .find(|t| t.name == "students")
            .unwrap()
            .loaded
    );
    // The dynamic API loads too.
    assert_eq!(db.dyn_table("students").unwrap().count().unwrap(), 2);
}

#[test]
fn keys_are_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).unwrap();
        let s = db.table::<Student>().unwrap();
        s.insert(student("A", 2020, 1.0)).unwrap();
        s.insert(student("B", 2020, 1.0)).unwrap();
        assert!(s.delete_key(2u64).unwrap());
        // Inserted and deleted in one transaction: only the counter remembers key 3.
        db.transaction(|tx| {
            let t = tx.table::<Student>()?;
            let k = t.insert(student("C", 2020, 1.0))?;
            t.delete_key(k)?;
            Ok(())
        })
        .unwrap();
    }
    let db = Database::open(&path).unwrap();
    let s = db.table::<Student>().unwrap();
    assert_eq!(s.insert(student("D", 2020, 1.0)).unwrap(), 4);
    s.delete_key(4u64).unwrap();
    db.checkpoint().unwrap();
    drop(s);
    drop(db);
    let db = Database::open(&path).unwrap();
    assert_eq!(
        db.table::<Student>()
            .unwrap()
            .insert(student("E", 2020, 1.0))
            .unwrap(),
        5
    );
}

/// A file where the database's directory should be is named as that, and left alone (it
/// used to be "File exists", from creating the directory).
#[test]
fn a_file_in_the_place_of_the_directory_is_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    fs::write(&path, "mine").unwrap();
    match Database::open(&path) {
        Err(Error::Io { path: p, source }) => {
            assert_eq!(p, path);
            assert_eq!(source.kind(), std::io::ErrorKind::NotADirectory);
            assert_eq!(
                source.to_string(),
                "a file is in its place, and a database is a directory"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fs::read_to_string(&path).unwrap(), "mine");
}

/// A symbolic link that leads to no directory, where the database should be, is named as
/// that (a link to a directory is followed, as any path is).
#[cfg(unix)]
#[test]
fn a_link_to_nothing_in_the_place_of_the_directory_is_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    std::os::unix::fs::symlink(dir.path().join("gone"), &path).unwrap();
    match Database::open(&path) {
        Err(Error::Io { source, .. }) => assert_eq!(
            source.to_string(),
            "a symbolic link is in its place, and a database is a directory"
        ),
        other => panic!("{other:?}"),
    }
    assert!(!dir.path().join("gone").exists());
}

#[test]
fn a_second_open_is_locked_until_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    let e = Database::open(&path).unwrap_err();
    assert!(matches!(e, Error::Locked { .. }), "{e}");
    assert!(!db.is_closed());
    db.close().unwrap();
    assert!(db.is_closed());
    assert!(matches!(db.table::<Student>(), Err(Error::Closed { .. })));
    let db2 = Database::open(&path).unwrap();
    drop(db2);
    Database::open(&path).unwrap();
}

/// A cleanup script that deletes `LOCK`, taking it for a stale one, lets no second writer
/// in (which would give the first one's keys out again, and the two logs' commits would
/// overwrite each other): the directory itself stays locked while the database is open,
/// and repair is refused too.
#[cfg(unix)]
#[test]
fn a_deleted_lock_file_lets_no_second_writer_in() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    db.table::<Student>()
        .unwrap()
        .insert(student("A", 2020, 3.0))
        .unwrap();
    fs::remove_file(path.join("LOCK")).unwrap();
    let e = Database::open(&path).unwrap_err();
    assert!(matches!(e, Error::Locked { .. }), "{e}");
    let e = tabula::repair(&path, tabula::RepairOptions::default()).unwrap_err();
    assert!(matches!(e, Error::Locked { .. }), "{e}");
    // The failed opens left a new LOCK file, unlocked; closing frees the directory.
    db.close().unwrap();
    let db = Database::open(&path).unwrap();
    assert_eq!(db.table::<Student>().unwrap().count().unwrap(), 1);
}

/// close() frees the rows; every handle, old or new, then says so, and readers racing the
/// close see either the rows or `Error::Closed`, never a half-emptied database.
#[test]
fn after_close_every_call_is_refused() {
    for dir in [Some(tempfile::tempdir().unwrap()), None] {
        let db = match &dir {
            Some(d) => Database::open(d.path().join("db")).unwrap(),
            None => Database::in_memory(),
        };
        let s = db.table::<Student>().unwrap();
        s.insert_many((0..2000).map(|i| {
            let mut x = student("S", 2020, 3.0);
            x.email = format!("s{i}@uni.edu");
            x
        }))
        .unwrap();
        let reader = {
            let s = s.clone();
            std::thread::spawn(move || loop {
                match s.select().where_eq("year", 2020).count() {
                    Ok(n) => assert_eq!(n, 2000),
                    Err(Error::Closed { .. }) => break,
                    Err(e) => panic!("{e}"),
                }
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        db.close().unwrap();
        reader.join().unwrap();
        let closed = |e: Error| assert!(matches!(e, Error::Closed { .. }), "{e}");
        closed(s.count().unwrap_err());
        closed(s.get(1u64).unwrap_err());
        closed(s.insert(student("Late", 2020, 1.0)).unwrap_err());
        closed(s.select().all().unwrap_err());
        closed(s.read(|t| t.count()).unwrap_err());
        closed(db.transaction(|_| Ok(())).unwrap_err());
        closed(db.dyn_table("students").unwrap_err());
        closed(db.close().unwrap_err());
    }
}

#[test]
fn compatible_schema_changes_migrate_and_others_are_refused() {
    mod v2 {
        use tabula::Table;
        #[derive(Table, Debug, Clone, PartialEq)]
        #[table(name = "students")]
        pub struct Student {
            #[column(primary_key)]
            pub id: u64,
            pub name: String,
            #[column(unique)]
            pub email: String,
            #[column(index)]
            pub year: u32,
            #[column(default = 0.0)]
            pub gpa: f64,
            pub advisor: Option<String>,
            pub nickname: Option<String>,
            #[column(default = 120)]
            pub credits_needed: u16,
        }
    }
    mod bad {
        use tabula::Table;
        #[derive(Table, Debug, Clone, PartialEq)]
        #[table(name = "students")]
        pub struct Student {
            #[column(primary_key)]
            pub id: u64,
            pub name: String,
            #[column(unique)]
            pub email: String,
            #[column(index)]
            pub year: u32,
            #[column(default = 0.0)]
            pub gpa: f64,
            pub advisor: Option<String>,
            pub required: String,
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).unwrap();
        seed(&db);
    }
    {
        let db = Database::open(&path).unwrap();
        let e = db.table::<bad::Student>().unwrap_err();
        assert!(matches!(e, Error::SchemaMismatch { .. }), "{e}");
        assert!(e.to_string().contains("required"), "{e}");
        let s = db.table::<v2::Student>().unwrap();
        let bob = s.get(2u64).unwrap().unwrap();
        assert_eq!((bob.nickname, bob.credits_needed), (None, 120));
        s.update(|x| x.id == 2, |x| x.nickname = Some("Bobby".into()))
            .unwrap();
        let file = fs::read_to_string(path.join("schema/students.schema.json")).unwrap();
        assert!(file.contains("add nickname (nullable)"), "{file}");
        assert!(file.contains("add credits_needed default 120"), "{file}");
    }
    let db = Database::open(&path).unwrap();
    let s = db.table::<v2::Student>().unwrap();
    assert_eq!(
        s.get(2u64).unwrap().unwrap().nickname.as_deref(),
        Some("Bobby")
    );
    // The old struct no longer matches.
    assert!(matches!(
        db.table::<Student>(),
        Err(Error::SchemaMismatch { .. })
    ));
}

#[test]
fn dynamic_tables_persist() {
    use tabula::{row, Column, ColumnType, Schema, Value};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).unwrap();
        let t = db
            .create_table(
                Schema::new(
                    "readings",
                    vec![
                        Column::new("id", ColumnType::I64).primary_key(),
                        Column::new("value", ColumnType::F64),
                    ],
                )
                .unwrap(),
            )
            .unwrap();
        t.insert(row! { "value" => f64::NAN }).unwrap();
        t.insert(row! { "value" => f64::NEG_INFINITY }).unwrap();
        t.insert(row! { "value" => 0.1 + 0.2 }).unwrap();
    }
    let db = Database::open(&path).unwrap();
    let t = db.dyn_table("readings").unwrap();
    let v: Vec<Value> = t
        .select()
        .all()
        .unwrap()
        .iter()
        .map(|r| r["value"].clone())
        .collect();
    assert!(v[0].as_f64().unwrap().is_nan());
    assert_eq!(v[1], Value::Float(f64::NEG_INFINITY));
    assert_eq!(v[2], Value::Float(0.1 + 0.2));
    let escape = Schema::new(
        "etc/../x",
        vec![Column::new("id", ColumnType::I64).primary_key()],
    );
    assert!(matches!(escape, Err(Error::InvalidName { .. })));
}

#[test]
fn the_log_checkpoints_itself_past_its_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::builder()
        .auto_checkpoint_bytes(Some(4096))
        .open(&path)
        .unwrap();
    let s = db.table::<Student>().unwrap();
    for i in 0..60 {
        s.insert(student(&format!("Student{i}"), 2020, 1.0))
            .unwrap();
    }
    let stats = db.stats().unwrap();
    assert!(stats.checkpoint_lsn > 0, "{stats}");
    assert!(stats.wal_bytes < 4096 + 512, "{stats}");
    drop(s);
    drop(db);
    assert_eq!(
        Database::open(&path)
            .unwrap()
            .table::<Student>()
            .unwrap()
            .count()
            .unwrap(),
        60
    );
}

#[test]
fn concurrent_durable_commits_all_survive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).unwrap();
        let s = db.table::<Student>().unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        s.insert(student(&format!("T{t}x{i}"), 2020, 1.0)).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let stats = db.stats().unwrap();
        // The table's creation, then 200 inserts.
        assert_eq!(stats.wal_records, 201);
        assert_eq!(stats.last_lsn, 201);
        // Every record names the first record of the write call it went out in: a group
        // starts with itself, and the records behind it in the group name the same first one.
        let wal = fs::read_to_string(path.join("wal/transaction.log")).unwrap();
        let mut prev_batch = 0;
        for l in wal.trim_end_matches('\0').lines() {
            let rec: serde_json::Value =
                serde_json::from_str(l.split_once(' ').unwrap().1).unwrap();
            let (lsn, batch) = (rec["lsn"].as_u64().unwrap(), rec["batch"].as_u64().unwrap());
            assert!(batch == lsn || (batch < lsn && batch == prev_batch), "{l}");
            prev_batch = batch;
        }
    }
    let db = Database::open(&path).unwrap();
    let keys = db.table::<Student>().unwrap().select().keys().unwrap();
    assert_eq!(keys, (1..=200).collect::<Vec<u64>>());
}

#[test]
fn a_crash_between_a_migration_and_its_checkpoint_still_opens() {
    mod v2 {
        use tabula::Table;
        #[derive(Table, Debug, Clone, PartialEq)]
        #[table(name = "students")]
        pub struct Student {
            #[column(primary_key)]
            pub id: u64,
            pub name: String,
            #[column(unique)]
            pub email: String,
            #[column(index)]
            pub year: u32,
            #[column(default = 0.0)]
            pub gpa: f64,
            pub advisor: Option<String>,
            pub nickname: Option<String>,
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).unwrap();
        seed(&db);
        db.close().unwrap();
    }
    let manifest = fs::read(path.join("manifest.json")).unwrap();
    let records = fs::read(path.join("data/students.records")).unwrap();
    {
        let db = Database::open(&path).unwrap();
        db.table::<v2::Student>().unwrap();
    }
    // The migrated schema file is in place; the migration's checkpoint never committed.
    fs::write(path.join("manifest.json"), manifest).unwrap();
    fs::write(path.join("data/students.records"), records).unwrap();
    let db = Database::open(&path).unwrap();
    let s = db.table::<v2::Student>().unwrap();
    assert_eq!(s.count().unwrap(), 2);
    assert_eq!(s.get(2u64).unwrap().unwrap().nickname, None);
    drop(s);
    db.close().unwrap();
    assert!(tabula::verify(&path).unwrap().is_empty());
}

/// A migration that adds a constraint checks the stored rows against it: a foreign key to
/// missing rows or a unique column with duplicates is refused, and nothing changes.
#[test]
fn a_migration_that_adds_a_constraint_checks_the_stored_rows() {
    mod v1 {
        use tabula::Table;
        #[derive(Table, Debug, Clone)]
        #[table(name = "parents")]
        pub struct Parent {
            #[column(primary_key)]
            pub id: u64,
        }
        #[derive(Table, Debug, Clone)]
        #[table(name = "kids")]
        pub struct Kid {
            #[column(primary_key)]
            pub id: u64,
            pub parent_id: u64,
            pub nick: String,
        }
    }
    mod v2 {
        use tabula::Table;
        #[derive(Table, Debug, Clone)]
        #[table(name = "kids")]
        pub struct KidWithParent {
            #[column(primary_key)]
            pub id: u64,
            #[column(references = "parents")]
            pub parent_id: u64,
            pub nick: String,
        }
        #[derive(Table, Debug, Clone)]
        #[table(name = "kids")]
        pub struct KidWithUniqueNick {
            #[column(primary_key)]
            pub id: u64,
            pub parent_id: u64,
            #[column(unique)]
            pub nick: String,
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).unwrap();
        db.table::<v1::Parent>()
            .unwrap()
            .insert(v1::Parent { id: 1 })
            .unwrap();
        let kids = db.table::<v1::Kid>().unwrap();
        for (id, parent_id) in [(1, 1), (2, 99)] {
            let nick = "same".to_string();
            kids.insert(v1::Kid {
                id,
                parent_id,
                nick,
            })
            .unwrap();
        }
        db.close().unwrap();
    }
    let schema_file = path.join("schema/kids.schema.json");
    let before = fs::read_to_string(&schema_file).unwrap();
    for attempt in 0..2 {
        let db = Database::open(&path).unwrap();
        let e = if attempt == 0 {
            db.table::<v2::KidWithParent>().map(drop).unwrap_err()
        } else {
            db.table::<v2::KidWithUniqueNick>().map(drop).unwrap_err()
        };
        match (&e, attempt) {
            (Error::ForeignKey { value, .. }, 0) => assert_eq!(*value, tabula::Value::Int(99)),
            (Error::SchemaMismatch { reason, .. }, 1) => assert_eq!(
                reason,
                "cannot build unique index on nick: value \"same\" is stored in the rows \
                 with keys 1 and 2"
            ),
            _ => panic!("attempt {attempt}: {e}"),
        }
        assert_eq!(fs::read_to_string(&schema_file).unwrap(), before);
        assert_eq!(db.table::<v1::Kid>().unwrap().count().unwrap(), 2);
        db.close().unwrap();
    }
    // Once the stored rows fit, the same migration goes through.
    {
        let db = Database::open(&path).unwrap();
        let kids = db.table::<v1::Kid>().unwrap();
        kids.update(
            |k| k.id == 2,
            |k| {
                k.parent_id = 1;
                k.nick = "other".into();
            },
        )
        .unwrap();
        db.close().unwrap();
    }
    let db = Database::open(&path).unwrap();
    assert_eq!(db.table::<v2::KidWithParent>().unwrap().count().unwrap(), 2);
}

/// A snapshot that matches its manifest entry (as if a checkpoint had written it) but whose
/// rows break a unique column or repeat a key is `Corrupt`, naming the file and the
/// violation, whichever part of a snapshot big enough to be parsed in parallel chunks holds
/// the offending row; and the failed load changes no file.
#[test]
fn a_listed_snapshot_with_a_repeated_unique_value_or_key_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    let rows = (1..=30_000).map(|i| student(&format!("S{i}"), 2015 + i % 10, 2.0));
    db.table::<Student>().unwrap().insert_many(rows).unwrap();
    db.close().unwrap();
    // Sound, the snapshot loads with indexes that answer as a scan does.
    let db = Database::open(&path).unwrap();
    let s = db.table::<Student>().unwrap();
    let by_index = s.select().where_range("year", 2018..=2019).count().unwrap();
    let by_scan = s
        .select()
        .filter(|x| (2018..=2019).contains(&x.year))
        .count();
    assert_eq!((by_index, by_scan.unwrap()), (6_000, 6_000));
    let found = s.get_by("email", "s29001@uni.edu").unwrap();
    assert_eq!(found.map(|x| x.id), Some(29_001));
    let e = s.insert(student("S7", 2020, 1.0)).unwrap_err();
    assert!(
        matches!(&e, Error::UniqueViolation { column, .. } if column == "email"),
        "{e}"
    );
    db.close().unwrap();
    let records = path.join("data/students.records");
    let manifest = path.join("manifest.json");
    let (good, listed) = (fs::read(&records).unwrap(), fs::read(&manifest).unwrap());
    assert!(
        good.len() > 2 << 20,
        "{} bytes: parsed in one chunk",
        good.len()
    );
    let lines: Vec<&str> = std::str::from_utf8(&good).unwrap().lines().collect();
    let cases = [
        (
            3,
            "\"s3@uni.edu\"",
            "\"s29001@uni.edu\"",
            29_001,
            "students.email",
            "s29001@uni.edu",
        ),
        (20_000, "\"id\":20000,", "\"id\":2,", 2, "students.id", "2"),
        (
            2,
            "\"s2@uni.edu\"",
            "\"s1@uni.edu\"",
            1,
            "students.email",
            "s1@uni.edu",
        ),
    ];
    for (line, from, to, holder, column, value) in cases {
        let mut changed: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        assert!(changed[line - 1].contains(from), "{}", changed[line - 1]);
        changed[line - 1] = changed[line - 1].replace(from, to);
        let bytes = (changed.join("\n") + "\n").into_bytes();
        fs::write(&records, &bytes).unwrap();
        let mut m: serde_json::Value = serde_json::from_slice(&listed).unwrap();
        m.as_object_mut().unwrap().remove("crc32c");
        let entry = &mut m["tables"]["students"];
        entry["snapshot_crc32c"] = format!("{:08x}", crc32c::crc32c(&bytes)).into();
        entry["snapshot_bytes"] = bytes.len().into();
        let m = serde_json::to_vec(&m).unwrap();
        fs::write(&manifest, &m).unwrap();

        let db = Database::open(&path).unwrap();
        let e = db.table::<Student>().unwrap_err();
        let Error::Corrupt { file, reason, .. } = &e else {
            panic!("line {line}: {e}");
        };
        assert!(file.ends_with("students.records"), "{e}");
        assert!(
            reason.contains(&format!("unique constraint {column} violated"))
                && reason.contains(value),
            "line {line} (repeating row {holder}'s): {reason}"
        );
        db.close().unwrap();
        assert_eq!(fs::read(&records).unwrap(), bytes);
        assert_eq!(fs::read(&manifest).unwrap(), m);
    }
}
