//! The public vocabulary: events in, commands out, agent states, call outcomes and records.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use relais_proto::{AgentId, CallId, KioskId, QueueId, SiteId};

use crate::config::DispatchConfig;

pub use relais_proto::{EndedBy, WithdrawReason};

/// Something that happened; fed to [`crate::Dispatcher::handle`].
#[derive(Debug, Clone)]
pub enum Event {
    /// An agent logs in (from LoggedOut or NotReady): it becomes NotReady("login").
    /// Skills are `(name, proficiency 1–5)`; `queues` restricts the queues it serves.
    AgentLogin {
        /// The agent.
        agent: AgentId,
        /// Skills and proficiencies.
        skills: Vec<(String, u8)>,
        /// Only these queues (if they exist and the skills match); `None` = all matching queues.
        queues: Option<Vec<QueueId>>,
    },
    /// The agent logs out (refused while on a call; an offer is withdrawn).
    AgentLogout {
        /// The agent.
        agent: AgentId,
    },
    /// The agent is ready to take calls (from NotReady or WrapUp).
    AgentReady {
        /// The agent.
        agent: AgentId,
    },
    /// The agent pauses (refused while on a call; an offer is withdrawn like a reject).
    AgentNotReady {
        /// The agent.
        agent: AgentId,
        /// Free-text reason shown to supervisors.
        reason: String,
    },
    /// The agent's connection dropped: NotReady("disconnected"); an offer is withdrawn; a
    /// connected call is re-queued at the head (or ends `Interrupted`).
    AgentDisconnect {
        /// The agent.
        agent: AgentId,
    },
    /// A kiosk asks for a service. The server allocates `call`.
    Enqueue {
        /// Server-allocated call id, unique among active calls.
        call: CallId,
        /// The service queue.
        queue: QueueId,
        /// The kiosk.
        kiosk: KioskId,
        /// The kiosk's site.
        site: SiteId,
        /// Call priority (higher first); `None` = 0.
        priority: Option<i32>,
    },
    /// The kiosk left before being connected.
    Abandon {
        /// The call.
        call: CallId,
    },
    /// The caller asks to be called back: the call leaves its queue with the outcome
    /// `CallbackRequested` (not an abandon), and the callback task `task` takes its place
    /// (same queue, priority and original enqueue time). A task gets no position notices, no
    /// max wait, and its offer says `callback: true` (the agent phones the caller); its answer
    /// counts as `callbacks_answered`, not in the queue's answered calls, ASA or service level.
    CallbackRequest {
        /// The call.
        call: CallId,
        /// The callback task's own id, unique among active calls.
        task: CallId,
        /// Not offered before this instant (the caller chose a time later today).
        not_before: Option<Instant>,
    },
    /// The agent accepts an offer. First accept wins; others are refused.
    Accept {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
    },
    /// The agent declines an offer.
    Reject {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
    },
    /// Media is up (bookkeeping only, optional).
    CallConnected {
        /// The call.
        call: CallId,
    },
    /// A connected call ended normally.
    CallEnded {
        /// The call.
        call: CallId,
        /// Who hung up.
        by: EndedBy,
    },
    /// The agent hands its connected call to another queue (a blind transfer): the agent goes
    /// to wrap-up as after an end, and the call waits in `to` at the head (it waited once
    /// already), keeping its id and original enqueue time. Refused, with the call left as it
    /// is, when `to` is unknown, closed, full or the call's own queue.
    Transfer {
        /// The call.
        call: CallId,
        /// The agent connected to it.
        agent: AgentId,
        /// The queue that takes it.
        to: QueueId,
    },
    /// The agent hands its connected call to a named agent who is available now (a blind
    /// transfer to a colleague): the agent goes to wrap-up; the call is offered to `to` at once
    /// and, if `to` does not take it, waits at the head of its queue for anyone else.
    /// Refused, with the call left as it is, when `to` is not available.
    TransferToAgent {
        /// The call.
        call: CallId,
        /// The agent connected to it.
        agent: AgentId,
        /// The agent who is offered it.
        to: AgentId,
    },
    /// The agent of a connected call consults a colleague who is available now (the first
    /// step of a warm transfer): a consultation `call` (its own id) is offered to `to` at once.
    /// It counts in no queue's figures; `to` is reserved, then on call, as for any call.
    /// Refused when `parent` is not connected to `agent`, already has a consultation, or `to`
    /// is not available.
    Consult {
        /// The consultation's own id, unique among active calls.
        call: CallId,
        /// The call the agent consults about.
        parent: CallId,
        /// The agent connected to `parent`.
        agent: AgentId,
        /// The colleague consulted.
        to: AgentId,
    },
    /// The agent hands its call to the colleague it consulted, who answered: the colleague is
    /// now the call's agent (the call is offered and answered again in its queue, as for a
    /// transfer to a named agent), the consultation is over, the agent goes to wrap-up.
    CompleteTransfer {
        /// The call.
        call: CallId,
        /// The agent connected to it.
        agent: AgentId,
    },
    /// The consultation ends wherever it stands (the agent cancels, the colleague hangs up):
    /// the colleague is available again; the call stays with its agent.
    EndConsult {
        /// The consultation.
        call: CallId,
    },
    /// The agent finished wrap-up early.
    WrapUpDone {
        /// The agent.
        agent: AgentId,
    },
    /// Replace the configuration (queues added, changed, removed).
    ConfigReload(DispatchConfig),
    /// Re-anchor wall-clock time: `now` is `utc`.
    ClockSync {
        /// UTC time at `now`.
        utc: Timestamp,
    },
    /// A deadline from [`crate::Dispatcher::poll_timeout`] passed (any due deadline fires
    /// at the start of every `handle` anyway).
    Timeout,
}

