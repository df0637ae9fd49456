//! Random operation sequences against a plain `BTreeMap` model: every query result and every
//! constraint error must agree, after every step.
//!
//! The durable variant runs on [`FaultyFs`] and adds the steps a database lives through:
//! reopening (with and without the checkpoint of `close`), checkpoints, a migration to a
//! new version of the row type, transactions that create a table, and power losses: at any
//! moment, and at the N-th file-system call of a checkpoint, a commit or a migration. A
//! power loss keeps what was fsynced and nothing else; every acknowledged commit must
//! survive it, and a commit cut short must be there entirely or not at all.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use tabula::testing::FaultyFs;
use tabula::{Database, Error, Table, TableHandle, TxTable};

/// Version 1 of the model's table.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "item")]
struct Item {
    #[column(primary_key)]
    id: u64,
    #[column(unique)]
    email: String,
    #[column(index)]
    year: u32,
    score: i64,
}

/// Version 2: a nullable column added, so attaching it migrates a stored version 1.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "item")]
struct ItemV2 {
    #[column(primary_key)]
    id: u64,
    #[column(unique)]
    email: String,
    #[column(index)]
    year: u32,
    score: i64,
    note: Option<String>,
}

/// A table that transactions create (and, when they abort, must leave uncreated).
#[derive(Table, Debug, Clone, PartialEq)]
#[table(name = "tag")]
struct Tag {
    #[column(primary_key)]
    id: u64,
}

/// A row as the model keeps it, whatever the version (version 1 has no notes).
#[derive(Debug, Clone, PartialEq)]
struct Row {
    id: u64,
    email: String,
    year: u32,
    score: i64,
    note: Option<String>,
}

/// A version of the row type, seen through the model's rows.
trait Version: Table {
    fn from_row(r: &Row) -> Self;
    fn row(&self) -> Row;
    fn key(k: Self::Key) -> u64;
}

impl Version for Item {
    fn from_row(r: &Row) -> Self {
        Item {
            id: r.id,
            email: r.email.clone(),
            year: r.year,
            score: r.score,
        }
    }
    fn row(&self) -> Row {
        Row {
            id: self.id,
            email: self.email.clone(),
            year: self.year,
            score: self.score,
            note: None,
        }
    }
    fn key(k: u64) -> u64 {
        k
    }
}

impl Version for ItemV2 {
    fn from_row(r: &Row) -> Self {
        ItemV2 {
            id: r.id,
            email: r.email.clone(),
            year: r.year,
            score: r.score,
            note: r.note.clone(),
        }
    }
    fn row(&self) -> Row {
        Row {
            id: self.id,
            email: self.email.clone(),
            year: self.year,
            score: self.score,
            note: self.note.clone(),
        }
    }
    fn key(k: u64) -> u64 {
        k
    }
}

#[derive(Debug, Clone)]
enum Op {
    Insert {
        key: u64,
        email: u8,
        year: u32,
        score: i64,
    },
    Upsert {
        key: u64,
        email: u8,
        year: u32,
        score: i64,
    },
    UpdateYear {
        year: u32,
        email: Option<u8>,
        score: i64,
    },
    DeleteYear {
        year: u32,
    },
    DeleteKey {
        key: u64,
    },
    Tx {
        ops: Vec<Op>,
        commit: bool,
    },
    /// A transaction that inserts a tag (creating the `tag` table if it does not exist) and
    /// an item, then commits or aborts.
    TxTag {
        tag: u64,
        email: u8,
        commit: bool,
    },
    /// A new version of the program (row type version 2) opens the database and first uses
    /// the table inside a transaction that writes: the migration is refused there, so
    /// nothing of the transaction remains. (Nothing to do once migrated.)
    TxMigrate {
        email: u8,
    },
    /// `DROP TABLE tag` (an `UnknownTable` error while it does not exist).
    DropTag,
    // The durable steps.
    /// `close` (which checkpoints) and open again.
    Reopen,
    /// Drop without closing, and open again.
    DropReopen,
    Checkpoint,
    /// A new version of the program opens the database: attaching row type version 2
    /// migrates the stored table.
    Migrate,
    /// The power goes out between two operations.
    PowerLoss,
    /// The power goes out at the `at`-th file-system call of a checkpoint.
    CrashInCheckpoint {
        at: u64,
    },
    /// The power goes out at the `at`-th file-system call of an operation.
    CrashIn {
        at: u64,
        op: Box<Op>,
    },
}

