//! The commands that read or change the rows of one table, picked by a SQL condition or
//! given as JSON objects: `query`, `insert`, `update` and `delete`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use tabula::{Condition, Row, Value};

use crate::database::{close_after_commit, open, open_read_only};
use crate::output::{self, CsvGuard, Format};
use crate::text_input;

/// `tabula query`'s arguments.
#[derive(Args)]
pub struct QueryArgs {
    pub dir: PathBuf,
    pub table: String,
    /// A SQL boolean expression over the table's columns.
    #[arg(long = "where")]
    pub filter: Option<String>,
    /// Columns to order by, comma-separated; `-col` for descending.
    #[arg(long, allow_hyphen_values = true)]
    pub order_by: Option<String>,
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long)]
    pub offset: Option<usize>,
    /// Columns to print, comma-separated (default: all).
    #[arg(long)]
    pub columns: Option<String>,
    /// Print the query plan instead of the rows.
    #[arg(long)]
    pub explain: bool,
}

/// `tabula insert`'s arguments.
#[derive(Args)]
pub struct InsertArgs {
    pub dir: PathBuf,
    pub table: String,
    /// JSON objects, one per argument; `-` (or none, with stdin not a terminal) reads stdin.
    pub rows: Vec<String>,
    /// Read rows from FILE (`-` for stdin): JSON Lines, or one JSON array of objects.
    #[arg(long, value_name = "FILE", conflicts_with = "rows")]
    pub file: Option<PathBuf>,
}

/// `tabula update`'s arguments.
#[derive(Args)]
pub struct UpdateArgs {
    pub dir: PathBuf,
    pub table: String,
    #[arg(long = "where", required = true)]
    pub filter: String,
    /// `column=value`; the value is read as JSON (3.5, true, null, "text") or else as text.
    #[arg(long = "set", required = true)]
    pub set: Vec<String>,
}

/// `tabula delete`'s arguments.
#[derive(Args)]
pub struct DeleteArgs {
    pub dir: PathBuf,
    pub table: String,
    #[arg(long = "where", required = true)]
    pub filter: String,
}

/// `tabula query`: the rows matching a condition, in the order, window and columns asked.
pub fn query(args: QueryArgs, format: Format, guard: CsvGuard) -> anyhow::Result<()> {
    let QueryArgs {
        dir,
        table,
        filter,
        order_by,
        limit,
        offset,
        columns,
        explain,
    } = args;
    // As `order_by` reads a key: one `-` (or `+`) before the column's name.
    let no_name = |k: &str| {
        let k = k.trim();
        k.strip_prefix(['-', '+']).unwrap_or(k).trim().is_empty()
    };
    if let Some(o) = order_by.as_ref().filter(|o| o.split(',').any(no_name)) {
        bail!(
            "--order-by {o:?}: a key names no column (an empty key, a lone - or +, or a comma \
             at an end or two together)"
        );
    }
    let db = open_read_only(&dir)?;
    let t = db.dyn_table(&table)?;
    // Built twice by the table format (measure, then print): a read-only database
    // is one fixed point in time, so both passes see the same rows.
    let query = || {
        let mut q = t.select();
        if let Some(f) = &filter {
            q = q.where_sql(f);
        }
        for key in order_by.iter().flat_map(|o| o.split(',')).map(str::trim) {
            q = q.order_by(key);
        }
        if let Some(l) = limit {
            q = q.limit(l);
        }
        if let Some(o) = offset {
            q = q.offset(o);
        }
        q
    };
    if explain {
        outln!("{}", query().explain()?);
        return Ok(());
    }
    let names: Vec<String> = match &columns {
        Some(c) => c.split(',').map(|s| s.trim().to_owned()).collect(),
        None => t.schema().columns.iter().map(|c| c.name.clone()).collect(),
    };
    for n in &names {
        t.schema().column_index(n)?;
    }
    // A query that cannot run (a value its column cannot hold) fails before the
    // output starts: no half-written JSON array or lone csv header.
    query().explain()?;
    // The query reads on once the output has failed (it prints nothing more).
    let each: output::EachRow<'_> = &|f| {
        query().for_each(|r| {
            f(r);
        })
    };
    output::print_rows(&names, each, format, guard)?;
    Ok(())
}

