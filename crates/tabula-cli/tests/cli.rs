//! End-to-end tests: the built `tabula` binary against directories made by the library.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tabula::{Database, Table};

mod common;
use common::{demo, tabula, tabula_with_input, text};

/// The table view of `schema` shows a foreign key's table as it is named (table names are
/// case-sensitive: `User` and `user` are two tables) and its action as the derive spells it.
#[test]
fn schema_names_a_referenced_table_in_its_own_case() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("db");
    let p = p.to_str().unwrap();
    let o = tabula(&[
        "sql",
        p,
        "CREATE TABLE \"User\" (id INTEGER PRIMARY KEY); \
         CREATE TABLE \"mEmber\" (id INTEGER PRIMARY KEY); \
         CREATE TABLE p (id INTEGER PRIMARY KEY, a INTEGER REFERENCES \"User\" ON DELETE SET NULL, \
         b INTEGER REFERENCES \"mEmber\")",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = tabula(&["schema", p, "p"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("references User (set_null)"), "{t}");
    assert!(t.contains("references mEmber (restrict)"), "{t}");
}

/// One table's damaged snapshot hides neither the other tables nor itself: `tables` and
/// `stats` print every table, the damaged one with its manifest's count marked, then its
/// error with where to go next, and exit 1 (before, they printed only the error).
#[test]
fn tables_and_stats_list_every_table_beside_a_damaged_one() {
    let (_d, path, p) = demo();
    let o = tabula(&["checkpoint", &p]);
    assert!(o.status.success(), "{}", text(&o));
    let snapshot = path.join("data/courses.records");
    let mut bytes = std::fs::read(&snapshot).unwrap();
    bytes.extend_from_slice(b"{\"id\": 99}\n");
    std::fs::write(&snapshot, bytes).unwrap();
    let o = tabula(&["tables", &p]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("5 (damaged snapshot)"), "{out}");
    assert!(
        out.contains("students") && out.contains("registrations"),
        "{out}"
    );
    let e = stderr(&o);
    assert!(e.contains("data/courses.records: corrupt"), "{e}");
    assert!(e.contains("`tabula verify DIR`"), "{e}");
    let o = tabula(&["stats", &p]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("no (damaged snapshot)"),
        "{}",
        text(&o)
    );
    assert!(stderr(&o).contains("data/courses.records: corrupt"));
    let o = tabula(&["stats", &p, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let tables = v["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 3);
    let courses = tables.iter().find(|t| t["name"] == "courses").unwrap();
    assert!(
        courses["damaged"].as_str().unwrap().contains("checksum"),
        "{courses}"
    );
    let students = tables.iter().find(|t| t["name"] == "students").unwrap();
    assert_eq!(students["rows"], 7);
    assert!(students.get("damaged").is_none(), "{students}");
}

#[test]
fn inspect_and_query() {
    let (_d, _path, p) = demo();
    let o = tabula(&["tables", &p]);
    assert!(o.status.success());
    let t = text(&o);
    assert!(
        t.contains("students") && t.contains("registrations") && t.contains("id, email, year"),
        "{t}"
    );
    let o = tabula(&["schema", &p, "registrations"]);
    assert!(
        text(&o).contains("references courses (restrict)"),
        "{}",
        text(&o)
    );
    let o = tabula(&[
        "query",
        &p,
        "students",
        "--where",
        "gpa > 3.5 AND year = 2024",
        "--order-by",
        "-gpa",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Carol White", "Alice Johnson"]);
    let o = tabula(&[
        "query",
        &p,
        "students",
        "--where",
        "advisor IS NULL",
        "--columns",
        "name",
        "--format",
        "csv",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "name\nDavid Brown\nFrank Miller\n"
    );
    let o = tabula(&[
        "query",
        &p,
        "students",
        "--where",
        "name LIKE 'A%' OR year IN (2022)",
        "--format",
        "jsonl",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 2);
    let o = tabula(&[
        "query",
        &p,
        "students",
        "--where",
        "gpa BETWEEN 3 AND 3.6 AND NOT (year = 2023)",
        "--order-by",
        "name",
        "--limit",
        "1",
        "--offset",
        "0",
        "--format",
        "csv",
        "--columns",
        "name",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "name\nGrace Lee\n");
    // The planner serves an indexed column through its index.
    let o = tabula(&[
        "query",
        &p,
        "students",
        "--where",
        "year = 2024 AND gpa > 3",
        "--explain",
    ]);
    assert!(text(&o).contains("index range on year"), "{}", text(&o));
    let o = tabula(&[
        "query",
        &p,
        "students",
        "--order-by",
        "-gpa",
        "--limit",
        "2",
    ]);
    assert!(text(&o).contains("2 row(s)"), "{}", text(&o));
}

#[test]
fn bad_expressions_and_values_get_clear_errors_and_change_nothing() {
    let (_d, _path, p) = demo();
    let o = tabula(&["query", &p, "students", "--where", "gpa >"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("Column: 6"), "{}", text(&o));
    let o = tabula(&["query", &p, "students", "--where", "height > 3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no column \"height\""), "{}", text(&o));
    let o = tabula(&["query", &p, "students", "--where", "year = 'soon'"]);
    assert!(text(&o).contains("cannot hold \"soon\""), "{}", text(&o));
    let o = tabula(&[
        "insert",
        &p,
        "students",
        "{\"name\":\"X\",\"email\":\"x@u\",\"year\":\"2020\"}",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("students.year is u32"), "{}", text(&o));
    let o = tabula(&["insert", &p, "students", "not json"]);
    assert_eq!(o.status.code(), Some(2));
    let o = tabula(&[
        "update",
        &p,
        "students",
        "--where",
        "year = 2024",
        "--set",
        "gpa=high",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = tabula(&["delete", &p, "courses", "--where", "code = 'CS101'"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("foreign key"), "{}", text(&o));
    let o = tabula(&["query", &p, "nope"]);
    assert_eq!(o.status.code(), Some(2));
    let o = tabula(&[
        "query",
        &p,
        "students",
        "--format",
        "csv",
        "--columns",
        "name",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).lines().count(),
        8,
        "nothing changed"
    );
    let o = tabula(&["tables", "/nonexistent/db"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(tabula(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn change_rows() {
    let (_d, _path, p) = demo();
    let o = tabula(&[
        "insert",
        &p,
        "courses",
        "{\"code\":\"CS301\",\"title\":\"Compilers\"}",
        "{\"code\":\"CS302\",\"title\":\"Databases\",\"credits\":4}",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("inserted 2 row(s)"));
    let o = tabula(&[
        "--format",
        "json",
        "update",
        &p,
        "courses",
        "--where",
        "code = 'CS302'",
        "--set",
        "credits=5",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["updated"], 1);
    let o = tabula(&[
        "update",
        &p,
        "students",
        "--where",
        "name = 'Bob Smith'",
        "--set",
        "gpa=3.4",
        "--set",
        "advisor='Dr. Knuth'",
    ]);
    assert!(text(&o).contains("updated 1 row(s)"), "{}", text(&o));
    // A number beyond a float's range is named so, not taken for text to quote.
    let o = tabula(&[
        "update",
        &p,
        "students",
        "--where",
        "id = 1",
        "--set",
        "gpa=1e999",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with(
            "tabula: --set gpa: 1e999 is beyond the range of a 64-bit float (inf and -inf"
        ),
        "{}",
        stderr(&o)
    );
    let o = tabula(&["delete", &p, "students", "--where", "gpa < 2.0"]);
    assert!(text(&o).contains("deleted 1 row(s)"), "{}", text(&o));
    let o = tabula(&[
        "query",
        &p,
        "students",
        "--where",
        "name = 'Bob Smith'",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["gpa"], 3.4);
    assert_eq!(v[0]["advisor"], "Dr. Knuth");
    // The cascade removed the deleted student's registration.
    let o = tabula(&[
        "query",
        &p,
        "registrations",
        "--where",
        "student_id = 6",
        "--format",
        "csv",
        "--columns",
        "id",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "id\n");
    let o = tabula(&[
        "query",
        &p,
        "courses",
        "--where",
        "code = 'CS301'",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["credits"], 3, "default filled");
}

#[test]
fn stats_checkpoint_export_import_wal() {
    let (d, path, p) = demo();
    let o = tabula(&["stats", &p]);
    assert!(text(&o).contains("total on disk"), "{}", text(&o));
    let o = tabula(&["stats", &p, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["tables"].as_array().unwrap().len(), 3);
    // Commits the library leaves in the log show in `tabula wal`.
    {
        #[derive(Table, Clone, Debug)]
        #[table(name = "notes")]
        struct Note {
            #[column(primary_key)]
            id: u64,
            text: String,
        }
        let db = Database::open(&path).unwrap();
        db.table::<Note>()
            .unwrap()
            .insert(Note {
                id: 0,
                text: "a".into(),
            })
            .unwrap();
    }
    let o = tabula(&["wal", &p, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // The table's creation (no rows), then the insert.
    assert_eq!(v[0]["tables"][0], serde_json::json!(["notes", 0, 0]));
    assert_eq!(v[0]["created"], serde_json::json!(["notes"]));
    assert_eq!(v[1]["tables"][0], serde_json::json!(["notes", 1, 0]));
    let last = v[1]["lsn"].as_u64().unwrap();
    assert_eq!(v[0]["lsn"].as_u64().unwrap() + 1, last);
    let o = tabula(&["checkpoint", &p]);
    assert!(
        text(&o).contains(&format!("checkpoint at LSN {last}")),
        "{}",
        text(&o)
    );
    let file = d.path().join("backup.json");
    let f = file.to_str().unwrap();
    let o = tabula(&["export", &p, f, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["tables"], 4);
    let other = d.path().join("other");
    std::fs::create_dir_all(other.join("wal")).unwrap();
    let o = tabula(&["import", other.to_str().unwrap(), f]);
    assert!(text(&o).contains("imported 25 row(s)"), "{}", text(&o));
    let o = tabula(&["import", other.to_str().unwrap(), f]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a second import collides and changes nothing"
    );
}

fn corrupt(path: &Path) {
    // A snapshot line that is not JSON, and a flipped byte in the middle of the log.
    let records = path.join("data/students.records");
    let mut text = std::fs::read_to_string(&records).unwrap();
    text = text.replacen("{\"id\":2,", "{\"id\":2,,", 1);
    std::fs::write(&records, text).unwrap();
    let wal = path.join("wal/transaction.log");
    let mut bytes = std::fs::read(&wal).unwrap();
    let second = bytes.iter().position(|&b| b == b'\n').unwrap() + 20;
    bytes[second] ^= 0x01;
    std::fs::write(&wal, bytes).unwrap();
}

#[test]
fn verify_finds_damage_and_repair_fixes_it_with_a_backup() {
    let (d, path, p) = demo();
    // Three commits in the log after the demo's checkpoint.
    for i in 0..3 {
        let o = tabula(&[
            "insert",
            &p,
            "courses",
            &format!("{{\"code\":\"X{i}\",\"title\":\"T\"}}"),
        ]);
        assert!(o.status.success());
    }
    {
        // Leave the last inserts in the log: write through the library without closing.
        let db = Database::open(&path).unwrap();
        let t = db.dyn_table("courses").unwrap();
        for i in 0..3 {
            t.insert(tabula::row! { "code" => format!("Y{i}"), "title" => "T" })
                .unwrap();
        }
    }
    let original_records = std::fs::read(path.join("data/students.records")).unwrap();
    corrupt(&path);
    let damaged_records = std::fs::read(path.join("data/students.records")).unwrap();
    assert_ne!(original_records, damaged_records);
    let o = tabula(&["verify", &p]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    // The damaged snapshot: the archived segments hold every record since the demo made
    // the table, so repair takes its rows from them.
    assert!(
        t.contains("students.records: checksum")
            && t.contains("repair rebuilds it from the archived log segments: 7 rows"),
        "{t}"
    );
    assert!(t.contains("transaction.log:2:"), "{t}");
    let o = tabula(&["verify", &p, "--format", "json"]);
    let problems: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(problems.as_array().unwrap().len() >= 2);

    let o = tabula(&["repair", &p]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("backed up"), "{t}");
    assert!(t.contains("dropped"), "{t}");
    assert!(t.contains("verifies clean"), "{t}");
    assert_eq!(tabula(&["verify", &p]).status.code(), Some(0));
    // The backup holds the damaged originals, byte for byte.
    let backup = std::fs::read_dir(d.path())
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().starts_with("uni.backup-"))
        .expect("a backup folder")
        .path();
    assert_eq!(
        std::fs::read(backup.join("data/students.records")).unwrap(),
        damaged_records
    );
    assert!(backup.join("wal/transaction.log").exists());
    // Every student is there (a header line and seven rows).
    let o = tabula(&[
        "query",
        &p,
        "students",
        "--format",
        "csv",
        "--columns",
        "id",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 8);
    // A clean directory needs no repair.
    let o = tabula(&["repair", &p]);
    assert!(text(&o).contains("nothing to repair"));
    // One JSON object on one line, in every format but the table, as every command that
    // reports one result prints it.
    for format in ["json", "jsonl", "csv"] {
        let o = tabula(&["repair", &p, "--format", format]);
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).lines().count(),
            1,
            "{}",
            text(&o)
        );
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["clean"], true);
    }
}

#[test]
fn help_has_examples() {
    let o = tabula(&["--help"]);
    assert!(text(&o).contains("Examples:"));
    for cmd in [
        "query", "insert", "update", "delete", "demo", "tables", "schema",
    ] {
        let o = tabula(&[cmd, "--help"]);
        assert!(text(&o).contains("Example"), "{cmd}: {}", text(&o));
    }
}

// ---- Issue 12: output, input, exit codes and messages. ----

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The demo database with `n` more students, written through the library's dyn API.
fn demo_with_students(n: usize) -> (tempfile::TempDir, PathBuf, String) {
    let (d, path, p) = demo();
    {
        let db = Database::open(&path).unwrap();
        let t = db.dyn_table("students").unwrap();
        t.insert_many((0..n).map(|i| {
            tabula::row! { "name" => format!("Student {i}"), "email" => format!("s{i}@u.edu"), "year" => 2024 }
        }))
        .unwrap();
        db.close().unwrap();
    }
    (d, path, p)
}

#[test]
fn a_closed_pipe_ends_quietly_with_exit_0_in_every_format() {
    use std::io::Read;
    let (_d, _path, p) = demo_with_students(5000);
    // `query`, and `sql` with one query (its rows printed as found, but in the table format).
    let commands = [
        ["query", &p, "students"],
        ["sql", &p, "SELECT * FROM students"],
    ];
    for (format, command) in ["table", "json", "jsonl", "csv"]
        .into_iter()
        .flat_map(|f| commands.iter().map(move |c| (f, c)))
    {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tabula"))
            .args(command)
            .args(["--format", format])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut reader = child.stdout.take().unwrap();
        let mut buf = [0u8; 64];
        reader.read_exact(&mut buf).unwrap();
        drop(reader);
        let o = child.wait_with_output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{format} {command:?}: {}",
            stderr(&o)
        );
        assert_eq!(stderr(&o), "", "{format} {command:?}");
    }
}

/// A report written to standard error (`export -` puts its report there, beside the
/// document on standard output; a failing command its error) meets a closed standard error
/// without a panic: the line is lost, the exit status is the command's.
#[test]
fn a_closed_standard_error_loses_the_report_not_the_exit_status() {
    let (_d, _path, p) = demo();
    for (args, code) in [
        (vec!["export", &p, "-"], 0),
        (vec!["query", &p, "no_such_table"], 2),
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tabula"))
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stderr.take());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "{args:?}");
    }
}

/// `tabula ARGS` with its standard output on `/dev/full` (every write fails: a full disk).
fn to_full_device(args: &[&str]) -> std::process::Output {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_tabula"))
        .args(args)
        .stdout(full)
        .output()
        .unwrap()
}

#[test]
fn writing_to_a_full_device_is_a_clear_error_with_exit_2() {
    let (_d, _path, p) = demo();
    for args in [
        vec!["query", &p, "students"],
        vec!["query", &p, "students", "--format", "csv"],
        vec!["tables", &p],
    ] {
        let o = to_full_device(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.starts_with("tabula: writing to standard output: No space left on device"),
            "{e}"
        );
        assert!(!e.contains("panicked"), "{e}");
    }
}

#[test]
fn table_format_streams_a_bordered_table_and_escapes_control_characters() {
    let (_d, _path, p) = demo();
    let o = tabula(&[
        "insert",
        &p,
        "courses",
        r#"{"code":"ESC","title":"red\u001b[31m\nnext\ttab\u202e\u2028"}"#,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = tabula(&[
        "query",
        &p,
        "courses",
        "--where",
        "code = 'ESC'",
        "--columns",
        "code,title",
    ]);
    let out = stdout(&o);
    assert!(!out.contains('\u{1b}') && !out.contains('\t'), "{out:?}");
    assert!(
        out.contains(r"red\x1b[31m\nnext\ttab\u{202e}\u{2028}"),
        "{out}"
    );
    assert_eq!(
        out.lines().next().unwrap(),
        format!("┌──────┬{}┐", "─".repeat(40))
    );
    assert!(out.contains("│ code │ title"), "{out}");
    assert!(out.ends_with("┘\n1 row(s)\n"), "{out}");
    // Many rows: every line of the table has the same width.
    let o = tabula(&["query", &p, "students"]);
    let out = stdout(&o);
    let widths: Vec<usize> = out
        .lines()
        .filter(|l| !l.ends_with("row(s)"))
        .map(|l| l.chars().count())
        .collect();
    assert_eq!(widths.len(), 7 + 4);
    assert!(widths.iter().all(|w| *w == widths[0]), "{out}");
    assert!(out.ends_with("7 row(s)\n"));
}

#[test]
fn csv_guards_only_text_formulas_and_tells_null_from_empty_text() {
    let (_d, _path, p) = demo();
    let o = tabula(&[
        "insert",
        &p,
        "students",
        r#"{"name":"=cmd()","email":"-x@u","year":2025,"gpa":-0.5,"advisor":""}"#,
        r#"{"name":"@home","email":"plain@u","year":2025,"gpa":1.5}"#,
        r#"{"name":"'=cmd()","email":"it's@u","year":2025,"gpa":2.5}"#,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let args = [
        "query",
        &p,
        "students",
        "--where",
        "id >= 7",
        "--order-by",
        "id",
        "--columns",
        "name,email,gpa,advisor",
        "--format",
        "csv",
    ];
    let o = tabula(&args);
    assert_eq!(
        stdout(&o),
        "name,email,gpa,advisor\nGrace Lee,grace.lee@university.edu,3.6,Dr. Hopper\n'=cmd(),'-x@u,-0.5,\"\"\n'@home,plain@u,1.5,\n''=cmd(),it's@u,2.5,\n"
    );
    // A text starting with ' is guarded too, so `'=cmd()` and `=cmd()` do not read back
    // alike; a ' elsewhere is left as it is.
    let mut raw = args.to_vec();
    raw.push("--csv-raw");
    let o = tabula(&raw);
    assert!(
        stdout(&o).contains("\n=cmd(),-x@u,-0.5,\"\"\n@home,plain@u,1.5,\n'=cmd(),it's@u,2.5,\n"),
        "{}",
        stdout(&o)
    );
    let o = tabula(&["--help"]);
    assert!(
        text(&o).contains("NULL is an empty unquoted field"),
        "{}",
        text(&o)
    );
}

#[test]
fn json_keys_follow_the_column_order() {
    let (_d, _path, p) = demo();
    let o = tabula(&[
        "query", &p, "students", "--where", "id = 1", "--format", "jsonl",
    ]);
    assert_eq!(
        stdout(&o),
        "{\"id\":1,\"name\":\"Alice Johnson\",\"email\":\"alice.johnson@university.edu\",\"year\":2024,\"gpa\":3.8,\"advisor\":\"Dr. Turing\"}\n"
    );
    let o = tabula(&[
        "query",
        &p,
        "students",
        "--where",
        "id = 1",
        "--columns",
        "year,name",
        "--format",
        "json",
    ]);
    assert_eq!(
        stdout(&o),
        "[\n  {\"year\":2024,\"name\":\"Alice Johnson\"}\n]\n"
    );
    let o = tabula(&[
        "query", &p, "students", "--where", "id = 99", "--format", "json",
    ]);
    assert_eq!(stdout(&o), "[]\n");
}

#[test]
fn insert_reads_a_file_or_stdin_and_names_the_failing_row_by_position() {
    let (d, _path, p) = demo();
    let lines = d.path().join("rows.jsonl");
    std::fs::write(
        &lines,
        "{\"code\":\"F1\",\"title\":\"One\"}\n\n{\"code\":\"F2\",\"title\":\"Two\"}\n",
    )
    .unwrap();
    let o = tabula(&["insert", &p, "courses", "--file", lines.to_str().unwrap()]);
    assert!(
        stdout(&o).starts_with("inserted 2 row(s) into courses"),
        "{}",
        text(&o)
    );
    let run_stdin = |args: &[&str], input: &str| tabula_with_input(args, input.as_bytes());
    let array = r#"[{"code":"A1","title":"x"}, {"code":"A2","title":"y"}]"#;
    let o = run_stdin(&["insert", &p, "courses"], array);
    assert!(stdout(&o).starts_with("inserted 2 row(s)"), "{}", text(&o));
    let o = run_stdin(
        &["insert", &p, "courses", "-"],
        "{\"code\":\"S1\",\"title\":\"z\"}\n",
    );
    assert!(stdout(&o).starts_with("inserted 1 row(s)"), "{}", text(&o));
    // A bad value: the table, column, value and line, not the whole row; nothing inserted.
    let long_title = "a very long title that must not be repeated";
    let bad = format!(
        "{{\"code\":\"B1\",\"title\":\"{long_title}\"}}\n{{\"code\":\"B2\",\"title\":\"{long_title}\",\"credits\":\"four\"}}\n"
    );
    let o = run_stdin(&["insert", &p, "courses"], &bad);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.starts_with("tabula: stdin line 2: nothing was inserted: courses.credits"),
        "{e}"
    );
    assert!(e.contains("\"four\"") && !e.contains(long_title), "{e}");
    let o = tabula(&[
        "insert",
        &p,
        "courses",
        "{\"code\":\"C1\",\"title\":\"ok\"}",
        "[1, 2]",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "tabula: argument 2: expected a JSON object with a row of courses\n"
    );
    let o = tabula(&[
        "query",
        &p,
        "courses",
        "--where",
        "code IN ('B1', 'C1')",
        "--format",
        "csv",
        "--columns",
        "code",
    ]);
    assert_eq!(stdout(&o), "code\n", "nothing inserted");
    // A foreign key, checked as the rows commit, names its row too.
    let o = tabula(&[
        "insert",
        &p,
        "registrations",
        r#"{"student_id":1,"course_id":1,"grade":3.0}"#,
        r#"{"student_id":99,"course_id":1,"grade":3.0}"#,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with(
            "tabula: argument 2: nothing was inserted: foreign key registrations.student_id"
        ),
        "{}",
        stderr(&o)
    );
    // No rows: nothing to list.
    let o = run_stdin(&["insert", &p, "courses"], "");
    assert_eq!(
        stdout(&o),
        "inserted 0 row(s) into courses\n",
        "{}",
        text(&o)
    );
}

/// A JSON array or object is a json column's document; given to a text column it is
/// refused (as a number is), by `insert` and by `update --set`, and nothing changes.
#[test]
fn a_json_document_for_a_text_column_is_refused() {
    let (_d, _path, p) = demo();
    let o = tabula(&["insert", &p, "courses", r#"{"code":"J1","title":["x"]}"#]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(
        stderr(&o),
        "tabula: argument 1: nothing was inserted: courses.title is text, which cannot hold \
         the JSON document [\"x\"]: only a json column takes an array or object (give text as \
         a JSON string)\n"
    );
    let o = tabula(&[
        "update",
        &p,
        "courses",
        "--where",
        "id = 1",
        "--set",
        r#"title={"a":1}"#,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        stderr(&o).contains("cannot hold the JSON document {\"a\":1}"),
        "{}",
        text(&o)
    );
    // Text that only starts like a document is text.
    let o = tabula(&[
        "update",
        &p,
        "courses",
        "--where",
        "id = 1",
        "--set",
        "title=[WIP] draft",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = tabula(&[
        "sql",
        &p,
        "SELECT COUNT(*) AS n FROM courses WHERE code = 'J1' OR title LIKE '{%' OR title = '[1]'",
        "--format",
        "csv",
    ]);
    assert_eq!(stdout(&o), "n\n0\n", "{}", text(&o));
}

/// A null for the key the table assigns is given the next key, as SQL's `INSERT` gives
/// it; a key written twice in one object is refused (JSON readers keep the last, which
/// would drop the first value without a word), naming where and which; nothing inserted.
#[test]
fn insert_assigns_a_null_key_and_refuses_a_column_given_twice() {
    let (_d, _path, p) = demo();
    let o = tabula(&[
        "insert",
        &p,
        "courses",
        r#"{"id":null,"code":"N1","title":"Null key"}"#,
        "--format",
        "json",
    ]);
    assert_eq!(
        stdout(&o),
        "{\"inserted\":1,\"keys\":[6],\"table\":\"courses\"}\n",
        "{}",
        text(&o)
    );
    for (row, column) in [
        (r#"{"code":"D1","title":"first","title":"second"}"#, "title"),
        (r#"{"id":null,"code":"D2","id":9}"#, "id"),
    ] {
        let o = tabula(&["insert", &p, "courses", r#"{"code":"D0","title":"x"}"#, row]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert_eq!(
            stderr(&o),
            format!("tabula: argument 2: courses.{column} is given twice\n")
        );
    }
    let o = tabula_with_input(
        &["insert", &p, "courses"],
        b"{\"code\":\"L1\",\"title\":\"a\"}\n{\"code\":\"L2\",\"code\":\"L3\"}\n",
    );
    assert_eq!(
        stderr(&o),
        "tabula: stdin line 2: courses.code is given twice\n"
    );
    let o = tabula(&[
        "query",
        &p,
        "courses",
        "--where",
        "id > 5",
        "--format",
        "csv",
        "--columns",
        "code",
    ]);
    assert_eq!(stdout(&o), "code\nN1\n", "nothing else inserted");
}

#[test]
fn update_set_reads_json_exactly_and_never_turns_a_value_into_null() {
    let (_d, _path, p) = demo();
    // Beyond i64 and not exact as a float: before, this set the advisor to NULL.
    let o = tabula(&[
        "update",
        &p,
        "students",
        "--where",
        "id = 1",
        "--set",
        "advisor=9223372036854775809",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("beyond i64"), "{}", stderr(&o));
    let o = tabula(&[
        "update",
        &p,
        "students",
        "--where",
        "id = 1",
        "--set",
        "advisor=\"9223372036854775809\"",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = tabula(&[
        "update",
        &p,
        "students",
        "--where",
        "id = 2",
        "--set",
        "advisor=Dr. Who",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = tabula(&[
        "query",
        &p,
        "students",
        "--where",
        "id <= 2",
        "--columns",
        "advisor",
        "--format",
        "csv",
    ]);
    assert_eq!(stdout(&o), "advisor\n9223372036854775809\nDr. Who\n");
}

#[test]
fn a_failed_checkpoint_after_a_commit_exits_3_and_the_data_is_kept() {
    let (_d, path, p) = demo();
    // As root no permission stops a write; a non-empty directory where the checkpoint
    // archives the log does (the demo checkpointed at LSN 1, the insert is LSN 2).
    std::fs::create_dir_all(path.join("wal/transaction.00000000000000000002.log/x")).unwrap();
    let o = tabula(&[
        "insert",
        &p,
        "courses",
        "{\"code\":\"K1\",\"title\":\"Kept\"}",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        stderr(&o).starts_with("tabula: the change is committed and safe in the write-ahead log"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(path.join("wal/transaction.00000000000000000002.log")).unwrap();
    let o = tabula(&[
        "query",
        &p,
        "courses",
        "--where",
        "code = 'K1'",
        "--format",
        "csv",
        "--columns",
        "title",
    ]);
    assert_eq!(stdout(&o), "title\nKept\n");
    let o = tabula(&["--help"]);
    assert!(
        text(&o).contains("3  a write command committed"),
        "{}",
        text(&o)
    );
}

#[test]
fn errors_are_printed_once() {
    let (d, _path, p) = demo();
    let missing = d.path().join("missing.json");
    let o = tabula(&["import", &p, missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o).matches("os error 2").count(),
        1,
        "{}",
        stderr(&o)
    );
    let bad = d.path().join("bad.json");
    std::fs::write(&bad, "[").unwrap();
    let o = tabula(&["import", &p, bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert_eq!(e.matches("EOF while parsing").count(), 1, "{e}");
    assert!(!e.contains(":0:"), "{e}");
}

#[test]
fn delete_reports_the_rows_removed_by_cascade() {
    let (_d, _path, p) = demo();
    let o = tabula(&["delete", &p, "students", "--where", "id = 1"]);
    assert_eq!(
        stdout(&o),
        "deleted 1 row(s) from students, and by cascade 3 row(s) from registrations\n",
        "{}",
        text(&o)
    );
    let o = tabula(&[
        "delete", &p, "students", "--where", "id = 2", "--format", "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["deleted"], 1);
    assert_eq!(v["cascaded"]["registrations"], 2);
}

/// A key referencing its own table: the rows deleted below the one named count as cascaded
/// from that table, where the CLI said one row was deleted when the whole tree went.
#[test]
fn delete_counts_a_cascade_into_the_same_table() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("tree");
    let p = p.to_str().unwrap();
    let o = tabula(&[
        "sql",
        p,
        "CREATE TABLE s (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES s ON DELETE CASCADE); \
         INSERT INTO s VALUES (1, NULL), (2, 1), (3, 2), (4, 3), (5, NULL)",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = tabula(&["delete", p, "s", "--where", "id = 1"]);
    assert_eq!(
        stdout(&o),
        "deleted 1 row(s) from s, and by cascade 3 row(s) from s\n",
        "{}",
        text(&o)
    );
    let o = tabula(&["delete", p, "s", "--where", "id = 5", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["deleted"], 1);
    assert_eq!(v["cascaded"], serde_json::json!({}));
}

#[test]
fn import_creates_a_new_database() {
    let (d, _path, p) = demo();
    let file = d.path().join("backup.json");
    let f = file.to_str().unwrap();
    assert!(tabula(&["export", &p, f]).status.success());
    let new = d.path().join("fresh/copy");
    let o = tabula(&["import", new.to_str().unwrap(), f]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(stdout(&o).starts_with("imported 24 row(s)"), "{}", text(&o));
    let o = tabula(&[
        "query",
        new.to_str().unwrap(),
        "students",
        "--format",
        "csv",
        "--columns",
        "id",
    ]);
    assert_eq!(stdout(&o).lines().count(), 8);
    // A bad row is named by table and row, with no `:0:` line number.
    let bad = d.path().join("bad.json");
    let exported = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &bad,
        exported.replacen("\"year\":2024", "\"year\":\"x\"", 1),
    )
    .unwrap();
    let o = tabula(&[
        "import",
        d.path().join("third").to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("bad.json: corrupt: table students row 1: students.year"),
        "{e}"
    );
    assert!(!e.contains(":0:"), "{e}");
    assert!(
        !d.path().join("third").exists(),
        "a failed import leaves no database"
    );
    // An empty directory the failed import was given is left empty.
    let empty = d.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = tabula(&["import", empty.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
    // A missing file creates nothing.
    let none = d.path().join("none");
    let o = tabula(&["import", none.to_str().unwrap(), "/nonexistent.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!none.exists());
}

/// A float never prints as an integer, nor as hundreds of digits, and JSON's missing NaN
/// and infinities are the strings the database's files use, never null.
#[test]
fn floats_print_as_floats_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("db").to_str().unwrap().to_owned();
    let q = "SELECT 100.0 AS a, 1e20 AS b, 1e-300 AS c, -0.0 AS d, 1e308 * 10 AS e, NULL AS f";
    let o = tabula(&["--format", "csv", "sql", &p, q]);
    assert_eq!(
        stdout(&o),
        "a,b,c,d,e,f\n100.0,1e20,1e-300,-0.0,inf,\n",
        "{}",
        text(&o)
    );
    let o = tabula(&["--format", "jsonl", "sql", &p, q]);
    assert_eq!(
        stdout(&o).trim(),
        r#"{"a":100.0,"b":1e+20,"c":1e-300,"d":-0.0,"e":"inf","f":null}"#,
        "{}",
        text(&o)
    );
    let o = tabula(&["sql", &p, q]);
    assert!(
        stdout(&o).contains("│ 100.0 │ 1e20 │ 1e-300 │ -0.0 │ inf │ NULL │"),
        "{}",
        text(&o)
    );
}

/// `-` is standard output for `export` and standard input for `import`: a copy through a
/// pipe, with export's report on standard error, apart from the document.
#[test]
fn export_and_import_through_a_pipe() {
    let (d, _path, p) = demo();
    let export = Command::new(env!("CARGO_BIN_EXE_tabula"))
        .args(["export", &p, "-"])
        .output()
        .unwrap();
    assert!(export.status.success(), "{}", text(&export));
    assert!(
        String::from_utf8_lossy(&export.stderr).contains("exported 3 table(s)"),
        "{}",
        text(&export)
    );
    let copy = d.path().join("copy");
    let o = tabula_with_input(&["import", copy.to_str().unwrap(), "-"], &export.stdout);
    assert!(o.status.success(), "{}", text(&o));
    assert!(stdout(&o).starts_with("imported 24 row(s)"), "{}", text(&o));
    assert!(!Path::new("-").exists(), "no file named - was written");
    // Standard output a file opened for appending: the document joins what is there.
    let log = d.path().join("log.txt");
    std::fs::write(&log, "before\n").unwrap();
    let appended = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_tabula"))
        .args(["export", &p, "-"])
        .stdout(appended)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let written = std::fs::read(&log).unwrap();
    assert_eq!(&written[..7], b"before\n");
    assert_eq!(&written[7..], &export.stdout[..]);
}

#[test]
fn every_command_warns_about_what_the_open_recovered() {
    let (_d, path, p) = demo();
    {
        let db = Database::open(&path).unwrap();
        let t = db.dyn_table("courses").unwrap();
        for i in 0..2 {
            t.insert(tabula::row! { "code" => format!("Y{i}"), "title" => "T" })
                .unwrap();
        }
    }
    // One flipped byte in the middle of the log's last record: an unfinished tail.
    let wal = path.join("wal/transaction.log");
    let mut bytes = std::fs::read(&wal).unwrap();
    let end = bytes.len() - 1;
    let start = bytes[..end]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    bytes[(start + end) / 2] ^= 0x01;
    std::fs::write(&wal, bytes).unwrap();
    // A read command (read-only) leaves the record out where it is, and says so once.
    let o = tabula(&["tables", &p]);
    assert!(o.status.success(), "{}", text(&o));
    let e = stderr(&o);
    assert_eq!(
        e.matches("tabula: warning: left out damaged").count(),
        1,
        "{e}"
    );
    assert!(e.contains("wal/transaction.log:"), "{e}");
    // A write command sets it aside, and says so once.
    let o = tabula(&["checkpoint", &p]);
    assert!(o.status.success(), "{}", text(&o));
    let e = stderr(&o);
    assert_eq!(e.matches("tabula: warning: recovered").count(), 1, "{e}");
    assert!(e.contains("wal/transaction.log:"), "{e}");
}

#[test]
fn a_where_with_10000_or_terms_works_in_query_update_and_delete() {
    let (_d, _path, p) = demo();
    let cond = (0..10_000)
        .map(|i| format!("id = {}", i + 3))
        .collect::<Vec<_>>()
        .join(" OR ");
    let o = tabula(&[
        "query",
        &p,
        "students",
        "--where",
        &cond,
        "--format",
        "csv",
        "--columns",
        "id",
    ]);
    assert_eq!(stdout(&o), "id\n3\n4\n5\n6\n7\n", "{}", text(&o));
    let o = tabula(&[
        "update", &p, "students", "--where", &cond, "--set", "gpa=2.5",
    ]);
    assert_eq!(stdout(&o), "updated 5 row(s) of students\n", "{}", text(&o));
    let o = tabula(&["delete", &p, "registrations", "--where", &cond]);
    assert!(stdout(&o).starts_with("deleted "), "{}", text(&o));
    assert!(o.status.success());
}

/// `LIKE ... ESCAPE` makes the escaped `%` and `_` literal (it used to be ignored: the
/// pattern below found nothing).
#[test]
fn like_escape_matches_a_literal_percent() {
    let (_d, _path, p) = demo();
    for (name, email) in [("100% sure", "s@u"), ("1000 sure", "t@u")] {
        let row = format!("{{\"name\":\"{name}\",\"email\":\"{email}\",\"year\":2024}}");
        let o = tabula(&["insert", &p, "students", &row]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let o = tabula(&[
        "query",
        &p,
        "students",
        "--where",
        r"name LIKE '100\%%' ESCAPE '\'",
        "--columns",
        "name",
        "--format",
        "jsonl",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "{\"name\":\"100% sure\"}\n"
    );
}

/// `export DIR /dev/stdout` writes the document to standard output, whole (the report goes
/// to standard error), and replaces nothing.
#[test]
fn export_to_standard_output() {
    let (_d, _path, p) = demo();
    let o = tabula(&["export", &p, "/dev/stdout"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["tables"].as_array().unwrap().len(), 3);
    assert!(String::from_utf8_lossy(&o.stderr).contains("exported 3 table(s)"));
    assert!(std::fs::symlink_metadata("/dev/stdout").is_ok());
}

/// A file is not taken for a missing database; a log whose every line is damaged is
/// summarised after ten warnings, not one line each.
#[test]
fn a_file_is_not_a_database_and_long_damage_is_summarised() {
    let (d, path, p) = demo();
    let file = d.path().join("notes.txt");
    std::fs::write(&file, "hello").unwrap();
    let o = tabula(&["tables", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("is a file, not a tabula database"),
        "{}",
        text(&o)
    );

    let garbage: String = (0..25)
        .map(|i| format!("0000000{} {{\"lsn\":{i}}}\n", i % 10))
        .collect();
    std::fs::write(path.join("wal/transaction.log"), garbage).unwrap();
    let o = tabula(&["tables", &p]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("15 more damaged log line(s)"), "{e}");
    assert_eq!(e.lines().count(), 11, "{e}");
}

/// `--format jsonl` and `--format csv` hold for the inspecting commands too, not only for
/// `query`: JSON Lines is one object per line, CSV a header and a line per record.
#[test]
fn inspecting_commands_honour_jsonl_and_csv() {
    let (_d, _path, p) = demo();
    let cases: [(&[&str], usize, &str); 4] = [
        (&["tables", &p], 3, "name"),
        (&["stats", &p], 3, "rows"),
        (&["schema", &p, "students"], 6, "type"),
        (&["verify", &p], 0, "message"),
    ];
    for (args, lines, key) in cases {
        let o = tabula(&[&["--format", "jsonl"], args].concat());
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        let out = stdout(&o);
        for line in out.lines() {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{args:?}: {line:?} is not JSON: {e}"));
            assert!(v.is_object(), "{args:?}: {line}");
        }
        // `stats` puts its whole report on one line; the others a line per record.
        let want = if args[0] == "stats" { 1 } else { lines };
        assert_eq!(out.lines().count(), want, "{args:?}: {out}");

        let o = tabula(&[&["--format", "csv"], args].concat());
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        let out = stdout(&o);
        let mut rows = out.lines();
        let header = rows.next().unwrap_or_default();
        assert!(header.split(',').any(|h| h == key), "{args:?}: {header}");
        assert_eq!(rows.count(), lines, "{args:?}: {out}");
    }
}

/// `tabula schema` shows composite constraints, checks and the migrations the table went
/// through, with their log positions; `--format json` carries the same.
#[test]
fn schema_shows_constraints_and_history() {
    mod v1 {
        #[derive(tabula::Table, Debug, Clone)]
        #[table(name = "people")]
        pub struct Person {
            #[column(primary_key)]
            pub id: u64,
            pub full_name: String,
            pub age: i32,
        }
    }
    mod v2 {
        #[derive(tabula::Table, Debug, Clone)]
        #[table(name = "people", unique(name, age), check = "age >= 0")]
        pub struct Person {
            #[column(primary_key)]
            pub id: u64,
            #[column(renamed_from = "full_name")]
            pub name: String,
            #[column(check = "age < 200")]
            pub age: i64,
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).unwrap();
        db.table::<v1::Person>()
            .unwrap()
            .insert(v1::Person {
                id: 0,
                full_name: "Ada".into(),
                age: 36,
            })
            .unwrap();
        db.table::<v2::Person>().unwrap();
        db.close().unwrap();
    }
    let p = path.display().to_string();
    let o = tabula(&["schema", &p, "people"]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    for want in [
        "check age < 200",
        "unique (name, age)",
        "check age >= 0",
        "history:",
        "  lsn 2  rename full_name -> name",
        "  lsn 2  widen age i32 -> i64",
        "  lsn 2  build unique index on (name, age)",
    ] {
        assert!(t.contains(want), "{want:?} in {t}");
    }
    let o = tabula(&["schema", &p, "people", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["unique"], serde_json::json!([["name", "age"]]));
    assert_eq!(v["history"][0]["change"], "rename full_name -> name");
    assert_eq!(v["history"][0]["lsn"], 2);
}

/// `tabula sql`: creates a directory that does not exist, writes with the lock, reads
/// read-only, prints in every format, and reports SQL errors with exit code 2.
#[test]
fn sql_runs_statements_and_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("db").display().to_string();
    let o = tabula(&[
        "sql",
        &p,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, n INTEGER); \
         INSERT INTO t (name, n) VALUES ('a', 1), ('b', NULL), ('c', 3)",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("3 row(s) changed"), "{}", text(&o));
    let o = tabula(&[
        "sql",
        &p,
        "SELECT name, n * 2 AS d FROM t WHERE n IS NOT NULL ORDER BY d DESC",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!([{"name": "c", "d": 6}, {"name": "a", "d": 2}])
    );
    // A script on standard input.
    let o = tabula_with_input(
        &["sql", &p, "--format", "csv"],
        b"UPDATE t SET n = 0 WHERE n IS NULL;\nSELECT COUNT(*) AS c, SUM(n) AS s FROM t;\n",
    );
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout), "c,s\n3,4\n");
    let o = tabula(&["sql", &p, "SELECT nope FROM t"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("table t has no column nope"),
        "{}",
        text(&o)
    );
}

/// A script prints each query's rows as the query completes, as `sqlite3` does: the reads
/// before a write once (not again when the text runs a second time with the lock), the
/// rows of the statements before a failing one, and nothing after output fails.
#[test]
fn sql_scripts_print_every_query_once_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("db").display().to_string();
    let o = tabula(&[
        "sql",
        &p,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE); INSERT INTO t (v) VALUES ('a')",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = tabula_with_input(
        &["sql", &p, "--format", "csv"],
        b"SELECT count(*) AS before FROM t;\nINSERT INTO t (v) VALUES ('b');\n\
          SELECT count(*) AS after FROM t;\nUPDATE t SET v = 'c' WHERE v = 'b';\n",
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "before\n1\nafter\n2\n{\"changed\":2}\n"
    );
    // Read-only: the rows before the failing statement, then its error.
    let o = tabula(&[
        "sql",
        &p,
        "--format",
        "csv",
        "SELECT v FROM t ORDER BY v; SELECT nope FROM t",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "v\na\nc\n");
    assert!(text(&o).contains("statement 2"), "{}", text(&o));
    // Writing: the same, and the statements before stay committed (exit 3).
    let o = tabula(&[
        "sql",
        &p,
        "--format",
        "csv",
        "INSERT INTO t (v) VALUES ('d'); SELECT count(*) AS n FROM t; INSERT INTO t (v) VALUES ('a')",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "n\n3\n");
    // Output that cannot be written ends the text there.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_tabula"))
        .args(["sql", &p, "SELECT v FROM t; INSERT INTO t (v) VALUES ('e')"])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("No space left on device"), "{}", text(&o));
    let o = tabula(&["sql", &p, "--format", "csv", "SELECT count(*) AS n FROM t"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "n\n3\n");
    // The count is the rows the text changed and kept: none for a rolled-back transaction,
    // all of a committed one's.
    let o = tabula(&[
        "sql",
        &p,
        "BEGIN; INSERT INTO t (v) VALUES ('r1'), ('r2'); DELETE FROM t WHERE v = 'r1'; COMMIT",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "3 row(s) changed\n",
        "{}",
        text(&o)
    );
    let o = tabula(&["sql", &p, "DELETE FROM t WHERE v = 'r2'"]);
    assert!(o.status.success(), "{}", text(&o));
    // A byte-order mark before a script is not SQL.
    let o = tabula_with_input(
        &["sql", &p, "--format", "csv"],
        "\u{feff}SELECT 1 AS one;".as_bytes(),
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "one\n1\n",
        "{}",
        text(&o)
    );
    let o = tabula(&[
        "sql",
        &p,
        "--format",
        "json",
        "BEGIN; INSERT INTO t (v) VALUES ('r'); ROLLBACK",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "{\"changed\":0}\n",
        "{}",
        text(&o)
    );
    // A reader that goes away early (`| head`) hears no more, and the text still runs whole.
    let rows: Vec<String> = (0..3000).map(|i| format!("('{i}')")).collect();
    let o = tabula(&[
        "sql",
        &p,
        &format!("INSERT INTO t (v) VALUES {}", rows.join(", ")),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tabula"))
        .args([
            "sql",
            &p,
            "--format",
            "csv",
            "SELECT v FROM t; INSERT INTO t (v) VALUES ('after')",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    assert!(child.wait().unwrap().success());
    let o = tabula(&[
        "sql",
        &p,
        "--format",
        "csv",
        "SELECT count(*) AS n FROM t WHERE v = 'after'",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "n\n1\n");
}

#[test]
fn sql_on_an_empty_directory_creates_the_database() {
    let other = tempfile::tempdir().unwrap();
    let file = other.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let o = tabula(&["sql", file.to_str().unwrap(), "SELECT 1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("is not a directory"), "{}", text(&o));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().to_str().unwrap().to_owned();
    let o = tabula(&["sql", &p, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"]);
    assert!(o.status.success(), "{}", text(&o));
    // A statement that changes no rows says "ok", as the shell does, not "0 row(s) changed";
    // the last statement decides, whatever the comments after it.
    assert_eq!(String::from_utf8_lossy(&o.stdout), "ok\n");
    let o = tabula(&[
        "sql",
        &p,
        "INSERT INTO t (v) VALUES ('a'), ('b'); CREATE INDEX t_v ON t (v) -- and done",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "ok\n", "{}", text(&o));
    let o = tabula(&[
        "sql",
        &p,
        "CREATE INDEX t_id ON t (id); DELETE FROM t WHERE v = 'b';",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "1 row(s) changed\n",
        "{}",
        text(&o)
    );
    let o = tabula(&[
        "--format",
        "jsonl",
        "sql",
        &p,
        "SELECT count(*) AS n FROM t",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), r#"{"n":1}"#);
}

/// A text that only reads, run on a directory that does not exist, prints its results (or
/// its error) and creates nothing: it runs on an empty database in memory. Creating the
/// directory for it and removing it afterwards made another process's write there fail
/// (a hostile tester: 14 of 30 `CREATE TABLE`s beside such reads), and could have removed
/// a database that process made meanwhile. Writers beside such readers all succeed.
#[test]
fn a_reading_text_on_a_missing_directory_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("new");
    let p = new.to_str().unwrap();
    let o = tabula(&[
        "sql",
        p,
        "--format",
        "csv",
        "SELECT 1 AS one; SELECT 2 AS two",
    ]);
    assert_eq!(stdout(&o), "one\n1\ntwo\n2\n", "{}", text(&o));
    assert!(!new.exists());
    let o = tabula(&["sql", p, "SELECT * FROM t"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no table named t"), "{}", text(&o));
    assert!(!new.exists());
    // A text too long to be tried in memory first runs on a new database, which goes
    // again when the text changed nothing.
    let long = format!("SELECT 3 AS three /* {} */", "x".repeat(5000));
    let o = tabula(&["sql", p, "--format", "csv", &long]);
    assert_eq!(stdout(&o), "three\n3\n", "{}", text(&o));
    assert!(!new.exists());
    for round in 0..10 {
        let db = dir.path().join(format!("raced{round}"));
        let reader_dir = db.clone();
        let readers = std::thread::spawn(move || {
            for _ in 0..4 {
                tabula(&["sql", reader_dir.to_str().unwrap(), "SELECT * FROM x"]);
            }
        });
        let o = tabula(&[
            "sql",
            db.to_str().unwrap(),
            "CREATE TABLE x (id INTEGER PRIMARY KEY); INSERT INTO x (id) VALUES (7)",
        ]);
        readers.join().unwrap();
        assert!(o.status.success(), "round {round}: {}", text(&o));
        let o = tabula(&[
            "sql",
            db.to_str().unwrap(),
            "--format",
            "csv",
            "SELECT id FROM x",
        ]);
        assert_eq!(stdout(&o), "id\n7\n", "round {round}: {}", text(&o));
    }
}

/// Statements before a failing one stay committed: exit 3 when they changed anything (rows,
/// or a table dropped), 2 when they did not; a directory made for a text that created no
/// table is not left behind.
#[test]
fn a_failing_statement_after_committed_ones_exits_3() {
    let (_d, _path, p) = demo();
    let o = tabula(&[
        "sql",
        &p,
        "DELETE FROM registrations; SELECT nope FROM courses",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("statements before the failing one are committed"));
    let o = tabula(&[
        "sql",
        &p,
        "DROP TABLE registrations; SELECT nope FROM courses",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let o = tabula(&["sql", &p, "SELECT 1; SELECT nope FROM courses"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // Two migrations that leave the schema as it was still changed the rows (the column's
    // values are gone): they committed.
    let o = tabula(&[
        "sql",
        &p,
        "ALTER TABLE students DROP COLUMN gpa; ALTER TABLE students ADD COLUMN gpa REAL; \
         SELECT nope FROM courses",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo");
    let o = tabula(&["sql", typo.to_str().unwrap(), "DROP TABLE x"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no table named x"), "{}", text(&o));
    assert!(!typo.exists(), "a failed text left a database behind");
    // Nor the directories made above it; one that was there stays.
    std::fs::create_dir(dir.path().join("there")).unwrap();
    let deep = dir.path().join("there").join("made").join("for").join("it");
    let o = tabula(&["sql", deep.to_str().unwrap(), "SELECT nope"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(dir.path().join("there").is_dir());
    assert!(
        !dir.path().join("there").join("made").exists(),
        "a failed text left directories behind"
    );
    // An empty directory that was there stays, empty.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = tabula(&["sql", empty.to_str().unwrap(), "SELECT nope"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
}

/// `tabula ARGS` allowed to write files up to 2 MiB (`ulimit -f`, with the signal that
/// would kill it ignored, so that a longer write fails with `EFBIG`, as on a full disk).
fn with_small_files(args: &[&str]) -> std::process::Output {
    Command::new("bash")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 2048; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_tabula"))
        .args(args)
        .output()
        .unwrap()
}

/// A statement whose log write fails leaves the database unreadable until it is opened
/// again (poisoned): that said nothing about statements before it, and a text whose one
/// statement failed exited 3, telling the user that statements before it had committed.
/// What is on disk decides.
#[test]
fn a_statement_whose_log_write_fails_exits_3_only_after_committed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let p = db.to_str().unwrap();
    let value = "k".repeat(100_000);
    let o = tabula(&[
        "sql",
        p,
        &format!(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('{value}')"
        ),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A record of about 3 MB: past what the process may write.
    let grow = format!("UPDATE t SET v = {}", vec!["v"; 30].join(" || "));
    let o = with_small_files(&["sql", p, &grow]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        stderr(&o).contains("File too large") && !stderr(&o).contains("committed ("),
        "{}",
        stderr(&o)
    );
    let o = with_small_files(&["sql", p, &format!("INSERT INTO t (v) VALUES ('x'); {grow}")]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        stderr(&o).contains("statements before the failing one are committed"),
        "{}",
        stderr(&o)
    );
    // A transaction committed before it: its `COMMIT` returns no result to look after.
    let o = with_small_files(&[
        "sql",
        p,
        &format!("BEGIN; INSERT INTO t (v) VALUES ('y'); COMMIT; {grow}"),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let o = tabula(&["sql", p, "SELECT id, length(v) FROM t", "--format", "csv"]);
    assert_eq!(
        stdout(&o),
        "id,length(v)\n1,100000\n2,1\n3,1\n",
        "{}",
        text(&o)
    );
}

#[test]
fn a_committed_write_whose_output_fails_exits_3_not_2() {
    let (_d, _path, p) = demo();
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full");
    let Ok(full) = full else {
        eprintln!("no /dev/full here: skipped");
        return;
    };
    let o = Command::new(env!("CARGO_BIN_EXE_tabula"))
        .args([
            "sql",
            &p,
            "INSERT INTO courses (code, title) VALUES ('X1', 'x')",
        ])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("the change is committed"), "{}", text(&o));
    let o = tabula(&[
        "--format",
        "jsonl",
        "sql",
        &p,
        "SELECT count(*) AS n FROM courses WHERE code = 'X1'",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), r#"{"n":1}"#);
    // So do the commands that change files without a statement: the change is made.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let made = dir.path().join("made");
    for (args, changed) in [
        (vec!["checkpoint", p.as_str()], None),
        (
            vec!["export", p.as_str(), out.to_str().unwrap()],
            Some(&out),
        ),
        (vec!["demo", made.to_str().unwrap()], Some(&made)),
    ] {
        let o = to_full_device(&args);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", text(&o));
        if let Some(path) = changed {
            assert!(path.exists(), "{args:?}");
        }
    }
    // A repair that changed files likewise; one that found nothing to repair changed nothing.
    std::fs::write(Path::new(&p).join("data/courses.records"), b"{ damaged\n").unwrap();
    for want in [3, 2] {
        let o = to_full_device(&["repair", &p]);
        assert_eq!(o.status.code(), Some(want), "{}", text(&o));
    }
}

/// A writing `tabula sql` closes the database as the other writing commands do: with a
/// checkpoint, so the log does not grow from one run to the next.
#[test]
fn a_writing_sql_run_ends_with_a_checkpoint() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("db");
    let p = p.to_str().unwrap();
    let o = tabula(&["sql", p, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = tabula_with_input(&["sql", p], b"INSERT INTO t (v) VALUES ('a'), ('b');\n");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let snapshot = std::fs::read_to_string(Path::new(p).join("data/t.records")).unwrap();
    assert_eq!(snapshot.lines().count(), 2, "{snapshot}");
    let o = tabula(&["stats", p, "--format", "json"]);
    let stats: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(stats["wal_records"], 0, "{stats}");
}

/// A script is SQL only: a dot command in it is refused with a pointer to the shell, and
/// an error quoting the input's control characters stays on one line, escaped.
#[test]
fn sql_errors_point_to_the_shell_for_dot_commands_and_stay_on_one_line() {
    let (_d, _path, p) = demo();
    let o = tabula_with_input(&["sql", &p], b".tables\nSELECT 1;\n");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("--interactive"), "{}", stderr(&o));
    let o = tabula(&["sql", &p, "SELECT * FROM \"a\nb\u{1b}[2J\""]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "{e:?}");
    assert!(!e.contains('\u{1b}'), "{e:?}");
}

/// A header name is guarded as a TEXT value is: a SQL alias may be any text.
#[test]
fn csv_headers_get_the_formula_guard_too() {
    let (_d, _path, p) = demo();
    let o = tabula(&[
        "sql",
        &p,
        "SELECT 1 AS \"=cmd\", 2 AS plain",
        "--format",
        "csv",
    ]);
    assert_eq!(stdout(&o), "'=cmd,plain\n1,2\n", "{}", text(&o));
    let o = tabula(&[
        "sql",
        &p,
        "SELECT 1 AS \"=cmd\"",
        "--format",
        "csv",
        "--csv-raw",
    ]);
    assert_eq!(stdout(&o), "=cmd\n1\n", "{}", text(&o));
}

/// Table mode measures cells in terminal columns: a CJK character or an emoji takes two, a
/// combining mark none, so every line of the grid is as wide as its borders.
#[test]
fn table_format_aligns_wide_and_combining_characters() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("db").display().to_string();
    let o = tabula(&[
        "sql",
        &p,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, w TEXT, c TEXT, e TEXT)",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = tabula(&[
        "sql",
        &p,
        "INSERT INTO t (w, c, e) VALUES ('漢字', 'e\u{301}', '🦀x'), ('ab', 'cd', 'ef')",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = tabula(&["sql", &p, "SELECT w, c, e FROM t ORDER BY id"]);
    let out = stdout(&o);
    let grid: Vec<&str> = out.lines().filter(|l| !l.ends_with("row(s)")).collect();
    assert_eq!(grid.len(), 6, "{out}");
    let widths: Vec<usize> = grid
        .iter()
        .map(|l| unicode_width::UnicodeWidthStr::width(*l))
        .collect();
    assert!(widths.iter().all(|&w| w == widths[0]), "{widths:?}\n{out}");
    assert_eq!(grid[3], "│ 漢字 │ e\u{301}  │ 🦀x │", "{out}");
}

/// `import DIR -` calls its input standard input, as the user named it, in its report and
/// in its errors; a failed import leaves no database behind.
#[test]
fn import_from_standard_input_names_it_so() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("db").display().to_string();
    let o = tabula_with_input(&["import", &p, "-"], b"not json");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let e = stderr(&o);
    assert!(e.contains("JSON error in import of standard input"), "{e}");
    assert!(!e.contains("/dev/stdin"), "{e}");
    assert!(!dir.path().join("db").exists());
    let (_d, _path, demo_db) = demo();
    let doc = tabula(&["export", &demo_db, "-"]);
    assert!(doc.status.success(), "{}", text(&doc));
    let o = tabula_with_input(&["import", &p, "-"], &doc.stdout);
    assert!(o.status.success(), "{}", text(&o));
    let said = stdout(&o);
    assert!(said.starts_with("imported "), "{said}");
    assert!(said.ends_with(" row(s) from standard input\n"), "{said}");
}

/// A document that cannot be imported is named, with the value at fault (and the row, where
/// it does not decode); the message says nothing was imported, and gives no repair hint:
/// the database is not at fault.
#[test]
fn a_bad_import_document_is_named_and_gets_no_repair_hint() {
    let (_d, _path, p) = demo();
    let doc = tabula(&["export", &p, "-"]);
    assert!(doc.status.success(), "{}", text(&doc));
    let mut value: serde_json::Value = serde_json::from_slice(&doc.stdout).unwrap();
    let rows = value["tables"][0]["rows"].as_array_mut().unwrap();
    let first_key = rows[0]["id"].clone();
    rows[1]["id"] = first_key.clone();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dup.json");
    std::fs::write(&file, serde_json::to_vec(&value).unwrap()).unwrap();
    let target = dir.path().join("db");
    let o = tabula(&["import", target.to_str().unwrap(), file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let e = stderr(&o);
    assert_eq!(
        e,
        format!(
            "tabula: importing {}; nothing was imported: unique constraint courses.id violated by {first_key}\n",
            file.display()
        )
    );
    assert!(!target.exists());
    // A row that does not decode is named by its place; still no repair hint.
    let rows = value["tables"][0]["rows"].as_array_mut().unwrap();
    rows[1]["id"] = serde_json::json!(99);
    rows[2]["code"] = serde_json::Value::Null;
    std::fs::write(&file, serde_json::to_vec(&value).unwrap()).unwrap();
    let o = tabula(&["import", target.to_str().unwrap(), file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(
        stderr(&o),
        format!(
            "tabula: {}: corrupt: table courses row 3: courses.code cannot be null; nothing was imported\n",
            file.display()
        )
    );
    assert!(!target.exists());
}

/// An insert of many rows says their keys in a few words (a range, or the first ones and
/// how many more); `--format json` lists every key.
#[test]
fn a_big_insert_reports_its_keys_in_a_few_words() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("db").display().to_string();
    let o = tabula(&[
        "sql",
        &p,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let rows: String = (0..30).map(|i| format!("{{\"v\": {i}}}\n")).collect();
    let o = tabula_with_input(&["insert", &p, "t", "--file", "-"], rows.as_bytes());
    assert_eq!(
        stdout(&o),
        "inserted 30 row(s) into t: keys 1 to 30\n",
        "{}",
        text(&o)
    );
    let rows: String = (1..=12)
        .map(|i| format!("{{\"id\": {}, \"v\": 0}}\n", 100 * i))
        .collect();
    let o = tabula_with_input(&["insert", &p, "t", "--file", "-"], rows.as_bytes());
    assert_eq!(
        stdout(&o),
        "inserted 12 row(s) into t: keys 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, \
         and 2 more (--format json lists them all)\n",
        "{}",
        text(&o)
    );
    let rows: String = (0..15).map(|i| format!("{{\"v\": {i}}}\n")).collect();
    let o = tabula_with_input(
        &["insert", &p, "t", "--file", "-", "--format", "json"],
        rows.as_bytes(),
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["inserted"], 15);
    assert_eq!(
        v["keys"],
        serde_json::json!((1201..=1215).collect::<Vec<i64>>())
    );
}

/// A text ending with COMMIT reports what its transaction did: rows changed (a query
/// among its statements printed as it ran, then the count), or "ok" for one that changes
/// none (CREATE); ROLLBACK changed nothing.
#[test]
fn a_transaction_s_report_is_its_last_statement_s() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("db").display().to_string();
    for (sql, said) in [
        (
            "BEGIN; CREATE TABLE t (id INTEGER PRIMARY KEY); COMMIT",
            "ok\n",
        ),
        (
            "BEGIN; INSERT INTO t (id) VALUES (1), (2); COMMIT;",
            "2 row(s) changed\n",
        ),
        ("BEGIN; INSERT INTO t (id) VALUES (3); ROLLBACK", "ok\n"),
    ] {
        let o = tabula(&["sql", &p, sql]);
        assert_eq!(stdout(&o), said, "{sql}: {}", text(&o));
    }
    let o = tabula(&["sql", &p, "SELECT count(*) AS n FROM t", "--format", "csv"]);
    assert_eq!(stdout(&o), "n\n2\n");
    let group = "BEGIN; INSERT INTO t (id) VALUES (7); SELECT count(*) AS n FROM t; COMMIT";
    let o = tabula(&["sql", &p, group, "--format", "csv"]);
    assert_eq!(stdout(&o), "n\n3\n{\"changed\":1}\n", "{}", text(&o));
    let o = tabula(&["sql", &p, &group.replace("(7)", "(8)")]);
    assert!(
        stdout(&o).ends_with("1 row(s)\n1 row(s) changed\n"),
        "{}",
        text(&o)
    );
    // A transaction of reads prints its rows and nothing more, as sqlite3; a failing
    // statement in it comes after the rows of those before it.
    let o = tabula(&[
        "sql",
        &p,
        "BEGIN; SELECT count(*) AS n FROM t; COMMIT",
        "--format",
        "csv",
    ]);
    assert_eq!(stdout(&o), "n\n4\n", "{}", text(&o));
    let o = tabula(&[
        "sql",
        &p,
        "BEGIN; SELECT 1 AS a; SELECT nope FROM t; COMMIT",
        "--format",
        "csv",
    ]);
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(2), "a\n1\n"));
    // A text that changed rows still says how many, whatever ends it.
    let o = tabula(&[
        "sql",
        &p,
        "INSERT INTO t (id) VALUES (9); BEGIN; SELECT count(*) AS n FROM t; COMMIT",
        "--format",
        "csv",
    ]);
    assert_eq!(stdout(&o), "n\n5\n{\"changed\":1}\n", "{}", text(&o));
}

/// A text without a statement (empty, only `;`, only comments) prints nothing and
/// succeeds, as sqlite3, in every format.
#[test]
fn a_text_without_a_statement_says_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("db").display().to_string();
    let o = tabula(&["sql", &p, "CREATE TABLE t (id INTEGER PRIMARY KEY)"]);
    assert_eq!(stdout(&o), "ok\n", "{}", text(&o));
    for sql in ["", " ; ;", "\n-- nothing here", "/* nor here */;"] {
        for format in ["table", "csv", "json"] {
            let o = tabula(&["sql", &p, sql, "--format", format]);
            assert_eq!(
                (o.status.code(), stdout(&o).as_str()),
                (Some(0), ""),
                "{sql:?} as {format}: {}",
                text(&o)
            );
        }
    }
}

/// Beside a writer in another process (here, this one), a `BEGIN … COMMIT` of reads runs
/// read-only, in a text parsed whole and in a script over 4 KiB run as it is parsed.
#[test]
fn a_transaction_of_reads_beside_a_writer() {
    let (_d, path, p) = demo();
    let writer = Database::open(&path).unwrap();
    let o = tabula(&[
        "sql",
        &p,
        "BEGIN; SELECT count(*) AS n FROM courses; COMMIT",
        "--format",
        "csv",
    ]);
    assert_eq!(
        (o.status.code(), stdout(&o).as_str()),
        (Some(0), "n\n5\n"),
        "{}",
        text(&o)
    );
    let mut script = String::from("BEGIN;\n");
    for i in 0..200 {
        script.push_str(&format!("SELECT count(*) AS c{i} FROM courses;\n"));
    }
    script.push_str("COMMIT;\n");
    // Over 4 KiB, run as it is parsed: its BEGIN reads until a write, and there is none.
    let o = tabula_with_input(&["sql", &p, "--format", "csv"], script.as_bytes());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        stdout(&o).starts_with("c0\n5\nc1\n5\n") && stdout(&o).ends_with("c199\n5\n"),
        "{}",
        text(&o)
    );
    drop(writer);
}

/// What `query --format jsonl` writes inserts back as it was: a float column's infinities
/// and NaN are the strings "inf", "-inf" and "NaN" there (JSON has no numbers for them),
/// and `insert` and `update --set` read them so in a float column; a json column takes a
/// number or a boolean as that JSON text.
#[test]
fn non_finite_floats_and_json_scalars_go_back_in_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let create = "CREATE TABLE t (id INTEGER PRIMARY KEY, f REAL, j JSON)";
    let o = tabula(&[
        "sql",
        a,
        &format!("{create}; INSERT INTO t (f, j) VALUES (1e999, '3.5'), (-1e999, 'true')"),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = tabula(&["sql", b, create]);
    assert!(o.status.success(), "{}", text(&o));
    let rows = tabula(&["query", a, "t", "--format", "jsonl"]);
    assert!(rows.status.success(), "{}", text(&rows));
    let o = tabula_with_input(&["insert", b, "t", "-"], &rows.stdout);
    assert!(o.status.success(), "{}", text(&o));
    let o = tabula(&["insert", b, "t", r#"{"f":"NaN","j":7}"#]);
    assert!(o.status.success(), "{}", text(&o));
    let o = tabula(&["update", b, "t", "--where", "id = 1", "--set", "j=false"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = tabula(&["query", b, "t", "--format", "jsonl"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "{\"id\":1,\"f\":\"inf\",\"j\":\"false\"}\n\
         {\"id\":2,\"f\":\"-inf\",\"j\":\"true\"}\n\
         {\"id\":3,\"f\":\"NaN\",\"j\":\"7\"}\n"
    );
    // A float column still refuses any other text.
    let o = tabula(&["insert", b, "t", r#"{"f":"infinity"}"#]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn csv_records_have_their_header_even_with_no_records() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty");
    let p = p.to_str().unwrap();
    // A database with no table, whose log holds nothing.
    let o = tabula(&[
        "sql",
        p,
        "CREATE TABLE t (id INTEGER PRIMARY KEY); DROP TABLE t",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = tabula(&["tables", p, "--format", "csv"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        stdout(&o),
        "name,rows,loaded,pending_records,snapshot_bytes,schema_bytes,indexes\n"
    );
    let o = tabula(&["stats", p, "--format", "csv"]);
    assert_eq!(
        stdout(&o),
        "name,rows,loaded,pending_records,snapshot_bytes,schema_bytes,indexes\n"
    );
    let o = tabula(&["checkpoint", p]);
    assert!(o.status.success(), "{}", text(&o));
    let o = tabula(&["wal", p, "--format", "csv"]);
    assert_eq!(stdout(&o), "line,lsn,tables,created,problem\n");
}

#[test]
fn tables_lists_composite_indexes_and_unique_constraints() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("db");
    let p = p.to_str().unwrap();
    let o = tabula(&[
        "sql",
        p,
        "CREATE TABLE r (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER, c TEXT UNIQUE, \
         UNIQUE (a, b)); CREATE INDEX r_b_a ON r (b, a)",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = tabula(&["tables", p, "--format", "jsonl"]);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(
        v["indexes"],
        serde_json::json!(["id", "c", "(a, b)", "(b, a)"])
    );
    let o = tabula(&["tables", p]);
    assert!(stdout(&o).contains("id, c, (a, b), (b, a)"), "{}", text(&o));
}

#[test]
fn an_error_quoting_megabytes_is_printed_shortened() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("db");
    let p = p.to_str().unwrap();
    let o = tabula(&[
        "sql",
        p,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // Too long for an argument: from a file.
    let file = dir.path().join("row.json");
    let row = format!("{{\"n\": \"{}\"}}", "x".repeat(1_000_000));
    std::fs::write(&file, row).unwrap();
    let o = tabula(&["insert", p, "t", "--file", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(err.len() < 5000, "{} bytes", err.len());
    assert!(err.contains("t.n is i64, which cannot hold \"xxx"), "{err}");
    assert!(err.contains(" bytes left out) … "), "{err}");
}

#[test]
fn wal_of_what_is_no_database_says_so() {
    let dir = tempfile::tempdir().unwrap();
    for p in [dir.path().to_path_buf(), dir.path().join("missing")] {
        let o = tabula(&["wal", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2));
        assert!(text(&o).contains("no tabula database at"), "{}", text(&o));
    }
}

#[test]
fn a_table_named_in_another_case_gets_a_did_you_mean() {
    let (_d, _path, p) = demo();
    for args in [
        vec!["schema", &p, "Students"],
        vec!["query", &p, "STUDENTS"],
        vec!["delete", &p, "Courses", "--where", "credits > 9"],
    ] {
        let o = tabula(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let t = text(&o);
        assert!(
            t.contains(&format!("no table named \"{}\"; did you mean", args[2])),
            "{t}"
        );
    }
    let o = tabula(&["query", &p, "nothing"]);
    assert!(!text(&o).contains("did you mean"), "{}", text(&o));
}

/// A repeated name gets `:1`, `:2`, … but never a name the query gave a column itself: a
/// script reading `"a:1"` gets the column it asked for.
#[test]
fn a_repeated_name_never_takes_a_name_the_query_gave() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("db").to_str().unwrap().to_owned();
    let o = tabula(&[
        "--format",
        "jsonl",
        "sql",
        &p,
        r#"SELECT 1 AS a, 3 AS a, 2 AS "a:1""#,
    ]);
    assert_eq!(
        stdout(&o).trim(),
        r#"{"a":1,"a:2":3,"a:1":2}"#,
        "{}",
        text(&o)
    );
    let o = tabula(&[
        "--format",
        "csv",
        "sql",
        &p,
        r#"SELECT 1 AS a, 3 AS a, 2 AS "a:1""#,
    ]);
    assert_eq!(stdout(&o), "a,a:2,a:1\n1,3,2\n", "{}", text(&o));
}

/// A `--where` value the column cannot hold is an error before anything is printed: no
/// lone `[` or csv header on stdout.
#[test]
fn a_query_that_cannot_run_prints_nothing() {
    let (_dir, _path, p) = demo();
    for format in ["json", "csv", "jsonl", "table"] {
        let o = tabula(&[
            "--format",
            format,
            "query",
            &p,
            "students",
            "--where",
            "year = -1",
        ]);
        assert_eq!(o.status.code(), Some(2), "{format}: {}", text(&o));
        assert_eq!(stdout(&o), "", "{format}");
        assert!(
            text(&o).contains("students.year is u32, which cannot hold -1"),
            "{}",
            text(&o)
        );
    }
}

/// A new database made by `tabula sql DIR SQL`: its directory (kept while the first is)
/// and path.
fn database_from_sql(sql: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("db").to_string_lossy().into_owned();
    let o = tabula(&["sql", &p, sql]);
    assert!(o.status.success(), "{}", stderr(&o));
    (dir, p)
}

/// A text of one query in a format that prints a row at a time (csv, json, jsonl) prints
/// its rows as the query finds them; the output is what a held result prints.
#[test]
fn one_query_streams_its_rows_in_csv_json_and_jsonl() {
    let (_dir, p) = database_from_sql(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, n INTEGER);
         INSERT INTO t (v, n) VALUES ('a', 1), (NULL, NULL), ('x,\"y\"', 3)",
    );
    let q = "SELECT id, v, n, id FROM t WHERE id > 0";
    // A second query before it makes the text a script, whose results are held: the same
    // rows, after that query's.
    let held = format!("SELECT 1 AS one; {q}");
    for (format, expected) in [
        (
            "csv",
            "id,v,n,id:1\n1,a,1,1\n2,,,2\n3,\"x,\"\"y\"\"\",3,3\n",
        ),
        (
            "jsonl",
            "{\"id\":1,\"v\":\"a\",\"n\":1,\"id:1\":1}\n\
             {\"id\":2,\"v\":null,\"n\":null,\"id:1\":2}\n\
             {\"id\":3,\"v\":\"x,\\\"y\\\"\",\"n\":3,\"id:1\":3}\n",
        ),
    ] {
        let o = tabula(&["sql", &p, "--format", format, q]);
        assert!(o.status.success(), "{format}: {}", stderr(&o));
        assert_eq!(stdout(&o), expected, "{format}");
        let o = tabula(&["sql", &p, "--format", format, &held]);
        assert!(stdout(&o).ends_with(expected), "{format}: {}", stdout(&o));
    }
    let o = tabula(&["sql", &p, "--format", "json", q]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(3), "{v}");
    assert_eq!(v[1]["v"], serde_json::Value::Null);
    // No rows: the header alone, an empty array, nothing.
    let none = "SELECT id, v FROM t WHERE id > 10";
    for (format, expected) in [("csv", "id,v\n"), ("json", "[]\n"), ("jsonl", "")] {
        let o = tabula(&["sql", &p, "--format", format, none]);
        assert!(o.status.success(), "{format}: {}", stderr(&o));
        assert_eq!(stdout(&o), expected, "{format}");
    }
    // An unknown table is the script's error, before any output.
    let o = tabula(&["sql", &p, "--format", "csv", "SELECT * FROM nope"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(stderr(&o).contains("nope"), "{}", stderr(&o));
}

/// A streamed query that fails on a later row has printed the rows before it, and exits
/// with the error (as sqlite3 does), having changed nothing.
#[test]
fn a_streamed_query_failing_on_a_later_row_stops_there_with_its_error() {
    let (_dir, p) = database_from_sql(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER);
         INSERT INTO t (n) VALUES (1), (2), (-9223372036854775808), (4)",
    );
    let o = tabula(&[
        "sql",
        &p,
        "--format",
        "csv",
        "SELECT id, abs(n) AS a FROM t",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(stdout(&o), "id,a\n1,1\n2,2\n");
    assert!(stderr(&o).contains("overflow"), "{}", stderr(&o));
    // A query with a subquery is held whole, as a script's (naming its columns first
    // would run the subquery twice): the error, and no rows.
    let nested = "SELECT id, abs(n) AS a FROM t WHERE id IN (SELECT id FROM t)";
    let o = tabula(&["sql", &p, "--format", "csv", nested]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(stderr(&o).contains("overflow"), "{}", stderr(&o));
}

/// A streamed query that fails before its first row (a sort that overflows computing its
/// key, an aggregate) prints nothing: no lone csv header, no opened JSON array.
#[test]
fn a_streamed_query_failing_before_its_first_row_prints_nothing() {
    let (_dir, p) = database_from_sql(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER);
         INSERT INTO t (n) VALUES (1), (-9223372036854775808)",
    );
    for q in [
        "SELECT abs(n) AS a FROM t ORDER BY a",
        "SELECT abs(sum(n) - 1) AS s FROM t",
        "SELECT abs(n) AS a FROM t WHERE id = 2",
    ] {
        for format in ["csv", "json", "jsonl"] {
            let o = tabula(&["sql", &p, "--format", format, q]);
            assert_eq!(o.status.code(), Some(2), "{q} {format}: {}", stderr(&o));
            assert_eq!(stdout(&o), "", "{q} {format}");
            assert!(stderr(&o).contains("overflow"), "{q}: {}", stderr(&o));
        }
    }
}

/// Text inputs (SQL on standard input, rows for `insert`, a document to `import`) are
/// refused at their first NUL byte, which no SQL or JSON text holds: a device that never
/// ends (`/dev/zero`) fails at once instead of filling memory, and nothing is changed.
#[test]
fn a_nul_byte_in_a_text_input_is_refused_at_once() {
    let (d, _path, p) = demo();
    let o = tabula_with_input(
        &["sql", &p],
        b"INSERT INTO courses (code, title) VALUES ('N', 'x');\0",
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "tabula: stdin holds a NUL byte (at byte 52): it is not text, and nothing of it was used\n"
    );
    let rows = d.path().join("rows.jsonl");
    std::fs::write(&rows, b"{\"code\":\"N\",\"title\":\"x\"}\n\0").unwrap();
    let o = tabula(&["insert", &p, "courses", "--file", rows.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("holds a NUL byte (at byte 25)"),
        "{}",
        stderr(&o)
    );
    let o = tabula(&[
        "query",
        &p,
        "courses",
        "--where",
        "code = 'N'",
        "--format",
        "csv",
    ]);
    assert_eq!(stdout(&o), "id,code,title,credits\n", "nothing inserted");
    #[cfg(unix)]
    {
        let new = d.path().join("new");
        let o = tabula(&["import", new.to_str().unwrap(), "/dev/zero"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(
            stderr(&o).contains("a NUL byte at byte 0"),
            "{}",
            stderr(&o)
        );
        assert!(!new.exists(), "a failed import leaves no database behind");
        let o = tabula_with_input(&["sql", &p, "--interactive"], b".read /dev/zero\n");
        assert!(
            text(&o).contains("error: /dev/zero holds a NUL byte (at byte 0)"),
            "{}",
            text(&o)
        );
    }
}

/// `update --set` naming a column twice is refused, as `insert` refuses a column given
/// twice (the last one used to win without a word), and changes nothing; an empty key in
/// `--order-by` is refused, as an empty name in `--columns` is (it was ignored).
#[test]
fn update_refuses_a_column_set_twice_and_query_an_empty_order_key() {
    let (_d, _path, p) = demo();
    let course = || {
        stdout(&tabula(&[
            "query", &p, "courses", "--where", "id = 1", "--format", "csv",
        ]))
    };
    let before = course();
    let o = tabula(&[
        "update", &p, "courses", "--where", "id = 1", "--set", "title=a", "--set", "title=b",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(
        stderr(&o),
        "tabula: --set title is given twice; give each column once\n"
    );
    assert_eq!(course(), before);
    for keys in [
        ",,",
        "title,",
        ",title",
        "title,,code",
        "",
        "-",
        "+",
        "-,title",
        "title, - ",
    ] {
        let o = tabula(&["query", &p, "courses", "--order-by", keys]);
        assert_eq!(o.status.code(), Some(2), "{keys}: {}", text(&o));
        assert_eq!(
            stderr(&o),
            format!(
                "tabula: --order-by {keys:?}: a key names no column (an empty key, a lone - or +, \
                 or a comma at an end or two together)\n"
            )
        );
    }
}
