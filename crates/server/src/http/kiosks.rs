//! Kiosk enrolment over HTTP.
//!
//! Administrators (`admin` token): `POST /api/admin/kiosks` creates a kiosk and returns its
//! one-time pairing code, `GET /api/admin/kiosks` lists them, `POST
//! /api/admin/kiosks/{id}/pairing` gives a kiosk a new code, `POST
//! /api/admin/kiosks/{id}/revoke` revokes it and closes its connections. Kiosks: `POST
//! /api/kiosk/pair` exchanges a code for a device credential, `POST /api/kiosk/renew` (with that
//! credential) gives a fresh one. Every administrator's change is in the audit log.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use relais_proto::Role;
use relais_store::Kiosk;
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::api::{authorize, blocking};
use crate::enrolment::{self, PAIRING_SECS};
use crate::hub::Outgoing;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKiosk {
    kiosk: String,
    site: String,
    #[serde(default)]
    services: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pairing {
    code: String,
}

/// A kiosk as administrators see it.
#[derive(Debug, Serialize)]
struct KioskView {
    kiosk: String,
    site: String,
    services: Vec<String>,
    created_at_ms: i64,
    created_by: String,
    paired_at_ms: Option<i64>,
    /// When the pending pairing code stops working; none pending: absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pairing_expires_ms: Option<i64>,
    revoked_at_ms: Option<i64>,
    last_seen_ms: Option<i64>,
    /// Connected now.
    online: bool,
    /// Its camera, microphone and browser as it last said (since the server started).
    #[serde(skip_serializing_if = "Option::is_none")]
    devices: Option<crate::hub::KioskDevices>,
}

/// A pairing code just made: shown once, to the administrator who asked.
#[derive(Debug, Serialize)]
struct CodeIssued {
    kiosk: String,
    code: String,
    expires_at_ms: i64,
}

/// A device credential for a kiosk.
#[derive(Debug, Serialize)]
struct Credential {
    kiosk: String,
    site: String,
    credential: String,
    expires_at_ms: i64,
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|err| ApiError::BadRequest(format!("bad JSON body: {err}")))
}

async fn audit(
    state: &AppState,
    actor: &str,
    action: &str,
    kiosk: &str,
    detail: Option<String>,
) -> Result<(), ApiError> {
    super::api::audit_change(state, actor, action, format!("kiosk:{kiosk}"), detail).await
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn view(state: &AppState, kiosk: Kiosk) -> KioskView {
    let online = state
        .hub()
        .sessions
        .iter()
        .any(|s| s.role == Role::Kiosk && s.subject == kiosk.kiosk_id);
    let devices = state
        .hub()
        .kiosk_devices
        .get(&kiosk.kiosk_id)
        .map(|d| d.clone());
    KioskView {
        devices,
        kiosk: kiosk.kiosk_id,
        site: kiosk.site,
        services: kiosk.services,
        created_at_ms: kiosk.created_at_ms,
        created_by: kiosk.created_by,
        paired_at_ms: kiosk.paired_at_ms,
        pairing_expires_ms: kiosk.pairing_expires_ms,
        revoked_at_ms: kiosk.revoked_at_ms,
        last_seen_ms: kiosk.last_seen_ms,
        online,
    }
}

/// `POST /api/admin/kiosks`: `{"kiosk": id, "site": …, "services": [...]}` → 201 with the code.
pub(super) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let admin = authorize(&state, &headers, &[Role::Admin])?;
    let asked: NewKiosk = parse(&body)?;
    if !enrolment::valid_kiosk_id(&asked.kiosk) {
        return Err(ApiError::BadRequest(
            "`kiosk` is 1–64 letters, digits, `.`, `_` or `-`".into(),
        ));
    }
    let site = asked.site.trim().to_owned();
    if site.is_empty() || site.chars().count() > 128 {
        return Err(ApiError::BadRequest("`site` is 1–128 characters".into()));
    }
    if let Some(unknown) = asked.services.iter().find(|s| {
        !state
            .services()
            .iter()
            .any(|c| c.id == **s && !c.interpreter)
    }) {
        return Err(ApiError::BadRequest(format!(
            "`services`: no service `{unknown}` for kiosks to call"
        )));
    }
    let code = enrolment::new_code();
    let hash = enrolment::code_hash(&code)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a new code does not read back")))?;
    let now = now_ms();
    let kiosk = Kiosk {
        kiosk_id: asked.kiosk.clone(),
        site,
        services: asked.services,
        created_at_ms: now,
        created_by: admin.sub.clone(),
        pairing_expires_ms: Some(now + PAIRING_SECS * 1000),
        paired_at_ms: None,
        generation: 0,
        revoked_at_ms: None,
        last_seen_ms: None,
    };
    let store = Arc::clone(state.store());
    let row = kiosk.clone();
    if !blocking(move || store.create_kiosk(&row, &hash)).await? {
        return Err(ApiError::Conflict(format!(
            "a kiosk `{}` exists; give it a new pairing code instead",
            kiosk.kiosk_id
        )));
    }
    state.enrolment().set(&kiosk.kiosk_id, Some(0));
    audit(
        &state,
        &admin.sub,
        "kiosk_created",
        &kiosk.kiosk_id,
        Some(format!(
            "site={}; services={}",
            kiosk.site,
            kiosk.services.join(",")
        )),
    )
    .await?;
    tracing::info!(kiosk = %kiosk.kiosk_id, admin = %admin.sub, "kiosk created");
    let issued = CodeIssued {
        kiosk: kiosk.kiosk_id,
        code,
        expires_at_ms: now + PAIRING_SECS * 1000,
    };
    Ok((StatusCode::CREATED, Json(issued)).into_response())
}

