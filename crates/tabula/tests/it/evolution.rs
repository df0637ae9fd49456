//! Schema evolution from the derive: renames, widenings, drops, constraints added and
//! removed, each over reopen; refusals that change nothing; the dry run; the history.

use std::path::Path;

use tabula::{Database, Error};

mod v1 {
    use tabula::Table;
    #[derive(Table, Debug, Clone, PartialEq)]
    #[table(
        name = "people",
        index(full_name, age),
        check = "age >= 0 AND full_name <> ''"
    )]
    pub struct Person {
        #[column(primary_key)]
        pub id: u64,
        pub full_name: String,
        pub age: i32,
        pub height: f32,
        pub visits: u32,
        pub nickname: Option<String>,
        pub label: String,
    }
}

mod v2 {
    use tabula::Table;
    /// Renamed, widened, dropped, added, indexed and constrained.
    #[derive(Table, Debug, Clone, PartialEq)]
    #[table(
        name = "people",
        index(name, age),
        check = "age >= 0 AND name <> ''",
        dropped("nickname")
    )]
    pub struct Person {
        #[column(primary_key)]
        pub id: u64,
        #[column(renamed_from = "full_name")]
        pub name: String,
        pub age: i64,
        pub height: f64,
        pub visits: f64,
        #[column(unique)]
        pub label: Option<String>,
        #[column(default = 0)]
        pub score: i32,
    }
}

fn person(name: &str, age: i32, label: &str) -> v1::Person {
    v1::Person {
        id: 0,
        full_name: name.into(),
        age,
        height: 1.5,
        visits: 7,
        nickname: (age > 30).then(|| format!("{name}y")),
        label: label.into(),
    }
}

/// A directory with three v1 people, two of whom have nicknames; the last insert is only in
/// the log.
fn stored(path: &Path) {
    let db = Database::open(path).unwrap();
    let t = db.table::<v1::Person>().unwrap();
    t.insert(person("Ada", 36, "a")).unwrap();
    t.insert(person("Bo", 20, "b")).unwrap();
    db.checkpoint().unwrap();
    t.insert(person("Cy", 41, "c")).unwrap();
}

const PLAN: &str = "table people:
  rename full_name -> name
  widen age i32 -> i64
  widen height f32 -> f64
  widen visits u32 -> f64
  make label nullable
  build unique index on label
  add score default 0
  drop nickname (2 values)";

