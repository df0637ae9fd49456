//! The interactive shell of `tabula sql DIR`, driven through a pipe with `--interactive`:
//! the prompts and the lines read are echoed, so the output is what a person at a terminal
//! sees. Standard output and standard error go to one pipe, in the order they were written.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};

mod common;
use common::{demo, tabula, text};

/// Runs the shell on `dir` with `input` typed, and returns everything it printed (the
/// database's path shown as `DIR`), asserting that it ended with exit code 0.
fn shell(dir: &str, input: &str) -> String {
    let (mut reader, writer) = std::io::pipe().expect("pipe");
    let mut child = {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tabula"));
        cmd.args(["sql", dir, "--interactive"])
            .stdin(Stdio::piped())
            .stdout(writer.try_clone().expect("clone pipe"))
            .stderr(writer);
        cmd.spawn().expect("run tabula")
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    // Read on another thread, so that a shell that hangs (a transaction's thread and the
    // shell waiting for each other, say) fails the test instead of holding it up forever.
    let (done, output) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = String::new();
        let _ = reader.read_to_string(&mut out);
        let _ = done.send(out);
    });
    let Ok(out) = output.recv_timeout(std::time::Duration::from_secs(120)) else {
        let _ = child.kill();
        panic!("the shell did not finish within 120 s on input:\n{input}");
    };
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status}\n{out}");
    out.replace(dir, "DIR")
}

