//! Knowing that nothing changed: an inotify watch on every directory a check
//! walks, so that a re-check of an unchanged tree can be answered from the
//! previous run's outcomes without walking the tree again (see
//! [`crate::check::Memo`]).
//!
//! Why this is sound on a local file system:
//!
//! * Linux queues an inotify event synchronously, inside the system call
//!   that changed the directory or file. A change made before `verdict
//!   check` was issued is therefore already in the queue when the check
//!   starts, and every check [`drain`](TreeWatch::drain)s the queue before it
//!   decides anything. Any event at all (create, delete, rename, write,
//!   attribute change, a lost queue) stops the previous answer from being
//!   returned as it is. Where only files changed, the drains record in
//!   which directories ([`TreeWatch::changed_since`]), so that a check can
//!   look at those alone and keep the rest of the answer.
//! * The walker lists a directory before its watch is added, so a change in
//!   that gap would be seen by neither. A run that had to add a watch that
//!   did not exist yet therefore never leaves an answer to reuse, and adding
//!   a watch moves the generation, so no other run in flight leaves one
//!   either; only a run that walked directories all watched since before it
//!   started does.
//! * Drains are serialised: a check never reads the generation while
//!   another check has taken events off the queue but not counted them.
//!
//! Not seen: changes on network and FUSE file systems made by other hosts,
//! writes through a shared memory mapping, writes through a hard link in an
//! unwatched directory (a link elsewhere in the tree is an event in its own
//! directory only, so answers are not updated by directory where a file has
//! more than one link, and a link made, written through and removed between
//! two checks is not seen), file systems mounted over a directory of the
//! tree while a check walks it (a mount or unmount at, above or below the
//! tree between two checks is seen in the mount table), and edits of git's
//! global excludes file (`verdict reload` drops the answer). The other
//! ignore files a walk read, above the root and in nested repositories
//! included, are also stamped, and looked at before an answer is reused
//! (see `check::ReadStamp`).
//! The configuration option `check.watch = false` turns the whole mechanism
//! off.

use std::collections::{HashMap, HashSet, VecDeque};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use tracing::{info, warn};

/// What a directory watch reports: anything that changes the directory's
/// entries, or the contents or attributes of a file in it.
fn mask() -> AddWatchFlags {
    AddWatchFlags::IN_MODIFY
        | AddWatchFlags::IN_ATTRIB
        | AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_DELETE_SELF
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_MOVE_SELF
        | AddWatchFlags::IN_ONLYDIR
        | AddWatchFlags::IN_DONT_FOLLOW
}

/// The daemon's inotify instance and what it has seen.
pub struct TreeWatch {
    /// Unset while inotify could not be initialised (nothing is reused
    /// then); tried again before each check.
    inotify: std::sync::OnceLock<Inotify>,
    /// Watch descriptors handed out so far, and their directories: a
    /// descriptor not in here is a directory that was not watched before.
    /// One directory may have several paths in the tree (a bind mount):
    /// the kernel gives them one watch, whose events are each path's.
    known: Mutex<HashMap<WatchDescriptor, Vec<PathBuf>>>,
    /// Bumped by every drain that found an event (or an error), and by every
    /// new watch, with the log's lock held.
    generation: AtomicU64,
    /// What each bump of the generation was about.
    log: Mutex<ChangeLog>,
    /// Whether a failure to add a watch was logged (once, not per directory).
    warned: std::sync::atomic::AtomicBool,
    /// Why there is no inotify instance, for `verdict status`.
    unavailable: Mutex<Option<String>>,
    /// Directories that could not be watched the last time a walk tried
    /// (but for vanished ones), and the latest such failure, for `verdict
    /// status`.
    failing: Mutex<HashSet<PathBuf>>,
    last_failure: Mutex<Option<String>>,
    /// Held for a whole drain, so that a check never reads the old
    /// generation while another check has taken events off the queue but
    /// not counted them yet.
    draining: Mutex<()>,
    /// Watches of directories above the project root (or git directories),
    /// whose ignore files the walk reads but whose other entries do not
    /// matter: their other events are dropped, unless the same directory
    /// is watched as one the walk walks too (`tree`: one watch serves both).
    ancestors: Mutex<HashSet<WatchDescriptor>>,
    /// Watches added for directories the walk walks ([`TreeWatch::watch_dir`]).
    tree: Mutex<HashSet<WatchDescriptor>>,
    /// The mount table, which the kernel marks (`POLLPRI`) when a file
    /// system is mounted or unmounted: inotify sees no event when one is
    /// mounted over a directory of the tree (a bind mount made between two
    /// checks), so a mount at, above or below a watched directory is a
    /// change of the tree.
    mounts: Option<std::fs::File>,
    /// The table as last read, to tell which mounts came or went; `None`
    /// if it could not be read (any change of the table then counts).
    mount_table: Mutex<Option<HashSet<Mount>>>,
}

/// A mount: its whole line of the table, and where it is mounted. Not its
/// id alone: the kernel hands a freed id out again, so an unmount and a
/// mount of something else at the same place can leave id and place as
/// they were; the line also says what is mounted (device, root within it,
/// source, options).
type Mount = (Vec<u8>, PathBuf);

