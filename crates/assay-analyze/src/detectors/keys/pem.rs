//! PEM blocks (`-----BEGIN label-----` … `-----END label-----`) anywhere in a file, with their
//! base64 body decoded and RFC 1421 encryption headers noted.

use super::der;
use crate::detectors::text::lines;
use regex::bytes::Regex;
use std::ops::Range;
use std::sync::OnceLock;

pub(super) fn pem_blocks(bytes: &[u8]) -> Vec<(Range<usize>, String, Vec<u8>, bool)> {
    static BEGIN: OnceLock<Regex> = OnceLock::new();
    let begin =
        BEGIN.get_or_init(|| Regex::new(r"-----BEGIN ([A-Z0-9 ]{1,40})-----").expect("regex"));
    let mut out = Vec::new();
    for c in begin.captures_iter(bytes).take(256) {
        let (Some(m), Some(label)) = (c.get(0), c.get(1)) else {
            continue;
        };
        let label = String::from_utf8_lossy(label.as_bytes()).to_string();
        let end_marker = format!("-----END {label}-----");
        let body_start = m.end();
        let window = &bytes[body_start..bytes.len().min(body_start + 65536)];
        let Some(end) = window
            .windows(end_marker.len())
            .position(|w| w == end_marker.as_bytes())
        else {
            continue;
        };
        let body = &window[..end];
        let encrypted_header = body.windows(9).any(|w| w == b"ENCRYPTED");
        // Drop RFC 1421 headers (`Proc-Type:`, `DEK-Info:`).
        let b64: Vec<u8> = lines(body)
            .filter(|(_, l)| !l.contains(&b':'))
            .flat_map(|(_, l)| l.to_vec())
            .collect();
        if let Some(der) = der::base64(&b64) {
            out.push((
                m.start()..body_start + end + end_marker.len(),
                label,
                der,
                encrypted_header,
            ));
        }
    }
    out
}
