//! A differential test: queries served by composite unique and composite ordered indexes
//! agree with the same queries on an unindexed copy, across writes and rollbacks.

use tabula::{Column, ColumnType, Database, Row, Schema, Value};

use crate::common::Rng;

fn schema(name: &str, indexed: bool) -> Schema {
    let s = Schema::new(
        name,
        vec![
            Column::new("id", ColumnType::U64).primary_key(),
            Column::new("a", ColumnType::I64).nullable(),
            Column::new("b", ColumnType::F32).nullable(),
            Column::new("c", ColumnType::Text).nullable(),
            Column::new("d", ColumnType::U8),
        ],
    )
    .unwrap()
    .with_check("d < 200")
    .unwrap();
    if indexed {
        s.with_index(&["a", "b"])
            .unwrap()
            .with_index(&["d", "c", "a"])
            .unwrap()
            .with_index(&["b", "d"])
            .unwrap()
            .with_unique(&["a", "c", "d"])
            .unwrap()
    } else {
        s
    }
}

fn val(r: &mut Rng, col: &str) -> Value {
    match col {
        "a" => [
            Value::Null,
            Value::Int(-2),
            Value::Int(0),
            Value::Int(1),
            Value::Int(3),
        ][r.pick(5)]
        .clone(),
        "b" => [
            Value::Null,
            Value::Float(-1.5),
            Value::Float(0.0),
            Value::Float(-0.0),
            Value::Float(0.5),
            Value::Float(1.0),
            Value::Float(0.1),
            Value::Float(f64::NAN),
            Value::Float(f64::INFINITY),
        ][r.pick(9)]
        .clone(),
        "c" => [
            Value::Null,
            Value::from("x"),
            Value::from("y"),
            Value::from(""),
        ][r.pick(4)]
        .clone(),
        _ => Value::Int(r.pick(4) as i64),
    }
}

fn probe(r: &mut Rng, col: &str) -> Value {
    match r.pick(4) {
        0 => val(r, col),
        1 if col == "a" || col == "d" => Value::Float([0.0, 1.0, 1.5, -2.0][r.pick(4)]),
        1 if col == "b" => Value::Int([0, 1, -1][r.pick(3)]),
        _ => val(r, col),
    }
}

fn row(r: &mut Rng) -> Row {
    let mut row = Row::new();
    for c in ["a", "b", "c", "d"] {
        row.set(c, val(r, c));
    }
    row
}

