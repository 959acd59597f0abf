//! Built-in validators: the checks verdict runs in-process, without spawning
//! an external command.
//!
//! This module owns the thirteen [`BuiltinKind`]s, their names, default file
//! globs, dimensions and settings, and [`check`], which runs one of them over
//! one file's bytes. Every check is a pure, synchronous function of the content
//! (plus its size and executable bit): no I/O, no async, no global state. The
//! caller reads the file and runs the check on tokio's blocking pool.
//!
//! # Performance
//!
//! The checks are written to cost about as much as reading the bytes once.
//! They scan with `memchr`/`memmem`, `std::str::from_utf8` and a literal
//! (Teddy/SIMD) multi-pattern search, and only work out a line and column for
//! the rare offending position, counting newlines incrementally in file order.
//! At most [`MAX_FINDINGS`] findings are reported per check and file; past that
//! one last finding says how many more there were.
//!
//! # Positions
//!
//! Lines are 1-based and end at LF or CRLF; in a file with no LF but a CR
//! ("classic Mac" line endings) they end at CR (`yaml`, in a file that decodes
//! as text, counts them as YAML does: a lone CR ends one anywhere). Columns
//! are 1-based and count the characters of the line up to the position, an
//! invalid UTF-8 sequence as one (as an editor showing it as U+FFFD does). A
//! UTF-8 byte order mark at the start of the file is not counted.
//!
//! # Binary files
//!
//! [`is_binary`] decides like git: a NUL byte among the first 8,000 bytes;
//! and a PDF is binary, whose header says so (git would take one without a
//! NUL early for text).
//! Text-only checks ([`BuiltinKind::text_only`]) are never run over binary
//! content: [`check`] returns no findings for them. `secrets` and
//! `merge-conflict` read binary content that is UTF-16 or UTF-32 text
//! (with its byte order mark), decoded, and a file that is binary only by a
//! mark as it is, and pass the rest.

mod locate;
mod secrets;
mod syntax;
pub use syntax::plain_toml_message;
pub use yaml::relaxed_layout;
mod text;
mod yaml;

#[cfg(test)]
mod tests;

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::outcome::{Finding, Severity};
use locate::Collector;

/// The most findings one check reports for one file; past that, a final
/// finding says "… and N more".
pub const MAX_FINDINGS: usize = 100;

/// How many leading bytes [`is_binary`] looks at (git's `FIRST_FEW_BYTES`).
pub const BINARY_SNIFF_LEN: usize = 8000;

/// The UTF-8 byte order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One built-in check.
///
/// Serialized as its [`name`](BuiltinKind::name) (`"trailing-whitespace"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BuiltinKind {
    /// The content is valid UTF-8.
    Utf8,
    /// No line ends in spaces or tabs.
    TrailingWhitespace,
    /// No line of a Markdown file ends in spaces or tabs, but for hard line
    /// breaks.
    MarkdownTrailingWhitespace,
    /// The file ends with exactly one newline.
    FinalNewline,
    /// No leftover merge conflict markers.
    MergeConflict,
    /// Line endings are all LF, all CRLF or all CR, not a mix.
    MixedLineEndings,
    /// The file is not larger than [`BuiltinSettings::max_size`].
    LargeFile,
    /// The file is well-formed JSON.
    Json,
    /// The file is well-formed JSON with comments (JSONC).
    Jsonc,
    /// The file is well-formed TOML.
    Toml,
    /// The file is a well-formed YAML stream.
    Yaml,
    /// No private keys or well-known API tokens.
    Secrets,
    /// A file starting with `#!` is executable.
    ShebangExecutable,
}

impl BuiltinKind {
    /// Every built-in, in documentation order.
    pub const ALL: [BuiltinKind; 13] = [
        BuiltinKind::Utf8,
        BuiltinKind::TrailingWhitespace,
        BuiltinKind::MarkdownTrailingWhitespace,
        BuiltinKind::FinalNewline,
        BuiltinKind::MergeConflict,
        BuiltinKind::MixedLineEndings,
        BuiltinKind::LargeFile,
        BuiltinKind::Json,
        BuiltinKind::Jsonc,
        BuiltinKind::Toml,
        BuiltinKind::Yaml,
        BuiltinKind::Secrets,
        BuiltinKind::ShebangExecutable,
    ];

    /// The stable name used in configuration, in findings' `rule` and in
    /// reports.
    pub fn name(self) -> &'static str {
        match self {
            BuiltinKind::Utf8 => "utf8",
            BuiltinKind::TrailingWhitespace => "trailing-whitespace",
            BuiltinKind::MarkdownTrailingWhitespace => "markdown-trailing-whitespace",
            BuiltinKind::FinalNewline => "final-newline",
            BuiltinKind::MergeConflict => "merge-conflict",
            BuiltinKind::MixedLineEndings => "mixed-line-endings",
            BuiltinKind::LargeFile => "large-file",
            BuiltinKind::Json => "json",
            BuiltinKind::Jsonc => "jsonc",
            BuiltinKind::Toml => "toml",
            BuiltinKind::Yaml => "yaml",
            BuiltinKind::Secrets => "secrets",
            BuiltinKind::ShebangExecutable => "shebang-executable",
        }
    }

    /// The built-in called `s` (exactly as [`name`](Self::name) spells it).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }

    /// The file globs the built-in applies to unless configured otherwise:
    /// the extensions in either case, and the lock files written in the
    /// format under another name.
    pub fn default_files(self) -> &'static [&'static str] {
        match self {
            BuiltinKind::Json => &["*.json", "*.JSON", "*.geojson", "*.ipynb", "composer.lock"],
            BuiltinKind::Jsonc => JSONC_FILES,
            BuiltinKind::Toml => &["*.toml", "*.TOML", "Cargo.lock", "Pipfile", "poetry.lock", "uv.lock"],
            BuiltinKind::Yaml => &["*.yaml", "*.yml", "*.YAML", "*.YML"],
            BuiltinKind::MarkdownTrailingWhitespace => MARKDOWN_FILES,
            _ => &["*"],
        }
    }

    /// The globs the built-in leaves out unless configured otherwise: `json`
    /// leaves the files `jsonc` checks to it, `trailing-whitespace` the
    /// Markdown files to `markdown-trailing-whitespace`; it and
    /// `mixed-line-endings` leave patches out, whose lines are other files'
    /// (an unchanged blank line is a lone space; a file with CRLF endings
    /// gives its own among the patch's LF); the whitespace, line-ending and
    /// shebang checks leave out tests' expected outputs
    /// ([`EXPECTED_OUTPUT`]), and all but the shebang check test data
    /// ([`TEST_DATA_DIRS`]), which `utf8` and the syntax checks leave out
    /// too, and `utf8` files named for another encoding
    /// ([`ENCODING_NAMED`]). The syntax checks leave out
    /// what project templates hold ([`TEMPLATE_DIRS`]), `json` and `utf8`
    /// JSONTestSuite's corpus ([`JSON_TEST_SUITE`]), `final-newline` a
    /// Mason brick's templates ([`PARTIAL_TEMPLATES`]), `shebang-executable`
    /// template files ([`TEMPLATE_FILES`]) and patches, the layout checks
    /// licence texts ([`LICENCE_TEXTS`]), `trailing-whitespace` and
    /// `final-newline` alist matrices ([`ALIST_FILES`]), `utf8` tests'
    /// expected outputs, and `large-file` package
    /// managers' lock files ([`LOCK_FILES`]) and committed releases
    /// ([`PACKAGE_MANAGER_RELEASES`]), translation catalogs, tests'
    /// expected outputs and changelogs ([`CHANGELOGS`]); the syntax checks tests' inputs made not to parse
    /// ([`INVALID_FIXTURES`]), and `utf8` patches ([`PATCH_FILES`]); all but the syntax checks, `secrets` and
    /// `merge-conflict` third-party directories ([`THIRD_PARTY_DIRS`]), and
    /// `merge-conflict` tests' conflicted inputs ([`CONFLICT_FIXTURES`]).
    pub fn default_exclude(self) -> Vec<&'static str> {
        let parts: &[&[&str]] = match self {
            BuiltinKind::Json => &[JSONC_FILES, TEMPLATE_DIRS, TEST_DATA_DIRS, JSON_TEST_SUITE, INVALID_FIXTURES],
            BuiltinKind::Jsonc | BuiltinKind::Toml | BuiltinKind::Yaml => {
                &[TEMPLATE_DIRS, TEST_DATA_DIRS, INVALID_FIXTURES]
            }
            BuiltinKind::TrailingWhitespace => &[
                MARKDOWN_FILES,
                PATCH_FILES,
                EXPECTED_OUTPUT,
                TEST_DATA_DIRS,
                MINIFIED_FILES,
                TOOL_LAYOUT,
                DELIMITED_FILES,
                MAIL_FILES,
                CERTIFICATE_FILES,
                THIRD_PARTY_DIRS,
                MODEL_FILES,
                LICENCE_TEXTS,
                ALIST_FILES,
            ],
            BuiltinKind::MarkdownTrailingWhitespace => {
                &[EXPECTED_OUTPUT, TEST_DATA_DIRS, TOOL_LAYOUT, THIRD_PARTY_DIRS, LICENCE_TEXTS]
            }
            BuiltinKind::MixedLineEndings => {
                &[PATCH_FILES, EXPECTED_OUTPUT, TEST_DATA_DIRS, TOOL_LAYOUT, THIRD_PARTY_DIRS, MAIL_FILES, MODEL_FILES]
            }
            BuiltinKind::ShebangExecutable => &[
                TEMPLATE_FILES,
                EXPECTED_OUTPUT,
                INSTALLED_SCRIPTS,
                THIRD_PARTY_DIRS,
                TEST_FIXTURES,
                TAP_TESTS,
                PATCH_FILES,
                NOT_RUN,
            ],
            BuiltinKind::FinalNewline => &[
                MINIFIED_FILES,
                &["*.map"],
                EXPECTED_OUTPUT,
                TEST_DATA_DIRS,
                IDE_FILES,
                TOOL_LAYOUT,
                WRITTEN_WITHOUT_NEWLINE,
                MAIL_FILES,
                THIRD_PARTY_DIRS,
                PARTIAL_TEMPLATES,
                MODEL_FILES,
                LICENCE_TEXTS,
                ALIST_FILES,
                ANDROID_TRANSLATIONS,
            ],
            BuiltinKind::Utf8 => &[
                MAIL_FILES,
                EXPECTED_OUTPUT,
                PATCH_FILES,
                TEST_DATA_DIRS,
                THIRD_PARTY_DIRS,
                JSON_TEST_SUITE,
                ENCODING_NAMED,
                MODEL_FILES,
            ],
            BuiltinKind::LargeFile => &[
                LOCK_FILES,
                PACKAGE_MANAGER_RELEASES,
                TRANSLATION_CATALOGS,
                EXPECTED_OUTPUT,
                THIRD_PARTY_DIRS,
                CHANGELOGS,
            ],
            BuiltinKind::MergeConflict => &[CONFLICT_FIXTURES],
            _ => &[],
        };
        parts.concat()
    }

    /// The dimension its findings are reported under unless configured
    /// otherwise: `format`, `syntax`, `security`, `size` or `lint`.
    pub fn default_dimension(self) -> &'static str {
        match self {
            BuiltinKind::TrailingWhitespace
            | BuiltinKind::MarkdownTrailingWhitespace
            | BuiltinKind::FinalNewline
            | BuiltinKind::MixedLineEndings => "format",
            BuiltinKind::Utf8
            | BuiltinKind::MergeConflict
            | BuiltinKind::Json
            | BuiltinKind::Jsonc
            | BuiltinKind::Toml
            | BuiltinKind::Yaml => "syntax",
            BuiltinKind::Secrets => "security",
            BuiltinKind::LargeFile => "size",
            BuiltinKind::ShebangExecutable => "lint",
        }
    }

    /// Whether the check judges a file's layout (blanks, line endings, the
    /// final newline), which a tool that writes the file decides: files
    /// that say they are written by one ([`tool_signature`]) get no
    /// findings from it.
    pub fn judges_layout(self) -> bool {
        matches!(
            self,
            BuiltinKind::TrailingWhitespace
                | BuiltinKind::MarkdownTrailingWhitespace
                | BuiltinKind::FinalNewline
                | BuiltinKind::MixedLineEndings
        )
    }

    /// Whether the check leaves one of a test's pair of files alone
    /// ([`FileMarks::test_pair`]): the layout, encoding and shebang checks,
    /// whose findings there are the test's bytes (an indenter's input with
    /// trailing blanks, the expected output of a script with a shebang).
    /// The syntax checks, `secrets`, `merge-conflict` and `large-file` judge
    /// it as any file.
    pub fn spares_test_pairs(self) -> bool {
        self.judges_layout() || matches!(self, BuiltinKind::Utf8 | BuiltinKind::ShebangExecutable)
    }

    /// Whether the check only makes sense on text. Binary files (see
    /// [`is_binary`]) are never given to text-only checks; [`check`] returns
    /// no findings for them.
    ///
    /// Not text-only: `large-file` (looks at the size only), `json`, `toml`
    /// and `yaml` (selected by file name; a NUL byte in a `.json` file is a
    /// real syntax error worth reporting), `shebang-executable` (a
    /// self-extracting `#!/bin/sh` script with a binary payload still needs
    /// its executable bit), and `secrets` and `merge-conflict`, which read a
    /// binary file that is UTF-16 or UTF-32 text decoded (a key in a UTF-16
    /// script is a key) and pass any other.
    pub fn text_only(self) -> bool {
        match self {
            BuiltinKind::Utf8
            | BuiltinKind::TrailingWhitespace
            | BuiltinKind::MarkdownTrailingWhitespace
            | BuiltinKind::FinalNewline
            | BuiltinKind::MixedLineEndings => true,
            BuiltinKind::MergeConflict
            | BuiltinKind::Secrets
            | BuiltinKind::LargeFile
            | BuiltinKind::Json
            | BuiltinKind::Jsonc
            | BuiltinKind::Toml
            | BuiltinKind::Yaml
            | BuiltinKind::ShebangExecutable => false,
        }
    }

    /// Whether the check reads a binary file only for the text it may hold
    /// (UTF-16 or UTF-32 text, or text that only a mark makes binary), and
    /// so has nothing to say of one it cannot read whole.
    pub fn reads_binary_for_text(self) -> bool {
        matches!(self, BuiltinKind::Secrets | BuiltinKind::MergeConflict)
    }

    /// One line describing the check, for docs and `verdict status`.
    pub fn description(self) -> &'static str {
        match self {
            BuiltinKind::Utf8 => "content is valid UTF-8 (a byte order mark is allowed)",
            BuiltinKind::TrailingWhitespace => "no line ends in spaces or tabs",
            BuiltinKind::MarkdownTrailingWhitespace => {
                "no line ends in spaces or tabs, but for Markdown's two-space line breaks"
            }
            BuiltinKind::FinalNewline => "a non-empty file ends with a newline and no trailing blank lines",
            BuiltinKind::MergeConflict => "no leftover merge conflict markers",
            BuiltinKind::MixedLineEndings => {
                "line endings are not a mix of LF, CRLF and CR, and are the ones .editorconfig sets"
            }
            BuiltinKind::LargeFile => "file is not larger than the configured limit",
            BuiltinKind::Json => "file parses as JSON, without duplicate keys",
            BuiltinKind::Jsonc => "file parses as JSON with comments and trailing commas, without duplicate keys",
            BuiltinKind::Toml => "file parses as TOML",
            BuiltinKind::Yaml => "file parses as a YAML 1.2 stream, without duplicate keys",
            BuiltinKind::Secrets => "no private keys or well-known API tokens",
            BuiltinKind::ShebangExecutable => "a file starting with #! is executable",
        }
    }
}

/// The files written in JSON with comments (JSONC) by the tools that read
/// them: TypeScript's and VS Code's configuration, dev containers, ESLint's
/// `.eslintrc.json`, TypeDoc's, Deno's, Turborepo's, ASP.NET Core's
/// `appsettings.json` (read with comments and trailing commas skipped),
/// the .NET SDK's `runtimeconfig.template.json` (read with Newtonsoft.Json,
/// which skips comments), cspell's (read with `comment-json`), and VS Code's
/// and Theia's `launch.json` wherever it is kept (a copy under `docs/`),
/// Theia's `.theia/` settings, airspeed velocity's `asv.conf.json`
/// (whose loader strips `//` comments, and whose template writes them),
/// Jest's `jest.config.json` and Mocha's `.mocharc.json` (both read with
/// `strip-json-comments`), oxlint's `.oxlintrc.json`, TSLint's
/// `tslint.json`, API Extractor's `api-extractor.json` (whose template
/// is comments) and a VS Code language extension's
/// `language-configuration.json`. `json` leaves them out.
const JSONC_FILES: &[&str] = &[
    "*.jsonc",
    "*.JSONC",
    "*.code-workspace",
    "tsconfig.json",
    "tsconfig.*.json",
    "tsconfig-*.json",
    "*.tsconfig.json",
    "jsconfig.json",
    "jsconfig.*.json",
    "jsconfig-*.json",
    "typedoc.json",
    "**/.vscode/*.json",
    "devcontainer.json",
    ".devcontainer.json",
    ".eslintrc.json",
    "deno.json",
    "turbo.json",
    "appsettings.json",
    "appsettings.*.json",
    "runtimeconfig.template.json",
    "cspell.json",
    ".cspell.json",
    "cSpell.json",
    ".cSpell.json",
    "cspell.config.json",
    "launch.json",
    "**/.theia/*.json",
    "asv.conf.json",
    "jest.config.json",
    ".mocharc.json",
    ".oxlintrc.json",
    "tslint.json",
    "api-extractor.json",
    "language-configuration.json",
];

/// Markdown files, by the extensions GitHub's Linguist gives Markdown (and
/// MDX, Livebook's and ExDoc's cheat sheets, which take Markdown's line
/// breaks): `trailing-whitespace` leaves
/// them to `markdown-trailing-whitespace`.
const MARKDOWN_FILES: &[&str] = &[
    "*.md",
    "*.MD",
    "*.markdown",
    "*.mdown",
    "*.mdwn",
    "*.mkd",
    "*.mkdn",
    "*.mkdown",
    "*.mdx",
    "*.livemd",
    "*.cheatmd",
];

/// A test's input made not to parse, below a directory of tests, by its
/// name or its directory's: `invalid`, `broken` or `malformed`, alone or
/// followed by `-`, `_`, `.` or a capital (not `invalidate`), or
/// `…-error`, `…-errors`, `…_error`, `…_errors` (babel's
/// `errors/invalid-json/babel.config.json`, prettier's
/// `config/invalid/broken-yaml/`, parcel's `json-error/package.json`).
const INVALID_FIXTURES: &[&str] = &[
    "**/{test,tests,Tests,spec,__tests__}/**/{invalid,broken,malformed}",
    "**/{test,tests,Tests,spec,__tests__}/**/{invalid,broken,malformed}/",
    "**/{test,tests,Tests,spec,__tests__}/**/{invalid,broken,malformed}[-_.A-Z]*",
    "**/{test,tests,Tests,spec,__tests__}/**/{invalid,broken,malformed}[-_.A-Z]*/",
    "**/{test,tests,Tests,spec,__tests__}/**/*[-_]error/",
    "**/{test,tests,Tests,spec,__tests__}/**/*[-_]errors/",
];

/// The release of its package manager a project commits to run it from:
/// Yarn 2+'s (`yarnPath` in `.yarnrc.yml` names it, and Yarn's docs ask
/// for it to be committed), a bundle of 2 to 3 MiB.
const PACKAGE_MANAGER_RELEASES: &[&str] = &["**/.yarn/releases/*.cjs", "**/.yarn/releases/*.js"];

/// Patches, as `git diff` and `diff -u` write them. `patch` applies them,
/// nothing runs them: a `#!` first line is dpatch's header (`#! /bin/sh
/// /usr/share/dpatch/dpatch-run`), which termux's old patches keep, and
/// `shebang-executable` leaves them out (a `*.dpatch`, which dpatch runs,
/// stays checked).
const PATCH_FILES: &[&str] = &["*.patch", "*.diff"];

/// Files nothing runs, whatever their first line: text (`*.txt`: a module
/// set aside so that no runner collects it, TheAlgorithms' `bb84.py.DISABLED.txt`;
/// a test's input) and the examples dh_make writes into `debian/` for a
/// packager to rename and edit (`postinst.ex`, `init.d.ex`; dh_make writes
/// `*.EX` too).
const NOT_RUN: &[&str] = &["*.txt", "**/debian/*.ex", "**/debian/*.EX"];

/// Android's translated resources, in a directory qualified by a language
/// (`res/values-de/`, `values-pt-rBR/`, `values-b+sr+Latn/`; not
/// `values/`, `values-night/` or `values-v21/`): a translation platform
/// (Weblate, Crowdin) writes them, with or without a final line break, and
/// writes them again at its next sync. (Directories: matched once each.)
const ANDROID_TRANSLATIONS: &[&str] = &[
    "**/res/values-[a-z][a-z]/",
    "**/res/values-[a-z][a-z]-r[A-Z][A-Z]/",
    "**/res/values-[a-z][a-z][a-z]-r[A-Z][A-Z]/",
    "**/res/values-b+*/",
];

/// Parity-check matrices in MacKay's alist format (GNU Radio's LDPC
/// codes, `*.alist`), whose writers end every number with a blank, each
/// row's last too.
const ALIST_FILES: &[&str] = &["*.alist"];

/// Licence texts kept as published, in a directory of them: REUSE's
/// `LICENSES/` (what `reuse download` fetches from SPDX), a Yocto layer's
/// `licenses/` (its `LICENSE_PATH`, copied into images as it is),
/// termux's package of licence texts. Their blanks and ends are the
/// text's.
const LICENCE_TEXTS: &[&str] = &["LICENSES/", "licenses/"];

/// Package managers' lock files: as large as the dependency tree they pin,
/// and committed on purpose.
const LOCK_FILES: &[&str] = &[
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lock",
    "bun.lockb",
    "Cargo.lock",
    "poetry.lock",
    "uv.lock",
    "Pipfile.lock",
    "pdm.lock",
    "composer.lock",
    "Gemfile.lock",
    "go.sum",
    "mix.lock",
    "flake.lock",
    "pubspec.lock",
    "Podfile.lock",
    "packages.lock.json",
    "project.lock.json",
    "gradle.lockfile",
    "pixi.lock",
    "conda-lock.yml",
];

/// A project's history of releases, which grows with each one and which
/// release tools append to (changesets, git-cliff, towncrier): as large as
/// the project is old (eslint's `CHANGELOG.md` passes 1 MB), kept whole on
/// purpose. By text files' names only (`CHANGELOG.md`, `CHANGELOG-old.md`,
/// `changes.xml`, a bare `NEWS`): exclusions take out a directory's
/// files too, and a `changelog/` of release notes' images is not one.
const CHANGELOGS: &[&str] = &[
    "{CHANGELOG,ChangeLog,CHANGES,HISTORY,NEWS}",
    "{CHANGELOG,Changelog,ChangeLog,changelog,CHANGES,Changes,changes,HISTORY,History,history,NEWS,RELEASE_NOTES,RELEASE-NOTES}.{md,markdown,rst,txt,adoc,xml}",
    "{CHANGELOG,Changelog,ChangeLog,changelog,CHANGES,Changes,changes,HISTORY,History,history,NEWS,RELEASE_NOTES,RELEASE-NOTES}[-_.]*.{md,markdown,rst,txt,adoc,xml}",
    "**/debian/changelog",
];

