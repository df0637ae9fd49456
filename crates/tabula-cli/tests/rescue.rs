//! End-to-end tests of the rescue commands (`verify`, `repair`, `export`) on damaged and
//! wrong directories: they never destroy or misreport data.

use std::path::PathBuf;
use std::process::Command;

mod common;
use common::{demo, remove_archived_segments, tabula, text};

fn student_count(p: &str) -> usize {
    let o = tabula(&["query", p, "students", "--format", "jsonl"]);
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).lines().count()
}

fn backups(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains(".backup-"))
        .collect();
    v.sort();
    v
}

#[test]
fn repair_rebuilds_a_missing_manifest_and_keeps_every_backup() {
    let (d, path, p) = demo();
    let before = student_count(&p);
    for round in 1..=2 {
        std::fs::remove_file(path.join("manifest.json")).unwrap();
        let o = tabula(&["verify", &p]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let o = tabula(&["repair", &p]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(0), "{t}");
        assert!(
            t.contains("table students: rows at the last checkpoint: unknown; recovered: 7"),
            "{t}"
        );
        assert!(t.contains("verifies clean"), "{t}");
        assert_eq!(student_count(&p), before);
        // Two repairs in the same second get two backups, each with the rows.
        let b = backups(d.path());
        assert_eq!(b.len(), round, "{b:?}");
        for b in &b {
            let rows = std::fs::read_to_string(b.join("data/students.records")).unwrap();
            assert_eq!(rows.lines().count(), before, "{}", b.display());
        }
    }
}

#[test]
fn repair_counts_the_rows_a_truncated_snapshot_lost() {
    let (_d, path, p) = demo();
    // With the archived segments pruned, nothing else holds the checkpoint's rows.
    remove_archived_segments(&path);
    std::fs::write(path.join("data/students.records"), "").unwrap();
    let o = tabula(&["repair", &p, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let students = v["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "students")
        .unwrap();
    assert_eq!(students["rows_before"], 7);
    assert_eq!(students["rows_recovered"], 0);
    assert_eq!(students["rows_missing"], 7);
    assert_eq!(v["clean"], true);
}

#[test]
fn repair_of_dot_puts_its_backup_beside_the_database() {
    let (d, path, _p) = demo();
    std::fs::remove_file(path.join("manifest.json")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_tabula"))
        .args(["repair", "."])
        .current_dir(&path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(backups(d.path()).len(), 1);
    assert!(backups(&path).is_empty());
}

#[test]
fn repair_names_files_by_the_path_given_as_verify_does() {
    let (d, path, _p) = demo();
    // With the archived segments pruned, the snapshot's lines are read one by one.
    remove_archived_segments(&path);
    let mut rows = std::fs::read_to_string(path.join("data/students.records")).unwrap();
    rows.push_str("garbage\n");
    std::fs::write(path.join("data/students.records"), rows).unwrap();
    let run = |cmd: &str| {
        Command::new(env!("CARGO_BIN_EXE_tabula"))
            .args([cmd, "uni"])
            .current_dir(d.path())
            .output()
            .unwrap()
    };
    let verify = text(&run("verify"));
    assert!(verify.contains("uni/data/students.records:8: "), "{verify}");
    let o = run("repair");
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    // The problems as verify printed them, the backup and the dropped line's place in it
    // beside `uni` as given: no absolute path.
    assert!(t.contains("\n  uni/data/students.records:8: "), "{t}");
    assert!(t.contains("backed up every file to uni.backup-"), "{t}");
    assert!(t.contains("  dropped uni.backup-"), "{t}");
    let root = d.path().to_str().unwrap();
    assert!(!t.contains(root), "{t}");
    assert!(
        t.ends_with(
            "uni verifies clean: its files agree again, with the unverified rows above in them\n"
        ),
        "{t}"
    );
}

#[test]
fn verify_and_repair_refuse_what_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain.txt");
    std::fs::write(&file, "hello").unwrap();
    for p in [dir.path().to_path_buf(), file] {
        let p = p.to_str().unwrap();
        for cmd in ["verify", "repair"] {
            let o = tabula(&[cmd, p]);
            assert_eq!(o.status.code(), Some(2), "{cmd} {p}: {}", text(&o));
            assert!(text(&o).contains("not a tabula database"), "{}", text(&o));
        }
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn export_refuses_a_path_inside_the_database() {
    let (d, path, p) = demo();
    for target in [
        path.join("manifest.json"),
        path.join("data/x.json"),
        d.path().join("uni/../uni/schema/y.json"),
    ] {
        let o = tabula(&["export", &p, target.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(
            text(&o).contains("inside the database directory"),
            "{}",
            text(&o)
        );
    }
    assert_eq!(tabula(&["verify", &p]).status.code(), Some(0));
    let out = d.path().join("out.json");
    let o = tabula(&["export", &p, out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn a_flipped_byte_in_the_last_log_record_is_reported_and_kept() {
    let (_d, path, p) = demo();
    let o = tabula(&["insert", &p, "courses", r#"{"code":"Z1","title":"T"}"#]);
    assert!(o.status.success(), "{}", text(&o));
    // Leave a record in the log: write it through the library without a checkpoint.
    {
        let db = tabula::Database::open(&path).unwrap();
        let t = db.dyn_table("courses").unwrap();
        t.insert(tabula::row! { "code" => "Z2", "title" => "T" })
            .unwrap();
        drop(db);
    }
    let log = path.join("wal/transaction.log");
    let mut bytes = std::fs::read(&log).unwrap();
    let end = bytes.iter().rposition(|&b| b == b'\n').unwrap();
    bytes[end - 5] ^= 0x01;
    std::fs::write(&log, &bytes).unwrap();
    let o = tabula(&["verify", &p]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("transaction.log"), "{}", text(&o));
    // A read command opens read-only: it leaves the record out and says so, moving nothing.
    let o = tabula(&["tables", &p]);
    assert!(o.status.success(), "{}", text(&o));
    let warning = String::from_utf8_lossy(&o.stderr);
    assert!(
        warning.contains("left out damaged") && warning.contains("transaction.log:"),
        "{warning}"
    );
    assert_eq!(
        std::fs::read(&log).unwrap(),
        bytes,
        "a read command changed the log"
    );
    // A writable open cuts the damaged record, keeps its bytes aside, and verify says so.
    let o = tabula(&["checkpoint", &p]);
    assert!(o.status.success(), "{}", text(&o));
    let warning = String::from_utf8_lossy(&o.stderr);
    assert!(
        warning.contains("its bytes are kept in") && warning.contains(".damaged"),
        "{warning}"
    );
    let o = tabula(&["tables", &p]);
    assert!(o.stderr.is_empty(), "said once: {}", text(&o));
    let o = tabula(&["verify", &p]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains(".damaged"), "{}", text(&o));
}

#[test]
fn after_kill_9_the_preallocated_zeros_are_no_unfinished_commit() {
    let (_d, path, p) = demo();
    {
        let db = tabula::Database::open(&path).unwrap();
        let t = db.dyn_table("courses").unwrap();
        t.insert(tabula::row! { "code" => "K1", "title" => "T" })
            .unwrap();
        drop(db);
    }
    // A killed process leaves the log preallocated: its records, then zeros.
    let log = path.join("wal/transaction.log");
    let mut bytes = std::fs::read(&log).unwrap();
    bytes.resize(bytes.len() + (1 << 20), 0);
    std::fs::write(&log, &bytes).unwrap();
    let o = tabula(&["wal", &p, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let records: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(records[0]["problem"].is_null(), "{records:?}");
    let o = tabula(&["verify", &p]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Opening cuts the zeros and keeps nothing aside: they are no damage.
    let o = tabula(&["tables", &p]);
    assert!(o.stderr.is_empty(), "{}", text(&o));
    assert!(!std::fs::read_dir(path.join("wal")).unwrap().any(|e| e
        .unwrap()
        .path()
        .to_string_lossy()
        .ends_with(".damaged")));
}

#[test]
fn cli_insert_and_where_refuse_numbers_a_column_cannot_hold() {
    let (_d, _path, p) = demo();
    for (row, column) in [
        (
            r#"{"id":9223372036854775808,"name":"N","email":"n@x","year":2024}"#,
            "id",
        ),
        (r#"{"name":"N","email":"n@x","year":4294967296}"#, "year"),
        (r#"{"name":"N","email":"n@x","year":-1}"#, "year"),
        (r#"{"name":"N","email":"n@x","year":2024.5}"#, "year"),
    ] {
        let o = tabula(&["insert", &p, "students", row]);
        assert_eq!(o.status.code(), Some(2), "{row}: {}", text(&o));
        assert!(
            text(&o).contains(&format!("students.{column}")) || text(&o).contains(column),
            "{}",
            text(&o)
        );
    }
    assert_eq!(student_count(&p), 7);
    let o = tabula(&["query", &p, "students", "--where", "year = 4294967296"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = tabula(&[
        "query",
        &p,
        "students",
        "--where",
        "year < 4294967296",
        "--format",
        "jsonl",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 7);
}

/// One damaged schema file: every command names the file and points at verify and repair;
/// verify reports it, and that repair rebuilds it from the record that created the table
/// (in the archived log segment the demo's checkpoint left); repair does, and every table
/// opens. With the archived segments gone too, repair sets that table aside and the
/// others open.
#[test]
fn a_damaged_schema_file_is_named_and_repair_rebuilds_it_or_sets_only_its_table_aside() {
    for archived in [true, false] {
        let (_d, path, p) = demo();
        if !archived {
            for entry in std::fs::read_dir(path.join("wal")).unwrap() {
                let f = entry.unwrap().path();
                let name = f.file_name().unwrap().to_string_lossy().into_owned();
                if name != "transaction.log" && name.ends_with(".log") {
                    std::fs::remove_file(f).unwrap();
                }
            }
        }
        let schema = path.join("schema/registrations.schema.json");
        let original = std::fs::read_to_string(&schema).unwrap();
        std::fs::write(&schema, "{ not json").unwrap();

        let o = tabula(&["tables", &p]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{t}");
        assert!(t.contains("registrations.schema.json"), "{t}");
        assert!(t.contains("tabula repair DIR"), "{t}");

        let o = tabula(&["verify", &p]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{t}");
        // Reported damaged, and what repair will do about it.
        assert_eq!(t.matches("registrations.schema.json").count(), 2, "{t}");
        assert_eq!(
            t.contains("no record of the table's creation is left"),
            !archived,
            "{t}"
        );
        assert_eq!(
            t.contains("repair rebuilds it from its creation in"),
            archived,
            "{t}"
        );

        let o = tabula(&["repair", &p]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(0), "{t}");
        assert_eq!(
            t.contains("table registrations: no readable schema anywhere"),
            !archived,
            "{t}"
        );
        assert_eq!(
            path.join("quarantine/registrations.schema.json").exists(),
            !archived
        );
        assert_eq!(student_count(&p), 7);
        let o = tabula(&["tables", &p]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(0), "{t}");
        assert!(t.contains("students") && t.contains("courses"), "{t}");
        assert_eq!(t.contains("registrations"), archived, "{t}");
        if archived {
            let rebuilt: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&schema).unwrap()).unwrap();
            let original: serde_json::Value = serde_json::from_str(&original).unwrap();
            assert_eq!(rebuilt["schema"], original["schema"]);
        }
    }
}

/// Editing the manifest (here its LSN, which would hide committed log records) is caught by
/// its own checksum; `verify` used to call it clean.
#[test]
fn verify_catches_an_edited_manifest() {
    let (_d, path, p) = demo();
    let manifest = path.join("manifest.json");
    let edited =
        std::fs::read_to_string(&manifest)
            .unwrap()
            .replacen("\"lsn\": 1,", "\"lsn\": 9,", 1);
    assert!(edited.contains("\"lsn\": 9,"), "{edited}");
    std::fs::write(&manifest, edited).unwrap();
    let o = tabula(&["verify", &p]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("manifest.json") && t.contains("checksum"), "{t}");
}

/// When repair drops students (a snapshot cut mid-line), the registrations that pointed at
/// them are dropped and reported too: no row is left referencing a missing one, and verify
/// agrees. (Foreign keys used to be checked by neither.)
#[test]
fn repair_leaves_no_row_pointing_at_a_dropped_one() {
    let (_d, path, p) = demo();
    // With the archived segments pruned, the students cut off are lost.
    remove_archived_segments(&path);
    let students = path.join("data/students.records");
    let bytes = std::fs::read(&students).unwrap();
    std::fs::write(&students, &bytes[..bytes.len() / 2]).unwrap();
    let o = tabula(&["repair", &p, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let regs = v["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "registrations")
        .unwrap();
    assert!(regs["rows_dropped"].as_u64().unwrap() > 0, "{regs}");
    let ids = |table: &str, column: &str| -> Vec<u64> {
        let o = tabula(&["query", &p, table, "--format", "jsonl"]);
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()[column]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    };
    let students = ids("students", "id");
    assert!(students.len() < 7);
    for s in ids("registrations", "student_id") {
        assert!(students.contains(&s), "registration of missing student {s}");
    }
    let o = tabula(&["verify", &p]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// A directory where `LOCK` goes keeps repair out as much as any writer: verify says to
/// remove it rather than to run repair, which would fail taking the lock.
#[test]
fn verify_says_to_remove_a_lock_that_is_no_file_before_repairing() {
    let (_d, path, p) = demo();
    std::fs::remove_file(path.join("LOCK")).unwrap();
    std::fs::create_dir(path.join("LOCK")).unwrap();
    let o = tabula(&["verify", &p]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains(&format!(
            "1 problem(s) found; move aside or remove {p}/LOCK ("
        )),
        "{t}"
    );
    assert!(!t.contains("tabula repair"), "{t}");
    let mut rows = std::fs::read_to_string(path.join("data/students.records")).unwrap();
    rows.push_str("garbage\n");
    std::fs::write(path.join("data/students.records"), rows).unwrap();
    let t = text(&tabula(&["verify", &p]));
    assert!(
        t.contains(&format!(
            "move aside or remove {p}/LOCK, then `tabula repair {p}`"
        )),
        "{t}"
    );
}

/// Every file of a database directory, with its bytes (directories and pipes left out).
#[cfg(unix)]
fn files_of(dir: &std::path::Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let kind = std::fs::symlink_metadata(&p).unwrap().file_type();
        if kind.is_dir() {
            out.extend(files_of(&p));
        } else if kind.is_file() {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out.sort();
    out
}

/// A directory or a pipe where an open for writing removes a checkpoint's leftover
/// temporary file keeps every writer out: verify names it and says to move it aside (not to
/// run repair), repair refuses before changing anything, and once it is gone the database
/// opens for writing again.
#[cfg(unix)]
#[test]
fn a_directory_at_a_temporary_files_name_is_reported_and_repair_leaves_it_to_the_person() {
    for name in [
        "manifest.json.tmp",
        "wal/transaction.log.tmp",
        "schema/students.schema.json.tmp",
        "data/students.records.tmp",
        "wal/transaction.00000000000000000001.next",
    ] {
        let (_d, path, p) = demo();
        let odd = path.join(name);
        std::fs::create_dir(&odd).unwrap();
        let before = files_of(&path);
        let o = tabula(&["verify", &p]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", text(&o));
        let t = text(&o);
        assert!(
            t.contains(&format!(
                "{p}/{name}: not a regular file: a directory is in the place of a temporary file"
            )),
            "{name}: {t}"
        );
        assert!(
            t.contains(&format!(
                "1 problem(s) found; move aside or remove {p}/{name} ("
            )),
            "{name}: {t}"
        );
        assert!(!t.contains("tabula repair"), "{name}: {t}");
        let o = tabula(&["repair", &p]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o));
        assert!(
            text(&o).contains("move it aside, then repair again"),
            "{name}: {}",
            text(&o)
        );
        assert_eq!(files_of(&path), before, "{name}: repair changed a file");
        let o = tabula(&["checkpoint", &p]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o));
        assert!(
            text(&o)
                .contains("not a regular file: a directory is in the place of a temporary file"),
            "{name}: {}",
            text(&o)
        );
        std::fs::remove_dir(&odd).unwrap();
        let o = tabula(&["checkpoint", &p]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o));
        assert_eq!(tabula(&["verify", &p]).status.code(), Some(0), "{name}");
    }
}

/// A pipe or a symbolic link at a temporary file's name: the open removes it as a
/// leftover (the link, not what it names), so it keeps no writer out; verify names it,
/// since repair would write there, and repair refuses to write through it.
#[cfg(unix)]
#[test]
fn a_pipe_or_link_at_a_temporary_files_name_is_removed_by_the_open() {
    for link in [false, true] {
        let (d, path, p) = demo();
        let odd = path.join("manifest.json.tmp");
        let target = d.path().join("elsewhere");
        std::fs::create_dir(&target).unwrap();
        if link {
            std::os::unix::fs::symlink(&target, &odd).unwrap();
        } else {
            assert!(Command::new("mkfifo").arg(&odd).status().unwrap().success());
        }
        let what = if link {
            "a symbolic link"
        } else {
            "a device, a pipe or a socket"
        };
        let t = text(&tabula(&["verify", &p]));
        assert!(
            t.contains(&format!("{p}/manifest.json.tmp: not a regular file: {what} is in the place of a temporary file")),
            "{t}"
        );
        let o = tabula(&["repair", &p]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        let o = tabula(&["checkpoint", &p]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(
            std::fs::symlink_metadata(&odd).is_err(),
            "the leftover stays"
        );
        assert!(target.is_dir(), "what the link named is gone");
        assert_eq!(tabula(&["verify", &p]).status.code(), Some(0));
    }
}

/// A link to an empty file at a checkpoint's staged-log name is no staged log: with the
/// log gone, the open says the log was lost, rather than starting an empty one.
#[cfg(unix)]
#[test]
fn a_link_at_the_staged_logs_name_does_not_hide_a_lost_log() {
    let (d, path, p) = demo();
    assert_eq!(tabula(&["checkpoint", &p]).status.code(), Some(0));
    let wal = path.join("wal");
    let segment = std::fs::read_dir(&wal)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("transaction.") && n.ends_with(".log") && n != "transaction.log")
        .max()
        .expect("an archived segment");
    std::fs::remove_file(wal.join("transaction.log")).unwrap();
    let empty = d.path().join("empty");
    std::fs::write(&empty, "").unwrap();
    let next = wal.join(segment.replace(".log", ".next"));
    std::os::unix::fs::symlink(&empty, &next).unwrap();
    for args in [["checkpoint", &p], ["tables", &p]] {
        let o = tabula(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains("lost"), "{args:?}: {}", text(&o));
    }
}

/// A symbolic link to nothing where repair's backup reads (a log moved to a disk that is
/// gone): repair refuses before it makes a backup, rather than stopping halfway through one.
#[cfg(unix)]
#[test]
fn repair_refuses_a_link_to_nothing_before_its_backup() {
    let (d, path, p) = demo();
    let log = path.join("wal/transaction.log");
    std::fs::remove_file(&log).unwrap();
    std::os::unix::fs::symlink(d.path().join("gone/transaction.log"), &log).unwrap();
    let o = tabula(&["repair", &p]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(
            "not a regular file: a symbolic link that leads to no file is in its place; move \
             it aside, then repair again"
        ),
        "{}",
        text(&o)
    );
    assert!(backups(d.path()).is_empty(), "a backup was started");
}

/// Repair reads and writes its own names in `wal/` and `schema/`: a directory of another
/// name there (`lost+found`, where `wal/` is a mount point) does not stop it.
#[test]
fn a_foreign_directory_in_wal_does_not_stop_repair() {
    let (_d, path, p) = demo();
    assert_eq!(tabula(&["checkpoint", &p]).status.code(), Some(0));
    std::fs::create_dir(path.join("wal/lost+found")).unwrap();
    std::fs::create_dir(path.join("schema/old")).unwrap();
    // A pipe of another name is no file of the database either: the backup passes it by.
    #[cfg(unix)]
    assert!(Command::new("mkfifo")
        .arg(path.join("wal/notes.fifo"))
        .status()
        .unwrap()
        .success());
    let mut rows = std::fs::read_to_string(path.join("data/students.records")).unwrap();
    rows.push_str("garbage\n");
    std::fs::write(path.join("data/students.records"), rows).unwrap();
    let o = tabula(&["repair", &p]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(tabula(&["verify", &p]).status.code(), Some(0));
    assert!(path.join("wal/lost+found").is_dir());
}

/// A pipe in a snapshot's place: verify says to move it aside, since repair refuses to
/// write over it, and concludes nothing from the rows it would hold (it used to report the
/// registrations of those students dangling, and send the reader to repair).
#[cfg(unix)]
#[test]
fn verify_says_to_move_a_pipe_aside_before_repairing() {
    let (_d, path, p) = demo();
    let snapshot = path.join("data/students.records");
    std::fs::remove_file(&snapshot).unwrap();
    let made = Command::new("mkfifo").arg(&snapshot).status().unwrap();
    assert!(made.success());
    let t = text(&tabula(&["verify", &p]));
    assert!(
        t.contains(&format!(
            "1 problem(s) found; move aside or remove {p}/data/students.records (each line \
             above says why)"
        )),
        "{t}"
    );
    let o = tabula(&["repair", &p]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("move it aside, then repair again"),
        "{}",
        text(&o)
    );
}

#[test]
fn repair_into_a_backup_dir_that_is_a_file_says_so_and_changes_nothing() {
    let (d, path, p) = demo();
    let mut rows = std::fs::read_to_string(path.join("data/students.records")).unwrap();
    rows.push_str("garbage\n");
    std::fs::write(path.join("data/students.records"), &rows).unwrap();
    let file = d.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let o = tabula(&["repair", &p, "--backup-dir", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("not a directory"), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(path.join("data/students.records")).unwrap(),
        rows
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

/// Through a symbolic link the backup is named after the real directory, beside it: the
/// report names it where it is, not beside the link.
#[cfg(unix)]
#[test]
fn repair_through_a_symbolic_link_names_the_backup_where_it_is() {
    let (d, path, _p) = demo();
    remove_archived_segments(&path);
    let mut rows = std::fs::read_to_string(path.join("data/students.records")).unwrap();
    rows.push_str("garbage\n");
    std::fs::write(path.join("data/students.records"), rows).unwrap();
    let links = d.path().join("links");
    std::fs::create_dir(&links).unwrap();
    std::os::unix::fs::symlink(&path, links.join("mine")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_tabula"))
        .args(["repair", "mine"])
        .current_dir(&links)
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("\n  mine/data/students.records:8: "), "{t}");
    let line = t
        .lines()
        .find_map(|l| l.strip_prefix("backed up every file to "))
        .unwrap();
    let backup = std::path::Path::new(line.trim_end_matches(" (checked)"));
    assert!(backup.is_absolute() && backup.is_dir(), "{t}");
    assert!(!t.contains("mine.backup-"), "{t}");
}

/// A database directory whose name is not UTF-8: repair's JSON report serializes (its
/// paths as text), names a backup that is there, and the demo, export and import in JSON
/// report rather than fail.
#[cfg(unix)]
#[test]
fn a_directory_named_in_bytes_that_are_not_utf8_is_repaired_and_reported() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(std::ffi::OsStr::from_bytes(b"bad\xffdb"));
    let run = |args: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_tabula"))
            .args(args)
            .output()
            .unwrap()
    };
    let json = std::ffi::OsStr::new("--format");
    let o = run(&[json, "json".as_ref(), "demo".as_ref(), db.as_os_str()]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&["checkpoint".as_ref(), db.as_os_str()]);
    assert!(o.status.success(), "{}", text(&o));
    let mut rows = std::fs::read_to_string(db.join("data/students.records")).unwrap();
    rows.push_str("garbage\n");
    std::fs::write(db.join("data/students.records"), rows).unwrap();
    let o = run(&[json, "json".as_ref(), "repair".as_ref(), db.as_os_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["clean"], true);
    let backup = report["backup"].as_str().unwrap();
    assert!(std::path::Path::new(backup).is_dir(), "{backup}");
    assert!(!report["tables"].as_array().unwrap().is_empty());
}

/// A repair that fails after it began rewriting (here a snapshot it may not replace: the
/// immutable attribute, which even root cannot override) changed files: exit 3, naming its
/// backup and the REPAIRING marker, rather than exit 2 ("nothing changed") with only the
/// I/O error. Once the cause is gone, a repair finishes from that backup. Skipped where
/// `chattr` cannot set the attribute (not root, or a file system without it).
#[test]
fn a_repair_stopped_midway_says_what_it_changed_and_where_everything_is() {
    let (_d, path, p) = demo();
    let o = tabula(&["checkpoint", &p]);
    assert!(o.status.success(), "{}", text(&o));
    let courses = path.join("data/courses.records");
    let mut bytes = std::fs::read(&courses).unwrap();
    bytes.extend_from_slice(b"garbage\n");
    std::fs::write(&courses, bytes).unwrap();
    let pinned = path.join("data/students.records");
    let chattr = |flag: &str| {
        Command::new("chattr")
            .arg(flag)
            .arg(&pinned)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !chattr("+i") {
        eprintln!("chattr +i is not available here: skipped");
        return;
    }
    let o = tabula(&["repair", &p]);
    let unpinned = chattr("-i");
    assert!(unpinned, "chattr -i");
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let e = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        e.contains("repair stopped after it began rewriting files")
            && e.contains(".backup-")
            && e.contains("REPAIRING")
            && e.contains("students.records"),
        "{e}"
    );
    assert!(path.join("REPAIRING").exists());
    let o = tabula(&["repair", &p]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!path.join("REPAIRING").exists());
    assert_eq!(student_count(&p), 7);
}

/// A table set aside only because the table its foreign key names was (that one's schema
/// is lost) is reported with that reason, naming the table: it used to be reported as
/// having no readable schema anywhere, when its own schema file is sound.
#[test]
fn repair_names_why_a_referencing_table_is_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q");
    let p = path.to_str().unwrap();
    for sql in [
        "CREATE TABLE p (id INTEGER PRIMARY KEY, n TEXT); \
         CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p); \
         CREATE TABLE g (id INTEGER PRIMARY KEY, cid INTEGER REFERENCES c); \
         INSERT INTO p (n) VALUES ('a'), ('b'); INSERT INTO c (pid) VALUES (1), (2); \
         INSERT INTO g (cid) VALUES (1)",
        // Migrated since its creation: the creation record no longer describes it.
        "ALTER TABLE p ADD COLUMN z INTEGER",
    ] {
        let o = tabula(&["sql", p, sql]);
        assert!(o.status.success(), "{}", text(&o));
    }
    std::fs::remove_file(path.join("schema/p.schema.json")).unwrap();
    let o = tabula(&["repair", p]);
    let t = text(&o);
    assert!(
        t.contains("table p: no readable schema anywhere; its files were moved to"),
        "{t}"
    );
    assert!(
        t.contains(
            "table c: references table p, which has no readable schema; set aside with it; \
             its files were moved to"
        ),
        "{t}"
    );
    // Down a chain, each with its own reason.
    assert!(
        t.contains(
            "table g: references table c, which is set aside for a table it references; \
             set aside with it; its files were moved to"
        ),
        "{t}"
    );
    assert!(!t.contains("table c: no readable schema"), "{t}");
    assert!(path.join("quarantine/c.schema.json").exists());
    assert!(path.join("quarantine/g.schema.json").exists());
}
