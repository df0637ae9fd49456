//! SQL that changes tables rather than rows: `CREATE [UNIQUE] INDEX` and `ALTER TABLE` as
//! migrations, and the auto-increment counters a dump sets (`sqlite_sequence`, `setval`).

use tabula::{Database, Error, Table, Value};

fn people(db: &Database) {
    db.sql(
        "CREATE TABLE person (id INTEGER PRIMARY KEY, name TEXT NOT NULL, age INTEGER, \
         city TEXT, CHECK (age >= 0));
         INSERT INTO person (name, age, city) VALUES ('ann', 31, 'oslo'), ('bob', 25, 'rome'),
           ('cid', 31, 'oslo')",
    )
    .unwrap();
}

fn rows(db: &Database, sql: &str) -> Vec<Vec<Value>> {
    db.sql(sql).unwrap().rows
}

#[test]
fn create_index_builds_it_and_keeps_it_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        people(&db);
        db.sql("CREATE INDEX person_age ON person (age)").unwrap();
        db.sql("CREATE UNIQUE INDEX person_name ON person (name)")
            .unwrap();
        db.sql("CREATE INDEX person_city_age ON person (city, age)")
            .unwrap();
        // The same index again is not built twice.
        db.sql("CREATE INDEX IF NOT EXISTS again ON person (age)")
            .unwrap();
        let s = db.schema("person").unwrap();
        let col = |n: &str| s.columns.iter().find(|c| c.name == n).unwrap();
        assert!(col("age").index);
        assert!(col("name").unique);
        assert_eq!(s.index, [["city".to_owned(), "age".to_owned()]]);
        let history: Vec<String> = db
            .schema_history("person")
            .unwrap()
            .into_iter()
            .map(|c| c.change)
            .collect();
        assert_eq!(
            history,
            [
                "build index on age",
                "build unique index on name",
                "build index on (city, age)"
            ]
        );
    }
    let db = Database::open(dir.path()).unwrap();
    let s = db.schema("person").unwrap();
    assert!(s.columns.iter().any(|c| c.name == "age" && c.index));
    assert_eq!(s.index.len(), 1);
    // The unique index refuses a duplicate name from now on.
    let err = db
        .sql("INSERT INTO person (name, age) VALUES ('ann', 3)")
        .unwrap_err();
    assert!(
        matches!(&err, Error::UniqueViolation { column, .. } if column == "name"),
        "{err}"
    );
}

#[test]
fn a_unique_index_over_duplicates_is_refused_and_changes_nothing() {
    let db = Database::in_memory();
    people(&db);
    let before = db.schema("person").unwrap();
    let err = db
        .sql("CREATE UNIQUE INDEX u ON person (city, age)")
        .unwrap_err();
    match &err {
        Error::SchemaMismatch { table, reason } => {
            assert_eq!(table, "person");
            assert!(reason.contains("(city, age)"), "{reason}");
            assert!(reason.contains("oslo"), "{reason}");
            assert!(reason.contains("rows with keys 1 and 3"), "{reason}");
        }
        other => panic!("expected SchemaMismatch, got {other:?}"),
    }
    assert_eq!(db.schema("person").unwrap(), before);
    assert_eq!(rows(&db, "SELECT count(*) FROM person"), [[Value::Int(3)]]);
}

#[test]
fn create_index_names_an_unknown_table_or_column() {
    let db = Database::in_memory();
    people(&db);
    let err = db.sql("CREATE INDEX i ON persons (age)").unwrap_err();
    assert!(
        matches!(&err, Error::Sql { reason, .. } if reason.contains("no table named persons")),
        "{err}"
    );
    let err = db.sql("CREATE INDEX i ON person (agee)").unwrap_err();
    assert!(
        matches!(&err, Error::Sql { reason, .. } if reason.contains("table person has no column agee")),
        "{err}"
    );
    let err = db
        .sql("CREATE INDEX i ON person (lower(name))")
        .unwrap_err();
    assert!(
        matches!(&err, Error::Unsupported { feature } if feature == "an index on an expression"),
        "{err}"
    );
}

