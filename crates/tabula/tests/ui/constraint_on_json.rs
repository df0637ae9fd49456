use tabula::Table;

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Address {
    city: String,
}

#[derive(Table, Clone)]
#[table(unique(name, home), index(tags))]
struct Student {
    #[column(primary_key)]
    id: u64,
    name: String,
    home: Address,
    tags: Vec<String>,
}

fn main() {}
