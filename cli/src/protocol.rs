//! The command channel's wire format: JSON-RPC 2.0, one JSON object per line.
//!
//! This module owns the grammar only (frames, ids, error codes, the names of
//! methods and the shapes of their parameters and results). The server that
//! speaks it lives in the daemon (`verdict::server`), the client in [`crate::client`].
//! docs/protocol.md is the reference for users of the socket.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use verdict_actors::Outcome;

/// The protocol version this build speaks. Bumped on any incompatible change.
pub const PROTOCOL_VERSION: u32 = 1;

/// The longest request line the daemon accepts, in bytes (without the `\n`).
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// The longest reply line the CLI reads, in bytes: a check's whole report
/// is one. The daemon refuses to send a longer one.
pub const MAX_REPLY_BYTES: usize = 64 * MAX_LINE_BYTES;

/// The package version of this build.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A JSON-RPC request id: a number or a string (JSON-RPC also allows null,
/// which we reject as invalid for requests that expect a reply).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Id {
    /// A numeric id.
    Num(i64),
    /// A numeric id above `i64::MAX`.
    Big(u64),
    /// A string id.
    Str(String),
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Id::Num(n) => write!(f, "{n}"),
            Id::Big(n) => write!(f, "{n}"),
            Id::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// A request as the client sends it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Request {
    /// Always `"2.0"`.
    pub jsonrpc: String,
    /// The request id; absent for a notification (which the daemon ignores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    /// The method name.
    pub method: String,
    /// The parameters: an object, or absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
}

impl Request {
    /// A request with an id and object params.
    pub fn new(id: i64, method: &str, params: Value) -> Self {
        Request { jsonrpc: "2.0".into(), id: Some(Id::Num(id)), method: method.into(), params: Some(params) }
    }
}

/// An error object, as in JSON-RPC 2.0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{message} (code {code})")]
pub struct RpcError {
    /// One of the codes in [`code`].
    pub code: i64,
    /// A one-line description.
    pub message: String,
    /// Structured detail, where a code defines some.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// Error codes: JSON-RPC's standard ones and verdict's own (in the range the
/// specification reserves for implementations, -32000 to -32099).
pub mod code {
    /// The line is not valid JSON (or not UTF-8).
    pub const PARSE_ERROR: i64 = -32700;
    /// Valid JSON, but not a request object.
    pub const INVALID_REQUEST: i64 = -32600;
    /// No such method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// The params are missing a field, or a field has the wrong type; `data.field` names it.
    pub const INVALID_PARAMS: i64 = -32602;
    /// The daemon failed in a way that is its own fault.
    pub const INTERNAL_ERROR: i64 = -32603;
    /// The peer's uid is not the daemon's.
    pub const PERMISSION_DENIED: i64 = -32001;
    /// Too many connections (or requests in flight).
    pub const BUSY: i64 = -32002;
    /// The daemon is stopping; the request was not (or no longer) served.
    pub const SHUTTING_DOWN: i64 = -32003;
    /// The client speaks another protocol version.
    pub const PROTOCOL_VERSION_MISMATCH: i64 = -32004;
    /// The configuration file is invalid; `data.errors` lists every problem.
    pub const INVALID_CONFIGURATION: i64 = -32005;
    /// A request other than `hello` came first on a connection.
    pub const HELLO_REQUIRED: i64 = -32006;
    /// A request line exceeded [`super::MAX_LINE_BYTES`]; the connection is closed.
    pub const REQUEST_TOO_LARGE: i64 = -32007;
    /// The request was cancelled by `cancel` or by its client going away.
    pub const CANCELLED: i64 = -32008;
    /// The thing named (a request id, a validator) does not exist.
    pub const NOT_FOUND: i64 = -32009;
    /// The result cache cannot be used (the error names the path and the fix).
    pub const CACHE_UNAVAILABLE: i64 = -32010;
    /// A check cannot walk its tree safely: an ignore file it would have to
    /// read is a FIFO or a device (the error names it).
    pub const UNSAFE_IGNORE_FILE: i64 = -32011;
    /// A check's report is longer than [`super::MAX_REPLY_BYTES`] (its
    /// results are cached all the same).
    pub const REPORT_TOO_LARGE: i64 = -32012;
}

impl RpcError {
    /// An error with a code and message.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError { code, message: message.into(), data: None }
    }

