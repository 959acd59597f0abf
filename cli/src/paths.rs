//! Where things live: the project root, the per-user runtime directory, the
//! socket and pid file of a project's daemon, its state (logs) and data
//! (cache) directories — and the checks that keep the runtime directory private.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The name of the configuration file that marks a project root.
pub const CONFIG_FILE: &str = "verdict.toml";

/// Everything that locates one project's daemon.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The project root (absolute, canonical).
    pub root: PathBuf,
    /// The configuration file, when one exists at the root.
    pub config: Option<PathBuf>,
    /// The control socket.
    pub socket: PathBuf,
    /// The pid file, locked by the daemon for its whole life.
    pub pid_file: PathBuf,
    /// Logs of this project's daemon.
    pub state_dir: PathBuf,
    /// Default home of the result cache (overridable by config and `--data-dir`).
    pub data_dir: PathBuf,
    /// Whether `socket` is in the default runtime directory (not `--socket`).
    pub default_socket: bool,
}

/// Errors locating or securing the daemon's files.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    /// The working directory cannot be read.
    #[error("cannot determine the project root from {path}: {cause}")]
    Root {
        /// The directory.
        path: PathBuf,
        /// Why.
        cause: io::Error,
    },
    /// The runtime directory is not private.
    #[error(
        "refusing to use {path}: {problem}; it must be a directory owned by you (uid {uid}) with mode 0700 — {fix}"
    )]
    Insecure {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
        /// Our uid.
        uid: u32,
        /// How to fix it.
        fix: String,
    },
    /// The `verdict.toml` or `.git` that would make the project root is
    /// another user's.
    #[error(
        "refusing {marker} as what makes the project root: it is owned by uid {owner}, not by you (uid {uid}) or \
         root (and a marker of root's counts only outside directories anyone may write to); another user may have \
         put it there to choose what verdict checks and runs, or can change it while a check runs. Run verdict as \
         the project's owner, give your project its own verdict.toml or .git, or, if you trust it, list the \
         directory in VERDICT_SAFE_DIRECTORIES",
        marker = .marker.display()
    )]
    DubiousOwner {
        /// The `verdict.toml`, `.git` or directory.
        marker: PathBuf,
        /// Its owner.
        owner: u32,
        /// Our uid.
        uid: u32,
    },
    /// The `verdict.toml` or `.git` file that would make the project root
    /// is in a directory others may write to, where its owner says nothing
    /// of who put it there.
    #[error(
        "refusing {marker} as what makes the project root: it is in a directory others may write to and {why}, \
         so its owner says nothing of who put it there: anyone may link a file of yours or root's there to choose \
         what verdict checks and runs. Give your project its own verdict.toml or .git in a directory only you \
         can write to, or, if you trust it, list the directory in VERDICT_SAFE_DIRECTORIES",
        marker = .marker.display()
    )]
    LinkedMarker {
        /// The `verdict.toml` or `.git` file.
        marker: PathBuf,
        /// Why its owner says nothing.
        why: String,
    },
    /// A directory above the project root can be changed by others.
    #[error(
        "refusing {root} as the project root: {above} is on the way to it and {why}, so another user could swap \
         the project for one of theirs while a check runs (its tools would run there, as you). Move the project \
         to a directory only you (and root) can change, or, if you trust everyone who can, list the project in \
         VERDICT_SAFE_DIRECTORIES",
        root = .root.display(),
        above = .above.display()
    )]
    Exposed {
        /// The project root.
        root: PathBuf,
        /// The directory above it others can change.
        above: PathBuf,
        /// How.
        why: String,
    },
    /// A directory verdict writes in is not the user's.
    #[error(
        "refusing to use {path}: {problem}; it must be a directory of yours (uid {uid}) — another user may have \
         made it: have them or root remove it (verdict makes it again), or set XDG_STATE_HOME to a directory of \
         your own"
    )]
    NotYours {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
        /// Our uid.
        uid: u32,
    },
    /// No directory for the user's files can be used safely.
    #[error(
        "no directory to keep verdict's files in: {why}; set HOME to a directory of yours (or XDG_STATE_HOME and XDG_CACHE_HOME)"
    )]
    NoHome {
        /// Why.
        why: String,
    },
    /// The socket's path cannot be a socket's.
    #[error("cannot use {path} as the daemon's socket: {why}")]
    Socket {
        /// The path (from `--socket`, `VERDICT_SOCKET`, or derived).
        path: PathBuf,
        /// Why not, and what to do.
        why: String,
    },
    /// A directory could not be created or inspected.
    #[error("cannot use directory {path}: {cause}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// Why.
        cause: io::Error,
    },
}

/// Finds the project root for `start`: the nearest ancestor holding
/// `verdict.toml` or a `.git` directory (a repository's top level, with or
/// without a configuration), else the nearest holding a `.git` file (a
/// submodule, whose superproject's `verdict.toml`, between it and the
/// superproject's top, still counts; or a linked worktree, which is its own
/// root), else `start` itself. The search stops at a repository: a
/// `verdict.toml` above it is no configuration of the repository's.
///
/// The root directory, and the `verdict.toml` or `.git` that makes it
/// (itself, not what a link leads to), must be the user's or root's, as
/// git refuses a repository of dubious ownership, unless the directory is
/// listed in `VERDICT_SAFE_DIRECTORIES`: another user's marker, in a shared
/// directory such as `/tmp` where anyone may put one, would choose for the
/// user which directory is the project, and so which ignore files and
/// commands count; and another user's directory can be changed under a
/// check (root checking a user's project: the user swapping the directory
/// for a link to one of root's has root's configuration applied there).
/// In a directory anyone may write to, above where the search started, a
/// marker of root's does not count either: it may be a hard link anyone
/// made to a file of root's. Nor, there or where the search started, does a
/// marker file in a directory others may write to whose owner says nothing
/// of who put it there (see [`owner_says_nothing`]): one of the user's own,
/// linked there by someone else.
pub fn project_root(start: &Path) -> Result<PathBuf, PathError> {
    find_root(start, true)
}

