use tabula::Table;

#[derive(Table, Clone)]
struct Student {
    #[column(primary_key)]
    id: u64,
    #[column(default = "zero")]
    gpa: f64,
    #[column(default = 300)]
    credits: u8,
}

fn main() {}
