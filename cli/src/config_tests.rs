use std::path::{Path, PathBuf};
use std::time::Duration;

use verdict_actors::builtin::{BuiltinKind, BuiltinSettings};

use super::*;

const ORIGIN: &str = "/proj/verdict.toml";

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new(ORIGIN))
}

fn issues(text: &str) -> Vec<ConfigIssue> {
    match parse(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => {
            assert!(!e.errors.is_empty());
            e.errors
        }
    }
}

/// 1-based number of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle:?} not in text")) + 1
}

/// Asserts `text` gives exactly one issue, for `key`, on the line containing
/// `at`, whose message contains `message`. Returns it.
fn single_issue(text: &str, key: &str, at: &str, message: &str) -> ConfigIssue {
    let errs = issues(text);
    assert_eq!(errs.len(), 1, "expected one issue, got {errs:#?}");
    let issue = errs.into_iter().next().unwrap();
    assert_eq!(issue.key, key, "{issue:#?}");
    assert_eq!(issue.line, Some(line_of(text, at)), "{issue:#?}");
    assert!(issue.column.is_some());
    assert_eq!(issue.path.as_deref(), Some(Path::new(ORIGIN)));
    assert!(issue.message.contains(message), "message {:?} lacks {message:?}", issue.message);
    issue
}

const COMMAND: &str = r#"
[validators.sc]
kind = "command"
files = ["*.sh"]
command = ["shellcheck", "--format=gcc"]
"#;

const GCC_PATTERN: &str = r"^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<severity>\w+): (?P<message>.*)$";

const FULL: &str = r#"
builtins = true

[daemon]
grace_period = "12s"
idle_timeout = "5m"
max_connections = 100
log_max_size = "10MiB"
log_keep = 3
exit_after_idle = "30m"

[cache]
enabled = false
dir = "cache-dir"
ttl = "0"
block_cache = "64MiB"
write_buffer = 1048576

[check]
exclude = ["target/**", "vendor"]
max_file_size = "128MiB"
watch = false
pre_commit = false
gitleaks = false

[defaults]
timeout = "45s"
concurrency = 3
batch_size = 32
[defaults.restart]
max_restarts = 7
window = "2m"
backoff = "20ms"
backoff_max = "4s"
reset_after = "1m"

[validators.shellcheck]
kind = "command"
enabled = true
dimension = "lint"
files = ["*.sh", "bin/*"]
exclude = ["scripts/vendor/**"]
timeout = "20s"
cache_ttl = "1h"
concurrency = 4
restart = { max_restarts = 3, window = "10s" }
command = ["shellcheck", "--format=gcc"]
mode = "batch"
batch_size = 16
parser = "regex"
pattern = '^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<severity>\w+): (?P<message>.*)$'
version = ["shellcheck", "--version"]
env = ["HOME", "SHELLCHECK_OPTS"]
max_output = "2MiB"
findings_exit_codes = [1, 3]
kill_after = "5s"

[validators.large-file]
max_size = "512KiB"

[validators.json]
enabled = false

[validators.strict-json]
kind = "json"
files = ["*.jsonc"]
dimension = "syntax"
"#;

#[test]
fn full_example_parses_with_every_value() {
    let c = parse(FULL).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.source.as_deref(), Some(Path::new(ORIGIN)));
    assert!(c.builtins);
    assert_eq!(
        c.daemon,
        DaemonSettings {
            grace_period: Duration::from_secs(12),
            idle_timeout: Duration::from_secs(300),
            max_connections: 100,
            log_max_size: 10 * 1024 * 1024,
            log_keep: 3,
            exit_after_idle: Duration::from_secs(1800),
        }
    );
    assert_eq!(
        c.cache,
        CacheSettings {
            enabled: false,
            dir: Some(PathBuf::from("/proj/cache-dir")),
            ttl: Duration::ZERO,
            block_cache: 64 * 1024 * 1024,
            write_buffer: 1_048_576,
        }
    );
    assert_eq!(
        c.check,
        CheckSettings {
            exclude: vec!["target/**".to_string(), "vendor".to_string()],
            max_file_size: 128 * 1024 * 1024,
            watch: false,
            pre_commit: false,
            gitleaks: false,
        }
    );
    let restart = RestartPolicy {
        max_restarts: 7,
        window: Duration::from_secs(120),
        backoff: Duration::from_millis(20),
        backoff_max: Duration::from_secs(4),
        reset_after: Duration::from_secs(60),
    };
    assert_eq!(
        c.defaults,
        ValidatorDefaults { timeout: Duration::from_secs(45), concurrency: 3, batch_size: 32, restart }
    );

    let sc = c.validator("shellcheck").expect("shellcheck");
    assert_eq!(
        sc,
        ValidatorConfig {
            name: "shellcheck".into(),
            kind: ValidatorKind::Command(CommandConfig {
                command: vec!["shellcheck".into(), "--format=gcc".into()],
                mode: CommandMode::Batch,
                batch_size: 16,
                parser: ParserKind::Regex,
                pattern: Some(GCC_PATTERN.into()),
                version: Some(vec!["shellcheck".into(), "--version".into()]),
                env: vec!["HOME".into(), "SHELLCHECK_OPTS".into()],
                max_output: 2 * 1024 * 1024,
                findings_exit_codes: Some(vec![1, 3]),
                kill_after: Duration::from_secs(5),
            }),
            enabled: true,
            dimension: "lint".into(),
            files: vec!["*.sh".into(), "bin/*".into()],
            exclude: vec!["scripts/vendor/**".into()],
            timeout: Duration::from_secs(20),
            cache_ttl: Duration::from_secs(3600),
            concurrency: 4,
            batch_size: 16,
            // Field by field over [defaults.restart].
            restart: RestartPolicy { max_restarts: 3, window: Duration::from_secs(10), ..restart },
            max_size_set: false,
            project_scope: None,
        }
    );

    // A table named after a built-in overrides it without naming the kind.
    let lf = c.validator("large-file").expect("large-file");
    match &lf.kind {
        ValidatorKind::Builtin { kind, settings } => {
            assert_eq!(*kind, BuiltinKind::from_name("large-file").unwrap());
            assert_eq!(settings.max_size, 512 * 1024);
        }
        other => panic!("{other:?}"),
    }
    // Unset fields come from [defaults] and [cache], files from the built-in.
    assert_eq!(lf.timeout, Duration::from_secs(45));
    assert_eq!(lf.concurrency, 3);
    assert_eq!(lf.cache_ttl, Duration::ZERO);
    assert_eq!(lf.restart, restart);
    let lf_kind = BuiltinKind::from_name("large-file").unwrap();
    assert_eq!(lf.files, lf_kind.default_files().iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(lf.dimension, lf_kind.default_dimension());

    // A second instance of a built-in under another name.
    let sj = c.validator("strict-json").expect("strict-json");
    assert_eq!(sj.kind.name(), "json");
    assert_eq!(sj.files, vec!["*.jsonc".to_string()]);
    assert_eq!(sj.dimension, "syntax");

    // Disabled: not effective, but listed by all_validators().
    assert!(c.validator("json").is_none());
    let json = c.all_validators().into_iter().find(|v| v.name == "json").expect("json listed");
    assert!(!json.enabled);

    // Effective list: every other built-in plus the user's, sorted by name.
    let names: Vec<String> = c.validators().into_iter().map(|v| v.name).collect();
    let mut expected: Vec<String> = BuiltinKind::ALL
        .iter()
        .map(|k| k.name().to_string())
        .filter(|n| n != "json")
        .chain(["shellcheck".to_string(), "strict-json".to_string()])
        .collect();
    expected.sort();
    assert_eq!(names, expected);
}

#[test]
fn defaults_without_a_file() {
    let c = Config::default();
    assert!(c.builtins);
    assert_eq!(c.source, None);
    assert_eq!(c.daemon.grace_period, Duration::from_secs(10));
    assert_eq!(c.daemon.idle_timeout, Duration::from_secs(300));
    assert_eq!(c.daemon.max_connections, 256);
    assert_eq!(c.daemon.log_max_size, 10 * 1024 * 1024);
    assert_eq!(c.daemon.log_keep, 5);
    assert!(c.cache.enabled);
    assert_eq!(c.cache.dir, None);
    assert_eq!(c.cache.ttl, Duration::from_secs(24 * 3600));
    assert_eq!(c.cache.block_cache, 32 * 1024 * 1024);
    assert_eq!(c.cache.write_buffer, 4 * 1024 * 1024);
    assert!(c.check.exclude.is_empty());
    assert_eq!(c.check.max_file_size, 256 * 1024 * 1024);
    assert_eq!(c.defaults.timeout, Duration::from_secs(30));
    assert_eq!(c.defaults.concurrency, std::thread::available_parallelism().map_or(1, |n| n.get()));
    assert_eq!(c.defaults.batch_size, 64);
    assert_eq!(
        c.defaults.restart,
        RestartPolicy {
            max_restarts: 5,
            window: Duration::from_secs(60),
            backoff: Duration::from_millis(10),
            backoff_max: Duration::from_secs(5),
            reset_after: Duration::from_secs(30),
        }
    );

    let vs = c.validators();
    assert_eq!(vs.len(), BuiltinKind::ALL.len());
    assert!(vs.windows(2).all(|w| w[0].name < w[1].name), "sorted by name");
    for v in &vs {
        let ValidatorKind::Builtin { kind, settings } = &v.kind else { panic!("{v:?}") };
        assert_eq!(v.name, kind.name());
        assert_eq!(settings.max_size, BuiltinSettings::default().max_size);
        assert_eq!(v.dimension, kind.default_dimension());
        assert_eq!(v.files.len(), kind.default_files().len());
        assert_eq!(v.exclude.len(), kind.default_exclude().len());
        assert!(v.enabled);
        assert_eq!(v.timeout, Duration::from_secs(30));
    }

    // An empty file means the same as no file.
    let empty = parse("").unwrap();
    assert_eq!(Config { source: None, ..empty }, c);
}

#[test]
fn json_leaves_the_files_written_with_comments_to_jsonc() {
    let c = Config::default();
    let json = c.validator("json").unwrap().file_filter().unwrap();
    let jsonc = c.validator("jsonc").unwrap().file_filter().unwrap();
    for path in [
        "tsconfig.json",
        "web/tsconfig.build.json",
        "tsconfig-base.json",
        "tests/no_modules.tsconfig.json",
        "typedoc.json",
        "jsconfig.json",
        ".vscode/settings.json",
        "app/.vscode/launch.json",
        ".devcontainer/devcontainer.json",
        ".devcontainer.json",
        "pkg/.eslintrc.json",
    ] {
        assert!(!json.is_match(path) && jsonc.is_match(path), "{path}");
    }
    for path in ["package.json", "data/tsconfig.json.bak", "vscode/settings.json", ".vscode/sub/x.json"] {
        assert!(!jsonc.is_match(path), "{path}");
    }
    assert!(json.is_match("package.json") && json.is_match(".vscode/sub/x.json"));
    assert!(jsonc.is_match("x.jsonc") && jsonc.is_match("my.code-workspace"));
    // A table of its own keeps the default exclusions unless it sets some.
    let c = parse("[validators.json]\ntimeout = \"5s\"\n").unwrap();
    assert!(!c.validator("json").unwrap().file_filter().unwrap().is_match("tsconfig.json"));
    let c = parse("[validators.json]\nexclude = []\n").unwrap();
    assert!(c.validator("json").unwrap().file_filter().unwrap().is_match("tsconfig.json"));
    // Another validator of the json kind has no default exclusions.
    let c = parse("[validators.strict]\nkind = \"json\"\nfiles = [\"tsconfig.json\"]\n").unwrap();
    let strict = c.validator("strict").unwrap();
    assert!(strict.exclude.is_empty());
    assert!(strict.file_filter().unwrap().is_match("tsconfig.json"));
}

