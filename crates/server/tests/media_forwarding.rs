//! The media shard with independent WebRTC clients (the `webrtc` crate) on 127.0.0.1: RTP in
//! both directions with per-leg SSRC and payload types, keyframe requests on join, NACK
//! recovery of lost packets, a listen-only participant, and sparse consent checks.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use relais::config::MediaConfig;
use relais::media::MediaShards;
use relais_media::{JoinSpec, MediaKinds, RoomId};
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use support::client::{Client, ClientSpec, payload_text};
use support::relay::Relay;

fn one_shard() -> MediaShards {
    let config = MediaConfig {
        shards: 1,
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: 0,
        public_ips: vec![],
        ..MediaConfig::default()
    };
    let metrics = relais::metrics::Metrics::new().unwrap();
    let (events, _rx) = tokio::sync::mpsc::unbounded_channel();
    // The receiver is dropped: these tests read state, not events.
    MediaShards::start(&config, events, &metrics.media).unwrap()
}

/// A room of one shard whose members receive each other as a conference: a new member is
/// subscribed to every publisher already there, and every member to a new publisher (the call
/// core's policy for full participants, done here by hand).
struct Conference<'a> {
    shard: &'a relais::media::ShardHandle,
    room: RoomId,
    members: Vec<(relais_media::PeerId, bool)>,
}

impl<'a> Conference<'a> {
    fn new(shard: &'a relais::media::ShardHandle, room: RoomId) -> Self {
        Self {
            shard,
            room,
            members: Vec::new(),
        }
    }

    /// A client that offers with `spec` and joins as `join`: its peer id, the client (answer
    /// applied) and the server's answer.
    async fn join(
        &mut self,
        join: JoinSpec,
        spec: ClientSpec,
        seed: u32,
    ) -> (relais_media::PeerId, Client, String) {
        let publish = join.publish;
        let (client, offer) = Client::new(spec, seed).await;
        let (peer, answer) = self.shard.join(self.room, join, offer).await.unwrap();
        client.accept_answer(answer.clone()).await;
        self.add(peer, publish).await;
        (peer, client, answer)
    }

    /// Subscribes a peer that joined to the others and the others to it.
    async fn add(&mut self, peer: relais_media::PeerId, publish: bool) {
        for &(member, member_publishes) in &self.members {
            if member_publishes {
                self.shard
                    .subscribe(peer, member, MediaKinds::BOTH)
                    .await
                    .unwrap();
            }
            if publish {
                self.shard
                    .subscribe(member, peer, MediaKinds::BOTH)
                    .await
                    .unwrap();
            }
        }
        self.members.push((peer, publish));
    }
}

