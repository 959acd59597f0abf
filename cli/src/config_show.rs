//! `verdict config show`: the effective configuration, every key written
//! out with the value it takes (its default where `verdict.toml` sets none).
//!
//! The text is TOML that [`Config::parse`] reads back to the same
//! configuration: saved as a `verdict.toml` beside the original, it
//! configures the same checks. That is what it is for: a built-in's default
//! `exclude` copied out and edited, a restart policy seen as it resolves
//! through `[defaults]`. `--json` gives the same keys and values as JSON.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use verdict_actors::builtin::BuiltinKind;

use crate::config::{Config, RestartPolicy, ValidatorConfig, ValidatorKind};

/// A size as the file takes one: a whole number of KiB, MiB or GiB in
/// those units, anything else in bytes.
#[derive(Serialize)]
#[serde(untagged)]
enum Size {
    Bytes(u64),
    Unit(String),
}

fn size(n: u64) -> Size {
    const UNITS: [(u64, &str); 6] =
        [(1 << 60, "EiB"), (1 << 50, "PiB"), (1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    match UNITS.iter().find(|(unit, _)| n != 0 && n.is_multiple_of(*unit)) {
        Some((unit, name)) => Size::Unit(format!("{}{name}", n / unit)),
        None => Size::Bytes(n),
    }
}

/// A duration as the file takes one: a whole number of the largest unit
/// that measures it exactly (`"30s"`, `"1d"`, `"365d"`, `"1500ms"`), never
/// months or years, whose length the parser takes as an average; zero as
/// `"0"`, which a TTL reads as "never expires".
fn duration(d: Duration) -> String {
    const UNITS: [(u128, &str); 7] = [
        (86_400_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0".to_owned();
    }
    let (unit, name) = UNITS.iter().find(|(unit, _)| nanos.is_multiple_of(*unit)).expect("a nanosecond measures any");
    format!("{}{name}", nanos / unit)
}

#[derive(Serialize)]
struct Top {
    builtins: bool,
    daemon: Daemon,
    cache: Cache,
    check: Check,
    defaults: Defaults,
}

#[derive(Serialize)]
struct Daemon {
    grace_period: String,
    idle_timeout: String,
    max_connections: usize,
    log_max_size: Size,
    log_keep: usize,
    exit_after_idle: String,
}

#[derive(Serialize)]
struct Cache {
    enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    dir: Option<String>,
    ttl: String,
    block_cache: Size,
    write_buffer: Size,
}

#[derive(Serialize)]
struct Check {
    exclude: Vec<String>,
    max_file_size: Size,
    watch: bool,
    pre_commit: bool,
    gitleaks: bool,
}

#[derive(Serialize)]
struct Defaults {
    timeout: String,
    concurrency: usize,
    batch_size: usize,
    restart: Restart,
}

#[derive(Serialize)]
struct Restart {
    max_restarts: u32,
    window: String,
    backoff: String,
    backoff_max: String,
    reset_after: String,
}

impl From<&RestartPolicy> for Restart {
    fn from(r: &RestartPolicy) -> Self {
        Restart {
            max_restarts: r.max_restarts,
            window: duration(r.window),
            backoff: duration(r.backoff),
            backoff_max: duration(r.backoff_max),
            reset_after: duration(r.reset_after),
        }
    }
}

/// One `[validators.NAME]` table. The fields are in the order the
/// reference documents them; the restart table comes last, as TOML wants
/// a table after the plain keys.
#[derive(Serialize)]
struct Validator<'a> {
    kind: &'static str,
    enabled: bool,
    dimension: &'a str,
    files: &'a [String],
    exclude: &'a [String],
    timeout: String,
    cache_ttl: String,
    concurrency: usize,
    batch_size: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_size: Option<Size>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parser: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pattern: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    env: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output: Option<Size>,
    #[serde(skip_serializing_if = "Option::is_none")]
    findings_exit_codes: Option<&'a [i32]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kill_after: Option<String>,
    restart: Restart,
}

impl<'a> Validator<'a> {
    fn new(v: &'a ValidatorConfig, size: fn(u64) -> Size) -> Self {
        let mut shown = Validator {
            kind: v.kind.name(),
            enabled: v.enabled,
            dimension: &v.dimension,
            files: &v.files,
            exclude: &v.exclude,
            timeout: duration(v.timeout),
            cache_ttl: duration(v.cache_ttl),
            concurrency: v.concurrency,
            batch_size: v.batch_size,
            max_size: None,
            command: None,
            mode: None,
            parser: None,
            pattern: None,
            version: None,
            env: None,
            max_output: None,
            findings_exit_codes: None,
            kill_after: None,
            restart: Restart::from(&v.restart),
        };
        match &v.kind {
            ValidatorKind::Builtin { kind, settings } => {
                if *kind == BuiltinKind::LargeFile {
                    shown.max_size = Some(size(settings.max_size));
                }
            }
            ValidatorKind::Command(c) => {
                shown.command = Some(&c.command);
                shown.mode = Some(c.mode.as_str());
                shown.parser = Some(c.parser.as_str());
                shown.pattern = c.pattern.as_deref();
                shown.version = c.version.as_deref();
                shown.env = Some(&c.env);
                shown.max_output = Some(size(c.max_output));
                shown.findings_exit_codes = c.findings_exit_codes.as_deref();
                shown.kill_after = Some(duration(c.kill_after));
            }
        }
        shown
    }
}

/// The resolved `cache.dir`, absolute: a relative one was resolved
/// against the file's directory, which may itself have been named
/// relatively (`--file proj/verdict.toml`); a copy of the text elsewhere
/// names the same directory. `.` components are dropped (`dir = "."` is the
/// root itself, which the daemon refuses as a cache, not a `.` below it).
fn cache_dir(dir: &Path) -> String {
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let tidy: std::path::PathBuf = absolute.components().collect();
    tidy.to_string_lossy().into_owned()
}

fn top(cfg: &Config, size: fn(u64) -> Size) -> Top {
    let dir = cfg.cache.dir.as_deref().map(cache_dir);
    Top {
        builtins: cfg.builtins,
        daemon: Daemon {
            grace_period: duration(cfg.daemon.grace_period),
            idle_timeout: duration(cfg.daemon.idle_timeout),
            max_connections: cfg.daemon.max_connections,
            log_max_size: size(cfg.daemon.log_max_size),
            log_keep: cfg.daemon.log_keep,
            exit_after_idle: duration(cfg.daemon.exit_after_idle),
        },
        cache: Cache {
            enabled: cfg.cache.enabled,
            dir,
            ttl: duration(cfg.cache.ttl),
            block_cache: size(cfg.cache.block_cache),
            write_buffer: size(cfg.cache.write_buffer),
        },
        check: Check {
            exclude: cfg.check.exclude.clone(),
            max_file_size: size(cfg.check.max_file_size),
            watch: cfg.check.watch,
            pre_commit: cfg.check.pre_commit,
            gitleaks: cfg.check.gitleaks,
        },
        defaults: Defaults {
            timeout: duration(cfg.defaults.timeout),
            concurrency: cfg.defaults.concurrency,
            batch_size: cfg.defaults.batch_size,
            restart: Restart::from(&cfg.defaults.restart),
        },
    }
}

/// A name asked for that `cfg` has no validator of.
#[derive(Debug, thiserror::Error)]
#[error("no validator named {name:?}{}; {}", builtins_off(*.builtin_off), known_list(.known))]
pub struct UnknownValidator {
    /// The name asked for.
    pub name: String,
    /// It is a built-in's, and `builtins = false` leaves the built-ins out.
    pub builtin_off: bool,
    /// Every validator's name, disabled ones included.
    pub known: Vec<String>,
}

fn builtins_off(off: bool) -> &'static str {
    if off { " (builtins = false: a built-in runs only where a table of its own names it)" } else { "" }
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() { "there are none".to_owned() } else { format!("the validators are: {}", known.join(", ")) }
}

/// The validators to show: every one (disabled ones included, with
/// `enabled = false`), or those `names` asks for, in its order.
fn selected<'c>(
    cfg: &Config,
    all: &'c [ValidatorConfig],
    names: &[String],
) -> Result<Vec<&'c ValidatorConfig>, UnknownValidator> {
    if names.is_empty() {
        return Ok(all.iter().collect());
    }
    let mut out: Vec<&ValidatorConfig> = Vec::new();
    for name in names {
        let v = all.iter().find(|v| &v.name == name).ok_or_else(|| UnknownValidator {
            name: name.clone(),
            builtin_off: !cfg.builtins && BuiltinKind::from_name(name).is_some(),
            known: all.iter().map(|v| v.name.clone()).collect(),
        })?;
        if !out.iter().any(|o| o.name == v.name) {
            out.push(v);
        }
    }
    Ok(out)
}

