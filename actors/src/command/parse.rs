//! Turning a tool's exit status and output into one [`Outcome`] per file.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

use regex::Regex;
use serde::Deserialize;

use super::exec::{Captured, Execution};
use crate::outcome::{Finding, Outcome, Severity, Verdict};

/// Longest excerpt of tool output quoted in a message, in characters.
const EXCERPT_CHARS: usize = 200;

/// At most this many findings of one tool are kept for one file; past it, a
/// last finding says how many more there were. A tool that prints a finding
/// per line of a big file would otherwise put millions in the daemon's
/// memory and in the report.
pub const MAX_TOOL_FINDINGS: usize = 1000;

/// The findings of each file of a batch, each list capped at
/// [`MAX_TOOL_FINDINGS`], with the count and the most severe level of those
/// left out.
struct PerFile {
    findings: Vec<Vec<Finding>>,
    more: Vec<(usize, Severity)>,
}

impl PerFile {
    fn new(n: usize) -> Self {
        PerFile { findings: vec![Vec::new(); n], more: vec![(0, Severity::Note); n] }
    }

    fn push(&mut self, i: usize, finding: &Finding) {
        if self.findings[i].len() < MAX_TOOL_FINDINGS {
            self.findings[i].push(finding.clone());
        } else {
            let (count, severity) = &mut self.more[i];
            *count += 1;
            *severity = (*severity).min(finding.severity);
        }
    }

    fn any(&self) -> bool {
        self.findings.iter().any(|f| !f.is_empty())
    }
}

/// The `ExitCode` parser: exit 0 passes every file; anything else is one
/// finding, the same for every file of the batch.
pub(crate) fn exit_code(exec: &Execution, code: i32, n_files: usize) -> Vec<Outcome> {
    if code == 0 {
        return vec![Outcome::Passed; n_files];
    }
    let mut message = format!("exited with status {code}");
    if let Some(line) = first_line(exec) {
        message.push_str(": ");
        message.push_str(&line);
    }
    let finding = Finding { line: None, column: None, severity: Severity::Error, rule: None, message };
    vec![Outcome::Findings { findings: vec![finding] }; n_files]
}

/// The `Regex` parser: every line of stdout, then of stderr, that matches
/// becomes a finding of the batch file its `file` group names (or of the only
/// file, when the regex has no `file` group).
pub(crate) fn regex(re: &Regex, exec: &Execution, code: i32, files: &[OsString], cwd: &Path) -> Vec<Outcome> {
    let batch = Batch::new(files, cwd);
    let has_file = re.capture_names().any(|n| n == Some("file"));
    let mut per_file = PerFile::new(files.len());
    let mut parsed = 0usize;
    for captured in [&exec.stdout, &exec.stderr] {
        // Lines as `str::lines` makes them: none for empty output, and none
        // after the last line feed.
        let text = complete_lines(captured);
        let text = text.strip_suffix(b"\n").unwrap_or(text);
        if text.is_empty() {
            continue;
        }
        // A carriage return alone ends a line too: a progress line a tool
        // redraws (`3/10\r4/10\r…`) would otherwise hide the finding
        // printed after it on the same line.
        let lines = text.split(|&b| b == b'\n').flat_map(|l| l.strip_suffix(b"\r").unwrap_or(l).split(|&b| b == b'\r'));
        for raw in lines {
            let line = String::from_utf8_lossy(raw);
            let Some(caps) = re.captures(&line) else {
                continue;
            };
            parsed += 1;
            let targets: &[usize] = if has_file {
                let Some(span) = caps.name("file").map(|m| m.range()).filter(|r| !r.is_empty()) else {
                    // No file to give it to: ignored, as one outside the
                    // batch is (and said so in the log alike).
                    tracing::debug!(line = %line, "tool reported a finding that names no file; ignored");
                    continue;
                };
                // The name's own bytes: two names that are not UTF-8 can
                // read the same once decoded.
                let path = match &line {
                    Cow::Borrowed(_) => &raw[span],
                    Cow::Owned(_) => &raw[raw_range(raw, span)],
                };
                // As printed, then without blanks around it: a name may
                // start or end with a space.
                match batch.lookup(path).or_else(|| batch.lookup(path.trim_ascii())) {
                    Some(targets) => targets,
                    None => {
                        tracing::debug!(path = %String::from_utf8_lossy(path), "tool reported a finding for a file outside the batch; ignored");
                        continue;
                    }
                }
            } else {
                &[0]
            };
            let group = |name: &str| caps.name(name).map(|m| m.as_str().trim()).filter(|s| !s.is_empty());
            let finding = Finding {
                line: group("line").and_then(position),
                column: group("column").and_then(position),
                severity: group("severity").map(severity).unwrap_or(Severity::Error),
                rule: group("code").or_else(|| group("rule")).map(str::to_owned),
                message: one_line(group("message").unwrap_or_else(|| line.trim())),
            };
            for &i in targets {
                per_file.push(i, &finding);
            }
        }
    }
    let attributed = per_file.any();
    if code != 0 && !attributed {
        let mut reason = format!("exited with status {code} and reported no parsable findings");
        if parsed > 0 {
            reason.push_str(" for the checked files");
        }
        if let Some(line) = first_line(exec) {
            reason.push_str(": ");
            reason.push_str(&line);
        }
        reason.push_str(&exec.truncation_note());
        return vec![Outcome::error(reason); files.len()];
    }
    finish(per_file, exec.truncated().then(|| exec.truncation_note()))
}

