use tabula::Table;

#[derive(Table, Clone)]
#[table(unique(student, course, student), index())]
struct Enrollment {
    #[column(primary_key)]
    id: u64,
    student: u64,
    course: u64,
}

fn main() {}
