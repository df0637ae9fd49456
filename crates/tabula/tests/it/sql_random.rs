//! A differential test on generated schemas, against SQLite (rusqlite, bundled): random
//! tables (an integer primary key and one to five columns of random types, nullable or
//! not, some indexed, alone or together, some unique), random rows from small domains (so
//! ties, duplicates and NULLs abound), and random type-correct queries over them (filters,
//! expressions, functions, joins, grouping, `DISTINCT`, subqueries, set operations, `WITH`,
//! ordering and windows) with random writes among them (`UPDATE`, `DELETE`, `INSERT` over
//! the constraints, `INSERT OR IGNORE`, `OR REPLACE` and `ON CONFLICT`).
//! Both engines must agree on every answer, on which statements fail, and on every table's
//! rows after each write; results are compared as multisets unless the query orders them
//! completely. Each query that runs is also prepared and streamed, owned (`each`) and
//! borrowed (`each_ref`), and must hand out the rows `db.sql` collects.
//!
//! CI runs 40 schemas of 150 queries each; `TABULA_SQL_SCHEMAS` and
//! `TABULA_SQL_SCHEMA_QUERIES` change those numbers.

use tabula::{Database, Value, ValueRef};

use crate::common::Rng;
use crate::sql::{same, sqlite_rows};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Ty {
    Int,
    Real,
    Text,
    Bool,
}

#[derive(Debug)]
struct Col {
    name: String,
    ty: Ty,
    nullable: bool,
}

#[derive(Debug)]
struct Tab {
    name: String,
    /// `id` first.
    cols: Vec<Col>,
}

impl Tab {
    fn of(&self, ty: Ty) -> Vec<&Col> {
        self.cols.iter().filter(|c| c.ty == ty).collect()
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pick<'a, T>(r: &mut Rng, v: &'a [T]) -> &'a T {
    &v[r.pick(v.len())]
}

fn ty_name(ty: Ty) -> &'static str {
    match ty {
        Ty::Int => "INTEGER",
        Ty::Real => "REAL",
        Ty::Text => "TEXT",
        Ty::Bool => "BOOLEAN",
    }
}

fn schema(r: &mut Rng) -> Vec<Tab> {
    let tables = 1 + r.pick(3);
    (0..tables)
        .map(|t| {
            let mut cols = vec![Col {
                name: "id".into(),
                ty: Ty::Int,
                nullable: false,
            }];
            for c in 0..1 + r.pick(5) {
                cols.push(Col {
                    name: format!("c{c}"),
                    ty: *pick(
                        r,
                        &[Ty::Int, Ty::Int, Ty::Real, Ty::Text, Ty::Text, Ty::Bool],
                    ),
                    nullable: r.chance(60),
                });
            }
            Tab {
                name: format!("t{t}"),
                cols,
            }
        })
        .collect()
}

fn literal(r: &mut Rng, ty: Ty) -> String {
    match ty {
        Ty::Int => (r.pick(10) as i64 - 3).to_string(),
        Ty::Real => pick(r, &["-2.5", "-1.0", "0.0", "0.5", "1.25", "3.0", "100.0"]).to_string(),
        Ty::Text => pick(
            r,
            &[
                "''", "'a'", "'ab'", "'B'", "'b'", "'Ab'", "' a '", "'é'", "'a_b'",
            ],
        )
        .to_string(),
        Ty::Bool => pick(r, &["TRUE", "FALSE"]).to_string(),
    }
}

fn create_statements(tabs: &[Tab]) -> Vec<String> {
    let mut out = Vec::new();
    for t in tabs {
        let cols: Vec<String> = t
            .cols
            .iter()
            .map(|c| {
                if c.name == "id" {
                    "id INTEGER PRIMARY KEY".to_string()
                } else {
                    let null = if c.nullable { "" } else { " NOT NULL" };
                    format!("{} {}{null}", c.name, ty_name(c.ty))
                }
            })
            .collect();
        out.push(format!("CREATE TABLE {} ({})", t.name, cols.join(", ")));
    }
    out
}

