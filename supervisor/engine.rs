//! The engine behind the daemon's methods: the active configuration, the
//! supervisor actor, the result cache, and the check runs that use them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ractor::{Actor, ActorRef};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::{debug, error, info, warn};
use verdict_actors::command::{CommandSpec, OutputParser};
use verdict_actors::validator::{BuiltinCheck, CommandWork, ValidatorWork};
use verdict_storage::{Store, StoreOptions};

use crate::check::{Memo, MemoKey};
use crate::config::{CommandConfig, Config, ParserKind, ValidatorConfig, ValidatorKind};
use crate::paths::Layout;
use crate::protocol::{RpcError, code};
use crate::server::{RequestCtx, parse_params};
use crate::supervisor::{ApplyReport, Supervisor, SupervisorMessage, ValidatorSpec};
use crate::watch::TreeWatch;

/// How long a validator's `version` command may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// Starting parameters.
pub struct EngineOptions {
    /// Where the project and its files are.
    pub layout: Layout,
    /// The configuration read at start-up.
    pub config: Config,
    /// `--data-dir`, overriding the configured cache location.
    pub data_dir: Option<PathBuf>,
    /// The stamp of the project's verdict.toml (or of its absence) taken
    /// before `config` was read: a file written or made since is applied
    /// by the next check, as a later edit is.
    pub config_stamp: Option<FileStamp>,
    /// The stamps of the project's pre-commit and gitleaks configurations
    /// taken before they were read, likewise.
    pub tool_files_stamp: ToolFilesStamp,
}

/// The stamps of the project's `.pre-commit-config.yaml` and `.yml` and
/// its `.gitleaks.toml` (or of their absence): one changed, made or deleted
/// since the configuration was read, the next check reads it again.
pub type ToolFilesStamp = [Option<FileStamp>; 3];

/// The [`ToolFilesStamp`] of the project at `root` now.
pub fn tool_files_stamp(root: &Path) -> ToolFilesStamp {
    let [yaml, yml] = crate::pre_commit::FILE_NAMES;
    [yaml, yml, crate::gitleaks::FILE_NAME].map(|n| file_stamp(&root.join(n)))
}

/// Per-validator cache counters since the daemon started.
#[derive(Default)]
pub struct CacheCounters {
    /// Look-ups answered from the cache.
    pub hits: AtomicU64,
    /// Look-ups that had to compute.
    pub misses: AtomicU64,
}

/// `check.exclude` compiled once with the configuration, not by every check.
pub struct CheckGlobs {
    /// The files it takes out (why not, if a pattern does not compile: the
    /// configuration's own check reports that first).
    pub exclude: Result<Arc<globset::GlobSet>, String>,
    /// The directories it takes out whole, which a walk does not enter.
    pub excluded_dirs: Arc<globset::GlobSet>,
}

impl CheckGlobs {
    fn with(config: Config) -> (Arc<Config>, Arc<CheckGlobs>) {
        let globs = CheckGlobs {
            exclude: config.check.exclude_set().map(Arc::new).map_err(|e| e.to_string()),
            excluded_dirs: Arc::new(config.check.excluded_dirs_set()),
        };
        (Arc::new(config), Arc::new(globs))
    }
}

/// How many files a check must select among for its filters to be
/// compiled into one set ([`Engine::filter_set`]): the size from which the
/// selection runs on more than one thread.
pub(crate) const COMPILE_FILTERS_FROM: usize = 4096;

/// The filter set kept for the next check ([`Engine::filter_set`]).
struct KeptFilterSet {
    set: Arc<crate::config::FilterSet>,
    /// A thread compiles the filters of `set` (which searches them one by
    /// one until it is done).
    compiling: bool,
}

/// The engine.
pub struct Engine {
    layout: Layout,
    /// The configuration in force, with its `check.exclude` compiled.
    config: Mutex<(Arc<Config>, Arc<CheckGlobs>)>,
    /// `[daemon]` and `[cache]` as the daemon started with them: they take
    /// effect at start only, and a reload that changes them says so.
    started_with: (crate::config::DaemonSettings, crate::config::CacheSettings),
    /// What verdict.toml looked like when the configuration in force was read.
    config_stamp: Mutex<Option<FileStamp>>,
    /// [`EngineOptions::tool_files_stamp`], then the last reload's.
    tool_files_stamp: Mutex<ToolFilesStamp>,
    /// Held through a whole reload: two at once (a `reload` and a SIGHUP,
    /// say) could otherwise apply the older file last.
    reloading: tokio::sync::Mutex<()>,
    /// The executables of the command validators (the tool's and the
    /// version command's), as found when the validators were made: one
    /// found elsewhere since, or, for a validator with a `version` command,
    /// changed since (an upgrade), is met by a reload before the next
    /// check, which finds the tools and runs the version commands again.
    /// For such a validator, the files its two commands name as arguments
    /// too (`["sh", "tools/lint.sh"]`, `["sha256sum", "tools/lint.sh"]`).
    tool_stamps: ToolStamps,
    supervisor: ActorRef<SupervisorMessage>,
    /// The result cache if it could be opened, else why not.
    store: std::sync::RwLock<Result<Arc<Store>, String>>,
    store_path: PathBuf,
    /// Hits and misses per validator name.
    pub counters: Mutex<BTreeMap<String, Arc<CacheCounters>>>,
    /// (validator identity, content hash) pairs being computed by some run.
    pub pending: Arc<crate::check::Pending>,
    /// Watches the directories checks walk (see [`crate::watch`]).
    pub watch: Arc<TreeWatch>,
    /// The last clean run's answer, reusable while nothing changes.
    memo: Mutex<Option<Arc<Memo>>>,
    /// The last check's filters compiled into one set (see
    /// [`crate::config::FilterSet`]): the next check with the same
    /// validators (the same filters, as long as no reload or restart makes
    /// them again) searches it as it is.
    filter_set: Arc<Mutex<Option<KeptFilterSet>>>,
    /// The threads that select for checks, which keep the filter set's
    /// search state from check to check (see [`crate::check::select`]).
    pub(crate) selectors: Arc<crate::check::select::Selectors>,
    /// Bumped by whatever makes remembered answers unusable besides file
    /// changes: a reload, clearing, pruning or recreating the cache.
    pub memo_epoch: AtomicU64,
    /// A write to the cache failed: RocksDB stays read-only after some
    /// errors (a full disk) until it is reopened, which the next check
    /// tries once no run holds the database.
    pub store_suspect: std::sync::atomic::AtomicBool,
    /// Held while the cache is being reopened: one reopen at a time (two
    /// would find each other's database open).
    reopening: tokio::sync::Mutex<()>,
    /// Moved by `cache clear`: a run that started before it writes nothing
    /// afterwards (it may hold verdicts read before the clear).
    pub cache_epoch: Arc<CacheEpoch>,
    /// Read-stage chunks started since the daemon started (a diagnostic:
    /// logged with each run's phases).
    pub read_chunks: AtomicU64,
    /// Runs whose read stage saw its reads wait for the disk and ran more
    /// chunks at a time (a diagnostic: logged with each run's phases as
    /// `from_disk`).
    pub disk_read_runs: AtomicU64,
    /// The most read-stage chunks that ran at once in a run (a diagnostic:
    /// logged with each run's phases as `lanes`).
    pub read_lanes_most: AtomicU64,
    /// Runs' cache writers whose thread has not ended yet (each ends with
    /// its run, however the run ends).
    pub cache_writers: Arc<AtomicU64>,
}

