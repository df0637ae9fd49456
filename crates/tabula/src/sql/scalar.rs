//! Scalar SQL expressions: compiled once from `sqlparser`'s tree against a scope of columns,
//! then evaluated on rows of [`Value`]s with SQLite's semantics where SQL leaves room: null
//! propagates through arithmetic and comparisons, `AND`/`OR` are three-valued, integer
//! arithmetic that overflows becomes float arithmetic, integer division truncates and
//! dividing by zero is null. Comparisons give `Bool` (SQLite gives 1 and 0); `LIKE` is
//! case-sensitive (PostgreSQL's rule). The differences are listed in `docs/SQL.md`.

use std::cmp::Ordering;

use sqlparser::ast::{
    BinaryOperator, CastKind, DataType, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArguments, InTarget, UnaryOperator, Value as SqlValue, ValueWithSpan,
};
use sqlparser::tokenizer::Span;

use crate::error::{Error, Result};
use crate::record::Cols;
use crate::value::Value;

/// Resolves column names to positions in the rows an expression is evaluated on.
pub(crate) trait Scope {
    /// The position of `name` (qualified by a table or alias, or not); `Err` with the reason
    /// (unknown, ambiguous) otherwise.
    fn resolve(&self, qualifier: Option<&str>, name: &str) -> std::result::Result<usize, String>;

    /// The expression an output alias stands for, and the scope to compile it in, where the
    /// statement lets an item's alias be named inside an expression (`WHERE`, `HAVING`,
    /// `ORDER BY`, as SQLite does); a column of the same name wins.
    fn alias(&self, _name: &str) -> Option<(&Expr, &dyn Scope)> {
        None
    }
}

/// A compiled scalar expression.
#[derive(Debug, Clone)]
pub(crate) enum Scalar {
    Column(usize),
    Literal(Value),
    /// A placeholder, by its 0-based position among the statement's parameters.
    Param(usize),
    Binary(Box<Scalar>, Op, Box<Scalar>),
    Not(Box<Scalar>),
    Negate(Box<Scalar>),
    IsNull(Box<Scalar>, bool),
    Like {
        value: Box<Scalar>,
        pattern: Box<Scalar>,
        escape: Option<char>,
        negated: bool,
    },
    InList(Box<Scalar>, Vec<Scalar>, bool),
    Between(Box<Scalar>, Box<Scalar>, Box<Scalar>, bool),
    Case {
        operand: Option<Box<Scalar>>,
        branches: Vec<(Scalar, Scalar)>,
        otherwise: Option<Box<Scalar>>,
    },
    Cast(Box<Scalar>, CastTo),
    Call(Func, Vec<Scalar>),
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Concat,
}

/// The type a `CAST` converts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CastTo {
    Integer,
    Real,
    Text,
    Boolean,
}

/// A scalar function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Coalesce,
    NullIf,
    Lower,
    Upper,
    Length,
    Substr,
    Trim,
    Abs,
    Round,
}

/// Where an expression starts, for messages: 1-based line and column.
pub(crate) fn place(span: Span) -> (u64, u64) {
    (span.start.line.max(1), span.start.column.max(1))
}

/// `Error::Sql` at `span`.
pub(crate) fn sql_error(span: Span, reason: impl Into<String>) -> Error {
    let (line, column) = place(span);
    Error::Sql {
        line,
        column,
        reason: reason.into(),
    }
}

fn unsupported(feature: impl Into<String>) -> Error {
    Error::Unsupported {
        feature: feature.into(),
    }
}

