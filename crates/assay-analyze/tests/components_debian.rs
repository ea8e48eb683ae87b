//! Component identification on real binaries from Debian 12 packages of several
//! architectures (made by `fixtures/scripts/components.sh`): each must be reported under its
//! component name with the exact upstream version that the package metadata gives.

use assay_analyze::components::identify_components;
use assay_analyze::testutil::{tree, TestEntry};
use assay_analyze::Analysis;
use std::path::Path;

#[test]
fn debian_binaries_give_their_package_versions() {
    let checked = check_fixtures("tests/fixtures/components");
    assert!(checked >= 10, "only {checked} fixtures");
}

/// The network-equipment family: versions printed through format strings and SONAMEs
/// (`fixtures/scripts/components-network.sh`).
#[test]
fn network_family_binaries_give_their_package_versions() {
    let checked = check_fixtures("tests/fixtures/components-network");
    assert!(checked >= 9, "only {checked} fixtures");
}

/// Every fixture listed in the folder's expected.tsv gives its component and version, and no
/// other version of it; returns how many were checked.
fn check_fixtures(folder: &str) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    let expected = std::fs::read_to_string(dir.join("expected.tsv")).expect("expected.tsv");
    let mut checked = 0;
    for line in expected.lines().filter(|l| !l.starts_with('#')) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, name, version) = (cols[0], cols[1], cols[2]);
        let bytes = std::fs::read(dir.join(file)).expect("fixture");
        // Stored as `<arch>-<original name>`; put it back under its own name.
        let original = file.split_once('-').map(|x| x.1).unwrap_or(file);
        let path = format!("/usr/lib/{original}");
        let t = tree(&[TestEntry::File(&path, &bytes, 0o755)]);
        let components = identify_components(&Analysis::new(&t));
        let found: Vec<(String, String)> = components
            .iter()
            .map(|c| (c.name.clone(), c.version.clone()))
            .collect();
        assert!(
            found.contains(&(name.to_string(), version.to_string())),
            "{file}: expected {name} {version}, found {found:?}"
        );
        // Nothing else claims the same component with another version.
        assert!(
            found.iter().all(|(n, v)| n != name || v == version),
            "{file}: {found:?}"
        );
        checked += 1;
    }
    checked
}
