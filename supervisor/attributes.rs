//! The git attributes a check heeds (docs/configuration.md, "git
//! attributes"): `binary` (or `-diff` with `-text`), `linguist-generated`
//! and `linguist-vendored`, `whitespace`, `conflict-marker-size` and
//! `filter=lfs`, and,
//! where an EditorConfig `end_of_line` is
//! set, `text`, `eol` and `crlf`, as the `.gitattributes` files of the repository
//! a file is in and its `info/attributes` set them, with git's precedence
//! and macros (the `gix-attributes` crate).
//!
//! The walk lists the tree's `.gitattributes` files with the rest, so a tree
//! without attributes costs nothing more; those above the walk's roots (up
//! to the repository's top) cost a `stat` each. Each file is looked up in
//! the chain of its own directories' files (git's attribute stack), each
//! file parsed once. The files read are stamped like ignore files: a change
//! to one, or a new one, makes the next check walk the whole tree again
//! (see [`crate::watch`]).

use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use gix_attributes::Search;
use gix_attributes::search::{MetadataCollection, Outcome};
use tracing::debug;
use verdict_actors::builtin::{FileMarks, GitEol, LineEnding};

use super::{ReadStamp, Walked, special_kind_of, untrusted_file};

/// The name of the per-directory attributes file.
pub(crate) const FILE_NAME: &str = ".gitattributes";

/// The attributes asked for, in the order [`marks_of`] reads them.
const NAMES: [&str; 9] = [
    "diff",
    "text",
    "linguist-generated",
    "linguist-vendored",
    "eol",
    "crlf",
    "whitespace",
    "conflict-marker-size",
    "filter",
];

/// An attributes file read.
struct Rules {
    path: PathBuf,
    /// The top of the repository it rules (or the project root, for a
    /// project in none).
    top: PathBuf,
    /// `info/attributes`: relative to the top, ruling over every
    /// `.gitattributes`.
    info: bool,
    bytes: Vec<u8>,
}

/// The tops of the repositories a walk met (every directory it entered or
/// climbed through that holds a `.git`), deepest first.
struct Tops(Vec<PathBuf>);

impl Tops {
    fn new(repos: &[PathBuf]) -> Tops {
        let mut tops = repos.to_vec();
        tops.sort_unstable_by(|a, b| b.as_os_str().len().cmp(&a.as_os_str().len()).then_with(|| a.cmp(b)));
        tops.dedup();
        Tops(tops)
    }

    /// The top of the repository `path` is in (the nearest top at or above
    /// it), and `path` relative to it.
    fn of<'a>(&self, path: &'a [u8]) -> Option<(&Path, &'a [u8])> {
        self.0.iter().find_map(|top| Some((top.as_path(), below(top, path)?)))
    }
}

/// `path` relative to `dir`, if it is `dir` or below it.
pub(super) fn below<'a>(dir: &Path, path: &'a [u8]) -> Option<&'a [u8]> {
    let d = dir.as_os_str().as_bytes();
    let rest = path.strip_prefix(d)?;
    match (d.last(), rest.first()) {
        (Some(b'/'), _) | (_, None) => Some(rest),
        (_, Some(b'/')) => Some(&rest[1..]),
        _ => None,
    }
}

/// The fewest files a thread is started to mark.
const FILES_PER_THREAD: usize = 4096;

