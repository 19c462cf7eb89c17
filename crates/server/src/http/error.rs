//! One error type for every handler: a status and a message for the client; server-side
//! failures are logged in full and shown only as a generic message.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answer of the HTTP API.
#[derive(Debug)]
pub enum ApiError {
    /// The path names nothing.
    NotFound,
    /// The server cannot serve this now (starting or draining).
    Unavailable(&'static str),
    /// The request is malformed.
    BadRequest(String),
    /// No valid credentials.
    Unauthorized(&'static str),
    /// Valid credentials without the right.
    Forbidden(&'static str),
    /// The request's state does not allow it (a call that is not connected, a limit reached).
    Conflict(String),
    /// The body is larger than taken.
    TooLarge(String),
    /// The body's content is of a type not taken.
    Unsupported(String),
    /// A failure inside the server; details go to the log only.
    Internal(anyhow::Error),
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match &self {
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found", "no such resource"),
            ApiError::Unavailable(why) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", *why),
            ApiError::BadRequest(why) => (StatusCode::BAD_REQUEST, "bad_request", why.as_str()),
            ApiError::Unauthorized(why) => (StatusCode::UNAUTHORIZED, "unauthorized", *why),
            ApiError::Forbidden(why) => (StatusCode::FORBIDDEN, "forbidden", *why),
            ApiError::Conflict(why) => (StatusCode::CONFLICT, "conflict", why.as_str()),
            ApiError::TooLarge(why) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large", why.as_str()),
            ApiError::Unsupported(why) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_type",
                why.as_str(),
            ),
            ApiError::Internal(err) => {
                tracing::error!(error = format!("{err:#}"), "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal server error",
                )
            }
        };
        (
            status,
            Json(Body {
                error: code,
                message,
            }),
        )
            .into_response()
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        ApiError::Internal(err)
    }
}

pub(super) async fn not_found() -> ApiError {
    ApiError::NotFound
}
