//! Steps of a call that many tests share: an agent signed in and ready, and a kiosk's call
//! answered by it.

use std::time::Duration;

use relais_proto::Role;
use serde_json::json;

use super::server::TestServer;
use super::signal::WsClient;

const WAIT: Duration = Duration::from_secs(10);

/// An agent signed in as `name` and available.
pub async fn ready_agent(server: &TestServer, name: &str) -> WsClient {
    let mut agent = WsClient::signed_in(server.addr, &server.token(Role::Agent, name)).await;
    let reply = agent
        .request(json!({"type": "set_state", "state": "ready"}))
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");
    agent
        .expect_where("agent_state", WAIT, |m| m["state"] == "available")
        .await;
    agent
}

/// Kiosk `kiosk` calls `caf` and `agent`, ready, accepts: `(agent, kiosk, call id)`.
pub async fn answered_call(
    server: &TestServer,
    agent: &str,
    kiosk: &str,
) -> (WsClient, WsClient, u64) {
    let mut agent = ready_agent(server, agent).await;
    let mut kiosk = WsClient::signed_in(server.addr, &server.token(Role::Kiosk, kiosk)).await;
    let call = kiosk
        .request(json!({"type": "call", "service": "caf"}))
        .await["result"]["call"]
        .as_u64()
        .unwrap();
    agent.expect("offered", WAIT).await;
    let accepted = agent.request(json!({"type": "accept", "call": call})).await;
    assert_eq!(accepted["type"], "ok", "{accepted}");
    (agent, kiosk, call)
}

/// The browser side of a leg: a `webrtc` client whose offer goes over the websocket, answered
/// and connected.
pub async fn connect_media(
    ws: &mut WsClient,
    spec: super::client::ClientSpec,
    seed: u32,
) -> super::client::Client {
    let (client, offer) = super::client::Client::new(spec, seed).await;
    let reply = ws.request(json!({"type": "sdp_offer", "sdp": offer})).await;
    assert_eq!(reply["type"], "ok", "{reply}");
    client
        .accept_answer(reply["result"]["sdp"].as_str().unwrap().to_owned())
        .await;
    client.wait_connected(WAIT).await;
    client
}

/// Applies the server's offer pushed to `ws` and sends the answer back.
pub async fn renegotiate(ws: &mut WsClient, client: &super::client::Client) {
    let offer = ws.expect("sdp_offer", WAIT).await;
    let answer = client
        .answer_offer(offer["sdp"].as_str().unwrap().to_owned())
        .await;
    let reply = ws
        .request(json!({"type": "sdp_answer", "sdp": answer}))
        .await;
    assert_eq!(reply["type"], "ok", "{reply}");
}

/// Who `client` heard (by the tag in the audio payloads) after its first `from` packets.
pub fn heard_since(
    client: &super::client::Client,
    from: usize,
) -> std::collections::BTreeSet<String> {
    client.received(rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Audio)[from..]
        .iter()
        .filter_map(|p| {
            // Only the participants' numbered packets: the server's hold audio names nobody.
            super::client::payload_text(&p.payload)
                .split_once("-audio-")
                .map(|(who, _)| who.to_owned())
        })
        .collect()
}

/// Every client sends 30 numbered packets of each kind from `first` on (never twice the same
/// number: SRTP drops a replay), 20 ms apart; then a pause for them to arrive.
pub async fn talk(clients: &[(&str, &super::client::Client)], first: u16) {
    tokio::time::sleep(Duration::from_millis(200)).await;
    for seq in first..first + 30 {
        for (tag, client) in clients {
            client.send_numbered(tag, seq).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// A set of names.
pub fn names(list: &[&str]) -> std::collections::BTreeSet<String> {
    list.iter().map(|n| (*n).to_owned()).collect()
}