/// The directories [`project_root`] would take for `start` if directories
/// were listed in `VERDICT_SAFE_DIRECTORIES`: where a daemon started with
/// them listed runs. Only to find that daemon's socket, in the
/// user's own runtime directory, and stop it: nothing of the project is
/// read or run.
///
/// A submodule below a superproject's `verdict.toml` is part of the
/// superproject's project, or its own root when only it was listed: the
/// submodule comes first then, the superproject after it.
pub fn project_roots_to_stop(start: &Path) -> Result<Vec<PathBuf>, PathError> {
    let (root, submodule) = find_roots(start, false)?;
    Ok(submodule.into_iter().chain(std::iter::once(root)).collect())
}

fn find_root(start: &Path, trusting: bool) -> Result<PathBuf, PathError> {
    find_roots(start, trusting).map(|(root, _)| root)
}

/// The root, and when it is a superproject's (its `verdict.toml` above a
/// submodule's `.git` file) and `trusting` is off, the submodule's top: the
/// root had only the submodule been listed in `VERDICT_SAFE_DIRECTORIES`.
fn find_roots(start: &Path, trusting: bool) -> Result<(PathBuf, Option<PathBuf>), PathError> {
    let start = fs::canonicalize(start).map_err(|cause| PathError::Root { path: start.to_path_buf(), cause })?;
    let me = nix::unistd::geteuid().as_raw();
    let taken = |dir: &Path, marker: Option<PathBuf>| {
        if !trusting || crate::config::listed_safe(dir) {
            return Ok(dir.to_path_buf());
        }
        let dir_meta = fs::metadata(dir).map_err(|cause| PathError::Root { path: dir.to_path_buf(), cause })?;
        let shared = dir != start && dir_meta.mode() & 0o1002 == 0o1002;
        let refused = |marker: PathBuf, owner: u32| Err(PathError::DubiousOwner { marker, owner, uid: me });
        if dir_meta.uid() != me && dir_meta.uid() != 0 {
            return refused(dir.to_path_buf(), dir_meta.uid());
        }
        if let Some(marker) = marker {
            let meta = fs::symlink_metadata(&marker).ok();
            let owner = meta.as_ref().map_or(me, |m| m.uid());
            if owner != me && (owner != 0 || shared) {
                return refused(marker, owner);
            }
            if let Some(why) = meta.as_ref().and_then(|m| owner_says_nothing(m, shared_mode(&dir_meta))) {
                return Err(PathError::LinkedMarker { marker, why });
            }
            // Nor a directory others may rename files in (a team's 2775,
            // without the sticky bit), or that anyone may write to: one of
            // them could move your `verdict.toml` in from a project below
            // and put programs beside it for its relative commands.
            let mode = shared_mode(&dir_meta);
            if mode & 0o002 != 0 || (mode & 0o020 != 0 && mode & 0o1000 == 0) {
                let why = format!(
                    "its mode is {:04o}: its group or anyone may put files in it or rename them",
                    dir_meta.mode() & 0o7777
                );
                return Err(PathError::Exposed { root: dir.to_path_buf(), above: dir.to_path_buf(), why });
            }
        }
        // Nor may anyone else rename what leads to it: a directory above
        // it that another user owns, or that its group or anyone may write
        // to without the sticky bit, lets them swap the project for one of
        // theirs while a check runs (its tools would start in theirs).
        for above in dir.ancestors().skip(1) {
            let m = fs::metadata(above).map_err(|cause| PathError::Root { path: above.to_path_buf(), cause })?;
            let why = if m.uid() != me && m.uid() != 0 {
                format!("it is owned by uid {}", m.uid())
            } else if shared_mode(&m) & 0o022 != 0 && m.mode() & 0o1000 == 0 {
                format!("its mode is {:04o}: its group or anyone may rename what is in it", m.mode() & 0o7777)
            } else {
                continue;
            };
            return Err(PathError::Exposed { root: dir.to_path_buf(), above: above.to_path_buf(), why });
        }
        Ok(dir.to_path_buf())
    };
    // The nearest `.git` file: the root if no `verdict.toml` is above it,
    // up to its superproject's top.
    let mut nearest_git_file: Option<&Path> = None;
    let mut superproject: Option<&Path> = None;
    for dir in start.ancestors() {
        let (config, git) = (dir.join(CONFIG_FILE), dir.join(".git"));
        if crate::config::config_present(&config) {
            // Above a submodule, a configuration that is not to be trusted
            // is no superproject's: the `.git` file's directory is the
            // root.
            return match (taken(dir, Some(config)), nearest_git_file) {
                (Err(_), Some(below)) => taken(below, Some(below.join(".git"))).map(|root| (root, None)),
                (found, below) => found.map(|root| (root, below.filter(|_| !trusting).map(Path::to_path_buf))),
            };
        }
        if nearest_git_file.is_some() && Some(dir) == superproject {
            // A superproject's top, with no `verdict.toml`: the submodule
            // below it is its own root, unless the superproject is a
            // submodule too (its configuration above counts as well).
            superproject = match fs::metadata(&git) {
                Ok(m) if m.is_file() => superproject_of(dir),
                _ => None,
            };
            if superproject.is_none() {
                break;
            }
            continue;
        }
        match fs::metadata(&git) {
            Ok(m) if m.is_dir() && nearest_git_file.is_some() => break,
            Ok(m) if m.is_dir() => return taken(dir, Some(git)).map(|root| (root, None)),
            Ok(_) if nearest_git_file.is_none() => {
                nearest_git_file = Some(dir);
                // A submodule's superproject holds its git directory, and
                // its `verdict.toml` counts; anything else with a `.git`
                // file (a linked worktree, wherever it was put) is a
                // repository's top of its own, and what is above it is not
                // the repository's.
                superproject = superproject_of(dir);
                if superproject.is_none() {
                    break;
                }
            }
            Ok(_) | Err(_) => {}
        }
    }
    match nearest_git_file {
        Some(dir) => taken(dir, Some(dir.join(".git"))),
        None => taken(&start, None),
    }
    .map(|root| (root, None))
}