fn leaf() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..12u64, 0..10u8, 0..4u32, -5..5i64)
            .prop_map(|(key, email, year, score)| Op::Insert { key, email, year, score }),
        1 => (0..12u64, 0..10u8, 0..4u32, -5..5i64)
            .prop_map(|(key, email, year, score)| Op::Upsert { key, email, year, score }),
        2 => (0..4u32, proptest::option::of(0..10u8), -5..5i64)
            .prop_map(|(year, email, score)| Op::UpdateYear { year, email, score }),
        1 => (0..4u32).prop_map(|year| Op::DeleteYear { year }),
        1 => (0..12u64).prop_map(|key| Op::DeleteKey { key }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => leaf(),
        1 => (proptest::collection::vec(leaf(), 1..5), any::<bool>())
            .prop_map(|(ops, commit)| Op::Tx { ops, commit }),
    ]
}

fn durable_op() -> impl Strategy<Value = Op> {
    let writes = prop_oneof![
        3 => leaf(),
        1 => (proptest::collection::vec(leaf(), 1..4), any::<bool>())
            .prop_map(|(ops, commit)| Op::Tx { ops, commit }),
        1 => (1..5u64, 0..10u8, any::<bool>())
            .prop_map(|(tag, email, commit)| Op::TxTag { tag, email, commit }),
        1 => Just(Op::DropTag),
    ];
    prop_oneof![
        10 => writes.clone(),
        1 => (0..10u8).prop_map(|email| Op::TxMigrate { email }),
        1 => Just(Op::Reopen),
        1 => Just(Op::DropReopen),
        2 => Just(Op::Checkpoint),
        1 => Just(Op::Migrate),
        1 => Just(Op::PowerLoss),
        2 => (1..40u64).prop_map(|at| Op::CrashInCheckpoint { at }),
        2 => (1..8u64, writes).prop_map(|(at, op)| Op::CrashIn { at, op: Box::new(op) }),
        1 => (1..30u64).prop_map(|at| Op::CrashIn { at, op: Box::new(Op::Migrate) }),
        1 => (1..30u64).prop_map(|at| Op::CrashIn { at, op: Box::new(Op::DropTag) }),
    ]
}

#[derive(Debug, Clone, PartialEq)]
struct Model {
    rows: BTreeMap<u64, Row>,
    next: u64,
    /// The `tag` table's keys, `None` while it does not exist.
    tags: Option<BTreeSet<u64>>,
    /// Whether the stored version has notes (a migration happened).
    notes: bool,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            rows: BTreeMap::new(),
            next: 1,
            tags: None,
            notes: false,
        }
    }
}

fn email(e: u8) -> String {
    format!("e{e}")
}

/// The note an operation writes, in a version that has notes.
fn note(score: i64) -> Option<String> {
    Some(format!("n{score}"))
}

impl Model {
    fn email_taken(&self, e: &str, except: u64) -> bool {
        self.rows.values().any(|r| r.email == e && r.id != except)
    }

    fn note(&self, score: i64) -> Option<String> {
        if self.notes {
            note(score)
        } else {
            None
        }
    }

    /// Returns whether the op succeeded; on failure the model is unchanged.
    fn apply(&mut self, op: &Op) -> bool {
        let before = self.clone();
        let ok = self.apply_inner(op);
        if !ok {
            *self = before;
        }
        ok
    }

