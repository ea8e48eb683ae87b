//! Who is calling, and what they may do.
//!
//! - **Passwords** and **API token secrets** are stored as argon2id PHC strings (the `argon2`
//!   crate's defaults: 19 MiB, 2 passes); a login for an unknown user still runs one
//!   verification, so timing does not tell which names exist.
//! - **Sessions**: a random 256-bit cookie value (`assay_session`, `HttpOnly`,
//!   `SameSite=Strict`, `Secure` when configured), stored as its SHA-256. Each session has a
//!   random CSRF token that every state-changing form carries (`csrf` field) and that JSON
//!   calls made with the cookie send as `X-CSRF-Token`. The login form itself carries a
//!   double-submit token (a cookie and a field that must match).
//! - **API tokens**: `assay_<id>_<secret>` sent as `Authorization: Bearer …`; the id finds the
//!   row, the secret is checked against its argon2 hash (once per process: a verified token's
//!   SHA-256 is remembered, and the row — revoked? user disabled? — is read on every call).
//!   Bearer calls need no CSRF token: browsers never send them on their own.

use crate::{App, Failure};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use assay_store::{Role, Store, UserRecord};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "assay_session";
/// The login form's double-submit cookie.
pub const LOGIN_COOKIE: &str = "assay_login";
/// The header JSON calls made with a session cookie carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// `n` random bytes from the system, as unpadded base64url.
pub fn random_token(n: usize) -> Result<String, Failure> {
    let mut bytes = vec![0u8; n];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| Failure::internal(format!("no random bytes from the system: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Hex SHA-256 of a secret: how session cookies are stored and cached tokens remembered.
pub fn sha256_hex(s: &str) -> String {
    assay_model::hex(&Sha256::digest(s.as_bytes()))
}

/// Hash a password or token secret (argon2id, random salt) as a PHC string.
pub fn hash_secret(secret: &str) -> Result<String, Failure> {
    let salt = SaltString::encode_b64(random_token(16)?.as_bytes())
        .map_err(|e| Failure::internal(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Failure::internal(format!("hashing: {e}")))
}

/// Whether `secret` matches a PHC string made by [`hash_secret`].
pub fn verify_secret(secret: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Equal strings, compared in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A hash verified against when a login names no user, so that both cases cost the same.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_secret("decoy password").unwrap_or_default())
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, path `/`, `Secure` when asked for;
/// a `max_age` of 0 deletes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age_s: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// How a caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// Nothing (or nothing valid).
    None,
    /// A browser session, with the CSRF token its forms must carry.
    Session {
        /// The session's CSRF token.
        csrf: String,
        /// SHA-256 of the cookie (to end the session at logout).
        token_hash: String,
    },
    /// An API token.
    Token {
        /// The token's id.
        id: i64,
    },
}

/// The caller of a request: a user (or nobody) and how they proved it. Every handler takes
/// one and asks it for the role it needs.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user, when logged in.
    pub user: Option<UserRecord>,
    /// How.
    pub credential: Credential,
    /// Whether the server lets anyone read.
    pub public_read: bool,
}

impl Caller {
    /// The caller may read (any logged-in user, anyone under `--public-read`); else 401.
    pub fn can_read(&self) -> Result<(), Failure> {
        if self.user.is_some() || self.public_read {
            Ok(())
        } else {
            Err(Failure::unauthorized())
        }
    }

    /// The user, who must hold at least `role`: 401 when nobody is logged in, 403 when the
    /// role is too weak.
    pub fn require(&self, role: Role) -> Result<&UserRecord, Failure> {
        let user = self.user.as_ref().ok_or_else(Failure::unauthorized)?;
        if user.role.allows(role) {
            Ok(user)
        } else {
            Err(Failure::forbidden(format!(
                "this needs the {} role; {} is {}",
                role.as_str(),
                user.name,
                user.role.as_str()
            )))
        }
    }

    /// [`require`](Self::require) for a state-changing request: a session caller must also
    /// present the session's CSRF token (403 otherwise); a token caller needs none.
    pub fn require_change(&self, role: Role, csrf: Option<&str>) -> Result<&UserRecord, Failure> {
        let user = self.require(role)?;
        match &self.credential {
            Credential::Session { csrf: expected, .. } => {
                if csrf.is_some_and(|given| same_secret(given, expected)) {
                    Ok(user)
                } else {
                    Err(Failure::forbidden(
                        "the form's CSRF token is missing or stale; reload the page",
                    ))
                }
            }
            Credential::Token { .. } => Ok(user),
            Credential::None => Err(Failure::unauthorized()),
        }
    }

    /// The name the audit log records.
    pub fn actor(&self) -> String {
        self.user
            .as_ref()
            .map_or_else(|| "-".to_string(), |u| u.name.clone())
    }

    /// The session's CSRF token, for forms (empty for token and anonymous callers).
    pub fn csrf(&self) -> &str {
        match &self.credential {
            Credential::Session { csrf, .. } => csrf,
            _ => "",
        }
    }
}

/// Verified API tokens by the SHA-256 of the whole token, so that argon2 runs once per token
/// and process, not on every call.
#[derive(Debug, Default)]
pub struct TokenCache(Mutex<HashMap<String, i64>>);

/// Tokens remembered at most; the cache is emptied when full.
const TOKEN_CACHE_MAX: usize = 4096;

impl TokenCache {
    fn knows(&self, digest: &str, id: i64) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(digest)
            .is_some_and(|&known| known == id)
    }

    fn remember(&self, digest: String, id: i64) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= TOKEN_CACHE_MAX {
            map.clear();
        }
        map.insert(digest, id);
    }
}

