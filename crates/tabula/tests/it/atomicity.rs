//! No aborted write ever reaches disk, and a transaction is all or nothing, tables it
//! creates included.

use std::fs;
use std::path::Path;

use tabula::testing::FaultyFs;
use tabula::{row, Column, ColumnType, Database, Error, Schema, Table};

use crate::common::Course;

mod v1 {
    use tabula::Table;
    #[derive(Table, Debug, Clone, PartialEq)]
    #[table(name = "notes")]
    pub struct Note {
        #[column(primary_key)]
        pub id: u64,
        pub text: String,
    }
}

mod v2 {
    use tabula::Table;
    /// `notes` with a new nullable column: attaching it migrates the stored table.
    #[derive(Table, Debug, Clone, PartialEq)]
    #[table(name = "notes")]
    pub struct Note {
        #[column(primary_key)]
        pub id: u64,
        pub text: String,
        pub tag: Option<String>,
    }
}

fn course(code: &str) -> Course {
    Course {
        code: code.into(),
        title: format!("{code} title"),
        credits: 3,
    }
}

fn codes(db: &Database) -> Vec<String> {
    let courses = db.table::<Course>().unwrap();
    let rows = courses.select().all().unwrap();
    rows.into_iter().map(|c| c.code).collect()
}

fn snapshot(path: &Path, table: &str) -> String {
    fs::read_to_string(path.join(format!("data/{table}.records"))).unwrap_or_default()
}

/// The sequence issue 11 reported: attaching a migrated type inside a transaction used to
/// checkpoint every changed table from memory, the transaction's uncommitted row included.
#[test]
fn an_aborted_transactions_row_never_reaches_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).unwrap();
        db.table::<v1::Note>()
            .unwrap()
            .insert(v1::Note {
                id: 0,
                text: "first".into(),
            })
            .unwrap();
        db.table::<Course>().unwrap().insert(course("C1")).unwrap();
        db.close().unwrap();
    }
    let db = Database::open(&path).unwrap();
    db.table::<Course>().unwrap().insert(course("C2")).unwrap();
    let r = db.transaction(|tx| {
        tx.table::<Course>()?.insert(course("PHANTOM"))?;
        tx.table::<v2::Note>()?;
        Err::<(), _>(Error::abort("changed my mind"))
    });
    assert!(!snapshot(&path, "courses").contains("PHANTOM"));
    assert_eq!(codes(&db), ["C1", "C2"]);
    // Migrating a stored table inside a transaction is refused, naming the table.
    assert!(
        matches!(&r, Err(Error::MigrationInTransaction { table, .. }) if table == "notes"),
        "{r:?}"
    );
    // Checkpoints, explicit or at close, write committed rows only.
    db.checkpoint().unwrap();
    assert!(!snapshot(&path, "courses").contains("PHANTOM"));
    db.close().unwrap();
    let db = Database::open(&path).unwrap();
    assert_eq!(codes(&db), ["C1", "C2"]);
    // Outside a transaction the same type migrates the table.
    let notes = db.table::<v2::Note>().unwrap();
    assert_eq!(notes.get(1u64).unwrap().unwrap().tag, None);
    db.close().unwrap();
    let db = Database::open(&path).unwrap();
    assert_eq!(codes(&db), ["C1", "C2"]);
    assert_eq!(db.table::<v2::Note>().unwrap().count().unwrap(), 1);
}

#[test]
fn the_migration_error_tells_what_to_do() {
    let e = Error::MigrationInTransaction {
        table: "notes".into(),
        changes: "added column tag (nullable)".into(),
    };
    assert_eq!(
        e.to_string(),
        "table notes needs a schema migration (added column tag (nullable)), which cannot run \
         inside a transaction; call db.table::<T>() before the transaction"
    );
}