#[test]
fn built_ins_leave_out_what_they_would_misjudge_by_default() {
    let c = Config::default();
    let filter = |name: &str| c.validator(name).unwrap().file_filter().unwrap();
    // A project template's files are JSON, TOML or YAML once rendered.
    for (name, file) in
        [("yaml", "ci.yml"), ("json", "package.json"), ("jsonc", "tsconfig.json"), ("toml", "pyproject.toml")]
    {
        let f = filter(name);
        assert!(f.is_match(file) && f.is_match(format!("a/{{x}}/{file}")), "{name}");
        for dir in ["{{cookiecutter.project_slug}}", "t/{{ cookiecutter.name }}/sub", "x{{a}}y"] {
            assert!(!f.is_match(format!("{dir}/{file}")), "{name}: {dir}/{file}");
        }
    }
    // Markdown has its own trailing-whitespace check; patches hold other
    // files' lines.
    let (tw, md, mle) =
        (filter("trailing-whitespace"), filter("markdown-trailing-whitespace"), filter("mixed-line-endings"));
    for file in ["README.md", "docs/a.markdown", "x.mdx"] {
        assert!(!tw.is_match(file) && md.is_match(file), "{file}");
    }
    for file in ["debian/patches/fix.patch", "a.diff"] {
        assert!(!tw.is_match(file) && !mle.is_match(file) && !md.is_match(file), "{file}");
    }
    assert!(tw.is_match("notes.txt") && mle.is_match("notes.txt") && !md.is_match("notes.txt"));
    assert!(!tw.is_match("src/__snapshots__/frame.spec.ts.snap"), "a snapshot's lines are a test's output");
    // So are golden files' and expected outputs', byte for byte.
    let (fnl, shebang) = (filter("final-newline"), filter("shebang-executable"));
    for file in [
        "a/b.golden",
        "tests/launchd/expected-agent.plist",
        "out/parse-expected.json",
        "errors/x.expected",
        "Tests/ExampleTests/Snapshots/testMath.bash",
        "Sources/Tests/Unit/Snapshots/a.json",
        "Tests/__Snapshots__/View/a.txt",
        "docs/__snapshots__/README.md",
        "tests/testthat/_snaps/summarise.md",
        "test/expected/bit.out",
        "vlib/v/checker/tests/mut_arg.out",
        "tests/roots/test-latex-table/expects/longtable.tex",
        "tests/cli-tests/compression/basic.sh.stderr.exact",
        "tests/cli-tests/basic/help.sh.stdout.glob",
        "tests/data/miscellaneous/debug_visitor.out",
        "DependencyInjection/Tests/Fixtures/config/defaults.expected.yml",
        "codemod/__testfixtures__/rename.expected.ts",
    ] {
        for f in [&tw, &md, &mle, &fnl, &shebang] {
            assert!(!f.is_match(file), "{file}");
        }
    }
    // Go's test data, and others' by its other names, but for a script's
    // mode (a test may run it).
    for file in [
        "pkg/testdata/report.txt",
        "testdata/notes.md",
        "x/testdata/run.sh",
        "crates/ide/src/syntax_highlighting/test_data/highlight_asm.html",
        "compiler/testData/codegen/box/arrays/arrayInstanceOf.kt",
        "test/blackbox/x.t/dune-project",
        "test/rebar_compile_SUITE_data/foo.erl",
    ] {
        assert!(!tw.is_match(file) && !md.is_match(file) && !mle.is_match(file) && !fnl.is_match(file), "{file}");
    }
    assert!(shebang.is_match("x/testdata/run.sh"));
    // Their encoding and syntax are the test's too; a key there is a key.
    let (utf8, secrets) = (filter("utf8"), filter("secrets"));
    let syntax = [filter("json"), filter("jsonc"), filter("toml"), filter("yaml")];
    for file in ["hugolib/testdata/fakejson.json", "snappy/testdata/paper-100k.pdf", "p/test_data/bad.yaml", "t/x.toml"]
    {
        let in_test_data = !file.starts_with("t/");
        assert_eq!(utf8.is_match(file), !in_test_data, "{file}");
        assert!(secrets.is_match(file), "{file}");
    }
    assert!(syntax.iter().all(|f| !f.is_match("hugolib/testdata/fakejson.json") && !f.is_match("p/test_data/a.yaml")));
    assert!(filter("toml").is_match("t/x.toml") && filter("yaml").is_match("src/a.yaml"));
    // Source files whose names hold the word, and a `Snapshots/` of code.
    for file in [
        "src/unexpected.rs",
        "expectations.txt",
        "src/expected.rs",
        "testdata.rs",
        "src/test_data.rs",
        "tests/test_data_loader.py",
        "src/testDataBuilder.ts",
        // Other spellings name code as often as data: a test crate, a .NET
        // test project.
        "test-data/src/lib.rs",
        "Skyline/TestData/AdductTest.cs",
        "snapshots/a.txt",
        "py/selenium/webdriver/support/expected_conditions.py",
        "pypfopt/expected_returns.py",
        "src/error/expected_found.rs",
        "spec/support/is_expected.rb",
        "Source/EventFlow/Snapshots/SnapshotStore.cs",
        // Output outside a directory of tests: someone's.
        "bench/results.out",
    ] {
        for f in [&tw, &mle, &fnl] {
            assert!(f.is_match(file), "{file}");
        }
        // (No text file is run.)
        assert_eq!(shebang.is_match(file), !file.ends_with(".txt"), "{file}");
    }
    assert!(md.is_match("guide.cheatmd") && !tw.is_match("guide.cheatmd"));
    // IDEs' files, written again at each save.
    for file in [
        ".idea/misc.xml",
        "sub/.idea/codeStyles/Project.xml",
        "Assets/Foo.asmdef",
        "Assets/Bar.asmref",
        ".vscode/settings.json",
        "web/.vscode/launch.json",
    ] {
        assert!(!fnl.is_match(file) && tw.is_match(file), "{file}");
    }
    // A schema a project keeps below `.vscode/` is its own.
    assert!(fnl.is_match(".vscode/schemas/haxe.json"));
    // RTF and licensed's cache keep their layout.
    for file in ["Resources/en.lproj/welcome.rtf", ".licenses/npm/@actions/core.dep.yml"] {
        assert!(!tw.is_match(file) && !fnl.is_match(file) && !mle.is_match(file), "{file}");
    }
    assert!(!fnl.is_match("sw/example/eclipse/.cproject"));
    // Written whole by tools, with no comment to say so: final-newline
    // only (their other lines are still the tools' to get right).
    for file in [
        ".run/spotlessApply.run.xml",
        "app/.run/test.run.xml",
        "gen/Expr.interp",
        "db/structure.sql",
        "db/animals_structure.sql",
        "prisma/migrations/migration_lock.toml",
        "app/google-services.json",
        "ios/firebase_app_id_file.json",
        "wwwroot/lib/jquery/.bower.json",
        "src/packages.lock.json",
        "Example/Images.xcassets/Contents.json",
        "ios/Runner/Assets.xcassets/AppIcon.appiconset/Contents.json",
        "app/src/main/res/mipmap-anydpi-v26/ic_launcher.xml",
        "app/src/main/res/mipmap-anydpi/ic_launcher_round.xml",
    ] {
        assert!(!fnl.is_match(file) && tw.is_match(file), "{file}");
    }
    assert!(!fnl.is_match("ios/Runner/Assets.xcassets/LaunchImage.imageset/README.md"));
    for file in [
        "website/1.x/retrofit/META-INF/MANIFEST.MF",
        "coil-core/src/androidMain/generated/baselineProfiles/baseline-prof.txt",
        "UWP/project.lock.json",
    ] {
        assert!(!fnl.is_match(file) && tw.is_match(file), "{file}");
    }
    assert!(!filter("large-file").is_match("UWP/project.lock.json"));
    assert!(fnl.is_match("app/src/main/baseline-prof.txt") && fnl.is_match("MANIFEST.MF"));
    assert!(!fnl.is_match("docs/CNAME") && tw.is_match("docs/CNAME"));
    // PHPUnit's expected outputs; the dev containers' copied scripts.
    for file in [
        "tests/unit/TextUI/Output/Compact/expectations/progress/failed_test.txt",
        ".devcontainer/library-scripts/common-debian.sh",
    ] {
        assert!(!tw.is_match(file) && !fnl.is_match(file) && !shebang.is_match(file), "{file}");
    }
    assert!(fnl.is_match("src/expectations/Matcher.php") && fnl.is_match(".devcontainer/post-create.sh"));
    let rcp = "Packages/RealityKitContent/Package.realitycomposerpro/ProjectData/main.json";
    assert!(!fnl.is_match(rcp) && tw.is_match(rcp));
    // .NET tools' files keep the tools' layout: ReSharper's settings, the
    // designers' models, BenchmarkDotNet's reports.
    for file in [
        "Dapper.sln.DotSettings",
        "src/Model.edmx",
        "src/Northwind.dbml",
        "src/Northwind.dbml.layout",
        "bench/BenchmarkDotNet.Artifacts/results/Polly.Bench-report.csv",
        "results/net8.0/Serilog.Bench-report-github.md",
    ] {
        assert!(!tw.is_match(file) && !fnl.is_match(file) && !mle.is_match(file) && !md.is_match(file), "{file}");
    }
    assert!(md.is_match("docs/report.md") && md.is_match("github-report.md"));
    // Saved responses below a directory of tests or a .NET test project;
    // a `TestData/` of code elsewhere, and the code beside them, stay.
    for file in [
        "test/RestSharp.Tests/SampleData/Goodreads.xml",
        "src/Foo.Tests/TestData/a.json",
        "Src/Newtonsoft.Json.UnitTests/SampleData/b.txt",
    ] {
        assert!(!tw.is_match(file) && !fnl.is_match(file) && !filter("json").is_match(file), "{file}");
    }
    for file in ["test/RestSharp.Tests.Serializers.Json/SampleData.cs", "Skyline/TestData/AdductTest.cs"] {
        assert!(tw.is_match(file) && fnl.is_match(file), "{file}");
    }
    // A Mason brick's templates end as the file they render.
    for file in ["bricks/bloc/__brick__/{{name.snakeCase()}}_bloc.dart", "b/__brick__/{{~ bloc_builder }}"] {
        assert!(!fnl.is_match(file) && tw.is_match(file), "{file}");
    }
    assert!(!filter("json").is_match("bricks/app/__brick__/pubspec.json"));
    assert!(fnl.is_match("bricks/bloc/brick.yaml") && filter("yaml").is_match("bricks/bloc/brick.yaml"));
    // JSONTestSuite's corpus: syntax and encoding are the test's.
    let json = filter("json");
    for file in [
        "tests/JSONTestSuite/test_parsing/n_array_invalid_utf8.json",
        "tests/JSONTestSuite/test_parsing/i_string_iso_latin_1.json",
        "tests/JSONTestSuite/test_parsing/y_object_duplicated_key.json",
        "tests/JSONTestSuite/test_transform/string_1_invalid_codepoint.json",
    ] {
        assert!(!json.is_match(file) && !utf8.is_match(file) && secrets.is_match(file), "{file}");
    }
    assert!(json.is_match("tests/test_parsing/config.json") && json.is_match("n_items.json"));
    // revdepcheck's reports, testthat's nested snapshots, golden
    // directories below a directory of tests.
    for file in [
        "revdep/README.md",
        "revdep/problems.md",
        "pkg/revdep/cran.md",
        "tests/testthat/test-snapshot/_snaps/snapshot.md",
        ".inline-snapshot/external/173417d5e2aad469b71d.bin",
        "tests/unit/plugins/modules/interfaces_file/interfaces_file_fixtures/golden_output/servers.com",
        "test/cli/golden/help.txt",
    ] {
        assert!(!tw.is_match(file) && !md.is_match(file) && !fnl.is_match(file), "{file}");
    }
    for file in ["revdep/notes.md", "docs/revdep/README.md.txt", "golden/golden.go", "internal/golden/file.go"] {
        assert!(fnl.is_match(file), "{file}");
    }
    // A Minecraft mod's data generators' output; a project's own
    // `src/generated/` code, and the mod's hand-written resources.
    for file in [
        "fabric-convention-tags-v2/src/generated/resources/data/c/tags/item/foods/berry.json",
        "fabric-data-generation-api-v1/src/testmod/generated/assets/x/lang/en_us.json",
        "src/main/generated/data/mod/recipe/a.json",
        "forge/src/generated/data/mod/loot_table/b.json",
    ] {
        assert!(!tw.is_match(file) && !fnl.is_match(file) && !mle.is_match(file), "{file}");
    }
    for file in ["src/generated/parser.ts", "src/main/resources/data/mod/recipe/a.json", "src/main/generated/Api.java"]
    {
        assert!(fnl.is_match(file), "{file}");
    }
    // Beside them, by hand.
    for file in ["docs/Contents.json", "app/src/main/res/drawable/ic_logo.xml"] {
        assert!(fnl.is_match(file), "{file}");
    }
    // Prisma's applied migrations are checksummed: their layout is fixed.
    let prisma = "packages/prisma/migrations/20240205120648_create_account/migration.sql";
    assert!(!tw.is_match(prisma) && !fnl.is_match(prisma) && !mle.is_match(prisma));
    assert!(tw.is_match("db/migrations/migration.sql") && tw.is_match("migrations/init/migration.sql"));
    // Hand-written neighbours.
    for file in
        ["run/job.xml", "db/seeds.sql", "db/migrate/structure.sql.rb", "migrations/0001_init.sql", "services.json"]
    {
        assert!(fnl.is_match(file), "{file}");
    }
    // Scripts a build installs with its own mode.
    for file in [
        "debian/postinst",
        "debian/mypkg.postrm",
        "pkg/debian/mypkg.init",
        "debian/bug-script",
        "vendor/relx/priv/templates/bin",
        "src/hash/stdlib_hash_32bit.fypp",
        // Python another program runs: `python -m`, Sphinx.
        "pylint/__main__.py",
        "docs/conf.py",
        "doc/source/conf.py",
        "sub/docs/conf.py",
        // Pelican's settings; repo2docker's set-up scripts.
        "pelicanconf.py",
        "website/publishconf.py",
        "postBuild",
        "binder/postBuild",
        ".binder/start",
        // Sourced: zsh plugins and themes, l3build's settings.
        "plugins/git/git.plugin.zsh",
        "themes/robbyrussell.zsh-theme",
        "build.lua",
        "l3kernel/build.lua",
    ] {
        assert!(!shebang.is_match(file), "{file}");
    }
    for file in [
        "debian/rules",
        "scripts/postinst.sh",
        "priv/run.sh",
        "conf.py",
        "tools/conf.py",
        "main.py",
        "tools/postBuild",
        "start",
        "bin/start",
    ] {
        assert!(shebang.is_match(file), "{file}");
    }
    assert!(shebang.is_match("plugins/git/git.zsh") && shebang.is_match("build.lua.sh"));
    // Patches are applied, not run (dpatch's header in termux's); dpatch's
    // own files are run.
    for file in ["packages/tsocks/01_symbols.patch", "fix.diff"] {
        assert!(!shebang.is_match(file), "{file}");
    }
    assert!(shebang.is_match("debian/patches/01_fix.dpatch"));
    // Jenkins reads its pipelines.
    for file in ["Jenkinsfile", "ci/Jenkinsfile.release", "deploy.Jenkinsfile"] {
        assert!(!shebang.is_match(file), "{file}");
    }
    assert!(shebang.is_match("jenkins/run.groovy") && shebang.is_match("JenkinsfileTool.sh"));
    // Text, and dh_make's examples, are not run.
    for file in ["quantum/bb84.py.DISABLED.txt", "debian/postinst.ex", "pkg/debian/init.d.EX"] {
        assert!(!shebang.is_match(file), "{file}");
    }
    assert!(shebang.is_match("debian/rules.ext") && shebang.is_match("scripts/run.ex"));
    // Tests' data right below a directory of tests; a `data/` elsewhere is
    // the project's.
    for file in ["modules/pt/tests/data/ok/peg_cparam-tea/3_peg_itself", "geopandas/tests/data/null_geom.geojson"] {
        assert!(!tw.is_match(file) && !fnl.is_match(file) && !utf8.is_match(file), "{file}");
        assert!(shebang.is_match(file) && secrets.is_match(file), "{file}");
    }
    for file in ["data/x.txt", "src/data/x.txt", "tests/unit/data/x.txt", "tests/dataset/x.txt"] {
        assert!(tw.is_match(file) && fnl.is_match(file), "{file}");
    }
    // Android's translations, in a directory qualified by a language (not
    // by a night mode or an API level); what Xcode and Android Studio write.
    for file in [
        "app/src/main/res/values-de/strings.xml",
        "app/src/main/res/values-pt-rBR/strings.xml",
        "res/values-b+sr+Latn/strings.xml",
        "Model.xcdatamodeld/Model.xcdatamodel/contents",
        "AppIcon.icon/icon.json",
        "Localizable.xcstrings",
        "app/src/main/res/drawable/ic_launcher_background.xml",
        "res/values/ic_launcher_background.xml",
    ] {
        assert!(!fnl.is_match(file), "{file}");
    }
    for file in
        ["res/values/strings.xml", "res/values-night/colors.xml", "res/values-v21/styles.xml", "res/values-car/x.xml"]
    {
        assert!(fnl.is_match(file), "{file}");
    }
    let large = filter("large-file");
    assert!(!large.is_match("Localizable.xcstrings") && tw.is_match("res/values-de/strings.xml"));
    // Expected outputs in an `expected` directory below a directory of tests.
    for file in ["test/subset/data/expected/a.ttf", "src/test/resources/mng-6656/expected/pom.xml"] {
        assert!(!fnl.is_match(file) && !large.is_match(file), "{file}");
    }
    assert!(fnl.is_match("docs/expected/a.md") && fnl.is_match("expected/a.txt"));
    // A mailbox by its other name; a user's Visual Studio settings.
    assert!(!utf8.is_match("email_data/tea_party.mbx") && !fnl.is_match("cobc.vcxproj.user"));
    // Licence texts as published, in a directory of them (REUSE's, a Yocto
    // layer's); a licence file elsewhere, and a directory named for one, are
    // judged.
    for file in ["LICENSES/MIT.txt", "LICENSES/GPL-2.0-only.txt", "meta-oe/licenses/HDF5", "pkg/licenses/SSPL-1"] {
        assert!(!tw.is_match(file) && !fnl.is_match(file) && utf8.is_match(file), "{file}");
    }
    for file in ["LICENSE", "docs/LICENSE.md", "src/licenses.rs", "licence/x.txt"] {
        assert!(tw.is_match(file) || md.is_match(file), "{file}");
        assert!(fnl.is_match(file), "{file}");
    }
    // Files named for another encoding keep their bytes from `utf8`, and
    // only from it.
    let utf8 = filter("utf8");
    for file in [
        "templates/encoding.koi8-r.ep",
        "t/mojo/exception/non_utf8.txt",
        "tests/data/latin1.txt",
        "test/sql/copy/csv/data/test/sjis_test.csv",
        "docs/ISO-8859-1.html",
        "enc/cp1252.txt",
    ] {
        assert!(!utf8.is_match(file) && filter("secrets").is_match(file), "{file}");
    }
    // A directory so named, or a name with no extension after the word.
    for file in ["src/utf8.rs", "tests/input/latin.txt", "cp1259.txt", "notes/encoding.md", "big5/readme.txt", "latin1"]
    {
        assert!(utf8.is_match(file), "{file}");
    }
    // oxlint's configuration holds comments; Foundry writes its gas
    // snapshot without a last line break.
    for file in [".oxlintrc.json", "tslint.json", "api-extractor.json", "syntaxes/language-configuration.json"] {
        assert!(filter("jsonc").is_match(file) && !filter("json").is_match(file), "{file}");
    }
    // A test's fixtures are read, not run; scripts beside them are.
    for file in ["test/fixtures/Shell/ash-env", "packages/x/test/fixtures/interpreter/input.js", "spec/fixture/run"] {
        assert!(!shebang.is_match(file), "{file}");
    }
    for file in ["test/run.sh", "fixtures/setup.sh", "tests/helpers/fixture.sh"] {
        assert!(shebang.is_match(file), "{file}");
    }
    assert!(!fnl.is_match(".gas-snapshot") && !fnl.is_match("contracts/.gas-snapshot") && fnl.is_match("gas.txt"));
    // Transifex's client writes its configuration.
    assert!(!fnl.is_match(".tx/config") && !fnl.is_match("po/.tx/config") && fnl.is_match("tx/config"));
    // A macOS bundle's type and creator, eight bytes.
    assert!(!fnl.is_match("TestGUI.app.in/Contents/PkgInfo") && fnl.is_match("PkgInfo.txt"));
    // A Perl test file is no cram test directory.
    assert!(tw.is_match("t/basic.t") && fnl.is_match("t/basic.t"));
    // Lock files are as large as what they pin; a committed Yarn release
    // as large as Yarn.
    let large = filter("large-file");
    assert!(large.is_match("big.bin") && large.is_match("package.json"));
    for file in [
        "package-lock.json",
        "web/yarn.lock",
        "uv.lock",
        "Cargo.lock",
        "go.sum",
        "a/b/pnpm-lock.yaml",
        ".yarn/releases/yarn-4.12.0.cjs",
        "web/.yarn/releases/yarn-1.22.19.js",
    ] {
        assert!(!large.is_match(file), "{file}");
    }
    assert!(large.is_match(".yarn/cache/lodash.zip") && large.is_match("releases/yarn.cjs"));
    // A changelog grows with each release, on purpose.
    for file in [
        "CHANGELOG.md",
        "packages/astro/CHANGELOG.md",
        "changelog.md",
        "NEWS",
        "HISTORY.rst",
        "CHANGES.txt",
        "CHANGELOG-old.md",
        "docs/xml/nginx/changes.xml",
        "debian/changelog",
    ] {
        assert!(!large.is_match(file), "{file}");
    }
    // Not a directory of them, nor other kinds of files so named.
    for file in ["docs/releases.md", "src/changes.rs", "docs/changelog/img/demo.gif", "CHANGES-video.mp4", "changelog"]
    {
        assert!(large.is_match(file), "{file}");
    }
    // Fuzzers' inputs are test data; a fuzzing directory's harness is code.
    for file in [
        "fuzz/corpus/parse/seed1",
        "test/ossfuzz/cases/clusterfuzz-test-5073040",
        "oss-fuzz/seeds/a.json",
        "tests/fuzzing/crashes/crash-1",
    ] {
        assert!(!tw.is_match(file) && !utf8.is_match(file) && shebang.is_match(file), "{file}");
    }
    for file in ["fuzz/fuzz_targets/parse.rs", "fuzz/Cargo.toml", "corpus/a.txt", "fuzzy-search/seeds/a.yml"] {
        assert!(tw.is_match(file), "{file}");
    }
    // A test's input made not to parse is not judged by the syntax checks;
    // the same names elsewhere are, and so is a test's well-named input.
    let syntax = [filter("json"), filter("jsonc"), filter("toml"), filter("yaml")];
    for file in [
        "test/fixtures/errors/invalid-json/babel.config.json",
        "tests/integration/cli/config/invalid/broken-yaml/.prettierrc.yaml",
        "test/fixture/node_modules/json-error/package.json",
        "tests/malformed.toml",
        "spec/parse_errors/a.yml",
        "tests/invalidConfig.json",
        "test/broken.yaml",
    ] {
        assert!(syntax.iter().all(|f| !f.is_match(file)), "{file}");
    }
    for file in [
        "config/invalid.json",
        "tests/fixtures/valid.json",
        "tests/error.json",
        "tests/errors/a.yaml",
        "test/hotCases/invalidate/conditional-accept/data.json",
        "tests/brokenness.toml",
    ] {
        assert!(syntax.iter().any(|f| f.is_match(file)), "{file}");
    }
    // Patches carry the bytes of the files they change.
    assert!(!filter("utf8").is_match("runtime/spell/de/de_DE.diff") && !filter("utf8").is_match("a.patch"));
    // Harness-written expected output, and captured output.
    for file in [
        "tests/snapshot/samples/a/_expected/client/index.svelte.js",
        "samples/b/_expected.html",
        "test/form/samples/c/_expected.js",
        "tests/ui/x.stderr",
        "t/out.stdout",
        "docs/examples/to_bson.output",
        "mysql-test/r/select.result",
        "regress/cursor-test1.result",
        "tests/testsuite/cargo_help/normal/stdout.term.txt",
        "tests/testsuite/cargo_add/x/stderr.term.svg",
        "googletest/test/googletest-output-test-golden-lin.txt",
        "googlemock/test/gmock_output_test_golden.txt",
        "tests/SelfTest/Baselines/console.sw.approved.txt",
        "src/Api.Tests/PublicApi.approved.txt",
        "tests/Snapshots/Test.Run.verified.json",
        "ios/Pods/Target Support Files/Pods-app/Pods-app-umbrella.h",
    ] {
        assert!(!tw.is_match(file) && !fnl.is_match(file) && !mle.is_match(file), "{file}");
    }
    for file in [
        "sklearn/metrics/_expected_mutual_info_fast.pyx",
        "services/docs/_expected_tools.py",
        "tests/_expected.py",
        "tools/update_golden.py",
        "internal/render/golden_test.go",
    ] {
        assert!(tw.is_match(file) && fnl.is_match(file), "{file}");
    }
    // OpenSSL's PEM files: their blanks are OpenSSL's; a key is a key.
    for file in ["src/test/resources/ssl/test-key.pem", "certs/ca.crt"] {
        assert!(!tw.is_match(file) && fnl.is_match(file) && filter("secrets").is_match(file), "{file}");
    }
    // VS Code's and Theia's launch configurations, wherever kept.
    let (json, jsonc) = (filter("json"), filter("jsonc"));
    for file in
        ["docs/debugging/launch.json", ".theia/launch.json", "launch.json", "e2e/x/jest.config.json", ".mocharc.json"]
    {
        assert!(!json.is_match(file) && jsonc.is_match(file), "{file}");
    }
    // What tools write without a final newline and compare or rewrite.
    for file in [
        ".devcontainer/devcontainer-lock.json",
        ".devcontainer-lock.json",
        "docs/architecture.excalidraw",
        "x.excalidrawlib",
        "docs/architecture.drawio",
        "a.dio",
    ] {
        assert!(!fnl.is_match(file) && tw.is_match(file), "{file}");
    }
    // Mail's layout is the message's: `-- `, flowed lines, CRLF.
    for file in ["t/t5100/sample.mbox", "t/t5100/sample.mboxrd", "fixtures/reply.eml"] {
        assert!(!tw.is_match(file) && !fnl.is_match(file) && !mle.is_match(file), "{file}");
        assert!(filter("secrets").is_match(file) && !filter("utf8").is_match(file), "{file}");
    }
    // So are translation catalogs, as the program's messages.
    assert!(!large.is_match("po/de.po") && !large.is_match("po/git.pot") && large.is_match("po/de.mo"));
    // And tests' expected outputs, as the output they record.
    let snapshot = "crates/uv/tests/it/snapshots/it__ecosystem__transformers-lock-file.snap";
    assert!(!large.is_match(snapshot) && !large.is_match("test/__snapshots__/Cli.basictest.js.snap"));
    assert!(!large.is_match("tests/SelfTest/Baselines/xml.sw.approved.txt"));
    assert!(large.is_match("snapshots/a.snapshot") && large.is_match("a.snap.png"));
    // Third-party code by its directory, for all but the syntax checks,
    // `secrets` and `merge-conflict`.
    let (utf8, shebang, mc) = (filter("utf8"), filter("shebang-executable"), filter("merge-conflict"));
    for file in [
        "deps/lua/src/lapi.c",
        "deps/jemalloc/test/unit/junk.sh",
        "tests/thirdparty/Fuzzer/test/SimpleTest.cpp",
        "src/third_party/abseil/README.md",
        "lib/3rdparty/x.h",
        "Source/ThirdParty/a.cs",
        "ext/third-party/y.c",
    ] {
        for f in [&tw, &fnl, &mle, &large, &utf8, &shebang] {
            assert!(!f.is_match(file), "{file}");
        }
        assert!(filter("secrets").is_match(file) && mc.is_match(file), "{file}");
    }
    for file in ["deps/Makefile", "deps/README.md", "src/deps/x/a.c", "thirdparty.c", "party/x.c"] {
        assert!(fnl.is_match(file) && large.is_match(file) && shebang.is_match(file), "{file}");
    }
    // A test's conflicted input, by its name or its directory's.
    for file in [
        "tests/Composer/Test/Json/Fixtures/composer-lock-merge-conflict-simple.txt",
        "test/configCases/asset-modules/build-http-merge-conflict/lock-files/lock.json",
        "spec/fixtures/Merge_Conflict.txt",
        "compiler-core/src/parse/snapshots/gleam_core__parse__tests__merge_conflict_gt.snap",
    ] {
        assert!(!mc.is_match(file) && filter("secrets").is_match(file), "{file}");
    }
    for file in [
        "doc/articles/resolving-merge-conflicts.md",
        "tests/conflict-a.test",
        "src/merge_conflict.rs",
        "src/snapshots/conflict.snap",
        "src/merge_conflict.snap.rs",
    ] {
        assert!(mc.is_match(file), "{file}");
    }
    // Expected outputs below a directory of tests named `expected`, and the
    // text files of a tests' fixtures directory.
    for file in [
        "spec/fixtures/markdown_formatter/expected.md",
        "packages/svelte/tests/css/samples/a/expected.css",
        "Tests/Fixtures/application_renderexception1.txt",
        "tests/Fixtures/Style/SymfonyStyle/output/output_1.txt",
    ] {
        assert!(!tw.is_match(file) && !fnl.is_match(file), "{file}");
    }
    for file in ["docs/expected.md", "src/expected.rs", "tests/fixtures/a.json", "fixtures/a.txt", "test/a.txt"] {
        assert!(tw.is_match(file) || file.ends_with(".md"), "{file}");
        assert!(fnl.is_match(file), "{file}");
    }
    // Templates' modes are set by what renders them.
    let shebang = filter("shebang-executable");
    assert!(shebang.is_match("run.sh") && !shebang.is_match("roles/x/templates/init.sh.j2"));
    assert!(!shebang.is_match("a.tpl") && !shebang.is_match("b.tmpl") && !shebang.is_match("c.jinja2"));
    for file in ["curl-config.in", "rel/migrate.sh.eex", "templates/docker-entrypoint.tt", "run.sh.erb"] {
        assert!(!shebang.is_match(file), "{file}");
    }
    // Minified files are one line; mail declares its own character sets;
    // notebooks are JSON; ASP.NET Core reads its settings with comments.
    let (fnl, utf8, json, jsonc) = (filter("final-newline"), filter("utf8"), filter("json"), filter("jsonc"));
    for file in ["web/lib/bootstrap.min.css", "app.min.js"] {
        assert!(!fnl.is_match(file) && !tw.is_match(file), "{file}");
    }
    assert!(!fnl.is_match("app.js.map") && tw.is_match("app.js.map") && fnl.is_match("app.js"));
    assert!(!utf8.is_match("fixtures/invalid_utf.eml") && !utf8.is_match("inbox.mbox") && utf8.is_match("a.txt"));
    assert!(json.is_match("analysis.ipynb") && !jsonc.is_match("analysis.ipynb"));
    // So do ASP.NET Core's settings, the .NET SDK's runtime configuration
    // template and cspell's configuration.
    for file in [
        "src/Api/appsettings.json",
        "appsettings.Development.json",
        "src/app/runtimeconfig.template.json",
        ".cspell.json",
        "cspell.config.json",
        "asv_bench/asv.conf.json",
    ] {
        assert!(jsonc.is_match(file) && !json.is_match(file), "{file}");
    }
    assert!(json.is_match("app.runtimeconfig.json"), "what the SDK writes is JSON");
}

