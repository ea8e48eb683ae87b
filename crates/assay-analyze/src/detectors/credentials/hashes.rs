//! Password hash schemes: recognising them and checking a candidate against one, with a cost
//! per candidate so that cracking stays count-bounded (and so deterministic).

use md5::{Digest, Md5};
use sha1::Sha1;

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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// MD5-crypt with the given magic (`$1$` or `$apr1$`).
pub fn md5_crypt(pw: &[u8], setting: &str, magic: &str) -> String {
    let rest = setting.strip_prefix(magic).unwrap_or(setting);
    let salt = rest.split('$').next().unwrap_or("");
    let salt = &salt.as_bytes()[..salt.len().min(8)];
    let mut alt = Md5::new();
    alt.update(pw);
    alt.update(salt);
    alt.update(pw);
    let alt = alt.finalize();
    let mut ctx = Md5::new();
    ctx.update(pw);
    ctx.update(magic.as_bytes());
    ctx.update(salt);
    let mut left = pw.len();
    while left > 0 {
        ctx.update(&alt[..left.min(16)]);
        left = left.saturating_sub(16);
    }
    let mut i = pw.len();
    while i > 0 {
        if i & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&pw[..1]);
        }
        i >>= 1;
    }
    let mut fin = ctx.finalize();
    for i in 0..1000 {
        let mut c = Md5::new();
        if i & 1 == 1 {
            c.update(pw);
        } else {
            c.update(fin);
        }
        if i % 3 != 0 {
            c.update(salt);
        }
        if i % 7 != 0 {
            c.update(pw);
        }
        if i & 1 == 1 {
            c.update(fin);
        } else {
            c.update(pw);
        }
        fin = c.finalize();
    }
    let mut out = format!("{magic}{}$", String::from_utf8_lossy(salt));
    let mut to64 = |mut v: u32, n: usize| {
        for _ in 0..n {
            out.push(CRYPT64[(v & 0x3f) as usize] as char);
            v >>= 6;
        }
    };
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        to64(
            (fin[a] as u32) << 16 | (fin[b] as u32) << 8 | fin[c] as u32,
            4,
        );
    }
    to64(fin[11] as u32, 2);
    out
}

/// Whether `pw` matches hash `h` of scheme `s`.
pub fn verify(s: Scheme, pw: &str, h: &str) -> bool {
    let h = h.trim();
    match s {
        Scheme::Des => pwhash::unix_crypt::verify(pw, h),
        Scheme::Md5Crypt => md5_crypt(pw.as_bytes(), h, "$1$") == h,
        Scheme::Apr1 => md5_crypt(pw.as_bytes(), h, "$apr1$") == h,
        Scheme::Sha256Crypt(_) => pwhash::sha256_crypt::verify(pw, h),
        Scheme::Sha512Crypt(_) => pwhash::sha512_crypt::verify(pw, h),
        Scheme::Bcrypt(_) => pwhash::bcrypt::verify(pw, h),
        Scheme::Yescrypt => false,
        Scheme::RawMd5 => hex(&Md5::digest(pw.as_bytes())).eq_ignore_ascii_case(h),
        Scheme::RawSha1 => hex(&Sha1::digest(pw.as_bytes())).eq_ignore_ascii_case(h),
        Scheme::ShaBase64 => format!("{{SHA}}{}", base64(&Sha1::digest(pw.as_bytes()))) == h,
    }
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

    // Made with python3 crypt / openssl passwd (see fixtures/scripts/detect-keys.sh).
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

    #[test]
    fn slow_hashes_get_a_shortlist() {
        assert!(Scheme::Sha512Crypt(5000).budget() >= 200);
        assert!(Scheme::Sha512Crypt(500_000).budget() <= 20);
        assert!(Scheme::Bcrypt(12).budget() < Scheme::Bcrypt(5).budget());
    }
}
