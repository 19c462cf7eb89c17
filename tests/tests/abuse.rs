//! The real binary under hostile HTTP clients: no demo tokens with a configured secret, slow
//! and silent connections closed, and one address cannot hold every connection.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use relais_e2e::{RunningServer, http_get, http_get_with_bearer};

/// Waits until the server closes `stream` (EOF or reset), up to `limit`; returns the time it
/// took, or `None` if it stayed open.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 4096];
    while start.elapsed() < limit {
        match stream.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(start.elapsed()),
        }
    }
    None
}

#[test]
fn a_configured_secret_hands_out_no_demo_tokens_and_metrics_need_their_token() {
    let server = RunningServer::start(
        "abuse-dev",
        "[http]\nlisten = \"127.0.0.1:0\"\nmetrics_token = \"scrape-token-0123456789\"\n[auth]\nsecret = \"a-real-production-secret-0123\"\n\
         [media]\nport = 0\nshards = 1\n",
    );
    let landing = http_get(server.addr, "/");
    assert_eq!(landing.status, 200);
    assert!(
        !landing.body.contains("token="),
        "the landing page hands out tokens: {}",
        landing.body
    );
    assert!(landing.body.contains("href=\"/agent\""));

    assert_eq!(http_get(server.addr, "/metrics").status, 401);
    assert_eq!(
        http_get_with_bearer(server.addr, "/metrics", "wrong-token").status,
        401
    );
    let scraped = http_get_with_bearer(server.addr, "/metrics", "scrape-token-0123456789");
    assert_eq!(scraped.status, 200);
    assert!(scraped.body.contains("relais_process_start_time_seconds"));
}

#[test]
fn slow_and_silent_connections_are_closed_and_the_server_stays_reachable() {
    let server = RunningServer::start(
        "abuse-slow",
        "[http]\nlisten = \"127.0.0.1:0\"\nheader_read_timeout_secs = 1\nidle_timeout_secs = 2\n\
         [media]\nport = 0\nshards = 1\n",
    );
    // Slowloris: a header that never ends.
    let mut slow = TcpStream::connect(server.addr).unwrap();
    write!(slow, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: ").unwrap();
    let took = closed_within(&mut slow, Duration::from_secs(8)).expect("slow header closed");
    assert!(took < Duration::from_secs(4), "closed after {took:?}");

    // A connection that never says anything.
    let mut silent = TcpStream::connect(server.addr).unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(8)).is_some());

    // Keep-alive: one answered request, then silence, is closed after the idle timeout.
    let mut kept = TcpStream::connect(server.addr).unwrap();
    write!(kept, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let took = closed_within(&mut kept, Duration::from_secs(10)).expect("idle keep-alive closed");
    assert!(took >= Duration::from_millis(900), "closed after {took:?}");
    assert_eq!(http_get(server.addr, "/healthz").status, 200);
}

#[test]
fn one_address_cannot_hold_every_connection() {
    let server = RunningServer::start(
        "abuse-cap",
        "[http]\nlisten = \"127.0.0.1:0\"\nmax_connections_per_address = 8\n\
         header_read_timeout_secs = 30\nidle_timeout_secs = 30\n[media]\nport = 0\nshards = 1\n",
    );
    let held: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    // Give the server time to count them.
    std::thread::sleep(Duration::from_millis(300));
    let mut over = TcpStream::connect(server.addr).unwrap();
    let took = closed_within(&mut over, Duration::from_secs(5)).expect("over the cap: closed");
    assert!(took < Duration::from_secs(2), "closed after {took:?}");
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    let health = http_get(server.addr, "/healthz");
    assert_eq!(health.status, 200);
    let metrics = http_get(server.addr, "/metrics");
    assert!(
        metrics
            .body
            .contains("http_connections_refused_total{cap=\"per_address\"}"),
        "{}",
        metrics.body
    );
}
