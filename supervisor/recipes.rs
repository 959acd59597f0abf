//! Directories of distributions' package recipes (docs/configuration.md,
//! `shebang-executable`): a recipe installs the files beside and below it
//! with the modes it gives them, whatever git holds.
//!
//! - BitBake's recipes (`NAME_VERSION.bb`, `NAME.bbappend`: Yocto's and
//!   OpenEmbedded's layers), whose `do_install` runs `install -m 0755` on
//!   the init scripts and `run-ptest` beside them;
//! - Arch's and MSYS2's `PKGBUILD`, Alpine's `APKBUILD`, Gentoo's
//!   `NAME-VERSION.ebuild` and MacPorts' `Portfile`;
//! - buildroot's packages, `NAME.mk` beside a `Config.in` in a directory
//!   named `NAME`, whose `$(INSTALL) -D -m 0755` installs its SysV scripts
//!   (buildroot's own check rejects an executable bit on them);
//! - OpenWrt's, a `files/` directory beside a `Makefile`, whose
//!   `$(INSTALL_BIN)` installs what is there 0755.
//!
//! Every file below such a directory gets the `package_recipe` mark, which
//! `shebang-executable` heeds. Not below the project's root: a project
//! with a recipe of its own at its root (an AUR package's repository, a
//! `Makefile` beside `files/`) may run its scripts directly.
//!
//! A recipe is known by its name alone. A check of directories finds them
//! among the walked files; the directories above its targets, and those of
//! files named alone (and every one `explain` asks about), are listed on
//! disk, once each, with the READMEs' look-up (a check of 20,000 files
//! named alone, pre-commit's way, asks of thousands). A recipe's name
//! appearing or going is a change of the rules ([`crate::watch`]); an edit
//! of one is not.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::{Listings, Sources, Walked};

/// Recipes by their exact names.
const NAMES: [&[u8]; 4] = [b"PKGBUILD", b"APKBUILD", b"Portfile", b"Config.in"];

/// Recipes by their extensions (`.mk` with a `Config.in` beside it).
const EXTENSIONS: [&[u8]; 4] = [b".bb", b".bbappend", b".ebuild", b".mk"];

/// OpenWrt's package `Makefile`, with a `files/` directory beside it.
const MAKEFILE: &[u8] = b"Makefile";

/// Whether a file's `name` may make its directory a recipe's: its
/// appearing or going can change the marks of the files below it.
pub(crate) fn is_recipe_name(name: &[u8]) -> bool {
    NAMES.contains(&name) || name == MAKEFILE || EXTENSIONS.iter().any(|e| name.len() > e.len() && name.ends_with(e))
}

/// The recipe among a directory's file names (its path `dir`), if the
/// directory is a recipe's, and the directory it marks (a `Makefile`'s
/// `files/` beside it).
fn recipe_in<'a>(dir: &Path, names: &[&'a [u8]]) -> Option<(&'a [u8], PathBuf)> {
    let own = dir.file_name().map(|n| n.as_bytes());
    let found = names.iter().find(|&&n| {
        if n == b"Config.in" || n == MAKEFILE {
            return false;
        }
        match n.strip_suffix(b".mk") {
            // buildroot's: `NAME/NAME.mk` beside `Config.in`.
            Some(stem) => own == Some(stem) && names.contains(&&b"Config.in"[..]),
            None => is_recipe_name(n),
        }
    });
    if let Some(&n) = found {
        return Some((n, dir.to_path_buf()));
    }
    let files = dir.join("files");
    (names.contains(&MAKEFILE) && files.symlink_metadata().is_ok_and(|m| m.is_dir())).then_some((MAKEFILE, files))
}