#[test]
fn alter_table_adds_renames_and_drops_columns() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        people(&db);
        db.sql("ALTER TABLE person ADD COLUMN score REAL DEFAULT 1.5")
            .unwrap();
        db.sql("ALTER TABLE person ADD COLUMN note TEXT").unwrap();
        db.sql("ALTER TABLE person RENAME COLUMN age TO years")
            .unwrap();
        db.sql("ALTER TABLE person DROP COLUMN city").unwrap();
        assert_eq!(
            db.sql("SELECT * FROM person WHERE id = 2").unwrap().columns,
            ["id", "name", "years", "score", "note"]
        );
    }
    let db = Database::open(dir.path()).unwrap();
    assert_eq!(
        rows(
            &db,
            "SELECT name, years, score, note FROM person ORDER BY id"
        ),
        [
            [
                Value::from("ann"),
                Value::Int(31),
                Value::Float(1.5),
                Value::Null
            ],
            [
                Value::from("bob"),
                Value::Int(25),
                Value::Float(1.5),
                Value::Null
            ],
            [
                Value::from("cid"),
                Value::Int(31),
                Value::Float(1.5),
                Value::Null
            ],
        ]
    );
    // The check followed the rename.
    assert_eq!(db.schema("person").unwrap().checks, ["years >= 0"]);
    let err = db
        .sql("UPDATE person SET years = -1 WHERE id = 1")
        .unwrap_err();
    assert!(
        matches!(&err, Error::Check { table, .. } if table == "person"),
        "{err}"
    );
}

