//! Operating systems that the unpacker identified as whole images (its `vxworks`, `ecos`
//! and `threadx` formats): the OS and version become a component, with the version string
//! the format read as evidence. That string lies in the blob the description spans (the
//! description node's parent), at the offset the format recorded, so `verify` re-reads it
//! there like any other version string.

use super::Found;
use crate::Analysis;
use assay_model::{Confidence, NodeId, NodeKind};

/// Formats that describe OS images: format name, component name, CPE part:vendor:product.
/// eCos and ThreadX carry no CPE: NVD's names for them could not be confirmed offline.
const OS_FORMATS: &[(&str, &str, Option<&str>)] = &[
    ("vxworks", "vxworks", Some("o:windriver:vxworks")),
    ("ecos", "ecos", None),
    ("threadx", "threadx", None),
];

/// Every OS component the unpacked tree describes, as (evidence node, reading).
pub(super) fn os_components(a: &Analysis) -> Vec<(NodeId, Found)> {
    let mut out = Vec::new();
    for node in &a.unpacked.nodes {
        if node.kind != NodeKind::Container {
            continue;
        }
        let Some(&(_, name, cpe)) = OS_FORMATS
            .iter()
            .find(|(f, _, _)| node.format.as_deref() == Some(*f))
        else {
            continue;
        };
        let (Some(version), Some(text), Some(offset), Some(parent)) = (
            node.details.get("version"),
            node.details.get("version_string"),
            node.details.get("version_offset"),
            node.parent,
        ) else {
            continue;
        };
        let Some(start) = offset
            .strip_prefix("0x")
            .and_then(|h| usize::from_str_radix(h, 16).ok())
        else {
            continue;
        };
        let end = start + text.len();
        // Evidence must hold where it points: the blob the description spans.
        if a.bytes(parent).get(start..end) != Some(text.as_bytes()) {
            continue;
        }
        out.push((
            parent,
            Found {
                name: name.to_string(),
                version: version.clone(),
                cpe: cpe.map(str::to_string),
                purl: None,
                method: "os-image",
                matched: text.clone(),
                range: Some((start, end)),
                confidence: Confidence::High,
                embedded: false,
            },
        ));
    }
    out
}
