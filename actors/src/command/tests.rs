//! Tests with real processes (`sh -c` scripts in temporary directories).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::pin::pin;
use std::time::Duration;

use regex::Regex;
use tempfile::TempDir;

use super::*;
use crate::outcome::{Finding, Severity};
use crate::process::tests::{alive, read_pids, wait_dead};

/// argv running `script` with `sh -c`; the batch's files become `$1`, `$2`, …
fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into(), "sh".into()]
}

fn files(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn spec(dir: &TempDir, argv: Vec<String>, parser: OutputParser) -> CommandSpec {
    CommandSpec::new(argv, parser, dir.path())
}

fn reason(o: &Outcome) -> &str {
    match o {
        Outcome::Error { reason } => reason,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn gcc_style() -> Regex {
    Regex::new(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<severity>\w+): (?P<message>.*?)(?: \[(?P<code>[\w-]+)\])?$")
        .unwrap()
}

/// The `exit_code` parser's message is one line with its blanks joined,
/// as the other parsers' are.
#[tokio::test]
async fn an_exit_code_message_has_its_blanks_joined() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(&dir, sh("printf 'bad\\t tab   and  runs\\n'; exit 1"), OutputParser::ExitCode);
    let out = run(&s, &files(&["a.txt"]), &ProcessRegistry::new()).await;
    assert_eq!(out[0].findings()[0].message, "exited with status 1: bad tab and runs", "{out:?}");
}

/// A line number past `u32` (or 0) is no line, and the column on it is no
/// column either: not a column with no line, which a report shows as `-:5`.
#[tokio::test]
async fn a_column_without_a_usable_line_is_dropped_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let script = r#"echo "a.txt:99999999999:5: error: far"; echo "a.txt:0:3: error: nowhere"; exit 1"#;
    let s = spec(&dir, sh(script), OutputParser::Regex(gcc_style()));
    let out = run(&s, &files(&["a.txt"]), &ProcessRegistry::new()).await;
    let at: Vec<(Option<u32>, Option<u32>)> = out[0].findings().iter().map(|f| (f.line, f.column)).collect();
    assert_eq!(at, [(None, None), (None, None)], "{out:?}");
}

#[tokio::test]
async fn regex_attributes_findings_across_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let script = r#"
        echo "./a.txt:3:5: warning: trailing space [W001]"
        echo "$PWD/b.txt:1:1: error: bad header"
        echo "elsewhere.txt:1:1: error: not in this batch"
        echo "a.txt:1:2: info: first line"
        echo "progress: 3 files" >&2
        echo "b.txt:7:1: fatal: on stderr" >&2
        exit 1
    "#;
    let s = spec(&dir, sh(script), OutputParser::Regex(gcc_style()));
    let out = run(&s, &files(&["a.txt", "b.txt", "c.txt"]), &ProcessRegistry::new()).await;
    assert_eq!(out.len(), 3);
    assert_eq!(
        out[0],
        Outcome::Findings {
            findings: vec![
                Finding {
                    line: Some(1),
                    column: Some(2),
                    severity: Severity::Note,
                    rule: None,
                    message: "first line".into()
                },
                Finding {
                    line: Some(3),
                    column: Some(5),
                    severity: Severity::Warning,
                    rule: Some("W001".into()),
                    message: "trailing space".into()
                },
            ]
        }
    );
    assert_eq!(
        out[1],
        Outcome::Findings {
            findings: vec![
                Finding::error(Some(1), Some(1), "bad header"),
                Finding::error(Some(7), Some(1), "on stderr")
            ]
        }
    );
    assert_eq!(out[2], Outcome::Passed);
}

/// A pattern that matches an empty line finds nothing in empty output, nor
/// after the last line feed, as `str::lines` reads lines.
#[tokio::test]
async fn a_pattern_matching_empty_lines_finds_nothing_in_a_clean_run() {
    let dir = tempfile::tempdir().unwrap();
    let any = Regex::new(r"^(?P<message>.*)$").unwrap();
    let quiet = spec(&dir, sh("true"), OutputParser::Regex(any.clone()));
    assert_eq!(run(&quiet, &files(&["a.txt"]), &ProcessRegistry::new()).await, [Outcome::Passed]);
    let one = spec(&dir, sh("echo said; echo"), OutputParser::Regex(any));
    let Outcome::Findings { findings } = &run(&one, &files(&["a.txt"]), &ProcessRegistry::new()).await[0] else {
        panic!("no findings")
    };
    let said: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(said, ["said", ""], "the empty line the tool printed is one, the end is not");
}

/// A carriage return alone ends a line, as a line feed does: the finding a
/// tool prints after redrawing a progress line is found (CRLF stays one
/// line end).
#[tokio::test]
async fn a_finding_after_a_redrawn_progress_line_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let script =
        r#"printf 'checking 1/2\rchecking 2/2\ra.txt:3:5: error: bad\r\nb.txt:1:1: warning: worse\r\n'; exit 1"#;
    let s = spec(&dir, sh(script), OutputParser::Regex(gcc_style()));
    let out = run(&s, &files(&["a.txt", "b.txt"]), &ProcessRegistry::new()).await;
    assert_eq!(out[0], Outcome::Findings { findings: vec![Finding::error(Some(3), Some(5), "bad")] }, "{out:?}");
    let Outcome::Findings { findings } = &out[1] else { panic!("{out:?}") };
    assert_eq!((findings[0].line, findings[0].message.as_str()), (Some(1), "worse"));
}

#[tokio::test]
async fn regex_without_a_file_group_needs_a_single_file() {
    let dir = tempfile::tempdir().unwrap();
    let re = Regex::new(r"^line (?P<line>\d+): (?P<message>.*)$").unwrap();
    let s = spec(&dir, sh("echo 'line 4: too long'; exit 1"), OutputParser::Regex(re));
    let registry = ProcessRegistry::new();

    let one = run(&s, &files(&["x.md"]), &registry).await;
    assert_eq!(one, vec![Outcome::Findings { findings: vec![Finding::error(Some(4), None, "too long")] }]);

    let two = run(&s, &files(&["x.md", "y.md"]), &registry).await;
    assert_eq!(two.len(), 2);
    assert!(reason(&two[0]).contains("no `file` group"), "{two:?}");
    assert_eq!(two[0], two[1]);
}

#[tokio::test]
async fn regex_failure_without_findings_is_an_error_and_success_passes() {
    let dir = tempfile::tempdir().unwrap();
    let registry = ProcessRegistry::new();
    let crashed = spec(&dir, sh("echo 'Traceback: boom' >&2; exit 1"), OutputParser::Regex(gcc_style()));
    let out = run(&crashed, &files(&["a.txt", "b.txt"]), &registry).await;
    assert_eq!(reason(&out[0]), "exited with status 1 and reported no parsable findings: Traceback: boom");
    assert_eq!(out[0], out[1]);
    // A status that findings_exit_codes does not list is a failure, said so.
    let crashed = spec(&dir, sh("echo 'Traceback: boom' >&2; exit 3"), OutputParser::Regex(gcc_style()));
    let out = run(&crashed, &files(&["a.txt", "b.txt"]), &registry).await;
    assert_eq!(
        reason(&out[0]),
        "the tool failed: exited with status 3, which findings_exit_codes ([1]) does not list as findings: Traceback: boom"
    );
    assert_eq!(out[0], out[1]);

    let clean = spec(&dir, sh("echo 'all good'"), OutputParser::Regex(gcc_style()));
    assert_eq!(run(&clean, &files(&["a.txt", "b.txt"]), &registry).await, vec![Outcome::Passed, Outcome::Passed]);
}

/// A tool's rule under verdict's own `verdict:` prefix is the tool's, not
/// one of verdict's notes (which SARIF makes notifications, and which make
/// a verdict uncacheable): it is given `tool:` in front.
#[tokio::test]
async fn a_tools_rule_under_verdicts_prefix_stays_the_tools() {
    let dir = tempfile::tempdir().unwrap();
    let registry = ProcessRegistry::new();
    let re = Regex::new(
        r"^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<severity>\w+): (?P<message>.*?) \[(?P<rule>[^\]]+)\]$",
    )
    .unwrap();
    let tool =
        spec(&dir, sh("echo \"$1:1:1: error: real problem [verdict:tool-failed]\"; exit 1"), OutputParser::Regex(re));
    let sarif = serde_json::json!({
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "t"}}, "results": [
            {"ruleId": "verdict:more", "level": "error", "message": {"text": "also real"},
             "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.txt"}, "region": {"startLine": 2}}}]}
        ]}]
    });
    std::fs::write(dir.path().join("out.sarif"), sarif.to_string()).unwrap();
    let sarif_tool = spec(&dir, sh("cat out.sarif; exit 1"), OutputParser::Sarif);
    for (tool, rule) in [(tool, "tool:verdict:tool-failed"), (sarif_tool, "tool:verdict:more")] {
        let out = run(&tool, &files(&["a.txt"]), &registry).await;
        let Outcome::Findings { findings } = &out[0] else { panic!("{out:?}") };
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].rule.as_deref(), Some(rule));
        assert!(!findings[0].is_notice());
        assert!(out[0].cacheable().is_some(), "{out:?}");
    }
}

#[tokio::test]
async fn sarif_relative_base_and_file_uris() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display().to_string();
    let sarif = serde_json::json!({
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "t", "rules": [
                {"id": "R-default", "defaultConfiguration": {"level": "error"}}
            ]}},
            "originalUriBaseIds": {"SRCROOT": {"uri": format!("file://{root}/")}},
            "results": [
                {"ruleId": "R1", "level": "warning", "message": {"text": "relative\nuri"},
                 "locations": [{"physicalLocation": {"artifactLocation": {"uri": "src/a.rs"},
                                                     "region": {"startLine": 12, "startColumn": 4}}}]},
                {"ruleId": "R2", "level": "note", "message": {"text": "absolute file uri"},
                 "locations": [{"physicalLocation": {"artifactLocation": {"uri": format!("file://{root}/b%20c.txt")},
                                                     "region": {"startLine": 2}}}]},
                {"ruleId": "R-default", "message": {"text": "with a base id"},
                 "locations": [{"physicalLocation": {"artifactLocation": {"uri": "src/a.rs", "uriBaseId": "SRCROOT"},
                                                     "region": {"startLine": 1}}}]},
                {"ruleId": "R3", "level": "error", "message": {"text": "not in the batch"},
                 "locations": [{"physicalLocation": {"artifactLocation": {"uri": "other.rs"}}}]},
                {"ruleId": "R4", "kind": "pass", "level": "none", "message": {"text": "passed check"},
                 "locations": [{"physicalLocation": {"artifactLocation": {"uri": "d.txt"}}}]}
            ]
        }]
    });
    std::fs::write(dir.path().join("out.sarif"), sarif.to_string()).unwrap();
    // A failing exit with findings for the checked files: the findings.
    let s = spec(&dir, sh("cat out.sarif; exit 1"), OutputParser::Sarif);
    let out = run(&s, &files(&["src/a.rs", "./b c.txt", "d.txt"]), &ProcessRegistry::new()).await;
    assert_eq!(
        out,
        vec![
            Outcome::Findings {
                findings: vec![
                    Finding::error(Some(1), None, "with a base id").with_rule("R-default"),
                    Finding {
                        line: Some(12),
                        column: Some(4),
                        severity: Severity::Warning,
                        rule: Some("R1".into()),
                        message: "relative uri".into()
                    },
                ]
            },
            Outcome::Findings {
                findings: vec![Finding {
                    line: Some(2),
                    column: None,
                    severity: Severity::Note,
                    rule: Some("R2".into()),
                    message: "absolute file uri".into()
                }]
            },
            Outcome::Passed,
        ]
    );
}