    /// Attaches structured detail.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// `invalid params`, naming the offending field.
    pub fn invalid_params(field: &str, message: impl std::fmt::Display) -> Self {
        RpcError::new(code::INVALID_PARAMS, format!("invalid params: {field}: {message}"))
            .with_data(serde_json::json!({ "field": field }))
    }

    /// `shutting down`.
    pub fn shutting_down() -> Self {
        RpcError::new(code::SHUTTING_DOWN, "shutting down")
    }

    /// `shutting down`, for a request refused before it started (its data
    /// `{"started": false}`): a client may make it again of the next daemon.
    pub fn refused_shutting_down() -> Self {
        RpcError::shutting_down().with_data(serde_json::json!({ "started": false }))
    }

    /// Whether this is [`RpcError::refused_shutting_down`].
    pub fn is_refused_shutting_down(&self) -> bool {
        self.code == code::SHUTTING_DOWN && self.data.as_ref().is_some_and(|d| d["started"] == Value::Bool(false))
    }

    /// `cancelled`.
    pub fn cancelled() -> Self {
        RpcError::new(code::CANCELLED, "cancelled")
    }
}

/// A reply (`result` or `error`) or a notification (`method` + `params`) as
/// the daemon sends it. Notifications that belong to a request carry its id
/// in `params.request`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Message {
    /// Always `"2.0"`.
    pub jsonrpc: String,
    /// The id of the request answered; `null` when the request could not be
    /// read; absent on notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Value>,
    /// Success payload, as sent: a check's report is serialized once into
    /// it, and read from it into its own type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Box<RawValue>>,
    /// Failure payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RpcError>,
    /// Notification method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Notification params, as sent: a check's streamed outcomes are read
    /// from them into their own type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Box<RawValue>>,
}

impl Message {
    /// A success reply.
    pub fn result(id: Value, result: Value) -> Self {
        Message::raw_result(id, serde_json::value::to_raw_value(&result).expect("a Value always serializes"))
    }

    /// [`result`](Self::result) already serialized.
    pub fn raw_result(id: Value, result: Box<RawValue>) -> Self {
        Message { jsonrpc: "2.0".into(), id: Some(id), result: Some(result), error: None, method: None, params: None }
    }

    /// An error reply.
    pub fn error(id: Value, error: RpcError) -> Self {
        Message { jsonrpc: "2.0".into(), id: Some(id), result: None, error: Some(error), method: None, params: None }
    }

    /// A notification.
    pub fn notification(method: &str, params: Value) -> Self {
        Message {
            jsonrpc: "2.0".into(),
            id: None,
            result: None,
            error: None,
            method: Some(method.into()),
            params: Some(serde_json::value::to_raw_value(&params).expect("a Value always serializes")),
        }
    }

    /// The notification's params as a `Value` (`null` without any).
    pub fn params_value(&self) -> Value {
        self.params.as_deref().and_then(|p| serde_json::from_str(p.get()).ok()).unwrap_or(Value::Null)
    }

    /// Serializes to one line, `\n` included.
    pub fn to_line(&self) -> Vec<u8> {
        // Room for a check's report (tens of MB) from the start: grown by
        // doubling, it would be copied over and over.
        let mut v = Vec::with_capacity(self.result.as_ref().map_or(0, |r| r.get().len()) + 256);
        // Serializing a Message cannot fail: every field is a plain value.
        serde_json::to_writer(&mut v, self).expect("a Message always serializes");
        v.push(b'\n');
        v
    }
}

/// Parameters of `hello`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HelloParams {
    /// The client's protocol version (any unsigned 64-bit number: one this
    /// daemon does not speak is a version mismatch, not invalid params).
    pub protocol: u64,
    /// The client's package version.
    pub version: String,
    /// The client's build id (see [`crate::paths::build_id`]).
    #[serde(default)]
    pub build: String,
}