#[test]
fn alter_table_refusals_name_the_reason_and_change_nothing() {
    let db = Database::in_memory();
    people(&db);
    let before = db.schema("person").unwrap();
    let err = db
        .sql("ALTER TABLE person ADD COLUMN rank INTEGER NOT NULL")
        .unwrap_err();
    assert!(
        matches!(&err, Error::SchemaMismatch { reason, .. } if reason.contains("rank")),
        "{err}"
    );
    let err = db.sql("ALTER TABLE person DROP COLUMN id").unwrap_err();
    assert!(
        matches!(&err, Error::Sql { reason, .. } if reason.contains("primary key")),
        "{err}"
    );
    // A column a check names (the table's, or another column's) is refused by name: the
    // check would otherwise fail to find it.
    db.sql("CREATE TABLE p (id INTEGER PRIMARY KEY, b INT, c INT CHECK (c > b), CHECK (b < 100))")
        .unwrap();
    let err = db.sql("ALTER TABLE p DROP COLUMN b").unwrap_err();
    assert!(
        matches!(&err, Error::Sql { reason, .. }
            if reason.contains("column b of p is used by the check")),
        "{err}"
    );
    assert!(err.to_string().contains("Database::alter_table"), "{err}");
    db.sql("ALTER TABLE p DROP COLUMN c").unwrap();
    assert_eq!(db.schema("p").unwrap().columns.len(), 2);
    // A column in an index or a UNIQUE of several columns stays until that goes (as
    // SQLite): the error says which, and for an index the name DROP INDEX takes.
    db.sql(
        "CREATE TABLE c (id INTEGER PRIMARY KEY, w INT, p INT, q INT, UNIQUE (p, q));
         CREATE INDEX c_wp ON c (w, p); CREATE INDEX c_w ON c (w)",
    )
    .unwrap();
    let err = db.sql("ALTER TABLE c DROP COLUMN w").unwrap_err();
    assert!(
        matches!(&err, Error::Sql { reason, .. }
            if reason.contains("column w of c is in the indexes on (w) and (w, p); drop them first: DROP INDEX c_w_idx; DROP INDEX c_w_p_idx")),
        "{err}"
    );
    let err = db.sql("ALTER TABLE c DROP COLUMN q").unwrap_err();
    assert!(
        matches!(&err, Error::Sql { reason, .. }
            if reason.contains("column q of c is in the constraint UNIQUE (p, q)")),
        "{err}"
    );
    // Another table's index sharing the plain name: the error names the one DROP INDEX
    // takes then.
    db.sql("CREATE TABLE c_w (id INTEGER PRIMARY KEY, p INT); CREATE INDEX x ON c_w (p)")
        .unwrap();
    let err = db
        .sql("ALTER TABLE c DROP COLUMN w")
        .unwrap_err()
        .to_string();
    let name = err
        .split("DROP INDEX ")
        .nth(2)
        .unwrap_or_else(|| panic!("{err}"))
        .trim()
        .to_owned();
    assert!(name.starts_with("c_w_p_") && name != "c_w_p_idx", "{err}");
    db.sql(&format!("DROP INDEX {name}")).unwrap();
    // The column's own index holds it too (SQLite: "error in index … after drop column").
    let err = db.sql("ALTER TABLE c DROP COLUMN w").unwrap_err();
    assert!(
        matches!(&err, Error::Sql { reason, .. }
            if reason.contains("column w of c is in the index on (w); drop it first: DROP INDEX c_w_idx")),
        "{err}"
    );
    assert_eq!(db.schema("c").unwrap().columns.len(), 4);
    db.sql("DROP INDEX c_w_idx; ALTER TABLE c DROP COLUMN w")
        .unwrap();
    let names: Vec<String> = db
        .schema("c")
        .unwrap()
        .columns
        .iter()
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(names, ["id", "p", "q"]);
    // A UNIQUE column, declared so or by CREATE UNIQUE INDEX, has no index DROP INDEX takes
    // (SQLite: "cannot drop UNIQUE column").
    db.sql("CREATE TABLE u (id INTEGER PRIMARY KEY, a TEXT UNIQUE, b INT); CREATE UNIQUE INDEX ub ON u (b)")
        .unwrap();
    for col in ["a", "b"] {
        let err = db
            .sql(&format!("ALTER TABLE u DROP COLUMN {col}"))
            .unwrap_err();
        assert!(
            matches!(&err, Error::Sql { reason, .. }
                if reason.contains(&format!("column {col} of u is UNIQUE, which SQL here cannot drop"))),
            "{err}"
        );
    }
    assert_eq!(db.schema("u").unwrap().columns.len(), 3);
    // Renamed earlier in the same statement, the column is still in its index.
    db.sql("CREATE TABLE rn (id INTEGER PRIMARY KEY, w INT); CREATE INDEX rn_w ON rn (w)")
        .unwrap();
    let err = db
        .sql("ALTER TABLE rn RENAME COLUMN w TO z, DROP COLUMN z")
        .unwrap_err();
    assert!(
        matches!(&err, Error::Sql { reason, .. }
            if reason.contains("column z of rn is in the index on (w); drop it first: DROP INDEX rn_w_idx")),
        "{err}"
    );
    assert_eq!(db.schema("rn").unwrap().columns[1].name, "w");
    // A name dropped or renamed away and added again in one ALTER TABLE would give the new
    // column the stored values of the old one: refused, and nothing changes.
    db.sql("CREATE TABLE s (id INTEGER PRIMARY KEY, secret TEXT, n INT); INSERT INTO s (secret, n) VALUES ('pw', 1)")
        .unwrap();
    for text in [
        "ALTER TABLE s DROP COLUMN secret, ADD COLUMN secret TEXT",
        "ALTER TABLE s DROP COLUMN n, ADD COLUMN n REAL DEFAULT 0",
        "ALTER TABLE s RENAME COLUMN secret TO old, ADD COLUMN secret TEXT",
    ] {
        let err = db.sql(text).unwrap_err();
        assert!(
            matches!(&err, Error::Unsupported { feature }
                if feature.contains("a name table s still has data under, in the same ALTER TABLE")),
            "{text}: {err}"
        );
    }
    let r = db.sql("SELECT secret, n FROM s").unwrap();
    assert_eq!(r.rows, [[Value::from("pw"), Value::Int(1)]]);
    db.sql("ALTER TABLE s DROP COLUMN secret; ALTER TABLE s ADD COLUMN secret TEXT")
        .unwrap();
    let r = db.sql("SELECT secret, n FROM s").unwrap();
    assert_eq!(r.rows, [[Value::Null, Value::Int(1)]]);
    let err = db
        .sql("ALTER TABLE person RENAME COLUMN name TO city")
        .unwrap_err();
    assert!(
        matches!(&err, Error::Sql { reason, .. } if reason.contains("already has a column city")),
        "{err}"
    );
    // A check the stored rows make false.
    let err = db
        .sql("ALTER TABLE person ADD CHECK (age < 30)")
        .unwrap_err();
    assert!(
        matches!(&err, Error::SchemaMismatch { reason, .. } if reason.contains("age < 30")),
        "{err}"
    );
    let err = db.sql("ALTER TABLE person RENAME TO people").unwrap_err();
    assert!(matches!(&err, Error::Unsupported { .. }), "{err}");
    assert_eq!(db.schema("person").unwrap(), before);
}

