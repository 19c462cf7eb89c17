//! A live call: its state, its legs and its media room.

use std::time::{Duration, Instant};

use relais_proto::messages::Participant;
use relais_proto::{AgentId, CallId, EndReason, LegRole, MediaLossReason, SupervisionMode};

use crate::io::{MediaLink, SessionId};
use crate::policy::Receive;

/// A leg's number within its call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LegId(pub u32);

/// Where a call stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallState {
    /// In its queue (possibly ringing an agent).
    Waiting {
        /// The agent it is offered to now.
        ringing: Option<AgentId>,
    },
    /// Answered by an agent.
    Connected {
        /// When.
        since: Instant,
    },
}

/// The call's media room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomState {
    /// No room (waiting).
    None,
    /// Asked for; not open yet.
    Opening,
    /// Open on this shard (the room's id is the call's id).
    Open { shard: usize },
}

/// A leg's media.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegMedia {
    /// Not negotiated yet.
    Idle,
    /// An offer was answered; ICE and DTLS are under way.
    Negotiating,
    /// Media flows.
    Connected,
    /// The peer went away at `since`; it may come back with a new offer.
    Lost {
        since: Instant,
        reason: MediaLossReason,
    },
}

/// One participant of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    pub id: LegId,
    pub role: LegRole,
    /// The token subject (kiosk identity, agent id…).
    pub subject: String,
    /// The name the other participants see.
    pub name: String,
    /// A supervisor's mode.
    pub mode: Option<SupervisionMode>,
    /// The participants last announced to it (`participants` is pushed when this changes).
    pub shown: Vec<Participant>,
    /// Its signalling session, while connected.
    pub session: Option<SessionId>,
    /// Its media peer, once negotiated.
    pub media: Option<MediaLink>,
    pub media_state: LegMedia,
    /// Whose media it receives: the policy, as data.
    pub receives: Vec<Receive>,
    /// Whether it takes part in the conversation (others receive it by default).
    pub full: bool,
    /// When its media was lost, until it connects again (kept across a rejoining offer).
    pub lost_at: Option<Instant>,
    /// Receive slots its peer negotiated.
    pub slots: usize,
    /// Slots a server offer adds, until the client answers it.
    pub renegotiating: Option<usize>,
    /// The number of its latest negotiation: a join that answers an older one is stale.
    pub negotiation: u32,
    /// Whether its media ever connected (a failed re-offer then counts as a loss).
    pub had_media: bool,
    /// Its link is too poor for video: it receives audio only (and sends no video), until it
    /// says its link is better.
    pub audio_only: bool,
    /// Its entry in the call's history.
    pub record: usize,
}

/// Why a participant left its call, for the call's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegLeft {
    /// It was there when the call ended.
    Ended,
    /// The agent handed the call on (a transfer).
    Transferred,
    /// It left a call that went on (a supervisor, an interpreter, a consulted colleague).
    Left,
    /// An agent whose connection was lost: the call went back to its queue.
    Interrupted,
}

impl LegLeft {
    /// The word in the call's record.
    pub fn as_str(self) -> &'static str {
        match self {
            LegLeft::Ended => "ended",
            LegLeft::Transferred => "transferred",
            LegLeft::Left => "left",
            LegLeft::Interrupted => "interrupted",
        }
    }
}

/// One participant's time in a call, kept for the call's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegHistory {
    pub role: LegRole,
    pub subject: String,
    /// The queue an agent handled the call for.
    pub queue: Option<String>,
    pub joined_at: Instant,
    pub left: Option<(Instant, LegLeft)>,
    /// An agent's wrap-up and disposition, when it ended while the call went on.
    pub wrap_up: Option<(Duration, Option<String>)>,
}

/// One chat message of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLine {
    pub from: LegId,
    pub role: LegRole,
    pub name: String,
    pub at_ms: i64,
    pub text: String,
}

/// A live call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub id: CallId,
    /// The service it was placed to (its queue may change by overflow).
    pub service: String,
    /// The service whose agents handle it now (another one after a transfer): its
    /// supervision rights and chat retention apply.
    pub handled_by: String,
    /// The kiosk identity that placed it.
    pub kiosk: String,
    pub site: String,
    pub state: CallState,
    pub legs: Vec<Leg>,
    pub room: RoomState,
    /// Why it is ending, when the core asked the dispatcher to end it.
    pub end_reason: Option<EndReason>,
    /// Whether its kiosk learnt its id (refused calls never do).
    pub admitted: bool,
    /// The chat of the call, kept with the call only (never logged).
    pub chat: Vec<ChatLine>,
    /// Whether its kiosk is on hold (its agent consults a colleague).
    pub on_hold: bool,
    /// Everyone who took part, in order of arrival, for the record.
    pub history: Vec<LegHistory>,
    /// The agents it was offered to, each once, in order.
    pub offered_to: Vec<String>,
    /// The place in its queue and the estimated wait last told to its kiosk.
    pub position: Option<(usize, Option<Duration>)>,
    /// The wait with media: the kiosk peer that hears hold audio, the one metered, the last
    /// announcement, what the check of the kiosk's devices found.
    pub waiting: crate::waiting::WaitingMedia,
    /// A callback task: whom to phone back (it has no kiosk leg).
    pub callback: Option<Box<crate::callbacks::Callback>>,
    /// The callback its caller asked for, until the dispatcher ends it.
    pub(crate) callback_requested: Option<Box<crate::callbacks::Requested>>,
    next_leg: u32,
}

