//! The plain-text checks: `utf8`, `trailing-whitespace` (and its Markdown
//! variant), `final-newline`, `merge-conflict` and `mixed-line-endings`.

use std::sync::LazyLock;

use memchr::{memchr_iter, memchr2_iter, memmem};
use regex::bytes::Regex;

use super::BOM;
use super::locate::{Collector, line_break};
use crate::outcome::Severity;

/// `utf8`: one finding at the first invalid byte.
pub(super) fn utf8(content: &[u8], out: &mut Collector<'_>) {
    let Err(e) = std::str::from_utf8(content) else {
        return;
    };
    let offset = e.valid_up_to();
    let byte = content[offset];
    out.at(offset, Severity::Error, || match (e.error_len(), super::wide_bom(content)) {
        (_, Some(encoding)) => format!("not UTF-8: the file begins with a byte order mark of {encoding}"),
        (Some(_), None) => format!("invalid UTF-8 at byte offset {offset} (byte 0x{byte:02X})"),
        (None, None) => format!("truncated UTF-8 sequence at end of file (byte offset {offset}, byte 0x{byte:02X})"),
    });
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// A blank right before a line break. One pass of a SIMD literal search
/// (the `regex` crate's Teddy) is about three times faster than visiting every
/// line with `memchr`.
static BLANK_BEFORE_BREAK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r" \n|\t\n| \r\n|\t\r\n").expect("literal alternation compiles"));

/// The same in a file whose lines end at `\r` (see [`line_break`]).
static BLANK_BEFORE_CR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r" \r|\t\r").expect("literal alternation compiles"));

/// `trailing-whitespace`: spaces and tabs before a line's end (`\n`, `\r\n`,
/// `\r` in a file of old Mac line endings, or the end of the file). Reports the first trailing blank of each line.
/// Markdown's two-space hard line break is reported too: Markdown files
/// are `markdown-trailing-whitespace`'s.
///
/// `in_tests`: the file is below a directory of tests, where the bodies of
/// PHP's and Ruby's heredocs ([`heredoc_bodies`]) are a test's expected
/// output or input and keep their blanks.
pub(super) fn trailing_whitespace(content: &[u8], in_tests: bool, out: &mut Collector<'_>) {
    let transcript = Transcript::new(content);
    let hunks = Hunks::new(content);
    let snapshots = InlineSnapshots::new(content);
    let examples = std::cell::OnceCell::new();
    let in_example = |end: usize| {
        let spans: &Vec<(usize, usize)> = examples.get_or_init(|| spec_examples(content));
        let i = spans.partition_point(|&(start, _)| start < end);
        i > 0 && end <= spans[i - 1].1
    };
    let dumps = std::cell::OnceCell::new();
    let in_dump = |end: usize| {
        let runs: &Vec<(usize, usize)> = dumps.get_or_init(|| number_dumps(content));
        let i = runs.partition_point(|&(start, _)| start < end);
        i > 0 && end <= runs[i - 1].1
    };
    let heredocs = std::cell::OnceCell::new();
    let in_heredoc = |end: usize| {
        let bodies: &Vec<(usize, usize)> = heredocs.get_or_init(|| heredoc_bodies(content));
        let i = bodies.partition_point(|&(start, _)| start < end);
        i > 0 && end <= bodies[i - 1].1
    };
    let genomic = genomic_records(content);
    let licence = std::cell::OnceCell::new();
    let literals = std::cell::OnceCell::new();
    let in_literal = |end: usize| {
        let bodies: &Vec<(usize, usize)> = literals.get_or_init(|| triple_quoted_values(content));
        let i = bodies.partition_point(|&(start, _)| start < end);
        i > 0 && end <= bodies[i - 1].1
    };
    trailing_blanks(content, out, |end| {
        transcript.output_at(end)
            || hunks.body_at(end)
            || snapshots.inside(end)
            || (in_tests && (in_heredoc(end) || in_literal(end)))
            || in_dump(end)
            || in_example(end)
            || (genomic && !comment_line(content, end))
            || published_blank(line_to(content, end), || *licence.get_or_init(|| published_licence(content)))
    });
}

/// Licence texts as their stewards publish them, each with the one line
/// of it that ends in a blank, and how the text is told (in its first
/// 4 KiB): the SIL Open Font License, 1.1, by its title line (fonts'
/// `OFL.txt`), and the Creative Commons 4.0 licences, by the notice that
/// opens them (docs' `LICENSE`: kind's, cdk8s', libuv's `LICENSE-docs`).
const PUBLISHED_BLANKS: [(&[u8], &[u8]); 2] = [
    (
        b"SIL OPEN FONT LICENSE Version 1.1 - 26 February 2007",
        b"fonts, including any derivative works, can be bundled, embedded, ",
    ),
    (b"Creative Commons Corporation (\"Creative Commons\") is not a law firm", b"     for the public: "),
];

/// Whether `line` is one a published licence ends with a blank, and
/// `licence()` (asked only then) says the file is that licence's text.
fn published_blank(line: &[u8], licence: impl FnOnce() -> Option<usize>) -> bool {
    PUBLISHED_BLANKS.iter().position(|&(_, blank)| line == blank).is_some_and(|i| licence() == Some(i))
}

/// Which of [`PUBLISHED_BLANKS`]' licences `content` holds the text of.
fn published_licence(content: &[u8]) -> Option<usize> {
    let head = &content[..content.len().min(4096)];
    PUBLISHED_BLANKS.iter().position(|&(sign, _)| memchr::memmem::find(head, sign).is_some())
}

/// The line, from its start, up to byte `end`.
fn line_to(content: &[u8], end: usize) -> &[u8] {
    let start = memchr::memrchr2(b'\n', b'\r', &content[..end]).map_or(0, |i| i + 1);
    &content[start..end]
}

/// Whether `content` is in one of genomics' tab-separated formats, by its
/// first line: SAM's header (`@HD`, `@SQ`, `@RG`, `@PG` or `@CO` and a
/// tab), VCF's `##fileformat=VCF`, GFF's `##gff-version`, GAF's
/// `!gaf-version`. A record's trailing tab is an empty last field (htslib
/// writes a bare `@CO` as `@CO` and a tab), a trailing blank a field's
/// value (a `@PG` line's command line).
fn genomic_records(content: &[u8]) -> bool {
    [&b"@HD\t"[..], b"@SQ\t", b"@RG\t", b"@PG\t", b"@CO\t", b"##fileformat=VCF", b"##gff-version", b"!gaf-version"]
        .iter()
        .any(|sign| content.starts_with(sign))
}

/// Whether the line ending at byte `end` is a comment's prose: `#` alone
/// or followed by a blank (not VCF's `##` meta-information or its
/// `#CHROM` header).
fn comment_line(content: &[u8], end: usize) -> bool {
    let start = memchr::memrchr(b'\n', &content[..end]).map_or(0, |i| i + 1);
    let line = &content[start..];
    line.starts_with(b"#") && line.get(1).is_none_or(|&b| is_blank(b) || b == b'\n' || b == b'\r')
}

/// The fence CommonMark's specification opens an example with (32
/// backticks and the word), and closes it with (the backticks alone).
const SPEC_EXAMPLE: &[u8] = b"```````````````````````````````` example";