/// Gives each of `files` the marks its git attributes set. `root`: the
/// project root the walk began at (`real_root` its real path, and `trusted`
/// the owners whose files outside it may be read, as for ignore files);
/// `repos`: the directories holding a `.git` that the walk met, in the
/// tree and above it (the walk looks at each directory it enters and at
/// every one above where it starts); `unlisted`: attributes files that rule
/// walked files but that the walk did not list (see [`unlisted`]), and those
/// an earlier walk read (an update of its answer walks only some
/// directories). The files read, with their stamps, go to `read`; with
/// `sources`, the lines that set each file's attributes are said there.
pub(super) fn mark(
    root: &Path,
    (real_root, trusted): (&Path, &[u32]),
    repos: &[PathBuf],
    files: &mut [Walked],
    unlisted: &[PathBuf],
    heed_eol: bool,
    (read, sources): (&mut Vec<(PathBuf, ReadStamp)>, Option<&super::Sources>),
) {
    let tops = Tops::new(repos);
    let project_top = tops.of(root.as_os_str().as_bytes()).map(|(t, _)| t.to_path_buf());
    // The top a directory's rules are relative to: its repository's, or
    // the project root for one in none.
    let top_of = |dir: &Path| match tops.of(dir.as_os_str().as_bytes()) {
        Some((top, _)) => top.to_path_buf(),
        None => root.to_path_buf(),
    };
    let mut candidates: Vec<PathBuf> = files
        .iter()
        .filter(|w| w.abs.file_name().is_some_and(|n| n == FILE_NAME))
        .map(|w| w.abs.clone())
        .chain(unlisted.iter().cloned())
        .collect();
    // The directories above the project root up to the repository's top:
    // their files rule the walked ones too.
    if let Some(top) = project_top.as_deref().filter(|t| *t != root) {
        candidates.extend(root.ancestors().skip(1).take_while(|d| d.starts_with(top)).map(|d| d.join(FILE_NAME)));
    }
    candidates.sort_unstable();
    candidates.dedup();
    let mut rules: Vec<Rules> = Vec::new();
    for path in candidates {
        let Some(dir) = path.parent() else { continue };
        let top = top_of(dir);
        if let Some(bytes) = read_rules(&path, (root, real_root, trusted), false, read) {
            rules.push(Rules { path, top, info: false, bytes });
        }
    }
    // `info/attributes` of the git directory (see [`git_dir`]).
    if let Some(top) = &project_top
        && let Some(git_dir) = git_dir(top)
    {
        let path = git_dir.join("info/attributes");
        if let Some(bytes) = read_rules(&path, (root, real_root, trusted), true, read) {
            rules.push(Rules { path, top: top.clone(), info: true, bytes });
        }
    }
    // Unless a file can set one of the attributes heeded (or define a
    // macro, which another may use), no file needs a look. (All of them
    // count then: `text` set in one undoes another's `binary`.) `text`,
    // `eol` and `crlf` count only for a file an EditorConfig `end_of_line` is set for
    // (`heed_eol`: some file has one): `* text=auto` alone, in most
    // repositories, costs no look-ups.
    let has = |bytes: &[u8], word: &str| memchr::memmem::find(bytes, word.as_bytes()).is_some();
    let words: &[&str] = if heed_eol {
        &["binary", "diff", "linguist-", "[attr]", "whitespace", "conflict-marker-size", "text", "eol", "crlf"]
    } else {
        &["binary", "diff", "linguist-", "[attr]", "whitespace", "conflict-marker-size"]
    };
    if !rules.iter().any(|r| words.iter().any(|w| has(&r.bytes, w))) {
        return;
    }
    // Shallow before deep, `info/attributes` last.
    rules.sort_by_cached_key(|r| (r.top.clone(), r.info, r.path.components().count()));
    let repos = Repos::build(&rules);
    let repos = &repos;
    let mark_all = |files: &mut [Walked]| {
        let mut outs: Vec<Outcome> = repos.0.iter().map(|r| r.out.clone()).collect();
        // The chain of the last file's directory.
        let mut last: Option<(Vec<u8>, Option<ChainKey>)> = None;
        for w in files {
            let abs = w.abs.as_os_str().as_bytes();
            // In a project in no repository, the root's rules; outside
            // any repository in a project in one, none.
            let found = match (tops.of(abs), &project_top) {
                (Some(found), _) => Some(found),
                (None, None) => below(root, abs).map(|rel| (root, rel)),
                (None, Some(_)) => None,
            };
            let Some((top, rel)) = found else { continue };
            let top = top.as_os_str().as_bytes();
            let Some(dir) = parent_dir(abs) else { continue };
            let key = match &last {
                Some((d, key)) if d.as_slice() == dir => *key,
                _ => {
                    let key = repos.chain_of(top, dir);
                    last = Some((dir.to_vec(), key));
                    key
                }
            };
            let Some((r, chain)) = key else { continue };
            let (repo, out) = (&repos.0[r], &mut outs[r]);
            out.reset();
            let case = gix_attributes::glob::pattern::Case::Sensitive;
            let rel = bstr::BStr::new(rel);
            // git's own first: what it sets rules over the rest.
            let mut matched =
                repo.info.as_ref().is_some_and(|s| s.pattern_matching_relative_path(rel, case, Some(false), out));
            if let Some(c) = chain {
                matched |= repo.chains[c].pattern_matching_relative_path(rel, case, Some(false), out);
            }
            if matched {
                // Over what EditorConfig said (which is read first): a
                // UTF-16 `charset` is binary whatever git says.
                let git = marks_of(out);
                if let Some(sources) = sources {
                    let said = said_by(out, root, &git, w.marks.eol.is_some());
                    sources.lock().expect("sources").entry(w.abs.clone()).or_default().extend(said);
                }
                // What either leaves to the file, it keeps.
                w.marks = FileMarks {
                    binary: w.marks.binary || git.binary,
                    generated: w.marks.generated || git.generated,
                    vendored: git.vendored,
                    lfs: git.lfs,
                    git_eol: git.git_eol,
                    keeps_trailing_whitespace: w.marks.keeps_trailing_whitespace || git.keeps_trailing_whitespace,
                    no_final_newline: w.marks.no_final_newline || git.no_final_newline,
                    blank_lines_at_end: git.blank_lines_at_end,
                    conflict_marker_size: git.conflict_marker_size,
                    ..w.marks
                };
            }
        }
    };
    in_chunks(files, mark_all);
}

/// Runs `work` over `files` in chunks of at least [`FILES_PER_THREAD`], on
/// a thread per core (this one among them).
pub(super) fn in_chunks(files: &mut [Walked], work: impl Fn(&mut [Walked]) + Sync) {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let per_thread = files.len().div_ceil(threads).max(FILES_PER_THREAD);
    let chunks: Vec<Mutex<Option<&mut [Walked]>>> = files.chunks_mut(per_thread).map(|c| Mutex::new(Some(c))).collect();
    fn take<'a>(c: &Mutex<Option<&'a mut [Walked]>>) -> Option<&'a mut [Walked]> {
        c.lock().expect("chunk").take()
    }
    let work = &work;
    std::thread::scope(|scope| {
        for chunk in chunks.iter().skip(1) {
            let run = move || {
                if let Some(c) = take(chunk) {
                    work(c);
                }
            };
            if let Err(e) = std::thread::Builder::new().spawn_scoped(scope, run) {
                debug!(error = %e, "no thread to mark files with");
            }
        }
        // This thread's share, and any a thread has not begun (one that
        // could not be started).
        for chunk in &chunks {
            if let Some(c) = take(chunk) {
                work(c);
            }
        }
    });
}

