use tabula::Database;
fn main() {
    let db = Database::in_memory();
    for q in [
        "CREATE TABLE u (id INTEGER PRIMARY KEY, f REAL CHECK (g > 0))",
        "CREATE TABLE v (id INTEGER PRIMARY KEY, f REAL, CHECK (g > 0 AND f < 1))",
        "CREATE TABLE w (id INTEGER PRIMARY KEY,\n f REAL CHECK (LENGTH(f) < 3))",
        "CREATE TABLE x (id INTEGER PRIMARY KEY, f REAL)",
        "ALTER TABLE x ADD COLUMN h INT CHECK (zz > 1)",
    ] {
        match db.sql(q) {
            Ok(_) => println!("ok"),
            Err(e) => println!("{e}\n  {e:?}"),
        }
    }
}