    fn apply_inner(&mut self, op: &Op) -> bool {
        match *op {
            Op::Insert {
                key,
                email: e,
                year,
                score,
            } => {
                let id = if key == 0 { self.next } else { key };
                if self.rows.contains_key(&id) || self.email_taken(&email(e), u64::MAX) {
                    return false;
                }
                let note = self.note(score);
                self.rows.insert(
                    id,
                    Row {
                        id,
                        email: email(e),
                        year,
                        score,
                        note,
                    },
                );
                self.next = self.next.max(id + 1);
                true
            }
            Op::Upsert {
                key,
                email: e,
                year,
                score,
            } => {
                if key == 0 || !self.rows.contains_key(&key) {
                    return self.apply_inner(&Op::Insert {
                        key,
                        email: e,
                        year,
                        score,
                    });
                }
                if self.email_taken(&email(e), key) {
                    return false;
                }
                let note = self.note(score);
                self.rows.insert(
                    key,
                    Row {
                        id: key,
                        email: email(e),
                        year,
                        score,
                        note,
                    },
                );
                true
            }
            Op::UpdateYear {
                year,
                email: e,
                score,
            } => {
                let keys: Vec<u64> = self
                    .rows
                    .values()
                    .filter(|r| r.year == year)
                    .map(|r| r.id)
                    .collect();
                let note = self.note(score);
                for k in keys {
                    let mut r = self.rows[&k].clone();
                    r.score = score;
                    r.note = note.clone();
                    if let Some(e) = e {
                        r.email = email(e);
                    }
                    if self.email_taken(&r.email, k) {
                        return false;
                    }
                    self.rows.insert(k, r);
                }
                true
            }
            Op::DeleteYear { year } => {
                self.rows.retain(|_, r| r.year != year);
                true
            }
            Op::DeleteKey { key } => {
                self.rows.remove(&key);
                true
            }
            Op::Tx { ref ops, commit } => {
                for op in ops {
                    self.apply(op);
                }
                commit
            }
            Op::TxTag {
                tag,
                email: e,
                commit,
            } => {
                let tags = self.tags.get_or_insert_with(BTreeSet::new);
                // A duplicate tag fails its statement only; the transaction goes on.
                tags.insert(tag);
                self.apply(&Op::Insert {
                    key: 0,
                    email: e,
                    year: 0,
                    score: 0,
                });
                commit
            }
            // Refused in the transaction: nothing remains.
            Op::TxMigrate { .. } => false,
            Op::DropTag => self.tags.take().is_some(),
            Op::Migrate => {
                self.notes = true;
                true
            }
            Op::Reopen
            | Op::DropReopen
            | Op::Checkpoint
            | Op::PowerLoss
            | Op::CrashInCheckpoint { .. }
            | Op::CrashIn { .. } => true,
        }
    }
}

/// What an op's result says: whether it succeeded. The only failure the model makes is a
/// unique violation (and a transaction's abort); with `crashing`, the power may be out, and
/// any error is a failure.
fn succeeded<O>(r: tabula::Result<O>, crashing: bool) -> bool {
    match r {
        Ok(_) => true,
        Err(Error::UniqueViolation { .. } | Error::Aborted(_)) => false,
        Err(_) if crashing => false,
        Err(e) => panic!("an error the model does not make: {e}"),
    }
}

/// The writes a plain handle and a transaction's handle both make.
trait Writes<T> {
    fn insert(&self, r: T) -> tabula::Result<()>;
    fn upsert(&self, r: T) -> tabula::Result<()>;
    fn update(&self, pred: &dyn Fn(&T) -> bool, f: &mut dyn FnMut(&mut T)) -> tabula::Result<()>;
    fn delete(&self, pred: &dyn Fn(&T) -> bool) -> tabula::Result<()>;
    fn delete_key(&self, key: u64) -> tabula::Result<()>;
}

/// Both handles have these methods under the same names: implement `Writes` by calling them.
macro_rules! writes_through {
    ($($handle:ty),*) => {$(
        impl<T: Table> Writes<T> for $handle {
            fn insert(&self, r: T) -> tabula::Result<()> {
                <$handle>::insert(self, r).map(drop)
            }
            fn upsert(&self, r: T) -> tabula::Result<()> {
                <$handle>::upsert(self, r).map(drop)
            }
            fn update(
                &self,
                pred: &dyn Fn(&T) -> bool,
                f: &mut dyn FnMut(&mut T),
            ) -> tabula::Result<()> {
                <$handle>::update(self, pred, f).map(drop)
            }
            fn delete(&self, pred: &dyn Fn(&T) -> bool) -> tabula::Result<()> {
                <$handle>::delete(self, pred).map(drop)
            }
            fn delete_key(&self, key: u64) -> tabula::Result<()> {
                <$handle>::delete_key(self, key).map(drop)
            }
        }
    )*};
}