/// Result of `hello`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HelloResult {
    /// The daemon's protocol version.
    pub protocol: u32,
    /// The daemon's package version.
    pub version: String,
    /// The daemon's build id.
    pub build: String,
    /// The daemon's process id.
    pub pid: u32,
    /// Where the daemon keeps its result cache (absent from daemons older
    /// than this field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<std::path::PathBuf>,
    /// Its grace period on shutdown, in milliseconds: how long a client
    /// waits for it to exit, and more (absent from older daemons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_ms: Option<u64>,
}

impl HelloResult {
    /// [`HelloResult::grace_ms`] as a duration.
    pub fn grace(&self) -> Option<std::time::Duration> {
        self.grace_ms.map(std::time::Duration::from_millis)
    }
}

/// Method names.
pub mod method {
    /// Handshake; must be the first request on a connection.
    pub const HELLO: &str = "hello";
    /// Liveness.
    pub const PING: &str = "ping";
    /// Daemon state.
    pub const STATUS: &str = "status";
    /// Stop the daemon.
    pub const SHUTDOWN: &str = "shutdown";
    /// Cancel a request in flight.
    pub const CANCEL: &str = "cancel";
    /// Run a check (streams `check/progress` notifications).
    pub const CHECK: &str = "check";
    /// Re-read the configuration.
    pub const RELOAD: &str = "reload";
    /// Bring a quarantined or running validator back with a fresh child.
    pub const RESTART: &str = "restart";
    /// Validate a configuration file without applying it.
    pub const CONFIG_CHECK: &str = "config.check";
    /// Cache statistics.
    pub const CACHE_STATS: &str = "cache.stats";
    /// Delete cached results.
    pub const CACHE_CLEAR: &str = "cache.clear";
    /// Delete expired cached results now.
    pub const CACHE_PRUNE: &str = "cache.prune";
    /// Say what a check makes of named files, and why.
    pub const EXPLAIN: &str = "explain";
}

/// Notification names.
pub mod notification {
    /// Progress of a check: counts so far.
    pub const CHECK_PROGRESS: &str = "check/progress";
    /// Some of a check's outcomes, when the check asked for them to be
    /// streamed (`stream_outcomes`).
    pub const CHECK_OUTCOMES: &str = "check/outcomes";
}

// ---- check ----

/// Parameters of `check`.
#[derive(Debug, Deserialize)]
pub struct CheckParams {
    /// Files and directories to check, relative to `cwd` (default: `["."]`).
    #[serde(default)]
    pub paths: Vec<WirePath>,
    /// The client's working directory (default: the project root).
    #[serde(default)]
    pub cwd: Option<WirePath>,
    /// Only these validators (absent or null: all; empty: an error, as it
    /// would select none).
    #[serde(default)]
    pub validators: Option<Vec<String>>,
    /// Only validators of these dimensions (absent or null: all; empty: an
    /// error).
    #[serde(default)]
    pub dimensions: Option<Vec<String>>,
    /// Do not read the cache (results are still written to it).
    #[serde(default)]
    pub no_cache: bool,
    /// Include passed outcomes in the reply (default: only the others).
    #[serde(default)]
    pub all_outcomes: bool,
    /// Send the outcomes ahead of the reply, in `check/outcomes`
    /// notifications, instead of in it: a reply's length is limited, the
    /// stream's is not.
    #[serde(default)]
    pub stream_outcomes: bool,
}

/// Parameters of `explain`.
#[derive(Debug, Deserialize)]
pub struct ExplainParams {
    /// Files to explain, relative to `cwd` (at least one, at most
    /// [`ExplainParams::MAX_FILES`]; not directories).
    pub paths: Vec<WirePath>,
    /// The client's working directory (default: the project root).
    #[serde(default)]
    pub cwd: Option<WirePath>,
    /// Only these validators (absent or null: all).
    #[serde(default)]
    pub validators: Option<Vec<String>>,
}