/// `tabula insert`: every row given, in one transaction, or none.
pub fn insert(args: InsertArgs, json: bool) -> anyhow::Result<()> {
    let InsertArgs {
        dir,
        table,
        rows,
        file,
    } = args;
    let from_stdin = file.as_deref() == Some(Path::new("-"))
        || rows == ["-"]
        || (rows.is_empty() && file.is_none());
    let parsed = if let Some(f) = file.as_ref().filter(|_| !from_stdin) {
        let text = text_input::read_file(f)?;
        parse_rows(&f.display().to_string(), &table, &text)?
    } else if from_stdin {
        if std::io::stdin().is_terminal() {
            bail!("no rows: give JSON objects as arguments, --file FILE, or pipe them on stdin");
        }
        let text = text_input::read_text(std::io::stdin(), "stdin")?;
        parse_rows("stdin", &table, &text)?
    } else {
        rows.iter()
            .enumerate()
            .map(|(i, r)| parse_row(&format!("argument {}", i + 1), &table, r))
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    let db = open(&dir)?;
    let schema = db.dyn_table(&table)?.schema().clone();
    for r in &parsed {
        r.check_documents(&schema)?;
    }
    let mut failed_at = None;
    let keys = db.transaction(|tx| {
        let t = tx.dyn_table(&table)?;
        let mut keys = Vec::with_capacity(parsed.len());
        for r in &parsed {
            failed_at = Some(r.place.as_str());
            keys.push(t.insert(row_to_insert(&schema, &r.row))?);
        }
        failed_at = None;
        Ok(keys)
    });
    let keys = match (keys, failed_at) {
        (Ok(k), _) => k,
        (Err(e), Some(place)) => {
            return Err(anyhow::Error::new(e).context(format!("{place}: nothing was inserted")))
        }
        (Err(e), None) => {
            // Foreign keys are checked as the transaction commits: the first row
            // giving the missing key is the one to name.
            let place = match &e {
                tabula::Error::ForeignKey { column, value, .. } => parsed
                    .iter()
                    .find(|r| row_to_insert(&schema, &r.row).get(column) == Some(value)),
                _ => None,
            };
            return Err(match place {
                Some(r) => {
                    anyhow::Error::new(e).context(format!("{}: nothing was inserted", r.place))
                }
                None => e.into(),
            });
        }
    };
    close_after_commit(&db)?;
    if json {
        committed_outln!(
            "{}",
            serde_json::json!({"table": table, "inserted": keys.len(), "keys": keys})
        );
    } else if keys.is_empty() {
        committed_outln!("inserted 0 row(s) into {table}");
    } else {
        committed_outln!(
            "inserted {} row(s) into {table}: {}",
            keys.len(),
            keys_in_words(&keys)
        );
    }
    Ok(())
}

/// `tabula update`: sets columns of the rows matching a condition.
pub fn update(args: UpdateArgs, json: bool) -> anyhow::Result<()> {
    let UpdateArgs {
        dir,
        table,
        filter,
        set,
    } = args;
    let db = open(&dir)?;
    let t = db.dyn_table(&table)?;
    let cond = Condition::parse(t.schema(), &filter)?;
    let changes = set
        .iter()
        .map(|s| {
            let (c, v, document) = parse_set(s)?;
            if document {
                refuse_document(t.schema(), &c, Some(&v)).with_context(|| format!("--set {s}"))?;
            }
            let v = as_written(t.schema(), &c, v);
            Ok((c, v))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    for (i, (c, _)) in changes.iter().enumerate() {
        t.schema().column_index(c)?;
        // As `insert` refuses a column given twice: which value was meant is not known.
        if changes[..i].iter().any(|(earlier, _)| earlier == c) {
            bail!("--set {c} is given twice; give each column once");
        }
    }
    let n = t.update(
        |r| cond.matches(r.values()),
        |r| {
            for (c, v) in &changes {
                r.set(c, v.clone());
            }
        },
    )?;
    close_after_commit(&db)?;
    if json {
        committed_outln!("{}", serde_json::json!({"table": table, "updated": n}));
    } else {
        committed_outln!("updated {n} row(s) of {table}");
    }
    Ok(())
}

/// `tabula delete`: the rows matching a condition, and what their foreign keys cascade to.
pub fn delete(args: DeleteArgs, json: bool) -> anyhow::Result<()> {
    let DeleteArgs { dir, table, filter } = args;
    let db = open(&dir)?;
    let t = db.dyn_table(&table)?;
    let cond = Condition::parse(t.schema(), &filter)?;
    // Cascading foreign keys delete from other tables too: count every table before
    // and after (the CLI holds the database exclusively, so only this delete runs).
    let names = db.table_names()?;
    let count_all = || -> anyhow::Result<Vec<usize>> {
        names
            .iter()
            .map(|n| Ok(db.dyn_table(n)?.count()?))
            .collect()
    };
    let before = count_all()?;
    let n = t.delete(|r| cond.matches(r.values()))?;
    let after = count_all()?;
    // The table itself among them: a key referencing its own table (a tree)
    // cascades into it.
    let cascaded: Vec<(&String, usize)> = names
        .iter()
        .zip(before.iter().zip(&after))
        .map(|(name, (b, a))| {
            let direct = if *name == table { n } else { 0 };
            (name, b.saturating_sub(*a).saturating_sub(direct))
        })
        .filter(|(_, d)| *d > 0)
        .collect();
    close_after_commit(&db)?;
    if json {
        let by_table: serde_json::Map<String, serde_json::Value> = cascaded
            .iter()
            .map(|(name, d)| ((*name).clone(), serde_json::json!(d)))
            .collect();
        committed_outln!(
            "{}",
            serde_json::json!({"table": table, "deleted": n, "cascaded": by_table})
        );
    } else {
        let mut msg = format!("deleted {n} row(s) from {table}");
        if !cascaded.is_empty() {
            let parts: Vec<String> = cascaded
                .iter()
                .map(|(name, d)| format!("{d} row(s) from {name}"))
                .collect();
            msg.push_str(&format!(", and by cascade {}", parts.join(", ")));
        }
        committed_outln!("{msg}");
    }
    Ok(())
}

/// One row to insert, parsed, with where it came from (`argument 2`, `rows.jsonl line 7`).
struct InputRow {
    place: String,
    row: Row,
    /// The columns given a JSON array or object, which only a json column takes (their
    /// text is the column's document).
    documents: Vec<String>,
}

impl InputRow {
    /// Refuses a JSON array or object given to a column that is not a json column: it
    /// would be stored as its JSON text, where a number or boolean is refused.
    fn check_documents(&self, schema: &tabula::Schema) -> anyhow::Result<()> {
        for name in &self.documents {
            refuse_document(schema, name, self.row.get(name))
                .with_context(|| format!("{}: nothing was inserted", self.place))?;
        }
        Ok(())
    }
}

/// Refuses a JSON array or object (`doc`, read as its text) given to column `name` of
/// `schema` when that is not a json column; nothing for a json column or a column the
/// table does not have (the write names that).
fn refuse_document(schema: &tabula::Schema, name: &str, doc: Option<&Value>) -> anyhow::Result<()> {
    let Some(c) = schema.columns.iter().find(|c| c.name == name) else {
        return Ok(());
    };
    if c.ty == tabula::ColumnType::Json {
        return Ok(());
    }
    let shown = match doc {
        Some(Value::Text(t)) => t.as_str(),
        _ => "",
    };
    bail!(
        "{}.{name} is {}, which cannot hold the JSON document {shown}: only a json column \
         takes an array or object (give text as a JSON string)",
        schema.table,
        c.ty
    )
}

/// A JSON object's members in the order written, each value's text as written, and the
/// first key written twice (JSON leaves a repeated key's meaning open; serde_json and most
/// readers keep the last, which would drop a value without a word).
struct Members {
    pairs: Vec<(String, Box<serde_json::value::RawValue>)>,
    repeated: Option<String>,
}

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> serde::de::Visitor<'de> for Object {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Members, A::Error> {
                let mut out = Members {
                    pairs: Vec::new(),
                    repeated: None,
                };
                let mut seen = std::collections::HashSet::new();
                while let Some(k) = m.next_key::<String>()? {
                    let v = m.next_value()?;
                    if !seen.insert(k.clone()) {
                        out.repeated.get_or_insert(k);
                        continue;
                    }
                    out.pairs.push((k, v));
                }
                Ok(out)
            }
        }
        d.deserialize_map(Object)
    }
}

