//! Relais signalling protocol: identifiers shared by every crate, and (as the call flow lands)
//! the versioned JSON messages of the `/ws` websocket. Only this crate defines wire JSON.

pub mod ids;
pub mod limits;
pub mod messages;
pub mod vocab;

pub use ids::{AgentId, CallId, KioskId, QueueId, SiteId};
pub use messages::{
    CallerWarning, InputHealth, Readiness, Reply, Request, Role, ServerMessage, codes,
};
pub use vocab::{
    AgentStateName, CallbackResult, ConsultState, EndReason, EndedBy, InterpreterState, LegRole,
    MediaLossReason, Outcome, SupervisionMode, WithdrawReason,
};

/// Version of the signalling protocol spoken on `/ws`, sent by clients in `hello`.
pub const PROTOCOL_VERSION: u32 = 1;
