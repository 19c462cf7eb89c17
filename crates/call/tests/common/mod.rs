//! Test harness: the call core beside a real dispatcher, driven in virtual time as the server
//! drives them (what the call core asks of the dispatcher is applied at once and the
//! dispatcher's commands are fed back), with a media model that opens and closes rooms.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use relais_call::{
    CallConfig, CallCore, CallError, Ended, Input, Kinds, MediaCommand, MediaInput, MediaLink,
    NegotiationPlan, Output, SessionId, SupervisionEnd, Verdict,
};
use relais_dispatch::{
    Command, DispatchConfig, Dispatcher, Event, OpeningHours, QueueConfig, WallAnchor,
};
use relais_proto::{AgentId, CallId, MediaLossReason, Role, ServerMessage, SupervisionMode};

pub const GRACE: Duration = Duration::from_secs(20);

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// `caf`: always open, 10 s to accept, 5 s of wrap-up, at most 2 waiting. `cpam` and `lsf`
/// (interpreters): always open. `nuit`: never open.
pub fn config() -> DispatchConfig {
    let mut caf = QueueConfig::new("caf");
    caf.offer_timeout = secs(10);
    caf.wrap_up = secs(5);
    caf.max_waiting = Some(2);
    let mut cpam = QueueConfig::new("cpam");
    cpam.offer_timeout = secs(10);
    cpam.wrap_up = secs(5);
    let mut lsf = QueueConfig::new("lsf");
    lsf.offer_timeout = secs(10);
    lsf.wrap_up = secs(5);
    let mut nuit = QueueConfig::new("nuit");
    nuit.hours = Some(OpeningHours::new());
    DispatchConfig::with_queues(vec![caf, cpam, lsf, nuit])
}

pub struct World {
    pub dispatcher: Dispatcher,
    pub core: CallCore,
    pub now: Instant,
    /// Every push, in order.
    pub pushes: Vec<(SessionId, ServerMessage)>,
    pub records: Vec<Ended>,
    pub wrap_ups: Vec<(CallId, Option<String>)>,
    /// Case notes stored: (call, agent, case reference, notes).
    pub case_notes: Vec<(CallId, String, Option<String>, Option<String>)>,
    /// Rooms the media model holds open.
    pub rooms: BTreeSet<CallId>,
    /// Peers removed by a command.
    pub removed: Vec<MediaLink>,
    /// Server offers of more slots: (call, leg's peer, more).
    pub slot_offers: Vec<(CallId, MediaLink, usize)>,
    /// Subscriptions asked of the shards: (subscriber, publisher, kinds).
    pub subscriptions: Vec<(MediaLink, MediaLink, Kinds)>,
    /// Subscriptions removed: (subscriber, publisher).
    pub unsubscriptions: Vec<(MediaLink, MediaLink)>,
    /// What the call core journalled, in order.
    pub journal: Vec<relais_call::Journalled>,
    /// Subscriptions (true) and unsubscriptions (false) of (subscriber, publisher), in order.
    pub media_log: Vec<(bool, MediaLink, MediaLink)>,
    /// Supervisions that ended without a request: (call, supervisor, mode, why).
    pub supervision_ends: Vec<(CallId, String, Option<SupervisionMode>, SupervisionEnd)>,
    /// Whether the next rooms fail to open.
    pub rooms_fail: bool,
    /// (call, agent) of every offer and every answer the dispatcher made.
    pub offered: Vec<(CallId, AgentId)>,
    pub answered: Vec<(CallId, AgentId)>,
    /// Hold audio, announcements and metering asked of the shards, in order.
    pub waiting_log: Vec<MediaCommand>,
    /// What the call core asked the store to keep of callbacks, in order.
    pub callbacks: Vec<relais_call::CallbackChange>,
    next_call: u64,
    next_peer: u64,
}

impl World {
    pub fn new() -> Self {
        Self::with_call_config(|_| {})
    }

    /// A world whose call core has its configuration changed by `edit`.
    #[allow(clippy::disallowed_methods)] // where virtual time starts
    pub fn with_call_config(edit: impl FnOnce(&mut CallConfig)) -> Self {
        let mut call_config = CallConfig {
            media_grace: GRACE,
            refusals_per_minute: 3,
            // Most rules are about media negotiated at the answer; the rules of the wait with
            // media (tests/waiting.rs) turn it on.
            waiting_media: false,
            ..CallConfig::default()
        };
        edit(&mut call_config);
        let now = Instant::now();
        let anchor = WallAnchor {
            at: now,
            utc: "2024-03-04T10:00:00Z".parse().unwrap(),
        };
        Self {
            dispatcher: Dispatcher::new(config(), 7, anchor).unwrap(),
            core: CallCore::new(call_config),
            now,
            pushes: Vec::new(),
            records: Vec::new(),
            wrap_ups: Vec::new(),
            case_notes: Vec::new(),
            rooms: BTreeSet::new(),
            removed: Vec::new(),
            subscriptions: Vec::new(),
            unsubscriptions: Vec::new(),
            media_log: Vec::new(),
            journal: Vec::new(),
            supervision_ends: Vec::new(),
            slot_offers: Vec::new(),
            rooms_fail: false,
            offered: Vec::new(),
            answered: Vec::new(),
            waiting_log: Vec::new(),
            callbacks: Vec::new(),
            next_call: 1,
            next_peer: 1,
        }
    }

