//! Which validators select each walked file: every filter's globs, the
//! project's scopes (pre-commit's, gitleaks') and `check.exclude`, searched
//! once a path.
//!
//! A check selects on threads that outlive it ([`Selectors`]). The globs
//! are searched by a lazy DFA, whose states are made by the searches that
//! need them and kept in a search state that belongs to a thread: a thread
//! made for one check would make them all again at every check (some 20 ms
//! of CPU for the built-ins over the cargo registry's sources, most of what
//! the selection costs). Each of these threads keeps its own copy of the
//! filter set and of `check.exclude` for as long as checks bring the same
//! ones (as they do until a reload or a restart makes the filters anew),
//! and with it the states its searches have made.

use std::collections::HashMap;
use std::ops::Range;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

use tracing::debug;

use super::Walked;
use crate::config::{DirSelection, FileFilter, FilterScratch, FilterSet};

/// The fewest files a thread is given: fewer would cost more in hand-over
/// than the second thread saves. The same size from which a check's
/// filters are compiled into one set.
const PART_FROM: usize = crate::engine::COMPILE_FILTERS_FROM;

/// The selection's threads, kept for the daemon's life (they end when it
/// drops them).
pub(crate) struct Selectors {
    /// One queue per thread; a check's `i`th part goes to the `i`th.
    threads: Vec<mpsc::Sender<Job>>,
    /// How many copies of a filter set (or of `check.exclude`) the threads
    /// have made: once per thread for each set, if they keep them (what
    /// the tests look at).
    #[cfg_attr(not(test), allow(dead_code))]
    copies: Arc<AtomicU64>,
}

/// A part's index, and what selects its files (one list of validators'
/// indices per file).
type Answer = (usize, Vec<Vec<usize>>);

/// A part of a check's selection, given to one thread.
struct Job {
    walked: Arc<Vec<Walked>>,
    part: Range<usize>,
    exclude: Arc<globset::GlobSet>,
    set: Arc<FilterSet>,
    /// The part's index, and where its selection goes; dropped unanswered
    /// if the selection panics.
    reply: (usize, mpsc::Sender<Answer>),
}

/// A thread's own copies of the patterns it was last given, each with the
/// original it copies (kept, so that no other set can take its address).
#[derive(Default)]
struct Copies {
    set: Option<(Arc<FilterSet>, FilterSet)>,
    exclude: Option<(Arc<globset::GlobSet>, globset::GlobSet)>,
}

impl Copies {
    /// The copies of `set` and `exclude`: the ones kept if they copy them,
    /// else new ones (counted in `made`).
    fn of(
        &mut self,
        set: &Arc<FilterSet>,
        exclude: &Arc<globset::GlobSet>,
        made: &AtomicU64,
    ) -> (&FilterSet, &globset::GlobSet) {
        if self.set.as_ref().is_none_or(|(of, _)| !Arc::ptr_eq(of, set)) {
            self.set = Some((set.clone(), (**set).clone()));
            made.fetch_add(1, Ordering::Relaxed);
        }
        if self.exclude.as_ref().is_none_or(|(of, _)| !Arc::ptr_eq(of, exclude)) {
            self.exclude = Some((exclude.clone(), (**exclude).clone()));
            made.fetch_add(1, Ordering::Relaxed);
        }
        let (Some((_, set)), Some((_, exclude))) = (&self.set, &self.exclude) else { unreachable!("just set") };
        (set, exclude)
    }
}

impl Selectors {
    /// One thread per core (a thread that cannot be made is left out: its
    /// parts are selected by the caller).
    pub(crate) fn new() -> Selectors {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let copies = Arc::new(AtomicU64::new(0));
        let threads = (0..cores)
            .filter_map(|i| {
                let (tx, rx) = mpsc::channel::<Job>();
                let made = copies.clone();
                let spawned = std::thread::Builder::new().name(format!("verdict-select-{i}")).spawn(move || {
                    let mut copies = Copies::default();
                    while let Ok(job) = rx.recv() {
                        let run = std::panic::AssertUnwindSafe(|| {
                            let (set, exclude) = copies.of(&job.set, &job.exclude, &made);
                            let selected = select_with(&job.walked[job.part.clone()], exclude, set);
                            let (index, reply) = &job.reply;
                            // The check may be gone (its task aborted).
                            let _ = reply.send((*index, selected));
                        });
                        if std::panic::catch_unwind(run).is_err() {
                            // The copies may be half made: made again.
                            copies = Copies::default();
                        }
                    }
                });
                match spawned {
                    Ok(_) => Some(tx),
                    Err(e) => {
                        debug!(error = %e, "no thread for the selection: the check selects its part itself");
                        None
                    }
                }
            })
            .collect();
        Selectors { threads, copies }
    }

