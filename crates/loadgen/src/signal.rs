//! A signalling client over `/ws`: requests with ids answered by replies, and the server's
//! pushes kept in order for whoever waits for them.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// One websocket session.
pub struct Signal {
    out: mpsc::UnboundedSender<Message>,
    inbox: mpsc::UnboundedReceiver<Value>,
    pushes: VecDeque<Value>,
    next_id: u64,
}

impl Signal {
    /// Connects to `ws_url` and signs in with `token`.
    pub async fn connect(ws_url: &str, token: &str) -> anyhow::Result<Self> {
        let (socket, _) = tokio_tungstenite::connect_async(ws_url)
            .await
            .with_context(|| format!("cannot connect to {ws_url}"))?;
        let (mut write, mut read) = socket.split();
        let (out, mut out_rx) = mpsc::unbounded_channel::<Message>();
        let (in_tx, inbox) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(message) = out_rx.recv().await {
                if write.send(message).await.is_err() {
                    break;
                }
            }
            let _ = write.close().await;
        });
        tokio::spawn(async move {
            while let Some(Ok(message)) = read.next().await {
                if let Message::Text(text) = message
                    && let Ok(value) = serde_json::from_str::<Value>(text.as_str())
                    && in_tx.send(value).is_err()
                {
                    break;
                }
            }
        });
        let mut signal = Self {
            out,
            inbox,
            pushes: VecDeque::new(),
            next_id: 1,
        };
        let reply = signal
            .request(json!({"type": "hello", "protocol": 1, "token": token}))
            .await?;
        if reply["type"] != "ok" {
            bail!("hello refused: {reply}");
        }
        Ok(signal)
    }

    /// Sends a request and returns its reply (`ok` or `error`).
    pub async fn request(&mut self, mut request: Value) -> anyhow::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        request["id"] = json!(id);
        self.out
            .send(Message::Text(request.to_string().into()))
            .map_err(|_| anyhow!("connection closed"))?;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let message = self.next(deadline).await?;
            if message.get("id").and_then(Value::as_u64) == Some(id) {
                return Ok(message);
            }
            self.pushes.push_back(message);
        }
    }

    /// Sends a request that must succeed; returns its `result`.
    pub async fn ok(&mut self, request: Value) -> anyhow::Result<Value> {
        let reply = self.request(request).await?;
        if reply["type"] != "ok" {
            bail!("request refused: {reply}");
        }
        Ok(reply["result"].clone())
    }

    /// The next push of `kind` within `limit`.
    pub async fn expect(&mut self, kind: &str, limit: Duration) -> anyhow::Result<Value> {
        if let Some(at) = self.pushes.iter().position(|m| m["type"] == kind) {
            return self.pushes.remove(at).ok_or_else(|| anyhow!("lost push"));
        }
        let deadline = Instant::now() + limit;
        loop {
            let message = self
                .next(deadline)
                .await
                .with_context(|| format!("waiting for `{kind}`"))?;
            if message["type"] == kind {
                return Ok(message);
            }
            self.pushes.push_back(message);
        }
    }

    async fn next(&mut self, deadline: Instant) -> anyhow::Result<Value> {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, self.inbox.recv()).await {
            Ok(Some(message)) => Ok(message),
            Ok(None) => bail!("connection closed"),
            Err(_) => bail!("timed out"),
        }
    }
}
