//! The `secrets` check: private keys and well-known API tokens committed in
//! plain text.
//!
//! One pass of a literal multi-pattern search (the `regex` crate compiles an
//! alternation of plain literals to a SIMD "Teddy" searcher, about as fast as a
//! single `memchr::memmem` scan, where one `memmem` scan per prefix would read
//! the file eighteen times) finds the candidate prefixes; each candidate is
//! then verified by hand. No pattern is matched byte by byte over the file.
//!
//! Findings never contain the secret: they name its kind and show at most its
//! first four characters. Obvious placeholders (one repeated character, a run
//! of `xxxxxxxx`, the digits in order, AWS's documented `…EXAMPLE…` keys) are
//! not reported.

use std::sync::LazyLock;

use regex::bytes::Regex;

use super::locate::Collector;
use crate::outcome::Severity;

/// The literal prefixes that start a candidate, in the order of [`Prefix`].
const PREFIXES: &[(&str, Prefix)] = &[
    ("-----BEGIN ", Prefix::Pem),
    ("---- BEGIN SSH2 ", Prefix::Ssh2),
    ("PuTTY-User-Key-File-", Prefix::Putty),
    ("AKIA", Prefix::AwsKeyId),
    ("ASIA", Prefix::AwsKeyId),
    ("ghp_", Prefix::GitHub),
    ("gho_", Prefix::GitHub),
    ("ghu_", Prefix::GitHub),
    ("ghs_", Prefix::GitHub),
    ("ghr_", Prefix::GitHub),
    ("github_pat_", Prefix::GitHubPat),
    ("xoxa-", Prefix::Slack),
    ("xoxb-", Prefix::Slack),
    ("xoxp-", Prefix::Slack),
    ("xoxr-", Prefix::Slack),
    ("AIza", Prefix::Google),
    ("sk_live_", Prefix::Stripe),
    ("_secret", Prefix::AwsSecret),
    ("_SECRET", Prefix::AwsSecret),
    ("_Secret", Prefix::AwsSecret),
    ("-secret", Prefix::AwsSecret),
    ("-SECRET", Prefix::AwsSecret),
    ("-Secret", Prefix::AwsSecret),
    ("Secret", Prefix::AwsSecret),
    (".secret", Prefix::AwsSecret),
];

#[derive(Clone, Copy, Debug)]
enum Prefix {
    Pem,
    Ssh2,
    Putty,
    AwsKeyId,
    AwsSecret,
    GitHub,
    GitHubPat,
    Slack,
    Google,
    Stripe,
}

static CANDIDATES: LazyLock<Regex> = LazyLock::new(|| {
    let alternation: Vec<String> = PREFIXES.iter().map(|(p, _)| regex::escape(p)).collect();
    Regex::new(&alternation.join("|")).expect("literal alternation compiles")
});

/// The longest PEM label looked at (RFC 7468 sets no limit; the longest
/// in use, `SSH2 ENCRYPTED PRIVATE KEY`, is 26 bytes).
const PEM_LABEL_MAX: usize = 64;

