//! Directories that say they hold someone else's code
//! (docs/configuration.md, "Vendored packages"), in two ways:
//!
//! - Their README says so: klipper's `lib/README` begins "This directory
//!   contains external library code.", micropython's "This directory
//!   contains third-party, low-level C libraries and SDKs."; or says they
//!   are the project's archive, no longer maintained (OpenAPI's
//!   `_archive_/README.md`, "This folder contains files that are no longer
//!   actively maintained."), kept as it was. The README is
//!   one of [`NAMES`], in the directory itself, and says so first, after a
//!   heading at most ([`SAYS`]): a README that mentions vendored code
//!   further down describes the project's own code.
//! - They are named as a release, a name and its version
//!   ([`release_name`]: sonic-pi's `app/external/spdlog-1.8.2/`,
//!   `vendor/concurrent-ruby-1.2.2/`), and hold a licence file of their own
//!   ([`is_licence`]): a release's archive unpacked whole. A project's own
//!   directories named with a version (`versioned_docs/version-0.18/`)
//!   hold no licence.
//! - They are a Hex package as rebar3 or mix unpacked it, with the
//!   `hex_metadata.config` they write beside its sources (rebar3's own
//!   `vendor/*/`).
//!
//! Every file below such a directory gets the `vendored` mark, as
//! `linguist-vendored` gives it, but the README that says so: that one is
//! the project's, describing what it keeps (a release's README is
//! upstream's, and gets it). Not the project's root: a project
//! does not vendor itself.
//!
//! A check of directories finds their READMEs and licences among the
//! walked files; the directories above its targets, and those of files
//! named alone (and every one `explain` asks about), are looked in. The
//! READMEs read are stamped with the ignore files, and a change to one, or
//! to a licence file, is a change of a rules file ([`crate::watch`]), so
//! the next check walks the tree again.

use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use super::{Listings, ReadStamp, Sources, Walked};

/// The READMEs looked at, in the order a directory's are tried.
pub(crate) const NAMES: [&str; 4] = ["README", "README.md", "README.txt", "README.rst"];

/// How much of a README is read: its first sentence is what counts.
const LOOK: usize = 512;

/// What a README says first of a directory of someone else's code: "This
/// directory (or folder) contains vendored, external or third-party …",
/// after a heading at most (Markdown's `# …`, or a line underlined with
/// `=` or `-`); or, in its first sentence, of an archive of the project's
/// own that is kept as it was (`archived`): "This folder contains files
/// that are no longer actively maintained." (OpenAPI's `_archive_/`),
/// "This directory contains historical code that … is **no longer
/// maintained or supported**." (statsmodels' `archive/`).
static SAYS: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
    regex::bytes::Regex::new(
        r"(?i)\A(?:\xEF\xBB\xBF)?\s*(?:#[^\n]*\n\s*|[^\n]*\n[=-]{3,}[ \t]*\r?\n\s*)?(?P<says>this (?:directory|folder) contains (?:(?:vendored|external|third[- ]party)\b|[^.]{0,200}?\b(?P<archived>no longer (?:actively )?maintained|not maintained any ?more)\b))",
    )
    .expect("the pattern compiles")
});

/// Whether `name` is one of [`NAMES`]: a change to it can change the marks
/// of the files below its directory.
pub(crate) fn is_readme(name: &[u8]) -> bool {
    NAMES.iter().any(|n| name == n.as_bytes())
}

/// The licence files a release's directory may hold, as projects name
/// them (Boost's `LICENSE_1_0.txt`, Rust crates' `LICENSE-MIT`).
pub(crate) const LICENCES: [&str; 16] = [
    "LICENSE",
    "LICENSE.txt",
    "LICENSE.md",
    "LICENSE.rst",
    "LICENSE-MIT",
    "LICENSE-APACHE",
    "LICENSE_1_0.txt",
    "License.txt",
    "license.txt",
    "LICENCE",
    "LICENCE.txt",
    "LICENCE.md",
    "COPYING",
    "COPYING.txt",
    "COPYING.LIB",
    "COPYRIGHT",
];

/// Whether `name` is one of [`LICENCES`], or [`HEX_METADATA`]: a change
/// to it can change the marks of the files below its directory.
pub(crate) fn is_licence(name: &[u8]) -> bool {
    name == HEX_METADATA.as_bytes() || LICENCES.iter().any(|n| name == n.as_bytes())
}

/// What rebar3 and mix write beside a Hex package's sources when they
/// unpack it: the package's name, version and licences, as Hex has them.
const HEX_METADATA: &str = "hex_metadata.config";

