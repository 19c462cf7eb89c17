//! Relais web consoles: the kiosk, agent and supervisor pages as static assets embedded in the
//! binary, and the axum `Router` that serves them.
//!
//! No build step: plain HTML, CSS and JavaScript modules, included with `include_str!`. The pages
//! are at `/kiosk`, `/agent` and `/supervisor`; their scripts and styles under `/console/`.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// A file embedded in the binary and the path it is served at.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

const ASSETS: &[Asset] = &[
    Asset {
        path: "/kiosk",
        content_type: HTML,
        body: include_str!("../assets/kiosk.html"),
    },
    Asset {
        path: "/agent",
        content_type: HTML,
        body: include_str!("../assets/agent.html"),
    },
    Asset {
        path: "/supervisor",
        content_type: HTML,
        body: include_str!("../assets/supervisor.html"),
    },
    Asset {
        path: "/admin",
        content_type: HTML,
        body: include_str!("../assets/admin.html"),
    },
    Asset {
        path: "/console/admin.css",
        content_type: CSS,
        body: include_str!("../assets/admin.css"),
    },
    Asset {
        path: "/console/admin.js",
        content_type: JS,
        body: include_str!("../assets/admin.js"),
    },
    Asset {
        path: "/console/style.css",
        content_type: CSS,
        body: include_str!("../assets/style.css"),
    },
    Asset {
        path: "/console/kiosk.css",
        content_type: CSS,
        body: include_str!("../assets/kiosk.css"),
    },
    Asset {
        path: "/console/agent.css",
        content_type: CSS,
        body: include_str!("../assets/agent.css"),
    },
    Asset {
        path: "/console/supervisor.css",
        content_type: CSS,
        body: include_str!("../assets/supervisor.css"),
    },
    Asset {
        path: "/console/relais.js",
        content_type: JS,
        body: include_str!("../assets/relais.js"),
    },
    Asset {
        path: "/console/kiosk.js",
        content_type: JS,
        body: include_str!("../assets/kiosk.js"),
    },
    Asset {
        path: "/console/agent.js",
        content_type: JS,
        body: include_str!("../assets/agent.js"),
    },
    Asset {
        path: "/console/supervisor.js",
        content_type: JS,
        body: include_str!("../assets/supervisor.js"),
    },
];

/// Routes serving the consoles; merged into the server's router, generic over its state.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new();
    for asset in ASSETS {
        let (content_type, body) = (asset.content_type, asset.body);
        router = router.route(
            asset.path,
            get(move || async move {
                (
                    [
                        (header::CONTENT_TYPE, content_type),
                        (header::CACHE_CONTROL, "no-cache"),
                        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                    ],
                    body,
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

    async fn get(path: &str) -> axum::response::Response {
        super::router::<()>()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn every_console_page_is_served_as_html() {
        for path in ["/kiosk", "/agent", "/supervisor"] {
            let response = get(path).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let kind = response.headers()["content-type"].to_str().unwrap();
            assert!(kind.starts_with("text/html"), "{path}: {kind}");
        }
    }

    #[tokio::test]
    async fn every_asset_route_answers_with_its_content_type() {
        for asset in super::ASSETS {
            let response = get(asset.path).await;
            assert_eq!(response.status(), StatusCode::OK, "{}", asset.path);
            let headers = response.headers();
            assert_eq!(
                headers["content-type"], asset.content_type,
                "{}",
                asset.path
            );
            assert_eq!(headers["cache-control"], "no-cache", "{}", asset.path);
            let expected = if asset.path.ends_with(".js") {
                "text/javascript"
            } else if asset.path.ends_with(".css") {
                "text/css"
            } else {
                "text/html"
            };
            assert!(asset.content_type.starts_with(expected), "{}", asset.path);
        }
    }

    #[test]
    fn every_file_a_page_links_is_served() {
        let served: Vec<&str> = super::ASSETS.iter().map(|a| a.path).collect();
        for asset in super::ASSETS {
            for quote in asset.body.split(['"', '\'']) {
                if quote.starts_with("/console/") {
                    assert!(
                        served.contains(&quote),
                        "{} links {quote}, which is not served",
                        asset.path
                    );
                }
            }
        }
    }
}
