//! The signalling websocket `/ws`: one session per connection. It authenticates with `hello`,
//! enforces frame size, message rate and idle limits, answers every request exactly once, and
//! turns requests into dispatcher events or media negotiations. Bad input gets an `error` and
//! disturbs nothing else.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use relais_dispatch::{EndedBy, Event};
use relais_media::JoinSpec;
use relais_proto::{CallId, Readiness, Reply, Request, Role, ServerMessage, codes};
use tokio::sync::mpsc;

use crate::acd::EnqueueRefusal;
use crate::auth::Claims;
use crate::hub::{Outgoing, SESSION_QUEUE, SessionEntry};
use crate::state::AppState;

/// Largest frame read; larger ones get `frame_too_large` and the connection is closed.
pub const MAX_FRAME: usize = 64 * 1024;
/// Frames above this are cut by the websocket layer itself.
const HARD_FRAME_LIMIT: usize = 1024 * 1024;
/// Initial read and write buffer of the websocket layer.
const WS_BUFFER: usize = 4 * 1024;
/// Sustained messages per second, and the burst allowed above it.
const RATE_PER_SEC: f64 = 50.0;
const RATE_BURST: f64 = 100.0;
/// The server pings this often; a connection silent for `IDLE_TIMEOUT` is closed.
const PING_EVERY: Duration = Duration::from_secs(15);
const IDLE_TIMEOUT: Duration = Duration::from_secs(45);
/// Time allowed for the first message (`hello`).
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// `GET /ws`: upgrades to a session.
pub async fn upgrade(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    ws: WebSocketUpgrade,
) -> Response {
    let peer = peer.map(|info| (info.0).0);
    ws.max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        // The websocket layer's buffers start small and grow only for a large frame: an idle
        // connection costs a few KiB instead of the default 2 × 128 KiB.
        .read_buffer_size(WS_BUFFER)
        .write_buffer_size(WS_BUFFER)
        .on_upgrade(move |socket| run(socket, state, peer))
}

/// SDP offers per second per connection, and the burst allowed above it: a browser offers
/// once per call (and again on an ICE restart); each offer costs the shard a negotiation.
const OFFERS_PER_SEC: f64 = 1.0;
const OFFER_BURST: f64 = 3.0;

/// Token bucket for a message rate.
struct Bucket {
    tokens: f64,
    at: Instant,
    per_sec: f64,
    burst: f64,
}

impl Bucket {
    fn new(per_sec: f64, burst: f64) -> Self {
        Self {
            tokens: burst,
            at: Instant::now(),
            per_sec,
            burst,
        }
    }