/// The superproject of the submodule at `dir` (whose `.git` is a file): the
/// nearest ancestor with a `.git` of its own, if the git directory `dir`'s
/// `.git` file names is a submodule's in that one's (`../.git/modules/NAME`;
/// for a superproject that is itself a worktree or a submodule, `modules/`
/// of the git directory its `.git` file names). `None`: the nearest
/// repository above does not hold it so, there is none, or a `.git` file
/// cannot be read: `dir` is not known to be a submodule (a linked worktree
/// is not one).
fn superproject_of(dir: &Path) -> Option<&Path> {
    let own = git_file_target(dir)?;
    for above in dir.ancestors().skip(1) {
        let dot_git = above.join(".git");
        let holder = match fs::metadata(&dot_git) {
            Ok(m) if m.is_dir() => canonical_or_lexical(&dot_git),
            Ok(_) => git_file_target(above)?,
            Err(_) => continue,
        };
        // Git keeps a submodule's git directory under `modules/` of its
        // superproject's, a linked worktree's under `worktrees/`, with a
        // `commondir` file (which a worktree of a submodule has too).
        let held = own.strip_prefix(&holder).ok()?;
        let submodule = held.components().next() == Some(std::path::Component::Normal("modules".as_ref()))
            && held.components().count() > 1
            && fs::symlink_metadata(own.join("commondir")).is_err();
        return submodule.then_some(above);
    }
    None
}

/// The git directory a `.git` file in `dir` names (`gitdir: PATH`, taken
/// from `dir` when relative), canonical if it exists. `None` if the file
/// cannot be read as one (see [`first_line`]), or names none.
fn git_file_target(dir: &Path) -> Option<PathBuf> {
    let line = first_line(&dir.join(".git")).ok()??;
    let named = line.strip_prefix("gitdir: ")?.trim_end();
    if named.is_empty() {
        return None;
    }
    Some(canonical_or_lexical(&dir.join(named)))
}

/// The first line of `path`, as `BufRead::lines` gives it (`Ok(None)`: none,
/// or the file cannot be read), or what makes it unsafe to read: not a
/// regular file (a device is not opened, and the file is opened without
/// blocking, so a FIFO put there after the look cannot hang this), or one
/// over 64 KiB, which a reader of lines (the walker) would read whole to
/// find the end of its first line. For git's small files: a `.git` file, a
/// `commondir`.
pub fn first_line(path: &Path) -> Result<Option<String>, String> {
    use std::io::{BufRead, Read};
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    const LIMIT: u64 = 64 * 1024;
    let special = |t: fs::FileType| match () {
        _ if t.is_fifo() => Some("a FIFO"),
        _ if t.is_char_device() || t.is_block_device() => Some("a device"),
        _ => None,
    };
    // Looked at first, so that a device is not opened (a terminal could
    // become the process's), then opened without blocking, and looked at
    // again, for one put there in between.
    if let Some(kind) = fs::metadata(path).ok().and_then(|m| special(m.file_type())) {
        return Err(format!("{} is {kind}", path.display()));
    }
    let flags = nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY;
    let Ok(file) = fs::OpenOptions::new().read(true).custom_flags(flags).open(path) else {
        return Ok(None);
    };
    let Ok(meta) = file.metadata() else { return Ok(None) };
    if let Some(kind) = special(meta.file_type()) {
        return Err(format!("{} is {kind}", path.display()));
    }
    if !meta.is_file() {
        return Ok(None);
    }
    if meta.len() > LIMIT {
        return Err(format!("{} is larger than {} KiB", path.display(), LIMIT / 1024));
    }
    Ok(io::BufReader::new(file.take(LIMIT)).lines().next().and_then(Result::ok))
}

/// `path` made canonical, or, if it does not exist, with its `.` and `..`
/// taken away by the letter (`path` is below a canonical directory).
fn canonical_or_lexical(path: &Path) -> PathBuf {
    if let Ok(canonical) = fs::canonicalize(path) {
        return canonical;
    }
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// The mode of a file or directory `m` as far as others are concerned: its
/// group's write bit left out where the group is the user's private one
/// (named as the user, the user's primary group, with no other members:
/// the `USERGROUPS_ENAB` scheme, under which a umask of 002 makes every new
/// directory 0775).
pub fn shared_mode(m: &fs::Metadata) -> u32 {
    let mode = m.mode();
    if mode & 0o020 == 0 || !group_is_private(m.gid()) {
        return mode;
    }
    mode & !0o020
}

fn group_is_private(gid: u32) -> bool {
    use nix::unistd::{Gid, Group, User};
    let Ok(Some(user)) = User::from_uid(nix::unistd::geteuid()) else { return false };
    if user.gid.as_raw() != gid {
        return false;
    }
    let Ok(Some(group)) = Group::from_gid(Gid::from_raw(gid)) else { return false };
    group.name == user.name && group.mem.iter().all(|m| *m == user.name)
}

/// Why the owner of `file`, a regular file in a directory of mode
/// `dir_mode`, says nothing of who put it there, if it does not: in a
/// directory its group or anyone may write to, anyone may have made it a
/// hard link to a file of yours or root's, where the kernel lets them
/// (`fs.protected_hardlinks` off: any file they can see), or where it has
/// other links now. (One with a single link left, after its owner replaced
/// the other by a rename, is no proof either, unless the kernel protects
/// hard links.)
pub fn owner_says_nothing(file: &fs::Metadata, dir_mode: u32) -> Option<String> {
    let protected = || fs::read_to_string("/proc/sys/fs/protected_hardlinks").is_ok_and(|v| v.trim() == "1");
    owner_says_nothing_where(file.is_file(), file.nlink(), dir_mode, protected)
}

/// [`owner_says_nothing`] of a file (`regular`, with `links` names),
/// `protected`: whether the kernel protects hard links.
fn owner_says_nothing_where(
    regular: bool,
    links: u64,
    dir_mode: u32,
    protected: impl FnOnce() -> bool,
) -> Option<String> {
    if !regular || dir_mode & 0o022 == 0 {
        return None;
    }
    if links > 1 {
        return Some(format!("has {links} hard links"));
    }
    (!protected()).then(|| "fs.protected_hardlinks is off (anyone may link any file they can see)".to_string())
}

/// A short stable name for a project root: 16 hex digits of its xxh3 hash,
/// so a long path never exceeds the socket path limit (108 bytes).
pub fn root_key(root: &Path) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(root.as_os_str().as_encoded_bytes()))
}