fn insert_statements(r: &mut Rng, t: &Tab) -> Vec<String> {
    (1..=r.pick(26))
        .map(|id| {
            let values: Vec<String> = t
                .cols
                .iter()
                .map(|c| {
                    if c.name == "id" {
                        id.to_string()
                    } else if c.nullable && r.chance(20) {
                        "NULL".into()
                    } else {
                        literal(r, c.ty)
                    }
                })
                .collect();
            format!("INSERT INTO {} VALUES ({})", t.name, values.join(", "))
        })
        .collect()
}

/// `CREATE [UNIQUE] INDEX` on one or two of a table's columns.
fn index_statement(r: &mut Rng, t: &Tab, n: usize) -> Option<String> {
    let cols: Vec<&Col> = t.cols[1..].iter().filter(|c| c.ty != Ty::Bool).collect();
    if cols.is_empty() {
        return None;
    }
    let a = pick(r, &cols).name.clone();
    let mut on = vec![a];
    if cols.len() > 1 && r.chance(40) {
        let b = pick(r, &cols).name.clone();
        if b != on[0] {
            on.push(b);
        }
    }
    let unique = if r.chance(30) { "UNIQUE " } else { "" };
    Some(format!(
        "CREATE {unique}INDEX {}_i{n} ON {} ({})",
        t.name,
        t.name,
        on.join(", ")
    ))
}

/// Generates expressions over the columns of the tables in scope (each with its alias).
struct Gen<'a> {
    scope: Vec<(&'a Tab, String)>,
}

