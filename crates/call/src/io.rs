//! What goes into the call core and what comes out of it.

use std::time::Duration;

use relais_dispatch::{Admission, CallSummary, Command, Event};
use relais_proto::{
    AgentId, CallId, EndReason, EndedBy, LegRole, MediaLossReason, Outcome, Role, ServerMessage,
    SupervisionMode,
};

use crate::call::LegId;
use crate::policy::{Kinds, Participation};

/// A signalling session (one websocket), numbered by the server.
pub type SessionId = u64;

/// A leg's media peer: its shard and its peer id there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MediaLink {
    pub shard: usize,
    pub peer: u64,
}

/// What the media shards report about a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaInput {
    /// ICE and DTLS completed.
    PeerConnected { peer: u64 },
    /// The peer is gone: `None` when the server removed it itself.
    PeerGone {
        peer: u64,
        reason: Option<MediaLossReason>,
    },
    /// A metered peer's input over the last second: audio packets and their decoded level
    /// (dBFS, -127 for digital silence), video frames.
    InputReport {
        peer: u64,
        audio_packets: u32,
        audio_dbfs: Option<i16>,
        video_frames: u32,
        width: u16,
        height: u16,
    },
}

/// Something that happened; fed to [`crate::CallCore::handle`].
// A dispatcher command (with a call's record) is the largest input; inputs are moved once,
// from the task into the core, so boxing it would cost an allocation for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Input {
    /// A signalling session signed in (agents: after the dispatcher took their login).
    SessionOpened {
        session: SessionId,
        role: Role,
        subject: String,
    },
    /// A session's connection ended.
    SessionClosed { session: SessionId },
    /// A kiosk session (opened just before) holds resume `token`; with `previous`, the token
    /// of an earlier session of the same kiosk, it asks for that session's call back.
    Resume {
        session: SessionId,
        token: String,
        previous: Option<String>,
    },
    /// A kiosk asks for a call to `service` with a fresh id (or, with `since`, gets back a
    /// call it placed then, before a restart).
    Place {
        call: CallId,
        session: SessionId,
        kiosk: String,
        site: String,
        service: String,
        since: Option<std::time::Instant>,
    },
    /// The dispatcher's verdict on a [`Verdict::Enqueue`]; `None` when it refused the request
    /// itself (the call is dropped with no record: it never existed).
    Admission {
        call: CallId,
        admission: Option<Admission>,
    },
    /// The agent of a connected call asks for an interpreter from the queue of `service`; the
    /// request is a call of its own, `call` (a fresh id), admitted like a kiosk's.
    AskInterpreter {
        session: SessionId,
        call: CallId,
        service: String,
    },
    /// A kiosk withdraws its waiting call.
    Cancel { session: SessionId },
    /// A kiosk would rather be called back on `phone` than wait (as soon as an agent can, or
    /// not before `not_before`: the instant and its Unix ms); `task` is a fresh id for the
    /// callback task, `at_ms` now in Unix ms.
    RequestCallback {
        session: SessionId,
        /// The waiting call the kiosk names (it must be its own).
        call: CallId,
        task: CallId,
        phone: String,
        not_before: Option<(std::time::Instant, i64)>,
        at_ms: i64,
    },
    /// The agent of callback task `call` says what came of it; the task ends.
    CallbackDone {
        session: SessionId,
        call: CallId,
        result: relais_proto::CallbackResult,
    },
    /// A callback task the store kept across a restart; admit it to the dispatcher next.
    RestoreCallback(Box<crate::callbacks::StoredCallback>),
    /// A kiosk or an agent hangs up its connected call.
    Hangup { session: SessionId },
    /// The agent hands its connected call on (a blind transfer).
    Transfer {
        session: SessionId,
        to: TransferTarget,
    },
    /// The agent of a connected call consults `agent` (available now) before handing the
    /// call over: the consultation is a call of its own, `call` (a fresh id).
    Consult {
        session: SessionId,
        call: CallId,
        agent: String,
    },
    /// The agent hands its call to the colleague it consults (who answered).
    CompleteTransfer { session: SessionId },
    /// The agent ends its consultation and goes on with the call.
    CancelConsult { session: SessionId },
    /// An agent ends its wrap-up, with a disposition code.
    WrapUpDone {
        session: SessionId,
        disposition: Option<String>,
    },
    /// An agent gives the case reference and notes of its connected call or of the call it
    /// wraps up.
    CaseNote {
        session: SessionId,
        call: CallId,
        case_ref: Option<String>,
        notes: Option<String>,
    },
    /// A session sends an SDP offer for its leg.
    Negotiate { session: SessionId },
    /// The shard took the offer of a [`NegotiationPlan`]: the leg's peer.
    Joined {
        call: CallId,
        leg: LegId,
        attempt: u32,
        link: MediaLink,
        /// Receive slots the answer gave it (at most the plan's; the offer may hold fewer).
        slots: usize,
    },
    /// The shard refused the offer of a [`NegotiationPlan`] (after its previous peer, if any,
    /// was removed).
    JoinFailed {
        call: CallId,
        leg: LegId,
        attempt: u32,
    },
    /// A session sends an ICE candidate for its leg.
    Candidate { session: SessionId },
    /// A session answers a server offer ([`Output::Push`] of `sdp_offer`).
    Answer { session: SessionId },
    /// The shard took that answer: the leg's new slots are usable.
    Answered { call: CallId, leg: LegId },
    /// The shard made the offer of a [`MediaCommand::AddSlots`] (`None`: it could not).
    SlotsOffered {
        call: CallId,
        leg: LegId,
        sdp: Option<String>,
    },
    /// A participant joins a connected call with a part in it (a supervisor, an interpreter).
    AddLeg {
        call: CallId,
        session: SessionId,
        role: LegRole,
        subject: String,
        participation: Participation,
    },
    /// A supervisor supervises a connected call in `mode`, or switches its mode there.
    Supervise {
        call: CallId,
        session: SessionId,
        /// The name the participants it joins (barge, whisper) see.
        name: String,
        mode: SupervisionMode,
    },
    /// A supervisor (or an interpreter) leaves the call it takes part in.
    Leave { session: SessionId },
    /// A participant sends a chat message to the others, at `at_ms` (Unix milliseconds).
    Chat {
        session: SessionId,
        text: String,
        at_ms: i64,
    },
    /// The agent of a connected call shows a link (`document.url`) to its kiosk.
    ShareLink {
        session: SessionId,
        document: relais_proto::messages::Document,
    },
    /// `subject`, a party of `call`, sends a file the server holds (`Verdict::Shared` names
    /// who may read it).
    ShareFile {
        call: CallId,
        subject: String,
        document: relais_proto::messages::Document,
    },
    /// The agent of a connected call asks the kiosk for a still of its camera.
    RequestSnapshot { session: SessionId },
    /// A participant's link is too poor for video (`on`), or good again: it receives audio only
    /// meanwhile, and the others are told.
    AudioOnly { session: SessionId, on: bool },
    /// A command of the dispatcher.
    Dispatcher(Command),
    /// The call's media room is open on `shard`.
    RoomOpened { call: CallId, shard: usize },
    /// The call's media room could not be opened.
    RoomFailed { call: CallId },
    /// A media shard's event.
    Media { shard: usize, event: MediaInput },
    /// A deadline of [`crate::CallCore::poll_timeout`] passed.
    Timeout,
}

