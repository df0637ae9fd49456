//! The read commands on a database another process has open and is writing: they open it
//! read-only (no lock, nothing written) and see every commit made before they started;
//! write commands say who holds the lock.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use tabula::{row, Database};

mod common;
use common::{demo, tabula, text};

const CHILD_ENV: &str = "TABULA_CLI_LIVE_CHILD";

/// The writer: run by the parent as this test binary with the variable set. Inserts a
/// student per commit (durably) and prints `ack <n>` once each commit has returned, with a
/// checkpoint now and then so that files move under the readers.
#[test]
fn live_writer_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let db = Database::open(&dir).expect("child open");
    let students = db.dyn_table("students").expect("child table");
    for n in 1u64.. {
        students
            .insert(row! {
                "name" => format!("Live {n}"),
                "email" => format!("live{n}@u"),
                "year" => 2030u32,
            })
            .expect("child insert");
        println!("ack {n}");
        if n % 20 == 0 {
            db.checkpoint().expect("child checkpoint");
        }
    }
}

fn live_rows(p: &str) -> usize {
    let o = tabula(&[
        "query",
        p,
        "students",
        "--where",
        "year = 2030",
        "--format",
        "jsonl",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).lines().count()
}

#[test]
fn read_commands_work_beside_a_writing_process() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let (_d, _path, p) = demo();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "live_writer_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ENV, &p)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = 0usize;
    let mut wait_for = |n: usize, acked: &mut usize| {
        while *acked < n {
            let l = lines.next().expect("the writer stopped").unwrap();
            if let Some(k) = l.strip_prefix("ack ") {
                *acked = k.trim().parse().unwrap();
            }
        }
    };
    let mut last = 0;
    for round in 1..=5 {
        wait_for(round * 10, &mut acked);
        let seen = live_rows(&p);
        assert!(
            seen >= acked,
            "round {round}: {seen} rows, {acked} acknowledged before"
        );
        assert!(
            seen >= last,
            "round {round}: went back from {last} to {seen}"
        );
        last = seen;
    }
    // Row counts include the commits in the log, not only the last checkpoint's.
    let counted = acked;
    let o = tabula(&["tables", &p, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let tables: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let students = tables
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "students")
        .unwrap();
    assert!(
        students["rows"].as_u64().unwrap() >= 7 + counted as u64,
        "{students} before {counted} acknowledged"
    );
    for args in [
        vec!["tables", &p],
        vec!["schema", &p, "students"],
        vec!["stats", &p],
        vec!["verify", &p],
    ] {
        let o = tabula(&args);
        // verify may catch the writer between two files of a checkpoint (exit 1); it must
        // never fail to run.
        assert!(
            matches!(o.status.code(), Some(0) | Some(1)),
            "{args:?}: {}",
            text(&o)
        );
        if args[0] != "verify" {
            assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        }
    }
    let out = tempfile::tempdir().unwrap();
    let export = out.path().join("x.json");
    let o = tabula(&["export", &p, export.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A script of reads in a transaction runs beside the writer, however long (one over
    // 4 KiB runs as it is parsed, its BEGIN not knowing what follows).
    let script = format!(
        "BEGIN;\nSELECT COUNT(*) >= 7 AS many FROM students;\n-- {}\nSELECT 2 AS two;\nCOMMIT;\n",
        "x".repeat(5000)
    );
    let o = common::tabula_with_input(&["sql", &p, "--format", "csv"], script.as_bytes());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "many\ntrue\ntwo\n2\n");
    // A write command takes the lock, and says who has it.
    let o = tabula(&["delete", &p, "students", "--where", "year = 2030"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("open in another process"), "{}", text(&o));
    child.kill().unwrap();
    child.wait().unwrap();
    // After the kill, the reader still reads (the log may end mid-line), and a writable
    // open then recovers every acknowledged commit.
    assert!(live_rows(&p) >= acked);
    let o = tabula(&[
        "insert",
        &p,
        "students",
        r#"{"name":"After","email":"after@u","year":2031}"#,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(live_rows(&p) >= acked);
}

fn set_mode(path: &std::path::Path, dirs: u32, files: u32) {
    use std::os::unix::fs::PermissionsExt;
    let mode = if path.is_dir() { dirs } else { files };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            set_mode(&e.unwrap().path(), dirs, files);
        }
    }
}

/// A directory this user may only read: the read commands work (they take no lock), a
/// write command fails on the lock and changes nothing. Run as an unprivileged user when
/// the tests run as root (root may write anything).
#[test]
fn read_commands_work_on_a_directory_this_user_may_only_read() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let (d, path, p) = demo();
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let run = |args: &[&str]| {
        let bin = env!("CARGO_BIN_EXE_tabula");
        let mut cmd = if root {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", bin]);
            c
        } else {
            Command::new(bin)
        };
        cmd.args(args).output().expect("run tabula")
    };
    if root && Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: running as root without setpriv to drop privileges");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    set_mode(&path, 0o555, 0o444);
    let o = run(&["query", &p, "students", "--format", "jsonl"]);
    let ok = o.status.code() == Some(0);
    let rows = String::from_utf8_lossy(&o.stdout).lines().count();
    let t = text(&o);
    let w = run(&["delete", &p, "students", "--where", "id = 1"]);
    // A manifest this user cannot read is an error, never an empty database.
    std::fs::set_permissions(
        path.join("manifest.json"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let hidden = run(&["query", &p, "students", "--format", "jsonl"]);
    set_mode(&path, 0o755, 0o644);
    assert_eq!(hidden.status.code(), Some(2), "{}", text(&hidden));
    assert!(text(&hidden).contains("manifest.json"), "{}", text(&hidden));
    assert!(ok, "{t}");
    assert_eq!(rows, 7, "{t}");
    assert_eq!(w.status.code(), Some(2), "{}", text(&w));
    assert_eq!(
        tabula(&["query", &p, "students", "--format", "jsonl"])
            .stdout
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
        7
    );
}

/// Two `tabula sql NEW …` started together: the second finds the directory half made by the
/// first. It waits for the creation to finish rather than calling it no database; then it
/// runs (or, while the first still holds the lock, says another process has it open).
#[test]
fn two_sql_commands_creating_one_database_both_run_or_one_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..20 {
        let db = dir.path().join(format!("new{i}"));
        let spawn = |table: &str| {
            Command::new(env!("CARGO_BIN_EXE_tabula"))
                .arg("sql")
                .arg(&db)
                .arg(format!("CREATE TABLE {table} (id INTEGER PRIMARY KEY)"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn("a"), spawn("b"));
        let mut made = Vec::new();
        for (table, child) in [("a", a), ("b", b)] {
            let o = child.wait_with_output().unwrap();
            let t = text(&o);
            match o.status.code() {
                Some(0) => made.push(table),
                Some(2) => assert!(
                    t.contains("open in another process"),
                    "round {i}, {table}: {t}"
                ),
                _ => panic!("round {i}, {table}: {t}"),
            }
        }
        assert!(!made.is_empty(), "round {i}: neither ran");
        let o = tabula(&["tables", db.to_str().unwrap(), "--format", "jsonl"]);
        let names: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["name"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            names,
            made.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "round {i}"
        );
    }
}

/// Two imports into one new directory at once: the one that fails (the other's rows are
/// there by the time it runs) removes nothing it did not make, so the rows the winner
/// reported imported stay.
#[test]
fn a_failed_import_beside_another_keeps_the_database_the_other_made() {
    let (d, _path, p) = demo();
    let src = d.path().join("src.json");
    let o = tabula(&["export", &p, src.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    for i in 0..10 {
        let db = d.path().join(format!("imported{i}"));
        let spawn = || {
            Command::new(env!("CARGO_BIN_EXE_tabula"))
                .arg("import")
                .arg(&db)
                .arg(&src)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        let ok = [a, b]
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .filter(|o| o.status.success())
            .count();
        if ok > 0 {
            let o = tabula(&[
                "query",
                db.to_str().unwrap(),
                "students",
                "--format",
                "jsonl",
            ]);
            assert!(o.status.success(), "round {i}: {}", text(&o));
            assert_eq!(
                String::from_utf8_lossy(&o.stdout).lines().count(),
                7,
                "round {i}"
            );
        }
    }
}