/// Whether a PEM label names a private key: `PRIVATE KEY` and every `…
/// PRIVATE KEY` (`RSA`, `EC`, `DSA`, `OPENSSH`, `ENCRYPTED`, `X9.42 DH`,
/// `ANY`, …), `PGP PRIVATE KEY BLOCK`, and OpenVPN's static key (a shared
/// secret: its `ta.key` or `tls-auth` block).
fn private_key_label(label: &[u8]) -> bool {
    label == b"PRIVATE KEY"
        || label.ends_with(b" PRIVATE KEY")
        || label == b"PGP PRIVATE KEY BLOCK"
        || label == b"OpenVPN Static key V1"
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// Length of the run at the start of `s` of bytes satisfying `f`.
fn run(s: &[u8], f: impl Fn(u8) -> bool) -> usize {
    s.iter().position(|&b| !f(b)).unwrap_or(s.len())
}

/// The longest token, name or value a candidate is followed along: a run
/// longer than this is none of them, and following every candidate in a
/// long run to its end (a 200 KB line of `xoxb-` or `aws_secret`, repeated)
/// made the check quadratic.
const LONGEST_RUN: usize = 256;

/// [`run`], counting no further than [`LONGEST_RUN`] + 1.
fn short_run(s: &[u8], f: impl Fn(u8) -> bool) -> usize {
    run(&s[..s.len().min(LONGEST_RUN + 1)], f)
}

/// True when the byte before `i` (if any) satisfies `f`.
fn preceded_by(content: &[u8], i: usize, f: impl Fn(u8) -> bool) -> bool {
    i > 0 && f(content[i - 1])
}

/// Secret keys published in documentation as examples, which never
/// worked: the Amazon S3 Developer Guide's of 2006 (with the key ID
/// `0PN5J17HBGZHT7JJ3X82`), which S3 clients' signing tests still use, and
/// the Google API key of Google's documentation's examples (past its
/// `AIza`).
const DOCUMENTED_SECRETS: [&[u8]; 2] =
    [b"uV3F3YluFJax1cknvbcGwgjvx4QpvB+leU8dUj2o", b"SyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"];

/// The starts of AWS's documented example credentials
/// (`AKIAIOSFODNN7EXAMPLE`, `wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY`),
/// which tests copy with their `EXAMPLE` changed so that a scanner's
/// filter misses it (`AKIAIOSFODNN7EAXMPLE`, `…/bPxRfiCYSAMPLEKEY`): no
/// real key begins with them.
const DOCUMENTED_STARTS: [&[u8]; 2] = [b"IOSFODNN7", b"wJalrXUtnFEMI/K7MDENG"];

/// A value that is obviously not a real credential: one repeated
/// character, AWS's `EXAMPLE` keys, [`DOCUMENTED_SECRETS`] and
/// [`DOCUMENTED_STARTS`], a run of
/// `x`, or the digits typed in order (`1234567890`, which a random token
/// holds with odds of about one in 10^15 per place).
fn placeholder(value: &[u8]) -> bool {
    let repeated = value.windows(2).all(|w| w[0] == w[1]);
    repeated
        || DOCUMENTED_SECRETS.contains(&value)
        || DOCUMENTED_STARTS.iter().any(|start| value.starts_with(start))
        || memchr::memmem::find(value, b"EXAMPLE").is_some()
        || memchr::memmem::find(value, b"1234567890").is_some()
        || memchr::memmem::find(value, b"0123456789").is_some()
        || memchr::memmem::find(value, b"xxxxxxxx").is_some()
        || memchr::memmem::find(value, b"XXXXXXXX").is_some()
}

/// The first line of key material of private keys published so that
/// anyone may use them, which are no secret: Vagrant's insecure key (which
/// base boxes accept until it is replaced, and projects that test with
/// Vagrant keep a copy of).
const PUBLISHED_KEYS: &[&[u8]] = &[b"MIIEogIBAAKCAQEA6NF8iallvQVp22WDkTkyrtvp9eWW6A8YVr+kz4TjGYe7gHzI"];

/// Whether the PEM block after `-----BEGIN ` (`rest`) is one of
/// [`PUBLISHED_KEYS`]: its first line of material, within the block's
/// first 256 bytes.
fn published_key(rest: &[u8]) -> bool {
    let head = &rest[..rest.len().min(256)];
    PUBLISHED_KEYS.iter().any(|line| memchr::memmem::find(head, line).is_some())
}

/// At most the first four characters of a secret, for a message.
fn first4(secret: &[u8]) -> String {
    String::from_utf8_lossy(&secret[..secret.len().min(4)]).into_owned()
}

/// `secrets`: one finding per private key block or token.
pub(super) fn secrets(content: &[u8], out: &mut Collector<'_>) {
    for m in CANDIDATES.find_iter(content) {
        let Some(&(_, prefix)) = PREFIXES.iter().find(|(p, _)| p.as_bytes() == m.as_bytes()) else {
            continue;
        };
        let (start, end) = (m.start(), m.end());
        let hit = match prefix {
            Prefix::Pem => pem(content, end).filter(|_| !published_key(&content[end..])).map(|label| {
                (start, format!("private key (`-----BEGIN {}-----` block)", String::from_utf8_lossy(label)))
            }),
            Prefix::Ssh2 => ssh2(content, end).map(|label| {
                (start, format!("private key (`---- BEGIN SSH2 {}----` block)", String::from_utf8_lossy(label)))
            }),
            Prefix::Putty => putty(content, start, end).map(|version| {
                (start, format!("PuTTY private key (`PuTTY-User-Key-File-{}`)", String::from_utf8_lossy(version)))
            }),
            Prefix::AwsKeyId => {
                // Base32's alphabet: an AWS key ID holds no 0, 1, 8 or 9
                // (`AKIA2E0A8F3B244C9986` is a test's invention).
                let base32 = |b: u8| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b);
                token(content, start, end, 16, 16, base32, is_alnum, is_alnum)
                    .map(|t| (start, format!("AWS access key ID (`{}`…)", first4(t))))
            }
            Prefix::GitHub => token(content, start, end, 36, 36, is_alnum, is_word, is_word)
                .map(|t| (start, format!("GitHub token (`{}`…)", first4(t)))),
            Prefix::GitHubPat => token(content, start, end, 82, 82, is_word, is_word, is_word)
                .map(|t| (start, format!("GitHub fine-grained personal access token (`{}`…)", first4(t)))),
            Prefix::Slack => slack(content, start, end).map(|t| (start, format!("Slack token (`{}`…)", first4(t)))),
            Prefix::Google => {
                let key_char = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
                token(content, start, end, 35, 35, key_char, key_char, key_char)
                    .map(|t| (start, format!("Google API key (`{}`…)", first4(t))))
            }
            Prefix::Stripe => token(content, start, end, 24, usize::MAX, is_alnum, is_word, is_alnum)
                .map(|t| (start, format!("Stripe live secret key (`{}`…)", first4(t)))),
            Prefix::AwsSecret => aws_secret(content, start).map(|(name_start, name, value)| {
                (
                    name_start,
                    format!(
                        "AWS secret access key assigned to `{}` (`{}`…)",
                        String::from_utf8_lossy(name),
                        first4(value)
                    ),
                )
            }),
        };
        let block = matches!(prefix, Prefix::Pem | Prefix::Ssh2 | Prefix::Putty);
        if let Some((offset, message)) = hit
            && !allowed(content, offset, block)
        {
            out.at(offset, Severity::Error, || message);
        }
    }
}