impl Gen<'_> {
    fn column(&self, r: &mut Rng, ty: Ty) -> Option<String> {
        let all: Vec<String> = self
            .scope
            .iter()
            .flat_map(|(t, a)| t.of(ty).into_iter().map(move |c| format!("{a}.{}", c.name)))
            .collect();
        (!all.is_empty()).then(|| pick(r, &all).clone())
    }

    fn int(&self, r: &mut Rng, depth: u32) -> String {
        if depth == 0 || r.chance(35) {
            return match self.column(r, Ty::Int) {
                Some(c) if r.chance(75) => c,
                _ => literal(r, Ty::Int),
            };
        }
        let d = depth - 1;
        match r.pick(13) {
            10 => format!("INSTR({}, {})", self.text(r, d), literal(r, Ty::Text)),
            11 => format!(
                "{}({}, {}, {})",
                pick(r, &["MIN", "MAX"]),
                self.int(r, d),
                self.int(r, d),
                self.int(r, d)
            ),
            12 => format!(
                "IIF({}, {}, {})",
                self.cond(r, d),
                self.int(r, d),
                self.int(r, d)
            ),
            0 => format!("({} + {})", self.int(r, d), self.int(r, d)),
            1 => format!("({} - {})", self.int(r, d), self.int(r, d)),
            2 => format!("({} * {})", self.int(r, d), self.int(r, d)),
            3 => format!("({} / {})", self.int(r, d), pick(r, &["2", "3", "-2"])),
            4 => format!("({} % {})", self.int(r, d), pick(r, &["2", "3", "-3"])),
            5 => format!("ABS({})", self.int(r, d)),
            6 => format!("COALESCE({}, {})", self.int(r, d), literal(r, Ty::Int)),
            7 => format!("LENGTH({})", self.text(r, d)),
            8 => format!(
                "CASE WHEN {} THEN {} ELSE {} END",
                self.cond(r, d),
                self.int(r, d),
                self.int(r, d)
            ),
            _ => format!("CAST({} AS INTEGER)", self.real(r, d)),
        }
    }

    fn real(&self, r: &mut Rng, depth: u32) -> String {
        if depth == 0 || r.chance(35) {
            return match self.column(r, Ty::Real) {
                Some(c) if r.chance(75) => c,
                _ => literal(r, Ty::Real),
            };
        }
        let d = depth - 1;
        match r.pick(7) {
            0 => format!("({} + {})", self.real(r, d), self.int(r, d)),
            1 => format!("({} * {})", self.real(r, d), self.real(r, d)),
            2 => format!("({} - {})", self.int(r, d), self.real(r, d)),
            3 => format!("({} / {})", self.real(r, d), pick(r, &["2.0", "4", "-0.5"])),
            4 => format!("ABS({})", self.real(r, d)),
            5 => format!("ROUND({}, {})", self.real(r, d), r.pick(3)),
            _ => format!("COALESCE({}, {})", self.real(r, d), literal(r, Ty::Real)),
        }
    }

    fn text(&self, r: &mut Rng, depth: u32) -> String {
        if depth == 0 || r.chance(40) {
            return match self.column(r, Ty::Text) {
                Some(c) if r.chance(75) => c,
                _ => literal(r, Ty::Text),
            };
        }
        let d = depth - 1;
        match r.pick(9) {
            8 => format!(
                "REPLACE({}, {}, {})",
                self.text(r, d),
                literal(r, Ty::Text),
                literal(r, Ty::Text)
            ),
            0 => format!("({} || {})", self.text(r, d), self.text(r, d)),
            1 => format!("LOWER({})", self.text(r, d)),
            2 => format!("UPPER({})", self.text(r, d)),
            3 => format!(
                "SUBSTR({}, {}, {})",
                self.text(r, d),
                pick(r, &["1", "2", "0", "-1"]),
                pick(r, &["1", "2", "5"])
            ),
            4 => format!("TRIM({})", self.text(r, d)),
            5 => format!("COALESCE({}, {})", self.text(r, d), literal(r, Ty::Text)),
            6 => format!("NULLIF({}, {})", self.text(r, d), literal(r, Ty::Text)),
            _ => format!("CAST({} AS TEXT)", self.int(r, d)),
        }
    }

    /// An expression of a type some column in scope has (or an integer).
    fn any(&self, r: &mut Rng, depth: u32) -> (String, Ty) {
        match r.pick(4) {
            0 => (self.real(r, depth), Ty::Real),
            1 => (self.text(r, depth), Ty::Text),
            2 => match self.column(r, Ty::Bool) {
                Some(c) => (c, Ty::Bool),
                None => (self.int(r, depth), Ty::Int),
            },
            _ => (self.int(r, depth), Ty::Int),
        }
    }

    fn cond(&self, r: &mut Rng, depth: u32) -> String {
        let d = depth.saturating_sub(1);
        if depth > 0 && r.chance(30) {
            return match r.pick(3) {
                0 => format!("({} AND {})", self.cond(r, d), self.cond(r, d)),
                1 => format!("({} OR {})", self.cond(r, d), self.cond(r, d)),
                _ => format!("NOT ({})", self.cond(r, d)),
            };
        }
        let op = *pick(r, &["=", "<>", "<", "<=", ">", ">="]);
        match r.pick(9) {
            0 => format!("{} {op} {}", self.int(r, d), self.int(r, d)),
            1 => format!("{} {op} {}", self.real(r, d), self.int(r, d)),
            2 => format!("{} {op} {}", self.text(r, d), self.text(r, d)),
            3 => {
                let (e, _) = self.any(r, d);
                let not = if r.chance(50) { "NOT " } else { "" };
                format!("{e} IS {not}NULL")
            }
            4 => format!(
                "{} {}BETWEEN {} AND {}",
                self.int(r, d),
                if r.chance(30) { "NOT " } else { "" },
                literal(r, Ty::Int),
                literal(r, Ty::Int)
            ),
            5 => {
                let ty = *pick(r, &[Ty::Int, Ty::Text, Ty::Real]);
                let e = match ty {
                    Ty::Int => self.int(r, d),
                    Ty::Real => self.real(r, d),
                    _ => self.text(r, d),
                };
                let list: Vec<String> = (0..1 + r.pick(3))
                    .map(|_| {
                        if r.chance(15) {
                            "NULL".into()
                        } else {
                            literal(r, ty)
                        }
                    })
                    .collect();
                let not = if r.chance(30) { "NOT " } else { "" };
                format!("{e} {not}IN ({})", list.join(", "))
            }
            6 => format!(
                "{} LIKE {}",
                self.text(r, d),
                pick(
                    r,
                    &["'a%'", "'%b'", "'_'", "'%'", "'A%'", "'a\\_b' ESCAPE '\\'"]
                )
            ),
            7 => match self.column(r, Ty::Bool) {
                Some(c) if r.chance(50) => c,
                Some(c) => format!("NOT {c}"),
                None => format!("{} {op} {}", self.int(r, d), literal(r, Ty::Int)),
            },
            _ => format!("{} {op} {}", self.real(r, d), self.real(r, d)),
        }
    }
}

