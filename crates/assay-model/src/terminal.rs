//! Text on its way to a terminal: every character a terminal would act on, or that hides or
//! reorders what is shown, made visible as an escape.
//!
//! Everything Assay prints comes from an image or a report, and the people who write those
//! would like to mislead the analyst reading it. A file name with `ESC [2J` clears the screen,
//! a C1 `CSI` does the same on terminals that honour 8-bit controls, an `OSC` sequence sets the
//! window title or writes to the clipboard, a right-to-left override shows `root` for `toor`,
//! and a newline in an account name starts a line of the printer's own ("verified: …"). So
//! every text output goes through this module:
//!
//! - [`TerminalText`] builds a document line by line, escaping each line whole: no value can
//!   start a line of its own, and nothing but `\n` between lines reaches the terminal raw.
//! - [`escape`] (and [`Escaped`] for `format!`) escapes one value; [`escape_raw`] does the same
//!   for bytes that should be UTF-8 (invalid bytes become `\xNN`); [`escape_document`] keeps
//!   line breaks and tabs (rule descriptions, HTML text).
//! - [`is_terminal_safe`] is the invariant the tests and the fuzz harness check.
//!
//! What is escaped ([`must_escape`]): C0 controls (including ESC, CR and tab in a line), DEL,
//! C1 controls (U+0080–U+009F), line and paragraph separators, the bidirectional embeddings,
//! overrides, isolates and marks, and every other invisible formatting character that can
//! disguise text (Unicode's format category: zero-width characters, joiners, soft hyphen, word
//! joiner, invisible operators, byte-order mark, tags; plus the Hangul fillers and variation
//! selectors, which render as nothing). C0 and DEL are shown as `\x1b`, the others as
//! `\u{202e}`; `\n`, `\r` and `\t` by their usual names. A backslash is shown as itself: the
//! point is that no character reaches the terminal to act, and a literal `\x1b` in a name is
//! visibly four harmless characters.

use std::borrow::Cow;
use std::fmt::{self, Write};

/// Whether `c` must not reach a terminal as it is: it would be acted on (controls), would hide
/// or reorder text (bidirectional and other invisible formatting characters), or would render
/// as nothing at all.
pub fn must_escape(c: char) -> bool {
    matches!(c,
        // C0 controls, DEL, C1 controls.
        '\0'..='\x1f' | '\x7f'..='\u{9f}'
        // Soft hyphen, combining grapheme joiner, Arabic letter mark.
        | '\u{ad}' | '\u{34f}' | '\u{61c}'
        // Arabic number signs, end of ayah, Syriac abbreviation mark, pound/piastre marks above,
        // disputed end of ayah (format characters).
        | '\u{600}'..='\u{605}' | '\u{6dd}' | '\u{70f}' | '\u{890}'..='\u{891}' | '\u{8e2}'
        // Hangul choseong/jungseong fillers, Khmer inherent vowels, Mongolian free variation
        // selectors and vowel separator.
        | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}' | '\u{180b}'..='\u{180f}'
        // Zero width space, non-joiner, joiner; left-to-right and right-to-left marks.
        | '\u{200b}'..='\u{200f}'
        // Line and paragraph separators; bidirectional embeddings, pop and overrides.
        | '\u{2028}'..='\u{202e}'
        // Word joiner, invisible operators, bidirectional isolates, deprecated format controls.
        | '\u{2060}'..='\u{206f}'
        // Hangul filler, variation selectors, byte-order mark (zero width no-break space),
        // interlinear annotation controls, halfwidth Hangul filler.
        | '\u{3164}' | '\u{fe00}'..='\u{fe0f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}' | '\u{ffa0}'
        // Kaithi number signs, Egyptian hieroglyph format controls, shorthand format controls,
        // musical symbol beams and phrasing.
        | '\u{110bd}' | '\u{110cd}' | '\u{13430}'..='\u{1343f}' | '\u{1bca0}'..='\u{1bca3}'
        | '\u{1d173}'..='\u{1d17a}'
        // Language tags and the variation selectors supplement.
        | '\u{e0000}'..='\u{e0fff}'
    )
}