/// The system temporary directory: `$TMPDIR` if it is absolute, else
/// `/tmp`. A relative one would be read against the client's working
/// directory and the daemon's (`/`), which would then look for the socket in
/// two places (`std::env::temp_dir` takes it as it is).
fn temp_dir() -> PathBuf {
    env_dir("TMPDIR").unwrap_or_else(|| PathBuf::from("/tmp"))
}

fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var).filter(|v| !v.is_empty()).map(PathBuf::from).filter(|p| p.is_absolute())
}

/// The home verdict keeps its files under where `XDG_STATE_HOME` and
/// `XDG_CACHE_HOME` do not say: `$HOME`, else the user's home in the
/// password database, if it is a directory they can write to (not
/// `/nonexistent`, nor `/` for most users); else `verdict-<uid>` under the
/// system temporary directory, made private: never the shared temporary
/// directory itself, where anyone could make the cache's directories
/// first. `Err`: that directory, and why it cannot be used (someone else
/// made it first), said by [`refused`] where a directory under it is needed.
fn home() -> &'static Result<PathBuf, (PathBuf, String)> {
    static HOME: std::sync::OnceLock<Result<PathBuf, (PathBuf, String)>> = std::sync::OnceLock::new();
    HOME.get_or_init(|| {
        let uid = nix::unistd::geteuid();
        let writable = |d: &PathBuf| {
            fs::metadata(d).is_ok_and(|m| m.is_dir())
                && nix::unistd::access(d.as_path(), nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK)
                    .is_ok()
        };
        let passwd = || nix::unistd::User::from_uid(uid).ok().flatten().map(|u| u.dir);
        match home_of(env_dir("HOME"), passwd, writable) {
            Some(home) => Ok(home),
            None => {
                let own = temp_dir().join(format!("verdict-{}", uid.as_raw()));
                ensure_private_dir(&own).map(|()| own.clone()).map_err(|e| (own, e.to_string()))
            }
        }
    })
}

fn home_of(
    env: Option<PathBuf>,
    passwd: impl FnOnce() -> Option<PathBuf>,
    usable: impl Fn(&PathBuf) -> bool,
) -> Option<PathBuf> {
    env.filter(&usable).or_else(|| passwd().filter(|d| d.is_absolute() && usable(d)))
}

/// Fails if `dir` lies under a home that cannot be used safely (see
/// [`home`]): nothing may be made or written there.
pub fn refused(dir: &Path) -> Result<(), PathError> {
    // Under a directory the environment names, the home is not asked for.
    if ["XDG_STATE_HOME", "XDG_CACHE_HOME"].iter().filter_map(|v| env_dir(v)).any(|d| dir.starts_with(d)) {
        return Ok(());
    }
    match home() {
        Err((base, why)) if dir.starts_with(base) => Err(PathError::NoHome { why: why.clone() }),
        _ => Ok(()),
    }
}

fn home_path() -> PathBuf {
    match home() {
        Ok(p) | Err((p, _)) => p.clone(),
    }
}

/// The per-user runtime directory: `$XDG_RUNTIME_DIR/verdict`, else
/// `verdict-<uid>` under the system temporary directory. An
/// `XDG_RUNTIME_DIR` the user does not own (`/tmp`, set by mistake) is not
/// taken: `verdict` in it would be one directory for every user, and the
/// first to make it would lock the others out.
pub fn runtime_dir() -> PathBuf {
    let ours = |d: &PathBuf| fs::metadata(d).is_ok_and(|m| m.is_dir() && m.uid() == nix::unistd::geteuid().as_raw());
    match env_dir("XDG_RUNTIME_DIR").filter(ours) {
        Some(d) => d.join("verdict"),
        None => temp_dir().join(format!("verdict-{}", nix::unistd::geteuid().as_raw())),
    }
}

/// `$XDG_STATE_HOME/verdict`, else `~/.local/state/verdict`.
pub fn state_home() -> PathBuf {
    env_dir("XDG_STATE_HOME").unwrap_or_else(|| home_path().join(".local/state")).join("verdict")
}

/// `$XDG_CACHE_HOME/verdict`, else `~/.cache/verdict`.
pub fn cache_home() -> PathBuf {
    env_dir("XDG_CACHE_HOME").unwrap_or_else(|| home_path().join(".cache")).join("verdict")
}

impl Layout {
    /// Lays out the files of the daemon for the project containing `cwd`.
    /// `socket` (from `--socket` or `VERDICT_SOCKET`) overrides the socket
    /// path; the pid file then sits beside it.
    pub fn discover(cwd: &Path, socket: Option<&Path>) -> Result<Layout, PathError> {
        Self::at_root(project_root(cwd)?, socket)
    }

    /// [`Layout::discover`] for `stop` in a project whose root verdict
    /// refuses (another user's, or where others can change it): the files
    /// of the daemon that runs there if it was started with the root listed
    /// in `VERDICT_SAFE_DIRECTORIES` (see [`project_roots_to_stop`]): of
    /// each root it may have, the nearest first.
    pub fn discover_to_stop(cwd: &Path, socket: Option<&Path>) -> Result<Vec<Layout>, PathError> {
        project_roots_to_stop(cwd)?.into_iter().map(|root| Self::at_root(root, socket)).collect()
    }

