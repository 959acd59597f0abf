//! The `yaml` check: the file is a YAML 1.2 stream (saphyr's parser, which
//! passes the YAML test suite), and no mapping has the same key twice.
//!
//! Duplicate keys are found on the parser's events, without building the
//! documents: every node that can take part in a comparison (a key, an
//! anchored node, anything inside either) gets a 128-bit hash of its value
//! as the core schema resolves it, so `0x10` and `16`, or `"a"` and `a`,
//! are the same key while `1` and `"1"` are not. An alias is its anchor's
//! hash, so aliases cost nothing however deeply they nest (no billion
//! laughs), and a mapping's hash does not depend on the order of its keys.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, ScanError, Span, Tag};
use xxhash_rust::xxh3::{Xxh3, xxh3_128};

use super::locate::Collector;
use crate::outcome::Severity;

/// `yaml`: every document of the stream parses (an empty file is valid),
/// and every duplicate mapping key is reported (an error, as in most YAML
/// linters: which of the two values a loader keeps differs between loaders).
///
/// A file that is a template to be rendered into YAML (Helm, Jinja) is not
/// YAML yet: from the first line that shows it is one (see
/// [`template_line`]) nothing is reported. YAML that merely holds template
/// tags in its strings or comments (Ansible, alerting rules, Helm's own
/// `values.yaml`) is still checked in full.
/// `cirrus`: the file is Cirrus CI's configuration (`.cirrus.yml`), whose
/// `matrix` key may be given many times in a mapping, and whose `matrix`
/// mapping may give a key many times, each one a task of its own (Cirrus'
/// documented "matrix modification"), and whose top level may give a task
/// many times (see [`cirrus_top_level_repeats`]).
pub(super) fn yaml(content: &[u8], cirrus: bool, out: &mut Collector<'_>) {
    let text = match decode(content) {
        Ok(text) => text,
        Err(Undecodable { position: Some((line, column)), why, .. }) => {
            out.at_position(line, column, Severity::Error, || why);
            return;
        }
        Err(Undecodable { offset, position: None, why }) => {
            out.at(offset, Severity::Error, || why);
            return;
        }
    };
    let mut seen = Signs::default();
    // A layout libyaml and PyYAML take but the parser does not stopped the
    // check (a warning says so): the rest of the file is checked as they
    // read it.
    if let Some(line) = check_text(&text, cirrus, out, &mut seen)
        && let Some(relaxed) = relaxed_layout(&text)
    {
        let mut rest = out.for_content(relaxed.as_bytes());
        let mut seen_rest = Signs::default();
        check_text(&relaxed, cirrus, &mut rest, &mut seen_rest);
        let (original, relaxed_lines): (Vec<&str>, Vec<&str>) = (lines(&text).collect(), lines(&relaxed).collect());
        let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
        let shift = |n: u32| {
            let at = |lines: &[&str]| lines.get((n as usize).wrapping_sub(1)).map_or(0, |l| indent(l));
            u32::try_from(at(&relaxed_lines).saturating_sub(at(&original))).unwrap_or(0)
        };
        out.take_from(rest, u32::try_from(line).unwrap_or(u32::MAX), shift);
        seen.scalar_lines.extend(seen_rest.scalar_lines);
    }
    if let Some(last) = out.last_line()
        && let Some(tag) = template_line(&text, last as usize, &seen)
    {
        out.discard_from(u32::try_from(tag).unwrap_or(u32::MAX));
    }
}

/// What the check saw that tells a template from YAML.
#[derive(Default)]
struct Signs {
    /// Lines that are a plain scalar's text, not YAML (1-based, inclusive
    /// ranges): a multi-line plain scalar's lines after its first. (Quoted
    /// and block scalars' lines are followed by [`scan_line`], also where
    /// the parser stopped inside one.)
    scalar_lines: Vec<(usize, usize)>,
}

/// The first line, up to `last` (the last finding's), that shows the file
/// is a template rendered into YAML, outside a scalar's text (a quoted or
/// block scalar's lines after its first, as [`scan_line`] follows them, or
/// a plain one's in [`Signs::scalar_lines`]):
/// - one that begins, after blanks, with a Jinja tag (`{%`, `{#`), an ERB
///   or EEx one (`<%`: Rails' fixtures and `database.yml`), a line of
///   Mojo::Template or Mason code (`% `, `%=`, `%#`, `%%`: YAML's
///   directives are `%` and a name, and only before a document), a `{{ … }}`
///   closed on the line, or a Go comment's `{{/*`: no YAML anyone writes
///   begins a line so;
/// - one with a node, outside quotes, that begins with a Jinja tag, an ERB
///   or EEx tag (`<%`), or with a Go template action reading a field (see [`LineScan::value_tag`] and
///   [`reads_go_field`]): `port: {{ .Values.port }}`; or with a build's
///   substitution variable (`version: @VERSION@`, autoconf's, Nix's), as
///   YAML reserves `@`;
/// - one whose quoted scalar holds a Go action with that scalar's quote in
///   it (`name: "{{ include "a" . }}-test"`).
///
/// A comment, or a quoted value that merely holds an action (Helm's
/// `values.yaml`, GoReleaser's `name_template: "{{ .Version }}"`), is YAML:
/// the file is checked in full, errors on such a line included.
fn template_line(text: &str, last: usize, seen: &Signs) -> Option<usize> {
    // What a quoted scalar or a flow collection left open at the end of the
    // line before, and the column a block scalar's lines must be indented
    // past: lines inside a scalar are its text.
    let mut state = Carried::default();
    // The column a block scalar's lines are indented past; `None` for a
    // document's root scalar, whose lines run to the next document marker.
    let mut block = None::<Option<usize>>;
    lines(text).zip(1..=last).find_map(|(line, number)| {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        if let Some(parent) = block {
            let marker = ["---", "..."]
                .iter()
                .any(|m| line.strip_prefix(m).is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t'])));
            if indent == line.len() || parent.map_or(!marker, |parent| indent > parent) {
                return None;
            }
            block = None;
        }
        // A plain scalar's next lines are text: nothing there opens a quote.
        if seen.scalar_lines.iter().any(|&(from, to)| (from..=to).contains(&number)) {
            return None;
        }
        // A line that begins inside a quoted scalar begins no template tag
        // (what comes after the closing quote still counts).
        let inside = state.quote.is_some();
        let scan = scan_line(line, &mut state);
        if let Some(parent) = scan.block_parent {
            block = Some(parent);
        }
        let start = &line[indent..];
        let begins = !inside
            && (start.starts_with("{%")
                || start.starts_with("{#")
                || start.starts_with("<%")
                || ["% ", "%=", "%#", "%%"].iter().any(|p| start.starts_with(p))
                || start.strip_prefix("{{").is_some_and(|rest| {
                    rest.contains("}}")
                        || rest.trim_start_matches('-').trim_start_matches([' ', '\t']).starts_with("/*")
                }));
        (begins || scan.value_tag || scan.quoted_action).then_some(number)
    })
}

/// `text` laid out as YAML 1.2 wants what libyaml and PyYAML take: each
/// line that begins inside a flow collection (`[`, `{`) or a quoted scalar
/// opened on a line above, indented no deeper than that line, is indented
/// one column past it. Nothing the document says changes (such a line's
/// leading blanks are no content), nor does any line's number. Block
/// scalars' lines are left as they are. `None` when no line needed it.
///
/// For a loader that should read a file as the tools that wrote it do
/// (pre-commit reads its configuration with PyYAML).
pub fn relaxed_layout(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut changed = false;
    let mut state = Carried::default();
    // The indentation of the line the open flow collection or quoted
    // scalar began on.
    let mut opened_at = 0;
    // What the block scalar being read is indented past (see
    // [`template_line`]).
    let mut block = None::<Option<usize>>;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        let indent = content.len() - content.trim_start_matches([' ', '\t']).len();
        if let Some(parent) = block {
            let marker = content.starts_with("---") || content.starts_with("...");
            if indent == content.len() || parent.map_or(!marker, |parent| indent > parent) {
                out.push_str(line);
                continue;
            }
            block = None;
        }
        let open = state.flow > 0 || state.quote.is_some();
        if open && indent < content.len() && indent <= opened_at {
            out.extend(std::iter::repeat_n(' ', opened_at + 1 - indent));
            changed = true;
        }
        out.push_str(line);
        let scan = scan_line(content, &mut state);
        if !open && (state.flow > 0 || state.quote.is_some()) {
            opened_at = indent;
        }
        if let Some(parent) = scan.block_parent {
            block = Some(parent);
        }
    }
    changed.then_some(out)
}

/// What [`scan_line`] carries from one line to the next.
#[derive(Default)]
struct Carried {
    /// The quote of a quoted scalar still open.
    quote: Option<u8>,
    /// How deep in flow collections.
    flow: usize,
    /// Whether the document has had a node yet: a block scalar before any
    /// is the document's root.
    content: bool,
}

/// What [`scan_line`] finds on a line.
#[derive(Default)]
struct LineScan {
    /// A node, outside quotes, begins with a Jinja tag, with a Go action
    /// reading a field or with a substitution variable (`@name@`): a value
    /// after `: `, an entry after `- `, or a node of a flow collection
    /// (after `[`, `{` or `,`).
    value_tag: bool,
    /// A quoted scalar holds a Go action reading a field that holds a quote
    /// ending the scalar (`name: "{{ include "a" . }}-test"`; not an escaped
    /// `\"` nor a doubled `''`): the quotes are the template's, and the line
    /// is YAML only once rendered.
    quoted_action: bool,
    /// The line ends with a block scalar's indicator (`|`, `>`, with its
    /// chomping and indentation indicators): the column the scalar's lines
    /// are indented past (its key's, or its `-`'s); `None` inside for a
    /// document's root scalar (`--- |`), whose lines may begin at column 0.
    block_parent: Option<Option<usize>>,
}

