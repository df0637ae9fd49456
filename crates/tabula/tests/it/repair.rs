//! `verify` and `repair` on damaged directories: repair backs up first, rebuilds what it
//! can (never fewer rows than it could read), reports every row it drops and where its
//! bytes are kept, and afterwards the database opens and verifies clean.

use std::fs;
use std::path::{Path, PathBuf};

use tabula::{Database, Error, Recovery, RepairOptions, Table};

use crate::common::{
    archived_segments, remove_archived_segments, sorted_names, student, Course, Student,
};

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "registrations")]
struct Registration {
    #[column(primary_key)]
    id: u64,
    #[column(references = "students")]
    student_id: u64,
    course: String,
}

/// Seven students and a registration for each, checkpointed; then one more student in the
/// log only.
fn seven(dir: &Path) -> PathBuf {
    let path = dir.join("db");
    let db = Database::open(&path).unwrap();
    let s = db.table::<Student>().unwrap();
    let r = db.table::<Registration>().unwrap();
    for (i, n) in ["A", "B", "C", "D", "E", "F", "G"].iter().enumerate() {
        enrol(&s, &r, student(n, 2020, 3.0), format!("C{i}"));
    }
    db.checkpoint().unwrap();
    s.insert(student("H", 2021, 2.0)).unwrap();
    drop(db);
    path
}

/// Inserts `student` and a registration of them for `course`.
fn enrol(
    s: &tabula::TableHandle<Student>,
    r: &tabula::TableHandle<Registration>,
    student: Student,
    course: String,
) {
    let student_id = s.insert(student).unwrap();
    r.insert(Registration {
        id: 0,
        student_id,
        course,
    })
    .unwrap();
}

/// A database whose one table and row ("A") are in the log only: never checkpointed.
fn one_student_in_the_log(dir: &Path) -> PathBuf {
    let path = dir.join("db");
    let db = Database::open(&path).unwrap();
    db.table::<Student>()
        .unwrap()
        .insert(student("A", 2020, 3.0))
        .unwrap();
    drop(db);
    path
}

/// Both opens, writable and read-only, fail with `Error::Corrupt` naming `file`, and leave
/// the directory as they found it (but for the lock file), for its backup.
fn assert_opens_refuse(path: &Path, file: &str, context: &str) {
    let before = entries(path);
    for e in [
        Database::open(path).unwrap_err(),
        Database::open_read_only(path).unwrap_err(),
    ] {
        assert!(
            matches!(&e, Error::Corrupt { file: f, .. } if f.ends_with(file)),
            "{context}: {e}"
        );
        assert_eq!(entries(path), before, "{context}: {e}");
    }
}

/// Every entry under `dir` but the lock file, with each file's length.
fn entries(dir: &Path) -> Vec<(PathBuf, Option<u64>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            let rel = e.path().strip_prefix(dir).unwrap().to_path_buf();
            if meta.is_dir() {
                todo.push(e.path());
                out.push((rel, None));
            } else if e.file_name() != "LOCK" {
                out.push((rel, Some(meta.len())));
            }
        }
    }
    out.sort();
    out
}

/// `verify` reports a problem with the file ending in `file`, its message saying `words`.
fn assert_reported(path: &Path, file: &str, words: &str) {
    let problems = tabula::verify(path).unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.file.ends_with(file) && p.message.contains(words)),
        "{problems:?}"
    );
}

fn student_names(path: &Path) -> Vec<String> {
    sorted_names(&Database::open(path).unwrap())
}

fn repair(path: &Path) -> tabula::RepairReport {
    tabula::repair(path, RepairOptions::default()).unwrap()
}

fn table<'r>(report: &'r tabula::RepairReport, name: &str) -> &'r tabula::TableRepair {
    report.tables.iter().find(|t| t.table == name).unwrap()
}

/// Repairs a database whose snapshot of `name` fails its checksum and which the archived
/// segments cannot vouch for: verify offers no rebuild from them, and repair keeps the
/// `rows` the file holds, unverified.
fn repaired_unverified(path: &Path, name: &str, rows: u64) {
    let problems = tabula::verify(path).unwrap();
    assert!(
        problems
            .iter()
            .all(|p| !p.message.contains("repair rebuilds it")),
        "{problems:?}"
    );
    let report = repair(path);
    let t = table(&report, name);
    assert_eq!(
        (t.rows_recovered, t.snapshot_unverified),
        (rows, true),
        "{report:?}"
    );
}

#[test]
fn a_missing_manifest_is_rebuilt_from_the_snapshots_and_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    fs::remove_file(path.join("manifest.json")).unwrap();
    let problems = tabula::verify(&path).unwrap();
    assert!(
        problems.iter().any(|p| p.file.ends_with("manifest.json")),
        "{problems:?}"
    );
    let report = repair(&path);
    assert!(report.is_clean(), "{:?}", report.remaining);
    assert_eq!(table(&report, "students").rows_recovered, 8);
    assert_eq!(table(&report, "registrations").rows_recovered, 7);
    assert_eq!(table(&report, "students").rows_dropped, 0);
    assert_eq!(
        student_names(&path),
        ["A", "B", "C", "D", "E", "F", "G", "H"]
    );
    assert_eq!(tabula::verify(&path).unwrap(), []);
    // The backup holds the original files, beside the database, never inside it.
    let backup = report.backup.unwrap();
    assert_eq!(backup.parent(), fs::canonicalize(&path).unwrap().parent());
    assert!(backup.join("data/students.records").exists());
    assert!(!backup.join("manifest.json").exists());
}

#[test]
fn a_lost_log_is_refused_and_reported_until_repair_starts_an_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    // "H" was committed after the checkpoint: only the log holds it.
    fs::remove_file(path.join("wal/transaction.log")).unwrap();
    let missing = |e: &Error| {
        matches!(e, Error::Corrupt { file, line: 0, reason }
            if file.ends_with("wal/transaction.log") && reason.contains("missing"))
    };
    let e = Database::open(&path).unwrap_err();
    assert!(missing(&e), "{e}");
    let e = Database::open_read_only(&path).unwrap_err();
    assert!(missing(&e), "{e}");
    // A refused open starts no log that would hide the loss, and makes no directory: with
    // `data/` gone too, it is not made again until repair.
    assert!(!path.join("wal/transaction.log").exists());
    let other = dir.path().join("no-data");
    copy_dir(&path, &other);
    fs::remove_dir_all(other.join("data")).unwrap();
    assert_opens_refuse(&other, "wal/transaction.log", "data/ removed too");
    assert!(!other.join("data").exists());
    assert_reported(&path, "wal/transaction.log", "missing");
    let report = repair(&path);
    assert!(report.is_clean(), "{:?}", report.remaining);
    assert_eq!(table(&report, "students").rows_recovered, 7);
    assert!(report
        .backup
        .unwrap()
        .join("data/students.records")
        .exists());
    assert_eq!(student_names(&path), ["A", "B", "C", "D", "E", "F", "G"]);
    assert_eq!(tabula::verify(&path).unwrap(), []);
}

#[test]
fn a_lost_log_is_found_before_any_checkpoint_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = one_student_in_the_log(dir.path());
    assert!(!path.join("manifest.json").exists());
    fs::remove_file(path.join("wal/transaction.log")).unwrap();
    // Salvaging too: the commits only the lost log held are lost whatever the mode.
    for e in [
        Database::open(&path).unwrap_err(),
        Database::open_read_only(&path).unwrap_err(),
        Database::builder()
            .recovery(Recovery::Salvage)
            .open(&path)
            .unwrap_err(),
        Database::builder()
            .recovery(Recovery::Salvage)
            .open_read_only(&path)
            .unwrap_err(),
    ] {
        assert!(
            matches!(&e, Error::Corrupt { file, reason, .. }
                if file.ends_with("wal/transaction.log")
                    && reason.contains("students.schema.json")
                    && reason.contains("since the database was created")),
            "{e}"
        );
    }
    let problems = tabula::verify(&path).unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.file.ends_with("wal/transaction.log")),
        "{problems:?}"
    );
    let report = repair(&path);
    assert!(report.is_clean(), "{:?}", report.remaining);
    // The table is kept, as its schema file has it; its row was only in the log.
    assert_eq!(student_names(&path), Vec::<String>::new());
}

/// The newest archived segment's LSN: after a checkpoint that archived the log, the
/// manifest's.
fn newest_archive(path: &Path) -> String {
    format!("{:020}", archived_segments(path).last().unwrap().0)
}

/// A checkpoint that stopped between archiving its log and putting the new log it staged
/// in place (a crash there): nothing is lost, every reader agrees, and the open finishes it.
#[test]
fn a_checkpoint_stopped_between_its_log_renames_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    Database::open(&path).unwrap().close().unwrap();
    let log = path.join("wal/transaction.log");
    assert_eq!(fs::metadata(&log).unwrap().len(), 0);
    let staged = path.join(format!("wal/transaction.{}.next", newest_archive(&path)));
    fs::rename(&log, &staged).unwrap();
    assert_eq!(tabula::verify(&path).unwrap(), []);
    // `tabula wal` lists no records, as an open finds none; it failed on the missing file.
    assert_eq!(tabula::log_records(&path).unwrap(), []);
    let eight = ["A", "B", "C", "D", "E", "F", "G", "H"];
    assert_eq!(
        sorted_names(&Database::open_read_only(&path).unwrap()),
        eight
    );
    assert_eq!(student_names(&path), eight);
    assert!(log.exists());
    assert!(!staged.exists());
    assert_eq!(tabula::verify(&path).unwrap(), []);
}

/// No file but the one a checkpoint staged (named for the manifest's LSN, empty, beside
/// that LSN's archived segment) ever stands in for a lost log: the log is reported lost,
/// and the file is left where it is for the backup.
#[test]
fn a_stray_file_never_stands_in_for_a_lost_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let lsn = newest_archive(&path);
    let log_bytes = fs::read(path.join("wal/transaction.log")).unwrap();
    let strays = [
        ("transaction.log.tmp".to_owned(), Vec::new()),
        (format!("transaction.{lsn}.next"), log_bytes),
        (
            "transaction.00000000000000000001.next".to_owned(),
            Vec::new(),
        ),
    ];
    for (n, (name, content)) in strays.iter().enumerate() {
        let path = dir.path().join(format!("copy{n}"));
        copy_dir(&dir.path().join("db"), &path);
        fs::remove_file(path.join("wal/transaction.log")).unwrap();
        fs::write(path.join("wal").join(name), content).unwrap();
        assert_opens_refuse(&path, "wal/transaction.log", name);
        assert_eq!(&fs::read(path.join("wal").join(name)).unwrap(), content);
        assert_ne!(tabula::verify(&path).unwrap(), [], "{name}");
        let e = tabula::log_records(&path).unwrap_err();
        assert!(
            matches!(&e, Error::Corrupt { file, .. } if file.ends_with("wal/transaction.log")),
            "{name}: {e}"
        );
    }
    // Beside the log, a staged log is a leftover, removed by the open.
    let staged = path.join(format!("wal/transaction.{lsn}.next"));
    fs::write(&staged, b"").unwrap();
    assert_eq!(
        student_names(&path),
        ["A", "B", "C", "D", "E", "F", "G", "H"]
    );
    assert!(!staged.exists());
}

