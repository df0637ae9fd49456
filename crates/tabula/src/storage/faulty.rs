//! [`FaultyFs`]: an in-memory file system that fails a chosen call or loses power, for tests
//! of what a database does when its disk misbehaves. Built with the `testing` feature (and in
//! this crate's own tests); release builds do not contain it.
//!
//! Power loss follows the rules a file system actually promises: a file keeps the contents
//! it had at its last `sync_data`/`sync_all` (writes since are lost), and a create, rename or
//! remove survives only if its directory was fsynced afterwards.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::storage::fs::{DirLock, FileSync, FileSystem, LogFile, OddEntry};
use crate::storage::verify::Problem;

/// An in-memory file system for fault-injection and crash tests.
///
/// Give it to [`Builder::file_system`](crate::Builder::file_system), then arm a fault:
/// [`fail_at`](FaultyFs::fail_at) fails one call and lets the process go on;
/// [`crash_at`](FaultyFs::crash_at) cuts the power at one call, after which nothing the
/// process does reaches the disk. [`power_loss`](FaultyFs::power_loss) puts every file and
/// directory back to what was last fsynced, as after a machine crash, and a database can
/// then be opened again on the same `FaultyFs`. Calls are counted from the last
/// `fail_at`/`crash_at`: creating directories, opening the log, writes, fsyncs, renames,
/// removes and truncations count; reads, listings and taking the lock do not.
///
/// ```
/// use tabula::testing::FaultyFs;
/// use tabula::{Database, Table};
/// #[derive(Table, Clone, Debug)]
/// struct Note { #[column(primary_key)] id: u64, text: String }
///
/// let fs = FaultyFs::new();
/// let open = || Database::builder().file_system(fs.clone()).open("/db");
/// let db = open()?;
/// let notes = db.table::<Note>()?;
/// notes.insert(Note { id: 0, text: "durable".into() })?;
/// fs.crash_at(1); // the next change to the disk never happens, nor any after it
/// assert!(notes.insert(Note { id: 0, text: "lost".into() }).is_err());
/// drop((notes, db));
/// fs.power_loss();
/// let db = open()?;
/// let texts: Vec<String> = db.table::<Note>()?.select().all()?.into_iter().map(|n| n.text).collect();
/// assert_eq!(texts, ["durable"]);
/// # Ok::<(), tabula::Error>(())
/// ```
#[derive(Clone)]
pub struct FaultyFs {
    sim: Arc<Mutex<Sim>>,
    /// The power cycle a database's handle belongs to (`None`: the test's own handle). A
    /// handle from before a power loss belongs to a dead process: its calls fail.
    epoch: Option<u64>,
    /// A read that waits until the test releases it ([`FaultyFs::park_reads`]).
    park: Arc<Mutex<Option<Arc<ParkState>>>>,
}

/// Reads, writes or fsyncs of one file, held until released: see [`FaultyFs::park_reads`],
/// [`FaultyFs::park_writes`] and [`FaultyFs::park_syncs`].
#[derive(Debug, Clone)]
pub struct Parked {
    state: Arc<ParkState>,
}

#[derive(Debug)]
struct ParkState {
    /// `"read"`, `"write"` or `"fsync"`.
    call: &'static str,
    path: PathBuf,
    /// (a read is waiting, it was released)
    flags: Mutex<(bool, bool)>,
    changed: Condvar,
}