/// `status`'s view of the engine.
pub struct EngineStatus {
    /// The configuration file in force (null when running on defaults).
    pub config_path: Value,
    /// Validators.
    pub validators: Value,
    /// Former validator children kept for the check runs that use them.
    pub retiring: Value,
    /// Circuit breakers (none yet: no external integrations are configured).
    pub breakers: Value,
    /// The cache.
    pub cache: Value,
    /// Latest supervision events.
    pub events: Value,
    /// The inotify watch of the walked directories.
    pub watch: Value,
}

#[derive(Deserialize)]
struct RestartParams {
    name: String,
}

#[derive(Deserialize)]
struct ConfigCheckParams {
    #[serde(default)]
    path: Option<PathBuf>,
}

#[derive(Deserialize)]
struct ClearParams {
    #[serde(default)]
    validator: Option<String>,
}

impl Engine {
    /// Opens the cache, starts the supervisor and its validators.
    pub async fn start(opts: EngineOptions) -> anyhow::Result<Engine> {
        let EngineOptions { layout, config, data_dir, config_stamp, tool_files_stamp } = opts;
        let store_path = data_dir
            .or_else(|| config.cache.dir.as_ref().map(|d| layout.root.join(d)))
            .unwrap_or_else(|| layout.data_dir.clone());
        let store = if config.cache.enabled {
            match open_store(&layout.root, &store_path, &config) {
                Ok(s) => Ok(Arc::new(s)),
                Err(e) => {
                    error!(error = %e, "the result cache is unavailable; checks will run without it");
                    Err(e.to_string())
                }
            }
        } else {
            Err("the cache is disabled in the configuration".into())
        };
        // A cache that could not be opened is tried again by each check, as
        // one that failed later is: the cause (a read-only or full file
        // system, another daemon's lock) may pass.
        let retry_store = config.cache.enabled && store.is_err();
        let (supervisor, _) = Actor::spawn(None, Supervisor, ()).await?;
        let engine = Engine {
            started_with: (config.daemon.clone(), config.cache.clone()),
            config: Mutex::new(CheckGlobs::with(config)),
            config_stamp: Mutex::new(config_stamp),
            tool_files_stamp: Mutex::new(tool_files_stamp),
            reloading: tokio::sync::Mutex::new(()),
            tool_stamps: ToolStamps::default(),
            supervisor,
            store: std::sync::RwLock::new(store),
            store_path,
            counters: Mutex::default(),
            pending: Default::default(),
            watch: Arc::new(TreeWatch::new()),
            memo: Mutex::new(None),
            filter_set: Arc::default(),
            selectors: Arc::new(crate::check::select::Selectors::new()),
            memo_epoch: AtomicU64::new(0),
            store_suspect: std::sync::atomic::AtomicBool::new(retry_store),
            reopening: tokio::sync::Mutex::new(()),
            cache_epoch: Arc::default(),
            read_chunks: AtomicU64::new(0),
            disk_read_runs: AtomicU64::new(0),
            read_lanes_most: AtomicU64::new(0),
            cache_writers: Arc::new(AtomicU64::new(0)),
            layout,
        };
        let config = engine.config();
        let report = engine.apply(&config).await?;
        info!(validators = report.added.len(), "validators started");
        if let Some(store) = engine.store() {
            spawn_pruner(&store, &engine.layout.root);
        }
        Ok(engine)
    }

    /// The result cache, if it is open.
    pub fn store(&self) -> Option<Arc<Store>> {
        self.store.read().expect("store lock poisoned").as_ref().ok().cloned()
    }

    /// Why the cache cannot be used, if it is enabled and cannot.
    pub fn store_error(&self) -> Option<String> {
        if !self.config().cache.enabled {
            return None;
        }
        self.store.read().expect("store lock poisoned").as_ref().err().cloned()
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        self.config.lock().expect("config lock poisoned").0.clone()
    }

    /// The configuration in force and its compiled `check.exclude`, as one.
    pub fn config_and_globs(&self) -> (Arc<Config>, Arc<CheckGlobs>) {
        self.config.lock().expect("config lock poisoned").clone()
    }

    /// Where the result cache lives (it may be inside the project).
    pub fn store_path(&self) -> &Path {
        &self.store_path
    }

    /// The project's layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The supervisor.
    pub fn supervisor(&self) -> &ActorRef<SupervisorMessage> {
        &self.supervisor
    }

    /// The remembered answer for `key`, if it is still the answer.
    pub(crate) fn remembered(&self, key: &MemoKey, generation: u64, epoch: u64, now: u64) -> Option<Arc<Memo>> {
        self.memo.lock().expect("memo").as_ref().filter(|m| m.answers(key, generation, epoch, now)).cloned()
    }

    /// The set of `filters` for a check selecting among `files` files:
    /// the last check's, if it had the same filters. A set that searches
    /// each filter by itself until one check has selected among
    /// [`COMPILE_FILTERS_FROM`] files or more; then a thread of its own
    /// compiles them into one (some 20 ms of CPU for the built-ins, which
    /// the check would wait for, and which would cost a small project's
    /// first check more than the set would ever save), and the compiled
    /// set takes the place for the checks after.
    pub(crate) fn filter_set(
        &self,
        filters: &[Arc<crate::config::FileFilter>],
        files: usize,
    ) -> Arc<crate::config::FilterSet> {
        use crate::config::FilterSet;
        let mut kept = self.filter_set.lock().expect("filter set");
        if kept.as_ref().is_none_or(|k| !k.set.is_of(filters)) {
            *kept = Some(KeptFilterSet { set: Arc::new(FilterSet::one_by_one(filters)), compiling: false });
        }
        let k = kept.as_mut().expect("just kept");
        if k.set.is_one_by_one() && !k.compiling && files >= COMPILE_FILTERS_FROM {
            k.compiling = true;
            let (slot, filters, placeholder) = (Arc::clone(&self.filter_set), filters.to_vec(), Arc::clone(&k.set));
            let compile = move || {
                let set = Arc::new(FilterSet::new(&filters));
                let mut kept = slot.lock().expect("filter set");
                // Unless another check's filters have taken the place since.
                if kept.as_ref().is_some_and(|k| Arc::ptr_eq(&k.set, &placeholder)) {
                    *kept = Some(KeptFilterSet { set, compiling: false });
                }
            };
            if let Err(e) = std::thread::Builder::new().name("verdict-filter-set".into()).spawn(compile) {
                debug!(error = %e, "no thread to compile the filters on: each is searched by itself");
            }
        }
        Arc::clone(&k.set)
    }

    /// The remembered answer, whatever it answers.
    pub(crate) fn memo(&self) -> Option<Arc<Memo>> {
        self.memo.lock().expect("memo").clone()
    }

    /// Remembers a clean run's answer (one: the latest); hands back the one
    /// it replaces.
    pub(crate) fn remember(&self, memo: Memo) -> Option<Arc<Memo>> {
        self.memo.lock().expect("memo").replace(Arc::new(memo))
    }

    /// Forgets remembered answers: the configuration or the cache changed.
    pub fn forget_answers(&self) {
        self.memo_epoch.fetch_add(1, Ordering::SeqCst);
        *self.memo.lock().expect("memo") = None;
    }

    /// Counters of one validator.
    pub fn counters_for(&self, name: &str) -> Arc<CacheCounters> {
        self.counters.lock().expect("counters lock poisoned").entry(name.to_string()).or_default().clone()
    }