/// A pipe in place of a database file: every tool says so and returns, none waits
/// forever for a writer that never comes.
#[cfg(unix)]
#[test]
fn a_pipe_in_place_of_a_file_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let log = path.join("wal/transaction.log");
    fs::remove_file(&log).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&log)
        .status()
        .unwrap();
    assert!(made.success());
    let (tx, rx) = std::sync::mpsc::channel();
    let p = path.clone();
    std::thread::spawn(move || {
        let open = Database::open(&p).map(drop);
        let read_only = Database::open_read_only(&p).map(drop);
        let verify = tabula::verify(&p);
        let _ = tx.send((open, read_only, verify));
    });
    let (open, read_only, verify) = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("a tool waited on the pipe");
    for e in [
        open.unwrap_err(),
        read_only.unwrap_err(),
        verify.unwrap_err(),
    ] {
        assert!(
            matches!(&e, Error::Io { path, source }
                if path.ends_with("wal/transaction.log")
                    && source.to_string().contains("not a regular file")),
            "{e}"
        );
    }
}

/// Things in place of the database's files that no tool may wait on or take for a log.
#[cfg(unix)]
#[test]
fn odd_files_in_the_databases_places_are_reported_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let mkfifo = |p: &Path| {
        let made = std::process::Command::new("mkfifo")
            .arg(p)
            .status()
            .unwrap();
        assert!(made.success());
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let (root, lsn) = (dir.path().to_path_buf(), newest_archive(&path));
    std::thread::spawn(move || {
        // A pipe as the lock file: the writable open says so instead of waiting.
        let a = root.join("a");
        copy_dir(&root.join("db"), &a);
        let _ = fs::remove_file(a.join("LOCK"));
        mkfifo(&a.join("LOCK"));
        let lock = Database::open(&a).map(drop);
        // A device as the staged log, the log gone: not an empty file, so the log is lost.
        let b = root.join("b");
        copy_dir(&root.join("db"), &b);
        fs::remove_file(b.join("wal/transaction.log")).unwrap();
        std::os::unix::fs::symlink("/dev/null", b.join(format!("wal/transaction.{lsn}.next")))
            .unwrap();
        let staged = Database::open_read_only(&b).map(drop);
        let staged_verify = tabula::verify(&b);
        // A file where `wal/` should be: verify reads once and reports, as for any damage.
        let c = root.join("c");
        copy_dir(&root.join("db"), &c);
        fs::remove_dir_all(c.join("wal")).unwrap();
        fs::write(c.join("wal"), "x").unwrap();
        let not_a_dir = tabula::verify(&c);
        let _ = tx.send((lock, staged, staged_verify, not_a_dir));
    });
    let (lock, staged, staged_verify, not_a_dir) = rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("a tool waited");
    let e = lock.unwrap_err();
    assert!(
        matches!(&e, Error::Io { path, source }
            if path.ends_with("LOCK") && source.to_string().contains("not a regular file")),
        "{e}"
    );
    let e = staged.unwrap_err();
    assert!(
        matches!(&e, Error::Corrupt { file, .. } if file.ends_with("wal/transaction.log")),
        "{e}"
    );
    let problems = staged_verify.unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.file.ends_with("wal/transaction.log")),
        "{problems:?}"
    );
    let problems = not_a_dir.unwrap();
    assert!(
        !problems.is_empty()
            && !problems
                .iter()
                .any(|p| p.message.contains("changed during")),
        "{problems:?}"
    );
}

#[test]
fn a_schema_directory_removed_by_hand_is_no_io_error() {
    // The table was created in the log: its schema is there, the directory is not needed.
    let dir = tempfile::tempdir().unwrap();
    let path = one_student_in_the_log(dir.path());
    fs::remove_dir_all(path.join("schema")).unwrap();
    assert_eq!(
        sorted_names(&Database::open_read_only(&path).unwrap()),
        ["A"]
    );
    assert_eq!(student_names(&path), ["A"]);
}

#[test]
fn repair_makes_again_a_log_directory_removed_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    fs::remove_dir_all(path.join("wal")).unwrap();
    let report = repair(&path);
    assert!(report.is_clean(), "{:?}", report.remaining);
    assert_eq!(student_names(&path), ["A", "B", "C", "D", "E", "F", "G"]);
}

#[test]
fn a_log_missing_from_a_database_never_used_is_started_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    drop(Database::open(&path).unwrap());
    fs::remove_file(path.join("wal/transaction.log")).unwrap();
    let db = Database::open(&path).unwrap();
    db.table::<Student>()
        .unwrap()
        .insert(student("A", 2020, 3.0))
        .unwrap();
    drop(db);
    assert_eq!(student_names(&path), ["A"]);
}

#[test]
fn backups_are_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let mut backups = Vec::new();
    for _ in 0..3 {
        fs::remove_file(path.join("manifest.json")).unwrap();
        backups.push(repair(&path).backup.unwrap());
    }
    backups.sort();
    backups.dedup();
    assert_eq!(backups.len(), 3, "{backups:?}");
    for b in &backups {
        assert!(b.join("data/students.records").exists(), "{}", b.display());
    }
}

#[test]
fn a_backup_inside_the_database_is_refused_before_anything_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    fs::remove_file(path.join("manifest.json")).unwrap();
    let options = RepairOptions {
        backup_dir: Some(path.join("data")),
    };
    let e = tabula::repair(&path, options).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
    assert!(e.to_string().contains("inside the database"), "{e}");
    assert!(!path.join("manifest.json").exists());
    // Nor is a directory made inside it first.
    let options = RepairOptions {
        backup_dir: Some(path.join("bk/new")),
    };
    let e = tabula::repair(&path, options).unwrap_err();
    assert!(e.to_string().contains("inside the database"), "{e}");
    assert!(!path.join("bk").exists());
    // `..` after a directory still to be made could lead anywhere, the database included.
    let options = RepairOptions {
        backup_dir: Some(dir.path().join("missing/../db/bk")),
    };
    let e = tabula::repair(&path, options).unwrap_err();
    assert!(
        matches!(&e, Error::Io { source, .. } if source.to_string().contains("`..` follows")),
        "{e}"
    );
    assert!(!path.join("bk").exists() && !dir.path().join("missing").exists());
    // Nor inside another database, at any depth.
    let other = dir.path().join("other");
    Database::open(&other).unwrap().close().unwrap();
    for inside in [other.clone(), other.join("data"), other.join("bk/new")] {
        let options = RepairOptions {
            backup_dir: Some(inside.clone()),
        };
        let e = tabula::repair(&path, options).unwrap_err();
        assert!(
            matches!(&e, Error::Io { source, .. }
                if source.to_string().contains("inside another database directory")),
            "{}: {e}",
            inside.display()
        );
    }
    assert!(!other.join("bk").exists());
    // With a directory of one's own, it works.
    let options = RepairOptions {
        backup_dir: Some(dir.path().join("backups")),
    };
    let report = tabula::repair(&path, options).unwrap();
    assert!(report
        .backup
        .unwrap()
        .starts_with(dir.path().join("backups")));
}

#[test]
fn a_truncated_snapshot_is_counted_row_by_row() {
    for cut in [0usize, 150] {
        let dir = tempfile::tempdir().unwrap();
        let path = seven(dir.path());
        // With the archived segments pruned, what is left of the file is all there is.
        remove_archived_segments(&path);
        let file = path.join("data/students.records");
        let bytes = fs::read(&file).unwrap();
        fs::write(&file, &bytes[..cut]).unwrap();
        let report = repair(&path);
        let t = table(&report, "students");
        assert_eq!(t.rows_before, Some(7), "cut {cut}");
        // Whole rows read, the log's H, a torn row dropped, the rest missing.
        let whole = bytes[..cut].iter().filter(|&&b| b == b'\n').count() as u64;
        let torn = u64::from(cut > 0 && bytes[cut - 1] != b'\n');
        assert_eq!(t.rows_recovered, whole + 1, "cut {cut}");
        assert_eq!(t.rows_dropped, torn, "cut {cut}: {t:?}");
        assert_eq!(t.rows_missing, 7 - whole - torn, "cut {cut}");
        // Registrations of the lost students are dropped too, and say why.
        let r = table(&report, "registrations");
        assert_eq!(r.rows_recovered, whole, "cut {cut}");
        assert!(r
            .dropped
            .iter()
            .all(|d| d.reason.contains("names no row of students")));
        // Each is found where its bytes are: its line of the snapshot, in the backup.
        let backup = report.backup.clone().unwrap();
        for d in &r.dropped {
            assert_eq!(d.file, backup.join("data/registrations.records"), "{d:?}");
            let text = fs::read_to_string(&d.file).unwrap();
            let line = text.lines().nth(d.line as usize - 1).unwrap();
            let id = &line[6..line.find(',').unwrap()];
            assert!(d.reason.starts_with(&format!("row {id}:")), "{line} {d:?}");
        }
        assert!(report.is_clean(), "{:?}", report.remaining);
    }
}

/// A snapshot cut short, or with a line damaged so that it does not read, is rebuilt from
/// the archived log segments when they hold every record since the table's creation, as a
/// snapshot gone is: every row comes back (and the registrations that name them stay),
/// where repair kept only what was left of the file.
#[test]
fn a_damaged_snapshot_is_rebuilt_from_the_archived_log_segments() {
    for damage in ["cut", "unreadable line"] {
        let dir = tempfile::tempdir().unwrap();
        let path = seven(dir.path());
        let before = student_names(&path);
        let file = path.join("data/students.records");
        let mut bytes = fs::read(&file).unwrap();
        match damage {
            "cut" => bytes.truncate(150),
            _ => bytes[0] = b'#',
        }
        fs::write(&file, &bytes).unwrap();
        assert_reported(
            &path,
            "students.records",
            "repair rebuilds it from the archived log segments: 7 rows, from every record \
             since the table's creation (LSN 1, in wal/transaction.",
        );
        let report = repair(&path);
        let t = table(&report, "students");
        assert_eq!(
            (
                t.rows_before,
                t.rows_recovered,
                t.rows_dropped,
                t.rows_missing,
                t.snapshot_unverified
            ),
            (Some(7), 8, 0, 0, false),
            "{damage}"
        );
        let r = table(&report, "registrations");
        assert_eq!((r.rows_recovered, r.rows_dropped), (7, 0), "{damage}");
        assert!(report.is_clean(), "{:?}", report.remaining);
        assert_eq!(student_names(&path), before, "{damage}");
    }
}