/// A table a transaction creates exists only if it commits: no schema file, snapshot,
/// manifest entry or log record otherwise.
#[test]
fn a_table_created_in_an_aborted_transaction_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    db.table::<Course>().unwrap().insert(course("C1")).unwrap();
    let r = db.transaction(|tx| {
        tx.table::<v1::Note>()?.insert(v1::Note {
            id: 0,
            text: "never".into(),
        })?;
        tx.table::<Course>()?.insert(course("C2"))?;
        Err::<(), _>(Error::abort("no"))
    });
    assert!(matches!(r, Err(Error::Aborted(_))));
    assert_eq!(db.table_names().unwrap(), ["courses"]);
    let after_abort = db.dyn_table("notes").unwrap_err();
    assert!(
        matches!(after_abort, Error::UnknownTable { .. }),
        "{after_abort}"
    );
    // The same through the dynamic API, and through a failure at commit (a foreign key).
    db.transaction(|tx| {
        tx.dyn_table("courses")?
            .insert(row! { "code" => "C3", "title" => "t" })?;
        Ok(())
    })
    .unwrap();
    let schema = Schema::new(
        "enrollments",
        vec![
            Column::new("id", ColumnType::U64).primary_key(),
            Column::new("course", ColumnType::Text).references("courses", Default::default()),
        ],
    )
    .unwrap();
    let r = db.import_json(write_import(dir.path(), &schema, "NOPE"));
    assert!(matches!(r, Err(Error::ForeignKey { .. })), "{r:?}");
    assert_eq!(db.table_names().unwrap(), ["courses"]);
    db.checkpoint().unwrap();
    assert!(!path.join("schema/notes.schema.json").exists());
    assert!(!path.join("schema/enrollments.schema.json").exists());
    assert!(!path.join("data/notes.records").exists());
    let manifest = fs::read_to_string(path.join("manifest.json")).unwrap();
    assert!(!manifest.contains("notes") && !manifest.contains("enrollments"));
    drop(db);
    let db = Database::open(&path).unwrap();
    assert_eq!(db.table_names().unwrap(), ["courses"]);
    assert_eq!(codes(&db), ["C1", "C3"]);
}

/// An export document with one row of `schema` referencing course `code`.
fn write_import(dir: &Path, schema: &Schema, code: &str) -> std::path::PathBuf {
    let doc = serde_json::json!({
        "format": "tabula-export",
        "version": 1,
        "tables": [{ "schema": schema, "rows": [{ "id": 1, "course": code }] }],
    });
    let file = dir.join("import.json");
    fs::write(&file, doc.to_string()).unwrap();
    file
}

/// A table created in a committed transaction survives a crash with its rows, and gets its
/// schema file once the creation is durable.
#[test]
fn a_table_created_in_a_committed_transaction_survives_a_power_loss() {
    let fs = FaultyFs::new();
    let open = || {
        Database::builder()
            .file_system(fs.clone())
            .open("/db")
            .unwrap()
    };
    let db = open();
    db.transaction(|tx| {
        tx.table::<Course>()?.insert(course("C1"))?;
        tx.table::<v1::Note>()?.insert(v1::Note {
            id: 0,
            text: "kept".into(),
        })?;
        Ok(())
    })
    .unwrap();
    let schema = fs.read("/db/schema/notes.schema.json").unwrap();
    assert!(String::from_utf8_lossy(&schema).contains("\"table\": \"notes\""));
    drop(db);
    fs.power_loss();
    let db = open();
    assert_eq!(db.table_names().unwrap(), ["courses", "notes"]);
    assert_eq!(codes(&db), ["C1"]);
    assert_eq!(db.table::<v1::Note>().unwrap().count().unwrap(), 1);
}

/// A dynamic table turned into a typed one inside a transaction keeps the transaction's
/// earlier writes journalled: a rollback still undoes them.
#[test]
fn a_table_attached_to_its_type_mid_transaction_still_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).unwrap();
        db.table::<Course>().unwrap().insert(course("C1")).unwrap();
    }
    let db = Database::open(&path).unwrap();
    let r = db.transaction(|tx| {
        tx.dyn_table("courses")?
            .insert(row! { "code" => "DYN", "title" => "t" })?;
        let typed = tx.table::<Course>()?;
        assert_eq!(typed.count()?, 2);
        typed.insert(course("TYPED"))?;
        Err::<(), _>(Error::abort("roll back both"))
    });
    assert!(matches!(r, Err(Error::Aborted(_))));
    assert_eq!(codes(&db), ["C1"]);
    db.close().unwrap();
    assert_eq!(codes(&Database::open(&path).unwrap()), ["C1"]);
}

