//! Marks a file gets from the files beside it (docs/configuration.md,
//! `large-file` and "Tests' pairs of files"):
//!
//! - Godot's editor writes `NAME.import` beside each asset it imports (a
//!   texture, a sound, a model: `player.png` and `player.png.import`), and
//!   projects commit both. Such an asset is part of the game, large on
//!   purpose, and gets the `imported_asset` mark, which `large-file` heeds.
//! - A test's pair of files: an expected output named `STEM.out`,
//!   `STEM.ok`, `STEM.ref`, `STEM.err`, `STEM.exp` (`STEM.out.exp`,
//!   `STEM.err.exp`) or `STEM.check` (Scala partest's, effekt's) beside a
//!   file named `STEM` or `STEM.EXT` (Verilator's
//!   `t_x_bad.out` beside `t_x_bad.v`, ocamlformat's `x.ml.ref` beside
//!   `x.ml.err`, MicroPython's `x.py.exp` beside `x.py`), an input named
//!   `STEM.in` beside its expected output (Vim's indent tests' `python.in`
//!   and `python.ok`), and, below a directory of tests, an output in text:
//!   `NAME.EXT.txt` beside `NAME.EXT`, or a run of five or more `STEM.txt`
//!   beside `STEM.EXT` of one `EXT` in a directory (binaryen's
//!   `test/passes/`). Each gets the `test_pair` mark, which the layout,
//!   encoding and shebang checks heed. Alone, such a name says little
//!   (`Makefile.in` is autoconf's, a `.ref` may be anything); beside its
//!   pair it says what a test suite's runner says of it.
//!
//! A mark asks only that both files are walked: the sibling is in the
//! file's directory, so writing, creating or deleting it is an event of
//! that directory, which the next check walks again with the file. A check
//! of directories costs one search for a dot per path, and a look-up per
//! path where some file has one of the names (for text outputs, where a
//! `.txt` is below a directory of tests).

use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use verdict_actors::builtin::TestPair;

use super::{Sources, Walked};

/// The suffix of Godot's sidecar.
const SIDECAR: &[u8] = b".import";

/// What a sibling says of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Found {
    /// Godot's sidecar is beside it.
    Asset,
    /// It is one of a test's pair of files.
    Pair(TestPair),
    /// It is a text file beside the file it is the output of
    /// ([`TEXT_OUTPUT`]): a test's expected output if it is below a
    /// directory of tests.
    TextOutput,
}

/// The suffix of an expected output in text beside its input
/// (binaryen's `test/passes/NAME.txt` beside `NAME.wast`, its
/// `test/binaryen.js/NAME.js.txt` beside `NAME.js`).
const TEXT_OUTPUT: &[u8] = b".txt";

/// How many `STEM.txt` beside `STEM.EXT` (the same `EXT`) a directory must
/// hold for each to be a test's pair: one may be notes beside a source
/// (glib's `live-g-file.txt` beside `live-g-file.c`), a run of them is a
/// suite's outputs.
const TEXT_PAIRS_FROM: usize = 5;

/// What kind of name a path's file name has, by its last extension.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Named {
    /// `NAME.import`.
    Sidecar,
    /// `STEM.out`, `.ok`, `.ref`, `.err`, `.exp` (and `.out.exp`,
    /// `.err.exp`), `.check`: an expected output beside a file of the same stem, and
    /// what makes `STEM.in` an input.
    Output,
    /// `STEM.expected`, `.golden`, `.stdout`, `.stderr`, `.output`,
    /// `.result`: an expected output by its name alone (the built-ins'
    /// default exclusions name them), which makes `STEM.in` an input.
    Expected,
    /// `STEM.in`.
    Input,
}

/// The suffixes of an expected output named so only beside its pair
/// ([`Named::Output`]).
const OUTPUTS: [&[u8]; 6] = [b".ok", b".out", b".ref", b".err", b".exp", b".check"];

/// The suffixes of an expected output by its name alone
/// ([`Named::Expected`]).
const NAMED_EXPECTED: [&[u8]; 6] = [b".expected", b".golden", b".stdout", b".stderr", b".output", b".result"];

