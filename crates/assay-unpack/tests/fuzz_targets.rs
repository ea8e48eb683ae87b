//! Every registered format has a fuzz target: `fuzz/targets.txt` names each format of the
//! registry exactly once, its seed globs match committed fixtures, and the generated target
//! files and `[[bin]]`s are current (`fuzz/gen-targets.sh`). A new format without a fuzz
//! target fails here.

use assay_unpack::Unpacker;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One line of `targets.txt`: target name, format name, seed globs.
struct Target {
    name: String,
    format: String,
    seeds: Vec<String>,
}

fn targets() -> Vec<Target> {
    let text = std::fs::read_to_string(repo().join("fuzz/targets.txt")).expect("fuzz/targets.txt");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut words = l.split_whitespace().map(str::to_string);
            Target {
                name: words.next().unwrap_or_default(),
                format: words.next().unwrap_or_default(),
                seeds: words.collect(),
            }
        })
        .collect()
}

/// Whether `name` matches `pattern`, where `*` stands for any run of characters.
fn matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

#[test]
fn every_registered_format_has_exactly_one_fuzz_target() {
    let registered = Unpacker::new().format_names();
    let targets = targets();
    let mut by_format: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for t in &targets {
        by_format.entry(&t.format).or_default().push(&t.name);
    }
    let missing: Vec<&&str> = registered
        .iter()
        .filter(|f| !by_format.contains_key(**f))
        .collect();
    assert!(
        missing.is_empty(),
        "formats without a fuzz target: {missing:?}; add a line to fuzz/targets.txt and run fuzz/gen-targets.sh"
    );
    for (format, names) in &by_format {
        assert!(
            registered.contains(format),
            "fuzz target(s) {names:?} name {format:?}, which is not a registered format"
        );
        assert_eq!(names.len(), 1, "{format} has several targets: {names:?}");
    }
}

#[test]
fn every_fuzz_target_is_generated_and_seeded() {
    let fixtures = repo().join("crates/assay-unpack/tests/fixtures");
    let cargo = std::fs::read_to_string(repo().join("fuzz/Cargo.toml")).expect("fuzz/Cargo.toml");
    for t in targets() {
        let source = repo().join(format!("fuzz/fuzz_targets/{}.rs", t.name));
        assert!(
            source.is_file(),
            "{}: run fuzz/gen-targets.sh",
            source.display()
        );
        assert!(
            cargo.contains(&format!("name = \"{}\"", t.name)),
            "fuzz/Cargo.toml has no [[bin]] {}: run fuzz/gen-targets.sh",
            t.name
        );
        assert!(!t.seeds.is_empty(), "{} has no seed fixtures", t.name);
        for glob in &t.seeds {
            let (dir, pattern) = glob.rsplit_once('/').unwrap_or(("", glob));
            let seeded = std::fs::read_dir(fixtures.join(dir))
                .map(|entries| {
                    entries.flatten().any(|e| {
                        matches(pattern, &e.file_name().to_string_lossy()) && e.path().is_file()
                    })
                })
                .unwrap_or(false);
            assert!(
                seeded,
                "{}: seed {glob} matches no committed fixture",
                t.name
            );
        }
    }
}

#[test]
fn glob_patterns_match_like_the_shell() {
    assert!(matches("sq-*.sqfs", "sq-xz.sqfs"));
    assert!(matches("uimage.swap*", "uimage.swap16"));
    assert!(matches("board.dtb", "board.dtb"));
    assert!(!matches("board.dtb", "board.dtbx"));
    assert!(!matches("*.tar", "a.tar.gz"));
    assert!(matches("*.tar.gz", "hostile-many.tar.gz"));
    assert!(matches("boot_*.img", "boot_v2.img"));
}
