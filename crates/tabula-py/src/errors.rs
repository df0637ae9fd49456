//! `tabula::Error` as Python exceptions: one class per variant, same name, defined in
//! `tabula/_errors.py` (so that `except tabula.UniqueViolation` and `help()` work without
//! the extension), raised here with the engine's message and the fields it names.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString};
use tabula::{Error, Value};

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    Ok(ERRORS
        .get_or_try_init(py, || {
            PyModule::import(py, "tabula._errors").map(|m| m.unbind())
        })?
        .bind(py))
}

/// The class `tabula.<name>`, falling back to `tabula.Error`.
fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    let m = module(py)?;
    match m.getattr(name) {
        Ok(c) => Ok(c),
        Err(_) => m.getattr("Error"),
    }
}

/// A Python exception of class `tabula.<name>` carrying `message`, with `fields` set as
/// attributes (`e.table`, `e.column`, ...).
pub fn raise(py: Python<'_>, name: &str, message: &str, fields: &[(&str, Py<PyAny>)]) -> PyErr {
    let made = (|| -> PyResult<PyErr> {
        let exc = class(py, name)?.call1((message,))?;
        for (k, v) in fields {
            exc.setattr(*k, v)?;
        }
        Ok(PyErr::from_value(exc))
    })();
    made.unwrap_or_else(|e| e)
}

/// The variant's name: the Python class it becomes.
fn variant(e: &Error) -> &'static str {
    match e {
        Error::UniqueViolation { .. } => "UniqueViolation",
        Error::NotNull { .. } => "NotNull",
        Error::TypeMismatch { .. } => "TypeMismatch",
        Error::UnknownTable { .. } => "UnknownTable",
        Error::UnknownColumn { .. } => "UnknownColumn",
        Error::Check { .. } => "Check",
        Error::Sql { .. } => "Sql",
        Error::Unsupported { .. } => "Unsupported",
        Error::InvalidExpression { .. } => "InvalidExpression",
        Error::InvalidColumnUse { .. } => "InvalidColumnUse",
        Error::PrimaryKeyChanged { .. } => "PrimaryKeyChanged",
        Error::KeyExhausted { .. } => "KeyExhausted",
        Error::SchemaMismatch { .. } => "SchemaMismatch",
        Error::InvalidName { .. } => "InvalidName",
        Error::ForeignKey { .. } => "ForeignKey",
        Error::TableReferenced { .. } => "TableReferenced",
        Error::InTransaction { .. } => "InTransaction",
        Error::MigrationInTransaction { .. } => "MigrationInTransaction",
        Error::WrongDatabase { .. } => "WrongDatabase",
        Error::TransactionTooLarge { .. } => "TransactionTooLarge",
        Error::TableFull { .. } => "TableFull",
        Error::Aborted(_) => "Aborted",
        Error::Reentrant => "Reentrant",
        Error::NotADatabase { .. } => "NotADatabase",
        Error::ExportIntoDatabase { .. } => "ExportIntoDatabase",
        Error::Corrupt { .. } => "Corrupt",
        Error::Io { .. } => "Io",
        Error::Locked { .. } => "Locked",
        Error::ReadOnly { .. } => "ReadOnly",
        Error::Json { .. } => "Json",
        Error::Closed { .. } => "Closed",
        Error::Poisoned { .. } => "Poisoned",
        _ => "Error",
    }
}

/// A Python `str`, for an exception's attribute.
pub fn text(py: Python<'_>, s: &str) -> Py<PyAny> {
    PyString::new(py, s).into_any().unbind()
}

/// A Python `int`, for an exception's attribute.
fn number(py: Python<'_>, n: u64) -> Py<PyAny> {
    let Ok(n) = n.into_pyobject(py);
    n.into_any().unbind()
}

fn value(py: Python<'_>, v: &Value) -> Py<PyAny> {
    crate::convert::plain_to_py(py, v)
        .map(|o| o.unbind())
        .unwrap_or_else(|_| py.None())
}

