//! The whole engine on hostile archives (made by `fixtures/scripts/archives.sh`): names that
//! climb out of the archive, symlinks that point outside followed by paths through them,
//! entry-count bombs and a zip bomb. Every run must finish, keep every path inside its root,
//! and say what it refused.

use assay_model::{NodeKind, Warning, WarningKind};
use assay_unpack::{Blob, Limits, UnpackOptions, UnpackResult, Unpacker};
use std::time::{Duration, Instant};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/archives/");

fn run(name: &str, limits: Option<Limits>) -> UnpackResult {
    let data = std::fs::read(format!("{FIXTURES}{name}")).expect("fixture");
    let started = Instant::now();
    let r = Unpacker::new().unpack_bytes(
        name,
        Blob::from(data),
        &UnpackOptions {
            limits,
            progress: None,
            ..Default::default()
        },
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{name} took too long"
    );
    for n in &r.nodes {
        assert!(
            !n.path.split('/').any(|c| c == ".."),
            "{name}: node path {:?} climbs",
            n.path
        );
    }
    r
}

fn has_limit_warning(warnings: &[Warning]) -> bool {
    // The driver and the formats name the kind of every warning they raise.
    warnings.iter().any(|w| w.kind == WarningKind::Limit)
}

#[test]
fn traversal_is_contained_and_reported() {
    for name in [
        "hostile-traversal.tar",
        "hostile-traversal.zip",
        "hostile-traversal.cpio",
    ] {
        let r = run(name, None);
        assert!(
            r.warnings
                .iter()
                .any(|w| w.kind == WarningKind::PathTraversal),
            "{name}: {:?}",
            r.warnings
        );
        let paths: Vec<(&str, NodeKind)> = r
            .nodes
            .iter()
            .filter(|n| {
                matches!(
                    n.kind,
                    NodeKind::File | NodeKind::Symlink | NodeKind::Directory
                )
            })
            .map(|n| (n.path.as_str(), n.kind))
            .collect();
        for want in ["/etc/x", "/etc/abs", "/link", "/link/passwd"] {
            assert!(
                paths.iter().any(|(p, _)| p.ends_with(want)),
                "{name}: {want} missing from {paths:?}"
            );
        }
        let link = r
            .nodes
            .iter()
            .find(|n| n.kind == NodeKind::Symlink)
            .unwrap_or_else(|| panic!("{name}: no symlink"));
        assert_eq!(link.link_target.as_deref(), Some("../../../../etc"));
    }
}

#[test]
fn entry_count_bombs_stop_at_the_limit() {
    for name in ["hostile-many.tar.gz", "hostile-many.zip"] {
        let data_len = std::fs::metadata(format!("{FIXTURES}{name}"))
            .unwrap()
            .len();
        let mut limits = Limits::for_image(data_len);
        limits.max_entries = 100;
        let r = run(name, Some(limits));
        assert!(has_limit_warning(&r.warnings), "{name}: {:?}", r.warnings);
        let files = r.nodes.iter().filter(|n| n.kind == NodeKind::File).count();
        assert!(files <= 100, "{name}: {files} files");
        assert!(files > 0, "{name}: nothing kept");
    }
}

#[test]
fn zip_bomb_stops_at_the_budget() {
    let r = run("hostile-bomb.zip", None);
    let limits = Limits::for_image(
        std::fs::metadata(format!("{FIXTURES}hostile-bomb.zip"))
            .unwrap()
            .len(),
    );
    assert!(has_limit_warning(&r.warnings), "{:?}", r.warnings);
    assert!(r.stats.bytes_unpacked <= limits.max_total_bytes);
    // The members are all there, the later ones without data.
    let files = r.nodes.iter().filter(|n| n.kind == NodeKind::File).count();
    assert_eq!(files, 12);
}
