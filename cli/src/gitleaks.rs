//! `.gitleaks.toml`: the paths a project tells gitleaks to pass over,
//! applied to `secrets`.
//!
//! A project that scans for secrets with gitleaks keeps its scanner off the
//! files it has judged: its test suite's invented keys, a vendored tool's
//! fixtures. verdict's `secrets` looks for the same kind of thing, and
//! reading the same file keeps it off the same files, instead of reporting
//! what the project has already said is no secret.
//!
//! What is taken: the `paths` of the global allowlist (`[allowlist]`) and of
//! each `[[allowlists]]` entry, which gitleaks applies to every rule. A file
//! whose path (relative to the project root, `/`-separated) contains a
//! match of one of them is not given to `secrets`. The patterns are Go
//! regular expressions, read with the `regex` crate, whose syntax is RE2's
//! as Go's is. Left alone, because they do not name files verdict's rules
//! would pass over:
//! - an entry with `targetRules` (it is for some of gitleaks' rules, not
//!   verdict's);
//! - an entry whose `condition` is `AND` and that has `regexes`,
//!   `stopwords` or `commits` beside its paths (its paths alone waive
//!   nothing);
//! - a rule's own allowlist (`[[rules.allowlists]]`, `[rules.allowlist]`),
//!   and gitleaks' default configuration (`[extend] useDefault`);
//! - `regexes`, `stopwords` and `commits`, which waive one finding, not a
//!   file, and `.gitleaksignore`'s fingerprints, which name gitleaks' rules.
//!
//! A file verdict cannot read is not applied, and says so in every check's
//! notes; so does a pattern it cannot compile. Either way `secrets` checks
//! more files, never fewer.

use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

/// The name gitleaks reads at the top of the directory it scans, when it
/// is given no configuration.
pub const FILE_NAME: &str = ".gitleaks.toml";

/// One of the allowlists' `paths`, compiled, and where it is.
#[derive(Clone, Debug)]
pub struct PathPattern {
    /// As written.
    pub source: String,
    /// Its 1-based line.
    pub line: usize,
    regex: regex::Regex,
}

impl PartialEq for PathPattern {
    fn eq(&self, other: &PathPattern) -> bool {
        self.source == other.source && self.line == other.line
    }
}

/// A project's gitleaks configuration, as far as verdict applies it.
#[derive(Clone, Debug, PartialEq)]
pub struct Allowlist {
    /// The file's name at the project root.
    pub file: &'static str,
    /// Every allowlist's `paths` that waive a file for every rule, in the
    /// file's order.
    pub paths: Vec<PathPattern>,
    /// What in the file is not applied, and why: said in every check's notes.
    pub warnings: Vec<String>,
}

impl Allowlist {
    /// The project's gitleaks configuration at `root`, if it has one. A file
    /// that cannot be read or used is returned with no patterns and a
    /// warning saying why.
    pub fn load(root: &Path) -> Option<Allowlist> {
        let path = root.join(FILE_NAME);
        path.symlink_metadata().ok()?;
        let read = crate::config::read_config_bytes(&path, false)
            .and_then(|b| String::from_utf8(b).map_err(|_| "cannot read the file: not UTF-8".to_owned()));
        Some(match read {
            // A fault in reading it costs the allowlist, not the daemon.
            Ok(text) => std::panic::catch_unwind(|| Allowlist::parse(&text)).unwrap_or_else(|_| {
                Allowlist::unusable("verdict failed to read it (a fault of verdict's: please report it)".into())
            }),
            Err(why) => Allowlist::unusable(why),
        })
    }

    fn unusable(why: String) -> Allowlist {
        Allowlist {
            file: FILE_NAME,
            paths: Vec::new(),
            warnings: vec![format!("{FILE_NAME} is not applied: {why}; secrets checks every file it selects")],
        }
    }

    /// Reads the text of a `.gitleaks.toml`.
    pub fn parse(text: &str) -> Allowlist {
        let doc = match DeTable::parse(text) {
            Ok(doc) => doc,
            Err(e) => {
                let line = line_at(text, e.span().map_or(0, |s| s.start));
                return Allowlist::unusable(format!("line {line}: {}", e.message().trim_end()));
            }
        };
        let mut read = Read { text, paths: Vec::new(), warnings: Vec::new() };
        let top = doc.get_ref();
        if let Some((key, value)) = top.get_key_value("allowlist") {
            match value.get_ref() {
                DeValue::Table(t) => read.entry(t, "[allowlist]"),
                _ => read.warn(key.span(), "`allowlist` is not a table; it is not applied".to_owned()),
            }
        }
        if let Some((key, value)) = top.get_key_value("allowlists") {
            match value.get_ref() {
                DeValue::Array(list) => {
                    for item in list.iter() {
                        match item.get_ref() {
                            DeValue::Table(t) => read.entry(t, "an [[allowlists]] entry"),
                            _ => read.warn(
                                item.span(),
                                "an `allowlists` entry is not a table; it is not applied".to_owned(),
                            ),
                        }
                    }
                }
                _ => read.warn(key.span(), "`allowlists` is not an array of tables; it is not applied".to_owned()),
            }
        }
        let Read { paths, mut warnings, .. } = read;
        warnings.sort_by_key(|(line, _)| *line);
        Allowlist { file: FILE_NAME, paths, warnings: warnings.into_iter().map(|(_, w)| w).collect() }
    }

