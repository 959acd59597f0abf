//! [`Store`]: the RocksDB database of one project.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, DBWithThreadMode, FlushOptions,
    Options, ReadOptions, SingleThreaded, WriteBatch, WriteOptions,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::SCHEMA_VERSION;
use crate::error::StorageError;
use crate::key::{RESULT_KEY_LEN, ResultKey, VALIDATOR_PREFIX_LEN, prefix_successor, validator_prefix};
use crate::stat::StatEntry;

type Db = DBWithThreadMode<SingleThreaded>;

/// Name of the column family holding cached validation results.
pub const CF_RESULTS: &str = "results";
/// Name of the column family holding the stat index.
pub const CF_STAT: &str = "stat";
/// Column family of per-file entries: all outcomes of one file's content
/// under one set of validators, keyed like results with the set's id in
/// place of a validator id (see [`Store::get_file_results`]).
pub const CF_FILES: &str = "files";
/// Name of the column family holding database metadata (the schema version).
pub const CF_META: &str = "meta";
/// Key, in [`CF_META`], of the schema version (a `u16`, big-endian).
pub const META_SCHEMA_VERSION_KEY: &[u8] = b"schema_version";
/// Prefix, in [`CF_META`], of the validators results were written for:
/// this prefix and a validator id → the validator's name (see
/// [`StoreBatch::put_validator_name`]). Kept until a clear deletes the id's
/// results (one small record per configuration a tool's results were ever
/// written under; pruning them when their results expire would race with
/// a write of the same id).
const META_NAME_PREFIX: &[u8] = b"name/";

fn meta_name_key(validator: &[u8; 16]) -> Vec<u8> {
    [META_NAME_PREFIX, validator.as_slice()].concat()
}

/// Bytes before the bincode payload of a results value:
/// `[expires_at: u64 BE][created_at: u64 BE]`.
pub const RESULT_VALUE_HEADER_LEN: usize = 16;

/// Largest bincode payload [`Store::put_results`] stores (8 MiB); larger
/// results are skipped (not cached) with a warning.
pub const MAX_PAYLOAD_BYTES: usize = 8 << 20;

/// Upper bound on what bincode may allocate while decoding one value. A
/// corrupted length prefix then fails to decode instead of attempting a huge
/// allocation. Generous relative to [`MAX_PAYLOAD_BYTES`] because bincode
/// claims `len * size_of::<T>()` for a sequence of `T` before decoding it.
const DECODE_LIMIT: usize = 64 << 20;

/// Deletes written per `WriteBatch` by the scanning deletes (prune, corrupt
/// entries).
const DELETE_BATCH: usize = 4096;

/// Tuning of a [`Store`]. The defaults suit a daemon watching one project.
///
/// Memory use is bounded by roughly `block_cache_bytes` (data, index and
/// filter blocks of all column families share one LRU cache) plus
/// `write_buffer_bytes * max_write_buffers` (the total memtable budget, also
/// enforced across column families).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Capacity of the LRU block cache shared by all column families
    /// (default 32 MiB).
    pub block_cache_bytes: usize,
    /// Size of one memtable (RocksDB `write_buffer_size`; 4 MiB here, where
    /// RocksDB defaults to 64 MiB: inserts into a smaller skip list miss the
    /// CPU cache less).
    pub write_buffer_bytes: usize,
    /// Memtables per column family before writes stall (RocksDB
    /// `max_write_buffer_number`, default 2; values below 2 are raised to 2).
    pub max_write_buffers: i32,
    /// The MANIFEST's size past which RocksDB starts a new one (RocksDB
    /// `max_manifest_file_size`; [`MAX_MANIFEST_BYTES`] by default, where
    /// RocksDB's own default is 1 GiB).
    pub max_manifest_bytes: usize,
}

/// The MANIFEST's size past which RocksDB writes a new one: the default of
/// [`StoreOptions::max_manifest_bytes`].
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// The file that says a directory is verdict's cache, written into an
/// empty directory before the database is made there. A directory that
/// holds other files and not this one (a mistyped `--data-dir`, a
/// `[cache] dir` that is a link to the user's documents) is neither
/// written into nor deleted from.
pub const MARKER_FILE: &str = "VERDICT-CACHE";

const MARKER_TEXT: &str = "This directory is verdict's result cache (a RocksDB database). It holds nothing else: \
                           `verdict cache clear` deletes it, and checks make it again.\n";

/// Whether `dir` (which exists) is verdict's cache: it has the marker, or
/// it is a database with verdict's column families (made by a verdict from
/// before the marker; listing them reads the database, writes nothing).
/// `Err`: what else is there.
fn is_ours(dir: &Path) -> Result<bool, StorageError> {
    if std::fs::symlink_metadata(dir.join(MARKER_FILE)).is_ok_and(|m| m.is_file()) {
        return Ok(true);
    }
    // Empty but for what one puts in a directory made for a cache ahead of
    // time: a `.gitignore` or `.gitkeep`, a `CACHEDIR.TAG`.
    let mut entries = std::fs::read_dir(dir).map_err(|e| StorageError::from_io(dir, e))?.filter(|e| {
        e.as_ref().map_or(true, |e| {
            let name = e.file_name();
            !name.as_encoded_bytes().starts_with(b".") && name != "CACHEDIR.TAG"
        })
    });
    if entries.next().is_none() {
        return Ok(false);
    }
    // Not RocksDB's to read (a FIFO at `CURRENT` would block it for ever):
    // not known to be verdict's either.
    if unfit_entry(dir).is_some() {
        return Err(StorageError::NotACache { path: dir.to_path_buf() });
    }
    let families = Db::list_cf(&Options::default(), dir).unwrap_or_default();
    if [CF_RESULTS, CF_META].iter().all(|cf| families.iter().any(|f| f == cf)) {
        return Ok(true);
    }
    Err(StorageError::NotACache { path: dir.to_path_buf() })
}

/// The room reserved for a new MANIFEST (RocksDB's default is 4 MiB).
pub const MANIFEST_PREALLOCATION: usize = 64 << 10;

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            block_cache_bytes: 32 << 20,
            write_buffer_bytes: 4 << 20,
            max_write_buffers: 2,
            max_manifest_bytes: MAX_MANIFEST_BYTES,
        }
    }
}

/// A cached result as returned by [`Store::get_results`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached<T> {
    /// The decoded value.
    pub value: T,
    /// When it was stored, Unix seconds (the `now_secs` given to
    /// [`Store::put_results`]).
    pub created_at: u64,
    /// When it expires, Unix seconds; 0 = never.
    pub expires_at: u64,
}

