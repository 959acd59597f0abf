//! The `verdict` command line: argument parsing, the client commands and
//! their human and JSON output. Exit codes are decided in one place,
//! [`ExitCode`].

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

use crate::client::{self, Client, ConnectOptions};
use crate::paths::{self, Layout, PathError};
use crate::protocol::method;

/// Documented exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Success; for `check`: every outcome passed (or came passed from the cache).
    Ok = 0,
    /// `check` found problems.
    Findings = 1,
    /// verdict itself could not do the job: usage, configuration, daemon unreachable.
    Failure = 2,
    /// `check` found no problems, but some outcomes are errors, timeouts or skips.
    Incomplete = 3,
}

/// verdict: runs your validators resiliently and incrementally, from a background daemon.
#[derive(Debug, Parser)]
#[command(name = "verdict", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// A path on the command line. clap's own parser refuses an empty one as
/// "a value is required … but none was supplied"; one was, and it names
/// nothing. Any other bytes are taken as they are (a name need not be
/// UTF-8).
#[derive(Clone)]
pub struct PathArg;

impl clap::builder::TypedValueParser for PathArg {
    type Value = PathBuf;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<PathBuf, clap::Error> {
        if value.is_empty() {
            let name = arg.map_or_else(|| "a path".to_owned(), |a| format!("'{a}'"));
            return Err(clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!("an empty path names nothing (given for {name})\n"),
            ));
        }
        Ok(PathBuf::from(value))
    }
}