/// What moved the generation once.
#[derive(Debug)]
enum Change {
    /// Files in these directories were created, deleted, renamed, written or
    /// changed attributes; nothing else happened.
    Files(HashSet<PathBuf>),
    /// Anything else: a directory created, deleted or moved, an ignore file
    /// touched, a new watch, a lost queue.
    Other,
}

/// The latest changes, by generation, oldest first.
#[derive(Debug, Default)]
struct ChangeLog {
    entries: VecDeque<(u64, Change)>,
    /// The directories held in `entries`.
    dirs: usize,
    /// Entries up to this generation were dropped to bound the log.
    dropped_up_to: u64,
}

/// The most directories the change log holds; older changes are forgotten
/// (and a run that needs them walks the whole tree).
const LOG_MAX_DIRS: usize = 4096;

/// The names of the ignore files a walk honours, and `.git` (a `.git` file
/// says where git's excludes are): a change to one can change which files
/// a walk finds anywhere below it.
pub const IGNORE_FILES: [&str; 3] = [".gitignore", ".ignore", ".git"];

/// Whether a change of the entry `name` of a directory may change the
/// checks of files anywhere below it: an ignore file, `.git`, a
/// `.gitattributes` or an `.editorconfig` (see [`crate::check`]'s
/// attributes and EditorConfig), what makes a `vendor` directory a package manager's
/// (see [`crate::check::package_vendor`]), a README, a licence file or a Hex package's metadata (see
/// [`crate::check::readme_vendor`]), or a `.prettierignore` (see
/// [`crate::check::formatter_ignore`]; only the root's is read).
fn rules_below(name: &std::ffi::OsStr) -> bool {
    IGNORE_FILES.iter().any(|f| name == *f)
        || name == ".gitattributes"
        || name == ".editorconfig"
        || crate::check::package_vendor::is_sign_name(std::os::unix::ffi::OsStrExt::as_bytes(name))
        || crate::check::readme_vendor::is_readme(std::os::unix::ffi::OsStrExt::as_bytes(name))
        || crate::check::readme_vendor::is_licence(std::os::unix::ffi::OsStrExt::as_bytes(name))
        || name == crate::check::formatter_ignore::FILE_NAME
}

/// Whether an entry `name` of a directory appearing or going (created,
/// deleted, moved) may change the checks of files anywhere below it, by
/// its name alone: a package recipe's (see [`crate::check::recipes`]).
fn names_below(name: &std::ffi::OsStr) -> bool {
    crate::check::recipes::is_recipe_name(std::os::unix::ffi::OsStrExt::as_bytes(name))
}

impl ChangeLog {
    fn push(&mut self, generation: u64, change: Change) {
        let Change::Files(dirs) = &change else {
            // Nothing before it can ever be answered: keep none of it.
            self.entries.clear();
            self.dirs = 0;
            self.dropped_up_to = generation;
            return;
        };
        self.dirs += dirs.len();
        self.entries.push_back((generation, change));
        while self.dirs > LOG_MAX_DIRS
            && let Some((g, old)) = self.entries.pop_front()
        {
            if let Change::Files(dirs) = old {
                self.dirs -= dirs.len();
            }
            self.dropped_up_to = g;
        }
    }
}

/// What a run learnt while walking: whether every directory it walked was
/// already watched when the run started.
#[derive(Debug, Default)]
pub struct WalkWatch {
    /// A directory that was not watched yet, or could not be watched.
    pub fresh: std::sync::atomic::AtomicBool,
    /// The watches of every directory the run walked, with the paths it
    /// walked them by.
    seen: Mutex<HashMap<WatchDescriptor, Vec<PathBuf>>>,
    /// Those of directories it walked as the tree (not only for their
    /// ignore files).
    tree_seen: Mutex<HashSet<WatchDescriptor>>,
    /// The git directories watched for their excludes, with their device
    /// and inode: one moved or replaced (a parent renamed, a copy put in
    /// its place) sends no event to its watch, so an answer is reused only
    /// while each path still names the same directory.
    pub git_dirs: Mutex<Vec<(PathBuf, u64, u64)>>,
    /// The ignore files the run's walks read, as they were.
    pub ignore_files: Mutex<Vec<(PathBuf, crate::check::ReadStamp)>>,
}

impl TreeWatch {
    /// A new instance; a failure (no inotify, no more instances) is logged
    /// and leaves a watch that never vouches for anything.
    pub fn new() -> TreeWatch {
        let watch = TreeWatch {
            inotify: std::sync::OnceLock::new(),
            unavailable: Mutex::new(None),
            failing: Mutex::new(HashSet::new()),
            last_failure: Mutex::new(None),
            known: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            log: Mutex::new(ChangeLog::default()),
            warned: std::sync::atomic::AtomicBool::new(false),
            draining: Mutex::new(()),
            ancestors: Mutex::new(HashSet::new()),
            tree: Mutex::new(HashSet::new()),
            mounts: std::fs::File::open("/proc/self/mountinfo").ok(),
            mount_table: Mutex::new(read_mount_table()),
        };
        watch.init();
        watch
    }