    /// The first of its patterns found in `path` (relative to the project
    /// root, `/`-separated): the file is waived for `secrets`.
    pub fn allowing(&self, path: &str) -> Option<&PathPattern> {
        self.paths.iter().find(|p| p.regex.is_match(path))
    }

    /// Its patterns in words, for `config show`: `paths "testdata" (line 12),
    /// ".*_test\\.go" (line 13)`.
    pub fn describe(&self) -> String {
        let each: Vec<String> = self.paths.iter().map(|p| format!("{:?} (line {})", p.source, p.line)).collect();
        format!("the allowlists' paths {}", each.join(", "))
    }

    /// Why `secrets` leaves `path` out, in words that end a sentence naming
    /// it; `None` when it does not.
    pub fn left_out_because(&self, path: &str) -> Option<String> {
        let p = self.allowing(path)?;
        Some(format!("{}'s allowlist path {:?} (line {}) matches it", self.file, p.source, p.line))
    }
}

/// What [`Allowlist::parse`] gathers.
struct Read<'t> {
    text: &'t str,
    paths: Vec<PathPattern>,
    /// By line, to be sorted into the file's order.
    warnings: Vec<(usize, String)>,
}

impl Read<'_> {
    fn warn(&mut self, span: Range<usize>, what: String) {
        let line = line_at(self.text, span.start);
        self.warnings.push((line, format!("{FILE_NAME} line {line}: {what}")));
    }

    /// One allowlist: its `paths`, when gitleaks waives every file they
    /// match for every rule.
    fn entry(&mut self, table: &DeTable<'_>, what: &str) {
        let Some((key, paths)) = table.get_key_value("paths") else { return };
        let listed = |k: &str| match table.get(k).map(Spanned::get_ref) {
            Some(DeValue::Array(a)) => !a.is_empty(),
            Some(DeValue::String(s)) => !s.is_empty(),
            _ => false,
        };
        // For some of gitleaks' rules only.
        if listed("targetRules") {
            return;
        }
        // `AND`: a finding is waived only when every criterion given holds;
        // the path alone waives nothing when there are others.
        let and = matches!(table.get("condition").map(Spanned::get_ref), Some(DeValue::String(c)) if c.trim().eq_ignore_ascii_case("and"));
        if and && ["regexes", "stopwords", "commits"].iter().any(|k| listed(k)) {
            return;
        }
        let DeValue::Array(list) = paths.get_ref() else {
            self.warn(key.span(), format!("the `paths` of {what} is not an array; it is not applied"));
            return;
        };
        self.patterns(list, what);
    }

    fn patterns(&mut self, list: &DeArray<'_>, what: &str) {
        for item in list.iter() {
            let DeValue::String(source) = item.get_ref() else {
                self.warn(item.span(), format!("a path of {what} is not a string; it is not applied"));
                continue;
            };
            let line = line_at(self.text, item.span().start);
            match regex::RegexBuilder::new(source).size_limit(1 << 20).build() {
                Ok(regex) => self.paths.push(PathPattern { source: source.to_string(), line, regex }),
                Err(e) => {
                    let why = e.to_string().lines().last().unwrap_or_default().trim().to_owned();
                    self.warn(
                        item.span(),
                        format!(
                            "the path {source:?} of {what} is not a regular expression verdict can read ({why}); \
                             it is not applied"
                        ),
                    );
                }
            }
        }
    }
}