/// Third-party code by its directory's name, as GitHub Linguist's
/// vendored paths name it (`third_party/`, `3rdparty/`, …), and a
/// the same names for libraries (bullet3's `examples/ThirdPartyLibs/`), a
/// subdirectory of a root `deps/` (redis's `deps/lua/`, Node.js's
/// `deps/v8/`): kept as upstream wrote it (the project's own `deps/Makefile`
/// stays checked), and the scripts the VS Code dev containers' templates
/// copied in (`.devcontainer/library-scripts/`, which their README says
/// may be replaced from Microsoft's repository), and the packages Bower
/// installs (`bower_components/`, as Linguist has it), and the WIT
/// packages wit-deps and wkg fetch into a component's `wit/deps/`
/// (wasmtime's `ci/vendor-wit.sh` fills them from upstream). Linguist's bare
/// `vendor/` is not one of them: projects name their own code so.
const THIRD_PARTY_DIRS: &[&str] = &[
    "third_party/",
    "third-party/",
    "thirdparty/",
    "ThirdParty/",
    "3rdparty/",
    "3rd_party/",
    "3rd-party/",
    "3rdParty/",
    "ThirdPartyLibs/",
    "thirdPartyLibs/",
    "third_party_libs/",
    "third-party-libs/",
    "deps/*/",
    "**/.devcontainer/library-scripts/",
    "**/bower_components/",
    "**/wit/deps/",
];

/// A test's conflicted input, below a directory of tests, by its name or
/// its directory's (Composer's `composer-lock-merge-conflict-simple.txt`,
/// webpack's `build-http-merge-conflict/`), and a snapshot of a test of
/// conflicts, wherever its snapshots are (insta's beside the source:
/// gleam's `src/parse/snapshots/…merge_conflict_gt.snap`).
const CONFLICT_FIXTURES: &[&str] = &[
    "**/{test,tests,Tests,spec,__tests__}/**/*[mM]erge[-_][cC]onflict*",
    "**/{test,tests,Tests,spec,__tests__}/**/*[mM]erge[-_][cC]onflict*/",
    "*[mM]erge[-_][cC]onflict*.snap",
];

/// gettext's translation catalogs: as large as the program's messages
/// (git's `po/*.po` are 0.5 to 1 MiB each), and kept whole.
const TRANSLATION_CATALOGS: &[&str] = &["*.po", "*.pot", "*.xcstrings"];

/// Tests' expected outputs, which must be what the code under test writes,
/// byte for byte (a code frame's empty line ending in spaces, an error
/// message's trailing blank, a generated plist without a final newline, a
/// completion script's snapshot with a shebang): Jest's and Vitest's
/// snapshots, golden files, files named as expected output with a hyphen
/// (`expected-agent.plist`, `settings-expected.conf`: an underscore names
/// source modules, `expected_conditions.py`) or as a dotted word before the
/// extension (`defaults.expected.yml`, Symfony's dumped configurations) or
/// as `_expected` in a test's samples (Svelte's and Rollup's
/// `samples/*/_expected.html`, and `_expected/` directories, which their
/// harnesses write; elsewhere `_expected.py` may be a hand-written module
/// of a test's constants), captured output
/// (`*.stdout`, `*.stderr`, `*.output`: rustc's UI tests, trybuild's,
/// Ansible's, nlohmann/json's documented examples' outputs; `*.stdout.*`,
/// `*.stderr.*`: zstd's `*.stderr.exact`, matched byte for byte; `*.out` below
/// a directory of tests: V's compiler errors, with their code frames'
/// `    3 | ` lines, which its test rewrites with `VAUTOFIX`, black's
/// `debug_visitor.out`), and snapshot directories
/// (swift-snapshot-testing's `__Snapshots__/`, inline-snapshot's
/// `.inline-snapshot/external/`, each file named by its bytes' SHA-256,
/// a `Snapshots/` below a
/// `Tests/`: one elsewhere may hold code; testthat's `_snaps/`, at any
/// depth below `testthat/`), and golden directories below a directory of
/// tests (`golden/`, `goldens/`, `golden_output/`: Ansible collections'
/// unit tests compare their files whole; elsewhere `golden/` names a Go
/// package of helpers), and `expectations/` and `expects/` there
/// (PHPUnit's renderers' expected outputs, compared with
/// `assertStringEqualsFile`; Sphinx's LaTeX tables'), and the text and
/// tables of a `results/` or `NAME_results/` directory there
/// (statsmodels' `tests/results/`: what R, Stata or JMulTi printed, which
/// the tests parse and compare with; the scripts that made them, `.R`,
/// `.do`, stay checked).
const EXPECTED_OUTPUT: &[&str] = &[
    "*.snap",
    "*.golden",
    "*[-_]golden.txt",
    "*[-_]golden-*.txt",
    "*.approved.*",
    "*.verified.*",
    "*.expected",
    "*.expected.*",
    "**/samples/**/_expected.*",
    "_expected/",
    "*.stdout",
    "*.stderr",
    "*.stdout.*",
    "*.stderr.*",
    "*.output",
    "*.result",
    "*.term.txt",
    "*.term.svg",
    "expected-*",
    "*-expected.*",
    "__snapshots__/",
    "__Snapshots__/",
    "**/.inline-snapshot/external/",
    "**/Tests/**/Snapshots/",
    "**/testthat/**/_snaps/",
    "**/{test,tests,Tests,spec,__tests__}/**/{golden,goldens,golden_output}/",
    "**/{test,tests,Tests,spec,__tests__}/**/expectations/",
    "**/{test,tests,Tests,spec,__tests__}/**/expects/",
    "**/{test,tests,Tests,spec,__tests__}/**/expected/",
    "**/expected/*.out",
    "**/{test,tests,Tests,spec,__tests__}/**/*.out",
    "**/{test,tests,Tests,spec,__tests__}/**/expected.*",
    "**/{test,tests,Tests,spec}/**/{fixtures,Fixtures}/**/*.txt",
    "**/{test,tests}/**/results/**/*.txt",
    "**/{test,tests}/**/results/**/*.csv",
    "**/{test,tests}/**/results/**/*.dat",
    "**/{test,tests}/**/*_results/**/*.txt",
    "**/{test,tests}/**/*_results/**/*.csv",
    "**/{test,tests}/**/*_results/**/*.dat",
];

/// Test data directories: Go's, which `go` leaves out of builds, the
/// same as Rust projects spell it (`test_data/`: rust-analyzer's
/// expect-test files and parser inputs) and as JetBrains' test frameworks
/// do (`testData/`: the Kotlin compiler's and IntelliJ plugins' inputs and
/// expected outputs); not `test-data/` or `TestData/`, which name test
/// crates and .NET test projects as often as data, but `TestData/` and
/// `SampleData/` below a directory of tests or a .NET test project
/// (`Foo.Tests/`, `Foo.UnitTests/`, `Foo.IntegrationTests/`: saved API
/// responses, which the project file copies beside the tests);
/// dune's cram tests' (`name.t/`)
/// and Erlang Common Test's (`name_SUITE_data/`): inputs and golden outputs
/// of tests, made as the test needs them: their layout, their encoding
/// (a compression corpus, a decoder's invalid input) and their syntax (a
/// parser's malformed input) are the test's. And fuzzers' inputs: a
/// corpus, its seeds and the crashes found, below a fuzzing directory
/// (`fuzz/corpus/`, `oss-fuzz/seeds/`, `parser_fuzz/corpus/`; a `fuzz/`
/// alone holds the harness's code, and `fuzzy-search/seeds/` is no
/// fuzzer's), and the test cases ClusterFuzz files
/// (`clusterfuzz-testcase-minimized-…`, duckdb's `clusterfuzz-test-…`):
/// bytes a program crashed on. And a directory of tests' data right below
/// a directory of tests (`tests/data/`, `test/data/`: tcllib's parser
/// generator's expected outputs, which its tests read and compare whole,
/// geopandas' GeoJSON, scipy's ARFF; a README there is left out with
/// them). (A script there that a test runs is still to be executable: not
/// left out of `shebang-executable`; a key there is still a key.)
const TEST_DATA_DIRS: &[&str] = &[
    "testdata/",
    "test_data/",
    "testData/",
    "**/{test,tests}/data/",
    "*.t/",
    "*_SUITE_data/",
    "**/{test,tests,Tests,*.Tests,*.UnitTests,*.IntegrationTests}/**/{TestData,SampleData}/",
    "**/{fuzz,fuzzing,fuzzer,fuzzers,oss-fuzz,ossfuzz,*[-_]fuzz,*[-_]fuzzer,*[-_]fuzzing,fuzz[-_]*}/**/{corpus,corpora,seeds,crashes}/",
    "clusterfuzz-test*",
];

/// JSONTestSuite's corpus (Nicolas Seriot's, which JSON libraries copy in
/// whole: aeson's `tests/JSONTestSuite/`): `test_parsing/` holds the
/// parser's inputs, named for what a parser must do with them (`y_`
/// accept, `n_` reject, `i_` either: invalid UTF-8, unpaired surrogates,
/// duplicate keys), and `test_transform/` the inputs parsers differ on.
/// Their syntax and encoding are the test's.
const JSON_TEST_SUITE: &[&str] = &["**/test_parsing/[yni]_*.json", "**/test_transform/*.json"];

/// The files of a project template, under a directory whose name is a
/// template tag (cookiecutter's `{{cookiecutter.project_slug}}/`), or in
/// a Mason brick (`__brick__/`, Mustache templates: bloc's `{{name}}.dart`),
/// which are JSON, TOML or YAML only once rendered.
const TEMPLATE_DIRS: &[&str] = &["*\\{\\{*\\}\\}*/", "__brick__/"];

/// The files of a Mason brick (`__brick__/`): Mustache templates, whose
/// end is the rendered file's. A partial is written into the middle of
/// another template's line (`{{#is_bloc}}{{> bloc_builder }}{{/is_bloc}}`),
/// and a file that only composes partials ends where its last tag does:
/// a line break after either would be one in every file rendered.
const PARTIAL_TEMPLATES: &[&str] = &["__brick__/"];

/// Template files (Jinja, Go templates, Gradle's start-script templates
/// `*.gsp`), whose rendered file's mode is set by what renders them.
const TEMPLATE_FILES: &[&str] = &[
    "*.j2", "*.jinja", "*.jinja2", "*.tpl", "*.tmpl", "*.gotmpl", "*.gotxt", "*.erb", "*.eex", "*.tt", "*.in",
    "*.dist", "*.gsp",
];

/// Minified scripts and style sheets: one long line, as the minifier
/// writes it (and `final-newline` leaves source maps, one line too).
const MINIFIED_FILES: &[&str] = &["*.min.js", "*.min.css"];

/// Delimited records (see [`is_delimited_name`]), whose blanks at a line's
/// end are data: a field's value (RFC 4180: spaces are part of a field),
/// a cell's inside a quoted field, or a TSV record's empty last fields.
const DELIMITED_FILES: &[&str] = &["*.[cC][sS][vV]", "*.[tT][sS][vV]"];

/// Files IDEs write without a final newline and write again at each save:
/// JetBrains' project settings (`.idea/`) and shared run configurations
/// (`.run/*.run.xml`), VS Code's workspace settings, tasks and launch
/// configurations (`.vscode/*.json`: 16 of the 27 in the audited trees
/// end at their `}`), Eclipse CDT's `.cproject`, Unity's assembly
/// definitions, and what Visual Studio's designers keep: a C++ project's
/// `.vcxproj.filters` (Solution Explorer's folders) and `.vcxproj.user`
/// (a user's debugging settings), and the settings designer's
/// `Settings.settings`.
const IDE_FILES: &[&str] = &[
    ".idea/",
    "**/.run/*.run.xml",
    "**/.vscode/*.json",
    ".cproject",
    "*.asmdef",
    "*.asmref",
    "*.vcxproj.filters",
    "*.vcxproj.user",
    "Settings.settings",
];

/// Files tools write whole without a final newline, or with a blank line
/// after the last, and carrying no comment to say so: ANTLR's interpreter
/// data (`*.interp`), Rails' `db/structure.sql` (which Rails ends with a
/// blank line), Prisma Migrate's `migration_lock.toml`, the Firebase
/// configurations its console and the FlutterFire CLI write, and the
/// metadata Bower writes beside each package it installs (`.bower.json`),
/// NuGet's lock file (`packages.lock.json`), what Xcode keeps in an asset
/// catalog (`*.xcassets/`: its `Contents.json` files, and Flutter's
/// template README there) and in a Reality Composer Pro project
/// (`*.realitycomposerpro/`: its JSON and `.rcprojectdata`), a jar's
/// manifest (`META-INF/MANIFEST.MF`, which the format ends with an empty
/// line), the Baseline Profile Gradle plugin's merged profiles
/// (`src/*/generated/baselineProfiles/*.txt`), NuGet's lock file of
/// `project.json` days (`project.lock.json`), GitHub Pages' `CNAME` (its
/// settings write the domain alone, no line break), and the adaptive
/// launcher icons Android Studio's Image Asset tool writes
/// (`res/mipmap-anydpi*/ic_launcher*.xml`, and the layers and colour it
/// writes beside them, `ic_launcher_background.xml`,
/// `ic_launcher_foreground.xml`), what Xcode writes of a Core Data model
/// (`*.xcdatamodel/contents`), an Icon Composer icon (`*.icon/`) and a
/// String Catalog (`*.xcstrings`, which it rewrites at each build),
/// the Dev Containers CLI's lock file (`devcontainer-lock.json`, which
/// `--experimental-frozen-lockfile` compares byte for byte), and
/// Excalidraw's drawings and libraries (`JSON.stringify` without a line
/// break after it), draw.io's diagrams (`*.drawio`, `*.dio`), and
/// Foundry's gas snapshots (`forge snapshot` joins its lines with line
/// breaks and writes no last one), and .NET's local tool manifest
/// (`.config/dotnet-tools.json`, which `dotnet tool install` and `update`
/// write with none), the Transifex client's `.tx/config` (`tx add`
/// and `tx migrate` write an empty line after each section, the last too),
/// and a macOS bundle's `PkgInfo` (`APPL????`, eight bytes, as Xcode
/// writes it into `Contents/`).
/// Anchored as globs are (`**/` where the tool writes them anywhere).
const WRITTEN_WITHOUT_NEWLINE: &[&str] = &[
    ".bower.json",
    "devcontainer-lock.json",
    ".devcontainer-lock.json",
    "*.excalidraw",
    "*.excalidrawlib",
    "*.drawio",
    "*.dio",
    "*.interp",
    "**/db/structure.sql",
    "**/db/*_structure.sql",
    "**/migrations/migration_lock.toml",
    "google-services.json",
    "firebase_app_id_file.json",
    "packages.lock.json",
    "**/*.xcassets/**",
    "**/*.realitycomposerpro/**",
    "*.xcdatamodel/",
    "*.icon/",
    "*.xcstrings",
    "**/res/mipmap-anydpi*/ic_launcher*.xml",
    "ic_launcher_background.xml",
    "ic_launcher_foreground.xml",
    "**/META-INF/MANIFEST.MF",
    "CNAME",
    "**/src/*/generated/baselineProfiles/*.txt",
    "project.lock.json",
    ".gas-snapshot",
    "**/.config/dotnet-tools.json",
    "**/.tx/config",
    "PkgInfo",
];

/// Files whose layout a tool or the format decides, for every layout check:
/// RTF, whose line breaks are not text (the blank before one separates two
/// words), and github/licensed's cache (`.licenses/`), written whole by
/// `licensed cache` with a blank after an empty field, and Prisma
/// Migrate's migrations (`migrations/20240205120648_name/migration.sql`),
/// whose checksum Prisma keeps once applied: a byte changed but a line
/// ending makes it refuse them, and the Windows Forms designer's
/// code-behind (`Form1.Designer.cs`, `.vb`), which carries no
/// `<auto-generated>` header (by name: in hand-written forms of Visual
/// Studio 2003 the designer's region sits among the user's code), and
/// what CocoaPods keeps in `Pods/` (other projects' sources, and the
/// support files `pod install` writes again at each run), and what .NET
/// tools keep: ReSharper's and Rider's shared settings (`*.DotSettings`,
/// whose values keep their blanks, `xml:space="preserve"`), the Entity
/// Framework and LINQ to SQL designers' models (`*.edmx`, `*.dbml`,
/// `*.dbml.layout`), and BenchmarkDotNet's results (`BenchmarkDotNet.Artifacts/`,
/// and its GitHub-flavoured reports wherever they are copied,
/// `*-report-github.md`, whose table and settings lines it pads), and
/// the reports revdepcheck writes again at each run of an R package's
/// reverse-dependency checks (`revdep/README.md`, `problems.md`,
/// `failures.md`, `cran.md`: `R CMD check` output, blanks and all), and
/// what a Minecraft mod's data generators write (Fabric Loom's
/// `src/main/generated/`, `src/testmod/generated/`, Forge's and
/// NeoForge's `src/generated/resources/`: the `data/`, `assets/` and
/// `resourcepacks/` there, which fabric's CI writes again and fails on any
/// difference).
const TOOL_LAYOUT: &[&str] = &[
    "*.rtf",
    ".licenses/",
    "**/migrations/[0-9]*_*/migration.sql",
    "*.[Dd]esigner.cs",
    "*.[Dd]esigner.vb",
    "Pods/",
    "*.DotSettings",
    "*.edmx",
    "*.dbml",
    "*.dbml.layout",
    "BenchmarkDotNet.Artifacts/",
    "*-report-github.md",
    "**/revdep/README.md",
    "**/revdep/problems.md",
    "**/revdep/failures.md",
    "**/revdep/cran.md",
    "**/src/*/generated/{data,assets,resourcepacks}/",
    "**/src/generated/{data,assets}/",
    "**/src/generated/resources/{data,assets}/",
];

/// 3D models and scenes in the text formats modelling programs export
/// (Wavefront's `.obj` and `.mtl`, PLY, ASCII STL, COLLADA, ASCII FBX,
/// BVH motion capture, VRML and X3D, id Tech's MD5, LightWave's scenes,
/// Irrlicht's, USD's ASCII layers, NFF, Valve's SMD): rows of numbers
/// whose blanks, line endings and end are the exporter's (Blender ends
/// each face line of an `.obj` with a blank), and whose comments may be in
/// the modeller's legacy encoding. An importer's tests load them as they
/// came. Not `.x`, `.ac`, `.off` or `.cob`, which name linker scripts,
/// autoconf input, and COBOL as often.
/// (One glob an extension: a set matches those by a look-up of the
/// name's extension, not a regular expression.)
const MODEL_FILES: &[&str] = &[
    "*.obj",
    "*.OBJ",
    "*.mtl",
    "*.MTL",
    "*.ply",
    "*.PLY",
    "*.stl",
    "*.STL",
    "*.dae",
    "*.DAE",
    "*.fbx",
    "*.FBX",
    "*.bvh",
    "*.BVH",
    "*.wrl",
    "*.WRL",
    "*.x3d",
    "*.X3D",
    "*.md5mesh",
    "*.md5anim",
    "*.md5camera",
    "*.lws",
    "*.LWS",
    "*.irr",
    "*.irrmesh",
    "*.usda",
    "*.nff",
    "*.NFF",
    "*.smd",
    "*.SMD",
];

/// Scripts a build installs with its own mode: Debian's maintainer, init
/// and bug scripts (debhelper installs them 0755, whatever git holds),
/// OTP release templates (`priv/templates/`, which relx renders and makes
/// executable), fypp sources, where `#!` begins a comment, and Python
/// that is imported or run by another program, never as a script: a
/// package's `__main__.py`, Sphinx's `conf.py` in a documentation
/// directory and Pelican's settings (`pelicanconf.py`, `publishconf.py`,
/// which `pelican -s` reads and pelican-quickstart writes with a shebang);
/// and the set-up scripts repo2docker (Binder) makes executable before it
/// runs them (`postBuild` and `start`, at the root or in `binder/` or
/// `.binder/`); zsh plugins and themes (`*.plugin.zsh`, `*.zsh-theme`) and
/// l3build's `build.lua`, which other programs load, and Jenkins' pipelines
/// (`Jenkinsfile`), which Jenkins reads.
const INSTALLED_SCRIPTS: &[&str] = &[
    "**/debian/postinst",
    "**/debian/*.postinst",
    "**/debian/preinst",
    "**/debian/*.preinst",
    "**/debian/postrm",
    "**/debian/*.postrm",
    "**/debian/prerm",
    "**/debian/*.prerm",
    "**/debian/config",
    "**/debian/*.config",
    "**/debian/init",
    "**/debian/*.init",
    "**/debian/bug-script",
    "**/debian/*.bug-script",
    "**/priv/templates/",
    "*.fypp",
    // Python that something else runs: a package's entry point (`python
    // -m pkg`), and Sphinx's configuration (sphinx-quickstart wrote a
    // shebang into `conf.py` for years).
    "__main__.py",
    "**/doc/conf.py",
    "**/docs/conf.py",
    "**/doc/source/conf.py",
    "**/docs/source/conf.py",
    "**/Documentation/conf.py",
    "pelicanconf.py",
    "publishconf.py",
    "/postBuild",
    "binder/postBuild",
    ".binder/postBuild",
    "binder/start",
    ".binder/start",
    // Sourced, not run: zsh plugins and themes (what oh-my-zsh, antidote
    // and zinit load), and l3build's `build.lua` (a LaTeX package's build
    // settings, which `l3build` loads; its `#!/usr/bin/env texlua` is for
    // editors).
    "*.plugin.zsh",
    "*.zsh-theme",
    "build.lua",
    // Jenkins' pipelines, which Jenkins reads (`#!/usr/bin/env groovy` is
    // for editors).
    "Jenkinsfile",
    "Jenkinsfile.*",
    "*.Jenkinsfile",
    "*.jenkinsfile",
];

/// Perl's test scripts, in the TAP layout (`t/*.t`, `xt/*.t`), which
/// `prove` and `make test` run through `perl` whatever their mode (and
/// perl hands a `#!` naming another interpreter to it): memcached's 87
/// `t/*.t`, most not executable.
const TAP_TESTS: &[&str] = &["**/{t,xt}/**/*.t"];

/// Tests' fixtures, below a directory of tests: inputs a test reads (a
/// language detector's scripts, whose interpreter line is what is
/// tested; a bundler's shebang input), not runs. `shebang-executable`
/// leaves them out.
const TEST_FIXTURES: &[&str] = &["**/{test,tests,Tests,spec,__tests__}/**/{fixture,fixtures,Fixtures}/"];

/// Certificates and keys in PEM, as OpenSSL writes them: `openssl pkcs12`
/// puts `Bag Attributes` before each block, whose `localKeyID:` line ends
/// in a blank, and `openssl x509 -text` dumps end some lines so.
const CERTIFICATE_FILES: &[&str] = &["*.pem", "*.crt"];

/// Files named for an encoding other than UTF-8 (`encoding.koi8-r.ep`,
/// `latin1.txt`, `sjis_test.csv`, `non_utf8.txt`): a test's or a
/// converter's input in that encoding, whose bytes are not UTF-8 on
/// purpose. `utf8` leaves them out (a file so named that is UTF-8 has
/// nothing to report anyway). A name with an extension after the word:
/// a directory so named (`encoding/gbk/`) does not take its files out.
/// And Inno Setup's scripts (`*.iss`), which it reads in the system's
/// code page unless they begin with a byte order mark.
const ENCODING_NAMED: &[&str] = &[
    "*.iss",
    "*.iss.in",
    "*koi8*.*",
    "*KOI8*.*",
    "*latin1*.*",
    "*Latin1*.*",
    "*latin-1*.*",
    "*Latin-1*.*",
    "*iso8859*.*",
    "*ISO8859*.*",
    "*iso-8859*.*",
    "*ISO-8859*.*",
    "*iso_8859*.*",
    "*ISO_8859*.*",
    "*cp125[0-8]*.*",
    "*CP125[0-8]*.*",
    "*windows-125[0-8]*.*",
    "*Windows-125[0-8]*.*",
    "*shift_jis*.*",
    "*Shift_JIS*.*",
    "*shift-jis*.*",
    "*sjis*.*",
    "*SJIS*.*",
    "*euc-jp*.*",
    "*euc_jp*.*",
    "*eucjp*.*",
    "*EUC-JP*.*",
    "*euc-kr*.*",
    "*euc_kr*.*",
    "*EUC-KR*.*",
    "*gb2312*.*",
    "*GB2312*.*",
    "*gbk*.*",
    "*GBK*.*",
    "*gb18030*.*",
    "*GB18030*.*",
    "*big5*.*",
    "*Big5*.*",
    "*BIG5*.*",
    "*non[-_]utf8*.*",
    "*non[-_]utf-8*.*",
    "*non[-_]utf_8*.*",
    "*not[-_]utf8*.*",
    "*not[-_]utf-8*.*",
];