/// Append the visible escape of `c` (one that [`must_escape`]) to `out`.
fn push_escape(out: &mut impl Write, c: char) -> fmt::Result {
    match c {
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        '\0'..='\x1f' | '\x7f' => write!(out, "\\x{:02x}", c as u32),
        c => write!(out, "\\u{{{:x}}}", c as u32),
    }
}

/// Write `text` to `out` with every character that [`must_escape`] escaped, except those
/// `keep` allows through.
fn write_escaped(out: &mut impl Write, text: &str, keep: fn(char) -> bool) -> fmt::Result {
    let mut clean_from = 0;
    for (i, c) in text.char_indices() {
        if must_escape(c) && !keep(c) {
            out.write_str(&text[clean_from..i])?;
            push_escape(out, c)?;
            clean_from = i + c.len_utf8();
        }
    }
    out.write_str(&text[clean_from..])
}

fn keep_nothing(_: char) -> bool {
    false
}

fn keep_line_breaks(c: char) -> bool {
    c == '\n' || c == '\t'
}

/// `text` as one line for a terminal: every character that [`must_escape`] (including `\n`)
/// shown as a visible escape. Borrowed when nothing needed escaping.
///
/// ```
/// use assay_model::terminal::escape;
/// assert_eq!(escape("sys\x1b[2Jdiag\u{202e}"), "sys\\x1b[2Jdiag\\u{202e}");
/// assert_eq!(escape("a\nverified: b"), "a\\nverified: b");
/// assert_eq!(escape("/etc/passwd ▸ ok"), "/etc/passwd ▸ ok");
/// ```
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_keeping(text, keep_nothing)
}

/// `text` as a document for a terminal: like [`escape`], but line breaks and tabs stay.
pub fn escape_document(text: &str) -> Cow<'_, str> {
    escape_keeping(text, keep_line_breaks)
}

fn escape_keeping(text: &str, keep: fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(|c| must_escape(c) && !keep(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let _ = write_escaped(&mut out, text, keep);
    Cow::Owned(out)
}

/// Bytes that ought to be UTF-8 (an operating-system path, a raw name) as one line for a
/// terminal: valid text as [`escape`] shows it, each byte of an invalid sequence as `\xNN`.
///
/// ```
/// use assay_model::terminal::escape_raw;
/// assert_eq!(escape_raw(b"bad\xff\xfename\x1b"), "bad\\xff\\xfename\\x1b");
/// ```
pub fn escape_raw(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return escape(text);
    }
    let mut out = String::with_capacity(bytes.len() + 16);
    for chunk in bytes.utf8_chunks() {
        let _ = write_escaped(&mut out, chunk.valid(), keep_nothing);
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    Cow::Owned(out)
}

/// Whether `text` can go to a terminal as it is: nothing in it that [`must_escape`] except
/// line breaks. What every text output of Assay guarantees.
pub fn is_terminal_safe(text: &str) -> bool {
    !text.chars().any(|c| c != '\n' && must_escape(c))
}

/// A value shown through `{}` with [`escape`] applied, without an intermediate string.
///
/// ```
/// use assay_model::terminal::Escaped;
/// assert_eq!(format!("user {}", Escaped("a\u{9b}2J")), "user a\\u{9b}2J");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, self.0, keep_nothing)
    }
}

/// Writes through to a string, escaping as it goes (one line: nothing kept).
struct EscapingWriter<'a>(&'a mut String);

impl Write for EscapingWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_escaped(self.0, s, keep_nothing)
    }
}

/// A document for a terminal built line by line. Each line is formatted and escaped whole as
/// it is added, so a value can neither break the line nor send a control to the terminal,
/// however the line was put together; the finished text [`is_terminal_safe`].
///
/// ```
/// use assay_model::terminal::{is_terminal_safe, TerminalText};
/// let mut t = TerminalText::new();
/// let name = "x\n\x1b[2Jverified: every file";
/// t.line(format_args!("FAIL {name}"));
/// t.line(format_args!("NOT verified"));
/// let text = t.into_string();
/// assert_eq!(text.lines().count(), 2);
/// assert!(is_terminal_safe(&text));
/// ```
#[derive(Debug, Clone, Default)]
pub struct TerminalText {
    text: String,
}

