//! Unit tests of the slab, its indexes and the journal.

use super::*;
use crate::error::{Error, Result};
use crate::record::DynRow;
use crate::schema::{Column, ColumnType};

fn table() -> TableData<DynRow> {
    let schema = Schema::new(
        "t",
        vec![
            Column::new("id", ColumnType::U64).primary_key(),
            Column::new("email", ColumnType::Text).unique(),
            Column::new("year", ColumnType::U32).indexed(),
        ],
    )
    .unwrap();
    TableData::new(Arc::new(schema)).unwrap()
}

fn row(id: i64, email: &str, year: i64) -> DynRow {
    DynRow(vec![Value::Int(id), Value::from(email), Value::Int(year)].into())
}

#[test]
fn insert_assigns_keys_and_checks_uniques() {
    let mut t = table();
    assert_eq!(t.insert(row(0, "a", 1)).unwrap(), Value::Int(1));
    assert_eq!(t.insert(row(10, "b", 1)).unwrap(), Value::Int(10));
    assert_eq!(t.insert(row(0, "c", 1)).unwrap(), Value::Int(11));
    let e = t.insert(row(0, "a", 2)).unwrap_err();
    assert_eq!(e.to_string(), "unique constraint t.email violated by \"a\"");
    assert!(matches!(
        t.insert(row(10, "z", 2)),
        Err(Error::UniqueViolation { .. })
    ));
    t.check_invariants();
}

#[test]
fn rollback_restores_rows_indexes_and_counter() {
    let mut t = table();
    t.insert(row(0, "a", 1)).unwrap();
    t.insert(row(0, "b", 2)).unwrap();
    t.commit();
    let mark = t.mark();
    t.remove(0);
    let s = t.find_key(ValueRef::Int(2)).unwrap();
    t.replace(s, row(2, "a", 5)).unwrap();
    t.insert(row(0, "c", 3)).unwrap();
    t.rollback_to(mark);
    t.check_invariants();
    assert_eq!(t.len(), 2);
    assert_eq!(t.find_unique(1, ValueRef::Text("a")), Some(Some(0)));
    assert_eq!(t.next_key(), 3);
}

#[test]
fn dense_integer_keys_need_no_hash_index() {
    let mut t = table();
    for i in 1..=100 {
        t.insert(row(i, &format!("e{i}"), i % 3)).unwrap();
    }
    t.commit();
    assert!(t.pk.is_dense());
    assert_eq!(t.find_key(ValueRef::Int(42)), Some(41));
    assert_eq!(t.find_key(ValueRef::Int(0)), None);
    assert_eq!(t.find_key(ValueRef::Int(101)), None);
    assert_eq!(t.find_key(ValueRef::Int(-5)), None);
    // Deleting leaves holes; a deleted key comes back into its own slot.
    let s = t.find_key(ValueRef::Int(50)).unwrap();
    t.remove(s);
    assert_eq!(t.find_key(ValueRef::Int(50)), None);
    t.insert(row(50, "again", 0)).unwrap();
    assert_eq!(t.find_key(ValueRef::Int(50)), Some(49));
    // A duplicate is still refused, a small gap ahead is padded, auto keys follow on.
    assert!(matches!(
        t.insert(row(7, "x", 0)),
        Err(Error::UniqueViolation { .. })
    ));
    t.insert(row(110, "gap", 0)).unwrap();
    assert_eq!(t.insert(row(0, "auto", 0)).unwrap(), Value::Int(111));
    assert!(t.pk.is_dense());
    t.check_invariants();
    // Rolling back keeps it right, and so does a rebuild.
    let mark = t.mark();
    t.insert(row(112, "r", 0)).unwrap();
    t.rollback_to(mark);
    t.commit();
    t.check_invariants();
    let keys: Vec<_> = t.iter().map(|(_, r)| r.0[0].clone()).collect();
    let mut want: Vec<i64> = (1..=100).collect();
    want.extend([110, 111]);
    assert_eq!(keys, want.into_iter().map(Value::Int).collect::<Vec<_>>());
}

#[test]
fn rolling_back_a_reinsert_into_a_deleted_slot_restores_the_deleted_row() {
    // Found by the model test: the last row is deleted and its key inserted again (into
    // the same slot, the key index being dense), then everything is rolled back.
    let mut t = table();
    t.insert(row(0, "a", 0)).unwrap();
    t.insert(row(11, "b", 3)).unwrap();
    t.commit();
    let mark = t.mark();
    let s = t.find_key(ValueRef::Int(11)).unwrap();
    t.remove(s);
    t.insert(row(11, "c", 0)).unwrap();
    t.insert(row(30, "d", 0)).unwrap();
    t.rollback_to(mark);
    t.check_invariants();
    assert_eq!(t.rows.len(), 11, "slots added since the mark are gone");
    let s = t.find_key(ValueRef::Int(11)).unwrap();
    assert_eq!(t.row(s).unwrap().0[1], Value::from("b"));
}

#[test]
fn interleaved_runs_of_keys_stay_dense() {
    // As when four threads each insert their own run of 250 keys after 100k rows.
    let mut t = table();
    let n = 100_000i64;
    for i in 1..=n {
        t.insert(row(i, &format!("e{i}"), 0)).unwrap();
    }
    t.commit();
    for i in 0..250 {
        for run in [3i64, 0, 2, 1] {
            let k = n + 1 + run * 250 + i;
            t.insert(row(k, &format!("e{k}"), 1)).unwrap();
        }
    }
    t.commit();
    assert!(t.pk.is_dense());
    assert_eq!(t.rows.len(), (n + 1000) as usize);
    t.check_invariants();
}