/// Mail messages, whose parts declare their own character sets (MIME),
/// and whose layout is the message's: the signature separator `-- ` and
/// `format=flowed`'s soft line breaks end in a space (RFC 3676), an mbox
/// ends each message with a blank line, a message's lines end in CRLF
/// (RFC 5322) where a Unix mbox holds LF.
const MAIL_FILES: &[&str] = &["*.eml", "*.mbox", "*.mboxrd", "*.mbx"];

impl std::fmt::Display for BuiltinKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Settings of the built-ins that have any.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct BuiltinSettings {
    /// `large-file`: the largest allowed size in bytes (default 512 KiB).
    pub max_size: u64,
}

impl BuiltinSettings {
    /// The default `large-file` limit: 512 KiB.
    pub const DEFAULT_MAX_SIZE: u64 = 512 * 1024;
}

impl Default for BuiltinSettings {
    fn default() -> Self {
        BuiltinSettings { max_size: Self::DEFAULT_MAX_SIZE }
    }
}

/// What a repository's `.gitattributes` and the `.editorconfig` files
/// over a file say of it, as far as the built-ins heed them (see
/// docs/configuration.md, "git attributes" and "EditorConfig"), and what
/// its name says of its format where a check reads it otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FileMarks {
    /// `binary`, or both `-diff` and `-text`: git neither diffs the file
    /// nor converts its line endings. The text checks skip it as they skip
    /// content that looks binary.
    pub binary: bool,
    /// `linguist-generated` (set, or `true`), or EditorConfig's
    /// `generated_code = true`: a tool writes the file. Its layout is the
    /// tool's, as for a file that says so itself.
    pub generated: bool,
    /// `linguist-vendored` (set, or `true`), or a README over it that says
    /// its directory holds someone else's code, or a release's directory
    /// over it that holds its licence: kept as it came. Its layout is
    /// theirs.
    pub vendored: bool,
    /// In a directory a package manager fills with other projects' code
    /// and the project commits (see [`PackageVendor`]). Someone else's
    /// code, kept as it came, as with `vendored`.
    pub package_vendor: Option<PackageVendor>,
    /// Below a directory of tests, and kept from the project's formatter
    /// (its root `.prettierignore` matches it): a test's input or expected
    /// output, whose blanks and end are the test's. The whitespace checks
    /// (not `mixed-line-endings`) leave it alone, unless it declares tests
    /// itself (hand-written test code a blanket pattern keeps too).
    pub kept_from_formatter: bool,
    /// `filter=lfs`: Git LFS keeps the file, and git a small pointer to
    /// it. It is large on purpose, and `large-file` passes it (as
    /// pre-commit-hooks' `check-added-large-files` leaves such files out).
    pub lfs: bool,
    /// A game engine's editor imported it: Godot's `NAME.import` is beside
    /// it. A texture, a sound or a model of the game, large on purpose:
    /// `large-file` passes it.
    pub imported_asset: bool,
    /// One of a test's pair of files, by its name and a sibling's (see
    /// [`TestPair`]): its bytes are the test's, and the layout, encoding
    /// and shebang checks leave it alone.
    pub test_pair: Option<TestPair>,
    /// Named as delimited records ([`is_delimited_name`]: `*.csv`,
    /// `*.tsv`): a line break inside a quoted field is data, not a line
    /// ending.
    pub delimited: bool,
    /// `trim_trailing_whitespace = false` or `unset` (EditorConfig), or git's
    /// `whitespace` attribute unset or without `blank-at-eol`: the
    /// project's editors, or git's own checks, keep trailing blanks in it,
    /// so `trailing-whitespace` (and its Markdown form) does not judge it.
    pub keeps_trailing_whitespace: bool,
    /// `insert_final_newline = false` or `unset` (EditorConfig), or git's
    /// `whitespace` attribute unset (`-whitespace`): the project leaves its
    /// end as it is, so `final-newline` does not judge it.
    pub no_final_newline: bool,
    /// git's `whitespace` attribute without `blank-at-eof`
    /// (`whitespace=-blank-at-eof`): blank lines at its end are the file's,
    /// and `final-newline` only wants its last line ended.
    pub blank_lines_at_end: bool,
    /// Below a directory of tests ([`in_test_dir`]): a file there with no
    /// line break at all is a test's one-line input or expected output (a
    /// template whose render a test compares, `Hello world!`), which a
    /// final newline would change.
    pub in_tests: bool,
    /// git's `conflict-marker-size` (other than 7, and up to 255): the
    /// length of the file's own conflict markers, which a merge writes
    /// that long so that lines of seven (a document's sample conflict) are
    /// text.
    pub conflict_marker_size: Option<u8>,
    /// `charset = latin1` (EditorConfig): its bytes are Latin-1, where
    /// every byte is a character, so `utf8` does not judge it. (`charset =
    /// utf-16le` or `utf-16be` marks it `binary`: byte-wise text checks
    /// cannot read it.)
    pub latin1: bool,
    /// `end_of_line` (EditorConfig): every line must end so, and
    /// `mixed-line-endings` reports the first that does not, even in a
    /// file that uses one kind only.
    pub eol: Option<LineEnding>,
    /// Named as a script or a style sheet ([`is_js_or_css_name`]: `*.js`,
    /// `*.mjs`, `*.cjs`, `*.css`): one that is minified ([`is_minified`]:
    /// long lines, as a bundler writes) has the minifier's layout.
    pub js_or_css: bool,
    /// Named as a Windows batch file ([`is_batch_name`]: `*.bat`, `*.cmd`):
    /// cmd.exe reads it with CRLF endings (its labels and `goto` misread
    /// LF alone), so an EditorConfig `end_of_line = lf` does not ask one
    /// written in CRLF throughout to change.
    pub batch: bool,
    /// Below a distribution's package recipe (BitBake's, buildroot's,
    /// OpenWrt's `files/`, a `PKGBUILD`, an ebuild: see the daemon's
    /// `recipes`), which installs it with the mode it gives: the mode git
    /// holds is not the one it runs with, and `shebang-executable` passes
    /// it.
    pub package_recipe: bool,
    /// Named `.cirrus.yml` or `.cirrus.yaml` ([`is_cirrus_name`]): Cirrus
    /// CI's configuration, whose `matrix` keys may repeat (see `yaml`).
    pub cirrus_ci: bool,
    /// What git does with the file's line endings at checkout, as its
    /// `.gitattributes` say. Where `eol` is set and git writes another
    /// ending, git's rules (see [`GitEol`]); alone it asks nothing (a
    /// checkout of a blob committed with other endings keeps them until it
    /// is renormalised: that is git's to say).
    pub git_eol: GitEol,
}

/// The package manager whose copy of other projects' code a file is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PackageVendor {
    /// A Go module's `vendor` directory: one with a `modules.txt` (`go mod
    /// vendor` writes it) beside a `go.mod` or `go.work` (or a Hugo site's
    /// `_vendor`, which `hugo mod vendor` writes so). The go command
    /// copies every file there without execute bits (a module's zip keeps
    /// none).
    Go,
    /// Composer's `vendor` directory: one whose `autoload.php` says Composer
    /// generated it, beside the `composer.json` it installed from. The
    /// modes there are what Composer's download left (a package's archive
    /// unpacked without `unzip` loses its execute bits) and what it set
    /// (its `bin` proxies).
    Composer,
    /// A directory lowRISC's vendoring tool (`util/vendor.py`, of
    /// OpenTitan and Ibex) filled from another repository, in a `vendor`
    /// directory: the tool's `NAME.lock.hjson` beside it says so, and
    /// `NAME.vendor.hjson` names it (`target_dir`). (Its key bits are
    /// Go's and Composer's together.)
    LowRisc,
}

/// Which of a test's pair of files, an input and the output a test
/// compares with the program's, a file is, as the files beside it say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TestPair {
    /// `STEM.in`, beside its expected output (`STEM.ok`, `STEM.out`,
    /// `STEM.expected`, …): Vim's indent tests' `python.in`, whose
    /// trailing blanks and missing last line break the indenter is tested
    /// on.
    Input,
    /// `STEM.out`, `STEM.ok`, `STEM.ref` or `STEM.err` beside a file named
    /// `STEM` or `STEM.EXT`: the output a test compares, byte for byte, with
    /// what the program made of its input (Verilator's `t_x_bad.out` beside
    /// `t_x_bad.v`, Vim's `python.ok` beside `python.in`, ocamlformat's
    /// `x.ml.ref` and `x.ml.err`).
    ExpectedOutput,
}

/// What git does with a file's line endings when it checks it out, as the
/// file's attributes say (`text`, `eol`, and the older `crlf` where `text`
/// says nothing; verdict does not read git's configuration). `auto`:
/// `text=auto`, under which git converts only what it takes for text (see
/// [`git_takes_for_binary`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum GitEol {
    /// Nothing said (or `-text`, `-crlf`): git writes the blob as it is
    /// stored.
    #[default]
    AsStored,
    /// `text` or `text=auto` without `eol`: git stores the file with LF and
    /// writes the machine's ending (`core.eol`, native by default: LF on
    /// the systems verdict runs on). EditorConfig's `end_of_line = crlf`
    /// is then for the machines whose git writes CRLF, not for this
    /// checkout, which only a mix can fault.
    Native {
        /// `text=auto`.
        auto: bool,
    },
    /// `eol=lf` or `eol=crlf` (or `text=input`, `crlf=input`: LF): git
    /// writes that ending, on every machine. An EditorConfig `end_of_line`
    /// that says another gives way to it.
    Set {
        /// The ending.
        ending: LineEnding,
        /// `text=auto`.
        auto: bool,
    },
}

/// Whether every line break of `content` is a CRLF (and there is one).
fn all_crlf(content: &[u8]) -> bool {
    let lfs = memchr::memchr_iter(b'\n', content).count();
    lfs > 0
        && memchr::memchr_iter(b'\r', content).count() == lfs
        && memchr::memmem::find_iter(content, b"\r\n").count() == lfs
}

/// Whether git, under `text=auto`, takes content for binary and leaves its
/// line endings as they are: a lone CR, a NUL, or more than one control
/// character (but backspace, tab, escape, form feed and line endings, and
/// a DOS end-of-file mark as the last byte) per 128 other bytes, as git's
/// `convert.c` counts them.
pub fn git_takes_for_binary(content: &[u8]) -> bool {
    let (mut printable, mut other) = (0usize, 0usize);
    let mut i = 0;
    while i < content.len() {
        match content[i] {
            b'\r' if content.get(i + 1) == Some(&b'\n') => i += 1,
            b'\r' | 0 => return true,
            b'\n' => {}
            0x08 | b'\t' | 0x1b | 0x0c => printable += 1,
            0x7f | 0..0x20 => other += 1,
            _ => printable += 1,
        }
        i += 1;
    }
    if content.last() == Some(&0x1a) {
        other -= 1;
    }
    (printable >> 7) < other
}

/// A kind of line ending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LineEnding {
    /// `\n`.
    Lf = 0,
    /// `\r\n`.
    CrLf = 1,
    /// A `\r` not followed by `\n`.
    Cr = 2,
}

impl LineEnding {
    /// Its name in messages: `LF`, `CRLF`, `CR`.
    pub fn name(self) -> &'static str {
        match self {
            LineEnding::Lf => "LF",
            LineEnding::CrLf => "CRLF",
            LineEnding::Cr => "CR",
        }
    }
}

impl FileMarks {
    /// None of them: what a file no attribute names has.
    pub const NONE: FileMarks = FileMarks {
        binary: false,
        generated: false,
        vendored: false,
        package_vendor: None,
        kept_from_formatter: false,
        delimited: false,
        keeps_trailing_whitespace: false,
        no_final_newline: false,
        blank_lines_at_end: false,
        in_tests: false,
        conflict_marker_size: None,
        lfs: false,
        imported_asset: false,
        test_pair: None,
        latin1: false,
        eol: None,
        js_or_css: false,
        batch: false,
        package_recipe: false,
        cirrus_ci: false,
        git_eol: GitEol::AsStored,
    };

    /// The marks as bits, for keys (0: none). Those of the first seven
    /// fit a byte, as they did before the line endings were read, and
    /// those before the conflict marker size two; what git does with the
    /// endings counts only with an `eol` to weigh it against; those after
    /// the first 32 (`package_recipe`) come above them.
    pub fn bits(self) -> u64 {
        let git = match self.git_eol {
            GitEol::AsStored => 0,
            GitEol::Native { auto } => 1 | (u16::from(auto) << 2),
            GitEol::Set { ending, auto } => (ending as u16 + 2) | (u16::from(auto) << 2),
        };
        let eol = self.eol.map_or(0, |e| (e as u16 + 1) | (git << 2));
        let low = u16::from(self.binary)
            | (u16::from(self.generated) << 1)
            | (u16::from(self.vendored) << 2)
            | (u16::from(self.delimited) << 3)
            | (u16::from(self.keeps_trailing_whitespace) << 4)
            | (u16::from(self.no_final_newline) << 5)
            | (u16::from(self.latin1) << 6)
            | (eol << 7)
            | (u16::from(self.js_or_css) << 12)
            | (u16::from(self.blank_lines_at_end) << 13)
            | (u16::from(self.in_tests) << 14)
            | (u16::from(self.cirrus_ci) << 15);
        let low32 = u32::from(low)
            | (u32::from(self.conflict_marker_size.unwrap_or(0)) << 16)
            | (u32::from(self.lfs) << 24)
            | (u32::from(self.batch) << 25)
            | (u32::from(matches!(self.package_vendor, Some(PackageVendor::Go | PackageVendor::LowRisc))) << 26)
            | (u32::from(self.kept_from_formatter) << 27)
            | (u32::from(matches!(self.package_vendor, Some(PackageVendor::Composer | PackageVendor::LowRisc))) << 28)
            | (u32::from(self.imported_asset) << 29)
            | (u32::from(self.test_pair == Some(TestPair::Input)) << 30)
            | (u32::from(self.test_pair == Some(TestPair::ExpectedOutput)) << 31);
        u64::from(low32) | (u64::from(self.package_recipe) << 32)
    }

    /// The ending `mixed-line-endings` wants every line of `content` to
    /// end with, if the project sets one: EditorConfig's `end_of_line`,
    /// unless git writes another at checkout (see [`GitEol`]).
    fn wanted_ending(self, content: &[u8]) -> Option<text::Wanted> {
        let ending = self.eol?;
        let own = Some(text::Wanted { ending, by_git: false });
        // A batch file in CRLF throughout, as cmd.exe wants it, under an
        // `end_of_line = lf` meant for the rest (git converting nothing).
        if self.batch && ending == LineEnding::Lf && self.git_eol == GitEol::AsStored && all_crlf(content) {
            return None;
        }
        let (git, auto) = match self.git_eol {
            GitEol::AsStored => return own,
            GitEol::Native { auto } => (None, auto),
            GitEol::Set { ending, auto } => (Some(ending), auto),
        };
        // Where git would write the ending set anyway, what it takes for
        // binary does not matter (and is not counted: a pass over the
        // file, which most files with both settings are spared).
        let differs = git.map_or(ending != LineEnding::Lf, |g| g != ending);
        if !differs || (auto && git_takes_for_binary(content)) {
            return own;
        }
        git.map(|g| text::Wanted { ending: g, by_git: true })
    }

    /// The length of the file's conflict markers: 7, as git writes them,
    /// unless its `conflict-marker-size` says otherwise.
    pub fn marker_size(self) -> usize {
        self.conflict_marker_size.map_or(7, usize::from)
    }

    /// Whether the layout checks leave the file's layout alone.
    pub fn keeps_layout(self) -> bool {
        self.generated || self.vendored || self.package_vendor.is_some()
    }

    /// The marks in words, one each, with what sets them (none: empty).
    pub fn describe(self) -> Vec<String> {
        let mut said = Vec::new();
        let mut say = |on: bool, what: &str| {
            if on {
                said.push(what.to_owned());
            }
        };
        say(self.binary, "binary: git's `binary` attribute (or `-diff -text`), or an EditorConfig `charset` of UTF-16");
        say(
            self.generated,
            "generated: git's `linguist-generated` attribute, or EditorConfig's `generated_code = true`",
        );
        say(
            self.vendored,
            "vendored: git's `linguist-vendored` attribute, a README that says so, or a release's directory with its licence",
        );
        say(
            self.package_vendor == Some(PackageVendor::Go),
            "vendored: in a Go module's `vendor` directory (or a Hugo site's `_vendor`), with the `modules.txt` `go mod vendor` writes, beside a `go.mod` or `go.work`",
        );
        say(
            self.package_vendor == Some(PackageVendor::Composer),
            "vendored: in Composer's `vendor` directory, with the `autoload.php` Composer generates, beside a `composer.json`",
        );
        say(
            self.package_vendor == Some(PackageVendor::LowRisc),
            "vendored: in a directory lowRISC's `util/vendor.py` filled, with its `NAME.lock.hjson` beside it",
        );
        say(
            self.package_recipe,
            "installed by a package recipe: below a directory with BitBake's, buildroot's, Arch's, Alpine's, Gentoo's or MacPorts' recipe, or OpenWrt's `files/` beside its `Makefile`",
        );
        say(self.lfs, "kept by Git LFS: git's `filter=lfs` attribute");
        say(self.imported_asset, "a game's asset: Godot's editor imported it (a `NAME.import` beside it)");
        say(
            self.test_pair == Some(TestPair::Input),
            "a test's input: `STEM.in`, with its expected output (`STEM.ok`, `STEM.out`, …) beside it",
        );
        say(
            self.test_pair == Some(TestPair::ExpectedOutput),
            "a test's expected output: `STEM.out`, `.ok`, `.ref` or `.err`, beside its input `STEM` or `STEM.EXT`",
        );
        say(
            self.kept_from_formatter,
            "a test's input or output kept from the formatter: below a directory of tests, and in the project's `.prettierignore`",
        );
        say(
            self.keeps_trailing_whitespace,
            "keeps trailing blanks: EditorConfig's `trim_trailing_whitespace = false` (or `unset`), or git's `whitespace` attribute unset or without `blank-at-eol`",
        );
        say(
            self.no_final_newline,
            "leaves its end as it is: EditorConfig's `insert_final_newline = false` (or `unset`), or git's `-whitespace`",
        );
        say(self.blank_lines_at_end, "may end in blank lines: git's `whitespace` attribute without `blank-at-eof`");
        say(self.latin1, "Latin-1: EditorConfig's `charset = latin1`");
        say(self.delimited, "delimited records (`*.csv`, `*.tsv`): a line break inside a quoted field is data");
        say(
            self.in_tests,
            "below a directory of tests (`test`, `tests`, `Tests`, `spec`, `__tests__`), or a TAP test (`t/**/*.t`)",
        );
        say(self.cirrus_ci, "Cirrus CI's configuration by its name: a `matrix` key, and a `matrix`'s keys, may repeat");
        say(
            self.batch && self.eol == Some(LineEnding::Lf),
            "a Windows batch file by its name (`*.bat`, `*.cmd`): written in CRLF throughout, as cmd.exe reads it, it passes `end_of_line = lf`",
        );
        say(
            self.js_or_css,
            "a script or style sheet by its name (if its content is minified, its layout is the minifier's)",
        );
        if let Some(size) = self.conflict_marker_size {
            said.push(format!("conflict markers of {size} characters: git's `conflict-marker-size` attribute"));
        }
        if let Some(eol) = self.eol {
            let git = match self.git_eol {
                GitEol::AsStored => String::new(),
                GitEol::Native { .. } => " (git's `text` attribute: git writes the machine's ending)".to_owned(),
                GitEol::Set { ending, .. } => format!(" (git's `eol` attribute: git writes {})", ending.name()),
            };
            said.push(format!("lines end in {}: EditorConfig's `end_of_line`{git}", eol.name()));
        }
        said
    }

    /// The marks but those by which [`FileMarks::waives`] says yes for
    /// `kind`: what the check would judge without them.
    pub fn without_waiver(self, kind: BuiltinKind) -> FileMarks {
        match kind {
            BuiltinKind::TrailingWhitespace | BuiltinKind::MarkdownTrailingWhitespace => {
                FileMarks { keeps_trailing_whitespace: false, ..self }
            }
            BuiltinKind::FinalNewline => FileMarks { no_final_newline: false, ..self },
            BuiltinKind::Utf8 => FileMarks { latin1: false, ..self },
            _ => self,
        }
    }

    /// Whether the project's EditorConfig settings leave what `kind`
    /// judges to the file: it passes without a look.
    pub fn waives(self, kind: BuiltinKind) -> bool {
        match kind {
            BuiltinKind::TrailingWhitespace | BuiltinKind::MarkdownTrailingWhitespace => self.keeps_trailing_whitespace,
            BuiltinKind::FinalNewline => self.no_final_newline,
            BuiltinKind::Utf8 => self.latin1,
            _ => false,
        }
    }
}

/// Whether the path (relative to the project root, `/`-separated) is below
/// a directory of tests: one named `test`, `tests`, `Tests`, `spec` or
/// `__tests__` (Rails', Go's and JavaScript's, Symfony's, .NET's and
/// Swift's, RSpec's, Jest's).
pub fn in_test_dir(path: &[u8]) -> bool {
    let dirs = memchr::memrchr(b'/', path).map_or(&b""[..], |i| &path[..i]);
    dirs.split(|&b| b == b'/').any(|d| matches!(d, b"test" | b"tests" | b"Tests" | b"spec" | b"__tests__"))
}

/// Whether the path (relative to the project root, `/`-separated) is a
/// test script in the TAP layout: a `*.t` below a directory `t` or `xt`
/// (Perl's, which `prove` runs; i3's `testcases/t/`), a test's source as a
/// file below a directory of tests is.
pub fn is_tap_test(path: &[u8]) -> bool {
    let dirs = memchr::memrchr(b'/', path).map_or(&b""[..], |i| &path[..i]);
    path.ends_with(b".t") && dirs.split(|&b| b == b'/').any(|d| matches!(d, b"t" | b"xt"))
}

/// Whether a file's name says it is a Windows batch file: `.bat` or
/// `.cmd`, in any case.
pub fn is_batch_name(name: &[u8]) -> bool {
    let ends = |ext: &[u8]| name.len() >= ext.len() && name[name.len() - ext.len()..].eq_ignore_ascii_case(ext);
    ends(b".bat") || ends(b".cmd")
}

/// Whether a file's name says it is a script or a style sheet: `.js`,
/// `.mjs`, `.cjs` or `.css`, in any case (GitHub Linguist's minified-file
/// rule looks at `.js` and `.css`; bundlers name their output `.mjs` and
/// `.cjs` too).
pub fn is_js_or_css_name(name: &[u8]) -> bool {
    let ends = |ext: &[u8]| name.len() >= ext.len() && name[name.len() - ext.len()..].eq_ignore_ascii_case(ext);
    ends(b".js") || ends(b".css") || ends(b".mjs") || ends(b".cjs")
}