    /// Gets an inotify instance if there is none yet; logs a failure the
    /// first time, and a success after one.
    fn init(&self) {
        if self.inotify.get().is_some() {
            return;
        }
        let mut unavailable = self.unavailable.lock().expect("unavailable");
        match Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC) {
            Ok(i) => {
                if self.inotify.set(i).is_ok() && unavailable.take().is_some() {
                    info!("inotify is available again: unchanged trees are no longer walked");
                }
            }
            Err(e) => {
                let hint = if e == Errno::EMFILE {
                    " (the user's inotify instances are used up: fs.inotify.max_user_instances)"
                } else {
                    ""
                };
                if unavailable.is_none() {
                    warn!(error = %e, "inotify is unavailable{hint}: every check walks the tree until it is");
                }
                *unavailable = Some(format!("{e}{hint}"));
            }
        }
    }

    /// Whether this watch can vouch for anything. Without an inotify
    /// instance, tries again to get one (another process may have freed
    /// one): the check that asks walks all the same, and later ones can
    /// be answered.
    pub fn available(&self) -> bool {
        self.init();
        self.inotify.get().is_some()
    }

    /// For `verdict status`: whether there is an inotify instance (and why
    /// not), how many directories are watched (those above the project
    /// root whose ignore files the walk reads included), and how many could
    /// not be the last time a walk tried.
    pub fn status(&self) -> serde_json::Value {
        serde_json::json!({
            "available": self.inotify.get().is_some(),
            "error": *self.unavailable.lock().expect("unavailable"),
            "watches": self.known.lock().expect("known").len(),
            "failures": self.failing.lock().expect("failing").len(),
            "last_failure": *self.last_failure.lock().expect("last failure"),
        })
    }

    /// Watches `dir`, marking `walk` fresh when the watch is new or cannot be
    /// added (out of watches, the directory vanished).
    pub fn watch_dir(&self, dir: &Path, walk: &WalkWatch) {
        if let Some(wd) = self.add(dir, walk) {
            self.tree.lock().expect("tree").insert(wd);
            walk.tree_seen.lock().expect("tree seen").insert(wd);
        }
    }

    /// [`watch_dir`](Self::watch_dir), returning the watch if one was added.
    fn add(&self, dir: &Path, walk: &WalkWatch) -> Option<WatchDescriptor> {
        let Some(inotify) = self.inotify.get() else {
            walk.fresh.store(true, Ordering::Relaxed);
            return None;
        };
        match inotify.add_watch(dir, mask()) {
            Ok(wd) => {
                {
                    let mut failing = self.failing.lock().expect("failing");
                    if !failing.is_empty() && failing.remove(dir) && failing.is_empty() {
                        *self.last_failure.lock().expect("last failure") = None;
                    }
                }
                let mut seen = walk.seen.lock().expect("seen");
                let by = seen.entry(wd).or_default();
                if !by.iter().any(|p| p == dir) {
                    by.push(dir.to_path_buf());
                }
                drop(seen);
                let mut known = self.known.lock().expect("known");
                let paths = known.entry(wd).or_default();
                if !paths.iter().any(|p| p == dir) {
                    // A new watch, or a watched directory reached by another
                    // path, counts as a change: a run in flight may have
                    // listed this directory (under this path) before its
                    // events were reported for it.
                    paths.push(dir.to_path_buf());
                    drop(known);
                    walk.fresh.store(true, Ordering::Relaxed);
                    self.bump(Change::Other);
                }
                Some(wd)
            }
            Err(e) => {
                // A directory that vanished is a change like any other; any
                // other failure means unchanged trees are walked again.
                if e != Errno::ENOENT {
                    let hint = if e == Errno::ENOSPC {
                        " (the user's inotify watches are used up: fs.inotify.max_user_watches)"
                    } else {
                        ""
                    };
                    if !self.warned.swap(true, Ordering::Relaxed) {
                        warn!(dir = %dir.display(), error = %e, "cannot watch a directory{hint}: trees are walked again on every check");
                    }
                    self.failing.lock().expect("failing").insert(dir.to_path_buf());
                    *self.last_failure.lock().expect("last failure") = Some(format!("{}: {e}{hint}", dir.display()));
                }
                walk.fresh.store(true, Ordering::Relaxed);
                None
            }
        }
    }

    /// Watches `dir`, above the project root, for its ignore files only (the
    /// walk reads those of every directory above it, and the
    /// `.git/info/exclude` of a repository it sits in): a change of any
    /// other entry there is no change of the tree.
    pub fn watch_ancestor(&self, dir: &Path, walk: &WalkWatch) {
        if let Some(wd) = self.add(dir, walk) {
            self.ancestors.lock().expect("ancestors").insert(wd);
        }
    }

    /// After a complete walk of the whole project: removes the watches of
    /// directories it no longer walks (ignored since, or moved out), which
    /// would otherwise keep reporting changes that do not matter and use up
    /// the user's watches, and the paths a directory no longer has (it was
    /// renamed), under which its changes would be reported to no avail.
    /// The removals are events, so no run in flight leaves an answer
    /// relying on them.
    pub fn forget_unwalked(&self, walk: &WalkWatch) {
        let Some(inotify) = self.inotify.get() else { return };
        let seen = walk.seen.lock().expect("seen");
        let mut known = self.known.lock().expect("known");
        known.retain(|wd, paths| {
            if let Some(walked) = seen.get(wd) {
                paths.retain(|p| walked.contains(p));
                if !paths.is_empty() {
                    return true;
                }
            }
            let _ = inotify.rm_watch(*wd);
            false
        });
        // A directory no longer walked (ignored since) but still watched
        // for its excludes (a git directory) is no tree directory now.
        let tree_seen = walk.tree_seen.lock().expect("tree seen");
        self.tree.lock().expect("tree").retain(|wd| tree_seen.contains(wd));
    }

    /// Moves the generation, recording why.
    fn bump(&self, change: Change) -> u64 {
        let mut log = self.log.lock().expect("log");
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        log.push(generation, change);
        generation
    }

    /// Reads every queued event; returns the generation, which changes
    /// whenever anything happened since the last drain.
    pub fn drain(&self) -> u64 {
        let Some(inotify) = self.inotify.get() else { return self.generation.load(Ordering::SeqCst) };
        let _draining = self.draining.lock().expect("draining");
        let mut any = false;
        // `None` once something other than files changed.
        let mut dirs = Some(HashSet::new());
        if self.mounts_changed() && self.mounts_touch_the_tree() {
            any = true;
            dirs = None;
        }
        loop {
            match inotify.read_events() {
                Ok(events) if events.is_empty() => break,
                Ok(events) => {
                    // A removed watch's descriptor is never handed out again
                    // soon (the kernel allocates them cyclically); forgetting
                    // it keeps the set small.
                    let mut known = self.known.lock().expect("known");
                    let mut ancestors = self.ancestors.lock().expect("ancestors");
                    let mut tree = self.tree.lock().expect("tree");
                    for e in &events {
                        // Above the root only its ignore files (and git's
                        // excludes) count, and the directory itself going.
                        let gone = e.mask.intersects(
                            AddWatchFlags::IN_IGNORED | AddWatchFlags::IN_DELETE_SELF | AddWatchFlags::IN_MOVE_SELF,
                        );
                        if ancestors.contains(&e.wd)
                            && !tree.contains(&e.wd)
                            && !gone
                            && !e.name.as_ref().is_some_and(|n| ancestor_entry_counts(n))
                        {
                            continue;
                        }
                        any = true;
                        // A package recipe's name appearing or going (an
                        // edit of one changes nothing).
                        let recipe_named = e.name.as_ref().is_some_and(|n| names_below(n))
                            && e.mask.intersects(
                                AddWatchFlags::IN_CREATE
                                    | AddWatchFlags::IN_DELETE
                                    | AddWatchFlags::IN_MOVED_FROM
                                    | AddWatchFlags::IN_MOVED_TO,
                            );
                        // Anything but a file's change: a directory's, the
                        // watch's, a rules file's, a recipe's name, or git's
                        // excludes in a git directory the walk walks too (a
                        // bare repository inside the project): ignore
                        // rules, not a file of the tree.
                        let file_only = !(e.mask.intersects(
                            AddWatchFlags::IN_ISDIR
                                | AddWatchFlags::IN_IGNORED
                                | AddWatchFlags::IN_DELETE_SELF
                                | AddWatchFlags::IN_MOVE_SELF
                                | AddWatchFlags::IN_Q_OVERFLOW
                                | AddWatchFlags::IN_UNMOUNT,
                        ) || e.name.as_ref().is_none_or(|n| rules_below(n))
                            || recipe_named
                            || (ancestors.contains(&e.wd)
                                && e.name.as_ref().is_some_and(|n| ancestor_entry_counts(n))));
                        match (file_only, known.get(&e.wd), dirs.as_mut()) {
                            (true, Some(paths), Some(dirs)) => dirs.extend(paths.iter().cloned()),
                            _ => dirs = None,
                        }
                        if e.mask.contains(AddWatchFlags::IN_IGNORED) {
                            known.remove(&e.wd);
                            ancestors.remove(&e.wd);
                            tree.remove(&e.wd);
                        }
                    }
                }
                Err(Errno::EAGAIN) => break,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    warn!(error = %e, "reading inotify events failed");
                    any = true;
                    dirs = None;
                    break;
                }
            }
        }
        if any { self.bump(dirs.map_or(Change::Other, Change::Files)) } else { self.generation.load(Ordering::SeqCst) }
    }

    /// Whether a file system was mounted or unmounted since the last look
    /// (looking resets the mark). Without the table to look at, never: the
    /// watch then misses mounts, as documented.
    fn mounts_changed(&self) -> bool {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use std::os::fd::AsFd;
        let Some(mounts) = &self.mounts else { return false };
        let mut fds = [PollFd::new(mounts.as_fd(), PollFlags::POLLPRI)];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(0) => false,
            Ok(_) => fds[0].revents().is_some_and(|r| r.intersects(PollFlags::POLLPRI | PollFlags::POLLERR)),
            // Cannot tell: as if it changed.
            Err(_) => true,
        }
    }

    /// Whether a mount that came or went since the table was last read lies
    /// at, above or below a watched directory of a tree, or, above the
    /// project root, at one of the entries an ancestor is watched for (its
    /// ignore files, git's excludes). Mounts elsewhere (a container's
    /// overlay, a USB stick) leave the trees as they were. Without a table
    /// to compare, any change counts.
    fn mounts_touch_the_tree(&self) -> bool {
        let now = read_mount_table();
        let before = std::mem::replace(&mut *self.mount_table.lock().expect("mount table"), now.clone());
        let (Some(now), Some(before)) = (now, before) else { return true };
        let moved: Vec<&Path> = now.symmetric_difference(&before).map(|(_, at)| at.as_path()).collect();
        if moved.is_empty() {
            return false;
        }
        let known = self.known.lock().expect("known");
        let ancestors = self.ancestors.lock().expect("ancestors");
        let tree = self.tree.lock().expect("tree");
        known.iter().any(|(wd, paths)| {
            paths.iter().any(|dir| {
                moved.iter().any(|&m| {
                    dir.starts_with(m)
                        || match m.strip_prefix(dir) {
                            Err(_) => false,
                            Ok(_) if !ancestors.contains(wd) || tree.contains(wd) => true,
                            Ok(below) => {
                                below.components().next().is_some_and(|c| ancestor_entry_counts(c.as_os_str()))
                            }
                        }
                })
            })
        })
    }

    /// The directories in which only files changed since `generation`, or
    /// `None` if anything else did, or the changes are no longer known. A
    /// change is known once a drain has taken it off the queue.
    pub fn changed_since(&self, generation: u64) -> Option<HashSet<PathBuf>> {
        let log = self.log.lock().expect("log");
        if generation < log.dropped_up_to {
            return None;
        }
        let mut dirs = HashSet::new();
        for (g, change) in &log.entries {
            match change {
                _ if *g <= generation => {}
                Change::Other => return None,
                Change::Files(d) => dirs.extend(d.iter().cloned()),
            }
        }
        Some(dirs)
    }
}

