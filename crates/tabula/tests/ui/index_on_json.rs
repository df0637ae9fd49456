use tabula::Table;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Address {
    city: String,
}

#[derive(Table, Clone)]
struct Student {
    #[column(primary_key)]
    id: u64,
    #[column(index)]
    home: Address,
    #[column(unique)]
    tags: Vec<String>,
}

fn main() {}
