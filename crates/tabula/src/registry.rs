//! The tables of one database behind one object-safe trait, so that typed tables (rows are
//! the user's struct) and dynamic tables (rows of `Value`) sit side by side, and the dynamic
//! API reaches either.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::lookup::Lookup;
use crate::query::{self, Plan, QuerySpec};
use crate::record::{DynRow, Record, Row, Table};
use crate::schema::Schema;
use crate::storage::codec::RowCodec;
use crate::storage::{snapshot, wal};
use crate::table::{Mark, TableData};
use crate::value::Value;

/// A table as the database sees it, whatever its row kind.
pub(crate) trait AnyTable: Send + Sync {
    fn schema(&self) -> &Arc<Schema>;
    /// The Rust type attached, `None` for a dynamic table.
    fn rust_type(&self) -> Option<&'static str>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn len(&self) -> usize;
    fn next_key(&self) -> i64;
    fn mark(&self) -> Mark;
    fn rollback_to(&mut self, mark: Mark);
    fn has_changes(&self) -> bool;
    /// Appends the pending changes as the table's entry of a log record (see
    /// [`crate::storage::wal::begin_table`]), one row at a time.
    fn encode_changes(&self, out: &mut Vec<u8>) -> Result<()>;
    fn commit(&mut self);
    /// Every row as values, in key order.
    fn dump(&self) -> Result<Vec<Vec<Value>>>;
    /// The table's snapshot (every row in key order, as JSON Lines); `path` names it in
    /// errors.
    fn encode_snapshot(&self, path: &std::path::Path) -> Result<snapshot::Encoded>;
    /// Turns a dynamic table into a typed one (`T` chosen by the caller's closure).
    fn take_dyn(self: Box<Self>) -> std::result::Result<TableData<DynRow>, Box<dyn AnyTable>>;

