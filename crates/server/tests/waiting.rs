//! The wait with media against the real server: a queued kiosk's `webrtc` client connects at
//! once, hears the server's hold audio (decoded here as Opus, paced at 50 packets a second)
//! until the agent's leg connects on the same peer, and has its microphone and camera checked,
//! with a warning on the agent's offer.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::time::{Duration, Instant};

use relais_proto::Role;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use serde_json::json;
use support::calls::{connect_media, ready_agent};
use support::client::{Client, ClientSpec, payload_text};
use support::server::TestServer;
use support::signal::WsClient;
use webrtc::media_stream::track_local::TrackLocal;

const WAIT: Duration = Duration::from_secs(10);

async fn waiting_server(tag: &str) -> TestServer {
    TestServer::start_with(tag, |c| {
        c.waiting.media = true;
        c.waiting.check_secs = 2;
    })
    .await
}

/// Kiosk `name` calls `caf` with nobody to answer, gets `media_ready` with `waiting` and
/// connects its peer: (websocket, client, call).
async fn waiting_kiosk(server: &TestServer, name: &str, seed: u32) -> (WsClient, Client, u64) {
    let mut kiosk = WsClient::signed_in(server.addr, &server.token(Role::Kiosk, name)).await;
    let call = kiosk
        .request(json!({"type": "call", "service": "caf"}))
        .await["result"]["call"]
        .as_u64()
        .unwrap();
    let ready = kiosk.expect("media_ready", WAIT).await;
    assert_eq!(ready["call"], call, "{ready}");
    assert_eq!(ready["waiting"], true, "{ready}");
    let client = connect_media(&mut kiosk, ClientSpec::publisher(111, 96), seed).await;
    (kiosk, client, call)
}

/// The audio packets received so far that are not a test client's numbered packets.
fn hold_packets(client: &Client) -> Vec<support::client::Received> {
    client
        .received(RtpCodecKind::Audio)
        .into_iter()
        .filter(|p| !payload_text(&p.payload).contains("-audio-"))
        .collect()
}

#[tokio::test]
async fn a_waiting_kiosk_hears_hold_audio_that_is_opus_at_50_packets_a_second_until_the_agent_connects()
 {
    let server = waiting_server("hold-audio").await;
    let (_kiosk_ws, kiosk, call) = waiting_kiosk(&server, "borne-hold", 1).await;

    // Hold audio arrives with nobody to answer.
    let deadline = Instant::now() + WAIT;
    while hold_packets(&kiosk).len() < 10 {
        assert!(Instant::now() < deadline, "no hold audio reached the kiosk");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let start = hold_packets(&kiosk).len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let packets = hold_packets(&kiosk);
    let per_second = (packets.len() - start) as f64 / 3.0;
    assert!(
        (45.0..=55.0).contains(&per_second),
        "paced at 20 ms: {per_second} packets/s"
    );
    // Every packet decodes as Opus into 20 ms, in sequence, and the tone is not silence.
    let mut decoder = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
    let mut pcm = vec![0i16; 5760];
    let mut energy = 0f64;
    for pair in packets[start..].windows(2) {
        assert_eq!(
            pair[1].sequence,
            pair[0].sequence.wrapping_add(1),
            "no gap in the hold stream"
        );
    }
    for packet in &packets[start..] {
        let n = decoder
            .decode(&packet.payload, &mut pcm, false)
            .expect("the hold stream is valid Opus");
        assert_eq!(n, 960, "20 ms per packet");
        energy += pcm[..n].iter().map(|s| f64::from(*s).powi(2)).sum::<f64>();
    }
    assert!(energy > 0.0, "the hold tone is heard");

    // The agent answers: its leg joins the room the kiosk is connected to; the kiosk does not
    // negotiate again, and the hold stops when the agent's peer connects.
    let mut agent_ws = ready_agent(&server, "alice").await;
    let offered = agent_ws.expect("offered", WAIT).await;
    assert_eq!(offered["call"], call, "{offered}");
    let accepted = agent_ws
        .request(json!({"type": "accept", "call": call}))
        .await;
    assert_eq!(accepted["type"], "ok", "{accepted}");
    agent_ws.expect("media_ready", WAIT).await;
    let agent = connect_media(&mut agent_ws, ClientSpec::publisher(111, 96), 2).await;
    // One 20 ms packet may be on its way when the agent's leg connects.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after_connect = hold_packets(&kiosk).len();
    support::calls::talk(&[("agent", &agent), ("kiosk", &kiosk)], 1).await;
    assert_eq!(
        hold_packets(&kiosk).len(),
        after_connect,
        "no hold audio once the agent is connected"
    );
    let heard: std::collections::BTreeSet<String> = kiosk
        .received(RtpCodecKind::Audio)
        .iter()
        .filter_map(|p| {
            let text = payload_text(&p.payload);
            text.split("-audio-")
                .nth(1)
                .is_some()
                .then(|| text.split("-audio-").next().unwrap().to_owned())
        })
        .collect();
    assert!(
        heard.contains("agent"),
        "the agent's voice reaches the kiosk on the peer it waited with: {heard:?}"
    );
    let video_from_agent = kiosk
        .received(RtpCodecKind::Video)
        .iter()
        .any(|p| payload_text(&p.payload).starts_with("agent-video-"));
    assert!(video_from_agent, "and the agent's video");
    let kiosk_to_agent = agent
        .received(RtpCodecKind::Video)
        .iter()
        .any(|p| payload_text(&p.payload).starts_with("kiosk-video-"));
    assert!(kiosk_to_agent, "the agent sees the kiosk");
    // What the kiosk heard of the wait is counted.
    server
        .metrics_where("relais_media_hold_packets_total{shard=\"0\"}", |v| {
            v >= (start + 100) as f64
        })
        .await;
}

/// Opus packets of a 440 Hz tone (`loud`) or of digital silence.
fn opus_packets(loud: bool, count: usize) -> Vec<Vec<u8>> {
    let mut encoder =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1500];
    for i in 0..count {
        let frame: Vec<i16> = (0..960)
            .map(|n| {
                if loud {
                    let t = (i * 960 + n) as f64 / 48_000.0;
                    ((std::f64::consts::TAU * 440.0 * t).sin() * 8000.0) as i16
                } else {
                    0
                }
            })
            .collect();
        let len = encoder.encode(&frame, &mut buf).unwrap();
        out.push(buf[..len].to_vec());
    }
    out
}