#[test]
fn migrations_are_refused_inside_a_transaction() {
    let db = Database::in_memory();
    people(&db);
    let err = db
        .sql("BEGIN; INSERT INTO person (name) VALUES ('dee'); CREATE INDEX i ON person (age); COMMIT")
        .unwrap_err();
    // Placed where the statement starts: the error is about all of it.
    assert!(
        matches!(&err, Error::Sql { line: 1, column: 50, reason } if reason.starts_with("statement 3:") && reason.contains("cannot run inside a transaction")),
        "{err:?}"
    );
    let err = db.sql("BEGIN;\n  DROP TABLE person; COMMIT").unwrap_err();
    assert!(
        matches!(&err, Error::Sql { line: 2, column: 3, reason } if reason.starts_with("statement 2:") && reason.contains("cannot run inside a transaction")),
        "{err:?}"
    );
    // The transaction's insert went with it.
    assert_eq!(rows(&db, "SELECT count(*) FROM person"), [[Value::Int(3)]]);
    let err = db
        .transaction(|tx| tx.sql("ALTER TABLE person ADD COLUMN x TEXT"))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Sql { reason, .. } if reason.contains("cannot run inside a transaction")),
        "{err}"
    );
}

#[derive(Table, Debug, Clone)]
struct Person {
    #[column(primary_key)]
    id: i64,
    name: String,
    age: Option<i64>,
    city: Option<String>,
}

#[test]
fn a_typed_handle_is_detached_by_an_alter() {
    let db = Database::in_memory();
    let people = db.table::<Person>().unwrap();
    people
        .insert(Person {
            id: 0,
            name: "ann".into(),
            age: Some(3),
            city: None,
        })
        .unwrap();
    db.sql("ALTER TABLE person ADD COLUMN note TEXT").unwrap();
    let err = people.get(1).unwrap_err();
    assert!(
        matches!(&err, Error::SchemaMismatch { reason, .. } if reason.contains("not attached")),
        "{err}"
    );
}