#[derive(Debug, Args)]
struct Global {
    /// The daemon's socket (default: $VERDICT_SOCKET if set and not empty, else derived from the project root, in the per-user runtime directory).
    #[arg(long, global = true, value_name = "PATH", value_parser = PathArg)]
    socket: Option<PathBuf>,
    /// Fail instead of starting a daemon when none is running.
    #[arg(long, global = true)]
    no_start: bool,
    /// Print machine-readable JSON instead of text (for `check`, as `--format json` does).
    #[arg(long, global = true)]
    json: bool,
    /// Where the daemon keeps its result cache (passed to a daemon this command starts).
    #[arg(long, global = true, value_name = "DIR", value_parser = PathArg)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the daemon for this project in the background (or attached, with --foreground).
    Daemon {
        /// Run attached to this terminal, logging to stderr (for systemd, containers and tests).
        #[arg(long)]
        foreground: bool,
        /// Internal: started by a client; log to the daemon's log file.
        #[arg(long, hide = true)]
        detached: bool,
    },
    /// Stop the daemon and wait until it has exited.
    Stop,
    /// Show the daemon's state: pid, version, uptime, validators, breakers, cache (exit 3, starting none, if none runs).
    Status,
    /// Check that the daemon answers.
    Ping,
    /// Print the daemon's log (as text; `--json`: its raw JSON lines).
    Logs {
        /// Keep printing new lines as they are written.
        #[arg(short, long)]
        follow: bool,
        /// Print only the last N lines first.
        #[arg(short = 'n', long, value_name = "N")]
        lines: Option<usize>,
    },
    /// Validate files: `verdict check .`
    #[command(after_help = "Exit codes: 0 all passed; 1 findings (see --fail-on); 2 verdict could not run (usage, \
                            configuration, daemon); 3 incomplete: no findings, but errors, timeouts or skips, a \
                            tool's failure or output cut short, or paths the walk could not read.")]
    Check(crate::report::CheckArgs),
    /// Say what a check makes of files, and why
    ///
    /// For each file: whether a check of the project reaches it (and the ignore rule or pattern that
    /// keeps it out), the marks its .gitattributes and .editorconfig give it and the lines that set
    /// them, and per validator whether it selects it, what each built-in reports, and why one that
    /// reports nothing did not judge it, with what it would report otherwise.
    Explain {
        /// The files (at most 100).
        #[arg(required = true, value_parser = PathArg)]
        paths: Vec<PathBuf>,
        /// Only this validator (repeatable).
        #[arg(long = "validator", value_name = "NAME")]
        validators: Vec<String>,
    },
    /// Re-read verdict.toml and apply it (added validators start, removed ones stop, changed ones restart).
    Reload,
    /// Restart a validator, bringing it back from quarantine.
    Restart {
        /// The validator's name.
        name: String,
    },
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Result-cache commands.
    Cache {
        #[command(subcommand)]
        command: CacheCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file (default: the project's verdict.toml) and print every error.
    Check {
        /// The file to validate.
        #[arg(value_parser = PathArg)]
        file: Option<PathBuf>,
    },
    /// Print the configuration verdict.toml gives as TOML (`--json`: JSON): every key, with the value
    /// it takes where the file sets none (not what a running daemon has loaded: see `reload`).
    Show {
        /// Only these validators' tables (disabled ones too).
        #[arg(value_name = "VALIDATOR")]
        names: Vec<String>,
        /// Show this file's configuration, not the project's.
        #[arg(long, value_name = "FILE", value_parser = PathArg)]
        file: Option<PathBuf>,
        /// Say after each key set other than by default where its value comes from: the file's own
        /// table, or `[defaults]` (and `cache.ttl`) that it takes it from.
        #[arg(long)]
        origin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CacheCommand {
    /// Entries, bytes on disk, hits and misses per validator.
    Stats,
    /// Delete cached results (all, with the stat index; or one validator's, and the per-file entries of the
    /// built-ins, which may hold its outcomes: the next check runs the built-ins again)
    Clear {
        /// Only this validator's results (and every per-file entry)
        #[arg(long, value_name = "NAME")]
        validator: Option<String>,
    },
    /// Delete expired results now, and what is known of files no longer there (the stat index).
    Prune,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> std::process::ExitCode {
    crate::report::note_inherited_descriptors();
    let mut cli = Cli::parse();
    // Read here rather than by clap, which takes an empty variable for an
    // empty `--socket`: empty means unset, as for NO_COLOR.
    if cli.global.socket.is_none() {
        cli.global.socket = std::env::var_os("VERDICT_SOCKET").filter(|s| !s.is_empty()).map(PathBuf::from);
    }
    let json = cli.global.json;
    let code = match run(cli) {
        Ok(code) => code,
        // The reader of our output went away (`verdict status | head -1`):
        // nothing to say, as a tool killed by SIGPIPE says nothing.
        // Only an error that is itself a failed write (the command's own
        // output), not a lost connection to the daemon wrapped in another.
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) => {
            ExitCode::Ok
        }
        Err(e) => {
            // It may quote a file name from the checked tree.
            crate::errln!("verdict: error: {}", crate::report::visible_lines(&format!("{e:#}")));
            if json {
                let _ = writeln!(std::io::stdout(), "{}", crate::json_out::line(&error_json(&e)));
            }
            ExitCode::Failure
        }
    };
    std::process::ExitCode::from(code as u8)
}

/// What `--json` prints on stdout for a command that could not do its work
/// (exit 2): `{"error": {"message": …}}`, with the daemon's error `code`
/// and `data` when the daemon refused the request.
fn error_json(e: &anyhow::Error) -> Value {
    match e.downcast_ref::<client::DaemonError>() {
        Some(d) => {
            let mut error = json!({ "code": d.0.code, "message": format!("{e:#}") });
            if let Some(data) = &d.0.data {
                error["data"] = data.clone();
            }
            json!({ "error": error })
        }
        None => json!({ "error": { "message": format!("{e:#}") } }),
    }
}

fn layout(global: &Global) -> anyhow::Result<Layout> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    Ok(Layout::discover(&cwd, global.socket.as_deref())?)
}

fn run(mut cli: Cli) -> anyhow::Result<ExitCode> {
    // A file named to `config check` is only read, never applied, so it
    // needs no project: not one whose root verdict would refuse either,
    // where checking its verdict.toml is how to see what it would run.
    if let Command::Config { command: ConfigCommand::Check { file: Some(file) } } = &cli.command {
        return config_check(file, true, cli.global.json);
    }
    if let Command::Config { command: ConfigCommand::Show { file: Some(file), names, origin } } = &cli.command {
        return config_show(Some(file), None, (names, *origin), cli.global.json);
    }
    let layout = match layout(&cli.global) {
        // A daemon started with the root listed in VERDICT_SAFE_DIRECTORIES
        // is stopped without it: stopping reads and runs nothing there.
        Err(e)
            if matches!(cli.command, Command::Stop)
                && matches!(
                    e.downcast_ref::<PathError>(),
                    Some(PathError::DubiousOwner { .. } | PathError::LinkedMarker { .. } | PathError::Exposed { .. })
                ) =>
        {
            // Of the roots it may have been started in, the nearest where
            // a daemon runs (its pid file locked, or its socket there).
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            let mut layouts = Layout::discover_to_stop(&cwd, cli.global.socket.as_deref())?;
            let running = layouts
                .iter()
                .position(|l| paths::locked_daemon_pid(&l.pid_file).is_some() || l.socket.symlink_metadata().is_ok());
            layouts.swap_remove(running.unwrap_or(0))
        }
        layout => layout?,
    };
    // The daemon starts in the project root: a relative `--data-dir` is
    // resolved here, against the directory the command was run from.
    if let Some(d) = &cli.global.data_dir {
        cli.global.data_dir = Some(std::env::current_dir().context("cannot read the current directory")?.join(d));
    }
    if cli.global.no_start && matches!(cli.command, Command::Daemon { detached: false, .. }) {
        anyhow::bail!("--no-start and `daemon` contradict each other: `daemon` starts one; drop --no-start");
    }
    match cli.command {
        Command::Daemon { foreground: true, detached } => {
            // The daemon is its own executable (the client stays free of
            // RocksDB); exec keeps this pid, as systemd and tests expect.
            let exe = paths::daemon_exe().context("cannot find the verdict executable")?;
            let mut cmd = std::process::Command::new(&exe);
            cmd.args(daemon_args(&layout, cli.global.data_dir.as_deref(), detached, cli.global.json));
            let err = cmd.exec();
            Err(anyhow::anyhow!(err).context(format!(
                "cannot run {}: install it beside verdict (`cargo install` installs both)",
                exe.display()
            )))
        }
        Command::Logs { follow, lines } => {
            paths::refused(&layout.state_dir)?;
            paths::check_state_dir(&layout.state_dir)?;
            crate::report::print_logs(&layout.log_file(), follow, lines, cli.global.json)?;
            Ok(ExitCode::Ok)
        }
        Command::Config { command: ConfigCommand::Check { .. } } => {
            let visible = |s: String| crate::report::visible(&s).into_owned();
            // (A file named was checked above.) The project's own file is
            // checked as the daemon would take it: not one another user owns.
            let file = match layout.config.clone() {
                Some(f) => f,
                None => {
                    let cfg = crate::config::Config::default().with_project_files(&layout.root);
                    let warnings = cfg.notes();
                    if cli.global.json {
                        let names: Vec<String> = cfg.validators().into_iter().map(|v| v.name).collect();
                        let mut doc = json!({ "valid": true, "file": null, "defaults": true, "validators": names });
                        if !warnings.is_empty() {
                            doc["warnings"] = json!(warnings);
                        }
                        outln!("{}", crate::json_out::line(&doc));
                    } else {
                        outln!(
                            "no verdict.toml in {}: the built-in validators run with their defaults",
                            visible(layout.root.display().to_string())
                        );
                        for w in warnings {
                            crate::errln!("warning: {}", visible(w));
                        }
                    }
                    return Ok(ExitCode::Ok);
                }
            };
            config_check(&file, false, cli.global.json)
        }
        Command::Config { command: ConfigCommand::Show { names, origin, .. } } => {
            // (A file named was shown above.)
            config_show(layout.config.as_deref(), Some(&layout.root), (&names, origin), cli.global.json)
        }
        command => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(client_command(command, layout, cli.global))
        }
    }
}

/// `verdict config check`: whether `file` is valid, and every problem in
/// it. A file `named` on the command line is only checked, whoever owns it;
/// the project's own is checked as the daemon would take it.
fn config_check(file: &Path, named: bool, json: bool) -> anyhow::Result<ExitCode> {
    let visible = |s: String| crate::report::visible(&s).into_owned();
    let loaded = if named { crate::config::Config::load(file) } else { crate::config::Config::load_to_apply(file) };
    match loaded {
        Ok(cfg) => {
            // Relative programs are the project root's: the file's own
            // directory.
            let root = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let mut warnings = program_warnings(&cfg, root);
            // The project's own file is checked with the pre-commit
            // configuration beside it, as the daemon applies them together.
            if !named {
                warnings.extend(cfg.clone().with_project_files(root).notes());
            }
            if json {
                let mut doc = json!({ "valid": true, "file": file.to_string_lossy(), "defaults": false, "validators": cfg.validators().iter().map(|v| v.name.clone()).collect::<Vec<_>>() });
                if !warnings.is_empty() {
                    doc["warnings"] = json!(warnings);
                }
                outln!("{}", crate::json_out::line(&doc));
            } else {
                let n = cfg.validators().len();
                outln!(
                    "{}: valid ({n} validator{})",
                    visible(file.display().to_string()),
                    if n == 1 { "" } else { "s" }
                );
                for w in &warnings {
                    crate::errln!("warning: {}", visible(w.clone()));
                }
            }
            Ok(ExitCode::Ok)
        }
        Err(e) => Ok(config_errors(file, &e, json)),
    }
}

/// Every problem `e` found in `file`, printed as `config check` prints them
/// (exit 2).
fn config_errors(file: &Path, e: &crate::config::ConfigError, json: bool) -> ExitCode {
    if json {
        // Its exit status says it, whoever reads the output.
        let _ = writeln!(
            std::io::stdout(),
            "{}",
            crate::json_out::line(
                &json!({ "valid": false, "file": file.to_string_lossy(), "errors": e.errors.iter().map(|i| i.to_string()).collect::<Vec<_>>() })
            )
        );
    } else {
        // One line per problem: a control character in the file's name (or
        // a line feed) is written as an escape.
        for issue in &e.errors {
            crate::errln!("{}", crate::report::visible(&issue.to_string()));
        }
    }
    ExitCode::Failure
}

/// `verdict config show`: the configuration of `file` (none: the
/// defaults), every key with the value it takes. A file named on the
/// command line (no project `root`) is only read, whoever owns it, as by
/// `config check`.
fn config_show(
    file: Option<&Path>,
    root: Option<&Path>,
    (names, origin): (&[String], bool),
    json: bool,
) -> anyhow::Result<ExitCode> {
    let named = root.is_none();
    let cfg = match file {
        None => crate::config::Config::default(),
        Some(file) => {
            let loaded =
                if named { crate::config::Config::load(file) } else { crate::config::Config::load_to_apply(file) };
            match loaded {
                Ok(cfg) => cfg,
                Err(e) => return Ok(config_errors(file, &e, json)),
            }
        }
    };
    // The project's configuration as it applies: with what its
    // `.pre-commit-config.yaml` says of the built-ins' files.
    let cfg = match root {
        Some(root) => cfg.with_project_files(root),
        None => cfg,
    };
    for w in cfg.notes() {
        crate::errln!("warning: {}", crate::report::visible(&w));
    }
    if json {
        let doc = crate::config_show::json(&cfg, names)?;
        outln!("{}", crate::json_out::line(&doc));
    } else {
        // (TOML escapes control characters in strings; the file's name in
        // the heading comment is written with escapes too.)
        let text = crate::config_show::toml_text(&cfg, names, root)?;
        // The file's own keys, from its text (read again: what it sets is
        // not kept apart once resolved).
        let raw = (cfg.source.as_deref())
            .filter(|_| origin)
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| t.parse::<toml::Table>().ok());
        let text = match &raw {
            Some(raw) => crate::config_show::with_origins(&text, raw),
            None => text,
        };
        outln!("{}", text.trim_end());
    }
    Ok(ExitCode::Ok)
}