/// The markers that allow what the line they are on holds: verdict's own,
/// and those of gitleaks, TruffleHog and detect-secrets, so a file already
/// marked for them needs nothing more.
const ALLOW_MARKERS: [&str; 4] = ["verdict:allow", "gitleaks:allow", "trufflehog:ignore", "pragma: allowlist secret"];

/// detect-secrets' marker for the line after the one it is on.
const ALLOW_NEXT_LINE: &str = "pragma: allowlist nextline secret";

/// Whether what is found at byte `offset` is allowed: the line holding it
/// carries one of [`ALLOW_MARKERS`] (a test's fake key, a documented
/// example), or the line before carries [`ALLOW_NEXT_LINE`]. A `block`
/// (a PEM, SSH2 or PuTTY key, whose header line has no room for one: text
/// after the header is no key, and before it is the code that opens the
/// string, `const key = \``) is allowed by one of [`ALLOW_MARKERS`] on the
/// line before it too, unless that line holds a secret's start of its
/// own (whose marker it is).
fn allowed(content: &[u8], offset: usize, block: bool) -> bool {
    let newline = super::locate::line_break(content);
    let start = memchr::memrchr(newline, &content[..offset]).map_or(0, |i| i + 1);
    let end = memchr::memchr(newline, &content[offset..]).map_or(content.len(), |i| offset + i);
    let has = |line: &[u8], marker: &str| memchr::memmem::find(line, marker.as_bytes()).is_some();
    if ALLOW_MARKERS.iter().any(|m| has(&content[start..end], m)) {
        return true;
    }
    let Some(before_end) = start.checked_sub(1) else { return false };
    // (A CRLF's CR ends the line before too.)
    let crlf = newline == b'\n' && content[..before_end].ends_with(b"\r");
    let before_end = if crlf { before_end - 1 } else { before_end };
    let before_start = memchr::memrchr(newline, &content[..before_end]).map_or(0, |i| i + 1);
    let before = &content[before_start..before_end];
    has(before, ALLOW_NEXT_LINE)
        || (block && ALLOW_MARKERS.iter().any(|m| has(before, m)) && CANDIDATES.find(before).is_none())
}

/// A token: `content[start..prefix_end]` is its prefix, then `min..=max`
/// bytes satisfying `body`, not preceded by a `before` byte nor followed by an
/// `after` byte. Returns the whole token unless it is a placeholder.
#[allow(clippy::too_many_arguments)]
fn token(
    content: &[u8],
    start: usize,
    prefix_end: usize,
    min: usize,
    max: usize,
    body: impl Fn(u8) -> bool,
    before: impl Fn(u8) -> bool,
    after: impl Fn(u8) -> bool,
) -> Option<&[u8]> {
    if preceded_by(content, start, before) {
        return None;
    }
    let rest = &content[prefix_end..];
    let n = short_run(rest, &body);
    if n < min || n > max.min(LONGEST_RUN) || rest.get(n).is_some_and(|&b| after(b)) {
        return None;
    }
    let value = &rest[..n];
    (!placeholder(value)).then_some(&content[start..prefix_end + n])
}

/// A Slack token: `xox?-` then at least ten of `[A-Za-z0-9-]`, with a digit
/// (real tokens carry numeric ids; `xoxb-your-token-here` does not). A bot
/// or user token (`xoxb-`, `xoxp-`) begins with its team's or user's id, 8
/// digits or more (10 to 13 in tokens issued now): `xoxb-1234-abcdefgh`,
/// a test's fake, does not.
fn slack(content: &[u8], start: usize, prefix_end: usize) -> Option<&[u8]> {
    if preceded_by(content, start, is_alnum) {
        return None;
    }
    let rest = &content[prefix_end..];
    let n = short_run(rest, |b| is_alnum(b) || b == b'-');
    let value = &rest[..n];
    let id = value.iter().take_while(|b| b.is_ascii_digit()).count();
    let with_id = matches!(&content[start..prefix_end], b"xoxb-" | b"xoxp-");
    let id_ok = !with_id || (id >= 8 && value.get(id) == Some(&b'-'));
    ((10..=LONGEST_RUN).contains(&n) && value.iter().any(u8::is_ascii_digit) && id_ok && !placeholder(value))
        .then_some(&content[start..prefix_end + n])
}

