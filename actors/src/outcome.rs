//! The values a validation produces: findings and per-(file, validator) outcomes.
//!
//! These types cross every boundary in verdict: they travel in actor messages,
//! are encoded with bincode into the RocksDB cache and with serde_json onto the
//! command channel. A failed validation, a timeout or a skip is an [`Outcome`]
//! value, never an `Err`.

use serde::{Deserialize, Serialize};

/// How serious a finding is. Maps onto SARIF's `level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Must be fixed.
    Error,
    /// Should be looked at.
    Warning,
    /// Informational.
    Note,
}

/// One problem a validator found in one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// 1-based line, when the validator can tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column (in characters of the line as UTF-8, bytes where not UTF-8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// How serious it is.
    pub severity: Severity,
    /// A short identifier of the rule that fired (`trailing-whitespace`, `SC2086`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// What is wrong, in one line.
    pub message: String,
}

impl Finding {
    /// An error-severity finding at a position.
    pub fn error(line: Option<u32>, column: Option<u32>, message: impl Into<String>) -> Self {
        Finding { line, column, severity: Severity::Error, rule: None, message: message.into() }
    }

    /// Sets the rule identifier.
    pub fn with_rule(mut self, rule: impl Into<String>) -> Self {
        self.rule = Some(rule.into());
        self
    }

    /// verdict's note that `n` more findings (of `severity` at worst) were
    /// found than are listed: "… and `n` more `what`".
    pub fn more(n: u64, severity: Severity, what: &str) -> Self {
        Finding {
            line: None,
            column: None,
            severity,
            rule: Some(NOTICE_MORE.to_owned()),
            message: format!("{MORE_PREFIX}{n} more {what}"),
        }
    }

    /// How many findings this stands for: a finding one, verdict's
    /// [`more`](Finding::more) note the findings it says were left out,
    /// verdict's other notes none.
    pub fn stands_for(&self) -> u64 {
        match self.rule.as_deref() {
            Some(NOTICE_MORE) => self
                .message
                .strip_prefix(MORE_PREFIX)
                .and_then(|rest| rest.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            _ if self.is_notice() => 0,
            _ => 1,
        }
    }

    /// Whether this is verdict's own note on a list of findings (its rule
    /// is one of the `verdict:` ones), not a finding of the file: SARIF
    /// writes it as a notification.
    pub fn is_notice(&self) -> bool {
        self.rule.as_deref().is_some_and(|r| r.starts_with(NOTICE_PREFIX))
    }
}

/// The rule ids of verdict's own notes on a list of findings.
pub(crate) const NOTICE_PREFIX: &str = "verdict:";
/// More findings than are kept: "… and N more findings not listed".
pub const NOTICE_MORE: &str = "verdict:more";
/// How a [`NOTICE_MORE`] note's message begins, before its count.
const MORE_PREFIX: &str = "… and ";

/// How many findings a list stands for: those listed, and those its
/// "… and N more" note says were left out (see [`Finding::stands_for`]).
pub fn count_findings(findings: &[Finding]) -> u64 {
    findings.iter().map(Finding::stands_for).sum()
}
/// The tool's output was cut at `max_output`: findings may be missing. A
/// verdict holding one is not cached (another batch, or a larger
/// `max_output`, may complete it).
pub const NOTICE_OUTPUT_CUT: &str = "verdict:output-cut";
/// The tool failed after reporting these findings: there may be more. A
/// verdict holding one is not cached (the tool is run again next time).
pub const NOTICE_TOOL_FAILED: &str = "verdict:tool-failed";

/// What a validator computed for one file: the only outcomes that are cached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Verdict {
    /// No problems.
    Passed,
    /// One or more problems.
    Findings {
        /// The problems, in file order.
        findings: Vec<Finding>,
    },
}

impl Verdict {
    /// `Passed` when `findings` is empty, `Findings` otherwise.
    pub fn from_findings(findings: Vec<Finding>) -> Self {
        if findings.is_empty() { Verdict::Passed } else { Verdict::Findings { findings } }
    }
}

/// The result cache's encoding of a [`Verdict`]: plain serde data, with no
/// internal tags and no skipped fields, because bincode (which is not
/// self-describing) supports neither. An empty list is a pass.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredVerdict(pub Vec<StoredFinding>);

