//! Relais web consoles: the kiosk, agent and supervisor pages as static assets embedded in the
//! binary, and the axum `Router` that serves them.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// A console page embedded in the binary.
struct Page {
    path: &'static str,
    html: &'static str,
}

const PAGES: &[Page] = &[
    Page {
        path: "/kiosk",
        html: include_str!("../assets/kiosk.html"),
    },
    Page {
        path: "/agent",
        html: include_str!("../assets/agent.html"),
    },
    Page {
        path: "/supervisor",
        html: include_str!("../assets/supervisor.html"),
    },
];

/// Routes serving the consoles; merged into the server's router, generic over its state.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new();
    for page in PAGES {
        let html = page.html;
        router = router.route(
            page.path,
            get(move || async move {
                (
                    [
                        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    html,
                )
                    .into_response()
            }),
        );
    }
    router
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    #[tokio::test]
    async fn every_console_page_is_served_as_html() {
        for path in ["/kiosk", "/agent", "/supervisor"] {
            let response = super::router::<()>()
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let kind = response.headers()["content-type"].to_str().unwrap();
            assert!(kind.starts_with("text/html"), "{path}: {kind}");
        }
    }
}
