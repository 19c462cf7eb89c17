//! Relais dispatcher core (ACD): a sans-IO state machine that owns service queues, agents and
//! their states, routing strategies, offers with deadlines and live KPIs. Time and randomness
//! are inputs; it never reads the clock or does IO.
//!
//! Drive it with [`Dispatcher::handle`]`(now, event)`, drain [`Dispatcher::poll_command`], and
//! call `handle(deadline, Event::Timeout)` at [`Dispatcher::poll_timeout`]. See
//! `docs/dispatcher.md` for the semantics.

mod agent;
mod agent_events;
mod calls;
mod config;
mod consult;
mod dispatcher;
mod error;
mod hash;
mod hours;
mod kpi;
mod model;
mod offers;
mod position;
mod queue;
mod rng;
mod routing;
mod strategy;
mod timers;
mod views;

pub use config::{
    DispatchConfig, LocalRange, MaxWait, OpeningHours, QueueConfig, SkillReq, Strategy,
};
pub use dispatcher::Dispatcher;
pub use error::DispatchError;
pub use hours::WallAnchor;
pub use kpi::{AgentCounts, Counters, KpiWindow, Kpis};
pub use model::{
    Admission, AgentState, CallSummary, Command, EndedBy, Event, Outcome, TimeoutReason,
    WithdrawReason,
};
pub use relais_proto::{AgentId, CallId, KioskId, QueueId, SiteId};
pub use views::{AgentView, CallStatus, CallView};
