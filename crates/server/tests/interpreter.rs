//! An interpreter added to a call through the real server, with `webrtc`-crate clients: the
//! request is offered to the interpreter queue's agent, who joins; all three see and hear each
//! other on the peers the kiosk and the agent already had; the interpreter leaves and the call
//! goes on; kiosks do not see interpreter services.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::time::Duration;

use serde_json::json;
use support::calls::{
    answered_call, connect_media, heard_since, names, ready_agent, renegotiate, talk,
};
use support::client::ClientSpec;
use support::server::TestServer;
use support::signal::WsClient;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interpreter_joins_from_its_queue_and_all_three_see_and_hear_each_other() {
    let server = TestServer::start_with("interpreter", |config| {
        let mut lsf = config.services[0].clone();
        lsf.id = "lsf".into();
        lsf.name = "Interprètes LSF".into();
        lsf.skills.clear();
        lsf.interpreter = true;
        config.services.push(lsf);
    })
    .await;
    let (mut alice, mut kiosk, call) = answered_call(&server, "alice", "borne-1").await;
    let services = kiosk.request(json!({"type": "list_services"})).await;
    let lsf = services["result"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "lsf")
        .cloned()
        .unwrap();
    assert_eq!(lsf["interpreter"], true, "{services}");
    kiosk.expect("media_ready", WAIT).await;
    alice.expect("media_ready", WAIT).await;
    let kiosk_media = connect_media(&mut kiosk, ClientSpec::publisher(111, 96), 1).await;
    let alice_media = connect_media(&mut alice, ClientSpec::publisher(109, 120), 2).await;

    let mut ines = ready_agent(&server, "ines").await;
    let refused = alice
        .request(json!({"type": "add_interpreter", "service": "caf"}))
        .await;
    assert_eq!(refused["code"], "unknown_service", "{refused}");
    let reply = alice
        .request(json!({"type": "add_interpreter", "service": "lsf"}))
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");
    let status = alice.expect("interpreter_status", WAIT).await;
    assert_eq!(status["status"], "waiting");
    let offered = ines.expect("offered", WAIT).await;
    assert_eq!(offered["service"], "lsf");
    let aux = offered["call"].as_u64().unwrap();
    assert_ne!(aux, call);
    let accepted = ines.request(json!({"type": "accept", "call": aux})).await;
    assert_eq!(accepted["type"], "ok", "{accepted}");
    let ready = ines.expect("media_ready", WAIT).await;
    assert_eq!(
        ready["call"], call,
        "the interpreter joins the agent's call"
    );
    let listener = ClientSpec {
        recvonly_pairs: 1,
        ..ClientSpec::publisher(111, 96)
    };
    let ines_media = connect_media(&mut ines, listener, 3).await;
    renegotiate(&mut kiosk, &kiosk_media).await;
    renegotiate(&mut alice, &alice_media).await;
    let joined = alice
        .expect_where("interpreter_status", WAIT, |m| m["status"] == "joined")
        .await;
    assert_eq!(joined["service"], "lsf");

    let all = [
        ("kiosk", &kiosk_media),
        ("alice", &alice_media),
        ("ines", &ines_media),
    ];
    talk(&all, 0).await;
    assert_eq!(heard_since(&kiosk_media, 0), names(&["alice", "ines"]));
    assert_eq!(heard_since(&alice_media, 0), names(&["ines", "kiosk"]));
    assert_eq!(heard_since(&ines_media, 0), names(&["alice", "kiosk"]));

    // The interpreter leaves; its call has its record; the call goes on.
    let left = ines.request(json!({"type": "hangup"})).await;
    assert_eq!(left["type"], "ok", "{left}");
    alice
        .expect_where("interpreter_status", WAIT, |m| m["status"] == "left")
        .await;
    let record = server
        .record_where(aux, |r| r.outcome == relais_proto::Outcome::Answered)
        .await;
    assert_eq!(
        (record.queue.as_str(), record.agent.as_deref()),
        ("lsf", Some("ines"))
    );
    let at = kiosk_media
        .received(rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Audio)
        .len();
    talk(&all, 30).await;
    assert_eq!(heard_since(&kiosk_media, at), names(&["alice"]));
    let hangup = kiosk.request(json!({"type": "hangup"})).await;
    assert_eq!(hangup["type"], "ok", "{hangup}");
    let refused = WsClient::signed_in(server.addr, &server.token(relais_proto::Role::Kiosk, "b2"))
        .await
        .request(json!({"type": "call", "service": "lsf"}))
        .await;
    assert_eq!(
        refused["code"], "unknown_service",
        "kiosks do not call interpreters"
    );
}
