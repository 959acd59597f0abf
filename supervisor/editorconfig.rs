//! The EditorConfig settings the built-ins heed (docs/configuration.md,
//! "EditorConfig"): `trim_trailing_whitespace = false`,
//! `insert_final_newline = false`, `charset` and `end_of_line`, as the `.editorconfig`
//! files from a file's directory up to the nearest that says `root = true`
//! (or up to `/`) set them: a nearer file rules over a farther one, and a
//! later section over an earlier one, as in editors. The `ec4rs` crate
//! parses the files (each header screened first: see
//! [`unreadable_header`]); their section globs are matched by a name's end
//! or as regular expressions (see [`to_regex`]), in bounded time.
//!
//! The walk lists the tree's `.editorconfig` files with the rest; those
//! above the project root cost an open each, up to the first that says
//! `root = true`. A tree whose files set none of the four properties costs
//! nothing more per file. The files read are stamped like ignore files: a
//! change to one, or a new one, makes the next check walk the whole tree
//! again (see [`crate::watch`]).

use std::collections::HashMap;
use std::io::{BufRead, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use ec4rs::property::{Charset, EndOfLine};
use ec4rs::{ConfigParser, ParseError, Properties, PropertyKey, PropertyValue};
use verdict_actors::builtin::LineEnding;

use super::attributes::{in_chunks, parent_dir, read_rules};
use super::{ReadStamp, Walked};

/// The name of an EditorConfig file.
pub(crate) const FILE_NAME: &str = ".editorconfig";

/// What one section sets of a property the built-ins heed: `None` where it
/// does not name it; `Some(None)` for `unset` or a value the property does
/// not have, which leaves the file to verdict's defaults, as editors leave
/// it to theirs.
type Said<T> = Option<Option<T>>;

/// A value of `trim_trailing_whitespace` or `insert_final_newline`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Toggle {
    /// `true`: the editor trims, or ends the file.
    On,
    /// `false`: it does not.
    Off,
    /// `unset`: it does nothing, whatever an earlier section said. Written
    /// over a `true` (rustfmt's `[tests/**/*.rs]`, svelte's samples that
    /// keep a blank in a `<pre>`) or for files to leave alone (minified
    /// scripts, patches, licences), it keeps the file's bytes as they are,
    /// as `false` does.
    Unset,
}

impl Toggle {
    /// A value as written (in any case); `None` for one the properties do
    /// not have, an empty one among them.
    fn parse(value: &str) -> Option<Toggle> {
        match value.to_ascii_lowercase().as_str() {
            "true" => Some(Toggle::On),
            "false" => Some(Toggle::Off),
            "unset" => Some(Toggle::Unset),
            _ => None,
        }
    }

    /// Whether it leaves the file as it is.
    fn leaves(said: Said<Toggle>) -> bool {
        matches!(said, Some(Some(Toggle::Off | Toggle::Unset)))
    }
}

impl std::fmt::Display for Toggle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Toggle::On => "true",
            Toggle::Off => "false",
            Toggle::Unset => "unset",
        })
    }
}

/// The heeded properties a section sets, or a file's after its sections.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Settings {
    trim: Said<Toggle>,
    final_newline: Said<Toggle>,
    charset: Said<Charset>,
    eol: Said<EndOfLine>,
    /// `generated_code` (.NET's and Roslyn's property, which Visual Studio
    /// and ruff's fixtures use): the file is a tool's, or kept odd on
    /// purpose, as `linguist-generated` says.
    generated: Said<bool>,
}

impl Settings {
    fn of(props: &Properties) -> Settings {
        // A key the section names, with a value that is not one of the
        // property's (`unset`, an empty one, a misspelling), takes back
        // what an earlier section set, as editors take it.
        fn said<T: PropertyKey + PropertyValue>(props: &Properties) -> Said<T> {
            props.iter().any(|(key, _)| key == T::key()).then(|| props.get_raw::<T>().parse::<T>().ok())
        }
        // The two whose `unset` leaves the file alone (see [`Toggle`]).
        let toggle = |key: &str| {
            props
                .iter()
                .any(|(k, _)| k == key)
                .then(|| Toggle::parse(props.get_raw_for_key(key).into_option().unwrap_or_default()))
        };
        let generated = props.iter().any(|(key, _)| key == "generated_code").then(|| {
            match props.get_raw_for_key("generated_code").into_str().to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            }
        });
        Settings {
            trim: toggle("trim_trailing_whitespace"),
            final_newline: toggle("insert_final_newline"),
            charset: said(props),
            eol: said(props),
            generated,
        }
    }

    /// The heeded properties it sets, as written (`key = value`; an empty
    /// value for one that takes an earlier setting back).
    fn describe(&self) -> String {
        fn one<T: std::fmt::Display>(key: &str, said: &Said<T>) -> Option<String> {
            said.as_ref().map(|v| v.as_ref().map_or_else(|| format!("{key} ="), |v| format!("{key} = {v}")))
        }
        [
            one("trim_trailing_whitespace", &self.trim),
            one("insert_final_newline", &self.final_newline),
            one("charset", &self.charset),
            one("end_of_line", &self.eol),
            one("generated_code", &self.generated),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
    }

    fn names_any(&self) -> bool {
        self.trim.is_some()
            || self.final_newline.is_some()
            || self.charset.is_some()
            || self.eol.is_some()
            || self.generated.is_some()
    }

    /// `later`'s settings over these.
    fn then(&mut self, later: &Settings) {
        self.trim = later.trim.or(self.trim);
        self.final_newline = later.final_newline.or(self.final_newline);
        self.charset = later.charset.or(self.charset);
        self.eol = later.eol.or(self.eol);
        self.generated = later.generated.or(self.generated);
    }

    /// The marks these give a file (over those it has).
    fn mark(&self, marks: &mut verdict_actors::builtin::FileMarks) {
        marks.keeps_trailing_whitespace = Toggle::leaves(self.trim);
        marks.no_final_newline = Toggle::leaves(self.final_newline);
        marks.latin1 = self.charset == Some(Some(Charset::Latin1));
        marks.generated = self.generated == Some(Some(true));
        marks.eol = self.eol.flatten().map(|e| match e {
            EndOfLine::Lf => LineEnding::Lf,
            EndOfLine::CrLf => LineEnding::CrLf,
            EndOfLine::Cr => LineEnding::Cr,
        });
        // Two bytes a character: the byte-wise text checks would read its
        // zero bytes as text. (Without this, a UTF-16 file is left to them
        // as binary only when a zero byte comes early.)
        marks.binary |= matches!(self.charset, Some(Some(Charset::Utf16Le | Charset::Utf16Be)));
    }
}

/// The files over a directory's files that set a heeded property, each
/// with its directory, the nearest last.
type Chain<'a> = Vec<(&'a [u8], &'a Config)>;

/// One `.editorconfig` read.
struct Config {
    /// Whether it says `root = true`: the files above it do not count.
    root: bool,
    /// Its sections that set a heeded property, in file order, each with
    /// its header's line and text (for `explain`).
    sections: Vec<(Glob, Settings, (usize, Box<str>))>,
    /// Where a section begins that sets a key close to a heeded
    /// property's name but none (linguist's `trim_trailing_spaces`), with
    /// what to say of it: editors pass it over, and so does verdict.
    misnamed: Vec<(usize, String)>,
}

