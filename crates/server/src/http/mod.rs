//! The HTTP surface: `fn app(state) -> Router` assembles every route with its middleware, so
//! tests drive it with `oneshot` and the serving loop only adds sockets.

mod admin;
mod api;
mod documents;
mod error;
mod health;
mod kiosks;
mod landing;
mod observe;
mod report;
mod signin;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};

pub use error::ApiError;
pub use observe::client_ip;

use crate::state::AppState;

/// Every route of the server.
pub fn app(state: AppState) -> Router {
    // One byte more than taken, so a larger file is refused with a clear error.
    let max_file = usize::try_from(state.config().documents.max_bytes).unwrap_or(usize::MAX);
    Router::new()
        .route("/", get(landing::page))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/ws", get(crate::ws::upgrade))
        .route("/signin", get(signin::page))
        .route("/auth/local", post(signin::local))
        .route("/auth/login", get(signin::login))
        .route("/auth/callback", get(signin::callback))
        .route("/auth/logout", post(signin::logout))
        .route("/auth/session", get(signin::session))
        .route("/api/calls", get(api::calls))
        .route("/api/audit", get(api::audit))
        .route("/api/report", get(report::report))
        .route(
            "/api/calls/{call}/documents",
            post(documents::upload).layer(DefaultBodyLimit::max(max_file.saturating_add(1))),
        )
        .route("/api/documents/{id}", get(documents::read))
        .route("/api/documents/{id}/keep", post(documents::keep))
        .route("/api/admin/kiosks", get(kiosks::list).post(kiosks::create))
        .route("/api/admin/kiosks/{id}/pairing", post(kiosks::new_pairing))
        .route("/api/admin/kiosks/{id}/revoke", post(kiosks::revoke))
        .route("/api/admin/services", get(admin::services))
        .route(
            "/api/admin/services/{id}",
            put(admin::put_service).delete(admin::delete_service),
        )
        .route("/api/admin/sessions", get(admin::sessions))
        .route(
            "/api/admin/sessions/{subject}",
            axum::routing::delete(admin::end_sessions),
        )
        .route("/api/admin/agents", get(admin::agents))
        .route(
            "/api/admin/agents/{id}",
            put(admin::put_agent).delete(admin::delete_agent),
        )
        .route("/api/kiosk/pair", post(kiosks::pair))
        .route("/api/kiosk/renew", post(kiosks::renew))
        .merge(relais_console::router())
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .with_state(state)
}

#[cfg(test)]
mod tests;
