//! Turning a tool's exit status and output into one [`Outcome`] per file.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

use regex::Regex;
use serde::Deserialize;

use super::Selects;
use super::exec::{Captured, Execution};
use crate::outcome::{Finding, Outcome, Severity, Verdict};

/// Longest excerpt of tool output quoted in a message, in characters.
const EXCERPT_CHARS: usize = 200;

/// At most this many findings of one tool are kept for one file; past it, a
/// last finding says how many more there were. A tool that prints a finding
/// per line of a big file would otherwise put millions in the daemon's
/// memory and in the report.
pub const MAX_TOOL_FINDINGS: usize = 1000;

/// What a tool's rule that starts as verdict's own notes' do is given in
/// front (`verdict:x` is reported as `tool:verdict:x`).
pub const TOOL_RULE_PREFIX: &str = "tool:";

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
            let mut finding = finding.clone();
            // `verdict:` rules are verdict's own notes on the list (a tool
            // that failed, output cut): a tool's finding under one would be
            // taken for such a note, left out of SARIF's results and of the
            // exit status. Said as the tool's.
            if let Some(rule) = finding.rule.as_deref().filter(|r| r.starts_with(crate::outcome::NOTICE_PREFIX)) {
                finding.rule = Some(format!("{TOOL_RULE_PREFIX}{rule}"));
            }
            self.findings[i].push(finding);
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

/// How a tool's run ended.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Status<'a> {
    /// The exit status; -1 (never a findings status) for a tool killed by
    /// a signal.
    pub code: i32,
    /// The non-zero statuses that mean findings (`None`: every one).
    pub findings_codes: Option<&'a [i32]>,
    /// How the tool died, if a signal killed it ("killed by signal
    /// SIGSEGV"): always a failure, whatever it printed before.
    pub killed: Option<&'a str>,
}

impl Status<'_> {
    /// An end that says the tool failed, rather than that it found
    /// problems (a non-findings status, or a signal): the reason, for every
    /// file it reported nothing for; the files it did report on keep their
    /// findings, and get an error finding saying so.
    fn failure(&self, exec: &Execution, files: &[OsString]) -> Option<String> {
        if let Some(killed) = self.killed {
            return Some(killed.to_owned());
        }
        let codes = self.findings_codes?;
        if self.code == 0 || codes.contains(&self.code) {
            return None;
        }
        let listed: Vec<String> = codes.iter().map(i32::to_string).collect();
        let mut reason = format!(
            "the tool failed: exited with status {}, which findings_exit_codes ([{}]) does not list as findings",
            self.code,
            listed.join(", ")
        );
        if let Some(line) = telling_line(exec, files) {
            reason.push_str(": ");
            reason.push_str(&line);
        }
        Some(reason)
    }
}

/// The `ExitCode` parser: exit 0 passes every file; a findings status is
/// one finding, the same for every file of the batch; any other status is
/// an error.
pub(crate) fn exit_code(exec: &Execution, status: Status<'_>, files: &[OsString]) -> Vec<Outcome> {
    let code = status.code;
    if code == 0 {
        return vec![Outcome::Passed; files.len()];
    }
    if let Some(reason) = status.failure(exec, files) {
        return vec![Outcome::error(reason); files.len()];
    }
    let mut message = format!("exited with status {code}");
    // One line, its blanks joined, as every finding's message.
    if let Some(line) = telling_line(exec, files).map(|l| one_line(&l)).filter(|l| !l.is_empty()) {
        message.push_str(": ");
        message.push_str(&line);
    }
    let finding = Finding { line: None, column: None, severity: Severity::Error, rule: None, message };
    vec![Outcome::Findings { findings: vec![finding] }; files.len()]
}

/// The `Regex` parser: every line of stdout, then of stderr, that matches
/// becomes a finding of the batch file its `file` group names (or of the only
/// file, when the regex has no `file` group).
pub(crate) fn regex(
    re: &Regex,
    exec: &Execution,
    status: Status<'_>,
    files: &[OsString],
    cwd: &Path,
    selects: &Selects,
) -> Vec<Outcome> {
    let code = status.code;
    let batch = Batch::new(files, cwd);
    let has_file = re.capture_names().any(|n| n == Some("file"));
    let mut per_file = PerFile::new(files.len());
    // Files a finding may be about, though which one is not known: never
    // passed.
    let mut doubts: Vec<Option<String>> = vec![None; files.len()];
    let mut parsed = 0usize;
    // Files outside the batch that the validator does not check, named by
    // findings.
    let mut unchecked = Unchecked::default();
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
            // Colours and other terminal escapes (a tool that forces them,
            // `clang -fcolor-diagnostics`) are not part of what it says. A
            // file name is looked for as printed first (a name may hold an
            // escape byte itself), then without them; with no file group,
            // the line without them reads best.
            let stripped = memchr::memchr(0x1b, raw).map(|_| TERMINAL_ESCAPE.replace_all(raw, &b""[..]));
            let tries: [Option<(&[u8], bool)>; 2] = match &stripped {
                None => [Some((raw, false)), None],
                Some(clean) if has_file => [Some((raw, false)), Some((clean, true))],
                Some(clean) => [Some((clean, true)), Some((raw, false))],
            };
            let (mut matched, mut missed) = (false, None);
            for (attempt, unescaped) in tries.into_iter().flatten() {
                match read_line(re, attempt, has_file, unescaped, &batch) {
                    LineRead::NoMatch => {}
                    LineRead::Finding(targets, mut finding) => {
                        matched = true;
                        // Found by the name as printed (uncoloured, or with
                        // an escape byte of its own): the rest of the line
                        // (a severity in colours, a message with a link in
                        // it) is read without its escapes, from the line
                        // without them when that gives the same files.
                        if let (false, Some(clean)) = (unescaped, &stripped) {
                            finding = match read_line(re, clean, has_file, true, &batch) {
                                LineRead::Finding(same, clean) if same == targets => clean,
                                _ => {
                                    let clean = |s: &str| {
                                        String::from_utf8_lossy(&TERMINAL_ESCAPE.replace_all(s.as_bytes(), &b""[..]))
                                            .into_owned()
                                    };
                                    Finding {
                                        message: clean(&finding.message),
                                        rule: finding.rule.as_deref().map(clean),
                                        ..finding
                                    }
                                }
                            };
                        }
                        for &i in targets {
                            per_file.push(i, &finding);
                        }
                        missed = None;
                        break;
                    }
                    other => {
                        matched = true;
                        // What the line without its colours says of a name
                        // it could not give the finding to: an ambiguous
                        // name is doubted, whatever the coloured line said.
                        match (&missed, &other) {
                            (None, _)
                            | (Some(LineRead::Outside(..) | LineRead::NoFile(_)), LineRead::Ambiguous(..)) => {
                                missed = Some(other);
                            }
                            _ => {}
                        }
                    }
                }
            }
            parsed += usize::from(matched);
            match missed {
                // No file to give it to: ignored, as one outside the batch
                // is (and said so in the log alike).
                Some(LineRead::NoFile(line)) => {
                    tracing::debug!(line = %line, "tool reported a finding that names no file; ignored");
                    doubt_split_names(&mut doubts, files, "no file");
                }
                Some(LineRead::Outside(path, severity)) => {
                    tracing::debug!(path = %path, "tool reported a finding for a file outside the batch; ignored");
                    unchecked.note(&batch, selects, path.as_bytes(), severity);
                    doubt_split_names(&mut doubts, files, &format!("{path:?}"));
                }
                Some(LineRead::Ambiguous(ambiguity, printed)) => ambiguity.doubt(&mut doubts, "a finding", &printed),
                _ => {}
            }
        }
    }
    let lost = exec.truncated().then(|| exec.truncation_note());
    if let Some(reason) = status.failure(exec, files) {
        return finish(per_file, lost, vec![Some(reason); files.len()]);
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
        // A file a finding may have been about says so.
        return doubts.into_iter().map(|d| Outcome::error(d.unwrap_or_else(|| reason.clone()))).collect();
    }
    unchecked.doubt(code, &per_file, &mut doubts);
    finish(per_file, lost, doubts)
}