/// The examples of a specification in CommonMark's format (`spec.txt`,
/// which cmark, commonmark.js and the other implementations copy and run
/// with `spec_tests.py`): from a line [`SPEC_EXAMPLE`] to the next line of
/// its 32 backticks alone, as byte ranges, in order. An example's input
/// and HTML are compared byte for byte (`foo  ` before a hard line break).
fn spec_examples(c: &[u8]) -> Vec<(usize, usize)> {
    let fence = &SPEC_EXAMPLE[..32];
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&c[from..], SPEC_EXAMPLE) {
        let open = from + i;
        let body = memchr::memchr(b'\n', &c[open..]).map_or(c.len(), |n| open + n + 1);
        let at_start = open == 0 || c[open - 1] == b'\n';
        // The closing line: the backticks alone (a CR before its line feed).
        let mut at = body;
        let mut close = None;
        while at < c.len() {
            let end = memchr::memchr(b'\n', &c[at..]).map_or(c.len(), |n| at + n);
            let line = &c[at..end];
            if line.strip_suffix(b"\r").unwrap_or(line) == fence {
                close = Some(at);
                break;
            }
            at = end + 1;
        }
        let Some(close) = close else { break };
        if at_start {
            spans.push((body, close));
        }
        from = close + fence.len();
    }
    spans
}

/// The bodies of the triple-quoted string literals (`"""` or `'''`: Python's,
/// Kotlin's, Swift's, Julia's) that are values, as byte ranges, in order:
/// the literal follows `=` (`==` too), `(`, `,`, `[` or `{`, past blanks,
/// line breaks and a string prefix (`r`, `b`, `f`, `u`), as a test's
/// expected output does (`assertEqual(str(alignment), """…`, `expected =
/// """…`). A docstring follows a line's end instead, and is not one. A
/// literal never closed ends the search.
fn triple_quoted_values(c: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut at = 0;
    loop {
        let next = [&b"\"\"\""[..], b"'''"]
            .iter()
            .filter_map(|q| memchr::memmem::find(&c[at..], q).map(|i| (at + i, *q)))
            .min();
        let Some((open, quote)) = next else { break };
        let body = open + 3;
        let Some(close) = memchr::memmem::find(&c[body..], quote).map(|i| body + i) else { break };
        let prefix = c[..open].iter().rev().take(2).take_while(|b| b"rRbBuUfF".contains(b)).count();
        let before = c[..open - prefix].trim_ascii_end().last();
        if matches!(before, Some(b'=' | b'(' | b',' | b'[' | b'{')) {
            spans.push((body, close));
        }
        at = close + 3;
    }
    spans
}

/// How many rows of numbers in a row make a tool's dump of an array.
const DUMP_ROWS: usize = 8;

/// The runs of at least [`DUMP_ROWS`] lines in a row that hold only
/// numeric literals, each followed by a comma (`0x2d, 0x2d, 0x20, `, `1.5f,
/// -2, `), as byte ranges from the first line's start to the last one's
/// end, in order: an array a tool wrote into source (love's
/// `nogame.lua.h`, which its script writes with a blank after each comma;
/// a shader compiler's bytecode, a keymap table). A hand-written table's
/// few rows are not a run.
fn number_dumps(c: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    // The current run's first line's start, its last line's end, and its
    // length.
    let mut run: Option<(usize, usize, usize)> = None;
    let mut at = 0;
    while at < c.len() {
        let end = memchr::memchr(b'\n', &c[at..]).map_or(c.len(), |i| at + i);
        if numbers_row(&c[at..end]) {
            let (start, _, n) = run.unwrap_or((at, end, 0));
            run = Some((start, end, n + 1));
        } else if let Some((start, last, n)) = run.take()
            && n >= DUMP_ROWS
        {
            runs.push((start, last));
        }
        at = end + 1;
    }
    if let Some((start, last, n)) = run
        && n >= DUMP_ROWS
    {
        runs.push((start, last));
    }
    runs
}

/// Whether `line` holds only numeric literals (decimal, with a fraction,
/// an exponent or C's suffixes, or `0x` hexadecimal), each followed by a
/// comma, between blanks.
fn numbers_row(line: &[u8]) -> bool {
    let Some(items) = line.trim_ascii().strip_suffix(b",") else { return false };
    items.split(|&b| b == b',').all(|item| number(item.trim_ascii()))
}

/// Whether `item` is one numeric literal: `-` at most, then `0x` and hex
/// digits, or digits with a fraction or an exponent; C's suffixes after.
fn number(item: &[u8]) -> bool {
    let item = item.strip_prefix(b"-").unwrap_or(item);
    let suffix = |b: &u8| matches!(b, b'u' | b'U' | b'l' | b'L');
    if let Some(hex) = item.strip_prefix(b"0x").or_else(|| item.strip_prefix(b"0X")) {
        let digits = hex.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        return digits > 0 && hex[digits..].iter().all(suffix);
    }
    let body = &item[..item.len() - item.iter().rev().take_while(|b| suffix(b) || matches!(b, b'f' | b'F')).count()];
    body.first().is_some_and(u8::is_ascii_digit)
        && body.iter().all(|&b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
}

/// Where a heredoc begins: PHP's `<<<ID`, `<<<'ID'` or `<<<"ID"` (blanks
/// allowed after `<<<`), Ruby's and Perl's `<<~ID`, `<<-ID` (quoted or
/// not), `<<ID` of capitals and digits (`a <<b` is a shift), and `<<'ID'`
/// or `<<"ID"` (Perl's tests' `my $config = <<'EOT';`).
static HEREDOC_OPENER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"<<<[ \t]*(?:'([A-Za-z_]\w*)'|"([A-Za-z_]\w*)"|([A-Za-z_]\w*))|<<[~-](?:'([A-Za-z_]\w*)'|"([A-Za-z_]\w*)"|([A-Za-z_]\w*))|<<([A-Z_][A-Z0-9_]*)\b|<<(?:'([A-Za-z_]\w*)'|"([A-Za-z_]\w*)")"#,
    )
    .expect("the opener compiles")
});

/// The bodies of the heredocs in PHP, Ruby or Perl source, as byte ranges (from
/// the line after the opener to the closing line, exclusive), in order.
/// A heredoc's body runs from the line after its opener to a line holding
/// its identifier alone (after blanks: PHP 7.3's and Ruby's `<<~` and `<<-`
/// closers may be indented; in PHP, `;`, `,` or `)` may follow it); a line
/// with several openers (`f(<<~A, <<~B)`) has their bodies one after the
/// other. One never closed is no heredoc (`<<<` in a comment).
fn heredoc_bodies(c: &[u8]) -> Vec<(usize, usize)> {
    let mut bodies = Vec::new();
    let line_end = |at: usize| memchr::memchr(b'\n', &c[at..]).map_or(c.len(), |i| at + i);
    // The lines that may close a heredoc, by the word they begin with
    // (after blanks; what follows the word is not a word character): each
    // line's start and end, in order. Found once, so that an opener that
    // never closes (`1<<SHIFT` in C) costs a look-up, not a pass over the
    // rest of the file.
    type Closers<'a> = std::collections::HashMap<&'a [u8], Vec<(usize, usize)>>;
    let closers: std::cell::OnceCell<Closers<'_>> = std::cell::OnceCell::new();
    let closers_of = || {
        closers.get_or_init(|| {
            let mut map = Closers::new();
            let mut at = 0;
            while at < c.len() {
                let e = line_end(at);
                let text = c[at..e].trim_ascii_start();
                let word = text.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count();
                if word > 0 {
                    map.entry(&text[..word]).or_default().push((at, e));
                }
                at = e + 1;
            }
            map
        })
    };
    // From one opener's line to the next's (the regular expression looks
    // for its `<<` across the whole file, not line by line).
    let mut from = 0;
    while let Some(m) = HEREDOC_OPENER.find_at(c, from) {
        let at = memchr::memrchr(b'\n', &c[..m.start()]).map_or(0, |i| i + 1);
        let end = line_end(m.start());
        let ids: Vec<&[u8]> = HEREDOC_OPENER
            .captures_iter(&c[at..end])
            .filter_map(|m| m.iter().skip(1).flatten().next().map(|g| g.as_bytes()))
            .collect();
        let mut next = end + 1;
        let mut found = Vec::new();
        for &id in &ids {
            let lines = closers_of().get(id).map(Vec::as_slice).unwrap_or_default();
            let i = lines.partition_point(|&(line, _)| line < next);
            let Some(&(close_start, close_end)) = lines.get(i) else { break };
            found.push((next, close_start));
            next = close_end + 1;
        }
        // All the line's heredocs closed: their bodies count, and the scan
        // goes on after the last; otherwise none is one.
        if found.is_empty() || found.len() < ids.len() {
            from = end + 1;
        } else {
            bodies.extend(found);
            from = next;
        }
        if from > c.len() {
            break;
        }
    }
    bodies
}

