//! `Database::drop_table` (and SQL's `DROP TABLE`): the table, its rows and its files go in
//! one durable step; a referenced table, a transaction and a read-only database refuse;
//! handles on a dropped table fail; a failure at any file-system call, or a power loss at
//! any, leaves the table whole or gone, and a dropped table's leftover files never bring it
//! back.

use tabula::testing::FaultyFs;
use tabula::{row, Column, ColumnType, Database, Error, OnDelete, Schema, Table, Value};

use crate::common::faulty::{self, names, open, open_read_only, schema as items, values, PATH};

const SCHEMA_FILE: &str = "/db/schema/items.schema.json";
const SNAPSHOT: &str = "/db/data/items.records";

/// `items` with a row in its snapshot and one in the log, beside a table `other` the log
/// creates.
fn committed() -> FaultyFs {
    let fs = faulty::committed();
    let other = Schema::new(
        "other",
        vec![Column::new("id", ColumnType::U64).primary_key()],
    );
    open(&fs).create_table(other.unwrap()).unwrap();
    fs
}

/// Drops `items` with the power cut at the `n`-th file-system call (if the drop makes that
/// many), then restarts the machine; whether the power was cut.
fn drop_with_the_power_cut_at(fs: &FaultyFs, n: u64) -> bool {
    let db = open(fs);
    fs.crash_at(n);
    let _ = db.drop_table("items");
    let crashed = fs.crashed();
    drop(db);
    fs.power_loss();
    crashed
}

fn exists(fs: &FaultyFs, path: &str) -> bool {
    fs.read(path).is_ok()
}

#[test]
fn a_dropped_table_is_gone_with_its_files_and_its_name_is_free() {
    let fs = committed();
    {
        let db = open(&fs);
        db.drop_table("items").unwrap();
        assert_eq!(db.table_names().unwrap(), ["other"]);
        assert!(!exists(&fs, SCHEMA_FILE) && !exists(&fs, SNAPSHOT));
        assert!(matches!(
            db.dyn_table("items"),
            Err(Error::UnknownTable { table }) if table == "items"
        ));
    }
    let db = open(&fs);
    assert_eq!(db.table_names().unwrap(), ["other"]);
    assert_eq!(fs.verify(PATH).unwrap(), []);
    // A new table of the name starts empty, with keys from 1.
    let t = db
        .create_table(items().with_index(&["name"]).unwrap())
        .unwrap();
    assert!(names(&db, "items").is_empty());
    assert_eq!(t.insert(row! { "name" => "c" }).unwrap(), Value::from(1u64));
    drop(t);
    db.close().unwrap();
    let db = open(&fs);
    assert_eq!(names(&db, "items"), values(&["c"]));
}

#[test]
fn an_unknown_table_is_not_dropped() {
    let db = Database::in_memory();
    assert!(matches!(
        db.drop_table("nope"),
        Err(Error::UnknownTable { table }) if table == "nope"
    ));
}

#[test]
fn a_referenced_table_stays_until_its_referrers_go() {
    let fs = committed();
    let db = open(&fs);
    let child = Schema::new(
        "child",
        vec![
            Column::new("id", ColumnType::U64).primary_key(),
            Column::new("item", ColumnType::U64)
                .nullable()
                .references("items", OnDelete::Restrict),
        ],
    )
    .unwrap();
    db.create_table(child).unwrap();
    match db.drop_table("items") {
        Err(Error::TableReferenced {
            table,
            referenced_by,
        }) => assert_eq!(
            (table.as_str(), referenced_by.as_str()),
            ("items", "child.item")
        ),
        other => panic!("expected TableReferenced, got {other:?}"),
    }
    assert_eq!(names(&db, "items"), values(&["a", "b"]));
    assert!(exists(&fs, SCHEMA_FILE));
    // A table referencing itself, or dropped with its referrer, goes.
    db.drop_tables(&["items", "child"]).unwrap();
    assert_eq!(db.table_names().unwrap(), ["other"]);
}

#[test]
fn drop_is_refused_inside_a_transaction_and_changes_nothing() {
    let db = Database::in_memory();
    db.create_table(items()).unwrap();
    let r = db.transaction(|_tx| db.drop_table("items"));
    assert!(
        matches!(r, Err(Error::InTransaction { ref table }) if table == "items"),
        "{r:?}"
    );
    assert_eq!(db.table_names().unwrap(), ["items"]);
    match db.sql("BEGIN; DROP TABLE items; COMMIT") {
        Err(Error::Sql { reason, .. }) => {
            assert!(
                reason.contains("cannot run inside a transaction"),
                "{reason}"
            )
        }
        other => panic!("expected Error::Sql, got {other:?}"),
    }
    assert_eq!(db.table_names().unwrap(), ["items"]);
}

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "items")]
struct Item {
    #[column(primary_key)]
    id: u64,
    #[column(unique)]
    name: String,
}

