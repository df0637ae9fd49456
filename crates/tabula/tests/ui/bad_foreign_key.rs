use tabula::Table;

#[derive(Table, Clone)]
struct Registration {
    #[column(primary_key)]
    id: u64,
    #[column(references = "students", on_delete = "set_null")]
    student_id: u64,
    #[column(references = "courses", on_delete = "explode")]
    course_id: u64,
    #[column(on_delete = "cascade")]
    room: u32,
    #[column(references = "rooms")]
    grade: f64,
}

fn main() {}