/// A [`Finding`] as stored in the cache (every field always present).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFinding {
    /// See [`Finding::line`].
    pub line: Option<u32>,
    /// See [`Finding::column`].
    pub column: Option<u32>,
    /// See [`Finding::severity`].
    pub severity: Severity,
    /// See [`Finding::rule`].
    pub rule: Option<String>,
    /// See [`Finding::message`].
    pub message: String,
}

impl From<&Verdict> for StoredVerdict {
    fn from(v: &Verdict) -> Self {
        match v {
            Verdict::Passed => StoredVerdict(Vec::new()),
            Verdict::Findings { findings } => StoredVerdict(
                findings
                    .iter()
                    .map(|f| StoredFinding {
                        line: f.line,
                        column: f.column,
                        severity: f.severity,
                        rule: f.rule.clone(),
                        message: f.message.clone(),
                    })
                    .collect(),
            ),
        }
    }
}

impl From<StoredVerdict> for Verdict {
    fn from(s: StoredVerdict) -> Self {
        Verdict::from_findings(
            s.0.into_iter()
                .map(|f| Finding {
                    line: f.line,
                    column: f.column,
                    severity: f.severity,
                    rule: f.rule,
                    message: f.message,
                })
                .collect(),
        )
    }
}

/// The one outcome every selected (file, validator) pair gets in a check run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// The validator ran and found nothing.
    Passed,
    /// The validator ran and found problems.
    Findings {
        /// The problems, in file order.
        findings: Vec<Finding>,
    },
    /// The validator could not produce a verdict (crash, missing executable,
    /// unparsable output, quarantine, unreadable file, …).
    Error {
        /// Why, in one line.
        reason: String,
    },
    /// The job exceeded its deadline; the validator was killed and restarted.
    TimedOut {
        /// The deadline that expired, in milliseconds.
        after_ms: u64,
    },
    /// The pair was not run (an open breaker, a cancelled run, a validator that
    /// hung earlier in the same run, …).
    Skipped {
        /// Why, in one line.
        reason: String,
    },
    /// Taken from the result cache instead of being computed again.
    Cached {
        /// The verdict computed earlier.
        verdict: Verdict,
    },
}

impl From<Verdict> for Outcome {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::Passed => Outcome::Passed,
            Verdict::Findings { findings } => Outcome::Findings { findings },
        }
    }
}

impl Outcome {
    /// An `Error` outcome.
    pub fn error(reason: impl Into<String>) -> Self {
        Outcome::Error { reason: reason.into() }
    }

    /// A `Skipped` outcome.
    pub fn skipped(reason: impl Into<String>) -> Self {
        Outcome::Skipped { reason: reason.into() }
    }

    /// The verdict to store in the cache, if this outcome may be cached
    /// (passed and findings only; never errors, timeouts or skips).
    pub fn cacheable(&self) -> Option<Verdict> {
        match self {
            Outcome::Passed => Some(Verdict::Passed),
            Outcome::Findings { findings } if self.is_verdict() => {
                Some(Verdict::Findings { findings: findings.clone() })
            }
            _ => None,
        }
    }

    /// Whether this outcome is a verdict on the file ([`Outcome::cacheable`]
    /// without the copy).
    pub fn is_verdict(&self) -> bool {
        match self {
            Outcome::Passed => true,
            // A failed run's findings are not the file's verdict, nor a
            // list the tool's output was cut in (another batch, or a larger
            // `max_output`, may complete it).
            Outcome::Findings { findings } => {
                !findings.iter().any(|f| matches!(f.rule.as_deref(), Some(NOTICE_TOOL_FAILED | NOTICE_OUTPUT_CUT)))
            }
            _ => false,
        }
    }

    /// The findings this outcome carries, directly or from the cache.
    pub fn findings(&self) -> &[Finding] {
        match self {
            Outcome::Findings { findings } | Outcome::Cached { verdict: Verdict::Findings { findings } } => findings,
            _ => &[],
        }
    }

    /// The outcome's kind as a stable lower-case word (`passed`, `findings`,
    /// `error`, `timed_out`, `skipped`, `cached`).
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Outcome::Passed => OutcomeKind::Passed,
            Outcome::Findings { .. } => OutcomeKind::Findings,
            Outcome::Error { .. } => OutcomeKind::Error,
            Outcome::TimedOut { .. } => OutcomeKind::TimedOut,
            Outcome::Skipped { .. } => OutcomeKind::Skipped,
            Outcome::Cached { .. } => OutcomeKind::Cached,
        }
    }
}

