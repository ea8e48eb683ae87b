//! The web UI and the REST API in-process (`tower::ServiceExt::oneshot`), over a real store on
//! SQLite and on a real PostgreSQL server started by the store's test harness: who may do
//! what (every role on every route), CSRF, tokens, the audit log, uploads scanned by a real
//! worker, reports that verify, questions across images, deletion, escaping, the OpenAPI
//! document.

#[path = "../../assay-store/tests/support/mod.rs"]
mod support;

use assay_server::{App, Settings};
use assay_store::worker::{Worker, WorkerConfig};
use assay_store::{DatabaseLocation, DiskBlobs, Role, Store, StoreConfig};
use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use support::{repo_root, system_clock, PgServer, S3Server};
use tower::ServiceExt;

const PASSWORD: &str = "a long enough password";

/// Who makes a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Nobody,
    As(Role),
}

struct Web {
    rt: tokio::runtime::Runtime,
    router: Router,
    store: Store,
    tokens: BTreeMap<Role, String>,
    dir: tempfile::TempDir,
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
}

impl Web {
    fn new(database: DatabaseLocation, public_read: bool) -> Web {
        Web::with(database, |s| s.public_read = public_read)
    }

    fn with(database: DatabaseLocation, configure: impl FnOnce(&mut Settings)) -> Web {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(StoreConfig::new(
            database,
            Arc::new(DiskBlobs::new(dir.path().join("blobs")).unwrap()),
            ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
            system_clock(),
        ))
        .unwrap();
        let mut settings = Settings::new(dir.path().join("uploads"));
        settings.max_upload = 1 << 20;
        let root = dir.path().join("incoming");
        std::fs::create_dir_all(root.join("batch")).unwrap();
        std::fs::copy(
            repo_root().join("examples/acme-demo.bin"),
            root.join("batch/registered.bin"),
        )
        .unwrap();
        settings.import_roots = vec![root];
        configure(&mut settings);
        let app = App::new(store.clone(), settings).unwrap();
        let mut tokens = BTreeMap::new();
        for role in Role::ALL {
            let name = role.as_str();
            let user = store
                .create_user(
                    name,
                    role,
                    &assay_server::auth::hash_secret(PASSWORD).unwrap(),
                )
                .unwrap();
            let (token, _) = assay_server::auth::issue_api_token(&store, user.id, "tests").unwrap();
            tokens.insert(role, token);
        }
        Web {
            rt: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap(),
            router: app.router(),
            store,
            tokens,
            dir,
        }
    }

    fn send(&self, request: Request<Body>) -> Answer {
        self.rt.block_on(async {
            let response = self.router.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let headers = response.headers().clone();
            let body = response
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .to_vec();
            Answer {
                status,
                headers,
                body,
            }
        })
    }

    fn request(&self, method: Method, path: &str, who: Who) -> axum::http::request::Builder {
        let mut r = Request::builder().method(method).uri(path);
        if let Who::As(role) = who {
            r = r.header(
                header::AUTHORIZATION,
                format!("Bearer {}", self.tokens[&role]),
            );
        }
        r
    }

    fn get(&self, path: &str, who: Who) -> Answer {
        self.send(
            self.request(Method::GET, path, who)
                .body(Body::empty())
                .unwrap(),
        )
    }

