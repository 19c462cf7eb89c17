//! The dispatcher task: owns the sans-IO call distributor, feeds it events from sessions and
//! its own timers, and carries out its commands — offers and notices to sessions, media rooms
//! on answer, call records committed to the store before a call's end is reported.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use relais_dispatch::{
    AgentState, Command, DispatchConfig, DispatchError, Dispatcher, Event, MaxWait, OpeningHours,
    Outcome, QueueConfig, SkillReq, Strategy, WallAnchor,
};
use relais_proto::{CallId, Role, ServerMessage};
use relais_store::{AgentStateChange, CallRecord, Store};
use tokio::sync::{mpsc, oneshot};

use crate::config::{Config, RoutingStrategy, ServiceConfig};
use crate::hub::{CallMedia, Hub};
use crate::media::MediaShards;
use crate::metrics::Metrics;

/// Why a call could not be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnqueueRefusal {
    Closed,
    Full,
    Refused(String, String),
}

type Query = Box<dyn FnOnce(&Dispatcher, Instant) + Send>;

enum Request {
    Event(Event, Option<oneshot::Sender<Result<(), DispatchError>>>),
    Enqueue(Event, CallId, oneshot::Sender<Result<(), EnqueueRefusal>>),
    Query(Query),
}

/// The sessions' handle on the dispatcher task.
#[derive(Clone, Debug)]
pub struct Acd {
    tx: mpsc::UnboundedSender<Request>,
    /// Set when KPIs changed since the last snapshot.
    pub kpis_dirty: Arc<AtomicBool>,
    anchor: WallAnchor,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Request")
    }
}

impl Acd {
    /// Sends an event and waits for the dispatcher's verdict.
    pub async fn event(&self, event: Event) -> Result<(), DispatchError> {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Request::Event(event, Some(tx))).is_err() {
            return Err(DispatchError::InvalidConfig(
                "the dispatcher is not running".into(),
            ));
        }
        rx.await.unwrap_or_else(|_| {
            Err(DispatchError::InvalidConfig(
                "the dispatcher is not running".into(),
            ))
        })
    }

    /// Sends an event without waiting (disconnections).
    pub fn notify(&self, event: Event) {
        let _ = self.tx.send(Request::Event(event, None));
    }

    /// Queues a call; closed and full queues are refusals (the call still gets its record).
    pub async fn enqueue(&self, event: Event, call: CallId) -> Result<(), EnqueueRefusal> {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Request::Enqueue(event, call, tx)).is_err() {
            return Err(EnqueueRefusal::Refused(
                "internal".into(),
                "the dispatcher is not running".into(),
            ));
        }
        rx.await.unwrap_or_else(|_| {
            Err(EnqueueRefusal::Refused(
                "internal".into(),
                "the dispatcher stopped".into(),
            ))
        })
    }

    /// Runs `read` against the dispatcher's views.
    pub async fn query<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Dispatcher, Instant) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        let job: Query = Box::new(move |dispatcher, now| {
            let _ = tx.send(read(dispatcher, now));
        });
        self.tx.send(Request::Query(job)).ok()?;
        rx.await.ok()
    }

    /// Unix milliseconds of an instant.
    pub fn unix_ms(&self, at: Instant) -> i64 {
        unix_ms(&self.anchor, at)
    }
}

fn unix_ms(anchor: &WallAnchor, at: Instant) -> i64 {
    let base = anchor.utc.as_millisecond();
    match at.checked_duration_since(anchor.at) {
        Some(after) => base + after.as_millis() as i64,
        None => base - anchor.at.saturating_duration_since(at).as_millis() as i64,
    }
}

/// Translates the services of the configuration into the dispatcher's queues.
pub fn dispatch_config(config: &Config) -> DispatchConfig {
    let mut out = DispatchConfig {
        time_zone: config
            .services
            .first()
            .map(|service| service.timezone.zone())
            .unwrap_or(jiff::tz::TimeZone::UTC),
        ..DispatchConfig::default()
    };
    out.queues = config.services.iter().map(queue_config).collect();
    out
}

