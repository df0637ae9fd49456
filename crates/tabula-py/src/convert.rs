//! Values between Python and the engine: `None`, `bool`, `int`, `float`, `str` map onto
//! [`Value`]'s variants; a `json` column holds any JSON-able Python value (`dict`, `list`,
//! ...) as its JSON text, and reads back as what `json.loads` makes of it.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use tabula::{ColumnType, Schema, Value};

use crate::errors;

static JSON: PyOnceLock<(Py<PyAny>, Py<PyAny>)> = PyOnceLock::new();

/// `json.dumps` (compact, no NaN) and `json.loads`.
fn json(py: Python<'_>) -> PyResult<&(Py<PyAny>, Py<PyAny>)> {
    JSON.get_or_try_init(py, || {
        let m = PyModule::import(py, "json")?;
        let dumps = m.getattr("dumps")?;
        let kw = PyDict::new(py);
        kw.set_item("separators", (",", ":"))?;
        kw.set_item("ensure_ascii", false)?;
        kw.set_item("allow_nan", false)?;
        let functools = PyModule::import(py, "functools")?;
        let compact = functools.getattr("partial")?.call((dumps,), Some(&kw))?;
        Ok((compact.unbind(), m.getattr("loads")?.unbind()))
    })
}

/// What the Python layer needs to know of a table's columns, in the schema's order.
pub struct Cols {
    /// The table's name, for messages.
    pub table: String,
    /// Interned column names: the keys of every row dict.
    pub names: Vec<Py<PyString>>,
    /// A dict of every column name, in column order, to `None`: each row's dict is a copy
    /// of it with the values replaced. Never handed out, so never changed.
    ///
    /// CPython copies a dict without deleted entries by copying its table whole, and
    /// replacing a value needs no new slot, so this is faster than inserting the names
    /// one by one into a new dict (which grows its table as it goes).
    template: Py<PyDict>,
    /// Whether each column is `json`.
    pub json: Vec<bool>,
    /// Whether each column's numbers may be shared between rows (see [`Shared`]): an
    /// integer or float column that is neither the key nor unique, whose values repeat.
    shared: Vec<bool>,
    /// The Python type a `json` column's dataclass field declares (`dict` or `list`), which
    /// its values must be; `None` for any JSON-able value (a table SQL made).
    pub containers: Vec<Option<Container>>,
    /// The schema, for type names and coercion.
    pub schema: Schema,
    /// The primary key's position when the engine assigns it (an integer key): `None`
    /// given for it means "assign one", as leaving it out does.
    pub auto_key_position: Option<usize>,
}

/// What a `json` column's dataclass field holds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Dict,
    List,
}

impl Container {
    fn holds(self, obj: &Bound<'_, PyAny>) -> bool {
        match self {
            Container::Dict => obj.cast::<PyDict>().is_ok(),
            Container::List => obj.cast::<pyo3::types::PyList>().is_ok(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Container::Dict => "dict",
            Container::List => "list",
        }
    }
}

impl Cols {
    /// The columns of `schema`, a `json` column's values held to the container its field
    /// declares (`containers`: column name and `"dict"` or `"list"`).
    pub fn with_containers(
        py: Python<'_>,
        schema: &Schema,
        containers: &[(String, String)],
    ) -> Cols {
        let mut cols = Cols::new(py, schema);
        for (name, kind) in containers {
            let kind = match kind.as_str() {
                "dict" => Container::Dict,
                "list" => Container::List,
                _ => continue,
            };
            if let Some(i) = schema.position(name).filter(|&i| cols.json[i]) {
                cols.containers[i] = Some(kind);
            }
        }
        cols
    }