#[test]
fn builtins_false_keeps_only_declared_tables() {
    let text = format!("builtins = false\n[validators.yaml]\nfiles = [\"*.yml\"]\n{COMMAND}");
    let c = parse(&text).unwrap();
    let names: Vec<String> = c.validators().into_iter().map(|v| v.name).collect();
    assert_eq!(names, ["sc", "yaml"]);
    assert_eq!(c.validator("yaml").unwrap().kind.name(), "yaml");
    let sc = c.validator("sc").unwrap();
    let cmd = sc.command().unwrap();
    assert_eq!(cmd.mode, CommandMode::PerFile);
    assert_eq!(cmd.parser, ParserKind::ExitCode);
    assert_eq!(cmd.max_output, DEFAULT_MAX_OUTPUT);
    assert_eq!(cmd.kill_after, verdict_actors::process::DEFAULT_KILL_AFTER);
    assert_eq!(sc.dimension, DEFAULT_COMMAND_DIMENSION);
}

#[test]
fn sizes_and_durations_accept_both_spellings() {
    let c = parse(
        "[cache]\nttl = \"0s\"\nblock_cache = 4096\nwrite_buffer = \"1.5 MiB\"\n\
         [daemon]\ngrace_period = \"0\"\nidle_timeout = \"1h 30m\"\nlog_max_size = \"20kb\"\n",
    )
    .unwrap();
    assert_eq!(c.cache.ttl, Duration::ZERO);
    assert_eq!(c.cache.block_cache, 4096);
    assert_eq!(c.cache.write_buffer, 1_572_864);
    assert_eq!(c.daemon.grace_period, Duration::ZERO);
    assert_eq!(c.daemon.idle_timeout, Duration::from_secs(5400));
    assert_eq!(c.daemon.log_max_size, 20_000);
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    // The parser's words, with people's counts.
    let said = |s: &str| parse_duration(s).unwrap_err();
    assert!(said("-1s").contains("a duration cannot be negative"), "{}", said("-1s"));
    assert!(said("x").contains("a number was expected at character 1"), "{}", said("x"));
    assert!(said("5s!").contains("invalid character at character 3"), "{}", said("5s!"));
    assert!(parse_size("ten").is_err());
}

