//! `.pre-commit-config.yaml`: the file selection a project gives
//! pre-commit's own hooks, applied to the built-ins that make the same checks.
//!
//! A project that runs pre-commit-hooks' `trailing-whitespace` with
//! `exclude: ^tests/fixtures/` has said which files that check is for; verdict
//! reading the same file keeps its `trailing-whitespace` to them, instead of
//! reporting what the project decided long ago not to fix. Only the file
//! selection is taken (the global `files`/`exclude`, and each listed hook's),
//! and `check-added-large-files`' `--maxkb` as `large-file`'s limit; never a
//! hook's command or other arguments: verdict's built-ins run as always.
//!
//! Which built-ins a pattern narrows:
//! - a hook of pre-commit-hooks (or prek's `builtin` repository) that
//!   stands for a built-in ([`builtins_of`]) narrows that built-in to the
//!   files it takes; one listed twice takes the files either takes;
//! - the global `files`/`exclude` narrow every built-in but `secrets`, which
//!   they narrow only when the project runs `detect-private-key`: a
//!   project's scope for its linters is no reason to stop looking for keys.
//!
//! The patterns are Python regular expressions, searched (not matched from
//! the start) in the path relative to the project root, as pre-commit does;
//! they are compiled with `fancy-regex`, which reads look-around and
//! back-references too. A file verdict cannot use is not applied, and says
//! so in every check's notes; a pattern it cannot compile leaves its hook
//! (or the global key) unapplied, and says so too. Either way the built-ins
//! check more files, never fewer.

use std::path::Path;
use std::sync::Arc;

use saphyr::{MarkedYaml, YamlLoader};
use verdict_actors::builtin::{BuiltinKind, relaxed_layout};

/// The names pre-commit (and prek) read at the top of a repository, in
/// their order.
pub const FILE_NAMES: [&str; 2] = [".pre-commit-config.yaml", ".pre-commit-config.yml"];

/// The repositories whose hooks verdict knows by id: pre-commit-hooks by
/// its address (any host, with or without `.git`), and prek's built-in
/// implementation of the same hooks.
fn is_pre_commit_hooks(repo: &str) -> bool {
    // (GitHub's names are the same in any case.)
    let repo = repo.to_ascii_lowercase();
    let repo = repo.trim_end_matches('/');
    let repo = repo.strip_suffix(".git").unwrap_or(repo);
    repo == "builtin"
        || repo.ends_with("/pre-commit/pre-commit-hooks")
        || repo.ends_with(":pre-commit/pre-commit-hooks")
}

/// The built-ins a pre-commit-hooks hook stands for: the ones making the
/// check it makes.
pub fn builtins_of(hook_id: &str) -> &'static [BuiltinKind] {
    match hook_id {
        "trailing-whitespace" => &[BuiltinKind::TrailingWhitespace, BuiltinKind::MarkdownTrailingWhitespace],
        "end-of-file-fixer" => &[BuiltinKind::FinalNewline],
        "mixed-line-ending" => &[BuiltinKind::MixedLineEndings],
        "check-merge-conflict" => &[BuiltinKind::MergeConflict],
        "check-added-large-files" => &[BuiltinKind::LargeFile],
        // Not `jsonc`: a project takes `tsconfig.json` out of
        // `check-json` for its comments, which `jsonc` reads.
        "check-json" => &[BuiltinKind::Json],
        "check-toml" => &[BuiltinKind::Toml],
        "check-yaml" => &[BuiltinKind::Yaml],
        "check-shebang-scripts-are-executable" => &[BuiltinKind::ShebangExecutable],
        "detect-private-key" => &[BuiltinKind::Secrets],
        _ => &[],
    }
}

/// A Python regular expression from the file, compiled, and where it is.
#[derive(Clone, Debug)]
pub struct Pattern {
    /// As written.
    pub source: String,
    /// Its 1-based line.
    pub line: usize,
    regex: fancy_regex::Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.source == other.source && self.line == other.line
    }
}

impl Pattern {
    /// The pattern as said in a message: whole when it is one short line,
    /// else its first line and how many there are (a verbose pattern of
    /// forty alternatives is read in the file, at its line).
    fn shown(&self) -> String {
        let lines = self.source.trim_end().lines().count();
        if lines <= 1 && self.source.len() <= 100 {
            return format!("{:?}", self.source);
        }
        let first: String = self.source.trim_start().lines().next().unwrap_or("").chars().take(60).collect();
        match lines {
            0 | 1 => format!("{first:?}…"),
            n => format!("{first:?}… ({n} lines)"),
        }
    }

    /// Whether the pattern is found in `path`. A search that gives up (the
    /// backtracking limit) counts as found for `files` and not found for
    /// `exclude`: in doubt, the file is checked.
    fn found(&self, path: &str, in_doubt: bool) -> bool {
        self.regex.is_match(path).unwrap_or(in_doubt)
    }
}

/// A `files` and an `exclude`, either unset.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    /// `files`: the path must contain a match.
    pub files: Option<Pattern>,
    /// `exclude`: the path must not.
    pub exclude: Option<Pattern>,
}

impl Selection {
    fn is_empty(&self) -> bool {
        self.files.is_none() && self.exclude.is_none()
    }