/// Whether the first or second line of `content` declares an encoding
/// other than UTF-8, as Python reads one (PEP 263: a comment line holding
/// `coding:` or `coding=` and the encoding's name; Emacs' `-*- coding:
/// latin-1 -*-` and vim's `fileencoding=latin1` are such lines) and Ruby
/// its magic comment, or an XML declaration opening the file names one
/// (`<?xml version="1.0" encoding="ISO-8859-1"?>`, which every XML parser
/// reads the document in: a Maven POM of Latin-1 text), or, in the first
/// [`HEADER_LEN`] bytes, a gettext catalog's header entry
/// (`"Content-Type: text/plain; charset=ISO-8859-1\n"`, which `msgfmt`
/// reads the catalog in: Vim's `src/po/*.po`) or a Vim script's
/// `scriptencoding` command (Vim's menu translations and keymaps), or, in
/// the first 1,024 bytes, an HTML page's `<meta charset="…">` or
/// `<meta http-equiv="Content-Type" content="text/html; charset=…">`
/// (statsmodels' saved pages of `£` in ISO-8859-1).
pub fn declares_other_encoding(content: &[u8]) -> bool {
    let utf8 = |name: &[u8]| {
        matches!(name.to_ascii_lowercase().as_slice(), b"utf-8" | b"utf8" | b"utf_8" | b"utf-8-sig" | b"utf_8_sig")
    };
    let name_at = |rest: &[u8]| -> usize {
        rest.iter().take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')).count()
    };
    let header = &content[..content.len().min(HEADER_LEN)];
    if (header.starts_with(b"#") || header.starts_with(b"msgid"))
        && let Some(at) = memchr::memmem::find(header, b"\n\"Content-Type: text/plain; charset=")
    {
        let rest = &header[at + b"\n\"Content-Type: text/plain; charset=".len()..];
        let name = &rest[..name_at(rest)];
        return !name.is_empty() && !utf8(name) && !name.eq_ignore_ascii_case(b"CHARSET");
    }
    let vim = header.split(|&b| b == b'\n').find_map(|line| line.trim_ascii().strip_prefix(b"scriptencoding "));
    if let Some(rest) = vim {
        let rest = rest.trim_ascii_start();
        let name = &rest[..name_at(rest)];
        return !name.is_empty() && !utf8(name);
    }
    if let Some(rest) = content.strip_prefix(b"<?xml").filter(|r| r.first().is_some_and(u8::is_ascii_whitespace)) {
        let decl = &rest[..memchr::memmem::find(rest, b"?>").unwrap_or(0)];
        let Some(at) = memchr::memmem::find(decl, b"encoding") else { return false };
        let value = decl[at + b"encoding".len()..].trim_ascii_start();
        let Some(value) = value.strip_prefix(b"=").map(<[u8]>::trim_ascii_start) else { return false };
        let Some((&quote, value)) = value.split_first().filter(|(q, _)| matches!(q, b'"' | b'\'')) else {
            return false;
        };
        let name = &value[..memchr::memchr(quote, value).unwrap_or(0)];
        return !name.is_empty() && !utf8(name);
    }
    // An HTML page's `<meta charset="…">`, or its `http-equiv` form,
    // within the first 1,024 bytes, where HTML's sniffing looks for it.
    let prescan = content[..content.len().min(1024)].to_ascii_lowercase();
    for at in memchr::memmem::find_iter(&prescan, b"<meta") {
        let tag = &prescan[at..];
        let tag = &tag[..memchr::memchr(b'>', tag).unwrap_or(tag.len())];
        let Some(c) = memchr::memmem::find(tag, b"charset=") else { continue };
        let value = &tag[c + b"charset=".len()..];
        let value = value.strip_prefix(b"\"").or_else(|| value.strip_prefix(b"'")).unwrap_or(value);
        let name = &value[..name_at(value)];
        return !name.is_empty() && !utf8(name);
    }
    let mut lines = content.split(|&b| b == b'\n').take(2);
    lines.any(|line| {
        let line = line.trim_ascii_start();
        let Some(comment) = line.strip_prefix(b"#") else { return false };
        let Some(at) = memchr::memmem::find(comment, b"coding") else { return false };
        let rest = &comment[at + b"coding".len()..];
        let Some(rest) = rest.strip_prefix(b":").or_else(|| rest.strip_prefix(b"=")) else { return false };
        let rest = rest.trim_ascii_start();
        let name_len = rest.iter().take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')).count();
        let name = &rest[..name_len];
        !name.is_empty() && !utf8(name)
    })
}

/// Whether a JSON file's first 1 KiB declares SchemaStore's schema of
/// `tsconfig.json` or `jsconfig.json` (`"$schema":
/// "https://json.schemastore.org/tsconfig"`): TypeScript reads it, with
/// comments and trailing commas.
fn tsconfig_schema(content: &[u8]) -> bool {
    let head = &content[..content.len().min(1024)];
    let Some(at) = memchr::memmem::find(head, b"\"$schema\"") else { return false };
    let value = &head[at..];
    let value = &value[..memchr::memchr2(b',', b'\n', value).unwrap_or(value.len())];
    [&b"json.schemastore.org/tsconfig"[..], b"json.schemastore.org/jsconfig"]
        .iter()
        .any(|s| memchr::memmem::find(value, s).is_some())
}

/// Whether a file's name (its path's last component) is Cirrus CI's
/// configuration's: `.cirrus.yml` or `.cirrus.yaml`.
pub fn is_cirrus_name(name: &[u8]) -> bool {
    let base = memchr::memrchr(b'/', name).map_or(name, |i| &name[i + 1..]);
    base == b".cirrus.yml" || base == b".cirrus.yaml"
}

/// Whether a script's or style sheet's content is minified: its lines are
/// on average longer than 110 bytes, as GitHub Linguist decides (counting
/// as it does: the bytes but the line breaks, over one line more than
/// there are breaks), and one of them is at least [`MINIFIED_LINE`] bytes
/// long. (A bundler's output, long lines after a license comment: a Vite
/// build's `dist/`, Yarn's committed release. The long line spares a
/// hand-written sheet of long rules, or a one-line `@import`.)
pub fn is_minified(content: &[u8]) -> bool {
    let (mut breaks, mut longest, mut start) = (0usize, 0usize, 0usize);
    for at in memchr::memchr_iter(b'\n', content) {
        breaks += 1;
        longest = longest.max(at - start);
        start = at + 1;
    }
    longest = longest.max(content.len() - start);
    let crlf = memchr::memmem::find_iter(content, b"\r\n").count();
    let text = content.len() - breaks - crlf;
    longest >= MINIFIED_LINE && text / (breaks + 1) > 110
}

/// The longest line a minified file has at least: minifiers write lines
/// of tens of thousands of bytes (terser and UglifyJS break at 32,000 when
/// asked to break at all).
const MINIFIED_LINE: usize = 500;

/// Whether a file's name (its path's last component) says it holds
/// delimited records that may quote line breaks: `.csv` or `.tsv`, in any
/// case, as spreadsheets write them.
pub fn is_delimited_name(name: &[u8]) -> bool {
    // The path's end is its last component's (asked once per file and
    // check: no search for the last `/`).
    name.len() >= 4 && {
        let ext = &name[name.len() - 4..];
        ext.eq_ignore_ascii_case(b".csv") || ext.eq_ignore_ascii_case(b".tsv")
    }
}

/// What a built-in sees of one file.
#[derive(Clone, Copy, Debug)]
pub struct BuiltinInput<'a> {
    /// The file's bytes.
    pub content: &'a [u8],
    /// The file's size in bytes (normally `content.len()`).
    pub size: u64,
    /// Whether the file's owner may execute it (the bit git records).
    pub executable: bool,
    /// Whether the content is binary, as [`is_binary`] decides. A caller
    /// that has already looked says so, and no check looks again: a check
    /// run's read stage decides once per file, not once per text-only
    /// check (six scans of up to 8,000 bytes per file).
    pub binary: bool,
    /// What the file's git attributes and EditorConfig say of it.
    /// `marks.binary` is folded into `binary` by the caller; the checks
    /// heed the rest.
    pub marks: FileMarks,
}

impl<'a> BuiltinInput<'a> {
    /// A non-executable file with this content.
    pub fn new(content: &'a [u8]) -> Self {
        BuiltinInput {
            content,
            size: content.len() as u64,
            executable: false,
            binary: is_binary(content),
            marks: FileMarks::NONE,
        }
    }
}

/// Runs one built-in over one file's content and returns its findings, in
/// file order, at most [`MAX_FINDINGS`] (+ one "… and N more").
///
/// A text-only kind returns no findings for binary content
/// ([`BuiltinInput::binary`]).
pub fn check(kind: BuiltinKind, settings: &BuiltinSettings, input: &BuiltinInput<'_>) -> Vec<Finding> {
    judge_as(kind, settings, input, false).findings
}

/// Why a built-in passed a file without judging it, or dropped what it
/// found there: what `verdict explain` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waiver {
    /// The project's EditorConfig or git attributes leave what the check
    /// judges to the file ([`FileMarks::waives`]).
    Settings(BuiltinKind),
    /// git's `binary` attribute (or `-diff -text`), or an EditorConfig
    /// `charset` of UTF-16 its bytes are not in: the text checks skip it.
    BinaryMark,
    /// Its content is binary ([`is_binary`]).
    BinaryContent,
    /// Below a directory of tests, with no line break at all.
    OneLineTestFile,
    /// JSON below a directory of tests that ends at its last bracket, as a
    /// serializer writes it ([`serialized_json`]).
    SerializedTestJson,
    /// An empty JSON file below a directory of tests.
    EmptyTestFile,
    /// A Kubernetes CustomResourceDefinition ([`custom_resource_definition`]).
    CustomResourceDefinition,
    /// A file of cryptographic test vectors ([`test_vectors`]): its keys
    /// are published for tests, and it is as large as its cases.
    TestVectors,
    /// It is below a directory of tests and holds one empty line: a
    /// test's input of an empty line.
    EmptyLineTestFile,
    /// JSON below a directory of tests whose only findings are lone
    /// surrogate escapes: a test's input for a parser's handling of them.
    TestSurrogates,
    /// It is below a directory of tests, and its endings are LF and lone
    /// CRs, no CRLF: a parser's input of old Mac line endings.
    LoneCrTestFile,
    /// Delimited records below a directory of tests in a mix of line
    /// endings: a reader's input.
    MixedTestRecords,
    /// Delimited records ([`FileMarks::delimited`]) whose last record has
    /// no line break, as RFC 4180 allows.
    LastRecordUnterminated,
    /// It begins with a terminal's escape sequence: captured output, not
    /// the data format its name says (for the syntax checks, `ESC [`), nor
    /// text laid out by hand (for the layout checks, any `ESC`).
    TerminalOutput,
    /// git's `linguist-generated` attribute: the layout is a tool's.
    GeneratedMark,
    /// git's `linguist-vendored` attribute: the layout is someone else's.
    VendoredMark,
    /// In a package manager's `vendor` directory
    /// ([`FileMarks::package_vendor`]): someone else's code, as the package
    /// manager copied it, whatever its layout, encoding, size and mode.
    PackageVendor(PackageVendor),
    /// Below a directory of tests and kept from the project's formatter
    /// ([`FileMarks::kept_from_formatter`]).
    KeptFromFormatter,
    /// The file says a tool writes it (see [`tool_signature`]); what says so.
    WrittenByATool(&'static str),
    /// A chemistry file in a format of fixed columns (see
    /// [`chemical_records`]); which.
    ChemicalRecords(&'static str),
    /// An ANTLR grammar that antlr-format formats (its `// $antlr-format`
    /// comments configure it), which ends a grammar at its last rule.
    AntlrFormat,
    /// The file says a tool writes it, and so is as large as the tool made
    /// it (`large-file`); what says so.
    SizedByATool(&'static str),
    /// A minified script or style sheet ([`is_minified`]).
    Minified,
    /// Marked vendored (or, if not, generated): committed as it is on
    /// purpose, whatever its size.
    CommittedOnPurpose {
        /// `linguist-vendored`, rather than a generated mark.
        vendored: bool,
    },
    /// Git LFS keeps it (`filter=lfs`): large on purpose.
    LargeFileStorage,
    /// Godot's editor imported it ([`FileMarks::imported_asset`]): a
    /// game's asset, large on purpose.
    ImportedAsset,
    /// One of a test's pair of files ([`FileMarks::test_pair`]): its bytes
    /// are the test's.
    TestPair(TestPair),
    /// It declares an encoding other than UTF-8 near its start
    /// ([`declares_other_encoding`]).
    DeclaredEncoding,
    /// Below a package recipe, which installs it with its own mode
    /// ([`FileMarks::package_recipe`]).
    PackageRecipe,
}

impl std::fmt::Display for Waiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Waiver::Settings(BuiltinKind::Utf8) => {
                f.write_str("EditorConfig's `charset = latin1` says its bytes are Latin-1, where every byte is a character")
            }
            Waiver::Settings(BuiltinKind::FinalNewline) => f.write_str(
                "the project leaves its end as it is: EditorConfig's `insert_final_newline = false` (or `unset`), or git's `whitespace` attribute unset (`-whitespace`)",
            ),
            Waiver::Settings(_) => f.write_str(
                "the project keeps trailing blanks in it: EditorConfig's `trim_trailing_whitespace = false` (or `unset`), or git's `whitespace` attribute unset or without `blank-at-eol`",
            ),
            Waiver::BinaryMark => f.write_str(
                "it is binary by its marks: git's `binary` attribute (or `-diff -text`), or an EditorConfig `charset` of UTF-16",
            ),
            Waiver::BinaryContent => {
                f.write_str("its content is binary (a NUL byte in its first 8000 bytes, a PDF's header or an image's signature)")
            }
            Waiver::OneLineTestFile => f.write_str(
                "it is below a directory of tests and has no line break at all: a test's one-line input or expected output",
            ),
            Waiver::SerializedTestJson => f.write_str(
                "it is below a directory of tests and is JSON that ends at its last bracket, as a serializer writes it (`JSON.stringify(value, null, 2)`, Go's `json.MarshalIndent`, Nim's `pretty`): a test's input or expected output, which the test writes or compares byte for byte",
            ),
            Waiver::TestVectors => f.write_str(
                "it is a file of cryptographic test vectors (Wycheproof's JSON: `algorithm`, `numberOfTests` and `testGroups`): its keys are published for tests, and it is as large as its cases",
            ),
            Waiver::CustomResourceDefinition => f.write_str(
                "it is a Kubernetes CustomResourceDefinition (`apiVersion: apiextensions.k8s.io/…`, `kind: CustomResourceDefinition`): an API's schema, as large as the API, which projects copy from upstream whole",
            ),
            Waiver::EmptyTestFile => f.write_str(
                "it is an empty file below a directory of tests: a test's input for an empty file, which a test needing valid JSON would fail on itself",
            ),
            Waiver::EmptyLineTestFile => f.write_str(
                "it is below a directory of tests and holds one empty line (`\\n`, `\\r\\n` or `\\r`): a test's input of an empty line",
            ),
            Waiver::TestSurrogates => f.write_str(
                "it is below a directory of tests and its only faults are lone surrogate escapes, which JSON's grammar allows: a test's input for how a parser takes them",
            ),
            Waiver::LoneCrTestFile => f.write_str(
                "it is below a directory of tests and ends its lines with LF and lone CRs, no CRLF: a parser's input of old Mac line endings, which no editor mixes in by accident",
            ),
            Waiver::LastRecordUnterminated => f.write_str(
                "it holds delimited records (`*.csv`, `*.tsv`), whose last record RFC 4180 lets end without a line break, as spreadsheets save it",
            ),
            Waiver::MixedTestRecords => f.write_str(
                "it holds delimited records (`*.csv`, `*.tsv`) below a directory of tests: a reader's input of mixed line endings",
            ),
            Waiver::TerminalOutput => f.write_str(
                "it begins with a terminal's escape sequence (`ESC`), or a third of its lines hold one (`ESC [`): captured terminal output, whose bytes are the terminal's, not text of the format its name says",
            ),
            Waiver::GeneratedMark => f.write_str(
                "git's `linguist-generated` attribute or EditorConfig's `generated_code = true` says a tool writes it: its layout is the tool's",
            ),
            Waiver::VendoredMark => f.write_str(
                "git's `linguist-vendored` attribute (or a README or a release's licence over it) says it is someone else's code: its layout and encoding (and a script's mode) are theirs",
            ),
            Waiver::PackageVendor(PackageVendor::Go) => f.write_str(
                "it is in a Go module's `vendor` directory (`go mod vendor` copies modules there, without execute bits, and lists them in its `modules.txt`): someone else's code, kept as it came, whatever its layout, encoding, size and mode",
            ),
            Waiver::PackageVendor(PackageVendor::Composer) => f.write_str(
                "it is in Composer's `vendor` directory (Composer installs the packages a `composer.json` asks for there, and generates its `autoload.php`): someone else's code, kept as it came, whatever its layout, encoding, size and mode",
            ),
            Waiver::PackageVendor(PackageVendor::LowRisc) => f.write_str(
                "it is in a directory lowRISC's `util/vendor.py` copied from another repository (its `NAME.lock.hjson` beside the directory says so): someone else's code, kept as it came, whatever its layout, encoding, size and mode",
            ),
            Waiver::KeptFromFormatter => f.write_str(
                "it is below a directory of tests and the project's `.prettierignore` keeps it from the formatter: a test's input or expected output, whose blanks and end are the test's",
            ),
            Waiver::WrittenByATool(what) => write!(f, "it says a tool writes it ({what}): its layout is the tool's"),
            Waiver::ChemicalRecords(what) => write!(
                f,
                "it is {what}, whose records programs write in fixed columns: its blanks and line breaks are the format's"
            ),
            Waiver::AntlrFormat => f.write_str(
                "its `// $antlr-format` comments say antlr-format formats it, and antlr-format ends a grammar at its last rule, without a line break",
            ),
            Waiver::SizedByATool(what) => write!(
                f,
                "it says a tool writes it ({what}): committed as the tool wrote it, as large as its input makes it"
            ),
            Waiver::Minified => f.write_str("it is a minified script or style sheet: its layout is the minifier's"),
            Waiver::CommittedOnPurpose { vendored: true } => f.write_str(
                "git's `linguist-vendored` attribute (or a README or a release's licence over it) says it is someone else's code, committed as it came, whatever its size",
            ),
            Waiver::LargeFileStorage => f.write_str(
                "git's `filter=lfs` attribute says Git LFS keeps it: git holds a small pointer, and the file is large on purpose",
            ),
            Waiver::TestPair(TestPair::Input) => f.write_str(
                "it is a test's input: `STEM.in`, with its expected output beside it (`STEM.ok`, `STEM.out`, `STEM.expected`, …), which the program's output on these bytes is compared with",
            ),
            Waiver::TestPair(TestPair::ExpectedOutput) => f.write_str(
                "it is a test's expected output: `STEM.out`, `.ok`, `.ref` or `.err` beside the input `STEM` or `STEM.EXT` it is the program's output for, compared byte for byte",
            ),
            Waiver::ImportedAsset => f.write_str(
                "Godot's editor imported it (its `NAME.import` is beside it): a game's texture, sound or model, large on purpose",
            ),
            Waiver::CommittedOnPurpose { vendored: false } => f.write_str(
                "git's `linguist-generated` attribute or EditorConfig's `generated_code = true` says a tool writes it: committed as the tool wrote it, whatever its size",
            ),
            Waiver::PackageRecipe => f.write_str(
                "a package recipe beside or above it (BitBake's, buildroot's, OpenWrt's, a `PKGBUILD`, an ebuild) installs it with the mode it gives (`install -m 0755`): the mode git holds is not the one it runs with",
            ),
            Waiver::DeclaredEncoding => f.write_str(
                "it declares an encoding other than UTF-8 near its start: `# -*- coding: latin-1 -*-`, as Python and Ruby read it, an XML declaration's `encoding=\"ISO-8859-1\"`, a gettext catalog's `charset=`, or Vim's `scriptencoding`",
            ),
        }
    }
}

/// What a built-in makes of one file, explained.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Judged {
    /// What it reports (as [`check`] returns).
    pub findings: Vec<Finding>,
    /// Why it reports nothing, when something other than the content being
    /// right says so.
    pub waiver: Option<Waiver>,
    /// What it would report but for the waiver (empty where that means
    /// nothing: a binary file's).
    pub would_find: Vec<Finding>,
}

/// [`check`], and why a file it does not judge is not judged, with what it
/// would report otherwise: `verdict explain`'s answer per built-in.
pub fn judge(kind: BuiltinKind, settings: &BuiltinSettings, input: &BuiltinInput<'_>) -> Judged {
    judge_as(kind, settings, input, true)
}