impl TerminalText {
    /// An empty document.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one line (its line break is added here).
    pub fn line(&mut self, line: fmt::Arguments<'_>) {
        let _ = EscapingWriter(&mut self.text).write_fmt(line);
        self.text.push('\n');
    }

    /// Add an empty line.
    pub fn blank(&mut self) {
        self.text.push('\n');
    }

    /// Whether nothing was added yet.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The text so far.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The finished document.
    pub fn into_string(self) -> String {
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_invisible_characters_become_visible() {
        assert_eq!(escape("\x1b]0;title\x07"), "\\x1b]0;title\\x07");
        assert_eq!(escape("a\rb\tc\x7f"), "a\\rb\\tc\\x7f");
        assert_eq!(escape("\u{85}\u{9b}"), "\\u{85}\\u{9b}");
        assert_eq!(
            escape("\u{202a}\u{202e}\u{2066}\u{2069}\u{200f}\u{61c}"),
            "\\u{202a}\\u{202e}\\u{2066}\\u{2069}\\u{200f}\\u{61c}"
        );
        assert_eq!(
            escape("ro\u{200b}ot\u{feff}\u{ad}\u{2028}\u{e0041}\u{fe0f}\u{3164}"),
            "ro\\u{200b}ot\\u{feff}\\u{ad}\\u{2028}\\u{e0041}\\u{fe0f}\\u{3164}"
        );
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        for text in [
            "/etc/init.d/rcS",
            "acme-demo.bin ▸ squashfs@0x20000 ▸ /etc/passwd",
            "Straße, 日本語, émoji 🙂, back\\slash",
            "",
        ] {
            assert!(matches!(escape(text), Cow::Borrowed(t) if t == text));
            assert!(is_terminal_safe(text));
        }
    }

    #[test]
    fn documents_keep_their_line_breaks_only() {
        assert_eq!(escape_document("a\n\tb\x1bc\r\n"), "a\n\tb\\x1bc\\r\n");
        assert!(is_terminal_safe("one\ntwo\n"));
        assert!(!is_terminal_safe("one\rtwo"));
        assert!(!is_terminal_safe("one\u{202e}two"));
    }

    #[test]
    fn invalid_utf8_is_shown_byte_by_byte() {
        assert_eq!(escape_raw(b"ok"), "ok");
        assert_eq!(escape_raw(b"\xc3\x28\xe2\x80\xae"), "\\xc3(\\u{202e}");
        // A C1 control as a character differs from the same value as a stray byte.
        assert_eq!(escape_raw("\u{9b}".as_bytes()), "\\u{9b}");
        assert_eq!(escape_raw(b"\x9b"), "\\x9b");
    }

    #[test]
    fn every_escaped_character_leaves_safe_text() {
        // Every scalar value: the escape of each is terminal-safe and round-trips to itself
        // when nothing needed escaping.
        let mut buf = [0u8; 4];
        for c in (0..=0x10ffffu32).filter_map(char::from_u32) {
            let s = c.encode_utf8(&mut buf);
            let e = escape(s);
            assert!(is_terminal_safe(&e), "{:x}", c as u32);
            assert!(!e.contains('\n'));
            assert_eq!(must_escape(c), e != *s, "{:x}", c as u32);
        }
    }

    #[test]
    fn lines_cannot_be_forged() {
        let mut t = TerminalText::new();
        t.line(format_args!("node {}", "a\nverified: every file\r\x1b[1A"));
        t.blank();
        t.line(format_args!("{}", Escaped("b")));
        assert_eq!(
            t.as_str(),
            "node a\\nverified: every file\\r\\x1b[1A\n\nb\n"
        );
    }
}