/// `assay_<id>_<secret>`: the id and the secret.
pub fn parse_api_token(token: &str) -> Option<(i64, &str)> {
    let rest = token.strip_prefix("assay_")?;
    let (id, secret) = rest.split_once('_')?;
    let id = id.parse().ok().filter(|&i: &i64| i > 0)?;
    (!secret.is_empty()).then_some((id, secret))
}

/// Make an API token for a user: the token (shown once) and its record.
pub fn issue_api_token(
    store: &Store,
    user_id: i64,
    name: &str,
) -> Result<(String, assay_store::ApiTokenRecord), Failure> {
    let secret = random_token(32)?;
    let record = store.create_api_token(user_id, name, &hash_secret(&secret)?)?;
    Ok((format!("assay_{}_{secret}", record.id), record))
}

/// Find the caller of a request (blocking: reads the store, may run argon2).
pub fn identify(app: &App, headers: &HeaderMap) -> Result<Caller, Failure> {
    let store = app.store();
    let public_read = app.settings().public_read;
    let nobody = Caller {
        user: None,
        credential: Credential::None,
        public_read,
    };
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let token = auth
            .strip_prefix("Bearer ")
            .ok_or_else(|| Failure::bad_request("Authorization: expected Bearer TOKEN"))?
            .trim();
        let (id, secret) = parse_api_token(token).ok_or_else(Failure::unauthorized)?;
        let Some((record, hash, user)) = store.api_token_for_use(id)? else {
            return Err(Failure::unauthorized());
        };
        let digest = sha256_hex(token);
        if !app.token_cache().knows(&digest, id) {
            if !verify_secret(secret, &hash) {
                return Err(Failure::unauthorized());
            }
            app.token_cache().remember(digest, id);
        }
        store.touch_api_token(record.id)?;
        return Ok(Caller {
            user: Some(user),
            credential: Credential::Token { id: record.id },
            public_read,
        });
    }
    let Some(cookie) = cookie(headers, SESSION_COOKIE) else {
        return Ok(nobody);
    };
    let token_hash = sha256_hex(cookie);
    Ok(match store.session(&token_hash)? {
        Some(session) => Caller {
            user: Some(session.user),
            credential: Credential::Session {
                csrf: session.csrf,
                token_hash,
            },
            public_read,
        },
        None => nobody,
    })
}

impl FromRequestParts<App> for Caller {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Failure> {
        let headers = parts.headers.clone();
        let app2 = app.clone();
        app.blocking(move |_| identify(&app2, &headers)).await
    }
}