/// A private key PEM block whose `-----BEGIN ` ends at `after_begin`: one of
/// the labels [`private_key_label`] knows, `-----`, then (after line breaks, blanks, quotes or `\n`
/// escapes, and the `+` or `,` between string literals) key material: a run of at least [`PEM_MATERIAL`] base64
/// characters, or an armor header line (`Proc-Type: 4,ENCRYPTED`, `Version:
/// …`) as encrypted PEM and PGP blocks start with; once a quote was
/// passed, the material must start right after one (a literal of its own). A header on its own — a
/// PEM parser's constant followed by the next line of code, a mention in
/// prose, a `...` placeholder — is not reported.
fn pem(content: &[u8], after_begin: usize) -> Option<&[u8]> {
    let rest = &content[after_begin..];
    // RFC 7468's label: printable characters but `-`, spaces between words.
    let len = rest.iter().take(PEM_LABEL_MAX + 1).position(|&b| !(b.is_ascii_graphic() || b == b' ') || b == b'-')?;
    let label = &rest[..len];
    if !rest[len..].starts_with(b"-----") || !private_key_label(label) {
        return None;
    }
    let mut body = &rest[len + 5..];
    // The quotes passed: the first ends the header's string literal, the
    // next opens another, and so on. Key material past one must start a
    // literal of its own: be inside one opened since, with nothing before
    // it there but `\n` escapes and blanks.
    let (mut quotes, mut at_literal_start) = (0usize, false);
    // At the start of a line, but for blanks: where a comment's leader
    // (`#`, `//`, `///`, `//!`, `;`, `*`, `--`, `%`) may stand before a
    // commented-out key's line.
    let mut line_start = false;
    // A leader was passed: the material must then be a whole line of a key.
    let mut commented = false;
    loop {
        let inside_literal = quotes > 0 && quotes % 2 == 0;
        match body {
            // `\n`, and `\\n` in a string inside a string (JSON in JSON).
            [b'\\', b'n' | b'r', tail @ ..] | [b'\\', b'\\', b'n' | b'r', tail @ ..] => body = tail,
            // A line continued with a backslash: the literal goes on.
            [b'\\', b'\n', tail @ ..] | [b'\\', b'\r', b'\n', tail @ ..] => (body, line_start) = (tail, true),
            [b'"' | b'\'', tail @ ..] => {
                quotes += 1;
                (body, at_literal_start, line_start) = (tail, quotes % 2 == 0, false);
            }
            [b' ' | b'\t', tail @ ..] => body = tail,
            [b'\r' | b'\n', tail @ ..] => (body, at_literal_start, line_start) = (tail, false, true),
            [b'|' | b'>', tail @ ..] => (body, at_literal_start, line_start) = (tail, false, false),
            [b'#' | b';' | b'*' | b'%', tail @ ..] | [b'-', b'-', tail @ ..] if line_start => {
                (body, commented) = (tail, true);
            }
            [b'/', b'/', tail @ ..] if line_start => {
                let tail = skip(tail, |b| b == b'/');
                (body, commented) = (tail.strip_prefix(b"!").unwrap_or(tail), true);
            }
            // Between string literals: `"…-----\n" +` or `,` then the
            // key's first line in the next literal. Inside one, a `+` is
            // the key's first character.
            [b'+' | b',', tail @ ..] if !inside_literal => {
                (body, at_literal_start, line_start) = (tail, false, false);
            }
            _ => break,
        }
    }
    // Past the end of the header's string literal, a name or a path
    // (`"…-----\n" + encodedKey`, `grep '…-----' /etc/ssl/private/a.key`,
    // the next line of code) is code, not a key.
    if quotes > 0 && !at_literal_start {
        return None;
    }
    let (material, bytes) = material_run(body);
    let armor_header = ARMOR_HEADERS.iter().any(|h| body.starts_with(h.as_bytes()));
    // AWS's and others' documented examples (`…-----EXAMPLE…`).
    if !armor_header && placeholder(&body[..bytes]) {
        return None;
    }
    // A block cut short by a line of `...` or `…` before its end: an
    // excerpt of a key (a test that only needs a PEM's shape, a
    // document's example), which no parser reads.
    if excerpt(&body[bytes..]) {
        return None;
    }
    let key = &body[..bytes];
    let mixed = key.iter().any(u8::is_ascii_digit)
        && key.iter().any(u8::is_ascii_uppercase)
        && key.iter().any(u8::is_ascii_lowercase);
    if quotes > 0 && !commented && !armor_header {
        // In a string literal after the header's (`["-----BEGIN …-----",
        // "MIIE…"]`, `"…-----\n" + "MIIE…"`): a key's line has digits and
        // letters of both cases, where the next literal of a list of
        // names (`'EncryptedPrivateKeyInfoMarker'`) is a word.
        return (material >= PEM_MATERIAL && mixed).then_some(label);
    }
    if commented && !armor_header {
        // Prose, names and paths in a comment have long runs of base64
        // characters too: a commented-out key's line is a whole line of
        // key, letters of both cases and digits, then at most the end of a
        // string literal (`\n" +`).
        // Looked at no further than a name is followed (a file of one
        // long line would be read to its end for each header).
        let rest = &body[bytes..body.len().min(bytes + LONGEST_RUN)];
        let line = &rest[..memchr::memchr2(b'\n', b'\r', rest).unwrap_or(rest.len())];
        let literal_end = line.iter().all(|&b| b"\\nr\"' \t+,;)".contains(&b));
        let long = material >= COMMENTED_MATERIAL || material > LONGEST_RUN;
        return (long && mixed && (literal_end || material > LONGEST_RUN)).then_some(label);
    }
    (material >= PEM_MATERIAL || armor_header).then_some(label)
}