fn queue_config(service: &ServiceConfig) -> QueueConfig {
    let mut queue = QueueConfig::new(service.id.as_str());
    queue.skills = service
        .skills
        .iter()
        .map(|req| {
            let mut skill = SkillReq::new(req.skill.as_str(), req.min_proficiency);
            for &(after, level) in &req.relax {
                skill = skill.relax(Duration::from_secs(after), level);
            }
            skill
        })
        .collect();
    queue.strategy = match service.strategy {
        RoutingStrategy::LongestIdle => Strategy::LongestIdle,
        RoutingStrategy::RoundRobin => Strategy::RoundRobin,
        RoutingStrategy::FewestCalls => Strategy::FewestCalls,
        RoutingStrategy::LeastTalkTime => Strategy::LeastTalkTime,
        RoutingStrategy::Random => Strategy::Random,
        RoutingStrategy::Linear => Strategy::Linear,
        RoutingStrategy::RingProgressive => Strategy::RingProgressive {
            step: Duration::from_secs(20),
        },
    };
    queue.priority = service.priority;
    queue.time_zone = service.timezone.zone();
    queue.hours = service.hours.as_ref().map(|week| {
        let mut hours = OpeningHours::new();
        for ((_, ranges), day) in week.days().into_iter().zip(WEEKDAYS) {
            for range in ranges {
                hours = hours.on(day, clock(range.start_minute), clock(range.end_minute));
            }
        }
        for holiday in &service.holidays {
            hours = hours.holiday(holiday.0);
        }
        hours
    });
    if queue.hours.is_none() && !service.holidays.is_empty() {
        // Always open, but for the holidays.
        let mut hours = OpeningHours::new();
        for day in WEEKDAYS {
            hours = hours.on(day, jiff::civil::Time::midnight(), jiff::civil::Time::MAX);
        }
        for holiday in &service.holidays {
            hours = hours.holiday(holiday.0);
        }
        queue.hours = Some(hours);
    }
    queue.max_waiting = (service.max_waiting > 0).then_some(service.max_waiting);
    queue.max_wait = (service.max_wait_secs > 0).then(|| MaxWait {
        after: Duration::from_secs(service.max_wait_secs),
        overflow_to: service.overflow_to.as_deref().map(Into::into),
    });
    queue.offer_timeout = Duration::from_secs(service.offer_timeout_secs);
    queue.wrap_up = Duration::from_secs(service.wrap_up_secs);
    queue.service_level_threshold = Duration::from_secs(service.service_level_secs);
    queue.ageing_step = (service.ageing_secs > 0).then(|| Duration::from_secs(service.ageing_secs));
    queue
}

/// Monday first, as `WeekHours::days` lists them.
const WEEKDAYS: [jiff::civil::Weekday; 7] = [
    jiff::civil::Weekday::Monday,
    jiff::civil::Weekday::Tuesday,
    jiff::civil::Weekday::Wednesday,
    jiff::civil::Weekday::Thursday,
    jiff::civil::Weekday::Friday,
    jiff::civil::Weekday::Saturday,
    jiff::civil::Weekday::Sunday,
];

fn clock(minute: u16) -> jiff::civil::Time {
    if minute >= 24 * 60 {
        return jiff::civil::Time::MAX;
    }
    jiff::civil::Time::new((minute / 60) as i8, (minute % 60) as i8, 0, 0)
        .unwrap_or(jiff::civil::Time::MAX)
}

/// The wire name of an outcome.
pub fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Answered => "answered",
        Outcome::Abandoned { short: false } => "abandoned",
        Outcome::Abandoned { short: true } => "abandoned_short",
        Outcome::Overflowed { .. } => "overflowed",
        Outcome::TimedOut => "timed_out",
        Outcome::Closed => "closed",
        Outcome::Rejected => "rejected",
        Outcome::Interrupted => "interrupted",
    }
}

/// The wire name of an agent state.
/// The `agent_state` push for `state` at `now`.
pub fn agent_state_message(state: &AgentState, now: Instant) -> ServerMessage {
    let (reason, call, remaining) = match state {
        AgentState::NotReady { reason } => (Some(reason.clone()), None, None),
        AgentState::Reserved { call, until } => (
            None,
            Some(*call),
            Some(until.saturating_duration_since(now).as_secs()),
        ),
        AgentState::OnCall { call } => (None, Some(*call), None),
        AgentState::WrapUp { until } => (
            None,
            None,
            Some(until.saturating_duration_since(now).as_secs()),
        ),
        _ => (None, None, None),
    };
    ServerMessage::AgentState {
        state: state_name(state).to_owned(),
        reason,
        call,
        remaining_secs: remaining,
    }
}

