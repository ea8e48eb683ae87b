//! Who may use a store through a server: users with roles, browser sessions, API tokens, and
//! the audit log of what they did. The store keeps hashes only; the server makes them (argon2
//! for passwords and token secrets, SHA-256 for random session cookies) and checks them.

use crate::db::{Row, TxKind};
use crate::{Store, StoreError};
use serde::{Deserialize, Serialize};

/// What a user may do; each role may do everything the roles below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads images, reports and answers.
    Viewer,
    /// Also uploads and registers images, queues scans, approves releases.
    Analyst,
    /// Also manages users and tokens, deletes images, reads the audit log.
    Admin,
}

impl Role {
    /// Every role, weakest first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Analyst, Role::Admin];

    /// The name stored in the database and shown in the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may do what `needed` may.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl std::str::FromStr for Role {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "analyst" => Ok(Role::Analyst),
            "admin" => Ok(Role::Admin),
            other => Err(StoreError::Invalid(format!(
                "role {other:?}: expected viewer, analyst or admin"
            ))),
        }
    }
}

/// A user, without the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// Store id.
    pub id: i64,
    /// Login name.
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// When the user was created (Unix ms).
    pub created_at: i64,
    /// A disabled user cannot log in, and their sessions and tokens stop working.
    pub disabled: bool,
}

/// A browser session as the server reads it on each request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Whose session it is.
    pub user: UserRecord,
    /// The CSRF token its forms must carry.
    pub csrf: String,
    /// When it ends (Unix ms).
    pub expires_at: i64,
}

/// An API token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenRecord {
    /// Store id (the public part of the token).
    pub id: i64,
    /// The user the token acts as.
    pub user_id: i64,
    /// What it is for (`ci`, `nightly import`).
    pub name: String,
    /// When it was made (Unix ms).
    pub created_at: i64,
    /// When it was last used (Unix ms).
    pub last_used_at: Option<i64>,
    /// When it was revoked (Unix ms); a revoked token is refused.
    pub revoked_at: Option<i64>,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Store id (increasing).
    pub id: i64,
    /// When (Unix ms).
    pub at: i64,
    /// Who (a user name, `-` when nobody logged in, as in a failed login).
    pub actor: String,
    /// What (`login`, `login-failed`, `upload`, `download`, `approve`, `delete`, …).
    pub action: String,
    /// On what (`image 12`, `user alice`).
    pub target: String,
    /// Anything else worth keeping (a file name, a reason).
    pub detail: String,
}

const USER_COLUMNS: &str = "u.id, u.name, u.role, u.created_at, u.disabled";

fn user_of_row(row: &Row) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        id: row.int(0)?,
        name: row.text(1)?,
        role: row.text(2)?.parse()?,
        created_at: row.int(3)?,
        disabled: row.int(4)? != 0,
    })
}

fn token_of_row(row: &Row, at: usize) -> Result<ApiTokenRecord, StoreError> {
    Ok(ApiTokenRecord {
        id: row.int(at)?,
        user_id: row.int(at + 1)?,
        name: row.text(at + 2)?,
        created_at: row.int(at + 3)?,
        last_used_at: row.opt_int(at + 4)?,
        revoked_at: row.opt_int(at + 5)?,
    })
}

const TOKEN_COLUMNS: &str =
    "t.id, t.user_id, t.name, t.created_at, t.last_used_at, t.revoked_at, t.secret_hash";

/// The longest user name: names appear in pages and logs.
const MAX_USER_NAME: usize = 64;

impl Store {
    /// Create a user with an already hashed password. Names are 1–64 characters of letters,
    /// digits, `.`, `_`, `-` and `@`, and unique.
    pub fn create_user(
        &self,
        name: &str,
        role: Role,
        password_hash: &str,
    ) -> Result<UserRecord, StoreError> {
        if name.is_empty()
            || name.len() > MAX_USER_NAME
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
        {
            return Err(StoreError::Invalid(format!(
                "user name {name:?}: 1 to {MAX_USER_NAME} letters, digits, '.', '_', '-' or '@'"
            )));
        }
        let now = self.now();
        self.db().transaction(TxKind::Write, |sql| {
            let inserted = sql.query(
                "INSERT INTO users (name, role, password_hash, created_at, disabled)
                 VALUES ($1, $2, $3, $4, 0)
                 ON CONFLICT (name) DO NOTHING
                 RETURNING id",
                &[
                    name.into(),
                    role.as_str().into(),
                    password_hash.into(),
                    now.into(),
                ],
            )?;
            let id = inserted
                .first()
                .ok_or_else(|| StoreError::Invalid(format!("user {name:?} exists")))?
                .int(0)?;
            Ok(UserRecord {
                id,
                name: name.to_string(),
                role,
                created_at: now,
                disabled: false,
            })
        })
    }

