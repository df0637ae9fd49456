use tabula::Table;

#[derive(Table, Clone)]
struct Student {
    #[column(primary_key)]
    id: u64,
    #[column(primary_key)]
    code: String,
}

fn main() {}
