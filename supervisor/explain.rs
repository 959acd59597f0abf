//! `explain`: what a check makes of named files, and why.
//!
//! For each file: whether a check of the whole project reaches it (and,
//! if not, the ignore rule or `check.exclude` pattern that keeps it out),
//! the marks its `.gitattributes` and `.editorconfig` files give it, with
//! the lines that set them, and per validator whether it selects the file
//! (and, if not, which of its patterns says so), what each built-in
//! reports, and why a built-in that reports nothing did not judge it (see
//! [`verdict_actors::builtin::judge`]), with what it would report
//! otherwise. Command validators are not run: an explanation changes
//! nothing and starts no tool.
//!
//! The walk, the marks and the selection are the check run's own
//! functions (`walk`, `RulesWalk::mark`, `select`, `leaves_out`), run over
//! the named files: what is explained is what a check does.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use verdict_actors::builtin::{BINARY_SNIFF_LEN, BuiltinInput, Waiver, is_binary, judge};

use super::select::select;
use super::{Hazards, RulesWalk, Walked, dir_excluded, read_stage, walk, walker};
use crate::config::{Config, FileFilter, ValidatorConfig, ValidatorKind};
use crate::engine::Engine;
use crate::protocol::{ExplainParams, RpcError, code};
use crate::supervisor::{Slot, SupervisorMessage, ValidatorHandle};

/// Serves `explain` (after [`Engine::explain`] has applied a changed
/// verdict.toml).
pub async fn explain(engine: &Engine, params: Value) -> Result<Value, RpcError> {
    let p: ExplainParams = crate::server::parse_params(Some(&params))?;
    if p.paths.is_empty() {
        return Err(RpcError::invalid_params("paths", "name at least one file to explain"));
    }
    if p.paths.len() > ExplainParams::MAX_FILES {
        return Err(RpcError::invalid_params(
            "paths",
            format!("{} files named: explain takes at most {}", p.paths.len(), ExplainParams::MAX_FILES),
        ));
    }
    let (config, globs) = engine.config_and_globs();
    let root = engine.layout().root.clone();
    let handles = ractor::call!(engine.supervisor(), SupervisorMessage::GetHandles)
        .map_err(|e| RpcError::new(code::INTERNAL_ERROR, e.to_string()))?;
    let every = config.all_validators();
    let wanted = match p.validators {
        Some(l) if l.is_empty() => {
            return Err(RpcError::invalid_params(
                "validators",
                "an empty list selects no validator (leave `validators` out, or null, for all)",
            ));
        }
        l => l.unwrap_or_default(),
    };
    for name in &wanted {
        if !every.iter().any(|v| &v.name == name) {
            let like = super::did_you_mean(name, every.iter().map(|v| v.name.as_str()));
            return Err(RpcError::invalid_params("validators", format!("no validator named {name:?}{like}")));
        }
    }
    let validators: Vec<ValidatorConfig> =
        every.into_iter().filter(|v| wanted.is_empty() || wanted.contains(&v.name)).collect();
    let targets = super::resolve_targets(&root, p.cwd.as_ref(), &p.paths)?;
    if let Some(dir) = targets.iter().find(|t| t.is_dir()) {
        return Err(RpcError::invalid_params(
            "paths",
            format!("{} is a directory: explain takes files (`verdict check` checks a directory)", dir.display()),
        ));
    }
    let global_exclude = globs.exclude.clone().map_err(|e| RpcError::invalid_params("exclude", e))?;
    let own = super::own_dirs(engine, &config);
    let excluded_dirs = globs.excluded_dirs.clone();
    tokio::task::spawn_blocking(move || {
        let hazards = Hazards::for_root(&root);
        let (mut files, _, _) = walk(&root, &targets, &own, &excluded_dirs, None, false, &hazards);
        // What stops a check's walk (an ignore file that is a FIFO, a
        // directory another user owns) stops an explanation alike.
        if let Some(e) = hazards.error() {
            return Err(e);
        }
        let sources = super::Sources::default();
        let rules = RulesWalk {
            root: &root,
            own: &own,
            excluded_dirs: &excluded_dirs,
            hazards: &hazards,
            sources: Some(&sources),
        };
        let tracked_rules = tracked_rules_above(&root, &targets, &own, &excluded_dirs);
        let (notes, _, _) = rules.mark(&mut files, &targets, &tracked_rules, (&[], None), &[]);
        let sources = sources.into_inner().expect("sources");
        let mut scope =
            Scope { root: &root, own: &own, excluded_dirs: &excluded_dirs, hazards: &hazards, listed: HashMap::new() };
        let mut out = Vec::new();
        for target in &targets {
            let rel = target.strip_prefix(&root).unwrap_or(target);
            let named = name_fields(rel.as_os_str().as_bytes());
            let found = files.iter().find(|w| &w.abs == target);
            let explained = found.ok_or_else(|| not_walked(&hazards, target)).and_then(|w| {
                let file = FileExplained { w, config: &config, global_exclude: &global_exclude };
                file.explain(&validators, &handles, &mut scope)
            });
            let mut file = named;
            match explained {
                Ok(fields) => {
                    file.extend(fields);
                    let rules = sources.get(target).map(Vec::as_slice).unwrap_or_default();
                    file.insert("rules".into(), json!(rules));
                }
                Err(why) => {
                    file.insert("error".into(), json!(why));
                }
            }
            out.push(Value::Object(file));
        }
        let mut notes = notes;
        notes.extend(unapplied_configs(&root, &targets));
        notes.extend(config.notes());
        Ok(json!({ "files": out, "notes": notes }))
    })
    .await
    .map_err(|e| RpcError::new(code::INTERNAL_ERROR, e.to_string()))?
}

