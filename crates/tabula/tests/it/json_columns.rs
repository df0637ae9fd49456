//! A typed table's json columns (fields of any other serde type): what is written reads
//! back as it was, after a reopen from the snapshot or from the log; what would not is
//! refused when it is written, changing nothing.

use tabula::{Database, Error, Table};

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "readings")]
struct Reading {
    #[column(primary_key)]
    id: u64,
    samples: Vec<f64>,
    extra: Option<Vec<Option<f32>>>,
}

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "docs")]
struct Doc {
    #[column(primary_key)]
    id: u64,
    body: serde_json::Value,
}

fn nested(depth: usize) -> serde_json::Value {
    (0..depth).fold(serde_json::json!(1), |v, _| serde_json::json!([v]))
}

/// The reason a refused json value gives.
fn json_reason<T: std::fmt::Debug>(r: tabula::Result<T>) -> String {
    match r {
        Err(e @ Error::Json { .. }) => e.to_string(),
        other => panic!("expected Error::Json, got {other:?}"),
    }
}

/// NaN and the infinities have no JSON form: serde_json would write them as null, and the
/// row would not load again (`Vec<f64>`) or come back changed (`Option<f32>` as None). They
/// are refused at the insert, naming the column and the value, and nothing is stored.
#[test]
fn a_float_json_cannot_hold_is_refused_where_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    let t = db.table::<Reading>().unwrap();
    let ok = Reading {
        id: 1,
        samples: vec![0.5, -2.0],
        extra: Some(vec![Some(1.5), None]),
    };
    t.insert(ok.clone()).unwrap();
    for (samples, extra, shown) in [
        (vec![1.0, f64::NAN], None, "NaN"),
        (vec![f64::INFINITY], None, "inf"),
        (vec![], Some(vec![None, Some(f32::NEG_INFINITY)]), "-inf"),
    ] {
        let bad = Reading {
            id: 2,
            samples,
            extra,
        };
        let reason = json_reason(t.insert(bad.clone()));
        assert!(
            reason.contains("readings.") && reason.contains(&format!("holds {shown}")),
            "{reason}"
        );
        let reason = json_reason(t.upsert(Reading { id: 1, ..bad }));
        assert!(reason.contains(shown), "{reason}");
    }
    let reason = json_reason(t.update(|r| r.id == 1, |r| r.samples.push(f64::NAN)));
    assert!(reason.contains("column readings.samples"), "{reason}");
    assert_eq!(t.select().all().unwrap(), std::slice::from_ref(&ok));
    db.close().unwrap();
    let db = Database::open(&path).unwrap();
    assert_eq!(db.table::<Reading>().unwrap().select().all().unwrap(), [ok]);
}

/// serde_json reads arrays and objects nested 127 deep, not 128: a document as deep as it
/// reads is stored and reads back, from the log and from a snapshot; a deeper one is
/// refused, as a dynamic table's SQL insert refuses its text.
#[test]
fn a_document_nested_deeper_than_json_reads_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    let t = db.table::<Doc>().unwrap();
    let deepest = Doc {
        id: 1,
        body: nested(127),
    };
    t.insert(deepest.clone()).unwrap();
    let reason = json_reason(t.insert(Doc {
        id: 2,
        body: nested(128),
    }));
    assert!(
        reason.contains("docs.body") && reason.contains("128 deep"),
        "{reason}"
    );
    assert_eq!(t.count().unwrap(), 1);
    // From the log (a drop writes no snapshot), then from the snapshot a close writes.
    drop(t);
    drop(db);
    assert!(!path.join("data/docs.records").exists());
    let db = Database::open(&path).unwrap();
    assert_eq!(
        db.table::<Doc>().unwrap().select().all().unwrap(),
        std::slice::from_ref(&deepest)
    );
    db.close().unwrap();
    let db = Database::open(&path).unwrap();
    assert_eq!(
        db.table::<Doc>().unwrap().select().all().unwrap(),
        [deepest]
    );
}

/// A SQL `json` column holds what a typed field reads back: valid JSON with a number beyond
/// a double's range (`1e400`, which SQLite's `json_valid` takes) or nested deeper than
/// serde_json reads is refused as such, not as "not a JSON document", and nothing is stored.
#[test]
fn sql_json_refusals_say_why() {
    let db = Database::in_memory();
    db.sql("CREATE TABLE j (id INTEGER PRIMARY KEY, d JSON)")
        .unwrap();
    let deep = format!("{}1{}", "[".repeat(128), "]".repeat(128));
    for (text, why) in [
        (
            "[1e400]",
            "(a number beyond a double's range, at line 1, column 6",
        ),
        (
            deep.as_str(),
            "(nested more than 127 levels deep, at line 1, column 128",
        ),
        (
            "[1,",
            "(not a JSON document: EOF while parsing a value at line 1 column 3)",
        ),
    ] {
        let r = db.sql_with(
            "INSERT INTO j (d) VALUES (?)",
            &[tabula::Value::Text(text.to_owned())],
        );
        match r {
            Err(e @ Error::TypeMismatch { .. }) => {
                let shown = e.to_string();
                assert!(shown.starts_with("j.d is json"), "{shown}");
                assert!(shown.contains(why), "{shown}");
            }
            other => panic!("expected TypeMismatch for {text}, got {other:?}"),
        }
    }
    let deepest = format!("{}1{}", "[".repeat(127), "]".repeat(127));
    db.sql_with(
        "INSERT INTO j (d) VALUES (?), ('[1.5e308]')",
        &[tabula::Value::Text(deepest)],
    )
    .unwrap();
    let n = db.sql("SELECT COUNT(*) FROM j").unwrap().rows;
    assert_eq!(n, [[tabula::Value::Int(2)]]);
}