    fn selects(&self, path: &str) -> bool {
        self.files.as_ref().is_none_or(|p| p.found(path, true))
            && !self.exclude.as_ref().is_some_and(|p| p.found(path, false))
    }

    /// Why it does not select `path`, in words that follow "its".
    fn why_not(&self, path: &str) -> Option<String> {
        if let Some(p) = self.files.as_ref().filter(|p| !p.found(path, true)) {
            return Some(format!("files {} (line {}) does not match it", p.shown(), p.line));
        }
        let p = self.exclude.as_ref().filter(|p| p.found(path, false))?;
        Some(format!("exclude {} (line {}) matches it", p.shown(), p.line))
    }
}

/// One hook of the file that stands for built-ins.
#[derive(Clone, Debug, PartialEq)]
pub struct Hook {
    /// Its `id`.
    pub id: String,
    /// The line of its `id`.
    pub line: usize,
    /// Its own `files` and `exclude`.
    pub selection: Selection,
    /// `check-added-large-files`' limit from its `args` (`--maxkb=1000`),
    /// in bytes, and the line of its `args`.
    pub max_size: Option<(u64, usize)>,
}

/// What the project's pre-commit configuration says of the files of one
/// built-in: it checks a file only if this selects it.
#[derive(Clone, Debug, PartialEq)]
pub struct Scope {
    /// The file's name, as found at the project root.
    pub file: &'static str,
    /// The global `files` and `exclude`.
    pub global: Selection,
    /// The hooks standing for the built-in; a file must be taken by one of
    /// them. None: the global patterns alone apply.
    pub hooks: Vec<Hook>,
}

impl Scope {
    /// Whether the built-in checks `path` (relative to the project root,
    /// `/`-separated), as far as the pre-commit configuration says.
    pub fn selects(&self, path: &str) -> bool {
        self.global.selects(path) && (self.hooks.is_empty() || self.hooks.iter().any(|h| h.selection.selects(path)))
    }

    /// Its patterns in words, for `config show`: `the global exclude
    /// "^vendor/" (line 1); hook trailing-whitespace (line 9): exclude
    /// "^tests/" (line 10)`.
    pub fn describe(&self) -> String {
        let words = |s: &Selection| -> Vec<String> {
            let each = [("files", &s.files), ("exclude", &s.exclude)];
            (each.iter())
                .filter_map(|(k, p)| p.as_ref().map(|p| format!("{k} {} (line {})", p.shown(), p.line)))
                .collect()
        };
        let global = words(&self.global).into_iter().map(|w| format!("the global {w}"));
        let hooks =
            (self.hooks.iter()).map(|h| format!("hook {} (line {}): {}", h.id, h.line, words(&h.selection).join(", ")));
        global.chain(hooks).collect::<Vec<_>>().join("; ")
    }

    /// Why [`selects`](Self::selects) leaves `path` out, in words that end
    /// a sentence naming it; `None` when it does not.
    pub fn left_out_because(&self, path: &str) -> Option<String> {
        if let Some(why) = self.global.why_not(path) {
            return Some(format!("{}'s global {why}", self.file));
        }
        if self.hooks.is_empty() || self.hooks.iter().any(|h| h.selection.selects(path)) {
            return None;
        }
        let each: Vec<String> = (self.hooks.iter())
            .filter_map(|h| Some(format!("hook {} (line {}): its {}", h.id, h.line, h.selection.why_not(path)?)))
            .collect();
        Some(format!("{} leaves it out: {}", self.file, each.join("; ")))
    }
}

/// A project's pre-commit configuration, as far as verdict applies it.
#[derive(Clone, Debug, PartialEq)]
pub struct PreCommit {
    /// The file's name at the project root.
    pub file: &'static str,
    /// The global `files` and `exclude`.
    pub global: Selection,
    /// The hooks that stand for built-ins, in the file's order.
    pub hooks: Vec<Hook>,
    /// Whether the project runs `detect-private-key`: only then do the
    /// global patterns narrow `secrets`.
    pub runs_detect_private_key: bool,
    /// What in the file is not applied, and why: said in every check's notes.
    pub warnings: Vec<String>,
}

impl PreCommit {
    /// The project's pre-commit configuration at `root`, if it has one. A
    /// file that cannot be read or used is returned with no patterns and
    /// a warning saying why.
    pub fn load(root: &Path) -> Option<PreCommit> {
        let file = FILE_NAMES.into_iter().find(|n| root.join(n).symlink_metadata().is_ok())?;
        let read = crate::config::read_config_bytes(&root.join(file), false)
            .and_then(|b| String::from_utf8(b).map_err(|_| "cannot read the file: not UTF-8".to_owned()));
        Some(match read {
            // A fault in reading it costs the narrowing, not the daemon.
            Ok(text) => std::panic::catch_unwind(|| PreCommit::parse(&text, file)).unwrap_or_else(|_| {
                PreCommit::unusable(file, "verdict failed to read it (a fault of verdict's: please report it)".into())
            }),
            Err(why) => PreCommit::unusable(file, why),
        })
    }

    fn unusable(file: &'static str, why: String) -> PreCommit {
        PreCommit {
            file,
            global: Selection::default(),
            hooks: Vec::new(),
            runs_detect_private_key: false,
            warnings: vec![format!(
                "{file} is not applied: {why}; the built-ins check the files their own patterns select"
            )],
        }
    }