/// The directory of the absolute path `path` (`/` for `/a`), if it has one.
pub(super) fn parent_dir(path: &[u8]) -> Option<&[u8]> {
    match memchr::memrchr(b'/', path)? {
        _ if path == b"/" => None,
        0 => Some(&path[..1]),
        i => Some(&path[..i]),
    }
}

/// A repository (an index into [`Repos`]) and one of its chains (an index
/// into its `chains`; `None`: only its `info/attributes`).
type ChainKey = (usize, Option<usize>);

/// The look-ups of each repository's attributes, built once per check.
struct Repos(Vec<Repo>);

/// A repository's look-ups.
struct Repo {
    top: Vec<u8>,
    /// Its `.gitattributes` files' directories, each with its chain: the
    /// look-up of the files from the top down to it (git's attribute stack
    /// for the files below it), an index into `chains`.
    dirs: HashMap<Vec<u8>, usize>,
    chains: Vec<Search>,
    /// Its `info/attributes`, looked at first.
    info: Option<Search>,
    /// An outcome ready for its look-ups (every chain shares the names
    /// and macros of one collection).
    out: Outcome,
}

impl Repos {
    /// From the rules read, sorted by top, `info/attributes` after the
    /// rest, shallow before deep: each file parsed once, each chain its
    /// parent's look-up and its own file.
    fn build(rules: &[Rules]) -> Repos {
        let mut repos: Vec<Repo> = Vec::new();
        let mut collections: Vec<MetadataCollection> = Vec::new();
        for r in rules {
            let top = r.top.as_os_str().as_bytes();
            if repos.last().is_none_or(|last| last.top != top) {
                let mut collection = MetadataCollection::default();
                let no_files: [PathBuf; 0] = [];
                // With git's built-in `binary` macro, as the chains' root.
                let root = Search::new_globals(no_files, &mut Vec::new(), &mut collection).unwrap_or_default();
                repos.push(Repo {
                    top: top.to_vec(),
                    dirs: HashMap::new(),
                    chains: vec![root],
                    info: None,
                    out: Outcome::default(),
                });
                collections.push(collection);
            }
            let (repo, collection) = (repos.last_mut().expect("pushed"), collections.last_mut().expect("pushed"));
            if r.info {
                let mut info = Search::default();
                info.add_patterns_buffer(&r.bytes, r.path.clone(), None, collection, true);
                repo.info = Some(info);
                continue;
            }
            let dir = r.path.parent().map_or(&b""[..], |d| d.as_os_str().as_bytes());
            // The nearest directory above with a chain (else the root one).
            let parent = std::iter::successors(parent_dir(dir), |d| parent_dir(d))
                .take_while(|d| d.len() >= top.len())
                .find_map(|d| repo.dirs.get(d).copied())
                .unwrap_or(0);
            let mut chain = repo.chains[parent].clone();
            // git takes macro definitions from the top's file only (and
            // `info/attributes`).
            let at_top = r.path.parent() == Some(r.top.as_path());
            chain.add_patterns_buffer(&r.bytes, r.path.clone(), Some(&r.top), collection, at_top);
            repo.chains.push(chain);
            repo.dirs.insert(dir.to_vec(), repo.chains.len() - 1);
        }
        for (repo, collection) in repos.iter_mut().zip(&collections) {
            repo.out.initialize_with_selection(collection, NAMES);
        }
        Repos(repos)
    }

    /// The repository (an index) and the chain (an index; `None`: only
    /// `info/attributes`) of the files of `dir` in the repository at `top`;
    /// `None` if no rules of it reach them.
    fn chain_of(&self, top: &[u8], dir: &[u8]) -> Option<ChainKey> {
        let r = self.0.iter().position(|r| r.top == top)?;
        let repo = &self.0[r];
        let chain = std::iter::successors(Some(dir), |d| parent_dir(d))
            .take_while(|d| d.len() >= top.len())
            .find_map(|d| repo.dirs.get(d).copied());
        (chain.is_some() || repo.info.is_some()).then_some((r, chain))
    }
}

/// The git directory of the repository at `top`: its `.git`, or the
/// common directory of the one a `.git` file names (a worktree's), or that
/// one (`git init --separate-git-dir`, a submodule), a relative `gitdir:`
/// and `commondir` read from where they are, as git reads them.
fn git_dir(top: &Path) -> Option<PathBuf> {
    let dot_git = top.join(".git");
    let meta = std::fs::metadata(&dot_git).ok()?;
    if meta.is_dir() {
        return Some(dot_git);
    }
    let line = crate::paths::first_line(&dot_git).ok()??;
    let named = top.join(line.strip_prefix("gitdir: ")?);
    match crate::paths::first_line(&named.join("commondir")).ok()? {
        Some(common) => Some(named.join(common)),
        None => Some(named),
    }
}

