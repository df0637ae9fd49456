use tabula::Database;
fn main() {
    let db = Database::in_memory();
    db.sql("CREATE TABLE j (id INTEGER PRIMARY KEY, d JSON)")
        .unwrap();
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    for v in [
        "[1e400]",
        "{\"a\": -1e999}",
        "[1,",
        "nope",
        deep.as_str(),
        "[1.5e308]",
    ] {
        match db.sql_with(
            "INSERT INTO j (d) VALUES (?)",
            &[tabula::Value::Text(v.into())],
        ) {
            Ok(_) => println!("ok"),
            Err(e) => println!("{}", e.to_string().chars().take(300).collect::<String>()),
        }
    }
}
