//! Callbacks through the real server: a waiting kiosk of a service that calls back is offered
//! it, leaves a number, its call is recorded `callback_requested`; the callback task survives
//! a restart, is offered to an agent with the number, and its result is stored with it.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::time::Duration;

use relais_proto::{Outcome, Role};
use serde_json::json;
use support::calls::ready_agent;
use support::server::TestServer;
use support::signal::WsClient;

const WAIT: Duration = Duration::from_secs(10);

fn calling_back(config: &mut relais::Config) {
    for service in &mut config.services {
        if service.id == "caf" {
            service.callback_after_secs = Some(0);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_is_recorded_survives_a_restart_and_reaches_an_agent_with_the_number() {
    let server = TestServer::start_with("callbacks", calling_back).await;
    let mut kiosk = WsClient::signed_in(server.addr, &server.token(Role::Kiosk, "borne-1")).await;
    let queued = kiosk
        .request(json!({"type": "call", "service": "caf"}))
        .await;
    let call = queued["result"]["call"].as_u64().unwrap();
    let position = kiosk.expect("queue_position", WAIT).await;
    assert_eq!(position["callback"], true, "{position}");

    // Not a number, another call, a time too far: refused, and the call waits on.
    for (request, code) in [
        (json!({"call": call, "phone": "3615 ULLA"}), "bad_request"),
        (
            json!({"call": call + 1000, "phone": "0612345678"}),
            "wrong_state",
        ),
        (
            json!({"call": call, "phone": "0612345678",
                   "not_before_ms": jiff::Timestamp::now().as_millisecond() + 20 * 3_600_000}),
            "bad_request",
        ),
    ] {
        let mut request = request;
        request["type"] = json!("request_callback");
        let reply = kiosk.request(request).await;
        assert_eq!(reply["code"], code, "{reply}");
    }
    assert!(server.record(call).is_none(), "the call still waits");

    let reply = kiosk
        .request(json!({"type": "request_callback", "call": call, "phone": "06 12 34 56 78"}))
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");
    let ended = kiosk.expect("call_ended", WAIT).await;
    assert_eq!(ended["outcome"], "callback_requested", "{ended}");
    let record = server.record(call).unwrap();
    assert_eq!(record.outcome, Outcome::CallbackRequested);
    let pending = server.store().pending_callbacks().unwrap();
    assert_eq!(pending.len(), 1);
    let task = pending[0].task_id;
    assert_eq!(pending[0].call_id, call);
    assert_eq!(pending[0].phone, "0612345678");
    assert_eq!(
        pending[0].enqueued_at_ms, record.enqueued_at_ms,
        "the task keeps the call's place"
    );

    // The server restarts before any agent is free: the task is still there.
    let data_dir = server.data_dir.clone();
    drop(kiosk);
    drop(server);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let server = TestServer::start_with("callbacks-2", |config| {
        calling_back(config);
        config.data_dir = data_dir.clone();
    })
    .await;
    let mut agent = ready_agent(&server, "alice").await;
    let offered = agent.expect("offered", WAIT).await;
    assert_eq!(offered["call"], task, "{offered}");
    assert_eq!(offered["callback"]["phone"], "06 12 34 56 78", "{offered}");
    let accepted = agent.request(json!({"type": "accept", "call": task})).await;
    assert_eq!(accepted["type"], "ok", "{accepted}");
    agent
        .expect_where("agent_state", WAIT, |m| m["state"] == "on_call")
        .await;
    let done = agent
        .request(json!({"type": "callback_done", "call": task, "result": "reached"}))
        .await;
    assert_eq!(done["type"], "ok", "{done}");
    let ended = agent.expect("call_ended", WAIT).await;
    assert_eq!(ended["call"], task);
    assert!(
        !agent.sees("media_ready", Duration::from_millis(300)).await,
        "a callback has no media"
    );
    // The second server runs on the first one's data directory.
    let store = relais_store::Store::open(&data_dir.join("relais.sqlite3")).unwrap();
    let record = store
        .calls_between(0, i64::MAX)
        .unwrap()
        .into_iter()
        .find(|r| r.call_id == task)
        .unwrap();
    assert!(record.callback);
    assert_eq!(record.outcome, Outcome::Answered);
    assert_eq!(record.agent.as_deref(), Some("alice"));
    let row = store.callback(task).unwrap().unwrap();
    assert_eq!(row.result.as_deref(), Some("reached"));
    assert_eq!(row.agent.as_deref(), Some("alice"));
    assert!(row.done_at_ms.is_some());
    assert!(store.pending_callbacks().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_does_not_call_back_refuses_and_says_nothing_of_it() {
    let server = TestServer::start("callbacks-off").await;
    let mut kiosk = WsClient::signed_in(server.addr, &server.token(Role::Kiosk, "borne-1")).await;
    let queued = kiosk
        .request(json!({"type": "call", "service": "caf"}))
        .await;
    let call = queued["result"]["call"].as_u64().unwrap();
    let position = kiosk.expect("queue_position", WAIT).await;
    assert!(position.get("callback").is_none(), "{position}");
    let reply = kiosk
        .request(json!({"type": "request_callback", "call": call, "phone": "0612345678"}))
        .await;
    assert_eq!(reply["code"], "wrong_state", "{reply}");
    // An agent may not ask for one.
    let mut agent = ready_agent(&server, "alice").await;
    let reply = agent
        .request(json!({"type": "request_callback", "call": call, "phone": "0612345678"}))
        .await;
    assert_eq!(reply["code"], "forbidden", "{reply}");
    agent.expect("offered", WAIT).await;
}
