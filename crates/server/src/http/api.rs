//! The REST API, for supervisors and administrators (Bearer token): `GET /api/calls` lists
//! call records of a period as JSON or CSV, `GET /api/audit` the supervision audit log.

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
    /// Records per page (default and most: [`MAX_PAGE`]).
    limit: Option<usize>,
    /// The cursor of the previous page's `next` (`<ended_at_ms>:<call_id>`).
    after: Option<String>,
}

/// Most records in one answer; a longer period is read page by page.
pub const MAX_PAGE: usize = 5000;
/// Longest period one request may name.
pub const MAX_RANGE_DAYS: i64 = 366;
/// The response header carrying the next page's cursor, when there is one.
pub const NEXT_HEADER: &str = "x-relais-next";

fn parse_cursor(text: &str) -> Result<(i64, u64), ApiError> {
    let bad = || ApiError::BadRequest("`after` is `<ended_at_ms>:<call_id>`".to_owned());
    let (ms, id) = text.split_once(':').ok_or_else(bad)?;
    Ok((
        ms.parse().map_err(|_| bad())?,
        id.parse().map_err(|_| bad())?,
    ))
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
        .and_then(|value| value.strip_prefix("Bearer "));
    let Some(token) = token else {
        return web_claims(state, headers, roles);
    };
    let claims = state
        .verify_token(token)
        .map_err(|_| ApiError::Unauthorized("the token is invalid, expired or revoked"))?;
    if !roles.contains(&claims.role) {
        return Err(ApiError::Forbidden("this role may not read this"));
    }
    Ok(claims)
}

/// Runs store work off the async threads; a failure is an internal error.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> relais_store::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| ApiError::Internal(err.into()))?
        .map_err(|err| ApiError::Internal(err.into()))
}

/// Writes an administrator's change to the audit log, dated now.
pub(super) async fn audit_change(
    state: &AppState,
    actor: &str,
    action: &str,
    target: String,
    detail: Option<String>,
) -> Result<(), ApiError> {
    let entry = relais_store::AuditEntry {
        at_ms: jiff::Timestamp::now().as_millisecond(),
        actor: actor.to_owned(),
        action: action.to_owned(),
        target,
        detail,
    };
    crate::audit::write(state.store(), entry)
        .await
        .map_err(ApiError::Internal)
}

/// Claims of the browser sign-in a request's cookie names, as the first of `roles` it has.
/// Only from this server's own pages (the `Origin` check stops another site's forms and
/// scripts from using the cookie).
fn web_claims(
    state: &AppState,
    headers: &HeaderMap,
    roles: &[Role],
) -> Result<crate::auth::Claims, ApiError> {
    let session = state
        .signin()
        .of_headers(headers)
        .ok_or(ApiError::Unauthorized(
            "a Bearer token or a signed-in session is required",
        ))?;
    if !crate::signin::same_origin(headers, state.config().http.public_url.as_deref()) {
        return Err(ApiError::Forbidden(
            "the session cookie works from this server's pages only",
        ));
    }
    let role = roles
        .iter()
        .copied()
        .find(|role| crate::signin::pick_role(&session, Some(*role)).is_some())
        .ok_or(ApiError::Forbidden("this role may not read this"))?;
    // Skills matter to the dispatcher only, never to the API.
    Ok(crate::signin::claims(&session, role, Vec::new()))
}

/// The period of a request: `to` defaults to now, `from` to a day before `to`.
pub(super) fn period_of(from: Option<&str>, to: Option<&str>) -> Result<(i64, i64), ApiError> {
    let to = match to {
        Some(text) => parse_time(text, "to")?,
        None => jiff::Timestamp::now().as_millisecond() + 1,
    };
    let from = match from {
        Some(text) => parse_time(text, "from")?,
        None => to - 24 * 3600 * 1000,
    };
    if from > to {
        return Err(ApiError::BadRequest("`from` is after `to`".to_owned()));
    }
    if to - from > MAX_RANGE_DAYS * 24 * 3600 * 1000 {
        return Err(ApiError::BadRequest(format!(
            "a request covers at most {MAX_RANGE_DAYS} days; split the period"
        )));
    }
    Ok((from, to))
}

#[derive(Debug, Deserialize)]
pub(super) struct AuditPeriod {
    from: Option<String>,
    to: Option<String>,
}

/// Most audit entries in one answer (`truncated` says when the period holds more).
pub const MAX_AUDIT_ENTRIES: usize = 10_000;

/// `GET /api/audit`: who supervised which call, in which mode, when.
pub(super) async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(period): Query<AuditPeriod>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, &[Role::Supervisor, Role::Admin])?;
    let (from, to) = period_of(period.from.as_deref(), period.to.as_deref())?;
    let store = Arc::clone(state.store());
    let mut entries = tokio::task::spawn_blocking(move || store.audit_between(from, to))
        .await
        .map_err(|err| ApiError::Internal(err.into()))?
        .map_err(|err| ApiError::Internal(err.into()))?;
    let truncated = entries.len() > MAX_AUDIT_ENTRIES;
    entries.truncate(MAX_AUDIT_ENTRIES);
    Ok(axum::Json(serde_json::json!({
        "from": from,
        "to": to,
        "entries": entries,
        "truncated": truncated,
    }))
    .into_response())
}

pub(super) async fn calls(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(period): Query<Period>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, &[Role::Supervisor, Role::Admin])?;
    let (from, to) = period_of(period.from.as_deref(), period.to.as_deref())?;
    let limit = period.limit.unwrap_or(MAX_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::BadRequest(format!(
            "`limit` is between 1 and {MAX_PAGE}"
        )));
    }
    let after = period.after.as_deref().map(parse_cursor).transpose()?;
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
    // One more than a page tells whether another page follows.
    let mut records =
        tokio::task::spawn_blocking(move || store.calls_page(from, to, after, limit + 1))
            .await
            .map_err(|err| ApiError::Internal(err.into()))?
            .map_err(|err| ApiError::Internal(err.into()))?;
    let next = if records.len() > limit {
        records.truncate(limit);
        records
            .last()
            .map(|last| format!("{}:{}", last.ended_at_ms, last.call_id))
    } else {
        None
    };
    let mut response = if csv {
        (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"calls.csv\"",
                ),
            ],
            relais_store::calls_to_csv(&records),
        )
            .into_response()
    } else {
        axum::Json(serde_json::json!({ "from": from, "to": to, "calls": records, "next": next }))
            .into_response()
    };
    if let Some(next) = next
        && let Ok(value) = header::HeaderValue::from_str(&next)
    {
        response.headers_mut().insert(NEXT_HEADER, value);
    }
    Ok(response)
}
