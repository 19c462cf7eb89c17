//! Supervision through the real server, with `webrtc`-crate clients counting what each leg
//! receives: a supervisor monitors (receives both sides, nobody receives it), coaches (its
//! audio reaches the agent only), barges in (all three receive each other) and leaves; every
//! step is in the audit log before it takes effect, and a supervisor outside its services is
//! refused. Also the chat of a call.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use relais::auth::Claims;
use relais_proto::Role;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use serde_json::{Value, json};
use support::calls::{answered_call, connect_media, heard_since, names, renegotiate, talk};
use support::client::{Client, ClientSpec};
use support::server::TestServer;
use support::signal::WsClient;

const WAIT: Duration = Duration::from_secs(10);

fn seen(client: &Client) -> usize {
    client.received(RtpCodecKind::Audio).len()
}

fn supervisor_claims(sub: &str, services: Option<Vec<String>>) -> Claims {
    Claims {
        dev: None,
        role: Role::Supervisor,
        sub: sub.to_owned(),
        exp: relais::auth::now_secs() + 3600,
        site: None,
        skills: Vec::new(),
        services,
        name: Some("Claire Martin".to_owned()),
    }
}

fn audit_rows(server: &TestServer) -> Vec<(String, String)> {
    let connection = rusqlite::Connection::open(server.data_dir.join("relais.sqlite3")).unwrap();
    let mut statement = connection
        .prepare("SELECT action, detail FROM audit ORDER BY id")
        .unwrap();
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

async fn participants(ws: &mut WsClient) -> Vec<Value> {
    ws.expect("participants", WAIT).await["participants"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_whisper_and_barge_reach_whom_they_should_and_are_audited_first() {
    let server = TestServer::start("supervision").await;
    let (mut agent, mut kiosk, call) = answered_call(&server, "alice", "borne-1").await;
    kiosk.expect("media_ready", WAIT).await;
    agent.expect("media_ready", WAIT).await;
    let kiosk_media = connect_media(&mut kiosk, ClientSpec::publisher(111, 96), 1).await;
    let agent_media = connect_media(&mut agent, ClientSpec::publisher(109, 120), 2).await;

    let token = server.token_with(supervisor_claims("claire", None));
    let mut sup = WsClient::signed_in(server.addr, &token).await;
    let listed = sup.request(json!({"type": "list_calls"})).await;
    let calls = listed["result"]["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "{listed}");
    assert_eq!(calls[0]["call"], call);
    assert_eq!(calls[0]["agent"], "alice");

    // Monitor: it receives both sides; they receive nothing of it and are told nothing.
    let reply = sup
        .request(json!({"type": "supervise", "call": call, "mode": "monitor"}))
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");
    sup.expect("media_ready", WAIT).await;
    let listener = ClientSpec {
        recvonly_pairs: 1,
        ..ClientSpec::publisher(111, 96)
    };
    let sup_media = connect_media(&mut sup, listener, 3).await;
    let all = [
        ("kiosk", &kiosk_media),
        ("agent", &agent_media),
        ("claire", &sup_media),
    ];
    talk(&all, 0).await;
    assert_eq!(heard_since(&sup_media, 0), names(&["agent", "kiosk"]));
    assert_eq!(heard_since(&kiosk_media, 0), names(&["agent"]));
    assert_eq!(heard_since(&agent_media, 0), names(&["kiosk"]));
    let listed = sup.request(json!({"type": "list_calls"})).await;
    assert_eq!(
        listed["result"]["calls"][0]["supervisors"],
        json!([{"name": "Claire Martin", "mode": "monitor"}])
    );

    // Whisper: the agent gets a slot for the coach and hears it; the kiosk never does.
    let reply = sup
        .request(json!({"type": "supervise", "call": call, "mode": "whisper"}))
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");
    renegotiate(&mut agent, &agent_media).await;
    let coach = participants(&mut agent).await;
    assert!(
        coach
            .iter()
            .any(|p| p["name"] == "Claire Martin" && p["mode"] == "whisper"),
        "{coach:?}"
    );
    let (at_kiosk, at_agent) = (seen(&kiosk_media), seen(&agent_media));
    talk(&all, 30).await;
    assert_eq!(
        heard_since(&agent_media, at_agent),
        names(&["claire", "kiosk"])
    );
    assert_eq!(heard_since(&kiosk_media, at_kiosk), names(&["agent"]));

    // Barge: the kiosk gets a slot and sees who joined; all three receive each other.
    let reply = sup
        .request(json!({"type": "supervise", "call": call, "mode": "barge"}))
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");
    renegotiate(&mut kiosk, &kiosk_media).await;
    let joined = participants(&mut kiosk).await;
    assert!(
        joined
            .iter()
            .any(|p| p["role"] == "supervisor" && p["name"] == "Claire Martin"),
        "{joined:?}"
    );
    let (at_kiosk, at_agent, at_sup) = (seen(&kiosk_media), seen(&agent_media), seen(&sup_media));
    talk(&all, 60).await;
    assert_eq!(
        heard_since(&kiosk_media, at_kiosk),
        names(&["agent", "claire"])
    );
    assert_eq!(
        heard_since(&agent_media, at_agent),
        names(&["claire", "kiosk"])
    );
    assert_eq!(heard_since(&sup_media, at_sup), names(&["agent", "kiosk"]));
    let video_at_kiosk: BTreeSet<u32> = kiosk_media
        .received(RtpCodecKind::Video)
        .iter()
        .map(|p| p.ssrc)
        .collect();
    assert_eq!(video_at_kiosk.len(), 2, "the kiosk shows two videos");

    // Chat, now that it takes part.
    let reply = sup
        .request(json!({"type": "chat", "text": "Bonjour, je suis responsable."}))
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");
    let chat = kiosk.expect("chat", WAIT).await;
    assert_eq!(chat["from"], "supervisor");
    assert_eq!(chat["name"], "Claire Martin");

    // Leaving: the others are told and stop receiving it; the call goes on.
    let reply = sup.request(json!({"type": "stop_supervising"})).await;
    assert_eq!(reply["type"], "ok", "{reply}");
    let left = participants(&mut kiosk).await;
    assert_eq!(left.len(), 1, "{left:?}");
    let at_kiosk = seen(&kiosk_media);
    talk(&all, 90).await;
    assert_eq!(heard_since(&kiosk_media, at_kiosk), names(&["agent"]));

    let rows = audit_rows(&server);
    let actions: Vec<&str> = rows.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "supervision_started",
            "supervision_mode_changed",
            "supervision_mode_changed",
            "supervision_stopped"
        ],
        "{rows:?}"
    );
    assert_eq!(rows[0].1, "mode=monitor; service=caf");
    assert_eq!(rows[3].1, "mode=barge; reason=requested");

    // The audit log over REST, for supervisors.
    let answer = server
        .get("/api/audit", Some(server.token(Role::Supervisor, "chef")))
        .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(
        answer.matches("\"actor\":\"claire\"").count(),
        4,
        "{answer}"
    );
    let answer = server
        .get("/api/audit", Some(server.token(Role::Agent, "alice")))
        .await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");

    let hangup = kiosk.request(json!({"type": "hangup"})).await;
    assert_eq!(hangup["type"], "ok", "{hangup}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_outside_its_services_or_without_an_audit_log_is_refused() {
    let server = TestServer::start_with("supervision-refused", |config| {
        for service in &mut config.services {
            service.supervision.barge = false;
        }
    })
    .await;
    let (_agent, mut kiosk, call) = answered_call(&server, "alice", "borne-1").await;
    kiosk.expect("media_ready", WAIT).await;

    let outsider = server.token_with(supervisor_claims("paul", Some(vec!["cpam".into()])));
    let mut outsider = WsClient::signed_in(server.addr, &outsider).await;
    let listed = outsider.request(json!({"type": "list_calls"})).await;
    assert_eq!(listed["result"]["calls"], json!([]), "{listed}");
    let refused = outsider
        .request(json!({"type": "supervise", "call": call, "mode": "monitor"}))
        .await;
    assert_eq!(refused["code"], "forbidden", "{refused}");

    let token = server.token_with(supervisor_claims("claire", Some(vec!["caf".into()])));
    let mut sup = WsClient::signed_in(server.addr, &token).await;
    let refused = sup
        .request(json!({"type": "supervise", "call": call, "mode": "barge"}))
        .await;
    assert_eq!(refused["code"], "forbidden", "barge is disabled: {refused}");
    let refused = sup
        .request(json!({"type": "supervise", "call": 999_999, "mode": "monitor"}))
        .await;
    assert_eq!(refused["code"], "wrong_state", "{refused}");

    // A call still waiting is refused before anything is audited.
    let mut waiting = WsClient::signed_in(
        server.addr,
        &server.token(relais_proto::Role::Kiosk, "borne-2"),
    )
    .await;
    let queued = waiting
        .request(json!({"type": "call", "service": "caf"}))
        .await;
    let queued = queued["result"]["call"].as_u64().unwrap();
    let refused = sup
        .request(json!({"type": "supervise", "call": queued, "mode": "monitor"}))
        .await;
    assert_eq!(refused["code"], "wrong_state", "{refused}");
    assert!(audit_rows(&server).is_empty(), "nothing audited");

    // An audit log that cannot be written: the supervision does not happen.
    {
        let connection =
            rusqlite::Connection::open(server.data_dir.join("relais.sqlite3")).unwrap();
        connection
            .execute_batch(
                "CREATE TRIGGER audit_fails BEFORE INSERT ON audit \
                 BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
            )
            .unwrap();
    }
    let refused = sup
        .request(json!({"type": "supervise", "call": call, "mode": "monitor"}))
        .await;
    assert_eq!(refused["code"], "internal", "{refused}");
    let listed = sup.request(json!({"type": "list_calls"})).await;
    assert_eq!(
        listed["result"]["calls"][0]["supervisors"],
        json!([]),
        "not supervising: {listed}"
    );
    assert!(audit_rows(&server).is_empty());

    // Chat between kiosk and agent needs no supervisor; a monitor-less supervisor may not chat.
    let refused = sup
        .request(json!({"type": "chat", "text": "bonjour"}))
        .await;
    assert_eq!(refused["code"], "wrong_state", "{refused}");
    let long = "x".repeat(1001);
    let refused = kiosk.request(json!({"type": "chat", "text": long})).await;
    assert_eq!(refused["code"], "bad_request", "{refused}");
}