/// Relative URIs a tool run in the project root may write: one climbing
/// out of the root and back in names the file inside; a name with a colon
/// written unescaped (`b:c.txt`, a URI of scheme `b` by the letter) names
/// the batch's file so named. Neither file passes. A URI of another scheme
/// that names no file of the batch is about none.
#[tokio::test]
async fn sarif_uris_back_into_the_root_and_names_with_colons() {
    let dir = tempfile::tempdir().unwrap();
    let name = dir.path().file_name().unwrap().to_str().unwrap().to_owned();
    let result = |uri: &str, text: &str| {
        serde_json::json!({"ruleId": "R", "level": "error", "message": {"text": text},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}, "region": {"startLine": 1}}}]})
    };
    let sarif = serde_json::json!({
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "t"}},
            "results": [
                result(&format!("../{name}/f3.txt"), "back in"),
                result("b:c.txt", "colon"),
                result("https://example.com/f1.txt", "elsewhere"),
            ]
        }]
    });
    std::fs::write(dir.path().join("out.sarif"), sarif.to_string()).unwrap();
    let s = spec(&dir, sh("cat out.sarif; exit 1"), OutputParser::Sarif);
    let out = run(&s, &files(&["f3.txt", "b:c.txt", "f1.txt"]), &ProcessRegistry::new()).await;
    assert_eq!(out[0], Outcome::Findings { findings: vec![Finding::error(Some(1), None, "back in").with_rule("R")] });
    assert_eq!(out[1], Outcome::Findings { findings: vec![Finding::error(Some(1), None, "colon").with_rule("R")] });
    assert_eq!(out[2], Outcome::Passed, "{out:?}");
}

/// A name ending in a line break is printed split: its finding's second
/// half names no file. The file is not passed (its tool exited 0 with
/// findings, warnings say), and the other file keeps its own finding.
#[tokio::test]
async fn a_name_split_by_a_line_break_is_never_passed() {
    let dir = tempfile::tempdir().unwrap();
    let re = Regex::new(r"^(?P<file>[^:]*):(?P<line>\d+): (?P<message>.*)$").unwrap();
    let s = spec(&dir, sh(r#"for f; do echo "$f:1: bad"; done"#), OutputParser::Regex(re));
    let out = run(&s, &files(&["a.txt", "b\n"]), &ProcessRegistry::new()).await;
    assert_eq!(out[0], Outcome::Findings { findings: vec![Finding::error(Some(1), None, "bad")] });
    assert!(reason(&out[1]).contains("holds a line break"), "{out:?}");
}

/// A SARIF log's columns count UTF-16 code units unless its run says
/// `unicodeCodePoints`; verdict's count characters. They differ after a
/// character outside the Basic Multilingual Plane: such a column is
/// counted again on the file's line.
#[tokio::test]
async fn sarif_columns_in_utf16_units_are_counted_in_characters() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "first\n\u{1F600}xy = 1\n").unwrap();
    let log = |kind: Option<&str>, column: u32| {
        let mut run = serde_json::json!({
            "tool": {"driver": {"name": "t"}},
            "results": [{"ruleId": "R", "message": {"text": "y"},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.txt"},
                    "region": {"startLine": 2, "startColumn": column}}}]}]
        });
        if let Some(kind) = kind {
            run["columnKind"] = kind.into();
        }
        serde_json::json!({"version": "2.1.0", "runs": [run]}).to_string()
    };
    // `y`: column 4 in UTF-16 units (the emoji takes two), 3 in characters.
    // Without a `columnKind`, SARIF 2.1.0 means code points.
    for (kind, column, expected) in [(Some("utf16CodeUnits"), 4, 3), (None, 3, 3), (Some("unicodeCodePoints"), 3, 3)] {
        std::fs::write(dir.path().join("out.sarif"), log(kind, column)).unwrap();
        let s = spec(&dir, sh("cat out.sarif; exit 1"), OutputParser::Sarif);
        let out = run(&s, &files(&["a.txt"]), &ProcessRegistry::new()).await;
        assert_eq!(out[0].findings()[0].column, Some(expected), "{kind:?}");
    }
    // A byte order mark is no character of line 1, as verdict counts.
    std::fs::write(dir.path().join("a.txt"), "\u{feff}first\n\u{1F600}xy = 1\n").unwrap();
    std::fs::write(
        dir.path().join("out.sarif"),
        log(Some("utf16CodeUnits"), 4).replace("\"startLine\":2", "\"startLine\":1"),
    )
    .unwrap();
    let s = spec(&dir, sh("cat out.sarif; exit 1"), OutputParser::Sarif);
    let out = run(&s, &files(&["a.txt"]), &ProcessRegistry::new()).await;
    assert_eq!(out[0].findings()[0].column, Some(4), "no emoji before it on line 1");
    // `x`: column 3 in UTF-16 units, 2 in characters (3 with the BOM).
    std::fs::write(dir.path().join("a.txt"), "\u{feff}\u{1F600}xy = 1\n").unwrap();
    std::fs::write(
        dir.path().join("out.sarif"),
        log(Some("utf16CodeUnits"), 3).replace("\"startLine\":2", "\"startLine\":1"),
    )
    .unwrap();
    let out = run(&s, &files(&["a.txt"]), &ProcessRegistry::new()).await;
    assert_eq!(out[0].findings()[0].column, Some(2), "the BOM not counted");
    // A checked file made a FIFO meanwhile is not waited on.
    std::fs::remove_file(dir.path().join("a.txt")).unwrap();
    nix::unistd::mkfifo(&dir.path().join("a.txt"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let out = run(&s, &files(&["a.txt"]), &ProcessRegistry::new()).await;
    assert_eq!(out[0].findings()[0].column, Some(3), "the log's own column");
    assert_eq!(super::parse::utf16_column_in_chars("\u{1F600}xy", 1), 1);
    assert_eq!(super::parse::utf16_column_in_chars("\u{1F600}xy", 3), 2);
    assert_eq!(super::parse::utf16_column_in_chars("ab", 5), 5, "past the end: as many more");
}

/// A run the SARIF log says failed, and a failing exit with no finding for
/// the checked files, are errors: a pass would be cached.
#[tokio::test]
async fn sarif_of_a_failed_run_is_an_error_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let registry = ProcessRegistry::new();
    let f = files(&["a.txt", "b.txt"]);
    let failed = serde_json::json!({"version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "t"}},
        "invocations": [{"executionSuccessful": false, "exitCode": 7, "toolExecutionNotifications": [
            {"level": "note", "message": {"text": "starting"}},
            {"level": "error", "message": {"text": "could not load\nrules config"}}
        ]}],
        "results": []
    }]});
    std::fs::write(dir.path().join("failed.sarif"), failed.to_string()).unwrap();
    let s = spec(&dir, sh("cat failed.sarif; exit 7"), OutputParser::Sarif);
    let out = run(&s, &f, &registry).await;
    for o in &out {
        let r = reason(o);
        assert!(r.contains("executionSuccessful: false") && r.ends_with(": could not load rules config"), "{r}");
    }

    let unplaced = serde_json::json!({"version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "t"}},
        "results": [{"ruleId": "NL", "level": "error", "message": {"text": "no location"}}]
    }]});
    std::fs::write(dir.path().join("unplaced.sarif"), unplaced.to_string()).unwrap();
    let s = spec(&dir, sh("cat unplaced.sarif; echo 'fatal: x' >&2; exit 1"), OutputParser::Sarif);
    let out = run(&s, &f, &registry).await;
    for o in &out {
        let r = reason(o);
        assert!(
            r.starts_with("exited with status 1 and reported no findings") && r.contains("1 without a location"),
            "{r}"
        );
        assert!(r.ends_with(": fatal: x"), "{r}");
    }
    // The same log with a clean exit: nothing for these files, which pass.
    let s = spec(&dir, sh("cat unplaced.sarif"), OutputParser::Sarif);
    assert_eq!(run(&s, &f, &registry).await, vec![Outcome::Passed, Outcome::Passed]);

    // Results for other files only (a URI relative to a base the log does
    // not define is read from the project root): said with the count.
    let elsewhere = serde_json::json!({"version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "t"}},
        "results": [{"ruleId": "X", "level": "error", "message": {"text": "m"},
                     "locations": [{"physicalLocation": {"artifactLocation": {"uri": "other.txt"}}}]}]
    }]});
    std::fs::write(dir.path().join("elsewhere.sarif"), elsewhere.to_string()).unwrap();
    let s = spec(&dir, sh("cat elsewhere.sarif; exit 1"), OutputParser::Sarif);
    for o in run(&s, &f, &registry).await {
        assert!(reason(&o).contains("(1 naming files outside the batch, or none of the project's)"), "{o:?}");
    }
}

#[tokio::test]
async fn sarif_that_is_not_sarif_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let registry = ProcessRegistry::new();
    let f = files(&["a.txt"]);

    let not_json = spec(&dir, sh("echo 'not json'; echo 'usage: tool' >&2; exit 2"), OutputParser::Sarif);
    let r = run(&not_json, &f, &registry).await;
    let r = reason(&r[0]);
    assert!(r.starts_with("invalid SARIF output: "), "{r}");
    assert!(r.contains("exited with status 2: usage: tool"), "{r}");

    let not_utf8 = spec(&dir, sh(r#"printf '{"runs": ["\377"]}'"#), OutputParser::Sarif);
    let r = run(&not_utf8, &f, &registry).await;
    assert!(reason(&r[0]).starts_with("invalid SARIF output: not UTF-8"), "{r:?}");

    let empty = spec(&dir, sh("true"), OutputParser::Sarif);
    let r = run(&empty, &f, &registry).await;
    assert_eq!(reason(&r[0]), "invalid SARIF output: no output");
}

#[tokio::test]
async fn exit_code_pass_and_fail() {
    let dir = tempfile::tempdir().unwrap();
    let registry = ProcessRegistry::new();
    let pass = spec(&dir, sh("echo fine"), OutputParser::ExitCode);
    assert_eq!(run(&pass, &files(&["a"]), &registry).await, vec![Outcome::Passed]);

    let fail = spec(&dir, sh("echo; echo '  first problem  '; echo second; exit 4"), OutputParser::ExitCode);
    let out = run(&fail, &files(&["a", "b"]), &registry).await;
    let expected =
        Outcome::Findings { findings: vec![Finding::error(None, None, "exited with status 4: first problem")] };
    assert_eq!(out, vec![expected.clone(), expected]);

    let silent = spec(&dir, sh("exit 1"), OutputParser::ExitCode);
    assert_eq!(
        run(&silent, &files(&["a"]), &registry).await,
        vec![Outcome::Findings { findings: vec![Finding::error(None, None, "exited with status 1")] }]
    );

    let long = spec(&dir, sh("printf '%0500d\\n' 0 >&2; exit 1"), OutputParser::ExitCode);
    let out = run(&long, &files(&["a"]), &registry).await;
    assert!(out[0].findings()[0].message.chars().count() < 240, "{out:?}");
}

/// What decides that a tool is missing without a start (a fork of the
/// daemon per file, see `exec::execute`): nothing on the PATH names it. A
/// name there, executable or not, a path with a `/`, or no PATH at all, is
/// left to the start.
#[test]
fn a_tool_absent_from_every_path_directory_is_missing_without_a_start() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::write(bin.join("plain"), "not a program\n").unwrap();
    let search = std::env::join_paths([Path::new("/nonexistent"), Path::new("bin")]).unwrap();
    let absent = |name: &str, search: Option<&std::ffi::OsStr>| exec::absent_from(name, search, dir.path());
    assert!(absent("verdict-no-such-tool", Some(&search)));
    // Relative PATH entries are read from the working directory.
    assert!(!absent("plain", Some(&search)));
    assert!(!absent("./verdict-no-such-tool", Some(&search)));
    assert!(!absent("verdict-no-such-tool", None));
}