/// Findings a tool reported, with a findings status, for files outside the
/// batch that the validator does not check (see [`Selects`]): a header a
/// C file includes, a file outside the project. They came through some
/// file of the batch, and are reported nowhere else: the batch's files
/// with no finding of their own are not passed (one of them failed the
/// tool; which one, a batch cannot tell). Findings for a file the
/// validator checks are that file's, found when it is checked.
#[derive(Default)]
struct Unchecked {
    first: Option<String>,
    /// The distinct names, counted.
    names: std::collections::HashSet<Vec<u8>>,
}

impl Unchecked {
    /// Notes a finding of `severity` for `printed`, a name outside the
    /// batch (relative to the root, or absolute). Notes are left out (a
    /// compiler's `note: declared here` at a system header, which the
    /// error it explains, in the batch, already reports), and so are names
    /// of no file (`<command line>`, `<scratch space>`). The name counts as
    /// one the validator checks in any of the forms a lookup tries: as
    /// printed, without terminal escapes, trimmed.
    fn note(&mut self, batch: &Batch, selects: &Selects, printed: &[u8], severity: Severity) {
        if selects.0.is_none() || severity == Severity::Note {
            return;
        }
        let unescaped = TERMINAL_ESCAPE.replace_all(printed, &b""[..]);
        let forms = [printed, &unescaped, printed.trim_ascii(), unescaped.trim_ascii()];
        let rels: Vec<Vec<u8>> = forms.iter().filter_map(|form| batch.normalize(form)).collect();
        if rels.iter().any(|rel| selects.checks(Path::new(OsStr::from_bytes(rel)))) {
            return;
        }
        let exists = |form: &[u8]| batch.cwd.join(OsStr::from_bytes(form)).symlink_metadata().is_ok();
        if let Some(name) = forms.into_iter().find(|form| exists(form)) {
            self.names.insert(name.to_vec());
            self.first.get_or_insert_with(|| String::from_utf8_lossy(name).into_owned());
        }
    }

    /// Gives each file of the batch that has no finding of its own the
    /// reason it is not passed, after a findings status `code`.
    fn doubt(&self, code: i32, per_file: &PerFile, doubts: &mut [Option<String>]) {
        let Some(first) = self.first.as_deref().filter(|_| code != 0) else { return };
        let more = match self.names.len() {
            1 => String::new(),
            2 => " and 1 other file".to_owned(),
            n => format!(" and {} other files", n - 1),
        };
        for (doubt, findings) in doubts.iter_mut().zip(&per_file.findings) {
            if findings.is_empty() {
                doubt.get_or_insert_with(|| {
                    format!(
                        "the tool exited with status {code}, reporting findings for {first:?}{more}, which this \
                         validator does not check: they came through a file of this batch (a header it includes, a \
                         module it imports), maybe this one, so it is not passed; mode = \"per_file\" tells which"
                    )
                });
            }
        }
    }
}

/// A name with a line break is split in two by it in a tool's output:
/// what reads as a finding for another file (`named`), or for none (a
/// name ending in one), may be about it. Such files are never passed.
fn doubt_split_names(doubts: &mut [Option<String>], files: &[OsString], named: &str) {
    let split = |f: &OsString| f.as_bytes().iter().any(|&b| b == b'\n' || b == b'\r');
    for (i, f) in files.iter().enumerate().filter(|(_, f)| split(f)) {
        doubts[i].get_or_insert_with(|| {
            format!(
                "the tool reported a finding for {named}, which may be about this file: its name ({f:?}) holds a \
                 line break, which splits it across lines of output"
            )
        });
    }
}

/// What one line of a tool's output says, read with the `regex` parser.
enum LineRead<'b> {
    NoMatch,
    /// A match with an empty `file` group.
    NoFile(String),
    /// A match naming a file outside the batch, with its severity.
    Outside(String, Severity),
    /// A finding for these files of the batch.
    Finding(&'b [usize], Finding),
    /// A finding naming, lossily, a name that several files of the batch
    /// read as (names that are not UTF-8, differing only where they are
    /// not, or one of them holding U+FFFD itself): which one it is about is
    /// not known.
    Ambiguous(Ambiguity, String),
}

fn read_line<'b>(re: &Regex, raw: &[u8], has_file: bool, unescaped: bool, batch: &'b Batch) -> LineRead<'b> {
    let line = String::from_utf8_lossy(raw);
    let Some(caps) = re.captures(&line) else {
        return LineRead::NoMatch;
    };
    let targets: &[usize] = if has_file {
        let Some(span) = caps.name("file").map(|m| m.range()).filter(|r| !r.is_empty()) else {
            return LineRead::NoFile(line.into_owned());
        };
        // The name's own bytes: two names that are not UTF-8 can read the
        // same once decoded.
        let path = match &line {
            Cow::Borrowed(_) => &raw[span],
            Cow::Owned(_) => &raw[raw_range(raw, span)],
        };
        // As printed, then without blanks around it: a name may start or
        // end with a space.
        let lookup = |p: &[u8]| if unescaped { batch.lookup_unescaped(p) } else { batch.lookup(p) };
        match lookup(path).or_else(|| lookup(path.trim_ascii())) {
            Some(Named::Files(targets)) => targets,
            Some(Named::Ambiguous(ambiguity)) => {
                return LineRead::Ambiguous(ambiguity, String::from_utf8_lossy(path).into_owned());
            }
            None => {
                let said = caps.name("severity").map(|m| m.as_str().trim()).filter(|s| !s.is_empty());
                return LineRead::Outside(
                    String::from_utf8_lossy(path).into_owned(),
                    said.map(severity).unwrap_or(Severity::Error),
                );
            }
        }
    } else {
        &[0]
    };
    let group = |name: &str| caps.name(name).map(|m| m.as_str().trim()).filter(|s| !s.is_empty());
    // A column means nothing without its line (one past `u32`, say), as in
    // SARIF's regions.
    let at_line = group("line").and_then(position);
    let finding = Finding {
        line: at_line,
        column: at_line.and(group("column").and_then(position)),
        severity: group("severity").map(severity).unwrap_or(Severity::Error),
        rule: group("code").or_else(|| group("rule")).map(str::to_owned),
        // Not trimmed of other blanks than `one_line` joins: a message may
        // end with the no-break space it is about.
        message: one_line(
            caps.name("message").map(|m| m.as_str()).filter(|m| !m.trim_ascii().is_empty()).unwrap_or(&line),
        ),
    };
    LineRead::Finding(targets, finding)
}

