//! The administrators' API (`admin` role, by token or browser sign-in): services changed live
//! and agents' profiles. `GET /api/admin/services` lists the services now, with where each
//! comes from; `PUT /api/admin/services/{id}` saves one (TOML as in the configuration file, or
//! JSON) and applies it at once; `DELETE` removes it (its waiting calls end `closed`).
//! `GET /api/admin/agents`, `PUT`/`DELETE /api/admin/agents/{id}`: an agent's skills and teams,
//! used from its next sign-in. Every change is in the audit log; a refused one changes nothing.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use relais_proto::Role;
use relais_store::{AdminService, AgentProfile};
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::api::{authorize, blocking};
use crate::state::AppState;

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

async fn audit(
    state: &AppState,
    actor: &str,
    action: &str,
    target: String,
    detail: Option<String>,
) -> Result<(), ApiError> {
    super::api::audit_change(state, actor, action, target, detail).await
}

/// A service as administrators see it.
#[derive(Debug, Serialize)]
struct ServiceView {
    id: String,
    name: String,
    /// `file`, `admin` (added by an administrator) or `file+admin` (the file's, changed).
    source: &'static str,
    /// Open now, as the dispatcher says.
    open: bool,
    service: crate::config::ServiceConfig,
    /// The same settings as TOML, to edit.
    toml: String,
}

/// `GET /api/admin/services`.
pub(super) async fn services(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, &[Role::Admin])?;
    let open: std::collections::BTreeMap<String, bool> = state
        .services_now()
        .await
        .into_iter()
        .map(|s| (s.id, s.open))
        .collect();
    let store = Arc::clone(state.store());
    let stored = blocking(move || store.admin_services()).await?;
    let file = &state.config().services;
    let list: Vec<ServiceView> = state
        .services()
        .iter()
        .map(|service| {
            let in_file = file.iter().any(|s| s.id == service.id);
            let changed = stored.iter().any(|row| row.service_id == service.id);
            ServiceView {
                id: service.id.clone(),
                name: service.name.clone(),
                source: match (in_file, changed) {
                    (true, false) => "file",
                    (false, _) => "admin",
                    (true, true) => "file+admin",
                },
                open: open.get(&service.id).copied().unwrap_or(false),
                service: service.clone(),
                toml: crate::admin::to_toml(service),
            }
        })
        .collect();
    Ok(Json(list).into_response())
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// `PUT /api/admin/services/{id}`.
pub(super) async fn put_service(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let claims = authorize(&state, &headers, &[Role::Admin])?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::BadRequest("the body is not UTF-8".into()))?;
    let service = crate::admin::parse(text, is_json(&headers)).map_err(ApiError::BadRequest)?;
    if service.id != id {
        return Err(ApiError::BadRequest(format!(
            "the body's id `{}` is not the path's `{id}`",
            service.id
        )));
    }
    let mut next = state.services().as_ref().clone();
    let created = match next.iter_mut().find(|s| s.id == id) {
        Some(slot) => {
            *slot = service.clone();
            false
        }
        None => {
            next.push(service.clone());
            true
        }
    };
    save(&state, &claims.sub, next, &id, Some(&service)).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(serde_json::json!({"id": id, "created": created})),
    )
        .into_response())
}