// ---------------------------------------------------------------------------
// Invalid cases: each names its key and line.
// ---------------------------------------------------------------------------

#[test]
fn syntax_error_is_one_issue_with_position() {
    let text = "[daemon]\nlog_keep = 3\ngrace_period = \"10s\n";
    let errs = issues(text);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(errs[0].key, "");
    assert_eq!(errs[0].line, Some(3));
    assert!(errs[0].column.is_some());
    assert!(!errs[0].message.is_empty());
}

#[test]
fn empty_command() {
    let text = "[validators.sc]\nkind = \"command\"\nfiles = [\"*\"]\ncommand = []\n";
    single_issue(text, "validators.sc.command", "command = []", "must not be empty");
}

#[test]
fn an_empty_program_name_is_refused_in_command_and_version_alike() {
    let text = "[validators.sc]\nkind = \"command\"\nfiles = [\"*\"]\ncommand = [\" \", \"-x\"]\n";
    single_issue(text, "validators.sc.command", "command = [", "the program name must not be empty");
    let text = "[validators.sc]\nkind = \"command\"\nfiles = [\"*\"]\ncommand = [\"sc\"]\nversion = [\"\"]\n";
    single_issue(text, "validators.sc.version", "version = [", "the program name must not be empty");
}

/// A NUL byte no program or argument can hold: refused where it is
/// written, not found by every run failing.
#[test]
fn a_nul_byte_in_an_argv_is_refused() {
    let text = "[validators.sc]\nkind = \"command\"\nfiles = [\"*\"]\ncommand = [\"tr\\u0000ue\"]\n";
    single_issue(text, "validators.sc.command", "command = [", "holds a NUL byte");
    let text = "[validators.sc]\nkind = \"command\"\nfiles = [\"*\"]\ncommand = [\"true\",\n  \"a\\u0000b\"]\n";
    single_issue(text, "validators.sc.command", "a\\u0000b", "holds a NUL byte");
    let text = "[validators.sc]\nkind = \"command\"\nfiles = [\"*\"]\ncommand = [\"sc\"]\nversion = [\"x\\u0000\"]\n";
    single_issue(text, "validators.sc.version", "version = [", "holds a NUL byte");
}

#[test]
fn command_as_a_string_is_refused() {
    let text = "[validators.sc]\nkind = \"command\"\nfiles = [\"*\"]\ncommand = \"shellcheck -f gcc\"\n";
    single_issue(text, "validators.sc.command", "command = \"", "never run through a shell");
}

#[test]
fn missing_command() {
    let text = "\n[validators.sc]\nkind = \"command\"\nfiles = [\"*\"]\n";
    single_issue(text, "validators.sc.command", "[validators.sc]", "missing");
}

#[test]
fn invalid_regex_shows_the_regex_message() {
    let text = format!("{COMMAND}parser = \"regex\"\npattern = '(?P<file>[^:]+'\n");
    let issue = single_issue(&text, "validators.sc.pattern", "pattern =", "invalid regex");
    assert_eq!(issue.message, "invalid regex: unclosed group (at character 1 of the pattern)");
    // Every issue is one line, even when the underlying error is not.
    let text = format!("{COMMAND}parser = \"regex\"\npattern = 'a{{99999}}{{99999}}'\n");
    let issue = single_issue(&text, "validators.sc.pattern", "pattern =", "invalid regex");
    assert!(!issue.message.contains('\n'), "{}", issue.message);
    // Positions count characters, past non-ASCII ones too.
    let text = format!("{COMMAND}parser = \"regex\"\npattern = 'é(?P<message>'\n");
    let issue = single_issue(&text, "validators.sc.pattern", "pattern =", "invalid regex");
    assert_eq!(issue.message, "invalid regex: unclosed group (at character 2 of the pattern)");
    // Blanks at the start of the pattern are characters of it.
    let text = format!("{COMMAND}parser = \"regex\"\npattern = '  (?P<message>'\n");
    let issue = single_issue(&text, "validators.sc.pattern", "pattern =", "invalid regex");
    assert_eq!(issue.message, "invalid regex: unclosed group (at character 3 of the pattern)");
    // A pattern of several lines: the line too, and still one line.
    let text = format!("{COMMAND}parser = \"regex\"\npattern = \"\"\"(?x)\n^a\n(b\"\"\"\n");
    let issue = single_issue(&text, "validators.sc.pattern", "pattern =", "invalid regex");
    assert_eq!(issue.message, "invalid regex: unclosed group (at line 3, character 1 of the pattern)");
    // A group name used twice: at its second use, which is the mistake.
    let text = format!("{COMMAND}parser = \"regex\"\npattern = '(?P<file>a) (?P<file>b)'\n");
    let issue = single_issue(&text, "validators.sc.pattern", "pattern =", "invalid regex");
    assert_eq!(issue.message, "invalid regex: duplicate capture group name (at character 17 of the pattern)");
}

#[test]
fn a_misspelt_pattern_group_is_an_error() {
    let text = format!("{COMMAND}parser = \"regex\"\npattern = '^(?P<lineno>\\d+): (?P<message>.*)$'\n");
    let issue = single_issue(&text, "validators.sc.pattern", "pattern =", "unknown group name \"lineno\"");
    assert!(issue.message.contains("file, line, column, severity, message, code, rule"), "{}", issue.message);
}

#[test]
fn batch_regex_needs_a_file_group() {
    let text =
        format!("{COMMAND}mode = \"batch\"\nparser = \"regex\"\npattern = '^(?P<line>\\d+): (?P<message>.*)$'\n");
    single_issue(&text, "validators.sc.pattern", "pattern =", "(?P<file>");
    // Per-file mode does not need it.
    let text = format!("{COMMAND}parser = \"regex\"\npattern = '^(?P<line>\\d+): (?P<message>.*)$'\n");
    parse(&text).unwrap();
    // A group that a match may leave unset does not tie every finding to a
    // file.
    for pattern in [
        r"^(?P<file>[^:]+):(?P<line>\d+)$|^(?P<message>.+)$",
        r"^(?:(?P<file>[^:]+):)?(?P<message>.+)$",
        r"^(?:(?P<file>[^:]+):)*(?P<message>.+)$",
    ] {
        let text = format!("{COMMAND}mode = \"batch\"\nparser = \"regex\"\npattern = '{pattern}'\n");
        single_issue(&text, "validators.sc.pattern", "pattern =", "must take part in every match");
    }
    // Outside the alternatives, repeated at least once, or nested in
    // another group, it is always set.
    for pattern in [
        r"^(?P<file>[^:]+):(?:(?P<line>\d+)|-)$",
        r"^(?:(?P<file>[^:]+):)+(?P<message>.+)$",
        r"^(?:x|y)((?P<file>[^:]+)){1,3}:(?P<message>.+)$",
    ] {
        let text = format!("{COMMAND}mode = \"batch\"\nparser = \"regex\"\npattern = '{pattern}'\n");
        parse(&text).unwrap_or_else(|e| panic!("{pattern}: {e:?}"));
    }
}

#[test]
fn storage_and_file_sizes_below_what_works() {
    single_issue("[cache]\nwrite_buffer = \"1KiB\"\n", "cache.write_buffer", "write_buffer", "at least 64KiB");
    // Values TOML cannot read are named by their key, and a bare word is
    // told what it lacks.
    let issue = single_issue("[validators.x]\nenabled = nope # no\n", "validators.x.enabled", "nope", "`nope` is not");
    assert!(issue.message.contains("true and false") && issue.message.contains("(\"nope\")"), "{issue:#?}");
    single_issue("builtins = yes\n", "builtins", "yes", "a string needs quotes");
    let issue = single_issue("[daemon]\ngrace_period = 10s\n", "daemon.grace_period", "10s", "quoted");
    assert!(!issue.message.contains("is not a TOML value"), "10s is no bare word: {issue:#?}");
    // Inside an inline table, over several lines too, and after a
    // comment there (an audit saw "invalid float, expected `nan`").
    single_issue("[validators]\nx = { enabled = nope }\n", "validators.x.enabled", "nope", "`nope` is not");
    let text = "[validators.x]\nkind = \"json\"\nrestart = {\n  # the limit\n  max_restarts = nope,\n}\n";
    single_issue(text, "validators.x.restart.max_restarts", "max_restarts", "`nope` is not");
    // A control character after a value is named, not taken for an
    // unquoted string.
    single_issue("[daemon]\nlog_keep = 1\u{0}\n", "daemon.log_keep", "log_keep", "a control character (U+0000)");
    single_issue("builtins = true false\n", "builtins", "builtins", "`true false` is not one value");
    // After a whole string value: the key named too (a docs audit found it
    // missing from that one message).
    let text = "[daemon]\ngrace_period = \"1s\" \"2s\"\n";
    single_issue(text, "daemon.grace_period", "grace_period", "a second value after the first");
    single_issue("[validators.\"a=b\"]\nkind = 'json' 'x'\n", "validators.\"a=b\".kind", "kind", "a second value");
    // Inside an inline table: the key whose value it is in.
    let text = "[validators.x]\nkind = \"json\"\nrestart = { window = \"1s\" \"2s\" }\n";
    single_issue(text, "validators.x.restart", "restart", "missing comma");
    single_issue("[cache]\nwrite_buffer = \"100GiB\"\n", "cache.write_buffer", "write_buffer", "at most 1GiB");
    assert_eq!(parse("[cache]\nwrite_buffer = \"1GiB\"\n").unwrap().cache.write_buffer, 1 << 30);
    single_issue("[check]\nmax_file_size = 0\n", "check.max_file_size", "max_file_size", "builtins = false");
    let c = parse("[cache]\nblock_cache = 0\nwrite_buffer = \"64KiB\"\n[check]\nmax_file_size = 1\n").unwrap();
    assert_eq!((c.cache.block_cache, c.cache.write_buffer, c.check.max_file_size), (0, 65_536, 1));
}

