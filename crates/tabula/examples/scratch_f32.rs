use tabula::Database;
fn main() {
    let db = Database::in_memory();
    db.sql("CREATE TABLE t (id INTEGER PRIMARY KEY, a INT)")
        .unwrap();
    let r = |q: &str| match db.sql(q) {
        Ok(r) => format!("ok {:?}", r.rows),
        Err(e) => format!("{e}").chars().take(90).collect(),
    };
    for n in [40, 41, 42, 43, 44, 45, 46, 47] {
        println!(
            "{n} plain: {} | sub: {} | subsub: {} | where: {} | in: {} | values: {}",
            r(&format!(
                "SELECT {}1{}",
                "CASE WHEN 1 THEN ".repeat(n),
                " END".repeat(n)
            )),
            r(&format!(
                "SELECT * FROM (SELECT {}1{} AS x)",
                "CASE WHEN 1 THEN ".repeat(n),
                " END".repeat(n)
            )),
            r(&format!(
                "SELECT * FROM (SELECT * FROM (SELECT {}1{} AS x))",
                "CASE WHEN 1 THEN ".repeat(n),
                " END".repeat(n)
            )),
            r(&format!(
                "SELECT * FROM t WHERE {}1{} = 1",
                "CASE WHEN a THEN ".repeat(n),
                " END".repeat(n)
            )),
            r(&format!(
                "SELECT * FROM t WHERE a IN (SELECT {}1{})",
                "CASE WHEN a THEN ".repeat(n),
                " END".repeat(n)
            )),
            r(&format!(
                "SELECT * FROM (VALUES ({}1{}))",
                "CASE WHEN 1 THEN ".repeat(n),
                " END".repeat(n)
            ))
        );
    }
}