/// Whether a change of this entry of a directory above the project root
/// (or of a git directory elsewhere) is a change of the tree: the ignore
/// files the walk reads there and `.gitattributes`, git's excludes and
/// attributes (`.git/info/exclude`, `.git/info/attributes`, and a
/// worktree's `commondir`, which says where they are), and git's index,
/// which says which files an ignore rule matches but git tracks (checked
/// all the same: `git add -f` of one is a change of what a check covers).
fn ancestor_entry_counts(name: &std::ffi::OsStr) -> bool {
    rules_below(name)
        || name == "exclude"
        || name == "attributes"
        || name == "info"
        || name == "commondir"
        || name == "index"
}

/// The mounts of this process's mount namespace, from
/// `/proc/self/mountinfo` (proc(5): one line per mount, its mount point the
/// fifth field, with space, tab, newline and backslash written as octal
/// escapes); `None` if it cannot be read. Read here rather than with
/// the `procfs` crate, which neither undoes the escapes nor reads a mount
/// point that is not UTF-8.
fn read_mount_table() -> Option<HashSet<Mount>> {
    let table = std::fs::read("/proc/self/mountinfo").ok()?;
    table
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            let at = line.split(|&b| b == b' ').nth(4)?;
            Some((line.to_vec(), PathBuf::from(std::ffi::OsString::from_vec(unescape_octal(at)))))
        })
        .collect()
}

