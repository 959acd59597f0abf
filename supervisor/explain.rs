//! `explain`: what a check makes of named files, and why.
//!
//! For each file: whether a check of the whole project reaches it (and,
//! if not, the ignore rule or `check.exclude` pattern that keeps it out),
//! the marks its `.gitattributes` and `.editorconfig` files give it, and
//! per validator whether it selects the file (and, if not, which of its
//! patterns says so), what each built-in reports, and why a built-in
//! that reports nothing did not judge it (see
//! [`verdict_actors::builtin::judge`]), with what it would report
//! otherwise. Command validators are not run: an explanation changes
//! nothing and starts no tool.
//!
//! The walk, the marks and the selection are the check run's own
//! functions (`walk`, `RulesWalk::mark`, `select`), run over the named
//! files: what is explained is what a check does.

use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use verdict_actors::builtin::{BuiltinInput, judge};

use super::{Hazards, RulesWalk, Walked, dir_excluded, select, walk, walker};
use crate::config::{Config, FileFilter, ValidatorConfig, ValidatorKind};
use crate::engine::Engine;
use crate::protocol::{ExplainParams, RpcError, code};
use crate::supervisor::{Slot, SupervisorMessage, ValidatorHandle};

/// Serves `explain`.
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
    let wanted = p.validators.unwrap_or_default();
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
    let explained = tokio::task::spawn_blocking(move || {
        let hazards = Hazards::for_root(&root);
        let (mut files, _, _) = walk(&root, &targets, &own, &excluded_dirs, None, false, &hazards);
        let sources = super::Sources::default();
        let rules = RulesWalk {
            root: &root,
            own: &own,
            excluded_dirs: &excluded_dirs,
            hazards: &hazards,
            sources: Some(&sources),
        };
        let (notes, _) = rules.mark(&mut files, &targets, &[], (&[], None), &[]);
        let sources = sources.into_inner().expect("sources");
        let mut out = Vec::new();
        for target in &targets {
            let rel = target.strip_prefix(&root).unwrap_or(target);
            let shown = crate::report::shown_name(rel.as_os_str().as_bytes()).into_owned();
            let Some(w) = files.iter().find(|w| &w.abs == target) else {
                let missed = hazards.missed.lock().expect("missed");
                let why = (missed.iter()).find(|(p, _)| p.as_deref() == Some(target.as_path())).map_or_else(
                    || "a check does not read it: it is not a regular file".to_owned(),
                    |(_, w)| w.clone(),
                );
                out.push(json!({ "file": shown, "error": why }));
                continue;
            };
            let scope = Scope { root: &root, own: &own, excluded_dirs: &excluded_dirs, hazards: &hazards };
            let mut file = explain_file(w, &shown, &config, &global_exclude, &validators, &handles, &scope);
            file["rules"] = json!(sources.get(target).map(Vec::as_slice).unwrap_or_default());
            out.push(file);
        }
        json!({ "files": out, "notes": notes })
    })
    .await
    .map_err(|e| RpcError::new(code::INTERNAL_ERROR, e.to_string()))?;
    Ok(explained)
}

/// What the walk of the whole project works with.
struct Scope<'a> {
    root: &'a Path,
    own: &'a Arc<[PathBuf]>,
    excluded_dirs: &'a Arc<globset::GlobSet>,
    hazards: &'a Hazards,
}