/// The properties verdict heeds, which a misspelt key is compared with.
const HEEDED: [&str; 5] =
    ["trim_trailing_whitespace", "insert_final_newline", "end_of_line", "charset", "generated_code"];

/// The most misspelt keys said of one file.
const MAX_MISNAMED_SAID: usize = 5;

/// The heeded property a section's key seems meant for, if it is no
/// property EditorConfig or a tool defines but close to a heeded one's
/// name (`trim_trailing_spaces`, `insert_final_new_line`; Jaro
/// similarity above 0.85, as `strsim` computes it). Tools' own keys
/// (`ij_`, `resharper_`, `csharp_`, `dotnet_`, …) are left alone.
fn meant(key: &str) -> Option<&'static str> {
    const KNOWN: [&str; 11] = [
        "indent_style",
        "indent_size",
        "tab_width",
        "end_of_line",
        "charset",
        "trim_trailing_whitespace",
        "insert_final_newline",
        "max_line_length",
        "root",
        "spelling_language",
        "generated_code",
    ];
    const TOOLS: [&str; 6] = ["ij_", "resharper_", "csharp_", "dotnet_", "vs_", "roslynator_"];
    if KNOWN.contains(&key) || TOOLS.iter().any(|t| key.starts_with(t)) {
        return None;
    }
    HEEDED
        .iter()
        .map(|h| (strsim::jaro(key, h), *h))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, h)| h)
}

/// A section's glob, as it is matched.
enum Glob {
    /// `[*]`: every file.
    Every,
    /// `[*.ext]`, `[*.{a,b}]` (plain names, no other glob syntax): the
    /// files whose names end in one of these (with the dot). A glob
    /// without `/` matches a name at any depth, so the name alone decides,
    /// and a look at its end costs less than any matcher.
    Ends(Vec<Vec<u8>>),
    /// Any other, as a regular expression (see [`to_regex`]): the `regex`
    /// crate matches in time linear in the path, where `ec4rs`'s own
    /// matcher backtracks (a 165-byte header of alternatives takes it days
    /// a file).
    Other(regex::bytes::Regex),
}

impl Glob {
    /// How the section headed `header` (the text between its brackets) is
    /// matched, or why it is not.
    #[cfg(test)]
    fn of(header: &str) -> Result<Glob, String> {
        Glob::quick(header).map_or_else(|| Glob::compiled(header), Ok)
    }

    /// The glob, if it is one matched by a name's end.
    fn quick(header: &str) -> Option<Glob> {
        let plain = |s: &str| !s.is_empty() && !s.contains("..") && !s.contains(|c| "*?[]{}\\/,".contains(c));
        if header == "*" {
            return Some(Glob::Every);
        }
        let ext = header.strip_prefix("*.")?;
        if plain(ext) {
            return Some(Glob::Ends(vec![format!(".{ext}").into_bytes()]));
        }
        let alts = ext.strip_prefix('{').and_then(|a| a.strip_suffix('}'))?;
        (alts.contains(',') && alts.split(',').all(plain))
            .then(|| Glob::Ends(alts.split(',').map(|a| format!(".{a}").into_bytes()).collect()))
    }

    /// The glob as a regular expression (see [`to_regex`]), if it is one
    /// verdict reads: one of at most [`MAX_REGEX_GLOB`] bytes, whose
    /// expression is small.
    fn compiled(header: &str) -> Result<Glob, String> {
        if header.len() > MAX_REGEX_GLOB {
            return Err(format!("a glob longer than {MAX_REGEX_GLOB} bytes"));
        }
        let pattern = to_regex(header)?;
        let regex = regex::bytes::RegexBuilder::new(&pattern)
            .size_limit(1 << 18)
            .dfa_size_limit(1 << 17)
            .build()
            .map_err(|_| "a glob too big to match".to_owned())?;
        Ok(Glob::Other(regex))
    }

    /// Whether it matches the file `rel` (relative to its file's
    /// directory).
    fn matches(&self, rel: &[u8]) -> bool {
        match self {
            Glob::Every => true,
            Glob::Ends(ends) => {
                let name = memchr::memrchr(b'/', rel).map_or(rel, |i| &rel[i + 1..]);
                ends.iter().any(|e| name.ends_with(e))
            }
            Glob::Other(regex) => regex.is_match(rel),
        }
    }
}

/// The regular expression, over a path relative to the `.editorconfig`'s
/// directory, for the glob `header`, as the EditorConfig specification and
/// `ec4rs`'s parser (1.2) read it: `*` matches bytes but `/`, `**` any,
/// `?` one byte but `/`; `[…]` a character of the class less `/` (a class
/// of one character is that character; an empty one `[]`; an unclosed one
/// a `[`); `[!…]` a character but those and `/`; `{a,b}` one of its
/// alternatives, which may hold `/` and nest (`{a}` and `{}` are
/// themselves; an unclosed `{` is itself and its commas); `\\` takes the
/// next character as it is; `//` is one `/`, and so is a `/` that begins
/// a closed group's alternative right after one (or at the glob's start,
/// where it only anchors: premake's `{**/x.lua,/contrib/**}`). A glob
/// with a `/` is matched
/// from the directory, one without at any depth; one ending in `/` matches
/// the names in that directory; `**` between two `/` matches no directory
/// too. Numeric ranges (`{1..3}`), which `ec4rs` reads digit by digit from
/// the right, are an `Err` saying so. A test holds the rest to `ec4rs`'s
/// answers on random globs, but where `ec4rs` departs from the
/// specification: it lets a `?`, `*`, class or group before a `/` match
/// across it, a negated class match a `/`, and reads `[!a]` as `a`.
fn to_regex(header: &str) -> Result<String, String> {
    let chars: Vec<char> = header.chars().collect();
    let lit = |c: char, out: &mut String| out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
    let segment_end = |from: usize| chars[from..].iter().position(|&c| c == '/').map_or(chars.len(), |p| from + p);
    // The segments between the `/` outside any group, each as a regular
    // expression and whether it is `**` alone; two `/` are one, and a
    // leading one only anchors.
    let mut segments: Vec<(String, bool)> = Vec::new();
    // The groups open, each with what came before it and its alternatives.
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let mut cur = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '/' if groups.is_empty() => {
                let stars = cur == ANY;
                if !cur.is_empty() {
                    segments.push((std::mem::take(&mut cur), stars));
                }
            }
            // In a group: a `/` of the path (two are one).
            '/' => {
                if !cur.ends_with('/') {
                    cur.push('/');
                }
            }
            '\\' => {
                if let Some(&next) = chars.get(i).filter(|&&n| n != '/') {
                    lit(next, &mut cur);
                    i += 1;
                }
            }
            '?' => cur.push_str(ONE),
            '*' if chars.get(i) == Some(&'*') => {
                while chars.get(i) == Some(&'*') {
                    i += 1;
                }
                cur.push_str(ANY);
            }
            '*' => cur.push_str(STAR),
            '[' => match class(&chars[i..segment_end(i)]) {
                Some((used, written)) => {
                    i += used;
                    cur.push_str(&written);
                }
                None => lit('[', &mut cur),
            },
            '{' if numeric_range(&chars[i..segment_end(i)]) => {
                return Err("a numeric range `{n..m}`, which verdict does not read".to_owned());
            }
            '{' => groups.push((std::mem::take(&mut cur), Vec::new())),
            ',' if !groups.is_empty() => {
                let alt = std::mem::take(&mut cur);
                groups.last_mut().expect("a group is open").1.push(alt);
            }
            '}' if !groups.is_empty() => {
                let (before, mut alts) = groups.pop().expect("a group is open");
                alts.push(std::mem::take(&mut cur));
                // A group that begins a segment (at the glob's start, or
                // right after a `/`): an alternative's leading `/` only
                // anchors there, as a leading one outside a group does
                // (premake's `[{**/x.lua,/binmodules/**,/contrib/**}]`),
                // or is the `/` before it again (`a/{/b,c}`).
                if before.is_empty() && groups.iter().all(|(outer, _)| outer.is_empty()) {
                    for alt in &mut alts {
                        if alt.starts_with('/') {
                            alt.remove(0);
                        }
                    }
                }
                cur = before;
                if alts.len() == 1 {
                    lit('{', &mut cur);
                    cur.push_str(&alts[0]);
                    lit('}', &mut cur);
                } else {
                    cur.push_str("(?:");
                    cur.push_str(&alts.join("|"));
                    cur.push(')');
                }
            }
            c => lit(c, &mut cur),
        }
    }
    // An unclosed group is its text: `{`, and its alternatives between commas.
    while let Some((before, mut alts)) = groups.pop() {
        alts.push(std::mem::take(&mut cur));
        cur = before;
        lit('{', &mut cur);
        for (n, alt) in alts.iter().enumerate() {
            if n > 0 {
                lit(',', &mut cur);
            }
            cur.push_str(alt);
        }
    }
    // An unclosed group's `/` at the end is the glob's.
    if cur.ends_with('/') {
        cur.push_str(STAR);
    }
    let ends_in_slash = cur.is_empty();
    if !cur.is_empty() {
        segments.push((cur, false));
    }
    let anchored = header.contains('/');
    // A glob that ends in `/` after something matches the names in that
    // directory; one of nothing at all but not anchored, any name.
    if (ends_in_slash && !segments.is_empty()) || (segments.is_empty() && !anchored) {
        segments.push((STAR.to_owned(), false));
    }
    // `**` between two `/` matches no directory too (`a/**/b` matches
    // `a/b`), as in `ec4rs` and editorconfig-core-c.
    let mut out = format!("^{}", if anchored { "" } else { "(?:(?s-u:.)*/)?" });
    for (n, (segment, stars)) in segments.iter().enumerate() {
        match (n + 1 < segments.len(), stars) {
            (true, true) => out.push_str(&format!("(?:{segment}/)?")),
            (true, false) => out.push_str(&format!("{segment}/")),
            (false, _) => out.push_str(segment),
        }
    }
    out.push('$');
    Ok(out)
}