#[test]
fn keys_off_their_dense_position_switch_to_hashing() {
    for keys in [vec![1, 2, 500], vec![10, 11, 3], vec![7, 6]] {
        let mut t = table();
        for (i, &k) in keys.iter().enumerate() {
            t.insert(row(k, &format!("e{i}"), 0)).unwrap();
        }
        assert!(!t.pk.is_dense(), "{keys:?}");
        t.check_invariants();
        for &k in &keys {
            assert!(t.find_key(ValueRef::Int(k)).is_some());
        }
        assert!(matches!(
            t.insert(row(keys[0], "dup", 0)),
            Err(Error::UniqueViolation { .. })
        ));
        // A rebuild of keys in order with holes hashes from the first hole on.
        t.commit();
        t.rebuild();
        t.check_invariants();
    }
    // Many padded gaps in one transaction stop padding at a quarter of the rows.
    let mut t = table();
    for i in 0..100 {
        t.insert(row(1 + i * 60, &format!("e{i}"), 0)).unwrap();
    }
    assert!(
        t.rows.len() <= 100 + 100 / 4 + 2 * crate::index::MAX_KEY_GAP,
        "{}",
        t.rows.len()
    );
    t.check_invariants();
}

#[test]
fn out_of_order_keys_still_iterate_in_key_order() {
    let mut t = table();
    for (k, e) in [(5, "a"), (2, "b"), (9, "c"), (1, "d")] {
        t.insert(row(k, e, 0)).unwrap();
    }
    let keys: Vec<_> = t.iter().map(|(_, r)| r.0[0].clone()).collect();
    assert_eq!(keys, [1, 2, 5, 9].map(Value::Int));
    t.commit();
    t.rebuild();
    t.check_invariants();
}

#[test]
fn commit_reports_final_images_and_deleted_keys() {
    let mut t = table();
    t.insert(row(0, "a", 1)).unwrap();
    t.insert(row(0, "b", 1)).unwrap();
    t.commit();
    t.replace(0, row(1, "x", 1)).unwrap();
    t.replace(1, row(2, "a", 1)).unwrap();
    t.replace(0, row(1, "y", 1)).unwrap();
    t.remove(1);
    let ch = t.changes().unwrap();
    t.commit();
    assert_eq!(ch.deletes, vec![Value::Int(2)]);
    assert_eq!(
        ch.puts,
        vec![vec![Value::Int(1), Value::from("y"), Value::Int(1)]]
    );
}

#[test]
fn replaying_changes_twice_gives_the_same_state() {
    let mut t = table();
    t.insert(row(0, "a", 1)).unwrap();
    t.insert(row(0, "b", 1)).unwrap();
    t.commit();
    let mut replica = table();
    replica.apply(t.changes_of_all()).unwrap();
    // Swap the unique values of the two rows: an intermediate state would collide.
    t.replace(0, row(1, "x", 1)).unwrap();
    t.replace(1, row(2, "a", 2)).unwrap();
    t.replace(0, row(1, "b", 3)).unwrap();
    t.insert(row(0, "c", 4)).unwrap();
    t.remove(2);
    t.insert(row(0, "d", 4)).unwrap();
    let ch = t.changes().unwrap();
    t.commit();
    replica.apply(ch.clone()).unwrap();
    replica.apply(ch).unwrap();
    replica.bump_next_key(4);
    replica.check_invariants();
    let dump = |t: &TableData<DynRow>| t.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>();
    assert_eq!(dump(&replica), dump(&t));
    assert_eq!(replica.insert(row(0, "e", 0)).unwrap(), Value::Int(5));
}

/// A table's pending changes, collected.
#[derive(Debug, Clone, PartialEq)]
struct Changes {
    deletes: Vec<Value>,
    puts: Vec<Vec<Value>>,
}

impl TableData<DynRow> {
    fn changes(&self) -> Result<Changes> {
        let mut puts = Vec::new();
        let deletes = self.for_each_change(|r| {
            puts.push(r.values()?);
            Ok(())
        })?;
        Ok(Changes { deletes, puts })
    }

    fn apply(&mut self, ch: Changes) -> Result<()> {
        self.apply_changes(&ch.deletes, ch.puts)
    }

    fn changes_of_all(&self) -> Changes {
        Changes {
            deletes: Vec::new(),
            puts: self.iter().map(|(_, r)| r.0.to_vec()).collect(),
        }
    }
}

#[test]
fn many_deletes_compact_the_slab() {
    let mut t = table();
    for i in 0..5000 {
        t.insert(row(0, &format!("e{i}"), i % 7)).unwrap();
    }
    t.commit();
    for s in 0..4000 {
        t.remove(s);
    }
    t.commit();
    assert_eq!(t.rows.len(), 1000);
    t.check_invariants();
}

impl<R: Record> TableData<R> {
    /// Checks that every index agrees with the rows (used by tests).
    pub(crate) fn check_invariants(&self) {
        let live = self.rows.live().count();
        assert_eq!(live, self.live);
        assert_eq!(self.pk.len(&self.rows), live);
        let pk = self.schema.primary_key();
        for (s, r) in self.rows.live() {
            assert_eq!(self.find_key(r.col(pk)), Some(s), "key of slot {s}");
            assert!(self
                .row_by_key(r.col(pk))
                .is_some_and(|x| std::ptr::eq(x, r)));
        }
        for u in &self.uniques {
            let non_null = self
                .rows
                .live()
                .filter(|(_, r)| !r.col(u.col).is_null())
                .count();
            assert_eq!(u.len(), non_null);
        }
        for o in &self.ordered {
            assert_eq!(o.len(), live);
        }
        for (s, r) in self.rows.live() {
            assert_eq!(self.find_key(r.col(self.schema.primary_key())), Some(s));
        }
        let keys: Vec<Value> = self
            .iter()
            .map(|(_, r)| r.col(self.schema.primary_key()).to_owned())
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }
}
