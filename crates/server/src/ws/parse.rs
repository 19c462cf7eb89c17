//! Reading a frame into a request, and the token bucket of message rates.

use std::time::Instant;

use relais_proto::{Request, ServerMessage, codes};

/// An `error` message.
pub fn error(id: Option<u64>, code: &str, message: impl Into<String>) -> ServerMessage {
    ServerMessage::Error {
        id,
        code: code.to_owned(),
        message: message.into(),
    }
}

/// Reads one frame into a request, or the error code and message to answer with (boxed: a
/// refusal is the rare path, and a request is read on every frame).
pub fn parse(text: &str) -> Result<Request, (&'static str, Box<ServerMessage>)> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|err| {
        (
            codes::BAD_JSON,
            Box::new(error(None, codes::BAD_JSON, format!("not JSON: {err}"))),
        )
    })?;
    let id = value.get("id").and_then(serde_json::Value::as_u64);
    let bad = |id: Option<u64>, message: String| {
        (
            codes::BAD_REQUEST,
            Box::new(error(id, codes::BAD_REQUEST, message)),
        )
    };
    let Some(kind) = value
        .get("type")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
    else {
        return Err(bad(
            id,
            "a message is a JSON object with a string `type`".into(),
        ));
    };
    if !relais_proto::messages::REQUEST_TYPES.contains(&kind.as_str()) {
        return Err((
            codes::UNKNOWN_TYPE,
            Box::new(error(
                id,
                codes::UNKNOWN_TYPE,
                format!("unknown message type `{kind}`"),
            )),
        ));
    }
    if id.is_none() {
        return Err(bad(None, "a request needs a numeric `id`".into()));
    }
    let request: Request =
        serde_json::from_value(value).map_err(|err| bad(id, format!("bad `{kind}`: {err}")))?;
    request
        .check_lengths()
        .map_err(|err| bad(id, format!("bad `{kind}`: {err}")))?;
    Ok(request)
}

/// Token bucket for a message rate.
#[derive(Debug)]
pub struct Bucket {
    tokens: f64,
    at: Instant,
    per_sec: f64,
    burst: f64,
}

impl Bucket {
    pub fn new(per_sec: f64, burst: f64, now: Instant) -> Self {
        Self {
            tokens: burst,
            at: now,
            per_sec,
            burst,
        }
    }

    /// Takes one token at `now` if there is one.
    pub fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
