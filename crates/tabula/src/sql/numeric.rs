//! Numbers without [`Value`]s: SQL's comparisons, arithmetic and three-valued logic over
//! nulls, booleans, integers and floats ([`Num`]), which [`scalar`](super::scalar) uses for
//! every operation whose operands are numbers, and the expressions made only of those
//! ([`NumExpr`]), evaluated on a row without building a `Value` per node.
//!
//! Why: the general evaluator returns a `Value` (with its text variant and drop) from every
//! node, through memory; a filter such as `id % 10 = 1` costs several of those per row. A
//! `Num` is copied in registers and has nothing to drop. Both paths share the operations
//! below, so they cannot disagree; a row whose column or parameter holds text (which a
//! numeric expression cannot take) is handed back to the general evaluator.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::query;
use crate::record::Cols;
use crate::schema::{ColumnType, Schema};
use crate::sql::scalar::{Op, Scalar};
use crate::value::{Value, ValueRef};

/// A value that is not text, as two plain words: its kind and its bits. (As an enum it was
/// handed between functions through memory, written a field at a time and read back as 16
/// bytes, which stalls the processor's forwarding of the stores to the load on every
/// operation; a pair of words stays in registers.) [`Num::get`] gives it as an enum to
/// match on.
#[derive(Clone, Copy)]
pub(crate) struct Num {
    kind: Kind,
    bits: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Int,
    Float,
}

/// A [`Num`] to match on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum N {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
}

impl std::fmt::Debug for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

impl Num {
    pub(crate) const NULL: Num = Num {
        kind: Kind::Null,
        bits: 0,
    };

    #[inline]
    pub(crate) fn bool(b: bool) -> Num {
        Num {
            kind: Kind::Bool,
            bits: u64::from(b),
        }
    }

    #[inline]
    pub(crate) fn int(i: i64) -> Num {
        Num {
            kind: Kind::Int,
            bits: i as u64,
        }
    }

    #[inline]
    pub(crate) fn float(f: f64) -> Num {
        Num {
            kind: Kind::Float,
            bits: f.to_bits(),
        }
    }

    /// The value to match on.
    #[inline]
    pub(crate) fn get(self) -> N {
        match self.kind {
            Kind::Null => N::Null,
            Kind::Bool => N::Bool(self.bits != 0),
            Kind::Int => N::Int(self.bits as i64),
            Kind::Float => N::Float(f64::from_bits(self.bits)),
        }
    }

    /// The value as a number, `None` for text.
    #[inline]
    pub(crate) fn of(v: ValueRef<'_>) -> Option<Num> {
        Some(match v {
            ValueRef::Null => Num::NULL,
            ValueRef::Bool(b) => Num::bool(b),
            ValueRef::Int(i) => Num::int(i),
            ValueRef::Float(f) => Num::float(f),
            ValueRef::Text(_) => return None,
        })
    }

    /// [`Num::of`] on an owned value.
    #[inline]
    pub(crate) fn of_value(v: &Value) -> Option<Num> {
        Num::of(v.as_ref())
    }

    pub(crate) fn value(self) -> Value {
        match self.get() {
            N::Null => Value::Null,
            N::Bool(b) => Value::Bool(b),
            N::Int(i) => Value::Int(i),
            N::Float(f) => Value::Float(f),
        }
    }

    /// SQL truth: null is unknown; numbers are true unless zero.
    #[inline]
    pub(crate) fn truth(self) -> Option<bool> {
        match self.get() {
            N::Null => None,
            N::Bool(b) => Some(b),
            N::Int(i) => Some(i != 0),
            N::Float(f) => Some(f != 0.0),
        }
    }

    #[inline]
    fn is_null(self) -> bool {
        self.kind == Kind::Null
    }

    /// The value as a float, booleans as 0 and 1 (`None` for null).
    #[inline]
    fn as_f64(self) -> Option<f64> {
        match self.get() {
            N::Bool(b) => Some(f64::from(u8::from(b))),
            N::Int(i) => Some(i as f64),
            N::Float(f) => Some(f),
            N::Null => None,
        }
    }

