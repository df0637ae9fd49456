//! The slab, its key index (dense or hashed), its ordered index and the undo journal against
//! a `BTreeMap` model: random inserts (explicit keys near and far, auto keys), deletes, nested
//! marks with rollbacks, commits and rebuilds, with every index checked after each step.
//! Each commit also keeps a copy of the table, as a reader keeps a version: the writes after
//! it change rows that copy shares, and it must read as it did.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::error::Error;
use crate::record::DynRow;
use crate::schema::{Column, ColumnType};

#[derive(Debug, Clone)]
enum Op {
    Insert {
        key: i64,
        year: i64,
    },
    Delete {
        key: i64,
    },
    /// Deletes the greatest key (the last slot of a dense table).
    DeleteLast,
    /// Inserts the key deleted most recently again (into its old slot when dense).
    Reinsert {
        year: i64,
    },
    /// Sets `year` on every row whose key is a multiple of `every`, in one
    /// `replace_many`, as a statement; `bad` (if some) makes the row at that position
    /// change its key, which fails the statement after the rows before it were replaced.
    SetYears {
        every: i64,
        year: i64,
        bad: Option<usize>,
    },
    Mark,
    Rollback,
    Commit,
    Rebuild,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (prop_oneof![0..3i64, 1..40i64, 1..400i64], 0..4i64)
            .prop_map(|(key, year)| Op::Insert { key, year }),
        3 => prop_oneof![1..40i64, 1..400i64].prop_map(|key| Op::Delete { key }),
        1 => Just(Op::DeleteLast),
        2 => (0..4i64).prop_map(|year| Op::Reinsert { year }),
        2 => (1..4i64, 0..4i64, proptest::option::of(0..6usize))
            .prop_map(|(every, year, bad)| Op::SetYears { every, year, bad }),
        1 => Just(Op::Mark),
        1 => Just(Op::Rollback),
        1 => Just(Op::Commit),
        1 => Just(Op::Rebuild),
    ]
}

fn row(id: i64, year: i64) -> DynRow {
    DynRow(vec![Value::Int(id), Value::Int(year)].into())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn table_matches_a_map(ops in proptest::collection::vec(op(), 1..120)) {
        let schema = Schema::new(
            "t",
            vec![
                Column::new("id", ColumnType::I64).primary_key(),
                Column::new("year", ColumnType::I64).indexed(),
            ],
        )
        .unwrap();
        let mut t = TableData::<DynRow>::new(Arc::new(schema)).unwrap();
        let mut model: BTreeMap<i64, i64> = BTreeMap::new();
        let mut next = 1i64;
        let mut last_deleted: Option<i64> = None;
        // (table mark, model and counter at the mark)
        let mut marks: Vec<(Mark, BTreeMap<i64, i64>, i64)> = Vec::new();
        // Versions readers hold: (the table as committed, its model).
        let mut held: Vec<(TableData<DynRow>, BTreeMap<i64, i64>)> = Vec::new();
        for op in &ops {
            match *op {
                Op::Insert { key, year } => {
                    let k = if key == 0 { next } else { key };
                    let r = t.insert(row(key, year));
                    match model.entry(k) {
                        std::collections::btree_map::Entry::Occupied(_) => {
                            prop_assert!(
                                matches!(r, Err(Error::UniqueViolation { .. })),
                                "{:?}",
                                r
                            );
                        }
                        std::collections::btree_map::Entry::Vacant(e) => {
                            prop_assert_eq!(r.unwrap(), Value::Int(k));
                            e.insert(year);
                            next = next.max(k + 1);
                        }
                    }
                }
                Op::Delete { .. } | Op::DeleteLast => {
                    let key = match *op {
                        Op::Delete { key } => key,
                        _ => model.keys().next_back().copied().unwrap_or(1),
                    };
                    let s = t.find_key(ValueRef::Int(key));
                    prop_assert_eq!(s.is_some(), model.contains_key(&key));
                    if let Some(s) = s {
                        prop_assert!(t.remove(s));
                        model.remove(&key);
                        last_deleted = Some(key);
                    }
                }
                Op::Reinsert { year } => {
                    if let Some(k) = last_deleted {
                        let r = t.insert(row(k, year));
                        prop_assert_eq!(r.is_ok(), !model.contains_key(&k));
                        model.entry(k).or_insert(year);
                        next = next.max(k + 1);
                    }
                }
                Op::SetYears { every, year, bad } => {
                    let found: Vec<(u32, DynRow)> = t
                        .iter()
                        .filter(|(_, r)| matches!(r.0[0], Value::Int(k) if k % every == 0))
                        .map(|(s, r)| (s, r.clone()))
                        .collect();
                    let bad = bad.filter(|&b| b < found.len());
                    let (slots, rows): (Vec<u32>, Vec<DynRow>) = found
                        .into_iter()
                        .enumerate()
                        .map(|(i, (s, mut r))| {
                            r.0[1] = Value::Int(year);
                            if Some(i) == bad {
                                r.0[0] = Value::Int(-1);
                            }
                            (s, r)
                        })
                        .unzip();
                    let m = t.mark();
                    match t.replace_many(&slots, rows) {
                        Ok(()) => {
                            prop_assert!(bad.is_none());
                            for (k, y) in model.iter_mut() {
                                if k % every == 0 {
                                    *y = year;
                                }
                            }
                        }
                        Err(e) => {
                            prop_assert!(bad.is_some(), "{}", e);
                            t.rollback_to(m);
                        }
                    }
                }
                Op::Mark => marks.push((t.mark(), model.clone(), next)),
                Op::Rollback => {
                    if let Some((m, saved, n)) = marks.pop() {
                        t.rollback_to(m);
                        model = saved;
                        next = n;
                    }
                }
                Op::Commit => {
                    t.commit();
                    marks.clear();
                    hold(&mut held, &t, &model);
                }
                Op::Rebuild => {
                    t.commit();
                    marks.clear();
                    t.rebuild();
                    hold(&mut held, &t, &model);
                }
            }
            matches_model(&t, &model)?;
            for (old, want) in &held {
                matches_model(old, want)?;
            }
        }
    }
}