    /// The columns of `schema`.
    pub fn new(py: Python<'_>, schema: &Schema) -> Cols {
        let names: Vec<Py<PyString>> = schema
            .columns
            .iter()
            .map(|c| PyString::intern(py, &c.name).unbind())
            .collect();
        let template = PyDict::new(py);
        for name in &names {
            // Setting a str key in a new dict fails only without memory; a name missing
            // from the template is then inserted by `fill`, as into a new dict.
            let _ = template.set_item(name.bind(py), py.None());
        }
        Cols {
            containers: vec![None; schema.columns.len()],
            table: schema.table.clone(),
            template: template.unbind(),
            names,
            shared: schema
                .columns
                .iter()
                .map(|c| !c.primary_key && !c.unique && (c.ty.is_int() || c.ty.is_float()))
                .collect(),
            json: schema
                .columns
                .iter()
                .map(|c| c.ty == ColumnType::Json)
                .collect(),
            schema: schema.clone(),
            auto_key_position: schema.auto_increment().then(|| schema.primary_key()),
        }
    }

    /// One stored row as a dict of column name to value.
    pub fn dict<'py>(&self, py: Python<'py>, values: &[Value]) -> PyResult<Bound<'py, PyDict>> {
        let d = if values.len() == self.names.len() {
            self.template.bind(py).copy()?
        } else {
            // Only a row of every column may start from the template, whose every name
            // it replaces.
            PyDict::new(py)
        };
        self.fill(&d, values)?;
        Ok(d)
    }

    /// Sets every column of a stored row in `d`, in column order.
    pub fn fill(&self, d: &Bound<'_, PyDict>, values: &[Value]) -> PyResult<()> {
        let py = d.py();
        let columns = self.names.iter().zip(&self.json).zip(&self.shared);
        for (((name, json), shared), v) in columns.zip(values) {
            let v = if *shared {
                Shared::number(py, v)?
            } else {
                column_to_py(py, v, *json)?
            };
            d.set_item(name.bind(py), v)?;
        }
        Ok(())
    }

    /// A Python value for column `name` (which may not exist: the engine then names it
    /// as unknown) as an engine value, or `TypeMismatch` naming table, column and value.
    pub fn value(&self, name: &str, obj: &Bound<'_, PyAny>) -> PyResult<Value> {
        match self.schema.position(name) {
            Some(i) => self.value_at(i, obj),
            None => plain_value(obj).map_err(|why| self.mismatch(obj.py(), name, obj, &why)),
        }
    }

    /// `value`, then coerced to the column's type as an insert would (so a later SQL
    /// statement sees a value of the column's own type).
    pub fn coerced(&self, name: &str, obj: &Bound<'_, PyAny>) -> PyResult<Value> {
        let py = obj.py();
        let v = self.value(name, obj)?;
        let col = self
            .schema
            .column_index(name)
            .map_err(|e| errors::to_py(py, e))?;
        self.schema.coerce(col, v).map_err(|e| errors::to_py(py, e))
    }

    fn mismatch(&self, py: Python<'_>, name: &str, obj: &Bound<'_, PyAny>, why: &str) -> PyErr {
        let ty = self
            .schema
            .position(name)
            .map(|i| self.schema.columns[i].ty.name())
            .unwrap_or("a column");
        let repr = obj
            .repr()
            .map(|r| r.to_string())
            .unwrap_or_else(|_| "<unprintable>".into());
        let message = format!(
            "{}.{} is {}, which cannot hold {} (a Python {}{})",
            self.table,
            name,
            ty,
            repr,
            type_name(obj),
            why
        );
        errors::raise(
            py,
            "TypeMismatch",
            &message,
            &[
                ("table", errors::text(py, &self.table)),
                ("column", errors::text(py, name)),
                ("value", obj.clone().unbind()),
            ],
        )
    }

    /// An instance of the table's dataclass as a dict of its columns' values. A dataclass
    /// with a field that is no column, or without a column (another table's class), is a
    /// `TypeError`: its other fields would be dropped without a word.
    /// `checked`: the caller has seen an instance of this very class pass already (the
    /// fields of a class do not change between rows of one call).
    pub fn fields_of<'py>(
        &self,
        obj: &Bound<'py, PyAny>,
        checked: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let py = obj.py();
        let not_a_row = |why: String| {
            PyErr::new::<pyo3::exceptions::PyTypeError, _>(format!(
                "{} is not a row of {}: {why}",
                type_name(obj),
                self.table
            ))
        };
        // `dataclasses.fields`, not `__dataclass_fields__`, which holds `ClassVar`s too.
        let declared = if checked {
            pyo3::types::PyTuple::empty(py).into_any()
        } else {
            py.import("dataclasses")?.getattr("fields")?.call1((obj,))?
        };
        for f in declared.try_iter()? {
            let name = f?.getattr("name")?.extract::<String>()?;
            if !self.names.iter().any(|n| n.bind(py).to_string() == name) {
                return Err(not_a_row(format!(
                    "its field {name} is no column of the table"
                )));
            }
        }
        let d = PyDict::new(py);
        for name in &self.names {
            let name = name.bind(py);
            let value = match obj.getattr(name) {
                Ok(v) => v,
                Err(e) if e.is_instance_of::<pyo3::exceptions::PyAttributeError>(py) => {
                    return Err(not_a_row(format!("it has no field {name}")));
                }
                Err(e) => return Err(e),
            };
            d.set_item(name, value)?;
        }
        Ok(d)
    }

    /// A dict of column name to Python value as a row for the engine.
    pub fn row(&self, fields: &Bound<'_, PyDict>) -> PyResult<Vec<Option<Value>>> {
        let py = fields.py();
        let mut values = Vec::with_capacity(self.names.len());
        let mut found = 0;
        for (i, name) in self.names.iter().enumerate() {
            // Interned names: the dict finds them by pointer before comparing text.
            let Some(v) = fields.get_item(name.bind(py))? else {
                values.push(None);
                continue;
            };
            found += 1;
            // A dataclass instance (`insert_many([Student(id=None, ...)])`) or a caller
            // passing `id=None` asks for a key the same way as leaving it out.
            if v.is_none() && self.auto_key_position == Some(i) {
                values.push(None);
                continue;
            }
            values.push(Some(self.value_at(i, &v)?));
        }
        if found < fields.len() {
            return Err(self.unknown_field(fields));
        }
        Ok(values)
    }

    /// The `UnknownColumn` error for the first key of `fields` that names no column; or,
    /// when every key names one, a `TypeError` for the column two keys name (a `str`
    /// subclass hashing otherwise than its text can sit in a dict beside the plain name).
    fn unknown_field(&self, fields: &Bound<'_, PyDict>) -> PyErr {
        let py = fields.py();
        let mut seen = std::collections::HashSet::new();
        for k in fields.keys() {
            let name = k.extract::<String>().ok();
            let known = name
                .as_deref()
                .is_some_and(|name| self.schema.position(name).is_some());
            if let Some(name) = name.filter(|_| known) {
                if !seen.insert(name.clone()) {
                    return PyErr::new::<pyo3::exceptions::PyTypeError, _>(format!(
                        "{}: column {name} is given twice (two keys equal to {name:?}, one \
                         of them a str subclass)",
                        self.table
                    ));
                }
                continue;
            }
            if !known {
                return errors::raise(
                    py,
                    "UnknownColumn",
                    &format!("table {} has no column {}", self.table, k),
                    &[
                        ("table", errors::text(py, &self.table)),
                        ("column", k.unbind()),
                    ],
                );
            }
        }
        errors::plain(py, "internal error: a field was counted twice")
    }

    /// Whether the table has a `json` column, whose values `json.dumps` converts: Python
    /// code, so [`Cols::plain_row`] takes no row of it.
    pub fn has_json(&self) -> bool {
        self.json.iter().any(|&j| j)
    }

    /// `item`'s row as [`Cols::row`] makes it, if that takes no Python code: a `dict`
    /// exactly, whose keys are `str` exactly (looking one up calls no `__eq__`), each a
    /// column's name, and whose values are `None` or exactly a `str`, `int`, `float` or
    /// `bool` (converted as `row` does: through [`plain_value`] where the value is not of
    /// its column's own type). The caller makes sure the table has no `json` column
    /// ([`Cols::has_json`]). `None` for anything else, and for a value that does not
    /// convert (an `int` beyond 64 bits, a lone surrogate): [`Cols::row`] is the way for
    /// those, and says why. The checks read the dict without allocating.
    pub fn plain_row(&self, item: &Bound<'_, PyAny>) -> Option<Vec<Option<Value>>> {
        let fields = item.cast_exact::<PyDict>().ok()?;
        self.plain_row_in_order(fields)
            .unwrap_or_else(|| self.plain_row_by_name(fields))
    }

    /// [`Cols::plain_row`] in one pass over the dict, for the common dict whose keys are
    /// the column names' interned strings themselves (string literals in the program, or
    /// names read back from a row): `None` at the first key that is not, for
    /// [`Cols::plain_row_by_name`] to look the names up; `Some(None)` where `plain_row`
    /// gives `None`.
    fn plain_row_in_order(&self, fields: &Bound<'_, PyDict>) -> Option<Option<Vec<Option<Value>>>> {
        let py = fields.py();
        let n = self.names.len();
        let mut values: Vec<Option<Value>> = vec![None; n];
        // Where the next key is looked for first: the column after the last one found.
        let mut next = 0;
        for (k, v) in fields.iter() {
            let i = (0..n)
                .map(|step| (next + step) % n)
                .find(|&i| k.is(self.names[i].bind(py)))?;
            next = i + 1;
            values[i] = match self.plain_value_at(i, &v) {
                Some(value) => value,
                None => return Some(None),
            };
        }
        Some(Some(values))
    }

    /// [`Cols::plain_row`] with each column's name looked up in the dict.
    fn plain_row_by_name(&self, fields: &Bound<'_, PyDict>) -> Option<Vec<Option<Value>>> {
        let plain = fields
            .iter()
            .all(|(k, _)| k.is_exact_instance_of::<PyString>());
        if !plain {
            return None;
        }
        let py = fields.py();
        let mut values = Vec::with_capacity(self.names.len());
        let mut found = 0;
        for (i, name) in self.names.iter().enumerate() {
            let Some(v) = fields.get_item(name.bind(py)).ok()? else {
                values.push(None);
                continue;
            };
            found += 1;
            values.push(self.plain_value_at(i, &v)?);
        }
        (found == fields.len()).then_some(values)
    }

    /// A dict's value for the column at `i` as [`Cols::plain_row`] converts it: `Some(None)`
    /// for `None` given for an engine-assigned key; `None` for a value that is not exactly
    /// of a plain type, or does not convert.
    fn plain_value_at(&self, i: usize, v: &Bound<'_, PyAny>) -> Option<Option<Value>> {
        if v.is_none() {
            return Some((self.auto_key_position != Some(i)).then_some(Value::Null));
        }
        // The column's own type first: one check, as in `value_at`.
        let ty = self.schema.columns[i].ty;
        if let Ok(s) = v.cast_exact::<PyString>() {
            if ty == ColumnType::Text {
                return Some(Some(Value::Text(s.to_cow().ok()?.into_owned())));
            }
        } else if let Ok(f) = v.cast_exact::<PyFloat>() {
            if ty.is_float() {
                return Some(Some(Value::Float(f.value())));
            }
        } else if v.is_exact_instance_of::<PyInt>() {
            if ty.is_int() {
                return Some(Some(Value::Int(v.extract::<i64>().ok()?)));
            }
        } else if !v.is_exact_instance_of::<PyBool>() {
            return None;
        }
        plain_value(v).ok().map(Some)
    }

    /// A Python value as a primary key.
    pub fn key(&self, obj: &Bound<'_, PyAny>) -> PyResult<Value> {
        self.value_at(self.schema.primary_key(), obj)
    }

    /// A Python value for the column at position `i`.
    fn value_at(&self, i: usize, obj: &Bound<'_, PyAny>) -> PyResult<Value> {
        // A value of exactly the column's own type takes one check; anything else (a
        // subclass, `bool` for an int, another type to coerce) goes the general way.
        let ty = &self.schema.columns[i].ty;
        if *ty == ColumnType::Text {
            if let Ok(s) = obj.cast_exact::<PyString>() {
                if let Ok(text) = s.to_cow() {
                    return Ok(Value::Text(text.into_owned()));
                }
            }
        } else if matches!(ty, ColumnType::F64 | ColumnType::F32) {
            if let Ok(f) = obj.cast_exact::<PyFloat>() {
                return Ok(Value::Float(f.value()));
            }
        } else if ty.is_int() && obj.is_exact_instance_of::<PyInt>() {
            if let Ok(n) = obj.extract::<i64>() {
                return Ok(Value::Int(n));
            }
        }
        if let Some(c) = self.containers[i] {
            if !obj.is_none() && !c.holds(obj) {
                let why = format!(": its field is a {}", c.name());
                return Err(self.mismatch(obj.py(), &self.schema.columns[i].name, obj, &why));
            }
        }
        match to_value(obj, self.json[i])? {
            Ok(v) => Ok(v),
            Err(why) => Err(self.mismatch(obj.py(), &self.schema.columns[i].name, obj, &why)),
        }
    }
}