#[test]
fn handles_on_a_dropped_table_fail_and_a_new_table_takes_the_name() {
    let db = Database::in_memory();
    let typed = db.table::<Item>().unwrap();
    typed
        .insert(Item {
            id: 0,
            name: "a".into(),
        })
        .unwrap();
    let dynamic = db.dyn_table("items").unwrap();
    db.drop_table("items").unwrap();
    assert!(matches!(typed.count(), Err(Error::UnknownTable { ref table }) if table == "items"));
    assert!(matches!(
        typed.insert(Item {
            id: 0,
            name: "b".into()
        }),
        Err(Error::UnknownTable { .. })
    ));
    assert!(matches!(dynamic.count(), Err(Error::UnknownTable { .. })));
    assert!(matches!(
        dynamic.insert(row! { "name" => "b" }),
        Err(Error::UnknownTable { .. })
    ));
    // The type creates its table again, empty; the old handles stay on the dropped one.
    let again = db.table::<Item>().unwrap();
    assert_eq!(again.count().unwrap(), 0);
    again
        .insert(Item {
            id: 0,
            name: "c".into(),
        })
        .unwrap();
    assert!(matches!(typed.count(), Err(Error::UnknownTable { .. })));
    assert_eq!(db.stats().unwrap().tables.len(), 1);
}

#[test]
fn a_read_only_database_refuses_to_drop_and_follows_the_writer_s_drop() {
    let fs = committed();
    let writer = open(&fs);
    let reader = open_read_only(&fs);
    let seen = reader.dyn_table("items").unwrap();
    assert_eq!(seen.count().unwrap(), 2);
    assert!(matches!(
        reader.drop_table("items"),
        Err(Error::ReadOnly { .. })
    ));
    writer.drop_table("items").unwrap();
    reader.refresh().unwrap();
    assert_eq!(reader.table_names().unwrap(), ["other"]);
    assert!(matches!(seen.count(), Err(Error::UnknownTable { .. })));
    // A table of the name made again shows up at the next refresh.
    writer.create_table(items()).unwrap();
    writer.sql("INSERT INTO items (name) VALUES ('z')").unwrap();
    reader.refresh().unwrap();
    assert_eq!(names(&reader, "items"), values(&["z"]));
}

/// A drop's every file-system call, failing in turn: a drop that fails leaves the table
/// whole (in memory, and after a reopen unless the failure came after its commit point);
/// one that succeeds is gone after a reopen even if its files could not be removed.
#[test]
fn every_failing_call_of_a_drop() {
    let mut sites = 0;
    for n in 1.. {
        let fs = committed();
        let db = open(&fs);
        fs.fail_at(n);
        let r = db.drop_table("items");
        let hit = fs.calls() >= n;
        drop(db);
        fs.power_loss();
        let db = open(&fs);
        match r {
            Ok(()) => assert_eq!(db.table_names().unwrap(), ["other"], "site {n}"),
            Err(_) => {
                let now = db.table_names().unwrap();
                if now.contains(&"items".to_owned()) {
                    assert_eq!(names(&db, "items"), values(&["a", "b"]), "site {n}");
                }
            }
        }
        if !db.table_names().unwrap().contains(&"items".to_owned()) {
            assert!(
                !exists(&fs, SCHEMA_FILE) && !exists(&fs, SNAPSHOT),
                "site {n}: a dropped table's files stay after a reopen"
            );
        }
        assert_eq!(fs.verify(PATH).unwrap(), [], "site {n}");
        // The database takes writes and a table of the name again.
        db.create_table(items())
            .unwrap_or_else(|e| panic!("site {n}: {e}"));
        if !hit {
            break;
        }
        sites += 1;
    }
    assert!(sites > 5, "only {sites} calls in a drop");
}

/// The power cut at each call of a drop: afterwards the table is there with every row, or
/// gone with its files, and the directory verifies clean.
#[test]
fn power_loss_at_every_call_of_a_drop() {
    for n in 1.. {
        let fs = committed();
        let crashed = drop_with_the_power_cut_at(&fs, n);
        let db = open(&fs);
        let tables = db.table_names().unwrap();
        if tables.contains(&"items".to_owned()) {
            assert_eq!(names(&db, "items"), values(&["a", "b"]), "site {n}");
        } else {
            assert_eq!(tables, ["other"], "site {n}");
            assert!(
                !exists(&fs, SCHEMA_FILE) && !exists(&fs, SNAPSHOT),
                "site {n}"
            );
        }
        assert_eq!(fs.verify(PATH).unwrap(), [], "site {n}");
        if !crashed {
            assert_eq!(tables, ["other"], "the drop without a crash");
            break;
        }
    }
}

