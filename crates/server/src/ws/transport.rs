//! The websocket transport of a session, independent of what the session means: frame size,
//! message rate, pings, the read deadline, JSON framing into requests, and the writer. Generic
//! over the socket's `Sink` and `Stream`, so it is tested with channels.

use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use relais_proto::{Request, ServerMessage, codes};
use tokio::sync::mpsc;

use super::parse::{Bucket, error, parse};
use crate::hub::Outgoing;

/// Largest frame read; larger ones get `frame_too_large` and the connection is closed.
pub const MAX_FRAME: usize = 64 * 1024;
/// Sustained messages per second, and the burst allowed above it.
const RATE_PER_SEC: f64 = 50.0;
const RATE_BURST: f64 = 100.0;
/// The server pings this often.
pub const PING_EVERY: Duration = Duration::from_secs(15);

/// What the transport does after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Close the connection with this reason once what is queued is sent.
    Close(&'static str),
}

/// How long to wait for the next frame, and what happens when none comes.
#[derive(Debug)]
pub struct ReadLimit {
    pub wait: Duration,
    /// The close reason.
    pub reason: &'static str,
    /// Sent before closing.
    pub notice: Option<ServerMessage>,
}

/// What the session above the transport does.
pub trait Handler {
    /// The read deadline now (before `hello`: its deadline; after: idle or token expiry).
    fn read_limit(&self) -> ReadLimit;
    /// A frame or request was refused with `code` (counted in the metrics).
    fn refused(&self, code: &str);
    /// Handles one request; replies go through the session's own sender.
    fn handle(&mut self, request: Request) -> impl Future<Output = Flow> + Send;
}

/// Sends what the session queues on `rx`, and a ping every [`PING_EVERY`]; answers the
/// client's pings with the payloads sent on `pongs`.
pub async fn write<S>(
    mut sink: S,
    mut rx: mpsc::Receiver<Outgoing>,
    mut pongs: mpsc::Receiver<axum::body::Bytes>,
) where
    S: Sink<Message> + Unpin,
{
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(Outgoing::Message(message)) => {
                    let text = match serde_json::to_string(&message) {
                        Ok(text) => text,
                        Err(err) => {
                            tracing::error!(error = %err, "cannot encode a server message");
                            continue;
                        }
                    };
                    if sink.send(Message::Text(Utf8Bytes::from(text))).await.is_err() {
                        break;
                    }
                }
                Some(Outgoing::Close(reason)) => {
                    let frame = CloseFrame { code: 1008, reason: Utf8Bytes::from_static(reason) };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    break;
                }
                None => {
                    let _ = sink.send(Message::Close(None)).await;
                    break;
                }
            },
            pong = pongs.recv() => {
                if let Some(payload) = pong
                    && sink.send(Message::Pong(payload)).await.is_err()
                {
                    break;
                }
            }
            _ = ping.tick() => {
                if sink.send(Message::Ping(axum::body::Bytes::from_static(b"relais"))).await.is_err() {
                    break;
                }
            }
        }
    }
}

/// Reads frames until the connection ends or must close; `tx` is the session's sender.
pub async fn read<R, E, H>(
    mut stream: R,
    tx: &mpsc::Sender<Outgoing>,
    pongs: &mpsc::Sender<axum::body::Bytes>,
    handler: &mut H,
) where
    R: Stream<Item = Result<Message, E>> + Unpin,
    E: std::error::Error + 'static,
    H: Handler,
{
    let reply = |message: ServerMessage| {
        if tx.try_send(Outgoing::Message(message)).is_err() {
            tracing::debug!("reply dropped: the session's queue is full");
        }
    };
    let mut bucket = Bucket::new(RATE_PER_SEC, RATE_BURST, Instant::now());
    loop {
        let limit = handler.read_limit();
        let frame = match tokio::time::timeout(limit.wait, stream.next()).await {
            Err(_) => {
                if let Some(notice) = limit.notice {
                    reply(notice);
                }
                tracing::debug!(reason = limit.reason, "closing websocket");
                let _ = tx.send(Outgoing::Close(limit.reason)).await;
                return;
            }
            Ok(Some(Err(err))) if is_oversized(&err) => {
                refuse_oversized(tx, handler).await;
                return;
            }
            Ok(None) | Ok(Some(Err(_))) => return,
            Ok(Some(Ok(frame))) => frame,
        };
        let text = match frame {
            Message::Text(text) => text,
            Message::Binary(_) => {
                handler.refused(codes::BAD_JSON);
                reply(error(
                    None,
                    codes::BAD_JSON,
                    "binary frames are not part of the protocol",
                ));
                continue;
            }
            Message::Ping(payload) => {
                let _ = pongs.try_send(payload);
                continue;
            }
            Message::Pong(_) => continue,
            Message::Close(_) => return,
        };
        if text.len() > MAX_FRAME {
            refuse_oversized(tx, handler).await;
            return;
        }
        if !bucket.allow(Instant::now()) {
            handler.refused(codes::RATE_LIMITED);
            reply(error(
                None,
                codes::RATE_LIMITED,
                "too many messages; slow down",
            ));
            continue;
        }
        let request = match parse(text.as_str()) {
            Ok(request) => request,
            Err((code, refusal)) => {
                handler.refused(code);
                reply(*refusal);
                continue;
            }
        };
        if let Flow::Close(reason) = handler.handle(request).await {
            let _ = tx.send(Outgoing::Close(reason)).await;
            return;
        }
    }
}

/// Answers a frame over [`MAX_FRAME`] (read by us or cut by the websocket layer) and closes.
async fn refuse_oversized<H: Handler>(tx: &mpsc::Sender<Outgoing>, handler: &H) {
    handler.refused(codes::FRAME_TOO_LARGE);
    let _ = tx.try_send(Outgoing::Message(error(
        None,
        codes::FRAME_TOO_LARGE,
        format!("frames are limited to {MAX_FRAME} bytes"),
    )));
    let _ = tx.send(Outgoing::Close("frame too large")).await;
}

/// Whether the websocket layer refused a frame or message for its size.
fn is_oversized(err: &(dyn std::error::Error + 'static)) -> bool {
    use tokio_tungstenite::tungstenite;
    let mut current = Some(err);
    while let Some(err) = current {
        if matches!(
            err.downcast_ref::<tungstenite::Error>(),
            Some(tungstenite::Error::Capacity(_))
        ) {
            return true;
        }
        current = err.source();
    }
    false
}

#[cfg(test)]
mod tests;