    /// `-x`: an integer that cannot be negated becomes a float; a boolean is 0 or -1.
    #[inline]
    pub(crate) fn negate(self) -> Num {
        match self.get() {
            N::Int(i) => i.checked_neg().map_or(Num::float(-(i as f64)), Num::int),
            // Arithmetic on a NaN the library stored is null, as `binary` makes it.
            N::Float(f) if f.is_nan() => Num::NULL,
            N::Float(f) => Num::float(-f),
            N::Bool(b) => Num::int(-i64::from(b)),
            N::Null => Num::NULL,
        }
    }
}

/// Compares two numbers as SQL does: `None` if either is null or NaN (SQL has no NaN, as in
/// SQLite: a NaN the library stored compares as null does). Integers and floats compare by
/// value, exactly; booleans as 0 and 1.
#[inline]
pub(crate) fn compare(a: Num, b: Num) -> Option<Ordering> {
    match (a.get(), b.get()) {
        (N::Null, _) | (_, N::Null) => None,
        (N::Float(f), _) | (_, N::Float(f)) if f.is_nan() => None,
        (N::Int(x), N::Int(y)) => Some(x.cmp(&y)),
        (N::Int(x), N::Float(y)) => Some(cmp_int_float(x, y)),
        (N::Float(x), N::Int(y)) => Some(cmp_int_float(y, x).reverse()),
        _ => a
            .as_f64()?
            .partial_cmp(&b.as_f64()?)
            .or(Some(Ordering::Equal)),
    }
}

/// An integer against a float, exactly (no rounding of large integers).
#[inline]
fn cmp_int_float(i: i64, f: f64) -> Ordering {
    if f.is_nan() {
        return Ordering::Less;
    }
    if f >= 9_223_372_036_854_775_808.0 {
        return Ordering::Less;
    }
    if f < -9_223_372_036_854_775_808.0 {
        return Ordering::Greater;
    }
    let t = f.trunc();
    match i.cmp(&(t as i64)) {
        Ordering::Equal => 0.0f64.partial_cmp(&(f - t)).unwrap_or(Ordering::Equal),
        o => o,
    }
}

/// A comparison's answer from an ordering (`None`: null).
#[inline]
pub(crate) fn compared(op: Op, o: Option<Ordering>) -> Num {
    let Some(o) = o else { return Num::NULL };
    Num::bool(match op {
        Op::Eq => o == Ordering::Equal,
        Op::Ne => o != Ordering::Equal,
        Op::Lt => o == Ordering::Less,
        Op::Le => o != Ordering::Greater,
        Op::Gt => o == Ordering::Greater,
        Op::Ge => o != Ordering::Less,
        _ => return Num::NULL,
    })
}

/// A comparison or arithmetic operator on two numbers (null if either is). `AND`, `OR`
/// and `||` are not answered here.
#[inline]
pub(crate) fn binary(op: Op, a: Num, b: Num) -> Num {
    if a.is_null() || b.is_null() {
        return Num::NULL;
    }
    match op {
        Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge => compared(op, compare(a, b)),
        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Rem => arithmetic(op, a, b),
        Op::And | Op::Or | Op::Concat => Num::NULL,
    }
}

/// Arithmetic as SQLite does it: on integers exactly, becoming float arithmetic when that
/// overflows; integer division truncates; dividing by zero, and what would be NaN, is null.
/// Booleans count as 0 and 1.
#[inline]
pub(crate) fn arithmetic(op: Op, a: Num, b: Num) -> Num {
    let int = |n: Num| match n.get() {
        N::Int(i) => Some(i),
        N::Bool(b) => Some(i64::from(b)),
        _ => None,
    };
    match (int(a), int(b)) {
        // What has no exact answer goes to floats, where dividing by zero is null too.
        (Some(x), Some(y)) => match exact(op, x, y) {
            Some(v) => Num::int(v),
            None => float_arithmetic(op, x as f64, y as f64),
        },
        _ if op == Op::Rem => float_remainder(a, b),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => float_arithmetic(op, x, y),
            _ => Num::NULL,
        },
    }
}