/// Whether a directory's `name` is a release's: a name beginning with a
/// letter, then `-` or `_` and a version of two to four numbers, with a `v`
/// before it at most (`spdlog-1.8.2`, `QScintilla_src-2.14.1`,
/// `scsynth-boost-1.74.0`, `lua-v5.4`), and the release's flavours after it
/// at most (`fontawesome-free-6.5.2-web`).
pub(crate) fn release_name(name: &[u8]) -> bool {
    // A release's flavour after its version, as its archive names it
    // (Font Awesome's `fontawesome-free-6.5.2-web`): words of letters and
    // digits, each after a `-`, beginning with a letter.
    let mut name = name;
    while let Some(at) = name.iter().rposition(|&b| b == b'-')
        && name[at + 1..].first().is_some_and(u8::is_ascii_alphabetic)
        && name[at + 1..].iter().all(u8::is_ascii_alphanumeric)
    {
        name = &name[..at];
    }
    let Some(at) = name.iter().rposition(|&b| b == b'-' || b == b'_') else { return false };
    let (stem, version) = (&name[..at], &name[at + 1..]);
    let version = version.strip_prefix(b"v").unwrap_or(version);
    let parts = version.split(|&b| b == b'.');
    stem.first().is_some_and(u8::is_ascii_alphabetic)
        && (2..=4).contains(&parts.clone().count())
        && parts.into_iter().all(|p| !p.is_empty() && p.len() <= 8 && p.iter().all(u8::is_ascii_digit))
}

/// Whether the file `name` in `dir` makes `dir` someone else's code: a
/// licence in a directory named as a release ([`release_name`]), or a Hex
/// package's metadata in any.
fn vendoring(dir: &Path, name: &[u8]) -> bool {
    name == HEX_METADATA.as_bytes()
        || (LICENCES.iter().any(|n| name == n.as_bytes())
            && dir.file_name().is_some_and(|n| release_name(n.as_bytes())))
}

