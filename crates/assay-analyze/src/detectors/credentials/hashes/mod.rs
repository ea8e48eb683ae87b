//! Password hash schemes: recognising them and checking a candidate against one, with a cost
//! per candidate so that cracking stays count-bounded (and so deterministic).

mod des_crypt;
mod md5_crypt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use md5::{Digest, Md5};
use sha1::Sha1;
use sha_crypt::{PasswordVerifier, ShaCrypt};

pub use des_crypt::des_crypt;
pub use md5_crypt::md5_crypt;

/// A recognised password hash scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Traditional DES crypt (13 characters; only the first 8 password bytes count).
    Des,
    /// `$1$` MD5-crypt.
    Md5Crypt,
    /// `$apr1$` Apache MD5-crypt.
    Apr1,
    /// `$5$` SHA-256-crypt with its rounds.
    Sha256Crypt(u32),
    /// `$6$` SHA-512-crypt with its rounds.
    Sha512Crypt(u32),
    /// `$2a$`, `$2b$`, `$2y$` bcrypt with its cost.
    Bcrypt(u32),
    /// `$y$` yescrypt (recognised, not cracked).
    Yescrypt,
    /// Unsalted MD5 in hex.
    RawMd5,
    /// Unsalted SHA-1 in hex.
    RawSha1,
    /// `{SHA}` base64 SHA-1 (htpasswd).
    ShaBase64,
}

impl Scheme {
    /// Short name written into findings.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Des => "descrypt",
            Scheme::Md5Crypt => "md5crypt",
            Scheme::Apr1 => "apr1",
            Scheme::Sha256Crypt(_) => "sha256crypt",
            Scheme::Sha512Crypt(_) => "sha512crypt",
            Scheme::Bcrypt(_) => "bcrypt",
            Scheme::Yescrypt => "yescrypt",
            Scheme::RawMd5 => "md5",
            Scheme::RawSha1 => "sha1",
            Scheme::ShaBase64 => "sha1-base64",
        }
    }

    /// How many candidates are tried against one hash of this scheme: the whole dictionary
    /// for fast hashes, a shortlist for slow ones (about a second of work each).
    pub fn budget(self) -> usize {
        match self {
            Scheme::Des | Scheme::RawMd5 | Scheme::RawSha1 | Scheme::ShaBase64 => usize::MAX,
            Scheme::Md5Crypt | Scheme::Apr1 => 3000,
            Scheme::Sha256Crypt(r) | Scheme::Sha512Crypt(r) => {
                (2_000_000 / r.max(1000) as usize).clamp(20, 1000)
            }
            Scheme::Bcrypt(c) => ((1usize << 17) >> c.min(31)).clamp(16, 1000),
            Scheme::Yescrypt => 0,
        }
    }

    /// Whether the scheme is obsolete (unsalted, or truncating the password).
    pub fn is_obsolete(self) -> bool {
        matches!(
            self,
            Scheme::Des | Scheme::RawMd5 | Scheme::RawSha1 | Scheme::ShaBase64
        )
    }
}

/// The crypt base-64 alphabet, in value order, that every crypt(3) scheme writes hashes in.
const CRYPT64: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn is_crypt64(s: &str) -> bool {
    s.bytes().all(|b| CRYPT64.contains(&b))
}

fn rounds_of(h: &str) -> u32 {
    h.split('$')
        .nth(2)
        .and_then(|p| p.strip_prefix("rounds="))
        .and_then(|r| r.parse().ok())
        .unwrap_or(5000)
}