/// A column's value for Python: a `json` column's text is parsed.
pub fn column_to_py<'py>(
    py: Python<'py>,
    v: &Value,
    json_column: bool,
) -> PyResult<Bound<'py, PyAny>> {
    match v {
        Value::Text(s) if json_column => json(py)?.1.bind(py).call1((s.as_str(),)),
        other => plain_to_py(py, other),
    }
}

/// Python objects for numbers recently read, per thread, so that the rows of a result
/// share one object for each repeated number (a year, a status code, a foreign key)
/// instead of allocating one per row, as CPython shares its small integers. Numbers are
/// immutable, so no program can tell, but by `is`.
struct Shared {
    ints: Vec<Option<(i64, Py<PyAny>)>>,
    floats: Vec<Option<(u64, Py<PyAny>)>>,
}

/// Entries per kind: a direct-mapped table, so a number's entry is found without a search
/// and a miss replaces whatever was there.
const SHARED: usize = 1024;

thread_local! {
    static SHARED_NUMBERS: std::cell::RefCell<Shared> = std::cell::RefCell::new(Shared {
        ints: (0..SHARED).map(|_| None).collect(),
        floats: (0..SHARED).map(|_| None).collect(),
    });
}

impl Shared {
    fn slot(bits: u64) -> usize {
        (bits.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54) as usize % SHARED
    }