/// `a % b` with a float among them, as SQLite takes it: the remainder of the operands'
/// integer values (a float truncated, and beyond the 64-bit range the nearest end of it:
/// `1e19 % 7` is `i64::MAX % 7`; an integer as it is, not through a float), as a float;
/// null for a divisor of 0.
fn float_remainder(a: Num, b: Num) -> Num {
    let int = |n: Num| match n.get() {
        N::Int(i) => Some(i),
        N::Bool(b) => Some(i64::from(b)),
        // `as` saturates at the ends of the range (and takes NaN, never stored, as 0).
        N::Float(f) => Some(f as i64),
        N::Null => None,
    };
    match (int(a), int(b)) {
        (Some(_), Some(0)) | (None, _) | (_, None) => Num::NULL,
        (Some(x), Some(y)) => Num::float(x.checked_rem(y).unwrap_or(0) as f64),
    }
}

/// `op` on two integers exactly, if it has an exact integer answer: `None` when it
/// overflows, divides by zero, or is not arithmetic.
#[inline]
fn exact(op: Op, x: i64, y: i64) -> Option<i64> {
    match op {
        Op::Add => x.checked_add(y),
        Op::Sub => x.checked_sub(y),
        Op::Mul => x.checked_mul(y),
        Op::Div => x.checked_div(y),
        Op::Rem if y == 0 => None,
        Op::Rem => Some(x.checked_rem(y).unwrap_or(0)),
        _ => None,
    }
}

/// [`arithmetic`] on floats.
#[inline]
fn float_arithmetic(op: Op, x: f64, y: f64) -> Num {
    let r = match op {
        Op::Add => x + y,
        Op::Sub => x - y,
        Op::Mul => x * y,
        Op::Div if y == 0.0 => return Num::NULL,
        Op::Div => x / y,
        Op::Rem => return float_remainder(Num::float(x), Num::float(y)),
        _ => return Num::NULL,
    };
    if r.is_nan() {
        Num::NULL
    } else {
        Num::float(r)
    }
}

/// `AND` of two truths, three-valued.
#[inline]
pub(crate) fn and(a: Option<bool>, b: Option<bool>) -> Num {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Num::bool(false),
        (Some(true), Some(true)) => Num::bool(true),
        _ => Num::NULL,
    }
}

/// `OR` of two truths, three-valued.
#[inline]
pub(crate) fn or(a: Option<bool>, b: Option<bool>) -> Num {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Num::bool(true),
        (Some(false), Some(false)) => Num::bool(false),
        _ => Num::NULL,
    }
}

/// Whether `v` lies between `lo` and `hi` (inclusive), three-valued, `negated` for
/// `NOT BETWEEN`; `cmp` compares two of them.
#[inline]
pub(crate) fn between<T>(
    v: &T,
    lo: &T,
    hi: &T,
    negated: bool,
    cmp: impl Fn(&T, &T) -> Option<Ordering>,
) -> Num {
    let ge = cmp(v, lo).map(|o| o != Ordering::Less);
    let le = cmp(v, hi).map(|o| o != Ordering::Greater);
    match and(ge, le).get() {
        N::Bool(b) => Num::bool(b != negated),
        _ => Num::NULL,
    }
}

/// The most values a [`NumExpr`] holds at once below the one at hand while it runs; a
/// deeper expression is left to the general evaluator.
const DEPTH: usize = 8;

/// An expression made only of number columns, number constants and parameters, and the
/// operators [`Num`] answers, as a program of steps in postfix order; see [`prepared`].
/// The value at hand is kept apart from the stack below it, and an operator whose right
/// side is a constant is one step (with its column, if its left side is one): a filter
/// such as `id % 10 = 1` is two steps that never touch the stack. `AND` and `OR` evaluate
/// both sides: nothing here fails or has an effect, and a side that meets text sends the
/// whole row to the general evaluator, which short-circuits as SQL does and gives the
/// same answer.
#[derive(Debug, Clone)]
pub(crate) struct NumExpr {
    steps: Vec<Step>,
    /// Whether any step keeps a value below the one at hand (if not, the program runs
    /// with no stack at all).
    deep: bool,
    /// For a program `column op c cmp d` over integer constants (`id % 10 = 1`), that
    /// column and the test as one closure, tried first on an integer.
    int_test: Option<(usize, IntTest)>,
}

/// `x op c cmp d` on an integer `x`, with both operators fixed when the closure was made
/// (so no step is dispatched per row); `None` where `op` has no exact integer answer,
/// which leaves the row to the program. Answers as the program's two steps do.
#[derive(Clone)]
struct IntTest(Arc<dyn Fn(i64) -> Option<bool> + Send + Sync>);

