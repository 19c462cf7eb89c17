//! The real binary under hostile HTTP clients: no demo tokens with a configured secret, slow
//! and silent connections closed, one address cannot hold every connection, and the memory of a
//! wave of connections goes back to the system once they close.

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

/// The server's resident memory in KiB (`VmRSS`).
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Opens a websocket upgrade that never says `hello`.
fn idle_websocket(addr: std::net::SocketAddr, n: usize) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n\r\n",
        format_args!("aWRsZS13ZWJzb2NrZXQ{:03}==", n % 1000)
    )
    .unwrap();
    let mut reply = [0u8; 512];
    let read = stream.read(&mut reply).unwrap();
    assert!(
        reply[..read].starts_with(b"HTTP/1.1 101"),
        "upgrade refused: {}",
        String::from_utf8_lossy(&reply[..read])
    );
    stream
}

#[test]
fn memory_of_a_wave_of_websockets_goes_back_to_the_system_after_they_close() {
    const WAVE: usize = 900;
    let server = RunningServer::start(
        "abuse-wave",
        "[http]\nlisten = \"127.0.0.1:0\"\nmax_connections_per_address = 1000\n\
         [media]\nport = 0\nshards = 1\n",
    );
    let warm: Vec<TcpStream> = (0..20).map(|n| idle_websocket(server.addr, n)).collect();
    std::thread::sleep(Duration::from_secs(1));
    let before = resident_kib(server.pid());
    let wave: Vec<TcpStream> = (0..WAVE).map(|n| idle_websocket(server.addr, n)).collect();
    std::thread::sleep(Duration::from_millis(500));
    let during = resident_kib(server.pid());
    let grown = during.saturating_sub(before);
    assert!(
        grown > 4 * 1024,
        "the wave grew the server by {grown} KiB only"
    );
    drop(wave);
    drop(warm);
    // Returned within a few of the purger's rounds (every 5 s); before, all of it stayed.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut kept = grown;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        kept = resident_kib(server.pid()).saturating_sub(before);
        if kept * 2 < grown {
            break;
        }
    }
    assert!(
        kept * 2 < grown,
        "{WAVE} idle websockets grew the server by {grown} KiB; {kept} KiB stayed after they closed"
    );
}