/// The archived segments give the checkpoint's count, but a row the damaged snapshot still
/// reads is not among their rows as it is (a value changed in the file, or segments from
/// another database): nothing vouches for either, and repair keeps what the file holds,
/// unverified, rather than put other rows in its place.
#[test]
fn a_snapshot_whose_rows_the_archives_do_not_give_is_not_rebuilt_from_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let file = path.join("data/students.records");
    let text = fs::read_to_string(&file).unwrap();
    fs::write(&file, text.replacen("\"B\"", "\"Q\"", 1)).unwrap();
    repaired_unverified(&path, "students", 8);
    assert!(student_names(&path).contains(&"Q".to_owned()));
}

/// A database at `path` with table `a` (one row) checkpointed, then `then` run and
/// checkpointed, and the first checkpoint's manifest put back, as a restore from an older
/// copy would (the live log is empty).
fn put_back_an_older_manifest(path: &Path, then: &str) {
    let manifest = path.join("manifest.json");
    let db = Database::open(path).unwrap();
    db.sql("CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO a (v) VALUES ('a1')")
        .unwrap();
    db.checkpoint().unwrap();
    let old = fs::read(&manifest).unwrap();
    db.sql(then).unwrap();
    db.checkpoint().unwrap();
    drop(db);
    fs::write(&manifest, &old).unwrap();
}

/// The archived segments named past the manifest's LSN (which show it older than the
/// files), removed: what a directory put back whole from an older copy, but for its other
/// files, would hold. Asserts first that every open refuses for them, naming one.
fn remove_segments_past_the_manifest(path: &Path) {
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(path.join("manifest.json")).unwrap()).unwrap();
    let lsn = manifest["lsn"].as_u64().unwrap();
    for e in [
        Database::open(path).unwrap_err(),
        Database::open_read_only(path).unwrap_err(),
    ] {
        assert!(
            matches!(&e, Error::Corrupt { reason, .. }
                if reason.contains(&format!("past the manifest's checkpoint at LSN {lsn}"))),
            "{e}"
        );
    }
    let problems = tabula::verify(path).unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.message.contains("manifest.json is older than the files")),
        "{problems:?}"
    );
    for (_, p) in archived_segments(path)
        .into_iter()
        .filter(|(n, _)| *n > lsn)
    {
        fs::remove_file(&p).unwrap();
    }
}

/// A manifest put back from an older copy, with the live log empty: the snapshot a newer
/// checkpoint wrote fails the old manifest's checksum, and the archived segments hold the
/// records to that old checkpoint, which give the old manifest's count. They are not the
/// table's rows (a segment past the manifest's LSN shows a newer checkpoint committed):
/// repair keeps the newer snapshot's rows, unverified, rather than go back to older ones.
#[test]
fn archived_segments_past_an_older_manifest_rebuild_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    put_back_an_older_manifest(&path, "INSERT INTO a (v) VALUES ('a2')");
    repaired_unverified(&path, "a", 2);
    let db = Database::open(&path).unwrap();
    assert_eq!(db.sql("SELECT v FROM a ORDER BY id").unwrap().rows.len(), 2);
}

#[test]
fn a_flipped_byte_in_the_last_record_is_kept_aside_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let log = path.join("wal/transaction.log");
    let mut bytes = fs::read(&log).unwrap();
    let end = bytes.iter().rposition(|&b| b == b'\n').unwrap();
    bytes[end - 10] ^= 0x01;
    // The log's preallocated space after it: not kept.
    let mut preallocated = bytes.clone();
    preallocated.extend([0; 8192]);
    fs::write(&log, &preallocated).unwrap();
    let db = Database::open(&path).unwrap();
    let report = db.recovery_report();
    assert_eq!(report.len(), 1, "{report:?}");
    let kept = report[0].kept_in.clone().unwrap();
    assert!(
        kept.to_string_lossy().ends_with(".damaged"),
        "{}",
        kept.display()
    );
    let start = bytes[..end]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    assert_eq!(fs::read(&kept).unwrap(), &bytes[start..]);
    // It is no archived segment: statistics, checkpoints and pruning leave it alone.
    drop(db);
    let db = Database::builder().keep_archived(1).open(&path).unwrap();
    assert!(db.stats().unwrap().archived.iter().all(|a| a.path != kept));
    for _ in 0..3 {
        db.table::<Student>()
            .unwrap()
            .insert(student("X", 2020, 1.0))
            .map(|_| ())
            .unwrap_or(());
        db.checkpoint().unwrap();
    }
    let archived = db.stats().unwrap().archived;
    assert!(
        archived
            .iter()
            .all(|a| a.path.extension().is_some_and(|e| e == "log")),
        "{archived:?}"
    );
    assert!(kept.exists());
    drop(db);
    // The evidence stays: verify reports the quarantined file until it is removed.
    let problems = tabula::verify(&path).unwrap();
    assert!(problems.iter().any(|p| p.file == kept), "{problems:?}");
    fs::remove_file(&kept).unwrap();
    assert_eq!(tabula::verify(&path).unwrap(), []);
}

#[test]
fn a_log_line_that_breaks_a_unique_constraint_is_found_and_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    // A second log record, with a valid checksum, giving H the email of A.
    let log = path.join("wal/transaction.log");
    let text = fs::read_to_string(&log).unwrap();
    let last = text.lines().last().unwrap();
    let json = &last[9..];
    let forged = json
        .replace("h@uni.edu", "a@uni.edu")
        .replace("\"lsn\":", "\"lsn\":1")
        .replace("\"id\":8", "\"id\":9");
    let lsn: u64 = serde_json::from_str::<serde_json::Value>(json).unwrap()["lsn"]
        .as_u64()
        .unwrap();
    let forged = forged.replacen(
        &format!("\"lsn\":1{lsn}"),
        &format!("\"lsn\":{}", lsn + 1),
        1,
    );
    let crc = format!("{:08x}", crc32c::crc32c(forged.as_bytes()));
    fs::write(&log, format!("{text}{crc} {forged}\n")).unwrap();
    let db = Database::open(&path).unwrap();
    let opened = db.table::<Student>().map(|_| ());
    assert!(matches!(opened, Err(Error::Corrupt { .. })), "{opened:?}");
    drop(db);
    let problems = tabula::verify(&path).unwrap();
    assert!(
        problems.iter().any(|p| p.message.contains("email")),
        "{problems:?}"
    );
    let report = repair(&path);
    assert!(report.is_clean(), "{:?}", report.remaining);
    assert_eq!(table(&report, "students").rows_dropped, 1);
    assert_eq!(student_names(&path).len(), 8);
    // The backup holds the report, written before any file changed: a repair killed after
    // its commit, before printing, still leaves the dropped row reported.
    let kept: serde_json::Value = serde_json::from_slice(
        &fs::read(report.backup.as_ref().unwrap().join("REPAIR-REPORT.json")).unwrap(),
    )
    .unwrap();
    let students = kept["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "students")
        .unwrap();
    assert_eq!(students["rows_dropped"], 1, "{kept}");
    assert_eq!(students["dropped"].as_array().unwrap().len(), 1, "{kept}");
}

/// A log line whose checksum holds but whose row does not decode (a key as text) is reported
/// once, placed once: the problem's message is the reason alone, not its place again.
#[test]
fn a_log_row_that_does_not_decode_is_placed_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let log = path.join("wal/transaction.log");
    // The log is allocated ahead in zeros; its records come first.
    let text = fs::read_to_string(&log).unwrap();
    let text = text.trim_end_matches('\0');
    let last = text.lines().last().unwrap();
    let json = &last[9..];
    assert!(json.contains("\"id\":8"), "{json}");
    let forged = json.replace("\"id\":8", "\"id\":\"8\"");
    let crc = format!("{:08x}", crc32c::crc32c(forged.as_bytes()));
    let rest = text.trim_end_matches('\n');
    let rest = &rest[..rest.len() - last.len()];
    fs::write(&log, format!("{rest}{crc} {forged}\n")).unwrap();
    let problems = tabula::verify(&path).unwrap();
    let bad: Vec<_> = problems.iter().filter(|p| p.file == log).collect();
    assert_eq!(bad.len(), 1, "{problems:?}");
    assert!(
        bad[0].message.starts_with("table students") && !bad[0].message.contains("transaction.log"),
        "{}",
        bad[0]
    );
    assert!(bad[0].message.contains("\"8\""), "{}", bad[0]);
    let report = repair(&path);
    let dropped = &table(&report, "students").dropped;
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert!(
        !dropped[0].reason.contains("transaction.log"),
        "{dropped:?}"
    );
}

#[test]
fn an_edited_manifest_is_caught_by_its_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let m = path.join("manifest.json");
    let text = fs::read_to_string(&m).unwrap();
    let lsn = serde_json::from_str::<serde_json::Value>(&text).unwrap()["lsn"]
        .as_u64()
        .unwrap();
    fs::write(
        &m,
        text.replace(&format!("\"lsn\": {lsn}"), &format!("\"lsn\": {}", lsn + 1)),
    )
    .unwrap();
    assert!(matches!(
        Database::open(&path).map(|_| ()),
        Err(Error::Corrupt { .. })
    ));
    let problems = tabula::verify(&path).unwrap();
    assert!(problems[0].message.contains("checksum"), "{problems:?}");
    let report = repair(&path);
    assert!(report.is_clean(), "{:?}", report.remaining);
    assert_eq!(student_names(&path).len(), 8);
}

/// The rows with the highest keys deleted before the checkpoint, then the manifest lost or
/// edited: the next key comes from the archived segments' records, so no key is given
/// twice (from the rows alone it would follow the highest key left).
#[test]
fn without_a_sound_manifest_the_next_key_comes_from_the_archived_segments() {
    for damage in ["lost", "edited"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let db = Database::open(&path).unwrap();
            let s = db.table::<Student>().unwrap();
            for n in ["A", "B", "C", "D"] {
                s.insert(student(n, 2020, 3.0)).unwrap();
            }
            s.delete(|st| st.name == "C" || st.name == "D").unwrap();
            db.checkpoint().unwrap();
        }
        let m = path.join("manifest.json");
        match damage {
            "lost" => fs::remove_file(&m).unwrap(),
            _ => {
                let text = fs::read_to_string(&m).unwrap();
                let edited = text.replacen("\"rows\": 2", "\"rows\": 3", 1);
                assert_ne!(edited, text);
                fs::write(&m, edited).unwrap();
            }
        }
        let report = repair(&path);
        assert!(report.is_clean(), "{damage}: {:?}", report.remaining);
        let db = Database::open(&path).unwrap();
        let id = db
            .table::<Student>()
            .unwrap()
            .insert(student("E", 2021, 2.0))
            .unwrap();
        assert_eq!(id, 5, "{damage}");
    }
}

