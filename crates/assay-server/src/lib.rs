//! Assay's fleet web UI and REST API over an [`assay_store::Store`]: server-rendered pages
//! that work without JavaScript, and the same answers as JSON under `/api/`.
//!
//! # What is where
//!
//! - [`auth`]: users, passwords and API tokens hashed with argon2, session cookies with CSRF
//!   tokens, roles (viewer < analyst < admin) checked by every handler, the audit log.
//! - [`pages`]: the HTML pages (minijinja templates with auto-escaping: every string that
//!   comes from an image or a report is escaped).
//! - [`api`]: the JSON API, documented by `openapi.json` (served at `/api/openapi.json`; a
//!   test checks that every route is documented and every documented route exists).
//! - [`upload`]: multipart uploads streamed to a temporary file in the data directory, size
//!   limited, then stored by content.
//!
//! The store's calls block (its drivers are synchronous), so handlers run them on tokio's
//! blocking pool.
//!
//! # What it costs to build
//!
//! `axum` (HTTP/1 only, no default features) on `hyper`, and `tokio` (already in the tree
//! for the PostgreSQL client), `multer` for uploads, `argon2` for secrets, `minijinja`
//! (shared with the HTML report): 29 crates new to the tree. Their compile units took 145 s
//! in a cold build of `assay-server` on this project's shared 2-core machine (niced, other
//! builds running: wall time per unit from `cargo build --timings`), 50 s of it tokio rebuilt
//! with the features a server needs (signals, the multi-threaded runtime, `fs`) and 29 s
//! `tokio-macros`; the rest each under 15 s (`encoding_rs`, which `multer` needs, 15 s;
//! `axum` 13 s; `hyper` 8 s). Every response carries security headers: a CSP without inline scripts,
//! `nosniff`, `frame-ancestors 'none'`, no referrer.
//!
//! ```no_run
//! # fn store() -> assay_store::Store { unimplemented!() }
//! let app = assay_server::App::new(store(), assay_server::Settings::new("/var/lib/assay/uploads"))?;
//! let router = app.router();
//! # Ok::<(), assay_server::ServerError>(())
//! ```

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod actions;
pub mod api;
pub mod auth;
mod error;
pub mod pages;
pub mod questions;
pub mod upload;
mod views;

pub use error::{Failure, ServerError};

use assay_store::Store;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use std::path::PathBuf;
use std::sync::Arc;

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Let anyone read (images, reports, answers) without logging in. Writing always needs a
    /// login. Off unless asked for: the data is unreleased firmware and exploitable findings.
    pub public_read: bool,
    /// Mark cookies `Secure` (the server is reached over TLS, directly or behind a proxy).
    pub secure_cookies: bool,
    /// Largest image upload in bytes (and largest object registered from a bucket).
    pub max_upload: u64,
    /// Where uploads are written while they arrive (inside the data directory, so that
    /// storing them is a rename on the same file system).
    pub upload_dir: PathBuf,
    /// Folders analysts may register images from (`--import-root`); none: registering a
    /// folder is refused.
    pub import_roots: Vec<PathBuf>,
    /// Buckets analysts may register images from (`--import-bucket`; `s3://BUCKET/PREFIX` in
    /// the register form), with their endpoints and credentials.
    pub import_buckets: Vec<assay_store::S3Location>,
    /// How long a login lasts (ms).
    pub session_ms: i64,
}

impl Settings {
    /// Login required, cookies not `Secure`, uploads up to 1 GiB, 12-hour sessions, no
    /// import roots.
    pub fn new(upload_dir: impl Into<PathBuf>) -> Self {
        Settings {
            public_read: false,
            secure_cookies: false,
            max_upload: 1 << 30,
            upload_dir: upload_dir.into(),
            import_roots: Vec::new(),
            import_buckets: Vec::new(),
            session_ms: 12 * 3600 * 1000,
        }
    }
}

/// Largest request body other than an upload (forms, JSON).
const MAX_FORM_BODY: usize = 64 * 1024;

/// The server: a store, the settings and the page templates, shared by every request.
#[derive(Clone)]
pub struct App {
    inner: Arc<AppInner>,
}