/// Sends `count` numbered packets from each publisher, 20 ms apart.
async fn exchange(clients: &[(&Client, &str)], count: u16) {
    for seq in 0..count {
        for (client, tag) in clients {
            client.send_numbered(tag, seq).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_to_one_call_forwards_both_ways_with_each_legs_ssrc_and_payload_types() {
    let shards = one_shard();
    let shard = shards.place_room();
    let room = RoomId(1);
    shard.create_room(room).await.unwrap();
    let mut conference = Conference::new(shard, room);

    // Chrome-like and Firefox-like payload types.
    let (_, kiosk, answer) = conference
        .join(
            JoinSpec::one_to_one("kiosk"),
            ClientSpec::publisher(111, 96),
            1,
        )
        .await;
    let (_, agent, agent_answer) = conference
        .join(
            JoinSpec::one_to_one("agent"),
            ClientSpec::publisher(109, 120),
            2,
        )
        .await;
    kiosk.wait_connected(Duration::from_secs(10)).await;
    agent.wait_connected(Duration::from_secs(10)).await;

    exchange(&[(&kiosk, "kiosk"), (&agent, "agent")], 50).await;

    for (receiver, sender, answer, vp8_pt, opus_pt) in [
        (&agent, "kiosk", &agent_answer, 120u8, 109u8),
        (&kiosk, "agent", &answer, 96, 111),
    ] {
        let video = receiver.received(RtpCodecKind::Video);
        let audio = receiver.received(RtpCodecKind::Audio);
        assert!(
            video.len() >= 45,
            "{sender} → video packets received: {}",
            video.len()
        );
        assert!(
            audio.len() >= 45,
            "{sender} → audio packets received: {}",
            audio.len()
        );
        for packet in &video {
            assert_eq!(
                packet.payload_type, vp8_pt,
                "video arrives with the receiver's payload type"
            );
            let text = payload_text(&packet.payload);
            assert!(
                text.starts_with(&format!("{sender}-video-")),
                "payload intact: {text}"
            );
            assert_eq!(packet.payload.len(), 1000);
            assert!(packet.payload[text.len() + 1..].iter().all(|b| *b == 0xAB));
        }
        for packet in &audio {
            assert_eq!(
                packet.payload_type, opus_pt,
                "audio arrives with the receiver's payload type"
            );
            assert!(payload_text(&packet.payload).starts_with(&format!("{sender}-audio-")));
        }
        // The SSRC is the one the server announced on the receiver's leg, not the sender's.
        let ssrcs: BTreeSet<u32> = video.iter().chain(audio.iter()).map(|p| p.ssrc).collect();
        assert_eq!(ssrcs.len(), 2);
        for ssrc in ssrcs {
            assert!(
                answer.contains(&format!("a=ssrc:{ssrc} ")),
                "ssrc {ssrc} is announced in the answer"
            );
            assert!(
                ssrc != kiosk.video_ssrc
                    && ssrc != agent.video_ssrc
                    && ssrc != kiosk.audio_ssrc
                    && ssrc != agent.audio_ssrc
            );
        }
    }
    let stats = shard.stats().await.unwrap();
    assert!(stats.shard.rtp_forwarded >= 180, "{stats:?}");
    assert!(stats.receive_batches > 0);
    shards.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_joining_makes_the_publisher_send_a_keyframe_request() {
    let shards = one_shard();
    let shard = shards.place_room();
    let room = RoomId(2);
    shard.create_room(room).await.unwrap();
    let mut conference = Conference::new(shard, room);
    let (_, kiosk, _) = conference
        .join(
            JoinSpec::one_to_one("kiosk"),
            ClientSpec::publisher(111, 96),
            3,
        )
        .await;
    kiosk.wait_connected(Duration::from_secs(10)).await;
    // The kiosk publishes alone for a while: nobody asks it for a keyframe.
    exchange(&[(&kiosk, "kiosk")], 20).await;
    assert_eq!(kiosk.keyframe_requests(), 0);

    let (_, agent, _) = conference
        .join(
            JoinSpec::one_to_one("agent"),
            ClientSpec::publisher(111, 96),
            4,
        )
        .await;
    agent.wait_connected(Duration::from_secs(10)).await;
    exchange(&[(&kiosk, "kiosk")], 20).await;
    assert!(
        kiosk.keyframe_requests() >= 1,
        "the kiosk was asked for a keyframe when the agent joined"
    );
    shards.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_lost_on_the_publisher_leg_are_recovered_by_nack() {
    let shards = one_shard();
    let shard = shards.place_room();
    let server = shard.local_addr();
    let room = RoomId(3);
    shard.create_room(room).await.unwrap();
    let mut conference = Conference::new(shard, room);
    let relay = Relay::start(server, 10).await;

    let (kiosk, offer) = Client::new(ClientSpec::publisher(111, 96), 5).await;
    let (kiosk_peer, answer) = shard
        .join(room, JoinSpec::one_to_one("kiosk"), offer)
        .await
        .unwrap();
    kiosk
        .accept_answer(relay.rewrite_answer(&answer, server))
        .await;
    conference.add(kiosk_peer, true).await;
    let (_, agent, _) = conference
        .join(
            JoinSpec::one_to_one("agent"),
            ClientSpec::publisher(111, 96),
            6,
        )
        .await;
    kiosk.wait_connected(Duration::from_secs(10)).await;
    agent.wait_connected(Duration::from_secs(10)).await;

    exchange(&[(&kiosk, "kiosk")], 100).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let dropped = relay.log.lock().unwrap().dropped.clone();
    assert!(
        dropped.len() >= 8,
        "the relay dropped {} packets",
        dropped.len()
    );
    let got: BTreeSet<String> = agent
        .received(RtpCodecKind::Video)
        .iter()
        .map(|p| payload_text(&p.payload))
        .collect();
    let recovered = dropped
        .iter()
        .filter(|seq| got.contains(&format!("kiosk-video-{seq}")))
        .count();
    assert!(
        recovered * 10 >= dropped.len() * 8,
        "at least 80% of the {} dropped packets reach the agent by retransmission; {recovered} did",
        dropped.len()
    );
    let stats = shard.peer_stats(kiosk_peer).await.unwrap().unwrap();
    assert!(
        stats.nacks_sent >= 1,
        "the shard asked the kiosk for the lost packets: {stats:?}"
    );
    assert!(stats.rtp_in >= 180, "{stats:?}");
    shards.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listen_only_participant_receives_both_sides_and_sends_nothing() {
    let shards = one_shard();
    let shard = shards.place_room();
    let room = RoomId(4);
    shard.create_room(room).await.unwrap();
    let mut conference = Conference::new(shard, room);
    let (_, kiosk, _) = conference
        .join(
            JoinSpec::one_to_one("kiosk"),
            ClientSpec::publisher(111, 96),
            7,
        )
        .await;
    let (_, agent, _) = conference
        .join(
            JoinSpec::one_to_one("agent"),
            ClientSpec::publisher(111, 96),
            8,
        )
        .await;
    let listener_spec = ClientSpec {
        publish: false,
        recvonly_pairs: 2,
        ..ClientSpec::publisher(111, 96)
    };
    let (supervisor_peer, supervisor, _) = conference
        .join(JoinSpec::listen_only("supervisor", 2), listener_spec, 9)
        .await;
    for client in [&kiosk, &agent, &supervisor] {
        client.wait_connected(Duration::from_secs(10)).await;
    }
    exchange(&[(&kiosk, "kiosk"), (&agent, "agent")], 40).await;

    let heard: BTreeSet<String> = supervisor
        .received(RtpCodecKind::Audio)
        .iter()
        .map(|p| {
            payload_text(&p.payload)
                .split("-audio-")
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    let seen: BTreeSet<String> = supervisor
        .received(RtpCodecKind::Video)
        .iter()
        .map(|p| {
            payload_text(&p.payload)
                .split("-video-")
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    let both: BTreeSet<String> = ["agent".to_owned(), "kiosk".to_owned()].into();
    assert_eq!(heard, both, "the supervisor hears both sides");
    assert_eq!(seen, both, "the supervisor sees both sides");
    // It published nothing, and neither side received anything from it.
    let stats = shard.peer_stats(supervisor_peer).await.unwrap().unwrap();
    assert_eq!(stats.rtp_in, 0);
    assert!(stats.rtp_out >= 150, "{stats:?}");
    for client in [&kiosk, &agent] {
        let sources: BTreeSet<String> = client
            .received(RtpCodecKind::Audio)
            .iter()
            .map(|p| {
                payload_text(&p.payload)
                    .split("-audio-")
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(sources.len(), 1, "{sources:?}");
    }
    shards.stop();
}

/// The senders (`tag` of `tag-kind-seq`) of what `client` received of `kind`.
fn senders(client: &Client, kind: RtpCodecKind) -> BTreeSet<String> {
    let separator = match kind {
        RtpCodecKind::Audio => "-audio-",
        _ => "-video-",
    };
    client
        .received(kind)
        .iter()
        .filter_map(|p| {
            payload_text(&p.payload)
                .split(separator)
                .next()
                .map(str::to_owned)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audio_only_subscription_forwards_audio_alone_and_unsubscribing_stops_it() {
    let shards = one_shard();
    let shard = shards.place_room();
    let room = RoomId(6);
    shard.create_room(room).await.unwrap();
    // A whisper, set up by hand: the agent has a second slot, subscribed to the supervisor's
    // audio only; the kiosk does not receive the supervisor at all.
    let (client, offer) = Client::new(
        ClientSpec {
            recvonly_pairs: 1,
            ..ClientSpec::publisher(111, 96)
        },
        12,
    )
    .await;
    let two_slots = JoinSpec {
        receive_slots: 2,
        ..JoinSpec::one_to_one("agent")
    };
    let (agent_peer, answer) = shard.join(room, two_slots, offer).await.unwrap();
    client.accept_answer(answer).await;
    let agent = client;
    let (client, offer) = Client::new(ClientSpec::publisher(111, 96), 13).await;
    let (kiosk_peer, answer) = shard
        .join(room, JoinSpec::one_to_one("kiosk"), offer)
        .await
        .unwrap();
    client.accept_answer(answer).await;
    let kiosk = client;
    let (client, offer) = Client::new(ClientSpec::publisher(111, 96), 14).await;
    let (supervisor_peer, answer) = shard
        .join(
            room,
            JoinSpec {
                receive_slots: 0,
                ..JoinSpec::one_to_one("supervisor")
            },
            offer,
        )
        .await
        .unwrap();
    client.accept_answer(answer).await;
    let supervisor = client;
    shard
        .subscribe(agent_peer, kiosk_peer, MediaKinds::BOTH)
        .await
        .unwrap();
    shard
        .subscribe(kiosk_peer, agent_peer, MediaKinds::BOTH)
        .await
        .unwrap();
    let audio_only = MediaKinds {
        audio: true,
        video: false,
    };
    shard
        .subscribe(agent_peer, supervisor_peer, audio_only)
        .await
        .unwrap();
    for client in [&kiosk, &agent, &supervisor] {
        client.wait_connected(Duration::from_secs(10)).await;
    }
    exchange(
        &[
            (&kiosk, "kiosk"),
            (&agent, "agent"),
            (&supervisor, "supervisor"),
        ],
        30,
    )
    .await;

    let both: BTreeSet<String> = ["kiosk".to_owned(), "supervisor".to_owned()].into();
    assert_eq!(
        senders(&agent, RtpCodecKind::Audio),
        both,
        "the agent hears the kiosk and the whisper"
    );
    assert_eq!(
        senders(&agent, RtpCodecKind::Video),
        ["kiosk".to_owned()].into(),
        "no video of the supervisor"
    );
    assert_eq!(
        senders(&kiosk, RtpCodecKind::Audio),
        ["agent".to_owned()].into(),
        "the kiosk never hears the supervisor"
    );
    // A third subscription finds no free slot on the kiosk's peer.
    assert!(
        shard
            .subscribe(kiosk_peer, supervisor_peer, MediaKinds::BOTH)
            .await
            .is_err()
    );

    shard
        .unsubscribe(agent_peer, supervisor_peer)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = agent.received(RtpCodecKind::Audio).len();
    exchange(&[(&supervisor, "supervisor")], 20).await;
    assert_eq!(
        agent.received(RtpCodecKind::Audio).len(),
        before,
        "nothing of the supervisor after unsubscribing"
    );
    shards.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_keeps_flowing_when_consent_checks_are_six_seconds_apart() {
    let shards = one_shard();
    let shard = shards.place_room();
    let room = RoomId(5);
    shard.create_room(room).await.unwrap();
    let mut conference = Conference::new(shard, room);
    let sparse = |seed: u8| ClientSpec {
        keepalive: Some(Duration::from_secs(6)),
        ..ClientSpec::publisher(111, 96 + seed)
    };
    let (_, kiosk, _) = conference
        .join(JoinSpec::one_to_one("kiosk"), sparse(0), 10)
        .await;
    let (_, agent, _) = conference
        .join(JoinSpec::one_to_one("agent"), sparse(1), 11)
        .await;
    kiosk.wait_connected(Duration::from_secs(10)).await;
    agent.wait_connected(Duration::from_secs(10)).await;

    // Thirteen seconds of media: longer than the engine's own 5 s disconnection timer twice.
    exchange(&[(&kiosk, "kiosk")], 650).await;
    let video = agent.received(RtpCodecKind::Video);
    assert!(video.len() >= 640, "received {} of 650", video.len());
    let longest_gap = video
        .windows(2)
        .map(|w| w[1].at.duration_since(w[0].at))
        .max()
        .unwrap();
    assert!(
        longest_gap < Duration::from_millis(400),
        "media stalled for {longest_gap:?}"
    );
    shards.stop();
}