/// [`check`]'s one body. Without `explain`, nothing is spent on waivers
/// (no reason kept, no second look).
fn judge_as(kind: BuiltinKind, settings: &BuiltinSettings, input: &BuiltinInput<'_>, explain: bool) -> Judged {
    let waived =
        |waiver: Waiver, would_find: Vec<Finding>| Judged { findings: Vec::new(), waiver: Some(waiver), would_find };
    let content = input.content;
    if input.marks.waives(kind) {
        if !explain {
            return Judged::default();
        }
        let unmarked = BuiltinInput { marks: input.marks.without_waiver(kind), ..*input };
        let unwaived = judge_as(kind, settings, &unmarked, true);
        return waived(Waiver::Settings(kind), [unwaived.findings, unwaived.would_find].concat());
    }
    let binary_waiver = || if input.marks.binary { Waiver::BinaryMark } else { Waiver::BinaryContent };
    if kind.text_only() && input.binary {
        return waived(binary_waiver(), Vec::new());
    }
    // A UTF-16 file is binary to git and to the byte-wise checks, but a
    // key or a conflict marker in it is one all the same; so is one in a
    // file that is binary only by a mark (git's `binary`, an EditorConfig
    // `charset` of UTF-16 that its bytes are not in).
    if input.binary && kind.reads_binary_for_text() {
        if let Some(text) = wide_text(content) {
            let mut out = Collector::new(kind.name(), text.as_bytes());
            match kind {
                BuiltinKind::Secrets => secrets::secrets(text.as_bytes(), &mut out),
                _ => text::merge_conflict(text.as_bytes(), input.marks.marker_size(), &mut out),
            }
            return Judged { findings: out.finish(), ..Judged::default() };
        }
        if git_binary(content) {
            return waived(binary_waiver(), Vec::new());
        }
    }
    // One of a test's pair of files: the program's input or the output a
    // test compares with its own, byte for byte.
    if let Some(pair) = input.marks.test_pair
        && kind.spares_test_pairs()
    {
        if !explain {
            return Judged::default();
        }
        let unmarked = BuiltinInput { marks: FileMarks { test_pair: None, ..input.marks }, ..*input };
        let unwaived = judge_as(kind, settings, &unmarked, true);
        return waived(Waiver::TestPair(pair), [unwaived.findings, unwaived.would_find].concat());
    }
    let mut out = Collector::new(kind.name(), content);
    match kind {
        BuiltinKind::Utf8 => text::utf8(content, &mut out),
        BuiltinKind::TrailingWhitespace => text::trailing_whitespace(content, input.marks.in_tests, &mut out),
        BuiltinKind::MarkdownTrailingWhitespace => text::markdown_trailing_whitespace(content, &mut out),
        BuiltinKind::FinalNewline => {
            let marks = input.marks;
            let waiver = final_newline_waiver(content, marks);
            // Without `explain`, a waived file is not looked at.
            if waiver.is_none() || explain {
                text::final_newline(content, marks.blank_lines_at_end, marks.keeps_trailing_whitespace, &mut out);
            }
            if let Some(waiver) = waiver {
                return waived(waiver, out.finish());
            }
        }
        BuiltinKind::MergeConflict => text::merge_conflict(content, input.marks.marker_size(), &mut out),
        BuiltinKind::MixedLineEndings => {
            text::mixed_line_endings(content, input.marks.delimited, input.marks.wanted_ending(content), &mut out)
        }
        // Committed on purpose, whatever its size: what the project says
        // someone else wrote, or a tool (an amalgamated header, a bundle).
        BuiltinKind::LargeFile
            if input.marks.vendored
                || input.marks.package_vendor.is_some()
                || input.marks.generated
                || input.marks.lfs
                || input.marks.imported_asset =>
        {
            if explain {
                large_file(settings.max_size, input.size, &mut out);
            }
            let waiver = match (input.marks.lfs, input.marks.package_vendor) {
                (true, _) => Waiver::LargeFileStorage,
                (false, Some(by)) => Waiver::PackageVendor(by),
                (false, None) if input.marks.imported_asset => Waiver::ImportedAsset,
                (false, None) => Waiver::CommittedOnPurpose { vendored: input.marks.vendored },
            };
            return waived(waiver, out.finish());
        }
        // A Kubernetes API's schema, as large as the API (Argo's workflow
        // CRD is 2.5 MiB), which charts and operators copy from upstream
        // whole.
        BuiltinKind::LargeFile if input.size > settings.max_size && custom_resource_definition(content) => {
            if explain {
                large_file(settings.max_size, input.size, &mut out);
            }
            return waived(Waiver::CustomResourceDefinition, out.finish());
        }
        // Published test vectors (Wycheproof's, and the copies crypto
        // libraries keep of them), as large as their cases.
        BuiltinKind::LargeFile if input.size > settings.max_size && test_vectors(content) => {
            if explain {
                large_file(settings.max_size, input.size, &mut out);
            }
            return waived(Waiver::TestVectors, out.finish());
        }
        // A file a tool writes whole says so (see [`tool_signature`]): a
        // generator's tables (glib's `gunichartables.h`, Odin's decode
        // tables), a bundle, committed as the tool wrote them, as large as
        // their input makes them, as a `linguist-generated` file is.
        BuiltinKind::LargeFile
            if input.size > settings.max_size
                && let Some(what) = tool_signature(content) =>
        {
            if explain {
                large_file(settings.max_size, input.size, &mut out);
            }
            return waived(Waiver::SizedByATool(what), out.finish());
        }
        // A minified script or style sheet (a Vite build's committed
        // `dist/assets/*.js`), the minifier's output, as large as what it
        // bundles, as the layout checks take it.
        BuiltinKind::LargeFile if input.size > settings.max_size && input.marks.js_or_css && is_minified(content) => {
            if explain {
                large_file(settings.max_size, input.size, &mut out);
            }
            return waived(Waiver::Minified, out.finish());
        }
        BuiltinKind::LargeFile => large_file(settings.max_size, input.size, &mut out),
        // A shared tsconfig under another name (`tsconfigs/base.json`,
        // create-turbo's `typescript-config/base.json`), which tsc reads
        // with comments, says what it is in its `$schema`.
        // An empty JSON file below a directory of tests: a test's input
        // for an empty file (a loader's error case), which a test needing
        // valid JSON would fail on itself.
        BuiltinKind::Json | BuiltinKind::Jsonc if content.is_empty() && input.marks.in_tests => {
            if explain {
                syntax::json(content, &mut out);
            }
            return waived(Waiver::EmptyTestFile, out.finish());
        }
        // Terminal output captured under a data format's name (bat's
        // highlighted expected outputs, `example.yaml`): an escape
        // sequence first, which no JSON, TOML or YAML begins with.
        BuiltinKind::Json | BuiltinKind::Jsonc | BuiltinKind::Toml | BuiltinKind::Yaml
            if content.starts_with(b"\x1b[") =>
        {
            return waived(Waiver::TerminalOutput, Vec::new());
        }
        BuiltinKind::Json if tsconfig_schema(content) => syntax::jsonc(content, &mut out),
        BuiltinKind::Json => syntax::json(content, &mut out),
        BuiltinKind::Jsonc => syntax::jsonc(content, &mut out),
        BuiltinKind::Toml => syntax::toml(content, &mut out),
        BuiltinKind::Yaml => yaml::yaml(content, input.marks.cirrus_ci, &mut out),
        BuiltinKind::Secrets => secrets::secrets(content, &mut out),
        // `go mod vendor` writes every file without execute bits (a
        // module's zip keeps none), and Composer sets the modes in its
        // directory: a vendored script's mode is the package manager's;
        // one `linguist-vendored` marks is upstream's (sourced by its own
        // build, or kept as a test's input).
        BuiltinKind::ShebangExecutable if input.marks.package_vendor.is_some() || input.marks.vendored => {
            if explain {
                shebang_executable(content, input.executable, &mut out);
            }
            let waiver = input.marks.package_vendor.map_or(Waiver::VendoredMark, Waiver::PackageVendor);
            return waived(waiver, out.finish());
        }
        // A distribution's recipe installs it, with the mode it gives.
        BuiltinKind::ShebangExecutable if input.marks.package_recipe => {
            if explain {
                shebang_executable(content, input.executable, &mut out);
            }
            return waived(Waiver::PackageRecipe, out.finish());
        }
        BuiltinKind::ShebangExecutable => shebang_executable(content, input.executable, &mut out),
    }
    let findings = out.finish();
    // Published test vectors' keys (Wycheproof's `"private": "-----BEGIN
    // PRIVATE KEY-----…"` beside each case's `tcId`), looked at only where
    // a key was found.
    if kind == BuiltinKind::Secrets && !findings.is_empty() && test_vectors(content) {
        return waived(Waiver::TestVectors, if explain { findings } else { Vec::new() });
    }
    // A file that declares its encoding (Python's and Ruby's magic
    // comment, Emacs' and vim's) is read in it by its language: bytes
    // that are not UTF-8 are its text. Looked at only where UTF-8 failed.
    if kind == BuiltinKind::Utf8 && !findings.is_empty() && declares_other_encoding(content) {
        return waived(Waiver::DeclaredEncoding, if explain { findings } else { Vec::new() });
    }
    // A JSON parser's test input of unpaired surrogates (the WHATWG URL
    // tests' `urltestdata.json`, babel's `export-name-has-lone-surrogate`),
    // below a directory of tests, where nothing else is wrong with it.
    if matches!(kind, BuiltinKind::Json | BuiltinKind::Jsonc)
        && !findings.is_empty()
        && input.marks.in_tests
        && findings.iter().all(|f| f.message == syntax::LONE_SURROGATE)
    {
        return waived(Waiver::TestSurrogates, if explain { findings } else { Vec::new() });
    }
    // A parser's input below a directory of tests whose only other endings
    // are lone CRs (babel's fixtures of old Mac line endings): no editor
    // mixes those by accident, as a Windows one leaves CRLF.
    if kind == BuiltinKind::MixedLineEndings
        && !findings.is_empty()
        && input.marks.in_tests
        && memchr::memmem::find(content, b"\r\n").is_none()
    {
        return waived(Waiver::LoneCrTestFile, if explain { findings } else { Vec::new() });
    }
    // Delimited records below a directory of tests, in a mix of endings
    // (a CSV reader's input: an LF header over CRLF rows, as exports are
    // pasted together): the reader's test.
    if kind == BuiltinKind::MixedLineEndings
        && !findings.is_empty()
        && input.marks.in_tests
        && input.marks.delimited
        && input.marks.eol.is_none()
    {
        return waived(Waiver::MixedTestRecords, if explain { findings } else { Vec::new() });
    }
    // Someone else's text, in the encoding they wrote it in (a vendored
    // test suite's Latin-1 copyright sign), as its layout is theirs.
    if kind == BuiltinKind::Utf8
        && !findings.is_empty()
        && (input.marks.vendored || input.marks.package_vendor.is_some())
    {
        let waiver = input.marks.package_vendor.map_or(Waiver::VendoredMark, Waiver::PackageVendor);
        return waived(waiver, if explain { findings } else { Vec::new() });
    }
    // Looked at only where there is something to drop: most files have
    // no findings.
    if findings.is_empty() || !kind.judges_layout() {
        return Judged { findings, ..Judged::default() };
    }
    let waiver = if input.marks.generated {
        Some(Waiver::GeneratedMark)
    } else if input.marks.vendored {
        Some(Waiver::VendoredMark)
    } else if let Some(by) = input.marks.package_vendor {
        Some(Waiver::PackageVendor(by))
    } else if input.marks.kept_from_formatter && kind != BuiltinKind::MixedLineEndings && !declares_tests(content) {
        Some(Waiver::KeptFromFormatter)
    } else if content.first() == Some(&0x1b) || terminal_capture(content) {
        // Captured terminal output (tmux's `image.sixel`, a saved coloured
        // log, alacritty's recordings of a session): an escape sequence
        // first, as no text file begins, or in a third of the lines.
        Some(Waiver::TerminalOutput)
    } else if let Some(what) = tool_signature(content) {
        Some(Waiver::WrittenByATool(what))
    } else if let Some(what) = chemical_records(content) {
        Some(Waiver::ChemicalRecords(what))
    } else if input.marks.js_or_css && is_minified(content) {
        Some(Waiver::Minified)
    } else {
        None
    };
    match waiver {
        Some(w) => waived(w, if explain { findings } else { Vec::new() }),
        None => Judged { findings, ..Judged::default() },
    }
}

/// An Ansible module's documentation block (`DOCUMENTATION = r'''`) and
/// the line in it that names the module (`module: apache2_mod_proxy`),
/// which a plugin names `name:` and an inventory script does not have.
static ANSIBLE_DOCUMENTATION: LazyLock<[regex::bytes::Regex; 2]> = LazyLock::new(|| {
    [r#"(?m)^DOCUMENTATION[ \t]*=[ \t]*r?(?:'''|""")"#, r"(?m)^[ \t]*module:[ \t]*[\w.]+[ \t]*\r?$"]
        .map(|p| regex::bytes::Regex::new(p).expect("the pattern compiles"))
});

/// How far into a file [`chemical_records`] looks for a PDB file's first
/// atom: a deposited structure's header of remarks runs to tens of
/// kilobytes.
const PDB_LOOK: usize = 256 << 10;

/// The chemistry format `content` is in, when it is one whose records
/// programs write in fixed columns, padded with blanks (a PDB record is an
/// 80-column card; a molfile's program line is fixed fields), told by its
/// content, not its name (`.sdf` also names SDFormat's robot XML, `.ent`
/// SGML entities): a Protein Data Bank file (a record name of the format
/// first, and an `ATOM  ` or `HETATM` record in its first 256 KiB); an MDL
/// molfile or SD file (its fourth line, the counts line, ending `V2000` or
/// `V3000`); a Tripos MOL2 file (an `@<TRIPOS>` line in its first 4 KiB);
/// an AMBER topology (`%VERSION ` first, a `%FLAG ` line); a CIF file (a
/// `data_` block first, after comments, and a tag line).
fn chemical_records(content: &[u8]) -> Option<&'static str> {
    const PDB_RECORDS: [&[u8]; 16] = [
        b"HEADER", b"TITLE ", b"COMPND", b"SOURCE", b"KEYWDS", b"EXPDTA", b"AUTHOR", b"REMARK", b"SEQRES", b"CRYST1",
        b"MODEL ", b"ATOM  ", b"HETATM", b"OBSLTE", b"SPLIT ", b"CAVEAT",
    ];
    let header = &content[..content.len().min(HEADER_LEN)];
    let at_line = |hay: &[u8], what: &[u8]| {
        hay.starts_with(what) || memchr::memmem::find_iter(hay, what).any(|at| hay[at - 1] == b'\n')
    };
    if PDB_RECORDS.iter().any(|r| content.starts_with(r)) {
        let look = &content[..content.len().min(PDB_LOOK)];
        if at_line(look, b"ATOM  ") || at_line(look, b"HETATM") {
            return Some("a Protein Data Bank file");
        }
    }
    let counts = header.split(|&b| b == b'\n').nth(3).map(<[u8]>::trim_ascii_end);
    if counts.is_some_and(|l| l.ends_with(b"V2000") || l.ends_with(b"V3000")) {
        return Some("an MDL molfile (its counts line ending `V2000` or `V3000`)");
    }
    if at_line(header, b"@<TRIPOS>") {
        return Some("a Tripos MOL2 file");
    }
    if header.starts_with(b"%VERSION ") && at_line(header, b"%FLAG ") {
        return Some("an AMBER topology");
    }
    let mut lines = header.split(|&b| b == b'\n').filter(|l| !l.trim_ascii().is_empty() && !l.starts_with(b"#"));
    if lines.next().is_some_and(|l| l.starts_with(b"data_"))
        && lines.take(8).any(|l| l.starts_with(b"_") || l.starts_with(b"loop_"))
    {
        return Some("a CIF file");
    }
    None
}

/// Whether `content` is a Kubernetes CustomResourceDefinition in YAML: an
/// `apiVersion: apiextensions.k8s.io/…` line and a `kind:
/// CustomResourceDefinition` line in its first [`HEADER_LEN`] bytes (after
/// comments, or a Helm chart's `{{ … }}` lines); or in JSON, an object with
/// those two members there (prometheus-operator's jsonnet library keeps
/// its CRDs so, converted from the YAML by its build).
fn custom_resource_definition(content: &[u8]) -> bool {
    let header = &content[..content.len().min(HEADER_LEN)];
    let line = |what: &[u8]| memchr::memmem::find_iter(header, what).any(|at| at == 0 || header[at - 1] == b'\n');
    if line(b"apiVersion: apiextensions.k8s.io/") && line(b"kind: CustomResourceDefinition") {
        return true;
    }
    let member = |what: &[u8]| {
        memchr::memmem::find_iter(header, what)
            .any(|at| header[..at].trim_ascii_end().ends_with(b",") || header[..at].trim_ascii_end().ends_with(b"{"))
    };
    header.trim_ascii_start().starts_with(b"{")
        && member(b"\"apiVersion\": \"apiextensions.k8s.io/")
        && member(b"\"kind\": \"CustomResourceDefinition\"")
}

/// Whether `content` is JSON as a serializer writes it, indented or not:
/// an object or an array that ends at its closing bracket, with no line
/// break after it (`JSON.stringify(value, null, 2)`, Go's
/// `json.MarshalIndent`, Python's `json.dump(…, indent=2)`, Nim's
/// `pretty`, Zig's `std.json.Stringify`), and parses. Parsed only where the
/// brackets say so.
fn serialized_json(content: &[u8]) -> bool {
    let content = content.strip_prefix(BOM).unwrap_or(content);
    let start = content.trim_ascii_start();
    ((start.starts_with(b"{") && content.ends_with(b"}")) || (start.starts_with(b"[") && content.ends_with(b"]")))
        && serde_json::from_slice::<serde::de::IgnoredAny>(content).is_ok()
}

/// A line that declares a test or a suite, as Jest, Mocha, Vitest and
/// Jasmine write them: `it(`, `describe(` or `test(` (with modifiers,
/// `describe.skip(`) and its name's quote, or a table's `.each`, after
/// blanks at most (a module's own `test(value)` is no declaration).
static DECLARES_TESTS: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
    regex::bytes::Regex::new(r#"(?m)^[ \t]*(?:it|describe|test)(?:\.[A-Za-z]+)*(?:[ \t]*\([ \t]*["'`]|\.each\b)"#)
        .expect("the pattern compiles")
});

/// Whether `content` declares tests ([`DECLARES_TESTS`]): hand-written
/// test code, which a project's blanket `.prettierignore` line (webpack's
/// `test/**/*.*`) keeps from the formatter with its inputs, but whose
/// layout is its authors' all the same.
fn declares_tests(content: &[u8]) -> bool {
    DECLARES_TESTS.is_match(content)
}

/// Whether `header` begins as the Kotlin binary-compatibility validator's
/// API dump does: `public` or `protected`, modifiers, `class` (an
/// interface is `abstract interface class`), a JVM class name with a `/`
/// (`okhttp3/sse/EventSource`, `a/B$Inner`), what it extends after ` : `,
/// and ` {` ending the line.
fn kotlin_api_dump(header: &[u8]) -> bool {
    let first = header.split(|&b| b == b'\n').next().unwrap_or_default();
    let Some(rest) = first.strip_prefix(b"public ").or_else(|| first.strip_prefix(b"protected ")) else {
        return false;
    };
    let Some(declared) = rest.strip_suffix(b" {") else { return false };
    let Some(at) = memchr::memmem::find(declared, b"class ") else { return false };
    let modifiers = &declared[..at];
    let name = declared[at + "class ".len()..].split(|&b| b == b' ').next().unwrap_or_default();
    let name_ok = |b: &u8| b.is_ascii_alphanumeric() || b"/$_".contains(b);
    modifiers.iter().all(|&b| b.is_ascii_lowercase() || b == b' ') && name.contains(&b'/') && name.iter().all(name_ok)
}