    fn allow(&mut self, now: Instant) -> bool {
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

/// Who the session is, once `hello` succeeded.
struct Identity {
    role: Role,
    claims: Claims,
}

struct Session {
    id: u64,
    state: AppState,
    tx: mpsc::Sender<Outgoing>,
    identity: Option<Identity>,
    /// Set by a request whose reply ends the connection.
    close_after_reply: Option<&'static str>,
    /// Pushes that follow a request's reply.
    push_after_reply: Vec<ServerMessage>,
    /// The rate of SDP offers.
    offers: Bucket,
}

fn error(id: Option<u64>, code: &str, message: impl Into<String>) -> ServerMessage {
    ServerMessage::Error {
        id,
        code: code.to_owned(),
        message: message.into(),
    }
}

async fn run(socket: WebSocket, state: AppState, peer: Option<SocketAddr>) {
    let session_id = state.hub().next_session_id();
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Outgoing>(SESSION_QUEUE);
    let (pong_tx, mut pong_rx) = mpsc::channel::<axum::body::Bytes>(4);
    tracing::debug!(session = session_id, ?peer, "websocket opened");

    // Writer: everything the server sends, plus pings.
    let writer = tokio::spawn(async move {
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
                        let _ = sink
                            .send(Message::Close(Some(CloseFrame { code: 1008, reason: Utf8Bytes::from_static(reason) })))
                            .await;
                        break;
                    }
                    None => {
                        let _ = sink.send(Message::Close(None)).await;
                        break;
                    }
                },
                pong = pong_rx.recv() => {
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
    });

    let mut session = Session {
        id: session_id,
        state: state.clone(),
        tx: tx.clone(),
        identity: None,
        close_after_reply: None,
        push_after_reply: Vec::new(),
        offers: Bucket::new(OFFERS_PER_SEC, OFFER_BURST),
    };
    let mut bucket = Bucket::new(RATE_PER_SEC, RATE_BURST);
    let opened = Instant::now();
    loop {
        // Until `hello`: its deadline. Then: the idle timeout, or the token's expiry if sooner.
        let token_left = session.identity.as_ref().map(|identity| {
            let secs = identity.claims.exp.saturating_sub(crate::auth::now_secs());
            Duration::from_secs(u64::try_from(secs).unwrap_or(0))
        });
        let limit = match token_left {
            None => HELLO_TIMEOUT.saturating_sub(opened.elapsed()),
            Some(left) => IDLE_TIMEOUT.min(left),
        };
        let frame = match tokio::time::timeout(limit, stream.next()).await {
            Err(_) => {
                let reason = match token_left {
                    None => "no hello",
                    Some(left) if left <= IDLE_TIMEOUT => {
                        session.reply(error(
                            None,
                            codes::TOKEN_EXPIRED,
                            "the token has expired; sign in again",
                        ));
                        "token expired"
                    }
                    Some(_) => "idle timeout",
                };
                tracing::debug!(session = session_id, reason, "closing websocket");
                let _ = tx.send(Outgoing::Close(reason)).await;
                break;
            }
            Ok(Some(Err(err))) if is_oversized(&err) => {
                refuse_oversized(&session, &tx).await;
                break;
            }
            Ok(None) | Ok(Some(Err(_))) => break,
            Ok(Some(Ok(frame))) => frame,
        };
        let text = match frame {
            Message::Text(text) => text,
            Message::Binary(_) => {
                session.reply(error(
                    None,
                    codes::BAD_JSON,
                    "binary frames are not part of the protocol",
                ));
                continue;
            }
            Message::Ping(payload) => {
                let _ = pong_tx.try_send(payload);
                continue;
            }
            Message::Pong(_) => continue,
            Message::Close(_) => break,
        };
        if text.len() > MAX_FRAME {
            refuse_oversized(&session, &tx).await;
            break;
        }
        if !bucket.allow(Instant::now()) {
            state
                .metrics()
                .ws_refused
                .with_label_values(&[codes::RATE_LIMITED])
                .inc();
            session.reply(error(
                None,
                codes::RATE_LIMITED,
                "too many messages; slow down",
            ));
            continue;
        }
        let request = match parse(text.as_str()) {
            Ok(request) => request,
            Err(refusal) => {
                state
                    .metrics()
                    .ws_refused
                    .with_label_values(&[code_of(&refusal)])
                    .inc();
                session.reply(refusal);
                continue;
            }
        };
        if let Some(reply) = session.handle(request).await {
            if let ServerMessage::Error { code, .. } = &reply {
                state
                    .metrics()
                    .ws_refused
                    .with_label_values(&[code.as_str()])
                    .inc();
            }
            session.reply(reply);
        }
        for push in std::mem::take(&mut session.push_after_reply) {
            session.reply(push);
        }
        if let Some(reason) = session.close_after_reply.take() {
            let _ = tx.send(Outgoing::Close(reason)).await;
            break;
        }
    }
    session.closed().await;
    drop(tx);
    drop(session);
    let _ = writer.await;
    tracing::debug!(session = session_id, "websocket closed");
}

/// Answers a frame over [`MAX_FRAME`] (read by us or cut by the websocket layer) and closes.
async fn refuse_oversized(session: &Session, tx: &mpsc::Sender<Outgoing>) {
    session.reply(error(
        None,
        codes::FRAME_TOO_LARGE,
        format!("frames are limited to {MAX_FRAME} bytes"),
    ));
    let _ = tx.send(Outgoing::Close("frame too large")).await;
}

/// Whether the websocket layer refused a frame or message for its size.
fn is_oversized(err: &axum::Error) -> bool {
    use std::error::Error as _;
    use tokio_tungstenite::tungstenite;
    matches!(
        err.source()
            .and_then(|inner| inner.downcast_ref::<tungstenite::Error>()),
        Some(tungstenite::Error::Capacity(_))
    )
}

fn code_of(message: &ServerMessage) -> &'static str {
    match message {
        ServerMessage::Error { code, .. } => match code.as_str() {
            codes::BAD_JSON => codes::BAD_JSON,
            codes::UNKNOWN_TYPE => codes::UNKNOWN_TYPE,
            _ => codes::BAD_REQUEST,
        },
        _ => "none",
    }
}