/// The `Sarif` parser: stdout is a SARIF 2.1.0 log. The exit status only
/// matters when stdout is not one.
pub(crate) fn sarif(exec: &Execution, code: i32, files: &[OsString], cwd: &Path) -> Vec<Outcome> {
    let log = match parse_sarif(&exec.stdout.bytes) {
        Ok(log) => log,
        Err(e) => {
            let mut reason = format!("invalid SARIF output: {e}");
            if code != 0 {
                reason.push_str(&format!("; exited with status {code}"));
                if let Some(line) = first_line_of(&exec.stderr) {
                    reason.push_str(": ");
                    reason.push_str(&line);
                }
            }
            if exec.stdout.truncated || exec.stdout.incomplete {
                reason.push_str(&exec.truncation_note());
            }
            return vec![Outcome::error(reason); files.len()];
        }
    };
    // The tool says its run failed (its findings, if any, are not the
    // whole story): an error, as a crash would be, never a pass.
    let invocations = log.runs.iter().flat_map(|r| &r.invocations);
    if let Some(failed) = invocations.clone().find(|i| i.execution_successful == Some(false)) {
        let mut reason = "the tool reported that its run failed (SARIF executionSuccessful: false)".to_owned();
        let notifications = failed.tool_execution_notifications.iter();
        let said = (notifications.clone().find(|n| n.level.as_deref().unwrap_or("warning") == "error"))
            .or_else(|| notifications.clone().next())
            .and_then(|n| n.message.one_line())
            .or_else(|| first_line_of(&exec.stderr));
        if let Some(said) = said {
            reason.push_str(": ");
            reason.push_str(&shorten(&said));
        }
        return vec![Outcome::error(reason); files.len()];
    }
    // A run without `results` (or `null`) could not determine them; only an
    // empty list says that nothing was found (SARIF 2.1.0, 3.14.23).
    if log.runs.iter().any(|r| r.results.is_none()) {
        return vec![
            Outcome::error(
                "the SARIF log has a run without `results`: the tool could not determine them (an empty list would say nothing was found)"
            );
            files.len()
        ];
    }
    let batch = Batch::new(files, cwd);
    let mut per_file = PerFile::new(files.len());
    let mut unattributed = 0usize;
    for run in &log.runs {
        for result in run.results.iter().flatten() {
            if matches!(result.kind.as_deref(), Some("pass" | "notApplicable")) || result.dismissed() {
                continue;
            }
            let physical = result.locations.first().and_then(|l| l.physical_location.as_ref());
            let targets: Cow<'_, [usize]> = match physical.and_then(|p| p.artifact_location.as_ref()) {
                Some(artifact) => {
                    match run
                        .resolve(artifact, 0)
                        .and_then(|path| batch.lookup(path.as_os_str().as_bytes()).map(|t| t.to_vec()))
                    {
                        Some(targets) => Cow::Owned(targets),
                        None => {
                            tracing::debug!(uri = ?artifact.uri, "SARIF result for a file outside the batch; ignored");
                            continue;
                        }
                    }
                }
                None if files.len() == 1 => Cow::Borrowed(&[0]),
                None => {
                    tracing::debug!("SARIF result without a location in a batch of several files; ignored");
                    unattributed += 1;
                    continue;
                }
            };
            let region = physical.and_then(|p| p.region.as_ref());
            let rule_id = result.rule_id.clone().or_else(|| result.rule.as_ref().and_then(|r| r.id.clone()));
            let level = result.level.clone().or_else(|| run.default_level(result, rule_id.as_deref()));
            let finding = Finding {
                line: region.and_then(|r| r.start_line.0).and_then(sarif_position),
                column: region.and_then(|r| r.start_column.0).and_then(sarif_position),
                severity: match level.as_deref() {
                    Some("error") => Severity::Error,
                    Some("note" | "none") => Severity::Note,
                    _ => Severity::Warning,
                },
                message: run
                    .message_text(result, rule_id.as_deref())
                    .or_else(|| rule_id.clone())
                    .unwrap_or_else(|| "(no message)".into()),
                rule: rule_id,
            };
            for &i in targets.iter() {
                per_file.push(i, &finding);
            }
        }
    }
    // As with `regex`: a failing exit with nothing to show for the checked
    // files is the tool failing, not a pass.
    if code != 0 && !per_file.any() {
        let mut reason = format!("exited with status {code} and reported no findings for the checked files");
        if unattributed > 0 {
            reason.push_str(&format!(
                " ({unattributed} without a location, which a batch of several files cannot be given)"
            ));
        }
        if let Some(line) = first_line_of(&exec.stderr) {
            reason.push_str(": ");
            reason.push_str(&line);
        }
        return vec![Outcome::error(reason); files.len()];
    }
    let stdout_lost = exec.stdout.truncated || exec.stdout.incomplete;
    finish(per_file, stdout_lost.then(|| exec.truncation_note()))
}

