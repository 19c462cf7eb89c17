//! The transport alone, over channels: framing, limits, pings and the writer.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes};
use relais_proto::{Request, ServerMessage, codes};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite;

use super::{Flow, Handler, MAX_FRAME, ReadLimit, read, write};
use crate::hub::Outgoing;

/// Records what reaches the session; closes on `ping` with id 99.
#[derive(Default)]
struct Recorder {
    requests: Vec<Request>,
    refused: std::sync::Mutex<Vec<String>>,
}

impl Handler for Recorder {
    fn read_limit(&self) -> ReadLimit {
        ReadLimit {
            wait: Duration::from_millis(300),
            reason: "idle timeout",
            notice: Some(ServerMessage::SessionReplaced {}),
        }
    }

    fn refused(&self, code: &str) {
        self.refused.lock().unwrap().push(code.to_owned());
    }

    async fn handle(&mut self, request: Request) -> Flow {
        let close = request.id() == 99;
        self.requests.push(request);
        if close {
            Flow::Close("asked")
        } else {
            Flow::Continue
        }
    }
}

type Frame = Result<Message, tungstenite::Error>;

/// Runs `read` over `frames` (then silence until the read limit) and returns what the
/// session queued and what the handler saw.
async fn read_frames(frames: Vec<Frame>) -> (Vec<Outgoing>, Recorder, Vec<axum::body::Bytes>) {
    let (frame_tx, frame_rx) = mpsc::unbounded_channel::<Frame>();
    for frame in frames {
        frame_tx.send(frame).unwrap();
    }
    let stream = futures_util::stream::unfold((frame_rx, frame_tx), |(mut rx, tx)| async move {
        rx.recv().await.map(|frame| (frame, (rx, tx)))
    });
    let (tx, mut rx) = mpsc::channel(64);
    let (pong_tx, mut pong_rx) = mpsc::channel(4);
    let mut handler = Recorder::default();
    read(Box::pin(stream), &tx, &pong_tx, &mut handler).await;
    drop(tx);
    let mut out = Vec::new();
    while let Some(message) = rx.recv().await {
        out.push(message);
    }
    drop(pong_tx);
    let mut pongs = Vec::new();
    while let Some(pong) = pong_rx.recv().await {
        pongs.push(pong);
    }
    (out, handler, pongs)
}

fn text(json: &str) -> Frame {
    Ok(Message::Text(Utf8Bytes::from(json.to_owned())))
}

fn codes_of(out: &[Outgoing]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Outgoing::Message(ServerMessage::Error { code, .. }) => Some(code.clone()),
            _ => None,
        })
        .collect()
}

fn close_reason(out: &[Outgoing]) -> Option<&'static str> {
    out.iter().find_map(|o| match o {
        Outgoing::Close(reason) => Some(*reason),
        _ => None,
    })
}

#[tokio::test]
async fn requests_reach_the_session_and_bad_frames_are_answered_without_closing() {
    let (out, handler, _) = read_frames(vec![
        text("not json"),
        text(r#"{"type": "launch_rockets", "id": 1}"#),
        Ok(Message::Binary(axum::body::Bytes::from_static(b"\x00"))),
        text(r#"{"type": "ping", "id": 2}"#),
        text(r#"{"type": "ping", "id": 99}"#),
    ])
    .await;
    assert_eq!(handler.requests.len(), 2, "{:?}", handler.requests);
    assert_eq!(
        codes_of(&out),
        [codes::BAD_JSON, codes::UNKNOWN_TYPE, codes::BAD_JSON]
    );
    assert_eq!(*handler.refused.lock().unwrap(), codes_of(&out));
    assert_eq!(close_reason(&out), Some("asked"));
}

#[tokio::test]
async fn a_frame_over_the_limit_is_refused_and_closes_the_connection() {
    let big = format!(
        r#"{{"type": "ping", "id": 1, "pad": "{}"}}"#,
        "x".repeat(MAX_FRAME)
    );
    let (out, handler, _) =
        read_frames(vec![text(&big), text(r#"{"type": "ping", "id": 2}"#)]).await;
    assert!(handler.requests.is_empty());
    assert_eq!(codes_of(&out), [codes::FRAME_TOO_LARGE]);
    assert_eq!(close_reason(&out), Some("frame too large"));
}

#[tokio::test]
async fn a_frame_cut_by_the_websocket_layer_is_also_frame_too_large() {
    let cut = Err(tungstenite::Error::Capacity(
        tungstenite::error::CapacityError::MessageTooLong {
            size: 2 << 20,
            max_size: 1 << 20,
        },
    ));
    let (out, _, _) = read_frames(vec![cut]).await;
    assert_eq!(codes_of(&out), [codes::FRAME_TOO_LARGE]);
    assert_eq!(close_reason(&out), Some("frame too large"));
}

#[tokio::test]
async fn a_burst_over_the_message_rate_is_answered_rate_limited() {
    let frames = (1000..1150)
        .map(|id| text(&format!(r#"{{"type": "ping", "id": {id}}}"#)))
        .collect();
    let (out, handler, _) = read_frames(frames).await;
    let limited = codes_of(&out)
        .iter()
        .filter(|c| *c == codes::RATE_LIMITED)
        .count();
    assert!(
        handler.requests.len() >= 100 && handler.requests.len() < 150,
        "{}",
        handler.requests.len()
    );
    assert_eq!(limited, 150 - handler.requests.len());
}

#[tokio::test]
async fn silence_past_the_read_limit_sends_the_notice_and_closes() {
    let (out, _, _) = read_frames(vec![]).await;
    assert!(matches!(
        out.first(),
        Some(Outgoing::Message(ServerMessage::SessionReplaced {}))
    ));
    assert_eq!(close_reason(&out), Some("idle timeout"));
}

#[tokio::test]
async fn a_client_ping_is_answered_with_its_payload() {
    let (_, _, pongs) = read_frames(vec![
        Ok(Message::Ping(axum::body::Bytes::from_static(b"hi"))),
        text(r#"{"type": "ping", "id": 99}"#),
    ])
    .await;
    assert_eq!(pongs, [axum::body::Bytes::from_static(b"hi")]);
}

#[tokio::test]
async fn the_writer_sends_queued_messages_as_json_then_the_close_frame() {
    let (sink_tx, mut sink_rx) = mpsc::unbounded_channel::<Message>();
    let sink = futures_util::sink::unfold(sink_tx, |tx, message: Message| async move {
        tx.send(message).map_err(|_| "closed")?;
        Ok::<_, &'static str>(tx)
    });
    let (tx, rx) = mpsc::channel(8);
    let (_pong_tx, pong_rx) = mpsc::channel(1);
    tx.send(Outgoing::Message(ServerMessage::SessionReplaced {}))
        .await
        .unwrap();
    tx.send(Outgoing::Close("replaced")).await.unwrap();
    write(Box::pin(sink), rx, pong_rx).await;
    let first = sink_rx.recv().await.unwrap();
    assert!(
        matches!(&first, Message::Text(t) if t.as_str() == r#"{"type":"session_replaced"}"#),
        "{first:?}"
    );
    let Message::Close(Some(frame)) = sink_rx.recv().await.unwrap() else {
        panic!("a close frame");
    };
    assert_eq!((frame.code, frame.reason.as_str()), (1008, "replaced"));
}