/// Compiles `e` against `scope`. Placeholders (`?` or `$n`) are numbered in `params`: `?`
/// takes the next position, `$n` position `n - 1`.
pub(crate) fn compile(e: &Expr, scope: &dyn Scope, params: &mut Params<'_>) -> Result<Scalar> {
    use sqlparser::ast::Spanned;
    let span = e.span();
    let boxed = |e: &Expr, params: &mut Params<'_>| -> Result<Box<Scalar>> {
        Ok(Box::new(compile(e, scope, params)?))
    };
    Ok(match e {
        Expr::Identifier(id) => match scope.resolve(None, &id.value) {
            Ok(i) => Scalar::Column(i),
            Err(reason) => match scope.alias(&id.value) {
                Some((e, inner)) => compile(e, inner, params)?,
                None => return Err(sql_error(span, reason)),
            },
        },
        Expr::CompoundIdentifier(parts) => match parts.as_slice() {
            [q, c] => Scalar::Column(
                scope
                    .resolve(Some(&q.value), &c.value)
                    .map_err(|r| sql_error(span, r))?,
            ),
            _ => return Err(sql_error(span, format!("cannot resolve {e}"))),
        },
        Expr::Value(v) => literal(v, params)?,
        Expr::Nested(inner) => compile(inner, scope, params)?,
        Expr::UnaryOp { op, expr } => match op {
            UnaryOperator::Not => Scalar::Not(boxed(expr, params)?),
            UnaryOperator::Minus => match compile(expr, scope, params)? {
                Scalar::Literal(Value::Int(i)) => Scalar::Literal(
                    i.checked_neg()
                        .map_or(Value::Float(-(i as f64)), Value::Int),
                ),
                Scalar::Literal(Value::Float(f)) => Scalar::Literal(Value::Float(-f)),
                s => Scalar::Negate(Box::new(s)),
            },
            UnaryOperator::Plus => compile(expr, scope, params)?,
            other => return Err(unsupported(format!("the unary operator {other}"))),
        },
        Expr::BinaryOp { left, op, right } => {
            let op = match op {
                BinaryOperator::Plus => Op::Add,
                BinaryOperator::Minus => Op::Sub,
                BinaryOperator::Multiply => Op::Mul,
                BinaryOperator::Divide => Op::Div,
                BinaryOperator::Modulo => Op::Rem,
                BinaryOperator::Eq => Op::Eq,
                BinaryOperator::NotEq => Op::Ne,
                BinaryOperator::Lt => Op::Lt,
                BinaryOperator::LtEq => Op::Le,
                BinaryOperator::Gt => Op::Gt,
                BinaryOperator::GtEq => Op::Ge,
                BinaryOperator::And => Op::And,
                BinaryOperator::Or => Op::Or,
                BinaryOperator::StringConcat => Op::Concat,
                other => return Err(unsupported(format!("the operator {other}"))),
            };
            Scalar::Binary(boxed(left, params)?, op, boxed(right, params)?)
        }
        Expr::IsNull(x) => Scalar::IsNull(boxed(x, params)?, false),
        Expr::IsNotNull(x) => Scalar::IsNull(boxed(x, params)?, true),
        Expr::Like {
            negated,
            expr,
            pattern,
            escape_char,
            any: false,
        } => {
            let escape_value = match escape_char.as_deref() {
                None => None,
                Some(Expr::Value(v)) => Some(literal_value(v)),
                Some(_) => Some(None),
            };
            let escape = match escape_value {
                None => None,
                Some(v) => match v {
                    Some(Value::Text(t)) if t.chars().count() == 1 => t.chars().next(),
                    _ => return Err(sql_error(span, "ESCAPE takes a single character in quotes")),
                },
            };
            Scalar::Like {
                value: boxed(expr, params)?,
                pattern: boxed(pattern, params)?,
                escape,
                negated: *negated,
            }
        }
        Expr::In {
            expr,
            target: InTarget::List(list),
            negated,
            ..
        } => Scalar::InList(
            boxed(expr, params)?,
            list.iter()
                .map(|x| compile(x, scope, params))
                .collect::<Result<_>>()?,
            *negated,
        ),
        Expr::Between {
            expr,
            negated,
            low,
            high,
        } => Scalar::Between(
            boxed(expr, params)?,
            boxed(low, params)?,
            boxed(high, params)?,
            *negated,
        ),
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => Scalar::Case {
            operand: operand.as_ref().map(|o| boxed(o, params)).transpose()?,
            branches: conditions
                .iter()
                .map(|w| {
                    Ok((
                        compile(&w.condition, scope, params)?,
                        compile(&w.result, scope, params)?,
                    ))
                })
                .collect::<Result<_>>()?,
            otherwise: else_result.as_ref().map(|o| boxed(o, params)).transpose()?,
        },
        Expr::Cast {
            kind: CastKind::Cast,
            expr,
            data_type,
            format: None,
        } => Scalar::Cast(boxed(expr, params)?, cast_to(data_type)?),
        Expr::Function(f) => function(f, scope, params)?,
        Expr::Trim {
            expr,
            trim_where: None,
            trim_what,
            trim_characters: None,
        } => {
            let mut args = vec![compile(expr, scope, params)?];
            if let Some(w) = trim_what {
                args.push(compile(w, scope, params)?);
            }
            Scalar::Call(Func::Trim, args)
        }
        Expr::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            let mut args = vec![compile(expr, scope, params)?];
            args.push(match substring_from {
                Some(f) => compile(f, scope, params)?,
                None => Scalar::Literal(Value::Int(1)),
            });
            if let Some(n) = substring_for {
                args.push(compile(n, scope, params)?);
            }
            Scalar::Call(Func::Substr, args)
        }
        Expr::In {
            expr,
            target: InTarget::Subquery(q),
            negated,
            ..
        } => {
            let values = one_column(run_subquery(q, params)?, span)?;
            Scalar::InList(
                boxed(expr, params)?,
                values.into_iter().map(Scalar::Literal).collect(),
                *negated,
            )
        }
        Expr::Exists { subquery, negated } => {
            let rows = run_subquery(subquery, params)?;
            Scalar::Literal(Value::Bool(rows.is_empty() == *negated))
        }
        Expr::Subquery(q) => {
            let values = one_column(run_subquery(q, params)?, span)?;
            Scalar::Literal(values.into_iter().next().unwrap_or(Value::Null))
        }
        Expr::In { .. } => return Err(unsupported("this IN target")),
        other => return Err(unsupported(format!("the expression {other}"))),
    })
}