/// The rules files (those named `names`: `.gitattributes`, `.editorconfig`)
/// that rule the files a walk of `targets` (below the project `root`) lists
/// but that the walk itself does not list, and the
/// directories the walk did not enter where one may appear (to be watched
/// for it). Those of the directories between each target and the root, as
/// a walk of the root lists them (`listed` keeps those of the paths it is
/// given that such a walk lists: a check of `sub/a.x` reads what `verdict
/// check .` reads); and those of the directories the walk did not enter
/// (ignored, or left out) that hold files git tracks (`tracked_dirs`,
/// absolute; `walked_dirs`: the directories walked, relative to the root):
/// git's attributes rule those files whatever the ignore rules say.
pub(super) fn unlisted(
    root: &Path,
    listed: impl FnOnce(Vec<PathBuf>) -> Vec<PathBuf>,
    targets: &[PathBuf],
    (tracked_dirs, walked_dirs): (&[PathBuf], Option<&HashSet<&str>>),
    names: &[&str],
) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let is_file = |p: &Path| p.symlink_metadata().is_ok_and(|m| m.is_file());
    let mut above: Vec<PathBuf> = Vec::new();
    for t in targets.iter().filter(|t| t.as_path() != root) {
        for d in t.ancestors().skip(1).take_while(|d| d.starts_with(root)) {
            above.extend(names.iter().map(|n| d.join(n)));
        }
    }
    above.sort_unstable();
    above.dedup();
    // One `stat` each; the walker is asked only of those that are there.
    above.retain(|p| is_file(p));
    let mut found = if above.is_empty() { Vec::new() } else { listed(above) };
    let mut unwalked = Vec::new();
    if let Some(walked) = walked_dirs {
        let mut seen = HashSet::new();
        for dir in tracked_dirs {
            for d in dir.ancestors().take_while(|d| d.starts_with(root)) {
                let rel = d.strip_prefix(root).ok().and_then(Path::to_str);
                if rel.is_some_and(|r| walked.contains(r)) || !seen.insert(d.to_path_buf()) {
                    break;
                }
                unwalked.push(d.to_path_buf());
                found.extend(names.iter().map(|n| d.join(n)).filter(|p| is_file(p)));
            }
        }
    }
    (found, unwalked)
}

/// The lines that gave a file the attributes verdict reads, from the
/// outcome of its look-up, one each: where (`FILE line N: `), and the
/// pattern with the attributes it set, or, for those a macro set, with
/// the macro as the line names it and what it set.
/// Only the attributes that made a mark (`git`) are said: `diff` and
/// `text` for `binary`, the line endings' only where `eol_heeded` (an
/// EditorConfig `end_of_line` is set for the file), the `linguist-` ones
/// where they are on; `whitespace` and `conflict-marker-size` always.
fn said_by(out: &Outcome, root: &Path, git: &FileMarks, eol_heeded: bool) -> Vec<String> {
    // (where, pattern and macro) → what it set, in the order matched.
    let mut lines: Vec<(String, Option<String>, Vec<String>)> = Vec::new();
    let mut order: Vec<(bool, usize, String, usize)> = Vec::new();
    for m in out.iter_selected() {
        // (An attribute no line names comes as unspecified, from nowhere;
        // one a line unspecifies, `!eol`, from that line.)
        if matches!(m.assignment.state, gix_attributes::StateRef::Unspecified) && m.location.source.is_none() {
            continue;
        }
        let made_a_mark = match m.assignment.name.as_str() {
            "diff" => git.binary,
            "text" => git.binary || eol_heeded,
            "eol" | "crlf" => eol_heeded,
            "linguist-generated" => git.generated,
            "linguist-vendored" => git.vendored,
            "filter" => git.lfs,
            _ => true,
        };
        if !made_a_mark {
            continue;
        }
        let from = m.location.source.map_or_else(
            || "git's built-in macros".to_owned(),
            |p| p.strip_prefix(root).unwrap_or(p).display().to_string(),
        );
        let by_macro = match m.kind {
            gix_attributes::search::MatchKind::Attribute { macro_id: Some(id) } => {
                out.match_by_id(id).map(|by| by.assignment.to_string())
            }
            _ => None,
        };
        let at = format!("{from} line {}: `{}", m.location.sequence_number, m.pattern);
        match lines.iter_mut().find(|(a, b, _)| *a == at && *b == by_macro) {
            Some((_, _, set)) => set.push(m.assignment.to_string()),
            None => {
                // In the order git weighs them: shallow files before deep
                // ones, `info/attributes` last, each in line order.
                let source = m.location.source;
                let info = source.is_some_and(|p| p.ends_with("info/attributes"));
                let depth = source.map_or(0, |p| p.components().count());
                order.push((info, depth, from, m.location.sequence_number));
                lines.push((at, by_macro, vec![m.assignment.to_string()]));
            }
        }
    }
    let mut lines: Vec<_> = order.into_iter().zip(lines).collect();
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    (lines.into_iter().map(|(_, line)| line))
        .map(|(at, by_macro, set)| match by_macro {
            Some(name) => format!("{at} {name}` (which sets {})", set.join(" ")),
            None => format!("{at} {}`", set.join(" ")),
        })
        .collect()
}

