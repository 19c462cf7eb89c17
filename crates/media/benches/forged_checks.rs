//! Forged binding requests from many sources against one shard: a real peer's ufrag with a
//! made-up MESSAGE-INTEGRITY, each from a new address. Prints the addresses the shard learnt,
//! its resident-memory growth and the time per check.
//!
//!   cargo bench -p relais-media --bench forged_checks [-- SOURCES]   (default 480,000)
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a bench: real time, failed unwrap = failed run

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::time::Instant;

use common::TestClient;
use common::forge::{Rng, stun_binding_request};
use relais_media::{BytesMut, JoinSpec, RoomId};

/// Resident memory of this process, in KiB.
fn resident_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4
}

fn main() {
    let sources: u32 = std::env::args()
        .skip(1)
        .find_map(|arg| arg.replace('_', "").parse().ok())
        .unwrap_or(480_000);
    let room = RoomId(1);
    let mut shard = common::shard(room);
    let now = Instant::now();
    let (_, offer) = TestClient::new(now, "10.0.1.2:5000".parse().unwrap(), 1);
    let (peer, answer) = shard
        .join(now, room, &JoinSpec::one_to_one("kiosk"), &offer)
        .unwrap();
    let ufrag = answer
        .lines()
        .find_map(|line| line.strip_prefix("a=ice-ufrag:"))
        .unwrap()
        .trim()
        .to_owned();
    let mut rng = Rng(11);
    let messages: Vec<Vec<u8>> = (0..1024)
        .map(|_| stun_binding_request(&format!("{ufrag}:spoof"), &mut rng))
        .collect();
    let before = resident_kib();
    let started = Instant::now();
    for i in 0..sources {
        let from = SocketAddr::from((
            [10, (i >> 16) as u8, (i >> 8) as u8, i as u8],
            1024 + (i % 60_000) as u16,
        ));
        let message = &messages[i as usize % messages.len()];
        shard.handle_datagram(now, from, BytesMut::from(&message[..]));
        while shard.poll_transmit().is_some() {}
    }
    let elapsed = started.elapsed();
    let after = resident_kib();
    println!(
        "forged checks: {sources} sources, {} addresses learnt, {} dropped, resident +{} KiB, {:.2} µs per check",
        shard.peer_addresses(peer).unwrap_or(0),
        shard.stats().dropped_unknown,
        after.saturating_sub(before),
        elapsed.as_secs_f64() * 1e6 / f64::from(sources),
    );
}