#[test]
fn regex_parser_needs_a_pattern_and_others_refuse_one() {
    let text = format!("{COMMAND}parser = \"regex\"\n");
    single_issue(&text, "validators.sc.pattern", "parser =", "missing");
    let text = format!("{COMMAND}parser = \"sarif\"\npattern = 'x'\n");
    single_issue(&text, "validators.sc.pattern", "pattern =", "only applies to parser = \"regex\"");
}

#[test]
fn exit_code_parser_with_batch_mode() {
    let text = format!("{COMMAND}mode = \"batch\"\nparser = \"exit_code\"\n");
    single_issue(&text, "validators.sc.parser", "parser =", "requires mode = \"per_file\"");
    // The default parser is exit_code: the error then points at mode.
    let text = format!("{COMMAND}mode = \"batch\"\n");
    single_issue(&text, "validators.sc.mode", "mode =", "requires mode = \"per_file\"");
}

#[test]
fn unknown_mode_and_parser() {
    let text = format!("{COMMAND}mode = \"all\"\n");
    single_issue(&text, "validators.sc.mode", "mode =", "unknown mode");
    let text = format!("{COMMAND}parser = \"json\"\n");
    single_issue(&text, "validators.sc.parser", "parser =", "unknown parser");
    // What depends on the parser is not judged under an unknown one (an
    // audit saw `parser "exit_code" requires …` of a file saying "regexp").
    let text = format!("{COMMAND}mode = \"batch\"\nparser = \"regexp\"\npattern = '{GCC_PATTERN}'\n");
    single_issue(&text, "validators.sc.parser", "parser =", "unknown parser \"regexp\"");
    let text = format!("{COMMAND}parser = 3\npattern = '{GCC_PATTERN}'\n");
    single_issue(&text, "validators.sc.parser", "parser =", "expected a string");
    // The pattern is still read as a regex.
    let text = format!("{COMMAND}parser = \"regexp\"\npattern = '(x'\n");
    assert_eq!(issues(&text).len(), 2, "{:#?}", issues(&text));
    // A pattern of the wrong type is that, not missing too.
    let text = format!("{COMMAND}parser = \"regex\"\npattern = ['x']\n");
    single_issue(&text, "validators.sc.pattern", "pattern =", "expected a string");
}

#[test]
fn unknown_builtin_kind() {
    let text = "[validators.x]\nkind = \"jsonn\"\nfiles = [\"*\"]\n";
    let issue = single_issue(text, "validators.x.kind", "kind =", "unknown kind \"jsonn\"");
    assert!(issue.message.contains("trailing-whitespace"), "lists the built-ins: {}", issue.message);
}

#[test]
fn a_table_named_after_a_builtin_cannot_run_another_builtin() {
    let text = "[validators.utf8]\nkind = \"json\"\n";
    single_issue(text, "validators.utf8.kind", "kind", "named after the built-in \"utf8\"");
    // Its own kind, or a command standing in for it, are fine.
    assert!(parse("[validators.utf8]\nkind = \"utf8\"\n").is_ok());
    assert!(parse("[validators.utf8]\nkind = \"command\"\ncommand = [\"x\"]\nfiles = [\"*\"]\n").is_ok());
}

#[test]
fn missing_kind_for_a_name_that_is_not_a_builtin() {
    let text = "\n\n[validators.mine]\nfiles = [\"*\"]\n";
    single_issue(text, "validators.mine.kind", "[validators.mine]", "missing");
}

/// Globs that cannot do what they seem to: the root itself, and `..`,
/// which no path inside the project holds.
#[test]
fn globs_that_name_the_root_or_leave_the_project_are_refused() {
    for (glob, says) in [
        ("/", "project root itself"),
        ("./", "project root itself"),
        (".", "project root itself"),
        ("../x", "can never match"),
    ] {
        let text = format!("[check]\nexclude = [\"{glob}\"]\n");
        single_issue(&text, "check.exclude", "exclude", says);
    }
    parse("[check]\nexclude = [\"a..b\", \"**\", \"/x/\", \"./x\", \".env\", \"{a,b}.txt\", \"{a,b}.{md,txt}\", \"x/{.a,b}\"]\n").unwrap();
    for never in ["a/./b/*", "{a,..}/x", "\\\\.\\\\./x", "x/.", "x/{.,y}/z"] {
        let text = format!("[check]\nexclude = [\"{never}\"]\n");
        single_issue(&text, "check.exclude", "exclude", "can never match");
    }
    // Globs match bytes: a class cannot hold a character of several.
    single_issue("[check]\nexclude = [\"c[é].txt\"]\n", "check.exclude", "exclude", "matches one byte");
    single_issue("[check]\nexclude = [\"c[!\\\\ä].txt\"]\n", "check.exclude", "exclude", "matches one byte");
    parse("[check]\nexclude = [\"[]é]\", \"é[ab]ü\", \"{é,ü}.txt\", \"[!]]x\"]\n").unwrap_err();
    parse("[check]\nexclude = [\"é[ab]ü\", \"{é,ü}.txt\", \"[!]]x\", \"\\\\[é\"]\n").unwrap();
}

#[test]
fn invalid_glob() {
    let text = format!("{COMMAND}exclude = [\"ok/**\",\n  \"a[b\"]\n");
    single_issue(&text, "validators.sc.exclude", "\"a[b\"", "invalid glob \"a[b\"");
    let text = "[check]\nexclude = [\"{a,b\"]\n";
    single_issue(text, "check.exclude", "exclude", "invalid glob");
    // Beside an item that is not a string, the invalid glob is listed too.
    let text = "[check]\nexclude = [\"ok\",\n  \"[bad\",\n  7]\n";
    let found: Vec<_> = issues(text).into_iter().map(|i| (i.line, i.message)).collect();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().any(|(l, m)| *l == Some(3) && m.contains("invalid glob \"[bad\"")), "{found:?}");
    assert!(found.iter().any(|(l, m)| *l == Some(4) && m.contains("expected a string, found integer")), "{found:?}");
}

#[test]
fn command_needs_files() {
    let text = "\n[validators.sc]\nkind = \"command\"\ncommand = [\"x\"]\n";
    single_issue(text, "validators.sc.files", "[validators.sc]", "missing");
    let text = "[validators.sc]\nkind = \"command\"\ncommand = [\"x\"]\nfiles = []\n";
    single_issue(text, "validators.sc.files", "files = []", "at least one glob");
}

#[test]
fn zero_concurrency_and_batch_size() {
    let text = format!("{COMMAND}concurrency = 0\n");
    single_issue(&text, "validators.sc.concurrency", "concurrency", "at least 1");
    let text = format!("{COMMAND}batch_size = 0\n");
    single_issue(&text, "validators.sc.batch_size", "batch_size", "at least 1");
    let text = "[defaults]\nconcurrency = 0\n";
    single_issue(text, "defaults.concurrency", "concurrency", "at least 1");
    let text = "[daemon]\nlog_keep = -1\n";
    single_issue(text, "daemon.log_keep", "log_keep", "at least 1, got -1");
    // Rotation keeps at least one file, and rotates at 4 KiB at the least.
    single_issue("[daemon]\nlog_keep = 0\n", "daemon.log_keep", "log_keep", "at least 1");
    single_issue("[daemon]\nlog_max_size = \"2KiB\"\n", "daemon.log_max_size", "log_max_size", "at least 4KiB");
    parse("[daemon]\nlog_max_size = 4096\nlog_keep = 1\n").unwrap();
}

/// Results expire by the second: a shorter time-to-live was cut to 0,
/// which means never.
#[test]
fn a_ttl_under_a_second_is_refused() {
    let text = format!("{COMMAND}cache_ttl = \"500ms\"\n");
    single_issue(&text, "validators.sc.cache_ttl", "cache_ttl", "at least 1s");
    single_issue("[cache]\nttl = \"999ms\"\n", "cache.ttl", "ttl", "at least 1s");
    for ok in ["0", "0s", "1s", "1500ms", "7days"] {
        parse(&format!("[cache]\nttl = \"{ok}\"\n")).unwrap();
    }
}

#[test]
fn counts_and_durations_past_what_the_daemon_can_hold_are_refused() {
    // Accepted once, these crashed the daemon (a semaphore cannot hold that
    // many permits) or overflowed a deadline into a pair with no outcome.
    let text = format!("{COMMAND}concurrency = 9223372036854775807\n");
    single_issue(&text, "validators.sc.concurrency", "concurrency", "at most 65536");
    let text = "[defaults]\nconcurrency = 65537\n";
    single_issue(text, "defaults.concurrency", "concurrency", "at most 65536");
    let text = "[daemon]\nmax_connections = 9223372036854775807\n";
    single_issue(text, "daemon.max_connections", "max_connections", "at most 65536");
    let text = format!("{COMMAND}batch_size = 100001\n");
    single_issue(&text, "validators.sc.batch_size", "batch_size", "at most 100000");
    for long in ["300000000000years", "18446744073709551615s", "101years"] {
        let text = format!("{COMMAND}timeout = \"{long}\"\n");
        single_issue(&text, "validators.sc.timeout", "timeout", "too long: at most 100 years");
    }
    let text = "[daemon]\ngrace_period = \"1000years\"\n";
    single_issue(text, "daemon.grace_period", "grace_period", "too long");
    // The limits themselves are fine.
    let text = format!("{COMMAND}concurrency = 65536\nbatch_size = 100000\ntimeout = \"100years\"\n");
    let config = parse(&text).unwrap();
    let sc = config.validators().into_iter().find(|v| v.name == "sc").unwrap();
    assert_eq!((sc.concurrency, sc.batch_size, sc.timeout), (65_536, 100_000, MAX_DURATION));
}

#[test]
fn invalid_validator_name() {
    let text = "[validators.\"bad name\"]\nkind = \"json\"\n";
    single_issue(text, "validators.\"bad name\"", "[validators.", "invalid validator name");
    let text = "[validators.\"a.b\"]\nkind = \"json\"\n";
    single_issue(text, "validators.\"a.b\"", "[validators.", "invalid validator name");
    // `verdict restart -x` would read it as an option.
    let text = "[validators.-x]\nkind = \"json\"\n";
    single_issue(text, "validators.-x", "[validators.", "not starting with '-'");
    let text = "[validators.x-]\nkind = \"json\"\ndimension = \"-lint\"\n";
    single_issue(text, "validators.x-.dimension", "dimension", "not starting with '-'");
}

#[test]
fn invalid_duration_and_size() {
    let text = format!("{COMMAND}timeout = \"30 parsecs\"\n");
    single_issue(&text, "validators.sc.timeout", "timeout", "invalid duration");
    let text = format!("{COMMAND}timeout = \"0s\"\n");
    single_issue(&text, "validators.sc.timeout", "timeout", "greater than zero");
    let text = format!("{COMMAND}kill_after = 5\n");
    single_issue(&text, "validators.sc.kill_after", "kill_after", "expected a duration");
    let text = "[validators.json]\nkill_after = \"1s\"\n";
    single_issue(text, "validators.json.kill_after", "kill_after", "only applies to kind = \"command\"");
    let text = "[defaults.restart]\nwindow = 60\n";
    single_issue(text, "defaults.restart.window", "window", "expected a duration");
    let text = "[cache]\nblock_cache = \"32 MiBs\"\n";
    single_issue(text, "cache.block_cache", "block_cache", "invalid size");
    let text = "[validators.large-file]\nmax_size = true\n";
    single_issue(text, "validators.large-file.max_size", "max_size", "expected a size");
}

#[test]
fn wrong_types() {
    single_issue("builtins = \"yes\"\n", "builtins", "builtins", "expected a boolean");
    single_issue("daemon = 3\n", "daemon", "daemon", "expected a table");
    single_issue("[[validators]]\nx = 1\n", "validators", "[[validators]]", "expected a table");
    let text = format!("{COMMAND}files = [\"*.sh\", 3]\n");
    // `files` is set twice in this text: that is a TOML syntax error, which
    // names the key.
    let errs = issues(&text);
    assert_eq!((errs.len(), errs[0].key.as_str()), (1, "validators.sc.files"), "{errs:#?}");
    assert!(errs[0].message.starts_with("duplicate key validators.sc.files"), "{errs:#?}");
    let text = "[validators.sc]\nkind = \"command\"\ncommand = [\"x\"]\nfiles = [\"*.sh\", 3]\n";
    single_issue(text, "validators.sc.files", "files", "expected a string, found integer");
    // Set twice in an inline table: named through the keys that open it,
    // whatever the strings before it hold.
    let text = "[validators]\nx = { command = [\"a = {\", \"}\\\"\"], files = [\"a\"], files = [] }\n";
    let errs = issues(text);
    assert_eq!((errs.len(), errs[0].key.as_str()), (1, "validators.x.files"), "{errs:#?}");
    let text = "[validators.x]\nsettings = { deep = { a = 1, a = 2 } }\n";
    assert_eq!(issues(text)[0].key, "validators.x.settings.deep.a");
    // In an array, no path is made up.
    assert_eq!(issues("a = [{ b = 1, b = 2 }]\n")[0].key, "b");
}

