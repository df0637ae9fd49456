//! The only place tabula touches the file system. Everything goes through [`FileSystem`], so
//! tests can plug in [`FaultyFs`], which fails a chosen call, to check that every write,
//! fsync, rename and create site leaves memory unchanged and the directory recoverable.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// An open log file (the write-ahead log), written at chosen offsets: the log is
/// preallocated with zeros and records overwrite them, so most fsyncs need not update the
/// file's size.
pub(crate) trait LogFile: Send + Sync {
    /// Writes all of `data` at byte `offset`.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Cuts the file to `len` bytes (drops a partly written line or unused preallocation).
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    /// A second handle that can fsync the file while appends go on through this one.
    fn syncer(&self) -> io::Result<Box<dyn FileSync>>;
}

/// A handle used only to fsync a file (group commit: the leader syncs for everyone).
pub(crate) trait FileSync: Send + Sync {
    fn sync_data(&self) -> io::Result<()>;
}

/// A held lock on the database directory; dropping it releases the lock.
pub(crate) trait DirLock: Send + Sync {}

/// File-system operations, as tabula uses them.
pub(crate) trait FileSystem:
    Send + Sync + std::panic::RefUnwindSafe + std::panic::UnwindSafe
{
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    fn exists(&self, path: &Path) -> bool;
    fn len(&self, path: &Path) -> io::Result<u64>;
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
    /// Creates or truncates `path`, writes `parts` one after the other, fsyncs the file.
    fn write_synced(&self, path: &Path, parts: &[&[u8]]) -> io::Result<()>;
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Fsyncs a directory, making creates and renames in it durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Opens `path` for writing at offsets, creating it if missing, keeping its contents.
    fn open_log(&self, path: &Path) -> io::Result<Box<dyn LogFile>>;
    /// Takes an exclusive lock on `path`; `None` if another holder has it.
    fn try_lock(&self, path: &Path) -> io::Result<Option<Box<dyn DirLock>>>;
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct StdFs;

struct StdLog(File);

impl LogFile for StdLog {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::write_all_at(&self.0, data, offset)
        }
        #[cfg(not(unix))]
        {
            use std::io::{Seek, SeekFrom};
            self.0.seek(SeekFrom::Start(offset))?;
            self.0.write_all(data)
        }
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn syncer(&self) -> io::Result<Box<dyn FileSync>> {
        Ok(Box::new(StdSync(self.0.try_clone()?)))
    }
}

struct StdSync(File);

impl FileSync for StdSync {
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
}

struct StdLock(#[expect(dead_code, reason = "held for its Drop, which releases the lock")] File);
impl DirLock for StdLock {}

impl FileSystem for StdFs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::create_dir_all(path)
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
    fn len(&self, path: &Path) -> io::Result<u64> {
        fs::metadata(path).map(|m| m.len())
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for e in fs::read_dir(dir)? {
            out.push(e?.path());
        }
        out.sort();
        Ok(out)
    }
    fn write_synced(&self, path: &Path, parts: &[&[u8]]) -> io::Result<()> {
        let mut f = File::create(path)?;
        for part in parts {
            f.write_all(part)?;
        }
        f.sync_all()
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        // Directories can be opened read-only and fsynced on Unix; elsewhere this is a no-op.
        #[cfg(unix)]
        {
            File::open(dir)?.sync_all()
        }
        #[cfg(not(unix))]
        {
            let _ = dir;
            Ok(())
        }
    }
    fn open_log(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        Ok(Box::new(StdLog(f)))
    }
    fn try_lock(&self, path: &Path) -> io::Result<Option<Box<dyn DirLock>>> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        match f.try_lock() {
            Ok(()) => Ok(Some(Box::new(StdLock(f)))),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => Err(e),
        }
    }
}

/// A file system that fails the N-th mutating call (write, fsync, rename, create, remove,
/// truncate, log write) with an I/O error, counting from 1; `0` never fails. Reads never fail.
#[derive(Clone)]
pub(crate) struct FaultyFs {
    inner: StdFs,
    calls: Arc<AtomicU64>,
    fail_at: Arc<AtomicU64>,
}

impl FaultyFs {
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "used by the fault-injection tests")
    )]
    pub(crate) fn new() -> Self {
        FaultyFs {
            inner: StdFs,
            calls: Arc::new(AtomicU64::new(0)),
            fail_at: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Fails the `n`-th mutating call from now (1 = the next one); 0 disarms.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "used by the fault-injection tests")
    )]
    pub(crate) fn fail_at(&self, n: u64) {
        self.calls.store(0, Ordering::SeqCst);
        self.fail_at.store(n, Ordering::SeqCst);
    }

    /// Mutating calls made since the last `fail_at`.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "used by the fault-injection tests")
    )]
    pub(crate) fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    fn tick(&self, what: &str) -> io::Result<()> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fail_at.load(Ordering::SeqCst) == n {
            return Err(io::Error::other(format!(
                "injected failure of {what} (call {n})"
            )));
        }
        Ok(())
    }
}

struct FaultyLog {
    inner: Box<dyn LogFile>,
    fs: FaultyFs,
}

impl LogFile for FaultyLog {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.fs.tick("log write")?;
        self.inner.write_at(offset, data)
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.fs.tick("truncate")?;
        self.inner.truncate(len)
    }
    fn syncer(&self) -> io::Result<Box<dyn FileSync>> {
        Ok(Box::new(FaultySync {
            inner: self.inner.syncer()?,
            fs: self.fs.clone(),
        }))
    }
}

struct FaultySync {
    inner: Box<dyn FileSync>,
    fs: FaultyFs,
}

impl FileSync for FaultySync {
    fn sync_data(&self) -> io::Result<()> {
        self.fs.tick("fsync")?;
        self.inner.sync_data()
    }
}

impl FileSystem for FaultyFs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.tick("create_dir")?;
        self.inner.create_dir_all(path)
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.inner.read(path)
    }
    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }
    fn len(&self, path: &Path) -> io::Result<u64> {
        self.inner.len(path)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        self.inner.list(dir)
    }
    fn write_synced(&self, path: &Path, parts: &[&[u8]]) -> io::Result<()> {
        self.tick("write")?;
        self.inner.write_synced(path, parts)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.tick("rename")?;
        self.inner.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.tick("remove")?;
        self.inner.remove(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.tick("sync_dir")?;
        self.inner.sync_dir(dir)
    }
    fn open_log(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
        self.tick("open")?;
        Ok(Box::new(FaultyLog {
            inner: self.inner.open_log(path)?,
            fs: self.clone(),
        }))
    }
    fn try_lock(&self, path: &Path) -> io::Result<Option<Box<dyn DirLock>>> {
        self.inner.try_lock(path)
    }
}