#[test]
fn composite_paths_agree_with_a_scan() {
    let mut r = Rng(0x9e3779b97f4a7c15);
    let db = Database::in_memory();
    let ix = db.create_table(schema("ix", true)).unwrap();
    let plain = db.create_table(schema("plain", false)).unwrap();
    let mut keys_ok = 0;
    let (mut composite, mut cu, mut uv) = (0, 0, 0);
    for step in 0..4000 {
        match r.pick(10) {
            0..=4 => {
                let mut rw = row(&mut r);
                let k = (r.pick(300) + 1) as u64;
                rw.set("id", Value::Int(k as i64));
                let res = ix.upsert(rw.clone());
                match res {
                    Ok(_) => {
                        plain.upsert(rw).unwrap();
                    }
                    Err(tabula::Error::UniqueViolation { .. }) => {
                        let (a, c, d) = (
                            rw.get("a").cloned().unwrap(),
                            rw.get("c").cloned().unwrap(),
                            rw.get("d").cloned().unwrap(),
                        );
                        assert!(
                            !a.is_null() && !c.is_null(),
                            "step {step}: null key refused {rw:?}"
                        );
                        let other = plain
                            .select()
                            .where_eq("a", a)
                            .where_eq("c", c)
                            .where_eq("d", d)
                            .keys()
                            .unwrap();
                        assert!(
                            other.iter().any(|o| *o != Value::Int(k as i64)),
                            "step {step}: false violation {rw:?}"
                        );
                        uv += 1;
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            5 => {
                let k = (r.pick(300) + 1) as i64;
                let col = ["a", "b", "c", "d"][r.pick(4)];
                let v = val(&mut r, col);
                let pred = move |row: &Row| row.get("id") == Some(&Value::Int(k));
                let res = ix.update(pred, |row| row.set(col, v.clone()));
                if res.is_ok() {
                    plain.update(pred, |row| row.set(col, v.clone())).unwrap();
                }
            }
            6 => {
                let k = (r.pick(300) + 1) as i64;
                ix.delete_key(Value::Int(k)).unwrap();
                plain.delete_key(Value::Int(k)).unwrap();
            }
            7 => {
                // A transaction that writes and rolls back.
                let mut rows = Vec::new();
                for _ in 0..5 {
                    let mut rw = row(&mut r);
                    rw.set("id", Value::Int((r.pick(300) + 1) as i64));
                    rows.push(rw);
                }
                let col = ["a", "b", "c", "d"][r.pick(4)];
                let v = val(&mut r, col);
                let _ = db.transaction(|tx| {
                    let t = tx.dyn_table("ix")?;
                    for rw in rows {
                        let _ = t.upsert(rw);
                    }
                    let _ = t.update(|_| true, |row| row.set(col, v.clone()));
                    let _ = t.delete(|row| row.get("d") == Some(&Value::Int(1)));
                    Err::<(), _>(tabula::Error::Reentrant)
                });
            }
            _ => {}
        }
        // A query.
        let n = 1 + r.pick(3);
        type Bounds = (std::ops::Bound<Value>, std::ops::Bound<Value>);
        let mut ops: Vec<(String, Option<Value>, Option<Bounds>)> = Vec::new();
        let mut qi = ix.select();
        let mut qp = plain.select();
        let mut desc = Vec::new();
        for _ in 0..n {
            let col = ["a", "b", "c", "d"][r.pick(4)];
            if r.pick(2) == 0 {
                let v = probe(&mut r, col);
                desc.push(format!("{col} = {v:?}"));
                ops.push((col.to_string(), Some(v.clone()), None));
                qi = qi.where_eq(col, v.clone());
                qp = qp.where_eq(col, v);
            } else {
                let lo = probe(&mut r, col);
                let hi = probe(&mut r, col);
                if lo.is_null() || hi.is_null() {
                    continue;
                }
                let (lo, hi) = match r.pick(4) {
                    0 => (std::ops::Bound::Included(lo), std::ops::Bound::Excluded(hi)),
                    1 => (std::ops::Bound::Excluded(lo), std::ops::Bound::Included(hi)),
                    2 => (std::ops::Bound::Unbounded, std::ops::Bound::Included(hi)),
                    _ => (std::ops::Bound::Excluded(lo), std::ops::Bound::Unbounded),
                };
                desc.push(format!("{col} in {lo:?}..{hi:?}"));
                ops.push((col.to_string(), None, Some((lo.clone(), hi.clone()))));
                qi = qi.where_range(col, (lo.clone(), hi.clone()));
                qp = qp.where_range(col, (lo, hi));
            }
        }
        let _ = &qi;
        let mut qe = ix.select();
        for (c, v, rg) in &ops {
            qe = match (v, rg) {
                (Some(v), _) => qe.where_eq(c, v.clone()),
                (_, Some(rg)) => qe.where_range(c, rg.clone()),
                _ => qe,
            };
        }
        let plan = qe.explain().map(|p| p.to_string()).unwrap_or_default();
        if plan.contains("composite") {
            composite += 1;
        }
        if plan.contains("unique-index lookup on (") {
            cu += 1;
        }
        let (a, b) = (qi.keys(), qp.keys());
        match (a, b) {
            (Ok(mut a), Ok(mut b)) => {
                a.sort();
                b.sort();
                assert_eq!(a, b, "step {step}: {desc:?} {plan}");
                keys_ok += 1;
            }
            (a, b) => assert_eq!(
                a.is_ok(),
                b.is_ok(),
                "step {step}: {desc:?}: {a:?} vs {b:?}"
            ),
        }
    }
    assert_eq!(ix.count().unwrap(), plain.count().unwrap());
    let mut seen = std::collections::BTreeMap::new();
    for row in ix.select().all().unwrap() {
        let k: Vec<Value> = ["a", "c", "d"]
            .iter()
            .map(|c| row.get(c).cloned().unwrap())
            .collect();
        if k.iter().any(Value::is_null) {
            continue;
        }
        assert!(
            seen.insert(k.clone(), row.get("id").cloned()).is_none(),
            "duplicate {k:?}"
        );
    }
    eprintln!("{} distinct keys", seen.len());
    eprintln!("{keys_ok} queries compared, {composite} composite range, {cu} composite unique, {uv} violations");
}