/// Scans a line as YAML's tokens would split it, far enough to tell a
/// template's from YAML's, from and into what the lines before left open.
/// A `{` inside a quoted scalar (`title: 'Firing: {{ .Labels.x }}'`) or a
/// plain one (`url: http://a.{{ .Values.b }}`) begins no node; nor does
/// anything in a comment. Tags, anchors and `---` leave the node to come.
fn scan_line(line: &str, state: &mut Carried) -> LineScan {
    let b = line.as_bytes();
    let mut found = LineScan::default();
    // Whether the next non-blank begins a node; where the node being read
    // began (a key's column, once its `:` comes), and the last `-` entry's.
    let mut node = state.quote.is_none();
    let (mut node_col, mut key_col, mut dash_col) = (0, None::<usize>, None::<usize>);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = state.quote {
            // (At a `{`, an ASCII byte: a character's boundary.)
            if b[i..].starts_with(b"{{")
                && let Some(action) = actions(&line[i..]).next()
                && ends_quoted(action, q)
                && reads_go_field(action)
            {
                found.quoted_action = true;
            }
            match c {
                // `''` in a single-quoted scalar, `\x` in a double-quoted one.
                b'\'' if q == b'\'' && b.get(i + 1) == Some(&b'\'') => i += 1,
                b'\\' if q == b'"' => i += 1,
                _ if c == q => state.quote = None,
                _ => {}
            }
            i += 1;
            continue;
        }
        let blank_before = i == 0 || matches!(b[i - 1], b' ' | b'\t');
        let blank_after = b.get(i + 1).is_none_or(|n| matches!(n, b' ' | b'\t'));
        match c {
            b'#' if blank_before => break,
            b' ' | b'\t' => {}
            // A document's start, a tag or an anchor: the node comes after.
            b'-' if node
                && i == 0
                && b[i..].starts_with(b"---")
                && b.get(i + 3).is_none_or(|n| matches!(n, b' ' | b'\t')) =>
            {
                state.content = false;
                i += 3;
                continue;
            }
            // A document's end.
            b'.' if i == 0 && b.starts_with(b"...") && b.get(3).is_none_or(|n| matches!(n, b' ' | b'\t')) => {
                state.content = false;
                break;
            }
            b'!' | b'&' if node => {
                while i + 1 < b.len() && !matches!(b[i + 1], b' ' | b'\t') {
                    i += 1;
                }
            }
            b'"' | b'\'' if node => {
                (state.quote, node, node_col) = (Some(c), false, i);
            }
            b'{' if node && template_tag(&line[i..]) => (found.value_tag, node) = (true, false),
            // An ERB or EEx tag: `blob: <%= FixtureSet.blob filename: "a.png" %>`,
            // as Rails' fixtures write it (no YAML anyone writes begins a
            // node so).
            b'<' if node && erb_tag(&b[i..]) => (found.value_tag, node) = (true, false),
            // YAML reserves `@`: a node beginning `@name@` is a build's
            // substitution variable (`version: @VERSION@`).
            b'@' if node && super::substitution_variable(&b[i..]) => (found.value_tag, node) = (true, false),
            b'{' | b'[' if node => state.flow += 1,
            b']' | b'}' if state.flow > 0 => (state.flow, node) = (state.flow - 1, false),
            b',' if state.flow > 0 => node = true,
            b':' if blank_after || state.flow > 0 => (node, key_col) = (true, Some(node_col)),
            b'-' | b'?' if node && blank_after => (dash_col, key_col) = (Some(i), None),
            b'|' | b'>' if node && state.flow == 0 => {
                let rest = line[i + 1..].trim_start_matches(|c: char| c == '+' || c == '-' || c.is_ascii_digit());
                let after = rest.trim_start_matches([' ', '\t']);
                if after.is_empty() || (after.starts_with('#') && after.len() < rest.len()) {
                    let parent = key_col.or(dash_col);
                    let root = parent.is_none() && !state.content;
                    // A scalar after a key on the line before is indented
                    // past this line's start, as before.
                    let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
                    found.block_parent = Some(if root { None } else { Some(parent.unwrap_or(indent)) });
                }
                node = false;
            }
            _ => {
                if node {
                    node_col = i;
                }
                node = false;
            }
        }
        // Properties (a tag, an anchor) are no node yet.
        if !matches!(c, b' ' | b'\t' | b'!' | b'&') {
            state.content = true;
        }
        i += 1;
    }
    found
}

/// Whether `at` begins an ERB or EEx tag: `<%=`, `<%-` or `<%#`, or `<%`
/// and a blank with its `%>` on the line; not a lone `<%` (a delimiter
/// setting's value) or `<%5`.
fn erb_tag(at: &[u8]) -> bool {
    let end = memchr::memchr2(b'\n', b'\r', at).unwrap_or(at.len());
    match at.get(2) {
        Some(b'=' | b'-' | b'#') => true,
        Some(b' ' | b'\t') => memchr::memmem::find(&at[3..end], b"%>").is_some(),
        _ => false,
    }
}

/// Whether a Go action inside a quoted scalar holds a quote that ends the
/// scalar: a `"` not escaped, or a `'` not doubled.
fn ends_quoted(action: &str, q: u8) -> bool {
    let b = action.as_bytes();
    (0..b.len()).any(|i| {
        b[i] == q
            && if q == b'"' {
                i == 0 || b[i - 1] != b'\\'
            } else {
                b.get(i + 1) != Some(&q) && (i == 0 || b[i - 1] != q)
            }
    })
}

/// Whether `at` begins with a Jinja tag, or with a Go action reading a
/// field.
fn template_tag(at: &str) -> bool {
    at.starts_with("{%")
        || at.starts_with("{#")
        || (at.starts_with("{{") && actions(at).next().is_some_and(reads_go_field))
}

/// The insides of the `{{ … }}` actions of a line, in order (an action not
/// closed on the line ends the list).
fn actions(line: &str) -> impl Iterator<Item = &str> {
    let mut rest = line;
    std::iter::from_fn(move || {
        let open = rest.find("{{")?;
        let inside = &rest[open + 2..];
        let close = inside.find("}}")?;
        rest = &inside[close + 2..];
        Some(&inside[..close])
    })
}

/// Whether a Go template action reads a field: a `.` that begins a name
/// with a capital letter (Helm's objects, `.Values`, `.Release`,
/// `$.Chart`; a map's lowercase key is not told from Jinja's) or stands
/// alone (the dot itself, `include "name" .`), after the action's start, a
/// blank, `(` or `$`. Jinja and Ansible write `{{ item.name }}`, which has
/// none.
fn reads_go_field(action: &str) -> bool {
    let bytes = action.strip_prefix('-').unwrap_or(action).as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        let before = if i == 0 { b' ' } else { bytes[i - 1] };
        let after = bytes.get(i + 1).copied().unwrap_or(b' ');
        b == b'.'
            && matches!(before, b' ' | b'\t' | b'(' | b'$')
            && (after.is_ascii_uppercase() || matches!(after, b' ' | b'\t' | b')'))
    })
}

/// The check proper, on the decoded text; the line it stopped at if it
/// stopped at a layout [`relaxed_layout`] rewrites. Records the lines each block
/// scalar spans.
fn check_text(text: &str, cirrus: bool, out: &mut Collector<'_>, seen: &mut Signs) -> Option<usize> {
    // The parser wants a blank after a `?` that ends the stream, where YAML
    // takes the end as well (an empty explicit key): it is given a line feed,
    // and an error found past the file's end is reported at its end.
    let appended = text.ends_with('?').then_some(text.len());
    let text = if appended.is_some() { Cow::Owned(format!("{text}\n")) } else { Cow::Borrowed(text) };
    // The parser lets these through; the first error, this or the parser's,
    // ends the check.
    let mut controls = Controls::new(&text);
    let mut keys = Keys { cirrus, ..Keys::default() };
    let mut indentation = Indentation::new(&text);
    // The open collections: a block one's column, or `None` for a flow one.
    let mut open: Vec<Option<usize>> = Vec::new();
    // The outermost flow collection inside a block one: the columns its
    // lines must indent with spaces (one past the block's), the byte where
    // it starts, and how many flow collections are open in it.
    let mut flow_in_block: Option<(usize, usize, usize)> = None;
    // Where the last event ended (a character index): the directives of
    // an explicit document lie between it and the document's `---`.
    let mut last_end = 0;
    // After an error the parser yields it forever, and could not reliably
    // go on anyway: the first one ends the check.
    for event in Parser::new_from_str(&text) {
        if let Ok((Event::DocumentStart(true), span)) = &event {
            let (from, to) = (indentation.byte(last_end), indentation.byte(span.start.index()));
            if let Some((at, severity, why)) = version_directive(&text, from, to) {
                out.at(at, severity, || why);
                if severity == Severity::Error {
                    return None;
                }
            }
        }
        if let Ok((_, span)) = &event {
            last_end = span.end.index();
        }
        if let Ok((event, span)) = &event
            && controls.forbidden_before(event, span)
        {
            controls.report(out);
            return None;
        }
        match event {
            Ok((event, span)) => {
                // (Its text begins past its tag or anchor, which may end
                // the line before: `--- !omap` over a template's `<% … %>`.)
                if let Event::Scalar(_, ScalarStyle::Plain, ..) = event
                    && let first = indentation.after_properties(&span).map_or(span.start.line(), |at| at.line())
                    && span.end.line() > first
                {
                    seen.scalar_lines.push((first + 1, span.end.line()));
                }
                let starts = matches!(event, Event::MappingStart(..) | Event::SequenceStart(..));
                let flow = starts && indentation.is_flow(&span, open.last() == Some(&None));
                let sequence = matches!(event, Event::SequenceStart(..));
                let first = (starts && !flow).then(|| indentation.first_entry(&span, sequence));
                // The parser lets a tab indent a block collection at the top
                // level; YAML does not.
                let tab = match event {
                    Event::MappingStart(..) | Event::SequenceStart(..) if !flow => {
                        first.as_ref().and_then(|first| indentation.tab_before(first, true))
                    }
                    Event::Scalar(..) | Event::Alias(_) if keys.awaits_block_key() => {
                        match (indentation.after_properties(&span), open.last()) {
                            // Its anchor or tag on the line of its `?`: the
                            // key begins a later line, past the block's
                            // column with spaces first.
                            (Some(at), Some(Some(column))) => {
                                indentation.tab_before(&at, false).filter(|&(_, tab)| tab <= *column + 1)
                            }
                            _ => indentation.tab_before(&span.start, false),
                        }
                    }
                    // A scalar or a flow collection that begins its line in a
                    // block collection: spaces past the block's column come
                    // first (s-separate's line prefix); a tab may follow them.
                    Event::Scalar(..) | Event::Alias(_) | Event::MappingStart(..) | Event::SequenceStart(..) => {
                        match open.last() {
                            Some(Some(column)) => {
                                let at = indentation.after_properties(&span).unwrap_or(span.start);
                                indentation.tab_before(&at, false).filter(|&(_, tab)| tab <= *column + 1)
                            }
                            _ => None,
                        }
                    }
                    _ => None,
                };
                match event {
                    Event::MappingStart(..) | Event::SequenceStart(..) => {
                        if flow {
                            match (&mut flow_in_block, open.last()) {
                                (Some((_, _, depth)), _) => *depth += 1,
                                (None, Some(Some(column))) => {
                                    flow_in_block = Some((column + 1, indentation.byte(span.start.index()), 1));
                                }
                                _ => {}
                            }
                        }
                        open.push(first.map(|first| first.col()));
                    }
                    Event::MappingEnd | Event::SequenceEnd => {
                        if open.pop().is_some_and(|c| c.is_none())
                            && let Some((required, from, depth)) = &mut flow_in_block
                        {
                            *depth -= 1;
                            if *depth == 0 {
                                let to = indentation.byte(span.start.index());
                                if let Some(found) = tab_indenting_flow_line(&text, *from, to, *required) {
                                    out.at_position(found.0, found.1, Severity::Error, || TAB_INDENTATION.to_owned());
                                    return None;
                                }
                                flow_in_block = None;
                            }
                        }
                    }
                    _ => {}
                }
                if let Some((line, column)) = tab {
                    out.at_position(line, column, Severity::Error, || TAB_INDENTATION.to_owned());
                    return None;
                }
                match keys.on(event, span.start, flow) {
                    None => {}
                    Some(Found::Duplicate(dup)) => {
                        let (line, column) = position(&dup.at);
                        out.at_position(line, column, Severity::Error, || {
                            format!("duplicate key {} (first at line {})", dup.shown, dup.first_line)
                        });
                    }
                    Some(Found::Error(at, why)) => {
                        let (line, column) = position(&at);
                        out.at_position(line, column, Severity::Error, || why.to_owned());
                        return None;
                    }
                }
            }
            Err(e) => {
                // A C0 control before the parser's error comes first. A DEL,
                // C1 control or noncharacter not yet passed may be inside the
                // quoted scalar the parser read ahead of its error (a
                // possible key): the parser's error is reported instead.
                match controls.next {
                    Some((index, _, c)) if index < e.marker().index() && u32::from(c) < 0x20 => controls.report(out),
                    _ => match appended {
                        Some(end) if byte_at(&text, e.marker().index()) >= end => {
                            let (line, column) = end_position(&text[..end]);
                            out.at_position(line, column, Severity::Error, || e.info().to_owned());
                        }
                        _ => return report(&text, &e, open.contains(&None), out),
                    },
                }
                return None;
            }
        }
    }
    controls.report(out);
    None
}