/// The answer to an input.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Nothing more to do.
    Done,
    /// A document was pushed; these subjects (its sender and receivers) may read it.
    Shared { readers: Vec<String> },
    /// Ask the dispatcher to admit this call, then report with [`Input::Admission`].
    Enqueue {
        call: CallId,
        queue: String,
        kiosk: String,
        site: String,
    },
    /// The call is queued: answer `queued`.
    Queued(CallId),
    /// A [`Input::Resume`] gave the kiosk its call back; `replaced`, the session that still
    /// held it, is to be closed.
    Resumed {
        call: relais_proto::messages::ResumedCall,
        replaced: Option<SessionId>,
    },
    /// The call was refused at its enqueue (its record is among the outputs).
    Refused(Outcome),
    /// Apply this dispatcher event; its result is the request's answer.
    Dispatch(Event),
    /// Let the shard answer the offer as planned, then report with [`Input::Joined`].
    Negotiate(NegotiationPlan),
    /// Hand the candidate to this peer.
    Candidate(MediaLink),
    /// Give the answer to this peer's pending offer, then report [`Input::Answered`].
    AcceptAnswer {
        call: CallId,
        leg: LegId,
        link: MediaLink,
    },
}

/// How a leg's offer is to be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiationPlan {
    pub call: CallId,
    pub leg: LegId,
    pub role: LegRole,
    pub shard: usize,
    /// The peer this leg had, to remove first (a reload or a rejoin after a loss).
    pub replaces: Option<MediaLink>,
    /// Whether anyone receives this leg's media.
    pub publish: bool,
    /// How many publishers it receives.
    pub receive_slots: usize,
    /// The negotiation's number, to give back in [`Input::Joined`] or [`Input::JoinFailed`].
    pub attempt: u32,
}