/// The kinds of [`Outcome`], for counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// See [`Outcome::Passed`].
    Passed,
    /// See [`Outcome::Findings`].
    Findings,
    /// See [`Outcome::Error`].
    Error,
    /// See [`Outcome::TimedOut`].
    TimedOut,
    /// See [`Outcome::Skipped`].
    Skipped,
    /// See [`Outcome::Cached`].
    Cached,
}

impl OutcomeKind {
    /// Every kind, in report order.
    pub const ALL: [OutcomeKind; 6] = [
        OutcomeKind::Passed,
        OutcomeKind::Findings,
        OutcomeKind::Cached,
        OutcomeKind::Error,
        OutcomeKind::TimedOut,
        OutcomeKind::Skipped,
    ];

    /// The stable lower-case word for this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Passed => "passed",
            OutcomeKind::Findings => "findings",
            OutcomeKind::Error => "error",
            OutcomeKind::TimedOut => "timed_out",
            OutcomeKind::Skipped => "skipped",
            OutcomeKind::Cached => "cached",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_passed_and_findings_are_cacheable() {
        assert_eq!(Outcome::Passed.cacheable(), Some(Verdict::Passed));
        assert!(Outcome::error("x").cacheable().is_none());
        assert!(Outcome::TimedOut { after_ms: 5 }.cacheable().is_none());
        assert!(Outcome::skipped("x").cacheable().is_none());
        // A list the tool did not finish is not the file's verdict.
        let listed = |rule: &str| Outcome::Findings {
            findings: vec![Finding::error(Some(1), None, "bad"), Finding::error(None, None, "note").with_rule(rule)],
        };
        assert!(listed(NOTICE_MORE).cacheable().is_some());
        assert!(listed(NOTICE_TOOL_FAILED).cacheable().is_none());
        assert!(listed(NOTICE_OUTPUT_CUT).cacheable().is_none());
    }

    /// The count of a list with a "… and N more" note is the findings
    /// listed and the N left out; verdict's other notes are not findings.
    #[test]
    fn a_list_counts_the_findings_its_note_says_were_left_out() {
        let bad = || Finding::error(Some(1), None, "bad");
        let more = Finding::more(400, Severity::Warning, "findings not listed (at most 100 are kept)");
        assert_eq!(more.message, "… and 400 more findings not listed (at most 100 are kept)");
        let failed = Finding::error(None, None, "exit 2").with_rule(NOTICE_TOOL_FAILED);
        assert_eq!(count_findings(&[bad(), bad(), more.clone(), failed.clone()]), 402);
        assert_eq!(count_findings(&[bad(), failed]), 1);
        // A tool's own finding worded as the note is one finding.
        assert_eq!(Finding::error(None, None, more.message.clone()).stands_for(), 1);
    }

    #[test]
    fn verdicts_round_trip_through_bincode_as_stored_verdicts() {
        let cfg = bincode::config::standard();
        for v in [
            Verdict::Passed,
            Verdict::Findings {
                findings: vec![
                    Finding::error(Some(3), None, "bad").with_rule("r"),
                    Finding { line: None, column: Some(2), severity: Severity::Note, rule: None, message: "n".into() },
                ],
            },
        ] {
            let bytes = bincode::serde::encode_to_vec(StoredVerdict::from(&v), cfg).unwrap();
            let (back, _): (StoredVerdict, usize) = bincode::serde::decode_from_slice(&bytes, cfg).unwrap();
            assert_eq!(Verdict::from(back), v);
        }
        // The tagged JSON shape itself is not bincode-compatible: that is why
        // the cache stores StoredVerdict.
        let tagged = bincode::serde::encode_to_vec(Verdict::Passed, cfg).unwrap();
        assert!(bincode::serde::decode_from_slice::<Verdict, _>(&tagged, cfg).is_err());
    }

    #[test]
    fn json_shape_is_tagged_by_status() {
        let o = Outcome::Findings { findings: vec![Finding::error(Some(3), Some(1), "bad")] };
        let v = serde_json::to_value(&o).unwrap();
        assert_eq!(v["status"], "findings");
        assert_eq!(v["findings"][0]["line"], 3);
        let back: Outcome = serde_json::from_value(v).unwrap();
        assert_eq!(back, o);
    }
}
