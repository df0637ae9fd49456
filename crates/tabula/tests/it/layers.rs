//! The library's modules form layers, and no modules use each other in a circle: every
//! `crate::` path in `src/` is read, and each top-level module may use only modules of its
//! own layer or of earlier ones. `cargo test -p tabula --test it layers` shows any
//! violation with the file that makes it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first, as `src/lib.rs` lists them.
const LAYERS: &[&[&str]] = &[
    &[
        "column",
        "error",
        "expr",
        "lookup",
        "record",
        "schema",
        "slab",
        "sql_name",
        "sql_words",
        "stack",
        "path_text",
        "json_text",
        "value",
    ],
    &["storage"],
    &["aggregate", "copy", "index", "query", "table"],
    &["engine"],
    &["handle", "join", "select", "sql", "txn"],
    &["db", "fuzz"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a piece of code at module depth `depth` names (1 for `src/x.rs`
/// and `src/x/mod.rs`, 2 for `src/x/y.rs`): `crate::x::...`, each first name inside
/// `crate::{x::..., y, ...}`, and `super::x` where the `super`s climb to the crate root and
/// `x` is a module of [`LAYERS`] (in a test module inside a file, `super` climbs one level
/// less, so names that are no module are left out). Comment lines are skipped (doc links
/// are not uses).
fn modules_used(code: &str, depth: usize) -> BTreeSet<String> {
    let code: String = code
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = code.as_str();
    while let Some(at) = rest.find("super::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at..];
        let mut climbs = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            climbs += 1;
            rest = r;
        }
        let is_path_start = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let name = ident(rest);
        if is_path_start && climbs == depth && layer_of(&name).is_some() {
            out.insert(name);
        }
    }
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        // `$crate::` in a macro names the crate root, not a module.
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before == Some('$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // The first name of each element at the group's own depth.
            let mut depth = 0;
            let mut start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        rest = &group[i..];
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && (c.is_alphanumeric() || c == '_') => {
                        let name: String = group[i..]
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        out.insert(name);
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.insert(name);
        }
    }
    out
}

/// Every top-level module with the modules it uses, and for each use a file that makes it.
fn graph() -> BTreeMap<String, BTreeMap<String, PathBuf>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" {
            continue;
        }
        let code = std::fs::read_to_string(&file).unwrap();
        let depth = rel.components().count() - usize::from(rel.ends_with("mod.rs"));
        let uses = graph.entry(module.clone()).or_default();
        for used in modules_used(&code, depth) {
            if used != module {
                uses.entry(used).or_insert_with(|| rel.to_path_buf());
            }
        }
    }
    graph
}

#[test]
fn every_module_uses_only_its_own_layer_and_those_below() {
    let graph = graph();
    let mut wrong = Vec::new();
    for (module, uses) in &graph {
        let Some(layer) = layer_of(module) else {
            wrong.push(format!("module {module} is in no layer: add it to LAYERS"));
            continue;
        };
        for (used, file) in uses {
            match layer_of(used) {
                Some(l) if l <= layer => {}
                Some(_) => wrong.push(format!(
                    "{module} uses {used}, a later layer ({})",
                    file.display()
                )),
                None => wrong.push(format!(
                    "{module} uses {used}, which is no module ({})",
                    file.display()
                )),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_modules_use_each_other_in_a_circle() {
    let graph = graph();
    // Depth-first search; a module met again while on the path closes a circle.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeMap<String, PathBuf>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == m) {
            let mut circle = path[at..].to_vec();
            circle.push(m.to_owned());
            return Some(circle);
        }
        if !done.insert(m.to_owned()) {
            return None;
        }
        path.push(m.to_owned());
        for used in graph.get(m).into_iter().flat_map(|u| u.keys()) {
            if let Some(c) = visit(used, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        if let Some(circle) = visit(m, &graph, &mut Vec::new(), &mut done) {
            panic!(
                "modules use each other in a circle: {}",
                circle.join(" -> ")
            );
        }
    }
}

#[test]
fn the_reader_finds_grouped_nested_and_relative_uses() {
    let used = modules_used(
        "use crate::{a::{X, Y}, b, c::d};\n// crate::commented\nlet _ = crate::e::f(); $crate::Row",
        2,
    );
    let want: BTreeSet<String> = ["a", "b", "c", "e"].map(String::from).into();
    assert_eq!(used, want);
    // From src/x/y.rs, `super::` is x itself and `super::super::` the crate root.
    let used = modules_used("use super::z; use super::super::db::Database;", 2);
    assert_eq!(used, ["db"].map(String::from).into());
    let used = modules_used("use super::db;", 1);
    assert_eq!(used, ["db"].map(String::from).into());
}