/// What compiling a statement's expressions collects: its placeholders, numbered as they
/// are met, and (where aggregates are allowed) the aggregate calls.
#[derive(Default)]
pub(crate) struct Params<'s> {
    /// Positions given to `?` so far.
    next: usize,
    /// The aggregate calls met, when aggregates are allowed: each compiles to the column
    /// `agg_base + its index` of the row a group is evaluated on.
    pub(crate) aggs: Option<Vec<AggCall>>,
    pub(crate) agg_base: usize,
    /// Runs an uncorrelated subquery (its rows), where the statement allows them.
    pub(crate) subquery: Option<Subquery<'s>>,
}

/// Runs a subquery, for [`Params::subquery`]: its result rows.
impl<'s> Params<'s> {
    /// A compilation where uncorrelated subqueries run through `run`.
    pub(crate) fn with_subqueries(run: Subquery<'s>) -> Self {
        Params {
            subquery: Some(run),
            ..Params::default()
        }
    }
}

pub(crate) type Subquery<'s> = &'s dyn Fn(&sqlparser::ast::Query) -> Result<Vec<Vec<Value>>>;

/// The rows of an uncorrelated subquery, or why there are none to have.
fn run_subquery(q: &sqlparser::ast::Query, params: &Params<'_>) -> Result<Vec<Vec<Value>>> {
    match params.subquery {
        Some(run) => run(q),
        None => Err(unsupported("a subquery here")),
    }
}

/// The one column of a subquery's rows; `Err` if it has another number of columns.
fn one_column(rows: Vec<Vec<Value>>, span: Span) -> Result<Vec<Value>> {
    rows.into_iter()
        .map(|mut r| {
            if r.len() == 1 {
                Ok(r.pop().unwrap_or(Value::Null))
            } else {
                Err(sql_error(
                    span,
                    "a subquery used as a value returns one column",
                ))
            }
        })
        .collect()
}

/// An aggregate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggFunc {
    Count,
    Sum,
    Total,
    Avg,
    Min,
    Max,
}

/// One aggregate call: `COUNT(*)` has no argument.
#[derive(Debug, Clone)]
pub(crate) struct AggCall {
    pub(crate) func: AggFunc,
    pub(crate) distinct: bool,
    pub(crate) arg: Option<Scalar>,
    /// `FILTER (WHERE …)`: only rows for which it is true are aggregated.
    pub(crate) filter: Option<Scalar>,
}

fn literal(v: &ValueWithSpan, params: &mut Params<'_>) -> Result<Scalar> {
    if let SqlValue::Placeholder(p) = &v.value {
        let at = if p == "?" {
            let at = params.next;
            params.next += 1;
            at
        } else {
            match p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) {
                Some(n) if n >= 1 => n - 1,
                _ => {
                    return Err(sql_error(
                        v.span,
                        format!("placeholder {p}: use ? or $1, $2, ..."),
                    ))
                }
            }
        };
        return Ok(Scalar::Param(at));
    }
    literal_value(v)
        .map(Scalar::Literal)
        .ok_or_else(|| unsupported(format!("the literal {v}")))
}