#[derive(Debug, PartialEq)]
struct Overdrawn(i64);

impl std::fmt::Display for Overdrawn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "overdrawn by {}", self.0)
    }
}

impl std::error::Error for Overdrawn {}

#[test]
fn a_transaction_aborts_with_the_callers_own_error() {
    let db = Database::in_memory();
    let courses = db.table::<Course>().unwrap();
    let e = db
        .transaction(|tx| {
            tx.table::<Course>()?.insert(course("C1"))?;
            Err::<(), _>(Error::abort(Overdrawn(5)))
        })
        .unwrap_err();
    assert_eq!(e.to_string(), "transaction aborted: overdrawn by 5");
    let source = std::error::Error::source(&e).unwrap();
    assert_eq!(source.downcast_ref::<Overdrawn>(), Some(&Overdrawn(5)));
    match e {
        Error::Aborted(inner) => assert_eq!(*inner.downcast::<Overdrawn>().unwrap(), Overdrawn(5)),
        other => panic!("{other}"),
    }
    assert_eq!(courses.count().unwrap(), 0);
}

/// An export taken while another thread moves rows between two tables is one state: the
/// rows it holds always add up.
#[test]
fn an_export_is_one_consistent_state() {
    #[derive(Table, Debug, Clone)]
    #[table(name = "left_side")]
    struct Left {
        #[column(primary_key)]
        id: u64,
    }
    #[derive(Table, Debug, Clone)]
    #[table(name = "right_side")]
    struct Right {
        #[column(primary_key)]
        id: u64,
    }
    let dir = tempfile::tempdir().unwrap();
    let db = Database::builder()
        .durability(tabula::Durability::Buffered)
        .open(dir.path().join("db"))
        .unwrap();
    let left = db.table::<Left>().unwrap();
    db.table::<Right>().unwrap();
    left.insert_many((1..=50).map(|id| Left { id })).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mover = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let id = i % 50 + 1;
                let to_right = (i / 50).is_multiple_of(2);
                db.transaction(|tx| {
                    if to_right {
                        tx.table::<Left>()?.delete_key(id)?;
                        tx.table::<Right>()?.insert(Right { id })?;
                    } else {
                        tx.table::<Right>()?.delete_key(id)?;
                        tx.table::<Left>()?.insert(Left { id })?;
                    }
                    Ok(())
                })
                .unwrap();
                i += 1;
            }
        })
    };
    let file = dir.path().join("export.json");
    for _ in 0..30 {
        db.export_json(&file).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
        let rows: usize = doc["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["rows"].as_array().unwrap().len())
            .sum();
        assert_eq!(rows, 50, "an export saw half a move");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    mover.join().unwrap();
}

/// A json field whose `Serialize` panics while the flag is up.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
struct Fragile(u8);

static FRAGILE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl serde::Serialize for Fragile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if FRAGILE.load(std::sync::atomic::Ordering::SeqCst) {
            panic!("Fragile cannot be written now");
        }
        self.0.serialize(s)
    }
}

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "fragile")]
struct WithFragile {
    #[column(primary_key)]
    id: u64,
    payload: Fragile,
}