#[tokio::test]
async fn missing_or_unrunnable_executables_are_errors_for_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let registry = ProcessRegistry::new();
    let missing = spec(&dir, vec!["verdict-no-such-tool".into(), "--check".into()], OutputParser::ExitCode);
    let out = run(&missing, &files(&["a", "b"]), &registry).await;
    assert_eq!(out, vec![Outcome::error("executable not found: verdict-no-such-tool"); 2]);

    let script = dir.path().join("tool.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let not_executable = spec(&dir, vec!["./tool.sh".into()], OutputParser::ExitCode);
    let out = run(&not_executable, &files(&["a"]), &registry).await;
    assert_eq!(out, vec![Outcome::error("permission denied: ./tool.sh")]);
    std::fs::create_dir(dir.path().join("adir")).unwrap();
    let a_directory = spec(&dir, vec!["./adir".into()], OutputParser::ExitCode);
    let out = run(&a_directory, &files(&["a"]), &registry).await;
    assert_eq!(out, vec![Outcome::error("cannot run ./adir: it is a directory")]);

    // Once executable, the relative program path resolves against the root.
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(run(&not_executable, &files(&["a"]), &registry).await, vec![Outcome::Passed]);
    assert!(registry.is_empty());
}

/// A tool killed by a signal failed, whatever it printed, as a status
/// findings_exit_codes does not list: a file it reported on keeps its
/// findings, with an error finding naming the signal; the others get that
/// error, never a pass.
#[tokio::test]
async fn death_by_signal_is_named_and_keeps_what_was_reported() {
    let dir = tempfile::tempdir().unwrap();
    let registry = ProcessRegistry::new();
    let killed = "killed by signal SIGSEGV";
    let incomplete = Finding::error(None, None, format!("{killed} (these findings may be incomplete)"))
        .with_rule(crate::outcome::NOTICE_TOOL_FAILED);
    let s = spec(&dir, sh("echo 'a:1:1: error: x'; kill -SEGV $$"), OutputParser::Regex(gcc_style()));
    let out = run(&s, &files(&["a", "b"]), &registry).await;
    assert_eq!(
        out,
        vec![
            Outcome::Findings { findings: vec![Finding::error(Some(1), Some(1), "x"), incomplete.clone()] },
            Outcome::error(killed)
        ]
    );
    assert!(out[0].cacheable().is_none(), "a killed run's findings are not the file's verdict");
    // Nothing printed: the signal, for every file, whatever statuses mean
    // findings.
    let silent =
        CommandSpec { findings_exit_codes: None, ..spec(&dir, sh("kill -SEGV $$"), OutputParser::Regex(gcc_style())) };
    assert_eq!(run(&silent, &files(&["a", "b"]), &registry).await, vec![Outcome::error(killed); 2]);
    let exit_code = spec(&dir, sh("echo 'a: bad'; kill -SEGV $$"), OutputParser::ExitCode);
    assert_eq!(run(&exit_code, &files(&["a"]), &registry).await, vec![Outcome::error(killed)]);

    // A whole SARIF log, then the signal.
    let sarif = serde_json::json!({
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "t"}}, "results": [
            {"ruleId": "R1", "level": "error", "message": {"text": "bad"},
             "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a"}, "region": {"startLine": 3}}}]}
        ]}]
    });
    std::fs::write(dir.path().join("out.sarif"), sarif.to_string()).unwrap();
    let s = spec(&dir, sh("cat out.sarif; kill -SEGV $$"), OutputParser::Sarif);
    let out = run(&s, &files(&["a", "b"]), &registry).await;
    assert_eq!(
        out,
        vec![
            Outcome::Findings { findings: vec![Finding::error(Some(3), None, "bad").with_rule("R1"), incomplete] },
            Outcome::error(killed)
        ]
    );
    // Half a log: invalid, and the signal said.
    let s = spec(&dir, sh("head -c 20 out.sarif; kill -SEGV $$"), OutputParser::Sarif);
    let out = run(&s, &files(&["a"]), &registry).await;
    assert!(reason(&out[0]).starts_with("invalid SARIF output: ") && reason(&out[0]).ends_with(killed), "{out:?}");
    assert!(registry.is_empty());
}

#[tokio::test]
async fn non_utf8_output_is_decoded_lossily() {
    let dir = tempfile::tempdir().unwrap();
    let registry = ProcessRegistry::new();
    let s = spec(&dir, sh(r"printf 'bad \377\376 byte\n'; exit 2"), OutputParser::ExitCode);
    let out = run(&s, &files(&["a"]), &registry).await;
    assert_eq!(out[0].findings()[0].message, "exited with status 2: bad \u{FFFD}\u{FFFD} byte");

    let s = spec(&dir, sh(r"printf 'a.txt:2:1: error: caf\351\n'; exit 1"), OutputParser::Regex(gcc_style()));
    let out = run(&s, &files(&["a.txt"]), &registry).await;
    assert_eq!(out[0].findings()[0].message, "caf\u{FFFD}");
}

/// The line an exit status is told with is one a person can read: of a
/// progress line redrawn with carriage returns, what a terminal shows (its
/// last part), and never one of NULs or bytes that are not UTF-8.
#[tokio::test]
async fn an_exit_status_is_told_with_a_legible_line() {
    let dir = tempfile::tempdir().unwrap();
    let registry = ProcessRegistry::new();
    for (script, said) in [
        (r"printf 'progress 10%%\rprogress 100%%\rreal failure\n' >&2; exit 1", "real failure"),
        (r"printf 'failed\r\n' >&2; exit 1", "failed"),
        (r"printf '\0\0\377\376\n' >&2; echo 'real error' >&2; exit 1", "real error"),
    ] {
        let s = spec(&dir, sh(script), OutputParser::ExitCode);
        let out = run(&s, &files(&["a"]), &registry).await;
        let message = &out[0].findings()[0].message;
        assert!(message.ends_with(&format!(": {said}")), "{script}: {message}");
    }
}

#[tokio::test]
async fn a_flooding_tool_finishes_with_bounded_capture() {
    let dir = tempfile::tempdir().unwrap();
    let registry = ProcessRegistry::new();
    let max = 1024 * 1024;
    let argv = sh("head -c 200000000 /dev/zero & head -c 50000000 /dev/zero >&2; wait");
    let e = exec::execute(&argv, &[], dir.path(), &[], max, &registry, exec::START_PATIENCE).await.unwrap();
    assert_eq!(e.status.code(), Some(0));
    assert_eq!(e.stdout.total, 200_000_000);
    assert_eq!(e.stderr.total, 50_000_000);
    assert!(e.stdout.bytes.len() <= max && e.stderr.bytes.len() <= max);
    assert!(e.stdout.bytes.capacity() <= 2 * max, "capture grew past its bound");
    assert!(e.stdout.truncated && e.stderr.truncated);
    assert!(!e.stdout.incomplete && !e.stderr.incomplete);

    let sarif = CommandSpec { max_output: max, ..spec(&dir, sh("head -c 5000000 /dev/zero"), OutputParser::Sarif) };
    let out = run(&sarif, &files(&["a"]), &registry).await;
    let r = reason(&out[0]);
    assert!(r.starts_with("invalid SARIF output") && r.contains("stdout truncated to 1048576 of 5000000 bytes"), "{r}");
}

#[tokio::test]
async fn truncated_regex_output_does_not_pass_unreported_files() {
    let dir = tempfile::tempdir().unwrap();
    // a.txt's finding is within the bound, b.txt's is past it.
    let script =
        "echo 'a.txt:1:1: error: early'; head -c 100000 /dev/zero | tr '\\0' x; echo; echo 'b.txt:1:1: error: late'";
    let s = CommandSpec { max_output: 1000, ..spec(&dir, sh(script), OutputParser::Regex(gcc_style())) };
    let out = run(&s, &files(&["a.txt", "b.txt"]), &ProcessRegistry::new()).await;
    // a.txt's list may be short of findings too: the last one says so.
    let a = out[0].findings();
    assert_eq!(a[0], Finding::error(Some(1), Some(1), "early"));
    assert_eq!((a.len(), a[1].severity, a[1].line), (2, Severity::Error, None), "{a:?}");
    assert!(a[1].message.contains("stdout truncated to 1000 of") && a[1].message.contains("may be missing"), "{a:?}");
    let r = reason(&out[1]);
    assert!(r.contains("stdout truncated to 1000 of") && r.contains("max_output"), "{r}");
}

#[tokio::test]
async fn terminate_all_kills_a_tool_that_ignores_sigterm_and_its_grandchild() {
    let dir = tempfile::tempdir().unwrap();
    let registry = ProcessRegistry::new();
    let script = "trap '' TERM; sleep 1000 & echo $$ > pids.tmp; echo $! >> pids.tmp; mv pids.tmp pids; wait";
    let s = spec(&dir, sh(script), OutputParser::ExitCode);
    let f = files(&["a"]);
    let mut running = pin!(run(&s, &f, &registry));

    // The caller's deadline expires; the future stays alive (not dropped).
    assert!(tokio::time::timeout(Duration::from_millis(300), &mut running).await.is_err());
    let pids = read_pids(&dir.path().join("pids"), 2);
    assert!(pids.iter().all(|&p| alive(p)));
    assert_eq!(registry.len(), 1);

    let grace = Duration::from_millis(200);
    let start = std::time::Instant::now();
    registry.terminate_all(grace).await;
    assert!(start.elapsed() >= grace, "SIGTERM was ignored, so the whole grace must pass");
    let out = tokio::time::timeout(Duration::from_secs(10), running).await.expect("run returns once killed");
    assert_eq!(out, vec![Outcome::error("killed by signal SIGKILL")]);
    assert_eq!(wait_dead(&pids, Duration::from_secs(5)), Vec::<i32>::new());
    assert!(registry.is_empty());
}

#[tokio::test]
async fn dropping_the_run_future_kills_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let registry = ProcessRegistry::new();
    let script = "trap '' TERM; sleep 1000 & echo $$ > pids.tmp; echo $! >> pids.tmp; mv pids.tmp pids; wait";
    let s = spec(&dir, sh(script), OutputParser::ExitCode);
    let f = files(&["a"]);
    // Dropped once the tool has started its child, however long that takes.
    let mut running = Box::pin(run(&s, &f, &registry));
    let pids_file = dir.path().join("pids");
    let started = async {
        while !pids_file.exists() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::select! {
        out = &mut running => panic!("the tool ended: {out:?}"),
        r = tokio::time::timeout(Duration::from_secs(10), started) => r.expect("the tool never started its child"),
    }
    drop(running);
    let pids = read_pids(&pids_file, 2);
    assert_eq!(wait_dead(&pids, Duration::from_secs(5)), Vec::<i32>::new());
    assert!(registry.is_empty());
}

#[tokio::test]
async fn leftover_background_processes_die_when_the_tool_exits() {
    let dir = tempfile::tempdir().unwrap();
    let registry = ProcessRegistry::new();
    // The background sleep keeps stdout open: run must not wait for it.
    let script = "sleep 1000 & echo $! > pid.tmp; mv pid.tmp pid; echo done";
    let s = spec(&dir, sh(script), OutputParser::ExitCode);
    let out = tokio::time::timeout(Duration::from_secs(10), run(&s, &files(&["a"]), &registry)).await.unwrap();
    assert_eq!(out, vec![Outcome::Passed]);
    let pid = read_pids(&dir.path().join("pid"), 1);
    assert_eq!(wait_dead(&pid, Duration::from_secs(5)), Vec::<i32>::new());
}

