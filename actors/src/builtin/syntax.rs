//! The syntax checks `json` (serde_json, plus duplicate keys), `jsonc`
//! (jsonc-parser, plus duplicate keys) and `toml` (toml); `yaml` has a
//! module of its own. Each reports the first syntax error only: after one a
//! parser cannot reliably go on.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::BOM;
use super::locate::{Collector, Locator};
use crate::outcome::Severity;

/// The content after a leading byte order mark, and the mark's length.
fn strip_bom(content: &[u8]) -> (usize, &[u8]) {
    match content.strip_prefix(BOM) {
        Some(rest) => (BOM.len(), rest),
        None => (0, content),
    }
}

/// The content as UTF-8 after its byte order mark, or a finding at the first
/// invalid byte.
fn utf8_body<'a>(content: &'a [u8], format: &str, out: &mut Collector<'_>) -> Option<(usize, &'a str)> {
    let (bom, body) = strip_bom(content);
    match std::str::from_utf8(body) {
        Ok(text) => Some((bom, text)),
        Err(e) => {
            let offset = bom + e.valid_up_to();
            out.at(offset, Severity::Error, || match super::wide_bom(content) {
                // Notepad's "Unicode", PowerShell 5's `>`.
                Some(encoding) => {
                    format!("the file is {encoding} (it begins with that byte order mark); {format} must be UTF-8")
                }
                None => format!("invalid UTF-8 at byte offset {offset} ({format} must be UTF-8)"),
            });
            None
        }
    }
}

/// A parser's message made one line, without the position it appends itself
/// (`at line 3 column 7`), which the finding carries already.
fn one_line(message: &str, line: usize, column: usize) -> String {
    let position = format!(" at line {line} column {column}");
    let message = match message.find(&position) {
        Some(i) => Cow::Owned(format!("{}{}", &message[..i], &message[i + position.len()..])),
        None => Cow::Borrowed(message),
    };
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

const DUPLICATE_KEY: &str = "duplicate key";

/// `json`: the file is one JSON value (RFC 8259) with no duplicate object
/// keys. An empty or whitespace-only file is an error.
pub(super) fn json(content: &[u8], out: &mut Collector<'_>) {
    let Some((bom, text)) = utf8_body(content, "JSON", out) else {
        return;
    };
    if text.trim_matches([' ', '\t', '\n', '\r']).is_empty() {
        out.at(bom, Severity::Error, || "empty JSON document".to_owned());
        return;
    }
    // A warning about a value the parser refuses (a number past f64, a
    // lone surrogate) would end the check there, hiding the errors after
    // it: the value is replaced by one of the same length and the text
    // parsed again, until an error or the end.
    let stand_ins = StandIns::new(text);
    let mut text = Cow::Borrowed(text);
    // The values found on the tokens are repaired at once (each repair the
    // parser leads to costs a parse of the whole file); the parser then
    // finds the rest.
    let mut found = refused_values(&text, Dialect::Json);
    for p in &found {
        if let Some(repair) = p.repair {
            repair.apply(text.to_mut(), &stand_ins);
        }
    }
    let mut stop = None;
    // A fault of the brackets past the depth the parser reads.
    let mut brackets = None;
    // Whether the file has a duplicate key: the parser stops at the first,
    // so once one is found the parser reads on without looking for them,
    // and every one is found on the tokens, as in `jsonc`.
    let mut duplicates = false;
    for _ in 0..=super::MAX_FINDINGS {
        let Some(problem) = json_problem(&text, !duplicates) else { break };
        if problem.message.starts_with(DUPLICATE_KEY) {
            duplicates = true;
            continue;
        }
        let repair = problem.repair;
        match repair {
            Some(repair) => repair.apply(text.to_mut(), &stand_ins),
            None => stop = Some(problem.at),
        }
        // Past the depth the parser reads, the brackets still are (and
        // nothing else).
        if problem.message == TOO_DEEP {
            brackets = bracket_error(json_brackets(text.as_bytes()), text.len());
        }
        found.push(problem);
        if stop.is_some() {
            break;
        }
    }
    // What ended the check ends its findings: the tokens past a syntax
    // error are not read as the parser would.
    if let Some(stop) = stop {
        found.retain(|p| p.at <= stop);
    }
    found.extend(brackets);
    if duplicates {
        // JSON's tokens are JSONC's, up to the parser's error.
        let until = stop.unwrap_or(text.len());
        push_duplicates(jsonc_duplicates_before(&text, until), content, bom, &mut found);
    }
    stand_ins.show_keys(&mut found);
    report_in_order(found, bom, out);
    if let Some(last) = out.last_line()
        && let Some(line) = template_line(&text, last as usize)
    {
        out.discard_from(u32::try_from(line).unwrap_or(u32::MAX));
    }
}

/// The first line, up to `last` (the last finding's), that shows the file
/// is a template rendered into JSON, as `yaml` tells one (Hugo's
/// `layouts/index.json` for a JSON output format, Docsy's search index a
/// partial renders with `resources.ExecuteAsTemplate`, a Nextflow
/// pipeline's Groovy `slackreport.json`, Caddy's `{{placeholder "…"}}` in
/// a served manifest). JSON's strings end at their line, so each line is
/// read on its own:
/// - outside a string, a template's tag: ERB's, EEx's or Groovy's `<%`, a
///   Jinja tag (`{%` or `{#`, then a blank or `-`), or a `{{` action (then
///   `-`, `~` or blanks at most, then a name, a field, a variable or a
///   block's sign: `{{- $.Scratch.Add`, `{{ range`, `{{#each}}`), none of
///   which JSON has there (a doubled brace before a key, `{{"a": 1}`, is
///   the typo it looks like, and is reported);
/// - inside a string, a `{{ … }}` action holding a quote, which ends the
///   string (`"{{placeholder "http.vars.ReqHost"}}"`); an escaped `\"` is
///   JSON.
fn template_line(text: &str, last: usize) -> Option<usize> {
    let action = |after: &[u8]| {
        let after = after.strip_prefix(b"-").or_else(|| after.strip_prefix(b"~")).unwrap_or(after);
        let after = after.trim_ascii_start();
        after.first().is_some_and(|&b| b.is_ascii_alphabetic() || b"_.$#/>!^&(".contains(&b))
    };
    let tag = |at: &[u8]| match at {
        [b'<', b'%', ..] => true,
        [b'{', b'%' | b'#', next, ..] => matches!(next, b' ' | b'\t' | b'-' | b'+'),
        [b'{', b'{', rest @ ..] => action(rest),
        _ => false,
    };
    // Where the string whose text begins at `from` ends: its closing
    // quote, or the line's end.
    let string_end = |line: &[u8], from: usize| {
        let mut i = from;
        while i < line.len() {
            match line[i] {
                b'\\' => i += 2,
                b'"' => return i,
                _ => i += 1,
            }
        }
        line.len()
    };
    let find = |line: &[u8], from: usize, what: &[u8]| memchr::memmem::find(&line[from..], what).map(|i| from + i);
    text.split('\n').zip(1..=last).find_map(|(line, number)| {
        let line = line.as_bytes();
        let mut i = 0;
        while i < line.len() {
            if line[i] == b'"' {
                // A string: its `{{` action ends it if a quote comes
                // before the action's `}}`.
                let end = string_end(line, i + 1);
                if let Some(open) = find(&line[..end], i + 1, b"{{")
                    && find(line, open + 2, b"}}").is_some_and(|close| end < close)
                {
                    return Some(number);
                }
                i = end + 1;
            } else if tag(&line[i..]) {
                return Some(number);
            } else {
                i += 1;
            }
        }
        None
    })
}

/// Which grammar [`refused_values`] reads.
#[derive(Clone, Copy, PartialEq)]
enum Dialect {
    Json,
    /// JSON with `//` and `/* */` comments; its numbers are not looked at.
    Jsonc,
}

/// The values a parser refuses although the grammar allows them, found on
/// the tokens in one pass: lone surrogate escapes, and (JSON) numbers beyond
/// a 64-bit float's range, each with its repair. Past a syntax error the
/// tokens may be misread; the caller drops what it finds there.
fn refused_values(text: &str, dialect: Dialect) -> Vec<Problem> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    let unit_at = |p: usize| -> Option<u16> {
        let hex = b.get(p..p + 6).filter(|e| e.starts_with(b"\\u"))?;
        u16::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()
    };
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] != b'\\' {
                        i += 1;
                        continue;
                    }
                    match unit_at(i) {
                        // A pair.
                        Some(0xD800..=0xDBFF) if unit_at(i + 6).is_some_and(|u| (0xDC00..=0xDFFF).contains(&u)) => {
                            i += 12;
                        }
                        Some(0xD800..=0xDFFF) => {
                            found.push(Problem {
                                at: i,
                                severity: Severity::Warning,
                                message: LONE_SURROGATE.to_owned(),
                                repair: Some(Repair::Surrogate(i)),
                            });
                            i += 6;
                        }
                        _ => i += 2,
                    }
                }
                i += 1;
            }
            b'/' if dialect == Dialect::Jsonc && b.get(i + 1) == Some(&b'/') => {
                i = b[i..].iter().position(|&c| c == b'\n').map_or(b.len(), |n| i + n);
            }
            b'/' if dialect == Dialect::Jsonc && b.get(i + 1) == Some(&b'*') => {
                i = b[i + 2..].windows(2).position(|w| w == b"*/").map_or(b.len(), |n| i + 2 + n + 2);
            }
            b'-' | b'0'..=b'9' if dialect == Dialect::Json => {
                let len = b[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E'))
                    .count();
                let number = &text[i..i + len];
                if is_json_number(number) && number.parse::<f64>().is_ok_and(f64::is_infinite) {
                    found.push(Problem {
                        at: i,
                        severity: Severity::Warning,
                        message: NUMBER_OUT_OF_RANGE.to_owned(),
                        repair: Some(Repair::Number(i, len)),
                    });
                }
                i += len;
            }
            _ => i += 1,
        }
    }
    found
}

