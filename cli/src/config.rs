//! `verdict.toml`: the project's configuration.
//!
//! The file lives at the project root (the nearest ancestor directory that
//! holds a `verdict.toml`, see [`find_config`]). When there is none,
//! [`Config::default`] applies: every built-in validator with its defaults.
//!
//! Loading never stops at the first problem. The document is parsed once into
//! a spanned tree; then every section and every `[validators.NAME]` table is
//! checked on its own, so one run reports every unknown key, bad value and
//! semantic mistake, each with its file, line, column and dotted key (see
//! [`ConfigError`]).
//!
//! The user-facing reference is `docs/configuration.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Serialize;
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};
use verdict_actors::builtin::{BuiltinKind, BuiltinSettings};

use crate::gitleaks::Allowlist;
use crate::pre_commit::PreCommit;
use crate::scope::ProjectScope;

/// The configuration file's name, looked up at the project root.
pub const FILE_NAME: &str = "verdict.toml";

/// The `verdict.toml` of the project containing `start`, if it has one:
/// at the project root ([`crate::paths::project_root`]).
pub fn find_config(start: &Path) -> Option<PathBuf> {
    let root = crate::paths::project_root(start).ok()?;
    Some(root.join(FILE_NAME)).filter(|p| config_present(p))
}

/// Whether something is at `path`, whatever it is: a `verdict.toml` that is
/// a directory, a FIFO or a dangling link is still the project's
/// configuration, refused with a message when read, never taken for "no
/// file" (which would run the defaults).
pub fn config_present(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

// ---------------------------------------------------------------------------
// Settings types
// ---------------------------------------------------------------------------

/// The whole `verdict.toml`, with every default applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The file this was read from; `None` for [`Config::default`].
    pub source: Option<PathBuf>,
    /// `builtins`: include every built-in validator with its defaults.
    pub builtins: bool,
    /// `[daemon]`.
    pub daemon: DaemonSettings,
    /// `[cache]`.
    pub cache: CacheSettings,
    /// `[check]`.
    pub check: CheckSettings,
    /// `[defaults]`, as resolved (already applied to `declared`).
    pub defaults: ValidatorDefaults,
    /// The `[validators.NAME]` tables as written, resolved against the
    /// defaults, by name. Disabled ones included. See [`Config::validators`]
    /// for the effective list.
    pub declared: BTreeMap<String, ValidatorConfig>,
    /// The project's `.pre-commit-config.yaml`, when `check.pre_commit` is
    /// on and there is one ([`Config::with_project_files`]): its patterns
    /// narrow the built-ins' files ([`ValidatorConfig::project_scope`]).
    pub pre_commit: Option<Arc<PreCommit>>,
    /// The project's `.gitleaks.toml`, when `check.gitleaks` is on and
    /// there is one: its allowlists' paths narrow `secrets`' files.
    pub gitleaks: Option<Arc<Allowlist>>,
}

/// `[daemon]`: the background process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaemonSettings {
    /// `grace_period`: how long shutdown waits for running jobs before killing them.
    pub grace_period: Duration,
    /// `idle_timeout`: a client connection silent for this long is closed.
    pub idle_timeout: Duration,
    /// `max_connections`: client connections accepted at once.
    pub max_connections: usize,
    /// `log_max_size`: the daemon log is rotated once it exceeds this many bytes.
    pub log_max_size: u64,
    /// `log_keep`: rotated log files kept.
    pub log_keep: usize,
    /// `exit_after_idle`: the daemon exits after this long with no client
    /// (zero: never).
    pub exit_after_idle: Duration,
}

impl Default for DaemonSettings {
    fn default() -> Self {
        DaemonSettings {
            grace_period: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(5 * 60),
            max_connections: 256,
            log_max_size: 10 * MIB,
            log_keep: 5,
            exit_after_idle: Duration::from_secs(3 * 3600),
        }
    }
}

/// `[cache]`: the result cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheSettings {
    /// `enabled`: when false, nothing is read from or written to the cache.
    pub enabled: bool,
    /// `dir`: data-directory override; a relative path in the file is
    /// resolved against the project root (the directory of `verdict.toml`).
    pub dir: Option<PathBuf>,
    /// `ttl`: default time-to-live of a cached result; zero = never expires.
    pub ttl: Duration,
    /// `block_cache`: RocksDB block-cache size, in bytes.
    pub block_cache: u64,
    /// `write_buffer`: RocksDB write-buffer size, in bytes.
    pub write_buffer: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            enabled: true,
            dir: None,
            ttl: Duration::from_secs(24 * 60 * 60),
            block_cache: 32 * MIB,
            write_buffer: 4 * MIB,
        }
    }
}

/// `[check]`: file selection for every check run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckSettings {
    /// `exclude`: globs excluded for every validator (on top of gitignore).
    pub exclude: Vec<String>,
    /// `max_file_size`: built-ins do not read larger files (their outcome is skipped).
    pub max_file_size: u64,
    /// `watch`: watch the walked directories with inotify so that a
    /// re-check of an unchanged tree is answered without walking it.
    pub watch: bool,
    /// `pre_commit`: apply the file selection of the project's
    /// `.pre-commit-config.yaml` to the built-ins (see [`crate::pre_commit`]).
    pub pre_commit: bool,
    /// `gitleaks`: keep `secrets` off the paths the project's
    /// `.gitleaks.toml` allows (see [`crate::gitleaks`]).
    pub gitleaks: bool,
}

impl Default for CheckSettings {
    fn default() -> Self {
        CheckSettings { exclude: Vec::new(), max_file_size: 256 * MIB, watch: true, pre_commit: true, gitleaks: true }
    }
}

impl CheckSettings {
    /// The global excludes compiled with [`exclude_set`] semantics.
    pub fn exclude_set(&self) -> Result<GlobSet, globset::Error> {
        exclude_set(&self.exclude)
    }

    /// The directories `exclude` takes out whole ([`excluded_dirs_set`]).
    pub fn excluded_dirs_set(&self) -> GlobSet {
        excluded_dirs_set(&self.exclude)
    }
}

/// How a validator's crashed child is restarted, and when it is given up on.
///
/// The first restart is immediate; later ones wait `backoff`, doubling (with
/// jitter) up to `backoff_max`. After `reset_after` of clean running the delay
/// starts over. More than `max_restarts` restarts within `window` quarantine
/// the validator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RestartPolicy {
    /// `max_restarts`: restarts allowed within `window`.
    pub max_restarts: u32,
    /// `window`: the sliding window `max_restarts` is counted in.
    pub window: Duration,
    /// `backoff`: delay before the second restart.
    pub backoff: Duration,
    /// `backoff_max`: the delay never grows past this.
    pub backoff_max: Duration,
    /// `reset_after`: clean running time after which the backoff starts over.
    pub reset_after: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            max_restarts: 5,
            window: Duration::from_secs(60),
            backoff: Duration::from_millis(10),
            backoff_max: Duration::from_secs(5),
            reset_after: Duration::from_secs(30),
        }
    }
}

/// `[defaults]`: values every validator inherits unless its table overrides them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorDefaults {
    /// `timeout`: deadline of one job.
    pub timeout: Duration,
    /// `concurrency`: jobs of one validator at once (default: number of CPUs).
    pub concurrency: usize,
    /// `batch_size`: files per job for batching validators.
    pub batch_size: usize,
    /// `[defaults.restart]`.
    pub restart: RestartPolicy,
}

impl Default for ValidatorDefaults {
    fn default() -> Self {
        ValidatorDefaults {
            timeout: Duration::from_secs(30),
            concurrency: std::thread::available_parallelism().map_or(1, |n| n.get()),
            batch_size: 64,
            restart: RestartPolicy::default(),
        }
    }
}

/// One validator, fully resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidatorConfig {
    /// Its name: the `NAME` of `[validators.NAME]`, or the built-in's name.
    pub name: String,
    /// What runs.
    pub kind: ValidatorKind,
    /// `enabled`.
    pub enabled: bool,
    /// `dimension`: the free-form word results are grouped under (`lint`, `format`, …).
    pub dimension: String,
    /// `files`: globs selecting the files it validates (see [`include_set`]).
    pub files: Vec<String>,
    /// `exclude`: globs removed from that selection (see [`exclude_set`]).
    pub exclude: Vec<String>,
    /// `timeout`: deadline of one job.
    pub timeout: Duration,
    /// `cache_ttl`: how long its results stay cached; zero = never expire.
    pub cache_ttl: Duration,
    /// `concurrency`: jobs at once.
    pub concurrency: usize,
    /// `batch_size`: files per job.
    pub batch_size: usize,
    /// `restart`.
    pub restart: RestartPolicy,
    /// Whether its table sets `max_size` (`large-file`): a limit of the
    /// project's `.pre-commit-config.yaml` gives way to it.
    pub max_size_set: bool,
    /// For a built-in, what the project's `.pre-commit-config.yaml` (and,
    /// for `secrets`, its `.gitleaks.toml`) says of its files: it checks
    /// only those this selects as well. Not part of its identity: it
    /// changes which files are checked, not what a file's check finds.
    pub project_scope: Option<Arc<ProjectScope>>,
}

/// What a validator runs.
#[derive(Clone, Debug, PartialEq)]
pub enum ValidatorKind {
    /// A check compiled into verdict.
    Builtin {
        /// Which one.
        kind: BuiltinKind,
        /// Its settings (`max_size` for `large-file`).
        settings: BuiltinSettings,
    },
    /// An external program.
    Command(CommandConfig),
}

impl ValidatorKind {
    /// The `kind` word: `command` or the built-in's name.
    pub fn name(&self) -> &'static str {
        match self {
            ValidatorKind::Builtin { kind, .. } => kind.name(),
            ValidatorKind::Command(_) => "command",
        }
    }
}

/// The settings of a `kind = "command"` validator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandConfig {
    /// `command`: argv, run directly (never through a shell). Never empty.
    pub command: Vec<String>,
    /// `mode`: one file per run, or many.
    pub mode: CommandMode,
    /// Files per run in batch mode (the validator's `batch_size`).
    pub batch_size: usize,
    /// `parser`: how the output becomes findings.
    pub parser: ParserKind,
    /// `pattern`: the regex for [`ParserKind::Regex`] (checked to compile).
    pub pattern: Option<String>,
    /// `version`: argv whose output identifies the tool's version.
    pub version: Option<Vec<String>>,
    /// `env`: names of environment variables passed through (`PATH` always is).
    pub env: Vec<String>,
    /// `max_output`: bytes of output read from one run.
    pub max_output: u64,
    /// `findings_exit_codes`: the non-zero exit statuses that mean the tool
    /// found problems (any other means it failed); `None` for the parser's
    /// default.
    pub findings_exit_codes: Option<Vec<i32>>,
    /// `kill_after`: how long a timed-out run's processes get between
    /// `SIGTERM` and `SIGKILL`.
    pub kill_after: Duration,
}

/// How a command is given files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandMode {
    /// One run per file; the path is the last argument.
    PerFile,
    /// One run per batch of up to `batch_size` files, appended as arguments.
    Batch,
}

impl CommandMode {
    /// The word used in `verdict.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandMode::PerFile => "per_file",
            CommandMode::Batch => "batch",
        }
    }
}

/// How a command's output is turned into findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParserKind {
    /// Exit status 0 passes; anything else is one finding carrying the output.
    ExitCode,
    /// Each output line matching `pattern` is a finding.
    Regex,
    /// The output is a SARIF 2.1.0 log.
    Sarif,
}

impl ParserKind {
    /// The word used in `verdict.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            ParserKind::ExitCode => "exit_code",
            ParserKind::Regex => "regex",
            ParserKind::Sarif => "sarif",
        }
    }
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// Default `max_output` of a command validator.
pub const DEFAULT_MAX_OUTPUT: u64 = MIB;
/// Default `dimension` of a command validator.
pub const DEFAULT_COMMAND_DIMENSION: &str = "lint";

// ---------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------

impl Default for Config {
    /// Built-ins only: what applies when the project has no `verdict.toml`.
    fn default() -> Self {
        Config {
            source: None,
            builtins: true,
            daemon: DaemonSettings::default(),
            cache: CacheSettings::default(),
            check: CheckSettings::default(),
            defaults: ValidatorDefaults::default(),
            declared: BTreeMap::new(),
            pre_commit: None,
            gitleaks: None,
        }
    }
}