/// How a call ended. Every call ends exactly once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Answered by an agent and then ended.
    Answered,
    /// The kiosk left while waiting or on offer; `short` if it waited less than
    /// `short_abandon`.
    Abandoned {
        /// Waited less than the short-abandon threshold.
        short: bool,
    },
    /// Max wait reached and the overflow target could not take the call (closed, full or
    /// removed).
    Overflowed {
        /// The target that refused it.
        to: Option<QueueId>,
    },
    /// Max wait reached with no overflow target.
    TimedOut,
    /// Queue closed (outside hours or holiday) at enqueue, or removed by a reload.
    Closed,
    /// Queue full at enqueue.
    QueueFull,
    /// A connected call lost its agent and could not be re-queued.
    Interrupted,
    /// The caller asked to be called back while waiting: a callback task took its place.
    CallbackRequested,
}

impl Outcome {
    /// The outcome's word on the wire and in the store.
    pub fn wire(&self) -> relais_proto::Outcome {
        match self {
            Outcome::Answered => relais_proto::Outcome::Answered,
            Outcome::Abandoned { short: false } => relais_proto::Outcome::Abandoned,
            Outcome::Abandoned { short: true } => relais_proto::Outcome::AbandonedShort,
            Outcome::Overflowed { .. } => relais_proto::Outcome::Overflowed,
            Outcome::TimedOut => relais_proto::Outcome::TimedOut,
            Outcome::Closed => relais_proto::Outcome::Closed,
            Outcome::QueueFull => relais_proto::Outcome::QueueFull,
            Outcome::Interrupted => relais_proto::Outcome::Interrupted,
            Outcome::CallbackRequested => relais_proto::Outcome::CallbackRequested,
        }
    }
}

/// What became of a call asked to be queued: queued, or refused with the record of the
/// refused call (it still counts in the queue's KPIs and gets its record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// In its queue.
    Queued,
    /// Not queued: `Closed` or `QueueFull`.
    Refused {
        /// Why.
        outcome: Outcome,
        /// The record of the refused call.
        record: Box<CallSummary>,
    },
}

/// Everything the server needs for the durable record of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSummary {
    /// The call.
    pub call: CallId,
    /// The queue it ended in.
    pub queue: QueueId,
    /// The queue it was first enqueued in (differs after overflow).
    pub origin_queue: QueueId,
    /// The kiosk.
    pub kiosk: KioskId,
    /// The site.
    pub site: SiteId,
    /// The call's priority.
    pub priority: i32,
    /// Original enqueue time.
    pub enqueued_at: Instant,
    /// First offer to an agent.
    pub offered_at: Option<Instant>,
    /// (Last) answer.
    pub answered_at: Option<Instant>,
    /// End.
    pub ended_at: Instant,
    /// The agent that answered (last).
    pub agent: Option<AgentId>,
    /// The caller's wait: until the first answer (a call transferred or re-queued later
    /// waited again, but talked in between: each agent's time is in the call's legs), or until
    /// the end if never answered.
    pub wait: Duration,
    /// Talk time (answer to end) when answered.
    pub talk: Option<Duration>,
    /// Wrap-up time: always `None` here; reported later by `Command::WrapUpFinished`.
    pub wrap_up: Option<Duration>,
    /// Number of offers made.
    pub attempts: u32,
    /// Number of overflows between queues.
    pub overflows: u32,
    /// Number of transfers to another queue.
    pub transfers: u32,
    /// The caller asked for a callback.
    pub callback: bool,
    /// Who hung up, for answered calls.
    pub ended_by: Option<EndedBy>,
}

/// An agent's state (DESIGN.md §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentState {
    /// Not logged in.
    LoggedOut,
    /// Waiting for a call.
    Available,
    /// A call is offered to the agent until `until`.
    Reserved {
        /// The offered call.
        call: CallId,
        /// Offer deadline.
        until: Instant,
    },
    /// On a call.
    OnCall {
        /// The call.
        call: CallId,
    },
    /// Wrap-up after a call, until `until` at the latest.
    WrapUp {
        /// End of wrap-up.
        until: Instant,
    },
    /// Paused.
    NotReady {
        /// Why ("login", "missed", "disconnected", or the agent's own).
        reason: String,
    },
}