/// Whether `s` is a number as JSON writes one (RFC 8259, section 6).
fn is_json_number(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s).as_bytes();
    let digits = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
    let int = digits(s);
    if int == 0 || (int > 1 && s[0] == b'0') {
        return false;
    }
    let mut rest = &s[int..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = digits(frac);
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    if let Some(exp) = rest.strip_prefix(b"e").or_else(|| rest.strip_prefix(b"E")) {
        let exp = exp.strip_prefix(b"+").or_else(|| exp.strip_prefix(b"-")).unwrap_or(exp);
        let n = digits(exp);
        if n == 0 {
            return false;
        }
        rest = &exp[n..];
    }
    rest.is_empty()
}

const NUMBER_OUT_OF_RANGE: &str = "number beyond the range of a 64-bit float (about 1.8e308): valid JSON, but many parsers refuse it (RFC 8259, section 6)";

/// A finding of the JSON checks, with what makes its text parse on, if it
/// is a value the parser refuses.
struct Problem {
    at: usize,
    severity: Severity,
    message: String,
    repair: Option<Repair>,
}

/// Replaces a value the parser refuses by one of the same length it
/// takes, so that offsets, lines and columns stay those of the file.
#[derive(Clone, Copy)]
enum Repair {
    /// A number of this many bytes: `0` and blanks.
    Number(usize, usize),
    /// A lone surrogate's escape: a private-use stand-in of its own.
    Surrogate(usize),
}

impl Repair {
    fn apply(self, text: &mut String, stand_ins: &StandIns) {
        match self {
            Repair::Number(at, len) => text.replace_range(at..at + len, &format!("0{}", " ".repeat(len - 1))),
            // A lone surrogate becomes a private-use character of its own
            // (U+D800 + n becomes the base + n), so that keys which differ
            // only in their lone surrogates stay different.
            Repair::Surrogate(at) => {
                let code = u32::from_str_radix(&text[at + 2..at + 6], 16).unwrap_or(0xd800);
                text.replace_range(at..at + 6, &stand_ins.of(code))
            }
        }
    }
}

/// Where lone surrogates' stand-ins start: the first block of 2,048
/// private-use characters (as many as there are surrogates) that the file
/// holds none of, raw or escaped, so that a stand-in never equals a
/// character of the file: one of the three in the Basic Multilingual
/// Plane, else one of the 64 in planes 15 and 16 (a stand-in there is
/// written raw, four bytes, and two spaces: six bytes, as the escape it
/// replaces). A file that holds a character of every block (67 of them,
/// well chosen) gets no duplicate-key finding about a key with a
/// character of the first block, a lone surrogate's stand-in or not.
struct StandIns {
    base: u32,
    /// Every block holds characters of the file.
    exhausted: bool,
}

impl StandIns {
    const BMP: [u32; 3] = [0xe000, 0xe800, 0xf000];

    /// The blocks, in the order they are tried.
    fn bases() -> impl Iterator<Item = u32> {
        Self::BMP.into_iter().chain((0..64).map(|k| 0xf0000 + k * 0x800))
    }

    /// The block of `c`, if it is in one.
    fn block_of(c: u32) -> Option<u32> {
        match c {
            0xe000..0xf800 => Some(0xe000 + (c - 0xe000) / 0x800 * 0x800),
            0xf0000..=0x10ffff => Some(0xf0000 + (c - 0xf0000) / 0x800 * 0x800),
            _ => None,
        }
    }