/// The reply to `accept` or `reject`: a late answer gets its own code.
fn answer_offer(
    id: u64,
    call: CallId,
    result: Result<(), relais_dispatch::DispatchError>,
) -> ServerMessage {
    match result {
        Ok(()) => ServerMessage::Ok {
            id,
            result: Reply::Done {},
        },
        Err(relais_dispatch::DispatchError::NoLongerOffered { .. }) => error(
            Some(id),
            codes::NO_LONGER_OFFERED,
            format!("call {call} is no longer offered to you"),
        ),
        Err(err) => error(Some(id), codes::WRONG_STATE, err.to_string()),
    }
}

/// Reads one frame into a request, or the error to answer with.
fn parse(text: &str) -> Result<Request, ServerMessage> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|err| error(None, codes::BAD_JSON, format!("not JSON: {err}")))?;
    let id = value.get("id").and_then(serde_json::Value::as_u64);
    let Some(kind) = value
        .get("type")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
    else {
        return Err(error(
            id,
            codes::BAD_REQUEST,
            "a message is a JSON object with a string `type`",
        ));
    };
    if !relais_proto::messages::REQUEST_TYPES.contains(&kind.as_str()) {
        return Err(error(
            id,
            codes::UNKNOWN_TYPE,
            format!("unknown message type `{kind}`"),
        ));
    }
    if id.is_none() {
        return Err(error(
            None,
            codes::BAD_REQUEST,
            "a request needs a numeric `id`",
        ));
    }
    let request: Request = serde_json::from_value(value)
        .map_err(|err| error(id, codes::BAD_REQUEST, format!("bad `{kind}`: {err}")))?;
    request
        .check_lengths()
        .map_err(|err| error(id, codes::BAD_REQUEST, format!("bad `{kind}`: {err}")))?;
    Ok(request)
}

impl Session {
    fn reply(&self, message: ServerMessage) {
        if self.tx.try_send(Outgoing::Message(message)).is_err() {
            tracing::debug!(
                session = self.id,
                "reply dropped: the session's queue is full"
            );
        }
    }

    fn subject(&self) -> String {
        self.identity
            .as_ref()
            .map(|i| i.claims.sub.clone())
            .unwrap_or_default()
    }