/// One outcome per file: its findings (in line order), `Passed` — or, when
/// output was lost (`lost` is the note), an error for files without findings,
/// since their findings may have been among the discarded bytes, and a last
/// finding saying so for the others. That finding is an error: what was lost
/// may have been errors, which `--fail-on error` must not miss.
fn finish(per_file: PerFile, lost: Option<String>) -> Vec<Outcome> {
    per_file
        .findings
        .into_iter()
        .zip(per_file.more)
        .map(|(mut findings, (more, more_severity))| {
            if findings.is_empty() {
                return match &lost {
                    Some(note) => Outcome::error(format!(
                        "tool output was cut before any finding for this file{note}; raise max_output"
                    )),
                    None => Outcome::Passed,
                };
            }
            findings.sort_by_key(|f| (f.line, f.column));
            if more > 0 {
                findings.push(Finding {
                    line: None,
                    column: None,
                    severity: more_severity,
                    rule: None,
                    message: format!("… and {more} more findings not listed (at most {MAX_TOOL_FINDINGS} are kept)"),
                });
            }
            if let Some(note) = &lost {
                findings.push(Finding::error(
                    None,
                    None,
                    format!("tool output was cut{note}: more findings may be missing; raise max_output"),
                ));
            }
            Verdict::from_findings(findings).into()
        })
        .collect()
}

/// The captured bytes without a partial last line when the stream was cut
/// (the last complete line keeps its line feed).
fn complete_lines(c: &Captured) -> &[u8] {
    if c.truncated || c.incomplete {
        match memchr::memrchr(b'\n', &c.bytes) {
            Some(end) => &c.bytes[..=end],
            None => &[],
        }
    } else {
        &c.bytes
    }
}

/// The bytes of `raw` that `range` of its lossy decoding stands for (each
/// U+FFFD there stands for one invalid sequence of `raw`).
fn raw_range(raw: &[u8], range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    // Positions in the decoding and in `raw`.
    let (mut decoded, mut at) = (0, 0);
    let mut start = None;
    for chunk in raw.utf8_chunks() {
        let valid = chunk.valid().len();
        if start.is_none() && range.start <= decoded + valid {
            start = Some(at + range.start - decoded);
        }
        if range.end <= decoded + valid {
            return start.unwrap_or(at)..at + range.end - decoded;
        }
        decoded += valid;
        at += valid;
        let invalid = chunk.invalid().len();
        if invalid > 0 {
            if start.is_none() && range.start <= decoded {
                start = Some(at);
            }
            decoded += char::REPLACEMENT_CHARACTER.len_utf8();
            at += invalid;
            if range.end <= decoded {
                return start.unwrap_or(at)..at;
            }
        }
    }
    start.unwrap_or(at)..at
}