    fn new(text: &str) -> Self {
        // Cheap for the files without a surrogate escape: nothing to choose.
        if !text.contains("\\ud") && !text.contains("\\uD") {
            return StandIns { base: Self::BMP[0], exhausted: false };
        }
        let mut used: HashSet<u32> = HashSet::new();
        let mut mark = |c: u32| {
            if let Some(base) = Self::block_of(c) {
                used.insert(base);
            }
        };
        text.chars().for_each(|c| mark(u32::from(c)));
        let bytes = text.as_bytes();
        let escape = |i: usize| {
            bytes
                .get(i + 2..i + 6)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u32::from_str_radix(h, 16).ok())
        };
        for (i, _) in text.match_indices("\\u") {
            match (escape(i), bytes.get(i + 6..i + 8) == Some(b"\\u")) {
                // A pair escapes a character past the Basic Multilingual
                // Plane.
                (Some(high @ 0xd800..=0xdbff), true) => match escape(i + 6) {
                    Some(low @ 0xdc00..=0xdfff) => mark(0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00)),
                    _ => mark(high),
                },
                (Some(code), _) => mark(code),
                (None, _) => {}
            }
        }
        match Self::bases().find(|b| !used.contains(b)) {
            Some(base) => StandIns { base, exhausted: false },
            None => StandIns { base: Self::BMP[0], exhausted: true },
        }
    }

    /// The six bytes that stand for the lone surrogate `code`.
    fn of(&self, code: u32) -> String {
        let stand_in = self.base + code.saturating_sub(0xd800).min(0x7ff);
        match char::from_u32(stand_in) {
            Some(c) if stand_in > 0xffff => format!("{c}  "),
            _ => format!("\\u{stand_in:04x}"),
        }
    }

    /// The duplicate-key findings with their keys' stand-ins shown as the
    /// lone surrogate escapes they stand for, once any was repaired (the
    /// block was then chosen free of the file's own characters); with no
    /// free block, those findings are dropped (they may be false).
    fn show_keys(&self, found: &mut Vec<Problem>) {
        if !found.iter().any(|p| p.message == LONE_SURROGATE) {
            return;
        }
        let block = self.base..self.base + 0x800;
        let holds = |p: &Problem| p.message.chars().any(|c| block.contains(&u32::from(c)));
        if self.exhausted {
            found.retain(|p| !(p.message.starts_with(DUPLICATE_KEY) && holds(p)));
            return;
        }
        let wide = self.base > 0xffff;
        for p in found.iter_mut().filter(|p| p.message.starts_with(DUPLICATE_KEY)) {
            if holds(p) {
                let mut shown = String::with_capacity(p.message.len());
                let mut chars = p.message.chars();
                while let Some(c) = chars.next() {
                    match u32::from(c) {
                        u if block.contains(&u) => {
                            shown.push_str(&format!("\\u{:04x}", 0xd800 + u - self.base));
                            // The two spaces written after a stand-in past
                            // the Basic Multilingual Plane (if the message
                            // did not cut the key short there).
                            if wide {
                                for _ in 0..2 {
                                    if chars.clone().next() == Some(' ') {
                                        chars.next();
                                    }
                                }
                            }
                        }
                        _ => shown.push(c),
                    }
                }
                p.message = shown;
            }
        }
    }
}

/// Reports the findings in file order.
fn report_in_order(mut found: Vec<Problem>, bom: usize, out: &mut Collector<'_>) {
    found.sort_by_key(|p| p.at);
    for p in found {
        out.at(bom + p.at, p.severity, || p.message);
    }
}

/// The first thing serde_json (with `Strict`) refuses in `text`, if any;
/// a duplicate key only if `keys`.
fn json_problem(text: &str, keys: bool) -> Option<Problem> {
    // serde_json's own limit (128 levels) would end the check at any deeper
    // value, missing the errors after it: it is lifted, the stack grows on
    // the heap as needed (serde_stacker), and `Strict` stops at `MAX_DEPTH`.
    //
    // Unwinding from an error, serde_json's string reader locates it anew
    // at each level by counting the lines before it: an error thousands of
    // levels deep in a file of megabytes took minutes. The string reader
    // reads [`DEEP`] levels at most (at worst that many counts); a file
    // that nests deeper is read again through the I/O reader, which keeps
    // count as it goes, and the bracket past `MAX_DEPTH`, if any, is the
    // one found by a scan.
    let mut deep = None;
    let parsed = match strict_parse(&mut serde_json::Deserializer::from_str(text), keys, DEEP) {
        Err(e) if e.to_string().starts_with(PAST_DEEP) => {
            deep = too_deep_at(text.as_bytes());
            strict_parse(&mut serde_json::Deserializer::from_reader(text.as_bytes()), keys, MAX_DEPTH)
        }
        parsed => parsed,
    };
    let e = parsed.err()?;
    let (line, column) = (e.line(), e.column());
    let body = text.as_bytes();
    let mut offset = if column == 0 && line > 1 {
        // serde_json counts the line feed it stopped at as the start of the
        // next line (column 0): the error is at that line feed, the end of
        // the line before (a string left open, a literal cut short).
        Locator::line_start(body, line).saturating_sub(1)
    } else {
        Locator::line_start(body, line) + column.saturating_sub(1)
    }
    .min(body.len());
    let message = e.to_string();
    // serde_json notices a trailing comma at the bracket after it: point at
    // the comma, past the blanks between.
    if message.starts_with("trailing comma") {
        let blanks = body[..offset].iter().rev().take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')).count();
        if offset > blanks && body[offset - blanks - 1] == b',' {
            offset -= blanks + 1;
        }
    }
    // serde_json notices a misspelt literal where it stops reading it:
    // point at the word's start.
    if message.starts_with("expected ident") {
        offset -= body[..offset].iter().rev().take_while(|b| b.is_ascii_alphabetic()).count();
    }
    // Limits of the parser, not syntax errors: RFC 8259 (section 9) lets
    // parsers refuse numbers beyond their range and nesting beyond a depth;
    // serde_json refuses numbers beyond a 64-bit float's, `Strict` nesting
    // deeper than `MAX_DEPTH`; and section 8.2 warns that strings with lone
    // surrogates are handled differently. Said as what they are, warnings.
    let warning = |at: usize, why: &str, repair: Option<Repair>| Problem {
        at,
        severity: Severity::Warning,
        message: why.to_owned(),
        repair,
    };
    if message.starts_with("number out of range") {
        // serde_json points into the number: point at its start.
        let in_number = |b: &u8| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E');
        let start = offset - body[..offset].iter().rev().take_while(|b| in_number(b)).count();
        let len = body[start..].iter().take_while(|b| in_number(b)).count();
        let repair = (len > 0).then_some(Repair::Number(start, len));
        return Some(warning(start, NUMBER_OUT_OF_RANGE, repair));
    }
    if message.starts_with(TOO_DEEP) {
        return Some(warning(deep.unwrap_or(offset), TOO_DEEP, None));
    }
    if (message.starts_with("unexpected end of hex escape")
        || message.starts_with("lone leading surrogate in hex escape"))
        && let Some(escape) = lone_surrogate_before(body, offset)
    {
        // serde_json's words for both halves, reported past the escape.
        return Some(warning(escape, LONE_SURROGATE, Some(Repair::Surrogate(escape))));
    }
    // The parser's words at a comment (`key must be a string`, `expected
    // value`) do not say that JSON has none.
    // Nor, at a blank JSON does not have (a second byte order mark, a
    // no-break space), its `expected value`: named as `jsonc` names it.
    let blank = text
        .get(offset..)
        .and_then(|rest| rest.chars().next())
        .filter(|&c| (c.is_whitespace() && !matches!(c, ' ' | '\t' | '\n' | '\r')) || c == '\u{feff}');
    let message = if body.get(offset) == Some(&b'/') && matches!(body.get(offset + 1), Some(b'/' | b'*')) {
        COMMENT_IN_JSON.to_owned()
    } else if let Some(c) = blank.filter(|_| {
        // Where a token may start or end: not inside a string, a number
        // or a literal, whose own error it is.
        ["expected value", "expected `", "trailing characters", "key must be a string"]
            .iter()
            .any(|m| message.starts_with(m))
    }) {
        format!("{} between tokens: {JSON_BLANKS}", char_name(c))
    } else if message.starts_with("trailing characters") && second_value_on_its_line(body, offset) {
        SECOND_VALUE.to_owned()
    } else if message.starts_with("trailing comma") {
        TRAILING_COMMA.to_owned()
    } else if message.starts_with("expected ident")
        || (message.starts_with("expected value") && body.get(offset).is_some_and(u8::is_ascii_alphabetic))
    {
        // serde_json's words for a literal it began to read (`t`, `f`,
        // `n`) and did not find (`tru`, `nul`), and for a bare word
        // (`True`, `bar`).
        NOT_A_LITERAL.to_owned()
    } else {
        one_line(&message, line, column)
    };
    Some(Problem { at: offset, severity: Severity::Error, message, repair: None })
}