#[tokio::test]
async fn only_listed_environment_variables_pass_through() {
    let dir = tempfile::tempdir().unwrap();
    // Pick two variables of this process (cargo sets plenty): one listed, one not.
    let mut vars = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, v)| {
            k != "PATH"
                && !exec::sets_the_ctype(k)
                && !v.is_empty()
                && !v.contains('\n')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    let (listed, listed_value) = vars.next().expect("a variable to pass");
    let (unlisted, _) = vars.next().expect("a variable to withhold");
    let e = exec::execute(
        &["env".to_owned()],
        &[],
        dir.path(),
        std::slice::from_ref(&listed),
        1 << 20,
        &ProcessRegistry::new(),
        exec::START_PATIENCE,
    )
    .await
    .unwrap();
    let seen = String::from_utf8(e.stdout.bytes).unwrap();
    let names: Vec<&str> = seen.lines().filter_map(|l| l.split_once('=').map(|(k, _)| k)).collect();
    assert!(seen.lines().any(|l| l == format!("{listed}={listed_value}")), "{seen}");
    assert!(!names.contains(&unlisted.as_str()), "{unlisted} leaked: {seen}");
    assert!(names.contains(&"PATH"));
    let mut sorted = names.clone();
    sorted.sort_unstable();
    // And the run's mark, by which verdict finds the tool's processes, and
    // UTF-8 characters.
    assert_eq!(sorted, {
        let mut expected = vec!["PATH", crate::process::MARK_VAR, listed.as_str(), "LC_CTYPE"];
        expected.sort_unstable();
        expected
    });
    assert!(seen.lines().any(|l| l == "LC_CTYPE=C.UTF-8"), "{seen}");
}

/// A tool reads and prints UTF-8 whatever the daemon's locale (shellcheck
/// exits 1 on the first name that is not ASCII it prints in the C locale),
/// unless its `env` passes through a variable that decides that (`LANG`,
/// `LC_CTYPE`, `LC_ALL`): then it has the daemon's. Others (`LANGUAGE`,
/// `LC_MESSAGES`, iTerm2's `LC_TERMINAL`) do not take it away.
#[tokio::test]
async fn tools_run_in_a_utf8_locale_unless_env_passes_one() {
    let dir = tempfile::tempdir().unwrap();
    let run = |env: Vec<String>| {
        let dir = dir.path().to_owned();
        async move {
            let script = "printf '%s|%s|%s\\n' \"$(locale charmap)\" \"${LC_CTYPE-unset}\" \"${LANG-unset}\"";
            let e = exec::execute(&sh(script), &[], &dir, &env, 1 << 20, &ProcessRegistry::new(), exec::START_PATIENCE)
                .await
                .unwrap();
            String::from_utf8(e.stdout.bytes).unwrap()
        }
    };
    assert_eq!(run(vec![]).await, "UTF-8|C.UTF-8|unset\n");
    for other in ["LANGUAGE", "LC_MESSAGES", "LC_TERMINAL"] {
        assert!(run(vec![other.to_owned()]).await.starts_with("UTF-8|C.UTF-8|"), "{other}");
    }
    // A variable that decides it, listed but not set in the daemon's
    // environment, passes nothing: the default stays.
    if std::env::var_os("LC_ALL").is_none() {
        assert!(run(vec!["LC_ALL".to_owned()]).await.starts_with("UTF-8|C.UTF-8|"));
    }
    // `LANG` passed through (when this process has it): `LC_CTYPE` is left
    // to it, so the tool has the daemon's locale.
    let passed = run(vec!["LANG".to_owned()]).await;
    match std::env::var("LANG") {
        Ok(lang) => assert!(passed.ends_with(&format!("|unset|{lang}\n")), "{passed}"),
        Err(_) => assert!(passed.starts_with("UTF-8|C.UTF-8|unset"), "{passed}"),
    }
}

#[tokio::test]
async fn no_files_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(&dir, sh("touch ran"), OutputParser::ExitCode);
    assert!(run(&s, &[], &ProcessRegistry::new()).await.is_empty());
    assert!(!dir.path().join("ran").exists());
}

#[tokio::test]
async fn tool_version_returns_trimmed_output() {
    let dir = tempfile::tempdir().unwrap();
    let t = Duration::from_secs(10);
    let v = tool_version(&sh("printf '\\n  tool 1.2.3  \\n\\n'"), dir.path(), &[], t).await;
    assert_eq!(v.as_deref(), Ok("tool 1.2.3"));
    let v = tool_version(&sh("echo 'java 21' >&2"), dir.path(), &[], t).await;
    assert_eq!(v.as_deref(), Ok("java 21"));
    let v = tool_version(&sh("head -c 100000 /dev/zero | tr '\\0' 7"), dir.path(), &[], t).await.unwrap();
    assert_eq!(v.len(), VERSION_MAX_OUTPUT);
}

/// A program still open for writing (`ETXTBSY`: an editor saving it, or a
/// fork of the process that wrote it, which holds the descriptor until its
/// own exec) is run once it is closed; one held open throughout is a clear
/// error.
#[tokio::test]
async fn a_program_being_written_is_run_once_it_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let tool = dir.path().join("tool");
    std::fs::write(&tool, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let s = spec(&dir, vec![tool.display().to_string()], OutputParser::ExitCode);
    let (registry, f) = (ProcessRegistry::new(), files(&["a"]));
    let writing = std::fs::File::options().append(true).open(&tool).unwrap();
    // The run's first poll tries to start the tool, open for writing; the
    // writer closes it after that.
    let (out, ()) = tokio::join!(run(&s, &f, &registry), async {
        tokio::task::yield_now().await;
        drop(writing);
    });
    assert_eq!(out, vec![Outcome::Passed]);

    let writing = std::fs::File::options().append(true).open(&tool).unwrap();
    let out = run(&s, &f, &registry).await;
    drop(writing);
    let [Outcome::Error { reason }] = &out[..] else { panic!("{out:?}") };
    assert!(reason.contains("busy"), "{reason}");
}

#[tokio::test]
async fn tool_version_errors() {
    let dir = tempfile::tempdir().unwrap();
    let t = Duration::from_secs(10);
    let missing = tool_version(&["verdict-no-such-tool".into(), "--version".into()], dir.path(), &[], t).await;
    assert_eq!(missing, Err("executable not found: verdict-no-such-tool".into()));

    let failing = tool_version(&sh("echo 'unknown flag' >&2; exit 2"), dir.path(), &[], t).await.unwrap_err();
    assert!(failing.ends_with("exited with status 2: unknown flag"), "{failing}");

    let hang = sh("echo $$ > pid.tmp; mv pid.tmp pid; exec sleep 1000");
    // Long enough for the shell to write its pid on a loaded machine.
    let timed_out = tool_version(&hang, dir.path(), &[], Duration::from_secs(3)).await.unwrap_err();
    assert!(timed_out.contains("timed out after 3s"), "{timed_out}");
    let pid = read_pids(&dir.path().join("pid"), 1);
    assert_eq!(wait_dead(&pid, Duration::from_secs(5)), Vec::<i32>::new());
}

#[test]
fn spec_defaults() {
    let s = CommandSpec::new(vec!["x".into()], OutputParser::Sarif, Path::new("/p"));
    assert_eq!(s.max_output, DEFAULT_MAX_OUTPUT);
    assert!(s.env.is_empty());
}

#[tokio::test]
async fn file_names_are_never_read_as_options_and_keep_their_exact_bytes() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    // `sh -c` prints each argument it gets on a line of its own.
    let s = spec(&dir, sh(r#"for a in "$@"; do printf '%s\n' "$a" >> args; done"#), OutputParser::ExitCode);
    std::fs::write(dir.path().join("-n.txt"), "x\n").unwrap();
    let out = run(&s, &files(&["-n.txt", "--version.txt", "plain.txt"]), &ProcessRegistry::new()).await;
    assert!(out.iter().all(|o| *o == Outcome::Passed), "{out:?}");
    let args = std::fs::read_to_string(dir.path().join("args")).unwrap();
    assert_eq!(args, "./-n.txt\n./--version.txt\nplain.txt\n");
    // A tool that takes options: `cat -n.txt` would fail on the option.
    let cat = spec(&dir, vec!["cat".into()], OutputParser::ExitCode);
    assert_eq!(run(&cat, &files(&["-n.txt"]), &ProcessRegistry::new()).await, [Outcome::Passed]);
    // A name that is not UTF-8 reaches the tool as it is, through `run_args`.
    let name = OsStr::from_bytes(b"x\xff.txt");
    std::fs::write(dir.path().join(name), "y\n").unwrap();
    let out = run_args(&cat, &files(&["x\u{FFFD}.txt"]), &[file_arg(name)], &ProcessRegistry::new()).await;
    assert_eq!(out, [Outcome::Passed], "cat found the file by its exact name");
}

/// Findings for names that are not UTF-8 go to the file of those bytes, not
/// to every file whose name decodes the same (`a\xff` and `a\xfe` both read
/// `a\u{FFFD}`): in a regex parser's output, and in a SARIF URI's escapes.
#[tokio::test]
async fn findings_for_names_that_are_not_utf8_go_to_the_file_of_those_bytes() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let names = [&b"a\xff.txt"[..], b"a\xfe.txt", "a\u{FFFD}.txt".as_bytes()];
    let args: Vec<_> = names.iter().map(|n| file_arg(OsStr::from_bytes(n))).collect();
    let lossy = files(&["a\u{FFFD}.txt"; 3]);
    for n in names {
        std::fs::write(dir.path().join(OsStr::from_bytes(n)), "ok\n").unwrap();
    }
    std::fs::write(dir.path().join(OsStr::from_bytes(names[0])), "BAD\n").unwrap();
    let script = r#"for f in "$@"; do grep -q BAD -- "$f" && printf '%s:1:1: error: bad\n' "$f"; done; exit 0"#;
    let s = spec(&dir, sh(script), OutputParser::Regex(gcc_style()));
    let out = run_args(&s, &lossy, &args, &ProcessRegistry::new()).await;
    assert!(matches!(out[0], Outcome::Findings { .. }), "{out:?}");
    assert_eq!(out[1..], [Outcome::Passed, Outcome::Passed]);
    // A tool that prints names lossily (as `Path::display` does): matched
    // when that names one file only.
    let lossy_tool = r#"printf 'd\357\277\275.txt:1:1: error: bad\n'"#;
    let s = spec(&dir, sh(lossy_tool), OutputParser::Regex(gcc_style()));
    let only = [file_arg(OsStr::from_bytes(b"d\xff.txt")), file_arg(OsStr::new("e.txt"))];
    let out = run_args(&s, &files(&["d\u{FFFD}.txt", "e.txt"]), &only, &ProcessRegistry::new()).await;
    assert!(matches!(out[0], Outcome::Findings { .. }) && out[1] == Outcome::Passed, "{out:?}");
    // Printed lossily, a name two files of the batch read as: the finding
    // may be about either, so neither passes (a pass would be cached).
    let two = [
        file_arg(OsStr::from_bytes(b"d\xff.txt")),
        file_arg(OsStr::from_bytes(b"d\xfe.txt")),
        file_arg(OsStr::new("e.txt")),
    ];
    let out = run_args(&s, &files(&["d\u{FFFD}.txt", "d\u{FFFD}.txt", "e.txt"]), &two, &ProcessRegistry::new()).await;
    for o in &out[..2] {
        assert!(reason(o).contains("2 files of the batch read as") && reason(o).contains("per_file"), "{out:?}");
    }
    assert_eq!(out[2], Outcome::Passed);
    let sarif = serde_json::json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t"}}, "results": [
        {"ruleId": "R", "level": "error", "message": {"text": "bad"},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a%FE.txt"}}}]}
    ]}]});
    std::fs::write(dir.path().join("out.sarif"), sarif.to_string()).unwrap();
    let s = spec(&dir, sh("cat out.sarif"), OutputParser::Sarif);
    let out = run_args(&s, &lossy, &args, &ProcessRegistry::new()).await;
    assert_eq!(out[0], Outcome::Passed);
    assert!(matches!(out[1], Outcome::Findings { .. }), "{out:?}");
    assert_eq!(out[2], Outcome::Passed);
}