/// Gives each of `files` below a directory whose README says it holds
/// someone else's code (in the project at `root`) the `vendored` mark.
/// `whole` says whether a directory was walked whole (its README, if any,
/// is among `files`; `None`: every file's was); the others a file is in,
/// and those above `targets`, are looked in (listed once, in `listings`).
/// The READMEs read go to `read`, and with `sources` what set the mark is
/// said there.
pub(super) fn mark(
    root: &Path,
    files: &mut [Walked],
    targets: &[PathBuf],
    whole: Option<&dyn Fn(&Path) -> bool>,
    (read, listings): (&mut Vec<(PathBuf, ReadStamp)>, &mut Listings),
    sources: Option<&Sources>,
) {
    // The READMEs to read: those walked in a directory walked whole, and
    // the first of each directory looked in (up to the root, which is not
    // one).
    // And the licence files of directories named as releases.
    let mut readmes: Vec<PathBuf> = Vec::new();
    let mut licences: Vec<PathBuf> = Vec::new();
    let mut looked: HashSet<PathBuf> = HashSet::new();
    let mut look_in = |dir: &Path, readmes: &mut Vec<PathBuf>, licences: &mut Vec<PathBuf>| {
        let mut up = Some(dir);
        while let Some(d) = up.filter(|d| *d != root && d.starts_with(root)) {
            if !looked.insert(d.to_path_buf()) {
                break;
            }
            let names = listings.files(d);
            readmes.extend(NAMES.iter().find(|n| names.contains(n.as_bytes())).map(|n| d.join(n)));
            let vendoring = LICENCES.iter().chain([&HEX_METADATA]).find(|n| {
                let n = n.as_bytes();
                names.contains(n) && vendoring(d, n)
            });
            licences.extend(vendoring.map(|n| d.join(n)));
            up = d.parent();
        }
    };
    for above in targets.iter().filter_map(|t| t.parent()) {
        look_in(above, &mut readmes, &mut licences);
    }
    let mut alone: Vec<PathBuf> = Vec::new();
    for w in files.iter() {
        // By the path's bytes: this looks at every walked file.
        let path = w.abs.as_os_str().as_bytes();
        let slash = memchr::memrchr(b'/', path).unwrap_or(0);
        let name = &path[(slash + 1).min(path.len())..];
        let named = path[slash..].starts_with(b"/README") && is_readme(name);
        let licence = !named && is_licence(name);
        if !named && !licence && whole.is_none() {
            continue;
        }
        let Some(dir) = w.abs.parent() else { continue };
        if whole.is_some_and(|whole| !whole(dir)) {
            if alone.last().is_none_or(|d| d != dir) {
                alone.push(dir.to_path_buf());
            }
        } else if named && dir != root {
            readmes.push(w.abs.clone());
        } else if licence && dir != root && vendoring(dir, name) {
            licences.push(w.abs.clone());
        }
    }
    for dir in &alone {
        look_in(dir, &mut readmes, &mut licences);
    }
    // The directories that say so, each with what to say of it (the
    // README's path relative to the root and the line that says so, or the
    // licence's) and whether its README said so.
    let mut vendored: Vec<(PathBuf, String, bool)> = Vec::new();
    for licence in licences {
        let Some(dir) = licence.parent() else { continue };
        if vendored.iter().any(|(d, ..)| d == dir) {
            continue;
        }
        let rel = licence.strip_prefix(root).unwrap_or(&licence).display().to_string();
        let what = match licence.file_name().is_some_and(|n| n == HEX_METADATA) {
            true => "a Hex package as rebar3 or mix unpacked it",
            false => "a release's directory (a name and its version) with its own licence",
        };
        vendored.push((dir.to_path_buf(), format!("{rel}: {what}: someone else's code, kept as it came"), false));
    }
    for readme in readmes {
        let Some(dir) = readme.parent() else { continue };
        if vendored.iter().any(|(d, ..)| d == dir) {
            continue;
        }
        let Some(head) = read_head(&readme, read) else { continue };
        let Some(said) = SAYS.captures(&head) else { continue };
        let says = said.name("says").expect("the pattern names it");
        let what = match said.name("archived") {
            Some(_) => "the project's archive, no longer maintained, kept as it was",
            None => "someone else's code, kept as it came",
        };
        // The line the sentence begins on.
        let start = memchr::memrchr(b'\n', &head[..says.start()]).map_or(0, |i| i + 1);
        let line = &head[start..];
        let line = String::from_utf8_lossy(&line[..memchr::memchr(b'\n', line).unwrap_or(line.len())]);
        let rel = readme.strip_prefix(root).unwrap_or(&readme).display().to_string();
        vendored.push((dir.to_path_buf(), format!("{rel}: \"{}\": {what}", line.trim()), true));
    }
    if vendored.is_empty() {
        return;
    }
    // Each file's nearest such directory above it (not the one whose
    // README it is), found by its directory's ancestors, once a directory:
    // the walk gives a directory's files one after another, and a tree of
    // releases (a copy of cargo's registry) has hundreds of them.
    let by_dir: HashMap<&Path, usize> = vendored.iter().enumerate().map(|(i, (d, ..))| (d.as_path(), i)).collect();
    let nearest = |dir: &Path, readme: bool| {
        // A README's own directory does not mark it if the README is what
        // says so.
        dir.ancestors()
            .take_while(|a| *a != root && a.starts_with(root))
            .enumerate()
            .find_map(|(i, a)| by_dir.get(a).copied().filter(|&v| !(readme && i == 0 && vendored[v].2)))
    };
    let mut last: Option<(PathBuf, Option<usize>)> = None;
    let mut marks: Vec<Option<usize>> = Vec::with_capacity(files.len());
    for w in files.iter() {
        let Some(dir) = w.abs.parent() else {
            marks.push(None);
            continue;
        };
        if w.abs.file_name().is_some_and(|n| is_readme(n.as_bytes())) {
            marks.push(nearest(dir, true));
            continue;
        }
        let of_dir = match &last {
            Some((d, found)) if d == dir => *found,
            _ => {
                let found = nearest(dir, false);
                last = Some((dir.to_path_buf(), found));
                found
            }
        };
        marks.push(of_dir);
    }
    for (w, mark) in files.iter_mut().zip(marks) {
        let Some(i) = mark else { continue };
        w.marks.vendored = true;
        if let Some(sources) = sources {
            sources.lock().expect("sources").entry(w.abs.clone()).or_default().push(vendored[i].1.clone());
        }
    }
}

/// The first [`LOOK`] bytes of the README at `path`, if it is a regular
/// file (not through a link), stamped into `read`.
fn read_head(path: &Path, read: &mut Vec<(PathBuf, ReadStamp)>) -> Option<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    let mut head = Vec::with_capacity(LOOK);
    file.take(LOOK as u64).read_to_end(&mut head).ok()?;
    read.push((path.to_path_buf(), ReadStamp::of(&meta)));
    Some(head)
}

#[cfg(test)]
mod tests {
    use super::super::package_vendor::tests::write;
    use super::*;