/// How far past a PEM block's first line of material [`excerpt`] looks for
/// its end: more than a 16384-bit RSA key's lines.
const EXCERPT_LOOK: usize = 16 << 10;

/// Whether the rest of a PEM block (after its first run of material) has a
/// line of only an ellipsis, `...` or `…` (in a string literal or a
/// comment, or not), before its `-----END` or the next `-----` (or, with
/// none, within [`EXCERPT_LOOK`] bytes).
fn excerpt(rest: &[u8]) -> bool {
    // Up to its `-----END`, or the next block's `-----BEGIN` (so that a
    // file of many headers is read once, not once per header).
    let rest = &rest[..rest.len().min(EXCERPT_LOOK)];
    let rest = &rest[..memchr::memmem::find(rest, b"-----").unwrap_or(rest.len())];
    rest.split(|&b| b == b'\n').any(|line| {
        // What is not the line's text: blanks, quotes, a comment's leader,
        // the `\n` escapes and the `+` or `,` between string literals.
        let mut text = line.trim_ascii();
        loop {
            let before = text.len();
            for wrap in [&b"\\n"[..], b"\\r", b"\"", b"'", b"`", b"+", b",", b"#", b"//", b"*", b";"] {
                text = text.strip_prefix(wrap).unwrap_or(text).trim_ascii();
                text = text.strip_suffix(wrap).unwrap_or(text).trim_ascii();
            }
            if text.len() == before {
                break;
            }
        }
        text == b"..." || text == "…".as_bytes()
    })
}

/// The lines looked at after a key file's first line for its key material
/// (the headers of an SSH2 key, the public lines of a PuTTY one: a 16384-bit
/// RSA key's take about 45).
const KEY_FILE_LINES: usize = 64;

/// The longest line of a key file looked at: its headers and its lines of
/// key material are short. Looking further for each candidate would make a
/// line of repeated candidates cost its length squared.
const KEY_FILE_LINE_MAX: usize = 1024;

/// The line starting at `at` in `content` (ending at LF, CRLF or CR), and
/// where the next begins; `None` if it is longer than
/// [`KEY_FILE_LINE_MAX`].
fn line_at(content: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rest = &content[at..content.len().min(at + KEY_FILE_LINE_MAX + 2)];
    match memchr::memchr2(b'\n', b'\r', rest) {
        Some(i) if i <= KEY_FILE_LINE_MAX => {
            let next = if rest[i..].starts_with(b"\r\n") { i + 2 } else { i + 1 };
            Some((&rest[..i], at + next))
        }
        None if content.len() - at <= KEY_FILE_LINE_MAX => Some((rest, content.len())),
        _ => None,
    }
}

/// Whether `line` is a line of key material: at least [`PEM_MATERIAL`]
/// base64 characters (and `=` padding) and nothing else, not a placeholder.
fn material_line(line: &[u8]) -> bool {
    let line = line.trim_ascii();
    let body = line.strip_suffix(b"==").or_else(|| line.strip_suffix(b"=")).unwrap_or(line);
    body.len() >= PEM_MATERIAL && body.iter().all(|&b| is_base64(b)) && !placeholder(body)
}