/// A file's name as a check's report writes it: `file` (U+FFFD for each
/// byte sequence that is not UTF-8) and, for such a name, `file_bytes`.
fn name_fields(name: &[u8]) -> serde_json::Map<String, Value> {
    let mut fields = serde_json::Map::new();
    fields.insert("file".into(), json!(String::from_utf8_lossy(name)));
    if std::str::from_utf8(name).is_err() {
        let bytes = crate::protocol::base64_bytes::serialize(&Some(name), serde_json::value::Serializer);
        fields.insert("file_bytes".into(), bytes.unwrap_or(Value::Null));
    }
    fields
}

/// The `verdict.toml` files between the root and the files named, which
/// configure nothing here (as a check says too).
fn unapplied_configs(root: &Path, targets: &[PathBuf]) -> Vec<String> {
    let mut found: Vec<PathBuf> = (targets.iter())
        .flat_map(|t| t.ancestors().skip(1).take_while(|d| *d != root && d.starts_with(root)))
        .map(|d| d.join(crate::paths::CONFIG_FILE))
        .filter(|c| c.is_file())
        .collect();
    found.sort_unstable();
    found.dedup();
    (found.iter())
        .map(|c| {
            let rel = c.strip_prefix(root).unwrap_or(c).display();
            format!(
                "{rel} is not applied: one verdict.toml configures a project, the one at its root ({})",
                root.join(crate::paths::CONFIG_FILE).display()
            )
        })
        .collect()
}

/// Why a file named is not among those the walk gave.
fn not_walked(hazards: &Hazards, target: &Path) -> String {
    let missed = hazards.missed.lock().expect("missed");
    (missed.iter()).find(|(p, _)| p.as_deref() == Some(target)).map_or_else(
        || "a check does not read it: it is not a regular file (or it is gone)".to_owned(),
        |(_, why)| why.clone(),
    )
}

/// What the walk of the whole project works with, and what it listed so
/// far (by directory: many files named share their directories).
struct Scope<'a> {
    root: &'a Path,
    own: &'a Arc<[PathBuf]>,
    excluded_dirs: &'a Arc<globset::GlobSet>,
    hazards: &'a Hazards,
    listed: HashMap<PathBuf, HashSet<PathBuf>>,
}

/// One file to explain, and what decides about it.
struct FileExplained<'a> {
    w: &'a Walked,
    config: &'a Config,
    global_exclude: &'a globset::GlobSet,
}