#[test]
fn sqlite_sequence_and_setval_raise_the_next_key_durably() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        people(&db);
        db.sql(
            "DELETE FROM sqlite_sequence WHERE name = 'person';
             INSERT INTO sqlite_sequence (name, seq) VALUES ('person', 10)",
        )
        .unwrap();
        db.sql("INSERT INTO person (name) VALUES ('dee')").unwrap();
        assert_eq!(
            rows(&db, "SELECT id FROM person WHERE name = 'dee'"),
            [[Value::Int(11)]]
        );
        let r = db
            .sql("SELECT pg_catalog.setval(pg_get_serial_sequence('person', 'id'), 20, true)")
            .unwrap();
        assert_eq!(r.rows, [[Value::Int(20)]]);
        // A lower counter changes nothing: keys are never reused.
        db.sql("SELECT setval('public.person_id_seq', 5)").unwrap();
        // A rolled back raise is gone.
        db.sql("BEGIN; INSERT INTO sqlite_sequence VALUES ('person', 100); ROLLBACK")
            .unwrap();
    }
    // Reopened from the log alone (no checkpoint since).
    let db = Database::open(dir.path()).unwrap();
    db.sql("INSERT INTO person (name) VALUES ('eve')").unwrap();
    assert_eq!(
        rows(&db, "SELECT id FROM person WHERE name = 'eve'"),
        [[Value::Int(21)]]
    );
    db.sql("INSERT INTO sqlite_sequence VALUES ('person', 40)")
        .unwrap();
    db.checkpoint().unwrap();
    drop(db);
    let db = Database::open(dir.path()).unwrap();
    db.sql("INSERT INTO person (name) VALUES ('fay')").unwrap();
    assert_eq!(
        rows(&db, "SELECT id FROM person WHERE name = 'fay'"),
        [[Value::Int(41)]]
    );
}

#[test]
fn counters_of_unknown_or_keyless_tables_are_refused() {
    let db = Database::in_memory();
    db.sql("CREATE TABLE tag (name TEXT PRIMARY KEY)").unwrap();
    let err = db
        .sql("INSERT INTO sqlite_sequence VALUES ('nope', 3)")
        .unwrap_err();
    assert!(
        matches!(&err, Error::Sql { reason, .. } if reason.contains("no table named nope")),
        "{err}"
    );
    let err = db
        .sql("INSERT INTO sqlite_sequence VALUES ('tag', 3)")
        .unwrap_err();
    assert!(
        matches!(&err, Error::Sql { reason, .. } if reason.contains("table tag has no auto-increment key")),
        "{err}"
    );
    let err = db.sql("SELECT setval('tag_name_seq', 3)").unwrap_err();
    assert!(
        matches!(&err, Error::Sql { reason, .. } if reason.contains("table tag has no auto-increment key")),
        "{err}"
    );
    let err = db.sql("SELECT setval('other_seq', 3)").unwrap_err();
    assert!(
        matches!(&err, Error::Sql { reason, .. } if reason.contains("no table's key has the sequence other_seq")),
        "{err}"
    );
    // Only `main.` and `public.` qualify a name: another schema is refused, not ignored.
    for text in [
        "SELECT setval('other.tag_id_seq', 3)",
        "SELECT setval(pg_get_serial_sequence('other.tag', 'id'), 3)",
    ] {
        let err = db.sql(text).unwrap_err();
        assert!(
            matches!(&err, Error::Unsupported { feature } if feature.contains("the qualified name other.")),
            "{text}: {err}"
        );
    }
}

#[test]
fn renames_in_a_row_and_a_swap_keep_every_value_under_its_name() {
    let db = Database::in_memory();
    db.sql(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER);
         INSERT INTO t (a, b) VALUES (1, 2)",
    )
    .unwrap();
    // A swap in one statement would match the rows by the old names: refused.
    let err = db
        .sql("ALTER TABLE t RENAME COLUMN a TO tmp, RENAME COLUMN b TO a, RENAME COLUMN tmp TO b")
        .unwrap_err();
    assert!(
        matches!(&err, Error::Unsupported { feature } if feature.contains("rename in separate statements")),
        "{err}"
    );
    assert_eq!(
        rows(&db, "SELECT a, b FROM t"),
        [[Value::Int(1), Value::Int(2)]]
    );
    // In separate statements, each after the last.
    db.sql("ALTER TABLE t RENAME COLUMN a TO tmp").unwrap();
    db.sql("ALTER TABLE t RENAME COLUMN b TO a").unwrap();
    db.sql("ALTER TABLE t RENAME COLUMN tmp TO b").unwrap();
    assert_eq!(
        rows(&db, "SELECT a, b FROM t"),
        [[Value::Int(2), Value::Int(1)]]
    );
    db.sql("ALTER TABLE t RENAME COLUMN b TO c").unwrap();
    db.sql("ALTER TABLE t DROP COLUMN c").unwrap();
    assert_eq!(db.sql("SELECT * FROM t").unwrap().columns, ["id", "a"]);
    // Quoted names are names.
    db.sql("UPDATE t SET \"a\" = 5").unwrap();
    db.sql("ALTER TABLE t ADD UNIQUE (\"a\", \"id\")").unwrap();
    assert_eq!(rows(&db, "SELECT a FROM t"), [[Value::Int(5)]]);
}

