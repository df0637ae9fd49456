use tabula::Table;

#[derive(Table, Clone)]
#[table(check = "", check = "first_year <= last_year")]
struct Student {
    #[column(primary_key)]
    id: u64,
    #[column(check = " ")]
    credits: u8,
    first_year: u32,
    last_year: u32,
}

fn main() {}