impl Config {
    /// Reads and parses `path`. An unreadable file is one issue.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_checked(path, false)
    }

    /// [`load`](Self::load) for a configuration to apply: its command
    /// validators will run as this user, so the file must be theirs or
    /// root's (see [`foreign_owner`]).
    pub fn load_to_apply(path: &Path) -> Result<Config, ConfigError> {
        Self::load_checked(path, true)
    }

    fn load_checked(path: &Path, to_apply: bool) -> Result<Config, ConfigError> {
        match read_config_file(path, to_apply) {
            Ok(text) => Config::parse(&text, path),
            Err((message, at)) => Err(ConfigError {
                errors: vec![ConfigIssue {
                    path: Some(path.to_path_buf()),
                    line: at.map(|(line, _)| line),
                    column: at.map(|(_, column)| column),
                    key: String::new(),
                    message,
                }],
            }),
        }
    }

    /// Parses `text`, the content of the file at `origin` (used in issues, to
    /// resolve a relative `cache.dir`, and kept as [`Config::source`]).
    ///
    /// Every problem found is reported, sorted by position.
    pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let mut cx = Cx::new(text, origin);
        let doc = match DeTable::parse(text) {
            Ok(doc) => doc,
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let mut message = e.message().trim_end().to_string();
                let mut key = String::new();
                // The parser says only "duplicate key"; its span is the key.
                if message == "duplicate key"
                    && let Some(name) = text.get(span.clone()).map(str::trim).filter(|k| !k.is_empty())
                {
                    key = dotted_key_at(text, span.clone()).unwrap_or_else(|| name.to_string());
                    message = format!("duplicate key {key}: it is defined earlier in the file");
                } else if let Some((at, word)) = key_of_value_at(text, span.start) {
                    // A value the parser could not read: the key it was
                    // for, and, for a bare word, what it lacks.
                    key = at;
                    if let Some(word) = word {
                        message = format!(
                            "`{word}` is not a TOML value: the booleans are true and false, and a string needs \
                             quotes (\"{word}\")"
                        );
                    }
                }
                // Something after a whole value (`grace_period = "1s" "2s"`):
                // the key it belongs to, and what is wrong in plain words.
                if key.is_empty()
                    && message.starts_with("unexpected key or value")
                    && let Some(at) = key_of_statement_at(text, span.start)
                {
                    key = at;
                    message = "a second value after the first: a key/value pair ends its line (several values go \
                               in an array, separated by commas)"
                        .to_owned();
                }
                // Inside an inline table or an array (`restart = { window =
                // "1s" "2s" }`): the parser's words, and the key whose value
                // it is in.
                if key.is_empty()
                    && message.starts_with("missing comma")
                    && let Some(at) = key_of_statement_at(text, span.start)
                {
                    key = at;
                }
                message = verdict_actors::builtin::plain_toml_message(message, text.get(span.clone()));
                cx.issue(span, key, message);
                return Err(cx.finish());
            }
        };
        let root = Tbl { table: doc.get_ref(), path: String::new(), span: 0..0 };
        cx.check_keys(&root, ROOT_KEYS, |_| None);

        let mut config = Config { source: Some(origin.to_path_buf()), ..Config::default() };
        if let Some(b) = cx.bool(&root, "builtins") {
            config.builtins = b;
        }
        if let Some(t) = cx.sub_table(&root, "daemon") {
            config.daemon = parse_daemon(&mut cx, &t);
        }
        if let Some(t) = cx.sub_table(&root, "cache") {
            config.cache = parse_cache(&mut cx, &t, origin);
        }
        if let Some(t) = cx.sub_table(&root, "check") {
            config.check = parse_check(&mut cx, &t);
        }
        if let Some(t) = cx.sub_table(&root, "defaults") {
            config.defaults = parse_defaults(&mut cx, &t);
        }
        if let Some(vt) = cx.sub_table(&root, "validators") {
            for (key, value) in vt.table.iter() {
                let name: &str = key.get_ref();
                let path = join_key(&vt.path, name);
                let name_ok = valid_word(name);
                if !name_ok {
                    cx.issue(
                        key.span(),
                        path.clone(),
                        format!(
                            "invalid validator name {name:?}: use ASCII letters, digits, '-' and '_' only, not starting with '-'"
                        ),
                    );
                }
                let DeValue::Table(table) = value.get_ref() else {
                    cx.issue(value.span(), path, format!("expected a table, found {}", value.get_ref().type_str()));
                    continue;
                };
                let t = Tbl { table, path, span: key.span() };
                let v = parse_validator(&mut cx, name, &t, &config.defaults, config.cache.ttl);
                if let (true, Some(v)) = (name_ok, v) {
                    config.declared.insert(name.to_string(), v);
                }
            }
        }

        if cx.issues.is_empty() { Ok(config) } else { Err(cx.finish()) }
    }

    /// The built-in `kind` as it runs without a table of its own.
    pub fn builtin_default(&self, kind: BuiltinKind) -> ValidatorConfig {
        ValidatorConfig {
            name: kind.name().to_string(),
            kind: ValidatorKind::Builtin { kind, settings: BuiltinSettings::default() },
            enabled: true,
            dimension: kind.default_dimension().to_string(),
            files: kind.default_files().iter().map(|s| s.to_string()).collect(),
            exclude: kind.default_exclude().iter().map(|s| s.to_string()).collect(),
            timeout: self.defaults.timeout,
            cache_ttl: self.cache.ttl,
            concurrency: self.defaults.concurrency,
            batch_size: self.defaults.batch_size,
            restart: self.defaults.restart,
            max_size_set: false,
            project_scope: None,
        }
    }

    /// This configuration with the project's `.pre-commit-config.yaml` and
    /// `.gitleaks.toml` at `root` read, each when its `check` key is on (and
    /// without it, off).
    pub fn with_project_files(mut self, root: &Path) -> Config {
        self.pre_commit = self.check.pre_commit.then(|| PreCommit::load(root)).flatten().map(Arc::new);
        self.gitleaks = self.check.gitleaks.then(|| Allowlist::load(root)).flatten().map(Arc::new);
        self
    }

    /// What the configuration has to say of itself in every check's notes:
    /// the parts of `.pre-commit-config.yaml` and `.gitleaks.toml` it does
    /// not apply.
    pub fn notes(&self) -> Vec<String> {
        let pre_commit = self.pre_commit.iter().flat_map(|p| p.warnings.iter());
        pre_commit.chain(self.gitleaks.iter().flat_map(|g| g.warnings.iter())).cloned().collect()
    }

    /// Every validator, sorted by name, disabled ones included (with
    /// `enabled == false`): the built-ins when `builtins = true`, each replaced
    /// by a table of the same name, plus every other table.
    pub fn all_validators(&self) -> Vec<ValidatorConfig> {
        let mut all: BTreeMap<String, ValidatorConfig> = BTreeMap::new();
        if self.builtins {
            for kind in BuiltinKind::ALL.iter().copied() {
                all.insert(kind.name().to_string(), self.builtin_default(kind));
            }
        }
        for (name, v) in &self.declared {
            all.insert(name.clone(), v.clone());
        }
        for v in all.values_mut() {
            let ValidatorKind::Builtin { kind, settings } = &mut v.kind else { continue };
            let pre_commit = self.pre_commit.as_ref().and_then(|pc| pc.scope_for(*kind));
            let gitleaks = self.gitleaks.clone().filter(|_| *kind == BuiltinKind::Secrets);
            v.project_scope = ProjectScope::of(pre_commit, gitleaks);
            // The project's `check-added-large-files --maxkb`, unless
            // verdict.toml says otherwise.
            if *kind == BuiltinKind::LargeFile
                && !v.max_size_set
                && let Some((bytes, _)) = self.pre_commit.as_ref().and_then(|pc| pc.max_size())
            {
                settings.max_size = bytes;
            }
        }
        all.into_values().collect()
    }

    /// The effective validators, sorted by name: [`Config::all_validators`]
    /// without the disabled ones. This is what runs.
    pub fn validators(&self) -> Vec<ValidatorConfig> {
        self.all_validators().into_iter().filter(|v| v.enabled).collect()
    }

    /// The effective (enabled) validator called `name`.
    pub fn validator(&self, name: &str) -> Option<ValidatorConfig> {
        self.validators().into_iter().find(|v| v.name == name)
    }
}

// ---------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------

/// Bumped whenever the identity encoding changes, invalidating every cache entry.
const IDENTITY_FORMAT: u32 = 1;

#[derive(Serialize)]
struct IdentityInput<'a> {
    format: u32,
    name: &'a str,
    kind: &'a str,
    builtin: Option<&'a BuiltinSettings>,
    command: Option<CommandIdentity<'a>>,
    tool_version: Option<&'a str>,
    env: Vec<(&'a str, Option<&'a str>)>,
}

#[derive(Serialize)]
struct CommandIdentity<'a> {
    argv: &'a [String],
    /// The executable's path as bytes (a path need not be UTF-8).
    #[serde(skip_serializing_if = "Option::is_none")]
    program: Option<&'a [u8]>,
    mode: CommandMode,
    batch_size: Option<usize>,
    parser: ParserKind,
    pattern: Option<&'a str>,
    env_names: Vec<&'a str>,
    max_output: u64,
    findings_exit_codes: Option<&'a [i32]>,
    /// [`OUTPUT_READING`].
    output_reading: u32,
}

/// Bumped whenever verdict reads a tool's output differently (the same
/// output can give other outcomes), so that a command validator's cached
/// results are not answered under the old reading. 2: ANSI escapes stripped,
/// SARIF levels as SARIF 2.1.0 section 3.27.10 gives them, tool notifications
/// located at a file, exit statuses that are not findings. 3: verdict's own
/// notes on a list carry `verdict:` rules. 4: tools run with `LC_CTYPE=C.UTF-8`
/// unless `env` passes `LANG`, `LC_CTYPE` or `LC_ALL`; a name printed lossily that several
/// files of a batch read as (one holding U+FFFD itself) passes none of them,
/// in SARIF too; non-ASCII blanks in messages are kept. 5: a regex match found
/// by its name as printed reads its other groups from the line without
/// terminal escapes (a coloured severity was an error). 6: a tool's rule
/// starting with `verdict:` (verdict's own notes') is reported as
/// `tool:verdict:…`. 7: a path through a linked directory to the project
/// names its file; a SARIF run without `results` no longer voids the
/// others' findings; in batch mode a SARIF result without a location is
/// no file's, in a batch of one too; a SARIF URI with an unescaped `%`
/// names the file so named. 8: a regex column on no usable line (0, or
/// past `u32`) is dropped with it; the `exit_code` parser's message joins
/// its tabs and runs of blanks as the others do.
const OUTPUT_READING: u32 = 8;

impl ValidatorConfig {
    /// The validator's identity: the part of the cache key that says "these
    /// results were computed by this exact validator".
    ///
    /// It is the xxh3-128 (big-endian bytes) of the JSON encoding of: an
    /// encoding version, the name, the kind word; for a built-in all its
    /// [`BuiltinSettings`] (today `max_size`); for a command its argv, mode, `batch_size` (batch mode
    /// only), parser, pattern, pass-through variable names (sorted) and
    /// `max_output`, and `program`, the executable its first word names as
    /// a run finds it (so that a tool found elsewhere on `PATH`, or the
    /// `tools/lint.sh` of another project sharing the cache, is another
    /// validator); then `tool_version` (the output of the `version` command,
    /// if any) and `env_values` (sorted by name; `None` = unset).
    ///
    /// Not included, because they do not change a file's result: `enabled`,
    /// `dimension`, `files`, `exclude`, `timeout`, `cache_ttl`, `concurrency`,
    /// `restart`, `kill_after`, the `version` argv itself, and `batch_size`
    /// in per-file mode.
    pub fn identity(
        &self,
        program: Option<&Path>,
        tool_version: Option<&str>,
        env_values: &[(String, Option<String>)],
    ) -> [u8; 16] {
        // The statuses that mean findings as they act: in any order, and the
        // parser's default (`[1]` for `regex` and `sarif`) the same as none
        // written.
        let codes = match &self.kind {
            ValidatorKind::Command(c) => c.findings_exit_codes.as_ref().map(|v| {
                let mut v = v.clone();
                v.sort_unstable();
                v
            }),
            ValidatorKind::Builtin { .. } => None,
        }
        .filter(|v| {
            let default = matches!(&self.kind, ValidatorKind::Command(c) if matches!(c.parser, ParserKind::Regex | ParserKind::Sarif));
            !(default && v.as_slice() == [1])
        });
        let (builtin, command) = match &self.kind {
            ValidatorKind::Builtin { settings, .. } => (Some(settings), None),
            ValidatorKind::Command(c) => {
                let mut env_names: Vec<&str> = c.env.iter().map(String::as_str).collect();
                env_names.sort_unstable();
                env_names.dedup();
                let command = CommandIdentity {
                    argv: &c.command,
                    mode: c.mode,
                    batch_size: (c.mode == CommandMode::Batch).then_some(c.batch_size),
                    parser: c.parser,
                    pattern: c.pattern.as_deref(),
                    env_names,
                    max_output: c.max_output,
                    findings_exit_codes: codes.as_deref(),
                    output_reading: OUTPUT_READING,
                    program: program.map(|p| p.as_os_str().as_encoded_bytes()),
                };
                (None, Some(command))
            }
        };
        let mut env: Vec<(&str, Option<&str>)> = env_values.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
        env.sort_unstable();
        let input = IdentityInput {
            format: IDENTITY_FORMAT,
            name: &self.name,
            kind: self.kind.name(),
            builtin,
            command,
            tool_version,
            env,
        };
        let bytes = serde_json::to_vec(&input).expect("identity input serializes");
        xxhash_rust::xxh3::xxh3_128(&bytes).to_be_bytes()
    }

    /// The command settings, for a command validator.
    pub fn command(&self) -> Option<&CommandConfig> {
        match &self.kind {
            ValidatorKind::Command(c) => Some(c),
            ValidatorKind::Builtin { .. } => None,
        }
    }

    /// Its `files` and `exclude` compiled (see [`FileFilter`]).
    pub fn file_filter(&self) -> Result<FileFilter, globset::Error> {
        Ok(FileFilter::new(&self.files, &self.exclude)?.narrowed(self.project_scope.clone()))
    }

