//! Every route answered through the router without a socket.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::{app, client_ip};
use crate::config::Config;
use crate::state::AppState;

async fn get(state: &AppState, path: &str) -> (StatusCode, String, String) {
    let response = app(state.clone())
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, kind, String::from_utf8(body.to_vec()).unwrap())
}

/// A state over a fresh data directory and an ephemeral media port.
fn state() -> AppState {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "relais-http-test-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let mut config = Config {
        data_dir: dir,
        ..Config::default()
    };
    config.media.port = 0;
    config.media.shards = 1;
    AppState::new(config).unwrap()
}

#[tokio::test]
async fn healthz_answers_ok() {
    let (status, _, body) = get(&state(), "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "ok\n");
}

#[tokio::test]
async fn readyz_fails_until_ready_and_again_while_draining() {
    let state = state();
    let (status, _, body) = get(&state, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("unavailable"), "{body}");
    state.set_ready(true);
    assert_eq!(get(&state, "/readyz").await.0, StatusCode::OK);
    state.set_ready(false);
    assert_eq!(
        get(&state, "/readyz").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn metrics_exposes_build_process_and_request_metrics() {
    let state = state();
    get(&state, "/healthz").await;
    let (status, kind, body) = get(&state, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("text/plain"), "{kind}");
    assert!(body.contains("relais_build_info{version=\""), "{body}");
    assert!(body.contains("relais_process_cpu_seconds_total"), "{body}");
    assert!(
        body.contains("relais_process_resident_memory_bytes"),
        "{body}"
    );
    assert!(
        body.contains(
            "relais_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
        ),
        "{body}"
    );
}

#[tokio::test]
async fn landing_page_links_the_three_consoles_and_lists_services() {
    let state = state();
    let (status, kind, body) = get(&state, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("text/html"));
    for link in ["href=\"/kiosk\"", "href=\"/agent\"", "href=\"/supervisor\""] {
        assert!(body.contains(link), "missing {link}");
    }
    assert!(body.contains("CAF"));
    assert!(body.contains("<code>ants</code>"));
    // Development mode hands out demo links with tokens the server accepts.
    let start = body.find("/agent#token=").expect("a demo agent link");
    let token: String = body[start + "/agent#token=".len()..]
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    let claims = state
        .tokens()
        .verify(&token, crate::auth::now_secs())
        .unwrap();
    assert_eq!(claims.role, relais_proto::Role::Agent);
}

#[tokio::test]
async fn consoles_are_served() {
    for path in ["/kiosk", "/agent", "/supervisor"] {
        let (status, kind, _) = get(&state(), path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(kind.starts_with("text/html"), "{path}");
    }
}

#[tokio::test]
async fn unknown_path_is_a_json_404() {
    let (status, kind, body) = get(&state(), "/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(kind.starts_with("application/json"));
    assert!(body.contains("\"not_found\""), "{body}");
}

#[test]
fn client_ip_uses_forwarded_headers_only_when_trusted() {
    let peer: std::net::SocketAddr = "10.0.0.2:5000".parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-forwarded-for",
        HeaderValue::from_static("203.0.113.9, 10.0.0.1"),
    );
    assert_eq!(
        client_ip(&headers, Some(peer), false).unwrap().to_string(),
        "10.0.0.2"
    );
    assert_eq!(
        client_ip(&headers, Some(peer), true).unwrap().to_string(),
        "203.0.113.9"
    );

    let mut headers = HeaderMap::new();
    headers.insert(
        "forwarded",
        HeaderValue::from_static("for=\"[2001:db8::7]:4711\";proto=https"),
    );
    assert_eq!(
        client_ip(&headers, Some(peer), true).unwrap().to_string(),
        "2001:db8::7"
    );

    let mut headers = HeaderMap::new();
    headers.insert("x-forwarded-for", HeaderValue::from_static("garbage"));
    assert_eq!(
        client_ip(&headers, Some(peer), true).unwrap().to_string(),
        "10.0.0.2"
    );
}