/// `cfg` as TOML, with comments saying where it came from: all of it, or
/// (`names` not empty) only those validators' tables. `root`: the
/// project root, said when there is no file.
pub fn toml_text(cfg: &Config, names: &[String], root: Option<&Path>) -> Result<String, UnknownValidator> {
    let all = cfg.all_validators();
    let chosen = selected(cfg, &all, names)?;
    let visible = |p: &Path| crate::report::visible(&p.display().to_string()).into_owned();
    // The file's own name, in the comment over each of its tables.
    let file_name = cfg.source.as_deref().and_then(Path::file_name).map_or_else(
        || crate::config::FILE_NAME.to_owned(),
        |n| crate::report::visible(&n.to_string_lossy()).into_owned(),
    );
    let mut out = String::new();
    if names.is_empty() {
        match (&cfg.source, root) {
            (Some(file), _) => out.push_str(&format!(
                "# The effective configuration of {}: every key, with the value it takes where the file sets none.\n",
                visible(file)
            )),
            (None, Some(root)) => out.push_str(&format!(
                "# No verdict.toml in {}: the built-in validators, every key at its default.\n",
                visible(root)
            )),
            (None, None) => out.push_str("# No verdict.toml: the built-in validators, every key at its default.\n"),
        }
        out.push_str(
            "# Read as a verdict.toml, this text configures the same checks; but every value in it is then fixed:\n\
             # [defaults], cache.ttl and the built-ins' default files and exclude (a later verdict's too) no longer\n\
             # reach a table, and concurrency stays this machine's. Copy the tables and keys you mean to change.\n\n",
        );
        out.push_str(&toml::to_string_pretty(&top(cfg, size)).expect("plain settings serialize as TOML"));
    }
    for v in chosen {
        #[derive(Serialize)]
        struct One<'a> {
            validators: BTreeMap<&'a str, Validator<'a>>,
        }
        if !out.is_empty() {
            out.push('\n');
        }
        // Where each table comes from, in the whole view; tables asked for
        // by name are for pasting into the file, where it would go stale.
        if names.is_empty() {
            out.push_str(&if cfg.declared.contains_key(&v.name) {
                format!(
                    "# [validators.{}] of {file_name}; the keys it does not set from [defaults], [cache] and its kind.\n",
                    v.name
                )
            } else {
                format!("# A built-in that {file_name} does not configure: every key at its default.\n")
            });
        }
        // Said over the table, named or not: what it runs on is not the
        // table's alone.
        for (file, words) in v.project_scope.iter().flat_map(|s| s.parts()) {
            out.push_str(&format!("# Its files are narrowed by {file}: {}.\n", crate::report::visible(&words)));
        }
        if let (ValidatorKind::Builtin { kind: BuiltinKind::LargeFile, .. }, false, Some(pc)) =
            (&v.kind, v.max_size_set, &cfg.pre_commit)
            && let Some((_, line)) = pc.max_size()
        {
            out.push_str(&format!(
                "# Its max_size is check-added-large-files' --maxkb in {} (line {line}).\n",
                pc.file
            ));
        }
        let one = One { validators: BTreeMap::from([(v.name.as_str(), Validator::new(v, size))]) };
        out.push_str(&toml::to_string_pretty(&one).expect("plain settings serialize as TOML"));
    }
    Ok(out)
}

