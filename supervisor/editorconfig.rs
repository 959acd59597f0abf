//! The EditorConfig settings the built-ins heed (docs/configuration.md,
//! "EditorConfig"): `trim_trailing_whitespace = false`,
//! `insert_final_newline = false` and `charset`, as the `.editorconfig`
//! files from a file's directory up to the nearest that says `root = true`
//! (or up to `/`) set them: a nearer file rules over a farther one, and a
//! later section over an earlier one, as in editors. The `ec4rs` crate
//! parses the files and matches their section globs.
//!
//! The walk lists the tree's `.editorconfig` files with the rest; those
//! above the project root cost an open each, up to the first that says
//! `root = true`. A tree whose files set none of the three properties costs
//! nothing more per file. The files read are stamped like ignore files: a
//! change to one, or a new one, makes the next check walk the whole tree
//! again (see [`crate::watch`]).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{BufRead, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use ec4rs::property::{Charset, FinalNewline, TrimTrailingWs};
use ec4rs::{ConfigParser, ParseError, Properties, PropertyKey, PropertyValue, Section};

use super::attributes::{in_chunks, parent_dir, read_rules};
use super::{ReadStamp, Walked};

/// The name of an EditorConfig file.
pub(crate) const FILE_NAME: &str = ".editorconfig";

/// What one section sets of a property the built-ins heed: `None` where it
/// does not name it; `Some(None)` for `unset` or a value the property does
/// not have, which leaves the file to verdict's defaults, as editors leave
/// it to theirs.
type Said<T> = Option<Option<T>>;

/// The heeded properties a section sets, or a file's after its sections.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Settings {
    trim: Said<TrimTrailingWs>,
    final_newline: Said<FinalNewline>,
    charset: Said<Charset>,
}

impl Settings {
    fn of(props: &Properties) -> Settings {
        fn said<T: PropertyKey + PropertyValue>(props: &Properties) -> Said<T> {
            let raw = props.get_raw::<T>();
            (!raw.is_unset()).then(|| raw.parse::<T>().ok())
        }
        Settings { trim: said(props), final_newline: said(props), charset: said(props) }
    }

    fn names_any(&self) -> bool {
        self.trim.is_some() || self.final_newline.is_some() || self.charset.is_some()
    }

    /// `later`'s settings over these.
    fn then(&mut self, later: &Settings) {
        self.trim = later.trim.or(self.trim);
        self.final_newline = later.final_newline.or(self.final_newline);
        self.charset = later.charset.or(self.charset);
    }

    /// The marks these give a file (over those it has).
    fn mark(&self, marks: &mut verdict_actors::builtin::FileMarks) {
        marks.keeps_trailing_whitespace = self.trim == Some(Some(TrimTrailingWs::Value(false)));
        marks.no_final_newline = self.final_newline == Some(Some(FinalNewline::Value(false)));
        marks.latin1 = self.charset == Some(Some(Charset::Latin1));
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
    /// Its sections that set a heeded property, in file order.
    sections: Vec<(Glob, Settings)>,
}

/// A section's glob, as it is matched.
enum Glob {
    /// `[*]`: every file.
    Every,
    /// `[*.ext]`, `[*.{a,b}]` (plain names, no other glob syntax): the
    /// files whose names end in one of these (with the dot). A glob
    /// without `/` matches a name at any depth, so the name alone decides;
    /// a look at its end costs a hundredth of the general matcher's.
    Ends(Vec<Vec<u8>>),
    /// Any other: `ec4rs`'s matcher.
    Other(Section),
}

impl Glob {
    /// How the section headed `header` (the text between its brackets) is
    /// matched.
    fn of(header: &str, section: Section) -> Glob {
        let plain = |s: &str| !s.is_empty() && !s.contains("..") && !s.contains(|c| "*?[]{}\\/,".contains(c));
        if header == "*" {
            return Glob::Every;
        }
        if let Some(ext) = header.strip_prefix("*.") {
            if plain(ext) {
                return Glob::Ends(vec![format!(".{ext}").into_bytes()]);
            }
            if let Some(alts) = ext.strip_prefix('{').and_then(|a| a.strip_suffix('}'))
                && alts.contains(',')
                && alts.split(',').all(plain)
            {
                return Glob::Ends(alts.split(',').map(|a| format!(".{a}").into_bytes()).collect());
            }
        }
        Glob::Other(section)
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
            Glob::Other(section) => section.applies_to(Path::new(OsStr::from_bytes(rel))),
        }
    }
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

/// The most characters a range of a character class in a section header may
/// span (`[a-z]`: 26): `ec4rs` lists each (`[ -\u{10FFFF}]` is 1.1 million).
const MAX_CLASS_RANGE: u32 = 1024;

/// Why `ec4rs` is not given the section header `header`, if it is not:
/// past what it reads in bounded time and memory.
fn unreadable_header(header: &str) -> Option<String> {
    if header.len() > MAX_HEADER {
        return Some(format!("a section header longer than {MAX_HEADER} bytes"));
    }
    let (mut braces, mut deepest, mut in_class) = (0usize, 0usize, false);
    let mut chars = header.chars().peekable();
    let mut last = None;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                last = chars.next();
                continue;
            }
            '[' => in_class = true,
            ']' => in_class = false,
            '{' => {
                braces += 1;
                deepest = deepest.max(braces);
            }
            '}' => braces = braces.saturating_sub(1),
            '-' if in_class => {
                if let (Some(from), Some(&to)) = (last, chars.peek())
                    && u32::from(to).saturating_sub(u32::from(from)) > MAX_CLASS_RANGE
                {
                    return Some(format!("a section header with a character range wider than {MAX_CLASS_RANGE}"));
                }
            }
            _ => {}
        }
        last = Some(c);
    }
    (deepest > MAX_BRACES).then(|| format!("a section header with `{{…}}` nested deeper than {MAX_BRACES}"))
}

