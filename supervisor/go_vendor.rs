//! Go's vendor directories (docs/configuration.md, "Vendored Go
//! modules"): `go mod vendor` (and `go work vendor`) copies a module's
//! dependencies into `vendor/` beside its `go.mod` (or `go.work`), as
//! their authors wrote them, and lists them in `vendor/modules.txt`;
//! `hugo mod vendor` does the same for a Hugo site's modules, in
//! `_vendor/`. Every file there is someone else's code, and gets the
//! `go_vendored` mark.
//!
//! A directory named `vendor` alone says nothing (PHP's Composer, Ruby's
//! bundler and many projects' own code use the name): the mark needs the
//! `modules.txt` the go command writes, beginning `# ` as its lines of
//! modules do, and the `go.mod` or `go.work` beside the directory.
//!
//! Only the `vendor` directories over walked files are looked at, once
//! each, by the files' paths: a tree without one costs a substring search
//! per path. The files read are stamped with the ignore files, so a change
//! to one makes the next check walk the whole tree again; one created
//! where none was is an event in a watched directory whose name
//! [`crate::watch`] counts as a rules file.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::{ReadStamp, Sources, Walked};

/// The names whose change can change the marks of the files of a `vendor`
/// directory: its `modules.txt`, and the `go.mod` or `go.work` beside it.
pub(crate) const FILE_NAMES: [&str; 3] = ["modules.txt", "go.mod", "go.work"];

/// Gives each of `files` below a Go module's `vendor` directory (in the
/// project at `root`) the `go_vendored` mark. `real_root` and `trusted` are
/// as for [`super::attributes::read_rules`]; the files read go to `read`,
/// and with `sources` what set the mark is said there.
pub(super) fn mark(
    root: &Path,
    (real_root, trusted): (&Path, &[u32]),
    files: &mut [Walked],
    read: &mut Vec<(PathBuf, ReadStamp)>,
    sources: Option<&Sources>,
) {
    // By a `vendor` directory's path relative to the root: whether it is
    // Go's.
    let mut known: HashMap<Vec<u8>, bool> = HashMap::new();
    for w in files.iter_mut() {
        let Some(rel) = super::attributes::below(root, w.abs.as_os_str().as_bytes()) else { continue };
        // Each directory `vendor` or `_vendor` the path goes through,
        // outermost first.
        let whole = |i: usize| i == 0 || rel[i - 1] == b'/';
        let dirs = memchr::memmem::find_iter(rel, b"vendor/")
            .filter(|&i| whole(i) || (rel[i - 1] == b'_' && whole(i - 1)))
            .map(|i| &rel[..i + "vendor".len()]);
        let mut found = None;
        for dir in dirs {
            let go = match known.get(dir) {
                Some(go) => *go,
                None => {
                    let go = is_go_vendor(root, dir, (real_root, trusted), read);
                    known.insert(dir.to_vec(), go);
                    go
                }
            };
            if go {
                found = Some(dir);
                break;
            }
        }
        let Some(dir) = found else { continue };
        w.marks.go_vendored = true;
        if let Some(sources) = sources {
            let dir = String::from_utf8_lossy(dir);
            let said = format!("{dir}/modules.txt: `go mod vendor` copied the modules it lists into {dir}/");
            sources.lock().expect("sources").entry(w.abs.clone()).or_default().push(said);
        }
    }
}