    fn at_root(root: PathBuf, socket: Option<&Path>) -> Result<Layout, PathError> {
        let key = root_key(&root);
        let config = Some(root.join(CONFIG_FILE)).filter(|p| crate::config::config_present(p));
        let (socket, default_socket) = match socket {
            Some(s) => (absolute(s), false),
            None => (runtime_dir().join(format!("{key}.sock")), true),
        };
        socket_path_usable(&socket, default_socket)?;
        let pid_file = socket.with_extension("pid");
        // A daemon on a socket of its own is another daemon: its log is its
        // own too (two writing one file, each rotating it, lose lines).
        // (By the socket's canonical directory: `--socket a/../x.sock` is
        // `--socket x.sock`.) So is one on the default socket of a session
        // without `XDG_RUNTIME_DIR` (under the temporary directory) while
        // another runs in `XDG_RUNTIME_DIR`.
        let in_runtime_dir = env_dir("XDG_RUNTIME_DIR").is_some_and(|d| socket.starts_with(d));
        let state = if default_socket && in_runtime_dir {
            key.clone()
        } else {
            let canonical = socket
                .parent()
                .and_then(|d| fs::canonicalize(d).ok())
                .zip(socket.file_name())
                .map_or_else(|| socket.clone(), |(d, name)| d.join(name));
            format!("{key}-{}", root_key(&canonical))
        };
        Ok(Layout {
            state_dir: state_home().join(state),
            data_dir: cache_home().join(&key),
            root,
            config,
            socket,
            pid_file,
            default_socket,
        })
    }

    /// The daemon's log file.
    pub fn log_file(&self) -> PathBuf {
        self.state_dir.join("daemon.log")
    }

    /// Where a detached daemon's stderr goes until logging is set up (start-up
    /// failures are read from here by the client that launched it).
    pub fn startup_file(&self) -> PathBuf {
        self.state_dir.join("daemon.stderr")
    }

    /// The directory holding the socket and pid file.
    pub fn socket_dir(&self) -> &Path {
        self.socket.parent().unwrap_or(Path::new("/"))
    }
}

/// The longest path a Unix socket may be bound at (`sun_path` holds 108
/// bytes with the terminating NUL).
const SOCKET_PATH_MAX: usize = 107;

/// Fails, saying what to do, for a socket path that names a directory
/// (`--socket .`, one ending in `/`, an existing directory) or is longer
/// than a socket's may be: found before a daemon is started, rather than
/// as advice about the wrong directory, or a daemon's failure in jargon.
fn socket_path_usable(socket: &Path, default_socket: bool) -> Result<(), PathError> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = socket.as_os_str().as_bytes();
    let given = "give another with --socket or VERDICT_SOCKET";
    let directory = bytes.ends_with(b"/")
        || socket.file_name().is_none()
        || bytes.ends_with(b"/.")
        || fs::metadata(socket).is_ok_and(|m| m.is_dir());
    if directory && !default_socket {
        return Err(PathError::Socket {
            path: socket.to_path_buf(),
            why: format!("it names a directory, not a socket file in one; {given}"),
        });
    }
    if bytes.len() > SOCKET_PATH_MAX {
        let fix = if default_socket { "set XDG_RUNTIME_DIR to a shorter directory, or " } else { "" };
        return Err(PathError::Socket {
            path: socket.to_path_buf(),
            why: format!(
                "it is {} bytes long, and a Unix socket's path may have at most {SOCKET_PATH_MAX}; {fix}{given}",
                bytes.len()
            ),
        });
    }
    Ok(())
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf())
    }
}

/// Creates `dir` (and its parents) if missing, the last component with mode
/// 0700, then verifies it is ours and private. Refuses (with how to fix it) a
/// directory owned by another user or open to group or others.
pub fn ensure_private_dir(dir: &Path) -> Result<(), PathError> {
    if let Some(parent) = dir.parent() {
        fs::create_dir_all(parent).map_err(|cause| PathError::Io { path: parent.to_path_buf(), cause })?;
    }
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(cause) => return Err(PathError::Io { path: dir.to_path_buf(), cause }),
    }
    private_dir(dir, true)
}

/// Verifies that `dir`, the directory of a socket the user chose
/// (`--socket`, `VERDICT_SOCKET`), is a directory owned by the effective
/// uid with no group or other permission bits.
pub fn check_private_dir(dir: &Path) -> Result<(), PathError> {
    private_dir(dir, false)
}

/// Verifies that `dir` is private; `ours`: verdict made it, and makes it
/// again if it is removed (not so a directory the user chose, which may be
/// their project).
fn private_dir(dir: &Path, ours: bool) -> Result<(), PathError> {
    let uid = nix::unistd::geteuid().as_raw();
    // A directory the user chose may be a link to one.
    let meta = if ours { fs::symlink_metadata(dir) } else { fs::metadata(dir) }
        .map_err(|cause| PathError::Io { path: dir.to_path_buf(), cause })?;
    let insecure = |problem: String, fix: String| PathError::Insecure { path: dir.to_path_buf(), problem, uid, fix };
    let elsewhere = "give the socket a path in a directory only you can use (--socket, VERDICT_SOCKET)";
    let or_remove =
        if ours { "(or remove it and let verdict recreate it)".to_string() } else { format!("(or {elsewhere})") };
    if !meta.is_dir() {
        let fix =
            if ours { "remove it and let verdict create the directory".to_string() } else { elsewhere.to_string() };
        return Err(insecure("it is not a directory".into(), fix));
    }
    if meta.uid() != uid {
        // In a shared directory (the temporary one), someone else may have
        // made it first: then only they or root can remove it.
        let fix = if ours {
            format!(
                "another user made it: have them or root remove it (verdict makes it again), or use a \
                 directory of your own: XDG_RUNTIME_DIR (0700, yours) for sockets, HOME for the rest; if it is \
                 yours after all, `chown {uid} {}`",
                dir.display()
            )
        } else {
            // Not a directory to give away (`/tmp`, say).
            elsewhere.to_string()
        };
        return Err(insecure(format!("it is owned by uid {}", meta.uid()), fix));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        let fix = format!("fix it with `chmod 700 {}` {or_remove}", dir.display());
        return Err(insecure(format!("its mode is {mode:04o}, open to group or others"), fix));
    }
    // The daemon makes its socket, pid file and tools file in it by name:
    // whoever could swap it for another directory (or for a link to one
    // holding links of theirs) while a daemon starts would choose which
    // files it truncates and writes.
    if let Some(problem) = changeable_by_others(dir) {
        let fix = if ours {
            "set XDG_RUNTIME_DIR to a directory of yours (0700) that only you and root can reach and rename, \
             or give the socket such a path (--socket)"
                .to_string()
        } else {
            elsewhere.to_string()
        };
        return Err(insecure(problem, fix));
    }
    Ok(())
}