/// Summary returned by [`Store::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Number of entries in the results column family (expired ones
    /// included until [`Store::prune_expired`] removes them).
    pub result_entries: u64,
    /// Result entries per validator id. Keys not in the current layout
    /// (should not exist) count in `result_entries` only.
    pub per_validator: BTreeMap<[u8; 16], u64>,
    /// Number of entries in the stat index.
    pub stat_index_entries: u64,
    /// Number of per-file entries (expired ones included until pruned).
    pub file_entries: u64,
    /// Bytes on disk: every file of the cache's directory (tables,
    /// write-ahead logs with the space they reserve, the MANIFEST,
    /// RocksDB's own logs).
    pub approx_disk_bytes: u64,
}

/// The RocksDB database of one project: cached validation results
/// (`results`), the stat index (`stat`) and metadata (`meta`).
///
/// `Store` is `Send + Sync`; share it with `Arc<Store>` and call it from any
/// number of threads. Every write method performs one atomic `WriteBatch`,
/// written to the WAL before it returns (not fsync'ed: a process crash loses
/// nothing, a power loss may lose the last writes — acceptable for a cache;
/// call [`flush`](Self::flush) at clean shutdown). Dropping the `Store`
/// closes the database and releases its lock.
pub struct Store {
    // Field order: `db` is dropped before the cache it uses.
    pub(crate) db: Db,
    path: PathBuf,
    _block_cache: Cache,
    /// Reads that failed (damaged data): each is a miss; the first is
    /// logged as a warning, the rest at debug level.
    read_failures: std::sync::atomic::AtomicU64,
    /// The directory's device and inode when the database was opened.
    dir_id: Option<(u64, u64)>,
    /// The directory, open while the database is: RocksDB reaches it through
    /// this descriptor (see [`Store::open`]). After `db`: dropped after it.
    _dir: std::fs::File,
    /// The path RocksDB knows the directory by (`/proc/self/fd/N`), put back
    /// as `path` in what its errors say.
    via: String,
    /// This process's claim on the directory, given up once the database is
    /// closed.
    _open: OpenGuard,
}

/// The directories (device, inode) a [`Store`] of this process has open.
static OPEN: std::sync::Mutex<Vec<(u64, u64)>> = std::sync::Mutex::new(Vec::new());

/// A directory claimed in [`OPEN`] while its database is open.
struct OpenGuard((u64, u64));

impl OpenGuard {
    fn take(dir: &Path, handle: &std::fs::File) -> Result<OpenGuard, StorageError> {
        use std::os::unix::fs::MetadataExt;
        let m = handle.metadata().map_err(|e| StorageError::from_io(dir, e))?;
        let id = (m.dev(), m.ino());
        let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
        if open.contains(&id) {
            return Err(StorageError::Locked { path: dir.to_path_buf(), detail: "open in this process".into() });
        }
        open.push(id);
        Ok(OpenGuard(id))
    }