/// The expected outputs' suffixes that make `STEM.in` an input: both.
fn expected_suffixes() -> impl Iterator<Item = &'static [u8]> {
    OUTPUTS.into_iter().chain(NAMED_EXPECTED)
}

/// The name's kind, and where its last extension starts in `path`; a
/// name that is its extension alone (`.out`, `.import`) has none.
fn named(path: &[u8]) -> Option<(Named, usize)> {
    let start = memchr::memrchr(b'/', path).map_or(0, |i| i + 1);
    let dot = start + memchr::memrchr(b'.', &path[start..]).filter(|&d| d > 0)?;
    let ext = &path[dot..];
    let kind = match ext {
        b".import" => Named::Sidecar,
        b".in" => Named::Input,
        _ if OUTPUTS.contains(&ext) => Named::Output,
        _ if NAMED_EXPECTED.contains(&ext) => Named::Expected,
        _ => return None,
    };
    // `STEM.out.exp`, `STEM.err.exp`: the expected output of a stream of
    // `STEM`'s run (nix's language tests beside `STEM.nix`).
    if ext == b".exp"
        && let Some(stream) = [&b".out"[..], b".err"].into_iter().find(|s| path[start..dot].ends_with(s))
        && dot - stream.len() > start
    {
        return Some((kind, dot - stream.len()));
    }
    Some((kind, dot))
}

/// `path` without its last extension, if its name has one after some
/// other character (`x/a.v`: `x/a`; `x/.v`: none).
fn less_extension(path: &[u8]) -> Option<&[u8]> {
    let start = memchr::memrchr(b'/', path).map_or(0, |i| i + 1);
    memchr::memrchr(b'.', &path[start..]).filter(|&d| d > 0).map(|d| &path[..start + d])
}

/// What the files at `paths` (absolute, of one directory or many) say of
/// each other: each file a sibling marks, with the mark and the sibling,
/// by their indices in `paths`.
fn among(paths: &[&[u8]]) -> Vec<(usize, Found, usize)> {
    // The asset each sidecar names, the stems of expected outputs named
    // so only beside their pair, every expected output by its path, and
    // the inputs' stems.
    let mut assets: HashMap<&[u8], usize> = HashMap::new();
    let mut outputs: HashMap<&[u8], Vec<usize>> = HashMap::new();
    let mut expected: HashMap<&[u8], usize> = HashMap::new();
    let mut inputs: Vec<(usize, &[u8])> = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let Some((kind, dot)) = named(path) else { continue };
        let stem = &path[..dot];
        match kind {
            Named::Sidecar => {
                assets.insert(stem, i);
            }
            Named::Output => {
                outputs.entry(stem).or_default().push(i);
                expected.insert(path, i);
            }
            Named::Expected => {
                expected.insert(path, i);
            }
            Named::Input => inputs.push((i, stem)),
        }
    }
    let mut found = Vec::new();
    let mut paired = HashSet::new();
    if !assets.is_empty() || !outputs.is_empty() {
        for (i, path) in paths.iter().enumerate() {
            if let Some(&sidecar) = assets.get(path) {
                found.push((i, Found::Asset, sidecar));
            }
            if outputs.is_empty() {
                continue;
            }
            // A sibling named `STEM` or `STEM.EXT` pairs each `STEM.out`
            // but itself.
            for stem in [Some(*path), less_extension(path)].into_iter().flatten() {
                for &output in outputs.get(stem).into_iter().flatten() {
                    if output != i && paired.insert(output) {
                        found.push((output, Found::Pair(TestPair::ExpectedOutput), i));
                    }
                }
            }
        }
    }
    text_outputs(paths, &mut found);
    let mut key = Vec::new();
    for (i, stem) in inputs {
        let output = expected_suffixes().find_map(|suffix| {
            key.clear();
            key.extend_from_slice(stem);
            key.extend_from_slice(suffix);
            expected.get(key.as_slice()).copied()
        });
        if let Some(output) = output {
            found.push((i, Found::Pair(TestPair::Input), output));
            // Its expected output, named so (`STEM.expected`,
            // `STEM.stdout`) or beside it alone (`STEM.out`: marked above
            // already), is the other of the pair: `utf8` spares it too.
            if paired.insert(output) {
                found.push((output, Found::Pair(TestPair::ExpectedOutput), i));
            }
        }
    }
    found
}