/// Gives each of `files` below a package recipe's directory (in the
/// project at `root`) the `package_recipe` mark. `alone` says which
/// directories were not walked whole (`None`: every one was); those, and
/// the ones above `targets`, are read on disk (listed once, in
/// `listings`). With `sources`, what set the mark is said there.
pub(super) fn mark(
    root: &Path,
    files: &mut [Walked],
    targets: &[PathBuf],
    alone: Option<&dyn Fn(&Path) -> bool>,
    listings: &mut Listings,
    sources: Option<&Sources>,
) {
    // The names of recipes walked, by directory.
    let mut walked: HashMap<&Path, Vec<&[u8]>> = HashMap::new();
    for w in files.iter() {
        // By the path's bytes: this looks at every walked file.
        let path = w.abs.as_os_str().as_bytes();
        let name = &path[memchr::memrchr(b'/', path).map_or(0, |i| i + 1)..];
        if !is_recipe_name(name) {
            continue;
        }
        if let Some(dir) = w.abs.parent().filter(|d| alone.is_none_or(|alone| !alone(d))) {
            walked.entry(dir).or_default().push(name);
        }
    }
    // Each recipe's directory, with what to say of it.
    let mut recipes: HashMap<PathBuf, String> = HashMap::new();
    let mut found = |dir: &Path, names: &[&[u8]]| {
        if dir == root {
            return;
        }
        if let Some((name, marked)) = recipe_in(dir, names) {
            let recipe = dir.join(std::ffi::OsStr::from_bytes(name));
            let rel = recipe.strip_prefix(root).unwrap_or(&recipe).display().to_string();
            let said = match name {
                MAKEFILE => format!(
                    "{rel}: a package recipe (OpenWrt's `Makefile`, with `files/` beside it) installs what is in `files/` with the modes it gives"
                ),
                _ => format!("{rel}: a package recipe installs the files beside and below it with the modes it gives"),
            };
            recipes.entry(marked).or_insert(said);
        }
    };
    for (dir, names) in &walked {
        found(dir, names);
    }
    // The directories not walked whole that a file is in or below, and
    // those above the targets: listed once each, up to the root.
    let mut looked: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
    let mut look_up = |from: Option<&Path>, found: &mut dyn FnMut(&Path, &[&[u8]])| {
        let mut up = from;
        while let Some(d) = up.filter(|d| *d != root && d.starts_with(root)) {
            if !looked.insert(d.to_path_buf()) {
                break;
            }
            // Its files' names (not through links) that a recipe may have.
            let names: Vec<&[u8]> = listings.files(d).iter().map(Vec::as_slice).filter(|n| is_recipe_name(n)).collect();
            found(d, &names);
            up = d.parent();
        }
    };
    for t in targets {
        look_up(t.parent(), &mut found);
    }
    if let Some(alone) = alone {
        let mut last: Option<&Path> = None;
        for w in files.iter() {
            let Some(dir) = w.abs.parent().filter(|d| alone(d)) else { continue };
            if last != Some(dir) {
                look_up(Some(dir), &mut found);
                last = Some(dir);
            }
        }
    }
    if recipes.is_empty() {
        return;
    }
    // Each file's nearest recipe directory, found by its directory's
    // ancestors, once a directory.
    let mut last: Option<(PathBuf, Option<PathBuf>)> = None;
    for w in files.iter_mut() {
        let Some(dir) = w.abs.parent() else { continue };
        let marked = match &last {
            Some((d, found)) if d == dir => found.clone(),
            _ => {
                let found = dir
                    .ancestors()
                    .take_while(|a| *a != root && a.starts_with(root))
                    .find(|a| recipes.contains_key(*a))
                    .map(Path::to_path_buf);
                last = Some((dir.to_path_buf(), found.clone()));
                found
            }
        };
        let Some(marked) = marked else { continue };
        w.marks.package_recipe = true;
        if let Some(sources) = sources {
            sources.lock().expect("sources").entry(w.abs.clone()).or_default().push(recipes[&marked].clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::package_vendor::tests::write;
    use super::*;

    /// How `mark` marks each of `rels` (files under `root`, walked whole
    /// from `target` when it is a directory, else each alone), and what it
    /// said of them.
    fn marked(root: &Path, rels: &[&str], target: &str, walked_whole: bool) -> (Vec<bool>, Vec<String>) {
        let mut files: Vec<Walked> = rels.iter().map(|r| Walked { abs: root.join(r), ..Walked::default() }).collect();
        let target = root.join(target);
        let alone = |dir: &Path| !(walked_whole && dir.starts_with(&target));
        let alone: Option<&dyn Fn(&Path) -> bool> = match walked_whole && target == root {
            true => None,
            false => Some(&alone),
        };
        let sources = Sources::default();
        mark(root, &mut files, std::slice::from_ref(&target), alone, &mut Listings::default(), Some(&sources));
        let said = files
            .iter()
            .map(|w| sources.lock().unwrap().get(&w.abs).map(|s| s.join("; ")).unwrap_or_default())
            .collect();
        (files.iter().map(|w| w.marks.package_recipe).collect(), said)
    }

    #[test]
    fn files_below_a_package_recipe_s_directory_are_marked() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let rels = [
            // BitBake: the recipe's own directory and `files/` below it.
            "meta-oe/recipes-x/sshfs/sshfs_3.7.bb",
            "meta-oe/recipes-x/sshfs/files/run-ptest",
            "meta-oe/recipes-x/sshfs/sshfs/init",
            // buildroot: `NAME/NAME.mk` beside `Config.in`.
            "package/acpid/Config.in",
            "package/acpid/acpid.mk",
            "package/acpid/S02acpid",
            // A `.mk` of another name, or without `Config.in`.
            "package/other/rules.mk",
            "package/other/Config.in",
            "package/other/S01x",
            "mk/mk.mk",
            "mk/run.sh",
            // OpenWrt: `files/` beside a `Makefile`, not the Makefile's
            // directory itself.
            "net/frp/Makefile",
            "net/frp/files/frpc.init",
            "net/frp/test.sh",
            // Arch's, Gentoo's.
            "x11/app/PKGBUILD",
            "x11/app/helper.sh",
            "app-misc/foo/foo-1.0.ebuild",
            "app-misc/foo/files/foo.initd",
            // None: a project's own scripts, and a `Makefile` without
            // `files/`.
            "scripts/run.sh",
            "src/Makefile",
            "src/gen.sh",
        ];
        for rel in rels {
            write(root, rel, "#!/bin/sh\n");
        }
        let (got, said) = marked(root, &rels, "", true);
        let want = [
            true, true, true, true, true, true, false, false, false, false, false, false, true, false, true, true,
            true, true, false, false, false,
        ];
        for ((rel, got), want) in rels.iter().zip(&got).zip(want) {
            assert_eq!(*got, want, "{rel}");
        }
        assert_eq!(
            said[1],
            "meta-oe/recipes-x/sshfs/sshfs_3.7.bb: a package recipe installs the files beside and below it with the modes it gives"
        );
        assert!(said[12].starts_with("net/frp/Makefile: a package recipe (OpenWrt's"), "{}", said[12]);
        // `verdict check net/frp/files`, and `explain` of a file alone: the
        // recipe is looked for on disk.
        assert_eq!(marked(root, &["net/frp/files/frpc.init"], "net/frp/files", true).0, [true]);
        assert_eq!(
            marked(
                root,
                &["meta-oe/recipes-x/sshfs/files/run-ptest"],
                "meta-oe/recipes-x/sshfs/files/run-ptest",
                false
            )
            .0,
            [true]
        );
        assert_eq!(marked(root, &["scripts/run.sh"], "scripts/run.sh", false).0, [false]);
    }

    #[test]
    fn a_recipe_at_the_root_marks_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let rels = ["PKGBUILD", "helper.sh", "Makefile", "files/run", "sub/x.sh"];
        for rel in rels {
            write(root, rel, "#!/bin/sh\n");
        }
        assert_eq!(marked(root, &rels, "", true).0, [false; 5]);
    }

    #[test]
    fn recipe_names() {
        for name in [
            "PKGBUILD",
            "APKBUILD",
            "Portfile",
            "Config.in",
            "Makefile",
            "x_1.0.bb",
            "x.bbappend",
            "x-1.ebuild",
            "x.mk",
        ] {
            assert!(is_recipe_name(name.as_bytes()), "{name}");
        }
        for name in [".bb", ".mk", "x.bb.txt", "makefile", "GNUmakefile", "pkgbuild", "x.bbclass"] {
            assert!(!is_recipe_name(name.as_bytes()), "{name}");
        }
    }
}