fn literal_value(v: &ValueWithSpan) -> Option<Value> {
    Some(match &v.value {
        SqlValue::Number(n, _) => match n.parse::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(n.parse::<f64>().ok()?),
        },
        SqlValue::SingleQuotedString(s) => Value::Text(s.clone()),
        SqlValue::Boolean(b) => Value::Bool(*b),
        SqlValue::Null => Value::Null,
        _ => return None,
    })
}

fn cast_to(t: &DataType) -> Result<CastTo> {
    let name = t.to_string().to_ascii_uppercase();
    let base = name.split('(').next().unwrap_or("").trim().to_owned();
    Ok(match base.as_str() {
        "INT" | "INTEGER" | "BIGINT" | "SMALLINT" | "TINYINT" | "INT8" | "INT4" | "INT2" => {
            CastTo::Integer
        }
        "REAL" | "FLOAT" | "DOUBLE" | "DOUBLE PRECISION" | "FLOAT8" | "FLOAT4" | "NUMERIC"
        | "DECIMAL" => CastTo::Real,
        "TEXT" | "VARCHAR" | "CHAR" | "STRING" | "CHARACTER VARYING" => CastTo::Text,
        "BOOL" | "BOOLEAN" => CastTo::Boolean,
        _ => return Err(unsupported(format!("CAST to {name}"))),
    })
}

fn function(f: &Function, scope: &dyn Scope, params: &mut Params<'_>) -> Result<Scalar> {
    use sqlparser::ast::Spanned;
    let name = f.name.to_string().to_ascii_lowercase();
    let func = match name.as_str() {
        "coalesce" | "ifnull" => Func::Coalesce,
        "nullif" => Func::NullIf,
        "lower" => Func::Lower,
        "upper" => Func::Upper,
        "length" => Func::Length,
        "substr" | "substring" => Func::Substr,
        "trim" => Func::Trim,
        "abs" => Func::Abs,
        "round" => Func::Round,
        "count" | "sum" | "avg" | "min" | "max" | "total" => {
            return aggregate(f, &name, scope, params);
        }
        _ if f.over.is_some() => return Err(unsupported("window functions")),
        _ => return Err(unsupported(format!("the function {name}"))),
    };
    if f.over.is_some() {
        return Err(unsupported("window functions"));
    }
    let args: Vec<&Expr> = match &f.args {
        FunctionArguments::None => Vec::new(),
        FunctionArguments::List(list) => list
            .args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e),
                _ => Err(sql_error(f.span(), format!("{name} takes plain arguments"))),
            })
            .collect::<Result<_>>()?,
        FunctionArguments::Subquery(_) => return Err(unsupported("a subquery here")),
    };
    let arity_ok = match func {
        Func::Coalesce => args.len() >= 2,
        Func::NullIf => args.len() == 2,
        Func::Lower | Func::Upper | Func::Length | Func::Abs => args.len() == 1,
        Func::Substr => (2..=3).contains(&args.len()),
        Func::Trim | Func::Round => (1..=2).contains(&args.len()),
    };
    if !arity_ok {
        return Err(sql_error(
            f.span(),
            format!("wrong number of arguments to {name}()"),
        ));
    }
    Ok(Scalar::Call(
        func,
        args.into_iter()
            .map(|a| compile(a, scope, params))
            .collect::<Result<_>>()?,
    ))
}

/// An aggregate call, where the statement allows them: compiled into a column of the group
/// row, its argument kept for the grouping to evaluate.
fn aggregate(
    f: &Function,
    name: &str,
    scope: &dyn Scope,
    params: &mut Params<'_>,
) -> Result<Scalar> {
    use sqlparser::ast::{DuplicateTreatment, Spanned};
    if f.over.is_some() {
        return Err(unsupported("window functions"));
    }
    if params.aggs.is_none() {
        return Err(sql_error(
            f.span(),
            format!("the aggregate {name}() is not allowed here"),
        ));
    }
    let func = match name {
        "count" => AggFunc::Count,
        "sum" => AggFunc::Sum,
        "total" => AggFunc::Total,
        "avg" => AggFunc::Avg,
        "min" => AggFunc::Min,
        _ => AggFunc::Max,
    };
    let FunctionArguments::List(list) = &f.args else {
        return Err(sql_error(f.span(), format!("{name}() takes one argument")));
    };
    let distinct = matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct));
    let arg = match list.args.as_slice() {
        [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)]
            if func == AggFunc::Count && !distinct =>
        {
            None
        }
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))] => {
            // No aggregate inside an aggregate.
            let outer = params.aggs.take();
            let arg = compile(e, scope, params);
            params.aggs = outer;
            Some(arg?)
        }
        _ => return Err(sql_error(f.span(), format!("{name}() takes one argument"))),
    };
    if !list.clauses.is_empty() || !f.within_group.is_empty() || f.null_treatment.is_some() {
        return Err(unsupported(format!(
            "{name}() with ORDER BY, WITHIN GROUP or a null treatment"
        )));
    }
    // FILTER (WHERE …): the rows the aggregate takes.
    let filter = match &f.filter {
        Some(w) => {
            let outer = params.aggs.take();
            let c = compile(w, scope, params);
            params.aggs = outer;
            Some(c?)
        }
        None => None,
    };
    let list = params.aggs.get_or_insert_with(Vec::new);
    list.push(AggCall {
        func,
        distinct,
        arg,
        filter,
    });
    Ok(Scalar::Column(params.agg_base + list.len() - 1))
}