/// A JSON object as a row; each value read by `Value::parse_json` (exact integers). Errors
/// name the place and the column, never repeat the whole input.
fn parse_row(place: &str, table: &str, text: &str) -> anyhow::Result<InputRow> {
    let members: Members = match serde_json::from_str(text) {
        Ok(m) => m,
        Err(e) if e.is_data() => bail!("{place}: expected a JSON object with a row of {table}"),
        Err(e) => bail!("{place}: not JSON: {e}"),
    };
    if let Some(k) = members.repeated {
        bail!("{place}: {table}.{k} is given twice");
    }
    let mut pairs = Vec::with_capacity(members.pairs.len());
    let mut documents = Vec::new();
    for (k, raw) in members.pairs {
        let v = Value::parse_json(raw.get())
            .with_context(|| format!("{place}: {table}.{k}: value {} cannot be read", raw.get()))?;
        if raw.get().trim_start().starts_with(['[', '{']) {
            documents.push(k.clone());
        }
        pairs.push((k, v));
    }
    Ok(InputRow {
        place: place.to_owned(),
        row: Row::from_pairs(pairs),
        documents,
    })
}

/// Rows from a file or stdin: a JSON array of objects, or JSON Lines (one object a line).
fn parse_rows(name: &str, table: &str, text: &str) -> anyhow::Result<Vec<InputRow>> {
    if text.trim_start().starts_with('[') {
        let items: Vec<Box<serde_json::value::RawValue>> =
            serde_json::from_str(text).with_context(|| format!("{name}: not a JSON array"))?;
        return items
            .iter()
            .enumerate()
            .map(|(i, raw)| parse_row(&format!("{name} element {}", i + 1), table, raw.get()))
            .collect();
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| parse_row(&format!("{name} line {}", i + 1), table, l))
        .collect()
}