/// Recognise the scheme of a password field. `loose` also accepts the ambiguous forms (DES,
/// bare hex) that only a password-file context makes believable.
pub fn identify(h: &str, loose: bool) -> Option<Scheme> {
    let h = h.trim();
    let parts: Vec<&str> = h.split('$').collect();
    if let Some(rest) = h.strip_prefix("$1$") {
        return (rest.contains('$')).then_some(Scheme::Md5Crypt);
    }
    if let Some(rest) = h.strip_prefix("$apr1$") {
        return (rest.contains('$')).then_some(Scheme::Apr1);
    }
    if h.starts_with("$5$") && parts.len() >= 4 {
        return Some(Scheme::Sha256Crypt(rounds_of(h)));
    }
    if h.starts_with("$6$") && parts.len() >= 4 {
        return Some(Scheme::Sha512Crypt(rounds_of(h)));
    }
    if (h.starts_with("$2a$") || h.starts_with("$2b$") || h.starts_with("$2y$")) && h.len() == 60 {
        return parts[2].parse().ok().map(Scheme::Bcrypt);
    }
    if h.starts_with("$y$") || h.starts_with("$7$") || h.starts_with("$gy$") {
        return Some(Scheme::Yescrypt);
    }
    if let Some(b) = h.strip_prefix("{SHA}") {
        return (b.len() == 28).then_some(Scheme::ShaBase64);
    }
    if !loose {
        return None;
    }
    if h.len() == 13 && is_crypt64(h) {
        return Some(Scheme::Des);
    }
    let hex = h.bytes().all(|b| b.is_ascii_hexdigit());
    match (hex, h.len()) {
        (true, 32) => Some(Scheme::RawMd5),
        (true, 40) => Some(Scheme::RawSha1),
        _ => None,
    }
}

/// Whether `pw` matches hash `h` of scheme `s`.
pub fn verify(s: Scheme, pw: &str, h: &str) -> bool {
    let h = h.trim();
    match s {
        Scheme::Des => des_crypt(pw.as_bytes(), h).is_some_and(|c| c == h),
        Scheme::Md5Crypt => md5_crypt(pw.as_bytes(), h, "$1$") == h,
        Scheme::Apr1 => md5_crypt(pw.as_bytes(), h, "$apr1$") == h,
        Scheme::Sha256Crypt(_) => sha_crypt_matches(ShaCrypt::SHA256, pw, h),
        Scheme::Sha512Crypt(_) => sha_crypt_matches(ShaCrypt::SHA512, pw, h),
        Scheme::Bcrypt(_) => bcrypt_matches(pw, h),
        Scheme::Yescrypt => false,
        Scheme::RawMd5 => assay_model::hex(&Md5::digest(pw.as_bytes())).eq_ignore_ascii_case(h),
        Scheme::RawSha1 => assay_model::hex(&Sha1::digest(pw.as_bytes())).eq_ignore_ascii_case(h),
        Scheme::ShaBase64 => h
            .strip_prefix("{SHA}")
            .is_some_and(|b| BASE64.encode(Sha1::digest(pw.as_bytes())) == b),
    }
}

/// SHA-crypt as `crypt(3)` checks it: the crate verifies the digest, and only a string that
/// `crypt(3)` writes back can match (login compares strings): a salt of at most 16 characters
/// and a rounds count without leading zeros.
fn sha_crypt_matches(scheme: ShaCrypt, pw: &str, h: &str) -> bool {
    let mut fields = h.split('$').skip(2);
    let salt = match fields.next() {
        Some(f) if f.starts_with("rounds=") => {
            if f.starts_with("rounds=0") {
                return false;
            }
            fields.next()
        }
        other => other,
    };
    salt.is_some_and(|s| s.len() <= 16) && scheme.verify_password(pw.as_bytes(), h).is_ok()
}

/// bcrypt as `crypt(3)` checks it: the crate compares the decoded digest, and only a string
/// `crypt(3)` writes back can match: the salt's last character and the digest's last one carry
/// no stray low bits (4 and 2 of them unused).
fn bcrypt_matches(pw: &str, h: &str) -> bool {
    const BCRYPT64: &[u8] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let value = |i: usize| {
        h.as_bytes()
            .get(i)
            .and_then(|c| BCRYPT64.iter().position(|x| x == c))
    };
    // `$2b$05$`, then 22 salt characters and 31 of digest.
    let canonical = value(28).is_some_and(|v| v % 16 == 0) && value(59).is_some_and(|v| v % 4 == 0);
    canonical && bcrypt::verify(pw, h).unwrap_or(false)
}