/// A table dropped and made again under its name with a narrower key: with the manifest
/// lost, the archived records of the older table do not raise the new one's next key
/// (they would have put it past what a `u8` holds).
#[test]
fn the_next_key_from_archives_starts_again_at_a_tables_creation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).unwrap();
        db.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
            .unwrap();
        db.sql("INSERT INTO t (id, v) VALUES (1000, 'a'), (1001, 'b')")
            .unwrap();
        db.checkpoint().unwrap();
        db.sql("DROP TABLE t").unwrap();
        db.sql("CREATE TABLE t (id INTEGER PRIMARY KEY CHECK (id BETWEEN 0 AND 255), v TEXT)")
            .unwrap();
        db.sql("INSERT INTO t (v) VALUES ('x'), ('y'), ('z')")
            .unwrap();
        db.sql("DELETE FROM t WHERE v = 'z'").unwrap();
        db.checkpoint().unwrap();
    }
    fs::remove_file(path.join("manifest.json")).unwrap();
    let report = repair(&path);
    assert!(report.is_clean(), "{:?}", report.remaining);
    let db = Database::open(&path).unwrap();
    db.sql("INSERT INTO t (v) VALUES ('w')").unwrap();
    assert_eq!(
        db.sql("SELECT id FROM t WHERE v = 'w'").unwrap().rows,
        vec![vec![tabula::Value::Int(4)]]
    );
}

#[test]
fn a_manifest_without_a_checksum_still_opens_and_gains_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let m = path.join("manifest.json");
    let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&m).unwrap()).unwrap();
    assert!(v.as_object_mut().unwrap().remove("crc32c").is_some());
    fs::write(&m, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    assert_eq!(tabula::verify(&path).unwrap(), []);
    let db = Database::open(&path).unwrap();
    db.checkpoint().unwrap();
    drop(db);
    assert!(fs::read_to_string(&m).unwrap().contains("crc32c"));
}

#[test]
fn a_path_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain.txt");
    fs::write(&file, "hello").unwrap();
    for p in [dir.path().to_path_buf(), file, dir.path().join("missing")] {
        let e = tabula::verify(&p).unwrap_err();
        assert!(matches!(e, Error::NotADatabase { .. }), "{e}");
        let e = tabula::repair(&p, RepairOptions::default()).unwrap_err();
        assert!(matches!(e, Error::NotADatabase { .. }), "{e}");
    }
}

#[test]
fn a_damaged_schema_file_is_rebuilt_from_the_log_or_quarantines_its_table_alone() {
    // Created since the last checkpoint: the log's create record still holds the schema.
    let dir = tempfile::tempdir().unwrap();
    let path = one_student_in_the_log(dir.path());
    fs::write(path.join("schema/students.schema.json"), "{ not json").unwrap();
    let problems = tabula::verify(&path).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    let report = repair(&path);
    assert!(table(&report, "students").schema_from_log);
    assert!(report.is_clean(), "{:?}", report.remaining);
    assert_eq!(student_names(&path), ["A"]);

    // Checkpointed, the archived segments gone: no schema anywhere, so that table is set
    // aside and the others open.
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let db = Database::open(&path).unwrap();
    db.checkpoint().unwrap();
    drop(db);
    remove_archived_segments(&path);
    fs::write(path.join("schema/registrations.schema.json"), "{ not json").unwrap();
    let report = repair(&path);
    assert_eq!(report.quarantined, ["registrations"]);
    assert!(report.is_clean(), "{:?}", report.remaining);
    assert_eq!(student_names(&path).len(), 8);
    assert!(path.join("quarantine/registrations.records").exists());
    let db = Database::open(&path).unwrap();
    assert_eq!(db.table_names().unwrap(), ["students"]);
}

#[test]
fn a_damaged_schema_file_of_a_checkpointed_table_is_rebuilt_from_its_archived_creation() {
    // The checkpoint archived the log that created the tables; a commit came after it.
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let db = Database::open(&path).unwrap();
    db.checkpoint().unwrap();
    db.table::<Student>()
        .unwrap()
        .insert(student("After", 2021, 2.0))
        .unwrap();
    drop(db);
    let file = path.join("schema/students.schema.json");
    let before = fs::read(&file).unwrap();
    fs::write(&file, "").unwrap();
    let problems = tabula::verify(&path).unwrap();
    assert!(
        problems.iter().any(|p| p.file == file
            && p.message
                .starts_with("repair rebuilds it from its creation in")),
        "{problems:?}"
    );
    // Neither the log's commit nor the table that references students is lost.
    assert!(
        !problems
            .iter()
            .any(|p| p.message.contains("unknown table") || p.message.contains("set aside")),
        "{problems:?}"
    );
    let report = repair(&path);
    assert!(report.quarantined.is_empty(), "{report:?}");
    let t = table(&report, "students");
    assert!(t.schema_from_log);
    assert_eq!((t.rows_recovered, t.rows_dropped), (9, 0));
    assert!(report.is_clean(), "{:?}", report.remaining);
    let rebuilt: serde_json::Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
    let original: serde_json::Value = serde_json::from_slice(&before).unwrap();
    assert_eq!(rebuilt["schema"], original["schema"]);
    let names = student_names(&path);
    assert_eq!(names.len(), 9);
    assert!(names.contains(&"After".to_owned()));
    let db = Database::open(&path).unwrap();
    assert_eq!(db.table::<Registration>().unwrap().count().unwrap(), 7);
}

#[test]
fn a_damaged_snapshot_line_does_not_keep_a_lost_schema_from_its_creation() {
    // The schema file is gone, one snapshot line is no JSON object and another names a
    // column no schema has: the schema comes from the table's creation in the archived
    // segments (the manifest's checksum vouches for it), and so do the rows, every record
    // since that creation being there: the damaged file is not what is kept.
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let db = Database::open(&path).unwrap();
    db.checkpoint().unwrap();
    drop(db);
    fs::remove_file(path.join("schema/students.schema.json")).unwrap();
    let records = path.join("data/students.records");
    let text = fs::read_to_string(&records).unwrap();
    let damaged = text
        .replacen("{", "#", 1)
        .replacen("\"name\"", "\"nbme\"", 2);
    assert_eq!(damaged.lines().filter(|l| l.contains("nbme")).count(), 2);
    fs::write(&records, damaged).unwrap();
    let problems = tabula::verify(&path).unwrap();
    assert!(
        problems.iter().any(|p| p
            .message
            .starts_with("repair rebuilds it from its creation in")),
        "{problems:?}"
    );
    let report = repair(&path);
    assert!(report.quarantined.is_empty(), "{report:?}");
    let t = table(&report, "students");
    assert!(t.schema_from_log);
    assert_eq!(
        (t.rows_recovered, t.rows_dropped, t.rows_missing),
        (8, 0, 0)
    );
    assert!(!t.snapshot_unverified);
    assert_eq!(student_names(&path).len(), 8);
}

#[test]
fn a_dropped_tables_leftover_files_are_not_brought_back_from_its_archived_creation() {
    // A crash left a dropped table's files behind after the checkpoint that forgot it;
    // its creation is still in an archived segment. The table stays dropped.
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let db = Database::open(&path).unwrap();
    db.checkpoint().unwrap();
    let records = fs::read(path.join("data/registrations.records")).unwrap();
    db.sql("DROP TABLE registrations").unwrap();
    db.checkpoint().unwrap();
    db.checkpoint().unwrap();
    drop(db);
    assert!(!path.join("data/registrations.records").exists());
    fs::write(path.join("data/registrations.records"), &records).unwrap();
    for schema in ["{ not json", ""] {
        fs::write(path.join("schema/registrations.schema.json"), schema).unwrap();
        let problems = tabula::verify(&path).unwrap();
        assert!(
            !problems
                .iter()
                .any(|p| p.message.contains("rebuilds it from")),
            "{problems:?}"
        );
    }
    let report = repair(&path);
    assert!(
        !report.tables.iter().any(|t| t.table == "registrations"),
        "{report:?}"
    );
    let db = Database::open(&path).unwrap();
    assert_eq!(db.table_names().unwrap(), ["students"]);
}

#[test]
fn rows_that_fit_an_older_schema_are_not_read_with_it() {
    // A column dropped and added again with another type since the table's creation: its
    // values (-0.0, 2.0) would read as integers under the creation's schema.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    db.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, c INTEGER)")
        .unwrap();
    db.checkpoint().unwrap();
    db.sql("ALTER TABLE t DROP COLUMN c").unwrap();
    db.sql("ALTER TABLE t ADD COLUMN c REAL").unwrap();
    db.sql("INSERT INTO t (c) VALUES (-0.0), (2.0)").unwrap();
    drop(db);
    fs::remove_file(path.join("schema/t.schema.json")).unwrap();
    let problems = tabula::verify(&path).unwrap();
    assert!(
        !problems
            .iter()
            .any(|p| p.message.contains("rebuilds it from")),
        "{problems:?}"
    );
    let report = repair(&path);
    assert_eq!(report.quarantined, ["t"]);
    assert!(report.is_clean(), "{:?}", report.remaining);
}

#[test]
fn an_edited_schema_file_gives_way_to_the_creation_the_manifest_vouches_for() {
    // The schema file still parses, but a column's type was edited: the manifest's
    // checksum names the creation's schema, which repair puts back.
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let db = Database::open(&path).unwrap();
    db.checkpoint().unwrap();
    drop(db);
    let file = path.join("schema/registrations.schema.json");
    let original = fs::read_to_string(&file).unwrap();
    let edited = original.replacen("\"text\"", "\"json\"", 1);
    assert_ne!(edited, original);
    fs::write(&file, &edited).unwrap();
    let problems = tabula::verify(&path).unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.file == file && p.message.starts_with("repair rebuilds it from")),
        "{problems:?}"
    );
    // The file is there: it is not reported missing as well.
    assert!(
        !problems.iter().any(|p| p.message.contains("missing")),
        "{problems:?}"
    );
    let report = repair(&path);
    assert!(table(&report, "registrations").schema_from_log);
    assert!(report.is_clean(), "{:?}", report.remaining);
    assert_eq!(fs::read_to_string(&file).unwrap(), original);
}

#[test]
fn an_lsn_near_the_end_of_u64_is_damage_and_later_commits_stay() {
    // A file named as an archived segment of LSN 2^64 - 2, and a well-checksummed log line
    // of that LSN: trusted, the next commits' LSNs would wrap past u64::MAX and read as
    // older than the checkpoint, lost at the next open.
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let junk = path.join("wal/transaction.18446744073709551614.log");
    fs::write(&junk, "junk\n").unwrap();
    let log = path.join("wal/transaction.log");
    let text = fs::read_to_string(&log).unwrap();
    let text = text.trim_end_matches('\0').to_owned();
    let json = &text.lines().last().unwrap()[9..];
    let lsn = serde_json::from_str::<serde_json::Value>(json).unwrap()["lsn"]
        .as_u64()
        .unwrap();
    let forged = json.replacen(
        &format!("\"lsn\":{lsn}"),
        &format!("\"lsn\":{}", u64::MAX - 1),
        1,
    );
    let crc = format!("{:08x}", crc32c::crc32c(forged.as_bytes()));
    fs::write(&log, format!("{text}{crc} {forged}\n")).unwrap();
    let problems = tabula::verify(&path).unwrap();
    for (file, says) in [(&junk, "beyond"), (&log, "is beyond")] {
        assert!(
            problems
                .iter()
                .any(|p| p.file == *file && p.message.contains(says)),
            "{problems:?}"
        );
    }
    let report = repair(&path);
    assert!(report.is_clean(), "{:?}", report.remaining);
    assert!(!junk.exists());
    let db = Database::open(&path).unwrap();
    let s = db.table::<Student>().unwrap();
    for n in ["X", "Y"] {
        s.insert(student(n, 2022, 1.0)).unwrap();
    }
    drop((s, db));
    let names = student_names(&path);
    assert!(
        names.contains(&"X".to_owned()) && names.contains(&"Y".to_owned()),
        "{names:?}"
    );
}