/// [`toml_text`]'s text with a comment after each key whose value `raw`
/// (the file's own TOML) gives, where it gives it: `# set here` where the
/// key's table sets it, `# from [defaults]` (or `[defaults.restart]`) where
/// a validator takes it from there, `# from [cache] ttl` for a validator's
/// `cache_ttl`. A key without one is at its default (its kind's, or
/// verdict's). Keys are matched by the table headers above them; a line
/// that begins no key (an array's items, a comment) is left as it is.
pub fn with_origins(text: &str, raw: &toml::Table) -> String {
    let get = |path: &[&str]| -> Option<&toml::Value> {
        let (last, tables) = path.split_last()?;
        let mut t = raw;
        for p in tables {
            t = t.get(*p)?.as_table()?;
        }
        t.get(*last)
    };
    let mut table: Vec<String> = Vec::new();
    let mut out = String::with_capacity(text.len() * 2);
    for line in text.lines() {
        if line.starts_with('[') {
            // The header's path, as TOML reads it (names may be quoted).
            table = header_path(line).unwrap_or_default();
        }
        let key = line
            .split_once(" = ")
            .map(|(k, _)| k)
            .filter(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        let origin = key.and_then(|key| {
            let path: Vec<&str> = table.iter().map(String::as_str).chain([key]).collect();
            if get(&path).is_some() {
                return Some("set here");
            }
            match path.as_slice() {
                ["validators", _, "timeout" | "concurrency" | "batch_size"] if get(&["defaults", key]).is_some() => {
                    Some("from [defaults]")
                }
                ["validators", _, "restart", _] if get(&["defaults", "restart", key]).is_some() => {
                    Some("from [defaults.restart]")
                }
                ["validators", _, "cache_ttl"] if get(&["cache", "ttl"]).is_some() => Some("from [cache] ttl"),
                _ => None,
            }
        });
        out.push_str(line);
        if let Some(origin) = origin {
            out.push_str("  # ");
            out.push_str(origin);
        }
        out.push('\n');
    }
    out
}

/// The path of the table a header line (`[validators."a.b".restart]`)
/// opens, as TOML reads it.
fn header_path(line: &str) -> Option<Vec<String>> {
    let doc: toml::Table = line.parse().ok()?;
    let mut path = Vec::new();
    let mut t = &doc;
    while let Some((name, inner)) = t.iter().next() {
        path.push(name.clone());
        match inner.as_table() {
            Some(inner) if t.len() == 1 => t = inner,
            _ => break,
        }
    }
    Some(path)
}

/// JSON's sizes: always a number of bytes, which a program need not parse.
fn bytes(n: u64) -> Size {
    Size::Bytes(n)
}

/// `cfg` as the JSON document `verdict --json config show` prints:
/// `{"file": …, "config": {…}}`, the config holding the keys and values
/// of [`toml_text`], sizes as numbers of bytes (only `validators` when
/// `names` are given).
pub fn json(cfg: &Config, names: &[String]) -> Result<serde_json::Value, UnknownValidator> {
    let all = cfg.all_validators();
    let chosen = selected(cfg, &all, names)?;
    let validators: serde_json::Map<String, serde_json::Value> = chosen
        .into_iter()
        .map(|v| (v.name.clone(), serde_json::to_value(Validator::new(v, bytes)).expect("plain settings serialize")))
        .collect();
    let mut config = if names.is_empty() {
        serde_json::to_value(top(cfg, bytes)).expect("plain settings serialize")
    } else {
        serde_json::json!({})
    };
    config["validators"] = serde_json::Value::Object(validators);
    let mut doc = serde_json::json!({
        "file": cfg.source.as_deref().map(cache_dir),
        "config": config,
    });
    // Not a key of verdict.toml's: beside the configuration, not in it.
    if let Some(pc) = &cfg.pre_commit {
        let narrowed: serde_json::Map<String, serde_json::Value> = (all.iter())
            .filter(|v| names.is_empty() || names.contains(&v.name))
            .filter_map(|v| {
                Some((v.name.clone(), serde_json::json!(v.project_scope.as_ref()?.pre_commit.as_ref()?.describe())))
            })
            .collect();
        doc["pre_commit"] = serde_json::json!({ "file": pc.file, "narrows": narrowed, "warnings": pc.warnings });
    }
    if let Some(g) = &cfg.gitleaks {
        let paths: Vec<serde_json::Value> =
            g.paths.iter().map(|p| serde_json::json!({ "path": p.source, "line": p.line })).collect();
        doc["gitleaks"] = serde_json::json!({ "file": g.file, "paths": paths, "warnings": g.warnings });
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    const ORIGIN: &str = "/proj/verdict.toml";

    fn parse(text: &str) -> Config {
        Config::parse(text, Path::new(ORIGIN)).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// What runs: `declared` differs after a round trip (every validator is
    /// written out, so every one is declared), what it declares does not
    /// (but that `max_size` is now set: a value it was not set to before).
    fn effective(c: &Config) -> impl PartialEq + std::fmt::Debug {
        let validators: Vec<ValidatorConfig> =
            c.all_validators().into_iter().map(|v| ValidatorConfig { max_size_set: false, ..v }).collect();
        (c.builtins, c.daemon.clone(), c.cache.clone(), c.check.clone(), c.defaults.clone(), validators)
    }

    /// Every kind of value, and values TOML must quote or escape.
    const RICH: &str = r#"
builtins = false

[daemon]
grace_period = "1s 500ms"
exit_after_idle = "0"
log_max_size = 5000

[cache]
dir = "cache/here"
ttl = "0"
write_buffer = "3MiB"

[check]
exclude = ["target/", "it's \"quoted\"/**", 'back\slash']
max_file_size = 1025

[defaults]
timeout = "1m 1s"
concurrency = 3
[defaults.restart]
max_restarts = 0
backoff = "1ms"

[validators.utf8]
exclude = []

[validators.big]
kind = "large-file"
max_size = 1000
enabled = false

[validators.lint]
kind = "command"
dimension = "style"
files = ["*.py", "ünï/*.py"]
command = ["ruff", "--flag=a b", "it's"]
mode = "batch"
batch_size = 7
parser = "regex"
pattern = '^(?P<file>[^:]+):(?P<line>\d+): "(?P<message>.*)"$'
version = ["ruff", "--version"]
env = ["HOME", "RUFF_X"]
max_output = "1KiB"
findings_exit_codes = [1, 3]
kill_after = "250ms"
restart = { window = "7s" }

[validators.sarif]
kind = "command"
files = ["*"]
command = ["tool"]
parser = "sarif"
"#;

    #[test]
    fn the_text_shown_reads_back_as_the_same_configuration() {
        let default_read = Config { source: Some(PathBuf::from(ORIGIN)), ..Config::default() };
        for cfg in [default_read, parse(RICH)] {
            let text = toml_text(&cfg, &[], None).unwrap();
            assert_eq!(effective(&parse(&text)), effective(&cfg), "{text}");
            // Every key is written: nothing is left to a default that could
            // change under it.
            for key in ["grace_period =", "[defaults.restart]", "cache_ttl =", "reset_after ="] {
                assert!(text.contains(key), "{key} in {text}");
            }
        }
        let text = toml_text(&parse(RICH), &[], None).unwrap();
        // As the file wrote them, and said where each validator comes from.
        for line in [
            "dir = \"/proj/cache/here\"",
            "grace_period = \"1500ms\"",
            "timeout = \"61s\"",
            "ttl = \"0\"",
            "write_buffer = \"3MiB\"",
            "max_file_size = 1025",
            "max_size = 1000",
            "max_output = \"1KiB\"",
            "# [validators.lint] of verdict.toml",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        // builtins = false: only the tables written.
        assert!(!text.contains("[validators.json]") && text.contains("[validators.utf8]"), "{text}");
        let defaults = toml_text(&Config::default(), &[], Some(Path::new("/proj"))).unwrap();
        assert!(defaults.starts_with("# No verdict.toml") && !defaults.contains("dir ="), "{defaults}");
        assert!(defaults.contains("# A built-in that verdict.toml does not configure"), "{defaults}");
    }

    #[test]
    fn a_built_in_shown_alone_carries_its_default_excludes() {
        let cfg = Config::default();
        let text = toml_text(&cfg, &["trailing-whitespace".to_owned(), "utf8".to_owned()], None).unwrap();
        assert!(!text.contains("[daemon]") && !text.contains("builtins") && !text.contains('#'), "{text}");
        let heads: Vec<&str> =
            text.lines().filter(|l| l.starts_with("[validators.") && !l.contains("restart")).collect();
        assert_eq!(heads, ["[validators.trailing-whitespace]", "[validators.utf8]"], "{text}");
        // Pasted into a verdict.toml, the tables configure those built-ins
        // exactly as their defaults do.
        let read = parse(&text);
        for name in ["trailing-whitespace", "utf8"] {
            let mut want = cfg.validator(name).unwrap();
            want.cache_ttl = read.cache.ttl;
            assert_eq!(read.declared[name], want, "{name}");
            assert!(!want.exclude.is_empty(), "{name} has default excludes");
        }
        // Named twice, shown once; a disabled one is shown too.
        let twice = toml_text(&cfg, &["utf8".to_owned(), "utf8".to_owned()], None).unwrap();
        assert_eq!(twice.matches("[validators.utf8]").count(), 1, "{twice}");
        let rich = parse(RICH);
        assert!(toml_text(&rich, &["big".to_owned()], None).unwrap().contains("enabled = false"));
        let e = toml_text(&rich, &["json".to_owned()], None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no validator named \"json\" (builtins = false: a built-in runs only where a table of its own names it); \
             the validators are: big, lint, sarif, utf8"
        );
        let e = toml_text(&rich, &["jsn".to_owned()], None).unwrap_err();
        assert_eq!(e.to_string(), "no validator named \"jsn\"; the validators are: big, lint, sarif, utf8");
    }

    #[test]
    fn json_holds_the_same_keys_and_values() {
        let cfg = parse(RICH);
        let doc = json(&cfg, &[]).unwrap();
        assert_eq!(doc["file"], ORIGIN);
        let c = &doc["config"];
        assert_eq!(c["builtins"], false);
        assert_eq!(c["daemon"]["log_max_size"], 5000);
        // Sizes as numbers of bytes, which a program need not parse.
        assert_eq!(c["cache"]["write_buffer"], 3 << 20);
        assert_eq!(c["cache"]["dir"], "/proj/cache/here");
        assert_eq!(c["defaults"]["restart"]["max_restarts"], 0);
        let lint = &c["validators"]["lint"];
        assert_eq!(lint["command"], serde_json::json!(["ruff", "--flag=a b", "it's"]));
        assert_eq!(lint["restart"]["window"], "7s");
        assert_eq!(lint["findings_exit_codes"], serde_json::json!([1, 3]));
        assert!(c["validators"]["sarif"].get("pattern").is_none() && c["validators"]["utf8"].get("command").is_none());
        // The JSON's config, written as TOML, is the configuration too.
        let as_toml = toml::to_string(&c).unwrap();
        assert_eq!(effective(&parse(&as_toml)), effective(&cfg), "{as_toml}");
        let one = json(&Config::default(), &["large-file".to_owned()]).unwrap();
        assert_eq!(one["file"], serde_json::Value::Null);
        let keys: Vec<&String> = one["config"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["validators"]);
        assert_eq!(one["config"]["validators"]["large-file"]["max_size"], 512 << 10);
    }

    #[test]
    fn sizes_and_durations_are_written_as_the_file_takes_them() {
        for (n, want) in [(0, "0"), (1, "1"), (1023, "1023"), (1024, "\"1KiB\""), (1536, "1536"), (3 << 30, "\"3GiB\"")]
        {
            assert_eq!(serde_json::to_string(&size(n)).unwrap(), want);
        }
        for s in ["1KiB", "3MiB", "3GiB", "1024GiB", "2TiB", "1EiB"] {
            let n = crate::config::parse_size(s).unwrap();
            let Size::Unit(u) = size(n) else { panic!("{s}") };
            assert_eq!(crate::config::parse_size(&u), Ok(n), "{s} shown as {u}");
        }
        assert!(matches!(size(1 << 40), Size::Unit(u) if u == "1TiB"));
        // The largest unit that measures it exactly; never months, whose
        // length the parser averages.
        let day = 86_400;
        for (d, want) in [
            (Duration::ZERO, "0"),
            (Duration::from_millis(1), "1ms"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::from_secs(90 * 60), "90m"),
            (Duration::from_secs(3 * 3600), "3h"),
            (Duration::from_secs(365 * day), "365d"),
            (Duration::from_secs(31 * day), "31d"),
            (Duration::from_nanos(100_001), "100001ns"),
            (Duration::from_secs(100 * 365 * day), "36500d"),
        ] {
            assert_eq!(duration(d), want);
            assert_eq!(crate::config::parse_duration(&duration(d)), Ok(d), "{want}");
        }
    }

    #[test]
    fn origins_say_which_table_gives_each_key() {
        let file = "[cache]\nttl = \"7d\"\n[defaults]\ntimeout = \"9s\"\n[defaults.restart]\nwindow = \"2m\"\n\
                    [validators.yaml]\nexclude = [\"x/\"]\n[validators.yaml.restart]\nmax_restarts = 2\n\
                    [validators.my-lint]\nkind = \"command\"\nfiles = [\"*.py\"]\ncommand = [\"true\"]\nbatch_size = 5\n";
        let cfg = parse(file);
        let raw: toml::Table = file.parse().unwrap();
        let text = with_origins(&toml_text(&cfg, &[], None).unwrap(), &raw);
        let table = |name: &str| {
            let start = text.find(&format!("\n[validators.{name}]\n")).unwrap_or_else(|| panic!("{name} in {text}"));
            let rest = &text[start + 1..];
            let own = format!("\n[validators.{name}.");
            let end = (rest.match_indices("\n[validators."))
                .find(|(i, _)| !rest[*i..].starts_with(&own))
                .map_or(rest.len(), |(i, _)| i);
            rest[..end].to_owned()
        };
        let yaml = table("yaml");
        for line in [
            "exclude = [\"x/\"]  # set here\n",
            "timeout = \"9s\"  # from [defaults]\n",
            "cache_ttl = \"7d\"  # from [cache] ttl\n",
            "concurrency = ",
            "max_restarts = 2  # set here\n",
            "window = \"2m\"  # from [defaults.restart]\n",
            "backoff = \"10ms\"\n",
        ] {
            assert!(yaml.contains(line), "{line:?} in\n{yaml}");
        }
        assert!(!yaml.contains("kind = \"yaml\"  #") && !yaml.contains("concurrency = 2  #"), "{yaml}");
        let lint = table("my-lint");
        for line in ["kind = \"command\"  # set here\n", "batch_size = 5  # set here\n", "mode = \"per_file\"\n"] {
            assert!(lint.contains(line), "{line:?} in\n{lint}");
        }
        // A built-in the file does not name takes [defaults] too.
        assert!(table("utf8").contains("timeout = \"9s\"  # from [defaults]\n"), "{text}");
        // The top tables: what the file sets, said so.
        assert!(text.contains("\n[defaults]\ntimeout = \"9s\"  # set here\n"), "{text}");
        // Still the same configuration, read back.
        assert_eq!(effective(&parse(&text)), effective(&cfg));
    }
}