/// The characters YAML forbids (YAML 1.2, section 5.1): C0 controls but
/// tab, line feed and carriage return anywhere, and DEL, the C1 controls but
/// NEL, and the noncharacters U+FFFE and U+FFFF outside quoted scalars (which take any character
/// JSON strings take). The parser lets all of them through. They are
/// looked for from the start, one at a time, as the parser's events pass
/// them.
struct Controls<'t> {
    text: &'t str,
    /// The next one not yet passed: its index in characters (as the parser
    /// counts), its byte offset, and itself.
    next: Option<(usize, usize, char)>,
}

impl<'t> Controls<'t> {
    fn new(text: &'t str) -> Self {
        let mut controls = Controls { text, next: None };
        controls.find_from(0, 0);
        controls
    }

    /// Finds the first at or after byte `from`, which is character `index`.
    fn find_from(&mut self, from: usize, index: usize) {
        let bytes = self.text.as_bytes();
        let found = bytes[from..].iter().enumerate().position(|(i, &b)| {
            (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
                || b == 0x7f
                // U+0080..U+009F but U+0085 (NEL), in UTF-8.
                || (b == 0xc2 && bytes.get(from + i + 1).is_some_and(|&n| (0x80..=0x9f).contains(&n) && n != 0x85))
                // The noncharacters U+FFFE and U+FFFF.
                || (b == 0xef && bytes.get(from + i + 1..from + i + 3).is_some_and(|n| n == b"\xbf\xbe" || n == b"\xbf\xbf"))
        });
        self.next = found.map(|i| {
            let byte = from + i;
            let c = self.text[byte..].chars().next().expect("a character starts there");
            (index + self.text[from..byte].chars().count(), byte, c)
        });
    }

    /// Whether a forbidden one comes before the event: any before its start;
    /// for a quoted scalar, a C0 control inside it too (the DEL and C1
    /// controls inside it are passed over).
    fn forbidden_before(&mut self, event: &Event<'_>, span: &Span) -> bool {
        let Some((index, _, _)) = self.next else { return false };
        if index < span.start.index() {
            return true;
        }
        if let Event::Scalar(_, ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted, ..) = event {
            while let Some((index, byte, c)) = self.next.filter(|&(index, ..)| index < span.end.index()) {
                if u32::from(c) < 0x20 {
                    return true;
                }
                self.find_from(byte + c.len_utf8(), index + 1);
            }
        }
        false
    }

    /// Reports the next one, if any.
    fn report(&self, out: &mut Collector<'_>) {
        let Some((_, byte, c)) = self.next else { return };
        let (line, column) = end_position(&self.text[..byte]);
        out.at_position(line, column, Severity::Error, || {
            if u32::from(c) < 0x20 {
                format!(
                    "control character U+{:04X}: YAML allows none but tab, line feed and carriage return, not even in a quoted scalar (YAML 1.2, section 5.1)",
                    u32::from(c)
                )
            } else if u32::from(c) >= 0xfffe {
                format!(
                    "noncharacter U+{:04X} outside a quoted scalar: YAML allows it only inside quoted scalars (YAML 1.2, section 5.1)",
                    u32::from(c)
                )
            } else {
                format!(
                    "control character U+{:04X} outside a quoted scalar: YAML allows DEL and the C1 controls (but U+0085) only inside quoted scalars (YAML 1.2, section 5.1)",
                    u32::from(c)
                )
            }
        });
    }
}

/// Whether the line holding character `index` is block structure, which
/// no flow collection holds: it begins (after blanks) with a block
/// sequence's `- `, or is a plain `key: value` that neither it nor the next
/// line's start goes on from as a flow collection's pair would (a `,`, a
/// closing bracket).
fn block_line(text: &str, index: usize) -> bool {
    let at = byte_at(text, index);
    let start = text[..at].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let end = text[at..].find(['\n', '\r']).map_or(text.len(), |i| at + i);
    let line = text[start..end].trim_start_matches([' ', '\t']);
    if line.strip_prefix('-').is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t'])) {
        return true;
    }
    let flow_char = |c: u8| matches!(c, b',' | b']' | b'}' | b'[' | b'{' | b'"' | b'\'' | b'?');
    let key = line.split_once(": ").or_else(|| line.strip_suffix(':').map(|k| (k, "")));
    let Some((key, _)) = key else { return false };
    let code = line.split(" #").next().unwrap_or(line).trim_end();
    let next = text[end..]
        .split(['\n', '\r'])
        .map(|l| l.trim_start_matches([' ', '\t']))
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    // It closes a collection it did not open (`b: c]`), or goes on to the
    // next pair (`a: b,`): not a value's own `[]`.
    let count = |set: &[u8]| code.bytes().filter(|c| set.contains(c)).count();
    let goes_on = code.ends_with(',') || count(b"]}") > count(b"[{");
    !key.is_empty()
        && !key.bytes().any(flow_char)
        && !goes_on
        && !next.bytes().next().is_some_and(|c| matches!(c, b',' | b']' | b'}'))
}