/// The Python exception for an engine error. An `Aborted` error that carries a Python
/// exception (one raised by a `where=` lambda) becomes that exception again, unchanged.
pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    match parts(py, e) {
        Ok((name, message, fields)) => raise(py, name, &message, &fields),
        Err(original) => original,
    }
}

/// An exception's class name, message and attributes.
type Parts = (&'static str, String, Vec<(&'static str, Py<PyAny>)>);

/// The class, message and attributes of the exception for `e`; `Err` with the exception a
/// `where=` lambda raised, to be raised again as it is. A failed statement of a SQL text
/// of several is its own error's class, its message saying which statement it was.
fn parts(py: Python<'_>, e: Error) -> Result<Parts, PyErr> {
    let e = match e {
        Error::Aborted(inner) => match inner.downcast::<PyErr>() {
            Ok(original) => return Err(*original),
            Err(other) => Error::Aborted(other),
        },
        e @ Error::Statement { .. } => return statement_parts(py, e),
        other => other,
    };
    let mut fields: Vec<(&'static str, Py<PyAny>)> = Vec::new();
    match &e {
        Error::UniqueViolation {
            table,
            column,
            value: v,
        }
        | Error::TypeMismatch {
            table,
            column,
            value: v,
            ..
        }
        | Error::ForeignKey {
            table,
            column,
            value: v,
            ..
        } => {
            fields.push(("table", text(py, table)));
            fields.push(("column", text(py, column)));
            fields.push(("value", value(py, v)));
        }
        Error::NotNull { table, column }
        | Error::UnknownColumn { table, column }
        | Error::InvalidColumnUse { table, column, .. }
        | Error::PrimaryKeyChanged { table, column, .. }
        | Error::KeyExhausted { table, column, .. } => {
            fields.push(("table", text(py, table)));
            fields.push(("column", text(py, column)));
        }
        Error::Check {
            table,
            constraint,
            key,
            values,
        } => {
            fields.push(("table", text(py, table)));
            fields.push(("constraint", text(py, constraint)));
            fields.push(("value", value(py, key)));
            if let [(column, _)] = values.as_slice() {
                fields.push(("column", text(py, column)));
            }
            let read = PyDict::new(py);
            for (column, v) in values {
                // A dict of str keys and plain values: setting an item cannot fail.
                if read.set_item(column, value(py, v)).is_err() {
                    break;
                }
            }
            fields.push(("values", read.into_any().unbind()));
        }
        Error::UnknownTable { table }
        | Error::SchemaMismatch { table, .. }
        | Error::TableReferenced { table, .. }
        | Error::TableFull { table, .. }
        | Error::InTransaction { table }
        | Error::MigrationInTransaction { table, .. } => {
            fields.push(("table", text(py, table)));
        }
        Error::Sql { line, column, .. } => {
            fields.push(("line", number(py, *line)));
            fields.push(("sql_column", number(py, *column)));
        }
        _ => {}
    }
    let message = python_words(&e).unwrap_or_else(|| e.to_string());
    Ok((variant(&e), message, fields))
}

/// [`parts`] for a failed statement of a SQL text: its error's class and attributes (and
/// `statement`, its number), the message saying which statement it was.
fn statement_parts(py: Python<'_>, e: Error) -> Result<Parts, PyErr> {
    let whole = e.to_string();
    match e {
        Error::Statement {
            number: n, source, ..
        } => {
            let own = source.to_string();
            let prefix = whole.strip_suffix(own.as_str()).unwrap_or("").to_owned();
            let (name, message, mut fields) = parts(py, *source)?;
            fields.push(("statement", number(py, n as u64)));
            Ok((name, format!("{prefix}{message}"), fields))
        }
        other => parts(py, other),
    }
}

/// The engine's message where it names a Rust call, in this package's words instead.
fn python_words(e: &Error) -> Option<String> {
    match e {
        Error::InvalidColumnUse {
            table,
            column,
            reason,
        } if reason.starts_with("get_by needs a unique column") => Some(format!(
            "{table}.{column}: get_by needs a unique column (or the primary key); for \
             others use select(where=lambda r: r['{column}'] == value)"
        )),
        // From Python the engine says this only to a call made inside the `where=` function
        // of an update or delete, which holds the writer's turn (a transaction of the
        // package's own runs its calls for the thread that opened it).
        Error::InTransaction { table } => Some(format!(
            "{table}: this call would wait for the update or delete running on this thread \
             (its where= function is called while it holds the writer's turn); make the \
             call after it"
        )),
        Error::Locked { path } => Some(format!(
            "database {} is locked: it is open in another process (or another Database in \
             this one); Database(path=..., read_only=True) reads it beside that process, \
             which alone writes it",
            path.display()
        )),
        // The engine words a refused migration for the Rust derive.
        Error::SchemaMismatch { table, reason }
            if reason.contains(GONE_RUST) || reason.contains(WIDENINGS_RUST) =>
        {
            let mut reason = reason.replace(WIDENINGS_RUST, WIDENINGS_PYTHON);
            if reason.contains(GONE_RUST) {
                reason = reason.replace(GONE_RUST, "gone from the dataclass");
                reason = rename_hint(
                    &reason,
                    "#[table(dropped(\"",
                    "\"))]",
                    "@table(dropped=[\"",
                    "\"])",
                );
                reason = rename_hint(
                    &reason,
                    "#[column(renamed_from = \"",
                    "\")]",
                    "field(metadata={\"renamed_from\": \"",
                    "\"})",
                );
            }
            let table = table.clone();
            Some(Error::SchemaMismatch { table, reason }.to_string())
        }
        _ => None,
    }
}

/// The engine's refusal of a migration that leaves out a column, in Rust's words.
const GONE_RUST: &str = "gone from the struct";
/// The tail of the engine's refusal of a type change, in Rust's words and in Python's.
const WIDENINGS_RUST: &str = "f32 -> f64, integers to f64, T to Option<T>)";
const WIDENINGS_PYTHON: &str = "f32 -> f64, integers to f64, T to Optional[T])";

/// `text` with each `open NAME close` (a column name: letters, digits, `_`, all a name may
/// hold) written `new_open NAME new_close`; anything else, a stored value say, stays as it
/// is.
fn rename_hint(text: &str, open: &str, close: &str, new_open: &str, new_close: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(open) {
        out.push_str(&rest[..at]);
        let after = &rest[at + open.len()..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with(close) {
            out.push_str(new_open);
            out.push_str(&after[..name_len]);
            out.push_str(new_close);
            rest = &after[name_len + close.len()..];
        } else {
            out.push_str(open);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// `tabula.Error` with a message of this layer's own (a closed transaction, bad options).
pub fn plain(py: Python<'_>, message: &str) -> PyErr {
    raise(py, "Error", message, &[])
}

/// Maps engine results into Python results.
pub trait IntoPyResult<T> {
    /// The engine's error as its Python exception.
    fn py(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for tabula::Result<T> {
    fn py(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}

/// The error for a class whose table migrated, or was dropped and made again, after it
/// was bound.
pub fn stale(table: &str) -> Error {
    Error::SchemaMismatch {
        table: table.to_owned(),
        reason: "the table was migrated, or dropped and made again, after this class was \
                 bound to it; use the class that did that (or bind this one again)"
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::rename_hint;

    #[test]
    fn only_a_hint_around_a_name_is_rewritten() {
        let r = rename_hint(
            r##"column a is gone; name it in #[table(dropped("a"))], or a value "#[table(dropped("x y"))]""##,
            "#[table(dropped(\"",
            "\"))]",
            "@table(dropped=[\"",
            "\"])",
        );
        assert_eq!(
            r,
            r##"column a is gone; name it in @table(dropped=["a"]), or a value "#[table(dropped("x y"))]""##
        );
    }
}