/// Text files beside what they are the output of, below a directory of
/// tests (by the path; the caller asks again of the path from the
/// project's root): `NAME.EXT.txt` beside `NAME.EXT`, and `STEM.txt`
/// beside `STEM.EXT` where a directory holds [`TEXT_PAIRS_FROM`] such
/// pairs of one `EXT` or more.
fn text_outputs(paths: &[&[u8]], found: &mut Vec<(usize, Found, usize)>) {
    // The text files below a directory of tests, by their path less `.txt`.
    let texts: HashMap<&[u8], usize> = (paths.iter().enumerate())
        .filter_map(|(i, path)| {
            let stem = path.strip_suffix(TEXT_OUTPUT)?;
            let named = stem.last().is_some_and(|&b| b != b'/');
            (named && verdict_actors::builtin::in_test_dir(path)).then_some((stem, i))
        })
        .collect();
    if texts.is_empty() {
        return;
    }
    // `STEM.txt` and `STEM.EXT` (their indices), by directory and `EXT`.
    type Run = Vec<(usize, usize)>;
    let mut runs: HashMap<(&[u8], &[u8]), Run> = HashMap::new();
    for (i, path) in paths.iter().enumerate() {
        // `NAME.EXT.txt` beside `NAME.EXT` (not beside a bare `NAME`: a
        // `README` and `README.txt`).
        if let Some(&text) = texts.get(path)
            && less_extension(path).is_some()
        {
            found.push((text, Found::TextOutput, i));
        }
        if path.ends_with(TEXT_OUTPUT) {
            continue;
        }
        if let Some(stem) = less_extension(path)
            && let Some(&text) = texts.get(stem)
        {
            let dir = &path[..memchr::memrchr(b'/', path).unwrap_or(0)];
            runs.entry((dir, &path[stem.len()..])).or_default().push((text, i));
        }
    }
    for pairs in runs.into_values().filter(|pairs| pairs.len() >= TEXT_PAIRS_FROM) {
        found.extend(pairs.into_iter().map(|(text, i)| (text, Found::TextOutput, i)));
    }
}

/// The names of a directory's entries (a plain `read_dir`, whatever the
/// ignore files say), and each name without its last extension, counted:
/// whether a file named as one of a pair has its partner on disk, before
/// the directory is walked to see whether the walk lists it.
struct DirNames {
    names: HashSet<Vec<u8>>,
    stems: HashMap<Vec<u8>, usize>,
}

impl DirNames {
    fn read(dir: &Path) -> DirNames {
        let mut names = HashSet::new();
        let mut stems: HashMap<Vec<u8>, usize> = HashMap::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = entry.file_name().as_bytes().to_vec();
            if let Some(stem) = less_extension(&name) {
                *stems.entry(stem.to_vec()).or_default() += 1;
            }
            names.insert(name);
        }
        DirNames { names, stems }
    }

    /// Whether the partner of the file at `path` (named as one of a pair)
    /// is among the names: for `STEM.out`, another file `STEM` or
    /// `STEM.EXT`; for `STEM.in`, an expected output of `STEM`; for
    /// `STEM.txt`, a file `STEM` or `STEM.EXT` (whether it makes a pair,
    /// a listing of the directory says).
    fn has_pair(&self, path: &[u8]) -> bool {
        let name = &path[memchr::memrchr(b'/', path).map_or(0, |i| i + 1)..];
        match named(name) {
            Some((Named::Output, dot)) => {
                let stem = &name[..dot];
                // Its own name counts once among the stems (not
                // `STEM.out.exp`'s, whose stem is `STEM.out`).
                let own = usize::from(less_extension(name) == Some(stem));
                self.names.contains(stem) || self.stems.get(stem).is_some_and(|&n| n > own)
            }
            Some((Named::Input, dot)) => {
                let stem = &name[..dot];
                expected_suffixes().any(|suffix| self.names.contains(&[stem, suffix].concat()))
            }
            // A text output: `NAME.EXT` beside `NAME.EXT.txt`, or some
            // `STEM.EXT` beside `STEM.txt` (whether the directory holds
            // enough such pairs, its listing says).
            _ => name
                .strip_suffix(TEXT_OUTPUT)
                .is_some_and(|stem| self.names.contains(stem) || self.stems.get(stem).is_some_and(|&n| n > 1)),
        }
    }
}

