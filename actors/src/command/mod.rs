//! External command validators: running a validator program safely and turning
//! what it printed into one [`Outcome`] per file.
//!
//! A tool is never run through a shell: `argv` is the program and its fixed
//! arguments, and the batch's files (relative to the project root) are
//! appended. The child gets stdin from /dev/null, a cleared environment (only
//! `PATH` and the variables the validator lists), the project root as working
//! directory and a process group of its own, registered in the validator's
//! [`ProcessRegistry`] while it runs. Dropping the future of [`run`] kills the
//! whole group; so does the tool's exit (leftover background processes) — see
//! [`crate::process`].
//!
//! stdout and stderr are read concurrently and each kept up to
//! [`CommandSpec::max_output`] bytes; the rest is read and discarded, so a tool
//! that floods its output neither blocks on a full pipe nor grows memory.
//!
//! Failures to run are [`Outcome::Error`]s for every file of the batch, never
//! an `Err`: a missing executable, death by a signal, output that cannot be
//! parsed. Deadlines are the caller's business (wrap [`run`] in a timeout, or
//! call [`ProcessRegistry::terminate_all`]).

mod exec;
pub use exec::START_PATIENCE;
mod parse;
#[cfg(test)]
mod tests;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::outcome::Outcome;
use crate::process::ProcessRegistry;

/// Default for [`CommandSpec::max_output`]: 1 MiB.
pub const DEFAULT_MAX_OUTPUT: usize = 1024 * 1024;

/// Bytes of output kept from a version command.
const VERSION_MAX_OUTPUT: usize = 4096;

/// How to run one external validator.
#[derive(Clone, Debug)]
pub struct CommandSpec {
    /// The program and its fixed arguments; never run through a shell. A
    /// program given as a relative path containing `/` is resolved against
    /// `cwd`; a bare name is looked up in `PATH`.
    pub argv: Vec<String>,
    /// How to read the tool's verdict from its exit status and output.
    pub parser: OutputParser,
    /// Names of environment variables passed through to the tool; everything
    /// else is cleared. `PATH` is always passed.
    pub env: Vec<String>,
    /// The working directory: the project root, which the file paths are
    /// relative to.
    pub cwd: PathBuf,
    /// Bytes kept of stdout and of stderr, each (default
    /// [`DEFAULT_MAX_OUTPUT`]). Files a tool may have reported on in the
    /// discarded part get an error instead of passing.
    pub max_output: usize,
    /// The non-zero exit statuses that mean "the tool ran and reported
    /// findings"; any other non-zero status means it failed. `None`: the
    /// parser's default ([`OutputParser::default_findings_exit_codes`]).
    pub findings_exit_codes: Option<Vec<i32>>,
    /// How long a start that failed for want of descriptors or processes
    /// (more tools at once than the limits allow) is tried again (default
    /// [`START_PATIENCE`]).
    pub start_patience: Duration,
    /// The validator runs in `mode = "batch"`: its jobs hold any number of
    /// files, one included, so nothing is given to a file for want of
    /// another (a SARIF result without a location).
    pub batch: bool,
    /// Which files of the project the validator checks (see [`Selects`]).
    pub selects: Selects,
}

/// Which files of the project a validator checks, by their path relative
/// to the project root: a finding a tool reports for another file (a
/// header a C file includes) reached it only through the files it was
/// given, so it is never dropped for all of them (see `parse`). `None`:
/// not known, and such findings are dropped as for any file outside the
/// batch.
#[derive(Clone, Default)]
pub struct Selects(pub Option<Arc<SelectsFn>>);

/// Whether a path relative to the project root is one a validator checks.
pub type SelectsFn = dyn Fn(&Path) -> bool + Send + Sync;

impl Selects {
    /// Whether the validator checks `rel` (relative to the root); `true`
    /// when that is not known.
    pub fn checks(&self, rel: &Path) -> bool {
        self.0.as_ref().is_none_or(|f| f(rel))
    }
}

impl std::fmt::Debug for Selects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Selects(..)" } else { "Selects(None)" })
    }
}

