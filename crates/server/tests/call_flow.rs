//! The whole call flow against the real server on ephemeral ports: signalling over `/ws`,
//! the dispatcher's offers, media through the SFU with `webrtc`-crate clients, durable records
//! in the SQLite file, KPIs pushed to a supervisor, authorization and bad input.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::time::Duration;

use relais::auth::Claims;
use relais_proto::{Outcome, Role};
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use serde_json::json;
use support::calls::{answered_call, ready_agent};
use support::client::{Client, ClientSpec, payload_text};
use support::server::TestServer;
use support::signal::WsClient;

const WAIT: Duration = Duration::from_secs(10);

/// The browser side of a call: a webrtc client that sends its offer over the websocket.
async fn connect_media(ws: &mut WsClient, seed: u32) -> Client {
    let (client, offer) = Client::new(ClientSpec::publisher(111, 96), seed).await;
    let reply = ws.request(json!({"type": "sdp_offer", "sdp": offer})).await;
    assert_eq!(reply["type"], "ok", "{reply}");
    assert_eq!(reply["result"]["kind"], "answer");
    client
        .accept_answer(reply["result"]["sdp"].as_str().unwrap().to_owned())
        .await;
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_call_is_answered_carries_media_and_leaves_a_record() {
    let server = TestServer::start("full").await;
    let mut supervisor =
        WsClient::signed_in(server.addr, &server.token(Role::Supervisor, "sophie")).await;
    let snapshot = supervisor.request(json!({"type": "subscribe_kpis"})).await;
    assert_eq!(snapshot["result"]["kind"], "kpis", "{snapshot}");
    let mut agent = ready_agent(&server, "alice").await;

    let mut kiosk = WsClient::signed_in(server.addr, &server.token(Role::Kiosk, "borne-1")).await;
    let services = kiosk.request(json!({"type": "list_services"})).await;
    let list = services["result"]["services"].as_array().unwrap();
    assert!(
        list.iter().any(|s| s["id"] == "caf" && s["open"] == true),
        "{services}"
    );
    assert!(
        list.iter().any(|s| s["id"] == "nuit" && s["open"] == false),
        "{services}"
    );

    let queued = kiosk
        .request(json!({"type": "call", "service": "caf"}))
        .await;
    assert_eq!(queued["result"]["kind"], "queued", "{queued}");
    let call = queued["result"]["call"].as_u64().unwrap();

    let offered = agent.expect("offered", WAIT).await;
    assert_eq!(offered["call"], call);
    assert_eq!(offered["service"], "caf");
    assert_eq!(offered["site"], "mairie-test");
    let accepted = agent.request(json!({"type": "accept", "call": call})).await;
    assert_eq!(accepted["type"], "ok", "{accepted}");
    kiosk.expect("media_ready", WAIT).await;
    agent.expect("media_ready", WAIT).await;

    let kiosk_media = connect_media(&mut kiosk, 21).await;
    let agent_media = connect_media(&mut agent, 22).await;
    kiosk_media.wait_connected(WAIT).await;
    agent_media.wait_connected(WAIT).await;
    for seq in 0..40u16 {
        kiosk_media.send_numbered("kiosk", seq).await;
        agent_media.send_numbered("agent", seq).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let at_agent = agent_media.received(RtpCodecKind::Video);
    let at_kiosk = kiosk_media.received(RtpCodecKind::Audio);
    assert!(
        at_agent.len() >= 35,
        "the agent received {} video packets",
        at_agent.len()
    );
    assert!(
        at_kiosk.len() >= 35,
        "the kiosk received {} audio packets",
        at_kiosk.len()
    );
    assert!(payload_text(&at_agent[0].payload).starts_with("kiosk-video-"));
    assert!(payload_text(&at_kiosk[0].payload).starts_with("agent-audio-"));

    // The media metrics counted the forwarding and timed each datagram's stay in the server.
    let text = server
        .metrics_where("relais_media_rtp_forwarded_total{shard=\"0\"}", |n| {
            n >= 140.0
        })
        .await;
    let value = |series: &str| support::server::metric(&text, series).unwrap_or(-1.0);
    assert_eq!(value("relais_media_peers{shard=\"0\"}"), 2.0, "{text}");
    let stays = value("relais_media_residence_seconds_count{shard=\"0\"}");
    let received = value("relais_media_datagrams_received_total{shard=\"0\"}");
    assert!(stays >= 140.0 && stays <= received, "{text}");
    let mean = value("relais_media_residence_seconds_sum{shard=\"0\"}") / stays;
    assert!(mean > 0.0 && mean < 0.05, "mean residence {mean} s\n{text}");
    assert!(
        value("relais_media_bytes_sent_total{shard=\"0\"}") > 80_000.0,
        "{text}"
    );
    assert_eq!(
        value("relais_media_receive_overflow_total{shard=\"0\"}"),
        0.0,
        "{text}"
    );

    // The supervisor sees the call in progress.
    supervisor
        .expect_where("kpis", WAIT, |m| {
            m["agents"].as_array().is_some_and(|agents| {
                agents
                    .iter()
                    .any(|a| a["agent"] == "alice" && a["state"] == "on_call")
            })
        })
        .await;

    let hangup = kiosk.request(json!({"type": "hangup"})).await;
    assert_eq!(hangup["type"], "ok", "{hangup}");
    let ended = kiosk.expect("call_ended", WAIT).await;
    assert_eq!(ended["outcome"], "answered");
    assert_eq!(ended["by"], "kiosk");
    agent.expect("call_ended", WAIT).await;
    // The record was committed before `call_ended` went out.
    let record = server
        .store()
        .calls_between(0, i64::MAX)
        .unwrap()
        .into_iter()
        .find(|r| r.call_id == call)
        .unwrap();
    assert_eq!(record.outcome, Outcome::Answered);
    assert_eq!(record.agent.as_deref(), Some("alice"));
    assert_eq!(record.queue, "caf");
    assert_eq!(record.kiosk, "borne-1");
    assert!(record.talk_ms.unwrap() >= 800, "{record:?}");
    assert!(record.answered_at_ms.unwrap() >= record.enqueued_at_ms);
    assert!(record.ended_at_ms >= record.answered_at_ms.unwrap());

    // Wrap-up, then available again by itself after the queue's wrap-up time (1 s).
    agent
        .expect_where("agent_state", WAIT, |m| m["state"] == "wrap_up")
        .await;
    agent
        .expect_where("agent_state", WAIT, |m| m["state"] == "available")
        .await;
    let wrapped = server
        .stored(|store| {
            store
                .calls_between(0, i64::MAX)
                .unwrap()
                .into_iter()
                .find(|r| r.call_id == call && r.wrap_up_ms.is_some())
        })
        .await;
    assert!(wrapped.wrap_up_ms.unwrap() >= 900, "{wrapped:?}");
    let states = server.stored(|store| {
        let states = store.agent_states_between(0, i64::MAX).unwrap();
        (states.iter().filter(|s| s.agent == "alice").count() >= 4).then_some(states)
    });
    let states = states.await;
    assert!(states.iter().any(|s| s.state == "on_call"));

    // The supervisor saw the answered call counted.
    supervisor
        .expect_where("kpis", WAIT, |m| {
            m["queues"].as_array().is_some_and(|queues| {
                queues.iter().any(|q| {
                    q["service"] == "caf" && q["today"]["answered"] == 1 && q["waiting"] == 0
                })
            })
        })
        .await;
    // And the agent's own figures: one call answered, its talk time.
    supervisor
        .expect_where("kpis", WAIT, |m| {
            m["agents"].as_array().is_some_and(|agents| {
                agents.iter().any(|a| {
                    a["agent"] == "alice"
                        && a["calls"] == 1
                        && a["talk_secs"].as_u64().is_some_and(|t| t >= 1)
                })
            })
        })
        .await;
    let mine = agent.request(json!({"type": "my_calls"})).await;
    assert_eq!(mine["result"]["calls"][0]["call"], call, "{mine}");
    assert_eq!(mine["result"]["calls"][0]["service_name"], "CAF", "{mine}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_not_accepted_in_time_goes_to_the_next_agent() {
    let server = TestServer::start("timeout").await;
    let mut alice = ready_agent(&server, "alice").await;
    let mut bob = ready_agent(&server, "bob").await;
    let mut kiosk = WsClient::signed_in(server.addr, &server.token(Role::Kiosk, "borne-2")).await;
    let call = kiosk
        .request(json!({"type": "call", "service": "caf"}))
        .await["result"]["call"]
        .as_u64()
        .unwrap();

    // Whoever is offered first lets the 2 s deadline pass.
    let (first, second) = tokio::select! {
        offer = alice.expect("offered", WAIT) => { assert_eq!(offer["call"], call); (&mut alice, &mut bob) }
        offer = bob.expect("offered", WAIT) => { assert_eq!(offer["call"], call); (&mut bob, &mut alice) }
    };
    let withdrawn = first.expect("offer_withdrawn", WAIT).await;
    assert_eq!(withdrawn["reason"], "expired");
    let offer = second.expect("offered", WAIT).await;
    assert_eq!(offer["call"], call);
    // A late accept from the first agent is refused clearly.
    let late = first.request(json!({"type": "accept", "call": call})).await;
    assert_eq!(late["code"], "no_longer_offered", "{late}");
    let ok = second
        .request(json!({"type": "accept", "call": call}))
        .await;
    assert_eq!(ok["type"], "ok", "{ok}");
    kiosk.expect("media_ready", WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_who_disconnects_while_offered_loses_the_offer_to_another() {
    let server = TestServer::start("disconnect").await;
    let mut alice = ready_agent(&server, "alice").await;
    let mut kiosk = WsClient::signed_in(server.addr, &server.token(Role::Kiosk, "borne-3")).await;
    let call = kiosk
        .request(json!({"type": "call", "service": "caf"}))
        .await["result"]["call"]
        .as_u64()
        .unwrap();
    alice.expect("offered", WAIT).await;
    let mut bob = ready_agent(&server, "bob").await;
    alice.close();
    let offer = bob.expect("offered", WAIT).await;
    assert_eq!(offer["call"], call);
    // Alice shows as not ready ("disconnected") to supervisors.
    let mut supervisor =
        WsClient::signed_in(server.addr, &server.token(Role::Supervisor, "sophie")).await;
    let view = supervisor.request(json!({"type": "subscribe_kpis"})).await;
    let alice_row = view["result"]["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == "alice")
        .cloned()
        .unwrap();
    assert_eq!(alice_row["state"], "not_ready", "{alice_row}");
    assert_eq!(alice_row["reason"], "disconnected", "{alice_row}");
    // She comes back not ready, and is offered nothing until she says so.
    let mut alice = WsClient::signed_in(server.addr, &server.token(Role::Agent, "alice")).await;
    assert!(!alice.sees("offered", Duration::from_millis(300)).await);
    let ready = alice
        .request(json!({"type": "set_state", "state": "ready"}))
        .await;
    assert_eq!(ready["type"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_that_cancels_while_queued_leaves_an_abandoned_record() {
    let server = TestServer::start("cancel").await;
    let mut kiosk = WsClient::signed_in(server.addr, &server.token(Role::Kiosk, "borne-4")).await;
    let call = kiosk
        .request(json!({"type": "call", "service": "caf"}))
        .await["result"]["call"]
        .as_u64()
        .unwrap();
    let position = kiosk.expect("queue_position", WAIT).await;
    assert_eq!(position["position"], 1);
    let cancel = kiosk.request(json!({"type": "cancel"})).await;
    assert_eq!(cancel["type"], "ok", "{cancel}");
    let ended = kiosk.expect("call_ended", WAIT).await;
    assert_eq!(ended["outcome"], "abandoned_short");
    let record = server
        .store()
        .calls_between(0, i64::MAX)
        .unwrap()
        .into_iter()
        .find(|r| r.call_id == call)
        .unwrap();
    assert_eq!(record.outcome, Outcome::AbandonedShort);
    assert_eq!(record.agent, None);
    // A second cancel has nothing to cancel.
    let again = kiosk.request(json!({"type": "cancel"})).await;
    assert_eq!(again["code"], "wrong_state", "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_service_refuses_the_call_clearly_and_records_it() {
    let server = TestServer::start("closed").await;
    let mut kiosk = WsClient::signed_in(server.addr, &server.token(Role::Kiosk, "borne-5")).await;
    let refused = kiosk
        .request(json!({"type": "call", "service": "nuit"}))
        .await;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["code"], "service_closed", "{refused}");
    // The refusal is the answer: no push about a call id the kiosk was never given.
    assert!(
        !kiosk.sees("call_ended", Duration::from_millis(300)).await,
        "a call_ended push followed the refusal"
    );
    let records = server.store().calls_between(0, i64::MAX).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].outcome, Outcome::Closed);
    // The kiosk may call an open service right after.
    let queued = kiosk
        .request(json!({"type": "call", "service": "caf"}))
        .await;
    assert_eq!(queued["result"]["kind"], "queued", "{queued}");
    let unknown = WsClient::signed_in(server.addr, &server.token(Role::Kiosk, "borne-6"))
        .await
        .request(json!({"type": "call", "service": "nope"}))
        .await;
    assert_eq!(unknown["code"], "unknown_service");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_tokens_are_enforced_with_documented_codes() {
    let server = TestServer::start("auth").await;
    let mut kiosk = WsClient::signed_in(server.addr, &server.token(Role::Kiosk, "borne-7")).await;
    let kpis = kiosk.request(json!({"type": "subscribe_kpis"})).await;
    assert_eq!(kpis["code"], "forbidden", "{kpis}");
    let accept = kiosk.request(json!({"type": "accept", "call": 1})).await;
    assert_eq!(accept["code"], "forbidden", "{accept}");

    let mut anonymous = WsClient::connect(server.addr).await;
    let early = anonymous.request(json!({"type": "list_services"})).await;
    assert_eq!(early["code"], "not_authenticated");
    let expired = server.token_with(Claims {
        dev: None,
        role: Role::Supervisor,
        sub: "old".into(),
        exp: relais::auth::now_secs() - 10,
        site: None,
        skills: vec![],
        services: None,
        name: None,
    });
    let reply = anonymous
        .request(json!({"type": "hello", "protocol": 1, "token": expired}))
        .await;
    assert_eq!(reply["code"], "token_expired", "{reply}");
    let forged = relais::auth::TokenKey::new(b"not-the-server-secret").sign(&Claims {
        dev: None,
        role: Role::Admin,
        sub: "mallory".into(),
        exp: relais::auth::now_secs() + 60,
        site: None,
        skills: vec![],
        services: None,
        name: None,
    });
    let reply = anonymous
        .request(json!({"type": "hello", "protocol": 1, "token": forged}))
        .await;
    assert_eq!(reply["code"], "bad_token", "{reply}");
    let reply = anonymous
        .request(json!({"type": "hello", "protocol": 9, "token": "x"}))
        .await;
    assert_eq!(reply["code"], "protocol_version", "{reply}");

    // The REST records: supervisors only.
    assert!(
        server
            .get("/api/calls", None)
            .await
            .starts_with("HTTP/1.1 401")
    );
    assert!(
        server
            .get("/api/calls", Some(server.token(Role::Kiosk, "k")))
            .await
            .starts_with("HTTP/1.1 403")
    );
    let week_ago = relais::auth::now_secs() * 1000 - 7 * 24 * 3600 * 1000;
    let json_reply = server
        .get(
            &format!("/api/calls?from={week_ago}"),
            Some(server.token(Role::Supervisor, "s")),
        )
        .await;
    assert!(json_reply.starts_with("HTTP/1.1 200"), "{json_reply}");
    assert!(json_reply.contains("\"calls\":[]"), "{json_reply}");
    let csv = server
        .get(
            &format!("/api/calls?from={week_ago}&format=csv"),
            Some(server.token(Role::Admin, "a")),
        )
        .await;
    assert!(csv.contains("text/csv"), "{csv}");
    assert!(csv.contains("call_id,"), "{csv}");
    let bad = server
        .get(
            "/api/calls?from=yesterday",
            Some(server.token(Role::Admin, "a")),
        )
        .await;
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    let too_wide = server
        .get("/api/calls?from=0", Some(server.token(Role::Admin, "a")))
        .await;
    assert!(too_wide.starts_with("HTTP/1.1 400"), "{too_wide}");
    assert!(too_wide.contains("366 days"), "{too_wide}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors_and_leaves_a_concurrent_call_alone() {
    let server = TestServer::start("garbage").await;
    let (mut agent, mut kiosk, _call) = answered_call(&server, "alice", "borne-8").await;

    let mut vandal = WsClient::signed_in(server.addr, &server.token(Role::Kiosk, "vandal")).await;
    vandal.send_text("this is not json");
    assert_eq!(vandal.expect("error", WAIT).await["code"], "bad_json");
    vandal.send_text(r#"{"type":"explode","id":5}"#);
    let unknown = vandal.expect("error", WAIT).await;
    assert_eq!(unknown["code"], "unknown_type");
    assert_eq!(unknown["id"], 5);
    vandal.send_text(r#"{"type":"call","id":6,"service":7}"#);
    assert_eq!(vandal.expect("error", WAIT).await["code"], "bad_request");
    vandal.send_text(r#"{"type":"call","id":7,"service":"caf","extra":true}"#);
    assert_eq!(vandal.expect("error", WAIT).await["code"], "bad_request");
    // A flood: the burst passes, the rest is refused, the connection survives.
    for i in 0..300 {
        vandal.send_text(&json!({"type": "ping", "id": 1000 + i}).to_string());
    }
    assert!(
        vandal.sees("error", WAIT).await,
        "the flood was rate limited"
    );
    // An oversize frame closes that connection, and only that one.
    vandal.send_text(&"x".repeat(100 * 1024));
    let too_large = vandal
        .expect_where("error", WAIT, |m| m["code"] == "frame_too_large")
        .await;
    assert_eq!(too_large["code"], "frame_too_large");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        vandal.closed.load(std::sync::atomic::Ordering::SeqCst),
        "the oversize sender is disconnected"
    );

    // The call in progress is untouched and ends normally; a broken SDP offer is refused
    // without ending it.
    kiosk.expect("media_ready", WAIT).await;
    let garbage = kiosk
        .request(json!({"type": "sdp_offer", "sdp": "v=0\r\nthis is not SDP"}))
        .await;
    assert_eq!(garbage["code"], "media_error", "{garbage}");
    let hangup = agent.request(json!({"type": "hangup"})).await;
    assert_eq!(hangup["type"], "ok", "{hangup}");
    let ended = kiosk.expect("call_ended", WAIT).await;
    assert_eq!(ended["outcome"], "answered");
    assert_eq!(ended["by"], "agent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ends_when_its_token_expires() {
    let server = TestServer::start("expiry").await;
    let short = server.token_with(Claims {
        dev: None,
        role: Role::Supervisor,
        sub: "brief".into(),
        exp: relais::auth::now_secs() + 2,
        site: None,
        skills: vec![],
        services: None,
        name: None,
    });
    let mut supervisor = WsClient::signed_in(server.addr, &short).await;
    let expired = supervisor.expect("error", Duration::from_secs(5)).await;
    assert_eq!(expired["code"], "token_expired", "{expired}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(supervisor.closed.load(std::sync::atomic::Ordering::SeqCst));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_agent_is_told_its_login_state_without_asking() {
    let server = TestServer::start("login-state").await;
    let mut agent = WsClient::signed_in(server.addr, &server.token(Role::Agent, "alice")).await;
    let state = agent.expect("agent_state", WAIT).await;
    assert_eq!(state["state"], "not_ready", "{state}");
    assert_eq!(state["reason"], "login", "{state}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_call_is_recorded_before_its_refusal_is_answered() {
    let server = TestServer::start("refusal-order").await;
    let mut kiosk = WsClient::signed_in(server.addr, &server.token(Role::Kiosk, "borne-o")).await;
    for attempt in 0..3 {
        let refused = kiosk
            .request(json!({"type": "call", "service": "nuit"}))
            .await;
        assert_eq!(refused["code"], "service_closed", "{refused}");
        // Read at once, without waiting: the record is already committed.
        let records = server.store().calls_between(0, i64::MAX).unwrap();
        assert_eq!(records.len(), attempt + 1, "{records:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallboard_estimates_no_wait_with_a_free_agent_and_none_for_a_closed_queue() {
    let server = TestServer::start("estimates").await;
    let _agent = ready_agent(&server, "alice").await;
    let mut supervisor =
        WsClient::signed_in(server.addr, &server.token(Role::Supervisor, "sophie")).await;
    let snapshot = supervisor.request(json!({"type": "subscribe_kpis"})).await;
    let queues = snapshot["result"]["queues"].as_array().unwrap();
    let queue = |id: &str| queues.iter().find(|q| q["service"] == id).unwrap();
    let caf = queue("caf");
    assert_eq!(caf["open"], true, "{snapshot}");
    assert_eq!(caf["agents"]["available"], 1, "{snapshot}");
    assert_eq!(
        caf["estimated_wait_secs"], 0,
        "an empty queue with a free agent: {snapshot}"
    );
    let nuit = queue("nuit");
    assert_eq!(nuit["open"], false, "{snapshot}");
    assert!(
        nuit.get("estimated_wait_secs").is_none_or(|v| v.is_null()),
        "a closed queue has no estimated wait: {snapshot}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_logs_out_after_its_call_and_leaves_the_wallboard() {
    let server = TestServer::start("logout").await;
    let mut supervisor =
        WsClient::signed_in(server.addr, &server.token(Role::Supervisor, "sophie")).await;
    supervisor.request(json!({"type": "subscribe_kpis"})).await;
    let (mut agent, mut kiosk, _call) = answered_call(&server, "alice", "borne-9").await;

    // On a call: refused, the call goes on.
    let refused = agent.request(json!({"type": "logout"})).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "wrong_state", "{refused}");

    let hangup = kiosk.request(json!({"type": "hangup"})).await;
    assert_eq!(hangup["type"], "ok", "{hangup}");
    agent
        .expect_where("agent_state", WAIT, |m| m["state"] == "wrap_up")
        .await;
    // In wrap-up: the wrap-up ends and the agent is logged out.
    let done = agent.request(json!({"type": "logout"})).await;
    assert_eq!(done["type"], "ok", "{done}");
    agent
        .expect_where("agent_state", WAIT, |m| m["state"] == "logged_out")
        .await;
    supervisor
        .expect_where("kpis", WAIT, |m| {
            m["agents"].as_array().is_some_and(|a| a.is_empty())
                && m["queues"][0]["agents"]["logged_in"] == 0
        })
        .await;
    // A logged-out agent asks for nothing more until it signs in again.
    let ready = agent
        .request(json!({"type": "set_state", "state": "ready"}))
        .await;
    assert_eq!(ready["code"], "wrong_state", "{ready}");
    // A kiosk's role may not log out.
    let kiosk_logout = kiosk.request(json!({"type": "logout"})).await;
    assert_eq!(kiosk_logout["code"], "forbidden", "{kiosk_logout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_notes_the_case_of_its_call_and_finds_it_again_in_its_history() {
    let server = TestServer::start("case-notes").await;
    let (mut agent, mut kiosk, call) = answered_call(&server, "alice", "borne-10").await;
    let services = agent.request(json!({"type": "list_services"})).await;
    assert_eq!(
        services["result"]["services"][0]["dispositions"][0], "renseignement",
        "the default codes: {services}"
    );
    let note = |case: &str, notes: &str| json!({"type": "case_note", "call": call, "case_ref": case, "notes": notes});
    // During the call, then replaced in wrap-up.
    let saved = agent.request(note("CAF-2026-0042", "premier jet")).await;
    assert_eq!(saved["type"], "ok", "{saved}");
    let too_long = agent.request(note("CAF", &"x".repeat(4001))).await;
    assert_eq!(too_long["code"], "bad_request", "{too_long}");
    let kiosk_note = kiosk.request(note("X", "x")).await;
    assert_eq!(kiosk_note["code"], "forbidden", "{kiosk_note}");
    kiosk.request(json!({"type": "hangup"})).await;
    agent
        .expect_where("agent_state", WAIT, |m| {
            m["state"] == "wrap_up" && m["call"] == call
        })
        .await;
    let saved = agent
        .request(note("CAF-2026-0042", "Attestation de paiement envoyée."))
        .await;
    assert_eq!(saved["type"], "ok", "{saved}");
    let done = agent
        .request(json!({"type": "wrap_up_done", "disposition": "dossier-transmis"}))
        .await;
    assert_eq!(done["type"], "ok", "{done}");
    let late = agent.request(note("CAF-2026-0043", "trop tard")).await;
    assert_eq!(late["code"], "wrong_state", "{late}");

    // Today's calls carry it; a search by case prefix finds it, another service does not.
    let row = |reply: &serde_json::Value| reply["result"]["calls"][0].clone();
    let mut today = serde_json::Value::Null;
    for _ in 0..50 {
        today = agent.request(json!({"type": "my_calls"})).await;
        if row(&today)["disposition"] == "dossier-transmis" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(row(&today)["call"], call, "{today}");
    assert_eq!(row(&today)["case_ref"], "CAF-2026-0042", "{today}");
    assert_eq!(
        row(&today)["notes"],
        "Attestation de paiement envoyée.",
        "{today}"
    );
    assert_eq!(row(&today)["disposition"], "dossier-transmis", "{today}");
    let found = agent
        .request(json!({"type": "my_calls", "case_ref": "caf-2026", "from_ms": 0}))
        .await;
    assert_eq!(row(&found)["call"], call, "{found}");
    let other = agent
        .request(json!({"type": "my_calls", "service": "nuit"}))
        .await;
    assert_eq!(other["result"]["calls"], json!([]), "{other}");
    let future = agent
        .request(json!({"type": "my_calls", "from_ms": i64::MAX - 1}))
        .await;
    assert_eq!(future["result"]["calls"], json!([]), "{future}");
    // Another agent does not see it.
    let mut bob = ready_agent(&server, "bob").await;
    let theirs = bob
        .request(json!({"type": "my_calls", "case_ref": "CAF"}))
        .await;
    assert_eq!(theirs["result"]["calls"], json!([]), "{theirs}");
}

/// Requests that arrive together share one turn of the call task and one commit of their
/// writes (group commit), instead of one sync each; every write is still in the store, and
/// every reply comes after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_arrive_together_share_one_commit() {
    const AGENTS: usize = 40;
    let server = TestServer::start("group-commit").await;
    let mut agents = Vec::new();
    for n in 0..AGENTS {
        let token = server.token(Role::Agent, &format!("agent-{n}"));
        agents.push(WsClient::signed_in(server.addr, &token).await);
    }
    let commits = |text: &str| support::server::metric(text, "relais_store_commits_total");
    let before = commits(&server.get("/metrics", None).await).unwrap();
    // Every agent asks at once; nobody waits for its reply before the others have asked.
    for agent in &agents {
        agent.send_text(r#"{"type":"set_state","state":"ready","id":900}"#);
    }
    for agent in &mut agents {
        let reply = agent.reply(900).await;
        assert_eq!(reply["type"], "ok", "{reply}");
    }
    let after = commits(&server.get("/metrics", None).await).unwrap();
    let store = server.store();
    let available = store
        .last_agent_states()
        .unwrap()
        .into_iter()
        .filter(|change| change.state == "available")
        .count();
    assert_eq!(available, AGENTS, "each agent's state is written");
    let spent = after - before;
    println!("{AGENTS} requests arriving together: {spent} commits");
    assert!(
        spent <= (AGENTS as f64) * 0.75,
        "{spent} commits for {AGENTS} requests: they were not grouped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_roles_get_turn_credentials_that_expire_and_can_renew_them() {
    let server = TestServer::start_with("ice", |config| {
        config.turn.urls = vec![
            "stun:turn.example.fr:3478".to_owned(),
            "turn:turn.example.fr:3478?transport=udp".to_owned(),
            "turns:turn.example.fr:443?transport=tcp".to_owned(),
        ];
        config.turn.secret = Some("shared-with-coturn-0123".to_owned());
        config.turn.ttl_secs = 600;
    })
    .await;
    let now = relais::auth::now_secs();
    let mut kiosk = WsClient::connect(server.addr).await;
    let welcome = kiosk
        .request(
            json!({"type": "hello", "protocol": 1, "token": server.token(Role::Kiosk, "borne:1")}),
        )
        .await;
    let ice = &welcome["result"]["ice"];
    assert_eq!(ice["ttl_secs"], 600, "{welcome}");
    assert_eq!(
        ice["servers"][0],
        json!({"urls": ["stun:turn.example.fr:3478"]})
    );
    let turn = &ice["servers"][1];
    assert_eq!(
        turn["urls"],
        json!([
            "turn:turn.example.fr:3478?transport=udp",
            "turns:turn.example.fr:443?transport=tcp"
        ])
    );
    let username = turn["username"].as_str().unwrap();
    let (expiry, subject) = username.split_once(':').unwrap();
    assert_eq!(subject, "kiosk-borne_1");
    let expiry: i64 = expiry.parse().unwrap();
    assert!(
        (now + 600..=now + 602).contains(&expiry),
        "{expiry} vs {now}"
    );
    assert_eq!(
        turn["credential"],
        relais::turn::credential("shared-with-coturn-0123", username)
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let renewed = kiosk.request(json!({"type": "ice_servers"})).await;
    assert_eq!(renewed["result"]["kind"], "ice", "{renewed}");
    let again = renewed["result"]["servers"][1]["username"]
        .as_str()
        .unwrap();
    assert!(again > username, "a later expiry: {again} after {username}");

    // An admin has no media; a kiosk's call is not needed to ask.
    let mut admin = WsClient::connect(server.addr).await;
    let welcome = admin
        .request(
            json!({"type": "hello", "protocol": 1, "token": server.token(Role::Admin, "root")}),
        )
        .await;
    assert_eq!(welcome["result"].get("ice"), None, "{welcome}");
    let refused = admin.request(json!({"type": "ice_servers"})).await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_turn_configured_the_welcome_has_no_ice_servers() {
    let server = TestServer::start("no-ice").await;
    let mut agent = WsClient::connect(server.addr).await;
    let welcome = agent
        .request(
            json!({"type": "hello", "protocol": 1, "token": server.token(Role::Agent, "alice")}),
        )
        .await;
    assert_eq!(welcome["result"]["kind"], "welcome", "{welcome}");
    assert_eq!(welcome["result"].get("ice"), None);
    let asked = agent.request(json!({"type": "ice_servers"})).await;
    assert_eq!(asked["result"]["servers"], json!([]), "{asked}");
}

/// A kiosk connection's `hello`, with the resume token of an earlier one: the client and its
/// `welcome`.
async fn kiosk_hello(
    server: &TestServer,
    kiosk: &str,
    resume: Option<&str>,
) -> (WsClient, serde_json::Value) {
    let mut client = WsClient::connect(server.addr).await;
    let mut hello =
        json!({"type": "hello", "protocol": 1, "token": server.token(Role::Kiosk, kiosk)});
    if let Some(token) = resume {
        hello["resume"] = json!(token);
    }
    let welcome = client.request(hello).await;
    assert_eq!(welcome["result"]["kind"], "welcome", "{welcome}");
    (client, welcome["result"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_kiosk_whose_websocket_drops_gets_its_call_back_at_its_place() {
    let server = TestServer::start("resume-waiting").await;
    let (mut first, _) = kiosk_hello(&server, "borne-1", None).await;
    first
        .request(json!({"type": "call", "service": "caf"}))
        .await;
    let (mut second, welcome) = kiosk_hello(&server, "borne-2", None).await;
    let token = welcome["resume"].as_str().unwrap().to_owned();
    let call = second
        .request(json!({"type": "call", "service": "caf"}))
        .await["result"]["call"]
        .as_u64()
        .unwrap();
    let position = second.expect("queue_position", WAIT).await;
    assert_eq!(position["position"], 2, "{position}");

    second.close();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut back, welcome) = kiosk_hello(&server, "borne-2", Some(&token)).await;
    assert_eq!(welcome["resumed"]["call"], call, "{welcome}");
    assert_eq!(welcome["resumed"]["connected"], false);
    assert_eq!(welcome["resumed"]["position"], 2);
    assert_ne!(
        welcome["resume"],
        json!(token),
        "a fresh token for the next drop"
    );
    // Its place moves on as before, and an agent answers it.
    first.request(json!({"type": "cancel"})).await;
    let moved = back
        .expect_where("queue_position", WAIT, |m| m["position"] == 1)
        .await;
    assert_eq!(moved["call"], call);
    let mut agent = ready_agent(&server, "alice").await;
    let offered = agent.expect("offered", WAIT).await;
    assert_eq!(offered["call"], call);
    agent.request(json!({"type": "accept", "call": call})).await;
    back.expect("media_ready", WAIT).await;
    let metrics = server.get("/metrics", None).await;
    assert!(
        metrics.contains("relais_kiosk_resumes_total 1"),
        "{metrics}"
    );

    // The same token again gets nothing.
    let (_, welcome) = kiosk_hello(&server, "borne-2", Some(&token)).await;
    assert_eq!(welcome.get("resumed"), None, "{welcome}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_whose_websocket_drops_during_a_call_keeps_it_and_the_agent_is_told() {
    let server = TestServer::start("resume-call").await;
    let mut agent = ready_agent(&server, "alice").await;
    let (mut kiosk, welcome) = kiosk_hello(&server, "borne-1", None).await;
    let token = welcome["resume"].as_str().unwrap().to_owned();
    let call = kiosk
        .request(json!({"type": "call", "service": "caf"}))
        .await["result"]["call"]
        .as_u64()
        .unwrap();
    agent.expect("offered", WAIT).await;
    agent.request(json!({"type": "accept", "call": call})).await;
    kiosk.expect("media_ready", WAIT).await;

    kiosk.close();
    let dropped = agent.expect("peer_signalling", WAIT).await;
    assert_eq!(dropped["online"], false, "{dropped}");
    assert!(
        !agent.sees("call_ended", Duration::from_secs(1)).await,
        "the call goes on"
    );
    let (mut back, welcome) = kiosk_hello(&server, "borne-1", Some(&token)).await;
    assert_eq!(welcome["resumed"]["call"], call, "{welcome}");
    assert_eq!(welcome["resumed"]["connected"], true);
    let restored = agent.expect("peer_signalling", WAIT).await;
    assert_eq!(restored["online"], true, "{restored}");
    let hangup = back.request(json!({"type": "hangup"})).await;
    assert_eq!(hangup["type"], "ok", "{hangup}");
    back.expect("call_ended", WAIT).await;
    assert_eq!(server.record(call).unwrap().outcome, Outcome::Answered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_that_does_not_come_back_abandons_after_the_resume_period() {
    let server =
        TestServer::start_with("resume-late", |config| config.recovery.resume_secs = 1).await;
    let (mut kiosk, _) = kiosk_hello(&server, "borne-1", None).await;
    let call = kiosk
        .request(json!({"type": "call", "service": "caf"}))
        .await["result"]["call"]
        .as_u64()
        .unwrap();
    kiosk.close();
    let mut record = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        record = server.record(call);
        if record.is_some() {
            break;
        }
    }
    let record = record.expect("recorded once the resume period ended");
    assert_eq!(record.outcome, Outcome::AbandonedShort);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_whose_websocket_drops_during_a_call_gets_it_back_when_it_signs_in_again() {
    let server = TestServer::start("agent-resume").await;
    let (agent, mut kiosk, call) = answered_call(&server, "alice", "borne-1").await;
    kiosk.expect("media_ready", WAIT).await;
    agent.close();
    let dropped = kiosk.expect("peer_signalling", WAIT).await;
    assert_eq!(
        (dropped["role"].clone(), dropped["online"].clone()),
        (json!("agent"), json!(false)),
        "{dropped}"
    );
    assert!(
        !kiosk.sees("call_ended", Duration::from_secs(1)).await,
        "the call goes on"
    );
    let mut back = WsClient::signed_in(server.addr, &server.token(Role::Agent, "alice")).await;
    let state = back.expect("agent_state", WAIT).await;
    assert_eq!(
        (state["state"].clone(), state["call"].clone()),
        (json!("on_call"), json!(call)),
        "{state}"
    );
    let restored = kiosk.expect("peer_signalling", WAIT).await;
    assert_eq!(restored["online"], true, "{restored}");
    let hangup = back.request(json!({"type": "hangup"})).await;
    assert_eq!(hangup["type"], "ok", "{hangup}");
    kiosk.expect("call_ended", WAIT).await;
    let record = server.record(call).unwrap();
    assert_eq!(record.outcome, Outcome::Answered);
    assert_eq!(record.agent.as_deref(), Some("alice"));
}