    fn form(&self, path: &str, who: Who, fields: &[(&str, &str)], cookie: Option<&str>) -> Answer {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut r = self
            .request(Method::POST, path, who)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, c);
        }
        self.send(r.body(Body::from(body)).unwrap())
    }

    fn json(&self, method: Method, path: &str, who: Who, body: Value) -> Answer {
        self.send(
            self.request(method, path, who)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
    }

    /// Upload bytes through the API as an analyst.
    fn upload(&self, name: &str, bytes: &[u8], fields: &[(&str, &str)], who: Who) -> Answer {
        let boundary = "assay-test-boundary-7d1f";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        self.send(
            self.request(Method::POST, "/api/images", who)
                .header(
                    header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(Body::from(body))
                .unwrap(),
        )
    }

    fn scan_all(&self) {
        let mut config = WorkerConfig::new("web-test", self.dir.path().join("scratch"));
        config.analysis = config.analysis.with_run_figures(false);
        Worker::new(self.store.clone(), config).run_until_idle();
    }

    fn audit_actions(&self) -> Vec<(String, String, String)> {
        self.store
            .audit_log(None, 10_000)
            .unwrap()
            .into_iter()
            .map(|e| (e.actor, e.action, e.target))
            .collect()
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn example(name: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("examples").join(name)).unwrap()
}

/// Two releases of one model uploaded and scanned: (v1 id, v2 id, v1 report id).
fn catalogue(web: &Web) -> (i64, i64, i64) {
    let analyst = Who::As(Role::Analyst);
    let fields = |v: &'static str| {
        [
            ("vendor", "acme"),
            ("model", "demo"),
            ("version", v),
            ("queue", "yes"),
        ]
    };
    let v1 = web.upload(
        "acme-demo.bin",
        &example("acme-demo.bin"),
        &fields("1.0"),
        analyst,
    );
    assert_eq!(v1.status, StatusCode::OK, "{}", v1.text());
    let v2 = web.upload(
        "acme-demo-v2.bin",
        &example("acme-demo-v2.bin"),
        &fields("2.0"),
        analyst,
    );
    assert_eq!(v2.status, StatusCode::OK, "{}", v2.text());
    let (v1, v2) = (v1.json(), v2.json());
    assert_eq!(v1["new_content"], true);
    assert!(v1["queued"].is_i64());
    web.scan_all();
    let id1 = v1["image"]["id"].as_i64().unwrap();
    let id2 = v2["image"]["id"].as_i64().unwrap();
    let detail = web
        .get(&format!("/api/images/{id1}"), Who::As(Role::Viewer))
        .json();
    let report = detail["reports"][0]["id"].as_i64().expect("scanned");
    assert_eq!(detail["job"]["state"], "done");
    (id1, id2, report)
}

/// Every route, the least role it needs (`None`: open to anyone), and how it is called.
struct Route {
    method: Method,
    path: String,
    needs: Option<Role>,
    form: Vec<(&'static str, String)>,
    json: Option<Value>,
}

fn route(method: Method, path: impl Into<String>, needs: Option<Role>) -> Route {
    Route {
        method,
        path: path.into(),
        needs,
        form: Vec::new(),
        json: None,
    }
}

fn authorisation_matrix(web: &Web) {
    let (v1, v2, report) = catalogue(web);
    let spare = |name: &str| {
        web.upload(
            name,
            &example("acme-demo.bin"),
            &[("vendor", "acme"), ("model", "spare")],
            Who::As(Role::Analyst),
        )
        .json()["image"]["id"]
            .as_i64()
            .unwrap()
    };
    let (doomed_page, doomed_api) = (spare("doomed-1.bin"), spare("doomed-2.bin"));
    let admin_id = web
        .store
        .users()
        .unwrap()
        .into_iter()
        .find(|u| u.name == "admin")
        .unwrap()
        .id;
    let (_, spare_token) =
        assay_server::auth::issue_api_token(&web.store, admin_id, "spare").unwrap();
    use Method as M;
    let (v, a, ad) = (Some(Role::Viewer), Some(Role::Analyst), Some(Role::Admin));
    let mut routes = vec![
        route(M::GET, "/api/openapi.json", None),
        route(M::GET, "/api/whoami", None),
        route(M::GET, "/login", None),
        route(M::GET, "/static/fleet.css", None),
        route(M::GET, "/images", v),
        route(M::GET, format!("/images/{v1}"), v),
        route(M::GET, format!("/images/{v1}/blob"), v),
        route(M::GET, "/store.pub", v),
        route(M::GET, "/upload", a),
        route(M::GET, format!("/reports/{report}"), v),
        route(M::GET, format!("/reports/{report}/json"), v),
        route(M::GET, format!("/reports/{report}/envelope"), v),
        route(M::GET, format!("/diff?old={v1}&new={v2}"), v),
        route(M::GET, "/questions", v),
        route(M::GET, "/questions/find?kind=rule&value=none", v),
        route(M::GET, "/questions/below?component=busybox&version=99", v),
        route(M::GET, "/questions/shared?kind=key", v),
        route(M::GET, "/questions/timeline?vendor=acme&model=demo", v),
        route(M::GET, "/search?q=acme", v),
        route(M::GET, "/jobs", v),
        route(M::GET, "/admin/users", ad),
        route(M::GET, "/admin/audit", ad),
        route(M::GET, "/api/images?vendor=acme", v),
        route(M::GET, format!("/api/images/{v1}"), v),
        route(M::GET, format!("/api/images/{v1}/blob"), v),
        route(M::GET, "/api/catalogue", v),
        route(M::GET, format!("/api/reports/{report}"), v),
        route(M::GET, format!("/api/reports/{report}/envelope"), v),
        route(M::GET, format!("/api/diff?old={v1}&new={v2}"), v),
        route(M::GET, "/api/find?kind=rule&value=none", v),
        route(M::GET, "/api/below?component=busybox&version=99", v),
        route(M::GET, "/api/shared?kind=endpoint", v),
        route(M::GET, "/api/timeline?vendor=acme", v),
        route(M::GET, "/api/search?q=demo", v),
        route(M::GET, "/api/jobs", v),
        route(M::GET, "/api/users", ad),
        route(M::GET, "/api/audit", ad),
        route(M::POST, format!("/images/{v1}/scan"), a),
        route(M::POST, format!("/api/images/{v2}/scan"), a),
        Route {
            form: vec![("note", "page approval".into())],
            ..route(M::POST, format!("/images/{v1}/approve"), a)
        },
        Route {
            json: Some(serde_json::json!({"note": "api approval"})),
            ..route(M::POST, format!("/api/images/{v1}/approve"), a)
        },
        route(
            M::GET,
            "/questions/since-approved?vendor=acme&model=demo",
            v,
        ),
        route(M::GET, "/api/since-approved?vendor=acme&model=demo", v),
        Route {
            json: Some(
                serde_json::json!({"path": web.dir.path().join("incoming/batch"), "vendor": "acme", "model": "registered"}),
            ),
            ..route(M::POST, "/api/register", a)
        },
        Route {
            form: vec![
                ("name", "carol".into()),
                ("role", "viewer".into()),
                ("password", PASSWORD.into()),
            ],
            ..route(M::POST, "/admin/users", ad)
        },
        Route {
            json: Some(
                serde_json::json!({"name": "dave", "role": "analyst", "password": PASSWORD}),
            ),
            ..route(M::POST, "/api/users", ad)
        },
        Route {
            form: vec![
                ("user_id", admin_id.to_string()),
                ("name", "page token".into()),
            ],
            ..route(M::POST, "/admin/tokens", ad)
        },
        Route {
            json: Some(serde_json::json!({"user_id": admin_id, "name": "api token"})),
            ..route(M::POST, "/api/tokens", ad)
        },
        route(M::DELETE, format!("/api/tokens/{}", spare_token.id), ad),
        Route {
            form: vec![("confirm", "yes".into())],
            ..route(M::POST, format!("/images/{doomed_page}/delete"), ad)
        },
        route(M::DELETE, format!("/api/images/{doomed_api}"), ad),
    ];
    let callers = [
        Who::Nobody,
        Who::As(Role::Viewer),
        Who::As(Role::Analyst),
        Who::As(Role::Admin),
    ];
    let mut checked = 0;
    for r in routes.drain(..) {
        for who in callers {
            let mut req = web.request(r.method.clone(), &r.path, who);
            let body = if let Some(j) = &r.json {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(j.to_string())
            } else if r.method != M::GET {
                req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Body::from(
                    r.form
                        .iter()
                        .map(|(k, v)| format!("{k}={}", encode(v)))
                        .collect::<Vec<_>>()
                        .join("&"),
                )
            } else {
                Body::empty()
            };
            let answer = web.send(req.body(body).unwrap());
            let api = r.path.starts_with("/api/");
            let role = match who {
                Who::Nobody => None,
                Who::As(role) => Some(role),
            };
            let allowed = match (r.needs, role) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(needed), Some(have)) => have.allows(needed),
            };
            let what = format!(
                "{} {} as {who:?}: {} {}",
                r.method,
                r.path,
                answer.status,
                answer.text().chars().take(300).collect::<String>()
            );
            if allowed {
                assert!(
                    answer.status.is_success() || answer.status.is_redirection(),
                    "allowed but refused: {what}"
                );
                assert_ne!(answer.location(), "/login", "{what}");
            } else if role.is_none() {
                if api {
                    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{what}");
                } else {
                    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{what}");
                    assert_eq!(answer.location(), "/login", "{what}");
                }
            } else {
                assert_eq!(answer.status, StatusCode::FORBIDDEN, "{what}");
            }
            // Every response carries the security headers.
            let csp = answer.headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap();
            assert!(
                csp.contains("frame-ancestors 'none'") && !csp.contains("script-src"),
                "{what}"
            );
            assert_eq!(answer.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            checked += 1;
        }
    }
    assert!(checked >= 200, "{checked}");

    // What the allowed calls did.
    assert!(web.store.image(doomed_page).is_err() && web.store.image(doomed_api).is_err());
    assert!(web
        .store
        .users()
        .unwrap()
        .iter()
        .any(|u| u.name == "carol" && u.role == Role::Viewer));
    let revoked = web.get("/api/whoami", Who::Nobody);
    assert_eq!(revoked.status, StatusCode::OK);
    let spare_call = web.send(
        Request::get("/api/images")
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", "assay_999_nope"),
            )
            .body(Body::empty())
            .unwrap(),
    );
    assert_eq!(spare_call.status, StatusCode::UNAUTHORIZED);
    let audit = web.audit_actions();
    for (actor, action) in [
        ("analyst", "upload"),
        ("analyst", "approve"),
        ("analyst", "queue"),
        ("analyst", "register"),
        ("viewer", "download"),
        ("admin", "delete"),
        ("admin", "create-user"),
        ("admin", "issue-token"),
        ("admin", "revoke-token"),
    ] {
        assert!(
            audit.iter().any(|(a, b, _)| a == actor && b == action),
            "no audit entry {actor} {action}: {audit:?}"
        );
    }
    // The registered folder's file is an image of the store.
    let registered = web
        .get("/api/images?model=registered", Who::As(Role::Viewer))
        .json();
    assert_eq!(registered["total"], 1);
    assert_eq!(registered["images"][0]["name"], "registered.bin");
}

