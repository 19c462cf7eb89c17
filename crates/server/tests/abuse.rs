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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_identity_holds_one_call_and_a_few_connections() {
    let server = TestServer::start("abuse-identity").await;
    let token = server.token(Role::Kiosk, "borne-greedy");
    let mut first = WsClient::signed_in(server.addr, &token).await;
    let mut second = WsClient::signed_in(server.addr, &token).await;
    let queued = first
        .request(json!({"type": "call", "service": "caf"}))
        .await;
    assert_eq!(queued["result"]["kind"], "queued", "{queued}");
    let again = second
        .request(json!({"type": "call", "service": "caf"}))
        .await;
    assert_eq!(again["code"], "wrong_state", "{again}");
    // An honest kiosk still finds room in the queue (max_waiting = 3).
    let mut honest = WsClient::signed_in(server.addr, &server.token(Role::Kiosk, "borne-2")).await;
    let queued = honest
        .request(json!({"type": "call", "service": "caf"}))
        .await;
    assert_eq!(queued["result"]["kind"], "queued", "{queued}");
    // Once the call is given up, the identity may call again.
    let cancelled = first.request(json!({"type": "cancel"})).await;
    assert_eq!(cancelled["type"], "ok", "{cancelled}");
    first.expect("call_ended", WAIT).await;
    let requeued = second
        .request(json!({"type": "call", "service": "caf"}))
        .await;
    assert_eq!(requeued["result"]["kind"], "queued", "{requeued}");

    // Default cap: 4 connections per kiosk identity; the fifth is refused and closed.
    let _third = WsClient::signed_in(server.addr, &token).await;
    let _fourth = WsClient::signed_in(server.addr, &token).await;
    let mut fifth = WsClient::connect(server.addr).await;
    let refused = fifth
        .request(json!({"type": "hello", "protocol": 1, "token": token}))
        .await;
    assert_eq!(refused["code"], "too_many_connections", "{refused}");
    let deadline = std::time::Instant::now() + WAIT;
    while !fifth.closed.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        fifth.closed.load(Ordering::SeqCst),
        "the fifth connection is closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_refusals_are_rate_limited_and_not_each_recorded() {
    let server = TestServer::start("abuse-refusals").await;
    let mut kiosk =
        WsClient::signed_in(server.addr, &server.token(Role::Kiosk, "borne-loop")).await;
    let mut codes = Vec::new();
    for _ in 0..40 {
        let reply = kiosk
            .request(json!({"type": "call", "service": "nuit"}))
            .await;
        codes.push(reply["code"].as_str().unwrap().to_owned());
    }
    let closed = codes.iter().filter(|c| *c == "service_closed").count();
    let limited = codes.iter().filter(|c| *c == "rate_limited").count();
    assert_eq!((closed, limited), (6, 34), "{codes:?}");
    let records = server.store().calls_between(0, i64::MAX).unwrap();
    assert_eq!(
        records.len(),
        6,
        "one record per refusal that reached the queue"
    );
    server
        .metrics_where("relais_calls_refusals_suppressed_total", |v| v == 34.0)
        .await;
    // Another service is not held back by this one's refusals.
    let queued = kiosk
        .request(json!({"type": "call", "service": "caf"}))
        .await;
    assert_eq!(queued["result"]["kind"], "queued", "{queued}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reopened_agent_console_is_told_its_state_and_call() {
    let server = TestServer::start("abuse-reopen").await;
    let token = server.token(Role::Agent, "alice");
    let mut agent = WsClient::signed_in(server.addr, &token).await;
    let ready = agent
        .request(json!({"type": "set_state", "state": "ready"}))
        .await;
    assert_eq!(ready["type"], "ok", "{ready}");
    let mut kiosk = WsClient::signed_in(server.addr, &server.token(Role::Kiosk, "borne-9")).await;
    let call = kiosk
        .request(json!({"type": "call", "service": "caf"}))
        .await["result"]["call"]
        .as_u64()
        .unwrap();
    agent.expect("offered", WAIT).await;
    let accepted = agent.request(json!({"type": "accept", "call": call})).await;
    assert_eq!(accepted["type"], "ok", "{accepted}");

    let mut reopened = WsClient::signed_in(server.addr, &token).await;
    let state = reopened.expect("agent_state", WAIT).await;
    assert_eq!(state["state"], "on_call", "{state}");
    assert_eq!(state["call"], call, "{state}");
    agent.expect("session_replaced", WAIT).await;
    let hangup = reopened.request(json!({"type": "hangup"})).await;
    assert_eq!(
        hangup["type"], "ok",
        "the reopened console holds the call: {hangup}"
    );
}
