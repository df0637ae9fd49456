use tabula::Table;

#[derive(Table, Clone)]
struct Reading {
    #[column(primary_key)]
    id: u64,
    #[column(default = 1e39)]
    too_big: f32,
    #[column(default = -1e400)]
    infinite: f64,
    #[column(default = 16777217)]
    inexact32: f32,
    #[column(default = -9007199254740993)]
    inexact64: f64,
    #[column(default = 16777216)]
    exact32: f32,
    #[column(default = 18446744073709551615)]
    big: u64,
}

fn main() {}