    fn dyn_insert(&mut self, values: Vec<Value>) -> Result<Value>;
    fn dyn_upsert(&mut self, values: Vec<Value>) -> Result<Value>;
    fn dyn_get(&self, key: Lookup<'_>) -> Result<Option<Vec<Value>>>;
    fn dyn_select(&self, q: &QuerySpec<'_, Row>, names: &Arc<[String]>) -> Result<Vec<Vec<Value>>>;
    fn dyn_explain(&self, q: &QuerySpec<'_, Row>, names: &Arc<[String]>) -> Plan;
    fn dyn_count(&self, q: &QuerySpec<'_, Row>, names: &Arc<[String]>) -> Result<usize>;
    fn dyn_keys(&self, q: &QuerySpec<'_, Row>, names: &Arc<[String]>) -> Result<Vec<Value>>;
    /// Replaces the rows with these keys by the given images (same keys).
    fn dyn_replace(&mut self, rows: Vec<Vec<Value>>) -> Result<usize>;
    fn dyn_delete_keys(&mut self, keys: &[Value]) -> Result<usize>;
    fn written_since(&self, mark: Mark) -> (Vec<u32>, Vec<Value>);
    fn col_value(&self, slot: u32, col: usize) -> Value;
    fn has_key(&self, key: &Value) -> bool;
    fn slots_where(&self, col: usize, v: &Value) -> Vec<u32>;
    fn key_at(&self, slot: u32) -> Value;
    fn set_at(&mut self, slot: u32, col: usize, v: Value) -> Result<()>;
}

/// Wraps closure filters over `Row` as filters over the table's own row kind.
fn typed_spec<'a, R: Record>(
    q: &'a QuerySpec<'a, Row>,
    names: &'a Arc<[String]>,
) -> QuerySpec<'a, R> {
    QuerySpec {
        preds: q.preds.clone(),
        filters: q
            .filters
            .iter()
            .map(|f| {
                let f: Box<dyn Fn(&R) -> bool + 'a> = Box::new(move |r: &R| {
                    r.values()
                        .is_ok_and(|v| f(&Row::with_names(names.clone(), v)))
                });
                f
            })
            .collect(),
        order: q.order.clone(),
        limit: q.limit,
        offset: q.offset,
    }
}

impl<R: Record> AnyTable for TableData<R> {
    fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }
    fn rust_type(&self) -> Option<&'static str> {
        let name = std::any::type_name::<R>();
        (name != std::any::type_name::<DynRow>()).then_some(name)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn len(&self) -> usize {
        TableData::len(self)
    }
    fn next_key(&self) -> i64 {
        TableData::next_key(self)
    }
    fn mark(&self) -> Mark {
        TableData::mark(self)
    }
    fn rollback_to(&mut self, mark: Mark) {
        TableData::rollback_to(self, mark)
    }
    fn has_changes(&self) -> bool {
        TableData::has_changes(self)
    }
    fn encode_changes(&self, out: &mut Vec<u8>) -> Result<()> {
        let schema = &self.schema;
        let codec = RowCodec::new(schema);
        let next_key = schema.auto_increment().then(|| TableData::next_key(self));
        wal::begin_table(schema, next_key, out);
        let mut first = true;
        let deletes = self.for_each_change(|r| {
            if !first {
                out.push(b',');
            }
            first = false;
            encode_row(&codec, schema, r, out)
        })?;
        wal::end_table(&deletes, out);
        Ok(())
    }
    fn commit(&mut self) {
        TableData::commit(self)
    }
    fn dump(&self) -> Result<Vec<Vec<Value>>> {
        self.iter().map(|(_, r)| r.values()).collect()
    }
    fn encode_snapshot(&self, path: &std::path::Path) -> Result<snapshot::Encoded> {
        let schema = &self.schema;
        let codec = RowCodec::new(schema);
        let rows: Vec<&R> = self.iter().map(|(_, r)| r).collect();
        snapshot::encode(path, &rows, |r, out| encode_row(&codec, schema, *r, out))
    }
    fn take_dyn(self: Box<Self>) -> std::result::Result<TableData<DynRow>, Box<dyn AnyTable>> {
        let any: Box<dyn Any> = self;
        match any.downcast::<TableData<DynRow>>() {
            Ok(t) => Ok(*t),
            Err(any) => match any.downcast::<TableData<R>>() {
                Ok(t) => Err(t),
                Err(_) => unreachable_table(),
            },
        }
    }

    fn dyn_insert(&mut self, values: Vec<Value>) -> Result<Value> {
        let row = R::from_row(&self.schema, values)?;
        self.insert(row)
    }
    fn dyn_upsert(&mut self, values: Vec<Value>) -> Result<Value> {
        let row = R::from_row(&self.schema, values)?;
        upsert(self, row)
    }
    fn dyn_get(&self, key: Lookup<'_>) -> Result<Option<Vec<Value>>> {
        let key = coerce_key(&self.schema, key)?;
        self.find_key(key.as_ref())
            .and_then(|s| self.row(s))
            .map(Record::values)
            .transpose()
    }
    fn dyn_select(&self, q: &QuerySpec<'_, Row>, names: &Arc<[String]>) -> Result<Vec<Vec<Value>>> {
        let spec = typed_spec::<R>(q, names);
        query::run(self, &spec)
            .into_iter()
            .filter_map(|s| self.row(s))
            .map(R::values)
            .collect()
    }
    fn dyn_explain(&self, q: &QuerySpec<'_, Row>, names: &Arc<[String]>) -> Plan {
        query::explain(self, &typed_spec::<R>(q, names))
    }
    fn dyn_count(&self, q: &QuerySpec<'_, Row>, names: &Arc<[String]>) -> Result<usize> {
        Ok(query::count(self, &typed_spec::<R>(q, names)))
    }
    fn dyn_keys(&self, q: &QuerySpec<'_, Row>, names: &Arc<[String]>) -> Result<Vec<Value>> {
        let pk = self.schema.primary_key();
        let spec = typed_spec::<R>(q, names);
        Ok(query::run(self, &spec)
            .into_iter()
            .filter_map(|s| self.row(s))
            .map(|r| r.col(pk).to_owned())
            .collect())
    }
    fn dyn_replace(&mut self, rows: Vec<Vec<Value>>) -> Result<usize> {
        let pk = self.schema.primary_key();
        let mut n = 0;
        for values in rows {
            let row = R::from_row(&self.schema, values)?;
            if let Some(slot) = self.find_key(row.col(pk)) {
                self.replace(slot, row)?;
                n += 1;
            }
        }
        Ok(n)
    }
    fn written_since(&self, mark: Mark) -> (Vec<u32>, Vec<Value>) {
        TableData::written_since(self, mark)
    }
    fn col_value(&self, slot: u32, col: usize) -> Value {
        self.row(slot)
            .map_or(Value::Null, |r| r.col(col).to_owned())
    }
    fn has_key(&self, key: &Value) -> bool {
        self.find_key(key.as_ref()).is_some()
    }
    fn slots_where(&self, col: usize, v: &Value) -> Vec<u32> {
        TableData::slots_where(self, col, v)
    }
    fn key_at(&self, slot: u32) -> Value {
        self.col_value(slot, self.schema.primary_key())
    }
    fn set_at(&mut self, slot: u32, col: usize, v: Value) -> Result<()> {
        TableData::set_at(self, slot, col, v)
    }
    fn dyn_delete_keys(&mut self, keys: &[Value]) -> Result<usize> {
        let mut n = 0;
        for k in keys {
            if let Some(s) = self.find_key(k.as_ref()) {
                n += usize::from(self.remove(s));
            }
        }
        Ok(n)
    }
}

