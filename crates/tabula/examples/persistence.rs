//! The seed's persistence demo: create a database directory, save, load, look at the files,
//! checkpoint and rotate the write-ahead log, export and import, statistics.
//!
//! Run it with `cargo run --release --example persistence`.

use std::path::Path;

use tabula::{Database, Table};

#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "students")]
struct Student {
    #[column(primary_key)]
    id: u64,
    name: String,
    #[column(unique)]
    email: String,
    #[column(default = 0.0)]
    gpa: f64,
}

fn student(name: &str, gpa: f64) -> Student {
    Student {
        id: 0,
        name: name.into(),
        email: format!("{}@uni.edu", name.to_lowercase()),
        gpa,
    }
}

/// Prints the directory tree with file sizes.
fn tree(dir: &Path, indent: &str) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type()?.is_dir() {
            println!("{indent}{name}/");
            tree(&e.path(), &format!("{indent}    "))?;
        } else {
            println!("{indent}{name} ({} bytes)", e.metadata()?.len());
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new("data/persistence_demo");
    if root.exists() {
        std::fs::remove_dir_all(root)?;
    }
    let path = root.join("university");

    println!("== 1. Create a persistent database and write to it");
    let db = Database::open(&path)?;
    let students = db.table::<Student>()?;
    students.insert(student("Alice", 3.8))?;
    students.insert(student("Bob", 3.5))?;
    students.insert_many([student("Cara", 3.9), student("Dan", 2.7)])?;
    students.update(|s| s.name == "Bob", |s| s.gpa = 3.6)?;
    println!(
        "{} students; every commit is one line of wal/transaction.log:",
        students.count()?
    );
    for line in std::fs::read_to_string(path.join("wal/transaction.log"))?
        .lines()
        .take(2)
    {
        println!("  {}", if line.len() > 110 { &line[..110] } else { line });
    }

    println!("\n== 2. Save (checkpoint): snapshots, manifest, and the log archived");
    db.save()?;
    tree(&path, "  ")?;
    println!("  data/students.records, one JSON object per line:");
    for line in std::fs::read_to_string(path.join("data/students.records"))?.lines() {
        println!("    {line}");
    }

    println!("\n== 3. More writes after the checkpoint, then close and load");
    students.insert(student("Eve", 3.3))?;
    students.delete(|s| s.gpa < 3.0)?;
    db.close()?;
    let db = Database::open(&path)?;
    let loaded = db.stats()?.tables[0].loaded;
    println!("  before first use, students loaded: {loaded} (opening read only the log)");
    let students = db.table::<Student>()?;
    for s in students.select().order_by("-gpa").all()? {
        println!("  {} {:.1}", s.name, s.gpa);
    }

    println!("\n== 4. Export to one JSON document, import into a new database");
    let backup = root.join("backup.json");
    db.export_json(&backup)?;
    println!(
        "  wrote {} ({} bytes)",
        backup.display(),
        std::fs::metadata(&backup)?.len()
    );
    let copy = Database::open(root.join("copy"))?;
    let n = copy.import_json(&backup)?;
    println!(
        "  imported {n} rows; copy has {} students",
        copy.table::<Student>()?.count()?
    );
    match copy.import_json(&backup) {
        Ok(_) => println!("  importing twice unexpectedly worked"),
        Err(e) => println!("  importing again is refused and changes nothing: {e}"),
    }

    println!("\n== 5. Statistics");
    db.checkpoint()?;
    println!("{}", db.stats()?);
    Ok(())
}