#[test]
fn unknown_keys_are_errors_listing_the_known_ones() {
    let issue = single_issue("buitlins = false\n", "buitlins", "buitlins", "unknown key");
    assert!(issue.message.contains("builtins, daemon"), "{}", issue.message);
    let issue = single_issue("[daemon]\n\ngrace = \"1s\"\n", "daemon.grace", "grace =", "unknown key");
    assert!(issue.message.contains("grace_period"), "{}", issue.message);
    let text = format!("{COMMAND}timout = \"1s\"\n");
    let issue = single_issue(&text, "validators.sc.timout", "timout", "unknown key \"timout\"");
    assert!(issue.message.contains("timeout"), "{}", issue.message);
    let text = "[defaults.restart]\nmax_restart = 2\n";
    single_issue(text, "defaults.restart.max_restart", "max_restart", "max_restarts");
    // Keys of another kind get a targeted message.
    let text = "[validators.json]\ncommand = [\"jq\"]\n";
    single_issue(text, "validators.json.command", "command", "only applies to kind = \"command\"");
    let text = "[validators.json]\nmax_size = \"1MiB\"\n";
    single_issue(text, "validators.json.max_size", "max_size", "only applies to kind = \"large-file\"");
    let text = format!("{COMMAND}max_size = \"1MiB\"\n");
    single_issue(&text, "validators.sc.max_size", "max_size", "large-file");
}

#[test]
fn backoff_must_not_exceed_backoff_max() {
    let text = format!("{COMMAND}restart = {{ backoff = \"10s\" }}\n");
    single_issue(&text, "validators.sc.restart.backoff", "restart", "must not exceed backoff_max");
    // Not compared with a default standing in for an invalid value.
    let text = format!("{COMMAND}restart = {{ backoff = \"x\", backoff_max = \"1ms\" }}\n");
    single_issue(&text, "validators.sc.restart.backoff", "restart", "invalid duration");
    // A mismatch in `[defaults.restart]` is reported there once, not again
    // for each validator with a `restart` table that sets neither.
    let text = format!("[defaults.restart]\nbackoff_max = \"1ms\"\n{COMMAND}restart = {{ window = \"1s\" }}\n");
    single_issue(&text, "defaults.restart.backoff_max", "backoff_max", "must not exceed backoff_max (1ms)");
    // One that sets either is judged with what it inherits.
    let text = format!("[defaults.restart]\nbackoff_max = \"1s\"\n{COMMAND}restart = {{ backoff = \"2s\" }}\n");
    single_issue(&text, "validators.sc.restart.backoff", "restart = {", "must not exceed backoff_max (1s)");
}

#[test]
fn invalid_env_names() {
    let text = format!("{COMMAND}env = [\"HOME\", \"A=B\"]\n");
    single_issue(&text, "validators.sc.env", "env", "invalid environment variable name");
    // Every bad item is reported, not only the first kind of problem.
    let text = format!("{COMMAND}env = [\"PATH\", 5, \"A=B\", \"\", \"has space\", \"9x\", \"_OK_1\"]\n");
    let errs = issues(&text);
    let messages: Vec<&str> = errs.iter().map(|i| i.message.as_str()).collect();
    assert_eq!(errs.len(), 5, "{messages:#?}");
    assert!(errs.iter().all(|i| i.key == "validators.sc.env"), "{errs:#?}");
    assert!(messages[0].contains("expected a string, found integer") || messages.iter().any(|m| m.contains("integer")));
    for bad in ["\"A=B\"", "\"\"", "\"has space\"", "\"9x\""] {
        assert!(
            messages.iter().any(|m| m.contains(&format!("invalid environment variable name {bad}"))),
            "{bad}: {messages:#?}"
        );
    }
}

#[test]
fn findings_exit_codes_are_distinct_statuses_from_1_to_255() {
    let ok = parse(&format!("{COMMAND}findings_exit_codes = [4, 2]\n")).unwrap().validator("sc").unwrap();
    let ValidatorKind::Command(c) = ok.kind else { unreachable!() };
    assert_eq!(c.findings_exit_codes, Some(vec![2, 4]));
    single_issue(
        &format!("{COMMAND}findings_exit_codes = []\n"),
        "validators.sc.findings_exit_codes",
        "findings_exit_codes",
        "must not be empty",
    );
    single_issue(
        &format!("{COMMAND}findings_exit_codes = 1\n"),
        "validators.sc.findings_exit_codes",
        "findings_exit_codes",
        "expected an array",
    );
    let errs = issues(&format!("{COMMAND}findings_exit_codes = [0, 1, 256, -1, \"2\", 1]\n"));
    let messages: Vec<&str> = errs.iter().map(|i| i.message.as_str()).collect();
    assert_eq!(errs.len(), 5, "{messages:#?}");
    assert!(errs.iter().all(|i| i.key == "validators.sc.findings_exit_codes"), "{errs:#?}");
    assert!(messages[0].contains("0 cannot be listed"), "{messages:#?}");
    assert_eq!(messages.iter().filter(|m| m.contains("from 1 to 255")).count(), 2, "{messages:#?}");
    assert!(messages.iter().any(|m| m.contains("expected an integer, found string")), "{messages:#?}");
    assert!(messages.iter().any(|m| m.contains("1 is listed twice")), "{messages:#?}");
}

#[test]
fn two_bad_validators_give_two_issues() {
    let text = r#"
[validators.one]
kind = "command"
files = ["*"]
command = []

[validators.two]
kind = "command"
files = ["*"]
command = ["x"]
timeout = "forever"
"#;
    let errs = issues(text);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_eq!(errs[0].key, "validators.one.command");
    assert_eq!(errs[0].line, Some(line_of(text, "command = []")));
    assert_eq!(errs[1].key, "validators.two.timeout");
    assert_eq!(errs[1].line, Some(line_of(text, "timeout = \"forever\"")));
}

#[test]
fn every_section_is_checked_and_issues_are_sorted() {
    let text = "[validators.zz]\nkind = \"json\"\nconcurrency = 0\n\
                [daemon]\nmax_connections = 0\n\
                [cache]\nttl = \"soon\"\n\
                [check]\nmax_file_size = \"big\"\n";
    let errs = issues(text);
    let keys: Vec<&str> = errs.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["validators.zz.concurrency", "daemon.max_connections", "cache.ttl", "check.max_file_size"]);
    let lines: Vec<usize> = errs.iter().map(|i| i.line.unwrap()).collect();
    assert_eq!(lines, [3, 5, 7, 9]);
}

#[test]
fn display_is_file_line_column_key_message() {
    let text = "[daemon]\nlog_keep = \"many\"\n";
    let err = parse(text).unwrap_err();
    assert_eq!(err.to_string(), "/proj/verdict.toml:2:12: daemon.log_keep: expected an integer, found string");
    let text = "[daemon]\nlog_keep = \"many\"\nmax_connections = 0\n";
    let shown = parse(text).unwrap_err().to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[1].starts_with("/proj/verdict.toml:3:19: daemon.max_connections: "), "{shown}");
}

#[test]
fn load_reads_the_file_and_reports_unreadable_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    std::fs::write(&path, "[cache]\ndir = \"data\"\n").unwrap();
    let c = Config::load(&path).unwrap();
    assert_eq!(c.cache.dir, Some(dir.path().join("data")));
    assert_eq!(c.source.as_deref(), Some(path.as_path()));

    let nested = dir.path().join("a/b");
    std::fs::create_dir_all(&nested).unwrap();
    assert_eq!(find_config(&nested), Some(path.clone()));

    let missing = dir.path().join("nope.toml");
    let err = Config::load(&missing).unwrap_err();
    assert_eq!(err.errors.len(), 1);
    assert_eq!(err.errors[0].path.as_deref(), Some(missing.as_path()));
    assert!(err.to_string().starts_with(&format!("{}: cannot read", missing.display())));

    // Only a regular file of reasonable size is read: a FIFO would block the
    // reader, /dev/zero would never end.
    let fifo = dir.path().join("fifo.toml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let err = Config::load(&fifo).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let err = Config::load(Path::new("/dev/zero")).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let big = dir.path().join("big.toml");
    std::fs::write(&big, vec![b'#'; MAX_CONFIG_BYTES as usize + 1]).unwrap();
    let err = Config::load(&big).unwrap_err();
    assert!(err.to_string().contains("more than the"), "{err}");
    std::fs::write(&big, b"builtins = true\n# caf\xc3\xa9 \xff\n").unwrap();
    let err = Config::load(&big).unwrap_err();
    assert!(err.to_string().contains("not UTF-8"), "{err}");
    // Where: line 2, after "# café " (7 characters).
    assert_eq!((err.errors[0].line, err.errors[0].column), (Some(2), Some(8)), "{err}");
}

#[test]
fn a_duplicate_key_is_named() {
    let text = "[validators.a]\nkind = \"utf8\"\n\n[validators.a]\nkind = \"json\"\n";
    let err = parse(text).unwrap_err();
    assert_eq!(err.errors.len(), 1, "{err}");
    assert_eq!(err.errors[0].line, Some(4), "{err}");
    assert!(err.errors[0].message.contains("duplicate key validators.a"), "{err}");
    assert_eq!(err.errors[0].key, "validators.a");
    let named = |text: &str| parse(text).unwrap_err().errors[0].key.clone();
    assert_eq!(named("[validators.a]\nkind = \"utf8\"\nkind = \"json\"\n"), "validators.a.kind");
    assert_eq!(named("cache.ttl = \"1d\"\ncache.ttl = \"2d\"\n"), "cache.ttl");
    assert_eq!(named("[[x]]\n[ daemon ]\na = 1\na = 2\n"), "daemon.a");
    // Inside an inline table, through the keys that open it, over several
    // lines (TOML 1.1) and past comments too.
    assert_eq!(named("v = { a = 1, a = 2 }\n"), "v.a");
    assert_eq!(named("[validators]\nlint = {\n  kind = \"a\",\n  kind = \"b\",\n}\n"), "validators.lint.kind");
    assert_eq!(named("[validators]\nx = { # c\n  kind = \"a\",\n  \"kind\" = \"b\" }\n"), "validators.x.kind");
    // Plain: no blanks around dots, no needless quotes (as an audit saw
    // `validators . x.kind` and `validators.x.'kind'`).
    assert_eq!(named("[ validators . x ]\nkind = \"a\"\nkind = \"b\"\n"), "validators.x.kind");
    assert_eq!(named("[validators.x]\nkind = \"a\"\n'kind' = \"b\"\n"), "validators.x.kind");
    assert_eq!(named("a . b = 1\na.b = 2\n"), "a.b");
    assert_eq!(named("[validators.'a b']\nk = 1\nk = 2\n"), "validators.\"a b\".k");
    assert_eq!(named("[validators.x]\nk = 1\n  k = 2\n"), "validators.x.k");
    // A quoted key with an escaped quote in a header before (a review saw the
    // rest of the file lose its table).
    assert_eq!(
        named("[validators.\"a\\\"b\"]\nkind = \"json\"\n[cache]\nenabled = true\nenabled = false\n"),
        "cache.enabled"
    );
    // Lines that start with a bracket but are not headers.
    assert_eq!(named("[v.a]\nx = [\n[1, 2],\n]\nk = 1\nk = 2\n"), "v.a.k");
    assert_eq!(named("[v.a]\ns = \"\"\"\n[ -f x ] || exit 1\n\"\"\"\nk = 1\nk = 2\n"), "v.a.k");
    assert_eq!(named("[v.a]\ns = '''\n[x]\n'''\nk = 1\nk = 2\n"), "v.a.k");
    assert_eq!(named("[v.a] # [not.this]\nk = 1\nk = 2\n"), "v.a.k");
    assert_eq!(named("[\"a]b\"]\nc = 1\nc = 2\n"), "\"a]b\".c");
}

#[test]
fn a_fraction_of_a_byte_is_refused() {
    assert_eq!(parse_size("1.5 KiB"), Ok(1536));
    assert_eq!(
        parse_size("0.5 B"),
        Err("invalid size \"0.5 B\": it is not a whole number of bytes (0 and 1/2 bytes)".into())
    );
    assert!(parse_size("1.5 B").unwrap_err().contains("1 and 1/2 bytes"));
    assert!(parse_size("1.0001 KiB").unwrap_err().contains("not a whole number"));
    assert_eq!(parse_size("2.0 B"), Ok(2));
    // Worked out exactly: in floating point these are a little short of a
    // whole number, or were rounded down a byte.
    assert_eq!(parse_size("4.1 GB"), Ok(4_100_000_000));
    assert_eq!(parse_size("8.2 GB"), Ok(8_200_000_000));
    assert_eq!(parse_size("2.01 KB"), Ok(2010));
    assert_eq!(parse_size("  2.50 kb "), Ok(2500));
    assert_eq!(parse_size(".5 KiB"), Ok(512));
    assert_eq!(parse_size("1. KiB"), Ok(1024));
    assert!(parse_size("9007199254740993.5 B").is_err(), "a fraction no float can hold");
    assert!(parse_size("1.5 EiB").unwrap_err().contains("1 EiB"));
    // A fraction without a unit is bytes too.
    assert!(parse_size("0.1").unwrap_err().contains("not a whole number of bytes"), "{:?}", parse_size("0.1"));
    assert_eq!(parse_size("2.0"), Ok(2));
    assert_eq!((parse_size("+10"), parse_size("+1.5 KiB")), (Ok(10), Ok(1536)), "a sign, as the parser takes");
}