/// Gives each of `files` that a sibling the walk lists marks its mark
/// (`imported_asset`, `test_pair`); with `sources`, says so there. A file
/// whose directory was walked whole has its siblings among `files` if
/// anywhere. `alone` is `None` when every file's directory was (a check of
/// directories), and otherwise says whether a file's directory was not (a
/// file named on the command line, `explain`'s files): then the files of
/// its directory are asked of `walked`, which lists what a walk of the
/// directory finds there, once a directory, if a sibling that could mark
/// the file is on disk: its sidecar (a `stat`), or its pair (by the names
/// of its directory, read once a directory, for a file named as one of a
/// pair).
pub(super) fn mark(
    files: &mut [Walked],
    alone: Option<&dyn Fn(&Path) -> bool>,
    walked: impl Fn(&Path) -> Vec<PathBuf>,
    sources: Option<&Sources>,
) {
    let mut found: Vec<(usize, Found, Vec<u8>)> = {
        let paths: Vec<&[u8]> = files.iter().map(|w| w.abs.as_os_str().as_bytes()).collect();
        among(&paths).into_iter().map(|(i, what, by)| (i, what, paths[by].to_vec())).collect()
    };
    if let Some(alone) = alone {
        // By directory: the files named alone there that a sibling on
        // disk could mark, and the names there (for those named as one of
        // a pair).
        let mut asked: HashMap<&Path, Vec<usize>> = HashMap::new();
        let mut on_disk: HashMap<&Path, DirNames> = HashMap::new();
        for (i, w) in files.iter().enumerate() {
            let Some(dir) = w.abs.parent().filter(|dir| alone(dir)) else { continue };
            let abs = w.abs.as_os_str().as_bytes();
            let could = match named(abs) {
                Some((Named::Output | Named::Input, _)) => {
                    on_disk.entry(dir).or_insert_with(|| DirNames::read(dir)).has_pair(abs)
                }
                None if abs.ends_with(TEXT_OUTPUT) && verdict_actors::builtin::in_test_dir(abs) => {
                    on_disk.entry(dir).or_insert_with(|| DirNames::read(dir)).has_pair(abs)
                }
                _ => false,
            } || {
                let sidecar = PathBuf::from(std::ffi::OsStr::from_bytes(&[abs, SIDECAR].concat()));
                std::fs::symlink_metadata(&sidecar).is_ok_and(|m| m.is_file())
            };
            if could {
                asked.entry(dir).or_default().push(i);
            }
        }
        for (dir, asking) in asked {
            let listed = walked(dir);
            let mut paths: Vec<&[u8]> = listed.iter().map(|p| p.as_os_str().as_bytes()).collect();
            let mut index: HashMap<&[u8], usize> = paths.iter().enumerate().map(|(k, p)| (*p, k)).collect();
            // Each file asking, by where it is in `paths` (itself if the
            // walk leaves it out: a file named alone may be one an ignore
            // file names).
            let mut at: HashMap<usize, usize> = HashMap::with_capacity(asking.len());
            for &i in &asking {
                let abs = files[i].abs.as_os_str().as_bytes();
                let k = *index.entry(abs).or_insert_with(|| {
                    paths.push(abs);
                    paths.len() - 1
                });
                at.insert(k, i);
            }
            for (k, what, by) in among(&paths) {
                if let Some(&i) = at.get(&k) {
                    found.push((i, what, paths[by].to_vec()));
                }
            }
        }
    }
    let mut said = HashSet::new();
    for (i, what, by) in found {
        if !said.insert((i, what)) {
            continue;
        }
        let w = &mut files[i];
        match what {
            Found::Asset => w.marks.imported_asset = true,
            Found::Pair(pair) => w.marks.test_pair = Some(pair),
            // Below a directory of tests from the project's root.
            Found::TextOutput if verdict_actors::builtin::in_test_dir(w.name_bytes()) => {
                w.marks.test_pair = Some(TestPair::ExpectedOutput);
            }
            Found::TextOutput => continue,
        }
        if let Some(sources) = sources {
            let name = |p: &[u8]| {
                let start = memchr::memrchr(b'/', p).map_or(0, |i| i + 1);
                String::from_utf8_lossy(&p[start..]).into_owned()
            };
            let said = match what {
                Found::Asset => format!("{}: Godot's editor imported it", name(&by)),
                Found::Pair(TestPair::Input) => format!("{}: the test's expected output for it", name(&by)),
                Found::Pair(TestPair::ExpectedOutput) => format!("{}: of the same test", name(&by)),
                Found::TextOutput => format!("{}: the test's input, this its output in text", name(&by)),
            };
            sources.lock().expect("sources").entry(w.abs.clone()).or_default().push(said);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn marked(files: &[Walked], rels: &[&str]) -> Vec<(String, Option<TestPair>, bool)> {
        rels.iter()
            .zip(files)
            .filter(|(_, w)| w.marks.imported_asset || w.marks.test_pair.is_some())
            .map(|(r, w)| ((*r).to_owned(), w.marks.test_pair, w.marks.imported_asset))
            .collect()
    }

    fn walked(root: &Path, rels: &[&str]) -> Vec<Walked> {
        rels.iter().map(|r| Walked { rel: (*r).to_owned(), abs: root.join(r), ..Walked::default() }).collect()
    }

    #[test]
    fn an_asset_beside_its_import_file_is_marked() {
        let root = Path::new("/p");
        let rels = [
            "player/goblin.png",
            "player/goblin.png.import",
            "music/theme.ogg",
            "other/theme.ogg.import",
            "icon.svg",
            "icon.svg.import",
            ".import",
            "lone.import",
            "x/.import",
        ];
        let mut files = walked(root, &rels);
        mark(&mut files, None, |_| unreachable!("all walked whole"), None);
        let marked: Vec<&str> =
            rels.iter().zip(&files).filter(|(_, w)| w.marks.imported_asset).map(|(r, _)| *r).collect();
        assert_eq!(marked, ["player/goblin.png", "icon.svg"]);
    }

    #[test]
    fn a_file_walked_alone_has_its_sidecar_looked_for_once_a_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for rel in ["a.png", "a.png.import", "b.png", "c.png", "c.png.import", "d.png"] {
            std::fs::write(root.join(rel), "x").unwrap();
        }
        // d.png's sidecar is a directory.
        std::fs::create_dir(root.join("d.png.import")).unwrap();
        let mut files = walked(root, &["a.png", "b.png", "c.png", "d.png"]);
        // The walk lists a.png.import, not c.png.import (ignored).
        let asked = std::cell::Cell::new(0);
        let walked = |dir: &Path| {
            asked.set(asked.get() + 1);
            vec![dir.join("a.png"), dir.join("a.png.import"), dir.join("b.png")]
        };
        mark(&mut files, Some(&|_| true), walked, None);
        let marked: Vec<bool> = files.iter().map(|w| w.marks.imported_asset).collect();
        assert_eq!(marked, [true, false, false, false]);
        assert_eq!(asked.get(), 1, "one listing of the directory");
    }

    #[test]
    fn a_tests_input_and_expected_output_are_marked_as_a_pair() {
        use TestPair::{ExpectedOutput as Out, Input as In};
        let root = Path::new("/p");
        let rels = [
            // Vim's indent tests: both of the pair.
            "indent/python.in",
            "indent/python.ok",
            // Verilator: the output beside its source and its driver.
            "t/t_bad.v",
            "t/t_bad.py",
            "t/t_bad.out",
            // ocamlformat: two outputs beside each other, no input there.
            "refs/x.ml.ref",
            "refs/x.ml.err",
            // A file named as the stem alone.
            "cases/tool",
            "cases/tool.out",
            // An input whose output is named so anywhere.
            "markup/case.in",
            "markup/case.expected",
            // Alone, the names say nothing.
            "build/Makefile.in",
            "build/config.h.in",
            "docs/api.ref",
            "logs/run.out",
            "lone/t.out",
            "other/t.v",
            // A name that is its extension alone.
            "dots/.out",
            "dots/x",
            // The same stem in another directory.
            "a/same.in",
            "b/same.ok",
            // MicroPython's and nix's expected outputs; an EXPRESS schema
            // and a stream's output alone.
            "basics/int.py",
            "basics/int.py.exp",
            "lang/eval-fail-x.nix",
            "lang/eval-fail-x.err.exp",
            "lang/parse-okay.out.exp",
            "schemas/ap203.exp",
            // Scala partest's and effekt's `.check` beside its test; one
            // alone.
            "run/strings.effekt",
            "run/strings.check",
            "tools/lint.check",
        ];
        let mut files = walked(root, &rels);
        mark(&mut files, None, |_| unreachable!("all walked whole"), None);
        let want = [
            ("indent/python.in", In),
            ("indent/python.ok", Out),
            ("t/t_bad.out", Out),
            ("refs/x.ml.ref", Out),
            ("refs/x.ml.err", Out),
            ("cases/tool.out", Out),
            ("markup/case.in", In),
            ("markup/case.expected", Out),
            ("basics/int.py.exp", Out),
            ("lang/eval-fail-x.err.exp", Out),
            ("run/strings.check", Out),
        ];
        let want: Vec<_> = want.iter().map(|(r, p)| ((*r).to_owned(), Some(*p), false)).collect();
        assert_eq!(marked(&files, &rels), want);
    }

    /// Text outputs below a directory of tests: `NAME.EXT.txt` beside
    /// `NAME.EXT`, and a run of `STEM.txt` beside `STEM.EXT`; one such pair
    /// in a directory, or a run outside tests, says nothing.
    #[test]
    fn a_run_of_text_outputs_beside_their_inputs_are_a_test_s_pairs() {
        let root = Path::new("/p");
        let mut rels = vec!["test/binaryen.js/kitchen.js", "test/binaryen.js/kitchen.js.txt"];
        let passes: Vec<String> =
            (0..5).flat_map(|i| [format!("test/passes/p{i}.wast"), format!("test/passes/p{i}.txt")]).collect();
        rels.extend(passes.iter().map(String::as_str));
        let docs: Vec<String> =
            (0..5).flat_map(|i| [format!("docs/img/f{i}.png"), format!("docs/img/f{i}.txt")]).collect();
        rels.extend(docs.iter().map(String::as_str));
        rels.extend([
            // glib's notes beside one test.
            "gio/tests/live-g-file.c",
            "gio/tests/live-g-file.txt",
            // Four of one extension, one of another: no run.
            "test/few/a.c",
            "test/few/a.txt",
            "test/few/b.c",
            "test/few/b.txt",
            "test/few/c.c",
            "test/few/c.txt",
            "test/few/d.c",
            "test/few/d.txt",
            "test/few/e.h",
            "test/few/e.txt",
            // A bare name beside its `.txt`.
            "test/README",
            "test/README.txt",
        ]);
        let mut files = walked(root, &rels);
        mark(&mut files, None, |_| unreachable!("all walked whole"), None);
        let mut want = vec!["test/binaryen.js/kitchen.js.txt".to_owned()];
        want.extend((0..5).map(|i| format!("test/passes/p{i}.txt")));
        let want: Vec<_> = want.into_iter().map(|r| (r, Some(TestPair::ExpectedOutput), false)).collect();
        assert_eq!(marked(&files, &rels), want);
    }

    /// A stream's expected output (`STEM.err.exp`) has its pair on disk
    /// when `STEM.EXT` is there, though its own name's stem is another.
    #[test]
    fn a_streams_expected_output_has_its_pair_beside_it_on_disk() {
        let tmp = tempfile::tempdir().unwrap();
        for name in ["x.nix", "x.err.exp", "z.out.exp", "z.err.exp"] {
            std::fs::write(tmp.path().join(name), "x").unwrap();
        }
        let names = DirNames::read(tmp.path());
        assert!(names.has_pair(b"x.err.exp"));
        assert!(!names.has_pair(b"z.out.exp"), "no `z` or `z.EXT` beside it: only another stream's output");
    }

    #[test]
    fn a_pair_named_alone_is_looked_for_in_a_listing_of_its_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let rels = ["t/x.out", "t/y.out", "t/z.in", "t/plain.v", "u/w.ok", "v/a.in", "v/a.ok"];
        for rel in rels.iter().chain(&["t/x.v", "t/z.ok"]) {
            std::fs::create_dir_all(root.join(rel).parent().unwrap()).unwrap();
            std::fs::write(root.join(rel), "x").unwrap();
        }
        // v/a.in is named alone, its pair on disk; v/a.ok is not named.
        let rels = &rels[..6];
        let mut files = walked(root, rels);
        let asked = std::cell::RefCell::new(Vec::new());
        // `t/` holds x.out's input; z.in's output is there but ignored, so
        // not listed; `u/` holds nothing else, and is not listed: no pair
        // is on disk there.
        let walked = |dir: &Path| {
            asked.borrow_mut().push(dir.to_path_buf());
            if dir.ends_with("t") {
                vec![dir.join("x.v"), dir.join("x.out"), dir.join("y.out"), dir.join("plain.v")]
            } else {
                vec![dir.join("a.in"), dir.join("a.ok")]
            }
        };
        mark(&mut files, Some(&|_| true), walked, None);
        let marked = marked(&files, rels);
        let want = [
            ("t/x.out".to_owned(), Some(TestPair::ExpectedOutput), false),
            ("v/a.in".to_owned(), Some(TestPair::Input), false),
        ];
        assert_eq!(marked, want);
        // plain.v's name is not one a sibling marks, and no sidecar is on
        // disk: its directory is listed for the others, once; `u/` not at
        // all.
        let mut asked = asked.into_inner();
        asked.sort();
        assert_eq!(asked, [root.join("t"), root.join("v")]);
    }

    /// A text output named alone has its directory listed, and is marked
    /// as it is walked whole; one of too short a run is not.
    #[test]
    fn a_text_output_named_alone_is_judged_by_its_directory_s_listing() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for i in 0..5 {
            for rel in [format!("test/passes/p{i}.wast"), format!("test/passes/p{i}.txt")] {
                std::fs::create_dir_all(root.join(&rel).parent().unwrap()).unwrap();
                std::fs::write(root.join(rel), "x").unwrap();
            }
        }
        let listing = |dir: &Path| -> Vec<PathBuf> {
            let mut names: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
            names.sort();
            names
        };
        let rels = ["test/passes/p0.txt"];
        let mut files = walked(root, &rels);
        mark(&mut files, Some(&|_| true), listing, None);
        assert_eq!(files[0].marks.test_pair, Some(TestPair::ExpectedOutput));
        std::fs::remove_file(root.join("test/passes/p4.wast")).unwrap();
        let mut files = walked(root, &rels);
        mark(&mut files, Some(&|_| true), listing, None);
        assert_eq!(files[0].marks.test_pair, None, "four pairs are no run");
    }

    #[test]
    fn explain_says_which_sibling_marked_a_file() {
        let root = Path::new("/p");
        let rels = ["indent/python.in", "indent/python.ok", "icon.svg", "icon.svg.import"];
        let mut files = walked(root, &rels);
        let sources = Sources::default();
        mark(&mut files, None, |_| unreachable!("all walked whole"), Some(&sources));
        let sources = sources.into_inner().unwrap();
        let said = |rel: &str| sources.get(&root.join(rel)).cloned().unwrap_or_default();
        assert_eq!(said("indent/python.in"), ["python.ok: the test's expected output for it"]);
        assert_eq!(said("indent/python.ok"), ["python.in: of the same test"]);
        assert_eq!(said("icon.svg"), ["icon.svg.import: Godot's editor imported it"]);
        assert!(said("icon.svg.import").is_empty());
    }
}