    async fn handle(&mut self, request: Request) -> Option<ServerMessage> {
        let id = request.id();
        let Some(identity) = &self.identity else {
            return Some(match request {
                Request::Hello {
                    protocol, token, ..
                } => self.hello(id, protocol, &token).await,
                _ => error(
                    Some(id),
                    codes::NOT_AUTHENTICATED,
                    "send `hello` with a token first",
                ),
            });
        };
        if !request.allowed_roles().contains(&identity.role) {
            return Some(error(
                Some(id),
                codes::FORBIDDEN,
                format!("a {} may not send this message", identity.role.as_str()),
            ));
        }
        let ok = |result: Reply| ServerMessage::Ok { id, result };
        let done = || ServerMessage::Ok {
            id,
            result: Reply::Done {},
        };
        let acd = self.state.acd();
        let hub = self.state.hub();
        let agent = relais_proto::AgentId(self.subject());
        Some(match request {
            Request::Hello { .. } => error(
                Some(id),
                codes::ALREADY_AUTHENTICATED,
                "this connection is already authenticated",
            ),
            Request::Ping { .. } => done(),
            Request::ListServices { .. } => ok(Reply::Services {
                services: self.state.services_now().await,
            }),
            Request::Call { service, .. } => return Some(self.call(id, service).await),
            Request::Cancel { .. } => {
                let Some(call) = hub.kiosk_call.get(&self.id).map(|c| *c) else {
                    return Some(error(Some(id), codes::WRONG_STATE, "no call is waiting"));
                };
                if hub.call_agent.contains_key(&call) {
                    return Some(error(
                        Some(id),
                        codes::WRONG_STATE,
                        "the call is connected: use hangup",
                    ));
                }
                match acd.event(Event::Abandon { call }).await {
                    Ok(()) => done(),
                    Err(err) => error(Some(id), codes::WRONG_STATE, err.to_string()),
                }
            }
            Request::Hangup { .. } => {
                let (call, by) = match identity.role {
                    Role::Kiosk => (hub.kiosk_call.get(&self.id).map(|c| *c), EndedBy::Kiosk),
                    _ => (
                        hub.call_agent
                            .iter()
                            .find(|entry| entry.value() == agent.as_str())
                            .map(|entry| *entry.key()),
                        EndedBy::Agent,
                    ),
                };
                let Some(call) = call.filter(|call| hub.call_agent.contains_key(call)) else {
                    return Some(error(Some(id), codes::WRONG_STATE, "no call is connected"));
                };
                match acd.event(Event::CallEnded { call, by }).await {
                    Ok(()) => done(),
                    Err(err) => error(Some(id), codes::WRONG_STATE, err.to_string()),
                }
            }
            Request::SdpOffer { sdp, .. } => return Some(self.sdp_offer(id, sdp).await),
            Request::IceCandidate { candidate, .. } => {
                let Some((call, role)) = self.current_call() else {
                    return Some(error(Some(id), codes::WRONG_STATE, "no call is connected"));
                };
                let Some(media) = hub.media.get(&call).map(|m| m.clone()) else {
                    return Some(error(
                        Some(id),
                        codes::WRONG_STATE,
                        "the call has no media yet",
                    ));
                };
                let peer = if role == Role::Kiosk {
                    media.kiosk_peer
                } else {
                    media.agent_peer
                };
                let (Some(peer), Some(shard)) =
                    (peer, self.state.media().shards().get(media.shard))
                else {
                    return Some(error(
                        Some(id),
                        codes::WRONG_STATE,
                        "send `sdp_offer` first",
                    ));
                };
                match shard.add_candidate(peer, candidate).await {
                    Ok(()) => done(),
                    Err(err) => error(Some(id), codes::MEDIA, err.to_string()),
                }
            }
            Request::SetState { state, reason, .. } => {
                let event = match state {
                    Readiness::Ready => Event::AgentReady { agent },
                    Readiness::NotReady => Event::AgentNotReady {
                        agent,
                        reason: reason
                            .filter(|r| !r.trim().is_empty())
                            .unwrap_or_else(|| "pause".to_owned()),
                    },
                };
                match acd.event(event).await {
                    Ok(()) => done(),
                    Err(err) => error(Some(id), codes::WRONG_STATE, err.to_string()),
                }
            }
            Request::Accept { call, .. } => {
                answer_offer(id, call, acd.event(Event::Accept { call, agent }).await)
            }
            Request::Reject { call, .. } => {
                answer_offer(id, call, acd.event(Event::Reject { call, agent }).await)
            }
            Request::WrapUpDone { disposition, .. } => {
                // Put where the wrap-up's record picks it up, before the event ends it.
                let given: Option<String> = disposition
                    .filter(|d| !d.trim().is_empty())
                    .map(|code| code.chars().take(64).collect());
                if let Some(code) = &given {
                    hub.dispositions.insert(agent.to_string(), code.clone());
                }
                match acd
                    .event(Event::WrapUpDone {
                        agent: agent.clone(),
                    })
                    .await
                {
                    Ok(()) => done(),
                    Err(err) => {
                        // Refused (not in wrap-up): the code must not stick to a later call.
                        if let Some(code) = &given {
                            hub.dispositions
                                .remove_if(agent.as_str(), |_, kept| kept == code);
                        }
                        error(Some(id), codes::WRONG_STATE, err.to_string())
                    }
                }
            }
            Request::MyCalls { .. } => match self.state.calls_of_today(agent.as_str()).await {
                Ok(calls) => ok(Reply::Calls { calls }),
                Err(err) => {
                    tracing::error!(error = %err, "cannot read the agent's calls");
                    error(Some(id), codes::INTERNAL, "the call history is unavailable")
                }
            },
            Request::SubscribeKpis { .. } => {
                if let Some(entry) = hub.sessions.get(&self.id) {
                    entry.kpis.store(true, Ordering::Relaxed);
                }
                match self.state.kpi_snapshot().await {
                    Some(snapshot) => ok(Reply::Kpis(snapshot)),
                    None => error(Some(id), codes::INTERNAL, "KPIs are unavailable"),
                }
            }
            Request::ListWaiting { .. } => match self.state.waiting_calls().await {
                Some(calls) => ok(Reply::Waiting { calls }),
                None => error(Some(id), codes::INTERNAL, "the queue is unavailable"),
            },
        })
    }