/// `value` for column `column` of `schema`, read as the output formats and `export` write
/// it: in a float column the strings `"NaN"`, `"inf"` and `"-inf"` are those floats (JSON
/// has no spelling for them), and in a json column a number or a boolean is that JSON text
/// (an object or an array is read as its text already). So `query --format jsonl` output
/// inserts back as it was. Anything else is the value as given.
fn as_written(schema: &tabula::Schema, column: &str, value: Value) -> Value {
    use tabula::ColumnType;
    let Ok(i) = schema.column_index(column) else {
        return value;
    };
    match (schema.columns[i].ty, value) {
        (ColumnType::F32 | ColumnType::F64, Value::Text(t)) => match t.as_str() {
            "NaN" => Value::Float(f64::NAN),
            "inf" => Value::Float(f64::INFINITY),
            "-inf" => Value::Float(f64::NEG_INFINITY),
            _ => Value::Text(t),
        },
        (ColumnType::Json, Value::Int(n)) => Value::Text(n.to_string()),
        (ColumnType::Json, Value::Bool(b)) => Value::Text(b.to_string()),
        (ColumnType::Json, Value::Float(f)) => match serde_json::Number::from_f64(f) {
            Some(n) => Value::Text(n.to_string()),
            None => Value::Float(f),
        },
        (_, v) => v,
    }
}

/// `row` as `insert` takes it: [`as_written`] for every column, and a null for a key the
/// table assigns left out, so that it is assigned (as SQL's `INSERT` and Python's `insert`
/// take `NULL`/`None` there).
fn row_to_insert(schema: &tabula::Schema, row: &Row) -> Row {
    let assigned = schema
        .auto_increment()
        .then(|| schema.primary_key_column().name.as_str());
    Row::from_pairs(
        row.iter()
            .filter(|&(name, v)| !(v.is_null() && Some(name) == assigned))
            .map(|(name, v)| (name.to_owned(), as_written(schema, name, v.clone()))),
    )
}

/// `--set column=value`: the column, the value, and whether it was given as a JSON array
/// or object (`--set 'title=[WIP] fix'` is not JSON, and is text).
fn parse_set(s: &str) -> anyhow::Result<(String, Value, bool)> {
    let (col, val) = s
        .split_once('=')
        .with_context(|| format!("--set {s:?}: expected column=value"))?;
    let col = col.trim();
    // JSON when it is JSON (exact integers); text only when it is not.
    let json = serde_json::from_str::<serde::de::IgnoredAny>(val).is_ok();
    let value = if json {
        Value::parse_json(val).with_context(|| {
            if val.trim().parse::<f64>().is_ok_and(f64::is_infinite) {
                format!(
                    "--set {col}: {val} is beyond the range of a 64-bit float (inf and -inf \
                     are the infinities)"
                )
            } else {
                format!("--set {col}: cannot use {val}; quote it ('\"...\"') to store it as text")
            }
        })?
    } else {
        Value::Text(val.trim_matches('\'').to_owned())
    };
    let document = json && val.trim_start().starts_with(['[', '{']);
    Ok((col.to_owned(), value, document))
}

/// The keys an insert made, for people: all of them when few, a range when they follow one
/// another, else the first ones and how many more (`--format json` lists every one).
fn keys_in_words(keys: &[tabula::Value]) -> String {
    const SHOWN: usize = 10;
    let ints: Option<Vec<i64>> = keys
        .iter()
        .map(|k| match k {
            tabula::Value::Int(i) => Some(*i),
            _ => None,
        })
        .collect();
    let list = |ks: &[tabula::Value]| {
        ks.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match ints {
        _ if keys.len() <= SHOWN => format!("keys {}", list(keys)),
        Some(k) if k.windows(2).all(|w| w[0].checked_add(1) == Some(w[1])) => {
            format!("keys {} to {}", k[0], k[k.len() - 1])
        }
        _ => format!(
            "keys {}, and {} more (--format json lists them all)",
            list(&keys[..SHOWN]),
            keys.len() - SHOWN
        ),
    }
}
