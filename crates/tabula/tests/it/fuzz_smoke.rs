//! The fuzz targets' stable smoke run (the real fuzzing is `fuzz/`, with cargo-fuzz): every
//! reader of untrusted bytes gets arbitrary bytes and mutations of valid files (flipped,
//! cut, inserted, repeated bytes), and must return `Ok` or an error, never panic or abort.

use std::path::Path;

use proptest::prelude::*;
use tabula::testing::fuzz;
use tabula::{row, Database, Value};

/// Valid inputs for each target: a log, a snapshot, a schema file, a manifest and an
/// export document of a database over `fuzz::schema()`, and some conditions.
struct Seeds {
    log: Vec<u8>,
    snapshot: Vec<u8>,
    schema: Vec<u8>,
    manifest: Vec<u8>,
    export: Vec<u8>,
}

fn seeds(dir: &Path) -> Seeds {
    let path = dir.join("db");
    let db = Database::open(&path).unwrap();
    let t = db.create_table(fuzz::schema()).unwrap();
    let rows = (0..20).map(|i| {
        row! {
            "name" => format!("n{i}\u{e9}\"\\"), "small" => (i as i64) - 10,
            "gpa" => i as f64 / 3.0, "f" => 0.5, "ok" => i % 2 == 0,
            "doc" => format!("{{\"a\":[{i},null]}}"),
            "parent" => if i > 0 { Value::Int(1) } else { Value::Null },
        }
    });
    t.insert_many(rows).unwrap();
    db.checkpoint().unwrap();
    t.insert(row! { "name" => "later", "small" => 127 })
        .unwrap();
    t.delete_key(3).unwrap();
    db.export_json(dir.join("export.json")).unwrap();
    let read = |p: &str| std::fs::read(path.join(p)).unwrap();
    let seeds = Seeds {
        log: read("wal/transaction.log"),
        snapshot: read("data/t.records"),
        schema: read("schema/t.schema.json"),
        manifest: read("manifest.json"),
        export: std::fs::read(dir.join("export.json")).unwrap(),
    };
    drop(db);
    seeds
}

const CONDITIONS: &[&str] = &[
    "name LIKE 'a\\%%' ESCAPE '\\' AND (gpa > 3.5 OR small IS NULL)",
    "small IN (1, -128, 127) OR NOT ok = true",
    "gpa BETWEEN -1e300 AND 9223372036854775807 AND id <> 18446744073709551615",
];

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Cut(usize),
    Insert(usize, u8),
    Repeat(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, x)| Mutation::Flip(at, x)),
        any::<usize>().prop_map(Mutation::Cut),
        (
            any::<usize>(),
            prop::sample::select(b"\n{}[]\",:0-9e\\\x00\xff ".to_vec())
        )
            .prop_map(|(at, b)| Mutation::Insert(at, b)),
        (any::<usize>(), 1usize..64).prop_map(|(at, n)| Mutation::Repeat(at, n)),
    ]
}

fn mutate(mut bytes: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        let len = bytes.len().max(1);
        match *m {
            Mutation::Flip(at, x) => {
                if !bytes.is_empty() {
                    bytes[at % len] ^= x;
                }
            }
            Mutation::Cut(at) => bytes.truncate(at % (len + 1)),
            Mutation::Insert(at, b) => bytes.insert(at % (bytes.len() + 1), b),
            Mutation::Repeat(at, n) => {
                let at = at % (bytes.len() + 1);
                let end = (at + n).min(bytes.len());
                let piece = bytes[at..end].to_vec();
                bytes.splice(at..at, piece);
            }
        }
    }
    bytes
}

/// Runs every target on one input made from seed `which`.
fn run_all(dir: &Path, s: &Seeds, which: usize, ms: &[Mutation]) {
    match which {
        0 => {
            let b = mutate(s.log.clone(), ms);
            fuzz::log(&b);
            for line in b.split(|&c| c == b'\n') {
                fuzz::log_line(line);
            }
        }
        1 => fuzz::snapshot(&mutate(s.snapshot.clone(), ms)),
        2 => fuzz::schema_file(&mutate(s.schema.clone(), ms)),
        3 => fuzz::manifest(&mutate(s.manifest.clone(), ms)),
        4 => {
            let _ = fuzz::import_document(dir, &mutate(s.export.clone(), ms));
        }
        _ => {
            let c = CONDITIONS[which % CONDITIONS.len()];
            fuzz::condition(&mutate(c.as_bytes().to_vec(), ms));
        }
    }
}

#[test]
fn valid_seeds_go_through_every_target() {
    let dir = tempfile::tempdir().unwrap();
    let s = seeds(dir.path());
    assert_eq!(fuzz::import_document(dir.path(), &s.export).unwrap(), 20);
    for which in 0..8 {
        run_all(dir.path(), &s, which, &[]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_files_never_panic(which in 0usize..8, ms in prop::collection::vec(mutation(), 1..5)) {
        let dir = tempfile::tempdir().unwrap();
        let s = seeds(dir.path());
        run_all(dir.path(), &s, which, &ms);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let dir = tempfile::tempdir().unwrap();
        fuzz::log(&bytes);
        fuzz::log_line(&bytes);
        fuzz::snapshot(&bytes);
        fuzz::schema_file(&bytes);
        fuzz::manifest(&bytes);
        fuzz::condition(&bytes);
        let _ = fuzz::import_document(dir.path(), &bytes);
    }
}

/// Writes the seeds as a starting corpus for `fuzz/` (see fuzz/README.md):
/// `TABULA_FUZZ_SEEDS=DIR cargo test -p tabula --test it write_fuzz_seeds -- --ignored`.
#[test]
#[ignore = "a tool: writes fuzz seeds into $TABULA_FUZZ_SEEDS"]
fn write_fuzz_seeds() {
    let Some(out) = std::env::var_os("TABULA_FUZZ_SEEDS") else {
        panic!("set TABULA_FUZZ_SEEDS to the fuzz/corpus directory")
    };
    let out = Path::new(&out);
    let dir = tempfile::tempdir().unwrap();
    let s = seeds(dir.path());
    let write = |target: &str, name: &str, bytes: &[u8]| {
        std::fs::create_dir_all(out.join(target)).unwrap();
        std::fs::write(out.join(target).join(name), bytes).unwrap();
    };
    write("log", "log", &s.log);
    for (i, line) in s.log.split(|&c| c == b'\n').enumerate() {
        write("log_line", &format!("line{i}"), line);
        if line.len() > 9 {
            write("log_line", &format!("json{i}"), &line[9..]);
        }
    }
    write("snapshot", "snapshot", &s.snapshot);
    write("schema_file", "schema", &s.schema);
    write("manifest", "manifest", &s.manifest);
    write("import_document", "export", &s.export);
    for (i, c) in CONDITIONS.iter().enumerate() {
        write("condition", &format!("c{i}"), c.as_bytes());
    }
}
