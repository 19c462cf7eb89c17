//! A signed-in session: `hello` and its token, the role matrix, and each request turned into
//! a job of the call task (or a read of the store). The session decides nothing about calls:
//! the call core does.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use relais_call::Input;
use relais_dispatch::Event;
use relais_proto::{Readiness, Reply, Request, Role, ServerMessage, codes};
use tokio::sync::mpsc;

use super::parse::{Bucket, error};
use super::transport::{Flow, Handler, ReadLimit};
use crate::auth::Claims;
use crate::calls::{Refusal, dispatch_refusal};
use crate::hub::{Outgoing, SessionEntry};
use crate::state::AppState;

mod media;

/// A connection silent for this long is closed (the server pings every 15 s).
const IDLE_TIMEOUT: Duration = Duration::from_secs(45);
/// Time allowed for the first message (`hello`).
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// SDP offers per connection: a burst of 3, then one per 10 s. A browser offers once per call
/// (and again to rejoin after a failure, tens of seconds later); each offer costs the shard a
/// negotiation of several milliseconds, which delays every other packet of that shard
/// (`bench/sdp-flood.py`: one offer per second doubled other calls' residence p99).
const OFFER_EVERY_SECS: f64 = 10.0;
const OFFER_BURST: f64 = 3.0;

/// Who the session is, once `hello` succeeded.
struct Identity {
    role: Role,
    claims: Claims,
}

pub struct Session {
    id: u64,
    state: AppState,
    tx: mpsc::Sender<Outgoing>,
    identity: Option<Identity>,
    opened: Instant,
    /// Set by a request whose reply ends the connection.
    close_after_reply: Option<&'static str>,
    /// Pushes that follow a request's reply.
    push_after_reply: Vec<ServerMessage>,
    /// The rate of SDP offers.
    offers: Bucket,
    /// The browser sign-in of the upgrade request's cookie, if any (its session hash).
    web: Option<String>,
}

fn refusal(id: u64, refusal: Refusal) -> ServerMessage {
    error(Some(id), refusal.code, refusal.message)
}

fn task_gone(id: u64) -> ServerMessage {
    error(Some(id), codes::INTERNAL, "the call service is not running")
}

impl Handler for Session {
    fn read_limit(&self) -> ReadLimit {
        let Some(identity) = &self.identity else {
            return ReadLimit {
                wait: HELLO_TIMEOUT.saturating_sub(self.opened.elapsed()),
                reason: "no hello",
                notice: None,
            };
        };
        let secs = identity.claims.exp.saturating_sub(crate::auth::now_secs());
        let token_left = Duration::from_secs(u64::try_from(secs).unwrap_or(0));
        if token_left <= IDLE_TIMEOUT {
            ReadLimit {
                wait: token_left,
                reason: "token expired",
                notice: Some(error(
                    None,
                    codes::TOKEN_EXPIRED,
                    "the token has expired; sign in again",
                )),
            }
        } else {
            ReadLimit {
                wait: IDLE_TIMEOUT,
                reason: "idle timeout",
                notice: None,
            }
        }
    }

    fn refused(&self, code: &str) {
        self.state
            .metrics()
            .ws_refused
            .with_label_values(&[code])
            .inc();
    }

    async fn handle(&mut self, request: Request) -> Flow {
        let reply = self.respond(request).await;
        if let ServerMessage::Error { code, .. } = &reply {
            self.refused(code);
        }
        self.send(reply);
        for push in std::mem::take(&mut self.push_after_reply) {
            self.send(push);
        }
        match self.close_after_reply.take() {
            Some(reason) => Flow::Close(reason),
            None => Flow::Continue,
        }
    }
}

impl Session {
    pub fn new(id: u64, state: AppState, tx: mpsc::Sender<Outgoing>, web: Option<String>) -> Self {
        let now = Instant::now();
        Self {
            id,
            state,
            tx,
            identity: None,
            opened: now,
            close_after_reply: None,
            push_after_reply: Vec::new(),
            offers: Bucket::new(1.0 / OFFER_EVERY_SECS, OFFER_BURST, now),
            web,
        }
    }

    fn send(&self, message: ServerMessage) {
        if self.tx.try_send(Outgoing::Message(message)).is_err() {
            tracing::debug!(
                session = self.id,
                "reply dropped: the session's queue is full"
            );
        }
    }