    /// Why the file `rel` (relative to the project root), which this
    /// validator's `files` take, is not selected: the first `exclude`
    /// pattern that takes it out, in words that end a sentence naming it
    /// (said to be a built-in's default when the list is the default one),
    /// or the `.pre-commit-config.yaml` pattern that does.
    /// `None` when it is selected, or when `files` do not take it.
    pub fn excluded_because(&self, rel: &Path) -> Option<String> {
        let filter = FileFilter::new(&self.files, &self.exclude).ok()?;
        let selects = |files: &[String], exclude: &[String]| {
            FileFilter::new(files, exclude).ok().is_some_and(|f| f.is_match(rel))
        };
        if !selects(&self.files, &[]) {
            return None;
        }
        if filter.is_match(rel) {
            return self.project_scope.as_ref()?.left_out_because(&rel.to_string_lossy());
        }
        let every = ["*".to_owned()];
        let pattern = self.exclude.iter().find(|p| !selects(&every, std::slice::from_ref(p)))?;
        let default = match &self.kind {
            ValidatorKind::Builtin { kind, .. } => {
                kind.name() == self.name
                    && self.exclude.iter().map(String::as_str).eq(kind.default_exclude().iter().copied())
            }
            ValidatorKind::Command(_) => false,
        };
        Some(if default {
            format!(
                "its default exclude has {pattern:?} (`verdict config show {}` prints the list, to set in its table)",
                self.name
            )
        } else {
            format!("its exclude has {pattern:?}")
        })
    }
}

// ---------------------------------------------------------------------------
// Globs
// ---------------------------------------------------------------------------

/// Rewrites a pattern from `verdict.toml` into the globset pattern matched
/// against a `/`-separated path relative to the project root:
/// a leading `./` or `/` anchors at the root and is dropped; a trailing `/`
/// is dropped; a pattern with no `/` left gets `**/` in front, so it matches
/// the file name at any depth.
fn normalize_glob(pattern: &str) -> String {
    let p = pattern.trim_end_matches('/');
    if let Some(anchored) = p.strip_prefix("./").or_else(|| p.strip_prefix('/')) {
        anchored.to_string()
    } else if p.contains('/') {
        p.to_string()
    } else {
        format!("**/{p}")
    }
}

fn compile_glob(pattern: &str) -> Result<globset::Glob, globset::Error> {
    GlobBuilder::new(pattern).literal_separator(true).backslash_escape(true).build()
}

/// Compiles `files`-style globs. Matching is against the path relative to the
/// project root, `/`-separated: `*`, `?` and `[…]` never cross a `/`, `**`
/// matches any number of directories, `{a,b}` alternates; a pattern without
/// `/` matches the file name at any depth (`*.sh` = `**/*.sh`); a pattern with
/// a `/` is anchored at the root (`src/*.rs` matches `src/a.rs` only); a
/// leading `/` or `./` anchors one without (`./Makefile`: the top-level one only).
///
/// A trailing `/` names a directory, as in an ignore file: `lib/` selects
/// the files below `lib`, not a file named `lib`.
///
/// The file-by-file statement of those rules: a check selects with
/// [`FileFilter`], which answers a directory's patterns once per directory
/// and is tested to select what this set does.
pub fn include_set(patterns: &[String]) -> Result<GlobSet, globset::Error> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let n = normalize_glob(p);
        if names_directory(p) {
            add_below(&mut b, &n)?;
        } else {
            b.add(compile_glob(&n)?);
        }
    }
    b.build()
}

/// Adds the globs of every file below a directory that `dir` matches: one
/// path segment at least after it, so that a pattern matching any name
/// (`*/`) does not take a file at the root for a directory.
fn add_below(b: &mut GlobSetBuilder, dir: &str) -> Result<(), globset::Error> {
    let dir = as_directory(dir);
    b.add(compile_glob(&format!("{dir}/*"))?);
    b.add(compile_glob(&format!("{dir}/**/*"))?);
    Ok(())
}

/// A normalised pattern as matched against directories: `**/` (any
/// directory) as `*`, since `**` alone also matches no directory at all.
fn as_directory(pattern: &str) -> &str {
    if pattern.split('/').all(|c| c == "**") { "*" } else { pattern }
}

/// The first character outside ASCII inside a class `[…]` of `pattern`:
/// globs match bytes (as git's do), so a class holds single bytes only.
fn non_ascii_in_class(pattern: &str) -> Option<char> {
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let escaped = chars.next()?;
                if in_class && !escaped.is_ascii() {
                    return Some(escaped);
                }
            }
            '[' if !in_class => {
                in_class = true;
                // A `]` first (after a `!`) is one of the class's bytes.
                if chars.peek() == Some(&'!') {
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    chars.next();
                }
            }
            ']' if in_class => in_class = false,
            c if in_class && !c.is_ascii() => return Some(c),
            _ => {}
        }
    }
    None
}

/// A path component no path of the project has (`..` anywhere, `.` past
/// a leading `./`), in `pattern`: its escapes undone, and alternatives
/// (`{a,..}`) taken apart.
fn impossible_component(pattern: &str) -> Option<&'static str> {
    let mut plain = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        plain.push(if c == '\\' { chars.next().unwrap_or(c) } else { c });
    }
    let body = plain.strip_prefix("./").unwrap_or(&plain);
    let mut found = None;
    // Each run between separators, with the separators around it: a run
    // between two groups (`{a,b}.{c,d}`) joins their alternatives, and is
    // no component of its own.
    let mut start = 0;
    let mut left = None;
    for (at, c) in body.char_indices().chain([(body.len(), '\0')]) {
        if !matches!(c, '/' | '{' | '}' | ',' | '\0') {
            continue;
        }
        let part = &body[start..at];
        let whole = left != Some('}') && c != '{';
        match part {
            ".." if whole => return Some(".."),
            "." if whole => found = Some("."),
            _ => {}
        }
        left = Some(c);
        start = at + c.len_utf8();
    }
    found
}

/// Whether a pattern names the project root itself (`/`, `.`, `./`).
fn names_root(pattern: &str) -> bool {
    let p = pattern.trim_end_matches('/');
    let p = p.strip_prefix("./").or_else(|| p.strip_prefix('/')).unwrap_or(p);
    p.is_empty() || p == "."
}

/// Whether a pattern ends in `/`: it names directories only.
fn names_directory(pattern: &str) -> bool {
    pattern.ends_with('/')
}

/// Compiles `exclude`-style globs: like [`include_set`], except that a pattern
/// matching a directory also excludes everything below it (`target` and
/// `target/` both exclude `target/debug/x`; `target/`, which names
/// directories only, does not exclude a file named `target`).
pub fn exclude_set(patterns: &[String]) -> Result<GlobSet, globset::Error> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let n = normalize_glob(p);
        if !names_directory(p) {
            b.add(compile_glob(&n)?);
        }
        add_below(&mut b, &n)?;
    }
    b.build()
}

/// The directories `exclude`-style globs take out with everything below
/// them: those a pattern matches (`target`, `target/`; for `target/**`,
/// `target` itself). A walk need not enter them: every file below one is
/// in [`exclude_set`] (which matches a file when a pattern matches one of
/// its directories).
///
/// Also the directory `d` of `d/*`, `d/**` and `d/**/*`, which take out
/// everything below it. Only a shortcut for the walk: a pattern that does
/// not compile here (the configuration checks every pattern as
/// [`exclude_set`] compiles it) is left out.
pub fn excluded_dirs_set(patterns: &[String]) -> GlobSet {
    let mut b = GlobSetBuilder::new();
    let every = |d: &str| d.split('/').all(|c| c == "**");
    for p in patterns {
        let n = normalize_glob(p);
        // As [`add_below`] reads it.
        let dir = if every(&n) { "*" } else { n.as_str() };
        // Only where the pattern takes out every file below `d`: as a
        // file pattern, `d/*` and `d/**/*` match the files in `d` itself;
        // naming directories (`d/*/`), they do not, and only `d/**/` does
        // (`**` matching no directory at all).
        let suffixes: &[&str] = if names_directory(p) { &["/**"] } else { &["/**/*", "/**", "/*"] };
        let parent = suffixes
            .iter()
            .find_map(|suffix| dir.strip_suffix(suffix))
            // `d\/*` escapes its `/`: not a directory's contents.
            .filter(|d| !d.is_empty() && !every(d) && !d.ends_with('\\'));
        for glob in std::iter::once(dir).chain(parent) {
            if let Ok(g) = compile_glob(glob) {
                b.add(g);
            }
        }
    }
    b.build().unwrap_or_else(|_| GlobSet::empty())
}

/// A validator's file selection: included by `files`, not by `exclude`.
///
/// It selects what [`include_set`] and [`exclude_set`] do, but holds the
/// patterns that take in or out a directory's files (`lib/` in `files`,
/// every pattern of `exclude`) apart, as the directory's own patterns
/// matched against a file's directories: `d/*` and `d/**/*` added per
/// pattern would make two regular expressions of nearly every pattern,
/// run against every file, where a directory's answer serves all of its
/// files ([`dir`](Self::dir)).
#[derive(Clone, Debug)]
pub struct FileFilter {
    /// `files` patterns naming files.
    include: GlobSet,
    /// `files` patterns naming directories, matched against a file's
    /// directories.
    include_dirs: GlobSet,
    /// `exclude` patterns naming files.
    exclude: GlobSet,
    /// Every `exclude` pattern, matched against a file's directories.
    exclude_dirs: GlobSet,
    /// The patterns, as given: filters with the same select the same files.
    patterns: (Vec<String>, Vec<String>),
    /// The globs select every file (`files = ["*"]`, no `exclude`).
    all: bool,
    /// What the project's `.pre-commit-config.yaml` (or `.gitleaks.toml`)
    /// says of the files, on top of the globs.
    scope: Option<Arc<ProjectScope>>,
    /// The globs of `include`, `include_dirs`, `exclude` and
    /// `exclude_dirs`, in that order, for a [`FilterSet`] to compile with
    /// other filters'.
    globs: Arc<[Vec<globset::Glob>; 4]>,
}

/// What a [`FileFilter`]'s directory patterns say of the files in one
/// directory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirSelection {
    /// A directory-naming `files` pattern matches it or one above it.
    pub included: bool,
    /// An `exclude` pattern matches it or one above it.
    pub excluded: bool,
}

impl FileFilter {
    /// Compiles `files` with [`include_set`] and `exclude` with [`exclude_set`]
    /// semantics.
    pub fn new(files: &[String], exclude: &[String]) -> Result<FileFilter, globset::Error> {
        let all = exclude.is_empty()
            && files
                .iter()
                .any(|p| !names_directory(p) && matches!(normalize_glob(p).as_str(), "**" | "**/*" | "**/**"));
        // The directories whose files a directory pattern takes: those it
        // matches, and for `d/**` (`d/**/`), where `**` also stands for no
        // directory at all, `d` itself (as `d/**/*` matches `d/f`).
        let add_dir = |b: &mut Vec<globset::Glob>, n: &str| -> Result<(), globset::Error> {
            let dir = as_directory(n);
            b.push(compile_glob(dir)?);
            let mut bare = dir;
            while let Some(mut d) = bare.strip_suffix("/**") {
                // `d\/**`: the `/` escaped is a `/` all the same.
                if d.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1 {
                    d = &d[..d.len() - 1];
                }
                if d.is_empty() {
                    break;
                }
                bare = d;
            }
            if bare != dir {
                b.push(compile_glob(as_directory(bare))?);
            }
            Ok(())
        };
        let (mut include, mut include_dirs) = (Vec::new(), Vec::new());
        for p in files {
            let n = normalize_glob(p);
            if names_directory(p) {
                add_dir(&mut include_dirs, &n)?;
            } else {
                include.push(compile_glob(&n)?);
            }
        }
        let (mut excluded, mut exclude_dirs) = (Vec::new(), Vec::new());
        for p in exclude {
            let n = normalize_glob(p);
            if !names_directory(p) {
                excluded.push(compile_glob(&n)?);
            }
            add_dir(&mut exclude_dirs, &n)?;
        }
        let set = |globs: &[globset::Glob]| {
            let mut b = GlobSetBuilder::new();
            for g in globs {
                b.add(g.clone());
            }
            b.build()
        };
        Ok(FileFilter {
            include: set(&include)?,
            include_dirs: set(&include_dirs)?,
            exclude: set(&excluded)?,
            exclude_dirs: set(&exclude_dirs)?,
            patterns: (files.to_vec(), exclude.to_vec()),
            all,
            scope: None,
            globs: Arc::new([include, include_dirs, excluded, exclude_dirs]),
        })
    }

    /// The filter selecting only what `scope` selects as well.
    pub fn narrowed(mut self, scope: Option<Arc<ProjectScope>>) -> FileFilter {
        self.scope = scope;
        self
    }

    /// What narrows its globs' selection, if anything.
    pub fn scope(&self) -> Option<&Arc<ProjectScope>> {
        self.scope.as_ref()
    }

    /// Whether `other` selects the same files for sure (same patterns), so
    /// that one match serves both.
    pub fn same_selection(&self, other: &FileFilter) -> bool {
        self.patterns == other.patterns && self.scope == other.scope
    }

    /// Whether the filter has directory patterns: else [`dir`](Self::dir)
    /// says nothing of any directory, and need not be asked.
    pub fn has_dir_patterns(&self) -> bool {
        !self.all && (!self.include_dirs.is_empty() || !self.exclude_dirs.is_empty())
    }

    /// What the directory patterns say of the files in `dir` (relative to
    /// the project root, `/`-separated; empty for the root): those a
    /// pattern matches, it or a directory above it.
    pub fn dir(&self, dir: &Path) -> DirSelection {
        if !self.has_dir_patterns() {
            return DirSelection::default();
        }
        // From the top down: each directory's own patterns, and what those
        // above it said.
        let mut above: Vec<&Path> = dir.ancestors().filter(|a| !a.as_os_str().is_empty()).collect();
        above.reverse();
        above.into_iter().fold(DirSelection::default(), |parent, a| self.dir_within(a, parent))
    }