    /// How `mark` marks each of `rels` (files under `root`, walked whole
    /// from `target` when it is a directory, else each alone), what it said
    /// of them, and what it read.
    fn marked(root: &Path, rels: &[&str], target: &str, walked_whole: bool) -> (Vec<bool>, Vec<String>, Vec<String>) {
        let mut files: Vec<Walked> = rels.iter().map(|r| Walked { abs: root.join(r), ..Walked::default() }).collect();
        let target = root.join(target);
        let whole = |dir: &Path| walked_whole && dir.starts_with(&target);
        let (mut read, sources) = (Vec::new(), Sources::default());
        // A check of the root alone asks nothing of its directories.
        let whole: Option<&dyn Fn(&Path) -> bool> = match walked_whole && target == root {
            true => None,
            false => Some(&whole),
        };
        let mut listings = Listings::default();
        mark(root, &mut files, std::slice::from_ref(&target), whole, (&mut read, &mut listings), Some(&sources));
        let said = files
            .iter()
            .map(|w| sources.lock().unwrap().get(&w.abs).map(|s| s.join("; ")).unwrap_or_default())
            .collect();
        let read = read.into_iter().map(|(p, _)| p.strip_prefix(root).unwrap().display().to_string()).collect();
        (files.iter().map(|w| w.marks.vendored).collect(), said, read)
    }