/// A query over `tabs`, and whether its rows come in an order both engines must keep.
fn query(r: &mut Rng, tabs: &[Tab]) -> (String, bool) {
    let t = pick(r, tabs);
    let one = Gen {
        scope: vec![(t, "a".into())],
    };
    let depth = 1 + r.pick(2) as u32;
    let filter = |r: &mut Rng, g: &Gen<'_>| {
        if r.chance(70) {
            format!(" WHERE {}", g.cond(r, depth))
        } else {
            String::new()
        }
    };
    match r.pick(10) {
        8 => compound(r, tabs),
        9 => with_cte(r, tabs),
        // Items (one of them, at times, a correlated scalar subquery), ordered completely
        // (the key last), with a window.
        0 | 1 => {
            let mut items: Vec<String> = (0..1 + r.pick(3)).map(|_| one.any(r, depth).0).collect();
            if r.chance(30) {
                let u = pick(r, tabs);
                let both = Gen {
                    scope: vec![(t, "a".into()), (u, "b".into())],
                };
                let inner = Gen {
                    scope: vec![(u, "b".into())],
                };
                let agg = match r.pick(3) {
                    0 => "COUNT(*)".to_string(),
                    1 => format!("MAX({})", inner.int(r, 1)),
                    _ => format!("MIN({})", inner.text(r, 1)),
                };
                items.push(format!(
                    "(SELECT {agg} FROM {} b WHERE {})",
                    u.name,
                    both.cond(r, 2)
                ));
            }
            let w = filter(r, &one);
            let dirs: Vec<String> = (1..=items.len())
                .map(|i| format!("{i}{}", if r.chance(40) { " DESC" } else { "" }))
                .collect();
            let window = match r.pick(4) {
                0 => format!(" LIMIT {}", r.pick(6)),
                1 => format!(" LIMIT {} OFFSET {}", r.pick(6), r.pick(4)),
                _ => String::new(),
            };
            (
                format!(
                    "SELECT {} FROM {} a{w} ORDER BY {}, a.id{window}",
                    items.join(", "),
                    t.name,
                    dirs.join(", ")
                ),
                true,
            )
        }
        // DISTINCT items.
        2 => {
            let items: Vec<String> = (0..1 + r.pick(2)).map(|_| one.any(r, depth).0).collect();
            let w = filter(r, &one);
            (
                format!("SELECT DISTINCT {} FROM {} a{w}", items.join(", "), t.name),
                false,
            )
        }
        // Grouping.
        3 | 4 => {
            let keys: Vec<String> = (0..r.pick(3)).map(|_| one.any(r, 1).0).collect();
            let mut items = keys.clone();
            for _ in 0..1 + r.pick(3) {
                let agg = match r.pick(9) {
                    // Its length, which the order rows come in does not change.
                    8 => format!(
                        "LENGTH(GROUP_CONCAT({}, {}))",
                        one.any(r, 1).0,
                        literal(r, Ty::Text)
                    ),
                    0 => "COUNT(*)".to_string(),
                    1 => format!("COUNT({})", one.any(r, 1).0),
                    2 => format!("COUNT(DISTINCT {})", one.any(r, 1).0),
                    3 => format!("SUM({})", one.int(r, 1)),
                    4 => format!("TOTAL({})", one.real(r, 1)),
                    5 => format!("AVG({})", one.real(r, 1)),
                    6 => format!("MIN({})", one.text(r, 1)),
                    _ => format!("MAX({}) FILTER (WHERE {})", one.int(r, 1), one.cond(r, 1)),
                };
                items.push(agg);
            }
            let w = filter(r, &one);
            // The keys by expression, or by their positions in the items.
            let group = if keys.is_empty() {
                String::new()
            } else if r.chance(30) {
                let at: Vec<String> = (1..=keys.len()).map(|i| i.to_string()).collect();
                format!(" GROUP BY {}", at.join(", "))
            } else {
                format!(" GROUP BY {}", keys.join(", "))
            };
            let having = if !keys.is_empty() && r.chance(40) {
                match r.pick(3) {
                    0 => format!(" HAVING COUNT(*) > {}", r.pick(3)),
                    1 => format!(" HAVING SUM({}) >= {}", one.int(r, 1), literal(r, Ty::Int)),
                    _ => format!(" HAVING MAX({}) > {}", one.text(r, 1), literal(r, Ty::Text)),
                }
            } else {
                String::new()
            };
            // Ordered by every key (one row per group, so the order is complete), with a
            // window, or left as a multiset.
            let (order, ordered) = if !keys.is_empty() && r.chance(40) {
                let dirs: Vec<String> = (1..=keys.len())
                    .map(|i| format!("{i}{}", if r.chance(40) { " DESC" } else { "" }))
                    .collect();
                let window = if r.chance(50) {
                    format!(" LIMIT {} OFFSET {}", 1 + r.pick(4), r.pick(3))
                } else {
                    String::new()
                };
                (format!(" ORDER BY {}{window}", dirs.join(", ")), true)
            } else {
                (String::new(), false)
            };
            (
                format!(
                    "SELECT {} FROM {} a{w}{group}{having}{order}",
                    items.join(", "),
                    t.name
                ),
                ordered,
            )
        }
        // Joins: on a column of each side of one type, or on the other side's key.
        5 | 6 => {
            let u = pick(r, tabs);
            let two = Gen {
                scope: vec![(t, "a".into()), (u, "b".into())],
            };
            let shared: Vec<Ty> = [Ty::Int, Ty::Text, Ty::Real]
                .into_iter()
                .filter(|&ty| !t.of(ty).is_empty() && !u.of(ty).is_empty())
                .collect();
            let on = if r.chance(40) || shared.is_empty() {
                let ints: Vec<&Col> = t.of(Ty::Int);
                format!("b.id = a.{}", pick(r, &ints).name)
            } else {
                let ty = *pick(r, &shared);
                let (x, y) = (
                    pick(r, &t.of(ty)).name.clone(),
                    pick(r, &u.of(ty)).name.clone(),
                );
                format!("a.{x} = b.{y}")
            };
            let extra = if r.chance(30) {
                format!(" AND {}", two.cond(r, 1))
            } else {
                String::new()
            };
            let kind = if r.chance(50) { "LEFT " } else { "" };
            let w = filter(r, &two);
            if r.chance(30) {
                let key = two.any(r, 1).0;
                (
                    format!(
                        "SELECT {key}, COUNT(*), COUNT(b.id), SUM(b.id) FROM {} a {kind}JOIN {} b \
                         ON {on}{extra}{w} GROUP BY {key}",
                        t.name, u.name
                    ),
                    false,
                )
            } else {
                let items: Vec<String> = (0..1 + r.pick(3)).map(|_| two.any(r, 1).0).collect();
                (
                    format!(
                        "SELECT a.id, b.id, {} FROM {} a {kind}JOIN {} b ON {on}{extra}{w}",
                        items.join(", "),
                        t.name,
                        u.name
                    ),
                    false,
                )
            }
        }
        // Subqueries: IN and EXISTS, correlated or not.
        _ => {
            let u = pick(r, tabs);
            let inner = Gen {
                scope: vec![(u, "b".into())],
            };
            let both = Gen {
                scope: vec![(t, "a".into()), (u, "b".into())],
            };
            let cond = if r.chance(50) {
                let ty = *pick(r, &[Ty::Int, Ty::Text]);
                let outer = match ty {
                    Ty::Int => one.int(r, 1),
                    _ => one.text(r, 1),
                };
                let col = match ty {
                    Ty::Int => inner.int(r, 1),
                    _ => inner.text(r, 1),
                };
                let not = if r.chance(30) { "NOT " } else { "" };
                format!(
                    "{outer} {not}IN (SELECT {col} FROM {} b WHERE {})",
                    u.name,
                    inner.cond(r, 1)
                )
            } else {
                let not = if r.chance(30) { "NOT " } else { "" };
                format!(
                    "{not}EXISTS (SELECT 1 FROM {} b WHERE {})",
                    u.name,
                    both.cond(r, 2)
                )
            };
            (
                format!("SELECT a.id FROM {} a WHERE {cond} ORDER BY a.id", t.name),
                true,
            )
        }
    }
}

