//! `tabula dump`: the demo database as SQL, read back by `tabula sql` into the same
//! database, in both dialects; to a file or standard output; beside a live writer.

mod common;
use common::{demo, tabula, tabula_with_input, text};

#[test]
fn a_dump_reads_back_into_the_same_database_in_both_dialects() {
    let (tmp, _, p) = demo();
    for dialect in ["sqlite", "postgres"] {
        let o = tabula(&["dump", &p, "--dialect", dialect]);
        assert!(o.status.success(), "{}", text(&o));
        let script = o.stdout;
        let copy = tmp.path().join(format!("copy-{dialect}"));
        let c = copy.to_str().unwrap();
        let o = tabula_with_input(&["sql", c], &script);
        assert!(o.status.success(), "{dialect}: {}", text(&o));
        // The copy dumps to the same script: same schemas, rows and next keys.
        let again = tabula(&["dump", c, "--dialect", dialect]);
        assert!(again.status.success(), "{}", text(&again));
        assert!(again.stdout == script, "{dialect}: the copy's dump differs");
        let o = tabula(&[
            "sql",
            c,
            "INSERT INTO courses (code, title) VALUES ('X1', 'New')",
        ]);
        assert!(o.status.success(), "{}", text(&o));
        let o = tabula(&[
            "query",
            c,
            "courses",
            "--where",
            "code = 'X1'",
            "--columns",
            "id",
            "--format",
            "csv",
        ]);
        assert_eq!(String::from_utf8_lossy(&o.stdout), "id\n6\n");
    }
}

