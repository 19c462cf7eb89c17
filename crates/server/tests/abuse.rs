//! Abuse of the signalling websocket against the real server: oversized frames and fields get
//! their documented errors and disturb nothing else.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use relais_proto::Role;
use serde_json::json;
use support::calls::answered_call;
use support::client::{Client, ClientSpec};
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
    let (mut agent, _kiosk, call) = answered_call(&server, "alice", "borne-9").await;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_export_comes_in_pages_that_follow_their_cursor() {
    let server = TestServer::start("abuse-export").await;
    let store = server.store();
    let now_ms = relais::auth::now_secs() * 1000;
    for call_id in 1..=12u64 {
        store
            .record_call(&relais_store::CallRecord {
                call_id: 1_000_000 + call_id,
                queue: "caf".to_owned(),
                kiosk: "borne".to_owned(),
                site: "mairie".to_owned(),
                agent: None,
                outcome: relais_proto::Outcome::Abandoned,
                enqueued_at_ms: now_ms - 60_000,
                offered_at_ms: None,
                answered_at_ms: None,
                ended_at_ms: now_ms - 30_000 + call_id as i64,
                wait_ms: 30_000,
                talk_ms: None,
                wrap_up_ms: None,
                attempts: 0,
                callback: false,
                disposition: None,
                ended_by: None,
                end_reason: None,
            })
            .unwrap();
    }
    let token = Some(server.token(Role::Supervisor, "sup"));
    let from = now_ms - 3_600_000;
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &after {
            Some(cursor) => format!("/api/calls?from={from}&limit=5&after={cursor}"),
            None => format!("/api/calls?from={from}&limit=5"),
        };
        let raw = server.get(&query, token.clone()).await;
        assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
        let body = raw.split("\r\n\r\n").nth(1).unwrap();
        let page: serde_json::Value = serde_json::from_str(body).unwrap();
        pages += 1;
        ids.extend(
            page["calls"]
                .as_array()
                .unwrap()
                .iter()
                .map(|call| call["call_id"].as_u64().unwrap()),
        );
        match page["next"].as_str() {
            Some(next) => {
                assert!(raw.contains(&format!("x-relais-next: {next}")), "{raw}");
                after = Some(next.to_owned());
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(ids, (1_000_001..=1_000_012).collect::<Vec<_>>());
    let too_big = server
        .get(&format!("/api/calls?from={from}&limit=50000"), token)
        .await;
    assert!(too_big.starts_with("HTTP/1.1 400"), "{too_big}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_sdp_offers_is_rate_limited_per_connection() {
    let server = TestServer::start("abuse-offers").await;
    let (mut agent, mut kiosk, _call) = answered_call(&server, "alice", "borne-f").await;
    kiosk.expect("media_ready", WAIT).await;
    let mut codes = Vec::new();
    for _ in 0..20 {
        let reply = kiosk
            .request(json!({"type": "sdp_offer", "sdp": "v=0\r\nnot an offer"}))
            .await;
        codes.push(reply["code"].as_str().unwrap().to_owned());
    }
    let negotiated = codes.iter().filter(|c| *c == "media_error").count();
    let limited = codes.iter().filter(|c| *c == "rate_limited").count();
    assert!(negotiated <= 4, "{codes:?}");
    assert_eq!(negotiated + limited, 20, "{codes:?}");
    let hangup = agent.request(json!({"type": "hangup"})).await;
    assert_eq!(
        hangup["type"], "ok",
        "the call survives the flood: {hangup}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_agent_login_leaves_no_session_behind() {
    let server = TestServer::start("abuse-login").await;
    let token = server.token_with(relais::auth::Claims {
        dev: None,
        role: Role::Agent,
        sub: "mallory".to_owned(),
        exp: relais::auth::now_secs() + 3600,
        site: None,
        skills: vec![("caf".to_owned(), 9)],
        services: None,
        name: None,
    });
    let mut agent = WsClient::connect(server.addr).await;
    let refused = agent
        .request(json!({"type": "hello", "protocol": 1, "token": token}))
        .await;
    assert_eq!(refused["code"], "bad_token", "{refused}");
    server
        .metrics_where("relais_ws_sessions{role=\"agent\"}", |v| v == 0.0)
        .await;
    // The connection is still unauthenticated: nothing it sends acts as that agent.
    let ready = agent
        .request(json!({"type": "set_state", "state": "ready"}))
        .await;
    assert_eq!(ready["code"], "not_authenticated", "{ready}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disposition_of_a_refused_wrap_up_done_sticks_to_no_later_call() {
    let server = TestServer::start("abuse-disposition").await;
    let mut early = WsClient::signed_in(server.addr, &server.token(Role::Agent, "alice")).await;
    let refused = early
        .request(json!({"type": "wrap_up_done", "disposition": "fraude"}))
        .await;
    assert_eq!(refused["code"], "wrong_state", "{refused}");
    let (mut agent, _kiosk, call) = answered_call(&server, "alice", "borne-d").await;
    let hangup = agent.request(json!({"type": "hangup"})).await;
    assert_eq!(hangup["type"], "ok", "{hangup}");
    // Wrap-up (1 s in the test service) runs out with no disposition given for this call.
    let record = server.record_where(call, |r| r.wrap_up_ms.is_some()).await;
    assert_eq!(record.disposition, None, "{record:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_re_offer_keeps_the_senders_media() {
    let server = TestServer::start("abuse-reoffer").await;
    let (_agent, mut kiosk, _call) = answered_call(&server, "alice", "borne-r").await;
    kiosk.expect("media_ready", WAIT).await;
    let (client, offer) = Client::new(ClientSpec::publisher(111, 96), 21).await;
    let answer = kiosk
        .request(json!({"type": "sdp_offer", "sdp": offer}))
        .await;
    assert_eq!(answer["result"]["kind"], "answer", "{answer}");
    client
        .accept_answer(answer["result"]["sdp"].as_str().unwrap().to_owned())
        .await;
    server
        .metrics_where("relais_media_peers{shard=\"0\"}", |v| v == 1.0)
        .await;

    let broken = kiosk
        .request(json!({"type": "sdp_offer", "sdp": "v=0\r\nnot an offer"}))
        .await;
    assert_eq!(broken["code"], "media_error", "{broken}");
    // The shard publishes its gauges every 250 ms: well past that, the peer is still there.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let metrics = server.get("/metrics", None).await;
    assert_eq!(
        support::server::metric(&metrics, "relais_media_peers{shard=\"0\"}"),
        Some(1.0),
        "the broken re-offer removed the kiosk's peer"
    );
}