/// Parses an EditorConfig file; a line it cannot read ends it (the
/// settings above it count, those of its own section's lines before it
/// too) and is said, with its number and why.
fn parse(bytes: &[u8]) -> (Config, Option<(usize, String)>) {
    let line_of = |start: usize| memchr::memchr_iter(b'\n', &bytes[..start]).count() + 1;
    // A header the parser would take too long over, or too deep, ends the
    // file before the parser sees it.
    let mut screened = None;
    let mut start = 0;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if let Some(why) = header_of(line).and_then(unreadable_header) {
            screened = Some((start, why));
            break;
        }
        start += line.len();
    }
    let readable = screened.as_ref().map_or(bytes, |(start, _)| &bytes[..*start]);
    let (config, failed) = parse_whole(readable);
    let Some((at, e)) = failed else {
        return (config, screened.map(|(start, why)| (line_of(start), why)));
    };
    // The failed line is the one read last: it ends at `at`.
    let start = at - line_ending_at(readable, at).len();
    let why = match e {
        ParseError::InvalidLine => "not a section header, a `key = value` pair or a comment".to_owned(),
        ParseError::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => "not UTF-8".to_owned(),
        e => e.to_string(),
    };
    // The parser drops the section it was reading: the lines above the
    // failed one are read again on their own (they read whole).
    (parse_whole(&readable[..start]).0, Some((line_of(start), why)))
}

