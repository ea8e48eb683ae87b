//! The HTML pages: plain forms and links, no script. Reads need a login (or
//! `--public-read`); every form that changes something posts the session's CSRF token.

use crate::actions::{self, ImagesQuery, NewToken, NewUser, UserChange};
use crate::auth::{self, Caller, Credential, LOGIN_COOKIE, SESSION_COOKIE};
use crate::questions::{self, BelowQuery, FindQuery, ReleaseQuery, SearchQuery, SharedQuery};
use crate::upload::{self, RegisterForm};
use crate::{App, Failure};
use assay_store::Role;
use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::{context, Value};
use serde::Deserialize;

/// Every page route but the upload.
pub fn routes() -> Router<App> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/images") }))
        .route("/static/fleet.css", get(stylesheet))
        .route("/store.pub", get(public_key))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/images", get(images))
        .route("/images/{id}", get(image))
        .route("/images/{id}/blob", get(blob))
        .route("/images/{id}/scan", post(queue_scan))
        .route("/images/{id}/approve", post(approve))
        .route("/images/{id}/delete", post(delete))
        .route("/upload", get(upload_form))
        .route("/register", post(register))
        .route("/reports/{id}", get(report_html))
        .route("/reports/{id}/json", get(report_json))
        .route("/reports/{id}/envelope", get(report_envelope))
        .route("/diff", get(diff))
        .route("/questions", get(questions_index))
        .route("/questions/find", get(find))
        .route("/questions/below", get(below))
        .route("/questions/shared", get(shared))
        .route("/questions/timeline", get(timeline))
        .route("/questions/since-approved", get(since_approved))
        .route("/search", get(search))
        .route("/jobs", get(jobs))
        .route("/admin/users", get(users).post(create_user))
        .route("/admin/users/{id}", post(change_user))
        .route("/admin/tokens", post(issue_token))
        .route("/admin/tokens/{id}/revoke", post(revoke_token))
        .route("/admin/audit", get(audit))
}

/// The upload route (its own body limit).
pub fn upload_routes() -> Router<App> {
    Router::new().route("/upload", post(upload))
}

/// A page or the error page (a login redirect when nobody is logged in).
fn respond(app: &App, caller: &Caller, result: Result<Response, Failure>) -> Response {
    match result {
        Ok(r) => r,
        Err(f) if f.status == StatusCode::UNAUTHORIZED => Redirect::to("/login").into_response(),
        Err(f) => error_page(app, caller, &f),
    }
}

fn error_page(app: &App, caller: &Caller, f: &Failure) -> Response {
    let body = app
        .views()
        .render(
            "error.html",
            context! { user => caller.user, csrf => caller.csrf(),
            status => f.status.as_u16().to_string(), message => f.message },
        )
        .map(IntoResponse::into_response)
        .unwrap_or_else(|_| f.message.clone().into_response());
    (f.status, body).into_response()
}

/// Render a template with the caller's name and CSRF token added.
fn page(app: &App, caller: &Caller, name: &str, values: Value) -> Result<Response, Failure> {
    let ctx = context! { user => caller.user, csrf => caller.csrf(), ..values };
    Ok(app.views().render(name, ctx)?.into_response())
}

/// After a form post: back to a page (303, so a reload does not post again).
fn see_other(to: &str) -> Result<Response, Failure> {
    Ok(Redirect::to(to).into_response())
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        crate::views::STYLESHEET,
    )
        .into_response()
}

async fn public_key(State(app): State<App>, caller: Caller) -> Response {
    let r = caller.can_read().map(|()| {
        (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"store.pub\"",
                ),
            ],
            assay_report::dsse::verifying_key_to_text(&app.store().public_key()),
        )
            .into_response()
    });
    respond(&app, &caller, r)
}

async fn login_form(State(app): State<App>, caller: Caller) -> Response {
    login_page(&app, &caller, None, StatusCode::OK)
}