struct AppInner {
    store: Store,
    settings: Settings,
    views: views::Views,
    tokens: auth::TokenCache,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("store", &self.inner.store)
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl App {
    /// A server over `store`.
    pub fn new(store: Store, settings: Settings) -> Result<Self, ServerError> {
        std::fs::create_dir_all(&settings.upload_dir).map_err(|e| {
            ServerError::Io(format!("creating {}: {e}", settings.upload_dir.display()))
        })?;
        Ok(App {
            inner: Arc::new(AppInner {
                store,
                settings,
                views: views::Views::new()?,
                tokens: auth::TokenCache::default(),
            }),
        })
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub(crate) fn views(&self) -> &views::Views {
        &self.inner.views
    }

    pub(crate) fn token_cache(&self) -> &auth::TokenCache {
        &self.inner.tokens
    }

    /// Run a blocking store call on the blocking pool.
    pub(crate) async fn blocking<T, F>(&self, f: F) -> Result<T, Failure>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, Failure> + Send + 'static,
    {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| Failure::internal(format!("a store call stopped: {e}")))?
    }

    /// Every route: pages, the API, and the headers and limits around them.
    pub fn router(&self) -> Router {
        let uploads = Router::new()
            .merge(pages::upload_routes())
            .merge(api::upload_routes())
            .layer(DefaultBodyLimit::max(
                usize::try_from(self.inner.settings.max_upload)
                    .unwrap_or(usize::MAX)
                    .saturating_add(MAX_FORM_BODY),
            ));
        Router::new()
            .merge(pages::routes())
            .merge(api::routes())
            .layer(DefaultBodyLimit::max(MAX_FORM_BODY))
            .merge(uploads)
            .layer(axum::middleware::from_fn(api_errors_as_json))
            .layer(axum::middleware::from_fn(security_headers))
            .with_state(self.clone())
    }
}

/// The CSP of every page but the stored HTML reports: no script at all, styles from the
/// server's own stylesheet, no framing, forms posting only to this server.
pub(crate) const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Longest plain-text error body rewritten as JSON (axum's extractor rejections are short).
const MAX_REJECTION_TEXT: usize = 4096;

/// Under `/api/`, the plain-text errors axum's extractors answer with (a malformed query,
/// JSON body or path) become `{"error": "…"}` like every other API error.
async fn api_errors_as_json(request: Request<axum::body::Body>, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !api
        || !plain
        || !(response.status().is_client_error() || response.status().is_server_error())
    {
        return response;
    }
    let status = response.status();
    let text = match axum::body::to_bytes(response.into_body(), MAX_REJECTION_TEXT).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => status.canonical_reason().unwrap_or("error").to_string(),
    };
    axum::response::IntoResponse::into_response(Failure {
        status,
        message: text,
    })
}

async fn security_headers(request: Request<axum::body::Body>, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        );
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Serve the app on `listener` until `shutdown` completes; requests in flight finish first.
pub async fn serve(
    app: &App,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app.router())
        .with_graceful_shutdown(shutdown)
        .await
}

/// The signals that stop a server or a worker cleanly: SIGTERM (systemd, `kill`) and SIGINT
/// (Ctrl-C), registered when this is made (inside a tokio runtime), so that none that arrives
/// afterwards takes the default action.
pub struct Termination {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Termination {
    /// Register the handlers (call within a tokio runtime).
    pub fn register() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Termination {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Completes at the first signal. A second signal while shutting down ends the process
    /// at once (exit 130).
    pub async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        tokio::spawn(async move {
            tokio::select! {
                _ = self.term.recv() => {}
                _ = self.int.recv() => {}
            }
            std::process::exit(130);
        });
    }
}

/// Cancel `token` at the first SIGTERM or SIGINT (for `assay worker`, whose loop is not
/// async): the handlers are registered before this returns, and a thread with a small
/// runtime waits for the signal.
pub fn cancel_on_termination(token: assay_engine::CancelToken) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let signals = {
        let _context = runtime.enter();
        Termination::register()?
    };
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            runtime.block_on(async {
                signals.wait().await;
                token.cancel();
                std::future::pending::<()>().await;
            });
        })?;
    Ok(())
}
