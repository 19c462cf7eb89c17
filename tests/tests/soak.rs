//! A short soak: rounds of calls through the real binary with the load generator, for
//! `RELAIS_SOAK_SECS` seconds in all (default 45; `bench/soak.sh` runs it longer). Every call
//! made leaves exactly one record, and the server's memory, open descriptors and threads do not
//! grow from round to round.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::{Duration, Instant};

use relais::auth::{Claims, TokenKey};
use relais_e2e::{RunningServer, http_get_with_bearer};
use relais_loadgen::peer::MediaProfile;
use relais_loadgen::run::{RunConfig, run};
use relais_proto::Role;

const SECRET: &str = "soak-test-secret-0123456789";

/// What the server holds after a round.
#[derive(Debug, Clone, Copy)]
struct Sample {
    rss_kib: u64,
    fds: usize,
    threads: u64,
}

fn sample(pid: u32) -> Sample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|value| value.parse().ok())
            .unwrap()
    };
    Sample {
        rss_kib: field("VmRSS:"),
        fds: std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .count(),
        threads: field("Threads:"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rounds_of_calls_leave_one_record_each_and_no_growth() {
    let secs: u64 = std::env::var("RELAIS_SOAK_SECS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(45);
    let config = format!(
        "[http]\nlisten = \"127.0.0.1:0\"\n[auth]\nsecret = \"{SECRET}\"\n[media]\nshards = 1\nport = 0\n\
         [[services]]\nid = \"caf\"\nname = \"CAF\"\nwrap_up_secs = 1\n[[services.skills]]\nskill = \"caf\"\n"
    );
    let server = RunningServer::start("soak", &config);
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut calls_made = 0;
    while started.elapsed() < Duration::from_secs(secs) || samples.len() < 4 {
        let report = run(RunConfig {
            server: server.base_url.clone(),
            secret: SECRET.as_bytes().to_vec(),
            service: "caf".to_owned(),
            calls: 3,
            ramp_per_sec: 10.0,
            media: Duration::from_secs(2),
            profile: MediaProfile::default(),
            bind_ip: "127.0.0.1".to_owned(),
            server_pid: Some(server.pid()),
            progress: false,
        })
        .await
        .unwrap();
        assert_eq!(report.calls_established, 3, "{report:?}");
        calls_made += report.calls_requested;
        // Past the wrap-up (1 s), so the next round finds its agents available.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        samples.push(sample(server.pid()));
    }
    println!(
        "soak: {} rounds, {calls_made} calls in {:.0} s; after each round: {samples:?}",
        samples.len(),
        started.elapsed().as_secs_f64()
    );

    let token = TokenKey::new(SECRET.as_bytes()).sign(&Claims {
        dev: None,
        role: Role::Supervisor,
        sub: "soak".to_owned(),
        exp: relais::auth::now_secs() + 600,
        site: None,
        skills: Vec::new(),
        services: None,
        name: None,
    });
    let listed = http_get_with_bearer(server.addr, "/api/calls", &token);
    assert_eq!(listed.status, 200, "{}", listed.body);
    let body: serde_json::Value = serde_json::from_str(&listed.body).unwrap();
    let records = body["calls"].as_array().unwrap();
    assert_eq!(records.len(), calls_made, "one record per call made");
    assert!(records.iter().all(|record| record["outcome"] == "answered"));

    // No growth: after the first round (allocator and runtime warm-up), memory stays within a
    // margin, and descriptors and threads come back to the same count.
    let warm = samples[1];
    let last = *samples.last().unwrap();
    assert!(
        last.rss_kib <= warm.rss_kib + warm.rss_kib / 4 + 4096,
        "memory grew: {samples:?}"
    );
    assert!(last.fds <= warm.fds + 2, "descriptors grew: {samples:?}");
    assert!(
        last.threads <= warm.threads + 2,
        "threads grew: {samples:?}"
    );
}