impl std::fmt::Debug for IntTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IntTest")
    }
}

impl IntTest {
    /// The test for `op` (arithmetic) then `cmp` (a comparison), if they are such.
    fn new(op: Op, c: i64, cmp: Op, d: i64) -> Option<IntTest> {
        // One closure per pair of operators, each written with both as constants.
        macro_rules! compared {
            ($op:expr) => {
                match cmp {
                    Op::Eq => IntTest(Arc::new(move |x| exact($op, x, c).map(|v| v == d))),
                    Op::Ne => IntTest(Arc::new(move |x| exact($op, x, c).map(|v| v != d))),
                    Op::Lt => IntTest(Arc::new(move |x| exact($op, x, c).map(|v| v < d))),
                    Op::Le => IntTest(Arc::new(move |x| exact($op, x, c).map(|v| v <= d))),
                    Op::Gt => IntTest(Arc::new(move |x| exact($op, x, c).map(|v| v > d))),
                    Op::Ge => IntTest(Arc::new(move |x| exact($op, x, c).map(|v| v >= d))),
                    _ => return None,
                }
            };
        }
        Some(match op {
            Op::Add => compared!(Op::Add),
            Op::Sub => compared!(Op::Sub),
            Op::Mul => compared!(Op::Mul),
            Op::Div => compared!(Op::Div),
            Op::Rem => compared!(Op::Rem),
            _ => return None,
        })
    }
}

/// One step of a [`NumExpr`].
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Pushes a column's value.
    Column(usize),
    /// Pushes a constant.
    Const(Num),
    /// Pushes a parameter's value.
    Param(usize),
    /// Pushes `column op constant`.
    ColumnConst(usize, Op, Num),
    /// Replaces the value at hand `x` by `x op constant`.
    WithConst(Op, Num),
    /// Replaces the two values on top by the operator's result.
    Binary(Op),
    Not,
    Negate,
    IsNull(bool),
    /// Replaces the three values on top (value, low, high) by whether the value lies
    /// between.
    Between(bool),
}

/// Text met where a number was expected: the row goes to the general evaluator.
pub(crate) struct NotNumber;

/// The values of a running [`NumExpr`]: the one at hand, and those below it.
struct Stack<const B: usize> {
    below: [Num; B],
    depth: usize,
    /// `None` before the first value.
    at_hand: Option<Num>,
}

impl<const B: usize> Stack<B> {
    #[inline]
    fn push(&mut self, n: Num) -> Result<(), NotNumber> {
        if let Some(x) = self.at_hand.replace(n) {
            *self.below.get_mut(self.depth).ok_or(NotNumber)? = x;
            self.depth += 1;
        }
        Ok(())
    }

    /// Takes the value below the one at hand off the stack.
    #[inline]
    fn pop(&mut self) -> Result<Num, NotNumber> {
        self.depth = self.depth.checked_sub(1).ok_or(NotNumber)?;
        self.below.get(self.depth).copied().ok_or(NotNumber)
    }

    /// Replaces the value at hand by `f` of it.
    #[inline]
    fn map(&mut self, f: impl FnOnce(Num) -> Num) -> Result<(), NotNumber> {
        let x = self.at_hand.ok_or(NotNumber)?;
        self.at_hand = Some(f(x));
        Ok(())
    }
}

/// `op` on two numbers, `AND` and `OR` included (both sides evaluated; see [`NumExpr`]).
#[inline(always)]
fn operator(op: Op, a: Num, b: Num) -> Num {
    if a.kind == Kind::Int && b.kind == Kind::Int {
        if let Some(n) = int_operator(op, a.bits as i64, b.bits as i64) {
            return n;
        }
    }
    match op {
        Op::And => and(a.truth(), b.truth()),
        Op::Or => or(a.truth(), b.truth()),
        op => binary(op, a, b),
    }
}