    async fn hello(&mut self, id: u64, protocol: u32, token: &str) -> ServerMessage {
        if protocol != relais_proto::PROTOCOL_VERSION {
            return error(
                Some(id),
                codes::PROTOCOL_VERSION,
                format!(
                    "this server speaks protocol {}",
                    relais_proto::PROTOCOL_VERSION
                ),
            );
        }
        let claims = match self.state.tokens().verify(token, crate::auth::now_secs()) {
            Ok(claims) => claims,
            Err(err) => return error(Some(id), err.code(), err.to_string()),
        };
        let role = claims.role;
        let hub = self.state.hub();
        let cap = self.state.config().limits.kiosk_connections;
        if role == Role::Kiosk
            && hub
                .sessions
                .iter()
                .filter(|entry| entry.role == Role::Kiosk && entry.subject == claims.sub)
                .count()
                >= cap
        {
            self.close_after_reply = Some("too many connections for this kiosk");
            return error(
                Some(id),
                codes::TOO_MANY_CONNECTIONS,
                format!("this kiosk already holds {cap} connections"),
            );
        }
        hub.sessions.insert(
            self.id,
            SessionEntry {
                role,
                subject: claims.sub.clone(),
                tx: self.tx.clone(),
                kpis: Default::default(),
            },
        );
        self.state
            .metrics()
            .ws_sessions
            .with_label_values(&[role.as_str()])
            .inc();
        if role == Role::Agent {
            if let Some(previous) = hub.agents.insert(claims.sub.clone(), self.id)
                && previous != self.id
            {
                hub.send(previous, ServerMessage::SessionReplaced {});
                if let Some(entry) = hub.sessions.get(&previous) {
                    let _ = entry
                        .tx
                        .try_send(Outgoing::Close("replaced by a new connection"));
                }
            }
            let login = Event::AgentLogin {
                agent: relais_proto::AgentId(claims.sub.clone()),
                skills: claims.skills.clone(),
                queues: None,
            };
            match self.state.acd().event(login).await {
                Ok(()) => {}
                Err(relais_dispatch::DispatchError::AlreadyLoggedIn(_)) => {
                    // A reopened console: tell it the state it is in (and its call), which no
                    // state change will push.
                    let agent = relais_proto::AgentId(claims.sub.clone());
                    let current = self
                        .state
                        .acd()
                        .query(move |dispatcher, now| {
                            dispatcher
                                .agents()
                                .find(|view| *view.agent == agent)
                                .map(|view| crate::acd::agent_state_message(&view.state, now))
                        })
                        .await
                        .flatten();
                    self.push_after_reply.extend(current);
                }
                Err(err) => {
                    // Refused: undo the registration, as no identity will clean it up later.
                    hub.sessions.remove(&self.id);
                    hub.agents
                        .remove_if(&claims.sub, |_, session| *session == self.id);
                    self.state
                        .metrics()
                        .ws_sessions
                        .with_label_values(&[role.as_str()])
                        .dec();
                    return error(Some(id), codes::BAD_TOKEN, err.to_string());
                }
            }
        }
        tracing::info!(session = self.id, role = role.as_str(), subject = %claims.sub, "signed in");
        self.identity = Some(Identity {
            role,
            claims: claims.clone(),
        });
        ServerMessage::Ok {
            id,
            result: Reply::Welcome {
                role,
                subject: claims.sub,
                protocol: relais_proto::PROTOCOL_VERSION,
            },
        }
    }