/// What says that a file is written by a tool that writes it whole again
/// (its layout is the tool's: fixed by hand, it is undone at the next run),
/// if anything does.
/// Only the comment block the file begins with counts (after a byte order
/// mark and a shebang line, within its first [`HEADER_LEN`] bytes: blank
/// lines, lines led by `//`, `#`, `*`, `--`, `;`, `%` or `'`, and block
/// comments, `/* */`, `<!-- -->`, `(* *)`, `{- -}`, `"""` (`r"""`, `u"""`), Go
/// templates' `{{/* */}}`, and AsciiDoc's `////` blocks): a generator's
/// own source writes the marker in a string, and a hand-written file
/// mentions generated files in its text. In that block:
/// - `@generated` (Meta's marker, which Linguist reads: Cargo's lock file,
///   Thrift's, Relay's), `<auto-generated` or `<autogenerated` (.NET's);
/// - a comment saying that the file is generated and not to be edited:
///   its text begins by naming it (`Code generated`, `Generated`,
///   `Autogenerated`, `Automatically generated`, `This file`, `This
///   class`, `This code`, `This is an autogenerated`, `Do not edit`, after
///   a `Warning:` or `Note:`) and, with the four comment lines after it,
///   holds the word `generated` (`autogenerated`, `auto-generated`; not
///   `regenerate`) and `do not edit`, `do not modify`, `don't edit`, `don't
///   modify` or `do not change`, in any case: Go's `// Code generated …
///   DO NOT EDIT.`, protoc's, Dart's `// GENERATED CODE - DO NOT MODIFY BY
///   HAND`, roxygen2's `% Generated by roxygen2: do not edit by hand`,
///   yarn's, FlatBuffers'. Not a Markdown heading below the first level
///   (`## Generated files - do not edit` heads a section about others);
/// - the Unity editor's serialization: a `%TAG !u! tag:unity3d.com,2011:`
///   line, or a file that begins `fileFormatVersion:` and has a `guid:`
///   line (Unity's `.meta` files, `userData: ` with its blank in every one);
/// - a webpack bundle: a line beginning `/******/` and `__webpack_` or
///   `webpackBootstrap` in the header (ncc's and webpack's output);
/// - Android Room's schemas and cobra's pages (by their footer), and a
///   compiler's or bundler's output that links its source map on its last
///   line;
/// - an HTML page with a `<meta name="generator">` tag in its first
///   [`HEADER_LEN`] bytes (what Hugo, Jekyll, MkDocs, Doxygen, javadoc and
///   rustdoc write), and jazzy's pages (by their footer);
/// - a data file of unicode.org's, by its header ([`unicode_data`]);
/// - an Office Open XML part ([`office_part`]), and a draw.io diagram
///   (`<mxfile`, after an XML declaration at most) and library
///   (`<mxlibrary>`);
/// - an SVG that Adobe Illustrator or Sketch exported (their `<!--
///   Generator:` comment) or Excalidraw did (`<!-- svg-source:excalidraw
///   -->`), a terminal screenshot Rich exported (`<!-- Generated with
///   Rich`, or older, its `<svg class="rich-terminal"` root: textual's
///   and rich's documentation hold hundreds), and an EPS file whose header comments name the
///   program that wrote it (`%%Creator:`, `%APLProducer:`);
/// - the licence file rollup's and vite's builds write (its `# Licenses of
///   bundled dependencies` and `# Bundled dependencies:` headings,
///   anywhere in it);
/// - panvimdoc's Vim help files (their `Generated by panvimdoc` line and
///   a `vim:` modeline ending the file), and a README rendered from R
///   Markdown or Quarto (`<!-- README.md is generated from README.Rmd.
///   Please edit that file -->`, usethis's template);
/// - Dokka's pages (`var pathToRoot = "` and its `dokka` scripts),
///   javadoc's from before JDK 9 (`<!-- Generated by javadoc (`) and its
///   style sheet, and the Gradle wrapper's scripts (`Gradle start up
///   script for`);
/// - erlang.mk (its `ERLANG_MK_FILENAME :=` and `ERLANG_MK_VERSION =`
///   lines), a citation style the CSL Style Variant Builder generated (its
///   comment), and a Visual Studio project in MSBuild's 2003 format (with
///   a `ToolsVersion` and a `ProjectGuid`);
/// - f2c's translations of Fortran ([`f2c_output`]), f2py's signature files
///   (by their footer), xfig's drawings (`#FIG 3.2`), gettext catalogs
///   Babel wrote (`"Generated-By: Babel` in the header), and a block that
///   opens with a generator's capitals, `AUTOGENERATED ` or
///   `AUTO-GENERATED `.
pub(crate) fn tool_signature(content: &[u8]) -> Option<&'static str> {
    let content = content.strip_prefix(BOM).unwrap_or(content);
    let header = &content[..content.len().min(HEADER_LEN)];
    if header.starts_with(b"fileFormatVersion: ") && memchr::memmem::find(header, b"\nguid: ").is_some() {
        return Some("a Unity `.meta` file");
    }
    let first = memchr::memchr2(b'\n', b'\r', header).map_or(header, |i| &header[..i]);
    // A Doxygen configuration written by `doxygen -g` or `-u` before 1.8,
    // whose template wrapped its comments with a blank at each line's end
    // and wrote `KEY = ` for an empty value; its first line names the
    // version.
    let version = |rest: &[u8]| {
        let major = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        major > 0 && rest.get(major) == Some(&b'.') && rest.get(major + 1).is_some_and(u8::is_ascii_digit)
    };
    if first.strip_prefix(b"# Doxyfile ").is_some_and(version) {
        return Some("Doxygen's `# Doxyfile VERSION` first line");
    }
    // An Info manual makeinfo (or texi2any) wrote from a Texinfo source:
    // `This is NAME.info, produced by makeinfo version 7.3 from …`.
    if let Some(rest) = first.strip_prefix(b"This is ")
        && let Some(at) = memchr::memmem::find(rest, b".info, produced by ")
        && [&b"makeinfo version "[..], b"texi2any version "].iter().any(|t| rest[at + 19..].starts_with(t))
    {
        return Some("makeinfo's `This is NAME.info, produced by makeinfo version` first line");
    }
    // Visual C++ 6's workspace (`.dsw`), which says not to edit it.
    if first.starts_with(b"Microsoft Developer Studio Workspace File") {
        return Some("Visual C++ 6's `Microsoft Developer Studio Workspace File` first line");
    }
    // NIST's Statistical Reference Datasets, as NIST publishes them (their
    // header cites the data's line numbers, which readers depend on).
    if first.starts_with(b"NIST/ITL StRD") {
        return Some("NIST's `NIST/ITL StRD` first line");
    }
    if let Some(what) = exported_format(content, header, first) {
        return Some(what);
    }
    // jsii-docgen's API reference (projen's `API.md`, cdk8s-plus' per
    // language pages), which ends with `---` and blank lines: its level-1
    // heading's `<a name="API Reference"` anchor, after the README projen
    // puts first at most.
    if let Some(at) = memchr::memmem::find(header, b"<a name=\"API Reference\"") {
        let start = memchr::memrchr(b'\n', &header[..at]).map_or(0, |i| i + 1);
        if header[start..].starts_with(b"# ") {
            return Some("jsii-docgen's API reference (its `# … <a name=\"API Reference\"` heading)");
        }
    }
    // The Unicode Character Database's `UnicodeData.txt`, which has no
    // header: its first record, U+0000's, as unicode.org publishes it
    // (i3's, odin's and racket's copies, which their generators read).
    if first == b"0000;<control>;Cc;0;BN;;;;;N;NULL;;;;" {
        return Some("the Unicode Character Database's `UnicodeData.txt` (its first record, `0000;<control>;Cc;…`)");
    }
    if php_archive(content) {
        return Some("a PHP archive's stub (`__HALT_COMPILER();`, then its manifest)");
    }
    // CMake's cache (a build directory's `CMakeCache.txt`, committed for
    // a cross build's settings), whose entries CMake writes with their
    // blanks.
    if first == b"# This is the CMakeCache file." {
        return Some("CMake's `# This is the CMakeCache file.` first line");
    }
    // A LyX document, whose format breaks a paragraph's lines after a
    // blank.
    if first.strip_prefix(b"#LyX ").is_some_and(version) {
        return Some("LyX's `#LyX VERSION created this file` first line");
    }
    // A BDF bitmap font, which font tools write (`BITMAP ` with a blank
    // after it, each glyph's header as the tool lays it out).
    if header.starts_with(b"STARTFONT ") {
        return Some("a BDF font's `STARTFONT` first line");
    }
    // A source map, which compilers and bundlers write as JSON on one line,
    // or indented (esbuild's): `version` 3 first, then `file` or `sources`.
    if source_map(header) {
        return Some("a source map's `{\"version\":3,` start");
    }
    // Stardoc's pages (a Bazel rule set's API docs, which a
    // `stardoc_with_diff_test` compares with what it writes).
    if header.starts_with(b"<!-- Generated with Stardoc") {
        return Some("Stardoc's `<!-- Generated with Stardoc` first line");
    }
    // Ragel's output (a state machine's C or C++, harfbuzz's `*-machine.hh`,
    // whose tables end each row with `, `): its first line points back to
    // the `.rl` source, which is checked.
    let lead = content.trim_ascii_start();
    if let Some(rest) = lead.strip_prefix(b"#line 1 \"") {
        let line = &rest[..memchr::memchr2(b'\n', b'\r', rest).unwrap_or(rest.len())];
        if line.ends_with(b".rl\"") {
            return Some("Ragel's `#line 1 \"NAME.rl\"` first line");
        }
    }
    // documentation.js's README (`documentation readme`, turf's packages'),
    // its comment after the package's heading at most.
    if past_title(header).starts_with(b"<!-- Generated by documentation.js.") {
        return Some("documentation.js's `<!-- Generated by documentation.js.` comment");
    }
    // An esbuild bundle: its runtime's helpers first.
    if memchr::memmem::find(header, b"var __defProp = Object.defineProperty;").is_some()
        && memchr::memmem::find(header, b"var __getOwnPropNames = Object.getOwnPropertyNames;").is_some()
    {
        return Some("an esbuild bundle's runtime helpers (`var __defProp = Object.defineProperty;`)");
    }
    // Org mode's Texinfo export (`ox-texinfo`: magit's manual, which `make
    // texi` writes again), whose template's first two lines are these.
    if header.starts_with(b"\\input texinfo    @c -*- texinfo -*-\n@c %**start of header") {
        return Some("Org's Texinfo export's first two lines");
    }
    // A webpack bundle (a JavaScript action's committed `dist/index.js`):
    // its runtime's `/******/` lines end in a blank.
    let webpack = |h: &[u8]| {
        (h.starts_with(b"/******/") || memchr::memmem::find(h, b"\n/******/").is_some())
            && (memchr::memmem::find(h, b"__webpack_").is_some()
                || memchr::memmem::find(h, b"webpackBootstrap").is_some())
    };
    if webpack(header) {
        return Some("a webpack bundle's `/******/` lines");
    }
    // Bison's parsers and their headers, which say so on their first line
    // (`/* A Bison parser, made by GNU Bison 3.8.2.  */`, `// A Bison
    // parser, …` for C++), and write their tables as the skeleton lays them
    // out.
    if comment_text(first).starts_with(b"A Bison parser, made by GNU Bison ") {
        return Some("Bison's `A Bison parser, made by GNU Bison` first line");
    }
    // Doxygen's man pages (brotli's `docs/*.3`): its `.TH` line with
    // Emacs' mode, then `.ad l` and `.nh`; each entry's `\&.` ends in a
    // blank.
    if first.starts_with(b".TH \"")
        && first.ends_with(b"\\\" -*- nroff -*-")
        && content[first.len()..].trim_ascii_start().starts_with(b".ad l\n.nh\n")
    {
        return Some("Doxygen's man page (its `.TH … -*- nroff -*-`, `.ad l` and `.nh` lines)");
    }
    // The manuals lz4's and zstd's `gen_manual` writes from their headers'
    // comments (` * ` lines become lines of a blank): its page's head,
    // and its chapters' anchors.
    if header.starts_with(
        b"<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=ISO-8859-1\">\n<title>",
    ) && memchr::memmem::find(content, b"<a name=\"Chapter1\"></a>").is_some()
    {
        return Some("a manual `gen_manual` wrote (its ISO-8859-1 head and `<a name=\"Chapter1\">` anchors)");
    }
    // A Nix derivation in its ATerm form (`nix derivation show`'s input,
    // nix's characterisation tests' `.drv` files), written on one line
    // with no line break.
    if content.starts_with(b"Derive([") || content.starts_with(b"DrvWithVersion(") {
        return Some("a Nix derivation's `Derive([` (ATerm)");
    }
    // Tables a program writes into a header, said in its first comment
    // without a "do not edit": zlib's `crc32.h` (`Generated automatically
    // by crc32.c`) and `trees.h` (`header created automatically with
    // -DGEN_TREES_H`), in every project that vendors zlib.
    if header.split(|&b| b == b'\n').take(3).any(|line| {
        let text = comment_text(line);
        text.starts_with(b"Generated automatically by ") || text.starts_with(b"header created automatically with ")
    }) {
        return Some("a header's `Generated automatically by` first comment");
    }
    // Qt Linguist's translation catalogs (`lupdate` writes them, and
    // translation tools after it): a message's text, line breaks and
    // blanks included, is the translator's data.
    let head = &header[..header.len().min(256)];
    if (content.starts_with(b"<?xml") || content.starts_with(b"<!DOCTYPE TS>"))
        && (memchr::memmem::find(head, b"<!DOCTYPE TS>").is_some()
            || memchr::memmem::find(head, b"\n<TS version=").is_some())
    {
        return Some("a Qt Linguist catalog's `<!DOCTYPE TS>`");
    }
    // Eclipse's exported preferences (code templates, formatter profiles),
    // which Java's XML writer leaves without a final line break.
    if let Some(rest) = content.strip_prefix(b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>") {
        let root = rest.trim_ascii_start();
        if root.starts_with(b"<templates><template ")
            || (root.starts_with(b"<profiles version=\"")
                && memchr::memmem::find(&root[..root.len().min(256)], b"<profile kind=\"").is_some())
        {
            return Some("Eclipse's exported preferences (`standalone=\"no\"`, then `<templates>` or `<profiles>`)");
        }
    }
    // A draw.io diagram (its `.xml` export too), which the editor writes
    // without a final line break.
    let body = match content.strip_prefix(b"<?xml ") {
        Some(_) => memchr::memchr(b'\n', content).map_or(&b""[..], |i| &content[i + 1..]),
        None => content,
    };
    if body.trim_ascii_start().starts_with(b"<mxfile") {
        return Some("a draw.io diagram's `<mxfile`");
    }
    // A draw.io shape library (its Export Library), a JSON list of shapes
    // in one element, on one line.
    if body.trim_ascii_start().starts_with(b"<mxlibrary>") {
        return Some("a draw.io library's `<mxlibrary>`");
    }
    // fontTools' TTX dumps (`ttx`, and its tests' expected outputs), whose
    // writer pads a hex dump's last row and writes an empty string as an
    // indented blank line: the root `<ttFont` with its `ttLibVersion`.
    if body.trim_ascii_start().starts_with(b"<ttFont ") {
        let root = &body.trim_ascii_start()[..body.trim_ascii_start().len().min(256)];
        let root = &root[..memchr::memchr(b'>', root).unwrap_or(root.len())];
        if memchr::memmem::find(root, b" ttLibVersion=\"").is_some() {
            return Some("a TTX dump's `<ttFont … ttLibVersion=` root");
        }
    }
    // An SVG a drawing program exported, which says so in a comment near
    // its top (Sketch's inside the `<svg>` element); hand-edited, it is
    // undone at the next export.
    let markup = content.starts_with(b"<?xml")
        || content.starts_with(b"<svg")
        || content.starts_with(b"<!--")
        || content.starts_with(b"<!DOCTYPE svg");
    // An SVG font, which font tools write (FontForge says so in its
    // `<metadata>`, and pads its `<font-face ` and `<glyph ` lines); a
    // style sheet's `@font-face` is not its `<font-face` element.
    if markup
        && [&b"<font-face"[..], b"Created by FontForge "].iter().any(|g| memchr::memmem::find(header, g).is_some())
    {
        return Some("an SVG font (a `<font-face` element, or FontForge's `Created by FontForge`)");
    }
    // Adobe Illustrator's "Export As" SVG, which names no generator but
    // keeps the artboard's layer as the root's id (`<svg id="Layer_2"
    // data-name="Layer 2"`), and brendangregg's FlameGraph's output.
    if markup && illustrator_layer(header) {
        return Some("Adobe Illustrator's export (`<svg id=\"Layer_N\" data-name=\"Layer N\"`)");
    }
    if markup && memchr::memmem::find(header, b"<!-- Flame graph stack visualization.").is_some() {
        return Some("FlameGraph's `<!-- Flame graph stack visualization.` comment");
    }
    // Qt's SVG generator (`QSvgGenerator`: wkhtmltoimage's SVG output,
    // Qt applications' exports), which pads its attribute lines.
    if markup
        && [&b"<desc>Generated with Qt</desc>"[..], b"<title>Qt SVG Document</title>"]
            .iter()
            .any(|g| memchr::memmem::find(header, g).is_some())
    {
        return Some("Qt's SVG generator's `<desc>Generated with Qt</desc>`");
    }
    // Fabric.js's `toSVG()` (drawings made in a web editor), which writes
    // no final line break.
    if markup && memchr::memmem::find(header, b"<desc>Created with Fabric.js ").is_some() {
        return Some("Fabric.js's `<desc>Created with Fabric.js` export");
    }
    if markup
        && [
            &b"<!-- Generator: Adobe Illustrator "[..],
            b"<!-- Generator: Sketch ",
            b"<!-- svg-source:excalidraw -->",
            b"<!-- Creator: CorelDRAW",
            b"<!-- Created using Krita",
            // yEd's GraphML diagrams (SCons' `doc/images/overview.graphml`).
            b"<!--Created by yEd ",
            // SVG Repo's downloads, which its Mixer Tools write (or
            // transform) on one line or a few, with no final newline.
            b"<!-- Uploaded to: SVG Repo, www.svgrepo.com, Generator: SVG Repo Mixer Tools -->",
            b"<!-- Uploaded to: SVG Repo, www.svgrepo.com, Transformed by: SVG Repo Mixer Tools -->",
        ]
        .iter()
        .any(|g| memchr::memmem::find(header, g).is_some())
    {
        return Some("a drawing program's comment (`<!-- Generator:`, `<!-- Creator:`, `<!-- Created using`)");
    }
    // Sketch's export with its comment left out (`svgo` and exporters'
    // settings drop comments): its artboard's group, with the attributes
    // in the order Sketch writes them.
    let artboard = b" stroke=\"none\" stroke-width=\"1\" fill=\"none\" fill-rule=\"evenodd\">";
    if markup
        && (memchr::memmem::find(header, artboard).is_some_and(|at| {
            // `<g id="NAME"` right before them.
            header[..at].ends_with(b"\"")
                && memchr::memmem::rfind(&header[..at], b"<g id=\"")
                    .is_some_and(|o| o + 7 < at && !header[o + 7..at - 1].contains(&b'"'))
        }) || memchr::memmem::find(header, &[&b"<g"[..], artboard].concat()).is_some())
    {
        return Some(
            "Sketch's export (its artboard's `<g id=\"…\" stroke=\"none\" stroke-width=\"1\" fill=\"none\" fill-rule=\"evenodd\">`)",
        );
    }
    // Matplotlib's SVG output (plots in documentation), whose path data
    // ends each line with a blank: its metadata's title, or older
    // versions' comment.
    if markup
        && [&b"<dc:title>Matplotlib v"[..], b"<!-- Created with matplotlib ("]
            .iter()
            .any(|g| memchr::memmem::find(header, g).is_some())
    {
        return Some("Matplotlib's SVG (`<dc:title>Matplotlib v…`)");
    }
    // draw.io's SVG export (`NAME.drawio.svg`), which keeps the diagram
    // in its root's `content` attribute and is written on one line.
    if markup && memchr::memmem::find(header, b" content=\"&lt;mxfile").is_some() {
        return Some("draw.io's SVG export (its root's `content=\"&lt;mxfile`)");
    }
    // Rich's `Console.save_svg`, whose template pads its lines.
    if content.starts_with(b"<svg class=\"rich-terminal\"")
        || (markup && memchr::memmem::find(header, b"<!-- Generated with Rich ").is_some())
    {
        return Some("Rich's SVG export (`<!-- Generated with Rich`, `class=\"rich-terminal\"`)");
    }
    // The licence file rollup's and vite's build writes again at each
    // build, each bundled dependency's licence quoted line by line (`> `),
    // whose heading may come after kilobytes of the project's own licence.
    if memchr::memmem::find(content, b"\n# Licenses of bundled dependencies").is_some()
        && memchr::memmem::find(content, b"\n# Bundled dependencies:").is_some()
    {
        return Some("a build's `# Licenses of bundled dependencies` and `# Bundled dependencies:` headings");
    }
    // PostScript (Encapsulated or not) that a drawing or plotting program
    // (cairo, gnuplot) writes and names in its header comments
    // (`%%Creator:`, or macOS's `%APLProducer:`), before `%%EndComments`; a
    // program written by hand begins with a bare `%!`.
    if first.starts_with(b"%!PS-Adobe-") {
        let comments = memchr::memmem::find(header, b"%%EndComments").map_or(header, |i| &header[..i]);
        let eps = memchr::memmem::find(first, b" EPSF-").is_some();
        // Outside EPS, a program's name with its version (`cairo 1.16.0`,
        // `gnuplot 5.4 patchlevel 2`): a program written by hand may name
        // its author there too.
        let named = |c: &[u8]| {
            memchr::memmem::find(comments, c).is_some_and(|at| {
                let value = &comments[at + c.len()..];
                let value = &value[..memchr::memchr2(b'\n', b'\r', value).unwrap_or(value.len())];
                eps || value.windows(3).any(|w| w[0].is_ascii_digit() && w[1] == b'.' && w[2].is_ascii_digit())
            })
        };
        if named(b"%%Creator:") || named(b"%APLProducer:") {
            return Some("a PostScript file's header naming the program that wrote it");
        }
    }
    // An Office Open XML part as Word, Excel and PowerPoint save it: a
    // standalone declaration, then the whole document on one line (pandoc's
    // reference .docx and .pptx parts, kept unzipped).
    if office_part(content) {
        return Some("an Office Open XML part: a standalone declaration, then the document on one line");
    }
    // The public API the Kotlin binary-compatibility validator dumps
    // (`./gradlew apiDump`, checked by `apiCheck`: okhttp's, kotlinx's
    // `api/*.api`), with a blank line after each class: its first line
    // declares a class by its JVM name, whose packages `/` separates, as
    // no source does.
    if kotlin_api_dump(header) {
        return Some("a Kotlin API dump's class declaration by its JVM name (`public final class a/b/C {`)");
    }
    // Dokka's HTML pages (a Kotlin project's committed API docs), which
    // name no generator but set the path to their root for its scripts.
    if memchr::memmem::find(header, b"var pathToRoot = \"").is_some()
        && [&b"dokka"[..], b"sourceset_dependencies.js"].iter().any(|w| memchr::memmem::find(header, w).is_some())
    {
        return Some("Dokka's page (`var pathToRoot`, its `dokka` scripts)");
    }
    // javadoc's pages from before JDK 9, which said so in a comment and not
    // a `<meta name="generator">` tag, and its style sheet.
    if memchr::memmem::find(header, b"<!-- Generated by javadoc (").is_some()
        || content.starts_with(b"/* Javadoc style sheet */")
    {
        return Some("javadoc's `<!-- Generated by javadoc` comment or style sheet");
    }
    // The Gradle wrapper's scripts, which `gradle wrapper` writes again
    // from its template (Gradle 8's has blanks after two comments).
    if [
        &b"Gradle start up script for "[..],
        b"Gradle startup script for Windows",
        b"gradlew startup script for Windows",
    ]
    .iter()
    .any(|w| memchr::memmem::find(header, w).is_some())
    {
        return Some("the Gradle wrapper's script (`Gradle start up script for`)");
    }
    // erlang.mk, which its `erlang-mk` target builds and copies into each
    // project whole (cowboy's, ranch's), with its version and file name
    // set near the top.
    if memchr::memmem::find(header, b"\nERLANG_MK_FILENAME := ").is_some()
        && memchr::memmem::find(header, b"\nERLANG_MK_VERSION = ").is_some()
    {
        return Some("erlang.mk's build (`ERLANG_MK_FILENAME :=`, `ERLANG_MK_VERSION =`)");
    }
    // A citation style the CSL project's Style Variant Builder wrote from
    // its template (pandoc's `default.csl`): it says so in a comment inside
    // the root element.
    if memchr::memmem::find(header, b"<!-- This file was generated by the Style Variant Builder").is_some() {
        return Some("the Style Variant Builder's `This file was generated` comment");
    }
    // A Visual Studio project in MSBuild's format before SDK-style
    // projects (its 2003 namespace, and the `ProjectGuid` Visual Studio
    // gives it; the root's `ToolsVersion` too before Visual Studio 2019),
    // which Visual Studio rewrites at each change of the project, without a
    // final line break and with its template's comments. A hand-written
    // `.props` or `.targets` has no `ProjectGuid`. A shared project's items
    // (`NAME.projitems`) have its `SharedGUID` instead.
    let root_tag =
        body.trim_ascii_start().strip_prefix(b"<Project ").map(|t| &t[..memchr::memchr(b'>', t).unwrap_or(t.len())]);
    let has = |what: &[u8]| memchr::memmem::find(header, what).is_some();
    if root_tag.is_some_and(|t| {
        memchr::memmem::find(t, b"xmlns=\"http://schemas.microsoft.com/developer/msbuild/2003\"").is_some()
    }) && (has(b"<ProjectGuid>") || (has(b"<SharedGUID>") && has(b"<HasSharedItems>true</HasSharedItems>")))
    {
        return Some(
            "a Visual Studio project (MSBuild's 2003 namespace, `ProjectGuid` or a shared project's `SharedGUID`)",
        );
    }
    // The XML documentation file a .NET compiler writes from an assembly's
    // `///` comments (Harmony's `0Harmony.xml`, committed beside its DLL):
    // `<doc>`, then the assembly's name, then `<members>`.
    let xml_doc = || {
        let opening: Vec<u8> =
            body[..body.len().min(512)].iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
        opening.starts_with(b"<doc><assembly><name>")
            && memchr::memmem::find(&opening, b"</name></assembly><members>").is_some()
    };
    if body.trim_ascii_start().starts_with(b"<doc>") && xml_doc() {
        return Some("a .NET compiler's XML documentation (`<doc>`, `<assembly>`, `<members>`)");
    }
    // A gettext catalog Babel wrote (`pybabel extract`, `update`): its
    // header entry says so, and Babel writes `# ` for an empty comment
    // line and a blank line after every message, the last too. So does
    // Transifex, whose team its header entry links.
    if (header.starts_with(b"#") || header.starts_with(b"msgid"))
        && memchr::memmem::find(header, b"\n\"Generated-By: Babel ").is_some()
    {
        return Some("Babel's `Generated-By: Babel` in a gettext catalog's header");
    }
    if (header.starts_with(b"#") || header.starts_with(b"msgid"))
        && memchr::memmem::find_iter(header, b"\n\"Language-Team: ").any(|at| {
            let line = &header[at + 1..];
            let line = &line[..memchr::memchr(b'\n', line).unwrap_or(line.len())];
            memchr::memmem::find(line, b"transifex.com/").is_some()
        })
    {
        return Some("Transifex's team in a gettext catalog's `Language-Team:`");
    }
    // A contract's source as a block explorer gives it (Etherscan's,
    // BscScan's download of a deployed contract's verified source): a
    // deployed contract's code, copied as it was verified.
    if header.starts_with(b"/**\n *Submitted for verification at ")
        || header.starts_with(b"/**\r\n *Submitted for verification at ")
    {
        return Some("a block explorer's `*Submitted for verification at` header");
    }
    // A drawing xfig saved (its format's `#FIG 3.2` first line), whose
    // header pads the paper size (`Letter  `).
    if header.starts_with(b"#FIG ") && header.get(5).is_some_and(u8::is_ascii_digit) {
        return Some("an xfig drawing's `#FIG` first line");
    }
    if f2c_output(content) {
        return Some("f2c's translation of Fortran (`-- translated by f2c (version`, `/* Subroutine */ int NAME_(`)");
    }
    // Android Room's exported schemas (JSON: no comment to say so).
    if header.starts_with(b"{")
        && memchr::memmem::find(header, b"\"formatVersion\"").is_some()
        && memchr::memmem::find(header, b"\"identityHash\"").is_some()
    {
        return Some("an Android Room schema's `formatVersion` and `identityHash`");
    }
    // A page a site or documentation generator wrote: it names itself in
    // its head (Hugo, Jekyll, MkDocs, Doxygen, javadoc, rustdoc), or,
    // jazzy's, at its foot.
    if generator_meta(header) {
        return Some("a `<meta name=\"generator\">` tag");
    }
    let foot = &content[content.len().saturating_sub(1024)..];
    if memchr::memmem::find(foot, b"Generated by <a class=\"link\" href=\"https://github.com/realm/jazzy\"").is_some() {
        return Some("jazzy's footer");
    }
    // f2py's signature files (`f2py -h NAME.pyf`), signed at the foot; its
    // `python module NAME ! in ` lines end in a blank.
    if memchr::memmem::find(foot, b"\n! This file was auto-generated with f2py (version:").is_some() {
        return Some("f2py's `This file was auto-generated with f2py` footer");
    }
    // cobra's documentation generator signs its pages at the foot, and a
    // compiler or bundler links its output's source map on the last line
    // (tsc's, dts-buddy's `index.d.ts`, a Sass build's sheet).
    let tail = content[content.len().saturating_sub(256)..].trim_ascii_end();
    let last = memchr::memrchr(b'\n', tail).map_or(tail, |i| &tail[i + 1..]);
    if last.starts_with(b"###### Auto generated by spf13/cobra on ") {
        return Some("cobra's footer");
    }
    // panvimdoc's Vim help files (Neovim plugins' `doc/NAME.txt`, made
    // from their README): its signature line, a blank line, and the help
    // modeline ending the file.
    if last.starts_with(b"vim:") {
        let before = tail[..tail.len() - last.len()].trim_ascii_end();
        let signed = memchr::memrchr(b'\n', before).map_or(before, |i| &before[i + 1..]);
        if signed.starts_with(b"Generated by panvimdoc ") {
            return Some("panvimdoc's `Generated by panvimdoc` line and modeline at the end");
        }
    }
    // A README knitr renders from R Markdown or Quarto (usethis's template
    // says so in its first comment), whose code's output is knitr's.
    if let Some(at) = memchr::memmem::find(header, b"Please edit that file") {
        let line_start = memchr::memrchr(b'\n', &header[..at]).map_or(0, |i| i + 1);
        let line = &header[line_start..at];
        if line.starts_with(b"<!-- ")
            && memchr::memmem::find(line, b" is generated from ").is_some()
            && [&b".Rmd"[..], b".qmd", b".Rmarkdown"].iter().any(|e| memchr::memmem::find(line, e).is_some())
        {
            return Some("knitr's `is generated from README.Rmd. Please edit that file` comment");
        }
    }
    // The link is the very last line (one line break after it at most: a
    // blank line after it is someone's).
    let end = content.strip_suffix(b"\n").map_or(content, |c| c.strip_suffix(b"\r").unwrap_or(c));
    let last = memchr::memrchr(b'\n', end).map_or(end, |i| &end[i + 1..]);
    // (A map's file, `….map`, or the map itself, inline; indented, and the
    // comment closed with or without a blank, `….map*/`, as webpack's CSS
    // output closes it.)
    let last = last.trim_ascii_start();
    let link = last.strip_prefix(b"//# sourceMappingURL=").or_else(|| {
        let l = last.strip_prefix(b"/*# sourceMappingURL=")?.trim_ascii_end();
        Some(l.strip_suffix(b"*/").unwrap_or(l))
    });
    if link.is_some_and(|l| l.trim_ascii_end().ends_with(b".map") || l.starts_with(b"data:")) {
        return Some("a `sourceMappingURL` link on its last line");
    }
    // The block the file begins with, and, in a page with front matter,
    // an HTML comment after it, or after the page's title heading (a YAML
    // document's `---` reads as either; a page's own headings and list
    // items are not comments): react-router's API pages, which its docs
    // script writes.
    let front = past_front_matter(header).map(past_title).filter(|rest| rest.starts_with(b"<!--"));
    // In a language that declares its package first, the block after the
    // declaration too (Odin's generated tables: a copyright comment,
    // `package NAME`, then `// GENERATED by ../gen.odin -- DO NOT EDIT.`).
    let begins = "the comment it begins with";
    let package = past_package(header).map(|rest| (rest, "the comment after its package declaration"));
    let commented = [Some((header, begins)), front.map(|rest| (rest, begins)), package].into_iter().flatten().find_map(
        |(h, said)| {
            let block = leading_comments(h);
            if marked_block(&block) {
                Some(said)
            } else if synced_block(&block) {
                Some("the comment it begins with, saying another repository keeps it and syncs it here")
            } else if unicode_data(&block) {
                Some("a unicode.org data file's header")
            } else {
                None
            }
        },
    );
    // A text file whose first line says it is generated, with no comment
    // around it (l3build's expected test logs, `*.tlg`: `This is a
    // generated file for the LaTeX (2e + expl3) validation system.`, then
    // `Don't change this file in any respect.`).
    commented.or_else(|| says_it_is_generated(&first.to_ascii_lowercase()).then_some("its first line"))
}