/// A second value after the first, on a line of its own.
const SECOND_VALUE: &str = "trailing characters: a second JSON value after the first (a file of one value per line \
                            is JSON Lines, whose names are `*.jsonl` and `*.ndjson`)";

/// Whether what follows the value at `at` begins a line with an object or
/// an array: `go test -json`'s output, a log of JSON records.
fn second_value_on_its_line(body: &[u8], at: usize) -> bool {
    let line_start = body[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .is_some_and(|nl| body[nl + 1..at].iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')));
    line_start && matches!(body.get(at), Some(b'{' | b'['))
}

/// A trailing comma where strict JSON is checked.
const TRAILING_COMMA: &str = "trailing comma: JSON allows none (a file read as JSON with comments and trailing \
                              commas is for the `jsonc` check: add it to that check's `files`)";

/// A bare word where a value should be.
const NOT_A_LITERAL: &str = "not a JSON value: the literals are true, false and null, in lowercase (JSON has no \
                             NaN, Infinity or undefined), and a string needs double quotes";

/// A comment where strict JSON is checked.
const COMMENT_IN_JSON: &str = "a comment: JSON has none (a file read as JSON with comments is for the `jsonc` \
                               check: add it to that check's `files`)";

/// Parses one JSON value and the end of the text with `Strict` (duplicate
/// keys refused if `keys`, nesting past `limit` refused), the stack growing
/// on the heap as needed.
fn strict_parse<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
    keys: bool,
    limit: usize,
) -> Result<(), serde_json::Error> {
    de.disable_recursion_limit();
    LIMIT.set(limit);
    if keys {
        Strict::<true>::deserialize(serde_stacker::Deserializer::new(&mut *de)).map(drop)
    } else {
        Strict::<false>::deserialize(serde_stacker::Deserializer::new(&mut *de)).map(drop)
    }
    .and_then(|()| de.end())
}

/// The deepest nesting serde_json's string reader is given (ordinary JSON
/// nests a few levels); past it, a file is read through its I/O reader.
const DEEP: usize = 256;

/// The error that sends a file nested past [`DEEP`] to the I/O reader.
const PAST_DEEP: &str = "nested past the string reader's depth";

/// Where the arrays and objects of `body` first nest deeper than
/// [`MAX_DEPTH`] (the bracket that does), strings skipped.
fn too_deep_at(body: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'"' => {
                // To the closing quote, past escaped characters.
                i += 1;
                while let Some(at) = body.get(i..).and_then(|rest| memchr::memchr2(b'"', b'\\', rest)) {
                    i += at;
                    if body[i] == b'"' {
                        break;
                    }
                    i += 2;
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The brackets of a JSON text and what else it holds, in order: each
/// bracket as itself and at its offset, any other token (a string, a
/// number, a literal, `:` or `,`) as `b'v'` at its first byte.
fn json_brackets(body: &[u8]) -> impl Iterator<Item = (usize, u8)> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < body.len() && matches!(body[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        let at = i;
        let b = *body.get(i)?;
        i += 1;
        match b {
            b'[' | b']' | b'{' | b'}' => return Some((at, b)),
            b'"' => {
                // Past the closing quote and the escaped characters before
                // it; a string left open runs to the end.
                i = loop {
                    match body.get(i..).and_then(|rest| memchr::memchr2(b'"', b'\\', rest)) {
                        Some(n) if body[i + n] == b'"' => break i + n + 1,
                        Some(n) => i += n + 2,
                        None => break body.len(),
                    }
                };
            }
            // A number or a literal: to the next blank, bracket, quote or
            // separator.
            _ if !matches!(b, b':' | b',') => {
                while i < body.len()
                    && !matches!(body[i], b' ' | b'\t' | b'\n' | b'\r' | b'[' | b']' | b'{' | b'}' | b'"' | b':' | b',')
                {
                    i += 1;
                }
            }
            _ => {}
        }
        Some((at, b'v'))
    })
}

/// The first offset from `at` that is neither a blank nor in a comment
/// (`//` to the line's end, `/* */`; one left open runs to the end).
fn past_blanks_and_comments(bytes: &[u8], mut at: usize) -> usize {
    loop {
        at += bytes[at..].iter().take_while(|b| b.is_ascii_whitespace()).count();
        let rest = &bytes[at..];
        at += if rest.starts_with(b"//") {
            memchr::memchr(b'\n', rest).unwrap_or(rest.len())
        } else if rest.starts_with(b"/*") {
            memchr::memmem::find(&rest[2..], b"*/").map_or(rest.len(), |n| n + 4)
        } else {
            return at;
        };
    }
}

/// The brackets of a JSON text with comments, as [`json_brackets`] gives
/// them (comments are nothing); a token the scanner cannot read is `b'?'`,
/// and the last.
fn jsonc_brackets(text: &str) -> impl Iterator<Item = (usize, u8)> + '_ {
    use jsonc_parser::tokens::Token;
    let mut scanner = jsonc_parser::Scanner::new(text, &JSONC_SCANNER);
    let mut failed = false;
    std::iter::from_fn(move || {
        loop {
            if failed {
                return None;
            }
            let token = match scanner.scan() {
                Ok(token) => token?,
                Err(e) => {
                    failed = true;
                    return Some((e.range().start, b'?'));
                }
            };
            let kind = match token {
                Token::OpenBrace => b'{',
                Token::CloseBrace => b'}',
                Token::OpenBracket => b'[',
                Token::CloseBracket => b']',
                Token::CommentLine(_) | Token::CommentBlock(_) => continue,
                _ => b'v',
            };
            return Some((scanner.token_start(), kind));
        }
    })
}

/// The first fault of the brackets in `tokens` (as [`json_brackets`] gives
/// them) of a text of `len` bytes whose first value nests too deep for its
/// parser: a bracket that closes the other kind, anything after the value's
/// last bracket, or the end of the text with brackets left open. Nothing
/// else past the parser's depth is read.
fn bracket_error(tokens: impl Iterator<Item = (usize, u8)>, len: usize) -> Option<Problem> {
    let error = |at: usize, message: String| Some(Problem { at, severity: Severity::Error, message, repair: None });
    // The open brackets, innermost last (one byte a level).
    let mut open: Vec<u8> = Vec::new();
    let mut started = false;
    for (at, token) in tokens {
        if started && open.is_empty() {
            return error(at, "trailing characters after the value (read past the depth the check parses)".to_owned());
        }
        started = true;
        match token {
            b'[' | b'{' => open.push(token),
            b']' | b'}' => {
                let expected = match open.pop() {
                    Some(b'[') => b']',
                    Some(_) => b'}',
                    None => token,
                };
                if token != expected {
                    return error(
                        at,
                        format!(
                            "`{}` closes an {}: `{}` expected (read past the depth the check parses)",
                            char::from(token),
                            if expected == b'}' { "object" } else { "array" },
                            char::from(expected)
                        ),
                    );
                }
            }
            b'?' => {
                return error(
                    at,
                    "a token that cannot be read: a string left open, or one that JSON does not have (read past the \
                     depth the check parses)"
                        .to_owned(),
                );
            }
            _ => {}
        }
    }
    (!open.is_empty()).then(|| Problem {
        at: len,
        severity: Severity::Error,
        message: format!(
            "the file ends with {} arrays and objects left open (read past the depth the check parses)",
            open.len()
        ),
        repair: None,
    })
}

/// The `\\uXXXX` escape of a lone UTF-16 surrogate that a parser stopped
/// just past (at most 12 bytes before `at`: the escape, and a second one
/// read hoping for the other half). Of the surrogate escapes there, the
/// last, unless it is a leading half right after another leading half:
/// then that first one, which the second could not complete.
fn lone_surrogate_before(body: &[u8], at: usize) -> Option<usize> {
    let at = at.min(body.len());
    let unit = |p: usize| -> Option<u16> {
        let escape = body.get(p..p + 6)?;
        let backslashes = body[..p].iter().rev().take_while(|&&b| b == b'\\').count();
        if !escape.starts_with(b"\\u") || backslashes % 2 == 1 {
            return None;
        }
        let unit = u16::from_str_radix(std::str::from_utf8(&escape[2..]).ok()?, 16).ok()?;
        (0xD800..=0xDFFF).contains(&unit).then_some(unit)
    };
    let leading = |u: u16| u < 0xDC00;
    let last = (at.saturating_sub(12)..=at).rev().find(|&p| unit(p).is_some())?;
    match (unit(last), last.checked_sub(6).and_then(|p| unit(p).map(|u| (p, u)))) {
        (Some(u), Some((before, b))) if leading(u) && leading(b) => Some(before),
        _ => Some(last),
    }
}

/// Deserializes any JSON value, failing on arrays and objects nested deeper
/// than [`MAX_DEPTH`] and, if `KEYS`, on the first duplicate object key.
struct Strict<const KEYS: bool>;

/// The deepest nesting of arrays and objects the JSON check reads (as jq's
/// parser). Each level costs some stack, which grows on the heap.
const MAX_DEPTH: usize = 10_000;

const TOO_DEEP: &str = "arrays and objects nested more than 10000 deep: the JSON check does not read past that depth (RFC 8259 lets parsers limit it)";

thread_local! {
    /// The arrays and objects `Strict` is inside, on this thread.
    static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// The deepest nesting `Strict` reads on this thread, now: [`DEEP`] or
    /// [`MAX_DEPTH`].
    static LIMIT: std::cell::Cell<usize> = const { std::cell::Cell::new(MAX_DEPTH) };
}

/// One level of nesting, for as long as it lives.
struct Nested;

impl Nested {
    fn enter<E: de::Error>() -> Result<Nested, E> {
        let depth = DEPTH.get() + 1;
        if depth > LIMIT.get() {
            return Err(E::custom(if depth > MAX_DEPTH { TOO_DEEP } else { PAST_DEEP }));
        }
        DEPTH.set(depth);
        Ok(Nested)
    }
}

impl Drop for Nested {
    fn drop(&mut self) {
        DEPTH.set(DEPTH.get() - 1);
    }
}

impl<'de, const KEYS: bool> Deserialize<'de> for Strict<KEYS> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor::<KEYS>)
    }
}