/// An expression of type `ty` (an integer, a real or a text).
fn of_type(g: &Gen<'_>, r: &mut Rng, ty: Ty, depth: u32) -> String {
    match ty {
        Ty::Real => g.real(r, depth),
        Ty::Text => g.text(r, depth),
        _ => g.int(r, depth),
    }
}

/// A set operation of two or three `SELECT`s over random tables, their items of the same
/// types: ordered completely by position (with a window) or by an alias, or a multiset. An
/// `INTERSECT` comes only first, where SQLite's left-to-right reading and the standard's
/// (`INTERSECT` binding tighter, as tabula parses) agree.
fn compound(r: &mut Rng, tabs: &[Tab]) -> (String, bool) {
    let types: Vec<Ty> = (0..1 + r.pick(3))
        .map(|_| *pick(r, &[Ty::Int, Ty::Real, Ty::Text]))
        .collect();
    let member = |r: &mut Rng| {
        let t = pick(r, tabs);
        let g = Gen {
            scope: vec![(t, "a".into())],
        };
        let items: Vec<String> = types
            .iter()
            .enumerate()
            .map(|(i, &ty)| format!("{} AS c{i}", of_type(&g, r, ty, 1)))
            .collect();
        let w = if r.chance(60) {
            format!(" WHERE {}", g.cond(r, 1))
        } else {
            String::new()
        };
        format!("SELECT {} FROM {} a{w}", items.join(", "), t.name)
    };
    let mut text = member(r);
    let ops = ["UNION", "UNION ALL", "INTERSECT", "EXCEPT"];
    text = format!("{text} {} {}", pick(r, &ops), member(r));
    if r.chance(30) {
        text = format!("{text} {} {}", pick(r, &ops[..2]), member(r));
    }
    match r.pick(3) {
        0 => {
            let dirs: Vec<String> = (1..=types.len())
                .map(|i| format!("{i}{}", if r.chance(40) { " DESC" } else { "" }))
                .collect();
            let window = match r.pick(3) {
                0 => format!(" LIMIT {} OFFSET {}", r.pick(6), r.pick(3)),
                _ => String::new(),
            };
            (format!("{text} ORDER BY {}{window}", dirs.join(", ")), true)
        }
        1 => {
            let names: Vec<String> = (0..types.len()).map(|i| format!("c{i}")).collect();
            (format!("{text} ORDER BY {}", names.join(", ")), true)
        }
        _ => (text, false),
    }
}