fn login_page(app: &App, caller: &Caller, error: Option<&str>, status: StatusCode) -> Response {
    let r = (|| {
        let token = auth::random_token(24)?;
        let body = page(
            app,
            caller,
            "login.html",
            context! { login_csrf => token, error => error },
        )?;
        let mut response = (status, body).into_response();
        set_cookie(
            &mut response,
            &auth::set_cookie(LOGIN_COOKIE, &token, 3600, app.settings().secure_cookies),
        );
        Ok(response)
    })();
    respond(app, caller, r)
}

fn set_cookie(response: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

async fn login(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let expected = auth::cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !auth::same_secret(expected, &form.csrf) {
        return login_page(
            &app,
            &caller,
            Some("The login form expired; try again."),
            StatusCode::FORBIDDEN,
        );
    }
    let app2 = app.clone();
    let result = app
        .blocking(move |_| auth::login(&app2, &form.name, &form.password))
        .await;
    match result {
        Ok((value, _user)) => {
            let secure = app.settings().secure_cookies;
            let max_age = app.settings().session_ms / 1000;
            let mut response = Redirect::to("/images").into_response();
            set_cookie(
                &mut response,
                &auth::set_cookie(SESSION_COOKIE, &value, max_age, secure),
            );
            set_cookie(
                &mut response,
                &auth::set_cookie(LOGIN_COOKIE, "", 0, secure),
            );
            response
        }
        Err(f)
            if matches!(
                f.status,
                StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
            ) =>
        {
            login_page(&app, &caller, Some(&f.message), f.status)
        }
        Err(f) => error_page(&app, &caller, &f),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: Option<String>,
}

async fn logout(State(app): State<App>, caller: Caller, Form(form): Form<CsrfForm>) -> Response {
    let r = async {
        let user = caller
            .require_change(Role::Viewer, form.csrf.as_deref())?
            .clone();
        if let Credential::Session { token_hash, .. } = caller.credential.clone() {
            app.blocking(move |store| {
                store.delete_session(&token_hash)?;
                store.audit(&user.name, "logout", &format!("user {}", user.name), "")?;
                Ok(())
            })
            .await?;
        }
        let mut response = Redirect::to("/login").into_response();
        set_cookie(
            &mut response,
            &auth::set_cookie(SESSION_COOKIE, "", 0, app.settings().secure_cookies),
        );
        Ok(response)
    }
    .await;
    respond(&app, &caller, r)
}

/// `?page=N` as the UI pages (1-based).
#[derive(Debug, Default, Deserialize)]
struct ImagesPageQuery {
    vendor: Option<String>,
    model: Option<String>,
    q: Option<String>,
    page: Option<i64>,
}

fn images_link(q: &ImagesPageQuery, page: i64) -> String {
    let mut parts = Vec::new();
    for (k, v) in [("vendor", &q.vendor), ("model", &q.model), ("q", &q.q)] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            parts.push(format!("{k}={}", url_encode(v)));
        }
    }
    parts.push(format!("page={page}"));
    format!("/images?{}", parts.join("&"))
}

/// Percent-encoding of a query value (everything but unreserved characters).
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn images(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<ImagesPageQuery>,
) -> Response {
    let r = async {
        caller.can_read()?;
        let page_no = q.page.unwrap_or(1).clamp(1, 1_000_000);
        let query = ImagesQuery {
            vendor: q.vendor.clone().filter(|v| !v.is_empty()),
            model: q.model.clone().filter(|v| !v.is_empty()),
            q: q.q.clone(),
            offset: Some((page_no - 1) * actions::DEFAULT_PAGE),
            limit: Some(actions::DEFAULT_PAGE),
        };
        let (listing, catalogue) = app
            .blocking(move |store| Ok((actions::images(store, &query)?, store.catalogue()?)))
            .await?;
        let shown = i64::try_from(listing.images.len()).unwrap_or(0);
        let prev = (page_no > 1).then(|| images_link(&q, page_no - 1));
        let next = (listing.offset + shown < listing.total).then(|| images_link(&q, page_no + 1));
        page(
            &app,
            &caller,
            "images.html",
            context! {
                images => listing.images, total => listing.total,
                first => listing.offset + 1, last => listing.offset + shown,
                catalogue => catalogue, prev_page => prev, next_page => next,
                filter => context! { vendor => q.vendor, model => q.model, q => q.q },
            },
        )
    }
    .await;
    respond(&app, &caller, r)
}

