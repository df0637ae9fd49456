//! An aggregate's running state ([`Acc`]): `COUNT`, `SUM`, `TOTAL`, `AVG`, `MIN`, `MAX` and
//! `GROUP_CONCAT`, with `DISTINCT`.

use std::cmp::Ordering;

use hashbrown::HashSet;

use crate::error::{Error, Result};
use crate::sql::join::join_key;
use crate::sql::scalar::{self, order_cmp, AggCall, AggFunc};
use crate::value::{Value, ValueRef};

/// An aggregate's running state.
pub(super) struct Acc {
    func: AggFunc,
    distinct: Option<HashSet<String>>,
    count: i64,
    sum: Sum,
    best: Option<Value>,
    /// `GROUP_CONCAT`'s text so far, and the separator the next value takes.
    text: Option<String>,
    pub(super) sep: String,
}

/// The running sum of `SUM`, `TOTAL` and `AVG`, kept as SQLite's `sumStep` keeps it: an
/// exact integer until a float comes (or the integers overflow), then a float with a
/// Kahan-Babuska-Neumaier error term. Summing floats another way gives other last bits
/// (and, where the terms cancel, other small results) than SQLite's.
#[derive(Default)]
struct Sum {
    int: i64,
    /// The float sum is the one kept (`sum` + `err`), not `int`.
    approx: bool,
    /// The integers overflowed and no float came since: `SUM` fails.
    overflow: bool,
    sum: f64,
    err: f64,
}

impl Sum {
    /// 2^52: an integer at least this large is added as two floats, each exact.
    const BIG: i64 = 1 << 52;

    fn add_int(&mut self, i: i64) {
        if self.approx {
            self.add_exact(i);
            return;
        }
        match self.int.checked_add(i) {
            Some(x) => self.int = x,
            None => {
                self.overflow = true;
                self.start_float();
                self.add_exact(i);
            }
        }
    }

    fn add_float(&mut self, f: f64) {
        if self.approx {
            self.overflow = false;
        } else {
            self.start_float();
        }
        self.step(f);
    }

    /// Goes on as a float sum, starting from the integers' sum.
    fn start_float(&mut self) {
        self.approx = true;
        let (big, small) = Sum::split(self.int);
        self.sum = big;
        self.err = small;
    }

    /// `i` as a large part and a small one whose floats are exact (the small one zero for
    /// an `i` below [`Sum::BIG`], which a float holds exactly).
    fn split(i: i64) -> (f64, f64) {
        if i <= -Sum::BIG || i >= Sum::BIG {
            let small = i % 16384;
            ((i - small) as f64, small as f64)
        } else {
            (i as f64, 0.0)
        }
    }

    fn add_exact(&mut self, i: i64) {
        let (big, small) = Sum::split(i);
        self.step(big);
        if small != 0.0 {
            self.step(small);
        }
    }

    /// One Kahan-Babuska-Neumaier step.
    fn step(&mut self, r: f64) {
        let s = self.sum;
        let t = s + r;
        if s.abs() > r.abs() {
            self.err += (s - t) + r;
        } else {
            self.err += (r - t) + s;
        }
        self.sum = t;
    }

    /// The sum as a float.
    fn float(&self) -> f64 {
        match self.approx {
            false => self.int as f64,
            true if self.err.is_finite() => self.sum + self.err,
            true => self.sum,
        }
    }
}

/// A float result of an aggregate: null for NaN (infinity minus infinity), as SQLite has no
/// NaN.
fn float_value(f: f64) -> Value {
    if f.is_nan() {
        Value::Null
    } else {
        Value::Float(f)
    }
}

impl Acc {
    pub(super) fn new(call: &AggCall) -> Acc {
        Acc {
            func: call.func,
            distinct: call.distinct.then(HashSet::new),
            count: 0,
            sum: Sum::default(),
            best: None,
            text: None,
            sep: ",".to_owned(),
        }
    }

    /// [`Acc::add`] of a value read in place, where that needs no copy of it: a count, or a
    /// sum of a number, without DISTINCT. Whether it was added.
    pub(super) fn add_in_place(&mut self, v: ValueRef<'_>) -> bool {
        if self.distinct.is_some() {
            return false;
        }
        match (self.func, v) {
            (_, ValueRef::Null) => return true,
            (AggFunc::Count, _) => {}
            (AggFunc::Sum | AggFunc::Total | AggFunc::Avg, ValueRef::Int(i)) => self.sum.add_int(i),
            (AggFunc::Sum | AggFunc::Total | AggFunc::Avg, ValueRef::Bool(b)) => {
                self.sum.add_int(i64::from(b))
            }
            (AggFunc::Sum | AggFunc::Total | AggFunc::Avg, ValueRef::Float(f)) => {
                self.sum.add_float(f)
            }
            _ => return false,
        }
        self.count += 1;
        true
    }

    pub(super) fn add(&mut self, v: Option<Value>) {
        let Some(v) = v else {
            // COUNT(*)
            self.count += 1;
            return;
        };
        if v.is_null() {
            return;
        }
        if let Some(seen) = &mut self.distinct {
            if !seen.insert(join_key(&v).unwrap_or_default()) {
                return;
            }
        }
        self.count += 1;
        match self.func {
            AggFunc::Count => {}
            AggFunc::Min | AggFunc::Max => {
                let better = match &self.best {
                    None => true,
                    Some(b) => {
                        let o = order_cmp(&v, b);
                        if self.func == AggFunc::Min {
                            o == Ordering::Less
                        } else {
                            o == Ordering::Greater
                        }
                    }
                };
                if better {
                    self.best = Some(v);
                }
            }
            AggFunc::Sum | AggFunc::Total | AggFunc::Avg => {
                let n = match v {
                    Value::Bool(b) => Value::Int(i64::from(b)),
                    Value::Text(ref t) => scalar::summand(t),
                    v => v,
                };
                match n {
                    Value::Int(i) => self.sum.add_int(i),
                    Value::Float(f) => self.sum.add_float(f),
                    _ => {}
                }
            }
            AggFunc::GroupConcat => {
                let v = scalar::text_of(&v);
                match &mut self.text {
                    None => self.text = Some(v),
                    Some(t) => {
                        t.push_str(&self.sep);
                        t.push_str(&v);
                    }
                }
            }
        }
    }

    /// The aggregate's value; `SUM` fails if its integers overflowed (and no float came
    /// after, which makes it a float sum), as in SQLite.
    pub(super) fn finish(self) -> Result<Value> {
        Ok(match self.func {
            AggFunc::Count => Value::Int(self.count),
            AggFunc::Min | AggFunc::Max => self.best.unwrap_or(Value::Null),
            AggFunc::GroupConcat => self.text.map_or(Value::Null, Value::Text),
            AggFunc::Total => float_value(self.sum.float()),
            AggFunc::Sum if self.count == 0 => Value::Null,
            AggFunc::Sum if self.sum.overflow => {
                return Err(Error::Sql {
                    line: 0,
                    column: 0,
                    reason: "integer overflow in sum()".into(),
                })
            }
            AggFunc::Sum if !self.sum.approx => Value::Int(self.sum.int),
            AggFunc::Sum => float_value(self.sum.float()),
            AggFunc::Avg if self.count == 0 => Value::Null,
            AggFunc::Avg => float_value(self.sum.float() / self.count as f64),
        })
    }
}