    /// Runs a call-core input on the task and answers `done` or its refusal, once what it
    /// caused (a record) is carried out.
    async fn call_input(&self, id: u64, input: Input) -> ServerMessage {
        match self
            .state
            .calls()
            .run_then_carry_out(move |cores, now| cores.input(now, input).map(|_| ()))
            .await
        {
            Some(Ok(())) => done(id),
            Some(Err(err)) => refusal(id, err),
            None => task_gone(id),
        }
    }

    /// A waiting kiosk asks to be called back: `not_before_ms` (Unix ms) is put on the call
    /// task's clock; the call core checks the rest.
    async fn request_callback(
        &self,
        id: u64,
        call: relais_proto::CallId,
        phone: String,
        not_before_ms: Option<i64>,
    ) -> ServerMessage {
        let session = self.id;
        let task = self.state.next_call_id();
        self.state
            .calls()
            .run_then_carry_out(move |cores, now| {
                let at_ms = jiff::Timestamp::now().as_millisecond();
                let not_before = not_before_ms.map(|ms| {
                    let ahead = u64::try_from(ms.saturating_sub(at_ms)).unwrap_or(0);
                    let at = now
                        .checked_add(std::time::Duration::from_millis(ahead))
                        .unwrap_or(now);
                    (at, ms)
                });
                cores
                    .input(
                        now,
                        Input::RequestCallback {
                            session,
                            call,
                            task,
                            phone,
                            not_before,
                            at_ms,
                        },
                    )
                    .map(|_| ())
            })
            .await
            .map_or_else(
                || task_gone(id),
                |r| r.map_or_else(|e| refusal(id, e), |()| done(id)),
            )
    }

    /// Applies a dispatcher event on the task and answers `done` or its refusal.
    async fn my_calls(
        &self,
        id: u64,
        agent: &str,
        search: Option<crate::state::CallSearch>,
    ) -> ServerMessage {
        match self.state.my_calls(agent, search).await {
            Ok(calls) => ok(id, Reply::Calls { calls }),
            Err(err) => {
                tracing::error!(error = %err, "cannot read the agent's calls");
                error(Some(id), codes::INTERNAL, "the call history is unavailable")
            }
        }
    }

    async fn dispatch(&self, id: u64, event: Event) -> ServerMessage {
        match self
            .state
            .calls()
            .run(move |cores, now| cores.dispatch(now, event))
            .await
        {
            Some(Ok(())) => done(id),
            Some(Err(err)) => refusal(id, dispatch_refusal(err)),
            None => task_gone(id),
        }
    }