/// The parser's error, said as well as it can be; its line if it is a
/// layout [`relaxed_layout`] rewrites.
fn report(text: &str, e: &ScanError, in_flow: bool, out: &mut Collector<'_>) -> Option<usize> {
    // At the end of a file without a final line break the parser's line is
    // one past the last: the end is where the file ends.
    let (line, column) =
        if byte_at(text, e.marker().index()) >= text.len() { end_position(text) } else { position(e.marker()) };
    let info = e.info();
    // Not syntax errors: a limit of the parser, and a separator YAML 1.2
    // allows that the parser refuses. Warnings.
    if info == "recursion limit exceeded" {
        out.at_position(line, column, Severity::Warning, || TOO_DEEP.to_owned());
        return None;
    }
    // The parser names no alias: the one at its marker, by its name.
    if info == "while parsing node, found unknown anchor"
        && let Some(rest) = text[byte_at(text, e.marker().index())..].strip_prefix('*')
        && let name = rest.split(|c: char| c.is_whitespace() || ",[]{}".contains(c)).next().unwrap_or("")
        && !name.is_empty()
        && name.chars().count() <= 200
    {
        out.at_position(line, column, Severity::Error, || {
            format!("undefined alias `*{name}`: no anchor `&{name}` comes before it in its document")
        });
        return None;
    }
    // The parser's block indentation applied inside a flow collection
    // (`command: [` over lines of `"npm",` and `]` at the key's column, as
    // Compose files have it), though only for some first entries.
    // Unless the line is block structure (a `- ` entry, a `key:`): then
    // the flow collection was never closed.
    if matches!(info, "invalid indentation" | "invalid indentation in flow construct") && in_flow {
        if block_line(text, e.marker().index()) {
            out.at_position(line, column, Severity::Error, || UNCLOSED_FLOW.to_owned());
        } else {
            out.at_position(line, column, Severity::Warning, || FLOW_INDENTATION.to_owned());
            return Some(line);
        }
        return None;
    }
    // A quoted scalar continued on a line indented no deeper than its key
    // (YAML 1.2 refuses it, as the test suite's QB6E; libyaml and PyYAML
    // take it): nginx's GitHub workflow, a Compose file's healthcheck.
    // Found at that line, where the parser's marker is the opening quote.
    if info == "invalid indentation in quoted scalar"
        && let start = byte_at(text, e.marker().index())
        && let Some(at) = shallow_quoted_line(text, start)
    {
        let (line, column) = advance(position(e.marker()), &text[start..at]);
        out.at_position(line, column, Severity::Warning, || QUOTED_INDENTATION.to_owned());
        return Some(line);
    }
    if matches!(
        info,
        "':' must be followed by a valid YAML whitespace" | "tabs disallowed in this context" | "expected whitespace"
    ) && tab_after_indicator(text, e.marker().index())
    {
        out.at_position(line, column, Severity::Warning, || TAB_SEPARATOR.to_owned());
        return None;
    }
    if info == "tabs disallowed in this context" && tab_after_explicit_key_indentation(text, e.marker().index()) {
        out.at_position(line, column, Severity::Warning, || TAB_AFTER_INDENTATION.to_owned());
        return None;
    }
    // The same words for a tab the parser stopped at that indents its line.
    if info == "tabs disallowed in this context" {
        let at = byte_at(text, e.marker().index());
        let line_start = text[..at].rfind(['\n', '\r']).map_or(0, |i| i + 1);
        if text[at..].starts_with('\t') && text[line_start..at].bytes().all(|b| matches!(b, b' ' | b'\t')) {
            out.at_position(line, column, Severity::Error, || TAB_INDENTATION.to_owned());
            return None;
        }
    }
    // A `\u` escape of a UTF-16 surrogate, mostly half of a pair as JSON
    // writes a character past U+FFFF: said so, at the escape.
    if info == "while parsing a quoted scalar, found invalid Unicode character escape code"
        && let start = byte_at(text, e.marker().index())
        && let Some((at, message)) = surrogate_escape(text, start)
    {
        let (line, column) = advance(position(e.marker()), &text[start..at]);
        out.at_position(line, column, Severity::Error, || message);
        return None;
    }
    // A key longer than the 1024 characters YAML allows a key without `?`
    // (the parser's words vary): the marker is on the key's own line, past
    // it.
    if matches!(info, "simple key expect ':'" | "mapping values are not allowed in this context")
        && let Some((column, chars)) = content_before(text, e.marker().index())
        && chars >= 1024
    {
        out.at_position(line, column, Severity::Error, || LONG_KEY.to_owned());
        return None;
    }
    // Found where the parser gave up, at the next key or the end: the key
    // without a `:` is on the last line with content before that.
    let at_end = || byte_at(text, e.marker().index()) == text.len();
    if (info == "simple key expect ':'" || (info == "simple key expected" && at_end()))
        && let Some((key_line, key_column)) = last_content_line_before(text, e.marker().line())
    {
        let message = if entry_above(text, key_line, key_column) { NOT_AN_ENTRY } else { MISSING_COLON };
        out.at_position(key_line, key_column, Severity::Error, || message.to_owned());
        return None;
    }
    // A tab indenting a line: the parser stops where the node before it
    // ended, or past the tab; the finding points at the tab.
    // (A block collection's next entry not found where its line begins
    // with a tab: the tab is why.)
    let past = matches!(
        info,
        "tabs disallowed within this context (block indentation)"
            | "while parsing a block collection, did not find expected '-' indicator"
            | "while parsing a block mapping, did not find expected key"
            | "'-' must be followed by a valid YAML whitespace"
    );
    if (past || info == "while scanning a plain scalar, found a tab")
        && let Some((line, column)) = indenting_tab(text, e.marker().index(), past)
    {
        out.at_position(line, column, Severity::Error, || TAB_INDENTATION.to_owned());
        return None;
    }
    // The parser's "unexpected character: `@'", with mismatched quotes and
    // no way out.
    if let Some(c) = info.strip_prefix("unexpected character: `").and_then(|r| r.strip_suffix('\'')) {
        // YAML 1.0's header, `--- %YAML:1.0` (Syck's, and Symfony's parser
        // still takes it): a directive only 1.0 wrote so.
        let at = byte_at(text, e.marker().index());
        let line_start = text[..at].rfind(['\n', '\r']).map_or(0, |i| i + 1);
        if c == "%" && text[line_start..].trim_start_matches('\u{feff}').starts_with("--- %YAML:1.") {
            out.at_position(line, column, Severity::Warning, || YAML_1_0_HEADER.to_owned());
            return None;
        }
        let why = match c {
            "%" => "`%` begins a directive, at a document's start",
            _ => "YAML reserves `@` and the backtick",
        };
        out.at_position(line, column, Severity::Error, || {
            format!("a plain scalar cannot begin with `{c}`: {why} (YAML 1.2, section 5.3); quote it")
        });
        return None;
    }
    let info = info.split_whitespace().collect::<Vec<_>>().join(" ");
    out.at_position(line, column, Severity::Error, || info);
    None
}

/// In the double-quoted scalar starting at byte `start`, the first escape
/// that is no character, if it is a `\u` escape of a UTF-16 surrogate:
/// where it is, and what to say of it.
fn surrogate_escape(text: &str, start: usize) -> Option<(usize, String)> {
    let bytes = text.as_bytes();
    if bytes.get(start) != Some(&b'"') {
        return None;
    }
    let hex = |at: usize, n: usize| {
        text.get(at..at + n)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
    };
    let surrogate = |v: u32| (0xD800..=0xDFFF).contains(&v);
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return None,
            b'\\' => match bytes.get(i + 1) {
                Some(b'u') => {
                    let v = hex(i + 2, 4)?;
                    if surrogate(v) {
                        let low = (bytes.get(i + 6) == Some(&b'\\') && bytes.get(i + 7) == Some(&b'u'))
                            .then(|| hex(i + 8, 4))
                            .flatten()
                            .filter(|low| (0xDC00..=0xDFFF).contains(low));
                        let message = match low {
                            Some(low) if v < 0xDC00 => {
                                let c = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00);
                                format!(
                                    "`\\u{v:04X}\\u{low:04X}` is a UTF-16 surrogate pair, as JSON writes U+{c:X}: YAML has no \
                                     surrogates, and escapes it as `\\U{c:08X}` (libyaml and go-yaml refuse the pair too)"
                                )
                            }
                            _ => format!("`\\u{v:04X}` is a lone UTF-16 surrogate, which is no character"),
                        };
                        return Some((i, message));
                    }
                    i += 6;
                }
                Some(b'U') => {
                    let v = hex(i + 2, 8)?;
                    if surrogate(v) || v > 0x10FFFF {
                        return None;
                    }
                    i += 10;
                }
                Some(_) => i += 2,
                None => return None,
            },
            _ => i += 1,
        }
    }
    None
}

