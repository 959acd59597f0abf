//! [`StorageError`]: every failure the store can report, each naming the
//! cache directory and saying what the user can do about it.

use std::io;
use std::path::{Path, PathBuf};

/// An error from the verdict store.
///
/// Every variant carries the path of the cache directory so that the message
/// shown to the user names it, and the `Display` text says what to do.
/// RocksDB's own error strings are classified into the specific variants by
/// [`StorageError::from_rocksdb`]; anything unrecognised becomes
/// [`StorageError::RocksDb`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// Another process (or another `Store` in this process) holds the
    /// database's `LOCK` file.
    #[error(
        "the cache at {} is in use by another process, most likely another verdict daemon (its RocksDB \
         LOCK file is held): one of this project started on another socket (--socket, VERDICT_SOCKET, or \
         another TMPDIR or XDG_RUNTIME_DIR), or one of another project given the same --data-dir (one \
         daemon at a time uses a cache directory); stop that one (`verdict --socket ITS_SOCKET stop`, or \
         `verdict stop` in its project), or give this daemon another cache directory (`verdict stop`, then \
         run the command again with --data-dir) ({detail})",
        path.display()
    )]
    Locked {
        /// The cache directory.
        path: PathBuf,
        /// The underlying error text.
        detail: String,
    },

    /// The process may not read or write the cache directory (or the file
    /// system is read-only).
    #[error(
        "permission denied for the cache at {} (or its file system is read-only): fix the directory's \
         owner or permissions (or its files' immutable attribute: `lsattr`, `chattr -i`), make the file \
         system writable, or pass --data-dir to use a writable location ({detail})",
        path.display()
    )]
    PermissionDenied {
        /// The cache directory.
        path: PathBuf,
        /// The underlying error text.
        detail: String,
    },

    /// The database was written by a verdict with a different on-disk
    /// schema.
    #[error(
        "the cache at {} has schema version {found}, but this verdict needs version {expected}: \
         run `verdict cache clear` or delete the directory {}",
        path.display(),
        path.display()
    )]
    IncompatibleSchema {
        /// The cache directory.
        path: PathBuf,
        /// The schema version recorded in the database.
        found: u16,
        /// The schema version this build reads and writes ([`crate::SCHEMA_VERSION`]).
        expected: u16,
    },

    /// The device holding the cache is full.
    #[error(
        "no space left on the device holding the cache at {}: free some disk space, \
         run `verdict cache clear`, or pass --data-dir to use another disk ({detail})",
        path.display()
    )]
    NoSpace {
        /// The cache directory.
        path: PathBuf,
        /// The underlying error text.
        detail: String,
    },

    /// RocksDB found corrupted data (bad checksum, truncated file, broken
    /// MANIFEST, or an unreadable metadata record).
    #[error(
        "the cache at {} is corrupted: run `verdict cache clear` or delete the directory \
         (it only holds cached results and will be rebuilt) ({detail})",
        path.display()
    )]
    Corruption {
        /// The cache directory.
        path: PathBuf,
        /// The underlying error text.
        detail: String,
    },

    /// A value could not be encoded with bincode (a bug in the value's
    /// `Serialize` implementation).
    #[error("could not encode a value for the cache at {}: {source}", path.display())]
    Encode {
        /// The cache directory.
        path: PathBuf,
        /// The bincode error.
        #[source]
        source: bincode::error::EncodeError,
    },

    /// The cache's path, or one on the way to it, is something other than
    /// a directory (a file, a FIFO, a device).
    #[error(
        "the cache at {} cannot be opened: that path, or one on the way to it, is not a directory: \
         move what is there out of the way, or give the cache another directory (`[cache] dir` in \
         verdict.toml, or --data-dir) ({detail})",
        path.display()
    )]
    NotADirectory {
        /// The cache directory.
        path: PathBuf,
        /// The underlying error text.
        detail: String,
    },

    /// The directory is another user's.
    #[error(
        "the cache at {} is owned by uid {owner}, not by you: its owner could read the project's paths and findings \
         there, and change them; give the cache a directory of your own (`[cache] dir` in verdict.toml, or \
         --data-dir)",
        path.display()
    )]
    ForeignOwner {
        /// The directory.
        path: PathBuf,
        /// Its owner's uid.
        owner: u32,
    },

    /// The directory holds files, and no verdict cache.
    #[error(
        "{} holds files but no verdict cache (no {} file, no database of verdict's): verdict will neither write \
         into it nor delete anything there; give the cache a directory of its own, new or empty (`[cache] dir` \
         in verdict.toml, or --data-dir), or, if it is a cache of an older verdict that cannot be read, delete \
         it yourself",
        path.display(),
        crate::store::MARKER_FILE
    )]
    NotACache {
        /// The directory.
        path: PathBuf,
    },

    /// An I/O error outside RocksDB (e.g. creating the cache directory).
    #[error("I/O error on the cache at {}: {source}", path.display())]
    Io {
        /// The cache directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// The directory may not hold the cache, for a reason of its user's
    /// (it holds the project the cache is for).
    #[error("{why}")]
    Refused {
        /// The cache directory.
        path: PathBuf,
        /// Why, in full.
        why: String,
    },

    /// Any other RocksDB error.
    #[error("cache database error at {}: {detail}", path.display())]
    RocksDb {
        /// The cache directory.
        path: PathBuf,
        /// RocksDB's error text.
        detail: String,
    },
}