impl Scalar {
    /// Evaluates the expression on `row` with the statement's `params`.
    pub(crate) fn eval(&self, row: &[Value], params: &[Value]) -> Result<Value> {
        self.eval_in(row, params)
    }

    /// Marks in `used` every column the expression reads (positions beyond it, such as an
    /// aggregate's value after a group's row, are left alone).
    pub(crate) fn mark_columns(&self, used: &mut [bool]) {
        match self {
            Scalar::Column(i) => {
                if let Some(u) = used.get_mut(*i) {
                    *u = true;
                }
            }
            Scalar::Literal(_) | Scalar::Param(_) => {}
            Scalar::Binary(a, _, b) => {
                a.mark_columns(used);
                b.mark_columns(used);
            }
            Scalar::Not(x) | Scalar::Negate(x) | Scalar::IsNull(x, _) | Scalar::Cast(x, _) => {
                x.mark_columns(used)
            }
            Scalar::Like { value, pattern, .. } => {
                value.mark_columns(used);
                pattern.mark_columns(used);
            }
            Scalar::InList(x, list, _) => {
                x.mark_columns(used);
                list.iter().for_each(|e| e.mark_columns(used));
            }
            Scalar::Between(x, lo, hi, _) => {
                x.mark_columns(used);
                lo.mark_columns(used);
                hi.mark_columns(used);
            }
            Scalar::Case {
                operand,
                branches,
                otherwise,
            } => {
                for e in operand.iter().chain(otherwise.iter()) {
                    e.mark_columns(used);
                }
                for (w, t) in branches {
                    w.mark_columns(used);
                    t.mark_columns(used);
                }
            }
            Scalar::Call(_, args) => args.iter().for_each(|e| e.mark_columns(used)),
        }
    }

    /// [`Scalar::eval`] on a stored row, read in place.
    pub(crate) fn eval_cols(&self, row: &dyn Cols, params: &[Value]) -> Result<Value> {
        self.eval_in(row, params)
    }