/// A query over a common table expression (a filtered, computed copy of a table): its rows
/// in order, aggregates over them, a join with a table on the key, or `IN` over them.
fn with_cte(r: &mut Rng, tabs: &[Tab]) -> (String, bool) {
    let t = pick(r, tabs);
    let g = Gen {
        scope: vec![(t, "a".into())],
    };
    let (x, ty) = g.any(r, 1);
    let w = if r.chance(70) {
        format!(" WHERE {}", g.cond(r, 1))
    } else {
        String::new()
    };
    let cte = format!(
        "WITH w AS (SELECT a.id AS id, {x} AS x FROM {} a{w})",
        t.name
    );
    let u = pick(r, tabs);
    match r.pick(4) {
        0 => (format!("{cte} SELECT id, x FROM w ORDER BY id"), true),
        1 if ty != Ty::Bool => (
            format!("{cte} SELECT COUNT(*), COUNT(x), MIN(x), MAX(x) FROM w"),
            false,
        ),
        2 => (
            format!(
                "{cte} SELECT w.id, b.id, w.x FROM w JOIN {} b ON b.id = w.id ORDER BY w.id",
                u.name
            ),
            true,
        ),
        _ => (
            format!(
                "{cte} SELECT b.id FROM {} b WHERE b.id IN (SELECT id FROM w) ORDER BY b.id",
                u.name
            ),
            true,
        ),
    }
}