/// A table made again under a dropped name, whose creation is only in the log when the
/// power goes: the open removes the schema file the name had (the manifest still lists the
/// name as dropped), and the log makes the new table again, with its rows.
#[test]
fn a_table_made_again_under_a_dropped_name_survives_a_power_loss() {
    let fs = committed();
    {
        let db = open(&fs);
        db.drop_table("items").unwrap();
        let t = db
            .create_table(items().with_index(&["name"]).unwrap())
            .unwrap();
        t.insert(row! { "name" => "new" }).unwrap();
        // The new schema file is written once the creation is durable.
        db.sql("SELECT COUNT(*) FROM other").unwrap();
        fs.power_loss();
    }
    let db = open(&fs);
    assert_eq!(names(&db, "items"), values(&["new"]));
    let expected = items().with_index(&["name"]).unwrap();
    assert_eq!(
        db.schema("items").unwrap().differences(&expected),
        [] as [String; 0]
    );
    assert_eq!(fs.verify(PATH).unwrap(), []);
    drop(db);
    let db = open(&fs);
    assert_eq!(names(&db, "items"), values(&["new"]));
}

/// A reader's handle stays on the table it was made for: after the writer drops the table
/// and makes another under its name (of the same schema or not), a refresh shows the new
/// one, and the old handle fails.
#[test]
fn a_read_only_refresh_tells_a_table_made_again_from_the_dropped_one() {
    for same_schema in [true, false] {
        let fs = committed();
        let writer = open(&fs);
        let reader = open_read_only(&fs);
        let old = reader.dyn_table("items").unwrap();
        assert_eq!(old.count().unwrap(), 2);
        writer.drop_table("items").unwrap();
        let again = if same_schema {
            items()
        } else {
            items().with_index(&["name"]).unwrap()
        };
        writer.create_table(again).unwrap();
        writer
            .sql("INSERT INTO items (name) VALUES ('new')")
            .unwrap();
        reader
            .refresh()
            .unwrap_or_else(|e| panic!("same schema {same_schema}: {e}"));
        assert!(
            matches!(old.count(), Err(Error::UnknownTable { .. })),
            "same schema {same_schema}: the old handle reads {:?}",
            old.count()
        );
        assert_eq!(names(&reader, "items"), values(&["new"]));
        // And across a checkpoint of the writer, which records the creation in the manifest.
        let fresh = reader.dyn_table("items").unwrap();
        writer.checkpoint().unwrap();
        reader.refresh().unwrap();
        assert_eq!(fresh.count().unwrap(), 1, "same schema {same_schema}");
    }
}

/// Names in the manifest become file names: one that is not a table name (`../x`) makes the
/// manifest corrupt, so no open removes a file outside the directory's tables.
#[test]
fn a_dropped_name_that_is_not_a_table_name_is_corruption_not_a_path() {
    let fs = committed();
    open(&fs).close().unwrap();
    let manifest = String::from_utf8(fs.read("/db/manifest.json").unwrap()).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    json.as_object_mut().unwrap().remove("crc32c");
    json["dropped"] = serde_json::json!(["../schema/items"]);
    fs.write("/db/manifest.json", json.to_string().as_bytes())
        .unwrap();
    match Database::builder().file_system(fs.clone()).open(PATH) {
        Err(Error::Corrupt { reason, .. }) => {
            assert!(reason.contains("../schema/items"), "{reason}")
        }
        other => panic!("expected Error::Corrupt, got {other:?}"),
    }
    assert!(
        exists(&fs, SCHEMA_FILE),
        "the open removed a live table's schema file"
    );
    let problems = fs.verify(PATH).unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.message.contains("../schema/items")),
        "{problems:?}"
    );
}

/// A table whose creation is still in the log, dropped with the power cut at each call: a
/// repair afterwards (of a damaged snapshot of another table) shows the tables the open
/// showed. It used to read the creation record the drop's checkpoint covers, and bring the
/// table back.
#[test]
fn a_repair_after_a_drop_cut_short_keeps_the_table_dropped() {
    for n in 1.. {
        let fs = FaultyFs::new();
        {
            let db = open(&fs);
            let other = Schema::new(
                "other",
                vec![
                    Column::new("id", ColumnType::U64).primary_key(),
                    Column::new("name", ColumnType::Text),
                ],
            );
            let o = db.create_table(other.unwrap()).unwrap();
            o.insert(row! { "name" => "o" }).unwrap();
            db.checkpoint().unwrap();
            let t = db.create_table(items()).unwrap();
            t.insert(row! { "name" => "a" }).unwrap();
        }
        let crashed = drop_with_the_power_cut_at(&fs, n);
        let shown = open(&fs).table_names().unwrap();
        fs.write("/db/data/other.records", b"{ damaged\n").unwrap();
        fs.repair(PATH, tabula::RepairOptions::default())
            .unwrap_or_else(|e| panic!("site {n}: {e}"));
        let after = open(&fs).table_names().unwrap();
        assert_eq!(after, shown, "site {n}: the repair changed the tables");
        if !crashed {
            assert_eq!(shown, ["other"]);
            break;
        }
    }
}
