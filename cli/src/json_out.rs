//! JSON as the CLI prints it: serde_json's pretty layout, safe to show on a
//! terminal.
//!
//! serde_json escapes the C0 control characters in strings (`\u001b`), so a
//! message holding a terminal escape cannot act on a terminal that shows the
//! report (`cat report.json`). It leaves the C1 ones (U+0080 to U+009F) as
//! they are, and some terminals take U+009B for the start of a control
//! sequence (CSI) and U+009D for an OSC one (titles, clipboard writes). Here
//! they are escaped too, as `\u009b`: the document means the same to every
//! JSON reader.
use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};
use std::borrow::Cow;
use std::io::{self, Write};

/// Writes `value` as pretty JSON, C1 characters escaped.
pub fn to_writer<W: Write, T: ?Sized + Serialize>(writer: W, value: &T) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(writer, TerminalSafe(PrettyFormatter::new()));
    value.serialize(&mut ser)
}

/// [`to_writer`] into a string.
pub fn to_string<T: ?Sized + Serialize>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::with_capacity(128);
    to_writer(&mut out, value)?;
    Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
}

/// `value` as compact JSON on one line, C1 characters escaped.
pub fn line<T: ?Sized + Serialize>(value: &T) -> String {
    let text = serde_json::to_string(value).expect("a value of ours serializes");
    escape_c1(&text).into_owned()
}

/// `json`, a JSON text, with its C1 characters escaped. In a valid JSON
/// text they can only stand inside strings, where `\u0080` means the same.
pub fn escape_c1(json: &str) -> Cow<'_, str> {
    let bytes = json.as_bytes();
    // In UTF-8, U+0080..=U+009F are 0xC2 followed by 0x80..=0x9F.
    let is_c1 = |i: usize| bytes.get(i + 1).is_some_and(|b| (0x80..=0x9f).contains(b));
    let Some(first) = memchr::memchr_iter(0xc2, bytes).find(|&i| is_c1(i)) else {
        return Cow::Borrowed(json);
    };
    let mut out = String::with_capacity(json.len() + 16);
    let mut done = 0;
    for i in std::iter::once(first).chain(memchr::memchr_iter(0xc2, &bytes[first + 2..]).map(|i| i + first + 2)) {
        if is_c1(i) {
            out.push_str(&json[done..i]);
            out.push_str(&format!("\\u{:04x}", bytes[i + 1]));
            done = i + 2;
        }
    }
    out.push_str(&json[done..]);
    Cow::Owned(out)
}

/// serde_json's [`PrettyFormatter`], escaping C1 characters in strings.
struct TerminalSafe<'a>(PrettyFormatter<'a>);

impl Formatter for TerminalSafe<'_> {
    fn write_string_fragment<W: ?Sized + Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        writer.write_all(escape_c1(fragment).as_bytes())
    }

    // The layout: what PrettyFormatter does differently from the default.
    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_array(writer)
    }
    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array(writer)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(writer, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array_value(writer)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object(writer)
    }
    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object(writer)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(writer, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object_value(writer)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object_value(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn c1_characters_are_escaped_and_the_document_reads_the_same() {
        let value = json!({
            "message": "a\u{9b}31mred\u{9d}0;title\u{7}\u{1b}[0m é \u{80}\u{9f}\u{a0}",
            "list": ["\u{9b}", 1, {"k\u{9b}": null}],
        });
        let text = to_string(&value).unwrap();
        assert!(!text.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)), "{text}");
        assert!(text.contains(r"a\u009b31mred\u009d0;title\u0007\u001b[0m é \u0080\u009f"), "{text}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), value);
        // The layout is serde_json's pretty one.
        let plain = json!({"a": [1, {"b": "c"}], "d": {}});
        assert_eq!(to_string(&plain).unwrap(), serde_json::to_string_pretty(&plain).unwrap());
    }

    #[test]
    fn a_json_line_keeps_its_meaning_with_c1_characters_escaped() {
        let line = "{\"fields\":{\"message\":\"x\u{9b}2J©\"},\"n\":\"\u{9f}\"}";
        let escaped = escape_c1(line);
        assert_eq!(escaped, r#"{"fields":{"message":"x\u009b2J©"},"n":"\u009f"}"#);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&escaped).unwrap(),
            serde_json::from_str::<serde_json::Value>(line).unwrap()
        );
        assert!(matches!(escape_c1("plain © é"), Cow::Borrowed(_)));
    }
}
