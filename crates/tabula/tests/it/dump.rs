//! `Database::dump_sql`: a database with every column type, nulls, awkward text, composite
//! constraints, checks and foreign keys, dumped in both dialects and loaded (1) into SQLite
//! through rusqlite, (2) back into tabula, (3) into a throwaway PostgreSQL server through
//! `psql` (skipped with a notice when the server binaries are absent, unless
//! `TABULA_REQUIRE_POSTGRES=1`).

use std::path::{Path, PathBuf};
use std::process::Command;

use tabula::{Column, ColumnType, Database, Dialect, Error, OnDelete, Schema, Value};

use crate::common::{student, Student};

/// Text that every escaping rule meets.
const AWKWARD: [&str; 8] = [
    "it's \"quoted\"",
    "two\nlines\r\nand\ttabs",
    "back\\slash \\N \\. end\\",
    "\\.",
    "héllo ✓ 日本 🎉",
    "",
    " leading and trailing ",
    "semi; colon -- not a comment /* nor this */",
];

fn kinds_schema() -> Schema {
    Schema::new(
        "kinds",
        vec![
            Column::new("id", ColumnType::U64).primary_key(),
            Column::new("b", ColumnType::Bool).default_value(true),
            Column::new("i8", ColumnType::I8),
            Column::new("u8", ColumnType::U8).checked("u8 <> 13"),
            Column::new("i16", ColumnType::I16),
            Column::new("u16", ColumnType::U16),
            Column::new("i32", ColumnType::I32).indexed(),
            Column::new("u32", ColumnType::U32),
            Column::new("i64", ColumnType::I64).nullable(),
            Column::new("u64", ColumnType::U64),
            Column::new("f32", ColumnType::F32).default_value(0.5),
            Column::new("f64", ColumnType::F64).default_value(f64::NEG_INFINITY),
            Column::new("maybe", ColumnType::F64)
                .nullable()
                .default_value(f64::NAN),
            Column::new("t", ColumnType::Text)
                .nullable()
                .default_value("it's"),
            Column::new("code", ColumnType::Text).unique().indexed(),
            Column::new("j", ColumnType::Json).nullable(),
        ],
    )
    .unwrap()
    .with_unique(&["i8", "u8"])
    .unwrap()
    .with_index(&["u16", "i32"])
    .unwrap()
    .with_check("i16 >= i8")
    .unwrap()
}

fn people_schema() -> Schema {
    Schema::new(
        "people",
        vec![
            Column::new("id", ColumnType::I32).primary_key(),
            Column::new("name", ColumnType::Text),
            Column::new("mentor", ColumnType::I32)
                .nullable()
                .references("people", OnDelete::SetNull),
        ],
    )
    .unwrap()
}

fn teams_schema() -> Schema {
    Schema::new(
        "teams",
        vec![
            Column::new("code", ColumnType::Text).primary_key(),
            Column::new("title", ColumnType::Text),
        ],
    )
    .unwrap()
}

fn members_schema() -> Schema {
    Schema::new(
        "members",
        vec![
            Column::new("id", ColumnType::U16).primary_key(),
            Column::new("person", ColumnType::I32).references("people", OnDelete::Cascade),
            Column::new("team", ColumnType::Text).references("teams", OnDelete::Restrict),
            Column::new("role", ColumnType::Text)
                .default_value("member")
                .checked("role <> ''"),
        ],
    )
    .unwrap()
    .with_unique(&["person", "team"])
    .unwrap()
}

/// Two tables in a cycle of references: each egg has its hen, a hen its favourite egg.
/// Created in either order, neither can name the other in its `CREATE TABLE`.
fn hens_schema() -> Schema {
    Schema::new(
        "hens",
        vec![
            Column::new("id", ColumnType::I64).primary_key(),
            Column::new("egg", ColumnType::I64)
                .nullable()
                .references("eggs", OnDelete::SetNull),
        ],
    )
    .unwrap()
}

fn eggs_schema() -> Schema {
    Schema::new(
        "eggs",
        vec![
            Column::new("id", ColumnType::I64).primary_key(),
            Column::new("hen", ColumnType::I64).references("hens", OnDelete::Cascade),
        ],
    )
    .unwrap()
}

/// Names that must be quoted: a keyword, capitals.
fn order_schema() -> Schema {
    Schema::new(
        "Order",
        vec![
            Column::new("id", ColumnType::I64).primary_key(),
            Column::new("Select", ColumnType::I32).nullable().indexed(),
            Column::new("user", ColumnType::Text).default_value("x"),
        ],
    )
    .unwrap()
    .with_unique(&["Select", "user"])
    .unwrap()
}