    #[test]
    fn a_directory_whose_readme_says_it_holds_someone_elses_code_marks_what_is_below_it() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(root, "lib/README", "This directory contains external library code.\n\nThe stm32f4 directory ...\n");
        write(root, "ext/README.md", "# Third-party\n\nThis folder contains third-party libraries.\n");
        write(root, "src/README.md", "# src\n\nOur code. This directory contains vendored bits further down.\n");
        write(root, "README.md", "This directory contains vendored code: all of it.\n");
        // An archive kept as it was; a sentence that says it of something
        // else, or past the first sentence, is no archive's.
        write(
            root,
            "_archive_/README.md",
            "# Archive\n\nThis folder contains files that are no longer actively maintained.\n",
        );
        write(
            root,
            "archive/README.md",
            "# Legacy\n\nThis directory contains historical code that was part of us but is **no longer maintained\nor supported**.\n",
        );
        write(root, "docs/README.md", "This directory contains our docs. The old tool is no longer maintained.\n");
        let rels = [
            "README.md",
            "ext/README.md",
            "ext/zlib/inflate.c",
            "lib/README",
            "lib/stm32f4/system.c",
            "lib/x.h",
            "src/README.md",
            "src/main.c",
            "_archive_/README.md",
            "_archive_/schemas/v2.0/schema.json",
            "archive/README.md",
            "archive/old.py",
            "docs/README.md",
            "docs/guide.md",
        ];
        let (got, said, read) = marked(root, &rels, "", true);
        assert_eq!(got, [false, false, true, false, true, true, false, false, false, true, false, true, false, false]);
        assert_eq!(
            said[9],
            "_archive_/README.md: \"This folder contains files that are no longer actively maintained.\": the project's archive, no longer maintained, kept as it was"
        );
        assert_eq!(
            said[4],
            "lib/README: \"This directory contains external library code.\": someone else's code, kept as it came"
        );
        assert_eq!(
            said[2],
            "ext/README.md: \"This folder contains third-party libraries.\": someone else's code, kept as it came"
        );
        // The walked READMEs below the root, and no others.
        assert_eq!(
            read,
            [
                "ext/README.md",
                "lib/README",
                "src/README.md",
                "_archive_/README.md",
                "archive/README.md",
                "docs/README.md"
            ]
        );
    }

    #[test]
    fn release_names_are_a_name_and_a_version() {
        for name in [
            "spdlog-1.8.2",
            "QScintilla_src-2.14.1",
            "scsynth-boost-1.74.0",
            "lua-v5.4",
            "zlib-1.3.1.1",
            "fontawesome-free-6.5.2-web",
            "bootstrap-4.5.2-dist",
        ] {
            assert!(release_name(name.as_bytes()), "{name}");
        }
        for name in [
            "spdlog",
            "1.8.2",
            "-1.8",
            "python3",
            "v1.2",
            "x-1",
            "x-1.2.3.4.5",
            "x-1.2rc1",
            "x-1..2",
            "x-1.2-",
            "my-project",
            "x-1.2-web-",
            "x-1.2-2x",
            "x-1.2_web",
        ] {
            assert!(!release_name(name.as_bytes()), "{name}");
        }
    }

    /// A release's directory with its own licence is someone else's code,
    /// found walked whole, above the target, or beside a file named alone;
    /// without a licence, or as the project's root, it is the project's.
    #[test]
    fn a_release_s_directory_with_its_own_licence_marks_what_is_below_it() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("app-1.0");
        write(&root, "external/spdlog-1.8.2/LICENSE", "MIT\n");
        write(&root, "external/spdlog-1.8.2/include/spdlog.h", "x");
        // The release's README is upstream's too (a README that says its
        // directory is vendored is the project's: see above).
        write(&root, "external/spdlog-1.8.2/README.md", "# spdlog\n");
        write(&root, "versioned_docs/version-0.18/intro.md", "x");
        write(&root, "src/LICENSE", "x");
        write(&root, "src/main.c", "x");
        write(&root, "LICENSE", "x");
        let rels = [
            "LICENSE",
            "external/spdlog-1.8.2/LICENSE",
            "external/spdlog-1.8.2/README.md",
            "external/spdlog-1.8.2/include/spdlog.h",
            "src/LICENSE",
            "src/main.c",
            "versioned_docs/version-0.18/intro.md",
        ];
        let (got, said, read) = marked(&root, &rels, "", true);
        assert_eq!(got, [false, true, true, true, false, false, false]);
        assert_eq!(
            said[3],
            "external/spdlog-1.8.2/LICENSE: a release's directory (a name and its version) with its own licence: someone else's code, kept as it came"
        );
        assert!(read.is_empty(), "a licence is known by its name: {read:?}");
        // `verdict check external/spdlog-1.8.2/include`, and `explain` of a
        // file alone: the licence is looked for on disk.
        let header = ["external/spdlog-1.8.2/include/spdlog.h"];
        assert_eq!(marked(&root, &header, "external/spdlog-1.8.2/include", true).0, [true]);
        assert_eq!(marked(&root, &header, "external/spdlog-1.8.2/include/spdlog.h", false).0, [true]);
        std::fs::remove_file(root.join("external/spdlog-1.8.2/LICENSE")).unwrap();
        assert_eq!(marked(&root, &header, "external/spdlog-1.8.2/include", true).0, [false]);
    }

    /// A Hex package rebar3 unpacked (its `vendor/*/`), with the metadata
    /// it writes; without it, or at the root, the project's own.
    #[test]
    fn a_hex_package_with_its_metadata_marks_what_is_below_it() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(root, "vendor/getopt/hex_metadata.config", "{<<\"name\">>,<<\"getopt\">>}.\n");
        write(root, "vendor/getopt/src/getopt.erl", "x");
        write(root, "vendor/own/src/own.erl", "x");
        write(root, "hex_metadata.config", "x");
        write(root, "src/rebar.erl", "x");
        let rels = [
            "hex_metadata.config",
            "src/rebar.erl",
            "vendor/getopt/hex_metadata.config",
            "vendor/getopt/src/getopt.erl",
            "vendor/own/src/own.erl",
        ];
        let (got, said, _) = marked(root, &rels, "", true);
        assert_eq!(got, [false, false, true, true, false]);
        assert_eq!(
            said[3],
            "vendor/getopt/hex_metadata.config: a Hex package as rebar3 or mix unpacked it: someone else's code, kept as it came"
        );
        // Looked for on disk above a target, and beside a file named alone.
        let erl = ["vendor/getopt/src/getopt.erl"];
        assert_eq!(marked(root, &erl, "vendor/getopt/src", true).0, [true]);
        assert_eq!(marked(root, &erl, "vendor/getopt/src/getopt.erl", false).0, [true]);
        assert!(is_licence(b"hex_metadata.config"));
    }

    #[test]
    fn a_readme_above_the_target_or_beside_a_file_named_alone_is_looked_for() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(root, "lib/README", "This directory contains external library code.\n");
        write(root, "lib/a/b.c", "x");
        write(root, "src/c.c", "x");
        // `verdict check lib/a`: lib/README is above the walk.
        let (got, _, read) = marked(root, &["lib/a/b.c"], "lib/a", true);
        assert_eq!((got, read), (vec![true], vec!["lib/README".to_owned()]));
        // `explain lib/a/b.c src/c.c`: each alone.
        let (got, _, read) = marked(root, &["lib/a/b.c", "src/c.c"], "lib/a/b.c", false);
        assert_eq!(got, [true, false]);
        assert_eq!(read, ["lib/README"]);
        // Not through a link.
        std::fs::remove_file(root.join("lib/README")).unwrap();
        write(root, "elsewhere", "This directory contains external library code.\n");
        std::os::unix::fs::symlink(root.join("elsewhere"), root.join("lib/README")).unwrap();
        assert_eq!(marked(root, &["lib/a/b.c"], "lib/a", true).0, [false]);
    }
}