    /// Reads the text of the file called `file`.
    pub fn parse(text: &str, file: &'static str) -> PreCommit {
        // pre-commit reads the file with PyYAML, which takes a flow
        // collection's or quoted scalar's lines at any indentation, as YAML
        // 1.2 (and saphyr) do not; pip's own file closes a list at its key's
        // column. Such lines are indented deeper, and the file read again.
        let relaxed;
        let loaded = match load_yaml(text) {
            Err(e) => {
                relaxed = relaxed_layout(text);
                relaxed.as_deref().map_or(Err(e.clone()), |t| load_yaml(t).map_err(|_| e))
            }
            docs => docs,
        };
        let docs = match loaded {
            Ok(docs) => docs,
            Err(e) => {
                let at = e.marker();
                return PreCommit::unusable(file, format!("line {}: {}", at.line(), e.info()));
            }
        };
        let Some(top) = docs.first().filter(|d| d.data.as_mapping().is_some()) else {
            return PreCommit::unusable(file, "it is not a mapping with `repos`, as pre-commit requires".to_owned());
        };
        let mut warnings = Vec::new();
        // A pattern is said to be at its key's line (a block scalar's text
        // begins on the next).
        let mut pattern = |within: &MarkedYaml<'_>, key: &str, what: &str| -> Result<Option<Pattern>, ()> {
            let Some((key, node)) = entry(within, key) else { return Ok(None) };
            let line = key.span.start.line();
            let Some(source) = node.data.as_str() else {
                warnings.push((line, format!("{file} line {line}: {what} is not a string; it is not applied")));
                return Err(());
            };
            match compile(source) {
                Ok(regex) => Ok(Some(Pattern { source: source.to_owned(), line, regex })),
                Err(e) => {
                    warnings.push((
                        line,
                        format!(
                            "{file} line {line}: {what} {source:?} is not a regular expression verdict can read \
                             ({e}); it is not applied"
                        ),
                    ));
                    Err(())
                }
            }
        };
        // A global pattern that cannot be used is left out alone: the
        // other still applies.
        let global = Selection {
            files: pattern(top, "files", "the global files").unwrap_or(None),
            exclude: pattern(top, "exclude", "the global exclude").unwrap_or(None),
        };
        let mut hooks = Vec::new();
        let mut runs_detect_private_key = false;
        let value = |node, key| entry(node, key).map(|(_, v)| v);
        let repos = value(top, "repos").and_then(|r| r.data.as_sequence());
        for repo in repos.into_iter().flatten() {
            let known = value(repo, "repo").and_then(|r| r.data.as_str()).is_some_and(is_pre_commit_hooks);
            let listed = value(repo, "hooks").and_then(|h| h.data.as_sequence());
            for hook in listed.into_iter().flatten().filter(|_| known) {
                let Some(id_node) = value(hook, "id") else { continue };
                let Some(id) = id_node.data.as_str().filter(|id| !builtins_of(id).is_empty()) else { continue };
                runs_detect_private_key |= id == "detect-private-key";
                let own = (
                    pattern(hook, "files", &format!("hook {id}'s files")),
                    pattern(hook, "exclude", &format!("hook {id}'s exclude")),
                );
                // One of a hook's patterns unusable: the hook takes every
                // file, rather than the files of its other pattern alone.
                let selection = match own {
                    (Ok(files), Ok(exclude)) => Selection { files, exclude },
                    _ => Selection::default(),
                };
                let max_size = (id == "check-added-large-files").then(|| maxkb(hook)).flatten();
                hooks.push(Hook { id: id.to_owned(), line: id_node.span.start.line(), selection, max_size });
            }
        }
        // In the file's order.
        warnings.sort_by_key(|(line, _)| *line);
        let warnings = warnings.into_iter().map(|(_, w)| w).collect();
        PreCommit { file, global, hooks, runs_detect_private_key, warnings }
    }

    /// The `large-file` limit the project gives `check-added-large-files`
    /// (`--maxkb`), in bytes, and the line that says so: the largest, if
    /// it runs the hook more than once.
    pub fn max_size(&self) -> Option<(u64, usize)> {
        self.hooks.iter().filter_map(|h| h.max_size).max_by_key(|(bytes, _)| *bytes)
    }

    /// What this says of the files of the built-in `kind`; `None` when it
    /// narrows nothing.
    pub fn scope_for(&self, kind: BuiltinKind) -> Option<Arc<Scope>> {
        let hooks: Vec<Hook> = self.hooks.iter().filter(|h| builtins_of(&h.id).contains(&kind)).cloned().collect();
        let global = match kind != BuiltinKind::Secrets || self.runs_detect_private_key {
            true => self.global.clone(),
            false => Selection::default(),
        };
        // A hook without patterns takes every file the global ones do.
        let hooks = match hooks.iter().any(|h| h.selection.is_empty()) {
            true => Vec::new(),
            false => hooks,
        };
        (!global.is_empty() || !hooks.is_empty()).then(|| Arc::new(Scope { file: self.file, global, hooks }))
    }
}