    /// Whether a database of this process has `dir` open.
    fn held(dir: &Path) -> bool {
        dir_id(dir).is_some_and(|id| OPEN.lock().unwrap_or_else(|e| e.into_inner()).contains(&id))
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        OPEN.lock().unwrap_or_else(|e| e.into_inner()).retain(|&id| id != self.0);
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Store {
    /// How many reads failed since the database was opened (each one a
    /// miss): damaged data, which `cache clear` removes.
    pub fn read_failures(&self) -> u64 {
        self.read_failures.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Opens (creating if needed) the database in `dir`.
    ///
    /// A new database is initialised with [`SCHEMA_VERSION`]. Fails with
    /// [`StorageError::Locked`] if another process or another `Store` in this
    /// process has it open, [`StorageError::IncompatibleSchema`] if it was
    /// written with another schema version, and with the other variants for
    /// permission, space and corruption problems.
    pub fn open(dir: &Path, opts: &StoreOptions) -> Result<Store, StorageError> {
        // A file (or a FIFO) where the directory should be: said as such,
        // not as the "file exists" of creating a directory over it.
        if std::fs::metadata(dir).is_ok_and(|m| !m.is_dir()) {
            return Err(StorageError::from_io(dir, std::io::ErrorKind::NotADirectory.into()));
        }
        // A link to nothing: said so, not as the "file exists" of creating
        // a directory over the link.
        if let Ok(target) = std::fs::read_link(dir)
            && std::fs::metadata(dir).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        {
            let why = format!("it is a symbolic link to {}, which does not exist", target.display());
            return Err(StorageError::from_io(dir, std::io::Error::new(std::io::ErrorKind::NotFound, why)));
        }
        // Private when verdict makes it: it holds the project's paths and
        // its findings. One that exists is left as it is.
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(dir)
            .map_err(|e| StorageError::from_io(dir, e))?;
        let block_cache = Cache::new_lru_cache(opts.block_cache_bytes);
        let max_buffers = opts.max_write_buffers.max(2);

        let mut db_opts = Options::default();
        db_opts.create_missing_column_families(true);
        // Bound memtable memory across column families, and make RocksDB
        // flush the CF pinning the oldest WAL when the WAL grows.
        let memtable_budget = opts.write_buffer_bytes.saturating_mul(max_buffers as usize);
        db_opts.set_db_write_buffer_size(memtable_budget);
        db_opts.set_max_total_wal_size((memtable_budget as u64).saturating_mul(2).max(8 << 20));
        db_opts.set_max_open_files(512);
        db_opts.set_max_background_jobs(2);
        db_opts.set_bytes_per_sync(1 << 20);
        db_opts.set_keep_log_file_num(3);
        db_opts.set_max_log_file_size(1 << 20);
        // Each flush and compaction adds to the MANIFEST, which RocksDB
        // starts afresh only past this size (1 GiB by default): a daemon
        // that lives for weeks would let it grow by megabytes an hour.
        db_opts.set_max_manifest_file_size(opts.max_manifest_bytes);
        // RocksDB reserves 4 MiB for each new MANIFEST by default: on a
        // small file system that reservation, with the WAL's, can leave no
        // room to replay the WAL after a crash on a full disk, so the cache
        // cannot reopen even once the disk has room again. A few hundred
        // bytes are written to it per flush.
        db_opts.set_manifest_preallocation_size(MANIFEST_PREALLOCATION);

        let big = |bloom| cf_options(&block_cache, bloom, opts.write_buffer_bytes, max_buffers);
        let small = || cf_options(&block_cache, false, 1 << 20, 2);
        let mut names: Vec<String> = Vec::new();
        let mut descriptors = Vec::new();
        for (name, cf_opts) in [
            (rocksdb::DEFAULT_COLUMN_FAMILY_NAME, small()),
            (CF_RESULTS, big(true)),
            (CF_STAT, big(true)),
            (CF_FILES, big(true)),
            (CF_META, small()),
        ] {
            names.push(name.to_owned());
            descriptors.push(ColumnFamilyDescriptor::new(name, cf_opts));
        }
        // RocksDB names every file it creates, renames or deletes by the
        // database's path. It is given the directory itself, through a
        // descriptor held while it is open: should another directory come to
        // be at `dir` (a backup put back, one made after a deletion), this
        // database never writes or deletes anything in it (closing one
        // whose manifest's name is found there with another size writes a
        // new manifest and `CURRENT`, say).
        let handle = std::fs::File::open(dir).map_err(|e| StorageError::from_io(dir, e))?;
        // RocksDB's own guard against a second open in this process goes by
        // the path it is given, which differs each time: this one goes by
        // the directory (the lock file's `fcntl` lock does not stop this
        // process).
        let open_guard = OpenGuard::take(dir, &handle)?;
        // Without `/proc` (some sandboxes), that path would be an ordinary
        // one, which RocksDB would create: the directory's own path is used
        // then, without that protection.
        let via = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&handle));
        let via = if dir_id(Path::new(&via)) == Some(open_guard.0) {
            via
        } else {
            tracing::debug!(cache = %dir.display(), "no /proc: the cache is opened by its path");
            dir.to_string_lossy().into_owned()
        };
        // Another user's directory (one made first at a `--data-dir` in a
        // shared place) would let them read the project's paths and
        // findings, and change the answers. Looked at through the
        // descriptor RocksDB is given, so a link swapped meanwhile changes
        // nothing.
        let owner = std::os::unix::fs::MetadataExt::uid(&handle.metadata().map_err(|e| StorageError::from_io(dir, e))?);
        if owner != nix::unistd::geteuid().as_raw() {
            return Err(StorageError::ForeignOwner { path: dir.to_path_buf(), owner });
        }
        // Marked before RocksDB makes anything there (a crash in between
        // leaves an empty directory, or a marked one).
        let opened = Path::new(&via);
        is_ours(opened).map_err(|e| match e {
            StorageError::NotACache { .. } => StorageError::NotACache { path: dir.to_path_buf() },
            e => e,
        })?;
        if !opened.join(MARKER_FILE).exists() {
            std::fs::write(opened.join(MARKER_FILE), MARKER_TEXT).map_err(|e| StorageError::from_io(dir, e))?;
        }
        // RocksDB would block for ever opening a FIFO at `CURRENT`, or read
        // an endless link (to `/dev/zero`) until memory ran out: refused
        // first, as damage `cache clear` removes.
        if let Some(why) = unfit_entry(opened) {
            return Err(StorageError::Corruption { path: dir.to_path_buf(), detail: why });
        }
        // Column families we do not know (from a newer schema) must be opened
        // too, or RocksDB refuses to open; the schema check then reports the
        // real problem.
        if let Ok(existing) = Db::list_cf(&Options::default(), opened) {
            for name in existing {
                if !names.contains(&name) {
                    descriptors.push(ColumnFamilyDescriptor::new(name.clone(), small()));
                    names.push(name);
                }
            }
        }
        // A database whose `CURRENT` is gone while its files remain is
        // damaged, not absent: created anew, RocksDB would leave a new
        // `CURRENT` behind its failure ("wal_dir contains existing log
        // file"), and the next open would start an empty database over the
        // old files, deleting them, after a message that said to clear it.
        if !opened.join("CURRENT").exists() && holds_database_files(opened) {
            return Err(StorageError::Corruption {
                path: dir.to_path_buf(),
                detail: "its CURRENT file is missing while its database files remain".to_owned(),
            });
        }
        db_opts.create_if_missing(!opened.join("CURRENT").exists());
        let db = Db::open_cf_descriptors(&db_opts, &via, descriptors).map_err(|e| said_of(dir, &via, e))?;
        let store = Store {
            db,
            path: dir.to_path_buf(),
            _block_cache: block_cache,
            read_failures: Default::default(),
            // The directory opened, whatever is at the path by now.
            dir_id: Some(open_guard.0),
            _dir: handle,
            via,
            _open: open_guard,
        };
        store.check_or_init_schema()?;
        Ok(store)
    }

    /// Deletes the database in `dir` (all files RocksDB created there, the
    /// marker, and the directory if it is then empty). Does nothing if
    /// `dir` does not exist or is empty. Fails with
    /// [`StorageError::Locked`] while a `Store` has it open, and with
    /// [`StorageError::NotACache`] for a directory that is not verdict's
    /// cache (RocksDB would delete whatever there has one of its file
    /// names: `LOG`, `CURRENT`, `000001.log`).
    /// Works on databases that cannot be opened (corrupted, other schema).
    pub fn destroy(dir: &Path) -> Result<(), StorageError> {
        if !dir.exists() {
            return Ok(());
        }
        if OpenGuard::held(dir) {
            return Err(StorageError::Locked { path: dir.to_path_buf(), detail: "open in this process".into() });
        }
        if !is_ours(dir)? {
            return Ok(());
        }
        // What RocksDB never writes there, and would block on or fail at.
        remove_unfit_entries(dir)?;
        Db::destroy(&Options::default(), dir).map_err(|e| StorageError::from_rocksdb(dir, e))?;
        match std::fs::remove_file(dir.join(MARKER_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(StorageError::from_io(dir, e)),
            _ => {}
        }
        // Made again by the next open; kept if something else is in it.
        let _ = std::fs::remove_dir(dir);
        Ok(())
    }

    /// The directory holding the database.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the directory the database was opened in is no longer at its
    /// path: deleted, or replaced by another one (a backup copied back,
    /// another database made there). What this database writes goes to its
    /// own directory still (see [`open`](Self::open)), lost with it: the
    /// one at the path is to be opened instead.
    pub fn dir_replaced(&self) -> bool {
        dir_id(&self.path) != self.dir_id
    }

    /// Looks up cached results, one output per key, in key order.
    ///
    /// All keys are read with one batched `MultiGet` (sorted and
    /// de-duplicated first). An entry is `None` when absent, expired
    /// (`expires_at != 0 && expires_at <= now_secs`), unreadable, or not
    /// decodable as `T`; undecodable entries are logged with
    /// `tracing::warn!` and deleted so they are recomputed. Never panics on
    /// bad data.
    pub fn get_results<T: DeserializeOwned>(&self, keys: &[ResultKey], now_secs: u64) -> Vec<Option<Cached<T>>> {
        self.get_in(CF_RESULTS, keys, now_secs)
    }

    /// Looks up per-file entries (key = validator-set id and content hash),
    /// exactly as [`get_results`](Self::get_results) does for results.
    ///
    /// A per-file entry holds every outcome of one file content under one
    /// set of validators, so a warm run needs one look-up per file instead
    /// of one per (file, validator).
    pub fn get_file_results<T: DeserializeOwned>(&self, keys: &[ResultKey], now_secs: u64) -> Vec<Option<Cached<T>>> {
        self.get_in(CF_FILES, keys, now_secs)
    }

    /// Stores per-file entries, exactly as [`put_results`](Self::put_results)
    /// does for results.
    pub fn put_file_results<T: Serialize>(
        &self,
        entries: &[(ResultKey, &T, u64)],
        now_secs: u64,
    ) -> Result<(), StorageError> {
        self.put_in(CF_FILES, entries, now_secs)
    }

    fn get_in<T: DeserializeOwned>(
        &self,
        cf: &'static str,
        keys: &[ResultKey],
        now_secs: u64,
    ) -> Vec<Option<Cached<T>>> {
        let raw: Vec<[u8; RESULT_KEY_LEN]> = keys.iter().map(ResultKey::to_bytes).collect();
        let refs: Vec<&[u8]> = raw.iter().map(|k| k.as_slice()).collect();
        self.batched_get(cf, &refs, hex, |bytes| decode_result(bytes, now_secs))
    }

    /// Stores results in one atomic `WriteBatch`.
    ///
    /// Each entry is `(key, value, ttl_secs)`; the value expires at
    /// `now_secs + ttl_secs + 1` (so it is kept at least `ttl_secs` whole
    /// seconds, whatever part of the current second is gone), or never if
    /// `ttl_secs` is 0. Existing entries
    /// are overwritten. A value whose encoding exceeds
    /// [`MAX_PAYLOAD_BYTES`] is skipped with a warning (it is simply not
    /// cached). Returns once the batch is in the WAL.
    pub fn put_results<T: Serialize>(
        &self,
        entries: &[(ResultKey, &T, u64)],
        now_secs: u64,
    ) -> Result<(), StorageError> {
        self.put_in(CF_RESULTS, entries, now_secs)
    }

    fn put_in<T: Serialize>(
        &self,
        cf_name: &'static str,
        entries: &[(ResultKey, &T, u64)],
        now_secs: u64,
    ) -> Result<(), StorageError> {
        let mut batch = self.batch();
        batch.put_in(cf_name, entries, now_secs)?;
        batch.commit()
    }

    /// An empty batch of writes to any column families, written atomically,
    /// in one write, by [`StoreBatch::commit`]: writers that gather their
    /// entries first write once instead of once per kind of entry.
    pub fn batch(&self) -> StoreBatch<'_> {
        StoreBatch { store: self, batch: WriteBatch::default(), buf: Vec::new(), skipped: 0 }
    }

    /// Deletes every expired result (and any entry too malformed to have an
    /// expiry), scanning the results column family and deleting in batches.
    /// Returns the number deleted.
    ///
    /// An entry re-written by another thread between the scan and the delete
    /// may be deleted too; that only costs a recomputation.
    pub fn prune_expired(&self, now_secs: u64) -> Result<u64, StorageError> {
        let mut deleted = 0u64;
        for cf_name in [CF_RESULTS, CF_FILES] {
            deleted += self.delete_where(cf_name, |key, value| {
                ResultKey::from_bytes(key).is_none()
                    || match parse_header(value) {
                        Some((expires_at, _)) => expires_at != 0 && expires_at <= now_secs,
                        None => true,
                    }
            })?;
        }
        Ok(deleted)
    }

    /// Deletes, in batches, the entries of column family `cf_name` that
    /// `doomed` picks by key and value; returns how many.
    fn delete_where(&self, cf_name: &str, doomed: impl Fn(&[u8], &[u8]) -> bool) -> Result<u64, StorageError> {
        let cf = self.cf(cf_name);
        let mut iter = self.db.raw_iterator_cf_opt(cf, scan_options(None));
        iter.seek_to_first();
        let mut batch = WriteBatch::default();
        let mut deleted = 0u64;
        while let (Some(key), Some(value)) = (iter.key(), iter.value()) {
            if doomed(key, value) {
                batch.delete_cf(cf, key);
                deleted += 1;
                if batch.len() >= DELETE_BATCH {
                    self.write(std::mem::take(&mut batch))?;
                }
            }
            iter.next();
        }
        iter.status().map_err(|e| self.err(e))?;
        self.write(batch)?;
        Ok(deleted)
    }

    /// Deletes all results (`None`) or those of one validator id, with a
    /// single range delete followed by a compaction of that range to reclaim
    /// the space. Every per-file entry goes too: any of them may hold an
    /// outcome of that validator. Returns how many entries (results and
    /// per-file entries) were present when the call started.
    pub fn clear_results(&self, validator: Option<[u8; 16]>) -> Result<u64, StorageError> {
        let mut count = match validator {
            None => {
                let names = prefix_successor(META_NAME_PREFIX).expect("not all 0xff");
                self.db.delete_range_cf(self.cf(CF_META), META_NAME_PREFIX, &names).map_err(|e| self.err(e))?;
                self.delete_results(&[], &everything_above())?
            }
            Some(v) => self.delete_validators_results(&[v])?,
        };
        count += self.delete_file_entries()?;
        Ok(count)
    }

    /// Deletes the results of validator `name`, under its configuration
    /// `current` and under every earlier one results were written for (see
    /// [`StoreBatch::put_validator_name`]), and every per-file entry, as
    /// [`Store::clear_results`] does. Returns how many entries were present
    /// when the call started.
    pub fn clear_validator(&self, name: &str, current: [u8; 16]) -> Result<u64, StorageError> {
        let mut ids = self.validators_named(name)?;
        if !ids.contains(&current) {
            ids.push(current);
        }
        let count = self.delete_validators_results(&ids)?;
        Ok(count + self.delete_file_entries()?)
    }

    /// The validator ids results were written for under `name`.
    pub fn validators_named(&self, name: &str) -> Result<Vec<[u8; 16]>, StorageError> {
        let names = prefix_successor(META_NAME_PREFIX).expect("not all 0xff");
        let bounds = Some((META_NAME_PREFIX.to_vec(), names));
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(CF_META), scan_options(bounds));
        iter.seek(META_NAME_PREFIX);
        let mut ids = Vec::new();
        while let (Some(key), Some(value)) = (iter.key(), iter.value()) {
            if value == name.as_bytes()
                && let Ok(id) = <[u8; 16]>::try_from(&key[META_NAME_PREFIX.len()..])
            {
                ids.push(id);
            }
            iter.next();
        }
        iter.status().map_err(|e| self.err(e))?;
        Ok(ids)
    }

