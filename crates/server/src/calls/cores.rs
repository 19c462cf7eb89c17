//! The two cores side by side, and the one rule that joins them: what the call core asks of
//! the dispatcher is applied at once, and what the dispatcher decides is fed back to the call
//! core, until both are quiet. What is left for the outside world waits in `effects`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use relais_call::{CallCore, CallError, Input, Output, SessionId, Verdict};
use relais_dispatch::{DispatchError, Dispatcher, Event, WallAnchor};
use relais_proto::{AgentId, CallId, Outcome, Role, ServerMessage, codes};

/// Why a `call` was not queued: the error code and message to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

impl From<CallError> for Refusal {
    fn from(err: CallError) -> Self {
        Self {
            code: err.code(),
            message: err.to_string(),
        }
    }
}

/// A call that waited when the server stopped, kept for its kiosk until `until`.
#[derive(Debug, Clone)]
pub struct Recovered {
    /// As the journal kept it.
    pub call: relais_store::LiveCall,
    /// When it was placed, on this run's clock.
    pub since: Instant,
    /// When the kiosk's chance to take it back ends.
    pub until: Instant,
    /// When the server stopped (Unix ms), the end of its record if nobody takes it back.
    pub stopped_at_ms: i64,
}

/// The pause reason of an agent who was signed in when the server stopped, until it returns.
pub const RESTART_REASON: &str = "restart";

/// What the previous run left: the calls that were waiting, each agent's last state, and when
/// the server stopped (Unix ms).
#[derive(Debug, Clone, Default)]
pub struct Recovery {
    pub waiting: Vec<relais_store::LiveCall>,
    pub agents: Vec<relais_store::AgentStateChange>,
    /// Callback tasks not done yet: they wait in their queue again at once.
    pub callbacks: Vec<relais_store::CallbackRow>,
    pub stopped_at_ms: i64,
}

/// The state an agent signed in when the server stopped gets back if it signs in again before
/// `until`: an agent who was taking calls (available, offered a call, on a call, in wrap-up)
/// is available again, a paused one keeps its pause and its reason. One that had not yet
/// become ready, or had lost its connection, signs in as usual.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Returning {
    /// `None`: ready; `Some(reason)`: paused.
    pub paused: Option<String>,
    pub until: Instant,
}

impl Returning {
    /// What `last` (an agent's last recorded state) gives back, if anything.
    pub fn from_last(last: &relais_store::AgentStateChange, until: Instant) -> Option<Self> {
        use relais_proto::AgentStateName as Name;
        let taking_calls = [Name::Available, Name::Reserved, Name::OnCall, Name::WrapUp]
            .iter()
            .any(|name| name.as_str() == last.state);
        if taking_calls {
            return Some(Self {
                paused: None,
                until,
            });
        }
        match last.reason.as_deref() {
            Some(reason)
                if last.state == Name::NotReady.as_str()
                    && !["login", "disconnected", "missed", RESTART_REASON].contains(&reason) =>
            {
                Some(Self {
                    paused: Some(reason.to_owned()),
                    until,
                })
            }
            _ => None,
        }
    }
}

/// The dispatcher and the call core of the server.
pub struct Cores {
    dispatcher: Dispatcher,
    calls: CallCore,
    /// Outputs of the call core for the task to carry out, in order.
    pub(super) effects: VecDeque<Output>,
    /// Replies held until the effects before them are carried out.
    pub(super) replies: Vec<Box<dyn FnOnce() + Send>>,
    /// Calls that waited when the server stopped, by kiosk identity, until their kiosk calls
    /// the same service again.
    recovered: std::collections::BTreeMap<String, Recovered>,
    /// Recovered calls whose kiosk did not come back in time, for their record.
    pub(super) expired: Vec<Recovered>,
    /// Agents signed in when the server stopped, by login, until they sign in again.
    returning: std::collections::BTreeMap<String, Returning>,
}

impl Cores {
    pub fn new(dispatcher: Dispatcher, calls: CallCore) -> Self {
        Self {
            dispatcher,
            calls,
            effects: VecDeque::new(),
            replies: Vec::new(),
            recovered: std::collections::BTreeMap::new(),
            expired: Vec::new(),
            returning: std::collections::BTreeMap::new(),
        }
    }