/// The `--maxkb` of a `check-added-large-files` hook's `args`, as its
/// argparse reads them (`--maxkb=N`, `--maxkb N`, or an abbreviation,
/// `--max=N`; the last one given), in bytes (the hook fails a file of more
/// than N × 1024), with the line of `args`.
fn maxkb(hook: &MarkedYaml<'_>) -> Option<(u64, usize)> {
    let (key, args) = entry(hook, "args")?;
    let words: Vec<&str> = args.data.as_sequence()?.iter().filter_map(|a| a.data.as_str()).collect();
    let is_option = |w: &str| w.len() > 2 && "--maxkb".starts_with(w);
    let mut found = None;
    for (i, w) in words.iter().enumerate() {
        let value = match w.split_once('=') {
            Some((option, value)) if is_option(option) => Some(value),
            None if is_option(w) => words.get(i + 1).copied(),
            _ => None,
        };
        if let Some(kb) = value.and_then(|v| v.trim().parse::<u64>().ok()) {
            found = Some(kb.saturating_mul(1024));
        }
    }
    Some((found?, key.span.start.line()))
}

/// The documents of `text`, as PyYAML loads them: a key given twice in a
/// mapping takes its last value.
fn load_yaml(text: &str) -> Result<Vec<MarkedYaml<'_>>, saphyr::ScanError> {
    let mut loader = YamlLoader::<MarkedYaml<'_>>::default();
    loader.allow_duplicate_keys(true);
    saphyr_parser::Parser::new_from_str(text).load(&mut loader, true)?;
    match loader.error() {
        Some(e) => Err(e.clone()),
        None => Ok(loader.into_documents()),
    }
}

/// The key and value of `key` in the mapping `node`, or in what its merge
/// key (`<<: *defaults`, or a list of such) brings in, as PyYAML merges
/// them: the mapping's own keys first, then the merged ones in order.
fn entry<'a, 'i>(node: &'a MarkedYaml<'i>, key: &str) -> Option<(&'a MarkedYaml<'i>, &'a MarkedYaml<'i>)> {
    fn find<'a, 'i>(
        node: &'a MarkedYaml<'i>,
        key: &str,
        depth: usize,
    ) -> Option<(&'a MarkedYaml<'i>, &'a MarkedYaml<'i>)> {
        let map = node.data.as_mapping().filter(|_| depth < 16)?;
        if let Some(found) = map.iter().find(|(k, _)| k.data.as_str() == Some(key)) {
            return Some(found);
        }
        let (_, merged) = map.iter().find(|(k, _)| k.data.as_str() == Some("<<"))?;
        match merged.data.as_sequence() {
            Some(list) => list.iter().find_map(|m| find(m, key, depth + 1)),
            None => find(merged, key, depth + 1),
        }
    }
    find(node, key, 0)
}

/// A Python regular expression, compiled for a search anywhere in a path.
/// Where Python and fancy-regex read the same text differently, it is
/// rewritten to mean what Python means: `\Z` (the very end) is `\z`; `\<`
/// and `\>` are the characters (word boundaries to fancy-regex); inside a
/// class, `[`, `&` and `~` are characters (a nested class and set
/// operations to fancy-regex: `[[:digit:]]` is `[[:digt]` and `]` to
/// Python). What it cannot read as Python does (`\N{…}`) is refused, and
/// so not applied.
fn compile(source: &str) -> Result<fancy_regex::Regex, String> {
    let translated = python_syntax(source)?;
    fancy_regex::RegexBuilder::new(&translated).backtrack_limit(100_000).build().map_err(|e| e.to_string())
}