    fn eval_in<C: Cols + ?Sized>(&self, row: &C, params: &[Value]) -> Result<Value> {
        Ok(match self {
            Scalar::Column(i) => row.value_at(*i).to_owned(),
            Scalar::Literal(v) => v.clone(),
            Scalar::Param(i) => params.get(*i).cloned().unwrap_or(Value::Null),
            Scalar::Binary(a, Op::And, b) => {
                let x = truth(&a.eval_in(row, params)?);
                if x == Some(false) {
                    return Ok(Value::Bool(false));
                }
                match (x, truth(&b.eval_in(row, params)?)) {
                    (_, Some(false)) => Value::Bool(false),
                    (Some(true), Some(true)) => Value::Bool(true),
                    _ => Value::Null,
                }
            }
            Scalar::Binary(a, Op::Or, b) => {
                let x = truth(&a.eval_in(row, params)?);
                if x == Some(true) {
                    return Ok(Value::Bool(true));
                }
                match (x, truth(&b.eval_in(row, params)?)) {
                    (_, Some(true)) => Value::Bool(true),
                    (Some(false), Some(false)) => Value::Bool(false),
                    _ => Value::Null,
                }
            }
            Scalar::Binary(a, op, b) => {
                binary(*op, a.eval_in(row, params)?, b.eval_in(row, params)?)?
            }
            Scalar::Not(x) => match truth(&x.eval_in(row, params)?) {
                Some(b) => Value::Bool(!b),
                None => Value::Null,
            },
            Scalar::Negate(x) => match x.eval_in(row, params)? {
                Value::Int(i) => i
                    .checked_neg()
                    .map_or(Value::Float(-(i as f64)), Value::Int),
                Value::Float(f) => Value::Float(-f),
                Value::Bool(b) => Value::Int(-i64::from(b)),
                Value::Null => Value::Null,
                Value::Text(t) => match numeric(&t) {
                    Value::Int(i) => i
                        .checked_neg()
                        .map_or(Value::Float(-(i as f64)), Value::Int),
                    Value::Float(f) => Value::Float(-f),
                    _ => Value::Int(0),
                },
            },
            Scalar::IsNull(x, negated) => {
                Value::Bool(x.eval_in(row, params)?.is_null() != *negated)
            }
            Scalar::Like {
                value,
                pattern,
                escape,
                negated,
            } => {
                let v = value.eval_in(row, params)?;
                let p = pattern.eval_in(row, params)?;
                if v.is_null() || p.is_null() {
                    Value::Null
                } else {
                    let hit = crate::expr::like_text(&text_of(&v), &text_of(&p), *escape);
                    Value::Bool(hit != *negated)
                }
            }
            Scalar::InList(x, list, negated) => {
                let v = x.eval_in(row, params)?;
                // Nothing is in an empty list, not even null.
                if list.is_empty() {
                    return Ok(Value::Bool(*negated));
                }
                if v.is_null() {
                    return Ok(Value::Null);
                }
                let mut saw_null = false;
                for item in list {
                    let w = item.eval_in(row, params)?;
                    match compare(&v, &w) {
                        Some(Ordering::Equal) => return Ok(Value::Bool(!*negated)),
                        None => saw_null = true,
                        _ => {}
                    }
                }
                if saw_null {
                    Value::Null
                } else {
                    Value::Bool(*negated)
                }
            }
            Scalar::Between(x, lo, hi, negated) => {
                let v = x.eval_in(row, params)?;
                let ge = compare(&v, &lo.eval_in(row, params)?).map(|o| o != Ordering::Less);
                let le = compare(&v, &hi.eval_in(row, params)?).map(|o| o != Ordering::Greater);
                let inside = match (ge, le) {
                    (Some(false), _) | (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                };
                match inside {
                    Some(b) => Value::Bool(b != *negated),
                    None => Value::Null,
                }
            }
            Scalar::Case {
                operand,
                branches,
                otherwise,
            } => {
                let base = operand
                    .as_ref()
                    .map(|o| o.eval_in(row, params))
                    .transpose()?;
                for (when, then) in branches {
                    let w = when.eval_in(row, params)?;
                    let hit = match &base {
                        Some(b) => compare(b, &w) == Some(Ordering::Equal),
                        None => truth(&w) == Some(true),
                    };
                    if hit {
                        return then.eval_in(row, params);
                    }
                }
                match otherwise {
                    Some(o) => o.eval_in(row, params)?,
                    None => Value::Null,
                }
            }
            Scalar::Cast(x, to) => cast(x.eval_in(row, params)?, *to),
            Scalar::Call(f, args) => {
                let vals: Vec<Value> = args
                    .iter()
                    .map(|a| a.eval_in(row, params))
                    .collect::<Result<_>>()?;
                call(*f, vals)?
            }
        })
    }
}

/// SQL truth: null is unknown; numbers are true unless zero; text is read as a number.
pub(crate) fn truth(v: &Value) -> Option<bool> {
    match v {
        Value::Null => None,
        Value::Bool(b) => Some(*b),
        Value::Int(i) => Some(*i != 0),
        Value::Float(f) => Some(*f != 0.0),
        Value::Text(t) => match numeric(t) {
            Value::Int(i) => Some(i != 0),
            Value::Float(f) => Some(f != 0.0),
            _ => Some(false),
        },
    }
}

/// The longest numeric prefix of a text, as SQLite reads text in arithmetic (0 if none).
pub(crate) fn numeric(t: &str) -> Value {
    let t = t.trim_start();
    let bytes = t.as_bytes();
    let mut end = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        end = 1;
    }
    let digits_start = end;
    while end < bytes.len() && bytes[end].is_ascii_digit() {
        end += 1;
    }
    let int_end = end;
    if end < bytes.len() && bytes[end] == b'.' {
        end += 1;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
    }
    if end > digits_start && end < bytes.len() && matches!(bytes[end], b'e' | b'E') {
        let mut e = end + 1;
        if matches!(bytes.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        let exp_digits = e;
        while e < bytes.len() && bytes[e].is_ascii_digit() {
            e += 1;
        }
        if e > exp_digits {
            end = e;
        }
    }
    let s = &t[..end];
    if end == int_end {
        if let Ok(i) = s.parse::<i64>() {
            return Value::Int(i);
        }
    }
    s.parse::<f64>().map_or(Value::Int(0), Value::Float)
}

/// A value as a number for arithmetic (SQLite's rule: text is read as its numeric prefix).
fn as_number(v: Value) -> Value {
    match v {
        Value::Bool(b) => Value::Int(i64::from(b)),
        Value::Text(t) => numeric(&t),
        v => v,
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::Text(t) => t.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => i64::from(*b).to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => float_text(*f),
    }
}

/// A float as SQLite prints it: 15 significant digits, always with a decimal point.
fn float_text(f: f64) -> String {
    if f.is_nan() {
        return String::new();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Inf" } else { "-Inf" }.to_owned();
    }
    let s = format!("{}", f);
    if s.contains('.') || s.contains('e') || s.contains("inf") {
        s
    } else {
        format!("{s}.0")
    }
}

/// Compares two values as SQL does: `None` if either is null. Numbers compare by value
/// across integer and float; numbers sort before text; bools compare as 0 and 1.
pub(crate) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    let num = |v: &Value| match v {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    };
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => None,
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Text(x), Value::Text(y)) => Some(x.as_str().cmp(y.as_str())),
        (Value::Text(_), _) => Some(Ordering::Greater),
        (_, Value::Text(_)) => Some(Ordering::Less),
        (Value::Int(x), Value::Float(y)) => Some(cmp_int_float(*x, *y)),
        (Value::Float(x), Value::Int(y)) => Some(cmp_int_float(*y, *x).reverse()),
        _ => num(a)?.partial_cmp(&num(b)?).or(Some(Ordering::Equal)),
    }
}