/// An SSH2 private key (RFC 4716's framing, as ssh.com's tools and PuTTYgen
/// write it): `---- BEGIN SSH2 …PRIVATE KEY ----`, ending at `after_begin`
/// past `SSH2 `, then, past header lines (`Comment: …`, continued with a
/// `\`), a line of key material. The label, as written.
fn ssh2(content: &[u8], after_begin: usize) -> Option<&[u8]> {
    // The header's line, no longer than a PEM label is looked for.
    let head = &content[after_begin..content.len().min(after_begin + PEM_LABEL_MAX + 8)];
    let end = memchr::memchr2(b'\n', b'\r', head)?;
    let label = head[..end].strip_suffix(b"----")?;
    if !label.trim_ascii_end().ends_with(b"PRIVATE KEY") {
        return None;
    }
    let (_, mut next) = line_at(content, after_begin)?;
    let mut continued = false;
    for _ in 0..KEY_FILE_LINES {
        if next >= content.len() {
            return None;
        }
        let (line, after) = line_at(content, next)?;
        next = after;
        if continued || memchr::memchr(b':', line).is_some() {
            continued = line.ends_with(b"\\");
            continue;
        }
        return material_line(line).then_some(label);
    }
    None
}

/// A PuTTY private key file (`PuTTY-User-Key-File-2: ssh-rsa`, `-3:`):
/// its first line, starting at `start`, then, within its next lines, a
/// `Private-Lines:` header followed by a line of key material (encrypted
/// or not: both are the key). The format's version.
fn putty(content: &[u8], start: usize, prefix_end: usize) -> Option<&[u8]> {
    // At a line's start (after a byte order mark, for the first).
    let line_start = start == 0 || matches!(content[start - 1], b'\n' | b'\r') || content[..start] == *b"\xEF\xBB\xBF";
    if !line_start {
        return None;
    }
    let rest = &content[prefix_end..];
    let digits = run(&rest[..rest.len().min(4)], |b| b.is_ascii_digit());
    if digits == 0 || rest.get(digits) != Some(&b':') {
        return None;
    }
    let (_, mut next) = line_at(content, prefix_end)?;
    for _ in 0..KEY_FILE_LINES {
        if next >= content.len() {
            return None;
        }
        let (line, after) = line_at(content, next)?;
        next = after;
        if line.starts_with(b"Private-Lines:") {
            let (key, _) = if next < content.len() { line_at(content, next)? } else { (&b""[..], next) };
            return material_line(key).then_some(&rest[..digits]);
        }
    }
    None
}

/// The fewest base64 characters of a commented-out key's first line: its
/// lines hold 64 (70 in OpenSSH's, 76 in some tools'), where names and
/// paths are rarely that long.
const COMMENTED_MATERIAL: usize = 60;

/// The base64 run at the start of `s` (at most [`LONGEST_RUN`] + 1 bytes
/// looked at), a `/` escaped as `\/` (as PHP's and some JSON encoders
/// write it) counting as one: its length in characters, and in bytes.
fn material_run(s: &[u8]) -> (usize, usize) {
    let s = &s[..s.len().min(LONGEST_RUN + 1)];
    let (mut i, mut n) = (0, 0);
    while i < s.len() {
        if is_base64(s[i]) {
            i += 1;
        } else if s[i..].starts_with(b"\\/") {
            i += 2;
        } else {
            break;
        }
        n += 1;
    }
    (n, i)
}

/// The header lines an encrypted PEM block (RFC 1421) or a PGP armored
/// block (RFC 4880) may start with, before its base64.
const ARMOR_HEADERS: &[&str] = &["Proc-Type: ", "Version: ", "Comment: ", "Hash: ", "Charset: ", "MessageID: "];

/// The fewest base64 characters a key's first line starts with (its lines
/// hold 64, or 70 in OpenSSH's): more than a word or a name in code.
const PEM_MATERIAL: usize = 20;

