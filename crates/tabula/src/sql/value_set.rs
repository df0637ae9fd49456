//! The values of a long `IN` list, hashed: `x IN (SELECT …)` over thousands of rows then
//! costs one probe per row, not a comparison with every value.
//!
//! Values SQL's `=` calls equal share one [`GroupKey`] (an integer, the same float, a
//! boolean and 0 or 1), so a probe finds exactly the values a comparison with each would
//! have found equal. What compares equal to nothing (null, and a NaN the library stored)
//! is not hashed: it only makes a value not found unknown instead of false.

use hashbrown::HashSet;

use crate::sql::scalar::Scalar;
use crate::sql::select::GroupKey;
use crate::value::{Value, ValueRef};

/// Lists shorter than this are compared value by value, which costs less than hashing.
pub(crate) const HASHED_FROM: usize = 16;

/// The values of an `IN` list of literals.
#[derive(Debug, Clone)]
pub(crate) struct ValueSet {
    keys: HashSet<GroupKey>,
    /// Whether the list holds a null or a NaN: then a value found in none of `keys` is in
    /// the list "unknown" (null), as SQL's `IN` answers.
    unknown: bool,
}

impl ValueSet {
    /// The set of `list`, if it is worth hashing: at least [`HASHED_FROM`] items, every one a
    /// literal (an item naming a column or a parameter has no value until the row comes).
    pub(crate) fn of(list: &[Scalar]) -> Option<ValueSet> {
        if list.len() < HASHED_FROM {
            return None;
        }
        let mut set = ValueSet {
            keys: HashSet::with_capacity(list.len()),
            unknown: false,
        };
        for item in list {
            let Scalar::Literal(v) = item else {
                return None;
            };
            match v {
                Value::Null => set.unknown = true,
                Value::Float(f) if f.is_nan() => set.unknown = true,
                v => {
                    set.keys.insert(GroupKey::of(v));
                }
            }
        }
        Some(set)
    }

    /// `v [NOT] IN (the list)`, three-valued: null when `v` is null (or NaN), or when it is
    /// not found and the list holds a null. The list is never empty (an empty one is not
    /// hashed).
    pub(crate) fn test(&self, v: &Value, negated: bool) -> Value {
        let v = v.as_ref();
        match v {
            ValueRef::Null => return Value::Null,
            ValueRef::Float(f) if f.is_nan() => return Value::Null,
            _ => {}
        }
        if self.keys.contains(&GroupKey::probe(v)) {
            Value::Bool(!negated)
        } else if self.unknown {
            Value::Null
        } else {
            Value::Bool(negated)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::scalar::compare;
    use std::cmp::Ordering;

    /// What `IN` answers comparing `v` with every item, as the unhashed list does.
    fn by_comparison(v: &Value, list: &[Value], negated: bool) -> Value {
        if v.is_null() {
            return Value::Null;
        }
        let mut saw_null = false;
        for w in list {
            match compare(v, w) {
                Some(Ordering::Equal) => return Value::Bool(!negated),
                None => saw_null = true,
                _ => {}
            }
        }
        if saw_null {
            Value::Null
        } else {
            Value::Bool(negated)
        }
    }

    fn values() -> Vec<Value> {
        let mut vs = vec![
            Value::Null,
            Value::Bool(true),
            Value::Bool(false),
            Value::Int(0),
            Value::Int(1),
            Value::Int(-7),
            Value::Int(i64::MAX),
            Value::Int(i64::MIN),
            Value::Float(0.0),
            Value::Float(-0.0),
            Value::Float(1.0),
            Value::Float(1.5),
            Value::Float(-7.0),
            Value::Float(f64::NAN),
            Value::Float(f64::INFINITY),
            Value::Float(f64::NEG_INFINITY),
            Value::Float(9_223_372_036_854_775_808.0),
            Value::Float(-9_223_372_036_854_775_808.0),
            Value::Text(String::new()),
            Value::Text("1".into()),
            Value::Text("a".into()),
        ];
        vs.extend((100..120).map(Value::Int));
        vs
    }

    #[test]
    fn a_hashed_list_answers_as_comparing_with_every_item() {
        let all = values();
        // Lists of every length from the threshold up, each a window of the values, with
        // and without its nulls and NaNs; every value probed, negated or not.
        for start in 0..=all.len() - HASHED_FROM {
            for len in HASHED_FROM..=all.len() - start {
                let window = &all[start..start + len];
                for keep_unknown in [true, false] {
                    let list: Vec<Value> = window
                        .iter()
                        .filter(|v| keep_unknown || compare(v, v).is_some())
                        .cloned()
                        .collect();
                    let items: Vec<Scalar> = list.iter().cloned().map(Scalar::Literal).collect();
                    let Some(set) = ValueSet::of(&items) else {
                        assert!(items.len() < HASHED_FROM);
                        continue;
                    };
                    for v in &all {
                        for negated in [false, true] {
                            let want = by_comparison(v, &list, negated);
                            let got = set.test(v, negated);
                            assert_eq!(
                                format!("{got:?}"),
                                format!("{want:?}"),
                                "{v:?} IN {list:?} (negated: {negated})"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn short_lists_and_lists_of_expressions_are_not_hashed() {
        let short: Vec<Scalar> = (0..HASHED_FROM as i64 - 1)
            .map(|i| Scalar::Literal(Value::Int(i)))
            .collect();
        assert!(ValueSet::of(&short).is_none());
        let mut with_column = short.clone();
        with_column.push(Scalar::Literal(Value::Int(99)));
        assert!(ValueSet::of(&with_column).is_some());
        with_column.push(Scalar::Column(0));
        assert!(ValueSet::of(&with_column).is_none());
    }
}