#[test]
fn every_kind_of_change_migrates_over_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    stored(&path);
    let files_before = snapshot_files(&path);
    {
        let db = Database::open(&path).unwrap();
        let plan = db.migration_plan::<v2::Person>().unwrap();
        assert_eq!(plan.to_string(), PLAN);
        assert_eq!(plan.table(), "people");
        // The dry run changed nothing on disk, nor what the old type sees.
        assert_eq!(snapshot_files(&path), files_before);
        let old = db.table::<v1::Person>().unwrap();
        assert_eq!(old.count().unwrap(), 3);
    }
    {
        let db = Database::open(&path).unwrap();
        let t = db.table::<v2::Person>().unwrap();
        let rows = t.select().all().unwrap();
        type Shown<'a> = (&'a str, i64, f64, f64, Option<&'a str>, i32);
        let names: Vec<Shown<'_>> = rows
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.age,
                    p.height,
                    p.visits,
                    p.label.as_deref(),
                    p.score,
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("Ada", 36, 1.5, 7.0, Some("a"), 0),
                ("Bo", 20, 1.5, 7.0, Some("b"), 0),
                ("Cy", 41, 1.5, 7.0, Some("c"), 0),
            ]
        );
        // The composite index and the check were carried over to the new name.
        let schema = db.schema("people").unwrap();
        assert_eq!(schema.index, [["name", "age"]]);
        assert_eq!(schema.checks, ["age >= 0 AND name <> ''"]);
        assert!(schema.position("nickname").is_none());
        let plan = t.select().where_eq("name", "Cy").where_range("age", 40..);
        assert_eq!(plan.keys().unwrap(), [3]);
        // The new constraints hold.
        let mut dup = t.get(1u64).unwrap().unwrap();
        dup.id = 0;
        assert!(matches!(
            t.insert(dup.clone()),
            Err(Error::UniqueViolation { .. })
        ));
        dup.label = None;
        dup.age = -1;
        assert!(matches!(t.insert(dup.clone()), Err(Error::Check { .. })));
        dup.age = 1;
        dup.name = String::new();
        assert!(matches!(t.insert(dup), Err(Error::Check { .. })));
        // Nothing left to do.
        assert!(db.migration_plan::<v2::Person>().unwrap().is_empty());
    }
    let db = Database::open(&path).unwrap();
    let t = db.table::<v2::Person>().unwrap();
    assert_eq!(t.count().unwrap(), 3);
    assert_eq!(t.insert(v2_person("Di")).unwrap(), 4);
    // The history, with the log position of the step.
    let history = db.schema_history("people").unwrap();
    let changes: Vec<&str> = history.iter().map(|h| h.change.as_str()).collect();
    assert_eq!(
        changes,
        PLAN.lines().skip(1).map(str::trim).collect::<Vec<_>>()
    );
    assert!(history.iter().all(|h| h.lsn == history[0].lsn && h.lsn > 0));
    drop(t);
    db.close().unwrap();
    assert!(tabula::verify(&path).unwrap().is_empty());
    // The old type no longer fits, and is told why.
    let db = Database::open(&path).unwrap();
    let e = db.table::<v1::Person>().unwrap_err();
    assert!(matches!(e, Error::SchemaMismatch { .. }), "{e}");
}

fn v2_person(name: &str) -> v2::Person {
    v2::Person {
        id: 0,
        name: name.into(),
        age: 50,
        height: 2.0,
        visits: 1.5,
        label: None,
        score: 1,
    }
}