    /// How many copies of the patterns the threads have made.
    #[cfg(test)]
    fn copies_made(&self) -> u64 {
        self.copies.load(Ordering::Relaxed)
    }

    /// Which of the filters of `set` (by index) select each of `walked`,
    /// that `exclude` does not take out: [`select_with`] on the threads,
    /// which the caller waits for (it is on a blocking thread).
    pub(super) fn select(
        &self,
        walked: &Arc<Vec<Walked>>,
        exclude: &Arc<globset::GlobSet>,
        set: &Arc<FilterSet>,
    ) -> Vec<Vec<usize>> {
        let parallel = self.threads.len().max(1);
        let chunk = walked.len().div_ceil(parallel).max(PART_FROM);
        let parts: Vec<Range<usize>> =
            (0..walked.len()).step_by(chunk).map(|from| from..(from + chunk).min(walked.len())).collect();
        let (tx, rx) = mpsc::channel();
        let mut results: Vec<Option<Vec<Vec<usize>>>> = vec![None; parts.len()];
        for (i, part) in parts.iter().enumerate() {
            let job = Job {
                walked: walked.clone(),
                part: part.clone(),
                exclude: exclude.clone(),
                set: set.clone(),
                reply: (i, tx.clone()),
            };
            if let Some(thread) = self.threads.get(i)
                && thread.send(job).is_ok()
            {
                continue;
            }
            results[i] = Some(select_with(&walked[part.clone()], exclude, set));
        }
        drop(tx);
        // Until every thread given a part has answered, or dropped its
        // reply (a panic: that part is selected here, as it would have
        // been before the threads, and panics here too).
        for (i, selected) in rx {
            results[i] = Some(selected);
        }
        (results.into_iter().zip(parts))
            .flat_map(|(r, part)| r.unwrap_or_else(|| select_with(&walked[part], exclude, set)))
            .collect()
    }
}

/// [`select_with`] `filters` searched one by one (`explain`'s few files:
/// compiling them together would cost more than it saves).
pub(super) fn select(
    walked: &[Walked],
    global_exclude: &globset::GlobSet,
    filters: &[Arc<FileFilter>],
) -> Vec<Vec<usize>> {
    select_with(walked, global_exclude, &FilterSet::one_by_one(filters))
}

/// Which of the filters of `set` (by index) select each file of `part`
/// (a check's files, or a part of them on a kept thread), that
/// `global_exclude` does not take out, on the caller's thread.
pub(super) fn select_with(part: &[Walked], global_exclude: &globset::GlobSet, set: &FilterSet) -> Vec<Vec<usize>> {
    // Validators with the same patterns (the built-ins' `*`) are matched
    // once.
    let distinct = set.distinct();
    // The project's scopes (pre-commit's, gitleaks'), each searched once a
    // file for the filters that share it (every built-in has globs of its
    // own, and a project's global `exclude` narrows them all): by index
    // into `scopes`.
    let mut scopes: Vec<&crate::scope::ProjectScope> = Vec::new();
    let scope_of: Vec<Option<usize>> = (distinct.iter())
        .map(|(filter, _)| {
            let scope = filter.scope()?;
            Some(scopes.iter().position(|s| **s == **scope).unwrap_or_else(|| {
                scopes.push(scope);
                scopes.len() - 1
            }))
        })
        .collect();
    let mut scratch = FilterScratch::default();
    // What each filter's directory patterns say of each directory met (by
    // its path; `""`: the root, which none names), and of the directory of
    // the files before: the walk gives a directory's files one after
    // another.
    let mut ruled: HashMap<&[u8], Box<[DirSelection]>> = HashMap::new();
    ruled.insert(b"", vec![DirSelection::default(); distinct.len()].into());
    let mut dir: Option<&[u8]> = None;
    let mut dirs: Box<[DirSelection]> = vec![DirSelection::default(); distinct.len()].into();
    let mut globs_say = vec![false; distinct.len()];
    let mut selected = Vec::with_capacity(part.len());
    let mut said: Vec<Option<bool>> = vec![None; scopes.len()];
    for f in part {
        // By the name's bytes: `?` matches a byte that is not UTF-8, as in
        // an ignore file.
        let name = f.name_bytes();
        let candidate = globset::Candidate::new(std::ffi::OsStr::from_bytes(name));
        if global_exclude.is_match_candidate(&candidate) {
            selected.push(Vec::new());
            continue;
        }
        if set.has_dir_patterns() {
            let parent = parent_of(name).unwrap_or(b"");
            if dir != Some(parent) {
                dir = Some(parent);
                dirs.clone_from_slice(dir_selections(set, &mut scratch, &mut ruled, parent));
            }
        }
        set.globs_match(&candidate, &dirs, &mut scratch, &mut globs_say);
        said.fill(None);
        // A name that is not UTF-8 is searched as Python would have it,
        // with its bad bytes replaced.
        let mut text: Option<std::borrow::Cow<'_, str>> = None;
        let mut vis: Vec<usize> = (distinct.iter().zip(&globs_say).zip(&scope_of))
            .filter(|((_, globs_say), scope)| {
                **globs_say
                    && scope.is_none_or(|i| {
                        *said[i].get_or_insert_with(|| {
                            scopes[i].selects(text.get_or_insert_with(|| String::from_utf8_lossy(name)))
                        })
                    })
            })
            .flat_map(|(((_, vis), _), _)| vis.iter().copied())
            .collect();
        vis.sort_unstable();
        selected.push(vis);
    }
    selected
}