/// Failed logins for one name within [`LOGIN_WINDOW_MS`] after which the name is refused.
pub const MAX_FAILED_LOGINS: i64 = 10;
/// The window failed logins are counted in (15 minutes).
pub const LOGIN_WINDOW_MS: i64 = 15 * 60 * 1000;

/// Check a login; on success start a session and return its cookie value and the user. Every
/// attempt is audited (`login` or `login-failed`).
pub fn login(app: &App, name: &str, password: &str) -> Result<(String, UserRecord), Failure> {
    let store = app.store();
    // Password guessing is slowed per name: after MAX_FAILED_LOGINS failures within the
    // window, the name is refused until the window has passed (its failures age out).
    let target = format!("user {name}");
    let since = store.now().saturating_sub(LOGIN_WINDOW_MS);
    if store.audit_count("login-failed", &target, since)? >= MAX_FAILED_LOGINS {
        store.audit("-", "login-refused", &target, "too many failed logins")?;
        return Err(Failure {
            status: axum::http::StatusCode::TOO_MANY_REQUESTS,
            message: format!(
                "too many failed logins for this name; try again in {} minutes",
                LOGIN_WINDOW_MS / 60_000
            ),
        });
    }
    let found = store.user_for_login(name)?;
    let ok = match &found {
        Some((user, hash)) => verify_secret(password, hash) && !user.disabled,
        None => {
            verify_secret(password, decoy_hash());
            false
        }
    };
    let Some((user, _)) = found.filter(|_| ok) else {
        store.audit("-", "login-failed", &target, "")?;
        return Err(Failure::forbidden("wrong user name or password"));
    };
    let value = random_token(32)?;
    let csrf = random_token(24)?;
    let expires = store.now().saturating_add(app.settings().session_ms);
    store.create_session(&sha256_hex(&value), user.id, &csrf, expires)?;
    store.audit(&user.name, "login", &format!("user {}", user.name), "")?;
    Ok((value, user))
}

/// Create the first (or another) admin: the password given, or a generated one returned to be
/// printed once.
pub fn create_admin(
    store: &Store,
    name: &str,
    password: Option<&str>,
) -> Result<(UserRecord, Option<String>), Failure> {
    let generated = match password {
        Some(_) => None,
        None => Some(random_token(18)?),
    };
    let password = password.or(generated.as_deref()).unwrap_or_default();
    check_password_strength(password)?;
    let user = store.create_user(name, Role::Admin, &hash_secret(password)?)?;
    store.audit(
        "-",
        "create-user",
        &format!("user {name}"),
        "admin, from the command line",
    )?;
    Ok((user, generated))
}

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 12;

/// Refuse passwords shorter than [`MIN_PASSWORD`] characters.
pub fn check_password_strength(password: &str) -> Result<(), Failure> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(Failure::bad_request(format!(
            "a password needs at least {MIN_PASSWORD} characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_verify_only_against_their_own_hash() {
        let hash = hash_secret("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_secret("correct horse battery", &hash));
        assert!(!verify_secret("correct horse batterY", &hash));
        assert!(!verify_secret("x", "not a phc string"));
        // A fresh salt each time.
        assert_ne!(hash, hash_secret("correct horse battery").unwrap());
    }

    #[test]
    fn api_tokens_parse_only_in_their_own_shape() {
        assert_eq!(parse_api_token("assay_12_abc_def"), Some((12, "abc_def")));
        for bad in ["assay_0_x", "assay_x_y", "assay_5_", "bearer", "assay_-1_x"] {
            assert_eq!(parse_api_token(bad), None, "{bad}");
        }
    }

    #[test]
    fn cookies_are_found_among_others_and_set_strictly() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; assay_session=xyz; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&headers, "c"), None);
        let set = set_cookie(SESSION_COOKIE, "v", 60, true);
        for part in ["HttpOnly", "SameSite=Strict", "Secure", "Max-Age=60"] {
            assert!(set.contains(part), "{set}");
        }
        assert!(!set_cookie(SESSION_COOKIE, "v", 60, false).contains("Secure"));
    }

    #[test]
    fn constant_time_comparison_is_still_a_comparison() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
