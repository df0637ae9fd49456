use tabula::Table;

#[derive(Table, Clone)]
struct Student {
    #[column(primary_key)]
    id: u64,
    #[column(uniqe)]
    email: String,
}

fn main() {}