#[test]
fn a_repeated_log_record_is_not_replayed_over_newer_ones() {
    // A's name changes twice after the checkpoint; then a copy of the first change's line
    // lands at the end of the log. Opening refuses it; repair must keep the newest name.
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let db = Database::open(&path).unwrap();
    db.sql("UPDATE students SET name = 'A1' WHERE name = 'A'")
        .unwrap();
    db.sql("UPDATE students SET name = 'A2' WHERE name = 'A1'")
        .unwrap();
    drop(db);
    let wal = path.join("wal/transaction.log");
    let text = fs::read_to_string(&wal).unwrap();
    let text = text.trim_end_matches('\0');
    let lines: Vec<&str> = text.lines().collect();
    let first_change = lines
        .iter()
        .find(|l| l.contains("\"A1\""))
        .expect("the first change's line");
    fs::write(&wal, format!("{text}{first_change}\n")).unwrap();
    let e = Database::open(&path).unwrap_err();
    assert!(
        matches!(&e, Error::Corrupt { reason, .. } if reason.contains("repeated or out of order")),
        "{e}"
    );
    let problems = tabula::verify(&path).unwrap();
    assert!(
        problems.iter().any(|p| p
            .message
            .contains("a record repeated or out of order, not replayed")),
        "{problems:?}"
    );
    let report = repair(&path);
    assert!(report.is_clean(), "{:?}", report.remaining);
    assert_eq!(report.log_dropped.len(), 1, "{report:?}");
    let names = student_names(&path);
    assert!(names.contains(&"A2".to_owned()), "{names:?}");
    assert!(!names.contains(&"A1".to_owned()), "{names:?}");
}

#[test]
fn an_archived_creation_the_rows_do_not_fit_leaves_the_table_set_aside() {
    // A column added since the table's creation: its rows hold a key the creation's
    // schema does not know, and reading them with it would lose that column.
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let db = Database::open(&path).unwrap();
    db.sql("ALTER TABLE registrations ADD COLUMN note TEXT")
        .unwrap();
    db.sql("UPDATE registrations SET note = 'kept' WHERE id = 1")
        .unwrap();
    db.checkpoint().unwrap();
    drop(db);
    fs::write(path.join("schema/registrations.schema.json"), "{ not json").unwrap();
    let problems = tabula::verify(&path).unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.message.contains("(migrated since)")),
        "{problems:?}"
    );
    let report = repair(&path);
    assert_eq!(report.quarantined, ["registrations"]);
    let kept = fs::read_to_string(path.join("quarantine/registrations.records")).unwrap();
    assert!(kept.contains("\"note\":\"kept\""), "{kept}");
    assert_eq!(student_names(&path).len(), 8);
}

#[test]
fn a_leftover_temporary_file_is_not_a_problem_and_a_committed_one_is_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    fs::write(path.join("data/students.records.tmp"), "half a row").unwrap();
    fs::write(path.join("manifest.json.tmp"), "{").unwrap();
    assert_eq!(tabula::verify(&path).unwrap(), []);
    // A checkpoint that committed its manifest but died before renaming its snapshot.
    let file = path.join("data/students.records");
    fs::rename(&file, path.join("data/students.records.tmp")).unwrap();
    assert_eq!(tabula::verify(&path).unwrap(), []);
    assert_eq!(student_names(&path).len(), 8);
}

#[test]
fn a_healthy_database_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let report = repair(&path);
    assert_eq!(report.backup, None);
    assert!(report.problems.is_empty() && report.is_clean());
    let siblings = fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(siblings, 1);
    // A backup directory named for it is not made either: nothing needed one.
    let options = RepairOptions {
        backup_dir: Some(dir.path().join("backups")),
    };
    assert_eq!(tabula::repair(&path, options).unwrap().backup, None);
    assert!(!dir.path().join("backups").exists());
}

#[test]
fn a_locked_database_is_not_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let _db = Database::open(&path).unwrap();
    let e = tabula::repair(&path, RepairOptions::default()).unwrap_err();
    assert!(matches!(e, Error::Locked { .. }), "{e}");
}

#[test]
fn a_transaction_that_swaps_unique_values_verifies_clean_and_survives_repair() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let db = Database::open(&path).unwrap();
    db.transaction(|tx| {
        let s = tx.table::<Student>()?;
        s.update(|x| x.id == 1, |x| x.email = "temp@uni.edu".into())?;
        s.update(|x| x.id == 2, |x| x.email = "a@uni.edu".into())?;
        s.update(|x| x.id == 1, |x| x.email = "b@uni.edu".into())?;
        Ok(())
    })
    .unwrap();
    drop(db);
    assert_eq!(tabula::verify(&path).unwrap(), []);
    // Damage elsewhere makes repair rewrite everything: the swap must survive it.
    fs::remove_file(path.join("manifest.json")).unwrap();
    let report = repair(&path);
    assert!(report.is_clean(), "{:?}", report.remaining);
    assert_eq!(table(&report, "students").rows_dropped, 0);
    let db = Database::open(&path).unwrap();
    let s = db.table::<Student>().unwrap();
    assert_eq!(s.get(1u64).unwrap().unwrap().email, "b@uni.edu");
    assert_eq!(s.get(2u64).unwrap().unwrap().email, "a@uni.edu");
}

/// A lost snapshot whose every row the archived log segments still hold (every record
/// from the table's creation to the checkpoint, the table never migrated) is rebuilt from
/// them, row for row: updates, deletes and key changes included.
#[test]
fn a_missing_snapshot_is_rebuilt_from_the_archived_log_segments() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    {
        let db = Database::open(&path).unwrap();
        let s = db.table::<Student>().unwrap();
        s.update(|st| st.name == "B", |st| st.gpa = 4.0).unwrap();
        db.dyn_table("registrations")
            .unwrap()
            .delete_key(3)
            .unwrap();
        s.delete(|st| st.name == "C").unwrap();
        db.checkpoint().unwrap();
        s.insert(student("I", 2022, 1.5)).unwrap();
    }
    let before = student_names(&path);
    let students = |path: &Path| {
        let db = Database::open(path).unwrap();
        let mut all = db.table::<Student>().unwrap().select().all().unwrap();
        all.sort_by_key(|s| s.id);
        all.into_iter()
            .map(|s| (s.id, s.name, s.gpa.to_bits()))
            .collect::<Vec<_>>()
    };
    let rows = students(&path);
    fs::remove_file(path.join("data/students.records")).unwrap();
    assert_reported(
        &path,
        "students.records",
        "missing; the manifest lists 7 rows, which repair rebuilds from the archived log \
         segments: 7 rows",
    );
    let report = repair(&path);
    let t = table(&report, "students");
    assert_eq!(
        (
            t.rows_before,
            t.rows_missing,
            t.rows_recovered,
            t.rows_dropped
        ),
        (Some(7), 0, 8, 0)
    );
    assert!(report.is_clean(), "{:?}", report.remaining);
    assert_eq!(student_names(&path), before);
    assert_eq!(students(&path), rows);
}

#[test]
fn a_missing_snapshot_is_reported_and_its_rows_counted_as_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    // Without the archived segments, nothing holds the checkpoint's rows.
    remove_archived_segments(&path);
    fs::remove_file(path.join("data/students.records")).unwrap();
    assert_reported(
        &path,
        "students.records",
        "missing; the manifest lists 7 rows (the archived log segments cannot rebuild them: \
         no archived segment holds LSN 1",
    );
    let report = repair(&path);
    let t = table(&report, "students");
    assert_eq!(
        (t.rows_before, t.rows_missing, t.rows_recovered),
        (Some(7), 7, 1)
    );
    assert!(report.is_clean(), "{:?}", report.remaining);
    // Keys are never reused: the next automatic key follows the last one ever given.
    let db = Database::open(&path).unwrap();
    let id = db
        .table::<Student>()
        .unwrap()
        .insert(student("New", 2022, 1.0))
        .unwrap();
    assert_eq!(id, 9);
}

#[test]
fn a_table_set_aside_takes_the_tables_that_reference_it_along() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let db = Database::open(&path).unwrap();
    db.checkpoint().unwrap();
    drop(db);
    remove_archived_segments(&path);
    fs::write(path.join("schema/students.schema.json"), "{ not json").unwrap();
    let report = repair(&path);
    assert_eq!(report.quarantined, ["registrations", "students"]);
    assert!(report.is_clean(), "{:?}", report.remaining);
    // A second look finds nothing more to do, and drops nothing.
    let again = repair(&path);
    assert!(
        again.problems.is_empty() && again.backup.is_none(),
        "{again:?}"
    );
    assert!(path.join("quarantine/students.records").exists());
    assert!(path.join("quarantine/registrations.records").exists());
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.file_name() != "LOCK" {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A repair cut short leaves `REPAIRING` naming its backup: no open accepts the half-rebuilt
/// directory, verify reports it, and the next repair starts over from that backup, so rows
/// the half-written files lost are recovered and none is reported dropped twice.
#[test]
fn an_interrupted_repair_is_redone_from_its_backup() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    fs::remove_file(path.join("manifest.json")).unwrap();
    let first = dir.path().join("db.backup-first");
    copy_dir(&path, &first);
    // The repair was cut short after emptying one snapshot.
    fs::write(
        path.join("REPAIRING"),
        serde_json::to_vec(&serde_json::json!({ "backup": first })).unwrap(),
    )
    .unwrap();
    fs::write(path.join("data/students.records"), b"").unwrap();

    let problems = tabula::verify(&path).unwrap();
    assert!(
        problems.iter().any(|p| p.file.ends_with("REPAIRING")),
        "{problems:?}"
    );
    let e = Database::open(&path).unwrap_err();
    assert!(
        matches!(&e, Error::Corrupt { file, .. } if file.ends_with("REPAIRING")),
        "{e}"
    );

    let report = repair(&path);
    assert!(report.is_clean(), "{:?}", report.remaining);
    assert_eq!(table(&report, "students").rows_recovered, 8);
    assert_eq!(table(&report, "registrations").rows_recovered, 7);
    assert_ne!(report.backup.as_deref(), Some(first.as_path()));
    assert!(!path.join("REPAIRING").exists());
    assert_eq!(student_names(&path).len(), 8);
    assert!(tabula::verify(&path).unwrap().is_empty());
}