impl CommandSpec {
    /// A spec with no environment pass-through (beyond `PATH`) and the default
    /// output bound.
    pub fn new(argv: Vec<String>, parser: OutputParser, cwd: impl Into<PathBuf>) -> Self {
        CommandSpec {
            argv,
            parser,
            env: Vec::new(),
            cwd: cwd.into(),
            max_output: DEFAULT_MAX_OUTPUT,
            findings_exit_codes: None,
            start_patience: exec::START_PATIENCE,
            batch: false,
            selects: Selects::default(),
        }
    }
}

/// How a tool's verdict is read.
#[derive(Clone, Debug)]
pub enum OutputParser {
    /// Exit status 0 passes; anything else is one finding (`exited with status
    /// N: <first line of output>`), the same for every file of the batch — so
    /// meant for one file per invocation.
    ExitCode,
    /// Each line of stdout, then of stderr, is matched; a match is a finding.
    /// Named groups: `file` (required unless batches hold one file), `line`,
    /// `column`, `severity` (error/warning/note/info/hint; default error),
    /// `message` (default: the whole line), `code` or `rule`. Findings are
    /// attributed to batch files by normalized path (leading `./` stripped,
    /// absolute paths made relative to the project root); others are ignored.
    /// A non-zero exit with no finding for the batch is an error.
    Regex(regex::Regex),
    /// stdout is a SARIF 2.1.0 log; `runs[].results[]` become findings (rule
    /// id, level, message text, first location's file, start line and
    /// column). A log that says its run failed (`executionSuccessful:
    /// false`), stdout that is not valid SARIF, and a non-zero exit with no
    /// finding for the batch are errors.
    Sarif,
}

impl OutputParser {
    /// The non-zero exit statuses that mean findings when the validator
    /// lists none: for `regex` and `sarif`, 1, as most linters exit (eslint,
    /// ruff, shellcheck, flake8, gcc: 1 for findings, 2 and up for a
    /// failure); for `exit_code` every one (`None`), the status being the
    /// whole verdict.
    pub fn default_findings_exit_codes(&self) -> Option<&'static [i32]> {
        match self {
            OutputParser::ExitCode => None,
            OutputParser::Regex(_) | OutputParser::Sarif => Some(&[1]),
        }
    }
}

/// Runs the tool once over `files` (paths relative to `spec.cwd`, appended to
/// `spec.argv` as [`file_arg`] writes them), returning one [`Outcome`] per
/// file, in order.
///
/// The tool's process group is registered in `registry` while it runs, so the
/// supervisor can [`terminate`](ProcessRegistry::terminate_all) it; dropping
/// this future kills the group. With no files, nothing is run.
pub async fn run(spec: &CommandSpec, files: &[String], registry: &ProcessRegistry) -> Vec<Outcome> {
    let args: Vec<OsString> = files.iter().map(|f| file_arg(OsStr::new(f))).collect();
    run_args(spec, files, &args, registry).await
}

/// The executable `program` (a command's first word) names, as a run from
/// `cwd` would find it: a bare name through `PATH`, a relative path from
/// `cwd`.
pub fn resolve_program(program: &str, cwd: &Path) -> PathBuf {
    exec::program_path(program, cwd)
}

/// A file's path relative to the project root as a tool gets it: as it is,
/// or after `./` when it starts with `-`, so that no file name is ever read
/// as an option (`-rf.txt`, `--version.txt`).
pub fn file_arg(rel: &OsStr) -> OsString {
    if rel.as_bytes().starts_with(b"-") {
        let mut arg = OsString::from("./");
        arg.push(rel);
        arg
    } else {
        rel.to_owned()
    }
}

