//! Random operation sequences against a plain `BTreeMap` model: every query result and
//! every constraint error must agree.

use std::collections::BTreeMap;

use proptest::prelude::*;
use tabula::{Database, Error, Table, TableHandle};

#[derive(Table, Debug, Clone, PartialEq)]
struct Item {
    #[column(primary_key)]
    id: u64,
    #[column(unique)]
    email: String,
    #[column(index)]
    year: u32,
    score: i64,
}

#[derive(Debug, Clone)]
enum Op {
    Insert {
        key: u64,
        email: u8,
        year: u32,
        score: i64,
    },
    Upsert {
        key: u64,
        email: u8,
        year: u32,
        score: i64,
    },
    UpdateYear {
        year: u32,
        email: Option<u8>,
        score: i64,
    },
    DeleteYear {
        year: u32,
    },
    DeleteKey {
        key: u64,
    },
    Tx {
        ops: Vec<Op>,
        commit: bool,
    },
}

fn leaf() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..12u64, 0..10u8, 0..4u32, -5..5i64)
            .prop_map(|(key, email, year, score)| Op::Insert { key, email, year, score }),
        1 => (0..12u64, 0..10u8, 0..4u32, -5..5i64)
            .prop_map(|(key, email, year, score)| Op::Upsert { key, email, year, score }),
        2 => (0..4u32, proptest::option::of(0..10u8), -5..5i64)
            .prop_map(|(year, email, score)| Op::UpdateYear { year, email, score }),
        1 => (0..4u32).prop_map(|year| Op::DeleteYear { year }),
        1 => (0..12u64).prop_map(|key| Op::DeleteKey { key }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => leaf(),
        1 => (proptest::collection::vec(leaf(), 1..5), any::<bool>())
            .prop_map(|(ops, commit)| Op::Tx { ops, commit }),
    ]
}

#[derive(Debug, Clone, Default)]
struct Model {
    rows: BTreeMap<u64, Item>,
    next: u64,
}

fn email(e: u8) -> String {
    format!("e{e}")
}

impl Model {
    fn email_taken(&self, e: &str, except: u64) -> bool {
        self.rows.values().any(|r| r.email == e && r.id != except)
    }

    /// Returns whether the op succeeded; on failure the model is unchanged.
    fn apply(&mut self, op: &Op) -> bool {
        let before = self.clone();
        let ok = self.apply_inner(op);
        if !ok {
            *self = before;
        }
        ok
    }

    fn apply_inner(&mut self, op: &Op) -> bool {
        match *op {
            Op::Insert {
                key,
                email: e,
                year,
                score,
            } => {
                let id = if key == 0 { self.next.max(1) } else { key };
                if self.rows.contains_key(&id) || self.email_taken(&email(e), u64::MAX) {
                    return false;
                }
                self.rows.insert(
                    id,
                    Item {
                        id,
                        email: email(e),
                        year,
                        score,
                    },
                );
                self.next = self.next.max(id + 1);
                true
            }
            Op::Upsert {
                key,
                email: e,
                year,
                score,
            } => {
                if key == 0 || !self.rows.contains_key(&key) {
                    return self.apply_inner(&Op::Insert {
                        key,
                        email: e,
                        year,
                        score,
                    });
                }
                if self.email_taken(&email(e), key) {
                    return false;
                }
                self.rows.insert(
                    key,
                    Item {
                        id: key,
                        email: email(e),
                        year,
                        score,
                    },
                );
                true
            }
            Op::UpdateYear {
                year,
                email: e,
                score,
            } => {
                let keys: Vec<u64> = self
                    .rows
                    .values()
                    .filter(|r| r.year == year)
                    .map(|r| r.id)
                    .collect();
                for k in keys {
                    let mut r = self.rows[&k].clone();
                    r.score = score;
                    if let Some(e) = e {
                        r.email = email(e);
                    }
                    if self.email_taken(&r.email, k) {
                        return false;
                    }
                    self.rows.insert(k, r);
                }
                true
            }
            Op::DeleteYear { year } => {
                self.rows.retain(|_, r| r.year != year);
                true
            }
            Op::DeleteKey { key } => {
                self.rows.remove(&key);
                true
            }
            Op::Tx { ref ops, commit } => {
                for op in ops {
                    self.apply(op);
                }
                commit
            }
        }
    }
}

fn item(key: u64, e: u8, year: u32, score: i64) -> Item {
    Item {
        id: key,
        email: email(e),
        year,
        score,
    }
}