/// `op` on two integers, as [`binary`] answers it, when that is a comparison or exact
/// arithmetic: the common case of a scan's filter, without the general path's matching
/// on both kinds. `None` leaves the rest to it (overflow, division by zero, `AND`, `OR`).
#[inline]
fn int_operator(op: Op, x: i64, y: i64) -> Option<Num> {
    Some(match op {
        Op::Eq => Num::bool(x == y),
        Op::Ne => Num::bool(x != y),
        Op::Lt => Num::bool(x < y),
        Op::Le => Num::bool(x <= y),
        Op::Gt => Num::bool(x > y),
        Op::Ge => Num::bool(x >= y),
        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Rem => Num::int(exact(op, x, y)?),
        _ => return None,
    })
}

impl NumExpr {
    /// The expression as a `NumExpr`, if every part of it is one (a column only if
    /// `numbers` says it holds numbers) and it is not too deep.
    fn of(s: &Scalar, numbers: &[bool], params: &[Value]) -> Option<NumExpr> {
        let mut steps = Vec::new();
        let most = compile(s, numbers, params, &mut steps, 0)?;
        let int = |n: Num| (n.kind == Kind::Int).then_some(n.bits as i64);
        let int_test = match *steps.as_slice() {
            [Step::ColumnConst(i, op, c), Step::WithConst(cmp, d)] => int(c)
                .zip(int(d))
                .and_then(|(c, d)| IntTest::new(op, c, cmp, d))
                .map(|t| (i, t)),
            _ => None,
        };
        (most <= DEPTH).then_some(NumExpr {
            steps,
            deep: most > 0,
            int_test,
        })
    }

    /// The column and test of a program `column op c cmp d` over integer constants, which
    /// answers on an integer in that column as the program does wherever it answers.
    pub(crate) fn int_test(&self) -> Option<(usize, query::IntTest<'_>)> {
        let (col, test) = self.int_test.as_ref()?;
        Some((*col, &*test.0))
    }

    /// The value on `row`, as [`Scalar`]'s evaluation gives it, or [`NotNumber`] when a
    /// column or parameter read holds text.
    #[inline(always)]
    pub(crate) fn eval<C: Cols + ?Sized>(
        &self,
        row: &C,
        params: &[Value],
    ) -> Result<Num, NotNumber> {
        // The two shapes most filters and SET expressions take (`col op c`, and
        // `col op c op c` such as `id % 10 = 1`) run without the loop over the steps; the
        // second, on an integer, as one closure.
        if let Some((i, test)) = &self.int_test {
            if let ValueRef::Int(x) = row.value_at(*i) {
                if let Some(b) = (test.0)(x) {
                    return Ok(Num::bool(b));
                }
            }
        }
        self.eval_steps(row, params)
    }

    /// [`NumExpr::eval`] step by step. (Out of line: `eval` is inlined into scans.)
    #[inline(never)]
    fn eval_steps<C: Cols + ?Sized>(&self, row: &C, params: &[Value]) -> Result<Num, NotNumber> {
        let column = |i: usize| Num::of(row.value_at(i)).ok_or(NotNumber);
        match *self.steps.as_slice() {
            [Step::ColumnConst(i, op, n)] => return Ok(operator(op, column(i)?, n)),
            [Step::ColumnConst(i, op, n), Step::WithConst(then, m)] => {
                return Ok(operator(then, operator(op, column(i)?, n), m))
            }
            _ => {}
        }
        if self.deep {
            self.run::<DEPTH, C>(row, params)
        } else {
            self.run::<0, C>(row, params)
        }
    }

    /// [`NumExpr::eval`] with room for `B` values below the one at hand.
    fn run<const B: usize, C: Cols + ?Sized>(
        &self,
        row: &C,
        params: &[Value],
    ) -> Result<Num, NotNumber> {
        let column = |i: usize| Num::of(row.value_at(i)).ok_or(NotNumber);
        let mut stack = Stack::<B> {
            below: [Num::NULL; B],
            depth: 0,
            at_hand: None,
        };
        for step in &self.steps {
            match *step {
                Step::Column(i) => stack.push(column(i)?)?,
                Step::Const(n) => stack.push(n)?,
                Step::Param(i) => stack.push(match params.get(i) {
                    Some(v) => Num::of_value(v).ok_or(NotNumber)?,
                    None => Num::NULL,
                })?,
                Step::ColumnConst(i, op, n) => stack.push(operator(op, column(i)?, n))?,
                Step::WithConst(op, n) => stack.map(|x| operator(op, x, n))?,
                Step::Binary(op) => {
                    let a = stack.pop()?;
                    stack.map(|b| operator(op, a, b))?;
                }
                Step::Not => stack.map(|x| x.truth().map_or(Num::NULL, |b| Num::bool(!b)))?,
                Step::Negate => stack.map(Num::negate)?,
                Step::IsNull(negated) => stack.map(|x| Num::bool(x.is_null() != negated))?,
                Step::Between(negated) => {
                    let lo = stack.pop()?;
                    let v = stack.pop()?;
                    stack.map(|hi| between(&v, &lo, &hi, negated, |a, b| compare(*a, *b)))?;
                }
            }
        }
        stack.at_hand.ok_or(NotNumber)
    }
}

