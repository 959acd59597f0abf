//! Test files the project keeps from its formatter (docs/configuration.md,
//! "Test files kept from the formatter"): below a directory of tests, and
//! matched by the `.prettierignore` at the project root, which Prettier
//! reads (in gitignore's syntax) when run there. Projects list their
//! tests' inputs and expected outputs there so that the formatter leaves
//! their bytes alone (svelte's `packages/svelte/tests/**/*.svelte`,
//! webpack's `test/**/*.*`, eslint's `tests/fixtures`); the whitespace
//! checks leave them alone too. Outside directories of tests the file says
//! nothing verdict heeds: projects list hand-written docs and changelogs
//! there as well, whose blanks are mistakes.
//!
//! The file is read once per check, with the ignore files' stamps, so an
//! edit makes the next check walk the whole tree again; one created where
//! none was is an event in the root's directory, whose name
//! [`crate::watch`] counts as a rules file.
//!
//! A check matches a file against it only where a built-in finds something
//! in a file below a directory of tests ([`FormatterList::keeps`], asked
//! by the read stage, which then judges the file again with the mark: the
//! whitespace checks heed it, the others judge alike): most files have
//! nothing to waive, and matching each of
//! webpack's 12,000 test files cost about 3 % of a cold check. The cached
//! verdicts of files below a directory of tests are keyed by the file's
//! digest instead ([`FormatterList::digest`]). `explain` marks every file
//! it looks at, to say which line of the file matched.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder, Glob};
use verdict_actors::builtin::in_test_dir;

use super::{ReadStamp, Sources, Walked};

/// The name of the file, at the project root.
pub(crate) const FILE_NAME: &str = ".prettierignore";

/// Gives each of `files` below a directory of tests that the project's
/// `.prettierignore` (at `root`) matches the `kept_from_formatter` mark.
/// `real_root` and `trusted` are as for
/// [`super::attributes::read_rules`]; the file read goes to `read`, and
/// with `sources` the line that set the mark is said there.
pub(super) fn mark(
    root: &Path,
    (real_root, trusted): (&Path, &[u32]),
    files: &mut [Walked],
    read: &mut Vec<(PathBuf, ReadStamp)>,
    sources: Option<&Sources>,
) {
    let Some(list) = FormatterList::load(root, (real_root, trusted), read) else { return };
    let Some(matcher) = matcher(root, &list.bytes) else { return };
    let matcher = &matcher;
    // On every core, as the attributes are looked up: a pattern is matched
    // per file (about a microsecond each; 12,000 test files in webpack).
    // Each thread with its own copy: a regular expression's search state
    // is at hand for one thread only, the others take one from a locked
    // pool at every match.
    super::attributes::in_chunks(files, |files| mark_chunk(root, &matcher.clone(), files, sources));
}

/// The project's `.prettierignore`, read (and stamped) by a check, matched
/// only when asked ([`keeps`](Self::keeps)).
pub(crate) struct FormatterList {
    root: PathBuf,
    /// Its bytes.
    bytes: Vec<u8>,
    /// Their hash ([`digest`](Self::digest)).
    digest: u64,
    /// Its patterns, compiled when first asked about a file.
    matcher: std::sync::OnceLock<Option<Gitignore>>,
}

impl FormatterList {
    /// The `.prettierignore` at `root`, read into `read` with its stamp, if
    /// there is one; `real_root` and `trusted` are as for
    /// [`super::attributes::read_rules`].
    pub(super) fn load(
        root: &Path,
        (real_root, trusted): (&Path, &[u32]),
        read: &mut Vec<(PathBuf, ReadStamp)>,
    ) -> Option<FormatterList> {
        let path = root.join(FILE_NAME);
        let bytes = super::attributes::read_rules(&path, (root, real_root, trusted), false, read)?;
        let digest = xxhash_rust::xxh3::xxh3_64(&bytes);
        Some(FormatterList { root: root.to_path_buf(), bytes, digest, matcher: std::sync::OnceLock::new() })
    }