fn kinds_row(i: i64) -> Vec<(&'static str, Value)> {
    let k = i as usize;
    let floats = [
        0.1,
        -0.0,
        1e300,
        5e-324,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -2.5,
        123456.789,
    ];
    let maybe = [
        Value::Float(f64::NAN),
        Value::Null,
        Value::Float(f64::INFINITY),
        Value::Float(1.0),
    ];
    let json = [
        Value::from(r#"{"a": [1, "x\ty"], "b": null}"#),
        Value::Null,
        Value::from("1"),
        Value::from(r#""s\\n""#),
    ];
    let (lo, hi) = (i % 2 == 0, i % 3 == 0);
    vec![
        ("b", Value::Bool(lo)),
        ("i8", Value::Int(if lo { -128 } else { 127 - i })),
        ("u8", Value::Int(if hi { 255 } else { i })),
        ("i16", Value::Int(if lo { 32767 } else { 200 + i })),
        ("u16", Value::Int(if hi { 65535 } else { i })),
        ("i32", Value::Int(if lo { i32::MIN.into() } else { i })),
        ("u32", Value::Int(if hi { u32::MAX.into() } else { i })),
        (
            "i64",
            match k % 3 {
                0 => Value::Int(i64::MIN),
                1 => Value::Null,
                _ => Value::Int(i64::MAX),
            },
        ),
        ("u64", Value::Int(if lo { i64::MAX } else { i })),
        ("f32", Value::Float(f64::from(0.1f32) * i as f64)),
        ("f64", Value::Float(floats[k % floats.len()])),
        ("maybe", maybe[k % maybe.len()].clone()),
        (
            "t",
            if k == 10 {
                Value::Null
            } else {
                Value::from(AWKWARD[k % AWKWARD.len()])
            },
        ),
        ("code", Value::from(format!("c{i}"))),
        ("j", json[k % json.len()].clone()),
    ]
}

/// The database every test dumps: 4 tables, and the seed's `students` (a typed table).
fn source() -> Database {
    let db = Database::in_memory();
    // Created children first: the dump must put referenced tables first itself.
    let members = db.create_table(members_schema()).unwrap();
    let people = db.create_table(people_schema()).unwrap();
    let teams = db.create_table(teams_schema()).unwrap();
    let kinds = db.create_table(kinds_schema()).unwrap();
    for i in 1..=12 {
        let mut row = tabula::Row::new();
        for (n, v) in kinds_row(i) {
            row.set(n, v);
        }
        // Rows 11 and 12 leave out the columns with defaults.
        if i > 10 {
            row = tabula::row! { "i8" => 10 + i, "u8" => 1, "i16" => 100, "u16" => 1,
            "i32" => 1, "u32" => 1, "u64" => 1, "f64" => 1.5, "code" => format!("c{i}") };
        }
        kinds.insert(row).unwrap();
    }
    kinds
        .delete(|r| r.get("code") == Some(&Value::from("c12")))
        .unwrap();
    kinds
        .delete(|r| r.get("code") == Some(&Value::from("c3")))
        .unwrap();
    // A mentor named before it exists, and a self-reference.
    people
        .insert(tabula::row! { "id" => 1, "name" => "Ada", "mentor" => 3 })
        .unwrap_err();
    db.transaction(|tx| {
        let p = tx.dyn_table("people")?;
        p.insert(tabula::row! { "id" => 1, "name" => "Ada", "mentor" => 3 })?;
        p.insert(tabula::row! { "id" => 2, "name" => "O'Neil", "mentor" => 2 })?;
        p.insert(tabula::row! { "id" => 3, "name" => "Grace", "mentor" => Value::Null })?;
        p.insert(tabula::row! { "id" => 9, "name" => "gone", "mentor" => 1 })?;
        Ok(())
    })
    .unwrap();
    people.delete_key(9).unwrap();
    teams
        .insert(tabula::row! { "code" => "core", "title" => "Core\tteam" })
        .unwrap();
    teams
        .insert(tabula::row! { "code" => "docs", "title" => "Docs" })
        .unwrap();
    members
        .insert(tabula::row! { "person" => 1, "team" => "core", "role" => "lead" })
        .unwrap();
    members
        .insert(tabula::row! { "person" => 2, "team" => "core" })
        .unwrap();
    members
        .insert(tabula::row! { "person" => 2, "team" => "docs" })
        .unwrap();
    members
        .insert(tabula::row! { "person" => 3, "team" => "docs" })
        .unwrap();
    members.delete_key(4).unwrap();
    let students = db.table::<Student>().unwrap();
    students.insert(student("Ann", 2024, 3.5)).unwrap();
    students.insert(student("Bob", 2023, 2.0)).unwrap();
    let order = db.create_table(order_schema()).unwrap();
    order
        .insert(tabula::row! { "Select" => 7, "user" => "me" })
        .unwrap();
    db.create_table(hens_schema()).unwrap();
    db.create_table(eggs_schema()).unwrap();
    db.transaction(|tx| {
        tx.dyn_table("hens")?
            .insert(tabula::row! { "id" => 1, "egg" => 2 })?;
        let eggs = tx.dyn_table("eggs")?;
        eggs.insert(tabula::row! { "id" => 1, "hen" => 1 })?;
        eggs.insert(tabula::row! { "id" => 2, "hen" => 1 })?;
        Ok(())
    })
    .unwrap();
    db
}

fn dump(db: &Database, dialect: Dialect) -> String {
    let mut out = Vec::new();
    db.dump_sql(dialect, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// Every row of a table in key order. `Value`'s equality is exact for floats: `-0.0` differs
/// from `0.0`, and a NaN equals only a NaN with the same bits.
fn rows(db: &Database, table: &str) -> Vec<Vec<Value>> {
    let t = db.dyn_table(table).unwrap();
    let pk = t.schema().primary_key_column().name.clone();
    t.select()
        .order_by(&pk)
        .all()
        .unwrap()
        .iter()
        .map(|r| r.values().to_vec())
        .collect()
}

/// Inserts a row into each auto-increment table, returning the keys given.
fn insert_new(db: &Database) -> Vec<Value> {
    let kinds = db.dyn_table("kinds").unwrap();
    let people = db.dyn_table("people").unwrap();
    let members = db.dyn_table("members").unwrap();
    vec![
        kinds
            .insert(
                tabula::row! { "i8" => 50, "u8" => 1, "i16" => 100, "u16" => 1,
                "i32" => 1, "u32" => 1, "u64" => 1, "f64" => 1.5, "code" => "new" },
            )
            .unwrap(),
        people.insert(tabula::row! { "name" => "new" }).unwrap(),
        members
            .insert(tabula::row! { "person" => 3, "team" => "core" })
            .unwrap(),
    ]
}

/// The keys `insert_new` gives in `source()`: past the deleted rows, not max + 1.
const NEXT_KEYS: [Value; 3] = [Value::Int(13), Value::Int(10), Value::Int(5)];

#[test]
fn both_dialects_read_back_into_the_same_database() {
    let db = source();
    let tables = db.table_names().unwrap();
    assert_eq!(tables.len(), 8);
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let script = dump(&db, dialect);
        // The cycle: SQLite takes a reference to a table created later (and so does
        // tabula, inside the dump's transaction); PostgreSQL adds it after the rows.
        let forward = "hen INTEGER NOT NULL REFERENCES hens (id) ON DELETE CASCADE";
        let added =
            "ALTER TABLE eggs ADD FOREIGN KEY (hen) REFERENCES hens (id) ON DELETE CASCADE;";
        if dialect == Dialect::Sqlite {
            assert!(
                script.contains(forward) && !script.contains(added),
                "{script}"
            );
        } else {
            assert!(
                script.contains(added) && !script.contains(forward),
                "{script}"
            );
        }
        if dialect == Dialect::Sqlite {
            // A nullable json column lets NULL past `json_valid`, which SQLite before 3.45
            // finds false for it.
            assert!(
                script.contains("j TEXT CHECK (j IS NULL OR json_valid(j))"),
                "{script}"
            );
        }
        let copy = Database::in_memory();
        copy.sql(&script)
            .unwrap_or_else(|e| panic!("{dialect}: {e}\n{script}"));
        assert_eq!(copy.table_names().unwrap(), tables, "{dialect}");
        for t in &tables {
            assert_eq!(
                copy.schema(t).unwrap(),
                db.schema(t).unwrap(),
                "{dialect}: schema of {t}: {:?}",
                copy.schema(t).unwrap().differences(&db.schema(t).unwrap())
            );
            // SQLite's dialect has no NaN (nor has SQLite, nor tabula's SQL): it is NULL.
            let mut want = rows(&db, t);
            if dialect == Dialect::Sqlite {
                for v in want.iter_mut().flatten() {
                    if matches!(v, Value::Float(f) if f.is_nan()) {
                        *v = Value::Null;
                    }
                }
            }
            assert_eq!(rows(&copy, t), want, "{dialect}: rows of {t}");
        }
        // A dump of the copy is the same script.
        assert_eq!(dump(&copy, dialect), script, "{dialect}");
        // The same next keys: past the deleted rows, not max + 1.
        assert_eq!(insert_new(&copy), NEXT_KEYS, "{dialect}");
    }
    assert_eq!(insert_new(&db), NEXT_KEYS);
}

/// A dump many times longer than the stretch a script's tokens are read in (64 KiB), its
/// texts holding every escaping rule's characters (`;`, quotes, comment marks, `\.` lines),
/// reads back row for row in both dialects: no stretch ends inside a string or inside a
/// `COPY`'s rows.
#[test]
fn a_dump_of_many_stretches_reads_back_the_same() {
    let db = Database::in_memory();
    db.sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, n INTEGER)")
        .unwrap();
    db.transaction(|tx| {
        for i in 0..6_000i64 {
            let body = format!("{} #{i}", AWKWARD[i as usize % AWKWARD.len()]);
            tx.sql_with(
                "INSERT INTO notes (body, n) VALUES (?, ?)",
                &[Value::from(body), Value::Int(i)],
            )?;
        }
        Ok(())
    })
    .unwrap();
    let want = rows(&db, "notes");
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let script = dump(&db, dialect);
        assert!(script.len() > 3 * (64 << 10), "{}", script.len());
        let copy = Database::in_memory();
        copy.sql(&script).unwrap();
        assert_eq!(rows(&copy, "notes"), want, "{dialect}");
        assert_eq!(dump(&copy, dialect), script, "{dialect}");
    }
}

#[test]
fn a_dump_reads_one_version_of_a_persistent_database_beside_its_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    let students = db.table::<Student>().unwrap();
    students.insert(student("Ann", 2024, 3.5)).unwrap();
    db.checkpoint().unwrap();
    students.insert(student("Bob", 2023, 2.0)).unwrap();
    let ro = Database::open_read_only(&path).unwrap();
    let script = dump(&ro, Dialect::Sqlite);
    assert!(script.contains("'Bob'"), "{script}");
    let copy = Database::in_memory();
    copy.sql(&script).unwrap();
    assert_eq!(rows(&copy, "students"), rows(&db, "students"));
}