/// In the quoted scalar whose opening quote is at byte `start`, where the
/// first line begins that is indented no deeper than the line the scalar
/// begins on (its first character that is not a space); `None` when
/// there is none before the scalar ends.
fn shallow_quoted_line(text: &str, start: usize) -> Option<usize> {
    let quote = *text.as_bytes().get(start)?;
    if !matches!(quote, b'"' | b'\'') {
        return None;
    }
    let line_start = text[..start].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let spaces = |from: usize| text.as_bytes()[from..].iter().take_while(|&&b| b == b' ').count();
    let indent = spaces(line_start);
    let bytes = text.as_bytes();
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            // An escaped line break is a line break all the same.
            b'\\' if quote == b'"' && !matches!(bytes.get(i + 1), Some(b'\n' | b'\r')) => i += 1,
            b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 1,
            b if b == quote => return None,
            b'\n' | b'\r' => {
                let next = i + 1 + usize::from(bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n'));
                let first = next + spaces(next);
                if !matches!(bytes.get(first), None | Some(b'\n' | b'\r')) && first - next <= indent {
                    return Some(first);
                }
                i = next;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

const YAML_1_0_HEADER: &str = "`--- %YAML:1.0` is YAML 1.0's header, which YAML 1.1 and 1.2 parsers refuse (Syck and Symfony's parser take it), as does this check's parser, so the rest of the file is not checked; write `%YAML 1.2` on a line of its own before `---`, or leave it out";

const QUOTED_INDENTATION: &str = "a line of a quoted scalar indented no deeper than the key it belongs to: YAML 1.2 refuses it, but libyaml and PyYAML take it, so the tools that read such files may too (the rest of the file is checked as they read it); indent the scalar's lines deeper than its key";

const TAB_INDENTATION: &str = "a tab in the indentation: YAML indents with spaces only (YAML 1.2, section 6.1)";

/// Where the tab the parser stopped at is, as a finding's line and column.
/// With `past`, the parser's position is past it on its line; without, the
/// position is the start of a plain scalar, and the tab indents a later line
/// of it: the first line with content whose leading blanks hold a tab no
/// further in than the scalar's own line is indented.
fn indenting_tab(text: &str, index: usize, past: bool) -> Option<(usize, usize)> {
    let at = byte_at(text, index);
    let line_start = text[..at].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let blanks = |line: &str| line.len() - line.trim_start_matches([' ', '\t']).len();
    let mut lines = text[line_start..].split_inclusive(['\n', '\r']);
    let first = lines.next()?;
    if past {
        // Only blanks (and the indicators of compact collections: `- \t- x`)
        // before the parser's position, and a tab among them.
        let before = &text[line_start..at];
        let compact = before.trim_start_matches([' ', '\t', '-', '?', ':']).is_empty();
        return compact.then(|| before.find('\t')).flatten().map(|tab| end_position(&text[..line_start + tab]));
    }
    // The column the scalar's line's content starts at, past any `- `,
    // `? ` or `: ` that open compact collections.
    let own = first.len() - first.trim_start_matches([' ', '\t', '-', '?', ':']).len();
    let mut offset = line_start + first.len();
    for line in lines {
        let indent = blanks(line);
        let rest = line[indent..].trim_end_matches(['\n', '\r']);
        if !rest.is_empty()
            && !rest.starts_with('#')
            && let Some(tab) = line[..indent].find('\t').filter(|&tab| tab <= own)
        {
            return Some(end_position(&text[..offset + tab]));
        }
        offset += line.len();
    }
    None
}

/// The first tab among the first `required` columns of the lines after the
/// one holding byte `from`, through the one holding byte `to`, that have
/// content: the lines of a flow collection inside a block collection, which
/// YAML indents with spaces past the block's column (s-flow-line-prefix).
/// Blank and comment-only lines may hold tabs.
fn tab_indenting_flow_line(text: &str, from: usize, to: usize, required: usize) -> Option<(usize, usize)> {
    let mut pos = from + text[from..].find(['\n', '\r'])?;
    while pos < to {
        pos += if text[pos..].starts_with("\r\n") { 2 } else { 1 };
        if pos > to {
            break;
        }
        let end = text[pos..].find(['\n', '\r']).map_or(text.len(), |i| pos + i);
        let line = &text[pos..end];
        let blanks = line.len() - line.trim_start_matches([' ', '\t']).len();
        let content = &line[blanks..];
        if !content.is_empty()
            && !content.starts_with('#')
            && let Some(tab) = line[..blanks].find('\t').filter(|&tab| tab < required)
        {
            return Some(end_position(&text[..pos + tab]));
        }
        pos = end;
    }
    None
}

/// Finds the tabs the parser takes as indentation although YAML does not:
/// one before a block collection (or a key of one) that starts its line.
struct Indentation<'t> {
    text: &'t str,
    ascii: bool,
    /// A character index and its byte offset: the markers asked about come
    /// mostly in order, so each conversion walks on from the last.
    chars: usize,
    bytes: usize,
    /// The line [`Indentation::tab_before`] last looked at.
    line: LineStart,
}

impl<'t> Indentation<'t> {
    fn new(text: &'t str) -> Self {
        Indentation { text, ascii: text.is_ascii(), chars: 0, bytes: 0, line: LineStart::default() }
    }

    /// The byte offset of character `index` (the parser counts characters).
    fn byte(&mut self, index: usize) -> usize {
        if self.ascii {
            return index.min(self.text.len());
        }
        while self.chars > index {
            self.bytes -= 1;
            while !self.text.is_char_boundary(self.bytes) {
                self.bytes -= 1;
            }
            self.chars -= 1;
        }
        for c in self.text[self.bytes..].chars() {
            if self.chars == index {
                break;
            }
            self.bytes += c.len_utf8();
            self.chars += 1;
        }
        self.bytes
    }

    /// Whether the collection a start event opens is a flow collection.
    /// Inside a flow collection every collection is one (an implicit pair,
    /// `[a: 1]`, has an empty span). Otherwise its span holds its `{` or `[`,
    /// after its anchor and tag if any, and may go on past it over blanks
    /// and a comment; a block collection's span is empty, or holds its
    /// anchor and tag, or (an indentless sequence) its first `- `.
    fn is_flow(&mut self, span: &Span, in_flow: bool) -> bool {
        if in_flow {
            return true;
        }
        if span.end.index() == span.start.index() {
            return false;
        }
        let (start, end) = (self.byte(span.start.index()), self.byte(span.end.index()));
        let bytes = self.text.as_bytes();
        let past = past_properties(bytes, start);
        past.at <= end && matches!(bytes.get(past.at), Some(b'{' | b'['))
    }

    /// Where a node with an anchor or a tag on an earlier line begins (the
    /// span of its event starts at them), if it does.
    fn after_properties(&mut self, span: &Span) -> Option<Marker> {
        let start = self.byte(span.start.index());
        let bytes = self.text.as_bytes();
        if !matches!(bytes.get(start), Some(b'&' | b'!')) {
            return None;
        }
        let past = past_properties(bytes, start);
        let line_start = past.line_start?;
        let index = span.start.index() + self.text[start..past.at].chars().count();
        Some(Marker::new(index, span.start.line() + past.breaks, past.at - line_start))
    }

    /// Where a block collection's first entry or key is: its span's end
    /// (past its anchor and tag, if any), except for an indentless sequence
    /// (`k:\n- x`, at its mapping's column), whose start the parser puts
    /// past its first `- `: then the `-`.
    fn first_entry(&mut self, span: &Span, sequence: bool) -> Marker {
        let at = span.end;
        let byte = self.byte(at.index());
        let bytes = self.text.as_bytes();
        if !sequence || bytes.get(byte) == Some(&b'-') {
            return at;
        }
        let blanks = bytes[..byte].iter().rev().take_while(|b| matches!(b, b' ' | b'\t')).count();
        match byte.checked_sub(blanks + 1) {
            Some(dash) if bytes[dash] == b'-' && at.col() > blanks => {
                Marker::new(at.index() - blanks - 1, at.line(), at.col() - blanks - 1)
            }
            _ => at,
        }
    }

    /// The 1-based line and column of the first tab before `at`, if only
    /// blanks precede it on its line, or with `compact`, blanks and the
    /// indicators (`- `, `? `, `: `) of the collections it is nested in.
    /// What a line's start holds is learnt once, however many positions on
    /// it are asked about (`- - - … x` asks at every `-`).
    fn tab_before(&mut self, at: &Marker, compact: bool) -> Option<(usize, usize)> {
        let column = at.col();
        if column == 0 {
            return None;
        }
        let byte = self.byte(at.index());
        let bytes = self.text.as_bytes();
        let known = &mut self.line;
        if known.line != at.line() || byte < known.to {
            // `column` characters from the line's start: they are the
            // `column` bytes before it if all are ASCII, as every byte the
            // answer could accept is.
            let start = byte.checked_sub(column)?;
            if start > 0 && !matches!(bytes[start - 1], b'\n' | b'\r') {
                return None;
            }
            *known = LineStart { line: at.line(), to: start, ..LineStart::default() };
        }
        for &b in &bytes[known.to..byte] {
            match b {
                b' ' | b'\t' => {
                    if b == b'\t' && known.tab.is_none() {
                        known.tab = Some(known.to - (byte - column));
                    }
                    known.after_indicator = false;
                }
                b'-' | b'?' | b':' if !known.after_indicator => {
                    known.blanks_only = false;
                    known.after_indicator = true;
                }
                _ => {
                    known.blanks_only = false;
                    known.compact = false;
                }
            }
            known.to += 1;
        }
        // An indicator is followed by a blank (`-1` is a scalar), and so is
        // the last one before `at`.
        let shape = if compact { known.compact && !known.after_indicator } else { known.blanks_only };
        let tab = known.tab.filter(|_| shape)?;
        Some((at.line().max(1), tab + 1))
    }
}

/// Where the content after a node's anchor and tag begins: past them and
/// the blanks, comments and line breaks around them.
struct PastProperties {
    /// The byte of the first other character (or the end).
    at: usize,
    /// The line breaks crossed (CRLF counting once).
    breaks: usize,
    /// Where the last line crossed into starts.
    line_start: Option<usize>,
}

fn past_properties(bytes: &[u8], from: usize) -> PastProperties {
    let mut past = PastProperties { at: from, breaks: 0, line_start: None };
    let i = &mut past.at;
    while *i < bytes.len() {
        match bytes[*i] {
            b' ' | b'\t' => *i += 1,
            b'\r' | b'\n' => {
                *i += if bytes[*i..].starts_with(b"\r\n") { 2 } else { 1 };
                past.breaks += 1;
                past.line_start = Some(*i);
            }
            // An anchor or a tag: to the next blank.
            b'&' | b'!' => {
                while *i < bytes.len() && !matches!(bytes[*i], b' ' | b'\t' | b'\n' | b'\r') {
                    *i += 1;
                }
            }
            b'#' => {
                while *i < bytes.len() && !matches!(bytes[*i], b'\n' | b'\r') {
                    *i += 1;
                }
            }
            _ => break,
        }
    }
    past
}

/// What the start of a line holds, up to a byte: see
/// [`Indentation::tab_before`].
struct LineStart {
    /// The parser's line number.
    line: usize,
    /// The byte up to which the line was read.
    to: usize,
    /// Only blanks so far.
    blanks_only: bool,
    /// Only blanks and indicators, each followed by a blank.
    compact: bool,
    /// The last byte read was an indicator.
    after_indicator: bool,
    /// The first tab's column (0-based), if any.
    tab: Option<usize>,
}

impl Default for LineStart {
    fn default() -> Self {
        LineStart { line: usize::MAX, to: 0, blanks_only: true, compact: true, after_indicator: false, tab: None }
    }
}

const TOO_DEEP: &str = "flow collections (`[` and `{`) nested more than 255 deep: the YAML parser reads no deeper, so the rest of the file is not checked";

const FLOW_INDENTATION: &str = "a line of a flow collection (`[`, `{`) indented no deeper than the block around it: YAML 1.2 refuses it, but most YAML parsers (libyaml, PyYAML, go-yaml) take it (the rest of the file is checked as they read it); indent the collection's lines, its closing bracket too, deeper than its key";

const UNCLOSED_FLOW: &str = "a flow collection (`[`, `{`) opened above is not closed before this line, which is block structure (a `- ` entry, or a `key:` the collection does not go on after): close it with its `]` or `}`";

const TAB_SEPARATOR: &str = "a tab after `:`, `?` or `-`: YAML 1.2 allows it, but some parsers (PyYAML's pure-Python loader, ruamel.yaml) refuse it, as does this check's parser, so the rest of the file is not checked; a space works everywhere";

const TAB_AFTER_INDENTATION: &str = "a tab after the spaces indenting an explicit key's content: YAML 1.2 allows it, but some parsers (PyYAML) refuse it, as does this check's parser, so the rest of the file is not checked; spaces work everywhere";

const LONG_KEY: &str = "a key longer than 1024 characters: YAML allows that only for a key written after `? `";

const MISSING_COLON: &str =
    "could not find the `:` after this key: a line in a mapping must be `key: value` or belong to the value above";

const NOT_AN_ENTRY: &str = "this line is not an entry of the sequence above: a line at a sequence's indentation must start with `- ` (or belong to the value above)";

/// Whether the block `line` was read in, at `column` (1-based, in
/// characters), is a sequence: going up from `line` past deeper lines, the
/// lines at that column are `- ` entries up to one indented less (or the
/// top). A `key:` line at that column above them (a sequence written at
/// its key's column, as Kubernetes manifests are) makes it a mapping.
fn entry_above(text: &str, line: usize, column: usize) -> bool {
    let above: Vec<&str> = lines(text).take(line.saturating_sub(1)).collect();
    let mut entries = false;
    for content in above.iter().rev() {
        // A document's start or end, or a directive: the top of the block.
        let marker = |m: &str| content.strip_prefix(m).is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t']));
        if marker("---") || marker("...") || content.starts_with('%') {
            break;
        }
        let trimmed = content.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = content[..content.len() - trimmed.len()].chars().count() + 1;
        if indent < column {
            break;
        }
        if indent == column {
            if trimmed == "-" || trimmed.starts_with("- ") || trimmed.starts_with("-\t") {
                entries = true;
            } else {
                return false;
            }
        }
    }
    entries
}

/// The byte offset of character `index` (the parser counts characters), or
/// the end.
fn byte_at(text: &str, index: usize) -> usize {
    text.char_indices().nth(index).map_or(text.len(), |(i, _)| i)
}

/// Whether the blanks around character `index` hold a tab, follow a `:`,
/// `?` or `-` on the same line and precede a scalar (a tab as a separator,
/// not as indentation).
fn tab_after_indicator(text: &str, index: usize) -> bool {
    let at = byte_at(text, index);
    let bytes = text.as_bytes();
    let mut end = at;
    while end < bytes.len() && matches!(bytes[end], b' ' | b'\t') {
        end += 1;
    }
    let mut start = at;
    while start > 0 && matches!(bytes[start - 1], b' ' | b'\t') {
        start -= 1;
    }
    // What follows on the line must not start a block collection (`- x`,
    // `k: v`), for which the tab would be indentation, which YAML forbids.
    let line = &text[end..text[end..].find(['\n', '\r']).map_or(text.len(), |i| end + i)];
    bytes[start..end].contains(&b'\t')
        && start > 0
        && matches!(bytes[start - 1], b':' | b'?' | b'-')
        && !starts_block_collection(line)
}

/// Whether a line's content (past its indentation) starts a block
/// collection (`- x`, `k: v`), for which a tab before it would be
/// indentation, which YAML forbids.
fn starts_block_collection(line: &str) -> bool {
    line == "-"
        || line.starts_with("- ")
        || line.starts_with("-\t")
        || line == "?"
        || line.starts_with("? ")
        || line.starts_with("?\t")
        || line.contains(": ")
        || line.contains(":\t")
        || line.ends_with(':')
}

/// Whether the tab at character `index` follows the spaces indenting the
/// content of an explicit key (`?` alone on the line before, but for a
/// comment) and precedes a scalar or a flow collection: YAML 1.2 takes it as
/// a separator after the indentation, the parser refuses it.
fn tab_after_explicit_key_indentation(text: &str, index: usize) -> bool {
    let at = byte_at(text, index);
    let line_start = text[..at].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let indent = &text[line_start..at];
    let rest = &text[at..text[at..].find(['\n', '\r']).map_or(text.len(), |i| at + i)];
    let content = rest.trim_start_matches([' ', '\t']);
    // (A flow collection or a quoted scalar may hold `: ` of its own.)
    let block = !content.starts_with(['{', '[', '"', '\'']) && starts_block_collection(content);
    if !rest.starts_with('\t') || indent.is_empty() || !indent.bytes().all(|b| b == b' ') || block {
        return false;
    }
    // The last line before with content (YAML's line breaks: LF, CRLF, CR).
    let mut before = &text[..line_start];
    loop {
        let Some(ended) = before.strip_suffix("\r\n").or_else(|| before.strip_suffix(['\n', '\r'])) else {
            return false;
        };
        let start = ended.rfind(['\n', '\r']).map_or(0, |i| i + 1);
        let line = ended[start..].trim_matches([' ', '\t']);
        if !line.is_empty() && !line.starts_with('#') {
            // The content is indented deeper than the `?`, with spaces.
            let key_indent = ended[start..].len() - ended[start..].trim_start_matches(' ').len();
            let after = line.strip_prefix('?');
            return indent.len() > key_indent
                && after
                    .is_some_and(|r| r.is_empty() || (r.starts_with([' ', '\t']) && r.trim_start().starts_with('#')));
        }
        before = &ended[..start];
    }
}

/// The 1-based column of the first non-blank character of the line that
/// character `index` is on, and how many characters there are from it to
/// `index`, if one comes before `index`.
fn content_before(text: &str, index: usize) -> Option<(usize, usize)> {
    let at = byte_at(text, index);
    let start = text[..at].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let line = &text[start..at];
    let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
    (indent < line.len()).then(|| (line[..indent].chars().count() + 1, line[indent..].chars().count()))
}

/// The 1-based line and column of the first character of the last line
/// before `line` (1-based, YAML's line breaks: LF, CRLF or CR) that is not
/// blank or a comment.
fn last_content_line_before(text: &str, line: usize) -> Option<(usize, usize)> {
    let mut found = None;
    for (number, content) in (1..line).zip(lines(text)) {
        let indent = content.len() - content.trim_start_matches([' ', '\t']).len();
        let trimmed = &content[indent..];
        if !trimmed.is_empty() && !trimmed.starts_with('#') {
            found = Some((number, content[..indent].chars().count() + 1));
        }
    }
    found
}

/// The lines of `text`, without their breaks (YAML's: LF, CRLF or CR).
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let r = rest?;
        let end = r.find(['\n', '\r']).unwrap_or(r.len());
        let skip = if r[end..].starts_with("\r\n") { 2 } else { 1 };
        rest = r.get(end + skip..).filter(|_| end < r.len());
        Some(&r[..end])
    })
}