    /// Feeds the call core; a verdict naming a dispatcher event is applied.
    pub fn input(&mut self, input: Input) -> Result<Verdict, CallError> {
        let verdict = self.core.handle(self.now, input);
        self.settle();
        match verdict? {
            Verdict::Dispatch(event) => {
                let _ = self.dispatcher.handle(self.now, event);
                self.settle();
                Ok(Verdict::Done)
            }
            other => Ok(other),
        }
    }

    pub fn dispatch(&mut self, event: Event) -> bool {
        let ok = self.dispatcher.handle(self.now, event).is_ok();
        self.settle();
        ok
    }

    /// Moves time on, firing both cores' deadlines at their instants.
    pub fn advance(&mut self, by: Duration) {
        let target = self.now + by;
        loop {
            let next = [
                self.dispatcher.poll_timeout().map(|(at, _)| at),
                self.core.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(at) if at <= target => {
                    self.now = self.now.max(at);
                    let _ = self.dispatcher.handle(self.now, Event::Timeout);
                    let _ = self.core.handle(self.now, Input::Timeout);
                    self.settle();
                }
                _ => break,
            }
        }
        self.now = target;
        let _ = self.dispatcher.handle(self.now, Event::Timeout);
        let _ = self.core.handle(self.now, Input::Timeout);
        self.settle();
    }

    fn settle(&mut self) {
        loop {
            let mut moved = false;
            while let Some(command) = self.dispatcher.poll_command() {
                moved = true;
                match &command {
                    Command::Offer { call, agent, .. } => self.offered.push((*call, agent.clone())),
                    Command::CallAnswered { call, agent, .. } => {
                        self.answered.push((*call, agent.clone()));
                    }
                    _ => {}
                }
                let _ = self.core.handle(self.now, Input::Dispatcher(command));
            }
            while let Some(output) = self.core.poll_output() {
                moved = true;
                self.carry_out(output);
            }
            if !moved {
                break;
            }
        }
    }

    fn carry_out(&mut self, output: Output) {
        match output {
            Output::Push { session, message } => self.pushes.push((session, message)),
            Output::Dispatch(event) => {
                let _ = self.dispatcher.handle(self.now, event);
            }
            Output::Media(MediaCommand::OpenRoom { call }) => {
                let input = if self.rooms_fail {
                    Input::RoomFailed { call }
                } else {
                    self.rooms.insert(call);
                    Input::RoomOpened { call, shard: 0 }
                };
                let _ = self.core.handle(self.now, input);
            }
            Output::Media(MediaCommand::CloseRoom { call, .. }) => {
                self.rooms.remove(&call);
            }
            Output::Media(MediaCommand::RemovePeer { link }) => self.removed.push(link),
            Output::Media(
                command @ (MediaCommand::Hold { .. }
                | MediaCommand::Announce { .. }
                | MediaCommand::Meter { .. }),
            ) => self.waiting_log.push(command),
            Output::Media(MediaCommand::AddSlots {
                call,
                leg,
                link,
                more,
            }) => {
                self.slot_offers.push((call, link, more));
                let sdp = Some(format!("offer of {more} slots"));
                let _ = self
                    .core
                    .handle(self.now, Input::SlotsOffered { call, leg, sdp });
            }
            Output::Media(MediaCommand::Subscribe {
                subscriber,
                publisher,
                kinds,
            }) => {
                self.media_log.push((true, subscriber, publisher));
                self.subscriptions.push((subscriber, publisher, kinds));
            }
            Output::Media(MediaCommand::Unsubscribe {
                subscriber,
                publisher,
            }) => {
                self.media_log.push((false, subscriber, publisher));
                self.unsubscriptions.push((subscriber, publisher));
            }
            Output::SupervisionEnded {
                call,
                supervisor,
                mode,
                why,
            } => self.supervision_ends.push((call, supervisor, mode, why)),
            Output::Record(ended) => self.records.push(*ended),
            Output::WrapUp {
                call, disposition, ..
            } => self.wrap_ups.push((call, disposition)),
            Output::Journal(entry) => self.journal.push(*entry),
            Output::Callback(change) => self.callbacks.push(*change),
            Output::CaseNote {
                call,
                agent,
                case_ref,
                notes,
            } => self.case_notes.push((call, agent, case_ref, notes)),
            Output::AgentState { .. } | Output::KpisChanged => {}
        }
    }

    pub fn open(&mut self, session: SessionId, role: Role, subject: &str) {
        self.input(Input::SessionOpened {
            session,
            role,
            subject: subject.to_owned(),
        })
        .unwrap();
    }

    /// An agent signed in on `session` and ready.
    pub fn ready_agent(&mut self, session: SessionId, agent: &str) {
        assert!(self.dispatch(Event::AgentLogin {
            agent: AgentId::from(agent.to_owned()),
            skills: Vec::new(),
            queues: None,
        }));
        self.open(session, Role::Agent, agent);
        assert!(self.dispatch(Event::AgentReady {
            agent: AgentId::from(agent.to_owned()),
        }));
    }