/// An AWS secret access key assigned to a name containing `aws_secret`,
/// `aws-secret`, `aws.secret` (the Java SDK's `aws.secretKey`) or
/// `AwsSecret` (any case of `aws`): `at` is the `_secret`, `-secret`,
/// `.secret` or `Secret` of the name. The value follows `=`, `:`, `:=` or
/// `=>`, or blanks alone (`aws configure set aws_secret_access_key VALUE`),
/// or is a name/value pair's (see [`paired_value`]).
/// Returns where the name starts, the name and the 40-character value.
fn aws_secret(content: &[u8], at: usize) -> Option<(usize, &[u8], &[u8])> {
    if at < 3 || !content[at - 3..at].eq_ignore_ascii_case(b"aws") {
        return None;
    }
    let name_char = |b: u8| is_word(b) || b == b'.' || b == b'-';
    let before = content[..at - 3].iter().rev().take(LONGEST_RUN + 1).take_while(|&&b| name_char(b)).count();
    let after = short_run(&content[at..], name_char);
    if before + after > LONGEST_RUN {
        return None;
    }
    let name_start = at - 3 - before;
    let name_end = at + after;
    let name = &content[name_start..name_end];
    let mut rest = &content[name_end..];
    // Closing quote of the name (and bracket of a subscript:
    // `env["AWS_SECRET_ACCESS_KEY"] =`), blanks, `=`/`:`/`:=`/`=>`, blanks,
    // opening quote; or a quoted name's `,` as in a call
    // (`os.Setenv("AWS_SECRET_ACCESS_KEY", "…")`).
    // (And C's `[]`: `static const char aws_secret_key[] = "…";`.)
    let closing = run(rest, |b| b == b'"' || b == b'\'' || b == b' ' || b == b'\t' || b == b']' || b == b'[');
    let blanks = rest[..closing].iter().any(|&b| b == b' ' || b == b'\t');
    let quoted = rest[..closing].iter().any(|&b| b == b'"' || b == b'\'');
    rest = &rest[closing..];
    // The `,` form: a quoted name, the first argument of a call or of a
    // braced pair (`{"aws_secret_access_key", "…"}`), maybe on a line of
    // its own.
    let call = || {
        let before = content[..name_start].strip_suffix(b"\"").or_else(|| content[..name_start].strip_suffix(b"'"));
        before.is_some_and(|b| {
            let b = skip_back(&b[b.len().saturating_sub(LONGEST_RUN)..], |c| c.is_ascii_whitespace());
            b.ends_with(b"(") || b.ends_with(b"{")
        })
    };
    let is_call = quoted && rest.first() == Some(&b',') && call();
    // A type between the name and its `=`: `const AWS_SECRET_ACCESS_KEY:
    // &str = "…"` (Rust, TypeScript, Kotlin, Swift, Python's annotation),
    // `var awsSecretKey string = "…"` (Go).
    if !is_call && let Some(at_equals) = past_type(rest, blanks) {
        rest = at_equals;
    }
    let op = if is_call { 1 } else { run(rest, |b| b == b'=' || b == b':' || b == b'>') };
    if op == 0 && !blanks {
        // `name: AWS_SECRET_ACCESS_KEY` and its `value:` after it.
        return paired_value(content, name_start, name_end).map(|value| (name_start, name, value));
    }
    if op > 2 {
        return None;
    }
    let blank = |b: u8| b == b' ' || b == b'\t';
    let op_text = &rest[..op];
    rest = skip(&rest[op..], blank);
    // What opens a value on the lines after: black's parentheses after `=`
    // (`AWS_SECRET_ACCESS_KEY = (` over the string), a YAML block scalar's
    // indicator after `:` (`aws_secret_access_key: |`, with its chomping),
    // each only before the line's end.
    if !is_call {
        let opened = match rest.first() {
            Some(b'(') if op_text.ends_with(b"=") => Some(1),
            // With its chomping and indentation indicators (`|-`, `>2`).
            Some(b'|' | b'>') if op_text == b":" => {
                Some(1 + rest[1..].iter().take(2).take_while(|b| matches!(b, b'-' | b'+' | b'1'..=b'9')).count())
            }
            _ => None,
        };
        if let Some(n) = opened {
            let mut after = skip(&rest[n..], blank);
            // A comment may end the line (`# noqa: S105`, `# from vault`).
            if after.first() == Some(&b'#') && after.len() < rest.len() - n {
                after = &after[memchr::memchr(b'\n', after)
                    .map_or(after.len(), |i| if i > 0 && after[i - 1] == b'\r' { i - 1 } else { i })..];
            }
            if after.starts_with(b"\n") || after.starts_with(b"\r\n") {
                rest = after;
            }
        }
    }
    // After `=`, `:` or a call's `,` the value may start the next line, as
    // a formatter breaks a long call or a YAML value is written: after one
    // line break, indented deeper than the name's line (a call's argument
    // at any depth), and ending that line (or a string, an argument or a
    // statement there). After blanks alone it may not.
    let next_line = rest.strip_prefix(b"\r\n").or_else(|| rest.strip_prefix(b"\n")).filter(|_| op > 0);
    let crossed = next_line.is_some();
    if let Some(line) = next_line {
        let indent = |line: &[u8]| line.iter().take(LONGEST_RUN).take_while(|&&b| blank(b)).count();
        let name_line = memchr::memrchr(b'\n', &content[..name_start]).map_or(0, |i| i + 1);
        let deeper = indent(line) > indent(&content[name_line..]);
        if !(is_call || deeper) {
            return None;
        }
        rest = &line[indent(line)..];
    }
    let opening = run(rest, |b| b == b'"' || b == b'\'' || b == b'`');
    rest = &rest[opening..];
    let n = short_run(rest, is_base64);
    if n != 40 || rest.get(n) == Some(&b'=') {
        return None;
    }
    // Unquoted, 40 letters alone are a name in code
    // (`awsSecretKey = defaultAwsSecretAccessKeyFromEnvironment;`); a key,
    // random, has a digit, `+` or `/` but in one of 4,000.
    if opening == 0 && rest[..n].iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    if crossed {
        let after = skip(skip(&rest[n..], |b| b == b'"' || b == b'\'' || b == b'`'), blank);
        // (`.`: a method called on the string, `"…".to_string();`.)
        if !matches!(after.first(), None | Some(b'\n' | b'\r' | b',' | b')' | b';' | b'}' | b']' | b'#' | b'.')) {
            return None;
        }
    }
    let value = &rest[..40];
    (!placeholder(value)).then_some((name_start, name, value))
}

