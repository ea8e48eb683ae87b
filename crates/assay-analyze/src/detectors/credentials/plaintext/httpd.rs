//! busybox httpd.conf auth lines (`/path:user:password`): plaintext passwords are reported by
//! `lines`, crypt hashes are handed to the cracker.

use super::super::hashes::identify;
use super::super::HashTarget;
use crate::detectors::text::{file_name, lines, looks_like_text};
use crate::Analysis;

/// A busybox httpd `/path:user:password` line.
pub(super) fn httpd_auth_line(t: &str) -> Option<(&str, &str, &str)> {
    let mut it = t.trim().splitn(3, ':');
    let p = it.next()?;
    let user = it.next()?;
    let pass = it.next()?;
    (p.starts_with('/') && !user.is_empty() && !pass.is_empty() && !user.contains(' '))
        .then_some((p, user, pass))
}

/// Hashes found in busybox httpd.conf auth lines, for cracking.
pub(in crate::detectors::credentials) fn httpd_conf_hashes(analysis: &Analysis) -> Vec<HashTarget> {
    let mut out = Vec::new();
    for f in analysis.files() {
        let name = file_name(&f.node.path);
        if !(name.starts_with("httpd") && name.contains(".conf") && looks_like_text(f.bytes)) {
            continue;
        }
        for (range, line) in lines(f.bytes) {
            let Ok(text) = std::str::from_utf8(line) else {
                continue;
            };
            if let Some((_, user, pass)) = httpd_auth_line(text) {
                if let Some(scheme) = identify(pass, false) {
                    out.push(HashTarget {
                        node: f.node.id,
                        fs: f.fs,
                        path: f.node.path.clone(),
                        line: range,
                        account: user.to_string(),
                        hash: pass.to_string(),
                        scheme,
                        uid: None,
                        shell: None,
                        web: true,
                    });
                }
            }
        }
    }
    out
}
