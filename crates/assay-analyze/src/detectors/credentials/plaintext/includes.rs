//! Configuration fragments that the configuration including them has switched off: a file of
//! an include directory (`conf.d/mysql_vhost.conf`) that the files beside that directory name
//! only on commented-out lines (`#include "conf.d/mysql_vhost.conf"`) is an upstream example
//! shipped with the server, not a setting the device runs with.

use crate::detectors::text::{lines, looks_like_text};
use crate::Analysis;

/// Largest configuration file searched for an include line.
const MAX_INCLUDER: usize = 1 << 20;
/// Most files of a directory read for include lines.
const MAX_SIBLINGS: usize = 256;

/// The commented-out include lines (`file:line`) when every line of the configuration files
/// beside the fragment's directory that names it is commented out; `None` when some live
/// line includes it (by name or by a wildcard of its directory) or when nothing names it.
pub(super) fn disabled_include(analysis: &Analysis, fs: usize, path: &str) -> Option<Vec<String>> {
    let view = analysis.filesystems.get(fs)?;
    let path = assay_unpack::normalize_path(path).0;
    let (dir, name) = path.rsplit_once('/')?;
    let (parent, dir_name) = dir.rsplit_once('/')?;
    if dir_name.is_empty() || name.is_empty() {
        return None;
    }
    let named = format!("{dir_name}/{name}");
    let wildcard = format!("{dir_name}/*");
    let prefix = format!("{parent}/");
    let mut commented = Vec::new();
    let mut live = false;
    let siblings = view
        .entries
        .range(prefix.clone()..)
        .take_while(|(p, _)| p.starts_with(&prefix))
        .filter(|(p, _)| !p[prefix.len()..].contains('/'))
        .take(MAX_SIBLINGS);
    for (p, &id) in siblings {
        let node = analysis.node(id);
        if node.kind != assay_model::NodeKind::File {
            continue;
        }
        let bytes = analysis.bytes(id);
        if bytes.len() > MAX_INCLUDER || !looks_like_text(bytes) {
            continue;
        }
        scan_includer(p, bytes, &named, &wildcard, &mut commented, &mut live);
        if live {
            return None;
        }
    }
    (!commented.is_empty()).then_some(commented)
}

/// Sort the lines of one configuration file that name the fragment into live and
/// commented-out include lines.
fn scan_includer(
    path: &str,
    bytes: &[u8],
    named: &str,
    wildcard: &str,
    commented: &mut Vec<String>,
    live: &mut bool,
) {
    let finder = memchr::memmem::Finder::new(named.as_bytes());
    let any =
        finder.find(bytes).is_some() || memchr::memmem::find(bytes, wildcard.as_bytes()).is_some();
    if !any {
        return;
    }
    for (no, (_, line)) in lines(bytes).enumerate() {
        let Ok(text) = std::str::from_utf8(line) else {
            continue;
        };
        if !text.contains(named) && !text.contains(wildcard) {
            continue;
        }
        let t = text.trim_start();
        let off = t.starts_with('#') || t.starts_with(';') || t.starts_with("//");
        if !off {
            *live = true;
            return;
        }
        // A comment that only mentions the fragment (`## - mod_x -> conf.d/x.conf`) is
        // documentation, not a switched-off include.
        let body = t
            .trim_start_matches(['#', ';', '/', ' ', '\t'])
            .to_ascii_lowercase();
        if ["include", ".include", "source ", ". "]
            .iter()
            .any(|w| body.starts_with(w))
        {
            commented.push(format!("{path}:{}", no + 1));
        }
    }
}