    /// [`dir`](Self::dir) of `dir` (not the root), given what it said of
    /// the directory `dir` is in: `dir`'s own patterns only, so that a walk
    /// that remembers each directory's answer matches each directory once
    /// rather than once for every directory below it.
    pub fn dir_within(&self, dir: &Path, parent: DirSelection) -> DirSelection {
        if !self.has_dir_patterns() {
            return DirSelection::default();
        }
        let own = |set: &GlobSet| !set.is_empty() && set.is_match(dir);
        DirSelection {
            included: parent.included || own(&self.include_dirs),
            excluded: parent.excluded || own(&self.exclude_dirs),
        }
    }

    /// Whether `rel_path` (relative to the project root) is selected.
    pub fn is_match(&self, rel_path: impl AsRef<Path>) -> bool {
        use std::os::unix::ffi::OsStrExt;
        let rel = rel_path.as_ref();
        let dir = self.dir(rel.parent().unwrap_or(Path::new("")));
        self.globs_match(&globset::Candidate::new(rel), dir)
            // A name that is not UTF-8 is searched as Python would have
            // it, with its bad bytes replaced.
            && self.scope.as_ref().is_none_or(|s| s.selects(&String::from_utf8_lossy(rel.as_os_str().as_bytes())))
    }

    /// [`is_match`](Self::is_match) of the globs alone, for a path prepared
    /// once for many filters (`candidate`), in a directory of which
    /// [`dir`](Self::dir) said `dir`; the caller asks the
    /// [`scope`](Self::scope) itself (once for the filters that share it).
    pub fn globs_match(&self, candidate: &globset::Candidate<'_>, dir: DirSelection) -> bool {
        self.all
            || ((dir.included || self.include.is_match_candidate(candidate))
                && !(dir.excluded || self.exclude.is_match_candidate(candidate)))
    }
}

/// Many [`FileFilter`]s matched at once: their globs compiled into one set
/// of file patterns and one of directory patterns, each searched once a
/// path (or a directory) for all of them, where the filters one by one
/// would search two sets each (the built-ins' exclusions share most of
/// their patterns: a test's expected outputs, test data, third-party
/// directories). Filters with the same patterns (and scope) are one.
/// It selects what the filters do one by one ([`FileFilter::globs_match`],
/// [`FileFilter::dir_within`]).
///
/// Cloning it gives the clone a search state of its own: what each thread
/// searching it should hold.
#[derive(Clone, Debug)]
pub struct FilterSet {
    /// The filters given.
    given: Vec<Arc<FileFilter>>,
    /// The distinct filters, each with the indices of the filters given
    /// that it stands for.
    distinct: Vec<(Arc<FileFilter>, Vec<usize>)>,
    /// Every distinct filter's file globs (`include` and `exclude`), but
    /// those of filters that select everything.
    files: GlobSet,
    /// For each glob of `files`: its filter, and whether it excludes.
    file_roles: Vec<(usize, bool)>,
    /// Every distinct filter's directory globs, likewise.
    dirs: GlobSet,
    /// For each glob of `dirs`: its filter, and whether it excludes.
    dir_roles: Vec<(usize, bool)>,
    /// The globs would not compile together (a set too large): each
    /// filter is searched by itself, and `files` and `dirs` are empty.
    one_by_one: bool,
}

/// What [`FilterSet`]'s searches write into, kept between paths.
#[derive(Debug, Default)]
pub struct FilterScratch {
    matched: Vec<usize>,
    /// Per distinct filter: an `include` glob matched, an `exclude` one.
    hits: Vec<(bool, bool)>,
}

impl FilterSet {
    /// The set of `filters` (by index: what [`distinct`](Self::distinct)
    /// stands for).
    pub fn new(filters: &[Arc<FileFilter>]) -> FilterSet {
        let one_by_one = FilterSet::one_by_one(filters);
        let (mut files, mut file_roles) = (GlobSetBuilder::new(), Vec::new());
        let (mut dirs, mut dir_roles) = (GlobSetBuilder::new(), Vec::new());
        for (fi, (f, _)) in one_by_one.distinct.iter().enumerate() {
            if f.all {
                continue;
            }
            let [include, include_dirs, exclude, exclude_dirs] = &*f.globs;
            for (globs, excludes) in [(include, false), (exclude, true)] {
                for g in globs {
                    files.add(g.clone());
                    file_roles.push((fi, excludes));
                }
            }
            for (globs, excludes) in [(include_dirs, false), (exclude_dirs, true)] {
                for g in globs {
                    dirs.add(g.clone());
                    dir_roles.push((fi, excludes));
                }
            }
        }
        match (files.build(), dirs.build()) {
            (Ok(files), Ok(dirs)) => FilterSet { files, file_roles, dirs, dir_roles, one_by_one: false, ..one_by_one },
            // Too large together (each filter's compiled alone): each
            // filter is searched by itself.
            _ => one_by_one,
        }
    }

    /// The set of `filters` with each filter searched by itself, as when
    /// their globs will not compile together: nothing to compile (the
    /// compiled set of the built-ins' globs takes some 20 ms of CPU).
    pub fn one_by_one(filters: &[Arc<FileFilter>]) -> FilterSet {
        let mut distinct: Vec<(Arc<FileFilter>, Vec<usize>)> = Vec::new();
        for (i, f) in filters.iter().enumerate() {
            match distinct.iter_mut().find(|(g, _)| g.same_selection(f)) {
                Some((_, is)) => is.push(i),
                None => distinct.push((Arc::clone(f), vec![i])),
            }
        }
        FilterSet {
            given: filters.to_vec(),
            distinct,
            files: GlobSet::empty(),
            file_roles: Vec::new(),
            dirs: GlobSet::empty(),
            dir_roles: Vec::new(),
            one_by_one: true,
        }
    }

    /// Whether each filter is searched by itself ([`one_by_one`](Self::one_by_one)).
    pub fn is_one_by_one(&self) -> bool {
        self.one_by_one
    }

    /// Whether it is the set of `filters`: the very same filters (not
    /// copies), in the same order.
    pub fn is_of(&self, filters: &[Arc<FileFilter>]) -> bool {
        self.given.len() == filters.len() && self.given.iter().zip(filters).all(|(a, b)| Arc::ptr_eq(a, b))
    }

    /// The distinct filters, each with the indices of the filters given
    /// that it stands for; the searches answer for them in this order.
    pub fn distinct(&self) -> &[(Arc<FileFilter>, Vec<usize>)] {
        &self.distinct
    }

    /// Whether any filter has directory patterns: else
    /// [`dir_within`](Self::dir_within) says nothing of any directory.
    pub fn has_dir_patterns(&self) -> bool {
        !self.dir_roles.is_empty() || (self.one_by_one && self.distinct.iter().any(|(f, _)| f.has_dir_patterns()))
    }

    /// [`FileFilter::dir_within`] for each distinct filter, into `out`:
    /// what its directory patterns say of the files in `dir` (not the
    /// root), given what they said of its parent (`parent`).
    pub fn dir_within(
        &self,
        dir: &Path,
        parent: &[DirSelection],
        scratch: &mut FilterScratch,
        out: &mut [DirSelection],
    ) {
        if self.one_by_one {
            for (((f, _), &p), o) in self.distinct.iter().zip(parent).zip(out.iter_mut()) {
                *o = f.dir_within(dir, p);
            }
            return;
        }
        out.copy_from_slice(parent);
        if self.dir_roles.is_empty() {
            return;
        }
        self.dirs.matches_into(dir, &mut scratch.matched);
        for &g in &scratch.matched {
            let (fi, excludes) = self.dir_roles[g];
            if excludes {
                out[fi].excluded = true;
            } else {
                out[fi].included = true;
            }
        }
    }

    /// [`FileFilter::globs_match`] for each distinct filter, into `out`:
    /// whether its globs select `candidate`, in a directory of which
    /// [`dir_within`](Self::dir_within) said `dirs`.
    pub fn globs_match(
        &self,
        candidate: &globset::Candidate<'_>,
        dirs: &[DirSelection],
        scratch: &mut FilterScratch,
        out: &mut [bool],
    ) {
        if self.one_by_one {
            for (((f, _), &d), o) in self.distinct.iter().zip(dirs).zip(out.iter_mut()) {
                *o = f.globs_match(candidate, d);
            }
            return;
        }
        scratch.hits.clear();
        scratch.hits.resize(self.distinct.len(), (false, false));
        if !self.file_roles.is_empty() {
            self.files.matches_candidate_into(candidate, &mut scratch.matched);
            for &g in &scratch.matched {
                let (fi, excludes) = self.file_roles[g];
                if excludes {
                    scratch.hits[fi].1 = true;
                } else {
                    scratch.hits[fi].0 = true;
                }
            }
        }
        for (((f, _), (included, excluded)), (d, o)) in
            self.distinct.iter().zip(&scratch.hits).zip(dirs.iter().zip(out.iter_mut()))
        {
            *o = f.all || ((d.included || *included) && !(d.excluded || *excluded));
        }
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Everything wrong with a `verdict.toml`; never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The issues, sorted by position.
    pub errors: Vec<ConfigIssue>,
}

/// One problem in a `verdict.toml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigIssue {
    /// The file.
    pub path: Option<PathBuf>,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column, in characters.
    pub column: Option<usize>,
    /// The dotted key (`validators.lint.timeout`); empty for syntax and I/O errors.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    /// `FILE:LINE:COLUMN: KEY: MESSAGE`, leaving out the parts that are unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut pos = String::new();
        if let Some(p) = &self.path {
            pos.push_str(&p.display().to_string());
        }
        if let Some(l) = self.line {
            if !pos.is_empty() {
                pos.push(':');
            }
            pos.push_str(&l.to_string());
            if let Some(c) = self.column {
                pos.push_str(&format!(":{c}"));
            }
        }
        if !pos.is_empty() {
            write!(f, "{pos}: ")?;
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

impl fmt::Display for ConfigError {
    /// One issue per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{issue}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

// ---------------------------------------------------------------------------
// The checker
// ---------------------------------------------------------------------------

const ROOT_KEYS: &[&str] = &["builtins", "daemon", "cache", "check", "defaults", "validators"];
const DAEMON_KEYS: &[&str] =
    &["grace_period", "idle_timeout", "max_connections", "log_max_size", "log_keep", "exit_after_idle"];
const CACHE_KEYS: &[&str] = &["enabled", "dir", "ttl", "block_cache", "write_buffer"];
const CHECK_KEYS: &[&str] = &["exclude", "max_file_size", "watch", "pre_commit", "gitleaks"];
const DEFAULTS_KEYS: &[&str] = &["timeout", "concurrency", "batch_size", "restart"];
const RESTART_KEYS: &[&str] = &["max_restarts", "window", "backoff", "backoff_max", "reset_after"];
const COMMON_KEYS: &[&str] = &[
    "kind",
    "enabled",
    "dimension",
    "files",
    "exclude",
    "timeout",
    "cache_ttl",
    "concurrency",
    "batch_size",
    "restart",
];
const COMMAND_KEYS: &[&str] =
    &["command", "mode", "parser", "pattern", "version", "env", "max_output", "findings_exit_codes", "kill_after"];
const LARGE_FILE_KEYS: &[&str] = &["max_size"];

/// A table being checked: its content, dotted path and the span of its key
/// (where issues about the table as a whole point).
struct Tbl<'a, 'i> {
    table: &'a DeTable<'i>,
    path: String,
    span: Range<usize>,
}

type Value<'i> = Spanned<DeValue<'i>>;

/// Strings of an array, each with its span.
type SpannedStrings = Vec<(String, Range<usize>)>;

/// Collects issues while the document is walked.
struct Cx<'t> {
    text: &'t str,
    origin: &'t Path,
    issues: Vec<ConfigIssue>,
    /// Where each line of `text` starts, made at the first issue: a file
    /// of 100,000 bad lines took minutes when each issue counted its line
    /// from the start.
    lines: Option<LineIndex>,
}

impl Cx<'_> {
    fn new<'t>(text: &'t str, origin: &'t Path) -> Cx<'t> {
        Cx { text, origin, issues: Vec::new(), lines: None }
    }

    fn issue(&mut self, span: Range<usize>, key: String, message: String) {
        let text = self.text;
        let (line, column) = self.lines.get_or_insert_with(|| LineIndex::new(text)).line_col(text, span.start);
        // One issue is one line of output.
        let message = if message.contains('\n') { one_line(&message) } else { message };
        self.issues.push(ConfigIssue {
            path: Some(self.origin.to_path_buf()),
            line: Some(line),
            column: Some(column),
            key,
            message,
        });
    }

    fn finish(mut self) -> ConfigError {
        self.issues.sort_by_key(|i| (i.line, i.column));
        ConfigError { errors: self.issues }
    }

    /// Reports every key of `t` not in `known`. `explain` may give a specific
    /// message for a key (e.g. one that belongs to another kind).
    fn check_keys(&mut self, t: &Tbl, known: &[&str], explain: impl Fn(&str) -> Option<String>) {
        for key in t.table.keys() {
            let k: &str = key.get_ref();
            if known.contains(&k) {
                continue;
            }
            let message =
                explain(k).unwrap_or_else(|| format!("unknown key {k:?}; expected one of: {}", known.join(", ")));
            self.issue(key.span(), join_key(&t.path, k), message);
        }
    }

    fn get<'a, 'i>(t: &'a Tbl<'_, 'i>, key: &str) -> Option<(&'a Value<'i>, String)> {
        t.table.get(key).map(|v| (v, join_key(&t.path, key)))
    }

    fn type_error(&mut self, v: &Value, path: String, expected: &str) {
        let found = v.get_ref().type_str();
        self.issue(v.span(), path, format!("expected {expected}, found {found}"));
    }

    fn sub_table<'a, 'i>(&mut self, t: &Tbl<'a, 'i>, key: &str) -> Option<Tbl<'a, 'i>> {
        let (k, v) = t.table.get_key_value(key)?;
        let path = join_key(&t.path, key);
        match v.get_ref() {
            DeValue::Table(table) => Some(Tbl { table, path, span: k.span() }),
            _ => {
                self.type_error(v, path, "a table");
                None
            }
        }
    }

    fn bool(&mut self, t: &Tbl, key: &str) -> Option<bool> {
        let (v, path) = Self::get(t, key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.type_error(v, path, "a boolean (true or false)");
                None
            }
        }
    }