/// A name printed lossily that several files of the batch read as, one of
/// them holding U+FFFD itself: with either parser, none of them passes, and
/// the file named by those very bytes does not take the finding alone
/// (ruff prints `a\xff.py` as `a\u{FFFD}.py`, and as `a%EF%BF%BD.py` in
/// SARIF). A file of another name still passes.
#[tokio::test]
async fn a_lossily_printed_name_that_several_files_read_as_passes_none_of_them() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let names = [&b"a\xff.txt"[..], b"a\xfe.txt", "a\u{FFFD}.txt".as_bytes(), b"b.txt"];
    let mut args: Vec<_> = names.iter().map(|n| file_arg(OsStr::from_bytes(n))).collect();
    let shown = files(&["a\u{FFFD}.txt", "a\u{FFFD}.txt", "a\u{FFFD}.txt", "b.txt"]);
    let sarif = serde_json::json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t"}}, "results": [
        {"ruleId": "R", "level": "error", "message": {"text": "bad"},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a%EF%BF%BD.txt"}}}]}
    ]}]});
    std::fs::write(dir.path().join("out.sarif"), sarif.to_string()).unwrap();
    let regex = spec(&dir, sh(r#"printf 'a\357\277\275.txt:1:1: error: bad\n'"#), OutputParser::Regex(gcc_style()));
    let sarif = spec(&dir, sh("cat out.sarif"), OutputParser::Sarif);
    // The same name in colours (`clang -fcolor-diagnostics`): the line
    // read without them tells the ambiguity.
    let coloured = r#"printf '\033[1ma\357\277\275.txt\033[0m:1:1: error: bad\n'"#;
    let coloured = spec(&dir, sh(coloured), OutputParser::Regex(gcc_style()));
    for s in [&regex, &sarif, &coloured] {
        let out = run_args(s, &shown, &args, &ProcessRegistry::new()).await;
        for o in &out[..3] {
            assert!(reason(o).contains("3 files of the batch read as"), "{out:?}");
        }
        assert_eq!(out[3], Outcome::Passed, "{out:?}");
    }
    // The name holding U+FFFD with one file that is not UTF-8: two.
    args.remove(1);
    let shown = files(&["a\u{FFFD}.txt", "a\u{FFFD}.txt", "b.txt"]);
    for s in [&regex, &sarif] {
        let out = run_args(s, &shown, &args, &ProcessRegistry::new()).await;
        for o in &out[..2] {
            assert!(reason(o).contains("2 files of the batch read as"), "{out:?}");
        }
        assert_eq!(out[2], Outcome::Passed, "{out:?}");
    }
    // Exiting with a findings status and no finding it can give: every file
    // is an error, those the finding may be about saying so.
    let regex =
        spec(&dir, sh(r#"printf 'a\357\277\275.txt:1:1: error: bad\n'; exit 1"#), OutputParser::Regex(gcc_style()));
    let sarif = spec(&dir, sh("cat out.sarif; exit 1"), OutputParser::Sarif);
    for s in [&regex, &sarif] {
        let out = run_args(s, &shown, &args, &ProcessRegistry::new()).await;
        for o in &out[..2] {
            assert!(reason(o).contains("2 files of the batch read as"), "{out:?}");
        }
        assert!(reason(&out[2]).contains("exited with status 1"), "{out:?}");
    }
}

/// What SARIF says is not a finding of this run is not one: a suppressed
/// result (unless the suppression was rejected or is under review), one
/// absent since the baseline. A run without `results` could not determine
/// them: an error, never a pass.
#[tokio::test]
async fn sarif_suppressed_and_absent_results_are_not_findings_and_missing_results_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let registry = ProcessRegistry::new();
    let f = files(&["a.txt"]);
    let at = |text: &str, extra: serde_json::Value| {
        let mut r = serde_json::json!({"ruleId": "R", "level": "error", "message": {"text": text},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.txt"}, "region": {"startLine": 1}}}]});
        r.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        r
    };
    let results = serde_json::json!([
        at("suppressed in the source", serde_json::json!({"suppressions": [{"kind": "inSource"}]})),
        at(
            "suppressed and accepted",
            serde_json::json!({"suppressions": [{"kind": "external", "status": "accepted"}]})
        ),
        at("suppression rejected", serde_json::json!({"suppressions": [{"kind": "external", "status": "rejected"}]})),
        at("under review", serde_json::json!({"suppressions": [{"kind": "inSource", "status": "underReview"}]})),
        at("fixed since the baseline", serde_json::json!({"baselineState": "absent"})),
        at("new", serde_json::json!({"baselineState": "new"})),
        at(
            "accepted once, then rejected",
            serde_json::json!({"suppressions": [{"status": "accepted"}, {"status": "rejected"}]})
        ),
        at("null suppressions", serde_json::json!({"suppressions": null, "baselineState": 3})),
        at("a status that is not one", serde_json::json!({"suppressions": [{"status": 7}]})),
        at("a suppression that is not one", serde_json::json!({"suppressions": [{"status": "accepted"}, null]})),
    ]);
    let log =
        serde_json::json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t"}}, "results": results}]});
    std::fs::write(dir.path().join("s.sarif"), log.to_string()).unwrap();
    let out = run(&spec(&dir, sh("cat s.sarif"), OutputParser::Sarif), &f, &registry).await;
    let Outcome::Findings { findings } = &out[0] else { panic!("{out:?}") };
    let said: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        said,
        [
            "suppression rejected",
            "under review",
            "new",
            "accepted once, then rejected",
            "null suppressions",
            "a status that is not one",
            "a suppression that is not one"
        ]
    );
    for log in [
        serde_json::json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t"}}}]}),
        serde_json::json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t"}}, "results": null}]}),
    ] {
        std::fs::write(dir.path().join("n.sarif"), log.to_string()).unwrap();
        let out = run(&spec(&dir, sh("cat n.sarif"), OutputParser::Sarif), &f, &registry).await;
        assert!(reason(&out[0]).contains("without `results`"), "{out:?}");
    }
    // Another run's findings stay, with an error finding after them (an
    // audit saw them thrown away with the run that had none).
    let log = serde_json::json!({"version": "2.1.0", "runs": [
        {"tool": {"driver": {"name": "t1"}}, "results": null},
        {"tool": {"driver": {"name": "t2"}}, "results": [at("from the other run", serde_json::json!({}))]}
    ]});
    std::fs::write(dir.path().join("two.sarif"), log.to_string()).unwrap();
    let out = run(&spec(&dir, sh("cat two.sarif"), OutputParser::Sarif), &files(&["a.txt", "b.txt"]), &registry).await;
    let Outcome::Findings { findings } = &out[0] else { panic!("{out:?}") };
    assert_eq!(findings[0].message, "from the other run", "{out:?}");
    assert!(findings.last().unwrap().message.contains("without `results`"), "{out:?}");
    assert!(reason(&out[1]).contains("without `results`"), "{out:?}");
}

/// In `mode = "batch"`, a SARIF result without a location is given to no
/// file, even in a batch of one (a batch of one is what the cache left of
/// a larger one: the file's verdict must not depend on it). In per-file
/// mode it is the file's.
#[tokio::test]
async fn sarif_results_without_a_location_are_no_files_in_batch_mode_even_alone() {
    let dir = tempfile::tempdir().unwrap();
    let registry = ProcessRegistry::new();
    let log = serde_json::json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t"}},
        "results": [{"ruleId": "R", "level": "warning", "message": {"text": "m"}}]}]});
    std::fs::write(dir.path().join("l.sarif"), log.to_string()).unwrap();
    let per_file = spec(&dir, sh("cat l.sarif"), OutputParser::Sarif);
    let out = run(&per_file, &files(&["a.txt"]), &registry).await;
    assert_eq!(out[0].findings().len(), 1, "{out:?}");
    let batch = CommandSpec { batch: true, ..per_file };
    assert_eq!(run(&batch, &files(&["a.txt"]), &registry).await, vec![Outcome::Passed]);
    assert_eq!(run(&batch, &files(&["a.txt", "b.txt"]), &registry).await, vec![Outcome::Passed, Outcome::Passed]);
}