/// `GET /api/admin/kiosks`: every kiosk, with when it was last seen and whether it is online.
pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, &[Role::Admin])?;
    let store = Arc::clone(state.store());
    let kiosks = blocking(move || store.kiosks()).await?;
    let views: Vec<KioskView> = kiosks.into_iter().map(|k| view(&state, k)).collect();
    Ok(Json(serde_json::json!({ "kiosks": views })).into_response())
}

/// `POST /api/admin/kiosks/{id}/pairing`: a new one-time code (a replaced device, a lost
/// credential); it also lifts a revocation. Earlier credentials stop working once it is used.
pub(super) async fn new_pairing(
    State(state): State<AppState>,
    Path(kiosk): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let admin = authorize(&state, &headers, &[Role::Admin])?;
    let code = enrolment::new_code();
    let hash = enrolment::code_hash(&code)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a new code does not read back")))?;
    let expires = now_ms() + PAIRING_SECS * 1000;
    let store = Arc::clone(state.store());
    let id = kiosk.clone();
    if !blocking(move || store.renew_kiosk_pairing(&id, &hash, expires)).await? {
        return Err(ApiError::NotFound);
    }
    audit(&state, &admin.sub, "kiosk_pairing_code", &kiosk, None).await?;
    Ok(Json(CodeIssued {
        kiosk,
        code,
        expires_at_ms: expires,
    })
    .into_response())
}

/// `POST /api/admin/kiosks/{id}/revoke`: its credentials are refused from now on and its
/// connections are closed.
pub(super) async fn revoke(
    State(state): State<AppState>,
    Path(kiosk): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let admin = authorize(&state, &headers, &[Role::Admin])?;
    let store = Arc::clone(state.store());
    let id = kiosk.clone();
    let at = now_ms();
    if !blocking(move || store.revoke_kiosk(&id, at)).await? {
        return Err(ApiError::NotFound);
    }
    state.enrolment().set(&kiosk, None);
    let mut closed = 0;
    for session in state.hub().sessions.iter() {
        if session.role == Role::Kiosk && session.subject == kiosk {
            let _ = session
                .tx
                .try_send(Outgoing::Close("this kiosk was revoked"));
            closed += 1;
        }
    }
    audit(
        &state,
        &admin.sub,
        "kiosk_revoked",
        &kiosk,
        Some(format!("connections_closed={closed}")),
    )
    .await?;
    tracing::info!(kiosk = %kiosk, admin = %admin.sub, closed, "kiosk revoked");
    Ok(Json(
        serde_json::json!({ "kiosk": kiosk, "revoked_at_ms": at, "connections_closed": closed }),
    )
    .into_response())
}

/// `POST /api/kiosk/pair`: `{"code": "ABCDE-FGHJK"}` → the kiosk's device credential. A code
/// works once, within a day of being made.
pub(super) async fn pair(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let asked: Pairing = parse(&body)?;
    let refused = || {
        ApiError::BadRequest("this pairing code is unknown, already used or expired: ask the administrator for a new one".into())
    };
    let hash = enrolment::code_hash(&asked.code).ok_or_else(refused)?;
    let store = Arc::clone(state.store());
    let now = now_ms();
    let Some(kiosk) = blocking(move || store.pair_kiosk(&hash, now)).await? else {
        tracing::info!("a pairing code was refused");
        return Err(refused());
    };
    state
        .enrolment()
        .set(&kiosk.kiosk_id, Some(kiosk.generation));
    audit(
        &state,
        &kiosk.kiosk_id,
        "kiosk_paired",
        &kiosk.kiosk_id,
        Some(format!("generation={}", kiosk.generation)),
    )
    .await?;
    tracing::info!(kiosk = %kiosk.kiosk_id, generation = kiosk.generation, "kiosk paired");
    Ok(Json(credential(&state, &kiosk)).into_response())
}

/// `POST /api/kiosk/renew`, with a kiosk's device credential: a fresh one.
pub(super) async fn renew(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let claims = authorize(&state, &headers, &[Role::Kiosk])?;
    if claims.dev.is_none() {
        return Err(ApiError::Forbidden(
            "only an enrolled kiosk's credential is renewed",
        ));
    }
    let store = Arc::clone(state.store());
    let id = claims.sub.clone();
    let kiosk = blocking(move || store.kiosk(&id))
        .await?
        .ok_or(ApiError::Unauthorized("this kiosk is not enrolled"))?;
    Ok(Json(credential(&state, &kiosk)).into_response())
}

fn credential(state: &AppState, kiosk: &Kiosk) -> Credential {
    let now = crate::auth::now_secs();
    let claims = enrolment::credential_claims(kiosk, now);
    Credential {
        kiosk: kiosk.kiosk_id.clone(),
        site: kiosk.site.clone(),
        credential: state.tokens().sign(&claims),
        expires_at_ms: claims.exp * 1000,
    }
}
