//! The dispatcher's one error type: requests it refuses (and that change nothing).

use relais_proto::{AgentId, CallId, QueueId};

/// A request the dispatcher refuses. A refused event changes nothing (timers that were already
/// due when it arrived still fire first). The server answers `error {code, message}` with
/// [`DispatchError::code`] and the `Display` text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    /// No agent with this id has ever logged in.
    #[error("unknown agent {0}")]
    UnknownAgent(AgentId),
    /// The queue is not configured.
    #[error("unknown queue {0}")]
    UnknownQueue(QueueId),
    /// No active call has this id.
    #[error("unknown call {0}")]
    UnknownCall(CallId),
    /// A call with this id is already active.
    #[error("call {0} already exists")]
    DuplicateCall(CallId),
    /// Login of an agent that is already logged in and working.
    #[error("agent {0} is already logged in")]
    AlreadyLoggedIn(AgentId),
    /// The agent is logged out.
    #[error("agent {0} is not logged in")]
    NotLoggedIn(AgentId),
    /// The request is not allowed in the agent's current state.
    #[error("agent {agent} cannot {action} while {state}")]
    InvalidTransition {
        /// The agent.
        agent: AgentId,
        /// What was asked (for example `go not ready`).
        action: &'static str,
        /// The agent's state (for example `on a call`).
        state: &'static str,
    },
    /// Accept or reject of a call that is not (or no longer) offered to this agent: late,
    /// duplicate, or never offered to it.
    #[error("call {call} is no longer offered to agent {agent}")]
    NoLongerOffered {
        /// The call.
        call: CallId,
        /// The agent that answered.
        agent: AgentId,
    },
    /// The call is connected to an agent, not waiting (abandon, callback request).
    #[error("call {0} is not waiting")]
    CallNotWaiting(CallId),
    /// The call is not connected to an agent (connected, ended).
    #[error("call {0} is not connected")]
    CallNotConnected(CallId),
    /// A skill proficiency outside 1–5.
    #[error("proficiency {proficiency} for skill {skill} is outside 1..=5")]
    InvalidProficiency {
        /// The skill.
        skill: String,
        /// The refused value.
        proficiency: u8,
    },
    /// A transfer the target queue cannot take (the call stays with its agent).
    #[error("call {call} cannot be transferred to {queue}: {why}")]
    TransferRefused {
        /// The call.
        call: CallId,
        /// The target queue.
        queue: QueueId,
        /// Why: closed, full, the same queue.
        why: &'static str,
    },
    /// A transfer to an agent who cannot take the call now (the call stays with its agent).
    #[error("call {call} cannot be transferred to {agent}: {why}")]
    AgentUnavailable {
        /// The call.
        call: CallId,
        /// The agent asked for.
        agent: AgentId,
        /// Why: not logged in, not available, the same agent.
        why: &'static str,
    },
    /// A consultation or its completion that cannot be done now (the call stays as it is).
    #[error("call {call}: {why}")]
    ConsultRefused {
        /// The call.
        call: CallId,
        /// Why: no consultation, not answered yet, already consulting.
        why: &'static str,
    },
    /// The configuration is not valid; the message says why.
    #[error("invalid dispatcher configuration: {0}")]
    InvalidConfig(String),
}

impl DispatchError {
    /// A stable machine-readable code for the `error {code, message}` reply.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownAgent(_) => "unknown_agent",
            Self::UnknownQueue(_) => "unknown_queue",
            Self::UnknownCall(_) => "unknown_call",
            Self::DuplicateCall(_) => "duplicate_call",
            Self::AlreadyLoggedIn(_) => "already_logged_in",
            Self::NotLoggedIn(_) => "not_logged_in",
            Self::InvalidTransition { .. } => "invalid_transition",
            Self::NoLongerOffered { .. } => "no_longer_offered",
            Self::CallNotWaiting(_) => "call_not_waiting",
            Self::CallNotConnected(_) => "call_not_connected",
            Self::InvalidProficiency { .. } => "invalid_proficiency",
            Self::TransferRefused { .. }
            | Self::AgentUnavailable { .. }
            | Self::ConsultRefused { .. } => "transfer_refused",
            Self::InvalidConfig(_) => "invalid_config",
        }
    }
}