/// A panic while the commit encodes its log line (user code: a json column's `Serialize`)
/// rolls the transaction back like a panic in its body, and the panic goes on unwinding.
#[test]
fn a_panic_while_committing_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    let t = db.table::<WithFragile>().unwrap();
    t.insert(WithFragile {
        id: 1,
        payload: Fragile(1),
    })
    .unwrap();
    let db2 = db.clone();
    let r = std::panic::catch_unwind(move || {
        db2.transaction(|tx| {
            tx.table::<WithFragile>()?.insert(WithFragile {
                id: 2,
                payload: Fragile(2),
            })?;
            tx.table::<Course>()?.insert(course("LOST"))?;
            // The row was checked when inserted; it fails only as the commit writes it.
            FRAGILE.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        })
    });
    FRAGILE.store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(r.is_err(), "the panic goes on unwinding");
    assert_eq!(t.count().unwrap(), 1);
    assert_eq!(db.table_names().unwrap(), ["fragile"]);
    // The next commit logs only its own row, and checkpoints still run.
    t.insert(WithFragile {
        id: 3,
        payload: Fragile(3),
    })
    .unwrap();
    db.checkpoint().unwrap();
    db.close().unwrap();
    let db = Database::open(&path).unwrap();
    let ids = db.table::<WithFragile>().unwrap().select().keys().unwrap();
    assert_eq!(ids, [1, 3]);
    assert_eq!(db.table_names().unwrap(), ["fragile"]);
}

/// A panic inside a statement (here, in the iterator `insert_many` consumes) rolls the
/// statement's rows back with the transaction: nothing stays in memory, and no later commit
/// or checkpoint writes them.
#[test]
fn a_panic_inside_a_statement_leaves_no_row_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    let courses = db.table::<Course>().unwrap();
    let c = courses.clone();
    let r = std::panic::catch_unwind(move || {
        c.insert_many((0..10).map(|i| {
            if i == 5 {
                panic!("the iterator fails half way");
            }
            course(&format!("C{i}"))
        }))
    });
    assert!(r.is_err());
    assert_eq!(courses.count().unwrap(), 0);
    db.checkpoint().unwrap();
    courses.insert(course("KEPT")).unwrap();
    db.close().unwrap();
    assert_eq!(codes(&Database::open(&path).unwrap()), ["KEPT"]);
}

/// A json field whose `Deserialize` panics on one value while the flag is up.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
struct Brittle(u32);

static BRITTLE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl<'de> serde::Deserialize<'de> for Brittle {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u32::deserialize(d)?;
        if n == 45_678 && BRITTLE.load(std::sync::atomic::Ordering::SeqCst) {
            panic!("Brittle cannot be read now");
        }
        Ok(Brittle(n))
    }
}

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "brittle")]
struct WithBrittle {
    #[column(primary_key)]
    id: u64,
    payload: Brittle,
}

/// A panic while a snapshot big enough to be parsed on several threads is read (user code:
/// a json column's `Deserialize`, on a parser thread) goes on unwinding in the thread that
/// asked for the table, and leaves the table unloaded: the next use loads it whole.
#[test]
fn a_panic_while_loading_a_snapshot_reaches_the_caller_and_loads_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    let rows = (1..=60_000).map(|i| WithBrittle {
        id: i,
        payload: Brittle(i as u32),
    });
    db.table::<WithBrittle>()
        .unwrap()
        .insert_many(rows)
        .unwrap();
    db.close().unwrap();
    let size = std::fs::metadata(path.join("data/brittle.records"))
        .unwrap()
        .len();
    assert!(size > 1 << 20, "{size} bytes: parsed in one chunk");

    let db = Database::open(&path).unwrap();
    BRITTLE.store(true, std::sync::atomic::Ordering::SeqCst);
    let db2 = db.clone();
    let r = std::panic::catch_unwind(move || db2.table::<WithBrittle>().map(drop));
    BRITTLE.store(false, std::sync::atomic::Ordering::SeqCst);
    let panic = r.expect_err("the panic goes on unwinding");
    assert_eq!(
        panic.downcast_ref::<&str>(),
        Some(&"Brittle cannot be read now")
    );
    let t = db.table::<WithBrittle>().unwrap();
    assert_eq!(t.count().unwrap(), 60_000);
    assert_eq!(
        t.get(45_678).unwrap().map(|r| r.payload),
        Some(Brittle(45_678))
    );
}
