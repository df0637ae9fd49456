use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use tabula::{Database, Table, TableHandle};

#[derive(Table, Debug, Clone)]
struct Account {
    #[column(primary_key)]
    id: u64,
    balance: i64,
}

fn is_shareable<T: Clone + Send + Sync + 'static>() {}

#[test]
fn handles_are_clone_send_sync_static() {
    is_shareable::<Database>();
    is_shareable::<TableHandle<Account>>();
    is_shareable::<tabula::DynTable>();
}

/// Writers move money between accounts in transactions; readers keep summing all balances.
/// A reader that saw half a transaction would see a different total.
#[test]
fn readers_never_see_half_a_transaction() {
    let db = Database::in_memory();
    let accounts = db.table::<Account>().unwrap();
    accounts
        .insert_many((1..=20).map(|id| Account { id, balance: 100 }))
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..2u64 {
        let db = db.clone();
        writers.push(thread::spawn(move || {
            for i in 0..300u64 {
                let from = (i * 7 + w) % 20 + 1;
                let to = (i * 13 + 3 * w) % 20 + 1;
                db.transaction(|tx| {
                    let a = tx.table::<Account>()?;
                    a.update(|x| x.id == from, |x| x.balance -= 5)?;
                    a.update(|x| x.id == to, |x| x.balance += 5)?;
                    Ok(())
                })
                .unwrap();
            }
        }));
    }
    let mut readers = Vec::new();
    for _ in 0..2 {
        let accounts = accounts.clone();
        let stop = stop.clone();
        readers.push(thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) || reads < 10 {
                let total: i64 = accounts
                    .select()
                    .all()
                    .unwrap()
                    .iter()
                    .map(|a| a.balance)
                    .sum();
                assert_eq!(total, 2000, "a reader saw half a transaction");
                reads += 1;
            }
            reads
        }));
    }
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() >= 10);
    }
    let total: i64 = accounts
        .select()
        .all()
        .unwrap()
        .iter()
        .map(|a| a.balance)
        .sum();
    assert_eq!(total, 2000);
}

#[test]
fn concurrent_inserts_get_distinct_keys() {
    let db = Database::in_memory();
    let t = db.table::<Account>().unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let t = t.clone();
            thread::spawn(move || {
                (0..250)
                    .map(|_| t.insert(Account { id: 0, balance: 1 }).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut keys: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 1000);
    assert_eq!(t.count().unwrap(), 1000);
}

#[derive(Table, Debug, Clone)]
struct Entry {
    #[column(primary_key)]
    id: u64,
    text: String,
}

/// A database at `/db` on `fs`.
fn open_on(fs: &tabula::testing::FaultyFs) -> Database {
    Database::builder()
        .file_system(fs.clone())
        .open("/db")
        .unwrap()
}

/// Runs `f` on a thread and waits up to 20 s for its result, so that a read that waits
/// for a parked load or checkpoint shows as a timeout rather than a hung test.
fn within_20s<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> (
    Result<T, std::sync::mpsc::RecvTimeoutError>,
    thread::JoinHandle<()>,
) {
    let (done, finished) = std::sync::mpsc::channel();
    let worker = thread::spawn(move || {
        let _ = done.send(f());
    });
    (
        finished.recv_timeout(std::time::Duration::from_secs(20)),
        worker,
    )
}

/// A table's first load reads and decodes its files with no lock held: while it is stuck in
/// the read of its snapshot, reads and writes of another table go on, and the load then
/// finishes with every row.
#[test]
fn a_first_load_does_not_stall_other_tables() {
    use tabula::testing::FaultyFs;

    let fs = FaultyFs::new();
    {
        let db = open_on(&fs);
        db.table::<Account>()
            .unwrap()
            .insert(Account { id: 1, balance: 5 })
            .unwrap();
        db.table::<Entry>()
            .unwrap()
            .insert_many((0..100).map(|i| Entry {
                id: 0,
                text: format!("e{i}"),
            }))
            .unwrap();
        db.close().unwrap();
    }
    let db = open_on(&fs);
    let accounts = db.table::<Account>().unwrap();
    let parked = fs.park_reads("/db/data/entry.records");
    let loader = {
        let db = db.clone();
        thread::spawn(move || db.table::<Entry>().unwrap().count().unwrap())
    };
    parked.wait_until_parked();
    // With the load parked, another table is read and written.
    let (seen, other) = within_20s({
        let accounts = accounts.clone();
        move || {
            let before = accounts.get(1u64).unwrap().unwrap().balance;
            accounts.insert(Account { id: 2, balance: 7 }).unwrap();
            before
        }
    });
    parked.release();
    assert_eq!(seen, Ok(5), "the other table waited for the load");
    other.join().unwrap();
    assert_eq!(loader.join().unwrap(), 100);
    assert_eq!(accounts.count().unwrap(), 2);
}

/// A checkpoint holds the writers' lock, not the readers': while it is stuck in the write
/// of a snapshot, plain reads go on (a write waits for it, and then commits).
#[test]
fn a_checkpoint_does_not_stall_readers() {
    use tabula::testing::FaultyFs;

    let fs = FaultyFs::new();
    let db = open_on(&fs);
    let accounts = db.table::<Account>().unwrap();
    accounts
        .insert_many((1..=50).map(|id| Account { id, balance: 10 }))
        .unwrap();
    let parked = fs.park_writes("/db/data/account.records.tmp");
    let checkpoint = {
        let db = db.clone();
        thread::spawn(move || db.checkpoint())
    };
    parked.wait_until_parked();
    let (seen, reader) = within_20s({
        let accounts = accounts.clone();
        move || -> i64 {
            accounts
                .select()
                .all()
                .unwrap()
                .iter()
                .map(|a| a.balance)
                .sum()
        }
    });
    // A writer arriving now commits beside the checkpoint.
    let writer = {
        let accounts = accounts.clone();
        thread::spawn(move || accounts.insert(Account { id: 51, balance: 1 }))
    };
    parked.release();
    assert_eq!(seen, Ok(500), "the reader waited for the checkpoint");
    reader.join().unwrap();
    checkpoint.join().unwrap().unwrap();
    writer.join().unwrap().unwrap();
    // The insert that came after the snapshot was encoded is not lost: the table is still
    // dirty, so the next checkpoint (which archives the log) writes it again.
    db.checkpoint().unwrap();
    db.close().unwrap();
    let db = open_on(&fs);
    assert_eq!(db.table::<Account>().unwrap().count().unwrap(), 51);
}