impl Parked {
    /// Blocks until a read of the file is waiting (so the database is inside that read).
    pub fn wait_until_parked(&self) {
        let mut flags = self
            .state
            .flags
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while !flags.0 {
            flags = self
                .state
                .changed
                .wait(flags)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Lets the waiting read (and every later one) go on.
    pub fn release(&self) {
        let mut flags = self
            .state
            .flags
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        flags.1 = true;
        self.state.changed.notify_all();
    }
}

impl ParkState {
    fn hold(&self) {
        let mut flags = self.flags.lock().unwrap_or_else(PoisonError::into_inner);
        flags.0 = true;
        self.changed.notify_all();
        while !flags.1 {
            flags = self
                .changed
                .wait(flags)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl std::fmt::Debug for FaultyFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sim = self.lock();
        f.debug_struct("FaultyFs")
            .field("calls", &sim.calls)
            .field("crashed", &sim.dead)
            .finish_non_exhaustive()
    }
}

impl Default for FaultyFs {
    fn default() -> Self {
        FaultyFs::new()
    }
}

const ROOT: usize = 0;

enum Node {
    File {
        data: Vec<u8>,
        /// The contents as of the last fsync.
        durable: Vec<u8>,
    },
    Dir {
        entries: BTreeMap<OsString, usize>,
        /// The entries as of the last fsync of the directory.
        durable: BTreeMap<OsString, usize>,
    },
}

struct Sim {
    nodes: Vec<Node>,
    locks: HashSet<PathBuf>,
    epoch: u64,
    calls: u64,
    fail_at: u64,
    crash_at: u64,
    /// The power went out: nothing changes the disk until `power_loss` restarts the world.
    dead: bool,
    /// The longest a log file may grow (a nearly full disk): see `limit_log_len`.
    log_room: Option<u64>,
    /// Files and directories the process may not read or list: see `deny`.
    denied: HashSet<PathBuf>,
}

fn denied(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("{}: permission denied", path.display()),
    )
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file or directory", path.display()),
    )
}

/// The names along `path`, from the root (relative paths start at the root too).
fn names(path: &Path) -> io::Result<Vec<OsString>> {
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::Prefix(_) | Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => out.push(n.to_owned()),
            Component::ParentDir => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "FaultyFs does not follow `..`",
                ))
            }
        }
    }
    Ok(out)
}

impl Sim {
    /// What a restart (of the machine, or of the process alone) does beside the files:
    /// locks released, the databases opened before cut off, faults disarmed.
    fn restart(&mut self) {
        self.locks.clear();
        self.epoch += 1;
        self.dead = false;
        self.calls = 0;
        self.fail_at = 0;
        self.crash_at = 0;
    }

    fn entries(&self, dir: usize) -> Option<&BTreeMap<OsString, usize>> {
        match &self.nodes[dir] {
            Node::Dir { entries, .. } => Some(entries),
            Node::File { .. } => None,
        }
    }

    fn entries_mut(&mut self, dir: usize) -> Option<&mut BTreeMap<OsString, usize>> {
        match &mut self.nodes[dir] {
            Node::Dir { entries, .. } => Some(entries),
            Node::File { .. } => None,
        }
    }

    /// The node at `path`.
    fn find(&self, path: &Path) -> io::Result<usize> {
        let mut at = ROOT;
        for n in names(path)? {
            at = *self
                .entries(at)
                .and_then(|e| e.get(&n))
                .ok_or_else(|| not_found(path))?;
        }
        Ok(at)
    }

    /// The directory holding `path`, and `path`'s own name in it.
    fn parent(&self, path: &Path) -> io::Result<(usize, OsString)> {
        let mut names = names(path)?;
        let name = names.pop().ok_or_else(|| not_found(path))?;
        let mut at = ROOT;
        for n in names {
            at = *self
                .entries(at)
                .and_then(|e| e.get(&n))
                .ok_or_else(|| not_found(path))?;
        }
        if self.entries(at).is_none() {
            return Err(not_found(path));
        }
        Ok((at, name))
    }

    fn file_mut(&mut self, ino: usize) -> io::Result<(&mut Vec<u8>, &mut Vec<u8>)> {
        match &mut self.nodes[ino] {
            Node::File { data, durable } => Ok((data, durable)),
            Node::Dir { .. } => Err(io::Error::other("is a directory")),
        }
    }

    fn add(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// The file at `path`, created (empty, its name not yet durable) if missing.
    fn open_or_create(&mut self, path: &Path) -> io::Result<usize> {
        let (dir, name) = self.parent(path)?;
        if let Some(&ino) = self.entries(dir).and_then(|e| e.get(&name)) {
            return Ok(ino);
        }
        let ino = self.add(Node::File {
            data: Vec::new(),
            durable: Vec::new(),
        });
        if let Some(e) = self.entries_mut(dir) {
            e.insert(name, ino);
        }
        Ok(ino)
    }
}

impl FaultyFs {
    /// An empty file system: just a root directory.
    pub fn new() -> Self {
        FaultyFs {
            sim: Arc::new(Mutex::new(Sim {
                nodes: vec![Node::Dir {
                    entries: BTreeMap::new(),
                    durable: BTreeMap::new(),
                }],
                locks: HashSet::new(),
                epoch: 0,
                calls: 0,
                fail_at: 0,
                crash_at: 0,
                dead: false,
                log_room: None,
                denied: HashSet::new(),
            })),
            epoch: None,
            park: Arc::new(Mutex::new(None)),
        }
    }

