//! Liveness, readiness and the Prometheus scrape endpoint.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;

use super::ApiError;
use crate::state::AppState;

/// Alive: the process answers HTTP.
pub(super) async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready: started and not draining. Load balancers stop sending work when this fails.
pub(super) async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    if state.is_ready() {
        Ok("ready\n")
    } else {
        Err(ApiError::Unavailable("starting or shutting down"))
    }
}

/// Every metric in the Prometheus text format. With `http.metrics_token` set, only for a
/// scraper that presents it as a Bearer token.
pub(super) async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(expected) = &state.config().http.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized(
                "this server's metrics need a Bearer token",
            ))?;
        if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            return Err(ApiError::Unauthorized("wrong metrics token"));
        }
    }
    let body = state
        .metrics()
        .render()
        .map_err(|err| ApiError::Internal(err.into()))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    ))
}

/// Compares two secrets without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