    fn string(&mut self, t: &Tbl, key: &str) -> Option<(String, Range<usize>, String)> {
        let (v, path) = Self::get(t, key)?;
        match v.get_ref() {
            DeValue::String(s) => Some((s.to_string(), v.span(), path)),
            _ => {
                self.type_error(v, path, "a string");
                None
            }
        }
    }

    /// An integer `>= min`.
    fn uint(&mut self, t: &Tbl, key: &str, min: u64) -> Option<u64> {
        self.uint_in(t, key, min, i64::MAX as u64)
    }

    /// An integer in `min..=max`.
    fn uint_in(&mut self, t: &Tbl, key: &str, min: u64, max: u64) -> Option<u64> {
        let (v, path) = Self::get(t, key)?;
        let DeValue::Integer(i) = v.get_ref() else {
            self.type_error(v, path, "an integer");
            return None;
        };
        match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) if n >= 0 && n as u64 >= min && n as u64 <= max => Some(n as u64),
            Ok(n) if n < 0 && min == 0 => {
                self.issue(v.span(), path, format!("must not be negative, got {n}"));
                None
            }
            Ok(n) if n >= 0 && n as u64 > max => {
                self.issue(v.span(), path, format!("must be at most {max}, got {n}"));
                None
            }
            Ok(n) => {
                self.issue(v.span(), path, format!("must be at least {min}, got {n}"));
                None
            }
            Err(e) => {
                self.issue(v.span(), path, format!("invalid integer: {e}"));
                None
            }
        }
    }

    fn uint_usize(&mut self, t: &Tbl, key: &str, min: u64, max: u64) -> Option<usize> {
        self.uint_in(t, key, min, max).map(|n| usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn uint_u32(&mut self, t: &Tbl, key: &str, min: u64) -> Option<u32> {
        let n = self.uint(t, key, min)?;
        match u32::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => {
                let (v, path) = Self::get(t, key)?;
                self.issue(v.span(), path, format!("must be at most {}", u32::MAX));
                None
            }
        }
    }

    /// A humantime duration string; `nonzero` rejects zero.
    fn duration(&mut self, t: &Tbl, key: &str, nonzero: bool) -> Option<Duration> {
        let (v, path) = Self::get(t, key)?;
        let DeValue::String(s) = v.get_ref() else {
            self.type_error(v, path, "a duration string such as \"30s\" or \"500ms\"");
            return None;
        };
        match parse_duration(s) {
            Ok(d) if nonzero && d.is_zero() => {
                self.issue(v.span(), path, "must be greater than zero".to_string());
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.issue(v.span(), path, e);
                None
            }
        }
    }

    /// A time-to-live: a duration of at least a second (results expire by
    /// the second: "500ms" would have been cut to 0, which means never), or
    /// zero for never.
    fn ttl(&mut self, t: &Tbl, key: &str) -> Option<Duration> {
        let d = self.duration(t, key, false)?;
        if !d.is_zero() && d < Duration::from_secs(1) {
            let (v, path) = Self::get(t, key)?;
            self.issue(
                v.span(),
                path,
                "must be at least 1s (cached results expire by the second), or \"0\" for never".to_string(),
            );
            return None;
        }
        Some(d)
    }

    /// A [`size`](Self::size) of at least `min` bytes (`shown` as written).
    fn size_at_least(&mut self, t: &Tbl, key: &str, min: u64, shown: &str) -> Option<u64> {
        let n = self.size(t, key)?;
        if n < min {
            let (v, path) = Self::get(t, key)?;
            self.issue(v.span(), path, format!("must be at least {shown}"));
            return None;
        }
        Some(n)
    }

    /// [`Self::size_at_least`], and at most `max` (shown as `max_shown`).
    fn size_within(&mut self, t: &Tbl, key: &str, min: (u64, &str), max: (u64, &str)) -> Option<u64> {
        let n = self.size_at_least(t, key, min.0, min.1)?;
        if n > max.0 {
            let (v, path) = Self::get(t, key)?;
            self.issue(v.span(), path, format!("must be at most {}", max.1));
            return None;
        }
        Some(n)
    }

    /// A size: an integer number of bytes or a string such as "10MiB".
    fn size(&mut self, t: &Tbl, key: &str) -> Option<u64> {
        let (v, path) = Self::get(t, key)?;
        match v.get_ref() {
            DeValue::Integer(_) => {
                let n = self.uint(t, key, 0)?;
                if n > MAX_SIZE {
                    self.issue(v.span(), path, format!("{n} bytes is larger than the largest size allowed, 1 EiB"));
                    return None;
                }
                Some(n)
            }
            DeValue::String(s) => match parse_size(s) {
                Ok(n) => Some(n),
                Err(e) => {
                    self.issue(v.span(), path, e);
                    None
                }
            },
            _ => {
                self.type_error(v, path, "a size (bytes as an integer, or a string such as \"10MiB\")");
                None
            }
        }
    }

    /// A non-empty array of distinct exit statuses, 1 to 255.
    fn exit_codes(&mut self, t: &Tbl, key: &str) -> Option<Vec<i32>> {
        let (v, path) = Self::get(t, key)?;
        let DeValue::Array(items) = v.get_ref() else {
            self.type_error(v, path, "an array of exit statuses (integers from 1 to 255)");
            return None;
        };
        if items.is_empty() {
            self.issue(v.span(), path, "must not be empty: list the statuses that mean findings".to_string());
            return None;
        }
        let mut codes = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items.iter() {
            let n = match item.get_ref() {
                DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
                other => {
                    let found = other.type_str();
                    self.issue(item.span(), path.clone(), format!("expected an integer, found {found}"));
                    ok = false;
                    continue;
                }
            };
            match n {
                Some(n @ 1..=255) if codes.contains(&(n as i32)) => {
                    self.issue(item.span(), path.clone(), format!("{n} is listed twice"));
                    ok = false;
                }
                Some(n @ 1..=255) => codes.push(n as i32),
                Some(0) => {
                    self.issue(
                        item.span(),
                        path.clone(),
                        "0 cannot be listed: exit status 0 always means the tool ran".to_string(),
                    );
                    ok = false;
                }
                _ => {
                    self.issue(
                        item.span(),
                        path.clone(),
                        "must be an exit status from 1 to 255 (death by a signal is always a failure)".to_string(),
                    );
                    ok = false;
                }
            }
        }
        ok.then(|| {
            codes.sort_unstable();
            codes
        })
    }

    /// An array of strings, each with its span.
    fn strings(&mut self, t: &Tbl, key: &str) -> Option<(SpannedStrings, Range<usize>, String)> {
        let (items, span, path, ok) = self.strings_found(t, key)?;
        ok.then_some((items, span, path))
    }

    /// The strings of an array, each non-string item reported; `false` when
    /// there was one. For checks that should still look at every string.
    fn strings_found(&mut self, t: &Tbl, key: &str) -> Option<(SpannedStrings, Range<usize>, String, bool)> {
        let (v, path) = Self::get(t, key)?;
        let DeValue::Array(items) = v.get_ref() else {
            self.type_error(v, path, "an array of strings");
            return None;
        };
        let (out, ok) = self.string_items_found(items, &path);
        Some((out, v.span(), path, ok))
    }

    fn string_items_found(&mut self, items: &DeArray, path: &str) -> (SpannedStrings, bool) {
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push((s.to_string(), item.span())),
                other => {
                    ok = false;
                    let found = other.type_str();
                    self.issue(item.span(), path.to_string(), format!("expected a string, found {found}"));
                }
            }
        }
        (out, ok)
    }

    /// An array of globs, each checked to compile (also when another item
    /// is not a string: every problem is listed).
    fn globs(&mut self, t: &Tbl, key: &str) -> Option<Vec<String>> {
        let (items, _, path, mut ok) = self.strings_found(t, key)?;
        for (p, span) in &items {
            let problem = if p.trim().is_empty() {
                Some("empty glob".to_string())
            } else if names_root(p) {
                Some(format!("glob {p:?} names the project root itself, not files in it (write \"**\" for every file)"))
            } else if let Some(c) = non_ascii_in_class(p) {
                Some(format!(
                    "glob {p:?}: a class `[…]` matches one byte, and {c:?} is {} bytes long, so it can never \
                     match; write the alternatives instead (`{{a,{c}}}`)",
                    c.len_utf8()
                ))
            } else if let Some(c) = impossible_component(p) {
                Some(format!("glob {p:?} can never match: paths are matched inside the project, and hold no `{c}`"))
            } else {
                compile_glob(&normalize_glob(p)).err().map(|e| format!("invalid glob {p:?}: {}", e.kind()))
            };
            if let Some(m) = problem {
                ok = false;
                self.issue(span.clone(), path.clone(), m);
            }
        }
        ok.then(|| items.into_iter().map(|(s, _)| s).collect())
    }
}

fn parse_daemon(cx: &mut Cx, t: &Tbl) -> DaemonSettings {
    cx.check_keys(t, DAEMON_KEYS, |_| None);
    let d = DaemonSettings::default();
    DaemonSettings {
        grace_period: cx.duration(t, "grace_period", false).unwrap_or(d.grace_period),
        idle_timeout: cx.duration(t, "idle_timeout", true).unwrap_or(d.idle_timeout),
        max_connections: cx.uint_usize(t, "max_connections", 1, MAX_PARALLEL).unwrap_or(d.max_connections),
        log_max_size: cx.size_at_least(t, "log_max_size", 4096, "4KiB").unwrap_or(d.log_max_size),
        log_keep: cx.uint_usize(t, "log_keep", 1, 1_000).unwrap_or(d.log_keep),
        exit_after_idle: cx.duration(t, "exit_after_idle", false).unwrap_or(d.exit_after_idle),
    }
}

fn parse_cache(cx: &mut Cx, t: &Tbl, origin: &Path) -> CacheSettings {
    cx.check_keys(t, CACHE_KEYS, |_| None);
    let d = CacheSettings::default();
    let dir = match cx.string(t, "dir") {
        Some((s, span, path)) if s.is_empty() => {
            cx.issue(span, path, "must not be empty".to_string());
            None
        }
        Some((s, _, _)) => {
            let root = origin.parent().unwrap_or(Path::new(""));
            Some(root.join(s))
        }
        None => None,
    };
    CacheSettings {
        enabled: cx.bool(t, "enabled").unwrap_or(d.enabled),
        dir,
        ttl: cx.ttl(t, "ttl").unwrap_or(d.ttl),
        block_cache: cx.size(t, "block_cache").unwrap_or(d.block_cache),
        // RocksDB raises a smaller one to 64 KiB without a word.
        // The write-ahead log reserves about 1.1 times this on disk.
        write_buffer: cx
            .size_within(
                t,
                "write_buffer",
                (64 * 1024, "64KiB"),
                (1 << 30, "1GiB (the write-ahead log reserves 1.1 times it on disk)"),
            )
            .unwrap_or(d.write_buffer),
    }
}

fn parse_check(cx: &mut Cx, t: &Tbl) -> CheckSettings {
    cx.check_keys(t, CHECK_KEYS, |_| None);
    let d = CheckSettings::default();
    CheckSettings {
        exclude: cx.globs(t, "exclude").unwrap_or(d.exclude),
        // Zero would skip every built-in on every non-empty file.
        max_file_size: cx
            .size_at_least(t, "max_file_size", 1, "1 byte (to run no built-ins, set builtins = false)")
            .unwrap_or(d.max_file_size),
        watch: cx.bool(t, "watch").unwrap_or(d.watch),
        pre_commit: cx.bool(t, "pre_commit").unwrap_or(d.pre_commit),
        gitleaks: cx.bool(t, "gitleaks").unwrap_or(d.gitleaks),
    }
}

fn parse_defaults(cx: &mut Cx, t: &Tbl) -> ValidatorDefaults {
    cx.check_keys(t, DEFAULTS_KEYS, |_| None);
    let d = ValidatorDefaults::default();
    ValidatorDefaults {
        timeout: cx.duration(t, "timeout", true).unwrap_or(d.timeout),
        concurrency: cx.uint_usize(t, "concurrency", 1, MAX_PARALLEL).unwrap_or(d.concurrency),
        batch_size: cx.uint_usize(t, "batch_size", 1, MAX_BATCH_SIZE).unwrap_or(d.batch_size),
        restart: parse_restart(cx, t, &d.restart),
    }
}