/// Where the `=` is after a type annotation that begins `rest` (what
/// follows a name and the blanks and quotes after it): `: TYPE =`, or after
/// blanks a Go type and ` =`. A type is at most 64 bytes of names, blanks
/// and `&'<>[].*?:`, holding a letter; the `=` is no `==` or `=>`.
fn past_type(rest: &[u8], blanks: bool) -> Option<&[u8]> {
    const LONGEST_TYPE: usize = 64;
    let blank = |b: u8| b == b' ' || b == b'\t';
    let (ty, go) = match rest.strip_prefix(b":") {
        Some(r) if !r.starts_with(b"=") && !r.starts_with(b":") => (skip(r, blank), false),
        Some(_) => return None,
        None if blanks => (rest, true),
        None => return None,
    };
    // (`|`: a union, `str | None`, `string | undefined`.)
    let type_char = |b: u8| is_word(b) || b"&'<>[].*?:| \t".contains(&b);
    let len = ty.iter().take(LONGEST_TYPE + LONGEST_RUN).take_while(|&&b| type_char(b)).count();
    // The type itself, without the blanks before its `=`.
    let named = skip_back(&ty[..len], blank);
    if named.is_empty() || named.len() > LONGEST_TYPE || !named.iter().any(u8::is_ascii_alphabetic) {
        return None;
    }
    // Go's is one name (`string`, `pkg.T`), then blanks.
    if go && (named.len() == len || named.iter().any(|&b| blank(b))) {
        return None;
    }
    let at = &ty[len..];
    (at.first() == Some(&b'=') && !matches!(at.get(1), Some(b'=' | b'>'))).then_some(at)
}

/// The value of a name/value pair whose name is an AWS secret's
/// (`content[name_start..name_end]`): `name: AWS_SECRET_ACCESS_KEY` with
/// `value: …` on the next line (Kubernetes' `env`, CloudFormation's `Name`
/// and `Value`), `{"name": "AWS_SECRET_ACCESS_KEY", "value": "…"}` (ECS task
/// definitions), `{ name = "…", value = "…" }` (Terraform). The name must be
/// the value of a key `name` (any case), and `value` must follow it, on the
/// same line or the next.
fn paired_value(content: &[u8], name_start: usize, name_end: usize) -> Option<&[u8]> {
    let quote = |b: u8| b == b'"' || b == b'\'';
    let blank = |b: u8| b == b' ' || b == b'\t';
    let before = &content[name_start.saturating_sub(LONGEST_RUN)..name_start];
    let before = skip_back(skip_back(before, quote), blank);
    let before = before.strip_suffix(b":").or_else(|| before.strip_suffix(b"="))?;
    let before = skip_back(skip_back(before, blank), quote);
    let key_at = before.len().checked_sub(4)?;
    if !before[key_at..].eq_ignore_ascii_case(b"name") || preceded_by(before, key_at, is_word) {
        return None;
    }
    let mut rest = &content[name_end..content.len().min(name_end + LONGEST_RUN)];
    rest = skip(skip(rest, quote), |b| blank(b) || b == b',');
    rest = rest.strip_prefix(b"\r\n").or_else(|| rest.strip_prefix(b"\n")).unwrap_or(rest);
    rest = skip(skip(rest, |b| blank(b) || b == b'-' || b == b','), quote);
    if rest.len() < 5 || !rest[..5].eq_ignore_ascii_case(b"value") {
        return None;
    }
    rest = skip(skip(&rest[5..], quote), blank);
    rest = rest.strip_prefix(b":").or_else(|| rest.strip_prefix(b"="))?;
    rest = skip(skip(rest, blank), quote);
    let n = short_run(rest, is_base64);
    if n != 40 || rest.get(n) == Some(&b'=') {
        return None;
    }
    let value = &rest[..40];
    (!placeholder(value)).then_some(value)
}

fn skip(s: &[u8], f: impl Fn(u8) -> bool) -> &[u8] {
    &s[run(s, f)..]
}

/// `s` without its trailing bytes that satisfy `f`.
fn skip_back(s: &[u8], f: impl Fn(u8) -> bool) -> &[u8] {
    &s[..s.len() - s.iter().rev().take_while(|&&b| f(b)).count()]
}