#[test]
fn every_role_on_every_route_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let web = Web::new(
        DatabaseLocation::Sqlite(dir.path().join("web.sqlite")),
        false,
    );
    authorisation_matrix(&web);
}

#[test]
fn every_role_on_every_route_on_postgres() {
    let Some(pg) = PgServer::start() else {
        return;
    };
    let web = Web::new(DatabaseLocation::Postgres(pg.fresh_database("web")), false);
    authorisation_matrix(&web);
}

/// Log in through the form: the session cookie.
fn login(web: &Web, name: &str, password: &str) -> Result<String, Box<Answer>> {
    let form = web.get("/login", Who::Nobody);
    assert_eq!(form.status, StatusCode::OK);
    let token = form.set_cookie("assay_login").expect("a login cookie");
    assert!(form.text().contains(&format!("value=\"{token}\"")));
    let answer = web.form(
        "/login",
        Who::Nobody,
        &[("name", name), ("password", password), ("csrf", &token)],
        Some(&format!("assay_login={token}")),
    );
    match answer.set_cookie("assay_session") {
        Some(s) if answer.status == StatusCode::SEE_OTHER => Ok(s),
        _ => Err(Box::new(answer)),
    }
}

fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    page[at..].split('"').next().unwrap().to_string()
}

#[test]
fn sessions_need_their_csrf_token_and_logins_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let web = Web::new(
        DatabaseLocation::Sqlite(dir.path().join("web.sqlite")),
        false,
    );
    let added = web
        .upload("a.bin", b"firmware bytes", &[], Who::As(Role::Analyst))
        .json();
    let id = added["image"]["id"].as_i64().unwrap();

    // Wrong password, unknown user: refused, audited, no session.
    let wrong = login(&web, "analyst", "not the password").unwrap_err();
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert!(wrong.text().contains("wrong user name or password"));
    assert!(login(&web, "mallory", PASSWORD).is_err());
    // A login post without the login form's cookie is refused.
    let forged = web.form(
        "/login",
        Who::Nobody,
        &[("name", "analyst"), ("password", PASSWORD), ("csrf", "x")],
        None,
    );
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.set_cookie("assay_session").is_none());

    let session = login(&web, "analyst", PASSWORD).unwrap();
    let cookie = format!("assay_session={session}");
    let page = web.send(
        Request::get(format!("/images/{id}"))
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap(),
    );
    assert_eq!(page.status, StatusCode::OK);
    let csrf = csrf_of(&page.text());
    let approve = format!("/images/{id}/approve");
    let missing = web.form(&approve, Who::Nobody, &[("note", "x")], Some(&cookie));
    assert_eq!(missing.status, StatusCode::FORBIDDEN, "{}", missing.text());
    let stale = web.form(
        &approve,
        Who::Nobody,
        &[("note", "x"), ("csrf", "stale")],
        Some(&cookie),
    );
    assert_eq!(stale.status, StatusCode::FORBIDDEN);
    assert!(web.store.approved_release("", "").unwrap().is_none());
    let good = web.form(
        &approve,
        Who::Nobody,
        &[("note", "ok"), ("csrf", &csrf)],
        Some(&cookie),
    );
    assert_eq!(good.status, StatusCode::SEE_OTHER, "{}", good.text());
    assert!(web.store.approved_release("", "").unwrap().is_some());

    // JSON calls with the cookie need the token in a header.
    let scan = |token: Option<&str>| {
        let mut r = Request::post(format!("/api/images/{id}/scan")).header(header::COOKIE, &cookie);
        if let Some(t) = token {
            r = r.header("x-csrf-token", t);
        }
        web.send(r.body(Body::empty()).unwrap()).status
    };
    assert_eq!(scan(None), StatusCode::FORBIDDEN);
    assert_eq!(scan(Some(&csrf)), StatusCode::OK);

    // An analyst's session cannot reach admin pages.
    let users = web.send(
        Request::get("/admin/users")
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap(),
    );
    assert_eq!(users.status, StatusCode::FORBIDDEN);

    // Logout ends the session.
    let out = web.form("/logout", Who::Nobody, &[("csrf", &csrf)], Some(&cookie));
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let after = web.send(
        Request::get("/images")
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap(),
    );
    assert_eq!(after.location(), "/login");

    let audit = web.audit_actions();
    for (actor, action, target) in [
        ("-", "login-failed", "user analyst"),
        ("-", "login-failed", "user mallory"),
        ("analyst", "login", "user analyst"),
        ("analyst", "approve", &*format!("image {id}")),
        ("analyst", "logout", "user analyst"),
    ] {
        assert!(
            audit
                .iter()
                .any(|(a, b, c)| a == actor && b == action && c == target),
            "no audit entry {actor} {action} {target}: {audit:?}"
        );
    }
}

