//! Small helpers shared by the text-reading detectors: lines with their byte ranges, a cheap
//! "is this text" test, value unquoting and placeholder recognition.

use std::ops::Range;

/// Largest file the text detectors read as text (config files and scripts are far smaller).
pub const MAX_TEXT: usize = 2 << 20;

/// Whether `bytes` look like a text file: no NUL in the first 8 KiB and mostly printable.
pub fn looks_like_text(bytes: &[u8]) -> bool {
    if bytes.is_empty() || bytes.len() > MAX_TEXT {
        return false;
    }
    let head = &bytes[..bytes.len().min(8192)];
    if head.contains(&0) {
        return false;
    }
    let printable = head
        .iter()
        .filter(|&&b| {
            b == b'\n' || b == b'\r' || b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80
        })
        .count();
    printable * 100 >= head.len() * 95
}

/// Every line of `bytes` (without its line ending) with its byte range in `bytes`.
pub fn lines(bytes: &[u8]) -> impl Iterator<Item = (Range<usize>, &[u8])> {
    let mut start = 0usize;
    std::iter::from_fn(move || {
        if start >= bytes.len() {
            return None;
        }
        let rest = &bytes[start..];
        let len = memchr_nl(rest).unwrap_or(rest.len());
        let mut end = start + len;
        let next = end + 1;
        if end > start && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        let out = (start..end, &bytes[start..end]);
        start = next;
        Some(out)
    })
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// The last component of a path.
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Strip one level of matching quotes (and surrounding blanks) from a value.
pub fn unquote(v: &str) -> &str {
    let v = v.trim();
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

/// Whether a configured value is a placeholder, a variable reference or otherwise not a real
/// secret: empty, `<your password>`, `${PASS}`, `$1`, `%s`, `****`, `xxx`, `none`, `null`.
pub fn is_placeholder(v: &str) -> bool {
    let v = v.trim();
    if v.is_empty() || v.len() > 200 {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    if v.starts_with('<') && v.ends_with('>')
        || v.starts_with('{') && v.ends_with('}')
        || v.starts_with('[') && v.ends_with(']')
        || v.contains('$')
        || v.contains("%s")
        || v.contains("%d")
        || v.contains("`")
        || v.contains("{{")
        || v.starts_with('@') && v.ends_with('@')
        || v.starts_with('%') && v.ends_with('%')
    {
        return true;
    }
    if v.chars()
        .all(|c| c == '*' || c == 'x' || c == 'X' || c == '.' || c == '#' || c == '-')
    {
        return true;
    }
    const WORDS: &[&str] = &[
        "none",
        "null",
        "nil",
        "empty",
        "undefined",
        "unset",
        "false",
        "true",
        "yes",
        "no",
        "off",
        "on",
        "disabled",
        "enabled",
        "required",
        "optional",
        "string",
        "your_password",
        "yourpassword",
        "your-password",
        "password_here",
        "passwordhere",
        "<password>",
        "mypassword",
        "my_password",
        "secret_here",
        "your_secret",
        "your_api_key",
        "example",
        "placeholder",
        "redacted",
        "hidden",
        "0",
        "1",
        "-",
        "auto",
        "generate",
        "random",
        "ask",
        "prompt",
        "env",
        "file",
    ];
    WORDS.contains(&lower.as_str()) || lower.starts_with("your") || lower.starts_with("/")
}

/// Shannon entropy of a string in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    if n == 0.0 {
        return 0.0;
    }
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Whether a byte belongs in a printable string, as `strings(1)` sees it: ASCII graphic,
/// space or tab.
pub fn is_printable(b: u8) -> bool {
    (0x20..0x7f).contains(&b) || b == b'\t'
}

/// Runs of at least `min` printable bytes in a binary, with their offsets: the one scan behind
/// every detector and signature that reads the strings of a binary.
pub fn printable_strings(bytes: &[u8], min: usize) -> Vec<(usize, &[u8])> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &b) in bytes.iter().enumerate() {
        match (is_printable(b), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                if i - s >= min {
                    out.push((s, &bytes[s..i]));
                }
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        if bytes.len() - s >= min {
            out.push((s, &bytes[s..]));
        }
    }
    out
}

/// Printable ASCII strings of at least `min` bytes in a binary, with their ranges.
pub fn strings(bytes: &[u8], min: usize) -> Vec<(Range<usize>, &str)> {
    printable_strings(bytes, min)
        .into_iter()
        .filter_map(|(at, run)| Some((at..at + run.len(), std::str::from_utf8(run).ok()?)))
        .collect()
}

/// Whether a file is an ELF binary.
pub fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_with_ranges() {
        let b = b"a:b\r\ncc\n\nd";
        let v: Vec<_> = lines(b).collect();
        assert_eq!(v.len(), 4);
        assert_eq!(v[0].1, b"a:b");
        assert_eq!(v[1].0, 5..7);
        assert_eq!(v[3].1, b"d");
    }

    #[test]
    fn printable_runs_with_offsets() {
        let b = b"\x7fELF\0abc\0admin\tpw\x01\xffend!";
        assert_eq!(
            printable_strings(b, 4),
            vec![(9, &b"admin\tpw"[..]), (19, &b"end!"[..])]
        );
        let s = strings(b, 3);
        assert_eq!(s[0], (1..4, "ELF"));
        assert_eq!(s[1], (5..8, "abc"));
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn placeholders_are_not_secrets() {
        for p in [
            "",
            "<your password>",
            "${PASS}",
            "$1",
            "%s",
            "****",
            "none",
            "your_pass",
        ] {
            assert!(is_placeholder(p), "{p}");
        }
        for p in ["admin", "Zx9!acme", "changeme"] {
            assert!(!is_placeholder(p), "{p}");
        }
    }
}