/// The programs of `cfg`'s command validators (and of their `version`
/// commands) that a run would not find, or could not start, said per key:
/// not errors (a tool may be installed later, or only where the daemon
/// runs), but what a first check would otherwise report once per file.
fn program_warnings(cfg: &crate::config::Config, root: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut warnings = Vec::new();
    // Absolute, so that a relative `PATH` entry is found from it as a run
    // finds it (from the project root), whatever the current directory.
    let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    for v in cfg.validators() {
        let Some(cmd) = v.command() else { continue };
        let argvs = [
            ("command", Some(&cmd.command), "its files would each get an error"),
            ("version", cmd.version.as_ref(), "its results would not be cached (the tool's version is unknown)"),
        ];
        for (key, argv, then) in argvs {
            let Some(program) = argv.and_then(|a| a.first()) else { continue };
            let path = verdict_actors::command::resolve_program(program, &root);
            let why = match std::fs::metadata(&path) {
                // A bare name that PATH does not have comes back as it is.
                _ if !program.contains('/') && path == Path::new(program) => {
                    format!("{program:?} is not found on PATH")
                }
                Err(_) => format!("{program:?} does not exist ({})", path.display()),
                Ok(m) if m.is_dir() => format!("{program:?} is a directory"),
                Ok(m) if m.permissions().mode() & 0o111 == 0 => {
                    format!("{program:?} is not executable (chmod +x {})", path.display())
                }
                Ok(_) => continue,
            };
            warnings.push(format!("validators.{}.{key}: {why}: {then}", v.name));
        }
    }
    warnings
}

