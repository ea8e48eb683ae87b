//! Query figures over a large catalogue (run by `bench/fleet.py`): synthesise N signed reports
//! by varying the real reports a store holds (other image hashes, releases, component
//! versions, key fingerprints), import them through the store's import path (signature
//! check, facts indexed), then time the cross-image questions in-process.
//!
//! ```text
//! cargo run --release -p assay-store --example fleet_queries -- --db URL [--reports 10000]
//! ```
//!
//! The real reports come from the store at `--db` (scanned by `assay worker` first); the
//! synthetic ones are added to the same store.

use assay_model::Report;
use assay_store::{
    DatabaseLocation, DiskBlobs, FactKind, ImageFilter, ImageMeta, Store, StoreConfig,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn hex_sha256(text: &str) -> String {
    assay_model::hex(&Sha256::digest(text.as_bytes()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db: DatabaseLocation = arg("--db").ok_or("--db URL is required")?.parse()?;
    let n: usize = arg("--reports").map_or(Ok(10_000), |s| s.parse())?;
    let scratch = tempfile::tempdir()?;
    let lab = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let clock: assay_store::Clock = Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    });
    let store = Store::open(
        StoreConfig::new(
            db,
            Arc::new(DiskBlobs::new(scratch.path())?),
            ed25519_dalek::SigningKey::from_bytes(&[43; 32]),
            clock,
        )
        .with_lab_keys(vec![lab.verifying_key()]),
    )?;

    // The real reports.
    let mut seen = BTreeSet::new();
    let mut reals: Vec<Report> = Vec::new();
    for image in store.list_images(&ImageFilter::default())? {
        if !seen.insert(image.sha256.clone()) {
            continue;
        }
        if let Some(id) = store.newest_report_id(&image.sha256)? {
            reals.push(store.report(id)?.report()?);
        }
    }
    if reals.is_empty() {
        return Err("the store holds no scanned report to vary".into());
    }
    let shared_key = reals
        .iter()
        .flat_map(|r| r.findings.iter())
        .find_map(|f| f.context.get("fingerprint").cloned());
    let component = reals
        .iter()
        .flat_map(|r| r.components.iter())
        .find(|c| c.name == "busybox")
        .or_else(|| reals.iter().flat_map(|r| r.components.iter()).next())
        .map(|c| c.name.clone());

    // N variants, imported as another lab's signed reports.
    let vendors = ["acme", "globex", "initech", "umbrella", "hooli"];
    let started = Instant::now();
    for i in 0..n {
        let mut r = reals[i % reals.len()].clone();
        r.image.sha256 = hex_sha256(&format!("synthetic image {i}"));
        let vendor = vendors[i % vendors.len()];
        let model = format!("m{}", i % 50);
        let version = format!("1.{}.{}", i / 250, i % 250);
        r.image.name = format!("{vendor}-{model}-{version}.bin");
        for c in &mut r.components {
            if Some(&c.name) == component.as_ref() {
                c.version = format!("1.{}.{}", 20 + i % 20, i % 3);
            }
        }
        for f in &mut r.findings {
            // One image in a hundred keeps the real key (shared by many devices); the others
            // get keys of their own.
            if let Some(fp) = f.context.get_mut("fingerprint") {
                if i % 100 != 0 {
                    *fp = format!("SHA256:{}", &hex_sha256(&format!("{fp} {i}"))[..43]);
                }
            }
        }
        let payload = assay_report::json::to_json(&r);
        let envelope = assay_report::dsse::sign(payload.as_bytes(), &lab);
        store.import_report_as(
            &envelope.to_json(),
            &ImageMeta {
                name: r.image.name.clone(),
                vendor: vendor.into(),
                model,
                version,
                released: None,
            },
        )?;
    }
    let import_secs = started.elapsed().as_secs_f64();
    let total = store.report_count()?;
    println!(
        "imported {n} synthetic reports in {import_secs:.1} s ({:.0} reports/s); {total} reports stored",
        n as f64 / import_secs.max(1e-9)
    );
    // What the database's own maintenance does shortly after a bulk load.
    let started = Instant::now();
    store.optimize()?;
    println!(
        "statistics refreshed in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let time = |label: &str, f: &dyn Fn() -> usize| {
        let mut ms = Vec::new();
        let mut hits = 0;
        for _ in 0..25 {
            let t = Instant::now();
            hits = f();
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        ms.sort_by(|a, b| a.total_cmp(b));
        println!(
            "{label}: median {:.2} ms, max {:.2} ms over 25 runs, {hits} hits",
            ms[ms.len() / 2],
            ms[ms.len() - 1]
        );
    };
    if let Some(fp) = &shared_key {
        time(&format!("images sharing key {fp}"), &|| {
            store
                .images_with(FactKind::Key, fp, 10_000)
                .map_or(0, |h| h.len())
        });
    }
    if let Some(name) = &component {
        time(&format!("{name} below 1.36"), &|| {
            store
                .components_below(name, "1.36", 100_000)
                .map_or(0, |h| h.len())
        });
    }
    time("keys shared by 2+ images (top 100)", &|| {
        store
            .shared_facts(FactKind::Key, 2, 100)
            .map_or(0, |h| h.len())
    });
    Ok(())
}
