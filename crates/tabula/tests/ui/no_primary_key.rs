use tabula::Table;

#[derive(Table, Clone)]
struct Student {
    id: u64,
    name: String,
}

fn main() {}
