//! A signalling test client over `/ws` (tokio-tungstenite): sends requests, matches replies by
//! id, and keeps the server's pushes for the test to wait on.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// A connected websocket client.
pub struct WsClient {
    out: mpsc::UnboundedSender<Message>,
    inbox: mpsc::UnboundedReceiver<Value>,
    pushes: VecDeque<Value>,
    next_id: u64,
    /// Set when the server closed the connection.
    pub closed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The code of the server's close frame (1005 when it had none; 0 before any).
    pub close_code: std::sync::Arc<std::sync::atomic::AtomicU32>,
}

impl WsClient {
    /// Connects to `ws://addr/ws`.
    pub async fn connect(addr: std::net::SocketAddr) -> Self {
        Self::connect_with(addr, &[]).await
    }

    /// Connects with extra headers on the upgrade request (a cookie, an origin).
    pub async fn connect_with(addr: std::net::SocketAddr, headers: &[(&str, &str)]) -> Self {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
                    .unwrap(),
                value.parse().unwrap(),
            );
        }
        let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let (mut write, mut read) = socket.split();
        let (out, mut out_rx) = mpsc::unbounded_channel::<Message>();
        let (in_tx, inbox) = mpsc::unbounded_channel();
        let closed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        tokio::spawn(async move {
            while let Some(message) = out_rx.recv().await {
                if write.send(message).await.is_err() {
                    break;
                }
            }
            let _ = write.close().await;
        });
        let flag = std::sync::Arc::clone(&closed);
        let close_code = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let code_seen = std::sync::Arc::clone(&close_code);
        tokio::spawn(async move {
            while let Some(Ok(message)) = read.next().await {
                match message {
                    Message::Text(text) => {
                        let value: Value = serde_json::from_str(text.as_str()).unwrap();
                        let _ = in_tx.send(value);
                    }
                    Message::Close(frame) => {
                        let code = frame.map_or(1005, |frame| u16::from(frame.code));
                        code_seen.store(u32::from(code), std::sync::atomic::Ordering::SeqCst);
                        break;
                    }
                    _ => {}
                }
            }
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        Self {
            out,
            inbox,
            pushes: VecDeque::new(),
            next_id: 1,
            closed,
            close_code,
        }
    }

    /// Connects and signs in with `token`.
    pub async fn signed_in(addr: std::net::SocketAddr, token: &str) -> Self {
        let mut client = Self::connect(addr).await;
        let reply = client
            .request(json!({"type": "hello", "protocol": 1, "token": token}))
            .await;
        assert_eq!(reply["type"], "ok", "hello refused: {reply}");
        client
    }

    /// Sends raw text.
    pub fn send_text(&self, text: &str) {
        let _ = self.out.send(Message::Text(text.into()));
    }

    /// Sends a request (its `id` is filled in) and returns the reply with that id.
    pub async fn request(&mut self, mut request: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        request["id"] = json!(id);
        self.send_text(&request.to_string());
        self.reply(id).await
    }

    /// Waits for the reply with `id`, keeping pushes.
    pub async fn reply(&mut self, id: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = tokio::time::timeout(left, self.inbox.recv())
                .await
                .unwrap_or_else(|_| panic!("no reply to request {id}"))
                .unwrap_or_else(|| panic!("connection closed before the reply to {id}"));
            if message.get("id").and_then(Value::as_u64) == Some(id) {
                return message;
            }
            self.pushes.push_back(message);
        }
    }

    /// The next message of `kind` (pushes or unsolicited errors), within `limit`.
    pub async fn expect(&mut self, kind: &str, limit: Duration) -> Value {
        if let Some(at) = self.pushes.iter().position(|m| m["type"] == kind) {
            return self.pushes.remove(at).unwrap();
        }
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.inbox.recv()).await {
                Ok(Some(message)) if message["type"] == kind => return message,
                Ok(Some(message)) => self.pushes.push_back(message),
                Ok(None) => panic!(
                    "connection closed while waiting for `{kind}`; seen: {:?}",
                    self.pushes
                ),
                Err(_) => panic!("no `{kind}` within {limit:?}; seen: {:?}", self.pushes),
            }
        }
    }

    /// The next message of `kind` satisfying `check`.
    pub async fn expect_where(
        &mut self,
        kind: &str,
        limit: Duration,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = self.expect(kind, left).await;
            if check(&message) {
                return message;
            }
        }
    }

    /// Whether a message of `kind` arrives within `limit` (consumes it).
    pub async fn sees(&mut self, kind: &str, limit: Duration) -> bool {
        if let Some(at) = self.pushes.iter().position(|m| m["type"] == kind) {
            self.pushes.remove(at);
            return true;
        }
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.inbox.recv()).await {
                Ok(Some(message)) if message["type"] == kind => return true,
                Ok(Some(message)) => self.pushes.push_back(message),
                _ => return false,
            }
        }
    }

    /// Closes the connection.
    pub fn close(&self) {
        let _ = self.out.send(Message::Close(None));
    }
}
