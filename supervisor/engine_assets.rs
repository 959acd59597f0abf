//! Assets a game engine's editor imported (docs/configuration.md,
//! `large-file`): Godot's editor writes `NAME.import` beside each asset it
//! imports (a texture, a sound, a model: `player.png` and
//! `player.png.import`), and projects commit both. Such an asset is part
//! of the game, large on purpose, and gets the `imported_asset` mark,
//! which `large-file` heeds.
//!
//! The mark asks only that both files are walked: the sidecar is in the
//! asset's directory, so writing, creating or deleting it is an event of
//! that directory, which the next check walks again with the asset. A
//! check of directories without a `.import` file costs a suffix test per
//! path.

use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use super::{Sources, Walked};

/// The suffix of Godot's sidecar.
const SIDECAR: &[u8] = b".import";

/// Gives each of `files` whose Godot sidecar the walk lists the
/// `imported_asset` mark; with `sources`, says so there. A file whose
/// directory was walked whole has its sidecar among `files` if anywhere.
/// `alone` is `None` when every file's directory was (a check of
/// directories), and otherwise says whether a file's directory was not (a
/// file named on the command line, `explain`'s files): then the sidecar is
/// looked for on disk, and asked of `walked`, which lists what a walk of
/// the directory finds there.
pub(super) fn mark(
    files: &mut [Walked],
    alone: Option<&dyn Fn(&Path) -> bool>,
    walked: impl Fn(&Path) -> Vec<PathBuf>,
    sources: Option<&Sources>,
) {
    let assets: HashSet<Vec<u8>> = files
        .iter()
        .filter_map(|w| w.abs.as_os_str().as_bytes().strip_suffix(SIDECAR))
        .filter(|asset| !asset.is_empty() && !asset.ends_with(b"/"))
        .map(<[u8]>::to_vec)
        .collect();
    if assets.is_empty() && alone.is_none() {
        return;
    }
    // By directory: the files a walk of it lists.
    let mut listed: HashMap<PathBuf, HashSet<PathBuf>> = HashMap::new();
    for w in files.iter_mut() {
        let abs = w.abs.as_os_str().as_bytes();
        let imported = (!assets.is_empty() && assets.contains(abs))
            || w.abs.parent().is_some_and(|dir| {
                if !alone.is_some_and(|alone| alone(dir)) {
                    return false;
                }
                let sidecar = PathBuf::from(std::ffi::OsString::from_vec([abs, SIDECAR].concat()));
                std::fs::symlink_metadata(&sidecar).is_ok_and(|m| m.is_file())
                    && listed
                        .entry(dir.to_path_buf())
                        .or_insert_with(|| walked(dir).into_iter().collect())
                        .contains(&sidecar)
            });
        if !imported {
            continue;
        }
        w.marks.imported_asset = true;
        if let Some(sources) = sources {
            let name = w.abs.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            let said = format!("{name}.import: Godot's editor imported it");
            sources.lock().expect("sources").entry(w.abs.clone()).or_default().push(said);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

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
        let mut files: Vec<Walked> = rels.iter().map(|r| Walked { abs: root.join(r), ..Walked::default() }).collect();
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
        let mut files: Vec<Walked> = ["a.png", "b.png", "c.png", "d.png"]
            .iter()
            .map(|r| Walked { abs: root.join(r), ..Walked::default() })
            .collect();
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
}
