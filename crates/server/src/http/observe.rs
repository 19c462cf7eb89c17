//! Request observation: a span per request (method, route, client address) and the HTTP
//! metrics; the client address honours forwarded headers only when configured to.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::state::AppState;

pub(super) async fn observe(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().clone();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let client = client_ip(
        request.headers(),
        peer,
        state.config().http.trust_forwarded_headers,
    );
    let span = tracing::info_span!(
        "http",
        method = %method,
        route = %route,
        client = client.map(|ip| ip.to_string()).unwrap_or_default(),
    );
    let response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status();
    span.in_scope(|| {
        tracing::debug!(
            status = status.as_u16(),
            micros = elapsed.as_micros() as u64,
            "served"
        );
    });
    let metrics = state.metrics();
    metrics
        .http_requests
        .with_label_values(&[route.as_str(), method.as_str(), status.as_str()])
        .inc();
    metrics
        .http_duration
        .with_label_values(&[route.as_str()])
        .observe(elapsed.as_secs_f64());
    response
}

/// The client's address: the first `X-Forwarded-For` (or `Forwarded: for=`) hop when the
/// server sits behind a trusted reverse proxy, else the socket peer.
pub fn client_ip(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    trust_forwarded: bool,
) -> Option<IpAddr> {
    if trust_forwarded {
        let forwarded_for = headers
            .get("x-forwarded-for")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(',').next())
            .and_then(|first| first.trim().parse::<IpAddr>().ok());
        if forwarded_for.is_some() {
            return forwarded_for;
        }
        let forwarded = headers
            .get("forwarded")
            .and_then(|value| value.to_str().ok())
            .and_then(parse_forwarded_for);
        if forwarded.is_some() {
            return forwarded;
        }
    }
    peer.map(|addr| addr.ip())
}

/// The first `for=` of an RFC 7239 `Forwarded` header (`for=192.0.2.1`, `for="[2001:db8::1]:80"`).
fn parse_forwarded_for(value: &str) -> Option<IpAddr> {
    let first = value.split(',').next()?;
    let pair = first
        .split(';')
        .map(str::trim)
        .find(|pair| pair.len() > 4 && pair[..4].eq_ignore_ascii_case("for="))?;
    let raw = pair[4..].trim_matches('"');
    if let Some(rest) = raw.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    raw.parse::<IpAddr>()
        .ok()
        .or_else(|| raw.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
}