#[test]
fn foreign_keys_to_missing_tables_or_other_kinds_are_refused_and_subqueries_correlate() {
    let db = Database::in_memory();
    db.sql("CREATE TABLE par (id INTEGER PRIMARY KEY)").unwrap();
    let err = db
        .sql("CREATE TABLE ch (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES nope)")
        .unwrap_err();
    assert!(
        matches!(&err, Error::Sql { reason, .. } if reason.contains("references table nope, which does not exist")),
        "{err}"
    );
    let err = db
        .sql("CREATE TABLE ch (id INTEGER PRIMARY KEY, pid TEXT REFERENCES par)")
        .unwrap_err();
    assert!(
        matches!(&err, Error::Sql { reason, .. } if reason.contains("column pid is text but references par.id")),
        "{err}"
    );
    // Correlated subqueries run per row (per group in HAVING), in every clause of a SELECT
    // (and in UPDATE and DELETE); an aggregate of the outer query inside one is named as not
    // supported.
    db.sql("INSERT INTO par (id) VALUES (1), (2), (3)").unwrap();
    let r = db
        .sql(
            "SELECT p1.id, (SELECT COUNT(*) FROM par p2 WHERE p2.id < p1.id) AS below FROM par p1 \
             WHERE EXISTS (SELECT 1 FROM par p2 WHERE p2.id = p1.id + 1) ORDER BY p1.id",
        )
        .unwrap();
    assert_eq!(
        r.rows,
        [
            [Value::Int(1), Value::Int(0)],
            [Value::Int(2), Value::Int(1)]
        ]
    );
    let r = db
        .sql("SELECT id FROM par GROUP BY id HAVING EXISTS (SELECT 1 FROM par q WHERE q.id > par.id)")
        .unwrap();
    assert_eq!(r.rows, [[Value::Int(1)], [Value::Int(2)]]);
    let err = db
        .sql("SELECT id, (SELECT MAX(par.id) FROM par q) FROM par GROUP BY id")
        .unwrap_err();
    assert!(
        matches!(&err, Error::Unsupported { feature } if feature.starts_with("max() in a subquery over the columns of the query around it")),
        "{err}"
    );
}

#[test]
fn a_correlated_subquery_inside_a_transaction_reads_its_rows() {
    let db = Database::in_memory();
    db.sql(
        "CREATE TABLE dept (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
         CREATE TABLE emp (id INTEGER PRIMARY KEY, dept INTEGER REFERENCES dept, pay INTEGER);
         INSERT INTO dept (name) VALUES ('eng'), ('ops');
         INSERT INTO emp (dept, pay) VALUES (1, 100)",
    )
    .unwrap();
    let names = db
        .transaction(|tx| {
            tx.sql("INSERT INTO emp (dept, pay) VALUES (2, 10)")?;
            tx.sql(
                "UPDATE emp SET pay = pay + (SELECT COUNT(*) FROM emp x WHERE x.dept = emp.dept)",
            )?;
            let r = tx.sql(
                "SELECT d.name FROM dept d WHERE EXISTS \
                 (SELECT 1 FROM emp e WHERE e.dept = d.id AND e.pay < 20) ORDER BY d.name",
            )?;
            Ok(r.rows)
        })
        .unwrap();
    assert_eq!(names, [[Value::from("ops")]]);
    assert_eq!(
        rows(&db, "SELECT pay FROM emp ORDER BY id"),
        [[Value::Int(101)], [Value::Int(11)]]
    );
}