#[test]
fn dump_writes_a_file_and_keeps_the_old_one_when_it_cannot_finish() {
    let (tmp, _, p) = demo();
    let file = tmp.path().join("uni.sql");
    let f = file.to_str().unwrap();
    let o = tabula(&["dump", &p, "-o", f]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(o.stdout.is_empty());
    let script = std::fs::read_to_string(&file).unwrap();
    assert!(
        script.starts_with("-- tabula dump, sqlite dialect"),
        "{script}"
    );
    assert!(
        script.contains("INTEGER PRIMARY KEY AUTOINCREMENT"),
        "{script}"
    );
    assert!(script.contains("INSERT INTO sqlite_sequence (name, seq) VALUES ('students', 7);"));

    // Text SQL cannot carry: the error names it, no partial file is left, and the dump
    // that was there is kept; without one, no file is made.
    let db = tabula::Database::open(tmp.path().join("uni")).unwrap();
    db.sql_with(
        "INSERT INTO courses (code, title) VALUES ('NUL', ?)",
        &[tabula::Value::from("a\0b")],
    )
    .unwrap();
    db.close().unwrap();
    let o = tabula(&["dump", &p, "-o", f]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("courses") && text(&o).contains("title"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), script);
    let fresh = tmp.path().join("fresh.sql");
    let o = tabula(&["dump", &p, "-o", fresh.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!fresh.exists());
    let mut left: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    left.sort();
    assert!(left.is_empty(), "temporary files left: {left:?}");

    // A failure reading the database is not the output's: no "writing the dump" for it.
    for args in [vec!["dump", &p], vec!["dump", &p, "-o", f]] {
        let o = tabula(&args);
        assert_eq!(o.status.code(), Some(2));
        assert!(
            text(&o).contains("courses") && !text(&o).contains("writing the dump"),
            "{}",
            text(&o)
        );
    }

    let o = tabula(&["dump", &p, "--dialect", "mysql"]);
    assert_eq!(o.status.code(), Some(2));
    let o = tabula(&["dump", tmp.path().join("nothing").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

/// As `export`: a dump never goes over a database's files, its own or another's, however
/// the path is spelled; the database stays as it was.
#[test]
fn dump_refuses_a_file_inside_a_database_directory() {
    let (tmp, path, p) = demo();
    let before = tabula(&["dump", &p]);
    assert!(before.status.success(), "{}", text(&before));
    let other = tmp.path().join("other");
    let o = tabula(&[
        "sql",
        other.to_str().unwrap(),
        "CREATE TABLE t (id INTEGER PRIMARY KEY)",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let (link, dangling) = (tmp.path().join("link.sql"), tmp.path().join("dangling.sql"));
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(path.join("manifest.json"), &link).unwrap();
        std::os::unix::fs::symlink(path.join("data").join("evil.sql"), &dangling).unwrap();
    }
    let targets = [
        path.join("manifest.json"),
        path.join("wal").join("transaction.log"),
        path.join("data").join("new.sql"),
        path.join("..").join("uni").join("x.sql"),
        other.join("dump.sql"),
        link,
        dangling,
    ];
    for target in &targets {
        if !cfg!(unix) && target.ends_with("link.sql") {
            continue;
        }
        let o = tabula(&["dump", &p, "-o", target.to_str().unwrap()]);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{}: {}",
            target.display(),
            text(&o)
        );
        assert!(
            text(&o).contains("inside the database directory"),
            "{}: {}",
            target.display(),
            text(&o)
        );
    }
    assert!(!path.join("data").join("new.sql").exists());
    assert!(!path.join("data").join("evil.sql").exists());
    let after = tabula(&["dump", &p]);
    assert!(after.status.success(), "{}", text(&after));
    assert!(after.stdout == before.stdout, "the database changed");
    let o = tabula(&["verify", &p]);
    assert!(o.status.success(), "{}", text(&o));

    // Not a database: a project whose `manifest.json` is a web app's; and a pipe, through
    // `/dev/stdout` (this test's captured output), which resolves to no path.
    let project = tmp.path().join("project");
    std::fs::create_dir_all(project.join("backups")).unwrap();
    std::fs::write(project.join("manifest.json"), "{\"name\": \"web app\"}").unwrap();
    let file = project.join("backups").join("uni.sql");
    let o = tabula(&["dump", &p, "-o", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read(&file).unwrap(), before.stdout);
    #[cfg(target_os = "linux")]
    {
        let o = tabula(&["dump", &p, "-o", "/dev/stdout"]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(o.stdout == before.stdout, "{}", text(&o));
    }
}

#[test]
fn dump_works_beside_a_live_writer() {
    let (_tmp, path, p) = demo();
    let db = tabula::Database::open(&path).unwrap();
    db.sql("INSERT INTO courses (code, title) VALUES ('LIVE1', 'Written after the checkpoint')")
        .unwrap();
    let o = tabula(&["dump", &p]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("'LIVE1'"));
}

/// A dump is SQL: `--format json` (or csv, jsonl) for it is refused by name, not silently
/// ignored; the default is taken.
#[test]
fn dump_refuses_an_output_format() {
    let (_d, _path, p) = demo();
    for format in ["json", "jsonl", "csv"] {
        let o = tabula(&["dump", &p, "--format", format]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(o.stdout.is_empty(), "{format}: {}", text(&o));
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            "tabula: dump writes a SQL script: --format does not apply (--dialect sqlite or \
             postgres chooses the SQL)\n"
        );
    }
    let o = tabula(&["dump", &p, "--format", "table"]);
    assert!(o.status.success(), "{}", text(&o));
}

/// The count a script's text prints at its end reads the statements after a `COPY`'s rows
/// as statements, and the rows as none (a quote in a row opened a string that swallowed
/// the rest: `ok` was printed for a text that changed two rows).
#[test]
fn the_count_after_copy_rows_counts_the_statements_after_them() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("db");
    let p = p.to_str().unwrap();
    for (script, said) in [
        (
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\nBEGIN;\nCOPY t (v) FROM stdin;\n\
             it's; here\n\\.\nINSERT INTO t (v) VALUES ('x');\nCOMMIT;\n",
            "2 row(s) changed\n",
        ),
        (
            "COPY t (v) FROM stdin;\nit's\n\\.\nINSERT INTO t (v) VALUES ('y');\n",
            "2 row(s) changed\n",
        ),
    ] {
        let o = tabula_with_input(&["sql", p], script.as_bytes());
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout), said, "{script}");
    }
    let o = tabula(&["sql", p, "--format", "csv", "SELECT v FROM t ORDER BY id"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "v\nit's; here\nx\nit's\ny\n"
    );
}
