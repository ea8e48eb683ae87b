//! Development aid: time the engine's whole-image passes (hash, magic scan, entropy) on a file.
//! `cargo run --release -p assay-unpack --example phases -- IMAGE`
use std::time::Instant;
fn main() {
    let path = std::env::args().nth(1).expect("usage: phases IMAGE");
    let data = std::fs::read(&path).expect("read image");
    let t = Instant::now();
    let h = assay_unpack::sha256(&data);
    println!(
        "sha256   {:.3} s ({:02x}{:02x}…)",
        t.elapsed().as_secs_f64(),
        h[0],
        h[1]
    );
    let scanner = assay_unpack::scan::MagicScanner::new(&assay_unpack::formats::registry());
    let t = Instant::now();
    let c = scanner.candidates(&data);
    println!(
        "scan     {:.3} s, {} candidates",
        t.elapsed().as_secs_f64(),
        c.len()
    );
    let formats = assay_unpack::formats::registry();
    let mut per: std::collections::BTreeMap<&str, usize> = Default::default();
    for cand in &c {
        *per.entry(formats[cand.format].name()).or_default() += 1;
    }
    let mut per: Vec<_> = per.into_iter().collect();
    per.sort_by_key(|p| std::cmp::Reverse(p.1));
    println!("         by format: {per:?}");
    let t = Instant::now();
    let e = assay_unpack::scan::entropy(&data);
    println!("entropy  {:.3} s ({e:.3})", t.elapsed().as_secs_f64());
}