impl FileExplained<'_> {
    /// The file's fields; `Err`: why it cannot be explained (it went away).
    fn explain(
        &self,
        validators: &[ValidatorConfig],
        handles: &[Arc<ValidatorHandle>],
        scope: &mut Scope<'_>,
    ) -> Result<serde_json::Map<String, Value>, String> {
        let w = self.w;
        let meta = std::fs::symlink_metadata(&w.abs).map_err(|e| format!("cannot look at it: {e}"))?;
        let size = meta.len();
        let _ = w.meta.set(meta);
        let marks = w.marks();
        let max_size = self.config.check.max_file_size;
        // Read as the read stage reads it: whole up to `check.max_file_size`,
        // past it only as far as binary content shows.
        let limit = if size > max_size { BINARY_SNIFF_LEN as u64 } else { max_size };
        let content = std::fs::File::open(&w.abs).and_then(|f| {
            let mut bytes = Vec::new();
            f.take(limit).read_to_end(&mut bytes).map(|_| bytes)
        });
        let (content, unreadable) = match content {
            Ok(c) => (c, None),
            Err(e) => (Vec::new(), Some(format!("cannot read it: {e}"))),
        };
        let binary = (unreadable.is_none() && is_binary(&content)) || marks.binary;
        let rel = Path::new(std::ffi::OsStr::from_bytes(w.name_bytes()));
        let excluded_by = (self.global_exclude.is_match(rel) || dir_excluded(scope.excluded_dirs, rel))
            .then(|| first_taking(&self.config.check.exclude, rel))
            .flatten();
        let mut listed = Vec::new();
        for v in validators {
            let handle = handles.iter().find(|h| h.config.name == v.name);
            let mut entry = json!({ "validator": v.name, "dimension": v.dimension, "kind": v.kind.name() });
            let unselected = match (v.enabled, handle, &excluded_by) {
                (false, _, _) => Some("it is disabled (`enabled = false`)".to_owned()),
                (true, None, _) => {
                    Some("it is not running (the daemon has not loaded it: `verdict reload`)".to_owned())
                }
                (true, Some(_), Some(pattern)) => Some(format!("check.exclude has {pattern:?}")),
                (true, Some(h), None) => match &h.filter {
                    Err(e) => Some(format!("its patterns do not compile: {e}")),
                    Ok(filter) => {
                        let picked = select(std::slice::from_ref(w), self.global_exclude, std::slice::from_ref(filter));
                        match picked[0].is_empty() {
                            false => None,
                            true => Some(v.excluded_because(rel).unwrap_or_else(|| files_miss(v))),
                        }
                    }
                },
            };
            if let Some(why) = unselected {
                entry["selected"] = json!(false);
                entry["why"] = json!(why);
                listed.push(entry);
                continue;
            }
            entry["selected"] = json!(true);
            let h = handle.expect("a selecting validator runs");
            let (result, why) = if let Slot::Quarantined(why) = &*h.slot.borrow() {
                ("error", format!("quarantined: {why}"))
            } else if let ValidatorKind::Command(c) = &v.kind {
                (
                    "not run",
                    format!(
                        "a command validator: a check runs {:?} on it (explain starts no tool)",
                        c.command.join(" ")
                    ),
                )
            } else if read_stage::leaves_out(h, binary, size, max_size) {
                // A check leaves the pair out: no outcome, as for a
                // binary file a built-in does not judge.
                let waiver = if marks.binary { Waiver::BinaryMark } else { Waiver::BinaryContent };
                let too_big = match size > max_size {
                    true => ", and it is larger than check.max_file_size, so the text in it is not looked for",
                    false => "",
                };
                ("not judged", format!("{waiver}{too_big}"))
            } else if h.needs_content && size > max_size {
                ("skipped", format!("file is larger than check.max_file_size ({max_size} bytes)"))
            } else if let Some(why) = unreadable.as_ref().filter(|_| h.needs_content) {
                ("error", why.clone())
            } else if let ValidatorKind::Builtin { kind, settings } = &v.kind {
                let input = BuiltinInput { content: &content, size, executable: w.executable(), binary, marks };
                let judged = judge(*kind, settings, &input);
                entry["findings"] = json!(judged.findings);
                let Some(waiver) = judged.waiver else {
                    entry["result"] = json!(if judged.findings.is_empty() { "passed" } else { "findings" });
                    listed.push(entry);
                    continue;
                };
                entry["would_find"] = json!(judged.would_find);
                ("not judged", waiver.to_string())
            } else {
                unreachable!("a validator is a command or a built-in")
            };
            entry["result"] = json!(result);
            entry["why"] = json!(why);
            listed.push(entry);
        }
        let mut file = serde_json::Map::new();
        file.insert("size".into(), json!(size));
        file.insert("binary".into(), json!(binary));
        file.insert("executable".into(), json!(w.executable()));
        if let Some(why) = &unreadable {
            file.insert("unreadable".into(), json!(why));
        }
        file.insert("marks".into(), json!(marks.describe()));
        file.insert("validators".into(), json!(listed));
        // `check.exclude` takes out what the walk meets as well as a file
        // it lists: either way a check does not reach it.
        let reach = match (reached(scope, &w.abs), &excluded_by) {
            (Ok(_), Some(pattern)) => Err(format!("check.exclude has {pattern:?}")),
            (reach, _) => reach,
        };
        file.insert("reached".into(), json!(reach.is_ok()));
        match reach {
            Ok(Some(note)) => drop(file.insert("reach_note".into(), json!(note))),
            Ok(None) => {}
            Err(why) => drop(file.insert("unreached_because".into(), json!(why))),
        }
        if let Some(pattern) = excluded_by {
            file.insert("excluded_because".into(), json!(format!("check.exclude has {pattern:?}")));
        }
        Ok(file)
    }
}