/// Appends the steps of `s` (`depth` values already below the one at hand), returning the
/// most values then below the one at hand, or `None` if `s` is not numeric. A parameter
/// holding a number is a constant (as its `Step::Param` would push that number on every
/// row); one holding text stays a parameter, which sends each row to the general
/// evaluator.
fn compile(
    s: &Scalar,
    numbers: &[bool],
    params: &[Value],
    steps: &mut Vec<Step>,
    depth: usize,
) -> Option<usize> {
    let leaf = |step, steps: &mut Vec<Step>| {
        steps.push(step);
        Some(depth)
    };
    let constant = |s: &Scalar| match s {
        Scalar::Literal(v) => Num::of_value(v),
        Scalar::Param(i) => params.get(*i).map_or(Some(Num::NULL), Num::of_value),
        _ => None,
    };
    let compile =
        |s: &Scalar, steps: &mut Vec<Step>, depth: usize| compile(s, numbers, params, steps, depth);
    match s {
        Scalar::Column(i) if numbers.get(*i) == Some(&true) => leaf(Step::Column(*i), steps),
        Scalar::Param(i) => match constant(s) {
            Some(n) => leaf(Step::Const(n), steps),
            None => leaf(Step::Param(*i), steps),
        },
        Scalar::Literal(v) => leaf(Step::Const(Num::of_value(v)?), steps),
        Scalar::Binary(_, Op::Concat, _) => None,
        Scalar::Binary(a, op, b) => match (a.as_ref(), constant(b)) {
            (Scalar::Column(i), Some(n)) if numbers.get(*i) == Some(&true) => {
                leaf(Step::ColumnConst(*i, *op, n), steps)
            }
            (a, Some(n)) => {
                let most = compile(a, steps, depth)?;
                steps.push(Step::WithConst(*op, n));
                Some(most)
            }
            (a, None) => {
                let most = compile(a, steps, depth)?.max(compile(b, steps, depth + 1)?);
                steps.push(Step::Binary(*op));
                Some(most)
            }
        },
        Scalar::Not(x) | Scalar::Negate(x) | Scalar::IsNull(x, _) => {
            let most = compile(x, steps, depth)?;
            steps.push(match s {
                Scalar::Not(_) => Step::Not,
                Scalar::Negate(_) => Step::Negate,
                Scalar::IsNull(_, negated) => Step::IsNull(*negated),
                _ => return None,
            });
            Some(most)
        }
        Scalar::Between(x, lo, hi, negated) => {
            let most = compile(x, steps, depth)?
                .max(compile(lo, steps, depth + 1)?)
                .max(compile(hi, steps, depth + 2)?);
            steps.push(Step::Between(*negated));
            Some(most)
        }
        _ => None,
    }
}