#[test]
fn password_guessing_is_refused_after_ten_failures() {
    let dir = tempfile::tempdir().unwrap();
    let web = Web::new(
        DatabaseLocation::Sqlite(dir.path().join("web.sqlite")),
        false,
    );
    for _ in 0..assay_server::auth::MAX_FAILED_LOGINS {
        assert_eq!(
            login(&web, "viewer", "guess").unwrap_err().status,
            StatusCode::FORBIDDEN
        );
    }
    // Now even the right password is refused for a while; other names are not affected.
    let refused = login(&web, "viewer", PASSWORD).unwrap_err();
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.text().contains("too many failed logins"));
    assert!(login(&web, "analyst", PASSWORD).is_ok());
    assert!(web
        .audit_actions()
        .iter()
        .any(|(_, b, c)| b == "login-refused" && c == "user viewer"));
}

#[test]
fn tokens_that_are_revoked_or_belong_to_disabled_users_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let web = Web::new(
        DatabaseLocation::Sqlite(dir.path().join("web.sqlite")),
        false,
    );
    assert_eq!(
        web.get("/api/images", Who::As(Role::Viewer)).status,
        StatusCode::OK
    );
    let viewer = web
        .store
        .users()
        .unwrap()
        .into_iter()
        .find(|u| u.name == "viewer")
        .unwrap();
    web.store
        .update_user(viewer.id, None, None, Some(true))
        .unwrap();
    assert_eq!(
        web.get("/api/images", Who::As(Role::Viewer)).status,
        StatusCode::UNAUTHORIZED
    );
    assert!(login(&web, "viewer", PASSWORD).is_err());
    // A token's secret must match, not only its id.
    let analyst = &web.tokens[&Role::Analyst];
    let forged = format!("{}x", analyst);
    let r = web.send(
        Request::get("/api/images")
            .header(header::AUTHORIZATION, format!("Bearer {forged}"))
            .body(Body::empty())
            .unwrap(),
    );
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let id: i64 = analyst.split('_').nth(1).unwrap().parse().unwrap();
    web.store.revoke_api_token(id).unwrap();
    assert_eq!(
        web.get("/api/images", Who::As(Role::Analyst)).status,
        StatusCode::UNAUTHORIZED
    );
    // Tokens are stored as argon2 hashes, never in the clear.
    let dump = std::fs::read(dir.path().join("web.sqlite")).unwrap();
    // The secret is base64url and may itself hold '_': it is everything after the id.
    let secret = analyst.splitn(3, '_').nth(2).unwrap();
    assert_eq!(secret.len(), 43, "32 random bytes as unpadded base64url");
    assert!(!dump.windows(secret.len()).any(|w| w == secret.as_bytes()));
}