/// The parser's 1-based line and 0-based column (in characters) as a
/// finding's 1-based line and column.
fn position(at: &Marker) -> (usize, usize) {
    (at.line().max(1), at.col() + 1)
}

/// Why the content is not text in any encoding YAML allows.
#[derive(Debug)]
pub(super) struct Undecodable {
    /// Where, in bytes.
    offset: usize,
    /// Where, as line and column in characters, for UTF-16 and UTF-32
    /// (whose bytes the finding's locator would count instead).
    position: Option<(usize, usize)>,
    why: String,
}

/// The 1-based line and column just past `text` (YAML's line breaks: LF,
/// CRLF or CR).
fn end_position(text: &str) -> (usize, usize) {
    advance((1, 1), text)
}

/// The line and column after `text`, which starts at `from`.
fn advance(from: (usize, usize), text: &str) -> (usize, usize) {
    let ((mut line, mut column), mut after_cr) = (from, false);
    for c in text.chars() {
        match c {
            '\n' if after_cr => {}
            '\n' | '\r' => (line, column) = (line + 1, 1),
            _ => column += 1,
        }
        after_cr = c == '\r';
    }
    (line, column)
}

/// The content as text. YAML streams may be UTF-8, UTF-16 or UTF-32 (YAML
/// 1.2, section 5.2): a byte order mark says which, or else the zero bytes
/// around the first character, which must be ASCII.
pub(super) fn decode(content: &[u8]) -> Result<Cow<'_, str>, Undecodable> {
    #[derive(Clone, Copy)]
    enum Wide {
        Utf16 { big: bool },
        Utf32 { big: bool },
    }
    let (skip, wide) = match content {
        [0, 0, 0xFE, 0xFF, ..] => (4, Wide::Utf32 { big: true }),
        [0xFF, 0xFE, 0, 0, ..] => (4, Wide::Utf32 { big: false }),
        [0xFE, 0xFF, ..] => (2, Wide::Utf16 { big: true }),
        [0xFF, 0xFE, ..] => (2, Wide::Utf16 { big: false }),
        [0, 0, 0, a, ..] if *a != 0 => (0, Wide::Utf32 { big: true }),
        [a, 0, 0, 0, ..] if *a != 0 => (0, Wide::Utf32 { big: false }),
        [0, a, ..] if *a != 0 => (0, Wide::Utf16 { big: true }),
        [a, 0, ..] if *a != 0 => (0, Wide::Utf16 { big: false }),
        _ => {
            let bom = if content.starts_with(super::BOM) { super::BOM.len() } else { 0 };
            return match std::str::from_utf8(&content[bom..]) {
                Ok(text) => Ok(Cow::Borrowed(text)),
                Err(e) => {
                    let offset = bom + e.valid_up_to();
                    Err(Undecodable {
                        offset,
                        position: None,
                        why: format!(
                            "invalid UTF-8 at byte offset {offset} (a YAML file without a UTF-16 or UTF-32 byte order mark is UTF-8)"
                        ),
                    })
                }
            };
        }
    };
    let body = &content[skip..];
    let mut text = String::with_capacity(body.len() / 2);
    match wide {
        Wide::Utf16 { big } => {
            let unit = |c: &[u8]| if big { u16::from_be_bytes([c[0], c[1]]) } else { u16::from_le_bytes([c[0], c[1]]) };
            let mut at = skip;
            for c in char::decode_utf16(body.chunks_exact(2).map(unit)) {
                match c {
                    Ok(c) => {
                        text.push(c);
                        at += 2 * c.len_utf16();
                    }
                    Err(e) => {
                        return Err(Undecodable {
                            offset: at,
                            position: Some(end_position(&text)),
                            why: format!(
                                "invalid UTF-16 at byte offset {at}: unpaired surrogate {:#06x}",
                                e.unpaired_surrogate()
                            ),
                        });
                    }
                }
            }
            if body.len() % 2 == 1 {
                let offset = content.len() - 1;
                return Err(Undecodable {
                    offset,
                    position: Some(end_position(&text)),
                    why: format!("invalid UTF-16: an odd byte at the end (offset {offset})"),
                });
            }
        }
        Wide::Utf32 { big } => {
            for (i, c) in body.chunks(4).enumerate() {
                let offset = skip + 4 * i;
                let c = <[u8; 4]>::try_from(c)
                    .ok()
                    .and_then(|c| char::from_u32(if big { u32::from_be_bytes(c) } else { u32::from_le_bytes(c) }));
                match c {
                    Some(c) => text.push(c),
                    None => {
                        let why = format!("invalid UTF-32 at byte offset {offset}");
                        return Err(Undecodable { offset, position: Some(end_position(&text)), why });
                    }
                }
            }
        }
    }
    Ok(Cow::Owned(text))
}

/// What the events showed.
enum Found {
    Duplicate(Duplicate),
    /// An error the parser does not see; the check ends there.
    Error(Marker, &'static str),
}

/// A `%YAML` directive between bytes `from` and `to` (the directives of a
/// document) naming a version YAML 1.2 does not read as its own (the parser
/// reads any as 1.2): a later major version is refused (YAML 1.2, section
/// 6.8.1: a document of one "should be rejected with an appropriate
/// error"), a later minor one read as 1.2 with a warning. The byte where it
/// starts, the severity and why.
fn version_directive(text: &str, from: usize, to: usize) -> Option<(usize, Severity, String)> {
    // A document ended without `...` ends at the `---` that follows: no
    // directives can come between.
    let mut at = from;
    if from >= to {
        return None;
    }
    for line in text[from..to].split_inclusive('\n') {
        let start = at;
        at += line.len();
        let Some(rest) = line.strip_prefix("%YAML") else { continue };
        let version = rest.split([' ', '\t', '\r', '\n', '#']).find(|w| !w.is_empty()).unwrap_or("");
        let (major, minor) = version.split_once('.')?;
        let (major, minor): (u64, u64) = (major.parse().ok()?, minor.parse().ok()?);
        return match (major, minor) {
            (1, 0..=2) => None,
            (1, _) => Some((
                start,
                Severity::Warning,
                format!("`%YAML {version}`: a later version of YAML 1, read as YAML 1.2"),
            )),
            _ => Some((
                start,
                Severity::Error,
                format!(
                    "`%YAML {version}`: a document of another major version of YAML than 1, which this check does not read"
                ),
            )),
        };
    }
    None
}

/// A duplicate key.
struct Duplicate {
    at: Marker,
    shown: String,
    first_line: usize,
}

/// Where a node being built sits, and what it has seen.
enum Frame {
    Mapping {
        anchor: usize,
        /// A flow mapping (`{…}`), not a block one.
        flow: bool,
        /// The keys so far, with the line each is on.
        seen: Seen,
        /// The key waiting for its value (its hash, if hashed).
        key: Option<Option<u128>>,
        /// In Cirrus CI's configuration: the key waiting for its value is
        /// `matrix`; this mapping is a `matrix` key's value.
        matrix: (bool, bool),
        /// The sum of its entries' hashes (order-independent), if its own
        /// hash is wanted.
        sum: Option<u128>,
        start: Marker,
    },
    Sequence {
        anchor: usize,
        hasher: Option<Box<Xxh3>>,
        start: Marker,
    },
}

/// A mapping's keys: a short list while it is short (most mappings), a
/// hash map past that.
enum Seen {
    Few(Vec<(u128, usize)>),
    Many(HashMap<u128, usize>),
}

/// Few enough keys to look through one by one.
const LINEAR: usize = 16;

impl Seen {
    /// The line of the key's first occurrence, or records it.
    fn first_or_insert(&mut self, hash: u128, line: usize) -> Option<usize> {
        match self {
            Seen::Few(list) => {
                if let Some(&(_, first)) = list.iter().find(|(h, _)| *h == hash) {
                    return Some(first);
                }
                if list.len() < LINEAR {
                    list.push((hash, line));
                } else {
                    let mut map: HashMap<u128, usize> = list.drain(..).collect();
                    map.insert(hash, line);
                    *self = Seen::Many(map);
                }
                None
            }
            Seen::Many(map) => match map.entry(hash) {
                std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(line);
                    None
                }
            },
        }
    }
}

