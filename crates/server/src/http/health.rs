//! Liveness, readiness and the Prometheus scrape endpoint.

use axum::extract::State;
use axum::http::header;
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

/// Every metric in the Prometheus text format.
pub(super) async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
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