/// `restart` of `parent`, field by field over `base`.
fn parse_restart(cx: &mut Cx, parent: &Tbl, base: &RestartPolicy) -> RestartPolicy {
    let Some(t) = cx.sub_table(parent, "restart") else {
        return *base;
    };
    cx.check_keys(&t, RESTART_KEYS, |_| None);
    let backoff = cx.duration(&t, "backoff", false);
    let backoff_max = cx.duration(&t, "backoff_max", false);
    // Compared only as written: an invalid one was reported, and its
    // default stands in for it.
    let invalid = |key: &str, read: Option<Duration>| read.is_none() && Cx::get(&t, key).is_some();
    let compare = !invalid("backoff", backoff) && !invalid("backoff_max", backoff_max)
        // Where neither is set, both came from `base`: a mismatch there was
        // reported where it was written.
        && (Cx::get(&t, "backoff").is_some() || Cx::get(&t, "backoff_max").is_some());
    let r = RestartPolicy {
        max_restarts: cx.uint_u32(&t, "max_restarts", 0).unwrap_or(base.max_restarts),
        window: cx.duration(&t, "window", true).unwrap_or(base.window),
        backoff: backoff.unwrap_or(base.backoff),
        backoff_max: backoff_max.unwrap_or(base.backoff_max),
        reset_after: cx.duration(&t, "reset_after", false).unwrap_or(base.reset_after),
    };
    if compare && r.backoff > r.backoff_max {
        let (span, key) = match Cx::get(&t, "backoff_max").or_else(|| Cx::get(&t, "backoff")) {
            Some((v, key)) => (v.span(), key),
            None => (t.span.clone(), t.path.clone()),
        };
        cx.issue(
            span,
            key,
            format!(
                "backoff ({}) must not exceed backoff_max ({})",
                humantime::format_duration(r.backoff),
                humantime::format_duration(r.backoff_max)
            ),
        );
    }
    r
}

enum KindChoice {
    Builtin(BuiltinKind),
    Command,
    /// Already reported.
    Unknown,
}

fn builtin_names() -> String {
    BuiltinKind::ALL.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ")
}

fn parse_validator(
    cx: &mut Cx,
    name: &str,
    t: &Tbl,
    defaults: &ValidatorDefaults,
    default_ttl: Duration,
) -> Option<ValidatorConfig> {
    let kind = match cx.string(t, "kind") {
        Some((k, _, _)) if k == "command" => KindChoice::Command,
        Some((k, span, path)) => match BuiltinKind::from_name(&k) {
            // `[validators.utf8] kind = "json"` would run the JSON check under
            // the UTF-8 check's name, in its place.
            Some(b) if BuiltinKind::from_name(name).is_some_and(|own| own != b) => {
                cx.issue(
                    span,
                    path,
                    format!(
                        "the table is named after the built-in {name:?}, which it configures: kind must be {name:?} or left out; give another check its own name (for example [validators.{name}-{k}])"
                    ),
                );
                KindChoice::Unknown
            }
            Some(b) => KindChoice::Builtin(b),
            None => {
                let names = builtin_names();
                cx.issue(span, path, format!("unknown kind {k:?}; expected \"command\" or a built-in: {names}"));
                KindChoice::Unknown
            }
        },
        None if Cx::get(t, "kind").is_some() => KindChoice::Unknown,
        None => match BuiltinKind::from_name(name) {
            Some(b) => KindChoice::Builtin(b),
            None => {
                let names = builtin_names();
                cx.issue(
                    t.span.clone(),
                    join_key(&t.path, "kind"),
                    format!(
                        "missing; a validator not named after a built-in needs kind = \"command\" or a built-in: {names}"
                    ),
                );
                KindChoice::Unknown
            }
        },
    };

    // Keys allowed for this kind. When the kind is unknown, accept them all so
    // that one mistake does not cascade.
    let mut known: Vec<&str> = COMMON_KEYS.to_vec();
    match kind {
        KindChoice::Command => known.extend(COMMAND_KEYS),
        KindChoice::Builtin(b) if b.name() == "large-file" => known.extend(LARGE_FILE_KEYS),
        KindChoice::Builtin(_) => {}
        KindChoice::Unknown => {
            known.extend(COMMAND_KEYS);
            known.extend(LARGE_FILE_KEYS);
        }
    }
    let known_list = known.join(", ");
    cx.check_keys(t, &known, |k| {
        if COMMAND_KEYS.contains(&k) {
            Some(format!("{k:?} only applies to kind = \"command\""))
        } else if LARGE_FILE_KEYS.contains(&k) {
            Some(format!("{k:?} only applies to kind = \"large-file\""))
        } else {
            Some(format!("unknown key {k:?}; expected one of: {known_list}"))
        }
    });

    let enabled = cx.bool(t, "enabled").unwrap_or(true);
    let default_dimension = match kind {
        KindChoice::Builtin(b) => b.default_dimension(),
        _ => DEFAULT_COMMAND_DIMENSION,
    };
    let dimension = match cx.string(t, "dimension") {
        Some((d, span, path)) => {
            if !valid_word(&d) {
                cx.issue(
                    span,
                    path,
                    format!(
                        "invalid dimension {d:?}: use one word of ASCII letters, digits, '-' and '_', not starting with '-'"
                    ),
                );
            }
            d
        }
        None => default_dimension.to_string(),
    };
    let files = match (cx.globs(t, "files"), &kind) {
        (Some(f), KindChoice::Command) if f.is_empty() => {
            let (v, path) = Cx::get(t, "files").expect("files was read");
            cx.issue(v.span(), path, "a command validator needs at least one glob".to_string());
            f
        }
        (Some(f), _) => f,
        (None, KindChoice::Builtin(b)) => b.default_files().iter().map(|s| s.to_string()).collect(),
        (None, KindChoice::Command) if Cx::get(t, "files").is_none() => {
            cx.issue(
                t.span.clone(),
                join_key(&t.path, "files"),
                "missing; a command validator needs the globs of the files it checks".to_string(),
            );
            Vec::new()
        }
        (None, _) => Vec::new(),
    };
    // A built-in's default exclusions belong to its own table, not to
    // other validators of its kind.
    let exclude = match (cx.globs(t, "exclude"), &kind) {
        (Some(e), _) => e,
        (None, KindChoice::Builtin(b)) if b.name() == name => {
            b.default_exclude().iter().map(|s| s.to_string()).collect()
        }
        (None, _) => Vec::new(),
    };
    let timeout = cx.duration(t, "timeout", true).unwrap_or(defaults.timeout);
    let cache_ttl = cx.ttl(t, "cache_ttl").unwrap_or(default_ttl);
    let concurrency = cx.uint_usize(t, "concurrency", 1, MAX_PARALLEL).unwrap_or(defaults.concurrency);
    let batch_size = cx.uint_usize(t, "batch_size", 1, MAX_BATCH_SIZE).unwrap_or(defaults.batch_size);
    let restart = parse_restart(cx, t, &defaults.restart);

    let mut max_size_set = false;
    let kind = match kind {
        KindChoice::Builtin(kind) => {
            let mut settings = BuiltinSettings::default();
            if let Some(n) = cx.size(t, "max_size") {
                settings.max_size = n;
                max_size_set = true;
            }
            ValidatorKind::Builtin { kind, settings }
        }
        KindChoice::Command => ValidatorKind::Command(parse_command(cx, t, batch_size)),
        KindChoice::Unknown => {
            // Still check what can be checked (the result is discarded), but
            // do not ask for a command unless one was given.
            if Cx::get(t, "command").is_some() {
                parse_command(cx, t, batch_size);
            }
            let _ = cx.size(t, "max_size");
            return None;
        }
    };

    Some(ValidatorConfig {
        name: name.to_string(),
        kind,
        enabled,
        dimension,
        files,
        exclude,
        timeout,
        cache_ttl,
        concurrency,
        batch_size,
        restart,
        max_size_set,
        project_scope: None,
    })
}

fn parse_command(cx: &mut Cx, t: &Tbl, batch_size: usize) -> CommandConfig {
    let command = match Cx::get(t, "command") {
        None => {
            cx.issue(
                t.span.clone(),
                join_key(&t.path, "command"),
                "missing; kind = \"command\" needs the argv to run, e.g. [\"shellcheck\", \"-f\", \"gcc\"]".to_string(),
            );
            Vec::new()
        }
        Some((v, path)) => match v.get_ref() {
            DeValue::String(_) => {
                cx.issue(
                    v.span(),
                    path,
                    "expected an array of strings (argv); commands never run through a shell".to_string(),
                );
                Vec::new()
            }
            _ => match cx.strings(t, "command") {
                Some((argv, span, path)) => {
                    check_argv(cx, &argv, span, path);
                    argv.into_iter().map(|(s, _)| s).collect()
                }
                None => Vec::new(),
            },
        },
    };

    let mode = match cx.string(t, "mode") {
        None => CommandMode::PerFile,
        Some((m, span, path)) => match m.as_str() {
            "per_file" => CommandMode::PerFile,
            "batch" => CommandMode::Batch,
            _ => {
                cx.issue(span, path, format!("unknown mode {m:?}; expected \"per_file\" or \"batch\""));
                CommandMode::PerFile
            }
        },
    };
    // A parser given but not one (a misspelt name, a number): what depends
    // on it is not judged, so that one mistake does not cascade.
    let parser_given = Cx::get(t, "parser").is_some();
    let mut parser_known = !parser_given;
    let (parser, parser_at) = match cx.string(t, "parser") {
        None => (ParserKind::ExitCode, None),
        Some((p, span, path)) => {
            parser_known = matches!(p.as_str(), "exit_code" | "regex" | "sarif");
            let kind = match p.as_str() {
                "exit_code" => ParserKind::ExitCode,
                "regex" => ParserKind::Regex,
                "sarif" => ParserKind::Sarif,
                _ => {
                    cx.issue(
                        span.clone(),
                        path.clone(),
                        format!("unknown parser {p:?}; expected \"exit_code\", \"regex\" or \"sarif\""),
                    );
                    ParserKind::ExitCode
                }
            };
            (kind, Some((span, path)))
        }
    };
    if parser_known && parser == ParserKind::ExitCode && mode == CommandMode::Batch {
        let (span, path) = parser_at
            .clone()
            .or_else(|| Cx::get(t, "mode").map(|(v, p)| (v.span(), p)))
            .unwrap_or((t.span.clone(), join_key(&t.path, "parser")));
        cx.issue(
            span,
            path,
            "parser \"exit_code\" requires mode = \"per_file\" (a batch's exit status cannot be tied to one file); use \"regex\" or \"sarif\""
                .to_string(),
        );
    }

    // A pattern of the wrong type is reported as such, not as missing too.
    let pattern_given = Cx::get(t, "pattern").is_some();
    let pattern = cx.string(t, "pattern");
    // Under an unknown parser, a pattern is still looked at as a regex (the
    // parser's name is the likelier mistake).
    let as_regex = if parser_known { parser } else { ParserKind::Regex };
    match (&pattern, as_regex) {
        (None, ParserKind::Regex) if parser_known && !pattern_given => {
            let span = parser_at.as_ref().map_or(t.span.clone(), |(span, _)| span.clone());
            cx.issue(span, join_key(&t.path, "pattern"), "missing; parser = \"regex\" needs a pattern".to_string());
        }
        (Some((_, span, path)), ParserKind::ExitCode | ParserKind::Sarif) => {
            cx.issue(span.clone(), path.clone(), "only applies to parser = \"regex\"".to_string());
        }
        (Some((p, span, path)), ParserKind::Regex) => match regex::Regex::new(p) {
            Err(e) => cx.issue(span.clone(), path.clone(), regex_message(p, &e)),
            Ok(re) => {
                let has = |g: &str| re.capture_names().any(|n| n == Some(g));
                // A misspelt group (`lineno`) would be ignored without a word.
                for name in re.capture_names().flatten().filter(|n| !PATTERN_GROUPS.contains(n)) {
                    cx.issue(
                        span.clone(),
                        path.clone(),
                        format!(
                            "unknown group name {name:?}: the groups read are {}; group without a name with (?:…)",
                            PATTERN_GROUPS.join(", ")
                        ),
                    );
                }
                if mode == CommandMode::Batch && !has("file") {
                    cx.issue(
                        span.clone(),
                        path.clone(),
                        "with mode = \"batch\" the pattern needs a (?P<file>…) group to tie findings to files"
                            .to_string(),
                    );
                } else if mode == CommandMode::Batch && !group_always_set(p, "file") {
                    cx.issue(
                        span.clone(),
                        path.clone(),
                        "with mode = \"batch\" the (?P<file>…) group must take part in every match; here a match \
                         can leave it unset (it is in one branch of a `|` or in an optional part)"
                            .to_string(),
                    );
                }
            }
        },
        (None, _) => {}
    }
    let pattern = pattern.map(|(p, _, _)| p);

    let version = match Cx::get(t, "version") {
        None => None,
        Some((v, path)) if v.get_ref().is_str() => {
            cx.issue(
                v.span(),
                path,
                "expected an array of strings (argv); commands never run through a shell".to_string(),
            );
            None
        }
        Some(_) => match cx.strings(t, "version") {
            Some((argv, span, path)) => {
                check_argv(cx, &argv, span, path);
                Some(argv.into_iter().map(|(s, _)| s).collect())
            }
            None => None,
        },
    };

    let env = match cx.strings_found(t, "env") {
        Some((names, _, path, _)) => {
            let mut seen = BTreeSet::new();
            for (n, span) in &names {
                // A portable name: a letter or `_`, then letters, digits or `_`.
                let portable = n.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !portable {
                    cx.issue(
                        span.clone(),
                        path.clone(),
                        format!("invalid environment variable name {n:?}: use ASCII letters, digits and _, not starting with a digit"),
                    );
                } else if !seen.insert(n.as_str()) {
                    cx.issue(span.clone(), path.clone(), format!("{n:?} is listed twice"));
                }
            }
            names.into_iter().map(|(s, _)| s).collect()
        }
        None => Vec::new(),
    };
    let max_output = match cx.size(t, "max_output") {
        Some(0) => {
            let (v, path) = Cx::get(t, "max_output").expect("max_output was read");
            cx.issue(v.span(), path, "must be greater than zero".to_string());
            DEFAULT_MAX_OUTPUT
        }
        Some(n) => n,
        None => DEFAULT_MAX_OUTPUT,
    };

    let findings_exit_codes = cx.exit_codes(t, "findings_exit_codes");
    let kill_after = cx.duration(t, "kill_after", false).unwrap_or(verdict_actors::process::DEFAULT_KILL_AFTER);

    CommandConfig {
        command,
        mode,
        batch_size,
        parser,
        pattern,
        version,
        env,
        max_output,
        findings_exit_codes,
        kill_after,
    }
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/// Whether every match of `pattern` (which compiles) sets the capture group
/// `name`: not so for a group in one branch of an alternation or under a
/// repetition that may match zero times.
fn group_always_set(pattern: &str, name: &str) -> bool {
    use regex_syntax::hir::{Hir, HirKind};
    fn always(h: &Hir, name: &str) -> bool {
        match h.kind() {
            HirKind::Capture(c) => c.name.as_deref() == Some(name) || always(&c.sub, name),
            HirKind::Concat(parts) => parts.iter().any(|h| always(h, name)),
            HirKind::Alternation(branches) => branches.iter().all(|h| always(h, name)),
            HirKind::Repetition(r) => r.min > 0 && always(&r.sub, name),
            HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => false,
        }
    }
    regex_syntax::Parser::new().parse(pattern).is_ok_and(|h| always(&h, name))
}

/// The named groups a `regex` parser reads.
const PATTERN_GROUPS: [&str; 7] = ["file", "line", "column", "severity", "message", "code", "rule"];

/// A regex error on one line. A syntax error is placed where the parser
/// puts it (for a duplicate group name, at the second group, not the
/// first): `invalid regex: <error> (at character N of the pattern)`, with
/// its line for a pattern of several. Other errors come from `regex` as the
/// pattern, a caret line and an `error: …` line.
fn regex_message(pattern: &str, e: &regex::Error) -> String {
    if let Err(syntax) = regex_syntax::ast::parse::Parser::new().parse(pattern) {
        let at = syntax.span().start;
        let place = if pattern.contains('\n') {
            format!("line {}, character {}", at.line, at.column)
        } else {
            format!("character {}", at.column)
        };
        return format!("invalid regex: {} (at {place} of the pattern)", syntax.kind());
    }
    let text = e.to_string();
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() >= 4 && lines[0].trim() == "regex parse error:" {
        let what = lines
            .iter()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error:"))
            .map_or_else(|| lines[lines.len() - 1].trim(), str::trim);
        // A one-line pattern is shown indented by four spaces, and under it
        // a caret line with a space per character (not byte) before the
        // error. A pattern of several lines is shown otherwise: no position.
        const INDENT: usize = 4;
        let one_line = lines.len() == 4 && lines[1].starts_with("    ") && lines[2].trim_start().starts_with('^');
        let at =
            lines[2].find('^').filter(|_| one_line).and_then(|caret| caret.checked_sub(INDENT)).map(|chars| chars + 1);
        return match at {
            Some(n) => format!("invalid regex: {what} (at character {n} of the pattern)"),
            None => format!("invalid regex: {what}"),
        };
    }
    format!("invalid regex: {}", one_line(&text))
}

/// `text` with its lines joined by "; ".
fn one_line(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

/// Validator names and dimensions: `[A-Za-z0-9_-]+`.
/// A validator's or a dimension's name: a bare key that the command line
/// can take as an argument (`--validator NAME`, `restart NAME`), which one
/// starting with `-` it would take for an option.
fn valid_word(s: &str) -> bool {
    valid_name(s) && !s.starts_with('-')
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `prefix.key`, quoting `key` when it is not a bare TOML key.
fn join_key(prefix: &str, key: &str) -> String {
    let key = if valid_name(key) { key.to_string() } else { format!("{key:?}") };
    if prefix.is_empty() { key } else { format!("{prefix}.{key}") }
}

/// An argv (`command`, `version`) that can be run: not empty, a program
/// name, and no NUL byte (which no argument of a process can hold: every
/// run would fail).
fn check_argv(cx: &mut Cx, argv: &[(String, Range<usize>)], span: Range<usize>, path: String) {
    if argv.is_empty() {
        cx.issue(span, path, "must not be empty: give at least the program to run".to_string());
        return;
    }
    if argv[0].0.trim().is_empty() {
        cx.issue(argv[0].1.clone(), path.clone(), "the program name must not be empty".to_string());
    }
    for (arg, at) in argv {
        if arg.contains('\0') {
            cx.issue(
                at.clone(),
                path.clone(),
                format!("{arg:?} holds a NUL byte, which no program or argument can: it could never run"),
            );
        }
    }
}

/// The byte offsets where the lines of a text start.
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        LineIndex(std::iter::once(0).chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1)).collect())
    }

    /// 1-based line and column (in characters) of byte `offset` in `text`.
    fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        // The last line starting at or before `offset`.
        let line = self.0.partition_point(|&start| start <= offset);
        let mut start = self.0[line - 1];
        // A byte order mark is no column of the first line.
        if start == 0 && text.starts_with('\u{feff}') && offset >= 3 {
            start = 3;
        }
        (line, text[start..offset].chars().count() + 1)
    }
}