/// What an anchor stands for: its node's hash, and how to show it as a key.
struct Anchored {
    hash: u128,
    shown: String,
}

/// Follows the events, finding duplicate keys.
#[derive(Default)]
struct Keys {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    /// The anchors of the documents before this one, which its aliases
    /// cannot refer to.
    earlier: std::collections::HashSet<usize>,
    /// Cirrus CI's configuration (see [`yaml`]).
    cirrus: bool,
}

impl Keys {
    /// Whether the next node must be hashed: it is a key, or inside a node
    /// that is hashed.
    fn wants_hash(&self) -> bool {
        match self.stack.last() {
            None => false,
            Some(Frame::Mapping { key: None, .. }) => true,
            Some(Frame::Mapping { sum, .. }) => sum.is_some(),
            Some(Frame::Sequence { hasher, .. }) => hasher.is_some(),
        }
    }

    /// Whether the next node is a key of a block mapping.
    fn awaits_block_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Mapping { flow: false, key: None, .. }))
    }

    /// Takes the next event; `flow` tells a flow collection's start.
    fn on(&mut self, event: Event<'_>, at: Marker, flow: bool) -> Option<Found> {
        match event {
            Event::DocumentStart(_) => {
                // Anchors do not reach past their document.
                self.earlier.extend(self.anchors.drain().map(|(id, _)| id));
                self.stack.clear();
                None
            }
            Event::Scalar(value, style, anchor, tag) => {
                let merge = style == ScalarStyle::Plain && tag.is_none() && value == "<<";
                let hash = (anchor != 0 || self.wants_hash()).then(|| scalar_hash(&value, style, tag.as_deref()));
                if anchor != 0 {
                    let shown = shown(&value);
                    self.anchors.insert(anchor, Anchored { hash: hash.expect("hashed"), shown });
                }
                // A merge key (`<<`, YAML 1.1) may be given more than once.
                let as_key = (!merge).then_some(|| shown(&value));
                let cirrus = match self.cirrus && style == ScalarStyle::Plain {
                    false => CirrusKey::Other,
                    true if value == "matrix" => CirrusKey::Matrix,
                    true if self.stack.len() == 1 && cirrus_top_level_repeats(&value) => CirrusKey::Repeats,
                    true => CirrusKey::Other,
                };
                self.node_done_as(hash, at, as_key, cirrus)
            }
            Event::Alias(id) => {
                match self.anchors.get(&id) {
                    Some(a) => {
                        let (hash, shown) = (a.hash, a.shown.clone());
                        self.node_done(Some(hash), at, Some(|| format!("{shown} via an alias")))
                    }
                    // The parser knows the anchor from an earlier document.
                    None if self.earlier.contains(&id) => Some(Found::Error(
                        at,
                        "undefined alias: its anchor is in an earlier document, and anchors do not reach past their document",
                    )),
                    // An alias of a node still open (the parser refuses an
                    // undefined one): a node all the same, never a duplicate.
                    None => self.node_done(None, at, None::<fn() -> String>),
                }
            }
            Event::SequenceStart(anchor, tag) => {
                let hasher = (anchor != 0 || self.wants_hash()).then(|| {
                    let mut h = Box::new(Xxh3::new());
                    h.update(b"seq");
                    if let Some(tag) = collection_tag(tag.as_deref(), "seq") {
                        h.update(tag.as_bytes());
                    }
                    h
                });
                self.stack.push(Frame::Sequence { anchor, hasher, start: at });
                None
            }
            Event::MappingStart(anchor, tag) => {
                let sum = (anchor != 0 || self.wants_hash())
                    .then(|| collection_tag(tag.as_deref(), "map").map_or(0, |t| xxh3_128(t.as_bytes())));
                let of_matrix =
                    matches!(self.stack.last(), Some(Frame::Mapping { key: Some(_), matrix: (true, _), .. }));
                self.stack.push(Frame::Mapping {
                    anchor,
                    flow,
                    seen: Seen::Few(Vec::new()),
                    key: None,
                    matrix: (false, of_matrix),
                    sum,
                    start: at,
                });
                None
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Sequence { anchor, hasher, start }) => {
                    let hash = hasher.map(|h| h.digest128());
                    self.collection_done(anchor, hash, start, "(a sequence)")
                }
                _ => None,
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Mapping { anchor, sum, start, .. }) => {
                    let hash = sum.map(|s| xxh3_128(&[b"map".as_slice(), &s.to_le_bytes()].concat()));
                    self.collection_done(anchor, hash, start, "(a mapping)")
                }
                _ => None,
            },
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => None,
        }
    }

    fn collection_done(&mut self, anchor: usize, hash: Option<u128>, start: Marker, what: &str) -> Option<Found> {
        if anchor != 0 {
            let hash = hash.expect("anchored nodes are hashed");
            self.anchors.insert(anchor, Anchored { hash, shown: what.to_owned() });
        }
        self.node_done(hash, start, Some(|| what.to_owned()))
    }

    /// A node is complete: it is a key or a value of the mapping it is in,
    /// or an item of its sequence. `shown` is how to show it as a key,
    /// asked for a duplicate only (`None`: a merge key, never a duplicate).
    fn node_done(&mut self, hash: Option<u128>, at: Marker, shown: Option<impl FnOnce() -> String>) -> Option<Found> {
        self.node_done_as(hash, at, shown, CirrusKey::Other)
    }

    /// [`Keys::node_done`], for a node that is a plain scalar Cirrus CI's
    /// configuration may repeat as a key (`cirrus`).
    fn node_done_as(
        &mut self,
        hash: Option<u128>,
        at: Marker,
        shown: Option<impl FnOnce() -> String>,
        cirrus: CirrusKey,
    ) -> Option<Found> {
        match self.stack.last_mut()? {
            Frame::Sequence { hasher, .. } => {
                if let (Some(h), Some(node)) = (hasher, hash) {
                    h.update(&node.to_le_bytes());
                }
                None
            }
            Frame::Mapping { seen, key, sum, matrix: (key_matrix, of_matrix), .. } => match key.take() {
                None => {
                    *key = Some(hash);
                    *key_matrix = cirrus == CirrusKey::Matrix;
                    // Cirrus' matrix modification: each a task's variant;
                    // and its top level's tasks.
                    if cirrus != CirrusKey::Other || *of_matrix {
                        return None;
                    }
                    let (hash, shown) = (hash?, shown?);
                    let first_line = seen.first_or_insert(hash, at.line())?;
                    Some(Found::Duplicate(Duplicate { at, shown: shown(), first_line }))
                }
                Some(key_hash) => {
                    if let (Some(sum), Some(k), Some(v)) = (sum.as_mut(), key_hash, hash) {
                        let entry = xxh3_128(&[k.to_le_bytes(), v.to_le_bytes()].concat());
                        *sum = sum.wrapping_add(entry);
                    }
                    None
                }
            },
        }
    }
}

/// What a key is in Cirrus CI's configuration, as far as repeating it goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CirrusKey {
    /// `matrix`: its matrix modification.
    Matrix,
    /// A top-level key it reads in order, one entry each time (see
    /// [`cirrus_top_level_repeats`]).
    Repeats,
    /// Any other key, or a key of another file.
    Other,
}

/// Whether Cirrus CI reads the top-level key `key` of its configuration
/// once each time it is given, in order: a task (`task`, `NAME_task`, and
/// `docker_builder` and `pipe`, tasks of other kinds; its guide's first
/// example gives `test_task` twice), and an execution environment set as
/// the default for the tasks after it (`container`, `NAME_container`,
/// `NAME_instance`: OpenBLAS sets `macos_instance` before each macOS task).
fn cirrus_top_level_repeats(key: &str) -> bool {
    ["task", "docker_builder", "pipe", "container"]
        .iter()
        .any(|kind| key == *kind || key.strip_suffix(kind).is_some_and(|name| name.len() > 1 && name.ends_with('_')))
        || key.strip_suffix("_instance").is_some_and(|name| !name.is_empty())
}

/// A key as a message shows it: in backquotes, cut to 40 characters.
fn shown(value: &str) -> String {
    if value.is_empty() {
        return "`` (empty: null)".to_owned();
    }
    let mut chars = value.chars();
    let mut s: String = chars.by_ref().take(40).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if chars.next().is_some() {
        s.push('…');
    }
    format!("`{s}`")
}

/// A collection's tag as it counts in a comparison: none for the
/// non-specific `!` and for the core schema's own type (`core`: `seq` or
/// `map`, as `!!seq` or `!<tag:yaml.org,2002:seq>`), which every untagged
/// collection of the kind has.
fn collection_tag(tag: Option<&Tag>, core: &str) -> Option<String> {
    let tag = tag?;
    let own = (tag.is_yaml_core_schema() && tag.suffix == core)
        || (tag.handle.is_empty() && tag.suffix.strip_prefix("tag:yaml.org,2002:") == Some(core))
        || (tag.handle.is_empty() && tag.suffix == "!");
    (!own).then(|| tag_text(tag))
}

fn tag_text(tag: &Tag) -> String {
    format!("{}{}", tag.handle, tag.suffix)
}