    /// A user by login name, with the password hash to check a login against.
    pub fn user_for_login(&self, name: &str) -> Result<Option<(UserRecord, String)>, StoreError> {
        self.db().transaction(TxKind::Read, |sql| {
            sql.query(
                &format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.name = $1"),
                &[name.into()],
            )?
            .first()
            .map(|row| Ok((user_of_row(row)?, row.text(5)?)))
            .transpose()
        })
    }

    /// One user.
    pub fn user(&self, id: i64) -> Result<UserRecord, StoreError> {
        self.db().transaction(TxKind::Read, |sql| {
            sql.query(
                &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1"),
                &[id.into()],
            )?
            .first()
            .map(user_of_row)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound {
                what: "user",
                id: id.to_string(),
            })
        })
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.db().transaction(TxKind::Read, |sql| {
            sql.query(
                &format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.name"),
                &[],
            )?
            .iter()
            .map(user_of_row)
            .collect()
        })
    }

    /// How many users there are (none: the server asks for `--create-admin`).
    pub fn user_count(&self) -> Result<i64, StoreError> {
        self.db().transaction(TxKind::Read, |sql| {
            sql.query("SELECT CAST(COUNT(*) AS BIGINT) FROM users", &[])?
                .first()
                .map(|r| r.int(0))
                .transpose()
                .map(Option::unwrap_or_default)
        })
    }

    /// Change a user's role, password hash or disabled flag (each when given). Disabling a
    /// user or changing the password ends the user's sessions.
    pub fn update_user(
        &self,
        id: i64,
        role: Option<Role>,
        password_hash: Option<&str>,
        disabled: Option<bool>,
    ) -> Result<UserRecord, StoreError> {
        self.user(id)?;
        self.db().transaction(TxKind::Write, |sql| {
            if let Some(role) = role {
                sql.execute(
                    "UPDATE users SET role = $1 WHERE id = $2",
                    &[role.as_str().into(), id.into()],
                )?;
            }
            if let Some(hash) = password_hash {
                sql.execute(
                    "UPDATE users SET password_hash = $1 WHERE id = $2",
                    &[hash.into(), id.into()],
                )?;
            }
            if let Some(disabled) = disabled {
                sql.execute(
                    "UPDATE users SET disabled = $1 WHERE id = $2",
                    &[i64::from(disabled).into(), id.into()],
                )?;
            }
            if password_hash.is_some() || disabled == Some(true) {
                sql.execute("DELETE FROM sessions WHERE user_id = $1", &[id.into()])?;
            }
            Ok(())
        })?;
        self.user(id)
    }

    /// Start a session for a user: `token_hash` is the SHA-256 of the cookie value.
    pub fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let now = self.now();
        self.db().transaction(TxKind::Write, |sql| {
            // Sessions that ended are removed as new ones begin.
            sql.execute("DELETE FROM sessions WHERE expires_at <= $1", &[now.into()])?;
            sql.execute(
                "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    token_hash.into(),
                    user_id.into(),
                    csrf.into(),
                    now.into(),
                    expires_at.into(),
                ],
            )?;
            Ok(())
        })
    }

    /// The live session with this cookie hash: not expired, of a user who is not disabled.
    pub fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let now = self.now();
        self.db().transaction(TxKind::Read, |sql| {
            sql.query(
                &format!(
                    "SELECT {USER_COLUMNS}, s.csrf, s.expires_at
                     FROM sessions s JOIN users u ON u.id = s.user_id
                     WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled = 0"
                ),
                &[token_hash.into(), now.into()],
            )?
            .first()
            .map(|row| {
                Ok(SessionRecord {
                    user: user_of_row(row)?,
                    csrf: row.text(5)?,
                    expires_at: row.int(6)?,
                })
            })
            .transpose()
        })
    }

    /// End a session (logout).
    pub fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        self.db().transaction(TxKind::Write, |sql| {
            sql.execute(
                "DELETE FROM sessions WHERE token_hash = $1",
                &[token_hash.into()],
            )?;
            Ok(())
        })
    }

    /// Make an API token for a user; `secret_hash` is the argon2 hash of its secret.
    pub fn create_api_token(
        &self,
        user_id: i64,
        name: &str,
        secret_hash: &str,
    ) -> Result<ApiTokenRecord, StoreError> {
        self.user(user_id)?;
        let now = self.now();
        self.db().transaction(TxKind::Write, |sql| {
            let id = sql
                .query(
                    "INSERT INTO api_tokens (user_id, name, secret_hash, created_at)
                     VALUES ($1, $2, $3, $4) RETURNING id",
                    &[user_id.into(), name.into(), secret_hash.into(), now.into()],
                )?
                .first()
                .ok_or_else(|| StoreError::Row("no id for the new token".into()))?
                .int(0)?;
            Ok(ApiTokenRecord {
                id,
                user_id,
                name: name.to_string(),
                created_at: now,
                last_used_at: None,
                revoked_at: None,
            })
        })
    }

    /// A token that may be used (not revoked, its user not disabled), with its secret's hash
    /// and its user.
    pub fn api_token_for_use(
        &self,
        id: i64,
    ) -> Result<Option<(ApiTokenRecord, String, UserRecord)>, StoreError> {
        self.db().transaction(TxKind::Read, |sql| {
            sql.query(
                &format!(
                    "SELECT {USER_COLUMNS}, {TOKEN_COLUMNS}
                     FROM api_tokens t JOIN users u ON u.id = t.user_id
                     WHERE t.id = $1 AND t.revoked_at IS NULL AND u.disabled = 0"
                ),
                &[id.into()],
            )?
            .first()
            .map(|row| Ok((token_of_row(row, 5)?, row.text(11)?, user_of_row(row)?)))
            .transpose()
        })
    }

    /// Record that a token was used now.
    pub fn touch_api_token(&self, id: i64) -> Result<(), StoreError> {
        let now = self.now();
        self.db().transaction(TxKind::Write, |sql| {
            sql.execute(
                "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2",
                &[now.into(), id.into()],
            )?;
            Ok(())
        })
    }

    /// Every token (of one user, or of all), newest first.
    pub fn api_tokens(&self, user_id: Option<i64>) -> Result<Vec<ApiTokenRecord>, StoreError> {
        let (filter, params) = match user_id {
            Some(id) => ("WHERE t.user_id = $1", vec![id.into()]),
            None => ("", Vec::new()),
        };
        self.db().transaction(TxKind::Read, |sql| {
            sql.query(
                &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens t {filter} ORDER BY t.id DESC"),
                &params,
            )?
            .iter()
            .map(|r| token_of_row(r, 0))
            .collect()
        })
    }

    /// Revoke a token; it is refused from now on.
    pub fn revoke_api_token(&self, id: i64) -> Result<(), StoreError> {
        let now = self.now();
        let changed = self.db().transaction(TxKind::Write, |sql| {
            sql.execute(
                "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                &[now.into(), id.into()],
            )
        })?;
        if changed == 0 {
            return Err(StoreError::NotFound {
                what: "live API token",
                id: id.to_string(),
            });
        }
        Ok(())
    }

    /// Add an entry to the audit log.
    pub fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        let now = self.now();
        self.db().transaction(TxKind::Write, |sql| {
            sql.execute(
                "INSERT INTO audit (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
                &[
                    now.into(),
                    actor.into(),
                    action.into(),
                    target.into(),
                    detail.into(),
                ],
            )?;
            Ok(())
        })
    }

    /// How many audit entries of `action` about `target` were written at or after `since`
    /// (Unix ms): failed logins for a name, to slow down password guessing.
    pub fn audit_count(&self, action: &str, target: &str, since: i64) -> Result<i64, StoreError> {
        self.db().transaction(TxKind::Read, |sql| {
            sql.query(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM audit
                 WHERE target = $1 AND action = $2 AND at >= $3",
                &[target.into(), action.into(), since.into()],
            )?
            .first()
            .map(|r| r.int(0))
            .transpose()
            .map(Option::unwrap_or_default)
        })
    }

    /// The audit log, newest first: at most `limit` entries older than entry `before`.
    pub fn audit_log(
        &self,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.db().transaction(TxKind::Read, |sql| {
            sql.query(
                "SELECT id, at, actor, action, target, detail FROM audit
                 WHERE id < $1 ORDER BY id DESC LIMIT $2",
                &[before.unwrap_or(i64::MAX).into(), limit.max(0).into()],
            )?
            .iter()
            .map(|row| {
                Ok(AuditEntry {
                    id: row.int(0)?,
                    at: row.int(1)?,
                    actor: row.text(2)?,
                    action: row.text(3)?,
                    target: row.text(4)?,
                    detail: row.text(5)?,
                })
            })
            .collect()
        })
    }
}