    /// What the cached verdicts of a file below a directory of tests are
    /// keyed by, beside its content: the list's bytes, which decide whether
    /// its whitespace is judged.
    pub(crate) fn digest(&self) -> u64 {
        self.digest
    }

    /// Whether the project keeps the file at `rel` (relative to the root)
    /// from its formatter: it is below a directory of tests, and the list
    /// matches it or the nearest directory above it that the list names (as
    /// [`mark`] decides).
    pub(crate) fn keeps(&self, rel: &[u8]) -> bool {
        if !in_test_dir(rel) {
            return false;
        }
        let Some(matcher) = self.matcher.get_or_init(|| matcher(&self.root, &self.bytes)) else { return false };
        let path = |p| Path::new(std::ffi::OsStr::from_bytes(p));
        if let Some(decided) = decided(matcher.matched(path(rel), false)) {
            return decided.is_some();
        }
        let mut dir = parent(rel);
        while !dir.is_empty() {
            if let Some(decided) = decided(matcher.matched(path(dir), true)) {
                return decided.is_some();
            }
            dir = parent(dir);
        }
        false
    }
}

/// [`mark`]'s work on `files`.
fn mark_chunk(root: &Path, matcher: &Gitignore, files: &mut [Walked], sources: Option<&Sources>) {
    // What the directories' own patterns say, by path: the files come
    // directory by directory, and a file no pattern names is ruled by its
    // nearest directory that one names (as `matched_path_or_any_parents`
    // looks, once per directory rather than once per file).
    let mut dirs: HashMap<&[u8], Option<&Glob>> = HashMap::new();
    for w in files.iter_mut() {
        let Some(rel) = super::attributes::below(root, w.abs.as_os_str().as_bytes()) else { continue };
        if !in_test_dir(rel) {
            continue;
        }
        let own = decided(matcher.matched(Path::new(std::ffi::OsStr::from_bytes(rel)), false));
        let glob = match own {
            Some(decided) => decided,
            None => ruling(matcher, &mut dirs, parent(rel)),
        };
        let Some(glob) = glob else { continue };
        w.marks.kept_from_formatter = true;
        if let Some(sources) = sources {
            let said = format!("{FILE_NAME}: `{}`, below a directory of tests", glob.original());
            sources.lock().expect("sources").entry(w.abs.clone()).or_default().push(said);
        }
    }
}

/// What a match decides: `None` if no pattern names the path,
/// `Some(None)` if the last that does takes it back (`!`), and the
/// pattern that keeps it from the formatter otherwise.
fn decided(m: Match<&Glob>) -> Option<Option<&Glob>> {
    match m {
        Match::None => None,
        Match::Whitelist(_) => Some(None),
        Match::Ignore(glob) => Some(Some(glob)),
    }
}

/// The pattern that keeps the directory `dir` (relative to the root; `""`
/// is the root, which no pattern names) from the formatter, by its own
/// patterns or its nearest named ancestor's, remembered in `dirs`.
fn ruling<'a, 'p>(
    matcher: &'a Gitignore,
    dirs: &mut HashMap<&'p [u8], Option<&'a Glob>>,
    dir: &'p [u8],
) -> Option<&'a Glob> {
    if dir.is_empty() {
        return None;
    }
    if let Some(known) = dirs.get(dir) {
        return *known;
    }
    let ruled = match decided(matcher.matched(Path::new(std::ffi::OsStr::from_bytes(dir)), true)) {
        Some(decided) => decided,
        None => ruling(matcher, dirs, parent(dir)),
    };
    dirs.insert(dir, ruled);
    ruled
}

/// The directory `path` is in (`""`: the root).
fn parent(path: &[u8]) -> &[u8] {
    memchr::memrchr(b'/', path).map_or(&b""[..], |i| &path[..i])
}