/// A json column cannot be grouped by, as it cannot be ordered by: its rows would all read
/// as one group (a typed row shows a json field to the engine as null).
#[test]
fn a_json_column_is_not_a_group_key() {
    let db = Database::in_memory();
    let t = db.table::<Reading>().unwrap();
    for id in 1..=3 {
        t.insert(Reading {
            id,
            samples: vec![id as f64],
            extra: None,
        })
        .unwrap();
    }
    match t.select().group_by("samples").count() {
        Err(Error::InvalidColumnUse {
            table,
            column,
            reason,
        }) => {
            assert_eq!((table.as_str(), column.as_str()), ("readings", "samples"));
            assert!(reason.contains("grouped by"), "{reason}");
        }
        other => panic!("expected InvalidColumnUse, got {other:?}"),
    }
    assert_eq!(t.select().group_by("id").count().unwrap().len(), 3);
}

mod tags_v1 {
    #[derive(tabula::Table, Debug, Clone, PartialEq)]
    #[table(name = "tagged")]
    pub struct Tagged {
        #[column(primary_key)]
        pub id: u64,
        pub tags: Vec<String>,
    }
}

mod tags_v2 {
    #[derive(tabula::Table, Debug, Clone, PartialEq)]
    #[table(name = "tagged")]
    pub struct Tagged {
        #[column(primary_key)]
        pub id: u64,
        pub tags: Vec<u32>,
    }
}

/// A json field whose Rust type changed (`Vec<String>` to `Vec<u32>`) keeps the column's
/// schema, so nothing migrates: attaching reads the stored documents into the new type, and
/// one it cannot read is `SchemaMismatch` naming the table, the row's key and the column
/// (not a corrupt file: the file is sound), from the dry run as from the attach, on a
/// fresh open and on a table loaded already; nothing changes.
#[test]
fn a_json_field_whose_type_cannot_read_the_stored_documents_is_refused_naming_the_row() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        let t = db.table::<tags_v1::Tagged>().unwrap();
        t.insert(tags_v1::Tagged {
            id: 1,
            tags: vec![],
        })
        .unwrap();
        t.insert(tags_v1::Tagged {
            id: 2,
            tags: vec!["a".into()],
        })
        .unwrap();
        db.checkpoint().unwrap();
        t.insert(tags_v1::Tagged {
            id: 3,
            tags: vec!["b".into()],
        })
        .unwrap();
        db.close().unwrap();
    }
    let refused = |e: tabula::Error| match e {
        tabula::Error::SchemaMismatch { table, reason } => {
            assert_eq!(table, "tagged");
            assert!(
                reason.starts_with(
                    "the stored row with key 2 holds in tags a JSON document that the field's \
                     type cannot read: invalid type: string \"a\", expected u32"
                ),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    };
    // A fresh open, attached first; then planned first.
    for plan_first in [false, true] {
        let db = Database::open(dir.path()).unwrap();
        if plan_first {
            refused(db.migration_plan::<tags_v2::Tagged>().unwrap_err());
        }
        refused(db.table::<tags_v2::Tagged>().map(drop).unwrap_err());
        refused(db.migration_plan::<tags_v2::Tagged>().unwrap_err());
        let old = db.table::<tags_v1::Tagged>().unwrap();
        assert_eq!(old.count().unwrap(), 3);
        db.close().unwrap();
    }
    // Once every row reads (emptied through the old type), it attaches.
    let db = Database::open(dir.path()).unwrap();
    let old = db.table::<tags_v1::Tagged>().unwrap();
    old.update(|_| true, |r| r.tags.clear()).unwrap();
    drop(old);
    db.close().unwrap();
    let db = Database::open(dir.path()).unwrap();
    assert!(db.migration_plan::<tags_v2::Tagged>().unwrap().is_empty());
    let t = db.table::<tags_v2::Tagged>().unwrap();
    assert_eq!(t.get(2u64).unwrap().unwrap().tags, Vec::<u32>::new());
    assert_eq!(t.count().unwrap(), 3);
}