/// `*`: any bytes but `/`.
const STAR: &str = "(?-u:[^/])*";

/// `**`: any bytes.
const ANY: &str = "(?s-u:.)*";

/// `?`: one byte but `/`.
const ONE: &str = "(?-u:[^/])";

/// Whether a `{` followed by `rest` (up to the end of its `/`-segment)
/// opens a numeric range `{n..m}` as `ec4rs` reads one.
fn numeric_range(rest: &[char]) -> bool {
    // A number: a digit or `-` first, then digits, up to `breaker`.
    let number = |from: usize, breaker: char| -> Option<usize> {
        let first = *rest.get(from)?;
        if !(first.is_numeric() || first == '-') {
            return None;
        }
        let mut at = from + 1;
        loop {
            match *rest.get(at)? {
                c if c.is_numeric() => at += 1,
                c if c == breaker => return Some(at + 1),
                _ => return None,
            }
        }
    };
    let parses = |s: &[char]| s.iter().collect::<String>().parse::<isize>().is_ok();
    let Some(dot) = number(0, '.') else { return false };
    if rest.get(dot) != Some(&'.') {
        return false;
    }
    let Some(end) = number(dot + 1, '}') else { return false };
    parses(&rest[..dot - 1]) && parses(&rest[dot + 1..end - 1])
}

/// What `ec4rs` reads of a character class after its `[` (`rest`, up to the
/// end of its `/`-segment): how many characters the class takes, if it is
/// closed; its ranges; and what reading it costs `ec4rs`, which lists every
/// character of every range (the characters read, and each range's span).
fn read_class(rest: &[char]) -> (Option<usize>, Vec<(char, char)>, u64) {
    let mut ranges: Vec<(char, char)> = Vec::new();
    let mut cost = 0u64;
    let Some(&first) = rest.first() else { return (None, ranges, cost) };
    let mut at = usize::from(first == '!');
    let mut next = || {
        let c = rest.get(at).copied();
        at += 1;
        c
    };
    let (mut previous, mut not_at_start) = ('[', false);
    let closed = loop {
        let Some(c) = next() else { break false };
        match c {
            ']' => break true,
            '\\' => {
                let Some(c) = next() else { break false };
                previous = c;
                ranges.push((previous, previous));
            }
            '-' if not_at_start => {
                let to = match next() {
                    None => break false,
                    Some(']') => {
                        ranges.push(('-', '-'));
                        break true;
                    }
                    Some('\\') => match next() {
                        None => break false,
                        Some(c) => c,
                    },
                    Some(other) => other,
                };
                if previous <= to {
                    cost += u64::from(u32::from(to) - u32::from(previous));
                    ranges.push((previous, to));
                }
                previous = to;
            }
            c => {
                ranges.push((c, c));
                previous = c;
            }
        }
        not_at_start = true;
    };
    let used = at.min(rest.len());
    cost += used as u64;
    (closed.then_some(used), ranges, cost)
}

/// A character class as `ec4rs` reads one after its `[` (`rest`, up to the
/// end of its `/`-segment): how many characters it takes and its regular
/// expression; `None` if it is not closed (the `[` is then itself).
fn class(rest: &[char]) -> Option<(usize, String)> {
    let (closed, mut ranges, _) = read_class(rest);
    let at = closed?;
    let invert = rest.first() == Some(&'!');
    // The class, less `/`, as sorted disjoint ranges.
    ranges.sort_unstable();
    let mut set: Vec<(u32, u32)> = Vec::new();
    for (lo, hi) in ranges {
        let (lo, hi) = (u32::from(lo), u32::from(hi));
        match set.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => set.push((lo, hi)),
        }
    }
    let slash = u32::from('/');
    set = set
        .into_iter()
        .flat_map(|(lo, hi)| match (lo..=hi).contains(&slash) {
            true => vec![(lo, slash - 1), (slash + 1, hi)],
            false => vec![(lo, hi)],
        })
        .filter(|(lo, hi)| lo <= hi)
        .collect();
    // Characters, not code points: the surrogates are none.
    let count: u64 = set
        .iter()
        .map(|&(lo, hi)| {
            u64::from(hi - lo + 1) - u64::from(hi.min(0xDFFF) + 1).saturating_sub(u64::from(lo.max(0xD800)))
        })
        .sum();
    let items: String = set.iter().map(|&(lo, hi)| format!("\\x{{{lo:X}}}-\\x{{{hi:X}}}")).collect();
    let written = match count {
        0 if invert => ONE.to_owned(),
        0 => regex::escape("[]"),
        // Negated: any character but those and `/`, as the specification
        // says (`ec4rs` lets one match `/`, and reads `[!a]` as `a`).
        _ if invert => format!("[^{items}/]"),
        1 => {
            let c = set.iter().flat_map(|&(lo, hi)| lo..=hi).find_map(char::from_u32).expect("one character");
            regex::escape(c.encode_utf8(&mut [0; 4]))
        }
        _ => format!("[{items}]"),
    };
    Some((at, written))
}