/// Whether `header` begins as a source map does: `{`, then `"version"`
/// 3, then `"file"` or `"sources"` (the specification's order), on one
/// line or indented.
fn source_map(header: &[u8]) -> bool {
    let key = |rest: &[u8], name: &[u8]| -> Option<usize> {
        let rest = rest.trim_ascii_start();
        let after = rest.strip_prefix(b"\"")?.strip_prefix(name)?.strip_prefix(b"\"")?;
        let after = after.trim_ascii_start().strip_prefix(b":")?;
        Some(header.len() - after.len())
    };
    let Some(rest) = header.strip_prefix(b"{") else { return false };
    let Some(at) = key(rest, b"version") else { return false };
    let Some(rest) = header[at..].trim_ascii_start().strip_prefix(b"3") else { return false };
    let Some(rest) = rest.trim_ascii_start().strip_prefix(b",") else { return false };
    key(rest, b"file").or_else(|| key(rest, b"sources")).is_some()
}

/// Whether an SVG's root is Adobe Illustrator's "Export As" output: `id`
/// `Layer_N` and `data-name` `Layer N`, the same N.
fn illustrator_layer(header: &[u8]) -> bool {
    memchr::memmem::find_iter(header, b"<svg id=\"Layer_").any(|at| {
        let rest = &header[at + b"<svg id=\"Layer_".len()..];
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        digits > 0 && rest[digits..].starts_with(b"\" data-name=\"Layer ") && {
            let name = &rest[digits + b"\" data-name=\"Layer ".len()..];
            name.starts_with(&rest[..digits]) && name.get(digits) == Some(&b'"')
        }
    })
}

/// Whether `content` is an XML part as Microsoft Office serializes it: an
/// XML declaration that says `standalone="yes"` on the first line, then
/// the whole document on the second (a line break after it at most), as
/// Word writes `word/document.xml` and `[Content_Types].xml`: with CRLF, or
/// LF once another tool has touched it, and no final line break.
fn office_part(content: &[u8]) -> bool {
    let Some(first_end) = memchr::memchr(b'\n', content) else { return false };
    let declaration = content[..first_end].strip_suffix(b"\r").unwrap_or(&content[..first_end]);
    let rest = &content[first_end + 1..];
    let rest = rest.strip_suffix(b"\n").map_or(rest, |r| r.strip_suffix(b"\r").unwrap_or(r));
    declaration.starts_with(b"<?xml ")
        && declaration.ends_with(b"?>")
        && memchr::memmem::find(declaration, b"standalone=\"yes\"").is_some()
        && rest.starts_with(b"<")
        && rest.len() >= 100
        && memchr::memchr2(b'\n', b'\r', rest).is_none()
}

/// Whether a leading comment block is the header of a Unicode Character
/// Database file (or another of unicode.org's data files), kept as
/// unicode.org publishes it: a `Date:` line and the link to Unicode's terms
/// of use (`confusables.txt`, `SpecialCasing-17.0.0.txt`, which language
/// runtimes and regex engines commit and parse as they are).
fn unicode_data(block: &[(&[u8], &[u8])]) -> bool {
    // The file's own name first (`# confusables.txt`), then a `Date:`
    // line (not a CVS `$Date: $` keyword): the header as unicode.org
    // writes it, not one quoted in a hand-written file.
    let text = |i: usize| block.get(i).map(|&(_, t)| t.trim_ascii());
    text(0).is_some_and(|name| name.ends_with(b".txt") && !name.contains(&b' '))
        && block.iter().take(4).any(|&(_, t)| t.trim_ascii().starts_with(b"Date: "))
        && block.iter().any(|&(_, t)| memchr::memmem::find(t, b"unicode.org/terms_of_use.html").is_some())
}

/// Whether the file is a PHP archive (a `.phar`, or a tool phive or a
/// project keeps as `tools/NAME`: Composer's, PHP-CS-Fixer's), which Box
/// or `Phar` writes whole: PHP code (after an interpreter line naming
/// `php`) that ends at `__HALT_COMPILER();` (and `?>` at most) and a line
/// break, its first 64 KiB, then the archive's binary manifest, whose
/// length (four bytes, little-endian) is less than 16 MiB. Source that
/// writes such a stub holds the call in a string, followed by text.
fn php_archive(content: &[u8]) -> bool {
    const STUB: &[u8] = b"__HALT_COMPILER();";
    let code = match content.strip_prefix(b"#!") {
        Some(rest) => {
            let line = &rest[..memchr::memchr(b'\n', rest).unwrap_or(rest.len())];
            if memchr::memmem::find(line, b"php").is_none() {
                return false;
            }
            rest.get(line.len() + 1..).unwrap_or_default()
        }
        None => content,
    };
    if !code.starts_with(b"<?php") {
        return false;
    }
    let head = &content[..content.len().min(64 << 10)];
    memchr::memmem::find_iter(head, STUB).any(|at| {
        let rest = &content[at + STUB.len()..];
        let rest = rest.strip_prefix(b" ?>").unwrap_or(rest);
        let rest = rest.strip_prefix(b"\r\n").or_else(|| rest.strip_prefix(b"\n"));
        rest.is_some_and(|manifest| manifest.len() >= 4 && manifest[3] == 0)
    })
}

/// Files in a format a program exports or writes whole, told by how they
/// begin (the fiftieth session's audits: hardware design, distribution
/// packaging, older languages). Each keeps the program's layout:
///
/// - an OFF mesh (`OFF`, `COFF`, `NOFF`, `STOFF`, `4OFF`, … first, then
///   rows of numbers: openscad's test meshes, each vertex row ending in a
///   blank; the extension alone names other things);
/// - a STEP model (`ISO-10303-21;` first: a CAD exporter's, whose header
///   comments end in blanks) and an Eagle board or schematic (its
///   `eagle.dtd` doctype: Eagle's own design-rule texts keep blanks);
/// - a DVBv5 channel table (dtv-scan-tables', which distributions copy
///   whole: a `[NAME]` section after comments, with `\tDELIVERY_SYSTEM = `
///   entries, each section ended by an empty line, the last too);
/// - Smalltalk in Iceberg's Tonel format (a class, trait, extension or
///   package definition, `Class {` then `#name : `, after its comment at
///   most: the methods' source is the image's, which Iceberg writes back
///   at each commit), and Tonel's `.properties` and Iceberg's `.project`,
///   written with no final line break;
/// - pages and docs generators write without a "do not edit": tcllib's
///   doctools (`Generated from file 'X.man' by tcllib/doctools with format
///   'markdown'`, in a Markdown link comment or after an HTML page's
///   style), MkDocs' pages (`var mkdocs_page_name = "…"`, a literal, not
///   its theme's template), and glad's OpenGL loaders (`Loader generated
///   by glad`, which raylib and glfw vendor).
fn exported_format(content: &[u8], header: &[u8], first: &[u8]) -> Option<&'static str> {
    let first = first.trim_ascii_end();
    let is_number = |w: &[u8]| {
        !w.is_empty()
            && w.iter().any(u8::is_ascii_digit)
            && w.iter().all(|b| b.is_ascii_digit() || b"+-.eE".contains(b))
    };
    fn words(line: &[u8]) -> Vec<&[u8]> {
        line.split(|b| b.is_ascii_whitespace()).filter(|w| !w.is_empty()).collect()
    }
    // OFF's keyword: optional `ST`, `C`, `N`, `4`, `n` prefixes, in order.
    let mut key = first;
    for prefix in [&b"ST"[..], b"C", b"N", b"4", b"n"] {
        key = key.strip_prefix(prefix).unwrap_or(key);
    }
    if let Some(rest) = key.strip_prefix(b"OFF")
        && (rest.is_empty() || rest[0].is_ascii_whitespace())
        && words(rest).iter().all(|w| is_number(w))
        && {
            // Its next two rows (at least one), of three numbers or more.
            let rows: Vec<&[u8]> = header
                .split(|&b| b == b'\n')
                .skip(1)
                .filter(|l| !l.trim_ascii().is_empty() && !l.starts_with(b"#"))
                .take(2)
                .collect();
            !rows.is_empty()
                && rows.iter().all(|l| {
                    let w = words(l);
                    w.len() >= 3 && w.iter().all(|w| is_number(w))
                })
        }
    {
        return Some("an OFF mesh (`OFF` first, then rows of numbers)");
    }
    if first == b"ISO-10303-21;" {
        return Some("a STEP model's `ISO-10303-21;` first line");
    }
    if memchr::memmem::find(&header[..header.len().min(512)], b"<!DOCTYPE eagle SYSTEM \"eagle.dtd\">").is_some() {
        return Some("an Eagle design's `eagle.dtd` doctype");
    }
    let section = header
        .split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .find(|l| !l.is_empty() && !l.starts_with(b"#"))
        .is_some_and(|l| l.len() > 2 && l.starts_with(b"[") && l.ends_with(b"]"));
    if section && memchr::memmem::find(header, b"\n\tDELIVERY_SYSTEM = ").is_some() {
        return Some("a DVBv5 channel table (`[NAME]`, `DELIVERY_SYSTEM = `)");
    }
    if tonel(header) {
        return Some("Smalltalk in Iceberg's Tonel format (`Class {`, `#name : `)");
    }
    let meta = content.trim_ascii();
    if meta.len() <= 256
        && meta.starts_with(b"{")
        && meta.ends_with(b"}")
        && [&b"#format : #tonel"[..], b"'srcDirectory' : '"].iter().any(|w| memchr::memmem::find(meta, w).is_some())
    {
        return Some("Iceberg's `.properties` or `.project` (`#format : #tonel`, `'srcDirectory'`)");
    }
    let doctools = [
        &b"by tcllib/doctools with format '"[..],
        b"generated by tcllib/doctools/idx with format '",
        b"generated by tcllib/doctools/toc with format '",
    ];
    if doctools.iter().any(|w| {
        memchr::memmem::find(header, w).is_some_and(|at| header.get(at + w.len()).is_some_and(u8::is_ascii_alphabetic))
    }) {
        return Some("tcllib's doctools (`by tcllib/doctools with format`)");
    }
    // aapt2's `dump badging`, which Android builds compare with a
    // committed copy (thunderbird's `badging/*-badging.txt`).
    if first.starts_with(b"package: name='") && memchr::memmem::find(header, b"\nsdkVersion:'").is_some() {
        return Some("aapt2's `dump badging` (`package: name='`, `sdkVersion:'`)");
    }
    // Inno Setup's translations (`*.isl`), as its project publishes them.
    if first.starts_with(b"; *** Inno Setup version ") {
        return Some("Inno Setup's `; *** Inno Setup version` first line");
    }
    // The declarations file Expo writes into each project
    // (`expo-env.d.ts`), which says not to edit it but not that it is
    // generated.
    if header.starts_with(b"/// <reference types=\"expo/types\" />")
        && memchr::memmem::find(header, b"// NOTE: This file should not be edited").is_some()
    {
        return Some("Expo's `expo-env.d.ts` (`NOTE: This file should not be edited`)");
    }
    // A GraphQL schema as introspection returns it (`{"data":{"__schema":`),
    // as large as the API.
    let compact: Vec<u8> = header.iter().copied().filter(|b| !b.is_ascii_whitespace()).take(24).collect();
    if compact.starts_with(b"{\"data\":{\"__schema\":") || compact.starts_with(b"{\"__schema\":") {
        return Some("a GraphQL introspection result (`{\"data\":{\"__schema\":`)");
    }
    if memchr::memmem::find(header, b"var mkdocs_page_name = \"").is_some() {
        return Some("an MkDocs page (`var mkdocs_page_name = \"…\"`)");
    }
    if [&b"Loader generated by glad "[..], b"loader generated by glad "]
        .iter()
        .any(|w| memchr::memmem::find(header, w).is_some())
    {
        return Some("glad's loader (`Loader generated by glad`)");
    }
    None
}

/// Whether `header` begins as Iceberg writes a Tonel file: its comment
/// (between double quotes) at most, then `Class {`, `Trait {`, `Extension {`
/// or `Package {` on a line, and `#name : ` after it or on the next.
fn tonel(header: &[u8]) -> bool {
    let mut rest = header.trim_ascii_start();
    if let Some(comment) = rest.strip_prefix(b"\"") {
        // The comment ends at a quote not doubled.
        let mut at = 0;
        loop {
            let Some(q) = memchr::memchr(b'"', &comment[at..]) else { return false };
            at += q + 1;
            if comment.get(at) == Some(&b'"') {
                at += 1;
                continue;
            }
            break;
        }
        rest = comment[at..].trim_ascii_start();
    }
    let Some(def) =
        [&b"Class {"[..], b"Trait {", b"Extension {", b"Package {"].iter().find_map(|k| rest.strip_prefix(*k))
    else {
        return false;
    };
    // `#name : ` on the next line, or on this one (Iceberg's one-line
    // extensions and packages, `Extension { #name : #Object }`).
    def.starts_with(b" #name : ")
        || def
            .strip_prefix(b"\r")
            .unwrap_or(def)
            .strip_prefix(b"\n")
            .is_some_and(|next| next.trim_ascii_start().starts_with(b"#name : "))
}

/// Whether an HTML page's head (within `header`) has a `<meta
/// name="generator">` tag: the mark site and documentation generators
/// leave in the pages they write. Not one in a comment, nor one whose
/// value a template fills in (`{{ hugo.Version }}`, `{Astro.generator}`,
/// `<?php bloginfo() ?>`): that is the generator's own source.
fn generator_meta(header: &[u8]) -> bool {
    if !header.trim_ascii_start().starts_with(b"<") {
        return false;
    }
    let lower = header.to_ascii_lowercase();
    let in_comment = |at: usize| {
        let before = &lower[..at];
        memchr::memmem::rfind(before, b"<!--")
            .is_some_and(|open| memchr::memmem::rfind(before, b"-->").is_none_or(|close| close < open))
    };
    memchr::memmem::find_iter(&lower, b"<meta").any(|at| {
        let tag = &lower[at..];
        let tag = &tag[..memchr::memchr(b'>', tag).unwrap_or(tag.len())];
        let named = [&b"name=\"generator\""[..], b"name='generator'", b"name=generator"]
            .iter()
            .any(|p| memchr::memmem::find(tag, p).is_some());
        let templated = [&b"{"[..], b"<?", b"<%"].iter().any(|p| memchr::memmem::find(tag, p).is_some());
        named && !templated && !in_comment(at)
    })
}

/// The header past its package declaration, if the first line that is
/// neither blank nor a comment (`//`, or a `/* */` block) declares one:
/// `package NAME` (Odin, Go), with a `;` (Java), Scala's and Kotlin's
/// dotted names too.
fn past_package(header: &[u8]) -> Option<&[u8]> {
    let mut in_block = false;
    let mut at = 0;
    while at < header.len() {
        let end = memchr::memchr(b'\n', &header[at..]).map_or(header.len(), |i| at + i);
        let line = header[at..end].trim_ascii();
        let next = (end + 1).min(header.len());
        if in_block {
            in_block = memchr::memmem::find(line, b"*/").is_none();
        } else if line.starts_with(b"/*") {
            in_block = memchr::memmem::find(&line[2..], b"*/").is_none();
        } else if !line.is_empty() && !line.starts_with(b"//") {
            let name = line.strip_prefix(b"package ")?.trim_ascii();
            let name = name.strip_suffix(b";").unwrap_or(name).trim_ascii_end();
            let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.';
            return (!name.is_empty() && name.iter().all(word)).then_some(&header[next..]);
        }
        at = next;
    }
    None
}

/// A page's content past its front matter (Jekyll's, Hugo's, Docusaurus':
/// a first line `---` or `+++` and the same line closing it), if it has one.
fn past_front_matter(header: &[u8]) -> Option<&[u8]> {
    let line_end = |at: usize| memchr::memchr(b'\n', &header[at..]).map(|i| at + i);
    let first = line_end(0)?;
    let fence = header[..first].trim_ascii_end();
    if fence != b"---" && fence != b"+++" {
        return None;
    }
    let mut at = first + 1;
    while let Some(end) = line_end(at) {
        if header[at..end].trim_ascii_end() == fence {
            return Some(&header[end + 1..]);
        }
        at = end + 1;
    }
    None
}

/// Why `final-newline` leaves a file's end as it is, if it does, by its
/// content and marks:
/// - below a directory of tests, a file with no line break at all (a
///   test's one-line input or expected output), or of one empty line (a
///   test's input of an empty line: checkstyle's `\n`, `\r\n`, `\r`), or
///   JSON that ends at its last bracket, as a serializer writes it;
/// - delimited records whose last record has no line break, which RFC
///   4180 allows, as spreadsheets save them (blank lines at the end are
///   still reported).
fn final_newline_waiver(content: &[u8], marks: FileMarks) -> Option<Waiver> {
    if marks.in_tests && !content.is_empty() && memchr::memchr2(b'\n', b'\r', content).is_none() {
        Some(Waiver::OneLineTestFile)
    } else if marks.in_tests && matches!(content, b"\n" | b"\r\n" | b"\r") {
        Some(Waiver::EmptyLineTestFile)
    } else if marks.delimited && !content.is_empty() && !matches!(content.last(), Some(b'\n' | b'\r')) {
        Some(Waiver::LastRecordUnterminated)
    } else if marks.in_tests && serialized_json(content) {
        Some(Waiver::SerializedTestJson)
    } else if memchr::memmem::find(content, b"// $antlr-format ").is_some() {
        Some(Waiver::AntlrFormat)
    } else {
        None
    }
}

/// A line's text after a comment's leader (`/*`, `//`, `*`, `#`, `--`,
/// `;`) and the blanks around it.
fn comment_text(line: &[u8]) -> &[u8] {
    let line = line.trim_ascii();
    for leader in [&b"/*"[..], b"//", b"*", b"#", b"--", b";"] {
        if let Some(rest) = line.strip_prefix(leader) {
            return rest.trim_ascii_start();
        }
    }
    line
}

/// Whether `content` is a file of cryptographic test vectors as Wycheproof
/// publishes them: a JSON object whose first members (in its first
/// [`HEADER_LEN`] bytes) are `algorithm` and `numberOfTests`, with its
/// cases' `testGroups` further on.
fn test_vectors(content: &[u8]) -> bool {
    let header = &content[..content.len().min(HEADER_LEN)];
    header.trim_ascii_start().starts_with(b"{")
        && memchr::memmem::find(header, b"\"algorithm\"").is_some()
        && memchr::memmem::find(header, b"\"numberOfTests\"").is_some()
        && memchr::memmem::find(content, b"\"testGroups\"").is_some()
}

/// Whether a third of `content`'s lines that are not empty (of at least three) hold a
/// terminal's control sequence (`ESC [`): a capture of what a program
/// wrote to a terminal (alacritty's `.recording` files, which its tests
/// replay), whose blanks and line endings are the program's.
fn terminal_capture(content: &[u8]) -> bool {
    if memchr::memchr(0x1b, content).is_none() {
        return false;
    }
    let (mut lines, mut escaped) = (0usize, 0usize);
    for line in content.split(|&b| b == b'\n').filter(|line| !line.is_empty()) {
        lines += 1;
        escaped += usize::from(memchr::memmem::find(line, b"\x1b[").is_some());
    }
    lines >= 3 && escaped * 3 >= lines
}

/// `text` past blank lines and, if one comes first, a Markdown title (a
/// line `# NAME`) and the blank lines after it.
fn past_title(text: &[u8]) -> &[u8] {
    let text = text.trim_ascii_start();
    if !text.starts_with(b"# ") {
        return text;
    }
    let end = memchr::memchr(b'\n', text).map_or(text.len(), |i| i + 1);
    text[end..].trim_ascii_start()
}

/// How far into a file f2c's `-- translated by f2c` comment is looked for:
/// OpenBLAS puts 500 lines of `f2c.h` (some 14 KiB) before it.
const F2C_LOOK: usize = 32 << 10;

/// Whether `content` is f2c's translation of Fortran into C: a comment line
/// `/* NAME.f -- translated by f2c (version …).` in its first [`F2C_LOOK`]
/// bytes (the project's own header may come first), or a subroutine
/// defined as only f2c writes one, `/* Subroutine */ int NAME_(` at a
/// line's start (translations whose comment was taken out). f2c wraps its
/// declarations at 72 columns with a blank at the break, and ends each
/// file with a blank line.
fn f2c_output(content: &[u8]) -> bool {
    let head = &content[..content.len().min(F2C_LOOK)];
    let line_start = |at: usize| memchr::memrchr(b'\n', &head[..at]).map_or(0, |i| i + 1);
    if memchr::memmem::find_iter(head, b" -- translated by f2c (version ")
        .any(|at| head[line_start(at)..].starts_with(b"/*"))
    {
        return true;
    }
    memchr::memmem::find_iter(content, b"/* Subroutine */ ").any(|at| {
        let rest = &content[at + b"/* Subroutine */ ".len()..];
        let rest =
            rest.strip_prefix(b"int ").or_else(|| rest.strip_prefix(b"void ")).or_else(|| rest.strip_prefix(b"VOID "));
        (at == 0 || content[at - 1] == b'\n')
            && rest.is_some_and(|r| {
                let name = r.iter().take_while(|&&b| b.is_ascii_alphanumeric() || b == b'_').count();
                name > 1 && r[name - 1] == b'_' && r.get(name) == Some(&b'(')
            })
    })
}

/// Whether a leading comment block says the file is a tool's (see
/// [`tool_signature`]).
fn marked_block(block: &[(&[u8], &[u8])]) -> bool {
    block.iter().enumerate().any(|(i, &(line, text))| {
        let lower = text.to_ascii_lowercase();
        let has = |hay: &[u8], needle: &[u8]| memchr::memmem::find(hay, needle).is_some();
        // A generator's capitals opening the block (OpenBLAS's RISC-V
        // kernels: `AUTOGENERATED KERNEL`, then the script and its
        // settings).
        let opens = block[..i].iter().all(|(_, t)| t.trim_ascii().is_empty());
        if opens && (text.starts_with(b"AUTOGENERATED ") || text.starts_with(b"AUTO-GENERATED ")) {
            return true;
        }
        if line.starts_with(b"%TAG !u! tag:unity3d.com,")
            || has(text, b"@generated")
            || has(&lower, b"<auto-generated")
            || has(&lower, b"<autogenerated")
        {
            return true;
        }
        if signed_by_a_generator(&lower) || says_it_is_generated(&lower) {
            return true;
        }
        // Go's generated-code line opening the block, its `DO NOT EDIT`
        // further down it (go-bindata's list of sources comes between).
        if opens
            && past_leaders(&lower).starts_with(b"code generated by ")
            && block[i..].iter().any(|&(_, t)| memchr::memmem::find(&t.to_ascii_lowercase(), b"do not edit").is_some())
        {
            return true;
        }
        // docstrip's output (a LaTeX package's `.sty`, `.cls`), which names
        // itself and says it was generated, on the same line or the next:
        // ``This is file `foo.sty',`` then `generated with the docstrip
        // utility.`
        if past_leaders(&lower).starts_with(b"this is file `")
            && block[i..block.len().min(i + 2)].iter().any(|&(_, t)| generated_word(&t.to_ascii_lowercase()))
        {
            return true;
        }
        if line.starts_with(b"##") {
            return false;
        }
        if !names_the_file(&lower) {
            return false;
        }
        let window = comment_window(block, i);
        generated_word(&window)
            && says_do_not_edit(&window)
            // Not a note about the project's generated files (the line
            // that names them; Go's marker line may be followed by one).
            && (!has(&lower, b"generated files") || has(&lower, b"this file"))
    })
}

/// What a comment says, near its claim that the file is a tool's or
/// another repository's, of editing it here (lowercase).
const DO_NOT_EDIT: &[&[u8]] = &[
    b"do not edit",
    b"do not modify",
    b"don't edit",
    b"don't modify",
    b"do not change",
    b"do not make changes",
    b"don't make changes",
    b"should not be edited",
];