    /// Deletes the results of each of `validators`, and what records their
    /// names. Returns how many results there were.
    fn delete_validators_results(&self, validators: &[[u8; 16]]) -> Result<u64, StorageError> {
        let mut count = 0;
        for v in validators {
            let prefix = validator_prefix(v);
            let to = prefix_successor(&prefix).unwrap_or_else(everything_above);
            count += self.delete_results(&prefix, &to)?;
            self.db.delete_cf(self.cf(CF_META), meta_name_key(v)).map_err(|e| self.err(e))?;
        }
        Ok(count)
    }

    /// Deletes the results in `[from, to)` and reclaims their space.
    /// Returns how many there were.
    fn delete_results(&self, from: &[u8], to: &[u8]) -> Result<u64, StorageError> {
        let cf = self.cf(CF_RESULTS);
        let count = self.count_keys(CF_RESULTS, from, to)?;
        self.db.delete_range_cf(cf, from, to).map_err(|e| self.err(e))?;
        self.db.compact_range_cf(cf, Some(from), Some(to));
        Ok(count)
    }

    /// Deletes every per-file entry. Returns how many there were.
    fn delete_file_entries(&self) -> Result<u64, StorageError> {
        let files = self.cf(CF_FILES);
        let all = everything_above();
        let count = self.count_keys(CF_FILES, &[], &all)?;
        self.db.delete_range_cf(files, &[][..], &all[..]).map_err(|e| self.err(e))?;
        self.db.compact_range_cf(files, None::<&[u8]>, None::<&[u8]>);
        Ok(count)
    }

