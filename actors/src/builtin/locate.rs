//! Turning byte offsets into lines and columns, and collecting a check's
//! findings under the [`MAX_FINDINGS`] cap.

use super::{BOM, MAX_FINDINGS};
use crate::outcome::{Finding, Severity};

/// Maps byte offsets to 1-based (line, column), cheaply when asked in
/// increasing order: newlines are counted only between the previous offset and
/// the next, and the column continues from the previous one on the same line.
/// Asking for an earlier offset restarts from the top of the file.
///
/// Lines end at `\n` (so at `\r\n` too); in a file without any `\n` but
/// with a `\r` (old Mac line endings), at `\r`.
pub(super) struct Locator<'a> {
    content: &'a [u8],
    /// The byte that ends a line, decided on the first look (most files
    /// are never located in).
    newline: Option<u8>,
    /// Newlines before `pos` have been counted.
    pos: usize,
    /// The line `pos` is on.
    line: usize,
    /// Where columns of the current line are counted from (after a byte
    /// order mark on the first line).
    col_base: usize,
    /// The column at `col_pos` (1-based), in characters (see
    /// [`count_chars`]).
    col_pos: usize,
    col: usize,
}

impl<'a> Locator<'a> {
    pub(super) fn new(content: &'a [u8]) -> Self {
        let bom = if content.starts_with(BOM) { BOM.len() } else { 0 };
        Locator { content, newline: None, pos: 0, line: 1, col_base: bom, col_pos: bom, col: 1 }
    }

    /// The 1-based line and column of byte `offset` (clamped to the content).
    pub(super) fn locate(&mut self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.content.len());
        let newline = *self.newline.get_or_insert_with(|| line_break(self.content));
        if offset < self.pos {
            *self = Locator { newline: Some(newline), ..Locator::new(self.content) };
        }
        let mut newlines = 0;
        let mut last = None;
        for i in memchr::memchr_iter(newline, &self.content[self.pos..offset]) {
            newlines += 1;
            last = Some(i);
        }
        if let Some(i) = last {
            self.line += newlines;
            let line_start = self.pos + i + 1;
            self.col_base = line_start;
            self.col_pos = line_start;
            self.col = 1;
        }
        self.pos = offset;
        if offset < self.col_pos {
            // Inside the byte order mark.
            return (saturate(self.line), 1);
        }
        self.col += count_chars(&self.content[self.col_pos..offset]);
        self.col_pos = offset;
        (saturate(self.line), saturate(self.col))
    }

    /// The byte offset where 1-based `line` starts (the end of the content when
    /// there are fewer lines). Used to turn a parser's line into an offset.
    pub(super) fn line_start(content: &[u8], line: usize) -> usize {
        if line <= 1 {
            return 0;
        }
        match memchr::memchr_iter(b'\n', content).nth(line - 2) {
            Some(i) => i + 1,
            None => content.len(),
        }
    }
}

/// The byte that ends the content's lines: `\n` (so `\r\n` too), or `\r`
/// in a file with a `\r` and no `\n` at all (old Mac line endings). Cheap
/// for most files: the search for `\n` stops at the first line's end.
pub(super) fn line_break(content: &[u8]) -> u8 {
    if memchr::memchr(b'\n', content).is_none() && memchr::memchr(b'\r', content).is_some() { b'\r' } else { b'\n' }
}

/// Characters, as a decoder that puts one U+FFFD in place of each maximal
/// invalid sequence shows them (the WHATWG rule, and Rust's
/// `from_utf8_lossy`), so an editor's column: in valid UTF-8, the bytes
/// that are not continuation bytes.
fn count_chars(s: &[u8]) -> usize {
    let valid = |s: &[u8]| s.iter().filter(|&&b| (b as i8) >= -0x40).count();
    if std::str::from_utf8(s).is_ok() {
        return valid(s);
    }
    s.utf8_chunks().map(|c| valid(c.valid().as_bytes()) + usize::from(!c.invalid().is_empty())).sum()
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A check's findings for one file: locates them, tags them with the rule and
/// keeps at most [`MAX_FINDINGS`], counting the rest.
pub(super) struct Collector<'a> {
    rule: &'static str,
    locator: Locator<'a>,
    findings: Vec<Finding>,
    more: usize,
    more_severity: Severity,
}