    async fn respond(&mut self, request: Request) -> ServerMessage {
        let id = request.id();
        let Some(identity) = &self.identity else {
            return match request {
                Request::Hello {
                    protocol,
                    token,
                    role,
                    resume,
                    ..
                } => self.hello(id, protocol, &token, role, resume).await,
                _ => error(
                    Some(id),
                    codes::NOT_AUTHENTICATED,
                    "send `hello` with a token first",
                ),
            };
        };
        if !request.allowed_roles().contains(&identity.role) {
            return error(
                Some(id),
                codes::FORBIDDEN,
                format!("a {} may not send this message", identity.role.as_str()),
            );
        }
        let agent = relais_proto::AgentId::from(identity.claims.sub.clone());
        let session = self.id;
        match request {
            Request::Hello { .. } => error(
                Some(id),
                codes::ALREADY_AUTHENTICATED,
                "this connection is already authenticated",
            ),
            Request::Ping { .. } => done(id),
            Request::ListServices { .. } => {
                let mut services = self.state.services_now().await;
                // An enrolled kiosk sees only the services it may call.
                if let Some(identity) = &self.identity
                    && identity.claims.role == Role::Kiosk
                    && let Some(allowed) = &identity.claims.services
                {
                    services.retain(|s| allowed.contains(&s.id));
                }
                ok(id, Reply::Services { services })
            }
            Request::Call { service, .. } => self.call(id, service).await,
            Request::Cancel { .. } => self.call_input(id, Input::Cancel { session }).await,
            Request::RequestCallback {
                call,
                phone,
                not_before_ms,
                ..
            } => self.request_callback(id, call, phone, not_before_ms).await,
            Request::CallbackDone { call, result, .. } => {
                self.call_input(
                    id,
                    Input::CallbackDone {
                        session,
                        call,
                        result,
                    },
                )
                .await
            }
            Request::Hangup { .. } => self.call_input(id, Input::Hangup { session }).await,
            Request::SdpOffer { sdp, .. } => self.sdp_offer(id, sdp).await,
            Request::IceCandidate { candidate, .. } => self.ice_candidate(id, candidate).await,
            Request::SdpAnswer { sdp, .. } => self.sdp_answer(id, sdp).await,
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
                self.dispatch(id, event).await
            }
            Request::Accept { call, .. } => self.dispatch(id, Event::Accept { call, agent }).await,
            Request::Reject { call, .. } => self.dispatch(id, Event::Reject { call, agent }).await,
            Request::Logout { .. } => self.dispatch(id, Event::AgentLogout { agent }).await,
            Request::WrapUpDone { disposition, .. } => {
                let disposition = disposition
                    .filter(|d| !d.trim().is_empty())
                    .map(|code| code.chars().take(64).collect());
                self.call_input(
                    id,
                    Input::WrapUpDone {
                        session,
                        disposition,
                    },
                )
                .await
            }
            Request::Transfer { service, agent, .. } => {
                let to = match (service, agent) {
                    (Some(service), None) => {
                        if !self.has_service(&service, false) {
                            return error(
                                Some(id),
                                codes::UNKNOWN_SERVICE,
                                format!("no service `{service}`"),
                            );
                        }
                        relais_call::TransferTarget::Service(service)
                    }
                    (None, Some(agent)) => relais_call::TransferTarget::Agent(agent),
                    _ => {
                        return error(
                            Some(id),
                            codes::BAD_REQUEST,
                            "`transfer` names a `service` or an `agent`, one of the two",
                        );
                    }
                };
                self.call_input(id, Input::Transfer { session, to }).await
            }
            Request::Consult { agent, .. } => {
                let consult = Input::Consult {
                    session,
                    call: self.state.next_call_id(),
                    agent,
                };
                self.call_input(id, consult).await
            }
            Request::CompleteTransfer { .. } => {
                self.call_input(id, Input::CompleteTransfer { session })
                    .await
            }
            Request::CancelConsult { .. } => {
                self.call_input(id, Input::CancelConsult { session }).await
            }
            Request::ListAgents { .. } => {
                let me = agent.as_str().to_owned();
                match self
                    .state
                    .calls()
                    .query(move |dispatcher, _| {
                        dispatcher
                            .agents()
                            .filter(|view| {
                                view.state == relais_dispatch::AgentState::Available
                                    && view.agent.as_str() != me
                            })
                            .map(|view| view.agent.to_string())
                            .collect::<Vec<String>>()
                    })
                    .await
                {
                    Some(agents) => ok(id, Reply::Agents { agents }),
                    None => task_gone(id),
                }
            }
            Request::AddInterpreter { service, .. } => {
                if !self.has_service(&service, true) {
                    return error(
                        Some(id),
                        codes::UNKNOWN_SERVICE,
                        format!("no interpreter service `{service}`"),
                    );
                }
                let ask = Input::AskInterpreter {
                    session,
                    call: self.state.next_call_id(),
                    service,
                };
                match self
                    .state
                    .calls()
                    .run_then_carry_out(move |cores, now| cores.place(now, ask))
                    .await
                {
                    Some(Ok(_)) => done(id),
                    Some(Err(err)) => refusal(id, err),
                    None => task_gone(id),
                }
            }
            Request::MyCalls {
                from_ms,
                to_ms,
                service,
                case_ref,
                ..
            } => {
                let blank = |text: Option<String>| text.filter(|t| !t.trim().is_empty());
                let (service, case_ref) = (blank(service), blank(case_ref));
                let search = (from_ms.is_some()
                    || to_ms.is_some()
                    || service.is_some()
                    || case_ref.is_some())
                .then(|| crate::state::CallSearch {
                    from_ms,
                    to_ms,
                    service,
                    case_ref: case_ref.map(|c| c.trim().to_owned()),
                });
                self.my_calls(id, agent.as_str(), search).await
            }
            Request::CaseNote {
                call,
                case_ref,
                notes,
                ..
            } => {
                self.call_input(
                    id,
                    Input::CaseNote {
                        session,
                        call,
                        case_ref,
                        notes,
                    },
                )
                .await
            }
            Request::SubscribeKpis { .. } => {
                if let Some(entry) = self.state.hub().sessions.get(&self.id) {
                    entry.kpis.store(true, Ordering::Relaxed);
                }
                match self.state.kpi_snapshot().await {
                    Some(snapshot) => ok(id, Reply::Kpis(snapshot)),
                    None => error(Some(id), codes::INTERNAL, "KPIs are unavailable"),
                }
            }
            Request::ListWaiting { .. } => match self.state.waiting_calls().await {
                Some(calls) => ok(id, Reply::Waiting { calls }),
                None => error(Some(id), codes::INTERNAL, "the queue is unavailable"),
            },
            Request::ListCalls { .. } => {
                let claims = identity.claims.clone();
                match self.state.live_calls(claims).await {
                    Some(calls) => ok(id, Reply::LiveCalls { calls }),
                    None => task_gone(id),
                }
            }
            Request::Supervise { call, mode, .. } => {
                let claims = identity.claims.clone();
                self.supervise(id, claims, call, mode).await
            }
            Request::StopSupervising { .. } => {
                let actor = identity.claims.sub.clone();
                self.stop_supervising(id, actor).await
            }
            Request::ShareLink { url, title, .. } => {
                let document = relais_proto::messages::Document {
                    id: crate::documents::new_id(),
                    name: crate::documents::clean_name(title.as_deref(), ""),
                    from: relais_proto::LegRole::Agent,
                    media_type: None,
                    size: None,
                    width: None,
                    height: None,
                    snapshot: false,
                    url: Some(url),
                    attached: false,
                };
                let input = Input::ShareLink {
                    session,
                    document: document.clone(),
                };
                match self
                    .state
                    .calls()
                    .run_then_carry_out(move |cores, now| cores.input(now, input).map(|_| ()))
                    .await
                {
                    Some(Ok(())) => {
                        let name = if document.name.is_empty() {
                            document.url.clone().unwrap_or_default()
                        } else {
                            document.name.clone()
                        };
                        ok(
                            id,
                            Reply::Document {
                                document: relais_proto::messages::Document { name, ..document },
                            },
                        )
                    }
                    Some(Err(err)) => refusal(id, err),
                    None => task_gone(id),
                }
            }
            Request::RequestSnapshot { .. } => {
                self.call_input(id, Input::RequestSnapshot { session })
                    .await
            }
            Request::AudioOnly { on, .. } => {
                self.call_input(id, Input::AudioOnly { session, on }).await
            }
            Request::KioskStatus {
                camera,
                microphone,
                browser,
                ..
            } => {
                let hub = self.state.hub();
                // One entry per kiosk identity; the map cannot outgrow the kiosks signed in.
                hub.kiosk_devices.insert(
                    identity.claims.sub.clone(),
                    crate::hub::KioskDevices {
                        camera,
                        microphone,
                        browser,
                        at_ms: jiff::Timestamp::now().as_millisecond(),
                    },
                );
                done(id)
            }
            Request::IceServers { .. } => {
                let ice =
                    self.ice_servers()
                        .unwrap_or_else(|| relais_proto::messages::IceServers {
                            servers: Vec::new(),
                            ttl_secs: self.state.config().turn.ttl_secs,
                        });
                ok(id, Reply::Ice(ice))
            }

            Request::Chat { text, .. } => {
                let at_ms = jiff::Timestamp::now().as_millisecond();
                self.call_input(
                    id,
                    Input::Chat {
                        session,
                        text,
                        at_ms,
                    },
                )
                .await
            }
        }
    }

    /// Checks that the supervisor may supervise the call in `mode`, writes the audit entry,
    /// then lets the call core carry it out.
    async fn supervise(
        &self,
        id: u64,
        claims: Claims,
        call: relais_proto::CallId,
        mode: relais_proto::SupervisionMode,
    ) -> ServerMessage {
        let session = self.id;
        let found = self
            .state
            .calls()
            .run(move |cores, _| {
                // What the call core would refuse is refused here, before anything is audited.
                let elsewhere = cores
                    .calls()
                    .call_of_session(session)
                    .map(|c| c.id)
                    .filter(|&held| held != call);
                cores.calls().call(call).map(|c| {
                    let supervising = c
                        .leg_of_session(session)
                        .is_some_and(|leg| leg.role == relais_proto::LegRole::Supervisor);
                    let connected = matches!(c.state, relais_call::CallState::Connected { .. })
                        && matches!(c.room, relais_call::RoomState::Open { .. });
                    (c.handled_by.clone(), supervising, connected, elsewhere)
                })
            })
            .await;
        let (service, supervising) = match found {
            Some(Some((_, _, _, Some(held)))) => {
                return error(
                    Some(id),
                    codes::WRONG_STATE,
                    format!("this session already takes part in call {held}"),
                );
            }
            Some(Some((_, _, false, None))) => {
                return error(
                    Some(id),
                    codes::WRONG_STATE,
                    format!("call {call} is not connected"),
                );
            }
            Some(Some((service, supervising, true, None))) => (service, supervising),
            Some(None) => {
                return error(
                    Some(id),
                    codes::WRONG_STATE,
                    format!("no call {call} is in progress"),
                );
            }
            None => return task_gone(id),
        };
        if !claims.may_supervise(&service) {
            return error(
                Some(id),
                codes::FORBIDDEN,
                format!("this supervisor may not supervise calls of `{service}`"),
            );
        }
        let allowed = self
            .state
            .services()
            .iter()
            .find(|s| s.id == service)
            .is_some_and(|s| s.supervision.allows(mode));
        if !allowed {
            return error(
                Some(id),
                codes::FORBIDDEN,
                format!("`{mode}` is not allowed on calls of `{service}`"),
            );
        }
        let at_ms = jiff::Timestamp::now().as_millisecond();
        let action = if supervising {
            crate::audit::MODE_CHANGED
        } else {
            crate::audit::STARTED
        };
        let entry = crate::audit::mode(at_ms, &claims.sub, action, call, &service, mode);
        if let Err(err) = crate::audit::write(self.state.store(), entry).await {
            self.state.metrics().store_errors.inc();
            tracing::error!(error = %err, "supervision refused: the audit log cannot be written");
            return error(
                Some(id),
                codes::INTERNAL,
                "the audit log cannot be written; supervision is refused",
            );
        }
        self.call_input(
            id,
            Input::Supervise {
                call,
                session,
                name: claims.display_name().to_owned(),
                mode,
            },
        )
        .await
    }

    /// Audits the end of the session's supervision, then leaves the call.
    async fn stop_supervising(&self, id: u64, actor: String) -> ServerMessage {
        let session = self.id;
        let found = self
            .state
            .calls()
            .run(move |cores, _| {
                let call = cores.calls().call_of_session(session)?;
                let leg = call.leg_of_session(session)?;
                (leg.role == relais_proto::LegRole::Supervisor).then_some((call.id, leg.mode))
            })
            .await;
        let (call, mode) = match found {
            Some(Some(found)) => found,
            Some(None) => return error(Some(id), codes::WRONG_STATE, "no call is supervised"),
            None => return task_gone(id),
        };
        let at_ms = jiff::Timestamp::now().as_millisecond();
        let entry = crate::audit::stopped(at_ms, &actor, call, mode, "requested");
        if let Err(err) = crate::audit::write(self.state.store(), entry).await {
            self.state.metrics().store_errors.inc();
            tracing::error!(error = %err, "the end of a supervision could not be audited");
        }
        self.call_input(id, Input::Leave { session }).await
    }

    async fn hello(
        &mut self,
        id: u64,
        protocol: u32,
        token: &str,
        asked_role: Option<Role>,
        previous: Option<String>,
    ) -> ServerMessage {
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
        let (claims, web) = if token.trim().is_empty() {
            match self.web_claims(asked_role).await {
                Ok(found) => found,
                Err(message) => return error(Some(id), codes::BAD_TOKEN, message),
            }
        } else {
            match self.state.verify_token(token) {
                Ok(claims) => (claims, None),
                Err(err) => return error(Some(id), err.code(), err.to_string()),
            }
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
        // Registered before the task hears of it, so what the task pushes finds the socket.
        hub.sessions.insert(
            self.id,
            SessionEntry {
                role,
                subject: claims.sub.clone(),
                tx: self.tx.clone(),
                kpis: Default::default(),
                web,
            },
        );
        let session = self.id;
        let verdict = if role == Role::Agent {
            let agent = relais_proto::AgentId::from(claims.sub.clone());
            let skills = claims.skills.clone();
            self.state
                .calls()
                .run(move |cores, now| cores.sign_in_agent(now, session, agent, skills))
                .await
        } else {
            let opened = Input::SessionOpened {
                session,
                role,
                subject: claims.sub.clone(),
            };
            self.state.calls().notify(move |cores, now| {
                let _ = cores.input(now, opened);
            });
            Some(Ok(None))
        };
        if role == Role::Kiosk && claims.dev.is_some() {
            let store = std::sync::Arc::clone(self.state.store());
            let kiosk = claims.sub.clone();
            let now = jiff::Timestamp::now().as_millisecond();
            tokio::task::spawn_blocking(move || {
                if let Err(err) = store.touch_kiosk(&kiosk, now) {
                    tracing::warn!(kiosk = %kiosk, error = %err, "cannot note when the kiosk was last seen");
                }
            });
        }
        // A kiosk gets a resume token; showing the previous one gets its call back.
        let mut resumed = None;
        let mut resume = None;
        if role == Role::Kiosk && verdict.as_ref().is_some_and(Result::is_ok) {
            let token = crate::documents::new_id();
            resume = Some(token.clone());
            let input = Input::Resume {
                session,
                token,
                previous: previous.filter(|p| !p.is_empty() && p.len() <= 64),
            };
            if let Some(Ok(relais_call::Verdict::Resumed { call, replaced })) = self
                .state
                .calls()
                .run_then_carry_out(move |cores, now| cores.input(now, input))
                .await
            {
                if let Some(old) = replaced
                    && let Some(entry) = hub.sessions.get(&old)
                {
                    let _ = entry
                        .tx
                        .try_send(Outgoing::Close("the kiosk connected again"));
                }
                tracing::info!(session, call = %call.call, connected = call.connected, "kiosk resumed its call");
                self.state.metrics().kiosk_resumes.inc();
                resumed = Some(Box::new(call));
            }
        }
        match verdict {
            Some(Ok(current)) => self.push_after_reply.extend(current),
            refused => {
                // Refused: undo the registration, as no identity will clean it up later.
                hub.sessions.remove(&self.id);
                return match refused {
                    Some(Err(err)) => error(Some(id), codes::BAD_TOKEN, err.to_string()),
                    _ => task_gone(id),
                };
            }
        }
        if role == Role::Agent
            && let Some(previous) = hub.agents.insert(claims.sub.clone(), self.id)
            && previous != self.id
        {
            hub.send(previous, ServerMessage::SessionReplaced {});
            if let Some(entry) = hub.sessions.get(&previous) {
                let _ = entry
                    .tx
                    .try_send(Outgoing::Close("replaced by a new connection"));
            }
        }
        self.state
            .metrics()
            .ws_sessions
            .with_label_values(&[role.as_str()])
            .inc();
        tracing::info!(session = self.id, role = role.as_str(), subject = %claims.sub, "signed in");
        self.identity = Some(Identity {
            role,
            claims: claims.clone(),
        });
        let notice = &self.state.config().supervision.notice;
        let notice = (role == Role::Kiosk && !notice.trim().is_empty()).then(|| notice.clone());
        let documents =
            matches!(role, Role::Kiosk | Role::Agent).then(|| self.state.documents().policy());
        let ice = self.ice_servers().map(Box::new);
        ok(
            id,
            Reply::Welcome {
                role,
                subject: claims.sub,
                protocol: relais_proto::PROTOCOL_VERSION,
                notice,
                documents,
                ice,
                resume,
                resumed,
            },
        )
    }

    /// The claims of the browser sign-in this connection was opened with, speaking as
    /// `asked` (or its first role), with an agent's skills from its profile.
    async fn web_claims(
        &self,
        asked: Option<Role>,
    ) -> Result<(crate::auth::Claims, Option<String>), String> {
        let Some(hash) = self.web.as_deref() else {
            return Err("send a token, or sign in in the browser first".into());
        };
        let Some(session) = self.state.signin().get(hash) else {
            return Err("the browser session has ended: sign in again".into());
        };
        let Some(role) = crate::signin::pick_role(&session, asked) else {
            return Err(format!(
                "this account has no role {}",
                asked.map_or("agent, supervisor or admin", Role::as_str)
            ));
        };
        let mut skills = Vec::new();
        if role == Role::Agent {
            let store = std::sync::Arc::clone(self.state.store());
            let agent = session.subject.clone();
            match tokio::task::spawn_blocking(move || store.agent_profile(&agent)).await {
                Ok(Ok(Some(profile))) => skills = profile.skills,
                Ok(Ok(None)) => {
                    tracing::warn!(agent = %session.subject, "an agent without a profile signed in: it has no skills");
                }
                Ok(Err(err)) => tracing::error!(error = %err, "cannot read an agent's profile"),
                Err(err) => tracing::error!(error = %err, "cannot read an agent's profile"),
            }
        }
        Ok((
            crate::signin::claims(&session, role, skills),
            Some(session.session_hash),
        ))
    }

    /// The ICE servers (TURN credentials in the name of this identity) for a role with media.
    fn ice_servers(&self) -> Option<relais_proto::messages::IceServers> {
        let identity = self.identity.as_ref()?;
        if identity.role == Role::Admin {
            return None;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let subject = format!("{}-{}", identity.role.as_str(), identity.claims.sub);
        crate::turn::ice_servers(&self.state.config().turn, &subject, now)
    }

    /// Whether `service` is configured, as an interpreter service or as one kiosks call.
    fn has_service(&self, service: &str, interpreter: bool) -> bool {
        self.state
            .services()
            .iter()
            .any(|s| s.id == service && s.interpreter == interpreter)
    }

    async fn call(&mut self, id: u64, service: String) -> ServerMessage {
        if !self.has_service(&service, false) {
            return error(
                Some(id),
                codes::UNKNOWN_SERVICE,
                format!("no service `{service}`"),
            );
        }
        let Some(identity) = &self.identity else {
            return error(Some(id), codes::NOT_AUTHENTICATED, "send `hello` first");
        };
        // An enrolled kiosk calls only the services it was enrolled for.
        if identity.claims.role == Role::Kiosk
            && identity
                .claims
                .services
                .as_ref()
                .is_some_and(|allowed| !allowed.contains(&service))
        {
            return error(
                Some(id),
                codes::FORBIDDEN,
                format!("this kiosk may not call `{service}`"),
            );
        }
        if self.state.is_shutting_down() {
            return error(
                Some(id),
                codes::SHUTTING_DOWN,
                "the server is stopping: call again in a few seconds",
            );
        }
        if !self.state.store_health().is_healthy() {
            return error(
                Some(id),
                codes::STORE_UNAVAILABLE,
                "call records cannot be written now: no call is taken until they can",
            );
        }
        let place = Input::Place {
            call: self.state.next_call_id(),
            session: self.id,
            kiosk: identity.claims.sub.clone(),
            site: identity
                .claims
                .site
                .clone()
                .unwrap_or_else(|| "unknown".to_owned()),
            service,
            since: None,
        };
        match self
            .state
            .calls()
            .run_then_carry_out(move |cores, now| cores.place(now, place))
            .await
        {
            Some(Ok(call)) => ok(id, Reply::Queued { call }),
            Some(Err(err)) => {
                if err.code == codes::RATE_LIMITED {
                    self.state.metrics().refusals_suppressed.inc();
                }
                refusal(id, err)
            }
            None => task_gone(id),
        }
    }

    /// The connection ended: the call core leaves what the user was doing in a state that
    /// cannot get stuck.
    pub async fn closed(&mut self) {
        let Some(identity) = self.identity.take() else {
            return;
        };
        let hub = self.state.hub();
        hub.sessions.remove(&self.id);
        self.state
            .metrics()
            .ws_sessions
            .with_label_values(&[identity.role.as_str()])
            .dec();
        if identity.role == Role::Agent {
            hub.agents
                .remove_if(&identity.claims.sub, |_, session| *session == self.id);
        }
        let session = self.id;
        self.state.calls().notify(move |cores, now| {
            let _ = cores.input(now, Input::SessionClosed { session });
        });
        tracing::info!(session = self.id, role = identity.role.as_str(), subject = %identity.claims.sub, "signed out");
    }
}

fn ok(id: u64, result: Reply) -> ServerMessage {
    ServerMessage::Ok { id, result }
}

fn done(id: u64) -> ServerMessage {
    ok(id, Reply::Done {})
}