    /// Deletes the whole stat index (every file will be hashed again).
    /// Returns how many entries were present when the call started.
    pub fn clear_stat_index(&self) -> Result<u64, StorageError> {
        let cf = self.cf(CF_STAT);
        let count = self.count_keys(CF_STAT, &[], &[])?;
        // Paths are arbitrary bytes, so delete key by key rather than guess
        // an upper bound for a range delete.
        let mut iter = self.db.raw_iterator_cf_opt(cf, scan_options(None));
        iter.seek_to_first();
        let mut batch = WriteBatch::default();
        while let Some(key) = iter.key() {
            batch.delete_cf(cf, key);
            if batch.len() >= DELETE_BATCH {
                self.write(std::mem::take(&mut batch))?;
            }
            iter.next();
        }
        iter.status().map_err(|e| self.err(e))?;
        self.write(batch)?;
        // Drop the tombstones now: `stat_index_is_empty` seeks over them.
        self.db.compact_range_cf(cf, None::<&[u8]>, None::<&[u8]>);
        Ok(count)
    }

    /// Deletes the stat-index entries whose path `gone` says no longer names
    /// a file (renamed or deleted since): without this, the index grows
    /// with every name a file ever had. Returns how many were deleted.
    pub fn prune_stat_index(&self, gone: impl Fn(&[u8]) -> bool) -> Result<u64, StorageError> {
        self.delete_where(CF_STAT, |key, _| gone(key))
    }