#[expect(
    clippy::panic,
    reason = "a table is always one of the two row kinds it was built as"
)]
fn unreachable_table() -> ! {
    panic!("tabula: a table is neither its own row kind nor dynamic")
}

/// Inserts `row`, or replaces the row with the same key.
pub(crate) fn upsert<R: Record>(t: &mut TableData<R>, row: R) -> Result<Value> {
    let pk = t.schema.primary_key();
    if let crate::value::ValueRef::Int(0) = row.col(pk) {
        return t.insert(row);
    }
    row.check_row(&t.schema)?;
    match t.find_key(row.col(pk)) {
        Some(slot) => {
            let key = row.col(pk).to_owned();
            t.replace(slot, row)?;
            Ok(key)
        }
        None => t.insert(row),
    }
}

/// Appends a row as one JSON object: straight from its borrowed columns when the schema
/// allows (no copies), through its values otherwise.
#[inline]
fn encode_row<R: Record>(
    codec: &RowCodec,
    schema: &Schema,
    r: &R,
    out: &mut Vec<u8>,
) -> Result<()> {
    if codec.borrowable() {
        codec.encode_borrowed(|i| r.col(i), out);
    } else {
        codec.encode(schema, &r.values()?, out);
    }
    Ok(())
}

/// Converts a key given by the user to the primary key's type.
#[inline]
pub(crate) fn coerce_key<'a>(schema: &Schema, key: Lookup<'a>) -> Result<Lookup<'a>> {
    let pk = schema.primary_key();
    let ty = schema.columns[pk].ty;
    // A key already in its column's representation (the usual case) is used as it is; only a
    // conversion keeps a copy, for the error message.
    if ty.keeps(key.as_ref()) {
        return Ok(key);
    }
    let key = key.into_value();
    let shown = key.clone();
    ty.coerce(key)
        .map(Lookup::owned)
        .ok_or_else(|| schema.type_mismatch(pk, shown))
}

/// What the database knows about a table beyond its rows: whether its snapshot is loaded,
/// log records waiting to be replayed on load, and whether it changed since the last
/// checkpoint. Tables of an in-memory database are always loaded.
#[derive(Debug)]
pub(crate) struct TableMeta {
    pub(crate) loaded: bool,
    pub(crate) dirty: bool,
    pub(crate) pending: Vec<(u64, crate::storage::wal::RawTableOps)>,
    pub(crate) entry: Option<crate::storage::manifest::TableEntry>,
    pub(crate) schema_crc32c: String,
    pub(crate) migrations: Vec<crate::storage::Migration>,
}