/// The first non-empty line of stdout, else of stderr, shortened.
pub(crate) fn first_line(exec: &Execution) -> Option<String> {
    first_line_of(&exec.stdout).or_else(|| first_line_of(&exec.stderr))
}

fn first_line_of(c: &Captured) -> Option<String> {
    String::from_utf8_lossy(&c.bytes).lines().map(str::trim).find(|l| !l.is_empty()).map(shorten)
}

/// `s` cut to [`EXCERPT_CHARS`] characters.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A 1-based position; 0 and garbage mean "unknown".
fn position(s: &str) -> Option<u32> {
    s.parse::<u32>().ok().filter(|&n| n > 0)
}

fn sarif_position(n: i64) -> Option<u32> {
    u32::try_from(n).ok().filter(|&n| n > 0)
}

/// Maps a severity word as tools print it.
fn severity(word: &str) -> Severity {
    match word.to_ascii_lowercase().as_str() {
        "warning" | "warn" | "w" => Severity::Warning,
        "note" | "info" | "information" | "informational" | "hint" | "style" | "i" | "n" | "h" => Severity::Note,
        _ => Severity::Error,
    }
}

/// The files of a batch, by normalized path (its bytes: a name need not be
/// UTF-8).
struct Batch {
    index: HashMap<Vec<u8>, Vec<usize>>,
    /// The names that are not UTF-8, lossily, for tools that print them so
    /// (`Path::display`): used when it names one file only.
    lossy: HashMap<String, Vec<usize>>,
    cwd: PathBuf,
    canonical_cwd: Option<PathBuf>,
}

impl Batch {
    fn new(files: &[OsString], cwd: &Path) -> Self {
        let cwd = clean(cwd);
        let canonical_cwd = std::fs::canonicalize(&cwd).ok().filter(|c| *c != cwd);
        let mut batch = Batch { index: HashMap::new(), lossy: HashMap::new(), cwd, canonical_cwd };
        for (i, file) in files.iter().enumerate() {
            if let Some(key) = batch.normalize(file.as_bytes()) {
                if std::str::from_utf8(&key).is_err() {
                    batch.lossy.entry(String::from_utf8_lossy(&key).into_owned()).or_default().push(i);
                }
                batch.index.entry(key).or_default().push(i);
            }
        }
        batch
    }

    /// The files `path` names: by its bytes, else (a name the tool printed
    /// with U+FFFD for bytes that are not UTF-8) by the lossy form, if only
    /// one file of the batch reads so.
    fn lookup(&self, path: &[u8]) -> Option<&[usize]> {
        let key = self.normalize(path)?;
        if let Some(found) = self.index.get(&key) {
            return Some(found);
        }
        let lossy = std::str::from_utf8(&key).ok().filter(|k| k.contains(char::REPLACEMENT_CHARACTER))?;
        self.lossy.get(lossy).filter(|found| found.len() == 1).map(Vec::as_slice)
    }

    /// `path` relative to the project root, lexically cleaned (`./`, `..`);
    /// `None` for an absolute path outside the root.
    fn normalize(&self, path: &[u8]) -> Option<Vec<u8>> {
        let p = clean(Path::new(OsStr::from_bytes(path)));
        let rel = if p.is_absolute() {
            p.strip_prefix(&self.cwd)
                .ok()
                .or_else(|| self.canonical_cwd.as_ref().and_then(|c| p.strip_prefix(c).ok()))?
        } else {
            &p
        };
        Some(rel.as_os_str().as_bytes().to_vec())
    }
}

/// Lexical cleanup: drops `.` components and resolves `..` where possible.
fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else if !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

// ---- SARIF 2.1.0, only what verdict reads ----

fn parse_sarif(bytes: &[u8]) -> Result<SarifLog, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 ({e})"))?;
    // Some tools (.NET's) open their output with a byte order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err("no output".to_owned());
    }
    serde_json::from_str(text).map_err(|e| e.to_string())
}