/// The first of `patterns` (as `exclude` reads them) that takes `rel` out.
fn first_taking(patterns: &[String], rel: &Path) -> Option<String> {
    let every = ["*".to_owned()];
    patterns.iter().find(|p| FileFilter::new(&every, std::slice::from_ref(p)).is_ok_and(|f| !f.is_match(rel))).cloned()
}

/// Why `v`'s `files` do not take a file, in words.
fn files_miss(v: &ValidatorConfig) -> String {
    const SHOWN: usize = 4;
    let mut listed: Vec<String> = v.files.iter().take(SHOWN).map(|p| format!("{p:?}")).collect();
    if v.files.len() > SHOWN {
        listed.push(format!("and {} more", v.files.len() - SHOWN));
    }
    format!("its files ({}) do not take it", listed.join(", "))
}

/// Whether a walk of the whole project lists the file at `abs`: `Ok` if
/// it does (with a note if an ignore rule matches it all the same), else
/// why not. The walk is retraced from the root, one directory at a time,
/// with the check's own walker (its ignore files, `check.exclude`'s
/// directories, verdict's own directories); where it stops, the rule that
/// stops it is looked for.
fn reached(scope: &mut Scope<'_>, abs: &Path) -> Result<Option<String>, String> {
    let (root, own, excluded_dirs, hazards) = (scope.root, scope.own, scope.excluded_dirs, scope.hazards);
    let Ok(rel) = abs.strip_prefix(root) else { return Ok(None) };
    let mut dir = root.to_path_buf();
    for part in rel.components() {
        let next = dir.join(part);
        let listing = scope.listed.entry(dir.clone()).or_insert_with(|| {
            let mut builder = walker(root, &dir, own, excluded_dirs, None, hazards);
            builder.max_depth(Some(1));
            builder.build().flatten().map(|e| e.into_path()).collect()
        });
        if !listing.contains(&next) {
            let is_dir = next.is_dir();
            let next_rel = next.strip_prefix(root).unwrap_or(&next);
            let shown = crate::report::shown_name(next_rel.as_os_str().as_bytes()).into_owned();
            let what = if is_dir { format!("its directory {shown}/") } else { "it".to_owned() };
            if is_dir && dir_excluded(excluded_dirs, next_rel) {
                return Err(format!("check.exclude takes out {what}"));
            }
            if own.contains(&next) {
                return Err(format!("{what} is verdict's own directory"));
            }
            // A `.ignore` hides a file git tracks too; git lists a tracked
            // file whatever its `.gitignore` says (see `TrackedIgnored`).
            return match ignore_rule(root, &next, is_dir) {
                Some((file, pattern)) if file.ends_with(".ignore") => {
                    Err(format!("{file} ignores {what} ({pattern:?})"))
                }
                Some((file, pattern)) if tracked(root, rel) => {
                    Ok(Some(format!("{file} ignores {what} ({pattern:?}), but git tracks it, so a check reads it")))
                }
                Some((file, pattern)) => Err(format!("{file} ignores {what} ({pattern:?})")),
                None if tracked(root, rel) => {
                    Ok(Some(format!("git's own ignore rules (core.excludesFile) ignore {what}, but git tracks it")))
                }
                None => Err(format!("git's own ignore rules (core.excludesFile) ignore {what}")),
            };
        }
        dir = next;
    }
    Ok(None)
}

