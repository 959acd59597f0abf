//! The stat index: a git-index-like record of what a file looked like when it
//! was last hashed, so an unchanged file need not be read again.

use std::fs::Metadata;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Safety margin of the racy-clean rule, in nanoseconds (2 s).
///
/// It must cover the coarsest file-system timestamp granularity we expect
/// (FAT: 2 s, HFS+: 1 s, ext4/xfs/btrfs: one kernel tick, a few ms) plus the
/// lag of the kernel's coarse clock behind [`SystemTime::now`]. Re-hashing a
/// file that was modified in the last two seconds before it was recorded is
/// cheap; missing an edit is not.
pub const RACY_MARGIN_NS: i128 = 2_000_000_000;

/// What a file looked like when its content was hashed: the value of the
/// `stat` column family, keyed by the path relative to the project root.
///
/// A file is *clean* (its content hash can be reused without reading it)
/// when [`is_clean`](Self::is_clean) holds: the current metadata
/// [`matches`](Self::matches) the entry and the entry is not
/// [racy](Self::is_racy).
///
/// Times are nanoseconds since the Unix epoch (negative before 1970).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StatEntry {
    /// File size in bytes.
    pub size: u64,
    /// Modification time (`st_mtime` + `st_mtime_nsec`), ns since the epoch.
    pub mtime_ns: i128,
    /// Status-change time (`st_ctime` + `st_ctime_nsec`), ns since the epoch.
    /// Not the creation time; 0 on platforms without it.
    pub ctime_ns: i128,
    /// Inode number (`st_ino`); 0 on platforms without it.
    pub ino: u64,
    /// xxh3-128 of the file's content ([`crate::content_hash`]).
    pub content_hash: u128,
    /// When the entry was recorded, ns since the epoch. Must be sampled
    /// **before** the file was stat'ed and read (see [`is_racy`](Self::is_racy)).
    pub recorded_at_ns: i128,
    /// Whether the content looked binary (a NUL byte in its first 8 KiB), so
    /// text-only validators can leave the file out without reading it.
    pub binary: bool,
}

impl StatEntry {
    /// Builds an entry from a file's metadata and the hash of the content
    /// read right after that metadata was taken.
    ///
    /// `recorded_at_ns` must be the time ([`unix_now_ns`]) sampled *before*
    /// the `stat` and the read; sampling it afterwards defeats the racy-clean
    /// rule.
    pub fn from_metadata(meta: &Metadata, content_hash: u128, recorded_at_ns: i128) -> StatEntry {
        let (mtime_ns, ctime_ns, ino) = stat_fields(meta);
        StatEntry { size: meta.len(), mtime_ns, ctime_ns, ino, content_hash, recorded_at_ns, binary: false }
    }

    /// Whether `meta` (a fresh `stat` of the same path) still describes the
    /// file this entry was recorded from: same size, mtime, ctime and inode.
    ///
    /// A match alone is not enough to skip hashing: also check
    /// [`is_racy`](Self::is_racy), or use [`is_clean`](Self::is_clean).
    pub fn matches(&self, meta: &Metadata) -> bool {
        let (mtime_ns, ctime_ns, ino) = stat_fields(meta);
        self.size == meta.len() && self.mtime_ns == mtime_ns && self.ctime_ns == ctime_ns && self.ino == ino
    }

    /// The racy-clean rule (git's "racy git" problem).
    ///
    /// File timestamps have a granularity (a clock tick, or up to 2 s on some
    /// file systems), so a file modified *again* within the same tick as the
    /// stat we recorded can keep the same mtime — and, if the size is
    /// unchanged, look identical to the recorded entry although its content
    /// differs. git therefore re-hashes every entry whose mtime is not older
    /// than the index file itself.
    ///
    /// Here the entry is racy when the file's mtime is not strictly earlier
    /// than `recorded_at_ns - RACY_MARGIN_NS`. We also apply the rule to the
    /// ctime (i.e. we use `max(mtime, ctime)`), which additionally catches a
    /// same-tick edit whose mtime was then set back with `touch -m -d`.
    ///
    /// A racy entry must be treated as a miss: hash the file again and record
    /// a fresh entry (whose `recorded_at_ns` is then later, so it will
    /// normally stop being racy).
    ///
    /// This is only sound if `recorded_at_ns` was sampled *before* the file
    /// was stat'ed and read; a later sample makes entries look older than
    /// they are. Clock skew between this host and a network file server can
    /// still defeat it.
    pub fn is_racy(&self) -> bool {
        self.mtime_ns.max(self.ctime_ns) >= self.recorded_at_ns.saturating_sub(RACY_MARGIN_NS)
    }

    /// `self.matches(meta) && !self.is_racy()`: the recorded
    /// [`content_hash`](Self::content_hash) can be reused without reading the
    /// file.
    pub fn is_clean(&self, meta: &Metadata) -> bool {
        self.matches(meta) && !self.is_racy()
    }
}

/// The current time in nanoseconds since the Unix epoch (negative if the
/// clock is before 1970).
pub fn unix_now_ns() -> i128 {
    system_time_ns(SystemTime::now())
}

/// The current time in whole seconds since the Unix epoch (0 if the clock is
/// before 1970); the usual `now_secs` argument of the result-cache methods.
pub fn unix_now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn system_time_ns(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// (mtime_ns, ctime_ns, ino) of `meta`.
#[cfg(unix)]
fn stat_fields(meta: &Metadata) -> (i128, i128, u64) {
    use std::os::unix::fs::MetadataExt;
    let ns = |secs: i64, nsec: i64| i128::from(secs) * 1_000_000_000 + i128::from(nsec);
    (ns(meta.mtime(), meta.mtime_nsec()), ns(meta.ctime(), meta.ctime_nsec()), meta.ino())
}

/// (mtime_ns, ctime_ns, ino) of `meta`; no ctime or inode off Unix.
#[cfg(not(unix))]
fn stat_fields(meta: &Metadata) -> (i128, i128, u64) {
    let mtime = meta.modified().map(system_time_ns).unwrap_or(0);
    (mtime, 0, 0)
}
