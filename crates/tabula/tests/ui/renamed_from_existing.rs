use tabula::Table;

#[derive(Table, Clone)]
struct Student {
    #[column(primary_key)]
    id: u64,
    name: String,
    #[column(renamed_from = "name")]
    full_name: String,
    #[column(renamed_from = "email")]
    email: String,
    #[column(renamed_from = "year")]
    first_year: u32,
    #[column(renamed_from = "year")]
    last_year: u32,
}

fn main() {}