async fn send_audio(client: &Client, packets: &[Vec<u8>], first_seq: u16) {
    let track = client.audio.as_ref().unwrap();
    for (i, payload) in packets.iter().enumerate() {
        let seq = first_seq.wrapping_add(i as u16);
        let packet = rtc::rtp::Packet {
            header: rtc::rtp::header::Header {
                version: 2,
                payload_type: 111,
                sequence_number: seq,
                timestamp: u32::from(seq) * 960,
                ssrc: client.audio_ssrc,
                ..Default::default()
            },
            payload: bytes::Bytes::from(payload.clone()),
        };
        let _ = track.write_rtp(packet).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_silent_microphone_and_a_dark_camera_are_told_to_the_kiosk_and_on_the_agents_offer() {
    let server = waiting_server("input-check").await;
    let (mut kiosk_ws, kiosk, call) = waiting_kiosk(&server, "borne-check", 3).await;

    // Digital silence and no picture for more than `check_secs`.
    send_audio(&kiosk, &opus_packets(false, 150), 1).await;
    let check = kiosk_ws
        .expect_where("input_check", WAIT, |m| m["microphone"] == "missing")
        .await;
    assert_eq!(check["call"], call, "{check}");
    assert_eq!(check["camera"], "missing", "{check}");

    // Speech comes back: told at once.
    send_audio(&kiosk, &opus_packets(true, 75), 200).await;
    let check = kiosk_ws
        .expect_where("input_check", WAIT, |m| m["microphone"] == "ok")
        .await;
    assert_eq!(check["camera"], "missing", "{check}");

    // The agent offered the call is warned of the camera, not of the microphone.
    let speaking = tokio::spawn({
        let packets = opus_packets(true, 150);
        async move {
            send_audio(&kiosk, &packets, 400).await;
            kiosk
        }
    });
    let mut agent_ws = ready_agent(&server, "bob").await;
    let offered = agent_ws.expect("offered", WAIT).await;
    assert_eq!(offered["call"], call, "{offered}");
    assert_eq!(
        offered["caller_warnings"],
        json!(["camera_no_picture"]),
        "{offered}"
    );
    let _ = speaking.await;
}

/// Whether `client` got a video packet of `tag`'s numbered stream.
fn saw_video_of(client: &Client, tag: &str) -> bool {
    client
        .received(RtpCodecKind::Video)
        .iter()
        .any(|p| payload_text(&p.payload).starts_with(&format!("{tag}-video-")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_connects_while_offers_ring_and_refusing_a_few_does_not_cost_it_the_next_call() {
    let server = TestServer::start_with("ring-media", |c| {
        c.waiting.media = true;
        for service in &mut c.services {
            service.max_waiting = 10;
        }
    })
    .await;
    let mut kiosks = Vec::new();
    for (i, name) in ["borne-r1", "borne-r2", "borne-r3", "borne-r4"]
        .iter()
        .enumerate()
    {
        kiosks.push(waiting_kiosk(&server, name, 10 + i as u32).await);
    }
    let mut agent_ws = ready_agent(&server, "alice").await;
    // Three offers ring, each with the agent's media connected, and are refused; the fourth
    // offer's media comes within the same few seconds (one offer of the agent's own would be
    // over its rate by then).
    for round in 0..4u32 {
        let offered = agent_ws.expect("offered", WAIT).await;
        let call = offered["call"].as_u64().unwrap();
        let ready = agent_ws
            .expect_where("media_ready", WAIT, |m| m["call"] == call)
            .await;
        assert_eq!(ready["waiting"], true, "{ready}");
        let agent = connect_media(&mut agent_ws, ClientSpec::publisher(111, 96), 20 + round).await;
        let kiosk = &kiosks.iter().find(|(_, _, c)| *c == call).unwrap().1;
        support::calls::talk(
            &[("agent", &agent), ("kiosk", kiosk)],
            1 + round as u16 * 40,
        )
        .await;
        assert!(
            !saw_video_of(&agent, "kiosk") && !saw_video_of(kiosk, "agent"),
            "nothing flows while the offer rings"
        );
        if round < 3 {
            let refused = agent_ws
                .request(json!({"type": "reject", "call": call}))
                .await;
            assert_eq!(refused["type"], "ok", "{refused}");
            continue;
        }
        let accepted = agent_ws
            .request(json!({"type": "accept", "call": call}))
            .await;
        assert_eq!(accepted["type"], "ok", "{accepted}");
        assert!(
            !agent_ws
                .sees("media_ready", Duration::from_millis(500))
                .await,
            "no second negotiation at the answer"
        );
        support::calls::talk(&[("agent", &agent), ("kiosk", kiosk)], 500).await;
        assert!(
            saw_video_of(&agent, "kiosk"),
            "the agent sees the kiosk it answered"
        );
        assert!(saw_video_of(kiosk, "agent"), "and the kiosk sees the agent");
    }
}
