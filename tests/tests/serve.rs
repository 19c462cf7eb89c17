//! The real binary serving plain HTTP: every route answers, and SIGTERM stops it cleanly.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::Duration;

use relais_e2e::{RunningServer, http_get};

const CONFIG: &str = "[http]\nlisten = \"127.0.0.1:0\"\n[media]\nport = 0\nshards = 1\n";

#[test]
fn routes_answer_over_a_real_socket() {
    let server = RunningServer::start("serve", CONFIG);
    assert!(
        server.base_url.starts_with("http://127.0.0.1:"),
        "{}",
        server.base_url
    );

    let health = http_get(server.addr, "/healthz");
    assert_eq!(health.status, 200);
    assert_eq!(health.body, "ok\n");

    assert_eq!(http_get(server.addr, "/readyz").status, 200);

    let landing = http_get(server.addr, "/");
    assert_eq!(landing.status, 200);
    assert!(landing.body.contains("href=\"/agent\""));

    let metrics = http_get(server.addr, "/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.body.contains("relais_process_start_time_seconds"),
        "{}",
        metrics.body
    );
    assert!(
        metrics.body.contains("route=\"/healthz\""),
        "{}",
        metrics.body
    );

    assert_eq!(http_get(server.addr, "/missing").status, 404);
}

#[test]
fn sigterm_stops_the_server_with_success() {
    let mut server = RunningServer::start("serve", CONFIG);
    assert_eq!(http_get(server.addr, "/healthz").status, 200);
    server.signal("TERM");
    assert_eq!(server.wait_exit(Duration::from_secs(15)), Some(0));
    assert!(
        std::net::TcpStream::connect(server.addr).is_err(),
        "still accepting after exit"
    );
}
