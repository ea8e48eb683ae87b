//! The REST API under `/api/`: the same operations and answers as the pages, as JSON.
//! Callers authenticate with `Authorization: Bearer assay_<id>_<secret>` (or a session
//! cookie plus `X-CSRF-Token` for calls that change something). Errors are
//! `{"error": "…"}` with the status. Documented by `openapi.json`, served at
//! `/api/openapi.json`.

use crate::actions::{self, ImagesQuery, NewToken, NewUser};
use crate::auth::{Caller, CSRF_HEADER};
use crate::pages::{attachment, DiffQuery};
use crate::questions::{self, BelowQuery, FindQuery, ReleaseQuery, SearchQuery, SharedQuery};
use crate::upload::{self, RegisterForm};
use crate::{App, Failure};
use assay_store::Role;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Every API route but the upload, as (method, path) for the documentation test.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/openapi.json"),
    ("get", "/api/whoami"),
    ("get", "/api/images"),
    ("post", "/api/images"),
    ("get", "/api/images/{id}"),
    ("delete", "/api/images/{id}"),
    ("post", "/api/images/{id}/scan"),
    ("post", "/api/images/{id}/approve"),
    ("get", "/api/images/{id}/blob"),
    ("post", "/api/register"),
    ("get", "/api/catalogue"),
    ("get", "/api/reports/{id}"),
    ("get", "/api/reports/{id}/envelope"),
    ("get", "/api/diff"),
    ("get", "/api/find"),
    ("get", "/api/below"),
    ("get", "/api/shared"),
    ("get", "/api/timeline"),
    ("get", "/api/since-approved"),
    ("get", "/api/search"),
    ("get", "/api/jobs"),
    ("get", "/api/users"),
    ("post", "/api/users"),
    ("post", "/api/tokens"),
    ("delete", "/api/tokens/{id}"),
    ("get", "/api/audit"),
];

/// Every API route but the upload.
pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/whoami", get(whoami))
        .route("/api/images", get(images))
        .route("/api/images/{id}", get(image).delete(delete_image))
        .route("/api/images/{id}/scan", post(queue_scan))
        .route("/api/images/{id}/approve", post(approve))
        .route("/api/images/{id}/blob", get(blob))
        .route("/api/register", post(register))
        .route("/api/catalogue", get(catalogue))
        .route("/api/reports/{id}", get(report))
        .route("/api/reports/{id}/envelope", get(envelope))
        .route("/api/diff", get(diff))
        .route("/api/find", get(find))
        .route("/api/below", get(below))
        .route("/api/shared", get(shared))
        .route("/api/timeline", get(timeline))
        .route("/api/since-approved", get(since_approved))
        .route("/api/search", get(search))
        .route("/api/jobs", get(jobs))
        .route("/api/users", get(users).post(create_user))
        .route("/api/tokens", post(issue_token))
        .route("/api/tokens/{id}", delete(revoke_token))
        .route("/api/audit", get(audit))
}

/// The upload route (its own body limit).
pub fn upload_routes() -> Router<App> {
    Router::new().route("/api/images", post(upload))
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: &self.message,
            }),
        )
            .into_response()
    }
}

type ApiResult<T> = Result<Json<T>, Failure>;

fn csrf(headers: &HeaderMap) -> Option<&str> {
    headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok())
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

#[derive(Serialize)]
struct WhoAmI {
    user: Option<assay_store::UserRecord>,
    public_read: bool,
    store_key: String,
}

async fn whoami(State(app): State<App>, caller: Caller) -> ApiResult<WhoAmI> {
    Ok(Json(WhoAmI {
        user: caller.user.clone(),
        public_read: caller.public_read,
        store_key: app.store().key_id(),
    }))
}

async fn images(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<ImagesQuery>,
) -> ApiResult<actions::ImagesPage> {
    caller.can_read()?;
    Ok(Json(app.blocking(move |s| actions::images(s, &q)).await?))
}

async fn upload(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    multipart: Multipart,
) -> ApiResult<upload::Added> {
    caller.require(Role::Analyst)?;
    let mut received = upload::receive(
        multipart,
        &app.settings().upload_dir,
        app.settings().max_upload,
    )
    .await?;
    if let Some(token) = csrf(&headers) {
        received.fields.insert("csrf".into(), token.to_string());
    }
    Ok(Json(upload::store_upload(&app, &caller, received).await?))
}