/// The ignore file and the pattern in it that ignore `path` (absolute), as
/// the walker weighs them: the `.ignore` files first, the nearest with a
/// say deciding, then the `.gitignore` files alike, then git's
/// `info/exclude`. `None`: none of them ignores it (git's
/// `core.excludesFile` may).
fn ignore_rule(root: &Path, path: &Path, is_dir: bool) -> Option<(String, String)> {
    let top = root.ancestors().find(|d| d.join(".git").symlink_metadata().is_ok());
    let dirs: Vec<&Path> = path.ancestors().skip(1).take_while(|d| top.is_none_or(|t| d.starts_with(t))).collect();
    let said_by = |file: &Path, base: &Path| -> Option<ignore::Match<(String, String)>> {
        if !file.is_file() {
            return None;
        }
        let mut builder = ignore::gitignore::GitignoreBuilder::new(base);
        let _ = builder.add(file);
        let rules = builder.build().ok()?;
        let shown = file.strip_prefix(root).unwrap_or(file).display().to_string();
        match rules.matched(path, is_dir) {
            ignore::Match::None => None,
            ignore::Match::Ignore(g) => Some(ignore::Match::Ignore((shown, g.original().to_owned()))),
            ignore::Match::Whitelist(g) => Some(ignore::Match::Whitelist((shown, g.original().to_owned()))),
        }
    };
    for name in [".ignore", ".gitignore"] {
        for dir in &dirs {
            match said_by(&dir.join(name), dir) {
                Some(ignore::Match::Ignore(rule)) => return Some(rule),
                Some(_) => return None,
                None => {}
            }
        }
    }
    let top = top?;
    match said_by(&top.join(".git/info/exclude"), top) {
        Some(ignore::Match::Ignore(rule)) => Some(rule),
        _ => None,
    }
}

/// The `.gitattributes` and `.editorconfig` files in the directories above
/// `targets` that a `.gitignore` or git's `info/exclude` hides but git
/// tracks: a check reads them, as it reads every file git tracks (see
/// `TrackedIgnored`), so an explanation does too. Not those in verdict's
/// own directories, in a directory `check.exclude` takes out, or hidden by
/// a `.ignore`, which a check leaves out too. git is asked only of those
/// an ignore file hides.
fn tracked_rules_above(
    root: &Path,
    targets: &[PathBuf],
    own: &[PathBuf],
    excluded_dirs: &globset::GlobSet,
) -> Vec<PathBuf> {
    let mut looked = HashSet::new();
    let mut found = Vec::new();
    for dir in targets.iter().flat_map(|t| t.ancestors().skip(1).take_while(|d| d.starts_with(root))) {
        for name in [super::attributes::FILE_NAME, super::editorconfig::FILE_NAME] {
            let path = dir.join(name);
            if !looked.insert(path.clone()) || !path.symlink_metadata().is_ok_and(|m| m.is_file()) {
                continue;
            }
            let rel = path.strip_prefix(root).unwrap_or(&path);
            if own.iter().any(|o| path.starts_with(o))
                || dir_excluded(excluded_dirs, rel.parent().unwrap_or(Path::new("")))
            {
                continue;
            }
            let hidden = match ignore_rule(root, &path, false) {
                Some((file, _)) => !file.ends_with(".ignore"),
                None => false,
            };
            if hidden && tracked(root, rel) {
                found.push(path);
            }
        }
    }
    found
}

/// Whether git tracks `rel` (relative to the root), which a check then
/// reads whatever the ignore rules say.
fn tracked(root: &Path, rel: &Path) -> bool {
    let output = super::git_in(root).args(["ls-files", "-z", "--"]).arg(rel).output();
    output.is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
}