pub fn state_name(state: &AgentState) -> &'static str {
    match state {
        AgentState::LoggedOut => "logged_out",
        AgentState::Available => "available",
        AgentState::Reserved { .. } => "reserved",
        AgentState::OnCall { .. } => "on_call",
        AgentState::WrapUp { .. } => "wrap_up",
        AgentState::NotReady { .. } => "not_ready",
    }
}

/// Everything the task needs besides the dispatcher.
pub struct Context {
    pub config: Arc<Config>,
    pub hub: Arc<Hub>,
    pub store: Arc<Store>,
    pub media: Arc<MediaShards>,
    pub metrics: Metrics,
}

/// Starts the dispatcher task.
pub fn start(context: Context) -> anyhow::Result<Acd> {
    let anchor = WallAnchor {
        at: Instant::now(),
        utc: jiff::Timestamp::now(),
    };
    let dispatcher = Dispatcher::new(dispatch_config(&context.config), seed(), anchor)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let kpis_dirty = Arc::new(AtomicBool::new(true));
    let acd = Acd {
        tx,
        kpis_dirty: Arc::clone(&kpis_dirty),
        anchor,
    };
    let (states_tx, states_rx) = mpsc::unbounded_channel();
    tokio::spawn(state_writer(Arc::clone(&context.store), states_rx));
    tokio::spawn(run(dispatcher, rx, context, kpis_dirty, anchor, states_tx));
    Ok(acd)
}

fn seed() -> u64 {
    let mut bytes = [0u8; 8];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    u64::from_le_bytes(bytes)
}

/// Writes what may lag behind the dispatcher (agent states, wrap-ups) in order, off its path.
enum Deferred {
    State(AgentStateChange),
    WrapUp(u64, i64, Option<String>),
}

async fn state_writer(store: Arc<Store>, mut rx: mpsc::UnboundedReceiver<Deferred>) {
    while let Some(job) = rx.recv().await {
        let store = Arc::clone(&store);
        let result = tokio::task::spawn_blocking(move || match job {
            Deferred::State(change) => store.record_agent_state(&change),
            Deferred::WrapUp(call, ms, disposition) => {
                store.set_wrap_up(call, ms, disposition.as_deref())
            }
        })
        .await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::error!(error = %err, "store write failed"),
            Err(err) => tracing::error!(error = %err, "store writer task failed"),
        }
    }
}

async fn run(
    mut dispatcher: Dispatcher,
    mut rx: mpsc::UnboundedReceiver<Request>,
    context: Context,
    kpis_dirty: Arc<AtomicBool>,
    anchor: WallAnchor,
    deferred: mpsc::UnboundedSender<Deferred>,
) {
    let mut task = Task {
        context,
        kpis_dirty,
        anchor,
        deferred,
    };
    loop {
        let deadline = dispatcher
            .poll_timeout()
            .map(|(at, _)| tokio::time::Instant::from_std(at));
        let mut watch: Option<(CallId, oneshot::Sender<Result<(), EnqueueRefusal>>)> = None;
        tokio::select! {
            request = rx.recv() => {
                let Some(request) = request else { break };
                let now = Instant::now();
                match request {
                    Request::Event(event, reply) => {
                        let result = dispatcher.handle(now, event);
                        if let Some(reply) = reply {
                            let _ = reply.send(result);
                        } else if let Err(err) = result {
                            tracing::debug!(error = %err, "event refused");
                        }
                    }
                    Request::Enqueue(event, call, reply) => match dispatcher.handle(now, event) {
                        Ok(()) => watch = Some((call, reply)),
                        Err(err) => {
                            let _ = reply.send(Err(EnqueueRefusal::Refused(err.code().to_owned(), err.to_string())));
                        }
                    },
                    Request::Query(read) => read(&dispatcher, now),
                }
            }
            () = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {
                if let Err(err) = dispatcher.handle(Instant::now(), Event::Timeout) {
                    tracing::warn!(error = %err, "dispatcher timeout refused");
                }
            }
        }
        let ended = task
            .carry_out(&mut dispatcher, watch.as_ref().map(|(call, _)| *call))
            .await;
        if let Some((_, reply)) = watch {
            let verdict = match ended {
                Some(Outcome::Closed) => Err(EnqueueRefusal::Closed),
                Some(Outcome::Rejected) => Err(EnqueueRefusal::Full),
                _ => Ok(()),
            };
            let _ = reply.send(verdict);
        }
    }
    tracing::info!("dispatcher task stopped");
}