    /// Whether the stat index holds no entry: nothing was checked with this
    /// cache yet, or the index was cleared. A check then has no use for the
    /// walk's `stat` of every file (it must read them all anyway).
    pub fn stat_index_is_empty(&self) -> bool {
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(CF_STAT), scan_options(None));
        iter.seek_to_first();
        !iter.valid()
    }

    /// Counts entries (results per validator id, stat index) by scanning keys,
    /// and reads the size properties of all column families.
    pub fn stats(&self) -> Result<StoreStats, StorageError> {
        let mut stats = StoreStats::default();
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(CF_RESULTS), scan_options(None));
        iter.seek_to_first();
        while let Some(key) = iter.key() {
            stats.result_entries += 1;
            if let Some(k) = ResultKey::from_bytes(key) {
                *stats.per_validator.entry(k.validator).or_insert(0) += 1;
            }
            iter.next();
        }
        iter.status().map_err(|e| self.err(e))?;
        drop(iter);
        stats.stat_index_entries = self.count_keys(CF_STAT, &[], &[])?;
        stats.file_entries = self.count_keys(CF_FILES, &[], &[])?;

        // Every file of the database's own directory (whatever is at its
        // path now): tables, write-ahead logs with the space a log reserves
        // ahead (about 1.1 times the write buffer: `cache.write_buffer` of
        // gigabytes takes that much disk), the MANIFEST, RocksDB's own logs.
        if let Ok(dir) = std::fs::read_dir(&self.via) {
            for e in dir.flatten() {
                stats.approx_disk_bytes +=
                    e.metadata().ok().filter(std::fs::Metadata::is_file).map_or(0, |m| disk_bytes(&m));
            }
        }
        Ok(stats)
    }

    /// Looks up stat-index entries by path (relative to the project root),
    /// one output per path, with one batched `MultiGet`. Absent or
    /// undecodable entries are `None` (undecodable ones are logged and
    /// deleted).
    pub fn get_stats_index(&self, paths: &[&[u8]]) -> Vec<Option<StatEntry>> {
        self.batched_get(CF_STAT, paths, lossy, decode_stat)
    }

    /// Records stat-index entries (path relative to the project root →
    /// entry) in one atomic `WriteBatch`, overwriting existing ones.
    pub fn put_stat_index(&self, entries: &[(&[u8], StatEntry)]) -> Result<(), StorageError> {
        let mut batch = self.batch();
        batch.put_stat_index(entries)?;
        batch.commit()
    }

    /// Removes stat-index entries (e.g. for deleted files) in one atomic
    /// `WriteBatch`. Absent paths are ignored.
    pub fn remove_stat_index(&self, paths: &[&[u8]]) -> Result<(), StorageError> {
        let cf = self.cf(CF_STAT);
        let mut batch = WriteBatch::default();
        for path in paths {
            batch.delete_cf(cf, path);
        }
        self.write(batch)
    }

    /// Syncs the WAL to disk and flushes all memtables to SST files, waiting
    /// for completion. Call at clean shutdown so the next open does not
    /// replay the WAL.
    pub fn flush(&self) -> Result<(), StorageError> {
        self.db.flush_wal(true).map_err(|e| self.err(e))?;
        let mut fo = FlushOptions::default();
        fo.set_wait(true);
        let cfs = [
            self.cf(rocksdb::DEFAULT_COLUMN_FAMILY_NAME),
            self.cf(CF_RESULTS),
            self.cf(CF_STAT),
            self.cf(CF_FILES),
            self.cf(CF_META),
        ];
        self.db.flush_cfs_opt(&cfs, &fo).map_err(|e| self.err(e))
    }

    /// Writes `value` verbatim under `key` in the results column family,
    /// bypassing encoding. For tests (corruption injection) only.
    #[doc(hidden)]
    pub fn raw_put_result_for_tests(&self, key: &ResultKey, value: &[u8]) -> Result<(), StorageError> {
        self.db.put_cf(self.cf(CF_RESULTS), key.to_bytes(), value).map_err(|e| self.err(e))
    }

    /// Test hook: records another schema version, as a database written by a
    /// different verdict would carry.
    #[doc(hidden)]
    pub fn set_schema_version_for_tests(&self, version: u16) -> Result<(), StorageError> {
        self.db.put_cf(self.cf(CF_META), META_SCHEMA_VERSION_KEY, version.to_be_bytes()).map_err(|e| self.err(e))
    }

    /// Test hook: overwrites the value of every stored result and per-file
    /// entry with `value`,
    /// as on-disk corruption would; returns how many were overwritten.
    #[doc(hidden)]
    pub fn corrupt_all_results_for_tests(&self, value: &[u8]) -> Result<u64, StorageError> {
        let mut n = 0;
        for name in [CF_RESULTS, CF_FILES] {
            let cf = self.cf(name);
            let keys: Vec<Box<[u8]>> = self
                .db
                .iterator_cf(cf, rocksdb::IteratorMode::Start)
                .map(|kv| kv.map(|(k, _)| k).map_err(|e| self.err(e)))
                .collect::<Result<_, _>>()?;
            let mut batch = rocksdb::WriteBatch::default();
            for k in &keys {
                batch.put_cf(cf, k, value);
            }
            self.db.write(batch).map_err(|e| self.err(e))?;
            n += keys.len() as u64;
        }
        Ok(n)
    }

    /// Benchmark floor: one sorted batched multi-get of `keys` in the results
    /// column family, returning how many were found, without decoding them.
    #[doc(hidden)]
    pub fn raw_multi_get_for_bench(&self, keys: &[ResultKey]) -> usize {
        let mut raw: Vec<[u8; RESULT_KEY_LEN]> = keys.iter().map(ResultKey::to_bytes).collect();
        raw.sort_unstable();
        let values = self.db.batched_multi_get_cf(self.cf(CF_RESULTS), raw.iter(), true);
        values.iter().filter(|v| matches!(v, Ok(Some(_)))).count()
    }

    // ----- internals -----

    fn check_or_init_schema(&self) -> Result<(), StorageError> {
        let meta = self.cf(CF_META);
        match self.db.get_cf(meta, META_SCHEMA_VERSION_KEY).map_err(|e| self.err(e))? {
            None => {
                let mut wo = WriteOptions::default();
                wo.set_sync(true);
                self.db
                    .put_cf_opt(meta, META_SCHEMA_VERSION_KEY, SCHEMA_VERSION.to_be_bytes(), &wo)
                    .map_err(|e| self.err(e))?;
                // Flush now so this rarely-written CF does not pin old WAL
                // files.
                self.db.flush_cf(meta).map_err(|e| self.err(e))?;
                tracing::info!(cache = %self.path.display(), schema = SCHEMA_VERSION, "initialised cache database");
                Ok(())
            }
            Some(v) => {
                let found = <[u8; 2]>::try_from(v.as_slice()).map(u16::from_be_bytes).map_err(|_| {
                    StorageError::Corruption {
                        path: self.path.clone(),
                        detail: format!("meta/schema_version is {} bytes long, expected 2", v.len()),
                    }
                })?;
                if found == SCHEMA_VERSION {
                    Ok(())
                } else {
                    Err(StorageError::IncompatibleSchema { path: self.path.clone(), found, expected: SCHEMA_VERSION })
                }
            }
        }
    }

    pub(crate) fn cf(&self, name: &str) -> &ColumnFamily {
        // Every name passed here is opened by `Store::open`.
        self.db.cf_handle(name).expect("column family opened by Store::open")
    }

    fn err(&self, e: rocksdb::Error) -> StorageError {
        said_of(&self.path, &self.via, e)
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StorageError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.db.write(batch).map_err(|e| self.err(e))
    }

    /// Number of keys in `[from, to)` of `cf_name`; an empty bound means
    /// unbounded.
    fn count_keys(&self, cf_name: &str, from: &[u8], to: &[u8]) -> Result<u64, StorageError> {
        let bounds = (!to.is_empty()).then(|| (from.to_vec(), to.to_vec()));
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(cf_name), scan_options(bounds));
        if from.is_empty() {
            iter.seek_to_first();
        } else {
            iter.seek(from);
        }
        let mut n = 0u64;
        while iter.valid() {
            n += 1;
            iter.next();
        }
        iter.status().map_err(|e| self.err(e))?;
        Ok(n)
    }

    /// One batched, sorted `MultiGet` for `keys`; decodes each hit with
    /// `decode` (`Ok(None)` = present but not usable, e.g. expired;
    /// `Err` = undecodable → logged, deleted, `None`).
    fn batched_get<V>(
        &self,
        cf_name: &'static str,
        keys: &[&[u8]],
        show_key: fn(&[u8]) -> String,
        mut decode: impl FnMut(&[u8]) -> Result<Option<V>, String>,
    ) -> Vec<Option<V>> {
        if keys.is_empty() {
            return Vec::new();
        }
        // Sort and de-duplicate so RocksDB can take its sorted fast path;
        // `slot[i]` is the position of keys[i] in `unique`.
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_unstable_by(|&a, &b| keys[a].cmp(keys[b]));
        let mut unique: Vec<&[u8]> = Vec::with_capacity(keys.len());
        let mut slot = vec![0usize; keys.len()];
        for &i in &order {
            if unique.last() != Some(&keys[i]) {
                unique.push(keys[i]);
            }
            slot[i] = unique.len() - 1;
        }

        let cf = self.cf(cf_name);
        let values = self.db.batched_multi_get_cf(cf, unique.iter(), true);
        let mut reported = vec![false; unique.len()];
        let mut corrupt: Vec<usize> = Vec::new();
        let mut out = Vec::with_capacity(keys.len());
        for &s in &slot {
            let decoded = match &values[s] {
                Ok(Some(raw)) => match decode(raw) {
                    Ok(v) => v,
                    Err(why) => {
                        if !reported[s] {
                            reported[s] = true;
                            corrupt.push(s);
                            tracing::warn!(
                                cache = %self.path.display(),
                                cf = cf_name,
                                key = %show_key(unique[s]),
                                error = %why,
                                "deleting undecodable cache entry"
                            );
                        }
                        None
                    }
                },
                Ok(None) => None,
                Err(e) => {
                    if !reported[s] {
                        reported[s] = true;
                        let before = self.read_failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        // One warning per database: damaged blocks fail
                        // every key in them, at every check.
                        // The tables by the cache's path, not the
                        // descriptor's RocksDB was given.
                        let said = e.to_string().replace(&self.via, &self.path.to_string_lossy());
                        if before == 0 {
                            tracing::warn!(
                                cache = %self.path.display(),
                                cf = cf_name,
                                key = %show_key(unique[s]),
                                error = %said,
                                "cache read failed; treating as a miss (further failures are logged at debug level; \
                                 `verdict status` counts them, `verdict cache clear` starts the cache afresh)"
                            );
                        } else {
                            tracing::debug!(cf = cf_name, key = %show_key(unique[s]), error = %said, "cache read failed");
                        }
                    }
                    None
                }
            };
            out.push(decoded);
        }
        drop(values);

        if !corrupt.is_empty() {
            let mut batch = WriteBatch::default();
            for s in corrupt {
                batch.delete_cf(cf, unique[s]);
            }
            if let Err(e) = self.write(batch) {
                tracing::warn!(cache = %self.path.display(), error = %e, "could not delete undecodable cache entries");
            }
        }
        out
    }
}