/// A write to one of `tabs`: an `UPDATE` of one or two columns to type-correct values, a
/// `DELETE`, or an `INSERT` of rows with keys that may be taken (all through the
/// constraints: NOT NULL and unique indexes fail the whole statement in both engines).
fn write(r: &mut Rng, tabs: &[Tab]) -> String {
    let t = pick(r, tabs);
    let g = Gen {
        scope: vec![(t, t.name.clone())],
    };
    let filter = if r.chance(80) {
        format!(" WHERE {}", g.cond(r, 2))
    } else {
        String::new()
    };
    let value = |r: &mut Rng, c: &Col| match c.ty {
        Ty::Int => g.int(r, 2),
        Ty::Real => g.real(r, 2),
        Ty::Text => g.text(r, 2),
        Ty::Bool => g.cond(r, 1),
    };
    match r.pick(3) {
        0 if t.cols.len() > 1 => {
            let mut sets = Vec::new();
            let mut done = Vec::new();
            for _ in 0..1 + r.pick(2) {
                let c = &t.cols[1 + r.pick(t.cols.len() - 1)];
                if !done.contains(&c.name) {
                    done.push(c.name.clone());
                    sets.push(format!("{} = {}", c.name, value(r, c)));
                }
            }
            format!("UPDATE {} SET {}{filter}", t.name, sets.join(", "))
        }
        1 => format!("DELETE FROM {}{filter}", t.name),
        _ => {
            let rows: Vec<String> = (0..1 + r.pick(3))
                .map(|_| {
                    let values: Vec<String> = t
                        .cols
                        .iter()
                        .map(|c| {
                            if c.name == "id" {
                                (1 + r.pick(40)).to_string()
                            } else if c.nullable && r.chance(20) {
                                "NULL".into()
                            } else {
                                literal(r, c.ty)
                            }
                        })
                        .collect();
                    format!("({})", values.join(", "))
                })
                .collect();
            let rows = rows.join(", ");
            // Upserts too: rows left out, updating the stored row of their key, or
            // replacing the stored rows of any of their keys.
            match r.pick(7) {
                0 => format!("INSERT OR IGNORE INTO {} VALUES {rows}", t.name),
                1 => format!(
                    "INSERT INTO {} VALUES {rows} ON CONFLICT DO NOTHING",
                    t.name
                ),
                2 if t.cols.len() > 1 => {
                    let c = &t.cols[1 + r.pick(t.cols.len() - 1)];
                    let set = if r.chance(50) {
                        format!("excluded.{}", c.name)
                    } else {
                        value(r, c)
                    };
                    format!(
                        "INSERT INTO {} VALUES {rows} ON CONFLICT (id) DO UPDATE SET {} = {set}",
                        t.name, c.name
                    )
                }
                3 => format!("INSERT OR REPLACE INTO {} VALUES {rows}", t.name),
                4 => format!("REPLACE INTO {} VALUES {rows}", t.name),
                _ => format!("INSERT INTO {} VALUES {rows}", t.name),
            }
        }
    }
}

/// A row as text for sorting multisets: booleans as integers, floats to 9 digits.
fn sort_key(row: &[Value]) -> String {
    row.iter()
        .map(|v| match v {
            Value::Bool(b) => format!("i{}", i64::from(*b)),
            Value::Int(i) => format!("i{i}"),
            // -0.0 and 0.0 are one value to `=` (SQLite may even store -0.0 as 0.0).
            Value::Float(f) => format!("f{:.9e}", f + 0.0),
            other => format!("{other:?}"),
        })
        .collect::<Vec<_>>()
        .join("|")
}

fn agree(a: &[Vec<Value>], b: &[Vec<Value>], ordered: bool) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    if !ordered {
        a.sort_by_cached_key(|r| sort_key(r));
        b.sort_by_cached_key(|r| sort_key(r));
    }
    a.len() == b.len()
        && a.iter()
            .zip(&b)
            .all(|(x, y)| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)))
}

