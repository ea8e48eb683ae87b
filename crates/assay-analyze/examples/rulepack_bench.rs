//! Time the YARA rule pack alone on unpacked images:
//! `cargo run --release -p assay-analyze --example rulepack_bench -- IMAGE...`

use assay_analyze::detectors::rulepack::RulePack;
use assay_analyze::Analysis;
use std::time::Instant;

fn main() {
    let started = Instant::now();
    let pack = RulePack::builtin().expect("built-in rules compile");
    println!(
        "compile {} rules: {:.1} ms",
        pack.rules().len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    for image in std::env::args().skip(1) {
        // A bare binary (not an image): scan its bytes directly.
        if let Ok(bytes) = std::fs::read(&image) {
            if bytes.starts_with(b"\x7fELF") {
                let t = Instant::now();
                let hits = pack.scan_bytes(&bytes);
                let ids: Vec<&str> = hits.iter().map(|(r, _)| r.rule.id.as_str()).collect();
                println!(
                    "{image}: ELF {:.1} MiB, rule pack {:.1} ms, matches {ids:?}",
                    bytes.len() as f64 / 1048576.0,
                    t.elapsed().as_secs_f64() * 1e3
                );
                continue;
            }
        }
        let unpacked = match assay_unpack::Unpacker::new()
            .unpack_file(std::path::Path::new(&image), &Default::default())
        {
            Ok(u) => u,
            Err(e) => {
                eprintln!("{image}: {e}");
                continue;
            }
        };
        let analysis = Analysis::new(&unpacked);
        let bytes: usize = analysis.files().map(|f| f.bytes.len()).sum();
        let t = Instant::now();
        let mut out = assay_analyze::FindingSink::new();
        pack.scan_analysis(&analysis, &mut out);
        println!(
            "{}: {} files, {:.1} MiB, rule pack {:.1} ms, {} findings",
            image.rsplit('/').next().unwrap_or(&image),
            analysis.files().count(),
            bytes as f64 / 1048576.0,
            t.elapsed().as_secs_f64() * 1e3,
            out.len()
        );
    }
}
