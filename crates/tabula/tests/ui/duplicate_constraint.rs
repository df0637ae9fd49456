use tabula::Table;

#[derive(Table, Clone)]
#[table(
    unique(student, course),
    index(course, grade),
    unique(course, student),
    index(course, grade),
    index(grade, course)
)]
struct Enrollment {
    #[column(primary_key)]
    id: u64,
    student: u64,
    course: u64,
    grade: u32,
}

fn main() {}
