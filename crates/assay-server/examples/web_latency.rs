//! Page and API latency over a large catalogue (run by `bench/fleet.py` after
//! `assay-store`'s `fleet_queries` example has filled the store with 10,000 reports): every
//! request goes through the whole server in-process — routing, bearer-token check, the
//! store's queries, template rendering or JSON — and the median and worst of 25 runs are
//! printed.
//!
//! ```text
//! cargo run --release -p assay-server --example web_latency -- --db URL
//! ```

use assay_server::{App, Settings};
use assay_store::{DatabaseLocation, DiskBlobs, FactKind, ImageFilter, Role, Store, StoreConfig};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Instant;
use tower::ServiceExt;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db: DatabaseLocation = arg("--db").ok_or("--db URL is required")?.parse()?;
    let scratch = tempfile::tempdir()?;
    let clock: assay_store::Clock = Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    });
    let store = Store::open(StoreConfig::new(
        db,
        Arc::new(DiskBlobs::new(scratch.path().join("blobs"))?),
        ed25519_dalek::SigningKey::from_bytes(&[43; 32]),
        clock,
    ))?;
    let reports = store.report_count()?;
    let images = store.count_images(&ImageFilter::default())?;
    let user = match store.user_for_login("bench")? {
        Some((u, _)) => u,
        None => store.create_user(
            "bench",
            Role::Admin,
            &assay_server::auth::hash_secret("bench password 1")?,
        )?,
    };
    let (token, _) = assay_server::auth::issue_api_token(&store, user.id, "bench")?;
    let app = App::new(store.clone(), Settings::new(scratch.path().join("uploads")))?;
    let router = app.router();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    // Values to ask about, from the store itself.
    let key = store
        .shared_facts(FactKind::Key, 2, 1)?
        .first()
        .map(|s| s.value.clone());
    let component = store
        .shared_facts(FactKind::Component, 2, 1)?
        .first()
        .map(|s| s.value.clone())
        .unwrap_or_else(|| "busybox".into());
    let model = store
        .catalogue()?
        .into_iter()
        .max_by_key(|m| m.images)
        .ok_or("the store is empty")?;
    let releases = store.list_images(&ImageFilter {
        vendor: Some(model.vendor.clone()),
        model: Some(model.model.clone()),
        ..ImageFilter::default()
    })?;
    // Approve a release near the end of the model's list: "new since approved" compares the
    // releases after it.
    let approved = releases
        .get(releases.len().saturating_sub(6))
        .ok_or("no release")?;
    store.approve(approved.id, "bench", "")?;
    let vm = format!(
        "vendor={}&model={}",
        encode(&model.vendor),
        encode(&model.model)
    );

    println!(
        "{images} images, {reports} reports; largest model {} {} ({} releases); in-process, median and max of 25 runs",
        model.vendor, model.model, model.images
    );
    let mut paths = vec![
        (
            "image list, first page (50)".to_string(),
            "/images".to_string(),
        ),
        ("image list, page 100".into(), "/images?page=100".into()),
        (
            "image list API, offset 5000".into(),
            "/api/images?limit=50&offset=5000".into(),
        ),
        ("image list of one model".into(), format!("/images?{vm}")),
        (
            "image list, name filter".into(),
            "/api/images?q=m7-1.1".into(),
        ),
        ("catalogue API".into(), "/api/catalogue".into()),
    ];
    if let Some(key) = &key {
        paths.push((
            "images sharing a key (page)".into(),
            format!("/questions/find?kind=key&value={}", encode(key)),
        ));
        paths.push((
            "images sharing a key (API)".into(),
            format!("/api/find?kind=key&value={}", encode(key)),
        ));
    }
    paths.extend([
        (
            format!("{component} below 1.36 (API, first 200)"),
            format!("/api/below?component={}&version=1.36", encode(&component)),
        ),
        (
            format!("{component} below 1.36 (page, first 200)"),
            format!(
                "/questions/below?component={}&version=1.36",
                encode(&component)
            ),
        ),
        (
            format!("images with {component} (API, first 200)"),
            format!("/api/find?kind=component&value={}", encode(&component)),
        ),
        (
            "keys shared by 2+ images (page)".into(),
            "/questions/shared?kind=key".into(),
        ),
        (
            "endpoints shared by 2+ images (API)".into(),
            "/api/shared?kind=endpoint".into(),
        ),
        (
            "search (names and every fact kind)".into(),
            format!("/search?q={}", encode(&component)),
        ),
        (
            "new since approved (5 releases, API)".into(),
            format!("/api/since-approved?{vm}"),
        ),
        ("jobs page".into(), "/jobs".into()),
    ]);
    paths.extend([
        (
            "timeline of the model, first 20 releases (page)".to_string(),
            format!("/questions/timeline?{vm}"),
        ),
        (
            "timeline of the model, releases 100-119 (API)".to_string(),
            format!("/api/timeline?{vm}&offset=100"),
        ),
    ]);
    let whole = (
        format!("timeline of the model, all {} releases (API)", model.images),
        format!("/api/timeline?{vm}&limit=200"),
    );
    for (label, path) in paths.iter().chain(std::iter::once(&whole)) {
        let runs = if path.contains("limit=200") { 5 } else { 25 };
        let mut ms = Vec::new();
        let mut bytes = 0;
        for _ in 0..=runs {
            let request = Request::get(path.as_str())
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())?;
            let t = Instant::now();
            let (status, body) = rt.block_on(async {
                let response = router.clone().oneshot(request).await.expect("infallible");
                let status = response.status();
                (
                    status,
                    response.into_body().collect().await.map(|b| b.to_bytes()),
                )
            });
            let body = body?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            if status != StatusCode::OK {
                return Err(format!("{path}: {status}: {}", String::from_utf8_lossy(&body)).into());
            }
            bytes = body.len();
        }
        // The first run warms caches (the token's argon2 check, statements).
        ms.remove(0);
        ms.sort_by(|a, b| a.total_cmp(b));
        println!(
            "{label}: median {:.1} ms, max {:.1} ms ({} runs, {} KiB)",
            ms[ms.len() / 2],
            ms[ms.len() - 1],
            ms.len(),
            bytes / 1024
        );
    }
    Ok(())
}