async fn image(State(app): State<App>, caller: Caller, Path(id): Path<i64>) -> Response {
    let r = async {
        caller.can_read()?;
        let detail = app
            .blocking(move |store| actions::image_detail(store, id))
            .await?;
        page(
            &app,
            &caller,
            "image.html",
            context! { image => detail.image, reports => detail.reports,
            job => detail.job, others => detail.others },
        )
    }
    .await;
    respond(&app, &caller, r)
}

/// Stream a file as an attachment.
pub(crate) fn attachment(file: std::fs::File, name: &str, content_type: &str) -> Response {
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{safe}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

async fn blob(State(app): State<App>, caller: Caller, Path(id): Path<i64>) -> Response {
    let r = async {
        caller.can_read()?;
        let scratch = actions::scratch(app.settings());
        let c = caller.clone();
        let (image, file) = app
            .blocking(move |store| actions::blob(store, &c, id, &scratch))
            .await?;
        Ok(attachment(
            file,
            &image.meta.name,
            "application/octet-stream",
        ))
    }
    .await;
    respond(&app, &caller, r)
}

async fn queue_scan(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let r = async {
        let user = caller
            .require_change(Role::Analyst, form.csrf.as_deref())?
            .clone();
        app.blocking(move |store| actions::queue_scan(store, &user, id))
            .await?;
        see_other(&format!("/images/{id}"))
    }
    .await;
    respond(&app, &caller, r)
}

#[derive(Deserialize)]
struct ApproveForm {
    #[serde(default)]
    note: String,
    #[serde(default)]
    csrf: Option<String>,
}

async fn approve(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<i64>,
    Form(form): Form<ApproveForm>,
) -> Response {
    let r = async {
        let user = caller
            .require_change(Role::Analyst, form.csrf.as_deref())?
            .clone();
        app.blocking(move |store| actions::approve(store, &user, id, &form.note))
            .await?;
        see_other(&format!("/images/{id}"))
    }
    .await;
    respond(&app, &caller, r)
}

#[derive(Deserialize)]
struct DeleteForm {
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    csrf: Option<String>,
}

async fn delete(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<i64>,
    Form(form): Form<DeleteForm>,
) -> Response {
    let r = async {
        let user = caller
            .require_change(Role::Admin, form.csrf.as_deref())?
            .clone();
        if form.confirm != "yes" {
            return Err(Failure::bad_request("tick the box to confirm the deletion"));
        }
        app.blocking(move |store| actions::delete(store, &user, id))
            .await?;
        see_other("/images")
    }
    .await;
    respond(&app, &caller, r)
}

async fn upload_form(State(app): State<App>, caller: Caller) -> Response {
    let r = (|| {
        caller.require(Role::Analyst)?;
        let roots: Vec<String> = app
            .settings()
            .import_roots
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let buckets: Vec<String> = app
            .settings()
            .import_buckets
            .iter()
            .map(|b| format!("s3://{}", b.bucket))
            .collect();
        page(
            &app,
            &caller,
            "upload.html",
            context! { max_upload => app.settings().max_upload, import_roots => roots,
            import_buckets => buckets },
        )
    })();
    respond(&app, &caller, r)
}

async fn upload(State(app): State<App>, caller: Caller, multipart: Multipart) -> Response {
    let r = async {
        caller.require(Role::Analyst)?;
        let received = upload::receive(
            multipart,
            &app.settings().upload_dir,
            app.settings().max_upload,
        )
        .await?;
        let added = upload::store_upload(&app, &caller, received).await?;
        see_other(&format!("/images/{}", added.image.image.id))
    }
    .await;
    respond(&app, &caller, r)
}

async fn register(
    State(app): State<App>,
    caller: Caller,
    Form(form): Form<RegisterForm>,
) -> Response {
    let r = async {
        let user = caller
            .require_change(Role::Analyst, form.csrf.as_deref())?
            .clone();
        let settings = app.settings().clone();
        let done = app
            .blocking(move |store| upload::register(store, &settings, &user.name, &form))
            .await?;
        page(
            &app,
            &caller,
            "added.html",
            context! { added => done.added, skipped => done.skipped },
        )
    }
    .await;
    respond(&app, &caller, r)
}

/// The CSP of a stored HTML report: its own inline styles, still no script.
const REPORT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
     form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

async fn report_html(State(app): State<App>, caller: Caller, Path(id): Path<i64>) -> Response {
    let r = async {
        caller.can_read()?;
        let scratch = actions::scratch(app.settings());
        let html = app
            .blocking(move |store| actions::report_html(store, id, &scratch))
            .await?;
        Ok((
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CONTENT_SECURITY_POLICY, REPORT_CSP),
            ],
            html,
        )
            .into_response())
    }
    .await;
    respond(&app, &caller, r)
}