    async fn call(&mut self, id: u64, service: String) -> ServerMessage {
        let hub = self.state.hub();
        if hub.kiosk_call.contains_key(&self.id) {
            return error(
                Some(id),
                codes::WRONG_STATE,
                "this kiosk already has a call",
            );
        }
        if !self.state.config().services.iter().any(|s| s.id == service) {
            return error(
                Some(id),
                codes::UNKNOWN_SERVICE,
                format!("no service `{service}`"),
            );
        }
        let Some(identity) = &self.identity else {
            return error(Some(id), codes::NOT_AUTHENTICATED, "send `hello` first");
        };
        let kiosk = identity.claims.sub.clone();
        let now = std::time::Instant::now();
        let per_minute = self.state.config().limits.call_refusals_per_minute;
        let refusal_key = (kiosk.clone(), service.clone());
        if let Some(window) = hub.call_refusals.get(&refusal_key).map(|w| *w)
            && let Err(wait) = window.allows(now, per_minute)
        {
            self.state.metrics().refusals_suppressed.inc();
            return error(
                Some(id),
                codes::RATE_LIMITED,
                format!(
                    "{} calls of this kiosk to `{service}` were refused in the last minute; try again in {wait} s",
                    window.count
                ),
            );
        }
        let call = self.state.next_call_id();
        match hub.kiosk_identity_call.entry(kiosk.clone()) {
            dashmap::Entry::Occupied(held) => {
                return error(
                    Some(id),
                    codes::WRONG_STATE,
                    format!("this kiosk already has a call ({})", held.get()),
                );
            }
            dashmap::Entry::Vacant(free) => {
                free.insert(call);
            }
        }
        hub.call_kiosk.insert(call, self.id);
        hub.kiosk_call.insert(self.id, call);
        let event = Event::Enqueue {
            call,
            queue: service.as_str().into(),
            kiosk: identity.claims.sub.as_str().into(),
            site: identity
                .claims
                .site
                .clone()
                .unwrap_or_else(|| "unknown".to_owned())
                .into(),
            priority: None,
        };
        match self.state.acd().enqueue(event, call).await {
            Ok(()) => {
                hub.call_refusals.remove(&refusal_key);
                ServerMessage::Ok {
                    id,
                    result: Reply::Queued { call },
                }
            }
            Err(refusal) => {
                hub.forget_call(call, &kiosk);
                if matches!(refusal, EnqueueRefusal::Closed | EnqueueRefusal::Full) {
                    let window = hub.call_refusals.get(&refusal_key).map(|w| *w);
                    hub.call_refusals
                        .insert(refusal_key, crate::hub::RefusalWindow::refused(window, now));
                }
                match refusal {
                    EnqueueRefusal::Closed => error(
                        Some(id),
                        codes::SERVICE_CLOSED,
                        format!("`{service}` is closed now"),
                    ),
                    EnqueueRefusal::Full => error(
                        Some(id),
                        codes::QUEUE_FULL,
                        format!("`{service}` has too many calls waiting"),
                    ),
                    EnqueueRefusal::Refused(code, message) => error(Some(id), &code, message),
                }
            }
        }
    }