/// The directory the relative path `path` is in (`""`: the root), or
/// `None` for the root itself.
fn parent_of(path: &[u8]) -> Option<&[u8]> {
    if path.is_empty() {
        return None;
    }
    Some(memchr::memrchr(b'/', path).map_or(&b""[..], |i| &path[..i]))
}

/// What each of `set`'s filters' directory patterns say of the files in `dir`
/// (relative to the root), remembered in `ruled` (which holds the root's)
/// with every directory above it: each directory is matched once, against
/// its own patterns ([`FilterSet::dir_within`]).
fn dir_selections<'p, 'm>(
    set: &FilterSet,
    scratch: &mut FilterScratch,
    ruled: &'m mut HashMap<&'p [u8], Box<[DirSelection]>>,
    dir: &'p [u8],
) -> &'m [DirSelection] {
    // The directories not yet ruled, from `dir` up.
    let mut unruled = Vec::new();
    let mut d = dir;
    while !ruled.contains_key(d) {
        unruled.push(d);
        d = parent_of(d).unwrap_or(b"");
    }
    for d in unruled.into_iter().rev() {
        let parent = &ruled[parent_of(d).unwrap_or(b"")];
        let mut own: Box<[DirSelection]> = parent.clone();
        set.dir_within(Path::new(std::ffi::OsStr::from_bytes(d)), parent, scratch, &mut own);
        ruled.insert(d, own);
    }
    &ruled[dir]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(files: &[&str], exclude: &[&str]) -> Arc<FileFilter> {
        let s = |v: &[&str]| v.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        Arc::new(FileFilter::new(&s(files), &s(exclude)).unwrap())
    }

    /// Parts on the kept threads select what one thread selects, in the
    /// walk's order; the threads copy a set once and search their copies
    /// at the checks after, until another set comes.
    #[test]
    fn the_kept_threads_select_as_one_thread_does_and_copy_each_set_once() {
        let ext = ["rs", "json", "min.js", "log", "md"];
        let walked: Vec<Walked> = (0..3 * PART_FROM)
            .map(|i| {
                let top = ["src", "vendor", "lib/gen", "docs"][i % 4];
                Walked { rel: format!("{top}/d{}/f{i}.{}", i % 37, ext[i % ext.len()]), ..Walked::default() }
            })
            .collect();
        let walked = Arc::new(walked);
        let filters = [
            filter(&["*"], &["*.min.js", "gen/", "vendor"]),
            filter(&["lib/", "*.json"], &[]),
            filter(&["*.rs", "/src/"], &["lib"]),
            filter(&["*"], &[]),
        ];
        let mut exclude = globset::GlobSetBuilder::new();
        exclude.add(globset::Glob::new("**/d3/**").unwrap());
        let exclude = Arc::new(exclude.build().unwrap());
        let set = Arc::new(FilterSet::new(&filters));
        let one_thread = select_with(&walked, &exclude, &set);
        assert_eq!(one_thread.len(), walked.len());
        assert!(one_thread[3].is_empty(), "d3 is excluded: {}", walked[3].rel);
        assert_eq!(one_thread[0], [0, 2, 3], "{}", walked[0].rel);

        let selectors = Selectors::new();
        assert_eq!(selectors.select(&walked, &exclude, &set), one_thread);
        let copies = selectors.copies_made();
        assert!(copies >= 2, "each thread given a part copies the set and the exclusions: {copies}");
        for _ in 0..3 {
            assert_eq!(selectors.select(&walked, &exclude, &set), one_thread);
        }
        assert_eq!(selectors.copies_made(), copies, "the copies are kept");
        // The same filters made anew (a reload): copied again.
        let again = Arc::new(FilterSet::new(&filters));
        assert_eq!(selectors.select(&walked, &exclude, &again), one_thread);
        assert!(selectors.copies_made() > copies);
        // A few files: one part, and the same answer.
        let few =
            Arc::new(walked.iter().take(10).map(|w| Walked { rel: w.rel.clone(), ..Walked::default() }).collect());
        assert_eq!(selectors.select(&few, &exclude, &set), one_thread[..10]);
    }
}