/// Writes gathered for one atomic write (see [`Store::batch`]). Dropping it
/// without [`commit`](Self::commit) writes nothing.
pub struct StoreBatch<'a> {
    store: &'a Store,
    batch: WriteBatch,
    /// Reused to encode each value.
    buf: Vec<u8>,
    /// Values left out as too large (see [`MAX_PAYLOAD_BYTES`]).
    skipped: usize,
}

impl StoreBatch<'_> {
    /// Adds results, as [`Store::put_results`] stores them.
    pub fn put_results<T: Serialize>(
        &mut self,
        entries: &[(ResultKey, &T, u64)],
        now_secs: u64,
    ) -> Result<(), StorageError> {
        self.put_in(CF_RESULTS, entries, now_secs)
    }

    /// Adds per-file entries, as [`Store::put_file_results`] stores them.
    pub fn put_file_results<T: Serialize>(
        &mut self,
        entries: &[(ResultKey, &T, u64)],
        now_secs: u64,
    ) -> Result<(), StorageError> {
        self.put_in(CF_FILES, entries, now_secs)
    }

    /// Adds stat-index entries, as [`Store::put_stat_index`] stores them.
    pub fn put_stat_index(&mut self, entries: &[(&[u8], StatEntry)]) -> Result<(), StorageError> {
        let store = self.store;
        let cf = store.cf(CF_STAT);
        for (path, entry) in entries {
            self.buf.clear();
            bincode::serde::encode_into_std_write(entry, &mut self.buf, bincode::config::standard())
                .map_err(|source| StorageError::Encode { path: store.path.clone(), source })?;
            self.batch.put_cf(cf, path, &self.buf);
        }
        Ok(())
    }

    /// Records that the results of validator id `validator` are `name`'s
    /// (written with them, at each write), so that clearing `name`'s
    /// results finds those of its earlier configurations too.
    pub fn put_validator_name(&mut self, validator: &[u8; 16], name: &str) {
        self.batch.put_cf(self.store.cf(CF_META), meta_name_key(validator), name.as_bytes());
    }

    /// How many writes the batch holds.
    pub fn len(&self) -> usize {
        self.batch.len()
    }

    /// Whether the batch holds no write.
    pub fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }

    /// How many values were left out as larger than [`MAX_PAYLOAD_BYTES`]:
    /// a warm run will not find them.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Writes everything added, atomically. Returns once it is in the WAL.
    pub fn commit(self) -> Result<(), StorageError> {
        self.store.write(self.batch)
    }

    fn put_in<T: Serialize>(
        &mut self,
        cf_name: &'static str,
        entries: &[(ResultKey, &T, u64)],
        now_secs: u64,
    ) -> Result<(), StorageError> {
        let store = self.store;
        let cf = store.cf(cf_name);
        let buf = &mut self.buf;
        for (key, value, ttl_secs) in entries {
            // `now_secs` is the current second, which may be all but over:
            // one more, so an entry lives at least its TTL (and less than a
            // second longer), as `decode_result` expires it at the start of
            // the second `expires_at`.
            let expires_at = if *ttl_secs == 0 { 0 } else { now_secs.saturating_add(*ttl_secs).saturating_add(1) };
            buf.clear();
            buf.extend_from_slice(&expires_at.to_be_bytes());
            buf.extend_from_slice(&now_secs.to_be_bytes());
            bincode::serde::encode_into_std_write(value, &mut *buf, bincode::config::standard())
                .map_err(|source| StorageError::Encode { path: store.path.clone(), source })?;
            let payload = buf.len() - RESULT_VALUE_HEADER_LEN;
            if payload > MAX_PAYLOAD_BYTES {
                tracing::warn!(
                    cache = %store.path.display(),
                    key = %hex(&key.to_bytes()),
                    bytes = payload,
                    limit = MAX_PAYLOAD_BYTES,
                    "result too large to cache; skipped"
                );
                self.skipped += 1;
                continue;
            }
            self.batch.put_cf(cf, key.to_bytes(), &*buf);
        }
        Ok(())
    }
}

/// Above every key of results and per-file entries: they are all
/// RESULT_KEY_LEN bytes.
fn everything_above() -> Vec<u8> {
    vec![0xff; RESULT_KEY_LEN + 1]
}