impl ExplainParams {
    /// How many files one request may name: each is read whole and judged
    /// by every built-in, on the daemon's blocking pool.
    pub const MAX_FILES: usize = 100;
}

/// The params of a `check/outcomes` notification.
#[derive(Debug, Deserialize)]
pub struct StreamedOutcomes {
    /// The id of the `check` they belong to.
    pub request: Value,
    /// The next outcomes, in the report's order.
    pub outcomes: Vec<Record>,
}

/// One outcome of the run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    /// The file, relative to the project root. A name that is not UTF-8
    /// shows U+FFFD in place of each invalid sequence, and its exact bytes
    /// are in `file_bytes`.
    pub file: String,
    /// The file's name as bytes (standard base64), present only when it is
    /// not UTF-8: two names that differ in invalid bytes alone read the same
    /// in `file`.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "base64_bytes")]
    pub file_bytes: Option<Vec<u8>>,
    /// The validator.
    pub validator: String,
    /// The validator's dimension.
    pub dimension: String,
    /// What happened.
    pub outcome: Outcome,
}

impl Record {
    /// The file's name as bytes: exactly, even when it is not UTF-8.
    pub fn file_name_bytes(&self) -> &[u8] {
        self.file_bytes.as_deref().unwrap_or(self.file.as_bytes())
    }
}

/// Serde of an optional byte string as standard base64 (as ripgrep's JSON
/// output carries bytes that are not UTF-8).
pub mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `Some(bytes)` as base64 (fields skip `None`).
    pub fn serialize<S: Serializer, B: AsRef<[u8]>>(bytes: &Option<B>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => s.serialize_str(&STANDARD.encode(b.as_ref())),
            None => s.serialize_none(),
        }
    }

    /// Reads base64 (or `null`).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) => STANDARD.decode(text).map(Some).map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

/// A path on the wire: a string when it is UTF-8, else its bytes as
/// `{"bytes": BASE64}` (a JSON string cannot hold them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WirePath(pub std::path::PathBuf);

impl Serialize for WirePath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        use std::os::unix::ffi::OsStrExt;
        match self.0.to_str() {
            Some(text) => s.serialize_str(text),
            None => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("bytes", &Base64(self.0.as_os_str().as_bytes()))?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for WirePath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use std::os::unix::ffi::OsStringExt;
        #[derive(Deserialize)]
        #[serde(untagged, expecting = "a path: a string, or {\"bytes\": BASE64}")]
        enum Wire {
            Text(String),
            Bytes {
                #[serde(with = "base64_bytes")]
                bytes: Option<Vec<u8>>,
            },
        }
        Ok(WirePath(match Wire::deserialize(d)? {
            Wire::Text(text) => text.into(),
            Wire::Bytes { bytes } => std::ffi::OsString::from_vec(bytes.unwrap_or_default()).into(),
        }))
    }
}

impl std::ops::Deref for WirePath {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

/// Bytes serialized as base64.
struct Base64<'a>(&'a [u8]);

impl Serialize for Base64<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        base64_bytes::serialize(&Some(self.0), s)
    }
}

