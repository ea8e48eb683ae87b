//! Whether a compared literal looks like a secret (a password, a magic key) rather than the
//! words programs usually compare input with: command words, option names, file paths,
//! format strings, protocol keywords, configuration keys, interface names and versions.
//! Judged from the string's shape alone — character classes, digits, punctuation — never from
//! a list of known passwords.

/// Strings with the shape of a secret that programs compare for other reasons.
const STOP_LIST: &[&str] = &[
    "x86-64",
    "x86_64",
    "utf-8",
    "iso-8859-1",
    "iso8859-1",
    "us-ascii",
    "ipv6-icmp",
    "sha-256",
    "sha-512",
    "sha256",
    "sha512",
    "aes-128-cbc",
    "aes-256-cbc",
    "aes-128-gcm",
    "aes-256-gcm",
    "hmac-sha1",
    "hmac-sha256",
    "hmac-sha2-256",
    "hmac-sha2-512",
    "en_us.utf-8",
    "c.utf-8",
    "chacha20-poly1305",
    "curve25519-sha256",
    "diffie-hellman-group14-sha1",
];

/// How strongly `s` looks like a secret: `None` when it does not, else a score (higher is
/// surer) in 1..=3.
pub fn secret_score(s: &[u8]) -> Option<u8> {
    if !(6..=64).contains(&s.len()) || !s.iter().all(|&c| (0x21..0x7f).contains(&c)) {
        return None;
    }
    if s.iter().any(|&c| matches!(c, b'%' | b'/' | b'\\')) {
        return None;
    }
    if matches!(
        s[0],
        b'-' | b'.' | b'+' | b'<' | b'&' | b'$' | b'{' | b'(' | b'[' | b'=' | b'"' | b'\''
    ) {
        return None;
    }
    if s.ends_with(b"=") || s.ends_with(b":") {
        return None;
    }
    let lower = s.iter().filter(|c| c.is_ascii_lowercase()).count();
    let upper = s.iter().filter(|c| c.is_ascii_uppercase()).count();
    let digits = s.iter().filter(|c| c.is_ascii_digit()).count();
    let symbols = s.len() - lower - upper - digits;
    let strong = s
        .iter()
        .filter(|c| !c.is_ascii_alphanumeric() && !matches!(c, b'-' | b'_' | b'.' | b':'))
        .count();
    if lower + upper < 2 {
        return None;
    }
    if s.iter().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let text = String::from_utf8_lossy(s).to_ascii_lowercase();
    if STOP_LIST.contains(&text.as_str()) {
        return None;
    }
    let classes = [lower > 0, upper > 0, digits > 0, symbols > 0]
        .iter()
        .filter(|&&b| b)
        .count();
    if strong > 0 {
        // Punctuation other than separators: needs letters plus at least two other classes.
        return (classes >= 3).then_some(if classes == 4 { 3 } else { 2 });
    }
    // Only separators or no punctuation: identifiers, keys and versions look like this too.
    if digits == 0 || s.len() < 8 {
        return None;
    }
    if upper > 0 && lower > 0 {
        return Some(if symbols > 0 { 2 } else { 1 });
    }
    if digits >= 3 && lower + upper >= 3 {
        // A dotted string of letters and digits is a host, a file or a version.
        if s.contains(&b'.') {
            return None;
        }
        return Some(1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::secret_score;

    #[test]
    fn passwords_look_like_secrets() {
        for s in [
            "Acm3#Maint!2021",
            "olt-enable-2019",
            "Zx9!acme",
            "Tr4ns#Gw!Ops77",
            "xK3y!dBg_7Q",
            "admin123",
            "Supp0rt!AR934x",
        ] {
            assert!(secret_score(s.as_bytes()).is_some(), "{s}");
        }
    }

    #[test]
    fn ordinary_compared_words_do_not() {
        for s in [
            "GET",
            "POST",
            "admin",
            "root",
            "status",
            "enable",
            "show version",
            "--check",
            "/bin/sh",
            "%s:%d",
            "Content-Length",
            "wl0_ssid",
            "lan_ipaddr1",
            "x86-64",
            "UTF-8",
            "HTTP_AUTHORIZATION",
            "deadbeef00112233",
            "eth0.100",
            "libc.so.6",
            "password",
            "<html>",
        ] {
            assert!(secret_score(s.as_bytes()).is_none(), "{s}");
        }
    }
}