/// Expected output written inline in tests, which a tool rewrites with
/// what the code under test printed and compares byte for byte: in Rust,
/// the raw string of expect-test's `expect![[r#"…"#]]` and snapbox's
/// `str![[r#"…"#]]` (rust-analyzer's, cargo's), and insta's `@r"…"`,
/// `@r#"…"#` or `@"…"` literal in a file that has an `assert_…snapshot!(`
/// call; in JavaScript and TypeScript, the template literal of Jest's and
/// Vitest's `toMatchInlineSnapshot(`…`)` and
/// `toThrowErrorMatchingInlineSnapshot(`…`)`. Their trailing blanks are the
/// output's (a table's padded cell, a diagnostic's empty gutter); the
/// code's around them are reported.
///
/// Found once, when the first blank is asked about, in a file that has an
/// opener at all.
struct InlineSnapshots<'c> {
    content: &'c [u8],
    /// The literals' bodies, as byte ranges, in order.
    spans: std::cell::OnceCell<Vec<(usize, usize)>>,
}

/// Where Jest's and Vitest's inline snapshot begins: the matcher's call,
/// a property matcher object at most, then the template literal's
/// backtick.
static JS_SNAPSHOT_OPENER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:toMatchInlineSnapshot|toThrowErrorMatchingInlineSnapshot)\(\s*(?:\{[^`]*?\},\s*)?`")
        .expect("the opener compiles")
});

/// Where an inline snapshot's literal begins: the macro or `@`, then an
/// `r` and its hashes, if raw, then the quote.
static SNAPSHOT_OPENER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?:(?-u:\b)(?:expect|str)!\[\[|@)(r#*)?""#).expect("the opener compiles"));

impl<'c> InlineSnapshots<'c> {
    fn new(content: &'c [u8]) -> Self {
        InlineSnapshots { content, spans: std::cell::OnceCell::new() }
    }

    /// Whether byte `end` (a blank run's end) is inside a literal.
    fn inside(&self, end: usize) -> bool {
        let spans = self.spans.get_or_init(|| Self::find(self.content));
        let i = spans.partition_point(|&(start, _)| start < end);
        i > 0 && end <= spans[i - 1].1
    }

    fn find(c: &[u8]) -> Vec<(usize, usize)> {
        let mut spans = Self::find_rust(c);
        // ESLint's `RuleTester` (and typescript-eslint's): a rule's tests,
        // whose cases' `code` and `output` template literals are what the
        // rule reads and what its fix must write, byte for byte (a removed
        // statement leaves its indent).
        if memchr::memmem::find(c, b"RuleTester").is_some() {
            spans.extend(template_literals(c));
            spans.sort_unstable();
            // Nested literals (one in another's `${…}`) make one span.
            spans.dedup_by(|later, first| {
                let overlaps = later.0 <= first.1;
                if overlaps {
                    first.1 = first.1.max(later.1);
                }
                overlaps
            });
        }
        if memchr::memmem::find(c, b"InlineSnapshot(").is_some() {
            let mut from = 0;
            while let Some(m) = JS_SNAPSHOT_OPENER.find_at(c, from) {
                // The literal ends at the first backtick no backslash
                // escapes (Jest escapes the snapshot's own, and its `${`).
                let Some(close) = unescaped(c, m.end(), b'`') else { break };
                spans.push((m.end(), close));
                from = close + 1;
            }
            spans.sort_unstable();
        }
        spans
    }

    fn find_rust(c: &[u8]) -> Vec<(usize, usize)> {
        let insta = memchr::memmem::find(c, b"snapshot!(").is_some();
        let mut spans = Vec::new();
        let mut from = 0;
        while let Some(m) = SNAPSHOT_OPENER.captures_at(c, from) {
            let (whole, raw) = (m.get(0).expect("a match"), m.get(1));
            from = whole.end();
            if whole.as_bytes()[0] == b'@' && !insta {
                continue;
            }
            let body = whole.end();
            let close = match raw {
                // A raw string ends at the quote and as many hashes.
                Some(r) => {
                    let mut closing = vec![b'"'];
                    closing.extend(std::iter::repeat_n(b'#', r.len() - 1));
                    memchr::memmem::find(&c[body..], &closing).map(|i| body + i)
                }
                // Another at the first quote no backslash escapes.
                None => unescaped(c, body, b'"'),
            };
            let Some(close) = close.filter(|&e| e <= c.len()) else { break };
            spans.push((body, close));
            from = close + 1;
        }
        spans
    }
}

/// The hunks of unified diffs in a file that is not a patch (a test's
/// expected `git log -p` output, a document's example, a here-document):
/// a `@@ -a,b +c,d @@` line at a line's start, then exactly the lines its
/// counts account for, each beginning with ` `, `-` or `+` (or `\`, git's
/// "No newline at end of file"). A line of one space there is an empty
/// line of context, not a stray blank; other blanks (on a `+` line of a
/// document's example) are still the author's to answer for. A hunk whose
/// lines do not add up is not one.
///
/// Found once, when the first blank is asked about, in a file holding a
/// hunk header at all.
struct Hunks<'c> {
    content: &'c [u8],
    /// The hunks' bodies, as byte ranges, in order, each with its indent.
    bodies: std::cell::OnceCell<Vec<(usize, usize, usize)>>,
}

impl<'c> Hunks<'c> {
    fn new(content: &'c [u8]) -> Self {
        Hunks { content, bodies: std::cell::OnceCell::new() }
    }

    /// Whether the blank before `end` is a line of one space (after the
    /// hunk's indent), an empty line of context, in a hunk's body. (Other
    /// blanks there may be an author's, in a document's example.)
    fn body_at(&self, end: usize) -> bool {
        let c = self.content;
        let line_start = memchr::memrchr(b'\n', &c[..end]).map_or(0, |i| i + 1);
        let line_end = memchr::memchr(b'\n', &c[end..]).map_or(c.len(), |i| end + i);
        let line = &c[line_start..line_end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() || line.iter().any(|&b| b != b' ') {
            return false;
        }
        let bodies = self.bodies.get_or_init(|| {
            let c = self.content;
            if memchr::memmem::find(c, b"@@ -").is_some() { hunk_bodies(c) } else { Vec::new() }
        });
        let at = end.saturating_sub(1);
        let i = bodies.partition_point(|&(start, ..)| start <= at);
        i > 0 && at < bodies[i - 1].1 && line.len() == bodies[i - 1].2 + 1
    }
}

/// The bodies of the unified diff hunks in `c` (see [`Hunks`]), each with
/// the indent of its header, which every line of it has too (a diff in a
/// YAML block scalar, a reStructuredText `code-block`).
fn hunk_bodies(c: &[u8]) -> Vec<(usize, usize, usize)> {
    let line_at = |at: usize| {
        let end = memchr::memchr(b'\n', &c[at..]).map_or(c.len(), |i| at + i);
        let line = &c[at..end];
        (line.strip_suffix(b"\r").unwrap_or(line), end + 1)
    };
    let mut bodies = Vec::new();
    let mut at = 0;
    while at < c.len() {
        let (line, next) = line_at(at);
        at = next;
        let indent = line.iter().take_while(|&&b| b == b' ').count();
        let Some((mut old, mut new)) = hunk_header(&line[indent..]) else { continue };
        let start = at;
        let mut p = at;
        let whole = loop {
            if old == 0 && new == 0 {
                // git's note on a last line without a line break.
                if p < c.len() && line_at(p).0.strip_prefix(&line[..indent]).is_some_and(|l| l.starts_with(b"\\")) {
                    p = line_at(p).1;
                }
                break true;
            }
            if p >= c.len() {
                break false;
            }
            let (body, after) = line_at(p);
            let Some(body) = body.strip_prefix(&line[..indent]) else { break false };
            match body.first() {
                Some(b' ') if old > 0 && new > 0 => (old, new) = (old - 1, new - 1),
                Some(b'-') if old > 0 => old -= 1,
                Some(b'+') if new > 0 => new -= 1,
                Some(b'\\') => {}
                _ => break false,
            }
            p = after;
        };
        if whole {
            bodies.push((start, p.min(c.len()), indent));
            at = p;
        }
    }
    bodies
}

/// The line counts of a unified diff's hunk header, `@@ -a[,b] +c[,d] @@`
/// (a count left out is 1), then anything (git's function context).
fn hunk_header(line: &[u8]) -> Option<(usize, usize)> {
    fn range(s: &[u8]) -> Option<(usize, &[u8])> {
        let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
        let n = digits(s);
        if n == 0 {
            return None;
        }
        let rest = &s[n..];
        match rest.strip_prefix(b",") {
            Some(r) => {
                let m = digits(r);
                let count = std::str::from_utf8(&r[..m]).ok()?.parse().ok()?;
                (m > 0).then_some((count, &r[m..]))
            }
            None => Some((1, rest)),
        }
    }
    let (old, rest) = range(line.strip_prefix(b"@@ -")?)?;
    let (new, rest) = range(rest.strip_prefix(b" +")?)?;
    rest.starts_with(b" @@").then_some((old, new))
}

/// A shell transcript as cram tests write them (dune's, Mercurial's,
/// prysk's `*.t`) and documents show them: a command line `  $ …` (two
/// spaces, `$`, a blank), its continuation lines `  > …`, then the lines of
/// its output, each indented by two spaces, which must be what the command
/// prints, byte for byte (an empty output line is two spaces: a truly empty
/// line ends the block). Their trailing blanks are the output's, and so is
/// the blank of an empty continuation line, `  > ` (an empty line of a
/// here-document: cram and prysk read a continuation only with its blank,
/// and dune writes one so whenever it promotes a test's output); the
/// commands' and everything else's are reported.
///
/// Looked at lazily, line by line in order, as the blanks are found.
struct Transcript<'c> {
    content: &'c [u8],
    /// Whether the file has a command line at all (decided at the first
    /// blank asked about).
    any: std::cell::OnceCell<bool>,
    /// Where the lines not classified yet begin, and whether the line
    /// before them is in a command's block.
    scanned: std::cell::Cell<(usize, bool)>,
}

impl<'c> Transcript<'c> {
    fn new(content: &'c [u8]) -> Self {
        Transcript { content, any: std::cell::OnceCell::new(), scanned: std::cell::Cell::new((0, false)) }
    }

    /// Whether the run of blanks ending at `end` ends a line of a command's
    /// output, or an empty continuation line.
    fn output_at(&self, end: usize) -> bool {
        const COMMAND: &[u8] = b"  $ ";
        let c = self.content;
        let any = *self.any.get_or_init(|| c.starts_with(COMMAND) || memchr::memmem::find(c, b"\n  $ ").is_some());
        if !any {
            return false;
        }
        let line_of = |at: usize| memchr::memrchr(b'\n', &c[..at]).map_or(0, |i| i + 1);
        let target = line_of(end);
        let (mut at, mut in_block) = self.scanned.get();
        if target < at {
            // (Asked in order: never; start over if it is.)
            (at, in_block) = (0, false);
        }
        let mut output = false;
        while at <= target {
            let line_end = memchr::memchr(b'\n', &c[at..]).map_or(c.len(), |i| at + i);
            let line = &c[at..line_end];
            let command = line.starts_with(COMMAND);
            let more = in_block && line.starts_with(b"  >");
            output = (in_block && !command && !more && line.starts_with(b"  ")) || (more && line == b"  > ");
            in_block = command || more || output;
            at = line_end + 1;
        }
        self.scanned.set((at, in_block));
        output
    }
}

/// The template literals of JavaScript or TypeScript source, as byte ranges
/// from the opening backtick to the closing one (a `${…}` in one is part of
/// it, and a literal in that is listed too): the source read as far as
/// finding them needs, skipping comments and quoted strings (a string
/// ends at its quote or its line's end, so a regular expression holding a
/// quote goes astray for a line at most). One never closed runs to the
/// end.
fn template_literals(c: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    // The literals whose `${…}` is being read: each one's start, and the
    // depth of braces around it when it opened.
    let mut open: Vec<(usize, usize)> = Vec::new();
    // Reading a literal's text: where it starts.
    let mut text: Option<usize> = None;
    let mut depth = 0usize;
    let mut i = 0;
    while i < c.len() {
        if let Some(start) = text {
            match c[i] {
                b'\\' => i += 2,
                b'`' => {
                    spans.push((start, i));
                    text = None;
                    i += 1;
                }
                b'$' if c.get(i + 1) == Some(&b'{') => {
                    open.push((start, depth));
                    (text, depth) = (None, 0);
                    i += 2;
                }
                _ => i += 1,
            }
            continue;
        }
        let rest = &c[i..];
        if rest.starts_with(b"//") {
            i += memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        } else if rest.starts_with(b"/*") {
            i += memchr::memmem::find(&rest[2..], b"*/").map_or(rest.len(), |j| j + 4);
        } else {
            match c[i] {
                quote @ (b'\'' | b'"') => {
                    let mut j = i + 1;
                    while j < c.len() && c[j] != quote && c[j] != b'\n' {
                        j += if c[j] == b'\\' { 2 } else { 1 };
                    }
                    i = j + 1;
                }
                b'`' => {
                    text = Some(i);
                    i += 1;
                }
                b'{' => {
                    depth += 1;
                    i += 1;
                }
                b'}' => {
                    // The `}` of a `${…}`: its literal's text goes on.
                    if depth == 0
                        && let Some((start, outer)) = open.pop()
                    {
                        (text, depth) = (Some(start), outer);
                    } else {
                        depth = depth.saturating_sub(1);
                    }
                    i += 1;
                }
                _ => i += 1,
            }
        }
    }
    if let Some(start) = text.or(open.first().map(|&(s, _)| s)) {
        spans.push((start, c.len()));
    }
    spans
}

/// The first `quote` at or after `from` that no backslash escapes.
fn unescaped(c: &[u8], from: usize, quote: u8) -> Option<usize> {
    let mut i = from;
    loop {
        match memchr::memchr2(quote, b'\\', c.get(i..).unwrap_or_default()) {
            Some(j) if c[i + j] == b'\\' => i += j + 2,
            Some(j) => break Some(i + j),
            None => break None,
        }
    }
}

/// `markdown-trailing-whitespace`: as `trailing-whitespace`, but for
/// CommonMark's hard line break: exactly two spaces ending a line that holds
/// something else, before a line that is not blank (the same paragraph goes
/// on), as markdownlint's MD009 allows them.
pub(super) fn markdown_trailing_whitespace(content: &[u8], out: &mut Collector<'_>) {
    let newline = line_break(content);
    let sessions = std::cell::OnceCell::new();
    let examples = std::cell::OnceCell::new();
    let kept = std::cell::OnceCell::new();
    trailing_blanks(content, out, |end| {
        let within = |spans: &Vec<(usize, usize)>| {
            let i = spans.partition_point(|&(start, _)| start < end);
            i > 0 && end <= spans[i - 1].1
        };
        // A shell session's output; a CommonMark specification's example
        // (commonmark-hs' `test/*.md`, in the spec's format); a region the
        // page keeps from Prettier.
        if within(sessions.get_or_init(|| session_output(content)))
            || within(examples.get_or_init(|| spec_examples(content)))
            || within(kept.get_or_init(|| prettier_ignored(content)))
        {
            return true;
        }
        let (first, line_end) = (end.saturating_sub(2), end);
        let two_spaces = end >= 3 && &content[first..end] == b"  ";
        // What the line holds before them: not nothing (a byte order mark
        // is nothing), and no ATX heading, whose trailing blanks are not
        // part of it.
        let start = memchr::memrchr2(b'\n', b'\r', &content[..first]).map_or(0, |i| i + 1);
        let text = &content[start..first];
        let text = if start == 0 { text.strip_prefix(super::BOM).unwrap_or(text) } else { text };
        let held = text.last().is_some_and(|&b| !is_blank(b)) && !atx_heading(text);
        two_spaces && held && {
            // The next line: past this one's break (`\r\n` or the file's).
            let rest = &content[line_end..];
            let rest = rest.strip_prefix(b"\r\n").or_else(|| rest.strip_prefix(&[newline][..])).unwrap_or(&[]);
            let next = &rest[..memchr::memchr2(b'\n', b'\r', rest).unwrap_or(rest.len())];
            next.iter().any(|&b| !is_blank(b))
        }
    });
}

/// The regions (as byte ranges, in order) a Markdown page keeps from
/// Prettier, between a `<!-- prettier-ignore-start -->` line and the next
/// `<!-- prettier-ignore-end -->` (or the end of the file): their layout is
/// the author's on purpose (Exercism's `ocr-numbers` instructions, whose
/// digits are drawn in cells three columns wide, blanks and all).
fn prettier_ignored(content: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(at) = memchr::memmem::find(&content[from..], b"<!-- prettier-ignore-start -->") {
        let start = from + at;
        let end = memchr::memmem::find(&content[start..], b"<!-- prettier-ignore-end -->")
            .map_or(content.len(), |e| start + e);
        spans.push((start, end));
        from = end.max(start + 1);
        if from >= content.len() {
            break;
        }
    }
    spans
}

/// The info strings' first words that mark a fenced code block as a shell
/// session (GitHub Linguist's `ShellSession` names, and trycmd's, which
/// runs such blocks of a Markdown file and compares each command's output
/// byte for byte).
const SESSION_INFO: [&[u8]; 5] = [b"console", b"trycmd", b"shell-session", b"sh-session", b"shellsession"];

/// The lines (as byte ranges, in order) of a Markdown file's shell
/// sessions that are not commands: in a fenced code block (backticks or
/// tildes, CommonMark's fences: up to three spaces of indent, three or
/// more of the same character, closed by a run at least as long) whose
/// info string begins with one of [`SESSION_INFO`], or whose first line
/// that is not blank is a command (hledger's ```` ```cli ```` blocks, a
/// README's untagged `$ docker compose up`), each line but a command
/// (`$ …`, or `$` alone, after blanks at most) and the `> ` continuations
/// right after one is what a command printed (clap's examples pad their
/// help's columns, hledger's reports their tables' cells), and its blanks
/// are the output's.
fn session_output(content: &[u8]) -> Vec<(usize, usize)> {
    // (Looked for only in a file with a trailing blank to judge.)
    let mut spans = Vec::new();
    // The open fence: its character, its length, and whether it opens a
    // session (`None`: not yet known, a block whose info string names no
    // session is one if its first line that is not blank is a command);
    // and whether the line before was a command's.
    let mut fence: Option<(u8, usize, Option<bool>)> = None;
    let mut after_command = false;
    let mut at = 0;
    while at < content.len() {
        let end = memchr::memchr(b'\n', &content[at..]).map_or(content.len(), |i| at + i);
        let line = &content[at..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let indent = line.iter().take_while(|&&b| b == b' ').count();
        let rest = &line[indent..];
        let run = |ch: u8| rest.iter().take_while(|&&b| b == ch).count();
        match fence {
            None => {
                if let Some(&ch @ (b'`' | b'~')) = rest.first()
                    && indent <= 3
                    && run(ch) >= 3
                {
                    let info = rest[run(ch)..].trim_ascii();
                    // A backtick fence's info string holds no backtick.
                    if !(ch == b'`' && info.contains(&b'`')) {
                        let word = info.split(|b| b.is_ascii_whitespace() || *b == b',' || *b == b'{').next();
                        let session = word.is_some_and(|w| SESSION_INFO.iter().any(|s| w.eq_ignore_ascii_case(s)));
                        (fence, after_command) = (Some((ch, run(ch), session.then_some(true))), false);
                    }
                }
            }
            Some((ch, len, session)) => {
                let text = line.trim_ascii_start();
                let command = text.starts_with(b"$ ") || text == b"$";
                if indent <= 3 && run(ch) >= len && rest[run(ch)..].iter().all(|&b| is_blank(b)) {
                    fence = None;
                } else if session.is_none() && !text.is_empty() {
                    fence = Some((ch, len, Some(command)));
                    after_command = command;
                } else if session == Some(true) {
                    let continued = after_command && text.starts_with(b"> ");
                    after_command = command || continued;
                    if !after_command {
                        spans.push((at, at + line.len()));
                    }
                }
            }
        }
        at = end + 1;
    }
    spans
}

/// Whether a line (without its trailing blanks) is an ATX heading: up to
/// three spaces, one to six `#`, then a blank or nothing (CommonMark,
/// section 4.2).
fn atx_heading(line: &[u8]) -> bool {
    let indent = line.iter().take_while(|&&b| b == b' ').count();
    let hashes = line[indent..].iter().take_while(|&&b| b == b'#').count();
    indent <= 3 && (1..=6).contains(&hashes) && line.get(indent + hashes).is_none_or(|&b| is_blank(b))
}

/// Reports each line's run of trailing blanks but those `allowed` (given
/// the run's end, exclusive).
fn trailing_blanks(content: &[u8], out: &mut Collector<'_>, allowed: impl Fn(usize) -> bool) {
    let newline = line_break(content);
    let before_break: &Regex = if newline == b'\n' { &BLANK_BEFORE_BREAK } else { &BLANK_BEFORE_CR };
    for m in before_break.find_iter(content) {
        if !allowed(m.start() + 1) {
            report_trailing(content, m.start() + 1, out);
        }
    }
    // The last line, when the file does not end with a newline.
    let last_start = memchr::memrchr(newline, content).map_or(0, |i| i + 1);
    let mut end = content.len();
    if end > last_start && content[end - 1] == b'\r' {
        end -= 1;
    }
    if end > last_start && is_blank(content[end - 1]) && !allowed(end) {
        report_trailing(content, end, out);
    }
}

/// Reports the run of blanks ending (exclusive) at `end`. The run cannot
/// cross a line start: neither `\n` nor `\r` is a blank.
fn report_trailing(content: &[u8], end: usize, out: &mut Collector<'_>) {
    let mut first = end - 1;
    while first > 0 && is_blank(content[first - 1]) {
        first -= 1;
    }
    out.at(first, Severity::Error, || {
        let run = &content[first..end];
        let tabs = run.iter().filter(|&&b| b == b'\t').count();
        let spaces = run.len() - tabs;
        let what = match (spaces, tabs) {
            (s, 0) => plural(s, "space"),
            (0, t) => plural(t, "tab"),
            (s, t) => format!("{}, {}", plural(s, "space"), plural(t, "tab")),
        };
        format!("trailing whitespace ({what})")
    });
}

pub(super) fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

/// `final-newline`: a non-empty file must end with `\n`, and not with blank
/// lines (lines with no characters at all; whitespace-only lines are
/// `trailing-whitespace`'s business).
///
/// `blank_lines_kept`: git's `whitespace` leaves blank lines at the end to
/// the file. `blanks_are_blank`: trailing blanks are left to the file
/// (EditorConfig, git), so no other check reports a line of only blanks at
/// the end: it counts as a blank line here, as git's `blank-at-eof` counts
/// it.
pub(super) fn final_newline(content: &[u8], blank_lines_kept: bool, blanks_are_blank: bool, out: &mut Collector<'_>) {
    // A byte order mark is not content: a file of only a BOM is empty, and
    // one of a BOM and newlines holds only blank lines.
    let bom = if content.starts_with(super::BOM) { super::BOM.len() } else { 0 };
    let Some(&last) = content[bom..].last() else { return };
    let newline = line_break(content);
    if last != newline {
        if !one_line_markup(&content[bom..]) && !ends_with_source_map_link(&content[bom..]) {
            out.at(content.len(), Severity::Error, || "file does not end with a newline".to_owned());
        }
        return;
    }
    // Count the line terminators (`\n` or `\r\n`; `\r` in a file of old
    // Mac line endings) the file ends with.
    let mut end = content.len();
    let mut terminators = 0;
    while end > bom && content[end - 1] == newline {
        terminators += 1;
        end -= 1;
        if newline == b'\n' && end > bom && content[end - 1] == b'\r' {
            end -= 1;
        }
        if blanks_are_blank {
            let start = end - content[bom..end].iter().rev().take_while(|&&b| is_blank(b)).count();
            if start < end && (start == bom || content[start - 1] == newline) {
                end = start;
            }
        }
    }
    // The first terminator ends the last non-blank line, unless every line is blank.
    let all_blank = end == bom;
    let blank = if all_blank { terminators } else { terminators - 1 };
    if blank == 0 || blank_lines_kept || (blank == 1 && patch_signature(&content[..end])) {
        return;
    }
    // The first blank line starts after the terminator of the last non-blank one.
    let mut first_blank =
        if all_blank { bom } else { end + memchr::memchr(newline, &content[end..]).map_or(0, |i| i + 1) };
    let mut blank = blank;
    // In a patch, a line that looks blank may be the last hunk's: a
    // context line of an empty line (a lone blank, or nothing, as GNU
    // patch takes it), which the hunk's header counts. Only the lines
    // after the hunk are the file's end.
    if !all_blank
        && newline == b'\n'
        && let Some(hunk_end) = last_hunk_end(content)
        && hunk_end > first_blank
    {
        blank = content[hunk_end..].iter().filter(|&&b| b == newline).count();
        if blank == 0 {
            return;
        }
        first_blank = hunk_end;
    }
    out.at(first_blank, Severity::Warning, || {
        if all_blank {
            format!("file contains only {}", plural(blank, "blank line"))
        } else {
            format!("file ends with {}", plural(blank, "blank line"))
        }
    });
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Marker {
    Ours,
    Base,
    Separator,
    Theirs,
}

impl Marker {
    fn describe(self) -> &'static str {
        match self {
            Marker::Ours => "merge conflict marker `<<<<<<<` (start of a conflict)",
            Marker::Base => "merge conflict marker `|||||||` (common ancestor of a conflict)",
            Marker::Separator => "merge conflict marker `=======` (middle of a conflict)",
            Marker::Theirs => "merge conflict marker `>>>>>>>` (end of a conflict)",
        }
    }
}

/// Which marker, if any, the line `content[start..end]` (without its line
/// break) is. A marker is exactly `size` characters (seven, unless git's
/// `conflict-marker-size` says otherwise), then a space and a label or the
/// end of the line; `=======` may only be followed by blanks.
fn marker(line: &[u8], size: usize) -> Option<Marker> {
    if line.len() < size || size == 0 {
        return None;
    }
    let (head, rest) = line.split_at(size);
    let kind = match head[0] {
        b'<' => Marker::Ours,
        b'|' => Marker::Base,
        b'=' => Marker::Separator,
        b'>' => Marker::Theirs,
        _ => return None,
    };
    if head.iter().any(|&b| b != head[0]) {
        return None;
    }
    // A compiler's test of its conflict-marker diagnostics carries the
    // error it expects on the marker's line (GCC's DejaGnu tests:
    // `<<<<<<< HEAD /* { dg-error "conflict marker" } */`): no merge left
    // that.
    let ok = match kind {
        Marker::Separator => rest.iter().all(|&b| is_blank(b)),
        _ => (rest.is_empty() || rest[0] == b' ') && memmem::find(rest, b"{ dg-").is_none(),
    };
    ok.then_some(kind)
}

/// `merge-conflict`: reports every `<<<<<<<` and `>>>>>>>` marker line, and
/// the `|||||||` and `=======` lines that lie inside a conflict: after a
/// `<<<<<<<` not yet closed and before a `>>>>>>>` (alone they are too
/// common: reStructuredText underlines, tables). Conflicts may nest (a
/// recursive merge's), so open markers are counted. Findings come in file
/// order.
pub(super) fn merge_conflict(content: &[u8], size: usize, out: &mut Collector<'_>) {
    // Two `memmem` scans rule out the usual file with no markers (of
    // seven or more characters, which begin with seven).
    if size >= 7 && OURS.find(content).is_none() && THEIRS.find(content).is_none() {
        return;
    }
    // Every marker line, and whether it is reported.
    let mut markers: Vec<(usize, Marker, bool)> = Vec::new();
    // Conflicts opened and not closed yet.
    let mut open = 0usize;
    // Separators inside open conflicts, reported once one closes.
    let mut pending: Vec<usize> = Vec::new();
    // A byte order mark is not part of the first line.
    let mut line_start = if content.starts_with(super::BOM) { super::BOM.len() } else { 0 };
    for nl in memchr_iter(line_break(content), content).map(Some).chain(std::iter::once(None)) {
        let end = nl.unwrap_or(content.len());
        let mut line = &content[line_start..end];
        if let Some(stripped) = line.strip_suffix(b"\r") {
            line = stripped;
        }
        match marker(line, size) {
            Some(Marker::Ours) => {
                open += 1;
                markers.push((line_start, Marker::Ours, true));
            }
            Some(m @ (Marker::Base | Marker::Separator)) if open > 0 => {
                pending.push(markers.len());
                markers.push((line_start, m, false));
            }
            Some(Marker::Theirs) => {
                for i in pending.drain(..) {
                    markers[i].2 = true;
                }
                open = open.saturating_sub(1);
                markers.push((line_start, Marker::Theirs, true));
            }
            _ => {}
        }
        line_start = end + 1;
    }
    for (offset, m, _) in markers.into_iter().filter(|&(.., reported)| reported) {
        report_marker(out, offset, m, size);
    }
}

/// The markers every conflict has, searched for with finders built once
/// (building one per file took longer than some files' search).
static OURS: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"<<<<<<<"));
static THEIRS: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b">>>>>>>"));

