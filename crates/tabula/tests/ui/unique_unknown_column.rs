use tabula::Table;

#[derive(Table, Clone)]
#[table(unique(student, nope))]
struct Enrollment {
    #[column(primary_key)]
    id: u64,
    student: u64,
    #[column(name = "course")]
    course_id: u64,
}

fn main() {}