fn run_op(t: &TableHandle<Item>, db: &Database, op: &Op) -> bool {
    match *op {
        Op::Insert {
            key,
            email,
            year,
            score,
        } => t.insert(item(key, email, year, score)).is_ok(),
        Op::Upsert {
            key,
            email,
            year,
            score,
        } => t.upsert(item(key, email, year, score)).is_ok(),
        Op::UpdateYear {
            year,
            email: e,
            score,
        } => t
            .update(
                |r| r.year == year,
                |r| {
                    r.score = score;
                    if let Some(e) = e {
                        r.email = email(e);
                    }
                },
            )
            .is_ok(),
        Op::DeleteYear { year } => t.delete(|r| r.year == year).is_ok(),
        Op::DeleteKey { key } => t.delete_key(key).is_ok(),
        Op::Tx { ref ops, commit } => {
            let r = db.transaction(|tx| {
                let t = tx.table::<Item>()?;
                for op in ops {
                    let _ = match *op {
                        Op::Insert {
                            key,
                            email,
                            year,
                            score,
                        } => t.insert(item(key, email, year, score)).map(|_| ()),
                        Op::Upsert {
                            key,
                            email,
                            year,
                            score,
                        } => t.upsert(item(key, email, year, score)).map(|_| ()),
                        Op::UpdateYear {
                            year,
                            email: e,
                            score,
                        } => t
                            .update(
                                |r| r.year == year,
                                |r| {
                                    r.score = score;
                                    if let Some(e) = e {
                                        r.email = email(e);
                                    }
                                },
                            )
                            .map(|_| ()),
                        Op::DeleteYear { year } => t.delete(|r| r.year == year).map(|_| ()),
                        Op::DeleteKey { key } => t.delete_key(key).map(|_| ()),
                        Op::Tx { .. } => Ok(()),
                    };
                }
                if commit {
                    Ok(())
                } else {
                    Err(Error::UnknownTable {
                        table: "abort".into(),
                    })
                }
            });
            r.is_ok()
        }
    }
}

fn check_queries(t: &TableHandle<Item>, m: &Model) {
    let all: Vec<Item> = m.rows.values().cloned().collect();
    assert_eq!(t.select().all().unwrap(), all);
    assert_eq!(t.count().unwrap(), all.len());
    for year in 0..4u32 {
        let want: Vec<Item> = all.iter().filter(|r| r.year == year).cloned().collect();
        assert_eq!(t.select().where_eq("year", year).all().unwrap(), want);
    }
    let want: Vec<Item> = all
        .iter()
        .filter(|r| (1..=2).contains(&r.year))
        .cloned()
        .collect();
    assert_eq!(t.select().where_range("year", 1..=2).all().unwrap(), want);
    for e in 0..10u8 {
        let want = all.iter().find(|r| r.email == email(e)).cloned();
        assert_eq!(t.get_by("email", email(e)).unwrap(), want);
    }
    let mut by_score = all.clone();
    by_score.sort_by(|a, b| b.score.cmp(&a.score).then(a.id.cmp(&b.id)));
    let got = t
        .select()
        .order_by("-score")
        .limit(3)
        .offset(1)
        .all()
        .unwrap();
    assert_eq!(
        got,
        by_score.iter().skip(1).take(3).cloned().collect::<Vec<_>>()
    );
    let mut by_year = all.clone();
    by_year.sort_by(|a, b| {
        b.year
            .cmp(&a.year)
            .then(a.score.cmp(&b.score))
            .then(a.id.cmp(&b.id))
    });
    let got = t
        .select()
        .order_by("-year")
        .order_by("score")
        .limit(4)
        .all()
        .unwrap();
    assert_eq!(got, by_year.iter().take(4).cloned().collect::<Vec<_>>());
    let got = t
        .select()
        .filter(|r| r.score > 0)
        .where_range("year", 2..)
        .keys()
        .unwrap();
    let want: Vec<u64> = all
        .iter()
        .filter(|r| r.score > 0 && r.year >= 2)
        .map(|r| r.id)
        .collect();
    assert_eq!(got, want);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
    #[test]
    fn table_matches_model(ops in proptest::collection::vec(op(), 1..40)) {
        let db = Database::in_memory();
        let t = db.table::<Item>().unwrap();
        let mut m = Model { next: 1, ..Model::default() };
        for op in &ops {
            let want = m.apply(op);
            let got = run_op(&t, &db, op);
            prop_assert_eq!(got, want, "op {:?}", op);
            check_queries(&t, &m);
        }
    }
}