/// The text between a section header line's brackets, as `ec4rs` reads it
/// (a comment after the closing bracket is not part of it).
fn header_of(line: &[u8]) -> Option<&str> {
    let line = std::str::from_utf8(line).ok()?;
    let line = line.strip_prefix('\u{feff}').unwrap_or(line).trim_start();
    let line = match (line.rfind(']'), line.rfind([';', '#'])) {
        (Some(bracket), Some(comment)) if comment > bracket => &line[..comment],
        _ => line,
    };
    line.trim_end().strip_prefix('[')?.strip_suffix(']')
}

/// The bytes of a file, read line by line by the parser, keeping count of
/// how far (in `at`, which the caller looks at while the parser reads):
/// the line read last is a section's header when the parser hands over the
/// section before it, and the line it could not read when it fails.
struct Counted<'a> {
    bytes: &'a [u8],
    at: &'a std::cell::Cell<usize>,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (&self.bytes[self.at.get()..]).read(buf)?;
        self.at.set(self.at.get() + n);
        Ok(n)
    }
}

impl BufRead for Counted<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        Ok(&self.bytes[self.at.get()..])
    }

    fn consume(&mut self, amount: usize) {
        self.at.set((self.at.get() + amount).min(self.bytes.len()));
    }
}

/// The line of `bytes` that ends at `at` (its line break included).
fn line_ending_at(bytes: &[u8], at: usize) -> &[u8] {
    let start = memchr::memrchr(b'\n', &bytes[..at.saturating_sub(1)]).map_or(0, |i| i + 1);
    &bytes[start..at]
}

/// The longest section header read (editorconfig-core-c's limit): `ec4rs`
/// reads an unclosed `[` in time that grows with the square of the length.
const MAX_HEADER: usize = 4096;

/// The deepest nesting of `{…}` in a section header read: `ec4rs` builds
/// and drops nested alternatives recursively (80,000 levels overflow a
/// thread's stack).
const MAX_BRACES: usize = 16;

/// The most work `ec4rs`'s parser may spend on one section header's
/// character classes (see [`read_class`]: a million is some 80 ms), and on
/// all of a file's.
const MAX_CLASS_COST: u64 = 1 << 20;
const MAX_FILE_CLASS_COST: u64 = 1 << 22;

/// Why `ec4rs` is not given the section header `header`, if it is not:
/// past what it reads in bounded time and memory. `spent`: what the file's
/// headers before it cost, which this one's adds to.
fn unreadable_header(header: &str, spent: &mut u64) -> Option<String> {
    if header.len() > MAX_HEADER {
        return Some(format!("a section header longer than {MAX_HEADER} bytes"));
    }
    // As `ec4rs` reads it: each `/`-segment's characters in turn, a closed
    // class taken whole, an unclosed `[` read again from the next one.
    let chars: Vec<char> = header.chars().collect();
    let segment_end = |from: usize| chars[from..].iter().position(|&c| c == '/').map_or(chars.len(), |p| from + p);
    let (mut cost, mut depth, mut deepest) = (0u64, 0usize, 0usize);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' if chars.get(i).is_some_and(|&n| n != '/') => i += 1,
            '[' => {
                let (closed, _, spent) = read_class(&chars[i..segment_end(i)]);
                cost += spent;
                i += closed.unwrap_or(0);
            }
            '{' if !numeric_range(&chars[i..segment_end(i)]) => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    *spent += cost;
    if deepest > MAX_BRACES {
        Some(format!("a section header with `{{…}}` nested deeper than {MAX_BRACES}"))
    } else if cost > MAX_CLASS_COST {
        Some("a section header whose character classes span over a million characters".to_owned())
    } else if *spent > MAX_FILE_CLASS_COST {
        Some("a section header past the four million characters the file's classes may span".to_owned())
    } else {
        None
    }
}

/// The most sections of one file with a glob matched as a regular
/// expression (see [`Glob::Other`]): each costs a look per file checked
/// (real files have a few).
const MAX_OTHER_GLOBS: usize = 64;

/// The longest glob matched as a regular expression.
const MAX_REGEX_GLOB: usize = 1024;

/// The most sections of one file said to apply to no file, one by one.
const MAX_UNREAD_SAID: usize = 5;

/// Parses an EditorConfig file; a line it cannot read ends it (the
/// settings above it count, those of its own section's lines before it
/// too). Returns what is said of it: each line, with why, that ended it or
/// whose section applies to no file.
fn parse(bytes: &[u8]) -> (Config, Vec<(usize, String)>) {
    let line_of = |start: usize| memchr::memchr_iter(b'\n', &bytes[..start]).count() + 1;
    // A header the parser would take too long over, or too deep, ends the
    // file before the parser sees it.
    let mut screened = None;
    let (mut start, mut spent) = (0, 0);
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if let Some(why) = header_of(line).and_then(|h| unreadable_header(h, &mut spent)) {
            screened = Some((start, why));
            break;
        }
        start += line.len();
    }
    let readable = screened.as_ref().map_or(bytes, |(start, _)| &bytes[..*start]);
    let (mut config, mut unread, failed) = parse_whole(readable);
    let ended = match failed {
        None => screened,
        Some((at, e)) => {
            // The failed line is the one read last: it ends at `at`.
            let start = at - line_ending_at(readable, at).len();
            let why = match e {
                ParseError::InvalidLine => "not a section header, a `key = value` pair or a comment".to_owned(),
                ParseError::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => "not UTF-8".to_owned(),
                e => e.to_string(),
            };
            // The parser drops the section it was reading: the lines above
            // the failed one are read again on their own (they read whole).
            (config, unread, _) = parse_whole(&readable[..start]);
            Some((start, why))
        }
    };
    let more = unread.len().saturating_sub(MAX_UNREAD_SAID);
    let mut said: Vec<(usize, String)> =
        unread.drain(..).take(MAX_UNREAD_SAID + 1).map(|(start, why)| (line_of(start), why)).collect();
    if more > 0 {
        let first = said.pop().expect("one past those said").0;
        said.push((first, format!("the first of {more} more sections that apply to no file")));
    }
    said.extend(ended.map(|(start, why)| (line_of(start), format!("{why}; verdict heeds the settings above it only"))));
    said.extend(config.misnamed.drain(..).take(MAX_MISNAMED_SAID).map(|(start, why)| (line_of(start), why)));
    (config, said)
}

/// Parses an EditorConfig file up to its first line that the parser cannot
/// read, if any: the sections before that line's; the sections that apply
/// to no file (where each header's line begins, and why); and where the
/// parser stopped reading, with why.
type Parsed = (Config, Vec<(usize, String)>, Option<(usize, ParseError)>);