/// The space a file takes: its length, or the blocks allocated to it if
/// more (space reserved ahead with `fallocate`).
pub(crate) fn disk_bytes(m: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    m.len().max(m.blocks().saturating_mul(512))
}

/// Column-family options: shared block cache (holding index and filter
/// blocks too, so they count against its capacity), LZ4, optional bloom
/// filter.
fn cf_options(cache: &Cache, bloom: bool, write_buffer: usize, max_buffers: i32) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    if bloom {
        // Whole-key bloom filter: most lookups of a fresh cache are misses.
        table.set_bloom_filter(10.0, false);
        table.set_optimize_filters_for_memory(true);
    }
    let mut o = Options::default();
    o.set_block_based_table_factory(&table);
    o.set_compression_type(DBCompressionType::Lz4);
    o.set_write_buffer_size(write_buffer);
    o.set_max_write_buffer_number(max_buffers);
    o
}

/// Read options for full scans: do not evict hot blocks from the cache.
fn scan_options(bounds: Option<(Vec<u8>, Vec<u8>)>) -> ReadOptions {
    let mut ro = ReadOptions::default();
    ro.fill_cache(false);
    if let Some((from, to)) = bounds {
        ro.set_iterate_lower_bound(from);
        ro.set_iterate_upper_bound(to);
    }
    ro
}

/// `(expires_at, created_at)` of a results value, if it has a full header.
fn parse_header(value: &[u8]) -> Option<(u64, u64)> {
    let expires = value.get(0..8)?.try_into().ok()?;
    let created = value.get(8..16)?.try_into().ok()?;
    Some((u64::from_be_bytes(expires), u64::from_be_bytes(created)))
}

fn decode_result<T: DeserializeOwned>(raw: &[u8], now_secs: u64) -> Result<Option<Cached<T>>, String> {
    let (expires_at, created_at) = parse_header(raw).ok_or_else(|| {
        format!("value is {} bytes, shorter than its {RESULT_VALUE_HEADER_LEN}-byte header", raw.len())
    })?;
    if expires_at != 0 && expires_at <= now_secs {
        return Ok(None);
    }
    let value = decode_exact(&raw[RESULT_VALUE_HEADER_LEN..])?;
    Ok(Some(Cached { value, created_at, expires_at }))
}

fn decode_stat(raw: &[u8]) -> Result<Option<StatEntry>, String> {
    decode_exact(raw).map(Some)
}

/// bincode-decodes exactly all of `bytes` (trailing bytes mean the value is
/// not what we think it is), with an allocation limit.
fn decode_exact<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let config = bincode::config::standard().with_limit::<DECODE_LIMIT>();
    let (value, read) = bincode::serde::decode_from_slice::<T, _>(bytes, config).map_err(|e| e.to_string())?;
    if read != bytes.len() {
        return Err(format!("{} trailing bytes after a {read}-byte value", bytes.len() - read));
    }
    Ok(value)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// Compile-time check of the documented thread-safety guarantee.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
};

const _: () = assert!(VALIDATOR_PREFIX_LEN + 16 == RESULT_KEY_LEN);

/// A RocksDB error about the database in `dir`, which RocksDB knows as
/// `via`: said with `dir`.
fn said_of(dir: &Path, via: &str, e: rocksdb::Error) -> StorageError {
    StorageError::classify(dir, e.into_string().replace(via, &dir.to_string_lossy()))
}

/// The longest `CURRENT` or `IDENTITY` a database has (each holds a line).
const SMALL_FILE_MAX: u64 = 64 * 1024;

/// Whether an entry named `name` of a cache directory, of type `kind`
/// (size `len`), is one with the name of a RocksDB file that RocksDB would
/// block on, fail at or read without end: a link, a FIFO, a socket, a
/// device or a directory; a `CURRENT` or `IDENTITY` of more than a line.
/// Why, if so.
fn unfit(name: &str, kind: std::fs::FileType, len: u64) -> Option<String> {
    use std::os::unix::fs::FileTypeExt;
    // Only the names RocksDB opens: a `CACHEDIR.TAG` or `.gitignore` kept
    // as a link (dotfiles managed with stow) is the user's.
    let rocksdb_name = matches!(name, "CURRENT" | "IDENTITY" | "LOCK")
        || ["LOG", "MANIFEST-", "OPTIONS-"].iter().any(|p| name.starts_with(p))
        || [".sst", ".log", ".blob"].iter().any(|e| name.ends_with(e));
    if !rocksdb_name {
        return None;
    }
    let what = if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else if kind.is_dir() {
        "a directory"
    } else if matches!(name, "CURRENT" | "IDENTITY") && len > SMALL_FILE_MAX {
        return Some(format!("its {name} is {len} bytes long, where RocksDB writes one line"));
    } else {
        return None;
    };
    Some(format!("its {name} is {what}, which RocksDB never makes there"))
}

/// The first entry of `dir` that [`unfit`] refuses, said.
fn unfit_entry(dir: &Path) -> Option<String> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries.flatten().find_map(|e| {
        let kind = e.file_type().ok()?;
        let len = if kind.is_file() { e.metadata().map_or(0, |m| m.len()) } else { 0 };
        unfit(&e.file_name().to_string_lossy(), kind, len)
    })
}

/// Removes the entries of `dir` that [`unfit`] refuses (a directory with
/// what is in it), so that RocksDB can destroy the rest.
fn remove_unfit_entries(dir: &Path) -> Result<(), StorageError> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for e in entries.flatten() {
        let Ok(kind) = e.file_type() else { continue };
        let len = if kind.is_file() { e.metadata().map_or(0, |m| m.len()) } else { 0 };
        if unfit(&e.file_name().to_string_lossy(), kind, len).is_some() {
            let removed =
                if kind.is_dir() { std::fs::remove_dir_all(e.path()) } else { std::fs::remove_file(e.path()) };
            removed.map_err(|err| StorageError::from_io(dir, err))?;
        }
    }
    Ok(())
}

/// Whether `dir` holds data a RocksDB database wrote (its write-ahead logs,
/// its tables). A manifest alone is not: RocksDB writes the first one before
/// `CURRENT`, so a creation cut short (a full disk, a kill) leaves one, and
/// creating the database anew there loses nothing.
fn holds_database_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.ends_with(".log") && name.starts_with(|c: char| c.is_ascii_digit()) || name.ends_with(".sst")
        })
    })
}

/// The device and inode of directory `dir`, if it is there.
fn dir_id(dir: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir).ok().map(|m| (m.dev(), m.ino()))
}