/// Whether the directory `dir` (relative to `root`) is a Go module's
/// `vendor`: it holds a `modules.txt` that begins as the go command writes
/// one, and the directory above it a `go.mod` or `go.work`.
fn is_go_vendor(
    root: &Path,
    dir: &[u8],
    (real_root, trusted): (&Path, &[u32]),
    read: &mut Vec<(PathBuf, ReadStamp)>,
) -> bool {
    let dir = root.join(std::ffi::OsStr::from_bytes(dir));
    let Some(module) = dir.parent() else { return false };
    let beside = ["go.mod", "go.work"].into_iter().find_map(|name| {
        let path = module.join(name);
        let meta = std::fs::metadata(&path).ok().filter(std::fs::Metadata::is_file)?;
        Some((path, ReadStamp::of(&meta)))
    });
    let Some(beside) = beside else { return false };
    let listed = super::attributes::read_rules(&dir.join("modules.txt"), (root, real_root, trusted), false, read);
    if !listed.is_some_and(|bytes| bytes.starts_with(b"# ")) {
        return false;
    }
    read.push(beside);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Which of `rels` (files under `root`) `mark` marks, and what it read.
    fn marked(root: &Path, rels: &[&str]) -> (Vec<bool>, Vec<PathBuf>) {
        let mut files: Vec<Walked> = rels.iter().map(|r| Walked { abs: root.join(r), ..Walked::default() }).collect();
        let mut read = Vec::new();
        mark(root, (root, &[]), &mut files, &mut read, None);
        let read = read.into_iter().map(|(p, _)| p.strip_prefix(root).unwrap().to_path_buf()).collect();
        (files.iter().map(|w| w.marks.go_vendored).collect(), read)
    }

    const MODULES: &str = "# golang.org/x/sys v0.1.0\n## explicit; go 1.17\ngolang.org/x/sys/unix\n";

    #[test]
    fn a_vendor_directory_the_go_command_filled_marks_what_is_below_it() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(root, "go.mod", "module example.com/m\n");
        write(root, "vendor/modules.txt", MODULES);
        let rels = [
            "vendor/golang.org/x/sys/unix/README.md",
            "vendor/modules.txt",
            "main.go",
            "internal/vendor/x.go",
            "vendored/x.go",
            "myvendor/x.go",
        ];
        let (got, read) = marked(root, &rels);
        assert_eq!(got, [true, true, false, false, false, false]);
        // Both stamped, once: a change to either is a change of the marks.
        assert_eq!(read, [PathBuf::from("vendor/modules.txt"), PathBuf::from("go.mod")]);
    }

    #[test]
    fn a_vendor_directory_without_the_go_command_s_signs_is_not_marked() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        // Composer's: no go.mod, a modules.txt of some other kind.
        write(root, "php/vendor/modules.txt", MODULES);
        write(root, "php/vendor/autoload.php", "<?php\n");
        // A go.mod, but no modules.txt: the project's own `vendor` package.
        write(root, "own/go.mod", "module example.com/own\n");
        write(root, "own/vendor/vendor.go", "package vendor\n");
        // A modules.txt that is not the go command's.
        write(root, "odd/go.mod", "module example.com/odd\n");
        write(root, "odd/vendor/modules.txt", "some list of modules\n");
        // `_vendor` only as a whole name.
        write(root, "x/go.mod", "module example.com/x\n");
        write(root, "x/my_vendor/modules.txt", MODULES);
        write(root, "x/my_vendor/a.go", "package a\n");
        // A directory named modules.txt.
        write(root, "dir/go.mod", "module example.com/dir\n");
        std::fs::create_dir_all(root.join("dir/vendor/modules.txt")).unwrap();
        write(root, "dir/vendor/x.go", "package x\n");
        let rels = [
            "php/vendor/autoload.php",
            "own/vendor/vendor.go",
            "odd/vendor/modules.txt",
            "x/my_vendor/a.go",
            "dir/vendor/x.go",
        ];
        assert_eq!(marked(root, &rels).0, [false; 5]);
    }

    #[test]
    fn a_workspace_s_vendor_a_hugo_site_s_and_a_nested_module_s_count() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        // `go work vendor`: beside go.work.
        write(root, "go.work", "go 1.22\nuse ./a\n");
        write(root, "vendor/modules.txt", MODULES);
        write(root, "vendor/example.com/x/x.go", "package x \n");
        // A module in a subdirectory with its own vendor.
        write(root, "tools/go.mod", "module example.com/tools\n");
        write(root, "tools/vendor/modules.txt", MODULES);
        write(root, "tools/vendor/example.com/y/LICENSE", "text\n");
        write(root, "tools/main.go", "package main\n");
        // `hugo mod vendor`: `_vendor`.
        write(root, "site/go.mod", "module example.com/site\n");
        write(root, "site/_vendor/modules.txt", "# github.com/x/theme v1.0.0\n");
        let rels = [
            "vendor/example.com/x/x.go",
            "tools/vendor/example.com/y/LICENSE",
            "tools/main.go",
            "site/_vendor/github.com/x/theme/layouts/x.html",
            "_vendor/x.go",
        ];
        assert_eq!(marked(root, &rels).0, [true, true, false, true, false]);
    }

    #[test]
    fn outside_the_root_nothing_is_marked() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("project");
        write(tmp.path(), "go.mod", "module example.com/m\n");
        write(tmp.path(), "vendor/modules.txt", MODULES);
        write(&root, "x.go", "package x\n");
        let mut files = vec![Walked { abs: tmp.path().join("vendor/x/x.go"), ..Walked::default() }];
        mark(&root, (&root, &[]), &mut files, &mut Vec::new(), None);
        assert!(!files[0].marks.go_vendored);
    }
}