fn parse_whole(bytes: &[u8]) -> Parsed {
    let at = std::cell::Cell::new(0);
    let mut config = Config { root: false, sections: Vec::new(), misnamed: Vec::new() };
    let (mut unread, mut failed) = (Vec::new(), None);
    let mut others = 0;
    match ConfigParser::new(Counted { bytes, at: &at }) {
        Ok(mut parser) => {
            config.root = parser.is_root;
            // The parser has read the first section's header line.
            let mut header = (at.get(), line_ending_at(bytes, at.get()));
            loop {
                match parser.next() {
                    None => break,
                    Some(Ok(section)) => {
                        for (key, _) in section.props().iter() {
                            if let Some(heeded) = meant(key) {
                                let start = header.0 - header.1.len();
                                let h = header_of(header.1).unwrap_or_default();
                                config.misnamed.push((
                                    start,
                                    format!(
                                        "section `[{h}]`, whose `{key}` is no EditorConfig property (`{heeded}` is): editors pass it over, and so does verdict"
                                    ),
                                ));
                            }
                        }
                        let settings = Settings::of(section.props());
                        if settings.names_any() {
                            let start = header.0 - header.1.len();
                            let text = header_of(header.1);
                            let read = match text.map(|h| (h, Glob::quick(h))) {
                                Some((_, Some(glob))) => Ok(glob),
                                Some(_) if others == MAX_OTHER_GLOBS => Err(format!(
                                    "past the {MAX_OTHER_GLOBS} sections of a file whose globs are not `*` or `*.ext`"
                                )),
                                Some((h, None)) => Glob::compiled(h),
                                None => Err("not read".to_owned()),
                            };
                            // A glob verdict does not read (a numeric range,
                            // one too long or too big to match in bounded
                            // time, one past the file's quota): the section
                            // applies to no file, and the check says so.
                            match read {
                                Ok(glob) => {
                                    others += usize::from(matches!(glob, Glob::Other(_)));
                                    let line = memchr::memchr_iter(b'\n', &bytes[..start]).count() + 1;
                                    config.sections.push((glob, settings, (line, text.unwrap_or_default().into())));
                                }
                                Err(why) => {
                                    let h = text.unwrap_or_default();
                                    // A long glob shown by its start.
                                    let h = match h.char_indices().nth(60) {
                                        Some((at, _)) => format!("{}…", &h[..at]),
                                        None => h.to_owned(),
                                    };
                                    unread.push((start, format!("section `[{h}]`, which applies to no file: {why}")));
                                }
                            }
                        }
                        // And now the next one's.
                        header = (at.get(), line_ending_at(bytes, at.get()));
                    }
                    Some(Err(e)) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
        }
        Err(e) => failed = Some(e),
    }
    (config, unread, failed.map(|e| (at.get(), e)))
}

/// Gives each of `files` the marks the EditorConfig files over it set.
/// `root`: the project root the walk began at (`real_root` its real path,
/// and `trusted` the owners whose files outside it may be read, as for
/// ignore files); `unlisted`: rules files that rule walked files but that
/// the walk did not list (see [`super::attributes::unlisted`]; those not
/// named `.editorconfig` are passed over), and those an earlier walk read.
/// The files read, with their stamps, go to `read`; with `sources`, the
/// sections that set each file's marks are said there. Returns what the
/// check says of files it could not read whole.
pub(super) fn mark(
    root: &Path,
    (real_root, trusted): (&Path, &[u32]),
    files: &mut [Walked],
    unlisted: &[PathBuf],
    read: &mut Vec<(PathBuf, ReadStamp)>,
    sources: Option<&super::Sources>,
) -> Vec<String> {
    // Those above the root (an earlier walk's) are read below, once.
    let named = |p: &&PathBuf| p.file_name().is_some_and(|n| n == FILE_NAME) && p.starts_with(root);
    let mut candidates: Vec<PathBuf> =
        (files.iter().map(|w| &w.abs)).filter(named).chain(unlisted.iter().filter(named)).cloned().collect();
    candidates.sort_unstable();
    candidates.dedup();
    let mut configs: HashMap<Vec<u8>, Config> = HashMap::new();
    let mut notes = Vec::new();
    // Links are followed above the project root only (a dotfiles manager's
    // `~/.editorconfig`): in it, the walk lists no link.
    let mut read_one = |path: &Path, follow: bool| -> Option<bool> {
        let dir = path.parent()?;
        let bytes = read_rules(path, (root, real_root, trusted), follow, read)?;
        let (config, said) = parse(&bytes);
        let shown = path.strip_prefix(root).unwrap_or(path).display();
        notes.extend(said.into_iter().map(|(line, what)| format!("{shown}: line {line} is {what}")));
        let is_root = config.root;
        configs.insert(dir.as_os_str().as_bytes().to_vec(), config);
        Some(is_root)
    };
    let own = root.join(FILE_NAME);
    let mut own_is_root = false;
    for path in &candidates {
        let is_root = read_one(path, false);
        own_is_root |= *path == own && is_root == Some(true);
    }
    // Above the project root, up to the first that says `root = true`,
    // unless the root's own says so.
    if !own_is_root {
        for dir in root.ancestors().skip(1) {
            if read_one(&dir.join(FILE_NAME), true) == Some(true) {
                break;
            }
        }
    }
    if configs.values().all(|c| c.sections.is_empty()) {
        return notes;
    }
    let configs = &configs;
    in_chunks(files, |files| {
        // The chain of the last file's directory.
        let mut last: Option<(Vec<u8>, Chain<'_>)> = None;
        for w in files {
            let abs = w.abs.as_os_str().as_bytes();
            let Some(dir) = parent_dir(abs) else { continue };
            if last.as_ref().is_none_or(|(d, _)| d.as_slice() != dir) {
                let mut chain = Vec::new();
                for d in std::iter::successors(Some(dir), |d| parent_dir(d)) {
                    if let Some((d, c)) = configs.get_key_value(d) {
                        chain.push((d.as_slice(), c));
                        if c.root {
                            break;
                        }
                    }
                }
                chain.retain(|(_, c)| !c.sections.is_empty());
                chain.reverse();
                last = Some((dir.to_vec(), chain));
            }
            let Some((_, chain)) = &last else { continue };
            if chain.is_empty() {
                continue;
            }
            let mut settings = Settings::default();
            let mut from = Vec::new();
            for (dir, config) in chain {
                // Its globs match the path from its own directory.
                let rel = abs[dir.len()..].strip_prefix(b"/").unwrap_or(&abs[dir.len()..]);
                for (glob, said, (line, header)) in &config.sections {
                    if glob.matches(rel) {
                        settings.then(said);
                        if sources.is_some() {
                            let file = Path::new(std::ffi::OsStr::from_bytes(dir)).join(FILE_NAME);
                            let file = file.strip_prefix(root).unwrap_or(&file).display().to_string();
                            from.push(format!("{file} line {line}: `[{header}]` {}", said.describe()));
                        }
                    }
                }
            }
            if let Some(sources) = sources.filter(|_| !from.is_empty()) {
                sources.lock().expect("sources").entry(w.abs.clone()).or_default().extend(from);
            }
            settings.mark(&mut w.marks);
        }
    });
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use ec4rs::Section;
    use verdict_actors::builtin::FileMarks;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// The marks `mark` gives the files `rels` of the project at `root`
    /// (with every `.editorconfig` in it listed, as a walk lists them), and
    /// the notes it makes.
    fn marks(root: &Path, rels: &[&str]) -> (Vec<FileMarks>, Vec<String>) {
        let walked = |abs: PathBuf| Walked { abs, ..Walked::default() };
        let mut files: Vec<Walked> = rels.iter().map(|r| walked(root.join(r))).collect();
        let mut dirs = vec![root.to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for e in std::fs::read_dir(&dir).unwrap().map(Result::unwrap) {
                match e.file_type().unwrap().is_dir() {
                    true => dirs.push(e.path()),
                    false if e.file_name() == FILE_NAME => files.push(walked(e.path())),
                    false => {}
                }
            }
        }
        let mut read = Vec::new();
        let notes = mark(root, (root, &[]), &mut files, &[], &mut read, None);
        (files[..rels.len()].iter().map(|w| w.marks).collect(), notes)
    }

    const KEEPS: FileMarks = FileMarks { keeps_trailing_whitespace: true, ..FileMarks::NONE };
    const NO_NEWLINE: FileMarks = FileMarks { no_final_newline: true, ..FileMarks::NONE };
    const NONE: FileMarks = FileMarks::NONE;

    #[test]
    fn later_sections_and_nearer_files_rule() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(
            &root.join(FILE_NAME),
            "root = true\n\n[*]\ntrim_trailing_whitespace = true\ninsert_final_newline = true\n\n\
             [*.md]\ntrim_trailing_whitespace = false\n\n[{Makefile,*.mk}]\ninsert_final_newline = FALSE\n",
        );
        write(
            &root.join("docs/.editorconfig"),
            "[*.md]\ntrim_trailing_whitespace = true\n[old/*]\ninsert_final_newline = false\n",
        );
        let rels =
            ["a.md", "deep/er/b.md", "docs/c.md", "docs/old/x.c", "docs/old/y/z.c", "Makefile", "m/a.mk", "a.rs"];
        let both = FileMarks { keeps_trailing_whitespace: true, no_final_newline: true, ..FileMarks::NONE };
        let (got, notes) = marks(root, &rels);
        // A glob without `/` matches at any depth; one with `/` from its
        // file's directory, one level for `*`.
        assert_eq!(got, [KEEPS, KEEPS, NONE, NO_NEWLINE, NONE, NO_NEWLINE, NO_NEWLINE, NONE]);
        assert_eq!(notes, Vec::<String>::new());
        // A value the property does not have undoes a setting from above;
        // `unset` leaves the file alone, as `false` does, over a `true`
        // (rustfmt's fixtures) as over nothing, in any case.
        write(
            &root.join("docs/.editorconfig"),
            "[*]\ntrim_trailing_whitespace = maybe\n[x.md]\ntrim_trailing_whitespace = UNSET\n\
             [*.txt]\ntrim_trailing_whitespace = true\ninsert_final_newline = true\n[u.txt]\n\
             trim_trailing_whitespace = unset\ninsert_final_newline = Unset\n[e.txt]\ninsert_final_newline =\n",
        );
        let rels = ["docs/a.md", "docs/x.md", "a.md", "docs/u.txt", "docs/e.txt", "docs/t.txt"];
        assert_eq!(marks(root, &rels).0, [NONE, KEEPS, KEEPS, both, NONE, NONE]);
        write(&root.join("docs/.editorconfig"), "[*.md]\ninsert_final_newline = false\n");
        assert_eq!(marks(root, &["docs/a.md"]).0, [both]);
    }

    #[test]
    fn files_above_count_up_to_the_first_that_says_root() {
        let tmp = tempfile::tempdir().unwrap();
        let top = tmp.path();
        write(&top.join(FILE_NAME), "root = true\n[*.txt]\ninsert_final_newline = false\n");
        write(&top.join("mid/.editorconfig"), "[*.md]\ntrim_trailing_whitespace = false\n");
        let root = top.join("mid/project");
        write(&root.join("sub/.editorconfig"), "[*.txt]\ntrim_trailing_whitespace = false\n");
        let rels = ["a.txt", "b.md", "sub/c.txt"];
        let both = FileMarks { keeps_trailing_whitespace: true, no_final_newline: true, ..FileMarks::NONE };
        assert_eq!(marks(&root, &rels).0, [NO_NEWLINE, KEEPS, both]);
        // `root = true` in the middle: the files above it do not count.
        write(&top.join("mid/.editorconfig"), "ROOT = True\n[*.md]\ntrim_trailing_whitespace = false\n");
        assert_eq!(marks(&root, &rels).0, [NONE, KEEPS, KEEPS]);
        // In the project's own: nothing above is read.
        write(&root.join(FILE_NAME), "root = true\n");
        let mut read = Vec::new();
        let mut files = vec![Walked { abs: root.join(FILE_NAME), ..Walked::default() }];
        mark(&root, (&root, &[]), &mut files, &[], &mut read, None);
        let read: Vec<PathBuf> = read.into_iter().map(|(p, _)| p).collect();
        assert_eq!(read, [root.join(FILE_NAME)]);
    }

    /// Whether `ec4rs` departs from the specification on `header`: a
    /// negated class, or a `?`, lone `*`, class or group right before a `/`.
    fn ec4rs_departs(header: &str) -> bool {
        // (A `\\` before a `/` escapes nothing.)
        let c: Vec<char> = header.replace("\\/", "/").chars().collect();
        header.contains("[!")
            || (1..c.len()).any(|i| {
                c[i] == '/'
                    && matches!(c[i - 1], '?' | ']' | '}' | '*')
                    && !(c[i - 1] == '*' && i > 1 && c[i - 2] == '*')
            })
    }

    /// Whether `glob` and `ec4rs`'s matcher agree on `header` over `paths`.
    fn agree(header: &str, glob: &Glob, paths: &[&str]) {
        for p in paths {
            let expected = Section::new(header).applies_to(Path::new(p));
            assert_eq!(glob.matches(p.as_bytes()), expected, "[{header}] on {p}");
        }
    }

    #[test]
    fn globs_match_as_ec4rs_s_matcher_does() {
        let headers = [
            "*",
            "*.md",
            "*.MD",
            "*.{js,ts}",
            "*.{d.ts,js}",
            "*.tar.gz",
            "*.{1..3,x}",
            "*.{a}",
            "*.",
            "*.m?",
            "*.[ch]",
            "*.{a,}",
            "*.{a,b}x",
            "*.md/x",
            "*.\\*",
            "**.md",
            "*.{js,{ts,tsx}}",
            "*md",
            "/*.md",
            "Makefile",
            "{package.json,.travis.yml}",
            "lib/**.js",
            "{a,/contrib/**}",
            "{/a,b}",
            "x{/a,b}",
            "{a,{/b,c}}",
            "{/a/**,*.md}",
            "{a,b}/{/c,d}",
            "**/*.{cs,vb}",
            "src/**/*.ts",
            "a/",
            "/",
            "[!a]",
            "[!ab]x",
            "[]",
            "[!]",
            "[a-]",
            "[-a]",
            "x[a/b]",
            "{a/b,c}",
            "{a,{b,c}}",
            "{a}",
            "{}",
            "{a",
            "a}",
            ",",
            "\\*",
            "a\\",
            "**",
            "?",
            "[a-c]??",
            "{,?}{,?}",
            "[\\]]",
            "[a\\-c]",
            "[c-a]",
            "[a-c-e]",
            "[!/]",
            "[/]",
            "é?",
            "[é-ê]",
        ];
        let paths = [
            "a.md",
            "x/y/a.md",
            ".md",
            "a.MD",
            "a.mdx",
            "md",
            "a.js",
            "d/b.ts",
            "c.d.ts",
            "b.tsx",
            "a.1",
            "a.2",
            "a.4",
            "a.x",
            "a.a",
            "a",
            "a.tar.gz",
            "t.gz",
            "a.m",
            "a.mx",
            "a.c",
            "dir.md/f",
            ".hidden",
            "x/.md",
            "a.*",
            "a.ax",
            "a.bx",
            "a.",
            "a.md/x",
            "Makefile",
            "sub/Makefile",
            "package.json",
            "lib/x.js",
            "contrib/x.c",
            "a/c",
            "x/a",
            "lib/a/b.js",
            "src/a/b.ts",
            "src/b.ts",
            "a/b",
            "b",
            "c",
            "x/c",
            "a/b/c",
            "{a}",
            "{}",
            "{a",
            "a}",
            ",",
            "*",
            "a\\",
            "ab",
            "]",
            "-",
            "é",
            "éa",
            "ê",
            "x/é/a",
            "x",
        ];
        let mut quick = 0;
        for h in headers {
            let glob = Glob::of(h).unwrap_or_else(|e| panic!("[{h}]: {e}"));
            quick += usize::from(matches!(glob, Glob::Every | Glob::Ends(_)));
            if !ec4rs_departs(h) {
                agree(h, &glob, &paths);
            }
        }
        // `*`, `*.md`, `*.MD`, `*.{js,ts}`, `*.{d.ts,js}`, `*.tar.gz`.
        assert_eq!(quick, 6);
        // Where `ec4rs` departs, the specification's answers.
        let is = |h: &str, p: &str| Glob::of(h).unwrap().matches(p.as_bytes());
        assert!(is("[!a]", "b") && !is("[!a]", "a") && !is("x/[!a]/y", "x/y"));
        assert!(is("packages/*/package.json", "packages/app/package.json"));
        assert!(!is("packages/*/package.json", "packages/package.json"));
        assert!(
            is("{test/fixtures,deps,tools}/**", "test/fixtures/a/b.js")
                && is("{test/fixtures,deps,tools}/**", "deps/x")
        );
        assert!(!is("{test/fixtures,deps,tools}/**", "lib/x") && !is("{test/fixtures,deps,tools}/**", "test/x"));
        assert!(is("docs(old)/*.md", "docs(old)/a.md") && is("Program Files (x86)/**", "Program Files (x86)/a/b"));
        assert!(is("src/**/*.ts", "src/a.ts") && is("**/*.cs", "a.cs") && is("**/*.cs", "a/b/c.cs"));
        assert!(Glob::of("file{1..3}.txt").is_err());
        assert_eq!(header_of(b"[*.md] # note\n"), Some("*.md"));
        assert_eq!(header_of(b"\xef\xbb\xbf  [*]  \r\n"), Some("*"));
        assert_eq!(header_of(b"[a#b]\n"), Some("a#b"));
    }

    /// Random globs and paths over the characters that mean something.
    #[test]
    fn random_globs_match_as_ec4rs_s_matcher_does() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let glob_chars: Vec<char> = "ab.*?[]!-{},/\\".chars().collect();
        let mut paths: Vec<String> = Vec::new();
        while paths.len() < 60 {
            let parts: Vec<String> = (0..1 + next(3))
                .map(|_| (0..1 + next(4)).map(|_| ['a', 'b', '.', '-', '{', ','][next(6)]).collect())
                .collect();
            if parts.iter().all(|p| p != "." && p != "..") {
                paths.push(parts.join("/"));
            }
        }
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        let mut checked = 0;
        for _ in 0..20_000 {
            let header: String = (0..1 + next(8)).map(|_| glob_chars[next(glob_chars.len())]).collect();
            if let Ok(glob) = Glob::of(&header)
                && !ec4rs_departs(&header)
            {
                agree(&header, &glob, &paths);
                checked += 1;
            }
        }
        // Most (the rest: numeric ranges, and where `ec4rs` departs).
        assert!(checked > 12_000, "{checked}");
    }

    #[test]
    fn headers_past_what_the_parser_reads_in_bounded_time_end_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        // Shorter than the longest header read (which alone bounds the
        // depth to about 1,400).
        let deep = format!("[{}b{}]", "{a,".repeat(1_000), "}".repeat(1_000));
        let unclosed = format!("[{}]", "[a".repeat(60_000));
        let classes = "a character classes span over a million characters";
        let cases = [
            (deep, "nested deeper than 16"),
            (unclosed, "longer than 4096 bytes"),
            ("[[ -\u{10FFFF}]]".to_owned(), classes),
            // The range's end escaped.
            ("[[ -\\\u{10FFFF}]]".to_owned(), classes),
            // Unclosed classes read again and again, each range within bounds.
            (format!("[{}{}]", "[".repeat(2046), " -\u{420}".repeat(512)), classes),
        ];
        for (header, why) in cases {
            let text = format!(
                "[*.md]\ntrim_trailing_whitespace = false\n{header}\nindent_size = 2\n[*.txt]\ninsert_final_newline = false\n"
            );
            write(&root.join(FILE_NAME), &text);
            let t = std::time::Instant::now();
            let (got, notes) = marks(root, &["a.md", "b.txt"]);
            assert!(t.elapsed() < std::time::Duration::from_secs(2), "{why}: {:?}", t.elapsed());
            assert_eq!(got, [KEEPS, NONE], "{why}");
            assert_eq!(notes.len(), 1, "{notes:?}");
            assert!(notes[0].starts_with(".editorconfig: line 3 is a section header"), "{notes:?}");
            assert!(notes[0].contains(why.trim_start_matches("a ")), "{why}: {notes:?}");
        }
        // Within bounds alone, past them together: the file's budget.
        let wide = format!("[[{}]]\nindent_size = 2\n", " -\u{3FF}".repeat(900));
        write(&root.join(FILE_NAME), &format!("{}[*.md]\ntrim_trailing_whitespace = false\n", wide.repeat(6)));
        let (got, notes) = marks(root, &["a.md"]);
        assert_eq!(got, [NONE]);
        assert!(notes[0].contains("the file's classes may span"), "{notes:?}");
        // Within the bounds: read.
        for header in
            ["{a,{b,{c,d}}}.md", "[a-z0-9]*.md", "\\[ -\u{10FFFF}].md", "[가-힣]*.txt", "[!-я]x", "[-中]x", "[{]x"]
        {
            assert_eq!(unreadable_header(header, &mut 0), None, "{header}");
        }
        assert!(unreadable_header(&format!("{}x{}", "{".repeat(17), "}".repeat(17)), &mut 0).is_some());
        assert_eq!(unreadable_header(&format!("{}x{}", "{".repeat(16), "}".repeat(16)), &mut 0), None);
        // Braces in a class are no group; in an unclosed one they are.
        assert_eq!(unreadable_header(&"[{]".repeat(17), &mut 0), None);
        assert!(unreadable_header(&format!("{}x", "{a,[}]".repeat(20)), &mut 0).is_some());
    }

    #[test]
    fn a_glob_that_backtracks_for_ever_in_ec4rs_is_matched_in_linear_time() {
        let header = format!("Z{}", "{,?}".repeat(40));
        let glob = Glob::of(&header).unwrap();
        let t = std::time::Instant::now();
        let name = format!("dir/{}", "a".repeat(200));
        assert!(!glob.matches(name.as_bytes()));
        assert!(glob.matches(b"x/Zab"));
        assert!(t.elapsed() < std::time::Duration::from_secs(1), "{:?}", t.elapsed());
        // A section past the file's quota of such globs applies to no file,
        // and is said.
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let sections: String =
            (0..=MAX_OTHER_GLOBS).map(|n| format!("[x{n}.md]\ntrim_trailing_whitespace = false\n")).collect();
        write(&root.join(FILE_NAME), &sections);
        let (got, notes) = marks(root, &["x0.md", &format!("x{MAX_OTHER_GLOBS}.md")]);
        assert_eq!(got, [KEEPS, NONE]);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("applies to no file"), "{notes:?}");
        // Many such sections: five said one by one, then how many more.
        let ranges: String = (0..100).map(|n| format!("[f{{1..{n}}}.md]\ninsert_final_newline = false\n")).collect();
        write(&root.join(FILE_NAME), &ranges);
        let (_, notes) = marks(root, &["f1.md"]);
        assert_eq!(notes.len(), 6, "{notes:?}");
        assert!(
            notes[0].starts_with(
                ".editorconfig: line 1 is section `[f{1..0}.md]`, which applies to no file: a numeric range"
            )
        );
        assert_eq!(notes[5], ".editorconfig: line 11 is the first of 95 more sections that apply to no file");
    }

    #[test]
    fn a_file_above_the_root_an_earlier_walk_read_is_read_once() {
        let tmp = tempfile::tempdir().unwrap();
        let above = tmp.path().join(FILE_NAME);
        write(&above, "root = true\n[*.md]\ntrim_trailing_whitespace = false\nbad line\n");
        let root = tmp.path().join("p");
        let mut files = vec![Walked { abs: root.join("a.md"), ..Walked::default() }];
        let mut read = Vec::new();
        let notes = mark(&root, (&root, &[]), &mut files, std::slice::from_ref(&above), &mut read, None);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(read.len(), 1);
        assert_eq!(files[0].marks, KEEPS);
    }

    #[test]
    fn end_of_line_marks_the_ending_wanted() {
        use verdict_actors::builtin::LineEnding;
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(
            &root.join(FILE_NAME),
            "[*]\nend_of_line = lf\n[*.{bat,cmd}]\nend_of_line = CRLF\n[old/*]\nend_of_line = unset\n[*.x]\nend_of_line = lfcr\n",
        );
        let eol = |e| FileMarks { eol: Some(e), ..FileMarks::NONE };
        assert_eq!(
            marks(root, &["a.rs", "run.bat", "old/a.rs", "a.x"]).0,
            [eol(LineEnding::Lf), eol(LineEnding::CrLf), NONE, NONE]
        );
        // A file that sets it again below: nearer rules.
        write(&root.join("mac/.editorconfig"), "[*.txt]\nend_of_line = cr\n");
        assert_eq!(marks(root, &["mac/a.txt", "mac/b.rs"]).0, [eol(LineEnding::Cr), eol(LineEnding::Lf)]);
    }

    #[test]
    fn a_key_close_to_a_heeded_property_is_said_and_passed_over() {
        // linguist's fixtures section: every other property unset, and
        // `trim_trailing_spaces` meant for `trim_trailing_whitespace`.
        let text = "root = true\n[*]\ntrim_trailing_whitespace = true\n\n\
                    [{samples,vendor}/**]\ntrim_trailing_spaces = unset\nindent_size = unset\nij_any = 1\n\
                    [*.md]\ninsert_final_new_line = false\nquote_type = single\n";
        let (config, said) = parse(text.as_bytes());
        assert_eq!(said.len(), 2, "{said:?}");
        assert_eq!(said[0].0, 5);
        assert!(
            said[0].1.contains("`trim_trailing_spaces` is no EditorConfig property (`trim_trailing_whitespace` is)")
        );
        assert_eq!(said[1].0, 9);
        assert!(said[1].1.contains("`insert_final_new_line`"), "{said:?}");
        // It sets nothing: the trimming of `[*]` stands.
        assert_eq!(config.sections.len(), 1);
        let tmp = tempfile::tempdir().unwrap();
        write(&tmp.path().join(FILE_NAME), text);
        assert_eq!(marks(tmp.path(), &["samples/a.c"]).0, [NONE]);
        for key in ["indent_style", "max_line_length", "ij_trim_trailing_whitespace", "quote_type", "end_of_line"] {
            assert_eq!(meant(key), None, "{key}");
        }
    }

    #[test]
    fn charset_marks_latin1_and_utf16() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(
            &root.join(FILE_NAME),
            "[*.iss]\ncharset = latin1\n[*.ps1]\ncharset = UTF-16LE\n[*.txt]\ncharset = utf-8\n",
        );
        let latin1 = FileMarks { latin1: true, ..FileMarks::NONE };
        let binary = FileMarks { binary: true, ..FileMarks::NONE };
        assert_eq!(marks(root, &["setup.iss", "a.ps1", "b.txt"]).0, [latin1, binary, NONE]);
    }

    #[test]
    fn generated_code_marks_a_file_generated() {
        // ruff's pycodestyle fixtures: "These rules test for intentional
        // odd formatting. Using a formatter fixes that".
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(
            &root.join(FILE_NAME),
            "[W*.py]\ngenerated_code = true\n[W6*.py]\ngenerated_code = false\n[E1.py]\nGenerated_Code = TRUE\n",
        );
        let generated = FileMarks { generated: true, ..FileMarks::NONE };
        let got = marks(root, &["W291.py", "W605.py", "E1.py", "E2.py"]).0;
        assert_eq!(got, [generated, NONE, generated, NONE]);
    }

    #[test]
    fn a_key_with_an_empty_value_is_editorconfig_and_takes_back_an_earlier_setting() {
        // pandoc's `.editorconfig` has `charset =` early: everything below
        // it counts (the parser used to refuse the line, and verdict the
        // rest of the file), as in Visual Studio's and IntelliJ's exports.
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(
            &root.join(FILE_NAME),
            "root = true\n[*]\ncharset =\nend_of_line = lf\n[*.md]\ntrim_trailing_whitespace = false\n\
             [test/*]\ninsert_final_newline = false\n[test/keep.txt]\ninsert_final_newline =\nend_of_line=\n",
        );
        let (got, notes) = marks(root, &["a.md", "test/x.txt", "test/keep.txt"]);
        let lf = Some(verdict_actors::builtin::LineEnding::Lf);
        assert_eq!(
            got,
            [
                FileMarks { eol: lf, ..KEEPS },
                FileMarks { eol: lf, ..NO_NEWLINE },
                // Empty values take back what `[test/*]` and `[*]` set.
                NONE,
            ]
        );
        assert_eq!(notes, Vec::<String>::new());
    }

    #[test]
    fn a_line_that_is_not_editorconfig_ends_the_file_and_is_said() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(
            &root.join(FILE_NAME),
            "# comment\n[*.md]\ntrim_trailing_whitespace = false\n\nthis is not a pair\n[*.txt]\ninsert_final_newline = false\n",
        );
        let (got, notes) = marks(root, &["a.md", "b.txt"]);
        assert_eq!(got, [KEEPS, NONE]);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].starts_with(".editorconfig: line 5 is not a section header"), "{notes:?}");
        // In the preamble, before any section: nothing of it counts.
        write(&root.join(FILE_NAME), "root = true\nbad\n[*.md]\ntrim_trailing_whitespace = false\n");
        let (got, notes) = marks(root, &["a.md"]);
        assert_eq!(got, [NONE]);
        assert!(notes[0].starts_with(".editorconfig: line 2 is not a section header"), "{notes:?}");
        // Not UTF-8.
        std::fs::write(root.join(FILE_NAME), b"[*.md]\ntrim_trailing_whitespace = false\n[caf\xe9]\nx = y\n").unwrap();
        let (got, notes) = marks(root, &["a.md"]);
        assert_eq!(got, [KEEPS]);
        assert_eq!(notes, [".editorconfig: line 3 is not UTF-8; verdict heeds the settings above it only"]);
    }
}