/// Totals of a run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Files found by the walk, less those `check.exclude` takes out.
    pub files: u64,
    /// Selected (file, validator) pairs; each has one outcome.
    pub pairs: u64,
    /// Outcomes by kind (`passed`, `findings`, `cached`, `error`, `timed_out`, `skipped`).
    pub outcomes: BTreeMap<String, u64>,
    /// Cached outcomes that carry findings.
    pub cached_with_findings: u64,
    /// Total findings, computed or cached.
    pub findings: u64,
    /// Pairs computed in this run.
    pub computed: u64,
    /// Pairs answered from the cache.
    pub from_cache: u64,
    /// Binary files left out of text-only validators.
    pub binary_files: u64,
    /// Files read (and hashed) in this run; the others' content was known
    /// from the stat index, or they were not read at all.
    #[serde(default)]
    pub files_read: u64,
    /// Wall time of the run in milliseconds.
    pub duration_ms: u64,
    /// Whether the cache was read.
    pub cache_used: bool,
    /// Why the cache could not be used, when it is enabled but could not be
    /// opened (or reopened): the run was computed and nothing it found was
    /// cached. Absent when the cache worked, was disabled, or `no_cache`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_error: Option<String>,
    /// Nothing changed since an identical earlier check (no file or
    /// directory it walked, no configuration, no cache clear): its answer
    /// was returned without walking the tree.
    #[serde(default)]
    pub unchanged: bool,
    /// Only files in some directories changed since an identical earlier
    /// check: those directories were looked at again, and the earlier
    /// answer kept for the rest of the tree, which was not walked.
    #[serde(default)]
    pub incremental: bool,
    /// What the walk could not look at: a directory it cannot list (its
    /// files are missing from the report), a path named on the command line
    /// that is neither a file nor a directory. A run with any is incomplete.
    #[serde(default)]
    pub walk_errors: Vec<String>,
    /// Paths named in `paths` that `check.exclude` takes out whole (a file,
    /// or a directory and all in it), so they were not checked. Absent when
    /// there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_named: Vec<String>,
    /// Sections of verdict.toml (`daemon`, `cache`) whose change this
    /// check's reload of the file found, which take effect only when the
    /// daemon restarts (as `reload` says). Absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restart_required: Vec<String>,
    /// What the check could not do that does not leave it incomplete: where
    /// git could not be run (or took too long), the files it tracks that an
    /// ignore rule matches were not asked for. Absent when there is none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The reply of `check`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckReport {
    /// Totals.
    pub summary: Summary,
    /// Outcomes (all of them with `all_outcomes`, else every one that is
    /// not a pass), sorted by file then validator.
    pub outcomes: Vec<Record>,
    /// The validators that took part: name and dimension.
    pub validators: Vec<(String, String)>,
    /// With `stream_outcomes`: how many outcomes were sent ahead in
    /// `check/outcomes` notifications (`outcomes` is then empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streamed_outcomes: Option<u64>,
}

/// The outcome of reading one frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete line (without its `\n`) is in the buffer.
    Line,
    /// The line exceeded the limit; its bytes were consumed up to the end of
    /// what had arrived.
    TooLong,
    /// The peer closed the connection.
    Eof,
}

/// Reads one `\n`-terminated line into `out`, never holding more than `max`
/// bytes of it. A final unterminated line before EOF counts as a line.
///
/// Cancel-safe: bytes consumed before a cancellation stay in `out`, and the
/// next call continues the same line. The caller clears `out` once it has
/// used a complete frame.
pub async fn read_frame<R: AsyncBufRead + Unpin>(r: &mut R, out: &mut Vec<u8>, max: usize) -> std::io::Result<Frame> {
    read_frame_within(r, out, max, None).await
}

/// Memory shared by the lines many connections are receiving: a line's
/// buffer may hold [`LineBudget::FREE`] bytes on its own; past that it takes
/// its growth from the budget, waiting (back-pressure) while the budget is
/// spent. So the unfinished lines of every client together stay within a
/// bound, whatever the per-line limit and the number of connections.
#[derive(Clone, Debug)]
pub struct LineBudget {
    units: std::sync::Arc<tokio::sync::Semaphore>,
}

/// The share of a [`LineBudget`] one connection's current line holds;
/// dropping it (or calling [`LineShare::release`]) gives it back.
#[derive(Debug, Default)]
pub struct LineShare(Option<tokio::sync::OwnedSemaphorePermit>);

impl LineShare {
    /// Gives the share back: call once the line is used.
    pub fn release(&mut self) {
        self.0 = None;
    }

    fn bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |p| p.num_permits() * LineBudget::UNIT)
    }
}

impl LineBudget {
    /// What a line holds without taking from the budget.
    pub const FREE: usize = 64 * 1024;
    /// The budget is counted in units of this many bytes.
    const UNIT: usize = 64 * 1024;