/// A finding, with a findings status, for a file the validator does not
/// check (a header a C file includes, a file outside the project) came
/// through some file of the batch: the batch's files with no finding of
/// their own are not passed (an audit saw `a.c`, whose header failed to
/// compile, pass and be cached beside `b.c`'s warning). One for a file it
/// checks is that file's, and found when it is checked (an imported module
/// checked in its own batch); so is everything when the files checked are
/// not known, or the tool exits 0.
#[tokio::test]
async fn findings_for_files_the_validator_does_not_check_leave_no_pass_in_their_batch() {
    let dir = tempfile::tempdir().unwrap();
    let registry = ProcessRegistry::new();
    let selects = Selects(Some(Arc::new(|rel: &Path| rel.extension().is_some_and(|e| e == "c"))));
    let script = |out: &str, code: i32| sh(&format!("printf '{out}'; exit {code}"));
    let batch = |out: &str, code: i32, selects: &Selects| CommandSpec {
        batch: true,
        selects: selects.clone(),
        ..spec(&dir, script(out, code), OutputParser::Regex(gcc_style()))
    };
    let ab = files(&["a.c", "b.c"]);
    std::fs::write(dir.path().join("hdr.h"), "int x = y;\n").unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/other.c"), "int z;\n").unwrap();
    let header = "hdr.h:1:27: error: undeclared\\nb.c:1:20: warning: parentheses\\n";
    let out = run(&batch(header, 1, &selects), &ab, &registry).await;
    assert!(
        reason(&out[0]).contains("reporting findings for \"hdr.h\", which this validator does not check"),
        "{out:?}"
    );
    assert_eq!(out[1].findings().len(), 1, "{out:?}");
    // Outside the project: the same.
    let elsewhere = tempfile::tempdir().unwrap();
    let system_header = elsewhere.path().join("x.h");
    std::fs::write(&system_header, "#error x\n").unwrap();
    let system = format!("{}:3:1: error: bad\\nb.c:1:20: warning: parentheses\\n", system_header.display());
    let out = run(&batch(&system, 1, &selects), &ab, &registry).await;
    assert!(reason(&out[0]).contains(&format!("{:?}", system_header.display().to_string())), "{out:?}");
    // A note there (a compiler's `declared here`), or a name of no file
    // (`<command line>`): nothing came through a.c; it passes.
    let note = format!("{}:3:1: note: declared here\\nb.c:1:20: error: too few arguments\\n", system_header.display());
    assert_eq!(run(&batch(&note, 1, &selects), &ab, &registry).await[0], Outcome::Passed);
    let pseudo = "<command line>:1:9: warning: redefined\\nb.c:1:20: warning: parentheses\\n";
    assert_eq!(run(&batch(pseudo, 1, &selects), &ab, &registry).await[0], Outcome::Passed);
    // A file it checks, another batch's: a.c passes, whether the name is
    // printed plainly, in colours, or with blanks around it.
    let loose = Regex::new(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+):(?P<message>.*)$").unwrap();
    for other in ["src/other.c", "\\033[01m\\033[Ksrc/other.c\\033[m\\033[K", " src/other.c"] {
        let module = format!("{other}:1:1: error: bad\\nb.c:1:20: warning: parentheses\\n");
        let anchored = Selects(Some(Arc::new(|rel: &Path| {
            rel.starts_with("src") || rel == Path::new("a.c") || rel == Path::new("b.c")
        })));
        let s = CommandSpec {
            batch: true,
            selects: anchored,
            ..spec(&dir, script(&module, 1), OutputParser::Regex(loose.clone()))
        };
        assert_eq!(run(&s, &ab, &registry).await[0], Outcome::Passed, "{other:?}");
    }
    // Not known which files it checks, or a status of 0: as before.
    assert_eq!(run(&batch(header, 1, &Selects::default()), &ab, &registry).await[0], Outcome::Passed);
    assert_eq!(run(&batch(header, 0, &selects), &ab, &registry).await[0], Outcome::Passed);
    // SARIF alike.
    let result = |uri: &str| {
        serde_json::json!({"ruleId": "R", "level": "error", "message": {"text": uri},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}}}]})
    };
    let log = serde_json::json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t"}},
        "results": [result("hdr.h"), result("b.c")]}]});
    std::fs::write(dir.path().join("h.sarif"), log.to_string()).unwrap();
    let sarif = CommandSpec {
        batch: true,
        selects: selects.clone(),
        ..spec(&dir, sh("cat h.sarif; exit 1"), OutputParser::Sarif)
    };
    let out = run(&sarif, &ab, &registry).await;
    assert!(reason(&out[0]).contains("\"hdr.h\""), "{out:?}");
    assert_eq!(out[1].findings().len(), 1, "{out:?}");
    // A base that lies elsewhere (a tool run in a container): the name is
    // read from the project root, as the lookup reads it, and src/other.c
    // is one the validator checks.
    let based = |uri: &str| {
        serde_json::json!({"ruleId": "R", "level": "error", "message": {"text": uri},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri, "uriBaseId": "SRC"}}}]})
    };
    let log = serde_json::json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t"}},
        "originalUriBaseIds": {"SRC": {"uri": "file:///src/"}},
        "results": [based("src/other.c"), based("b.c")]}]});
    std::fs::write(dir.path().join("c.sarif"), log.to_string()).unwrap();
    let container = CommandSpec { argv: sh("cat c.sarif; exit 1"), ..sarif };
    let out = run(&container, &ab, &registry).await;
    assert_eq!((&out[0], out[1].findings().len()), (&Outcome::Passed, 1), "{out:?}");
}

/// A URI with a `%` that names no file of the batch decoded is read with
/// the `%` as written (a tool that does not escape names; an audit saw the
/// finding for `d/%41` dropped and the file pass). Decoded first: a file
/// the escape names gets it.
#[tokio::test]
async fn sarif_uri_with_an_unescaped_percent_names_the_file_so_named() {
    let dir = tempfile::tempdir().unwrap();
    let registry = ProcessRegistry::new();
    let result = |uri: &str| {
        serde_json::json!({"ruleId": "R", "level": "error", "message": {"text": uri},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}}}]})
    };
    let log = serde_json::json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "t"}},
        "results": [result("d/%41.txt"), result("100%.txt")]}]});
    std::fs::write(dir.path().join("p.sarif"), log.to_string()).unwrap();
    let s = CommandSpec { batch: true, ..spec(&dir, sh("cat p.sarif; exit 1"), OutputParser::Sarif) };
    let out = run(&s, &files(&["d/%41.txt", "100%.txt", "b.txt"]), &registry).await;
    assert_eq!(out[0].findings()[0].message, "d/%41.txt", "{out:?}");
    assert_eq!(out[1].findings()[0].message, "100%.txt", "{out:?}");
    assert_eq!(out[2], Outcome::Passed);
    let out = run(&s, &files(&["d/A.txt", "d/%41.txt"]), &registry).await;
    assert_eq!(out[0].findings()[0].message, "d/%41.txt", "the escape read first: {out:?}");
    assert_eq!(out[1], Outcome::Passed, "{out:?}");
    // The file the escape names is there, but not in this batch (the cache
    // answered for it): the finding is its, not the literal name's.
    std::fs::create_dir_all(dir.path().join("d")).unwrap();
    std::fs::write(dir.path().join("d/A.txt"), "x\n").unwrap();
    // (It exits 1 with no finding for this batch: an error, not a pass.)
    let out = run(&s, &files(&["d/%41.txt", "b.txt"]), &registry).await;
    assert!(out[0].findings().is_empty() && reason(&out[0]).contains("outside the batch"), "{out:?}");
}

/// A tool that prints the project root by a path through a linked
/// directory (given so in its own configuration, or `/home` a link) names
/// the project's files: they get its findings, not a pass.
#[tokio::test]
async fn a_path_through_a_linked_directory_names_the_projects_file() {
    let dir = tempfile::tempdir().unwrap();
    let links = tempfile::tempdir().unwrap();
    let link = links.path().join("project");
    std::os::unix::fs::symlink(dir.path(), &link).unwrap();
    std::fs::write(dir.path().join("a.txt"), "x\n").unwrap();
    std::fs::write(dir.path().join("b.txt"), "x\n").unwrap();
    let script = format!("echo '{}/b.txt:1:1: error: through the link'; exit 1", link.display());
    let s = spec(&dir, sh(&script), OutputParser::Regex(gcc_style()));
    let out = run(&s, &files(&["a.txt", "b.txt"]), &ProcessRegistry::new()).await;
    assert_eq!(out[0], Outcome::Passed, "{out:?}");
    assert_eq!(out[1].findings()[0].message, "through the link", "{out:?}");
    // Through a link that leads elsewhere: not the project's.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("b.txt"), "x\n").unwrap();
    let script = format!("echo '{}/b.txt:1:1: error: elsewhere'; exit 0", other.path().display());
    let s = spec(&dir, sh(&script), OutputParser::Regex(gcc_style()));
    assert_eq!(
        run(&s, &files(&["a.txt", "b.txt"]), &ProcessRegistry::new()).await,
        vec![Outcome::Passed, Outcome::Passed]
    );
}

/// A byte order mark before the log, one result's unusable line number, and
/// a message kept in the rule's `messageStrings`: read, not the whole log
/// refused or the message lost.
#[tokio::test]
async fn sarif_byte_order_marks_odd_numbers_and_message_strings() {
    let dir = tempfile::tempdir().unwrap();
    let log = serde_json::json!({"version": "2.1.0", "runs": [{
    "tool": {"driver": {"name": "t",
        "globalMessageStrings": {"g": {"text": "global {0}"}},
        "rules": [{"id": "R", "defaultConfiguration": {"level": "note"},
                   "messageStrings": {"m": {"text": "{0} is {1}, {{literally}}"}}}]}},
    "results": [
        {"ruleId": "R", "level": "error", "message": {"id": "m", "arguments": ["x", "unused"]},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.txt"}, "region": {"startLine": 1e20}}}]},
        {"ruleId": "R", "ruleIndex": 0, "level": "error", "message": {"id": "g", "arguments": ["y"]},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.txt"}, "region": {"startLine": 2, "startColumn": "3"}}}]},
        // An index out of range: the rule (its message, its level) is found
        // by its id; arguments that are not strings are written as JSON.
        {"ruleId": "R", "ruleIndex": 9, "message": {"id": "m", "arguments": [1, null]},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.txt"}, "region": {"startLine": 3}}}]},
        // A finding is one line, as documented: its blanks are joined.
        {"ruleId": "R", "message": {"text": "a\tb\nc\r\nd  \n\ne"},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.txt"}, "region": {"startLine": 4}}}]}
    ]}]});
    std::fs::write(dir.path().join("b.sarif"), format!("\u{feff}{log}")).unwrap();
    let out =
        run(&spec(&dir, sh("cat b.sarif"), OutputParser::Sarif), &files(&["a.txt"]), &ProcessRegistry::new()).await;
    let Outcome::Findings { findings } = &out[0] else { panic!("{out:?}") };
    let got: Vec<_> = findings.iter().map(|f| (f.line, f.column, f.message.as_str())).collect();
    assert_eq!(
        got,
        [
            (None, None, "x is unused, {literally}"),
            (Some(2), None, "global y"),
            (Some(3), None, "1 is null, {literally}"),
            (Some(4), None, "a b c d e")
        ]
    );
    assert_eq!(findings[2].severity, Severity::Note, "the rule's default level");
}

/// A process the tool leaves outside its group (a build server, say) that
/// keeps the tool's stdout open: the tool's own output was all read, so its
/// findings stand as they are, and a file without one passes.
#[tokio::test]
async fn output_held_open_by_a_process_left_outside_the_group_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("server.pid");
    let script = format!(
        "setsid sh -c 'echo $$ > {p}.tmp; mv {p}.tmp {p}; exec sleep 30' & \
         while [ ! -s {p} ]; do sleep 0.01; done; echo 'a.txt:1:1: error: bad'; exit 1",
        p = pid_file.display()
    );
    let s = spec(&dir, sh(&script), OutputParser::Regex(gcc_style()));
    let out = run(&s, &files(&["a.txt", "b.txt"]), &ProcessRegistry::new()).await;
    if let Some(pid) = std::fs::read_to_string(&pid_file).ok().and_then(|p| p.trim().parse::<i32>().ok()) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    }
    assert_eq!(out[0].findings(), [Finding::error(Some(1), Some(1), "bad")], "{:?}", out[0]);
    assert_eq!(out[1], Outcome::Passed);
}

/// The same, for a job whose deadline is near when its tool exits: what
/// the tool wrote is read, and the wait on the process holding the pipe
/// open ends before the deadline (not the usual quarter second after the
/// exit), so that the supervisor gets the tool's verdict in time rather
/// than a time-out of a tool that exited.
#[tokio::test]
async fn output_held_open_is_waited_on_only_until_near_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("server.pid");
    let exited = dir.path().join("exited");
    let script = format!(
        "setsid sh -c 'echo $$ > {p}.tmp; mv {p}.tmp {p}; exec sleep 30' & \
         while [ ! -s {p} ]; do sleep 0.01; done; echo 'a.txt:1:1: error: bad'; date +%s%N > {e}; exit 1",
        p = pid_file.display(),
        e = exited.display()
    );
    let s = spec(&dir, sh(&script), OutputParser::Regex(gcc_style()));
    // Due at once: whenever the tool exits, the deadline is near.
    let registry = ProcessRegistry::new().scoped_until(Some(tokio::time::Instant::now()));
    let out = run(&s, &files(&["a.txt", "b.txt"]), &registry).await;
    let returned = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    if let Some(pid) = std::fs::read_to_string(&pid_file).ok().and_then(|p| p.trim().parse::<i32>().ok()) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    }
    let exited: u128 = std::fs::read_to_string(&exited).unwrap().trim().parse().unwrap();
    let after = std::time::Duration::from_nanos((returned.as_nanos() - exited) as u64);
    assert!(after < std::time::Duration::from_millis(200), "answered {after:?} after the tool exited");
    assert_eq!(out[0].findings(), [Finding::error(Some(1), Some(1), "bad")], "{:?}", out[0]);
    assert_eq!(out[1], Outcome::Passed);
}