    async fn apply(&self, config: &Config) -> anyhow::Result<ApplyReport> {
        // Found and stamped before the version commands run: an upgrade
        // racing with them is seen next time.
        let mut tools: Vec<ToolSeen> = Vec::new();
        for v in config.validators() {
            let ValidatorKind::Command(cmd) = &v.kind else { continue };
            let validator = &v.name;
            let programs = [cmd.command.first(), cmd.version.as_ref().and_then(|v| v.first())];
            for (program, i) in programs.into_iter().zip(0..) {
                let Some(program) = program else { continue };
                let path = program_path(program, &self.layout.root);
                // A tool's own file counts when a version command says
                // what it is; the version command's program always does.
                let stamped = cmd.version.is_some() || i == 1;
                let stamp = if stamped { file_stamp(&path) } else { None };
                tools.push(ToolSeen {
                    validator: validator.clone(),
                    program: Some(program.clone()),
                    path,
                    stamped,
                    stamp,
                });
            }
            // With a version command, the files the two commands name: a
            // script given to an interpreter, the file a version command
            // hashes. Edited, the version command runs again before the
            // next check (and a verdict reached meanwhile is not cached).
            let Some(version) = &cmd.version else { continue };
            for arg in cmd.command.iter().skip(1).chain(version.iter().skip(1)) {
                let path = self.layout.root.join(arg);
                if !arg.starts_with('-') && std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                    let stamp = file_stamp(&path);
                    tools.push(ToolSeen { validator: validator.clone(), program: None, path, stamped: true, stamp });
                }
            }
        }
        // The version commands run side by side: each may take up to
        // VERSION_TIMEOUT.
        let mut set = tokio::task::JoinSet::new();
        for (i, v) in config.validators().into_iter().enumerate() {
            let root = self.layout.root.clone();
            set.spawn(async move { (i, spec_for(&root, v).await) });
        }
        let mut specs: Vec<(usize, ValidatorSpec)> = set.join_all().await;
        specs.sort_unstable_by_key(|(i, _)| *i);
        let specs = specs.into_iter().map(|(_, s)| s).collect();
        let report = ractor::call!(self.supervisor, SupervisorMessage::Apply, specs)?;
        self.tool_stamps.set(tools);
        Ok(report)
    }

    /// Whether a tool is found elsewhere than when the validators were
    /// made (one installed earlier on `PATH`, or first installed), or a
    /// tool with a `version` command changed since that command ran.
    fn tools_changed(&self) -> bool {
        // Looked at without the lock held (a PATH search stats files).
        let tools = self.tool_stamps.all();
        tools
            .iter()
            .any(|t| t.program.as_ref().is_some_and(|p| program_path(p, &self.layout.root) != t.path) || t.moved())
    }

    /// The stamps of the files that stand for the command validators' tools.
    pub(crate) fn tool_stamps(&self) -> ToolStamps {
        self.tool_stamps.clone()
    }

    /// `check`. A verdict.toml edited since it was read is applied first, so
    /// a check always runs what the file says (an invalid edit fails the check
    /// with its errors; the old configuration stays in force).
    pub async fn check(&self, params: Value, ctx: &RequestCtx) -> Result<Box<serde_json::value::RawValue>, RpcError> {
        // The check's duration counts the reload before it (a version
        // command that hangs until its timeout, say).
        let started = std::time::Instant::now();
        let params: crate::protocol::CheckParams = parse_params(Some(&params))?;
        // Said at once: a client whose daemon dies after this knows the
        // check had started (and does not make it again of the next one).
        ctx.notifier.notify(crate::protocol::notification::CHECK_PROGRESS, json!({ "done": 0, "total": 0 }));
        self.reopen_after_failed_writes().await;
        let restart_required = self.reload_if_stale().await?;
        crate::check::run(self, params, restart_required, started, ctx).await
    }

    /// Applies verdict.toml before a request that works from it (a check,
    /// an explanation), if it changed since it was read or a tool moved:
    /// what a request answers is what the file says now. Returns the
    /// validators whose change needs a restart that did not happen.
    async fn reload_if_stale(&self) -> Result<Vec<String>, RpcError> {
        let mut restart_required = Vec::new();
        if self.config_stale() || self.tools_changed() {
            // Several checks that start after one edit reload once: the
            // others find it done when their turn comes.
            let turn = self.reloading.lock().await;
            let reloaded = if self.config_stale() {
                info!(
                    "verdict.toml or the pre-commit configuration changed since it was read; reloading before the check"
                );
                match self.reload_in_turn(turn).await? {
                    Reloaded::Applied(r) => Some(r),
                    // This check runs on the configuration in force; the
                    // next one reloads.
                    Reloaded::BeingWritten => {
                        warn!("verdict.toml is still being written; this check runs on the configuration in force");
                        None
                    }
                }
            } else if self.tools_changed() {
                info!(
                    "a tool is found elsewhere, or changed since its version command ran; reloading before the check"
                );
                self.reload_in_turn(turn).await?.applied()
            } else {
                None
            };
            if let Some(r) = reloaded {
                restart_required = serde_json::from_value(r["restart_required"].clone()).unwrap_or_default();
            }
        }
        Ok(restart_required)
    }

    /// Serves `explain`, on the configuration a check would run.
    pub async fn explain(&self, params: Value) -> Result<Value, RpcError> {
        self.reload_if_stale().await?;
        crate::check::explain(self, params).await
    }

    /// Whether verdict.toml, or the pre-commit or gitleaks configuration
    /// whose patterns narrow the built-ins, changed since it was last read.
    fn config_stale(&self) -> bool {
        file_stamp(&self.layout.root.join(crate::paths::CONFIG_FILE))
            != *self.config_stamp.lock().expect("stamp lock poisoned")
            || tool_files_stamp(&self.layout.root) != *self.tool_files_stamp.lock().expect("stamp lock poisoned")
    }

    /// Closes the cache (the daemon is then without one, `why`) unless a run
    /// holds it; false when one does. True also when none was open.
    fn close_store_if_unused(&self, why: &str) -> bool {
        let taken = {
            let mut guard = self.store.write().expect("store lock poisoned");
            match &*guard {
                Ok(s) if Arc::strong_count(s) == 1 => std::mem::replace(&mut *guard, Err(why.into())),
                Ok(_) => return false,
                Err(_) => return true,
            }
        };
        // Nobody can take a new reference now: it is ours alone, and
        // dropping it closes the database and releases its lock.
        match taken.map(Arc::try_unwrap) {
            Ok(Ok(store)) => drop(store),
            Ok(Err(store)) => {
                *self.store.write().expect("store lock poisoned") = Ok(store);
                return false;
            }
            Err(_) => {}
        }
        true
    }

    /// After a failed write, reopens the cache once no run holds it: RocksDB
    /// stays read-only after some errors (a full disk) until then. Also a
    /// cache that could not be opened at all, and one whose directory was
    /// deleted. A reopen that fails (still no space) leaves the daemon
    /// without a cache and is tried again by the next check.
    async fn reopen_after_failed_writes(&self) {
        let _turn = self.reopening.lock().await;
        // Its directory deleted under the open database: what it writes goes
        // nowhere. It is opened again, which creates it anew. Or replaced
        // (a backup put back): what it writes goes to the old directory
        // still, lost with it. The one there is opened.
        if self.store().is_some_and(|s| s.dir_replaced()) {
            if self.store_path.exists() {
                warn!(path = %self.store_path.display(), "the cache's directory was replaced while it was open; the database there is opened instead");
            } else {
                warn!(path = %self.store_path.display(), "the cache's directory was deleted while it was open; it is created again");
            }
            self.store_suspect.store(true, Ordering::SeqCst);
        }
        if !self.store_suspect.load(Ordering::SeqCst) {
            return;
        }
        if !self.close_store_if_unused("being reopened after failed writes") {
            return; // a run still uses it: next time
        }
        let (root, path, config) = (self.layout.root.clone(), self.store_path.clone(), self.config());
        let opened = tokio::task::spawn_blocking(move || open_store(&root, &path, &config)).await;
        self.forget_answers();
        match opened {
            Ok(Ok(store)) => {
                let store = Arc::new(store);
                *self.store.write().expect("store lock poisoned") = Ok(store.clone());
                spawn_pruner(&store, &self.layout.root);
                self.store_suspect.store(false, Ordering::SeqCst);
                info!(path = %self.store_path.display(), "the cache was reopened");
            }
            Ok(Err(e)) => {
                let why = e.to_string();
                let mut store = self.store.write().expect("store lock poisoned");
                // Said once per cause, not at every check while it lasts.
                if store.as_ref().err() == Some(&why) {
                    debug!(error = %e, "the cache still cannot be reopened; checks run without it");
                } else {
                    warn!(error = %e, "the cache cannot be reopened yet; checks run without it (tried again at each check)");
                }
                *store = Err(why);
            }
            Err(e) => *self.store.write().expect("store lock poisoned") = Err(e.to_string()),
        }
    }

    /// `reload` (and SIGHUP): re-read verdict.toml and apply it.
    pub async fn reload(&self) -> Result<Value, RpcError> {
        // One at a time, each reading the file when its turn comes: the
        // last to finish applies the newest file.
        let turn = self.reloading.lock().await;
        self.reload_in_turn(turn).await?.applied().ok_or_else(|| {
            warn!("reload not applied: verdict.toml is being written; the configuration in force stays");
            being_written()
        })
    }

    /// [`reload`](Self::reload), its turn taken.
    async fn reload_in_turn(&self, _turn: tokio::sync::MutexGuard<'_, ()>) -> Result<Reloaded, RpcError> {
        let path = self.layout.root.join(crate::paths::CONFIG_FILE);
        let mut tries = 0;
        let (stamp, pre_commit, loaded) = loop {
            if !settled(&path).await {
                return Ok(Reloaded::BeingWritten);
            }
            // Stamped before reading: an edit racing with the read is seen
            // next time.
            let stamp = file_stamp(&path);
            let pre_commit = tool_files_stamp(&self.layout.root);
            // Off the runtime's threads: a large file with many errors takes
            // a while, and reading can block.
            let (p, root) = (path.clone(), self.layout.root.clone());
            let loaded = tokio::task::spawn_blocking(move || {
                // Anything named verdict.toml (a directory, a FIFO) is read,
                // and refused with a message; only its absence means the
                // defaults.
                let loaded =
                    if crate::config::config_present(&p) { Config::load_to_apply(&p) } else { Ok(Config::default()) };
                loaded.map(|c| c.with_project_files(&root))
            })
            .await
            .map_err(|e| RpcError::new(code::INTERNAL_ERROR, e.to_string()))?;
            // Written while it was read: what was read may be torn.
            tries += 1;
            if unchanged_since_read(&path, &stamp, CONFIG_SETTLE).await {
                break (stamp, pre_commit, loaded);
            }
            if tries == 3 {
                return Ok(Reloaded::BeingWritten);
            }
        };
        let new = loaded.map_err(|e| {
            // Whoever asked (a client's `reload`, SIGHUP, a check finding the
            // file changed), the log says so.
            error!(errors = %e, "reload rejected: verdict.toml is invalid; the old configuration stays in force");
            RpcError::new(
                code::INVALID_CONFIGURATION,
                format!("invalid configuration; the old one stays in force:\n{e}"),
            )
            .with_data(json!({ "errors": e.errors.iter().map(|i| i.to_string()).collect::<Vec<_>>() }))
        })?;
        let report = self.apply(&new).await.map_err(|e| RpcError::new(code::INTERNAL_ERROR, e.to_string()))?;
        let (daemon, cache) = &self.started_with;
        // `cache.ttl` is every validator's default `cache_ttl`: it applies
        // now, with them.
        let cache_at_start = crate::config::CacheSettings { ttl: cache.ttl, ..new.cache.clone() } != *cache;
        let at_start: Vec<&str> = [("daemon", new.daemon != *daemon), ("cache", cache_at_start)]
            .iter()
            .filter(|(_, d)| *d)
            .map(|(s, _)| *s)
            .collect();
        if !at_start.is_empty() {
            warn!(sections = ?at_start, "these sections changed; they take effect when the daemon restarts (verdict stop)");
        }
        *self.config.lock().expect("config lock poisoned") = CheckGlobs::with(new);
        *self.config_stamp.lock().expect("stamp lock poisoned") = stamp;
        *self.tool_files_stamp.lock().expect("stamp lock poisoned") = pre_commit;
        self.forget_answers();
        info!(
            added = ?report.added,
            changed = ?report.changed,
            removed = ?report.removed,
            unchanged = report.unchanged.len(),
            "configuration applied"
        );
        let mut reply = serde_json::to_value(report).expect("plain struct");
        reply["restart_required"] = json!(at_start);
        Ok(Reloaded::Applied(reply))
    }

    /// `restart`.
    pub async fn restart(&self, params: Value) -> Result<Value, RpcError> {
        let p: RestartParams = parse_params(Some(&params))?;
        let r = ractor::call!(self.supervisor, SupervisorMessage::Restart, p.name.clone())
            .map_err(|e| RpcError::new(code::INTERNAL_ERROR, e.to_string()))?;
        match r {
            Ok(()) => Ok(json!({ "name": p.name, "restarted": true })),
            Err(e) => Err(RpcError::new(code::NOT_FOUND, e)),
        }
    }

    /// `config.check`: validate a file (default: the project's) without applying it.
    pub async fn config_check(&self, params: Value) -> Result<Value, RpcError> {
        let p: ConfigCheckParams = parse_params(Some(&params))?;
        // A relative path is the project root's, as verdict.toml is.
        let given = p.path.is_some();
        let path = self.layout.root.join(p.path.unwrap_or_else(|| crate::paths::CONFIG_FILE.into()));
        // Off the runtime's threads: reading a file can block (a slow disk).
        let loaded = tokio::task::spawn_blocking(move || {
            // No verdict.toml: the built-in defaults, which are valid (as
            // `verdict config check` says); a file named is read, or refused.
            // The project's own file is checked as it would be applied.
            if given {
                Config::load(&path)
            } else if crate::config::config_present(&path) {
                Config::load_to_apply(&path)
            } else {
                Ok(Config::default())
            }
        })
        .await
        .map_err(|e| RpcError::new(code::INTERNAL_ERROR, e.to_string()))?;
        match loaded {
            Ok(c) => Ok(json!({ "valid": true, "validators": c.validators().len(), "defaults": c.source.is_none() })),
            Err(e) => {
                Ok(json!({ "valid": false, "errors": e.errors.iter().map(|i| i.to_string()).collect::<Vec<_>>() }))
            }
        }
    }

    fn store_or_err(&self) -> Result<Arc<Store>, RpcError> {
        match &*self.store.read().expect("store lock poisoned") {
            Ok(s) => Ok(s.clone()),
            Err(why) => Err(RpcError::new(code::CACHE_UNAVAILABLE, format!("the result cache is unavailable: {why}"))),
        }
    }

    /// [`store_or_err`](Self::store_or_err), refusing a database whose
    /// directory was deleted or replaced since it was opened (a check still
    /// using it kept it from being reopened): the cache commands are about
    /// the one at the cache's path.
    fn current_store_or_err(&self) -> Result<Arc<Store>, RpcError> {
        let store = self.store_or_err()?;
        if store.dir_replaced() {
            return Err(RpcError::new(
                code::CACHE_UNAVAILABLE,
                format!(
                    "the cache directory {} was deleted or replaced while the daemon had it open, and a check (or \
                     the hourly pruning) is still using the old one; run the command again once it is done",
                    self.store_path.display()
                ),
            ));
        }
        Ok(store)
    }

    /// `cache.stats`.
    pub async fn cache_stats(&self) -> Result<Value, RpcError> {
        // About the database at the cache's path, not one whose directory
        // was deleted or replaced since (nor one left read-only).
        self.reopen_after_failed_writes().await;
        let store = self.current_store_or_err()?;
        let stats = tokio::task::spawn_blocking(move || store.stats())
            .await
            .map_err(|e| RpcError::new(code::INTERNAL_ERROR, e.to_string()))?
            .map_err(|e| RpcError::new(code::CACHE_UNAVAILABLE, e.to_string()))?;
        let handles = ractor::call!(self.supervisor, SupervisorMessage::GetHandles)
            .map_err(|e| RpcError::new(code::INTERNAL_ERROR, e.to_string()))?;
        let counters = self.counters.lock().expect("counters lock poisoned");
        let per_validator: Vec<Value> = handles
            .iter()
            .map(|h| {
                let c = counters.get(&h.config.name);
                json!({
                    "name": h.config.name,
                    "entries": stats.per_validator.get(&h.identity).copied().unwrap_or(0),
                    "hits": c.map(|c| c.hits.load(Ordering::Relaxed)).unwrap_or(0),
                    "misses": c.map(|c| c.misses.load(Ordering::Relaxed)).unwrap_or(0),
                })
            })
            .collect();
        Ok(json!({
            "path": self.store_path.to_string_lossy(),
            "entries": stats.result_entries,
            "bytes_on_disk": stats.approx_disk_bytes,
            "file_entries": stats.file_entries,
            "stat_index_entries": stats.stat_index_entries,
            "validators": per_validator,
        }))
    }

    /// `cache.clear`.
    pub async fn cache_clear(&self, params: Value) -> Result<Value, RpcError> {
        let p: ClearParams = parse_params(Some(&params))?;
        // One validator's results: as `cache_stats`. (All of them: a
        // database whose directory was deleted or replaced is made anew
        // below.)
        if p.validator.is_some() {
            self.reopen_after_failed_writes().await;
        }
        self.forget_answers();
        // Once the writes under way have landed (the clear deletes them):
        // none lands after it.
        let epoch = self.cache_epoch.clone();
        tokio::task::spawn_blocking(move || epoch.advance())
            .await
            .map_err(|e| RpcError::new(code::INTERNAL_ERROR, e.to_string()))?;
        if p.validator.is_none() && self.config().cache.enabled {
            if self.store().is_none() {
                return self.recreate_store().await;
            }
            // Its directory deleted (or replaced) under the open database:
            // what it writes is lost with its directory, so start an empty
            // one.
            if self.store().is_some_and(|s| s.dir_replaced()) {
                if !self.close_store_if_unused("being recreated: its directory was deleted or replaced") {
                    // A failed write of that run reopens it after the run.
                    self.store_suspect.store(true, Ordering::SeqCst);
                    return Err(RpcError::new(
                        code::CACHE_UNAVAILABLE,
                        format!(
                            "the cache directory {} was deleted or replaced while the daemon had it open, and a check (or the \
                             hourly pruning) is using it; the next check after that recreates it, or run `verdict \
                             cache clear` again",
                            self.store_path.display()
                        ),
                    ));
                }
                return self.recreate_store().await;
            }
        }
        let store = self.current_store_or_err()?;
        let id = match &p.validator {
            None => None,
            Some(name) => {
                let handles = ractor::call!(self.supervisor, SupervisorMessage::GetHandles)
                    .map_err(|e| RpcError::new(code::INTERNAL_ERROR, e.to_string()))?;
                let h = handles.iter().find(|h| &h.config.name == name).ok_or_else(|| {
                    RpcError::new(code::NOT_FOUND, format!("no validator named {name:?}"))
                        .with_data(json!({ "field": "validator" }))
                })?;
                Some((name.clone(), h.identity))
            }
        };
        let damaged = store.read_failures() > 0;
        let epoch = self.cache_epoch.clone();
        let all = id.is_none();
        let cleared = tokio::task::spawn_blocking(move || {
            let cleared = match &id {
                // Its results under earlier configurations too.
                Some((name, current)) => store.clear_validator(name, *current),
                None => store.clear_results(None),
            }
            .and_then(|deleted| {
                if id.is_none() {
                    // All of it: what verdict knows of each file too, so the
                    // next check starts as on a new cache.
                    store.clear_stat_index()?;
                }
                Ok(deleted)
            });
            // Again: a run that started while the entries were being
            // deleted may have read some of them; it writes nothing now.
            epoch.advance();
            cleared
        })
        .await
        .map_err(|e| RpcError::new(code::INTERNAL_ERROR, e.to_string()))?;
        let deleted = match cleared {
            Ok(deleted) if !(damaged && all) => deleted,
            // Damaged data the deletes cannot get past (they read what they
            // delete), or that reads kept failing on: all of it is deleted
            // and an empty database made, as for one that cannot be opened.
            Ok(_) | Err(verdict_storage::StorageError::Corruption { .. }) if all => {
                return self.recreate_when_unused("its data is damaged", "the cache's data is damaged").await;
            }
            // A database whose writes failed (a full disk) takes no deletes
            // either, until it is reopened: all of it is deleted and an
            // empty one made, which also gives the disk its room back.
            Err(_) if all && self.store_suspect.load(Ordering::SeqCst) => {
                return self
                    .recreate_when_unused("its writes failed", "the cache takes no writes (a full disk?)")
                    .await;
            }
            Ok(deleted) => deleted,
            Err(e) => return Err(RpcError::new(code::CACHE_UNAVAILABLE, e.to_string())),
        };
        // Again: a run that started while the entries were being deleted
        // may have read some of them.
        self.forget_answers();
        Ok(json!({ "deleted": deleted, "validator": p.validator }))
    }

    /// [`recreate_store`](Self::recreate_store) of the open database,
    /// `why` it cannot be cleared; refused, saying `what` of it, while a
    /// check (or the hourly pruning) uses it.
    async fn recreate_when_unused(&self, why: &str, what: &str) -> Result<Value, RpcError> {
        if !self.close_store_if_unused(&format!("being recreated: {why}")) {
            return Err(RpcError::new(
                code::CACHE_UNAVAILABLE,
                format!(
                    "{what}, and a check (or the hourly pruning) is using it; run `verdict cache clear` again once \
                     it is done"
                ),
            ));
        }
        self.recreate_store().await
    }

    /// `cache.clear` of a database that could not be opened (corrupt, or of
    /// another schema): delete it and start an empty one. A database held by
    /// another process is left alone.
    async fn recreate_store(&self) -> Result<Value, RpcError> {
        let (root, path) = (self.layout.root.clone(), self.store_path.clone());
        if let Some(why) = holds_project(&root, &path) {
            return Err(RpcError::new(code::CACHE_UNAVAILABLE, why));
        }
        let config = self.config();
        let opened = tokio::task::spawn_blocking(move || {
            Store::destroy(&path)?;
            open_store(&root, &path, &config)
        })
        .await
        .map_err(|e| RpcError::new(code::INTERNAL_ERROR, e.to_string()))?
        .map_err(|e| RpcError::new(code::CACHE_UNAVAILABLE, format!("the result cache is unavailable: {e}")))?;
        let store = Arc::new(opened);
        *self.store.write().expect("store lock poisoned") = Ok(store.clone());
        self.store_suspect.store(false, Ordering::SeqCst);
        spawn_pruner(&store, &self.layout.root);
        info!(path = %self.store_path.display(), "the unusable cache was deleted and recreated");
        Ok(json!({ "deleted": 0, "validator": null, "recreated": true }))
    }

    /// `cache.prune`.
    pub async fn cache_prune(&self) -> Result<Value, RpcError> {
        // As `cache_stats`.
        self.reopen_after_failed_writes().await;
        let store = self.current_store_or_err()?;
        self.forget_answers();
        let root = self.layout.root.clone();
        let (deleted, stats) = tokio::task::spawn_blocking(move || prune(&store, &root))
            .await
            .map_err(|e| RpcError::new(code::INTERNAL_ERROR, e.to_string()))?
            .map_err(|e| RpcError::new(code::CACHE_UNAVAILABLE, e.to_string()))?;
        self.forget_answers();
        Ok(json!({ "deleted": deleted, "stat_index_deleted": stats }))
    }

    /// The engine's parts of `status`.
    pub async fn status(&self) -> EngineStatus {
        let sup = ractor::call!(self.supervisor, SupervisorMessage::GetStatus).ok();
        let counters = self.counters.lock().expect("counters lock poisoned");
        let (hits, misses) = counters
            .values()
            .fold((0, 0), |(h, m), c| (h + c.hits.load(Ordering::Relaxed), m + c.misses.load(Ordering::Relaxed)));
        let store_state = self.store.read().expect("store lock poisoned").as_ref().map(|_| ()).map_err(Clone::clone);
        EngineStatus {
            // The file of the configuration in force: none once it was
            // deleted and a reload fell back to the defaults.
            config_path: match &self.config().source {
                Some(p) => json!(p.to_string_lossy()),
                None => Value::Null,
            },
            validators: sup.as_ref().map(|s| json!(s.validators)).unwrap_or(json!([])),
            retiring: sup.as_ref().map(|s| json!(s.retiring)).unwrap_or(json!([])),
            events: sup.as_ref().map(|s| json!(s.events)).unwrap_or(json!([])),
            breakers: json!([]),
            cache: json!({
                "available": store_state.is_ok(),
                "path": self.store_path.to_string_lossy(),
                "error": store_state.as_ref().err(),
                "hits": hits,
                "misses": misses,
                "read_failures": self.store().map_or(0, |s| s.read_failures()),
                // A write failed (a full disk): the database takes no more
                // until the next check reopens it.
                "writes_failed": store_state.is_ok() && self.store_suspect.load(Ordering::SeqCst),
            }),
            watch: {
                let mut w = self.watch.status();
                w["enabled"] = json!(self.config().check.watch);
                w
            },
        }
    }

    /// Stops the actor tree and flushes the cache (not one whose directory
    /// was deleted or replaced: the flush would go to the old directory).
    pub async fn stop(&self) {
        let _ = ractor::call!(self.supervisor, SupervisorMessage::StopAll);
        self.supervisor.stop(None);
        if let Some(store) = self.store().filter(|s| !s.dir_replaced()) {
            match tokio::task::spawn_blocking(move || store.flush()).await {
                Ok(Ok(())) => info!("cache flushed"),
                Ok(Err(e)) => warn!(error = %e, "cache flush failed"),
                Err(e) => warn!(error = %e, "cache flush task failed"),
            }
        }
    }
}

