//! Blind transfer through the real server, with `webrtc`-crate clients: the kiosk keeps the
//! peer it has, the new agent's media reaches it there, the old agent's leg is gone, and the
//! call's record lists every agent who handled it.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::time::Duration;

use relais_proto::{CallId, LegRole};
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use serde_json::json;
use support::calls::{answered_call, connect_media, heard_since, ready_agent, talk};
use support::client::{Client, ClientSpec, payload_text};
use support::server::TestServer;

const WAIT: Duration = Duration::from_secs(10);

/// The kiosk leg's media peer, as the call core knows it.
async fn kiosk_peer(server: &TestServer, call: u64) -> Option<relais_call::MediaLink> {
    server
        .state
        .calls()
        .run(move |cores, _| {
            cores
                .calls()
                .call(CallId(call))
                .and_then(|c| c.leg_of_role(LegRole::Kiosk))
                .and_then(|leg| leg.media)
        })
        .await
        .unwrap()
}

fn seen(client: &Client) -> usize {
    client
        .received(rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Audio)
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blind_transfer_keeps_the_kiosk_peer_and_brings_the_next_agent_to_it() {
    let server = TestServer::start_with("transfer", |config| {
        let mut cpam = config.services[0].clone();
        cpam.id = "cpam".into();
        cpam.name = "Assurance maladie".into();
        cpam.skills.clear();
        config.services.push(cpam);
    })
    .await;
    let (mut alice, mut kiosk, call) = answered_call(&server, "alice", "borne-1").await;
    kiosk.expect("media_ready", WAIT).await;
    alice.expect("media_ready", WAIT).await;
    let kiosk_media = connect_media(&mut kiosk, ClientSpec::publisher(111, 96), 1).await;
    let alice_media = connect_media(&mut alice, ClientSpec::publisher(109, 120), 2).await;
    talk(&[("kiosk", &kiosk_media), ("alice", &alice_media)], 0).await;
    assert!(heard_since(&kiosk_media, 0).contains("alice"));
    let peer_before = kiosk_peer(&server, call).await.unwrap();

    let refused = alice
        .request(json!({"type": "transfer", "service": "caf"}))
        .await;
    assert_eq!(refused["code"], "transfer_refused", "own queue: {refused}");
    let refused = alice
        .request(json!({"type": "transfer", "service": "nowhere"}))
        .await;
    assert_eq!(refused["code"], "unknown_service", "{refused}");

    let mut bob = ready_agent(&server, "bob").await;
    let reply = alice
        .request(json!({"type": "transfer", "service": "cpam"}))
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");
    let told = kiosk.expect("call_transferred", WAIT).await;
    assert_eq!(told["to"], "cpam");
    assert_eq!(told["service_name"], "Assurance maladie");
    alice.expect("call_transferred", WAIT).await;
    alice
        .expect_where("agent_state", WAIT, |m| m["state"] == "wrap_up")
        .await;

    let offered = bob.expect("offered", WAIT).await;
    assert_eq!(offered["call"], call);
    assert_eq!(offered["service"], "cpam");
    let accepted = bob.request(json!({"type": "accept", "call": call})).await;
    assert_eq!(accepted["type"], "ok", "{accepted}");
    bob.expect("media_ready", WAIT).await;
    // The kiosk saw the agent leave (an empty list), then the next one join.
    let joined = kiosk
        .expect_where("participants", WAIT, |m| m["participants"] != json!([]))
        .await;
    assert_eq!(joined["participants"][0]["name"], "bob", "{joined}");
    let bob_media = connect_media(&mut bob, ClientSpec::publisher(111, 96), 3).await;

    assert_eq!(
        kiosk_peer(&server, call).await,
        Some(peer_before),
        "the kiosk keeps its peer"
    );
    let (at_kiosk, at_bob) = (seen(&kiosk_media), seen(&bob_media));
    talk(
        &[
            ("kiosk", &kiosk_media),
            ("alice", &alice_media),
            ("bob", &bob_media),
        ],
        30,
    )
    .await;
    let kiosk_heard = heard_since(&kiosk_media, at_kiosk);
    assert_eq!(
        kiosk_heard,
        ["bob".to_owned()].into_iter().collect(),
        "the kiosk hears the new agent only"
    );
    assert!(heard_since(&bob_media, at_bob).contains("kiosk"));

    let hangup = kiosk.request(json!({"type": "hangup"})).await;
    assert_eq!(hangup["type"], "ok", "{hangup}");
    let record = server
        .record_where(call, |r| r.outcome == relais_proto::Outcome::Answered)
        .await;
    assert_eq!(record.agent.as_deref(), Some("bob"));
    let legs = server.store().legs_of(call).unwrap();
    let summary: Vec<(&str, &str, Option<&str>, &str)> = legs
        .iter()
        .map(|l| {
            (
                l.role.as_str(),
                l.subject.as_str(),
                l.queue.as_deref(),
                l.left_because.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("kiosk", "borne-1", None, "ended"),
            ("agent", "alice", Some("caf"), "transferred"),
            ("agent", "bob", Some("cpam"), "ended"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_to_a_named_agent_brings_that_agent_to_the_kiosk() {
    let server = TestServer::start("transfer-agent").await;
    let (mut alice, mut kiosk, call) = answered_call(&server, "alice", "borne-1").await;
    kiosk.expect("media_ready", WAIT).await;
    alice.expect("media_ready", WAIT).await;
    let kiosk_media = connect_media(&mut kiosk, ClientSpec::publisher(111, 96), 1).await;
    let _alice_media = connect_media(&mut alice, ClientSpec::publisher(109, 120), 2).await;
    let refused = alice
        .request(json!({"type": "transfer", "agent": "bob"}))
        .await;
    assert_eq!(
        refused["code"], "transfer_refused",
        "bob is not here: {refused}"
    );
    let both = alice
        .request(json!({"type": "transfer", "agent": "bob", "service": "caf"}))
        .await;
    assert_eq!(both["code"], "bad_request", "{both}");

    let mut bob = ready_agent(&server, "bob").await;
    let listed = alice.request(json!({"type": "list_agents"})).await;
    assert_eq!(listed["result"]["agents"], json!(["bob"]), "{listed}");
    let reply = alice
        .request(json!({"type": "transfer", "agent": "bob"}))
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");
    let told = kiosk.expect("call_transferred", WAIT).await;
    assert_eq!(told["agent"], "bob", "{told}");
    let offered = bob.expect("offered", WAIT).await;
    assert_eq!(offered["call"], call);
    let accepted = bob.request(json!({"type": "accept", "call": call})).await;
    assert_eq!(accepted["type"], "ok", "{accepted}");
    bob.expect("media_ready", WAIT).await;
    let bob_media = connect_media(&mut bob, ClientSpec::publisher(111, 96), 3).await;
    let at = seen(&kiosk_media);
    talk(&[("kiosk", &kiosk_media), ("bob", &bob_media)], 30).await;
    assert_eq!(
        heard_since(&kiosk_media, at),
        ["bob".to_owned()].into_iter().collect()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_transfer_holds_the_kiosk_then_hands_it_to_the_colleague_on_the_same_peer() {
    let server = TestServer::start("transfer-warm").await;
    let (mut alice, mut kiosk, call) = answered_call(&server, "alice", "borne-1").await;
    kiosk.expect("media_ready", WAIT).await;
    alice.expect("media_ready", WAIT).await;
    let kiosk_media = connect_media(&mut kiosk, ClientSpec::publisher(111, 96), 1).await;
    let alice_media = connect_media(&mut alice, ClientSpec::publisher(109, 120), 2).await;
    talk(&[("kiosk", &kiosk_media), ("alice", &alice_media)], 0).await;
    let peer_before = kiosk_peer(&server, call).await.unwrap();

    let alone = alice
        .request(json!({"type": "consult", "agent": "bob"}))
        .await;
    assert_eq!(
        alone["code"], "transfer_refused",
        "bob is not here: {alone}"
    );
    let mut bob = ready_agent(&server, "bob").await;
    let reply = alice
        .request(json!({"type": "consult", "agent": "bob"}))
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");
    let hold = kiosk.expect("hold", WAIT).await;
    assert_eq!(
        (hold["call"].as_u64(), &hold["on"]),
        (Some(call), &json!(true))
    );
    let ringing = alice.expect("consult_status", WAIT).await;
    assert_eq!(ringing["status"], "ringing", "{ringing}");
    let offered = bob.expect("offered", WAIT).await;
    assert_eq!(offered["consult_from"], "alice", "{offered}");
    let consultation = offered["call"].as_u64().unwrap();
    assert_ne!(consultation, call, "a consultation has its own id");
    let early = alice.request(json!({"type": "complete_transfer"})).await;
    assert_eq!(early["code"], "wrong_state", "{early}");
    let accepted = bob
        .request(json!({"type": "accept", "call": consultation}))
        .await;
    assert_eq!(accepted["type"], "ok", "{accepted}");
    let ready = bob.expect("media_ready", WAIT).await;
    assert_eq!(
        ready["call"].as_u64(),
        Some(call),
        "bob joins the call itself"
    );
    alice
        .expect_where("consult_status", WAIT, |m| m["status"] == "joined")
        .await;
    let bob_media = connect_media(&mut bob, ClientSpec::publisher(111, 96), 3).await;

    // On hold: the two agents hear each other, the kiosk hears nobody and nobody hears it.
    let (at_kiosk, at_alice, at_bob) = (seen(&kiosk_media), seen(&alice_media), seen(&bob_media));
    talk(
        &[
            ("kiosk", &kiosk_media),
            ("alice", &alice_media),
            ("bob", &bob_media),
        ],
        30,
    )
    .await;
    assert!(
        heard_since(&kiosk_media, at_kiosk).is_empty(),
        "the kiosk is on hold"
    );
    let hold_audio = kiosk_media.received(RtpCodecKind::Audio)[at_kiosk..]
        .iter()
        .filter(|p| !payload_text(&p.payload).contains("-audio-"))
        .count();
    assert!(
        hold_audio >= 20,
        "the kiosk hears the hold audio meanwhile ({hold_audio} packets)"
    );
    assert_eq!(
        heard_since(&alice_media, at_alice),
        ["bob".to_owned()].into_iter().collect()
    );
    assert_eq!(
        heard_since(&bob_media, at_bob),
        ["alice".to_owned()].into_iter().collect()
    );

    let reply = alice.request(json!({"type": "complete_transfer"})).await;
    assert_eq!(reply["type"], "ok", "{reply}");
    let told = alice.expect("call_transferred", WAIT).await;
    assert_eq!(told["agent"], "bob", "{told}");
    alice
        .expect_where("agent_state", WAIT, |m| m["state"] == "wrap_up")
        .await;
    kiosk
        .expect_where("hold", WAIT, |m| m["on"] == json!(false))
        .await;
    let joined = kiosk
        .expect_where("participants", WAIT, |m| {
            m["participants"].get(0).is_some_and(|p| p["name"] == "bob")
        })
        .await;
    assert_eq!(joined["participants"].as_array().map(Vec::len), Some(1));
    bob.expect_where("consult_status", WAIT, |m| m["status"] == "completed")
        .await;
    assert_eq!(
        kiosk_peer(&server, call).await,
        Some(peer_before),
        "the kiosk keeps its peer"
    );
    let (at_kiosk, at_bob) = (seen(&kiosk_media), seen(&bob_media));
    talk(
        &[
            ("kiosk", &kiosk_media),
            ("alice", &alice_media),
            ("bob", &bob_media),
        ],
        60,
    )
    .await;
    assert_eq!(
        heard_since(&kiosk_media, at_kiosk),
        ["bob".to_owned()].into_iter().collect(),
        "the kiosk hears the colleague only"
    );
    assert_eq!(
        heard_since(&bob_media, at_bob),
        ["kiosk".to_owned()].into_iter().collect()
    );

    // Bob has the call now: his hang-up ends it, with both agents in its record.
    let hangup = bob.request(json!({"type": "hangup"})).await;
    assert_eq!(hangup["type"], "ok", "{hangup}");
    kiosk.expect("call_ended", WAIT).await;
    let record = server
        .record_where(call, |r| r.outcome == relais_proto::Outcome::Answered)
        .await;
    assert_eq!(record.agent.as_deref(), Some("bob"));
    let legs = server.store().legs_of(call).unwrap();
    let summary: Vec<(&str, &str, &str)> = legs
        .iter()
        .map(|l| (l.role.as_str(), l.subject.as_str(), l.left_because.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("kiosk", "borne-1", "ended"),
            ("agent", "alice", "transferred"),
            ("agent", "bob", "ended"),
        ]
    );
    assert!(
        server.store().legs_of(consultation).unwrap().is_empty(),
        "a consultation has no record of its own"
    );
}