struct StrictVisitor<const KEYS: bool>;

impl<'de, const KEYS: bool> Visitor<'de> for StrictVisitor<KEYS> {
    type Value = Strict<KEYS>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Strict)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Strict)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Strict)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Strict)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Strict)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Strict)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Strict)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Strict::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let _level = Nested::enter()?;
        while seq.next_element::<Strict<KEYS>>()?.is_some() {}
        Ok(Strict)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // Small objects (the vast majority) are checked with a linear scan;
        // large ones switch to a hash set.
        const LINEAR: usize = 16;
        let _level = Nested::enter()?;
        let mut few: Vec<Key<'de>> = Vec::new();
        let mut many: std::collections::HashSet<Key<'de>> = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let duplicate = KEYS
                && if many.is_empty() && few.len() < LINEAR {
                    if few.contains(&key) {
                        true
                    } else {
                        few.push(key.clone());
                        false
                    }
                } else {
                    if many.is_empty() {
                        many.extend(few.drain(..));
                    }
                    !many.insert(key.clone())
                };
            if duplicate {
                return Err(de::Error::custom(format_args!("{DUPLICATE_KEY} `{}`", key.shown())));
            }
            map.next_value::<Strict<KEYS>>()?;
        }
        Ok(Strict)
    }
}

/// An object key, borrowed from the input when it has no escapes.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key<'de>(Cow<'de, str>);