/// `s` with its numeric parts (the whole of it, or of each side of its `AND`s, `OR`s and
/// `NOT`s) evaluated as [`NumExpr`]s, the general expression kept beside each for rows
/// whose values are text (a parameter's). `numbers[i]`: whether column `i` of the rows
/// holds numbers only (a stored column of a number type: see [`number_columns`]); an
/// expression reading any other column stays general, as it would fall back on every row.
/// A bare column, constant or parameter stays as it is (nothing to gain). Used once a
/// statement is planned: the planner reads the expressions' shapes. Parameters holding
/// numbers are taken as constants, so the result answers only for `params`: it is made
/// anew for each execution, and must never be kept for a run with other parameters.
pub(crate) fn prepared(s: &Scalar, numbers: &[bool], params: &[Value]) -> Scalar {
    if !matches!(s, Scalar::Column(_) | Scalar::Literal(_) | Scalar::Param(_)) {
        if let Some(n) = NumExpr::of(s, numbers, params) {
            return Scalar::Numeric(Box::new((n, s.clone())));
        }
    }
    match s {
        Scalar::Binary(a, op @ (Op::And | Op::Or), b) => Scalar::Binary(
            Box::new(prepared(a, numbers, params)),
            *op,
            Box::new(prepared(b, numbers, params)),
        ),
        Scalar::Not(x) => Scalar::Not(Box::new(prepared(x, numbers, params))),
        s => s.clone(),
    }
}

