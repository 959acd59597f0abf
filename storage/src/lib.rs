//! verdict's persistent store: the only crate that links RocksDB.
//!
//! One [`Store`] (one RocksDB database) per project data directory, with
//! four column families (see the keyspace table in docs/architecture.md for the byte
//! layouts):
//!
//! * **`results`** — cached validation results, keyed by
//!   [`ResultKey`] = (validator id, content hash), so a result is reused for
//!   any file with the same bytes validated by the same validator and
//!   configuration. Values carry an expiry ([`Store::put_results`] TTL) and a
//!   creation time in front of a bincode payload of any
//!   `serde::Serialize` type. Reads are batched ([`Store::get_results`]).
//! * **`stat`** — the stat index, like git's index: for each project path,
//!   the [`StatEntry`] (size, mtime, ctime, inode, content hash) seen when it
//!   was last hashed, so unchanged files are not re-read. See
//!   [`StatEntry::is_racy`] for the racy-clean rule.
//! * **`files`** — per-file entries: every outcome of one file content
//!   under one *set* of validators, keyed like `results` with the set's id
//!   in place of a validator id, so a warm check needs one look-up per file
//!   ([`Store::get_file_results`]).
//! * **`meta`** — the [`SCHEMA_VERSION`]; a database with a different
//!   version is refused with [`StorageError::IncompatibleSchema`].
//!
//! Time is always passed in (`now_secs`), so expiry is testable and all
//! callers agree on one clock ([`unix_now_secs`] gives the real one).
//!
//! Errors ([`StorageError`]) name the cache directory and tell the user what
//! to do (another daemon holds the lock, permissions, disk full, corruption,
//! schema mismatch).
//!
//! ```no_run
//! use verdict_storage::{ResultKey, Store, StoreOptions, content_hash, unix_now_secs};
//!
//! let store = Store::open("/tmp/project/.verdict/cache".as_ref(), &StoreOptions::default())?;
//! let key = ResultKey::from_hashes(0x1234, content_hash(b"file bytes"));
//! let now = unix_now_secs();
//! store.put_results(&[(key, &vec!["no problems".to_string()], 3600)], now)?;
//! let hit = store.get_results::<Vec<String>>(&[key], now);
//! assert!(hit[0].is_some());
//! # Ok::<(), verdict_storage::StorageError>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod key;
mod stat;
mod store;

#[cfg(test)]
mod tests;

pub use error::StorageError;
pub use key::{RESULT_KEY_LEN, ResultKey, content_hash};
pub use stat::{RACY_MARGIN_NS, StatEntry, unix_now_ns, unix_now_secs};
pub use store::{
    CF_FILES, CF_META, CF_RESULTS, CF_STAT, Cached, MARKER_FILE, MAX_PAYLOAD_BYTES, META_SCHEMA_VERSION_KEY,
    RESULT_VALUE_HEADER_LEN, Store, StoreBatch, StoreOptions, StoreStats,
};

/// Version of the on-disk layout (keys, values, column families). It is the
/// first two bytes (big-endian) of every results key and is stored under
/// `meta/schema_version`; bump it whenever any layout changes.
pub const SCHEMA_VERSION: u16 = 2;
