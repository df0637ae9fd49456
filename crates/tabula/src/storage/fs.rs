//! The only place tabula touches the file system. Everything goes through [`FileSystem`], so
//! tests can plug in `FaultyFs` (`storage::faulty`, built for tests), which fails a chosen
//! call or loses power, to check that every write, fsync, rename and create site leaves
//! memory unchanged and the directory recoverable.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

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
    /// Creates one new directory; `ErrorKind::AlreadyExists` if `path` exists.
    fn create_dir(&self, path: &Path) -> io::Result<()>;
    /// The path with symbolic links and `..` resolved; it must exist.
    fn canonical(&self, path: &Path) -> io::Result<PathBuf>;
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// The bytes of one of the database's files. Only a regular file is read: a pipe or a
    /// device in its place (reading one may never end) is `ErrorKind::InvalidInput`.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// The bytes of a file the user names (an import), which may be a pipe or a device
    /// (`/dev/stdin`).
    fn read_input(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.read(path)
    }
    /// The bytes of `path` from `offset` on (none if the file is shorter).
    fn read_from(&self, path: &Path, offset: u64) -> io::Result<Vec<u8>> {
        let bytes = self.read(path)?;
        let from = usize::try_from(offset).map_or(bytes.len(), |o| o.min(bytes.len()));
        Ok(bytes[from..].to_vec())
    }
    fn exists(&self, path: &Path) -> bool;
    fn len(&self, path: &Path) -> io::Result<u64>;
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
    /// Creates or truncates `path`, writes `parts` one after the other, fsyncs the file. A
    /// write that fails once the file is created removes it (best effort): a part written
    /// on a full disk would hold its space until the next open cleaned up.
    fn write_synced(&self, path: &Path, parts: &[&[u8]]) -> io::Result<()>;
    /// Creates `path`, which must not exist (`ErrorKind::AlreadyExists`, also for a symbolic
    /// link, which is never followed), writes `parts`, fsyncs the file; removed again if a
    /// write fails, as [`FileSystem::write_synced`].
    fn write_new_synced(&self, path: &Path, parts: &[&[u8]]) -> io::Result<()>;
    /// Whether `path` (links followed) exists and is neither a regular file nor a directory:
    /// a device or a pipe, which an export writes through instead of replacing.
    fn is_special(&self, path: &Path) -> bool;
    /// What stands at `path`, links not followed, if it is there and is no regular file.
    fn odd_entry(&self, path: &Path) -> Option<OddEntry>;
    /// Writes `parts` to an existing device or pipe.
    fn write_through(&self, path: &Path, parts: &[&[u8]]) -> io::Result<()>;
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

/// Writes `parts` to the file just created at `path` and fsyncs it; on a failure (a full
/// disk) removes the file, keeping the write's error.
fn fill_or_remove(mut f: File, path: &Path, parts: &[&[u8]]) -> io::Result<()> {
    let written = parts
        .iter()
        .try_for_each(|part| f.write_all(part))
        .and_then(|()| f.sync_all());
    if written.is_err() {
        drop(f);
        let _ = fs::remove_file(path);
    }
    written
}

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

/// The lock file and, where it could be locked, the directory that holds it; each released
/// when dropped.
struct StdLock {
    #[expect(dead_code, reason = "held for its Drop, which releases the lock")]
    file: File,
    #[expect(dead_code, reason = "held for its Drop, which releases the lock")]
    dir: Option<File>,
}
impl DirLock for StdLock {}

/// Locks the directory `dir` too, so that deleting the lock file (a cleanup script taking
/// it for a stale one) lets no second writer in: the next one finds the directory locked.
/// `None`: another holder has it. A file system that cannot lock a directory (an NFS mount
/// may refuse) leaves the lock file alone to guard it, as before (`Some(None)`).
#[cfg(unix)]
fn lock_dir(dir: &Path) -> Option<Option<File>> {
    let Ok(d) = File::open(dir) else {
        return Some(None);
    };
    match d.try_lock() {
        Ok(()) => Some(Some(d)),
        Err(fs::TryLockError::WouldBlock) => None,
        Err(fs::TryLockError::Error(_)) => Some(None),
    }
}

/// Elsewhere (Windows) an open file cannot be deleted: the lock file is guard enough.
#[cfg(not(unix))]
fn lock_dir(_dir: &Path) -> Option<Option<File>> {
    Some(None)
}