/// `\040` and the like, as the kernel escapes a mount point, back to bytes.
fn unescape_octal(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let digits = field.get(i + 1..i + 4).filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (field[i], digits) {
            (b'\\', Some(d)) => {
                out.push(d.iter().fold(0u8, |v, b| v.wrapping_mul(8).wrapping_add(b - b'0')));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

impl Default for TreeWatch {
    fn default() -> Self {
        TreeWatch::new()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn any_change_moves_the_generation_and_new_watches_are_reported() {
        let t = tempfile::tempdir().unwrap();
        let w = TreeWatch::new();
        assert!(w.available());
        let first = WalkWatch::default();
        w.watch_dir(t.path(), &first);
        assert!(first.fresh.load(Ordering::Relaxed), "a first watch is new");
        let again = WalkWatch::default();
        w.watch_dir(t.path(), &again);
        assert!(!again.fresh.load(Ordering::Relaxed), "the same directory is already watched");

        let g0 = w.drain();
        assert_eq!(w.drain(), g0, "nothing happened");
        // Another run adding a watch moves the generation: a run in flight
        // may have listed that directory before it was watched.
        let other = tempfile::tempdir().unwrap();
        w.watch_dir(other.path(), &WalkWatch::default());
        assert_ne!(w.drain(), g0, "a new watch moves the generation");
        let g0 = w.drain();
        w.watch_dir(other.path(), &WalkWatch::default());
        assert_eq!(w.drain(), g0, "an existing watch does not");
        std::fs::write(t.path().join("a"), "x").unwrap();
        let g1 = w.drain();
        assert_ne!(g1, g0, "a new file is seen");
        std::fs::write(t.path().join("a"), "y").unwrap();
        assert_ne!(w.drain(), g1, "a write is seen");
        let g2 = w.drain();
        std::fs::create_dir(t.path().join("sub")).unwrap();
        assert_ne!(w.drain(), g2, "a new directory is seen");

        // A deleted and re-created directory is a new watch.
        let sub = t.path().join("sub");
        let before = WalkWatch::default();
        w.watch_dir(&sub, &before);
        std::fs::remove_dir(&sub).unwrap();
        w.drain();
        std::fs::create_dir(&sub).unwrap();
        w.drain();
        let after = WalkWatch::default();
        w.watch_dir(&sub, &after);
        assert!(after.fresh.load(Ordering::Relaxed), "the re-created directory had no watch");
    }

    /// One directory at two paths of the tree (a bind mount; here `a` and
    /// `a/../a`, which the kernel resolves to the same directory):
    /// one watch, whose file changes are both paths', and reaching it by a
    /// new path makes the walk fresh.
    #[test]
    fn a_directory_at_two_paths_reports_its_changes_under_both() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("a");
        std::fs::create_dir(&a).unwrap();
        let other = t.path().join("a/../a");
        let w = TreeWatch::new();
        let first = WalkWatch::default();
        w.watch_dir(&a, &first);
        let g0 = w.drain();
        let second = WalkWatch::default();
        w.watch_dir(&other, &second);
        assert!(second.fresh.load(Ordering::Relaxed), "a second path is new to the walk");
        let g1 = w.drain();
        assert_ne!(g1, g0, "and moves the generation");
        std::fs::write(a.join("f.txt"), "x").unwrap();
        w.drain();
        let changed = w.changed_since(g1).expect("only files changed");
        assert_eq!(changed, HashSet::from([a.clone(), other.clone()]));
        let again = WalkWatch::default();
        w.watch_dir(&other, &again);
        w.watch_dir(&a, &again);
        assert!(!again.fresh.load(Ordering::Relaxed), "both paths are known now");
    }

    /// A renamed directory keeps its watch; once a whole walk has found it
    /// at its new path, its changes are reported there only.
    #[test]
    fn a_renamed_directory_is_known_by_its_new_path_after_a_walk() {
        let t = tempfile::tempdir().unwrap();
        let (old, new) = (t.path().join("a"), t.path().join("c"));
        std::fs::create_dir(&old).unwrap();
        let w = TreeWatch::new();
        w.watch_dir(&old, &WalkWatch::default());
        std::fs::rename(&old, &new).unwrap();
        w.drain();
        let walk = WalkWatch::default();
        w.watch_dir(&new, &walk);
        w.forget_unwalked(&walk);
        let g = w.drain();
        std::fs::write(new.join("f.txt"), "x").unwrap();
        w.drain();
        assert_eq!(w.changed_since(g), Some(HashSet::from([new.clone()])));
    }

    /// A file system mounted (and unmounted) between two checks is a
    /// change: inotify says nothing of a mount over a watched directory.
    /// Mounting needs a mount namespace of its own: the test runs
    /// [`mount_in_a_namespace_of_its_own`] again in one (`unshare`, from
    /// util-linux), so that it needs no privilege and leaves the machine's
    /// mounts alone.
    #[test]
    fn a_mount_is_a_change_of_the_tree() {
        in_namespaces_of_its_own("watch::tests::mount_in_a_namespace_of_its_own");
    }

    /// Runs the (ignored) test `name` of this test executable again in a
    /// user and mount namespace of its own, where it is root and its mounts
    /// and limits are its own, and fails unless it passes.
    pub(crate) fn in_namespaces_of_its_own(name: &str) {
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new("unshare")
            .args(["--user", "--map-root-user", "--mount", "--"])
            .arg(exe)
            .args(["--ignored", "--exact", name, "--nocapture"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run unshare ({e}): apt-get install util-linux"));
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success() && said.contains("1 passed"), "{said}");
    }

    /// With no inotify instance to be had (the user's are used up), the
    /// watch says why; once one can be had, the next check gets it.
    #[test]
    fn an_inotify_instance_is_sought_again_until_there_is_one() {
        in_namespaces_of_its_own("watch::tests::instances_in_a_namespace_of_its_own");
    }

    /// Run by [`an_inotify_instance_is_sought_again_until_there_is_one`],
    /// in a user namespace, whose inotify limits are its own.
    #[test]
    #[ignore = "run by an_inotify_instance_is_sought_again_until_there_is_one in a user namespace of its own"]
    fn instances_in_a_namespace_of_its_own() {
        let limit = "/proc/sys/user/max_inotify_instances";
        std::fs::write(limit, "0").expect("set the namespace's inotify instances");
        let w = TreeWatch::new();
        assert!(!w.available());
        let status = w.status();
        assert_eq!(status["available"], false);
        assert!(status["error"].as_str().unwrap().contains("fs.inotify.max_user_instances"), "{status}");
        std::fs::write(limit, "128").unwrap();
        assert!(w.available(), "sought again");
        assert!(w.status()["error"].is_null());
        let t = tempfile::tempdir().unwrap();
        let walk = WalkWatch::default();
        w.watch_dir(t.path(), &walk);
        assert_eq!(w.status()["watches"], 1);
    }

    /// Run by [`a_mount_is_a_change_of_the_tree`], in a mount namespace.
    #[test]
    #[ignore = "run by a_mount_is_a_change_of_the_tree in a mount namespace of its own"]
    fn mount_in_a_namespace_of_its_own() {
        use nix::mount::{MsFlags, mount, umount};
        let t = tempfile::tempdir().unwrap();
        let w = TreeWatch::new();
        w.watch_dir(t.path(), &WalkWatch::default());
        let g0 = w.drain();
        assert_eq!(w.drain(), g0, "nothing happened");
        mount(Some("none"), t.path(), Some("tmpfs"), MsFlags::empty(), None::<&str>).expect("mount a tmpfs");
        let g1 = w.drain();
        assert_ne!(g1, g0, "a mount is a change");
        assert_eq!(w.changed_since(g0), None, "and not only of files");
        assert_eq!(w.drain(), g1, "seen once");
        umount(t.path()).unwrap();
        let g2 = w.drain();
        assert_ne!(g2, g1, "so is an unmount");

        // Only mounts at, above or below the tree count.
        let outer = tempfile::tempdir().unwrap();
        // A space in the path: the mount table writes it as `\040`.
        let (tree, beside) = (outer.path().join("the tree"), outer.path().join("beside"));
        let inside = tree.join("sub");
        for d in [&tree, &beside, &inside] {
            std::fs::create_dir(d).unwrap();
        }
        let w = TreeWatch::new();
        w.watch_ancestor(outer.path(), &WalkWatch::default());
        w.watch_dir(&tree, &WalkWatch::default());
        let tmpfs = |at: &Path| mount(Some("none"), at, Some("tmpfs"), MsFlags::empty(), None::<&str>).unwrap();
        let g0 = w.drain();
        tmpfs(&beside);
        assert_eq!(w.drain(), g0, "a mount beside the tree, in a directory above it");
        umount(&beside).unwrap();
        assert_eq!(w.drain(), g0, "and its unmount");
        tmpfs(&inside);
        let g1 = w.drain();
        assert_ne!(g1, g0, "a mount below a watched directory");
        umount(&inside).unwrap();
        let g2 = w.drain();
        assert_ne!(g2, g1, "its unmount");

        // Another directory bound at the same place, between two drains:
        // the kernel may give the new mount the old one's id.
        let bind =
            |from: &Path, at: &Path| mount(Some(from), at, None::<&str>, MsFlags::MS_BIND, None::<&str>).unwrap();
        let (a, b) = (beside.join("a"), beside.join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        bind(&a, &inside);
        let g3 = w.drain();
        assert_ne!(g3, g2);
        umount(&inside).unwrap();
        bind(&b, &inside);
        let g4 = w.drain();
        assert_ne!(g4, g3, "another directory bound where one was");
        umount(&inside).unwrap();

        // Above the root, only the entries the walk reads count.
        let (ignore, notes) = (outer.path().join(".gitignore"), outer.path().join("notes.txt"));
        for f in [&ignore, &notes, &a.join("f")] {
            std::fs::write(f, "x\n").unwrap();
        }
        let g5 = w.drain();
        bind(&a.join("f"), &notes);
        assert_eq!(w.drain(), g5, "a file bound over an entry of a directory above the tree");
        bind(&a.join("f"), &ignore);
        let g6 = w.drain();
        assert_ne!(g6, g5, "a file bound over its .gitignore");
        umount(&ignore).unwrap();
        umount(&notes).unwrap();

        let g7 = w.drain();
        assert_ne!(g7, g6);
        tmpfs(outer.path());
        assert_ne!(w.drain(), g7, "a mount above the tree");
        umount(outer.path()).unwrap();
    }

    #[test]
    fn mount_points_are_unescaped_as_the_kernel_escapes_them() {
        assert_eq!(unescape_octal(br"/a\040b\011c\134d\012"), b"/a b\tc\\d\n");
        assert_eq!(unescape_octal(br"/caf\303\251\377"), b"/caf\xc3\xa9\xff", "bytes, UTF-8 or not");
        assert_eq!(unescape_octal(br"/x\04\09\"), br"/x\04\09\", "not three octal digits: as it is");
    }

    #[test]
    fn watches_of_directories_a_whole_walk_skipped_are_removed() {
        let t = tempfile::tempdir().unwrap();
        let (kept, dropped) = (t.path().join("kept"), t.path().join("ignored"));
        std::fs::create_dir(&kept).unwrap();
        std::fs::create_dir(&dropped).unwrap();
        let w = TreeWatch::new();
        let first = WalkWatch::default();
        w.watch_dir(&kept, &first);
        w.watch_dir(&dropped, &first);
        let second = WalkWatch::default();
        w.watch_dir(&kept, &second);
        w.forget_unwalked(&second);
        let g = w.drain();
        std::fs::write(dropped.join("x"), "x").unwrap();
        assert_eq!(w.drain(), g, "the skipped directory is no longer watched");
        std::fs::write(kept.join("x"), "x").unwrap();
        assert_ne!(w.drain(), g, "the walked one still is");
    }

    #[test]
    fn changes_to_files_are_known_by_directory_and_anything_else_is_not() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        let w = TreeWatch::new();
        for d in [t.path(), a.as_path(), b.as_path()] {
            w.watch_dir(d, &WalkWatch::default());
        }
        let g = w.drain();
        assert_eq!(w.changed_since(g), Some(HashSet::new()), "nothing since");
        std::fs::write(a.join("x.txt"), "x").unwrap();
        w.drain();
        std::fs::write(b.join("y.txt"), "y").unwrap();
        std::fs::remove_file(a.join("x.txt")).unwrap();
        let g1 = w.drain();
        assert_eq!(w.changed_since(g), Some(HashSet::from([a.clone(), b.clone()])), "over two drains");
        assert_eq!(w.changed_since(g1), Some(HashSet::new()));

        // An ignore file, a directory, a new watch: not just files.
        std::fs::write(a.join(".gitignore"), "*.log\n").unwrap();
        w.drain();
        assert_eq!(w.changed_since(g1), None, "a .gitignore");
        let g2 = w.drain();
        std::fs::create_dir(b.join("sub")).unwrap();
        w.drain();
        assert_eq!(w.changed_since(g2), None, "a new directory");
        let g3 = w.drain();
        w.watch_dir(&b.join("sub"), &WalkWatch::default());
        assert_eq!(w.changed_since(g3), None, "a new watch");
        let g4 = w.drain();
        std::fs::remove_dir(b.join("sub")).unwrap();
        w.drain();
        assert_eq!(w.changed_since(g4), None, "a removed directory");
    }

    #[test]
    fn anything_but_files_changing_empties_the_change_log() {
        let mut log = ChangeLog::default();
        log.push(1, Change::Files(HashSet::from([PathBuf::from("/a")])));
        log.push(2, Change::Other);
        log.push(3, Change::Files(HashSet::from([PathBuf::from("/b")])));
        assert_eq!(log.entries.len(), 1);
        let w = TreeWatch { log: Mutex::new(log), ..TreeWatch::new() };
        assert_eq!(w.changed_since(1), None);
        assert_eq!(w.changed_since(2), Some(HashSet::from([PathBuf::from("/b")])));
    }

    #[test]
    fn the_change_log_forgets_the_oldest_changes_past_its_bound() {
        let mut log = ChangeLog::default();
        for g in 1..=(LOG_MAX_DIRS as u64 + 10) {
            log.push(g, Change::Files(HashSet::from([PathBuf::from(format!("/d{g}"))])));
        }
        assert!(log.dirs <= LOG_MAX_DIRS);
        assert_eq!(log.dropped_up_to, 10);
        let w = TreeWatch { log: Mutex::new(log), ..TreeWatch::new() };
        assert_eq!(w.changed_since(5), None, "changes after 5 were dropped");
        assert_eq!(w.changed_since(LOG_MAX_DIRS as u64 + 9).map(|d| d.len()), Some(1));
    }

    #[test]
    fn a_directory_that_cannot_be_watched_makes_the_walk_fresh() {
        let w = TreeWatch::new();
        let walk = WalkWatch::default();
        w.watch_dir(Path::new("/nonexistent/verdict-test"), &walk);
        assert!(walk.fresh.load(Ordering::Relaxed));
        // A vanished directory is a change, not a failure; one that cannot
        // be watched (here a file: not a directory) is, and `status` says so.
        assert_eq!(w.status()["failures"], 0);
        let t = tempfile::tempdir().unwrap();
        let (dir, file) = (t.path().join("d"), t.path().join("f"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(&file, "").unwrap();
        w.watch_dir(&dir, &walk);
        w.watch_dir(&file, &walk);
        w.watch_dir(&file, &walk);
        let status = w.status();
        assert_eq!((status["available"].as_bool(), status["watches"].as_u64()), (Some(true), Some(1)));
        assert_eq!(status["failures"], 1, "one directory, however often tried");
        let last = status["last_failure"].as_str().unwrap();
        assert!(last.starts_with(&format!("{}: ", file.display())) && last.contains("ENOTDIR"), "{last}");
        // Watched at last: no longer failing.
        std::fs::remove_file(&file).unwrap();
        std::fs::create_dir(&file).unwrap();
        w.watch_dir(&file, &walk);
        assert_eq!((w.status()["failures"].as_u64(), w.status()["last_failure"].is_null()), (Some(0), true));
    }
}