/// A marker whose backup is gone is refused: repairing the half-rebuilt directory as it is
/// would replay the log over rows that already hold it. Nothing changes.
#[test]
fn an_interrupted_repair_whose_backup_is_gone_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    fs::write(
        path.join("REPAIRING"),
        serde_json::to_vec(&serde_json::json!({ "backup": dir.path().join("gone") })).unwrap(),
    )
    .unwrap();
    let before: Vec<u8> = fs::read(path.join("data/students.records")).unwrap();
    let e = tabula::repair(&path, RepairOptions::default()).unwrap_err();
    assert!(
        matches!(&e, Error::Corrupt { file, reason, .. }
            if file.ends_with("REPAIRING") && reason.contains("gone")),
        "{e}"
    );
    assert_eq!(
        fs::read(path.join("data/students.records")).unwrap(),
        before
    );
    assert!(path.join("REPAIRING").exists());
}

/// A lost manifest is not a new database: every open refuses (a writable one used to show
/// every table empty, and its next checkpoint overwrote the snapshots and the archived log
/// that held the rows), verify reports it, and repair rebuilds it.
#[test]
fn a_lost_manifest_is_refused_by_every_open_until_repair() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = Database::open(&path).unwrap();
        let s = db.table::<Student>().unwrap();
        for n in ["A", "B", "C"] {
            s.insert(student(n, 2020, 3.0)).unwrap();
        }
        db.close().unwrap();
    }
    fs::remove_file(path.join("manifest.json")).unwrap();
    let snapshot = fs::read(path.join("data/students.records")).unwrap();
    assert_opens_refuse(&path, "manifest.json", "");
    assert_eq!(
        fs::read(path.join("data/students.records")).unwrap(),
        snapshot
    );
    assert!(!tabula::verify(&path).unwrap().is_empty());
    assert!(repair(&path).is_clean());
    assert_eq!(student_names(&path), ["A", "B", "C"]);
}

/// A writer beside `verify`: how many rows the table starts with, how many commits between
/// checkpoints, and a pause after each commit.
struct Writer {
    rows: u32,
    checkpoint_every: u32,
    pause: std::time::Duration,
}

/// Runs `verify` `rounds` times beside `w`, writing and checkpointing from another thread;
/// each must find no problem.
fn verify_beside(w: Writer, rounds: u32) {
    verify_beside_with(
        w,
        rounds,
        |_, _| {},
        |problems| assert!(matches!(problems, Ok(p) if p.is_empty()), "{problems:?}"),
    );
}

/// [`verify_beside`], `damage` done to the database and its directory once the writer's
/// table is checkpointed and before it starts, and `check` judging each verify's answer.
fn verify_beside_with(
    w: Writer,
    rounds: u32,
    damage: impl FnOnce(&Database, &Path),
    check: impl Fn(&tabula::Result<Vec<tabula::Problem>>),
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Database::open(&path).unwrap();
    let students = db.table::<Student>().unwrap();
    students
        .insert_many((0..w.rows).map(|i| student(&format!("S{i}"), 2020 + i % 5, 3.0)))
        .unwrap();
    db.checkpoint().unwrap();
    damage(&db, &path);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                students
                    .insert(student(&format!("W{i}"), 2024, 2.0))
                    .unwrap();
                if i.is_multiple_of(w.checkpoint_every) {
                    db.checkpoint().unwrap();
                }
                i += 1;
                std::thread::sleep(w.pause);
            }
        });
        // Stops the writer however this thread ends, so that a failure cannot hang the test.
        struct Stop<'a>(&'a std::sync::atomic::AtomicBool);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let _stop = Stop(&stop);
        for _ in 0..rounds {
            check(&tabula::verify(&path));
        }
    });
}

/// `verify` beside a process that keeps checkpointing: a checkpoint replaces snapshots and
/// the manifest while they are read, and verify must read again rather than report a mix of
/// two states as damage (or fail on a staged file that was renamed away).
#[test]
fn verify_beside_a_checkpointing_writer_finds_no_problems() {
    let writer = Writer {
        rows: 500,
        checkpoint_every: 20,
        pause: std::time::Duration::from_millis(1),
    };
    verify_beside(writer, 15);
}

/// `verify` beside a writer that checkpoints after every commit, with no pause: no reading
/// holds still (a checkpoint lands inside every one), and a snapshot replaced while it was
/// read is no damage. Only a problem found by every reading is reported, and this database
/// has none.
#[test]
fn verify_beside_a_writer_that_never_stops_checkpointing_finds_no_problems() {
    let writer = Writer {
        rows: 2000,
        checkpoint_every: 1,
        pause: std::time::Duration::ZERO,
    };
    verify_beside(writer, 4);
}

/// Beside the same writer, damage in a table it never writes (so no checkpoint replaces
/// its snapshot) is in every reading, and reported.
#[test]
fn verify_beside_a_writer_that_never_stops_checkpointing_reports_real_damage() {
    let writer = Writer {
        rows: 2000,
        checkpoint_every: 1,
        pause: std::time::Duration::ZERO,
    };
    let damage = |db: &Database, path: &Path| {
        let courses = db.table::<Course>().unwrap();
        courses
            .insert(Course {
                code: "CS1".into(),
                title: "Intro".into(),
                credits: 3,
            })
            .unwrap();
        db.checkpoint().unwrap();
        let file = path.join("data/courses.records");
        let mut rows = fs::read_to_string(&file).unwrap();
        rows.push_str("garbage\n");
        fs::write(&file, rows).unwrap();
    };
    verify_beside_with(writer, 3, damage, |problems| {
        let problems = problems.as_ref().unwrap();
        assert!(
            problems
                .iter()
                .any(|p| p.file.ends_with("data/courses.records")
                    && p.message.contains("does not match the manifest's")),
            "{problems:?}"
        );
    });
}

/// A snapshot whose bytes changed but still read (a character swapped for another, a row
/// nobody committed appended): repair keeps every readable row, as it promises, and says
/// that nothing vouches for that table's rows; a table whose snapshot matched is not marked.
#[test]
fn rows_of_a_snapshot_that_fails_its_checksum_are_reported_unverified() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let file = path.join("data/students.records");
    let text = fs::read_to_string(&file).unwrap();
    let changed = text.replacen("\"A\"", "\"Z\"", 1)
        + &text
            .lines()
            .next()
            .unwrap()
            .replace("\"id\":1,", "\"id\":99,")
            .replace("a@uni.edu", "z@uni.edu")
        + "\n";
    fs::write(&file, changed).unwrap();
    // With the archived segments pruned, the file's rows are all there is.
    remove_archived_segments(&path);
    let report = repair(&path);
    let students = table(&report, "students");
    assert!(students.snapshot_unverified, "{report:?}");
    assert_eq!(
        (students.rows_before, students.rows_recovered),
        (Some(7), 9)
    );
    assert!(!table(&report, "registrations").snapshot_unverified);
    assert!(report.is_clean(), "{report:?}");
}

/// Something other than a regular file where the lock file goes (a FIFO, a directory)
/// keeps every writer out: verify says so, naming it, rather than "no problems".
#[cfg(unix)]
#[test]
fn verify_reports_a_lock_file_that_is_not_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    Database::open(&path)
        .unwrap()
        .sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        .unwrap();
    let lock = path.join("LOCK");
    let _ = fs::remove_file(&lock);
    fs::create_dir(&lock).unwrap();
    let problems = tabula::verify(&path).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].file, lock);
    assert!(
        problems[0].message.contains("not a regular file"),
        "{problems:?}"
    );
    assert!(matches!(Database::open(&path), Err(Error::Io { .. })));
    fs::remove_dir(&lock).unwrap();
    assert_eq!(tabula::verify(&path).unwrap(), []);
    Database::open(&path).unwrap();
}

/// A manifest put back from an older copy, beside the files of a table created since: the
/// table is neither in the manifest nor created by the log after its checkpoint. Opened,
/// it would read as empty and the next checkpoint would write over its rows; every open
/// refuses it instead, verify names it, and repair keeps the table with its rows.
#[test]
fn files_of_a_table_an_older_manifest_does_not_know_are_refused_then_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    put_back_an_older_manifest(
        &path,
        "CREATE TABLE extra (id INTEGER PRIMARY KEY, v TEXT); \
         INSERT INTO extra (v) VALUES ('e1'), ('e2'), ('e3')",
    );
    // With the segments that show the manifest older gone, the table's files still do.
    remove_segments_past_the_manifest(&path);
    let before = fs::read(path.join("data/extra.records")).unwrap();
    // Salvaging too: the table has a snapshot, which only a committed manifest names, so no
    // record the salvage dropped explains it.
    for e in [
        Database::open(&path).unwrap_err(),
        Database::open_read_only(&path).unwrap_err(),
        Database::builder()
            .recovery(Recovery::Salvage)
            .open(&path)
            .unwrap_err(),
        Database::builder()
            .recovery(Recovery::Salvage)
            .open_read_only(&path)
            .unwrap_err(),
    ] {
        match &e {
            Error::Corrupt { file, reason, .. } => {
                assert!(file.ends_with("schema/extra.schema.json"), "{e}");
                assert!(reason.contains("neither in the manifest"), "{e}");
            }
            other => panic!("{other}"),
        }
    }
    assert_eq!(fs::read(path.join("data/extra.records")).unwrap(), before);
    let problems = tabula::verify(&path).unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.file.ends_with("schema/extra.schema.json")
                && p.message.contains("neither in the manifest")),
        "{problems:?}"
    );
    tabula::repair(&path, RepairOptions::default()).unwrap();
    assert_eq!(tabula::verify(&path).unwrap(), vec![]);
    let db = Database::open(&path).unwrap();
    let rows = db.sql("SELECT v FROM extra ORDER BY id").unwrap().rows;
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(db.sql("SELECT v FROM a").unwrap().rows.len(), 1);
    // Its next key follows its rows.
    db.sql("INSERT INTO extra (v) VALUES ('e4')").unwrap();
    assert_eq!(
        db.sql("SELECT MAX(id) FROM extra").unwrap().rows,
        vec![vec![tabula::Value::Int(4)]]
    );
}

