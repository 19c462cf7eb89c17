//! A call as a conference, through the real server: a third participant joins a connected
//! call, and the two sides receive it on the peers they already have, after the server's own
//! offer (`sdp_offer` push, `sdp_answer` request) — no new ICE or DTLS session.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use relais_call::{Input, Participation};
use relais_proto::{CallId, LegRole, Role};
use serde_json::json;
use support::calls::{answered_call, connect_media, heard_since, renegotiate};
use support::client::ClientSpec;
use support::server::TestServer;
use support::signal::WsClient;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_participant_is_received_on_the_peers_the_call_already_has() {
    let server = TestServer::start("conference").await;
    let (mut agent, mut kiosk, call) = answered_call(&server, "alice", "borne-1").await;
    kiosk.expect("media_ready", WAIT).await;
    agent.expect("media_ready", WAIT).await;
    let kiosk_media = connect_media(&mut kiosk, ClientSpec::publisher(111, 96), 1).await;
    let agent_media = connect_media(&mut agent, ClientSpec::publisher(109, 120), 2).await;

    // An interpreter joins as a full participant (the request that does this from a console
    // comes with supervision; here the call task is asked directly).
    let mut interpreter =
        WsClient::signed_in(server.addr, &server.token(Role::Supervisor, "ines")).await;
    let interpreter_session = server
        .state
        .hub()
        .sessions
        .iter()
        .find(|entry| entry.subject == "ines")
        .map(|entry| *entry.key())
        .unwrap();
    let added = server
        .state
        .calls()
        .run(move |cores, now| {
            cores
                .input(
                    now,
                    Input::AddLeg {
                        call: CallId(call),
                        session: interpreter_session,
                        role: LegRole::Interpreter,
                        subject: "ines".into(),
                        participation: Participation::Full,
                    },
                )
                .map(|_| ())
        })
        .await
        .unwrap();
    assert_eq!(added, Ok(()));
    interpreter.expect("media_ready", WAIT).await;
    let listener = ClientSpec {
        recvonly_pairs: 1,
        ..ClientSpec::publisher(111, 96)
    };
    let interpreter_media = connect_media(&mut interpreter, listener, 3).await;

    // Kiosk and agent are offered one more slot each and answer on their connected peers.
    renegotiate(&mut kiosk, &kiosk_media).await;
    renegotiate(&mut agent, &agent_media).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for seq in 0..40 {
        kiosk_media.send_numbered("kiosk", seq).await;
        agent_media.send_numbered("agent", seq).await;
        interpreter_media.send_numbered("interpreter", seq).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let set = |names: &[&str]| {
        names
            .iter()
            .map(|n| (*n).to_owned())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(heard_since(&kiosk_media, 0), set(&["agent", "interpreter"]));
    assert_eq!(heard_since(&agent_media, 0), set(&["interpreter", "kiosk"]));
    assert_eq!(heard_since(&interpreter_media, 0), set(&["agent", "kiosk"]));

    // The interpreter leaves; the call goes on and ends normally.
    interpreter.close();
    let hangup = kiosk.request(json!({"type": "hangup"})).await;
    assert_eq!(hangup["type"], "ok", "{hangup}");
    let ended = agent.expect("call_ended", WAIT).await;
    assert_eq!(ended["reason"], "hangup", "{ended}");
}
