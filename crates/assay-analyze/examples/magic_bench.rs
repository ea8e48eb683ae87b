//! Time the magic-comparison scan alone over the ELF files under a directory (an unpacked
//! image from `assay unpack`), and print what it reports.
//!
//! `cargo run --release -p assay-analyze --example magic_bench -- DIR`

use std::time::Instant;

fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if m.is_dir() {
            walk(&p, out);
        } else if m.is_file() {
            out.push(p);
        }
    }
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: magic_bench DIR");
    let mut files = Vec::new();
    walk(std::path::Path::new(&dir), &mut files);
    files.sort();
    let start = Instant::now();
    let (mut elves, mut literals) = (0, 0);
    for f in &files {
        let Ok(bytes) = std::fs::read(f) else {
            continue;
        };
        if !bytes.starts_with(b"\x7fELF") {
            continue;
        }
        elves += 1;
        let lits = assay_analyze::detectors::magic_compare::compared_literals(&bytes);
        literals += lits.len();
    }
    println!(
        "{dir}: {elves} ELF files, {literals} compared literals, {:.2}s (one thread)",
        start.elapsed().as_secs_f64()
    );
}