#[test]
fn reports_verify_and_answers_come_from_the_scanned_images() {
    let dir = tempfile::tempdir().unwrap();
    let web = Web::new(
        DatabaseLocation::Sqlite(dir.path().join("web.sqlite")),
        false,
    );
    let (v1, v2, report_id) = catalogue(&web);
    let viewer = Who::As(Role::Viewer);

    // The signed envelope verifies with the store's published key, and its report is the
    // one served as JSON; the blob is the uploaded image.
    let envelope = web
        .get(&format!("/api/reports/{report_id}/envelope"), viewer)
        .text();
    let public = web.get("/store.pub", viewer).text();
    let key = assay_report::dsse::verifying_key_from_text(&public).unwrap();
    let envelope = assay_report::dsse::Envelope::from_json(&envelope).unwrap();
    let payload = envelope.verify(&key).unwrap();
    let json = web.get(&format!("/reports/{report_id}/json"), viewer);
    assert_eq!(json.body, payload);
    assert!(json.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let blob = web.get(&format!("/images/{v1}/blob"), viewer);
    assert_eq!(blob.body, example("acme-demo.bin"));
    let report: assay_model::Report = serde_json::from_slice(&payload).unwrap();
    let download = tempfile::tempdir().unwrap();
    let named = download.path().join("acme-demo.bin");
    std::fs::write(&named, &blob.body).unwrap();
    let verification =
        assay_engine::verify(&report, &named, &assay_engine::AnalysisConfig::new()).unwrap();
    assert!(verification.holds(), "{:?}", verification.failures);

    // The HTML report page: the existing report, with its own CSP (no script).
    let html = web.get(&format!("/reports/{report_id}"), viewer);
    assert_eq!(html.status, StatusCode::OK);
    assert!(html.text().contains("acme-demo.bin"));
    let csp = html.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'none'") && !csp.contains("script"));

    // Questions: a component of the report is found in both releases; its version range
    // question finds it below a bound above its version.
    let component = report.components.first().expect("the demo has components");
    let found = web
        .get(
            &format!("/api/find?kind=component&value={}", encode(&component.name)),
            viewer,
        )
        .json();
    let ids: Vec<i64> = found["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["image"]["id"].as_i64().unwrap())
        .collect();
    assert!(ids.contains(&v1), "{found}");
    let page = web
        .get(
            &format!(
                "/questions/find?kind=component&value={}",
                encode(&component.name)
            ),
            viewer,
        )
        .text();
    assert!(page.contains(&format!("/images/{v1}")));
    let version = &component.version;
    if !version.is_empty() {
        let below = web
            .get(
                &format!(
                    "/api/below?component={}&version={}",
                    encode(&component.name),
                    encode(&format!("{version}.999"))
                ),
                viewer,
            )
            .json();
        assert!(!below["hits"].as_array().unwrap().is_empty(), "{below}");
    }
    let search = web.get("/api/search?q=acme-demo", viewer).json();
    assert_eq!(search["images"].as_array().unwrap().len(), 2);

    // Diff page and timeline: the second release against the first.
    let diff = web
        .get(&format!("/api/diff?old={v1}&new={v2}"), viewer)
        .json();
    assert_eq!(diff["old"]["id"], v1);
    let expected = {
        let r2: assay_model::Report = serde_json::from_slice(
            &web.get(
                &format!(
                    "/api/reports/{}",
                    web.get(&format!("/api/images/{v2}"), viewer).json()["reports"][0]["id"]
                ),
                viewer,
            )
            .body,
        )
        .unwrap();
        assay_report::diff::to_text(&assay_report::diff::diff(&report, &r2))
    };
    let page = web.get(&format!("/diff?old={v1}&new={v2}"), viewer).text();
    let first_line = expected.lines().find(|l| !l.trim().is_empty()).unwrap();
    assert!(
        page.contains(&escape(first_line)),
        "{first_line} not in the diff page"
    );
    let timeline = web
        .get("/api/timeline?vendor=acme&model=demo", viewer)
        .json();
    assert_eq!(timeline.as_array().unwrap().len(), 2);
    assert!(timeline[0]["changes"].is_null() && timeline[1]["changes"].is_object());
    // A page starting at the second release still compares it with the first.
    let second = web
        .get(
            "/api/timeline?vendor=acme&model=demo&offset=1&limit=1",
            viewer,
        )
        .json();
    assert_eq!(second.as_array().unwrap().len(), 1);
    assert_eq!(second[0]["image"]["id"], v2);
    assert_eq!(second[0]["previous"], v1);
    assert_eq!(second[0]["changes"], timeline[1]["changes"]);

    // Paging: one image per page.
    let page1 = web.get("/api/images?limit=1", viewer).json();
    let page2 = web.get("/api/images?limit=1&offset=1", viewer).json();
    assert_eq!(
        (page1["total"].as_i64(), page2["total"].as_i64()),
        (Some(2), Some(2))
    );
    assert_ne!(page1["images"][0]["id"], page2["images"][0]["id"]);
    assert!(page1["images"][0]["report_id"].as_i64().is_some());
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

#[test]
fn strings_from_images_are_escaped_and_uploads_are_limited() {
    let dir = tempfile::tempdir().unwrap();
    let web = Web::new(
        DatabaseLocation::Sqlite(dir.path().join("web.sqlite")),
        false,
    );
    let hostile = "<img src=x onerror=alert(1)>.bin";
    let added = web.upload(
        hostile,
        b"bytes",
        &[("vendor", "<b>v</b>")],
        Who::As(Role::Analyst),
    );
    assert_eq!(added.status, StatusCode::OK, "{}", added.text());
    let id = added.json()["image"]["id"].as_i64().unwrap();
    for path in [
        format!("/images/{id}"),
        "/images".to_string(),
        "/search?q=img".to_string(),
    ] {
        let page = web.get(&path, Who::As(Role::Viewer)).text();
        assert!(
            !page.contains("<img src=x") && !page.contains("<b>v</b>"),
            "{path}: {page}"
        );
        assert!(
            page.contains("&lt;img src=x onerror=alert(1)&gt;.bin"),
            "{path}"
        );
    }
    // Past the limit (1 MiB here): 413, nothing stored.
    let big = vec![0u8; (1 << 20) + 1];
    let refused = web.upload("big.bin", &big, &[], Who::As(Role::Analyst));
    assert_eq!(
        refused.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        refused.text()
    );
    assert_eq!(web.store.count_images(&Default::default()).unwrap(), 1);
    // No temporary upload is left behind.
    let leftovers = std::fs::read_dir(web.dir.path().join("uploads"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .count();
    assert_eq!(leftovers, 0);
}

#[test]
fn public_read_opens_reads_only() {
    let dir = tempfile::tempdir().unwrap();
    let web = Web::new(
        DatabaseLocation::Sqlite(dir.path().join("web.sqlite")),
        true,
    );
    assert_eq!(web.get("/api/images", Who::Nobody).status, StatusCode::OK);
    assert_eq!(web.get("/images", Who::Nobody).status, StatusCode::OK);
    assert_eq!(web.get("/admin/audit", Who::Nobody).location(), "/login");
    let upload = web.upload("x.bin", b"x", &[], Who::Nobody);
    assert_eq!(upload.status, StatusCode::UNAUTHORIZED);
}

#[test]
fn deleting_an_image_removes_its_blob_reports_and_facts_unless_shared() {
    let dir = tempfile::tempdir().unwrap();
    let web = Web::new(
        DatabaseLocation::Sqlite(dir.path().join("web.sqlite")),
        false,
    );
    let (v1, _v2, report) = catalogue(&web);
    let analyst = Who::As(Role::Analyst);
    let copy = web
        .upload(
            "copy.bin",
            &example("acme-demo.bin"),
            &[("vendor", "acme"), ("model", "other")],
            analyst,
        )
        .json();
    let copy = copy["image"]["id"].as_i64().unwrap();
    let sha = web.store.image(v1).unwrap().sha256;
    let admin = Who::As(Role::Admin);
    // The copy names the same content: deleting it keeps the bytes and the report.
    let first = web
        .json(
            Method::DELETE,
            &format!("/api/images/{copy}"),
            admin,
            Value::Null,
        )
        .json();
    assert_eq!(
        (
            first["blob_deleted"].as_bool(),
            first["reports_deleted"].as_i64()
        ),
        (Some(false), Some(0))
    );
    assert!(web.store.blobs().contains(&sha).unwrap());
    assert!(web.store.report(report).is_ok());
    // The last record: bytes, report and facts go.
    let last = web
        .json(
            Method::DELETE,
            &format!("/api/images/{v1}"),
            admin,
            Value::Null,
        )
        .json();
    assert_eq!(
        (
            last["blob_deleted"].as_bool(),
            last["reports_deleted"].as_i64()
        ),
        (Some(true), Some(1))
    );
    assert!(!web.store.blobs().contains(&sha).unwrap());
    assert!(web.store.report(report).is_err());
    assert_eq!(
        web.get(&format!("/api/images/{v1}"), admin).status,
        StatusCode::NOT_FOUND
    );
    let shared = web.get("/api/search?q=acme-demo.bin", admin).json();
    assert_eq!(shared["images"].as_array().unwrap().len(), 0);
    assert!(web
        .audit_actions()
        .iter()
        .any(|(a, b, c)| a == "admin" && b == "delete" && *c == format!("image {v1}")));
}

#[test]
fn the_openapi_document_lists_exactly_the_routes() {
    let doc: Value = serde_json::from_str(assay_server::api::OPENAPI).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            assert!(
                op["summary"].is_string() && op["responses"]["200"].is_object(),
                "{method} {path}"
            );
            documented.push((method.clone(), path.clone()));
        }
    }
    let mut routed: Vec<(String, String)> = assay_server::api::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    documented.sort();
    routed.sort();
    assert_eq!(documented, routed);
    // Every listed route is served: an unknown route answers 404 or 405 with no JSON body,
    // a known one answers JSON (data or an error) or bytes.
    let dir = tempfile::tempdir().unwrap();
    let web = Web::new(
        DatabaseLocation::Sqlite(dir.path().join("web.sqlite")),
        false,
    );
    let unknown = web.get("/api/nothing-here", Who::As(Role::Admin));
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(serde_json::from_slice::<Value>(&unknown.body).is_err());
    for (method, path) in &routed {
        let path = path.replace("{id}", "999");
        let method: Method = method.to_uppercase().parse().unwrap();
        let answer = web.json(
            method.clone(),
            &path,
            Who::As(Role::Admin),
            serde_json::json!({}),
        );
        assert_ne!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        let routed_404 = answer.status == StatusCode::NOT_FOUND
            && serde_json::from_slice::<Value>(&answer.body).is_err();
        assert!(!routed_404, "{method} {path} is not routed");
    }
    assert_eq!(web.get("/api/openapi.json", Who::Nobody).json(), doc);
    // Malformed requests are answered with the documented error shape too.
    for (method, path, body) in [
        (Method::POST, "/api/users", "{not json"),
        (Method::GET, "/api/images/not-a-number", ""),
        (Method::GET, "/api/images?limit=lots", ""),
    ] {
        let answer = web.send(
            web.request(method.clone(), path, Who::As(Role::Admin))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .unwrap(),
        );
        assert!(
            answer.status.is_client_error(),
            "{method} {path}: {}",
            answer.status
        );
        assert!(
            answer.json()["error"].is_string(),
            "{method} {path}: {}",
            answer.text()
        );
    }
}

#[test]
fn a_bucket_prefix_is_registered_from_a_real_s3_server() {
    let Some(s3) = S3Server::start() else {
        return;
    };
    let location = s3.location("incoming");
    let bucket = assay_store::S3Blobs::new(&location, system_clock()).unwrap();
    bucket.create_bucket().unwrap();
    // Two objects in the bucket (under the store's sharded names, which are what this client
    // writes); the image is found under its key's last component.
    use assay_store::BlobStore;
    let put = bucket
        .put_file(&repo_root().join("examples/acme-demo.bin"))
        .unwrap();
    bucket
        .put_file(&repo_root().join("examples/acme-demo-v2.bin"))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let web = Web::with(
        DatabaseLocation::Sqlite(dir.path().join("web.sqlite")),
        |s| {
            s.import_buckets = vec![location.clone()];
        },
    );
    let analyst = Who::As(Role::Analyst);
    let refused = web.json(
        Method::POST,
        "/api/register",
        analyst,
        serde_json::json!({"path": "s3://elsewhere/x"}),
    );
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    let prefix = format!("s3://incoming/sha256/{}", &put.sha256[..2]);
    let done = web.json(
        Method::POST,
        "/api/register",
        analyst,
        serde_json::json!({"path": prefix, "vendor": "acme", "queue": "yes"}),
    );
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    let done = done.json();
    assert_eq!(done["added"].as_array().unwrap().len(), 1, "{done}");
    assert_eq!(done["added"][0]["image"]["sha256"], put.sha256.as_str());
    assert_eq!(done["added"][0]["image"]["name"], put.sha256.as_str());
    assert!(done["added"][0]["queued"].is_i64());
    let all = web
        .json(
            Method::POST,
            "/api/register",
            analyst,
            serde_json::json!({"path": "s3://incoming/sha256/"}),
        )
        .json();
    assert_eq!(all["added"].as_array().unwrap().len(), 2, "{all}");
    assert!(web.audit_actions().iter().any(|(a, b, c)| a == "analyst"
        && b == "register"
        && c.starts_with("s3://incoming/sha256/")));
}
