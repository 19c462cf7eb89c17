//! The REST API: `GET /api/calls` lists call records of a period as JSON or CSV, for
//! supervisors and administrators (Bearer token).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use relais_proto::Role;
use serde::Deserialize;

use super::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub(super) struct Period {
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
}

/// A time as Unix milliseconds or RFC 3339 (`2026-11-29T08:00:00Z`, `2026-11-29T09:00:00+01:00`).
fn parse_time(text: &str, name: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    text.parse::<jiff::Timestamp>()
        .map(|ts| ts.as_millisecond())
        .map_err(|_| {
            ApiError::BadRequest(format!(
                "`{name}` is neither Unix milliseconds nor an RFC 3339 time"
            ))
        })
}

/// Checks the Bearer token for one of `roles`.
pub(super) fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    roles: &[Role],
) -> Result<crate::auth::Claims, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized("a Bearer token is required"))?;
    let claims = state
        .tokens()
        .verify(token, crate::auth::now_secs())
        .map_err(|_| ApiError::Unauthorized("the token is invalid or expired"))?;
    if !roles.contains(&claims.role) {
        return Err(ApiError::Forbidden("this role may not read call records"));
    }
    Ok(claims)
}

pub(super) async fn calls(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(period): Query<Period>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, &[Role::Supervisor, Role::Admin])?;
    let to = match period.to.as_deref() {
        Some(text) => parse_time(text, "to")?,
        None => jiff::Timestamp::now().as_millisecond() + 1,
    };
    let from = match period.from.as_deref() {
        Some(text) => parse_time(text, "from")?,
        None => to - 24 * 3600 * 1000,
    };
    if from > to {
        return Err(ApiError::BadRequest("`from` is after `to`".to_owned()));
    }
    let csv = match period.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "unknown format `{other}` (json or csv)"
            )));
        }
    };
    let store = Arc::clone(state.store());
    let records = tokio::task::spawn_blocking(move || store.calls_between(from, to))
        .await
        .map_err(|err| ApiError::Internal(err.into()))?
        .map_err(|err| ApiError::Internal(err.into()))?;
    if csv {
        Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"calls.csv\"",
                ),
            ],
            relais_store::calls_to_csv(&records),
        )
            .into_response())
    } else {
        Ok(
            axum::Json(serde_json::json!({ "from": from, "to": to, "calls": records }))
                .into_response(),
        )
    }
}