/// A tool that prints a finding per line of a huge file: at most
/// MAX_TOOL_FINDINGS are kept, and a last one counts the rest at the most
/// severe level among them.
#[tokio::test]
async fn a_tools_findings_per_file_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let script = "i=0; while [ $i -lt 1500 ]; do echo \"a.txt:$((i+1)):1: warning: w\"; i=$((i+1)); done; \
                  echo 'a.txt:9999:1: error: last'; echo 'b.txt:1:1: note: one'; exit 1";
    let s = spec(&dir, sh(script), OutputParser::Regex(gcc_style()));
    let out = run(&s, &files(&["a.txt", "b.txt"]), &ProcessRegistry::new()).await;
    let a = out[0].findings();
    assert_eq!(a.len(), parse::MAX_TOOL_FINDINGS + 1);
    let more = a.last().unwrap();
    assert_eq!((more.line, more.severity), (None, Severity::Error), "{more:?}");
    assert!(more.message.starts_with("… and 501 more findings not listed"), "{}", more.message);
    assert_eq!(out[1].findings().len(), 1);
}

/// A script whose `#!` interpreter is missing is not "executable not
/// found": the script is there.
#[tokio::test]
async fn a_missing_interpreter_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("tool");
    std::fs::write(&script, "#!/usr/bin/verdict-no-such-python -u\nprint(1)\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let s = spec(&dir, vec!["./tool".into()], OutputParser::ExitCode);
    let out = run(&s, &files(&["a"]), &ProcessRegistry::new()).await;
    assert_eq!(
        reason(&out[0]),
        "cannot run ./tool: its interpreter /usr/bin/verdict-no-such-python (its #! line) was not found"
    );
    std::fs::write(&script, "#!/bin/sh\r\necho hi\r\n").unwrap();
    let out = run(&s, &files(&["a"]), &ProcessRegistry::new()).await;
    let r = reason(&out[0]);
    assert!(r.starts_with("cannot run ./tool: its #! line ends with a carriage return (Windows line endings)"), "{r}");
}

/// The regex parser's `file` group is matched as printed first: names
/// that start or end with a space get their findings.
#[tokio::test]
async fn file_names_with_blanks_at_either_end_get_their_findings() {
    let dir = tempfile::tempdir().unwrap();
    let re = Regex::new(r"^(?P<file>[^:]+):(?P<message>.*)$").unwrap();
    let s =
        spec(&dir, sh("for f; do echo \"$f:bad\"; done; echo ' plain.txt :padded'; exit 1"), OutputParser::Regex(re));
    let out = run(&s, &files(&[" lead.txt", "end.txt ", "plain.txt"]), &ProcessRegistry::new()).await;
    let messages: Vec<Vec<&str>> =
        out.iter().map(|o| o.findings().iter().map(|f| f.message.as_str()).collect()).collect();
    assert_eq!(messages, [vec!["bad"], vec!["bad"], vec!["bad", "padded"]]);
}

/// A tool that reports on some files of a batch and then fails (a status
/// findings_exit_codes does not list): the others get an error, not a pass
/// that would be cached, and the files with findings keep them, with an
/// error saying the list may be incomplete. Listed, the status is findings.
#[tokio::test]
async fn a_batch_tool_that_fails_after_some_findings_passes_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let registry = ProcessRegistry::new();
    let script = "echo 'a.txt:1:1: error: bad'; echo 'fatal: cannot read b.txt' >&2; exit 2";
    let f = files(&["a.txt", "b.txt"]);
    let s = spec(&dir, sh(script), OutputParser::Regex(gcc_style()));
    let out = run(&s, &f, &registry).await;
    let failed = "the tool failed: exited with status 2, which findings_exit_codes ([1]) does not list as findings: fatal: cannot read b.txt";
    assert_eq!(reason(&out[1]), failed);
    let Outcome::Findings { findings } = &out[0] else { panic!("{out:?}") };
    assert_eq!(findings[0], Finding::error(Some(1), Some(1), "bad"));
    assert_eq!(
        findings[1],
        Finding::error(None, None, format!("{failed} (these findings may be incomplete)"))
            .with_rule(crate::outcome::NOTICE_TOOL_FAILED)
    );
    // A failed run's findings are not the file's verdict: not cached.
    assert!(out[0].cacheable().is_none());
    assert_eq!(findings.len(), 2);

    let listed = CommandSpec { findings_exit_codes: Some(vec![1, 2]), ..s.clone() };
    let out = run(&listed, &f, &registry).await;
    assert_eq!(
        out,
        vec![Outcome::Findings { findings: vec![Finding::error(Some(1), Some(1), "bad")] }, Outcome::Passed]
    );

    // The exit_code parser: every status is findings, unless listed ones
    // are given.
    let s = spec(&dir, sh("echo 'b.txt:' ; echo '  line 1: tab' ; exit 2"), OutputParser::ExitCode);
    let out = run(&s, &files(&["b.txt"]), &registry).await;
    assert_eq!(
        out,
        vec![Outcome::Findings { findings: vec![Finding::error(None, None, "exited with status 2: line 1: tab")] }]
    );
    let listed = CommandSpec { findings_exit_codes: Some(vec![1]), ..s };
    let out = run(&listed, &files(&["b.txt"]), &registry).await;
    assert_eq!(
        reason(&out[0]),
        "the tool failed: exited with status 2, which findings_exit_codes ([1]) does not list as findings: line 1: tab"
    );
    // A Python traceback is told by its last line; colours are left out.
    let script = "printf 'Traceback (most recent call last):\\n  File \"x.py\", line 1\\n\\033[31mValueError: bad\\033[0m\\n' >&2; exit 3";
    let s = spec(&dir, sh(script), OutputParser::Regex(gcc_style()));
    let out = run(&s, &files(&["b.txt"]), &registry).await;
    assert!(reason(&out[0]).ends_with("does not list as findings: ValueError: bad"), "{out:?}");
    // ESLint's apology is followed by its version and the error.
    let script = "printf 'Oops! Something went wrong! :(\n\nESLint: 9.39.5\n\nSyntaxError: Unexpected identifier\n    at x (y:1:2)\n' >&2; exit 2";
    let s = spec(&dir, sh(script), OutputParser::Regex(gcc_style()));
    let out = run(&s, &files(&["b.txt"]), &registry).await;
    assert!(reason(&out[0]).ends_with("does not list as findings: SyntaxError: Unexpected identifier"), "{out:?}");
    let script = "printf 'Oops! Something went wrong! :(\n\nESLint: 9.39.5\n\nESLint couldn'\\''t find an eslint.config.(js|mjs|cjs) file.\n' >&2; exit 2";
    let s = spec(&dir, sh(script), OutputParser::Regex(gcc_style()));
    let out = run(&s, &files(&["b.txt"]), &registry).await;
    assert!(reason(&out[0]).ends_with("findings: ESLint couldn't find an eslint.config.(js|mjs|cjs) file."), "{out:?}");
    // black's usage line, ruff's failure, gcc's include chain: the line
    // that says why.
    for (script, said) in [
        (
            "printf 'Usage: black [OPTIONS] SRC ...\nTry black -h for help.\n\nError: No such option: --chek\n' >&2; exit 2",
            "Error: No such option: --chek",
        ),
        (
            "printf 'ruff failed\n  Cause: Failed to parse ruff.toml\n' >&2; exit 2",
            "ruff failed: Cause: Failed to parse ruff.toml",
        ),
        (
            "printf '  File \"bad.py\", line 1\n    def f(:\n          ^\nSyntaxError: invalid syntax\n' >&2; exit 2",
            "SyntaxError: invalid syntax",
        ),
        (
            "printf 'In file included from a.c:1:\n                 from b.c:2:\nh.h:1:1: fatal error: x.h: No such file\n' >&2; exit 4",
            "h.h:1:1: fatal error: x.h: No such file",
        ),
    ] {
        let s = spec(&dir, sh(script), OutputParser::Regex(gcc_style()));
        let out = run(&s, &files(&["b.txt"]), &registry).await;
        assert!(reason(&out[0]).ends_with(&format!("does not list as findings: {said}")), "{out:?}");
    }
    // A banner on stdout does not hide the error on stderr.
    let s = spec(&dir, sh("echo 'tool v1.2 (c) 2024'; echo 'error: no such rule' >&2; exit 1"), OutputParser::ExitCode);
    let out = run(&s, &files(&["b.txt"]), &registry).await;
    assert_eq!(out[0].findings()[0].message, "exited with status 1: error: no such rule");
}

/// Colours a tool forces (`clang -fcolor-diagnostics`) are not part of a
/// line: its findings are found.
#[tokio::test]
async fn findings_printed_in_colour_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let script = r"printf '\033[1ma.c:3:5: \033[0;1;35mwarning: \033[0m\033[1munused\033[0m\n\033]8;;file:///x\007b.c\033]8;;\007:1:1: error: \033(Bbad\033c\n'; exit 1";
    let s = spec(&dir, sh(script), OutputParser::Regex(gcc_style()));
    let out = run(&s, &files(&["a.c", "b.c"]), &ProcessRegistry::new()).await;
    let Outcome::Findings { findings } = &out[0] else { panic!("{out:?}") };
    assert_eq!(
        (findings[0].line, findings[0].severity, findings[0].message.as_str()),
        (Some(3), Severity::Warning, "unused")
    );
    assert_eq!(out[1], Outcome::Findings { findings: vec![Finding::error(Some(1), Some(1), "bad")] });

    // A name that holds an escape itself is matched as printed.
    let script = r"printf 'e\033[1mx.txt:1:1: error: found x\n'; exit 1";
    let s = spec(&dir, sh(script), OutputParser::Regex(gcc_style()));
    let out = run(&s, &files(&["e\u{1b}[1mx.txt", "b.c"]), &ProcessRegistry::new()).await;
    assert_eq!(out[0], Outcome::Findings { findings: vec![Finding::error(Some(1), Some(1), "found x")] }, "{out:?}");
    // Printed in colour too, the name is found once both lose their escapes.
    let script =
        r"printf '\033[1me\033[1mx.txt\033[0m:1:1: error: found x\n\033[1mb.c\033[0m:2:1: error: bad\n'; exit 1";
    let s = spec(&dir, sh(script), OutputParser::Regex(gcc_style()));
    let out = run(&s, &files(&["e\u{1b}[1mx.txt", "b.c"]), &ProcessRegistry::new()).await;
    assert_eq!(out[0], Outcome::Findings { findings: vec![Finding::error(Some(1), Some(1), "found x")] }, "{out:?}");
    assert_eq!(out[1], Outcome::Findings { findings: vec![Finding::error(Some(2), Some(1), "bad")] }, "{out:?}");

    // A name printed without colours, the rest in colours: the severity
    // and the message are read without them (a coloured `warning` is no
    // unknown severity, an error), and a clipboard-writing escape in a
    // message is not kept.
    let loose =
        Regex::new(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<severity>[^:]+): (?P<message>.*)$").unwrap();
    let script =
        r"printf 'a.c:1:1: \033[35mwarning\033[0m: unused \033]52;c;aGk=\007[\033[35m-Wunused\033[0m]\n'; exit 1";
    let s = spec(&dir, sh(script), OutputParser::Regex(loose.clone()));
    let out = run(&s, &files(&["a.c", "b.c"]), &ProcessRegistry::new()).await;
    let Outcome::Findings { findings } = &out[0] else { panic!("{out:?}") };
    assert_eq!((findings[0].severity, findings[0].message.as_str()), (Severity::Warning, "unused [-Wunused]"));
    // A name with an escape of its own, and a coloured message.
    let script = r"printf 'e\033[1mx.txt:1:1: error: found \033[31mx\033[0m\n'; exit 1";
    let s = spec(&dir, sh(script), OutputParser::Regex(loose));
    let out = run(&s, &files(&["e\u{1b}[1mx.txt", "ex.txt"]), &ProcessRegistry::new()).await;
    assert_eq!(out[0], Outcome::Findings { findings: vec![Finding::error(Some(1), Some(1), "found x")] }, "{out:?}");
    assert_eq!(out[1], Outcome::Passed, "{out:?}");
}