#[test]
fn generated_schemas_rows_and_queries_agree_with_sqlite() {
    let schemas = env("TABULA_SQL_SCHEMAS", 40);
    let per_schema = env("TABULA_SQL_SCHEMA_QUERIES", 150);
    let mut r = Rng(0x0dd_ba11_5eed_2026);
    let mut mismatches = Vec::new();
    let (mut ran, mut refused) = (0, 0);
    let mut refused_sample = Vec::new();
    let (mut writes, mut failed_writes, mut changed) = (0, 0, 0);
    for s in 0..schemas {
        let tabs = schema(&mut r);
        let db = Database::in_memory();
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA case_sensitive_like = ON")
            .unwrap();
        let mut setup = create_statements(&tabs);
        for t in &tabs {
            setup.extend(insert_statements(&mut r, t));
        }
        for (n, t) in tabs.iter().enumerate() {
            if r.chance(60) {
                setup.extend(index_statement(&mut r, t, n));
            }
        }
        // Every statement (a unique index over duplicates fails) fails in both or neither.
        for statement in &setup {
            let ours = db.sql(statement).map(drop).map_err(|e| e.to_string());
            let theirs = conn.execute_batch(statement).map_err(|e| e.to_string());
            if ours.is_ok() != theirs.is_ok() {
                mismatches.push(format!(
                    "schema {s}: {statement}\n  tabula: {ours:?}\n  sqlite: {theirs:?}"
                ));
            }
        }
        for _ in 0..per_schema {
            if r.chance(10) {
                // A write: it succeeds in both or fails in both, and leaves the same rows.
                let w = write(&mut r, &tabs);
                let ours = db.sql(&w).map(|res| res.changed).map_err(|e| e.to_string());
                let theirs = conn
                    .execute(&w, [])
                    .map(|n| n as u64)
                    .map_err(|e| e.to_string());
                ran += 1;
                writes += 1;
                if ours.is_err() {
                    failed_writes += 1;
                }
                if let Ok(n) = ours {
                    changed += n;
                }
                if ours.is_ok() != theirs.is_ok() || (ours.is_ok() && ours != theirs) {
                    mismatches.push(format!(
                        "schema {s} {tabs:?}\n  {w}\n  tabula: {ours:?}\n  sqlite: {theirs:?}"
                    ));
                }
                for t in &tabs {
                    let all = format!("SELECT * FROM {} ORDER BY id", t.name);
                    let (a, b) = (db.sql(&all).map(|res| res.rows), sqlite_rows(&conn, &all));
                    if !matches!((&a, &b), (Ok(a), Ok(b)) if agree(a, b, true)) {
                        mismatches.push(format!(
                            "schema {s}: after {w}\n  {} differs\n  tabula: {a:?}\n  sqlite: {b:?}",
                            t.name
                        ));
                    }
                }
                continue;
            }
            let (q, ordered) = query(&mut r, &tabs);
            let ours = db.sql(&q).map(|res| res.rows);
            let theirs = sqlite_rows(&conn, &q);
            ran += 1;
            if let Ok(a) = &ours {
                // A prepared statement's streams hand out the rows `sql` collects: owned
                // (`each`) and lent (`each_ref`, from the table where the query allows).
                let st = db.prepare(&q).unwrap();
                let (mut owned, mut lent) = (Vec::new(), Vec::new());
                let streamed = st
                    .each(&[], |row| {
                        owned.push(row.to_vec());
                        Ok(true)
                    })
                    .and_then(|_| {
                        st.each_ref(&[], |row| {
                            lent.push(row.iter().copied().map(ValueRef::to_owned).collect());
                            Ok(true)
                        })
                    });
                if streamed.is_err() || !agree(a, &owned, ordered) || !agree(a, &lent, ordered) {
                    mismatches.push(format!(
                        "schema {s}: {q}\n  sql: {a:?}\n  each: {owned:?}\n  each_ref: {lent:?} \
                         ({streamed:?})"
                    ));
                }
            }
            match (&ours, &theirs) {
                (Ok(a), Ok(b)) if agree(a, b, ordered) => {}
                (Err(e), Err(_)) => {
                    refused += 1;
                    if refused_sample.len() < 5 {
                        refused_sample.push(format!("{q}\n    {e}"));
                    }
                }
                _ => mismatches.push(format!(
                    "schema {s} {tabs:?}\n  {q}\n  tabula: {ours:?}\n  sqlite: {theirs:?}"
                )),
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {ran} statements disagree with SQLite; the first ones:\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(8)].join("\n\n")
    );
    // The generator makes type-correct statements: nearly all queries must run, and most
    // writes, changing rows.
    assert!(
        refused * 20 < ran,
        "{refused} of {ran} queries were refused by both, such as:\n{}",
        refused_sample.join("\n")
    );
    eprintln!(
        "{ran} statements, {refused} queries refused by both; {writes} writes, \
         {failed_writes} failed in both, {changed} rows changed"
    );
    assert!(
        failed_writes * 2 < writes && changed > writes,
        "{failed_writes} of {writes} writes failed in both, {changed} rows changed"
    );
}