/// Keeps a clone of committed `t` with its model, as a reader keeps a version: the last 3.
fn hold(
    held: &mut Vec<(TableData<DynRow>, BTreeMap<i64, i64>)>,
    t: &TableData<DynRow>,
    model: &BTreeMap<i64, i64>,
) {
    if held.len() == 3 {
        held.remove(0);
    }
    held.push((t.clone(), model.clone()));
}

/// Checks `t` against `model` (key to year): its invariants, its rows in key order, a lookup
/// of every key, and the slots its ordered index gives for each year.
fn matches_model(t: &TableData<DynRow>, model: &BTreeMap<i64, i64>) -> Result<(), TestCaseError> {
    t.check_invariants();
    let got: Vec<(i64, i64)> = t
        .iter()
        .map(|(_, r)| match (&r.0[0], &r.0[1]) {
            (Value::Int(k), Value::Int(y)) => (*k, *y),
            other => panic!("{other:?}"),
        })
        .collect();
    let want: Vec<(i64, i64)> = model.iter().map(|(&k, &y)| (k, y)).collect();
    prop_assert_eq!(&got, &want);
    for (&k, &y) in model {
        let found = t.find_key(ValueRef::Int(k)).and_then(|s| t.row(s));
        prop_assert_eq!(
            found.map(|r| r.0[1].clone()),
            Some(Value::Int(y)),
            "key {}",
            k
        );
    }
    for year in 0..4i64 {
        let mut slots = t.slots_where(1, &Value::Int(year));
        slots.sort_unstable();
        let mut keys: Vec<i64> = slots
            .iter()
            .map(|&s| match &t.row(s).unwrap().0[0] {
                Value::Int(k) => *k,
                other => panic!("{other:?}"),
            })
            .collect();
        keys.sort_unstable();
        let want: Vec<i64> = model
            .iter()
            .filter(|(_, &y)| y == year)
            .map(|(&k, _)| k)
            .collect();
        prop_assert_eq!(keys, want);
    }
    Ok(())
}