/// The marks of a file from the outcome of its look-up.
fn marks_of(out: &Outcome) -> FileMarks {
    let mut states = out.iter_selected().map(|m| m.assignment.state);
    let mut next = || states.next().unwrap_or(gix_attributes::StateRef::Unspecified);
    let (diff, text, generated, vendored, eol, crlf) = (next(), next(), next(), next(), next(), next());
    let (whitespace, marker_size, filter) = (next(), next(), next());
    let (blank_at_eol, blank_at_eof) = whitespace_rules(whitespace);
    // As Linguist reads them: set, or any value but `false` (exactly).
    let on = |s: gix_attributes::StateRef<'_>| match s {
        gix_attributes::StateRef::Set => true,
        gix_attributes::StateRef::Value(v) => v.as_bstr() != "false",
        _ => false,
    };
    FileMarks {
        binary: diff.is_unset() && text.is_unset(),
        generated: on(generated),
        vendored: on(vendored),
        git_eol: git_eol(text, crlf, eol),
        keeps_trailing_whitespace: !blank_at_eol,
        no_final_newline: whitespace.is_unset(),
        // (Unset, `no_final_newline` says more.)
        blank_lines_at_end: !blank_at_eof && !whitespace.is_unset(),
        conflict_marker_size: conflict_marker_size(marker_size),
        lfs: matches!(filter, gix_attributes::StateRef::Value(v) if v.as_bstr() == "lfs"),
        ..FileMarks::NONE
    }
}

/// Whether git's whitespace checks (`git diff --check`, `git apply
/// --whitespace`) look for blanks at a line's end (`blank-at-eol`) and for
/// blank lines at the file's end (`blank-at-eof`) in a file with this
/// `whitespace` attribute, as git's `ws.c` reads it: unset, neither;
/// set or unspecified, both (verdict does not read `core.whitespace`); a
/// value, a comma-separated list over git's defaults, each name (or the
/// start of one: `trail`) set, or unset after a `-`; `trailing-space`
/// names both.
fn whitespace_rules(state: gix_attributes::StateRef<'_>) -> (bool, bool) {
    use gix_attributes::StateRef;
    let list = match state {
        StateRef::Unset => return (false, false),
        StateRef::Value(v) => v.as_bstr(),
        _ => return (true, true),
    };
    let (mut eol, mut eof) = (true, true);
    for word in list.split(|&b| b == b',') {
        let word = word.trim_ascii();
        if word.is_empty() {
            continue;
        }
        let (on, name) = match word.strip_prefix(b"-") {
            Some(name) => (false, name),
            None => (true, word),
        };
        // A lone `-` ends git's reading of the list.
        if name.is_empty() {
            break;
        }
        // git compares the word's length of each rule's name, in its
        // table's order: `blank-at-e` is `blank-at-eol`.
        const RULES: [&[u8]; 3] = [b"trailing-space", b"blank-at-eol", b"blank-at-eof"];
        match RULES.iter().position(|rule| rule.starts_with(name)) {
            Some(0) => (eol, eof) = (on, on),
            Some(1) => eol = on,
            Some(2) => eof = on,
            _ => {}
        }
    }
    (eol, eof)
}

/// git's `conflict-marker-size`: what C's `atoi` reads of it (blanks, a
/// sign, digits), if at least 1 (git takes 7 for anything else); kept
/// where it is not 7 and at most 255.
fn conflict_marker_size(state: gix_attributes::StateRef<'_>) -> Option<u8> {
    let gix_attributes::StateRef::Value(v) = state else { return None };
    let value = v.as_bstr().trim_ascii_start();
    let value = value.strip_prefix(b"+").unwrap_or(value);
    let digits: Vec<u8> = value.iter().copied().take_while(u8::is_ascii_digit).collect();
    let n: usize = std::str::from_utf8(&digits).ok()?.parse().ok()?;
    u8::try_from(n).ok().filter(|&n| n != 7 && n > 0)
}

/// What git does with a file's line endings at checkout, from its `text`,
/// `crlf` and `eol` attributes, as git's `convert.c` reads them: `text`
/// (or, where it says nothing git knows, the older `crlf`) set is text,
/// unset converts nothing (and voids `eol`), `auto` is text where git takes
/// the content for text, `input` is text written with LF; then `eol=lf` or
/// `eol=crlf` (in that case: any other value is none) is that ending, and
/// makes text of a file nothing else said was.
fn git_eol(
    text: gix_attributes::StateRef<'_>,
    crlf: gix_attributes::StateRef<'_>,
    eol: gix_attributes::StateRef<'_>,
) -> GitEol {
    use gix_attributes::StateRef;
    #[derive(PartialEq)]
    enum Action {
        Text,
        Binary,
        Input,
        Auto,
        Undefined,
    }
    let action = |s: StateRef<'_>| match s {
        StateRef::Set => Action::Text,
        StateRef::Unset => Action::Binary,
        StateRef::Value(v) if v.as_bstr() == "input" => Action::Input,
        StateRef::Value(v) if v.as_bstr() == "auto" => Action::Auto,
        _ => Action::Undefined,
    };
    let action = match action(text) {
        Action::Undefined => action(crlf),
        said => said,
    };
    let auto = action == Action::Auto;
    match (action, eol) {
        (Action::Binary, _) => GitEol::AsStored,
        (_, StateRef::Value(v)) if v.as_bstr() == "lf" => GitEol::Set { ending: LineEnding::Lf, auto },
        (_, StateRef::Value(v)) if v.as_bstr() == "crlf" => GitEol::Set { ending: LineEnding::CrLf, auto },
        (Action::Text | Action::Auto, _) => GitEol::Native { auto },
        (Action::Input, _) => GitEol::Set { ending: LineEnding::Lf, auto: false },
        (Action::Undefined, _) => GitEol::AsStored,
    }
}

