//! The shared workload (see the crate README): the same rows, keys and lookups for
//! every system, from one fixed seed.

/// One student row, as every system stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: u64,
    pub name: String,
    pub email: String,
    pub gpa: f64,
    pub year: u32,
}

/// xorshift64*: small, fast, the same on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// Uniform in `0.0..1.0`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub const SEED: u64 = 0x7ab1_1a5e_ed00_0001;
pub const LOOKUPS: usize = 100_000;
pub const DURABLE_COMMITS: u64 = 1_000;

/// The `n` rows: ids 1..=n, names "Student {i}", emails "s{i}@uni.edu", gpa in 0.0..4.0,
/// year in 2015..=2024.
pub fn rows(n: u64) -> Vec<Row> {
    let mut rng = Rng::new(SEED);
    (1..=n)
        .map(|i| Row {
            id: i,
            name: format!("Student {i}"),
            email: format!("s{i}@uni.edu"),
            gpa: (rng.unit() * 4.0 * 1000.0).round() / 1000.0,
            year: 2015 + rng.below(10) as u32,
        })
        .collect()
}

/// A row for the durable-commit phase (ids above the bulk rows).
pub fn extra_row(id: u64) -> Row {
    Row {
        id,
        name: format!("Student {id}"),
        email: format!("s{id}@uni.edu"),
        gpa: 2.0,
        year: 2020,
    }
}

/// Keys for the point lookups.
pub fn lookup_ids(n: u64) -> Vec<u64> {
    let mut rng = Rng::new(SEED ^ 0xabcd);
    (0..LOOKUPS).map(|_| 1 + rng.below(n)).collect()
}

/// A checksum over rows in id order: what every system must agree on.
#[derive(Debug, Default, Clone, Copy)]
pub struct Digest(u64);

impl Digest {
    pub fn add(&mut self, r: &Row) {
        let mut h = self.0 ^ r.id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for b in r.name.bytes().chain(r.email.bytes()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        h ^= r.gpa.to_bits().rotate_left(17) ^ u64::from(r.year).rotate_left(40);
        self.0 = h.rotate_left(5).wrapping_add(0x85eb_ca6b);
    }
    pub fn value(self) -> u64 {
        self.0
    }
}

/// Folds a looked-up row into a check value. Every system reads the row in its cheapest
/// natural form (borrowed where its API allows) and folds the same fields, strings included.
pub fn fold(acc: u64, id: u64, name: &str, email: &str, year: u32) -> u64 {
    acc.wrapping_add(id)
        .wrapping_add(u64::from(year) << 20)
        .wrapping_add((name.len() as u64) << 40)
        .wrapping_add((email.len() as u64) << 48)
}
