//! Garbage at the shard's socket: random, truncated and mutated datagrams (STUN with a real
//! peer's ufrag, RTP- and DTLS-shaped bytes from a peer's address) are dropped or rejected by
//! the engine; nothing panics and the peer stays in its room.
#![allow(clippy::disallowed_methods)] // virtual time starts at a real instant
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::net::SocketAddr;
use std::time::{Duration, Instant};

mod common;

use common::forge::{Rng, stun_binding_request};
use relais_media::{BytesMut, DtlsCertificate, JoinSpec, RoomId, Shard, ShardConfig};
use rtc::peer_connection::RTCPeerConnectionBuilder;
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;

/// A browser-like offer made by the engine itself (audio and video, send and receive).
fn offer() -> String {
    let mut media = MediaEngine::default();
    media.register_default_codecs().unwrap();
    let mut pc = RTCPeerConnectionBuilder::new()
        .with_media_engine(media)
        .build(Instant::now())
        .unwrap();
    pc.add_transceiver_from_kind(RtpCodecKind::Audio, None)
        .unwrap();
    pc.add_transceiver_from_kind(RtpCodecKind::Video, None)
        .unwrap();
    let offer = pc.create_offer(None).unwrap();
    pc.set_local_description(Instant::now(), offer.clone())
        .unwrap();
    offer.sdp
}

fn ufrag_of(answer: &str) -> String {
    answer
        .lines()
        .find_map(|line| line.strip_prefix("a=ice-ufrag:"))
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn garbage_datagrams_never_panic_and_leave_the_peer_in_place() {
    let server: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut shard = Shard::new(ShardConfig::new(
        vec![server],
        [7; 32],
        DtlsCertificate::generate().unwrap(),
    ))
    .unwrap();
    let room = RoomId(1);
    shard.create_room(room).unwrap();
    let start = Instant::now();
    let (peer, answer) = shard
        .join(start, room, &JoinSpec::one_to_one("kiosk"), &offer())
        .unwrap();
    let ufrag = ufrag_of(&answer);
    let peer_addr: SocketAddr = "127.0.0.1:50000".parse().unwrap();

    let mut rng = Rng(42);
    let total = 20_000u64;
    let mut now = start;
    for i in 0..total {
        now += Duration::from_micros(200);
        let from: SocketAddr = if rng.below(3) == 0 {
            peer_addr
        } else {
            SocketAddr::from(([127, 0, 0, 1], 1024 + rng.below(60_000) as u16))
        };
        let mut datagram = match i % 6 {
            // Pure noise of any length, including empty.
            0 => {
                let len = rng.below(1500) as usize;
                rng.bytes(len)
            }
            // A binding request for the real peer, then mutated and maybe truncated.
            1 | 2 => {
                let mut message = stun_binding_request(&format!("{ufrag}:abcd"), &mut rng);
                for _ in 0..rng.below(4) {
                    let at = rng.below(message.len() as u64) as usize;
                    message[at] ^= rng.next() as u8;
                }
                let keep = message.len() - rng.below(8) as usize;
                message.truncate(keep);
                message
            }
            // RTP- and RTCP-shaped bytes.
            3 => {
                let len = 12 + rng.below(1200) as usize;
                let mut packet = rng.bytes(len);
                packet[0] = 0x80 | (packet[0] & 0x3f);
                packet
            }
            // DTLS-shaped bytes (content types 20–63).
            4 => {
                let len = 13 + rng.below(300) as usize;
                let mut record = rng.bytes(len);
                record[0] = 20 + (record[0] % 44);
                record[1] = 0xfe;
                record[2] = 0xfd;
                record
            }
            // STUN headers claiming lengths they do not have.
            _ => {
                let mut message = stun_binding_request(&format!("{ufrag}:x"), &mut rng);
                message[2] = rng.next() as u8;
                message[3] = rng.next() as u8;
                message
            }
        };
        if datagram.len() > 1 && rng.below(10) == 0 {
            datagram.truncate(1);
        }
        shard.handle_datagram(now, from, BytesMut::from(&datagram[..]));
        if shard.poll_timeout().is_some_and(|due| due <= now) {
            shard.handle_timeout(now);
        }
        while shard.poll_transmit().is_some() {}
        while shard.poll_event().is_some() {}
    }

    let stats = shard.stats();
    assert_eq!(stats.datagrams_in, total);
    assert!(stats.dropped_unknown > total / 2, "{stats:?}");
    assert_eq!(stats.rtp_forwarded, 0);
    // Nothing authenticated, and still waiting for its real connection: the peer is there.
    assert_eq!(shard.room_members(room), Some(vec![peer]));
    let peer_stats = shard.peer_stats(now, peer).unwrap();
    assert!(!peer_stats.connected);
    assert_eq!(peer_stats.rtp_in, 0);
}

#[test]
fn a_peer_that_never_connects_is_removed_at_the_setup_deadline() {
    let server: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut shard = Shard::new(ShardConfig::new(
        vec![server],
        [9; 32],
        DtlsCertificate::generate().unwrap(),
    ))
    .unwrap();
    let room = RoomId(2);
    shard.create_room(room).unwrap();
    let start = Instant::now();
    let (peer, _) = shard
        .join(start, room, &JoinSpec::one_to_one("agent"), &offer())
        .unwrap();
    let mut now = start;
    let mut gone = None;
    while now < start + Duration::from_secs(40) && gone.is_none() {
        now = shard
            .poll_timeout()
            .unwrap_or(now + Duration::from_secs(1))
            .max(now + Duration::from_millis(1));
        shard.handle_timeout(now);
        while let Some(event) = shard.poll_event() {
            if let relais_media::MediaEvent::PeerGone {
                peer: p, reason, ..
            } = event
            {
                gone = Some((p, reason, now));
            }
        }
    }
    let (p, reason, at) = gone.expect("the peer is removed");
    assert_eq!(p, peer);
    assert_eq!(reason, relais_media::GoneReason::SetupTimeout);
    assert!(
        at >= start + Duration::from_secs(30) && at < start + Duration::from_secs(31),
        "{:?}",
        at - start
    );
    assert_eq!(shard.room_members(room), Some(vec![]));
}

#[test]
fn forged_checks_from_many_sources_teach_the_shard_no_address() {
    let server: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut shard = Shard::new(ShardConfig::new(
        vec![server],
        [5; 32],
        DtlsCertificate::generate().unwrap(),
    ))
    .unwrap();
    let room = RoomId(3);
    shard.create_room(room).unwrap();
    let now = Instant::now();
    let (peer, answer) = shard
        .join(now, room, &JoinSpec::one_to_one("kiosk"), &offer())
        .unwrap();
    let ufrag = ufrag_of(&answer);
    let mut rng = Rng(11);
    let sources = 20_000u32;
    for i in 0..sources {
        // A real ufrag and a MESSAGE-INTEGRITY attribute of the right size, with a made-up tag.
        let message = stun_binding_request(&format!("{ufrag}:spoof"), &mut rng);
        let from = SocketAddr::from((
            [10, (i >> 16) as u8, (i >> 8) as u8, i as u8],
            1024 + (i % 60_000) as u16,
        ));
        shard.handle_datagram(now, from, BytesMut::from(&message[..]));
        while shard.poll_transmit().is_some() {}
    }
    assert_eq!(
        shard.peer_addresses(peer),
        Some(0),
        "a forged check taught an address"
    );
    assert_eq!(shard.stats().dropped_unknown, u64::from(sources));
    assert!(
        shard.poll_transmit().is_none(),
        "a forged check was answered"
    );
}
