use tabula::Table;

#[derive(Table, Clone)]
#[table(dropped("nickname", "name", "email"))]
struct Student {
    #[column(primary_key)]
    id: u64,
    name: String,
    #[column(renamed_from = "email")]
    mail: String,
}

fn main() {}