    /// `v` as a Python object, shared with earlier rows' when it is a number read before.
    fn number<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
        let found = SHARED_NUMBERS.try_with(|cache| {
            let Ok(mut cache) = cache.try_borrow_mut() else {
                return Ok(None);
            };
            match *v {
                Value::Int(i) => {
                    let entry = &mut cache.ints[Shared::slot(i as u64)];
                    if let Some((held, obj)) = entry {
                        if *held == i {
                            return Ok(Some(obj.bind(py).clone()));
                        }
                    }
                    let obj = i.into_pyobject(py)?.into_any();
                    *entry = Some((i, obj.clone().unbind()));
                    Ok(Some(obj))
                }
                Value::Float(f) => {
                    let bits = f.to_bits();
                    let entry = &mut cache.floats[Shared::slot(bits)];
                    if let Some((held, obj)) = entry {
                        if *held == bits {
                            return Ok(Some(obj.bind(py).clone()));
                        }
                    }
                    let obj = PyFloat::new(py, f).into_any();
                    *entry = Some((bits, obj.clone().unbind()));
                    Ok(Some(obj))
                }
                _ => Ok(None),
            }
        });
        match found {
            Ok(Ok(Some(obj))) => Ok(obj),
            Ok(Err(e)) => Err(e),
            _ => plain_to_py(py, v),
        }
    }
}