/// Size, modification time, change time (seconds, nanoseconds) and inode of
/// a file (None when it is absent). The change time catches an edit that
/// kept the size and put the modification time back (`cp -p`, `rsync -t`,
/// `touch -r`): no one can set it.
pub(crate) type FileStamp = (u64, std::time::SystemTime, (i64, i64), u64);

/// The cache's epoch, moved by `cache clear` before it deletes and again
/// after. A run writes only while the epoch it started in lasts, looked at
/// under a read lock held through the write; the epoch moves under the
/// write lock, so a clear waits for the writes under way (which it then
/// deletes), and no write of a run that started before the clear ended
/// lands after it: a look-then-write could otherwise leave a verdict read
/// before (or during) the clear in the cleared cache.
#[derive(Debug, Default)]
pub struct CacheEpoch {
    /// Held shared through each write, exclusively to move the epoch.
    gate: std::sync::RwLock<()>,
    /// The epoch, readable without waiting for the gate (a clear waiting
    /// for a slow write must not hold up every check).
    value: AtomicU64,
}

impl CacheEpoch {
    /// The epoch now.
    pub fn current(&self) -> u64 {
        self.value.load(Ordering::SeqCst)
    }

    /// Runs `write` if the epoch is still `started`, holding it there
    /// meanwhile; `None` if it moved. Blocks while the epoch is moved.
    pub fn write_in<T>(&self, started: u64, write: impl FnOnce() -> T) -> Option<T> {
        let _gate = self.gate.read().expect("cache epoch");
        (self.current() == started).then(write)
    }

