//! A test harness around one media shard: serves a page whose script joins a room by POSTing
//! its SDP offer to `/join` and applying the answer. Browser tests use it to prove the SFU
//! against real Chromium and Firefox without the rest of the call flow.
//!
//! `relais-media-harness [--http ADDR] [--media-ip IP]` prints `harness listening on URL`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use relais::config::MediaConfig;
use relais::media::{MediaShards, ShardError};
use relais_media::{JoinSpec, MediaError, MediaKinds, PeerId, RoomId};
use serde::Deserialize;

#[derive(Deserialize)]
struct JoinRequest {
    room: u64,
    label: String,
    sdp: String,
    #[serde(default)]
    listen_only: bool,
}

struct Harness {
    shards: MediaShards,
    /// Who joined each room, and whether they publish: everyone receives every publisher.
    members: tokio::sync::Mutex<BTreeMap<u64, Vec<(PeerId, bool)>>>,
}

async fn join(State(harness): State<Arc<Harness>>, Json(request): Json<JoinRequest>) -> Response {
    let shard = &harness.shards.shards()[0];
    let room = RoomId(request.room);
    match shard.create_room(room).await {
        Ok(()) | Err(ShardError::Media(MediaError::RoomExists(_))) => {}
        Err(err) => return (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
    let spec = if request.listen_only {
        JoinSpec::listen_only(&request.label, 2)
    } else {
        JoinSpec::one_to_one(&request.label)
    };
    let publish = spec.publish;
    let mut members = harness.members.lock().await;
    let (peer, answer) = match shard.join(room, spec, request.sdp).await {
        Ok(joined) => joined,
        Err(err) => return (StatusCode::BAD_REQUEST, err.to_string()).into_response(),
    };
    let others = members.entry(request.room).or_default();
    for &(other, other_publishes) in others.iter() {
        if other_publishes {
            let _ = shard.subscribe(peer, other, MediaKinds::BOTH).await;
        }
        if publish {
            let _ = shard.subscribe(other, peer, MediaKinds::BOTH).await;
        }
    }
    others.push((peer, publish));
    Json(serde_json::json!({ "peer": peer.0, "sdp": answer })).into_response()
}

async fn stats(State(harness): State<Arc<Harness>>) -> Response {
    match harness.shards.shards()[0].stats().await {
        Ok(stats) => Json(serde_json::json!({
            "rtp_forwarded": stats.shard.rtp_forwarded,
            "datagrams_in": stats.shard.datagrams_in,
            "datagrams_out": stats.shard.datagrams_out,
            "dropped_unknown": stats.shard.dropped_unknown,
            "consent_expired": stats.shard.consent_expired,
            "peers": stats.shard.peers,
        }))
        .into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
}

async fn peer(
    State(harness): State<Arc<Harness>>,
    axum::extract::Path(id): axum::extract::Path<u64>,
) -> Response {
    match harness.shards.shards()[0]
        .peer_stats(relais_media::PeerId(id))
        .await
    {
        Ok(Some(stats)) => Json(serde_json::json!({
            "connected": stats.connected,
            "rtp_in": stats.rtp_in,
            "rtp_out": stats.rtp_out,
            "forward_failures": stats.forward_failures,
            "keyframe_requests_sent": stats.keyframe_requests_sent,
            "keyframe_requests_received": stats.keyframe_requests_received,
            "authenticated_packets": stats.authenticated_packets,
        }))
        .into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
}

const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>media harness</title></head>
<body>
<video id="remote" autoplay playsinline muted width="320" height="240"></video>
<script>
let pc = null;
window.joinRoom = async (room, label) => {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240 } });
  pc = new RTCPeerConnection({});
  for (const track of stream.getTracks()) pc.addTrack(track, stream);
  pc.ontrack = (event) => { document.getElementById('remote').srcObject = event.streams[0] || new MediaStream([event.track]); };
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const response = await fetch('/join', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ room, label, sdp: pc.localDescription.sdp }),
  });
  if (!response.ok) throw new Error('join failed: ' + await response.text());
  const answer = await response.json();
  await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
  return answer.peer;
};
window.mediaStats = async () => {
  const out = { framesDecoded: 0, videoPackets: 0, audioPackets: 0, state: pc ? pc.connectionState : 'none' };
  if (!pc) return out;
  const report = await pc.getStats();
  report.forEach((entry) => {
    if (entry.type !== 'inbound-rtp') return;
    if (entry.kind === 'video') { out.framesDecoded += entry.framesDecoded || 0; out.videoPackets += entry.packetsReceived || 0; }
    if (entry.kind === 'audio') { out.audioPackets += entry.packetsReceived || 0; }
  });
  return out;
};
</script>
</body></html>
"#;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let http: SocketAddr = arg("--http")
        .unwrap_or_else(|| "127.0.0.1:0".to_owned())
        .parse()?;
    let media_ip: IpAddr = match arg("--media-ip") {
        Some(ip) => ip.parse()?,
        None => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    let (events, mut event_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some((shard, event)) = event_rx.recv().await {
            eprintln!("harness: shard {shard}: {event:?}");
        }
    });
    let config = MediaConfig {
        shards: 1,
        bind: media_ip,
        port: 0,
        public_ips: vec![],
        ..MediaConfig::default()
    };
    let harness = Arc::new(Harness {
        shards: MediaShards::start(&config, events, &relais::metrics::Metrics::new()?.media)?,
        members: Default::default(),
    });
    let app = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/join", post(join))
        .route("/stats", get(stats))
        .route("/peer/{id}", get(peer))
        .with_state(harness);
    let listener = tokio::net::TcpListener::bind(http).await?;
    println!("harness listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