/// `DELETE /api/admin/services/{id}`.
pub(super) async fn delete_service(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let claims = authorize(&state, &headers, &[Role::Admin])?;
    let mut next = state.services().as_ref().clone();
    let before = next.len();
    next.retain(|s| s.id != id);
    if next.len() == before {
        return Err(ApiError::NotFound);
    }
    save(&state, &claims.sub, next, &id, None).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Checks and applies `next`, then keeps the change and audits it. Refused: nothing changes.
async fn save(
    state: &AppState,
    actor: &str,
    next: Vec<crate::config::ServiceConfig>,
    id: &str,
    service: Option<&crate::config::ServiceConfig>,
) -> Result<(), ApiError> {
    crate::admin::check(&next).map_err(ApiError::BadRequest)?;
    let definition = service.map(|s| serde_json::to_string(s).unwrap_or_default());
    let row = AdminService {
        service_id: id.to_owned(),
        definition: definition.clone(),
        updated_at_ms: now_ms(),
        updated_by: actor.to_owned(),
    };
    // Kept first: a change the store did not take is not applied (it would not survive a
    // restart).
    let store = Arc::clone(state.store());
    blocking(move || store.put_admin_service(&row)).await?;
    state
        .apply_services(next)
        .await
        .map_err(|err| ApiError::Conflict(format!("the services could not be applied: {err}")))?;
    let action = if service.is_some() {
        "service_saved"
    } else {
        "service_deleted"
    };
    tracing::info!(
        service = id,
        actor,
        action,
        "services changed by an administrator"
    );
    audit(state, actor, action, format!("service:{id}"), definition).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileBody {
    #[serde(default)]
    skills: Vec<(String, u8)>,
    #[serde(default)]
    teams: Vec<String>,
}

/// `GET /api/admin/agents`: the agents' profiles.
pub(super) async fn agents(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, &[Role::Admin])?;
    let store = Arc::clone(state.store());
    Ok(Json(blocking(move || store.agent_profiles()).await?).into_response())
}

/// `PUT /api/admin/agents/{id}`.
pub(super) async fn put_agent(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let claims = authorize(&state, &headers, &[Role::Admin])?;
    let body: ProfileBody = serde_json::from_slice(&body)
        .map_err(|err| ApiError::BadRequest(format!("bad JSON body: {err}")))?;
    if id.trim().is_empty() || id.len() > 128 {
        return Err(ApiError::BadRequest("the agent id is 1–128 bytes".into()));
    }
    if let Some((skill, level)) = body.skills.iter().find(|(skill, level)| {
        skill.trim().is_empty() || skill.len() > 64 || !(1..=5).contains(level)
    }) {
        return Err(ApiError::BadRequest(format!(
            "skill `{skill}` at {level}: a name of 1–64 bytes at proficiency 1 to 5"
        )));
    }
    if body.teams.len() > 32
        || body
            .teams
            .iter()
            .any(|t| t.trim().is_empty() || t.len() > 64)
    {
        return Err(ApiError::BadRequest(
            "at most 32 teams of 1–64 bytes".into(),
        ));
    }
    let profile = AgentProfile {
        agent_id: id.clone(),
        skills: body.skills,
        teams: body.teams,
        updated_at_ms: now_ms(),
        updated_by: claims.sub.clone(),
    };
    let detail = serde_json::to_string(&profile).ok();
    let store = Arc::clone(state.store());
    let kept = profile.clone();
    blocking(move || store.put_agent_profile(&kept)).await?;
    audit(
        &state,
        &claims.sub,
        "agent_profile_saved",
        format!("agent:{id}"),
        detail,
    )
    .await?;
    Ok(Json(profile).into_response())
}

/// `DELETE /api/admin/agents/{id}`.
pub(super) async fn delete_agent(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let claims = authorize(&state, &headers, &[Role::Admin])?;
    let store = Arc::clone(state.store());
    let key = id.clone();
    if !blocking(move || store.delete_agent_profile(&key)).await? {
        return Err(ApiError::NotFound);
    }
    audit(
        &state,
        &claims.sub,
        "agent_profile_deleted",
        format!("agent:{id}"),
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A browser session as administrators see it (never its cookie or hash).
#[derive(Debug, Serialize)]
struct SessionView {
    subject: String,
    name: String,
    roles: Vec<String>,
    method: String,
    created_at_ms: i64,
    expires_ms: i64,
    /// Websockets open with it now.
    connections: usize,
}

/// `GET /api/admin/sessions`: who is signed in in a browser.
pub(super) async fn sessions(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, &[Role::Admin])?;
    let hub = state.hub();
    let list: Vec<SessionView> = state
        .signin()
        .list()
        .into_iter()
        .map(|s| SessionView {
            connections: hub
                .sessions
                .iter()
                .filter(|e| e.web.as_deref() == Some(s.session_hash.as_str()))
                .count(),
            subject: s.subject,
            name: s.name,
            roles: s.roles,
            method: s.method,
            created_at_ms: s.created_at_ms,
            expires_ms: s.expires_ms,
        })
        .collect();
    Ok(Json(list).into_response())
}

/// `DELETE /api/admin/sessions/{subject}`: signs a person out everywhere (a lost laptop, a
/// colleague who left): its sessions end and their consoles close at once.
pub(super) async fn end_sessions(
    State(state): State<AppState>,
    Path(subject): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let claims = authorize(&state, &headers, &[Role::Admin])?;
    let ended = state
        .signin()
        .end_person(state.store(), state.hub(), &subject)
        .await;
    if ended == 0 {
        return Err(ApiError::NotFound);
    }
    audit(
        &state,
        &claims.sub,
        "sessions_ended",
        format!("person:{subject}"),
        Some(format!("{ended} sessions")),
    )
    .await?;
    Ok(Json(serde_json::json!({"subject": subject, "ended": ended})).into_response())
}