    /// Moves the epoch, once the writes under way are done. Blocks.
    pub fn advance(&self) {
        let _gate = self.gate.write().expect("cache epoch");
        self.value.fetch_add(1, Ordering::SeqCst);
    }
}

/// How long a configuration file must have gone unwritten to be read.
const CONFIG_SETTLE: Duration = Duration::from_millis(50);

/// Whether `path` still has the stamp `read` took before it was read. An
/// empty file is looked at again `settle` later: one being rewritten in
/// place (`cp`, `cat >`) is empty between its writer's truncate and first
/// write, and a stat during the truncate can see the size already 0 with
/// the old times (1 reload in 70 applied the defaults while `cp` rewrote
/// the file in a loop). An empty verdict.toml that stays so is meant.
async fn unchanged_since_read(path: &Path, read: &Option<FileStamp>, settle: Duration) -> bool {
    if read.as_ref().is_some_and(|s| s.0 == 0) {
        tokio::time::sleep(settle).await;
    }
    file_stamp(path) == *read
}

/// Waits, at most a second, until `path` has not been written for
/// [`CONFIG_SETTLE`]: a file rewritten in place (`cp`, `cat >`, an editor
/// saving over it) is empty, or half written, between its writer's truncate
/// and its last write, and a check that read it then ran on the defaults
/// (1 check in 30 while `cp` rewrote the file every 20 ms).
/// Returns false if it was still being written after that second.
async fn settled(path: &Path) -> bool {
    settled_within(path, CONFIG_SETTLE, Duration::from_secs(1)).await
}

