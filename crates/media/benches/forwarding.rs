//! The forwarding path in memory: a shard and two `rtc` client peers connected without
//! sockets (ICE, DTLS and SRTP for real), one client's encrypted datagrams captured first and
//! then handed to the shard one by one; what the shard spends per forwarded packet is all that
//! is timed (no socket, no client work, no other thread: wall time is the shard's CPU time).
//!
//!   cargo bench -p relais-media --bench forwarding [-- ROUNDS [CALLS]]   (default 5,000 and 8)
//!
//! CALLS 1:1 calls share the shard. A round is, from each client, one audio packet (120 bytes of
//! payload) and one video packet (1,100 bytes); each is forwarded to the other client. The
//! datagrams are made before the timed part by the clients' own engines (SRTP included).
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a bench: real time, failed unwrap = failed run

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::World;
use relais_media::{BytesMut, JoinSpec, MediaKinds};
use rtc::sansio::Protocol;

const AUDIO_PAYLOAD: usize = 120;
const VIDEO_PAYLOAD: usize = 1_100;

fn main() {
    let numbers: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|arg| arg.replace('_', "").parse().ok())
        .collect();
    let rounds = numbers.first().copied().unwrap_or(5_000);
    let calls = numbers.get(1).copied().unwrap_or(8).max(1);

    let mut w = World::new();
    for _ in 0..calls {
        let (_, kiosk) = w.join(&JoinSpec::one_to_one("kiosk"));
        let (_, agent) = w.join(&JoinSpec::one_to_one("agent"));
        let now = w.now;
        w.shard
            .subscribe(now, agent, kiosk, MediaKinds::BOTH)
            .unwrap();
        w.shard
            .subscribe(now, kiosk, agent, MediaKinds::BOTH)
            .unwrap();
    }
    w.connect_all(Duration::from_secs(10));
    // Both ways for a second: keyframe requests answered, reports exchanged.
    let everyone: Vec<usize> = (0..w.clients.len()).collect();
    w.exchange(&everyone, 50);
    let now = w.now;

    let audio_payload = bytes::Bytes::from(vec![0x5a; AUDIO_PAYLOAD]);
    let mut video_payload = vec![0x33; VIDEO_PAYLOAD];
    // A VP8 payload descriptor and a key frame's header, so the shard sees a decodable stream.
    video_payload[..7].copy_from_slice(&[0x90, 0x80, 0x00, 0x00, 0x9d, 0x01, 0x2a]);
    let video_payload = bytes::Bytes::from(video_payload);
    // One entry per round: each client's datagrams of its two packets (and any report its
    // engine sent), with its address.
    let mut captured: Vec<Vec<(std::net::SocketAddr, Vec<u8>)>> = Vec::with_capacity(rounds);
    let first_seq = 10_000u16;
    for round in 0..rounds {
        let seq = first_seq.wrapping_add(round as u16);
        let mut datagrams = Vec::new();
        for client in &mut w.clients {
            for (sender, ssrc, pt, step, payload) in [
                (
                    client.audio,
                    client.audio_ssrc,
                    111u8,
                    960u32,
                    &audio_payload,
                ),
                (client.video, client.video_ssrc, 96, 3000, &video_payload),
            ] {
                let packet = rtc::rtp::Packet {
                    header: rtc::rtp::header::Header {
                        version: 2,
                        payload_type: pt,
                        sequence_number: seq,
                        timestamp: (round as u32).wrapping_mul(step),
                        ssrc,
                        marker: pt == 96,
                        ..Default::default()
                    },
                    payload: payload.clone(),
                };
                if let Some(mut sender) = client.pc.rtp_sender(sender) {
                    sender.write_rtp(now, packet).unwrap();
                }
            }
            while let Some(out) = client.pc.poll_write() {
                datagrams.push((client.addr, out.message.to_vec()));
            }
        }
        captured.push(datagrams);
    }
    let datagrams_in: usize = captured.iter().map(Vec::len).sum();
    let bytes_in: usize = captured.iter().flatten().map(|(_, d)| d.len()).sum();

    // The shard alone, one datagram at a time as the driver hands them over, its timers fired
    // as media time goes on (20 ms a round): reports, feedback, keyframe throttling.
    let mut at = now;
    let started = Instant::now();
    let (mut forwarded, mut bytes_out, mut timer_out) = (0usize, 0usize, 0usize);
    let mut in_timers = Duration::ZERO;
    for round in &captured {
        for (from, datagram) in round {
            w.shard
                .handle_datagram(at, *from, BytesMut::from(&datagram[..]));
            while let Some(transmit) = w.shard.poll_transmit() {
                forwarded += 1;
                bytes_out += transmit.payload.len();
            }
        }
        at += Duration::from_millis(20);
        let timers_started = Instant::now();
        while w.shard.poll_timeout().is_some_and(|due| due <= at) {
            w.shard.handle_timeout(at);
            while w.shard.poll_transmit().is_some() {
                timer_out += 1;
            }
        }
        while w.shard.poll_event().is_some() {}
        in_timers += timers_started.elapsed();
    }
    let elapsed = started.elapsed();

    let per_packet = elapsed.as_nanos() as f64 / forwarded.max(1) as f64;
    println!(
        "forwarding in memory, {calls} calls: {rounds} rounds ({:.0} s of media), {datagrams_in} \
         datagrams in ({:.1} MB), {forwarded} forwarded ({:.1} MB), {timer_out} sent by timers, \
         in {:.1} ms",
        rounds as f64 * 0.02,
        bytes_in as f64 / 1e6,
        bytes_out as f64 / 1e6,
        elapsed.as_secs_f64() * 1e3,
    );
    println!(
        "per forwarded packet: {:.0} ns ({:.2} µs) of the shard; {:.0} packets/s on one core",
        per_packet,
        per_packet / 1e3,
        1e9 / per_packet,
    );
    let media_secs = rounds as f64 * 0.02;
    println!(
        "of which timers (reports, feedback, throttles): {:.1} ms, {:.1} µs per call and second of \
         media",
        in_timers.as_secs_f64() * 1e3,
        in_timers.as_secs_f64() * 1e6 / (calls as f64 * media_secs),
    );
    assert!(
        forwarded * 10 >= datagrams_in * 9,
        "most datagrams are forwarded: {forwarded} of {datagrams_in}"
    );
}