/// [`compile`]'s rewriting.
fn python_syntax(source: &str) -> Result<String, String> {
    // Verbose mode (its flag leads the pattern, as Python 3.11 requires):
    // a `#` outside a class begins a comment, whose text is not pattern.
    let flags = source.strip_prefix("(?").and_then(|r| r.split_once(')')).map_or("", |(f, _)| f);
    let verbose = flags.bytes().all(|b| b.is_ascii_alphabetic()) && flags.contains('x');
    let mut out = String::with_capacity(source.len() + 8);
    let mut chars = source.chars().peekable();
    // Inside a class; just after its `[` (or `[^`), where `]` is a character.
    let (mut class, mut first) = (false, false);
    while let Some(c) = chars.next() {
        let was_first = std::mem::take(&mut first);
        match c {
            '\\' => match chars.next() {
                Some('Z') if !class => out.push_str("\\z"),
                Some(n @ ('<' | '>')) => out.push(n),
                Some('N') => return Err("`\\N{…}` (a character by its name) is not read".to_owned()),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            },
            '[' if !class => {
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                (class, first) = (true, true);
            }
            ']' if class && !was_first => {
                out.push(']');
                class = false;
            }
            '[' | '&' | '~' if class => {
                out.push('\\');
                out.push(c);
            }
            '#' if verbose && !class => {
                out.push('#');
                while let Some(n) = chars.next_if(|&n| n != '\n') {
                    out.push(n);
                }
            }
            _ => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = FILE_NAMES[0];

    fn parse(text: &str) -> PreCommit {
        PreCommit::parse(text, NAME)
    }

    const HOOKS: &str = "https://github.com/pre-commit/pre-commit-hooks";

    #[test]
    fn a_hooks_exclude_narrows_the_builtins_it_stands_for_and_no_other() {
        let pc = parse(&format!(
            "repos:\n- repo: {HOOKS}\n  rev: v5.0.0\n  hooks:\n  - id: trailing-whitespace\n    exclude: ^tests/fixtures/\n  - id: check-yaml\n"
        ));
        assert!(pc.warnings.is_empty(), "{:?}", pc.warnings);
        for kind in [BuiltinKind::TrailingWhitespace, BuiltinKind::MarkdownTrailingWhitespace] {
            let scope = pc.scope_for(kind).expect("narrowed");
            assert!(!scope.selects("tests/fixtures/a.py"));
            assert!(scope.selects("src/tests/fixtures/a.py"), "anchored at the start");
            assert!(scope.selects("src/a.py"));
            assert_eq!(
                scope.left_out_because("tests/fixtures/a.py").as_deref(),
                Some(
                    ".pre-commit-config.yaml leaves it out: hook trailing-whitespace (line 5): its exclude \"^tests/fixtures/\" (line 6) matches it"
                )
            );
            assert_eq!(scope.left_out_because("src/a.py"), None);
        }
        // Listed without patterns, and not listed at all: every file.
        assert_eq!(pc.scope_for(BuiltinKind::Yaml), None);
        assert_eq!(pc.scope_for(BuiltinKind::FinalNewline), None);
    }

    #[test]
    fn patterns_are_searched_anywhere_in_the_path_as_python_does() {
        let pc =
            parse(&format!("repos:\n- repo: {HOOKS}.git\n  hooks:\n  - id: end-of-file-fixer\n    files: \\.py$\n"));
        let scope = pc.scope_for(BuiltinKind::FinalNewline).unwrap();
        assert!(scope.selects("a/b.py"));
        assert!(!scope.selects("a/b.pyc"));
        assert!(!scope.selects("b.txt"));
        assert_eq!(
            scope.left_out_because("b.txt").as_deref(),
            Some(
                ".pre-commit-config.yaml leaves it out: hook end-of-file-fixer (line 4): its files \"\\\\.py$\" (line 5) does not match it"
            )
        );
    }

    #[test]
    fn the_global_patterns_narrow_every_builtin_but_secrets_unless_detect_private_key_runs() {
        let without = parse("exclude: ^src/pip/_vendor/\nrepos: []\n");
        for kind in BuiltinKind::ALL.iter().copied().filter(|k| *k != BuiltinKind::Secrets) {
            let scope = without.scope_for(kind).unwrap_or_else(|| panic!("{kind:?} narrowed"));
            assert!(!scope.selects("src/pip/_vendor/six.py"));
            assert_eq!(
                scope.left_out_because("src/pip/_vendor/six.py").as_deref(),
                Some(".pre-commit-config.yaml's global exclude \"^src/pip/_vendor/\" (line 1) matches it")
            );
        }
        assert_eq!(without.scope_for(BuiltinKind::Secrets), None);
        let with = parse(&format!(
            "exclude: ^src/pip/_vendor/\nrepos:\n- repo: {HOOKS}\n  hooks:\n  - id: detect-private-key\n"
        ));
        assert!(!with.scope_for(BuiltinKind::Secrets).unwrap().selects("src/pip/_vendor/key.pem"));
    }

    #[test]
    fn a_hook_listed_twice_takes_the_files_either_takes() {
        // check-yaml run with `--unsafe` on mkdocs.yml, and on the rest
        // without: every YAML file is checked.
        let pc = parse(&format!(
            "repos:\n- repo: {HOOKS}\n  hooks:\n  - id: check-yaml\n    exclude: ^mkdocs\\.yml$\n  - id: check-yaml\n    files: ^mkdocs\\.yml$\n    args: [--unsafe]\n  - id: check-json\n    exclude: ^a/\n  - id: check-json\n    exclude: ^b/\n"
        ));
        let yaml = pc.scope_for(BuiltinKind::Yaml).unwrap();
        assert!(yaml.selects("mkdocs.yml") && yaml.selects("x.yml"));
        let json = pc.scope_for(BuiltinKind::Json).unwrap();
        assert!(json.selects("a/x.json") && json.selects("b/x.json") && json.selects("c/x.json"));
        assert_eq!(json.left_out_because("a/x.json"), None);
        assert_eq!(pc.scope_for(BuiltinKind::Jsonc), None, "check-json's patterns are for strict JSON");
        // A hook with no patterns takes everything: no narrowing at all.
        let plain = parse(&format!(
            "repos:\n- repo: {HOOKS}\n  hooks:\n  - id: check-toml\n    files: ^a/\n  - id: check-toml\n"
        ));
        assert_eq!(plain.scope_for(BuiltinKind::Toml), None);
    }

    #[test]
    fn hooks_of_other_repositories_are_not_taken_for_pre_commit_hooks() {
        for repo in ["local", "https://github.com/someone/pre-commit-hooks", "meta"] {
            let pc = parse(&format!(
                "repos:\n- repo: {repo}\n  hooks:\n  - id: trailing-whitespace\n    exclude: ^x/\n    name: x\n    entry: x\n    language: system\n"
            ));
            assert_eq!(pc.scope_for(BuiltinKind::TrailingWhitespace), None, "{repo}");
        }
        for repo in [
            "builtin",
            "git@github.com:pre-commit/pre-commit-hooks.git",
            "https://gitlab.com/mirror/pre-commit/pre-commit-hooks/",
        ] {
            let pc =
                parse(&format!("repos:\n- repo: {repo}\n  hooks:\n  - id: trailing-whitespace\n    exclude: ^x/\n"));
            assert!(!pc.scope_for(BuiltinKind::TrailingWhitespace).unwrap().selects("x/a"), "{repo}");
        }
    }

    #[test]
    fn python_syntax_verdict_reads_verbose_mode_look_ahead_and_backslash_z() {
        let pc = parse(&format!(
            "repos:\n- repo: {HOOKS}\n  hooks:\n  - id: trailing-whitespace\n    exclude: |\n      (?x)^(\n          tests/data/.*|   # fixtures\n          docs/.*\\.svg\n      )$\n  - id: end-of-file-fixer\n    exclude: ^(?!src/)\n  - id: mixed-line-ending\n    exclude: \\.bat\\Z\n"
        ));
        assert!(pc.warnings.is_empty(), "{:?}", pc.warnings);
        let tw = pc.scope_for(BuiltinKind::TrailingWhitespace).unwrap();
        assert!(!tw.selects("tests/data/x.txt") && !tw.selects("docs/a.svg") && tw.selects("docs/a.md"));
        // Said by its first line, to be read in the file.
        assert_eq!(
            tw.left_out_because("docs/a.svg").as_deref(),
            Some(
                ".pre-commit-config.yaml leaves it out: hook trailing-whitespace (line 4): its exclude \"(?x)^(\"… (4 lines) (line 5) matches it"
            )
        );
        assert_eq!(tw.describe(), "hook trailing-whitespace (line 4): exclude \"(?x)^(\"… (4 lines) (line 5)");
        let eof = pc.scope_for(BuiltinKind::FinalNewline).unwrap();
        assert!(eof.selects("src/a.rs") && !eof.selects("docs/a.md"));
        let mixed = pc.scope_for(BuiltinKind::MixedLineEndings).unwrap();
        assert!(!mixed.selects("run.bat") && mixed.selects("run.bat.in"));
    }

    #[test]
    fn an_unreadable_pattern_leaves_its_hook_unapplied_and_says_so() {
        let pc = parse(&format!(
            "exclude: (unclosed\nfiles: 3\nrepos:\n- repo: {HOOKS}\n  hooks:\n  - id: trailing-whitespace\n    files: ^src/\n    exclude: '[z-a]'\n  - id: end-of-file-fixer\n    exclude: ^gen/\n"
        ));
        assert_eq!(pc.warnings.len(), 3, "{:?}", pc.warnings);
        assert!(pc.warnings[0].starts_with(".pre-commit-config.yaml line 1: the global exclude \"(unclosed\" is not a regular expression verdict can read ("), "{}", pc.warnings[0]);
        assert_eq!(
            pc.warnings[1],
            ".pre-commit-config.yaml line 2: the global files is not a string; it is not applied"
        );
        assert!(
            pc.warnings[2].starts_with(".pre-commit-config.yaml line 8: hook trailing-whitespace's exclude \"[z-a]\""),
            "{}",
            pc.warnings[2]
        );
        // The hook takes every file, not those of `^src/` alone.
        assert_eq!(pc.scope_for(BuiltinKind::TrailingWhitespace), None);
        assert!(!pc.scope_for(BuiltinKind::FinalNewline).unwrap().selects("gen/a"));
    }

    #[test]
    fn a_file_verdict_cannot_use_narrows_nothing_and_says_why() {
        for (text, why) in [
            ("repos: [\n", "line 2"),
            ("- repo: local\n", "it is not a mapping with `repos`"),
            ("", "it is not a mapping with `repos`"),
        ] {
            let pc = parse(text);
            assert!(BuiltinKind::ALL.iter().all(|k| pc.scope_for(*k).is_none()), "{text:?}");
            assert_eq!(pc.warnings.len(), 1, "{text:?}");
            assert!(pc.warnings[0].starts_with(".pre-commit-config.yaml is not applied: "), "{}", pc.warnings[0]);
            assert!(pc.warnings[0].contains(why), "{text:?}: {}", pc.warnings[0]);
        }
    }

    #[test]
    fn a_flow_list_or_quoted_scalar_laid_out_as_pyyaml_takes_it_is_read() {
        // pip's own file: the list closed at its key's column.
        let pc = parse(&format!(
            "exclude: 'src/pip/_vendor/'\nrepos:\n- repo: {HOOKS}\n  hooks:\n  - id: trailing-whitespace\n    exclude: .patch\n    additional_dependencies: [\n        'a',\n    ]\n  - id: end-of-file-fixer\n    exclude: \"^(docs\n|x)/\"\n    args: |\n      [ not a list\n  - id: mixed-line-ending\n    exclude: '^a/'\n"
        ));
        assert!(pc.warnings.is_empty(), "{:?}", pc.warnings);
        let tw = pc.scope_for(BuiltinKind::TrailingWhitespace).unwrap();
        assert!(!tw.selects("src/pip/_vendor/a.py") && !tw.selects("x.patch") && tw.selects("a.py"));
        assert_eq!(tw.hooks[0].line, 5, "lines are the file's");
        let eof = pc.scope_for(BuiltinKind::FinalNewline).unwrap();
        assert!(!eof.selects("x/a") && eof.selects("docs/a"), "{:?}", eof.hooks[0].selection.exclude);
        assert!(!pc.scope_for(BuiltinKind::MixedLineEndings).unwrap().selects("a/b"));
        // What is wrong whatever the layout is still said.
        assert!(parse("repos: [\n  a: b: c\n").warnings[0].contains("is not applied"));
    }

    /// What a differential run against Python's `re` found read otherwise.
    #[test]
    fn python_reads_these_patterns_so_and_so_does_verdict() {
        let found = |pattern: &str, path: &str| compile(pattern).unwrap().is_match(path).unwrap();
        // Characters to Python, word boundaries to fancy-regex.
        assert!(found(r"\<x\>", "<x>.txt") && !found(r"\<x\>", "x.txt"));
        // No POSIX classes, nested classes or set operations in Python.
        assert!(found("^[[:digit:]]", "d].txt") && !found("^[[:digit:]]", "5.txt"));
        assert!(found("^[a-z&&x]$", "&") && found("^[a-z&&x]$", "q") && found("^[x~~y]$", "~"));
        assert!(found("^[[]", "[a") && found("^[]a]", "]") && found("^[^]a]", "b") && !found("^[^]a]", "]"));
        assert!(found(r"^[\]&]", "&"), "an escaped `]` does not end the class");
        // Outside a class, `&` and `~` were always characters.
        assert!(found("a&b~c", "a&b~c"));
        // A verbose pattern's comment is not pattern, brackets and all.
        let verbose = "(?x)^(\n  docs/.*  # see [1\n  | a[&]b\n)$";
        assert!(found(verbose, "docs/x") && found(verbose, "a&b") && !found(verbose, "a b"));
        assert!(found(r"\.bat\Z", "x.bat") && !found(r"\.bat\Z", "x.bat.in"));
        // What verdict cannot read as Python does is refused, and said.
        let pc = parse(&format!(
            "repos:\n- repo: {HOOKS}\n  hooks:\n  - id: end-of-file-fixer\n    exclude: \\N{{LATIN SMALL LETTER A}}\n"
        ));
        assert!(pc.warnings[0].contains("is not read"), "{:?}", pc.warnings);
        assert_eq!(pc.scope_for(BuiltinKind::FinalNewline), None);
    }

    #[test]
    fn pyyaml_s_merge_keys_last_duplicates_and_any_case_addresses_are_read_as_it_reads_them() {
        let pc = parse(
            "x-hook: &narrow\n  exclude: ^gen/\nrepos:\n- repo: https://GitHub.com/Pre-Commit/Pre-Commit-Hooks\n  hooks:\n  - id: trailing-whitespace\n    <<: *narrow\n  - id: end-of-file-fixer\n    exclude: ^a/\n    exclude: ^b/\n",
        );
        assert!(pc.warnings.is_empty(), "{:?}", pc.warnings);
        let tw = pc.scope_for(BuiltinKind::TrailingWhitespace).unwrap();
        assert!(!tw.selects("gen/x") && tw.selects("src/x"));
        assert_eq!(tw.hooks[0].selection.exclude.as_ref().unwrap().line, 2, "said where it is written");
        let eof = pc.scope_for(BuiltinKind::FinalNewline).unwrap();
        assert!(eof.selects("a/x") && !eof.selects("b/x"), "the last value, as PyYAML keeps it");
    }

    #[test]
    fn a_backslash_ending_a_quoted_line_is_read() {
        // The differential run's reproducer (a panic in an earlier scanner):
        // a double-quoted scalar continued at column 0 after a `\`.
        let pc = parse("exclude: \"^a\\\n/\"\nfiles: x\nfiles: ''\nrepos: []\n");
        assert!(pc.warnings.is_empty(), "{:?}", pc.warnings);
        assert!(!pc.scope_for(BuiltinKind::Utf8).unwrap().selects("a/b"));
    }

    #[test]
    fn check_added_large_files_maxkb_is_read_as_its_argparse_reads_it() {
        let limit = |args: &str| {
            parse(&format!("repos:\n- repo: {HOOKS}\n  hooks:\n  - id: check-added-large-files\n    args: {args}\n"))
                .max_size()
        };
        assert_eq!(limit("['--maxkb=1000']"), Some((1000 * 1024, 5)));
        assert_eq!(limit("[--maxkb, '2048']"), Some((2048 * 1024, 5)));
        assert_eq!(limit("[--max=10, --enforce-all]"), Some((10 * 1024, 5)));
        assert_eq!(limit("[--maxkb=1, --maxkb=3]"), Some((3 * 1024, 5)), "the last one given");
        for none in ["[--enforce-all]", "[--maxkb=lots]", "[--maxkbx=5]", "[-m=5]", "'--maxkb=5'"] {
            assert_eq!(limit(none), None, "{none}");
        }
        // Run twice: the larger limit.
        let pc = parse(&format!(
            "repos:\n- repo: {HOOKS}\n  hooks:\n  - id: check-added-large-files\n    args: [--maxkb=100]\n  - id: check-added-large-files\n    args: [--maxkb=900]\n    files: ^assets/\n"
        ));
        assert_eq!(pc.max_size(), Some((900 * 1024, 7)), "the line of its args");
    }

    /// The limit applies to `large-file` (and to a validator of its kind
    /// under another name) unless verdict.toml sets one.
    #[test]
    fn maxkb_sets_large_file_s_limit_unless_verdict_toml_does() {
        use crate::config::{Config, ValidatorKind};
        let pc = parse(&format!(
            "repos:\n- repo: {HOOKS}\n  hooks:\n  - id: check-added-large-files\n    args: [--maxkb=1000]\n"
        ));
        let limit = |toml: &str, name: &str| {
            let config = Config {
                pre_commit: Some(Arc::new(pc.clone())),
                ..Config::parse(toml, Path::new("/p/verdict.toml")).unwrap()
            };
            match config.validator(name).unwrap().kind {
                ValidatorKind::Builtin { settings, .. } => settings.max_size,
                ValidatorKind::Command(_) => unreachable!(),
            }
        };
        assert_eq!(limit("", "large-file"), 1000 * 1024);
        assert_eq!(limit("[validators.big]\nkind = \"large-file\"\n", "big"), 1000 * 1024);
        assert_eq!(limit("[validators.large-file]\nmax_size = \"512KiB\"\n", "large-file"), 512 * 1024);
        assert_eq!(limit("[validators.large-file]\ntimeout = \"1s\"\n", "large-file"), 1000 * 1024);
    }

    /// What a hostile or broken file costs: a note, and no narrowing.
    #[test]
    fn an_alias_bomb_deep_nesting_and_a_huge_file_narrow_nothing_and_say_why() {
        // Billion laughs: saphyr stops expanding at its budget.
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (i, name) in ["b", "c", "d", "e", "f", "g", "h"].iter().enumerate() {
            let prev = ["a", "b", "c", "d", "e", "f", "g"][i];
            bomb.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        bomb.push_str("exclude: ^x/\nrepos: []\n");
        let deep = format!("exclude: {}{}\nrepos: []\n", "[".repeat(100_000), "]".repeat(100_000));
        for text in [bomb, deep] {
            let pc = parse(&text);
            assert!(BuiltinKind::ALL.iter().all(|k| pc.scope_for(*k).is_none()));
            assert!(pc.warnings[0].starts_with(".pre-commit-config.yaml is not applied: "), "{:?}", pc.warnings);
        }
        let dir = tempfile::tempdir().unwrap();
        let huge = format!("exclude: ^x/\nrepos: []\n#{}\n", "x".repeat(2 << 20));
        std::fs::write(dir.path().join(FILE_NAMES[0]), huge).unwrap();
        let pc = PreCommit::load(dir.path()).unwrap();
        assert!(pc.warnings[0].contains("more than the 1048576 a configuration may hold"), "{:?}", pc.warnings);
        // A pattern that backtracks past the limit checks the file (in doubt).
        let pc = parse(&format!(
            "repos:\n- repo: {HOOKS}\n  hooks:\n  - id: end-of-file-fixer\n    exclude: '^(a|a?)+(?=b)$'\n"
        ));
        let scope = pc.scope_for(BuiltinKind::FinalNewline).unwrap();
        let path = "a".repeat(64);
        assert!(compile("^(a|a?)+(?=b)$").unwrap().is_match(&path).is_err(), "the search gives up");
        assert!(scope.selects(&path), "not excluded when the search gives up");
    }

    #[test]
    fn anchors_and_aliases_are_followed() {
        let pc = parse(&format!(
            "x-fixtures: &fixtures ^tests/data/\nrepos:\n- repo: {HOOKS}\n  hooks:\n  - id: trailing-whitespace\n    exclude: *fixtures\n"
        ));
        assert!(!pc.scope_for(BuiltinKind::TrailingWhitespace).unwrap().selects("tests/data/a"));
    }

    #[test]
    fn load_finds_the_yml_spelling_and_refuses_what_is_not_a_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(PreCommit::load(dir.path()), None);
        std::fs::write(dir.path().join(".pre-commit-config.yml"), "exclude: ^v/\nrepos: []\n").unwrap();
        let pc = PreCommit::load(dir.path()).unwrap();
        assert_eq!(pc.file, ".pre-commit-config.yml");
        assert!(!pc.scope_for(BuiltinKind::Utf8).unwrap().selects("v/a"));
        std::fs::create_dir(dir.path().join(".pre-commit-config.yaml")).unwrap();
        let pc = PreCommit::load(dir.path()).unwrap();
        assert_eq!(pc.file, ".pre-commit-config.yaml");
        assert_eq!(
            pc.warnings,
            [
                ".pre-commit-config.yaml is not applied: cannot read the file: not a regular file; the built-ins check the files their own patterns select"
            ]
        );
        std::fs::remove_dir(dir.path().join(".pre-commit-config.yaml")).unwrap();
        nix::unistd::mkfifo(&dir.path().join(".pre-commit-config.yaml"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        // A FIFO is not waited on.
        assert!(PreCommit::load(dir.path()).unwrap().warnings[0].contains("not a regular file"));
    }
}
