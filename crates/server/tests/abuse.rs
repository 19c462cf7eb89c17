//! Abuse of the signalling websocket against the real server: oversized frames and fields get
//! their documented errors and disturb nothing else.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use relais_proto::Role;
use serde_json::json;
use support::server::TestServer;
use support::signal::WsClient;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_of_a_mebibyte_or_more_gets_frame_too_large_and_close_1008() {
    let server = TestServer::start("abuse-frame").await;
    let mut vandal = WsClient::signed_in(server.addr, &server.token(Role::Kiosk, "vandal")).await;
    let bystander = WsClient::signed_in(server.addr, &server.token(Role::Kiosk, "honest")).await;
    vandal.send_text(&"x".repeat(2 * 1024 * 1024));
    let refused = vandal
        .expect_where("error", WAIT, |m| m["code"] == "frame_too_large")
        .await;
    assert!(
        refused["message"].as_str().unwrap().contains("65536"),
        "{refused}"
    );
    let deadline = std::time::Instant::now() + WAIT;
    while !vandal.closed.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(vandal.close_code.load(Ordering::SeqCst), 1008);
    let mut bystander = bystander;
    let pong = bystander.request(json!({"type": "ping"})).await;
    assert_eq!(pong["type"], "ok", "{pong}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_text_over_its_cap_is_refused_and_never_shown_to_supervisors() {
    let server = TestServer::start("abuse-fields").await;
    let mut agent = WsClient::signed_in(server.addr, &server.token(Role::Agent, "alice")).await;
    let long = "a".repeat(60_000);
    let refused = agent
        .request(json!({"type": "set_state", "state": "not_ready", "reason": long}))
        .await;
    assert_eq!(refused["code"], "bad_request", "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("reason"),
        "{refused}"
    );
    let ok = agent
        .request(json!({"type": "set_state", "state": "not_ready", "reason": "pause déjeuner"}))
        .await;
    assert_eq!(ok["type"], "ok", "{ok}");

    let mut kiosk = WsClient::signed_in(server.addr, &server.token(Role::Kiosk, "borne")).await;
    let offer = format!(
        "v=0\r\n{}",
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n".repeat(132)
    );
    let refused = kiosk
        .request(json!({"type": "sdp_offer", "sdp": offer}))
        .await;
    assert_eq!(refused["code"], "bad_request", "{refused}");

    let mut supervisor =
        WsClient::signed_in(server.addr, &server.token(Role::Supervisor, "sup")).await;
    let view = supervisor.request(json!({"type": "subscribe_kpis"})).await;
    let alice = view["result"]["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == "alice")
        .cloned()
        .unwrap();
    assert_eq!(alice["reason"], "pause déjeuner", "{alice}");
}
