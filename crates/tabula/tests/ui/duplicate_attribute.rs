use tabula::Table;

#[derive(Table, Clone)]
struct Student {
    #[column(primary_key)]
    id: u64,
    #[column(index, index)]
    year: u32,
}

fn main() {}