/// The bytes of the rules file `path` (attributes, EditorConfig), if it
/// is there and may be
/// read: a regular file of at most 1 MiB (after links with `follow`: git
/// follows none to a `.gitattributes` of the working tree), and, outside the
/// project, one only the user, root or the project's owner could have put
/// there, or in a directory listed in `VERDICT_SAFE_DIRECTORIES` (as for
/// ignore files). Opened without blocking (a FIFO put in its place since is
/// not waited on) and read no further than the limit. Its stamp goes to
/// `read`.
pub(super) fn read_rules(
    path: &Path,
    (root, real_root, trusted): (&Path, &Path, &[u32]),
    follow: bool,
    read: &mut Vec<(PathBuf, ReadStamp)>,
) -> Option<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let not_read = |why: &str| debug!(file = %path.display(), why, "rules file not read");
    let flags = nix::libc::O_NONBLOCK | if follow { 0 } else { nix::libc::O_NOFOLLOW };
    let file = std::fs::OpenOptions::new().read(true).custom_flags(flags).open(path).ok()?;
    let meta = file.metadata().ok()?;
    if let Some(kind) = special_kind_of(&meta) {
        not_read(kind);
        return None;
    }
    if !meta.is_file() {
        return None;
    }
    // In the project: a `.gitattributes` the walk found there (it follows
    // no link to a directory), or by its real path.
    let inside = |path: &Path| {
        (!follow && super::lexically_normal(path).starts_with(root))
            || std::fs::canonicalize(path).is_ok_and(|p| p.starts_with(real_root))
    };
    if !trusted.is_empty()
        && !inside(path)
        && !path.parent().is_some_and(crate::config::listed_safe)
        && let Some(why) = untrusted_file(path, trusted)
    {
        not_read(&why);
        return None;
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(super::IGNORE_FILE_LIMIT + 1).read_to_end(&mut bytes).ok()?;
    if bytes.len() as u64 > super::IGNORE_FILE_LIMIT {
        not_read("it grew over 1 MiB");
        return None;
    }
    read.push((path.to_path_buf(), ReadStamp::of(&meta)));
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The marks `mark` gives the files `rels` of the project at `root`,
    /// walked from `targets` (the root if empty), with the attributes
    /// files a walk of them lists.
    fn marks(root: &Path, targets: &[&str], rels: &[&str]) -> Vec<FileMarks> {
        marks_heeding(root, targets, rels, true)
    }

    /// The same, with `heed_eol` as `mark` takes it.
    fn marks_heeding(root: &Path, targets: &[&str], rels: &[&str], heed_eol: bool) -> Vec<FileMarks> {
        let targets: Vec<PathBuf> = match targets {
            [] => vec![root.to_path_buf()],
            t => t.iter().map(|t| root.join(t)).collect(),
        };
        let mut listed: Vec<PathBuf> = Vec::new();
        // The repositories a walk meets: above where it starts, and in it.
        let mut repos: Vec<PathBuf> = targets
            .iter()
            .flat_map(|t| t.ancestors())
            .filter(|d| d.join(".git").exists())
            .map(Path::to_path_buf)
            .collect();
        let mut dirs = targets.clone();
        while let Some(dir) = dirs.pop() {
            if dir.join(".git").exists() {
                repos.push(dir.clone());
            }
            for e in std::fs::read_dir(&dir).unwrap().map(Result::unwrap) {
                match e.file_type().unwrap().is_dir() {
                    true if e.file_name() != ".git" => dirs.push(e.path()),
                    false if e.file_name() == FILE_NAME => listed.push(e.path()),
                    _ => {}
                }
            }
        }
        let walked = |abs: PathBuf| Walked { abs, ..Walked::default() };
        let mut files: Vec<Walked> = rels.iter().map(|r| walked(root.join(r))).collect();
        files.extend(listed.into_iter().map(walked));
        let mut read = Vec::new();
        // A walk of the root lists every one of these.
        let (unlisted, _) = unlisted(root, |found| found, &targets, (&[], None), &[FILE_NAME]);
        mark(root, (root, &[]), &repos, &mut files, &unlisted, heed_eol, (&mut read, None));
        files[..rels.len()].iter().map(|w| w.marks).collect()
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    const GEN: FileMarks = FileMarks { generated: true, ..FileMarks::NONE };
    const BIN: FileMarks = FileMarks { binary: true, ..FileMarks::NONE };

    #[test]
    fn eol_is_read_as_git_writes_it() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        write(
            &root.join(".gitattributes"),
            "*.txt text\n*.md text=auto\n*.rs text=auto eol=lf\n*.bat text eol=crlf\n*.cmd eol=crlf\n\
             *.sh eol=CRLF\n*.x -text eol=crlf\n*.png binary\n*.y text=maybe\n\
             *.c crlf\n*.h crlf=input\n*.o -crlf eol=crlf\n*.i text=input\n*.k text crlf=input\n",
        );
        let rels = ["a.txt", "b.md", "c.rs", "d.bat", "e.cmd", "f.sh", "g.x", "h.png", "i.y", "j"];
        let legacy = ["a.c", "a.h", "a.o", "a.i", "a.k"];
        let marks = marks(root, &[], &[&rels[..], &legacy].concat());
        let git: Vec<GitEol> = marks.iter().map(|m| m.git_eol).collect();
        let set = |ending, auto| GitEol::Set { ending, auto };
        let (lf, crlf) = (set(LineEnding::Lf, false), set(LineEnding::CrLf, false));
        let (native, stored) = (GitEol::Native { auto: false }, GitEol::AsStored);
        // `eol` sets `text` where it is not said; git takes `lf` and `crlf`
        // only, as written; `-text` (and `binary`, which unsets it)
        // converts nothing; `text=auto` says so.
        let expected = [
            native,
            GitEol::Native { auto: true },
            set(LineEnding::Lf, true),
            crlf,
            crlf,
            stored,
            stored,
            stored,
            stored,
            stored,
            // The older `crlf`, read where `text` says nothing git knows:
            // set is `text`, `input` is LF, unset voids `eol`; `text=input`
            // is LF too; `text` said rules over it.
            native,
            lf,
            stored,
            lf,
            native,
        ];
        assert_eq!(git, expected);
        assert!(marks[7].binary);
        // Where no `end_of_line` is set, attributes files that only say
        // `text` and `eol` are not looked up at all.
        write(&root.join(".gitattributes"), "* text=auto\n*.bat eol=crlf\n");
        assert_eq!(marks_heeding(root, &[], &["a.txt", "d.bat"], false), [FileMarks::NONE; 2]);
        assert_eq!(marks_heeding(root, &[], &["d.bat"], true)[0].git_eol, set(LineEnding::CrLf, true));
        // Nor the older `crlf` alone (`crlf=input` holds neither word).
        write(&root.join(".gitattributes"), "*.h crlf=input\n");
        assert_eq!(marks_heeding(root, &[], &["a.h"], false), [FileMarks::NONE]);
        assert_eq!(marks_heeding(root, &[], &["a.h"], true)[0].git_eol, lf);
    }

    #[test]
    fn whitespace_and_conflict_marker_size_are_read_as_git_reads_them() {
        // git's own repository: `t/.gitattributes` has `-whitespace` for
        // tests' expected outputs, its top one `whitespace=-blank-at-eof`
        // and `conflict-marker-size=32` for documents with sample
        // conflicts.
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        write(
            &root.join(".gitattributes"),
            "*.expect -whitespace\n*.a whitespace=-blank-at-eof\n*.b whitespace=-trail,space-before-tab\n\
             *.c whitespace=-blank-at-eol\n*.d whitespace\n*.e whitespace=-trailing-space,blank-at-eof\n\
             *.f whitespace=-blank-at-e\n*.g whitespace=indent-with-non-tab\n\
             *.adoc conflict-marker-size=32\n*.h conflict-marker-size=7\n*.i conflict-marker-size=x\n\
             *.j conflict-marker-size=300\n*.k conflict-marker-size=12abc\n*.l conflict-marker-size=+12\n\
             *.m conflict-marker-size=-12\n*.n whitespace=-,-trail\n",
        );
        let rels = [
            "x.expect", "x.a", "x.b", "x.c", "x.d", "x.e", "x.f", "x.g", "m.adoc", "m.h", "m.i", "m.j", "m.k", "m.l",
            "m.m", "x.n", "plain",
        ];
        let got: Vec<(bool, bool, bool, Option<u8>)> = marks(root, &[], &rels)
            .iter()
            .map(|m| (m.keeps_trailing_whitespace, m.no_final_newline, m.blank_lines_at_end, m.conflict_marker_size))
            .collect();
        let none = (false, false, false, None);
        assert_eq!(
            got,
            [
                (true, true, false, None),
                (false, false, true, None),
                (true, false, true, None),
                (true, false, false, None),
                none,
                (true, false, false, None),
                // The first rule the word begins: `blank-at-eol`.
                (true, false, false, None),
                none,
                (false, false, false, Some(32)),
                none,
                none,
                none,
                (false, false, false, Some(12)),
                // `atoi`'s reading: a sign; none below 1.
                (false, false, false, Some(12)),
                none,
                // A lone `-` ends the list: nothing after it counts.
                none,
                none,
            ]
        );
        // Heeded without an EditorConfig `end_of_line` too.
        assert!(marks_heeding(root, &[], &["x.expect"], false)[0].no_final_newline);
    }

    /// Git LFS's own line (`git lfs track` writes it), and a value that
    /// is not LFS's.
    #[test]
    fn filter_lfs_marks_a_file_kept_by_git_lfs() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        write(
            &root.join(".gitattributes"),
            "*.psd filter=lfs diff=lfs merge=lfs -text\n*.x filter=crypt\nkeep.psd !filter\n",
        );
        let got = marks(root, &[], &["a.psd", "b.x", "keep.psd", "c.txt"]);
        let lfs = |m: &FileMarks| m.lfs;
        assert_eq!(got.iter().map(lfs).collect::<Vec<_>>(), [true, false, false, false]);
    }

    #[test]
    fn deeper_files_rule_over_shallower_and_git_s_own_over_both() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join(".git/info")).unwrap();
        write(&root.join(".gitattributes"), "*.txt linguist-generated\n*.bin binary\n");
        write(&root.join("a/.gitattributes"), "*.txt -linguist-generated\n");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        let rels = ["x.txt", "a/x.txt", "a/b/y.txt", "a/z.bin", "w.md"];
        let none = FileMarks::NONE;
        assert_eq!(marks(root, &[], &rels), [GEN, none, none, BIN, none]);
        write(&root.join(".git/info/attributes"), "a/b/*.txt linguist-generated\nx.txt -linguist-generated\n");
        assert_eq!(marks(root, &[], &rels), [none, none, GEN, BIN, none]);
        // Walked from below the root: the files above the walk still rule.
        assert_eq!(marks(root, &["a/b"], &["a/b/y.txt"]), [GEN]);
    }

    #[test]
    fn a_repository_s_rules_stop_at_a_nested_one_and_rule_from_its_top() {
        let tmp = tempfile::tempdir().unwrap();
        let top = tmp.path();
        std::fs::create_dir_all(top.join(".git")).unwrap();
        std::fs::create_dir_all(top.join("project/inner/.git")).unwrap();
        write(&top.join(".gitattributes"), "project/*.txt linguist-generated\n*.c linguist-vendored\n");
        let root = top.join("project");
        let vendored = FileMarks { vendored: true, ..FileMarks::NONE };
        // The project is a directory of the repository: its paths are
        // matched from the repository's top.
        let got = marks(&root, &[], &["a.txt", "deep/b.txt", "m.c", "inner/m.c"]);
        assert_eq!(got, [GEN, FileMarks::NONE, vendored, FileMarks::NONE]);
    }

    #[test]
    fn a_project_in_no_repository_is_ruled_by_its_own_files() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("p");
        write(&root.join(".gitattributes"), "/top.txt linguist-generated\n");
        write(&root.join("d/.gitattributes"), "[attr]gen linguist-generated\nx.txt gen\n");
        assert_eq!(marks(&root, &[], &["top.txt", "d/top.txt", "d/x.txt"]), [GEN, FileMarks::NONE, FileMarks::NONE]);
    }

    #[test]
    fn text_set_deeper_undoes_a_shallower_binary() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join(".git/info")).unwrap();
        write(&root.join(".gitattributes"), "*.x -diff -text\n*.y -diff\n*.svg binary\n");
        write(&root.join("sub/.gitattributes"), "*.x text\n*.y -text\n*.svg text diff\n");
        let none = FileMarks::NONE;
        // (`text` set: git converts the endings, to this machine's.)
        let text = FileMarks { git_eol: GitEol::Native { auto: false }, ..none };
        let rels = ["a.x", "sub/a.x", "sub/b.y", "b.y", "sub/c.svg"];
        assert_eq!(marks(root, &[], &rels), [BIN, text, BIN, none, text]);
        // Split between a `.gitattributes` and git's own.
        write(&root.join(".git/info/attributes"), "b.y -text\n");
        assert_eq!(marks(root, &[], &["b.y"]), [BIN]);
    }

    #[test]
    fn info_attributes_of_a_git_directory_a_git_file_names() {
        let tmp = tempfile::tempdir().unwrap();
        let (root, git_dir) = (tmp.path().join("p"), tmp.path().join("p.git"));
        write(&git_dir.join("info/attributes"), "*.x binary\n");
        write(&root.join(".git"), &format!("gitdir: {}\n", git_dir.display()));
        write(&root.join("a.x"), "x\n");
        assert_eq!(marks(&root, &[], &["a.x"]), [BIN]);
        // A relative one, from the `.git` file's directory.
        write(&root.join(".git"), "gitdir: ../p.git\n");
        assert_eq!(marks(&root, &[], &["a.x"]), [BIN]);
        // A worktree's: the common directory's, which `commondir` names
        // relative to the worktree's own git directory.
        let wt = tmp.path().join("p.git/worktrees/wt");
        write(&wt.join("commondir"), "../..\n");
        write(&wt.join("info/attributes"), "*.x -binary\n");
        let tree = tmp.path().join("wt");
        write(&tree.join(".git"), "gitdir: ../p.git/worktrees/wt\n");
        write(&tree.join("a.x"), "x\n");
        assert_eq!(marks(&tree, &[], &["a.x"]), [BIN]);
    }

    #[test]
    fn linguist_values_and_binary_spellings() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        write(
            &root.join(".gitattributes"),
            "a linguist-generated=true\nb linguist-generated=false\nc linguist-generated=FALSE\nd -linguist-generated\n\
             e -diff -text\nf -diff\ng -text\nh binary\nh !diff\n",
        );
        let got = marks(root, &[], &["a", "b", "c", "d", "e", "f", "g", "h"]);
        let none = FileMarks::NONE;
        assert_eq!(got, [GEN, none, GEN, none, BIN, none, none, none]);
    }
}