/// What is not a size is said in verdict's words, not the parser's.
#[test]
fn a_size_that_is_no_number_says_so() {
    for bad in ["-1", "NaN", "inf", " ", "KiB", "1.2.3 KiB"] {
        let e = parse_size(bad).unwrap_err();
        assert!(e.contains("expected a number of bytes, or a number and a unit"), "{bad:?}: {e}");
    }
    let e = parse_size("10 XB").unwrap_err();
    assert!(e.contains("unknown unit \"XB\""), "{e}");
}

/// A byte order mark is not a column of the first line.
#[test]
fn columns_of_the_first_line_after_a_byte_order_mark() {
    let errs = issues("\u{feff}builtins = 1\n");
    assert_eq!((errs[0].line, errs[0].column), (Some(1), Some(12)), "{errs:#?}");
}

#[test]
fn a_file_with_very_many_errors_gets_every_line_right() {
    // 100,000 unknown keys: each issue's line used to be counted from the
    // start of the file (minutes for this one); a line index makes it
    // linear. Checked by the lines reported, not by a clock.
    let n = 100_000;
    let text: String = (0..n).map(|i| format!("k{i} = 1\n")).collect();
    let err = parse(&text).unwrap_err();
    assert_eq!(err.errors.len(), n);
    for (i, issue) in err.errors.iter().enumerate().step_by(997) {
        assert_eq!((issue.line, issue.column), (Some(i + 1), Some(1)), "{issue}");
        assert_eq!(issue.key, format!("k{i}"));
    }
}

#[test]
fn sizes_past_one_exbibyte_are_refused() {
    assert_eq!(parse_size("1 EiB"), Ok(MAX_SIZE));
    for huge in ["20 EiB", "99999999999 TiB", "18446744073709551615"] {
        let e = parse_size(huge).unwrap_err();
        assert!(e.contains("larger than the largest allowed"), "{huge}: {e}");
    }
    let err = parse("[cache]\nblock_cache = \"20 EiB\"\n").unwrap_err();
    assert_eq!((err.errors[0].line, err.errors[0].key.as_str()), (Some(2), "cache.block_cache"), "{err}");
    // Written as a number of bytes, too.
    let err = parse("[cache]\nblock_cache = 9223372036854775807\n").unwrap_err();
    assert!(err.errors[0].message.contains("larger than the largest size allowed"), "{err}");
    assert!(parse("[cache]\nblock_cache = 1152921504606846976\n").is_ok(), "1 EiB itself");
}

#[test]
fn a_dangling_link_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("verdict.toml");
    std::os::unix::fs::symlink(dir.path().join("gone.toml"), &link).unwrap();
    assert!(config_present(&link), "a dangling link is a configuration, to be refused");
    let err = Config::load(&link).unwrap_err();
    assert!(err.to_string().contains("gone.toml, which does not exist"), "{err}");
}

// ---------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------

fn shellcheck() -> ValidatorConfig {
    parse(FULL).unwrap().validator("shellcheck").unwrap()
}

fn hex(id: [u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

fn env(pairs: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.map(str::to_string))).collect()
}

#[test]
fn identity_is_stable() {
    let v = shellcheck();
    let e = env(&[("HOME", Some("/home/u")), ("SHELLCHECK_OPTS", None)]);
    let a = v.identity(None, Some("0.10.0"), &e);
    assert_eq!(a, shellcheck().identity(None, Some("0.10.0"), &e));
    // Pinned: the encoding must not drift between builds, or every cache
    // entry is silently invalidated. Bump IDENTITY_FORMAT when it must change
    // (changed on purpose with `findings_exit_codes`, OUTPUT_READING 3, 4, 5, 6, 7 and 8).
    assert_eq!(hex(a), "aebe43939baa3c74603cbf875918912d");
    // Order of the env values and of the env names does not matter.
    let mut reversed = e.clone();
    reversed.reverse();
    assert_eq!(v.identity(None, Some("0.10.0"), &reversed), a);
    let mut w = v.clone();
    if let ValidatorKind::Command(c) = &mut w.kind {
        c.env.reverse();
    }
    assert_eq!(w.identity(None, Some("0.10.0"), &e), a);
}

#[test]
fn identity_ignores_what_does_not_change_results() {
    let v = shellcheck();
    let base = v.identity(None, None, &[]);
    let mut w = v.clone();
    w.timeout = Duration::from_secs(999);
    w.concurrency = 1;
    w.cache_ttl = Duration::ZERO;
    w.restart.max_restarts = 0;
    w.files = vec!["*.bash".into()];
    w.exclude.clear();
    w.dimension = "style".into();
    if let ValidatorKind::Command(c) = &mut w.kind {
        c.version = Some(vec!["other".into()]);
    }
    assert_eq!(w.identity(None, None, &[]), base);

    // Only timeout differs, via the file.
    let a = parse(COMMAND).unwrap().validator("sc").unwrap();
    let b = parse(&format!("{COMMAND}timeout = \"5s\"\n")).unwrap().validator("sc").unwrap();
    assert_ne!(a, b);
    assert_eq!(a.identity(None, None, &[]), b.identity(None, None, &[]));
    // batch_size only matters in batch mode.
    let c = parse(&format!("{COMMAND}batch_size = 3\n")).unwrap().validator("sc").unwrap();
    assert_eq!(a.identity(None, None, &[]), c.identity(None, None, &[]));
}

#[test]
fn identity_changes_with_what_changes_results() {
    let v = shellcheck();
    let e = env(&[("HOME", Some("/home/u"))]);
    let base = v.identity(None, Some("0.10.0"), &e);

    let with = |f: &dyn Fn(&mut CommandConfig)| {
        let mut w = v.clone();
        let ValidatorKind::Command(c) = &mut w.kind else { unreachable!() };
        f(c);
        w.identity(None, Some("0.10.0"), &e)
    };
    assert_ne!(with(&|c| c.pattern = Some(format!("{}x", c.pattern.clone().unwrap()))), base);
    assert_ne!(with(&|c| c.command.push("--shell=bash".into())), base);
    assert_ne!(with(&|c| c.parser = ParserKind::Sarif), base);
    assert_ne!(with(&|c| c.batch_size += 1), base);
    assert_ne!(with(&|c| c.env.push("LANG".into())), base);
    assert_ne!(with(&|c| c.max_output += 1), base);
    assert_ne!(with(&|c| c.findings_exit_codes = Some(vec![1, 2])), base);
    // As the statuses act: the parser's default written out, or the same
    // ones in another order, change nothing.
    assert_eq!(
        with(&|c| c.findings_exit_codes = Some(vec![1])),
        with(&|c| c.findings_exit_codes = None),
        "regex's default is [1]"
    );
    assert_eq!(with(&|c| c.findings_exit_codes = Some(vec![3, 1])), base, "written [1, 3]");
    assert_eq!(
        with(&|c| c.findings_exit_codes = Some(vec![2, 1])),
        with(&|c| c.findings_exit_codes = Some(vec![1, 2]))
    );
    assert_ne!(
        with(&|c| {
            c.parser = ParserKind::ExitCode;
            c.findings_exit_codes = Some(vec![1]);
        }),
        with(&|c| c.parser = ParserKind::ExitCode),
        "exit_code's default is every status"
    );
    assert_eq!(with(&|c| c.kill_after *= 2), base, "how a timed-out run is killed changes no result");

    assert_ne!(v.identity(None, Some("0.10.1"), &e), base);
    assert_ne!(v.identity(None, None, &e), base);
    assert_ne!(v.identity(None, Some("0.10.0"), &env(&[("HOME", Some("/root"))])), base);
    assert_ne!(v.identity(None, Some("0.10.0"), &env(&[("HOME", None)])), base);

    let mut renamed = v.clone();
    renamed.name = "shellcheck2".into();
    assert_ne!(renamed.identity(None, Some("0.10.0"), &e), base);
}

#[test]
fn identity_changes_with_builtin_settings() {
    let d = Config::default().validator("large-file").unwrap();
    let o = parse("[validators.large-file]\nmax_size = \"1KiB\"\n").unwrap().validator("large-file").unwrap();
    assert_ne!(d.identity(None, None, &[]), o.identity(None, None, &[]));
    // Different built-ins never collide.
    let json = Config::default().validator("json").unwrap();
    let yaml = Config::default().validator("yaml").unwrap();
    assert_ne!(json.identity(None, None, &[]), yaml.identity(None, None, &[]));
}

// ---------------------------------------------------------------------------
// Globs
// ---------------------------------------------------------------------------

/// The directories a walk may leave out: those whose every file below the
/// exclusions take out, and not one more.
#[test]
fn excluded_directories_are_those_whose_files_are_all_excluded() {
    let patterns: Vec<String> = [
        "target",
        "vendor/",
        "gen/**",
        "/build",
        "docs/*/old",
        "x",
        "*.tmp",
        "out/*",
        "/cov/**/*",
        "esc\\/**",
        "sub/*/",
        "keep/**/*/",
        "all/**/",
    ]
    .map(String::from)
    .into();
    let dirs = excluded_dirs_set(&patterns);
    let files = exclude_set(&patterns).unwrap();
    for (dir, pruned) in [
        ("target", true),
        ("a/target", true),
        ("vendor", true),
        ("gen", true),
        ("gen/sub", true),
        ("build", true),
        ("a/build", false),
        ("docs/v1/old", true),
        ("docs/old", false),
        ("x", true),
        ("src", false),
        ("a.tmp", true),
        ("out", true),
        ("a/out", false),
        ("out/sub", true),
        ("cov", true),
        ("a/cov", false),
        ("esc", false),
        // Directories only: `sub/*/` leaves the files in `sub` itself.
        ("sub", false),
        ("sub/d", true),
        ("keep", false),
        ("all", true),
    ] {
        assert_eq!(dirs.is_match(dir), pruned, "{dir}");
        if pruned {
            for below in ["f.rs", "deep/er/g.txt"] {
                assert!(files.is_match(format!("{dir}/{below}")), "{dir}/{below} is excluded");
            }
        }
    }
    assert!(!files.is_match("sub/f.txt") && !files.is_match("keep/f.txt") && files.is_match("all/f.txt"));
    // A name excluded as a file (`x`) does not take out a directory holding one.
    assert!(!dirs.is_match("src/lib") && files.is_match("src/x"));
    // Every directory: the top-level ones are enough, the walk entering
    // none of them.
    for every in ["**", "**/", "/**"] {
        let dirs = excluded_dirs_set(&[every.into()]);
        assert!(dirs.is_match("a"), "{every}");
        assert!(exclude_set(&[every.into()]).unwrap().is_match("a/b/c.txt"), "{every}");
    }
}

/// Patterns of every shape a filter treats apart, for the tests that
/// compare two ways of matching them.
const PATTERNS: &[&str] = &[
    "*",
    "**",
    "**/",
    "*/",
    "/**/",
    "*.rs",
    "lib",
    "lib/",
    "/lib/",
    "src/*.rs",
    "/docs/**/*.md",
    "gen*/",
    "*.min.js",
    "a/**",
    "a/*",
    "a/**/*",
    "a/*/",
    "a/**/",
    "/a/**/**/",
    "**/a/**/",
    "*/**/",
    "src/**/",
    "a\\/**/",
    "{a,src}/**/",
    "a/**/**",
    "**/a/**",
    "a/**/*/**/",
    "*\\{\\{*\\}\\}*/",
    "./Makefile",
    "x/**/y",
    "{lib,src}/",
    "d\\/*",
];

/// Paths for [`PATTERNS`] to match.
const PATHS: &[&str] = &[
    "a",
    "a/b",
    "a/b/c.rs",
    "lib",
    "lib/x.rs",
    "x/lib/y.rs",
    "lib/gen1/z.txt",
    "src/a.rs",
    "src/b/a.rs",
    "docs/a/b.md",
    "q.min.js",
    "q.min.js/inner.js",
    "w/{{name}}/v.json",
    "Makefile",
    "sub/Makefile",
    "x/y",
    "x/k/y/z",
    "d/e",
    "gen/f",
    ".env",
    "deep/er/.hidden/x.rs",
    "a/g",
    "a/x/f",
    "src/m.rs",
    "src/sub/n.rs",
    "a/**/f",
];

/// A filter answers a directory's patterns per directory; it selects what
/// the file-by-file sets of `include_set` and `exclude_set` (`d/*`,
/// `d/**/*` per directory pattern) do.
#[test]
fn a_filter_selects_what_the_file_by_file_sets_do() {
    let (patterns, paths) = (PATTERNS, PATHS);
    let v = |ps: &[&str]| ps.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    let mut compared = 0;
    for include in patterns.iter().map(|p| vec![*p]).chain([vec!["*.rs", "lib/"], vec!["/src/", "*.md"]]) {
        for exclude in patterns.iter().map(|p| vec![*p]).chain([vec![], vec!["gen*/", "*.min.js", "lib"]]) {
            let (files, ex) = (v(&include), v(&exclude));
            let filter = FileFilter::new(&files, &ex).unwrap();
            let (inc, exc) = (include_set(&files).unwrap(), exclude_set(&ex).unwrap());
            for path in paths {
                let expected = inc.is_match(path) && !exc.is_match(path);
                assert_eq!(filter.is_match(path), expected, "files {include:?}, exclude {exclude:?}: {path}");
                compared += 1;
            }
        }
    }
    assert!(compared > 10_000, "{compared}");
}