/// A duration as written in `verdict.toml`: humantime syntax (`"30s"`,
/// `"1h 30m"`, `"500ms"`), or `"0"`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    let d = humantime::parse_duration(t).map_err(|e| {
        // The parser's offsets count from 0; people count characters from 1.
        let why = match e {
            humantime::DurationError::NumberExpected(0) if t.starts_with('-') => {
                "a duration cannot be negative".to_owned()
            }
            humantime::DurationError::NumberExpected(i) => format!("a number was expected at character {}", i + 1),
            humantime::DurationError::InvalidCharacter(i) => format!("invalid character at character {}", i + 1),
            e => e.to_string(),
        };
        format!("invalid duration {s:?}: {why} (write e.g. \"30s\", \"500ms\", \"5m\")")
    })?;
    if d > MAX_DURATION {
        return Err(format!("duration {s:?} is too long: at most 100 years"));
    }
    Ok(d)
}

/// The largest configuration file read: far above any real one.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// A configuration file's text. Only a regular file of at most
/// [`MAX_CONFIG_BYTES`] is read: a FIFO would block the reader until a
/// writer came, and `/dev/zero` would never end. It is opened without
/// blocking and looked at through the opened file, so nothing swapped in
/// after a look is read either.
/// The file's text, or why it cannot be had (and where, for bytes that are
/// not UTF-8).
fn read_config_file(path: &Path, to_apply: bool) -> Result<String, (String, Option<(usize, usize)>)> {
    read_config_bytes(path, to_apply).map_err(|message| (message, None)).and_then(|bytes| {
        String::from_utf8(bytes).map_err(|e| {
            let valid = e.utf8_error().valid_up_to();
            // The bytes before the first bad one are text.
            let before = std::str::from_utf8(&e.as_bytes()[..valid]).expect("valid up to here");
            let at = LineIndex::new(before).line_col(before, valid);
            ("cannot read the file: not UTF-8 (the first byte that is not UTF-8 text is here)".to_string(), Some(at))
        })
    })
}

/// The environment variable listing directories whose `verdict.toml` may be
/// applied whoever owns it (`:`-separated; `*` for any), as git's
/// `safe.directory` does for repositories.
pub const SAFE_DIRECTORIES_ENV: &str = "VERDICT_SAFE_DIRECTORIES";

/// Why a configuration owned by `owner` may not be applied by this user,
/// if it may not: its command validators (and their `version` commands)
/// would run as this user, so it must be this user's or root's, unless its
/// directory is listed in [`SAFE_DIRECTORIES_ENV`]. Another user could
/// otherwise make anyone who runs verdict in a directory of theirs (or as
/// root, in their project) run their commands.
pub fn foreign_owner(path: &Path, owner: u32) -> Option<String> {
    let me = nix::unistd::geteuid().as_raw();
    if owner == me || owner == 0 {
        return None;
    }
    let dir = path.parent().unwrap_or(Path::new("/"));
    if listed_safe(dir) {
        return None;
    }
    let you = if me == 0 { "you (root)".to_string() } else { format!("you (uid {me}) or root") };
    Some(format!(
        "it is owned by uid {owner}, not by {you}, and its commands would run as you: \
         run verdict as its owner, make the file yours, or, if you trust it, list its directory in \
         {SAFE_DIRECTORIES_ENV} where the daemon starts (`verdict stop`, then \
         `{SAFE_DIRECTORIES_ENV}={} verdict …`)",
        dir.display()
    ))
}

/// Whether `dir` is listed in [`SAFE_DIRECTORIES_ENV`] (or it holds `*`).
/// Only absolute entries count: a relative one would be taken from
/// wherever the daemon or the client happens to run (`.` would trust
/// every project).
pub fn listed_safe(dir: &Path) -> bool {
    let safe = std::env::var_os(SAFE_DIRECTORIES_ENV).unwrap_or_default();
    std::env::split_paths(&safe).any(|d| {
        d.as_os_str() == "*"
            || (d.is_absolute()
                && std::fs::canonicalize(&d).is_ok_and(|d| std::fs::canonicalize(dir).is_ok_and(|c| c == d)))
    })
}

/// Opens a configuration to apply. Each symbolic link on the way (its own
/// name, and the names its links lead to) must be trusted as the file
/// itself is ([`foreign_owner`]): a link of another user's to a file of
/// root's (or of the user's own) would otherwise have that file applied
/// from their directory, whose relative commands are theirs. Each link is
/// looked at before it is followed, and every name is opened without
/// following a link at its end, so one made between the look and the open
/// is refused rather than followed.
fn open_to_apply(path: &Path) -> Result<std::fs::File, String> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let mut at = path.to_path_buf();
    for _ in 0..40 {
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOFOLLOW)
            .open(&at);
        match opened {
            Ok(f) => return Ok(f),
            Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
                let link = std::fs::symlink_metadata(&at).map_err(|e| format!("cannot read the file: {e}"))?;
                if let Some(why) = foreign_owner(&at, link.uid()) {
                    return Err(format!("will not apply the file: {} is a symbolic link, and {why}", at.display()));
                }
                let target = std::fs::read_link(&at).map_err(|e| format!("cannot read the file: {e}"))?;
                at = at.parent().unwrap_or(Path::new("/")).join(target);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && at != path => {
                return Err(format!("cannot read the file: it is a link to {}, which does not exist", at.display()));
            }
            Err(e) => return Err(format!("cannot read the file: {e}")),
        }
    }
    Err("cannot read the file: too many levels of symbolic links".into())
}

pub(crate) fn read_config_bytes(path: &Path, to_apply: bool) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = if to_apply {
        open_to_apply(path)?
    } else {
        std::fs::OpenOptions::new().read(true).custom_flags(nix::libc::O_NONBLOCK).open(path).map_err(|e| {
            match std::fs::read_link(path) {
                Ok(target) if e.kind() == std::io::ErrorKind::NotFound => {
                    format!("cannot read the file: it is a link to {}, which does not exist", target.display())
                }
                _ => format!("cannot read the file: {e}"),
            }
        })?
    };
    let meta = f.metadata().map_err(|e| format!("cannot read the file: {e}"))?;
    if !meta.is_file() {
        return Err("cannot read the file: not a regular file".into());
    }
    if to_apply && let Some(why) = foreign_owner(path, std::os::unix::fs::MetadataExt::uid(&meta)) {
        return Err(format!("will not apply the file: {why}"));
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(format!(
            "cannot read the file: {} bytes, more than the {MAX_CONFIG_BYTES} a configuration may hold",
            meta.len()
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read the file: {e}"))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(format!("cannot read the file: it grew past {MAX_CONFIG_BYTES} bytes while being read"));
    }
    Ok(bytes)
}

/// The longest duration any setting takes: 100 years (of 365.25 days, as
/// `"100years"` is read). Deadlines are instants (a duration added to now),
/// and a duration of a few hundred billion years overflows them; nothing
/// verdict times needs more than this.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 31_557_600);

/// The most jobs one validator runs at once, and the most client
/// connections the daemon takes at once: far above what a machine can use,
/// well below what the semaphores that count them can hold.
pub const MAX_PARALLEL: u64 = 65_536;

/// The most files one batch-mode invocation is given.
pub const MAX_BATCH_SIZE: u64 = 100_000;

/// The whole dotted name of the key the parser's `span` points at, from the
/// text before it: the table header it is in and the key as written
/// (`cache.ttl`, or `validators.x` for a header), or, in an inline table
/// (over several lines too), the keys that open it (`validators.x.files`
/// in `x = { files = [], files = [] }`), each in its plain form (see
/// [`plain_key`]). `None` where the key is inside an array or the text
/// before it cannot be followed (a key with an escape).
fn dotted_key_at(text: &str, span: std::ops::Range<usize>) -> Option<String> {
    let line_start = text.get(..span.start)?.rfind('\n').map_or(0, |i| i + 1);
    let on_line = text.get(line_start..span.end)?.trim();
    if let Some(header) = on_line.strip_prefix('[') {
        return plain_key(header.trim_start_matches('['));
    }
    let (table, statement) = TomlScan::statement_at(text.get(..span.start)?)?;
    let (mut path, tail) = open_path(text.get(statement..span.start)?)?;
    path.push(plain_key(text.get(statement + tail..span.end)?)?);
    Some(with_table(&table, &path.join(".")))
}

/// `key` in the table `table` (`""`: the top level).
fn with_table(table: &str, key: &str) -> String {
    if table.is_empty() { key.to_string() } else { format!("{table}.{key}") }
}

/// A key as written (`validators . x`, `'kind'`, `"a.b".c`) in its plain
/// dotted form: no blanks around the dots, quotes only on the parts that
/// need them (`"a.b".c`); `None` if a part holds an escape or a quote of
/// the other kind, or is empty.
fn plain_key(written: &str) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut rest = written.trim();
    loop {
        let (part, after) = match rest.chars().next()? {
            q @ ('"' | '\'') => {
                let end = rest[1..].find(q)? + 1;
                let inner = &rest[1..end];
                if inner.contains(['\\', '"', '\'']) {
                    return None;
                }
                (inner, &rest[end + 1..])
            }
            _ => {
                let end = rest.find(['.', ' ', '\t']).unwrap_or(rest.len());
                (&rest[..end], &rest[end..])
            }
        };
        let bare = !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        parts.push(if bare { part.to_string() } else { format!("{part:?}") });
        let after = after.trim_start();
        if after.is_empty() {
            break;
        }
        rest = after.strip_prefix('.')?.trim_start();
    }
    Some(parts.join("."))
}

