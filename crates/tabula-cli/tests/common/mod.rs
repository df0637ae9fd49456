//! Helpers both end-to-end test files use: the built binary, its output, the demo database.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the built `tabula` with `args`.
pub fn tabula(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tabula"))
        .args(args)
        .output()
        .expect("run tabula")
}

/// Its stdout, then its stderr.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The demo database (closed, so checkpointed) in a new temporary directory: the directory,
/// the database's path, and that path as text.
pub fn demo() -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("uni");
    let p = path.to_str().unwrap().to_owned();
    let o = tabula(&["demo", &p]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("7 students, 5 courses and 12 registrations"));
    (dir, path, p)
}

/// Runs the built `tabula` with `args` and `input` on its standard input (a pipe).
// Each test file is a crate of its own: those that pipe nothing leave it unused.
#[allow(dead_code)]
pub fn tabula_with_input(args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tabula"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run tabula");
    child
        .stdin
        .take()
        .expect("its stdin")
        .write_all(input)
        .expect("write its stdin");
    child.wait_with_output().expect("wait for tabula")
}

/// Removes the archived log segments (`wal/transaction.<lsn>.log`), as their pruning does:
/// without them, repair has only what is left of a damaged snapshot.
#[allow(dead_code)] // Not every test file uses it.
pub fn remove_archived_segments(path: &std::path::Path) {
    let mut removed = 0;
    for entry in std::fs::read_dir(path.join("wal")).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        if name != "transaction.log" && name.starts_with("transaction.") && name.ends_with(".log") {
            std::fs::remove_file(&p).unwrap();
            removed += 1;
        }
    }
    assert!(removed > 0, "no archived segment in {}", path.display());
}

/// Damages a table's snapshot where no checksum can miss it: its first byte `from` becomes
/// `to` (the file keeps its length).
#[allow(dead_code)] // Not every test file uses it.
pub fn damage_snapshot(path: &std::path::Path, table: &str, from: u8, to: u8) {
    let snapshot = path.join(format!("data/{table}.records"));
    let mut bytes = std::fs::read(&snapshot).unwrap();
    let at = bytes.iter().position(|&b| b == from).unwrap();
    bytes[at] = to;
    std::fs::write(&snapshot, bytes).unwrap();
}