writes_through!(TableHandle<T>, TxTable<'_, T>);

/// Runs a one-statement op on the table of version `T`.
fn run_statement<T: Version>(t: &impl Writes<T>, m: &Model, op: &Op) -> tabula::Result<()> {
    let row = |key: u64, e: u8, year: u32, score: i64| {
        T::from_row(&Row {
            id: key,
            email: email(e),
            year,
            score,
            note: m.note(score),
        })
    };
    match *op {
        Op::Insert {
            key,
            email,
            year,
            score,
        } => t.insert(row(key, email, year, score)),
        Op::Upsert {
            key,
            email,
            year,
            score,
        } => t.upsert(row(key, email, year, score)),
        Op::UpdateYear {
            year,
            email: e,
            score,
        } => t.update(&|r| r.row().year == year, &mut |r| {
            let mut x = r.row();
            x.score = score;
            x.note = m.note(score);
            if let Some(e) = e {
                x.email = email(e);
            }
            *r = T::from_row(&x);
        }),
        Op::DeleteYear { year } => t.delete(&|r| r.row().year == year),
        Op::DeleteKey { key } => t.delete_key(key),
        _ => unreachable!("not a single-statement op: {op:?}"),
    }
}

/// Runs a transaction op.
fn run_tx<T: Version>(db: &Database, m: &Model, op: &Op) -> tabula::Result<()> {
    db.transaction(|tx| {
        let t = tx.table::<T>()?;
        let commit = match op {
            Op::Tx { ops, commit } => {
                for op in ops {
                    let _ = run_statement(&t, m, op);
                }
                *commit
            }
            Op::TxTag { tag, email, commit } => {
                let _ = tx.table::<Tag>()?.insert(Tag { id: *tag });
                let insert = Op::Insert {
                    key: 0,
                    email: *email,
                    year: 0,
                    score: 0,
                };
                let _ = run_statement(&t, m, &insert);
                *commit
            }
            other => unreachable!("not a transaction: {other:?}"),
        };
        if commit {
            Ok(())
        } else {
            Err(Error::abort("the model aborts"))
        }
    })
}

/// Every query the model can answer, on the table of version `T`.
fn check_queries<T: Version>(t: &TableHandle<T>, m: &Model) {
    let rows = |v: Vec<T>| v.iter().map(T::row).collect::<Vec<_>>();
    let all: Vec<Row> = m.rows.values().cloned().collect();
    assert_eq!(rows(t.select().all().unwrap()), all);
    assert_eq!(t.count().unwrap(), all.len());
    for year in 0..4u32 {
        let want: Vec<Row> = all.iter().filter(|r| r.year == year).cloned().collect();
        assert_eq!(rows(t.select().where_eq("year", year).all().unwrap()), want);
    }
    let want: Vec<Row> = all
        .iter()
        .filter(|r| (1..=2).contains(&r.year))
        .cloned()
        .collect();
    assert_eq!(
        rows(t.select().where_range("year", 1..=2).all().unwrap()),
        want
    );
    for e in 0..10u8 {
        let want = all.iter().find(|r| r.email == email(e)).cloned();
        assert_eq!(t.get_by("email", email(e)).unwrap().map(|r| r.row()), want);
    }
    let mut by_score = all.clone();
    by_score.sort_by(|a, b| b.score.cmp(&a.score).then(a.id.cmp(&b.id)));
    let got = t
        .select()
        .order_by("-score")
        .limit(3)
        .offset(1)
        .all()
        .unwrap();
    assert_eq!(
        rows(got),
        by_score.iter().skip(1).take(3).cloned().collect::<Vec<_>>()
    );
    let mut by_year = all.clone();
    by_year.sort_by(|a, b| {
        b.year
            .cmp(&a.year)
            .then(a.score.cmp(&b.score))
            .then(a.id.cmp(&b.id))
    });
    let got = t
        .select()
        .order_by("-year")
        .order_by("score")
        .limit(4)
        .all()
        .unwrap();
    assert_eq!(
        rows(got),
        by_year.iter().take(4).cloned().collect::<Vec<_>>()
    );
    let got = t
        .select()
        .filter(|r| r.row().score > 0)
        .where_range("year", 2..)
        .keys()
        .unwrap();
    let want: Vec<u64> = all
        .iter()
        .filter(|r| r.score > 0 && r.year >= 2)
        .map(|r| r.id)
        .collect();
    let got: Vec<u64> = got.into_iter().map(T::key).collect();
    assert_eq!(got, want);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
    #[test]
    fn table_matches_model(ops in proptest::collection::vec(op(), 1..40)) {
        let db = Database::in_memory();
        let t = db.table::<Item>().unwrap();
        let mut m = Model::default();
        for op in &ops {
            let want = m.apply(op);
            let got = succeeded(match op {
                Op::Tx { .. } => run_tx::<Item>(&db, &m, op),
                _ => run_statement(&t, &m, op),
            }, false);
            prop_assert_eq!(got, want, "op {:?}", op);
            check_queries(&t, &m);
        }
    }
}

/// The durable database under test: its file system, the open database, and the handle on
/// the row table's current version.
struct Durable {
    fs: FaultyFs,
    auto_checkpoint: Option<u64>,
    /// A power loss is armed: any error may come of it.
    crashing: bool,
    db: Option<Database>,
    table: Option<Versioned>,
}

enum Versioned {
    V1(TableHandle<Item>),
    V2(TableHandle<ItemV2>),
}

/// Runs `$e` with `$t` bound to the current version's handle.
macro_rules! with_table {
    ($d:expr, $t:ident => $e:expr) => {
        match $d.table.as_ref().unwrap() {
            Versioned::V1($t) => $e,
            Versioned::V2($t) => $e,
        }
    };
}

impl Durable {
    fn new(auto_checkpoint: Option<u64>) -> Self {
        let mut d = Durable {
            fs: FaultyFs::new(),
            auto_checkpoint,
            crashing: false,
            db: None,
            table: None,
        };
        d.open(false);
        d
    }

    fn db(&self) -> &Database {
        self.db.as_ref().unwrap()
    }

    fn open_db(&self) -> Database {
        Database::builder()
            .file_system(self.fs.clone())
            .auto_checkpoint_bytes(self.auto_checkpoint)
            .open("/db")
            .unwrap_or_else(|e| panic!("reopening failed: {e}"))
    }

    /// Opens the database and attaches the row table as version 2 if `notes` (migrating a
    /// stored version 1), else as version 1.
    fn open(&mut self, notes: bool) {
        let db = self.open_db();
        self.table = Some(if notes {
            Versioned::V2(db.table::<ItemV2>().unwrap())
        } else {
            Versioned::V1(db.table::<Item>().unwrap())
        });
        self.db = Some(db);
    }

    fn drop_db(&mut self) {
        self.table = None;
        self.db = None;
    }

    fn power_loss(&mut self, notes: bool) {
        self.drop_db();
        self.fs.power_loss();
        self.open(notes);
    }

    /// Runs a write op; whether it succeeded.
    fn write(&mut self, m: &Model, op: &Op) -> bool {
        let v2 = matches!(self.table, Some(Versioned::V2(_)));
        match op {
            Op::TxMigrate { email: e } if !v2 => {
                self.drop_db();
                let db = self.open_db();
                let r = db.transaction(|tx| {
                    let items = tx.dyn_table("item")?;
                    // An email no other op uses, so the insert itself succeeds.
                    let fresh = format!("migrating{e}");
                    items.insert(tabula::row! { "email" => fresh, "year" => 3, "score" => 1 })?;
                    tx.table::<ItemV2>()?;
                    Ok(())
                });
                assert!(
                    matches!(r, Err(Error::MigrationInTransaction { .. })),
                    "{r:?}"
                );
                self.table = Some(Versioned::V1(db.table::<Item>().unwrap()));
                self.db = Some(db);
                false
            }
            Op::TxMigrate { .. } => false,
            Op::DropTag => match self.db().drop_table("tag") {
                Ok(()) => true,
                Err(Error::UnknownTable { table }) if table == "tag" => false,
                Err(_) if self.crashing => false,
                Err(e) => panic!("an error the model does not make: {e}"),
            },
            Op::Tx { .. } | Op::TxTag { .. } => {
                let db = self.db().clone();
                succeeded(
                    with_table!(self, t => run_tx_on(&db, m, op, t)),
                    self.crashing,
                )
            }
            Op::Migrate if v2 => true,
            Op::Migrate => {
                self.drop_db();
                let opened = Database::builder()
                    .file_system(self.fs.clone())
                    .auto_checkpoint_bytes(self.auto_checkpoint)
                    .open("/db")
                    .and_then(|db| Ok((db.table::<ItemV2>()?, db)));
                match opened {
                    Ok((t, db)) => {
                        self.table = Some(Versioned::V2(t));
                        self.db = Some(db);
                        true
                    }
                    Err(_) => false,
                }
            }
            _ => succeeded(
                with_table!(self, t => run_statement(t, m, op)),
                self.crashing,
            ),
        }
    }

    /// The key the next auto-increment insert into `item` takes, found by an insert in a
    /// transaction that aborts (and so changes nothing).
    fn next_key(&self) -> u64 {
        let mut next = None;
        let r = self.db().transaction(|tx| {
            let key = tx
                .dyn_table("item")?
                .insert(tabula::row! { "email" => "probe", "year" => 0, "score" => 0 })?;
            next = key.as_i64();
            Err::<(), _>(Error::abort("a probe"))
        });
        assert!(matches!(r, Err(Error::Aborted(_))), "{r:?}");
        next.and_then(|k| u64::try_from(k).ok())
            .expect("an integer key")
    }

    /// The rows and tags the database holds now.
    fn state(&self) -> (Vec<Row>, Option<BTreeSet<u64>>) {
        let rows =
            with_table!(self, t => t.select().all().unwrap().iter().map(|r| r.row()).collect());
        let names = self.db().table_names().unwrap();
        let tags = names.contains(&"tag".to_string()).then(|| {
            let tags = self.db().table::<Tag>().unwrap();
            tags.select()
                .all()
                .unwrap()
                .into_iter()
                .map(|t| t.id)
                .collect()
        });
        (rows, tags)
    }

    /// Checks every query against the model.
    fn check(&self, m: &Model) {
        with_table!(self, t => check_queries(t, m));
        let (_, tags) = self.state();
        assert_eq!(tags, m.tags, "the tag table");
    }
}

/// [`run_tx`] for the version of `_t`.
fn run_tx_on<T: Version>(
    db: &Database,
    m: &Model,
    op: &Op,
    _t: &TableHandle<T>,
) -> tabula::Result<()> {
    run_tx::<T>(db, m, op)
}

/// Whether the database's state is the model's.
fn same(state: &(Vec<Row>, Option<BTreeSet<u64>>), m: &Model) -> bool {
    let rows: Vec<Row> = m.rows.values().cloned().collect();
    state.0 == rows && state.1 == m.tags
}

fn run_durable(ops: &[Op], auto_checkpoint: Option<u64>) {
    let mut d = Durable::new(auto_checkpoint);
    let mut m = Model::default();
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Reopen => {
                d.db().close().unwrap();
                d.drop_db();
                d.open(m.notes);
            }
            Op::DropReopen => {
                d.drop_db();
                d.open(m.notes);
            }
            Op::Checkpoint => d.db().checkpoint().unwrap(),
            Op::PowerLoss => d.power_loss(m.notes),
            Op::CrashInCheckpoint { at } => {
                d.fs.crash_at(*at);
                let r = d.db().checkpoint();
                assert_eq!(r.is_err(), d.fs.crashed(), "step {i}: {r:?}");
                // A checkpoint changes no committed row, crash or not.
                d.power_loss(m.notes);
            }
            Op::CrashIn { at, op } => {
                let before = m.clone();
                let mut after = m.clone();
                after.apply(op);
                d.fs.crash_at(*at);
                d.crashing = true;
                let ok = d.write(&m, op);
                d.crashing = false;
                let crashed = d.fs.crashed();
                let notes = after.notes;
                d.power_loss(notes);
                // Rows alone may not tell the two apart (a key used by a row deleted in the
                // same transaction): the next key does.
                let state = (d.state(), d.next_key());
                let same = |m: &Model| same(&state.0, m) && state.1 == m.next;
                m = if same(&after) && (ok || crashed) {
                    after
                } else if same(&before) && !ok {
                    // A commit cut short may be lost entirely (never acknowledged).
                    Model { notes, ..before }
                } else {
                    panic!(
                        "step {i}: after a power loss in {op:?} (returned ok: {ok}), the database \
                         holds {state:?}, neither the state before ({before:?}) nor after ({after:?})"
                    );
                };
            }
            op => {
                let want = m.apply(op);
                let got = d.write(&m, op);
                assert_eq!(got, want, "step {i}: op {op:?}");
            }
        }
        d.check(&m);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
    #[test]
    fn durable_table_matches_model(
        ops in proptest::collection::vec(durable_op(), 1..40),
        auto_checkpoint in proptest::option::of(Just(4096u64)),
    ) {
        run_durable(&ops, auto_checkpoint);
    }
}
