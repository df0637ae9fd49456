use tabula::Table;

#[derive(Table, Clone)]
#[column(primary_key)]
struct Student {
    #[column(primary_key)]
    #[table(name = "x")]
    id: u64,
}

fn main() {}
