//! A small bounded reader of the DER, base64 and SSH wire encodings that key files use.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, Engine};

/// One DER element: its tag and content.
#[derive(Debug, Clone, Copy)]
pub struct Tlv<'a> {
    /// The identifier octet.
    pub tag: u8,
    /// The content octets.
    pub content: &'a [u8],
}

/// Read one element from the front of `b`; returns it and the rest.
pub fn read(b: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)? as usize;
    let (len, hdr) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = hdr.checked_add(len)?;
    let content = b.get(hdr..end)?;
    Some((Tlv { tag, content }, &b[end..]))
}

/// Every element inside a constructed element's content (at most 64).
pub fn children(content: &[u8]) -> Vec<Tlv<'_>> {
    let mut out = Vec::new();
    let mut rest = content;
    while !rest.is_empty() && out.len() < 64 {
        match read(rest) {
            Some((t, r)) => {
                out.push(t);
                rest = r;
            }
            None => break,
        }
    }
    out
}

/// An unsigned big integer without its leading zero bytes.
pub fn uint(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

/// Bit length of a big-endian unsigned integer.
pub fn bits(b: &[u8]) -> usize {
    let b = uint(b);
    match b.first() {
        None => 0,
        Some(&f) => b.len() * 8 - f.leading_zeros() as usize,
    }
}

/// Dotted form of an OID's content.
pub fn oid(b: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut v: u64 = 0;
    for (i, &x) in b.iter().enumerate() {
        v = (v << 7) | (x & 0x7f) as u64;
        if x & 0x80 == 0 {
            if parts.is_empty() && i < 8 {
                let first = (v / 40).min(2);
                parts.push(first);
                parts.push(v - first * 40);
            } else {
                parts.push(v);
            }
            v = 0;
        }
        if parts.len() > 32 {
            break;
        }
    }
    parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// Decode base64 (standard alphabet) the way PEM bodies and `authorized_keys` lines carry it:
/// whitespace is skipped, the text ends at the first `=`, and non-canonical trailing bits or a
/// dangling last symbol are tolerated (as OpenSSL and OpenSSH read them); `None` on any other
/// character.
pub fn base64(text: &[u8]) -> Option<Vec<u8>> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireNone),
    );
    let mut symbols: Vec<u8> = text
        .iter()
        .copied()
        .take_while(|&c| c != b'=')
        .filter(|c| !matches!(c, b' ' | b'\n' | b'\r' | b'\t'))
        .collect();
    // One symbol alone carries no whole byte.
    if symbols.len() % 4 == 1 {
        symbols.pop();
    }
    LENIENT.decode(symbols).ok()
}

/// A reader of SSH wire strings (`u32` length + bytes).
pub struct Wire<'a>(pub &'a [u8]);

impl<'a> Wire<'a> {
    /// The next length-prefixed string.
    pub fn string(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_be_bytes(self.0.get(..4)?.try_into().ok()?) as usize;
        let s = self.0.get(4..4usize.checked_add(len)?)?;
        self.0 = &self.0[4 + len..];
        Some(s)
    }

    /// The next big-endian `u32`.
    pub fn u32(&mut self) -> Option<u32> {
        let v = u32::from_be_bytes(self.0.get(..4)?.try_into().ok()?);
        self.0 = &self.0[4..];
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_der_and_oids() {
        let (t, rest) = read(&[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0xff,
        ])
        .unwrap();
        assert_eq!(oid(t.content), "1.2.840.113549.1.1.1");
        assert_eq!(rest, &[0xff]);
        assert!(read(&[0x30, 0x85, 1, 2, 3, 4, 5]).is_none());
        assert!(read(&[0x30, 0x82, 0xff]).is_none());
        assert_eq!(bits(&[0x00, 0x80, 0]), 16);
        assert_eq!(base64(b"aGk=").unwrap(), b"hi");
        assert_eq!(base64(b"aG\nk=garbage!").unwrap(), b"hi");
        assert_eq!(base64(b"aGl").unwrap(), b"hi");
        assert_eq!(base64(b"aGkx\r\nMjM0N").unwrap(), b"hi1234");
        assert_eq!(base64(b"aG!k"), None);
    }
}