async fn report_json(State(app): State<App>, caller: Caller, Path(id): Path<i64>) -> Response {
    let r = async {
        caller.can_read()?;
        let c = caller.clone();
        let json = app
            .blocking(move |store| actions::report_json(store, &c, id))
            .await?;
        Ok(download(json, &format!("report-{id}.json")))
    }
    .await;
    respond(&app, &caller, r)
}

async fn report_envelope(State(app): State<App>, caller: Caller, Path(id): Path<i64>) -> Response {
    let r = async {
        caller.can_read()?;
        let c = caller.clone();
        let json = app
            .blocking(move |store| actions::envelope(store, &c, id))
            .await?;
        Ok(download(json, &format!("report-{id}.dsse.json")))
    }
    .await;
    respond(&app, &caller, r)
}

fn download(json: String, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        json,
    )
        .into_response()
}

/// `?old=ID&new=ID` (image ids; empty: the form alone).
#[derive(Debug, Default, Deserialize)]
pub struct DiffQuery {
    /// The older image.
    pub old: Option<String>,
    /// The newer image.
    pub new: Option<String>,
}

impl DiffQuery {
    /// Both ids, when both are given; 400 when one is not a number.
    pub fn ids(&self) -> Result<Option<(i64, i64)>, Failure> {
        let parse = |s: &Option<String>| -> Result<Option<i64>, Failure> {
            match s.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(t) => t
                    .parse()
                    .map(Some)
                    .map_err(|_| Failure::bad_request(format!("{t:?} is not an image id"))),
            }
        };
        Ok(match (parse(&self.old)?, parse(&self.new)?) {
            (Some(a), Some(b)) => Some((a, b)),
            _ => None,
        })
    }
}

async fn diff(State(app): State<App>, caller: Caller, Query(q): Query<DiffQuery>) -> Response {
    let r = async {
        caller.can_read()?;
        let Some((old, new)) = q.ids()? else {
            return page(
                &app,
                &caller,
                "diff.html",
                context! { old_id => q.old, new_id => q.new },
            );
        };
        let c = app
            .blocking(move |store| actions::compare(store, old, new))
            .await?;
        page(
            &app,
            &caller,
            "diff.html",
            context! {
                old_id => old, new_id => new, diff => true,
                empty => assay_report::diff::is_empty(&c.diff),
                text => assay_report::diff::to_text(&c.diff),
                old => c.old, new => c.new,
            },
        )
    }
    .await;
    respond(&app, &caller, r)
}

async fn questions_index(State(app): State<App>, caller: Caller) -> Response {
    let r = caller.can_read().and_then(|()| {
        page(
            &app,
            &caller,
            "questions.html",
            context! { kinds => questions::kinds() },
        )
    });
    respond(&app, &caller, r)
}