/// Try `candidates` (in order, at most the scheme's budget) against `h`.
pub fn crack<'c>(
    s: Scheme,
    h: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    candidates
        .into_iter()
        .take(s.budget())
        .find(|c| verify(s, c, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made with python3 crypt / openssl passwd (see fixtures/scripts/detect-keys.sh and crypt.sh).
    const CASES: &[(&str, &str)] = &[
        ("ablTxbTxaaYfA", "oper8"),
        ("$1$saltsalt$Y3BMhxQHmg7scgLILa56u1", "admin"),
        ("$apr1$abcdefgh$FBwExRW4dCc8aL.OvjpIE1", "password"),
        ("$5$rounds=5000$saltsaltsalt$3E3P35YphVLFWAgcQ/x9HeAt5Wdw/b3zKxsew0rcjF9", "olt"),
        ("$6$saltsalt$spmXNE2iSikNnPHGD8yGoarQ2i2cqXjkO5JJmmk/Wlc8fm/IBIx7Aowhr5Z3z1a/yd1sA4OVW7inS4cmPDyPd.", "remote"),
        ("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"),
        ("21232f297a57a5a743894a0e4a801fc3", "admin"),
        ("5bdcd3c0d4d24ae3e71b3b452a024c6324c7e4bb", "support"),
        ("{SHA}0DPiKuNIrrVmD8IUCuw1hQxNqZc=", "admin"),
    ];

    #[test]
    fn identifies_and_verifies_every_scheme() {
        for (h, pw) in CASES {
            let s = identify(h, true).unwrap_or_else(|| panic!("{h}"));
            assert!(verify(s, pw, h), "{h} {pw}");
            assert!(!verify(s, "wrong", h), "{h}");
            assert_eq!(crack(s, h, ["x", "y", pw]), Some(*pw));
        }
        assert_eq!(identify("$y$j9T$abc$def", false), Some(Scheme::Yescrypt));
        assert_eq!(identify("ablTxbTxaaYfA", false), None);
        assert_eq!(identify("x", true), None);
        assert_eq!(identify("!", true), None);
    }

    /// Hashes made by libcrypt and openssl (fixtures/scripts/crypt.sh): each is recognised as
    /// its scheme, its password matches and another does not.
    #[test]
    fn every_libcrypt_vector_verifies() {
        let vectors = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/crypt/vectors.txt"
        ));
        let mut schemes = std::collections::BTreeSet::new();
        for line in vectors.lines().filter(|l| !l.starts_with('#')) {
            let mut f = line.split('\t');
            let (Some(name), Some(pw), Some(h)) = (f.next(), f.next(), f.next()) else {
                panic!("bad vector line {line:?}");
            };
            let s = identify(h, true).unwrap_or_else(|| panic!("{h}"));
            assert_eq!(s.name(), name, "{h}");
            assert!(verify(s, pw, h), "{name} {pw:?} {h}");
            assert!(!verify(s, "wrong", h), "{name} {h}");
            schemes.insert(name);
        }
        assert_eq!(schemes.len(), 6, "{schemes:?}");
    }

    #[test]
    fn sha_crypt_salts_past_sixteen_characters_never_match() {
        // crypt(3) keeps 16 salt characters, so it never writes this string back.
        let h = "$5$0123456789abcdefXYZ$spDqErTuRkJk.7971KjbjahW1SJ1JGUutlqu5csbQMA";
        assert!(!verify(Scheme::Sha256Crypt(5000), "pässwörd", h));
        assert!(verify(
            Scheme::Sha256Crypt(5000),
            "pässwörd",
            &h.replace("XYZ", "")
        ));
    }

    #[test]
    fn only_strings_crypt_writes_back_match() {
        // Leading zeros in the rounds count, stray low bits in bcrypt's salt or digest.
        let h = "$5$rounds=01000$ab$Yd3BaIOVbovC2OGzlWXH53yhcyaWZscnPjMwuHC/2t3";
        assert!(!verify(Scheme::Sha256Crypt(1000), "", h));
        assert!(verify(Scheme::Sha256Crypt(1000), "", &h.replace("=0", "=")));
        let h = "$2b$04$abcdefghijklmnopqrstuubyCG3zY1GIXMyxfivm.ClDiInHzxjiq";
        assert!(verify(Scheme::Bcrypt(4), "", h));
        assert!(!verify(Scheme::Bcrypt(4), "", &h.replace("tuub", "tuvb")));
        assert!(!verify(Scheme::Bcrypt(4), "", &h.replace("jiq", "jir")));
    }

    #[test]
    fn slow_hashes_get_a_shortlist() {
        assert!(Scheme::Sha512Crypt(5000).budget() >= 200);
        assert!(Scheme::Sha512Crypt(500_000).budget() <= 20);
        assert!(Scheme::Bcrypt(12).budget() < Scheme::Bcrypt(5).budget());
    }
}
