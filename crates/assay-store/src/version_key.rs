//! A version string as text that sorts the way versions do, so that "BusyBox older than
//! 1.36" is one indexed range scan (`version_key < key("1.36")`) instead of comparing every
//! stored version in code.
//!
//! The order is the one of `assay_vulndb::version::compare_upstream`: numbers by value
//! (`1.9` < `1.10`), a pre-release word below the release (`2.1-rc1` < `2.1`), letters after
//! a number as a later release (OpenSSL's `1.0.2k` > `1.0.2`), trailing `.0`s ignored
//! (`1.36.0` = `1.36`). One case differs: a pre-release of a version that ends in zero
//! (`2.0-rc1`) sorts after `2.0`, since the zero is dropped only at the end.
//!
//! Each piece becomes a tag and its text: `1` + rank for a pre-release word, `3` + letters +
//! `!` for other letters, `4` + two-digit length + digits for a number; the key ends with `2`,
//! which sorts after a pre-release and before anything that makes a version later.

/// Longest version string read (a version is never longer).
const MAX_VERSION_LEN: usize = 128;

/// A piece of a version.
#[derive(Debug, PartialEq, Eq)]
enum Piece {
    PreRelease(u8),
    Letters(String),
    Number(String),
}

fn pieces(v: &str) -> Vec<Piece> {
    let v: String = v.trim().chars().take(MAX_VERSION_LEN).collect();
    let v = v.trim_start_matches(['v', 'V']);
    let mut out = Vec::new();
    let mut chars = v.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_digit() {
            let mut digits = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(d);
                chars.next();
            }
            let trimmed = digits.trim_start_matches('0');
            // Numbers longer than 99 digits are not versions; keep the key bounded.
            out.push(Piece::Number(trimmed.chars().take(99).collect()));
        } else if c.is_ascii_alphabetic() {
            let mut word = String::new();
            while let Some(&l) = chars.peek().filter(|l| l.is_ascii_alphabetic()) {
                word.push(l.to_ascii_lowercase());
                chars.next();
            }
            match word.as_str() {
                "dev" | "snapshot" => out.push(Piece::PreRelease(0)),
                "alpha" => out.push(Piece::PreRelease(1)),
                "beta" | "test" => out.push(Piece::PreRelease(2)),
                "pre" | "rc" => out.push(Piece::PreRelease(3)),
                "stable" | "release" | "final" | "ga" => {}
                _ => out.push(Piece::Letters(word)),
            }
        } else {
            chars.next();
        }
    }
    while matches!(out.last(), Some(Piece::Number(n)) if n.is_empty()) {
        out.pop();
    }
    out
}

/// The sort key of a version string.
///
/// ```
/// use assay_store::version_key;
/// assert!(version_key("1.35.0") < version_key("1.36"));
/// assert!(version_key("1.9") < version_key("1.10"));
/// assert!(version_key("1.0.2k") > version_key("1.0.2"));
/// assert!(version_key("2.1-rc1") < version_key("2.1"));
/// assert_eq!(version_key("1.36.0"), version_key("1.36"));
/// ```
pub fn version_key(v: &str) -> String {
    let mut key = String::new();
    for p in pieces(v) {
        match p {
            Piece::PreRelease(rank) => {
                key.push('1');
                key.push(char::from(b'0' + rank));
            }
            Piece::Letters(w) => {
                key.push('3');
                key.push_str(&w);
                key.push('!');
            }
            Piece::Number(n) => {
                key.push('4');
                key.push_str(&format!("{:02}", n.len()));
                key.push_str(&n);
            }
        }
    }
    key.push('2');
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Versions as firmware carries them, in release order.
    const ORDERED: &[&str] = &[
        "0.9.8",
        "1.0.1",
        "1.0.2",
        "1.0.2k",
        "1.0.2za",
        "1.1",
        "1.2.3-beta",
        "1.2.3-rc2",
        "1.2.3",
        "1.19.4",
        "1.35.0",
        "1.36.1",
        "2.0.1",
        "2019.78",
        "2022.83",
    ];

    #[test]
    fn keys_sort_in_release_order() {
        for pair in ORDERED.windows(2) {
            assert!(
                version_key(pair[0]) < version_key(pair[1]),
                "{} should sort before {}",
                pair[0],
                pair[1]
            );
        }
    }

    #[test]
    fn trailing_zeros_and_prefixes_do_not_matter() {
        assert_eq!(version_key("v1.2"), version_key("1.2.0"));
        assert_eq!(version_key("1.4.50-stable"), version_key("1.4.50"));
    }

    #[test]
    fn hostile_versions_give_bounded_keys() {
        let long = "9".repeat(10_000);
        assert!(version_key(&long).len() < 110);
        assert_eq!(version_key(""), "2");
        assert!(version_key("\u{fffd}é..--") == "2");
    }
}
