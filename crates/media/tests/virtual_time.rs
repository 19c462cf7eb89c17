//! The media core in virtual time: in-memory `rtc` clients connect to a shard, publish and
//! fall silent; consent, the set-up deadline, subscriptions and keyframe throttling are
//! checked to the millisecond without a socket or a wall clock.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // virtual time starts at a real instant

mod common;

use std::time::Duration;

use common::World;
use relais_media::{GoneReason, JoinSpec, MediaKinds};
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Two clients joined and subscribed to each other, connected.
fn one_to_one() -> (World, relais_media::PeerId, relais_media::PeerId) {
    let mut w = World::new();
    let (_, kiosk) = w.join(&JoinSpec::one_to_one("kiosk"));
    let (_, agent) = w.join(&JoinSpec::one_to_one("agent"));
    let now = w.now;
    w.shard
        .subscribe(now, agent, kiosk, MediaKinds::BOTH)
        .unwrap();
    w.shard
        .subscribe(now, kiosk, agent, MediaKinds::BOTH)
        .unwrap();
    w.connect_all(secs(10));
    (w, kiosk, agent)
}

#[test]
fn two_clients_connect_and_receive_each_other_in_virtual_time() {
    let (mut w, _, _) = one_to_one();
    w.exchange(&[0, 1], 50);
    for (receiver, sender) in [(1, 0), (0, 1)] {
        let audio = w.clients[receiver]
            .received
            .iter()
            .filter(|r| r.0 == RtpCodecKind::Audio)
            .count();
        assert!(
            audio >= 45,
            "client {receiver} got {audio} audio packets from {sender}"
        );
        assert_eq!(w.clients[receiver].sources(RtpCodecKind::Audio).len(), 1);
    }
}

#[test]
fn a_peer_silent_for_the_consent_timeout_is_gone_with_consent_expired() {
    let (mut w, kiosk, agent) = one_to_one();
    w.exchange(&[0, 1], 10);
    w.clients[0].online = false;
    w.advance(secs(29));
    assert_eq!(w.gone(kiosk), None, "29 s of silence is within consent");
    w.advance(secs(2));
    assert_eq!(w.gone(kiosk), Some(GoneReason::ConsentExpired));
    assert_eq!(w.gone(agent), None, "the other side keeps its consent");
}

#[test]
fn a_peer_that_never_completes_set_up_is_gone_at_the_deadline() {
    let mut w = World::new();
    let (index, peer) = w.join(&JoinSpec::one_to_one("kiosk"));
    w.clients[index].online = false;
    w.advance(secs(29));
    assert_eq!(w.gone(peer), None);
    w.advance(secs(2));
    assert_eq!(w.gone(peer), Some(GoneReason::SetupTimeout));
}

#[test]
fn media_flows_only_once_subscribed_and_stops_when_unsubscribed() {
    let mut w = World::new();
    let (_, kiosk) = w.join(&JoinSpec::one_to_one("kiosk"));
    let (_, agent) = w.join(&JoinSpec::one_to_one("agent"));
    w.connect_all(secs(10));
    w.exchange(&[0], 20);
    assert!(
        w.clients[1].received.is_empty(),
        "nothing is forwarded without a subscription"
    );
    let now = w.now;
    w.shard
        .subscribe(
            now,
            agent,
            kiosk,
            MediaKinds {
                audio: true,
                video: false,
            },
        )
        .unwrap();
    w.exchange(&[0], 20);
    assert!(!w.clients[1].sources(RtpCodecKind::Audio).is_empty());
    assert!(
        w.clients[1].sources(RtpCodecKind::Video).is_empty(),
        "audio only"
    );
    w.shard.unsubscribe(agent, kiosk).unwrap();
    let before = w.clients[1].received.len();
    w.exchange(&[0], 20);
    assert_eq!(w.clients[1].received.len(), before);
}

#[test]
fn keyframe_requests_to_a_publisher_are_throttled_to_one_per_half_second() {
    let (mut w, kiosk, agent) = one_to_one();
    w.exchange(&[0, 1], 10);
    let kiosk_video = w.clients[1].sources(RtpCodecKind::Video);
    assert_eq!(kiosk_video.len(), 1, "the agent receives the kiosk's video");
    let now = w.now;
    let before = w
        .shard
        .peer_stats(now, kiosk)
        .unwrap()
        .keyframe_requests_sent;
    // The agent asks for a keyframe every 20 ms for 2 s.
    for _ in 0..100 {
        let now = w.now;
        w.clients[1].request_keyframe(now, kiosk_video[0]);
        w.exchange(&[0], 1);
    }
    let now = w.now;
    let asked = w
        .shard
        .peer_stats(now, agent)
        .unwrap()
        .keyframe_requests_received;
    let relayed = w
        .shard
        .peer_stats(now, kiosk)
        .unwrap()
        .keyframe_requests_sent
        - before;
    assert_eq!(
        asked, 100,
        "every request of the subscriber reached the shard"
    );
    assert!(
        (3..=5).contains(&relayed),
        "{relayed} keyframe requests went to the publisher in 2 s"
    );
}

#[test]
fn a_renegotiation_offered_by_the_server_adds_a_slot_to_a_connected_peer() {
    let (mut w, kiosk, _) = one_to_one();
    let (third, interpreter) = w.join(&JoinSpec {
        receive_slots: 0,
        ..JoinSpec::one_to_one("interpreter")
    });
    w.connect_all(secs(10));
    let now = w.now;
    assert!(
        w.shard
            .subscribe(now, kiosk, interpreter, MediaKinds::BOTH)
            .is_err(),
        "the kiosk's one slot is taken by the agent"
    );
    let offer = w.shard.add_receive_slots(now, kiosk, 1).unwrap();
    w.progress();
    let answer = w.clients[0].answer_offer(now, &offer);
    w.shard.accept_answer(now, kiosk, &answer).unwrap();
    w.progress();
    w.shard
        .subscribe(now, kiosk, interpreter, MediaKinds::BOTH)
        .unwrap();
    w.exchange(&[1, third], 30);
    assert_eq!(
        w.clients[0].sources(RtpCodecKind::Audio).len(),
        2,
        "the kiosk hears the agent and the interpreter on the same peer"
    );
    assert!(w.clients[0].connected());
    assert_eq!(w.gone(kiosk), None);
}