impl Call {
    /// A call with its kiosk leg.
    pub fn new(
        now: Instant,
        id: CallId,
        service: &str,
        kiosk: &str,
        site: &str,
        session: SessionId,
    ) -> Self {
        let mut call = Self::task(id, service, kiosk, site);
        let kiosk_leg = call.add_leg(now, LegRole::Kiosk, kiosk, Some(session), None);
        call.converse(kiosk_leg);
        call
    }

    /// A callback task for a caller of `kiosk`: no leg until an agent takes it.
    pub fn task(id: CallId, service: &str, kiosk: &str, site: &str) -> Self {
        Self {
            id,
            service: service.to_owned(),
            handled_by: service.to_owned(),
            kiosk: kiosk.to_owned(),
            site: site.to_owned(),
            state: CallState::Waiting { ringing: None },
            legs: Vec::new(),
            room: RoomState::None,
            end_reason: None,
            admitted: false,
            chat: Vec::new(),
            on_hold: false,
            history: Vec::new(),
            offered_to: Vec::new(),
            position: None,
            waiting: crate::waiting::WaitingMedia::default(),
            callback: None,
            callback_requested: None,
            next_leg: 0,
        }
    }

    /// Adds a leg receiving nothing and received by nobody (give it a policy next), joining
    /// at `now` (for `queue`, an agent's).
    pub fn add_leg(
        &mut self,
        now: Instant,
        role: LegRole,
        subject: &str,
        session: Option<SessionId>,
        queue: Option<&str>,
    ) -> LegId {
        let id = self.reserve_leg();
        self.add_leg_as(id, now, role, subject, session, queue)
    }

    /// A leg id for a leg added later ([`Call::add_leg_as`]).
    pub fn reserve_leg(&mut self) -> LegId {
        let id = LegId(self.next_leg);
        self.next_leg += 1;
        id
    }

    /// As [`Call::add_leg`], with an id reserved before.
    pub fn add_leg_as(
        &mut self,
        id: LegId,
        now: Instant,
        role: LegRole,
        subject: &str,
        session: Option<SessionId>,
        queue: Option<&str>,
    ) -> LegId {
        let record = self.history.len();
        self.history.push(LegHistory {
            role,
            subject: subject.to_owned(),
            queue: queue.map(str::to_owned),
            joined_at: now,
            left: None,
            wrap_up: None,
        });
        self.legs.push(Leg {
            id,
            role,
            subject: subject.to_owned(),
            name: subject.to_owned(),
            mode: None,
            shown: Vec::new(),
            session,
            media: None,
            media_state: LegMedia::Idle,
            receives: Vec::new(),
            full: false,
            lost_at: None,
            slots: 0,
            renegotiating: None,
            negotiation: 0,
            had_media: false,
            audio_only: false,
            record,
        });
        id
    }

    /// Removes a leg and every subscription to it; it left at `now` because of `why`.
    pub fn remove_leg(&mut self, now: Instant, leg: LegId, why: LegLeft) -> Option<Leg> {
        self.unsubscribe_all(leg);
        let index = self.legs.iter().position(|l| l.id == leg)?;
        let removed = self.legs.remove(index);
        if let Some(entry) = self.history.get_mut(removed.record) {
            entry.left.get_or_insert((now, why));
        }
        Some(removed)
    }

    /// The record of everyone who took part, those still there leaving at `now`.
    pub fn closed_history(&self, now: Instant) -> Vec<LegHistory> {
        let mut history = self.history.clone();
        for entry in &mut history {
            entry.left.get_or_insert((now, LegLeft::Ended));
        }
        history
    }

    /// Whether an agent answered it once (a transferred call waiting for its next agent).
    pub fn was_answered(&self) -> bool {
        self.history.iter().any(|h| h.role == LegRole::Agent)
    }

    pub fn leg(&self, leg: LegId) -> Option<&Leg> {
        self.legs.iter().find(|l| l.id == leg)
    }

    pub fn leg_mut(&mut self, leg: LegId) -> Option<&mut Leg> {
        self.legs.iter_mut().find(|l| l.id == leg)
    }

    /// The first leg with `role`.
    pub fn leg_of_role(&self, role: LegRole) -> Option<&Leg> {
        self.legs.iter().find(|l| l.role == role)
    }

    /// The leg of a session.
    pub fn leg_of_session(&self, session: SessionId) -> Option<&Leg> {
        self.legs.iter().find(|l| l.session == Some(session))
    }

    /// The sessions of every leg, in leg order.
    pub fn sessions(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.legs.iter().filter_map(|l| l.session)
    }

    /// The other participants as `viewer` sees them: those whose media it receives; a
    /// supervisor sees everyone. A monitoring supervisor is seen by supervisors only.
    pub fn seen_by(&self, viewer: LegId) -> Vec<Participant> {
        let Some(viewer) = self.leg(viewer) else {
            return Vec::new();
        };
        self.legs
            .iter()
            .filter(|other| other.id != viewer.id)
            .filter(|other| {
                viewer.role == LegRole::Supervisor
                    || viewer.receives.iter().any(|r| r.from == other.id)
            })
            .map(|other| Participant {
                role: other.role,
                name: other.name.clone(),
                mode: other.mode,
            })
            .collect()
    }

    /// When the earliest of its still-lost legs was lost.
    pub fn lost_since(&self) -> Option<Instant> {
        self.legs.iter().filter_map(|l| l.lost_at).min()
    }
}
