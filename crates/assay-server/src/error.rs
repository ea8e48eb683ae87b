//! What can go wrong in a request, and how pages and the API say it.

use assay_store::StoreError;
use axum::http::StatusCode;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A template did not compile (a bug, caught by every test).
    #[error("templates: {0}")]
    Template(#[from] minijinja::Error),
    /// A file or directory could not be made or read.
    #[error("{0}")]
    Io(String),
    /// The store refused.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a request failed: an HTTP status and a message for the caller (never a password or a
/// token; a store fault's message may name a path of the server's disk).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct Failure {
    /// The status.
    pub status: StatusCode,
    /// What to tell the caller.
    pub message: String,
}

impl Failure {
    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Failure {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// 401: nobody is logged in (pages redirect to the login form instead).
    pub fn unauthorized() -> Self {
        Failure {
            status: StatusCode::UNAUTHORIZED,
            message: "log in first".into(),
        }
    }

    /// 403: logged in, but the role does not allow it, or the CSRF token is wrong.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Failure {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
        }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Failure {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    /// 413: an upload over the limit.
    pub fn too_large(message: impl Into<String>) -> Self {
        Failure {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: message.into(),
        }
    }

    /// 500: a fault of the server or its store.
    pub fn internal(message: impl Into<String>) -> Self {
        Failure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => Failure::not_found(e.to_string()),
            StoreError::Invalid(m) => Failure::bad_request(m),
            StoreError::BadReport(_) | StoreError::Signature(_) => {
                Failure::bad_request(e.to_string())
            }
            e if e.is_transient() => Failure {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: format!("the store cannot be reached ({e}); try again"),
            },
            e => Failure::internal(format!("store: {e}")),
        }
    }
}

impl From<ServerError> for Failure {
    fn from(e: ServerError) -> Self {
        Failure::internal(e.to_string())
    }
}