#[test]
fn a_transaction_may_reference_a_table_it_creates_later() {
    // As the shell runs a dump, statement by statement inside one open transaction: a
    // table of a cycle names the other before it exists, and rows come before theirs.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    db.transaction(|tx| {
        tx.sql("CREATE TABLE eggs (id INTEGER PRIMARY KEY, hen INTEGER NOT NULL REFERENCES hens ON DELETE CASCADE)")?;
        tx.sql("INSERT INTO eggs (id, hen) VALUES (1, 1)")?;
        tx.sql("CREATE TABLE hens (id INTEGER PRIMARY KEY, egg INTEGER REFERENCES eggs)")?;
        tx.sql("INSERT INTO hens (id, egg) VALUES (1, 1)")?;
        Ok(())
    })
    .unwrap();
    drop(db);
    let db = Database::open(&path).unwrap();
    db.sql("DELETE FROM hens").unwrap();
    assert_eq!(
        rows(&db, "SELECT count(*) FROM eggs"),
        [[Value::Int(0)]],
        "ON DELETE CASCADE across the cycle"
    );

    // A table never created fails the commit, naming the table, column and target, and
    // nothing of the transaction is left.
    let e = db
        .transaction(|tx| {
            tx.sql(
                "CREATE TABLE chicks (id INTEGER PRIMARY KEY, mother INTEGER REFERENCES ducks)",
            )?;
            tx.sql("INSERT INTO chicks (mother) VALUES (NULL)")?;
            Ok(())
        })
        .unwrap_err();
    match &e {
        Error::Sql { reason, .. } => assert!(
            reason.contains("at COMMIT, table chicks")
                && reason.contains("column mother references table ducks, which does not exist"),
            "{reason}"
        ),
        e => panic!("{e:?}"),
    }
    assert_eq!(db.table_names().unwrap(), ["eggs", "hens"]);
}

/// An integer primary key numbers the rows that leave it out: a `DEFAULT` on it is kept in
/// the schema (so a dump of it loads back, and `CREATE TABLE IF NOT EXISTS` runs again) and
/// unused, as SQLite ignores one, rather than give every such row the same key.
#[test]
fn a_default_on_an_integer_primary_key_never_stands_in_for_the_next_key() {
    let db = Database::in_memory();
    for (i, text) in [
        "CREATE TABLE t (id INTEGER PRIMARY KEY NOT NULL DEFAULT 5, a INTEGER)",
        "CREATE TABLE u (a INTEGER, id INTEGER DEFAULT 5, PRIMARY KEY (id))",
    ]
    .into_iter()
    .enumerate()
    {
        db.sql(text).unwrap();
        db.sql(&text.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))
            .unwrap();
        let t = ["t", "u"][i];
        db.sql(&format!(
            "INSERT INTO {t} (a) VALUES (1); INSERT INTO {t} (a) VALUES (2)"
        ))
        .unwrap();
        assert_eq!(
            rows(&db, &format!("SELECT id, a FROM {t} ORDER BY id")),
            vec![
                vec![Value::Int(1), Value::Int(1)],
                vec![Value::Int(2), Value::Int(2)]
            ],
            "{text}"
        );
    }
    // A text key's default is used: nothing numbers it.
    db.sql(
        "CREATE TABLE k (code TEXT PRIMARY KEY DEFAULT 'x', a INTEGER); \
         INSERT INTO k (a) VALUES (1)",
    )
    .unwrap();
    assert_eq!(
        rows(&db, "SELECT code FROM k"),
        vec![vec![Value::Text("x".into())]]
    );
}
