use tabula::Table;

#[derive(Table, Clone)]
struct Reading {
    #[column(primary_key)]
    value: f64,
}

#[derive(Table, Clone)]
struct Maybe {
    #[column(primary_key)]
    id: Option<u64>,
}

#[derive(Table, Clone)]
#[table(name = "bad-name")]
struct Named {
    #[column(primary_key)]
    id: u64,
    size: usize,
}

type Id = u64;

#[derive(Table, Clone)]
struct Aliased {
    #[column(primary_key)]
    id: Id,
}

fn main() {}