#[derive(Deserialize)]
struct SarifLog {
    runs: Vec<Run>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    #[serde(default)]
    tool: Option<Tool>,
    #[serde(default)]
    results: Option<Vec<SarifResult>>,
    #[serde(default)]
    original_uri_base_ids: HashMap<String, ArtifactLocation>,
    #[serde(default)]
    artifacts: Vec<Artifact>,
    #[serde(default)]
    invocations: Vec<Invocation>,
}

/// A run of the tool, as it reports it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    #[serde(default)]
    execution_successful: Option<bool>,
    #[serde(default)]
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Deserialize)]
struct Notification {
    #[serde(default)]
    level: Option<String>,
    #[serde(default)]
    message: Message,
}

#[derive(Deserialize)]
struct Tool {
    #[serde(default)]
    driver: Option<ToolComponent>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolComponent {
    #[serde(default)]
    rules: Vec<Rule>,
    /// Message texts by id, for the results of any rule.
    #[serde(default)]
    global_message_strings: Loose<HashMap<String, Message>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    default_configuration: Option<RuleConfiguration>,
    /// Message texts by id, for this rule's results.
    #[serde(default)]
    message_strings: Loose<HashMap<String, Message>>,
}

#[derive(Deserialize)]
struct RuleConfiguration {
    #[serde(default)]
    level: Option<String>,
}

#[derive(Deserialize)]
struct Artifact {
    #[serde(default)]
    location: Option<ArtifactLocation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    #[serde(default)]
    rule_id: Option<String>,
    #[serde(default)]
    rule_index: Option<i64>,
    #[serde(default)]
    rule: Option<RuleReference>,
    #[serde(default)]
    level: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    message: Message,
    #[serde(default)]
    locations: Vec<Location>,
    #[serde(default)]
    suppressions: Loose<Vec<Loose<Suppression>>>,
    #[serde(default)]
    baseline_state: Loose<String>,
}

impl SarifResult {
    /// Not a finding of this run: suppressed (it has suppressions and none
    /// was rejected or is under review, SARIF 2.1.0, 3.27.23), or found in
    /// the baseline and absent now. Code scanning counts neither.
    fn dismissed(&self) -> bool {
        let suppressions = self.suppressions.0.as_deref().unwrap_or_default();
        // One the log does not say clearly is in force counts against it.
        let in_force = |s: &Loose<Suppression>| {
            s.0.as_ref().is_some_and(|s| match &s.status {
                None => true,
                Some(serde_json::Value::String(status)) => !matches!(status.as_str(), "rejected" | "underReview"),
                Some(_) => false,
            })
        };
        (!suppressions.is_empty() && suppressions.iter().all(in_force))
            || self.baseline_state.0.as_deref() == Some("absent")
    }
}

#[derive(Deserialize)]
struct Suppression {
    #[serde(default)]
    status: Option<serde_json::Value>,
}

/// A field that one result may get wrong (`null`, a number where a string
/// belongs, `1e20` for a line) without costing the whole log: read as any
/// JSON value, kept only if it is a `T`.
struct Loose<T>(Option<T>);

impl<T> Default for Loose<T> {
    fn default() -> Self {
        Loose(None)
    }
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Loose<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        Ok(Loose(serde_json::from_value(value).ok()))
    }
}

#[derive(Deserialize)]
struct RuleReference {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    index: Option<i64>,
}

#[derive(Deserialize, Default)]
struct Message {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    markdown: Option<String>,
    /// A message kept in the rule's (or the tool's) `messageStrings`.
    #[serde(default)]
    id: Option<String>,
    /// What fills its `{0}`, `{1}`, … placeholders.
    #[serde(default)]
    arguments: Loose<Vec<serde_json::Value>>,
}