/// An integer against a float, exactly (no rounding of large integers).
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

fn binary(op: Op, a: Value, b: Value) -> Result<Value> {
    if a.is_null() || b.is_null() {
        return Ok(Value::Null);
    }
    let cmp = |want: fn(Ordering) -> bool| -> Value {
        compare(&a, &b).map_or(Value::Null, |o| Value::Bool(want(o)))
    };
    Ok(match op {
        Op::Eq => cmp(|o| o == Ordering::Equal),
        Op::Ne => cmp(|o| o != Ordering::Equal),
        Op::Lt => cmp(|o| o == Ordering::Less),
        Op::Le => cmp(|o| o != Ordering::Greater),
        Op::Gt => cmp(|o| o == Ordering::Greater),
        Op::Ge => cmp(|o| o != Ordering::Less),
        Op::Concat => Value::Text(text_of(&a) + &text_of(&b)),
        // Three-valued, short-circuiting: evaluated in `Scalar::eval`, never here.
        Op::And | Op::Or => Value::Null,
        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Rem => {
            arithmetic(op, as_number(a), as_number(b))
        }
    })
}

fn arithmetic(op: Op, a: Value, b: Value) -> Value {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => {
            let exact = match op {
                Op::Add => x.checked_add(y),
                Op::Sub => x.checked_sub(y),
                Op::Mul => x.checked_mul(y),
                Op::Div if y == 0 => return Value::Null,
                Op::Div => x.checked_div(y),
                Op::Rem if y == 0 => return Value::Null,
                Op::Rem => Some(x.checked_rem(y).unwrap_or(0)),
                _ => None,
            };
            match exact {
                Some(v) => Value::Int(v),
                None => arithmetic(op, Value::Float(x as f64), Value::Float(y as f64)),
            }
        }
        (x, y) => {
            let (Some(x), Some(y)) = (x.as_f64(), y.as_f64()) else {
                return Value::Null;
            };
            match op {
                Op::Add => Value::Float(x + y),
                Op::Sub => Value::Float(x - y),
                Op::Mul => Value::Float(x * y),
                Op::Div if y == 0.0 => Value::Null,
                Op::Div => Value::Float(x / y),
                Op::Rem => {
                    // SQLite takes the remainder of the integer parts, as a float.
                    let (xi, yi) = (x.trunc(), y.trunc());
                    if yi == 0.0 {
                        Value::Null
                    } else {
                        Value::Float(xi % yi)
                    }
                }
                _ => Value::Null,
            }
        }
    }
}