/// A scalar's value as the YAML 1.2 core schema resolves it: a plain
/// scalar without a tag may be null, a boolean, an integer or a float; a
/// quoted one (or one tagged `!`) is a string; a core-schema tag forces its
/// type. Another tag makes a value of its own.
#[derive(Debug, PartialEq)]
enum Value<'a> {
    Null,
    Bool(bool),
    Int(i128),
    /// An integer past 128 bits, as written (lower-case, no `+`).
    BigInt(String),
    Float(u64),
    Str(&'a str),
    Tagged(String, &'a str),
}

fn scalar_hash(value: &str, style: ScalarStyle, tag: Option<&Tag>) -> u128 {
    match resolve(value, style, tag) {
        Value::Null => hash_parts(0, &[]),
        Value::Bool(b) => hash_parts(1, &[&[u8::from(b)]]),
        Value::Int(i) => hash_parts(2, &[&i.to_le_bytes()]),
        Value::BigInt(s) => hash_parts(3, &[s.as_bytes()]),
        Value::Float(bits) => hash_parts(4, &[&bits.to_le_bytes()]),
        Value::Str(s) => hash_parts(5, &[s.as_bytes()]),
        Value::Tagged(tag, s) => hash_parts(6, &[tag.as_bytes(), &[0], s.as_bytes()]),
    }
}

/// The hash of a type byte and the parts after it, put together on the
/// stack when short (most keys), without allocating.
fn hash_parts(kind: u8, parts: &[&[u8]]) -> u128 {
    let len = 1 + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut small = [0u8; 128];
    let mut large = Vec::new();
    let buf: &mut [u8] = if len <= small.len() {
        &mut small[..len]
    } else {
        large.resize(len, 0);
        &mut large
    };
    buf[0] = kind;
    let mut at = 1;
    for p in parts {
        buf[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
    xxh3_128(buf)
}

fn resolve<'a>(value: &'a str, style: ScalarStyle, tag: Option<&Tag>) -> Value<'a> {
    let Some(tag) = tag else {
        return if style == ScalarStyle::Plain { plain(value) } else { Value::Str(value) };
    };
    // `!!int` and its verbatim form `!<tag:yaml.org,2002:int>`.
    let core = if tag.is_yaml_core_schema() {
        Some(tag.suffix.as_str())
    } else if tag.handle.is_empty() {
        tag.suffix.strip_prefix("tag:yaml.org,2002:")
    } else {
        None
    };
    let Some(core) = core else {
        // `!` alone: the non-specific tag, a string.
        return if tag.handle.is_empty() && tag.suffix == "!" {
            Value::Str(value)
        } else {
            Value::Tagged(tag_text(tag), value)
        };
    };
    let forced = match core {
        "str" => return Value::Str(value),
        "null" => matches!(plain(value), Value::Null).then_some(Value::Null),
        "bool" => Some(plain(value)).filter(|v| matches!(v, Value::Bool(_))),
        "int" => Some(plain(value)).filter(|v| matches!(v, Value::Int(_) | Value::BigInt(_))),
        "float" => match plain(value) {
            Value::Int(i) => Some(Value::Float(float_bits(i as f64))),
            v @ Value::Float(_) => Some(v),
            _ => None,
        },
        _ => None,
    };
    forced.unwrap_or_else(|| Value::Tagged(tag_text(tag), value))
}

/// The core schema's resolution of a plain scalar.
fn plain(value: &str) -> Value<'_> {
    match value {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Value::Float(f64::INFINITY.to_bits()),
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY.to_bits()),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN.to_bits()),
        _ => {}
    }
    let int = |digits: &str, radix: u32, negative: bool| -> Option<Value<'_>> {
        match i128::from_str_radix(digits, radix) {
            Ok(i) => Some(Value::Int(if negative { -i } else { i })),
            Err(_) => {
                let trimmed = digits.trim_start_matches('0').to_ascii_lowercase();
                Some(Value::BigInt(format!("{}{radix}:{trimmed}", if negative { "-" } else { "" })))
            }
        }
    };
    if let Some(hex) = value.strip_prefix("0x")
        && !hex.is_empty()
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return int(hex, 16, false).expect("some");
    }
    if let Some(oct) = value.strip_prefix("0o")
        && !oct.is_empty()
        && oct.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return int(oct, 8, false).expect("some");
    }
    let (negative, unsigned) = match value.as_bytes().first() {
        Some(b'-') => (true, &value[1..]),
        Some(b'+') => (false, &value[1..]),
        _ => (false, value),
    };
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return int(unsigned, 10, negative).expect("some");
    }
    if is_core_float(unsigned)
        && let Ok(f) = value.parse::<f64>()
    {
        return Value::Float(float_bits(f));
    }
    Value::Str(value)
}

/// `-0.0` and `0.0` are one value.
fn float_bits(f: f64) -> u64 {
    if f == 0.0 { 0.0f64.to_bits() } else { f.to_bits() }
}

/// The core schema's float, without its sign:
/// `( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`.
fn is_core_float(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut i = digits(0);
    if i == 0 {
        if b.first() != Some(&b'.') || digits(1) == 0 {
            return false;
        }
        i = 1 + digits(1);
    } else if b.get(i) == Some(&b'.') {
        i += 1 + digits(i + 1);
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let n = digits(i);
        if n == 0 {
            return false;
        }
        i += n;
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relaxed_layout_indents_flow_and_quoted_lines_past_where_they_opened() {
        // pip's .pre-commit-config.yaml: the list closed at its key's column.
        let pip = "- id: mypy\n  additional_dependencies: [\n      'pytest',\n  ]\n";
        assert_eq!(
            relaxed_layout(pip).as_deref(),
            Some("- id: mypy\n  additional_dependencies: [\n      'pytest',\n   ]\n")
        );
        assert_eq!(relaxed_layout("a: [\n  1,\n]\n").as_deref(), Some("a: [\n  1,\n ]\n"));
        assert_eq!(relaxed_layout("- k: 'a\r\nb'\r\n").as_deref(), Some("- k: 'a\r\n b'\r\n"));
        // A `\` ending a double-quoted scalar's line escapes the line break.
        assert_eq!(relaxed_layout("e: \"^a\\\n/\"\nf: 1\n").as_deref(), Some("e: \"^a\\\n /\"\nf: 1\n"));
        // Read as parsers read it: what saphyr refused, it takes, and the
        // lines keep their numbers.
        let compose = "services:\n  app:\n    command: [\n      \"npm\",\n    ]\n";
        for text in [pip, compose, "k: \"a\nb\"\nc: 1\n"] {
            assert!(Parser::new_from_str(text).any(|e| e.is_err()), "{text:?} is refused as it is");
            let relaxed = relaxed_layout(text).unwrap();
            assert!(Parser::new_from_str(&relaxed).all(|e| e.is_ok()), "{relaxed:?}");
            assert_eq!(relaxed.lines().count(), text.lines().count());
        }
    }

    #[test]
    fn relaxing_leaves_block_scalars_comments_plain_apostrophes_and_closed_lines_alone() {
        for text in [
            "a: |\n  [x\nb: don't [\nc: 1 # ' [\n",
            "--- |\n[ root scalar\n",
            "a: [1,\n    2]\nb: 'x\n    y'\n",
            "a: [1, 2]\n",
        ] {
            assert_eq!(relaxed_layout(text), None, "{text:?}");
        }
    }

    #[test]
    fn plain_scalars_resolve_by_the_core_schema() {
        assert_eq!(plain(""), Value::Null);
        assert_eq!(plain("~"), Value::Null);
        assert_eq!(plain("True"), Value::Bool(true));
        assert_eq!(plain("yes"), Value::Str("yes"), "YAML 1.1's booleans are strings in 1.2");
        assert_eq!(plain("0x10"), Value::Int(16));
        assert_eq!(plain("0o20"), Value::Int(16));
        assert_eq!(plain("+16"), Value::Int(16));
        assert_eq!(plain("016"), Value::Int(16));
        assert_eq!(plain("-0"), Value::Int(0));
        assert_eq!(plain("1e2"), Value::Float(100f64.to_bits()));
        assert_eq!(plain("1."), Value::Float(1f64.to_bits()));
        assert_eq!(plain("-0.0"), plain("0.0"));
        assert_eq!(plain(".5"), Value::Float(0.5f64.to_bits()));
        assert_eq!(plain("-.INF"), Value::Float(f64::NEG_INFINITY.to_bits()));
        assert_eq!(plain("inf"), Value::Str("inf"));
        assert_eq!(plain("1e"), Value::Str("1e"));
        assert_eq!(plain("."), Value::Str("."));
        assert_eq!(plain("0x"), Value::Str("0x"));
        assert_eq!(plain("1_000"), Value::Str("1_000"), "underscores are YAML 1.1");
        let big = "340282366920938463463374607431768211456"; // 2^128
        assert_eq!(plain(big), plain(&format!("000{big}")));
        assert_ne!(plain(big), plain(&format!("-{big}")));
    }

    #[test]
    fn encodings_are_told_by_byte_order_mark_or_zero_bytes() {
        let utf16le: Vec<u8> = "a: 1\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let utf16be: Vec<u8> = "a: 1\n".encode_utf16().flat_map(u16::to_be_bytes).collect();
        let utf32le: Vec<u8> = "a: 1\n".chars().flat_map(|c| (c as u32).to_le_bytes()).collect();
        assert_eq!(decode(&utf16le).unwrap(), "a: 1\n");
        assert_eq!(decode(&utf16be).unwrap(), "a: 1\n");
        assert_eq!(decode(&utf32le).unwrap(), "a: 1\n");
        assert_eq!(decode(&[[0xFF, 0xFE].as_slice(), &utf16le].concat()).unwrap(), "a: 1\n");
        assert_eq!(decode(&[[0, 0, 0xFE, 0xFF].as_slice(), &[0, 0, 0, b'x']].concat()).unwrap(), "x");
        assert_eq!(decode(b"\xEF\xBB\xBFa").unwrap(), "a");
        let e = decode(&[0xFF, 0xFE, b'a', 0, 0x00, 0xD8, b'b', 0]).unwrap_err();
        assert_eq!((e.offset, e.position), (4, Some((1, 2))), "{}", e.why);
        let mut crlf: Vec<u8> = "x: 1\r\nab: ".encode_utf16().flat_map(u16::to_le_bytes).collect();
        crlf.extend([0x00, 0xD8]);
        assert_eq!(decode(&crlf).unwrap_err().position, Some((2, 5)), "columns in characters");
        assert!(e.why.contains("unpaired surrogate"), "{}", e.why);
        let e = decode(b"a: \xFF").unwrap_err();
        assert_eq!(e.offset, 3);
    }
}
