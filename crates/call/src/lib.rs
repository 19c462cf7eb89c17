//! Relais call core: a sans-IO state machine that owns every live call from its `call`
//! request to its record. A call is a conference of legs (kiosk, agent, supervisor,
//! interpreter), each with a media policy saying whose audio and video it receives. The
//! dispatcher decides *who* gets a waiting call; this core decides *what happens to a call*:
//! pushes to the sessions of its legs, the media room's life, a lost leg's grace period, the
//! record when it ends.
//!
//! Drive it with [`CallCore::handle`]`(now, input)`, carry out [`CallCore::poll_output`] in
//! order, and call `handle(deadline, Input::Timeout)` at [`CallCore::poll_timeout`]. Time is an
//! argument; the core never reads the clock, draws randomness or does IO, and iterates in a
//! deterministic order.

mod call;
mod callbacks;
mod commands;
mod consult;
mod core;
mod documents;
mod error;
mod interpreter;
mod io;
mod media;
mod policy;
mod refusals;
mod requests;
mod resume;
mod ringing;
mod supervision;
mod waiting;

pub use call::{Call, CallState, ChatLine, Leg, LegHistory, LegId, LegLeft, LegMedia, RoomState};
pub use callbacks::{Callback, CallbackChange, LATEST_CALLBACK, Phone, StoredCallback};
pub use commands::agent_state_message;
pub use core::{CallConfig, CallCore};
pub use error::CallError;
pub use io::{
    Ended, Input, Journalled, MediaCommand, MediaInput, MediaLink, NegotiationPlan, Output,
    SessionId, SupervisionEnd, TransferTarget, Verdict,
};
pub use policy::{Kinds, Participation, Receive};
pub use supervision::CHAT_LINES_KEPT;
pub use waiting::{InputCheck, WaitingMedia};