    /// The connected call of this kiosk or agent, and its role in it.
    fn current_call(&self) -> Option<(CallId, Role)> {
        let identity = self.identity.as_ref()?;
        let hub = self.state.hub();
        match identity.role {
            Role::Kiosk => hub.kiosk_call.get(&self.id).map(|c| (*c, Role::Kiosk)),
            Role::Agent => hub
                .call_agent
                .iter()
                .find(|entry| entry.value() == &identity.claims.sub)
                .map(|entry| (*entry.key(), Role::Agent)),
            _ => None,
        }
    }

    async fn sdp_offer(&mut self, id: u64, sdp: String) -> ServerMessage {
        let Some((call, role)) = self.current_call() else {
            return error(Some(id), codes::WRONG_STATE, "no call is connected");
        };
        if !self.offers.allow(Instant::now()) {
            return error(
                Some(id),
                codes::RATE_LIMITED,
                format!(
                    "at most {OFFERS_PER_SEC} SDP offer per second (burst {OFFER_BURST}); \
                     the previous negotiation stands"
                ),
            );
        }
        let hub = self.state.hub();
        let Some(media) = hub.media.get(&call).map(|m| m.clone()) else {
            return error(Some(id), codes::WRONG_STATE, "wait for `media_ready`");
        };
        let Some(shard) = self.state.media().shards().get(media.shard).cloned() else {
            return error(Some(id), codes::INTERNAL, "the call's media shard is gone");
        };
        // Parsed here, off the shard thread: a malformed offer replaces nothing.
        if let Err(err) = relais_media::check_offer(&sdp) {
            return error(Some(id), codes::MEDIA, err.to_string());
        }
        // A new offer from the same side (page reload) replaces its previous peer.
        let previous = if role == Role::Kiosk {
            media.kiosk_peer
        } else {
            media.agent_peer
        };
        if let Some(previous) = previous {
            let _ = shard.remove_peer(previous).await;
        }
        match shard
            .join(media.room, JoinSpec::one_to_one(role.as_str()), sdp)
            .await
        {
            Ok((peer, answer)) => {
                if let Some(mut entry) = hub.media.get_mut(&call) {
                    if role == Role::Kiosk {
                        entry.kiosk_peer = Some(peer);
                    } else {
                        entry.agent_peer = Some(peer);
                    }
                }
                ServerMessage::Ok {
                    id,
                    result: Reply::Answer { sdp: answer },
                }
            }
            Err(err) => error(Some(id), codes::MEDIA, err.to_string()),
        }
    }

    /// The connection ended: leave what the user was doing in a state that cannot get stuck.
    async fn closed(&mut self) {
        let hub = self.state.hub();
        let Some(identity) = self.identity.take() else {
            return;
        };
        hub.sessions.remove(&self.id);
        self.state
            .metrics()
            .ws_sessions
            .with_label_values(&[identity.role.as_str()])
            .dec();
        match identity.role {
            Role::Kiosk => {
                if let Some(call) = hub.kiosk_call.get(&self.id).map(|c| *c) {
                    let event = if hub.call_agent.contains_key(&call) {
                        Event::CallEnded {
                            call,
                            by: EndedBy::Kiosk,
                        }
                    } else {
                        Event::Abandon { call }
                    };
                    self.state.acd().notify(event);
                }
            }
            Role::Agent => {
                let mine = hub
                    .agents
                    .remove_if(&identity.claims.sub, |_, session| *session == self.id)
                    .is_some();
                if mine {
                    self.state.acd().notify(Event::AgentDisconnect {
                        agent: relais_proto::AgentId(identity.claims.sub.clone()),
                    });
                }
            }
            Role::Supervisor | Role::Admin => {}
        }
        tracing::info!(session = self.id, role = identity.role.as_str(), subject = %identity.claims.sub, "signed out");
    }
}