/// What the media shards must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaCommand {
    /// Open the call's room on the least loaded shard; report [`Input::RoomOpened`] or
    /// [`Input::RoomFailed`].
    OpenRoom { call: CallId },
    /// Close the call's room and every peer in it.
    CloseRoom { call: CallId, shard: usize },
    /// Remove one peer.
    RemovePeer { link: MediaLink },
    /// Offer `more` receive slots to a connected peer; report [`Input::SlotsOffered`].
    AddSlots {
        call: CallId,
        leg: LegId,
        link: MediaLink,
        more: usize,
    },
    /// `subscriber` receives `kinds` of `publisher`'s media (two peers of one room).
    Subscribe {
        subscriber: MediaLink,
        publisher: MediaLink,
        kinds: Kinds,
    },
    /// `subscriber` no longer receives `publisher`.
    Unsubscribe {
        subscriber: MediaLink,
        publisher: MediaLink,
    },
    /// The kiosk's peer hears the hold audio of the call's service (`on`), or no longer.
    Hold {
        call: CallId,
        link: MediaLink,
        on: bool,
    },
    /// Speak the place in the queue and the estimated wait into the hold audio of `link`.
    Announce {
        call: CallId,
        link: MediaLink,
        position: usize,
        eta_secs: Option<u64>,
    },
    /// Measure what `link` publishes (report [`MediaInput::InputReport`] each second), or stop.
    Meter { link: MediaLink, on: bool },
}

/// Where a blind transfer sends a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    /// The queue of this service.
    Service(String),
    /// This agent, available now (back to the call's queue if it declines).
    Agent(String),
}

/// Why a supervisor's leg ended without its asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupervisionEnd {
    /// Its connection closed.
    Disconnected,
    /// The call ended (or went back to its queue).
    CallEnded,
    /// The agent handed the call on to another queue.
    Transferred,
}

/// A call that ended, for its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub call: CallId,
    pub outcome: Outcome,
    pub ended_by: Option<EndedBy>,
    pub reason: Option<EndReason>,
    pub summary: CallSummary,
    /// Everyone who took part, in order of arrival.
    pub legs: Vec<crate::call::LegHistory>,
    /// Its chat, for a service that keeps it (empty otherwise).
    pub chat: Vec<crate::call::ChatLine>,
}

/// A call in progress as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journalled {
    pub call: CallId,
    /// The service it was placed to.
    pub service: String,
    /// The queue it waits in or is handled for now.
    pub queue: String,
    pub kiosk: String,
    pub site: String,
    /// When it was placed.
    pub placed_at: std::time::Instant,
    /// The agent who has it, and since when, while connected.
    pub agent: Option<(String, std::time::Instant)>,
    /// Everyone who took part so far.
    pub legs: Vec<crate::call::LegHistory>,
}

/// What the server must do, in order.
#[derive(Debug, Clone)]
pub enum Output {
    /// Send a message to a session.
    Push {
        session: SessionId,
        message: ServerMessage,
    },
    /// Apply this event to the dispatcher.
    Dispatch(Event),
    /// Drive the media shards.
    Media(MediaCommand),
    /// Store the record of an ended call, before any output that follows it.
    Record(Box<Ended>),
    /// Journal a call in progress as it stands now (after a change that matters for recovery:
    /// queued, answered, handed on, back in its queue), before any output that follows it.
    Journal(Box<Journalled>),
    /// Store what changed of a callback task, before any output that follows it.
    Callback(Box<crate::callbacks::CallbackChange>),
    /// Store the case reference and notes `agent` gave for `call` (replacing earlier ones).
    CaseNote {
        call: CallId,
        agent: String,
        case_ref: Option<String>,
        notes: Option<String>,
    },
    /// Complete a recorded call with the wrap-up of `agent`.
    WrapUp {
        call: CallId,
        agent: String,
        wrap_up: Duration,
        disposition: Option<String>,
    },
    /// Store an agent's state change (the dispatcher's command, passed on).
    AgentState {
        agent: AgentId,
        state: relais_dispatch::AgentState,
        since: std::time::Instant,
    },
    /// KPIs changed.
    KpisChanged,
    /// A supervisor's leg ended without a request of its own (for the audit log; what a
    /// supervisor asks is audited before it is carried out).
    SupervisionEnded {
        call: CallId,
        supervisor: String,
        mode: Option<SupervisionMode>,
        why: SupervisionEnd,
    },
}