impl AgentState {
    /// The state's word on the wire.
    pub fn name(&self) -> relais_proto::AgentStateName {
        use relais_proto::AgentStateName as Name;
        match self {
            AgentState::LoggedOut => Name::LoggedOut,
            AgentState::Available => Name::Available,
            AgentState::Reserved { .. } => Name::Reserved,
            AgentState::OnCall { .. } => Name::OnCall,
            AgentState::WrapUp { .. } => Name::WrapUp,
            AgentState::NotReady { .. } => Name::NotReady,
        }
    }
}

/// What the dispatcher asks the server to do or tell; drained with
/// [`crate::Dispatcher::poll_command`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Ring `agent` with `call` until `deadline`.
    Offer {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// The call's queue.
        queue: QueueId,
        /// The kiosk.
        kiosk: KioskId,
        /// The site.
        site: SiteId,
        /// Offer deadline.
        deadline: Instant,
        /// 1 for the first offer of this call, then 2, …
        attempt: u32,
        /// The caller asked for a callback: phone them back rather than connect media.
        callback: bool,
    },
    /// Stop ringing: the offer is gone.
    OfferWithdrawn {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// Why.
        reason: WithdrawReason,
    },
    /// The agent accepted: connect the call's media.
    CallAnswered {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// The call's queue.
        queue: QueueId,
    },
    /// Tell the kiosk its position (1 = next) and estimated wait.
    QueuePosition {
        /// The call.
        call: CallId,
        /// 1-based position in its queue.
        position: usize,
        /// Estimated wait, if it can be estimated.
        eta: Option<Duration>,
    },
    /// The call moved to another queue (it keeps its id and original enqueue time).
    CallOverflowed {
        /// The call.
        call: CallId,
        /// Previous queue.
        from: QueueId,
        /// New queue.
        to: QueueId,
    },
    /// The agent handed the call to another queue, where it waits at the head.
    CallTransferred {
        /// The call.
        call: CallId,
        /// The queue that handled it until now.
        from: QueueId,
        /// The queue that takes it (its own, for a transfer to a named agent).
        to: QueueId,
        /// The agent who transferred it (now in wrap-up).
        agent: AgentId,
        /// The agent it is offered to, for a transfer to a named agent.
        to_agent: Option<AgentId>,
    },
    /// A consultation ended without a transfer (declined, missed, cancelled, hung up, the
    /// colleague vanished, or the call it was about ended): the colleague is free again.
    ConsultEnded {
        /// The consultation.
        call: CallId,
        /// The call it was about.
        parent: CallId,
        /// The colleague consulted.
        agent: AgentId,
        /// Whether the colleague had answered.
        answered: bool,
    },
    /// A warm transfer completed: `to` is the call's agent now (on call with it), `from` is in
    /// wrap-up, the consultation `consult` is over.
    TransferCompleted {
        /// The call.
        call: CallId,
        /// The consultation that preceded it.
        consult: CallId,
        /// The call's queue (it stays there).
        queue: QueueId,
        /// The agent who handed it on.
        from: AgentId,
        /// The agent who has it now.
        to: AgentId,
    },
    /// A connected call lost its agent and waits again at the head of its queue.
    CallRequeued {
        /// The call.
        call: CallId,
        /// Its queue.
        queue: QueueId,
        /// The agent that vanished.
        agent: AgentId,
    },
    /// The call ended (exactly once per call): write its record.
    CallEnded {
        /// The call.
        call: CallId,
        /// How.
        outcome: Outcome,
        /// Its durable record (boxed: the other commands stay small).
        record: Box<CallSummary>,
    },
    /// Wrap-up of the agent's last call finished: complete that call's record.
    WrapUpFinished {
        /// The agent.
        agent: AgentId,
        /// The call that was wrapped up.
        call: CallId,
        /// Wrap-up duration.
        wrap_up: Duration,
    },
    /// An agent's state changed.
    AgentStateChanged {
        /// The agent.
        agent: AgentId,
        /// New state.
        state: AgentState,
        /// When it entered this state.
        since: Instant,
    },
    /// Counters or live values changed (at most once per `handle`); read the KPI views.
    KpisChanged,
}

/// Why the dispatcher wants to be woken (see [`crate::Dispatcher::poll_timeout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimeoutReason {
    /// An offer deadline.
    OfferExpiry,
    /// A wrap-up end.
    WrapUpEnd,
    /// A call's max wait in its queue.
    MaxWait,
    /// A waiting call may become eligible for an available agent (skill relaxation, ring
    /// widening, re-offer back-off).
    Eligibility,
    /// Position notices are due.
    PositionRefresh,
}
