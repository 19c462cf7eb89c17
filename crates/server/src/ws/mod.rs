//! The signalling websocket `/ws`: one session per connection. The transport enforces frame
//! size, message rate and idle limits and frames requests; the session authenticates with
//! `hello`, answers every request exactly once and hands calls to the call task. Bad input
//! gets an `error` and disturbs nothing else.

mod parse;
mod session;
mod transport;

use std::net::SocketAddr;

use axum::Extension;
use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::hub::{Outgoing, SESSION_QUEUE};
use crate::state::AppState;
pub use transport::MAX_FRAME;

/// Frames above this are cut by the websocket layer itself.
const HARD_FRAME_LIMIT: usize = 1024 * 1024;
/// Initial read and write buffer of the websocket layer.
const WS_BUFFER: usize = 4 * 1024;

/// `GET /ws`: upgrades to a session.
pub async fn upgrade(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: axum::http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let peer = peer.map(|info| (info.0).0);
    // A browser sign-in's cookie counts only from this server's own pages.
    let web = crate::signin::same_origin(&headers, state.config().http.public_url.as_deref())
        .then(|| state.signin().hash_of(&headers))
        .flatten();
    ws.max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        // The websocket layer's buffers start small and grow only for a large frame: an idle
        // connection costs a few KiB instead of the default 2 × 128 KiB.
        .read_buffer_size(WS_BUFFER)
        .write_buffer_size(WS_BUFFER)
        .on_upgrade(move |socket| run(socket, state, peer, web))
}

async fn run(socket: WebSocket, state: AppState, peer: Option<SocketAddr>, web: Option<String>) {
    let session_id = state.hub().next_session_id();
    let (sink, stream) = socket.split();
    let (tx, rx) = mpsc::channel::<Outgoing>(SESSION_QUEUE);
    let (pong_tx, pong_rx) = mpsc::channel::<axum::body::Bytes>(4);
    tracing::debug!(session = session_id, ?peer, "websocket opened");
    let writer = tokio::spawn(transport::write(sink, rx, pong_rx));
    let mut session = session::Session::new(session_id, state, tx.clone(), web);
    transport::read(stream, &tx, &pong_tx, &mut session).await;
    session.closed().await;
    drop(tx);
    drop(session);
    let _ = writer.await;
    tracing::debug!(session = session_id, "websocket closed");
}
