//! The call core: every live call and the indexes that find one from a session, a kiosk
//! identity, an agent or a media peer.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use relais_proto::{CallId, LegRole, Role, ServerMessage};

use crate::call::{Call, CallState, LegId};
use crate::error::CallError;
use crate::io::{Input, MediaLink, Output, SessionId, Verdict};
use crate::refusals::Refusals;

/// What the call core needs to know of the configuration.
#[derive(Debug, Clone)]
pub struct CallConfig {
    /// How long a leg whose media was lost may take to come back before its call ends.
    pub media_grace: Duration,
    /// Refused calls per kiosk identity and service per minute before further calls are
    /// answered `rate_limited` without reaching the dispatcher.
    pub refusals_per_minute: u32,
    /// Display names of the services, by id.
    pub service_names: BTreeMap<String, String>,
    /// Services whose calls keep their chat in their record (none by default).
    pub chat_retention: BTreeSet<String>,
    /// The wrap-up codes of each service; a service with none takes any code.
    pub dispositions: BTreeMap<String, Vec<String>>,
    /// How long a kiosk whose signalling connection dropped may take to come back (with its
    /// resume token) before its call ends; zero ends it at once.
    pub resume_grace: Duration,
    /// How long an agent whose connection dropped during a call (a blink, a reloaded console)
    /// may take to come back before the call goes back to its queue; zero sends it back at once.
    pub agent_grace: Duration,
    /// Whether a kiosk connects its media as soon as its call is queued (hold audio, the
    /// check of its camera and microphone, an instant answer) rather than when an agent
    /// answers.
    pub waiting_media: bool,
    /// Whether a waiting kiosk hears hold audio (with spoken announcements).
    pub hold_audio: bool,
    /// Time between two announcements of the same place in the queue (a change is announced
    /// at once); `None` announces changes only.
    pub announce_every: Option<Duration>,
    /// Silence of the microphone, or no picture from the camera, this long before the kiosk
    /// and the agent are warned.
    pub check_after: Duration,
    /// Services that call back a caller who would rather not wait, with the estimated wait
    /// from which their kiosks offer it.
    pub callbacks: BTreeMap<String, Duration>,
    /// Whether an agent offered a call whose kiosk waits with its media connected connects
    /// its own while the offer rings (its answer then needs no handshake).
    pub ring_media: bool,
}