    /// Keeps what the last run left (see [`crate::state::recover`]) for the kiosks and agents
    /// that come back within `grace` of `anchor`: waiting calls by kiosk, with their enqueue
    /// time on this run's clock, and agents' states.
    pub fn restore(&mut self, recovery: Recovery, anchor: WallAnchor, grace: Duration) {
        let until = anchor.at + grace;
        for row in recovery.callbacks {
            self.restore_callback(&anchor, row);
        }
        let calls = recovery
            .waiting
            .into_iter()
            .map(|call| {
                let ago = anchor.utc.as_millisecond() - call.enqueued_at_ms;
                let since = u64::try_from(ago)
                    .ok()
                    .and_then(|ms| anchor.at.checked_sub(Duration::from_millis(ms)))
                    .unwrap_or(anchor.at);
                Recovered {
                    call,
                    since,
                    until,
                    stopped_at_ms: recovery.stopped_at_ms,
                }
            })
            .collect();
        self.keep_recovered(calls);
        self.keep_returning(recovery.agents.iter().filter_map(|last| {
            Returning::from_last(last, until).map(|back| (last.agent.clone(), back))
        }));
    }

    /// A callback task the store kept: back in the call core and in its queue, at its place
    /// (its call's original enqueue). A task whose service is gone ends `closed`.
    fn restore_callback(&mut self, anchor: &WallAnchor, row: relais_store::CallbackRow) {
        let now = anchor.at;
        let on_this_clock = |ms: i64| {
            let ago = anchor.utc.as_millisecond() - ms;
            match u64::try_from(ago) {
                Ok(ago) => anchor.at.checked_sub(Duration::from_millis(ago)),
                Err(_) => u64::try_from(-ago)
                    .ok()
                    .and_then(|ahead| anchor.at.checked_add(Duration::from_millis(ahead))),
            }
        };
        let task = CallId(row.task_id);
        let Some(phone) = relais_call::Phone::parse(&row.phone) else {
            tracing::warn!(
                task = row.task_id,
                "a stored callback has an unreadable number"
            );
            return;
        };
        let since = on_this_clock(row.enqueued_at_ms).unwrap_or(now).min(now);
        let not_before = row.not_before_ms.and_then(on_this_clock);
        let stored = relais_call::StoredCallback {
            task,
            service: row.service.clone(),
            kiosk: row.kiosk.clone(),
            site: row.site.clone(),
            since,
            not_before,
            callback: relais_call::Callback {
                of: CallId(row.call_id),
                phone,
                requested_at_ms: row.requested_at_ms,
                not_before_ms: row.not_before_ms,
                result: None,
            },
        };
        if let Err(err) = self
            .calls
            .handle(now, Input::RestoreCallback(Box::new(stored)))
        {
            tracing::warn!(task = row.task_id, error = %err, "a stored callback was not restored");
            return;
        }
        let admitted = self.dispatcher.admit_callback(
            now,
            since,
            task,
            &row.service.as_str().into(),
            row.kiosk.as_str().into(),
            row.site.as_str().into(),
            not_before,
        );
        if let Err(err) = admitted {
            tracing::warn!(task = row.task_id, error = %err, "a stored callback's service is gone");
            self.calls.forget_task(task);
            self.effects.push_back(Output::Callback(Box::new(
                relais_call::CallbackChange::Done {
                    task,
                    agent: None,
                    result: None,
                    outcome: Outcome::Closed,
                },
            )));
        }
        self.settle(now);
    }

    /// Keeps what the agents signed in when the server stopped get back on their return.
    pub fn keep_returning(&mut self, agents: impl IntoIterator<Item = (String, Returning)>) {
        self.returning.extend(agents);
    }

    /// Keeps the calls that waited when the server stopped for their kiosks.
    pub fn keep_recovered(&mut self, calls: Vec<Recovered>) {
        for call in calls {
            self.recovered.insert(call.call.kiosk.clone(), call);
        }
    }

    /// Calls kept for their kiosk since a restart.
    pub fn recovered(&self) -> usize {
        self.recovered.len()
    }