/// Reports marker `m` at `offset`; the message shows it as long as the
/// file's markers are (`size`, where `conflict-marker-size` says so).
fn report_marker(out: &mut Collector<'_>, offset: usize, m: Marker, size: usize) {
    out.at(offset, Severity::Error, || {
        let said = m.describe();
        if size == 7 {
            return said.to_owned();
        }
        let seven = &said[said.find('`').map_or(0, |i| i + 1)..][..7];
        said.replacen(seven, &seven[..1].repeat(size), 1)
    });
}

use super::LineEnding as Ending;

/// Whether the last line links a source map (`//# sourceMappingURL=…`, or
/// `/*# sourceMappingURL=… */` in a style sheet), as compilers and bundlers
/// write it, with no line break after it (tsc's output with `--sourceMap`).
fn ends_with_source_map_link(content: &[u8]) -> bool {
    let last = memchr::memrchr(b'\n', content).map_or(content, |i| &content[i + 1..]);
    last.starts_with(b"//# sourceMappingURL=") || last.starts_with(b"/*# sourceMappingURL=")
}

/// Whether `content` (up to its last non-blank line) ends as `git
/// format-patch` ends a patch: a `-- ` line and git's version (`2.41.0`,
/// `2.39.3 (Apple Git-146)`, Git for Windows' `2.52.0.windows.1`, a
/// build's `2.41.0.640.ga95def55d0-goog`), after which git writes one
/// blank line; or as a forge serves a commit as a patch, its name in
/// git's place (`GitLab`, `cgit v1.2.3`, `cgit 1.2.3-korg`), some with `--`
/// and no blank (buildroot keeps such patches as they were downloaded).
fn patch_signature(content: &[u8]) -> bool {
    let mut lines = content.rsplit(|&b| b == b'\n');
    let (Some(version), Some(dashes)) = (lines.next(), lines.next()) else { return false };
    if dashes != b"-- " && dashes != b"--" {
        return false;
    }
    let version = match version {
        b"GitLab" => return true,
        _ => version.strip_prefix(b"cgit ").map_or(version, |v| v.strip_prefix(b"v").unwrap_or(v)),
    };
    let number = version.split(|&b| b == b' ').next().unwrap_or_default();
    let parts: Vec<&[u8]> = number.split(|&b| b == b'.').collect();
    version.len() <= 64
        && parts.len() >= 2
        && parts.iter().all(|p| !p.is_empty() && p.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-'))
        && parts[..2].iter().all(|p| p.iter().all(u8::is_ascii_digit))
}

/// Where the last hunk of a unified diff in `content` ends: past the last
/// line its header's counts take (`@@ -12,3 +12,4 @@`). `None` without a
/// hunk, or if the lines after its header do not read as its lines (or
/// run out before its counts do).
fn last_hunk_end(content: &[u8]) -> Option<usize> {
    let at = match memchr::memmem::rfind(content, b"\n@@ -") {
        Some(i) => i + 1,
        None if content.starts_with(b"@@ -") => 0,
        None => return None,
    };
    let header_end = at + memchr::memchr(b'\n', &content[at..])? + 1;
    let mut words = content[at + 4..header_end].split(|&b| b == b' ');
    // A range's count: after its comma, or 1 without one.
    let count = |range: &[u8]| -> Option<usize> {
        let n = range.split(|&b| b == b',').nth(1).unwrap_or(b"1");
        std::str::from_utf8(n).ok()?.parse().ok()
    };
    let mut old = count(words.next()?)?;
    let mut new = count(words.next()?.strip_prefix(b"+")?)?;
    if !words.next()?.starts_with(b"@@") {
        return None;
    }
    let mut pos = header_end;
    while old > 0 || new > 0 {
        if pos >= content.len() {
            return None;
        }
        let line_end = memchr::memchr(b'\n', &content[pos..]).map_or(content.len(), |i| pos + i + 1);
        let line = content[pos..line_end].strip_suffix(b"\n").unwrap_or(&content[pos..line_end]);
        match line.strip_suffix(b"\r").unwrap_or(line).first() {
            None | Some(b' ') => {
                old = old.checked_sub(1)?;
                new = new.checked_sub(1)?;
            }
            Some(b'-') => old = old.checked_sub(1)?,
            Some(b'+') => new = new.checked_sub(1)?,
            Some(b'\\') => {}
            Some(_) => return None,
        }
        pos = line_end;
    }
    Some(pos)
}

/// Whether `content` is data or markup a tool writes on one line, without a
/// final line break: a JSON object or array on one line that parses
/// (`JSON.stringify`'s and `json.dump`'s output, a GeoJSON export), XML on
/// one line (an SVG an optimiser or a badge service writes, a sitemap), or
/// an SVG whose element is all on its last line, after its prolog's lines
/// only (the XML declaration, a `DOCTYPE`, comments), as diagrams.net and
/// Illustrator export it.
fn one_line_markup(content: &[u8]) -> bool {
    let content = content.trim_ascii_start();
    let Some(last) = memchr::memrchr2(b'\n', b'\r', content) else {
        return content.starts_with(b"<svg")
            || content.starts_with(b"<?xml")
            || (((content.starts_with(b"{") && content.ends_with(b"}"))
                || (content.starts_with(b"[") && content.ends_with(b"]")))
                && serde_json::from_slice::<serde::de::IgnoredAny>(content).is_ok());
    };
    let prolog = |line: &[u8]| {
        let line = line.trim_ascii();
        line.is_empty()
            || (line.starts_with(b"<?xml") && line.ends_with(b"?>"))
            || (line.starts_with(b"<!DOCTYPE") && line.ends_with(b">"))
            || (line.starts_with(b"<!--") && line.ends_with(b"-->"))
    };
    content[last + 1..].starts_with(b"<svg") && content[..last].split(|&b| b == b'\n' || b == b'\r').all(prolog)
}

/// `mixed-line-endings`: a file using more than one of LF, CRLF and lone CR.
/// One finding, at the first ending that is not the most common kind (ties go
/// to LF, then CRLF). In `delimited` records (CSV, TSV), line breaks inside
/// quoted fields are the fields' data, not line endings: a spreadsheet
/// writes its records with CRLF and the breaks within a cell as LF.
///
/// Where the project sets the ending (`wanted`: EditorConfig's
/// `end_of_line`, see [`FileMarks::eol`]), every ending must be that one:
/// one finding at the first that is not, even in a file that uses only one
/// kind.
pub(super) fn mixed_line_endings(content: &[u8], delimited: bool, wanted: Option<Wanted>, out: &mut Collector<'_>) {
    // Most files have no CR at all: finding none is quicker than counting.
    // (Records wanted to end otherwise are read for their quotes below: a
    // line break in one is not an ending.)
    let records_wanting_cr = delimited && wanted.is_some_and(|w| w.ending != Ending::Lf);
    if memchr::memchr(b'\r', content).is_none() && !records_wanting_cr {
        match wanted {
            None | Some(Wanted { ending: Ending::Lf, .. }) => return,
            // Without a CR every ending is an LF: the first is the first
            // that is not the one wanted.
            Some(w) => {
                if let Some(at) = memchr::memchr(b'\n', content) {
                    let lfs = memchr_iter(b'\n', content).count();
                    report_unwanted(w, [lfs, 0, 0], (at, Ending::Lf), out);
                }
                return;
            }
        }
    }
    if delimited && let Some((counts, firsts)) = record_endings(content) {
        return report_endings(
            counts,
            wanted,
            |majority| {
                // The earliest first ending of another kind.
                (0..3)
                    .filter(|&k| k != majority as usize)
                    .filter_map(|k| firsts[k].map(|at| (at, ENDINGS[k])))
                    .min_by_key(|&(at, _)| at)
            },
            out,
        );
    }
    let crs = memchr_iter(b'\r', content).count();
    let lfs = memchr_iter(b'\n', content).count();
    let crlf = memmem::find_iter(content, b"\r\n").count();
    let counts = [lfs - crlf, crlf, crs - crlf];
    report_endings(
        counts,
        wanted,
        |majority| {
            let mut skip_lf_at = usize::MAX;
            for i in memchr2_iter(b'\r', b'\n', content) {
                let ending = if content[i] == b'\r' {
                    if content.get(i + 1) == Some(&b'\n') {
                        skip_lf_at = i + 1;
                        Ending::CrLf
                    } else {
                        Ending::Cr
                    }
                } else if i == skip_lf_at {
                    continue;
                } else {
                    Ending::Lf
                };
                if ending != majority {
                    return Some((i, ending));
                }
            }
            None
        },
        out,
    );
}

/// The ending a project wants every line of a file to end with, and who
/// says so, for the message.
#[derive(Clone, Copy, Debug)]
pub(super) struct Wanted {
    pub ending: Ending,
    /// git's `eol` (or what its attributes come to), which rules over
    /// `.editorconfig`'s `end_of_line` where the two differ.
    pub by_git: bool,
}

/// The kinds of ending, in the order of the counts (`Ending as usize`).
const ENDINGS: [Ending; 3] = [Ending::Lf, Ending::CrLf, Ending::Cr];

/// How many record endings of each kind delimited records have, and the
/// offset of each kind's first: the line endings outside quoted fields. A
/// field is quoted when it begins with `"` (at a record's start, after a
/// byte order mark, or after a `,`, `;`, tab or `|`), and its quote ends at
/// a `"` not doubled; a `"` within an unquoted field is data. `None` when a
/// quote is left open at the end, or a closing quote is followed by
/// anything but one of those delimiters or a line break: the content is
/// not such records (or is cut short), and every line ending counts.
/// (Counts, not a list: a file of nothing but line endings is as large as
/// a file may be.)
fn record_endings(content: &[u8]) -> Option<([usize; 3], [Option<usize>; 3])> {
    let (mut counts, mut firsts) = ([0usize; 3], [None; 3]);
    let mut see = |at: usize, e: Ending| {
        counts[e as usize] += 1;
        firsts[e as usize].get_or_insert(at);
    };
    let start = if content.starts_with(BOM) { BOM.len() } else { 0 };
    let mut i = start;
    while let Some(j) = memchr::memchr3(b'"', b'\r', b'\n', &content[i..]) {
        let at = i + j;
        match content[at] {
            b'"' => {
                let opens = at == start || matches!(content[at - 1], b',' | b';' | b'\t' | b'|' | b'\r' | b'\n');
                i = at + 1;
                if opens {
                    // To the quote that closes it.
                    loop {
                        let close = i + memchr::memchr(b'"', &content[i..])?;
                        i = close + 1;
                        // Spaces may pad a field (`"x" ,"y"`); a tab is
                        // a delimiter.
                        let padded = i + content[i..].iter().take_while(|&&b| b == b' ').count();
                        match content.get(padded) {
                            Some(b'"') if padded == i => i += 1,
                            None | Some(b',' | b';' | b'\t' | b'|' | b'\r' | b'\n') => break,
                            // `"a"b`: no field of records.
                            Some(_) => return None,
                        }
                    }
                }
            }
            b'\r' if content.get(at + 1) == Some(&b'\n') => {
                see(at, Ending::CrLf);
                i = at + 2;
            }
            b'\r' => {
                see(at, Ending::Cr);
                i = at + 1;
            }
            _ => {
                see(at, Ending::Lf);
                i = at + 1;
            }
        }
    }
    Some((counts, firsts))
}

/// Reports mixed endings, given how many of each kind there are and a way
/// to find the first ending that is not of a given kind: not of the
/// majority's, or, where one is `wanted`, not that one.
fn report_endings(
    counts: [usize; 3],
    wanted: Option<Wanted>,
    first_other: impl FnOnce(Ending) -> Option<(usize, Ending)>,
    out: &mut Collector<'_>,
) {
    if let Some(w) = wanted {
        if counts.iter().enumerate().any(|(k, &n)| k != w.ending as usize && n > 0)
            && let Some(first) = first_other(w.ending)
        {
            report_unwanted(w, counts, first, out);
        }
        return;
    }
    let counts = [(Ending::Lf, counts[0]), (Ending::CrLf, counts[1]), (Ending::Cr, counts[2])];
    if counts.iter().filter(|(_, n)| *n > 0).count() < 2 {
        return;
    }
    let mut majority = counts[0];
    for c in &counts[1..] {
        if c.1 > majority.1 {
            majority = *c;
        }
    }
    let majority = majority.0;
    let first = first_other(majority);
    let Some((offset, minority)) = first else {
        return;
    };
    out.at(offset, Severity::Error, || {
        // A tie has no majority: it goes to LF, then CRLF, and says so.
        let most = counts.iter().map(|c| c.1).max().unwrap_or(0);
        let tied = counts.iter().filter(|c| c.1 == most).count() > 1;
        let against = if tied {
            format!("no kind of ending is the most common ({} taken as the file's)", majority.name())
        } else {
            format!("most lines end with {}", majority.name())
        };
        format!("mixed line endings ({}); first {} ending here, {against}", summary(counts), minority.name())
    });
}

/// Reports the first ending that is not the one the project wants.
fn report_unwanted(w: Wanted, counts: [usize; 3], (offset, ending): (usize, Ending), out: &mut Collector<'_>) {
    out.at(offset, Severity::Error, || {
        let counts = [(Ending::Lf, counts[0]), (Ending::CrLf, counts[1]), (Ending::Cr, counts[2])];
        let rule = if w.by_git {
            format!("git's attributes give it eol={}", w.ending.name().to_ascii_lowercase())
        } else {
            format!(".editorconfig sets end_of_line = {}", w.ending.name().to_ascii_lowercase())
        };
        format!("{} line ending, where {rule} ({})", ending.name(), summary(counts))
    });
}

/// How many endings of each kind there are, as a message says it.
fn summary(counts: [(Ending, usize); 3]) -> String {
    let kinds: Vec<String> = counts.iter().filter(|(_, n)| *n > 0).map(|(e, n)| format!("{n} {}", e.name())).collect();
    kinds.join(", ")
}
