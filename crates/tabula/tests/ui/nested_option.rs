use tabula::Table;

#[derive(Table, Clone)]
struct Answer {
    #[column(primary_key)]
    id: u64,
    maybe: Option<Option<i32>>,
}

fn main() {}