    /// The next output for the task to carry out (the task drains them itself; for the
    /// benchmarks of a turn).
    pub fn poll_effect(&mut self) -> Option<Output> {
        self.effects.pop_front()
    }

    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }

    pub fn calls(&self) -> &CallCore {
        &self.calls
    }

    /// New services while running: the call core's settings, then the dispatcher's reload
    /// (calls of a removed queue end `closed`; agents join the queues their skills match).
    pub fn reload_services(
        &mut self,
        now: Instant,
        dispatch: relais_dispatch::DispatchConfig,
        calls: relais_call::CallConfig,
    ) -> Result<(), DispatchError> {
        self.calls.set_config(calls);
        self.dispatch(now, Event::ConfigReload(dispatch))
    }

    /// Applies a dispatcher event (agent requests, logins).
    pub fn dispatch(&mut self, now: Instant, event: Event) -> Result<(), DispatchError> {
        let result = self.dispatcher.handle(now, event);
        self.settle(now);
        result
    }

    /// An agent's sign-in: the dispatcher's login, and the session known to the call core
    /// before the login's own commands (its first `agent_state`) are carried out. An agent
    /// still logged in (a reopened console) is told its current state.
    pub fn sign_in_agent(
        &mut self,
        now: Instant,
        session: SessionId,
        agent: AgentId,
        skills: Vec<(String, u8)>,
    ) -> Result<Option<ServerMessage>, DispatchError> {
        let login = Event::AgentLogin {
            agent: agent.clone(),
            skills,
            queues: None,
        };
        let result = match self.dispatcher.handle(now, login) {
            Ok(()) => {
                self.give_back_state(now, &agent);
                Ok(None)
            }
            Err(DispatchError::AlreadyLoggedIn(_)) => Ok(self
                .dispatcher
                .agents()
                .find(|view| *view.agent == agent)
                .map(|view| self.calls.agent_state_push(&view.state, now))),
            Err(err) => Err(err),
        };
        if result.is_ok() {
            let _ = self.calls.handle(
                now,
                Input::SessionOpened {
                    session,
                    role: Role::Agent,
                    subject: agent.as_str().to_owned(),
                },
            );
        }
        self.settle(now);
        result
    }

    /// An agent signed in when the server stopped, back in time: its state as it was.
    fn give_back_state(&mut self, now: Instant, agent: &AgentId) {
        let Some(returning) = self.returning.remove(agent.as_str()) else {
            return;
        };
        if returning.until <= now {
            return;
        }
        let event = match returning.paused {
            None => Event::AgentReady {
                agent: agent.clone(),
            },
            Some(reason) => Event::AgentNotReady {
                agent: agent.clone(),
                reason,
            },
        };
        if let Err(err) = self.dispatcher.handle(now, event) {
            tracing::warn!(%agent, error = %err, "cannot give a returning agent its state back");
        }
    }

    /// Feeds the call core; a verdict that names a dispatcher event is applied, and its result
    /// becomes the answer.
    pub fn input(&mut self, now: Instant, input: Input) -> Result<Verdict, Refusal> {
        let verdict = self.calls.handle(now, input);
        self.settle(now);
        match verdict? {
            Verdict::Dispatch(event) => match self.dispatch(now, event) {
                Ok(()) => Ok(Verdict::Done),
                Err(err) => Err(dispatch_refusal(err)),
            },
            other => Ok(other),
        }
    }

    /// A kiosk's `call`: checked by the call core, admitted (or refused) by the dispatcher. A
    /// kiosk whose call waited when the server stopped, calling the same service, gets that
    /// call back: its id and its original enqueue time.
    pub fn place(&mut self, now: Instant, mut place: Input) -> Result<CallId, Refusal> {
        let mut resumed = None;
        if let Input::Place {
            call,
            kiosk,
            service,
            since,
            ..
        } = &mut place
            && let Some(kept) = self.recovered.get(kiosk.as_str())
            && kept.call.origin_queue == *service
        {
            *call = CallId(kept.call.call_id);
            *since = Some(kept.since);
            resumed = self.recovered.remove(kiosk.as_str());
        }
        let result = self.place_now(now, place, resumed.as_ref().map(|kept| kept.since));
        if let (Err(_), Some(kept)) = (&result, resumed) {
            // Refused (the kiosk still has a call, a rate limit): kept for a later try.
            self.recovered.insert(kept.call.kiosk.clone(), kept);
        }
        result
    }

    fn place_now(
        &mut self,
        now: Instant,
        place: Input,
        since: Option<Instant>,
    ) -> Result<CallId, Refusal> {
        let Verdict::Enqueue {
            call,
            queue,
            kiosk,
            site,
        } = self.input(now, place)?
        else {
            return Err(Refusal {
                code: codes::INTERNAL,
                message: "the call could not be placed".into(),
            });
        };
        let admission = self.dispatcher.admit_since(
            now,
            since.unwrap_or(now),
            call,
            &queue.as_str().into(),
            kiosk.as_str().into(),
            site.as_str().into(),
            None,
        );
        let (admission, error) = match admission {
            Ok(admission) => (Some(admission), None),
            Err(err) => (None, Some(err)),
        };
        match self.input(now, Input::Admission { call, admission })? {
            Verdict::Queued(call) => Ok(call),
            Verdict::Refused(Outcome::Closed) => Err(Refusal {
                code: codes::SERVICE_CLOSED,
                message: format!("`{queue}` is closed now"),
            }),
            Verdict::Refused(_) => Err(Refusal {
                code: codes::QUEUE_FULL,
                message: format!("`{queue}` has too many calls waiting"),
            }),
            _ => Err(error.map(dispatch_refusal).unwrap_or_else(|| Refusal {
                code: codes::INTERNAL,
                message: "the call could not be placed".into(),
            })),
        }
    }

    /// Runs both cores' deadlines due by `now`.
    pub fn timeout(&mut self, now: Instant) {
        if let Err(err) = self.dispatcher.handle(now, Event::Timeout) {
            tracing::warn!(error = %err, "dispatcher timeout refused");
        }
        let _ = self.calls.handle(now, Input::Timeout);
        self.settle(now);
        let expired: Vec<String> = self
            .recovered
            .iter()
            .filter(|(_, kept)| kept.until <= now)
            .map(|(kiosk, _)| kiosk.clone())
            .collect();
        for kiosk in expired {
            if let Some(kept) = self.recovered.remove(&kiosk) {
                self.expired.push(kept);
            }
        }
        self.returning.retain(|_, returning| returning.until > now);
    }

    /// The earliest deadline of either core.
    pub fn next_deadline(&self) -> Option<Instant> {
        let dispatcher = self.dispatcher.poll_timeout().map(|(at, _)| at);
        let recovered = self.recovered.values().map(|kept| kept.until).min();
        [dispatcher, self.calls.poll_timeout(), recovered]
            .into_iter()
            .flatten()
            .min()
    }

    /// Passes commands and events between the cores until both are quiet.
    fn settle(&mut self, now: Instant) {
        loop {
            let mut moved = false;
            while let Some(command) = self.dispatcher.poll_command() {
                moved = true;
                let _ = self.calls.handle(now, Input::Dispatcher(command));
            }
            while let Some(output) = self.calls.poll_output() {
                moved = true;
                match output {
                    Output::Dispatch(event) => {
                        if let Err(err) = self.dispatcher.handle(now, event) {
                            tracing::debug!(error = %err, "event of the call core refused");
                        }
                    }
                    other => self.effects.push_back(other),
                }
            }
            if !moved {
                break;
            }
        }
    }
}

/// The answer to a request the dispatcher refused.
pub fn dispatch_refusal(err: DispatchError) -> Refusal {
    let code = match &err {
        DispatchError::NoLongerOffered { .. } => codes::NO_LONGER_OFFERED,
        DispatchError::TransferRefused { .. } | DispatchError::AgentUnavailable { .. } => {
            codes::TRANSFER_REFUSED
        }
        DispatchError::UnknownQueue(_) => codes::UNKNOWN_SERVICE,
        _ => codes::WRONG_STATE,
    };
    Refusal {
        code,
        message: err.to_string(),
    }
}