/// The shell on `dir` with its three streams piped, for a test that talks to it as it runs.
fn spawn_shell(dir: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tabula"))
        .args(["sql", dir, "--interactive"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tabula")
}

const BANNER: &str = "Connected to DIR (read-only until a statement writes).\n\
                      Statements end with ;  .help lists the commands, .quit leaves.\n";

#[test]
fn multi_line_statements_and_modes() {
    let (_d, _path, p) = demo();
    let out = shell(
        &p,
        "SELECT name, gpa\n  FROM students\n  WHERE gpa > 3.7 -- the best; of them\n  ORDER BY gpa DESC;\n\
         .mode csv\nSELECT code, credits FROM courses WHERE id <= 2; SELECT 'a;b' AS \"x;y\";\n\
         .mode json\nSELECT id FROM courses WHERE id < 3;\n\
         .mode jsonl\nSELECT id FROM courses WHERE id < 3;\nSELECT id FROM courses WHERE id > 99;\n\
         .mode\n.mode table\nSELECT COUNT(*) AS n FROM courses\n;\n",
    );
    let expected = format!(
        "{BANNER}\
tabula> SELECT name, gpa
   ...>   FROM students
   ...>   WHERE gpa > 3.7 -- the best; of them
   ...>   ORDER BY gpa DESC;
┌───────────────┬─────┐
│ name          │ gpa │
├───────────────┼─────┤
│ Carol White   │ 3.9 │
│ Alice Johnson │ 3.8 │
└───────────────┴─────┘
2 row(s)
tabula> .mode csv
tabula> SELECT code, credits FROM courses WHERE id <= 2; SELECT 'a;b' AS \"x;y\";
code,credits
CS101,4
CS201,4
x;y
a;b
tabula> .mode json
tabula> SELECT id FROM courses WHERE id < 3;
[
  {{\"id\":1}},
  {{\"id\":2}}
]
tabula> .mode jsonl
tabula> SELECT id FROM courses WHERE id < 3;
{{\"id\":1}}
{{\"id\":2}}
tabula> SELECT id FROM courses WHERE id > 99;
tabula> .mode
mode jsonl
tabula> .mode table
tabula> SELECT COUNT(*) AS n FROM courses
   ...> ;
┌───┐
│ n │
├───┤
│ 5 │
└───┘
1 row(s)
tabula> 
"
    );
    assert_eq!(out, expected);
}

#[test]
fn dot_commands() {
    let (_d, _path, p) = demo();
    let out = shell(
        &p,
        ".help\n.tables\n.schema courses\n.explain SELECT name FROM students WHERE year = 2024;\n\
         .explain on\nSELECT code FROM courses WHERE id = 1;\n.explain off\n.explain\n\
         .timer on\nSELECT 1 AS one;\n.timer off\n.timer\n\
         .frobnicate\n.mode xml\n.timer sometimes\n.explain maybe\n.schema nope\n.tables extra\n\
         .quit\nSELECT 'never run';\n",
    );
    let (before_timer, after) = out.split_once("tabula> .timer on\n").expect("timer");
    // .help: its first line, and a line for every command.
    let (help, before_timer) = before_timer
        .split_once("tabula> .tables\n")
        .expect("tables");
    let help = help
        .strip_prefix(&format!("{BANNER}tabula> .help\n"))
        .expect("help");
    assert!(help.starts_with(HELP_START), "{help}");
    for command in [
        "  .tables ",
        "  .schema [TABLE] ",
        "  .mode [MODE] ",
        "  .timer on|off ",
        "  .explain on|off ",
        "  .explain SELECT ... ",
        "  .help ",
        "  .quit, .exit ",
    ] {
        assert!(help.contains(command), "{command:?} in\n{help}");
    }
    let expected_before = format!(
        "\
┌───────────────┬──────┬────────────────┬───────────────────────────┐
│ table         │ rows │ snapshot bytes │ indexes                   │
├───────────────┼──────┼────────────────┼───────────────────────────┤
│ courses       │ 5    │ 320            │ id, code                  │
│ registrations │ 12   │ 606            │ id, student_id, course_id │
│ students      │ 7    │ 764            │ id, email, year           │
└───────────────┴──────┴────────────────┴───────────────────────────┘
tabula> .schema courses
table courses
┌─────────┬──────┬──────────┬─────────┬─────────────┐
│ column  │ type │ nullable │ default │ constraints │
├─────────┼──────┼──────────┼─────────┼─────────────┤
│ id      │ u64  │ no       │         │ primary key │
│ code    │ text │ no       │         │ unique      │
│ title   │ text │ no       │         │             │
│ credits │ u8   │ no       │ 3       │             │
└─────────┴──────┴──────────┴─────────┴─────────────┘
tabula> .explain SELECT name FROM students WHERE year = 2024;
{plan_students}
tabula> .explain on
tabula> SELECT code FROM courses WHERE id = 1;
{plan_courses}
┌───────┐
│ code  │
├───────┤
│ CS101 │
└───────┘
1 row(s)
tabula> .explain off
tabula> .explain
explain off (.explain on|off, or .explain SELECT ...)
",
        plan_students = plan(&p, "SELECT name FROM students WHERE year = 2024"),
        plan_courses = plan(&p, "SELECT code FROM courses WHERE id = 1"),
    );
    assert_eq!(before_timer, expected_before);
    let mut lines = after.lines();
    assert_eq!(lines.next(), Some("tabula> SELECT 1 AS one;"));
    let table: Vec<&str> = lines.by_ref().take(6).collect();
    assert_eq!(
        table,
        [
            "┌─────┐",
            "│ one │",
            "├─────┤",
            "│ 1   │",
            "└─────┘",
            "1 row(s)"
        ]
    );
    let time = lines.next().expect("time line");
    let ms = time
        .strip_prefix("time: ")
        .and_then(|t| t.strip_suffix(" ms"))
        .and_then(|t| t.parse::<f64>().ok());
    assert!(ms.is_some_and(|ms| ms >= 0.0), "{time}");
    let rest: Vec<&str> = lines.collect();
    assert_eq!(
        rest,
        [
            "tabula> .timer off",
            "tabula> .timer",
            "timer off",
            "tabula> .frobnicate",
            "error: unknown command .frobnicate (.help lists the commands)",
            "tabula> .mode xml",
            "error: unknown mode \"xml\": one of table, csv, json, jsonl",
            "tabula> .timer sometimes",
            "error: .timer takes on or off, not \"sometimes\"",
            "tabula> .explain maybe",
            "error: .explain takes on, off or a query, not \"maybe\"",
            "tabula> .schema nope",
            "error: no table named \"nope\"",
            "tabula> .tables extra",
            "error: .tables takes no argument",
            "tabula> .quit",
        ]
    );
    assert!(!out.contains("never run"));
}

/// `.explain` runs a query that starts after a comment; a single word that starts no query
/// is taken for a mistyped on or off.
#[test]
fn explain_reads_a_query_after_a_comment() {
    let (_d, _path, p) = demo();
    let out = shell(
        &p,
        ".explain /* which plan */ SELECT code FROM courses WHERE id = 1;\n.explain onn\n",
    );
    let expected = format!(
        "{BANNER}\
tabula> .explain /* which plan */ SELECT code FROM courses WHERE id = 1;
{plan}
tabula> .explain onn
error: .explain takes on, off or a query, not \"onn\"
tabula> 
",
        plan = plan(&p, "SELECT code FROM courses WHERE id = 1"),
    );
    assert_eq!(out, expected);
}

/// The first line of `.help`.
const HELP_START: &str = "Statements end with ; and may span lines.";

/// The plan `tabula sql` prints for `EXPLAIN query`, as the shell prints it.
fn plan(dir: &str, query: &str) -> String {
    let o = tabula(&["sql", dir, &format!("EXPLAIN {query}"), "--format", "jsonl"]);
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            format!("plan: {}", v["plan"].as_str().expect("plan text"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn transaction_across_prompts() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("db").display().to_string();
    let out = shell(
        &p,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);\n\
         INSERT INTO t (name) VALUES ('kept');\n\
         BEGIN;\nINSERT INTO t (name) VALUES ('gone');\nSELECT name FROM t ORDER BY id;\nROLLBACK;\n\
         SELECT name FROM t ORDER BY id;\n\
         BEGIN;\nINSERT INTO t (name)\n  VALUES ('new');\nINSERT INTO t (name) VALUES ('kept');\n\
         UPDATE t SET name = 'newer' WHERE name = 'new';\nCOMMIT;\n\
         ROLLBACK;\n.schema\n.exit\nSELECT 'not run';\n",
    );
    let expected = "\
Connected to DIR (writable).
Statements end with ;  .help lists the commands, .quit leaves.
tabula> CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
ok
tabula> INSERT INTO t (name) VALUES ('kept');
1 row(s) changed
tabula> BEGIN;
transaction open
tabula*> INSERT INTO t (name) VALUES ('gone');
1 row(s) changed
tabula*> SELECT name FROM t ORDER BY id;
┌──────┐
│ name │
├──────┤
│ kept │
│ gone │
└──────┘
2 row(s)
tabula*> ROLLBACK;
rolled back
tabula> SELECT name FROM t ORDER BY id;
┌──────┐
│ name │
├──────┤
│ kept │
└──────┘
1 row(s)
tabula> BEGIN;
transaction open
tabula*> INSERT INTO t (name)
    ...>   VALUES ('new');
1 row(s) changed
tabula*> INSERT INTO t (name) VALUES ('kept');
error: unique constraint t.name violated by \"kept\"
note: the transaction is still open; the failed statement changed nothing
tabula*> UPDATE t SET name = 'newer' WHERE name = 'new';
1 row(s) changed
tabula*> COMMIT;
committed
tabula> ROLLBACK;
error: no transaction is open (BEGIN starts one)
tabula> .schema
table t
┌────────┬──────┬──────────┬─────────┬─────────────┐
│ column │ type │ nullable │ default │ constraints │
├────────┼──────┼──────────┼─────────┼─────────────┤
│ id     │ i64  │ no       │         │ primary key │
│ name   │ text │ no       │         │ unique      │
└────────┴──────┴──────────┴─────────┴─────────────┘
tabula> .exit
";
    assert_eq!(out, expected);
    // Committed for good: another process sees it after the shell closed the database. (The
    // rolled-back row's key is given again, as SQLite does without AUTOINCREMENT.)
    let o = tabula(&[
        "sql",
        &p,
        "SELECT id, name FROM t ORDER BY id",
        "--format",
        "csv",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "id,name\n1,kept\n2,newer\n"
    );
}

#[test]
fn quitting_with_an_open_transaction_rolls_it_back() {
    let (_d, _path, p) = demo();
    for quit in [".quit\n", ""] {
        let out = shell(
            &p,
            &format!("BEGIN;\nDELETE FROM registrations;\nSELECT COUNT(*) AS n FROM registrations;\n{quit}"),
        );
        let end = if quit.is_empty() {
            "tabula*> \n"
        } else {
            "tabula*> .quit\n"
        };
        let expected = format!(
            "{BANNER}\
tabula> BEGIN;
transaction open
tabula*> DELETE FROM registrations;
12 row(s) changed
tabula*> SELECT COUNT(*) AS n FROM registrations;
┌───┐
│ n │
├───┤
│ 0 │
└───┘
1 row(s)
{end}note: the open transaction was rolled back (COMMIT keeps a transaction's changes)
"
        );
        assert_eq!(out, expected);
        let o = tabula(&[
            "sql",
            &p,
            "SELECT COUNT(*) AS n FROM registrations",
            "--format",
            "csv",
        ]);
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "n\n12\n",
            "{}",
            text(&o)
        );
    }
}

#[test]
fn errors_are_printed_and_the_shell_goes_on() {
    let (_d, _path, p) = demo();
    let out = shell(
        &p,
        "SELECT nope FROM students;\nSELECT * FROM nowhere;\nSELEC 1;\n\
         SELECT name FROM students WHERE id = 1; SELECT 1/; SELECT 2;\n\
         COMMIT;\nSELECT ROW_NUMBER() OVER () FROM students;\n\
         INSERT INTO courses (code, title) VALUES ('CS101', 'again');\n\
         SELECT 'still here' AS status;\nSELECT 'unfinished\n",
    );
    let expected = format!(
        "{BANNER}\
tabula> SELECT nope FROM students;
error: SQL error at line 1, column 8: table students has no column nope
tabula> SELECT * FROM nowhere;
error: {unknown_table}
tabula> SELEC 1;
error: {parse_error}
tabula> SELECT name FROM students WHERE id = 1; SELECT 1/; SELECT 2;
┌───────────────┐
│ name          │
├───────────────┤
│ Alice Johnson │
└───────────────┘
1 row(s)
error: SQL error at line 1, column 50: sql parser error: Expected: an expression, found: EOF
note: the 1 statement(s) after it in the same input were not run
tabula> COMMIT;
error: no transaction is open (BEGIN starts one)
tabula> SELECT ROW_NUMBER() OVER () FROM students;
error: {window_error}
tabula> INSERT INTO courses (code, title) VALUES ('CS101', 'again');
error: unique constraint courses.code violated by \"CS101\"
tabula> SELECT 'still here' AS status;
┌────────────┐
│ status     │
├────────────┤
│ still here │
└────────────┘
1 row(s)
tabula> SELECT 'unfinished
   ...> 
note: the unfinished statement at the end of the input was not run
",
        // Positions are those of the input as typed: the failed statement's column counts
        // from the start of its line, the statement before it included.
        unknown_table = library_error(&p, "SELECT * FROM nowhere"),
        parse_error = library_error(&p, "SELEC 1"),
        window_error = library_error(&p, "SELECT ROW_NUMBER() OVER () FROM students"),
    );
    assert_eq!(out, expected);
    // The failed insert took the lock and changed nothing.
    let o = tabula(&[
        "sql",
        &p,
        "SELECT COUNT(*) AS n FROM courses",
        "--format",
        "csv",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "n\n5\n");
}

/// The library's message for `sql` as `tabula sql` prints it (after `tabula: `).
fn library_error(dir: &str, sql: &str) -> String {
    let o = tabula(&["sql", dir, sql]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    err.trim_end()
        .strip_prefix("tabula: ")
        .expect("tabula: prefix")
        .to_owned()
}

/// A shell that holds the database's lock (it wrote) makes another shell's write fail with
/// `Locked`, inside a transaction too (its first write asks for the lock); that shell stays
/// usable read-only and sees what the first one committed, and its COMMIT says nothing was
/// committed (it said "committed").
#[test]
fn a_locked_database_leaves_the_shell_read_only() {
    let (_d, _path, p) = demo();
    let (writer, stdin) = locking_shell(&p);
    let out = shell(
        &p,
        "SELECT COUNT(*) AS n FROM courses;\nDELETE FROM courses WHERE code = 'CS999';\nBEGIN;\n\
         SELECT code FROM courses WHERE id > 5;\nDELETE FROM courses WHERE code = 'CS999';\n\
         SELECT COUNT(*) AS n FROM courses;\nCOMMIT;\n",
    );
    let locked =
        "error: opening DIR: database DIR is locked: it is open in another process (or another Database in \
         this one); it can be read beside it (Database::open_read_only, or any tabula read \
         command), and written only through it\n\
         note: the shell stays read-only: reads go on; a write can be tried again later\n";
    // BEGIN takes no lock: the transaction reads until its first write asks for it.
    let in_tx = locked.replacen(
        "\nnote: ",
        "\nnote: the transaction is still open; the failed statement changed nothing\nnote: ",
        1,
    );
    let expected = format!(
        "{BANNER}\
tabula> SELECT COUNT(*) AS n FROM courses;
┌───┐
│ n │
├───┤
│ 6 │
└───┘
1 row(s)
tabula> DELETE FROM courses WHERE code = 'CS999';
{locked}tabula> BEGIN;
transaction open
tabula*> SELECT code FROM courses WHERE id > 5;
┌───────┐
│ code  │
├───────┤
│ CS999 │
└───────┘
1 row(s)
tabula*> DELETE FROM courses WHERE code = 'CS999';
{in_tx}tabula*> SELECT COUNT(*) AS n FROM courses;
┌───┐
│ n │
├───┤
│ 6 │
└───┘
1 row(s)
tabula*> COMMIT;
ended: it only read, so there was nothing to commit
tabula> 
"
    );
    assert_eq!(out, expected);
    drop(stdin);
    let o = writer.wait_with_output().expect("wait");
    assert!(o.status.success(), "{}", text(&o));
}

/// A script whose write finds the database locked prints the rows of the queries before
/// that write first, as it does before any other failing statement (and as sqlite3 does).
#[test]
fn a_locked_script_prints_the_queries_before_its_first_write() {
    let (_d, _path, p) = demo();
    let (writer, stdin) = locking_shell(&p);
    let o = tabula(&[
        "sql",
        &p,
        "SELECT COUNT(*) AS n FROM courses; DELETE FROM courses WHERE code = 'CS999'; \
         SELECT 1 AS never",
        "--format",
        "csv",
    ]);
    assert!(!o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout), "n\n6\n");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("is locked"), "{err}");
    drop(stdin);
    let o = writer.wait_with_output().expect("wait");
    assert!(o.status.success(), "{}", text(&o));
}

/// A script with CR LF line ends, driven through `--interactive`: a carriage return inside
/// a string literal that spans lines stays the text's (as `tabula sql DIR < FILE` keeps
/// it), while the ones ending the other lines are white space, dot commands included.
#[test]
fn crlf_lines_keep_the_carriage_returns_inside_a_string() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("db");
    let p = p.to_str().unwrap();
    let out = shell(
        p,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\r\n\r\n.mode jsonl\r\n\
         INSERT INTO t (v) VALUES ('cr\r\nlf');\r\nSELECT v FROM t;\r\n",
    );
    assert!(out.contains(r#"{"v":"cr\r\nlf"}"#), "{out}");
    assert!(!out.contains("error"), "{out}");
}

/// A shell that has written to `dir` (course CS999), so holds its lock until its standard
/// input, returned beside it, closes.
fn locking_shell(dir: &str) -> (Child, std::process::ChildStdin) {
    let mut writer = spawn_shell(dir);
    let mut stdin = writer.stdin.take().expect("stdin");
    stdin
        .write_all(b"INSERT INTO courses (code, title) VALUES ('CS999', 'Locks');\n")
        .expect("write");
    wait_for(&mut writer, "1 row(s) changed");
    (writer, stdin)
}

/// Reads `child`'s standard output until a line contains `wanted`.
fn wait_for(child: &mut Child, wanted: &str) {
    let stdout = child.stdout.as_mut().expect("stdout");
    let mut lines = BufReader::new(stdout);
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = lines.read_line(&mut line).expect("read");
        assert!(n > 0, "the shell ended before printing {wanted:?}:\n{seen}");
        seen.push_str(&line);
        if line.contains(wanted) {
            return;
        }
    }
}

/// `.tables` and `.schema` inside a transaction show the committed state: they read on the
/// shell's thread while the transaction's thread holds the writers' lock, and never wait
/// for it.
#[test]
fn dot_commands_inside_a_transaction_read_the_committed_state() {
    let (_d, _path, p) = demo();
    let out = shell(
        &p,
        "BEGIN;\nDELETE FROM registrations;\n.tables\n.mode csv\n.schema registrations\nCOMMIT;\n\
         .mode table\n.tables\n",
    );
    let expected = format!(
        "{BANNER}\
tabula> BEGIN;
transaction open
tabula*> DELETE FROM registrations;
12 row(s) changed
tabula*> .tables
┌───────────────┬──────┬────────────────┬───────────────────────────┐
│ table         │ rows │ snapshot bytes │ indexes                   │
├───────────────┼──────┼────────────────┼───────────────────────────┤
│ courses       │ 5    │ 320            │ id, code                  │
│ registrations │ 12   │ 606            │ id, student_id, course_id │
│ students      │ 7    │ 764            │ id, email, year           │
└───────────────┴──────┴────────────────┴───────────────────────────┘
tabula*> .mode csv
tabula*> .schema registrations
table,name,type,nullable,primary_key,references
registrations,id,u64,false,true,
registrations,student_id,u64,false,,\"{{\"\"on_delete\"\":\"\"cascade\"\",\"\"table\"\":\"\"students\"\"}}\"
registrations,course_id,u64,false,,\"{{\"\"on_delete\"\":\"\"restrict\"\",\"\"table\"\":\"\"courses\"\"}}\"
registrations,grade,f64,true,,
tabula*> COMMIT;
committed
tabula> .mode table
tabula> .tables
┌───────────────┬──────┬────────────────┬───────────────────────────┐
│ table         │ rows │ snapshot bytes │ indexes                   │
├───────────────┼──────┼────────────────┼───────────────────────────┤
│ courses       │ 5    │ 320            │ id, code                  │
│ registrations │ 0    │ 606            │ id, student_id, course_id │
│ students      │ 7    │ 764            │ id, email, year           │
└───────────────┴──────┴────────────────┴───────────────────────────┘
tabula> 
"
    );
    assert_eq!(out, expected);
}

/// Foreign keys are checked at commit (deferred): a COMMIT refused by one rolls the whole
/// transaction back, and the shell says so.
#[test]
fn a_refused_commit_rolls_the_transaction_back() {
    let (_d, _path, p) = demo();
    let out = shell(
        &p,
        "BEGIN;\nDELETE FROM courses WHERE code = 'CS101';\nCOMMIT;\n\
         SELECT COUNT(*) AS n FROM courses;\n",
    );
    let fk = "foreign key registrations.course_id -> courses: cannot delete courses 1: 5 row(s) \
              of registrations still reference it (value 1)";
    let expected = format!(
        "{BANNER}\
tabula> BEGIN;
transaction open
tabula*> DELETE FROM courses WHERE code = 'CS101';
1 row(s) changed
tabula*> COMMIT;
error: {fk}
note: the transaction was rolled back: none of its changes were kept
tabula> SELECT COUNT(*) AS n FROM courses;
┌───┐
│ n │
├───┤
│ 5 │
└───┘
1 row(s)
tabula> 
"
    );
    assert_eq!(out, expected);
}

/// A shell run step by step: a line is sent, and what it printed up to the next prompt is
/// read back.
struct Driver {
    child: Child,
    stdin: std::process::ChildStdin,
    /// Standard output and standard error, in the order they were written.
    stdout: std::io::PipeReader,
}

impl Driver {
    fn start(dir: &str) -> (Driver, String) {
        let (stdout, writer) = std::io::pipe().expect("pipe");
        let mut child = Command::new(env!("CARGO_BIN_EXE_tabula"))
            .args(["sql", dir, "--interactive"])
            .stdin(Stdio::piped())
            .stdout(writer.try_clone().expect("clone pipe"))
            .stderr(writer)
            .spawn()
            .expect("run tabula");
        let stdin = child.stdin.take().expect("stdin");
        let mut d = Driver {
            child,
            stdin,
            stdout,
        };
        let banner = d.until_prompt();
        (d, banner)
    }

    /// Everything printed up to and including the next prompt.
    fn until_prompt(&mut self) -> String {
        let mut seen = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            let n = self.stdout.read(&mut byte).expect("read");
            assert!(
                n > 0,
                "the shell ended:\n{}",
                String::from_utf8_lossy(&seen)
            );
            seen.push(byte[0]);
            let text = String::from_utf8_lossy(&seen);
            if text.ends_with("tabula> ") || text.ends_with("tabula*> ") {
                return text.into_owned();
            }
        }
    }

    /// Types `line`; what it printed, with the next prompt.
    fn line(&mut self, line: &str) -> String {
        writeln!(self.stdin, "{line}").expect("write");
        self.until_prompt()
    }

    fn quit(mut self) {
        self.line(".help");
        drop(self.stdin);
        let status = self.child.wait().expect("wait");
        assert!(status.success());
    }
}

/// A read-only shell shows, at each statement, what writers committed since the last one:
/// a write command that checkpointed as it closed, and a writer that keeps the database
/// open and only appends to the log.
#[test]
fn a_read_only_shell_sees_what_writers_commit_meanwhile() {
    let (_d, _path, p) = demo();
    let count = "SELECT COUNT(*) AS n FROM courses;";
    let (mut reader, _) = Driver::start(&p);
    assert!(reader.line(count).contains("│ 5 │"));
    assert!(reader.line(count).contains("│ 5 │"));
    let o = tabula(&[
        "insert",
        &p,
        "courses",
        r#"{"code":"CS400","title":"Four"}"#,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(reader.line(count).contains("│ 6 │"));
    let (mut writer, _) = Driver::start(&p);
    let out = writer.line("INSERT INTO courses (code, title) VALUES ('CS500', 'Five');");
    assert!(out.contains("1 row(s) changed"), "{out}");
    assert!(reader.line(count).contains("│ 7 │"));
    let out = writer.line("INSERT INTO courses (code, title) VALUES ('CS600', 'Six');");
    assert!(out.contains("1 row(s) changed"), "{out}");
    let out = reader.line("SELECT code FROM courses WHERE id > 5;");
    assert!(
        out.contains("CS400") && out.contains("CS500") && out.contains("CS600"),
        "{out}"
    );
    writer.quit();
    reader.quit();
}

/// `BEGIN` takes no lock (SQLite's deferred `BEGIN`): another process commits beside the
/// open transaction, which goes on reading the version it began with; its first write is
/// then refused (what it read is older than what it would change), and after `ROLLBACK` a
/// new transaction sees the commit. A transaction whose version is still the newest takes
/// the lock at its first write and goes on writing.
#[test]
fn a_transaction_reads_without_the_lock_until_its_first_write() {
    let (_d, _path, p) = demo();
    let count = "SELECT COUNT(*) AS n FROM courses;";
    let insert = |code: &str| {
        tabula(&[
            "insert",
            &p,
            "courses",
            &format!(r#"{{"code":"{code}","title":"{code}"}}"#),
        ])
    };
    let (mut shell, _) = Driver::start(&p);
    assert!(shell.line("BEGIN;").contains("transaction open"));
    assert!(shell.line(count).contains("│ 5 │"));
    let o = insert("CS400");
    assert!(o.status.success(), "{}", text(&o));
    assert!(shell.line(count).contains("│ 5 │"));
    let out = shell.line("INSERT INTO courses (code, title) VALUES ('CS500', 'Five');");
    assert!(
        out.contains("error: another process committed since this transaction began")
            && out.contains("ROLLBACK and run it again")
            && out.ends_with("tabula*> "),
        "{out}"
    );
    assert!(shell.line(count).contains("│ 5 │"));
    assert!(shell.line("ROLLBACK;").contains("rolled back"));
    assert!(shell.line(count).contains("│ 6 │"));

    assert!(shell.line("BEGIN;").contains("transaction open"));
    assert!(shell.line(count).contains("│ 6 │"));
    // A checkpoint by another process commits nothing: the first write goes ahead.
    let o = tabula(&["checkpoint", &p]);
    assert!(o.status.success(), "{}", text(&o));
    let out = shell.line("INSERT INTO courses (code, title) VALUES ('CS500', 'Five');");
    assert!(out.contains("1 row(s) changed"), "{out}");
    assert!(shell.line(count).contains("│ 7 │"));
    // The shell holds the lock from its first write.
    let o = insert("CS600");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is open in another process"),
        "{}",
        text(&o)
    );
    assert!(shell.line("COMMIT;").contains("committed"));
    shell.quit();
    let o = tabula(&[
        "sql",
        &p,
        "SELECT code FROM courses WHERE id > 5 ORDER BY id",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("CS400") && out.contains("CS500") && !out.contains("CS600"),
        "{out}"
    );
}

/// A read transaction's first write that fails (a statement tabula refuses, a constraint)
/// wrote nothing: the lock it took goes back, and the transaction goes on reading.
#[test]
fn a_failed_first_write_gives_the_lock_back() {
    let (_d, _path, p) = demo();
    let count = "SELECT COUNT(*) AS n FROM courses;";
    let (mut shell, _) = Driver::start(&p);
    assert!(shell.line("BEGIN;").contains("transaction open"));
    assert!(shell.line(count).contains("│ 5 │"));
    for failing in [
        "VACUUM;",
        "INSERT INTO courses (code, title) VALUES (NULL, NULL);",
    ] {
        let out = shell.line(failing);
        assert!(
            out.contains("error:") && out.ends_with("tabula*> "),
            "{out}"
        );
        let o = tabula(&[
            "sql",
            &p,
            "INSERT INTO courses (code, title) VALUES ('X1', 'x'); \
             DELETE FROM courses WHERE code = 'X1'",
        ]);
        assert!(o.status.success(), "{failing}: {}", text(&o));
    }
    // Another process committed meanwhile: the transaction's next write is refused.
    let out = shell.line("INSERT INTO courses (code, title) VALUES ('CS500', 'Five');");
    assert!(out.contains("another process committed"), "{out}");
    assert!(shell.line("ROLLBACK;").contains("rolled back"));
    shell.quit();
}

/// `BEGIN IMMEDIATE` (and `EXCLUSIVE`) takes the lock at once, as in SQLite: another
/// process's write is refused from then on, and the transaction's writes never are.
#[test]
fn begin_immediate_takes_the_lock_at_once() {
    let (_d, _path, p) = demo();
    let (mut shell, _) = Driver::start(&p);
    assert!(shell.line("BEGIN IMMEDIATE;").contains("transaction open"));
    let o = tabula(&[
        "insert",
        &p,
        "courses",
        r#"{"code":"CS400","title":"Four"}"#,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = shell.line("INSERT INTO courses (code, title) VALUES ('CS500', 'Five');");
    assert!(out.contains("1 row(s) changed"), "{out}");
    assert!(shell.line("COMMIT;").contains("committed"));
    shell.quit();
}

#[test]
fn complete_statements_run_even_when_the_input_ends_inside_another() {
    let (_d, _path, p) = demo();
    let out = shell(&p, "SELECT 1 AS one; SELECT 2 FROM\n");
    assert!(out.contains("│ one │"), "{out}");
    assert!(
        out.contains("note: the unfinished statement at the end of the input was not run"),
        "{out}"
    );
}

/// `.read FILE` runs a file as if its lines were typed: statements, dot commands (a mode
/// it sets stays), nested `.read`s (to a depth: a file reading itself stops), an error
/// that leaves the rest running, an unfinished statement at its end not run; `.dump`
/// prints the committed database as a script that loads into a new database.
#[test]
fn read_runs_a_file_as_typed_and_dump_prints_a_loadable_script() {
    let (_d, _path, p) = demo();
    let files = tempfile::tempdir().unwrap();
    let at = |name: &str| files.path().join(name).display().to_string();
    std::fs::write(
        at("main.sql"),
        format!(
            "-- a script\nSELECT count(*) AS n\n  FROM courses;\n.mode bogus\n.mode csv\n\
             SELECT nope FROM courses;\n.read '{}'\nSELECT 'unfinished'\n",
            at("inner.sql")
        ),
    )
    .unwrap();
    std::fs::write(at("inner.sql"), "SELECT 'inner' AS x;\n").unwrap();
    std::fs::write(at("self.sql"), format!(".read {}\n", at("self.sql"))).unwrap();
    let out = shell(
        &p,
        &format!(
            ".read {}\n.mode\n.read {}\n.read {}\n.read\n",
            at("main.sql"),
            at("self.sql"),
            at("missing.sql")
        ),
    );
    assert!(out.contains("│ n │"), "{out}");
    // A failing command or statement is reported, and the file goes on.
    assert!(out.contains("error: unknown mode \"bogus\""), "{out}");
    // Placed in the file, which is named.
    assert!(
        out.contains("error: SQL error at line 6, column 8"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "note: in {}, the statement at line 6",
            at("main.sql")
        )),
        "{out}"
    );
    assert!(out.contains("x\ninner\n"), "{out}");
    assert!(
        out.contains("the unfinished statement at the end of") && !out.contains("unfinished\n"),
        "{out}"
    );
    assert!(out.contains("mode csv"), "{out}");
    assert!(out.contains("error: .read nested 16 deep"), "{out}");
    assert!(
        out.contains("error: reading") && out.contains("missing.sql"),
        "{out}"
    );
    assert!(
        out.contains("error: .read takes the name of a file"),
        "{out}"
    );

    // `.quit` in a file ends that file, not the shell (as in sqlite3), nested or not.
    std::fs::write(
        at("quits.sql"),
        "SELECT 'before' AS q;\n.quit\nSELECT 'after' AS q;\n",
    )
    .unwrap();
    std::fs::write(
        at("outer.sql"),
        format!(".read {}\nSELECT 'outer goes on' AS q;\n", at("quits.sql")),
    )
    .unwrap();
    let out = shell(
        &p,
        &format!(
            ".mode csv\n.read {}\nSELECT 'shell goes on' AS q;\n",
            at("outer.sql")
        ),
    );
    for line in ["before", "outer goes on", "shell goes on"] {
        assert!(out.contains(&format!("q\n{line}\n")), "{line}: {out}");
    }
    assert!(!out.contains("after"), "{out}");

    // COPY … FROM stdin cannot be typed, nor read from a file as typed: its rows are lines.
    std::fs::write(
        at("copy.sql"),
        "COPY courses (id, code) FROM stdin;\n9\tX9\n\\.\n",
    )
    .unwrap();
    let out = shell(
        &p,
        &format!(
            "COPY courses (id, code) FROM stdin;\n.read {}\n",
            at("copy.sql")
        ),
    );
    assert!(
        out.contains("error: COPY … FROM stdin reads its rows from the lines after it"),
        "{out}"
    );
    assert!(out.contains("holds COPY … FROM stdin"), "{out}");

    // Not inside an open transaction (it would wait for it); after it, the whole database.
    let out = shell(
        &p,
        "BEGIN;\nDELETE FROM registrations;\n.dump\nROLLBACK;\n.dump\n",
    );
    assert!(
        out.contains(
            "error: .dump reads the committed database, not the open transaction's: COMMIT or \
             ROLLBACK first"
        ),
        "{out}"
    );
    let start = out.find("-- tabula dump").expect("a dump");
    let end = out.find("COMMIT;\n").expect("its end") + "COMMIT;\n".len();
    let script = &out[start..end];
    let copy = tempfile::tempdir().unwrap();
    let c = copy.path().join("db").display().to_string();
    let o = common::tabula_with_input(&["sql", &c], script.as_bytes());
    assert!(o.status.success(), "{}", text(&o));
    for table in ["students", "courses", "registrations"] {
        let count = |dir: &str| {
            let o = tabula(&["sql", dir, &format!("SELECT count(*) FROM {table}")]);
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        assert_eq!(count(&c), count(&p), "{table}");
    }
}

/// A reader that goes away mid-transaction ends the shell as the end of input does: the
/// transaction is rolled back, and standard error says so (the echo of a line read is
/// where a piped shell meets the closed pipe first).
#[test]
fn a_reader_gone_mid_transaction_rolls_it_back_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("db").display().to_string();
    let rows: Vec<String> = (0..100).map(|i| format!("({i})")).collect();
    let load = format!(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER); INSERT INTO t (v) VALUES {}",
        rows.join(", ")
    );
    let o = common::tabula_with_input(&["sql", &p], load.as_bytes());
    assert!(o.status.success(), "{}", text(&o));
    let mut child = spawn_shell(&p);
    // The lines after the DELETE are comments, which print nothing but their echo: the
    // echoes fill the pipe, and the shell is still echoing them when the reader leaves,
    // long before COMMIT.
    let mut input = b"BEGIN;\nDELETE FROM t WHERE v < 10;\n".to_vec();
    for _ in 0..20_000 {
        input.extend_from_slice(b"-- a comment, echoed as it is read\n");
    }
    input.extend_from_slice(b"COMMIT;\n");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        // The shell stops reading when its reader leaves: the rest is not wanted.
        let _ = stdin.write_all(&input);
    });
    // Read until the DELETE's count (the transaction is open then), and leave.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("row(s) changed") {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the shell ended early"
        );
    }
    drop(out);
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("note: the open transaction was rolled back"),
        "{err}"
    );
    let o = tabula(&["sql", &p, "--format", "csv", "SELECT count(*) AS n FROM t"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "n\n100\n");
}

/// `.explain` plans one query and runs nothing: what follows a `;` (a `DROP TABLE`, an
/// `UPDATE`) used to run, taking the lock first on the read-only shell.
#[test]
fn explain_runs_nothing_after_its_query() {
    let (_d, _path, p) = demo();
    let out = shell(
        &p,
        ".explain SELECT 1; DROP TABLE registrations
         .explain SELECT id FROM students; UPDATE students SET gpa = 0
         .explain SELECT 1; SELECT 2
         .explain SELECT E'\\''; DROP TABLE registrations; SELECT E'\\''
         .explain SELECT 'open
         SELECT COUNT(*) AS n FROM students WHERE gpa = 0;
",
    );
    assert_eq!(
        out.matches("error: .explain takes one query, not 2 statements: nothing was run")
            .count(),
        3,
        "{out}"
    );
    // Where the shell's split of the words sees one statement, the library's tokens see
    // three (`E'\''` is one string to it).
    assert!(
        out.contains("error: .explain takes one query, not 3 statements: nothing was run"),
        "{out}"
    );
    assert!(out.contains("Unterminated string literal"), "{out}");
    assert!(out.contains("│ 0 │"), "{out}");
    let o = tabula(&["tables", &p]);
    assert!(text(&o).contains("registrations"), "{}", text(&o));
}

/// `.tables` on a database with a damaged snapshot lists every table as `tabula tables`
/// does, the damaged one marked, then says why and where to go; the others still read.
#[test]
fn tables_lists_every_table_beside_a_damaged_one() {
    let (_d, path, p) = demo();
    let snapshot = path.join("data/students.records");
    let mut bytes = std::fs::read(&snapshot).expect("read snapshot");
    bytes[30] ^= 1;
    std::fs::write(&snapshot, bytes).expect("write snapshot");
    let out = shell(
        &p,
        ".tables
SELECT COUNT(*) AS n FROM courses;
",
    );
    for expected in [
        "│ courses       │ 5 ",
        "│ students      │ 7 (damaged snapshot) │",
        "error: DIR/data/students.records: corrupt: checksum",
        "note: `tabula verify DIR` lists every problem",
        "│ 5 │",
    ] {
        assert!(
            out.contains(expected),
            "{expected:?} in
{out}"
        );
    }
}

/// A transaction's statement is read in the forms SQL writes it, not by its first word:
/// `BEGIN foo bar` opened a transaction and `COMMIT please` committed.
#[test]
fn transaction_statements_are_read_whole() {
    let (_d, _path, p) = demo();
    let out = shell(
        &p,
        "BEGIN foo bar;
COMMIT please;
BEGIN IMMEDIATE TRANSACTION;
         DELETE FROM registrations WHERE id = 1;
COMMIT /* done */;
         START TRANSACTION;
ROLLBACK WORK;
",
    );
    let errors = out
        .lines()
        .filter(|l| l.starts_with("error: SQL error"))
        .count();
    assert_eq!(errors, 2, "{out}");
    assert!(!out.contains("tabula*> COMMIT please"), "{out}");
    assert!(
        out.contains("tabula> BEGIN IMMEDIATE TRANSACTION;\ntransaction open\n"),
        "{out}"
    );
    assert!(
        out.contains("tabula*> COMMIT /* done */;\ncommitted\n"),
        "{out}"
    );
    assert!(
        out.contains("tabula*> ROLLBACK WORK;\nrolled back\n"),
        "{out}"
    );
}

/// `.schema` takes a table's name quoted too, as SQL and `.read` take names.
#[test]
fn schema_takes_a_quoted_name() {
    let (_d, _path, p) = demo();
    let out = shell(&p, ".schema \"courses\"\n.schema 'courses'\n");
    assert_eq!(out.matches("table courses\n").count(), 2, "{out}");
    assert!(!out.contains("error:"), "{out}");
}

/// An existing empty directory is a new database, as `tabula sql DIR "…"` makes one.
#[test]
fn an_empty_directory_becomes_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().display().to_string();
    let out = shell(
        &p,
        "CREATE TABLE t (id INTEGER PRIMARY KEY);\nSELECT count(*) AS n FROM t;\n",
    );
    assert!(out.starts_with("Connected to DIR (writable)."), "{out}");
    assert!(out.contains("│ 0 │"), "{out}");
    assert!(dir.path().join("schema/t.schema.json").exists());
}

/// `.read` keeps a carriage return that is part of a line (inside a text literal), so a
/// dump read back that way keeps its values exactly; a byte-order mark is skipped.
#[test]
fn read_keeps_carriage_returns_inside_values() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src").display().to_string();
    let o = tabula(&[
        "sql",
        &src,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = tabula(&["insert", &src, "t", r#"{"v": "a\r\nb"}"#]);
    assert!(o.status.success(), "{}", text(&o));
    let o = tabula(&["dump", &src]);
    assert!(o.status.success(), "{}", text(&o));
    let file = dir.path().join("dump.sql");
    let mut script = "\u{feff}".as_bytes().to_vec();
    script.extend_from_slice(&o.stdout);
    std::fs::write(&file, script).unwrap();
    let copy = dir.path().join("copy").display().to_string();
    let out = shell(&copy, &format!(".read {}\n", file.display()));
    assert!(!out.contains("error"), "{out}");
    let o = tabula(&["sql", &copy, "--format", "jsonl", "SELECT v FROM t"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "{\"v\":\"a\\r\\nb\"}\n");
}

/// A line that is not UTF-8 is not run with its bytes replaced: it is dropped, said so,
/// and the shell goes on (a script on standard input refuses such input whole).
#[test]
fn a_line_that_is_not_utf8_is_dropped_not_mangled() {
    let (_d, _path, p) = demo();
    let mut child = spawn_shell(&p);
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(
            b"INSERT INTO courses (code, title)\nVALUES ('X1', 'caf\xe9');\n\
              SELECT count(*) AS n FROM courses WHERE code = 'X1';\n",
        )
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("not UTF-8: it and the statement it continued were not run"),
        "{all}"
    );
    let o = tabula(&[
        "sql",
        &p,
        "SELECT count(*) AS n FROM courses WHERE code = 'X1'",
        "--format",
        "jsonl",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "{\"n\":0}",
        "{}",
        text(&o)
    );
}

/// An error in a statement that does not start its input (what was typed before Enter
/// completed a statement) is placed in that input: the line and column (said once: the
/// parser's own "at Line: …" is not repeated after them), and the places the refusal's own
/// words give.
#[test]
fn errors_are_placed_in_the_input_as_typed() {
    let (_d, _path, p) = demo();
    let out = shell(
        &p,
        "SELECT 1; SELECT * FROMM students;\nSELECT 2;\n  SELECT id FROM students WHERE name IS 'x';\n\
         SELECT 3; SELECT\n  id FROMM students;\n",
    );
    let errors: Vec<&str> = out.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 3, "{out}");
    // A statement over two lines of one input: its second line is the input's.
    assert!(
        errors[2].starts_with("error: SQL error at line 2, column 12: ")
            && !errors[2].contains("Line:"),
        "{}",
        errors[2]
    );
    assert!(
        errors[0].starts_with("error: SQL error at line 1, column 20: ")
            && !errors[0].contains("Line:"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].contains("IS [NOT] with a value") && errors[1].ends_with("at line 1, column 41"),
        "{}",
        errors[1]
    );
}

#[test]
fn schema_of_a_table_named_in_another_case_says_which() {
    let (_d, _path, p) = common::demo();
    let out = shell(&p, ".schema Students\n.schema nothing\n");
    assert!(
        out.contains("no table named \"Students\"; did you mean students?"),
        "{out}"
    );
    assert!(out.contains("no table named \"nothing\"\n"), "{out}");
}

/// On a terminal (the line editor's own path, not `--interactive`'s), lines that arrive in
/// one read all run: a paste on a terminal without bracketed paste, or lines typed ahead
/// while a statement runs. The line editor once kept the bytes it had read past the first
/// line in a buffer it dropped at the end of the prompt. `script` (util-linux, in every
/// Debian) runs the shell on a pseudo-terminal and copies this test's input there in one
/// write.
#[cfg(target_os = "linux")]
#[test]
fn on_a_terminal_lines_that_arrive_together_all_run() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("db");
    let dir = dir.to_str().unwrap();
    let command = format!("'{}' sql '{dir}'", env!("CARGO_BIN_EXE_tabula"));
    let spawned = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("NOTICE: skipping the terminal test: no `script` (util-linux) here");
            return;
        }
        Err(e) => panic!("running script: {e}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            b"CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);\n\
              INSERT INTO t (v) VALUES ('a');\nINSERT INTO t (v) VALUES ('b');\n\
              INSERT INTO t (v) VALUES ('c');\n.quit\n",
        )
        .unwrap();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let out = finished
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("the shell on a terminal did not finish within 120 s")
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let o = tabula(&[
        "sql",
        dir,
        "SELECT group_concat(v, '') AS vs FROM t",
        "--format",
        "csv",
    ]);
    assert_eq!(
        text(&o),
        "vs\nabc\n",
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Over a damaged snapshot, a read transaction still begins (it reads the healthy tables),
/// and `.tables` in it marks the damaged table's listed rows; outside one, `.tables` loads
/// the table and reports its damage, as `tabula tables` does.
#[test]
fn tables_in_a_read_transaction_mark_a_damaged_snapshot() {
    let (_d, path, p) = demo();
    common::damage_snapshot(&path, "courses", b'P', b'Q');
    let out = shell(
        &p,
        "BEGIN;\n.tables\nSELECT COUNT(*) FROM students;\nCOMMIT;\n.tables\n",
    );
    assert!(out.contains("(damaged snapshot)"), "{out}");
    assert!(out.contains("│ 7        │"), "{out}");
    assert!(out.contains("courses.records: corrupt: checksum"), "{out}");
}
