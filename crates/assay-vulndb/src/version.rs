//! Version comparison for matching: upstream release strings as firmware carries them, and
//! Debian/Ubuntu package versions as their OSV records list them.
//!
//! Written here because no crate orders the version strings of C projects the way their
//! vulnerability records mean them: OpenSSL's `1.0.2k` comes after `1.0.2` and before
//! `1.0.2za`, Dropbear's `2022.83` is plain numbers, `2.0-rc1` comes before `2.0`, and
//! `1.4.50-stable` is `1.4.50`.

use std::cmp::Ordering;

/// Longest version string considered; longer input is cut (a version is never that long).
const MAX_VERSION_LEN: usize = 128;

/// One piece of an upstream version.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    /// Digits, leading zeros removed.
    Number(&'a str),
    /// A pre-release word (`dev` < `alpha` < `beta` = `test` < `pre` = `rc`), with its rank.
    PreRelease(u8),
    /// Letters that mark a later release (OpenSSL's `k`, a `p1` patch level).
    Letters(String),
}

fn pieces(v: &str) -> Vec<Piece<'_>> {
    let v = &v[..floor_char_boundary(v, MAX_VERSION_LEN)];
    let v = v.trim().trim_start_matches(['v', 'V']);
    let bytes = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let digits = v[start..i].trim_start_matches('0');
            out.push(Piece::Number(digits));
        } else if b.is_ascii_alphabetic() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            let word = v[start..i].to_ascii_lowercase();
            match word.as_str() {
                "dev" | "snapshot" => out.push(Piece::PreRelease(0)),
                "alpha" => out.push(Piece::PreRelease(1)),
                "beta" | "test" => out.push(Piece::PreRelease(2)),
                "pre" | "rc" => out.push(Piece::PreRelease(3)),
                // Words that only restate that this is a release.
                "stable" | "release" | "final" | "ga" => {}
                _ => out.push(Piece::Letters(word)),
            }
        } else {
            // Separators: `.`, `-`, `_`, `+`, `~`, anything else.
            i += 1;
        }
    }
    out
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn cmp_numbers(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn cmp_piece(a: &Piece, b: &Piece) -> Ordering {
    use Piece::*;
    match (a, b) {
        (Number(x), Number(y)) => cmp_numbers(x, y),
        (PreRelease(x), PreRelease(y)) => x.cmp(y),
        (Letters(x), Letters(y)) => x.cmp(y),
        (PreRelease(_), _) => Ordering::Less,
        (_, PreRelease(_)) => Ordering::Greater,
        (Letters(_), Number(_)) => Ordering::Less,
        (Number(_), Letters(_)) => Ordering::Greater,
    }
}

/// How a piece left over at the end of the longer version orders it against the shorter one.
fn tail_order(p: &Piece) -> Ordering {
    match p {
        Piece::Number("") => Ordering::Equal,
        Piece::PreRelease(_) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// Compare two upstream version strings (`1.35.0`, `1.0.2k`, `2022.83`, `2.90-rc1`).
pub fn compare_upstream(a: &str, b: &str) -> Ordering {
    let pa = pieces(a);
    let pb = pieces(b);
    for (x, y) in pa.iter().zip(&pb) {
        let o = cmp_piece(x, y);
        if o != Ordering::Equal {
            return o;
        }
    }
    let n = pa.len().min(pb.len());
    for p in &pa[n..] {
        let o = tail_order(p);
        if o != Ordering::Equal {
            return o;
        }
    }
    for p in &pb[n..] {
        let o = tail_order(p);
        if o != Ordering::Equal {
            return o.reverse();
        }
    }
    Ordering::Equal
}

/// Compare two Debian package versions (`[epoch:]upstream[-revision]`) as dpkg does.
pub fn compare_dpkg(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split_dpkg(a);
    let (eb, ub, rb) = split_dpkg(b);
    cmp_numbers(ea, eb)
        .then_with(|| verrevcmp(ua, ub))
        .then_with(|| verrevcmp(ra, rb))
}

fn split_dpkg(v: &str) -> (&str, &str, &str) {
    let v = &v[..floor_char_boundary(v, MAX_VERSION_LEN)];
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => (e, r),
        _ => ("0", v),
    };
    let epoch = epoch.trim_start_matches('0');
    match rest.rsplit_once('-') {
        Some((u, r)) => (epoch, u, r),
        None => (epoch, rest, ""),
    }
}

/// dpkg's ordering of a non-digit byte: `~` before the end, letters before other symbols.
fn dpkg_order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(c) => c as i32 + 256,
    }
}

fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // Non-digit prefix.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ca = a.get(i).copied().filter(|c| !c.is_ascii_digit());
            let cb = b.get(j).copied().filter(|c| !c.is_ascii_digit());
            let (oa, ob) = (dpkg_order(ca), dpkg_order(cb));
            if oa != ob {
                return oa.cmp(&ob);
            }
            if ca.is_some() {
                i += 1;
            }
            if cb.is_some() {
                j += 1;
            }
            if ca.is_none() && cb.is_none() {
                break;
            }
        }
        // Digit run.
        let si = i;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        let sj = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let na = std::str::from_utf8(&a[si..i])
            .unwrap_or("")
            .trim_start_matches('0');
        let nb = std::str::from_utf8(&b[sj..j])
            .unwrap_or("")
            .trim_start_matches('0');
        let o = cmp_numbers(na, nb);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn dotted_numbers_compare_numerically() {
        assert_eq!(compare_upstream("1.35.0", "1.35.1"), Less);
        assert_eq!(compare_upstream("1.9", "1.10"), Less);
        assert_eq!(compare_upstream("2.90", "2.89"), Greater);
        assert_eq!(compare_upstream("1.35", "1.35.0"), Equal);
        assert_eq!(compare_upstream("v1.2.3", "1.2.3"), Equal);
    }

    #[test]
    fn openssl_letter_releases_follow_their_base() {
        assert_eq!(compare_upstream("1.0.2", "1.0.2k"), Less);
        assert_eq!(compare_upstream("1.0.2k", "1.0.2l"), Less);
        assert_eq!(compare_upstream("1.0.2k", "1.0.2za"), Less);
        assert_eq!(compare_upstream("1.0.2zg", "1.0.2za"), Greater);
        assert_eq!(compare_upstream("1.0.2zg", "1.1.0"), Less);
        assert_eq!(compare_upstream("1.1.1w", "3.0.0"), Less);
    }

    #[test]
    fn dropbear_year_versions() {
        assert_eq!(compare_upstream("2022.83", "2022.83"), Equal);
        assert_eq!(compare_upstream("2020.81", "2022.83"), Less);
        assert_eq!(compare_upstream("2024.85", "2022.83"), Greater);
    }

    #[test]
    fn pre_releases_come_before_and_stable_is_neutral() {
        assert_eq!(compare_upstream("2.90rc1", "2.90"), Less);
        assert_eq!(compare_upstream("2.90-rc1", "2.90-rc2"), Less);
        assert_eq!(compare_upstream("1.0-beta", "1.0-rc1"), Less);
        assert_eq!(compare_upstream("2.86test5", "2.86rc1"), Less);
        assert_eq!(compare_upstream("2.86rc3", "2.86"), Less);
        assert_eq!(compare_upstream("1.0-rc1", "1.0.1"), Less);
        assert_eq!(compare_upstream("1.4.50-stable", "1.4.50"), Equal);
        assert_eq!(compare_upstream("7.4p1", "7.4"), Greater);
        assert_eq!(compare_upstream("7.4p1", "7.5"), Less);
    }

    #[test]
    fn hostile_versions_do_not_panic() {
        let long = "9".repeat(10_000);
        assert_eq!(compare_upstream(&long, "1"), Greater);
        assert_eq!(compare_upstream("é..--~", "ü"), Equal);
        let _ = compare_dpkg(&long, "1:é");
    }

    #[test]
    fn dpkg_ordering() {
        assert_eq!(
            compare_dpkg("1:1.30.1-7ubuntu3", "1:1.30.1-7ubuntu3.1"),
            Less
        );
        assert_eq!(compare_dpkg("1.0~rc1", "1.0"), Less);
        assert_eq!(compare_dpkg("1:1.0", "2.0"), Greater);
        assert_eq!(compare_dpkg("2.90-1", "2.90-1"), Equal);
        assert_eq!(compare_dpkg("1.0a", "1.0+"), Less);
    }
}