/// Which of a table's columns hold numbers only (booleans, integers, floats; not text or
/// JSON), for [`prepared`].
pub(crate) fn number_columns(schema: &Schema) -> impl Iterator<Item = bool> + '_ {
    schema
        .columns
        .iter()
        .map(|c| c.ty.is_int() || c.ty.is_float() || c.ty == ColumnType::Bool)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A numeric expression answers as the general evaluator does, on every pairing of the
    /// awkward values (null, NaN, booleans, the integer extremes, zero divisors).
    #[test]
    fn numeric_expressions_answer_as_the_general_evaluator() {
        let values = [
            Value::Null,
            Value::Bool(true),
            Value::Bool(false),
            Value::Int(0),
            Value::Int(7),
            Value::Int(-3),
            Value::Int(-1),
            Value::Int(i64::MAX),
            Value::Int(i64::MIN),
            Value::Float(2.5),
            Value::Float(-0.0),
            Value::Float(f64::NAN),
            Value::Float(f64::INFINITY),
            Value::Float(9_223_372_036_854_775_808.0),
        ];
        let ops = [
            Op::Add,
            Op::Sub,
            Op::Mul,
            Op::Div,
            Op::Rem,
            Op::Eq,
            Op::Ne,
            Op::Lt,
            Op::Le,
            Op::Gt,
            Op::Ge,
            Op::And,
            Op::Or,
        ];
        let col = |i| Box::new(Scalar::Column(i));
        let mut shapes = Vec::new();
        for op in ops {
            shapes.push(Scalar::Binary(col(0), op, col(1)));
            shapes.push(Scalar::Not(Box::new(Scalar::Binary(col(0), op, col(1)))));
        }
        // A column with a constant, and then another (`id % 10 = 1`): the shapes that run
        // without the stack, and over integers as one closure.
        let lit = |v: &Value| Box::new(Scalar::Literal(v.clone()));
        for op in ops {
            for c in &values {
                shapes.push(Scalar::Binary(col(0), op, lit(c)));
                for then in ops {
                    for d in [&values[0], &values[3], &values[5], &values[8], &values[9]] {
                        let first = Box::new(Scalar::Binary(col(0), op, lit(c)));
                        shapes.push(Scalar::Binary(first, then, lit(d)));
                    }
                }
            }
        }
        shapes.push(Scalar::Negate(col(0)));
        shapes.push(Scalar::IsNull(col(0), true));
        shapes.push(Scalar::Between(col(0), col(1), col(0), false));
        shapes.push(Scalar::Between(col(1), col(0), col(1), true));
        for shape in &shapes {
            let fast = prepared(shape, &[true, true], &[]);
            assert!(
                matches!(fast, Scalar::Numeric(_)),
                "{shape:?} is not prepared"
            );
            let mut reads = [false; 2];
            shape.mark_columns(&mut reads);
            let seconds = if reads[1] { &values[..] } else { &values[..1] };
            for a in &values {
                for b in seconds {
                    let row = vec![a.clone(), b.clone()];
                    let general = shape.eval(&row, &[]).ok();
                    let numeric = fast.eval(&row, &[]).ok();
                    // NaN answers compare by their bits.
                    assert_eq!(
                        format!("{general:?}"),
                        format!("{numeric:?}"),
                        "{shape:?} on {a:?}, {b:?}"
                    );
                }
            }
        }
        // The same with the constants as parameters (`id % ? = ?`), which a statement
        // prepared for its parameters takes as constants; text among them included.
        let param = |i| Box::new(Scalar::Param(i));
        let text = Value::Text("7".into());
        for op in ops {
            for then in ops {
                let first = Box::new(Scalar::Binary(col(0), op, param(0)));
                let shape = Scalar::Binary(first, then, param(1));
                for c in values.iter().chain([&text]) {
                    for d in [&values[0], &values[3], &values[5], &values[8], &text] {
                        let params = [c.clone(), d.clone()];
                        let fast = prepared(&shape, &[true], &params);
                        for a in &values {
                            let row = vec![a.clone()];
                            let general = shape.eval(&row, &params).ok();
                            let numeric = fast.eval(&row, &params).ok();
                            assert_eq!(
                                format!("{general:?}"),
                                format!("{numeric:?}"),
                                "{shape:?} with {params:?} on {a:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// A parameter holding a number is taken as a constant: `col % ? = ?` over integers
    /// gets the one-closure test a table runs on each row.
    #[test]
    fn number_parameters_are_constants() {
        let shape = Scalar::Binary(
            Box::new(Scalar::Binary(
                Box::new(Scalar::Column(0)),
                Op::Rem,
                Box::new(Scalar::Param(0)),
            )),
            Op::Eq,
            Box::new(Scalar::Param(1)),
        );
        let fast = prepared(&shape, &[true], &[Value::Int(10), Value::Int(3)]);
        let (col, test) = fast.int_test().expect("an integer test");
        assert_eq!(col, 0);
        assert_eq!(
            (test(13), test(14), test(-7)),
            (Some(true), Some(false), Some(false))
        );
        // Text in a parameter leaves the expression to the rows' evaluation.
        let fast = prepared(&shape, &[true], &[Value::Int(10), Value::Text("3".into())]);
        assert!(fast.int_test().is_none());
    }

    /// Text in a column of a numeric expression sends the row to the general evaluator:
    /// the answer is the one it gives.
    #[test]
    fn text_goes_to_the_general_evaluator() {
        let shape = Scalar::Binary(
            Box::new(Scalar::Binary(
                Box::new(Scalar::Column(0)),
                Op::Add,
                Box::new(Scalar::Literal(Value::Int(1))),
            )),
            Op::Eq,
            Box::new(Scalar::Param(0)),
        );
        let params = [Value::Int(42)];
        let fast = prepared(&shape, &[true], &params);
        let row = vec![Value::Text("41abc".into())];
        assert_eq!(fast.eval(&row, &params).ok(), Some(Value::Bool(true)));
        let params = [Value::Text("42".into())];
        let fast = prepared(&shape, &[true], &params);
        let row = vec![Value::Int(41)];
        assert_eq!(fast.eval(&row, &params).ok(), Some(Value::Bool(false)));
        assert_eq!(
            shape.eval(&row, &[Value::Text("42".into())]).ok(),
            Some(Value::Bool(false))
        );
    }

    /// `prepared` leaves what the planner matches on alone where nothing is gained, and
    /// prepares each side of an AND chain on its own.
    #[test]
    fn only_numeric_parts_are_prepared() {
        let like = Scalar::Like {
            value: Box::new(Scalar::Column(1)),
            pattern: Box::new(Scalar::Literal(Value::Text("a%".into()))),
            escape: None,
            negated: false,
        };
        let num = Scalar::Binary(
            Box::new(Scalar::Column(0)),
            Op::Gt,
            Box::new(Scalar::Literal(Value::Int(3))),
        );
        let both = Scalar::Binary(Box::new(like), Op::And, Box::new(num));
        match prepared(&both, &[true, false], &[]) {
            Scalar::Binary(a, Op::And, b) => {
                assert!(matches!(*a, Scalar::Like { .. }));
                assert!(matches!(*b, Scalar::Numeric(_)));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            prepared(&Scalar::Column(2), &[true; 3], &[]),
            Scalar::Column(2)
        ));
        // A column that may hold text keeps its expression general.
        let on_text = Scalar::Binary(
            Box::new(Scalar::Column(1)),
            Op::Eq,
            Box::new(Scalar::Literal(Value::Int(3))),
        );
        assert!(matches!(
            prepared(&on_text, &[true, false], &[]),
            Scalar::Binary(..)
        ));
    }
}