/// The 1-based line of the byte `offset` of `text`.
fn line_at(text: &str, offset: usize) -> usize {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    before.bytes().filter(|&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_global_allowlists_paths_waive_the_files_they_are_found_in() {
        // gitleaks' own file, in its older form.
        let a = Allowlist::parse(
            "title = \"Gitleaks development\"\n[extend]\nuseDefault = true\n\n[allowlist]\npaths = [\n  '''(^|/)cmd/generate/config/rules''',\n  '''.*test\\.go''',\n  '''testdata'''\n]\n",
        );
        assert!(a.warnings.is_empty(), "{:?}", a.warnings);
        assert_eq!(a.paths.iter().map(|p| p.line).collect::<Vec<_>>(), [7, 8, 9]);
        assert_eq!(a.allowing("detect/detect_test.go").map(|p| p.line), Some(8));
        assert_eq!(a.allowing("cmd/generate/config/rules/gcp.go").map(|p| p.line), Some(7));
        assert_eq!(a.allowing("testdata/repos/small/api/api.go").map(|p| p.line), Some(9));
        assert_eq!(
            a.left_out_because("x/testdata/key.pem").as_deref(),
            Some(".gitleaks.toml's allowlist path \"testdata\" (line 9) matches it"),
            "searched anywhere, as Go's MatchString does"
        );
        for kept in ["config/gitleaks.toml", "detect/detect.go", "xcmd/generate/config/rules.go"] {
            assert!(a.allowing(kept).is_none(), "{kept}");
            assert_eq!(a.left_out_because(kept), None);
        }
        assert_eq!(
            a.describe(),
            "the allowlists' paths \"(^|/)cmd/generate/config/rules\" (line 7), \".*test\\\\.go\" (line 8), \"testdata\" (line 9)"
        );
    }

    #[test]
    fn every_allowlists_entry_for_all_rules_is_read_and_the_others_are_not() {
        let a = Allowlist::parse(
            r#"[[allowlists]]
description = "fixtures"
paths = ['''^tests/fixtures/''']

[[allowlists]]
description = "for one rule of gitleaks'"
targetRules = ["aws-access-token"]
paths = ['''^docs/''']

[[allowlists]]
condition = "AND"
regexes = ['''EXAMPLE''']
paths = ['''^examples/''']

[[allowlists]]
condition = "AND"
paths = ['''^samples/''']

[[allowlists]]
regexes = ['''EXAMPLE''']
paths = ['''\.snap$''']

[[rules]]
id = "own"
regex = '''x'''
[[rules.allowlists]]
paths = ['''^src/''']
"#,
        );
        assert!(a.warnings.is_empty(), "{:?}", a.warnings);
        let sources: Vec<&str> = a.paths.iter().map(|p| p.source.as_str()).collect();
        // `OR` (the default): the path alone waives a finding; `AND` with
        // paths alone, likewise.
        assert_eq!(sources, ["^tests/fixtures/", "^samples/", r"\.snap$"]);
        for kept in ["docs/keys.md", "examples/a.env", "src/a.rs"] {
            assert!(a.allowing(kept).is_none(), "{kept}");
        }
    }

    #[test]
    fn what_verdict_cannot_use_is_said_and_leaves_the_files_checked() {
        let a = Allowlist::parse("[allowlist]\npaths = [\n  '''(?<=a)b''',\n  7,\n  '''ok/''',\n]\n");
        assert_eq!(a.paths.iter().map(|p| p.source.as_str()).collect::<Vec<_>>(), ["ok/"]);
        assert_eq!(a.warnings.len(), 2, "{:?}", a.warnings);
        assert!(a.warnings[0].starts_with(".gitleaks.toml line 3: the path \"(?<=a)b\" of [allowlist] is not a regular expression verdict can read ("), "{}", a.warnings[0]);
        assert!(a.warnings[0].ends_with("); it is not applied"), "{}", a.warnings[0]);
        assert_eq!(a.warnings[1], ".gitleaks.toml line 4: a path of [allowlist] is not a string; it is not applied");

        let a = Allowlist::parse("allowlists = 3\n\n[allowlist]\npaths = '''testdata'''\n");
        assert!(a.paths.is_empty());
        assert_eq!(
            a.warnings,
            [
                ".gitleaks.toml line 1: `allowlists` is not an array of tables; it is not applied",
                ".gitleaks.toml line 4: the `paths` of [allowlist] is not an array; it is not applied",
            ]
        );

        let a = Allowlist::parse("[allowlist]\npaths = [\n'''testdata'''\n\n[rules]\n");
        assert!(a.paths.is_empty());
        assert_eq!(a.warnings.len(), 1);
        assert!(a.warnings[0].starts_with(".gitleaks.toml is not applied: line "), "{}", a.warnings[0]);
        assert!(a.warnings[0].ends_with("; secrets checks every file it selects"), "{}", a.warnings[0]);
    }

    #[test]
    fn a_file_that_cannot_be_read_is_said_and_none_is_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Allowlist::load(dir.path()), None);
        std::fs::write(dir.path().join(FILE_NAME), b"[allowlist]\npaths = ['''\xff''']\n").unwrap();
        let a = Allowlist::load(dir.path()).expect("a file is there");
        assert!(a.paths.is_empty());
        assert_eq!(
            a.warnings,
            [".gitleaks.toml is not applied: cannot read the file: not UTF-8; secrets checks every file it selects"]
        );
        std::fs::remove_file(dir.path().join(FILE_NAME)).unwrap();
        std::fs::create_dir(dir.path().join(FILE_NAME)).unwrap();
        let a = Allowlist::load(dir.path()).expect("a directory is there");
        assert_eq!(
            a.warnings,
            [
                ".gitleaks.toml is not applied: cannot read the file: not a regular file; secrets checks every file it selects"
            ]
        );
    }
}