async fn find(State(app): State<App>, caller: Caller, Query(q): Query<FindQuery>) -> Response {
    let r = async {
        caller.can_read()?;
        let shown = questions::hit_limit(q.limit);
        let a = app
            .blocking(move |store| questions::find(store, &q))
            .await?;
        page(
            &app,
            &caller,
            "hits.html",
            context! {
                title => format!("Images holding {} {}", a.kind.as_str(), a.value),
                hits => a.hits, max_hits => shown,
            },
        )
    }
    .await;
    respond(&app, &caller, r)
}

async fn below(State(app): State<App>, caller: Caller, Query(q): Query<BelowQuery>) -> Response {
    let r = async {
        caller.can_read()?;
        let shown = questions::hit_limit(q.limit);
        let a = app
            .blocking(move |store| questions::below(store, &q))
            .await?;
        page(
            &app,
            &caller,
            "hits.html",
            context! {
                title => format!("Images with {} older than {}", a.component, a.version),
                hits => a.hits, max_hits => shown,
            },
        )
    }
    .await;
    respond(&app, &caller, r)
}

async fn shared(State(app): State<App>, caller: Caller, Query(q): Query<SharedQuery>) -> Response {
    let r = async {
        caller.can_read()?;
        let a = app
            .blocking(move |store| questions::shared(store, &q))
            .await?;
        page(&app, &caller, "shared.html", context! { answer => a })
    }
    .await;
    respond(&app, &caller, r)
}

/// A timeline entry as the page shows it: the diff as text.
fn timeline_entries(entries: Vec<assay_store::TimelineEntry>) -> Vec<Value> {
    entries
        .into_iter()
        .map(|e| {
            let text = e.changes.as_ref().map(assay_report::diff::to_text);
            let empty = e.changes.as_ref().is_some_and(assay_report::diff::is_empty);
            context! { image => e.image, report_id => e.report_id, text => text, empty => empty }
        })
        .collect()
}

async fn timeline(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<ReleaseQuery>,
) -> Response {
    let r = async {
        caller.can_read()?;
        let title = format!(
            "Timeline of {}{}",
            q.vendor,
            q.model
                .as_deref()
                .filter(|m| !m.is_empty())
                .map(|m| format!(" {m}"))
                .unwrap_or_default()
        );
        let offset = q.offset.unwrap_or(0).max(0);
        let limit = q
            .limit
            .unwrap_or(questions::DEFAULT_TIMELINE)
            .clamp(1, questions::MAX_TIMELINE);
        let base = format!(
            "/questions/timeline?vendor={}&model={}&limit={limit}",
            url_encode(&q.vendor),
            url_encode(q.model.as_deref().unwrap_or_default())
        );
        let entries = app
            .blocking(move |store| questions::timeline(store, &q))
            .await?;
        let shown = i64::try_from(entries.len()).unwrap_or(0);
        let prev = (offset > 0).then(|| format!("{base}&offset={}", (offset - limit).max(0)));
        let next = (shown == limit).then(|| format!("{base}&offset={}", offset + limit));
        page(
            &app,
            &caller,
            "timeline.html",
            context! { title => title, entries => timeline_entries(entries),
            prev_page => prev, next_page => next },
        )
    }
    .await;
    respond(&app, &caller, r)
}

async fn since_approved(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<ReleaseQuery>,
) -> Response {
    let r = async {
        caller.can_read()?;
        let title = format!(
            "New since the approved release of {} {}",
            q.vendor,
            q.model.as_deref().unwrap_or_default()
        );
        let a = app
            .blocking(move |store| questions::since_approved(store, &q))
            .await?;
        page(
            &app,
            &caller,
            "timeline.html",
            context! {
                title => title, approved => a.approved, approval => a.approval,
                entries => timeline_entries(a.releases),
            },
        )
    }
    .await;
    respond(&app, &caller, r)
}

async fn search(State(app): State<App>, caller: Caller, Query(q): Query<SearchQuery>) -> Response {
    let r = async {
        caller.can_read()?;
        let a = app
            .blocking(move |store| questions::search(store, &q))
            .await?;
        page(&app, &caller, "search.html", context! { answer => a })
    }
    .await;
    respond(&app, &caller, r)
}