/// The arguments that make `verdict-daemon` serve `layout`.
pub fn daemon_args(layout: &Layout, data_dir: Option<&Path>, detached: bool, json: bool) -> Vec<OsString> {
    let mut args = Vec::new();
    if !layout.default_socket {
        args.push("--socket".into());
        args.push(layout.socket.clone().into_os_string());
    }
    if let Some(d) = data_dir {
        args.push("--data-dir".into());
        args.push(d.as_os_str().to_owned());
    }
    if detached {
        args.push("--detached".into());
    }
    if json {
        args.push("--json".into());
    }
    args
}

/// `verdict --json stop`'s answer: whether it stopped a daemon (`pid`),
/// or found none running (`pid` null).
fn stopped_json(pid: Option<u32>) -> Value {
    json!({ "stopped": pid.is_some(), "running": false, "pid": pid })
}

/// Stops a daemon that holds its pid file but did not say hello within a
/// second: one still starting, which SIGTERM stops at once; or one that
/// cannot answer (stopped by SIGSTOP, stuck), which is said so.
async fn stop_unanswering(pid: u32, json: bool) -> anyhow::Result<ExitCode> {
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => return Err(e).with_context(|| format!("cannot signal the daemon (pid {pid})")),
    }
    let limit = Duration::from_secs(20);
    if client::wait_for_exit(pid, limit).await.is_err() {
        anyhow::bail!(
            "the daemon (pid {pid}) answers nothing and did not exit on SIGTERM within {limit:?}: it may be stopped (`kill -CONT {pid}`) or stuck (`kill -KILL {pid}`)"
        );
    }
    if json {
        outln!("{}", stopped_json(Some(pid)));
    } else {
        outln!("verdict daemon stopped (pid {pid}; it did not answer yet, as one starting, so it was sent SIGTERM)");
    }
    Ok(ExitCode::Ok)
}