/// A value for Python with no column to say what it holds (a SQL result's computed column).
pub fn plain_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Int(i) => i.into_pyobject(py)?.into_any(),
        Value::Float(f) => PyFloat::new(py, *f).into_any(),
        Value::Text(s) => PyString::new(py, s).into_any(),
    })
}

/// A Python value as an engine value; for a `json` column any JSON-able value becomes its
/// JSON text. The inner error says why it does not fit (appended to the message); the
/// outer one is an exception that is not about the value (`KeyboardInterrupt` while
/// `json.dumps` ran), to raise as it is.
pub fn to_value(obj: &Bound<'_, PyAny>, json_column: bool) -> PyResult<Result<Value, String>> {
    if obj.is_none() {
        return Ok(Ok(Value::Null));
    }
    if json_column {
        let py = obj.py();
        if let Some(why) = colliding_keys(obj, &mut Vec::new())? {
            return Ok(Err(format!(": not JSON: {why}")));
        }
        let text = json(py)
            .and_then(|j| j.0.bind(py).call1((obj,)))
            .and_then(|t| t.extract::<String>());
        return match text {
            Ok(text) => Ok(Ok(Value::Text(text))),
            // What `json.dumps` raises for a value it cannot write (an `Exception`) says
            // why the value does not fit; anything else (`KeyboardInterrupt`) is not about
            // the value, and goes on as it is.
            Err(e) if e.is_instance_of::<pyo3::exceptions::PyException>(py) => {
                Ok(Err(format!(": not JSON: {e}")))
            }
            Err(e) => Err(e),
        };
    }
    Ok(plain_value(obj))
}

