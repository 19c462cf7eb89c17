//! Files across a call: `POST /api/calls/{call}/documents` (the agent's file for the kiosk, or
//! the kiosk's still or file for the agent; raw body, `?name=` and `?snapshot=true`),
//! `GET /api/documents/{id}` (its parties while the call lasts; the agent who kept it
//! afterwards), `POST /api/documents/{id}/keep` (the agent keeps it with the call's record).
//! Bearer tokens of kiosks and agents.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use relais_call::{Input, Verdict};
use relais_proto::messages::Document;
use relais_proto::{CallId, LegRole, Role};
use serde::Deserialize;

use super::ApiError;
use super::api::authorize;
use crate::documents::{Refused, clean_name, new_id, sniff};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub(super) struct Upload {
    name: Option<String>,
    #[serde(default)]
    snapshot: bool,
}

fn refused(err: Refused) -> ApiError {
    match err {
        Refused::TooLarge { .. } => ApiError::TooLarge(err.to_string()),
        Refused::Type | Refused::TruncatedPdf | Refused::BadPicture | Refused::Empty => {
            ApiError::Unsupported(err.to_string())
        }
        Refused::TooMany(_) | Refused::Full => ApiError::Conflict(err.to_string()),
    }
}

/// `POST /api/calls/{call}/documents`.
pub(super) async fn upload(
    State(state): State<AppState>,
    Path(call): Path<u64>,
    headers: HeaderMap,
    Query(upload): Query<Upload>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let claims = authorize(&state, &headers, &[Role::Kiosk, Role::Agent])?;
    let documents = Arc::clone(state.documents());
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!(
                "the file is larger than the {} bytes taken",
                documents.max_bytes()
            ))
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    })?;
    let from = match claims.role {
        Role::Kiosk => LegRole::Kiosk,
        _ => LegRole::Agent,
    };
    if upload.snapshot && from != LegRole::Kiosk {
        return Err(ApiError::BadRequest(
            "a still comes from the kiosk's camera".to_owned(),
        ));
    }
    if from == LegRole::Kiosk && !upload.snapshot && !documents.kiosk_uploads() {
        return Err(ApiError::Forbidden(
            "this server takes no files from kiosks",
        ));
    }
    let sniffed = sniff(&body).map_err(refused)?;
    if upload.snapshot && sniffed.size.is_none() {
        return Err(ApiError::Unsupported(
            "a still is a JPEG or PNG picture".to_owned(),
        ));
    }
    let fallback = match sniffed.media_type {
        crate::documents::PDF => "document.pdf",
        crate::documents::PNG => "image.png",
        _ if upload.snapshot => "photo.jpg",
        _ => "image.jpg",
    };
    let document = Document {
        id: new_id(),
        name: clean_name(upload.name.as_deref(), fallback),
        from,
        media_type: Some(sniffed.media_type.to_owned()),
        size: Some(body.len() as u64),
        width: sniffed.size.map(|(w, _)| w),
        height: sniffed.size.map(|(_, h)| h),
        snapshot: upload.snapshot,
        url: None,
        attached: false,
    };
    let call = CallId(call);
    #[allow(clippy::disallowed_methods)] // when the file came
    let now = Instant::now();
    documents
        .hold(call, document.clone(), body, now)
        .map_err(refused)?;
    let id = document.id.clone();
    let input = Input::ShareFile {
        call,
        subject: claims.sub.clone(),
        document: document.clone(),
    };
    let granting = Arc::clone(&documents);
    let shared = state
        .calls()
        .run_then_carry_out(move |cores, now| match cores.input(now, input) {
            Ok(Verdict::Shared { readers }) => {
                // Readable before the push reaches the receivers.
                let (sender, receivers) = readers.split_first().map_or_else(
                    || (Vec::new(), Vec::new()),
                    |(s, r)| (vec![s.clone()], r.to_vec()),
                );
                let (agents, kiosks) = match from {
                    LegRole::Kiosk => (receivers, sender),
                    _ => (sender, receivers),
                };
                granting.grant(&id, agents, kiosks);
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(refusal) => Err(refusal),
        })
        .await;
    match shared {
        Some(Ok(())) => {
            tracing::info!(call = call.0, from = ?from, kind = document.media_type.as_deref().unwrap_or(""), size = document.size.unwrap_or(0), "document passed across a call");
            Ok((StatusCode::CREATED, Json(document)).into_response())
        }
        Some(Err(refusal)) => {
            documents.drop_file(&document.id);
            Err(ApiError::Conflict(refusal.message))
        }
        None => {
            documents.drop_file(&document.id);
            Err(ApiError::Unavailable("the call service is not running"))
        }
    }
}

fn file_response(document: &Document, content: Bytes) -> Response {
    let media_type = document
        .media_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let mut response = (StatusCode::OK, content).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&media_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    let encoded: String = document
        .name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    if let Ok(value) = HeaderValue::from_str(&format!("inline; filename*=UTF-8''{encoded}")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if media_type.starts_with("image/") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; sandbox"),
        );
    }
    response
}

/// `GET /api/documents/{id}`.
pub(super) async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let claims = authorize(&state, &headers, &[Role::Kiosk, Role::Agent])?;
    if let Some(held) = state.documents().read(&id, &claims.sub) {
        return Ok(file_response(&held.info, held.content));
    }
    if claims.role != Role::Agent || id.len() > 64 {
        return Err(ApiError::NotFound);
    }
    let store = Arc::clone(state.store());
    let kept = tokio::task::spawn_blocking(move || store.document(&id))
        .await
        .map_err(|err| ApiError::Internal(err.into()))?
        .map_err(|err| ApiError::Internal(err.into()))?;
    match kept {
        Some((meta, content)) if meta.agent == claims.sub => Ok(file_response(
            &crate::documents::kept_document(&meta),
            Bytes::from(content),
        )),
        _ => Err(ApiError::NotFound),
    }
}

/// `POST /api/documents/{id}/keep`.
pub(super) async fn keep(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let claims = authorize(&state, &headers, &[Role::Agent])?;
    let held = state
        .documents()
        .read_as_agent(&id, &claims.sub)
        .ok_or(ApiError::NotFound)?;
    let meta =
        crate::documents::meta_of(&held, &claims.sub, jiff::Timestamp::now().as_millisecond());
    let store = Arc::clone(state.store());
    let content = held.content.clone();
    let written = tokio::task::spawn_blocking(move || store.attach_document(&meta, &content))
        .await
        .map_err(|err| ApiError::Internal(err.into()))?;
    if let Err(err) = written {
        tracing::error!(error = %err, document = %id, "cannot keep a document with its call");
        return Err(ApiError::Unavailable(
            "the store takes no writes now: the file is not kept; try again",
        ));
    }
    state.documents().mark_kept(&id);
    tracing::info!(call = held.call.0, agent = %claims.sub, "document kept with its call");
    Ok(Json(Document {
        attached: true,
        ..held.info
    })
    .into_response())
}