    /// Makes reads of `path` wait until [`Parked::release`]: a test holds the database
    /// inside such a read (a table's first load, say) and checks what other threads can do
    /// meanwhile.
    pub fn park_reads(&self, path: impl AsRef<Path>) -> Parked {
        self.park("read", path.as_ref())
    }

    /// Makes durable writes of `path` (a checkpoint's snapshot, say) wait until
    /// [`Parked::release`], before anything is written.
    pub fn park_writes(&self, path: impl AsRef<Path>) -> Parked {
        self.park("write", path.as_ref())
    }

    /// Makes fsyncs of the log at `path` wait until [`Parked::release`], before anything
    /// becomes durable: a commit's fsync, held.
    pub fn park_syncs(&self, path: impl AsRef<Path>) -> Parked {
        self.park("fsync", path.as_ref())
    }

    fn park(&self, call: &'static str, path: &Path) -> Parked {
        let state = Arc::new(ParkState {
            call,
            path: path.to_path_buf(),
            flags: Mutex::new((false, false)),
            changed: Condvar::new(),
        });
        *self.park.lock().unwrap_or_else(PoisonError::into_inner) = Some(state.clone());
        Parked { state }
    }

    /// Waits here while a test holds `call`s of `path` (see [`FaultyFs::park_reads`]).
    fn hold_if_parked(&self, call: &str, path: &Path) {
        let park = self
            .park
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(p) = park.filter(|p| p.call == call && p.path == path) {
            p.hold();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Sim> {
        self.sim.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A handle for a database opened now: it stops working at the next power loss.
    pub(crate) fn bound(&self) -> FaultyFs {
        FaultyFs {
            sim: self.sim.clone(),
            epoch: Some(self.lock().epoch),
            park: self.park.clone(),
        }
    }

    /// Fails the `n`-th changing call from now (1: the next one) with an I/O error, changing
    /// nothing; the calls after it work. 0 disarms. Resets the call count.
    pub fn fail_at(&self, n: u64) {
        let mut sim = self.lock();
        sim.calls = 0;
        sim.fail_at = n;
        sim.crash_at = 0;
    }

    /// Cuts the power at the `n`-th changing call from now (1: the next one): that call
    /// changes nothing and fails, and so does every later call until
    /// [`power_loss`](FaultyFs::power_loss). 0 disarms. Resets the call count.
    pub fn crash_at(&self, n: u64) {
        let mut sim = self.lock();
        sim.calls = 0;
        sim.crash_at = n;
        sim.fail_at = 0;
    }

    /// The disk fills up: a write to a log file that would make it longer than `len` bytes
    /// writes what fits and fails with `StorageFull`, as `pwrite` on a full disk does.
    /// `None` makes room again. A disk stays full across `power_loss` and `process_exit`.
    pub fn limit_log_len(&self, len: Option<u64>) {
        self.lock().log_room = len;
    }

    /// Changing calls made since the last `fail_at` or `crash_at`.
    pub fn calls(&self) -> u64 {
        self.lock().calls
    }

    /// Whether the power went out (a `crash_at` call was reached).
    pub fn crashed(&self) -> bool {
        self.lock().dead
    }

    /// The machine loses power now (or, after a `crash_at`, restarts): every file goes back
    /// to its contents at its last fsync, every directory to its entries at its last fsync,
    /// locks are released, and the handles of databases opened before fail from now on.
    /// Faults are disarmed.
    pub fn power_loss(&self) {
        let mut sim = self.lock();
        for node in &mut sim.nodes {
            match node {
                Node::File { data, durable } => data.clone_from(durable),
                Node::Dir { entries, durable } => entries.clone_from(durable),
            }
        }
        sim.restart();
    }

    /// The process of the databases opened so far dies (`kill -9`), and the machine runs
    /// on: every file keeps what was written to it, fsynced or not (the operating system
    /// has it), locks are released, and those databases' handles fail from now on. Faults
    /// are disarmed.
    pub fn process_exit(&self) {
        self.lock().restart();
    }

    /// A file's contents as the running process sees them.
    pub fn read(&self, path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
        let sim = self.lock();
        if sim.denied.contains(path.as_ref()) {
            return Err(denied(path.as_ref()));
        }
        let ino = sim.find(path.as_ref())?;
        match &sim.nodes[ino] {
            Node::File { data, .. } => Ok(data.clone()),
            // As the real file system's reads refuse it.
            Node::Dir { .. } => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file: a directory is in its place",
            )),
        }
    }

    /// Makes reads and listings of `path` (a file or a directory, named exactly as the
    /// database names it) fail with `PermissionDenied`, as for a file another user owns;
    /// `None` allows them all again.
    pub fn deny(&self, path: Option<&Path>) {
        let mut sim = self.lock();
        match path {
            Some(p) => {
                sim.denied.insert(p.to_path_buf());
            }
            None => sim.denied.clear(),
        }
    }

    /// Replaces a file's contents, durably (as damage done on disk behind the database's
    /// back would be). The file must exist.
    pub fn write(&self, path: impl AsRef<Path>, bytes: &[u8]) -> io::Result<()> {
        let mut sim = self.lock();
        let ino = sim.find(path.as_ref())?;
        let (data, durable) = sim.file_mut(ino)?;
        *data = bytes.to_vec();
        *durable = bytes.to_vec();
        Ok(())
    }

    /// [`verify`](crate::verify) of a database directory on this file system.
    pub fn verify(&self, path: impl AsRef<Path>) -> crate::error::Result<Vec<Problem>> {
        crate::storage::verify::verify_with(self, path.as_ref())
    }

    /// [`repair`](crate::repair) of a database directory on this file system (`path` as
    /// given: nothing to resolve in a simulated file system).
    pub fn repair(
        &self,
        path: impl AsRef<Path>,
        options: crate::storage::repair::RepairOptions,
    ) -> crate::error::Result<crate::storage::repair::RepairReport> {
        crate::storage::repair::repair_with(self, path.as_ref(), &options)
    }

    /// Counts a changing call: `Err` if it is the one armed to fail, or the power is out.
    fn tick(&self, what: &str) -> io::Result<MutexGuard<'_, Sim>> {
        let mut sim = self.lock();
        if let Some(epoch) = self.epoch {
            if epoch != sim.epoch {
                return Err(io::Error::other(
                    "this database's process lost power (FaultyFs::power_loss)",
                ));
            }
        }
        if sim.dead {
            return Err(io::Error::other(format!("{what}: the power is out")));
        }
        sim.calls += 1;
        let n = sim.calls;
        if sim.crash_at == n {
            sim.dead = true;
            return Err(io::Error::other(format!("{what}: power lost (call {n})")));
        }
        if sim.fail_at == n {
            return Err(io::Error::other(format!(
                "injected failure of {what} (call {n})"
            )));
        }
        Ok(sim)
    }
}

struct SimLog {
    fs: FaultyFs,
    ino: usize,
    path: PathBuf,
}

impl LogFile for SimLog {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut sim = self.fs.tick("log write")?;
        let room = sim.log_room;
        let (file, _) = sim.file_mut(self.ino)?;
        let at = usize::try_from(offset).map_err(io::Error::other)?;
        let fits = room.map_or(data.len(), |r| {
            usize::try_from(r).map_or(data.len(), |r| r.saturating_sub(at).min(data.len()))
        });
        if file.len() < at + fits {
            file.resize(at + fits, 0);
        }
        file[at..at + fits].copy_from_slice(&data[..fits]);
        if fits < data.len() {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device",
            ));
        }
        Ok(())
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let mut sim = self.fs.tick("truncate")?;
        let (file, _) = sim.file_mut(self.ino)?;
        file.resize(usize::try_from(len).map_err(io::Error::other)?, 0);
        Ok(())
    }
    fn syncer(&self) -> io::Result<Box<dyn FileSync>> {
        Ok(Box::new(SimSync {
            fs: self.fs.clone(),
            ino: self.ino,
            path: self.path.clone(),
        }))
    }
}

