//! A short run of the load generator against the real `relais` binary: every call is set up
//! through the signalling, media flows both ways on loopback without loss, delays are sane,
//! and the server's CPU per forwarded packet is measured.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::Duration;

use relais_e2e::RunningServer;
use relais_loadgen::peer::MediaProfile;
use relais_loadgen::run::{RunConfig, run};

const SECRET: &str = "loadgen-smoke-secret-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_calls_through_the_real_server_lose_nothing() {
    let config = format!(
        "[http]\nlisten = \"127.0.0.1:0\"\n[auth]\nsecret = \"{SECRET}\"\ndevelopment = false\n[media]\nshards = 1\nport = 0\n\
         [[services]]\nid = \"caf\"\nname = \"CAF\"\nwrap_up_secs = 1\n[[services.skills]]\nskill = \"caf\"\n"
    );
    let server = RunningServer::start("loadgen", &config);
    let report = run(RunConfig {
        server: server.base_url.clone(),
        secret: SECRET.as_bytes().to_vec(),
        service: "caf".to_owned(),
        calls: 3,
        ramp_per_sec: 10.0,
        media: Duration::from_secs(3),
        profile: MediaProfile::default(),
        bind_ip: "127.0.0.1".to_owned(),
        server_pid: Some(server.pid()),
        progress: false,
    })
    .await
    .unwrap();
    println!("{}", report.table());
    assert_eq!(report.calls_established, 3, "{report:?}");
    // 3 calls × 2 directions × (110 + 50) packets/s × 3 s ≈ 2,900 packets.
    assert!(report.packets_sent >= 2_000, "{report:?}");
    // Loopback loses nothing; the margin covers one packet the kernel may drop while a
    // debug build on a busy 2-core runner catches up (NACK usually recovers even that).
    assert!(report.loss_percent <= 0.2, "{report:?}");
    assert!(report.delay_ms_p50.unwrap() < 50.0, "{report:?}");
    assert!(report.server_cpu_seconds.unwrap() > 0.0, "{report:?}");
    assert!(report.server_cpu_us_per_forwarded_packet.unwrap() > 0.0);
    assert!(report.server_rss_bytes.unwrap() > 1 << 20);
    // The server timed its own part of the delay, and the kernel dropped nothing.
    let residence = report.server_residence_ms_p99.unwrap();
    assert!(residence > 0.0 && residence < 50.0, "{report:?}");
    assert!(report.server_residence_ms_p50.unwrap() <= residence);
    assert_eq!(report.server_receive_overflow, Some(0), "{report:?}");
    assert_eq!(report.server_send_dropped, Some(0), "{report:?}");
    assert!(report.offered_percent > 80.0, "{report:?}");
    // Jitter measured on every stream (2 per peer), small on loopback.
    let jitter = report.jitter_ms_max.unwrap();
    assert!(jitter > 0.0 && jitter < 20.0, "{report:?}");
    assert!(report.jitter_ms_mean.unwrap() <= jitter);
}

/// The baseline target: the same calls peer to peer, with no server to measure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_calls_give_the_clients_own_delay() {
    let report = relais_loadgen::direct::run(relais_loadgen::direct::DirectConfig {
        calls: 2,
        media: Duration::from_secs(2),
        profile: MediaProfile::default(),
        bind_ip: "127.0.0.1".to_owned(),
        progress: false,
    })
    .await
    .unwrap();
    println!("{}", report.table());
    assert_eq!(report.calls_established, 2, "{report:?}");
    assert!(report.packets_received >= 1_000, "{report:?}");
    assert!(report.loss_percent <= 0.2, "{report:?}");
    assert!(report.delay_ms_p50.unwrap() < 50.0, "{report:?}");
    assert!(report.jitter_ms_max.is_some(), "{report:?}");
    assert!(report.server_cpu_seconds.is_none() && report.server_residence_ms_p99.is_none());
}