impl Message {
    fn one_line(&self) -> Option<String> {
        self.text.as_deref().or(self.markdown.as_deref()).map(one_line).filter(|s| !s.is_empty())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    #[serde(default)]
    physical_location: Option<PhysicalLocation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    #[serde(default)]
    artifact_location: Option<ArtifactLocation>,
    #[serde(default)]
    region: Option<Region>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    uri_base_id: Option<String>,
    #[serde(default)]
    index: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    #[serde(default)]
    start_line: Loose<i64>,
    #[serde(default)]
    start_column: Loose<i64>,
}

impl Run {
    /// A result's message on one line: its text, or the text its id names
    /// in its rule's `messageStrings` (then the tool's
    /// `globalMessageStrings`), with the arguments put in.
    fn message_text(&self, result: &SarifResult, rule_id: Option<&str>) -> Option<String> {
        if let Some(text) = result.message.one_line() {
            return Some(text);
        }
        let id = result.message.id.as_deref()?;
        let driver = self.tool.as_ref()?.driver.as_ref()?;
        let template = self
            .rule_of(result, rule_id)
            .and_then(|r| r.message_strings.0.as_ref()?.get(id))
            .or_else(|| driver.global_message_strings.0.as_ref()?.get(id))?
            .one_line()?;
        // `{n}` is argument n; `{{` and `}}` are braces (SARIF 3.11.5).
        let mut out = String::with_capacity(template.len());
        let mut rest = template.as_str();
        while let Some(open) = rest.find(['{', '}']) {
            out.push_str(&rest[..open]);
            let after = &rest[open..];
            if after.starts_with("{{") || after.starts_with("}}") {
                out.push_str(&after[..1]);
                rest = &after[2..];
            } else if let Some((n, tail)) = after[1..].split_once('}')
                && let Ok(n) = n.parse::<usize>()
            {
                match result.message.arguments.0.as_ref().and_then(|a| a.get(n)) {
                    Some(serde_json::Value::String(a)) => out.push_str(a),
                    Some(other) => out.push_str(&other.to_string()),
                    None => {}
                }
                rest = tail;
            } else {
                out.push_str(&after[..1]);
                rest = &after[1..];
            }
        }
        out.push_str(rest);
        Some(one_line(&out))
    }

    /// The level a result gets from its rule's default configuration.
    fn default_level(&self, result: &SarifResult, rule_id: Option<&str>) -> Option<String> {
        self.rule_of(result, rule_id)?.default_configuration.as_ref()?.level.clone()
    }

    /// A result's rule: by its index, else (none, or out of range) by its id.
    fn rule_of(&self, result: &SarifResult, rule_id: Option<&str>) -> Option<&Rule> {
        let rules = &self.tool.as_ref()?.driver.as_ref()?.rules;
        let index = result.rule_index.or_else(|| result.rule.as_ref().and_then(|r| r.index));
        index
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| rules.get(i))
            .or_else(|| rules.iter().find(|r| r.id.is_some() && r.id.as_deref() == rule_id))
    }

    /// The path (absolute, or relative to the project root) an artifact
    /// location points at, with the bytes its URI escapes (a name need not
    /// be UTF-8); `None` for non-file URIs.
    fn resolve(&self, loc: &ArtifactLocation, depth: usize) -> Option<PathBuf> {
        if depth > 8 {
            return None;
        }
        let uri = match &loc.uri {
            Some(uri) => uri,
            None => {
                let artifact = self.artifacts.get(usize::try_from(loc.index?).ok()?)?;
                return self.resolve(artifact.location.as_ref()?, depth + 1);
            }
        };
        if let Some(rest) = strip_scheme(uri, "file") {
            return file_uri_path(rest);
        }
        if has_scheme(uri) {
            return None;
        }
        let relative = percent_decode(uri);
        if relative.starts_with(b"/") {
            return Some(PathBuf::from(OsString::from_vec(relative)));
        }
        let base = loc
            .uri_base_id
            .as_ref()
            .and_then(|id| self.original_uri_base_ids.get(id))
            .and_then(|base| self.resolve(base, depth + 1));
        let relative = Path::new(OsStr::from_bytes(&relative));
        Some(match base {
            Some(base) => base.join(relative),
            // An undeclared base (`%SRCROOT%`, …) is taken to be the project root.
            None => relative.to_path_buf(),
        })
    }
}

fn strip_scheme<'a>(uri: &'a str, scheme: &str) -> Option<&'a str> {
    let (s, rest) = uri.split_once(':')?;
    s.eq_ignore_ascii_case(scheme).then_some(rest)
}