struct SimSync {
    fs: FaultyFs,
    ino: usize,
    path: PathBuf,
}

impl FileSync for SimSync {
    fn sync_data(&self) -> io::Result<()> {
        self.fs.hold_if_parked("fsync", &self.path);
        let mut sim = self.fs.tick("fsync")?;
        let (data, durable) = sim.file_mut(self.ino)?;
        durable.clone_from(data);
        Ok(())
    }
}

/// A lock held by a database; it lapses at a power loss.
struct SimLock {
    fs: FaultyFs,
    path: PathBuf,
}

impl DirLock for SimLock {}

impl Drop for SimLock {
    fn drop(&mut self) {
        let mut sim = self.fs.lock();
        if self.fs.epoch.is_none_or(|e| e == sim.epoch) {
            sim.locks.remove(&self.path);
        }
    }
}

impl FileSystem for FaultyFs {
    fn create_dir(&self, path: &Path) -> io::Result<()> {
        if self.exists(path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "already exists",
            ));
        }
        self.create_dir_all(path)
    }
    /// Paths here have no links; `..` is resolved by name.
    fn canonical(&self, path: &Path) -> io::Result<PathBuf> {
        let mut out = PathBuf::from("/");
        for c in path.components() {
            match c {
                std::path::Component::ParentDir => {
                    out.pop();
                }
                std::path::Component::Normal(n) => out.push(n),
                _ => {}
            }
        }
        self.lock().find(&out)?;
        Ok(out)
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut sim = self.tick("create_dir")?;
        let mut at = ROOT;
        for n in names(path)? {
            let next = sim.entries(at).and_then(|e| e.get(&n)).copied();
            at = match next {
                Some(ino) => ino,
                None => {
                    let ino = sim.add(Node::Dir {
                        entries: BTreeMap::new(),
                        durable: BTreeMap::new(),
                    });
                    sim.entries_mut(at)
                        .ok_or_else(|| io::Error::other("not a directory"))?
                        .insert(n, ino);
                    ino
                }
            };
        }
        Ok(())
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.hold_if_parked("read", path);
        FaultyFs::read(self, path)
    }
    fn exists(&self, path: &Path) -> bool {
        self.lock().find(path).is_ok()
    }
    fn len(&self, path: &Path) -> io::Result<u64> {
        let sim = self.lock();
        match &sim.nodes[sim.find(path)?] {
            Node::File { data, .. } => Ok(data.len() as u64),
            Node::Dir { .. } => Ok(0),
        }
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let sim = self.lock();
        if sim.denied.contains(dir) {
            return Err(denied(dir));
        }
        let entries = sim
            .entries(sim.find(dir)?)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotADirectory, "not a directory"))?;
        Ok(entries.keys().map(|n| dir.join(n)).collect())
    }
    fn write_new_synced(&self, path: &Path, parts: &[&[u8]]) -> io::Result<()> {
        if self.exists(path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "already exists",
            ));
        }
        self.write_synced(path, parts)
    }
    /// Nothing here is a device or a pipe.
    fn is_special(&self, _path: &Path) -> bool {
        false
    }
    /// Nothing here is a link, a device or a pipe: only a directory is odd.
    fn odd_entry(&self, path: &Path) -> Option<OddEntry> {
        self.list(path).is_ok().then_some(OddEntry::Directory)
    }
    fn write_through(&self, path: &Path, parts: &[&[u8]]) -> io::Result<()> {
        self.write_synced(path, parts)
    }
    fn write_synced(&self, path: &Path, parts: &[&[u8]]) -> io::Result<()> {
        self.hold_if_parked("write", path);
        let mut sim = self.tick("write")?;
        let ino = sim.open_or_create(path)?;
        let (data, durable) = sim.file_mut(ino)?;
        *data = parts.concat();
        durable.clone_from(data);
        Ok(())
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut sim = self.tick("rename")?;
        let (from_dir, from_name) = sim.parent(from)?;
        let (to_dir, to_name) = sim.parent(to)?;
        let ino = sim
            .entries_mut(from_dir)
            .and_then(|e| e.remove(&from_name))
            .ok_or_else(|| not_found(from))?;
        if let Some(e) = sim.entries_mut(to_dir) {
            e.insert(to_name, ino);
        }
        Ok(())
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut sim = self.tick("remove")?;
        let (dir, name) = sim.parent(path)?;
        sim.entries_mut(dir)
            .and_then(|e| e.remove(&name))
            .map(|_| ())
            .ok_or_else(|| not_found(path))
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut sim = self.tick("sync_dir")?;
        let ino = sim.find(dir)?;
        match &mut sim.nodes[ino] {
            Node::Dir { entries, durable } => durable.clone_from(entries),
            Node::File { .. } => return Err(io::Error::other("not a directory")),
        }
        Ok(())
    }
    fn open_log(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
        let mut sim = self.tick("open")?;
        let ino = sim.open_or_create(path)?;
        drop(sim);
        Ok(Box::new(SimLog {
            fs: self.clone(),
            ino,
            path: path.to_path_buf(),
        }))
    }
    fn try_lock(&self, path: &Path) -> io::Result<Option<Box<dyn DirLock>>> {
        let mut sim = self.lock();
        if let Some(epoch) = self.epoch {
            if epoch != sim.epoch {
                return Err(io::Error::other("this database's process lost power"));
            }
        }
        sim.open_or_create(path)?;
        if !sim.locks.insert(path.to_path_buf()) {
            return Ok(None);
        }
        Ok(Some(Box::new(SimLock {
            fs: self.clone(),
            path: path.to_path_buf(),
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_loss_keeps_only_what_was_synced() {
        let fs = FaultyFs::new();
        let db = fs.bound();
        db.create_dir_all(Path::new("/d")).unwrap();
        db.sync_dir(Path::new("/")).unwrap();
        // Named durably: kept.
        db.write_synced(Path::new("/d/b"), &[b"b1"]).unwrap();
        let mut log = db.open_log(Path::new("/d/log")).unwrap();
        db.sync_dir(Path::new("/d")).unwrap();
        // Written and fsynced, but its name never made durable: gone.
        db.write_synced(Path::new("/d/a"), &[b"a"]).unwrap();
        // Replaced by a rename that was not synced: the old contents stay.
        db.write_synced(Path::new("/d/b.tmp"), &[b"b2"]).unwrap();
        db.rename(Path::new("/d/b.tmp"), Path::new("/d/b")).unwrap();
        // The log keeps what its last sync covered.
        log.write_at(0, b"one\n").unwrap();
        log.syncer().unwrap().sync_data().unwrap();
        log.write_at(4, b"two\n").unwrap();
        assert_eq!(fs.read("/d/b").unwrap(), b"b2");
        assert_eq!(fs.read("/d/log").unwrap(), b"one\ntwo\n");
        fs.power_loss();
        assert!(!FileSystem::exists(&fs, Path::new("/d/a")));
        assert_eq!(fs.read("/d/b").unwrap(), b"b1");
        assert!(!FileSystem::exists(&fs, Path::new("/d/b.tmp")));
        assert_eq!(fs.read("/d/log").unwrap(), b"one\n");
        // The old process's handles are dead.
        assert!(log.write_at(8, b"x").is_err());
        assert!(db.write_synced(Path::new("/d/c"), &[b"c"]).is_err());
    }

    #[test]
    fn a_crash_stops_every_later_change() {
        let fs = FaultyFs::new();
        let db = fs.bound();
        db.create_dir_all(Path::new("/d")).unwrap();
        fs.crash_at(2);
        db.write_synced(Path::new("/d/a"), &[b"a"]).unwrap();
        assert!(db.write_synced(Path::new("/d/b"), &[b"b"]).is_err());
        assert!(fs.crashed());
        assert!(db.sync_dir(Path::new("/d")).is_err());
        fs.power_loss();
        // Nothing under /d was ever made durable, not even /d itself.
        assert!(!FileSystem::exists(&fs, Path::new("/d")));
        let lock = fs.bound().try_lock(Path::new("/LOCK")).unwrap();
        assert!(lock.is_some());
        assert!(fs.bound().try_lock(Path::new("/LOCK")).unwrap().is_none());
        drop(lock);
        assert!(fs.bound().try_lock(Path::new("/LOCK")).unwrap().is_some());
    }

    #[test]
    fn fail_at_fails_one_call_only() {
        let fs = FaultyFs::new();
        let db = fs.bound();
        fs.fail_at(1);
        assert!(db.create_dir_all(Path::new("/d")).is_err());
        assert!(!FileSystem::exists(&fs, Path::new("/d")));
        db.create_dir_all(Path::new("/d")).unwrap();
        assert_eq!(fs.calls(), 2);
        assert!(!fs.crashed());
    }
}