struct Task {
    context: Context,
    kpis_dirty: Arc<AtomicBool>,
    anchor: WallAnchor,
    deferred: mpsc::UnboundedSender<Deferred>,
}

impl Task {
    fn service_name(&self, queue: &str) -> String {
        self.context
            .config
            .services
            .iter()
            .find(|service| service.id == queue)
            .map(|service| service.name.clone())
            .unwrap_or_else(|| queue.to_owned())
    }

    /// Carries out every pending command. Returns the outcome of `watch` if it ended.
    async fn carry_out(
        &mut self,
        dispatcher: &mut Dispatcher,
        watch: Option<CallId>,
    ) -> Option<Outcome> {
        let mut watched_end = None;
        while let Some(command) = dispatcher.poll_command() {
            let now = Instant::now();
            let hub = &self.context.hub;
            match command {
                Command::Offer {
                    call,
                    agent,
                    queue,
                    site,
                    deadline,
                    ..
                } => {
                    let waited = dispatcher
                        .call_view(call, now)
                        .map(|view| now.saturating_duration_since(view.enqueued_at).as_secs())
                        .unwrap_or(0);
                    hub.send_agent(
                        agent.as_str(),
                        ServerMessage::Offered {
                            call,
                            service: queue.to_string(),
                            service_name: self.service_name(queue.as_str()),
                            site: site.to_string(),
                            waited_secs: waited,
                            deadline_secs: deadline.saturating_duration_since(now).as_secs().max(1),
                        },
                    );
                }
                Command::OfferWithdrawn {
                    call,
                    agent,
                    reason,
                } => {
                    let reason = match reason {
                        relais_dispatch::WithdrawReason::Expired => "expired",
                        relais_dispatch::WithdrawReason::CallEnded => "call_ended",
                        relais_dispatch::WithdrawReason::AgentUnavailable => "agent_unavailable",
                    };
                    hub.send_agent(
                        agent.as_str(),
                        ServerMessage::OfferWithdrawn {
                            call,
                            reason: reason.to_owned(),
                        },
                    );
                }
                Command::CallAnswered { call, agent, .. } => {
                    hub.call_agent.insert(call, agent.to_string());
                    self.open_media(call).await;
                    hub.send_kiosk(
                        call,
                        ServerMessage::MediaReady {
                            call,
                            peer_role: Role::Agent,
                        },
                    );
                    hub.send_agent(
                        agent.as_str(),
                        ServerMessage::MediaReady {
                            call,
                            peer_role: Role::Kiosk,
                        },
                    );
                }
                Command::QueuePosition {
                    call,
                    position,
                    eta,
                } => {
                    hub.send_kiosk(
                        call,
                        ServerMessage::QueuePosition {
                            call,
                            position,
                            eta_secs: eta.map(|d| d.as_secs()),
                        },
                    );
                }
                Command::CallOverflowed { call, from, to } => {
                    tracing::info!(%call, %from, %to, "call overflowed");
                }
                Command::CallRequeued { call, agent, .. } => {
                    tracing::info!(%call, %agent, "call re-queued: its agent vanished");
                    hub.call_agent.remove(&call);
                    self.close_media(call).await;
                }
                Command::CallEnded {
                    call,
                    outcome,
                    record,
                } => {
                    // A call refused at its enqueue (closed, full) is answered by the verdict
                    // of its `call` request: its kiosk never learnt the id, so no push.
                    let refused_at_enqueue = Some(call) == watch
                        && matches!(outcome, Outcome::Closed | Outcome::Rejected);
                    if Some(call) == watch {
                        watched_end = Some(outcome.clone());
                    }
                    self.end_call(call, &outcome, &record, refused_at_enqueue)
                        .await;
                }
                Command::WrapUpFinished {
                    agent,
                    call,
                    wrap_up,
                } => {
                    let disposition = hub.dispositions.remove(agent.as_str()).map(|(_, d)| d);
                    let _ = self.deferred.send(Deferred::WrapUp(
                        call.0,
                        wrap_up.as_millis() as i64,
                        disposition,
                    ));
                }
                Command::AgentStateChanged {
                    agent,
                    state,
                    since,
                } => {
                    let message = agent_state_message(&state, now);
                    let reason = match &message {
                        ServerMessage::AgentState { reason, .. } => reason.clone(),
                        _ => None,
                    };
                    hub.send_agent(agent.as_str(), message);
                    let _ = self.deferred.send(Deferred::State(AgentStateChange {
                        agent: agent.to_string(),
                        state: state_name(&state).to_owned(),
                        reason,
                        at_ms: unix_ms(&self.anchor, since),
                    }));
                }
                Command::KpisChanged => {
                    self.kpis_dirty.store(true, Ordering::Release);
                }
            }
        }
        watched_end
    }