/// How deep [`colliding_keys`] looks: past the nesting a json column holds (127), so that
/// a value refused for its depth is refused for that, and a deeper one cannot exhaust the
/// stack here.
const KEY_DEPTH: usize = 200;

/// Why `obj` cannot be a JSON document without losing a value, if it cannot: a dict whose
/// keys `json.dumps` writes as one JSON key (`1` and `"1"`, `True` and `"true"`, `None`
/// and `"null"`): the document would hold that key twice, and reading it keeps only the
/// last. A dict of `str` keys alone, the common case, cannot; nor can anything but dicts,
/// lists and tuples, which are not walked. `path` holds the containers being walked: one
/// met again is a cycle, left to the dump to refuse. (A dict subclass whose `items()` says
/// otherwise, or `str` subclasses equal to each other, are read as plain dicts and strs.)
fn colliding_keys(obj: &Bound<'_, PyAny>, path: &mut Vec<usize>) -> PyResult<Option<String>> {
    let at = obj.as_ptr() as usize;
    if path.len() > KEY_DEPTH || path.contains(&at) {
        return Ok(None);
    }
    path.push(at);
    let found = if let Ok(d) = obj.cast::<PyDict>() {
        match dict_keys_colliding(d)? {
            Some(why) => Ok(Some(why)),
            None => first_colliding(d.iter().map(|(_, v)| v), path),
        }
    } else if let Ok(l) = obj.cast::<PyList>() {
        first_colliding(l.iter(), path)
    } else if let Ok(t) = obj.cast::<PyTuple>() {
        first_colliding(t.iter(), path)
    } else {
        Ok(None)
    };
    path.pop();
    found
}

/// [`colliding_keys`] of each of `items` (what a container holds), the first found.
fn first_colliding<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    path: &mut Vec<usize>,
) -> PyResult<Option<String>> {
    for v in items {
        if let Some(why) = colliding_keys(&v, path)? {
            return Ok(Some(why));
        }
    }
    Ok(None)
}

/// Why `d`'s own keys collide as JSON keys, if they do (see [`colliding_keys`]).
fn dict_keys_colliding(d: &Bound<'_, PyDict>) -> PyResult<Option<String>> {
    if d.iter().all(|(k, _)| k.is_instance_of::<PyString>()) {
        return Ok(None);
    }
    let mut seen: HashMap<String, Bound<'_, PyAny>> = HashMap::new();
    for (k, _) in d.iter() {
        let Some(written) = json_key(&k)? else {
            // A key json.dumps refuses: the dump says so.
            return Ok(None);
        };
        if let Some(first) = seen.get(&written) {
            return Ok(Some(format!(
                "the dict's keys {} and {} are both the JSON key {written:?}, and only one \
                 value could be read back",
                shown(first, &written)?,
                shown(&k, &written)?
            )));
        }
        seen.insert(written, k);
    }
    Ok(None)
}