#[test]
fn text_with_a_nul_character_is_refused_by_name() {
    let db = Database::in_memory();
    db.create_table(teams_schema())
        .unwrap()
        .insert(tabula::row! { "code" => "x", "title" => "a\0b" })
        .unwrap();
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let e = db.dump_sql(dialect, &mut Vec::new()).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("teams") && msg.contains("title") && msg.contains("\"x\""),
            "{msg}"
        );
    }
}

/// A check using `ILIKE` (the library's conditions take it) has no SQLite spelling: the
/// SQLite dialect refuses it by name before writing anything; PostgreSQL takes it.
#[test]
fn an_ilike_check_is_refused_by_the_sqlite_dialect_only() {
    let db = Database::in_memory();
    let schema = Schema::new(
        "c",
        vec![
            Column::new("id", ColumnType::I64).primary_key(),
            Column::new("t", ColumnType::Text).checked("t ILIKE 'a%'"),
        ],
    )
    .unwrap();
    db.create_table(schema).unwrap();
    let mut out = Vec::new();
    let e = db.dump_sql(Dialect::Sqlite, &mut out).unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains("the check on c.t uses ILIKE"), "{e}");
    assert!(out.is_empty());
    let script = dump(&db, Dialect::Postgres);
    assert!(script.contains("CHECK (t ILIKE 'a%')"), "{script}");
    // A pattern beyond ASCII: PostgreSQL's ILIKE would not fold its case in the dump's
    // COLLATE "C" columns, so rows tabula holds would fail the load there.
    let db = Database::in_memory();
    db.sql("CREATE TABLE q (id INTEGER PRIMARY KEY, p TEXT CHECK (p ILIKE 'é%'))")
        .unwrap();
    db.sql("INSERT INTO q (p) VALUES ('Éa')").unwrap();
    let e = db.dump_sql(Dialect::Postgres, &mut Vec::new()).unwrap_err();
    assert!(
        matches!(&e, Error::Unsupported { feature } if feature.contains("the check on q.p uses ILIKE with a pattern beyond ASCII")),
        "{e}"
    );
}

/// A NaN in a `NOT NULL` float column: the SQLite dialect (no NaN; a nullable column's NaN
/// is written `NULL`) refuses by name rather than write a script its load would refuse; the
/// PostgreSQL dialect carries it, and loads back as NaN.
#[test]
fn a_nan_in_a_not_null_column_is_refused_by_the_sqlite_dialect_only() {
    let db = Database::in_memory();
    db.sql("CREATE TABLE m (id INTEGER PRIMARY KEY, x REAL NOT NULL, y REAL)")
        .unwrap();
    let t = db.dyn_table("m").unwrap();
    t.insert(tabula::row! { "x" => 1.0, "y" => f64::NAN })
        .unwrap();
    let mut out = Vec::new();
    db.dump_sql(Dialect::Sqlite, &mut out).unwrap();
    t.insert(tabula::row! { "x" => f64::NAN }).unwrap();
    match db.dump_sql(Dialect::Sqlite, &mut Vec::new()).unwrap_err() {
        Error::Unsupported { feature } => assert!(
            feature.contains("table m, column x (the row with key 2)")
                && feature.contains("--dialect postgres"),
            "{feature}"
        ),
        other => panic!("expected Error::Unsupported, got {other:?}"),
    }
    let script = dump(&db, Dialect::Postgres);
    let copy = Database::in_memory();
    copy.sql(&script).unwrap();
    assert!(matches!(rows(&copy, "m")[1][1], Value::Float(f) if f.is_nan()));
}

// ---- (1) SQLite ----

/// What SQLite holds for a tabula value: booleans are integers, NaN is NULL (SQLite has no
/// NaN).
fn as_sqlite(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as S;
    match v {
        Value::Null => S::Null,
        Value::Bool(b) => S::Integer((*b).into()),
        Value::Int(i) => S::Integer(*i),
        Value::Float(f) if f.is_nan() => S::Null,
        Value::Float(f) => S::Real(*f),
        Value::Text(t) => S::Text(t.clone()),
    }
}

#[test]
fn the_sqlite_dialect_loads_into_sqlite() {
    let db = source();
    let script = dump(&db, Dialect::Sqlite);
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch(&script)
        .unwrap_or_else(|e| panic!("{e}\n{script}"));
    for t in db.table_names().unwrap() {
        let schema = db.schema(&t).unwrap();
        let pk = &schema.primary_key_column().name;
        let want: Vec<Vec<rusqlite::types::Value>> = db
            .dyn_table(&t)
            .unwrap()
            .select()
            .order_by(pk)
            .all()
            .unwrap()
            .iter()
            .map(|r| r.values().iter().map(as_sqlite).collect())
            .collect();
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM \"{t}\" ORDER BY \"{pk}\""))
            .unwrap();
        let n = schema.columns.len();
        let got: Vec<Vec<rusqlite::types::Value>> = stmt
            .query_map([], |r| (0..n).map(|i| r.get(i)).collect())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(got, want, "rows of {t}");
    }
    let mut seq: Vec<(String, i64)> = conn
        .prepare("SELECT name, seq FROM sqlite_sequence ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    seq.sort();
    assert_eq!(
        seq,
        [
            ("Order".to_owned(), 1),
            ("eggs".to_owned(), 2),
            ("hens".to_owned(), 1),
            ("kinds".to_owned(), 12),
            ("members".to_owned(), 4),
            ("people".to_owned(), 9),
            ("students".to_owned(), 2)
        ]
    );
    // The checks that carry the narrower types hold in SQLite too.
    let e = conn
        .execute("UPDATE kinds SET u8 = 256 WHERE id = 1", [])
        .unwrap_err();
    assert!(e.to_string().contains("CHECK"), "{e}");
    let e = conn
        .execute("UPDATE kinds SET j = '{nope' WHERE id = 1", [])
        .unwrap_err();
    assert!(e.to_string().contains("CHECK"), "{e}");
    // And the foreign keys hold, once SQLite is asked to enforce them.
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    conn.execute("DELETE FROM people WHERE id = 1", []).unwrap();
    let left: i64 = conn
        .query_row("SELECT count(*) FROM members WHERE person = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(left, 0, "ON DELETE CASCADE");
    conn.execute("DELETE FROM hens WHERE id = 1", []).unwrap();
    let left: i64 = conn
        .query_row("SELECT count(*) FROM eggs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0, "ON DELETE CASCADE across the cycle");
}

// ---- (3) PostgreSQL ----

/// The directory holding `initdb`, `pg_ctl` and `postgres`: `TABULA_PG_BIN`, or Debian's
/// `/usr/lib/postgresql/<version>/bin` (the newest).
fn pg_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("TABULA_PG_BIN") {
        return Some(PathBuf::from(dir)).filter(|d| d.join("initdb").exists());
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
    });
    found.pop()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A PostgreSQL server of its own, on a Unix socket in a temporary directory, stopped when
/// dropped. initdb refuses to run as root: then the server runs as an unprivileged user
/// (`tabula_pg`, created if missing).
struct PgServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    user: Option<&'static str>,
}