async fn image(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<actions::ImageDetail> {
    caller.can_read()?;
    Ok(Json(
        app.blocking(move |s| actions::image_detail(s, id)).await?,
    ))
}

async fn delete_image(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> ApiResult<assay_store::DeletedImage> {
    let user = caller.require_change(Role::Admin, csrf(&headers))?.clone();
    Ok(Json(
        app.blocking(move |s| actions::delete(s, &user, id)).await?,
    ))
}

async fn queue_scan(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> ApiResult<assay_store::QueuedScan> {
    let user = caller
        .require_change(Role::Analyst, csrf(&headers))?
        .clone();
    Ok(Json(
        app.blocking(move |s| actions::queue_scan(s, &user, id))
            .await?,
    ))
}

/// `{"note": "…"}`.
#[derive(Deserialize, Default)]
struct ApproveBody {
    #[serde(default)]
    note: String,
}

async fn approve(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Option<Json<ApproveBody>>,
) -> ApiResult<assay_store::Approval> {
    let user = caller
        .require_change(Role::Analyst, csrf(&headers))?
        .clone();
    let note = body.map(|b| b.0.note).unwrap_or_default();
    Ok(Json(
        app.blocking(move |s| actions::approve(s, &user, id, &note))
            .await?,
    ))
}

async fn blob(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, Failure> {
    caller.can_read()?;
    let scratch = actions::scratch(app.settings());
    let c = caller.clone();
    let (image, file) = app
        .blocking(move |s| actions::blob(s, &c, id, &scratch))
        .await?;
    Ok(attachment(
        file,
        &image.meta.name,
        "application/octet-stream",
    ))
}

async fn register(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    Json(form): Json<RegisterForm>,
) -> ApiResult<upload::Registered> {
    let user = caller
        .require_change(Role::Analyst, csrf(&headers))?
        .clone();
    let settings = app.settings().clone();
    Ok(Json(
        app.blocking(move |s| upload::register(s, &settings, &user.name, &form))
            .await?,
    ))
}

async fn catalogue(
    State(app): State<App>,
    caller: Caller,
) -> ApiResult<Vec<assay_store::ModelCount>> {
    caller.can_read()?;
    Ok(Json(app.blocking(|s| Ok(s.catalogue()?)).await?))
}

async fn report(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, Failure> {
    caller.can_read()?;
    let c = caller.clone();
    let json = app
        .blocking(move |s| actions::report_json(s, &c, id))
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}

async fn envelope(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, Failure> {
    caller.can_read()?;
    let c = caller.clone();
    let json = app.blocking(move |s| actions::envelope(s, &c, id)).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}

async fn diff(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<DiffQuery>,
) -> ApiResult<actions::Comparison> {
    caller.can_read()?;
    let (old, new) = q
        .ids()?
        .ok_or_else(|| Failure::bad_request("give old and new image ids"))?;
    Ok(Json(
        app.blocking(move |s| actions::compare(s, old, new)).await?,
    ))
}

async fn find(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<FindQuery>,
) -> ApiResult<questions::FindAnswer> {
    caller.can_read()?;
    Ok(Json(app.blocking(move |s| questions::find(s, &q)).await?))
}

async fn below(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<BelowQuery>,
) -> ApiResult<questions::BelowAnswer> {
    caller.can_read()?;
    Ok(Json(app.blocking(move |s| questions::below(s, &q)).await?))
}

async fn shared(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<SharedQuery>,
) -> ApiResult<questions::SharedAnswer> {
    caller.can_read()?;
    Ok(Json(app.blocking(move |s| questions::shared(s, &q)).await?))
}

async fn timeline(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<ReleaseQuery>,
) -> ApiResult<Vec<assay_store::TimelineEntry>> {
    caller.can_read()?;
    Ok(Json(
        app.blocking(move |s| questions::timeline(s, &q)).await?,
    ))
}

async fn since_approved(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<ReleaseQuery>,
) -> ApiResult<assay_store::NewSinceApproved> {
    caller.can_read()?;
    Ok(Json(
        app.blocking(move |s| questions::since_approved(s, &q))
            .await?,
    ))
}

async fn search(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<SearchQuery>,
) -> ApiResult<questions::SearchAnswer> {
    caller.can_read()?;
    Ok(Json(app.blocking(move |s| questions::search(s, &q)).await?))
}

#[derive(Serialize)]
struct JobsAnswer {
    counts: assay_store::QueueCounts,
    jobs: Vec<assay_store::Job>,
}

async fn jobs(State(app): State<App>, caller: Caller) -> ApiResult<JobsAnswer> {
    caller.can_read()?;
    Ok(Json(
        app.blocking(|s| {
            Ok(JobsAnswer {
                counts: s.queue_counts()?,
                jobs: s.recent_jobs(200)?,
            })
        })
        .await?,
    ))
}

async fn users(State(app): State<App>, caller: Caller) -> ApiResult<Vec<assay_store::UserRecord>> {
    caller.require(Role::Admin)?;
    Ok(Json(app.blocking(|s| Ok(s.users()?)).await?))
}

async fn create_user(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    Json(new): Json<NewUser>,
) -> ApiResult<assay_store::UserRecord> {
    let admin = caller.require_change(Role::Admin, csrf(&headers))?.clone();
    Ok(Json(
        app.blocking(move |s| actions::create_user(s, &admin, &new))
            .await?,
    ))
}

async fn issue_token(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    Json(new): Json<NewToken>,
) -> ApiResult<actions::IssuedToken> {
    let admin = caller.require_change(Role::Admin, csrf(&headers))?.clone();
    Ok(Json(
        app.blocking(move |s| actions::issue_token(s, &admin, &new))
            .await?,
    ))
}

#[derive(Serialize)]
struct Revoked {
    revoked: i64,
}

async fn revoke_token(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> ApiResult<Revoked> {
    let admin = caller.require_change(Role::Admin, csrf(&headers))?.clone();
    app.blocking(move |s| actions::revoke_token(s, &admin, id))
        .await?;
    Ok(Json(Revoked { revoked: id }))
}

#[derive(Deserialize)]
struct AuditQuery {
    before: Option<i64>,
    limit: Option<i64>,
}

async fn audit(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Vec<assay_store::AuditEntry>> {
    caller.require(Role::Admin)?;
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    Ok(Json(
        app.blocking(move |s| Ok(s.audit_log(q.before, limit)?))
            .await?,
    ))
}