/// Parses an EditorConfig file up to its first line that the parser cannot
/// read, if any: the sections before that line's, and where the parser
/// stopped reading, with why.
fn parse_whole(bytes: &[u8]) -> (Config, Option<(usize, ParseError)>) {
    let at = std::cell::Cell::new(0);
    let mut config = Config { root: false, sections: Vec::new() };
    let mut failed = None;
    match ConfigParser::new(Counted { bytes, at: &at }) {
        Ok(mut parser) => {
            config.root = parser.is_root;
            // The parser has read the first section's header line.
            let mut header = header_of(line_ending_at(bytes, at.get()));
            loop {
                match parser.next() {
                    None => break,
                    Some(Ok(section)) => {
                        let settings = Settings::of(section.props());
                        if settings.names_any() {
                            let glob = match header {
                                Some(h) => Glob::of(h, section),
                                None => Glob::Other(section),
                            };
                            config.sections.push((glob, settings));
                        }
                        // And now the next one's.
                        header = header_of(line_ending_at(bytes, at.get()));
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
    (config, failed.map(|e| (at.get(), e)))
}

/// Gives each of `files` the marks the EditorConfig files over it set.
/// `root`: the project root the walk began at (`real_root` its real path,
/// and `trusted` the owners whose files outside it may be read, as for
/// ignore files); `unlisted`: rules files that rule walked files but that
/// the walk did not list (see [`super::attributes::unlisted`]; those not
/// named `.editorconfig` are passed over), and those an earlier walk read.
/// The files read, with their stamps, go to `read`. Returns what the check
/// says of files it could not read whole.
pub(super) fn mark(
    root: &Path,
    (real_root, trusted): (&Path, &[u32]),
    files: &mut [Walked],
    unlisted: &[PathBuf],
    read: &mut Vec<(PathBuf, ReadStamp)>,
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
        let (config, failed) = parse(&bytes);
        if let Some((line, what)) = failed {
            let shown = path.strip_prefix(root).unwrap_or(path).display();
            notes.push(format!("{shown}: line {line} is {what}; verdict heeds the settings above it only"));
        }
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
            for (dir, config) in chain {
                // Its globs match the path from its own directory.
                let rel = abs[dir.len()..].strip_prefix(b"/").unwrap_or(&abs[dir.len()..]);
                for (glob, said) in &config.sections {
                    if glob.matches(rel) {
                        settings.then(said);
                    }
                }
            }
            settings.mark(&mut w.marks);
        }
    });
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let notes = mark(root, (root, &[]), &mut files, &[], &mut read);
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
        // `unset` undoes a setting from above; so does a value the property
        // does not have.
        write(
            &root.join("docs/.editorconfig"),
            "[*]\ntrim_trailing_whitespace = unset\n[x.md]\ntrim_trailing_whitespace = maybe\n",
        );
        assert_eq!(marks(root, &["docs/a.md", "docs/x.md", "a.md"]).0, [NONE, NONE, KEEPS]);
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
        mark(&root, (&root, &[]), &mut files, &[], &mut read);
        let read: Vec<PathBuf> = read.into_iter().map(|(p, _)| p).collect();
        assert_eq!(read, [root.join(FILE_NAME)]);
    }

    #[test]
    fn the_quick_globs_match_as_ec4rs_s_matcher_does() {
        let headers = [
            "*",
            "*.md",
            "*.MD",
            "*.{js,ts}",
            "*.{d.ts,js}",
            "*.tar.gz",
            "*.{1..3}",
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
        ];
        let paths = [
            "a.md", "x/y/a.md", ".md", "a.MD", "a.mdx", "md", "a.js", "d/b.ts", "c.d.ts", "b.tsx", "a.1", "a.2", "a.4",
            "a.x", "a.a", "a", "a.tar.gz", "t.gz", "a.m", "a.mx", "a.c", "dir.md/f", ".hidden", "x/.md", "a.*", "a.ax",
            "a.bx", "a.", "a.md/x",
        ];
        let mut quick = 0;
        for h in headers {
            let glob = Glob::of(h, Section::new(h));
            quick += usize::from(!matches!(glob, Glob::Other(_)));
            for p in paths {
                let expected = Section::new(h).applies_to(Path::new(p));
                assert_eq!(glob.matches(p.as_bytes()), expected, "[{h}] on {p}");
            }
        }
        // `*`, `*.md`, `*.MD`, `*.{js,ts}`, `*.{d.ts,js}`, `*.tar.gz`.
        assert_eq!(quick, 6);
        assert_eq!(header_of(b"[*.md] # note\n"), Some("*.md"));
        assert_eq!(header_of(b"\xef\xbb\xbf  [*]  \r\n"), Some("*"));
        assert_eq!(header_of(b"[a#b]\n"), Some("a#b"));
    }

    #[test]
    fn headers_past_what_the_parser_reads_in_bounded_time_end_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        // Shorter than the longest header read (which alone bounds the
        // depth to about 1,400).
        let deep = format!("[{}b{}]", "{a,".repeat(1_000), "}".repeat(1_000));
        let unclosed = format!("[{}]", "[a".repeat(60_000));
        let wide = "[[ -\u{10FFFF}]]".to_owned();
        let cases = [
            (deep, "nested deeper than 16"),
            (unclosed, "longer than 4096 bytes"),
            (wide, "a character range wider than 1024"),
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
            assert!(notes[0].contains(why), "{why}: {notes:?}");
        }
        // Within the bounds: read.
        for header in ["[{a,{b,{c,d}}}.md]", "[[a-z0-9]*.md]", "[\\[ -\u{10FFFF}].md]"] {
            assert_eq!(unreadable_header(header.trim_matches(|c| c == '[' || c == ']')), None, "{header}");
        }
        assert!(unreadable_header(&format!("{}x{}", "{".repeat(17), "}".repeat(17))).is_some());
        assert_eq!(unreadable_header(&format!("{}x{}", "{".repeat(16), "}".repeat(16))), None);
    }

    #[test]
    fn a_file_above_the_root_an_earlier_walk_read_is_read_once() {
        let tmp = tempfile::tempdir().unwrap();
        let above = tmp.path().join(FILE_NAME);
        write(&above, "root = true\n[*.md]\ntrim_trailing_whitespace = false\nbad line\n");
        let root = tmp.path().join("p");
        let mut files = vec![Walked { abs: root.join("a.md"), ..Walked::default() }];
        let mut read = Vec::new();
        let notes = mark(&root, (&root, &[]), &mut files, std::slice::from_ref(&above), &mut read);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(read.len(), 1);
        assert_eq!(files[0].marks, KEEPS);
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