/// Waits, at most `give_up`, until `path` has not been written for `settle`.
async fn settled_within(path: &Path, settle: Duration, give_up: Duration) -> bool {
    let give_up = std::time::Instant::now() + give_up;
    loop {
        let Some(modified) = std::fs::metadata(path).ok().and_then(|m| m.modified().ok()) else { return true };
        // Written "in the future" (a clock set back, `touch -d`): nothing
        // to wait for.
        let Ok(age) = std::time::SystemTime::now().duration_since(modified) else { return true };
        if age >= settle {
            return true;
        }
        if std::time::Instant::now() >= give_up {
            return false;
        }
        tokio::time::sleep(settle - age).await;
    }
}

/// What a reload did.
enum Reloaded {
    /// Applied the file: `reload`'s reply.
    Applied(Value),
    /// Found it still being written, and left the configuration in force.
    BeingWritten,
}

impl Reloaded {
    fn applied(self) -> Option<Value> {
        match self {
            Reloaded::Applied(v) => Some(v),
            Reloaded::BeingWritten => None,
        }
    }
}

/// The error of a `reload` that found verdict.toml still being written.
fn being_written() -> RpcError {
    RpcError::new(
        code::INVALID_CONFIGURATION,
        "verdict.toml is being written (it changed throughout the last second, or while it was read); the \
         configuration in force stays: run the command again once it is saved",
    )
}