/// A terminal escape sequence: a CSI sequence (colours, `ESC [ 1 m`), an OSC
/// one (hyperlinks, titles; ended by BEL or `ESC \`), or another escape
/// (`ESC c`, `ESC 7`, `ESC ( B`).
static TERMINAL_ESCAPE: std::sync::LazyLock<regex::bytes::Regex> = std::sync::LazyLock::new(|| {
    regex::bytes::Regex::new(
        r"(?-u)\x1b(?:\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[\x20-\x2f]*[\x30-\x7e])",
    )
    .expect("the escape pattern compiles")
});

/// The `Sarif` parser: stdout is a SARIF 2.1.0 log. The exit status only
/// matters when stdout is not one, when it is not a findings status, or
/// when the log has nothing for the checked files.
///
/// `batch`: the validator's mode is `batch`, where a result without a
/// location belongs to no one file, however many the batch holds (a batch
/// of one is only what the cache left; its verdict must not differ).
pub(crate) fn sarif(
    exec: &Execution,
    status: Status<'_>,
    files: &[OsString],
    cwd: &Path,
    batch_mode: bool,
    selects: &Selects,
) -> Vec<Outcome> {
    let code = status.code;
    let log = match parse_sarif(&exec.stdout.bytes) {
        Ok(log) => log,
        Err(e) => {
            let mut reason = format!("invalid SARIF output: {e}");
            if let Some(killed) = status.killed {
                reason.push_str(&format!("; {killed}"));
            } else if code != 0 {
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
    let all = |reason: String| vec![Outcome::error(reason); files.len()];
    if let Some(version) = log.version.as_deref().filter(|v| *v != "2.1.0") {
        return all(format!("the SARIF log is version {version}; only SARIF 2.1.0 is read"));
    }
    // `null` runs: the tool could not start a run at all (SARIF 2.1.0, 3.13.4).
    let Some(runs) = &log.runs else {
        let mut reason = "the SARIF log's `runs` is null: the tool could not run".to_owned();
        if let Some(line) = first_line_of(&exec.stderr) {
            reason.push_str(": ");
            reason.push_str(&line);
        }
        return all(reason);
    };
    let batch = Batch::new(files, cwd);
    // Per file, why its pass cannot be trusted: the tool said it could not
    // check it, or the run failed.
    let mut problems: Vec<Option<String>> = vec![None; files.len()];

    // Errors the tool reports about its own run. One located at a checked
    // file is that file's error; a run that failed (`executionSuccessful:
    // false`) for any other reason fails every file.
    let mut run_failures = Vec::new();
    for run in runs {
        for invocation in &run.invocations {
            let (mut errors, mut placed) = (0usize, 0usize);
            let (mut first_error, mut first_said): (Option<String>, Option<String>) = (None, None);
            let notifications =
                invocation.tool_execution_notifications.iter().chain(&invocation.tool_configuration_notifications);
            for n in notifications {
                let text = n.message.one_line();
                if first_said.is_none() {
                    first_said.clone_from(&text);
                }
                // A notification's level is `warning` unless it says (3.58.6).
                if n.level.as_deref().unwrap_or("warning") != "error" {
                    continue;
                }
                errors += 1;
                let text = text.unwrap_or_else(|| "(no message)".to_owned());
                match run.targets(&n.locations, &batch) {
                    Some((Named::Files(targets), _)) => {
                        placed += 1;
                        for &i in targets {
                            problems[i].get_or_insert_with(|| format!("the tool could not check this file: {text}"));
                        }
                    }
                    Some((Named::Ambiguous(ambiguity), artifact)) => {
                        placed += 1;
                        let what = format!("that it could not check ({text})");
                        ambiguity.doubt(&mut problems, &what, &run.shown(artifact));
                    }
                    None => {
                        tracing::debug!(message = %text, "SARIF error notification for no checked file");
                        first_error.get_or_insert(text);
                    }
                }
            }
            // A failed invocation that its own errors at checked files do
            // not account for fails every file (a log may hold several runs
            // and invocations, each answering for itself).
            if invocation.execution_successful == Some(false) && (errors == 0 || placed < errors) {
                let mut reason = "the tool reported that its run failed (SARIF executionSuccessful: false)".to_owned();
                if let Some(said) = first_error.or(first_said).or_else(|| first_line_of(&exec.stderr)) {
                    reason.push_str(": ");
                    reason.push_str(&shorten(&said));
                }
                run_failures.push(reason);
            }
        }
    }
    // A run without `results` (or `null`) could not determine them; only an
    // empty list says that nothing was found (SARIF 2.1.0, 3.14.23). The
    // other runs' findings stay, each file's with an error finding after.
    if runs.iter().any(|r| r.results.is_none()) {
        run_failures.push(
            "the SARIF log has a run without `results`: the tool could not determine them (an empty list would say \
             nothing was found)"
                .to_owned(),
        );
    }
    // After every run's errors at files, which say more of their file.
    for reason in run_failures {
        for p in &mut problems {
            p.get_or_insert_with(|| reason.clone());
        }
    }
    let mut per_file = PerFile::new(files.len());
    let (mut unattributed, mut elsewhere, mut ambiguous) = (0usize, 0usize, 0usize);
    let mut unchecked = Unchecked::default();
    let mut texts = Texts::new(files, cwd);
    for run in runs {
        for result in run.results.iter().flatten() {
            if matches!(result.kind.as_deref(), Some("pass" | "notApplicable")) || result.dismissed() {
                continue;
            }
            let physical = result.locations.first().and_then(|l| l.physical_location.as_ref());
            let targets: Cow<'_, [usize]> = match run.targets(&result.locations, &batch) {
                Some((Named::Files(targets), _)) => Cow::Borrowed(targets),
                Some((Named::Ambiguous(ambiguity), artifact)) => {
                    let shown = run.shown(artifact);
                    tracing::debug!(name = %shown, "SARIF result for a name several files of the batch read as");
                    ambiguity.doubt(&mut problems, "a finding", &shown);
                    ambiguous += 1;
                    continue;
                }
                None if result.locations.iter().any(Location::names_an_artifact) => {
                    tracing::debug!("SARIF result for a file outside the batch; ignored");
                    let path = result
                        .locations
                        .iter()
                        .filter_map(|l| l.physical_location.as_ref()?.artifact_location.as_ref())
                        .find_map(|a| run.project_path(a, &batch));
                    let level = match run.level(result, run.rule_of(result)).as_str() {
                        "note" | "none" => Severity::Note,
                        _ => Severity::Error,
                    };
                    if let Some(path) = path {
                        unchecked.note(&batch, selects, &path, level);
                    }
                    elsewhere += 1;
                    continue;
                }
                None if files.len() == 1 && !batch_mode => Cow::Borrowed(&[0]),
                None => {
                    tracing::debug!("SARIF result without a location in a batch of several files; ignored");
                    unattributed += 1;
                    continue;
                }
            };
            // The region of the location the result was given by.
            let region = result
                .locations
                .iter()
                .filter_map(|l| l.physical_location.as_ref())
                .find(|p| p.artifact_location.as_ref().is_some_and(|a| run.in_batch(a, &batch)))
                .or(physical)
                .and_then(|p| p.region.as_ref());
            let rule = run.rule_of(result);
            let rule_id = result
                .rule_id
                .clone()
                .or_else(|| result.rule.as_ref().and_then(|r| r.id.clone()))
                .or_else(|| rule.and_then(|r| r.id.clone()));
            let finding = Finding {
                line: region.and_then(|r| r.start_line.0).and_then(sarif_position),
                column: region.and_then(|r| r.start_column.0).and_then(sarif_position),
                severity: match run.level(result, rule).as_str() {
                    "error" => Severity::Error,
                    "note" | "none" => Severity::Note,
                    _ => Severity::Warning,
                },
                message: run
                    .message_text(result, rule)
                    .or_else(|| rule_id.clone())
                    .unwrap_or_else(|| "(no message)".into()),
                rule: rule_id,
            };
            let utf16 = run.column_kind.0.as_deref() == Some("utf16CodeUnits");
            for &i in targets.iter() {
                match (finding.line, finding.column) {
                    // Counted again in characters, as verdict's columns are,
                    // where they differ: after a character outside the Basic
                    // Multilingual Plane on the line.
                    (Some(line), Some(column)) if utf16 && column > 1 => {
                        let column = texts.code_point_column(i, line, column).unwrap_or(column);
                        per_file.push(i, &Finding { column: Some(column), ..finding.clone() });
                    }
                    _ => per_file.push(i, &finding),
                }
            }
        }
    }
    if let Some(reason) = status.failure(exec, files) {
        for p in &mut problems {
            p.get_or_insert_with(|| reason.clone());
        }
    }
    // As with `regex`: a failing exit with nothing to show for the checked
    // files is the tool failing, not a pass.
    if code != 0 && !per_file.any() {
        let mut reason = format!("exited with status {code} and reported no findings for the checked files");
        let mut notes = Vec::new();
        if unattributed > 0 {
            notes.push(format!("{unattributed} without a location, which a batch cannot give to one of its files"));
        }
        if ambiguous > 0 {
            notes.push(format!("{ambiguous} for names that several files of the batch read as"));
        }
        if elsewhere > 0 {
            // A relative URI with no base the log defines, say, read as
            // relative to the project root.
            notes.push(format!("{elsewhere} naming files outside the batch, or none of the project's"));
        }
        if !notes.is_empty() {
            reason.push_str(&format!(" ({})", notes.join("; ")));
        }
        if let Some(line) = first_line_of(&exec.stderr) {
            reason.push_str(": ");
            reason.push_str(&line);
        }
        for p in &mut problems {
            p.get_or_insert_with(|| reason.clone());
        }
    }
    unchecked.doubt(code, &per_file, &mut problems);
    let stdout_lost = exec.stdout.truncated || exec.stdout.incomplete;
    finish(per_file, stdout_lost.then(|| exec.truncation_note()), problems)
}

/// One outcome per file: its findings (in line order), `Passed` — or, when
/// output was lost (`lost` is the note), an error for files without findings,
/// since their findings may have been among the discarded bytes, and a last
/// finding saying so for the others (`verdict:output-cut`, an error: what
/// was lost may have been errors; the CLI counts it as no finding of the
/// file but as an incomplete check, so `--fail-on error` does not pass it).
///
/// A file with a problem (`problems`: the tool failed, or said it could not
/// check the file) is an error, or, with findings, gets a last error
/// finding saying so: a pass the tool did not vouch for is never given.
fn finish(per_file: PerFile, lost: Option<String>, problems: Vec<Option<String>>) -> Vec<Outcome> {
    per_file
        .findings
        .into_iter()
        .zip(per_file.more)
        .zip(problems)
        .map(|((mut findings, (more, more_severity)), problem)| {
            if findings.is_empty() {
                return match (problem, &lost) {
                    (Some(problem), _) => Outcome::error(problem),
                    (None, Some(note)) => Outcome::error(format!(
                        "tool output was cut before any finding for this file{note}; raise max_output"
                    )),
                    (None, None) => Outcome::Passed,
                };
            }
            findings.sort_by_key(|f| (f.line, f.column));
            if more > 0 {
                let what = format!("findings not listed (at most {MAX_TOOL_FINDINGS} are kept)");
                findings.push(Finding::more(more as u64, more_severity, &what));
            }
            if let Some(problem) = problem {
                findings.push(
                    Finding::error(None, None, format!("{problem} (these findings may be incomplete)"))
                        .with_rule(crate::outcome::NOTICE_TOOL_FAILED),
                );
            }
            if let Some(note) = &lost {
                findings.push(
                    Finding::error(
                        None,
                        None,
                        format!("tool output was cut{note}: more findings may be missing; raise max_output"),
                    )
                    .with_rule(crate::outcome::NOTICE_OUTPUT_CUT),
                );
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
    telling_line_of(c, |_| false)
}

/// The first line of `c` with something legible in it that is not `skip`,
/// without terminal escapes, shortened; of a line redrawn with carriage
/// returns (a progress line), what a terminal would show: its last part;
/// for a Python traceback, its last line (the error, where the first only
/// says a traceback follows), and so for a syntax error as `py_compile`
/// prints it (`File "x.py", line 1` first); after ESLint's "Oops! Something went wrong!",
/// the error it then prints after its version line (`SyntaxError: …`,
/// `Error [ERR_MODULE_NOT_FOUND]: …`, `ESLint couldn't find …`); after a
/// usage line, the `Error: …` that ends it (click's, as black prints it);
/// after `TOOL failed`, the `Cause: …` that follows (ruff's); past gcc's
/// `In file included from …` chain, the line it leads to.
fn telling_line_of(c: &Captured, skip: impl Fn(&str) -> bool) -> Option<String> {
    let text = match memchr::memchr(0x1b, &c.bytes) {
        Some(_) => TERMINAL_ESCAPE.replace_all(&c.bytes, &b""[..]),
        None => Cow::Borrowed(&c.bytes[..]),
    };
    let text = String::from_utf8_lossy(&text);
    // Not only blanks, control characters or bytes that were not UTF-8.
    let legible =
        |l: &str| l.chars().any(|c| !c.is_whitespace() && !c.is_control() && c != char::REPLACEMENT_CHARACTER);
    let mut lines =
        text.lines().filter_map(|l| l.rsplit('\r').map(str::trim).find(|part| legible(part))).filter(|l| !skip(l));
    let first = lines.next()?;
    // `SyntaxError: …`, `ValueError: …`: the line a Python error ends with.
    let python_error = |l: &&str| {
        l.split_once(": ").is_some_and(|(name, _)| {
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                && (name.ends_with("Error") || name.ends_with("Exception"))
        })
    };
    let line = if first.starts_with("Traceback (most recent call last)") {
        lines.last().unwrap_or(first)
    } else if first.starts_with("File \"") {
        // A syntax error as `py_compile` prints it: no traceback header.
        lines.last().filter(python_error).unwrap_or(first)
    } else if first.starts_with("Oops! Something went wrong!") {
        lines.find(|l| !l.starts_with("ESLint: ")).unwrap_or(first)
    } else if first.starts_with("Usage: ") {
        lines.last().filter(|l| l.starts_with("Error: ")).unwrap_or(first)
    } else if first.ends_with(" failed") {
        match lines.next().filter(|l| l.starts_with("Cause: ")) {
            Some(cause) => return Some(shorten(&format!("{first}: {cause}"))),
            None => first,
        }
    } else if first.starts_with("In file included from ") {
        lines.find(|l| !l.starts_with("from ")).unwrap_or(first)
    } else {
        first
    };
    Some(shorten(line))
}

/// The line that best says why a tool exited as it did: the first of
/// stderr (where errors go), else of stdout, that is more than the name of
/// one of `files` (yamllint heads each file's problems with its name),
/// shortened.
fn telling_line(exec: &Execution, files: &[OsString]) -> Option<String> {
    let names_a_file = |line: &str| {
        let name = line.strip_suffix(':').unwrap_or(line);
        let name = name.strip_prefix("./").unwrap_or(name);
        files.iter().any(|f| f.as_bytes() == name.as_bytes())
    };
    [&exec.stderr, &exec.stdout].into_iter().find_map(|c| telling_line_of(c, names_a_file))
}

/// `s` cut to [`EXCERPT_CHARS`] characters.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

/// `s` on one line: its line breaks (`\n`, `\r`, and Unicode's NEL, line
/// and paragraph separators), tabs and runs of ASCII blanks become single
/// spaces. Other whitespace is part of what a message says (ruff's RUF001
/// quotes the no-break space it found).
fn one_line(s: &str) -> String {
    let breaks = |c: char| c.is_ascii_whitespace() || matches!(c, '\x0b' | '\u{85}' | '\u{2028}' | '\u{2029}');
    s.split(breaks).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
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
        "note" | "info" | "information" | "informational" | "hint" | "style" | "i" | "n" | "h" | "remark"
        | "suggestion" | "convention" | "refactor" => Severity::Note,
        _ => Severity::Error,
    }
}

/// The files of a batch, by normalized path (its bytes: a name need not be
/// UTF-8).
struct Batch {
    index: HashMap<Vec<u8>, Vec<usize>>,
    /// The names that hold a terminal escape, without it: as a tool that
    /// colours its output prints them once its colours are taken out.
    unescaped: HashMap<Vec<u8>, Vec<usize>>,
    /// The names that are not UTF-8 by their lossy form, for tools that
    /// print them so (`Path::display`), and the names holding U+FFFD
    /// themselves, which read the same: each form's distinct names (keys of
    /// `index`).
    lossy: HashMap<String, Vec<Vec<u8>>>,
    cwd: PathBuf,
    canonical_cwd: Option<PathBuf>,
    /// The real paths of the directories outside the root that the tool's
    /// names were looked up in (a compiler's thousand notes on
    /// `/usr/include/…` resolve each directory once).
    resolved: std::cell::RefCell<HashMap<PathBuf, Option<PathBuf>>>,
}

impl Batch {
    fn new(files: &[OsString], cwd: &Path) -> Self {
        let cwd = clean(cwd);
        let canonical_cwd = std::fs::canonicalize(&cwd).ok().filter(|c| *c != cwd);
        let mut batch = Batch {
            index: HashMap::new(),
            unescaped: HashMap::new(),
            lossy: HashMap::new(),
            cwd,
            canonical_cwd,
            resolved: Default::default(),
        };
        for (i, file) in files.iter().enumerate() {
            if let Some(key) = batch.normalize(file.as_bytes()) {
                if memchr::memchr(0x1b, &key).is_some() {
                    batch
                        .unescaped
                        .entry(TERMINAL_ESCAPE.replace_all(&key, &b""[..]).into_owned())
                        .or_default()
                        .push(i);
                }
                let reads_as = match std::str::from_utf8(&key) {
                    Ok(name) => name.contains(char::REPLACEMENT_CHARACTER).then(|| name.to_owned()),
                    Err(_) => Some(String::from_utf8_lossy(&key).into_owned()),
                };
                if let Some(reads_as) = reads_as {
                    let names = batch.lossy.entry(reads_as).or_default();
                    if !names.contains(&key) {
                        names.push(key.clone());
                    }
                }
                batch.index.entry(key).or_default().push(i);
            }
        }
        batch
    }

    /// The files `path`, read from a line without its terminal escapes,
    /// names: as [`lookup`](Self::lookup), else a name that held escapes.
    fn lookup_unescaped(&self, path: &[u8]) -> Option<Named<'_>> {
        self.lookup(path).or_else(|| self.unescaped.get(&self.normalize(path)?).map(|f| Named::Files(f)))
    }

    /// The files `path` names. A name holding U+FFFD may be one printed
    /// lossily (a tool printing a name that is not UTF-8 as Rust's
    /// `Path::display` does): it names the one file of the batch that reads
    /// so, whether by its lossy form or by its own bytes, and is ambiguous
    /// when several do. Any other name is matched by its bytes.
    fn lookup(&self, path: &[u8]) -> Option<Named<'_>> {
        let key = self.normalize(path)?;
        let lossy = std::str::from_utf8(&key).ok().filter(|k| k.contains(char::REPLACEMENT_CHARACTER));
        match lossy.and_then(|k| self.lossy.get(k)).map(Vec::as_slice) {
            Some([one]) => self.index.get(one).map(|f| Named::Files(f)),
            Some(several) => Some(Named::Ambiguous(Ambiguity {
                files: several.iter().filter_map(|k| self.index.get(k)).flatten().copied().collect(),
                names: several.len(),
            })),
            None => self.index.get(&key).map(|f| Named::Files(f)),
        }
    }

    /// `path` relative to the project root, lexically cleaned (`./`, `..`);
    /// `None` for a path outside the root. A relative one is taken from the
    /// root, as the tool (run there) takes it: `../root/x` is `x`.
    ///
    /// An absolute path that is neither under the root as the daemon has it
    /// nor under its real path may lead there through a link: a tool given
    /// the root by a path through a linked directory (`/home` a link to
    /// `/data/home`) prints it so. Its directory's real path is looked at.
    fn normalize(&self, path: &[u8]) -> Option<Vec<u8>> {
        let p = clean(&self.cwd.join(OsStr::from_bytes(path)));
        let real_root = self.canonical_cwd.as_ref().unwrap_or(&self.cwd);
        if let Some(rel) = p.strip_prefix(&self.cwd).ok().or_else(|| p.strip_prefix(real_root).ok()) {
            return Some(rel.as_os_str().as_bytes().to_vec());
        }
        let parent = p.parent()?;
        let real_parent = self
            .resolved
            .borrow_mut()
            .entry(parent.to_path_buf())
            .or_insert_with(|| std::fs::canonicalize(parent).ok())
            .clone()?;
        let real = real_parent.join(p.file_name()?);
        Some(real.strip_prefix(real_root).ok()?.as_os_str().as_bytes().to_vec())
    }
}

/// What a name in a tool's output stands for among the files of a batch.
#[derive(Debug, PartialEq, Eq)]
enum Named<'b> {
    /// These entries of the batch (one file, listed once or more).
    Files(&'b [usize]),
    /// One of these files, which the name cannot tell apart (see
    /// [`Batch::lookup`]).
    Ambiguous(Ambiguity),
}

/// A name that several files of a batch read as.
#[derive(Debug, PartialEq, Eq)]
struct Ambiguity {
    /// The entries of the batch it may be about.
    files: Vec<usize>,
    /// How many distinct names those are (a file may be listed twice).
    names: usize,
}

impl Ambiguity {
    /// Why a file it may be about gets no pass: `what` the tool reported
    /// for `printed`, which these files read as.
    fn why(&self, what: &str, printed: &str) -> String {
        format!(
            "the tool reported {what} for {printed:?}, which {} files of the batch read as (a name that is not \
             UTF-8 printed with U+FFFD), so it may be about this one; use mode = \"per_file\"",
            self.names
        )
    }

    /// Gives each of its files that reason, unless it has one.
    fn doubt(&self, doubts: &mut [Option<String>], what: &str, printed: &str) {
        for &i in &self.files {
            doubts[i].get_or_insert_with(|| self.why(what, printed));
        }
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

/// The checked files' contents, read when a SARIF column needs them (at
/// most [`TEXT_LOOK_MAX`] bytes of each; a file not read keeps its tool's
/// columns), with where each line starts.
struct Texts<'a> {
    files: &'a [OsString],
    cwd: &'a Path,
    read: HashMap<usize, Option<Text>>,
}

/// A file's bytes and where each of its lines starts.
type Text = (Vec<u8>, Vec<usize>);

/// The largest file read to count a SARIF column again.
const TEXT_LOOK_MAX: u64 = 16 << 20;

impl<'a> Texts<'a> {
    fn new(files: &'a [OsString], cwd: &'a Path) -> Self {
        Texts { files, cwd, read: HashMap::new() }
    }

    /// File `i`'s bytes and its lines' starts: a regular file only, opened
    /// without blocking (one made a FIFO or a terminal meanwhile is not
    /// waited on), a leading byte order mark left out (verdict's columns
    /// do not count it).
    fn load(path: &Path) -> Option<Text> {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
            .open(path)
            .ok()?;
        if !file.metadata().ok()?.is_file() {
            return None;
        }
        let mut text = Vec::new();
        file.take(TEXT_LOOK_MAX + 1).read_to_end(&mut text).ok()?;
        if text.len() as u64 > TEXT_LOOK_MAX {
            return None;
        }
        let bom = if text.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
        let starts = std::iter::once(bom).chain(memchr::memchr_iter(b'\n', &text).map(|n| n + 1)).collect();
        Some((text, starts))
    }

    /// The 1-based column in characters of 1-based UTF-16 `column` on
    /// 1-based `line` of file `i`; `None` when the file cannot be read or
    /// has no such line.
    fn code_point_column(&mut self, i: usize, line: u32, column: u32) -> Option<u32> {
        let path = self.cwd.join(&self.files[i]);
        let (text, starts) = self.read.entry(i).or_insert_with(|| Self::load(&path)).as_ref()?;
        let n = usize::try_from(line).ok()?.checked_sub(1)?;
        let start = *starts.get(n)?;
        let end = starts.get(n + 1).map_or(text.len(), |&next| next - 1);
        let bytes = &text[start..end];
        // Only a character past the Basic Multilingual Plane (four bytes in
        // UTF-8) counts as two UTF-16 units.
        if !bytes.iter().any(|&b| b >= 0xf0) {
            return Some(column);
        }
        Some(utf16_column_in_chars(&String::from_utf8_lossy(bytes), column))
    }
}

/// The 1-based column in characters that 1-based UTF-16 `column` of `line`
/// names (past the line's end: as many more as it goes past it).
pub(crate) fn utf16_column_in_chars(line: &str, column: u32) -> u32 {
    let before = column.saturating_sub(1);
    let (mut units, mut chars) = (0u32, 0u32);
    for c in line.chars() {
        if units >= before {
            return chars + 1;
        }
        units += c.len_utf16() as u32;
        chars += 1;
    }
    chars + 1 + before.saturating_sub(units)
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
    #[serde(default)]
    version: Option<String>,
    runs: Option<Vec<Run>>,
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
    /// The unit of its columns: Unicode code points unless it says
    /// `utf16CodeUnits` (SARIF 2.1.0, 3.14.17, code points by default).
    #[serde(default)]
    column_kind: Loose<String>,
}

/// A run of the tool, as it reports it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    #[serde(default)]
    execution_successful: Option<bool>,
    #[serde(default)]
    tool_execution_notifications: Vec<Notification>,
    /// What the tool says of its configuration (eslint reports a file it
    /// cannot parse here).
    #[serde(default)]
    tool_configuration_notifications: Vec<Notification>,
    /// Levels the run gave rules instead of their defaults.
    #[serde(default)]
    rule_configuration_overrides: Loose<Vec<Loose<ConfigurationOverride>>>,
}

#[derive(Deserialize)]
struct Notification {
    #[serde(default)]
    level: Option<String>,
    #[serde(default)]
    message: Message,
    #[serde(default)]
    locations: Vec<Location>,
}

#[derive(Deserialize)]
struct ConfigurationOverride {
    #[serde(default)]
    configuration: Option<RuleConfiguration>,
    #[serde(default)]
    descriptor: Option<RuleReference>,
}

#[derive(Deserialize)]
struct Tool {
    #[serde(default)]
    driver: Option<ToolComponent>,
    /// Plug-ins, whose rules a result names through `rule.toolComponent`
    /// (CodeQL's query packs).
    #[serde(default)]
    extensions: Vec<ToolComponent>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolComponent {
    #[serde(default)]
    name: Option<String>,
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
#[serde(rename_all = "camelCase")]
struct RuleReference {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    index: Option<i64>,
    /// The tool component holding the rule: the driver when absent.
    #[serde(default)]
    tool_component: Option<ToolComponentReference>,
}

#[derive(Deserialize)]
struct ToolComponentReference {
    #[serde(default)]
    index: Option<i64>,
    #[serde(default)]
    name: Option<String>,
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

impl Location {
    /// Whether it names a file (one that may lie outside the batch).
    fn names_an_artifact(&self) -> bool {
        self.physical_location.as_ref().is_some_and(|p| p.artifact_location.is_some())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    #[serde(default)]
    artifact_location: Option<ArtifactLocation>,
    #[serde(default)]
    region: Option<Region>,
}

#[derive(Deserialize, Debug, Clone)]
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
    /// `globalMessageStrings`), with the arguments put in (a text may have
    /// placeholders too, SARIF 2.1.0, 3.11.5).
    fn message_text(&self, result: &SarifResult, rule: Option<&Rule>) -> Option<String> {
        let arguments = result.message.arguments.0.as_deref().unwrap_or_default();
        if let Some(text) = result.message.one_line() {
            return Some(if arguments.is_empty() { text } else { one_line(&fill(&text, arguments)) });
        }
        let id = result.message.id.as_deref()?;
        let driver = self.tool.as_ref()?.driver.as_ref()?;
        let template = rule
            .and_then(|r| r.message_strings.0.as_ref()?.get(id))
            .or_else(|| driver.global_message_strings.0.as_ref()?.get(id))?
            .one_line()?;
        Some(one_line(&fill(&template, arguments)))
    }

    /// The tool component a rule reference points into: an extension it
    /// names by index or name, else the driver.
    fn component(&self, reference: Option<&RuleReference>) -> Option<&ToolComponent> {
        let tool = self.tool.as_ref()?;
        match reference.and_then(|r| r.tool_component.as_ref()) {
            Some(c) => match c.index.and_then(|i| usize::try_from(i).ok()) {
                Some(i) => tool.extensions.get(i),
                None => {
                    let name = c.name.as_deref()?;
                    if tool.driver.as_ref().and_then(|d| d.name.as_deref()) == Some(name) {
                        tool.driver.as_ref()
                    } else {
                        tool.extensions.iter().find(|e| e.name.as_deref() == Some(name))
                    }
                }
            },
            None => tool.driver.as_ref(),
        }
    }

    /// A result's rule: by its index, else (none, or out of range) by its id.
    fn rule_of(&self, result: &SarifResult) -> Option<&Rule> {
        let rules = &self.component(result.rule.as_ref())?.rules;
        let index = result.rule_index.or_else(|| result.rule.as_ref().and_then(|r| r.index));
        let id = result.rule_id.as_deref().or_else(|| result.rule.as_ref().and_then(|r| r.id.as_deref()));
        index
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| rules.get(i))
            .or_else(|| rules.iter().find(|r| r.id.is_some() && r.id.as_deref() == id))
    }

    /// A result's level as SARIF 2.1.0 (3.27.10) gives it: its own; else
    /// `none` for a result that is not of kind `fail` (informational,
    /// review, open); else what this run's configuration overrides give its
    /// rule; else the rule's default; else `warning`.
    fn level(&self, result: &SarifResult, rule: Option<&Rule>) -> String {
        if let Some(level) = &result.level {
            return level.clone();
        }
        if result.kind.as_deref().is_some_and(|k| k != "fail") {
            return "none".to_owned();
        }
        let overridden = rule.and_then(|rule| {
            let overrides = self.invocations.iter().flat_map(|i| i.rule_configuration_overrides.0.iter().flatten());
            overrides.filter_map(|o| o.0.as_ref()).find_map(|o| {
                // The descriptor names the same rule (in the same component,
                // by index or id).
                let descriptor = o.descriptor.as_ref()?;
                let component = self.component(Some(descriptor))?;
                let named = match descriptor.index.and_then(|i| usize::try_from(i).ok()) {
                    Some(i) => component.rules.get(i),
                    None => component.rules.iter().find(|r| r.id.is_some() && r.id == descriptor.id),
                }?;
                if !std::ptr::eq(named, rule) {
                    return None;
                }
                o.configuration.as_ref()?.level.clone()
            })
        });
        overridden
            .or_else(|| rule?.default_configuration.as_ref()?.level.clone())
            .unwrap_or_else(|| "warning".to_owned())
    }

    /// The batch files the first of `locations` that names one points at,
    /// and that location. `None` when none does.
    fn targets<'a, 'b>(
        &self,
        locations: &'a [Location],
        batch: &'b Batch,
    ) -> Option<(Named<'b>, &'a ArtifactLocation)> {
        locations
            .iter()
            .filter_map(|l| l.physical_location.as_ref()?.artifact_location.as_ref())
            .find_map(|a| Some((self.lookup(a, batch)?, a)))
    }

    /// The name an artifact location gives, to be read by people: its path
    /// as resolved, else its URI decoded.
    fn shown(&self, artifact: &ArtifactLocation) -> String {
        match self.resolve(artifact, 0) {
            Some(path) => String::from_utf8_lossy(path.as_os_str().as_bytes()).into_owned(),
            None => String::from_utf8_lossy(&percent_decode(artifact.uri.as_deref().unwrap_or_default())).into_owned(),
        }
    }

    fn in_batch(&self, artifact: &ArtifactLocation, batch: &Batch) -> bool {
        self.lookup(artifact, batch).is_some()
    }

    /// The batch files an artifact location names: as resolved against its
    /// base; else, when its base lies elsewhere (a tool run in a container
    /// reports `file:///src/` as the root), its URI relative to the project
    /// root.
    ///
    /// A URI holding a `%` that names no file of the batch decoded is also
    /// read with its `%` as written: a tool that does not escape names
    /// (`100%41.txt`, as it writes `a b.txt` with a blank) would otherwise
    /// have its finding dropped and the file pass.
    fn lookup<'b>(&self, artifact: &ArtifactLocation, batch: &'b Batch) -> Option<Named<'b>> {
        self.lookup_decoded(artifact, batch).or_else(|| {
            let uri = artifact.uri.as_deref().filter(|u| u.contains('%'))?;
            // Only where the decoded name is no file at all: one the cache
            // answered for, outside this batch, is the finding's.
            let decoded = self.resolve(artifact, 0)?;
            if batch.cwd.join(&decoded).symlink_metadata().is_ok() {
                return None;
            }
            let literal = ArtifactLocation { uri: Some(uri.replace('%', "%25")), ..artifact.clone() };
            self.lookup_decoded(&literal, batch)
        })
    }

    /// [`lookup`](Self::lookup), with the URI's escapes decoded.
    fn lookup_decoded<'b>(&self, artifact: &ArtifactLocation, batch: &'b Batch) -> Option<Named<'b>> {
        let resolved = self.resolve(artifact, 0);
        if let Some(path) = &resolved {
            let path = path.as_os_str().as_bytes();
            // Inside the project: that file, in the batch or not.
            if batch.normalize(path).is_some() {
                return batch.lookup(path);
            }
        }
        // A name with a colon in its first part, written unescaped
        // (`b:c.txt`, which RFC 3986 would have as `./b:c.txt`), reads as a
        // URI of another scheme: taken as the file of the batch so named, if
        // there is one.
        if resolved.is_none()
            && let Some(uri) = artifact.uri.as_deref().filter(|u| has_scheme(u) && strip_scheme(u, "file").is_none())
            && let Some(named) = batch.lookup(&percent_decode(uri))
        {
            return Some(named);
        }
        artifact.uri_base_id.as_ref()?;
        let uri = artifact.uri.as_deref().filter(|u| !has_scheme(u) && !u.starts_with('/'))?;
        batch.lookup(&percent_decode(uri))
    }

    /// The file an artifact location names, as [`lookup_decoded`]
    /// (Self::lookup_decoded) finds it: relative to the project root when
    /// it is inside (a URI whose base lies elsewhere read from the root),
    /// else absolute; `None` for what names no file.
    fn project_path(&self, artifact: &ArtifactLocation, batch: &Batch) -> Option<Vec<u8>> {
        let resolved = self.resolve(artifact, 0);
        if let Some(rel) = resolved.as_ref().and_then(|p| batch.normalize(p.as_os_str().as_bytes())) {
            return Some(rel);
        }
        let relative = artifact
            .uri_base_id
            .as_ref()
            .and(artifact.uri.as_deref())
            .filter(|u| !has_scheme(u) && !u.starts_with('/'))
            .and_then(|u| batch.normalize(&percent_decode(u)));
        relative.or_else(|| Some(resolved?.into_os_string().into_vec()))
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

/// The bytes `s` stands for, its `%XX` escapes decoded (a `%` that starts
/// no escape is kept).
fn percent_decode(s: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(s).collect()
}

/// `template` with its `{n}` placeholders replaced by argument n; `{{` and
/// `}}` are braces (SARIF 2.1.0, 3.11.5).
fn fill(template: &str, arguments: &[serde_json::Value]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        if after.starts_with("{{") || after.starts_with("}}") {
            out.push_str(&after[..1]);
            rest = &after[2..];
        } else if let Some((n, tail)) = after[1..].split_once('}')
            && let Ok(n) = n.parse::<usize>()
        {
            match arguments.get(n) {
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
        let one = |i: &'static [usize]| Some(Named::Files(i));
        assert_eq!(batch.lookup(b"./src/a.rs"), one(&[0]));
        assert_eq!(batch.lookup(b"/proj/root/src/a.rs"), one(&[0]));
        assert_eq!(batch.lookup(b"/proj/root/./x/../b.txt"), one(&[1]));
        assert_eq!(batch.lookup(b"src/./a.rs"), one(&[0]));
        assert_eq!(batch.lookup(b"/elsewhere/src/a.rs"), None);
        assert_eq!(batch.lookup(b"a.rs"), None);
        // Relative names climbing out of the root and back in.
        assert_eq!(batch.lookup(b"../root/b.txt"), one(&[1]));
        assert_eq!(batch.lookup(b"src/../../root/src/a.rs"), one(&[0]));
        assert_eq!(batch.lookup(b"../other/b.txt"), None);
        assert_eq!(batch.lookup(b"../../proj/root/b.txt"), one(&[1]));
        // Names that are not UTF-8 are told apart by their bytes; printed
        // lossily, a name is matched only if it names one file.
        assert_eq!(batch.lookup(b"./c\xfe.txt"), one(&[3]));
        assert_eq!(
            batch.lookup("c\u{fffd}.txt".as_bytes()),
            Some(Named::Ambiguous(Ambiguity { files: vec![2, 3], names: 2 }))
        );
        let files: Vec<OsString> = [&b"d\xff.txt"[..], b"e.txt"].map(|n| OsStr::from_bytes(n).to_owned()).into();
        let batch = Batch::new(&files, Path::new("/proj/root"));
        assert_eq!(batch.lookup("d\u{fffd}.txt".as_bytes()), one(&[0]));
        // A name holding U+FFFD itself reads as the lossy form of another:
        // printed so, it could be either. Listed twice, a name is still one.
        let files: Vec<OsString> =
            [&b"f\xff.txt"[..], "f\u{fffd}.txt".as_bytes(), b"./f\xff.txt", "g\u{fffd}".as_bytes()]
                .map(|n| OsStr::from_bytes(n).to_owned())
                .into();
        let batch = Batch::new(&files, Path::new("/proj/root"));
        assert_eq!(
            batch.lookup("f\u{fffd}.txt".as_bytes()),
            Some(Named::Ambiguous(Ambiguity { files: vec![0, 2, 1], names: 2 }))
        );
        assert_eq!(batch.lookup(b"f\xff.txt"), one(&[0, 2]));
        assert_eq!(batch.lookup("g\u{fffd}".as_bytes()), one(&[3]));
    }

    #[test]
    fn a_message_is_one_line_with_its_own_non_ascii_blanks() {
        assert_eq!(one_line("  a\tb\r\n  c\u{2028}d\u{85}e\x0b\x0cf "), "a b c d e f");
        let ruff = "ambiguous `\u{a0}` (NO-BREAK SPACE). Did you mean ` ` (SPACE)?";
        assert_eq!(one_line(ruff), ruff);
        assert_eq!(one_line("\u{3000}x\u{2003}"), "\u{3000}x\u{2003}");
    }

    #[test]
    fn maps_severity_words() {
        assert_eq!(severity("ERROR"), Severity::Error);
        assert_eq!(severity("warning"), Severity::Warning);
        assert_eq!(severity("note"), Severity::Note);
        assert_eq!(severity("info"), Severity::Note);
        assert_eq!(severity("hint"), Severity::Note);
        assert_eq!(severity("remark"), Severity::Note);
        assert_eq!(severity("convention"), Severity::Note);
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