impl Default for TableMeta {
    fn default() -> Self {
        TableMeta {
            loaded: true,
            dirty: true,
            pending: Vec::new(),
            entry: None,
            schema_crc32c: String::new(),
            migrations: Vec::new(),
        }
    }
}

/// Every table of a database, by position (handles keep the position) and by name.
#[derive(Default)]
pub(crate) struct State {
    pub(crate) tables: Vec<Box<dyn AnyTable>>,
    pub(crate) meta: Vec<TableMeta>,
    pub(crate) by_name: HashMap<String, usize>,
}

impl State {
    pub(crate) fn index_of(&self, name: &str) -> Result<usize> {
        self.by_name
            .get(name)
            .copied()
            .ok_or_else(|| Error::UnknownTable { table: name.into() })
    }

    /// Finds or creates the table for `T`, turning a dynamic table of the same schema into a
    /// typed one.
    pub(crate) fn register<T: Table>(&mut self) -> Result<usize> {
        let schema = T::schema();
        let Some(&idx) = self.by_name.get(&schema.table) else {
            let idx = self.tables.len();
            self.tables
                .push(Box::new(TableData::<T>::new(Arc::new(schema.clone()))));
            self.meta.push(TableMeta::default());
            self.by_name.insert(schema.table.clone(), idx);
            return Ok(idx);
        };
        let existing = &self.tables[idx];
        if existing.as_any().is::<TableData<T>>() {
            return Ok(idx);
        }
        let diffs = existing.schema().differences(schema);
        if !diffs.is_empty() {
            return Err(Error::SchemaMismatch {
                table: schema.table.clone(),
                reason: diffs.join("; "),
            });
        }
        if let Some(other) = existing.rust_type() {
            return Err(Error::SchemaMismatch {
                table: schema.table.clone(),
                reason: format!(
                    "already used through Rust type {other}, not {}",
                    std::any::type_name::<T>()
                ),
            });
        }
        let placeholder: Box<dyn AnyTable> =
            Box::new(TableData::<DynRow>::new(existing.schema().clone()));
        let table = std::mem::replace(&mut self.tables[idx], placeholder);
        match table.take_dyn() {
            Ok(dynamic) => match dynamic.convert::<T>() {
                Ok(typed) => {
                    self.tables[idx] = Box::new(typed);
                    Ok(idx)
                }
                Err(e) => {
                    self.tables[idx] = Box::new(dynamic);
                    Err(e)
                }
            },
            Err(table) => {
                self.tables[idx] = table;
                Err(Error::SchemaMismatch {
                    table: schema.table.clone(),
                    reason: "table is attached to another Rust type".into(),
                })
            }
        }
    }

    /// Creates a dynamic table; an existing table of the same schema is reused.
    pub(crate) fn create(&mut self, schema: Schema) -> Result<usize> {
        if let Some(&idx) = self.by_name.get(&schema.table) {
            let diffs = self.tables[idx].schema().differences(&schema);
            if diffs.is_empty() {
                return Ok(idx);
            }
            return Err(Error::SchemaMismatch {
                table: schema.table,
                reason: diffs.join("; "),
            });
        }
        Ok(self.push_dyn(schema, TableMeta::default()))
    }

    /// Adds a dynamic table.
    pub(crate) fn push_dyn(&mut self, schema: Schema, meta: TableMeta) -> usize {
        let idx = self.tables.len();
        self.by_name.insert(schema.table.clone(), idx);
        self.tables
            .push(Box::new(TableData::<DynRow>::new(Arc::new(schema))));
        self.meta.push(meta);
        idx
    }

    /// Removes the table added last (a creation whose schema file could not be written).
    pub(crate) fn pop(&mut self) {
        if let Some(t) = self.tables.pop() {
            self.by_name.remove(&t.schema().table);
            self.meta.pop();
        }
    }
}