impl Default for CallConfig {
    fn default() -> Self {
        Self {
            media_grace: Duration::from_secs(30),
            refusals_per_minute: 6,
            service_names: BTreeMap::new(),
            chat_retention: BTreeSet::new(),
            dispositions: BTreeMap::new(),
            resume_grace: Duration::from_secs(60),
            agent_grace: Duration::from_secs(30),
            waiting_media: true,
            hold_audio: true,
            announce_every: Some(Duration::from_secs(60)),
            check_after: Duration::from_secs(5),
            callbacks: BTreeMap::new(),
            ring_media: true,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct SessionInfo {
    pub(crate) role: Role,
    pub(crate) subject: String,
    /// A kiosk's resume token: its call waits for a session that shows it.
    pub(crate) resume: Option<String>,
}

/// An agent's wrap-up after a call: the disposition it gave, until the wrap-up is recorded.
#[derive(Debug, Clone)]
pub(crate) struct WrapUp {
    pub(crate) call: CallId,
    /// The queue the agent served the call for (its wrap-up codes apply).
    pub(crate) service: String,
    pub(crate) disposition: Option<String>,
}

/// Every live call. See the crate documentation.
#[derive(Debug)]
pub struct CallCore {
    pub(crate) config: CallConfig,
    /// Calls whose hold audio or metering may have to change after this input.
    pub(crate) waiting_dirty: BTreeSet<CallId>,
    pub(crate) calls: BTreeMap<CallId, Call>,
    /// When each call was placed (its queue wait starts there).
    pub(crate) placed_at: BTreeMap<CallId, Instant>,
    pub(crate) sessions: BTreeMap<SessionId, SessionInfo>,
    /// Agent → its current session.
    pub(crate) agent_sessions: BTreeMap<String, SessionId>,
    /// Session → the call it has a leg in.
    pub(crate) by_session: BTreeMap<SessionId, CallId>,
    /// Kiosk identity → its call (one per identity, across its connections).
    pub(crate) by_identity: BTreeMap<String, CallId>,
    /// Agent → the call it is connected to.
    pub(crate) by_agent: BTreeMap<String, CallId>,
    /// Media peer → its call and leg.
    pub(crate) by_peer: BTreeMap<MediaLink, (CallId, LegId)>,
    /// Calls with a leg whose media is lost.
    pub(crate) lost: BTreeSet<CallId>,
    pub(crate) wrap_ups: BTreeMap<String, WrapUp>,
    pub(crate) refusals: Refusals,
    /// Calls for an interpreter, by their own id.
    pub(crate) interpreting: BTreeMap<CallId, crate::interpreter::Interpreting>,
    /// Consultations (warm transfers under way), by their own id.
    pub(crate) consults: BTreeMap<CallId, crate::consult::Consulting>,
    /// Calls whose kiosk's connection dropped, by the resume token it holds.
    pub(crate) detached: BTreeMap<String, crate::resume::Detached>,
    /// Agents whose connection dropped during a call: the call and when.
    pub(crate) away: BTreeMap<String, (CallId, Instant)>,
    /// The peers of agents offered a call, connected while the offer rings, by call.
    pub(crate) ringing: BTreeMap<CallId, crate::ringing::Ringing>,
    pub(crate) outputs: VecDeque<Output>,
}

impl CallCore {
    /// New settings (services changed while running): calls in progress keep going; names,
    /// chat retention and wrap-up codes of the new settings apply from now on.
    pub fn set_config(&mut self, config: CallConfig) {
        self.config = config;
    }

    pub fn new(config: CallConfig) -> Self {
        Self {
            config,
            waiting_dirty: BTreeSet::new(),
            calls: BTreeMap::new(),
            placed_at: BTreeMap::new(),
            sessions: BTreeMap::new(),
            agent_sessions: BTreeMap::new(),
            by_session: BTreeMap::new(),
            by_identity: BTreeMap::new(),
            by_agent: BTreeMap::new(),
            by_peer: BTreeMap::new(),
            lost: BTreeSet::new(),
            wrap_ups: BTreeMap::new(),
            refusals: Refusals::default(),
            interpreting: BTreeMap::new(),
            consults: BTreeMap::new(),
            detached: BTreeMap::new(),
            away: BTreeMap::new(),
            ringing: BTreeMap::new(),
            outputs: VecDeque::new(),
        }
    }

    /// The live calls, by id.
    pub fn calls(&self) -> impl Iterator<Item = &Call> {
        self.calls.values()
    }

    /// One live call.
    pub fn call(&self, call: CallId) -> Option<&Call> {
        self.calls.get(&call)
    }

    /// The call a session has a leg in.
    pub fn call_of_session(&self, session: SessionId) -> Option<&Call> {
        self.by_session
            .get(&session)
            .and_then(|c| self.calls.get(c))
    }

    /// Kiosk identity and service pairs with a recent refusal kept in memory.
    pub fn refusal_windows(&self) -> usize {
        self.refusals.len()
    }

    /// The next thing to carry out, in order.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The earliest deadline: call `handle(deadline, Input::Timeout)` then.
    #[must_use]
    /// Whether the media grace period of `call` runs: it has not ended, its kiosk's
    /// signalling is there (a detached kiosk has the resume period instead), and it is not a
    /// kiosk waiting for its first agent (which keeps its place without media and connects
    /// again; its grace runs from the answer).
    pub(crate) fn media_grace_runs(&self, call: &crate::call::Call) -> bool {
        call.end_reason.is_none()
            && !self.is_detached(call.id)
            && (call.was_answered()
                || !matches!(call.state, crate::call::CallState::Waiting { .. }))
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let lost = self
            .lost
            .iter()
            .filter_map(|id| self.calls.get(id))
            .filter(|call| self.media_grace_runs(call))
            .filter_map(|call| call.lost_since())
            .min()
            .and_then(|since| since.checked_add(self.config.media_grace));
        [lost, self.resume_deadline(), self.announce_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Applies one input at `now`. A refused input returns an error and changes nothing.
    pub fn handle(&mut self, now: Instant, input: Input) -> Result<Verdict, CallError> {
        let verdict = self.apply(now, input);
        while let Some(id) = self.waiting_dirty.pop_first() {
            self.refresh_waiting(now, id);
        }
        verdict
    }

    fn apply(&mut self, now: Instant, input: Input) -> Result<Verdict, CallError> {
        match input {
            Input::SessionOpened {
                session,
                role,
                subject,
            } => {
                self.session_opened(now, session, role, subject);
                Ok(Verdict::Done)
            }
            Input::SessionClosed { session } => {
                self.session_closed(now, session);
                Ok(Verdict::Done)
            }
            Input::Resume {
                session,
                token,
                previous,
            } => Ok(self.resume(now, session, token, previous)),
            Input::Place {
                call,
                session,
                kiosk,
                site,
                service,
                since,
            } => {
                let since = since.unwrap_or(now).min(now);
                self.place(now, since, call, session, kiosk, site, service)
            }
            Input::Admission { call, admission } if self.interpreting.contains_key(&call) => {
                Ok(self.interpreter_admitted(call, admission))
            }
            Input::Admission { call, admission } => Ok(self.admission(now, call, admission)),
            Input::AskInterpreter {
                session,
                call,
                service,
            } => self.ask_interpreter(now, session, call, service),
            Input::Cancel { session } => self.cancel(session),
            Input::RequestCallback {
                session,
                call,
                task,
                phone,
                not_before,
                at_ms,
            } => self.request_callback(now, session, call, task, &phone, not_before, at_ms),
            Input::CallbackDone {
                session,
                call,
                result,
            } => self.callback_done(session, call, result),
            Input::RestoreCallback(stored) => {
                self.restore_callback(*stored).map(|()| Verdict::Done)
            }
            Input::Hangup { session } => self.hangup(session),
            Input::Transfer { session, to } => self.transfer(session, to),
            Input::Consult {
                session,
                call,
                agent,
            } => self.consult(session, call, agent),
            Input::CompleteTransfer { session } => self.complete_transfer(session),
            Input::CancelConsult { session } => self.cancel_consult(session),
            Input::WrapUpDone {
                session,
                disposition,
            } => self.wrap_up_done(session, disposition),
            Input::CaseNote {
                session,
                call,
                case_ref,
                notes,
            } => self.case_note(session, call, case_ref, notes),
            Input::Negotiate { session } => self.negotiate(session),
            Input::Joined {
                call,
                leg,
                attempt,
                link,
                slots,
            } => {
                self.joined(call, leg, attempt, link, slots);
                Ok(Verdict::Done)
            }
            Input::JoinFailed { call, leg, attempt } => {
                self.join_failed(now, call, leg, attempt);
                Ok(Verdict::Done)
            }
            Input::Candidate { session } => self.candidate(session),
            Input::Answer { session } => self.answer(session),
            Input::Answered { call, leg } => {
                self.answered_offer(call, leg);
                Ok(Verdict::Done)
            }
            Input::SlotsOffered { call, leg, sdp } => {
                self.slots_offered(call, leg, sdp);
                Ok(Verdict::Done)
            }
            Input::AddLeg {
                call,
                session,
                role,
                subject,
                participation,
            } => self.add_leg(now, call, session, role, subject, participation),
            Input::Supervise {
                call,
                session,
                name,
                mode,
            } => self.supervise(now, call, session, name, mode),
            Input::Leave { session } => self.leave(now, session),
            Input::Chat {
                session,
                text,
                at_ms,
            } => self.chat(session, text, at_ms),
            Input::ShareLink { session, document } => self.share_link(session, document),
            Input::ShareFile {
                call,
                subject,
                document,
            } => self.share_file(call, &subject, document),
            Input::RequestSnapshot { session } => self.request_snapshot(session),
            Input::AudioOnly { session, on } => self.audio_only(session, on),
            Input::Dispatcher(command) => {
                self.command(now, command);
                Ok(Verdict::Done)
            }
            Input::RoomOpened { call, shard } => {
                self.room_opened(call, shard);
                Ok(Verdict::Done)
            }
            Input::RoomFailed { call } => {
                self.room_failed(call);
                Ok(Verdict::Done)
            }
            Input::Media { shard, event } => {
                self.media(now, shard, event);
                Ok(Verdict::Done)
            }
            Input::Timeout => {
                self.announce_timeout(now);
                self.resume_timeout(now);
                self.timeout(now);
                Ok(Verdict::Done)
            }
        }
    }

    pub(crate) fn push(&mut self, session: SessionId, message: ServerMessage) {
        self.outputs.push_back(Output::Push { session, message });
    }

    pub(crate) fn push_agent(&mut self, agent: &str, message: ServerMessage) {
        if let Some(&session) = self.agent_sessions.get(agent) {
            self.push(session, message);
        }
    }

    /// Pushes to every leg of `call` but `except`.
    pub(crate) fn push_others(&mut self, call: CallId, except: LegId, message: &ServerMessage) {
        let Some(call) = self.calls.get(&call) else {
            return;
        };
        let sessions: Vec<SessionId> = call
            .legs
            .iter()
            .filter(|leg| leg.id != except)
            .filter_map(|leg| leg.session)
            .collect();
        for session in sessions {
            self.push(session, message.clone());
        }
    }

    /// Removes a call and every index to it.
    pub(crate) fn forget(&mut self, id: CallId) -> Option<Call> {
        self.drop_ringing(id);
        let call = self.calls.remove(&id)?;
        self.placed_at.remove(&id);
        self.lost.remove(&id);
        self.detached.retain(|_, d| d.call != id);
        self.away.retain(|_, (call, _)| *call != id);
        for leg in &call.legs {
            if let Some(session) = leg.session
                && self.by_session.get(&session) == Some(&id)
            {
                self.by_session.remove(&session);
            }
            if let Some(link) = leg.media {
                self.by_peer.remove(&link);
            }
            if leg.role == LegRole::Agent && self.by_agent.get(&leg.subject) == Some(&id) {
                self.by_agent.remove(&leg.subject);
            }
        }
        if self.by_identity.get(&call.kiosk) == Some(&id) {
            self.by_identity.remove(&call.kiosk);
        }
        Some(call)
    }

    /// Journals call `id` as it stands now.
    pub(crate) fn journal(&mut self, id: CallId) {
        // A callback task is kept by the store's callbacks, not the journal of calls.
        let Some(call) = self.calls.get(&id).filter(|c| c.callback.is_none()) else {
            return;
        };
        let Some(placed_at) = self
            .placed_at
            .get(&id)
            .copied()
            .or_else(|| call.history.first().map(|h| h.joined_at))
        else {
            return;
        };
        let agent = match call.state {
            CallState::Connected { since } => call
                .legs
                .iter()
                .find(|l| l.role == LegRole::Agent && self.by_agent.get(&l.subject) == Some(&id))
                .map(|l| (l.subject.clone(), since)),
            CallState::Waiting { .. } => None,
        };
        let entry = crate::io::Journalled {
            call: id,
            service: call.service.clone(),
            queue: call.handled_by.clone(),
            kiosk: call.kiosk.clone(),
            site: call.site.clone(),
            placed_at,
            agent,
            legs: call.history.clone(),
        };
        self.outputs.push_back(Output::Journal(Box::new(entry)));
    }

    /// The call, leg and role of a session.
    pub(crate) fn session_call(&self, session: SessionId) -> Option<(&Call, LegId, LegRole)> {
        let call = self.call_of_session(session)?;
        let leg = call.leg_of_session(session)?;
        Some((call, leg.id, leg.role))
    }
}
