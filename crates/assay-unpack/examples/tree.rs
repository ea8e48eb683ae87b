//! Development aid: unpack an image, print its container outline and warnings, and, given a
//! corpus truth file, the share of the truth's regular files recovered (by SHA-256).
//!
//! `cargo run -p assay-unpack --example tree -- IMAGE [TRUTH.json] [--all]`

use assay_model::NodeKind;
use assay_unpack::{UnpackOptions, Unpacker};
use std::collections::HashSet;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let all = args.iter().any(|a| a == "--all");
    let args: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let Some(image) = args.first() else {
        eprintln!("usage: tree IMAGE [TRUTH.json] [--all]");
        std::process::exit(2);
    };
    let t = std::time::Instant::now();
    let r = Unpacker::new()
        .unpack_file(std::path::Path::new(image), &UnpackOptions::default())
        .expect("read image");
    let secs = t.elapsed().as_secs_f64();
    for n in &r.nodes {
        let show = all
            || !matches!(
                n.kind,
                NodeKind::File | NodeKind::Directory | NodeKind::Symlink | NodeKind::Device
            );
        if show {
            println!(
                "{:>5} {:?} {} size={} off={:?} {}",
                n.id,
                n.kind,
                n.location,
                n.size,
                n.offset,
                n.details
                    .get("description")
                    .map(String::as_str)
                    .unwrap_or("")
            );
        }
    }
    for w in &r.warnings {
        println!("WARNING [{}] {}: {}", w.kind, w.location, w.message);
    }
    let files = r.nodes.iter().filter(|n| n.kind == NodeKind::File).count();
    println!("{} nodes, {files} files, {:.3} s", r.nodes.len(), secs);
    if let Some(truth) = args.get(1) {
        let text = std::fs::read_to_string(truth).expect("read truth");
        let have: HashSet<&str> = r.nodes.iter().filter_map(|n| n.sha256.as_deref()).collect();
        // Tiny JSON scan without a JSON dependency: every "sha256" of a "type": "file" entry.
        let mut want = Vec::new();
        for entry in text.split("\"fs\":").skip(1) {
            if entry.contains("\"type\": \"file\"") || entry.contains("\"type\":\"file\"") {
                if let Some(i) = entry.find("\"sha256\":") {
                    let rest = &entry[i + 9..];
                    let q1 = rest.find('"').unwrap() + 1;
                    let q2 = q1 + rest[q1..].find('"').unwrap();
                    let path = entry
                        .find("\"path\":")
                        .map(|p| {
                            let s = &entry[p + 7..];
                            let a = s.find('"').unwrap() + 1;
                            let b = a + s[a..].find('"').unwrap();
                            s[a..b].to_string()
                        })
                        .unwrap_or_default();
                    want.push((rest[q1..q2].to_string(), path));
                }
            }
        }
        let found = want
            .iter()
            .filter(|(h, _)| have.contains(h.as_str()))
            .count();
        println!("truth files recovered: {found}/{}", want.len());
        for (h, p) in want
            .iter()
            .filter(|(h, _)| !have.contains(h.as_str()))
            .take(20)
        {
            println!("  missing {p} {h}");
        }
    }
}