/// Whether `uri` starts with `scheme:` (RFC 3986), as opposed to a relative reference.
fn has_scheme(uri: &str) -> bool {
    match uri.split_once(':') {
        Some((scheme, _)) => {
            let mut chars = scheme.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// The path of a `file:` URI (what follows `file:`): `///abs`, `//localhost/abs`, `/abs`.
fn file_uri_path(rest: &str) -> Option<PathBuf> {
    let path = match rest.strip_prefix("//") {
        Some(authority_and_path) => {
            let slash = authority_and_path.find('/')?;
            let (host, path) = authority_and_path.split_at(slash);
            if !(host.is_empty() || host.eq_ignore_ascii_case("localhost")) {
                return None;
            }
            path
        }
        None => rest,
    };
    let path = path.split(['?', '#']).next().unwrap_or(path);
    Some(PathBuf::from(OsString::from_vec(percent_decode(path))))
}

/// The bytes `s` stands for, its `%XX` escapes decoded.
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    if !s.contains('%') {
        return bytes.to_vec();
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn normalizes_paths_against_the_root() {
        let files: Vec<OsString> =
            [&b"src/a.rs"[..], b"b.txt", b"c\xff.txt", b"c\xfe.txt"].map(|n| OsStr::from_bytes(n).to_owned()).into();
        let batch = Batch::new(&files, Path::new("/proj/root"));
        assert_eq!(batch.lookup(b"./src/a.rs"), Some(&[0][..]));
        assert_eq!(batch.lookup(b"/proj/root/src/a.rs"), Some(&[0][..]));
        assert_eq!(batch.lookup(b"/proj/root/./x/../b.txt"), Some(&[1][..]));
        assert_eq!(batch.lookup(b"src/./a.rs"), Some(&[0][..]));
        assert_eq!(batch.lookup(b"/elsewhere/src/a.rs"), None);
        assert_eq!(batch.lookup(b"a.rs"), None);
        // Names that are not UTF-8 are told apart by their bytes; printed
        // lossily, a name is matched only if it names one file.
        assert_eq!(batch.lookup(b"./c\xfe.txt"), Some(&[3][..]));
        assert_eq!(batch.lookup("c\u{fffd}.txt".as_bytes()), None);
        let files: Vec<OsString> = [&b"d\xff.txt"[..], b"e.txt"].map(|n| OsStr::from_bytes(n).to_owned()).into();
        let batch = Batch::new(&files, Path::new("/proj/root"));
        assert_eq!(batch.lookup("d\u{fffd}.txt".as_bytes()), Some(&[0][..]));
    }

    #[test]
    fn maps_severity_words() {
        assert_eq!(severity("ERROR"), Severity::Error);
        assert_eq!(severity("warning"), Severity::Warning);
        assert_eq!(severity("note"), Severity::Note);
        assert_eq!(severity("info"), Severity::Note);
        assert_eq!(severity("hint"), Severity::Note);
        assert_eq!(severity("fatal"), Severity::Error);
    }

    #[test]
    fn file_uris_and_percent_encoding() {
        assert_eq!(file_uri_path("///a/b%20c.rs").as_deref(), Some(Path::new("/a/b c.rs")));
        assert_eq!(file_uri_path("//localhost/a").as_deref(), Some(Path::new("/a")));
        assert_eq!(file_uri_path("/a").as_deref(), Some(Path::new("/a")));
        assert_eq!(file_uri_path("/a%FF").as_deref(), Some(Path::new(OsStr::from_bytes(b"/a\xff"))));
        assert_eq!(file_uri_path("//server/share/a"), None);
        assert!(has_scheme("https://x/y"));
        assert!(!has_scheme("src/a.rs"));
        assert!(!has_scheme("/abs/a.rs"));
    }

    #[test]
    fn maps_a_span_of_the_lossy_decoding_back_to_the_bytes() {
        let raw = b"a\xffb\xfe\xfdc: x";
        let line = String::from_utf8_lossy(raw);
        for (text, bytes) in [("a\u{fffd}b", &b"a\xffb"[..]), ("\u{fffd}\u{fffd}c", b"\xfe\xfdc"), ("c: x", b"c: x")] {
            let start = line.find(text).unwrap();
            assert_eq!(&raw[raw_range(raw, start..start + text.len())], bytes, "{text}");
        }
    }

    #[test]
    fn shortens_long_lines_on_char_boundaries() {
        let long = "é".repeat(500);
        let s = shorten(&long);
        assert_eq!(s.chars().count(), EXCERPT_CHARS + 1);
        assert!(s.ends_with('…'));
    }
}