    async fn open_media(&self, call: CallId) {
        let shard = self.context.media.place_room();
        let room = relais_media::RoomId(call.0);
        if let Err(err) = shard.create_room(room).await {
            tracing::error!(%call, error = %err, "cannot open the call's media room");
            return;
        }
        self.context.hub.media.insert(
            call,
            CallMedia {
                shard: shard.index(),
                room,
                kiosk_peer: None,
                agent_peer: None,
            },
        );
    }

    async fn close_media(&self, call: CallId) {
        let Some((_, media)) = self.context.hub.media.remove(&call) else {
            return;
        };
        if let Some(shard) = self.context.media.shards().get(media.shard) {
            let _ = shard.close_room(media.room).await;
            self.context.media.room_closed(media.shard);
        }
    }

    /// Commits the call's record, then tells the kiosk and the agent, then frees the media.
    async fn end_call(
        &self,
        call: CallId,
        outcome: &Outcome,
        summary: &relais_dispatch::CallSummary,
        refused_at_enqueue: bool,
    ) {
        let record = CallRecord {
            call_id: call.0,
            queue: summary.queue.to_string(),
            kiosk: summary.kiosk.to_string(),
            site: summary.site.to_string(),
            agent: summary.agent.as_ref().map(ToString::to_string),
            outcome: outcome_name(outcome).to_owned(),
            enqueued_at_ms: unix_ms(&self.anchor, summary.enqueued_at),
            offered_at_ms: summary.offered_at.map(|at| unix_ms(&self.anchor, at)),
            answered_at_ms: summary.answered_at.map(|at| unix_ms(&self.anchor, at)),
            ended_at_ms: unix_ms(&self.anchor, summary.ended_at),
            wait_ms: summary.wait.as_millis() as i64,
            talk_ms: summary.talk.map(|d| d.as_millis() as i64),
            wrap_up_ms: summary.wrap_up.map(|d| d.as_millis() as i64),
            attempts: summary.attempts,
            disposition: None,
        };
        let store = Arc::clone(&self.context.store);
        let stored = tokio::task::spawn_blocking(move || store.record_call(&record)).await;
        match stored {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                self.context.metrics.store_errors.inc();
                tracing::error!(%call, error = %err, "CALL RECORD NOT STORED");
            }
            Err(err) => {
                self.context.metrics.store_errors.inc();
                tracing::error!(%call, error = %err, "call record writer failed");
            }
        }
        let name = outcome_name(outcome);
        self.context
            .metrics
            .calls
            .with_label_values(&[summary.origin_queue.as_str(), name])
            .inc();
        self.context
            .metrics
            .wait_seconds
            .with_label_values(&[summary.origin_queue.as_str()])
            .observe(summary.wait.as_secs_f64());
        let by = summary.ended_by.map(|by| match by {
            relais_dispatch::EndedBy::Kiosk => "kiosk".to_owned(),
            relais_dispatch::EndedBy::Agent => "agent".to_owned(),
            relais_dispatch::EndedBy::Server => "server".to_owned(),
        });
        let message = ServerMessage::CallEnded {
            call,
            outcome: name.to_owned(),
            by,
        };
        let hub = &self.context.hub;
        if !refused_at_enqueue {
            hub.send_kiosk(call, message.clone());
        }
        if let Some(agent) = summary.agent.as_ref() {
            hub.send_agent(agent.as_str(), message);
        }
        self.close_media(call).await;
        hub.forget_call(call, summary.kiosk.as_str());
        tracing::info!(%call, outcome = name, "call ended");
    }
}