impl PgServer {
    fn as_owner(&self, program: &Path) -> Command {
        match self.user {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--"]).arg(program);
                c
            }
            None => Command::new(program),
        }
    }

    fn start(bin: PathBuf) -> PgServer {
        let root = run(Command::new("id").arg("-u")).trim() == "0";
        let user = root.then_some("tabula_pg");
        if let Some(u) = user {
            if !Command::new("id")
                .arg(u)
                .output()
                .is_ok_and(|o| o.status.success())
            {
                run(Command::new("useradd")
                    .args([
                        "--system",
                        "--no-create-home",
                        "--shell",
                        "/usr/sbin/nologin",
                    ])
                    .arg(u));
            }
        }
        let dir = tempfile::tempdir().unwrap();
        if let Some(u) = user {
            run(Command::new("chown").arg(u).arg(dir.path()));
        }
        let server = PgServer { bin, dir, user };
        let data = server.dir.path().join("data");
        run(server
            .as_owner(&server.bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]));
        run(server
            .as_owner(&server.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(server.dir.path().join("log"))
            .arg("-o")
            .arg(format!(
                "-k {} -c listen_addresses='' -F",
                server.dir.path().display()
            ))
            .args(["-w", "start"]));
        server
    }

    fn psql(&self) -> Command {
        let mut c = Command::new("psql");
        c.arg("-h").arg(self.dir.path()).args([
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
        ]);
        c
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self
            .as_owner(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// One field of PostgreSQL's `COPY … TO STDOUT` text output, decoded (`None` for `\N`).
fn pg_field(raw: &str) -> Option<String> {
    if raw == "\\N" {
        return None;
    }
    let mut out = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
    Some(out)
}

/// Whether PostgreSQL's text for a value is the tabula value of a column of type `ty`.
fn pg_matches(ty: ColumnType, field: Option<&str>, v: &Value) -> bool {
    match (field, v) {
        (None, Value::Null) => true,
        (Some(f), Value::Bool(b)) => f == if *b { "t" } else { "f" },
        (Some(f), Value::Int(i)) => f.parse::<i64>() == Ok(*i),
        (Some(f), Value::Float(x)) if ty == ColumnType::F32 => f
            .parse::<f32>()
            .is_ok_and(|g| g.to_bits() == (*x as f32).to_bits()),
        (Some(f), Value::Float(x)) => f
            .parse::<f64>()
            .is_ok_and(|g| g.to_bits() == x.to_bits() || g.is_nan() && x.is_nan()),
        (Some(f), Value::Text(t)) => f == t,
        _ => false,
    }
}

#[test]
fn the_postgres_dialect_loads_into_postgresql() {
    let Some(bin) = pg_bin() else {
        assert!(
            std::env::var("TABULA_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "TABULA_REQUIRE_POSTGRES=1 but no PostgreSQL server binaries (initdb) were found \
             under /usr/lib/postgresql/*/bin or TABULA_PG_BIN"
        );
        eprintln!(
            "NOTICE: skipping the PostgreSQL round trip: no initdb under \
             /usr/lib/postgresql/*/bin (set TABULA_PG_BIN, or install Debian's postgresql)"
        );
        return;
    };
    let db = source();
    let server = PgServer::start(bin);
    let file = server.dir.path().join("dump.sql");
    std::fs::write(&file, dump(&db, Dialect::Postgres)).unwrap();
    run(server.psql().arg("-f").arg(&file));
    for t in db.table_names().unwrap() {
        let schema = db.schema(&t).unwrap();
        let pk = &schema.primary_key_column().name;
        let want = db
            .dyn_table(&t)
            .unwrap()
            .select()
            .order_by(pk)
            .all()
            .unwrap();
        let got = run(server.psql().arg("-c").arg(format!(
            "COPY (SELECT * FROM \"{t}\" ORDER BY \"{pk}\") TO STDOUT"
        )));
        let lines: Vec<&str> = got.lines().collect();
        assert_eq!(lines.len(), want.len(), "rows of {t}:\n{got}");
        for (line, row) in lines.iter().zip(&want) {
            let fields: Vec<Option<String>> = line.split('\t').map(pg_field).collect();
            assert_eq!(fields.len(), schema.columns.len(), "{t}: {line}");
            for ((f, v), c) in fields.iter().zip(row.values()).zip(&schema.columns) {
                assert!(
                    pg_matches(c.ty, f.as_deref(), v),
                    "{t}.{}: PostgreSQL has {f:?}, tabula {v:?}",
                    c.name
                );
            }
        }
    }
    // The identities continue where tabula's counters are.
    let next = run(server.psql().args(["-At", "-c"]).arg(
        "SELECT nextval(pg_get_serial_sequence('kinds', 'id')), \
         nextval(pg_get_serial_sequence('people', 'id')), \
         nextval(pg_get_serial_sequence('members', 'id'))",
    ));
    assert_eq!(next.trim(), "13|10|5");
    // The foreign key added after the rows holds there.
    let out = server
        .psql()
        .arg("-c")
        .arg("UPDATE eggs SET hen = 7 WHERE id = 1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    run(server.psql().arg("-c").arg("DELETE FROM hens WHERE id = 1"));
    let left = run(server
        .psql()
        .args(["-At", "-c", "SELECT count(*) FROM eggs"]));
    assert_eq!(left.trim(), "0", "ON DELETE CASCADE across the cycle");
    // The range checks hold there too.
    let out = server
        .psql()
        .arg("-c")
        .arg("UPDATE kinds SET u8 = 256 WHERE id = 1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    // The script is UTF-8 whatever psql's client encoding, and a backslash in a LIKE
    // pattern is a plain character there as in tabula (PostgreSQL's LIKE escapes with
    // backslash unless told otherwise).
    let odd = Database::in_memory();
    odd.sql(
        r"CREATE TABLE paths (id INTEGER PRIMARY KEY, p TEXT NOT NULL CHECK (p NOT LIKE '%\'),
           q TEXT NOT NULL, CHECK (q NOT LIKE '%\%'));
           INSERT INTO paths (p, q) VALUES ('50%', '100%'), ('😀𝄞 é', 'ab')",
    )
    .unwrap();
    run(server.psql().arg("-c").arg("CREATE DATABASE odd"));
    std::fs::write(&file, dump(&odd, Dialect::Postgres)).unwrap();
    run(server
        .psql()
        .env("PGCLIENTENCODING", "LATIN1")
        .args(["-d", "odd", "-f"])
        .arg(&file));
    let got = run(server.psql().args([
        "-d",
        "odd",
        "-At",
        "-c",
        "SELECT string_agg(p || '|' || q, ',' ORDER BY id) FROM paths",
    ]));
    assert_eq!(got.trim(), "50%|100%,😀𝄞 é|ab");
    // The checks hold there as in tabula.
    for bad in [
        r"INSERT INTO paths (p, q) VALUES ('x\', 'y')",
        r"INSERT INTO paths (p, q) VALUES ('x', 'y\%')",
    ] {
        let out = server
            .psql()
            .args(["-d", "odd", "-c", bad])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{bad}");
        let e = odd.sql(bad).unwrap_err();
        assert!(
            matches!(e.innermost(), tabula::Error::Check { .. }),
            "{bad}: {e}"
        );
    }
    // Text compares by its bytes there too, whatever the database's own collation: a
    // check `v < 'b'` holds for 'Z' in tabula (and in C), not in a locale's order, where
    // the dump's rows would be refused.
    // CREATE DATABASE … LOCALE_PROVIDER needs PostgreSQL 15.
    let icu = run(server.psql().args(["-At", "-c"]).arg(
        "SELECT count(*) FROM pg_collation WHERE collname = 'en-US-x-icu' \
         AND current_setting('server_version_num')::int >= 150000",
    ));
    if icu.trim() == "0" {
        eprintln!(
            "NOTICE: skipping the collation check: this PostgreSQL is older than 15 or has no ICU"
        );
        return;
    }
    run(server.psql().arg("-c").arg(
        "CREATE DATABASE en TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' \
         LOCALE 'C'",
    ));
    let words = Database::in_memory();
    words
        .sql(
            "CREATE TABLE w (id INTEGER PRIMARY KEY, v TEXT NOT NULL CHECK (v < 'b'));
             INSERT INTO w (v) VALUES ('a'), ('Z'), ('B'), ('_')",
        )
        .unwrap();
    std::fs::write(&file, dump(&words, Dialect::Postgres)).unwrap();
    run(server.psql().args(["-d", "en", "-f"]).arg(&file));
    let ordered = run(server.psql().args([
        "-d",
        "en",
        "-At",
        "-c",
        "SELECT string_agg(v, '' ORDER BY v) FROM w",
    ]));
    let ours = words
        .sql("SELECT group_concat(v, '') FROM (SELECT v FROM w ORDER BY v) AS o")
        .unwrap();
    assert_eq!(ordered.trim(), "BZ_a");
    assert_eq!(ours.rows, [[Value::from("BZ_a")]]);
}

#[test]
fn copy_from_stdin_reads_postgres_text_and_names_what_is_wrong() {
    let db = Database::in_memory();
    db.create_table(people_schema()).unwrap();
    db.create_table(teams_schema()).unwrap();
    let r = db
        .sql(
            "COPY teams (code, title) FROM stdin;\n\
             a\tTab\\there\n\
             b\t\\\\N is text, \\N inside a field is N\n\
             c\tcaf\\303\\251 is caf\\xc3\\xa9\n\
             \\.\n\
             COPY people FROM STDIN WITH (FORMAT text, DELIMITER ',', NULL '');\n\
             1,Ada,\n\
             2,Bob,1\n\
             \\.\n",
        )
        .unwrap();
    assert_eq!(r.changed, 2);
    assert_eq!(
        rows(&db, "teams"),
        [
            [Value::from("a"), Value::from("Tab\there")],
            [
                Value::from("b"),
                Value::from("\\N is text, N inside a field is N")
            ],
            [Value::from("c"), Value::from("café is café")],
        ]
    );
    assert_eq!(
        rows(&db, "people")[0],
        [Value::Int(1), Value::from("Ada"), Value::Null]
    );
    // Each failure names what is wrong, and changes nothing.
    for (script, expect) in [
        ("COPY teams FROM stdin;\nc\n\\.\n", "1 fields for 2 columns"),
        ("COPY people FROM stdin;\nx\tAda\t\\N\n\\.\n", "\"x\""),
        ("COPY people (id, nope) FROM stdin;\n3\tx\n\\.\n", "nope"),
        // PostgreSQL skips ASCII white space around a number, not a no-break space.
        (
            "COPY people FROM stdin;\n\u{a0}3\tAda\t\\N\n\\.\n",
            "people.id is i32, which cannot hold",
        ),
        (
            "COPY teams (code, code) FROM stdin;\nc\td\n\\.\n",
            "column code is named more than once",
        ),
        (
            "COPY teams FROM stdin;\nc\td\n",
            "without a line holding only \\.",
        ),
        ("COPY nothing FROM stdin;\n\\.\n", "no table named nothing"),
        ("COPY teams FROM '/etc/passwd';", "only FROM stdin"),
        // An escaped byte is a byte: alone, not UTF-8 text; `\0` is a NUL.
        (
            "COPY teams FROM stdin;\nc\tok\nd\tcaf\\xc3\n\\.\n",
            "COPY teams, row 2, column title: its escapes give bytes that are not UTF-8 \
             text: \\xc3 after \"caf\"",
        ),
        (
            "COPY teams FROM stdin;\nc\\0\tok\n\\.\n",
            "COPY teams, row 1, column code: a NUL character (\\0)",
        ),
    ] {
        let e = db.sql(script).unwrap_err().to_string();
        assert!(e.contains(expect), "{script:?}: {e}");
    }
    assert_eq!(rows(&db, "teams").len(), 3);
}

/// The name a dump writes for an index is the one `DROP INDEX` takes, and it stays the
/// index's when another table comes to share its plain name.
#[test]
fn drop_index_takes_the_names_a_dump_writes() {
    let db = Database::in_memory();
    db.sql(
        "CREATE TABLE a_b (id INTEGER PRIMARY KEY, c INTEGER); CREATE INDEX i ON a_b (c);
         CREATE TABLE t (id INTEGER PRIMARY KEY, a_b INTEGER, a INTEGER, b INTEGER);
         CREATE INDEX j ON t (a_b); CREATE INDEX k ON t (a, b)",
    )
    .unwrap();
    let names = |db: &Database| -> Vec<String> {
        dump(db, Dialect::Sqlite)
            .lines()
            .filter_map(|l| l.strip_prefix("CREATE INDEX "))
            .map(|l| {
                l.split_whitespace()
                    .next()
                    .unwrap()
                    .trim_matches('"')
                    .to_owned()
            })
            .collect()
    };
    let before = names(&db);
    assert!(before.contains(&"a_b_c_idx".to_owned()), "{before:?}");
    // t's (a_b) and (a, b) share t_a_b_idx: each gets its own checksum.
    let shared: Vec<&String> = before.iter().filter(|n| n.starts_with("t_a_b_")).collect();
    assert_eq!(shared.len(), 2, "{before:?}");
    assert_ne!(shared[0], shared[1]);
    db.sql(&format!("DROP INDEX {}", shared[0])).unwrap();
    db.sql(&format!("DROP INDEX {}", shared[1])).unwrap();
    let s = db.schema("t").unwrap();
    assert!(
        s.index.is_empty() && !s.columns.iter().any(|c| c.index),
        "{s:?}"
    );
    // A table whose index's plain name is a_b_c_idx too: a_b's index is now named apart,
    // and the plain name drops neither.
    db.sql("CREATE TABLE a (id INTEGER PRIMARY KEY, b_c INTEGER); CREATE INDEX m ON a (b_c)")
        .unwrap();
    let after = names(&db);
    assert!(!after.contains(&"a_b_c_idx".to_owned()), "{after:?}");
    match db.sql("DROP INDEX a_b_c_idx") {
        Err(Error::Sql { reason, .. }) => assert!(reason.contains("no index named a_b_c_idx")),
        other => panic!("expected Error::Sql, got {other:?}"),
    }
    let a_b_index = after
        .iter()
        .find(|n| n.starts_with("a_b_c_"))
        .expect("a_b's index")
        .clone();
    db.sql(&format!("DROP INDEX {a_b_index}")).unwrap();
    let remaining = names(&db);
    assert_eq!(remaining.len(), 1, "{remaining:?}");
    assert!(db.schema("a_b").unwrap().columns[1].index || db.schema("a").unwrap().columns[1].index);
}

#[test]
fn a_table_outside_a_cycle_waits_for_it_and_keeps_its_keys_inline() {
    // `aa` sorts first and references a table of the cycle: it is not part of the cycle,
    // so the dump creates it after the table it references and names its key in its
    // CREATE TABLE; only the cycle's own key is added afterwards.
    let db = Database::in_memory();
    db.sql(
        "CREATE TABLE hens (id INTEGER PRIMARY KEY);
         CREATE TABLE eggs (id INTEGER PRIMARY KEY, hen INTEGER REFERENCES hens);
         ALTER TABLE hens ADD COLUMN egg INTEGER REFERENCES eggs;
         CREATE TABLE aa (id INTEGER PRIMARY KEY, egg INTEGER REFERENCES eggs);",
    )
    .unwrap();
    let script = dump(&db, Dialect::Postgres);
    let order: Vec<&str> = script
        .lines()
        .filter_map(|l| l.strip_prefix("CREATE TABLE "))
        .collect();
    assert_eq!(order, ["eggs (", "aa (", "hens ("], "{script}");
    let added: Vec<&str> = script
        .lines()
        .filter(|l| l.starts_with("ALTER TABLE"))
        .collect();
    assert_eq!(
        added,
        ["ALTER TABLE eggs ADD FOREIGN KEY (hen) REFERENCES hens (id) ON DELETE RESTRICT;"],
        "{script}"
    );
    let copy = Database::in_memory();
    copy.sql(&script).unwrap();
    for t in ["aa", "eggs", "hens"] {
        assert_eq!(copy.schema(t).unwrap(), db.schema(t).unwrap(), "{t}");
    }
}

/// A rename rewrites the checks that name the column, an unquoted mention as the new name
/// is written (as a derive's check names it) and a quoted one quoted; the checks still hold,
/// and the dump, which quotes every name SQL needs quoted (a keyword, capitals), reads back
/// in both dialects.
#[test]
fn renamed_columns_in_checks_are_quoted_and_read_back() {
    let db = Database::in_memory();
    db.sql(
        r#"CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER CHECK (a > 0), b INTEGER,
           "Val" INTEGER CHECK ("Val" < 100), "true" BOOLEAN CHECK ("true" = true),
           CHECK (b > 0))"#,
    )
    .unwrap();
    db.sql(r#"ALTER TABLE t RENAME COLUMN a TO "group""#)
        .unwrap();
    db.sql(r#"ALTER TABLE t RENAME COLUMN b TO "B""#).unwrap();
    db.sql(r#"ALTER TABLE t RENAME COLUMN "Val" TO v"#).unwrap();
    db.sql(r#"ALTER TABLE t RENAME COLUMN "true" TO yes"#)
        .unwrap();
    let schema = db.schema("t").unwrap();
    let checks: Vec<Option<&str>> = schema.columns.iter().map(|c| c.check.as_deref()).collect();
    assert_eq!(
        checks,
        [
            None,
            Some("group > 0"),
            None,
            Some(r#""v" < 100"#),
            Some(r#""yes" = true"#)
        ]
    );
    assert_eq!(schema.checks, ["B > 0"]);
    db.sql(r#"INSERT INTO t ("group", "B", v, yes) VALUES (1, 1, 1, true)"#)
        .unwrap();
    for (bad, column) in [
        ("(0, 1, 1, true)", "group"),
        ("(1, 0, 1, true)", "B"),
        ("(1, 1, 100, true)", "v"),
        ("(1, 1, 1, false)", "yes"),
    ] {
        let err = db
            .sql(&format!(
                r#"INSERT INTO t ("group", "B", v, yes) VALUES {bad}"#
            ))
            .unwrap_err();
        assert!(
            matches!(err.innermost(), Error::Check { constraint, .. } if constraint.contains(column)),
            "{bad}: {err}"
        );
    }
    let script = dump(&db, Dialect::Sqlite);
    assert!(script.contains(r#"CHECK ("group" > 0)"#), "{script}");
    assert!(script.contains(r#"CHECK ("B" > 0)"#), "{script}");
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let copy = Database::in_memory();
        copy.sql(&dump(&db, dialect)).unwrap();
        let back = copy.schema("t").unwrap();
        let checks: Vec<Option<&str>> = back.columns.iter().map(|c| c.check.as_deref()).collect();
        assert_eq!(
            checks,
            [
                None,
                Some(r#""group" > 0"#),
                None,
                Some("v < 100"),
                Some("yes = true")
            ],
            "{dialect:?}"
        );
        assert_eq!(back.checks, [r#""B" > 0"#], "{dialect:?}");
        assert_eq!(rows(&copy, "t"), rows(&db, "t"), "{dialect:?}");
    }
}

/// A column renamed to a word of a condition's syntax (`and`, `end`, `escape`), or to one
/// read as a function (`user`), is quoted in the checks that name it: written bare, the check
/// read `and > 0`, which neither SQLite nor PostgreSQL (nor a person) reads as the column,
/// so the dump did not load.
#[test]
fn a_column_renamed_to_a_keyword_is_quoted_in_its_checks() {
    let db = Database::in_memory();
    db.sql(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER CHECK (n > 0), e INTEGER, \
         w TEXT CHECK (w <> ''), u TEXT CHECK (u <> 'root'), CHECK (n < 100 AND e > 0))",
    )
    .unwrap();
    db.sql(r#"ALTER TABLE t RENAME COLUMN n TO "and""#).unwrap();
    db.sql(r#"ALTER TABLE t RENAME COLUMN e TO "end""#).unwrap();
    db.sql(r#"ALTER TABLE t RENAME COLUMN w TO "escape""#)
        .unwrap();
    // Read bare, `user` is a function (PostgreSQL's current user).
    db.sql(r#"ALTER TABLE t RENAME COLUMN u TO "user""#)
        .unwrap();
    let schema = db.schema("t").unwrap();
    assert_eq!(schema.columns[1].check.as_deref(), Some(r#""and" > 0"#));
    assert_eq!(
        schema.columns[3].check.as_deref(),
        Some(r#""escape" <> ''"#)
    );
    assert_eq!(
        schema.columns[4].check.as_deref(),
        Some(r#""user" <> 'root'"#)
    );
    assert_eq!(schema.checks, [r#""and" < 100 AND "end" > 0"#]);
    db.sql(r#"INSERT INTO t ("and", "end", "escape") VALUES (5, 1, 'x')"#)
        .unwrap();
    let err = db
        .sql(r#"INSERT INTO t ("and", "end", "escape") VALUES (5, 0, 'x')"#)
        .unwrap_err();
    assert!(matches!(err.innermost(), Error::Check { .. }), "{err}");
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch(&dump(&db, Dialect::Sqlite)).unwrap();
    let n: i64 = conn
        .query_row(r#"SELECT "and" + "end" FROM t"#, [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 6);
    let refused = conn.execute(
        r#"INSERT INTO t ("and", "end", "escape") VALUES (0, 1, 'x')"#,
        [],
    );
    assert!(
        matches!(&refused, Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation),
        "{refused:?}"
    );
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let copy = Database::in_memory();
        copy.sql(&dump(&db, dialect)).unwrap();
        assert_eq!(
            copy.schema("t").unwrap().checks,
            schema.checks,
            "{dialect:?}"
        );
        assert_eq!(rows(&copy, "t"), rows(&db, "t"), "{dialect:?}");
    }
}

/// `DEFAULT NULL` is no default: the schema says so from the start, so that neither a
/// reopen (whose schema file cannot tell the two apart) nor a dump changes it.
#[test]
fn a_default_of_null_is_no_default_and_reads_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, w TEXT DEFAULT NULL, n INTEGER NOT NULL DEFAULT NULL)")
        .unwrap();
    let schema = db.schema("t").unwrap();
    assert!(
        schema.columns.iter().all(|c| c.default.is_none()),
        "{schema:?}"
    );
    db.sql("INSERT INTO t (n) VALUES (1)").unwrap();
    let err = db.sql("INSERT INTO t (w) VALUES ('x')").unwrap_err();
    assert!(
        matches!(err.innermost(), Error::NotNull { column, .. } if column == "n"),
        "{err}"
    );
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let copy = Database::in_memory();
        copy.sql(&dump(&db, dialect)).unwrap();
        assert_eq!(copy.schema("t").unwrap(), schema, "{dialect:?}");
    }
    db.close().unwrap();
    let db = Database::open(dir.path()).unwrap();
    assert_eq!(db.schema("t").unwrap(), schema);
    assert_eq!(
        rows(&db, "t"),
        [[Value::Int(1), Value::Null, Value::Int(1)]]
    );
}

/// A table name SQLite keeps for itself (`sqlite_…`, any case) is refused when the table is
/// made, by SQL or by the library, naming it: its dump could not load into SQLite, nor read
/// back (the dump's `sqlite_sequence` lines set the next keys).
#[test]
fn table_names_sqlite_keeps_are_refused_naming_them() {
    let db = Database::in_memory();
    for name in ["sqlite_sequence", "SQLite_stat1", "sqlite_x"] {
        let err = db
            .sql(&format!("CREATE TABLE {name} (id INTEGER PRIMARY KEY)"))
            .unwrap_err();
        assert!(
            matches!(err.innermost(), Error::InvalidName { name: n, reason } if n == name && reason.contains("sqlite_")),
            "{err}"
        );
        let schema =
            Schema::new(name, vec![Column::new("id", ColumnType::I64).primary_key()]).unwrap();
        assert!(matches!(
            db.create_table(schema),
            Err(Error::InvalidName { .. })
        ));
    }
    assert!(db.table_names().unwrap().is_empty());
    db.sql("CREATE TABLE sqlitex (id INTEGER PRIMARY KEY)")
        .unwrap();
}

/// A dump the server could not load is refused naming every problem, not only the first.
#[test]
fn a_refused_dump_names_every_problem() {
    let db = Database::in_memory();
    db.sql(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, ctid INTEGER, xmin INTEGER, tableoid TEXT);
         CREATE TABLE pg_notes (id INTEGER PRIMARY KEY)",
    )
    .unwrap();
    let e = db.dump_sql(Dialect::Postgres, &mut Vec::new()).unwrap_err();
    let Error::Unsupported { feature } = &e else {
        panic!("{e}");
    };
    for named in ["t.ctid", "t.xmin", "t.tableoid", "table pg_notes"] {
        assert!(feature.contains(named), "{named}: {feature}");
    }
}

/// A table whose name differs from another's only by case is refused when it is made, by
/// SQL or by the library, naming both: on a file system that ignores case (macOS's and
/// Windows' defaults) the two would write the same files. A dropped table's name counts
/// until the database closes; the same name again is that table made anew.
#[test]
fn a_table_name_differing_only_by_case_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.sql("CREATE TABLE \"Notes\" (id INTEGER PRIMARY KEY)")
        .unwrap();
    let err = db
        .sql("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
        .unwrap_err();
    assert!(
        matches!(err.innermost(), Error::InvalidName { name, reason } if name == "notes" && reason.contains("table Notes differs from it only by case")),
        "{err}"
    );
    let schema = Schema::new(
        "NOTES",
        vec![Column::new("id", ColumnType::I64).primary_key()],
    )
    .unwrap();
    assert!(matches!(
        db.create_table(schema),
        Err(Error::InvalidName { .. })
    ));
    db.sql("DROP TABLE \"Notes\"").unwrap();
    let err = db
        .sql("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
        .unwrap_err();
    assert!(
        matches!(err.innermost(), Error::InvalidName { reason, .. }
            if reason.contains("(dropped since this database was opened)")
                && reason.contains("open the database again")),
        "{err}"
    );
    db.sql("CREATE TABLE \"Notes\" (id INTEGER PRIMARY KEY)")
        .unwrap();
    assert_eq!(db.table_names().unwrap(), ["Notes"]);
    // The live table is the one named, not the dropped one of the same name.
    let err = db
        .sql("CREATE TABLE NOTES (id INTEGER PRIMARY KEY)")
        .unwrap_err();
    assert!(
        matches!(err.innermost(), Error::InvalidName { reason, .. }
            if reason.starts_with("table Notes differs") && !reason.contains("dropped")),
        "{err}"
    );
    // Opened again, the name is free once no table holds it.
    db.sql("DROP TABLE \"Notes\"").unwrap();
    db.close().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.sql("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
        .unwrap();
    assert_eq!(db.table_names().unwrap(), ["notes"]);
}

/// An index's made-up name never takes a table's name, nor another index's in another case:
/// `t` indexed on `x` beside a table `T_x_idx`, and `a` on `B_c` beside `a_b` on `c`, load
/// into SQLite and read back into tabula.
#[test]
fn index_names_never_take_a_table_name() {
    let db = Database::in_memory();
    db.sql(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, x INTEGER); CREATE INDEX ON t (x);
         CREATE TABLE \"T_x_idx\" (id INTEGER PRIMARY KEY, y INTEGER); CREATE INDEX ON \"T_x_idx\" (y);
         CREATE TABLE a (id INTEGER PRIMARY KEY, \"B_c\" INTEGER); CREATE INDEX ON a (\"B_c\");
         CREATE TABLE a_b (id INTEGER PRIMARY KEY, c INTEGER); CREATE INDEX ON a_b (c);
         INSERT INTO t (x) VALUES (1), (2); INSERT INTO \"T_x_idx\" (y) VALUES (3)",
    )
    .unwrap();
    let script = dump(&db, Dialect::Sqlite);
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch(&script)
        .unwrap_or_else(|e| panic!("{e}\n{script}"));
    let indexes: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexes, 4, "{script}");
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let copy = Database::in_memory();
        copy.sql(&dump(&db, dialect)).unwrap();
        for t in ["t", "T_x_idx", "a", "a_b"] {
            assert_eq!(
                copy.schema(t).unwrap(),
                db.schema(t).unwrap(),
                "{dialect:?}"
            );
            assert_eq!(rows(&copy, t), rows(&db, t), "{dialect:?}");
        }
    }
}

/// Names the dialect's server could not load are refused before anything is written, the
/// error naming them: tables or columns apart only by case in SQLite; in PostgreSQL a
/// 64-byte name, a system column's name, a table named `pg_…` (the system catalog's
/// `pg_description` took the rows of a table of that name, without an error), a table
/// named like another's key index, unique index or identity sequence, also as PostgreSQL
/// shortens those names to 63 bytes, a table of more columns than it holds. The other
/// dialect still dumps each.
#[test]
fn names_the_server_cannot_load_are_refused_by_name() {
    let long = "c".repeat(64);
    let l60 = "l".repeat(60);
    // PostgreSQL names the sequence of `l60`'s key `l56_id_seq` (63 bytes).
    let seq_clash = format!(
        "CREATE TABLE {l60} (id INTEGER PRIMARY KEY); CREATE TABLE {}_id_seq (id INTEGER PRIMARY KEY)",
        &l60[..56]
    );
    // ... and the index of a unique `u` of a 62-byte table `l62`, `l57_u_key` (both as
    // PostgreSQL 15 named them).
    let key_clash = format!(
        "CREATE TABLE {} (id INTEGER PRIMARY KEY, u INTEGER UNIQUE); CREATE TABLE {}_u_key (id INTEGER PRIMARY KEY)",
        "l".repeat(62),
        "l".repeat(57)
    );
    let wide = format!(
        "CREATE TABLE wide (id INTEGER PRIMARY KEY, {})",
        (1..=1600)
            .map(|i| format!("c{i} INTEGER"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let seq_named = format!("{}_id_seq", &l60[..56]);
    let key_named = format!("{}_u_key", "l".repeat(57));
    // (Two tables named alike but for case cannot be made any more: see
    // `a_table_name_differing_only_by_case_is_refused`.)
    let cases: [(&str, Dialect, &str); 10] = [
        (&wide, Dialect::Postgres, "table wide of 1601 columns (PostgreSQL holds at most 1600"),
        ("CREATE TABLE pg_description (objoid INTEGER PRIMARY KEY, description TEXT)", Dialect::Postgres, "pg_description"),
        ("CREATE TABLE pg_notes (id INTEGER PRIMARY KEY)", Dialect::Postgres, "pg_notes"),
        (&seq_clash, Dialect::Postgres, &seq_named),
        (&key_clash, Dialect::Postgres, &key_named),
        ("CREATE TABLE t (id INTEGER PRIMARY KEY, x INTEGER, \"X\" INTEGER)", Dialect::Sqlite, "X"),
        (&format!("CREATE TABLE t (id INTEGER PRIMARY KEY, {long} INTEGER)"), Dialect::Postgres, &long),
        ("CREATE TABLE t (id INTEGER PRIMARY KEY, xmin INTEGER)", Dialect::Postgres, "t.xmin"),
        ("CREATE TABLE t (id INTEGER PRIMARY KEY); CREATE TABLE t_id_seq (id INTEGER PRIMARY KEY)", Dialect::Postgres, "t_id_seq"),
        ("CREATE TABLE t (id INTEGER PRIMARY KEY, x INTEGER UNIQUE); CREATE TABLE t_x_key (id INTEGER PRIMARY KEY)", Dialect::Postgres, "t_x_key"),
    ];
    for (ddl, dialect, named) in cases {
        let db = Database::in_memory();
        db.sql(ddl).unwrap();
        let mut out = Vec::new();
        let err = db.dump_sql(dialect, &mut out).unwrap_err();
        assert!(
            matches!(&err, Error::Unsupported { feature } if feature.contains(named)),
            "{ddl}: {err}"
        );
        assert!(out.is_empty(), "{ddl}: wrote {} bytes", out.len());
        let other = if dialect == Dialect::Sqlite {
            Dialect::Postgres
        } else {
            Dialect::Sqlite
        };
        let copy = Database::in_memory();
        copy.sql(&dump(&db, other)).unwrap();
        assert_eq!(copy.table_names().unwrap(), db.table_names().unwrap());
    }
}

/// A check naming its columns through the table, in any of SQLite's quotes, is written as
/// PostgreSQL and SQLite read it: the table's name quoted as SQL needs it (capitals, a
/// keyword), never in brackets or backticks, and read back the same.
#[test]
fn a_check_qualified_by_its_table_is_written_as_every_server_reads_it() {
    let db = Database::in_memory();
    db.sql(
        "CREATE TABLE [Tt] (id INTEGER PRIMARY KEY, v INTEGER CHECK (Tt.v > 0), \
         CHECK ([Tt].[v] < 0x64)); \
         CREATE TABLE [user] (id INTEGER PRIMARY KEY, [only] INTEGER, \
         CHECK (`user`.[only] IS NULL OR [user].only > 1))",
    )
    .unwrap();
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let script = dump(&db, dialect);
        for written in [
            "CHECK (\"Tt\".v > 0)",
            "CHECK (\"Tt\".v < 100)",
            "CHECK (\"user\".\"only\" IS NULL OR \"user\".\"only\" > 1)",
        ] {
            assert!(script.contains(written), "{dialect:?}: {written}\n{script}");
        }
        assert!(
            script
                .lines()
                .filter(|l| !l.starts_with("--"))
                .all(|l| !l.contains('[') && !l.contains('`')),
            "{script}"
        );
        // Read back, it dumps the same script (the check's text is kept as SQL wrote it
        // back: quoted now, where the original had brackets).
        let copy = Database::in_memory();
        copy.sql(&script).unwrap();
        assert_eq!(dump(&copy, dialect), script, "{dialect:?}");
    }
}

/// A row holding the largest key stops the counter there: the insert that would take the
/// next key says the last is that one, and a dump sets the counter to it, so that the
/// database loaded from it (tabula, SQLite or PostgreSQL) is exhausted too, rather than
/// handing out a key one below, which is taken.
#[test]
fn a_row_at_the_largest_key_leaves_the_counter_exhausted_there() {
    let db = Database::in_memory();
    db.sql("CREATE TABLE e (id INTEGER PRIMARY KEY, a TEXT); INSERT INTO e VALUES (9223372036854775807, 'top')")
        .unwrap();
    match db.sql("INSERT INTO e (a) VALUES ('next')") {
        Err(Error::KeyExhausted { last, .. }) => assert_eq!(last, i64::MAX),
        other => panic!("expected KeyExhausted, got {other:?}"),
    }
    let sqlite = dump(&db, Dialect::Sqlite);
    assert!(
        sqlite
            .contains("INSERT INTO sqlite_sequence (name, seq) VALUES ('e', 9223372036854775807);"),
        "{sqlite}"
    );
    let postgres = dump(&db, Dialect::Postgres);
    assert!(
        postgres.contains("'id'), 9223372036854775807, true);"),
        "{postgres}"
    );
    let again = Database::in_memory();
    again.sql(&sqlite).unwrap();
    match again.sql("INSERT INTO e (a) VALUES ('next')") {
        Err(Error::KeyExhausted { last, .. }) => assert_eq!(last, i64::MAX),
        other => panic!("expected KeyExhausted, got {other:?}"),
    }
}

/// `setval(pg_get_serial_sequence('t', 'col'), n)` sets t's counter only when col is its
/// automatic key: of any other column the sequence is null, and setval of null changes
/// nothing; a column the table lacks is an error (PostgreSQL's answers).
#[test]
fn setval_of_a_column_without_a_sequence_changes_nothing() {
    let db = Database::in_memory();
    db.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER)")
        .unwrap();
    let r = db
        .sql("SELECT setval(pg_get_serial_sequence('t', 'a'), 5)")
        .unwrap();
    assert_eq!(r.rows, [[Value::Null]]);
    match db.sql("SELECT setval(pg_get_serial_sequence('t', 'nope'), 400)") {
        Err(Error::Sql { reason, .. }) => assert_eq!(reason, "table t has no column nope"),
        other => panic!("{other:?}"),
    }
    db.sql("INSERT INTO t (a) VALUES (1)").unwrap();
    let r = db
        .sql("SELECT setval(pg_get_serial_sequence('t', 'id'), 5)")
        .unwrap();
    assert_eq!(r.rows, [[Value::Int(5)]]);
    db.sql("INSERT INTO t (a) VALUES (2)").unwrap();
    let keys = db.sql("SELECT id FROM t ORDER BY id").unwrap().rows;
    assert_eq!(keys, [[Value::Int(1)], [Value::Int(6)]]);
}

/// A DEFAULT on an integer primary key (kept in the schema, never used) is written for
/// SQLite, which takes and ignores one, and left out for PostgreSQL, which refuses one
/// beside an identity; both read back into a table that numbers its rows.
#[test]
fn a_default_on_an_integer_key_is_left_out_of_a_postgres_dump() {
    let db = Database::in_memory();
    db.sql(
        "CREATE TABLE t (id INTEGER PRIMARY KEY DEFAULT 5, v TEXT); INSERT INTO t (v) VALUES ('a')",
    )
    .unwrap();
    for (dialect, kept) in [(Dialect::Sqlite, true), (Dialect::Postgres, false)] {
        let script = dump(&db, dialect);
        assert_eq!(script.contains("DEFAULT 5"), kept, "{script}");
        let again = Database::in_memory();
        again.sql(&script).unwrap();
        again.sql("INSERT INTO t (v) VALUES ('b')").unwrap();
        assert_eq!(
            rows(&again, "t")
                .iter()
                .map(|r| r[0].clone())
                .collect::<Vec<_>>(),
            vec![Value::Int(1), Value::Int(2)],
            "{dialect:?}"
        );
    }
}