impl<'a> Collector<'a> {
    pub(super) fn new(rule: &'static str, content: &'a [u8]) -> Self {
        Collector { rule, locator: Locator::new(content), findings: Vec::new(), more: 0, more_severity: Severity::Note }
    }

    /// Whether the cap is reached (further findings are only counted).
    pub(super) fn is_full(&self) -> bool {
        self.findings.len() >= MAX_FINDINGS
    }

    /// A finding at byte `offset` of the content. `message` is only called
    /// while under the cap.
    pub(super) fn at(&mut self, offset: usize, severity: Severity, message: impl FnOnce() -> String) {
        if self.is_full() {
            self.count_more(severity);
            return;
        }
        let (line, column) = self.locator.locate(offset);
        self.push(Some(line), Some(column), severity, message());
    }

    /// A finding at the 1-based `line` and `column` (in characters) a
    /// parser gave.
    pub(super) fn at_position(
        &mut self,
        line: usize,
        column: usize,
        severity: Severity,
        message: impl FnOnce() -> String,
    ) {
        if self.is_full() {
            self.count_more(severity);
            return;
        }
        self.push(Some(saturate(line)), Some(saturate(column)), severity, message());
    }

    /// A finding about the whole file, with no position.
    pub(super) fn unlocated(&mut self, severity: Severity, message: impl FnOnce() -> String) {
        if self.is_full() {
            self.count_more(severity);
            return;
        }
        self.push(None, None, severity, message());
    }

    /// The last line a listed finding so far is on.
    pub(super) fn last_line(&self) -> Option<u32> {
        self.findings.iter().filter_map(|f| f.line).max()
    }

    /// Forgets the findings so far on line `line` or after it (and, if that
    /// was any, those only counted, which came after them).
    pub(super) fn discard_from(&mut self, line: u32) {
        let listed = self.findings.len();
        self.findings.retain(|f| f.line.is_some_and(|l| l < line));
        if self.findings.len() < listed {
            self.more = 0;
            self.more_severity = Severity::Note;
        }
    }

    /// A collector of the same rule for other content (a rewritten text
    /// checked again).
    pub(super) fn for_content<'b>(&self, content: &'b [u8]) -> Collector<'b> {
        Collector::new(self.rule, content)
    }

    /// Takes `other`'s findings from line `line` on, each column less
    /// `shift` of its line (what a rewrite added before it), but those
    /// this already has; and counts those `other` only counted.
    pub(super) fn take_from(&mut self, other: Collector<'_>, line: u32, shift: impl Fn(u32) -> u32) {
        for mut f in other.findings.into_iter().filter(|f| f.line.is_some_and(|l| l >= line)) {
            f.column = f.column.map(|c| c.saturating_sub(f.line.map_or(0, &shift)).max(1));
            let had = |g: &Finding| (g.line, g.column, &g.message) == (f.line, f.column, &f.message);
            if self.findings.iter().any(had) {
                continue;
            }
            if self.is_full() {
                self.count_more(f.severity);
                continue;
            }
            self.findings.push(f);
        }
        for _ in 0..other.more {
            self.count_more(other.more_severity);
        }
    }

    fn count_more(&mut self, severity: Severity) {
        self.more += 1;
        self.more_severity = self.more_severity.min(severity);
    }

    fn push(&mut self, line: Option<u32>, column: Option<u32>, severity: Severity, message: String) {
        self.findings.push(Finding { line, column, severity, rule: Some(self.rule.to_owned()), message });
    }

    /// The findings, plus "… and N more" when the cap was exceeded.
    pub(super) fn finish(mut self) -> Vec<Finding> {
        if self.more > 0 {
            let what = format!("{} findings not listed", self.rule);
            self.findings.push(Finding::more(self.more as u64, self.more_severity, &what));
        }
        self.findings
    }
}