/// The text (lowercase) of a comment block's line `i` and the four after
/// it, each followed by a blank.
fn comment_window(block: &[(&[u8], &[u8])], i: usize) -> Vec<u8> {
    block[i..block.len().min(i + 5)]
        .iter()
        .flat_map(|&(_, t)| t.to_ascii_lowercase().into_iter().chain([b' ']))
        .collect()
}

/// Whether a text (lowercase) says not to edit the file.
fn says_do_not_edit(text: &[u8]) -> bool {
    DO_NOT_EDIT.iter().any(|p| memchr::memmem::find(text, p).is_some())
}

/// Whether a leading comment block says that the file is kept in another
/// repository and copied here, and not to change it here: a file an
/// organisation's repository syncs into each of its projects (asyncapi's
/// `This workflow is centrally managed in https://github.com/asyncapi/.github/`,
/// then `Don't make changes to this file in this repo`; Homebrew's `This
/// file is synced from the `.github` repository, do not modify it
/// directly.`), which the next sync writes over: a fix belongs there.
fn synced_block(block: &[(&[u8], &[u8])]) -> bool {
    block.iter().enumerate().any(|(i, &(_, text))| {
        let lower = text.to_ascii_lowercase();
        let t = past_leaders(&lower);
        let Some(rest) = ["this file is ", "this workflow is ", "this action is ", "this code is ", "this script is "]
            .iter()
            .find_map(|p| t.strip_prefix(p.as_bytes()))
        else {
            return false;
        };
        ["synced from ", "synchronized from ", "synced with ", "centrally managed ", "managed in ", "managed from "]
            .iter()
            .any(|p| rest.starts_with(p.as_bytes()))
            && says_do_not_edit(&comment_window(block, i))
    })
}

/// Whether a comment's text (lowercase) says that the file is generated,
/// in so many words, whatever it says of editing: `This file is
/// automatically generated by scripts/generators/tsconfig.ts` (babel's
/// `tsconfig.json` files), `This file is auto-generated from the JSDoc
/// comments` (react-router's API pages), `This file was generated`, `This
/// file has been generated`, and `This is a generated file` (l3build's
/// expected test logs, `This is a generated file for the LaTeX (2e +
/// expl3) validation system.`), `This is an automatically generated file`,
/// and `This document was autogenerated by xacro from …` (a robot's URDF,
/// which xacro writes with blank lines of indentation), and `File
/// generated from our OpenAPI spec` (Stainless' and Stripe's SDKs; stripe
/// documents it as its generated files' marker).
fn says_it_is_generated(text: &[u8]) -> bool {
    let t = past_leaders(text);
    if ["file generated ", "file automatically generated ", "file auto-generated "]
        .iter()
        .any(|p| t.starts_with(p.as_bytes()))
    {
        return true;
    }
    let (rest, file_next) =
        match ["this file is ", "this file was ", "this file has been ", "this document is ", "this document was "]
            .iter()
            .find_map(|p| t.strip_prefix(p.as_bytes()))
        {
            Some(rest) => (rest, false),
            None => match ["this is a ", "this is an "].iter().find_map(|p| t.strip_prefix(p.as_bytes())) {
                Some(rest) => (rest, true),
                None => return false,
            },
        };
    let rest = rest.strip_prefix(b"automatically ").unwrap_or(rest);
    ["generated", "auto-generated", "autogenerated", "auto generated", "machine-generated", "machine generated"]
        .iter()
        .any(|g| {
            rest.strip_prefix(g.as_bytes()).is_some_and(|after| match file_next {
                // "This is a generated file", not "a generated list".
                true => {
                    after.strip_prefix(b" file").is_some_and(|a| a.first().is_none_or(|b| !b.is_ascii_alphanumeric()))
                }
                false => after.first().is_none_or(|b| !b.is_ascii_alphanumeric() && *b != b'_'),
            })
        })
}

/// Whether a comment's text (lowercase) begins with the words a generator
/// signs its output with where it says nothing of editing: Cython's, GNU
/// Autoconf's `configure`, Automake's `Makefile.in`, flex's scanners,
/// ANTLR's parsers (`Generated from G.g4 by ANTLR 4.13.1`), Qt's and
/// PyQt's (`WARNING! All changes made in this file will be lost!`), Visual
/// C++'s resource editor's (`Microsoft Visual C++ generated resource
/// script.`, and Developer Studio's before it), and .NET's ResX resource
/// files' schema comment (`Microsoft ResX Schema`, which Visual Studio and
/// `ResXResourceWriter` write in every one), and man pages' (pandoc's and
/// Pod::Man's `Automatically generated by NAME VERSION`, DocBook XSL's and
/// Asciidoctor's `Generator:` field, ronn's `generated with Ronn`,
/// docutils' `Man page generated from reStructuredText`, kramdown's and
/// kramdown-man's `generated by kramdown`), read past roff's comment
/// leaders, and Cloudflare Wrangler's types (`Generated by Wrangler by
/// running \`wrangler types\``, earlier `Generated by Wrangler on DATE`).
fn signed_by_a_generator(text: &[u8]) -> bool {
    let t = past_leaders(text);
    // The signature, then the generator's version.
    let versioned = |sign: &[u8]| t.strip_prefix(sign).is_some_and(|rest| rest.first().is_some_and(u8::is_ascii_digit));
    [
        "generated by cython ",
        // wayland-scanner's protocol headers and glue (dunst's
        // `src/wayland/protocols/`), which end `};` and an empty line.
        "generated by wayland-scanner ",
        "generated by gnu autoconf ",
        "makefile.in generated by automake ",
        "automatically generated by pandoc ",
        "automatically generated by pod::man ",
        "automatically generated by pod::man v",
        "automatically generated by pod::man version ",
    ]
    .iter()
    .any(|sign| versioned(sign.as_bytes()))
        // Man pages' generators: DocBook's and Asciidoctor's `Generator:`
        // field, ronn's and docutils' signatures.
        || t.starts_with(b"generator: docbook xsl stylesheets")
        || t.starts_with(b"generator: asciidoctor ")
        || t.starts_with(b"generated with ronn/v")
        || t.starts_with(b"generated with ronn-ng/v")
        || t.starts_with(b"man page generated from restructuredtext")
        || t.starts_with(b"generated by kramdown")
        || t.starts_with(b"generated by wrangler ")
        || t.starts_with(b"a lexical scanner generated by flex")
        // re2c's lexers (ninja's `src/lexer.cc`): `/* Generated by re2c */`,
        // with its version and date at most.
        || t.strip_prefix(b"generated by re2c").is_some_and(|rest| {
            let rest = rest.trim_ascii();
            let rest = rest.strip_suffix(b"*/").unwrap_or(rest).trim_ascii();
            rest.is_empty() || rest[0].is_ascii_digit() || rest.starts_with(b"on ")
        })
        || t.starts_with(b"all changes made in this file will be lost")
        || t.starts_with(b"microsoft visual c++ generated resource script")
        || t.starts_with(b"microsoft developer studio generated resource script")
        // Visual C++'s resource editor's `resource.h`, and Visual C++ 6's
        // project files (`# Microsoft Developer Studio Generated Build
        // File, Format Version 6.00`, then `# ** DO NOT EDIT **`).
        || t.starts_with(b"microsoft visual c++ generated include file")
        || t.starts_with(b"microsoft developer studio generated include file")
        || t.starts_with(b"microsoft developer studio generated build file")
        // Premake's makefiles (`# GNU Make project makefile autogenerated
        // by Premake`, `# Alternative GNU Make workspace makefile …`).
        || ((t.starts_with(b"gnu make ") || t.starts_with(b"alternative gnu make "))
            && memchr::memmem::find(t, b" makefile autogenerated by premake").is_some())
        // A generator's line set off by arrows (racket's `/* >>>> Generated
        // by mkmark.rkt from mzmarksrc.c <<<< */`): its script, and its
        // input.
        || decorated_generated_by(text)
        || t.starts_with(b"microsoft resx schema")
        // CMSIS device headers (`@note Generated by SVDConv V3.3.18 on …`,
        // its `@note` read past), Microchip's device packs, and man pages
        // PolyglotMan converted to HTML.
        || t.starts_with(b"generated by svdconv v")
        || t.starts_with(b"file generated from device description version ")
        || t.starts_with(b"manual page source format generated by polyglotman v")
        || (t.starts_with(b"generated from ")
            && memchr::memmem::find_iter(t, b" by antlr ").any(|at| t.get(at + 10).is_some_and(u8::is_ascii_digit)))
}

/// Whether a comment's text (lowercase) is `>>>>
/// Generated by SCRIPT.EXT from INPUT.EXT <<<<`: a generator's line set
/// off by arrows, naming the script that wrote the file and the file it
/// read.
fn decorated_generated_by(t: &[u8]) -> bool {
    let Some(rest) = t.trim_ascii_start().strip_prefix(b">>>") else { return false };
    let arrows = rest.iter().take_while(|&&b| b == b'>').count();
    let rest = rest[arrows..].trim_ascii_start();
    let Some(rest) = rest.strip_prefix(b"generated by ") else { return false };
    let mut words = rest.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let named = |w: Option<&[u8]>| w.is_some_and(|w| w.len() > 2 && w[1..w.len() - 1].contains(&b'.'));
    named(words.next())
        && words.next() == Some(b"from")
        && named(words.next())
        && words.next().is_some_and(|w| w.starts_with(b"<<<"))
}

/// The lines of the comment block `header` begins with (after a shebang
/// line), each with its text past the comment's leader: see
/// [`tool_signature`].
fn leading_comments(header: &[u8]) -> Vec<(&[u8], &[u8])> {
    // Go templates' (Helm's) `{{/* */}}` and `{{- /* */ -}}` too, and a
    // Python docstring with a raw or Unicode prefix (twilio's generated
    // modules open with `r"""`).
    const BLOCKS: [(&[u8], &[u8]); 11] = [
        (b"/*", b"*/"),
        (b"<!--", b"-->"),
        (b"(*", b"*)"),
        (b"{-", b"-}"),
        (b"\"\"\"", b"\"\"\""),
        (b"r\"\"\"", b"\"\"\""),
        (b"R\"\"\"", b"\"\"\""),
        (b"u\"\"\"", b"\"\"\""),
        (b"U\"\"\"", b"\"\"\""),
        (b"{{/*", b"*/"),
        (b"{{- /*", b"*/"),
    ];
    // roff's comments too (`.\"`, `'\"`, `\"`, groff's `.\#`): a man page's.
    const LEADERS: [&[u8]; 11] = [b"//", b"#", b"*", b"--", b";", b"%", b".\\\"", b"'\\\"", b"\\\"", b".\\#", b"'"];
    let mut block = Vec::new();
    // The closing mark of the block comment the line is inside.
    let mut inside: Option<&[u8]> = None;
    // Past an XML declaration; past PHP's opening tag.
    let (mut xml, mut php) = (false, false);
    // Where an AsciiDoc block the header has not closed began.
    let mut asciidoc_open: Option<usize> = None;
    for (n, line) in header.split(|&b| b == b'\n').enumerate() {
        let line = line.trim_ascii();
        // A shebang, and PHP's opening tag first or after one; an XML
        // declaration first, and ResX's `<root>` after it.
        let first = block.is_empty() && inside.is_none();
        let declared = first
            && line.strip_prefix(b"<?xml").is_some_and(|rest| rest.first().is_some_and(u8::is_ascii_whitespace))
            && line.ends_with(b"?>");
        xml |= declared;
        // PHP's opening tag, alone or with a `declare(strict_types=1);`
        // after it, and such a statement on its own line after the tag
        // (PSR-12's layout).
        let php_declare = |l: &[u8]| l.starts_with(b"declare(") && l.ends_with(b";");
        let php_open = first
            && line.strip_prefix(b"<?php").is_some_and(|rest| {
                rest.is_empty() || (rest[0].is_ascii_whitespace() && php_declare(rest.trim_ascii()))
            });
        // An HTML page's doctype and `<html>`, then its generator's comment
        // (pkgdown's `<!-- Generated by pkgdown: do not edit by hand -->`,
        // mandoc's).
        let html = first && {
            let lower = line.to_ascii_lowercase();
            lower.starts_with(b"<!doctype html") || (lower.starts_with(b"<html") && lower.ends_with(b">"))
        };
        let opening = (n == 0 && line.starts_with(b"#!"))
            || php_open
            || (php && first && php_declare(line))
            || declared
            || (xml && first && line == b"<root>")
            || html;
        php |= php_open;
        if opening || line.is_empty() {
            continue;
        }
        let text = if let Some(close) = inside {
            let closes = if close == b"////" { line == close } else { memchr::memmem::find(line, close).is_some() };
            if closes {
                inside = None;
                asciidoc_open = None;
            }
            line
        } else if line == b"////" {
            // AsciiDoc's comment block, delimited by lines of four slashes
            // (not a banner of more: C++'s, which `//` leads). It counts
            // only if such a line closes it in the header.
            inside = Some(b"////");
            asciidoc_open = Some(block.len());
            b""
        } else if let Some((open, close)) = BLOCKS.iter().find(|(open, _)| line.starts_with(open)) {
            let rest = &line[open.len()..];
            if memchr::memmem::find(rest, close).is_none() {
                inside = Some(close);
            }
            rest
        } else if let Some(leader) = LEADERS.iter().find(|l| line.starts_with(l)) {
            &line[leader.len()..]
        } else {
            break;
        };
        block.push((line, text));
    }
    if let Some(open) = asciidoc_open {
        block.truncate(open);
    }
    block
}

/// Whether a comment's text (lowercase) begins by naming the file or its
/// being generated, past leaders, punctuation and a `warning:` or `note:`.
fn names_the_file(text: &[u8]) -> bool {
    let t = past_leaders(text);
    [
        &b"code generated"[..],
        b"generated",
        b"autogenerated",
        b"auto-generated",
        b"auto generated",
        b"automatically generated",
        b"this file",
        b"this class",
        b"this code",
        b"this source",
        b"this header",
        b"this is an auto",
        b"this is a generated",
        b"do not edit",
        b"do not modify",
        b"don't edit",
    ]
    .iter()
    .any(|p| t.starts_with(p))
}

/// A comment's text (lowercase) past leaders, punctuation and a `warning:`
/// or `note:`.
fn past_leaders(text: &[u8]) -> &[u8] {
    let skip = |t: &[u8]| -> usize { t.iter().take_while(|b| !b.is_ascii_alphanumeric()).count() };
    let mut t = &text[skip(text)..];
    for prefix in [&b"warning"[..], b"note", b"notice", b"important"] {
        if let Some(rest) = t.strip_prefix(prefix).filter(|r| r.first().is_some_and(|b| !b.is_ascii_alphanumeric())) {
            t = &rest[skip(rest)..];
        }
    }
    t
}

/// Whether lowercase `text` holds the word `generated`, alone or as
/// `autogenerated`/`auto-generated`, not as part of `regenerated`.
fn generated_word(text: &[u8]) -> bool {
    memchr::memmem::find_iter(text, b"generated").any(|at| {
        let before = &text[..at];
        !before.last().is_some_and(u8::is_ascii_alphabetic) || before.ends_with(b"auto")
    })
}

/// How much of a file's start [`tool_signature`] reads: enough for a
/// license header before Go's marker.
const HEADER_LEN: usize = 4096;

/// The encoding a byte order mark at the start of `content` names, if it is
/// one of UTF-16's or UTF-32's.
pub(crate) fn wide_bom(content: &[u8]) -> Option<&'static str> {
    match content {
        [0xFF, 0xFE, 0, 0, ..] => Some("UTF-32LE"),
        [0, 0, 0xFE, 0xFF, ..] => Some("UTF-32BE"),
        [0xFF, 0xFE, ..] => Some("UTF-16LE"),
        [0xFE, 0xFF, ..] => Some("UTF-16BE"),
        _ => None,
    }
}

/// The text of a file that begins with a UTF-16 or UTF-32 byte order mark
/// (as Windows tools write them) and decodes so, whole, with no NUL: the
/// text of such a file (a binary file whose first bytes happen to look
/// like a mark fails: a stray surrogate, an odd length, a zero unit).
fn wide_text(content: &[u8]) -> Option<String> {
    wide_bom(content)?;
    let text = yaml::decode(content).ok()?;
    (!text.contains('\0')).then(|| text.into_owned())
}

/// True when the content looks binary: a NUL byte among its first
/// [`BINARY_SNIFF_LEN`] bytes, as git decides; or a PDF's header, `%PDF-`,
/// or an image's signature (GIF, PNG, JPEG).
/// A PDF's bytes are its objects' (compressed streams, a cross-reference
/// table whose entries end in a blank by the format), text or not: ISO
/// 32000 asks a PDF with binary data to say so on its second line, which
/// many leave for their first NUL to show, thousands of bytes on. An image
/// has one early as a rule, but a small or damaged one need not (Symfony's
/// `test_corrupted.gif` has none). So has a FITS file (astronomy's images
/// and tables: 2,880-byte blocks of 80-column header cards with no line
/// break, `SIMPLE  =` first, then the data) and a `compress` stream
/// (`.Z`, its magic `1F 9D`), which need have no NUL that early either.
pub fn is_binary(content: &[u8]) -> bool {
    const IMAGES: [&[u8]; 6] = [b"GIF87a", b"GIF89a", b"\x89PNG\r\n\x1a\n", b"\xFF\xD8\xFF", b"SIMPLE  =", b"\x1F\x9D"];
    git_binary(content) || IMAGES.iter().any(|s| content.starts_with(s))
}

/// [`is_binary`] but for the image and data signatures: what `merge-conflict` and
/// `secrets` leave unread. A text file behind a GIF header (a PHP
/// polyglot, an upload filter's bypass) still has its keys and markers
/// read.
fn git_binary(content: &[u8]) -> bool {
    content.starts_with(b"%PDF-") || memchr::memchr(0, &content[..content.len().min(BINARY_SNIFF_LEN)]).is_some()
}

fn large_file(max_size: u64, size: u64, out: &mut Collector<'_>) {
    if size > max_size {
        out.unlocated(Severity::Error, || {
            // How much over, too: rounded, the two sizes can read the same
            // (512.0 KiB a byte over 512.0 KiB).
            let over = size - max_size;
            let over = if over == 1 { "1 byte".to_owned() } else { describe_size(over) };
            format!("file is {}, {over} over the limit of {}", describe_size(size), describe_size(max_size))
        });
    }
}

/// `600 bytes`, or `614400 bytes (600.0 KiB)` from 1 KiB on.
fn describe_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{bytes} bytes ({value:.1} {})", UNITS[unit])
}

/// Whether `text` begins with a build's substitution variable, `@name@`
/// (letters, digits, `_` and `-`): never a path or YAML, only a template's.
pub(crate) fn substitution_variable(text: &[u8]) -> bool {
    let Some(rest) = text.strip_prefix(b"@") else { return false };
    let name = rest.iter().take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')).count();
    name > 0 && rest.get(name) == Some(&b'@')
}

/// The interpreter a shebang line's rest (past `#!` and blanks) names: its
/// program's file name, or, for `env`, the first word after it that is
/// not an option or a variable (`#!/usr/bin/env -S bats --tap`: `bats`).
fn interpreter(line: &[u8]) -> &[u8] {
    let line = &line[..memchr::memchr2(b'\n', b'\r', line).unwrap_or(line.len())];
    let mut words = line.split(|b| b.is_ascii_whitespace()).filter(|w| !w.is_empty());
    let program = file_name(words.next().unwrap_or_default());
    if program != b"env" {
        return program;
    }
    words.find(|w| !w.starts_with(b"-") && !w.contains(&b'=')).map_or(b"env", file_name)
}

/// Whether a Python script is a notebook's export (`jupyter nbconvert --to
/// script`, whose template writes the shebang): a cell's `# In[1]:` marker
/// in its first 16 KiB, or its leading comments (the first 20 lines after
/// the shebang) naming the `.ipynb` it came from (statsmodels'
/// `examples/python/`, `# Autogenerated from the notebook: ols.ipynb`).
/// Documentation kept beside the notebook, not a program to run.
fn notebook_export(content: &[u8]) -> bool {
    let head = &content[..content.len().min(HEADER_LEN * 4)];
    let cell = |at: usize| head.get(at + 6).is_some_and(|b| b.is_ascii_digit() || matches!(b, b' ' | b']'));
    if memchr::memmem::find_iter(head, b"\n# In[").any(cell) {
        return true;
    }
    head.split(|&b| b == b'\n')
        .skip(1)
        .take(20)
        .take_while(|l| l.trim_ascii().is_empty() || l.trim_ascii_start().starts_with(b"#"))
        .any(|l| memchr::memmem::find(l, b".ipynb").is_some())
}

/// A `/`-separated path's last part.
fn file_name(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or(path)
}

/// Whether `content` (beginning with `#!`) is a batch job for a cluster's
/// scheduler: its directives (`#SBATCH ` for Slurm, `#PBS ` for PBS and
/// Torque, `#BSUB ` for LSF, `#$ ` for Grid Engine) in the comment lines
/// right after the interpreter line, before any command. `sbatch FILE`
/// reads the file and runs its interpreter on it: its mode is not asked.
fn batch_job(content: &[u8]) -> bool {
    let head = &content[..content.len().min(HEADER_LEN)];
    head.split(|&b| b == b'\n')
        .skip(1)
        .map(<[u8]>::trim_ascii)
        .filter(|l| !l.is_empty())
        .take_while(|l| l.starts_with(b"#"))
        .any(|l| [&b"#SBATCH "[..], b"#PBS ", b"#BSUB ", b"#$ "].iter().any(|d| l.starts_with(d)))
}

fn shebang_executable(content: &[u8], executable: bool, out: &mut Collector<'_>) {
    if executable || !content.starts_with(b"#!") {
        return;
    }
    // `#![…]` (optionally `#! [`) at the top of a Rust file is an inner
    // attribute, not an interpreter line.
    let rest = &content[2..];
    let first = rest.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        return;
    }
    // `#!@bash@/bin/bash`: a template whose `@name@` a build fills in
    // (autoconf's `AC_SUBST`, Nix's `substituteAll`, Bazel's
    // `expand_template`), installing the result with its own mode.
    let blanks = rest.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    if substitution_variable(&rest[blanks..]) {
        return;
    }
    // An interpreter named by a bare word, no path (`#!powershell`,
    // Ansible's marker for its Windows modules): the kernel would look for
    // it in the directory it is run from, which no script means.
    let word = rest[blanks..].split(|b| b.is_ascii_whitespace()).next().unwrap_or_default();
    if !word.is_empty() && !word.contains(&b'/') {
        return;
    }
    // A test file for a runner that is given the files (`bats test/`,
    // `zunit`), which wants the line for itself (ZUnit runs no file
    // without it), not for the kernel.
    if matches!(interpreter(&rest[blanks..]), b"bats" | b"zunit") {
        return;
    }
    // An OpenRC service script (`#!/sbin/openrc-run`), which is installed
    // into `/etc/init.d` with its own mode and run only by OpenRC there.
    if interpreter(&rest[blanks..]) == b"openrc-run" {
        return;
    }
    if interpreter(&rest[blanks..]).starts_with(b"python") && notebook_export(content) {
        return;
    }
    if batch_job(content) {
        return;
    }
    // An Ansible module: Ansible copies it to the target and runs its
    // interpreter on it, and its own sanity test wants it not executable.
    // Told by what only a module has (an inventory script imports
    // `ansible.module_utils` too, and is run directly): a call of
    // `AnsibleModule(`, or the documentation block every module opens
    // with, naming it (`module: apache2_mod_proxy`; a module built on a
    // helper class, or one whose call comes after 16 KiB of docs).
    let head = &content[..content.len().min(HEADER_LEN * 4)];
    let has = |what: &[u8]| memchr::memmem::find(head, what).is_some();
    if has(b"AnsibleModule(")
        || has(b"#Requires -Module Ansible.ModuleUtils")
        || has(b"#AnsibleRequires ")
        || (has(b"DOCUMENTATION") && ANSIBLE_DOCUMENTATION.iter().all(|r| r.is_match(head)))
    {
        return;
    }
    out.at(0, Severity::Error, || "has a shebang but is not executable".to_owned());
}