impl StorageError {
    /// The cache directory the error is about.
    pub fn path(&self) -> &Path {
        match self {
            StorageError::Locked { path, .. }
            | StorageError::PermissionDenied { path, .. }
            | StorageError::IncompatibleSchema { path, .. }
            | StorageError::NoSpace { path, .. }
            | StorageError::Corruption { path, .. }
            | StorageError::Encode { path, .. }
            | StorageError::NotADirectory { path, .. }
            | StorageError::NotACache { path }
            | StorageError::ForeignOwner { path, .. }
            | StorageError::Io { path, .. }
            | StorageError::Refused { path, .. }
            | StorageError::RocksDb { path, .. } => path,
        }
    }

    /// Classifies a RocksDB error by its message.
    ///
    /// RocksDB reports errors only as strings (`"<Kind>: <detail>"`), so this
    /// matches on the well-known texts:
    ///
    /// | text | variant |
    /// |---|---|
    /// | `IO error: While lock file: …` (another process) or `IO error: lock hold by current process …` (same process) | [`Locked`](Self::Locked) |
    /// | `… No space left on device` | [`NoSpace`](Self::NoSpace) |
    /// | `… Permission denied`, `… Read-only file system`, `… Operation not permitted` | [`PermissionDenied`](Self::PermissionDenied) |
    /// | `Corruption: …` | [`Corruption`](Self::Corruption) |
    /// | anything else | [`RocksDb`](Self::RocksDb) |
    ///
    /// The lock check comes first because `fcntl(F_SETLK)` may fail with
    /// `EACCES` ("Permission denied") when another process holds the lock.
    pub(crate) fn from_rocksdb(path: &Path, err: rocksdb::Error) -> StorageError {
        Self::classify(path, err.into_string())
    }

    pub(crate) fn classify(path: &Path, detail: String) -> StorageError {
        let path = path.to_path_buf();
        if detail.contains("While lock file") || detail.contains("lock hold by current process") {
            StorageError::Locked { path, detail }
        } else if detail.contains("No space left on device") {
            StorageError::NoSpace { path, detail }
        } else if detail.contains("Permission denied")
            || detail.contains("Read-only file system")
            // EPERM: an immutable or append-only file (`chattr +i`).
            || detail.contains("Operation not permitted")
        {
            StorageError::PermissionDenied { path, detail }
        } else if detail.starts_with("Corruption")
            // A database whose manifest (or its pointer, `CURRENT`) is gone
            // is as broken as one whose manifest is damaged.
            || (detail.contains("No such file or directory") && (detail.contains("MANIFEST") || detail.contains("CURRENT")))
        {
            StorageError::Corruption { path, detail }
        } else {
            StorageError::RocksDb { path, detail }
        }
    }

    /// Classifies an I/O error (raised outside RocksDB) on the cache directory.
    pub(crate) fn from_io(path: &Path, source: io::Error) -> StorageError {
        let path = path.to_path_buf();
        match source.kind() {
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                StorageError::PermissionDenied { path, detail: source.to_string() }
            }
            io::ErrorKind::StorageFull => StorageError::NoSpace { path, detail: source.to_string() },
            io::ErrorKind::NotADirectory => StorageError::NotADirectory { path, detail: source.to_string() },
            _ => StorageError::Io { path, source },
        }
    }
}