/// One file's explanation.
fn explain_file(
    w: &Walked,
    shown: &str,
    config: &Config,
    global_exclude: &globset::GlobSet,
    validators: &[ValidatorConfig],
    handles: &[Arc<ValidatorHandle>],
    scope: &Scope<'_>,
) -> Value {
    let meta = std::fs::metadata(&w.abs).ok();
    let size = meta.as_ref().map_or(0, std::fs::Metadata::len);
    let _ = w.meta.set(meta.clone().unwrap_or_else(|| std::fs::symlink_metadata(&w.abs).expect("walked")));
    let marks = w.marks();
    let max_size = config.check.max_file_size;
    // Read as the read stage reads it: whole, up to `check.max_file_size`.
    let content = match size <= max_size {
        true => std::fs::File::open(&w.abs).and_then(|f| {
            let mut bytes = Vec::new();
            f.take(max_size).read_to_end(&mut bytes).map(|_| bytes)
        }),
        false => Ok(Vec::new()),
    };
    let (content, unreadable) = match content {
        Ok(c) => (c, None),
        Err(e) => (Vec::new(), Some(format!("cannot read it: {e}"))),
    };
    let binary = (size <= max_size && verdict_actors::builtin::is_binary(&content)) || marks.binary;
    let rel = Path::new(std::ffi::OsStr::from_bytes(w.name_bytes()));
    let excluded_by = (global_exclude.is_match(rel) || dir_excluded(scope.excluded_dirs, rel))
        .then(|| first_taking(&config.check.exclude, rel))
        .flatten();
    let mut listed = Vec::new();
    for v in validators {
        let handle = handles.iter().find(|h| h.config.name == v.name);
        let mut entry = json!({ "validator": v.name, "dimension": v.dimension, "kind": v.kind.name() });
        let unselected = match (v.enabled, handle, &excluded_by) {
            (false, _, _) => Some("it is disabled (`enabled = false`)".to_owned()),
            (true, None, _) => Some("it is not running (the daemon has not loaded it: `verdict reload`)".to_owned()),
            (true, Some(_), Some(pattern)) => Some(format!("check.exclude has {pattern:?}")),
            (true, Some(h), None) => match &h.filter {
                Err(e) => Some(format!("its patterns do not compile: {e}")),
                Ok(filter) => {
                    let picked = select(std::slice::from_ref(w), global_exclude, std::slice::from_ref(filter));
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
        if let Slot::Quarantined(why) = &*h.slot.borrow() {
            entry["result"] = json!("error");
            entry["why"] = json!(format!("quarantined: {why}"));
            listed.push(entry);
            continue;
        }
        match &v.kind {
            ValidatorKind::Command(c) => {
                entry["result"] = json!("not run");
                entry["why"] = json!(format!(
                    "a command validator: a check runs {:?} on it (explain starts no tool)",
                    c.command.join(" ")
                ));
            }
            ValidatorKind::Builtin { kind, settings } => {
                if h.needs_content && size > max_size {
                    entry["result"] = json!("skipped");
                    entry["why"] = json!(format!("file is larger than check.max_file_size ({max_size} bytes)"));
                } else if let Some(why) = unreadable.as_ref().filter(|_| h.needs_content) {
                    entry["result"] = json!("error");
                    entry["why"] = json!(why);
                } else {
                    let input = BuiltinInput { content: &content, size, executable: w.executable(), binary, marks };
                    let judged = judge(*kind, settings, &input);
                    entry["findings"] = json!(judged.findings);
                    entry["result"] = json!(match (&judged.waiver, judged.findings.is_empty()) {
                        (Some(_), _) => "not judged",
                        (None, true) => "passed",
                        (None, false) => "findings",
                    });
                    if let Some(waiver) = judged.waiver {
                        entry["why"] = json!(waiver.to_string());
                        entry["would_find"] = json!(judged.would_find);
                    }
                }
            }
        }
        listed.push(entry);
    }
    let mut file = json!({
        "file": shown,
        "size": size,
        "binary": binary,
        "executable": w.executable(),
        "marks": marks.describe(),
        "validators": listed,
    });
    let reach = reached(scope, &w.abs);
    file["reached"] = json!(reach.is_ok());
    match reach {
        Ok(Some(note)) => file["reach_note"] = json!(note),
        Ok(None) => {}
        Err(why) => file["unreached_because"] = json!(why),
    }
    if let Some(pattern) = excluded_by {
        file["excluded_because"] = json!(format!("check.exclude has {pattern:?}"));
    }
    file
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
/// why not. The walk is retraced from the root, one
/// directory at a time, with the check's own walker (its ignore files,
/// `check.exclude`'s directories, verdict's own directories); where it
/// stops, the rule that stops it is looked for.
fn reached(scope: &Scope<'_>, abs: &Path) -> Result<Option<String>, String> {
    let Scope { root, own, excluded_dirs, hazards } = *scope;
    let Ok(rel) = abs.strip_prefix(root) else { return Ok(None) };
    let mut dir = root.to_path_buf();
    for part in rel.components() {
        let next = dir.join(part);
        let mut builder = walker(root, &dir, own, excluded_dirs, None, hazards);
        builder.max_depth(Some(1));
        let listed = builder.build().flatten().any(|e| e.path() == next);
        if !listed {
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
                    Ok(Some(format!("git's ignore rules leave out {what}, but git tracks it")))
                }
                None => Err(format!("git's ignore rules (info/exclude, core.excludesFile) leave out {what}")),
            };
        }
        dir = next;
    }
    Ok(None)
}

/// The ignore file and the pattern in it that ignore `path` (absolute): the
/// nearest `.ignore` or `.gitignore` with a say, a `.ignore` first in a
/// directory, as the walker weighs them. `None`: neither says so (git's
/// own excludes may).
fn ignore_rule(root: &Path, path: &Path, is_dir: bool) -> Option<(String, String)> {
    let top = root.ancestors().find(|d| d.join(".git").symlink_metadata().is_ok()).unwrap_or(Path::new("/"));
    for dir in path.ancestors().skip(1).take_while(|d| d.starts_with(top)) {
        for name in [".ignore", ".gitignore"] {
            let file = dir.join(name);
            if !file.is_file() {
                continue;
            }
            let mut builder = ignore::gitignore::GitignoreBuilder::new(dir);
            let _ = builder.add(&file);
            let Ok(rules) = builder.build() else { continue };
            match rules.matched(path, is_dir) {
                ignore::Match::Ignore(glob) => {
                    let shown = file.strip_prefix(root).unwrap_or(&file).display().to_string();
                    return Some((shown, glob.original().to_owned()));
                }
                ignore::Match::Whitelist(_) => return None,
                ignore::Match::None => {}
            }
        }
    }
    None
}

/// Whether git tracks `rel` (relative to the root), which a check then
/// reads whatever the ignore rules say.
fn tracked(root: &Path, rel: &Path) -> bool {
    let output = super::git_in(root).args(["ls-files", "-z", "--"]).arg(rel).output();
    output.is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
}