/// The bytes of every file under the directory but the lock, by name.
fn snapshot_files(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in ["", "schema", "data", "wal"] {
        let d = path.join(sub);
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() && !p.ends_with("LOCK") {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

mod gone {
    use tabula::Table;
    /// `nickname` silently disappeared, `age` narrowed, a new NOT NULL column without a
    /// default.
    #[derive(Table, Debug, Clone, PartialEq)]
    #[table(name = "people", index(full_name, age), check = "age >= 0")]
    pub struct Person {
        #[column(primary_key)]
        pub id: u64,
        pub full_name: String,
        pub age: i16,
        pub height: f32,
        pub visits: u32,
        pub label: String,
        pub required: String,
    }
}

#[test]
fn a_refused_migration_lists_every_reason_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    stored(&path);
    let before = snapshot_files(&path);
    let db = Database::open(&path).unwrap();
    for e in [
        db.migration_plan::<gone::Person>().unwrap_err(),
        db.table::<gone::Person>().unwrap_err(),
    ] {
        let Error::SchemaMismatch { table, reason } = &e else {
            panic!("{e}")
        };
        assert_eq!(table, "people");
        // `required` is the struct's one new column: the rename that would keep
        // nickname's values is offered first, naming it.
        assert!(reason.contains("column nickname is gone from the struct, which has a new column required: if required is nickname under a new name, mark it #[column(renamed_from = \"nickname\")] (its values are kept); to drop it and its data, name it in #[table(dropped(\"nickname\"))]"), "{reason}");
        assert!(
            reason.contains("column age cannot change type from i32 to i16"),
            "{reason}"
        );
        assert!(
            reason.contains("new column required is neither nullable nor defaulted"),
            "{reason}"
        );
    }
    assert_eq!(db.table::<v1::Person>().unwrap().count().unwrap(), 3);
    drop(db);
    assert_eq!(snapshot_files(&path), before);
}

mod float_visits {
    use tabula::Table;
    #[derive(Table, Debug, Clone, PartialEq)]
    #[table(name = "counters")]
    pub struct Counter {
        #[column(primary_key)]
        pub id: u64,
        pub n: f64,
    }
}

mod int_visits {
    use tabula::Table;
    #[derive(Table, Debug, Clone, PartialEq)]
    #[table(name = "counters")]
    pub struct Counter {
        #[column(primary_key)]
        pub id: u64,
        pub n: i64,
    }
}

#[test]
fn an_integer_becomes_a_float_only_when_every_value_converts_exactly() {
    let db = Database::in_memory();
    let t = db.table::<int_visits::Counter>().unwrap();
    t.insert(int_visits::Counter { id: 1, n: 5 }).unwrap();
    t.insert(int_visits::Counter {
        id: 2,
        n: (1 << 53) + 1,
    })
    .unwrap();
    let e = db.migration_plan::<float_visits::Counter>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "schema of table counters does not match: column n cannot become f64: the stored row \
         with key 2 holds 9007199254740993, which f64 does not take (an integer becomes a \
         float only up to 2^53 in magnitude, where every integer is exact)"
    );
    let e = db.table::<float_visits::Counter>().unwrap_err();
    assert!(matches!(e, Error::SchemaMismatch { .. }), "{e}");
    t.delete_key(2u64).unwrap();
    let f = db.table::<float_visits::Counter>().unwrap();
    assert_eq!(f.get(1u64).unwrap().unwrap().n, 5.0);
    // And back is a narrowing: refused.
    let e = db.table::<int_visits::Counter>().unwrap_err();
    assert!(
        e.to_string()
            .contains("column n cannot change type from f64 to i64"),
        "{e}"
    );
}

mod checked {
    use tabula::Table;
    #[derive(Table, Debug, Clone, PartialEq)]
    #[table(name = "counters", check = "n < 10")]
    pub struct Counter {
        #[column(primary_key)]
        pub id: u64,
        #[column(unique)]
        pub n: i64,
    }
}

mod pairs {
    use tabula::Table;
    #[derive(Table, Debug, Clone, PartialEq)]
    #[table(name = "pairs")]
    pub struct Pair {
        #[column(primary_key)]
        pub id: u64,
        pub a: i64,
        pub b: i64,
    }
}

mod unique_pairs {
    use tabula::Table;
    #[derive(Table, Debug, Clone, PartialEq)]
    #[table(name = "pairs", unique(a, b))]
    pub struct Pair {
        #[column(primary_key)]
        pub id: u64,
        pub a: i64,
        pub b: i64,
    }
}

#[test]
fn adding_a_constraint_the_stored_rows_break_is_refused_naming_the_first_of_them() {
    let db = Database::in_memory();
    let t = db.table::<int_visits::Counter>().unwrap();
    for (id, n) in [(1, 3), (2, 12), (3, 3)] {
        t.insert(int_visits::Counter { id, n }).unwrap();
    }
    let e = db.table::<checked::Counter>().unwrap_err();
    // Rows are checked in key order: row 2 breaks the check before row 3 repeats 3.
    assert_eq!(
        e.to_string(),
        "schema of table counters does not match: cannot add check n < 10: it is false for \
         the stored row with key 2 (n = 12)"
    );
    t.update(|c| c.id == 2, |c| c.n = 4).unwrap();
    let e = db.table::<checked::Counter>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "schema of table counters does not match: cannot build unique index on n: value 3 is \
         stored in the rows with keys 1 and 3"
    );
    assert_eq!(t.count().unwrap(), 3);
    t.delete_key(3u64).unwrap();
    let plan = db.migration_plan::<checked::Counter>().unwrap();
    assert_eq!(
        plan.changes(),
        ["build unique index on n", "add check n < 10"]
    );
    db.table::<checked::Counter>().unwrap();
    // Removing them is a migration too.
    let plan = db.migration_plan::<int_visits::Counter>().unwrap();
    assert_eq!(
        plan.changes(),
        ["drop unique index on n", "drop check n < 10"]
    );
    db.table::<int_visits::Counter>().unwrap();

    let p = db.table::<pairs::Pair>().unwrap();
    for (id, a, b) in [(1, 1, 1), (2, 1, 2), (3, 1, 1)] {
        p.insert(pairs::Pair { id, a, b }).unwrap();
    }
    let e = db.migration_plan::<unique_pairs::Pair>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "schema of table pairs does not match: cannot build unique index on (a, b): value \
         (1, 1) is stored in the rows with keys 1 and 3"
    );
    p.delete_key(3u64).unwrap();
    assert_eq!(
        db.migration_plan::<unique_pairs::Pair>().unwrap().changes(),
        ["build unique index on (a, b)"]
    );
    let u = db.table::<unique_pairs::Pair>().unwrap();
    assert!(matches!(
        u.insert(unique_pairs::Pair { id: 0, a: 1, b: 2 }),
        Err(Error::UniqueViolation { .. })
    ));
}