/// [`run`] with each file's argument given: the exact bytes of its path,
/// which findings are matched against (`files` are the same names as
/// UTF-8, lossily).
pub async fn run_args(
    spec: &CommandSpec,
    files: &[String],
    args: &[OsString],
    registry: &ProcessRegistry,
) -> Vec<Outcome> {
    debug_assert_eq!(files.len(), args.len());
    if files.is_empty() {
        return Vec::new();
    }
    let all = |reason: String| vec![Outcome::error(reason); files.len()];
    if let OutputParser::Regex(re) = &spec.parser
        && files.len() > 1
        && !re.capture_names().any(|n| n == Some("file"))
    {
        return all(format!(
            "the output regex has no `file` group, so it cannot attribute findings among {} files",
            files.len()
        ));
    }
    let execution =
        match exec::execute(&spec.argv, args, &spec.cwd, &spec.env, spec.max_output, registry, spec.start_patience)
            .await
        {
            Ok(execution) => execution,
            Err(reason) => return all(reason),
        };
    // A tool killed by a signal failed, but what it printed before stays
    // (a file it reported on keeps its findings, with an error finding).
    let (code, killed) = match execution.exit_code() {
        Ok(code) => (code, None),
        Err(reason) => (-1, Some(reason)),
    };
    let findings_codes: Option<Vec<i32>> =
        spec.findings_exit_codes.clone().or_else(|| spec.parser.default_findings_exit_codes().map(<[i32]>::to_vec));
    let (parser, cwd, batch, selects) = (spec.parser.clone(), spec.cwd.clone(), spec.batch, spec.selects.clone());
    let large = execution.stdout.bytes.len() + execution.stderr.bytes.len() > PARSE_INLINE_MAX;
    let sarif = matches!(parser, OutputParser::Sarif);
    let parse = {
        let args = args.to_vec();
        move || {
            let status = parse::Status { code, findings_codes: findings_codes.as_deref(), killed: killed.as_deref() };
            match &parser {
                OutputParser::ExitCode => parse::exit_code(&execution, status, &args),
                OutputParser::Regex(re) => parse::regex(re, &execution, status, &args, &cwd, &selects),
                OutputParser::Sarif => parse::sarif(&execution, status, &args, &cwd, batch, &selects),
            }
        }
    };
    // Parsing a large output is CPU-bound work, and the SARIF parser may
    // read the checked files (to count columns): both off the runtime.
    if large || sarif {
        tokio::task::spawn_blocking(parse)
            .await
            .unwrap_or_else(|e| all(format!("parsing the tool's output failed: {e}")))
    } else {
        parse()
    }
}

/// The most output (stdout and stderr together) parsed on the runtime's
/// own threads; more is parsed on the blocking pool.
const PARSE_INLINE_MAX: usize = 64 << 10;

/// Runs a version command (`argv`, e.g. `["shellcheck", "--version"]`) and
/// returns its trimmed output: stdout, else stderr, bounded to a few KiB.
///
/// The command runs like a validator (cleared environment but `PATH` and
/// `env`, own process group, killed when `timeout` expires). Errors: the
/// command cannot be started, is killed by a signal, exits non-zero or times
/// out.
pub async fn tool_version(argv: &[String], cwd: &Path, env: &[String], timeout: Duration) -> Result<String, String> {
    let registry = ProcessRegistry::new();
    let run = exec::execute(argv, &[], cwd, env, VERSION_MAX_OUTPUT, &registry, exec::START_PATIENCE);
    tokio::pin!(run);
    let execution = match tokio::time::timeout(timeout, &mut run).await {
        Ok(result) => result?,
        Err(_) => {
            // Killed from the blocking pool while it runs (its processes
            // are looked for in `/proc`), before the run is dropped.
            if let Some(kill) = registry.kill_all_in_background() {
                let _ = kill.await;
            }
            return Err(format!("`{}` timed out after {timeout:?}", argv.join(" ")));
        }
    };
    let code = execution.exit_code().map_err(|reason| format!("`{}` {reason}", argv.join(" ")))?;
    if code != 0 {
        let mut reason = format!("`{}` exited with status {code}", argv.join(" "));
        if let Some(line) = parse::first_line(&execution) {
            reason.push_str(": ");
            reason.push_str(&line);
        }
        return Err(reason);
    }
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim().to_owned();
    let stdout = text(&execution.stdout.bytes);
    Ok(if stdout.is_empty() { text(&execution.stderr.bytes) } else { stdout })
}