/// Why another user could change what `dir` names, if they could: a link
/// on the way to it that is not the user's or root's, or a directory on the
/// way (after links, and to each link) that is not the user's or root's, or
/// that its group or anyone may write to without the sticky bit (in a
/// sticky one, such as `/tmp`, others cannot rename what is the user's).
fn changeable_by_others(dir: &Path) -> Option<String> {
    let me = nix::unistd::geteuid().as_raw();
    way_open_to_others(dir, &[me, 0])
}

/// Why someone not `trusted` could change what `path` names, if they
/// could: a link on the way to it that is not theirs (the trusted users'),
/// or a directory on the way (as named, `..` and all, and after links, and
/// to each link) that is not theirs, or that its group or anyone may
/// write to without the sticky bit. Parts of the way that are not there
/// are not looked at.
pub fn way_open_to_others(path: &Path, trusted: &[u32]) -> Option<String> {
    let trusted = |uid: u32| trusted.contains(&uid);
    let dir = path;
    let open_dir = |d: &Path| -> Option<String> {
        let m = fs::metadata(d).ok()?;
        if !trusted(m.uid()) {
            Some(format!("{} is on the way to it and is owned by uid {}", d.display(), m.uid()))
        } else if shared_mode(&m) & 0o022 != 0 && m.mode() & 0o1000 == 0 {
            Some(format!(
                "{} is on the way to it and its mode is {:04o}: its group or anyone may rename what is in it",
                d.display(),
                m.mode() & 0o7777
            ))
        } else {
            None
        }
    };
    let abs = absolute(dir);
    let mut prefix = PathBuf::new();
    for part in abs.components() {
        prefix.push(part);
        let Ok(m) = fs::symlink_metadata(&prefix) else { continue };
        if !m.file_type().is_symlink() {
            // A directory the path names, even one a `..` later leaves
            // (`/tmp/theirs/a/../../mine`: theirs to swap `a` in).
            if m.is_dir()
                && let Some(problem) = open_dir(&prefix)
            {
                return Some(problem);
            }
            continue;
        }
        if !trusted(m.uid()) {
            return Some(format!("{} is a link on the way to it owned by uid {}", prefix.display(), m.uid()));
        }
        let real_parent = prefix.parent().and_then(|p| fs::canonicalize(p).ok());
        if let Some(problem) = real_parent.iter().flat_map(|p| p.ancestors()).find_map(open_dir) {
            return Some(problem);
        }
    }
    let real = fs::canonicalize(&abs).ok()?;
    real.ancestors().skip(1).find_map(open_dir)
}

/// Creates the state directory `<state>/verdict/<key>` (private to the
/// user on creation), and checks that it and `<state>/verdict` are the
/// user's own directories (or the user's links to such): made first by another user (an
/// `XDG_STATE_HOME` in a shared place), they could hold links that have the
/// daemon truncate or append to any file of the user's (`daemon.stderr`,
/// `daemon.log`). Their modes are not checked: earlier verdicts made them
/// with the umask's, and no one else can write in a directory of the
/// user's without being let.
pub fn ensure_state_dir(dir: &Path) -> Result<(), PathError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|cause| PathError::Io { path: dir.to_path_buf(), cause })?;
    check_state_dir(dir)
}

/// The checks of [`ensure_state_dir`], on a state directory that exists
/// (one that does not is fine: nothing is read from it). `verdict logs`
/// reads no log from another user's.
pub fn check_state_dir(dir: &Path) -> Result<(), PathError> {
    if fs::symlink_metadata(dir).is_err() {
        return Ok(());
    }
    let uid = nix::unistd::geteuid().as_raw();
    for d in [dir.parent().unwrap_or(dir), dir] {
        let io = |cause| PathError::Io { path: d.to_path_buf(), cause };
        let insecure = |problem: String| PathError::NotYours { path: d.to_path_buf(), problem, uid };
        // A link of the user's to a directory of theirs is theirs.
        let link = fs::symlink_metadata(d).map_err(io)?;
        if link.file_type().is_symlink() && link.uid() != uid {
            return Err(insecure(format!("it is a symbolic link owned by uid {}", link.uid())));
        }
        let meta = fs::metadata(d).map_err(io)?;
        if !meta.is_dir() {
            return Err(insecure("it is not a directory".into()));
        }
        if meta.uid() != uid {
            return Err(insecure(format!("it is owned by uid {}", meta.uid())));
        }
    }
    Ok(())
}

/// The daemon's executable: `verdict-daemon`, installed beside `verdict`.
/// The client is a separate, small executable so that a command such as
/// `verdict ping` does not load RocksDB's C++ (see docs/architecture.md).
pub const DAEMON_EXE: &str = "verdict-daemon";

/// Where the daemon's executable is: next to the running one.
pub fn daemon_exe() -> io::Result<PathBuf> {
    Ok(std::env::current_exe()?.with_file_name(DAEMON_EXE))
}

/// The daemon executable's build id: its size and modification time. A
/// running daemon whose build id differs from the one installed beside the
/// client was built (or installed) separately, so the client replaces it.
/// Cheap: one `stat`, no hashing.
pub fn build_id() -> String {
    match daemon_exe().and_then(fs::metadata) {
        Ok(m) => format!("{}-{}.{:09}", m.len(), m.mtime(), m.mtime_nsec()),
        Err(_) => "unknown".into(),
    }
}

/// The pid of the daemon holding the lock of `pid_file`, if one does (a
/// daemon keeps its pid file locked for its whole life; a pid file nobody
/// has locked is left from one that died). Only a regular file of the
/// user's counts: the client signals that pid, and another user's file (in
/// a runtime directory they made first) could name any process of the
/// user's.
pub fn locked_daemon_pid(pid_file: &Path) -> Option<u32> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOFOLLOW)
        .open(pid_file)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.uid() != nix::unistd::geteuid().as_raw() {
        return None;
    }
    match file.try_lock_shared() {
        Err(fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            file.by_ref().take(64).read_to_string(&mut text).ok()?;
            text.trim().parse().ok()
        }
        _ => None,
    }
}