/// The file's patterns, in gitignore's syntax (as Prettier reads them,
/// with the `ignore` package: `#` comments, `!` negations, `/` anchors, a
/// pattern ending `/` for directories only, `**`); `None` if none is
/// usable. A line that is not a pattern is skipped, as Prettier skips it.
fn matcher(root: &Path, bytes: &[u8]) -> Option<Gitignore> {
    let mut builder = GitignoreBuilder::new(root);
    let text = String::from_utf8_lossy(bytes);
    for line in text.lines() {
        let _ = builder.add_line(None, line);
    }
    builder.build().ok().filter(|m| !m.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which of `rels` `mark` marks, under a `.prettierignore` of `text`.
    fn marked(text: &str, rels: &[&str]) -> Vec<bool> {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::write(root.join(FILE_NAME), text).unwrap();
        let mut files: Vec<Walked> = rels.iter().map(|r| Walked { abs: root.join(r), ..Walked::default() }).collect();
        let mut read = Vec::new();
        mark(root, (root, &[]), &mut files, &mut read, None);
        assert_eq!(read.len(), 1, "the file is stamped");
        let marked: Vec<bool> = files.iter().map(|w| w.marks.kept_from_formatter).collect();
        // A check asks file by file, and decides alike.
        let list = FormatterList::load(root, (root, &[]), &mut Vec::new()).expect("the list");
        let kept: Vec<bool> = rels.iter().map(|r| list.keeps(r.as_bytes())).collect();
        assert_eq!(kept, marked, "asked file by file");
        marked
    }

    #[test]
    fn test_files_the_prettierignore_matches_are_marked() {
        // webpack's: every test file but the harness, which it re-includes.
        let webpack = "package.json\n\n# Ignore some test files\ntest/**/*.*\n!test/*.js\n!test/**/webpack.config.js\nexamples/**\n";
        let rels = [
            "test/configCases/a/index.js",
            "test/fixtures/a.js",
            "test/Stats.test.js",
            "test/configCases/a/webpack.config.js",
            "examples/x/README.md",
            "package.json",
        ];
        assert_eq!(marked(webpack, &rels), [true, true, false, false, false, false]);
        // eslint's: a directory, and everything below it; svelte's globs.
        let rels = ["tests/fixtures/x/a.js", "tests/lib/rules/a.js", "docs/src/rules/a.md"];
        assert_eq!(marked("docs/src/rules/*.md\ntests/fixtures\n", &rels), [true, false, false]);
        let svelte = "documentation/docs/\npackages/svelte/tests/**/*.svelte\npackages/svelte/tests/**/expected*\n";
        let rels = [
            "packages/svelte/tests/runtime/samples/a/main.svelte",
            "packages/svelte/tests/css/samples/a/expected.css",
            "packages/svelte/tests/css/samples/a/_config.js",
            "documentation/docs/intro.md",
        ];
        assert_eq!(marked(svelte, &rels), [true, true, false, false]);
    }

    #[test]
    fn nothing_is_marked_without_a_usable_file() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let mut files = vec![Walked { abs: root.join("test/a.js"), ..Walked::default() }];
        mark(root, (root, &[]), &mut files, &mut Vec::new(), None);
        assert!(!files[0].marks.kept_from_formatter, "no file");
        assert_eq!(marked("# only a comment\n\n", &["test/a.js"]), [false]);
        assert_eq!(marked("!test/a.js\n", &["test/a.js"]), [false]);
        // A directory of tests matched as a directory only.
        assert_eq!(marked("test/\n", &["test/a.js", "src/test"]), [true, false]);
        // A file's own pattern over its directory's, and a nearer
        // directory's over a farther one's, whichever way they go.
        let text = "test/\n!test/keep/\n!test/x/a.js\ntest/keep/deep/\n";
        let rels = ["test/x/a.js", "test/x/b.js", "test/keep/c.js", "test/keep/deep/d.js", "test/keep/deep/e/f.js"];
        assert_eq!(marked(text, &rels), [false, true, false, true, true]);
    }
}