/// The JSON key `json.dumps` writes for dict key `k`: a `str` as it is, `True`, `False` and
/// `None` as `true`, `false`, `null`, an `int` or a `float` as it writes the number;
/// `None` for a key it refuses (another type, a lone surrogate, a NaN).
fn json_key(k: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    let py = k.py();
    if let Ok(text) = k.cast::<PyString>() {
        return Ok(text.to_cow().ok().map(|t| t.into_owned()));
    }
    if k.is_none() {
        return Ok(Some("null".to_owned()));
    }
    if let Ok(b) = k.cast::<PyBool>() {
        return Ok(Some(b.is_true().to_string()));
    }
    if k.is_exact_instance_of::<PyInt>() {
        if let Ok(i) = k.extract::<i64>() {
            return Ok(Some(i.to_string()));
        }
    }
    if !(k.is_instance_of::<PyInt>() || k.is_instance_of::<PyFloat>()) {
        return Ok(None);
    }
    // A wide int, an int or float subclass, a float: as json.dumps writes the number.
    match json(py)?
        .0
        .bind(py)
        .call1((k,))
        .and_then(|t| t.extract::<String>())
    {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyException>(py) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A key as the program wrote it (`1`, `'1'`), or as JSON writes it when its `repr` fails.
fn shown(k: &Bound<'_, PyAny>, written: &str) -> PyResult<String> {
    match k.repr() {
        Ok(r) => Ok(r.to_string()),
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyException>(k.py()) => {
            Ok(format!("{written:?}"))
        }
        Err(e) => Err(e),
    }
}

/// A scalar Python value as an engine value, with no column to say what it should be: a
/// SQL parameter.
pub fn plain_value(obj: &Bound<'_, PyAny>) -> Result<Value, String> {
    if obj.is_none() {
        Ok(Value::Null)
    } else if let Ok(b) = obj.cast::<PyBool>() {
        Ok(Value::Bool(b.is_true()))
    } else if obj.is_instance_of::<PyInt>() {
        obj.extract::<i64>()
            .map(Value::Int)
            .map_err(|_| ": beyond a 64-bit integer".to_owned())
    } else if let Ok(f) = obj.cast::<PyFloat>() {
        Ok(Value::Float(f.value()))
    } else if let Ok(s) = obj.cast::<PyString>() {
        s.to_cow()
            .map(|c| Value::Text(c.into_owned()))
            .map_err(|e| format!(": {e}"))
    } else {
        Err(String::new())
    }
}

/// The name of a Python object's type, for messages.
pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// SQL parameters from a Python sequence.
pub fn params(py: Python<'_>, seq: &Bound<'_, PyAny>) -> PyResult<Vec<Value>> {
    let mut out = Vec::new();
    for (i, item) in seq.try_iter()?.enumerate() {
        let item = item?;
        let v = match plain_value(&item) {
            Ok(v) => v,
            Err(_)
                if item.cast::<PyDict>().is_ok() || item.cast::<pyo3::types::PyList>().is_ok() =>
            {
                to_value(&item, true)?.map_err(|why| {
                    errors::raise(
                        py,
                        "TypeMismatch",
                        &format!("parameter {} is not JSON{why}", i + 1),
                        &[],
                    )
                })?
            }
            Err(why) => {
                let repr = item.repr().map(|r| r.to_string()).unwrap_or_default();
                return Err(errors::raise(
                    py,
                    "TypeMismatch",
                    &format!(
                        "parameter {} cannot be a SQL value: {repr} (a Python {}{why})",
                        i + 1,
                        type_name(&item)
                    ),
                    &[],
                ));
            }
        };
        out.push(v);
    }
    Ok(out)
}