fn write_sarif(dir: &TempDir, name: &str, log: &serde_json::Value) {
    std::fs::write(dir.path().join(name), log.to_string()).unwrap();
}

/// The tool's own error notifications: one located at a checked file
/// makes that file an error (eslint reports a file it cannot parse so, and
/// says its run failed); the others keep their results. A failure its
/// located errors do not account for fails every file, keeping findings.
#[tokio::test]
async fn sarif_error_notifications_at_a_file_fail_that_file() {
    let dir = tempfile::tempdir().unwrap();
    let registry = ProcessRegistry::new();
    let root = dir.path().display().to_string();
    let f = files(&["a.js", "clean.js", "syn.js"]);
    let finding = serde_json::json!({"ruleId": "no-undef", "level": "error", "message": {"text": "x is not defined"},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": format!("file://{root}/a.js")}, "region": {"startLine": 2}}}]});
    let at = |uri: String| serde_json::json!([{"physicalLocation": {"artifactLocation": {"uri": uri}}}]);
    let log = |successful: bool, notification: serde_json::Value| {
        serde_json::json!({"version": "2.1.0", "runs": [{
            "tool": {"driver": {"name": "eslint"}},
            "invocations": [{"executionSuccessful": successful, "toolConfigurationNotifications": [notification]}],
            "results": [finding.clone()]
        }]})
    };
    let parse_error = serde_json::json!({"level": "error", "message": {"text": "Parsing error: Unexpected token ="},
        "locations": at(format!("file://{root}/syn.js"))});
    let a_js =
        Outcome::Findings { findings: vec![Finding::error(Some(2), None, "x is not defined").with_rule("no-undef")] };
    for successful in [false, true] {
        write_sarif(&dir, "located.sarif", &log(successful, parse_error.clone()));
        let s = spec(&dir, sh("cat located.sarif; exit 1"), OutputParser::Sarif);
        let out = run(&s, &f, &registry).await;
        assert_eq!(out[0], a_js, "{successful}");
        assert_eq!(out[1], Outcome::Passed, "{successful}");
        assert_eq!(reason(&out[2]), "the tool could not check this file: Parsing error: Unexpected token =");
    }
    // Located at a file outside the batch (its configuration file), or
    // nowhere: the run's failure is every file's.
    for notification in [
        serde_json::json!({"level": "error", "message": {"text": "bad config"}, "locations": at(".eslintrc.json".into())}),
        serde_json::json!({"level": "error", "message": {"text": "bad config"}}),
    ] {
        write_sarif(&dir, "failed.sarif", &log(false, notification));
        let s = spec(&dir, sh("cat failed.sarif; exit 2"), OutputParser::Sarif);
        let out = run(&s, &f, &registry).await;
        let failed = "the tool reported that its run failed (SARIF executionSuccessful: false): bad config";
        assert_eq!(reason(&out[1]), failed);
        assert_eq!(out[1], out[2]);
        let Outcome::Findings { findings } = &out[0] else { panic!("{out:?}") };
        assert_eq!(findings[1].message, format!("{failed} (these findings may be incomplete)"));
    }
}

/// Levels as SARIF 2.1.0 (3.27.10) gives them: a rule in an extension
/// (CodeQL's packs), the run's configuration overrides, and `none` for a
/// result of another kind than `fail` without a level.
#[tokio::test]
async fn sarif_levels_follow_the_rules_wherever_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let log = serde_json::json!({"version": "2.1.0", "runs": [{
        "tool": {
            "driver": {"name": "codeql", "rules": [
                {"id": "d0", "defaultConfiguration": {"level": "note"}},
                {"id": "d1", "defaultConfiguration": {"level": "note"}}
            ]},
            "extensions": [{"name": "pack", "rules": [{"id": "e0", "defaultConfiguration": {"level": "error"}}]}]
        },
        "invocations": [{"executionSuccessful": true, "ruleConfigurationOverrides": [
            {"descriptor": {"index": 1}, "configuration": {"level": "error"}}
        ]}],
        "results": [
            {"rule": {"index": 0, "toolComponent": {"index": 0}}, "message": {"text": "in a pack"},
             "locations": [{"physicalLocation": {"artifactLocation": {"uri": "ext.txt"}}}]},
            {"ruleIndex": 1, "message": {"text": "overridden"},
             "locations": [{"physicalLocation": {"artifactLocation": {"uri": "override.txt"}}}]},
            {"ruleIndex": 0, "message": {"text": "a default"},
             "locations": [{"physicalLocation": {"artifactLocation": {"uri": "default.txt"}}}]},
            {"rule": {"id": "e0", "toolComponent": {"name": "pack"}}, "kind": "informational", "message": {"text": "for information"},
             "locations": [{"physicalLocation": {"artifactLocation": {"uri": "info.txt"}}}]},
            {"message": {"text": "no rule"},
             "locations": [{"physicalLocation": {"artifactLocation": {"uri": "plain.txt"}}}]}
        ]
    }]});
    write_sarif(&dir, "levels.sarif", &log);
    let s = spec(&dir, sh("cat levels.sarif; exit 1"), OutputParser::Sarif);
    let f = files(&["ext.txt", "override.txt", "default.txt", "info.txt", "plain.txt"]);
    let out = run(&s, &f, &ProcessRegistry::new()).await;
    let got: Vec<(Severity, Option<&str>)> =
        out.iter().map(|o| (o.findings()[0].severity, o.findings()[0].rule.as_deref())).collect();
    assert_eq!(
        got,
        [
            (Severity::Error, Some("e0")),
            (Severity::Error, Some("d1")),
            (Severity::Note, Some("d0")),
            (Severity::Note, Some("e0")),
            (Severity::Warning, None),
        ]
    );
}

/// Logs that used to be dropped without a word: another SARIF version, a
/// `null` list of runs, a base URI outside the project (a tool run in a
/// container), a result whose first location lies outside the batch, and
/// placeholders in a message's own text.
#[tokio::test]
async fn sarif_versions_container_roots_and_second_locations() {
    let dir = tempfile::tempdir().unwrap();
    let registry = ProcessRegistry::new();
    let f = files(&["a.txt", "b.txt"]);
    write_sarif(&dir, "old.sarif", &serde_json::json!({"version": "2.0.0", "runs": []}));
    let s = spec(&dir, sh("cat old.sarif"), OutputParser::Sarif);
    assert_eq!(reason(&run(&s, &f, &registry).await[0]), "the SARIF log is version 2.0.0; only SARIF 2.1.0 is read");
    write_sarif(&dir, "null.sarif", &serde_json::json!({"version": "2.1.0", "runs": null}));
    let s = spec(&dir, sh("cat null.sarif; echo 'no config' >&2; exit 2"), OutputParser::Sarif);
    assert_eq!(
        reason(&run(&s, &f, &registry).await[1]),
        "the SARIF log's `runs` is null: the tool could not run: no config"
    );

    let log = serde_json::json!({"version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "t", "rules": [{"id": "R7"}]}},
        "originalUriBaseIds": {"SRCROOT": {"uri": "file:///src/"}},
        "results": [
            {"ruleIndex": 0, "level": "error", "message": {"text": "Variable '{0}' is never used", "arguments": ["x"]},
             "locations": [{"physicalLocation": {"artifactLocation": {"uri": "b.txt", "uriBaseId": "SRCROOT"}, "region": {"startLine": 3}}}]},
            {"level": "warning", "message": {"text": "second location"},
             "locations": [
                {"physicalLocation": {"artifactLocation": {"uri": "elsewhere.txt"}, "region": {"startLine": 9}}},
                {"physicalLocation": {"artifactLocation": {"uri": "a.txt"}, "region": {"startLine": 4}}}
             ]}
        ]
    }]});
    write_sarif(&dir, "docker.sarif", &log);
    let s = spec(&dir, sh("cat docker.sarif; exit 1"), OutputParser::Sarif);
    let out = run(&s, &f, &registry).await;
    let a = &out[0].findings()[0];
    assert_eq!((a.line, a.message.as_str()), (Some(4), "second location"));
    assert_eq!(out[1].findings()[0], Finding::error(Some(3), None, "Variable 'x' is never used").with_rule("R7"));

    // A base inside the project is taken at its word: `b.txt` there is
    // `sub/b.txt`, not the batch's `b.txt`.
    let root = dir.path().display().to_string();
    let log = serde_json::json!({"version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "t"}},
        "originalUriBaseIds": {"SUB": {"uri": format!("file://{root}/sub/")}},
        "results": [{"level": "error", "message": {"text": "in sub/b.txt"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": "b.txt", "uriBaseId": "SUB"}}}]}]
    }]});
    write_sarif(&dir, "sub.sarif", &log);
    let s = spec(&dir, sh("cat sub.sarif"), OutputParser::Sarif);
    assert_eq!(run(&s, &f, &registry).await, vec![Outcome::Passed, Outcome::Passed]);
}

/// Each run, and each invocation, of a log answers for itself: one that
/// failed is not accounted for by another's error at a checked file.
#[tokio::test]
async fn sarif_a_failed_run_is_not_excused_by_another_runs_errors() {
    let dir = tempfile::tempdir().unwrap();
    let log = serde_json::json!({"version": "2.1.0", "runs": [
        {"tool": {"driver": {"name": "one"}}, "invocations": [{"executionSuccessful": false}], "results": []},
        {"tool": {"driver": {"name": "two"}},
         "invocations": [{"executionSuccessful": true, "toolExecutionNotifications": [
            {"level": "error", "message": {"text": "cannot parse"},
             "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.js"}}}]}]}],
         "results": []}
    ]});
    write_sarif(&dir, "runs.sarif", &log);
    let s = spec(&dir, sh("cat runs.sarif; echo 'one: crashed' >&2"), OutputParser::Sarif);
    let out = run(&s, &files(&["a.js", "b.js"]), &ProcessRegistry::new()).await;
    assert_eq!(reason(&out[0]), "the tool could not check this file: cannot parse");
    assert_eq!(
        reason(&out[1]),
        "the tool reported that its run failed (SARIF executionSuccessful: false): one: crashed"
    );
    // The same with two invocations of one run.
    let log = serde_json::json!({"version": "2.1.0", "runs": [
        {"tool": {"driver": {"name": "one"}}, "results": [], "invocations": [
            {"executionSuccessful": false},
            {"executionSuccessful": true, "toolExecutionNotifications": [
                {"level": "error", "message": {"text": "cannot parse"},
                 "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.js"}}}]}]}
        ]}
    ]});
    write_sarif(&dir, "invocations.sarif", &log);
    let s = spec(&dir, sh("cat invocations.sarif; echo 'one: crashed' >&2"), OutputParser::Sarif);
    let out = run(&s, &files(&["a.js", "b.js"]), &ProcessRegistry::new()).await;
    assert_eq!(reason(&out[0]), "the tool could not check this file: cannot parse");
    assert_eq!(
        reason(&out[1]),
        "the tool reported that its run failed (SARIF executionSuccessful: false): one: crashed"
    );
}
