//! MD5-crypt, `$1$` (FreeBSD's, then Linux's) and Apache's `$apr1$` variant (the same algorithm
//! with another magic string): the hashes of most router `/etc/shadow` files and `htpasswd`
//! files of the last twenty years.
//!
//! Written here because no maintained crate implements it (RustCrypto's password hashes cover
//! SHA-crypt, bcrypt and newer schemes; `pwhash` is unmaintained). It is MD5 (the `md-5` crate)
//! applied as the scheme prescribes: a digest of password, salt and password mixed into one of
//! password, magic and salt, then 1000 rounds alternating password, salt and the previous digest,
//! written in the crypt base-64 alphabet in the scheme's byte order.

use super::CRYPT64;
use md5::{Digest, Md5};

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
    let mut fin: [u8; 16] = ctx.finalize().into();
    // Each round hashes one message of password, salt and the previous digest; it is built in
    // one buffer and hashed at once (cheaper than several updates of one hasher).
    let mut msg = Vec::with_capacity(2 * pw.len() + salt.len() + 16);
    for i in 0..1000 {
        msg.clear();
        if i & 1 == 1 {
            msg.extend_from_slice(pw);
        } else {
            msg.extend_from_slice(&fin);
        }
        if i % 3 != 0 {
            msg.extend_from_slice(salt);
        }
        if i % 7 != 0 {
            msg.extend_from_slice(pw);
        }
        if i & 1 == 1 {
            msg.extend_from_slice(&fin);
        } else {
            msg.extend_from_slice(pw);
        }
        fin = Md5::digest(&msg).into();
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
