//! A call's media faults, through the real server: a leg whose peer goes away is announced to
//! the other side and may rejoin with a new offer; a call whose leg never comes back, or whose
//! media room cannot open, ends with its reason in the record.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod support;

use std::time::Duration;

use relais_proto::{EndReason, Outcome};
use serde_json::json;
use support::calls::answered_call;
use support::client::{Client, ClientSpec};
use support::server::TestServer;
use support::signal::WsClient;

const WAIT: Duration = Duration::from_secs(10);

/// A server that counts a peer silent for 5 s as lost and waits 2 s for it to come back.
async fn server(tag: &str) -> TestServer {
    TestServer::start_with(tag, |config| {
        config.media.consent_timeout_secs = 5;
        config.media.lost_grace_secs = 2;
    })
    .await
}

/// A leg's media, with consent checks every second: a live peer stays alive under the short
/// consent timeout.
async fn connect_media(ws: &mut WsClient, seed: u32) -> Client {
    let spec = ClientSpec {
        keepalive: Some(Duration::from_secs(1)),
        ..ClientSpec::publisher(111, 96)
    };
    support::calls::connect_media(ws, spec, seed).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_whose_media_is_lost_is_announced_and_the_call_ends_after_the_grace_period() {
    let server = server("lost-media").await;
    let (mut agent, mut kiosk, call) = answered_call(&server, "alice", "borne-1").await;
    kiosk.expect("media_ready", WAIT).await;
    agent.expect("media_ready", WAIT).await;
    let kiosk_media = connect_media(&mut kiosk, 1).await;
    let _agent_media = connect_media(&mut agent, 2).await;

    // The kiosk's peer falls silent (its browser dropped it, its network went away); its
    // websocket stays.
    kiosk_media.pc.close().await.unwrap();
    let lost = agent.expect("peer_media_lost", WAIT).await;
    assert_eq!(lost["call"], call, "{lost}");
    assert_eq!(lost["role"], "kiosk", "{lost}");
    assert_eq!(lost["grace_secs"], 2, "{lost}");

    let ended = agent.expect("call_ended", WAIT).await;
    assert_eq!(ended["reason"], "media_lost", "{ended}");
    assert_eq!(ended["by"], "server", "{ended}");
    let ended = kiosk.expect("call_ended", WAIT).await;
    assert_eq!(ended["reason"], "media_lost", "{ended}");
    let record = server.record_where(call, |_| true).await;
    assert_eq!(record.outcome, Outcome::Answered);
    assert_eq!(record.end_reason, Some(EndReason::MediaLost));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_kiosk_that_offers_again_keeps_its_call() {
    let server = server("rejoin").await;
    let (mut agent, mut kiosk, _call) = answered_call(&server, "alice", "borne-1").await;
    kiosk.expect("media_ready", WAIT).await;
    agent.expect("media_ready", WAIT).await;
    let first = connect_media(&mut kiosk, 3).await;
    let _agent_media = connect_media(&mut agent, 4).await;
    first.pc.close().await.unwrap();
    agent.expect("peer_media_lost", WAIT).await;

    let _second = connect_media(&mut kiosk, 5).await;
    let restored = agent.expect("peer_media_restored", WAIT).await;
    assert_eq!(restored["role"], "kiosk", "{restored}");
    // Past the grace period, the call is still on.
    assert!(!agent.sees("call_ended", Duration::from_secs(3)).await);
    let hangup = kiosk.request(json!({"type": "hangup"})).await;
    assert_eq!(hangup["type"], "ok", "{hangup}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_media_room_cannot_open_ends_with_no_media_ready_and_no_room_held() {
    let server = server("room-fails").await;
    // The media shard's thread is gone: opening a room fails.
    server.state.media().stop();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (mut agent, mut kiosk, call) = answered_call(&server, "alice", "borne-1").await;
    let ended = kiosk.expect("call_ended", WAIT).await;
    assert_eq!(ended["call"], call, "{ended}");
    assert_eq!(ended["reason"], "media_failed", "{ended}");
    let ended = agent.expect("call_ended", WAIT).await;
    assert_eq!(ended["reason"], "media_failed", "{ended}");
    assert!(!kiosk.sees("media_ready", Duration::from_millis(300)).await);
    assert_eq!(server.state.media().placed_rooms(), vec![0]);
}