/// Filters compiled into one set select what each selects alone
/// ([`FileFilter::is_match`]), the set searched as one and filter by
/// filter (what it falls back to when the globs will not compile
/// together); filters with the same patterns are one.
#[test]
fn a_filter_set_selects_what_its_filters_do_one_by_one() {
    let v = |ps: &[&str]| ps.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    let mut filters: Vec<Arc<FileFilter>> = Vec::new();
    for kind in BuiltinKind::ALL {
        let files: Vec<&str> = kind.default_files().to_vec();
        filters.push(Arc::new(FileFilter::new(&v(&files), &v(&kind.default_exclude())).unwrap()));
    }
    for (i, p) in PATTERNS.iter().enumerate() {
        let other = PATTERNS[(i * 7 + 3) % PATTERNS.len()];
        filters.push(Arc::new(FileFilter::new(&v(&[p]), &v(&[other])).unwrap()));
        filters.push(Arc::new(FileFilter::new(&v(&["*", other]), &v(&[p])).unwrap()));
    }
    // The same patterns again: one filter for both.
    filters.push(Arc::new(FileFilter::new(&v(&["*.rs"]), &v(&["lib"])).unwrap()));
    filters.push(Arc::new(FileFilter::new(&v(&["*.rs"]), &v(&["lib"])).unwrap()));
    let paths: Vec<&str> = PATHS
        .iter()
        .copied()
        .chain(["a/tests/x/expected.txt", "third_party/q/r.c", "deps/lua/x.c", "p/__snapshots__/a.snap", "x.json"])
        .collect();
    let mut compared = 0;
    for set in [FilterSet::new(&filters), FilterSet::one_by_one(&filters)] {
        assert!(set.is_of(&filters) && !set.is_of(&filters[1..]));
        let distinct = set.distinct();
        let n = filters.len();
        let twice = |(_, given): &&(Arc<FileFilter>, Vec<usize>)| given.ends_with(&[n - 2, n - 1]);
        assert_eq!(distinct.iter().filter(twice).count(), 1, "the same patterns: one filter");
        let mut scratch = FilterScratch::default();
        for path in &paths {
            // Top down, as a walk remembers each directory's answer.
            let mut dirs = vec![DirSelection::default(); distinct.len()];
            let parent = Path::new(path).parent().unwrap_or(Path::new(""));
            let mut above: Vec<&Path> = parent.ancestors().filter(|a| !a.as_os_str().is_empty()).collect();
            above.reverse();
            for a in above {
                let before = dirs.clone();
                set.dir_within(a, &before, &mut scratch, &mut dirs);
            }
            let mut says = vec![false; distinct.len()];
            set.globs_match(&globset::Candidate::new(path), &dirs, &mut scratch, &mut says);
            for ((filter, given), says) in distinct.iter().zip(&says) {
                assert_eq!(*says, filter.is_match(path), "{path}: {:?}", filter.patterns);
                for &i in given {
                    assert_eq!(*says, filters[i].is_match(path));
                }
                compared += 1;
            }
        }
    }
    assert!(compared > 4_000, "{compared}");
}

#[test]
fn glob_semantics() {
    let f = FileFilter::new(
        &["*.sh".into(), "src/*.rs".into(), "/docs/**/*.md".into()],
        &["target".into(), "vendor/".into(), "skip_*.sh".into()],
    )
    .unwrap();
    assert!(f.is_match("a.sh"));
    assert!(f.is_match("deep/er/a.sh"), "no '/' = any depth");
    assert!(f.is_match("src/main.rs"));
    assert!(!f.is_match("src/bin/main.rs"), "'*' does not cross '/'");
    assert!(!f.is_match("lib/src/main.rs"), "a '/' anchors at the root");
    assert!(f.is_match("docs/a/b.md"));
    assert!(f.is_match("docs/b.md"));
    assert!(!f.is_match("target/x/a.sh"), "excluded directory");
    assert!(!f.is_match("sub/target/a.sh"), "excluded directory at any depth");
    assert!(!f.is_match("vendor/a.sh"));
    assert!(!f.is_match("x/skip_me.sh"));
    // A trailing `/` names directories only, as in an ignore file: `vendor/`
    // leaves a file named `vendor` alone, and in `files`, `lib/` selects
    // what is below a directory `lib`, at any depth (no other `/`).
    let f = FileFilter::new(&["*".into()], &["vendor/".into(), "target".into()]).unwrap();
    assert!(f.is_match("x/vendor") && !f.is_match("x/vendor/a.rs"));
    assert!(!f.is_match("x/target") && !f.is_match("x/target/a.rs"));
    let f = FileFilter::new(&["lib/".into()], &[]).unwrap();
    assert!(f.is_match("lib/a.rs") && f.is_match("lib/deep/b.rs") && f.is_match("x/lib/a.rs") && !f.is_match("lib"));
    let f = FileFilter::new(&["/lib/".into()], &[]).unwrap();
    assert!(f.is_match("lib/a.rs") && !f.is_match("x/lib/a.rs"), "anchored");
    // Patterns for every directory name the files below a directory, never
    // the root's own.
    for dirs in ["*/", "**/", "/**/"] {
        let f = FileFilter::new(&[dirs.into()], &[]).unwrap();
        assert!(f.is_match("d/in.txt") && f.is_match("d/e/in.txt") && !f.is_match("top.txt"), "files {dirs}");
        let f = FileFilter::new(&["*".into()], &[dirs.into()]).unwrap();
        assert!(!f.is_match("d/in.txt") && f.is_match("top.txt"), "exclude {dirs}");
    }
    // A leading `/` or `./` anchors a name at the root, in `files` and in
    // `exclude` alike.
    for top in ["/Makefile", "./Makefile"] {
        let f = FileFilter::new(&[top.into()], &[]).unwrap();
        assert!(f.is_match("Makefile") && !f.is_match("sub/Makefile"), "{top}");
        let f = FileFilter::new(&["*".into()], &[top.into()]).unwrap();
        assert!(!f.is_match("Makefile") && f.is_match("sub/Makefile"), "exclude {top}");
    }
    // `*` selects every file, dot files and any depth included, unless
    // something is excluded.
    for all in ["*", "**", "/**"] {
        let f = FileFilter::new(&[all.into()], &[]).unwrap();
        for path in ["a", ".env", "deep/er/.hidden/x.rs"] {
            assert!(f.is_match(path), "{all} {path}");
        }
    }
    let some = FileFilter::new(&["*".into()], &["target".into()]).unwrap();
    assert!(some.is_match("a.rs") && !some.is_match("target/a.rs"));
    // Same patterns, same selection; anything else is matched on its own.
    let star = FileFilter::new(&["*".into()], &[]).unwrap();
    assert!(star.same_selection(&FileFilter::new(&["*".into()], &[]).unwrap()));
    assert!(!star.same_selection(&some));
    assert!(!star.same_selection(&FileFilter::new(&["**".into()], &[]).unwrap()));
    let v = Config::default().validator("json").unwrap();
    assert!(v.file_filter().is_ok());
    assert!(CheckSettings::default().exclude_set().unwrap().is_empty());
}

#[test]
fn excluded_because_names_the_pattern_that_takes_a_file_out() {
    let cfg = Config::default();
    let tw = cfg.validator("trailing-whitespace").unwrap();
    assert_eq!(
        tw.excluded_because(Path::new("pkg/testdata/x.txt")).as_deref(),
        Some(
            "its default exclude has \"testdata/\" (`verdict config show trailing-whitespace` prints the list, to set in its table)"
        )
    );
    assert_eq!(tw.excluded_because(Path::new("src/x.txt")), None);
    // Not taken by `files` at all: nothing to say of `exclude`.
    let json = cfg.validator("json").unwrap();
    assert_eq!(json.excluded_because(Path::new("notes.txt")), None);
    assert!(json.excluded_because(Path::new("tsconfig.json")).unwrap().contains("\"tsconfig.json\""));
    // A list of the user's own is not called the default, even where it
    // holds a default pattern; the first pattern that takes it out is said.
    let own = parse("[validators.trailing-whitespace]\nexclude = [\"*.md\", \"gen/**\", \"testdata/\"]\n").unwrap();
    let tw = own.validator("trailing-whitespace").unwrap();
    assert_eq!(tw.excluded_because(Path::new("gen/testdata/a.txt")).as_deref(), Some("its exclude has \"gen/**\""));
    assert_eq!(tw.excluded_because(Path::new("testdata/a.txt")).as_deref(), Some("its exclude has \"testdata/\""));
}

/// The forty-eighth session's names: 3D models, tests' reference results
/// from other programs, lock files and templates more, .NET's tool
/// manifest, Perl's TAP tests; the same words elsewhere are judged.
#[test]
fn models_reference_results_and_more_lock_files_are_left_out() {
    let c = Config::default();
    let filter = |name: &str| c.validator(name).unwrap().file_filter().unwrap();
    let (tw, fnl, mle, utf8) =
        (filter("trailing-whitespace"), filter("final-newline"), filter("mixed-line-endings"), filter("utf8"));
    let (large, shebang, json) = (filter("large-file"), filter("shebang-executable"), filter("json"));
    for file in [
        "examples/shaders/resources/models/barracks.obj",
        "test/models/OBJ/box.mtl",
        "test/models/PLY/cube.ply",
        "test/models/WRL/MotionCaptureROM.WRL",
        "assets/part.stl",
        "scene.dae",
        "anim/walk.bvh",
        "models/hero.md5mesh",
        "stage.usda",
    ] {
        assert!(!tw.is_match(file) && !fnl.is_match(file) && !mle.is_match(file) && !utf8.is_match(file), "{file}");
        assert!(large.is_match(file), "{file}: a model may still be too large to commit");
    }
    for file in ["src/link.x", "configure.ac", "src/payroll.cob", "data/graph.off", "models/obj.rs"] {
        assert!(tw.is_match(file) && fnl.is_match(file), "{file}");
    }
    // What another program printed, kept for the tests to compare with;
    // the scripts that printed it stay checked.
    for file in [
        "statsmodels/tsa/vector_ar/tests/JMulTi_results/vecm_e6_jmulti_cos.txt",
        "statsmodels/genmod/tests/results/stata_lbw_glm.csv",
        "pkg/tests/results/e3.dat",
    ] {
        assert!(!tw.is_match(file) && !fnl.is_match(file) && !mle.is_match(file), "{file}");
    }
    for file in ["pkg/tests/results/glm.R", "pkg/tests/results/make.do", "docs/results/table.txt", "results/a.txt"] {
        assert!(tw.is_match(file) && fnl.is_match(file), "{file}");
    }
    for file in ["pixi.lock", "env/conda-lock.yml"] {
        assert!(!large.is_match(file), "{file}");
    }
    for file in ["cmd/toml-test/script.gotxt", "charts/x/templates/a.gotmpl"] {
        assert!(!shebang.is_match(file), "{file}");
    }
    assert!(!fnl.is_match(".config/dotnet-tools.json") && fnl.is_match("config/dotnet-tools.json"));
    // prove runs a TAP test through perl, whatever its mode.
    for file in ["t/cas.t", "xt/author/pod.t", "lib/t/unit/a.t"] {
        assert!(!shebang.is_match(file) && tw.is_match(file), "{file}");
    }
    for file in ["tests/run.t", "t/helper.pl", "test/blackbox/foo.t/run.sh"] {
        assert!(shebang.is_match(file), "{file}");
    }
    assert!(json.is_match(".config/dotnet-tools.json"));
}

/// bullet3's `ThirdPartyLibs/`; a `.dist` template's shebang.
#[test]
fn third_party_libraries_and_dist_templates_are_left_out() {
    let c = Config::default();
    let filter = |name: &str| c.validator(name).unwrap().file_filter().unwrap();
    let (tw, utf8, shebang) = (filter("trailing-whitespace"), filter("utf8"), filter("shebang-executable"));
    for file in ["examples/ThirdPartyLibs/Eigen/Core", "src/third_party_libs/fmt/format.h"] {
        assert!(!tw.is_match(file) && !utf8.is_match(file), "{file}");
    }
    assert!(tw.is_match("third_party_project/a.c") && tw.is_match("docs/third-party-licenses.txt"));
    assert!(!shebang.is_match("tests/legacy/rungrind.dist") && shebang.is_match("tests/run.sh"));
}

/// Bower's packages; Inno Setup's scripts for `utf8`; Gradle's start-script
/// templates for the shebang check.
#[test]
fn bower_packages_inno_setup_scripts_and_start_script_templates_are_left_out() {
    let c = Config::default();
    let filter = |name: &str| c.validator(name).unwrap().file_filter().unwrap();
    let (tw, utf8, shebang) = (filter("trailing-whitespace"), filter("utf8"), filter("shebang-executable"));
    let bower = "app/public/bower_components/jquery/dist/jquery.js";
    assert!(!tw.is_match(bower) && !utf8.is_match(bower));
    assert!(tw.is_match("app/bower.json") && tw.is_match("docs/bower_components.txt"));
    // WIT packages wit-deps fetched; a component's own WIT stays judged.
    let wit = "crates/wasi-keyvalue/wit/deps/keyvalue/batch.wit";
    assert!(!tw.is_match(wit) && tw.is_match("crates/wasi-keyvalue/wit/world.wit"));
    assert!(!utf8.is_match("installer/setup.iss") && !utf8.is_match("src/platform/windows/setup.iss.in"));
    assert!(tw.is_match("installer/setup.iss"), "only its encoding is Inno's");
    assert!(!shebang.is_match("gradle/unixStartScript.gsp") && shebang.is_match("gradle/start.sh"));
}