impl Key<'_> {
    /// The key for a message, cut to 40 characters.
    fn shown(&self) -> String {
        let mut chars = self.0.chars();
        let mut s: String = chars.by_ref().take(40).collect();
        if chars.next().is_some() {
            s.push('…');
        }
        s
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// `jsonc`: JSON with comments, as TypeScript, VS Code and dev containers
/// read their configuration: `//` and `/* */` comments and trailing commas
/// are allowed, nothing else of JSON5. Every duplicate key is an error, as
/// in `json`; an empty document (whitespace and comments only) too.
pub(super) fn jsonc(content: &[u8], out: &mut Collector<'_>) {
    let Some((bom, text)) = utf8_body(content, "JSON with comments", out) else {
        return;
    };
    // jsonc-parser's scanner lets raw control characters into strings and
    // JSON5's extra blanks between tokens: its tokens are looked at too, and
    // the first error of either kind is reported. A lone surrogate is
    // replaced and the text parsed again, as in `json`.
    let stand_ins = StandIns::new(text);
    let mut patched = Cow::Borrowed(text);
    // Lone surrogates found on the tokens are repaired at once, as in `json`.
    let mut found = refused_values(text, Dialect::Jsonc);
    for p in &found {
        if let Some(repair) = p.repair {
            repair.apply(patched.to_mut(), &stand_ins);
        }
    }
    // Lone surrogates the parser led to (each one a parse of the file).
    let mut repairs = 0;
    // How far to look for duplicate keys when the parser fails: to its error.
    let mut keys_until = None;
    let parsed = loop {
        match jsonc_parser::parse_to_ast(&patched, &jsonc_parser::CollectOptions::default(), &JSONC) {
            Ok(parsed) => break Ok(parsed.value),
            Err(e) => {
                use jsonc_parser::errors::ParseErrorKind;
                let bytes = patched.as_bytes();
                let at = match e.kind() {
                    // Put at the blank after the value before: the value
                    // that wants one before it is the error.
                    ParseErrorKind::ExpectedComma => past_blanks_and_comments(bytes, e.range().start),
                    // Put at an object's first key: the object, whose `{`
                    // went past the limit, is.
                    ParseErrorKind::NestingDepthExceeded => {
                        let start = e.range().start;
                        let blanks = bytes[..start].iter().rev().take_while(|b| b.is_ascii_whitespace()).count();
                        match start.checked_sub(blanks + 1) {
                            Some(open) if bytes[open] == b'{' => open,
                            _ => start,
                        }
                    }
                    _ => e.range().start,
                };
                let surrogate = match e.kind() {
                    ParseErrorKind::String(jsonc_parser::ParseStringErrorKind::InvalidUnicodeEscapeSequence(_)) => {
                        lone_surrogate_before(patched.as_bytes(), at)
                    }
                    _ => None,
                };
                match surrogate {
                    Some(escape) if repairs <= super::MAX_FINDINGS => {
                        repairs += 1;
                        found.push(Problem {
                            at: escape,
                            severity: Severity::Warning,
                            message: LONE_SURROGATE.to_owned(),
                            repair: None,
                        });
                        Repair::Surrogate(escape).apply(patched.to_mut(), &stand_ins);
                    }
                    _ => {
                        // These are reported at the opening bracket: the
                        // duplicates are looked for up to the end.
                        if matches!(e.kind(), ParseErrorKind::UnterminatedObject | ParseErrorKind::UnterminatedArray) {
                            keys_until = Some(patched.len());
                        }
                        let (severity, message) = match e.kind() {
                            // A limit of the parser, not a syntax error.
                            ParseErrorKind::NestingDepthExceeded => (
                                Severity::Warning,
                                "arrays and objects nested deeper than the JSONC parser's limit (512 levels, an object counting as two): the rest of the file is not checked".to_owned(),
                            ),
                            kind => (Severity::Error, kind.to_string()),
                        };
                        break Err(Problem { at, severity, message, repair: None });
                    }
                }
            }
        }
    };
    let stop = parsed.as_ref().err().map_or(text.len(), |p| p.at);
    // With an error there is no tree: the duplicates before it are found on
    // the tokens.
    let error = match jsonc_lexical_error(text).filter(|&(at, _)| at <= stop) {
        Some((at, why)) => {
            found.retain(|p| p.at < at);
            keys_until = Some(at);
            Some(Problem { at, severity: Severity::Error, message: why, repair: None })
        }
        None => match parsed {
            Err(problem) => {
                keys_until = keys_until.or(Some(problem.at));
                Some(problem)
            }
            Ok(None) => {
                out.at(bom, Severity::Error, || {
                    "empty document: no JSON value, only whitespace and comments".to_owned()
                });
                return;
            }
            Ok(Some(value)) => {
                push_duplicates(jsonc_duplicates(&value), content, bom, &mut found);
                None
            }
        },
    };
    if let Some(error) = error {
        // The tokens past it are not read as the parser would (but for an
        // unclosed bracket, where the error is put and which the parser read
        // to the end).
        let read_to = keys_until.unwrap_or(error.at);
        found.retain(|p| p.at < read_to);
        let until = keys_until.unwrap_or(error.at);
        push_duplicates(jsonc_duplicates_before(&patched, until), content, bom, &mut found);
        // Past the depth the parser reads, the brackets still are.
        let too_deep = error.severity == Severity::Warning;
        found.push(error);
        if too_deep && let Some(brackets) = bracket_error(jsonc_brackets(text), text.len()) {
            found.push(brackets);
        }
    }
    stand_ins.show_keys(&mut found);
    report_in_order(found, bom, out);
}

/// Adds `duplicates` (as [`jsonc_duplicates`] gives them) to `found`, each
/// with the line of its first occurrence.
fn push_duplicates(duplicates: Vec<(usize, String, usize)>, content: &[u8], bom: usize, found: &mut Vec<Problem>) {
    // The lines of the first occurrences, of the duplicates that are
    // listed (not only counted), in one pass.
    let listed = &duplicates[..duplicates.len().min(super::MAX_FINDINGS)];
    let mut firsts: Vec<usize> = listed.iter().map(|d| d.2).collect();
    firsts.sort_unstable();
    firsts.dedup();
    let mut locator = super::locate::Locator::new(content);
    let lines: HashMap<usize, u32> = firsts.into_iter().map(|f| (f, locator.locate(bom + f).0)).collect();
    for (at, key, first) in duplicates {
        let line = lines.get(&first).copied().unwrap_or(0);
        // A control character shown as the escape that wrote it (a raw one
        // would reach the terminal).
        let key: String =
            key.chars().map(|c| if c.is_control() { format!("\\u{:04X}", c as u32) } else { c.to_string() }).collect();
        let message = format!("{DUPLICATE_KEY} `{key}` (first at line {line})");
        found.push(Problem { at, severity: Severity::Error, message, repair: None });
    }
}

/// What JSONC allows of JSON5: comments and trailing commas only.
const JSONC: jsonc_parser::ParseOptions = jsonc_parser::ParseOptions {
    allow_comments: true,
    allow_trailing_commas: true,
    allow_loose_object_property_names: false,
    allow_missing_commas: false,
    allow_single_quoted_strings: false,
    allow_hexadecimal_numbers: false,
    allow_unary_plus_numbers: false,
    allow_bare_decimal_point_numbers: false,
    allow_non_finite_numbers: false,
    allow_extended_string_escapes: false,
};

/// The scanner's part of [`JSONC`], so that the parser and the passes over
/// its tokens agree.
const JSONC_SCANNER: jsonc_parser::ScannerOptions = jsonc_parser::ScannerOptions {
    allow_single_quoted_strings: JSONC.allow_single_quoted_strings,
    allow_hexadecimal_numbers: JSONC.allow_hexadecimal_numbers,
    allow_unary_plus_numbers: JSONC.allow_unary_plus_numbers,
    allow_bare_decimal_point_numbers: JSONC.allow_bare_decimal_point_numbers,
    allow_non_finite_numbers: JSONC.allow_non_finite_numbers,
    allow_extended_string_escapes: JSONC.allow_extended_string_escapes,
};

pub(super) const LONE_SURROGATE: &str = "lone surrogate escape: JSON's grammar allows it, but it is not Unicode text and many parsers refuse it (RFC 8259, section 8.2)";

const JSON_BLANKS: &str = "JSON allows only spaces, tabs and line breaks there";

/// The first blank between tokens that JSON does not allow (a form feed,
/// a no-break space, …), or raw control character inside a string (JSON
/// strings must escape them), with where it is; `None` if there is none
/// before the first error the scanner itself finds.
fn jsonc_lexical_error(text: &str) -> Option<(usize, String)> {
    let mut scanner = jsonc_parser::Scanner::new(text, &JSONC_SCANNER);
    let mut end = 0;
    loop {
        let token = match scanner.scan() {
            Ok(token) => token,
            // The scanner refuses a blank it does not know (a byte order
            // mark, say) as a token: name it as the blank it is.
            Err(e) => {
                let at = e.range().start;
                let c = text[at..].chars().next()?;
                let blank = (c.is_whitespace() && !matches!(c, ' ' | '\t' | '\n' | '\r')) || c == '\u{feff}';
                return blank.then(|| (at, format!("{} between tokens: {JSON_BLANKS}", char_name(c))));
            }
        };
        let start = if token.is_some() { scanner.token_start() } else { text.len() };
        if let Some((i, c)) = text[end..start].char_indices().find(|&(_, c)| !matches!(c, ' ' | '\t' | '\n' | '\r')) {
            return Some((end + i, format!("{} between tokens: {JSON_BLANKS}", char_name(c))));
        }
        let token = token?;
        end = scanner.token_end();
        if let jsonc_parser::tokens::Token::String(_) = token {
            let raw = &text.as_bytes()[start..end];
            if let Some(i) = raw.iter().position(|&b| b < 0x20) {
                let c = char::from(raw[i]);
                return Some((start + i, format!("{} inside a string: JSON strings must escape it", char_name(c))));
            }
        }
    }
}

/// A character as a message names it: `U+000A (line feed)`.
fn char_name(c: char) -> String {
    let name = match c {
        '\n' => " (line feed: the string's closing quote may be missing)",
        '\r' => " (carriage return)",
        '\t' => " (tab)",
        '\u{0b}' => " (vertical tab)",
        '\u{0c}' => " (form feed)",
        '\u{a0}' => " (no-break space)",
        '\u{feff}' => " (byte order mark)",
        '\u{2028}' => " (line separator)",
        '\u{2029}' => " (paragraph separator)",
        _ => "",
    };
    format!("U+{:04X}{name}", u32::from(c))
}

/// Every duplicate key of the document, in file order: where it is, the key
/// as a message shows it, and where its first occurrence is. The parser
/// nests at most 512 deep; the walk keeps its own stack all the same.
fn jsonc_duplicates(value: &jsonc_parser::ast::Value<'_>) -> Vec<(usize, String, usize)> {
    use jsonc_parser::ast::{ObjectPropName, Value};
    let mut duplicates = Vec::new();
    let mut stack = vec![value];
    while let Some(node) = stack.pop() {
        match node {
            Value::Object(object) => {
                let mut seen = HashMap::with_capacity(object.properties.len());
                for prop in &object.properties {
                    let (name, at) = match &prop.name {
                        ObjectPropName::String(s) => (&*s.value, s.range.start),
                        ObjectPropName::Word(w) => (w.value, w.range.start),
                    };
                    if let Some(&first) = seen.get(name) {
                        duplicates.push((at, Key(Cow::Borrowed(name)).shown(), first));
                    } else {
                        seen.insert(name, at);
                    }
                    stack.push(&prop.value);
                }
            }
            Value::Array(array) => stack.extend(array.elements.iter()),
            _ => {}
        }
    }
    duplicates.sort_unstable_by_key(|d| d.0);
    duplicates
}

/// [`jsonc_duplicates`] from the tokens before `stop`: for a file the JSONC
/// parser refused (`stop` is its error), and for JSON, whose tokens are
/// JSONC's. In an object, a string right after `{` or `,` and followed by
/// `:` is a key.
fn jsonc_duplicates_before(text: &str, stop: usize) -> Vec<(usize, String, usize)> {
    use jsonc_parser::tokens::Token;
    enum Frame<'a> {
        Object(HashMap<Cow<'a, str>, usize>),
        Array,
    }
    let mut scanner = jsonc_parser::Scanner::new(text, &JSONC_SCANNER);
    let mut stack: Vec<Frame<'_>> = Vec::new();
    let mut duplicates = Vec::new();
    // Whether a string here would be a key; the key waiting for its colon.
    let mut key_here = false;
    let mut key: Option<(Cow<'_, str>, usize)> = None;
    while let Ok(Some(token)) = scanner.scan() {
        let at = scanner.token_start();
        if at >= stop {
            break;
        }
        let waiting = key.take();
        key_here = match token {
            Token::CommentLine(_) | Token::CommentBlock(_) => {
                key = waiting;
                key_here
            }
            Token::OpenBrace => {
                stack.push(Frame::Object(HashMap::new()));
                true
            }
            Token::OpenBracket => {
                stack.push(Frame::Array);
                false
            }
            Token::CloseBrace | Token::CloseBracket => {
                stack.pop();
                false
            }
            Token::Comma => matches!(stack.last(), Some(Frame::Object(_))),
            Token::String(name) if key_here => {
                key = Some((name, at));
                false
            }
            Token::Colon => {
                if let (Some((name, at)), Some(Frame::Object(seen))) = (waiting, stack.last_mut()) {
                    match seen.get(&name) {
                        Some(&first) => duplicates.push((at, Key(name).shown(), first)),
                        None => {
                            seen.insert(name, at);
                        }
                    }
                }
                false
            }
            _ => false,
        };
    }
    duplicates
}

const FLOAT_OVERFLOW: &str = "float beyond the range of a 64-bit float (about 1.8e308): TOML floats are IEEE 754 binary64 values, and parsers read this one as infinity or refuse it";

/// The spans of the float literals beyond a 64-bit float's range, in file
/// order, before the document's first syntax error.
fn toml_float_overflows(text: &str) -> Vec<std::ops::Range<usize>> {
    use toml::de::{DeTable, DeValue};
    fn collect(value: &toml::Spanned<DeValue<'_>>, out: &mut Vec<std::ops::Range<usize>>) {
        match value.get_ref() {
            DeValue::Float(f)
                if f.as_str().parse::<f64>().is_ok_and(f64::is_infinite) && !f.as_str().contains("inf") =>
            {
                out.push(value.span());
            }
            DeValue::Array(items) => items.iter().for_each(|v| collect(v, out)),
            DeValue::Table(table) => table.values().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    let (document, errors) = DeTable::parse_recoverable(text);
    let first_error = errors.iter().map(|e| e.span().map_or(0, |s| s.start)).min().unwrap_or(usize::MAX);
    let mut spans = Vec::new();
    for value in document.get_ref().values() {
        collect(value, &mut spans);
    }
    spans.retain(|s| s.start < first_error && s.end <= text.len() && s.len() >= 3);
    spans.sort_by_key(|s| s.start);
    spans.dedup();
    spans
}

/// `toml`: the file parses as a TOML document (an empty file is valid).
pub(super) fn toml(content: &[u8], out: &mut Collector<'_>) {
    let Some((bom, text)) = utf8_body(content, "TOML", out) else {
        return;
    };
    // The parser takes one byte order mark itself: a second is not TOML.
    if text.starts_with('\u{feff}') {
        out.at(bom, Severity::Error, || "a second byte order mark: a TOML file may start with one at most".to_owned());
        return;
    }
    // Built into a table: an integer too large for TOML's 64 bits is found
    // only when its value is made, not when the text is parsed.
    let mut parsed = toml::from_str::<toml::Table>(text);
    // A float beyond a 64-bit float's range is TOML, read as infinity by
    // some parsers and refused by others (this one): a warning, as JSON's
    // are. On any error the document is read again, keeping what it can,
    // for such floats before its first syntax error; each is a warning, in
    // file order, read as `0.0` when the file is parsed again, so that what
    // follows them is checked too.
    let mut overflows = Vec::new();
    let mut read = Cow::Borrowed(text);
    if parsed.is_err() {
        overflows = toml_float_overflows(text);
        if !overflows.is_empty() {
            let mut patched = text.to_owned();
            for span in &overflows {
                patched.replace_range(span.clone(), &format!("{:<1$}", "0.0", span.len()));
            }
            parsed = toml::from_str::<toml::Table>(&patched);
            read = Cow::Owned(patched);
        }
    }
    // The parser goes on past an error and keeps one, not always the
    // first in the file (an unclosed string is reported after the key
    // with no value that it makes of the next line): the earliest of all
    // it finds is the one to show (in the text as parsed, the floats
    // patched).
    let parsed = parsed.map_err(|e| match e.span() {
        Some(span) => toml::de::DeTable::parse_recoverable(&read)
            .1
            .into_iter()
            .filter(|other| other.span().is_some_and(|s| s.start < span.start))
            .min_by_key(|other| other.span().map_or(usize::MAX, |s| s.start))
            .unwrap_or(e),
        None => e,
    });
    // In file order, the error among the warnings.
    let error_at = parsed.as_ref().err().map(|e| e.span().map_or(0, |s| s.start));
    let (before, after) = overflows.split_at(overflows.partition_point(|s| error_at.is_none_or(|at| s.start < at)));
    for span in before {
        out.at(bom + span.start, Severity::Warning, || FLOAT_OVERFLOW.to_owned());
    }
    let Err(e) = parsed else {
        return;
    };
    let mut message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    // The deserializer's words for an integer past 64 bits, said plainly.
    if message == "u64 value was too large"
        || (message.starts_with("invalid type: integer") && message.contains("i128"))
    {
        message = "integer out of range: TOML integers are 64-bit signed (-9223372036854775808 to 9223372036854775807)"
            .to_owned();
    }
    // The parser's words name no key: the key as written is where it points.
    if message == "duplicate key"
        && let Some(key) = e.span().and_then(|s| read.get(s)).map(str::trim)
        && !key.is_empty()
        && key.chars().count() <= 200
        && !key.contains(['\n', '\r', '`'])
        && !key.chars().any(char::is_control)
    {
        message = format!("duplicate key `{key}`");
    }
    message = plain_toml_message(message, e.span().and_then(|s| read.get(s)));
    // A limit of the parser, not of TOML (which sets none): a warning, as
    // the other syntax checks say theirs.
    let severity = if message.contains("recursion") || message.contains("recurse") {
        message = "arrays, tables or keys nested deeper than the TOML parser reads (about 80 levels): the TOML \
                   check does not read past that depth (TOML sets no limit)"
            .to_owned();
        Severity::Warning
    } else {
        Severity::Error
    };
    match e.span() {
        Some(span) => {
            // The parser reports a bare carriage return at the byte after
            // it: point at the return itself.
            let b = text.as_bytes();
            let at = if message.contains("carriage return") && span.start > 0 && b.get(span.start - 1) == Some(&b'\r') {
                span.start - 1
            } else {
                span.start
            };
            out.at(bom + at, severity, || message)
        }
        // The parser's key-depth error has no place: the first key of
        // too many parts is found on the parser's own events.
        None => match (severity == Severity::Warning).then(|| key_past_depth(&read)).flatten() {
            Some(at) => out.at(bom + at, severity, || message),
            None => out.unlocated(severity, || message),
        },
    }
    for span in after {
        out.at(bom + span.start, Severity::Warning, || FLOAT_OVERFLOW.to_owned());
    }
}

/// The most parts a TOML key may have: the toml crate's parser refuses
/// one whose parts before the last are as many as its `LIMIT`, 80.
const TOML_KEY_PARTS: usize = 80;

/// Where the first key of more than [`TOML_KEY_PARTS`] parts starts (a
/// table header's or a key/value pair's), found on toml's own parser's
/// events, which the toml crate reports none for.
fn key_past_depth(text: &str) -> Option<usize> {
    use toml_parser::parser::EventKind;
    let source = toml_parser::Source::new(text);
    let tokens: Vec<_> = source.lex().collect();
    let mut events: Vec<toml_parser::parser::Event> = Vec::new();
    toml_parser::parser::parse_document(&tokens, &mut events, &mut ());
    let (mut start, mut parts, mut after_separator) = (0, 0, false);
    for event in events {
        match event.kind() {
            EventKind::SimpleKey => {
                if after_separator {
                    parts += 1;
                } else {
                    (start, parts) = (event.span().start(), 1);
                }
                if parts > TOML_KEY_PARTS {
                    return Some(start);
                }
                after_separator = false;
            }
            EventKind::KeySep => after_separator = true,
            EventKind::Whitespace | EventKind::Comment | EventKind::Newline => {}
            _ => after_separator = false,
        }
    }
    None
}

/// The TOML parser's `message` about the text `written` where it points,
/// said plainly where its own words mislead: two values where one goes, a
/// control character after a value (both reported as "string values must
/// be quoted"), a base prefix with no digits (as an overflow). Used for
/// verdict.toml too.
pub fn plain_toml_message(message: String, written: Option<&str>) -> String {
    let Some(written) = written else { return message };
    // The parser reads what follows a value up to the end of its line (or
    // to a comma or bracket) as one unquoted word, and says strings must
    // be quoted: where that holds a blank, two values were written where
    // one goes (`a = 1 b = 2`, `[true false]`), which is said instead.
    if message.starts_with("string values must be quoted") {
        let written = written.trim_matches([' ', '\t']);
        let shown: String = written.chars().take(40).collect();
        let more = if written.chars().count() > 40 { "…" } else { "" };
        if let Some(c) = written.chars().find(|c| c.is_control() && *c != '\t') {
            return format!(
                "a control character (U+{:04X}) after a value: TOML allows only blanks and a comment there",
                c as u32
            );
        }
        if written.contains([' ', '\t']) && !written.contains(['\n', '`']) {
            return format!(
                "`{shown}{more}` is not one value: a key/value pair ends its line, and array or inline-table items \
                 are separated by commas (a string would be quoted)"
            );
        }
    }
    // A base prefix with no digits after it: not an overflow.
    if message == "integer number overflowed"
        && matches!(written.trim().get(..2), Some("0x" | "0o" | "0b"))
        && written.trim().len() == 2
    {
        return format!("`{}` has no digits after its base prefix", written.trim());
    }
    message
}