fn cast(v: Value, to: CastTo) -> Value {
    match (to, v) {
        (_, Value::Null) => Value::Null,
        (CastTo::Text, v) => Value::Text(text_of(&v)),
        (CastTo::Integer, v) => match as_number(v) {
            Value::Int(i) => Value::Int(i),
            Value::Float(f) => Value::Int(if f.is_nan() {
                0
            } else {
                // Saturating, as SQLite does.
                f as i64
            }),
            _ => Value::Int(0),
        },
        (CastTo::Real, v) => match as_number(v) {
            Value::Int(i) => Value::Float(i as f64),
            Value::Float(f) => Value::Float(f),
            _ => Value::Float(0.0),
        },
        (CastTo::Boolean, v) => truth(&v).map_or(Value::Null, Value::Bool),
    }
}

fn call(f: Func, mut args: Vec<Value>) -> Result<Value> {
    let first_null = args.first().is_none_or(Value::is_null);
    Ok(match f {
        Func::Coalesce => args
            .into_iter()
            .find(|v| !v.is_null())
            .unwrap_or(Value::Null),
        Func::NullIf => {
            let b = args.pop().unwrap_or(Value::Null);
            let a = args.pop().unwrap_or(Value::Null);
            if compare(&a, &b) == Some(Ordering::Equal) {
                Value::Null
            } else {
                a
            }
        }
        _ if first_null => Value::Null,
        Func::Lower => Value::Text(text_of(&args[0]).to_lowercase()),
        Func::Upper => Value::Text(text_of(&args[0]).to_uppercase()),
        Func::Length => Value::Int(text_of(&args[0]).chars().count() as i64),
        Func::Abs => match as_number(args.swap_remove(0)) {
            Value::Int(i) => Value::Int(i.checked_abs().ok_or_else(|| Error::Sql {
                line: 0,
                column: 0,
                reason: "integer overflow in abs()".into(),
            })?),
            Value::Float(x) => Value::Float(x.abs()),
            v => v,
        },
        Func::Round => {
            let digits = match args.get(1) {
                Some(Value::Null) => return Ok(Value::Null),
                Some(d) => as_number(d.clone()).as_i64().unwrap_or(0).clamp(0, 30),
                None => 0,
            };
            match as_number(args.swap_remove(0)).as_f64() {
                Some(x) => {
                    let scale = 10f64.powi(digits as i32);
                    let r = (x * scale).round() / scale;
                    Value::Float(if r.is_finite() { r } else { x })
                }
                None => Value::Null,
            }
        }
        Func::Trim => {
            let s = text_of(&args[0]);
            match args.get(1) {
                None => Value::Text(s.trim_matches(' ').to_owned()),
                Some(Value::Null) => Value::Null,
                Some(chars) => {
                    let set: Vec<char> = text_of(chars).chars().collect();
                    Value::Text(s.trim_matches(|c| set.contains(&c)).to_owned())
                }
            }
        }
        Func::Substr => {
            if args[1..].iter().any(Value::is_null) {
                return Ok(Value::Null);
            }
            let chars: Vec<char> = text_of(&args[0]).chars().collect();
            let len = chars.len() as i64;
            let mut p1 = as_number(args[1].clone()).as_i64().unwrap_or(0);
            // SQLite's own algorithm (func.c, substrFunc), in characters.
            let (mut p2, neg) = match args.get(2) {
                Some(c) => {
                    let n = as_number(c.clone()).as_i64().unwrap_or(0);
                    (n.saturating_abs(), n < 0)
                }
                None => (i64::from(i32::MAX), false),
            };
            if p1 < 0 {
                p1 += len;
                if p1 < 0 {
                    p2 = (p2 + p1).max(0);
                    p1 = 0;
                }
            } else if p1 > 0 {
                p1 -= 1;
            } else if p2 > 0 {
                p2 -= 1;
            }
            if neg {
                p1 -= p2;
                if p1 < 0 {
                    p2 += p1;
                    p1 = 0;
                }
            }
            if p1.saturating_add(p2) > len {
                p2 = (len - p1).max(0);
            }
            let from = p1.clamp(0, len) as usize;
            let to = (p1 + p2).clamp(0, len) as usize;
            Value::Text(if from < to {
                chars[from..to].iter().collect()
            } else {
                String::new()
            })
        }
    })
}