    /// A kiosk `kiosk` on `session` calls `service`: the call core's checks, then the
    /// dispatcher's admission, as the server runs them.
    pub fn place(
        &mut self,
        session: SessionId,
        kiosk: &str,
        service: &str,
    ) -> Result<Verdict, CallError> {
        let call = CallId(self.next_call);
        self.next_call += 1;
        self.admit(Input::Place {
            call,
            session,
            kiosk: kiosk.to_owned(),
            site: "mairie".to_owned(),
            service: service.to_owned(),
            since: None,
        })
    }

    /// The agent on `session` asks for an interpreter from `service`, admitted as a call.
    pub fn ask_interpreter(
        &mut self,
        session: SessionId,
        service: &str,
    ) -> Result<Verdict, CallError> {
        let call = CallId(self.next_call);
        self.next_call += 1;
        self.admit(Input::AskInterpreter {
            session,
            call,
            service: service.to_owned(),
        })
    }

    /// An input that asks for an enqueue, then the dispatcher's admission of it.
    fn admit(&mut self, input: Input) -> Result<Verdict, CallError> {
        let verdict = self.input(input)?;
        let Verdict::Enqueue {
            call,
            queue,
            kiosk,
            site,
        } = verdict
        else {
            panic!("an enqueue is asked for: {verdict:?}");
        };
        let admission = self
            .dispatcher
            .admit(
                self.now,
                call,
                &queue.as_str().into(),
                kiosk.as_str().into(),
                site.as_str().into(),
                None,
            )
            .ok();
        self.input(Input::Admission { call, admission })
    }

    /// A kiosk calls `caf` and gets its call id.
    pub fn queued(&mut self, session: SessionId, kiosk: &str) -> CallId {
        self.open(session, Role::Kiosk, kiosk);
        match self.place(session, kiosk, "caf").unwrap() {
            Verdict::Queued(call) => call,
            other => panic!("queued: {other:?}"),
        }
    }

    /// Kiosk session 1 calls; agent `alice` on session 100 accepts.
    pub fn answered(&mut self) -> CallId {
        self.ready_agent(100, "alice");
        let call = self.queued(1, "borne-1");
        assert!(self.dispatch(Event::Accept {
            call,
            agent: AgentId::from("alice"),
        }));
        call
    }

    /// The session negotiates its leg and the shard takes it: the new peer.
    pub fn negotiate(&mut self, session: SessionId) -> (NegotiationPlan, MediaLink) {
        self.negotiate_with_slots(session, usize::MAX)
    }

    /// As [`World::negotiate`], with an offer that holds at most `capacity` receive slots (a
    /// browser offers one pair of sections per pair of tracks).
    pub fn negotiate_with_slots(
        &mut self,
        session: SessionId,
        capacity: usize,
    ) -> (NegotiationPlan, MediaLink) {
        let Verdict::Negotiate(plan) = self.input(Input::Negotiate { session }).unwrap() else {
            panic!("a negotiation plan");
        };
        let link = MediaLink {
            shard: plan.shard,
            peer: self.next_peer,
        };
        self.next_peer += 1;
        self.input(Input::Joined {
            call: plan.call,
            leg: plan.leg,
            attempt: plan.attempt,
            link,
            slots: plan.receive_slots.min(capacity),
        })
        .unwrap();
        (plan, link)
    }

    pub fn connected(&mut self, link: MediaLink) {
        self.input(Input::Media {
            shard: link.shard,
            event: MediaInput::PeerConnected { peer: link.peer },
        })
        .unwrap();
    }

    pub fn lost(&mut self, link: MediaLink, reason: MediaLossReason) {
        self.input(Input::Media {
            shard: link.shard,
            event: MediaInput::PeerGone {
                peer: link.peer,
                reason: Some(reason),
            },
        })
        .unwrap();
    }

    /// Both legs of an answered call negotiated and connected: (kiosk peer, agent peer).
    pub fn media_up(&mut self) -> (MediaLink, MediaLink) {
        let (_, kiosk) = self.negotiate(1);
        let (_, agent) = self.negotiate(100);
        self.connected(kiosk);
        self.connected(agent);
        (kiosk, agent)
    }

    /// The pushes to `session`, by type, in order.
    pub fn pushed(&self, session: SessionId) -> Vec<&ServerMessage> {
        self.pushes
            .iter()
            .filter(|(s, _)| *s == session)
            .map(|(_, m)| m)
            .collect()
    }

    /// Whether `subscriber` receives `publisher` now (its last change was a subscription).
    pub fn receives(&self, subscriber: MediaLink, publisher: MediaLink) -> bool {
        self.media_log
            .iter()
            .rev()
            .find(|(_, s, p)| (*s, *p) == (subscriber, publisher))
            .is_some_and(|(on, _, _)| *on)
    }

    pub fn record_of(&self, call: CallId) -> Option<&Ended> {
        self.records.iter().find(|r| r.call == call)
    }
}