#[test]
fn a_migration_is_refused_inside_a_transaction() {
    let db = Database::in_memory();
    db.table::<int_visits::Counter>()
        .unwrap()
        .insert(int_visits::Counter { id: 1, n: 1 })
        .unwrap();
    let e = db
        .transaction(|tx| tx.table::<checked::Counter>().map(drop))
        .unwrap_err();
    match &e {
        Error::MigrationInTransaction { table, changes } => {
            assert_eq!(table, "counters");
            assert_eq!(changes, "build unique index on n; add check n < 10");
        }
        other => panic!("{other}"),
    }
    assert_eq!(db.schema("counters").unwrap().checks.len(), 0);
}

#[test]
fn the_history_survives_reopen_and_shows_in_memory_too() {
    let db = Database::in_memory();
    db.table::<int_visits::Counter>().unwrap();
    db.table::<checked::Counter>().unwrap();
    let h = db.schema_history("counters").unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[0].lsn, 0);
    assert!(matches!(
        db.schema_history("nope"),
        Err(Error::UnknownTable { .. })
    ));
}

mod dept {
    use tabula::Table;
    #[derive(Table, Debug, Clone, PartialEq)]
    #[table(name = "dept")]
    pub struct Dept {
        #[column(primary_key)]
        pub id: u64,
    }
}

mod staff_v1 {
    use tabula::Table;
    #[derive(Table, Debug, Clone, PartialEq)]
    #[table(name = "staff")]
    pub struct Staff {
        #[column(primary_key)]
        pub id: u64,
        pub dept_id: u64,
    }
}

mod staff_v2 {
    use tabula::Table;
    #[derive(Table, Debug, Clone, PartialEq)]
    #[table(name = "staff")]
    pub struct Staff {
        #[column(primary_key)]
        pub id: u64,
        #[column(references = "dept", on_delete = "cascade")]
        pub dept_id: u64,
    }
}

mod staff_v3 {
    use tabula::Table;
    #[derive(Table, Debug, Clone, PartialEq)]
    #[table(name = "staff")]
    pub struct Staff {
        #[column(primary_key)]
        pub id: u64,
        #[column(references = "dept", on_delete = "restrict")]
        pub dept_id: u64,
    }
}

