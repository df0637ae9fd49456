use tabula::Table;

#[derive(Table, Clone)]
#[table(index(student, grade), index(course_id))]
struct Enrollment {
    #[column(primary_key)]
    id: u64,
    student: u64,
    #[column(name = "course")]
    course_id: u64,
}

fn main() {}