/// A program a command validator runs, as found when the validators were
/// made: the file it named then, and that file's stamp (`stamped`: when
/// its version is part of the validator's identity).
#[derive(Clone)]
struct ToolSeen {
    /// The validator it belongs to.
    validator: String,
    /// The program as its command names it; `None` for a file a command
    /// names as an argument.
    program: Option<String>,
    path: PathBuf,
    stamped: bool,
    stamp: Option<FileStamp>,
}

impl ToolSeen {
    /// Whether the file changed since it was stamped.
    fn moved(&self) -> bool {
        self.stamped && file_stamp(&self.path) != self.stamp
    }
}

/// The [`ToolSeen`] of the validators in force, shared with the checks.
#[derive(Clone, Default)]
pub(crate) struct ToolStamps(Arc<Mutex<Vec<ToolSeen>>>);

impl ToolStamps {
    fn set(&self, tools: Vec<ToolSeen>) {
        *self.0.lock().expect("tool stamps lock poisoned") = tools;
    }

    fn all(&self) -> Vec<ToolSeen> {
        self.0.lock().expect("tool stamps lock poisoned").clone()
    }

    /// Whether a file that stands for `validator`'s tool changed since the
    /// validator's identity was taken (a tool replaced while a check runs,
    /// say): what it said since may not be the identified tool's.
    pub(crate) fn moved(&self, validator: &str) -> bool {
        // A `stat` or three under the lock, which only jobs ending take.
        self.0.lock().expect("tool stamps lock poisoned").iter().any(|t| t.validator == validator && t.moved())
    }
}

pub(crate) fn file_stamp(path: &Path) -> Option<FileStamp> {
    use std::os::unix::fs::MetadataExt;
    // A link whose target is gone still has a stamp of its own: it is
    // there, to be refused when read, not the same as no file.
    let m = std::fs::metadata(path).or_else(|_| std::fs::symlink_metadata(path)).ok()?;
    Some((m.len(), m.modified().ok()?, (m.ctime(), m.ctime_nsec()), m.ino()))
}

/// Why the cache cannot be kept in `path`: the project is in it, so every
/// check would validate the database's own files (`--data-dir .`).
fn holds_project(root: &Path, path: &Path) -> Option<String> {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    root.starts_with(&path).then(|| {
        format!(
            "the cache cannot be kept in {}: the project {} is inside it, so every check would validate the \
             cache's own files; pass --data-dir (or set [cache] dir to) a directory elsewhere or inside the project",
            path.display(),
            root.display()
        )
    })
}

fn open_store(root: &Path, path: &Path, config: &Config) -> Result<Store, verdict_storage::StorageError> {
    if let Some(why) = holds_project(root, path) {
        return Err(verdict_storage::StorageError::Refused { path: path.to_path_buf(), why });
    }
    // Under a home no one may write in safely (see `paths::refused`).
    if let Err(e) = verdict_cli::paths::refused(path) {
        return Err(verdict_storage::StorageError::Refused { path: path.to_path_buf(), why: e.to_string() });
    }
    // `Store::open` makes the directory and its missing parents, 0700.
    let opts = StoreOptions {
        block_cache_bytes: config.cache.block_cache as usize,
        write_buffer_bytes: config.cache.write_buffer as usize,
        ..StoreOptions::default()
    };
    Store::open(path, &opts)
}

/// Purges expired results hourly so the database does not grow without bound,
/// for as long as this database is the one in use.
fn spawn_pruner(store: &Arc<Store>, root: &Path) {
    let store = Arc::downgrade(store);
    let root = root.to_path_buf();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let Some(s) = store.upgrade() else { return };
            let root = root.clone();
            match tokio::task::spawn_blocking(move || prune(&s, &root)).await {
                Ok(Ok((0, 0))) => {}
                Ok(Ok((results, stats))) => {
                    info!(deleted = results, stat_index_deleted = stats, "pruned expired cache entries")
                }
                Ok(Err(e)) => warn!(error = %e, "pruning the cache failed"),
                Err(_) => return,
            }
        }
    });
}

/// Deletes the expired results, and the stat-index entries of files that
/// are gone from the project: (results, stat-index entries) deleted.
fn prune(store: &Store, root: &Path) -> Result<(u64, u64), verdict_storage::StorageError> {
    use std::os::unix::ffi::OsStrExt;
    let results = store.prune_expired(crate::check::now_secs())?;
    let stats = store.prune_stat_index(|rel| {
        matches!(root.join(std::ffi::OsStr::from_bytes(rel)).symlink_metadata(),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory))
    })?;
    Ok((results, stats))
}

/// What stands for a built-in's code in its identity, as a command's
/// `version` output does for a tool: verdict's version and the daemon
/// executable's build id when it started. A new build may check differently
/// (a parser upgraded, a rule fixed), so its built-ins start with a cache of
/// their own.
fn builtin_code() -> &'static str {
    static CODE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CODE.get_or_init(|| format!("verdict {} build {}", env!("CARGO_PKG_VERSION"), verdict_cli::paths::build_id()))
}

/// Turns a validator's configuration into what the supervisor runs,
/// running its `version` command to complete its identity.
async fn spec_for(root: &Path, config: ValidatorConfig) -> ValidatorSpec {
    let env_values = |names: &[String]| -> Vec<(String, Option<String>)> {
        names.iter().map(|n| (n.clone(), std::env::var(n).ok())).collect()
    };
    match &config.kind {
        ValidatorKind::Builtin { kind, settings } => {
            let work = ValidatorWork::Inline(Arc::new(BuiltinCheck { kind: *kind, settings: settings.clone() }));
            ValidatorSpec {
                identity: config.identity(None, Some(builtin_code()), &[]),
                needs_content: *kind != verdict_actors::builtin::BuiltinKind::LargeFile,
                text_only: kind.text_only(),
                not_cached: None,
                work,
                config,
            }
        }
        ValidatorKind::Command(cmd) => {
            let (version, not_cached) = match &cmd.version {
                None => (None, None),
                Some(argv) => {
                    match verdict_actors::command::tool_version(argv, root, &cmd.env, VERSION_TIMEOUT).await {
                        Ok(v) => (Some(v), None),
                        Err(e) => {
                            warn!(validator = %config.name, error = %e, "version command failed; results will not be cached");
                            let why = format!("its version command failed ({e}), so the tool's version is unknown");
                            (Some(format!("unknown: {e}")), Some(why))
                        }
                    }
                }
            };
            let program = cmd.command.first().map(|p| program_path(p, root));
            let identity = config.identity(program.as_deref(), version.as_deref(), &env_values(&cmd.env));
            let mut spec = command_spec(root, cmd, config.timeout);
            // Which files it checks: a finding for another reached it
            // through those it was given (see `Selects`).
            if let Ok(filter) = config.file_filter() {
                spec.selects = verdict_actors::command::Selects(Some(Arc::new(move |rel| filter.is_match(rel))));
            }
            let work = ValidatorWork::Jobs(Arc::new(CommandWork { spec: Arc::new(spec) }));
            ValidatorSpec { identity, needs_content: false, text_only: false, not_cached, work, config }
        }
    }
}

/// The file a command's program is: found as a run finds it (on `PATH`,
/// or from the project root), its links resolved, so that `/bin/sh` and
/// `/usr/bin/sh` are one program and a link pointed at another tool (an
/// `update-alternatives` switch, `tools/lint -> v2.sh`) is another.
fn program_path(program: &str, root: &Path) -> PathBuf {
    let path = verdict_actors::command::resolve_program(program, root);
    std::fs::canonicalize(&path).unwrap_or(path)
}