/// What stands at a path that is no regular file, links not followed
/// ([`FileSystem::odd_entry`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OddEntry {
    Directory,
    /// A symbolic link, whatever it names (or if it names nothing).
    Link,
    /// A device, a pipe or a socket.
    Special,
}

impl OddEntry {
    /// As the messages name it: "a directory is in its place".
    pub(crate) fn what(self) -> &'static str {
        match self {
            OddEntry::Directory => "a directory",
            OddEntry::Link => "a symbolic link",
            OddEntry::Special => "a device, a pipe or a socket",
        }
    }
}

/// Refuses a path that is not a regular file (followed through symbolic links), before it
/// is opened: opening a pipe waits for a writer, and a device may never end.
fn regular_file(path: &Path) -> io::Result<()> {
    let kind = fs::metadata(path)?.file_type();
    if kind.is_file() {
        return Ok(());
    }
    let what = if kind.is_dir() {
        "a directory"
    } else {
        "a device, a pipe or a socket"
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a regular file: {what} is in its place"),
    ))
}

impl FileSystem for StdFs {
    fn create_dir(&self, path: &Path) -> io::Result<()> {
        fs::create_dir(path)
    }
    fn canonical(&self, path: &Path) -> io::Result<PathBuf> {
        fs::canonicalize(path)
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::create_dir_all(path)
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        regular_file(path)?;
        fs::read(path)
    }
    fn read_input(&self, path: &Path) -> io::Result<Vec<u8>> {
        // A JSON document holds no NUL byte: the first one ends the read, so that a device
        // that never ends (`/dev/zero`) does not fill memory.
        use std::io::Read;
        let mut file = fs::File::open(path)?;
        let mut bytes = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = match file.read(&mut chunk) {
                Ok(0) => return Ok(bytes),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if let Some(at) = chunk[..n].iter().position(|&b| b == 0) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "a NUL byte at byte {}: not a JSON document",
                        bytes.len() + at
                    ),
                ));
            }
            bytes.extend_from_slice(&chunk[..n]);
        }
    }
    fn read_from(&self, path: &Path, offset: u64) -> io::Result<Vec<u8>> {
        use std::io::{Read, Seek, SeekFrom};
        regular_file(path)?;
        let mut f = fs::File::open(path)?;
        f.seek(SeekFrom::Start(offset))?;
        let mut out = Vec::new();
        f.read_to_end(&mut out)?;
        Ok(out)
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
        let f = File::create(path)?;
        fill_or_remove(f, path, parts)
    }
    fn write_new_synced(&self, path: &Path, parts: &[&[u8]]) -> io::Result<()> {
        let f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        fill_or_remove(f, path, parts)
    }
    fn is_special(&self, path: &Path) -> bool {
        fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
    }
    fn odd_entry(&self, path: &Path) -> Option<OddEntry> {
        let kind = fs::symlink_metadata(path).ok()?.file_type();
        if kind.is_dir() {
            Some(OddEntry::Directory)
        } else if kind.is_symlink() {
            Some(OddEntry::Link)
        } else if !kind.is_file() {
            Some(OddEntry::Special)
        } else {
            None
        }
    }
    fn write_through(&self, path: &Path, parts: &[&[u8]]) -> io::Result<()> {
        let mut f = fs::OpenOptions::new().write(true).open(path)?;
        for part in parts {
            f.write_all(part)?;
        }
        f.flush()
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
        // Opening a pipe for writing waits for a reader: refused first.
        if path.exists() {
            regular_file(path)?;
        }
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        match f.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Ok(None),
            Err(fs::TryLockError::Error(e)) => return Err(e),
        }
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        // The lock file first: a holder of it and not of the directory does not exist, so a
        // failure here is another writer's lock on the directory.
        Ok(lock_dir(dir).map(|dir| Box::new(StdLock { file: f, dir }) as Box<dyn DirLock>))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write that fails part way (here on a link to `/dev/full`, whose writes fail with
    /// "no space left", as on a full disk) leaves nothing at its path.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_failed_write_leaves_no_file() {
        if !Path::new("/dev/full").exists() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.records.tmp");
        std::os::unix::fs::symlink("/dev/full", &path).unwrap();
        let e = StdFs.write_synced(&path, &[b"row\n"]).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(28), "{e}"); // ENOSPC
        assert!(
            fs::symlink_metadata(&path).is_err(),
            "the failed file stayed"
        );
        // A file that works is written and kept.
        StdFs.write_synced(&path, &[b"a", b"b"]).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"ab");
    }
}