/// [`locked_daemon_pid`], if it is a pid a client may signal or wait for:
/// never 0, 1 or one past `i32` (`kill(-1)` signals every process of the
/// user), whatever the file says.
pub fn signallable_daemon_pid(pid_file: &Path) -> Option<u32> {
    locked_daemon_pid(pid_file).filter(|&p| p > 1 && p <= i32::MAX as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_nearest_config_then_git_then_cwd() {
        let t = tempfile::tempdir().unwrap();
        let base = fs::canonicalize(t.path()).unwrap();
        let deep = base.join("a/b/c");
        fs::create_dir_all(&deep).unwrap();
        assert_eq!(project_root(&deep).unwrap(), deep);
        fs::create_dir(base.join("a/.git")).unwrap();
        assert_eq!(project_root(&deep).unwrap(), base.join("a"));
        fs::write(base.join("a/b/verdict.toml"), "").unwrap();
        assert_eq!(project_root(&deep).unwrap(), base.join("a/b"));
        // A configuration above a repository is not the repository's.
        fs::write(base.join("verdict.toml"), "").unwrap();
        fs::create_dir(base.join("x")).unwrap();
        fs::create_dir(base.join("x/.git")).unwrap();
        assert_eq!(project_root(&base.join("x")).unwrap(), base.join("x"));
        assert_eq!(project_root(&base.join("a")).unwrap(), base.join("a"));
        fs::create_dir(base.join("y")).unwrap();
        assert_eq!(project_root(&base.join("y")).unwrap(), base);
        // A submodule or a linked worktree (a `.git` file): the
        // superproject's configuration still counts; without one, it is
        // its own root.
        fs::create_dir_all(base.join("x/sub/deep")).unwrap();
        fs::write(base.join("x/sub/.git"), "gitdir: ../.git/modules/sub\n").unwrap();
        assert_eq!(project_root(&base.join("x/sub/deep")).unwrap(), base.join("x/sub"));
        fs::write(base.join("x/verdict.toml"), "").unwrap();
        assert_eq!(project_root(&base.join("x/sub/deep")).unwrap(), base.join("x"));
        // A submodule of a submodule: its git directory is inside the top
        // superproject's, and the configurations between count.
        fs::create_dir_all(base.join("x/sub/inner")).unwrap();
        fs::write(base.join("x/sub/inner/.git"), "gitdir: ../../.git/modules/sub/modules/inner\n").unwrap();
        assert_eq!(project_root(&base.join("x/sub/inner")).unwrap(), base.join("x"));
        fs::write(base.join("x/sub/verdict.toml"), "").unwrap();
        assert_eq!(project_root(&base.join("x/sub/inner")).unwrap(), base.join("x/sub"));
    }

    #[test]
    fn a_linked_worktree_is_its_own_root_wherever_it_is() {
        let t = tempfile::tempdir().unwrap();
        let base = fs::canonicalize(t.path()).unwrap();
        fs::create_dir_all(base.join("main/.git/worktrees/wt")).unwrap();
        fs::write(base.join("main/verdict.toml"), "").unwrap();
        fs::write(base.join("verdict.toml"), "").unwrap();
        // Beside its repository, under a directory with a `verdict.toml`.
        fs::create_dir_all(base.join("wt/src")).unwrap();
        fs::write(base.join("wt/.git"), format!("gitdir: {}\n", base.join("main/.git/worktrees/wt").display()))
            .unwrap();
        assert_eq!(project_root(&base.join("wt/src")).unwrap(), base.join("wt"));
        // Inside its repository's checkout (`main/.worktrees/wt2`): its git
        // directory is inside the main checkout's `.git`, but under
        // `worktrees/`, not `modules/`.
        fs::create_dir_all(base.join("main/.worktrees/wt2/src")).unwrap();
        fs::write(base.join("main/.worktrees/wt2/.git"), "gitdir: ../../.git/worktrees/wt2\n").unwrap();
        assert_eq!(project_root(&base.join("main/.worktrees/wt2/src")).unwrap(), base.join("main/.worktrees/wt2"));
        // A worktree of a submodule, put in the superproject's checkout: its
        // git directory, under the submodule's, has a `commondir`.
        fs::create_dir_all(base.join("main/.git/modules/lib/worktrees/w")).unwrap();
        fs::write(base.join("main/.git/modules/lib/worktrees/w/commondir"), "../..\n").unwrap();
        fs::create_dir_all(base.join("main/w")).unwrap();
        fs::write(base.join("main/w/.git"), "gitdir: ../.git/modules/lib/worktrees/w\n").unwrap();
        assert_eq!(project_root(&base.join("main/w")).unwrap(), base.join("main/w"));
        // A submodule of a superproject that is a linked worktree: inside
        // the git directory the worktree's `.git` file names.
        fs::create_dir_all(base.join("main/.git/worktrees/wt/modules/s")).unwrap();
        fs::create_dir_all(base.join("wt/s")).unwrap();
        fs::write(
            base.join("wt/s/.git"),
            format!("gitdir: {}\n", base.join("main/.git/worktrees/wt/modules/s").display()),
        )
        .unwrap();
        assert_eq!(project_root(&base.join("wt/s")).unwrap(), base.join("wt/s"));
        fs::write(base.join("wt/verdict.toml"), "").unwrap();
        assert_eq!(project_root(&base.join("wt/s")).unwrap(), base.join("wt"));
        // A `.git` file naming nothing there, or nothing at all.
        fs::create_dir_all(base.join("odd/deep")).unwrap();
        fs::write(base.join("odd/.git"), "gitdir: /nonexistent/wt\n").unwrap();
        assert_eq!(project_root(&base.join("odd/deep")).unwrap(), base.join("odd"));
        fs::write(base.join("odd/.git"), "not a git file\n").unwrap();
        assert_eq!(project_root(&base.join("odd/deep")).unwrap(), base.join("odd"));
    }

    #[test]
    fn socket_name_is_short_for_long_roots() {
        let long = PathBuf::from(format!("/{}", "x".repeat(500)));
        assert_eq!(root_key(&long).len(), 16);
        assert_ne!(root_key(&long), root_key(Path::new("/other")));
    }

    #[test]
    fn without_home_the_password_database_says_where_it_is_never_the_shared_temporary_directory() {
        let any = |_: &PathBuf| true;
        assert_eq!(home_of(Some("/home/a".into()), || panic!("not asked"), any), Some("/home/a".into()));
        assert_eq!(home_of(None, || Some("/home/b".into()), any), Some("/home/b".into()));
        assert_eq!(home_of(None, || Some("relative".into()), any), None);
        assert_eq!(home_of(None, || None, any), None);
        // One the user cannot write to (`HOME=/nonexistent` of `sudo -u
        // nobody`) is passed over, from the environment as from the
        // password database.
        let not_a = |d: &PathBuf| d != Path::new("/home/a");
        assert_eq!(home_of(Some("/home/a".into()), || Some("/home/b".into()), not_a), Some("/home/b".into()));
        assert_eq!(home_of(Some("/home/a".into()), || Some("/home/a".into()), not_a), None);
    }

    /// A socket path that names a directory, or is longer than a socket's
    /// may be, is refused before any daemon starts, saying what to do (an
    /// audit saw advice to `chmod` the directory above, and a daemon's
    /// `SUN_LEN` failure).
    #[test]
    fn a_socket_path_that_cannot_be_one_is_refused_with_what_to_do() {
        let t = tempfile::tempdir().unwrap();
        let why = |p: &Path, default| match socket_path_usable(p, default) {
            Err(PathError::Socket { why, .. }) => why,
            other => panic!("{p:?}: {other:?}"),
        };
        for dir in [t.path().join("."), t.path().join(".."), t.path().to_path_buf(), t.path().join("sub/")] {
            assert!(why(&dir, false).starts_with("it names a directory"), "{dir:?}");
        }
        let long = t.path().join("x".repeat(SOCKET_PATH_MAX));
        assert!(why(&long, false).contains("may have at most 107"));
        assert!(why(&long, true).contains("set XDG_RUNTIME_DIR to a shorter directory"));
        assert!(socket_path_usable(&t.path().join("d.sock"), false).is_ok());
        let exactly: PathBuf = format!("/{}", "x".repeat(SOCKET_PATH_MAX - 1)).into();
        assert!(socket_path_usable(&exactly, false).is_ok());
    }

    #[test]
    fn a_daemon_on_a_chosen_socket_has_its_own_state_directory_however_the_socket_is_written() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("verdict.toml"), "").unwrap();
        fs::create_dir(t.path().join("sub")).unwrap();
        let default = Layout::discover(t.path(), None).unwrap();
        let chosen = Layout::discover(t.path(), Some(&t.path().join("x.sock"))).unwrap();
        let roundabout = Layout::discover(t.path(), Some(&t.path().join("sub/../x.sock"))).unwrap();
        let other = Layout::discover(t.path(), Some(&t.path().join("y.sock"))).unwrap();
        assert_ne!(chosen.state_dir, default.state_dir);
        assert_eq!(chosen.state_dir, roundabout.state_dir);
        assert_ne!(chosen.state_dir, other.state_dir);
        assert_eq!(chosen.data_dir, default.data_dir, "one project, one cache");
    }

    #[test]
    fn a_files_owner_says_nothing_where_others_may_write_and_anyone_may_link_it() {
        let says = |regular, links, mode, protected| owner_says_nothing_where(regular, links, mode, || protected);
        // A directory only its owner may write to: the owner's word holds.
        assert_eq!(says(true, 2, 0o755, false), None);
        // Sticky and world-writable, group-writable: another name, or the
        // kernel letting anyone link any file, leaves it without one.
        assert_eq!(says(true, 2, 0o1777, true).as_deref(), Some("has 2 hard links"));
        assert_eq!(says(true, 3, 0o2775, true).as_deref(), Some("has 3 hard links"));
        assert!(says(true, 1, 0o1777, false).is_some_and(|w| w.contains("protected_hardlinks is off")));
        assert_eq!(says(true, 1, 0o1777, true), None);
        // A directory cannot be linked.
        assert_eq!(says(false, 5, 0o1777, false), None);
    }

    #[test]
    fn private_dir_is_created_0700_and_loose_modes_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("rt");
        ensure_private_dir(&d).unwrap();
        assert_eq!(fs::metadata(&d).unwrap().permissions().mode() & 0o777, 0o700);
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
        let err = ensure_private_dir(&d).unwrap_err().to_string();
        assert!(err.contains("0755") && err.contains("chmod 700") && err.contains("let verdict recreate it"), "{err}");
        // A directory the user chose for the socket (their project, say):
        // verdict would not make it again, so it is not to be removed.
        let err = check_private_dir(&d).unwrap_err().to_string();
        assert!(err.contains("chmod 700") && !err.contains("remove") && err.contains("--socket"), "{err}");
        // Another owner is fixed by chown, not chmod (root can make one).
        if nix::unistd::geteuid().is_root() {
            fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).unwrap();
            nix::unistd::chown(&d, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
            let err = ensure_private_dir(&d).unwrap_err().to_string();
            assert!(err.contains("owned by uid 65534") && err.contains("chown 0 "), "{err}");
            assert!(!err.contains("chmod"), "{err}");
        }
        // A file where the directory should be is removed, not chmodded.
        let f = t.path().join("file");
        fs::write(&f, "").unwrap();
        let err = ensure_private_dir(&f).unwrap_err().to_string();
        assert!(err.contains("not a directory") && err.contains("remove it"), "{err}");
        // Unless the user chose it: verdict would not make it.
        let err = check_private_dir(&f).unwrap_err().to_string();
        assert!(err.contains("not a directory") && !err.contains("remove") && err.contains("--socket"), "{err}");
        // A chosen directory may be a link to a private one.
        fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).unwrap();
        nix::unistd::chown(&d, Some(nix::unistd::geteuid()), None).unwrap();
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&d, &link).unwrap();
        check_private_dir(&link).unwrap();
        assert!(ensure_private_dir(&link).is_err(), "verdict's own is no link");
    }
}