/// A manifest put back from an older copy that lists a table as dropped, where the table was
/// created again since: the open is refused (the log does not follow that manifest) and the
/// table's files are still there, where the open removed them as a dropped table's leftovers
/// before it read the log.
#[test]
fn a_refused_open_keeps_the_files_of_a_table_an_older_manifest_calls_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let manifest = path.join("manifest.json");
    let old = {
        let db = Database::open(&path).unwrap();
        db.sql("CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE x (id INTEGER PRIMARY KEY, v TEXT)")
            .unwrap();
        db.sql("DROP TABLE x").unwrap();
        db.checkpoint().unwrap();
        let old = fs::read(&manifest).unwrap();
        db.sql("CREATE TABLE x (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO x (v) VALUES ('x1'), ('x2')")
            .unwrap();
        db.checkpoint().unwrap();
        db.sql("INSERT INTO a (v) VALUES ('a1')").unwrap();
        old
    };
    // As the drop's checkpoint wrote it when it stopped before removing the files.
    let mut old: serde_json::Value = serde_json::from_slice(&old).unwrap();
    old.as_object_mut().unwrap().remove("crc32c");
    old["dropped"] = serde_json::json!(["x"]);
    fs::write(&manifest, old.to_string()).unwrap();
    let schema = fs::read(path.join("schema/x.schema.json")).unwrap();
    let records = fs::read(path.join("data/x.records")).unwrap();
    // With the segments that show the manifest older gone, the log still does.
    remove_segments_past_the_manifest(&path);
    match Database::open(&path).unwrap_err() {
        Error::Corrupt { file, reason, .. } => {
            assert!(file.ends_with("wal/transaction.log"), "{file:?}");
            assert!(reason.contains("records are missing"), "{reason}");
        }
        other => panic!("{other}"),
    }
    assert_eq!(fs::read(path.join("schema/x.schema.json")).unwrap(), schema);
    assert_eq!(fs::read(path.join("data/x.records")).unwrap(), records);
    let problems = tabula::verify(&path).unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.file.ends_with("wal/transaction.log")
                && p.message.contains("records are missing")),
        "{problems:?}"
    );
}

/// A directory or file of the database the process may not read (another user's) is not a
/// missing one: repair fails naming it, makes no backup and changes nothing, where it
/// reported the snapshots missing and rebuilt over them. Verify fails on a directory it
/// cannot list, and reports a file it cannot read as a problem of its own, then goes on to
/// the other files (it used to stop there, hiding the rest).
#[test]
fn an_unreadable_directory_or_snapshot_is_an_error_not_missing() {
    let fs = tabula::testing::FaultyFs::new();
    {
        let db = Database::builder()
            .file_system(fs.clone())
            .open("/db")
            .unwrap();
        let s = db.table::<Student>().unwrap();
        for n in ["A", "B", "C"] {
            s.insert(student(n, 2020, 3.0)).unwrap();
        }
        db.close().unwrap();
    }
    let refused = |denied: &str, e: Error| match &e {
        Error::Io { path, .. } => assert_eq!(path, Path::new(denied), "{e}"),
        other => panic!("{denied}: {other}"),
    };
    for denied in ["/db/data", "/db/wal", "/db/schema"] {
        fs.deny(Some(Path::new(denied)));
        let before = fs.read("/db/manifest.json").unwrap();
        refused(denied, fs.verify("/db").unwrap_err());
        refused(
            denied,
            fs.repair("/db", RepairOptions::default()).unwrap_err(),
        );
        assert_eq!(fs.read("/db/manifest.json").unwrap(), before);
        fs.deny(None);
        assert_eq!(fs.verify("/db").unwrap(), vec![], "{denied}");
    }
    for (denied, what) in [
        ("/db/data/students.records", "the snapshot"),
        ("/db/schema/students.schema.json", "the schema file"),
    ] {
        fs.deny(Some(Path::new(denied)));
        let before = fs.read("/db/manifest.json").unwrap();
        let problems = fs.verify("/db").unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].file, Path::new(denied));
        assert!(
            problems[0]
                .message
                .starts_with(&format!("cannot read {what}: ")),
            "{problems:?}"
        );
        assert!(
            problems[0]
                .message
                .ends_with("`repair` refuses until it can be read"),
            "{problems:?}"
        );
        refused(
            denied,
            fs.repair("/db", RepairOptions::default()).unwrap_err(),
        );
        assert_eq!(fs.read("/db/manifest.json").unwrap(), before);
        fs.deny(None);
        assert_eq!(fs.verify("/db").unwrap(), vec![], "{denied}");
    }
}

/// A file verify cannot read is not evidence about what it holds: verify goes on to the
/// other files, reporting their damage, and reports nothing that only the unreadable
/// file's absence would make (registrations naming no student, log records of a table
/// unknown, a referencing table set aside), with or without the archived segments that
/// hold the tables' creation.
#[test]
fn verify_goes_on_past_an_unreadable_file_and_concludes_nothing_from_it() {
    for keep_archived in [10, 0] {
        let fs = tabula::testing::FaultyFs::new();
        {
            let db = Database::builder()
                .file_system(fs.clone())
                .keep_archived(keep_archived)
                .open("/db")
                .unwrap();
            let s = db.table::<Student>().unwrap();
            let r = db.table::<Registration>().unwrap();
            for (i, n) in ["A", "B", "C"].iter().enumerate() {
                enrol(&s, &r, student(n, 2020, 3.0), format!("C{i}"));
            }
            db.checkpoint().unwrap();
            // In the log only: replayed over the snapshots.
            enrol(&s, &r, student("D", 2021, 2.0), "C9".into());
            drop(db);
        }
        let records = fs.read("/db/data/registrations.records").unwrap();
        let mut damaged = records.clone();
        damaged.insert(1, b'#');
        fs.write("/db/data/registrations.records", &damaged)
            .unwrap();
        for (denied, what) in [
            ("/db/data/students.records", "the snapshot"),
            ("/db/schema/students.schema.json", "the schema file"),
        ] {
            fs.deny(Some(Path::new(denied)));
            let problems = fs.verify("/db").unwrap();
            let unreadable: Vec<_> = problems
                .iter()
                .filter(|p| p.file == Path::new(denied))
                .collect();
            assert_eq!(unreadable.len(), 1, "{keep_archived} {problems:#?}");
            assert!(
                unreadable[0]
                    .message
                    .starts_with(&format!("cannot read {what}: ")),
                "{problems:#?}"
            );
            assert!(
                problems
                    .iter()
                    .any(|p| p.file == Path::new("/db/data/registrations.records")),
                "{keep_archived} {denied}: the damaged snapshot goes unreported: {problems:#?}"
            );
            for p in &problems {
                assert!(
                    !p.message.contains("names no row of students")
                        && !p.message.contains("unknown table")
                        && !p.message.contains("references table students"),
                    "{keep_archived} {denied}: {problems:#?}"
                );
            }
            let before = fs.read("/db/manifest.json").unwrap();
            match fs.repair("/db", RepairOptions::default()).unwrap_err() {
                Error::Io { path, .. } => assert_eq!(path, Path::new(denied)),
                other => panic!("{denied}: {other}"),
            }
            assert_eq!(fs.read("/db/manifest.json").unwrap(), before);
            fs.deny(None);
        }
        if keep_archived > 0 {
            // An archived segment repair cannot read (to back it up) stops it before the
            // backup is begun, where it used to fail halfway through copying.
            let manifest: serde_json::Value =
                serde_json::from_slice(&fs.read("/db/manifest.json").unwrap()).unwrap();
            let segment = format!(
                "/db/wal/transaction.{:020}.log",
                manifest["lsn"].as_u64().unwrap()
            );
            assert!(fs.read(&segment).is_ok(), "{segment}");
            fs.deny(Some(Path::new(&segment)));
            match fs.repair("/db", RepairOptions::default()).unwrap_err() {
                Error::Io { path, source } => {
                    assert_eq!(path, Path::new(&segment));
                    assert!(
                        source.to_string().ends_with(
                            "repair backs up every file before it changes one: make this \
                             one readable, then repair again"
                        ),
                        "{source}"
                    );
                }
                other => panic!("{segment}: {other}"),
            }
            assert_eq!(fs.read("/db/data/registrations.records").unwrap(), damaged);
            fs.deny(None);
        }
    }
}

/// A symbolic link that leads to no file, at a schema file's, a snapshot's, an archived
/// segment's, the manifest's or the log's name (the file on a disk not mounted, say), or a
/// directory at a snapshot's, is reported as what is in the file's place, with nothing
/// concluded from what it would hold; repair refuses before its backup. Verify used to
/// retry the schema file's as a file vanishing mid-read, then fail, to report the
/// snapshot's rows dropped (and every registration of them dangling), to pass the
/// segment's by, and to report the manifest and the log missing, to be rebuilt.
#[cfg(unix)]
#[test]
fn a_link_to_nothing_at_a_schema_or_snapshot_name_is_reported_and_stops_repair() {
    // The archived segment's name is the manifest's LSN.
    let segment = |path: &Path| {
        let manifest: serde_json::Value =
            serde_json::from_slice(&fs::read(path.join("manifest.json")).unwrap()).unwrap();
        format!(
            "wal/transaction.{:020}.log",
            manifest["lsn"].as_u64().unwrap()
        )
    };
    for (file, directory) in [
        ("schema/students.schema.json", false),
        ("data/students.records", false),
        ("data/students.records", true),
        ("", false),
        ("manifest.json", false),
        ("wal/transaction.log", false),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = seven(dir.path());
        let file = if file.is_empty() {
            segment(&path)
        } else {
            file.to_owned()
        };
        let at = path.join(&file);
        fs::remove_file(&at).unwrap();
        let expected = if directory {
            fs::create_dir(&at).unwrap();
            "not a regular file: a directory is in its place"
        } else {
            std::os::unix::fs::symlink(dir.path().join("gone"), &at).unwrap();
            "not a regular file: a symbolic link that leads to no file is in its place"
        };
        let problems = tabula::verify(&path).unwrap();
        let here: Vec<_> = problems.iter().filter(|p| p.file == at).collect();
        assert_eq!(here.len(), 1, "{file}: {problems:#?}");
        assert!(here[0].message.contains(expected), "{problems:#?}");
        assert!(
            problems
                .iter()
                .all(|p| !p.message.contains("names no row of students")),
            "{problems:#?}"
        );
        let witness = path.join("data/registrations.records");
        let before = fs::read(&witness).unwrap();
        let e = tabula::repair(&path, RepairOptions::default()).unwrap_err();
        assert!(matches!(&e, Error::Io { path: p, .. } if *p == at), "{e}");
        assert_eq!(fs::read(&witness).unwrap(), before);
        assert!(fs::symlink_metadata(&at).is_ok(), "{file} was removed");
        assert!(
            fs::read_dir(dir.path()).unwrap().all(|e| !e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("backup")),
            "{file}: a backup was begun"
        );
    }
}

/// Two snapshots renamed into each other's places: each file's length and checksum are the
/// other table's in the manifest, so verify says which is which and repair puts them back,
/// every row kept (it used to drop them all, and exit clean).
#[test]
fn swapped_snapshots_are_recognised_and_put_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let counts = |path: &Path| {
        let db = Database::open(path).unwrap();
        (
            db.table::<Student>().unwrap().count().unwrap(),
            db.table::<Registration>().unwrap().count().unwrap(),
        )
    };
    let before = counts(&path);
    let (s, r) = (
        path.join("data/students.records"),
        path.join("data/registrations.records"),
    );
    let swap = dir.path().join("swap");
    fs::rename(&s, &swap).unwrap();
    fs::rename(&r, &s).unwrap();
    fs::rename(&swap, &r).unwrap();
    let problems = tabula::verify(&path).unwrap();
    for (file, holds) in [(&s, "registrations"), (&r, "students")] {
        assert!(
            problems.iter().any(|p| p.file == *file
                && p.message
                    .contains(&format!("holds table {holds}'s snapshot"))),
            "{problems:?}"
        );
    }
    let report = tabula::repair(&path, RepairOptions::default()).unwrap();
    assert!(
        report
            .tables
            .iter()
            .all(|t| t.rows_dropped == 0 && t.rows_missing == 0),
        "{:?}",
        report.tables
    );
    assert_eq!(tabula::verify(&path).unwrap(), vec![]);
    assert_eq!(counts(&path), before);
}