    /// A budget of `bytes` (rounded up to a unit; at least one).
    pub fn new(bytes: usize) -> Self {
        let units = bytes.div_ceil(Self::UNIT).max(1);
        LineBudget { units: std::sync::Arc::new(tokio::sync::Semaphore::new(units)) }
    }

    /// Bytes of the budget not held by any line.
    pub fn available(&self) -> usize {
        self.units.available_permits() * Self::UNIT
    }

    /// Makes `share` cover a line buffer of `len` bytes.
    async fn cover(&self, share: &mut LineShare, len: usize) {
        let needed = len.saturating_sub(Self::FREE);
        if needed <= share.bytes() {
            return;
        }
        let more = (needed - share.bytes()).div_ceil(Self::UNIT);
        let more = u32::try_from(more).unwrap_or(u32::MAX);
        // Never closed: acquiring only fails on a closed semaphore.
        if let Ok(p) = self.units.clone().acquire_many_owned(more).await {
            match &mut share.0 {
                Some(held) => held.merge(p),
                None => share.0 = Some(p),
            }
        }
    }
}

/// [`read_frame`], taking the line's growth past [`LineBudget::FREE`] from
/// `budget` into `share` (which the caller releases once it has used the
/// line). A `max` larger than the whole budget could wait forever: keep it
/// smaller.
pub async fn read_frame_within<R: AsyncBufRead + Unpin>(
    r: &mut R,
    out: &mut Vec<u8>,
    max: usize,
    mut budget: Option<(&LineBudget, &mut LineShare)>,
) -> std::io::Result<Frame> {
    loop {
        let avail = r.fill_buf().await?;
        if avail.is_empty() {
            return Ok(if out.is_empty() { Frame::Eof } else { Frame::Line });
        }
        let (take, done) = match memchr::memchr(b'\n', avail) {
            Some(i) => (i, true),
            None => (avail.len(), false),
        };
        if out.len() + take > max {
            let n = if done { take + 1 } else { take };
            r.consume(n);
            out.clear();
            return Ok(Frame::TooLong);
        }
        if let Some((budget, share)) = budget.as_mut() {
            let need = out.len() + take;
            if need > out.capacity() {
                // The budget covers the buffer's room, not only its bytes:
                // grown by doubling, as `Vec` would, but only once covered.
                // Waiting here consumes nothing: cancel-safe still.
                let room = need.max(out.capacity() * 2).min(max);
                budget.cover(share, room).await;
                out.reserve_exact(room - out.len());
            }
        }
        // `fill_buf` again: the buffer is unchanged while nothing is consumed.
        let avail = r.fill_buf().await?;
        out.extend_from_slice(&avail[..take]);
        r.consume(if done { take + 1 } else { take });
        if done {
            return Ok(Frame::Line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::BufReader;

    #[test]
    fn paths_go_on_the_wire_as_strings_or_as_bytes() {
        use std::os::unix::ffi::OsStrExt;
        let plain = WirePath("src/d\u{e9}j\u{e0}.rs".into());
        assert_eq!(serde_json::to_value(&plain).unwrap(), "src/d\u{e9}j\u{e0}.rs");
        let raw = WirePath(std::ffi::OsStr::from_bytes(b"a\xff.txt").into());
        let wire = serde_json::to_value(&raw).unwrap();
        assert_eq!(wire, serde_json::json!({ "bytes": "Yf8udHh0" }));
        assert_eq!(serde_json::from_value::<WirePath>(wire).unwrap(), raw);
        assert_eq!(serde_json::from_value::<WirePath>("x".into()).unwrap(), WirePath("x".into()));
        let e = serde_json::from_value::<WirePath>(serde_json::json!({ "bytes": "not base64!" })).unwrap_err();
        assert!(e.to_string().contains("a path"), "{e}");
        let e = serde_json::from_value::<WirePath>(serde_json::json!(3)).unwrap_err();
        assert!(e.to_string().contains("a path: a string, or {\"bytes\": BASE64}"), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn lines_past_the_free_share_wait_for_the_budget() {
        use tokio::io::AsyncWriteExt;
        let budget = LineBudget::new(256 * 1024);
        let (mut a_tx, a_rx) = tokio::io::duplex(1 << 20);
        let (mut b_tx, b_rx) = tokio::io::duplex(1 << 20);
        let mut a = BufReader::with_capacity(64 * 1024, a_rx);
        let mut b = BufReader::with_capacity(64 * 1024, b_rx);
        let (mut a_line, mut b_line) = (Vec::new(), Vec::new());
        let (mut a_share, mut b_share) = (LineShare::default(), LineShare::default());
        // A's unfinished 200 KiB line holds 192 KiB of the budget (its
        // buffer's room past the free 64 KiB).
        a_tx.write_all(&vec![b'a'; 200 * 1024]).await.unwrap();
        let pending = tokio::time::timeout(
            Duration::from_secs(1),
            read_frame_within(&mut a, &mut a_line, 1 << 20, Some((&budget, &mut a_share))),
        )
        .await;
        assert!(pending.is_err(), "the line is not finished");
        assert_eq!(a_line.len(), 200 * 1024);
        assert_eq!(budget.available(), 64 * 1024);
        // B's line needs more than is left: B takes what there is, then
        // waits, and loses nothing.
        b_tx.write_all(&vec![b'b'; 200 * 1024]).await.unwrap();
        b_tx.write_all(b"\n").await.unwrap();
        let waited = tokio::time::timeout(
            Duration::from_secs(60),
            read_frame_within(&mut b, &mut b_line, 1 << 20, Some((&budget, &mut b_share))),
        )
        .await;
        assert!(waited.is_err(), "B waits for the budget");
        assert_eq!(b_line.len(), 128 * 1024);
        assert_eq!(budget.available(), 0);
        // A's client gives up: its share comes back, and B's line completes.
        a_share.release();
        let frame = read_frame_within(&mut b, &mut b_line, 1 << 20, Some((&budget, &mut b_share))).await.unwrap();
        assert_eq!(frame, Frame::Line);
        assert_eq!(b_line, vec![b'b'; 200 * 1024]);
        b_share.release();
        assert_eq!(budget.available(), 256 * 1024);
    }

    #[tokio::test]
    async fn frames_are_split_on_newlines_and_bounded() {
        let data = b"{\"a\":1}\n\n{\"b\":2}".to_vec();
        let mut r = BufReader::new(&data[..]);
        let mut out = Vec::new();
        assert_eq!(read_frame(&mut r, &mut out, 100).await.unwrap(), Frame::Line);
        assert_eq!(out, b"{\"a\":1}");
        out.clear();
        assert_eq!(read_frame(&mut r, &mut out, 100).await.unwrap(), Frame::Line);
        assert!(out.is_empty());
        assert_eq!(read_frame(&mut r, &mut out, 100).await.unwrap(), Frame::Line);
        assert_eq!(out, b"{\"b\":2}");
        out.clear();
        assert_eq!(read_frame(&mut r, &mut out, 100).await.unwrap(), Frame::Eof);

        let long = vec![b'x'; 1000];
        let mut r = BufReader::with_capacity(16, &long[..]);
        assert_eq!(read_frame(&mut r, &mut out, 100).await.unwrap(), Frame::TooLong);
        assert!(out.len() <= 100);
    }

    #[test]
    fn a_result_sent_as_serialized_reads_back_as_sent() {
        let value = serde_json::json!({ "files": 2, "outcomes": [{ "file": "a \"quoted\" name", "n": [1, 2.5] }] });
        let raw = serde_json::value::to_raw_value(&value).unwrap();
        let line = Message::raw_result(serde_json::json!(7), raw).to_line();
        assert_eq!(line, Message::result(serde_json::json!(7), value.clone()).to_line());
        assert_eq!(line.last(), Some(&b'\n'));
        let back: Message = serde_json::from_slice(&line).unwrap();
        assert_eq!(back.id, Some(serde_json::json!(7)));
        let result: Value = serde_json::from_str(back.result.expect("a result").get()).unwrap();
        assert_eq!(result, value);
    }
}