#[test]
fn a_new_foreign_key_names_the_row_that_references_nothing() {
    let db = Database::in_memory();
    db.table::<dept::Dept>()
        .unwrap()
        .insert(dept::Dept { id: 1 })
        .unwrap();
    let s = db.table::<staff_v1::Staff>().unwrap();
    s.insert(staff_v1::Staff { id: 5, dept_id: 1 }).unwrap();
    s.insert(staff_v1::Staff { id: 6, dept_id: 9 }).unwrap();
    for e in [
        db.migration_plan::<staff_v2::Staff>().unwrap_err(),
        db.table::<staff_v2::Staff>().unwrap_err(),
    ] {
        match &e {
            Error::ForeignKey { table, value, .. } => {
                assert_eq!((table.as_str(), value), ("staff", &tabula::Value::Int(9)));
                assert!(
                    e.to_string()
                        .contains("the stored row with key 6 references no row of dept"),
                    "{e}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
    s.delete_key(6u64).unwrap();
    db.table::<staff_v2::Staff>().unwrap();
    assert_eq!(
        db.migration_plan::<staff_v3::Staff>().unwrap().changes(),
        ["change foreign key dept_id -> dept on delete cascade -> restrict"]
    );
}

/// `names (id, first, last)` with `first`/`last` renamed as `renames` says (old, new).
fn names_schema(columns: [&str; 2], renames: &[(&str, &str)]) -> tabula::Schema {
    use tabula::{Column, ColumnType, Schema};
    let mut s = Schema::new(
        "names",
        vec![
            Column::new("id", ColumnType::U64).primary_key(),
            Column::new(columns[0], ColumnType::Text),
            Column::new(columns[1], ColumnType::Text),
        ],
    )
    .unwrap();
    s.evolution.renamed = renames
        .iter()
        .map(|(o, n)| (o.to_string(), n.to_string()))
        .collect();
    s
}

/// Renames among stored columns (a swap, a chain) cannot be told from hints applied long
/// ago: a schema asking for them (the derive refuses them when it compiles; a schema made
/// by hand, or Python's, can ask) is refused naming why, rather than skipped with every
/// value left under its old name. A hint whose new name a column added since has taken
/// stays harmless.
#[test]
fn renames_that_swap_or_chain_stored_columns_are_refused() {
    use tabula::Value;
    let db = Database::in_memory();
    let t = db
        .create_table(names_schema(["first", "last"], &[]))
        .unwrap();
    t.insert_values(vec![
        None,
        Some(Value::from("Ada")),
        Some(Value::from("Lovelace")),
    ])
    .unwrap();
    for (schema, words) in [
        (
            names_schema(["first", "last"], &[("last", "first"), ("first", "last")]),
            "first is renamed from last while last is renamed from first",
        ),
        (
            names_schema(["last", "family"], &[("first", "last"), ("last", "family")]),
            "last is renamed from first while family is renamed from last",
        ),
        (
            {
                let mut s = names_schema(["given", "alias"], &[("first", "given"), ("first", "alias")]);
                s.columns.push(tabula::Column::new("last", tabula::ColumnType::Text));
                s
            },
            "columns given and alias are both renamed from first: a stored column is renamed to one name",
        ),
    ] {
        for e in [
            db.alter_plan(schema.clone()).unwrap_err(),
            db.alter_table(schema).unwrap_err(),
        ] {
            assert!(
                matches!(&e, Error::SchemaMismatch { table, reason } if table == "names" && reason.contains(words)),
                "{e}"
            );
        }
    }
    // Nothing changed.
    let row = |col: &str| db.dyn_table("names").unwrap().get(1u64).unwrap().unwrap()[col].clone();
    assert_eq!(row("last"), Value::from("Lovelace"));

    // first -> given; then a new `first` beside the old hint: nothing is renamed again.
    db.alter_table(names_schema(["given", "last"], &[("first", "given")]))
        .unwrap();
    let mut again = names_schema(["given", "last"], &[("first", "given")]);
    again
        .columns
        .push(tabula::Column::new("first", tabula::ColumnType::Text).nullable());
    db.alter_table(again).unwrap();
    assert_eq!(
        (row("given"), row("first")),
        (Value::from("Ada"), Value::Null)
    );
}

/// A column renamed elsewhere (by SQL, here) while the program's schema still has its old
/// name: the refusal offers the rename back first, naming the program's new column, not
/// only the drop that would throw the values away.
#[test]
fn a_column_renamed_by_sql_is_offered_back_as_a_rename() {
    let db = Database::in_memory();
    db.create_table(names_schema(["first", "last"], &[]))
        .unwrap();
    db.sql("ALTER TABLE names RENAME COLUMN first TO given")
        .unwrap();
    let e = db
        .alter_plan(names_schema(["first", "last"], &[]))
        .unwrap_err();
    let Error::SchemaMismatch { table, reason } = &e else {
        panic!("{e}")
    };
    assert_eq!(table, "names");
    assert!(
        reason.starts_with(
        "column given is gone from the struct, which has a new column first: if first is given \
         under a new name, mark it #[column(renamed_from = \"given\")] (its values are kept); \
         to drop it and its data, name it in #[table(dropped(\"given\"))]; "
        ),
        "{reason}"
    );
}

/// A dynamic handle made before a migration answers that it is stale, whatever values it
/// is given: a null its old schema refused for a column nullable now, or a text for what
/// was an integer, is no reason to give.
#[test]
fn a_handle_made_before_a_migration_is_stale_whatever_its_values() {
    use tabula::{Column, ColumnType, Schema, Value};
    let db = Database::in_memory();
    let schema = |nullable: bool| {
        let x = Column::new("x", ColumnType::I64);
        Schema::new(
            "t",
            vec![
                Column::new("id", ColumnType::U64).primary_key(),
                if nullable { x.nullable() } else { x },
            ],
        )
        .unwrap()
    };
    let old = db.create_table(schema(false)).unwrap();
    old.insert_values(vec![None, Some(Value::Int(1))]).unwrap();
    db.alter_table(schema(true)).unwrap();
    let stale = |e: Error| {
        assert!(
            matches!(&e, Error::SchemaMismatch { reason, .. } if reason.contains("migrated since this handle was made")),
            "{e}"
        )
    };
    stale(
        old.insert_values(vec![None, Some(Value::Null)])
            .unwrap_err(),
    );
    stale(
        old.insert_values(vec![None, Some(Value::from("a"))])
            .unwrap_err(),
    );
    stale(old.insert_many_values(vec![vec![None, None]]).unwrap_err());
    assert_eq!(db.dyn_table("t").unwrap().count().unwrap(), 1);
}

mod coded {
    use tabula::Table;
    #[derive(Table, Debug, Clone, PartialEq)]
    #[table(name = "coded")]
    pub struct Coded {
        #[column(primary_key)]
        pub code: String,
    }
}

mod kids_v1 {
    use tabula::Table;
    #[derive(Table, Debug, Clone, PartialEq)]
    #[table(name = "kids")]
    pub struct Kid {
        #[column(primary_key)]
        pub id: u64,
        pub p: Option<u64>,
    }
}

mod kids_v2 {
    use tabula::Table;
    #[derive(Table, Debug, Clone, PartialEq)]
    #[table(name = "kids")]
    pub struct Kid {
        #[column(primary_key)]
        pub id: u64,
        #[column(references = "coded")]
        pub p: Option<u64>,
    }
}

mod kids_v3 {
    use tabula::Table;
    #[derive(Table, Debug, Clone, PartialEq)]
    #[table(name = "kids")]
    pub struct Kid {
        #[column(primary_key)]
        pub id: u64,
        pub p: Option<u64>,
        #[column(references = "later")]
        pub q: Option<u64>,
    }
}

mod fresh_kids {
    use tabula::Table;
    #[derive(Table, Debug, Clone, PartialEq)]
    #[table(name = "fresh_kids")]
    pub struct Kid {
        #[column(primary_key)]
        pub id: u64,
        #[column(references = "coded")]
        pub p: Option<u64>,
    }
}

/// A foreign key whose column can never hold the referenced key's value (an integer column
/// referencing a text key) is refused by a migration and its dry run as by creating the
/// table: every row with a value would be refused after. A table that does not exist yet
/// may be referenced, as by a new table, while no stored row holds a value.
#[test]
fn a_migration_refuses_a_foreign_key_of_the_wrong_kind_as_creating_does() {
    let db = Database::in_memory();
    db.table::<coded::Coded>()
        .unwrap()
        .insert(coded::Coded { code: "1".into() })
        .unwrap();
    let kids = db.table::<kids_v1::Kid>().unwrap();
    kids.insert(kids_v1::Kid { id: 1, p: None }).unwrap();
    let want = "column p is u64 but references coded.code, which is text";
    for e in [
        db.migration_plan::<kids_v2::Kid>().unwrap_err(),
        db.table::<kids_v2::Kid>().unwrap_err(),
        db.migration_plan::<fresh_kids::Kid>().unwrap_err(),
        db.table::<fresh_kids::Kid>().unwrap_err(),
    ] {
        assert!(
            matches!(&e, Error::SchemaMismatch { reason, .. } if reason.contains(want)),
            "{e:?}"
        );
    }
    // Nothing changed: the old type still reads its table.
    assert_eq!(kids.count().unwrap(), 1);
    assert_eq!(db.table_names().unwrap(), ["coded", "kids"]);

    // A reference to a table not made yet: planned and migrated while every value is null,
    // refused naming the row once one is not.
    assert_eq!(
        db.migration_plan::<kids_v3::Kid>().unwrap().changes(),
        ["add q (nullable)"]
    );
    let v3 = db.table::<kids_v3::Kid>().unwrap();
    assert_eq!(v3.get(1u64).unwrap().unwrap().q, None);
}

/// `alter_plan` of a table that does not exist plans its creation (what `create_table`
/// would make; `alter_table` itself refuses), and refuses what creating would refuse.
#[test]
fn the_dry_run_of_a_missing_table_plans_what_creating_would_do() {
    let db = Database::in_memory();
    db.table::<coded::Coded>().unwrap();
    let schema = |ty| {
        tabula::Schema::new(
            "ghost",
            vec![
                tabula::Column::new("id", tabula::ColumnType::U64).primary_key(),
                tabula::Column::new("c", ty)
                    .nullable()
                    .references("coded", tabula::OnDelete::Restrict),
            ],
        )
        .unwrap()
    };
    let text = schema(tabula::ColumnType::Text);
    assert_eq!(
        db.alter_plan(text.clone()).unwrap().changes(),
        ["create table ghost"]
    );
    let altered = db.alter_table(text).unwrap_err();
    assert!(
        matches!(&altered, Error::UnknownTable { .. }),
        "{altered:?}"
    );
    let e = db.alter_plan(schema(tabula::ColumnType::U64)).unwrap_err();
    assert!(
        matches!(&e, Error::SchemaMismatch { reason, .. }
            if reason.contains("column c is u64 but references coded.code, which is text")),
        "{e:?}"
    );
    let created = db
        .create_table(schema(tabula::ColumnType::U64))
        .unwrap_err();
    assert_eq!(created.to_string(), e.to_string());
}

mod checked_f32 {
    use tabula::Table;
    #[derive(Table, Debug, Clone, PartialEq)]
    #[table(name = "measures")]
    pub struct M {
        #[column(primary_key)]
        pub id: u64,
        #[column(check = "f <= 0.1")]
        pub f: f32,
    }
}

mod checked_f64 {
    use tabula::Table;
    #[derive(Table, Debug, Clone, PartialEq)]
    #[table(name = "measures")]
    pub struct M {
        #[column(primary_key)]
        pub id: u64,
        #[column(check = "f <= 0.1")]
        pub f: f64,
    }
}

/// Widening `f32` to `f64` under a check the table has already: the check compared the
/// nearest `f32` of its constant and now compares the double, and the refusal says that
/// the check is the old one, not one being added.
#[test]
fn a_widening_that_an_unchanged_check_refuses_says_the_check_is_not_new() {
    let db = Database::in_memory();
    let m = db.table::<checked_f32::M>().unwrap();
    m.insert(checked_f32::M { id: 1, f: 0.1 }).unwrap();
    let e = db.table::<checked_f64::M>().unwrap_err();
    match &e {
        Error::SchemaMismatch { reason, .. } => assert_eq!(
            reason,
            "the check f <= 0.1, which the table has already, is false for the stored row \
             with key 1 under the new column types (f = 0.10000000149011612): change the \
             check or the row first"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(m.get(1u64).unwrap().unwrap().f, 0.1);
}