/// verify reads the archived log segments too, since repair rebuilds lost snapshots and
/// next keys from them: a line that does not read, or a record past the LSN the segment
/// is named for (the last it holds), is reported where it is. Nothing opens a segment, so
/// the database itself still opens; repair removes the segment, keeping it in its backup.
#[test]
fn verify_reports_damage_in_archived_segments() {
    let students = |path: &Path| {
        let rows = Database::open(path)
            .unwrap()
            .sql("SELECT COUNT(*) FROM students")
            .unwrap()
            .rows;
        match rows.as_slice() {
            [row] => row[0].clone(),
            _ => panic!("{rows:?}"),
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let (named, segment) = archived_segments(&path).remove(0);
    let bytes = fs::read(&segment).unwrap();
    let second = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut damaged = bytes.clone();
    damaged[second + 30] ^= 0x01;
    fs::write(&segment, &damaged).unwrap();
    let problems = tabula::verify(&path).unwrap();
    assert!(
        problems.iter().any(|p| p.file == segment
            && p.line == 2
            && p.message.contains("checksum mismatch")
            && p.message.contains("an archived segment")),
        "{problems:?}"
    );
    assert_eq!(students(&path), tabula::Value::Int(8));
    // Cut after its first line, or emptied: its name says which record it ends with.
    for (kept, says) in [(second, "ends at LSN"), (0, "holds no record")] {
        fs::write(&segment, &bytes[..kept]).unwrap();
        let problems = tabula::verify(&path).unwrap();
        assert!(
            problems.iter().any(|p| p.file == segment
                && p.message.contains(says)
                && p.message.contains("cut short")),
            "{problems:?}"
        );
    }
    // Put back whole, under the name of an LSN before its last record.
    fs::write(&segment, &bytes).unwrap();
    let renamed = path.join(format!("wal/transaction.{:020}.log", named - 1));
    fs::rename(&segment, &renamed).unwrap();
    let problems = tabula::verify(&path).unwrap();
    assert!(
        problems.iter().any(|p| p.file == renamed
            && p.message
                .contains(&format!("LSN {named} is past {}", named - 1))),
        "{problems:?}"
    );
    // Repair removes a damaged segment, once it is in the backup: its records are in the
    // snapshots, and it can no longer serve a rebuild.
    let report = repair(&path);
    assert!(report.is_clean(), "{:?}", report.remaining);
    assert!(!renamed.exists());
    let backup = report.backup.unwrap();
    assert_eq!(
        fs::read(backup.join("wal").join(renamed.file_name().unwrap())).unwrap(),
        bytes
    );
    assert_eq!(tabula::verify(&path).unwrap(), []);
    assert_eq!(students(&path), tabula::Value::Int(8));
}

/// A manifest and snapshot put back from an older copy, with the segments a later
/// checkpoint archived still beside them: opened, the table would hand out again the keys of
/// the rows committed since (in no snapshot now). Every open refuses it and verify reports
/// it; repair makes the files agree with the rows the snapshot holds, and takes the next
/// key from those segments, so no key is given twice.
#[test]
fn an_older_manifest_and_snapshot_put_back_give_no_key_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (manifest, snapshot) = (path.join("manifest.json"), path.join("data/a.records"));
    let old = {
        let db = Database::open(&path).unwrap();
        db.sql("CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO a (v) VALUES ('a1')")
            .unwrap();
        db.checkpoint().unwrap();
        let old = (fs::read(&manifest).unwrap(), fs::read(&snapshot).unwrap());
        db.sql("INSERT INTO a (v) VALUES ('a2'), ('a3')").unwrap();
        db.checkpoint().unwrap();
        old
    };
    fs::write(&manifest, &old.0).unwrap();
    fs::write(&snapshot, &old.1).unwrap();
    for e in [
        Database::open(&path).unwrap_err(),
        Database::open_read_only(&path).unwrap_err(),
    ] {
        assert!(
            matches!(&e, Error::Corrupt { file, reason, .. }
                if file.to_string_lossy().ends_with(".log")
                    && reason.contains("manifest.json is older than the files")),
            "{e}"
        );
    }
    assert!(tabula::verify(&path)
        .unwrap()
        .iter()
        .any(|p| p.message.contains("past the manifest's checkpoint")),);
    let report = repair(&path);
    assert!(report.is_clean(), "{:?}", report.remaining);
    let db = Database::open(&path).unwrap();
    db.sql("INSERT INTO a (v) VALUES ('a4')").unwrap();
    assert_eq!(
        db.sql("SELECT id, v FROM a ORDER BY id").unwrap().rows,
        vec![
            vec![tabula::Value::Int(1), tabula::Value::from("a1")],
            vec![tabula::Value::Int(4), tabula::Value::from("a4")],
        ]
    );
}

/// A damaged record in the middle of the log, later records writing only another table: its
/// row is lost, but the key it was given was handed out, acknowledged. Repair took the
/// next key from the records it kept and gave that key to the next row. The damaged text
/// still reads as the record it was, and its next key is kept.
#[test]
fn repair_hands_out_no_key_a_damaged_record_was_given() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    {
        let db = Database::open(&path).unwrap();
        let i = db
            .table::<Student>()
            .unwrap()
            .insert(student("I", 2022, 2.0))
            .unwrap();
        assert_eq!(i, 9);
        db.table::<Registration>()
            .unwrap()
            .insert(Registration {
                id: 0,
                student_id: 1,
                course: "C9".into(),
            })
            .unwrap();
    }
    let log = path.join("wal/transaction.log");
    let bytes = fs::read(&log).unwrap();
    let at = bytes
        .windows(10)
        .position(|w| w == br#""name":"I""#)
        .unwrap();
    let mut damaged = bytes.clone();
    damaged[at + 8] = b'Y';
    fs::write(&log, &damaged).unwrap();
    assert_opens_refuse(&path, "wal/transaction.log", "a damaged middle record");
    let report = repair(&path);
    assert_eq!(report.log_dropped.len(), 1, "{report:?}");
    assert_eq!(tabula::verify(&path).unwrap(), vec![]);
    assert_eq!(
        student_names(&path),
        ["A", "B", "C", "D", "E", "F", "G", "H"]
    );
    let db = Database::open(&path).unwrap();
    assert_eq!(
        db.table::<Student>()
            .unwrap()
            .insert(student("J", 2023, 1.0))
            .unwrap(),
        10,
        "9 was I's"
    );
}

/// A directory where a snapshot goes, or a file where `data/` goes: `repair` refuses before
/// it backs up or changes anything, naming the entry (before, it backed up, rewrote some
/// snapshots, then failed on the entry with exit 2, leaving a directory every tool refused
/// until the entry was moved and it ran again).
#[test]
fn repair_refuses_an_entry_of_the_wrong_kind_before_changing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let snapshot = path.join("data/registrations.records");
    fs::remove_file(&snapshot).unwrap();
    fs::create_dir(&snapshot).unwrap();
    let data = path.join("data");
    let moved = dir.path().join("data.aside");
    for (what, refused) in [("a directory", snapshot.clone()), ("a file", data.clone())] {
        if what == "a file" {
            fs::remove_dir(&snapshot).unwrap();
            fs::rename(&data, &moved).unwrap();
            fs::write(&data, b"").unwrap();
        }
        let before = entries(dir.path());
        let e = tabula::repair(&path, tabula::RepairOptions::default()).unwrap_err();
        match &e {
            Error::Io { path: p, source } => {
                assert_eq!(p, &refused, "{what}: {e}");
                assert!(
                    source
                        .to_string()
                        .contains("move it aside, then repair again"),
                    "{what}: {e}"
                );
            }
            other => panic!("{what}: expected Error::Io, got {other}"),
        }
        assert_eq!(
            entries(dir.path()),
            before,
            "{what}: nothing changed, no backup"
        );
    }
    // Moved back, the repair goes ahead: the snapshot that was missing is rebuilt from the
    // log's archive or reported lost, and the directory opens again.
    fs::remove_file(&data).unwrap();
    fs::rename(&moved, &data).unwrap();
    let report = repair(&path);
    assert!(report.backup.is_some(), "{report:?}");
    assert!(report.remaining.is_empty(), "{report:?}");
    Database::open(&path).unwrap();
}

/// A stray snapshot (no schema file, log record or manifest entry names its table) is a
/// problem `verify` reports, as `repair` moves it to `quarantine/`: before, `verify` found
/// nothing, and a repair run for other damage moved it without its being in the problems.
#[test]
fn a_stray_snapshot_is_reported_by_verify_and_set_aside_by_repair() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    let stray = path.join("data/foo.records");
    fs::write(&stray, b"{\"id\":1}\n").unwrap();
    let problems = tabula::verify(&path).unwrap();
    assert!(
        matches!(problems.as_slice(), [p] if p.file == stray
            && p.message.contains("a snapshot of table foo")
            && p.message.contains("quarantine/")),
        "{problems:?}"
    );
    let report = repair(&path);
    assert_eq!(report.quarantined, ["foo"]);
    assert!(report.is_clean(), "{report:?}");
    assert!(!stray.exists());
    assert!(path.join("quarantine/foo.records").exists());
    assert_eq!(tabula::verify(&path).unwrap(), vec![]);
    assert_eq!(student_names(&path).len(), 8);
}

/// Of two snapshot rows that a changed byte makes collide on a unique column, the first
/// read is kept and the other dropped; either may be the damaged one, so the report names
/// both lines, and the count says the rows read but did not fit, rather than calling them
/// unreadable.
#[test]
fn rows_a_damage_makes_collide_are_reported_with_the_line_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = seven(dir.path());
    remove_archived_segments(&path);
    let snapshot = path.join("data/students.records");
    let text = fs::read_to_string(&snapshot).unwrap();
    // B's email becomes A's: line 2 collides with line 1 (both read).
    let damaged = text.replacen("b@uni.edu", "a@uni.edu", 1);
    assert_ne!(damaged, text);
    fs::write(&snapshot, damaged).unwrap();
    assert_reported(
        &path,
        "students.records",
        "unique constraint students.email violated by \"a@uni.edu\", which the row from line \
         1 of the snapshot holds too (the row read first is kept)",
    );
    assert_reported(
        &path,
        "students.records",
        "7 readable rows, 1 of them colliding with a row before them on a key or a unique \
         column, so 6 kept, the manifest says 7",
    );
    let report = repair(&path);
    assert_eq!(table(&report, "students").rows_recovered, 7, "{report:?}");
    assert_eq!(student_names(&path), ["A", "C", "D", "E", "F", "G", "H"]);
}
