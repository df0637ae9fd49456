//! Fault injection: every mutating file-system call of a commit, a checkpoint and a table
//! creation fails in turn. The call must return an error, memory must show nothing that is
//! not committed, and reopening must give a consistent committed state.

use std::path::Path;
use std::sync::Arc;

use crate::db::Database;
use crate::error::Error;
use crate::storage::fs::FaultyFs;
use crate::{row, Column, ColumnType, Schema, Value};

fn schema() -> Schema {
    Schema::new(
        "items",
        vec![
            Column::new("id", ColumnType::U64).primary_key(),
            Column::new("name", ColumnType::Text).unique(),
        ],
    )
    .unwrap()
}

fn names(db: &Database) -> Vec<Value> {
    let t = db.dyn_table("items").unwrap();
    t.select()
        .all()
        .unwrap()
        .iter()
        .map(|r| r["name"].clone())
        .collect()
}

fn open_faulty(path: &Path) -> (Database, FaultyFs) {
    let fs = FaultyFs::new();
    let db = Database::builder()
        .file_system(Arc::new(fs.clone()))
        .open(path)
        .unwrap();
    (db, fs)
}

/// A directory with two committed rows, one in a snapshot and one in the log.
fn committed(path: &Path) {
    let db = Database::open(path).unwrap();
    let t = db.create_table(schema()).unwrap();
    t.insert(row! { "name" => "a" }).unwrap();
    db.checkpoint().unwrap();
    t.insert(row! { "name" => "b" }).unwrap();
}

#[test]
fn every_failing_call_of_a_commit() {
    let mut sites = 0;
    for n in 1.. {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        committed(&path);
        let (db, fs) = open_faulty(&path);
        let t = db.dyn_table("items").unwrap();
        fs.fail_at(n);
        let r = db.transaction(|tx| {
            let t = tx.dyn_table("items")?;
            t.insert(row! { "name" => "c" })?;
            t.delete_key(1)?;
            Ok(())
        });
        if r.is_ok() {
            assert!(n > 1, "the first call must be a commit site");
            break;
        }
        sites += 1;
        match t.count() {
            // Nothing that failed is visible...
            Ok(n) => assert_eq!(n, 2),
            // ...or, after a failed fsync, nothing is readable until the database is reopened.
            Err(e) => assert!(matches!(e, Error::Poisoned { .. }), "{e}"),
        }
        assert!(t.insert(row! { "name" => "d" }).is_err() || t.count().unwrap() == 3);
        drop(t);
        drop(db);
        let db = Database::open(&path).unwrap();
        let got = names(&db);
        // Either the commit is entirely absent, or (its fsync failed after the write) entirely
        // present; "d" was refused or committed on its own.
        let base: Vec<Value> = got
            .iter()
            .filter(|v| **v != Value::from("d"))
            .cloned()
            .collect();
        assert!(
            base == [Value::from("a"), Value::from("b")]
                || base == [Value::from("b"), Value::from("c")],
            "site {n}: {got:?}"
        );
    }
    assert!(sites >= 2, "append and fsync are both commit sites");
}

#[test]
fn every_failing_call_of_a_checkpoint() {
    let mut sites = 0;
    for n in 1.. {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        committed(&path);
        {
            let db = Database::open(&path).unwrap();
            db.dyn_table("items")
                .unwrap()
                .insert(row! { "name" => "c" })
                .unwrap();
        }
        let (db, fs) = open_faulty(&path);
        let t = db.dyn_table("items").unwrap();
        fs.fail_at(n);
        let r = db.checkpoint();
        let calls = fs.calls();
        fs.fail_at(0);
        if r.is_ok() {
            // Success only once `n` is past the last call: every site has been tried.
            assert!(
                calls < n,
                "call {n} of {calls} was armed to fail but did not"
            );
            break;
        }
        sites += 1;
        assert_eq!(t.count().unwrap(), 3, "site {n}: memory changed");
        drop(t);
        drop(db);
        let db = Database::open(&path).unwrap();
        assert_eq!(names(&db), ["a", "b", "c"].map(Value::from), "site {n}");
        // And the directory still takes writes and checkpoints.
        db.dyn_table("items")
            .unwrap()
            .insert(row! { "name" => "d" })
            .unwrap();
        db.checkpoint().unwrap();
        drop(db);
        let db = Database::open(&path).unwrap();
        assert_eq!(names(&db).len(), 4, "site {n}");
    }
    assert!(sites >= 8, "a checkpoint has many sites, found {sites}");
}

#[test]
fn every_failing_call_of_a_table_creation() {
    for n in 1.. {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let (db, fs) = open_faulty(&path);
        fs.fail_at(n);
        let r = db.create_table(schema());
        fs.fail_at(0);
        if r.is_ok() {
            break;
        }
        assert!(
            matches!(db.dyn_table("items"), Err(Error::UnknownTable { .. })),
            "site {n}"
        );
        drop(db);
        let db = Database::open(&path).unwrap();
        assert!(db.table_names().unwrap().is_empty(), "site {n}");
        assert!(!path.join("schema/items.schema.json.tmp").exists());
    }
}