/// The keys of the inline tables open at the end of `before` (the text of a
/// statement up to a key: `x = { a = { `: `x`, `a`), in plain form, and
/// where the text after the last of them (or the statement's start)
/// begins; `None` inside an array or a string, or past a key that cannot
/// be made plain.
fn open_path(before: &str) -> Option<(Vec<String>, usize)> {
    let mut path: Vec<String> = Vec::new();
    let (mut depth_arrays, mut start, mut pending) = (0usize, 0usize, None);
    // Inside a string: its quote, and whether the last character escaped.
    let mut string: Option<(char, bool)> = None;
    let mut comment = false;
    for (i, c) in before.char_indices() {
        if comment {
            // A key begins after the comment's line, at the earliest.
            if c == '\n' {
                comment = false;
                start = i + 1;
            }
            continue;
        }
        if let Some((quote, escaped)) = string {
            string = match c {
                _ if escaped => Some((quote, false)),
                '\\' if quote == '"' => Some((quote, true)),
                _ if c == quote => None,
                _ => Some((quote, false)),
            };
            continue;
        }
        match c {
            '"' | '\'' => string = Some((c, false)),
            '#' => comment = true,
            '[' => depth_arrays += 1,
            ']' => depth_arrays = depth_arrays.checked_sub(1)?,
            _ if depth_arrays > 0 => {}
            '=' => pending = Some(plain_key(&before[start..i])?),
            '{' => {
                path.push(pending.take()?);
                start = i + 1;
            }
            '}' => {
                path.pop()?;
                start = i + 1;
            }
            ',' => {
                pending = None;
                start = i + 1;
            }
            _ => {}
        }
    }
    if string.is_some() || depth_arrays > 0 {
        return None;
    }
    // The key starts after the blanks (and comment lines) past `start`.
    let mut tail = start;
    for line in before[start..].split_inclusive('\n') {
        let blank = line.trim_start();
        if !(blank.is_empty() || blank.starts_with('#')) || !line.ends_with('\n') {
            tail += line.len() - blank.len();
            break;
        }
        tail += line.len();
    }
    Some((path, tail))
}

/// The dotted key whose value begins at `at` (`key = value`, at the top
/// level of its table or in an inline table), and the value if it is a
/// bare word (as `enabled = nope`, which TOML reads as no value at all).
fn key_of_value_at(text: &str, at: usize) -> Option<(String, Option<String>)> {
    let (table, statement) = TomlScan::statement_at(text.get(..at)?)?;
    let before = text.get(statement..at)?.trim_end().strip_suffix('=')?;
    let (mut path, tail) = open_path(before)?;
    path.push(plain_key(before.get(tail..)?)?);
    let rest = text.get(at..)?;
    let bare = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let word = &rest[..rest.find(|c: char| !bare(c)).unwrap_or(rest.len())];
    let after = rest[word.len()..].trim_start_matches([' ', '\t']);
    let ends = after.is_empty() || after.starts_with(['#', ',', '}', '\n', '\r']);
    let word = (ends && !word.is_empty() && !word.starts_with(|c: char| c.is_ascii_digit() || c == '-'))
        .then(|| word.to_string());
    Some((with_table(&table, &path.join(".")), word))
}

/// The dotted key (with its table) of the top-level key/value statement
/// that `at` is in, past its `=`: `daemon.grace_period` for the second
/// value of `grace_period = "1s" "2s"` under `[daemon]`.
fn key_of_statement_at(text: &str, at: usize) -> Option<String> {
    let (table, statement) = TomlScan::statement_at(text.get(..at)?)?;
    let written = text.get(statement..at)?;
    // The first `=` outside a quoted key part.
    let mut quote: Option<char> = None;
    let eq = written.char_indices().find_map(|(i, c)| {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '=') => return Some(i),
            _ => {}
        }
        None
    })?;
    let before = &written[..eq];
    let (mut path, tail) = open_path(before)?;
    path.push(plain_key(before.get(tail..)?)?);
    Some(with_table(&table, &path.join(".")))
}

/// Just enough of TOML's lexical structure to tell, at a line's start,
/// which table header is in force and whether the line is inside a value
/// (an array, an inline table, a multi-line string) rather than at the top
/// level of its table.
enum TomlScan {
    Normal,
    Comment,
    Basic,
    Literal,
    MultiBasic,
    MultiLiteral,
}

impl TomlScan {
    /// The header in force at the end of `text`, and where the statement
    /// that end is in begins (a value may be open there: an inline table
    /// over several lines); `None` inside a string or a comment.
    fn statement_at(text: &str) -> Option<(String, usize)> {
        let (table, statement, in_string, _) = Self::scan(text)?;
        (!in_string).then_some((table, statement))
    }

    /// The header in force at the end of `text` (in plain form, see
    /// [`plain_key`]), where the last statement begins, and whether the end
    /// is inside a string, and inside a value (an array, an inline table);
    /// `None` where a header has no end.
    fn scan(text: &str) -> Option<(String, usize, bool, bool)> {
        let b = text.as_bytes();
        let (mut state, mut depth, mut table) = (TomlScan::Normal, 0usize, String::new());
        let mut i = 0;
        let mut line_start = true;
        let mut statement = 0;
        while i < b.len() {
            let c = b[i];
            if line_start && depth == 0 && matches!(state, TomlScan::Normal) && !c.is_ascii_whitespace() {
                statement = i;
            }
            match state {
                TomlScan::Normal if line_start && depth == 0 && c == b'[' => {
                    // A header: up to its closing bracket, quotes kept.
                    let end = Self::header_end(&b[i..])?;
                    let written = text[i..i + end].trim_start_matches('[').trim_end_matches(']').trim();
                    table = plain_key(written).unwrap_or_else(|| written.to_string());
                    i += end;
                    line_start = false;
                    statement = i;
                    continue;
                }
                TomlScan::Normal => match c {
                    b'#' => state = TomlScan::Comment,
                    b'"' if b[i..].starts_with(b"\"\"\"") => {
                        state = TomlScan::MultiBasic;
                        i += 2;
                    }
                    b'"' => state = TomlScan::Basic,
                    b'\'' if b[i..].starts_with(b"'''") => {
                        state = TomlScan::MultiLiteral;
                        i += 2;
                    }
                    b'\'' => state = TomlScan::Literal,
                    b'[' | b'{' => depth += 1,
                    b']' | b'}' => depth = depth.saturating_sub(1),
                    _ => {}
                },
                TomlScan::Comment if c == b'\n' => state = TomlScan::Normal,
                TomlScan::Basic | TomlScan::MultiBasic if c == b'\\' => i += 1,
                TomlScan::Basic if c == b'"' || c == b'\n' => state = TomlScan::Normal,
                TomlScan::Literal if c == b'\'' || c == b'\n' => state = TomlScan::Normal,
                TomlScan::MultiBasic if b[i..].starts_with(b"\"\"\"") => {
                    state = TomlScan::Normal;
                    i += 2;
                }
                TomlScan::MultiLiteral if b[i..].starts_with(b"'''") => {
                    state = TomlScan::Normal;
                    i += 2;
                }
                _ => {}
            }
            line_start = c == b'\n' || (line_start && (c == b' ' || c == b'\t'));
            i += 1;
        }
        // Ending at a line's start (or its blanks): a statement starts there.
        if line_start && depth == 0 && matches!(state, TomlScan::Normal) {
            statement = b.len();
        }
        let in_string = !matches!(state, TomlScan::Normal | TomlScan::Comment);
        Some((table, statement, in_string, depth > 0))
    }

    /// The length of the header at the start of `b`, through its closing
    /// bracket(s), brackets inside quoted keys skipped.
    fn header_end(b: &[u8]) -> Option<usize> {
        let mut quote = None;
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            match (quote, c) {
                (_, b'\n') => return None,
                (None, b'"' | b'\'') => quote = Some(c),
                // An escape in a basic string's key (`"a\"b"`).
                (Some(b'"'), b'\\') => i += 1,
                (Some(q), _) if c == q => quote = None,
                (None, b']') => return Some(if b.get(i + 1) == Some(&b']') { i + 2 } else { i + 1 }),
                _ => {}
            }
            i += 1;
        }
        None
    }
}

/// A size written as a string: bytes (`"512"`) or a number and unit
/// (`"10MiB"`, `"1.5 GB"`); `KiB`/`MiB`/`GiB` are powers of 1024, `KB`/`MB`/`GB`
/// of 1000 (units are case-insensitive).
pub fn parse_size(s: &str) -> Result<u64, String> {
    // Said in verdict's words first: the parser's own ("cannot parse float
    // from empty string") name none of the user's.
    const WRITE: &str = "(write e.g. \"512KiB\", \"10MiB\" or a number of bytes)";
    let written = s.trim();
    // A `+` sign, as the parser takes.
    let unsigned = written.strip_prefix('+').unwrap_or(written);
    let at = unsigned.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(unsigned.len());
    let (digits, unit) = (&unsigned[..at], unsigned[at..].trim());
    if !digits.bytes().any(|b| b.is_ascii_digit()) || digits.matches('.').count() > 1 {
        return Err(format!("invalid size {s:?}: expected a number of bytes, or a number and a unit {WRITE}"));
    }
    if !unit.is_empty() && format!("1 {unit}").parse::<bytesize::ByteSize>().is_err() {
        return Err(format!("invalid size {s:?}: unknown unit {unit:?} {WRITE}"));
    }
    let size = if digits.contains('.') && unit.is_empty() {
        // The parser wants a unit after a fraction: a number of bytes is
        // worked out below.
        0
    } else {
        unsigned
            .parse::<bytesize::ByteSize>()
            .map(|b| b.as_u64())
            .map_err(|e| format!("invalid size {s:?}: {e} {WRITE}"))?
    };
    // The parser saturates what overflows 64 bits; nothing verdict sizes
    // comes near this.
    if size > MAX_SIZE {
        return Err(format!("invalid size {s:?}: larger than the largest allowed, 1 EiB"));
    }
    // The parser multiplies in floating point: a fraction of a byte
    // ("1.5 B") is truncated, and a decimal size can come out a byte short
    // ("4.1 GB" as 4,099,999,999). A number with a fraction is worked out
    // exactly here, and refused unless it is a whole number of bytes.
    if let Some((whole, fraction)) = digits.split_once('.') {
        let unit_bytes = match unit {
            "" => 1,
            u => format!("1 {u}").parse::<bytesize::ByteSize>().map_or(1, |b| b.as_u64()),
        };
        // Trailing zeros add nothing; past 30 digits the power of ten would
        // overflow, and no unit comes near needing them.
        let fraction = fraction.trim_end_matches('0');
        let too_long = || format!("invalid size {s:?}: too many decimal places");
        if fraction.len() > 30 {
            return Err(too_long());
        }
        let scale = 10u128.pow(fraction.len() as u32);
        let parse =
            |digits: &str| if digits.is_empty() { Ok(0) } else { digits.parse::<u128>().map_err(|_| too_long()) };
        let (whole, fraction) = (parse(whole)?, parse(fraction)?);
        let part = fraction * u128::from(unit_bytes);
        if part % scale != 0 {
            return Err(format!(
                "invalid size {s:?}: it is not a whole number of bytes ({} and {}/{} bytes)",
                whole * u128::from(unit_bytes) + part / scale,
                (part % scale) / gcd(part % scale, scale),
                scale / gcd(part % scale, scale)
            ));
        }
        let exact = whole * u128::from(unit_bytes) + part / scale;
        return u64::try_from(exact)
            .ok()
            .filter(|&n| n <= MAX_SIZE)
            .ok_or_else(|| format!("invalid size {s:?}: larger than the largest allowed, 1 EiB"));
    }
    Ok(size)
}

fn gcd(a: u128, b: u128) -> u128 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The largest size any setting takes: 1 EiB.
pub const MAX_SIZE: u64 = 1 << 60;

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