async fn jobs(State(app): State<App>, caller: Caller) -> Response {
    let r = async {
        caller.can_read()?;
        let (counts, jobs) = app
            .blocking(|store| Ok((store.queue_counts()?, store.recent_jobs(200)?)))
            .await?;
        page(
            &app,
            &caller,
            "jobs.html",
            context! { counts => counts, jobs => jobs },
        )
    }
    .await;
    respond(&app, &caller, r)
}

async fn users_page(
    app: &App,
    caller: &Caller,
    new_token: Option<(String, String)>,
) -> Result<Response, Failure> {
    caller.require(Role::Admin)?;
    let (users, tokens) = app
        .blocking(|store| Ok((store.users()?, store.api_tokens(None)?)))
        .await?;
    let names: std::collections::BTreeMap<String, String> = users
        .iter()
        .map(|u| (u.id.to_string(), u.name.clone()))
        .collect();
    let tokens: Vec<Value> = tokens
        .into_iter()
        .map(|t| {
            let user_id = t.user_id.to_string();
            context! { user_id => user_id, ..Value::from_serialize(&t) }
        })
        .collect();
    let roles: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
    let (new_token, new_token_user) = new_token.unzip();
    page(
        app,
        caller,
        "users.html",
        context! { users => users, tokens => tokens, names => names, roles => roles,
        new_token => new_token, new_token_user => new_token_user },
    )
}

async fn users(State(app): State<App>, caller: Caller) -> Response {
    let r = users_page(&app, &caller, None).await;
    respond(&app, &caller, r)
}

async fn create_user(
    State(app): State<App>,
    caller: Caller,
    Form(form): Form<NewUser>,
) -> Response {
    let r = async {
        let admin = caller
            .require_change(Role::Admin, form.csrf.as_deref())?
            .clone();
        app.blocking(move |store| actions::create_user(store, &admin, &form))
            .await?;
        see_other("/admin/users")
    }
    .await;
    respond(&app, &caller, r)
}

async fn change_user(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<i64>,
    Form(form): Form<UserChange>,
) -> Response {
    let r = async {
        let admin = caller
            .require_change(Role::Admin, form.csrf.as_deref())?
            .clone();
        app.blocking(move |store| actions::change_user(store, &admin, id, &form))
            .await?;
        see_other("/admin/users")
    }
    .await;
    respond(&app, &caller, r)
}

async fn issue_token(
    State(app): State<App>,
    caller: Caller,
    Form(form): Form<NewToken>,
) -> Response {
    let r = async {
        let admin = caller
            .require_change(Role::Admin, form.csrf.as_deref())?
            .clone();
        let issued = app
            .blocking(move |store| {
                let issued = actions::issue_token(store, &admin, &form)?;
                let user = store.user(issued.record.user_id)?;
                Ok((issued.token, user.name))
            })
            .await?;
        // Shown on this response only, never stored in the clear.
        users_page(&app, &caller, Some(issued)).await
    }
    .await;
    respond(&app, &caller, r)
}

async fn revoke_token(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let r = async {
        let admin = caller
            .require_change(Role::Admin, form.csrf.as_deref())?
            .clone();
        app.blocking(move |store| actions::revoke_token(store, &admin, id))
            .await?;
        see_other("/admin/users")
    }
    .await;
    respond(&app, &caller, r)
}

#[derive(Deserialize)]
struct AuditQuery {
    before: Option<i64>,
}

/// Audit entries per page.
const AUDIT_PAGE: i64 = 200;

async fn audit(State(app): State<App>, caller: Caller, Query(q): Query<AuditQuery>) -> Response {
    let r = async {
        caller.require(Role::Admin)?;
        let entries = app
            .blocking(move |store| Ok(store.audit_log(q.before, AUDIT_PAGE)?))
            .await?;
        let older = (i64::try_from(entries.len()).unwrap_or(0) == AUDIT_PAGE)
            .then(|| entries.last().map(|e| e.id))
            .flatten();
        page(
            &app,
            &caller,
            "audit.html",
            context! { entries => entries, older => older },
        )
    }
    .await;
    respond(&app, &caller, r)
}