/// What a command validator runs; `timeout`, its jobs' deadline.
fn command_spec(root: &Path, cmd: &CommandConfig, timeout: Duration) -> CommandSpec {
    let parser = match cmd.parser {
        ParserKind::ExitCode => OutputParser::ExitCode,
        ParserKind::Sarif => OutputParser::Sarif,
        // The pattern was compiled when the configuration was validated.
        ParserKind::Regex => OutputParser::Regex(
            regex::Regex::new(cmd.pattern.as_deref().unwrap_or("$^"))
                .unwrap_or_else(|_| regex::Regex::new("$^").expect("valid")),
        ),
    };
    CommandSpec {
        argv: cmd.command.clone(),
        parser,
        env: cmd.env.clone(),
        cwd: root.to_path_buf(),
        max_output: cmd.max_output as usize,
        findings_exit_codes: cmd.findings_exit_codes.clone(),
        // A start tried again past a quarter of the deadline would leave the
        // tool too little of it.
        start_patience: (timeout / 4).min(verdict_actors::command::START_PATIENCE),
        batch: cmd.mode == crate::config::CommandMode::Batch,
        selects: verdict_actors::command::Selects::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A verdict.toml made after the daemon read its configuration (none)
    /// but before its engine was up is applied by the first check: the
    /// stamp the engine compares with is the one taken before the read
    /// (an audit saw such a file never applied until a reload).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_configuration_written_while_the_daemon_started_is_applied_by_the_next_check() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap().join("project");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("a.txt"), "x  \n").unwrap();
        let config_path = root.join(crate::paths::CONFIG_FILE);
        // Taken before the read, as the daemon takes it: no file yet.
        let config_stamp = file_stamp(&config_path);
        assert_eq!(config_stamp, None);
        std::fs::write(&config_path, "[validators.trailing-whitespace]\nenabled = false\n").unwrap();
        let state = dir.path().join("state");
        let layout = crate::test_layout(root, &state);
        let engine = Engine::start(EngineOptions {
            layout,
            config: Config::default(),
            data_dir: None,
            config_stamp,
            tool_files_stamp: Default::default(),
        })
        .await
        .unwrap();
        let ctx = crate::server::RequestCtx {
            cancel: tokio_util::sync::CancellationToken::new(),
            notifier: crate::server::Notifier::discarding(),
        };
        let raw = engine.check(json!({ "paths": ["."], "all_outcomes": true }), &ctx).await.unwrap();
        let report: Value = serde_json::from_str(raw.get()).unwrap();
        let validators: Vec<&str> =
            report["validators"].as_array().unwrap().iter().map(|v| v[0].as_str().unwrap()).collect();
        assert!(!validators.is_empty(), "{report}");
        assert!(!validators.contains(&"trailing-whitespace"), "the file was not applied: {validators:?}");
    }

    /// The check's filters are searched one by one until a large check's
    /// set, compiled on a thread of its own, takes the place; other
    /// filters start over.
    #[tokio::test]
    async fn filters_are_searched_one_by_one_until_their_compiled_set_is_made() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap().join("project");
        std::fs::create_dir_all(&root).unwrap();
        let layout = crate::test_layout(root, &dir.path().join("state"));
        let options = EngineOptions {
            layout,
            config: Config::default(),
            data_dir: None,
            config_stamp: None,
            tool_files_stamp: Default::default(),
        };
        let engine = Engine::start(options).await.unwrap();
        let filter = |files: &[&str], exclude: &[&str]| {
            let s = |v: &[&str]| v.iter().map(|p| p.to_string()).collect::<Vec<_>>();
            Arc::new(crate::config::FileFilter::new(&s(files), &s(exclude)).unwrap())
        };
        let filters = [filter(&["*"], &["*.snap", "gen/"]), filter(&["*.json"], &["**/testdata/"])];
        // A small check's: one by one, and nothing compiled for it.
        let small = COMPILE_FILTERS_FROM - 1;
        let first = engine.filter_set(&filters, small);
        assert!(first.is_one_by_one() && first.is_of(&filters));
        assert!(Arc::ptr_eq(&first, &engine.filter_set(&filters, small)));
        assert!(!engine.filter_set.lock().unwrap().as_ref().unwrap().compiling);
        // A large one's: one by one while the set is compiled.
        assert!(engine.filter_set(&filters, COMPILE_FILTERS_FROM).is_one_by_one());
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let compiled = loop {
            let set = engine.filter_set(&filters, small);
            if !set.is_one_by_one() {
                break set;
            }
            assert!(std::time::Instant::now() < deadline, "the compiled set never took the place");
            tokio::task::yield_now().await;
            std::thread::sleep(Duration::from_millis(2));
        };
        assert!(compiled.is_of(&filters));
        assert!(Arc::ptr_eq(&compiled, &engine.filter_set(&filters, 0)), "kept for the next check");
        // Copies are other filters (a reload makes them again).
        let copies = [Arc::new((*filters[0]).clone()), Arc::clone(&filters[1])];
        assert!(engine.filter_set(&copies, COMPILE_FILTERS_FROM).is_one_by_one());
    }

    /// A configuration file is read only once it has gone unwritten for a
    /// moment; one written "in the future" is not waited for.
    #[tokio::test]
    async fn a_file_just_written_is_read_once_it_has_settled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("verdict.toml");
        std::fs::write(&path, "builtins = true\n").unwrap();
        assert!(settled(&path).await);
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        let age = std::time::SystemTime::now().duration_since(modified).unwrap();
        assert!(age >= CONFIG_SETTLE, "read {age:?} after its last write");
        let later = std::time::SystemTime::now() + Duration::from_secs(3600);
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(later).unwrap();
        let start = std::time::Instant::now();
        assert!(settled(&path).await);
        assert!(
            start.elapsed() < Duration::from_millis(500),
            "waited {:?} for a file from the future",
            start.elapsed()
        );
        // No file: nothing to wait for.
        assert!(settled(&dir.path().join("missing.toml")).await);
        // Written without a pause for over a second: not settled (the
        // configuration in force stays). Judged here by a pause of 500 ms
        // rather than 50, which a loaded machine could put between two of
        // the writer's writes.
        std::fs::write(&path, "builtins = true\n").unwrap();
        let writer = {
            let path = path.clone();
            std::thread::spawn(move || {
                let until = std::time::Instant::now() + Duration::from_millis(1500);
                while std::time::Instant::now() < until {
                    std::fs::write(&path, "builtins = true\n").unwrap();
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        let settle = Duration::from_millis(500);
        assert!(
            !settled_within(&path, settle, Duration::from_secs(1)).await,
            "a file rewritten all along was taken as settled"
        );
        writer.join().unwrap();
    }

    /// An empty file with old times (as a stat sees a file `cp` is
    /// truncating) is looked at again before it is taken: here it gets its
    /// content meanwhile. One that stays empty is taken.
    #[tokio::test]
    async fn an_empty_file_is_taken_only_once_it_stays_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("verdict.toml");
        std::fs::write(&path, "").unwrap();
        let past = std::time::SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(past).unwrap();
        let read = file_stamp(&path);
        let writer = {
            let path = path.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(10));
                std::fs::write(&path, "builtins = false\n").unwrap();
            })
        };
        // Long enough for the writer on a loaded machine.
        let settle = Duration::from_secs(2);
        assert!(!unchanged_since_read(&path, &read, settle).await, "taken while it was being written");
        writer.join().unwrap();
        std::fs::write(&path, "").unwrap();
        let read = file_stamp(&path);
        assert!(unchanged_since_read(&path, &read, Duration::from_millis(10)).await);
    }
}