async fn client_command(command: Command, layout: Layout, global: Global) -> anyhow::Result<ExitCode> {
    let opts = ConnectOptions { layout: layout.clone(), no_start: global.no_start, data_dir: global.data_dir.clone() };
    match command {
        Command::Daemon { .. } => {
            // Detached start: report the running daemon, or start one.
            // One of another build is replaced, as any command does: an
            // upgrade never leaves a stale daemon answering.
            if let Ok(c) = Client::connect(&layout.socket).await
                && client::same_build(&c.hello)
            {
                client::same_data_dir(&opts, &c.hello)?;
                crate::report::print_running(&layout, Some(c.hello.pid), global.json)?;
                return Ok(ExitCode::Ok);
            }
            // The pid it says itself (another client may have started it
            // first).
            let pid = client::connect_or_start(&opts).await?.hello.pid;
            if global.json {
                outln!("{}", crate::json_out::line(&crate::report::running_json(&layout, Some(pid), true)));
            } else {
                outln!(
                    "verdict daemon started (pid {pid}, socket {})",
                    crate::report::visible(&layout.socket.display().to_string())
                );
            }
            Ok(ExitCode::Ok)
        }
        Command::Stop => {
            // A daemon still starting (its `version` commands can take
            // seconds) says hello only once it serves; SIGTERM stops its
            // start at once, where waiting to ask would wait for the start.
            // Not too soon: a serving daemon on a loaded machine may take
            // a while to say hello (or that it is too busy to).
            // (A busy daemon answers, and is waited for: it is not this.)
            let connected = match Client::connect_within(&layout.socket, Duration::from_secs(3)).await {
                // (A daemon holding the lock is stopped even when something
                // else answers at its socket's path.)
                Err(client::CallError::Unresponsive(..)) => match paths::signallable_daemon_pid(&layout.pid_file) {
                    Some(pid) => return stop_unanswering(pid, global.json).await,
                    None => Client::connect(&layout.socket).await,
                },
                connected => connected,
            };
            let mut c = match connected {
                Ok(c) => c,
                Err(e) => {
                    // No socket to reach it by (someone removed it), but a
                    // daemon may still run: its pid file's lock says so. Not
                    // for a daemon that answered (busy, another protocol) or
                    // is still starting.
                    // (A daemon shutting down no longer listens: it is
                    // waited for through its pid file below. A connection
                    // closed without an answer is `busy` by now: see
                    // `Client::connect`.)
                    let gone = matches!(&e, client::CallError::Io(io) if client::nothing_listens(io));
                    let pid = paths::signallable_daemon_pid(&layout.pid_file).filter(|_| gone);
                    // A daemon that is starting (another command launched
                    // it) takes its lock moments before it binds its socket:
                    // once it serves, it is stopped as any other.
                    let serving = match pid {
                        Some(pid) => client::connect_when_serving(&layout.socket, pid, Duration::from_secs(2)).await,
                        None => None,
                    };
                    if let Some(c) = serving {
                        c
                    } else {
                        if let Some(pid) = pid {
                            // Its socket is there but refuses: it is not
                            // listening, as a daemon shutting down (another
                            // `stop`) or still starting over a stale socket
                            // is not. SIGTERM all the same: it ends such a
                            // start, and one shutting down takes no notice.
                            // By the connection's error alone: the socket
                            // may be gone by the time it is looked at (a
                            // daemon removes it as it exits).
                            let refusing = matches!(&e, client::CallError::Io(io)
                                if io.kind() == std::io::ErrorKind::ConnectionRefused);
                            match nix::sys::signal::kill(
                                nix::unistd::Pid::from_raw(pid as i32),
                                nix::sys::signal::Signal::SIGTERM,
                            ) {
                                // It exited meanwhile: a daemon whose socket is
                                // gone shuts down by itself.
                                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                                Err(e) => {
                                    return Err(e).with_context(|| format!("cannot signal the daemon (pid {pid})"));
                                }
                            }
                            client::wait_for_exit(pid, client::exit_patience(&layout, None)).await?;
                            if global.json {
                                outln!("{}", stopped_json(Some(pid)));
                            } else if refusing {
                                outln!(
                                    "verdict daemon stopped (pid {pid}; it was not taking connections: shutting down, or still starting)"
                                );
                            } else {
                                outln!(
                                    "verdict daemon stopped (pid {pid}; its socket was gone, so it was sent SIGTERM)"
                                );
                            }
                            return Ok(ExitCode::Ok);
                        }
                        if !gone {
                            // Something answered, or could not be reached for
                            // another reason (busy, another protocol): it runs,
                            // and was not stopped.
                            return Err(client::describe(e));
                        }
                        if global.json {
                            outln!("{}", stopped_json(None));
                        } else {
                            outln!(
                                "no verdict daemon is running for {}",
                                crate::report::visible(&layout.root.display().to_string())
                            );
                        }
                        return Ok(ExitCode::Ok);
                    }
                }
            };
            let pid = c.hello.pid;
            let mut told = c.hello.grace();
            match c.call(method::SHUTDOWN, json!({})).await {
                Ok(reply) => told = reply["grace_ms"].as_u64().map(Duration::from_millis).or(told),
                // Stopping already (another `verdict stop`): it closed this
                // connection before reading the request, or cut it short
                // as its shutdown ended (`shutting down`, with no word on
                // whether it started): stopping is what was asked.
                Err(e) if e.undone_by_shutdown() => {}
                Err(client::CallError::Rpc(e)) if e.code == crate::protocol::code::SHUTTING_DOWN => {}
                Err(e) => return Err(client::describe(e)),
            }
            drop(c);
            client::wait_for_exit(pid, client::exit_patience(&layout, told)).await?;
            if global.json {
                outln!("{}", stopped_json(Some(pid)));
            } else {
                outln!("verdict daemon stopped (pid {pid})");
            }
            Ok(ExitCode::Ok)
        }
        Command::Ping => {
            let started = std::time::Instant::now();
            let (c, reply) = client::call_daemon(&opts, method::PING, json!({})).await?;
            reply.map_err(client::describe)?;
            let us = started.elapsed().as_micros();
            if global.json {
                outln!("{}", json!({ "pong": true, "pid": c.hello.pid, "micros": us }));
            } else {
                outln!("pong from pid {} in {:.2} ms", c.hello.pid, us as f64 / 1000.0);
            }
            Ok(ExitCode::Ok)
        }
        Command::Status => {
            // Asking whether a daemon runs does not start one: none
            // running is the answer (exit 3, as an init script's `status`
            // says "not running").
            let socket = layout.socket.clone();
            /// What `status` found.
            enum Found {
                /// A daemon's answer, and whether another build runs it.
                Serving(serde_json::Value, bool),
                /// A daemon going away (its pid).
                ShuttingDown(u32),
                NotRunning,
            }
            // A connection closed before the answer (the daemon went away,
            // or one shutting down handed over to the next): look again.
            let mut looks = 0;
            // One wait for all looks, as long as a start may take.
            let deadline = std::time::Instant::now() + client::START_TIMEOUT;
            let state = loop {
                looks += 1;
                break match client::connect_running(&opts, deadline).await? {
                    client::Running::Serving(mut c) => {
                        let pid = c.hello.pid;
                        let other_build = !client::same_build(&c.hello);
                        match c.call(method::STATUS, json!({})).await {
                            Ok(s) => Found::Serving(s, other_build),
                            // Met as it went away (a `verdict stop` racing this).
                            Err(client::CallError::Rpc(e)) if e.code == crate::protocol::code::SHUTTING_DOWN => {
                                Found::ShuttingDown(pid)
                            }
                            Err(e @ client::CallError::Io(_)) if e.undone_by_shutdown() && looks < 3 => continue,
                            Err(e) => return Err(client::describe(e)),
                        }
                    }
                    client::Running::ShuttingDown(pid) => Found::ShuttingDown(pid),
                    client::Running::No => Found::NotRunning,
                };
            };
            let root = layout.root.display().to_string();
            match state {
                Found::Serving(mut s, other_build) => {
                    if global.json {
                        if let Some(o) = s.as_object_mut() {
                            o.insert("running".into(), json!(true));
                        }
                        outln!("{}", crate::json_out::to_string(&s)?);
                    } else {
                        crate::report::print_status(&s, &mut std::io::stdout().lock())?;
                    }
                    if other_build {
                        eprintln!(
                            "verdict: note: this daemon was built from another verdict than this command; the next `verdict check` or `verdict ping` replaces it"
                        );
                    }
                    Ok(ExitCode::Ok)
                }
                going => {
                    let going = match going {
                        Found::ShuttingDown(pid) => Some(pid),
                        _ => None,
                    };
                    if global.json {
                        let mut v = json!({
                            "running": false,
                            "project_root": root,
                            "socket": socket.display().to_string(),
                        });
                        if let Some(pid) = going {
                            v["shutting_down"] = json!(true);
                            v["pid"] = json!(pid);
                        }
                        outln!("{v}");
                    } else if let Some(pid) = going {
                        outln!("the verdict daemon for {} (pid {pid}) is shutting down", crate::report::visible(&root));
                    } else {
                        outln!(
                            "no verdict daemon is running for {} (`verdict daemon` starts one, and so does `verdict check`)",
                            crate::report::visible(&root)
                        );
                    }
                    Ok(ExitCode::Incomplete)
                }
            }
        }
        Command::Check(args) => crate::report::run_check(&opts, args, global.json).await,
        Command::Explain { paths, validators } => {
            let params = json!({
                "paths": paths.into_iter().map(crate::protocol::WirePath).collect::<Vec<_>>(),
                "cwd": crate::protocol::WirePath(std::env::current_dir()?),
                "validators": (!validators.is_empty()).then_some(validators),
            });
            simple(&opts, method::EXPLAIN, params, global.json, crate::explain::print).await
        }
        Command::Reload => simple(&opts, method::RELOAD, json!({}), global.json, crate::report::print_reload).await,
        Command::Restart { name } => {
            simple(&opts, method::RESTART, json!({ "name": name }), global.json, |v, out| {
                writeln!(out, "restarted {}", v["name"].as_str().unwrap_or("?"))
            })
            .await
        }
        Command::Cache { command } => {
            let (m, params) = match command {
                CacheCommand::Stats => (method::CACHE_STATS, json!({})),
                CacheCommand::Clear { validator } => (method::CACHE_CLEAR, json!({ "validator": validator })),
                CacheCommand::Prune => (method::CACHE_PRUNE, json!({})),
            };
            simple(&opts, m, params, global.json, crate::report::print_cache).await
        }
        Command::Logs { .. } | Command::Config { .. } => unreachable!("handled without a runtime"),
    }
}

async fn simple(
    opts: &ConnectOptions,
    m: &str,
    params: Value,
    as_json: bool,
    human: impl Fn(&Value, &mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<ExitCode> {
    match client::call_daemon(opts, m, params).await?.1 {
        Ok(v) => {
            if as_json {
                outln!("{}", crate::json_out::to_string(&v)?);
            } else {
                human(&v, &mut std::io::stdout().lock())?;
            }
            Ok(ExitCode::Ok)
        }
        Err(e) => Err(client::describe(e)),
    }
}
